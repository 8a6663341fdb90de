-- nmkit.serialize: how task arguments and results cross between LuaJIT
-- states (each task has its own): as Lua source text.  Plain data (nil,
-- booleans, numbers, strings, tables of them) is copied; an object whose
-- __nmlua_ref method gives an expression (a pacer, a histogram, a port)
-- is rebuilt on the other side from that expression, by handle or name.
local err = require "nmkit.err"

local M = {}

local function ref_of(v)
  local ok, f = pcall(function() return v.__nmlua_ref end)
  if ok and type(f) == "function" then return f(v) end
  return nil
end

local function encode(v, out, depth)
  local t = type(v)
  if t == "nil" then out[#out + 1] = "nil"
  elseif t == "boolean" then out[#out + 1] = tostring(v)
  elseif t == "number" then
    if v ~= v then out[#out + 1] = "0/0"
    elseif v == math.huge then out[#out + 1] = "math.huge"
    elseif v == -math.huge then out[#out + 1] = "-math.huge"
    else out[#out + 1] = string.format("%.17g", v) end
  elseif t == "string" then out[#out + 1] = string.format("%q", v)
  elseif t == "table" or t == "cdata" or t == "userdata" then
    local ref = ref_of(v)
    if ref then out[#out + 1] = "(" .. ref .. ")"; return end
    if t ~= "table" then
      err.raise("cannot pass a %s to another task (pass a port by its name)", tostring(v))
    end
    if depth > 20 then err.raise("cannot pass a table nested deeper than 20 to another task") end
    out[#out + 1] = "{"
    for k, x in pairs(v) do
      if type(k) ~= "string" and type(k) ~= "number" and type(k) ~= "boolean" then
        err.raise("cannot pass a table with a %s key to another task", type(k))
      end
      out[#out + 1] = "["
      encode(k, out, depth + 1)
      out[#out + 1] = "]="
      encode(x, out, depth + 1)
      out[#out + 1] = ","
    end
    out[#out + 1] = "}"
  else
    err.raise("cannot pass a %s to another task", t)
  end
end

-- A list of values (with its length n) as one string.
function M.encode_list(n, ...)
  local vals = { ... }
  local out = { "return ", tostring(n) }
  for i = 1, n do
    out[#out + 1] = ","
    encode(vals[i], out, 0)
  end
  return table.concat(out)
end

-- The values of a string made by encode_list, as a table with their
-- count in .n (nil values included).
function M.decode_list(s)
  local f, e = loadstring(s, "=(task arguments)")
  if not f then error("corrupt task data: " .. e, 0) end
  setfenv(f, { require = require, math = math })
  local all = { f() }
  local vals = { n = all[1] }
  for i = 1, vals.n do vals[i] = all[i + 1] end
  return vals
end

function M.selftest()
  local s = M.encode_list(4, 1.5, "a\n\"b", { x = { 1, 2, 3 }, [7] = true }, nil)
  local v = M.decode_list(s)
  assert(v.n == 4 and v[1] == 1.5 and v[2] == "a\n\"b" and v[3].x[3] == 3 and v[3][7] == true and v[4] == nil)
  local big = M.decode_list(M.encode_list(1, 2^53 + 0.0))
  assert(big[1] == 2^53)
  local ok = pcall(M.encode_list, 1, function() end)
  assert(not ok, "functions cannot cross")
end

return M
