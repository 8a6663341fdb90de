/*
 * test_pipe.c - netmap pipes end to end (reference §2.1-2.4, §2.8).
 *
 * Two processes move frames over "x{N" / "x}N" and every frame is checked
 * on arrival: present, in order, with its length and its contents.  Around
 * that, the ring protocol as netmap's own tests see it: TX space returns
 * only when the receiver releases slots (test 008), frames wait for an end
 * that is not open yet, poll sleeps and wakes in both directions, and @conf
 * shapes the rings of both ends.
 *
 * Every test runs against this program's own broker (tu_setup).  Children
 * never return into cmocka: they report through their exit status, and an
 * alarm kills any that hangs.  The parent kills and reaps them whatever
 * happens (teardown), and its own alarm turns a hang into a failure.
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
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <net/netmap.h>
#include <net/netmap_user.h>
#include <nmkit/nmkit.h>

#include "testutil.h"

#define MAX_FRAME	9000u
#define CHILD_ALARM	40u	/* s: a child that hangs dies */
#define TEST_ALARM	50u	/* s: so does a parent that hangs */
#define WAIT_MS		10000	/* liveness bound of one poll in a transfer */

/* ---- processes ---------------------------------------------------------- */

#define MAX_CHILDREN 4
static pid_t children[MAX_CHILDREN];

/* Fail in a child: say why on stderr and leave with status 1.  cmocka's
 * assertions must not run there, they would longjmp into the parent's
 * test runner inside the child. */
#define CHILD_FAIL(...) \
	do { \
		fprintf(stderr, "child %d, line %d: ", (int)getpid(), __LINE__); \
		fprintf(stderr, __VA_ARGS__); \
		fputc('\n', stderr); \
		_exit(1); \
	} while (0)

static pid_t spawn(void (*fn)(void *), void *arg)
{
	unsigned i;

	for (i = 0; i < MAX_CHILDREN && children[i] > 0; i++)
		;
	assert_true(i < MAX_CHILDREN);
	fflush(NULL);   /* the child must not repeat buffered output */
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		alarm(CHILD_ALARM);
		fn(arg);
		_exit(0);
	}
	children[i] = pid;
	return pid;
}

static void forget_child(pid_t pid)
{
	for (unsigned i = 0; i < MAX_CHILDREN; i++)
		if (children[i] == pid)
			children[i] = 0;
}

/* Wait up to timeout_s for a child: its exit status, 128 + signal, or -1
 * after killing it on timeout. */
static int wait_child(pid_t pid, double timeout_s)
{
	double end = tu_now() + timeout_s;
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
			fprintf(stderr, "child %d did not finish within %.0f s\n", (int)pid, timeout_s);
			return -1;
		}
		struct timespec ts = { 0, 2 * 1000 * 1000 };
		nanosleep(&ts, NULL);
	}
	forget_child(pid);
	if (WIFEXITED(status))
		return WEXITSTATUS(status);
	return 128 + (WIFSIGNALED(status) ? WTERMSIG(status) : 0);
}

static int test_setup(void **state)
{
	(void)state;
	alarm(TEST_ALARM);
	return 0;
}

/* Whatever happened in the test, leave no child behind. */
static int test_teardown(void **state)
{
	(void)state;
	for (unsigned i = 0; i < MAX_CHILDREN; i++) {
		if (children[i] > 0) {
			kill(children[i], SIGKILL);
			waitpid(children[i], NULL, 0);
			children[i] = 0;
		}
	}
	alarm(0);
	return 0;
}

static int group_setup(void **state)
{
	(void)state;
	if (tu_setup("pipe") < 0) {
		/* Without a broker binary nothing here can run. */
		fprintf(stderr, "test_pipe: skipped, no broker\n");
		exit(77);
	}
	return 0;
}

static int group_teardown(void **state)
{
	(void)state;
	tu_teardown();
	return 0;
}

/* ---- helpers ------------------------------------------------------------ */

/* "<tag><pid><sep><id>": a pipe end no other test of this run uses. */
static void pipe_name(char *buf, size_t len, const char *tag, char sep, unsigned id)
{
	char base[32];

	tu_unique(base, sizeof(base), tag);
	snprintf(buf, len, "%s%c%u", base, sep, id);
}

