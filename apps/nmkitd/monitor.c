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
#include "forward.h"
#include "monitor.h"
#include "sync.h"
#include "vale.h"

struct monitor {
	uint64_t entry[2][NMK_MAX_RINGS];   /* value installed per parent ring */
	char parent[64];
};

struct mpending {
	struct mpending *next;
	struct port *p;
};

static struct mpending *mpendings;
static unsigned mon_serial;
static uint32_t mon_gen;

/* The parent's krings a monitor watches: direction d (0 tx, 1 rx), ring i. */
static uint32_t parent_kring(struct port *parent, int d, uint32_t i)
{
	if (d == 0)
		return i < parent->ntx ? parent->tx[i].kring : NMK_NONE;
	return i < parent->nrx ? parent->rx[i].kring : NMK_NONE;
}

static void detach_entries(struct port *mp)
{
	struct monitor *mon = mp->owner_obj;
	struct port *parent = port_find(mon->parent);

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

static void monitor_free(struct port *mp)
{
	struct region *r = mp->r;

	free(mp->owner_obj);
	mp->owner_obj = NULL;
	port_destroy(mp);
	region_put(r);
}

struct port *monitor_get(const char *name, struct port *parent, const struct nmreq_register *req,
			 char *err, size_t errlen, int *status)
{
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
		 want_rx && !zcopy ? "r" : "", want_tx && !zcopy ? "t" : "", mon_serial++);
	struct port *mp = mon ? port_new(mname, PORT_MON, parent->r, parent->owner, 1, nrx, slots,
					 slots) : NULL;
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
	if ((*status = port_ring_create(mp, true, 0, mp->tx_slots, NMK_KR_MON_TX, ++mon_gen, true,
					err, errlen)) < 0)
		goto fail;
	for (uint32_t i = 0; i < mp->nrx; i++)
		if ((*status = port_ring_create(mp, false, i, mp->rx_slots, NMK_KR_VALE_RX, ++mon_gen,
						true, err, errlen)) < 0)
			goto fail;

	/* Hook the monitor's RX ring i onto the parent's ring i. */
	for (int d = 0; d < 2; d++) {
		if ((d == 0 && !want_tx) || (d == 1 && !want_rx))
			continue;
		for (uint32_t i = first; i < last; i++) {
			uint32_t k = parent_kring(parent, d, i);
			if (k == NMK_NONE)
				continue;
			uint32_t mk = mp->rx[i].kring;
			uint64_t e = (mk | (zcopy ? NMK_MON_ZCOPY : 0)) |
				     (uint64_t)nmk_kring_at(&mp->r->m, mk)->gen << 32;
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
	if (cfg.verbose)
		blog(LOG_INFO, "created monitor %s", mp->name);
	return mp;
fail:
	detach_entries(mp);
	monitor_free(mp);
	return NULL;
}

/* Free a stopped monitor once its rings' leases have drained. */
static bool try_free(struct port *mp)
{
	for (uint32_t i = 0; i < mp->nrx; i++) {
		if (mp->rx[i].kring == NMK_NONE)
			continue;
		if (!nmk_vale_ring_idle(&mp->r->m, nmk_kring_at(&mp->r->m, mp->rx[i].kring)))
			return false;
	}
	if (cfg.verbose)
		blog(LOG_INFO, "removed monitor %s", mp->name);
	monitor_free(mp);
	return true;
}

void monitor_idle(struct port *mp)
{
	detach_entries(mp);
	for (uint32_t i = 0; i < mp->nrx; i++)
		if (mp->rx[i].kring != NMK_NONE)
			nmk_vale_ring_stop(&mp->r->m, nmk_kring_at(&mp->r->m, mp->rx[i].kring));
	if (try_free(mp))
		return;
	struct mpending *pe = malloc(sizeof(*pe));
	if (pe == NULL)
		return;
	pe->p = mp;
	pe->next = mpendings;
	mpendings = pe;
}

bool monitor_reap(void)
{
	for (struct mpending **q = &mpendings; *q;) {
		struct mpending *pe = *q;
		if (try_free(pe->p)) {
			*q = pe->next;
			free(pe);
		} else {
			q = &pe->next;
		}
	}
	return mpendings != NULL;
}
