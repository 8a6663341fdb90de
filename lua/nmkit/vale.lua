-- nmkit.vale: VALE switches from a script.
--
--   local sw0, sw1 = vale.switch("vale0"), vale.switch("vale1")
--   sw0:add_port("gen0")                 -- "vale0:gen0"
--   sw1:add_port("sink0", { persistent = true })
--   vale.patch(sw0, sw1)                 -- a forwarding task joins them
--   sw1:attach_nic("veth1")              -- a NIC, as vale-ctl -a
--   print(vale.describe())               -- as vale-ctl -l, with counters
--
-- Ports are ephemeral by default (netmap's: created when a task opens
-- them, gone with the last close), so a killed run leaves nothing behind.
-- Persistent ports, attached NICs and host stacks that a script makes are
-- undone when it ends (keep = true leaves them).
local ffi = require "ffi"
local C = require("nmkit.cdefs").C
local err = require "nmkit.err"
local nm = require "nmkit"

local M = {}

M.FLOOD = C.NMK_VALE_BROADCAST
M.DROP = C.NMK_VALE_DROP

local errbuf = ffi.new("char[?]", C.NMK_ERRBUF_SIZE)

local function check(ret, what)
  if ret < 0 then
    local msg = ffi.string(errbuf)
    err.raise("%s: %s", what, msg ~= "" and msg or ffi.string(C.nmk_strerror(ret)))
  end
end

local function only_control(what)
  if C.nmlua_task_id() ~= 0 then err.raise("%s belongs in main(), not in a task", what) end
end

local function opts_check(o, known, what)
  for k in pairs(o or {}) do
    if not known[k] then err.raise("%s: unknown option '%s'", what, tostring(k)) end
  end
  return o or {}
end

-- ---- switches -----------------------------------------------------------------

local Switch = {}
Switch.__index = Switch

-- A switch by name ("vale0", "valeA_1"): it exists once a port is on it.
function M.switch(name)
  if type(name) ~= "string" or not name:match("^vale[%w_]*$") or #name > 15 then
    err.raise("bad switch name '%s' (\"vale\" and up to 11 letters, digits or _)", tostring(name))
  end
  return setmetatable({ name = name, ports = {} }, Switch)
end

