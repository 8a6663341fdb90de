/*
 * region.c - netmap region layout arithmetic and ring initialisation.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "region.h"

static uint64_t round_up(uint64_t v, uint64_t a)
{
	return (v + a - 1) / a * a;
}

int nmk_region_layout(const struct nmk_region_params *p,
		      struct nmk_region_layout *l, char *err, size_t errlen)
{
	struct nmk_region_layout out;

	memset(&out, 0, sizeof(out));
	out.p = *p;
	/* netmap rounds every object size up to 64 bytes so that buffers are
	 * 64-byte aligned and the 64-byte copy loops may overrun a frame. */
	out.p.if_size = (uint32_t)round_up(p->if_size, 64);
	out.p.ring_size = (uint32_t)round_up(p->ring_size, 64);
	out.p.buf_size = (uint32_t)round_up(p->buf_size, 64);

	if (out.p.if_num < 1 || out.p.if_size < sizeof(struct netmap_if) + 16) {
		snprintf(err, errlen, "interface pool: %u objects of %u bytes is too small",
			 out.p.if_num, out.p.if_size);
		return -EINVAL;
	}
	if (out.p.ring_num < 1 || out.p.ring_size < nmk_ring_bytes(1)) {
		snprintf(err, errlen, "ring pool: %u objects of %u bytes is too small",
			 out.p.ring_num, out.p.ring_size);
		return -EINVAL;
	}
	if (p->buf_size < NMK_MIN_BUF_SIZE || p->buf_size > NMK_MAX_BUF_SIZE) {
		snprintf(err, errlen, "buffer size %u is outside [%u, %u]",
			 p->buf_size, NMK_MIN_BUF_SIZE, NMK_MAX_BUF_SIZE);
		return -EINVAL;
	}
	/* Buffers 0 and 1 are reserved, so a pool needs at least 4. */
	if (out.p.buf_num < 4) {
		snprintf(err, errlen, "buffer pool: %u buffers is too few (at least 4)",
			 out.p.buf_num);
		return -EINVAL;
	}

	out.if_off = 0;
	out.if_total = round_up((uint64_t)out.p.if_num * out.p.if_size, NMK_PAGE_SIZE);
	out.ring_off = out.if_off + out.if_total;
	out.ring_total = round_up((uint64_t)out.p.ring_num * out.p.ring_size, NMK_PAGE_SIZE);
	out.buf_off = out.ring_off + out.ring_total;
	out.buf_total = round_up((uint64_t)out.p.buf_num * out.p.buf_size, NMK_PAGE_SIZE);
	out.memsize = out.buf_off + out.buf_total;
	/* nr_memsize is 64 bits, but the legacy API and ring->buf_ofs
	 * arithmetic must stay sane: keep regions under 64 GiB. */
	if (out.memsize > (UINT64_C(64) << 30)) {
		snprintf(err, errlen, "region of %llu bytes exceeds the 64 GiB limit",
			 (unsigned long long)out.memsize);
		return -E2BIG;
	}
	*l = out;
	return 0;
}

void nmk_ring_init(struct netmap_ring *ring, const struct nmk_region_layout *l,
		   uint32_t ring_index, uint32_t num_slots, uint16_t ringid,
		   uint16_t dir, const uint32_t *bufs)
{
	uint64_t ring_off = l->ring_off + (uint64_t)ring_index * l->p.ring_size;

	memset(ring, 0, sizeof(*ring));
	/* buf_ofs makes NETMAP_BUF(ring, i) = region + buf_off + i * buf_size. */
	*(int64_t *)(uintptr_t)&ring->buf_ofs = (int64_t)(l->buf_off - ring_off);
	*(uint32_t *)(uintptr_t)&ring->num_slots = num_slots;
	*(uint32_t *)(uintptr_t)&ring->nr_buf_size = l->p.buf_size;
	*(uint16_t *)(uintptr_t)&ring->ringid = ringid;
	*(uint16_t *)(uintptr_t)&ring->dir = dir;
	ring->head = ring->cur = 0;
	*(uint32_t *)(uintptr_t)&ring->tail = dir == NMK_DIR_TX ? num_slots - 1 : 0;
	for (uint32_t i = 0; i < num_slots; i++) {
		ring->slot[i].buf_idx = bufs ? bufs[i] : 0;
		ring->slot[i].len = (uint16_t)(l->p.buf_size > 65535 ? 65535 : l->p.buf_size);
		ring->slot[i].flags = 0;
		ring->slot[i].ptr = 0;
	}
}
