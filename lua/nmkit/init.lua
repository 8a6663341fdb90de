-- nmkit: what every nmlua script starts from.
--
--   local nm = require "nmkit"
--   function main(o)
--     nm.stop_after(o.time)
--     local rx = nm.spawn("receiver", "vale0:b")
--     ...
--     print(rx:join().packets)
--   end
--
-- Tasks are the script's global functions, started with nm.spawn(name,
-- args...); each runs in a LuaJIT state of its own on a thread of its own,
-- so arguments and results are copied (see nmkit.serialize), never shared.
-- The run has one stop time: nm.running() turns false at it, for every
-- task (Ctrl-C, nm.stop(), nm.stop_after(), a failed task).
local ffi = require "ffi"
local C = require("nmkit.cdefs").C
local err = require "nmkit.err"
local serialize = require "nmkit.serialize"
local runtime = require "nmkit.runtime"

local M = {}

-- ---- tasks ---------------------------------------------------------------

local Task = {}
Task.__index = Task

-- nm.spawn("fn", args...) or nm.spawn({ "fn", cpu = 1 }, args...): start
-- global function fn (or "module.fn") in a new task; returns a task whose
-- :join() gives fn's results.
function M.spawn(spec, ...)
  local name, cpu = spec, -1
  if type(spec) == "table" then
    name, cpu = spec[1] or spec.fn, spec.cpu or -1
    for k in pairs(spec) do
      if k ~= 1 and k ~= "fn" and k ~= "cpu" then err.raise("nm.spawn: unknown option '%s'", tostring(k)) end
    end
  end
  if type(name) ~= "string" then err.raise("nm.spawn: the task must be named by a string, got %s", type(name)) end
  if type(cpu) ~= "number" or cpu ~= math.floor(cpu) or cpu < -1 then
    err.raise("nm.spawn: bad cpu '%s'", tostring(cpu))
  end
  if cpu >= 0 and cpu >= C.nmlua_cpus() then
    err.raise("nm.spawn: cpu %d does not exist (this process may use %d)", cpu, C.nmlua_cpus())
  end
  if _G[name] == nil and not name:find("%.") then
    err.raise("nm.spawn: no global function '%s' in the script", name)
  end
  local args = serialize.encode_list(select("#", ...), ...)
  local ok, id = pcall(runtime.spawn, name, args, cpu)
  if not ok then err.raise("%s", id) end
  return setmetatable({ id = id, name = name }, Task)
end

-- The task's results (what its function returned).  A failed task has
-- said why already: join() then ends main() with that failure.
function Task:join()
  if self.results then return unpack(self.results, 1, self.results.n) end
  local state, payload = runtime.join(self.id)
  if state == "done" then
    self.results = serialize.decode_list(payload)
    return unpack(self.results, 1, self.results.n)
  elseif state == "failed" then
    error(err.REPORTED, 0)
  end
  err.raise("task '%s' did not stop within 10 s of the stop", self.name)
end

-- ---- the stop ------------------------------------------------------------

-- true while the run goes on; with `linger` seconds, also that long after
-- the stop (a receiver drains what is still in flight).
function M.running(linger)
  return C.nmlua_running(linger or 0) ~= 0
end

function M.stop() C.nmlua_stop() end

function M.stop_after(seconds)
  if type(seconds) ~= "number" or seconds ~= seconds or seconds < 0 then
    err.raise("nm.stop_after: bad time '%s' (seconds expected)", tostring(seconds))
  end
  C.nmlua_stop_after(seconds)
end

-- Sleep; true when woken early by the stop.
function M.sleep(seconds) return C.nmlua_sleep(seconds) ~= 0 end

function M.elapsed() return C.nmlua_elapsed() end
function M.task_id() return C.nmlua_task_id() end
function M.cpus() return C.nmlua_cpus() end
function M.cycles() return tonumber(C.nmlua_cycles()) end
function M.cycles_hz() return C.nmlua_cycles_hz() end
function M.now_ns() return tonumber(C.nmlua_now_ns()) end
function M.version() return ffi.string(C.nmk_version()) end

-- Run fn when the script ends (in main()'s state, after every task has
-- stopped), last registered first: topology teardown.
local at_exit = {}
function M.on_exit(fn) at_exit[#at_exit + 1] = fn end
function M._run_exit()
  for i = #at_exit, 1, -1 do
    local ok, e = pcall(at_exit[i])
    if not ok then io.stderr:write("nmlua: at exit: ", tostring(e), "\n") end
    at_exit[i] = nil
  end
end

-- ---- ports ---------------------------------------------------------------

function M.open(name, opts) return require("nmkit.port").open(name, opts) end

-- seq, age_ns = nm.read_stamp(buf, off, t_rx): see nmkit.port.
M.read_stamp = require("nmkit.port").read_stamp

function M.selftest()
  assert(M.running(), "running before the stop")
  assert(type(M.version()) == "string")
  assert(M.cpus() >= 1)
  local t0 = M.now_ns()
  assert(not M.sleep(0.01))
  assert(M.now_ns() - t0 >= 9e6, "sleep slept")
  assert(not pcall(M.spawn, "no_such_function_here"), "spawn of a missing function")
  assert(not pcall(M.stop_after, "soon"))
end

return M
