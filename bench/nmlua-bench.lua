-- nmlua-bench.lua: a Lua sender or receiver on one port, for make bench
-- (bench/nmbench.c runs it beside C pkt-gen on the same VALE path).  The
-- last line is pkt-gen's "Speed: N pps", which nmbench reads.
--
--   nmlua bench/nmlua-bench.lua --role tx --port vale0:a --cpu 0   (until Ctrl-C)
--   nmlua bench/nmlua-bench.lua --role rx --port vale0:b --cpu 1   (until 1 s of silence)
local nm    = require "nmkit"
local proto = require "nmkit.proto"

function options(cli)
  cli:option("--role", "tx or rx"):choices({ "tx", "rx" })
  cli:option("--port", "the port")
  cli:option("--size", "frame size"):default("60"):convert(tonumber)
  cli:option("--dst", "destination MAC"):default("02:00:00:00:00:65")
  cli:option("--cpu", "the task's processor"):default("-1"):convert(tonumber)
  cli:flag("--seq", "write (tx) or read (rx) a sequence number in every frame")
end

function main(o)
  io.stdout:setvbuf("line")
  local t = nm.spawn({ o.role == "tx" and "sender" or "receiver", cpu = o.cpu }, o.port, o.size, o.dst,
                   o.seq)
  local r = t:join()
  local secs = math.max(r.seconds, 1e-9)
  print(string.format("%s: %.0f frames in %.3f s", o.role, r.frames, secs))
  print(string.format("Speed: %.3f Kpps", r.frames / secs / 1e3))
end

-- What pkt-gen does per frame (its length in the slot), and with --seq a
-- sequence number in the payload, as a generator that measures loss does.
function sender(port, size, dst, with_seq)
  local ring = nm.open(port):tx_ring(0)
  ring:prefill(proto.udp4{ size = size, dst_mac = dst })
  local put_seq, off = proto.put_seq, proto.UDP4_PAYLOAD
  local seq, t0 = 0, nm.elapsed()
  while nm.running() do
    -- At most 512 a batch, pkt-gen's default burst: the switch forwards
    -- a batch while its frames are still in the cache.
    local n = ring:space()
    if n > 512 then n = 512 end
    if with_seq then
      for i = 0, n - 1 do
        seq = seq + 1
        put_seq(ring:buf(i), off, seq)
      end
    else
      for i = 0, n - 1 do ring:set_len(i, size) end
      seq = seq + n
    end
    ring:send(n)
  end
  return { frames = seq, seconds = nm.elapsed() - t0 }
end

-- Counts every frame's bytes (as pkt-gen does), or with --seq reads its
-- sequence number, as a receiver that counts loss does.
function receiver(port, _, _, with_seq)
  io.stdout:setvbuf("line")
  print("receiver on " .. port)
  local ring = nm.open(port):rx_ring(0)
  local get_seq, off = proto.get_seq, proto.UDP4_PAYLOAD
  local got, t_first, t_last, sum = 0, nil, nil, 0
  while nm.running() do
    local n = ring:recv()
    if n > 0 then
      if with_seq then
        for i = 0, n - 1 do sum = sum + get_seq(ring:buf(i), off) end
      else
        for i = 0, n - 1 do sum = sum + ring:len(i) end
      end
      ring:release(n)
      got = got + n
      t_last = nm.elapsed()
      t_first = t_first or t_last
    elseif t_last and nm.elapsed() - t_last > 1 then
      break                           -- a second of silence: the sender is done
    elseif not t_last then
      ring:poll(100)
    end
  end
  return { frames = got, seconds = t_first and (t_last - t_first) or 0, sum = sum }
end
