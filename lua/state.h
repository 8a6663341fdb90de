/*
 * state.h - a fresh LuaJIT state as nmlua gives every task and main():
 * standard libraries, the module path (NMLUA_PATH, then the installed
 * modules, then LuaJIT's own path) and the `nmkit.runtime` module.
 */
#ifndef NMLUA_STATE_H
#define NMLUA_STATE_H

struct lua_State;

/* What every state re-runs: the script file, or the code of -e. */
struct nmlua_script {
	const char *path;       /* NULL for -e */
	const char *code;       /* the -e code, or NULL */
	int argc;               /* the script's own arguments */
	char **argv;
};

/* Remember the script and its arguments for the states made later. */
void nmlua_state_set_script(const struct nmlua_script *s);
const struct nmlua_script *nmlua_state_script(void);

/* A new state, or NULL (out of memory). */
struct lua_State *nmlua_state_new(void);

#endif
