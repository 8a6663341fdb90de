/*
 * region.h - netmap memory regions: layout arithmetic and ring set-up.
 *
 * A region is what netmap calls an allocator: one shared-memory object
 * holding, in this order, an interface pool (netmap_if), a ring pool
 * (netmap_ring + slots) and a buffer pool, each page aligned (reference
 * §1.7).  Offsets inside it are the same in every process, so shared
 * structures hold offsets, never pointers.
 *
 * Beside it every region has a control object (see shm.h) that holds the
 * state netmap keeps in the kernel (krings).  It is a separate memory object
 * so that a stray write through the netmap mapping cannot reach it.
 */
#ifndef NMK_REGION_H
#define NMK_REGION_H

#include <stddef.h>
#include <stdint.h>

#include <net/netmap.h>

#define NMK_PAGE_SIZE 4096u

/* ring->dir values (netmap: 0 = tx, 1 = rx). */
#define NMK_DIR_TX 0
#define NMK_DIR_RX 1

struct nmk_region_params {
	uint32_t if_num, if_size;
	uint32_t ring_num, ring_size;
	uint32_t buf_num, buf_size;
};

struct nmk_region_layout {
	struct nmk_region_params p;
	uint64_t if_off, ring_off, buf_off;      /* pool offsets in the region */
	uint64_t if_total, ring_total, buf_total; /* pool sizes, page multiples */
	uint64_t memsize;                        /* nr_memsize */
};

/* netmap's limits on pool geometry (reference §1.7). */
#define NMK_MAX_SLOTS      4096u
#define NMK_MIN_BUF_SIZE   64u
#define NMK_MAX_BUF_SIZE   65536u
#define NMK_MAX_RINGS      256u    /* per direction, per port */

/* Round object sizes as netmap does (to 64 bytes) and lay the pools out.
 * Returns 0 or -EINVAL / -E2BIG with a message in err. */
int nmk_region_layout(const struct nmk_region_params *p,
		      struct nmk_region_layout *l, char *err, size_t errlen);

/* Bytes a ring object with `num_slots` slots occupies. */
static inline uint32_t nmk_ring_bytes(uint32_t num_slots)
{
	return (uint32_t)sizeof(struct netmap_ring) + num_slots * (uint32_t)sizeof(struct netmap_slot);
}

/* Address of object `i` of a pool. */
static inline void *nmk_if_at(void *base, const struct nmk_region_layout *l, uint32_t i)
{
	return (char *)base + l->if_off + (uint64_t)i * l->p.if_size;
}
static inline struct netmap_ring *nmk_ring_at(void *base, const struct nmk_region_layout *l,
					      uint32_t i)
{
	return (struct netmap_ring *)((char *)base + l->ring_off + (uint64_t)i * l->p.ring_size);
}
static inline char *nmk_buf_at(void *base, const struct nmk_region_layout *l, uint32_t i)
{
	return (char *)base + l->buf_off + (uint64_t)i * l->p.buf_size;
}

/*
 * Initialise a ring object in place, as netmap does for a fresh ring: the
 * constant header fields, head = cur = 0, tail = N-1 on TX and 0 on RX, and
 * slot i pointing at bufs[i] (or buffer 0 when bufs is NULL: a "fake" ring
 * whose buffers come from a peer), len = buf_size, flags = ptr = 0.
 */
void nmk_ring_init(struct netmap_ring *ring, const struct nmk_region_layout *l,
		   uint32_t ring_index, uint32_t num_slots, uint16_t ringid,
		   uint16_t dir, const uint32_t *bufs);

/* netmap declares tail const for users; only syncs write it. */
#define NMK_RING_TAIL_STORE(ring, value) \
	__atomic_store_n((uint32_t *)(uintptr_t)&(ring)->tail, (value), __ATOMIC_RELEASE)

#endif /* NMK_REGION_H */
