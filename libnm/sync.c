/*
 * sync.c - txsync and rxsync for rings in shared memory.
 *
 * Every index the application can write (head, cur, buf_idx, len, flags) is
 * read once into a local, checked, and only then used.  Kernel-side state
 * (the kring) lives in the control object, which applications do not map
 * through the netmap API.
 *
 * Ordering, so that a process killed at any instruction leaves a state the
 * next sync (by anyone) can continue from:
 *   txsync: copy slots to the peer -> publish own hwcur -> publish the
 *           peer's hwtail (complete packets only) -> wake the peer;
 *   rxsync: copy released slots back to the peer -> publish own hwcur ->
 *           wake the peer.
 * A slot is never visible to the other side before its contents are.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "forward.h"
#include "nmk_driver.h"
#include "nm_os.h"
#include "sync.h"

/* ---- the per-ring try-lock ---------------------------------------------- */

static pid_t cached_pid;
static pthread_once_t pid_once = PTHREAD_ONCE_INIT;

static void pid_refresh(void)
{
	cached_pid = getpid();
}

static void pid_init(void)
{
	pid_refresh();
	pthread_atfork(NULL, NULL, pid_refresh);
}

uint32_t nmk_my_pid(void)
{
	pthread_once(&pid_once, pid_init);
	return (uint32_t)cached_pid;
}

/*
 * netmap lets one sync at a time run on a ring and skips the others.  The
 * lock word holds the pid of the process inside the sync, so that a ring
 * whose syncer was killed mid-way can be taken over instead of staying
 * locked forever.
 */
static bool ring_tryget(struct nmk_kring *k)
{
	uint32_t expected = 0, me = nmk_my_pid();

	if (atomic_compare_exchange_strong_explicit(&k->busy, &expected, me,
						    memory_order_acquire, memory_order_relaxed))
		return true;
	if (expected != me && nm_os_pid_dead((pid_t)expected))
		return atomic_compare_exchange_strong_explicit(&k->busy, &expected, me,
							       memory_order_acquire,
							       memory_order_relaxed);
	return false;
}

static void ring_put(struct nmk_kring *k)
{
	atomic_store_explicit(&k->busy, 0, memory_order_release);
}

/* ---- helpers ------------------------------------------------------------ */

static inline uint32_t ring_next(uint32_t i, uint32_t n)
{
	return i + 1 == n ? 0 : i + 1;
}

static inline uint32_t ring_prev(uint32_t i, uint32_t n)
{
	return i == 0 ? n - 1 : i - 1;
}

/* Is x in the circular interval [a, b]? */
static inline bool in_range(uint32_t x, uint32_t a, uint32_t b, uint32_t n)
{
	if (x >= n)
		return false;
	return a <= b ? (x >= a && x <= b) : (x >= a || x <= b);
}

static inline struct netmap_ring *ring_of(const struct nmk_mem *m, const struct nmk_kring *k)
{
	return nmk_ring_at(m->base, m->l, k->ring_index);
}

/* The kring the control object says is the peer, if it is sane. */
static struct nmk_kring *peer_of(const struct nmk_mem *m, const struct nmk_kring *k)
{
	if (k->peer >= m->g.nkrings)
		return NULL;
	struct nmk_kring *p = nmk_kring_at(m, k->peer);
	return p->num_slots == k->num_slots ? p : NULL;
}

static inline uint32_t load_u32(const volatile uint32_t *p)
{
	return *p;
}

void nmk_sync_wake_armed(const struct nmk_mem *m, struct nmk_kring *k, struct nmk_sync_ctx *ctx)
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

/*
 * Check a slot the application handed over.  Buffers 0 and 1 are allowed:
 * they are real memory that netmap uses as scratch for bad slots.
 */
static bool slot_ok(const struct nmk_mem *m, uint32_t idx, uint32_t len)
{
	return idx < m->l->p.buf_num && len <= m->l->p.buf_size;
}

void nmk_sync_set_tail(struct netmap_ring *ring, struct nmk_kring *k, uint32_t tail)
{
	k->rtail = tail;
	NMK_RING_TAIL_STORE(ring, tail);
}

