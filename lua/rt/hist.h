/*
 * hist.h - latency histograms with logarithmic buckets.
 *
 * Values (nanoseconds) below 16 have a bucket each; above, every power of
 * two is split into 16 buckets, so a bucket is at most 1/16 (6.25%) wide
 * relative to its value, over the whole range up to 2^42 ns (73 minutes).
 * One writer per histogram (the task that made it); readers (main()'s
 * summary) merge them once the writers have ended.
 */
#ifndef NMLUA_HIST_H
#define NMLUA_HIST_H

#include <stdint.h>

/* ffi:begin */
struct nmlua_hist {
	double count;
	double sum;
	double min;
	double max;
	int32_t id;
	uint32_t nbuckets;
	uint64_t bucket[624];
};
/* A new, empty histogram, or NULL (registry full, out of memory). */
struct nmlua_hist *nmlua_hist_new(void);
struct nmlua_hist *nmlua_hist_get(int id);
/* Count one value (negative values count as 0). */
void nmlua_hist_add(struct nmlua_hist *h, double ns);
/* Add every count of `src` into `dst`. */
void nmlua_hist_merge(struct nmlua_hist *dst, const struct nmlua_hist *src);
/* The value below which a fraction `q` (0..1) of the values lie: the upper
 * edge of its bucket, never above max; 0 when empty. */
double nmlua_hist_quantile(const struct nmlua_hist *h, double q);
void nmlua_hist_reset(struct nmlua_hist *h);
/* ffi:end */

#endif
