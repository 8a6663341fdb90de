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
#include <unistd.h>

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

/* The folder of this program's modules when it runs where it was built
 * (lua/nmlua, or libtool's lua/.libs/nmlua, beside lua/nmkit/cdefs.lua,
 * which only a build or an install makes), or else the share/lua/5.1 of a
 * prefix it was moved to; "" for neither.  Paths relative to the program,
 * so that no build path is compiled in. */
static const char *own_luadir(void)
{
	static char dir[4096];
	static int done;
	static const char *const tries[] = { "/nmkit/cdefs.lua", "/../nmkit/cdefs.lua",
					     "/../share/lua/5.1/nmkit/cdefs.lua" };

	if (done)
		return dir;
	done = 1;
	char exe[4096];
	ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	if (n <= 0)
		return dir;
	exe[n] = '\0';
	char *slash = strrchr(exe, '/');
	if (slash == NULL)
		return dir;
	*slash = '\0';
	for (size_t i = 0; i < sizeof(tries) / sizeof(tries[0]); i++) {
		char path[sizeof(exe) + 64];
		snprintf(path, sizeof(path), "%s%s", exe, tries[i]);
		if (access(path, R_OK) == 0) {
			path[strlen(path) - strlen("/nmkit/cdefs.lua")] = '\0';
			/* Without the "..": error messages name the file plainly. */
			char *real = realpath(path, NULL);
			if (real != NULL && strlen(real) < sizeof(dir))
				strcpy(dir, real);
			free(real);
			break;
		}
	}
	return dir;
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

	/* package.path: $NMLUA_PATH (a development tree), the modules beside
	 * this program (its build tree, or a prefix it was moved to), those
	 * that `make install` put beside LuaJIT's, then LuaJIT's own path. */
	const char *dev = getenv("NMLUA_PATH");
	const char *own = own_luadir();
	lua_getglobal(L, "package");
	lua_getfield(L, -1, "path");
	const char *dflt = lua_tostring(L, -1);
	lua_pushfstring(L, "%s%s", dev ? dev : "", dev ? ";" : "");
	if (own[0] != '\0')
		lua_pushfstring(L, "%s/?.lua;%s/?/init.lua;", own, own);
	else
		lua_pushliteral(L, "");
	lua_pushfstring(L, NMLUA_LUADIR "/?.lua;" NMLUA_LUADIR "/?/init.lua;%s", dflt ? dflt : "");
	lua_concat(L, 3);
	lua_setfield(L, -3, "path");
	lua_pop(L, 1);

	/* require "nmkit.runtime": the C side of tasks (rt/task.c). */
	lua_getfield(L, -1, "preload");
	lua_pushcfunction(L, open_runtime);
	lua_setfield(L, -2, "nmkit.runtime");
	lua_pop(L, 2);
	return L;
}
