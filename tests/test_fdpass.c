/*
 * test_fdpass.c - a port fd is a real fd: it can be passed to another
 * process over a unix socket, dup()ed and inherited through fork, and the
 * port is released only when the last copy is closed (reference §2.13,
 * §6.2 "fd_server", §6.5 (b)-(d)).
 *
 * Every scenario uses its own pipe names; the test runs against its own
 * broker (tu_setup).  Children always _exit(); the parent kills and reaps
 * any child left behind by a failed test (teardown_children).
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
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <nmkit/nmkit.h>
#include <nmkit/compat/net/netmap_user.h>

#include "client.h"
#include "testutil.h"

#define MAX_FRAME 6144

/* ---- children ----------------------------------------------------------- */

static pid_t children[8];

static pid_t spawn(int (*fn)(int), int arg)
{
	pid_t pid = fork();

	assert_true(pid >= 0);
	if (pid == 0) {
		/* Never outlive the test, never block CI. */
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		alarm(20);
		_exit(fn(arg));
	}
	for (unsigned i = 0; i < sizeof(children) / sizeof(children[0]); i++) {
		if (children[i] == 0) {
			children[i] = pid;
			break;
		}
	}
	return pid;
}

static void forget(pid_t pid)
{
	for (unsigned i = 0; i < sizeof(children) / sizeof(children[0]); i++)
		if (children[i] == pid)
			children[i] = 0;
}

/* Wait (at most `secs`) for a child and return its exit status, or -1 when
 * it had to be killed or died of a signal. */
static int reap(pid_t pid, double secs)
{
	double end = tu_now() + secs;
	int status;

	for (;;) {
		pid_t r = waitpid(pid, &status, WNOHANG);
		if (r == pid)
			break;
		if (r < 0 && errno != EINTR) {
			forget(pid);
			return -1;
		}
		if (tu_now() > end) {
			fprintf(stderr, "child %d did not exit within %.0f s: killed\n", (int)pid, secs);
			kill(pid, SIGKILL);
			waitpid(pid, &status, 0);
			forget(pid);
			return -1;
		}
		usleep(2000);
	}
	forget(pid);
	if (WIFSIGNALED(status)) {
		fprintf(stderr, "child %d died of signal %d\n", (int)pid, WTERMSIG(status));
		return -1;
	}
	return WEXITSTATUS(status);
}

static int teardown_children(void **state)
{
	(void)state;
	for (unsigned i = 0; i < sizeof(children) / sizeof(children[0]); i++) {
		if (children[i] > 0) {
			kill(children[i], SIGKILL);
			waitpid(children[i], NULL, 0);
			children[i] = 0;
		}
	}
	return 0;
}

/* One-byte control messages between parent and child, with a deadline so
 * that a lost peer fails the test instead of hanging it. */
static void put(int fd, char c)
{
	ssize_t n;

	do
		n = write(fd, &c, 1);
	while (n < 0 && errno == EINTR);
}

static int get(int fd, double secs)
{
	struct pollfd pfd = { .fd = fd, .events = POLLIN };
	char c;

	if (poll(&pfd, 1, (int)(secs * 1000)) <= 0)
		return -1;
	return read(fd, &c, 1) == 1 ? c : -1;
}

/* Wait until the broker lists `want` registrations of `name`. */
static bool registrations_become(const char *name, int want, double secs)
{
	double end = tu_now() + secs;

	for (;;) {
		int n = tu_port_registrations(name);
		if (n == want)
			return true;
		if (tu_now() > end) {
			fprintf(stderr, "%s: %d registrations after %.1f s, expected %d\n", name, n,
				secs, want);
			return false;
		}
		usleep(2000);
	}
}

/* ---- frames ------------------------------------------------------------- */

/* The length of frame `seq`, so that a receiver can tell a truncated or
 * glued frame from a good one: mostly short frames, one in four spanning
 * three buffers (NS_MOREFRAG). */
