/*
 * test_register.c - what REGISTER gives a port (reference §1.6, §1.7, §2.5,
 * §2.6, §2.13).
 *
 * Ring selection (ALL_NIC, ONE_NIC, /T, /R) and how it shows in the
 * netmap_if (ring_ofs is 0 for unbound rings), exclusive opens, sharing of
 * ring memory between registrations, extra buffers, release on close and
 * on death, the errors a bad request gets, and the geometry of a fresh
 * ring.  Pipes are the ports used throughout: they are the ports that
 * exist without VALE or a NIC driver.
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
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <net/netmap.h>
#include <net/netmap_user.h>
#include <nmkit/nmkit.h>

#include "client.h"
#include "proto.h"
#include "testutil.h"

#define TEST_ALARM	30u	/* s: a hang fails instead of blocking */
#define CHILD_ALARM	20u

static pid_t child_pid;

/* Fail in a child without returning into cmocka. */
#define CHILD_FAIL(...) \
	do { \
		fprintf(stderr, "child %d, line %d: ", (int)getpid(), __LINE__); \
		fprintf(stderr, __VA_ARGS__); \
		fputc('\n', stderr); \
		_exit(1); \
	} while (0)

static int test_setup(void **state)
{
	(void)state;
	alarm(TEST_ALARM);
	return 0;
}

static int test_teardown(void **state)
{
	(void)state;
	if (child_pid > 0) {
		kill(child_pid, SIGKILL);
		waitpid(child_pid, NULL, 0);
		child_pid = 0;
	}
	alarm(0);
	return 0;
}

static int group_setup(void **state)
{
	(void)state;
	if (tu_setup("register") < 0) {
		fprintf(stderr, "test_register: skipped, no broker\n");
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

/* "<tag><pid><sep><id><suffix>" */
static void pipe_name(char *buf, size_t len, const char *tag, char sep, unsigned id,
		      const char *suffix)
{
	char base[32];

	tu_unique(base, sizeof(base), tag);
	snprintf(buf, len, "%s%c%u%s", base, sep, id, suffix ? suffix : "");
}

static struct nmk_port *open_ok(const char *spec)
{
	char err[NMK_ERRBUF_SIZE] = "";
	struct nmk_port *p = nmk_port_open(spec, err);

	if (p == NULL)
		fail_msg("nmk_port_open(%s): %s (%s)", spec, err, strerror(errno));
	return p;
}

/* An open that must fail with `want`, with a message that names `who`. */
static void open_fails(const char *spec, int want, const char *who)
{
	char err[NMK_ERRBUF_SIZE] = "";
	errno = 0;
	struct nmk_port *p = nmk_port_open(spec, err);
	int e = errno;

	if (p != NULL) {
		nmk_port_close(p);
		fail_msg("nmk_port_open(%s) succeeded, expected %s", spec, strerror(want));
	}
	if (e != want)
		fail_msg("nmk_port_open(%s): errno %d (%s), expected %d (%s); message: %s", spec, e,
			 strerror(e), want, strerror(want), err);
	if (err[0] == '\0' || strstr(err, who) == NULL)
		fail_msg("nmk_port_open(%s): message \"%s\" does not name %s", spec, err, who);
}

/* Whether the broker lists a port of this name at all (registered or
 * not): a pipe pair that is gone is not listed. */
static int port_listed(const char *name)
{
	char err[256];
	int fd = nmk_broker_connect(err, sizeof(err)), found = 0;

	if (fd < 0)
		return -1;
	for (uint32_t i = 0;; i++) {
		struct nmk_msg_list l = { .index = i };
		uint32_t rlen = sizeof(l);
		int r = nmk_request(fd, NMK_MSG_LIST, &l, sizeof(l), &l, &rlen, NULL, NULL, err,
				    sizeof(err));
		if (r == -ENOENT)
			break;
		if (r < 0) {
			close(fd);
			return -1;
		}
		l.name[sizeof(l.name) - 1] = '\0';
		if (strcmp(l.name, name) == 0)
			found = 1;
	}
	close(fd);
	return found;
}

static void sleep_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };
	nanosleep(&ts, NULL);
}

/* Wait up to timeout_s for the broker to list `want` registrations. */
static int wait_registrations(const char *name, int want, double timeout_s)
{
	double end = tu_now() + timeout_s;
	int n;

	while ((n = tu_port_registrations(name)) != want && tu_now() < end)
		sleep_ms(2);
	return n;
}

