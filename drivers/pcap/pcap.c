/*
 * pcap.c - the "pcap" driver plugin: a netmap port backed by libpcap.
 *
 * Two kinds of port, told apart by their parameters:
 *
 *   live  "pcap:<ifname>": a non-blocking capture handle on the interface
 *         (on Linux a TPACKET_V3 ring with a 1 ms block timeout, elsewhere
 *         immediate mode); rxsync dispatches what libpcap has into the
 *         RX ring, txsync hands each frame to pcap_inject().  This is the
 *         driver of last resort (priority 1): anything libpcap can open,
 *         on any system libpcap runs on, but with a copy and a system call
 *         per frame where afpacket batches.
 *
 *   file  "pcap:<label>@in=FILE[@timing=real|fast][@loop=N]" and/or
 *         "@out=FILE": the label only names the port.  The frames of the
 *         in file are replayed into the RX ring, as fast as the ring takes
 *         them (fast, the default) or with the file's inter-frame gaps
 *         measured from the first frame of each pass (real); loop is the
 *         number of passes, 0 for ever.  Every frame sent to the port is
 *         written to the out file with nanosecond timestamps; the file is
 *         flushed after every txsync (so that it can be read while the
 *         port is open) and closed with the port.  A port with only out
 *         receives nothing; frames sent to a port with only in are dropped
 *         and counted.
 *
 * pollfd of a file port with in is a timerfd: armed in the past (readable
 * at once) while frames remain and timing is fast, armed at the next
 * frame's due time with real timing, disarmed once the file is done.  A
 * file port has nothing else to wait for, so pollfd answers -1 for TX and
 * for RX without in: the caller then sleeps on the port itself.  Without
 * timerfd (not Linux) pollfd is always -1 for a file port, and a caller
 * that sleeps must use a timeout and sync again.
 *
 * Frames longer than a netmap buffer (or than 65535 bytes, what a slot's
 * length holds) are truncated; they count as rx_dropped in stats, since
 * they did not arrive whole.
 *
 * Nothing here blocks, prints or exits; errors are a negative errno with a
 * message in the caller's buffer.
 */
#define _GNU_SOURCE

#include <errno.h>
#include <limits.h>
#include <pcap/pcap.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#ifdef __linux__
#include <sys/timerfd.h>
#endif

#include <nmkit/nmk_driver.h>
#include <net/netmap.h>

#define PCD_NAME        "pcap"
#define PCD_DEF_SLOTS   1024u
#define PCD_MAX_FRAME   65535u          /* netmap slots carry 16-bit lengths */
#define PCD_ETH_HLEN    14u

/* Terse help: nmk_driver_list() shows all of them in 256 bytes. */
static const struct nmk_driver_param pcd_params[] = {
	{ "in", "pcap file to replay", NULL },
	{ "out", "pcap file to write", NULL },
	{ "timing", "fast|real", "fast" },
	{ "loop", "passes, 0=forever", "1" },
	{ "snaplen", "bytes, 14..65535", "65535" },
	{ NULL, NULL, NULL },
};

struct nmk_driver_port {
	bool live;
	uint32_t snaplen;

	/* Live. */
	pcap_t *lh;

	/* File in. */
	char *in_path;
	pcap_t *in;
	bool real;                      /* timing=real */
	unsigned long loop;             /* passes; 0 = for ever */
	unsigned long pass;             /* passes finished */
	uint64_t pass_frames;           /* frames read in this pass */
	bool in_done;
	bool pending;                   /* hdr/data hold a frame not yet delivered */
	struct pcap_pkthdr hdr;
	const u_char *data;
	uint64_t ts_first, base;        /* file time of the pass's first frame; when it was due */
	int tfd;
	uint64_t armed;                 /* what tfd is armed at; 0 = disarmed */

	/* File out. */
	pcap_t *dead;
	pcap_dumper_t *dumper;

	uint8_t *scratch;               /* a multi-slot frame, gathered */

	uint64_t rx_packets, rx_bytes, rx_dropped;
	uint64_t tx_packets, tx_bytes, tx_dropped;
};

static uint64_t mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* Strict: decimal digits only, no sign, no blanks, within [lo, hi]. */
static bool parse_uint(const char *s, unsigned long lo, unsigned long hi, unsigned long *out)
{
	unsigned long v = 0;

	if (!s || !*s)
		return false;
	for (; *s; s++) {
		if (*s < '0' || *s > '9')
			return false;
		if (v > (ULONG_MAX - 9) / 10)
			return false;
		v = v * 10 + (unsigned long)(*s - '0');
	}
	if (v < lo || v > hi)
		return false;
	*out = v;
	return true;
}