static struct nmk_port *open_ok(const char *spec)
{
	char err[NMK_ERRBUF_SIZE] = "";
	struct nmk_port *p = nmk_port_open(spec, err);

	if (p == NULL)
		fail_msg("nmk_port_open(%s): %s (%s)", spec, err, strerror(errno));
	return p;
}

static char *buf_of(struct netmap_ring *r, uint32_t i)
{
	return NETMAP_BUF(r, r->slot[i].buf_idx);
}

/* Put one single-slot frame (contents from seq) at head and advance. */
static void put_frame(struct netmap_ring *tx, uint32_t len, uint64_t seq)
{
	struct netmap_slot *s = &tx->slot[tx->head];

	tu_fill(NETMAP_BUF(tx, s->buf_idx), len, seq);
	s->len = len;
	s->flags = 0;
	tx->head = tx->cur = nm_ring_next(tx, tx->head);
}

/* Check and release the frame at head of rx. */
static void take_frame(struct netmap_ring *rx, uint32_t len, uint64_t seq)
{
	struct netmap_slot *s = &rx->slot[rx->head];

	assert_int_equal(s->len, len);
	assert_int_equal(s->flags & NS_MOREFRAG, 0);
	if (tu_check(NETMAP_BUF(rx, s->buf_idx), len, seq) != 0)
		fail_msg("frame %llu: wrong contents", (unsigned long long)seq);
	rx->head = rx->cur = nm_ring_next(rx, rx->head);
}

/* 'S' (sleeping) or another state letter of a process, or 0. */
static char proc_state(pid_t pid)
{
	char path[64], line[512];
	FILE *f;
	char st = 0;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	f = fopen(path, "r");
	if (f == NULL)
		return 0;
	if (fgets(line, sizeof(line), f)) {
		char *p = strrchr(line, ')');
		if (p && p[1] == ' ')
			st = p[2];
	}
	fclose(f);
	return st;
}

/* Give a child that announced it is about to block up to 2 s to fall
 * asleep, so that the wake-up it gets is a real one.  If it never does the
 * test is merely weaker, never wrong. */
static void let_child_sleep(pid_t pid)
{
	double end = tu_now() + 2.0;

	while (tu_now() < end && proc_state(pid) != 'S') {
		struct timespec ts = { 0, 1000 * 1000 };
		nanosleep(&ts, NULL);
	}
	struct timespec ts = { 0, 20 * 1000 * 1000 };
	nanosleep(&ts, NULL);
}

/* ---- bulk transfer between two processes -------------------------------- */

struct xfer {
	char master[64], slave[64];
	uint64_t frames;
	uint32_t len;           /* fixed frame length, or 0 for random ones */
	int split_every;        /* if > 0: txsync in the middle of some frames */
};

/* The length of frame seq, the same in sender and receiver. */
static uint32_t frame_len(const struct xfer *x, uint64_t seq)
{
	if (x->len)
		return x->len;
	uint64_t h = (seq + 1) * UINT64_C(0x9E3779B97F4A7C15);
	h ^= h >> 31;
	h *= UINT64_C(0xBF58476D1CE4E5B9);
	h ^= h >> 29;
	return 60 + (uint32_t)(h % (MAX_FRAME - 60 + 1));
}

/*
 * The receiver (a child).  Fragments are gathered until a slot without
 * NS_MOREFRAG; the whole frame is then checked.  A pipe publishes only
 * complete packets, so every batch [head, tail) must end on a frame
 * boundary.
 */
