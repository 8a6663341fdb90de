-- nmkit.err: errors caused by what a script asked for (a bad port name,
-- rate, option or field) as one line that names the script's own file and
-- line, not a line inside nmkit's modules.
--
-- A user error is a table with a message; the runner prints it alone, where
-- any other error gets a traceback.  Raise one with err.raise(fmt, ...).
local M = {}

local UserError = {}
UserError.__index = UserError
UserError.__tostring = function(e) return e.msg end

-- The folder of nmkit's own modules (this file's), and argparse's file:
-- frames there are skipped when looking for the script's line.
local here = debug.getinfo(1, "S").source
local moddir = here:match("^@(.*/)nmkit/[^/]*$") or here:match("^@(.*/)[^/]*$") or ""

local function ours(src)
  if src == "=[C]" or src:sub(1, 1) ~= "@" then return src == "=[C]" end
  local path = src:sub(2)
  if moddir ~= "" and path:sub(1, #moddir + 6) == moddir .. "nmkit/" then return true end
  if moddir ~= "" and path == moddir .. "nmkit.lua" then return true end
  return path:match("argparse%.lua$") ~= nil
end

-- "file:line" of the first frame outside nmkit (and C), or nil.
function M.where(level)
  level = (level or 1) + 1
  while true do
    local info = debug.getinfo(level, "Sl")
    if info == nil then return nil end
    if not ours(info.source) and info.currentline and info.currentline > 0 then
      local src = info.source:sub(1, 1) == "@" and info.source:sub(2) or info.short_src
      return src:match("[^/]*$") .. ":" .. info.currentline
    end
    level = level + 1
  end
end

function M.new(msg, level)
  local at = M.where((level or 1) + 1)
  return setmetatable({ msg = at and (at .. ": " .. msg) or msg }, UserError)
end

-- A user error located at a given stack level, as error(msg, level) would
-- locate it: for functions whose caller is the script by construction
-- (proto's setters), and whose selftests check that very line.
function M.at(msg, level)
  local info = debug.getinfo((level or 1) + 1, "Sl")
  local at = info and info.currentline and info.currentline > 0
    and (info.short_src:match("[^/]*$") .. ":" .. info.currentline)
  return setmetatable({ msg = at and (at .. ": " .. msg) or msg }, UserError)
end

-- Raise a user error: message formatted as string.format does.
function M.raise(fmt, ...)
  error(M.new(string.format(fmt, ...), 2), 0)
end

function M.is_user(e)
  return getmetatable(e) == UserError
end

-- An error that was already reported (a failed task): the runner prints
-- nothing more for it, and the run exits non-zero.
local Reported = setmetatable({ msg = "reported" }, UserError)
M.REPORTED = Reported

function M.selftest()
  local ok, e = pcall(function() M.raise("bad rate '%s'", "5Mbps") end)
  assert(not ok and M.is_user(e), "raise gives a user error")
  assert(tostring(e):match("bad rate '5Mbps'$"), tostring(e))
  assert(not M.is_user("plain"), "a string is not a user error")
  local line = debug.getinfo(1, "l").currentline + 1
  local e2 = M.at("bad mac 'x'", 1)
  assert(M.is_user(e2) and tostring(e2) == "err.lua:" .. line .. ": bad mac 'x'", tostring(e2))
end

return M
