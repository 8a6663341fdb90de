-- nmkit.hist: latency histograms (rt/hist.c), shared by handle between the
-- tasks of a run.
--
--   local lat = hist.new()
--   lat:add(age_ns)                       -- one C call, no allocation
--   return { latency = lat:handle() }     -- main() merges them
--   ...
--   print(hist.merge{ rx1.latency, rx2.latency }:summary("rx"))
--
-- Buckets are exact below 32 ns and at most 6.25% wide above, up to 2^42 ns;
-- a quantile is the top of its bucket (never above max, never below min).
-- Negative values count as 0.  Each histogram has one writer; read or merge
-- it once that task has ended (or accept counts a little apart).
--
-- The object is a table holding the struct nmlua_hist pointer, not a
-- metatype of the struct: its fields count, min and max would hide the
-- methods of the same names.
local ffi = require "ffi"
local err = require "nmkit.err"
local C = require("nmkit.cdefs").C

local M = {}

local Hist = {}
Hist.__index = Hist

local function wrap(h)
  return setmetatable({ h = h, id = tonumber(h.id) }, Hist)
end

function M.new(o)
  if o ~= nil then
    if type(o) ~= "table" then err.raise("hist.new: expected no arguments, got %s", type(o)) end
    local k = next(o)
    if k ~= nil then err.raise("hist.new: unknown option '%s' (it takes none)", tostring(k)) end
  end
  local h = C.nmlua_hist_new()
  if h == nil then err.raise("hist.new: too many histograms (a run has at most 4096)") end
  return wrap(h)
end

-- The histogram of handle `id` (h:handle(), from this state or another).
function M.attach(id)
  local h = type(id) == "number" and C.nmlua_hist_get(id) or nil
  if h == nil then err.raise("hist.attach: no histogram %s", tostring(id)) end
  return wrap(h)
end

-- A histogram, its handle or its C pointer, as the C pointer.
local function pointer(x, what)
  if getmetatable(x) == Hist then return x.h end
  if type(x) == "number" then
    local h = C.nmlua_hist_get(x)
    if h ~= nil then return h end
  elseif type(x) == "cdata" and ffi.istype("struct nmlua_hist *", x) and x ~= nil then
    return x
  end
  err.raise("%s: not a histogram: %s", what, tostring(x))
end

function Hist:add(ns)
  C.nmlua_hist_add(self.h, ns)
end

function Hist:count() return self.h.count end
function Hist:min() return self.h.min end
function Hist:max() return self.h.max end

function Hist:mean()
  local h = self.h
  return h.count > 0 and h.sum / h.count or 0
end

function Hist:quantile(q)
  if type(q) ~= "number" or not (q >= 0 and q <= 1) then
    err.raise("bad quantile '%s' (expected 0 .. 1, e.g. 0.99)", tostring(q))
  end
  return C.nmlua_hist_quantile(self.h, q)
end

function Hist:percentiles()
  local h = self.h
  return {
    p50 = C.nmlua_hist_quantile(h, 0.5), p90 = C.nmlua_hist_quantile(h, 0.9),
    p99 = C.nmlua_hist_quantile(h, 0.99), p999 = C.nmlua_hist_quantile(h, 0.999),
    min = h.min, max = h.max, mean = self:mean(), count = h.count,
  }
end

-- Add the counts of `other` (a histogram or a handle) into this one.
function Hist:merge(other)
  C.nmlua_hist_merge(self.h, pointer(other, "h:merge"))
  return self
end

function Hist:reset()
  C.nmlua_hist_reset(self.h)
end

function Hist:handle()
  return self.id
end

-- nm.spawn() sends a histogram to another task as this expression.
function Hist:__nmlua_ref()
  return string.format('require("nmkit.hist").attach(%d)', self.id)
end

-- A new histogram with the counts of every one in `list` (histograms or
-- handles).
function M.merge(list)
  if type(list) ~= "table" then err.raise("hist.merge: expected a list of histograms, got %s", type(list)) end
  local ptrs = {}
  for i, x in ipairs(list) do ptrs[i] = pointer(x, "hist.merge") end
  local m = M.new()
  for _, p in ipairs(ptrs) do C.nmlua_hist_merge(m.h, p) end
  return m
end

-- Three significant digits in the unit that suits: "812 ns", "12.3 us",
-- "4.56 ms", "1.20 s".
local UNITS = { { 1e3, "us" }, { 1e6, "ms" }, { 1e9, "s" } }

function M.format_ns(ns)
  if type(ns) ~= "number" then return tostring(ns) end
  if ns ~= ns then return "nan" end
  local a = math.abs(ns)
  if a < 999.5 then return string.format("%.0f ns", ns) end
  for i, u in ipairs(UNITS) do
    local v = a / u[1]
    local sign = ns < 0 and "-" or ""
    if v < 9.995 then return string.format("%s%.2f %s", sign, v, u[2]) end
    if v < 99.95 then return string.format("%s%.1f %s", sign, v, u[2]) end
    if v < 999.5 or i == #UNITS then return string.format("%s%.0f %s", sign, v, u[2]) end
  end
end

-- "latency <label>: p50 1.23 us p99 4.56 us p99.9 7.89 us max 12.3 us (N samples)"
function Hist:summary(label)
  local f, h = M.format_ns, self.h
  return string.format("latency%s: p50 %s p99 %s p99.9 %s max %s (%.0f samples)",
                       label and " " .. tostring(label) or "",
                       f(C.nmlua_hist_quantile(h, 0.5)), f(C.nmlua_hist_quantile(h, 0.99)),
                       f(C.nmlua_hist_quantile(h, 0.999)), f(h.max), h.count)
end

