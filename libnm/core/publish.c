/*
 * publish.c - publishing frames into RX rings, and feeding monitors (see
 * publish.h).
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <errno.h>

#include "copy.h"
#include "publish.h"

/* ---- monitors ---------------------------------------------------------------- */

/*
 * Reserve room in the monitor ring of entry e for slots [from, to) of src
 * (a ring of n slots).  When short of room, the oldest packets are skipped
 * (and counted as the monitor's drops): *first is where copying starts.
 * Returns the slots reserved (0: nothing to do), with the monitor ring's
 * view, first slot and lease index.
 */
static uint32_t mon_reserve(const struct nmk_mem *m, uint64_t e, uint32_t n,
			    const struct netmap_ring *src, uint32_t from, uint32_t to,
			    struct nmk_kring_view *mv, uint32_t *start, uint32_t *lidx,
			    uint32_t *first)
{
	uint32_t gen = (uint32_t)(e >> 32);
	int why;

	if (nmk_kring_view_load(m, (uint32_t)e & ~NMK_MON_ZCOPY, mv, NULL, 0) < 0)
		return 0;
	uint32_t count = nmk_ring_dist(from, to, n);
	uint32_t got = nmk_lease_take(m, mv, gen, count, start, lidx, &why);
	*first = from;
	if (got < count && why != NMK_LEASE_GONE) {
		uint32_t f = (from + (count - got)) % n;
		while (f != to && (src->slot[nmk_ring_prev(f, n)].flags & NS_MOREFRAG))
			f = nmk_ring_next(f, n);
		uint64_t lost = 0;
		for (uint32_t i = from; i != f; i = nmk_ring_next(i, n))
			lost += !(src->slot[i].flags & NS_MOREFRAG);
		atomic_fetch_add_explicit(&nmk_view_kring(m, mv)->drops, lost,
					  memory_order_relaxed);
		*first = f;
	}
	return got;
}

/* Complete a monitor lease: publish it and wake the monitor's reader. */
static void mon_done(const struct nmk_mem *m, const struct nmk_kring_view *mv, uint32_t lidx,
		     uint32_t used, struct nmk_sync_ctx *ctx)
{
	if (nmk_lease_done(m, mv, lidx, used))
		nmk_wake_armed(m, nmk_view_kring(m, mv), ctx);
}

/*
 * Feed slots [from, to) of `ring` (n slots, watched through kring k) to
 * k's monitors of one sort: copy monitors get copies, zero-copy ones swap
 * buffers with the ring (both slots then marked NS_BUF_CHANGED).
 */
static void mon_feed(const struct nmk_mem *m, const struct nmk_kring *k, uint32_t n,
		     struct netmap_ring *ring, uint32_t from, uint32_t to, uint16_t add_flags,
		     bool zcopy, struct nmk_sync_ctx *ctx)
{
	const uint32_t nbufs = m->l->p.buf_num, bufsize = m->l->p.buf_size;
	uint8_t *bufbase = (uint8_t *)m->base + m->l->buf_off;

	if (from == to)
		return;
	for (unsigned mi = 0; mi < NMK_MAX_MON; mi++) {
		uint64_t e = atomic_load_explicit(&k->mon[mi], memory_order_acquire);
		struct nmk_kring_view mv;
		uint32_t start, lidx, first;
		if (e == 0 || (((uint32_t)e & NMK_MON_ZCOPY) != 0) != zcopy ||
		    mon_reserve(m, e, n, ring, from, to, &mv, &start, &lidx, &first) == 0)
			continue;
		struct netmap_ring *mring = nmk_view_ring(m, &mv);
		uint32_t j = start, used = 0;
		for (uint32_t i = first; i != to; i = nmk_ring_next(i, n)) {
			struct netmap_slot *ss = &ring->slot[i], *ds = &mring->slot[j];
			uint32_t mine = ds->buf_idx, theirs = ss->buf_idx;
			uint16_t len = ss->len, flags = (uint16_t)((ss->flags & NS_MOREFRAG) | add_flags);
			if (mine >= nbufs || theirs >= nbufs || (!zcopy && len > bufsize)) {
				len = 0;
			} else if (zcopy) {
				ds->buf_idx = theirs;
				ss->buf_idx = mine;
			} else {
				nmk_pkt_copy(bufbase + (uint64_t)mine * bufsize,
					     bufbase + (uint64_t)theirs * bufsize, len, false);
			}
			if (zcopy) {
				ss->flags |= NS_BUF_CHANGED;
				flags |= NS_BUF_CHANGED;
			}
			ds->len = len;
			ds->flags = flags;
			j = nmk_ring_next(j, mv.num_slots);
			used++;
		}
		mon_done(m, &mv, lidx, used, ctx);
	}
}

