/*
 * forward.c - VALE forwarding, in the sender's txsync (reference §4.4-4.8).
 *
 * One batch of the sender's TX ring goes through two passes:
 *  1. every packet's destination (lookup), queued per destination port;
 *  2. per destination, a lease on its RX ring: reserve slots under the
 *     ring's short lock, copy without it, publish in order.  Several
 *     senders, in several processes, fill one ring at once.
 * Packets that do not fit are dropped and counted; senders never wait for
 * receivers, and after txsync the whole TX ring is free again.
 *
 * Leases survive deaths: a lease records its holder's pid and when it was
 * taken.  Whoever finds the oldest lease of a ring held for a while by a
 * dead process completes it with empty slots, so the ring never stalls.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "forward.h"
#include "learn.h"
#include "nm_os.h"
#include "vale_shm.h"

#define BATCH        1024u          /* netmap's NM_BDG_BATCH */
#define FT_SIZE      (BATCH + NETMAP_MAX_FRAGS)
#define NO_PKT       0xffffffffu
#define LEASE_STALE_MS 50u          /* a lease older than this may be a dead one */

/* One slot of the batch. */
struct ft_ent {
	const uint8_t *buf;
	uint16_t len;
	uint16_t flags;
	uint16_t nfrags;                /* on the first fragment: slots of the packet */
	uint16_t bad;                   /* on the first fragment: a slot was invalid */
	uint32_t next;                  /* next packet (first-fragment index) in its queue */
};

/* A destination queue of this batch. */
struct dst_q {
	uint32_t head, tail;            /* first-fragment indices in ft */
	uint32_t slots;                 /* slots needed */
	uint32_t packets;
	uint32_t ring;
};

struct nmk_vale_scratch {
	struct ft_ent ft[FT_SIZE];
	uint32_t max_ports;
	struct dst_q *q;                /* [max_ports * NMK_VALE_MAXRINGS] */
	uint32_t *dsts;                 /* keys of queues used by this batch */
	uint32_t ndsts;
	uint8_t *seen;                  /* [max_ports]: a unicast queue exists */
	/* The lookup registered for this switch in this process. */
	unsigned lookup_gen;
	nmk_vale_lookup_fn lookup;
	void *lookup_priv;
};

void nmk_vale_scratch_free(struct nmk_vale_scratch *s)
{
	if (s == NULL)
		return;
	free(s->q);
	free(s->dsts);
	free(s->seen);
	free(s);
}

static struct nmk_vale_scratch *scratch_get(struct nmk_sync_ctx *ctx, uint32_t max_ports)
{
	struct nmk_vale_scratch *s = ctx->vale;

	if (s && s->max_ports >= max_ports)
		return s;
	nmk_vale_scratch_free(s);
	ctx->vale = NULL;
	s = calloc(1, sizeof(*s));
	if (s == NULL)
		return NULL;
	s->max_ports = max_ports;
	s->q = calloc((size_t)max_ports * NMK_VALE_MAXRINGS, sizeof(*s->q));
	s->dsts = malloc(sizeof(*s->dsts) * (max_ports * NMK_VALE_MAXRINGS + 1));
	s->seen = calloc(max_ports, 1);
	if (!s->q || !s->dsts || !s->seen) {
		nmk_vale_scratch_free(s);
		return NULL;
	}
	s->lookup_gen = ~0u;
	ctx->vale = s;
	return s;
}

/* ---- lookup registry (per process) ---------------------------------------- */

struct lookup_reg {
	char sw[NMK_VALE_NAME_MAX];
	nmk_vale_lookup_fn fn;
	void *priv;
};

static struct lookup_reg lookups[64];
static _Atomic unsigned lookup_gen;
static pthread_mutex_t lookup_lock = PTHREAD_MUTEX_INITIALIZER;

int nmk_vale_lookup_register(const char *sw, nmk_vale_lookup_fn fn, void *priv)
{
	int ret = -ENOMEM;

	pthread_mutex_lock(&lookup_lock);
	for (unsigned i = 0; i < sizeof(lookups) / sizeof(lookups[0]); i++) {
		if (strncmp(lookups[i].sw, sw, NMK_VALE_NAME_MAX) == 0 || (fn && !lookups[i].sw[0])) {
			if (fn) {
				snprintf(lookups[i].sw, sizeof(lookups[i].sw), "%s", sw);
				lookups[i].fn = fn;
				lookups[i].priv = priv;
			} else {
				memset(&lookups[i], 0, sizeof(lookups[i]));
			}
			ret = 0;
			break;
		}
	}
	if (!fn)
		ret = 0;
	atomic_fetch_add(&lookup_gen, 1);
	pthread_mutex_unlock(&lookup_lock);
	return ret;
}

