/*
 * task.c - tasks and the stop time (see task.h).
 *
 * A task is a thread that makes a LuaJIT state of its own (a state is
 * single-threaded), re-runs the script there, and calls the global function
 * it was started with (nmkit/runner.lua does the Lua side: arguments and
 * results cross between states as serialized text, never as live objects).
 * main() waits for a task's results with :join().
 *
 * Stopping: the run has one stop time, on the cycle counter, which every
 * loop reads through nmlua_running().  Ctrl-C, nm.stop_after() and a task
 * that fails set it; nothing is ever cancelled, so each task ends its own
 * loop, closes its ports and returns.  Waits here are bounded once a stop
 * is set: a task that never looks at the stop cannot hang the run.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "task.h"
#include "clock.h"
#include "../state.h"

#include <errno.h>
#include <lauxlib.h>
#include <lua.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

enum task_state { TASK_RUNNING, TASK_DONE, TASK_FAILED };

struct task {
	int id;
	char fn[128];
	char *args;             /* serialized arguments */
	int cpu;                /* -1: not pinned */
	pthread_t thread;
	enum task_state state;  /* under task_lock */
	char *payload;          /* serialized results, or the error message */
	int joined;             /* main() has its results */
	int reaped;             /* pthread_join done */
};

static pthread_mutex_t task_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t task_cond = PTHREAD_COND_INITIALIZER;
static struct task *tasks[NMLUA_MAX_TASKS + 1];
static int ntasks;
static atomic_int failed;
static _Thread_local int current_task;

static const uint64_t NO_STOP = UINT64_MAX;
static _Atomic uint64_t stop_at = UINT64_MAX;   /* cycles */
static uint64_t run_start;                      /* cycles */
static double hz;
static atomic_int signals;

/* ---- the stop time ---------------------------------------------------------- */

int nmlua_running(double linger)
{
	uint64_t s = atomic_load_explicit(&stop_at, memory_order_relaxed);

	if (s == NO_STOP)
		return 1;
	uint64_t now = nmlua_cycles();
	if (now < s)
		return 1;
	return linger > 0 && (double)(now - s) < linger * hz;
}

static void stop_at_most(uint64_t when)
{
	uint64_t cur = atomic_load(&stop_at);

	while (when < cur && !atomic_compare_exchange_weak(&stop_at, &cur, when))
		;
}

void nmlua_stop(void)
{
	stop_at_most(nmlua_cycles());
	pthread_mutex_lock(&task_lock);
	pthread_cond_broadcast(&task_cond);
	pthread_mutex_unlock(&task_lock);
}

void nmlua_stop_after(double seconds)
{
	if (!(seconds > 0)) {
		nmlua_stop();
		return;
	}
	stop_at_most(nmlua_cycles() + (uint64_t)(seconds * hz));
}

double nmlua_elapsed(void)
{
	return (double)(nmlua_cycles() - run_start) / hz;
}

double nmlua_stop_in(void)
{
	uint64_t s = atomic_load(&stop_at), now = nmlua_cycles();

	if (s == NO_STOP)
		return -1;
	return s > now ? (double)(s - now) / hz : 0;
}

double nmlua_stopped_at(void)
{
	uint64_t s = atomic_load(&stop_at);

	if (s == NO_STOP || nmlua_cycles() < s)
		return -1;
	return (double)(s - run_start) / hz;
}

int nmlua_task_id(void)
{
	return current_task;
}

int nmlua_cpus(void)
{
	/* The processors online, not this thread's affinity mask: a task may
	 * be pinned outside the mask that the process inherited (a harness
	 * that runs pinned), as pkt-gen -a may. */
	long n = sysconf(_SC_NPROCESSORS_ONLN);
	return n > 0 ? (int)n : 1;
}

static void on_signal(int sig)
{
	static const char again[] = "nmlua: stopped again: exiting now\n";

	(void)sig;
	if (atomic_fetch_add(&signals, 1) > 0) {
		if (write(2, again, sizeof(again) - 1) < 0) {
			/* nothing left to report it to */
		}
		_exit(130);
	}
	/* Only the atomic store here (async-signal-safe); waiters notice it
	 * within their 100 ms slices. */
	stop_at_most(nmlua_cycles());
}

void nmlua_task_init(void)
{
	struct sigaction sa;

	hz = nmlua_cycles_hz();
	run_start = nmlua_cycles();
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
}

int nmlua_task_failed(void)
{
	return atomic_load(&failed);
}

/* ---- the task thread --------------------------------------------------------- */