void nmk_mon_copy(const struct nmk_mem *m, const struct nmk_kring *k, uint32_t n,
		  struct netmap_ring *src, uint32_t from, uint32_t to, uint16_t add_flags,
		  struct nmk_sync_ctx *ctx)
{
	mon_feed(m, k, n, src, from, to, add_flags, false, ctx);
}

void nmk_mon_swap(const struct nmk_mem *m, const struct nmk_kring *k, uint32_t n,
		  struct netmap_ring *ring, uint32_t from, uint32_t to, uint16_t add_flags,
		  struct nmk_sync_ctx *ctx)
{
	mon_feed(m, k, n, ring, from, to, add_flags, true, ctx);
}

/* ---- publishing ---------------------------------------------------------------- */

void nmk_publish(const struct nmk_mem *m, const struct nmk_kring_view *v, uint32_t to,
		 struct nmk_sync_ctx *ctx)
{
	struct nmk_kring *k = nmk_view_kring(m, v);
	uint32_t from = atomic_load_explicit(&k->hwtail, memory_order_relaxed) % v->num_slots;

	if (from == to)
		return;
	if (nmk_has_monitors(k))
		nmk_mon_copy(m, k, v->num_slots, nmk_view_ring(m, v), from, to, 0, ctx);
	atomic_store_explicit(&k->hwtail, to, memory_order_release);
	nmk_wake_armed(m, k, ctx);
}

void nmk_publish_lease(const struct nmk_mem *m, const struct nmk_kring_view *v, uint32_t start,
		       uint32_t idx, uint32_t used, struct nmk_sync_ctx *ctx)
{
	struct nmk_kring *k = nmk_view_kring(m, v);

	if (used && nmk_has_monitors(k))
		nmk_mon_copy(m, k, v->num_slots, nmk_view_ring(m, v), start,
			     (start + used) % v->num_slots, 0, ctx);
	if (nmk_lease_done(m, v, idx, used))
		nmk_wake_armed(m, k, ctx);
}

/* ---- the reader of a lease-filled ring ----------------------------------------- */

int nmk_leased_rxsync(struct nmk_sync *s)
{
	const struct nmk_mem *m = s->m;
	struct nmk_kring *k = s->k;
	struct netmap_ring *ring = s->ring;
	uint32_t n = s->v->num_slots, head = s->head, hwcur = s->hwcur;
	uint32_t bad = NMK_NONE, bad_idx = 0;

	/* Released slots: only those the receiver swapped a buffer into
	 * (NS_BUF_CHANGED) need a look; senders write into these buffers. */
	for (uint32_t i = hwcur; i != head; i = nmk_ring_next(i, n)) {
		uint16_t flags = ring->slot[i].flags;
		if (!(flags & NS_BUF_CHANGED))
			continue;
		if (ring->slot[i].buf_idx >= m->l->p.buf_num) {
			if (bad == NMK_NONE)
				bad = i, bad_idx = ring->slot[i].buf_idx;
			ring->slot[i].buf_idx = 0;
		}
		ring->slot[i].flags = flags & (uint16_t)~NS_BUF_CHANGED;
	}
	/* Zero-copy monitors see RX traffic once the reader releases it. */
	if (head != hwcur) {
		if (nmk_has_monitors(k))
			nmk_mon_swap(m, k, n, ring, hwcur, head, 0, s->ctx);
		atomic_store_explicit(&k->hwcur, head, memory_order_release);
	}
	k->rhead = head;

	/* A ring held up by a lease of a dead sender: complete it. */
	if (nmk_lease_maybe_stale(m, s->v))
		nmk_lease_recover(m, s->v, false);
	nmk_kring_set_tail(ring, k, nmk_tail_published(m, s->v));
	nmk_ring_stamp(ring);
	if (bad != NMK_NONE) {
		nmk_errbuf(s->ctx->err, s->ctx->errlen,
			   "rx ring %u slot %u: buffer index %u invalid (buffers < %u); reset to buffer 0",
			   s->v->ring_id, bad, bad_idx, m->l->p.buf_num);
		return -EINVAL;
	}
	return 0;
}
