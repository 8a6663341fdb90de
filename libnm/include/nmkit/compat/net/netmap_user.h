/*
 * <net/netmap_user.h> - nmkit's own rendering of netmap's user-side helpers.
 *
 * This file is not netmap's header.  It was written for nmkit from the ABI
 * facts in the project's netmap reference notes (NETMAP_API 14): the macros
 * that turn the offsets in the shared region into pointers, the ring index
 * helpers and the D()/RD()/ND() logging macros, with netmap's names and
 * meanings so that netmap programs compile unchanged.
 *
 * netmap's header can also carry a small pcap-like library (nm_open(),
 * nm_inject(), nm_dispatch(), ...) when NETMAP_WITH_LIBS is defined.  That
 * library is deprecated upstream and nmkit does not provide it yet; a
 * program asking for it fails here, at compile time, rather than later with
 * missing or half-working functions.
 */
#ifndef _NET_NETMAP_USER_H_
#define _NET_NETMAP_USER_H_

#ifdef NETMAP_WITH_LIBS
#error "nmkit: the deprecated NETMAP_WITH_LIBS library (nm_open() and friends) is not provided yet; use NIOCCTRL directly or <nmkit/nmkit.h>"
#endif

#include <stdarg.h>		/* the logging helper */
#include <stdint.h>
#include <stdio.h>		/* D() writes to stderr */
#include <string.h>		/* memcpy */
#include <sys/time.h>		/* gettimeofday */

/* Quoted on purpose: always nmkit's netmap.h, never a system one. */
#include "netmap.h"

/*
 * The control device a netmap program opens.  With nmkit the name is
 * recognised by the interposing library, so programs keep using it.
 */
#ifndef NETMAP_DEVICE_NAME
#define NETMAP_DEVICE_NAME	"/dev/netmap"
#endif

/* netmap programs use these without defining them. */
#ifndef likely
#if defined(__GNUC__) || defined(__clang__)
#define likely(x)	__builtin_expect(!!(x), 1)
#define unlikely(x)	__builtin_expect(!!(x), 0)
#else
#define likely(x)	(x)
#define unlikely(x)	(x)
#endif
#endif

/* ---------------------------------------------------------------------- */
/*
 * From offsets to pointers.  The region holds offsets only, because it is
 * mapped at a different address in every process.
 */

#define _NETMAP_OFFSET(type, ptr, offset) \
	((type)(void *)((char *)(ptr) + (offset)))

/* The netmap_if of a registration: NETMAP_IF(mmap base, nr_offset). */
#define NETMAP_IF(_base, _ofs)	_NETMAP_OFFSET(struct netmap_if *, _base, _ofs)

/* Tx ring i: NIC tx rings first, then the host tx rings. */
#define NETMAP_TXRING(nifp, index) \
	_NETMAP_OFFSET(struct netmap_ring *, nifp, (nifp)->ring_ofs[index])

/* Rx ring i: the rx entries of ring_ofs[] follow all the tx entries. */
#define NETMAP_RXRING(nifp, index) \
	_NETMAP_OFFSET(struct netmap_ring *, nifp, \
	    (nifp)->ring_ofs[(index) + (nifp)->ni_tx_rings + \
	    (nifp)->ni_host_tx_rings])

/*
 * Buffer index -> address.  The product is widened first: a large region
 * holds more than 4 GiB of buffers.
 */
#define NETMAP_BUF(ring, index) \
	((char *)(ring) + (ring)->buf_ofs + \
	    ((size_t)(index) * (ring)->nr_buf_size))

/* Address (anywhere inside a buffer) -> buffer index. */
#define NETMAP_BUF_IDX(ring, buf) \
	(((char *)(buf) - ((char *)(ring) + (ring)->buf_ofs)) / \
	    (ring)->nr_buf_size)

/*
 * Per-slot buffer offsets (NETMAP_REQ_OPT_OFFSETS): they live in the
 * offset_mask bits of slot->ptr; the other bits are left alone.
 */
#define NETMAP_ROFFSET(ring, slot) \
	((slot)->ptr & (ring)->offset_mask)

#define NETMAP_WOFFSET(ring, slot, offset) \
	do { \
		(slot)->ptr = ((slot)->ptr & ~(ring)->offset_mask) | \
		    ((uint64_t)(offset) & (ring)->offset_mask); \
	} while (0)