static void task_finish(struct task *t, int ok, const char *payload)
{
	pthread_mutex_lock(&task_lock);
	t->payload = strdup(payload ? payload : "");
	t->state = ok ? TASK_DONE : TASK_FAILED;
	pthread_cond_broadcast(&task_cond);
	pthread_mutex_unlock(&task_lock);
}

static void *task_main(void *arg)
{
	struct task *t = arg;
	char msg[256];
	int ok = 0;

	current_task = t->id;
	if (t->cpu >= 0) {
		cpu_set_t set;
		CPU_ZERO(&set);
		CPU_SET(t->cpu, &set);
		int err = pthread_setaffinity_np(pthread_self(), sizeof(set), &set);
		if (err != 0) {
			snprintf(msg, sizeof(msg), "cannot pin task '%s' to cpu %d: %s",
				 t->fn, t->cpu, strerror(err));
			goto fail;
		}
	}
	lua_State *L = nmlua_state_new();
	if (L == NULL) {
		snprintf(msg, sizeof(msg), "task '%s': out of memory for a Lua state", t->fn);
		goto fail;
	}
	/* runner.task(fn, args) -> ok, payload; it never raises: errors come
	 * back as (false, message with the script's file and line). */
	lua_getglobal(L, "require");
	lua_pushstring(L, "nmkit.runner");
	if (lua_pcall(L, 1, 1, 0) == 0) {
		lua_getfield(L, -1, "task");
		lua_pushstring(L, t->fn);
		lua_pushstring(L, t->args);
		if (lua_pcall(L, 2, 2, 0) == 0)
			ok = lua_toboolean(L, -2);
	}
	const char *payload = lua_tostring(L, -1);
	if (!ok) {
		/* Say it before anything else happens: this is the line the
		 * user needs, and the other tasks' output follows the stop. */
		fprintf(stderr, "nmlua: task '%s' failed: %s\n", t->fn, payload ? payload : "?");
		atomic_store(&failed, 1);
		nmlua_stop();
	}
	task_finish(t, ok, payload);
	/* Closing the state runs the finalizers: ports close, leases go. */
	lua_close(L);
	return NULL;
fail:
	fprintf(stderr, "nmlua: %s\n", msg);
	atomic_store(&failed, 1);
	nmlua_stop();
	task_finish(t, 0, msg);
	return NULL;
}

/* ---- nmkit.runtime: the control side, for main() ----------------------------- */

/* spawn(fn, serialized_args, cpu) -> id */
static int rt_spawn(lua_State *L)
{
	const char *fn = luaL_checkstring(L, 1);
	const char *args = luaL_checkstring(L, 2);
	int cpu = (int)luaL_optinteger(L, 3, -1);

	if (strlen(fn) >= sizeof(((struct task *)0)->fn))
		return luaL_error(L, "task name too long: '%s'", fn);
	if (cpu >= CPU_SETSIZE)
		return luaL_error(L, "bad cpu %d for task '%s'", cpu, fn);
	struct task *t = calloc(1, sizeof(*t));
	if (t == NULL || (t->args = strdup(args)) == NULL) {
		free(t);
		return luaL_error(L, "out of memory starting task '%s'", fn);
	}
	snprintf(t->fn, sizeof(t->fn), "%s", fn);
	t->cpu = cpu;
	pthread_mutex_lock(&task_lock);
	if (ntasks == NMLUA_MAX_TASKS) {
		pthread_mutex_unlock(&task_lock);
		free(t->args);
		free(t);
		return luaL_error(L, "too many tasks (the limit is %d)", NMLUA_MAX_TASKS);
	}
	t->id = ++ntasks;
	tasks[t->id] = t;
	t->state = TASK_RUNNING;
	pthread_mutex_unlock(&task_lock);
	int err = pthread_create(&t->thread, NULL, task_main, t);
	if (err != 0) {
		pthread_mutex_lock(&task_lock);
		t->state = TASK_FAILED;
		t->payload = strdup("thread not created");
		t->reaped = 1;
		pthread_mutex_unlock(&task_lock);
		return luaL_error(L, "cannot start task '%s': %s", fn, strerror(err));
	}
	lua_pushinteger(L, t->id);
	return 1;
}

/* Wait for task t; after the stop, at most `grace` seconds more.  Returns
 * 1 when it ended.  Called with task_lock held. */