/* ---------------------------------------------------------------------- */
/* Control */

static int pcd_probe(const char *ifname, char *err, size_t errlen)
{
	char ebuf[PCAP_ERRBUF_SIZE] = "";
	pcap_if_t *all = NULL;
	int r = -ENODEV;

	if (!ifname || !*ifname) {
		nmk_errbuf(err, errlen, "%s: no device name", PCD_NAME);
		return -ENODEV;
	}
	if (pcap_findalldevs(&all, ebuf) < 0) {
		nmk_errbuf(err, errlen, "%s: pcap_findalldevs: %s", PCD_NAME, ebuf);
		return -EIO;
	}
	for (pcap_if_t *d = all; d; d = d->next)
		if (d->name && strcmp(d->name, ifname) == 0)
			r = 0;
	pcap_freealldevs(all);
	if (r < 0)
		nmk_errbuf(err, errlen, "%s: libpcap knows no device \"%s\"", PCD_NAME, ifname);
	return r;
}

static void pcd_close(struct nmk_driver_port *p)
{
	if (!p)
		return;
	if (p->lh)
		pcap_close(p->lh);
	if (p->in)
		pcap_close(p->in);
	if (p->dumper) {
		pcap_dump_flush(p->dumper);
		pcap_dump_close(p->dumper);
	}
	if (p->dead)
		pcap_close(p->dead);
	if (p->tfd >= 0)
		close(p->tfd);
	free(p->in_path);
	free(p->scratch);
	free(p);
}

static int open_in(struct nmk_driver_port *p, char *err, size_t errlen)
{
	char ebuf[PCAP_ERRBUF_SIZE] = "";

	/* Nanosecond precision: tv_usec then holds nanoseconds, whatever the
	 * file's own precision (libpcap scales microseconds up). */
	p->in = pcap_open_offline_with_tstamp_precision(p->in_path, PCAP_TSTAMP_PRECISION_NANO,
							ebuf);
	if (!p->in) {
		nmk_errbuf(err, errlen, "%s: in=%s: %s", PCD_NAME, p->in_path, ebuf);
		return -ENOENT;
	}
	if (pcap_datalink(p->in) != DLT_EN10MB) {
		nmk_errbuf(err, errlen, "%s: in=%s: link type %s, not Ethernet", PCD_NAME, p->in_path,
			pcap_datalink_val_to_name(pcap_datalink(p->in)) ?
			pcap_datalink_val_to_name(pcap_datalink(p->in)) : "unknown");
		return -EINVAL;
	}
	p->pass_frames = 0;
	return 0;
}

static int pcd_open(const struct nmk_driver_open_args *a, struct nmk_driver_port **portp,
		    struct nmk_driver_geometry *geom, char *err, size_t errlen)
{
	const char *in = NULL, *out = NULL, *timing = NULL, *loop = NULL;
	unsigned long snaplen = PCD_MAX_FRAME, v;
	int r;

	nmk_errbuf(err, errlen, "%s", "");
	if (!a || !portp || !geom) {
		nmk_errbuf(err, errlen, "%s: open: NULL argument", PCD_NAME);
		return -EINVAL;
	}
	*portp = NULL;
	for (unsigned i = 0; i < a->nparams; i++) {
		const char *k = a->keys[i], *val = a->values[i] ? a->values[i] : "";
		if (strcmp(k, "in") == 0) {
			in = val;
		} else if (strcmp(k, "out") == 0) {
			out = val;
		} else if (strcmp(k, "timing") == 0) {
			if (strcmp(val, "fast") != 0 && strcmp(val, "real") != 0) {
				nmk_errbuf(err, errlen, "%s: bad value \"%s\" for parameter timing (fast|real)",
					PCD_NAME, val);
				return -EINVAL;
			}
			timing = val;
		} else if (strcmp(k, "loop") == 0) {
			if (!parse_uint(val, 0, ULONG_MAX - 1, &v)) {
				nmk_errbuf(err, errlen, "%s: bad value \"%s\" for parameter loop (passes, 0=forever)",
					PCD_NAME, val);
				return -EINVAL;
			}
			loop = val;
		} else if (strcmp(k, "snaplen") == 0) {
			if (!parse_uint(val, PCD_ETH_HLEN, PCD_MAX_FRAME, &snaplen)) {
				nmk_errbuf(err, errlen, "%s: bad value \"%s\" for parameter snaplen (14..65535)",
					PCD_NAME, val);
				return -EINVAL;
			}
		} else {
			nmk_errbuf(err, errlen, "%s: unknown parameter \"%s\"", PCD_NAME, k);
			return -EINVAL;
		}
	}
	if ((in && !*in) || (out && !*out)) {
		nmk_errbuf(err, errlen, "%s: parameter %s needs a file name", PCD_NAME,
			in && !*in ? "in" : "out");
		return -EINVAL;
	}
	if (!in && (timing || loop)) {
		nmk_errbuf(err, errlen, "%s: parameter %s applies to a file port: give @in=FILE", PCD_NAME,
			timing ? "timing" : "loop");
		return -EINVAL;
	}