#define NETMAP_BUF_OFFSET(ring, slot) \
	(NETMAP_BUF(ring, (slot)->buf_idx) + NETMAP_ROFFSET(ring, slot))

/* ---------------------------------------------------------------------- */
/* Ring index arithmetic */

/* The slot after i, wrapping at num_slots. */
static inline uint32_t
nm_ring_next(const struct netmap_ring *r, uint32_t i)
{
	return unlikely(i + 1 == r->num_slots) ? 0 : i + 1;
}

/*
 * Whether a tx ring still holds unsent slots.  When everything is sent the
 * kernel owns every slot but the one that is always kept empty, that is,
 * head == tail + 1.
 */
static inline int
nm_tx_pending(const struct netmap_ring *r)
{
	return nm_ring_next(r, r->tail) != r->head;
}

/*
 * Slots the user owns: [head, tail) modulo num_slots.  head, not cur, for
 * the reason given at nm_ring_empty().
 */
static inline uint32_t
nm_ring_space(const struct netmap_ring *ring)
{
	if (ring->tail >= ring->head)
		return ring->tail - ring->head;
	return ring->tail + ring->num_slots - ring->head;
}

/*
 * Copy a packet.  Lengths that are a multiple of 64 and under 1024 go in
 * 64-byte blocks, which the compiler turns into a few wide moves; anything
 * else goes to memcpy.  Either way exactly len bytes are written.  A
 * negative length copies nothing (netmap would pass it to memcpy).
 */
static inline void
nm_pkt_copy(const void *pkt_src, void *pkt_dst, int pkt_len)
{
	const char *s = (const char *)pkt_src;
	char *d = (char *)pkt_dst;

	if (unlikely(pkt_len <= 0))
		return;
	if (unlikely(pkt_len >= 1024 || pkt_len % 64 != 0)) {
		memcpy(d, s, (size_t)pkt_len);
		return;
	}
	for (; pkt_len > 0; pkt_len -= 64, s += 64, d += 64)
		memcpy(d, s, 64);
}

/* ---------------------------------------------------------------------- */
/*
 * Debug output, in netmap's format:
 *	"SSS.UUUUUU function [line] message\n" on stderr,
 * where SSS.UUUUUU is the wall clock seconds modulo 1000.  D() logs, RD(n,
 * ...) logs at most n lines per second from that call site, ND() is a
 * disabled D().  A program that defines ND itself keeps its own three.
 */
#ifndef ND

#if defined(__GNUC__) || defined(__clang__)
__attribute__((__format__(__printf__, 3, 4)))
#endif
static inline void
nmk_nm_log_(const char *func, int line, const char *fmt, ...)
{
	/* One buffer and one write, so concurrent lines do not interleave. */
	char buf[1024];
	struct timeval now;
	va_list ap;
	int n;

	gettimeofday(&now, NULL);
	n = snprintf(buf, sizeof(buf), "%03d.%06d %s [%d] ",
	    (int)(now.tv_sec % 1000), (int)now.tv_usec, func, line);
	if (n < 0 || (size_t)n >= sizeof(buf))
		n = 0;
	va_start(ap, fmt);
	vsnprintf(buf + n, sizeof(buf) - (size_t)n, fmt, ap);
	va_end(ap);
	fprintf(stderr, "%s\n", buf);
}

/* Plain __VA_ARGS__ so that D("text") is valid ISO C, not a GNU extension. */
#define D(...)	nmk_nm_log_(__func__, __LINE__, __VA_ARGS__)

#define ND(...)	do { } while (0)

#define RD(lps, ...) \
	do { \
		static time_t nm_rd_sec_; \
		static int nm_rd_count_; \
		struct timeval nm_rd_now_; \
		gettimeofday(&nm_rd_now_, NULL); \
		if (nm_rd_sec_ != nm_rd_now_.tv_sec) { \
			nm_rd_sec_ = nm_rd_now_.tv_sec; \
			nm_rd_count_ = 0; \
		} \
		if (nm_rd_count_++ < (int)(lps)) \
			D(__VA_ARGS__); \
	} while (0)

#endif /* ND */

#endif /* _NET_NETMAP_USER_H_ */
