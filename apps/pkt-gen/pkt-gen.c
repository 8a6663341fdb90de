/*
 * pkt-gen - netmap's packet generator and sink, for nmkit (reference §5.1):
 * the same options, functions and output, so that scripts written for
 * netmap's pkt-gen run unchanged.
 *
 *   pkt-gen -i vale0:a -f tx -n 1000000 -l 60
 *   pkt-gen -i vale0:b -f rx
 *
 * This file holds the options, the threads (one per ring with -p) and their
 * loops, and the main thread's reports.  Frames are built in frames.c, the
 * output lines are formatted in report.c.  It uses nmkit's public API only.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <net/if.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#ifdef HAVE_LIBPCAP
#include <pcap/pcap.h>
#endif

#include <nmkit/nmkit.h>
#include <nmkit/compat/net/netmap_user.h>

#include "frames.h"
#include "report.h"

/* -o bits, as netmap's pkt-gen numbers them. */
#define OPT_PREFETCH    1
#define OPT_ACCESS      2
#define OPT_COPY        4       /* copy the whole frame into every slot */
#define OPT_MEMCPY      8       /* same */
#define OPT_TS          16      /* accepted, no effect (as in netmap) */
#define OPT_INDIRECT    32      /* -I */
#define OPT_DUMP        64      /* -X */
#define OPT_RUBBISH     256     /* -r */
#define OPT_RANDOM_SRC  512     /* -z */
#define OPT_RANDOM_DST  1024    /* -Z */
#define OPT_PPS_STATS   2048    /* -A */
#define OPT_UPDATE_CSUM 4096    /* accepted: checksums are always kept right */

enum td_type { TD_SENDER = 1, TD_RECEIVER, TD_OTHER };

struct glob;

/* One thread: its own port handle (its own ring with -p), its counters. */
struct targ {
	struct glob *g;
	int me;
	struct nmk_port *port;
	pthread_t thread;
	bool started;
	atomic_bool used;               /* still running */
	bool completed;                 /* finished without error */
	int affinity;                   /* cpu, or -1 */
	_Atomic uint64_t pkts, bytes, events, min_space;
	struct timespec tic, toc;       /* start and end of the measured run */
	struct pg_frame frame;
	uint64_t npackets;              /* this thread's share of -n */
	bool limited;                   /* -n was given (a share may be 0) */
	int burst;
	uint64_t tx_rate;               /* this thread's share of -R */
	uint64_t tx_period_ns;
	unsigned frag_size;             /* bytes per slot of a multi-slot packet */
};

struct glob {
	const char *fname;
	void *(*body)(void *);
	int td_type;
	int default_burst;

	char ifname[512];
	int af;
	const char *src_ip_name, *dst_ip_name, *src_mac_name, *dst_mac_name;
	char src_mac_buf[32];
	struct pg_range src, dst;
	uint8_t src_mac[6], dst_mac[6];
	int pkt_size, pkt_min_size;
	int burst;
	bool forever;                   /* rx: keep waiting (no -W) */
	uint64_t npackets;
	int frags;
	unsigned frag_size;             /* -M */
	int nthreads, cpus, system_cpus, affinity;
	int options;
	uint64_t tx_rate;
	int report_interval;
	int wait_link;
	const char *packet_file;
	uint8_t *pcap_frame;
	uint32_t pcap_len;
	const char *nmr_config;         /* -C */
	int verbose;

	struct pg_report rep;
	struct targ *targs;
	int done_pipe[2];               /* a thread writes a byte here when it ends */
};

/* SIGINT: the first one stops the threads, which drain and report. */
static atomic_int cancelled;

static void sigint_h(int sig)
{
	(void)sig;
	atomic_fetch_add(&cancelled, 1);
}

static inline bool is_cancelled(void)
{
	return atomic_load_explicit(&cancelled, memory_order_relaxed) != 0;
}

/* ---- time ----------------------------------------------------------------- */

static struct timespec now_ts(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return t;
}

static int64_t ts_ns(struct timespec t)
{
	return (int64_t)t.tv_sec * 1000000000 + t.tv_nsec;
}

static struct timespec ns_ts(int64_t ns)
{
	struct timespec t = { .tv_sec = ns / 1000000000, .tv_nsec = ns % 1000000000 };
	return t;
}

/* Wait until `deadline`: sleep while more than 1 ms is left, then spin. */
static void wait_until(int64_t deadline)
{
	for (;;) {
		int64_t left = deadline - ts_ns(now_ts());
		if (left <= 0 || is_cancelled())
			return;
		if (left > 1000000)
			poll(NULL, 0, 1);
	}
}

/* ---- thread helpers ------------------------------------------------------- */

static void publish(struct targ *t, uint64_t pkts, uint64_t bytes, uint64_t events)
{
	atomic_store_explicit(&t->pkts, pkts, memory_order_relaxed);
	atomic_store_explicit(&t->bytes, bytes, memory_order_relaxed);
	atomic_store_explicit(&t->events, events, memory_order_relaxed);
}

static void note_space(struct targ *t, uint64_t space)
{
	if (space < atomic_load_explicit(&t->min_space, memory_order_relaxed))
		atomic_store_explicit(&t->min_space, space, memory_order_relaxed);
}

/* The thread is over: tell the main thread at once. */
static void thread_end(struct targ *t)
{
	char c = 0;

	atomic_store(&t->used, false);
	if (write(t->g->done_pipe[1], &c, 1) < 0) {
		/* The main thread also wakes up every report interval. */
	}
}

static int setaffinity(struct targ *t)
{
	cpu_set_t set;

	if (t->affinity < 0)
		return 0;
	CPU_ZERO(&set);
	CPU_SET(t->affinity, &set);
	int err = pthread_setaffinity_np(pthread_self(), sizeof(set), &set);
	if (err != 0) {
		D("Unable to set affinity to cpu %d: %s", t->affinity, strerror(err));
		return 1;
	}
	return 0;
}

/* Free slots of a ring as the user sees it (the one kept empty excluded). */
static uint32_t ring_free(const struct netmap_ring *r, bool tx)
{
	uint32_t avail = nm_ring_space(r);
	return tx ? avail : r->num_slots - 1 - avail;
}

/* ---- tx ------------------------------------------------------------------- */

/*
 * Queue up to `limit` packets on `ring`.  Every buffer got the whole frame
 * the first time it was used (its slot had NS_BUF_CHANGED, which we set at
 * start and a pipe peer sets when it swaps a buffer in); after that only the
 * bytes that change are written again.
 */
