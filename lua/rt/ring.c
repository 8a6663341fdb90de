/*
 * ring.c - nmlua's batch calls on one ring (see ring.h).
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include "ring.h"
#include "clock.h"
#include "task.h"

#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>

#include <nmkit/nmk_util.h>

struct nmlua_ring *nmlua_ring_open(struct nmk_port *port, int tx, uint32_t i, char *err)
{
	const struct nmk_port_info *info = nmk_port_info(port);
	uint32_t first = tx ? info->first_tx_ring : info->first_rx_ring;
	uint32_t last = tx ? info->last_tx_ring : info->last_rx_ring;
	const char *dir = tx ? "tx" : "rx";

	if (i >= last - first) {
		nmk_errbuf(err, NMK_ERRBUF_SIZE, "%s: no %s ring %u (the port has %u bound)",
			   info->name, dir, i, last - first);
		return NULL;
	}
	struct netmap_ring *ring = tx ? nmk_port_txring(port, first + i) : nmk_port_rxring(port, first + i);
	if (ring == NULL) {
		nmk_errbuf(err, NMK_ERRBUF_SIZE, "%s: %s ring %u: %s", info->name, dir, first + i,
			   strerror(errno));
		return NULL;
	}
	uint8_t *mem = nmk_port_mem(port);
	/* buf_ofs is in shared memory: check that the buffers it points at lie
	 * in the region before anything follows it. */
	int64_t ofs = ring->buf_ofs;
	uint8_t *bufs = (uint8_t *)ring + ofs;
	uint64_t slots = tx ? info->tx_slots : info->rx_slots;
	if (bufs < mem || bufs >= mem + info->memsize || info->buf_size == 0 || slots == 0) {
		nmk_errbuf(err, NMK_ERRBUF_SIZE, "%s: %s ring %u: buffers outside the region",
			   info->name, dir, first + i);
		return NULL;
	}
	struct nmlua_ring *r = calloc(1, sizeof(*r));
	if (r == NULL) {
		nmk_errbuf(err, NMK_ERRBUF_SIZE, "%s: out of memory", info->name);
		return NULL;
	}
	r->ring = ring;
	r->slot = ring->slot;
	r->bufs = bufs;
	r->num_slots = (uint32_t)slots;
	r->buf_size = info->buf_size;
	uint64_t nbufs = (uint64_t)(mem + info->memsize - bufs) / info->buf_size;
	r->nbufs = nbufs > UINT32_MAX ? UINT32_MAX : (uint32_t)nbufs;
	r->tx = tx ? 1 : 0;
	r->index = first + i;
	r->port = port;
	return r;
}

void nmlua_ring_close(struct nmlua_ring *r)
{
	if (r == NULL)
		return;
	free(r->dst_by_buf);
	free(r);
}

/* Slots from cur to tail, as this process sees them; 0 when the ring
 * holds values out of range (the next sync resets it and says why). */
static uint32_t ready(const struct nmlua_ring *r)
{
	uint32_t cur = r->ring->cur, tail = r->ring->tail, n = r->num_slots;

	if (cur >= n || tail >= n)
		return 0;
	return nmk_ring_dist(cur, tail, n);
}

/* The buffer of slot j, or NULL when its index is out of the region. */
static uint8_t *slot_buf(const struct nmlua_ring *r, uint32_t j)
{
	uint32_t idx = r->slot[j].buf_idx;

	return idx < r->nbufs ? r->bufs + (uint64_t)idx * r->buf_size : NULL;
}

static _Thread_local struct nmlua_ring *sending;

int nmlua_ring_send(struct nmlua_ring *r, uint32_t n, int32_t stamp_off)
{
	uint32_t room = ready(r), cur = r->ring->cur;

	if (n > room)
		n = room;
	if (stamp_off >= 0 && (uint64_t)stamp_off + 16 <= r->buf_size && n > 0) {
		uint64_t now = nmlua_cycles();
		for (uint32_t k = 0, j = cur; k < n; k++, j = nmk_ring_next(j, r->num_slots)) {
			uint8_t *p = slot_buf(r, j);
			if (p != NULL)
				memcpy(p + stamp_off + 8, &now, sizeof(now));
		}
	}
	cur = (cur + n) % r->num_slots;
	r->ring->head = r->ring->cur = cur;
	sending = r->dst_by_buf ? r : NULL;
	int ret = nmk_txsync(r->port);
	sending = NULL;
	r->t_sync = nmlua_cycles();
	r->error = ret < 0 ? ret : 0;
	return ret < 0 ? ret : (int)ready(r);
}

int nmlua_ring_recv(struct nmlua_ring *r, uint32_t max)
{
	int ret = nmk_rxsync(r->port);

	r->t_sync = nmlua_cycles();
	r->error = ret < 0 ? ret : 0;
	if (ret < 0)
		return ret;
	r->dropped = (double)nmk_port_rx_dropped(r->port);
	uint32_t n = ready(r);
	return (int)(n < max ? n : max);
}

