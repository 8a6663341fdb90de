/*
 * test_monitor.c - netmap monitors (reference §2.10): "port/r", "/t",
 * "/rt" (copy monitors) and "/z" (zero-copy) on VALE ports and pipes.
 *
 * What is checked, frame by frame (every frame carries a sequence number
 * and contents derived from it, and its length derives from it too):
 *  - copy monitors see a port's RX traffic as it arrives, before the port's
 *    reader reads it, and its TX traffic at txsync, marked NS_TXMON; the
 *    port itself still gets every frame intact;
 *  - zero-copy monitors see the traffic once consumed (VALE TX after the
 *    txsync, RX when the reader releases the slots), by swapping buffers:
 *    both sides' slots come back NS_BUF_CHANGED with valid buffers, no
 *    buffer is ever in two slots, and the port keeps moving frames intact;
 *  - a monitor short of room skips the oldest frames and counts them;
 *  - the errors (no such port, a fifth monitor, a monitor's txsync);
 *  - lifetime: a monitor goes away with its last fd, the monitored port
 *    may close first, and a monitor in another process wakes from poll.
 *
 * Forwarding and pipe delivery are complete when the sender's txsync
 * returns, so the single-process cases need no waiting at all: "the
 * monitor has nothing yet" is a plain rxsync.
 *
 * Every case gets its own runtime directory and broker (tu_setup) and
 * names unique to this process.  Children never return into cmocka and
 * are always killed and reaped; alarms turn hangs into failures.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <nmkit/nmkit.h>
#include <nmkit/compat/net/netmap_user.h>

#include "testutil.h"

#define ETH_HLEN        14
#define ETHERTYPE       0x88b5          /* IEEE local experimental */
#define MIN_FRAME       (ETH_HLEN + 8)  /* header and the sequence number */
#define MAX_RECS        4096
#define CHILD_ALARM     40u
#define CASE_ALARM      50u

/* Sequence numbers tell the streams apart. */
#define A_SEQ   (UINT64_C(1) << 32)     /* frames sent by port A */
#define B_SEQ   (UINT64_C(2) << 32)     /* frames sent by port B */

/* ---- frames ----------------------------------------------------------------- */

/* Lengths vary with the frame, from 60 to 1459 bytes. */
static uint16_t len_of(uint64_t seq)
{
	return (uint16_t)(60 + (seq * 97) % 1400);
}

static void frame_fill(uint8_t *buf, uint64_t seq, uint8_t sender)
{
	uint16_t len = len_of(seq);

	/* Broadcast: each switch here has two ports, so a flood reaches
	 * exactly the other one. */
	memset(buf, 0xff, 6);
	const uint8_t src[6] = { 0x02, 0x00, 0x00, 0x00, 0x00, sender };
	memcpy(buf + 6, src, 6);
	buf[12] = ETHERTYPE >> 8;
	buf[13] = ETHERTYPE & 0xff;
	tu_fill(buf + ETH_HLEN, len - ETH_HLEN, seq);
}

/* The frame's sequence number if it is intact, or fail. */
static uint64_t frame_check(const uint8_t *buf, uint16_t len, const char *where)
{
	uint64_t seq;

	if (len < MIN_FRAME)
		fail_msg("%s: frame of %u bytes", where, len);
	memcpy(&seq, buf + ETH_HLEN, 8);
	if (len != len_of(seq))
		fail_msg("%s: frame %#llx has %u bytes, expected %u", where,
			 (unsigned long long)seq, len, len_of(seq));
	if (buf[12] != (ETHERTYPE >> 8) || buf[13] != (ETHERTYPE & 0xff) ||
	    tu_check(buf + ETH_HLEN, len - ETH_HLEN, seq) != 0)
		fail_msg("%s: frame %#llx (%u bytes) is corrupted", where, (unsigned long long)seq,
			 len);
	return seq;
}

/* ---- ports ------------------------------------------------------------------ */

static struct nmk_port *open_ok(const char *spec)
{
	char err[NMK_ERRBUF_SIZE] = "";
	struct nmk_port *p = nmk_port_open(spec, err);

	if (p == NULL)
		fail_msg("open %s: %s (errno %d)", spec, err, errno);
	return p;
}

/* Open must fail with `want_errno`, and its message must contain `text`. */
static void open_fails(const char *spec, int want_errno, const char *text)
{
	char err[NMK_ERRBUF_SIZE] = "";
	struct nmk_port *p = nmk_port_open(spec, err);

	if (p != NULL) {
		nmk_port_close(p);
		fail_msg("open %s succeeded, expected errno %d", spec, want_errno);
	}
	if (errno != want_errno)
		fail_msg("open %s: errno %d (%s), expected %d", spec, errno, err, want_errno);
	if (text && strstr(err, text) == NULL)
		fail_msg("open %s: message \"%s\" does not mention \"%s\"", spec, err, text);
}

/* "vale<pid><tag>": unique to this process, at most 15 characters. */
static void switch_name(char *buf, size_t len, char tag)
{
	snprintf(buf, len, "vale%d%c", (int)getpid() % 10000000, tag);
}

static void port_name(char *buf, size_t len, const char *sw, const char *port, const char *suffix)
{
	snprintf(buf, len, "%s:%s%s", sw, port, suffix ? suffix : "");
}

/* Send frames [seq, seq + count) from TX ring 0 in one txsync; the buffers
 * the slots had go to bufs[] when given. */
static void send_frames(struct nmk_port *p, uint64_t seq, uint32_t count, uint8_t sender,
			uint32_t *bufs)
{
	struct netmap_ring *r = nmk_port_txring(p, 0);

	assert_non_null(r);
	if (nm_ring_space(r) < count)
		fail_msg("%s: %u free tx slots, %u frames to send", nmk_port_info(p)->name,
			 nm_ring_space(r), count);
	uint32_t i = r->head;
	for (uint32_t n = 0; n < count; n++) {
		struct netmap_slot *s = &r->slot[i];
		frame_fill((uint8_t *)NETMAP_BUF(r, s->buf_idx), seq + n, sender);
		s->len = len_of(seq + n);
		s->flags = 0;
		if (bufs)
			bufs[n] = s->buf_idx;
		i = nm_ring_next(r, i);
	}
	r->head = r->cur = i;
	int ret = nmk_txsync(p);
	if (ret != 0)
		fail_msg("txsync %s: %s", nmk_port_info(p)->name, nmk_port_error(p));
}

