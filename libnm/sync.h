/*
 * sync.h - txsync and rxsync: netmap's ring protocol on shared memory.
 *
 * These run in the application's process (the data path never passes
 * through the broker).  Every value the application wrote into its ring is
 * validated before use: a bad head or cur resets the ring as netmap does; a
 * bad buffer index or length is replaced by buffer 0 with length 0.  Either
 * way the sync returns -EINVAL and describes the fault in `err`.
 */
#ifndef NMK_SYNC_H
#define NMK_SYNC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "shm.h"

/* Who to wake after a sync made a ring of another port ready: the
 * bindings in `mask` of control port `port_index`. */
typedef void (*nmk_wake_fn)(void *arg, const struct nmk_mem *m,
			    uint32_t port_index, uint64_t mask);

struct nmk_vale_scratch;
struct nmk_driver;
struct nmk_driver_port;

/* What a sync needs from its caller. */
struct nmk_sync_ctx {
	nmk_wake_fn wake;               /* how to wake sleepers of other ports */
	void *wake_arg;
	struct nmk_vale_scratch *vale;  /* VALE batch space (owned by the caller) */
	const struct nmk_driver *drv;   /* driver ports: the driver running them here */
	struct nmk_driver_port *drv_port;
	char *err;                      /* where a failure is described */
	size_t errlen;
};

/* Sync one ring.  Returns 0, 1 when the ring was busy in another sync
 * (skipped, as netmap skips it), or -EINVAL with a message. */
int nmk_kring_txsync(const struct nmk_mem *m, uint32_t kring, struct nmk_sync_ctx *ctx);
int nmk_kring_rxsync(const struct nmk_mem *m, uint32_t kring, struct nmk_sync_ctx *ctx);

/* Helpers shared by the ring kinds (sync.c). */
int nmk_sync_prologue(const struct nmk_mem *m, struct nmk_kring *k, struct netmap_ring *ring,
		      uint32_t *head_out, char *err, size_t errlen);
void nmk_sync_set_tail(struct netmap_ring *ring, struct nmk_kring *k, uint32_t tail);
void nmk_sync_wake_armed(const struct nmk_mem *m, struct nmk_kring *k, struct nmk_sync_ctx *ctx);
void nmk_sync_stamp(struct netmap_ring *ring);
uint32_t nmk_my_pid(void);

/* Would a sync of this ring now make it ready (cur != new tail)?  Used
 * after arming, to close the race with a producer. */
bool nmk_kring_ready(const struct nmk_mem *m, uint32_t kring);

/* Put the user-visible ring fields back in line with the kring: head =
 * cur = hwcur, tail = what the port has ready, the constant header fields
 * as nmk_ring_init() wrote them, and buffer 0 / length 0 in every slot the
 * user may write through that holds a bad index or length.  Done by the
 * broker when a ring gets its first user, and by syncs when a client wrote
 * garbage. */
void nmk_kring_reset_view(const struct nmk_mem *m, uint32_t kring);

/* Arm / disarm binding `slot` for a wake-up on this ring. */
void nmk_kring_arm(const struct nmk_mem *m, uint32_t kring, uint32_t slot);
void nmk_kring_disarm(const struct nmk_mem *m, uint32_t kring, uint32_t slot);

#endif /* NMK_SYNC_H */