static uint32_t frame_len(uint64_t seq)
{
	uint64_t h = (seq + 1) * UINT64_C(0x9E3779B97F4A7C15);

	h ^= h >> 29;
	if ((h & 3) == 0)
		return 4000 + (uint32_t)((h >> 40) % 2001);
	return 60 + (uint32_t)((h >> 40) % 1455);
}

/* Queue frame `seq` at the head of `r`; false when it does not fit. */
static bool frame_put(struct netmap_ring *r, uint64_t seq)
{
	uint8_t buf[MAX_FRAME];
	uint32_t len = frame_len(seq), bsz = r->nr_buf_size;
	uint32_t head = r->head;

	if (nm_ring_space(r) < (len + bsz - 1) / bsz)
		return false;
	tu_fill(buf, len, seq);
	for (uint32_t off = 0; off < len; off += bsz) {
		struct netmap_slot *s = &r->slot[head];
		uint32_t n = len - off < bsz ? len - off : bsz;
		memcpy(NETMAP_BUF(r, s->buf_idx), buf + off, n);
		s->len = (uint16_t)n;
		s->flags = off + n < len ? NS_MOREFRAG : 0;
		head = nm_ring_next(r, head);
	}
	r->head = r->cur = head;
	return true;
}

/* Take one frame from the head of `r`: 1 (its seq in *seq), 0 when the ring
 * is empty, -1 when what the ring holds is not an intact frame. */
static int frame_get(struct netmap_ring *r, uint64_t *seq)
{
	uint8_t buf[MAX_FRAME];
	uint32_t i = r->head, len = 0;

	if (i == r->tail)
		return 0;
	for (;;) {
		if (i == r->tail) {
			fprintf(stderr, "frame at slot %u ends at the tail (%u) with NS_MOREFRAG\n",
				r->head, r->tail);
			return -1;
		}
		struct netmap_slot *s = &r->slot[i];
		if (s->len > r->nr_buf_size || len + s->len > MAX_FRAME) {
			fprintf(stderr, "frame at slot %u longer than %u bytes\n", r->head, MAX_FRAME);
			return -1;
		}
		memcpy(buf + len, NETMAP_BUF(r, s->buf_idx), s->len);
		len += s->len;
		i = nm_ring_next(r, i);
		if (!(s->flags & NS_MOREFRAG))
			break;
	}
	r->head = r->cur = i;
	if (len < 8) {
		fprintf(stderr, "frame of %u bytes\n", len);
		return -1;
	}
	memcpy(seq, buf, 8);
	if (len != frame_len(*seq) || tu_check(buf, len, *seq) != 0) {
		fprintf(stderr, "frame %llu: %u bytes (expected %u) or contents torn\n",
			(unsigned long long)*seq, len, frame_len(*seq));
		return -1;
	}
	return 1;
}

/* Send frames [first, first + count) on p, waiting for room with poll.
 * Returns 0 or -1. */
static int send_frames(struct nmk_port *p, uint64_t first, uint64_t count)
{
	struct netmap_ring *r = nmk_port_txring(p, nmk_port_info(p)->first_tx_ring);
	uint64_t seq = first;

	while (seq < first + count) {
		unsigned queued = 0;
		while (seq < first + count && frame_put(r, seq)) {
			seq++;
			queued++;
		}
		if (queued) {
			if (nmk_txsync(p) < 0) {
				fprintf(stderr, "txsync: %s\n", nmk_port_error(p));
				return -1;
			}
		} else if (nmk_port_poll(p, POLLOUT, 2000) <= 0) {
			fprintf(stderr, "%s: no room to send frame %llu within 2 s\n",
				nmk_port_info(p)->name, (unsigned long long)seq);
			return -1;
		}
	}
	return nmk_txsync(p) < 0 ? -1 : 0;
}

