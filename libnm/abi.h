/*
 * abi.h - the size rules of the public structs (see "ABI" in nmkit.h).
 *
 * Every caller-allocated struct of <nmkit/nmkit.h> begins with a uint32_t
 * size.  These helpers check it, copy a struct the caller gives in, and
 * copy one the library filled out, touching only the caller's bytes.
 */
#ifndef NMK_ABI_H
#define NMK_ABI_H

#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <nmkit/nmkit.h>

/* The bytes of `type` through field `last`. */
#define NMK_ABI_SIZE(type, last) (offsetof(type, last) + sizeof(((type *)0)->last))

/* The first released (NMKIT_0.1) layouts: a smaller .size is refused.
 * Never change these; fields appended later do not move them. */
#define NMK_OPEN_PARAMS_SIZE_0_1 NMK_ABI_SIZE(struct nmk_open_params, add_flags)
#define NMK_PORT_INFO_SIZE_0_1   NMK_ABI_SIZE(struct nmk_port_info, extra_bufs)
#define NMK_VALE_STATS_SIZE_0_1  NMK_ABI_SIZE(struct nmk_vale_stats, drop_nodest)
#define NMK_VALE_ENTRY_SIZE_0_1  NMK_ABI_SIZE(struct nmk_vale_entry, attached)
#define NMK_VALE_CONF_SIZE_0_1   NMK_ABI_SIZE(struct nmk_vale_conf, rx_rings)
#define NMK_DRIVER_INFO_SIZE_0_1 NMK_ABI_SIZE(struct nmk_driver_info, path)

/*
 * The library's layouts end at their last field, with no tail padding: a
 * field appended later then grows sizeof by all of its bytes (with explicit
 * padding before it if it needs alignment), so that the .size the library
 * reports tells exactly which fields a struct holds.  When appending, name
 * the new last field here.
 */
#define NMK_ABI_ENDS_AT(type, last) \
	_Static_assert(sizeof(type) == NMK_ABI_SIZE(type, last), \
		       #type " must end at " #last ", with no tail padding")
NMK_ABI_ENDS_AT(struct nmk_open_params, add_flags);
NMK_ABI_ENDS_AT(struct nmk_port_info, extra_bufs);
NMK_ABI_ENDS_AT(struct nmk_vale_stats, drop_nodest);
NMK_ABI_ENDS_AT(struct nmk_vale_entry, attached);
NMK_ABI_ENDS_AT(struct nmk_vale_conf, rx_rings);
NMK_ABI_ENDS_AT(struct nmk_driver_info, path);

/* The caller's size of a sized struct (its first field). */
static inline uint32_t nmk_abi_size(const void *s)
{
	uint32_t size;

	memcpy(&size, s, sizeof(size));
	return size;
}

/* 0, or -EINVAL with a message in errbuf (NMK_ERRBUF_SIZE bytes, may be
 * NULL) when the caller's struct is shorter than the first layout. */
static inline int nmk_abi_check(const void *s, size_t min, const char *fn, const char *type,
				char *errbuf, size_t errlen)
{
	uint32_t size = nmk_abi_size(s);

	if (size >= min)
		return 0;
	if (errbuf)
		snprintf(errbuf, errlen,
			 "%s: struct %s has size %u, at least %zu expected (set .size = sizeof(struct %s))",
			 fn, type, size, min, type);
	return -EINVAL;
}

/*
 * A struct the caller gives in: the library's own `dst` (dst_size bytes)
 * gets the caller's fields, zeros where the caller's struct is shorter.  A
 * longer caller's struct must be zero past what the library knows: -E2BIG
 * otherwise.  Checks the size first (-EINVAL).
 */
static inline int nmk_abi_copy_in(void *dst, size_t dst_size, const void *src, size_t min,
				  const char *fn, const char *type, char *errbuf, size_t errlen)
{
	int ret = nmk_abi_check(src, min, fn, type, errbuf, errlen);
	if (ret < 0)
		return ret;
	uint32_t size = nmk_abi_size(src);
	const unsigned char *s = src;

	for (size_t i = dst_size; i < size; i++) {
		if (s[i] != 0) {
			if (errbuf)
				snprintf(errbuf, errlen,
					 "%s: struct %s sets a field at byte %zu that this libnmkit (%zu bytes) does not know",
					 fn, type, i, dst_size);
			return -E2BIG;
		}
	}
	memset(dst, 0, dst_size);
	memcpy(dst, src, size < dst_size ? size : dst_size);
	memcpy(dst, &(uint32_t){ (uint32_t)dst_size }, sizeof(uint32_t));
	return 0;
}

/*
 * A struct the library filled (`src`, src_size bytes, zeroed before it was
 * filled) out to the caller's `dst`, whose size was checked: the bytes that
 * fit, zeros in the rest of the caller's struct, and .size = bytes written.
 */
static inline void nmk_abi_copy_out(void *dst, const void *src, size_t src_size)
{
	uint32_t size = nmk_abi_size(dst);
	uint32_t n = size < src_size ? size : (uint32_t)src_size;

	memcpy(dst, src, n);
	if (size > n)
		memset((char *)dst + n, 0, size - n);
	memcpy(dst, &n, sizeof(n));
}

#endif /* NMK_ABI_H */