static unsigned send_packets(struct targ *t, struct netmap_ring *ring, uint64_t limit,
			     uint64_t *bytes)
{
	struct glob *g = t->g;
	struct pg_frame *f = &t->frame;
	uint32_t head = ring->head, last = head, space = nm_ring_space(ring);
	uint32_t bufsz = ring->nr_buf_size;
	bool rubbish = g->options & OPT_RUBBISH, dump = g->options & OPT_DUMP;
	/* A slot that carried a later part of a multi-slot packet does not
	 * hold the frame's start: when packets may span slots, copy always. */
	bool copy_all = (g->options & (OPT_COPY | OPT_MEMCPY)) || f->max_len > t->frag_size;
	bool random_len = g->pkt_min_size > 0 && !f->raw;
	bool varies = f->moving || random_len;
	uint32_t full = f->max_len < bufsz ? f->max_len : bufsz;
	uint32_t lo = f->dirty_lo, hi = f->dirty_hi < bufsz ? f->dirty_hi : bufsz;
	unsigned sent = 0;

	while (sent < limit) {
		uint32_t len = f->len, nfr;

		if (random_len) {
			len = (uint32_t)g->pkt_min_size +
			      pg_frame_rand(f) % (uint32_t)(g->pkt_size - g->pkt_min_size);
			pg_frame_set_len(f, len);
		}
		nfr = len <= t->frag_size ? 1 : (len + t->frag_size - 1) / t->frag_size;
		if (space < nfr)
			break;
		if (nfr == 1) {
			struct netmap_slot *slot = &ring->slot[head];
			char *p = NETMAP_BUF(ring, slot->buf_idx);

			if (!rubbish) {
				if ((slot->flags & NS_BUF_CHANGED) || copy_all)
					memcpy(p, f->data, full);
				else if (varies && hi > lo)
					memcpy(p + lo, f->data + lo, hi - lo);
			}
			slot->len = len;
			slot->flags = 0;
			if (dump)
				pg_dump_payload(ring, head, slot->buf_idx, slot->flags, p, len);
			last = head;
			head = nm_ring_next(ring, head);
		} else {
			/* A multi-slot packet: always copied whole. */
			const uint8_t *src = f->data;
			uint32_t left = len;
			for (uint32_t k = 0; k < nfr; k++) {
				struct netmap_slot *slot = &ring->slot[head];
				char *p = NETMAP_BUF(ring, slot->buf_idx);
				uint32_t chunk = left < t->frag_size ? left : t->frag_size;
				if (!rubbish)
					memcpy(p, src, chunk);
				slot->len = chunk;
				slot->flags = k + 1 < nfr ? NS_MOREFRAG : 0;
				if (dump)
					pg_dump_payload(ring, head, slot->buf_idx, slot->flags, p, chunk);
				src += chunk;
				left -= chunk;
				last = head;
				head = nm_ring_next(ring, head);
			}
		}
		space -= nfr;
		sent++;
		*bytes += len;
		if (f->moving)
			pg_frame_next_addr(f);
	}
	if (sent) {
		/* Ask for a completion report on the last slot of the burst. */
		ring->slot[last].flags |= NS_REPORT;
		ring->head = ring->cur = head;
	}
	if (sent < limit)
		ring->cur = ring->tail;     /* wake me when there is more room */
	return sent;
}

/* After the last packet: sync until every slot is gone.  VALE and pipes
 * free the slots themselves; a pipe whose reader is gone never does, so
 * after a ^C this gives up within a second. */
static void drain_tx(struct targ *t, unsigned first, unsigned last)
{
	int64_t deadline = is_cancelled() ? ts_ns(now_ts()) + 1000000000 : INT64_MAX;

	nmk_txsync(t->port);
	for (unsigned i = first; i < last; i++) {
		struct netmap_ring *ring = nmk_port_txring(t->port, i);
		while (nm_tx_pending(ring)) {
			if (deadline == INT64_MAX && is_cancelled())
				deadline = ts_ns(now_ts()) + 1000000000;
			if (ts_ns(now_ts()) > deadline || atomic_load(&cancelled) > 1) {
				D("giving up on %u pending slots of tx ring %u",
				  ring->num_slots - 1 - nm_ring_space(ring), i);
				break;
			}
			RD(5, "pending tx tail %u head %u on ring %u", ring->tail, ring->head, i);
			if (nmk_txsync(t->port) < 0)
				break;
			usleep(1);
		}
	}
}

static void *sender_body(void *arg)
{
	struct targ *t = arg;
	const struct nmk_port_info *info = nmk_port_info(t->port);
	uint64_t n = t->npackets, sent = 0, events = 0, bytes = 0;
	int64_t next = 0;
	int64_t tosend = 0;

	D("start, fd %d", nmk_port_fd(t->port));
	if (setaffinity(t))
		goto quit;
	/* Every buffer needs the whole frame the first time. */
	for (unsigned i = info->first_tx_ring; i < info->last_tx_ring; i++) {
		struct netmap_ring *ring = nmk_port_txring(t->port, i);
		for (uint32_t j = 0; j < ring->num_slots; j++)
			ring->slot[j].flags = NS_BUF_CHANGED;
	}
	t->tic = now_ts();
	next = ts_ns(t->tic);
	while (!is_cancelled() && (!t->limited || sent < n)) {
		if (t->tx_rate && tosend <= 0) {
			tosend = t->burst;
			next += (int64_t)t->tx_period_ns;
			wait_until(next);
		}
		int rv = nmk_port_poll(t->port, POLLOUT, 2000);
		if (rv <= 0) {
			if (is_cancelled())
				break;
			if (rv < 0) {
				D("poll error on queue %d: %s", t->me, nmk_strerror(rv));
				goto quit;
			}
			D("poll error on queue %d: timeout", t->me);
		}
		if (rv > 0 && (rv & POLLERR)) {
			D("poll error on %d ring %u-%u: %s", nmk_port_fd(t->port), info->first_tx_ring,
			  info->last_tx_ring - 1, nmk_port_error(t->port));
			goto quit;
		}
		for (unsigned i = info->first_tx_ring; i < info->last_tx_ring; i++) {
			uint64_t limit = t->tx_rate ? (uint64_t)tosend : (uint64_t)t->burst;
			struct netmap_ring *ring = nmk_port_txring(t->port, i);

			if (t->limited && sent == n)
				break;
			if (t->limited && n - sent < limit)
				limit = n - sent;
			note_space(t, ring_free(ring, true));
			if (nm_ring_empty(ring))
				continue;
			unsigned m = send_packets(t, ring, limit, &bytes);
			sent += m;
			if (m > 0)
				events++;
			publish(t, sent, bytes, events);
			if (t->tx_rate) {
				tosend -= m;
				if (tosend <= 0)
					break;
			}
		}
	}
	D("flush tail %u head %u on thread %d",
	  nmk_port_txring(t->port, info->first_tx_ring)->tail,
	  nmk_port_txring(t->port, info->first_tx_ring)->head, t->me);
	drain_tx(t, info->first_tx_ring, info->last_tx_ring);
	t->toc = now_ts();
	t->completed = true;
quit:
	publish(t, sent, bytes, events);
	thread_end(t);
	return NULL;
}

/* ---- rx ------------------------------------------------------------------- */

/* Wait without limit (but for ^C) for the first packet. */
static int wait_first_packet(struct targ *t)
{
	while (!is_cancelled()) {
		int rv = nmk_port_poll(t->port, POLLIN, 1000);
		if (rv > 0 && !(rv & POLLERR))
			return 0;
		if (rv < 0) {
			D("poll() error: %s", nmk_strerror(rv));
			return -1;
		}
		if (rv & POLLERR) {
			D("fd error: %s", nmk_port_error(t->port));
			return -1;
		}
		RD(1, "waiting for initial packets, poll returns %d %d", rv > 0, rv);
	}
	return 0;
}

/* Consume up to `limit` slots; returns the complete packets among them. */
static unsigned receive_packets(struct netmap_ring *ring, unsigned limit, bool dump,
				uint64_t *bytes)
{
	uint32_t head = ring->head, n = nm_ring_space(ring);
	unsigned complete = 0;

	if (n < limit)
		limit = n;
	for (unsigned rx = 0; rx < limit; rx++) {
		struct netmap_slot *slot = &ring->slot[head];
		*bytes += slot->len;
		if (dump)
			pg_dump_payload(ring, head, slot->buf_idx, slot->flags,
					NETMAP_BUF(ring, slot->buf_idx), slot->len);
		if (!(slot->flags & NS_MOREFRAG))
			complete++;
		head = nm_ring_next(ring, head);
	}
	ring->head = ring->cur = head;
	return complete;
}

