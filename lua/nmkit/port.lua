-- nmkit.port: ports and rings, with zero-copy access to slots and buffers.
--
--   local port = require "nmkit.port"
--   local tx = port.open("vale0:gen0"):tx_ring(0)
--   local n = tx:space()
--   for i = 0, n - 1 do ffi.copy(tx:buf(i), frame, 60); tx:set_len(i, 60) end
--   tx:send(n)                 -- one C call: advance and txsync
--
-- Slot i of a ring means the i-th slot from cur: the first free one on a
-- TX ring, the first unread frame on an RX ring.  space(), buf(), len(),
-- set_len(), release() are Lua over FFI pointers (the JIT compiles them
-- into the loop); send(), recv(), poll() call C once per batch.
local ffi = require "ffi"
local C = require("nmkit.cdefs").C
local err = require "nmkit.err"

local M = {}

local errbuf = ffi.new("char[?]", C.NMK_ERRBUF_SIZE)
local u8p = ffi.typeof("uint8_t *")
local u64p = ffi.typeof("uint64_t *")

-- ---- rings -----------------------------------------------------------------

local Ring = {}
Ring.__index = Ring

local function ring_failed(self, ret)
  local msg = ffi.string(C.nmk_port_error(self.port.p))
  err.raise("%s: %s ring %d: %s", self.port.name, self.tx and "tx" or "rx", self.index,
            msg ~= "" and msg or ffi.string(C.nmk_strerror(ret)))
end

local function bad_slot(self, j)
  err.raise("%s: slot %d holds buffer index %d, outside the region", self.port.name, j,
            tonumber(self.slot[j].buf_idx))
end

-- Free slots (TX) or frames ready (RX) from cur.
function Ring:space()
  local ring = self.ring
  local n = ring.tail - ring.cur
  if n < 0 then n = n + self.ns end
  if n >= self.ns then return 0 end
  return n
end
Ring.ready = Ring.space

-- The index in the ring of slot i (counted from cur).
function Ring:slot_index(i)
  local j = self.ring.cur + i
  local ns = self.ns
  if j >= ns then j = (j - ns) % ns end
  return j
end

-- The buffer of slot i (uint8_t *).
function Ring:buf(i)
  local j = self.ring.cur + i
  local ns = self.ns
  if j >= ns then j = (j - ns) % ns end
  local idx = self.slot[j].buf_idx
  if idx >= self.nbufs then bad_slot(self, j) end
  return self.bufs + idx * self.bufsize
end

function Ring:len(i)
  local j = self.ring.cur + i
  local ns = self.ns
  if j >= ns then j = (j - ns) % ns end
  return self.slot[j].len
end

function Ring:set_len(i, len)
  local j = self.ring.cur + i
  local ns = self.ns
  if j >= ns then j = (j - ns) % ns end
  self.slot[j].len = len
end

