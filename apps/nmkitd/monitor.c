/*
 * monitor.c - copy monitors (reference §2.10).
 *
 * Registering "port" with /r, /t or /rt (NR_MONITOR_RX, NR_MONITOR_TX)
 * creates a copy monitor of a port that is already open, and /z
 * (NR_ZCOPY_MON) a zero-copy one, which sees the traffic after it is
 * consumed (TX when it completes, RX when the reader releases it) by
 * swapping buffers with the port's slots instead of copying: a port with
 * max(tx rings, rx rings) of the parent as RX rings and one TX ring (whose
 * syncs fail, as in netmap).  Its rings live in the parent's region, so the
 * processes that move the parent's packets can copy them into it: TX
 * traffic at the parent's txsync, before it is consumed; RX traffic as it
 * arrives.  The copying is netmap's, with leases, so that several senders
 * can fill one monitor; a monitor short of room skips the oldest packets.
 *
 * A monitor goes away with its last registration: its entries leave the
 * parent's rings, its rings stop, and it is freed when their leases drain.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>

#include "broker.h"
#include "kinds.h"
#include "lease.h"
#include "publish.h"
#include "vale.h"

struct monitor {
	uint64_t entry[2][NMK_MAX_RINGS];   /* value installed per parent ring */
	char parent[64];
};

/* The parent's krings a monitor watches: direction d (0 tx, 1 rx), ring i. */
static uint32_t parent_kring(struct port *parent, int d, uint32_t i)
{
	if (d == 0)
		return i < parent->ntx ? parent->tx[i].v.index : NMK_NONE;
	return i < parent->nrx ? parent->rx[i].v.index : NMK_NONE;
}

static void detach_entries(struct broker *b, struct port *mp)
{
	struct monitor *mon = mp->owner_obj;
	struct port *parent = port_find(b, mon->parent);

	if (parent == NULL || parent->r != mp->r)
		return;
	for (int d = 0; d < 2; d++) {
		for (uint32_t i = 0; i < NMK_MAX_RINGS; i++) {
			uint64_t e = mon->entry[d][i];
			uint32_t k = parent_kring(parent, d, i);
			if (e == 0 || k == NMK_NONE)
				continue;
			struct nmk_kring *kr = nmk_kring_at(&mp->r->m, k);
			for (unsigned j = 0; j < NMK_MAX_MON; j++) {
				uint64_t cur = e;
				atomic_compare_exchange_strong(&kr->mon[j], &cur, 0);
			}
		}
	}
}

static void monitor_free(struct broker *b, struct port *mp)
{
	struct region *r = mp->r;

	free(mp->owner_obj);
	mp->owner_obj = NULL;
	port_destroy(b, mp);
	region_put(b, r);
}

/* A name registered with a monitor flag (/r, /t, /z) designates a monitor
 * of the open port of that name. */
static bool monitor_claims(struct broker *b, const char *name, const struct nmreq_register *req)
{
	(void)b;
	(void)name;
	return (req->nr_flags & (NR_MONITOR_TX | NR_MONITOR_RX | NR_ZCOPY_MON)) != 0;
}