/* What one slot of an RX ring held. */
struct rec {
	uint64_t seq;
	uint32_t buf_idx;
	uint16_t flags;
};

/* rxsync, then record (and check) the frames of every bound RX ring
 * without releasing them; returns how many. */
static unsigned peek(struct nmk_port *p, struct rec *recs, unsigned max)
{
	const struct nmk_port_info *in = nmk_port_info(p);
	unsigned n = 0;

	if (nmk_rxsync(p) != 0)
		fail_msg("rxsync %s: %s", in->name, nmk_port_error(p));
	for (uint32_t ri = in->first_rx_ring; ri < in->last_rx_ring; ri++) {
		struct netmap_ring *r = nmk_port_rxring(p, ri);
		for (uint32_t i = r->head; i != r->tail; i = nm_ring_next(r, i)) {
			const struct netmap_slot *s = &r->slot[i];
			if (n == max)
				fail_msg("%s: more than %u frames", in->name, max);
			recs[n].seq = frame_check((const uint8_t *)NETMAP_BUF(r, s->buf_idx), s->len,
						  in->name);
			recs[n].buf_idx = s->buf_idx;
			recs[n].flags = s->flags;
			n++;
		}
	}
	return n;
}

/* Give every received slot back. */
static void release(struct nmk_port *p)
{
	const struct nmk_port_info *in = nmk_port_info(p);

	for (uint32_t ri = in->first_rx_ring; ri < in->last_rx_ring; ri++) {
		struct netmap_ring *r = nmk_port_rxring(p, ri);
		r->head = r->cur = r->tail;
	}
	if (nmk_rxsync(p) != 0)
		fail_msg("rxsync %s: %s", in->name, nmk_port_error(p));
}

static unsigned drain(struct nmk_port *p, struct rec *recs, unsigned max)
{
	unsigned n = peek(p, recs, max);

	release(p);
	return n;
}

/* recs[from, from + count) are frames [seq, seq + count) in order, with
 * exactly the flags `flags` among those in `mask`. */
static void expect_seqs(const char *who, const struct rec *recs, unsigned from, unsigned count,
			uint64_t seq, uint16_t mask, uint16_t flags)
{
	for (unsigned i = 0; i < count; i++) {
		const struct rec *r = &recs[from + i];
		if (r->seq != seq + i)
			fail_msg("%s: frame %u is %#llx, expected %#llx", who, from + i,
				 (unsigned long long)r->seq, (unsigned long long)(seq + i));
		if ((r->flags & mask) != flags)
			fail_msg("%s: frame %#llx has flags %#x, expected %#x under mask %#x", who,
				 (unsigned long long)r->seq, r->flags, flags, mask);
	}
}

/* A buffer index that lies inside the port's region, past the two buffers
 * netmap reserves. */
static bool buf_valid(struct nmk_port *p, const struct netmap_ring *r, uint32_t idx)
{
	const struct nmk_port_info *in = nmk_port_info(p);
	const char *b = NETMAP_BUF(r, idx), *mem = nmk_port_mem(p);

	return idx >= 2 && b >= mem && (uint64_t)(b - mem) + in->buf_size <= in->memsize;
}

/* ---- buffer ownership ------------------------------------------------------- */

static uint32_t owned[1 << 16];
static unsigned nowned;

static void own_ring(const struct netmap_ring *r)
{
	for (uint32_t i = 0; i < r->num_slots; i++) {
		/* Buffers 0 and 1 are netmap's reserved ones: a pipe's RX
		 * slot holds 0 until its peer hands it a buffer. */
		if (r->slot[i].buf_idx < 2)
			continue;
		assert_true(nowned < sizeof(owned) / sizeof(owned[0]));
		owned[nowned++] = r->slot[i].buf_idx;
	}
}

/* Every ring of the port (and of the switch peer, when they share a region). */
static void own_port(struct nmk_port *p)
{
	const struct nmk_port_info *in = nmk_port_info(p);

	for (uint32_t i = 0; i < in->tx_rings; i++)
		if (nmk_port_txring(p, i))
			own_ring(nmk_port_txring(p, i));
	for (uint32_t i = 0; i < in->rx_rings; i++)
		if (nmk_port_rxring(p, i))
			own_ring(nmk_port_rxring(p, i));
}

static int cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return x < y ? -1 : x > y;
}

/* No buffer is in two slots of the ports given (NULL-terminated), which
 * must share one region: swapping must never duplicate or lose one. */
static void buffers_unique(struct nmk_port *first, ...)
{
	va_list ap;

	nowned = 0;
	va_start(ap, first);
	for (struct nmk_port *p = first; p; p = va_arg(ap, struct nmk_port *)) {
		assert_int_equal(nmk_port_info(p)->mem_id, nmk_port_info(first)->mem_id);
		own_port(p);
	}
	va_end(ap);
	qsort(owned, nowned, sizeof(owned[0]), cmp_u32);
	for (unsigned i = 1; i < nowned; i++)
		if (owned[i] == owned[i - 1])
			fail_msg("buffer %u is in two slots", owned[i]);
}

/* ---- processes -------------------------------------------------------------- */

#define MAX_CHILDREN 4
static pid_t children[MAX_CHILDREN];
static struct rec recs[MAX_RECS];
static struct rec recs2[MAX_RECS];

#define CHILD_FAIL(...) \
	do { \
		fprintf(stderr, "child %d, line %d: ", (int)getpid(), __LINE__); \
		fprintf(stderr, __VA_ARGS__); \
		fputc('\n', stderr); \
		_exit(1); \
	} while (0)

static void forget_child(pid_t pid)
{
	for (unsigned i = 0; i < MAX_CHILDREN; i++)
		if (children[i] == pid)
			children[i] = 0;
}

/* A child's exit status, 128 + signal, or -1 (killed) after `secs`. */
static int wait_child(pid_t pid, double secs)
{
	double end = tu_now() + secs;
	int status;

	for (;;) {
		pid_t r = waitpid(pid, &status, WNOHANG);
		if (r == pid)
			break;
		if (r < 0 && errno != EINTR) {
			forget_child(pid);
			return -1;
		}
		if (tu_now() > end) {
			kill(pid, SIGKILL);
			waitpid(pid, &status, 0);
			forget_child(pid);
			fprintf(stderr, "child %d did not finish within %.0f s\n", (int)pid, secs);
			return -1;
		}
		usleep(2000);
	}
	forget_child(pid);
	if (WIFEXITED(status))
		return WEXITSTATUS(status);
	return 128 + (WIFSIGNALED(status) ? WTERMSIG(status) : 0);
}

