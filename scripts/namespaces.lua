-- namespaces.lua: two network namespaces, each with a veth whose other end
-- is attached to a switch (as vale-ctl -a does), and traffic between them:
-- a ping, and a UDP stream with iperf3.  Needs root, ip(8) and iperf3.
--
--   nmlua scripts/namespaces.lua --time 5
--
-- The namespaces' checksum offload is turned off: until the AF_PACKET
-- driver carries partial checksums, frames with them arrive broken.
local nm   = require "nmkit"
local vale = require "nmkit.vale"

function options(cli)
  cli:description("Two namespaces' veths on a switch, and traffic between them.")
  cli:option("--switch", "the switch"):default("vale0")
  cli:option("--prefix", "names of the namespaces and interfaces"):default("nmlns")
  cli:option("--rate", "iperf3 UDP rate"):default("20M")
  cli:option("--time", "seconds of UDP traffic"):default("10"):convert(tonumber)
end

local function sh(fmt, ...)
  local cmd = string.format(fmt, ...)
  if os.execute(cmd .. " > /dev/null 2>&1") ~= 0 then error("failed: " .. cmd, 0) end
end

local function capture(fmt, ...)
  local f = assert(io.popen(string.format(fmt, ...) .. " 2>&1"))
  local out = f:read("*a")
  f:close()
  return out
end

function main(o)
  local p, sw = o.prefix, vale.switch(o.switch)
  local ns = { p .. "a", p .. "b" }
  nm.on_exit(function()
    for _, n in ipairs(ns) do os.execute("ip netns del " .. n .. " 2>/dev/null") end
  end)
  for i, n in ipairs(ns) do
    sh("ip netns add %s", n)
    sh("ip link add %s%d type veth peer name %s%d netns %s", p, i, p, i + 10, n)
    sh("ip -n %s addr add 10.177.0.%d/24 dev %s%d", n, i, p, i + 10)
    sh("ip -n %s link set %s%d up", n, p, i + 10)
    sh("ip -n %s link set lo up", n)
    sh("ethtool -K %s%d tx off", p, i)
    sh("ip netns exec %s ethtool -K %s%d tx off", n, p, i + 10)
    sh("ip link set %s%d up", p, i)
    sw:attach_nic(p .. i)             -- detached at exit, before the namespaces go
  end
  print(vale.describe())

  local ping = capture("ip netns exec %s ping -c 10 -i 0.05 -W 2 10.177.0.2", ns[1])
  local sent, recv = ping:match("(%d+) packets transmitted, (%d+) received")
  local avg = ping:match("= [%d.]+/([%d.]+)/")
  print(string.format("ping %s -> %s: %s sent, %s received, rtt avg %s ms", ns[1], ns[2],
                      sent or "?", recv or "?", avg or "?"))

  sh("ip netns exec %s iperf3 -s -D -1 -p 5999 --pidfile /tmp/%s-iperf3.pid", ns[2], p)
  nm.sleep(0.3)
  local udp = capture("ip netns exec %s iperf3 -c 10.177.0.2 -p 5999 -u -b %s -t %d -f m",
                      ns[1], o.rate, math.max(1, math.floor(o.time)))
  local rate, lost, total = udp:match("([%d.]+) Mbits/sec%s+[%d.]+ ms%s+(%d+)/(%d+)[^\n]*receiver")
  print(string.format("udp %s -> %s: %s Mbit/s received, %s of %s datagrams lost", ns[1], ns[2],
                      rate or "?", lost or "?", total or "?"))
  os.execute(string.format("kill $(cat /tmp/%s-iperf3.pid 2>/dev/null) 2>/dev/null; rm -f /tmp/%s-iperf3.pid", p, p))
  for i = 1, 2 do
    local c = vale.counters(sw.name .. ":" .. p .. i)
    print(string.format("%s:%s%d: tx %d rx %d drop %d", sw.name, p, i, c.tx_packets, c.rx_packets,
                        c.drop_full + c.drop_invalid + c.drop_nodest))
  end
  if recv == nil or tonumber(recv) == 0 or rate == nil then error("no traffic between the namespaces", 0) end
end