static int wait_unlisted(const char *name, double timeout_s)
{
	double end = tu_now() + timeout_s;
	int n;

	while ((n = port_listed(name)) != 0 && tu_now() < end)
		sleep_ms(2);
	return n;
}

static void put_frame(struct netmap_ring *tx, uint32_t len, uint64_t seq)
{
	struct netmap_slot *s = &tx->slot[tx->head];

	tu_fill(NETMAP_BUF(tx, s->buf_idx), len, seq);
	s->len = len;
	s->flags = 0;
	tx->head = tx->cur = nm_ring_next(tx, tx->head);
}

static void take_frame(struct netmap_ring *rx, uint32_t len, uint64_t seq)
{
	struct netmap_slot *s = &rx->slot[rx->head];

	assert_int_equal(s->len, len);
	if (tu_check(NETMAP_BUF(rx, s->buf_idx), len, seq) != 0)
		fail_msg("frame %llu: wrong contents", (unsigned long long)seq);
	rx->head = rx->cur = nm_ring_next(rx, rx->head);
}

/* Index in ring_ofs[] of rx ring i. */
static unsigned rx_ofs_index(const struct netmap_if *nifp, unsigned i)
{
	return nifp->ni_tx_rings + nifp->ni_host_tx_rings + i;
}

/*
 * Check that exactly tx rings [ft, lt) and rx rings [fr, lr) are bound:
 * the info ranges, the ring accessors, and ring_ofs in the netmap_if
 * (non-zero and equal to the accessor for bound rings, 0 for the others
 * and for the host rings).
 */
static void check_bound(struct nmk_port *p, unsigned ft, unsigned lt, unsigned fr, unsigned lr)
{
	const struct nmk_port_info *in = nmk_port_info(p);
	struct netmap_if *nifp = nmk_port_nifp(p);

	assert_ptr_equal(nifp, NETMAP_IF(nmk_port_mem(p), in->nifp_offset));
	assert_int_equal(in->first_tx_ring, ft);
	assert_int_equal(in->last_tx_ring, lt);
	assert_int_equal(in->first_rx_ring, fr);
	assert_int_equal(in->last_rx_ring, lr);
	assert_int_equal(nifp->ni_tx_rings, in->tx_rings);
	assert_int_equal(nifp->ni_rx_rings, in->rx_rings);
	/* netmap reports one (fake) host ring per direction even for pipes. */
	assert_int_equal(nifp->ni_host_tx_rings, 1);
	assert_int_equal(nifp->ni_host_rx_rings, 1);

	for (unsigned i = 0; i < in->tx_rings; i++) {
		bool bound = i >= ft && i < lt;
		if (bound) {
			assert_true(nifp->ring_ofs[i] != 0);
			assert_non_null(nmk_port_txring(p, i));
			assert_ptr_equal(NETMAP_TXRING(nifp, i), nmk_port_txring(p, i));
			assert_int_equal(NETMAP_TXRING(nifp, i)->ringid, i);
		} else {
			assert_int_equal(nifp->ring_ofs[i], 0);
			assert_null(nmk_port_txring(p, i));
		}
	}
	assert_int_equal(nifp->ring_ofs[in->tx_rings], 0);       /* host tx */
	for (unsigned i = 0; i < in->rx_rings; i++) {
		bool bound = i >= fr && i < lr;
		if (bound) {
			assert_true(nifp->ring_ofs[rx_ofs_index(nifp, i)] != 0);
			assert_non_null(nmk_port_rxring(p, i));
			assert_ptr_equal(NETMAP_RXRING(nifp, i), nmk_port_rxring(p, i));
			assert_int_equal(NETMAP_RXRING(nifp, i)->ringid, i);
		} else {
			assert_int_equal(nifp->ring_ofs[rx_ofs_index(nifp, i)], 0);
			assert_null(nmk_port_rxring(p, i));
		}
	}
	assert_int_equal(nifp->ring_ofs[rx_ofs_index(nifp, in->rx_rings)], 0); /* host rx */
}

/* ---- a) ring selection -------------------------------------------------- */