static void sleep_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000 };

	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

/* The broker survived the case. */
static void broker_ok(void)
{
	pid_t pid = tu_broker_pid();

	assert_true(pid > 0);
	assert_true(tu_alive(pid));
}

/* Wait (at most 5 s) until the broker lists no registration of `name`. */
static void gone(const char *name)
{
	double end = tu_now() + 5;

	while (tu_port_registrations(name) != 0) {
		if (tu_now() > end)
			fail_msg("%s still has registrations after 5 s", name);
		sleep_ms(2);
	}
}

/* ---- 1) copy monitors of VALE ports ------------------------------------------- */

static void test_vale_copy(void **state)
{
	char sw[16], an[64], bn[64], spec[80];
	(void)state;

	switch_name(sw, sizeof(sw), 'c');
	port_name(an, sizeof(an), sw, "a", NULL);
	port_name(bn, sizeof(bn), sw, "b", NULL);
	struct nmk_port *a = open_ok(an), *b = open_ok(bn);

	/* /r on b: the frames delivered to b, before b reads them. */
	snprintf(spec, sizeof(spec), "%s/r", bn);
	struct nmk_port *mr = open_ok(spec);
	const struct nmk_port_info *mi = nmk_port_info(mr);
	assert_int_equal(mi->tx_rings, 1);
	assert_int_equal(mi->rx_rings, 1);
	assert_int_equal(mi->rx_slots, 1024);
	assert_non_null(strstr(mi->name, "/r"));

	/* /t on a: a's frames, NS_TXMON; /rt on a: both directions. */
	snprintf(spec, sizeof(spec), "%s/t", an);
	struct nmk_port *mt = open_ok(spec);
	snprintf(spec, sizeof(spec), "%s/rt", an);
	struct nmk_port *mrt = open_ok(spec);

	send_frames(a, A_SEQ, 300, 0xa, NULL);
	/* b has not read anything: the monitor has it all already. */
	assert_int_equal(drain(mr, recs, MAX_RECS), 300);
	expect_seqs("b/r", recs, 0, 300, A_SEQ, NS_TXMON, 0);
	/* ... and b still gets every frame, intact. */
	assert_int_equal(drain(b, recs, MAX_RECS), 300);
	expect_seqs("b", recs, 0, 300, A_SEQ, NS_TXMON, 0);
	assert_int_equal(drain(mt, recs, MAX_RECS), 300);
	expect_seqs("a/t", recs, 0, 300, A_SEQ, NS_TXMON, NS_TXMON);

	/* b answers: a's RX, seen by /rt only (and not by /t). */
	send_frames(b, B_SEQ, 200, 0xb, NULL);
	assert_int_equal(drain(mt, recs, MAX_RECS), 0);
	assert_int_equal(drain(mr, recs, MAX_RECS), 0);
	assert_int_equal(drain(mrt, recs, MAX_RECS), 500);
	expect_seqs("a/rt tx", recs, 0, 300, A_SEQ, NS_TXMON, NS_TXMON);
	expect_seqs("a/rt rx", recs, 300, 200, B_SEQ, NS_TXMON, 0);
	assert_int_equal(drain(a, recs, MAX_RECS), 200);
	expect_seqs("a", recs, 0, 200, B_SEQ, NS_TXMON, 0);

	/* Many rounds: the rings wrap, everyone stays exact. */
	for (uint64_t k = 0; k < 20; k++) {
		uint64_t s = A_SEQ + 1000 + k * 150;
		send_frames(a, s, 150, 0xa, NULL);
		assert_int_equal(drain(mr, recs, MAX_RECS), 150);
		expect_seqs("b/r", recs, 0, 150, s, NS_TXMON, 0);
		assert_int_equal(drain(mt, recs, MAX_RECS), 150);
		expect_seqs("a/t", recs, 0, 150, s, NS_TXMON, NS_TXMON);
		assert_int_equal(drain(mrt, recs, MAX_RECS), 150);
		expect_seqs("a/rt", recs, 0, 150, s, NS_TXMON, NS_TXMON);
		assert_int_equal(drain(b, recs, MAX_RECS), 150);
		expect_seqs("b", recs, 0, 150, s, NS_TXMON, 0);
	}
	assert_int_equal(nmk_port_rx_dropped(mr), 0);
	assert_int_equal(nmk_port_rx_dropped(mt), 0);
	assert_int_equal(nmk_port_rx_dropped(mrt), 0);
	assert_int_equal(nmk_port_rx_dropped(b), 0);

	nmk_port_close(mrt);
	nmk_port_close(mt);
	nmk_port_close(mr);
	nmk_port_close(b);
	nmk_port_close(a);
	broker_ok();
}

/* ---- 2) copy monitors of pipes ------------------------------------------------- */

