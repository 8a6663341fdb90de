-- nmkit.pace: rates of frames, kept by a pacer in C (rt/pace.c) on the
-- cycle counter.  A sender asks once per batch how many frames may leave:
--
--   local p = pace.new{ rate = "5Mpps", pattern = "cbr", burst = 32, catchup = 0.001 }
--   while nm.running() do
--     local n = p:grant(ring:space())   -- 0 .. burst frames due now
--     ... fill n slots ...
--     ring:send(n)
--   end
--
-- Rates: a number (frames per second), "max" or nil (no limit), or a
-- string: "2000pps", "800kpps" ("Kpps" too), "5Mpps", "1.5Gpps"; or bits
-- per second of frames of `size` bytes without FCS (default 60):
-- "1bit/s", "10kbit/s", "100Mbit/s", "2.5Gbit/s", with "bps", "kbps",
-- "Mbps", "Gbps" as synonyms of bit/s (never bytes).  0 is an error.
--
-- What the pacer does (see rt/pace.c): gaps are hz/pps cycles with their
-- fraction kept; Poisson gaps are exponential draws with that mean; a
-- grant is at most `burst` frames, fewer at low rates (the frames of 20 us,
-- down to 1: no micro-bursts); a sender that fell more than a burst behind
-- is given the frames due in the last `catchup` seconds (default 1 ms), a
-- burst per grant, so a short stall (a descheduled thread) costs no rate;
-- frames due before that are never sent, and count as missed():
-- offered() = granted() + missed() is what the rate asked for.  catchup = 0
-- keeps the shape exact: one burst after a stall, then the schedule again.
-- set_rate() takes effect at the next grant, from any task.
local ffi = require "ffi"
local err = require "nmkit.err"
local C = require("nmkit.cdefs").C

local M = {}

local DEFAULT_SIZE = 60
local DEFAULT_BURST = 32

-- Frames per second per unit, and bits per second per unit.
local PPS = { [""] = 1, pps = 1, kpps = 1e3, Kpps = 1e3, Mpps = 1e6, Gpps = 1e9 }
local BITS = {
  ["bit/s"] = 1, ["kbit/s"] = 1e3, ["Kbit/s"] = 1e3, ["Mbit/s"] = 1e6, ["Gbit/s"] = 1e9,
  bps = 1, kbps = 1e3, Kbps = 1e3, Mbps = 1e6, Gbps = 1e9,
}

local function bad_rate(s)
  err.raise("bad rate '%s' (expected e.g. 5Mpps, 800kpps, 2.5Gbit/s)", tostring(s))
end

local function whole(v, lo, hi)
  return type(v) == "number" and v == math.floor(v) and v >= lo and v <= hi
end

local function check_size(size)
  if size == nil then return DEFAULT_SIZE end
  if not whole(size, 1, 1e9) then
    err.raise("bad frame size '%s' (expected bytes without FCS, e.g. 60)", tostring(size))
  end
  return size
end

-- Frames per second of rate `s` at frames of `size` bytes; math.huge for
-- "max" and nil (no limit).
function M.parse_rate(s, size)
  if s == nil or s == "max" then return math.huge end
  size = check_size(size)
  if type(s) == "number" then
    if s ~= s or s <= 0 then bad_rate(s) end   -- NaN too
    return s
  end
  if type(s) ~= "string" then bad_rate(s) end
  -- A number (with an exponent or without), then a unit or nothing.
  local num, unit = s:match("^%s*([%d%.]+[eE][-+]?%d+)%s*([%a/]*)%s*$")
  if num == nil then num, unit = s:match("^%s*([%d%.]+)%s*([%a/]*)%s*$") end
  local v = num and tonumber(num)
  if v == nil or v ~= v or v <= 0 or v == math.huge then bad_rate(s) end
  if PPS[unit] then return v * PPS[unit] end
  if BITS[unit] then return v * BITS[unit] / (8 * size) end
  bad_rate(s)