function Hist:__tostring()
  return string.format("histogram %d (%.0f samples)", self.id, self.h.count)
end

-- ---- selftest ------------------------------------------------------------------

local function within(v, want, frac)
  return math.abs(v - want) <= want * frac
end

function M.selftest()
  local f = M.format_ns
  local known = {
    { 0, "0 ns" }, { 812, "812 ns" }, { 812.4, "812 ns" }, { 999.6, "1.00 us" },
    { 1234, "1.23 us" }, { 12345, "12.3 us" }, { 9999, "10.0 us" }, { 123456, "123 us" },
    { 4.56e6, "4.56 ms" }, { 999.7e6, "1.00 s" }, { 1.2e9, "1.20 s" }, { 4321e9, "4321 s" },
  }
  for _, k in ipairs(known) do
    assert(f(k[1]) == k[2], string.format("format_ns(%s) = '%s', want '%s'", k[1], f(k[1]), k[2]))
  end

  -- Uniform 1 .. 100000 ns.
  local u = M.new()
  for v = 1, 100000 do u:add(v) end
  assert(u:count() == 100000 and u:min() == 1 and u:max() == 100000 and u:mean() == 50000.5)
  local p = u:percentiles()
  assert(within(p.p50, 50000, 0.0625) and p.p50 >= 50000, "p50 " .. p.p50)
  assert(within(p.p90, 90000, 0.0625), "p90 " .. p.p90)
  assert(within(p.p99, 99000, 0.0625) and p.p99 >= 99000, "p99 " .. p.p99)
  assert(p.p999 <= 100000 and p.p999 >= 99900, "p999 " .. p.p999)
  assert(p.max == 100000 and p.min == 1 and p.count == 100000)
  assert(u:quantile(0) == 1 and u:quantile(1) == 100000)
  local s = u:summary("rx")
  assert(s:match("^latency rx: p50 %d[%d.]* [nmu]?s p99 %d[%d.]* [nmu]?s p99%.9 %d[%d.]* [nmu]?s " ..
                 "max 100 us %(100000 samples%)$"), s)

  -- Exact below 32 ns: 1 .. 31 once each.
  local e = M.new()
  for v = 1, 31 do e:add(v) end
  assert(e:quantile(0.5) == 16 and e:quantile(10 / 31) == 10, "exact small buckets")

  -- Every bucket's top is within 1/16 of a value it holds.
  math.randomseed(7)
  local b = M.new()
  for _ = 1, 2000 do
    local v = math.floor(2 ^ (math.random() * 41))
    b:reset()
    b:add(v)
    b:add(2 ^ 42)
    local q = b:quantile(0.5)
    assert(q >= v and q <= v * (1 + 1 / 16), string.format("bucket of %d: top %d", v, q))
  end

  -- Merging two.
  local x, y = M.new(), M.new()
  for v = 1, 1000 do x:add(v) end
  for v = 1001, 2000 do y:add(v) end
  local m = M.merge{ x, y:handle() }
  assert(m:count() == 2000 and m:min() == 1 and m:max() == 2000 and m:mean() == 1000.5)
  assert(within(m:quantile(0.5), 1000, 0.0625) and within(m:quantile(0.99), 1980, 0.0625))
  assert(x:count() == 1000 and y:count() == 1000, "hist.merge leaves its inputs alone")
  x:merge(y)
  assert(x:count() == 2000 and x:quantile(0.5) == m:quantile(0.5) and x:max() == 2000)
  x:merge(M.new())
  assert(x:count() == 2000 and x:min() == 1, "merging an empty one changes nothing")

  -- Empty.
  local z = M.new()
  assert(z:count() == 0 and z:mean() == 0 and z:quantile(0.5) == 0 and z:min() == 0 and z:max() == 0)
  local zp = z:percentiles()
  assert(zp.p50 == 0 and zp.p99 == 0 and zp.max == 0 and zp.count == 0)
  assert(z:summary("none"):match("%(0 samples%)$"), z:summary("none"))
  z:merge(x)
  assert(z:min() == 1 and z:max() == 2000, "merging into an empty one takes min and max")
  z:reset()
  assert(z:count() == 0 and z:max() == 0 and z.h.bucket[1] == 0)

  -- Negative values count as 0; huge ones land in the last bucket.
  local n = M.new()
  n:add(-5)
  n:add(-1e9)
  assert(n:count() == 2 and n:min() == 0 and n:max() == 0 and n.h.bucket[0] == 2)
  local g = M.new()
  g:add(1e15)
  g:add(2 ^ 42 + 5)
  g:add(100)
  assert(g.h.bucket[g.h.nbuckets - 1] == 2 and g.h.nbuckets == 624)
  assert(g:max() == 1e15 and g:quantile(1) == 1e15 and g:quantile(0.9) == 1e15)
  assert(g:quantile(0.2) == 103, "top of the bucket [100, 104)")

  -- Handles cross states as text; bad input is the script's error.
  local ref = u:__nmlua_ref()
  assert(ref == string.format('require("nmkit.hist").attach(%d)', u:handle()), ref)
  local again = assert(loadstring("return " .. ref))()
  assert(again:handle() == u:handle() and again:count() == 100000)
  assert(M.attach(u:handle()):max() == 100000)
  for _, bad in ipairs({ function() M.attach(1e6) end, function() M.attach("1") end,
                         function() u:quantile(1.5) end, function() u:quantile("p99") end,
                         function() u:merge(1e6) end, function() M.merge{ u, {} } end,
                         function() M.new{ lo_ns = 50 } end }) do
    local ok, e2 = pcall(bad)
    assert(not ok and err.is_user(e2), tostring(e2))
  end
end

return M