static void test_pipe_copy(void **state)
{
	char base[32], mn[64], sn[64], spec[80];
	(void)state;

	tu_unique(base, sizeof(base), "mp");
	snprintf(mn, sizeof(mn), "%s{1", base);
	snprintf(sn, sizeof(sn), "%s}1", base);
	struct nmk_port *m = open_ok(mn), *s = open_ok(sn);

	snprintf(spec, sizeof(spec), "%s/r", sn);
	struct nmk_port *mr = open_ok(spec);
	snprintf(spec, sizeof(spec), "%s/t", mn);
	struct nmk_port *mt = open_ok(spec);
	snprintf(spec, sizeof(spec), "%s/rt", sn);
	struct nmk_port *mrt = open_ok(spec);

	send_frames(m, A_SEQ, 300, 0xa, NULL);
	/* The slave has not read anything yet. */
	assert_int_equal(drain(mr, recs, MAX_RECS), 300);
	expect_seqs("x}1/r", recs, 0, 300, A_SEQ, NS_TXMON, 0);
	assert_int_equal(drain(mt, recs, MAX_RECS), 300);
	expect_seqs("x{1/t", recs, 0, 300, A_SEQ, NS_TXMON, NS_TXMON);
	assert_int_equal(drain(s, recs, MAX_RECS), 300);
	expect_seqs("x}1", recs, 0, 300, A_SEQ, NS_TXMON, 0);

	/* The other way: the slave's TX is seen by /rt on it only. */
	send_frames(s, B_SEQ, 100, 0xb, NULL);
	assert_int_equal(drain(mr, recs, MAX_RECS), 0);
	assert_int_equal(drain(mt, recs, MAX_RECS), 0);
	assert_int_equal(drain(mrt, recs, MAX_RECS), 400);
	expect_seqs("x}1/rt rx", recs, 0, 300, A_SEQ, NS_TXMON, 0);
	expect_seqs("x}1/rt tx", recs, 300, 100, B_SEQ, NS_TXMON, NS_TXMON);
	assert_int_equal(drain(m, recs, MAX_RECS), 100);
	expect_seqs("x{1", recs, 0, 100, B_SEQ, NS_TXMON, 0);

	/* Rounds that wrap the rings; the receiver releases after its monitor. */
	for (uint64_t k = 0; k < 20; k++) {
		uint64_t q = A_SEQ + 1000 + k * 200;
		send_frames(m, q, 200, 0xa, NULL);
		assert_int_equal(drain(mr, recs, MAX_RECS), 200);
		expect_seqs("x}1/r", recs, 0, 200, q, NS_TXMON, 0);
		assert_int_equal(drain(mt, recs, MAX_RECS), 200);
		expect_seqs("x{1/t", recs, 0, 200, q, NS_TXMON, NS_TXMON);
		assert_int_equal(drain(mrt, recs, MAX_RECS), 200);
		expect_seqs("x}1/rt", recs, 0, 200, q, NS_TXMON, 0);
		assert_int_equal(drain(s, recs, MAX_RECS), 200);
		expect_seqs("x}1", recs, 0, 200, q, NS_TXMON, 0);
	}
	assert_int_equal(nmk_port_rx_dropped(mr), 0);
	assert_int_equal(nmk_port_rx_dropped(mt), 0);
	assert_int_equal(nmk_port_rx_dropped(mrt), 0);

	nmk_port_close(mrt);
	nmk_port_close(mt);
	nmk_port_close(mr);
	nmk_port_close(s);
	nmk_port_close(m);
	broker_ok();
}

/* ---- 3) zero-copy monitors ------------------------------------------------------ */

static void test_vale_zcopy_rx(void **state)
{
	char sw[16], an[64], bn[64], spec[80];
	uint32_t old[300];
	(void)state;

	switch_name(sw, sizeof(sw), 'z');
	port_name(an, sizeof(an), sw, "a", NULL);
	port_name(bn, sizeof(bn), sw, "b", NULL);
	struct nmk_port *a = open_ok(an), *b = open_ok(bn);
	snprintf(spec, sizeof(spec), "%s/z", bn);
	struct nmk_port *mz = open_ok(spec);
	assert_non_null(strstr(nmk_port_info(mz)->name, "/z"));
	struct netmap_ring *brx = nmk_port_rxring(b, 0);

	send_frames(a, A_SEQ, 300, 0xa, NULL);
	/* Delivered, not consumed: nothing yet. */
	assert_int_equal(drain(mz, recs, MAX_RECS), 0);
	/* b reads without releasing: still nothing. */
	uint32_t h0 = brx->head;
	assert_int_equal(peek(b, recs, MAX_RECS), 300);
	expect_seqs("b", recs, 0, 300, A_SEQ, NS_TXMON, 0);
	for (unsigned i = 0; i < 300; i++)
		old[i] = recs[i].buf_idx;
	assert_int_equal(drain(mz, recs2, MAX_RECS), 0);

	/* b releases: the monitor gets b's very buffers, intact. */
	release(b);
	assert_int_equal(peek(mz, recs, MAX_RECS), 300);
	expect_seqs("b/z", recs, 0, 300, A_SEQ, NS_TXMON | NS_BUF_CHANGED, NS_BUF_CHANGED);
	for (unsigned i = 0; i < 300; i++)
		if (recs[i].buf_idx != old[i])
			fail_msg("b/z slot %u has buffer %u, b's frame was in %u", i, recs[i].buf_idx,
				 old[i]);
	/* b's released slots got the monitor's buffers, flagged. */
	for (uint32_t i = h0, n = 0; n < 300; i = nm_ring_next(brx, i), n++) {
		const struct netmap_slot *s = &brx->slot[i];
		if (!(s->flags & NS_BUF_CHANGED))
			fail_msg("b slot %u: flags %#x, no NS_BUF_CHANGED", i, s->flags);
		if (s->buf_idx == old[n] || !buf_valid(b, brx, s->buf_idx))
			fail_msg("b slot %u: buffer %u after the swap (was %u)", i, s->buf_idx, old[n]);
	}
	buffers_unique(a, b, mz, NULL);
	release(mz);

	/* The port keeps working, and so does the monitor. */
	for (uint64_t k = 0; k < 20; k++) {
		uint64_t s = A_SEQ + 1000 + k * 100;
		send_frames(a, s, 100, 0xa, NULL);
		assert_int_equal(drain(b, recs, MAX_RECS), 100);
		expect_seqs("b", recs, 0, 100, s, NS_TXMON, 0);
		assert_int_equal(drain(mz, recs, MAX_RECS), 100);
		expect_seqs("b/z", recs, 0, 100, s, NS_TXMON, 0);
	}
	buffers_unique(a, b, mz, NULL);
	assert_int_equal(nmk_port_rx_dropped(mz), 0);

	/* With the monitor gone, the swapped buffers stay b's to use. */
	nmk_port_close(mz);
	for (uint64_t k = 0; k < 5; k++) {
		uint64_t s = A_SEQ + 5000 + k * 500;
		send_frames(a, s, 500, 0xa, NULL);
		assert_int_equal(drain(b, recs, MAX_RECS), 500);
		expect_seqs("b", recs, 0, 500, s, NS_TXMON, 0);
	}
	buffers_unique(a, b, NULL);
	nmk_port_close(b);
	nmk_port_close(a);
	broker_ok();
}