static void test_ring_selection(void **state)
{
	char spec[96], one[96], slave[64];

	(void)state;
	/* ALL_NIC: every ring. */
	pipe_name(spec, sizeof(spec), "ra", '{', 3, "@conf:rings=3");
	struct nmk_port *all = open_ok(spec);
	assert_int_equal(nmk_port_info(all)->mode, NR_REG_ALL_NIC);
	assert_int_equal(nmk_port_info(all)->tx_rings, 3);
	check_bound(all, 0, 3, 0, 3);

	/* ONE_NIC ring 1 of the same end: only ring 1, the same ring object. */
	pipe_name(one, sizeof(one), "ra", '{', 3, "-1@conf:rings=3");
	struct nmk_port *p = open_ok(one);
	assert_int_equal(nmk_port_info(p)->mode, NR_REG_ONE_NIC);
	assert_int_equal(nmk_port_info(p)->ringid, 1);
	assert_null(nmk_port_txring(p, 0));
	assert_null(nmk_port_rxring(p, 2));
	check_bound(p, 1, 2, 1, 2);
	assert_ptr_equal(NETMAP_TXRING(nmk_port_nifp(p), 1), nmk_port_txring(all, 1));
	assert_ptr_equal(nmk_port_rxring(p, 1), nmk_port_rxring(all, 1));

	/* Its txsync moves ring 1 only: a frame left on ring 0 stays. */
	pipe_name(slave, sizeof(slave), "ra", '}', 3, NULL);
	struct nmk_port *s = open_ok(slave);
	put_frame(nmk_port_txring(all, 0), 60, 10);
	put_frame(nmk_port_txring(p, 1), 60, 11);
	assert_int_equal(nmk_txsync(p), 0);
	assert_int_equal(nmk_rxsync(s), 0);
	assert_int_equal(nm_ring_space(nmk_port_rxring(s, 0)), 0);
	assert_int_equal(nm_ring_space(nmk_port_rxring(s, 1)), 1);
	assert_int_equal(nmk_txsync(all), 0);
	assert_int_equal(nmk_rxsync(s), 0);
	take_frame(nmk_port_rxring(s, 0), 60, 10);
	take_frame(nmk_port_rxring(s, 1), 60, 11);
	assert_int_equal(nmk_rxsync(s), 0);
	nmk_port_close(s);
	nmk_port_close(p);
	nmk_port_close(all);

	/* A ONE_NIC open may be the one that creates the pair. */
	pipe_name(one, sizeof(one), "ra", '{', 4, "-2@conf:rings=3");
	p = open_ok(one);
	assert_int_equal(nmk_port_info(p)->tx_rings, 3);
	check_bound(p, 2, 3, 2, 3);
	nmk_port_close(p);

	/* /T: tx rings only; /R: rx rings only. */
	pipe_name(spec, sizeof(spec), "ra", '{', 5, "/T@conf:rings=2");
	p = open_ok(spec);
	assert_true(nmk_port_info(p)->flags & NR_TX_RINGS_ONLY);
	check_bound(p, 0, 2, 0, 0);
	assert_null(nmk_port_rxring(p, 0));
	assert_int_equal(nmk_rxsync(p), 0);
	nmk_port_close(p);

	pipe_name(spec, sizeof(spec), "ra", '{', 6, "/R@conf:rings=2");
	p = open_ok(spec);
	assert_true(nmk_port_info(p)->flags & NR_RX_RINGS_ONLY);
	check_bound(p, 0, 0, 0, 2);
	assert_null(nmk_port_txring(p, 1));
	assert_int_equal(nmk_txsync(p), 0);
	nmk_port_close(p);

	/* ONE_NIC with /T: one tx ring and nothing else. */
	pipe_name(spec, sizeof(spec), "ra", '{', 7, "-1/T@conf:rings=2");
	p = open_ok(spec);
	check_bound(p, 1, 2, 0, 0);
	nmk_port_close(p);
}

/* ---- b) NR_EXCLUSIVE ---------------------------------------------------- */

static void test_exclusive(void **state)
{
	char name[64], excl[64], other[64];

	(void)state;
	pipe_name(name, sizeof(name), "rx", '{', 1, NULL);
	pipe_name(excl, sizeof(excl), "rx", '{', 1, "/x");
	pipe_name(other, sizeof(other), "rx", '}', 1, NULL);

	struct nmk_port *x = open_ok(excl);
	assert_true(nmk_port_info(x)->flags & NR_EXCLUSIVE);
	open_fails(name, EBUSY, name);
	open_fails(excl, EBUSY, name);
	/* The other end is another port: not concerned. */
	struct nmk_port *o = open_ok(other);
	nmk_port_close(o);

	/* Closing the exclusive holder frees the end.  The release reaches the
	 * broker before any later request (it sees the hang-up first). */
	nmk_port_close(x);
	struct nmk_port *p = open_ok(name);

	/* /x on an end that already has a user: EBUSY too. */
	open_fails(excl, EBUSY, name);
	/* Shared (non-exclusive) opens are still fine. */
	struct nmk_port *q = open_ok(name);
	nmk_port_close(q);
	nmk_port_close(p);
	assert_int_equal(wait_registrations(name, 0, 5.0), 0);
	x = open_ok(excl);
	nmk_port_close(x);

	/* Exclusivity is per ring: ring 0 exclusive leaves ring 1 free. */
	char r0[96], r1[96];
	pipe_name(r0, sizeof(r0), "rx", '{', 2, "-0/x@conf:rings=2");
	pipe_name(r1, sizeof(r1), "rx", '{', 2, "-1/x");
	struct nmk_port *a = open_ok(r0), *b = open_ok(r1);
	pipe_name(name, sizeof(name), "rx", '{', 2, NULL);
	open_fails(name, EBUSY, name);
	nmk_port_close(b);
	nmk_port_close(a);
}

