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

#include "objects.h"

static struct region *regions;
static uint64_t binding_ids;

uint64_t next_binding_id(void)
{
	/* Ids must never repeat across brokers either: a client that cached
	 * a wake fd under an id from a broker that has since been replaced
	 * must not find it naming someone else.  Start from the clock. */
	if (binding_ids == 0)
		binding_ids = nm_os_now_ns() << 8;
	return ++binding_ids;
}

/* mem_id 1 is netmap's global region; we have none, so private ids start
 * at 2 and are never reused while the broker lives: an id always names the
 * same memory. */
static uint16_t next_mem_id = 2;

static uint16_t alloc_mem_id(void)
{
	for (unsigned tries = 0; tries < 65534; tries++) {
		uint16_t id = next_mem_id++;
		if (next_mem_id == 0)
			next_mem_id = 2;
		if (id >= 2 && region_find(id) == NULL)
			return id;
	}
	return 0;
}

struct region *region_find(uint16_t mem_id)
{
	for (struct region *r = regions; r; r = r->next)
		if (r->mem_id == mem_id)
			return r;
	return NULL;
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

struct region *region_create(const char *label, uid_t owner,
			     const struct nmk_region_params *p, uint32_t nports,
			     uint32_t vale_ports, uint32_t learn_entries,
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
	r->mem_id = alloc_mem_id();
	if (r->mem_id == 0) {
		snprintf(err, errlen, "no free memory region id (limit 65534 regions)");
		goto fail;
	}

	struct nmk_ctrl_geom g = {
		.nkrings = r->l.p.ring_num, .nports = nports,
		.vale_ports = vale_ports, .learn_entries = learn_entries,
	};
	if (nmk_ctrl_geom_compute(&g) < 0) {
		snprintf(err, errlen, "bad control object geometry (%u rings, %u ports, %u switch ports, %u table entries)",
			 g.nkrings, nports, vale_ports, learn_entries);
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
	r->next = regions;
	regions = r;
	return r;
fail:
	region_free_all(r);
	return NULL;
}

void region_put(struct region *r)
{
	if (r->refs > 1) {
		r->refs--;
		return;
	}
	for (struct region **pp = &regions; *pp; pp = &(*pp)->next) {
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

static struct port *all_ports;

void port_link(struct port *p)
{
	p->next = all_ports;
	all_ports = p;
}

void port_unlink(struct port *p)
{
	for (struct port **q = &all_ports; *q; q = &(*q)->next) {
		if (*q == p) {
			*q = p->next;
			return;
		}
	}
}

struct port *port_first(void)
{
	return all_ports;
}

struct port *port_next(struct port *p)
{
	return p->next;
}

struct port *port_find(const char *name)
{
	for (struct port *p = all_ports; p; p = p->next)
		if (strcmp(p->name, name) == 0)
			return p;
	return NULL;
}

/* Free a port's rings, the buffers they hold and its control entry. */
void port_destroy(struct port *p)
{
	struct region *r = p->r;
	struct ring_use *sets[2] = { p->tx, p->rx };
	uint32_t counts[2] = { p->ntx, p->nrx };
	uint32_t slots[2] = { p->tx_slots, p->rx_slots };

	for (int d = 0; d < 2; d++) {
		for (uint32_t i = 0; sets[d] && i < counts[d]; i++) {
			uint32_t k = sets[d][i].kring;
			if (k == NMK_NONE)
				continue;
			struct netmap_ring *ring = nmk_ring_at(r->mem, &r->l, k);
			struct nmk_kring *kr = nmk_kring_at(&r->m, k);
			/* Clients may have swapped buffers around: free what
			 * the slots hold now; region_free_buf ignores indices
			 * that are invalid or already free.  A ring whose set-up
			 * failed has num_slots 0 in its kring. */
			uint32_t n = kr->num_slots < slots[d] ? kr->num_slots : slots[d];
			for (uint32_t s = 0; s < n; s++)
				region_free_buf(r, ring->slot[s].buf_idx);
			region_free_ring(r, k);
		}
	}
	if (p->port_index != NMK_NONE)
		region_free_port(r, p->port_index);
	port_unlink(p);
	free(p->tx);
	free(p->rx);
	free(p);
}


struct port *port_new(const char *name, enum port_kind kind, struct region *r, uid_t owner,
		      uint32_t ntx, uint32_t nrx, uint32_t tx_slots, uint32_t rx_slots)
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
		p->tx[i].kring = NMK_NONE;
	for (uint32_t i = 0; i < nrx; i++)
		p->rx[i].kring = NMK_NONE;
	port_link(p);
	return p;
}

int port_ring_create(struct port *p, bool tx, uint32_t i, uint32_t slots, uint32_t kind,
		     uint32_t gen, bool own_bufs, char *err, size_t errlen)
{
	struct region *r = p->r;
	uint32_t k, *bufs = NULL;

	if (region_alloc_ring(r, &k) < 0) {
		snprintf(err, errlen, "%s: region %u is full: ring pool of %u rings exhausted",
			 p->name, r->mem_id, r->l.p.ring_num);
		return -ENOMEM;
	}
	(tx ? p->tx : p->rx)[i].kring = k;
	if (own_bufs) {
		bufs = malloc(sizeof(uint32_t) * slots);
		if (bufs == NULL || region_alloc_bufs(r, bufs, slots) < 0) {
			free(bufs);
			snprintf(err, errlen, "%s: region %u is full: %u buffers wanted, %u free",
				 p->name, r->mem_id, slots, r->bufs_free);
			return -ENOMEM;
		}
	}
	nmk_ring_init(nmk_ring_at(r->mem, &r->l, k), &r->l, k, slots, (uint16_t)i,
		      tx ? NMK_DIR_TX : NMK_DIR_RX, bufs);
	free(bufs);
	/* The kring last: a ring whose set-up failed keeps num_slots 0, so
	 * port_destroy frees none of its (unallocated) buffers. */
	struct nmk_kring *kr = nmk_kring_at(&r->m, k);
	memset(kr, 0, sizeof(*kr));
	kr->ring_index = k;
	kr->num_slots = slots;
	kr->kind = kind;
	kr->port = p->port_index;
	kr->peer = NMK_NONE;
	kr->dir = tx ? NMK_DIR_TX : NMK_DIR_RX;
	kr->ring_id = (uint16_t)i;
	kr->gen = gen;
	kr->rtail = tx ? slots - 1 : 0;
	return 0;
}
