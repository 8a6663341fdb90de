/*
 * state.c - the LuaJIT states of nmlua (see state.h): main()'s and one per
 * task, all set up the same way.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include "state.h"
#include "rt/task.h"

#include <lauxlib.h>
#include <lua.h>
#include <lualib.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifndef NMLUA_LUADIR
#define NMLUA_LUADIR "/usr/share/lua/5.1"
#endif

static struct nmlua_script script;

void nmlua_state_set_script(const struct nmlua_script *s)
{
	script = *s;
}

const struct nmlua_script *nmlua_state_script(void)
{
	return &script;
}

static int open_runtime(lua_State *L)
{
	nmlua_task_open(L);
	return 1;
}

lua_State *nmlua_state_new(void)
{
	lua_State *L = luaL_newstate();

	if (L == NULL)
		return NULL;
	luaL_openlibs(L);

	/* package.path: $NMLUA_PATH (a development tree), the modules that
	 * `make install` put beside LuaJIT's, then LuaJIT's own path. */
	const char *dev = getenv("NMLUA_PATH");
	lua_getglobal(L, "package");
	lua_getfield(L, -1, "path");
	const char *dflt = lua_tostring(L, -1);
	lua_pushfstring(L, "%s%s" NMLUA_LUADIR "/?.lua;" NMLUA_LUADIR "/?/init.lua;%s",
			dev ? dev : "", dev ? ";" : "", dflt ? dflt : "");
	lua_setfield(L, -3, "path");
	lua_pop(L, 1);

	/* require "nmkit.runtime": the C side of tasks (rt/task.c). */
	lua_getfield(L, -1, "preload");
	lua_pushcfunction(L, open_runtime);
	lua_setfield(L, -2, "nmkit.runtime");
	lua_pop(L, 2);
	return L;
}