static void *receiver_body(void *arg)
{
	struct targ *t = arg;
	struct glob *g = t->g;
	const struct nmk_port_info *info = nmk_port_info(t->port);
	uint64_t n = t->npackets, pkts = 0, bytes = 0, events = 0;
	bool dump = g->options & OPT_DUMP;

	if (setaffinity(t))
		goto quit;
	D("reading from %s fd %d", g->ifname, nmk_port_fd(t->port));
	if (t->limited && n == 0)
		goto out;       /* nothing left for this thread: it does not count */
	if (wait_first_packet(t) < 0)
		goto quit;
	t->tic = now_ts();
	while (!is_cancelled() && (!t->limited || pkts < n)) {
		int rv = nmk_port_poll(t->port, POLLIN, 1000);
		if (rv < 0) {
			D("poll error: %s", nmk_strerror(rv));
			goto quit;
		}
		if (rv == 0 && !g->forever) {
			/* -W: one second of silence ends the run, and does
			 * not count in its length. */
			t->toc = ns_ts(ts_ns(now_ts()) - 1000000000);
			goto out;
		}
		if (rv & POLLERR) {
			D("poll err: %s", nmk_port_error(t->port));
			goto quit;
		}
		uint64_t space = 0;
		for (unsigned i = info->first_rx_ring; i < info->last_rx_ring; i++) {
			struct netmap_ring *ring = nmk_port_rxring(t->port, i);
			space += ring_free(ring, false);
			if (nm_ring_empty(ring))
				continue;
			unsigned m = receive_packets(ring, (unsigned)g->burst, dump, &bytes);
			pkts += m;
			if (m > 0)
				events++;
		}
		note_space(t, space);
		publish(t, pkts, bytes, events);
	}
	t->toc = now_ts();
out:
	t->completed = true;
quit:
	publish(t, pkts, bytes, events);
	thread_end(t);
	return NULL;
}

/* ---- txseq / rxseq -------------------------------------------------------- */

/*
 * txseq: every slot carries a whole frame with a 32-bit sequence number at
 * the start of the UDP payload, one number per slot; with -F the slots are
 * grouped into multi-slot packets (as netmap's txseq does).  -n is ignored.
 */
static void *txseq_body(void *arg)
{
	struct targ *t = arg;
	struct glob *g = t->g;
	const struct nmk_port_info *info = nmk_port_info(t->port);
	struct netmap_ring *ring = nmk_port_txring(t->port, info->first_tx_ring);
	struct pg_frame *f = &t->frame;
	uint64_t sent = 0, events = 0;
	uint32_t seq = 0, bufsz = ring->nr_buf_size;
	uint32_t full = f->max_len < bufsz ? f->max_len : bufsz;
	uint32_t lo = f->dirty_lo, hi = f->dirty_hi < bufsz ? f->dirty_hi : bufsz;
	unsigned frags = (unsigned)g->frags;
	int64_t next, budget = 0;

	if (g->npackets > 0)
		D("Ignoring -n argument");
	D("start, fd %d", nmk_port_fd(t->port));
	if (setaffinity(t))
		goto quit;
	for (uint32_t j = 0; j < ring->num_slots; j++)
		ring->slot[j].flags = NS_BUF_CHANGED;
	t->tic = now_ts();
	next = ts_ns(t->tic);
	while (!is_cancelled()) {
		if (!t->tx_rate) {
			budget = t->burst;
		} else if (budget <= 0) {
			budget = t->burst;
			next += (int64_t)t->tx_period_ns;
			wait_until(next);
		}
		int rv = nmk_port_poll(t->port, POLLOUT, 2000);
		if (rv <= 0) {
			if (is_cancelled())
				break;
			if (rv < 0) {
				D("poll error on queue %d: %s", t->me, nmk_strerror(rv));
				goto quit;
			}
			D("poll error on queue %d: timeout", t->me);
		}
		if (rv > 0 && (rv & POLLERR)) {
			D("poll error on %d ring %u: %s", nmk_port_fd(t->port), info->first_tx_ring,
			  nmk_port_error(t->port));
			goto quit;
		}
		uint32_t space = nm_ring_space(ring);
		note_space(t, space);
		int64_t limit = budget < (int64_t)space ? budget : (int64_t)space;
		if (frags > 1)
			limit = limit / frags * frags;   /* whole packets only */
		if (limit <= 0) {
			if (space < frags)
				ring->cur = ring->tail;  /* poll: wait for more room */
			continue;
		}
		uint32_t head = ring->head;
		for (int64_t k = 0; k < limit; k++, seq++) {
			struct netmap_slot *slot = &ring->slot[head];
			char *p = NETMAP_BUF(ring, slot->buf_idx);

			pg_frame_set_seq(f, seq);
			if (slot->flags & NS_BUF_CHANGED)
				memcpy(p, f->data, full);
			else
				memcpy(p + lo, f->data + lo, hi - lo);
			slot->len = f->len;
			slot->flags = (k % frags) + 1 < frags ? NS_MOREFRAG : 0;
			if (k == limit - 1)
				slot->flags |= NS_REPORT;
			if (g->options & OPT_DUMP)
				pg_dump_payload(ring, head, slot->buf_idx, slot->flags, p, slot->len);
			if ((k + 1) % frags == 0 && f->moving)
				pg_frame_next_addr(f);
			head = nm_ring_next(ring, head);
		}
		ring->head = ring->cur = head;
		sent += (uint64_t)limit;
		if (t->tx_rate)
			budget -= limit;
		events++;
		publish(t, sent, sent * f->len, events);
	}
	D("flush tail %u head %u on thread %d", ring->tail, ring->head, t->me);
	drain_tx(t, info->first_tx_ring, info->first_tx_ring + 1);
	t->toc = now_ts();
	t->completed = true;
quit:
	publish(t, sent, sent * f->len, events);
	thread_end(t);
	return NULL;
}

/* "|len,flags|" for each slot of a multi-slot packet, for messages. */
static const char *slots_str(const struct netmap_ring *ring, uint32_t head, unsigned nfrags,
			     char *buf, size_t len)
{
	size_t off = 0;

	buf[0] = '\0';
	for (unsigned f = 0; f < nfrags && off < len; f++) {
		const struct netmap_slot *s = &ring->slot[head];
		int m = snprintf(buf + off, len - off, "|%u,%x|", s->len, s->flags);
		if (m < 0)
			break;
		off += (size_t)m;
		head = nm_ring_next(ring, head);
	}
	return buf;
}