	struct nmk_driver_port *p = calloc(1, sizeof *p);
	if (!p || !(p->scratch = malloc(PCD_MAX_FRAME))) {
		free(p);
		nmk_errbuf(err, errlen, "%s: out of memory", PCD_NAME);
		return -ENOMEM;
	}
	p->tfd = -1;
	p->snaplen = (uint32_t)snaplen;
	p->live = !in && !out;

	if (p->live) {
		char ebuf[PCAP_ERRBUF_SIZE] = "";
		if (!a->ifname || !*a->ifname) {
			nmk_errbuf(err, errlen, "%s: no device name (or @in=FILE / @out=FILE)", PCD_NAME);
			r = -ENODEV;
			goto fail;
		}
		p->lh = pcap_create(a->ifname, ebuf);
		if (!p->lh) {
			nmk_errbuf(err, errlen, "%s:%s: %s", PCD_NAME, a->ifname, ebuf);
			r = -ENODEV;
			goto fail;
		}
		pcap_set_snaplen(p->lh, (int)snaplen);
#ifdef __linux__
		/* Not immediate mode: there libpcap uses a TPACKET_V2 ring of
		 * fixed-size frames sized by the snaplen, so its default 2 MB
		 * buffer holds only 32 frames of 64 KB (veth and most NICs
		 * have offloads, so libpcap cannot size frames by the MTU)
		 * and a burst of more is dropped by the kernel before rxsync
		 * can run.  A TPACKET_V3 ring packs frames by their real
		 * length (thousands of small ones); a 1 ms block timeout
		 * bounds the latency, as in the afpacket driver. */
		pcap_set_timeout(p->lh, 1);
#else
		/* Immediate mode: a frame is handed over as it arrives, not
		 * when a kernel buffer fills, as a NIC ring would. */
		pcap_set_immediate_mode(p->lh, 1);
#endif
		pcap_set_promisc(p->lh, 1);
		int ar = pcap_activate(p->lh);
		if (ar < 0) {
			/* pcap_geterr() is the more precise, when there is one. */
			nmk_errbuf(err, errlen, "%s:%s: %s", PCD_NAME, a->ifname,
				*pcap_geterr(p->lh) ? pcap_geterr(p->lh) : pcap_statustostr(ar));
			r = ar == PCAP_ERROR_NO_SUCH_DEVICE ? -ENODEV
				: ar == PCAP_ERROR_PERM_DENIED ? -EPERM : -EIO;
			goto fail;
		}
		if (pcap_setnonblock(p->lh, 1, ebuf) < 0) {
			nmk_errbuf(err, errlen, "%s:%s: pcap_setnonblock: %s", PCD_NAME, a->ifname, ebuf);
			r = -EIO;
			goto fail;
		}
		if (pcap_datalink(p->lh) != DLT_EN10MB) {
			nmk_errbuf(err, errlen, "%s:%s: link type %s, not Ethernet", PCD_NAME, a->ifname,
				pcap_datalink_val_to_name(pcap_datalink(p->lh)) ?
				pcap_datalink_val_to_name(pcap_datalink(p->lh)) : "unknown");
			r = -EINVAL;
			goto fail;
		}
		/* Not every platform can: rxsync then also sees what we sent. */
		(void)pcap_setdirection(p->lh, PCAP_D_IN);
	}

