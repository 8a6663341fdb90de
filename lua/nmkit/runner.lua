-- nmkit.runner: the Lua side of an nmlua run (nmlua.c calls it).
--
-- main(): load the script, build its command line from options(cli) with
-- argparse, call main(opts) in this (the control) state, tear down.
-- task(): in a task's new state, load the script again (so its functions
-- exist there), then call the task's function with the copied arguments.
local err = require "nmkit.err"
local serialize = require "nmkit.serialize"
local runtime = require "nmkit.runtime"

local M = {}

local function basename(p) return (p:match("[^/]*$")) end

-- An error handler for xpcall: user errors stay as they are (one line);
-- anything else gets the traceback, which names the script's file and line.
local function handler(e)
  if err.is_user(e) or e == err.REPORTED then return e end
  return debug.traceback(tostring(e), 1)
end

local function message(e)
  if err.is_user(e) then return e.msg end
  return tostring(e)
end

-- The script as a function, plus the `arg` table it sees.
local function load_script()
  local path, code = runtime.script()
  local chunk, e
  if path then chunk, e = loadfile(path) else chunk, e = loadstring(code, "=(command line)") end
  if not chunk then return nil, e end
  local args = runtime.args()
  local a = { [0] = path or "-e" }
  for i, v in ipairs(args) do a[i] = v end
  _G.arg = a
  return chunk, nil, path, args
end

local function run_script()
  local chunk, e, path, args = load_script()
  if not chunk then
    io.stderr:write("nmlua: ", e, "\n")
    return 1
  end
  local ok
  ok, e = xpcall(chunk, handler, unpack(args))
  if ok and type(_G.main) == "function" then
    local opts = args
    if type(_G.options) == "function" then
      local argparse = require "argparse"
      local name = "nmlua " .. (path and basename(path) or "-e")
      local cli = argparse(name)
      -- argparse's own error() prints the usage and exits: here a bad
      -- option is one line naming the option or the value, and status 2.
      cli.error = function(_, msg)
        error(setmetatable({ msg = name .. ": " .. msg .. " (see --help)", usage = true },
                           getmetatable(err.new(""))), 0)
      end
      ok, e = xpcall(_G.options, handler, cli)
      if ok then
        ok, e = pcall(cli.parse, cli, args)
        if ok then opts = e end
        if not ok and type(e) == "table" and e.usage then
          io.stderr:write(e.msg, "\n")
          return 2
        end
      end
    end
    if ok then ok, e = xpcall(_G.main, handler, opts) end
  end
  if ok then return 0 end
  if e ~= err.REPORTED then io.stderr:write("nmlua: ", message(e), "\n") end
  runtime.fail()
  return 1
end

-- The interactive prompt: each line runs as a chunk; an expression's
-- values are printed.
local function repl()
  local tty = os.execute("test -t 0") == 0   -- a prompt only for a person
  while true do
    if tty then io.stdout:write("nmlua> "); io.stdout:flush() end
    local line = io.stdin:read("*l")
    if line == nil then break end
    local f = loadstring("return " .. line, "=stdin") or loadstring(line, "=stdin")
    if f == nil then
      local _, e = loadstring(line, "=stdin")
      io.stderr:write(e, "\n")
    else
      local res = { xpcall(f, handler) }
      if not res[1] then
        io.stderr:write(message(res[2]), "\n")
      elseif #res > 1 then
        local out = {}
        for i = 2, table.maxn(res) do out[#out + 1] = tostring(res[i]) end
        print(table.concat(out, "\t"))
      end
    end
  end
end

-- Every module of nmkit that has a selftest, in the order they build on
-- each other.
M.MODULES = { "nmkit.err", "nmkit.serialize", "nmkit.cdefs", "nmkit", "nmkit.proto",
              "nmkit.pace", "nmkit.hist", "nmkit.stats", "nmkit.pcap", "nmkit.port",
              "nmkit.vale" }

local function selftests(list)
  if #list == 1 and list[1] == "all" then list = M.MODULES end
  local passed, failed = 0, 0
  for _, name in ipairs(list) do
    local ok, e = xpcall(function()
      local mod = require(name)
      if type(mod) ~= "table" or type(mod.selftest) ~= "function" then
        error(name .. " has no selftest()", 0)
      end
      mod.selftest()
    end, handler)
    if ok then
      passed = passed + 1
      print(name .. ": selftest passed")
    else
      failed = failed + 1
      print(name .. ": selftest FAILED: " .. message(e))
    end
  end
  print(string.format("%d passed, %d failed", passed, failed))
  return failed == 0 and 0 or 1
end

function M.main(tests, interactive)
  local status = 0
  if #tests > 0 then
    status = selftests(tests)
  else
    local path, code = runtime.script()
    if path or code then status = run_script() end
    if interactive and status == 0 then repl() end
  end
  -- Every task ends before the topology it uses goes.
  if not runtime.wait_all(10) then status = 1 end
  if package.loaded["nmkit"] then package.loaded["nmkit"]._run_exit() end
  return status
end

-- In a task's own state: run the script's top level, then fn(args...).
-- Returns true and the serialized results, or false and the message.
function M.task(fn, args)
  local chunk, e = load_script()
  if not chunk then return false, e end
  local ok
  ok, e = xpcall(chunk, handler)
  if not ok then return false, message(e) end
  local f = _G[fn]
  if f == nil and fn:find("%.") then
    local mod, name = fn:match("^(.*)%.([^.]+)$")
    local okm, m = pcall(require, mod)
    f = okm and type(m) == "table" and m[name] or nil
  end
  if type(f) ~= "function" then return false, "no function '" .. fn .. "'" end
  local argv = serialize.decode_list(args)
  local res = { n = 0 }
  ok, e = xpcall(function()
    res = { n = 0 }
    local function pack(...) res = { n = select("#", ...), ... } end
    pack(f(unpack(argv, 1, argv.n)))
  end, handler)
  if not ok then return false, message(e) end
  ok, e = pcall(serialize.encode_list, res.n, unpack(res, 1, res.n))
  if not ok then return false, "results of '" .. fn .. "': " .. message(e) end
  return true, e
end

return M
