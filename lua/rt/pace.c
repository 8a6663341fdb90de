/*
 * pace.c - pacers on the cycle counter (see pace.h).
 *
 * The schedule is the departure time of the next frame, in cycles: an
 * integer part that grant() compares with the counter, and a fraction
 * that keeps gaps like 2994.37 cycles exact over millions of frames (a
 * rate error of a part in 10^4 would otherwise be common at Mpps).  A
 * grant hands out the frames whose departure has passed.
 *
 * Rules that shape what a sender sees:
 *  - bounded catch-up: a sender that fell behind (a descheduled thread,
 *    a slow sync) gets the frames due in the last `catchup` cycles (the
 *    pacer's option; at least a burst plus BURST_WINDOW_NS, or half a gap
 *    if shorter), a burst per grant; frames due before that are never sent
 *    and are counted as missed, so offered (granted + missed) against sent
 *    shows what the stall cost.  A catch-up of 0 keeps the shape exact
 *    (one burst after a stall), a large one keeps the mean rate;
 *  - the burst shrinks with the rate, to the frames of BURST_WINDOW_NS,
 *    down to 1: at low rates frames leave one by one, never as the
 *    micro-bursts that distort what a device under test sees;
 *  - a rate change takes effect at the next grant: the next departure is
 *    computed again from the last one with the new gap.
 *
 * Threads: set_rate(), rate() and granted() may be called from any task;
 * grant() and unused() take the pacer's lock, so several senders may
 * share one pacer's rate.  A grant that finds nothing due returns without
 * the lock.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include "pace.h"
#include "clock.h"

#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#define MAX_PACERS 1024
#define DEFAULT_BURST 32
/* The stretch of the schedule one grant covers: 32 frames from 1.6 Mpps
 * up, 1 frame at 50 kpps and below. */
#define BURST_WINDOW_NS 20000.0

struct nmlua_pace {
	/* Written by set_rate() (any thread), read by every grant. */
	_Atomic uint64_t pps_bits;      /* the rate, a double's bits; 0: none */
	/* Read without the lock by the fast path of grant(). */
	_Atomic uint64_t next;          /* next departure, whole cycles */
	_Atomic uint64_t seen_bits;     /* the rate that gap was computed from */
	_Atomic uint64_t granted;       /* frames granted (less those unused) */
	_Atomic uint64_t missed;        /* frames due too long ago to be sent */
	pthread_mutex_t lock;
	/* Under the lock. */
	double next_frac;               /* fraction of a cycle of next, [0, 1) */
	double gap;                     /* mean cycles between departures */
	double last_gap;                /* the gap between the last departure and next */
	uint64_t rng;                   /* splitmix64 state (Poisson gaps) */
	double debt;                    /* how far behind the schedule may fall (cycles) */
	double catchup;                 /* the catch-up asked for (cycles) */
	uint32_t eff_burst;             /* burst at the current rate */
	_Atomic uint32_t last_grant;    /* what unused() may give back */
	/* Constant. */
	double hz;
	uint32_t burst;
	int poisson;
	int id;
};

static pthread_mutex_t registry_lock = PTHREAD_MUTEX_INITIALIZER;
static struct nmlua_pace *pacers[MAX_PACERS];
static atomic_int npacers;

/* Doubles travel through 64-bit atomics as bits: plain loads and stores
 * on every target, no libatomic. */
static uint64_t dbits(double d)
{
	uint64_t u;

	memcpy(&u, &d, sizeof(u));
	return u;
}

static double bitsd(uint64_t u)
{
	double d;

	memcpy(&d, &u, sizeof(d));
	return d;
}

/* The rate as stored: 0 for "no limit", which is also what a negative,
 * NaN or infinite rate means. */
static uint64_t rate_bits(double pps)
{
	return pps > 0 && isfinite(pps) ? dbits(pps) : 0;
}

static uint64_t splitmix64(uint64_t *state)
{
	uint64_t z = (*state += 0x9e3779b97f4a7c15u);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9u;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebu;
	return z ^ (z >> 31);
}

/* The gap to the next departure: the mean, or an exponential draw with
 * that mean (a Poisson process). */
