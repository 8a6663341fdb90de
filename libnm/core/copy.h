/*
 * copy.h - copying a frame into another buffer of a region.
 *
 * Buffers are 64-byte aligned and a multiple of 64 bytes long, so frames
 * are copied in whole 64-byte chunks: short ones with fixed-size copies
 * that the compiler turns into a few vector moves, as netmap's nm_pkt_copy
 * does.
 *
 * Large frames into a ring whose buffers do not all fit in the cache are
 * copied with streaming (non-temporal) stores.  A sender that copies a
 * whole ring of 1514-byte frames walks over megabytes of destination
 * buffers that it will never read again: ordinary stores would first read
 * every destination line into its cache and push out the source frames it
 * is about to read, and the copy would run at the speed of the next cache
 * level.  Streaming stores write the lines without reading them, and leave
 * the cache to the source.  They are weakly ordered: nmk_copy_fence() must
 * run before the frames are published.
 */
#ifndef NMK_COPY_H
#define NMK_COPY_H

#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#if defined(__x86_64__)
#include <immintrin.h>
#define NMK_HAVE_STREAM 1
#else
#define NMK_HAVE_STREAM 0
#endif

/* Whole 64-byte chunks from src to dst (64-byte aligned), bypassing the
 * cache. */
static inline void nmk_stream_copy(uint8_t *dst, const uint8_t *src, uint32_t len)
{
#if NMK_HAVE_STREAM
	for (uint32_t o = 0; o < len; o += 64) {
		const __m128i *s = (const __m128i *)(const void *)(src + o);
		__m128i *d = (__m128i *)(void *)(dst + o);
		__m128i a = _mm_loadu_si128(s), b = _mm_loadu_si128(s + 1);
		__m128i c = _mm_loadu_si128(s + 2), e = _mm_loadu_si128(s + 3);
		_mm_stream_si128(d, a);
		_mm_stream_si128(d + 1, b);
		_mm_stream_si128(d + 2, c);
		_mm_stream_si128(d + 3, e);
	}
#else
	memcpy(dst, src, len);
#endif
}

/* Copy a frame; with `stream`, large ones bypass the cache (see above). */
static inline void nmk_pkt_copy(uint8_t *dst, const uint8_t *src, uint32_t len, bool stream)
{
	if (len <= 64) {
		__builtin_memcpy(dst, src, 64);
	} else if (stream) {
		nmk_stream_copy(dst, src, len);
	} else if (len <= 1024) {
		for (uint32_t o = 0; o < len; o += 64)
			__builtin_memcpy(dst + o, src + o, 64);
	} else {
		memcpy(dst, src, len);
	}
}

/* Order streaming stores before the stores that publish the frames. */
static inline void nmk_copy_fence(void)
{
#if NMK_HAVE_STREAM
	_mm_sfence();
#endif
}

/*
 * The smallest frame worth streaming into a ring of n slots: when n such
 * frames would fill more than half of this CPU's second-level cache, a
 * ring's worth of destination buffers cannot stay cached beside the
 * sources.  Computed once per delivery from the cache size the OS reports.
 */
static inline uint32_t nmk_stream_min(uint64_t cache_bytes, uint32_t n)
{
	uint64_t m = cache_bytes / 2 / (n ? n : 1);

	if (!NMK_HAVE_STREAM || m > UINT32_MAX)
		return UINT32_MAX;
	return m < 256 ? 256 : (uint32_t)m;
}

#endif /* NMK_COPY_H */
