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
 * The leases themselves (reserve, complete, recover the dead's) are the
 * ring core's (libnm/core/lease.c), shared with monitors.
 *
 * Trust: everything read from the switch section and from destination
 * krings (port table entries, ring indices, slot counts, lease state) is
 * checked at every use; the section's geometry and the learning table's
 * size are taken once per sender, checked against the control object's
 * validated geometry, and kept privately (struct nmk_vale_scratch).
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "copy.h"
#include "forward.h"
#include "learn.h"
#include "nm_os.h"
#include "publish.h"
#include "vale_shm.h"

#define BATCH        1024u          /* netmap's NM_BDG_BATCH */
#define FT_SIZE      (BATCH + NETMAP_MAX_FRAGS)
#define NO_PKT       0xffffffffu

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

/* A sender's private state: the batch, and what it trusts of the switch. */
struct nmk_vale_scratch {
	struct ft_ent ft[FT_SIZE];
	struct nmk_vale_layout vl;      /* checked once, then used for every index */
	struct nmk_learn learn;
	char swname[NMK_VALE_NAME_MAX];
	uint64_t cache_bytes;           /* this CPU's L2: when copies bypass it */
	struct dst_q *q;                /* [max_ports * NMK_VALE_MAXRINGS] */
	uint32_t *dsts;                 /* keys of queues used by this batch */
	uint32_t ndsts;
	uint8_t *seen;                  /* [max_ports]: a unicast queue exists */
	/* The lookup registered for this switch in this process. */
	unsigned lookup_gen;
	nmk_vale_lookup_fn lookup;
	void *lookup_priv;
};

static void scratch_free(void *state)
{
	struct nmk_vale_scratch *s = state;

	if (s == NULL)
		return;
	free(s->q);
	free(s->dsts);
	free(s->seen);
	free(s);
}

/*
 * The sender's state, made on its first txsync: the switch section's
 * geometry as its header gives it, accepted only if it is exactly the
 * section the control object (validated when it was mapped) holds.
 */
static struct nmk_vale_scratch *scratch_get(const struct nmk_mem *m, struct nmk_sync_ctx *ctx)
{
	struct nmk_vale_scratch *s = ctx->state;

	if (s)
		return s;
	const struct nmk_vale_hdr *h = nmk_switch_section(m);
	struct nmk_vale_layout vl;
	if (m->g.sw_bytes < sizeof(*h) ||
	    nmk_vale_layout(*(const volatile uint32_t *)&h->max_ports,
			    *(const volatile uint32_t *)&h->learn_entries, &vl) < 0 ||
	    vl.bytes != m->g.sw_bytes) {
		nmk_errbuf(ctx->err, ctx->errlen, "the switch's header does not match its memory");
		return NULL;
	}
	s = calloc(1, sizeof(*s));
	if (s == NULL)
		goto oom;
	s->vl = vl;
	s->cache_bytes = nm_os_l2_cache_bytes();
	nmk_learn_attach(&s->learn, (char *)nmk_switch_section(m) + vl.learn_off, vl.learn_entries,
			 vl.max_ports);
	memcpy(s->swname, h->name, sizeof(s->swname));
	s->swname[sizeof(s->swname) - 1] = '\0';
	s->q = calloc((size_t)vl.max_ports * NMK_VALE_MAXRINGS, sizeof(*s->q));
	s->dsts = malloc(sizeof(*s->dsts) * (vl.max_ports * NMK_VALE_MAXRINGS + 1));
	s->seen = calloc(vl.max_ports, 1);
	if (!s->q || !s->dsts || !s->seen) {
		scratch_free(s);
		goto oom;
	}
	s->lookup_gen = ~0u;
	ctx->state = s;
	return s;
oom:
	nmk_errbuf(ctx->err, ctx->errlen, "out of memory for a batch");
	return NULL;
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

static void lookup_refresh(struct nmk_vale_scratch *s)
{
	unsigned gen = atomic_load_explicit(&lookup_gen, memory_order_acquire);

	if (gen == s->lookup_gen)
		return;
	pthread_mutex_lock(&lookup_lock);
	s->lookup = NULL;
	s->lookup_priv = NULL;
	for (unsigned i = 0; i < sizeof(lookups) / sizeof(lookups[0]); i++) {
		if (lookups[i].fn && strncmp(lookups[i].sw, s->swname, NMK_VALE_NAME_MAX) == 0) {
			s->lookup = lookups[i].fn;
			s->lookup_priv = lookups[i].priv;
		}
	}
	s->lookup_gen = gen;
	pthread_mutex_unlock(&lookup_lock);
}

/* ---- txsync ----------------------------------------------------------------- */

struct batch {
	const struct nmk_mem *m;
	struct nmk_vale_scratch *s;
	void *section;
	struct nmk_vale_port *src;
	uint32_t src_port, src_ring, scan;
	uint32_t nft;                   /* slots in ft */
	uint32_t bc_head, bc_tail, bc_slots, bc_packets;
	uint64_t drop_nodest, drop_full, forwarded, flooded;
	struct nmk_sync_ctx *ctx;
};

static inline struct nmk_vale_port *vport_of(const struct batch *b, uint32_t i)
{
	return nmk_vale_port_at(b->section, &b->s->vl, i);
}

/* The RX ring of `port` that receives ring `ring`'s traffic, checked:
 * 0 with its view and generation, or -1 when the port is not (or no longer)
 * a valid destination. */
static int dest_ring(const struct batch *b, uint32_t port, uint32_t ring,
		     struct nmk_kring_view *dv, uint32_t *gen)
{
	struct nmk_vale_port *vp = vport_of(b, port);

	if (atomic_load_explicit(&vp->state, memory_order_acquire) != NMK_VPORT_ACTIVE)
		return -1;
	uint32_t nrx = *(volatile uint32_t *)&vp->nrx;
	*gen = *(volatile uint32_t *)&vp->gen;
	if (nrx == 0 || nrx > NMK_VALE_MAXRINGS)
		return -1;
	uint32_t kidx = *(volatile uint32_t *)&vp->rx_kring[ring % nrx];
	return nmk_kring_view_load(b->m, kidx, dv, NULL, 0) < 0 ? -1 : 0;
}

/* Deliver the packets of one destination: its unicast queue merged with
 * the broadcast queue, in batch order. */
static void deliver(struct batch *b, uint32_t port, struct dst_q *uq)
{
	const struct nmk_mem *m = b->m;
	uint32_t want = (uq ? uq->slots : 0) + (port == b->src_port ? 0 : b->bc_slots);
	uint32_t packets = (uq ? uq->packets : 0) + (port == b->src_port ? 0 : b->bc_packets);
	struct nmk_kring_view dv;
	uint32_t gen;

	if (want == 0)
		return;
	if (dest_ring(b, port, uq ? uq->ring : b->src_ring, &dv, &gen) < 0) {
		b->drop_nodest += packets;
		return;
	}
	struct nmk_kring *k = nmk_view_kring(m, &dv);
	uint32_t n = dv.num_slots, start, lidx;
	int why;
	/* A ring held up by a lease of a dead sender: complete it here, not
	 * only in the receiver's rxsync, since a receiver asleep in poll never
	 * syncs and nothing behind the dead lease (ours included) could be
	 * published to wake it. */
	if (nmk_lease_maybe_stale(m, &dv) && nmk_lease_recover(m, &dv, false))
		nmk_wake_armed(m, k, b->ctx);
	/* Another sender preempted in the middle of its lease (two senders on
	 * one CPU) holds up the ring until it runs again: let it run now,
	 * rather than find the ring full for the rest of our time slice. */
	if (nmk_lease_held_up(m, &dv, want))
		sched_yield();
	uint32_t got = nmk_lease_take(m, &dv, gen, want, &start, &lidx, &why);
	if (got == 0) {
		if (why == NMK_LEASE_GONE) {
			b->drop_nodest += packets;
		} else {
			b->drop_full += packets;
			atomic_fetch_add_explicit(&k->drops, packets, memory_order_relaxed);
		}
		return;
	}

	struct netmap_ring *ring_p = nmk_view_ring(m, &dv);
	const uint32_t nbufs = m->l->p.buf_num, bufsize = m->l->p.buf_size;
	uint8_t *bufbase = (uint8_t *)m->base + m->l->buf_off;
	uint32_t j = start, used = 0, done = 0, done_u = 0;
	uint64_t bytes = 0;
	uint32_t u = uq ? uq->head : NO_PKT;
	uint32_t bc = port == b->src_port ? NO_PKT : b->bc_head;
	struct ft_ent *ft = b->s->ft;
	const uint32_t stream_min = nmk_stream_min(b->s->cache_bytes, n);

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
				nmk_pkt_copy(bufbase + (uint64_t)idx * bufsize, ft[p].buf, len,
					     len >= stream_min);
			ds->len = len;
			ds->flags = 1u << 8;
			bytes += len;
			j = nmk_ring_next(j, n);
		} else {
			for (uint32_t f = 0; f < nf; f++) {
				const struct ft_ent *e = &ft[p + f];
				struct netmap_slot *ds = &ring_p->slot[j];
				uint32_t idx = ds->buf_idx;
				uint16_t len = e->len;
				if (idx >= nbufs)
					len = 0;
				else
					nmk_pkt_copy(bufbase + (uint64_t)idx * bufsize, e->buf, len,
						     len >= stream_min);
				ds->len = len;
				/* VALE writes the total fragment count in the high byte. */
				ds->flags = (uint16_t)((nf << 8) | (f + 1 < nf ? NS_MOREFRAG : 0));
				bytes += len;
				j = nmk_ring_next(j, n);
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
	nmk_copy_fence();
	/* Copy monitors of the destination see the frames as they arrive. */
	nmk_publish_lease(m, &dv, start, lidx, used, b->ctx);

	struct nmk_vale_port *vp = vport_of(b, port);
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
	uint32_t now_s = nmk_now_s();

	if (b->nft == 0)
		return;
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
				dst = nmk_learn_lookup(&s->learn, ft[p].buf, ft[p].len, b->src_port,
						       now_s);
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
		if (dst >= s->vl.max_ports || dst == b->src_port) {
			b->drop_nodest++;
			continue;
		}
		uint32_t key = dst * NMK_VALE_MAXRINGS + (ring % NMK_VALE_MAXRINGS);
		struct dst_q *q = &s->q[key];
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
		deliver(b, key / NMK_VALE_MAXRINGS, &s->q[key]);
	}
	/* Broadcast to every other active port that got no unicast. */
	if (b->bc_packets) {
		for (uint32_t port = 0; port < b->scan; port++) {
			if (port == b->src_port || s->seen[port])
				continue;
			if (atomic_load_explicit(&vport_of(b, port)->state, memory_order_acquire) !=
			    NMK_VPORT_ACTIVE)
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

static int vale_txsync(struct nmk_sync *sy)
{
	const struct nmk_mem *m = sy->m;
	struct nmk_sync_ctx *ctx = sy->ctx;
	struct netmap_ring *ring = sy->ring;
	uint32_t n = sy->v->num_slots, head = sy->head;
	struct nmk_vale_scratch *s = scratch_get(m, ctx);

	if (s == NULL)
		return -ENOMEM;
	if (sy->v->vport >= s->vl.max_ports) {
		nmk_errbuf(ctx->err, ctx->errlen, "tx ring %u: not a switch port", sy->v->ring_id);
		return -EIO;
	}
	lookup_refresh(s);

	void *section = nmk_switch_section(m);
	const struct nmk_vale_hdr *hdr = section;
	uint32_t max_ports = s->vl.max_ports;
	uint32_t scan = atomic_load_explicit(&hdr->max_active, memory_order_acquire);
	struct batch b = {
		.m = m, .s = s, .section = section,
		.src = nmk_vale_port_at(section, &s->vl, sy->v->vport),
		.src_port = sy->v->vport, .src_ring = sy->v->ring_id,
		.scan = scan < max_ports ? scan : max_ports, .ctx = ctx,
	};
	const uint32_t nbufs = m->l->p.buf_num, bufsize = m->l->p.buf_size;
	const uint8_t *bufbase = (const uint8_t *)m->base + m->l->buf_off;
	uint64_t tx_packets = 0, tx_bytes = 0, invalid = 0;
	uint32_t bad_slot = NO_PKT, first = 0, frags = 0, pkt_bytes = 0;

	/* Preflush: snapshot the slots, group fragments, drop what is bad. */
	for (uint32_t i = sy->hwcur; i != head; i = nmk_ring_next(i, n)) {
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
		if (more && nmk_ring_next(i, n) != head)
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
	if (nmk_has_monitors(sy->k))
		nmk_mon_swap(m, sy->k, n, ring, sy->hwcur, head, NS_TXMON, ctx);

	/* The whole ring is free again: senders never wait for receivers. */
	atomic_store_explicit(&sy->k->hwcur, head, memory_order_release);
	sy->k->rhead = head;
	nmk_kring_set_tail(ring, sy->k, nmk_ring_prev(head, n));

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
		nmk_errbuf(ctx->err, ctx->errlen,
			   "tx ring %u slot %u: buffer index or length invalid (buffers < %u, length <= %u); packet dropped",
			   sy->v->ring_id, bad_slot, nbufs, bufsize);
		return -EINVAL;
	}
	return 0;
}

/* After a txsync the whole TX ring is free; an RX ring shows what senders
 * published. */
static uint32_t vale_tail(const struct nmk_mem *m, const struct nmk_kring_view *v)
{
	return v->dir == NMK_DIR_RX ? nmk_tail_published(m, v) : nmk_tail_before_hwcur(m, v);
}

const struct nmk_kind_ops nmk_vale_ops = {
	.txsync = vale_txsync,
	.rxsync = nmk_leased_rxsync,
	.tail = vale_tail,
	.state_free = scratch_free,
};
