/*
 * pipe.c - netmap pipes: the rings of "x{N" and "x}N" (reference §2.8).
 *
 * TX ring i of one end and RX ring i of the other share one slot index
 * space: a txsync moves slot descriptors, never data.  The TX ring owns
 * the buffers; the RX ring starts "fake" (every slot on buffer 0).
 *
 * Ordering, so that a process killed at any instruction leaves a state the
 * next sync (by anyone) can continue from:
 *   txsync: copy slots to the peer -> publish own hwcur -> publish the
 *           peer's hwtail (complete packets only) -> wake the peer;
 *   rxsync: copy released slots back to the peer -> publish own hwcur ->
 *           wake the peer.
 * A slot is never visible to the other side before its contents are.
 *
 * The peer's kring is another port's, so nothing of it is trusted but its
 * index (from our own view): its ring object can hold as many slots as
 * ours since all ring objects of a region have one size, and we index it
 * with our own slot count.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <errno.h>
#include <stdio.h>

#include "port_kinds.h"
#include "publish.h"

/* The peer ring, as our view names it (checked at load: < nkrings). */
static struct nmk_kring_view peer_view(const struct nmk_kring_view *v)
{
	struct nmk_kring_view p = *v;

	p.index = v->peer;
	p.dir = v->dir == NMK_DIR_TX ? NMK_DIR_RX : NMK_DIR_TX;
	p.peer = v->index;
	return p;
}

static int no_peer(struct nmk_sync *s)
{
	nmk_errbuf(s->ctx->err, s->ctx->errlen, "%s ring %u: pipe peer ring is missing",
		   s->v->dir == NMK_DIR_TX ? "tx" : "rx", s->v->ring_id);
	return -EIO;
}

/*
 * The last complete packet of slots [hwtail of the peer, upto) that TX
 * ring v handed over: the peer may see up to there.  Chains longer than
 * NETMAP_MAX_FRAGS are cut, so none can wedge the ring; *cut tells.
 */
static uint32_t complete_upto(const struct nmk_mem *m, const struct nmk_kring_view *pv,
			      uint32_t upto, bool *cut)
{
	struct netmap_ring *pring = nmk_view_ring(m, pv);
	uint32_t n = pv->num_slots;
	uint32_t old = atomic_load_explicit(&nmk_view_kring(m, pv)->hwtail,
					    memory_order_relaxed) % n;
	uint32_t last = old, frags = 0;

	*cut = false;
	for (uint32_t i = old; i != upto; i = nmk_ring_next(i, n)) {
		uint16_t flags = pring->slot[i].flags;
		if ((flags & NS_MOREFRAG) && ++frags < NETMAP_MAX_FRAGS)
			continue;
		if (frags >= NETMAP_MAX_FRAGS && (flags & NS_MOREFRAG)) {
			pring->slot[i].flags = flags & (uint16_t)~NS_MOREFRAG;
			*cut = true;
		}
		frags = 0;
		last = nmk_ring_next(i, n);
	}
	return last;
}

/* TX space returns only when the receiver releases slots; an RX ring shows
 * what the sender published. */
static uint32_t pipe_tail(const struct nmk_mem *m, const struct nmk_kring_view *v)
{
	uint32_t n = v->num_slots;

	if (v->dir == NMK_DIR_RX)
		return nmk_tail_published(m, v);
	if (v->peer == NMK_NONE)
		return nmk_view_kring(m, v)->rtail % n;
	return nmk_ring_prev(atomic_load_explicit(&nmk_kring_at(m, v->peer)->hwcur,
						  memory_order_acquire) % n, n);
}

static int pipe_txsync(struct nmk_sync *s)
{
	const struct nmk_mem *m = s->m;
	struct netmap_ring *ring = s->ring;
	uint32_t n = s->v->num_slots, head = s->head, hwcur = s->hwcur;
	uint32_t bad = 0, bad_slot = 0, bad_idx = 0, bad_len = 0;

	if (s->v->peer == NMK_NONE)
		return no_peer(s);
	struct nmk_kring_view pv = peer_view(s->v);
	struct netmap_ring *pring = nmk_view_ring(m, &pv);

	/* 1. Hand slots [hwcur, head) to the peer: descriptors only.  (The
	 * limits in locals: the slot stores could alias the layout, so the
	 * compiler would reload them for every slot.) */
	const uint32_t nbufs = m->l->p.buf_num, bufsize = m->l->p.buf_size;
	for (uint32_t i = hwcur; i != head; i = nmk_ring_next(i, n)) {
		struct netmap_slot sl = ring->slot[i];
		if (sl.buf_idx >= nbufs || sl.len > bufsize) {
			if (!bad++)
				bad_slot = i, bad_idx = sl.buf_idx, bad_len = sl.len;
			sl.buf_idx = 0;
			sl.len = 0;
			ring->slot[i].buf_idx = 0;
			ring->slot[i].len = 0;
		}
		/* Write back only what changes: a slot's cache line then stays
		 * where it is. */
		if (sl.flags & NS_BUF_CHANGED) {
			sl.flags &= (uint16_t)~NS_BUF_CHANGED;
			ring->slot[i].flags = sl.flags;
		}
		pring->slot[i] = sl;
	}

	/* 2. Our progress. */
	atomic_store_explicit(&s->k->hwcur, head, memory_order_release);
	s->k->rhead = head;

	/* 3. The peer sees only complete packets.  We are the only writer of
	 * its hwtail, so scanning from it also finishes the work of a syncer
	 * that was killed between steps 2 and 3. */
	bool cut;
	uint32_t last = complete_upto(m, &pv, head, &cut);
	nmk_publish(m, &pv, last, s->ctx);

	/* 4. Our new tail: TX space returns when the receiver releases. */
	nmk_kring_set_tail(ring, s->k, pipe_tail(m, s->v));
	if (cut) {
		nmk_errbuf(s->ctx->err, s->ctx->errlen,
			   "tx ring %u: fragment chain longer than %d slots; cut", s->v->ring_id,
			   NETMAP_MAX_FRAGS);
		return -EINVAL;
	}
	if (bad) {
		nmk_errbuf(s->ctx->err, s->ctx->errlen,
			   "tx ring %u slot %u: buffer %u / length %u invalid (buffers < %u, length <= %u); %u slot(s) sent empty",
			   s->v->ring_id, bad_slot, bad_idx, bad_len, m->l->p.buf_num,
			   m->l->p.buf_size, bad);
		return -EINVAL;
	}
	return 0;
}

