/*
 * task.h - nmlua's tasks: each one a thread with a LuaJIT state of its own,
 * and the run's stop time that every task's loop checks.
 *
 * The ffi section is what Lua's loops call (through nmkit/cdefs.lua); the
 * rest is the C side that nmlua.c and the `nmkit.runtime` module use.
 */
#ifndef NMLUA_TASK_H
#define NMLUA_TASK_H

#include <stdint.h>

/* ffi:begin */
/* 1 while the run goes on, and for `linger` seconds after it was stopped
 * (receivers drain with a linger, senders stop at once with 0). */
int nmlua_running(double linger);
/* Stop the run now (every task sees it at its next nmlua_running()). */
void nmlua_stop(void);
/* Stop the run `seconds` from now (or earlier, if a stop is set already). */
void nmlua_stop_after(double seconds);
/* Seconds since the run started, and until the stop (-1: none set). */
double nmlua_elapsed(void);
double nmlua_stop_in(void);
/* nmlua_elapsed() at the moment the run stopped, or -1 while it runs. */
double nmlua_stopped_at(void);
/* The id of the calling task: 0 in main(), 1, 2, ... in tasks. */
int nmlua_task_id(void);
/* Processors online (what nm.spawn{cpu = N} may name). */
int nmlua_cpus(void);
/* ffi:end */

struct lua_State;

/* The most tasks one run may start. */
#define NMLUA_MAX_TASKS 256

/* Set up: the run's start time and the signal handlers (the first SIGINT or
 * SIGTERM stops the run, a second one ends the process). */
void nmlua_task_init(void);
/* Whether any task failed (the exit status of the run). */
int nmlua_task_failed(void);
/* Wait (bounded, after the stop) for every task still running; returns
 * 0, or -1 with the names of those that did not stop printed. */
int nmlua_task_wait_all(double grace);
/* Register the `nmkit.runtime` module (spawn, join, ...) in L. */
void nmlua_task_open(struct lua_State *L);

#endif
