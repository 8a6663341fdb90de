/*
 * hist.c - latency histograms with logarithmic buckets (see hist.h).
 *
 * Bucket of a value v (whole nanoseconds): v itself below 16; above, with
 * e = floor(log2 v), bucket 16 + (e - 4) * 16 + the four bits of v below
 * its top bit.  Every bucket from 16 up holds [m << (e-4), (m+1) << (e-4))
 * for m in 16..31, so its width is at most 1/16 of its lower edge; values
 * of 2^42 ns and more all land in the last bucket.
 *
 * A histogram has one writer and is never freed during the run, so a
 * reader holding an id can never see freed memory (only, while the writer
 * goes on, counts a little behind each other).
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include "hist.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#define MAX_HISTS 4096
#define NBUCKETS ((uint32_t)(sizeof(((struct nmlua_hist *)0)->bucket) / sizeof(uint64_t)))

static pthread_mutex_t registry_lock = PTHREAD_MUTEX_INITIALIZER;
static struct nmlua_hist *hists[MAX_HISTS];
static atomic_int nhists;

static uint32_t bucket_of(double ns)
{
	/* 2^42: the first value past the last bucket's own range. */
	if (ns >= 4398046511104.0)
		return NBUCKETS - 1;
	uint64_t v = (uint64_t)ns;
	if (v < 16)
		return (uint32_t)v;
	uint32_t e = 63 - (uint32_t)__builtin_clzll(v);
	uint32_t b = 16 + (e - 4) * 16 + (uint32_t)((v >> (e - 4)) & 15);
	return b < NBUCKETS ? b : NBUCKETS - 1;
}

/* The largest whole value that bucket b holds. */
static double bucket_top(uint32_t b)
{
	if (b < 16)
		return b;
	uint32_t e = 4 + (b - 16) / 16, m = 16 + (b - 16) % 16;
	return (double)((((uint64_t)m + 1) << (e - 4)) - 1);
}

struct nmlua_hist *nmlua_hist_new(void)
{
	struct nmlua_hist *h = NULL;

	pthread_mutex_lock(&registry_lock);
	int n = atomic_load(&nhists);
	if (n < MAX_HISTS && posix_memalign((void **)&h, 64, sizeof(*h)) == 0) {
		memset(h, 0, sizeof(*h));
		h->id = n;
		h->nbuckets = NBUCKETS;
		hists[n] = h;
		/* Published once filled: _get() reads below nhists only. */
		atomic_store(&nhists, n + 1);
	}
	pthread_mutex_unlock(&registry_lock);
	return h;
}

struct nmlua_hist *nmlua_hist_get(int id)
{
	return id >= 0 && id < atomic_load(&nhists) ? hists[id] : NULL;
}

void nmlua_hist_add(struct nmlua_hist *h, double ns)
{
	/* Negative values (clocks of two CPUs a little apart) and NaN. */
	if (!(ns > 0))
		ns = 0;
	if (h->count == 0) {
		h->min = ns;
		h->max = ns;
	} else if (ns < h->min) {
		h->min = ns;
	} else if (ns > h->max) {
		h->max = ns;
	}
	h->count += 1;
	h->sum += ns;
	h->bucket[bucket_of(ns)]++;
}

void nmlua_hist_merge(struct nmlua_hist *dst, const struct nmlua_hist *src)
{
	if (src->count == 0)
		return;
	if (dst->count == 0) {
		dst->min = src->min;
		dst->max = src->max;
	} else {
		if (src->min < dst->min)
			dst->min = src->min;
		if (src->max > dst->max)
			dst->max = src->max;
	}
	dst->count += src->count;
	dst->sum += src->sum;
	for (uint32_t b = 0; b < NBUCKETS; b++)
		dst->bucket[b] += src->bucket[b];
}

double nmlua_hist_quantile(const struct nmlua_hist *h, double q)
{
	if (h->count == 0)
		return 0;
	if (!(q > 0))
		return h->min;
	if (q >= 1)
		return h->max;
	/* The rank of the value asked for, 1 .. count. */
	double rank = q * h->count, seen = 0;
	uint64_t want = (uint64_t)rank;
	if ((double)want < rank || want == 0)
		want++;
	for (uint32_t b = 0; b < NBUCKETS; b++) {
		seen += (double)h->bucket[b];
		if (seen >= (double)want) {
			/* The last bucket has no top of its own. */
			double v = b == NBUCKETS - 1 ? h->max : bucket_top(b);
			if (v > h->max)
				v = h->max;
			if (v < h->min)
				v = h->min;
			return v;
		}
	}
	return h->max;
}

void nmlua_hist_reset(struct nmlua_hist *h)
{
	h->count = 0;
	h->sum = 0;
	h->min = 0;
	h->max = 0;
	memset(h->bucket, 0, sizeof(h->bucket));
}