/* ---- views -------------------------------------------------------------- */

static uint32_t current_tail(const struct nmk_mem *m, struct nmk_kring *k)
{
	struct nmk_kring *p;

	switch (k->kind) {
	case NMK_KR_PIPE_TX:
		p = peer_of(m, k);
		if (p == NULL)
			return k->rtail;
		/* TX space returns only when the receiver releases slots. */
		return ring_prev(atomic_load_explicit(&p->hwcur, memory_order_acquire) % k->num_slots,
				 k->num_slots);
	case NMK_KR_PIPE_RX:
	case NMK_KR_VALE_RX:
	case NMK_KR_DRV_RX:
		return atomic_load_explicit(&k->hwtail, memory_order_acquire) % k->num_slots;
	case NMK_KR_DRV_TX:
	case NMK_KR_VALE_TX:
		/* VALE frees the whole TX ring at every txsync; a driver frees
		 * what it has taken. */
		return ring_prev(atomic_load_explicit(&k->hwcur, memory_order_relaxed) % k->num_slots,
				 k->num_slots);
	default:
		return k->rtail;
	}
}

void nmk_kring_reset_view(const struct nmk_mem *m, uint32_t kring)
{
	struct nmk_kring *k = nmk_kring_at(m, kring);
	struct netmap_ring *ring = ring_of(m, k);
	uint32_t hwcur = atomic_load(&k->hwcur) % (k->num_slots ? k->num_slots : 1);

	if (k->num_slots == 0)
		return;
	/* The constant fields too: a previous user may have scribbled over
	 * them, and NETMAP_BUF() and nm_ring_next() in the next one trust
	 * them.  Same values as nmk_ring_init(). */
	uint64_t ring_off = m->l->ring_off + (uint64_t)k->ring_index * m->l->p.ring_size;
	*(int64_t *)(uintptr_t)&ring->buf_ofs = (int64_t)(m->l->buf_off - ring_off);
	*(uint32_t *)(uintptr_t)&ring->num_slots = k->num_slots;
	*(uint32_t *)(uintptr_t)&ring->nr_buf_size = m->l->p.buf_size;
	*(uint16_t *)(uintptr_t)&ring->ringid = k->ring_id;
	*(uint16_t *)(uintptr_t)&ring->dir = k->dir;
	ring->head = ring->cur = hwcur;
	k->rhead = hwcur;
	uint32_t tail = current_tail(m, k);
	nmk_sync_set_tail(ring, k, tail);

	/* As netmap_ring_reinit() (reference §2.1): no slot the user may
	 * write through keeps a bad index or length.  On TX that is every
	 * slot, since each comes back to the user as it is (a pipe peer only
	 * ever writes valid indices into them); on RX the slots shown,
	 * [hwcur, tail): the others are rewritten before they are shown. */
	uint32_t count = k->dir == NMK_DIR_TX ? k->num_slots :
			 (tail + k->num_slots - hwcur) % k->num_slots;
	for (uint32_t j = 0, i = hwcur; j < count; j++, i = ring_next(i, k->num_slots)) {
		struct netmap_slot *s = &ring->slot[i];
		if (!slot_ok(m, s->buf_idx, s->len)) {
			s->buf_idx = 0;
			s->len = 0;
		}
	}
}

bool nmk_kring_ready(const struct nmk_mem *m, uint32_t kring)
{
	struct nmk_kring *k = nmk_kring_at(m, kring);
	struct netmap_ring *ring = ring_of(m, k);

	return current_tail(m, k) != load_u32(&ring->cur);
}

void nmk_kring_arm(const struct nmk_mem *m, uint32_t kring, uint32_t slot)
{
	atomic_fetch_or(&nmk_kring_at(m, kring)->armed, UINT64_C(1) << slot);
}

void nmk_kring_disarm(const struct nmk_mem *m, uint32_t kring, uint32_t slot)
{
	struct nmk_kring *k = nmk_kring_at(m, kring);
	if (atomic_load_explicit(&k->armed, memory_order_relaxed) & (UINT64_C(1) << slot))
		atomic_fetch_and(&k->armed, ~(UINT64_C(1) << slot));
}