/*
 * close() then open exclusively again must always work, as with netmap,
 * even while other processes talk to the broker (here a child that keeps
 * making connections).  A broker that served a new connection's REGISTER
 * before the hang-up of the old one failed this with EBUSY about once in
 * 200 cycles.
 */
static void test_close_then_reopen(void **state)
{
	char excl[64];
	pid_t churn[2] = { 0, 0 };

	(void)state;
	pipe_name(excl, sizeof(excl), "rc", '{', 1, "/x");
	struct nmk_port *p = open_ok(excl);     /* the broker runs from here on */
	nmk_port_close(p);

	fflush(NULL);
	for (int c = 0; c < 2; c++) {
		churn[c] = fork();
		assert_true(churn[c] >= 0);
		if (churn[c] == 0) {
			alarm(CHILD_ALARM);
			for (;;)        /* one connection, one request at a time */
				if (tu_port_registrations("nothing") < 0)
					_exit(1);
		}
	}
	int failed = -1;
	char err[NMK_ERRBUF_SIZE] = "";
	for (int i = 0; i < 1000 && failed < 0; i++) {
		p = nmk_port_open(excl, err);
		if (p == NULL)
			failed = i;
		else
			nmk_port_close(p);
	}
	int e = errno;
	for (int c = 0; c < 2; c++) {
		kill(churn[c], SIGKILL);
		waitpid(churn[c], NULL, 0);
	}
	if (failed >= 0)
		fail_msg("cycle %d: %s (%s)", failed, err, strerror(e));
}

/* ---- c) sharing --------------------------------------------------------- */

static void test_sharing(void **state)
{
	char m1[64], s1[64], m2[64], other[64];

	(void)state;
	pipe_name(m1, sizeof(m1), "rs", '{', 1, NULL);
	pipe_name(s1, sizeof(s1), "rs", '}', 1, NULL);
	pipe_name(m2, sizeof(m2), "rs", '{', 2, NULL);
	pipe_name(other, sizeof(other), "rt", '{', 1, NULL);

	/* Two registrations of one end: two fds, one ring. */
	struct nmk_port *a = open_ok(m1), *b = open_ok(m1);
	assert_int_not_equal(nmk_port_fd(a), nmk_port_fd(b));
	assert_int_equal(nmk_port_info(a)->mem_id, nmk_port_info(b)->mem_id);
	assert_ptr_equal(nmk_port_mem(a), nmk_port_mem(b));
	struct netmap_ring *ta = nmk_port_txring(a, 0), *tb = nmk_port_txring(b, 0);
	assert_ptr_equal(ta, tb);
	/* Each registration has its own netmap_if. */
	assert_int_not_equal(nmk_port_info(a)->nifp_offset, nmk_port_info(b)->nifp_offset);
	assert_int_equal(wait_registrations(m1, 2, 5.0), 2);

	/* A frame through a, one through b: the receiver gets both, in order. */
	put_frame(ta, 80, 1);
	assert_int_equal(nmk_txsync(a), 0);
	assert_int_equal(tb->head, 1);
	put_frame(tb, 80, 2);
	assert_int_equal(nmk_txsync(b), 0);
	struct nmk_port *s = open_ok(s1);
	struct netmap_ring *rx = nmk_port_rxring(s, 0);
	assert_int_equal(nmk_rxsync(s), 0);
	assert_int_equal(nm_ring_space(rx), 2);
	take_frame(rx, 80, 1);
	take_frame(rx, 80, 2);
	assert_int_equal(nmk_rxsync(s), 0);

	/* Both ends, and every pipe of the parent, share its region. */
	uint16_t id = nmk_port_info(a)->mem_id;
	assert_true(id != 0);
	assert_int_equal(nmk_port_info(s)->mem_id, id);
	assert_ptr_equal(nmk_port_mem(s), nmk_port_mem(a));
	struct nmk_port *c = open_ok(m2);
	assert_int_equal(nmk_port_info(c)->mem_id, id);
	assert_int_equal(nmk_port_info(c)->memsize, nmk_port_info(a)->memsize);
	/* Another parent has a region of its own. */
	struct nmk_port *d = open_ok(other);
	assert_int_not_equal(nmk_port_info(d)->mem_id, id);
	assert_ptr_not_equal(nmk_port_mem(d), nmk_port_mem(a));

	/* Another process opening the same end gets the same region id. */
	fflush(NULL);
	child_pid = fork();
	assert_true(child_pid >= 0);
	if (child_pid == 0) {
		alarm(CHILD_ALARM);
		char err[NMK_ERRBUF_SIZE] = "";
		struct nmk_port *p = nmk_port_open(m1, err);
		if (p == NULL)
			CHILD_FAIL("open %s: %s", m1, err);
		if (nmk_port_info(p)->mem_id != id)
			CHILD_FAIL("mem_id %u, expected %u", nmk_port_info(p)->mem_id, id);
		/* The ring holds what the parent left there. */
		struct netmap_ring *t = nmk_port_txring(p, 0);
		if (t->head != 2 || tu_check(NETMAP_BUF(t, t->slot[1].buf_idx), 80, 2) != 0)
			CHILD_FAIL("ring state not shared: head %u", t->head);
		nmk_port_close(p);
		_exit(0);
	}
	int st;
	assert_int_equal(waitpid(child_pid, &st, 0), child_pid);
	child_pid = 0;
	assert_true(WIFEXITED(st));
	assert_int_equal(WEXITSTATUS(st), 0);

	nmk_port_close(d);
	nmk_port_close(c);
	nmk_port_close(s);
	nmk_port_close(b);
	nmk_port_close(a);
}

