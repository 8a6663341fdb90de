/*
 * lease.h - filling one RX ring from many processes at once (VALE's
 * leases, reference §4.6): a producer reserves slots under the ring's
 * short lock, copies into them without it, and completes the lease under
 * the lock; completed leases are published in order by moving hwtail.
 * VALE destination rings and monitor rings are filled this way
 * (NMK_KRING_LEASED).
 *
 * Leases survive deaths: a record carries its holder's pid and when it was
 * taken, and whoever finds the oldest lease held for a while by a dead
 * process completes it with empty slots, so the ring never stalls.
 *
 * Nothing here trusts the shared words: the lock is taken over when its
 * holder is dead or has held it impossibly long (a forgery), waits for it
 * are bounded, lease indices and records are reduced and range-checked,
 * and a lease window that cannot be right is reset.
 */
#ifndef NMK_LEASE_H
#define NMK_LEASE_H

#include <stdbool.h>
#include <stdint.h>

#include "kind.h"

#define NMK_LEASE_STALE_MS     50u     /* a lease older than this may be a dead one */
#define NMK_LEASE_LOCK_STUCK_MS 1000u  /* a lock held this long is corrupt */
#define NMK_LEASE_WAIT_NS      200000u /* how long a sender waits for the lock */

/*
 * The lease lock of ring k: spin for at most wait_ns (yielding the CPU
 * after a while, in case the holder was preempted on ours), taking it over
 * from a dead holder or one that has held it for NMK_LEASE_LOCK_STUCK_MS.
 * Returns whether it is held.
 */
bool nmk_lease_lock(struct nmk_kring *k, uint64_t wait_ns);
void nmk_lease_unlock(struct nmk_kring *k);

/*
 * Reserve up to `want` slots of lease-filled ring v (loaded and checked
 * by the caller) for a port of generation gen.  Returns the number
 * reserved (0: stopped, gone, full, or the lock could not be had) with
 * the first slot and the lease's index.  *why says which: 0 reserved, else
 * NMK_LEASE_FULL, NMK_LEASE_GONE or NMK_LEASE_BUSY.
 */
enum { NMK_LEASE_OK = 0, NMK_LEASE_FULL, NMK_LEASE_GONE, NMK_LEASE_BUSY };
uint32_t nmk_lease_take(const struct nmk_mem *m, const struct nmk_kring_view *v, uint32_t gen,
			uint32_t want, uint32_t *start, uint32_t *idx, int *why);

/*
 * Is ring v held up by other producers' leases: the reader has taken all
 * that was published, yet fewer than `want` slots are free, because they
 * sit in leases not completed yet?  An unlocked look (a few loads).  A
 * producer preempted in the middle of its lease is the usual cause when
 * two share a CPU: the caller then lets it run (sched_yield) before it
 * takes its own lease, instead of finding the ring full until the other
 * is scheduled again.
 */
bool nmk_lease_held_up(const struct nmk_mem *m, const struct nmk_kring_view *v, uint32_t want);

/* Finish lease idx after filling `used` of its slots; what can be is
 * published.  Returns whether hwtail moved (wake the reader). */
bool nmk_lease_done(const struct nmk_mem *m, const struct nmk_kring_view *v, uint32_t idx,
		    uint32_t used);

/* Complete the leases of dead processes on ring v (all that are dead with
 * force, else only those older than NMK_LEASE_STALE_MS).  Returns whether
 * hwtail moved. */
bool nmk_lease_recover(const struct nmk_mem *m, const struct nmk_kring_view *v, bool force);

/* The cheap unlocked look before nmk_lease_recover: is the oldest lease
 * old enough to be a dead one? */
bool nmk_lease_maybe_stale(const struct nmk_mem *m, const struct nmk_kring_view *v);

/* Stop ring v (its port is leaving): no new lease.  Then nmk_lease_idle
 * tells when the leases granted before are done (completing those of dead
 * processes; it stops the ring too).  Both wait at most wait_ns for the
 * lock; stop returns false and idle 0 if it could not be had. */
bool nmk_lease_stop(const struct nmk_mem *m, const struct nmk_kring_view *v, uint64_t wait_ns);
int nmk_lease_idle(const struct nmk_mem *m, const struct nmk_kring_view *v, uint64_t wait_ns);

#endif /* NMK_LEASE_H */