static void lookup_refresh(struct nmk_vale_scratch *s, const char *sw)
{
	unsigned gen = atomic_load_explicit(&lookup_gen, memory_order_acquire);

	if (gen == s->lookup_gen)
		return;
	pthread_mutex_lock(&lookup_lock);
	s->lookup = NULL;
	s->lookup_priv = NULL;
	for (unsigned i = 0; i < sizeof(lookups) / sizeof(lookups[0]); i++) {
		if (lookups[i].fn && strncmp(lookups[i].sw, sw, NMK_VALE_NAME_MAX) == 0) {
			s->lookup = lookups[i].fn;
			s->lookup_priv = lookups[i].priv;
		}
	}
	s->lookup_gen = gen;
	pthread_mutex_unlock(&lookup_lock);
}

/* ---- shared-memory views --------------------------------------------------- */

static inline struct nmk_vale_hdr *vale_hdr(const struct nmk_mem *m)
{
	return (struct nmk_vale_hdr *)((char *)m->ctrl + m->g.vale_off);
}

static inline struct nmk_vale_port *vale_port(const struct nmk_mem *m, uint32_t i)
{
	return (struct nmk_vale_port *)((char *)m->ctrl + m->g.vale_off +
					sizeof(struct nmk_vale_hdr)) + i;
}

static inline uint32_t next_slot(uint32_t i, uint32_t n)
{
	return i + 1 == n ? 0 : i + 1;
}