/* ---- d) extra buffers --------------------------------------------------- */

static void test_extra_bufs(void **state)
{
	char spec[64], slave[64], err[NMK_ERRBUF_SIZE] = "";
	struct nmk_open_params params = NMK_OPEN_PARAMS_INIT;

	(void)state;
	params.extra_bufs = 100;
	pipe_name(spec, sizeof(spec), "re", '{', 1, NULL);
	pipe_name(slave, sizeof(slave), "re", '}', 1, NULL);
	struct nmk_port *p = nmk_port_open_ext(spec, &params, err);
	if (p == NULL)
		fail_msg("open %s with 100 extra buffers: %s", spec, err);
	const struct nmk_port_info *in = nmk_port_info(p);
	struct netmap_if *nifp = nmk_port_nifp(p);
	struct netmap_ring *tx = nmk_port_txring(p, 0);
	assert_int_equal(in->extra_bufs, 100);
	assert_true(nifp->ni_bufs_head != 0);

	/* The buffer pool runs from the ring's buf_ofs to the region's end. */
	char *mem = nmk_port_mem(p);
	char *pool = NETMAP_BUF(tx, 0);
	assert_true(pool > mem && pool < mem + in->memsize);
	uint32_t nbufs = (uint32_t)((uint64_t)(mem + in->memsize - pool) / tx->nr_buf_size);
	assert_true(nbufs > 100);

	uint8_t *seen = calloc(nbufs, 1);
	assert_non_null(seen);
	/* Buffers in the ring are not on the list. */
	for (uint32_t i = 0; i < tx->num_slots; i++) {
		assert_true(tx->slot[i].buf_idx < nbufs);
		seen[tx->slot[i].buf_idx] = 2;
	}
	uint32_t count = 0, idx = nifp->ni_bufs_head;
	while (idx != 0) {
		assert_true(idx >= 2);
		assert_true(idx < nbufs);
		if (seen[idx] == 1)
			fail_msg("extra buffer %u listed twice", idx);
		if (seen[idx] == 2)
			fail_msg("extra buffer %u is also in the tx ring", idx);
		seen[idx] = 1;
		assert_true(++count <= 100);
		idx = *(uint32_t *)(void *)NETMAP_BUF(tx, idx);
	}
	free(seen);
	assert_int_equal(count, 100);

	/* Swap the first extra buffer into a TX slot and send it: the
	 * receiver gets that very buffer, with what we wrote in it. */
	uint32_t x = nifp->ni_bufs_head;
	char *xb = NETMAP_BUF(tx, x);
	uint32_t next = *(uint32_t *)(void *)xb;
	struct netmap_slot *slot = &tx->slot[tx->head];
	uint32_t old = slot->buf_idx;
	tu_fill(xb, 300, 77);
	slot->buf_idx = x;
	slot->len = 300;
	slot->flags = NS_BUF_CHANGED;
	tx->head = tx->cur = nm_ring_next(tx, tx->head);
	/* The slot's old buffer takes x's place on the list (the list is the
	 * application's to rewrite), so nothing leaks at close. */
	*(uint32_t *)(void *)NETMAP_BUF(tx, old) = next;
	nifp->ni_bufs_head = old;
	assert_int_equal(nmk_txsync(p), 0);

	struct nmk_port *s = open_ok(slave);
	struct netmap_ring *rx = nmk_port_rxring(s, 0);
	assert_int_equal(nmk_rxsync(s), 0);
	assert_int_equal(nm_ring_space(rx), 1);
	assert_int_equal(rx->slot[rx->head].buf_idx, x);
	take_frame(rx, 300, 77);
	assert_int_equal(nmk_rxsync(s), 0);
	assert_int_equal(nmk_txsync(p), 0);
	assert_false(nm_tx_pending(tx));
	nmk_port_close(s);
	nmk_port_close(p);

	/* Without extra buffers the list is empty. */
	params.extra_bufs = 0;
	p = nmk_port_open_ext(spec, &params, err);
	if (p == NULL)
		fail_msg("open %s: %s", spec, err);
	assert_int_equal(nmk_port_info(p)->extra_bufs, 0);
	assert_int_equal(nmk_port_nifp(p)->ni_bufs_head, 0);
	struct nmk_port *q = open_ok(slave);
	assert_int_equal(nmk_port_nifp(q)->ni_bufs_head, 0);
	nmk_port_close(q);
	nmk_port_close(p);

	/* Two registrations of one region get disjoint lists. */
	params.extra_bufs = 10;
	p = nmk_port_open_ext(spec, &params, err);
	assert_non_null(p);
	q = nmk_port_open_ext(slave, &params, err);
	assert_non_null(q);
	assert_int_equal(nmk_port_info(q)->extra_bufs, 10);
	tx = nmk_port_txring(p, 0);
	for (uint32_t i = nmk_port_nifp(p)->ni_bufs_head; i; i = *(uint32_t *)(void *)NETMAP_BUF(tx, i))
		for (uint32_t j = nmk_port_nifp(q)->ni_bufs_head; j;
		     j = *(uint32_t *)(void *)NETMAP_BUF(tx, j))
			assert_int_not_equal(i, j);
	nmk_port_close(q);
	nmk_port_close(p);
}