static void receiver(void *arg)
{
	const struct xfer *x = arg;
	static uint8_t frame[MAX_FRAME];
	char err[NMK_ERRBUF_SIZE] = "";
	struct nmk_port *p = nmk_port_open(x->slave, err);
	uint64_t seq = 0;
	uint32_t pos = 0, frags = 0;

	if (p == NULL)
		CHILD_FAIL("open %s: %s", x->slave, err);
	struct netmap_ring *rx = nmk_port_rxring(p, 0);
	uint32_t bufsz = nmk_port_info(p)->buf_size;
	if (rx == NULL || bufsz == 0)
		CHILD_FAIL("%s: no rx ring 0 or buf_size 0", x->slave);

	while (seq < x->frames) {
		if (nm_ring_empty(rx)) {
			int r = nmk_port_poll(p, POLLIN, WAIT_MS);
			if (r <= 0 || (r & POLLERR))
				CHILD_FAIL("poll(POLLIN) returned %d after frame %llu: %s", r,
					   (unsigned long long)seq, nmk_port_error(p));
			continue;
		}
		uint32_t tail = rx->tail;
		for (uint32_t i = rx->head; i != tail; i = nm_ring_next(rx, i)) {
			struct netmap_slot *s = &rx->slot[i];
			if (seq >= x->frames)
				CHILD_FAIL("more frames than the %llu sent",
					   (unsigned long long)x->frames);
			if (s->len > bufsz || pos + s->len > MAX_FRAME)
				CHILD_FAIL("frame %llu: fragment of %u bytes at offset %u",
					   (unsigned long long)seq, s->len, pos);
			memcpy(frame + pos, NETMAP_BUF(rx, s->buf_idx), s->len);
			pos += s->len;
			frags++;
			if (s->flags & NS_MOREFRAG) {
				/* Every fragment but the last is a full buffer,
				 * as the sender writes them. */
				if (s->len != bufsz)
					CHILD_FAIL("frame %llu: inner fragment of %u bytes",
						   (unsigned long long)seq, s->len);
				continue;
			}
			uint32_t want = frame_len(x, seq);
			if (pos != want)
				CHILD_FAIL("frame %llu: %u bytes, expected %u",
					   (unsigned long long)seq, pos, want);
			if (frags != (want + bufsz - 1) / bufsz)
				CHILD_FAIL("frame %llu: %u fragments, expected %u",
					   (unsigned long long)seq, frags, (want + bufsz - 1) / bufsz);
			if (tu_check(frame, pos, seq) != 0)
				CHILD_FAIL("frame %llu (%u bytes): wrong contents or out of order",
					   (unsigned long long)seq, pos);
			seq++;
			pos = frags = 0;
		}
		if (pos != 0)
			CHILD_FAIL("a batch ended inside frame %llu: an incomplete packet was published",
				   (unsigned long long)seq);
		rx->head = rx->cur = tail;
	}
	/* Give the last slots back, so the sender sees everything reclaimed. */
	if (nmk_rxsync(p) < 0)
		CHILD_FAIL("rxsync: %s", nmk_port_error(p));
	nmk_port_close(p);
	_exit(0);
}

/* Wait for TX room for `need` slots.  Sleep in short slices so that a
 * receiver that died is noticed at once, not after the whole timeout. */
static void wait_room(struct nmk_port *p, struct netmap_ring *tx, uint32_t need, pid_t peer)
{
	double end = tu_now() + WAIT_MS / 1000.0;

	while (nm_ring_space(tx) < need) {
		/* cur at tail: wake me when tail moves, not merely because
		 * some (too little) room is free (netmap's idiom). */
		tx->cur = tx->tail;
		int r = nmk_port_poll(p, POLLOUT, 100);
		if (r < 0 || (r & POLLERR))
			fail_msg("poll(POLLOUT) returned %d: %s", r, nmk_port_error(p));
		int st;
		if (peer > 0 && waitpid(peer, &st, WNOHANG) == peer) {
			forget_child(peer);
			fail_msg("the receiver left (status 0x%x) with %u slots free", st,
				 nm_ring_space(tx));
		}
		if (tu_now() > end)
			fail_msg("no room in the tx ring for %d ms (%u slots free)", WAIT_MS,
				 nm_ring_space(tx));
	}
}

/* The sender (the parent): frames of any length, split over as many slots
 * as needed, batched up to the room in the ring. */