static uint32_t now_ms(void)
{
	struct timespec ts;
#ifdef CLOCK_MONOTONIC_COARSE
	clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
#else
	clock_gettime(CLOCK_MONOTONIC, &ts);
#endif
	return (uint32_t)((uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u);
}

/* Seconds for the learning table: 32 bits of seconds last 136 years,
 * where now_ms() / 1000 would wrap every 49.7 days. */
static uint32_t now_sec(void)
{
	struct timespec ts;
#ifdef CLOCK_MONOTONIC_COARSE
	clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
#else
	clock_gettime(CLOCK_MONOTONIC, &ts);
#endif
	return (uint32_t)ts.tv_sec;
}

static bool pid_dead(uint32_t pid)
{
	return pid != 0 && pid != nmk_my_pid() && nm_os_pid_dead((pid_t)pid);
}

/* ---- the lease lock -------------------------------------------------------- */

/*
 * A spin lock holding its owner's pid.  Its critical sections are a few
 * stores, each of which leaves the lease state consistent, so a lock whose
 * owner died can simply be taken over.
 */
static void lease_lock(struct nmk_kring *k)
{
	uint32_t me = nmk_my_pid();

	for (unsigned spins = 1;; spins++) {
		uint32_t expected = 0;
		if (atomic_compare_exchange_weak_explicit(&k->lock, &expected, me,
							  memory_order_acquire,
							  memory_order_relaxed))
			return;
		if ((spins & 1023) == 0 && expected != 0 && pid_dead(expected) &&
		    atomic_compare_exchange_strong_explicit(&k->lock, &expected, me,
							    memory_order_acquire,
							    memory_order_relaxed))
			return;
#if defined(__x86_64__) || defined(__i386__)
		__builtin_ia32_pause();
#endif
	}
}

static void lease_unlock(struct nmk_kring *k)
{
	atomic_store_explicit(&k->lock, 0, memory_order_release);
}

/* The next slot to hand out: the end of the newest lease, else hwtail.
 * Derived rather than stored, so there is nothing to repair after a death. */
static uint32_t hwlease(const struct nmk_lease *L, const struct nmk_kring *k)
{
	if (k->lease_tail == k->lease_head)
		return atomic_load_explicit(&k->hwtail, memory_order_relaxed);
	return L[(k->lease_tail - 1) % NMK_LEASES].end;
}

/* Fill slots [from, to) of an RX ring with empty packets. */
static void fill_empty(struct netmap_ring *ring, uint32_t from, uint32_t to, uint32_t n)
{
	for (uint32_t i = from % n; i != to % n; i = next_slot(i, n)) {
		ring->slot[i].len = 0;
		ring->slot[i].flags = 0;
	}
}

/* Publish completed leases from the oldest on (lock held).  Returns whether
 * hwtail moved. */
static bool lease_advance(struct nmk_lease *L, struct nmk_kring *k)
{
	bool moved = false;

	while (k->lease_head != k->lease_tail) {
		struct nmk_lease *l = &L[k->lease_head % NMK_LEASES];
		if (atomic_load_explicit(&l->pid, memory_order_acquire) != 0)
			break;
		/* hwtail first, then the head: repeating this is harmless. */
		atomic_store_explicit(&k->hwtail, l->end, memory_order_release);
		k->lease_head++;
		moved = true;
	}
	return moved;
}

/* Complete the oldest lease if its holder is dead (lock held). */
static bool recover_locked(const struct nmk_mem *m, struct nmk_kring *k, bool force)
{
	struct nmk_lease *L = nmk_leases_of(m, (uint32_t)(k - nmk_kring_at(m, 0)));
	bool any = false;

	while (k->lease_head != k->lease_tail) {
		struct nmk_lease *l = &L[k->lease_head % NMK_LEASES];
		uint32_t pid = atomic_load_explicit(&l->pid, memory_order_acquire);
		if (pid != 0) {
			if (!force && now_ms() - l->stamp < LEASE_STALE_MS)
				break;
			if (!pid_dead(pid))
				break;
			fill_empty(nmk_ring_at(m->base, m->l, k->ring_index), l->start, l->end,
				   k->num_slots);
			atomic_store_explicit(&l->pid, 0, memory_order_release);
		}
		any |= lease_advance(L, k);
	}
	return any;
}

int nmk_vale_recover_leases(const struct nmk_mem *m, struct nmk_kring *k, int force)
{
	bool moved;

	lease_lock(k);
	moved = recover_locked(m, k, force != 0);
	lease_unlock(k);
	return moved;
}

void nmk_vale_ring_stop(const struct nmk_mem *m, struct nmk_kring *k)
{
	(void)m;
	lease_lock(k);
	atomic_store_explicit(&k->stopped, 1, memory_order_relaxed);
	lease_unlock(k);
}

int nmk_vale_ring_idle(const struct nmk_mem *m, struct nmk_kring *k)
{
	int idle;

	lease_lock(k);
	recover_locked(m, k, true);
	idle = k->lease_head == k->lease_tail;
	lease_unlock(k);
	return idle;
}

/*
 * Complete the oldest lease of k if it has been held for LEASE_STALE_MS by
 * a process that is gone.  The unlocked look is only a hint (a few loads,
 * so it costs nothing per batch); the lock is taken only for a stale one.
 * Returns whether hwtail moved (the caller wakes the receiver).
 */
static bool recover_stale(const struct nmk_mem *m, struct nmk_kring *k, const struct nmk_lease *L)
{
	uint32_t head = k->lease_head;
	bool moved;

	if (head == k->lease_tail)
		return false;
	const struct nmk_lease *o = &L[head % NMK_LEASES];
	if (atomic_load_explicit((_Atomic uint32_t *)&o->pid, memory_order_relaxed) == 0 ||
	    now_ms() - o->stamp < LEASE_STALE_MS)
		return false;
	lease_lock(k);
	moved = recover_locked(m, k, false);
	lease_unlock(k);
	return moved;
}

/*
 * Reserve up to `want` slots of RX kring k for a port of generation gen.
 * Returns the number reserved (0: stopped, gone, full) and the start and
 * lease index.
 */
static uint32_t lease_take(const struct nmk_mem *m, struct nmk_kring *k, struct nmk_lease *L,
			   uint32_t gen, uint32_t want, uint32_t *start, uint32_t *idx)
{
	uint32_t n = k->num_slots, got = 0;

	/* A ring full of published packets has no room for anyone: say so
	 * without taking the lock, whose cache line the receiver reads at
	 * every rxsync (a sender much faster than its receiver would
	 * otherwise slow the receiver down with every failed attempt). */
	uint32_t tail = atomic_load_explicit(&k->hwtail, memory_order_relaxed) % n;
	if ((tail + 1 == n ? 0 : tail + 1) ==
	    atomic_load_explicit(&k->hwcur, memory_order_relaxed) % n)
		return 0;

	lease_lock(k);
	if (atomic_load_explicit(&k->stopped, memory_order_relaxed) || k->gen != gen ||
	    k->kind != NMK_KR_VALE_RX)
		goto out;
	if (k->lease_tail - k->lease_head >= NMK_LEASES) {
		/* Every lease record in use: maybe some by the dead. */
		recover_locked(m, k, false);
		if (k->lease_tail - k->lease_head >= NMK_LEASES)
			goto out;
	}
	uint32_t s = hwlease(L, k) % n;
	uint32_t hwcur = atomic_load_explicit(&k->hwcur, memory_order_acquire) % n;
	uint32_t busy = s >= hwcur ? s - hwcur : s + n - hwcur;
	uint32_t space = n - 1 - busy;
	got = want < space ? want : space;
	if (got == 0)
		goto out;
	/* The record first, then make it visible: a death in between leaves
	 * nothing half-done. */
	struct nmk_lease *l = &L[k->lease_tail % NMK_LEASES];
	uint32_t e = s + got;
	l->start = s;
	l->end = e >= n ? e - n : e;
	l->stamp = now_ms();
	atomic_store_explicit(&l->pid, nmk_my_pid(), memory_order_relaxed);
	*idx = k->lease_tail;
	*start = s;
	/* The record must be whole before it counts: a holder killed
	 * between the two leaves either no lease or a complete one. */
	atomic_signal_fence(memory_order_release);
	k->lease_tail++;
out:
	lease_unlock(k);
	return got;
}

/* Finish a lease after using `used` of its slots; publish what can be. */
static bool lease_done(const struct nmk_mem *m, struct nmk_kring *k, struct nmk_lease *L,
		       uint32_t idx, uint32_t used)
{
	uint32_t n = k->num_slots;
	struct nmk_lease *l = &L[idx % NMK_LEASES];
	bool moved;

	lease_lock(k);
	uint32_t e = l->start + used;
	e = e >= n ? e - n : e;
	if (e != l->end) {
		if (idx + 1 == k->lease_tail)
			l->end = e;     /* the newest: give the rest back */
		else
			fill_empty(nmk_ring_at(m->base, m->l, k->ring_index), e, l->end, n);
	}
	atomic_store_explicit(&l->pid, 0, memory_order_release);
	moved = lease_advance(L, k);
	lease_unlock(k);
	return moved;
}

/* ---- copying ---------------------------------------------------------------- */

/*
 * Copy a frame into a destination buffer.  Buffers are 64-byte aligned and
 * a multiple of 64 bytes long, so short frames are copied in whole 64-byte
 * chunks (fixed-size copies the compiler turns into a few vector moves),
 * as netmap's nm_pkt_copy does.
 */
static inline void pkt_copy(uint8_t *dst, const uint8_t *src, uint32_t len)
{
	if (len <= 64) {
		__builtin_memcpy(dst, src, 64);
	} else if (len <= 1024) {
		for (uint32_t o = 0; o < len; o += 64)
			__builtin_memcpy(dst + o, src + o, 64);
	} else {
		memcpy(dst, src, len);
	}
}

/* ---- copy monitors ----------------------------------------------------------- */

/*
 * Reserve room in the monitor ring of entry e for slots [from, to) of src
 * (a ring of kring k's size).  When short of room, the oldest packets are
 * skipped (and counted as the monitor's drops): *first is where copying
 * starts.  Returns the slots reserved (0: nothing to do).
 */
static uint32_t mon_reserve(const struct nmk_mem *m, const struct nmk_kring *k, uint64_t e,
			    const struct netmap_ring *src, uint32_t from, uint32_t to,
			    struct nmk_kring **krp, uint32_t *start, uint32_t *lidx, uint32_t *first)
{
	const uint32_t sn = k->num_slots;
	uint32_t mk = (uint32_t)e & ~NMK_MON_ZCOPY, gen = (uint32_t)(e >> 32);

	if (mk >= m->g.nkrings)
		return 0;
	struct nmk_kring *kr = nmk_kring_at(m, mk);
	if (kr->num_slots < 2 || kr->num_slots > NMK_MAX_SLOTS)
		return 0;
	uint32_t count = (to + sn - from) % sn;
	uint32_t got = lease_take(m, kr, nmk_leases_of(m, mk), gen, count, start, lidx);
	*first = from;
	if (got < count) {
		uint32_t f = (from + (count - got)) % sn;
		while (f != to && (src->slot[(f + sn - 1) % sn].flags & NS_MOREFRAG))
			f = next_slot(f, sn);
		uint64_t lost = 0;
		for (uint32_t i = from; i != f; i = next_slot(i, sn))
			lost += !(src->slot[i].flags & NS_MOREFRAG);
		atomic_fetch_add_explicit(&kr->drops, lost, memory_order_relaxed);
		*first = f;
	}
	*krp = kr;
	return got;
}

/* Complete a monitor lease and wake the monitor's reader. */
static void mon_done(const struct nmk_mem *m, struct nmk_kring *kr, uint32_t lidx, uint32_t used,
		     struct nmk_sync_ctx *ctx)
{
	if (lease_done(m, kr, nmk_leases_of(m, (uint32_t)(kr - nmk_kring_at(m, 0))), lidx, used))
		nmk_sync_wake_armed(m, kr, ctx);
}

void nmk_mon_copy(const struct nmk_mem *m, struct nmk_kring *k, const struct netmap_ring *src,
		  uint32_t from, uint32_t to, uint16_t add_flags, struct nmk_sync_ctx *ctx)
{
	const uint32_t sn = k->num_slots, nbufs = m->l->p.buf_num, bufsize = m->l->p.buf_size;
	uint8_t *bufbase = (uint8_t *)m->base + m->l->buf_off;

	if (from == to || sn < 2)
		return;
	for (unsigned mi = 0; mi < NMK_MAX_MON; mi++) {
		uint64_t e = atomic_load_explicit(&k->mon[mi], memory_order_acquire);
		struct nmk_kring *kr;
		uint32_t start, lidx, first;
		if (e == 0 || ((uint32_t)e & NMK_MON_ZCOPY) ||
		    mon_reserve(m, k, e, src, from, to, &kr, &start, &lidx, &first) == 0)
			continue;
		struct netmap_ring *mring = nmk_ring_at(m->base, m->l, kr->ring_index);
		uint32_t j = start, used = 0;
		for (uint32_t i = first; i != to; i = next_slot(i, sn)) {
			struct netmap_slot ss = src->slot[i];
			struct netmap_slot *ds = &mring->slot[j];
			uint32_t idx = ds->buf_idx;
			uint16_t len = ss.len;
			if (idx >= nbufs || ss.buf_idx >= nbufs || len > bufsize)
				len = 0;
			else
				pkt_copy(bufbase + (uint64_t)idx * bufsize,
					 bufbase + (uint64_t)ss.buf_idx * bufsize, len);
			ds->len = len;
			ds->flags = (uint16_t)((ss.flags & NS_MOREFRAG) | add_flags);
			j = next_slot(j, kr->num_slots);
			used++;
		}
		mon_done(m, kr, lidx, used, ctx);
	}
}

void nmk_mon_swap(const struct nmk_mem *m, struct nmk_kring *k, struct netmap_ring *ring,
		  uint32_t from, uint32_t to, uint16_t add_flags, struct nmk_sync_ctx *ctx)
{
	const uint32_t sn = k->num_slots, nbufs = m->l->p.buf_num;

	if (from == to || sn < 2)
		return;
	for (unsigned mi = 0; mi < NMK_MAX_MON; mi++) {
		uint64_t e = atomic_load_explicit(&k->mon[mi], memory_order_acquire);
		struct nmk_kring *kr;
		uint32_t start, lidx, first;
		if (!((uint32_t)e & NMK_MON_ZCOPY) ||
		    mon_reserve(m, k, e, ring, from, to, &kr, &start, &lidx, &first) == 0)
			continue;
		struct netmap_ring *mring = nmk_ring_at(m->base, m->l, kr->ring_index);
		uint32_t j = start, used = 0;
		for (uint32_t i = first; i != to; i = next_slot(i, sn)) {
			struct netmap_slot *ss = &ring->slot[i], *ds = &mring->slot[j];
			uint32_t mine = ds->buf_idx, theirs = ss->buf_idx;
			if (mine < nbufs && theirs < nbufs) {
				ds->buf_idx = theirs;
				ds->len = ss->len;
				ss->buf_idx = mine;
			} else {
				ds->len = 0;
			}
			ds->flags = (uint16_t)((ss->flags & NS_MOREFRAG) | add_flags | NS_BUF_CHANGED);
			ss->flags |= NS_BUF_CHANGED;
			j = next_slot(j, kr->num_slots);
			used++;
		}
		mon_done(m, kr, lidx, used, ctx);
	}
}

/* ---- txsync ----------------------------------------------------------------- */

struct batch {
	const struct nmk_mem *m;
	struct nmk_vale_scratch *s;
	struct nmk_vale_hdr *hdr;
	struct nmk_vale_port *src;
	uint32_t src_port, src_ring, max_ports, scan;
	uint32_t nft;                   /* slots in ft */
	uint32_t bc_head, bc_tail, bc_slots, bc_packets;
	uint64_t drop_nodest, drop_full, forwarded, flooded;
	struct nmk_sync_ctx *ctx;
};

static inline struct dst_q *queue(struct batch *b, uint32_t key)
{
	return &b->s->q[key];
}

/* Deliver the packets of one destination: its unicast queue merged with
 * the broadcast queue, in batch order. */
static void deliver(struct batch *b, uint32_t port, struct dst_q *uq)
{
	const struct nmk_mem *m = b->m;
	struct nmk_vale_port *vp = vale_port(m, port);
	uint32_t want = (uq ? uq->slots : 0) + (port == b->src_port ? 0 : b->bc_slots);
	uint32_t packets = (uq ? uq->packets : 0) + (port == b->src_port ? 0 : b->bc_packets);

	if (want == 0)
		return;
	if (atomic_load_explicit(&vp->state, memory_order_acquire) != NMK_VPORT_ACTIVE) {
		b->drop_nodest += packets;
		return;
	}
	uint32_t gen = vp->gen, nrx = vp->nrx;
	if (nrx == 0 || nrx > NMK_VALE_MAXRINGS) {
		b->drop_nodest += packets;
		return;
	}
	uint32_t ring = (uq ? uq->ring : b->src_ring) % nrx;
	uint32_t kidx = vp->rx_kring[ring];
	if (kidx >= m->g.nkrings) {
		b->drop_nodest += packets;
		return;
	}
	struct nmk_kring *k = nmk_kring_at(m, kidx);
	uint32_t n = k->num_slots;
	if (n < 2 || n > NMK_MAX_SLOTS) {
		b->drop_nodest += packets;
		return;
	}
	struct nmk_lease *L = nmk_leases_of(m, kidx);
	uint32_t start, lidx;
	/* A ring held up by a lease of a dead sender: complete it here, not
	 * only in the receiver's rxsync, since a receiver asleep in poll never
	 * syncs and nothing behind the dead lease (ours included) could be
	 * published to wake it. */
	if (recover_stale(m, k, L))
		nmk_sync_wake_armed(m, k, b->ctx);
	uint32_t got = lease_take(m, k, L, gen, want, &start, &lidx);
	if (got == 0) {
		if (atomic_load_explicit(&k->stopped, memory_order_relaxed) || k->gen != gen) {
			b->drop_nodest += packets;
		} else {
			b->drop_full += packets;
			atomic_fetch_add_explicit(&k->drops, packets, memory_order_relaxed);
		}
		return;
	}

	struct netmap_ring *ring_p = nmk_ring_at(m->base, m->l, k->ring_index);
	const uint32_t nbufs = m->l->p.buf_num, bufsize = m->l->p.buf_size;
	uint8_t *bufbase = (uint8_t *)m->base + m->l->buf_off;
	uint32_t j = start, used = 0, done = 0, done_u = 0;
	uint64_t bytes = 0;
	uint32_t u = uq ? uq->head : NO_PKT;
	uint32_t bc = port == b->src_port ? NO_PKT : b->bc_head;
	struct ft_ent *ft = b->s->ft;

	while (u != NO_PKT || bc != NO_PKT) {
		bool is_u = bc == NO_PKT || (u != NO_PKT && u < bc);
		uint32_t p = is_u ? u : bc;
		uint32_t nf = ft[p].nfrags;
		if (used + nf > got)
			break;          /* the rest does not fit: dropped below */
		if (nf == 1) {
			/* The common case: one slot. */
			struct netmap_slot *ds = &ring_p->slot[j];
			uint32_t idx = ds->buf_idx;
			uint16_t len = ft[p].len;
			if (idx >= nbufs)       /* the receiver could have written anything */
				len = 0;
			else
				pkt_copy(bufbase + (uint64_t)idx * bufsize, ft[p].buf, len);
			ds->len = len;
			ds->flags = 1u << 8;
			bytes += len;
			j = next_slot(j, n);
		} else {
			for (uint32_t f = 0; f < nf; f++) {
				const struct ft_ent *e = &ft[p + f];
				struct netmap_slot *ds = &ring_p->slot[j];
				uint32_t idx = ds->buf_idx;
				uint16_t len = e->len;
				if (idx >= nbufs)
					len = 0;
				else
					pkt_copy(bufbase + (uint64_t)idx * bufsize, e->buf, len);
				ds->len = len;
				/* VALE writes the total fragment count in the high byte. */
				ds->flags = (uint16_t)((nf << 8) | (f + 1 < nf ? NS_MOREFRAG : 0));
				bytes += len;
				j = next_slot(j, n);
			}
		}
		used += nf;
		done++;
		if (is_u) {
			done_u++;
			u = ft[u].next;
		} else {
			bc = ft[bc].next;
		}
	}
	/* Copy monitors of the destination see frames as they arrive. */
	if (used && nmk_has_monitors(k))
		nmk_mon_copy(m, k, ring_p, start, j, 0, b->ctx);
	if (lease_done(m, k, L, lidx, used))
		nmk_sync_wake_armed(m, k, b->ctx);

	atomic_fetch_add_explicit(&vp->rx_packets, done, memory_order_relaxed);
	atomic_fetch_add_explicit(&vp->rx_bytes, bytes, memory_order_relaxed);
	b->forwarded += done_u;
	b->flooded += done - done_u;
	b->drop_full += packets - done;
	if (packets != done)
		atomic_fetch_add_explicit(&k->drops, packets - done, memory_order_relaxed);
}

/* Pass 1: destinations.  Pass 2: deliveries.  Then reset the queues. */
static void flush(struct batch *b)
{
	struct nmk_vale_scratch *s = b->s;
	struct ft_ent *ft = s->ft;
	struct nmk_learn_table *tbl = NULL;
	uint32_t now_s = now_sec();

	if (b->nft == 0)
		return;
	if (s->lookup == NULL)
		tbl = (struct nmk_learn_table *)((char *)b->m->ctrl + b->m->g.learn_off);

	b->bc_head = b->bc_tail = NO_PKT;
	b->bc_slots = b->bc_packets = 0;
	s->ndsts = 0;
	/* Within a batch, frames with the same addresses as the previous one
	 * get the same answer: the learning bridge is consulted once per
	 * address pair and batch (VALE caches the last source address too). */
	uint64_t memo_dst = 0, memo_src = ~(uint64_t)0;   /* matches no frame */
	uint32_t memo_res = NMK_VALE_DROP;
	for (uint32_t p = 0; p < b->nft; p += ft[p].nfrags) {
		uint32_t ring = b->src_ring, dst;
		if (s->lookup) {
			dst = s->lookup(ft[p].buf, ft[p].len, b->src_port, &ring, s->lookup_priv);
		} else if (ft[p].len >= 14) {
			/* Bytes 0-7 and 8-11: both addresses. */
			uint64_t d;
			uint32_t e;
			memcpy(&d, ft[p].buf, 8);
			memcpy(&e, ft[p].buf + 8, 4);
			uint64_t src_key = e;
			if (d == memo_dst && src_key == memo_src) {
				dst = memo_res;
			} else {
				dst = nmk_learn_lookup(tbl, ft[p].buf, ft[p].len, b->src_port, now_s);
				memo_dst = d;
				memo_src = src_key;
				memo_res = dst;
			}
		} else {
			dst = NMK_VALE_DROP;
		}
		ft[p].next = NO_PKT;
		if (dst == NMK_VALE_BROADCAST) {
			if (b->bc_tail == NO_PKT)
				b->bc_head = p;
			else
				ft[b->bc_tail].next = p;
			b->bc_tail = p;
			b->bc_slots += ft[p].nfrags;
			b->bc_packets++;
			continue;
		}
		if (dst >= b->max_ports || dst == b->src_port) {
			b->drop_nodest++;
			continue;
		}
		uint32_t key = dst * NMK_VALE_MAXRINGS + (ring % NMK_VALE_MAXRINGS);
		struct dst_q *q = queue(b, key);
		if (q->packets == 0) {  /* queues are empty between batches */
			q->head = q->tail = p;
			q->slots = ft[p].nfrags;
			q->packets = 1;
			q->ring = ring;
			s->dsts[s->ndsts++] = key;
			s->seen[dst] = 1;
		} else {
			ft[q->tail].next = p;
			q->tail = p;
			q->slots += ft[p].nfrags;
			q->packets++;
		}
	}

	/* Unicast destinations (with the broadcasts merged in). */
	for (uint32_t i = 0; i < s->ndsts; i++) {
		uint32_t key = s->dsts[i];
		deliver(b, key / NMK_VALE_MAXRINGS, queue(b, key));
	}
	/* Broadcast to every other active port that got no unicast. */
	if (b->bc_packets) {
		for (uint32_t port = 0; port < b->scan; port++) {
			if (port == b->src_port || s->seen[port])
				continue;
			struct nmk_vale_port *vp = vale_port(b->m, port);
			if (atomic_load_explicit(&vp->state, memory_order_acquire) != NMK_VPORT_ACTIVE)
				continue;
			deliver(b, port, NULL);
		}
	}
	for (uint32_t i = 0; i < s->ndsts; i++) {
		s->seen[s->dsts[i] / NMK_VALE_MAXRINGS] = 0;
		s->q[s->dsts[i]].packets = 0;
	}
	b->nft = 0;
}

int nmk_vale_txsync(const struct nmk_mem *m, struct nmk_kring *k, struct nmk_sync_ctx *ctx)
{
	struct netmap_ring *ring = nmk_ring_at(m->base, m->l, k->ring_index);
	uint32_t n = k->num_slots, head;
	int ret;

	if (m->g.vale_ports == 0 || k->vport >= m->g.vale_ports) {
		snprintf(ctx->err, ctx->errlen, "tx ring %u: not a switch port", k->ring_id);
		return -EIO;
	}
	ret = nmk_sync_prologue(m, k, ring, &head, ctx->err, ctx->errlen);
	if (ret < 0)
		return ret;
	struct nmk_vale_hdr *hdr = vale_hdr(m);
	uint32_t max_ports = m->g.vale_ports;
	struct nmk_vale_scratch *s = scratch_get(ctx, max_ports);
	if (s == NULL) {
		snprintf(ctx->err, ctx->errlen, "tx ring %u: out of memory for a batch", k->ring_id);
		return -ENOMEM;
	}
	char swname[NMK_VALE_NAME_MAX];
	memcpy(swname, hdr->name, sizeof(swname));
	swname[sizeof(swname) - 1] = '\0';
	lookup_refresh(s, swname);

	uint32_t scan = atomic_load_explicit(&hdr->max_active, memory_order_acquire);
	struct batch b = {
		.m = m, .s = s, .hdr = hdr, .src = vale_port(m, k->vport),
		.src_port = k->vport, .src_ring = k->ring_id, .max_ports = max_ports,
		.scan = scan < max_ports ? scan : max_ports, .ctx = ctx,
	};
	const uint32_t nbufs = m->l->p.buf_num, bufsize = m->l->p.buf_size;
	const uint8_t *bufbase = (const uint8_t *)m->base + m->l->buf_off;
	uint64_t tx_packets = 0, tx_bytes = 0, invalid = 0;
	uint32_t bad_slot = NO_PKT, first = 0, frags = 0, pkt_bytes = 0;

	/* Copy monitors see TX traffic before it is consumed. */
	if (nmk_has_monitors(k))
		nmk_mon_copy(m, k, ring, atomic_load_explicit(&k->hwcur, memory_order_relaxed) % n,
			     head, NS_TXMON, ctx);

	/* Preflush: snapshot the slots, group fragments, drop what is bad. */
	for (uint32_t i = atomic_load_explicit(&k->hwcur, memory_order_relaxed) % n; i != head;
	     i = next_slot(i, n)) {
		struct netmap_slot sl = ring->slot[i];
		if (sl.flags & NS_BUF_CHANGED)
			ring->slot[i].flags = sl.flags & (uint16_t)~NS_BUF_CHANGED;
		struct ft_ent *e = &s->ft[b.nft];
		bool ok = sl.buf_idx < nbufs && sl.len <= bufsize;
		if (!ok && bad_slot == NO_PKT)
			bad_slot = i;
		e->buf = bufbase + (uint64_t)(ok ? sl.buf_idx : 0) * bufsize;
		e->len = ok ? sl.len : 0;
		e->flags = sl.flags;
		pkt_bytes += e->len;
		if (frags == 0) {
			first = b.nft;
			e->bad = 0;
		}
		b.nft++;
		frags++;
		bool more = (sl.flags & NS_MOREFRAG) && frags < NETMAP_MAX_FRAGS;
		if (!ok)
			s->ft[first].bad = 1;
		if (more && next_slot(i, n) != head)
			continue;
		/* A packet ends here (or is cut: too many fragments, or the
		 * batch ends inside it). */
		s->ft[first].nfrags = (uint16_t)frags;
		if (s->ft[first].bad || (sl.flags & NS_MOREFRAG)) {
			/* Invalid, or an incomplete chain: netmap truncates; we
			 * drop it whole so that no half packet is delivered. */
			invalid++;
			b.nft = first;
		} else {
			tx_packets++;
			tx_bytes += pkt_bytes;
		}
		pkt_bytes = 0;
		frags = 0;
		if (b.nft >= BATCH)
			flush(&b);
	}
	flush(&b);

	/* Zero-copy monitors see TX traffic once it is consumed: now. */
	if (nmk_has_monitors(k))
		nmk_mon_swap(m, k, ring, atomic_load_explicit(&k->hwcur, memory_order_relaxed) % n,
			     head, NS_TXMON, ctx);

	/* The whole ring is free again: senders never wait for receivers. */
	atomic_store_explicit(&k->hwcur, head, memory_order_release);
	k->rhead = head;
	nmk_sync_set_tail(ring, k, head == 0 ? n - 1 : head - 1);

	struct nmk_vale_port *src = b.src;
	if (tx_packets) {
		atomic_fetch_add_explicit(&src->tx_packets, tx_packets, memory_order_relaxed);
		atomic_fetch_add_explicit(&src->tx_bytes, tx_bytes, memory_order_relaxed);
	}
	if (b.forwarded)
		atomic_fetch_add_explicit(&src->forwarded, b.forwarded, memory_order_relaxed);
	if (b.flooded)
		atomic_fetch_add_explicit(&src->flooded, b.flooded, memory_order_relaxed);
	if (b.drop_full)
		atomic_fetch_add_explicit(&src->drop_full, b.drop_full, memory_order_relaxed);
	if (b.drop_nodest)
		atomic_fetch_add_explicit(&src->drop_nodest, b.drop_nodest, memory_order_relaxed);
	if (invalid)
		atomic_fetch_add_explicit(&src->drop_invalid, invalid, memory_order_relaxed);
	if (bad_slot != NO_PKT) {
		snprintf(ctx->err, ctx->errlen,
			 "tx ring %u slot %u: buffer index or length invalid (buffers < %u, length <= %u); packet dropped",
			 k->ring_id, bad_slot, nbufs, bufsize);
		return -EINVAL;
	}
	return 0;
}

/* ---- rxsync ------------------------------------------------------------------ */

int nmk_vale_rxsync(const struct nmk_mem *m, struct nmk_kring *k, struct nmk_sync_ctx *ctx)
{
	struct netmap_ring *ring = nmk_ring_at(m->base, m->l, k->ring_index);
	uint32_t n = k->num_slots, head, bad = NO_PKT, bad_idx = 0;
	int ret = nmk_sync_prologue(m, k, ring, &head, ctx->err, ctx->errlen);

	if (ret < 0)
		return ret;
	/* Released slots: only those the receiver swapped a buffer into
	 * (NS_BUF_CHANGED) need a look; senders write into these buffers. */
	uint32_t hwcur = atomic_load_explicit(&k->hwcur, memory_order_relaxed) % n;
	for (uint32_t i = hwcur; i != head; i = next_slot(i, n)) {
		uint16_t flags = ring->slot[i].flags;
		if (!(flags & NS_BUF_CHANGED))
			continue;
		if (ring->slot[i].buf_idx >= m->l->p.buf_num) {
			if (bad == NO_PKT)
				bad = i, bad_idx = ring->slot[i].buf_idx;
			ring->slot[i].buf_idx = 0;
		}
		ring->slot[i].flags = flags & (uint16_t)~NS_BUF_CHANGED;
	}
	/* Zero-copy monitors see RX traffic once the reader releases it. */
	if (head != hwcur && nmk_has_monitors(k))
		nmk_mon_swap(m, k, ring, hwcur, head, 0, ctx);
	if (head != hwcur)
		atomic_store_explicit(&k->hwcur, head, memory_order_release);
	k->rhead = head;

	/* A ring held up by a lease of a dead sender: complete it. */
	if (k->lease_head != k->lease_tail) {
		struct nmk_lease *l = &nmk_leases_of(m, (uint32_t)(k - nmk_kring_at(m, 0)))
					       [k->lease_head % NMK_LEASES];
		if (atomic_load_explicit(&l->pid, memory_order_relaxed) &&
		    now_ms() - l->stamp >= LEASE_STALE_MS)
			nmk_vale_recover_leases(m, k, 0);
	}
	nmk_sync_set_tail(ring, k, atomic_load_explicit(&k->hwtail, memory_order_acquire) % n);
	nmk_sync_stamp(ring);
	if (bad != NO_PKT) {
		snprintf(ctx->err, ctx->errlen,
			 "rx ring %u slot %u: buffer index %u invalid (buffers < %u); reset to buffer 0",
			 k->ring_id, bad, bad_idx, m->l->p.buf_num);
		return -EINVAL;
	}
	return 0;
}