end

-- What C takes for "no limit".
local function c_rate(pps)
  return pps == math.huge and 0 or pps
end

local PATTERNS = { cbr = 0, poisson = 1 }
local NEW_KEYS = { rate = true, size = true, pattern = true, burst = true, catchup = true }
local DEFAULT_CATCHUP = 0.001

-- The frame size of every pacer this state knows (for set_rate's bit
-- rates), by id.
local sizes = {}

local Pace = {}

function M.new(o)
  if o == nil then o = {} end
  if type(o) ~= "table" then err.raise("pace.new: expected an option table, got %s", type(o)) end
  for k in pairs(o) do
    if not NEW_KEYS[k] then
      err.raise("pace.new: unknown option '%s' (known: rate, size, pattern, burst, catchup)", tostring(k))
    end
  end
  local size = check_size(o.size)
  local pps = M.parse_rate(o.rate, size)
  local pattern = PATTERNS[o.pattern or "cbr"]
  if pattern == nil then
    err.raise("bad pattern '%s' (expected cbr or poisson)", tostring(o.pattern))
  end
  local burst = o.burst == nil and DEFAULT_BURST or o.burst
  if not whole(burst, 1, 2^31) then
    err.raise("bad burst '%s' (expected a whole number of frames, 1 or more)", tostring(o.burst))
  end
  local catchup = o.catchup == nil and DEFAULT_CATCHUP or o.catchup
  if type(catchup) ~= "number" or catchup < 0 or catchup ~= catchup or catchup == math.huge then
    err.raise("bad catchup '%s' (expected seconds, 0 or more, e.g. 0.001)", tostring(o.catchup))
  end
  local p = C.nmlua_pace_new(c_rate(pps), pattern, burst, catchup)
  if p == nil then err.raise("pace.new: too many pacers (a run has at most 1024)") end
  sizes[C.nmlua_pace_id(p)] = size
  return p
end

-- The pacer of handle `id` (p:handle(), in this state or another);
-- `size` is the frame size for bit rates given to set_rate().
function M.attach(id, size)
  local p = type(id) == "number" and C.nmlua_pace_get(id) or nil
  if p == nil then err.raise("pace.attach: no pacer %s", tostring(id)) end
  sizes[id] = check_size(size or sizes[id])
  return p
end

-- Frames that may leave now: 0 .. min(max, burst).  One C call.
function Pace:grant(max)
  return C.nmlua_pace_grant(self, max or 0xffffffff)
end

-- Give back n frames of the last grant that were not sent.
function Pace:unused(n)
  C.nmlua_pace_unused(self, n)
end

function Pace:set_rate(r)
  local id = C.nmlua_pace_id(self)
  C.nmlua_pace_set_rate(self, c_rate(M.parse_rate(r, sizes[id])))
end

-- Frames per second; math.huge when there is no limit.
function Pace:rate()
  local r = C.nmlua_pace_rate(self)
  return r > 0 and r or math.huge
end

