/*
 * monitor.c - the rings of a monitor port (reference §2.10).
 *
 * A monitor's RX rings are filled by whoever moves the watched port's
 * frames, through leases (core/publish.c), so reading them is the rxsync
 * of any lease-filled ring; its one TX ring cannot send, as in netmap.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <errno.h>

#include "port_kinds.h"
#include "publish.h"

static int monitor_txsync(struct nmk_sync *s)
{
	nmk_errbuf(s->ctx->err, s->ctx->errlen, "a monitor cannot transmit (tx ring %u)",
		   s->v->ring_id);
	return -EIO;
}

static uint32_t monitor_tail(const struct nmk_mem *m, const struct nmk_kring_view *v)
{
	if (v->dir == NMK_DIR_RX)
		return nmk_tail_published(m, v);
	return nmk_view_kring(m, v)->rtail % v->num_slots;     /* never moves */
}

const struct nmk_kind_ops nmk_monitor_ops = {
	.txsync = monitor_txsync,
	.rxsync = nmk_leased_rxsync,
	.tail = monitor_tail,
	.tx_refused = true,
};
