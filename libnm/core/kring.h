/*
 * kring.h - netmap's kernel-side ring state, in shared memory: the trusted
 * view of a kring, the one-sync-at-a-time lock, validation of what a user
 * wrote into its ring, the tail it is shown, and wake-ups.
 *
 * Trust.  A kring's constant fields (num_slots, kind, dir, peer, port, ...)
 * are written by the broker, but every client of the region can overwrite
 * them.  So whoever opens a ring copies them once into a struct
 * nmk_kring_view, checks them against what the broker told it over its
 * socket, and from then on uses only its copy: a later scribble changes
 * nothing for it.  Code that must use another process's kring (a pipe
 * peer, a VALE destination) loads and checks the constants at every use
 * (nmk_kring_view_load).  Indices read from the ring or the kring (head,
 * cur, hwcur, hwtail, buffer indices) are reduced or checked against the
 * trusted slot count before use.
 */
#ifndef NMK_KRING_H
#define NMK_KRING_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <nmkit/nmk_util.h>

#include "shm.h"

/* A kring's constants, from a trusted source or checked. */
struct nmk_kring_view {
	uint32_t index;         /* kring = ring object index */
	uint32_t num_slots;
	uint32_t kind;
	uint32_t port;          /* control port index */
	uint32_t peer;          /* pipes: the peer kring (< nkrings), else NMK_NONE */
	uint32_t vport;
	uint32_t gen;
	uint32_t flags;         /* NMK_KRING_* */
	uint16_t dir, ring_id;
	/* The opener's private record of contention on the sync lock: the
	 * other holder last seen and since when (nmk_kring_tryget). */
	uint32_t busy_seen;
	uint64_t busy_since_ns;
};

/*
 * Load kring `index`'s constants from shared memory and check them: index
 * below nkrings, a slot count the ring object can hold, dir 0 or 1, peer
 * and port in range.  Returns 0, or -EIO with a message naming the field.
 */
int nmk_kring_view_load(const struct nmk_mem *m, uint32_t index, struct nmk_kring_view *v,
			char *err, size_t errlen);

/*
 * The opener of a ring (holding a registration of it) puts back any of its
 * kring's constants that another process overwrote, from its view, and
 * clears `stopped` (no ring a registration holds is being stopped): senders
 * that read the kring would otherwise take the ring for gone and drop its
 * frames, silently.  Returns 0, or -EIO with a message naming the first
 * field that had been changed.
 */
int nmk_kring_restore(const struct nmk_mem *m, const struct nmk_kring_view *v, char *err,
		      size_t errlen);

static inline struct netmap_ring *nmk_view_ring(const struct nmk_mem *m,
						const struct nmk_kring_view *v)
{
	return nmk_ring_at(m->base, m->l, v->index);
}

static inline struct nmk_kring *nmk_view_kring(const struct nmk_mem *m,
					       const struct nmk_kring_view *v)
{
	return nmk_kring_at(m, v->index);
}

/* A buffer index and length a slot may hold in region m.  Buffers 0 and 1
 * are allowed: real memory that netmap uses as scratch for bad slots. */
static inline bool nmk_slot_ok(const struct nmk_mem *m, uint32_t idx, uint32_t len)
{
	return idx < m->l->p.buf_num && len <= m->l->p.buf_size;
}

/* Is x in the circular interval [a, b] of a ring of n slots? */
static inline bool nmk_ring_in_range(uint32_t x, uint32_t a, uint32_t b, uint32_t n)
{
	if (x >= n)
		return false;
	return a <= b ? (x >= a && x <= b) : (x >= a || x <= b);
}

/* This process's pid, cached (and refreshed after fork). */
uint32_t nmk_my_pid(void);

/*
 * netmap lets one sync at a time run on a ring and skips the others.  The
 * lock word holds the pid inside the sync.  Returns 0 with the lock taken;
 * 1 when another live process is inside a sync (skip, as netmap does); or
 * -EIO when the same other process has held it for NMK_SYNC_STUCK_NS
 * without ever letting go: a live pid sitting in the word that long is a
 * forgery or a wedged process, so the lock is taken over and the caller
 * reports the fault (v->busy_seen is that holder's pid until the next
 * call).  A dead holder's lock is simply taken over.
 */
#define NMK_SYNC_STUCK_NS 1000000000ull
int nmk_kring_tryget(struct nmk_kring *k, struct nmk_kring_view *v);
void nmk_kring_put(struct nmk_kring *k);

/* Store the tail the user sees (and remember it as the window's end). */
void nmk_kring_set_tail(struct netmap_ring *ring, struct nmk_kring *k, uint32_t tail);

/*
 * Validate head and cur against the window the user owns: [rhead, rtail] on
 * TX, [hwcur, rtail] on RX (netmap.c's prologue); a tail written by the user
 * is silently restored.  Returns 0 with *head, or -EINVAL with a message
 * (the caller then resets the view).
 */
int nmk_kring_check_head(const struct nmk_mem *m, const struct nmk_kring_view *v,
			 uint32_t *head, char *err, size_t errlen);

/*
 * Put the user-visible ring back in line with the kring: head = cur =
 * hwcur, tail = `tail` (what the port has ready, from the kind), the
 * constant header fields as nmk_ring_init() wrote them, and buffer 0 /
 * length 0 in every slot the user may write through that holds a bad index
 * or length.  Done by the broker when a ring gets its first user, and by
 * syncs when a client wrote garbage.
 */
void nmk_kring_reset_view(const struct nmk_mem *m, const struct nmk_kring_view *v, uint32_t tail);

/* Arm / disarm binding `slot` for a wake-up on kring `index`. */
void nmk_kring_arm(const struct nmk_mem *m, uint32_t index, uint32_t slot);
void nmk_kring_disarm(const struct nmk_mem *m, uint32_t index, uint32_t slot);

/* netmap's receive timestamp, set at every RX sync (a vDSO clock read). */
void nmk_ring_stamp(struct netmap_ring *ring);

/* The coarse monotonic clock, in ms and in s (vDSO reads). */
uint32_t nmk_now_ms(void);
uint32_t nmk_now_s(void);

/* Is pid gone for good?  Not us; a value no process can have (0 and what
 * does not fit a pid_t) counts as gone.  A lock or lease it holds may be
 * taken over. */
bool nmk_pid_dead(uint32_t pid);

#endif /* NMK_KRING_H */
