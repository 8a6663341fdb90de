/*
 * kring.c - the trusted view of a kring, the sync lock, head/cur checks,
 * view resets, arming, clocks (see kring.h).
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "kring.h"
#include "nm_os.h"

/* ---- constants ------------------------------------------------------------ */

int nmk_kring_view_load(const struct nmk_mem *m, uint32_t index, struct nmk_kring_view *v,
			char *err, size_t errlen)
{
	if (index >= m->g.nkrings) {
		nmk_errbuf(err, errlen, "kring %u is outside the control object (%u krings)", index,
			   m->g.nkrings);
		return -EIO;
	}
	const struct nmk_kring *k = nmk_kring_at(m, index);
	/* One read of each field: what is checked is what is used. */
	struct nmk_kring_view out = {
		.index = index,
		.num_slots = *(const volatile uint32_t *)&k->num_slots,
		.kind = *(const volatile uint32_t *)&k->kind,
		.port = *(const volatile uint32_t *)&k->port,
		.peer = *(const volatile uint32_t *)&k->peer,
		.vport = *(const volatile uint32_t *)&k->vport,
		.gen = *(const volatile uint32_t *)&k->gen,
		.flags = *(const volatile uint32_t *)&k->flags,
		.dir = *(const volatile uint16_t *)&k->dir,
		.ring_id = *(const volatile uint16_t *)&k->ring_id,
	};
	const char *bad = NULL;
	uint32_t value = 0;
	if (!nmk_slots_ok(m, out.num_slots))
		bad = "num_slots", value = out.num_slots;
	else if (out.dir > NMK_DIR_RX)
		bad = "dir", value = out.dir;
	else if (out.peer != NMK_NONE && out.peer >= m->g.nkrings)
		bad = "peer", value = out.peer;
	else if (out.port >= m->g.nports)
		bad = "port", value = out.port;
	if (bad) {
		nmk_errbuf(err, errlen, "kring %u: %s %u is out of range (shared memory overwritten?)",
			   index, bad, value);
		return -EIO;
	}
	*v = out;
	return 0;
}

int nmk_kring_restore(const struct nmk_mem *m, const struct nmk_kring_view *v, char *err,
		      size_t errlen)
{
	struct nmk_kring *k = nmk_view_kring(m, v);
	const char *bad = NULL;
	uint32_t was = 0;

#define RESTORE(field, value)                                                         \
	do {                                                                          \
		if (*(volatile __typeof__(k->field) *)&k->field != (value)) {         \
			if (bad == NULL)                                              \
				bad = #field, was = *(volatile __typeof__(k->field) *)&k->field; \
			*(volatile __typeof__(k->field) *)&k->field = (value);        \
		}                                                                     \
	} while (0)
	RESTORE(ring_index, v->index);
	RESTORE(num_slots, v->num_slots);
	RESTORE(kind, v->kind);
	RESTORE(port, v->port);
	RESTORE(peer, v->peer);
	RESTORE(dir, v->dir);
	RESTORE(ring_id, v->ring_id);
	RESTORE(vport, v->vport);
	RESTORE(flags, v->flags);
	RESTORE(gen, v->gen);
#undef RESTORE
	if (atomic_load_explicit(&k->stopped, memory_order_relaxed)) {
		if (bad == NULL)
			bad = "stopped", was = 1;
		atomic_store_explicit(&k->stopped, 0, memory_order_relaxed);
	}
	if (bad == NULL)
		return 0;
	nmk_errbuf(err, errlen, "%s ring %u: its kring's %s was %u, overwritten by another process; restored",
		   v->dir == NMK_DIR_TX ? "tx" : "rx", v->ring_id, bad, was);
	return -EIO;
}

/* ---- the sync lock -------------------------------------------------------- */

static pid_t cached_pid;
static pthread_once_t pid_once = PTHREAD_ONCE_INIT;

static void pid_refresh(void)
{
	cached_pid = getpid();
}

static void pid_init(void)
{
	pid_refresh();
	pthread_atfork(NULL, NULL, pid_refresh);
}

uint32_t nmk_my_pid(void)
{
	pthread_once(&pid_once, pid_init);
	return (uint32_t)cached_pid;
}

bool nmk_pid_dead(uint32_t pid)
{
	if (pid == nmk_my_pid())
		return false;
	if ((int32_t)pid <= 0)
		return true;
	return nm_os_pid_dead((pid_t)pid) == 1;
}

int nmk_kring_tryget(struct nmk_kring *k, struct nmk_kring_view *v)
{
	uint32_t expected = 0, me = nmk_my_pid();

	if (atomic_compare_exchange_strong_explicit(&k->busy, &expected, me,
						    memory_order_acquire, memory_order_relaxed)) {
		v->busy_seen = 0;
		return 0;
	}
	if (expected != me && nmk_pid_dead(expected) &&
	    atomic_compare_exchange_strong_explicit(&k->busy, &expected, me, memory_order_acquire,
						    memory_order_relaxed))
		return 0;
	/* Contention: the clock is read only here, never on the fast path.
	 * A sync lasts microseconds, so one holder seen for a second is not
	 * syncing (our own pid in the word, left by a thread of ours that
	 * never returned, counts the same). */
	uint64_t now = nm_os_now_ns();
	if (v->busy_seen != expected) {
		v->busy_seen = expected;
		v->busy_since_ns = now;
		return 1;
	}
	if (now - v->busy_since_ns < NMK_SYNC_STUCK_NS)
		return 1;
	if (!atomic_compare_exchange_strong_explicit(&k->busy, &expected, me, memory_order_acquire,
						     memory_order_relaxed))
		return 1;       /* it moved after all */
	return -EIO;            /* v->busy_seen names the holder, for the message */
}

