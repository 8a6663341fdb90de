-- nmkit.stats: counters that tasks share without locks, the reporter that
-- prints them every interval, and the run's final summary.
--
--   local ctr = stats.counter("tx vale0:gen0")     -- in a task
--   ctr:add(n, n * 60)                              -- once per batch
--   stats.report{ every = 1, format = "text" }      -- in main()
--   stats.summary{ tx = tx:join(), rx = rx:join() }
--
-- A counter has one writer, the task that made it; counters of the same
-- name (one per task) are reported as one.  Rates: frames sent for a "tx"
-- counter, received for an "rx" one; Gbit/s counts the frames' bytes
-- without FCS (VALE has none), the wire figure adds 24 B a frame.
local ffi = require "ffi"
local C = require("nmkit.cdefs").C
local err = require "nmkit.err"

local M = {}

local Counter = {}
Counter.__index = Counter

-- Frames (and their bytes) sent or received, by the counter's direction.
function Counter.add(c, n, bytes)
  if c.rx ~= 0 then c.received = c.received + n else c.sent = c.sent + n end
  c.bytes = c.bytes + (bytes or 0)
end
function Counter.add_offered(c, n) c.offered = c.offered + n end
function Counter.add_dropped(c, n) c.dropped = c.dropped + n end
-- Totals kept elsewhere: a pacer's offered() (granted + missed), a ring's
-- dropped() (frames the switch found no room for in this port's rings).
function Counter.set_offered(c, n) c.offered = n end
function Counter.set_dropped(c, n) c.dropped = n end
function Counter.add_lost(c, n) c.lost = c.lost + n end
function Counter.label(c) return ffi.string(c.name) end

ffi.metatype("struct nmlua_counter", Counter)

-- stats.counter(name [, "tx"|"rx"]): the direction defaults to the name's
-- first word ("rx vale0:b" is a receiver's).
function M.counter(name, dir)
  if type(name) ~= "string" then err.raise("stats.counter: bad name '%s'", tostring(name)) end
  dir = dir or (name:match("^rx") and "rx" or "tx")
  if dir ~= "tx" and dir ~= "rx" then
    err.raise("stats.counter: bad direction '%s' (\"tx\" or \"rx\")", tostring(dir))
  end
  local c = C.nmlua_counter_new(name, dir == "rx" and 1 or 0)
  if c == nil then err.raise("stats.counter: '%s': too many counters or a name over 63 bytes", name) end
  return c
end

local FORMATS = { text = 0, csv = 1, json = 2 }

-- Print every `every` seconds (default 1) in format "text", "csv" or
-- "json" (one object a line), to `file` (default stdout).
function M.report(o)
  o = o or {}
  for k in pairs(o) do
    if k ~= "every" and k ~= "format" and k ~= "file" then err.raise("stats.report: unknown option '%s'", tostring(k)) end
  end
  local fmt = FORMATS[o.format or "text"]
  if fmt == nil then err.raise("stats.report: bad format '%s' (text, csv or json)", tostring(o.format)) end
  local every = o.every or 1
  if type(every) ~= "number" or every < 0.01 then err.raise("stats.report: bad interval '%s'", tostring(every)) end
  local e = ffi.new("char[?]", C.NMK_ERRBUF_SIZE)
  if C.nmlua_report_start(every, fmt, o.file, e) < 0 then err.raise("stats.report: %s", ffi.string(e)) end
end

-- Totals of every counter name: { [name] = { offered=, sent=, received=,
-- dropped=, lost=, bytes=, rx=, seconds= } }.
function M.totals()
  local t, stop = {}, C.nmlua_stopped_at()
  local now = stop >= 0 and stop or C.nmlua_elapsed()
  for i = 0, C.nmlua_counter_count() - 1 do
    local c = C.nmlua_counter_get(i)
    local name = ffi.string(c.name)
    local g = t[name]
    if g == nil then
      g = { name = name, rx = c.rx ~= 0, offered = 0, sent = 0, received = 0, dropped = 0,
            lost = 0, bytes = 0, start = c.t_start }
      t[name] = g
      t[#t + 1] = g
    end
    g.offered, g.sent, g.received = g.offered + c.offered, g.sent + c.sent, g.received + c.received
    g.dropped, g.lost, g.bytes = g.dropped + c.dropped, g.lost + c.lost, g.bytes + c.bytes
    g.start = math.min(g.start, c.t_start)
    g.seconds = math.max(now - g.start, 1e-9)
  end
  return t
end

local function find_latencies(v, out, depth)
  if type(v) ~= "table" or depth > 4 then return end
  if v.latency ~= nil then out[#out + 1] = v.latency end
  for _, x in ipairs(v) do find_latencies(x, out, depth + 1) end
end

-- The final summary: one line per counter name, and the latency of every
-- histogram found as `latency` in the tasks' results.  Returns the totals.
function M.summary(results)
  C.nmlua_report_stop()
  local t = M.totals()
  for _, g in ipairs(t) do
    local frames = g.rx and g.received or g.sent
    local mpps = frames / g.seconds / 1e6
    local gbps = g.bytes * 8 / g.seconds / 1e9
    local wire = (g.bytes + 24 * frames) * 8 / g.seconds / 1e9
    -- A sender's own figure is what it offered; a receiver's, what did
    -- not reach it (dropped by the switch, lost on the way).
    local tail = g.rx and string.format("dropped %.0f lost %.0f", g.dropped, g.lost)
                      or string.format("offered %.0f", math.max(g.offered, frames))
    print(string.format("summary %s: %s %.0f frames in %.2f s: %.3f Mpps %.3f Gbit/s (%.3f on the wire), %s",
                        g.name, g.rx and "received" or "sent", frames, g.seconds, mpps, gbps, wire, tail))
    g.mpps, g.gbps = mpps, gbps
  end
  local lat = {}
  for _, v in pairs(results or {}) do find_latencies(v, lat, 0) end
  if #lat > 0 then
    local hist = require "nmkit.hist"
    local h = hist.merge(lat)
    print(h:summary("all"))
    t.latency = h:percentiles()
  end
  io.stdout:flush()
  return t
end

function M.selftest()
  local c = M.counter("rx selftest")
  assert(c.rx == 1)
  c:add(10, 600)
  c:add_lost(2)
  local t = M.totals()["rx selftest"]
  assert(t.received == 10 and t.bytes == 600 and t.lost == 2)
  local d = M.counter("tx selftest")
  d:add(5, 300)
  assert(M.totals()["tx selftest"].sent == 5)
  assert(not pcall(M.counter, "x", "sideways"))
  assert(not pcall(M.report, { format = "xml" }))
end

return M