static void test_vale_zcopy_tx(void **state)
{
	char sw[16], an[64], bn[64], spec[80];
	uint32_t old[300];
	(void)state;

	switch_name(sw, sizeof(sw), 'y');
	port_name(an, sizeof(an), sw, "a", NULL);
	port_name(bn, sizeof(bn), sw, "b", NULL);
	struct nmk_port *a = open_ok(an), *b = open_ok(bn);
	snprintf(spec, sizeof(spec), "%s/z", an);
	struct nmk_port *mz = open_ok(spec);
	struct netmap_ring *atx = nmk_port_txring(a, 0);

	uint32_t h0 = atx->head;
	send_frames(a, A_SEQ, 300, 0xa, old);
	/* Consumed by the txsync: the monitor has a's buffers, NS_TXMON. */
	assert_int_equal(peek(mz, recs, MAX_RECS), 300);
	expect_seqs("a/z", recs, 0, 300, A_SEQ, NS_TXMON | NS_BUF_CHANGED,
		    NS_TXMON | NS_BUF_CHANGED);
	for (unsigned i = 0; i < 300; i++)
		if (recs[i].buf_idx != old[i])
			fail_msg("a/z slot %u has buffer %u, a sent from %u", i, recs[i].buf_idx,
				 old[i]);
	for (uint32_t i = h0, n = 0; n < 300; i = nm_ring_next(atx, i), n++) {
		const struct netmap_slot *s = &atx->slot[i];
		if (!(s->flags & NS_BUF_CHANGED))
			fail_msg("a tx slot %u: flags %#x, no NS_BUF_CHANGED", i, s->flags);
		if (s->buf_idx == old[n] || !buf_valid(a, atx, s->buf_idx))
			fail_msg("a tx slot %u: buffer %u after the swap (was %u)", i, s->buf_idx,
				 old[n]);
	}
	/* The swap came after the forwarding: b got the frames intact. */
	assert_int_equal(drain(b, recs2, MAX_RECS), 300);
	expect_seqs("b", recs2, 0, 300, A_SEQ, NS_TXMON, 0);
	buffers_unique(a, b, mz, NULL);
	release(mz);

	/* The traffic keeps flowing, through swapped buffers. */
	for (uint64_t k = 0; k < 20; k++) {
		uint64_t s = A_SEQ + 1000 + k * 100;
		send_frames(a, s, 100, 0xa, NULL);
		assert_int_equal(drain(b, recs, MAX_RECS), 100);
		expect_seqs("b", recs, 0, 100, s, NS_TXMON, 0);
		assert_int_equal(drain(mz, recs, MAX_RECS), 100);
		expect_seqs("a/z", recs, 0, 100, s, NS_TXMON, NS_TXMON);
	}
	buffers_unique(a, b, mz, NULL);
	nmk_port_close(mz);
	nmk_port_close(b);
	nmk_port_close(a);
	broker_ok();
}

/* A /z monitor of a pipe end: the frames once that end releases them. */
static void test_pipe_zcopy(void **state)
{
	char base[32], mn[64], sn[64], spec[80];
	(void)state;

	tu_unique(base, sizeof(base), "mz");
	snprintf(mn, sizeof(mn), "%s{2", base);
	snprintf(sn, sizeof(sn), "%s}2", base);
	struct nmk_port *m = open_ok(mn), *s = open_ok(sn);
	snprintf(spec, sizeof(spec), "%s/z", sn);
	struct nmk_port *mz = open_ok(spec);

	send_frames(m, A_SEQ, 300, 0xa, NULL);
	assert_int_equal(drain(mz, recs, MAX_RECS), 0);
	assert_int_equal(peek(s, recs, MAX_RECS), 300);
	expect_seqs("x}2", recs, 0, 300, A_SEQ, NS_TXMON, 0);
	assert_int_equal(drain(mz, recs, MAX_RECS), 0);
	release(s);
	assert_int_equal(drain(mz, recs, MAX_RECS), 300);
	expect_seqs("x}2/z", recs, 0, 300, A_SEQ, NS_TXMON | NS_BUF_CHANGED, NS_BUF_CHANGED);
	/* A pipe's two ends share their buffers (each RX slot holds what the
	 * peer's TX slot holds), so one end and the monitor own them all. */
	buffers_unique(m, mz, NULL);

	/* The sender's slots come back with the monitor's buffers, and
	 * the pipe keeps moving frames intact. */
	for (uint64_t k = 0; k < 20; k++) {
		uint64_t q = A_SEQ + 1000 + k * 100;
		send_frames(m, q, 100, 0xa, NULL);
		assert_int_equal(drain(s, recs, MAX_RECS), 100);
		expect_seqs("x}2", recs, 0, 100, q, NS_TXMON, 0);
		assert_int_equal(drain(mz, recs, MAX_RECS), 100);
		expect_seqs("x}2/z", recs, 0, 100, q, NS_TXMON, 0);
	}
	buffers_unique(m, mz, NULL);
	nmk_port_close(mz);
	nmk_port_close(s);
	nmk_port_close(m);
	broker_ok();
}

/* ---- 4) a monitor short of room --------------------------------------------------- */

static void test_monitor_full(void **state)
{
	char sw[16], an[64], bn[80], spec[80];
	(void)state;

	switch_name(sw, sizeof(sw), 'f');
	port_name(an, sizeof(an), sw, "a", NULL);
	port_name(bn, sizeof(bn), sw, "b", NULL);
	struct nmk_port *a = open_ok(an);
	snprintf(spec, sizeof(spec), "%s@conf:slots=64", bn);
	struct nmk_port *b = open_ok(spec);
	assert_int_equal(nmk_port_info(b)->rx_slots, 64);
	snprintf(spec, sizeof(spec), "%s/r", bn);
	struct nmk_port *mr = open_ok(spec);
	/* max(tx slots, rx slots) of the port: room for 63 frames. */
	assert_int_equal(nmk_port_info(mr)->rx_slots, 64);

	/* 50 frames fit; of the next 50 only the newest 13 do, 37 are
	 * skipped; then 100 more find the monitor full.  b reads every
	 * batch, the monitor nothing. */
	send_frames(a, A_SEQ, 50, 0xa, NULL);
	assert_int_equal(drain(b, recs, MAX_RECS), 50);
	assert_int_equal(nmk_port_rx_dropped(mr), 0);
	send_frames(a, A_SEQ + 50, 50, 0xa, NULL);
	assert_int_equal(drain(b, recs, MAX_RECS), 50);
	expect_seqs("b", recs, 0, 50, A_SEQ + 50, 0, 0);
	assert_int_equal(nmk_port_rx_dropped(mr), 37);
	send_frames(a, A_SEQ + 100, 50, 0xa, NULL);
	assert_int_equal(drain(b, recs, MAX_RECS), 50);
	send_frames(a, A_SEQ + 150, 50, 0xa, NULL);
	assert_int_equal(drain(b, recs, MAX_RECS), 50);
	expect_seqs("b", recs, 0, 50, A_SEQ + 150, 0, 0);
	assert_int_equal(nmk_port_rx_dropped(mr), 137);
	/* The monitor's drops are its own: b lost nothing. */
	assert_int_equal(nmk_port_rx_dropped(b), 0);

	assert_int_equal(drain(mr, recs, MAX_RECS), 63);
	expect_seqs("b/r", recs, 0, 50, A_SEQ, NS_TXMON, 0);
	expect_seqs("b/r", recs, 50, 13, A_SEQ + 87, NS_TXMON, 0);

	/* A single batch bigger than the room: the newest frames. */
	send_frames(a, A_SEQ + 200, 60, 0xa, NULL);
	assert_int_equal(drain(b, recs, MAX_RECS), 60);
	send_frames(a, A_SEQ + 260, 20, 0xa, NULL);
	assert_int_equal(drain(b, recs, MAX_RECS), 20);
	assert_int_equal(nmk_port_rx_dropped(mr), 137 + 17);
	assert_int_equal(drain(mr, recs, MAX_RECS), 63);
	expect_seqs("b/r", recs, 0, 60, A_SEQ + 200, NS_TXMON, 0);
	expect_seqs("b/r", recs, 60, 3, A_SEQ + 277, NS_TXMON, 0);

	/* With room again, nothing more is lost. */
	send_frames(a, A_SEQ + 300, 40, 0xa, NULL);
	assert_int_equal(drain(mr, recs, MAX_RECS), 40);
	expect_seqs("b/r", recs, 0, 40, A_SEQ + 300, NS_TXMON, 0);
	assert_int_equal(drain(b, recs, MAX_RECS), 40);
	assert_int_equal(nmk_port_rx_dropped(mr), 137 + 17);

	nmk_port_close(mr);
	nmk_port_close(b);
	nmk_port_close(a);
	broker_ok();
}

