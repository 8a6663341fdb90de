/*
 * kind.c - pieces that several port kinds share (see kind.h).
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include "kind.h"

uint32_t nmk_tail_published(const struct nmk_mem *m, const struct nmk_kring_view *v)
{
	return atomic_load_explicit(&nmk_view_kring(m, v)->hwtail, memory_order_acquire) %
	       v->num_slots;
}

uint32_t nmk_tail_before_hwcur(const struct nmk_mem *m, const struct nmk_kring_view *v)
{
	uint32_t n = v->num_slots;

	return nmk_ring_prev(atomic_load_explicit(&nmk_view_kring(m, v)->hwcur,
						  memory_order_relaxed) % n, n);
}

void nmk_wake_armed(const struct nmk_mem *m, struct nmk_kring *k, struct nmk_sync_ctx *ctx)
{
	/* Pairs with the seq_cst fetch_or in nmk_kring_arm: either the
	 * sleeper sees our new index, or we see its bit. */
	atomic_thread_fence(memory_order_seq_cst);
	if (atomic_load_explicit(&k->armed, memory_order_relaxed) == 0)
		return;
	uint64_t mask = atomic_exchange(&k->armed, 0);
	if (mask && ctx->wake)
		ctx->wake(ctx->wake_arg, m, k->port, mask);
}