/*
 * Validate head and cur against the window the user owns, [rhead, rtail]
 * (netmap.c's prologue).  On a violation reset the ring as netmap does.
 */
int nmk_sync_prologue(const struct nmk_mem *m, struct nmk_kring *k, struct netmap_ring *ring,
		      uint32_t *head_out, char *err, size_t errlen)
{
	uint32_t n = k->num_slots;
	uint32_t head = load_u32(&ring->head), cur = load_u32(&ring->cur);
	uint32_t tail = load_u32(&ring->tail);
	uint32_t lo = k->dir == NMK_DIR_TX ? k->rhead : atomic_load_explicit(&k->hwcur,
									     memory_order_relaxed);

	if (tail != k->rtail)           /* read-only for the user: restore it */
		nmk_sync_set_tail(ring, k, k->rtail);
	if (!in_range(head, lo, k->rtail, n) || !in_range(cur, head, k->rtail, n)) {
		snprintf(err, errlen, "%s ring %u: head %u / cur %u outside [%u, %u] of %u slots; ring reset",
			 k->dir == NMK_DIR_TX ? "tx" : "rx", k->ring_id, head, cur, lo, k->rtail, n);
		nmk_kring_reset_view(m, (uint32_t)(k - nmk_kring_at(m, 0)));
		return -EINVAL;
	}
	*head_out = head;
	return 0;
}

/* netmap sets the receive timestamp at every RX sync: a vDSO clock read. */
void nmk_sync_stamp(struct netmap_ring *ring)
{
	struct timespec ts;
#ifdef CLOCK_REALTIME_COARSE
	clock_gettime(CLOCK_REALTIME_COARSE, &ts);
#else
	clock_gettime(CLOCK_REALTIME, &ts);
#endif
	ring->ts.tv_sec = ts.tv_sec;
	ring->ts.tv_usec = ts.tv_nsec / 1000;
}

/* ---- pipes -------------------------------------------------------------- */

static int pipe_txsync(const struct nmk_mem *m, struct nmk_kring *k, struct nmk_sync_ctx *ctx)
{
	char *err = ctx->err;
	size_t errlen = ctx->errlen;
	struct nmk_kring *pk = peer_of(m, k);
	struct netmap_ring *ring = ring_of(m, k);
	uint32_t n = k->num_slots, head, bad = 0, bad_slot = 0, bad_idx = 0, bad_len = 0;
	int ret;

	if (pk == NULL) {
		snprintf(err, errlen, "tx ring %u: pipe peer ring is missing", k->ring_id);
		return -EIO;
	}
	struct netmap_ring *pring = ring_of(m, pk);
	ret = nmk_sync_prologue(m, k, ring, &head, err, errlen);
	if (ret < 0)
		return ret;

	/* 1. Hand slots [hwcur, head) to the peer: descriptors only. */
	uint32_t hwcur = atomic_load_explicit(&k->hwcur, memory_order_relaxed) % n;
	for (uint32_t i = hwcur; i != head; i = ring_next(i, n)) {
		struct netmap_slot s = ring->slot[i];
		if (!slot_ok(m, s.buf_idx, s.len)) {
			if (!bad++)
				bad_slot = i, bad_idx = s.buf_idx, bad_len = s.len;
			s.buf_idx = 0;
			s.len = 0;
			ring->slot[i].buf_idx = 0;
			ring->slot[i].len = 0;
		}
		/* Write back only what changes: a slot's cache line then stays
		 * where it is. */
		if (s.flags & NS_BUF_CHANGED) {
			s.flags &= (uint16_t)~NS_BUF_CHANGED;
			ring->slot[i].flags = s.flags;
		}
		pring->slot[i] = s;
	}
	/* Copy monitors see TX traffic before it is consumed. */
	if (nmk_has_monitors(k))
		nmk_mon_copy(m, k, ring, hwcur, head, NS_TXMON, ctx);

	/* 2. Our progress. */
	atomic_store_explicit(&k->hwcur, head, memory_order_release);
	k->rhead = head;

	/* 3. The peer sees only complete packets.  We are the only writer of
	 * its hwtail, so scanning from it also finishes the work of a syncer
	 * that was killed between steps 2 and 3. */
	uint32_t old = atomic_load_explicit(&pk->hwtail, memory_order_relaxed) % n;
	uint32_t last = old, frags = 0;
	for (uint32_t i = old; i != head; i = ring_next(i, n)) {
		if ((pring->slot[i].flags & NS_MOREFRAG) && ++frags < NETMAP_MAX_FRAGS)
			continue;
		if (frags >= NETMAP_MAX_FRAGS && (pring->slot[i].flags & NS_MOREFRAG)) {
			/* An endless fragment chain: cut it, so it cannot
			 * wedge the ring. */
			pring->slot[i].flags &= (uint16_t)~NS_MOREFRAG;
			if (!bad++)
				bad_slot = i, bad_idx = pring->slot[i].buf_idx, bad_len = 0xffffffff;
		}
		frags = 0;
		last = ring_next(i, n);
	}
	if (last != old) {
		/* ... and RX traffic as it arrives. */
		if (nmk_has_monitors(pk))
			nmk_mon_copy(m, pk, pring, old, last, 0, ctx);
		atomic_store_explicit(&pk->hwtail, last, memory_order_release);
		nmk_sync_wake_armed(m, pk, ctx);
	}

	/* 4. Our new tail. */
	nmk_sync_set_tail(ring, k, current_tail(m, k));
	if (bad) {
		if (bad_len == 0xffffffff)
			snprintf(err, errlen, "tx ring %u slot %u: fragment chain longer than %d slots; cut",
				 k->ring_id, bad_slot, NETMAP_MAX_FRAGS);
		else
			snprintf(err, errlen, "tx ring %u slot %u: buffer %u / length %u invalid (buffers < %u, length <= %u); %u slot(s) sent empty",
				 k->ring_id, bad_slot, bad_idx, bad_len, m->l->p.buf_num,
				 m->l->p.buf_size, bad);
		return -EINVAL;
	}
	return 0;
}

