/*
 * lease.c - leases on lease-filled RX rings (see lease.h).
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <errno.h>
#include <sched.h>
#include <stdio.h>

#include "lease.h"
#include "nm_os.h"

/* ---- the lock -------------------------------------------------------------- */

static inline void cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
	__builtin_ia32_pause();
#endif
}

/* The lock word: holder pid in the low half, when it was taken (coarse ms)
 * in the high half. */
static inline uint64_t lock_word(uint32_t now_ms)
{
	return nmk_my_pid() | (uint64_t)now_ms << 32;
}

/* Can a lock word seen held be taken over?  Its holder is dead, or the word
 * says it was taken too long ago (or in the future, or holds pid 0): no
 * critical section lasts that long, so the word is a forgery or garbage. */
static bool lock_breakable(uint64_t word, uint32_t now_ms)
{
	uint32_t pid = (uint32_t)word, taken = (uint32_t)(word >> 32);
	uint32_t age = now_ms - taken;

	if (pid == 0 || pid == nmk_my_pid())
		return pid == 0;        /* our own word: a thread of ours holds it */
	if ((int32_t)age < -(int32_t)NMK_LEASE_LOCK_STUCK_MS || age > NMK_LEASE_LOCK_STUCK_MS)
		return true;
	return nmk_pid_dead(pid);
}

bool nmk_lease_lock(struct nmk_kring *k, uint64_t wait_ns)
{
	uint32_t now = nmk_now_ms();
	uint64_t me = lock_word(now), start = 0;

	for (unsigned spins = 0;; spins++) {
		uint64_t cur = atomic_load_explicit(&k->lock, memory_order_relaxed);
		if (cur == 0) {
			if (atomic_compare_exchange_weak_explicit(&k->lock, &cur, me,
								  memory_order_acquire,
								  memory_order_relaxed))
				return true;
			continue;
		}
		/* The critical sections are a few stores: a holder that does
		 * not let go within a few hundred spins was preempted, died,
		 * or is no holder at all.  Look at the clock, the holder and
		 * the CPU only then. */
		if ((spins & 255) == 255) {
			now = nmk_now_ms();
			if (lock_breakable(cur, now) &&
			    atomic_compare_exchange_strong_explicit(&k->lock, &cur, lock_word(now),
								    memory_order_acquire,
								    memory_order_relaxed))
				return true;
			uint64_t t = nm_os_now_ns();
			if (start == 0)
				start = t;
			else if (t - start >= wait_ns)
				return false;
			/* The holder may be preempted on this very CPU (two
			 * senders on one core): let it run. */
			sched_yield();
		}
		cpu_relax();
	}
}

void nmk_lease_unlock(struct nmk_kring *k)
{
	atomic_store_explicit(&k->lock, 0, memory_order_release);
}

/* ---- the lease window ------------------------------------------------------ */

/* Is the window [lease_head, lease_tail) possible?  If a process wrote
 * garbage over it, forget every outstanding lease (lock held): their
 * slots stay unpublished until producers come again, and a holder's
 * completion of a forgotten lease is ignored (see lease_done). */
static void window_check(struct nmk_kring *k)
{
	if (k->lease_tail - k->lease_head > NMK_LEASES)
		k->lease_head = k->lease_tail;
}

/* The next slot to hand out: the end of the newest lease, else hwtail.
 * Derived rather than stored, so there is nothing to repair after a death. */
static uint32_t hwlease(const struct nmk_lease *L, const struct nmk_kring *k, uint32_t n)
{
	if (k->lease_tail == k->lease_head)
		return atomic_load_explicit(&k->hwtail, memory_order_relaxed) % n;
	return L[(k->lease_tail - 1) % NMK_LEASES].end % n;
}

/* Fill slots [from, to) of an RX ring with empty packets. */
static void fill_empty(struct netmap_ring *ring, uint32_t from, uint32_t to, uint32_t n)
{
	for (uint32_t i = from % n; i != to % n; i = nmk_ring_next(i, n)) {
		ring->slot[i].len = 0;
		ring->slot[i].flags = 0;
	}
}

/* Publish completed leases from the oldest on (lock held).  Returns whether
 * hwtail moved. */
static bool advance(struct nmk_lease *L, struct nmk_kring *k, uint32_t n)
{
	bool moved = false;

	while (k->lease_head != k->lease_tail) {
		struct nmk_lease *l = &L[k->lease_head % NMK_LEASES];
		if (atomic_load_explicit(&l->pid, memory_order_acquire) != 0)
			break;
		/* hwtail first, then the head: repeating this is harmless. */
		atomic_store_explicit(&k->hwtail, l->end % n, memory_order_release);
		k->lease_head++;
		moved = true;
	}
	return moved;
}

