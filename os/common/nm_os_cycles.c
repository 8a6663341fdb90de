/*
 * nm_os_cycles.c - the cycle counter, calibrated against nm_os_now_ns():
 * the same on every OS that nmkit runs on (only the clock under it is the
 * OS's own).
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include "nm_os.h"

#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <time.h>

#if defined(__x86_64__) || defined(__amd64__)

/*
 * The TSC: every x86_64 CPU these systems still run on in practice has an
 * invariant (constant-rate, non-stop) TSC, so it is a clock, not a measure
 * of core frequency.  Plain rdtsc (not rdtscp or a fenced read): callers
 * want cheap timestamps, not instruction-exact ones.  Inline asm rather
 * than <x86intrin.h>: identical under gcc and clang.
 */
static inline uint64_t read_cycles(void)
{
	uint32_t lo, hi;

	__asm__ __volatile__("rdtsc" : "=a"(lo), "=d"(hi));
	return ((uint64_t)hi << 32) | lo;
}

static pthread_once_t cycles_once = PTHREAD_ONCE_INIT;
static uint64_t cycles_hz;

/*
 * One (clock, counter) pair.  A preemption between the two reads would
 * skew the pair, so take the tightest of a few counter-bracketed clock
 * reads and use the counter's midpoint.
 */
static void cycles_sample(uint64_t *ns, uint64_t *cyc)
{
	uint64_t best = UINT64_MAX;

	for (int i = 0; i < 5; i++) {
		uint64_t c0 = read_cycles();
		uint64_t t = nm_os_now_ns();
		uint64_t c1 = read_cycles();

		if (c1 - c0 < best) {
			best = c1 - c0;
			*ns = t;
			*cyc = c0 + (c1 - c0) / 2;
		}
	}
}

static void cycles_calibrate(void)
{
	struct timespec req = { 0, 20 * 1000 * 1000 }, rem;
	uint64_t t0 = 0, c0 = 0, t1 = 0, c1 = 0;

	cycles_sample(&t0, &c0);
	/* Sleep rather than spin: only the two end points matter, and ~20 ms
	 * makes the end-point error (well under 1 us) a few ppm at most. */
	while (nanosleep(&req, &rem) != 0 && errno == EINTR)
		req = rem;
	cycles_sample(&t1, &c1);

	/* Double arithmetic: (c1 - c0) * 1e9 overflows 64 bits after a few
	 * seconds, which a stopped or descheduled process could reach. */
	if (t1 > t0 && c1 > c0)
		cycles_hz = (uint64_t)((double)(c1 - c0) * 1e9 / (double)(t1 - t0) + 0.5);
	/* Never hand out 0: callers divide by it. */
	if (cycles_hz == 0)
		cycles_hz = 1;
}

uint64_t nm_os_cycles(void)
{
	return read_cycles();
}

uint64_t nm_os_cycles_hz(void)
{
	pthread_once(&cycles_once, cycles_calibrate);
	return cycles_hz;
}

#else /* no cheap cycle counter known here: the monotonic clock is one */

uint64_t nm_os_cycles(void)
{
	return nm_os_now_ns();
}

uint64_t nm_os_cycles_hz(void)
{
	return 1000000000u;
}

#endif