static double draw_gap(struct nmlua_pace *p)
{
	if (!p->poisson)
		return p->gap;
	/* u in [0, 1) from the top 53 bits; 1 - u is never 0. */
	double u = (double)(splitmix64(&p->rng) >> 11) * 0x1.0p-53;
	return -log(1.0 - u) * p->gap;
}

/* Move the schedule by `cycles` (either way), keeping the fraction. */
static void advance(struct nmlua_pace *p, double cycles)
{
	double t = p->next_frac + cycles;
	double whole = floor(t);
	uint64_t next = atomic_load_explicit(&p->next, memory_order_relaxed);

	p->next_frac = t - whole;
	atomic_store_explicit(&p->next, next + (uint64_t)(int64_t)whole, memory_order_relaxed);
}

/* Cycles from departure `next` to `now` (negative while it is ahead). */
static double lag_cycles(const struct nmlua_pace *p, uint64_t now)
{
	uint64_t next = atomic_load_explicit(&p->next, memory_order_relaxed);

	if (now >= next)
		return (double)(now - next) - p->next_frac;
	return -((double)(next - now) + p->next_frac);
}

/* Take up the rate set last; the lock is held. */
static void apply_rate(struct nmlua_pace *p, uint64_t bits, uint64_t now)
{
	uint64_t old = atomic_load_explicit(&p->seen_bits, memory_order_relaxed);
	double pps = bitsd(bits);

	atomic_store_explicit(&p->seen_bits, bits, memory_order_relaxed);
	if (bits == 0)
		return;
	p->gap = p->hz / pps;
	double w = pps * BURST_WINDOW_NS * 1e-9;
	p->eff_burst = w >= p->burst ? p->burst : w >= 1 ? (uint32_t)w : 1;
	/* Under a burst plus a gap: never more than a burst is due. */
	double slack = BURST_WINDOW_NS * 1e-9 * p->hz;
	if (slack > p->gap / 2)
		slack = p->gap / 2;
	p->debt = (double)(p->eff_burst - 1) * p->gap + slack;
	if (p->debt < p->catchup)
		p->debt = p->catchup;
	if (old == 0) {
		/* Limited from now on: the first frame may leave at once. */
		atomic_store_explicit(&p->next, now, memory_order_relaxed);
		p->next_frac = 0;
		p->last_gap = 0;
		return;
	}
	/* From the last departure, as if the new gap had been in force. */
	double g = draw_gap(p);
	advance(p, g - p->last_gap);
	p->last_gap = g;
}

struct nmlua_pace *nmlua_pace_new(double pps, int poisson, uint32_t burst, double catchup)
{
	struct nmlua_pace *p = NULL;

	pthread_mutex_lock(&registry_lock);
	int n = atomic_load(&npacers);
	if (n < MAX_PACERS && posix_memalign((void **)&p, 64, sizeof(*p)) == 0) {
		memset(p, 0, sizeof(*p));
		pthread_mutex_init(&p->lock, NULL);
		p->hz = nmlua_cycles_hz();
		p->burst = burst ? burst : DEFAULT_BURST;
		p->catchup = catchup > 0 && isfinite(catchup) ? catchup * p->hz : 0;
		p->eff_burst = p->burst;
		p->poisson = poisson ? 1 : 0;
		p->id = n;
		uint64_t now = nmlua_cycles();
		/* Seeded apart per pacer and per run. */
		p->rng = now ^ ((uint64_t)(n + 1) * 0xd1b54a32d192ed03u) ^ (uint64_t)(uintptr_t)p;
		atomic_store(&p->next, now);
		/* The schedule starts at the first grant (apply_rate() from
		 * there), not here: a pacer made a while before its sender
		 * starts owes it nothing. */
		atomic_store(&p->pps_bits, rate_bits(pps));
		pacers[n] = p;
		/* Published once filled: _get() reads below npacers only. */
		atomic_store(&npacers, n + 1);
	}
	pthread_mutex_unlock(&registry_lock);
	return p;
}

struct nmlua_pace *nmlua_pace_get(int id)
{
	return id >= 0 && id < atomic_load(&npacers) ? pacers[id] : NULL;
}

int nmlua_pace_id(const struct nmlua_pace *p)
{
	return p->id;
}