static void sender(struct nmk_port *p, const struct xfer *x, pid_t peer)
{
	static uint8_t frame[MAX_FRAME];
	struct netmap_ring *tx = nmk_port_txring(p, 0);
	uint32_t bufsz = nmk_port_info(p)->buf_size;

	assert_non_null(tx);
	assert_true(bufsz > 0);
	for (uint64_t seq = 0; seq < x->frames;) {
		uint32_t len = frame_len(x, seq);
		uint32_t nslots = (len + bufsz - 1) / bufsz;
		wait_room(p, tx, nslots, peer);
		/* Fill every whole frame that fits, then sync once. */
		do {
			uint32_t h = tx->head;
			if (nslots == 1) {
				tu_fill(buf_of(tx, h), len, seq);
				tx->slot[h].len = len;
				tx->slot[h].flags = 0;
				h = nm_ring_next(tx, h);
			} else {
				tu_fill(frame, len, seq);
				for (uint32_t k = 0, off = 0; k < nslots; k++, off += bufsz) {
					uint32_t fl = len - off < bufsz ? len - off : bufsz;
					memcpy(buf_of(tx, h), frame + off, fl);
					tx->slot[h].len = fl;
					tx->slot[h].flags = k + 1 < nslots ? NS_MOREFRAG : 0;
					h = nm_ring_next(tx, h);
					if (x->split_every && seq % (uint64_t)x->split_every == 3 &&
					    k == 1) {
						/* Publish half a frame: the receiver
						 * must not see it before the rest. */
						tx->head = tx->cur = h;
						if (nmk_txsync(p) < 0)
							fail_msg("txsync: %s", nmk_port_error(p));
					}
				}
			}
			tx->head = tx->cur = h;
			seq++;
			if (seq == x->frames)
				break;
			len = frame_len(x, seq);
			nslots = (len + bufsz - 1) / bufsz;
		} while (nm_ring_space(tx) >= nslots);
		if (nmk_txsync(p) < 0)
			fail_msg("txsync: %s", nmk_port_error(p));
	}
}

static void run_transfer(const char *tag, uint64_t frames, uint32_t len, int split_every)
{
	static struct xfer x;   /* the child reads its copy after fork */

	memset(&x, 0, sizeof(x));
	pipe_name(x.master, sizeof(x.master), tag, '{', 1);
	pipe_name(x.slave, sizeof(x.slave), tag, '}', 1);
	x.frames = frames;
	x.len = len;
	x.split_every = split_every;

	struct nmk_port *p = open_ok(x.master);
	pid_t pid = spawn(receiver, &x);
	double t0 = tu_now();
	sender(p, &x, pid);
	int st = wait_child(pid, 30.0);
	assert_int_equal(st, 0);
	/* The receiver released everything before it left: one txsync gives
	 * every slot back (nm_tx_pending false). */
	struct netmap_ring *tx = nmk_port_txring(p, 0);
	assert_int_equal(nmk_txsync(p), 0);
	assert_false(nm_tx_pending(tx));
	assert_int_equal(nm_ring_space(tx), tx->num_slots - 1);
	if (getenv("NMKIT_TEST_VERBOSE"))
		fprintf(stderr, "%s: %llu frames in %.2f s\n", tag, (unsigned long long)frames,
			tu_now() - t0);
	nmk_port_close(p);
}

/* a) 300000 frames of 60 bytes, each checked. */
static void test_small_frames(void **state)
{
	(void)state;
	run_transfer("ps", 300000, 60, 0);
}

/* b) 9000-byte frames over 5 slots each, and frames of random length. */
static void test_jumbo_frames(void **state)
{
	(void)state;
	char spec[64];
	pipe_name(spec, sizeof(spec), "pj", '{', 9);
	struct nmk_port *p = open_ok(spec);
	/* 9000 bytes take five 2048-byte buffers. */
	assert_int_equal(nmk_port_info(p)->buf_size, 2048);
	nmk_port_close(p);

	run_transfer("pj", 20000, 9000, 5);
}

static void test_random_frames(void **state)
{
	(void)state;
	run_transfer("pr", 20000, 0, 7);
}

/* ---- c) netmap's test 008 ----------------------------------------------- */