/*
 * Can a lease held by `pid` since `stamp` be completed for its holder?  When
 * the holder is gone; or when no live holder can be behind it: a lease
 * lasts as long as one copy of a batch, so one that is
 * NMK_LEASE_LOCK_STUCK_MS old (or stamped in the future) is a forgery, or
 * a process stopped in the middle (a debugger): the ring must not stall
 * for everyone because of it.  A holder that comes back finds its lease
 * gone (nmk_lease_done).
 */
static bool lease_abandoned(uint32_t pid, uint32_t stamp, uint32_t now)
{
	uint32_t age = now - stamp;

	if ((int32_t)age < -(int32_t)NMK_LEASE_LOCK_STUCK_MS || age > NMK_LEASE_LOCK_STUCK_MS)
		return true;
	return nmk_pid_dead(pid);
}

/* Complete the oldest leases whose holders are gone (lock held). */
static bool recover_locked(const struct nmk_mem *m, const struct nmk_kring_view *v, bool force)
{
	struct nmk_kring *k = nmk_view_kring(m, v);
	struct nmk_lease *L = nmk_leases_of(m, v->index);
	uint32_t n = v->num_slots;
	bool any = false;

	window_check(k);
	while (k->lease_head != k->lease_tail) {
		struct nmk_lease *l = &L[k->lease_head % NMK_LEASES];
		uint32_t pid = atomic_load_explicit(&l->pid, memory_order_acquire);
		if (pid != 0) {
			uint32_t now = nmk_now_ms();
			if (!force && now - l->stamp < NMK_LEASE_STALE_MS)
				break;
			if (!lease_abandoned(pid, l->stamp, now))
				break;
			fill_empty(nmk_view_ring(m, v), l->start, l->end, n);
			atomic_store_explicit(&l->pid, 0, memory_order_release);
		}
		any |= advance(L, k, n);
	}
	return any;
}

bool nmk_lease_maybe_stale(const struct nmk_mem *m, const struct nmk_kring_view *v)
{
	const struct nmk_kring *k = nmk_view_kring(m, v);
	uint32_t head = k->lease_head;

	if (head == k->lease_tail)
		return false;
	const struct nmk_lease *o = &nmk_leases_of(m, v->index)[head % NMK_LEASES];
	return atomic_load_explicit((_Atomic uint32_t *)&o->pid, memory_order_relaxed) != 0 &&
	       nmk_now_ms() - o->stamp >= NMK_LEASE_STALE_MS;
}

bool nmk_lease_recover(const struct nmk_mem *m, const struct nmk_kring_view *v, bool force)
{
	struct nmk_kring *k = nmk_view_kring(m, v);
	bool moved;

	if (!nmk_lease_lock(k, NMK_LEASE_WAIT_NS))
		return false;
	moved = recover_locked(m, v, force);
	nmk_lease_unlock(k);
	return moved;
}

bool nmk_lease_stop(const struct nmk_mem *m, const struct nmk_kring_view *v, uint64_t wait_ns)
{
	struct nmk_kring *k = nmk_view_kring(m, v);

	if (!nmk_lease_lock(k, wait_ns))
		return false;
	atomic_store_explicit(&k->stopped, 1, memory_order_relaxed);
	nmk_lease_unlock(k);
	return true;
}

int nmk_lease_idle(const struct nmk_mem *m, const struct nmk_kring_view *v, uint64_t wait_ns)
{
	struct nmk_kring *k = nmk_view_kring(m, v);
	int idle;

	if (!nmk_lease_lock(k, wait_ns))
		return 0;
	/* Stopped again, in case nmk_lease_stop could not have the lock. */
	atomic_store_explicit(&k->stopped, 1, memory_order_relaxed);
	recover_locked(m, v, true);
	idle = k->lease_head == k->lease_tail;
	nmk_lease_unlock(k);
	return idle;
}

bool nmk_lease_held_up(const struct nmk_mem *m, const struct nmk_kring_view *v, uint32_t want)
{
	const struct nmk_kring *k = nmk_view_kring(m, v);
	uint32_t n = v->num_slots, head = k->lease_head, tail = k->lease_tail;

	if (head == tail || tail - head > NMK_LEASES)
		return false;
	uint32_t hwcur = atomic_load_explicit(&k->hwcur, memory_order_relaxed) % n;
	if (hwcur != atomic_load_explicit(&k->hwtail, memory_order_relaxed) % n)
		return false;   /* published frames wait for the reader: it is the reader */
	uint32_t end = nmk_leases_of(m, v->index)[(tail - 1) % NMK_LEASES].end % n;
	return n - 1 - nmk_ring_dist(hwcur, end, n) < want;
}