/* ---- 5) errors -------------------------------------------------------------------- */

static void test_errors(void **state)
{
	char sw[16], an[64], bn[64], cn[64], spec[80], base[32], pn[64];
	struct nmk_port *mons[4];
	(void)state;

	switch_name(sw, sizeof(sw), 'e');
	port_name(an, sizeof(an), sw, "a", NULL);
	port_name(bn, sizeof(bn), sw, "b", NULL);
	port_name(cn, sizeof(cn), sw, "c", NULL);

	/* A port that was never opened, and one that was opened and closed. */
	snprintf(spec, sizeof(spec), "%s/r", cn);
	open_fails(spec, ENXIO, "no such open port to monitor");
	struct nmk_port *c = open_ok(cn);
	nmk_port_close(c);
	gone(cn);
	snprintf(spec, sizeof(spec), "%s/t", cn);
	open_fails(spec, ENXIO, NULL);
	snprintf(spec, sizeof(spec), "%s/z", cn);
	open_fails(spec, ENXIO, NULL);
	tu_unique(base, sizeof(base), "me");
	snprintf(pn, sizeof(pn), "%s{3", base);
	snprintf(spec, sizeof(spec), "%s/r", pn);
	open_fails(spec, ENXIO, NULL);
	struct nmk_port *pm = open_ok(pn);
	nmk_port_close(pm);
	gone(pn);
	open_fails(spec, ENXIO, NULL);
	/* A port that exists but is not open (a persistent VALE port): as
	 * in netmap, whose parent must be in netmap mode, EINVAL. */
	char per[16];
	snprintf(per, sizeof(per), "mp%d", (int)getpid() % 10000000);
	assert_int_equal(nmk_vale_newif(per, NULL, NULL), 0);
	snprintf(spec, sizeof(spec), "%s/r", per);
	open_fails(spec, EINVAL, "not open");
	/* Open, it can be monitored, alone and attached to a switch. */
	struct nmk_port *pp = open_ok(per);
	struct nmk_port *pmon = open_ok(spec);
	nmk_port_close(pmon);
	nmk_port_close(pp);
	gone(per);
	char att[64];
	snprintf(att, sizeof(att), "%s:%s", sw, per);
	assert_int_equal(nmk_vale_attach(att, NULL), 0);
	pp = open_ok(per);
	pmon = open_ok(spec);
	struct nmk_port *pa = open_ok(an);
	send_frames(pa, A_SEQ, 20, 0xa, NULL);
	assert_int_equal(drain(pmon, recs, MAX_RECS), 20);
	expect_seqs("persistent/r", recs, 0, 20, A_SEQ, NS_TXMON, 0);
	assert_int_equal(drain(pp, recs, MAX_RECS), 20);
	expect_seqs("persistent", recs, 0, 20, A_SEQ, NS_TXMON, 0);
	nmk_port_close(pa);
	nmk_port_close(pmon);
	nmk_port_close(pp);
	gone(per);
	gone(an);
	assert_int_equal(nmk_vale_detach(att, NULL), 0);
	assert_int_equal(nmk_vale_delif(per, NULL), 0);

	/* Four monitors on b's RX ring, then a fifth. */
	struct nmk_port *a = open_ok(an), *b = open_ok(bn);
	snprintf(spec, sizeof(spec), "%s/r", bn);
	for (int i = 0; i < 4; i++)
		mons[i] = open_ok(spec);
	open_fails(spec, EBUSY, "4 monitors");
	snprintf(spec, sizeof(spec), "%s/rt", bn);
	open_fails(spec, EBUSY, "4 monitors");
	snprintf(spec, sizeof(spec), "%s/z", bn);
	open_fails(spec, EBUSY, "4 monitors");
	/* The failed attempts took no place: b's TX ring still has room for
	 * four, and closing one RX monitor makes room for one more. */
	snprintf(spec, sizeof(spec), "%s/t", bn);
	struct nmk_port *t[4];
	for (int i = 0; i < 4; i++)
		t[i] = open_ok(spec);
	open_fails(spec, EBUSY, "4 monitors");
	for (int i = 0; i < 4; i++)
		nmk_port_close(t[i]);
	nmk_port_close(mons[2]);
	snprintf(spec, sizeof(spec), "%s/r", bn);
	mons[2] = open_ok(spec);
	open_fails(spec, EBUSY, "4 monitors");

	/* All four see the traffic; poll says so, and times out once they
	 * are drained (a monitor's TX ring, whose sync fails, is not synced
	 * by a POLLIN poll, as in netmap). */
	send_frames(a, A_SEQ, 100, 0xa, NULL);
	for (int i = 0; i < 4; i++) {
		assert_int_equal(nmk_port_poll(mons[i], POLLIN, 0), POLLIN);
		assert_int_equal(drain(mons[i], recs, MAX_RECS), 100);
		expect_seqs("b/r", recs, 0, 100, A_SEQ, NS_TXMON, 0);
		assert_int_equal(nmk_port_poll(mons[i], POLLIN, 10), 0);
	}

	/* A monitor cannot transmit. */
	struct netmap_ring *mtx = nmk_port_txring(mons[0], 0);
	assert_non_null(mtx);
	assert_int_equal(nmk_txsync(mons[0]), -EIO);
	assert_true(nmk_port_error(mons[0])[0] != '\0');
	mtx->slot[mtx->head].len = 60;
	mtx->head = mtx->cur = nm_ring_next(mtx, mtx->head);
	assert_int_equal(nmk_txsync(mons[0]), -EIO);
	/* ... and that changed nothing for anyone. */
	assert_int_equal(drain(b, recs, MAX_RECS), 100);
	assert_int_equal(drain(a, recs, MAX_RECS), 0);
	assert_int_equal(drain(mons[0], recs, MAX_RECS), 0);

	/* A monitor of a monitor is refused. */
	snprintf(spec, sizeof(spec), "%s/r", nmk_port_info(mons[1])->name);
	struct nmk_port *mm = nmk_port_open(spec, NULL);
	assert_null(mm);

	for (int i = 0; i < 4; i++)
		nmk_port_close(mons[i]);
	nmk_port_close(b);
	nmk_port_close(a);
	broker_ok();
}