static void test_pending_slots(void **state)
{
	char ms[64], ss[64];

	(void)state;
	pipe_name(ms, sizeof(ms), "p8", '{', 1);
	pipe_name(ss, sizeof(ss), "p8", '}', 1);
	struct nmk_port *m = open_ok(ms), *s = open_ok(ss);
	struct netmap_ring *tx = nmk_port_txring(m, 0), *rx = nmk_port_rxring(s, 0);
	assert_non_null(tx);
	assert_non_null(rx);
	uint32_t n = tx->num_slots;
	assert_int_equal(rx->num_slots, n);
	assert_int_equal(tx->tail, n - 1);

	for (uint64_t i = 0; i < 10; i++)
		put_frame(tx, 60, i);
	assert_int_equal(nmk_txsync(m), 0);
	/* Sent, but nothing released: TX space does not come back. */
	assert_int_equal(tx->tail, n - 1);
	assert_int_equal(nm_ring_space(tx), n - 1 - 10);
	assert_true(nm_tx_pending(tx));
	assert_int_equal(nmk_txsync(m), 0);
	assert_int_equal(tx->tail, n - 1);

	/* The receiver sees all 10 after its rxsync, and takes 7. */
	assert_int_equal(nmk_rxsync(s), 0);
	assert_int_equal(rx->head, 0);
	assert_int_equal(rx->tail, 10);
	for (uint64_t i = 0; i < 7; i++)
		take_frame(rx, 60, i);
	assert_int_equal(nmk_rxsync(s), 0);
	assert_int_equal(rx->head, 7);
	assert_int_equal(rx->tail, 10);

	/* Exactly 3 slots stay pending on the sender. */
	assert_int_equal(nmk_txsync(m), 0);
	assert_int_equal(nm_ring_space(tx), n - 1 - 3);
	assert_int_equal(tx->tail, 6);
	assert_true(nm_tx_pending(tx));
	/* Another txsync changes nothing until the receiver moves. */
	assert_int_equal(nmk_txsync(m), 0);
	assert_int_equal(tx->tail, 6);

	/* Release the rest: everything comes back. */
	for (uint64_t i = 7; i < 10; i++)
		take_frame(rx, 60, i);
	assert_int_equal(nmk_rxsync(s), 0);
	assert_int_equal(nmk_txsync(m), 0);
	assert_int_equal(nm_ring_space(tx), n - 1);
	assert_false(nm_tx_pending(tx));
	assert_int_equal(tx->tail, 9);

	nmk_port_close(s);
	nmk_port_close(m);
}

/* ---- d) frames wait for the other end ----------------------------------- */

static void wait_unregistered(const char *name)
{
	double end = tu_now() + 5.0;
	int n;

	while ((n = tu_port_registrations(name)) != 0 && tu_now() < end) {
		struct timespec ts = { 0, 5 * 1000 * 1000 };
		nanosleep(&ts, NULL);
	}
	assert_int_equal(n, 0);
}

static void test_queued_while_closed(void **state)
{
	char ms[64], ss[64];

	(void)state;
	pipe_name(ms, sizeof(ms), "pq", '{', 1);
	pipe_name(ss, sizeof(ss), "pq", '}', 1);
	struct nmk_port *m = open_ok(ms);
	struct netmap_ring *tx = nmk_port_txring(m, 0);
	assert_non_null(tx);
	assert_int_equal(tu_port_registrations(ss), 0);
	for (uint64_t i = 0; i < 5; i++)
		put_frame(tx, 60 + (uint32_t)i, i);
	assert_int_equal(nmk_txsync(m), 0);

	struct nmk_port *s = open_ok(ss);
	struct netmap_ring *rx = nmk_port_rxring(s, 0);
	assert_non_null(rx);
	assert_int_equal(nmk_rxsync(s), 0);
	assert_int_equal(nm_ring_space(rx), 5);
	for (uint64_t i = 0; i < 5; i++)
		take_frame(rx, 60 + (uint32_t)i, i);
	assert_int_equal(nmk_rxsync(s), 0);
	assert_true(nm_ring_empty(rx));

	/* Again with the slave gone and back. */
	nmk_port_close(s);
	wait_unregistered(ss);
	for (uint64_t i = 5; i < 10; i++)
		put_frame(tx, 100, i);
	assert_int_equal(nmk_txsync(m), 0);
	s = open_ok(ss);
	rx = nmk_port_rxring(s, 0);
	assert_int_equal(nmk_rxsync(s), 0);
	assert_int_equal(nm_ring_space(rx), 5);
	for (uint64_t i = 5; i < 10; i++)
		take_frame(rx, 100, i);
	assert_int_equal(nmk_rxsync(s), 0);
	assert_int_equal(nmk_txsync(m), 0);
	assert_false(nm_tx_pending(tx));

	nmk_port_close(s);
	nmk_port_close(m);
}

