/*
 * pipes.c - netmap pipes: "parent{id" (master) and "parent}id" (slave).
 *
 * Opening either end creates both (reference §2.8).  All pipes of one
 * parent share one region, so their buffers can be swapped without copying.
 * TX ring i of one end and RX ring i of the other share one slot index
 * space: a txsync moves slot descriptors, never data.  The TX ring owns the
 * buffers; the RX ring starts "fake" (every slot on buffer 0).
 *
 * A pair lives while either end is registered; the parent's region while
 * any of its pairs lives.  Packets sent while the other end is closed stay
 * queued, as in netmap.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "broker.h"
#include "kinds.h"

struct pipe_pair;

struct pipe_parent {
	struct pipe_parent *next;
	char name[64];
	struct region *r;
	uid_t owner;
	unsigned npairs;
	struct pipe_pair *pairs;
};

struct pipe_pair {
	struct pipe_pair *next;
	struct pipe_parent *parent;
	char id[64];
	struct port *end[2];
};

static struct pipe_parent *parent_find(struct broker *b, const char *name)
{
	for (struct pipe_parent *pp = b->pipe_parents; pp; pp = pp->next)
		if (strcmp(pp->name, name) == 0)
			return pp;
	return NULL;
}

static struct pipe_parent *parent_create(struct broker *b, const char *name, uid_t owner,
					 char *err, size_t errlen)
{
	struct pipe_parent *pp = calloc(1, sizeof(*pp));
	char rerr[200];

	if (pp == NULL) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	snprintf(pp->name, sizeof(pp->name), "%s", name);
	pp->owner = owner;
	pp->r = region_create(b, name, owner, &b->cfg.pipe_region, b->cfg.pipe_region_ports, 0,
			      rerr, sizeof(rerr));
	if (pp->r == NULL) {
		snprintf(err, errlen, "pipe parent %s: %s", name, rerr);
		free(pp);
		return NULL;
	}
	pp->next = b->pipe_parents;
	b->pipe_parents = pp;
	return pp;
}

static void parent_destroy(struct broker *b, struct pipe_parent *pp)
{
	for (struct pipe_parent **q = &b->pipe_parents; *q; q = &(*q)->next) {
		if (*q == pp) {
			*q = pp->next;
			break;
		}
	}
	region_put(b, pp->r);
	free(pp);
}

static struct port *port_alloc(struct broker *b, struct pipe_pair *pair, int end, uint32_t ntx,
			       uint32_t nrx, uint32_t tx_slots, uint32_t rx_slots)
{
	char name[64];
	snprintf(name, sizeof(name), "%s%c%s", pair->parent->name, end == 0 ? '{' : '}', pair->id);
	struct port *p = port_new(b, name, &pipe_kind, pair->parent->r, pair->parent->owner, ntx,
				  nrx, tx_slots, rx_slots);
	if (p) {
		p->owner_obj = pair;
		p->end = end;
	}
	return p;
}

/* Create TX ring i of port `tx` and its peer RX ring i of port `rx`: the TX
 * ring owns the buffers, the RX ring starts on buffer 0 (a "fake" ring). */
static int ring_pair_create(struct port *tx, struct port *rx, uint32_t i, uint32_t slots,
			    char *err, size_t errlen)
{
	int ret = port_ring_create(tx, true, i, slots, NMK_KIND_PIPE, 0, 0, true, err, errlen);
	if (ret == 0)
		ret = port_ring_create(rx, false, i, slots, NMK_KIND_PIPE, 0, 0, false, err, errlen);
	if (ret < 0)
		return ret;
	struct nmk_kring_view *vt = &tx->tx[i].v, *vr = &rx->rx[i].v;
	vt->peer = vr->index;
	vr->peer = vt->index;
	nmk_view_kring(&tx->r->m, vt)->peer = vt->peer;
	nmk_view_kring(&tx->r->m, vr)->peer = vr->peer;
	return 0;
}

static void pair_destroy(struct broker *b, struct pipe_pair *pair)
{
	struct pipe_parent *pp = pair->parent;

	for (int e = 0; e < 2; e++)
		if (pair->end[e])
			port_destroy(b, pair->end[e]);
	for (struct pipe_pair **q = &pp->pairs; *q; q = &(*q)->next) {
		if (*q == pair) {
			*q = pair->next;
			break;
		}
	}
	pp->npairs--;
	free(pair);
	if (pp->npairs == 0)
		parent_destroy(b, pp);
}

static uint32_t clamp_rings(uint32_t v)
{
	return v == 0 ? 1 : v > NMK_MAX_RINGS ? NMK_MAX_RINGS : v;
}

