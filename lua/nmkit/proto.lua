--[[
nmkit.proto - packet headers for nmlua scripts.

Pure LuaJIT FFI: C structs for the headers, methods on them, byte order,
Internet checksums, and frame templates. Scripts generate 10-20 Mpps, so
everything meant to run per packet (casts, numeric setters and getters,
byte order, checksums, put_seq/get_seq, tpl:write) is written to compile
into a trace: no allocation, no closures, no string ops, no varargs. The
string-taking setters (set_dst("02:..."), set_src("10.0.0.1")) parse
text and are for setting up; their number/cdata forms are the fast path.

Layout
  All structs are packed, every multi-byte field holds network byte
  order exactly as on the wire. Reading `p.udp.sport` gives the raw
  stored value; the methods (`p.udp:get_sport()`, `:set_sport(n)`) take
  and return host values. Numeric setters truncate to the field's width
  like a C assignment (set_vid(4097) stores vid 1); they do not check,
  because they run per packet. Templates do check.

  Packet structs (nmk_udp4_pkt, ...) end with `uint8_t payload[0]`:
  ffi.sizeof(pkt) is the header length and `p.payload[i]` indexes the
  bytes after the headers. They assume IPv4 headers without options (IHL
  5); l4_csum4 reads the IHL for frames that have options. Each
  proto.<PKT>_PAYLOAD constant equals ffi.sizeof("struct nmk_<pkt>_pkt").

Checksum byte order
  The one's complement sum does not depend on byte order (RFC 1071 2(B)):
  summing 16-bit words read natively from memory and storing the result
  natively puts the right bytes on the wire. So proto.csum() and friends
  return the value as it must be stored into the uint16_t field, i.e.
  `ip.csum = proto.csum(ip, 20)` is correct; the checksum as a number in
  network terms is proto.ntohs(that). Partial sums (csum's `init`,
  csum_partial's result) use the same native convention.

Errors
  Bad input raises a user error (nmkit.err, when it loads: one line, no
  traceback) at the level of the public function's caller, so the message
  points at the script line.
]]

local ffi = require("ffi")
local bit = require("bit")

local bswap, band, bor, bnot, tobit = bit.bswap, bit.band, bit.bor, bit.bnot, bit.tobit
local lshift, rshift = bit.lshift, bit.rshift
local cast, copy, fill, sizeof = ffi.cast, ffi.copy, ffi.fill, ffi.sizeof
local floor, max = math.floor, math.max
local format, match, find, sub = string.format, string.match, string.find, string.sub
local concat = table.concat
local type, tonumber, tostring, pairs, pcall = type, tonumber, tostring, pairs, pcall
local error, setmetatable, getmetatable = error, setmetatable, getmetatable

local M = {}

-- error(msg, level) as a user error of nmkit.err where that module is
-- there; proto also works on its own (plain errors then).
local has_err, err = pcall(require, "nmkit.err")
local function fail(msg, level)
	level = (level or 1) + 1
	if has_err then error(err.at(msg, level), 0) end
	error(msg, level)
end

-- ---------------------------------------------------------------------
-- C types

-- A second load of this file (a test clearing package.loaded) must not
-- redefine the structs: ffi.cdef would fail on them.
if not pcall(sizeof, "struct nmk_eth") then
	ffi.cdef[[
struct nmk_eth {
	uint8_t  dst[6];
	uint8_t  src[6];
	uint16_t type;
} __attribute__((packed));

struct nmk_vlan {
	uint16_t tci;
	uint16_t type;
} __attribute__((packed));

struct nmk_arp {
	uint16_t htype;
	uint16_t ptype;
	uint8_t  hlen;
	uint8_t  plen;
	uint16_t oper;
	uint8_t  sha[6];
	uint8_t  spa[4];
	uint8_t  tha[6];
	uint8_t  tpa[4];
} __attribute__((packed));

struct nmk_ipv4 {
	uint8_t  ver_ihl;
	uint8_t  tos;
	uint16_t len;
	uint16_t id;
	uint16_t frag;
	uint8_t  ttl;
	uint8_t  proto;
	uint16_t csum;
	uint8_t  src[4];
	uint8_t  dst[4];
} __attribute__((packed));

struct nmk_ipv6 {
	uint32_t vtc_flow;
	uint16_t len;
	uint8_t  next;
	uint8_t  hops;
	uint8_t  src[16];
	uint8_t  dst[16];
} __attribute__((packed));

struct nmk_udp {
	uint16_t sport;
	uint16_t dport;
	uint16_t len;
	uint16_t csum;
} __attribute__((packed));

struct nmk_tcp {
	uint16_t sport;
	uint16_t dport;
	uint32_t seq;
	uint32_t ack;
	uint8_t  off;
	uint8_t  flags;
	uint16_t win;
	uint16_t csum;
	uint16_t urg;
} __attribute__((packed));

struct nmk_icmp {
	uint8_t  type;
	uint8_t  code;
	uint16_t csum;
	uint16_t id;
	uint16_t seq;
} __attribute__((packed));

struct nmk_udp4_pkt {
	struct nmk_eth  eth;
	struct nmk_ipv4 ip;
	struct nmk_udp  udp;
	uint8_t payload[0];
} __attribute__((packed));

struct nmk_vlan_udp4_pkt {
	struct nmk_eth  eth;
	struct nmk_vlan vlan;
	struct nmk_ipv4 ip;
	struct nmk_udp  udp;
	uint8_t payload[0];
} __attribute__((packed));

struct nmk_udp6_pkt {
	struct nmk_eth  eth;
	struct nmk_ipv6 ip;
	struct nmk_udp  udp;
	uint8_t payload[0];
} __attribute__((packed));

struct nmk_tcp4_pkt {
	struct nmk_eth  eth;
	struct nmk_ipv4 ip;
	struct nmk_tcp  tcp;
	uint8_t payload[0];
} __attribute__((packed));

struct nmk_icmp4_pkt {
	struct nmk_eth  eth;
	struct nmk_ipv4 ip;
	struct nmk_icmp icmp;
	uint8_t payload[0];
} __attribute__((packed));

struct nmk_arp_pkt {
	struct nmk_eth eth;
	struct nmk_arp arp;
	uint8_t payload[0];
} __attribute__((packed));
]]
end

-- ctypes resolved once: ffi.cast with a ctype object skips the C parser.
local u8p       = ffi.typeof("uint8_t *")
local u16p      = ffi.typeof("uint16_t *")
local u32p      = ffi.typeof("uint32_t *")
local u64p      = ffi.typeof("uint64_t *")
local u8_vla    = ffi.typeof("uint8_t[?]")
local mac_t     = ffi.typeof("uint8_t[6]")
local ip6_t     = ffi.typeof("uint8_t[16]")
local eth_ptr   = ffi.typeof("struct nmk_eth *")
local ipv4_ptr  = ffi.typeof("struct nmk_ipv4 *")
local udp4_ptr  = ffi.typeof("struct nmk_udp4_pkt *")
local vudp4_ptr = ffi.typeof("struct nmk_vlan_udp4_pkt *")
local udp6_ptr  = ffi.typeof("struct nmk_udp6_pkt *")
local tcp4_ptr  = ffi.typeof("struct nmk_tcp4_pkt *")
local icmp4_ptr = ffi.typeof("struct nmk_icmp4_pkt *")
local arp_ptr   = ffi.typeof("struct nmk_arp_pkt *")

-- The JIT's alias analysis for FFI memory is type-based: a uint16_t
-- store and a uint32_t load through pointers it cannot relate are taken
-- not to overlap, so the load may be served a stale value, or a store
-- dropped. Checksums read fields written as other types (a port written
-- as uint16_t, summed as uint32_t), so every access through a punned
-- type sits behind barrier(). ffi.fill always emits the JIT's memory
-- barrier (XBAR); the cost is one byte store into a private scratch byte.
local barrier_byte = ffi.new("uint8_t[1]")
local function barrier()
	fill(barrier_byte, 1)
end

-- ---------------------------------------------------------------------
-- Constants

M.ETH_HLEN, M.VLAN_HLEN, M.ARP_HLEN = 14, 4, 28
M.IPV4_HLEN, M.IPV6_HLEN = 20, 40
M.UDP_HLEN, M.TCP_HLEN, M.ICMP_HLEN = 8, 20, 8
M.ETH_MIN = 60                -- minimum Ethernet frame without FCS

-- Offset of the first byte after the headers, in the frame.
M.UDP4_PAYLOAD      = 42
M.VLAN_UDP4_PAYLOAD = 46
M.UDP6_PAYLOAD      = 62
M.TCP4_PAYLOAD      = 54
M.ICMP4_PAYLOAD     = 42
M.ARP_PAYLOAD       = 42      -- where the Ethernet padding starts

M.ETHERTYPE_IPV4, M.ETHERTYPE_ARP = 0x0800, 0x0806
M.ETHERTYPE_VLAN, M.ETHERTYPE_IPV6 = 0x8100, 0x86dd
M.IPPROTO_ICMP, M.IPPROTO_TCP, M.IPPROTO_UDP = 1, 6, 17
M.IP_DF, M.IP_MF = 0x4000, 0x2000
M.TCP_FIN, M.TCP_SYN, M.TCP_RST, M.TCP_PSH = 0x01, 0x02, 0x04, 0x08
M.TCP_ACK, M.TCP_URG, M.TCP_ECE, M.TCP_CWR = 0x10, 0x20, 0x40, 0x80

-- ---------------------------------------------------------------------
-- Byte order

-- bswap moves the low 16 bits to the top, the logical shift brings them
-- back down: the result is 0..65535 whatever the upper bits were.
local function hs(x)
	return rshift(bswap(x), 16)
end

-- bit ops return signed 32-bit numbers; % 2^32 gives 0..2^32-1.
local function hl(x)
	return bswap(x) % 0x100000000
end

M.htons, M.ntohs, M.htonl, M.ntohl = hs, hs, hl, hl

-- ---------------------------------------------------------------------
-- Address text

local MAC_PAT = "^(%x%x?):(%x%x?):(%x%x?):(%x%x?):(%x%x?):(%x%x?)$"

local function bad_mac(v)
	return format("bad MAC address '%s' (expected six hex bytes separated by ':')",
		tostring(v))
end

local function bad_ip4(v)
	return format("bad IPv4 address '%s' (expected four decimal numbers 0..255 separated by '.')",
		tostring(v))
end

local function bad_ip6(v)
	return format("bad IPv6 address '%s' (expected eight groups of 1-4 hex digits"
		.. " separated by ':', at most one '::')", tostring(v))
end

-- Store a MAC given as text or as 6 bytes of cdata; false if bad.
local function put_mac(dst, v)
	if type(v) == "cdata" then
		copy(dst, v, 6)
		return true
	end
	if type(v) ~= "string" then return false end
	local a, b, c, d, e, f = match(v, MAC_PAT)
	if not a then return false end
	dst[0], dst[1], dst[2] = tonumber(a, 16), tonumber(b, 16), tonumber(c, 16)
	dst[3], dst[4], dst[5] = tonumber(d, 16), tonumber(e, 16), tonumber(f, 16)
	return true
end

local function mac_str(p)
	p = cast(u8p, p)
	return format("%02x:%02x:%02x:%02x:%02x:%02x", p[0], p[1], p[2], p[3], p[4], p[5])
end

-- One dotted-quad part: 1-3 digits, no leading zero (inet_pton rejects
-- them too, and some tools read them as octal).
local function quad(s)
	if #s > 3 or (#s > 1 and sub(s, 1, 1) == "0") then return nil end
	local n = tonumber(s)
	if n > 255 then return nil end
	return n
end

-- IPv4 text to a host-order number, or nil.
local function parse_ip4(s)
	if type(s) ~= "string" then return nil end
	local a, b, c, d = match(s, "^(%d+)%.(%d+)%.(%d+)%.(%d+)$")
	if not a then return nil end
	a, b, c, d = quad(a), quad(b), quad(c), quad(d)
	if not (a and b and c and d) then return nil end
	return ((a * 256 + b) * 256 + c) * 256 + d
end

-- Store an IPv4 address given as text or a host-order number.
local function put_ip4(dst, v)
	if type(v) ~= "number" then
		v = parse_ip4(v)
		if not v then return false end
	end
	cast(u32p, dst)[0] = bswap(v)
	barrier()  -- the bytes may be read as uint8_t next
	return true
end

local function ip4_num(p)
	barrier()
	return bswap(cast(u32p, p)[0]) % 0x100000000
end

local function ip4_text(p)
	p = cast(u8p, p)
	return format("%d.%d.%d.%d", p[0], p[1], p[2], p[3])
end

-- Append the 16-bit groups of `part` ("1:2:3", possibly "") to `words`.
-- The last group may be a dotted quad when allow_v4 (::ffff:10.0.0.1).
local function ip6_groups(part, words, allow_v4)
	if part == "" then return true end
	local pos = 1
	while true do
		local colon = find(part, ":", pos, true)
		local g = sub(part, pos, (colon or #part + 1) - 1)
		if not colon and allow_v4 and find(g, ".", 1, true) then
			local v = parse_ip4(g)
			if not v then return false end
			words[#words + 1] = floor(v / 65536)
			words[#words + 1] = v % 65536
			return true
		end
		if not match(g, "^%x%x?%x?%x?$") then return false end
		words[#words + 1] = tonumber(g, 16)
		if not colon then return true end
		pos = colon + 1
	end
end

-- IPv6 text (full or with one '::') into 16 bytes at dst; false if bad.
-- Nothing is written unless the whole text is good.
local function parse_ip6(s, dst)
	if type(s) ~= "string" then return false end
	local head, tail = {}, {}
	local dc = find(s, "::", 1, true)
	if dc then
		if find(s, "::", dc + 1, true) then return false end
		if not ip6_groups(sub(s, 1, dc - 1), head, false) then return false end
		if not ip6_groups(sub(s, dc + 2), tail, true) then return false end
		if #head + #tail > 7 then return false end
	else
		if not ip6_groups(s, head, true) or #head ~= 8 then return false end
	end
	fill(dst, 16, 0)
	for i = 1, #head do
		dst[2 * i - 2], dst[2 * i - 1] = rshift(head[i], 8), band(head[i], 0xff)
	end
	local base = 8 - #tail
	for i = 1, #tail do
		local j = 2 * (base + i - 1)
		dst[j], dst[j + 1] = rshift(tail[i], 8), band(tail[i], 0xff)
	end
	return true
end

-- parse_ip6 writes into this first, so a bad address leaves the
-- destination untouched.
local ip6_scratch = ip6_t()

local function put_ip6(dst, v)
	if type(v) == "cdata" then
		copy(dst, v, 16)
		return true
	end
	if not parse_ip6(v, ip6_scratch) then return false end
	copy(dst, ip6_scratch, 16)
	return true
end

-- RFC 5952 text: lowercase, no leading zeros, the longest run of two or
-- more zero groups (the first of equal runs) as '::'.
local function ip6_str(p)
	p = cast(u8p, p)
	local w = {}
	for i = 0, 7 do w[i + 1] = p[2 * i] * 256 + p[2 * i + 1] end
	local best, best_len, run, run_len = 0, 1, 0, 0
	for i = 1, 8 do
		if w[i] == 0 then
			if run_len == 0 then run = i end
			run_len = run_len + 1
			if run_len > best_len then best, best_len = run, run_len end
		else
			run_len = 0
		end
	end
	local out = {}
	local i = 1
	while i <= 8 do
		if i == best then
			out[#out + 1] = (i == 1) and "::" or ":"
			i = i + best_len
		else
			out[#out + 1] = format("%x", w[i])
			-- before the run this ':' and the run's own make the '::'
			if i < 8 then out[#out + 1] = ":" end
			i = i + 1
		end
	end
	return concat(out)
end

function M.mac(s)
	local m = mac_t()
	if type(s) == "cdata" or not put_mac(m, s) then fail(bad_mac(s), 2) end
	return m
end

M.mac_str = mac_str

function M.ip4(s)
	if type(s) == "number" and s >= 0 and s <= 0xffffffff and s == floor(s) then
		return s
	end
	local n = parse_ip4(s)
	if not n then fail(bad_ip4(s), 2) end
	return n
end

function M.ip4_str(n)
	if type(n) ~= "number" or n < 0 or n > 0xffffffff or n ~= floor(n) then
		fail(format("bad IPv4 address number '%s' (expected an integer 0..4294967295)",
			tostring(n)), 2)
	end
	return format("%d.%d.%d.%d", floor(n / 16777216), floor(n / 65536) % 256,
		floor(n / 256) % 256, n % 256)
end

function M.ip6(s)
	local a = ip6_t()
	if not parse_ip6(s, a) then fail(bad_ip6(s), 2) end
	return a
end

M.ip6_str = ip6_str

-- TCP flags as letters, tcpdump's order.
local TCP_LETTERS = { F = 0x01, S = 0x02, R = 0x04, P = 0x08,
	A = 0x10, U = 0x20, E = 0x40, C = 0x80 }

local function parse_tcp_flags(v)
	if type(v) == "number" then
		if v ~= floor(v) or v < 0 or v > 255 then return nil end
		return v
	end
	if type(v) ~= "string" then return nil end
	local f = 0
	for i = 1, #v do
		local b = TCP_LETTERS[sub(v, i, i)]
		if not b then return nil end
		f = bor(f, b)
	end
	return f
end

local function bad_flags(v)
	return format("bad TCP flags '%s' (expected letters from FSRPAUEC, or a number 0..255)",
		tostring(v))
end

function M.tcp_flags(v)
	local f = parse_tcp_flags(v)
	if not f then fail(bad_flags(v), 2) end
	return f
end

function M.tcp_flags_str(n)
	local out = {}
	for _, l in ipairs({ "F", "S", "R", "P", "A", "U", "E", "C" }) do
		if band(n, TCP_LETTERS[l]) ~= 0 then out[#out + 1] = l end
	end
	return concat(out)
end

-- ---------------------------------------------------------------------
-- Checksums

-- The sum adds 16-bit words read natively, in integers: a double add
-- chain is several times slower, and 16-bit loads also match the
-- 16-bit stores that wrote most fields (a wider load over a narrower
-- store stalls store forwarding). Two accumulators let the adds overlap.
-- len up to 64 KiB keeps the sum below 2^32, which fold() handles.
--
-- The loop takes 16 bytes a turn and the rest is straight code: a trace
-- cannot hold an inner loop, so each turn costs a trace exit in a
-- per-packet caller. Fixed-size sums (IPv4 header, pseudo-headers) have
-- no loop at all.
local odd_shift = ffi.abi("le") and 0 or 8

-- sum_raw has no barrier: its callers place one. s is an integer.
local function sum_raw(ptr, len, s)
	local p = cast(u8p, ptr)
	local w = cast(u16p, p)
	local n = band(len, -16)
	local t = 0
	for i = 0, rshift(n, 1) - 1, 8 do
		-- A trace rooted in this loop loads s and t as doubles; tobit
		-- makes them integers for the turns that follow (a no-op in the
		-- value: they stay below 2^31 for 64 KiB).
		s = tobit(s) + w[i] + w[i + 1] + w[i + 2] + w[i + 3]
		t = tobit(t) + w[i + 4] + w[i + 5] + w[i + 6] + w[i + 7]
	end
	s = s + t
	local rest = len - n
	w = cast(u16p, p + n)
	if rest >= 8 then
		s = s + w[0] + w[1] + w[2] + w[3]
		w = w + 4
		rest = rest - 8
	end
	if rest >= 4 then
		s = s + w[0] + w[1]
		w = w + 2
		rest = rest - 4
	end
	if rest >= 2 then
		s = s + w[0]
		w = w + 1
		rest = rest - 2
	end
	-- A last odd byte is the high byte of a zero-padded word in network
	-- order; read natively on little-endian that is its plain value.
	if rest == 1 then s = s + lshift(cast(u8p, w)[0], odd_shift) end
	return s
end

local function sum_words(ptr, len, s)
	barrier()
	return sum_raw(ptr, len, tobit(s))
end

-- Fold a sum below 2^32 to 0..0xffff (end-around carry twice).
local function fold(s)
	s = band(s, 0xffff) + rshift(s, 16)
	return band(s, 0xffff) + rshift(s, 16)
end

local function csum(ptr, len, init)
	return band(bnot(fold(sum_words(ptr, len, init or 0))), 0xffff)
end

-- proto.csum(ptr, len [, init]) -> the Internet checksum of len bytes at
-- ptr, complemented, ready to store into the uint16_t field. init is a
-- partial sum in the native convention (a pseudo-header, or a
-- csum_partial result), an integer 0..2^31-1; len at most 64 KiB. A
-- buffer with a correct checksum field inside sums to 0.
M.csum = csum

-- proto.csum_partial(ptr, len [, init]) -> the folded, uncomplemented
-- sum (0..0xffff), to chain pieces: csum(b, n, csum_partial(a, m)).
function M.csum_partial(ptr, len, init)
	return fold(sum_words(ptr, len, init or 0))
end

-- RFC 1624 eqn 3: HC' = ~(~HC + ~m + m'). All three arguments in one
-- byte order: raw field values as stored in the packet (p.udp.csum,
-- p.udp.sport, or proto.htons(host value)) give a result to store as is;
-- host-order values would give a host-order result.
local function csum_update16(c, old, new)
	local s = band(bnot(c), 0xffff) + band(bnot(old), 0xffff) + band(new, 0xffff)
	s = band(s, 0xffff) + rshift(s, 16)
	s = band(s, 0xffff) + rshift(s, 16)
	return band(bnot(s), 0xffff)
end

-- The same for a 32-bit field: its two halves are two 16-bit words. old
-- and new are the raw field, what a native uint32_t read of it gives:
-- proto.htonl(host value), e.g. htonl(ip:get_src_num()) for an address.
local function csum_update32(c, old, new)
	local o = bnot(old)
	local s = band(bnot(c), 0xffff) + band(o, 0xffff) + rshift(o, 16)
		+ band(new, 0xffff) + rshift(new, 16)
	s = band(s, 0xffff) + rshift(s, 16)
	s = band(s, 0xffff) + rshift(s, 16)
	return band(bnot(s), 0xffff)
end

M.csum_update16, M.csum_update32 = csum_update16, csum_update32

-- proto.ipv4_csum(ip) fills the header checksum of an IPv4 header
-- (pointer or struct reference, IHL honoured) and returns the stored value.
local function ipv4_csum(ip)
	ip.csum = 0
	barrier()
	local ihl = band(ip.ver_ihl, 15)
	local s
	if ihl == 5 then
		local w = cast(u16p, ip)
		s = w[0] + w[1] + w[2] + w[3] + w[4] + w[5] + w[6] + w[7] + w[8] + w[9]
	else
		s = sum_raw(ip, ihl * 4, 0)
	end
	local c = band(bnot(fold(s)), 0xffff)
	ip.csum = c
	return c
end
M.ipv4_csum = ipv4_csum

-- Native-order sum of the IPv4 pseudo-header (no barrier: the callers
-- place one after zeroing the checksum field): src and dst (adjacent in
-- the header), zero + protocol, L4 length.
local function pseudo4(ip, proto, len)
	local w = cast(u16p, ip.src)
	return w[0] + w[1] + w[2] + w[3] + hs(proto) + hs(len)
end

-- IPv6: src, dst, 32-bit length, three zeros + next header.
local function pseudo6(ip, proto, len)
	local w = cast(u16p, ip.src)
	local a = w[0] + w[1] + w[2] + w[3] + w[4] + w[5] + w[6] + w[7]
	local b = w[8] + w[9] + w[10] + w[11] + w[12] + w[13] + w[14] + w[15]
	return a + b + hs(len) + hs(rshift(len, 16)) + hs(proto)
end

-- Complemented checksum of len bytes plus a partial sum, no barrier.
local function l4fin(ptr, len, s)
	return band(bnot(fold(sum_raw(ptr, len, s))), 0xffff)
end

-- The L4 checksum functions fill the checksum field and return the
-- stored value. p is the frame start (any pointer; cast to the layout
-- the name says). len is the L4 length, header + data; by default it is
-- taken from the UDP length field, or for TCP and ICMP from the IPv4
-- total length minus the IP header. They zero the field before reading
-- anything, so one barrier covers both that store and the reads.

-- UDP sends a computed 0 as 0xffff: 0 in the field means "no checksum".
function M.udp4_csum(p, len)
	p = cast(udp4_ptr, p)
	p.udp.csum = 0
	barrier()
	len = len or hs(p.udp.len)
	local c = l4fin(p.udp, len, pseudo4(p.ip, 17, len))
	if c == 0 then c = 0xffff end
	p.udp.csum = c
	return c
end

function M.vlan_udp4_csum(p, len)
	p = cast(vudp4_ptr, p)
	p.udp.csum = 0
	barrier()
	len = len or hs(p.udp.len)
	local c = l4fin(p.udp, len, pseudo4(p.ip, 17, len))
	if c == 0 then c = 0xffff end
	p.udp.csum = c
	return c
end

function M.tcp4_csum(p, len)
	p = cast(tcp4_ptr, p)
	p.tcp.csum = 0
	barrier()
	len = len or hs(p.ip.len) - band(p.ip.ver_ihl, 15) * 4
	local c = l4fin(p.tcp, len, pseudo4(p.ip, 6, len))
	p.tcp.csum = c
	return c
end

-- ICMPv4 has no pseudo-header.
function M.icmp4_csum(p, len)
	p = cast(icmp4_ptr, p)
	p.icmp.csum = 0
	barrier()
	len = len or hs(p.ip.len) - band(p.ip.ver_ihl, 15) * 4
	local c = l4fin(p.icmp, len, 0)
	p.icmp.csum = c
	return c
end

function M.udp6_csum(p, len)
	p = cast(udp6_ptr, p)
	p.udp.csum = 0
	barrier()
	len = len or hs(p.udp.len)
	local c = l4fin(p.udp, len, pseudo6(p.ip, 17, len))
	if c == 0 then c = 0xffff end
	p.udp.csum = c
	return c
end

local VLAN_NET = hs(0x8100)

-- proto.l4_csum4(p, kind, len): any IPv4 frame, with or without one
-- VLAN tag, IP options honoured. kind is 17/6/1 or "udp"/"tcp"/"icmp",
-- nil for the header's protocol. Fills the checksum, returns it.
function M.l4_csum4(p, kind, len)
	local f = cast(u8p, p)
	barrier()  -- the headers it reads may have been written as other types
	local off = 14
	if cast(eth_ptr, f).type == VLAN_NET then off = 18 end
	local ip = cast(ipv4_ptr, f + off)
	local ihl4 = band(ip.ver_ihl, 15) * 4
	local proto = kind
	if kind == nil then proto = ip.proto
	elseif kind == "udp" then proto = 17
	elseif kind == "tcp" then proto = 6
	elseif kind == "icmp" then proto = 1
	end
	local l4 = f + off + ihl4
	local cf
	if proto == 17 then cf = 6 elseif proto == 6 then cf = 16 elseif proto == 1 then cf = 2
	else
		fail(format("proto.l4_csum4: bad kind '%s' (expected 17, 6, 1, 'udp', 'tcp' or 'icmp')",
			tostring(kind == nil and proto or kind)), 2)
	end
	if len == nil then
		if proto == 17 then len = hs(cast(u16p, l4)[2]) else len = hs(ip.len) - ihl4 end
	end
	local field = cast(u16p, l4 + cf)
	field[0] = 0
	barrier()
	local c
	if proto == 1 then
		c = l4fin(l4, len, 0)
	else
		c = l4fin(l4, len, pseudo4(ip, proto, len))
		if c == 0 and proto == 17 then c = 0xffff end
	end
	field[0] = c
	return c
end

-- ---------------------------------------------------------------------
-- Casts over packet memory (no copy)

function M.eth_at(p) return cast(eth_ptr, p) end
function M.udp4_at(p) return cast(udp4_ptr, p) end
function M.vlan_udp4_at(p) return cast(vudp4_ptr, p) end
function M.udp6_at(p) return cast(udp6_ptr, p) end
function M.tcp4_at(p) return cast(tcp4_ptr, p) end
function M.icmp4_at(p) return cast(icmp4_ptr, p) end
function M.arp_at(p) return cast(arp_ptr, p) end

-- ---------------------------------------------------------------------
-- Payload stamps: a host-order (little-endian on x86) uint64 at byte
-- `off` of the frame; unaligned stores are fine on x86.

function M.put_seq(ptr, off, seq)
	cast(u64p, cast(u8p, ptr) + off)[0] = seq
	barrier()
end

function M.get_seq(ptr, off)
	barrier()
	return tonumber(cast(u64p, cast(u8p, ptr) + off)[0])
end

-- ---------------------------------------------------------------------
-- Methods on the header structs

-- A ctype's metatable can be set only once per LuaJIT state. The method
-- tables live in the registry so a reloaded module refills the same
-- tables (new code takes effect) instead of failing on ffi.metatype.
local registry = debug and debug.getregistry and debug.getregistry() or {}
local REG_KEY = "nmkit.proto.methods"
local first_load = registry[REG_KEY] == nil
if first_load then registry[REG_KEY] = {} end

local function methods(name)
	local all = registry[REG_KEY]
	local m = all[name]
	if m then
		for k in pairs(m) do m[k] = nil end
	else
		m = {}
		all[name] = m
	end
	return m
end

local eth_m, vlan_m, arp_m = methods("eth"), methods("vlan"), methods("arp")
local ipv4_m, ipv6_m = methods("ipv4"), methods("ipv6")
local udp_m, tcp_m, icmp_m = methods("udp"), methods("tcp"), methods("icmp")

-- eth
function eth_m.set_dst(e, v) if not put_mac(e.dst, v) then fail(bad_mac(v), 2) end end
function eth_m.set_src(e, v) if not put_mac(e.src, v) then fail(bad_mac(v), 2) end end
function eth_m.get_dst(e) return mac_str(e.dst) end
function eth_m.get_src(e) return mac_str(e.src) end
function eth_m.set_type(e, v) e.type = hs(v) end
function eth_m.get_type(e) return hs(e.type) end

-- vlan: TCI = PCP(3) DEI(1) VID(12)
function vlan_m.set_tci(v, n) v.tci = hs(n) end
function vlan_m.get_tci(v) return hs(v.tci) end
function vlan_m.set_vid(v, n) v.tci = hs(bor(band(hs(v.tci), 0xf000), band(n, 0x0fff))) end
function vlan_m.get_vid(v) return band(hs(v.tci), 0x0fff) end
function vlan_m.set_pcp(v, n)
	v.tci = hs(bor(band(hs(v.tci), 0x1fff), lshift(band(n, 7), 13)))
end
function vlan_m.get_pcp(v) return rshift(hs(v.tci), 13) end
function vlan_m.set_dei(v, n) v.tci = hs(bor(band(hs(v.tci), 0xefff), lshift(band(n, 1), 12))) end
function vlan_m.get_dei(v) return band(rshift(hs(v.tci), 12), 1) end
function vlan_m.set_type(v, n) v.type = hs(n) end
function vlan_m.get_type(v) return hs(v.type) end

-- arp
function arp_m.set_htype(a, n) a.htype = hs(n) end
function arp_m.get_htype(a) return hs(a.htype) end
function arp_m.set_ptype(a, n) a.ptype = hs(n) end
function arp_m.get_ptype(a) return hs(a.ptype) end
function arp_m.set_hlen(a, n) a.hlen = n end
function arp_m.get_hlen(a) return a.hlen end
function arp_m.set_plen(a, n) a.plen = n end
function arp_m.get_plen(a) return a.plen end
function arp_m.set_oper(a, n) a.oper = hs(n) end
function arp_m.get_oper(a) return hs(a.oper) end
function arp_m.set_sha(a, v) if not put_mac(a.sha, v) then fail(bad_mac(v), 2) end end
function arp_m.get_sha(a) return mac_str(a.sha) end
function arp_m.set_tha(a, v) if not put_mac(a.tha, v) then fail(bad_mac(v), 2) end end
function arp_m.get_tha(a) return mac_str(a.tha) end
function arp_m.set_spa(a, v) if not put_ip4(a.spa, v) then fail(bad_ip4(v), 2) end end
function arp_m.get_spa(a) return ip4_text(a.spa) end
function arp_m.get_spa_num(a) return ip4_num(a.spa) end
function arp_m.set_tpa(a, v) if not put_ip4(a.tpa, v) then fail(bad_ip4(v), 2) end end
function arp_m.get_tpa(a) return ip4_text(a.tpa) end
function arp_m.get_tpa_num(a) return ip4_num(a.tpa) end

-- ipv4. set_src/set_dst take text or a host-order number (the fast path).
function ipv4_m.set_ver_ihl(ip, version, ihl)
	ip.ver_ihl = bor(lshift(band(version, 15), 4), band(ihl, 15))
end
function ipv4_m.get_version(ip) return rshift(ip.ver_ihl, 4) end
function ipv4_m.get_ihl(ip) return band(ip.ver_ihl, 15) end  -- in 32-bit words
function ipv4_m.set_tos(ip, n) ip.tos = n end
function ipv4_m.get_tos(ip) return ip.tos end
function ipv4_m.set_len(ip, n) ip.len = hs(n) end
function ipv4_m.get_len(ip) return hs(ip.len) end
function ipv4_m.set_id(ip, n) ip.id = hs(n) end
function ipv4_m.get_id(ip) return hs(ip.id) end
function ipv4_m.set_frag(ip, n) ip.frag = hs(n) end  -- flags (IP_DF, IP_MF) | offset/8
function ipv4_m.get_frag(ip) return hs(ip.frag) end
function ipv4_m.set_ttl(ip, n) ip.ttl = n end
function ipv4_m.get_ttl(ip) return ip.ttl end
function ipv4_m.set_proto(ip, n) ip.proto = n end
function ipv4_m.get_proto(ip) return ip.proto end
function ipv4_m.get_csum(ip) return hs(ip.csum) end  -- host order, for display
ipv4_m.fill_csum = ipv4_csum
function ipv4_m.set_src(ip, v) if not put_ip4(ip.src, v) then fail(bad_ip4(v), 2) end end
function ipv4_m.set_dst(ip, v) if not put_ip4(ip.dst, v) then fail(bad_ip4(v), 2) end end
function ipv4_m.get_src(ip) return ip4_text(ip.src) end
function ipv4_m.get_dst(ip) return ip4_text(ip.dst) end
function ipv4_m.get_src_num(ip) return ip4_num(ip.src) end
function ipv4_m.get_dst_num(ip) return ip4_num(ip.dst) end

-- ipv6: vtc_flow = version(4) traffic class(8) flow label(20)
local function vtc(ip) return bswap(ip.vtc_flow) end
function ipv6_m.set_version(ip, n)
	ip.vtc_flow = bswap(bor(band(vtc(ip), 0x0fffffff), lshift(band(n, 15), 28)))
end
function ipv6_m.get_version(ip) return rshift(vtc(ip), 28) end
function ipv6_m.set_tc(ip, n)
	ip.vtc_flow = bswap(bor(band(vtc(ip), 0xf00fffff), lshift(band(n, 0xff), 20)))
end
function ipv6_m.get_tc(ip) return band(rshift(vtc(ip), 20), 0xff) end
function ipv6_m.set_flow(ip, n)
	ip.vtc_flow = bswap(bor(band(vtc(ip), 0xfff00000), band(n, 0xfffff)))
end
function ipv6_m.get_flow(ip) return band(vtc(ip), 0xfffff) end
function ipv6_m.set_len(ip, n) ip.len = hs(n) end
function ipv6_m.get_len(ip) return hs(ip.len) end
function ipv6_m.set_next(ip, n) ip.next = n end
function ipv6_m.get_next(ip) return ip.next end
function ipv6_m.set_hops(ip, n) ip.hops = n end
function ipv6_m.get_hops(ip) return ip.hops end
function ipv6_m.set_src(ip, v) if not put_ip6(ip.src, v) then fail(bad_ip6(v), 2) end end
function ipv6_m.set_dst(ip, v) if not put_ip6(ip.dst, v) then fail(bad_ip6(v), 2) end end
function ipv6_m.get_src(ip) return ip6_str(ip.src) end
function ipv6_m.get_dst(ip) return ip6_str(ip.dst) end

-- udp
function udp_m.set_sport(u, n) u.sport = hs(n) end
function udp_m.get_sport(u) return hs(u.sport) end
function udp_m.set_dport(u, n) u.dport = hs(n) end
function udp_m.get_dport(u) return hs(u.dport) end
function udp_m.set_len(u, n) u.len = hs(n) end
function udp_m.get_len(u) return hs(u.len) end
function udp_m.get_csum(u) return hs(u.csum) end

-- tcp. set_flags takes a number (fast path) or letters ("SA").
function tcp_m.set_sport(t, n) t.sport = hs(n) end
function tcp_m.get_sport(t) return hs(t.sport) end
function tcp_m.set_dport(t, n) t.dport = hs(n) end
function tcp_m.get_dport(t) return hs(t.dport) end
function tcp_m.set_seq(t, n) t.seq = bswap(n) end
function tcp_m.get_seq(t) return hl(t.seq) end
function tcp_m.set_ack(t, n) t.ack = bswap(n) end
function tcp_m.get_ack(t) return hl(t.ack) end
function tcp_m.set_off(t, n) t.off = bor(lshift(band(n, 15), 4), band(t.off, 15)) end
function tcp_m.get_off(t) return rshift(t.off, 4) end  -- in 32-bit words
function tcp_m.set_flags(t, v)
	if type(v) == "number" then
		t.flags = v
		return
	end
	local f = parse_tcp_flags(v)
	if not f then fail(bad_flags(v), 2) end
	t.flags = f
end
function tcp_m.get_flags(t) return t.flags end
function tcp_m.set_win(t, n) t.win = hs(n) end
function tcp_m.get_win(t) return hs(t.win) end
function tcp_m.get_csum(t) return hs(t.csum) end
function tcp_m.set_urg(t, n) t.urg = hs(n) end
function tcp_m.get_urg(t) return hs(t.urg) end

-- icmp
function icmp_m.set_type(i, n) i.type = n end
function icmp_m.get_type(i) return i.type end
function icmp_m.set_code(i, n) i.code = n end
function icmp_m.get_code(i) return i.code end
function icmp_m.get_csum(i) return hs(i.csum) end
function icmp_m.set_id(i, n) i.id = hs(n) end
function icmp_m.get_id(i) return hs(i.id) end
function icmp_m.set_seq(i, n) i.seq = hs(n) end
function icmp_m.get_seq(i) return hs(i.seq) end

if first_load then
	ffi.metatype("struct nmk_eth", { __index = eth_m })
	ffi.metatype("struct nmk_vlan", { __index = vlan_m })
	ffi.metatype("struct nmk_arp", { __index = arp_m })
	ffi.metatype("struct nmk_ipv4", { __index = ipv4_m })
	ffi.metatype("struct nmk_ipv6", { __index = ipv6_m })
	ffi.metatype("struct nmk_udp", { __index = udp_m })
	ffi.metatype("struct nmk_tcp", { __index = tcp_m })
	ffi.metatype("struct nmk_icmp", { __index = icmp_m })
end

-- ---------------------------------------------------------------------
-- Templates

-- Bad template input is thrown as a tagged table from deep inside the
-- builders; the public function catches it and re-raises the message at
-- the script's line. Anything else is a bug here and passes unchanged.
local Bad = {}

local function bad(msg)
	error(setmetatable({ msg = msg }, Bad))
end

local function raise_template(name, r)
	if getmetatable(r) == Bad then
		fail(name .. ": " .. r.msg, 3)  -- 3: raise_template, template, script
	end
	error(r, 0)
end

local function check_fields(t, known)
	for k in pairs(t) do
		if known.set[k] == nil then
			bad(format("unknown field '%s' (known: %s)", tostring(k), known.list))
		end
	end
end

-- The field names of a template: a set for lookups (keys other than
-- these names, positional ones included, are errors) and a list for
-- messages.
local function field_set(names)
	local set = {}
	for _, n in ipairs(names) do set[n] = true end
	return { set = set, list = concat(names, ", ") }
end

local function opt_int(t, k, def, lo, hi)
	local v = t[k]
	if v == nil then return def end
	if type(v) ~= "number" or v ~= floor(v) or v < lo or v > hi then
		bad(format("bad %s '%s' (expected an integer %d..%d)", k, tostring(v), lo, hi))
	end
	return v
end

local function opt_bool(t, k, def)
	local v = t[k]
	if v == nil then return def end
	if type(v) ~= "boolean" then
		bad(format("bad %s '%s' (expected true or false)", k, tostring(v)))
	end
	return v
end

local function opt_mac(t, k, def)
	local v = t[k]
	if v == nil then v = def end
	local m = mac_t()
	if not put_mac(m, v) then bad(k .. ": " .. bad_mac(v)) end
	return m
end

local function opt_ip4(t, k, def)
	local v = t[k]
	if v == nil then v = def end
	if type(v) == "number" and v >= 0 and v <= 0xffffffff and v == floor(v) then return v end
	local n = parse_ip4(v)
	if not n then bad(k .. ": " .. bad_ip4(v)) end
	return n
end

local function opt_ip6(t, k, def)
	local v = t[k]
	if v == nil then v = def end
	local a = ip6_t()
	if type(v) == "cdata" then
		copy(a, v, 16)
	elseif not parse_ip6(v, a) then
		bad(k .. ": " .. bad_ip6(v))
	end
	return a
end

local function opt_payload(t)
	local v = t.payload
	if v ~= nil and type(v) ~= "string" then
		bad(format("bad payload '%s' (expected a string)", tostring(v)))
	end
	return v
end

-- The frame size: `size`, by default 60 or what the headers and payload
-- need. Sizes between the headers and 60 are kept as given (short
-- frames are legal on VALE and netmap pipes); below the headers is an error.
local function frame_size(t, hdr, payload, maxsize)
	local need = hdr + (payload and #payload or 0)
	local size = opt_int(t, "size", max(M.ETH_MIN, need), 0, maxsize)
	if size < hdr then
		bad(format("size %d is smaller than the headers (%d bytes)", size, hdr))
	end
	if size < need then
		bad(format("payload of %d bytes does not fit in size %d (%d bytes of headers)",
			#payload, size, hdr))
	end
	return size
end

local Template = {}
Template.__index = Template

-- tpl:write(ptr) copies the frame to ptr and returns its length.
function Template:write(ptr)
	local n = self.len
	copy(ptr, self.bytes, n)
	return n
end

-- tpl:fill_csum() recomputes the checksums after edits through tpl.pkt.
function Template:fill_csum()
	local b, kind = self.bytes, self.kind
	if kind == "udp6" then
		M.udp6_csum(b)
	elseif kind ~= "arp" then
		ipv4_csum(cast(ipv4_ptr, b + self.ip_off))
		if self.l4_csum then M.l4_csum4(b) end
	end
end

local function new_template(kind, size, ptrtype, ip_off, l4_off, payload_off, payload)
	local bytes = u8_vla(size)  -- zero-filled: padding and unset fields are 0
	if payload then copy(bytes + payload_off, payload, #payload) end
	return setmetatable({
		bytes = bytes, len = size, kind = kind, pkt = cast(ptrtype, bytes),
		ip_off = ip_off, l4_off = l4_off, payload_off = payload_off,
		l4_csum = true,
	}, Template)
end

local function fill_ip4(ip, t, total, proto, src, dst)
	ip.ver_ihl = 0x45
	ip.tos = opt_int(t, "tos", 0, 0, 255)
	ip.len = hs(total)
	ip.id = hs(opt_int(t, "ip_id", 0, 0, 65535))
	ip.frag = opt_bool(t, "df", false) and hs(0x4000) or 0
	ip.ttl = opt_int(t, "ttl", 64, 0, 255)
	ip.proto = proto
	cast(u32p, ip.src)[0] = bswap(src)
	cast(u32p, ip.dst)[0] = bswap(dst)
	ipv4_csum(ip)
end

local function fill_eth(e, t, dst_def, etype)
	copy(e.dst, opt_mac(t, "dst_mac", dst_def), 6)
	copy(e.src, opt_mac(t, "src_mac", "02:00:00:00:00:01"), 6)
	e.type = hs(etype)
end

local function args(t)
	if t == nil then return {} end
	if type(t) ~= "table" then
		bad(format("bad argument '%s' (expected a table of fields)", tostring(t)))
	end
	return t
end

local UDP4_FIELDS = field_set({ "src_mac", "dst_mac", "src_ip", "dst_ip", "sport", "dport",
	"size", "vlan", "pcp", "ttl", "tos", "ip_id", "df", "udp_csum", "payload" })

local function build_udp4(t)
	t = args(t)
	check_fields(t, UDP4_FIELDS)
	local vid = opt_int(t, "vlan", nil, 0, 4095)
	if t.pcp ~= nil and vid == nil then bad("pcp given without vlan") end
	local payload = opt_payload(t)
	local tag = vid and 4 or 0
	local hdr = 42 + tag
	local size = frame_size(t, hdr, payload, 14 + tag + 65535)
	local tpl = new_template("udp4", size, vid and vudp4_ptr or udp4_ptr,
		14 + tag, 34 + tag, hdr, payload)
	local p = tpl.pkt
	if vid then
		fill_eth(p.eth, t, "02:00:00:00:00:02", 0x8100)
		p.vlan.tci = hs(bor(lshift(opt_int(t, "pcp", 0, 0, 7), 13), vid))
		p.vlan.type = hs(0x0800)
	else
		fill_eth(p.eth, t, "02:00:00:00:00:02", 0x0800)
	end
	local src = opt_ip4(t, "src_ip", "10.0.0.1")
	local dst = opt_ip4(t, "dst_ip", "10.0.0.2")
	local udp_len = size - 34 - tag
	p.udp.sport = hs(opt_int(t, "sport", 1024, 0, 65535))
	p.udp.dport = hs(opt_int(t, "dport", 9000, 0, 65535))
	p.udp.len = hs(udp_len)
	fill_ip4(p.ip, t, size - 14 - tag, 17, src, dst)
	-- udp_csum=false leaves 0 ("no checksum", legal over IPv4), so
	-- scripts that rewrite ports per packet need no checksum update.
	tpl.l4_csum = opt_bool(t, "udp_csum", true)
	if tpl.l4_csum then
		if vid then M.vlan_udp4_csum(p, udp_len) else M.udp4_csum(p, udp_len) end
	end
	return tpl
end

local UDP6_FIELDS = field_set({ "src_mac", "dst_mac", "src_ip", "dst_ip", "sport", "dport",
	"size", "ttl", "tc", "flow", "payload" })

local function build_udp6(t)
	t = args(t)
	check_fields(t, UDP6_FIELDS)
	local payload = opt_payload(t)
	local size = frame_size(t, 62, payload, 54 + 65535)
	local tpl = new_template("udp6", size, udp6_ptr, 14, 54, 62, payload)
	local p = tpl.pkt
	fill_eth(p.eth, t, "02:00:00:00:00:02", 0x86dd)
	local ip = p.ip
	ip.vtc_flow = bswap(bor(lshift(6, 28), lshift(opt_int(t, "tc", 0, 0, 255), 20),
		opt_int(t, "flow", 0, 0, 0xfffff)))
	ip.len = hs(size - 54)
	ip.next = 17
	ip.hops = opt_int(t, "ttl", 64, 0, 255)
	copy(ip.src, opt_ip6(t, "src_ip", "fd00::1"), 16)
	copy(ip.dst, opt_ip6(t, "dst_ip", "fd00::2"), 16)
	p.udp.sport = hs(opt_int(t, "sport", 1024, 0, 65535))
	p.udp.dport = hs(opt_int(t, "dport", 9000, 0, 65535))
	p.udp.len = hs(size - 54)
	M.udp6_csum(p, size - 54)
	return tpl
end

local TCP4_FIELDS = field_set({ "src_mac", "dst_mac", "src_ip", "dst_ip", "sport", "dport",
	"size", "ttl", "tos", "ip_id", "df", "flags", "seq", "ack", "win", "payload" })

local function build_tcp4(t)
	t = args(t)
	check_fields(t, TCP4_FIELDS)
	local payload = opt_payload(t)
	local size = frame_size(t, 54, payload, 14 + 65535)
	local tpl = new_template("tcp4", size, tcp4_ptr, 14, 34, 54, payload)
	local p = tpl.pkt
	fill_eth(p.eth, t, "02:00:00:00:00:02", 0x0800)
	local src = opt_ip4(t, "src_ip", "10.0.0.1")
	local dst = opt_ip4(t, "dst_ip", "10.0.0.2")
	local tcp = p.tcp
	tcp.sport = hs(opt_int(t, "sport", 1024, 0, 65535))
	tcp.dport = hs(opt_int(t, "dport", 9000, 0, 65535))
	tcp.seq = bswap(opt_int(t, "seq", 0, 0, 0xffffffff))
	tcp.ack = bswap(opt_int(t, "ack", 0, 0, 0xffffffff))
	tcp.off = 0x50
	local flags = t.flags
	if flags == nil then flags = "S" end
	local f = parse_tcp_flags(flags)
	if not f then bad("flags: " .. bad_flags(flags)) end
	tcp.flags = f
	tcp.win = hs(opt_int(t, "win", 65535, 0, 65535))
	fill_ip4(p.ip, t, size - 14, 6, src, dst)
	M.tcp4_csum(p, size - 34)
	return tpl
end

local ICMP4_FIELDS = field_set({ "src_mac", "dst_mac", "src_ip", "dst_ip", "size", "ttl",
	"tos", "ip_id", "df", "id", "seq", "payload" })

local function build_icmp4_echo(t)
	t = args(t)
	check_fields(t, ICMP4_FIELDS)
	local payload = opt_payload(t)
	local size = frame_size(t, 42, payload, 14 + 65535)
	local tpl = new_template("icmp4", size, icmp4_ptr, 14, 34, 42, payload)
	local p = tpl.pkt
	fill_eth(p.eth, t, "02:00:00:00:00:02", 0x0800)
	local src = opt_ip4(t, "src_ip", "10.0.0.1")
	local dst = opt_ip4(t, "dst_ip", "10.0.0.2")
	p.icmp.type = 8  -- echo request
	p.icmp.code = 0
	p.icmp.id = hs(opt_int(t, "id", 0, 0, 65535))
	p.icmp.seq = hs(opt_int(t, "seq", 0, 0, 65535))
	fill_ip4(p.ip, t, size - 14, 1, src, dst)
	M.icmp4_csum(p, size - 34)
	return tpl
end

local ARP_FIELDS = field_set({ "src_mac", "dst_mac", "src_ip", "dst_ip", "size" })

local function build_arp_request(t)
	t = args(t)
	check_fields(t, ARP_FIELDS)
	local size = frame_size(t, 42, nil, 65535)
	local tpl = new_template("arp", size, arp_ptr, nil, 14, 42, nil)
	tpl.l4_csum = false
	local p = tpl.pkt
	fill_eth(p.eth, t, "ff:ff:ff:ff:ff:ff", 0x0806)
	local a = p.arp
	a.htype = hs(1)
	a.ptype = hs(0x0800)
	a.hlen, a.plen = 6, 4
	a.oper = hs(1)
	copy(a.sha, p.eth.src, 6)
	cast(u32p, a.spa)[0] = bswap(opt_ip4(t, "src_ip", "10.0.0.1"))
	cast(u32p, a.tpa)[0] = bswap(opt_ip4(t, "dst_ip", "10.0.0.2"))
	return tpl  -- tha stays 00:00:00:00:00:00: unknown, being asked for
end

function M.udp4(t)
	local ok, r = pcall(build_udp4, t)
	if not ok then raise_template("proto.udp4", r) end
	return r
end

function M.udp6(t)
	local ok, r = pcall(build_udp6, t)
	if not ok then raise_template("proto.udp6", r) end
	return r
end

function M.tcp4(t)
	local ok, r = pcall(build_tcp4, t)
	if not ok then raise_template("proto.tcp4", r) end
	return r
end

function M.icmp4_echo(t)
	local ok, r = pcall(build_icmp4_echo, t)
	if not ok then raise_template("proto.icmp4_echo", r) end
	return r
end

function M.arp_request(t)
	local ok, r = pcall(build_arp_request, t)
	if not ok then raise_template("proto.arp_request", r) end
	return r
end

-- ---------------------------------------------------------------------
-- Self-test

function M.selftest()
	local P = M
	local function eq(a, b, what)
		if a ~= b then
			error(format("nmkit.proto selftest: %s: got %s, want %s",
				what, tostring(a), tostring(b)), 2)
		end
	end
	local function bytes(t)
		local b = u8_vla(#t)
		for i = 1, #t do b[i - 1] = t[i] end
		return b
	end
	-- The error must name `want` and point at this file's line `line`
	-- (the caller's line), not at the error() inside the module.
	local function raises(f, want, line)
		local ok, e = pcall(f)
		if ok then error("nmkit.proto selftest: no error for " .. want, 2) end
		e = tostring(e)
		if not find(e, want, 1, true) then
			error("nmkit.proto selftest: error '" .. e .. "' lacks '" .. want .. "'", 2)
		end
		if line and not find(e, "proto.lua:" .. line .. ":", 1, true) then
			error("nmkit.proto selftest: error '" .. e .. "' not at line " .. line, 2)
		end
	end
	local function here() return debug.getinfo(2, "l").currentline end

	-- struct sizes and offsets
	local sizes = { eth = 14, vlan = 4, arp = 28, ipv4 = 20, ipv6 = 40, udp = 8, tcp = 20,
		icmp = 8, udp4_pkt = 42, vlan_udp4_pkt = 46, udp6_pkt = 62, tcp4_pkt = 54,
		icmp4_pkt = 42, arp_pkt = 42 }
	for n, s in pairs(sizes) do eq(sizeof("struct nmk_" .. n), s, "sizeof " .. n) end
	eq(P.UDP4_PAYLOAD, 42, "UDP4_PAYLOAD")
	eq(P.VLAN_UDP4_PAYLOAD, 46, "VLAN_UDP4_PAYLOAD")
	eq(P.UDP6_PAYLOAD, 62, "UDP6_PAYLOAD")
	eq(P.TCP4_PAYLOAD, 54, "TCP4_PAYLOAD")
	eq(ffi.offsetof("struct nmk_vlan_udp4_pkt", "payload"), 46, "payload offset")
	eq(ffi.offsetof("struct nmk_tcp", "csum"), 16, "tcp csum offset")

	-- byte order, including values with bit 31 set
	eq(P.htons(0x1234), 0x3412, "htons")
	eq(P.htons(0xff00), 0x00ff, "htons high")
	eq(P.ntohs(0x00ff), 0xff00, "ntohs")
	eq(P.htons(0x12345), 0x4523, "htons truncates")
	eq(P.htonl(0x01020304), 0x04030201, "htonl")
	eq(P.htonl(0xff), 0xff000000, "htonl unsigned")
	eq(P.ntohl(0x80000000), 0x80, "ntohl")
	eq(P.ntohl(0xfffffffe), 0xfeffffff, "ntohl unsigned")

	-- RFC 1071 1.(4): 00 01 f2 03 f4 f5 f6 f7 sums to ddf2
	local b = bytes({ 0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7 })
	eq(P.ntohs(P.csum_partial(b, 8)), 0xddf2, "RFC 1071 sum")
	eq(P.ntohs(P.csum(b, 8)), 0x220d, "RFC 1071 checksum")
	eq(P.csum(b + 4, 4, P.csum_partial(b, 4)), P.csum(b, 8), "csum chaining")
	eq(P.ntohs(P.csum(bytes({ 1, 2, 3 }), 3)), 0xfbfd, "odd length")
	eq(P.ntohs(P.csum(bytes({ 1, 2, 3, 4, 5, 6, 7 }), 7)), bnot(0x0102 + 0x0304 + 0x0506 + 0x0700) % 65536,
		"odd length 7")
	eq(P.csum(bytes({ 0, 0 }), 2), 0xffff, "zeros")

	-- a known IPv4 header: checksum b861
	local h = bytes({ 0x45, 0x00, 0x00, 0x73, 0x00, 0x00, 0x40, 0x00, 0x40, 0x11, 0x00, 0x00,
		0xc0, 0xa8, 0x00, 0x01, 0xc0, 0xa8, 0x00, 0xc7 })
	local ip = cast(ipv4_ptr, h)
	eq(P.ntohs(P.csum(h, 20)), 0xb861, "IPv4 known checksum")
	P.ipv4_csum(ip)
	eq(h[10] * 256 + h[11], 0xb861, "ipv4_csum bytes")
	eq(ip:get_csum(), 0xb861, "get_csum")
	eq(P.csum(h, 20), 0, "verifies to 0")

	-- incremental updates against full recomputation. A private
	-- xorshift keeps the script's math.random sequence untouched.
	local x = 0x2545f491
	local function rnd(n)
		x = bit.bxor(x, lshift(x, 13)); x = bit.bxor(x, rshift(x, 17)); x = bit.bxor(x, lshift(x, 5))
		return (x % 0x100000000) % n
	end
	local hb = u8_vla(20)
	local hp = cast(ipv4_ptr, hb)
	-- Over all 20 bytes whatever the random IHL says.
	local function full() hp.csum = 0; hp.csum = P.csum(hb, 20) end
	for _ = 1, 2000 do
		for i = 0, 19 do hb[i] = rnd(256) end
		-- Near-zero headers too; a dst byte stays set because the all-zero
		-- header is the one case where RFC 1624 and a full sum differ.
		if rnd(8) == 0 then fill(hb, 20, 0); hb[16 + rnd(4)] = 255 end
		full()
		local w = cast(u16p, hb + 2 * rnd(5))     -- any word before the checksum
		local old, new = w[0], rnd(65536)
		if rnd(4) == 0 then new = bnot(old) % 65536 end
		w[0] = new
		local inc = P.csum_update16(hp.csum, old, new)
		full()
		eq(inc, hp.csum, "csum_update16")
		local a = cast(u32p, hp.src)
		local old32, new32 = a[0], rnd(0x100000000)
		a[0] = new32
		inc = P.csum_update32(hp.csum, old32, new32)
		full()
		eq(inc, hp.csum, "csum_update32")
	end

	-- address text
	eq(P.mac_str(P.mac("02:0A:0b:c:00:ff")), "02:0a:0b:0c:00:ff", "mac")
	eq(P.ip4("10.0.0.1"), 0x0a000001, "ip4")
	eq(P.ip4("255.255.255.255"), 0xffffffff, "ip4 max")
	eq(P.ip4_str(0xc0a800c7), "192.168.0.199", "ip4_str")
	local v6 = {
		{ "fd00::1", "fd00::1" }, { "::", "::" }, { "::1", "::1" }, { "1::", "1::" },
		{ "2001:0db8:0000:0000:0000:0000:0000:0001", "2001:db8::1" },
		{ "1:0:0:2:0:0:0:3", "1:0:0:2::3" }, { "1:2:3:4:5:6:7:8", "1:2:3:4:5:6:7:8" },
		{ "1:0:2:3:4:5:6:7", "1:0:2:3:4:5:6:7" }, { "1:2:3:4:5:6:7::", "1:2:3:4:5:6:7:0" },
		{ "FE80::AbCd:1", "fe80::abcd:1" }, { "::ffff:10.0.0.1", "::ffff:a00:1" },
		{ "0:0:1::", "0:0:1::" }, { "1:0:0:2:0:0:3:4", "1::2:0:0:3:4" },
	}
	for _, c in ipairs(v6) do eq(P.ip6_str(P.ip6(c[1])), c[2], "ip6 " .. c[1]) end
	local a6 = P.ip6("2001:db8::1")
	eq(a6[0] * 256 + a6[1], 0x2001, "ip6 bytes")
	eq(a6[15], 1, "ip6 last byte")
	for _, s in ipairs({ "1:::2", "1::2::3", "12345::", "g::", "1:2:3:4:5:6:7:8:9",
		"1:2:3:4:5:6:7", ":1::", "1::2:", "", "1.2.3.4::", "::1.2.3.400", "fe80::1%eth0" }) do
		raises(function() return P.ip6(s) end, "bad IPv6 address '" .. s .. "'")
	end
	for _, s in ipairs({ "10.0.0.300", "10.0.0", "10.0.0.1.2", "010.0.0.1", "a.b.c.d", "" }) do
		raises(function() return P.ip4(s) end, "bad IPv4 address '" .. s .. "'")
	end
	for _, s in ipairs({ "02:00:zz:00:00:01", "02:00:00:00:00", "02:00:00:00:00:00:00",
		"002:00:00:00:00:01", "02-00-00-00-00-01" }) do
		raises(function() return P.mac(s) end, "bad MAC address '" .. s .. "'")
	end

	-- setter/getter round trips on every header
	local buf = u8_vla(128)
	local u = P.udp4_at(buf)
	u.eth:set_dst("02:00:00:00:00:02"); eq(u.eth:get_dst(), "02:00:00:00:00:02", "eth dst")
	u.eth:set_src(P.mac("aa:bb:cc:dd:ee:ff")); eq(u.eth:get_src(), "aa:bb:cc:dd:ee:ff", "eth src")
	u.eth:set_type(0x0800); eq(u.eth:get_type(), 0x0800, "eth type"); eq(buf[12], 8, "type wire")
	u.ip:set_ver_ihl(4, 5); eq(u.ip:get_version(), 4, "ip ver"); eq(u.ip:get_ihl(), 5, "ihl")
	u.ip:set_tos(0xb8); eq(u.ip:get_tos(), 0xb8, "tos")
	u.ip:set_len(1500); eq(u.ip:get_len(), 1500, "ip len"); eq(buf[16], 0x05, "len wire")
	u.ip:set_id(0xbeef); eq(u.ip:get_id(), 0xbeef, "ip id")
	u.ip:set_frag(P.IP_DF); eq(u.ip:get_frag(), 0x4000, "frag"); eq(buf[20], 0x40, "frag wire")
	u.ip:set_ttl(64); eq(u.ip:get_ttl(), 64, "ttl")
	u.ip:set_proto(17); eq(u.ip:get_proto(), 17, "proto")
	u.ip:set_src("10.0.0.1"); eq(u.ip:get_src(), "10.0.0.1", "ip src"); eq(buf[26], 10, "src wire")
	u.ip:set_dst(0xc0a80001); eq(u.ip:get_dst(), "192.168.0.1", "ip dst num")
	eq(u.ip:get_dst_num(), 0xc0a80001, "get_dst_num"); eq(u.ip:get_src_num(), 0x0a000001, "src num")
	u.ip:set_src(0xfffffffe); eq(u.ip:get_src(), "255.255.255.254", "ip src high")
	u.udp:set_sport(1024); eq(u.udp:get_sport(), 1024, "sport"); eq(buf[34], 4, "sport wire")
	u.udp:set_dport(65535); eq(u.udp:get_dport(), 65535, "dport")
	u.udp:set_len(26); eq(u.udp:get_len(), 26, "udp len")

	local vu = P.vlan_udp4_at(buf)
	vu.vlan:set_tci(0)
	vu.vlan:set_vid(100); vu.vlan:set_pcp(5); vu.vlan:set_dei(1)
	eq(vu.vlan:get_vid(), 100, "vid"); eq(vu.vlan:get_pcp(), 5, "pcp"); eq(vu.vlan:get_dei(), 1, "dei")
	eq(vu.vlan:get_tci(), 0xb064, "tci"); eq(buf[14], 0xb0, "tci wire")
	vu.vlan:set_vid(4095); eq(vu.vlan:get_pcp(), 5, "pcp kept"); eq(vu.vlan:get_vid(), 4095, "vid max")
	vu.vlan:set_type(0x86dd); eq(vu.vlan:get_type(), 0x86dd, "vlan type")

	local ar = P.arp_at(buf).arp
	ar:set_htype(1); eq(ar:get_htype(), 1, "htype")
	ar:set_ptype(0x0800); eq(ar:get_ptype(), 0x0800, "ptype")
	ar:set_hlen(6); eq(ar:get_hlen(), 6, "hlen"); ar:set_plen(4); eq(ar:get_plen(), 4, "plen")
	ar:set_oper(2); eq(ar:get_oper(), 2, "oper")
	ar:set_sha("02:00:00:00:00:01"); eq(ar:get_sha(), "02:00:00:00:00:01", "sha")
	ar:set_tha("ff:ff:ff:ff:ff:ff"); eq(ar:get_tha(), "ff:ff:ff:ff:ff:ff", "tha")
	ar:set_spa("10.1.2.3"); eq(ar:get_spa(), "10.1.2.3", "spa"); eq(ar:get_spa_num(), 0x0a010203, "spa n")
	ar:set_tpa(0x0a000002); eq(ar:get_tpa(), "10.0.0.2", "tpa"); eq(ar:get_tpa_num(), 0x0a000002, "tpa n")

	local i6 = P.udp6_at(buf).ip
	i6.vtc_flow = 0
	i6:set_version(6); i6:set_tc(0xab); i6:set_flow(0xfffff)
	eq(i6:get_version(), 6, "v6 version"); eq(i6:get_tc(), 0xab, "tc"); eq(i6:get_flow(), 0xfffff, "flow")
	eq(buf[14], 0x6a, "vtc wire"); eq(buf[15], 0xbf, "vtc wire 2")
	i6:set_flow(1); eq(i6:get_tc(), 0xab, "tc kept"); eq(i6:get_version(), 6, "version kept")
	i6:set_len(1000); eq(i6:get_len(), 1000, "v6 len")
	i6:set_next(6); eq(i6:get_next(), 6, "next"); i6:set_hops(255); eq(i6:get_hops(), 255, "hops")
	i6:set_src("fd00::1"); eq(i6:get_src(), "fd00::1", "v6 src")
	i6:set_dst(P.ip6("2001:db8::2")); eq(i6:get_dst(), "2001:db8::2", "v6 dst")

	local tc = P.tcp4_at(buf).tcp
	tc:set_sport(80); eq(tc:get_sport(), 80, "tcp sport")
	tc:set_dport(443); eq(tc:get_dport(), 443, "tcp dport")
	tc:set_seq(0xdeadbeef); eq(tc:get_seq(), 0xdeadbeef, "seq"); eq(buf[38], 0xde, "seq wire")
	tc:set_ack(1); eq(tc:get_ack(), 1, "ack")
	tc.off = 0; tc:set_off(5); eq(tc:get_off(), 5, "off"); eq(tc.off, 0x50, "off raw")
	tc:set_flags("SA"); eq(tc:get_flags(), 0x12, "flags SA")
	tc:set_flags(P.TCP_FIN); eq(tc:get_flags(), 1, "flags num")
	eq(P.tcp_flags("FSRPAUEC"), 255, "all flags"); eq(P.tcp_flags_str(0x12), "SA", "flags str")
	tc:set_win(8192); eq(tc:get_win(), 8192, "win")
	tc:set_urg(7); eq(tc:get_urg(), 7, "urg")

	local ic = P.icmp4_at(buf).icmp
	ic:set_type(8); eq(ic:get_type(), 8, "icmp type"); ic:set_code(3); eq(ic:get_code(), 3, "code")
	ic:set_id(0x1234); eq(ic:get_id(), 0x1234, "icmp id"); ic:set_seq(7); eq(ic:get_seq(), 7, "icmp seq")

	-- payload stamps
	P.put_seq(buf, 43, 2 ^ 40 + 5); eq(P.get_seq(buf, 43), 2 ^ 40 + 5, "seq stamp")
	eq(buf[43], 5, "seq little-endian")
	P.put_seq(u, P.UDP4_PAYLOAD, 99); eq(P.get_seq(u, 42), 99, "seq through a packet pointer")

	-- the method form of ipv4_csum on a struct reference
	u.ip:set_ver_ihl(4, 5)
	u.ip:fill_csum(); eq(P.csum(u.ip, 20), 0, "ip:fill_csum")

	-- templates: lengths, fields, and checksums that verify to 0
	local function verify4(tpl, l4kind)
		local ipo = tpl.ip_off
		local iph = cast(ipv4_ptr, tpl.bytes + ipo)
		eq(P.csum(iph, 20), 0, tpl.kind .. " IPv4 checksum")
		eq(iph:get_len(), tpl.len - ipo, tpl.kind .. " IPv4 length")
		local l4len = tpl.len - tpl.l4_off
		barrier()
		local init = l4kind ~= 1 and pseudo4(iph, l4kind, l4len) or 0
		eq(P.csum(tpl.bytes + tpl.l4_off, l4len, init), 0, tpl.kind .. " L4 checksum")
	end
	local t = P.udp4{}
	eq(t.len, 60, "udp4 default len")
	local tp = P.udp4_at(t.bytes)
	eq(tp.eth:get_src(), "02:00:00:00:00:01", "default src_mac")
	eq(tp.eth:get_dst(), "02:00:00:00:00:02", "default dst_mac")
	eq(tp.ip:get_src(), "10.0.0.1", "default src_ip"); eq(tp.ip:get_dst(), "10.0.0.2", "dst_ip")
	eq(tp.udp:get_sport(), 1024, "default sport"); eq(tp.udp:get_dport(), 9000, "default dport")
	eq(tp.udp:get_len(), 26, "udp len"); eq(tp.ip:get_ttl(), 64, "default ttl")
	verify4(t, 17)
	t = P.udp4{ size = 1514, sport = 5, dport = 6, src_ip = "192.168.1.1", ttl = 3, payload = "hello!!" }
	eq(t.len, 1514, "udp4 size"); verify4(t, 17)
	eq(ffi.string(t.bytes + P.UDP4_PAYLOAD, 7), "hello!!", "payload")
	t = P.udp4{ size = 61 }; verify4(t, 17)  -- odd UDP length
	t = P.udp4{ udp_csum = false }; eq(P.udp4_at(t.bytes).udp.csum, 0, "udp_csum=false")
	t = P.udp4{ vlan = 100, pcp = 3, size = 64 }
	local tv = P.vlan_udp4_at(t.bytes)
	eq(tv.eth:get_type(), 0x8100, "vlan ethertype"); eq(tv.vlan:get_vid(), 100, "tpl vid")
	eq(tv.vlan:get_pcp(), 3, "tpl pcp"); eq(tv.vlan:get_type(), 0x0800, "vlan inner type")
	eq(t.payload_off, P.VLAN_UDP4_PAYLOAD, "vlan payload_off"); verify4(t, 17)
	eq(P.l4_csum4(t.bytes), tv.udp.csum, "l4_csum4 vlan")
	t = P.udp4{ size = 42 }; eq(t.len, 42, "short frame"); verify4(t, 17)
	t = P.udp4{ payload = string.rep("x", 100) }; eq(t.len, 142, "size grows for payload")

	t = P.tcp4{ flags = "SA", seq = 0xfffffff0, payload = "abc", size = 100 }
	local tt = P.tcp4_at(t.bytes)
	eq(tt.tcp:get_flags(), 0x12, "tcp flags"); eq(tt.tcp:get_seq(), 0xfffffff0, "tcp seq")
	eq(tt.tcp:get_off(), 5, "tcp off"); verify4(t, 6)
	eq(P.l4_csum4(t.bytes, "tcp"), tt.tcp.csum, "l4_csum4 tcp")
	t = P.tcp4{}; eq(P.tcp4_at(t.bytes).tcp:get_flags(), 2, "default SYN"); verify4(t, 6)

	t = P.icmp4_echo{ id = 77, seq = 9, size = 99 }
	local ti = P.icmp4_at(t.bytes)
	eq(ti.icmp:get_type(), 8, "echo type"); eq(ti.icmp:get_id(), 77, "echo id")
	eq(ti.icmp:get_seq(), 9, "echo seq"); verify4(t, 1)
	eq(P.l4_csum4(t.bytes), ti.icmp.csum, "l4_csum4 icmp")

	t = P.udp6{ size = 200, payload = "v6", src_ip = "2001:db8::10" }
	local t6 = P.udp6_at(t.bytes)
	eq(t6.eth:get_type(), 0x86dd, "v6 ethertype"); eq(t6.ip:get_version(), 6, "v6 version")
	eq(t6.ip:get_len(), 200 - 54, "v6 payload length"); eq(t6.ip:get_src(), "2001:db8::10", "v6 src")
	eq(t6.ip:get_dst(), "fd00::2", "v6 default dst"); eq(t6.udp:get_len(), 200 - 54, "v6 udp len")
	barrier()
	eq(P.csum(t6.udp, 146, pseudo6(t6.ip, 17, 146)), 0, "udp6 checksum")
	eq(P.udp6{}.len, 62, "udp6 minimum is its headers")

	t = P.arp_request{ src_mac = "02:00:00:00:00:09", src_ip = "10.0.0.9", dst_ip = "10.0.0.1" }
	local ta = P.arp_at(t.bytes)
	eq(t.len, 60, "arp len"); eq(ta.eth:get_dst(), "ff:ff:ff:ff:ff:ff", "arp broadcast")
	eq(ta.eth:get_type(), 0x0806, "arp ethertype"); eq(ta.arp:get_oper(), 1, "arp oper")
	eq(ta.arp:get_sha(), "02:00:00:00:00:09", "arp sha"); eq(ta.arp:get_spa(), "10.0.0.9", "arp spa")
	eq(ta.arp:get_tpa(), "10.0.0.1", "arp tpa"); eq(ta.arp:get_tha(), "00:00:00:00:00:00", "arp tha")

	-- write, and fill_csum after an edit
	t = P.udp4{ size = 70 }
	fill(buf, 128, 0xee)
	eq(t:write(buf), 70, "write len"); eq(P.csum(buf + 14, 20), 0, "written copy")
	eq(buf[70], 0xee, "write stops at len")
	t.pkt.udp:set_sport(4444); t.pkt.ip:set_src("10.9.9.9"); t:fill_csum(); verify4(t, 17)

	-- incremental update of a template's UDP checksum equals recomputation
	t = P.udp4{}
	local up = t.pkt
	local oldp = up.udp.sport
	up.udp:set_sport(31337)
	local incc = P.csum_update16(up.udp.csum, oldp, up.udp.sport)
	eq(incc, P.udp4_csum(up), "udp incremental")

	-- bad input: the message names the value, the position is the caller's
	local e0 = P.udp4_at(buf).eth
	local want = "bad MAC address '02:00:zz:00:00:01' (expected six hex bytes separated by ':')"
	local ln = here() + 1
	raises(function() e0:set_dst("02:00:zz:00:00:01") end, want, ln)
	ln = here() + 1
	raises(function() P.udp4_at(buf).ip:set_src("10.0.0.300") end, "bad IPv4 address '10.0.0.300'", ln)
	ln = here() + 1
	raises(function() P.udp6_at(buf).ip:set_dst("fd00:::1") end, "bad IPv6 address 'fd00:::1'", ln)
	ln = here() + 1
	raises(function() P.tcp4_at(buf).tcp:set_flags("SX") end, "bad TCP flags 'SX'", ln)
	ln = here() + 1
	raises(function() P.arp_at(buf).arp:set_sha("nope") end, "bad MAC address 'nope'", ln)
	want = "proto.udp4: unknown field 'dstmac' (known: src_mac, dst_mac, src_ip,"
	ln = here() + 1
	raises(function() P.udp4{ dstmac = "02:00:00:00:00:02" } end, want, ln)
	ln = here() + 1
	raises(function() P.udp4{ size = 30 } end, "proto.udp4: size 30 is smaller than the headers (42 bytes)", ln)
	want = "proto.udp4: src_mac: bad MAC address '02:00:zz:00:00:01'"
	ln = here() + 1
	raises(function() P.udp4{ src_mac = "02:00:zz:00:00:01" } end, want, ln)
	ln = here() + 1
	raises(function() P.tcp4{ dst_ip = "10.0.0.300" } end, "proto.tcp4: dst_ip: bad IPv4 address '10.0.0.300'", ln)
	ln = here() + 1
	raises(function() P.udp6{ src_ip = "fd00::1::2" } end, "proto.udp6: src_ip: bad IPv6 address 'fd00::1::2'", ln)
	want = "proto.udp4: bad sport '70000' (expected an integer 0..65535)"
	ln = here() + 1
	raises(function() P.udp4{ sport = 70000 } end, want, ln)
	ln = here() + 1
	raises(function() P.udp4{ vlan = 4096 } end, "bad vlan '4096'", ln)
	ln = here() + 1
	raises(function() P.udp4{ pcp = 1 } end, "pcp given without vlan", ln)
	ln = here() + 1
	raises(function() P.udp4{ size = 50, payload = "0123456789" } end, "payload of 10 bytes does not fit in size 50", ln)
	ln = here() + 1
	raises(function() P.tcp4{ flags = "SYN" } end, "proto.tcp4: flags: bad TCP flags 'SYN'", ln)
	ln = here() + 1
	raises(function() P.icmp4_echo{ id = -1 } end, "proto.icmp4_echo: bad id '-1'", ln)
	ln = here() + 1
	raises(function() P.arp_request{ vlan = 3 } end, "proto.arp_request: unknown field 'vlan'", ln)
	ln = here() + 1
	raises(function() P.udp4("x") end, "proto.udp4: bad argument 'x'", ln)
	ln = here() + 1
	raises(function() P.udp4{ "02:00:00:00:00:02" } end, "proto.udp4: unknown field '1'", ln)
	ln = here() + 1
	raises(function() P.mac("02:00:00:00:00:0g") end, "bad MAC address", ln)
	ln = here() + 1
	raises(function() P.l4_csum4(P.udp4{}.bytes, "sctp") end, "bad kind 'sctp'", ln)

	print("nmkit.proto: selftest ok")
	return true
end

return M