/* ---- e) poll ------------------------------------------------------------ */

struct poll_child {
	char name[64];
	int ready_fd;           /* write end: "about to block" */
	int go_fd;              /* read end: "the parent is about to block" */
	uint32_t release;       /* slots to release (POLLOUT test) */
};

/* Block in poll(POLLIN, -1) until the parent sends; check the frame. */
static void pollin_child(void *arg)
{
	const struct poll_child *c = arg;
	char err[NMK_ERRBUF_SIZE] = "";
	struct nmk_port *p = nmk_port_open(c->name, err);

	if (p == NULL)
		CHILD_FAIL("open %s: %s", c->name, err);
	struct netmap_ring *rx = nmk_port_rxring(p, 0);
	if (write(c->ready_fd, "R", 1) != 1)
		CHILD_FAIL("write: %s", strerror(errno));
	int r = nmk_port_poll(p, POLLIN, -1);
	if (r < 0 || !(r & POLLIN) || (r & POLLERR))
		CHILD_FAIL("poll(POLLIN, -1) returned %d", r);
	if (nm_ring_empty(rx))
		CHILD_FAIL("poll said POLLIN but the ring is empty");
	struct netmap_slot *s = &rx->slot[rx->head];
	if (s->len != 200 || tu_check(NETMAP_BUF(rx, s->buf_idx), 200, 4242) != 0)
		CHILD_FAIL("wrong frame (%u bytes)", s->len);
	rx->head = rx->cur = nm_ring_next(rx, rx->head);
	nmk_rxsync(p);
	nmk_port_close(p);
	_exit(0);
}

/* Wait for the parent to fill its ring and block, then release slots. */
static void release_child(void *arg)
{
	const struct poll_child *c = arg;
	char err[NMK_ERRBUF_SIZE] = "", b;
	struct nmk_port *p = nmk_port_open(c->name, err);

	if (p == NULL)
		CHILD_FAIL("open %s: %s", c->name, err);
	struct netmap_ring *rx = nmk_port_rxring(p, 0);
	if (nmk_rxsync(p) < 0 || nm_ring_space(rx) != rx->num_slots - 1)
		CHILD_FAIL("expected a full ring, %u frames", nm_ring_space(rx));
	if (write(c->ready_fd, "R", 1) != 1 || read(c->go_fd, &b, 1) != 1)
		CHILD_FAIL("sync with parent: %s", strerror(errno));
	/* The parent blocks in poll right after "go"; give it a moment so the
	 * wake-up is likely a real one (the outcome does not depend on it). */
	struct timespec ts = { 0, 100 * 1000 * 1000 };
	nanosleep(&ts, NULL);
	for (uint32_t i = 0; i < c->release; i++) {
		struct netmap_slot *s = &rx->slot[rx->head];
		if (tu_check(NETMAP_BUF(rx, s->buf_idx), s->len, i) != 0)
			CHILD_FAIL("frame %u: wrong contents", i);
		rx->head = rx->cur = nm_ring_next(rx, rx->head);
	}
	if (nmk_rxsync(p) < 0)
		CHILD_FAIL("rxsync: %s", nmk_port_error(p));
	nmk_port_close(p);
	_exit(0);
}

static void test_poll_wakes_receiver(void **state)
{
	static struct poll_child c;
	char ms[64];
	int fds[2];

	(void)state;
	memset(&c, 0, sizeof(c));
	pipe_name(ms, sizeof(ms), "pw", '{', 1);
	pipe_name(c.name, sizeof(c.name), "pw", '}', 1);
	struct nmk_port *m = open_ok(ms);
	assert_int_equal(pipe(fds), 0);
	c.ready_fd = fds[1];
	pid_t pid = spawn(pollin_child, &c);
	close(fds[1]);
	char b;
	assert_int_equal(read(fds[0], &b, 1), 1);
	close(fds[0]);
	let_child_sleep(pid);

	struct netmap_ring *tx = nmk_port_txring(m, 0);
	put_frame(tx, 200, 4242);
	assert_int_equal(nmk_txsync(m), 0);
	assert_int_equal(wait_child(pid, 5.0), 0);
	nmk_port_close(m);
}

