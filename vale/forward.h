/*
 * forward.h - VALE's data path: forwarding in the sender's txsync, leases
 * on destination rings, and the receiver's rxsync.
 */
#ifndef NMK_VALE_FORWARD_H
#define NMK_VALE_FORWARD_H

#include <stddef.h>
#include <stdint.h>

#include <nmkit/nmkit.h>

#include "shm.h"
#include "sync.h"

/* Per-sender scratch space for one batch (allocated by the first txsync
 * of a port, freed with nmk_vale_scratch_free). */
struct nmk_vale_scratch;
void nmk_vale_scratch_free(struct nmk_vale_scratch *s);

/* nmk_vale_lookup_fn, NMK_VALE_BROADCAST and NMK_VALE_DROP come from the
 * public header. */

/* The syncs, called by sync.c's dispatch with the ring's try-lock held. */
int nmk_vale_txsync(const struct nmk_mem *m, struct nmk_kring *k, struct nmk_sync_ctx *ctx);
int nmk_vale_rxsync(const struct nmk_mem *m, struct nmk_kring *k, struct nmk_sync_ctx *ctx);

/* Complete leases of dead processes on one RX ring (used by the broker when
 * a client goes away, and by syncs that find a ring stuck).  Returns
 * nonzero if the ring's tail moved (its receiver should be woken). */
int nmk_vale_recover_leases(const struct nmk_mem *m, struct nmk_kring *k, int force);

/* Stop an RX ring (its port is leaving): no new lease is granted.  Then
 * nmk_vale_ring_idle tells when the leases granted before are done
 * (completing those of dead processes). */
void nmk_vale_ring_stop(const struct nmk_mem *m, struct nmk_kring *k);
int nmk_vale_ring_idle(const struct nmk_mem *m, struct nmk_kring *k);

/* Copy slots [from, to) of ring `src` (in region m) to every copy monitor
 * of kring k, adding `add_flags` (NS_TXMON for the TX direction).  When a
 * monitor is short of room, its oldest packets are skipped. */
void nmk_mon_copy(const struct nmk_mem *m, struct nmk_kring *k, const struct netmap_ring *src,
		  uint32_t from, uint32_t to, uint16_t add_flags, struct nmk_sync_ctx *ctx);

/* Zero-copy monitors (/z) see traffic after it is consumed: swap the
 * buffers of slots [from, to) of `ring` with slots of the monitor's ring,
 * marking both NS_BUF_CHANGED. */
void nmk_mon_swap(const struct nmk_mem *m, struct nmk_kring *k, struct netmap_ring *ring,
		  uint32_t from, uint32_t to, uint16_t add_flags, struct nmk_sync_ctx *ctx);

/* Monitor entries: kring | generation << 32; bit 31 marks a zero-copy one. */
#define NMK_MON_ZCOPY 0x80000000u

static inline int nmk_has_monitors(const struct nmk_kring *k)
{
	for (unsigned i = 0; i < NMK_MAX_MON; i++)
		if (atomic_load_explicit(&k->mon[i], memory_order_relaxed))
			return 1;
	return 0;
}

/* Register (fn != NULL) or remove a lookup function for a switch, for the
 * senders of this process.  Returns 0 or -ENOMEM. */
int nmk_vale_lookup_register(const char *sw, nmk_vale_lookup_fn fn, void *priv);

#endif /* NMK_VALE_FORWARD_H */
