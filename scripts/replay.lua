-- replay.lua: play a capture into a switch with the capture's own timing
-- (scaled by --speed), and count what a sink on the switch receives.
--
--   nmlua scripts/replay.lua trace.pcap --speed 2 --time 10
--
-- The frames keep their MAC addresses: the switch learns their sources on
-- the sender's port, so a frame addressed to one of those is not
-- delivered (replay one direction of a conversation).
local nm    = require "nmkit"
local vale  = require "nmkit.vale"
local pcap  = require "nmkit.pcap"
local stats = require "nmkit.stats"

function options(cli)
  cli:description("Replay a capture into a switch, with its original timing.")
  cli:argument("pcap", "the capture (Ethernet)")
  cli:option("--switch", "the switch"):default("vale0")
  cli:option("--speed", "1: original timing, 2: twice as fast, 0: as fast as possible")
     :default("1"):convert(tonumber)
  cli:option("--loop", "times to play the capture (0: until --time)"):default("1"):convert(tonumber)
  cli:option("--time", "seconds to run at most"):default("10"):convert(tonumber)
end

function main(o)
  local sw = vale.switch(o.switch)
  local gen, sink = sw:add_port("rgen0"), sw:add_port("rsink0")
  local rx = nm.spawn("sink", sink)
  vale.wait_open(sink)
  nm.stop_after(o.time)
  local tx = nm.spawn("player", gen, o.pcap, o.speed, o.loop)
  local played = tx:join()
  nm.stop()                           -- the sink drains, then ends
  local got = rx:join()
  stats.summary{ tx = played, rx = got }
  print(string.format("replayed %d frames (%d bytes) in %.3f s; the sink received %d",
                      played.frames, played.bytes, played.seconds, got.received))
end

function player(port, file, speed, loop)
  local ring = nm.open(port):tx_ring(0)
  local ctr = stats.counter("tx " .. port)
  local r = pcap.replay(ring, file, { speed = speed, loop = loop })
  ctr:add(r.frames, r.bytes)
  return r
end

function sink(port)
  local ring = nm.open(port):rx_ring(0)
  local ctr = stats.counter("rx " .. port)
  local got = 0
  while nm.running(0.3) do
    local n = ring:recv()
    if n == 0 then
      ring:poll(10)
    else
      local bytes = 0
      for i = 0, n - 1 do bytes = bytes + ring:len(i) end
      ring:release(n)
      got = got + n
      ctr:add(n, bytes)
      ctr:set_dropped(ring.r.dropped)   -- the switch found no room: as of this recv
    end
  end
  return { received = got }
end