static int pipe_rxsync(const struct nmk_mem *m, struct nmk_kring *k, struct nmk_sync_ctx *ctx)
{
	char *err = ctx->err;
	size_t errlen = ctx->errlen;
	struct nmk_kring *pk = peer_of(m, k);
	struct netmap_ring *ring = ring_of(m, k);
	uint32_t n = k->num_slots, head, bad = 0, bad_slot = 0, bad_idx = 0;
	int ret;

	if (pk == NULL) {
		snprintf(err, errlen, "rx ring %u: pipe peer ring is missing", k->ring_id);
		return -EIO;
	}
	struct netmap_ring *pring = ring_of(m, pk);
	ret = nmk_sync_prologue(m, k, ring, &head, err, errlen);
	if (ret < 0)
		return ret;

	/* Zero-copy monitors see the packets once released: the receiver's
	 * own (/z on this end) and, since a pipe's TX slot completes when its
	 * peer releases it, the sender's (/z on the other end).  Swapped
	 * slots are marked NS_BUF_CHANGED, so step 1 hands the new buffers
	 * back to the sender. */
	uint32_t hw0 = atomic_load_explicit(&k->hwcur, memory_order_relaxed) % n;
	if (hw0 != head) {
		if (nmk_has_monitors(k))
			nmk_mon_swap(m, k, ring, hw0, head, 0, ctx);
		if (nmk_has_monitors(pk))
			nmk_mon_swap(m, pk, ring, hw0, head, NS_TXMON, ctx);
	}

	/* 1. Give released slots [hwcur, head) back to the sender.  Only
	 * slots the receiver marked NS_BUF_CHANGED (it swapped a buffer in, as
	 * netmap requires it to say) are copied: the sender's slots are not
	 * touched otherwise, so their cache lines stay on the sender's core. */
	uint32_t hwcur = atomic_load_explicit(&k->hwcur, memory_order_relaxed) % n;
	for (uint32_t i = hwcur; i != head; i = ring_next(i, n)) {
		uint16_t flags = ring->slot[i].flags;
		if (!(flags & NS_BUF_CHANGED))
			continue;
		uint32_t idx = ring->slot[i].buf_idx;
		if (!slot_ok(m, idx, 0)) {
			if (!bad++)
				bad_slot = i, bad_idx = idx;
			idx = 0;
			ring->slot[i].buf_idx = 0;
		}
		pring->slot[i].buf_idx = idx;
		pring->slot[i].flags |= NS_BUF_CHANGED;
		ring->slot[i].flags = flags & (uint16_t)~NS_BUF_CHANGED;
	}
	/* 2. Publish: the sender's tail follows our hwcur. */
	if (head != hwcur) {
		atomic_store_explicit(&k->hwcur, head, memory_order_release);
		nmk_sync_wake_armed(m, pk, ctx);
	}
	k->rhead = head;

	/* 3. New packets, and netmap's receive timestamp. */
	nmk_sync_set_tail(ring, k, current_tail(m, k));
	nmk_sync_stamp(ring);
	if (bad) {
		snprintf(err, errlen, "rx ring %u slot %u: buffer index %u invalid (buffers < %u); %u slot(s) reset to buffer 0",
			 k->ring_id, bad_slot, bad_idx, m->l->p.buf_num, bad);
		return -EINVAL;
	}
	return 0;
}