static int pipe_rxsync(struct nmk_sync *s)
{
	const struct nmk_mem *m = s->m;
	struct netmap_ring *ring = s->ring;
	uint32_t n = s->v->num_slots, head = s->head, hwcur = s->hwcur;
	uint32_t bad = 0, bad_slot = 0, bad_idx = 0;

	if (s->v->peer == NMK_NONE)
		return no_peer(s);
	struct nmk_kring_view pv = peer_view(s->v);
	struct nmk_kring *pk = nmk_view_kring(m, &pv);
	struct netmap_ring *pring = nmk_view_ring(m, &pv);

	/* Zero-copy monitors see the packets once released: the receiver's
	 * own (/z on this end) and, since a pipe's TX slot completes when its
	 * peer releases it, the sender's (/z on the other end).  Swapped
	 * slots are marked NS_BUF_CHANGED, so step 1 hands the new buffers
	 * back to the sender. */
	if (hwcur != head) {
		if (nmk_has_monitors(s->k))
			nmk_mon_swap(m, s->k, n, ring, hwcur, head, 0, s->ctx);
		if (nmk_has_monitors(pk))
			nmk_mon_swap(m, pk, n, ring, hwcur, head, NS_TXMON, s->ctx);
	}

	/* 1. Give released slots [hwcur, head) back to the sender.  Only
	 * slots the receiver marked NS_BUF_CHANGED (it swapped a buffer in, as
	 * netmap requires it to say) are copied: the sender's slots are not
	 * touched otherwise, so their cache lines stay on the sender's core. */
	for (uint32_t i = hwcur; i != head; i = nmk_ring_next(i, n)) {
		uint16_t flags = ring->slot[i].flags;
		if (!(flags & NS_BUF_CHANGED))
			continue;
		uint32_t idx = ring->slot[i].buf_idx;
		if (!nmk_slot_ok(m, idx, 0)) {
			if (!bad++)
				bad_slot = i, bad_idx = idx;
			idx = 0;
			ring->slot[i].buf_idx = 0;
		}
		pring->slot[i].buf_idx = idx;
		pring->slot[i].flags |= NS_BUF_CHANGED;
		ring->slot[i].flags = flags & (uint16_t)~NS_BUF_CHANGED;
	}
	/* 2. Publish: the sender's tail follows our hwcur. */
	if (head != hwcur) {
		atomic_store_explicit(&s->k->hwcur, head, memory_order_release);
		nmk_wake_armed(m, pk, s->ctx);
	}
	s->k->rhead = head;

	/* 3. New packets, and netmap's receive timestamp. */
	nmk_kring_set_tail(ring, s->k, nmk_tail_published(m, s->v));
	nmk_ring_stamp(ring);
	if (bad) {
		nmk_errbuf(s->ctx->err, s->ctx->errlen,
			   "rx ring %u slot %u: buffer index %u invalid (buffers < %u); %u slot(s) reset to buffer 0",
			   s->v->ring_id, bad_slot, bad_idx, m->l->p.buf_num, bad);
		return -EINVAL;
	}
	return 0;
}

/*
 * A TX ring lost its last user.  Nobody alive is inside a sync of it, so
 * what a killed sender left half done is settled here: it may have handed
 * over the first fragments of a packet (a txsync may stop inside one) and
 * will never send the rest; left there, the next sender's first packet
 * would be glued to them.  Publish the complete packets it handed over (it
 * may have died before publishing them: the txsync's step 3), then give
 * the slots of the incomplete one back to the TX ring.  The receiver never
 * saw them: its hwtail stops at the last complete packet.
 */
static void pipe_abandoned(const struct nmk_mem *m, const struct nmk_kring_view *v)
{
	if (v->dir != NMK_DIR_TX || v->peer == NMK_NONE)
		return;
	struct nmk_kring *k = nmk_view_kring(m, v);
	struct nmk_kring_view pv = peer_view(v);
	struct nmk_kring *pk = nmk_view_kring(m, &pv);
	uint32_t hwcur = atomic_load(&k->hwcur) % v->num_slots;
	bool cut;
	uint32_t last = complete_upto(m, &pv, hwcur, &cut);

	/* No monitor copy and no wake-up here: the broker wakes every
	 * sleeper of the pair itself. */
	atomic_store_explicit(&pk->hwtail, last, memory_order_release);
	if (last != hwcur) {
		/* The next user's view starts here (nmk_kring_reset_view). */
		atomic_store_explicit(&k->hwcur, last, memory_order_release);
		k->rhead = last;
	}
}

const struct nmk_kind_ops nmk_pipe_ops = {
	.txsync = pipe_txsync,
	.rxsync = pipe_rxsync,
	.tail = pipe_tail,
	.abandoned = pipe_abandoned,
};