uint32_t nmk_lease_take(const struct nmk_mem *m, const struct nmk_kring_view *v, uint32_t gen,
			uint32_t want, uint32_t *start, uint32_t *idx, int *why)
{
	struct nmk_kring *k = nmk_view_kring(m, v);
	struct nmk_lease *L = nmk_leases_of(m, v->index);
	uint32_t n = v->num_slots, got = 0;

	/* A ring full of published packets has no room for anyone: say so
	 * without taking the lock, whose cache line the receiver reads at
	 * every rxsync (a sender much faster than its receiver would
	 * otherwise slow the receiver down with every failed attempt). */
	uint32_t tail = atomic_load_explicit(&k->hwtail, memory_order_relaxed) % n;
	*why = NMK_LEASE_FULL;
	if (nmk_ring_next(tail, n) == atomic_load_explicit(&k->hwcur, memory_order_relaxed) % n)
		return 0;

	if (!nmk_lease_lock(k, NMK_LEASE_WAIT_NS)) {
		*why = NMK_LEASE_BUSY;
		return 0;
	}
	if (atomic_load_explicit(&k->stopped, memory_order_relaxed) || k->gen != gen ||
	    !(k->flags & NMK_KRING_LEASED)) {
		*why = NMK_LEASE_GONE;
		goto out;
	}
	window_check(k);
	if (k->lease_tail - k->lease_head >= NMK_LEASES) {
		/* Every lease record in use: maybe some by the dead. */
		recover_locked(m, v, false);
		if (k->lease_tail - k->lease_head >= NMK_LEASES)
			goto out;
	}
	uint32_t s = hwlease(L, k, n);
	uint32_t hwcur = atomic_load_explicit(&k->hwcur, memory_order_acquire) % n;
	uint32_t space = n - 1 - nmk_ring_dist(hwcur, s, n);
	got = want < space ? want : space;
	if (got == 0)
		goto out;
	/* The record first, then make it visible: a death in between leaves
	 * nothing half-done. */
	struct nmk_lease *l = &L[k->lease_tail % NMK_LEASES];
	uint32_t e = s + got;
	l->start = s;
	l->end = e >= n ? e - n : e;
	l->stamp = nmk_now_ms();
	atomic_store_explicit(&l->pid, nmk_my_pid(), memory_order_relaxed);
	*idx = k->lease_tail;
	*start = s;
	/* The record must be whole before it counts: a holder killed
	 * between the two leaves either no lease or a complete one. */
	atomic_signal_fence(memory_order_release);
	k->lease_tail++;
	*why = NMK_LEASE_OK;
out:
	nmk_lease_unlock(k);
	return got;
}

bool nmk_lease_done(const struct nmk_mem *m, const struct nmk_kring_view *v, uint32_t idx,
		    uint32_t used)
{
	struct nmk_kring *k = nmk_view_kring(m, v);
	struct nmk_lease *L = nmk_leases_of(m, v->index);
	uint32_t n = v->num_slots;
	struct nmk_lease *l = &L[idx % NMK_LEASES];
	bool moved;

	uint32_t e = (l->start % n) + used;
	e = e >= n ? e - n : e;
	if (!nmk_lease_lock(k, NMK_LEASE_WAIT_NS)) {
		/* The lock is wedged (a forgery: a live holder lets go within
		 * microseconds).  Our lease must not stay open, or the ring
		 * stalls for everyone: complete it without the lock, which
		 * touches only what is ours (the unused slots, the record's
		 * pid); the next holder of the lock publishes it. */
		fill_empty(nmk_view_ring(m, v), e, l->end, n);
		atomic_store_explicit(&l->pid, 0, memory_order_release);
		return false;
	}
	if (idx - k->lease_head >= k->lease_tail - k->lease_head) {
		/* The window was reset under us (see window_check). */
		nmk_lease_unlock(k);
		return false;
	}
	if (e != l->end % n) {
		if (idx + 1 == k->lease_tail)
			l->end = e;     /* the newest: give the rest back */
		else
			fill_empty(nmk_view_ring(m, v), e, l->end, n);
	}
	atomic_store_explicit(&l->pid, 0, memory_order_release);
	moved = advance(L, k, n);
	nmk_lease_unlock(k);
	return moved;
}