int nmlua_ring_poll(struct nmlua_ring *r, int timeout_ms)
{
	uint64_t end = timeout_ms < 0 ? UINT64_MAX : nmlua_now_ns() + (uint64_t)timeout_ms * 1000000u;

	/* In slices of at most 50 ms, so that a stopped run is noticed
	 * whatever the timeout. */
	for (;;) {
		if (ready(r) > 0)
			return 1;
		uint64_t now = nmlua_now_ns();
		if (now >= end || !nmlua_running(0))
			return 0;
		uint64_t left_ms = (end - now) / 1000000u;
		int slice = left_ms > 50 ? 50 : (int)left_ms;
		int ret = nmk_port_poll(r->port, r->tx ? POLLOUT : POLLIN, slice);
		if (ret < 0 && ret != -EINTR)
			return ret;
		if (ret > 0 && !(ret & POLLERR)) {
			/* poll synced the rings: tail is fresh. */
			if (ready(r) > 0)
				return 1;
		}
	}
}

int nmlua_ring_prefill(struct nmlua_ring *r, const uint8_t *frame, uint32_t len)
{
	if (len > r->buf_size || len > UINT16_MAX)
		return -EINVAL;
	for (uint32_t j = 0; j < r->num_slots; j++) {
		uint8_t *p = slot_buf(r, j);
		if (p == NULL)
			return -EINVAL;
		memcpy(p, frame, len);
		r->slot[j].len = (uint16_t)len;
		r->slot[j].flags = 0;
	}
	return 0;
}

uint32_t nmlua_ring_copy(struct nmlua_ring *dst, struct nmlua_ring *src, uint32_t max)
{
	uint32_t n = ready(src), room = ready(dst);
	uint32_t sj = src->ring->cur, dj = dst->ring->cur;
	uint32_t copied = 0;

	if (n > room)
		n = room;
	if (n > max)
		n = max;
	for (uint32_t k = 0; k < n; k++) {
		uint8_t *s = slot_buf(src, sj), *d = slot_buf(dst, dj);
		uint32_t len = src->slot[sj].len;
		sj = nmk_ring_next(sj, src->num_slots);
		/* A slot that cannot be copied (bad index, too long) is
		 * consumed on the source side and not sent. */
		if (s == NULL || d == NULL || len > src->buf_size || len > dst->buf_size)
			continue;
		memcpy(d, s, len);
		dst->slot[dj].len = (uint16_t)len;
		dst->slot[dj].flags = 0;
		dj = nmk_ring_next(dj, dst->num_slots);
		copied++;
	}
	src->ring->head = src->ring->cur = sj;
	dst->ring->head = dst->ring->cur = dj;
	return copied;
}

/* The lookup that VALE's forwarding calls in this process for switches with
 * a Lua lookup: the destination that Lua wrote for the frame's buffer when
 * the frame comes from the ring being sent on this thread; every other
 * frame (another task's ring without a Lua lookup) is flooded. */
static uint32_t lookup_by_buf(const uint8_t *frame, uint32_t len, uint32_t src_port,
			      uint32_t *dst_ring, void *priv)
{
	struct nmlua_ring *r = sending;

	(void)len;
	(void)src_port;
	(void)dst_ring;
	(void)priv;
	if (r == NULL || frame < r->bufs)
		return NMK_VALE_BROADCAST;
	uint64_t idx = (uint64_t)(frame - r->bufs) / r->buf_size;
	if (idx >= r->nbufs)
		return NMK_VALE_BROADCAST;
	return r->dst_by_buf[idx];
}

int nmlua_ring_lookup(struct nmlua_ring *r, const char *sw, char *err)
{
	if (sw == NULL) {
		free(r->dst_by_buf);
		r->dst_by_buf = NULL;
		return 0;
	}
	if (!r->tx) {
		nmk_errbuf(err, NMK_ERRBUF_SIZE, "%s: a lookup belongs on a TX ring",
			   nmk_port_info(r->port)->name);
		return -EINVAL;
	}
	if (r->dst_by_buf == NULL) {
		r->dst_by_buf = malloc((size_t)r->nbufs * sizeof(uint16_t));
		if (r->dst_by_buf == NULL) {
			nmk_errbuf(err, NMK_ERRBUF_SIZE, "%s: out of memory for the lookup table",
				   nmk_port_info(r->port)->name);
			return -ENOMEM;
		}
		for (uint32_t i = 0; i < r->nbufs; i++)
			r->dst_by_buf[i] = NMK_VALE_DROP;
	}
	int ret = nmk_vale_set_lookup(sw, lookup_by_buf, NULL);
	if (ret < 0)
		nmk_errbuf(err, NMK_ERRBUF_SIZE, "%s: cannot set the lookup: %s", sw, nmk_strerror(ret));
	return ret;
}