-- The netmap_slot of slot i (flags, buf_idx: netmap's zero-copy swaps).
function Ring:slot(i)
  return self.slot + self:slot_index(i)
end

-- TX: hand the next n slots to the port and txsync; with stamp_off, the
-- cycle counter goes into each frame at stamp_off + 8 right before (the
-- sequence number at stamp_off is the script's).  Returns the free slots.
function Ring:send(n, stamp_off)
  local s = C.nmlua_ring_send(self.r, n, stamp_off or -1)
  if s < 0 then ring_failed(self, s) end
  return s
end

-- RX: rxsync (handing back what release() gave up) and return how many
-- frames are ready, at most max (default 512, pkt-gen's batch), and the
-- cycle count taken right after the sync (for nm.read_stamp).
function Ring:recv(max)
  local n = C.nmlua_ring_recv(self.r, max or 512)
  if n < 0 then ring_failed(self, n) end
  return n, tonumber(self.r.t_sync)
end

-- RX: give the first n frames back (at the next recv()).
function Ring:release(n)
  local ring = self.ring
  local j = ring.cur + n
  local ns = self.ns
  if j >= ns then j = (j - ns) % ns end
  ring.head = j
  ring.cur = j
end

-- Wait for room (TX) or frames (RX): true when ready, false on timeout or
-- the stop.  timeout_ms -1 (default): until then.
function Ring:poll(timeout_ms)
  local r = C.nmlua_ring_poll(self.r, timeout_ms or -1)
  if r < 0 then ring_failed(self, r) end
  return r > 0
end

-- TX: write a frame (a template from nmkit.proto, or ptr and len) into the
-- buffer of every slot, so that a generator changes only what varies.
function Ring:prefill(tpl, len)
  local ptr = tpl
  if type(tpl) == "table" then ptr, len = tpl.bytes, tpl.len end
  if C.nmlua_ring_prefill(self.r, ptr, len) < 0 then
    err.raise("%s: cannot prefill with a %d-byte frame (buffers hold %d)", self.port.name,
              len, self.bufsize)
  end
end

-- TX: copy up to max frames from RX ring src into this ring, advancing
-- both rings' cur and head (no sync: send(0) hands them over); returns
-- the count.
function Ring:copy_from(src, max)
  return C.nmlua_ring_copy(self.r, src.r, max or 256)
end

-- Frames lost to this port's full RX rings, in total.
function Ring:dropped()
  return tonumber(C.nmk_port_rx_dropped(self.port.p))
end

function Ring:__tostring()
  return string.format("%s %s ring %d (%d slots)", self.port.name, self.tx and "tx" or "rx",
                       self.index, self.ns)
end

local function new_ring(port, tx, i)
  if type(i) ~= "number" or i < 0 or i ~= math.floor(i) then
    err.raise("%s: bad ring number '%s'", port.name, tostring(i))
  end
  local r = C.nmlua_ring_open(port.p, tx and 1 or 0, i, errbuf)
  if r == nil then err.raise("%s", ffi.string(errbuf)) end
  r = ffi.gc(r, C.nmlua_ring_close)
  return setmetatable({
    r = r, port = port, tx = tx, index = r.index,
    -- Constants kept in the table, where the JIT hoists them out of loops.
    ring = r.ring, slot = r.slot, bufs = r.bufs, ns = r.num_slots,
    bufsize = r.buf_size, nbufs = r.nbufs,
  }, Ring)
end

-- ---- ports -------------------------------------------------------------------

local Port = {}
Port.__index = Port

-- Open any port name nmkit accepts ("vale0:a", "pipe{1", "netmap:eth0",
-- with netmap's suffixes).  A bad name, or one that cannot be opened, is
-- an error naming the script's line and the library's reason.
function M.open(name, opts)
  if type(name) ~= "string" then
    err.raise("bad port name '%s' (a string such as \"vale0:a\" expected)", tostring(name))
  end
  if opts ~= nil then err.raise("nm.open(%q): no options are known", name) end
  local p = C.nmk_port_open(name, errbuf)
  if p == nil then err.raise("%s", ffi.string(errbuf)) end
  p = ffi.gc(p, C.nmk_port_close)
  local info = C.nmk_port_info(p)
  return setmetatable({ p = p, name = name, info = info, rings = {} }, Port)
end

function Port:tx_ring(i)
  local key = "tx" .. (i or 0)
  self.rings[key] = self.rings[key] or new_ring(self, true, i or 0)
  return self.rings[key]
end

function Port:rx_ring(i)
  local key = "rx" .. (i or 0)
  self.rings[key] = self.rings[key] or new_ring(self, false, i or 0)
  return self.rings[key]
end

function Port:tx_rings() return self.info.last_tx_ring - self.info.first_tx_ring end
function Port:rx_rings() return self.info.last_rx_ring - self.info.first_rx_ring end
function Port:fd() return C.nmk_port_fd(self.p) end
function Port:txsync() return C.nmk_txsync(self.p) end
function Port:rxsync() return C.nmk_rxsync(self.p) end

-- netmap's poll on this port: the revents (POLLIN, POLLOUT bits), 0 on
-- timeout.
function Port:poll(events, timeout_ms)
  local r = C.nmk_port_poll(self.p, events or C.POLLIN, timeout_ms or -1)
  if r < 0 then err.raise("%s: poll: %s", self.name, ffi.string(C.nmk_strerror(r))) end
  return r
end

function Port:close()
  if self.p ~= nil then
    for k in pairs(self.rings) do self.rings[k] = nil end
    C.nmk_port_close(ffi.gc(self.p, nil))
    self.p = nil
  end
end

-- A port passed to another task is opened again there, by its name.
function Port:__nmlua_ref()
  return string.format("require(\"nmkit.port\").open(%q)", self.name)
end

-- ---- payload stamps ----------------------------------------------------------

-- The sequence number at byte `off` of frame p and the age in ns of the
-- cycle stamp at off + 8 (written by send(n, off)), against t_rx from
-- recv().  Lua numbers, nothing boxed.
local ns_per_cycle
function M.read_stamp(p, off, t_rx)
  ns_per_cycle = ns_per_cycle or 1e9 / C.nmlua_cycles_hz()
  local q = ffi.cast(u64p, ffi.cast(u8p, p) + off)
  return tonumber(q[0]), (t_rx - tonumber(q[1])) * ns_per_cycle
end

function M.selftest()
  local name = string.format("nmlst%d{0", C.nmlua_task_id() + math.random(100000))
  local a = M.open(name)
  local b = M.open((name:gsub("{", "}")))
  local tx, rx = a:tx_ring(0), b:rx_ring(0)
  assert(tx:space() > 0, "a fresh pipe has room")
  local n = math.min(tx:space(), 100)
  for i = 0, n - 1 do
    local p = tx:buf(i)
    ffi.fill(p, 64, i)
    ffi.cast(u64p, p + 16)[0] = i
    tx:set_len(i, 64)
  end
  tx:send(n, 16)
  local got = rx:recv(1000)
  assert(got == n, "received " .. got .. " of " .. n)
  local t_rx = tonumber(rx.r.t_sync)
  for i = 0, got - 1 do
    assert(rx:len(i) == 64)
    local seq, age = M.read_stamp(rx:buf(i), 16, t_rx)
    assert(seq == i, "sequence")
    assert(age >= 0 and age < 1e9, "stamp age " .. age)
  end
  rx:release(got)
  assert(rx:recv() == 0)
  assert(not rx:poll(10), "poll times out on an empty ring")
  local ok, e = pcall(M.open, "vale0:bad!name")
  assert(not ok and err.is_user(e), "a bad name is a user error")
  a:close()
  b:close()
end

return M