/* Receive exactly frames [first, first + count), in order and intact. */
static int recv_frames(struct nmk_port *p, uint64_t first, uint64_t count)
{
	struct netmap_ring *r = nmk_port_rxring(p, nmk_port_info(p)->first_rx_ring);
	uint64_t want = first, seq;

	while (want < first + count) {
		int got = frame_get(r, &seq);
		if (got < 0)
			return -1;
		if (got == 0) {
			if (nmk_port_poll(p, POLLIN, 2000) <= 0) {
				fprintf(stderr, "%s: frame %llu did not arrive within 2 s\n",
					nmk_port_info(p)->name, (unsigned long long)want);
				return -1;
			}
			continue;
		}
		if (seq != want) {
			fprintf(stderr, "%s: frame %llu arrived, expected %llu\n",
				nmk_port_info(p)->name, (unsigned long long)seq,
				(unsigned long long)want);
			return -1;
		}
		want++;
		if (((want - first) & 63) == 0)
			nmk_rxsync(p);  /* give room back as we go */
	}
	return nmk_rxsync(p) < 0 ? -1 : 0;
}

/* Move frames [first, first + count) from tx to rx within one process:
 * send what fits, then receive what arrived, so the ring never jams. */
static int transfer(struct nmk_port *tx, struct nmk_port *rx, uint64_t first, uint64_t count)
{
	struct netmap_ring *t = nmk_port_txring(tx, nmk_port_info(tx)->first_tx_ring);
	struct netmap_ring *r = nmk_port_rxring(rx, nmk_port_info(rx)->first_rx_ring);
	uint64_t next = first, want = first, seq;
	double deadline = tu_now() + 10;

	while (want < first + count) {
		while (next < first + count && frame_put(t, next))
			next++;
		if (nmk_txsync(tx) < 0 || nmk_rxsync(rx) < 0)
			return -1;
		int got;
		while ((got = frame_get(r, &seq)) == 1) {
			if (seq != want) {
				fprintf(stderr, "frame %llu arrived, expected %llu\n",
					(unsigned long long)seq, (unsigned long long)want);
				return -1;
			}
			want++;
		}
		if (got < 0 || tu_now() > deadline) {
			fprintf(stderr, "transfer stuck at frame %llu\n", (unsigned long long)want);
			return -1;
		}
	}
	return nmk_rxsync(rx) < 0 ? -1 : 0;
}

static struct nmk_port *open_ok(const char *name)
{
	char err[NMK_ERRBUF_SIZE];
	struct nmk_port *p = nmk_port_open(name, err);

	if (p == NULL)
		fail_msg("%s: %s", name, err);
	return p;
}

/* ---- a) passing the fd to another process ------------------------------- */

#define PASS_FRAMES 3000

/* The child: receive the fd, say so, adopt it when told, send, close when
 * told, and exit only when told (so the parent sees that the close, not the
 * exit, released the port). */
static int pass_child(int sock)
{
	char err[NMK_ERRBUF_SIZE];
	int fd = tu_recv_fd(sock);

	if (fd < 0) {
		fprintf(stderr, "pass child: no fd received\n");
		return 10;
	}
	put(sock, 'R');
	if (get(sock, 10) != 'G')
		return 11;
	struct nmk_port *p = nmk_port_from_fd(fd, err);
	if (p == NULL) {
		fprintf(stderr, "pass child: nmk_port_from_fd: %s\n", err);
		return 12;
	}
	if (strcmp(nmk_port_info(p)->name, "fpA{1") != 0) {
		fprintf(stderr, "pass child: adopted %s\n", nmk_port_info(p)->name);
		return 13;
	}
	if (send_frames(p, 0, PASS_FRAMES) < 0)
		return 14;
	put(sock, 'D');
	if (get(sock, 10) != 'C')
		return 15;
	nmk_port_close(p);
	put(sock, 'c');
	if (get(sock, 10) != 'X')
		return 16;
	return 0;
}

