/*
 * objects.c - regions and their pool allocators.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "broker.h"
#include "objects.h"

uint64_t next_binding_id(struct broker *b)
{
	/* Ids must never repeat across brokers either: a client that cached
	 * a wake fd under an id from a broker that has since been replaced
	 * must not find it naming someone else.  Start from the clock. */
	if (b->binding_ids == 0)
		b->binding_ids = nm_os_now_ns() << 8;
	return ++b->binding_ids;
}

static struct region *region_find(struct broker *b, uint16_t mem_id)
{
	for (struct region *r = b->regions; r; r = r->next)
		if (r->mem_id == mem_id)
			return r;
	return NULL;
}

/* mem_id 1 is netmap's global region; we have none, so private ids start
 * at 2 and are never reused while the broker lives: an id always names the
 * same memory. */
static uint16_t alloc_mem_id(struct broker *b)
{
	for (unsigned tries = 0; tries < 65534; tries++) {
		uint16_t id = b->next_mem_id++;
		if (b->next_mem_id < 2)
			b->next_mem_id = 2;
		if (id >= 2 && region_find(b, id) == NULL)
			return id;
	}
	return 0;
}

static void region_free_all(struct region *r)
{
	if (r->mem)
		nm_os_shm_unmap(r->mem, r->l.memsize);
	if (r->ctrl)
		nm_os_shm_unmap(r->ctrl, r->ctrl_size);
	if (r->fd >= 0)
		close(r->fd);
	if (r->ctrl_fd >= 0)
		close(r->ctrl_fd);
	free(r->if_used);
	free(r->ring_used);
	free(r->port_used);
	free(r->buf_map);
	free(r);
}

struct region *region_create(struct broker *b, const char *label, uid_t owner,
			     const struct nmk_region_params *p, uint32_t nports, uint64_t sw_bytes,
			     char *err, size_t errlen)
{
	struct region *r = calloc(1, sizeof(*r));
	int ret;

	if (r == NULL) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	r->fd = r->ctrl_fd = -1;
	snprintf(r->label, sizeof(r->label), "%s", label);
	r->owner = owner;
	r->nports = nports;
	if (nmk_region_layout(p, &r->l, err, errlen) < 0)
		goto fail;
	r->mem_id = alloc_mem_id(b);
	if (r->mem_id == 0) {
		snprintf(err, errlen, "no free memory region id (limit 65534 regions)");
		goto fail;
	}

	struct nmk_ctrl_geom g = {
		.nkrings = r->l.p.ring_num, .nports = nports, .sw_bytes = sw_bytes,
	};
	if (nmk_ctrl_geom_compute(&g) < 0) {
		snprintf(err, errlen, "bad control object geometry (%u rings, %u ports, a switch section of %llu bytes)",
			 g.nkrings, nports, (unsigned long long)sw_bytes);
		goto fail;
	}
	r->ctrl_size = g.size;
	ret = nm_os_shm_create("nmkit-region", r->l.memsize);
	if (ret < 0) {
		snprintf(err, errlen, "cannot create a region of %llu bytes: %s",
			 (unsigned long long)r->l.memsize, strerror(-ret));
		goto fail;
	}
	r->fd = ret;
	ret = nm_os_shm_create("nmkit-ctrl", r->ctrl_size);
	if (ret < 0) {
		snprintf(err, errlen, "cannot create a control object: %s", strerror(-ret));
		goto fail;
	}
	r->ctrl_fd = ret;
	r->mem = nm_os_shm_map(r->fd, r->l.memsize);
	r->ctrl = nm_os_shm_map(r->ctrl_fd, r->ctrl_size);
	if (r->mem == NULL || r->ctrl == NULL) {
		snprintf(err, errlen, "cannot map a region: %s", strerror(errno));
		goto fail;
	}

	struct nmk_ctrl_hdr *h = r->ctrl;
	h->magic = NMK_CTRL_MAGIC;
	h->version = NMK_CTRL_VERSION;
	h->mem_id = r->mem_id;
	h->layout = r->l;
	h->geom = g;
	r->m = (struct nmk_mem){ .base = r->mem, .ctrl = r->ctrl, .l = &r->l, .g = g };
	nmk_mem_init_limits(&r->m);

	r->if_used = calloc(r->l.p.if_num, 1);
	r->ring_used = calloc(r->l.p.ring_num, 1);
	r->port_used = calloc(nports, 1);
	r->buf_map = calloc((r->l.p.buf_num + 63) / 64, sizeof(uint64_t));
	if (!r->if_used || !r->ring_used || !r->port_used || !r->buf_map) {
		snprintf(err, errlen, "out of memory");
		goto fail;
	}
	/* Buffers 0 and 1 are reserved (netmap hands them to nobody). */
	r->buf_map[0] |= 3;
	r->bufs_free = r->l.p.buf_num - 2;
	r->buf_hint = 2;
	r->refs = 1;            /* the creator's; monitors add theirs */
	r->next = b->regions;
	b->regions = r;
	return r;
fail:
	region_free_all(r);
	return NULL;
}

