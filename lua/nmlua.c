/*
 * nmlua - run an nmkit Lua script: it builds switch topologies with
 * nmkit.vale and generates and measures traffic in tasks, each a thread with
 * its own LuaJIT state.
 *
 *   nmlua scripts/quickstart.lua --time 5
 *
 * This file holds the command line and the order of a run; the Lua side of
 * it (options(), main(), tasks, the prompt) is nmkit/runner.lua, the C side
 * of tasks rt/task.c.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include "state.h"
#include "rt/stats.h"
#include "rt/task.h"

#include <lauxlib.h>
#include <lua.h>
#include <luajit.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <nmkit/nmkit.h>

static void usage(FILE *f)
{
	fprintf(f,
		"usage: nmlua [options] [script.lua [script options]]\n"
		"  -e CODE      run CODE as the script (it may define main() and tasks)\n"
		"  -i           an interactive prompt (after the script or -e, if any)\n"
		"  -t MODULE    run MODULE's selftest() (again for more; 'all': every nmkit module)\n"
		"  -v, --version\n"
		"  -h, --help   this; 'nmlua script.lua --help' shows the script's options\n");
}

int main(int argc, char **argv)
{
	const char *code = NULL;
	int interactive = 0, i;
	struct nmlua_script s = { 0 };
	/* Selftests to run, in order. */
	const char **tests = calloc((size_t)argc + 1, sizeof(*tests));
	int ntests = 0;

	if (tests == NULL)
		return 1;
	for (i = 1; i < argc && argv[i][0] == '-'; i++) {
		const char *a = argv[i];
		if (strcmp(a, "--") == 0) {
			i++;
			break;
		} else if (strcmp(a, "-e") == 0 && i + 1 < argc) {
			code = argv[++i];
		} else if (strcmp(a, "-i") == 0) {
			interactive = 1;
		} else if (strcmp(a, "-t") == 0 && i + 1 < argc) {
			tests[ntests++] = argv[++i];
		} else if (strcmp(a, "-v") == 0 || strcmp(a, "--version") == 0) {
			printf("nmlua %s (%s, %s)\n", PACKAGE_VERSION, nmk_version(),
			       LUAJIT_VERSION);
			free(tests);
			return 0;
		} else if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
			usage(stdout);
			free(tests);
			return 0;
		} else {
			fprintf(stderr, "nmlua: unknown option or missing argument: '%s'\n", a);
			usage(stderr);
			free(tests);
			return 2;
		}
	}
	if (code == NULL && i < argc)
		s.path = argv[i++];
	s.code = code;
	s.argc = argc - i;
	s.argv = argv + i;
	if (s.path == NULL && code == NULL && ntests == 0)
		interactive = 1;

	nmlua_task_init();
	nmlua_state_set_script(&s);
	lua_State *L = nmlua_state_new();
	if (L == NULL) {
		fprintf(stderr, "nmlua: out of memory\n");
		free(tests);
		return 1;
	}
	/* runner.main(tests, interactive) -> exit status */
	int status = 1;
	lua_getglobal(L, "require");
	lua_pushstring(L, "nmkit.runner");
	if (lua_pcall(L, 1, 1, 0) != 0) {
		fprintf(stderr, "nmlua: %s\n", lua_tostring(L, -1));
	} else {
		lua_getfield(L, -1, "main");
		lua_newtable(L);
		for (int k = 0; k < ntests; k++) {
			lua_pushstring(L, tests[k]);
			lua_rawseti(L, -2, k + 1);
		}
		lua_pushboolean(L, interactive);
		if (lua_pcall(L, 2, 1, 0) != 0)
			fprintf(stderr, "nmlua: %s\n", lua_tostring(L, -1));
		else
			status = (int)lua_tointeger(L, -1);
	}
	/* Whatever main() did, no task outlives the run, and the reporter
	 * prints its last interval before the state goes. */
	if (nmlua_task_wait_all(10.0) < 0) {
		fflush(stdout);
		_exit(1);
	}
	nmlua_report_stop();
	lua_close(L);
	free(tests);
	if (nmlua_task_failed() && status == 0)
		status = 1;
	return status;
}
