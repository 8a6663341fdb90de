/*
 * driver_port.c - the rings of a driver port ("afpacket:eth0"): the driver
 * plugin runs in the process that opened the port and moves the slots.
 *
 * txsync hands slots [hwcur, head) to the driver and frees what it took
 * (as VALE frees its TX ring); rxsync releases [hwcur, head) and lets the
 * driver fill the free slots.  The driver is given the slot count from our
 * view and the buffer pool from our validated layout, never what the ring
 * itself says.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>

#include <nmkit/nmk_driver.h>

#include "port_kinds.h"
#include "publish.h"

struct driver_state {
	const struct nmk_driver *drv;
	struct nmk_driver_port *port;
};

void *nmk_driver_state_new(const struct nmk_driver *drv, struct nmk_driver_port *port)
{
	struct driver_state *st = malloc(sizeof(*st));

	if (st) {
		st->drv = drv;
		st->port = port;
	}
	return st;
}

static void driver_state_free(void *state)
{
	struct driver_state *st = state;

	if (st == NULL)
		return;
	st->drv->close(st->port);
	free(st);
}

static struct nmk_driver_ring driver_ring(const struct nmk_sync *s)
{
	struct nmk_driver_ring r = {
		.ring = s->ring,
		.bufbase = (char *)s->m->base + s->m->l->buf_off,
		.buf_size = s->m->l->p.buf_size,
		.nbufs = s->m->l->p.buf_num,
		.num_slots = s->v->num_slots,
	};
	return r;
}

static struct driver_state *state_of(struct nmk_sync *s)
{
	if (s->ctx->state == NULL)
		nmk_errbuf(s->ctx->err, s->ctx->errlen,
			   "%s ring %u: the driver runs in the process that opened the port",
			   s->v->dir == NMK_DIR_TX ? "tx" : "rx", s->v->ring_id);
	return s->ctx->state;
}

static int driver_txsync(struct nmk_sync *s)
{
	struct driver_state *st = state_of(s);
	struct netmap_ring *ring = s->ring;
	uint32_t n = s->v->num_slots, head = s->head, hwcur = s->hwcur;
	int ret = 0;

	if (st == NULL)
		return -EIO;
	for (uint32_t i = hwcur; i != head; i = nmk_ring_next(i, n))
		if (ring->slot[i].flags & NS_BUF_CHANGED)
			ring->slot[i].flags &= (uint16_t)~NS_BUF_CHANGED;
	struct nmk_driver_ring dr = driver_ring(s);
	int sent = head == hwcur ? 0 : st->drv->txsync(st->port, s->v->ring_id, &dr, hwcur, head);
	if (sent < 0) {
		nmk_errbuf(s->ctx->err, s->ctx->errlen, "tx ring %u: the driver failed: %s",
			   s->v->ring_id, strerror(-sent));
		sent = 0;
		ret = -EIO;
	}
	uint32_t pending = nmk_ring_dist(hwcur, head, n);
	if ((uint32_t)sent > pending)
		sent = (int)pending;
	hwcur = (hwcur + (uint32_t)sent) % n;
	atomic_store_explicit(&s->k->hwcur, hwcur, memory_order_release);
	s->k->rhead = head;
	nmk_kring_set_tail(ring, s->k, nmk_ring_prev(hwcur, n));
	return ret;
}

static int driver_rxsync(struct nmk_sync *s)
{
	struct driver_state *st = state_of(s);
	struct netmap_ring *ring = s->ring;
	uint32_t n = s->v->num_slots, head = s->head, hwcur = s->hwcur;
	int ret = 0;

	if (st == NULL)
		return -EIO;
	for (uint32_t i = hwcur; i != head; i = nmk_ring_next(i, n)) {
		uint16_t flags = ring->slot[i].flags;
		if (!(flags & NS_BUF_CHANGED))
			continue;
		if (!nmk_slot_ok(s->m, ring->slot[i].buf_idx, 0))
			ring->slot[i].buf_idx = 0;
		ring->slot[i].flags = flags & (uint16_t)~NS_BUF_CHANGED;
	}
	atomic_store_explicit(&s->k->hwcur, head, memory_order_release);
	s->k->rhead = head;
	uint32_t tail = atomic_load_explicit(&s->k->hwtail, memory_order_relaxed) % n;
	uint32_t room = nmk_ring_dist(tail, nmk_ring_prev(head, n), n);
	if (room) {
		struct nmk_driver_ring dr = driver_ring(s);
		int got = st->drv->rxsync(st->port, s->v->ring_id, &dr, tail, room);
		if (got < 0) {
			nmk_errbuf(s->ctx->err, s->ctx->errlen, "rx ring %u: the driver failed: %s",
				   s->v->ring_id, strerror(-got));
			got = 0;
			ret = -EIO;
		}
		if ((uint32_t)got > room)
			got = (int)room;
		nmk_publish(s->m, s->v, (tail + (uint32_t)got) % n, s->ctx);
	}
	nmk_kring_set_tail(ring, s->k, nmk_tail_published(s->m, s->v));
	nmk_ring_stamp(ring);
	return ret;
}

/* The driver frees what it has taken; an RX ring shows what it filled. */
static uint32_t driver_tail(const struct nmk_mem *m, const struct nmk_kring_view *v)
{
	return v->dir == NMK_DIR_RX ? nmk_tail_published(m, v) : nmk_tail_before_hwcur(m, v);
}

static int driver_sleep_fd(void *state, unsigned ring, bool tx, short *events)
{
	struct driver_state *st = state;

	if (st == NULL || st->drv->pollfd == NULL)
		return -1;
	int fd = st->drv->pollfd(st->port, ring, tx);
	if (fd >= 0)
		*events = tx ? POLLOUT : POLLIN;
	return fd;
}

const struct nmk_kind_ops nmk_driver_ops = {
	.txsync = driver_txsync,
	.rxsync = driver_rxsync,
	.tail = driver_tail,
	.state_free = driver_state_free,
	.sleep_fd = driver_sleep_fd,
};
