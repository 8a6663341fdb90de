/*
 * testutil.h - shared helpers for the multi-process tests.
 *
 * Every test runs against its own broker in its own runtime directory, so
 * that `make -j check` is safe and no state leaks between tests.
 */
#ifndef NMK_TESTUTIL_H
#define NMK_TESTUTIL_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include <nmkit/nmkit.h>

/* Make a fresh runtime directory, export NMKIT_RUNDIR, and check that
 * NMKIT_BROKER names an executable broker.  Returns 0 or -1. */
int tu_setup(const char *test_name);

/* Stop this test's broker (SIGTERM, then wait for its exit) and remove the
 * runtime directory. */
void tu_teardown(void);

/* A process that exists and is not a zombie. */
bool tu_alive(pid_t pid);

/* The broker's pid (from its pid file), or -1. */
pid_t tu_broker_pid(void);

/* Number of ports the broker lists whose name equals `name` and which have
 * at least one registration; -1 on error. */
int tu_port_registrations(const char *name);

/* A port name unique to this process: "<prefix><pid>". */
void tu_unique(char *buf, size_t len, const char *prefix);

/* Monotonic time in seconds. */
double tu_now(void);

/* Fill / check a frame whose contents derive from (seq, len). */
void tu_fill(void *buf, uint32_t len, uint64_t seq);
int tu_check(const void *buf, uint32_t len, uint64_t seq);

/* Send/receive one fd over a unix socket. */
int tu_send_fd(int sock, int fd);
int tu_recv_fd(int sock);

#endif
