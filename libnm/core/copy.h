/*
 * copy.h - copying a frame into another buffer of a region.
 */
#ifndef NMK_COPY_H
#define NMK_COPY_H

#include <stdint.h>
#include <string.h>

/*
 * Buffers are 64-byte aligned and a multiple of 64 bytes long, so short
 * frames are copied in whole 64-byte chunks (fixed-size copies the
 * compiler turns into a few vector moves), as netmap's nm_pkt_copy does.
 */
static inline void nmk_pkt_copy(uint8_t *dst, const uint8_t *src, uint32_t len)
{
	if (len <= 64) {
		__builtin_memcpy(dst, src, 64);
	} else if (len <= 1024) {
		for (uint32_t o = 0; o < len; o += 64)
			__builtin_memcpy(dst + o, src + o, 64);
	} else {
		memcpy(dst, src, len);
	}
}

#endif /* NMK_COPY_H */