/* ---- driver ports ------------------------------------------------------- */

static struct nmk_driver_ring drv_ring(const struct nmk_mem *m, struct netmap_ring *ring)
{
	struct nmk_driver_ring r = {
		.ring = ring,
		.bufbase = (char *)m->base + m->l->buf_off,
		.buf_size = m->l->p.buf_size,
		.nbufs = m->l->p.buf_num,
	};
	return r;
}

/* The driver sends slots [hwcur, head) and says how many it took; those
 * are free again at once (as VALE frees its TX ring). */
static int drv_txsync(const struct nmk_mem *m, struct nmk_kring *k, struct nmk_sync_ctx *ctx)
{
	struct netmap_ring *ring = ring_of(m, k);
	uint32_t n = k->num_slots, head;
	int ret;

	if (ctx->drv == NULL) {
		snprintf(ctx->err, ctx->errlen, "tx ring %u: the driver runs in the process that opened the port",
			 k->ring_id);
		return -EIO;
	}
	ret = nmk_sync_prologue(m, k, ring, &head, ctx->err, ctx->errlen);
	if (ret < 0)
		return ret;
	uint32_t hwcur = atomic_load_explicit(&k->hwcur, memory_order_relaxed) % n;
	for (uint32_t i = hwcur; i != head; i = ring_next(i, n))
		if (ring->slot[i].flags & NS_BUF_CHANGED)
			ring->slot[i].flags &= (uint16_t)~NS_BUF_CHANGED;
	if (head != hwcur && nmk_has_monitors(k))
		nmk_mon_copy(m, k, ring, hwcur, head, NS_TXMON, ctx);
	struct nmk_driver_ring dr = drv_ring(m, ring);
	int sent = head == hwcur ? 0 : ctx->drv->txsync(ctx->drv_port, k->ring_id, &dr, hwcur, head);
	if (sent < 0) {
		snprintf(ctx->err, ctx->errlen, "tx ring %u: the driver failed: %s", k->ring_id,
			 strerror(-sent));
		sent = 0;
		ret = -EIO;
	}
	uint32_t pending = (head + n - hwcur) % n;
	if ((uint32_t)sent > pending)
		sent = (int)pending;
	hwcur = (hwcur + (uint32_t)sent) % n;
	atomic_store_explicit(&k->hwcur, hwcur, memory_order_release);
	k->rhead = head;
	nmk_sync_set_tail(ring, k, ring_prev(hwcur, n));
	return ret;
}

