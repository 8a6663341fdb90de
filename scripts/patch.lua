-- patch.lua: two switches joined by a patch (a task that forwards between
-- a port on each), a generator on one and a sink on the other.
--
--   nmlua scripts/patch.lua --time 5 --rate 1Mpps
local nm    = require "nmkit"
local vale  = require "nmkit.vale"
local proto = require "nmkit.proto"
local pace  = require "nmkit.pace"
local stats = require "nmkit.stats"

local SEQ = proto.UDP4_PAYLOAD

function options(cli)
  cli:description("Two switches joined by a patch; traffic from one to the other.")
  cli:option("--switches", "the two switches"):args(2):default({ "vale0", "vale1" })
  cli:option("--rate", "offered load: 5Mpps, 800kpps, 2.5Gbit/s or max"):default("1Mpps")
  cli:option("--size", "frame size in bytes"):default("60"):convert(tonumber)
  cli:option("--time", "seconds to run"):default("10"):convert(tonumber)
end

function main(o)
  pace.parse_rate(o.rate, o.size)
  local sw0, sw1 = vale.switch(o.switches[1]), vale.switch(o.switches[2])
  local gen, sink = sw0:add_port("gen0"), sw1:add_port("sink0")
  local patch = vale.patch(sw0, sw1)
  stats.report{ every = 1 }
  local rx = nm.spawn("sink", sink)
  vale.wait_open(sink)
  vale.wait_open(sw0.name .. ":patch1a")
  print(vale.describe())
  nm.stop_after(o.time)
  local tx = nm.spawn("generator", gen, o.rate, o.size)
  local r = { tx = tx:join(), rx = rx:join(), patch = patch:join() }
  stats.summary(r)
  print(string.format("patch forwarded %d frames", r.patch.forwarded))
end

function generator(port, rate, size)
  local ring = nm.open(port):tx_ring(0)
  ring:prefill(proto.udp4{ size = size })
  local pacer = pace.new{ rate = rate, size = size }
  local ctr = stats.counter("tx " .. port)
  local put_seq = proto.put_seq
  local seq = 0
  while nm.running() do
    local n = pacer:grant(ring:space())
    for i = 0, n - 1 do
      seq = seq + 1
      put_seq(ring:buf(i), SEQ, seq)
    end
    ring:send(n)
    ctr:add(n, n * size)
    ctr:set_offered(pacer:offered())   -- granted + missed: what the rate asked for
    if n == 0 then pacer:wait() end
  end
  return { sent = seq }
end

function sink(port)
  local ring = nm.open(port):rx_ring(0)
  local ctr = stats.counter("rx " .. port)
  local get_seq = proto.get_seq
  local expect, got = 1, 0
  while nm.running(0.5) do
    local n = ring:recv()
    if n == 0 then
      ring:poll(10)
    else
      local bytes, lost = 0, 0
      for i = 0, n - 1 do
        local s = get_seq(ring:buf(i), SEQ)
        if s > expect then lost = lost + (s - expect) end
        if s >= expect then expect = s + 1 end
        bytes = bytes + ring:len(i)
      end
      ring:release(n)
      got = got + n
      ctr:add(n, bytes)
      ctr:add_lost(lost)
      ctr:set_dropped(ring.r.dropped)   -- the switch found no room: as of this recv
    end
  end
  return { received = got }
end