static struct port *monitor_get(struct broker *b, const char *name,
				const struct nmreq_register *req, const struct nm_os_cred *cred,
				char *err, size_t errlen, int *status)
{
	/* The port to watch, as it is named. */
	struct port *parent = port_find(b, name);
	if (parent == NULL)
		parent = vale_persistent_port(b, name);
	if (parent == NULL || parent->kind == &monitor_kind) {
		snprintf(err, errlen, "%s: no such open port to monitor", name);
		*status = parent ? -EINVAL : -ENXIO;
		return NULL;
	}
	if (parent->owner != cred->uid && cred->uid != 0) {
		snprintf(err, errlen, "%s: belongs to uid %u, not to uid %u", name,
			 (unsigned)parent->owner, (unsigned)cred->uid);
		*status = -EACCES;
		return NULL;
	}

	bool zcopy = req->nr_flags & NR_ZCOPY_MON;
	/* /z watches both directions, as in netmap. */
	bool want_tx = zcopy || (req->nr_flags & NR_MONITOR_TX);
	bool want_rx = zcopy || (req->nr_flags & NR_MONITOR_RX);

	*status = -EINVAL;
	if (parent->nbindings == 0) {
		snprintf(err, errlen, "%s: the port is not open, there is nothing to monitor", name);
		return NULL;
	}
	uint32_t first = 0, last = parent->ntx > parent->nrx ? parent->ntx : parent->nrx;
	if (req->nr_mode == NR_REG_ONE_NIC) {
		if (req->nr_ringid >= last) {
			snprintf(err, errlen, "%s: ring %u does not exist", name, req->nr_ringid);
			return NULL;
		}
		first = req->nr_ringid;
		last = first + 1;
	} else if (req->nr_mode != NR_REG_ALL_NIC && req->nr_mode != NR_REG_DEFAULT) {
		snprintf(err, errlen, "%s: monitors accept only the ALL_NIC and ONE_NIC modes", name);
		return NULL;
	}

	struct monitor *mon = calloc(1, sizeof(*mon));
	char mname[64];
	uint32_t nrx = parent->ntx > parent->nrx ? parent->ntx : parent->nrx;
	uint32_t slots = parent->tx_slots > parent->rx_slots ? parent->tx_slots : parent->rx_slots;
	snprintf(mname, sizeof(mname), "%s/%s%s%s#%u", parent->name, zcopy ? "z" : "",
		 want_rx && !zcopy ? "r" : "", want_tx && !zcopy ? "t" : "", b->mon_serial++);
	struct port *mp = mon ? port_new(b, mname, &monitor_kind, parent->r, parent->owner, 1, nrx,
					 slots, slots) : NULL;
	if (mp == NULL) {
		free(mon);
		snprintf(err, errlen, "out of memory");
		*status = -ENOMEM;
		return NULL;
	}
	snprintf(mon->parent, sizeof(mon->parent), "%s", parent->name);
	mp->owner_obj = mon;
	mp->r->refs++;
	*status = -ENOMEM;
	if (region_alloc_port(mp->r, &mp->port_index) < 0) {
		snprintf(err, errlen, "%s: region %u has no free port entry", name, mp->r->mem_id);
		goto fail;
	}
	/* Monitor RX rings are filled by producers through leases, exactly
	 * like a VALE port's RX rings; the TX ring cannot send. */
	if ((*status = port_ring_create(mp, true, 0, mp->tx_slots, NMK_KIND_MONITOR, ++b->mon_gen,
					0, true, err, errlen)) < 0)
		goto fail;
	for (uint32_t i = 0; i < mp->nrx; i++)
		if ((*status = port_ring_create(mp, false, i, mp->rx_slots, NMK_KIND_MONITOR,
						++b->mon_gen, NMK_KRING_LEASED, true, err,
						errlen)) < 0)
			goto fail;

	/* Hook the monitor's RX ring i onto the parent's ring i. */
	for (int d = 0; d < 2; d++) {
		if ((d == 0 && !want_tx) || (d == 1 && !want_rx))
			continue;
		for (uint32_t i = first; i < last; i++) {
			uint32_t k = parent_kring(parent, d, i);
			if (k == NMK_NONE)
				continue;
			const struct nmk_kring_view *mv = &mp->rx[i].v;
			uint64_t e = (mv->index | (zcopy ? NMK_MON_ZCOPY : 0)) |
				     (uint64_t)mv->gen << 32;
			struct nmk_kring *kr = nmk_kring_at(&mp->r->m, k);
			unsigned j;
			for (j = 0; j < NMK_MAX_MON; j++) {
				uint64_t zero = 0;
				if (atomic_compare_exchange_strong(&kr->mon[j], &zero, e))
					break;
			}
			if (j == NMK_MAX_MON) {
				snprintf(err, errlen, "%s: %s ring %u already has %u monitors (the limit)",
					 name, d ? "rx" : "tx", i, NMK_MAX_MON);
				*status = -EBUSY;
				goto fail;
			}
			mon->entry[d][i] = e;
		}
	}
	*status = 0;
	if (b->cfg.verbose)
		blog(b, LOG_INFO, "created monitor %s", mp->name);
	return mp;
fail:
	detach_entries(b, mp);
	monitor_free(b, mp);
	return NULL;
}

/* Free a stopped monitor once its rings' leases have drained. */
static bool monitor_reap(struct broker *b, struct port *mp)
{
	for (uint32_t i = 0; i < mp->nrx; i++) {
		if (mp->rx[i].v.index == NMK_NONE)
			continue;
		if (!nmk_lease_idle(&mp->r->m, &mp->rx[i].v, BROKER_LOCK_WAIT_NS))
			return false;
	}
	if (b->cfg.verbose)
		blog(b, LOG_INFO, "removed monitor %s", mp->name);
	monitor_free(b, mp);
	return true;
}

/* Its last registration went away: its entries leave the parent's rings,
 * its rings stop granting leases, and it is freed when they drain. */
static void monitor_idle(struct broker *b, struct port *mp)
{
	detach_entries(b, mp);
	for (uint32_t i = 0; i < mp->nrx; i++)
		if (mp->rx[i].v.index != NMK_NONE)
			nmk_lease_stop(&mp->r->m, &mp->rx[i].v, BROKER_LOCK_WAIT_NS);
	if (!monitor_reap(b, mp))
		broker_defer_free(b, mp);
}

const struct port_kind monitor_kind = {
	.plural = "monitors",
	.claims = monitor_claims,
	.get = monitor_get,
	.idle = monitor_idle,
	.reap = monitor_reap,
	.list_kind = NMK_LIST_MONITOR,
};
