/*
 * clock.c - nmlua's cycle counter (see clock.h).
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include "clock.h"
#include "task.h"

#include <errno.h>
#include <pthread.h>
#include <time.h>

static uint64_t clock_ns(clockid_t id)
{
	struct timespec ts;

	clock_gettime(id, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

uint64_t nmlua_now_ns(void)
{
	return clock_ns(CLOCK_MONOTONIC);
}

uint64_t nmlua_wall_ns(void)
{
	return clock_ns(CLOCK_REALTIME);
}

#if defined(__x86_64__)
/* Every x86_64 CPU in use has an invariant TSC: a clock, not a measure of
 * core frequency, and consistent across cores, which the stamps written by
 * one task and read by another rely on. */
uint64_t nmlua_cycles(void)
{
	uint32_t lo, hi;

	__asm__ __volatile__("rdtsc" : "=a"(lo), "=d"(hi));
	return ((uint64_t)hi << 32) | lo;
}

static pthread_once_t hz_once = PTHREAD_ONCE_INIT;
static double hz;

static void calibrate(void)
{
	struct timespec req = { 0, 20 * 1000 * 1000 }, rem;
	uint64_t t0 = nmlua_now_ns(), c0 = nmlua_cycles();

	/* 20 ms makes the error of the two end points (well under a
	 * microsecond each) a few parts per million. */
	while (nanosleep(&req, &rem) != 0 && errno == EINTR)
		req = rem;
	uint64_t t1 = nmlua_now_ns(), c1 = nmlua_cycles();
	hz = t1 > t0 && c1 > c0 ? (double)(c1 - c0) * 1e9 / (double)(t1 - t0) : 1e9;
}

double nmlua_cycles_hz(void)
{
	pthread_once(&hz_once, calibrate);
	return hz;
}
#else
uint64_t nmlua_cycles(void)
{
	return nmlua_now_ns();
}

double nmlua_cycles_hz(void)
{
	return 1e9;
}
#endif

int nmlua_sleep(double seconds)
{
	uint64_t end = nmlua_now_ns() + (uint64_t)(seconds > 0 ? seconds * 1e9 : 0);

	/* In slices, so that a stop (Ctrl-C, a failed task) is seen within
	 * 50 ms whatever the sleep asked for. */
	for (;;) {
		if (!nmlua_running(0))
			return 1;
		uint64_t now = nmlua_now_ns();
		if (now >= end)
			return 0;
		uint64_t left = end - now;
		if (left > 50000000u)
			left = 50000000u;
		struct timespec req = { 0, (long)left };
		nanosleep(&req, NULL);
	}
}