void region_put(struct broker *b, struct region *r)
{
	if (r->refs > 1) {
		r->refs--;
		return;
	}
	for (struct region **pp = &b->regions; *pp; pp = &(*pp)->next) {
		if (*pp == r) {
			*pp = r->next;
			break;
		}
	}
	region_free_all(r);
}

static int alloc_index(uint8_t *used, uint32_t n, uint32_t *index)
{
	for (uint32_t i = 0; i < n; i++) {
		if (!used[i]) {
			used[i] = 1;
			*index = i;
			return 0;
		}
	}
	return -ENOMEM;
}

int region_alloc_ring(struct region *r, uint32_t *index)
{
	return alloc_index(r->ring_used, r->l.p.ring_num, index);
}

void region_free_ring(struct region *r, uint32_t index)
{
	if (index < r->l.p.ring_num) {
		struct nmk_kring *k = nmk_kring_at(&r->m, index);
		memset(k, 0, sizeof(*k));
		r->ring_used[index] = 0;
	}
}

int region_alloc_if(struct region *r, uint32_t *index)
{
	return alloc_index(r->if_used, r->l.p.if_num, index);
}

void region_free_if(struct region *r, uint32_t index)
{
	if (index < r->l.p.if_num)
		r->if_used[index] = 0;
}

int region_alloc_port(struct region *r, uint32_t *index)
{
	int ret = alloc_index(r->port_used, r->nports, index);
	if (ret == 0)
		memset(nmk_ctrl_port_at(&r->m, *index), 0, sizeof(struct nmk_ctrl_port));
	return ret;
}

void region_free_port(struct region *r, uint32_t index)
{
	if (index < r->nports)
		r->port_used[index] = 0;
}

static bool buf_used(const struct region *r, uint32_t i)
{
	return (r->buf_map[i / 64] >> (i % 64)) & 1;
}

int region_alloc_bufs(struct region *r, uint32_t *out, uint32_t n)
{
	uint32_t total = r->l.p.buf_num, got = 0, i = r->buf_hint;

	if (n > r->bufs_free)
		return -ENOMEM;
	for (uint32_t scanned = 0; got < n && scanned < total; scanned++, i++) {
		if (i >= total)
			i = 2;
		if (!buf_used(r, i)) {
			r->buf_map[i / 64] |= UINT64_C(1) << (i % 64);
			out[got++] = i;
		}
	}
	r->buf_hint = i;
	r->bufs_free -= got;
	if (got < n) {          /* cannot happen while bufs_free is exact */
		while (got)
			region_free_buf(r, out[--got]);
		return -ENOMEM;
	}
	return 0;
}

void region_free_buf(struct region *r, uint32_t idx)
{
	if (idx < 2 || idx >= r->l.p.buf_num || !buf_used(r, idx))
		return;
	r->buf_map[idx / 64] &= ~(UINT64_C(1) << (idx % 64));
	r->bufs_free++;
}

/* ---- ports ---------------------------------------------------------------- */

static void port_unlink(struct broker *b, struct port *p)
{
	for (struct port **q = &b->ports; *q; q = &(*q)->next) {
		if (*q == p) {
			*q = p->next;
			return;
		}
	}
}

struct port *port_find(struct broker *b, const char *name)
{
	for (struct port *p = b->ports; p; p = p->next)
		if (strcmp(p->name, name) == 0)
			return p;
	return NULL;
}

void port_each_ring(struct port *p, void (*fn)(struct port *p, struct ring_use *u, void *arg),
		    void *arg)
{
	for (uint32_t i = 0; p->tx && i < p->ntx; i++)
		if (p->tx[i].v.index != NMK_NONE)
			fn(p, &p->tx[i], arg);
	for (uint32_t i = 0; p->rx && i < p->nrx; i++)
		if (p->rx[i].v.index != NMK_NONE)
			fn(p, &p->rx[i], arg);
}

