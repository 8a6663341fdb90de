/*
 * report.c - pkt-gen's interval, final and round-trip lines (formats in
 * report.h).
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <ctype.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include <nmkit/compat/net/netmap_user.h>   /* D() */

#include "report.h"

const char *pg_norm(char *buf, unsigned len, double val, int normalize)
{
	static const char *const units[] = { "", "K", "M", "G", "T" };
	unsigned i = 0;

	if (normalize) {
		while (val >= 1000 && i < sizeof(units) / sizeof(units[0]) - 1) {
			val /= 1000;
			i++;
		}
		snprintf(buf, len, "%.3f %s", val, units[i]);
	} else {
		snprintf(buf, len, "%.0f %s", val, units[0]);
	}
	return buf;
}

void pg_report_interval(struct pg_report *r, const struct pg_ctrs *d, uint64_t usec,
			uint64_t min_space)
{
	char b1[40], b2[40], b3[40], b4[100] = "";
	/* Rounded to the nearest packet per second, as netmap does. */
	uint64_t pps = (d->pkts * 1000000 + usec / 2) / usec;
	double batch = d->events ? (double)d->pkts / (double)d->events : 0;

	if (r->pps_stats) {
		/* Mean and deviation over the last PG_STATS_WIN intervals
		 * (empty ones do not count). */
		double avg = 0, dev = 0;
		int n = 0;

		r->win[r->win_idx] = (double)pps;
		r->win_idx = (r->win_idx + 1) % PG_STATS_WIN;
		for (int i = 0; i < PG_STATS_WIN; i++)
			if (r->win[i] != 0) {
				avg += r->win[i];
				n++;
			}
		if (n > 0) {
			avg /= n;
			for (int i = 0; i < PG_STATS_WIN; i++)
				if (r->win[i] != 0)
					dev += (r->win[i] - avg) * (r->win[i] - avg);
			dev = sqrt(dev / n);
		}
		char s1[40], s2[40];
		snprintf(b4, sizeof(b4), "[avg/std %s/%s pps]", pg_norm(s1, sizeof(s1), avg, r->normalize),
			 pg_norm(s2, sizeof(s2), dev, r->normalize));
	}
	D("%spps %s(%spkts %sbps in %" PRIu64 " usec) %.2f avg_batch %" PRIu64 " min_space",
	  pg_norm(b1, sizeof(b1), (double)pps, r->normalize), b4,
	  pg_norm(b2, sizeof(b2), (double)d->pkts, r->normalize),
	  pg_norm(b3, sizeof(b3),
		  1e6 * ((double)d->bytes * 8 + (double)d->pkts * r->framing_bits) / (double)usec,
		  r->normalize),
	  usec, batch, min_space);
}

void pg_report_final(const struct pg_report *r, const char *what, const struct pg_ctrs *c,
		     double seconds)
{
	char b1[40], b2[40], b3[40];

	if (c->pkts == 0) {
		printf("%s nothing.\n", what);
		return;
	}
	printf("%s %" PRIu64 " packets %" PRIu64 " bytes %" PRIu64 " events %d bytes each in %.2f seconds.\n",
	       what, c->pkts, c->bytes, c->events, (int)(c->bytes / c->pkts), seconds);
	if (seconds <= 0)
		seconds = 1e-6;
	double pps = (double)c->pkts / seconds;
	double bw = 8.0 * (double)c->bytes / seconds;
	double raw = (8.0 * (double)c->bytes + (double)c->pkts * r->framing_bits) / seconds;
	double batch = c->events ? (double)c->pkts / (double)c->events : 0;
	printf("Speed: %spps Bandwidth: %sbps (raw %sbps). Average batch: %.2f pkts\n",
	       pg_norm(b1, sizeof(b1), pps, r->normalize), pg_norm(b2, sizeof(b2), bw, r->normalize),
	       pg_norm(b3, sizeof(b3), raw, r->normalize), batch);
	fflush(stdout);
}

/* ---- ping ----------------------------------------------------------------- */

void pg_rtt_init(struct pg_rtt *t)
{
	memset(t, 0, sizeof(*t));
	t->min = t->g_min = UINT64_MAX;
}

void pg_rtt_add(struct pg_rtt *t, uint64_t ns)
{
	int k = 63;

	t->count++;
	t->sum += ns;
	if (ns < t->min)
		t->min = ns;
	while (k > 0 && !(ns >> k))
		k--;
	t->buckets[k]++;
}

/* Fold this second into the totals and start a new one. */
static void rtt_roll(struct pg_rtt *t)
{
	t->g_count += t->count;
	t->g_sum += t->sum;
	if (t->min < t->g_min)
		t->g_min = t->min;
	t->count = t->sum = 0;
	t->min = UINT64_MAX;
	memset(t->buckets, 0, sizeof(t->buckets));
}

void pg_rtt_print(struct pg_rtt *t)
{
	char buf[64 * 22 + 1];
	int kmin, kmax, off = 0;

	if (t->count == 0) {
		D("count 0 RTT: no replies");
		rtt_roll(t);
		return;
	}
	D("count %" PRIu64 " RTT: min %" PRIu64 " av %" PRIu64 " ns", t->count, t->min,
	  t->sum / t->count);
	for (kmin = 0; kmin < 63 && !t->buckets[kmin]; kmin++)
		;
	for (kmax = 63; kmax > kmin && !t->buckets[kmax]; kmax--)
		;
	buf[0] = '\0';
	for (int j = kmin; j <= kmax && off < (int)sizeof(buf) - 1; j++)
		off += snprintf(buf + off, sizeof(buf) - (size_t)off, " %5" PRIu64, t->buckets[j]);
	D("k: %llu .. %llu\n\t%s", 1ULL << kmin, 1ULL << kmax, buf);
	rtt_roll(t);
}

void pg_rtt_final(struct pg_rtt *t, uint64_t sent)
{
	rtt_roll(t);
	if (sent == 0)
		return;
	D("RTT over %" PRIu64 " packets: min %" PRIu64 " av %" PRIu64 " ns", sent,
	  t->g_count ? t->g_min : 0, t->g_count ? t->g_sum / t->g_count : 0);
}

/* ---- -X ------------------------------------------------------------------- */

void pg_dump_payload(const void *ring, unsigned cur, unsigned buf_idx, unsigned flags,
		     const void *data, unsigned len)
{
	const unsigned char *p = data;
	char line[80];

	printf("ring %p cur %5u [buf %6u flags 0x%04x len %5u]\n", ring, cur, buf_idx, flags, len);
	/* Offset, 16 bytes in hex, the same bytes as text. */
	for (unsigned i = 0; i < len; i += 16) {
		unsigned n = len - i < 16 ? len - i : 16;
		memset(line, ' ', sizeof(line));
		snprintf(line, 8, "%5u: ", i);
		line[7] = ' ';
		for (unsigned j = 0; j < n; j++) {
			static const char hex[] = "0123456789abcdef";
			line[7 + 3 * j] = hex[p[i + j] >> 4];
			line[8 + 3 * j] = hex[p[i + j] & 15];
		}
		for (unsigned j = 0; j < n; j++)
			line[55 + j] = isprint(p[i + j]) ? (char)p[i + j] : '.';
		line[55 + n] = '\0';
		printf("%s\n", line);
	}
}
