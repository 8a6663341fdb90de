/*
 * report.h - pkt-gen's output lines, in netmap pkt-gen's formats, so that
 * scripts that parse netmap's output parse ours (reference §5.1):
 *
 *   stderr, every report interval (with the D() prefix "SSS.uuuuuu func [line] "):
 *     <pps>pps [avg/std X/Y pps](<pkts>pkts <bps>bps in <usec> usec) <b> avg_batch <s> min_space
 *     (the bracket only with -A; without it "pps (")
 *   stdout, at the end:
 *     Sent|Received <pkts> packets <bytes> bytes <events> events <size> bytes each in <secs> seconds.
 *     Speed: <pps>pps Bandwidth: <bps>bps (raw <bps>bps). Average batch: <x> pkts
 *     or "Sent nothing." / "Received nothing."
 *   ping (stderr, D() lines): "count N RTT: min X av Y ns", "k: A .. B" and a
 *     histogram line, "RTT over N packets: min X av Y ns".
 *
 * Numbers are "%.3f " plus "", K, M, G or T, or "%.0f " with -N.
 */
#ifndef PKTGEN_REPORT_H
#define PKTGEN_REPORT_H

#include <stdint.h>

/* Counters of one thread or of all of them. */
struct pg_ctrs {
	uint64_t pkts, bytes, events;
	uint64_t min_space;
};

/* Format val as netmap's norm(): "1.234 M" (normalize) or "1234 ". */
const char *pg_norm(char *buf, unsigned len, double val, int normalize);

#define PG_STATS_WIN 15

/* Output settings and the -A sliding window. */
struct pg_report {
	int normalize;          /* 0 with -N */
	int pps_stats;          /* -A */
	unsigned framing_bits;  /* -B: 24 bytes of framing and CRC per packet */
	int win_idx;
	double win[PG_STATS_WIN];
};

/* One interval line: `d` holds the counts of the interval, usec its length,
 * min_space the smallest free ring space seen. */
void pg_report_interval(struct pg_report *r, const struct pg_ctrs *d, uint64_t usec,
			uint64_t min_space);

/* The final lines ("Sent" / "Received"), on stdout. */
void pg_report_final(const struct pg_report *r, const char *what, const struct pg_ctrs *c,
		     double seconds);

/* Round-trip times for ping, in nanoseconds. */
struct pg_rtt {
	uint64_t count, sum, min;          /* this second */
	uint64_t g_count, g_sum, g_min;    /* whole run */
	uint64_t buckets[64];              /* log2 histogram of this second */
};

void pg_rtt_init(struct pg_rtt *t);
void pg_rtt_add(struct pg_rtt *t, uint64_t ns);
/* The per-second lines; starts a new second. */
void pg_rtt_print(struct pg_rtt *t);
/* The final line (if anything was measured). */
void pg_rtt_final(struct pg_rtt *t, uint64_t sent);

/* -X: one slot's header line and a hex dump of its bytes, on stdout. */
void pg_dump_payload(const void *ring, unsigned cur, unsigned buf_idx, unsigned flags,
		     const void *data, unsigned len);

#endif /* PKTGEN_REPORT_H */
