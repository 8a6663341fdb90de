-- luacheck configuration for nmkit's Lua (make check runs it when
-- luacheck is installed).
std = "luajit"
max_line_length = 130
exclude_files = { "lua/nmkit/cdefs.lua" }
-- Scripts define their options(), main() and tasks as globals: nmlua
-- calls them by name.
files["scripts"] = { allow_defined_top = true, ignore = { "131" } }
files["bench"] = { allow_defined_top = true, ignore = { "131" } }
-- The runner sets the script's `arg`.
files["lua/nmkit/runner.lua"] = { globals = { "arg" } }