/* ---- e) release --------------------------------------------------------- */

static void test_release(void **state)
{
	char m1[64], s1[64], m2[64], m3[64];

	(void)state;
	pipe_name(m1, sizeof(m1), "rr", '{', 1, NULL);
	pipe_name(s1, sizeof(s1), "rr", '}', 1, NULL);
	pipe_name(m2, sizeof(m2), "rr", '{', 2, NULL);
	pipe_name(m3, sizeof(m3), "rr", '{', 3, NULL);

	struct nmk_port *p = open_ok(m1);
	assert_int_equal(tu_port_registrations(m1), 1);
	assert_int_equal(tu_port_registrations(s1), 0);
	assert_int_equal(port_listed(s1), 1);      /* both ends exist */
	nmk_port_close(p);
	assert_int_equal(wait_registrations(m1, 0, 1.0), 0);
	/* No pipe left: the pair, and with it the parent, are gone. */
	assert_int_equal(wait_unlisted(m1, 1.0), 0);
	assert_int_equal(port_listed(s1), 0);
	p = open_ok(m1);
	assert_int_equal(tu_port_registrations(m1), 1);

	/* Two pipes of one parent: closing one leaves the other (and the
	 * region, same mem_id) alone. */
	struct nmk_port *q = open_ok(m2);
	uint16_t id = nmk_port_info(p)->mem_id;
	assert_int_equal(nmk_port_info(q)->mem_id, id);
	nmk_port_close(p);
	assert_int_equal(wait_unlisted(m1, 1.0), 0);
	assert_int_equal(port_listed(m2), 1);
	struct nmk_port *r = open_ok(m3);
	assert_int_equal(nmk_port_info(r)->mem_id, id);
	nmk_port_close(r);
	nmk_port_close(q);
	assert_int_equal(wait_unlisted(m2, 1.0), 0);
	assert_int_equal(wait_unlisted(m3, 1.0), 0);

	/* A process that dies releases its registrations. */
	int sync[2];
	assert_int_equal(pipe(sync), 0);
	fflush(NULL);
	child_pid = fork();
	assert_true(child_pid >= 0);
	if (child_pid == 0) {
		alarm(CHILD_ALARM);
		close(sync[0]);
		char err[NMK_ERRBUF_SIZE] = "";
		struct nmk_port *c = nmk_port_open(m1, err);
		if (c == NULL)
			CHILD_FAIL("open %s: %s", m1, err);
		if (write(sync[1], "R", 1) != 1)
			_exit(1);
		pause();
		_exit(0);
	}
	close(sync[1]);
	char b;
	assert_int_equal(read(sync[0], &b, 1), 1);
	close(sync[0]);
	assert_int_equal(tu_port_registrations(m1), 1);
	kill(child_pid, SIGKILL);
	waitpid(child_pid, NULL, 0);
	child_pid = 0;
	assert_int_equal(wait_registrations(m1, 0, 5.0), 0);
	assert_int_equal(wait_unlisted(m1, 5.0), 0);

	/* And the parent's name can be used again. */
	p = open_ok(m1);
	nmk_port_close(p);
}