	if (in) {
		p->in_path = strdup(in);
		if (!p->in_path) {
			nmk_errbuf(err, errlen, "%s: out of memory", PCD_NAME);
			r = -ENOMEM;
			goto fail;
		}
		p->real = timing && strcmp(timing, "real") == 0;
		p->loop = 1;
		if (loop)
			(void)parse_uint(loop, 0, ULONG_MAX - 1, &p->loop);
		r = open_in(p, err, errlen);
		if (r < 0)
			goto fail;
#ifdef __linux__
		p->tfd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
		if (p->tfd < 0) {
			r = -errno;
			nmk_errbuf(err, errlen, "%s: timerfd_create: %s", PCD_NAME, strerror(-r));
			goto fail;
		}
#endif
	}

	if (out) {
		p->dead = pcap_open_dead_with_tstamp_precision(DLT_EN10MB, (int)snaplen,
							       PCAP_TSTAMP_PRECISION_NANO);
		if (!p->dead) {
			nmk_errbuf(err, errlen, "%s: pcap_open_dead failed", PCD_NAME);
			r = -ENOMEM;
			goto fail;
		}
		p->dumper = pcap_dump_open(p->dead, out);
		if (!p->dumper) {
			nmk_errbuf(err, errlen, "%s: out=%s: %s", PCD_NAME, out, pcap_geterr(p->dead));
			r = -EIO;
			goto fail;
		}
	}

	memset(geom, 0, sizeof *geom);
	geom->tx_rings = geom->rx_rings = 1;
	geom->tx_slots = a->tx_slots ? a->tx_slots : PCD_DEF_SLOTS;
	geom->rx_slots = a->rx_slots ? a->rx_slots : PCD_DEF_SLOTS;
	geom->mtu = (uint32_t)snaplen;
	*portp = p;
	return 0;
fail:
	pcd_close(p);
	return r;
}

static int pcd_stats(struct nmk_driver_port *p, struct nmk_driver_stats *st)
{
	if (!p || !st)
		return -EINVAL;
	memset(st, 0, sizeof *st);
	st->rx_packets = p->rx_packets;
	st->rx_bytes = p->rx_bytes;
	st->rx_dropped = p->rx_dropped;
	st->tx_packets = p->tx_packets;
	st->tx_bytes = p->tx_bytes;
	st->tx_dropped = p->tx_dropped;
	if (p->lh) {
		struct pcap_stat ps;
		if (pcap_stats(p->lh, &ps) == 0)
			st->rx_dropped += (uint64_t)ps.ps_drop + ps.ps_ifdrop;
	}
	return 0;
}

/* One device name per line; returns how many, or -ENOSPC when buf was too
 * small (it then holds the names that fit). */
static int pcd_list(char *buf, size_t len)
{
	char ebuf[PCAP_ERRBUF_SIZE] = "";
	pcap_if_t *all = NULL;
	size_t off = 0;
	int n = 0, r = 0;

	if (buf && len)
		buf[0] = '\0';
	if (pcap_findalldevs(&all, ebuf) < 0)
		return -EIO;
	for (pcap_if_t *d = all; d; d = d->next) {
		if (!d->name)
			continue;
		size_t l = strlen(d->name);
		if (!buf || off + l + 2 > len) {
			r = -ENOSPC;
			break;
		}
		memcpy(buf + off, d->name, l);
		off += l;
		buf[off++] = '\n';
		buf[off] = '\0';
		n++;
	}
	pcap_freealldevs(all);
	return r < 0 ? r : n;
}

static int pcd_pollfd(struct nmk_driver_port *p, unsigned ring, int tx)
{
	if (!p || ring != 0)
		return -EINVAL;
	if (p->lh)
		return pcap_get_selectable_fd(p->lh);   /* -1 where there is none */
	return tx ? -1 : p->tfd;
}

/* ---------------------------------------------------------------------- */
/* Fast path */

/* Copy one frame into slot i; a frame that does not fit is truncated. */
static void put_frame(struct nmk_driver_port *p, const struct nmk_driver_ring *dr, uint32_t i,
		      const u_char *data, uint32_t len)
{
	struct netmap_ring *nr = dr->ring;
	struct netmap_slot *s = &nr->slot[i];
	uint32_t bs = dr->buf_size > PCD_MAX_FRAME ? PCD_MAX_FRAME : dr->buf_size;

	s->flags = 0;
	if (s->buf_idx >= dr->nbufs) {
		/* Nowhere to put it: the frame is lost. */
		s->len = 0;
		p->rx_dropped++;
		return;
	}
	if (len > bs) {
		len = bs;
		p->rx_dropped++;
	}
	memcpy(dr->bufbase + (size_t)s->buf_idx * dr->buf_size, data, len);
	s->len = (uint16_t)len;
	p->rx_packets++;
	p->rx_bytes += len;
}