/* ---- 6) lifetime ------------------------------------------------------------------- */

static void test_close_monitor(void **state)
{
	char sw[16], an[64], bn[64], spec[80], mname[64];
	(void)state;

	switch_name(sw, sizeof(sw), 'l');
	port_name(an, sizeof(an), sw, "a", NULL);
	port_name(bn, sizeof(bn), sw, "b", NULL);
	struct nmk_port *a = open_ok(an), *b = open_ok(bn);

	/* A monitor closed with frames still in it: b goes on unharmed. */
	for (int round = 0; round < 3; round++) {
		snprintf(spec, sizeof(spec), "%s/%s", bn, round == 0 ? "r" : round == 1 ? "rt" : "z");
		struct nmk_port *m = open_ok(spec);
		snprintf(mname, sizeof(mname), "%s", nmk_port_info(m)->name);
		assert_int_equal(tu_port_registrations(mname), 1);
		send_frames(a, A_SEQ + (uint64_t)round * 1000, 100, 0xa, NULL);
		assert_int_equal(drain(b, recs, MAX_RECS), 100);
		nmk_port_close(m);
		gone(mname);
		for (uint64_t k = 0; k < 10; k++) {
			uint64_t s = A_SEQ + 10000 + (uint64_t)round * 1000 + k * 100;
			send_frames(a, s, 100, 0xa, NULL);
			assert_int_equal(drain(b, recs, MAX_RECS), 100);
			expect_seqs("b", recs, 0, 100, s, NS_TXMON, 0);
		}
		/* The closed monitor freed the buffers its slots held (after
		 * /z, b's old ones), not those b holds now: a new monitor's
		 * buffers come from the free pool and must not be b's. */
		snprintf(spec, sizeof(spec), "%s/r", bn);
		struct nmk_port *fresh = open_ok(spec);
		buffers_unique(a, b, fresh, NULL);
		nmk_port_close(fresh);
	}

	/* The monitored port closes first. */
	snprintf(spec, sizeof(spec), "%s/rt", bn);
	struct nmk_port *m1 = open_ok(spec);
	snprintf(spec, sizeof(spec), "%s/z", bn);
	struct nmk_port *m2 = open_ok(spec);
	send_frames(a, A_SEQ + 50000, 10, 0xa, NULL);
	nmk_port_close(b);
	gone(bn);
	/* Nothing more arrives; the monitors still sync and poll. */
	send_frames(a, A_SEQ + 50010, 10, 0xa, NULL);
	assert_int_equal(drain(m1, recs, MAX_RECS), 10);
	expect_seqs("b/rt", recs, 0, 10, A_SEQ + 50000, NS_TXMON, 0);
	assert_int_equal(drain(m2, recs, MAX_RECS), 0);
	assert_int_equal(nmk_port_poll(m1, POLLIN, 20), 0);
	assert_int_equal(nmk_port_poll(m2, POLLIN, 20), 0);
	assert_int_equal(drain(m1, recs, MAX_RECS), 0);

	/* A new b, with the same name: the old monitors are not its monitors. */
	b = open_ok(bn);
	send_frames(a, A_SEQ + 60000, 10, 0xa, NULL);
	assert_int_equal(drain(b, recs, MAX_RECS), 10);
	expect_seqs("b", recs, 0, 10, A_SEQ + 60000, NS_TXMON, 0);
	assert_int_equal(drain(m1, recs, MAX_RECS), 0);
	assert_int_equal(drain(m2, recs, MAX_RECS), 0);
	nmk_port_close(m1);
	nmk_port_close(m2);

	/* ... and new monitors of the new b work. */
	snprintf(spec, sizeof(spec), "%s/r", bn);
	m1 = open_ok(spec);
	send_frames(a, A_SEQ + 70000, 10, 0xa, NULL);
	assert_int_equal(drain(m1, recs, MAX_RECS), 10);
	expect_seqs("b/r", recs, 0, 10, A_SEQ + 70000, NS_TXMON, 0);
	assert_int_equal(drain(b, recs, MAX_RECS), 10);
	nmk_port_close(m1);

	/* The same with a pipe end. */
	char base[32], pm[64], ps[64];
	tu_unique(base, sizeof(base), "ml");
	snprintf(pm, sizeof(pm), "%s{4", base);
	snprintf(ps, sizeof(ps), "%s}4", base);
	struct nmk_port *xm = open_ok(pm), *xs = open_ok(ps);
	snprintf(spec, sizeof(spec), "%s/rt", ps);
	m1 = open_ok(spec);
	snprintf(spec, sizeof(spec), "%s/z", ps);
	m2 = open_ok(spec);
	send_frames(xm, A_SEQ, 10, 0xa, NULL);
	nmk_port_close(xs);
	assert_int_equal(drain(m1, recs, MAX_RECS), 10);
	assert_int_equal(drain(m2, recs, MAX_RECS), 0);
	nmk_port_close(m1);
	nmk_port_close(m2);
	nmk_port_close(xm);

	nmk_port_close(b);
	nmk_port_close(a);
	broker_ok();
}