static void *rxseq_body(void *arg)
{
	struct targ *t = arg;
	struct glob *g = t->g;
	const struct nmk_port_info *info = nmk_port_info(t->port);
	unsigned nrings = info->last_rx_ring - info->first_rx_ring;
	uint32_t *seq_exp = calloc(nrings ? nrings : 1, sizeof(uint32_t));
	bool *seen = calloc(nrings ? nrings : 1, sizeof(bool));
	uint64_t pkts = 0, bytes = 0, events = 0;
	unsigned frags = 0, frags_exp = 1;
	bool first_packet = true;

	if (seq_exp == NULL || seen == NULL) {
		D("out of memory");
		goto quit;
	}
	if (setaffinity(t))
		goto quit;
	D("reading from %s fd %d", g->ifname, nmk_port_fd(t->port));
	if (wait_first_packet(t) < 0)
		goto quit;
	t->tic = now_ts();
	while (!is_cancelled()) {
		int rv = nmk_port_poll(t->port, POLLIN, 1000);
		if (rv < 0) {
			D("poll error: %s", nmk_strerror(rv));
			goto quit;
		}
		if (rv == 0 && !g->forever) {
			t->toc = ns_ts(ts_ns(now_ts()) - 1000000000);
			goto out;
		}
		if (rv & POLLERR) {
			D("poll err: %s", nmk_port_error(t->port));
			goto quit;
		}
		for (unsigned j = info->first_rx_ring; j < info->last_rx_ring; j++) {
			struct netmap_ring *ring = nmk_port_rxring(t->port, j);
			unsigned r = j - info->first_rx_ring;
			if (nm_ring_empty(ring))
				continue;
			uint32_t limit = nm_ring_space(ring), head = ring->head;
			if (limit > (uint32_t)g->burst)
				limit = (uint32_t)g->burst;
			for (uint32_t i = 0; i < limit; i++) {
				struct netmap_slot *slot = &ring->slot[head];
				const uint8_t *p = (const uint8_t *)NETMAP_BUF(ring, slot->buf_idx);
				uint32_t len = slot->len;

				if (g->options & OPT_DUMP)
					pg_dump_payload(ring, head, slot->buf_idx, slot->flags, p, len);
				frags++;
				if (!(slot->flags & NS_MOREFRAG)) {
					if (!first_packet && frags != frags_exp) {
						char buf[512];
						RD(1, "Received packets with %u frags, expected %u, '%s'", frags,
						   frags_exp,
						   slots_str(ring, (head + ring->num_slots - frags + 1) % ring->num_slots,
							     frags, buf, sizeof(buf)));
					}
					first_packet = false;
					frags_exp = frags;
					frags = 0;
				}
				/* The sequence number starts the UDP payload. */
				uint32_t off = len >= 14 && p[12] == 0x86 && p[13] == 0xdd ? 62 : 42;
				if (len < off + 4) {
					RD(1, "%s: packet too small (len=%u)", __func__, len);
				} else {
					uint32_t seq = (uint32_t)p[off] << 24 | (uint32_t)p[off + 1] << 16 |
						       (uint32_t)p[off + 2] << 8 | p[off + 3];
					if (!seen[r]) {
						seq_exp[r] = seq;   /* the first one, whatever it is */
						seen[r] = true;
					} else if (seq != seq_exp[r]) {
						uint32_t delta = seq - seq_exp[r];
						if (delta < (0xFFFFFFFFu >> 1))
							RD(2, "Sequence GAP: exp %u found %u", seq_exp[r], seq);
						else
							RD(2, "Sequence OUT OF ORDER: exp %u found %u", seq_exp[r], seq);
						seq_exp[r] = seq;
					}
					seq_exp[r]++;
				}
				bytes += len;
				pkts++;
				head = nm_ring_next(ring, head);
			}
			ring->head = ring->cur = head;
			events++;
			publish(t, pkts, bytes, events);
		}
	}
	t->toc = now_ts();
out:
	t->completed = true;
quit:
	free(seq_exp);
	free(seen);
	publish(t, pkts, bytes, events);
	thread_end(t);
	return NULL;
}

/* ---- ping / pong ---------------------------------------------------------- */

/* Where ping puts its sequence number and timestamp (as netmap's ping). */
#define PING_SEQ_OFF 42
#define PING_TS_OFF  46
#define PING_MIN_LEN 54

static void *ping_body(void *arg)
{
	struct targ *t = arg;
	struct glob *g = t->g;
	const struct nmk_port_info *info = nmk_port_info(t->port);
	struct pg_frame *f = &t->frame;
	uint64_t sent = 0, n = g->npackets, events = 0;
	struct pg_rtt rtt;
	int64_t next, last_print, tosend = 0;

	pg_rtt_init(&rtt);
	if (g->af == AF_INET6)
		D("Warning: ping-pong with IPv6 not supported");
	if (setaffinity(t))
		goto quit;
	t->tic = now_ts();
	last_print = next = ts_ns(t->tic);
	while (!is_cancelled() && (n == 0 || sent < n)) {
		struct netmap_ring *ring = nmk_port_txring(t->port, info->first_tx_ring);
		uint64_t limit;
		unsigned m;

		if (t->tx_rate && tosend <= 0) {
			tosend = t->burst;
			next += (int64_t)t->tx_period_ns;
			wait_until(next);
		}
		limit = t->tx_rate ? (uint64_t)tosend : (uint64_t)t->burst;
		if (n > 0 && n - sent < limit)
			limit = n - sent;
		for (m = 0; m < limit; m++) {
			if (nm_ring_empty(ring)) {
				D("-- ouch, cannot send");
				break;
			}
			struct netmap_slot *slot = &ring->slot[ring->head];
			uint8_t *p = (uint8_t *)NETMAP_BUF(ring, slot->buf_idx);
			uint32_t seq32 = (uint32_t)sent, ts[2];
			struct timespec now = now_ts();

			memcpy(p, f->data, f->len);
			memcpy(p + PING_SEQ_OFF, &seq32, 4);
			ts[0] = (uint32_t)now.tv_sec;
			ts[1] = (uint32_t)now.tv_nsec;
			memcpy(p + PING_TS_OFF, ts, 8);
			slot->len = f->len;
			slot->flags = 0;
			sent++;
			ring->head = ring->cur = nm_ring_next(ring, ring->head);
		}
		if (m > 0)
			events++;
		if (t->tx_rate)
			tosend -= m;
		publish(t, sent, sent * f->len, events);

		/* The poll sends (tx polling) and waits for the replies. */
		int rv = nmk_port_poll(t->port, POLLIN, 3000);
		if (rv <= 0) {
			if (rv < 0) {
				D("poll error on queue %d: %s", t->me, nmk_strerror(rv));
				goto quit;
			}
			if (!is_cancelled())
				D("poll error on queue %d: timeout", t->me);
		}
		int64_t now = ts_ns(now_ts());
		for (unsigned i = info->first_rx_ring; i < info->last_rx_ring; i++) {
			struct netmap_ring *rx = nmk_port_rxring(t->port, i);
			while (!nm_ring_empty(rx)) {
				struct netmap_slot *slot = &rx->slot[rx->head];
				const uint8_t *p = (const uint8_t *)NETMAP_BUF(rx, slot->buf_idx);
				if (slot->len >= PING_MIN_LEN) {
					uint32_t ts[2];
					memcpy(ts, p + PING_TS_OFF, 8);
					/* Seconds are sent modulo 2^32: unwrap
					 * them against the current time. */
					int64_t sec = (int64_t)((uint32_t)(now / 1000000000) - ts[0]);
					int64_t d = sec * 1000000000 + (int64_t)(now % 1000000000) - (int64_t)ts[1];
					if (d >= 0)
						pg_rtt_add(&rtt, (uint64_t)d);
				}
				rx->head = rx->cur = nm_ring_next(rx, rx->head);
			}
		}
		if (now - last_print >= 1000000000) {
			pg_rtt_print(&rtt);
			last_print = now;
		}
	}
	pg_rtt_final(&rtt, sent);
	t->toc = now_ts();
	t->completed = true;
quit:
	thread_end(t);
	return NULL;
}

static void *pong_body(void *arg)
{
	struct targ *t = arg;
	struct glob *g = t->g;
	const struct nmk_port_info *info = nmk_port_info(t->port);
	uint64_t sent = 0, n = g->npackets, events = 0, bytes = 0;

	if (n > 0)
		D("understood ponger %" PRIu64 ": stopping after %" PRIu64 " replies", n, n);
	if (g->af == AF_INET6)
		D("Warning: ping-pong with IPv6 not supported");
	if (setaffinity(t))
		goto quit;
	t->tic = now_ts();
	while (!is_cancelled() && (n == 0 || sent < n)) {
		/* The poll also sends the replies queued last time. */
		int rv = nmk_port_poll(t->port, POLLIN, 1000);
		if (rv <= 0) {
			if (rv < 0) {
				D("poll error on queue %d: %s", t->me, nmk_strerror(rv));
				goto quit;
			}
			if (!is_cancelled())
				D("poll error on queue %d: timeout", t->me);
			continue;
		}
		struct netmap_ring *tx = nmk_port_txring(t->port, info->first_tx_ring);
		uint32_t txhead = tx->head, txavail = nm_ring_space(tx);
		unsigned before = (unsigned)sent;
		for (unsigned i = info->first_rx_ring; i < info->last_rx_ring; i++) {
			struct netmap_ring *rx = nmk_port_rxring(t->port, i);
			while (!nm_ring_empty(rx)) {
				struct netmap_slot *slot = &rx->slot[rx->head];
				const uint8_t *src = (const uint8_t *)NETMAP_BUF(rx, slot->buf_idx);
				rx->head = rx->cur = nm_ring_next(rx, rx->head);
				if (txavail == 0 || (n > 0 && sent >= n))
					continue;
				struct netmap_slot *ts = &tx->slot[txhead];
				uint8_t *dst = (uint8_t *)NETMAP_BUF(tx, ts->buf_idx);
				uint32_t len = slot->len < tx->nr_buf_size ? slot->len : tx->nr_buf_size;
				memcpy(dst, src, len);
				/* Swap the MAC addresses, and the IPv4 ones. */
				memcpy(dst, src + 6, 6);
				memcpy(dst + 6, src, 6);
				if (len >= 34 && src[12] == 0x08 && src[13] == 0x00) {
					memcpy(dst + 26, src + 30, 4);
					memcpy(dst + 30, src + 26, 4);
				}
				ts->len = len;
				ts->flags = 0;
				txhead = nm_ring_next(tx, txhead);
				txavail--;
				sent++;
				bytes += len;
			}
		}
		tx->head = tx->cur = txhead;
		if (sent != before)
			events++;
		publish(t, sent, bytes, events);
	}
	drain_tx(t, info->first_tx_ring, info->first_tx_ring + 1);
	t->toc = now_ts();
	t->completed = true;
quit:
	publish(t, sent, bytes, events);
	thread_end(t);
	return NULL;
}