void nmk_kring_put(struct nmk_kring *k)
{
	atomic_store_explicit(&k->busy, 0, memory_order_release);
}

/* ---- the user's view ------------------------------------------------------ */

void nmk_kring_set_tail(struct netmap_ring *ring, struct nmk_kring *k, uint32_t tail)
{
	k->rtail = tail;
	NMK_RING_TAIL_STORE(ring, tail);
}

static inline uint32_t load_u32(const volatile uint32_t *p)
{
	return *p;
}

int nmk_kring_check_head(const struct nmk_mem *m, const struct nmk_kring_view *v,
			 uint32_t *head_out, char *err, size_t errlen)
{
	struct nmk_kring *k = nmk_view_kring(m, v);
	struct netmap_ring *ring = nmk_view_ring(m, v);
	uint32_t n = v->num_slots;
	uint32_t head = load_u32(&ring->head), cur = load_u32(&ring->cur);
	uint32_t tail = load_u32(&ring->tail);
	/* rhead and rtail are ours, but in shared memory: reduce them. */
	uint32_t rtail = k->rtail % n;
	uint32_t lo = v->dir == NMK_DIR_TX ? k->rhead % n
					    : atomic_load_explicit(&k->hwcur, memory_order_relaxed) % n;

	if (tail != rtail)              /* read-only for the user: restore it */
		nmk_kring_set_tail(ring, k, rtail);
	if (!nmk_ring_in_range(head, lo, rtail, n) || !nmk_ring_in_range(cur, head, rtail, n)) {
		nmk_errbuf(err, errlen, "%s ring %u: head %u / cur %u outside [%u, %u] of %u slots; ring reset",
			   v->dir == NMK_DIR_TX ? "tx" : "rx", v->ring_id, head, cur, lo, rtail, n);
		return -EINVAL;
	}
	*head_out = head;
	return 0;
}

void nmk_kring_reset_view(const struct nmk_mem *m, const struct nmk_kring_view *v, uint32_t tail)
{
	struct nmk_kring *k = nmk_view_kring(m, v);
	struct netmap_ring *ring = nmk_view_ring(m, v);
	uint32_t n = v->num_slots;
	uint32_t hwcur = atomic_load(&k->hwcur) % n;

	/* The constant fields too: a previous user may have scribbled over
	 * them, and NETMAP_BUF() and nm_ring_next() in the next one trust
	 * them.  Same values as nmk_ring_init(). */
	uint64_t ring_off = m->l->ring_off + (uint64_t)v->index * m->l->p.ring_size;
	*(int64_t *)(uintptr_t)&ring->buf_ofs = (int64_t)(m->l->buf_off - ring_off);
	*(uint32_t *)(uintptr_t)&ring->num_slots = n;
	*(uint32_t *)(uintptr_t)&ring->nr_buf_size = m->l->p.buf_size;
	*(uint16_t *)(uintptr_t)&ring->ringid = v->ring_id;
	*(uint16_t *)(uintptr_t)&ring->dir = v->dir;
	ring->head = ring->cur = hwcur;
	k->rhead = hwcur;
	tail %= n;
	nmk_kring_set_tail(ring, k, tail);

	/* As netmap_ring_reinit() (reference §2.1): no slot the user may
	 * write through keeps a bad index or length.  On TX that is every
	 * slot, since each comes back to the user as it is (a pipe peer only
	 * ever writes valid indices into them); on RX the slots shown,
	 * [hwcur, tail): the others are rewritten before they are shown. */
	uint32_t count = v->dir == NMK_DIR_TX ? n : nmk_ring_dist(hwcur, tail, n);
	for (uint32_t j = 0, i = hwcur; j < count; j++, i = nmk_ring_next(i, n)) {
		struct netmap_slot *s = &ring->slot[i];
		if (!nmk_slot_ok(m, s->buf_idx, s->len)) {
			s->buf_idx = 0;
			s->len = 0;
		}
	}
}

/* ---- wake-ups ------------------------------------------------------------- */

void nmk_kring_arm(const struct nmk_mem *m, uint32_t index, uint32_t slot)
{
	atomic_fetch_or(&nmk_kring_at(m, index)->armed, UINT64_C(1) << (slot & 63));
}

void nmk_kring_disarm(const struct nmk_mem *m, uint32_t index, uint32_t slot)
{
	struct nmk_kring *k = nmk_kring_at(m, index);
	uint64_t bit = UINT64_C(1) << (slot & 63);

	if (atomic_load_explicit(&k->armed, memory_order_relaxed) & bit)
		atomic_fetch_and(&k->armed, ~bit);
}

/* ---- clocks --------------------------------------------------------------- */

static void coarse_now(struct timespec *ts)
{
#ifdef CLOCK_MONOTONIC_COARSE
	clock_gettime(CLOCK_MONOTONIC_COARSE, ts);
#else
	clock_gettime(CLOCK_MONOTONIC, ts);
#endif
}

uint32_t nmk_now_ms(void)
{
	struct timespec ts;

	coarse_now(&ts);
	return (uint32_t)((uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u);
}

/* 32 bits of seconds last 136 years, where nmk_now_ms() / 1000 would wrap
 * every 49.7 days (the learning table ages in seconds). */
uint32_t nmk_now_s(void)
{
	struct timespec ts;

	coarse_now(&ts);
	return (uint32_t)ts.tv_sec;
}

void nmk_ring_stamp(struct netmap_ring *ring)
{
	struct timespec ts;
#ifdef CLOCK_REALTIME_COARSE
	clock_gettime(CLOCK_REALTIME_COARSE, &ts);
#else
	clock_gettime(CLOCK_REALTIME, &ts);
#endif
	ring->ts.tv_sec = ts.tv_sec;
	ring->ts.tv_usec = ts.tv_nsec / 1000;
}
