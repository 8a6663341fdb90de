-- quickstart.lua: one VALE switch, a generator and a sink, live rates.
--
--   nmlua scripts/quickstart.lua --time 5 --rate 1Mpps
--
-- The generator sends UDP frames with a sequence number in the payload;
-- the sink counts them and the gaps in the sequence (lost frames).
local nm    = require "nmkit"
local vale  = require "nmkit.vale"
local proto = require "nmkit.proto"
local pace  = require "nmkit.pace"
local stats = require "nmkit.stats"

local SEQ = proto.UDP4_PAYLOAD       -- the sequence number: first payload bytes

function options(cli)
  cli:description("One switch, a generator and a sink, with live rates.")
  cli:option("--switch", "the switch"):default("vale0")
  cli:option("--rate", "offered load: 5Mpps, 800kpps, 2.5Gbit/s or max"):default("max")
  cli:option("--size", "frame size in bytes (without FCS)"):default("60"):convert(tonumber)
  cli:option("--time", "seconds to run"):default("10"):convert(tonumber)
  cli:option("--format", "report format: text, csv or json"):default("text")
end

function main(o)
  pace.parse_rate(o.rate, o.size)     -- a bad rate stops here, naming it
  local sw = vale.switch(o.switch)
  local gen, sink = sw:add_port("gen0"), sw:add_port("sink0")
  stats.report{ every = 1, format = o.format }
  local rx = nm.spawn("sink", sink)
  vale.wait_open(sink)                -- no frame leaves before the sink is there
  nm.stop_after(o.time)
  local tx = nm.spawn("generator", gen, o.rate, o.size)
  stats.summary{ tx = tx:join(), rx = rx:join() }
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
  while nm.running(0.3) do            -- drain for 0.3 s after the stop
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