/* Make the next frame of the in file pending; false when there is none
 * (for ever, once the last pass is done or the file fails). */
static bool fetch(struct nmk_driver_port *p)
{
	if (p->pending)
		return true;
	while (!p->in_done) {
		struct pcap_pkthdr *h;
		const u_char *d;
		int r = p->in ? pcap_next_ex(p->in, &h, &d) : PCAP_ERROR_BREAK;

		if (r == 1) {
			uint64_t ts = (uint64_t)h->ts.tv_sec * 1000000000u + (uint64_t)h->ts.tv_usec;
			if (p->pass_frames++ == 0) {
				/* Each pass keeps its own gaps, from its first frame on. */
				p->ts_first = ts;
				p->base = mono_ns();
			}
			p->hdr = *h;
			p->data = d;
			p->pending = true;
			return true;
		}
		if (r == 0)
			continue;       /* cannot happen with a file; try again */
		/* End of file (or a damaged one): the pass is over. */
		bool empty = p->pass_frames == 0;
		pcap_close(p->in);
		p->in = NULL;
		p->pass++;
		if (r != PCAP_ERROR_BREAK || empty || (p->loop != 0 && p->pass >= p->loop) ||
		    open_in(p, NULL, 0) < 0)
			p->in_done = true;
	}
	return false;
}

static uint64_t due_of(const struct nmk_driver_port *p)
{
	uint64_t ts = (uint64_t)p->hdr.ts.tv_sec * 1000000000u + (uint64_t)p->hdr.ts.tv_usec;

	/* A frame older than the first keeps no gap. */
	return p->base + (ts > p->ts_first ? ts - p->ts_first : 0);
}

/* Arm tfd at `when` (monotonic ns; 1 = at once), or disarm it with 0. */
static void arm(struct nmk_driver_port *p, uint64_t when)
{
	if (p->tfd < 0 || when == p->armed)
		return;
#ifdef __linux__
	struct itimerspec its;
	memset(&its, 0, sizeof its);
	its.it_value.tv_sec = (time_t)(when / 1000000000u);
	its.it_value.tv_nsec = (long)(when % 1000000000u);
	/* Setting the timer also clears an expiry not yet read. */
	if (timerfd_settime(p->tfd, TFD_TIMER_ABSTIME, &its, NULL) == 0)
		p->armed = when;
#endif
}

static int file_rxsync(struct nmk_driver_port *p, const struct nmk_driver_ring *dr, uint32_t from,
		       uint32_t room)
{
	uint32_t ns = dr->num_slots, n = 0, i = from;
	uint64_t now = p->real ? mono_ns() : 0;

	while (n < room && fetch(p)) {
		if (p->real && due_of(p) > now)
			break;
		put_frame(p, dr, i, p->data, p->hdr.caplen);
		p->pending = false;
		i = nmk_ring_next(i, ns);
		n++;
	}
	/* Look ahead, so that the timer says when to come back. */
	if (!fetch(p))
		arm(p, 0);
	else if (p->real)
		arm(p, due_of(p) > 1 ? due_of(p) : 1);
	else
		arm(p, 1);
	return (int)n;
}

struct live_ctx {
	struct nmk_driver_port *p;
	const struct nmk_driver_ring *dr;
	uint32_t i, n;
};

static void live_cb(u_char *user, const struct pcap_pkthdr *h, const u_char *bytes)
{
	struct live_ctx *c = (struct live_ctx *)user;

	put_frame(c->p, c->dr, c->i, bytes, h->caplen);
	c->i = nmk_ring_next(c->i, c->dr->num_slots);
	c->n++;
}

static int pcd_rxsync(struct nmk_driver_port *p, unsigned ring, const struct nmk_driver_ring *dr,
		      uint32_t from, uint32_t room)
{
	if (!p || !dr || ring != 0)
		return -EINVAL;
	uint32_t ns = dr->num_slots;

	if (from >= ns)
		return -EINVAL;
	if (room > ns)
		room = ns;
	if (room == 0)
		return 0;
	if (p->in)
		return file_rxsync(p, dr, from, room);
	if (p->in_path)
		return 0;               /* the file is done */
	if (!p->lh)
		return 0;               /* out only: nothing ever arrives */

	struct live_ctx c = { p, dr, from, 0 };
	/* room bounds the count: the callback never runs past the free slots. */
	while (c.n < room) {
		int r = pcap_dispatch(p->lh, (int)(room - c.n), live_cb, (u_char *)&c);
		if (r < 0 && c.n == 0)
			return r == PCAP_ERROR_BREAK ? 0 : -EIO;
		if (r <= 0)
			break;
	}
	return (int)c.n;
}