/* ---- f) errors ---------------------------------------------------------- */

static void test_errors(void **state)
{
	char name[64], spec[96];

	(void)state;
	/* Before VALE is available, a VALE name gets EOPNOTSUPP; once it is,
	 * the open works.  Either way, nothing else. */
	char err[NMK_ERRBUF_SIZE] = "";
	errno = 0;
	struct nmk_port *v = nmk_port_open("vale0:a", err);
	if (v != NULL) {
		assert_string_equal(nmk_port_info(v)->name, "vale0:a");
		nmk_port_close(v);
	} else {
		if (errno != EOPNOTSUPP)
			fail_msg("vale0:a: errno %d (%s), expected EOPNOTSUPP or success: %s",
				 errno, strerror(errno), err);
		assert_non_null(strstr(err, "vale0:a"));
	}
	open_fails("netmap:eth0", ENXIO, "eth0");
	open_fails("netmap:x{", EINVAL, "x{");
	open_fails("eth0@conf:rings=", EINVAL, "eth0");

	/* Pipes take ALL_NIC and ONE_NIC only. */
	pipe_name(name, sizeof(name), "rf", '{', 1, NULL);
	pipe_name(spec, sizeof(spec), "rf", '{', 1, "*");
	open_fails(spec, EINVAL, name);
	pipe_name(spec, sizeof(spec), "rf", '{', 1, "^");
	open_fails(spec, EINVAL, name);
	/* A failed open leaves nothing behind. */
	assert_int_equal(port_listed(name), 0);

	/* ONE_NIC beyond the ring count. */
	pipe_name(name, sizeof(name), "rf", '{', 2, NULL);
	pipe_name(spec, sizeof(spec), "rf", '{', 2, "-2@conf:rings=2");
	open_fails(spec, EINVAL, name);
	assert_int_equal(port_listed(name), 0);
	pipe_name(spec, sizeof(spec), "rf", '{', 2, "-1@conf:rings=2");
	struct nmk_port *p = open_ok(spec);
	pipe_name(spec, sizeof(spec), "rf", '{', 2, "-2");
	open_fails(spec, EINVAL, name);
	nmk_port_close(p);

	/* At most 4096 slots. */
	pipe_name(name, sizeof(name), "rf", '{', 3, NULL);
	pipe_name(spec, sizeof(spec), "rf", '{', 3, "@conf:slots=5000");
	open_fails(spec, EINVAL, name);
	assert_int_equal(port_listed(name), 0);
	pipe_name(spec, sizeof(spec), "rf", '{', 3, "@conf:slots=4096");
	p = open_ok(spec);
	assert_int_equal(nmk_port_txring(p, 0)->num_slots, 4096);
	nmk_port_close(p);

	/* No handle: nmk_port_open(NULL) is an error, not a crash. */
	err[0] = '\0';
	errno = 0;
	assert_null(nmk_port_open(NULL, err));
	assert_int_equal(errno, EINVAL);
	assert_true(err[0] != '\0');
}

/* ---- g) geometry of a fresh port ---------------------------------------- */

static void check_inside(const struct nmk_port *p, const void *ptr, size_t len)
{
	const char *mem = nmk_port_mem(p), *c = ptr;

	assert_true(c >= mem);
	assert_true(c + len <= mem + nmk_port_info(p)->memsize);
}