/* Clients may have swapped buffers around: free what the slots hold now;
 * region_free_buf ignores indices that are invalid or already free.  The
 * slot count is ours, never the kring's. */
static void ring_free(struct port *p, struct ring_use *u, void *arg)
{
	struct region *r = p->r;
	struct netmap_ring *ring = nmk_view_ring(&r->m, &u->v);

	(void)arg;
	for (uint32_t s = 0; s < u->v.num_slots; s++)
		region_free_buf(r, ring->slot[s].buf_idx);
	region_free_ring(r, u->v.index);
}

void port_destroy(struct broker *b, struct port *p)
{
	port_each_ring(p, ring_free, NULL);
	if (p->port_index != NMK_NONE)
		region_free_port(p->r, p->port_index);
	port_unlink(b, p);
	free(p->tx);
	free(p->rx);
	free(p);
}

struct port *port_new(struct broker *b, const char *name, const struct port_kind *kind,
		      struct region *r, uid_t owner, uint32_t ntx, uint32_t nrx, uint32_t tx_slots,
		      uint32_t rx_slots)
{
	struct port *p = calloc(1, sizeof(*p));

	if (p == NULL)
		return NULL;
	snprintf(p->name, sizeof(p->name), "%s", name);
	p->kind = kind;
	p->r = r;
	p->owner = owner;
	p->port_index = NMK_NONE;
	p->ntx = ntx;
	p->nrx = nrx;
	p->tx_slots = tx_slots;
	p->rx_slots = rx_slots;
	p->tx = calloc(ntx ? ntx : 1, sizeof(*p->tx));
	p->rx = calloc(nrx ? nrx : 1, sizeof(*p->rx));
	if (!p->tx || !p->rx) {
		free(p->tx);
		free(p->rx);
		free(p);
		return NULL;
	}
	for (uint32_t i = 0; i < ntx; i++)
		p->tx[i].v.index = NMK_NONE;
	for (uint32_t i = 0; i < nrx; i++)
		p->rx[i].v.index = NMK_NONE;
	p->next = b->ports;
	b->ports = p;
	return p;
}

int port_ring_create(struct port *p, bool tx, uint32_t i, uint32_t slots, uint32_t kind,
		     uint32_t gen, uint32_t flags, bool own_bufs, char *err, size_t errlen)
{
	struct region *r = p->r;
	uint32_t k, *bufs = NULL;

	if (!nmk_slots_ok(&r->m, slots)) {
		snprintf(err, errlen, "%s: %u slots do not fit the ring objects of region %u", p->name,
			 slots, r->mem_id);
		return -EINVAL;
	}
	if (region_alloc_ring(r, &k) < 0) {
		snprintf(err, errlen, "%s: region %u is full: ring pool of %u rings exhausted",
			 p->name, r->mem_id, r->l.p.ring_num);
		return -ENOMEM;
	}
	if (own_bufs) {
		bufs = malloc(sizeof(uint32_t) * slots);
		if (bufs == NULL || region_alloc_bufs(r, bufs, slots) < 0) {
			free(bufs);
			region_free_ring(r, k);
			snprintf(err, errlen, "%s: region %u is full: %u buffers wanted, %u free",
				 p->name, r->mem_id, slots, r->bufs_free);
			return -ENOMEM;
		}
	}
	nmk_ring_init(nmk_ring_at(r->mem, &r->l, k), &r->l, k, slots, (uint16_t)i,
		      tx ? NMK_DIR_TX : NMK_DIR_RX, bufs);
	free(bufs);
	struct nmk_kring_view v = {
		.index = k, .num_slots = slots, .kind = kind, .port = p->port_index,
		.peer = NMK_NONE, .vport = p->vport, .gen = gen, .flags = flags,
		.dir = tx ? NMK_DIR_TX : NMK_DIR_RX, .ring_id = (uint16_t)i,
	};
	struct nmk_kring *kr = nmk_kring_at(&r->m, k);
	memset(kr, 0, sizeof(*kr));
	kr->ring_index = k;
	kr->num_slots = slots;
	kr->kind = kind;
	kr->port = v.port;
	kr->peer = v.peer;
	kr->dir = v.dir;
	kr->ring_id = v.ring_id;
	kr->vport = v.vport;
	kr->flags = flags;
	kr->gen = gen;
	kr->rtail = tx ? slots - 1 : 0;
	(tx ? p->tx : p->rx)[i].v = v;
	return 0;
}
