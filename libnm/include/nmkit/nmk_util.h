/*
 * <nmkit/nmk_util.h> - small helpers that the library and the driver
 * plugins share: ring index arithmetic, and the error-buffer convention.
 *
 * The ring helpers take the slot count as an argument on purpose: the
 * num_slots field of a netmap ring lives in memory that other processes can
 * write, so code that follows indices uses a count it got from a trusted
 * place (the broker's reply, a validated kring), never the ring's own.
 */
#ifndef NMKIT_NMK_UTIL_H
#define NMKIT_NMK_UTIL_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#ifdef __cplusplus
extern "C" {
#endif

/* The slot after / before i in a ring of n slots (i < n). */
static inline uint32_t nmk_ring_next(uint32_t i, uint32_t n)
{
	return i + 1 == n ? 0 : i + 1;
}

static inline uint32_t nmk_ring_prev(uint32_t i, uint32_t n)
{
	return i == 0 ? n - 1 : i - 1;
}

/* Slots from a forward to b in a ring of n slots (a, b < n). */
static inline uint32_t nmk_ring_dist(uint32_t a, uint32_t b, uint32_t n)
{
	return b >= a ? b - a : b + n - a;
}

/*
 * The error-buffer convention of nmkit (as libpcap's errbuf): a function
 * that fails formats one line naming the object and the cause into the
 * caller's buffer, which may be NULL when the caller does not want it.
 */
static inline void nmk_errbuf(char *buf, size_t len, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static inline void nmk_errbuf(char *buf, size_t len, const char *fmt, ...)
{
	va_list ap;

	if (buf == NULL || len == 0)
		return;
	va_start(ap, fmt);
	vsnprintf(buf, len, fmt, ap);
	va_end(ap);
}

#ifdef __cplusplus
}
#endif

#endif /* NMKIT_NMK_UTIL_H */
