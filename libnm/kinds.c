/*
 * kinds.c - the table of port kinds, and the generic part of every sync.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <errno.h>

#include "forward.h"
#include "kinds.h"
#include "port_kinds.h"
#include "publish.h"

static const struct nmk_kind_ops *const kinds[NMK_KIND_MAX] = {
	[NMK_KIND_PIPE] = &nmk_pipe_ops,
	[NMK_KIND_VALE] = &nmk_vale_ops,
	[NMK_KIND_MONITOR] = &nmk_monitor_ops,
	[NMK_KIND_DRIVER] = &nmk_driver_ops,
};

const struct nmk_kind_ops *nmk_kind_ops(uint32_t kind)
{
	return kind < NMK_KIND_MAX ? kinds[kind] : NULL;
}

void nmk_kring_reset(const struct nmk_mem *m, const struct nmk_kring_view *v)
{
	const struct nmk_kind_ops *ops = nmk_kind_ops(v->kind);

	if (ops)
		nmk_kring_reset_view(m, v, ops->tail(m, v));
}

bool nmk_kring_ready(const struct nmk_mem *m, const struct nmk_kring_view *v)
{
	const struct nmk_kind_ops *ops = nmk_kind_ops(v->kind);
	const volatile uint32_t *cur = &nmk_view_ring(m, v)->cur;

	return ops && ops->tail(m, v) != *cur;
}

int nmk_kring_sync(const struct nmk_mem *m, struct nmk_kring_view *v, int dir,
		   struct nmk_sync_ctx *ctx)
{
	const struct nmk_kind_ops *ops = nmk_kind_ops(v->kind);
	struct nmk_kring *k = nmk_view_kring(m, v);
	uint32_t n = v->num_slots;
	int ret;

	if (ops == NULL || v->dir != dir) {
		nmk_errbuf(ctx->err, ctx->errlen, "ring %u is not set up", v->index);
		return -EIO;
	}
	int locked = nmk_kring_tryget(k, v);
	if (locked == 1)
		return 1;
	/* What other processes may have written over our kring's constants
	 * goes back first: senders read them to find this ring. */
	char restored[160];
	int fault = nmk_kring_restore(m, v, restored, sizeof(restored));
	struct nmk_sync s = {
		.m = m, .k = k, .v = v, .ring = nmk_view_ring(m, v),
		.hwcur = atomic_load_explicit(&k->hwcur, memory_order_relaxed) % n, .ctx = ctx,
	};
	ret = nmk_kring_check_head(m, v, &s.head, ctx->err, ctx->errlen);
	if (ret < 0) {
		nmk_kring_reset_view(m, v, ops->tail(m, v));
		goto out;
	}
	if (dir == NMK_DIR_TX) {
		/* Copy monitors see TX slots before they are consumed: those
		 * queued since the last txsync (a driver may leave some of
		 * the earlier ones for later; they were shown already). */
		uint32_t from = k->rhead % n;
		if (from != s.head && nmk_has_monitors(k))
			nmk_mon_copy(m, k, n, s.ring, from, s.head, NS_TXMON, ctx);
		ret = ops->txsync(&s);
	} else {
		ret = ops->rxsync(&s);
	}
out:
	nmk_kring_put(k);
	if (ret == 0 && locked < 0) {
		nmk_errbuf(ctx->err, ctx->errlen,
			   "%s ring %u: its sync lock was held by pid %u for over %llu s (stuck or forged); taken over",
			   dir == NMK_DIR_TX ? "tx" : "rx", v->ring_id, v->busy_seen,
			   NMK_SYNC_STUCK_NS / 1000000000ull);
		ret = -EIO;
	} else if (ret == 0 && fault < 0) {
		nmk_errbuf(ctx->err, ctx->errlen, "%s", restored);
		ret = -EIO;
	}
	return ret;
}
