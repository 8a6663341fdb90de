/*
 * loopdrv.c - a test driver plugin: "loop:<name>" sends every frame back to
 * itself.  It lets the tests drive a driver port end to end (open through
 * the registry, txsync and rxsync through the driver, poll on its fd)
 * without a device or privileges.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <nmkit/nmk_driver.h>
#include <net/netmap.h>

#define QLEN 4096

struct nmk_driver_port {
	uint8_t (*frames)[2048];
	uint16_t len[QLEN];
	uint32_t head, count;           /* a FIFO of frames */
	int efd;                        /* readable while frames wait */
	struct nmk_driver_stats st;
};

static int loop_open(const struct nmk_driver_open_args *a, struct nmk_driver_port **port,
		     struct nmk_driver_geometry *g, char *err, size_t errlen)
{
	if (a->ifname[0] == '\0') {
		snprintf(err, errlen, "loop: a name is needed after 'loop:'");
		return -EINVAL;
	}
	struct nmk_driver_port *p = calloc(1, sizeof(*p));
	if (p == NULL || (p->frames = malloc(sizeof(*p->frames) * QLEN)) == NULL) {
		free(p);
		snprintf(err, errlen, "loop: out of memory");
		return -ENOMEM;
	}
	p->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	g->tx_rings = g->rx_rings = 1;
	g->tx_slots = a->tx_slots ? a->tx_slots : 256;
	g->rx_slots = a->rx_slots ? a->rx_slots : 256;
	g->mtu = 2048;
	for (unsigned i = 0; i < a->nparams; i++)
		if (!strcmp(a->keys[i], "slots"))
			g->tx_slots = g->rx_slots = (uint32_t)atoi(a->values[i]);
	*port = p;
	return 0;
}

static void loop_close(struct nmk_driver_port *p)
{
	close(p->efd);
	free(p->frames);
	free(p);
}

static int loop_pollfd(struct nmk_driver_port *p, unsigned ring, int tx)
{
	(void)ring;
	(void)tx;
	return p->efd;
}

static int loop_txsync(struct nmk_driver_port *p, unsigned ring, const struct nmk_driver_ring *r,
		       uint32_t from, uint32_t to)
{
	struct netmap_ring *nr = r->ring;
	int taken = 0;

	(void)ring;
	for (uint32_t i = from; i != to && p->count < QLEN; i = nmk_ring_next(i, r->num_slots)) {
		struct netmap_slot *s = &nr->slot[i];
		if (s->buf_idx < r->nbufs && s->len <= 2048) {
			uint32_t t = (p->head + p->count) % QLEN;
			memcpy(p->frames[t], r->bufbase + (uint64_t)s->buf_idx * r->buf_size, s->len);
			p->len[t] = s->len;
			p->count++;
			p->st.tx_packets++;
		} else {
			p->st.tx_dropped++;
		}
		taken++;
	}
	if (taken) {
		uint64_t one = 1;
		if (write(p->efd, &one, sizeof(one)) < 0)
			p->st.tx_dropped += 0;
	}
	return taken;
}

static int loop_rxsync(struct nmk_driver_port *p, unsigned ring, const struct nmk_driver_ring *r,
		       uint32_t from, uint32_t room)
{
	struct netmap_ring *nr = r->ring;
	uint32_t i = from;
	int got = 0;

	(void)ring;
	while (room-- && p->count) {
		struct netmap_slot *s = &nr->slot[i];
		uint16_t len = p->len[p->head];
		if (s->buf_idx < r->nbufs && len <= r->buf_size)
			memcpy(r->bufbase + (uint64_t)s->buf_idx * r->buf_size, p->frames[p->head], len);
		s->len = len;
		s->flags = 0;
		p->head = (p->head + 1) % QLEN;
		p->count--;
		p->st.rx_packets++;
		got++;
		i = nmk_ring_next(i, r->num_slots);
	}
	if (p->count == 0) {
		uint64_t v;
		if (read(p->efd, &v, sizeof(v)) < 0)
			v = 0;
	}
	return got;
}

static int loop_stats(struct nmk_driver_port *p, struct nmk_driver_stats *st)
{
	*st = p->st;
	return 0;
}

static const struct nmk_driver_param loop_params[] = {
	{ "slots", "ring size", "256" },
	{ NULL, NULL, NULL },
};

static const struct nmk_driver loop_driver = {
	.size = sizeof(struct nmk_driver),
	.abi = NMK_DRIVER_ABI,
	.name = "loop",
	.description = "test driver: every frame sent comes back",
	.params = loop_params,
	.open = loop_open,
	.close = loop_close,
	.stats = loop_stats,
	.pollfd = loop_pollfd,
	.txsync = loop_txsync,
	.rxsync = loop_rxsync,
};

NMK_DRIVER_ENTRY(loop_driver)