static void test_poll_waits_for_room(void **state)
{
	static struct poll_child c;
	char ms[64];
	int ready[2], go[2];

	(void)state;
	memset(&c, 0, sizeof(c));
	pipe_name(ms, sizeof(ms), "pf", '{', 1);
	strcat(ms, "@conf:slots=64");
	pipe_name(c.name, sizeof(c.name), "pf", '}', 1);
	c.release = 10;
	struct nmk_port *m = open_ok(ms);
	struct netmap_ring *tx = nmk_port_txring(m, 0);
	assert_int_equal(tx->num_slots, 64);

	/* Fill the ring: 63 frames, then no room. */
	for (uint64_t i = 0; i < 63; i++)
		put_frame(tx, 64, i);
	assert_int_equal(nmk_txsync(m), 0);
	assert_int_equal(nm_ring_space(tx), 0);
	double t0 = tu_now();
	assert_int_equal(nmk_port_poll(m, POLLOUT, 0), 0);
	assert_true(tu_now() - t0 < 1.0);

	assert_int_equal(pipe(ready), 0);
	assert_int_equal(pipe(go), 0);
	c.ready_fd = ready[1];
	c.go_fd = go[0];
	pid_t pid = spawn(release_child, &c);
	close(ready[1]);
	close(go[0]);
	char b;
	assert_int_equal(read(ready[0], &b, 1), 1);
	assert_int_equal(write(go[1], "G", 1), 1);
	int r = nmk_port_poll(m, POLLOUT, 5000);
	assert_true(r > 0);
	assert_true(r & POLLOUT);
	assert_false(r & POLLERR);
	assert_int_equal(nm_ring_space(tx), 10);
	assert_int_equal(wait_child(pid, 5.0), 0);
	close(ready[0]);
	close(go[1]);
	nmk_port_close(m);
}

/* Nothing ready: timeout 0 returns 0 at once, a short timeout returns 0
 * once it expires. */
static void test_poll_timeout(void **state)
{
	char ms[64], ss[64];

	(void)state;
	pipe_name(ms, sizeof(ms), "pt", '{', 1);
	pipe_name(ss, sizeof(ss), "pt", '}', 1);
	struct nmk_port *m = open_ok(ms), *s = open_ok(ss);

	double t0 = tu_now();
	assert_int_equal(nmk_port_poll(s, POLLIN, 0), 0);
	assert_int_equal(nmk_port_poll(m, POLLIN, 0), 0);
	assert_true(tu_now() - t0 < 1.0);

	t0 = tu_now();
	assert_int_equal(nmk_port_poll(s, POLLIN, 30), 0);
	assert_true(tu_now() - t0 >= 0.025);
	assert_true(tu_now() - t0 < 5.0);

	/* An empty TX ring has room: POLLOUT at once. */
	int r = nmk_port_poll(m, POLLOUT, 0);
	assert_int_equal(r, POLLOUT);
	/* And a frame makes POLLIN ready on the other side without sleeping. */
	put_frame(nmk_port_txring(m, 0), 60, 1);
	assert_int_equal(nmk_txsync(m), 0);
	r = nmk_port_poll(s, POLLIN, 0);
	assert_int_equal(r, POLLIN);
	nmk_port_close(s);
	nmk_port_close(m);
}

/* ---- f) ring counts and slots from @conf -------------------------------- */

static void check_geometry(struct nmk_port *p, uint32_t ntx, uint32_t nrx, uint32_t slots)
{
	const struct nmk_port_info *i = nmk_port_info(p);

	assert_int_equal(i->tx_rings, ntx);
	assert_int_equal(i->rx_rings, nrx);
	assert_int_equal(i->tx_slots, slots);
	assert_int_equal(i->rx_slots, slots);
	assert_int_equal(nmk_port_nifp(p)->ni_tx_rings, ntx);
	assert_int_equal(nmk_port_nifp(p)->ni_rx_rings, nrx);
	for (uint32_t r = 0; r < ntx; r++) {
		assert_non_null(nmk_port_txring(p, r));
		assert_int_equal(nmk_port_txring(p, r)->num_slots, slots);
		assert_int_equal(nmk_port_txring(p, r)->ringid, r);
	}
	for (uint32_t r = 0; r < nrx; r++) {
		assert_non_null(nmk_port_rxring(p, r));
		assert_int_equal(nmk_port_rxring(p, r)->num_slots, slots);
		assert_int_equal(nmk_port_rxring(p, r)->ringid, r);
	}
	assert_null(nmk_port_txring(p, ntx));
	assert_null(nmk_port_rxring(p, nrx));
}