static struct pipe_pair *pair_create(struct broker *b, struct pipe_parent *pp, const char *id,
				     int end, const struct nmreq_register *req,
				     char *err, size_t errlen, int *status)
{
	struct pipe_pair *pair;
	/* The request speaks for the end being opened; the slave's counts
	 * are the master's swapped. */
	uint32_t req_tx = clamp_rings(req->nr_tx_rings), req_rx = clamp_rings(req->nr_rx_rings);
	uint32_t req_txs = req->nr_tx_slots ? req->nr_tx_slots : 1024;
	uint32_t req_rxs = req->nr_rx_slots ? req->nr_rx_slots : 1024;
	uint32_t m_tx = end == 0 ? req_tx : req_rx, m_rx = end == 0 ? req_rx : req_tx;
	uint32_t m_txs = end == 0 ? req_txs : req_rxs, m_rxs = end == 0 ? req_rxs : req_txs;

	if (req_txs > NMK_MAX_SLOTS || req_rxs > NMK_MAX_SLOTS || req_txs < 2 || req_rxs < 2) {
		snprintf(err, errlen, "pipe %s%c%s: slots must be in [2, %u] (asked %u tx, %u rx)",
			 pp->name, end ? '}' : '{', id, NMK_MAX_SLOTS, req_txs, req_rxs);
		*status = -EINVAL;
		return NULL;
	}
	if (pp->npairs >= b->cfg.max_pipes) {
		snprintf(err, errlen, "pipe parent %s: limit of %u pipes reached (max_pipes)",
			 pp->name, b->cfg.max_pipes);
		*status = -ENOMEM;
		return NULL;
	}
	pair = calloc(1, sizeof(*pair));
	if (pair == NULL) {
		if (pp->npairs == 0)
			parent_destroy(b, pp);
		*status = -ENOMEM;
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	pair->parent = pp;
	snprintf(pair->id, sizeof(pair->id), "%s", id);
	pair->next = pp->pairs;
	pp->pairs = pair;
	pp->npairs++;

	struct region *r = pp->r;
	pair->end[0] = port_alloc(b, pair, 0, m_tx, m_rx, m_txs, m_rxs);
	pair->end[1] = port_alloc(b, pair, 1, m_rx, m_tx, m_rxs, m_txs);
	*status = -ENOMEM;
	if (!pair->end[0] || !pair->end[1]) {
		snprintf(err, errlen, "out of memory");
		goto fail;
	}
	for (int e = 0; e < 2; e++) {
		if (region_alloc_port(r, &pair->end[e]->port_index) < 0) {
			snprintf(err, errlen, "region %u is full: %u ports", r->mem_id, r->nports);
			goto fail;
		}
	}
	for (uint32_t i = 0; i < m_tx; i++)
		if (ring_pair_create(pair->end[0], pair->end[1], i, m_txs, err, errlen) < 0)
			goto fail;
	for (uint32_t i = 0; i < m_rx; i++)
		if (ring_pair_create(pair->end[1], pair->end[0], i, m_rxs, err, errlen) < 0)
			goto fail;
	*status = 0;
	return pair;
fail:
	pair_destroy(b, pair);
	return NULL;
}

/* A pipe's name holds '{' or '}'. */
static bool pipe_claims(struct broker *b, const char *name, const struct nmreq_register *req)
{
	(void)b;
	(void)req;
	return strpbrk(name, "{}") != NULL;
}

static struct port *pipe_get(struct broker *b, const char *name, const struct nmreq_register *req,
			     const struct nm_os_cred *cred, char *err, size_t errlen, int *status)
{
	const char *sep = strpbrk(name, "{}");
	char parent[64];
	int end = *sep == '{' ? 0 : 1;
	size_t plen = (size_t)(sep - name);

	if (plen == 0 || plen >= sizeof(parent) || sep[1] == '\0' || strpbrk(sep + 1, "{}")) {
		snprintf(err, errlen, "%s: a pipe name is parent{id or parent}id", name);
		*status = -EINVAL;
		return NULL;
	}
	memcpy(parent, name, plen);
	parent[plen] = '\0';

	struct pipe_parent *pp = parent_find(b, parent);
	if (pp && pp->owner != cred->uid && cred->uid != 0) {
		snprintf(err, errlen, "%s: pipes of %s belong to uid %u, not to uid %u",
			 name, parent, (unsigned)pp->owner, (unsigned)cred->uid);
		*status = -EACCES;
		return NULL;
	}
	if (req->nr_mem_id && (!pp || pp->r->mem_id != req->nr_mem_id)) {
		snprintf(err, errlen, "%s: memory region %u is not the region of pipe parent %s",
			 name, req->nr_mem_id, parent);
		*status = -EINVAL;
		return NULL;
	}
	if (pp == NULL) {
		pp = parent_create(b, parent, cred->uid, err, errlen);
		if (pp == NULL) {
			*status = -ENOMEM;
			return NULL;
		}
	}
	for (struct pipe_pair *pair = pp->pairs; pair; pair = pair->next)
		if (strcmp(pair->id, sep + 1) == 0)
			return pair->end[end];

	struct pipe_pair *pair = pair_create(b, pp, sep + 1, end, req, err, errlen, status);
	if (pair == NULL) {
		/* pair_create destroyed the parent if it left it empty. */
		return NULL;
	}
	return pair->end[end];
}

static void pipe_idle(struct broker *b, struct port *p)
{
	struct pipe_pair *pair = p->owner_obj;

	for (int e = 0; e < 2; e++)
		if (pair->end[e]->nbindings)
			return;
	pair_destroy(b, pair);
}

/* A process that died between publishing packets and waking their reader
 * must not leave that reader asleep: wake every sleeper of the pair.
 * Spurious wake-ups are harmless. */
static void pipe_binding_gone(struct broker *b, struct port *p)
{
	struct pipe_pair *pair = p->owner_obj;

	(void)b;
	port_wake_all(pair->end[0]);
	port_wake_all(pair->end[1]);
}

const struct port_kind pipe_kind = {
	.plural = "pipes",
	.claims = pipe_claims,
	.get = pipe_get,
	.idle = pipe_idle,
	.binding_gone = pipe_binding_gone,
	.list_kind = NMK_LIST_PIPE,
};
