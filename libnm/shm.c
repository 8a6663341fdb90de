/*
 * shm.c - geometry of a region's control object.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <errno.h>
#include <stddef.h>

#include "learn.h"
#include "shm.h"
#include "vale_shm.h"

static uint64_t page_up(uint64_t v)
{
	return (v + NMK_PAGE_SIZE - 1) & ~(uint64_t)(NMK_PAGE_SIZE - 1);
}

int nmk_ctrl_geom_compute(struct nmk_ctrl_geom *g)
{
	if (g->nkrings == 0 || g->nkrings > (1u << 20) || g->nports == 0 ||
	    g->nports > (1u << 20) || g->vale_ports > 65536)
		return -EINVAL;
	if (g->vale_ports && nmk_learn_table_bytes(g->learn_entries) == 0)
		return -EINVAL;
	g->kring_off = NMK_PAGE_SIZE;
	g->port_off = page_up(g->kring_off + (uint64_t)g->nkrings * sizeof(struct nmk_kring));
	g->lease_off = page_up(g->port_off + (uint64_t)g->nports * sizeof(struct nmk_ctrl_port));
	g->vale_off = page_up(g->lease_off +
			      (uint64_t)g->nkrings * NMK_LEASES * sizeof(struct nmk_lease));
	if (g->vale_ports) {
		g->learn_off = page_up(g->vale_off + sizeof(struct nmk_vale_hdr) +
				       (uint64_t)g->vale_ports * sizeof(struct nmk_vale_port));
		g->size = page_up(g->learn_off + nmk_learn_table_bytes(g->learn_entries));
	} else {
		g->learn_off = g->vale_off;
		g->size = g->vale_off;
	}
	return 0;
}
