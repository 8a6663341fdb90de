-- vlan-split.lua: a switch whose lookup is Lua.  Frames sent on the trunk
-- port go to the port of their VLAN (v10, v20, ...), decided per frame by
-- a Lua function in the sending task; frames of other VLANs are dropped.
--
--   nmlua scripts/vlan-split.lua --vlans 10,20,30 --time 5
local bit   = require "bit"
local ffi   = require "ffi"
local nm    = require "nmkit"
local vale  = require "nmkit.vale"
local proto = require "nmkit.proto"
local pace  = require "nmkit.pace"
local stats = require "nmkit.stats"

local SEQ = proto.VLAN_UDP4_PAYLOAD

function options(cli)
  cli:description("A Lua lookup: the trunk's frames go to the port of their VLAN.")
  cli:option("--switch", "the switch"):default("vale0")
  cli:option("--vlans", "the VLANs, each with a port"):default("10,20")
  cli:option("--rate", "offered load on the trunk"):default("200kpps")
  cli:option("--time", "seconds to run"):default("10"):convert(tonumber)
end

function main(o)
  pace.parse_rate(o.rate, 64)
  local sw = vale.switch(o.switch)
  local trunk = sw:add_port("trunk")
  local vlans, sinks = {}, {}
  for v in o.vlans:gmatch("[^,]+") do
    local vid = tonumber(v)
    if not vid or vid < 1 or vid > 4094 then error("bad VLAN '" .. v .. "' (1..4094)") end
    vlans[#vlans + 1] = vid
    local port = sw:add_port("v" .. vid)
    sinks[vid] = nm.spawn("sink", port, vid)
    vale.wait_open(port)
  end
  -- The lookup needs the ports' indexes in the switch.
  local dest = {}
  for _, vid in ipairs(vlans) do dest[vid] = sw:port_index("v" .. vid) end
  -- One more VLAN than there are ports: its frames must be dropped.
  vlans[#vlans + 1] = 4000
  nm.stop_after(o.time)
  local tx = nm.spawn("trunk_sender", trunk, o.switch, vlans, dest, o.rate)
  local results = { tx = tx:join() }
  for _, vid in ipairs(vlans) do
    if sinks[vid] then
      local r = sinks[vid]:join()
      results[#results + 1] = r
      print(string.format("vlan %d -> %s:v%d: received %d, wrong vlan %d", vid, o.switch, vid,
                          r.received, r.wrong))
    end
  end
  print(string.format("vlan 4000 (no port): sent %d, dropped by the lookup", results.tx.unrouted))
  stats.summary(results)
end

local function vid_of(p)
  return bit.band(proto.ntohs(ffi.cast("uint16_t *", p + 14)[0]), 0x0fff)
end

function trunk_sender(port, swname, vlans, dest, rate)
  local ring = nm.open(port):tx_ring(0)
  local tpl = {}
  for i, vid in ipairs(vlans) do
    tpl[i] = proto.udp4{ vlan = vid, size = 64, dst_mac = "02:00:00:00:10:" .. string.format("%02x", i) }
  end
  local DROP = vale.DROP
  vale.lookup(ring, swname, function(buf) return dest[vid_of(buf)] or DROP end)
  local pacer = pace.new{ rate = rate, size = 64 }
  local ctr = stats.counter("tx " .. port)
  local put_seq = proto.put_seq
  local nv, k, seq, unrouted = #vlans, 1, 0, 0
  while nm.running() do
    local n = pacer:grant(ring:space())
    for i = 0, n - 1 do
      local p = ring:buf(i)
      ring:set_len(i, tpl[k]:write(p))
      seq = seq + 1
      put_seq(p, SEQ, seq)
      if dest[vlans[k]] == nil then unrouted = unrouted + 1 end
      k = k + 1
      if k > nv then k = 1 end
    end
    ring:send(n)
    ctr:add(n, n * 64)
    ctr:set_offered(pacer:offered())   -- granted + missed: what the rate asked for
    if n == 0 then pacer:wait() end
  end
  return { sent = seq, unrouted = unrouted }
end

function sink(port, vid)
  local ring = nm.open(port):rx_ring(0)
  local ctr = stats.counter("rx " .. port)
  local got, wrong = 0, 0
  while nm.running(0.3) do
    local n = ring:recv()
    if n == 0 then
      ring:poll(10)
    else
      for i = 0, n - 1 do
        if vid_of(ring:buf(i)) ~= vid then wrong = wrong + 1 end
      end
      ring:release(n)
      got = got + n
      ctr:add(n, n * 64)
      ctr:set_dropped(ring.r.dropped)   -- the switch found no room: as of this recv
    end
  end
  return { received = got, wrong = wrong }
end