static void test_geometry(void **state)
{
	char ms[64], ss[64];

	(void)state;
	pipe_name(ms, sizeof(ms), "rg", '{', 1, NULL);
	pipe_name(ss, sizeof(ss), "rg", '}', 1, NULL);
	struct nmk_port *m = open_ok(ms), *s = open_ok(ss);
	const struct nmk_port_info *in = nmk_port_info(m);

	assert_int_equal(in->tx_rings, 1);
	assert_int_equal(in->rx_rings, 1);
	assert_int_equal(in->tx_slots, 1024);
	assert_int_equal(in->rx_slots, 1024);
	assert_int_equal(in->buf_size, 2048);
	assert_true(in->memsize > 0);
	assert_int_equal(in->memsize % 4096, 0);
	assert_true(in->nifp_offset < in->memsize);
	check_inside(m, nmk_port_nifp(m), sizeof(struct netmap_if));

	struct netmap_ring *tx = nmk_port_txring(m, 0);
	struct netmap_ring *rx = nmk_port_rxring(s, 0);
	check_inside(m, tx, sizeof(*tx) + tx->num_slots * sizeof(struct netmap_slot));
	check_inside(s, rx, sizeof(*rx) + rx->num_slots * sizeof(struct netmap_slot));
	/* The netmap_if comes first, then the rings, then the buffers. */
	assert_true((char *)nmk_port_nifp(m) < (char *)tx);
	assert_true((char *)tx < NETMAP_BUF(tx, 0));

	assert_int_equal(tx->num_slots, in->tx_slots);
	assert_int_equal(tx->nr_buf_size, in->buf_size);
	assert_int_equal(tx->dir, 0);      /* netmap: 0 = tx, 1 = rx */
	assert_int_equal(rx->dir, 1);
	assert_int_equal(tx->head, 0);
	assert_int_equal(tx->cur, 0);
	assert_int_equal(tx->tail, tx->num_slots - 1);
	assert_int_equal(rx->head, 0);
	assert_int_equal(rx->cur, 0);
	assert_int_equal(rx->tail, 0);
	assert_true(nm_ring_empty(rx));
	assert_int_equal(nm_ring_space(tx), tx->num_slots - 1);

	/* Every tx slot owns a real buffer of its own inside the region;
	 * buffers 0 and 1 are never handed out. */
	uint32_t nbufs = (uint32_t)((uint64_t)((char *)nmk_port_mem(m) + in->memsize -
					       NETMAP_BUF(tx, 0)) / tx->nr_buf_size);
	uint8_t *seen = calloc(nbufs, 1);
	assert_non_null(seen);
	for (uint32_t i = 0; i < tx->num_slots; i++) {
		const struct netmap_slot *sl = &tx->slot[i];
		assert_true(sl->buf_idx >= 2);
		assert_true(sl->buf_idx < nbufs);
		assert_int_equal(seen[sl->buf_idx], 0);
		seen[sl->buf_idx] = 1;
		assert_int_equal(sl->len, tx->nr_buf_size);
		assert_int_equal(sl->flags, 0);
		check_inside(m, NETMAP_BUF(tx, sl->buf_idx), tx->nr_buf_size);
	}
	free(seen);
	/* The receive side starts "fake": every slot on buffer 0 until
	 * packets arrive. */
	for (uint32_t i = 0; i < rx->num_slots; i++)
		assert_int_equal(rx->slot[i].buf_idx, 0);
	/* Buffer address and index are inverses. */
	uint32_t b = tx->slot[5].buf_idx;
	assert_int_equal(NETMAP_BUF_IDX(tx, NETMAP_BUF(tx, b) + 100), b);

	/* The same geometry seen from the slave's rings. */
	assert_int_equal(NETMAP_BUF(rx, b), NETMAP_BUF(tx, b));

	nmk_port_close(s);
	nmk_port_close(m);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_ring_selection, test_setup, test_teardown),
		cmocka_unit_test_setup_teardown(test_exclusive, test_setup, test_teardown),
		cmocka_unit_test_setup_teardown(test_close_then_reopen, test_setup, test_teardown),
		cmocka_unit_test_setup_teardown(test_sharing, test_setup, test_teardown),
		cmocka_unit_test_setup_teardown(test_extra_bufs, test_setup, test_teardown),
		cmocka_unit_test_setup_teardown(test_release, test_setup, test_teardown),
		cmocka_unit_test_setup_teardown(test_errors, test_setup, test_teardown),
		cmocka_unit_test_setup_teardown(test_geometry, test_setup, test_teardown),
	};

	return cmocka_run_group_tests_name("register", tests, group_setup, group_teardown);
}