/* ---- options -------------------------------------------------------------- */

static const struct {
	const char *key;
	void *(*body)(void *);
	int type;
	int default_burst;
} functions[] = {
	{ "rx", receiver_body, TD_RECEIVER, 512 },      /* the default */
	{ "tx", sender_body, TD_SENDER, 512 },
	{ "ping", ping_body, TD_OTHER, 1 },
	{ "pong", pong_body, TD_OTHER, 1 },
	{ "txseq", txseq_body, TD_SENDER, 512 },
	{ "rxseq", rxseq_body, TD_RECEIVER, 512 },
};

static void usage(int code)
{
	fprintf(code ? stderr : stdout,
		"Usage: pkt-gen -i port [options]   (see pkt-gen(8))\n"
		"  -i port          netmap port: valeX:Y, netmap:eth0, pipes x{1 / x}1; other names get netmap:\n"
		"  -f function      rx (default), tx, ping, pong, txseq, rxseq\n"
		"  -n count         packets (tx, rx) or transactions (ping); 0 = forever\n"
		"  -l len           frame length without CRC [16..65536], default 60;\n"
		"                   a second -l sets the minimum of random lengths\n"
		"  -b burst         packets per batch (default 512; 1 for ping/pong)\n"
		"  -4 | -6          IPv4 (default) or IPv6\n"
		"  -s ip[:port[-ip:port]]  source range (default 10.0.0.1:1234)\n"
		"  -d ip[:port[-ip:port]]  destination range (default 10.1.0.1:1234)\n"
		"  -S mac, -D mac   source (default: the interface's) and destination\n"
		"                   (default ff:ff:ff:ff:ff:ff) MAC addresses\n"
		"  -z, -Z           random source / destination address and port\n"
		"  -p threads       threads, one ring each (default 1)\n"
		"  -a cpu           pin thread i to cpu (cpu + i) mod cpus;  -c cpus: cpus to use (0 = all)\n"
		"  -R rate          packets per second (all threads together)\n"
		"  -F frags, -M sz  multi-slot packets of frags slots, of at most sz bytes each\n"
		"  -P file.pcap     send the first frame of a pcap file\n"
		"  -T ms            report interval (default 1000)\n"
		"  -w s             wait s seconds before starting (default 2, 0 for vale ports)\n"
		"  -W               rx: exit after one second without packets\n"
		"  -A               pps mean and deviation;  -B  count 24 bytes of framing per packet\n"
		"  -N               do not normalise numbers (K, M, G);  -X  dump every packet\n"
		"  -r               send the buffers as they are;  -C tx_slots[,rx_slots[,tx_rings[,rx_rings]]]\n"
		"  -o bits          netmap's data-generation options;  -H 0  virtio-net header length\n"
		"  -v               verbose;  -h  this help\n");
	exit(code);
}