-- Add port `pname`; returns its full name "valeX:pname".  Options:
-- persistent (create it now, as vale-ctl -n and -a), keep (leave it when
-- the script ends), tx_slots, rx_slots, tx_rings, rx_rings.
function Switch:add_port(pname, o)
  o = opts_check(o, { persistent = true, keep = true, tx_slots = true, rx_slots = true,
                      tx_rings = true, rx_rings = true }, "add_port")
  if type(pname) ~= "string" or not pname:match("^[%w_]+$") or #pname > 15 then
    err.raise("bad port name '%s' (up to 15 letters, digits or _)", tostring(pname))
  end
  local full = self.name .. ":" .. pname
  if o.persistent or o.tx_slots or o.rx_slots or o.tx_rings or o.rx_rings then
    only_control("add_port{persistent}")
    local conf = ffi.new("struct nmk_vale_conf")
    conf.size = ffi.sizeof(conf)
    conf.tx_slots, conf.rx_slots = o.tx_slots or 0, o.rx_slots or 0
    conf.tx_rings, conf.rx_rings = o.tx_rings or 0, o.rx_rings or 0
    ffi.fill(errbuf, 1)
    check(C.nmk_vale_newif(pname, conf, errbuf), full)
    local ok, e = pcall(check, C.nmk_vale_attach(full, errbuf), full)
    if not ok then
      C.nmk_vale_delif(pname, errbuf)
      error(e, 0)
    end
    if not o.keep then
      nm.on_exit(function()
        C.nmk_vale_detach(full, errbuf)
        C.nmk_vale_delif(pname, errbuf)
      end)
    end
  end
  self.ports[#self.ports + 1] = full
  return full
end

-- Attach NIC `ifname` (netmap:ifname through a driver plugin), with
-- host = true its host stack too (vale-ctl -h).
function Switch:attach_nic(ifname, o)
  o = opts_check(o, { host = true, keep = true }, "attach_nic")
  only_control("attach_nic")
  local full = self.name .. ":" .. tostring(ifname)
  ffi.fill(errbuf, 1)
  if o.host then
    check(C.nmk_vale_attach_host(full, errbuf), full)
  else
    check(C.nmk_vale_attach(full, errbuf), full)
  end
  if not o.keep then
    nm.on_exit(function()
      if o.host then C.nmk_vale_detach_host(full, errbuf) else C.nmk_vale_detach(full, errbuf) end
    end)
  end
  self.ports[#self.ports + 1] = full
  return full
end

function Switch:detach(pname)
  local full = self.name .. ":" .. pname
  ffi.fill(errbuf, 1)
  check(C.nmk_vale_detach(full, errbuf), full)
end

-- Index of port `pname` in the switch (what a lookup returns), or nil.
function Switch:port_index(pname)
  for _, e in ipairs(M.ports()) do
    if e.switch == self.name and (e.name == self.name .. ":" .. pname or e.name == pname) then
      return e.port_index
    end
  end
  return nil
end

function Switch:__tostring() return self.name end

-- ---- joining two switches -------------------------------------------------------

local patches = 0

-- Join switches a and b with a pair of ports and a task that copies frames
-- between them both ways (what netmap's bridge tool does between two
-- switches).  Returns the task.
function M.patch(a, b, o)
  o = opts_check(o, { cpu = true }, "vale.patch")
  if getmetatable(a) ~= Switch or getmetatable(b) ~= Switch then
    err.raise("vale.patch: two switches expected")
  end
  patches = patches + 1
  local pa = a:add_port("patch" .. patches .. "a")
  local pb = b:add_port("patch" .. patches .. "b")
  return nm.spawn({ "nmkit.vale.patch_task", cpu = o.cpu }, pa, pb)
end
M.uplink = M.patch

-- The patch's task: both ports open, frames copied in batches, a short
-- poll when nothing moves (a lone frame still leaves at once).
function M.patch_task(name_a, name_b)
  local port = require "nmkit.port"
  local a, b = port.open(name_a), port.open(name_b)
  local arx, atx, brx, btx = a:rx_ring(0), a:tx_ring(0), b:rx_ring(0), b:tx_ring(0)
  local fds = ffi.new("struct pollfd[2]")
  fds[0].fd, fds[1].fd = a:fd(), b:fd()
  fds[0].events, fds[1].events = C.POLLIN, C.POLLIN
  local moved, idle = 0, 0
  while nm.running(0.2) do
    local n1 = arx:recv()
    if n1 > 0 then
      btx:send(0)
      local k = btx:copy_from(arx, n1)   -- advances btx: send(0) syncs it
      btx:send(0)
      moved = moved + k
    end
    local n2 = brx:recv()
    if n2 > 0 then
      atx:send(0)
      local k = atx:copy_from(brx, n2)
      atx:send(0)
      moved = moved + k
    end
    if n1 + n2 == 0 then
      idle = idle + 1
      if idle > 64 then C.nmk_poll(fds, 2, 20) end
    else
      idle = 0
    end
  end
  return { forwarded = moved }
end

-- ---- Lua lookup -------------------------------------------------------------------

-- Frames sent on TX ring `ring` into switch `sw` go where fn(buf, len)
-- says: a port index (Switch:port_index), vale.FLOOD or vale.DROP.  fn runs
-- in the sending task, in Lua, before each send; other processes (and
-- tasks without a lookup) keep the learning bridge for their own frames,
-- except that in this process a task sending into sw without a lookup
-- floods (the lookup is per process, as nmk_vale_set_lookup() is).
function M.lookup(ring, sw, fn)
  local swname = getmetatable(sw) == Switch and sw.name or sw
  if type(fn) ~= "function" then err.raise("vale.lookup: a function expected") end
  ffi.fill(errbuf, 1)
  check(C.nmlua_ring_lookup(ring.r, swname, errbuf), swname)
  local dst = ring.r.dst_by_buf
  local slot, ns, nbufs = ring.slot, ring.ns, ring.nbufs
  local send = getmetatable(ring).send
  -- This ring's send() decides first, then sends.
  ring.send = function(self, n, stamp_off)
    local cur = self.ring.cur
    for i = 0, n - 1 do
      local j = cur + i
      if j >= ns then j = j - ns end
      local idx = slot[j].buf_idx
      if idx < nbufs then dst[idx] = fn(self.bufs + idx * self.bufsize, slot[j].len) end
    end
    return send(self, n, stamp_off)
  end
end

-- ---- what is there ------------------------------------------------------------------

-- Every VALE port and persistent port: { name=, switch=, switch_index=,
-- port_index=, registrations=, persistent=, attached= }.
function M.ports()
  local cursor = ffi.new("uint32_t[1]")
  local e = ffi.new("struct nmk_vale_entry")
  e.size = ffi.sizeof(e)
  local out = {}
  while true do
    ffi.fill(errbuf, 1)
    local r = C.nmk_vale_list(cursor, e, errbuf)
    check(r, "vale.ports")
    if r == 0 then break end
    out[#out + 1] = { name = ffi.string(e.name), switch = ffi.string(e.switch_name),
                      switch_index = e.switch_index, port_index = e.port_index,
                      registrations = e.registrations, persistent = e.persistent ~= 0,
                      attached = e.attached ~= 0 }
  end
  return out
end

-- Wait until port `name` ("valeX:Y") is open somewhere (a task's sink is
-- ready before its generator starts); false after `timeout` seconds
-- (default 5) or at the stop.
function M.wait_open(name, timeout)
  local deadline = nm.elapsed() + (timeout or 5)
  repeat
    for _, e in ipairs(M.ports()) do
      if e.name == name and e.registrations > 0 then return true end
    end
  until nm.sleep(0.01) or nm.elapsed() > deadline
  return false
end

-- Counters of port "valeX:Y": tx_packets, tx_bytes, rx_packets, rx_bytes,
-- forwarded, flooded, drop_full, drop_invalid, drop_nodest.
function M.counters(name)
  local s = ffi.new("struct nmk_vale_stats")
  s.size = ffi.sizeof(s)
  ffi.fill(errbuf, 1)
  check(C.nmk_vale_get_stats(name, s, errbuf), name)
  local t = {}
  for _, f in ipairs({ "tx_packets", "tx_bytes", "rx_packets", "rx_bytes", "forwarded",
                       "flooded", "drop_full", "drop_invalid", "drop_nodest" }) do
    t[f] = tonumber(s[f])
  end
  t.port_index = s.port_index
  return t
end

-- The topology as text: each switch and its ports, as vale-ctl -l shows
-- them, with the counters of each.
function M.describe()
  local lines, bysw, order = {}, {}, {}
  for _, e in ipairs(M.ports()) do
    local key = e.switch ~= "" and e.switch or "(not attached)"
    if not bysw[key] then bysw[key] = {}; order[#order + 1] = key end
    table.insert(bysw[key], e)
  end
  for _, sw in ipairs(order) do
    lines[#lines + 1] = sw
    for _, e in ipairs(bysw[sw]) do
      local what = e.persistent and "persistent" or "ephemeral"
      local line = string.format("  %-24s bridge %d port %d, %d open, %s", e.name, e.switch_index,
                                 e.port_index, e.registrations, what)
      if e.switch ~= "" then
        local ok, c = pcall(M.counters, e.name)
        if ok then
          line = line .. string.format("; tx %d rx %d drop %d", c.tx_packets, c.rx_packets,
                                       c.drop_full + c.drop_invalid + c.drop_nodest)
        end
      end
      lines[#lines + 1] = line
    end
  end
  if #lines == 0 then return "(no VALE ports)" end
  return table.concat(lines, "\n")
end

function M.selftest()
  local id = tostring(math.random(100000))
  local sw = M.switch("valest" .. id:sub(1, 4))
  local pname = "st" .. id
  local full = sw:add_port(pname, { persistent = true })
  local found = false
  for _, e in ipairs(M.ports()) do
    if e.name == full or e.name == pname then found = e.persistent end
  end
  assert(found, "the persistent port is listed")
  assert(M.counters(full).tx_packets == 0)
  assert(sw:port_index(pname) ~= nil)
  assert(M.describe():find(sw.name, 1, true))
  assert(not pcall(M.switch, "notvale"), "bad switch name")
  assert(not pcall(sw.add_port, sw, "bad-name"), "bad port name")
  assert(not pcall(sw.add_port, sw, pname, { persistent = true }), "EEXIST")
  nm._run_exit()
  for _, e in ipairs(M.ports()) do assert(e.name ~= full and e.name ~= pname, "removed at exit") end
end

return M