/* Release [hwcur, head), then let the driver fill the free slots. */
static int drv_rxsync(const struct nmk_mem *m, struct nmk_kring *k, struct nmk_sync_ctx *ctx)
{
	struct netmap_ring *ring = ring_of(m, k);
	uint32_t n = k->num_slots, head;
	int ret;

	if (ctx->drv == NULL) {
		snprintf(ctx->err, ctx->errlen, "rx ring %u: the driver runs in the process that opened the port",
			 k->ring_id);
		return -EIO;
	}
	ret = nmk_sync_prologue(m, k, ring, &head, ctx->err, ctx->errlen);
	if (ret < 0)
		return ret;
	uint32_t hwcur = atomic_load_explicit(&k->hwcur, memory_order_relaxed) % n;
	for (uint32_t i = hwcur; i != head; i = ring_next(i, n)) {
		uint16_t flags = ring->slot[i].flags;
		if (!(flags & NS_BUF_CHANGED))
			continue;
		if (!slot_ok(m, ring->slot[i].buf_idx, 0))
			ring->slot[i].buf_idx = 0;
		ring->slot[i].flags = flags & (uint16_t)~NS_BUF_CHANGED;
	}
	atomic_store_explicit(&k->hwcur, head, memory_order_release);
	k->rhead = head;
	uint32_t tail = atomic_load_explicit(&k->hwtail, memory_order_relaxed) % n;
	uint32_t room = (head + n - 1 - tail) % n;
	if (room) {
		struct nmk_driver_ring dr = drv_ring(m, ring);
		int got = ctx->drv->rxsync(ctx->drv_port, k->ring_id, &dr, tail, room);
		if (got < 0) {
			snprintf(ctx->err, ctx->errlen, "rx ring %u: the driver failed: %s", k->ring_id,
				 strerror(-got));
			got = 0;
			ret = -EIO;
		}
		if ((uint32_t)got > room)
			got = (int)room;
		uint32_t ntail = (tail + (uint32_t)got) % n;
		if (got && nmk_has_monitors(k))
			nmk_mon_copy(m, k, ring, tail, ntail, 0, ctx);
		atomic_store_explicit(&k->hwtail, ntail, memory_order_release);
	}
	nmk_sync_set_tail(ring, k, atomic_load_explicit(&k->hwtail, memory_order_relaxed) % n);
	nmk_sync_stamp(ring);
	return ret;
}

/* ---- dispatch ----------------------------------------------------------- */

static int kring_sync(const struct nmk_mem *m, uint32_t kring, int dir, struct nmk_sync_ctx *ctx)
{
	struct nmk_kring *k;
	int ret;

	if (kring >= m->g.nkrings)
		return -EINVAL;
	k = nmk_kring_at(m, kring);
	if (k->num_slots < 2 || k->num_slots > NMK_MAX_SLOTS || k->dir != dir) {
		snprintf(ctx->err, ctx->errlen, "ring %u is not set up", kring);
		return -EIO;
	}
	if (!ring_tryget(k))
		return 1;
	switch (k->kind) {
	case NMK_KR_PIPE_TX:
		ret = pipe_txsync(m, k, ctx);
		break;
	case NMK_KR_PIPE_RX:
		ret = pipe_rxsync(m, k, ctx);
		break;
	case NMK_KR_VALE_TX:
		ret = nmk_vale_txsync(m, k, ctx);
		break;
	case NMK_KR_VALE_RX:
		ret = nmk_vale_rxsync(m, k, ctx);
		break;
	case NMK_KR_NULL:
		ret = 0;
		break;
	case NMK_KR_MON_TX:
		snprintf(ctx->err, ctx->errlen, "a monitor cannot transmit (tx ring %u)", k->ring_id);
		ret = -EIO;
		break;
	case NMK_KR_DRV_TX:
		ret = drv_txsync(m, k, ctx);
		break;
	case NMK_KR_DRV_RX:
		ret = drv_rxsync(m, k, ctx);
		break;
	default:
		snprintf(ctx->err, ctx->errlen, "ring %u has unknown kind %u", kring, k->kind);
		ret = -EIO;
		break;
	}
	ring_put(k);
	return ret;
}

int nmk_kring_txsync(const struct nmk_mem *m, uint32_t kring, struct nmk_sync_ctx *ctx)
{
	return kring_sync(m, kring, NMK_DIR_TX, ctx);
}

int nmk_kring_rxsync(const struct nmk_mem *m, uint32_t kring, struct nmk_sync_ctx *ctx)
{
	return kring_sync(m, kring, NMK_DIR_RX, ctx);
}