-- Nothing was granted: at low rates (gaps of 200 us and more, which a
-- sleep's own ~60 us of lateness does not disturb) give the processor away
-- for a quarter of a gap (at most 1 ms), so that a paced sender does not
-- spin a core that other tasks need; at higher rates return at once.
function Pace:wait()
  local r = C.nmlua_pace_rate(self)
  if r > 0 and r <= 5000 then C.nmlua_sleep(math.min(0.25 / r, 0.001)) end
end

function Pace:granted()
  return C.nmlua_pace_granted(self)
end

-- Frames that were due but never granted: the sender stalled for longer
-- than the catch-up.  granted() + missed() is what the rate offered.
function Pace:missed()
  return C.nmlua_pace_missed(self)
end

function Pace:offered()
  return C.nmlua_pace_granted(self) + C.nmlua_pace_missed(self)
end

function Pace:handle()
  return C.nmlua_pace_id(self)
end

-- nm.spawn() sends a pacer to another task as this expression.
function Pace:__nmlua_ref()
  local id = C.nmlua_pace_id(self)
  return string.format('require("nmkit.pace").attach(%d, %d)', id, sizes[id] or DEFAULT_SIZE)
end

ffi.metatype("struct nmlua_pace", {
  __index = Pace,
  __tostring = function(p)
    local r = C.nmlua_pace_rate(p)
    return string.format("pacer %d (%s)", C.nmlua_pace_id(p), r > 0 and string.format("%.0f pps", r) or "max")
  end,
})

-- ---- selftest ------------------------------------------------------------------

local function now_ns()
  return tonumber(C.nmlua_now_ns())
end

local function spin(ns)
  local t = now_ns() + ns
  while now_ns() < t do end
end

-- Grant with `max` for `seconds`; returns frames and the seconds that
-- count: stalls of the thread itself (a descheduled test on a busy
-- machine) longer than the pacer's allowed lateness `slack_ns` are left
-- out, as a pacer without catch-up (catchup = 0) rightly does not make
-- them up.
local function drive(p, seconds, max, slack_ns)
  local t0 = now_ns()
  local t, last, stalled, n = t0, t0, 0, 0
  local stop = t0 + seconds * 1e9
  while t < stop do
    n = n + p:grant(max)
    t = now_ns()
    if t - last > slack_ns then stalled = stalled + (t - last - slack_ns) end
    last = t
  end
  return n, (t - t0 - stalled) * 1e-9, (t - t0) * 1e-9
end

local function near(v, want, frac)
  return math.abs(v - want) <= want * frac
end

local function user_error(f, ...)
  local ok, e = pcall(f, ...)
  return not ok and err.is_user(e), e
end

M.figures = {}

function M.selftest()
  local pr = M.parse_rate
  -- Known answers.
  local known = {
    { "5Mpps", nil, 5e6 }, { "800kpps", nil, 8e5 }, { "800Kpps", nil, 8e5 },
    { "1.5Gpps", nil, 1.5e9 }, { "2000pps", nil, 2000 }, { 1000, nil, 1000 },
    { "1e6pps", nil, 1e6 }, { "1e6", nil, 1e6 }, { " 5 Mpps ", nil, 5e6 }, { "250", nil, 250 },
    { "2.5Gbit/s", nil, 2.5e9 / 480 }, { "100Mbit/s", nil, 1e8 / 480 },
    { "10kbit/s", nil, 1e4 / 480 }, { "10Kbit/s", nil, 1e4 / 480 }, { "1bit/s", nil, 1 / 480 },
    { "2.5Gbps", nil, 2.5e9 / 480 }, { "100Mbps", nil, 1e8 / 480 }, { "10kbps", nil, 1e4 / 480 },
    { "10Gbit/s", 1500, 1e10 / 12000 }, { "1Gbit/s", 64, 1e9 / 512 },
    { "max", nil, math.huge }, { nil, nil, math.huge },
  }
  for _, k in ipairs(known) do
    local got = pr(k[1], k[2])
    assert(got == k[3] or math.abs(got - k[3]) <= 1e-9 * k[3],
           string.format("parse_rate(%s, %s) = %s, want %s", tostring(k[1]), tostring(k[2]), got, k[3]))
  end
  for _, s in ipairs({ "5MBps", "-3Mpps", "0", 0, -1, "0pps", "abc", "5 Mpps x", "5mpps", "",
                       "5Tbit/s", "1.2.3Mpps", "nan", 0 / 0, "5e", "0x10", "Mpps", "1e999pps", true }) do
    local ok, e = user_error(pr, s)
    assert(ok, "parse_rate(" .. tostring(s) .. ") must fail: " .. tostring(e))
    assert(tostring(e):find("bad rate '" .. tostring(s) .. "' (expected e.g. 5Mpps", 1, true), tostring(e))
  end
  assert(user_error(pr, "1Gbit/s", 0))
  assert(user_error(pr, "1Gbit/s", 60.5))
  assert(user_error(M.new, { rate = "1Mpps", burst = 0.5 }))
  assert(user_error(M.new, { rate = "1Mpps", burst = 0 }))
  assert(user_error(M.new, { rate = "1Mpps", bursts = 4 }))
  assert(user_error(M.new, { pattern = "bursty" }))
  assert(user_error(M.new, "5Mpps"))
  assert(user_error(M.new, { rate = "1Mpps", catchup = -1 }))
  assert(user_error(M.new, { rate = "1Mpps", catchup = "1ms" }))
  assert(user_error(M.attach, 1e6))

  -- No limit: a burst (or max) at every grant.
  local u = M.new()
  assert(u:rate() == math.huge and u:grant(100) == 32 and u:grant(5) == 5 and u:grant(0) == 0)
  assert(u:granted() == 37)

  -- The lateness the pacer makes up at 1 Mpps (a grant is 20 frames
  -- there): 19 gaps and a half.
  local slack = 19.5e3

  -- CBR at 1 Mpps for 200 ms.
  local p = M.new{ rate = "1Mpps", burst = 32, catchup = 0 }
  assert(p:rate() == 1e6)
  local n, secs, raw = drive(p, 0.2, 32, slack)
  M.figures.cbr = { frames = n, seconds = secs, raw_seconds = raw, error = n / (secs * 1e6) - 1 }
  assert(near(n, secs * 1e6, 0.02), string.format("cbr: %d frames in %.4f s", n, secs))
  assert(p:granted() == n)

  -- Poisson at 1 Mpps for 200 ms.
  local q = M.new{ rate = 1e6, pattern = "poisson", catchup = 0 }
  n, secs, raw = drive(q, 0.2, 32, slack)
  M.figures.poisson = { frames = n, seconds = secs, raw_seconds = raw, error = n / (secs * 1e6) - 1 }
  assert(near(n, secs * 1e6, 0.05), string.format("poisson: %d frames in %.4f s", n, secs))

  -- set_rate mid-way: 1 Mpps, then 250 kpps, measured on its own.
  local s = M.new{ rate = "1Mpps", catchup = 0 }
  drive(s, 0.05, 32, slack)
  s:set_rate("250kpps")
  assert(s:rate() == 2.5e5)
  n, secs = drive(s, 0.1, 32, 18e3)   -- 5 frames a grant: 4.5 gaps
  M.figures.set_rate = { frames = n, seconds = secs, error = n / (secs * 2.5e5) - 1 }
  assert(near(n, secs * 2.5e5, 0.03), string.format("set_rate: %d frames in %.4f s", n, secs))
  -- ... and a bit rate in the pacer's own frame size (1500 bytes).
  local b = M.new{ rate = "1Mbit/s", size = 1500 }
  b:set_rate("12Mbit/s")
  assert(b:rate() == 1000)

  -- The checks below look at single grants microseconds apart; the
  -- hypervisor can take the CPU away for 100 us at any time, so each may
  -- take a few tries (a real fault fails every one).
  local function tries(what, f)
    for _ = 1, 5 do
      if f() then return end
    end
    error(what .. ": failed 5 times", 2)
  end

  -- A change to a faster rate is not held up by the slow schedule.
  tries("set_rate takes effect at once", function()
    local slow = M.new{ rate = 1 }
    if slow:grant(32) ~= 1 or slow:grant(32) ~= 0 then return false end
    slow:set_rate("1Mpps")
    spin(100e3)
    return slow:grant(32) > 0
  end)

  -- The burst caps a grant; without catch-up, time lost is not made up
  -- and counts as missed.
  -- The missed frames are those of the time between two grants, less
  -- the burst and the lateness that the pacer makes up (`us`, the
  -- catch-up).  The clock is read before and after each grant, since the
  -- machine may stretch any step, and the pacer counts cycles at a
  -- calibrated rate that may be off by some percent under load: the bounds
  -- allow for both.
  local function missed_ok(m, t0, t1, t2, t3, us)
    local lo = (t2 - t1) * 1e-3 - us
    local hi = (t3 - t0) * 1e-3 - us
    local margin = 12 + 0.05 * (t3 - t0) * 1e-3
    return m >= lo - margin and m <= hi + margin
  end
  tries("burst cap, no catch-up burst", function()
    local c = M.new{ rate = "1Mpps", burst = 8, catchup = 0 }
    local t0 = now_ns()
    if c:grant(32) ~= 1 then return false end
    local t1 = now_ns()
    spin(2e6)
    local t2 = now_ns()
    local ok = c:grant(32) == 8
    local t3 = now_ns()
    ok = ok and c:grant(32) < 8       -- not another burst: no catch-up
    local m = c:missed()
    return ok and missed_ok(m, t0, t1, t2, t3, 0) and c:offered() == c:granted() + m
  end)
  -- With catch-up, the frames of a stall shorter than it leave after it,
  -- a burst per grant; those of a longer one are missed.
  tries("catch-up", function()
    local c = M.new{ rate = "1Mpps", burst = 8, catchup = 0.01 }
    local t0 = now_ns()
    if c:grant(32) ~= 1 then return false end
    spin(2e6)
    local t2 = now_ns()
    if t2 - t0 > 9e6 then return false end   -- stretched past the catch-up
    local first, got = c:grant(32), 0
    for _ = 1, 1000 do got = got + c:grant(32) end
    if first ~= 8 or got < (t2 - t0) * 0.9e-3 - 20 or c:missed() ~= 0 then return false end
    c = M.new{ rate = "1Mpps", burst = 8, catchup = 0.01 }
    t0 = now_ns()
    if c:grant(32) ~= 1 then return false end
    local t1 = now_ns()
    spin(15e6)
    t2 = now_ns()
    c:grant(32)
    local t3 = now_ns()
    return missed_ok(c:missed(), t0, t1, t2, t3, 10000)
  end)
  tries("max caps a grant, the rest stays due", function()
    local c = M.new{ rate = "1Mpps", burst = 8, catchup = 0 }
    if c:grant(32) ~= 1 then return false end   -- the schedule starts here
    spin(2e6)
    if c:grant(3) ~= 3 then return false end
    -- The 5 left of the burst, and one more if half a gap has passed.
    local r = c:grant(32)
    return r == 5 or r == 6
  end)

  -- The schedule starts at the first grant, not when the pacer was made.
  tries("starts at the first grant", function()
    local f = M.new{ rate = "1Mpps", catchup = 0.01 }
    spin(1e6)
    return f:grant(32) == 1 and f:missed() == 0
  end)

  -- Low rates: one frame per grant.
  tries("no micro-bursts at low rates", function()
    local l = M.new{ rate = "10kpps", catchup = 0 }
    spin(5e6)
    return l:grant(32) == 1 and l:grant(32) == 0
  end)

  -- unused: frames given back leave at the next grant.
  tries("unused", function()
    local g = M.new{ rate = 1 }
    if g:grant(32) ~= 1 then return false end
    g:unused(1)
    if g:granted() ~= 0 or g:grant(32) ~= 1 or g:granted() ~= 1 then return false end
    g:unused(5)
    return g:granted() == 0
  end)

  -- Handles cross states as text.
  local ref = p:__nmlua_ref()
  assert(ref == string.format('require("nmkit.pace").attach(%d, 60)', p:handle()), ref)
  local again = assert(loadstring("return " .. ref))()
  assert(again == p and again:handle() == p:handle() and M.attach(p:handle()) == p)
  assert(tostring(p):match("^pacer %d+ %(1000000 pps%)$"), tostring(p))
end

return M