/* A frame on tx ring `ring` of `from` arrives on rx ring `ring` of `to`,
 * and only there. */
static void cross(struct nmk_port *from, struct nmk_port *to, uint32_t ring, uint64_t seq)
{
	struct netmap_ring *tx = nmk_port_txring(from, ring);

	put_frame(tx, 128, seq);
	assert_int_equal(nmk_txsync(from), 0);
	assert_int_equal(nmk_rxsync(to), 0);
	for (uint32_t r = 0; r < nmk_port_info(to)->rx_rings; r++) {
		struct netmap_ring *rx = nmk_port_rxring(to, r);
		assert_int_equal(nm_ring_space(rx), r == ring ? 1 : 0);
	}
	take_frame(nmk_port_rxring(to, ring), 128, seq);
	assert_int_equal(nmk_rxsync(to), 0);
	assert_int_equal(nmk_txsync(from), 0);
	assert_false(nm_tx_pending(tx));
}

static void test_conf_rings(void **state)
{
	char ms[96], ss[64];

	(void)state;
	/* rings=3, slots=256: both ends 3+3 rings of 256 slots. */
	pipe_name(ms, sizeof(ms), "netmap:pc", '{', 2);
	strcat(ms, "@conf:rings=3,slots=256");
	pipe_name(ss, sizeof(ss), "netmap:pc", '}', 2);
	struct nmk_port *m = open_ok(ms), *s = open_ok(ss);
	check_geometry(m, 3, 3, 256);
	check_geometry(s, 3, 3, 256);
	cross(m, s, 2, 1);
	cross(m, s, 0, 2);
	cross(s, m, 1, 3);
	nmk_port_close(s);
	nmk_port_close(m);

	/* tx-rings=2, rx-rings=4 on the master: the slave has 4 tx, 2 rx. */
	pipe_name(ms, sizeof(ms), "pc", '{', 3);
	strcat(ms, "@conf:tx-rings=2,rx-rings=4");
	pipe_name(ss, sizeof(ss), "pc", '}', 3);
	m = open_ok(ms);
	s = open_ok(ss);
	check_geometry(m, 2, 4, 1024);
	check_geometry(s, 4, 2, 1024);
	cross(m, s, 1, 4);
	cross(s, m, 3, 5);
	nmk_port_close(s);
	nmk_port_close(m);

	/* The same asked by the slave, opened first: the counts speak for the
	 * end being opened, the master gets them swapped. */
	pipe_name(ss, sizeof(ss), "pc", '}', 4);
	strcat(ss, "@conf:tx-rings=2,rx-rings=4,slots=128");
	pipe_name(ms, sizeof(ms), "pc", '{', 4);
	s = open_ok(ss);
	m = open_ok(ms);
	check_geometry(s, 2, 4, 128);
	check_geometry(m, 4, 2, 128);
	cross(m, s, 3, 6);
	cross(s, m, 1, 7);
	nmk_port_close(m);
	nmk_port_close(s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_small_frames, test_setup, test_teardown),
		cmocka_unit_test_setup_teardown(test_jumbo_frames, test_setup, test_teardown),
		cmocka_unit_test_setup_teardown(test_random_frames, test_setup, test_teardown),
		cmocka_unit_test_setup_teardown(test_pending_slots, test_setup, test_teardown),
		cmocka_unit_test_setup_teardown(test_queued_while_closed, test_setup, test_teardown),
		cmocka_unit_test_setup_teardown(test_poll_wakes_receiver, test_setup, test_teardown),
		cmocka_unit_test_setup_teardown(test_poll_waits_for_room, test_setup, test_teardown),
		cmocka_unit_test_setup_teardown(test_poll_timeout, test_setup, test_teardown),
		cmocka_unit_test_setup_teardown(test_conf_rings, test_setup, test_teardown),
	};

	return cmocka_run_group_tests_name("pipe", tests, group_setup, group_teardown);
}
