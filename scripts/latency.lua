-- latency.lua: one-way latency through a switch, from a cycle-counter
-- stamp in every frame: p50, p99, p99.9 and max.
--
--   nmlua scripts/latency.lua --time 5 --rate 100kpps
local nm    = require "nmkit"
local vale  = require "nmkit.vale"
local proto = require "nmkit.proto"
local pace  = require "nmkit.pace"
local stats = require "nmkit.stats"
local hist  = require "nmkit.hist"

local STAMP = proto.UDP4_PAYLOAD     -- sequence number, then the send time

function options(cli)
  cli:description("Latency through one switch: a stamped flow, a histogram.")
  cli:option("--switch", "the switch"):default("vale0")
  cli:option("--rate", "offered load"):default("100kpps")
  cli:option("--size", "frame size in bytes"):default("60"):convert(tonumber)
  cli:option("--burst", "frames per send"):default("1"):convert(tonumber)
  cli:option("--time", "seconds to run"):default("10"):convert(tonumber)
end

function main(o)
  pace.parse_rate(o.rate, o.size)
  local sw = vale.switch(o.switch)
  local gen, sink = sw:add_port("lgen0"), sw:add_port("lsink0")
  local rx = nm.spawn("receiver", sink)
  vale.wait_open(sink)
  nm.stop_after(o.time)
  local tx = nm.spawn("generator", gen, o.rate, o.size, o.burst)
  stats.summary{ tx = tx:join(), rx = rx:join() }
end

function generator(port, rate, size, burst)
  local ring = nm.open(port):tx_ring(0)
  ring:prefill(proto.udp4{ size = size })
  local pacer = pace.new{ rate = rate, size = size, burst = burst }
  local ctr = stats.counter("tx " .. port)
  local put_seq = proto.put_seq
  local seq = 0
  while nm.running() do
    local n = pacer:grant(ring:space())
    for i = 0, n - 1 do
      seq = seq + 1
      put_seq(ring:buf(i), STAMP, seq)
    end
    ring:send(n, STAMP)               -- C stamps each frame right before txsync
    ctr:add(n, n * size)
    ctr:set_offered(pacer:offered())   -- granted + missed: what the rate asked for
    if n == 0 then pacer:wait() end
  end
  return { sent = seq }
end

function receiver(port)
  local ring = nm.open(port):rx_ring(0)
  local lat = hist.new()
  local ctr = stats.counter("rx " .. port)
  local read_stamp = nm.read_stamp
  local expect, got = 1, 0
  while nm.running(0.3) do
    local n, t_rx = ring:recv()       -- busy: a poll's wake-up would be measured too
    if n > 0 then
      local lost, bytes = 0, 0
      for i = 0, n - 1 do
        local seq, age = read_stamp(ring:buf(i), STAMP, t_rx)
        bytes = bytes + ring:len(i)
        lat:add(age)
        if seq > expect then lost = lost + (seq - expect) end
        if seq >= expect then expect = seq + 1 end
      end
      ring:release(n)
      got = got + n
      ctr:add(n, bytes)
      ctr:add_lost(lost)
      ctr:set_dropped(ring.r.dropped)   -- the switch found no room: as of this recv
    end
  end
  return { received = got, latency = lat }
end