static int pcd_txsync(struct nmk_driver_port *p, unsigned ring, const struct nmk_driver_ring *dr,
		      uint32_t from, uint32_t to)
{
	if (!p || !dr || ring != 0)
		return -EINVAL;
	struct netmap_ring *nr = dr->ring;
	uint32_t ns = dr->num_slots;

	if (from >= ns || to >= ns)
		return -EINVAL;

	uint32_t total = to >= from ? to - from : ns - from + to;
	uint32_t taken = 0;
	bool dumped = false;

	while (taken < total) {
		uint32_t i = (from + taken) % ns, cnt = 0, bytes = 0;
		const u_char *frame = NULL;
		bool bad = false, complete = false;

		/* One frame: a chain of slots up to one without NS_MOREFRAG. */
		while (taken + cnt < total) {
			const struct netmap_slot *s = &nr->slot[(i + cnt) % ns];
			cnt++;
			if (s->buf_idx >= dr->nbufs || s->len > dr->buf_size ||
			    bytes + s->len > PCD_MAX_FRAME) {
				bad = true;
			} else if (s->len > 0) {
				const u_char *b = (const u_char *)dr->bufbase +
					(size_t)s->buf_idx * dr->buf_size;
				if (cnt == 1 && !(s->flags & NS_MOREFRAG)) {
					frame = b;      /* one slot: no copy */
				} else {
					memcpy(p->scratch + bytes, b, s->len);
					frame = p->scratch;
				}
				bytes += s->len;
			}
			if (!(s->flags & NS_MOREFRAG) || cnt == NETMAP_MAX_FRAGS) {
				/* A runaway chain is cut and dropped, as netmap does. */
				if (s->flags & NS_MOREFRAG)
					bad = true;
				complete = true;
				break;
			}
		}
		if (!complete)
			break;          /* the rest of this frame is not queued yet */
		if (bad || bytes == 0 || (!p->dumper && !p->lh)) {
			p->tx_dropped++;
			taken += cnt;
			continue;
		}
		if (p->dumper) {
			struct pcap_pkthdr h;
			struct timespec ts;
			clock_gettime(CLOCK_REALTIME, &ts);
			memset(&h, 0, sizeof h);
			h.ts.tv_sec = ts.tv_sec;
			h.ts.tv_usec = (suseconds_t)ts.tv_nsec; /* a nanosecond handle */
			h.len = bytes;
			h.caplen = bytes < p->snaplen ? bytes : p->snaplen;
			pcap_dump((u_char *)p->dumper, &h, frame);
			dumped = true;
		} else if (pcap_inject(p->lh, frame, bytes) < 0) {
			int e = errno;
			if (e == EAGAIN || e == EWOULDBLOCK || e == ENOBUFS || e == EINTR)
				break;  /* full: the rest stay for the next call */
			/* Anything else is about this frame: drop it, so that
			 * one bad frame cannot stall the ring. */
			p->tx_dropped++;
			taken += cnt;
			continue;
		}
		p->tx_packets++;
		p->tx_bytes += bytes;
		taken += cnt;
	}
	/* A write per batch, so that the file can be read while the port
	 * is open. */
	if (dumped)
		pcap_dump_flush(p->dumper);
	return (int)taken;
}

/* ---------------------------------------------------------------------- */

static const struct nmk_driver pcd_driver = {
	.size = sizeof(struct nmk_driver),
	.abi = NMK_DRIVER_ABI,
	.name = PCD_NAME,
	.aliases = NULL,
	.description = "libpcap: a live device, or pcap files replayed (@in) and written (@out)",
	.params = pcd_params,
	.priority = 1,
	.probe = pcd_probe,
	.open = pcd_open,
	.close = pcd_close,
	.stats = pcd_stats,
	.list = pcd_list,
	.pollfd = pcd_pollfd,
	.txsync = pcd_txsync,
	.rxsync = pcd_rxsync,
};

NMK_DRIVER_ENTRY(pcd_driver)