static void test_pass_to_child(void **state)
{
	int sv[2];

	(void)state;
	assert_int_equal(socketpair(AF_UNIX, SOCK_SEQPACKET, 0, sv), 0);
	/* Fork before opening anything, so the child inherits no port. */
	pid_t pid = spawn(pass_child, sv[1]);
	close(sv[1]);

	struct nmk_port *a = open_ok("fpA{1");
	struct nmk_port *b = open_ok("fpA}1");
	assert_int_equal(tu_send_fd(sv[0], nmk_port_fd(a)), 0);
	assert_int_equal(get(sv[0], 10), 'R');
	nmk_port_close(a);
	/* The child's copy keeps the registration alive. */
	assert_int_equal(tu_port_registrations("fpA{1"), 1);

	put(sv[0], 'G');
	assert_int_equal(recv_frames(b, 0, PASS_FRAMES), 0);
	assert_int_equal(get(sv[0], 10), 'D');
	assert_int_equal(tu_port_registrations("fpA{1"), 1);

	put(sv[0], 'C');
	assert_int_equal(get(sv[0], 10), 'c');
	assert_true(registrations_become("fpA{1", 0, 1.0));
	put(sv[0], 'X');
	assert_int_equal(reap(pid, 10), 0);
	close(sv[0]);
	nmk_port_close(b);
	assert_true(registrations_become("fpA}1", 0, 1.0));
}

/* ---- a') closing one's copy while another process sleeps on the port ---- */

/* The child adopts the port and sleeps in poll for a frame; the parent
 * closes its own handle meanwhile.  The sleeper must still be woken. */
static int sleeper_child(int sock)
{
	char err[NMK_ERRBUF_SIZE];
	int fd = tu_recv_fd(sock);
	uint64_t seq;

	if (fd < 0)
		return 10;
	struct nmk_port *p = nmk_port_from_fd(fd, err);
	if (p == NULL) {
		fprintf(stderr, "sleeper: nmk_port_from_fd: %s\n", err);
		return 12;
	}
	struct netmap_ring *r = nmk_port_rxring(p, 0);
	put(sock, 'S');
	/* One poll, much longer than the parent's whole sequence: a poll that
	 * ends by its timeout (it would still find the frame then) means the
	 * wake-up was lost. */
	double t0 = tu_now();
	int rev = nmk_port_poll(p, POLLIN, 8000);
	if (rev <= 0 || tu_now() - t0 > 5.0) {
		fprintf(stderr, "sleeper: not woken by the frame (poll returned %d after %.1f s)\n",
			rev, tu_now() - t0);
		return 13;
	}
	if (frame_get(r, &seq) != 1 || seq != 7)
		return 14;
	nmk_port_close(p);
	return 0;
}

static void test_close_while_other_sleeps(void **state)
{
	int sv[2];

	(void)state;
	assert_int_equal(socketpair(AF_UNIX, SOCK_SEQPACKET, 0, sv), 0);
	pid_t pid = spawn(sleeper_child, sv[1]);
	close(sv[1]);

	struct nmk_port *a = open_ok("fpE{1");
	struct nmk_port *b = open_ok("fpE}1");
	assert_int_equal(tu_send_fd(sv[0], nmk_port_fd(a)), 0);
	assert_int_equal(get(sv[0], 10), 'S');
	/* Give the child time to arm and fall asleep (if it has not, the
	 * test merely proves less). */
	usleep(200 * 1000);
	nmk_port_close(a);
	assert_int_equal(tu_port_registrations("fpE{1"), 1);
	assert_int_equal(send_frames(b, 7, 1), 0);
	assert_int_equal(reap(pid, 10), 0);
	close(sv[0]);
	assert_true(registrations_become("fpE{1", 0, 1.0));
	nmk_port_close(b);
}

/* ---- b) dup(): two fds of one registration in one process --------------- */