uint32_t nmlua_pace_grant(struct nmlua_pace *p, uint32_t max)
{
	uint64_t bits = atomic_load_explicit(&p->pps_bits, memory_order_relaxed);
	uint32_t n = 0;

	if (max == 0)
		return 0;
	if (bits == 0 && atomic_load_explicit(&p->seen_bits, memory_order_relaxed) == 0) {
		/* No limit: a burst at every grant. */
		n = max < p->burst ? max : p->burst;
		atomic_fetch_add_explicit(&p->granted, n, memory_order_relaxed);
		atomic_store_explicit(&p->last_grant, n, memory_order_relaxed);
		return n;
	}
	uint64_t now = nmlua_cycles();
	/* The common case of a sender polling faster than the rate. */
	if (bits == atomic_load_explicit(&p->seen_bits, memory_order_relaxed) &&
	    now < atomic_load_explicit(&p->next, memory_order_relaxed))
		return 0;

	pthread_mutex_lock(&p->lock);
	if (bits != atomic_load_explicit(&p->seen_bits, memory_order_relaxed))
		apply_rate(p, bits, now);
	if (bits == 0) {
		n = max < p->burst ? max : p->burst;
		goto out;
	}
	double lag = lag_cycles(p, now);
	if (lag < 0)
		goto out;
	uint32_t cap = max < p->eff_burst ? max : p->eff_burst;
	if (lag > p->debt) {
		/* Fallen behind by more than the catch-up: what was due before
		 * it is missed, the rest leaves a burst per grant. */
		double missed = floor((lag - p->debt) / p->gap);
		if (missed >= 1)
			atomic_fetch_add_explicit(&p->missed, (uint64_t)missed, memory_order_relaxed);
		atomic_store_explicit(&p->next, now, memory_order_relaxed);
		p->next_frac = 0;
		advance(p, -p->debt);
		lag = p->debt;
	}
	if (!p->poisson) {
		double due = floor(lag / p->gap) + 1;
		n = due < cap ? (uint32_t)due : cap;
		advance(p, (double)n * p->gap);
		p->last_gap = p->gap;
	} else {
		while (n < cap && lag >= 0) {
			double g = draw_gap(p);
			n++;
			advance(p, g);
			lag -= g;
			p->last_gap = g;
		}
	}
out:
	atomic_store_explicit(&p->last_grant, n, memory_order_relaxed);
	pthread_mutex_unlock(&p->lock);
	if (n)
		atomic_fetch_add_explicit(&p->granted, n, memory_order_relaxed);
	return n;
}

void nmlua_pace_unused(struct nmlua_pace *p, uint32_t n)
{
	pthread_mutex_lock(&p->lock);
	uint32_t last = atomic_load_explicit(&p->last_grant, memory_order_relaxed);
	if (n > last)
		n = last;
	atomic_store_explicit(&p->last_grant, last - n, memory_order_relaxed);
	/* Back by their (mean) gaps: they are due again at once, unless the
	 * sender then falls a burst behind. */
	if (n && atomic_load_explicit(&p->seen_bits, memory_order_relaxed) != 0)
		advance(p, -(double)n * p->gap);
	pthread_mutex_unlock(&p->lock);
	if (n)
		atomic_fetch_sub_explicit(&p->granted, n, memory_order_relaxed);
}

void nmlua_pace_set_rate(struct nmlua_pace *p, double pps)
{
	/* The next grant sees it (its fast path compares it with the rate
	 * the gap was made from) and reschedules. */
	atomic_store_explicit(&p->pps_bits, rate_bits(pps), memory_order_relaxed);
}

double nmlua_pace_rate(const struct nmlua_pace *p)
{
	uint64_t bits = atomic_load_explicit(&p->pps_bits, memory_order_relaxed);

	return bits ? bitsd(bits) : 0;
}

double nmlua_pace_granted(const struct nmlua_pace *p)
{
	return (double)atomic_load_explicit(&p->granted, memory_order_relaxed);
}

double nmlua_pace_missed(const struct nmlua_pace *p)
{
	return (double)atomic_load_explicit(&p->missed, memory_order_relaxed);
}