#define FORK_BATCHES 6
#define FORK_BATCH   50

/* The child: open a monitor of `spec`, say its name, and poll for every
 * frame of the parent's batches. */
static void monitor_child(const char *spec, int wfd)
{
	char err[NMK_ERRBUF_SIZE] = "", name[64] = "";
	struct nmk_port *m = nmk_port_open(spec, err);

	if (m == NULL)
		CHILD_FAIL("open %s: %s", spec, err);
	snprintf(name, sizeof(name), "%s", nmk_port_info(m)->name);
	if (write(wfd, name, sizeof(name)) != (ssize_t)sizeof(name))
		CHILD_FAIL("write: %s", strerror(errno));
	unsigned got = 0, wakes = 0;
	while (got < FORK_BATCHES * FORK_BATCH) {
		int r = nmk_port_poll(m, POLLIN, 10000);
		if (r < 0)
			CHILD_FAIL("poll: %s", nmk_strerror(r));
		if (r == 0)
			CHILD_FAIL("no frames within 10 s (%u of %u)", got,
				   FORK_BATCHES * FORK_BATCH);
		if (!(r & POLLIN))
			CHILD_FAIL("poll: revents %#x", r);
		wakes++;
		struct netmap_ring *rx = nmk_port_rxring(m, 0);
		for (uint32_t i = rx->head; i != rx->tail; i = nm_ring_next(rx, i)) {
			const struct netmap_slot *s = &rx->slot[i];
			const uint8_t *buf = (const uint8_t *)NETMAP_BUF(rx, s->buf_idx);
			uint64_t seq;
			if (s->len < MIN_FRAME)
				CHILD_FAIL("frame %u: %u bytes", got, s->len);
			memcpy(&seq, buf + ETH_HLEN, 8);
			if (seq != A_SEQ + got)
				CHILD_FAIL("frame %u is %#llx", got, (unsigned long long)seq);
			if (s->len != len_of(seq) ||
			    tu_check(buf + ETH_HLEN, s->len - ETH_HLEN, seq) != 0)
				CHILD_FAIL("frame %#llx corrupted", (unsigned long long)seq);
			if (s->flags & NS_TXMON)
				CHILD_FAIL("frame %#llx: NS_TXMON on RX traffic", (unsigned long long)seq);
			got++;
		}
		rx->head = rx->cur = rx->tail;
	}
	if (nmk_port_rx_dropped(m) != 0)
		CHILD_FAIL("%llu frames dropped", (unsigned long long)nmk_port_rx_dropped(m));
	/* Leave without closing: the monitor must go with the process. */
	_exit(0);
}

static void test_fork_monitor(void **state)
{
	char sw[16], an[64], bn[64], spec[80], name[64];
	int fds[2];
	(void)state;

	switch_name(sw, sizeof(sw), 'p');
	port_name(an, sizeof(an), sw, "a", NULL);
	port_name(bn, sizeof(bn), sw, "b", NULL);
	struct nmk_port *a = open_ok(an), *b = open_ok(bn);
	snprintf(spec, sizeof(spec), "%s/r", bn);
	assert_int_equal(pipe(fds), 0);
	fflush(NULL);
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		alarm(CHILD_ALARM);
		close(fds[0]);
		monitor_child(spec, fds[1]);
		_exit(0);
	}
	children[0] = pid;
	close(fds[1]);
	ssize_t n = read(fds[0], name, sizeof(name));
	close(fds[0]);
	if (n != (ssize_t)sizeof(name))
		fail_msg("the child did not open its monitor (status %d)", wait_child(pid, 5));
	name[sizeof(name) - 1] = '\0';

	/* Batches with pauses, so the child sleeps in poll before each. */
	for (unsigned k = 0; k < FORK_BATCHES; k++) {
		sleep_ms(30);
		send_frames(a, A_SEQ + k * FORK_BATCH, FORK_BATCH, 0xa, NULL);
		assert_int_equal(drain(b, recs, MAX_RECS), FORK_BATCH);
		expect_seqs("b", recs, 0, FORK_BATCH, A_SEQ + k * FORK_BATCH, NS_TXMON, 0);
	}
	assert_int_equal(wait_child(pid, 20), 0);

	/* The child's monitor went away with it: four new ones fit. */
	gone(name);
	struct nmk_port *mons[4];
	for (int i = 0; i < 4; i++)
		mons[i] = open_ok(spec);
	send_frames(a, A_SEQ + 1000, 10, 0xa, NULL);
	for (int i = 0; i < 4; i++) {
		assert_int_equal(drain(mons[i], recs, MAX_RECS), 10);
		nmk_port_close(mons[i]);
	}
	assert_int_equal(drain(b, recs, MAX_RECS), 10);
	nmk_port_close(b);
	nmk_port_close(a);
	broker_ok();
}

/* ---- main ----------------------------------------------------------------------- */

static int setup_case(void **state)
{
	(void)state;
	if (tu_setup("monitor") < 0)
		return -1;
	alarm(CASE_ALARM);
	return 0;
}

/* Whatever happened, leave no child and no broker behind. */
static int teardown_case(void **state)
{
	(void)state;
	for (unsigned i = 0; i < MAX_CHILDREN; i++) {
		if (children[i] > 0) {
			kill(children[i], SIGKILL);
			waitpid(children[i], NULL, 0);
			children[i] = 0;
		}
	}
	tu_teardown();
	alarm(0);
	return 0;
}

#define CASE(f) cmocka_unit_test_setup_teardown(f, setup_case, teardown_case)

int main(void)
{
	const struct CMUnitTest tests[] = {
		CASE(test_vale_copy),
		CASE(test_pipe_copy),
		CASE(test_vale_zcopy_rx),
		CASE(test_vale_zcopy_tx),
		CASE(test_pipe_zcopy),
		CASE(test_monitor_full),
		CASE(test_errors),
		CASE(test_close_monitor),
		CASE(test_fork_monitor),
	};

	if (getenv("NMKIT_BROKER") == NULL || access(getenv("NMKIT_BROKER"), X_OK) != 0) {
		fprintf(stderr, "test_monitor: skipped, NMKIT_BROKER names no broker\n");
		return 77;
	}
	signal(SIGPIPE, SIG_IGN);
	if (getenv("NMKIT_TEST_FILTER"))
		cmocka_set_test_filter(getenv("NMKIT_TEST_FILTER"));
	return cmocka_run_group_tests_name("monitor", tests, NULL, NULL);
}