static void test_dup(void **state)
{
	char err[NMK_ERRBUF_SIZE];

	(void)state;
	struct nmk_port *a = open_ok("fpB{1");
	struct nmk_port *b = open_ok("fpB}1");
	int fd2 = dup(nmk_port_fd(a));
	assert_true(fd2 >= 0);
	struct nmk_port *a2 = nmk_port_from_fd(fd2, err);
	if (a2 == NULL)
		fail_msg("nmk_port_from_fd(dup): %s", err);
	assert_int_equal(nmk_port_fd(a2), fd2);
	assert_string_equal(nmk_port_info(a2)->name, "fpB{1");
	assert_int_equal(nmk_port_info(a2)->mem_id, nmk_port_info(a)->mem_id);
	/* One region, mapped once per process: the same ring, same address. */
	assert_ptr_equal(nmk_port_txring(a2, 0), nmk_port_txring(a, 0));
	/* dup makes no new registration. */
	assert_int_equal(tu_port_registrations("fpB{1"), 1);

	assert_int_equal(send_frames(a, 0, 100), 0);
	assert_int_equal(send_frames(a2, 100, 100), 0);
	assert_int_equal(recv_frames(b, 0, 200), 0);
	assert_int_equal(transfer(a, b, 200, 1000), 0);
	assert_int_equal(transfer(a2, b, 1200, 1000), 0);

	nmk_port_close(a);
	usleep(50 * 1000);      /* would the broker release it? it must not */
	assert_int_equal(tu_port_registrations("fpB{1"), 1);
	assert_int_equal(transfer(a2, b, 2200, 2000), 0);

	nmk_port_close(a2);
	assert_true(registrations_become("fpB{1", 0, 1.0));
	nmk_port_close(b);
	assert_true(registrations_become("fpB}1", 0, 1.0));
}

/* ---- c) inheritance through fork ---------------------------------------- */

static struct nmk_port *inherited;

/* The child uses the handle it inherited as it is (no adoption), sends,
 * and exits without closing: its exit must release the port. */
static int fork_child(int sock)
{
	if (get(sock, 10) != 'G')
		return 11;
	if (send_frames(inherited, 0, 1500) < 0)
		return 12;
	put(sock, 'D');
	if (get(sock, 10) != 'X')
		return 13;
	return 0;
}

static void test_fork_inherit(void **state)
{
	int sv[2];

	(void)state;
	inherited = open_ok("fpC{1");
	assert_int_equal(socketpair(AF_UNIX, SOCK_SEQPACKET, 0, sv), 0);
	pid_t pid = spawn(fork_child, sv[1]);
	close(sv[1]);

	struct nmk_port *b = open_ok("fpC}1");
	nmk_port_close(inherited);
	inherited = NULL;
	assert_int_equal(tu_port_registrations("fpC{1"), 1);
	put(sv[0], 'G');
	assert_int_equal(recv_frames(b, 0, 1500), 0);
	assert_int_equal(get(sv[0], 10), 'D');
	assert_int_equal(tu_port_registrations("fpC{1"), 1);
	put(sv[0], 'X');
	assert_int_equal(reap(pid, 10), 0);
	assert_true(registrations_become("fpC{1", 0, 1.0));
	close(sv[0]);
	nmk_port_close(b);
}

/* ---- d) adopting something that is not a registered port fd ------------ */

struct probe {
	int err;                /* errno after the failed call, or 0 */
	int adopted;            /* 1 if nmk_port_from_fd returned a handle */
	char msg[NMK_ERRBUF_SIZE];
};

/* Run nmk_port_from_fd(fd) in a child, so that a hang is caught (the child
 * is killed after 5 s) and a crash does not take the test down. */
static struct probe probe_fd(int fd)
{
	struct probe pr = { .err = -1 };
	int pp[2];

	assert_int_equal(pipe(pp), 0);
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		struct probe r = { 0 };
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		close(pp[0]);
		errno = 0;
		struct nmk_port *p = nmk_port_from_fd(fd, r.msg);
		r.err = errno;
		r.adopted = p != NULL;
		if (write(pp[1], &r, sizeof(r)) != (ssize_t)sizeof(r))
			_exit(1);
		_exit(0);
	}
	close(pp[1]);
	struct pollfd pfd = { .fd = pp[0], .events = POLLIN };
	if (poll(&pfd, 1, 5000) > 0 && read(pp[0], &pr, sizeof(pr)) == (ssize_t)sizeof(pr)) {
		close(pp[0]);
		waitpid(pid, NULL, 0);
		return pr;
	}
	close(pp[0]);
	kill(pid, SIGKILL);
	int status;
	waitpid(pid, &status, 0);
	if (WIFSIGNALED(status) && WTERMSIG(status) != SIGKILL)
		snprintf(pr.msg, sizeof(pr.msg), "crashed with signal %d", WTERMSIG(status));
	else
		snprintf(pr.msg, sizeof(pr.msg), "hung (no answer within 5 s)");
	return pr;
}

