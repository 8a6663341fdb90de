/*
 * shm.c - geometry of a region's control object.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <errno.h>
#include <stddef.h>

#include "shm.h"

static uint64_t page_up(uint64_t v)
{
	return (v + NMK_PAGE_SIZE - 1) & ~(uint64_t)(NMK_PAGE_SIZE - 1);
}

int nmk_ctrl_geom_compute(struct nmk_ctrl_geom *g)
{
	if (g->nkrings == 0 || g->nkrings > (1u << 20) || g->nports == 0 ||
	    g->nports > (1u << 20) || g->sw_bytes > (UINT64_C(1) << 32))
		return -EINVAL;
	g->kring_off = NMK_PAGE_SIZE;
	g->port_off = page_up(g->kring_off + (uint64_t)g->nkrings * sizeof(struct nmk_kring));
	g->lease_off = page_up(g->port_off + (uint64_t)g->nports * sizeof(struct nmk_ctrl_port));
	g->sw_off = page_up(g->lease_off +
			    (uint64_t)g->nkrings * NMK_LEASES * sizeof(struct nmk_lease));
	g->size = page_up(g->sw_off + g->sw_bytes);
	return 0;
}

void nmk_mem_init_limits(struct nmk_mem *m)
{
	uint64_t n = (m->l->p.ring_size - sizeof(struct netmap_ring)) / sizeof(struct netmap_slot);

	m->max_slots = n < NMK_MAX_SLOTS ? (uint32_t)n : NMK_MAX_SLOTS;
}
