/*
 * nic.c - ports of driver plugins ("afpacket:veth0", "tap:tap0"), as the
 * broker sees them.
 *
 * The driver runs in the application that opens the port (it owns the
 * device's socket or fd); the broker only gives the port its rings, in a
 * region of its own, shaped as the driver asked through the REGISTER
 * request.  Every registration gets a port of its own: two applications
 * opening one device each attach beside the other, as AF_PACKET sockets
 * do.  The port goes with its registration.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <syslog.h>

#include "broker.h"
#include "kinds.h"

static uint32_t clamp(uint32_t v, uint32_t lo, uint32_t def)
{
	return v == 0 ? def : v < lo ? lo : v;
}

/* "<driver>:<device>": a lowercase prefix (VALE's "val..." aside). */
static bool nic_claims(struct broker *b, const char *name, const struct nmreq_register *req)
{
	size_t plen = strspn(name, "abcdefghijklmnopqrstuvwxyz0123456789_");

	(void)b;
	(void)req;
	return plen > 0 && name[plen] == ':' && name[plen + 1] != '\0';
}

static struct port *nic_get(struct broker *b, const char *name, const struct nmreq_register *req,
			    const struct nm_os_cred *cred, char *err, size_t errlen, int *status)
{
	uint32_t ntx = clamp(req->nr_tx_rings, 1, 1), nrx = clamp(req->nr_rx_rings, 1, 1);
	uint32_t txs = clamp(req->nr_tx_slots, 2, 1024), rxs = clamp(req->nr_rx_slots, 2, 1024);
	char rerr[200];

	*status = -EINVAL;
	if (ntx > NMK_MAX_RINGS || nrx > NMK_MAX_RINGS || txs > NMK_MAX_SLOTS || rxs > NMK_MAX_SLOTS) {
		snprintf(err, errlen, "%s: at most %u rings of %u slots (asked %u/%u rings, %u/%u slots)",
			 name, NMK_MAX_RINGS, NMK_MAX_SLOTS, ntx, nrx, txs, rxs);
		return NULL;
	}
	uint32_t maxs = txs > rxs ? txs : rxs;
	struct nmk_region_params rp = {
		.if_num = 16, .if_size = 4224,
		.ring_num = ntx + nrx + 2 * NMK_MAX_MON + 2, .ring_size = nmk_ring_bytes(maxs),
		/* Both directions own a buffer per slot, monitors too, and
		 * extra buffers come out of what is left. */
		.buf_num = ntx * txs + nrx * rxs + 4 * maxs + 4096 + 2,
		.buf_size = b->cfg.pipe_region.buf_size,
	};
	struct region *r = region_create(b, name, cred->uid, &rp, 16, 0, rerr, sizeof(rerr));
	if (r == NULL) {
		snprintf(err, errlen, "%s: %s", name, rerr);
		*status = -ENOMEM;
		return NULL;
	}
	struct port *p = port_new(b, name, &nic_kind, r, cred->uid, ntx, nrx, txs, rxs);
	*status = -ENOMEM;
	if (p == NULL) {
		snprintf(err, errlen, "out of memory");
		region_put(b, r);
		return NULL;
	}
	if (region_alloc_port(r, &p->port_index) < 0) {
		snprintf(err, errlen, "%s: no port entry", name);
		goto fail;
	}
	for (uint32_t i = 0; i < ntx; i++)
		if ((*status = port_ring_create(p, true, i, txs, NMK_KIND_DRIVER, 0, 0, true, err,
						errlen)) < 0)
			goto fail;
	for (uint32_t i = 0; i < nrx; i++)
		if ((*status = port_ring_create(p, false, i, rxs, NMK_KIND_DRIVER, 0, 0, true, err,
						errlen)) < 0)
			goto fail;
	*status = 0;
	if (b->cfg.verbose)
		blog(b, LOG_INFO, "created driver port %s (mem %u)", name, r->mem_id);
	return p;
fail:
	port_destroy(b, p);
	region_put(b, r);
	return NULL;
}

/* Its registration went away: free it and its region. */
static void nic_idle(struct broker *b, struct port *p)
{
	struct region *r = p->r;

	port_destroy(b, p);
	region_put(b, r);
}

const struct port_kind nic_kind = {
	.plural = "driver ports",
	.claims = nic_claims,
	.get = nic_get,
	.idle = nic_idle,
	.list_kind = NMK_LIST_DRIVER,
};