static void expect_refused(const char *what, int fd)
{
	struct probe pr = probe_fd(fd);

	if (pr.err <= 0 || pr.adopted || pr.msg[0] == '\0')
		fail_msg("nmk_port_from_fd(%s): %s (errno %d, adopted %d)", what,
			 pr.msg[0] ? pr.msg : "no message", pr.err, pr.adopted);
	printf("# %s: refused: %s (%s)\n", what, pr.msg, strerror(pr.err));
}

static void test_from_fd_bad(void **state)
{
	char err[NMK_ERRBUF_SIZE];
	int pfd[2], sv[2];

	(void)state;
	/* A connection to the broker that registered nothing. */
	int conn = nmk_broker_connect(err, sizeof(err));
	if (conn < 0)
		fail_msg("nmk_broker_connect: %s", err);
	struct probe pr = probe_fd(conn);
	if (pr.err != ENXIO || pr.adopted || pr.msg[0] == '\0')
		fail_msg("unregistered connection: %s (errno %d)", pr.msg, pr.err);
	printf("# unregistered connection: refused: %s\n", pr.msg);
	/* Also in this process (no crash, fd not taken over). */
	errno = 0;
	assert_null(nmk_port_from_fd(conn, err));
	assert_int_equal(errno, ENXIO);
	assert_true(fcntl(conn, F_GETFD) >= 0);
	close(conn);

	assert_int_equal(pipe(pfd), 0);
	expect_refused("pipe read end", pfd[0]);
	expect_refused("pipe write end", pfd[1]);
	close(pfd[0]);
	close(pfd[1]);

	int null = open("/dev/null", O_RDWR);
	assert_true(null >= 0);
	expect_refused("/dev/null", null);
	close(null);

	/* Sockets whose peer is alive but is not the broker. */
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	expect_refused("unix stream socket", sv[0]);
	close(sv[0]);
	close(sv[1]);
	assert_int_equal(socketpair(AF_UNIX, SOCK_DGRAM, 0, sv), 0);
	expect_refused("unix datagram socket", sv[0]);
	close(sv[0]);
	close(sv[1]);
	int udp = socket(AF_INET, SOCK_DGRAM, 0);
	if (udp >= 0) {
		expect_refused("udp socket", udp);
		close(udp);
	}
	/* A seqpacket peer that answers garbage. */
	assert_int_equal(socketpair(AF_UNIX, SOCK_SEQPACKET, 0, sv), 0);
	assert_int_equal(write(sv[1], "garbage!", 8), 8);
	expect_refused("seqpacket socket answering garbage", sv[0]);
	close(sv[0]);
	close(sv[1]);
	/* A seqpacket socket whose peer is gone. */
	assert_int_equal(socketpair(AF_UNIX, SOCK_SEQPACKET, 0, sv), 0);
	close(sv[1]);
	expect_refused("seqpacket socket without peer", sv[0]);
	close(sv[0]);

	/* No fd at all. */
	expect_refused("fd -1", -1);
	int closed = dup(0);
	assert_true(closed >= 0);
	close(closed);
	expect_refused("a closed fd", closed);
}

/* ---- main --------------------------------------------------------------- */

static int group_setup(void **state)
{
	(void)state;
	return tu_setup("fdpass");
}

static int group_teardown(void **state)
{
	(void)state;
	tu_teardown();
	return 0;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_teardown(test_pass_to_child, teardown_children),
		cmocka_unit_test_teardown(test_close_while_other_sleeps, teardown_children),
		cmocka_unit_test_teardown(test_dup, teardown_children),
		cmocka_unit_test_teardown(test_fork_inherit, teardown_children),
		cmocka_unit_test_teardown(test_from_fd_bad, teardown_children),
	};

	/* A hang anywhere fails the program instead of blocking CI. */
	alarm(50);
	signal(SIGPIPE, SIG_IGN);
	return cmocka_run_group_tests_name("fdpass", tests, group_setup, group_teardown);
}