static void die(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
static void die(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "pkt-gen: ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(1);
}

static long num_arg(int opt, const char *s, long lo, long hi)
{
	char *end;
	errno = 0;
	long v = strtol(s, &end, 0);
	if (errno || end == s || *end != '\0' || v < lo || v > hi)
		die("-%c %s: expected a number in [%ld, %ld]", opt, s, lo, hi);
	return v;
}

/* -C tx_slots[,rx_slots[,tx_rings[,rx_rings]]] plus -p's rings, as one
 * "@conf:..." option ("" when there is nothing to say). */
static void conf_option(const struct glob *g, bool host, char *out, size_t len)
{
	unsigned long v[4] = { 0, 0, 0, 0 };
	int n = 0;
	size_t off = 0;

	if (g->nmr_config && *g->nmr_config) {
		const char *p = g->nmr_config;
		while (n < 4) {
			char *end;
			v[n] = strtoul(p, &end, 10);
			if (end == p)
				die("-C %s: expected tx_slots[,rx_slots[,tx_rings[,rx_rings]]]", g->nmr_config);
			n++;
			if (*end != ',')
				break;
			p = end + 1;
		}
		if (n == 1)
			v[1] = v[0];
		if (n == 3)
			v[3] = v[2];
	}
	if (v[2] == 0 && v[3] == 0 && g->nthreads > 1)
		v[2] = v[3] = (unsigned long)g->nthreads;
	out[0] = '\0';
	/* Pairs: (tx, rx) slots, then (tx, rx) rings; one key when both agree. */
	static const char *const keys[2][6] = {
		{ "slots", "tx-slots", "rx-slots", "rings", "tx-rings", "rx-rings" },
		{ "slots", "tx-slots", "rx-slots", "host-rings", "host-tx-rings", "host-rx-rings" },
	};
	for (int pair = 0; pair < 2; pair++) {
		unsigned long tx = v[2 * pair], rx = v[2 * pair + 1];
		const char *const *k = &keys[host][3 * pair];
		if (tx != 0 && tx == rx) {
			off += (size_t)snprintf(out + off, len - off, "%s%s=%lu", off ? "," : "@conf:", k[0], tx);
		} else {
			if (tx != 0)
				off += (size_t)snprintf(out + off, len - off, "%s%s=%lu", off ? "," : "@conf:",
							k[1], tx);
			if (rx != 0 && off < len)
				off += (size_t)snprintf(out + off, len - off, "%s%s=%lu", off ? "," : "@conf:",
							k[2], rx);
		}
		if (off >= len)
			die("port name too long");
	}
}

/*
 * The name thread k of n opens.  With one thread, the name as given.  With
 * more, ring k alone ("vale0:a-1", or "x^1" for host rings), and the first
 * one also asks for n rings so that they exist ("vale0:a-0@conf:rings=n").
 */
static void thread_port_name(const struct glob *g, int k, char *out, size_t len)
{
	const char *name = g->ifname;
	const char *vp = strchr(name, ':');
	char conf[200];
	bool host = false;

	vp = vp ? vp + 1 : name;
	size_t base = (size_t)(vp - name) + strcspn(vp, "-*^/@");
	const char *rest = name + base;
	if (g->nthreads > 1) {
		/* Drop a ring suffix of the name: ours replaces it. */
		if (*rest == '-' || *rest == '^' || *rest == '*') {
			host = *rest == '^';
			rest++;
			while (*rest >= '0' && *rest <= '9')
				rest++;
		}
	}
	conf_option(g, host, conf, sizeof(conf));
	if (strstr(rest, "@conf") != NULL) {
		if (g->nmr_config && k == 0)
			D("-C ignored: the port name has its own @conf");
		conf[0] = '\0';
	}
	if (g->nthreads <= 1)
		snprintf(out, len, "%s%s", name, conf);
	else
		snprintf(out, len, "%.*s%c%d%s%s", (int)base, name, host ? '^' : '-', k, rest,
			 k == 0 ? conf : "");
}

/* The MTU of a NIC port; pipes and VALE ports have no real limit. */
static int port_mtu(const struct glob *g, const struct nmk_port_info *info)
{
	if (strncmp(g->ifname, "netmap:", 7) == 0 && !strchr(info->name, '{') &&
	    !strchr(info->name, '}')) {
		struct ifreq ifr;
		int s = socket(AF_INET, SOCK_DGRAM, 0), mtu = -1;

		if (s < 0 || strlen(info->name) >= IFNAMSIZ) {
			if (s >= 0)
				close(s);
			return -1;
		}
		memset(&ifr, 0, sizeof(ifr));
		memcpy(ifr.ifr_name, info->name, strlen(info->name));
		if (ioctl(s, SIOCGIFMTU, &ifr) == 0)
			mtu = ifr.ifr_mtu;
		else
			D("ioctl(SIOCGIFMTU) failed: %s", strerror(errno));
		close(s);
		return mtu;
	}
	return 65536;
}

static void load_pcap(struct glob *g)
{
#ifdef HAVE_LIBPCAP
	char err[PCAP_ERRBUF_SIZE] = "";
	struct pcap_pkthdr *h;
	const unsigned char *bytes;
	pcap_t *p = pcap_open_offline(g->packet_file, err);

	if (p == NULL)
		die("-P %s: %s", g->packet_file, err);
	if (pcap_next_ex(p, &h, &bytes) != 1) {
		pcap_close(p);
		die("-P %s: no packet in the file", g->packet_file);
	}
	if (h->caplen == 0 || h->caplen > PG_MAX_FRAME) {
		pcap_close(p);
		die("-P %s: the first packet has %u bytes (expected 1..%d)", g->packet_file, h->caplen,
		    PG_MAX_FRAME);
	}
	g->pcap_frame = malloc(h->caplen);
	if (g->pcap_frame == NULL)
		die("out of memory");
	memcpy(g->pcap_frame, bytes, h->caplen);
	g->pcap_len = h->caplen;
	g->pkt_size = (int)h->caplen;
	pcap_close(p);
#else
	die("-P %s: this pkt-gen was built without libpcap", g->packet_file);
#endif
}

/* ---- the main thread ------------------------------------------------------ */

static void sum_ctrs(const struct glob *g, struct pg_ctrs *c, uint64_t *min_space, int *done)
{
	memset(c, 0, sizeof(*c));
	*min_space = 0;
	*done = 0;
	for (int i = 0; i < g->nthreads; i++) {
		struct targ *t = &g->targs[i];
		c->pkts += atomic_load_explicit(&t->pkts, memory_order_relaxed);
		c->bytes += atomic_load_explicit(&t->bytes, memory_order_relaxed);
		c->events += atomic_load_explicit(&t->events, memory_order_relaxed);
		uint64_t ms = atomic_exchange(&t->min_space, UINT64_MAX);
		if (ms != UINT64_MAX)
			*min_space += ms;
		if (!atomic_load(&t->used))
			(*done)++;
	}
}

static bool all_done(const struct glob *g)
{
	for (int i = 0; i < g->nthreads; i++)
		if (atomic_load(&g->targs[i].used))
			return false;
	return true;
}

static void main_thread(struct glob *g)
{
	struct pg_ctrs prev = { 0 }, cur;
	int64_t prev_t = ts_ns(now_ts());
	int64_t interval = (int64_t)g->report_interval * 1000000;

	for (;;) {
		uint64_t min_space;
		int done;

		/* Sleep for the interval, or until a thread ends. */
		int64_t wake = prev_t + interval;
		for (;;) {
			int64_t left = wake - ts_ns(now_ts());
			if (left <= 0)
				break;
			struct pollfd pfd = { .fd = g->done_pipe[0], .events = POLLIN };
			int r = poll(&pfd, 1, (int)((left + 999999) / 1000000));
			if (r > 0) {
				char buf[64];
				if (read(g->done_pipe[0], buf, sizeof(buf)) < 0) {
					/* nothing: the pipe is non-blocking */
				}
				if (all_done(g))
					break;
			}
		}
		int64_t now = ts_ns(now_ts());
		uint64_t usec = (uint64_t)(now - prev_t) / 1000;
		sum_ctrs(g, &cur, &min_space, &done);
		if (usec >= 10000) {    /* shorter is not meaningful */
			struct pg_ctrs d = {
				.pkts = cur.pkts - prev.pkts,
				.bytes = cur.bytes - prev.bytes,
				.events = cur.events - prev.events,
			};
			pg_report_interval(&g->rep, &d, usec, min_space);
			prev = cur;
			prev_t = now;
		}
		if (done == g->nthreads)
			break;
	}

	/* Join, close, and report over the longest run of any thread. */
	struct timespec tic = { 0, 0 }, toc = { 0, 0 };
	memset(&cur, 0, sizeof(cur));
	for (int i = 0; i < g->nthreads; i++) {
		struct targ *t = &g->targs[i];
		if (t->started)
			pthread_join(t->thread, NULL);
		if (!t->completed)
			D("ouch, thread %d exited with error", i);
		cur.pkts += atomic_load(&t->pkts);
		cur.bytes += atomic_load(&t->bytes);
		cur.events += atomic_load(&t->events);
		if (ts_ns(t->tic) > ts_ns(tic))
			tic = t->tic;
		if (ts_ns(t->toc) > ts_ns(toc))
			toc = t->toc;
	}
	int64_t dt = ts_ns(toc) - ts_ns(tic);
	double secs = dt > 0 ? (double)dt / 1e9 : 0;
	if (g->td_type == TD_SENDER)
		pg_report_final(&g->rep, "Sent", &cur, secs);
	else if (g->td_type == TD_RECEIVER)
		pg_report_final(&g->rep, "Received", &cur, secs);
	fflush(stdout);
}

int main(int argc, char **argv)
{
	struct glob G, *g = &G;
	int ch, fi = 0;
	bool wait_link_arg = false, pkt_size_done = false;
	int virt_header = 0;
	char err[NMK_ERRBUF_SIZE];

	memset(g, 0, sizeof(*g));
	g->af = AF_INET;
	g->src_ip_name = NULL;
	g->dst_ip_name = NULL;
	g->dst_mac_name = "ff:ff:ff:ff:ff:ff";
	g->pkt_size = 60;
	g->nthreads = 1;
	g->cpus = 1;
	g->affinity = -1;
	g->forever = true;
	g->frags = 1;
	g->frag_size = UINT32_MAX;
	g->report_interval = 1000;
	g->wait_link = 2;
	g->rep.normalize = 1;

	/* Numbers and the start lines reach a pipe or a file at once. */
	setvbuf(stdout, NULL, _IOLBF, 0);

	while ((ch = getopt(argc, argv, "46a:f:F:Nn:i:Il:d:s:D:S:b:c:o:p:T:w:WvR:XC:H:rP:zZAhBM:")) != -1) {
		switch (ch) {
		case 'h':
			usage(0);
			break;
		case '4':
			g->af = AF_INET;
			break;
		case '6':
			g->af = AF_INET6;
			break;
		case 'N':
			g->rep.normalize = 0;
			break;
		case 'n':
			g->npackets = strtoull(optarg, NULL, 10);
			break;
		case 'F':
			g->frags = (int)num_arg(ch, optarg, 1, 63);
			break;
		case 'M':
			g->frag_size = (unsigned)num_arg(ch, optarg, 1, PG_MAX_FRAME);
			break;
		case 'f':
			for (fi = 0; fi < (int)(sizeof(functions) / sizeof(functions[0])); fi++)
				if (strcmp(functions[fi].key, optarg) == 0)
					break;
			if (fi == (int)(sizeof(functions) / sizeof(functions[0])))
				die("unknown function '%s' (rx, tx, ping, pong, txseq, rxseq)", optarg);
			break;
		case 'o':
			g->options |= (int)num_arg(ch, optarg, 0, 65535);
			break;
		case 'a':
			g->affinity = (int)num_arg(ch, optarg, 0, 1 << 20);
			break;
		case 'i':
			if (strlen(optarg) > sizeof(g->ifname) - 8)
				die("ifname too long: %s", optarg);
			if (strncmp(optarg, "netmap:", 7) == 0 || strncmp(optarg, "vale", 4) == 0)
				snprintf(g->ifname, sizeof(g->ifname), "%s", optarg);
			else
				snprintf(g->ifname, sizeof(g->ifname), "netmap:%s", optarg);
			break;
		case 'I':
			g->options |= OPT_INDIRECT;
			break;
		case 'l':
			if (pkt_size_done) {
				g->pkt_min_size = (int)num_arg(ch, optarg, 0, PG_MAX_FRAME);
			} else {
				g->pkt_size = (int)num_arg(ch, optarg, 0, PG_MAX_FRAME);
				pkt_size_done = true;
			}
			break;
		case 'd':
			g->dst_ip_name = optarg;
			break;
		case 's':
			g->src_ip_name = optarg;
			break;
		case 'T':
			g->report_interval = (int)num_arg(ch, optarg, 1, 3600000);
			break;
		case 'w':
			g->wait_link = (int)num_arg(ch, optarg, 0, 3600);
			wait_link_arg = true;
			break;
		case 'W':
			g->forever = false;
			break;
		case 'b':
			g->burst = (int)num_arg(ch, optarg, 0, 1 << 20);
			break;
		case 'c':
			g->cpus = (int)num_arg(ch, optarg, 0, 1 << 20);
			break;
		case 'p':
			g->nthreads = (int)num_arg(ch, optarg, 1, 4096);
			break;
		case 'D':
			g->dst_mac_name = optarg;
			break;
		case 'S':
			g->src_mac_name = optarg;
			break;
		case 'v':
			g->verbose++;
			break;
		case 'R':
			g->tx_rate = (uint64_t)num_arg(ch, optarg, 0, 1000000000);
			break;
		case 'X':
			g->options |= OPT_DUMP;
			break;
		case 'C':
			D("WARNING: the 'C' option is deprecated, use the '@conf:' option of the port name instead");
			g->nmr_config = optarg;
			break;
		case 'H':
			virt_header = (int)num_arg(ch, optarg, 0, 65535);
			break;
		case 'P':
			g->packet_file = optarg;
			break;
		case 'r':
			g->options |= OPT_RUBBISH;
			break;
		case 'z':
			g->options |= OPT_RANDOM_SRC;
			break;
		case 'Z':
			g->options |= OPT_RANDOM_DST;
			break;
		case 'A':
			g->options |= OPT_PPS_STATS;
			break;
		case 'B':
			g->rep.framing_bits = 24 * 8;   /* 4 bytes of CRC, 20 of framing */
			break;
		default:
			fprintf(stderr, "pkt-gen: bad option (run pkt-gen -h for help)\n");
			exit(1);
		}
	}
	if (optind < argc)
		die("unexpected argument '%s' (run pkt-gen -h for help)", argv[optind]);

	g->fname = functions[fi].key;
	g->body = functions[fi].body;
	g->td_type = functions[fi].type;
	g->rep.pps_stats = (g->options & OPT_PPS_STATS) != 0;
	if (g->ifname[0] == '\0')
		die("missing ifname: -i port is required (run pkt-gen -h for help)");
	if (g->burst == 0) {
		g->burst = functions[fi].default_burst;
		D("using default burst size: %d", g->burst);
	}
	g->system_cpus = (int)sysconf(_SC_NPROCESSORS_ONLN);
	if (g->system_cpus < 1)
		g->system_cpus = 1;
	if (g->cpus > g->system_cpus)
		die("%d cpus is too high, have only %d cpus", g->cpus, g->system_cpus);
	D("running on %d cpus (have %d)", g->cpus, g->system_cpus);
	if (g->cpus == 0)
		g->cpus = g->system_cpus;
	if (!wait_link_arg && strncmp(g->ifname, "vale", 4) == 0)
		g->wait_link = 0;
	if (g->nthreads > 1 && (g->body == ping_body || g->body == pong_body || g->body == txseq_body))
		die("-f %s works with one thread only (-p 1)", g->fname);
	if (virt_header != 0) {
		if (virt_header != 10 && virt_header != 12)
			die("-H %d: bad virtio-net-header length (0, 10 or 12)", virt_header);
		die("-H %d: virtio-net headers are not supported by nmkit ports; only -H 0 is", virt_header);
	}
	if (g->options & OPT_INDIRECT)
		die("-I: indirect buffers (NS_INDIRECT) are not supported by nmkit's VALE");
	if (g->packet_file)
		load_pcap(g);
	if (g->pkt_size < PG_MIN_FRAME || g->pkt_size > PG_MAX_FRAME)
		die("bad pktsize %d [%d..%d]", g->pkt_size, PG_MIN_FRAME, PG_MAX_FRAME);
	if (g->pkt_min_size > 0 && g->packet_file)
		D("-P: the frame of the file is sent as it is; the minimum length is ignored");
	if (g->pkt_min_size > 0 && !g->packet_file &&
	    (g->pkt_min_size < PG_MIN_FRAME || g->pkt_min_size >= g->pkt_size))
		die("bad pktminsize %d [%d..%d)", g->pkt_min_size, PG_MIN_FRAME, g->pkt_size);
	if (g->packet_file)
		g->pkt_min_size = 0;
	if ((g->body == ping_body) && g->pkt_size < PING_MIN_LEN)
		die("ping needs frames of at least %d bytes (-l)", PING_MIN_LEN);

	/* Addresses. */
	if (g->src_mac_name == NULL) {
		strcpy(g->src_mac_buf, "00:00:00:00:00:00");
		if (pg_mac_of_interface(g->ifname, g->src_mac_buf, sizeof(g->src_mac_buf)) < 0 &&
		    g->verbose)
			D("no MAC address for %s, using %s", g->ifname, g->src_mac_buf);
		g->src_mac_name = g->src_mac_buf;
	}
	if (pg_mac_parse(g->src_mac_name, g->src_mac) < 0)
		die("invalid MAC address '%s'", g->src_mac_name);
	if (pg_mac_parse(g->dst_mac_name, g->dst_mac) < 0)
		die("invalid MAC address '%s'", g->dst_mac_name);
	if (g->src_ip_name == NULL)
		g->src_ip_name = g->af == AF_INET ? "10.0.0.1" : "fd00::1";
	if (g->dst_ip_name == NULL)
		g->dst_ip_name = g->af == AF_INET ? "10.1.0.1" : "fd01::1";
	if (pg_range_parse(g->src_ip_name, g->af, &g->src, err, sizeof(err)) < 0)
		die("-s %s: %s", g->src_ip_name, err);
	if (pg_range_parse(g->dst_ip_name, g->af, &g->dst, err, sizeof(err)) < 0)
		die("-d %s: %s", g->dst_ip_name, err);
	g->src.random = (g->options & OPT_RANDOM_SRC) != 0;
	g->dst.random = (g->options & OPT_RANDOM_DST) != 0;

	/* Ports: one per thread. */
	g->targs = calloc((size_t)g->nthreads, sizeof(struct targ));
	if (g->targs == NULL)
		die("out of memory");
	for (int i = 0; i < g->nthreads; i++) {
		struct targ *t = &g->targs[i];
		char name[600];

		thread_port_name(g, i, name, sizeof(name));
		if (g->verbose)
			D("thread %d opens %s", i, name);
		t->port = nmk_port_open(name, err);
		if (t->port == NULL)
			die("%s", err);
		t->g = g;
		t->me = i;
		/* Thread i on cpu (a + i), wrapped to the cpus the system has:
		 * wrapping to -c (1 by default) would pin every thread of
		 * "-a 1" to cpu 0. */
		t->affinity = g->affinity >= 0 ? (g->affinity + i) % g->system_cpus : -1;
		atomic_store(&t->min_space, UINT64_MAX);
	}
	const struct nmk_port_info *info = nmk_port_info(g->targs[0].port);
	int devqueues = (int)(g->td_type == TD_SENDER ? info->tx_rings + info->host_tx_rings
						      : info->rx_rings + info->host_rx_rings);
	if (g->nthreads > devqueues)
		die("bad nthreads %d, have %d queues", g->nthreads, devqueues);
	if (g->td_type == TD_SENDER || g->body == ping_body) {
		int mtu = port_mtu(g, info);
		if (mtu > 0 && g->pkt_size > mtu)
			die("pkt_size (%d) must be <= mtu (%d)", g->pkt_size, mtu);
	}
	if (g->verbose) {
		D("nifp at offset %" PRIu64 " ntxqs %u nrxqs %u memid %u", info->nifp_offset, info->tx_rings,
		  info->rx_rings, info->mem_id);
		D("tx rings [%u, %u) rx rings [%u, %u) slots %u/%u buf_size %u", info->first_tx_ring,
		  info->last_tx_ring, info->first_rx_ring, info->last_rx_ring, info->tx_slots,
		  info->rx_slots, info->buf_size);
	}

	printf("%s %s: %d queues, %d threads and %d cpus.\n",
	       g->td_type == TD_SENDER ? "Sending on" :
	       g->td_type == TD_RECEIVER ? "Receiving from" : "Working on",
	       g->ifname, devqueues, g->nthreads, g->cpus);
	if (g->td_type == TD_SENDER)
		printf("%s -> %s (%s -> %s)\n", g->src_ip_name, g->dst_ip_name, g->src_mac_name,
		       g->dst_mac_name);
	fflush(stdout);

	if (g->options)
		D("--- SPECIAL OPTIONS:%s%s%s%s%s%s", g->options & OPT_PREFETCH ? " prefetch" : "",
		  g->options & OPT_ACCESS ? " access" : "", g->options & OPT_MEMCPY ? " memcpy" : "",
		  g->options & OPT_INDIRECT ? " indirect" : "", g->options & OPT_COPY ? " copy" : "",
		  g->options & OPT_RUBBISH ? " rubbish" : "");

	/* Multi-slot packets: -F splits a frame into (about) equal parts,
	 * -M caps the part, and no part is larger than a buffer. */
	unsigned cap = g->frag_size < info->buf_size ? g->frag_size : info->buf_size;
	unsigned want = ((unsigned)g->pkt_size + (unsigned)g->frags - 1) / (unsigned)g->frags;
	unsigned frag_size = want < cap ? want : cap;
	unsigned nfr = ((unsigned)g->pkt_size + frag_size - 1) / frag_size;
	if (g->body == sender_body) {
		if (nfr > NETMAP_MAX_FRAGS || nfr >= info->tx_slots)
			die("a frame of %d bytes needs %u slots of %u bytes: too many (at most %d, and fewer than the %u slots of a ring)",
			    g->pkt_size, nfr, frag_size, NETMAP_MAX_FRAGS, info->tx_slots);
		D("frags %u frag_size %u", nfr, frag_size);
	}
	if ((g->body == txseq_body || g->body == ping_body || g->body == pong_body) &&
	    (unsigned)g->pkt_size > info->buf_size)
		die("-f %s sends one frame per slot: -l %d is larger than a buffer (%u bytes)", g->fname,
		    g->pkt_size, info->buf_size);
	if (g->body == txseq_body && (unsigned)g->frags >= info->tx_slots)
		die("-F %d: a ring has only %u slots", g->frags, info->tx_slots);

	/* Rate: the total is shared among the threads; each sends bursts of
	 * about 1/300 s of traffic. */
	uint64_t period = 0;
	for (int i = 0; i < g->nthreads; i++) {
		struct targ *t = &g->targs[i];
		t->burst = g->burst;
		if (g->body == txseq_body && t->burst < g->frags)
			t->burst = g->frags;
		t->frag_size = frag_size;
		t->npackets = g->npackets / (uint64_t)g->nthreads +
			      ((uint64_t)i < g->npackets % (uint64_t)g->nthreads ? 1 : 0);
		t->limited = g->npackets > 0;
		if (g->tx_rate > 0) {
			t->tx_rate = g->tx_rate / (uint64_t)g->nthreads +
				     ((uint64_t)i < g->tx_rate % (uint64_t)g->nthreads ? 1 : 0);
			if (t->tx_rate == 0)
				t->tx_rate = 1;
			uint64_t lim = t->tx_rate / 300;
			if ((uint64_t)t->burst > lim)
				t->burst = (int)lim;
			if (t->burst == 0)
				t->burst = 1;
			if (g->body == txseq_body && t->burst < g->frags)
				t->burst = g->frags;     /* whole packets per burst */
			t->tx_period_ns = 1000000000ull * (uint64_t)t->burst / t->tx_rate;
			if (i == 0)
				period = t->tx_period_ns;
		}
	}
	if (g->td_type == TD_SENDER)
		D("Sending %d packets every  %" PRIu64 ".%09" PRIu64 " s", g->targs[0].burst,
		  period / 1000000000, period % 1000000000);

	/* Frames, one per thread (each walks its own ranges). */
	for (int i = 0; i < g->nthreads; i++) {
		struct targ *t = &g->targs[i];
		int r;
		if (g->pcap_frame) {
			r = pg_frame_init_raw(&t->frame, g->pcap_frame, g->pcap_len);
		} else {
			struct pg_frame_conf c = {
				.af = g->af, .src = &g->src, .dst = &g->dst,
				.len = (uint32_t)g->pkt_size,
				.seed = (uint32_t)time(NULL) ^ ((uint32_t)i * 2654435761u),
			};
			memcpy(c.src_mac, g->src_mac, 6);
			memcpy(c.dst_mac, g->dst_mac, 6);
			r = pg_frame_init(&t->frame, &c);
		}
		if (r < 0)
			die("out of memory");
	}

	if (pipe(g->done_pipe) < 0)
		die("pipe: %s", strerror(errno));
	fcntl(g->done_pipe[0], F_SETFL, O_NONBLOCK);
	fcntl(g->done_pipe[1], F_SETFL, O_NONBLOCK);

	/* SIGINT is blocked in the threads (they inherit the mask); only the
	 * main thread takes it, and it only sets a flag. */
	sigset_t ss;
	sigemptyset(&ss);
	sigaddset(&ss, SIGINT);
	pthread_sigmask(SIG_BLOCK, &ss, NULL);

	D("Wait %d secs for phy reset", g->wait_link);
	sleep((unsigned)g->wait_link);
	D("Ready...");

	for (int i = 0; i < g->nthreads; i++) {
		struct targ *t = &g->targs[i];
		atomic_store(&t->used, true);
		int e = pthread_create(&t->thread, NULL, g->body, t);
		if (e != 0) {
			D("Unable to create thread %d: %s", i, strerror(e));
			atomic_store(&t->used, false);
		} else {
			t->started = true;
		}
	}
	struct sigaction sa;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = sigint_h;
	sigaction(SIGINT, &sa, NULL);
	pthread_sigmask(SIG_UNBLOCK, &ss, NULL);

	main_thread(g);

	for (int i = 0; i < g->nthreads; i++) {
		nmk_port_close(g->targs[i].port);
		pg_frame_free(&g->targs[i].frame);
	}
	free(g->targs);
	free(g->pcap_frame);
	close(g->done_pipe[0]);
	close(g->done_pipe[1]);
	return 0;
}