static int wait_task(struct task *t, double grace)
{
	while (t->state == TASK_RUNNING) {
		double left = nmlua_stop_in();
		if (left == 0 && grace >= 0) {
			/* Stopped: count the grace from here on. */
			uint64_t end = nmlua_now_ns() + (uint64_t)(grace * 1e9);
			while (t->state == TASK_RUNNING && nmlua_now_ns() < end) {
				struct timespec ts;
				clock_gettime(CLOCK_REALTIME, &ts);
				ts.tv_nsec += 100 * 1000 * 1000;
				if (ts.tv_nsec >= 1000000000) {
					ts.tv_sec++;
					ts.tv_nsec -= 1000000000;
				}
				pthread_cond_timedwait(&task_cond, &task_lock, &ts);
			}
			return t->state != TASK_RUNNING;
		}
		struct timespec ts;
		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_nsec += 100 * 1000 * 1000;
		if (ts.tv_nsec >= 1000000000) {
			ts.tv_sec++;
			ts.tv_nsec -= 1000000000;
		}
		pthread_cond_timedwait(&task_cond, &task_lock, &ts);
	}
	return 1;
}

static void reap(struct task *t)
{
	if (!t->reaped) {
		pthread_join(t->thread, NULL);
		t->reaped = 1;
	}
}

/* Seconds a task may take to end after the stop (its linger included). */
static const double STOP_GRACE = 10.0;

/* join(id) -> "done"|"failed"|"stuck", payload */
static int rt_join(lua_State *L)
{
	int id = (int)luaL_checkinteger(L, 1);

	pthread_mutex_lock(&task_lock);
	if (id < 1 || id > ntasks) {
		pthread_mutex_unlock(&task_lock);
		return luaL_error(L, "no task %d", id);
	}
	struct task *t = tasks[id];
	int ended = wait_task(t, STOP_GRACE);
	const char *st = !ended ? "stuck" : t->state == TASK_DONE ? "done" : "failed";
	lua_pushstring(L, st);
	lua_pushstring(L, ended && t->payload ? t->payload : "");
	if (ended)
		t->joined = 1;
	pthread_mutex_unlock(&task_lock);
	if (ended)
		reap(t);
	return 2;
}

int nmlua_task_wait_all(double grace)
{
	int stuck = 0;

	nmlua_stop();
	pthread_mutex_lock(&task_lock);
	for (int i = 1; i <= ntasks; i++) {
		struct task *t = tasks[i];
		if (!wait_task(t, grace)) {
			fprintf(stderr, "nmlua: task '%s' did not stop within %.0f s of the stop\n",
				t->fn, grace);
			stuck = 1;
		}
	}
	pthread_mutex_unlock(&task_lock);
	if (stuck)
		return -1;
	for (int i = 1; i <= ntasks; i++) {
		reap(tasks[i]);
		free(tasks[i]->args);
		free(tasks[i]->payload);
		free(tasks[i]);
		tasks[i] = NULL;
	}
	ntasks = 0;
	return 0;
}

/* script() -> path or nil, code or nil */
static int rt_script(lua_State *L)
{
	const struct nmlua_script *s = nmlua_state_script();

	if (s->path)
		lua_pushstring(L, s->path);
	else
		lua_pushnil(L);
	if (s->code)
		lua_pushstring(L, s->code);
	else
		lua_pushnil(L);
	return 2;
}

/* args() -> { the script's own arguments } */
static int rt_args(lua_State *L)
{
	const struct nmlua_script *s = nmlua_state_script();

	lua_createtable(L, s->argc, 0);
	for (int i = 0; i < s->argc; i++) {
		lua_pushstring(L, s->argv[i]);
		lua_rawseti(L, -2, i + 1);
	}
	return 1;
}

/* wait_all(grace) -> true, or false when a task did not stop in time */
static int rt_wait_all(lua_State *L)
{
	lua_pushboolean(L, nmlua_task_wait_all(luaL_optnumber(L, 1, 10.0)) == 0);
	return 1;
}

static int rt_failed(lua_State *L)
{
	lua_pushboolean(L, nmlua_task_failed());
	return 1;
}

/* fail(): the run's exit status becomes 1 (main failed), and it stops. */
static int rt_fail(lua_State *L)
{
	atomic_store(&failed, 1);
	nmlua_stop();
	(void)L;
	return 0;
}

void nmlua_task_open(lua_State *L)
{
	static const luaL_Reg fns[] = {
		{ "spawn", rt_spawn },
		{ "join", rt_join },
		{ "script", rt_script },
		{ "args", rt_args },
		{ "wait_all", rt_wait_all },
		{ "failed", rt_failed },
		{ "fail", rt_fail },
		{ NULL, NULL },
	};

	lua_newtable(L);
	luaL_register(L, NULL, fns);
}
