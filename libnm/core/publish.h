/*
 * publish.h - how frames become visible to the reader of an RX ring, and
 * to the monitors of a ring (reference §2.10).
 *
 * Publishing is one step wherever frames arrive (a pipe sender's txsync, a
 * VALE sender's delivery, a driver's rxsync): copy monitors of the ring
 * see the frames, hwtail moves (directly, or through a lease), sleepers
 * wake.  nmk_publish and nmk_publish_lease are that step.
 *
 * Monitors: a kring lists up to NMK_MAX_MON monitor rings (kring.mon[]).
 * Copy monitors get copies of the frames, filled through leases as a VALE
 * destination is; zero-copy monitors (/z) swap buffers with the watched
 * ring once its frames are consumed.  A monitor short of room keeps the
 * newest packets and counts the others in its ring's `drops`.
 */
#ifndef NMK_PUBLISH_H
#define NMK_PUBLISH_H

#include <stdbool.h>
#include <stdint.h>

#include "kind.h"
#include "lease.h"

/* Monitor entries: kring | generation << 32; bit 31 marks a zero-copy one. */
#define NMK_MON_ZCOPY 0x80000000u

static inline bool nmk_has_monitors(const struct nmk_kring *k)
{
	for (unsigned i = 0; i < NMK_MAX_MON; i++)
		if (atomic_load_explicit(&k->mon[i], memory_order_relaxed))
			return true;
	return false;
}

/* Copy slots [from, to) of `src`, a ring of n slots watched through kring
 * k, to k's copy monitors, adding `add_flags` (NS_TXMON on TX). */
void nmk_mon_copy(const struct nmk_mem *m, const struct nmk_kring *k, uint32_t n,
		  struct netmap_ring *src, uint32_t from, uint32_t to, uint16_t add_flags,
		  struct nmk_sync_ctx *ctx);

/* Zero-copy monitors see slots [from, to) of `ring` once consumed: swap
 * their buffers with slots of each monitor's ring, marking both
 * NS_BUF_CHANGED. */
void nmk_mon_swap(const struct nmk_mem *m, const struct nmk_kring *k, uint32_t n,
		  struct netmap_ring *ring, uint32_t from, uint32_t to, uint16_t add_flags,
		  struct nmk_sync_ctx *ctx);

/* Frames [hwtail, to) of RX ring v are complete: monitors see them, hwtail
 * moves to `to`, the reader wakes. */
void nmk_publish(const struct nmk_mem *m, const struct nmk_kring_view *v, uint32_t to,
		 struct nmk_sync_ctx *ctx);

/* The same for `used` slots filled from `start` under lease idx. */
void nmk_publish_lease(const struct nmk_mem *m, const struct nmk_kring_view *v, uint32_t start,
		       uint32_t idx, uint32_t used, struct nmk_sync_ctx *ctx);

/* The rxsync of a lease-filled ring (VALE ports, monitors). */
int nmk_leased_rxsync(struct nmk_sync *s);

#endif /* NMK_PUBLISH_H */
