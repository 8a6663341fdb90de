/*
 * test_vale.c - VALE switches end to end (reference §4): the learning
 * bridge seen from several processes, aging, a MAC that moves, many
 * senders into one receiver with exact accounting, senders killed in the
 * middle of their batches, the port and switch limits, a pluggable lookup
 * function, a destination ring smaller than a batch, and multi-slot frames.
 *
 * Every case starts its own broker (with the options it needs) in its own
 * runtime directory, and uses switch names unique to this process.
 *
 * Forwarding runs in the sender's txsync and delivery is complete when the
 * txsync returns (the lease is published before it returns), so the cases
 * with one sender at a time need no waiting: "port C got nothing" is
 * checked with a plain rxsync right after the sender's txsync.
 *
 * Frames: bytes 0-5 destination MAC, 6-11 source MAC, 12-13 an ethertype,
 * then a payload made by tu_fill() from a 64-bit sequence number (which
 * the payload starts with), so a receiver can tell a frame's origin and
 * check its contents.  Receivers skip zero-length slots: a lease that a
 * sender could not fill (or that a dead sender left) is completed with
 * empty slots (reference §4.6).
 *
 * The stress cases also look inside the library (port.h, shm.h): a sender
 * reads its own counters in shared memory after each txsync to know which
 * of its frames were delivered, and a stall is reported with the state of
 * the receiver's ring and its leases.
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
#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <nmkit/nmkit.h>
#include <nmkit/compat/net/netmap_user.h>

#include "port.h"
#include "shm.h"
#include "vale_shm.h"
#include "testutil.h"

#define ETH_HLEN     14
#define ETHERTYPE    0x88b5     /* IEEE local experimental */
#define MAX_FRAME    8192
#define BAD_TAG      UINT64_MAX
#define MAX_SENDERS  4
#define MAX_INC      1024       /* sender incarnations in the kill test */
#define MAX_KIDS     16

static const uint8_t BCAST[6] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff };
static const uint8_t MCAST[6] = { 0x01, 0x00, 0x5e, 0x00, 0x00, 0x01 };
static const uint8_t UNKNOWN[6] = { 0x02, 0x00, 0x00, 0x00, 0x00, 0xee };

static void mac_of(uint8_t mac[6], uint32_t n)
{
	mac[0] = 0x02;
	mac[1] = 0x00;
	mac[2] = (uint8_t)(n >> 24);
	mac[3] = (uint8_t)(n >> 16);
	mac[4] = (uint8_t)(n >> 8);
	mac[5] = (uint8_t)n;
}

/* ---- state shared with the children -------------------------------------- */

struct shared {
	_Atomic uint32_t errors;
	char errmsg[512];
	_Atomic uint32_t ready;         /* receiver: port open, MAC learned */
	_Atomic uint32_t go;            /* senders: start */
	_Atomic uint32_t done;          /* senders that finished */
	_Atomic uint32_t stop;          /* long-lived children: finish */
	_Atomic uint32_t rx_stop;       /* receiver (kill case): drain and finish */
	_Atomic uint32_t rx_finishing;  /* receiver: draining the last frames */
	_Atomic uint32_t rx_done;       /* receiver: drained, counts final */
	_Atomic uint32_t release;       /* children: close and exit */
	_Atomic uint64_t sent[MAX_SENDERS];
	_Atomic uint64_t rcvd[MAX_SENDERS];
	_Atomic uint64_t rcvd_killed;   /* frames of killed senders */
	_Atomic uint64_t zero_slots;
	_Atomic uint64_t killed_opened; /* killed senders that had their port */
	_Atomic uint64_t killed_sent;   /* frames handed to txsync by them */
};

static struct shared *sh;

/*
 * Frame by frame accounting of the long-lived stress senders: after each
 * txsync a sender reads its own counters (it is their only writer), and
 * since the frames of one batch to one destination are delivered in batch
 * order until one does not fit, it knows exactly which of its frames were
 * delivered; the receiver marks what it got.  The two maps must be equal.
 */
#define MAP_BITS (1u << 23)             /* frames per sender */
struct maps {
	_Atomic uint64_t delivered[MAX_SENDERS][MAP_BITS / 64];
	_Atomic uint64_t received[MAX_SENDERS][MAP_BITS / 64];
};
static struct maps *maps;

static void map_set(_Atomic uint64_t *map, uint64_t i)
{
	if (i < MAP_BITS)
		atomic_fetch_or_explicit(&map[i / 64], UINT64_C(1) << (i % 64), memory_order_relaxed);
}

static bool map_get(_Atomic uint64_t *map, uint64_t i)
{
	return i < MAP_BITS && ((atomic_load_explicit(&map[i / 64], memory_order_relaxed) >> (i % 64)) & 1);
}

static void report(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Record a failure seen by a child; the first message is kept. */
static void report(const char *fmt, ...)
{
	va_list ap;

	if (atomic_fetch_add(&sh->errors, 1) == 0) {
		va_start(ap, fmt);
		vsnprintf(sh->errmsg, sizeof(sh->errmsg), fmt, ap);
		va_end(ap);
	}
	va_start(ap, fmt);
	fprintf(stderr, "pid %d: ", (int)getpid());
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
}

/* ---- children, broker, teardown ------------------------------------------ */

static pid_t kids[MAX_KIDS];
static pid_t broker_child;
static uint64_t rng_state = 88172645463325252ull;

static uint32_t rnd(uint32_t n)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 7;
	rng_state ^= rng_state << 17;
	return n ? (uint32_t)(rng_state % n) : 0;
}

static void sleep_us(long us)
{
	struct timespec ts = { us / 1000000, (us % 1000000) * 1000 };

	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

static void child_init(uint64_t seed)
{
	/* Never outlive the test, never block CI. */
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	alarm(60);
	rng_state = seed * UINT64_C(0x2545F4914F6CDD1D) + (uint64_t)getpid() + 1;
}

static void kid_add(pid_t pid)
{
	for (int i = 0; i < MAX_KIDS; i++) {
		if (kids[i] == 0) {
			kids[i] = pid;
			return;
		}
	}
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
	fail_msg("too many children");
}

/* Reap a child that exits by itself; its status, or -1 after `secs`. */
static int kid_wait(pid_t pid, double secs)
{
	double end = tu_now() + secs;
	int status;

	for (;;) {
		pid_t r = waitpid(pid, &status, WNOHANG);
		if (r == pid)
			break;
		if (r < 0 || tu_now() > end)
			return -1;
		sleep_us(1000);
	}
	for (int i = 0; i < MAX_KIDS; i++)
		if (kids[i] == pid)
			kids[i] = 0;
	return status;
}

static void kids_kill(void)
{
	for (int i = 0; i < MAX_KIDS; i++) {
		if (kids[i] > 0) {
			kill(kids[i], SIGKILL);
			waitpid(kids[i], NULL, 0);
			kids[i] = 0;
		}
	}
}

/* Fail the test with what the children reported. */
static void check_children(const char *when)
{
	if (atomic_load(&sh->errors)) {
		char msg[512];
		snprintf(msg, sizeof(msg), "%s", sh->errmsg);
		kids_kill();
		fail_msg("%s: %s", when, msg);
	}
}

/* Wait for `cond` (re-evaluated) for at most `secs`, failing on a child's
 * report or on the timeout. */
#define WAIT_FOR(cond, secs, ...)                                               \
	do {                                                                    \
		double end_ = tu_now() + (secs);                                \
		while (!(cond)) {                                               \
			check_children("waiting");                              \
			if (tu_now() > end_) {                                  \
				kids_kill();                                    \
				fail_msg(__VA_ARGS__);                          \
			}                                                       \
			sleep_us(500);                                          \
		}                                                               \
	} while (0)

/* Can we connect to the broker's socket yet? */
static bool broker_listening(const char *path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	bool ok;

	if (fd < 0)
		return false;
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
	ok = connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0;
	close(fd);
	return ok;
}

/*
 * A fresh runtime directory and a broker in it, in the foreground as our
 * child, with `extra` options (NULL-terminated).  The library finds it
 * through NMKIT_RUNDIR and never starts its own.
 */
static void broker_start(const char *test, const char *const *extra)
{
	const char *bin = getenv("NMKIT_BROKER");
	char *argv[32], sock[300];
	int n = 0;

	memset(sh, 0, sizeof(*sh));
	memset(maps, 0, sizeof(*maps));
	assert_int_equal(tu_setup(test), 0);
	argv[n++] = (char *)bin;
	argv[n++] = (char *)"-f";
	argv[n++] = (char *)"--idle-exit";
	argv[n++] = (char *)"10";
	for (int i = 0; extra && extra[i] && n < 30; i++)
		argv[n++] = (char *)extra[i];
	argv[n] = NULL;
	broker_child = fork();
	assert_true(broker_child >= 0);
	if (broker_child == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		execv(bin, argv);
		_exit(127);
	}
	snprintf(sock, sizeof(sock), "%s/nmkitd.sock", getenv("NMKIT_RUNDIR"));
	double end = tu_now() + 10;
	while (!broker_listening(sock)) {
		int status;
		if (waitpid(broker_child, &status, WNOHANG) == broker_child) {
			broker_child = 0;
			fail_msg("the broker exited at start (status 0x%x)", status);
		}
		if (tu_now() > end)
			fail_msg("the broker does not listen on %s after 10 s", sock);
		sleep_us(1000);
	}
}

static bool broker_alive(void)
{
	return broker_child > 0 && waitpid(broker_child, NULL, WNOHANG) == 0 &&
	       kill(broker_child, 0) == 0;
}

static int teardown_case(void **state)
{
	char path[300];

	(void)state;
	kids_kill();
	if (broker_child > 0) {
		kill(broker_child, SIGTERM);
		if (kid_wait(broker_child, 5.0) == -1) {
			kill(broker_child, SIGKILL);
			waitpid(broker_child, NULL, 0);
		}
		broker_child = 0;
		/* Already reaped: keep tu_teardown from signalling its pid. */
		const char *rd = getenv("NMKIT_RUNDIR");
		snprintf(path, sizeof(path), "%s/nmkitd.pid", rd ? rd : "/nonexistent");
		unlink(path);
	}
	tu_teardown();
	return 0;
}

/* "vale<pid><tag>": unique to this process, at most 15 characters. */
static void switch_name(char *buf, size_t len, char tag)
{
	snprintf(buf, len, "vale%d%c", (int)getpid(), tag);
}

/* ---- frames ------------------------------------------------------------- */

/* A frame: header, then tu_fill(seq) over the rest (len >= ETH_HLEN). */
static void frame_make(uint8_t *buf, uint32_t len, const uint8_t dst[6], const uint8_t src[6],
		       uint64_t seq)
{
	memcpy(buf, dst, 6);
	memcpy(buf + 6, src, 6);
	buf[12] = ETHERTYPE >> 8;
	buf[13] = ETHERTYPE & 0xff;
	tu_fill(buf + ETH_HLEN, len - ETH_HLEN, seq);
}

/* The sequence number of an intact frame, else BAD_TAG. */
static uint64_t frame_seq(const uint8_t *buf, uint32_t len)
{
	uint64_t seq;

	if (len < ETH_HLEN + 8)
		return BAD_TAG;
	memcpy(&seq, buf + ETH_HLEN, 8);
	return tu_check(buf + ETH_HLEN, len - ETH_HLEN, seq) == 0 ? seq : BAD_TAG;
}

/* The length of frame `seq` in the stress cases: mostly short, one in
 * eight over two slots, so that a torn or glued frame cannot match it. */
static uint32_t stress_len(uint64_t seq)
{
	uint64_t h = (seq + 1) * UINT64_C(0x9E3779B97F4A7C15);

	h ^= h >> 29;
	if ((h & 7) == 0)
		return 2100 + (uint32_t)((h >> 40) % 1900);
	return 60 + (uint32_t)((h >> 40) % 400);
}

/* Queue a frame at the head of a TX ring, over as many slots as needed;
 * false if it does not fit. */
static bool ring_put(struct netmap_ring *r, const uint8_t *buf, uint32_t len)
{
	uint32_t bsz = r->nr_buf_size, need = len ? (len + bsz - 1) / bsz : 1;
	uint32_t head = r->head, off = 0;

	if (nm_ring_space(r) < need)
		return false;
	do {
		struct netmap_slot *s = &r->slot[head];
		uint32_t n = len - off < bsz ? len - off : bsz;
		memcpy(NETMAP_BUF(r, s->buf_idx), buf + off, n);
		s->len = (uint16_t)n;
		s->flags = off + n < len ? NS_MOREFRAG : 0;
		off += n;
		head = nm_ring_next(r, head);
	} while (off < len);
	r->head = r->cur = head;
	return true;
}

/*
 * Take one frame from the head of an RX ring into buf: 1 (frame, *len),
 * 0 (ring empty), 2 (a zero-length slot, skipped), -1 (reported: an
 * incomplete chain, a zero-length fragment, a frame too long).
 */
static int ring_get(struct netmap_ring *r, uint8_t *buf, uint32_t cap, uint32_t *len)
{
	uint32_t i = r->head, total = 0, nfrag = 0;

	if (i == r->tail)
		return 0;
	if (r->slot[i].len == 0 && !(r->slot[i].flags & NS_MOREFRAG)) {
		r->head = r->cur = nm_ring_next(r, i);
		return 2;
	}
	for (;;) {
		if (i == r->tail) {
			report("slot %u: a frame runs into the tail (%u) with NS_MOREFRAG set", r->head,
			       r->tail);
			return -1;
		}
		struct netmap_slot *s = &r->slot[i];
		if (s->len == 0 || s->len > r->nr_buf_size || total + s->len > cap) {
			report("slot %u: fragment %u of a frame has length %u (frame so far %u bytes)",
			       i, nfrag, s->len, total);
			return -1;
		}
		memcpy(buf + total, NETMAP_BUF(r, s->buf_idx), s->len);
		total += s->len;
		nfrag++;
		i = nm_ring_next(r, i);
		if (!(s->flags & NS_MOREFRAG))
			break;
	}
	r->head = r->cur = i;
	*len = total;
	return 1;
}

static void sw_stats(const char *port, struct nmk_vale_stats *st)
{
	char err[NMK_ERRBUF_SIZE];
	*st = (struct nmk_vale_stats)NMK_VALE_STATS_INIT;
	int r = nmk_vale_get_stats(port, st, err);

	if (r < 0)
		fail_msg("nmk_vale_get_stats(%s): %s", port, err);
}

#define ASSERT_STATS(st, tx, fwd, fld, full, inval, nodest, rx)                         \
	do {                                                                            \
		assert_int_equal((st).tx_packets, (tx));                                \
		assert_int_equal((st).forwarded, (fwd));                                \
		assert_int_equal((st).flooded, (fld));                                  \
		assert_int_equal((st).drop_full, (full));                               \
		assert_int_equal((st).drop_invalid, (inval));                           \
		assert_int_equal((st).drop_nodest, (nodest));                           \
		assert_int_equal((st).rx_packets, (rx));                                \
	} while (0)

/* ---- agents: one port per process, driven over a socket ------------------- */

enum { OP_SEND = 1, OP_RECV = 2, OP_QUIT = 3 };

struct cmd {
	uint32_t op;
	uint32_t len;                   /* frame length; < ETH_HLEN: a runt */
	uint64_t tag;
	uint8_t dst[6], src[6];
};

#define MAX_RECV 32

struct reply {
	int32_t status;
	uint32_t n;                     /* frames received (may exceed MAX_RECV) */
	uint64_t tags[MAX_RECV];        /* BAD_TAG for a damaged frame */
	char err[NMK_ERRBUF_SIZE];
};

struct agent {
	pid_t pid;
	int sock;
	char port[64];
};

static void agent_send_frame(struct nmk_port *p, const struct cmd *c, struct reply *rep)
{
	struct netmap_ring *r = nmk_port_txring(p, 0);
	uint8_t buf[MAX_FRAME];

	if (c->len >= ETH_HLEN)
		frame_make(buf, c->len, c->dst, c->src, c->tag);
	else
		memset(buf, 0xff, c->len);      /* a runt: too short for a header */
	if (!ring_put(r, buf, c->len)) {
		rep->status = -ENOSPC;
		snprintf(rep->err, sizeof(rep->err), "tx ring full (head %u tail %u)", r->head,
			 r->tail);
		return;
	}
	rep->status = nmk_txsync(p);
	if (rep->status < 0)
		snprintf(rep->err, sizeof(rep->err), "%s", nmk_port_error(p));
	else if (nm_ring_space(r) != r->num_slots - 1) {
		/* After a VALE txsync the whole TX ring is free again. */
		rep->status = -EPROTO;
		snprintf(rep->err, sizeof(rep->err), "tx ring not free after txsync: head %u tail %u",
			 r->head, r->tail);
	}
}

static void agent_recv(struct nmk_port *p, struct reply *rep)
{
	struct netmap_ring *r = nmk_port_rxring(p, 0);
	uint8_t buf[MAX_FRAME];
	uint32_t len;
	int g;

	if ((rep->status = nmk_rxsync(p)) < 0) {
		snprintf(rep->err, sizeof(rep->err), "%s", nmk_port_error(p));
		return;
	}
	while ((g = ring_get(r, buf, sizeof(buf), &len)) != 0) {
		if (g < 0) {
			rep->status = -EPROTO;
			snprintf(rep->err, sizeof(rep->err), "%s", sh->errmsg);
			return;
		}
		if (g == 2)
			continue;
		if (rep->n < MAX_RECV)
			rep->tags[rep->n] = frame_seq(buf, len);
		rep->n++;
	}
	if ((rep->status = nmk_rxsync(p)) < 0)
		snprintf(rep->err, sizeof(rep->err), "%s", nmk_port_error(p));
}

static int agent_main(int sock, const char *port)
{
	char err[NMK_ERRBUF_SIZE] = "";
	struct reply rep;
	struct cmd c;
	struct nmk_port *p = nmk_port_open(port, err);

	memset(&rep, 0, sizeof(rep));
	rep.status = p ? 0 : -errno;
	snprintf(rep.err, sizeof(rep.err), "%s", err);
	if (send(sock, &rep, sizeof(rep), 0) != sizeof(rep) || p == NULL)
		return 1;
	while (recv(sock, &c, sizeof(c), 0) == sizeof(c) && c.op != OP_QUIT) {
		memset(&rep, 0, sizeof(rep));
		if (c.op == OP_SEND)
			agent_send_frame(p, &c, &rep);
		else
			agent_recv(p, &rep);
		if (send(sock, &rep, sizeof(rep), 0) != sizeof(rep))
			return 1;
	}
	nmk_port_close(p);
	return 0;
}

static void agent_start(struct agent *a, const char *port)
{
	int sv[2];
	struct reply rep;
	struct timeval tv = { 10, 0 };

	assert_int_equal(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv), 0);
	snprintf(a->port, sizeof(a->port), "%s", port);
	a->pid = fork();
	assert_true(a->pid >= 0);
	if (a->pid == 0) {
		child_init(1);
		close(sv[0]);
		_exit(agent_main(sv[1], port));
	}
	kid_add(a->pid);
	close(sv[1]);
	a->sock = sv[0];
	/* A stuck agent fails the test instead of blocking it. */
	setsockopt(a->sock, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	if (recv(a->sock, &rep, sizeof(rep), 0) != sizeof(rep))
		fail_msg("agent for %s: no answer", port);
	if (rep.status < 0)
		fail_msg("agent for %s: open: %s", port, rep.err);
}

static void agent_call(struct agent *a, const struct cmd *c, struct reply *rep)
{
	if (send(a->sock, c, sizeof(*c), 0) != sizeof(*c) ||
	    recv(a->sock, rep, sizeof(*rep), 0) != sizeof(*rep))
		fail_msg("agent for %s: no answer (%s)", a->port, strerror(errno));
}

/* Send one frame from agent a; its txsync must succeed. */
static void agent_send(struct agent *a, const uint8_t dst[6], const uint8_t src[6], uint32_t len,
		       uint64_t tag)
{
	struct cmd c = { .op = OP_SEND, .len = len, .tag = tag };
	struct reply rep;

	memcpy(c.dst, dst, 6);
	memcpy(c.src, src, 6);
	agent_call(a, &c, &rep);
	if (rep.status < 0)
		fail_msg("%s: send of frame %llu: %s (%d)", a->port, (unsigned long long)tag, rep.err,
			 rep.status);
}

/* What agent a has received since the last call must be exactly the
 * intact frames tags[0..n), in order. */
static void agent_expect(struct agent *a, const char *what, unsigned n, ...)
{
	struct cmd c = { .op = OP_RECV };
	struct reply rep;
	va_list ap;

	agent_call(a, &c, &rep);
	if (rep.status < 0)
		fail_msg("%s: %s: receive: %s", what, a->port, rep.err);
	if (rep.n != n) {
		char got[256] = "";
		size_t o = 0;
		for (uint32_t i = 0; i < rep.n && i < MAX_RECV && o < sizeof(got) - 24; i++)
			o += (size_t)snprintf(got + o, sizeof(got) - o, " %lld",
					      (long long)rep.tags[i]);
		fail_msg("%s: %s received %u frame(s) (tags:%s), expected %u", what, a->port, rep.n,
			 got, n);
	}
	va_start(ap, n);
	for (unsigned i = 0; i < n; i++) {
		uint64_t want = va_arg(ap, uint64_t);
		if (rep.tags[i] != want) {
			va_end(ap);
			fail_msg("%s: %s: frame %u is %lld, expected %llu", what, a->port, i,
				 (long long)rep.tags[i], (unsigned long long)want);
		}
	}
	va_end(ap);
}

static void agent_stop(struct agent *a)
{
	/* Explicitly: the other agents hold copies of our socket's end. */
	struct cmd c = { .op = OP_QUIT };

	if (send(a->sock, &c, sizeof(c), 0) != sizeof(c))
		fail_msg("agent for %s: %s", a->port, strerror(errno));
	close(a->sock);
	int status = kid_wait(a->pid, 5.0);
	if (status == -1)
		fail_msg("agent for %s did not exit", a->port);
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
		fail_msg("agent for %s failed (status 0x%x)", a->port, status);
}

#define T(x) ((uint64_t)(x))

/* ---- 1. learning, flooding, counters ------------------------------------------- */

static void test_learning(void **state)
{
	char sw[16], pa[32], pb[32], pc[32];
	uint8_t ma[6], mb[6], mc[6];
	struct agent A, B, C;
	struct nmk_vale_stats sa, sb, sc;

	(void)state;
	broker_start("vale", NULL);
	switch_name(sw, sizeof(sw), 'a');
	snprintf(pa, sizeof(pa), "%s:a", sw);
	snprintf(pb, sizeof(pb), "%s:b", sw);
	snprintf(pc, sizeof(pc), "%s:c", sw);
	mac_of(ma, 0x0a);
	mac_of(mb, 0x0b);
	mac_of(mc, 0x0c);
	agent_start(&A, pa);
	agent_start(&B, pb);
	agent_start(&C, pc);

	/* A broadcast reaches everyone but its sender, and teaches A's MAC. */
	agent_send(&A, BCAST, ma, 60, 1);
	agent_expect(&A, "broadcast", 0);
	agent_expect(&B, "broadcast", 1, T(1));
	agent_expect(&C, "broadcast", 1, T(1));

	/* To A's learned MAC: A only. */
	agent_send(&B, ma, mb, 100, 2);
	agent_expect(&A, "unicast to A", 1, T(2));
	agent_expect(&B, "unicast to A", 0);
	agent_expect(&C, "unicast to A", 0);

	/* Unknown unicast and multicast are flooded, never back to the sender. */
	agent_send(&C, UNKNOWN, mc, 1514, 3);
	agent_expect(&A, "unknown unicast", 1, T(3));
	agent_expect(&B, "unknown unicast", 1, T(3));
	agent_expect(&C, "unknown unicast", 0);
	agent_send(&B, MCAST, mb, 64, 4);
	agent_expect(&A, "multicast", 1, T(4));
	agent_expect(&B, "multicast", 0);
	agent_expect(&C, "multicast", 1, T(4));

	/* To the sender's own MAC: nowhere (drop_nodest). */
	agent_send(&A, ma, ma, 60, 5);
	agent_expect(&A, "to itself", 0);
	agent_expect(&B, "to itself", 0);
	agent_expect(&C, "to itself", 0);

	/* B and C were learned from their frames above. */
	agent_send(&C, mb, mc, 60, 6);
	agent_send(&A, mc, ma, 60, 7);
	agent_expect(&A, "unicast to B, C", 0);
	agent_expect(&B, "unicast to B, C", 1, T(6));
	agent_expect(&C, "unicast to B, C", 1, T(7));

	/* A runt (shorter than a header) goes nowhere. */
	agent_send(&B, BCAST, mb, 10, 8);
	agent_expect(&A, "runt", 0);
	agent_expect(&C, "runt", 0);

	/* A broadcast still floods after all the learning. */
	agent_send(&C, BCAST, mc, 60, 9);
	agent_expect(&A, "broadcast again", 1, T(9));
	agent_expect(&B, "broadcast again", 1, T(9));
	agent_expect(&C, "broadcast again", 0);

	/*              tx fwd fld full inv nodest rx */
	sw_stats(pa, &sa);
	sw_stats(pb, &sb);
	sw_stats(pc, &sc);
	ASSERT_STATS(sa, 3, 1, 2, 0, 0, 1, 4);  /* sent 1,5,7; got 2,3,4,9 */
	ASSERT_STATS(sb, 3, 1, 2, 0, 0, 1, 4);  /* sent 2,4,runt; got 1,3,6,9 */
	ASSERT_STATS(sc, 3, 1, 4, 0, 0, 0, 3);  /* sent 3,6,9; got 1,4,7 */
	assert_int_not_equal(sa.port_index, sb.port_index);
	assert_int_not_equal(sb.port_index, sc.port_index);
	assert_int_not_equal(sa.port_index, sc.port_index);

	agent_stop(&A);
	agent_stop(&B);
	agent_stop(&C);
}

/* ---- 2. aging ------------------------------------------------------------- */

static void test_aging(void **state)
{
	static const char *const args[] = { "--vale-age", "2", NULL };
	char sw[16], pa[32], pb[32], pc[32];
	uint8_t ma[6], mb[6];
	struct agent A, B, C;
	struct nmk_vale_stats sb;

	(void)state;
	broker_start("vale", args);
	switch_name(sw, sizeof(sw), 'b');
	snprintf(pa, sizeof(pa), "%s:a", sw);
	snprintf(pb, sizeof(pb), "%s:b", sw);
	snprintf(pc, sizeof(pc), "%s:c", sw);
	mac_of(ma, 0x0a);
	mac_of(mb, 0x0b);
	agent_start(&A, pa);
	agent_start(&B, pb);
	agent_start(&C, pc);

	agent_send(&A, BCAST, ma, 60, 1);
	agent_expect(&B, "learn", 1, T(1));
	agent_expect(&C, "learn", 1, T(1));
	agent_send(&B, ma, mb, 60, 2);
	agent_expect(&A, "learned", 1, T(2));
	agent_expect(&C, "learned", 0);

	/* A is silent for longer than the 2 s lifetime (B's frames to A do
	 * not refresh A's entry). */
	sleep_us(3200000);
	agent_send(&B, ma, mb, 60, 3);
	agent_expect(&A, "aged out", 1, T(3));
	agent_expect(&C, "aged out", 1, T(3));

	/* A speaks again: learned again. */
	agent_send(&A, BCAST, ma, 60, 4);
	agent_expect(&B, "relearn", 1, T(4));
	agent_expect(&C, "relearn", 1, T(4));
	agent_send(&B, ma, mb, 60, 5);
	agent_expect(&A, "relearned", 1, T(5));
	agent_expect(&C, "relearned", 0);

	sw_stats(pb, &sb);
	ASSERT_STATS(sb, 3, 2, 2, 0, 0, 0, 2);

	agent_stop(&A);
	agent_stop(&B);
	agent_stop(&C);
}

/* ---- 3. a MAC that moves --------------------------------------------------- */

static void test_moved_mac(void **state)
{
	char sw[16], pa[32], pb[32], pc[32];
	uint8_t m[6], mb[6];
	struct agent A, B, C;

	(void)state;
	broker_start("vale", NULL);
	switch_name(sw, sizeof(sw), 'c');
	snprintf(pa, sizeof(pa), "%s:a", sw);
	snprintf(pb, sizeof(pb), "%s:b", sw);
	snprintf(pc, sizeof(pc), "%s:c", sw);
	mac_of(m, 0x4d4d);
	mac_of(mb, 0x0b);
	agent_start(&A, pa);
	agent_start(&B, pb);
	agent_start(&C, pc);

	/* M on A. */
	agent_send(&A, BCAST, m, 60, 1);
	agent_expect(&B, "M on A", 1, T(1));
	agent_expect(&C, "M on A", 1, T(1));
	agent_send(&B, m, mb, 60, 2);
	agent_expect(&A, "to M on A", 1, T(2));
	agent_expect(&C, "to M on A", 0);

	/* M moves to C: its first frame from C (a unicast to B, so that no
	 * flooding hides anything) teaches the switch. */
	agent_send(&C, mb, m, 60, 3);
	agent_expect(&A, "M moves", 0);
	agent_expect(&B, "M moves", 1, T(3));
	agent_send(&B, m, mb, 60, 4);
	agent_expect(&A, "to M on C", 0);
	agent_expect(&C, "to M on C", 1, T(4));
	agent_expect(&B, "to M on C", 0);

	/* And back. */
	agent_send(&A, mb, m, 60, 5);
	agent_expect(&B, "M back", 1, T(5));
	agent_send(&B, m, mb, 60, 6);
	agent_expect(&A, "to M on A again", 1, T(6));
	agent_expect(&C, "to M on A again", 0);

	agent_stop(&A);
	agent_stop(&B);
	agent_stop(&C);
}

/* ---- 4. many senders, one receiver, exact accounting ----------------------- */

/*
 * The receiver of the stress cases.  Every frame must be addressed to it,
 * intact, with the length its sequence number dictates, and later than the
 * previous frame of the same sender (seq = sender << 32 | index; gaps are
 * the sender's drops).  It publishes its per-sender counts as it goes; when
 * told to (sh->rx_stop, kill case) or when all `nsenders` are done
 * (many-senders case) it drains until two poll timeouts in a row bring
 * nothing, then sets rx_done and waits to be released.  `timeout_ms` is
 * its poll timeout while running (-1: it sleeps until a sender wakes it).
 */
static int stress_receiver(const char *port, const uint8_t mac[6], uint32_t nsenders,
			   bool kill_case, int timeout_ms)
{
	char err[NMK_ERRBUF_SIZE];
	struct nmk_port *p = nmk_port_open(port, err);
	static uint64_t next[MAX_INC];
	static uint8_t buf[MAX_FRAME];
	uint64_t local[MAX_SENDERS] = { 0 }, killed = 0, zero = 0;
	uint32_t len;
	int idle = 0;

	if (p == NULL) {
		report("open %s: %s", port, err);
		return 1;
	}
	struct netmap_ring *rx = nmk_port_rxring(p, 0), *tx = nmk_port_txring(p, 0);
	/* Teach the switch our MAC. */
	frame_make(buf, 60, BCAST, mac, 0);
	if (!ring_put(tx, buf, 60) || nmk_txsync(p) < 0) {
		report("%s: learning frame: %s", port, nmk_port_error(p));
		return 1;
	}
	atomic_store(&sh->ready, 1);
	for (;;) {
		/* The kill case says when (it first checks that everything
		 * arrives while we sleep in poll); otherwise once all the
		 * senders are done. */
		bool finishing = kill_case ? atomic_load(&sh->rx_stop) != 0
					   : atomic_load(&sh->done) == nsenders;
		int rev = nmk_port_poll(p, POLLIN, finishing ? 100 : timeout_ms);
		if (rev < 0 && rev != -EINTR) {
			report("%s: poll: %s", port, nmk_strerror(rev));
			return 1;
		}
		uint32_t got = 0;
		int g;
		while ((g = ring_get(rx, buf, sizeof(buf), &len)) != 0) {
			if (g < 0)
				return 1;
			if (g == 2) {
				zero++;
				continue;
			}
			uint64_t seq = frame_seq(buf, len);
			uint32_t id = (uint32_t)(seq >> 32), idx = (uint32_t)seq;
			if (seq == BAD_TAG || len != stress_len(seq)) {
				memcpy(&seq, buf + ETH_HLEN, 8);
				report("%s: damaged frame: %u bytes, seq %u:%u (expected %u bytes)", port,
				       len, (unsigned)(seq >> 32), (unsigned)seq,
				       len >= ETH_HLEN + 8 ? stress_len(seq) : 0);
				return 1;
			}
			if (memcmp(buf, mac, 6) != 0) {
				report("%s: frame %u:%u is not addressed to us", port, id, idx);
				return 1;
			}
			if (id >= (kill_case ? MAX_INC : nsenders)) {
				report("%s: frame from unknown sender %u", port, id);
				return 1;
			}
			if (idx < next[id]) {
				report("%s: sender %u: frame %u after frame %llu (duplicate or reordered)",
				       port, id, idx, (unsigned long long)next[id] - 1);
				return 1;
			}
			next[id] = (uint64_t)idx + 1;
			if (id < MAX_SENDERS && (!kill_case || id == 0)) {
				local[id]++;
				map_set(maps->received[id], idx);
			} else {
				killed++;
			}
			got++;
		}
		if (nmk_rxsync(p) < 0) {
			report("%s: rxsync: %s", port, nmk_port_error(p));
			return 1;
		}
		for (uint32_t i = 0; i < MAX_SENDERS; i++)
			atomic_store(&sh->rcvd[i], local[i]);
		atomic_store(&sh->rcvd_killed, killed);
		atomic_store(&sh->zero_slots, zero);
		if (finishing) {
			atomic_store(&sh->rx_finishing, 1);
			/* Done after two full poll timeouts (100 ms, longer than
			 * a lease may stay with a dead sender before it is
			 * completed) that brought nothing; a poll cut short by a
			 * signal or a spurious wake-up does not count. */
			if (got)
				idle = 0;
			else if (rev == 0)
				idle++;
			if (idle >= 2)
				break;
		}
	}
	atomic_store(&sh->rx_done, 1);
	while (!atomic_load(&sh->release))
		sleep_us(1000);
	nmk_port_close(p);
	return 0;
}

/*
 * A stress sender: bursts of 1-96 frames to `dst`, each burst one txsync,
 * with now and then a yield, until `count` frames (or sh->stop when count
 * is 0).  Then done++, and it waits to be released, so that its port (and
 * its counters) stay until the test has read them.
 */
static int stress_sender(const char *port, uint32_t id, const uint8_t dst[6], uint64_t count)
{
	char err[NMK_ERRBUF_SIZE];
	struct nmk_port *p = nmk_port_open(port, err);
	static uint8_t buf[MAX_FRAME];
	uint8_t mac[6];
	uint64_t n = 0;

	if (p == NULL) {
		report("open %s: %s", port, err);
		return 1;
	}
	mac_of(mac, 0x100 + id);
	struct netmap_ring *tx = nmk_port_txring(p, 0);
	/* Our counters, in the switch's shared memory. */
	const struct nmk_mem *m = &p->mem;
	struct nmk_vale_port *vp = (struct nmk_vale_port *)((char *)nmk_switch_section(m) +
		sizeof(struct nmk_vale_hdr)) + p->tx_view[0].vport;
	uint64_t fwd0 = atomic_load(&vp->forwarded);
	uint64_t drop0 = atomic_load(&vp->drop_full) + atomic_load(&vp->drop_nodest);
	while (!atomic_load(&sh->go))
		sleep_us(200);
	while (count ? n < count : !atomic_load(&sh->stop)) {
		uint32_t burst = 1 + rnd(96);
		uint64_t first = n;
		for (uint32_t q = 0; q < burst && (!count || n < count); q++) {
			uint64_t seq = (uint64_t)id << 32 | n;
			uint32_t len = stress_len(seq);
			frame_make(buf, len, dst, mac, seq);
			if (!ring_put(tx, buf, len)) {
				report("%s: tx ring full before txsync", port);
				return 1;
			}
			n++;
		}
		if (nmk_txsync(p) < 0) {
			report("%s: txsync: %s", port, nmk_port_error(p));
			return 1;
		}
		uint64_t fwd = atomic_load(&vp->forwarded);
		uint64_t drop = atomic_load(&vp->drop_full) + atomic_load(&vp->drop_nodest);
		if ((fwd - fwd0) + (drop - drop0) != n - first) {
			report("%s: a batch of %llu frames counted as %llu forwarded and %llu dropped",
			       port, (unsigned long long)(n - first), (unsigned long long)(fwd - fwd0),
			       (unsigned long long)(drop - drop0));
			return 1;
		}
		for (uint64_t i = first; i < first + (fwd - fwd0); i++)
			map_set(maps->delivered[id], i);
		fwd0 = fwd;
		drop0 = drop;
		atomic_store(&sh->sent[id], n);
		if (rnd(4) == 0)
			sched_yield();
		else if (count == 0 && rnd(8) == 0)
			sleep_us(rnd(300));     /* the long-lived one leaves room */
	}
	atomic_fetch_add(&sh->done, 1);
	while (!atomic_load(&sh->release))
		sleep_us(1000);
	nmk_port_close(p);
	return 0;
}

static pid_t spawn(int (*fn)(const void *), const void *arg, uint64_t seed)
{
	pid_t pid = fork();

	assert_true(pid >= 0);
	if (pid == 0) {
		child_init(seed);
		_exit(fn(arg));
	}
	kid_add(pid);
	return pid;
}

struct role {
	char port[32];
	uint8_t mac[6];
	uint32_t id, nsenders;
	uint64_t count;
	bool kill_case;
	int timeout_ms;
};

static int run_receiver(const void *a)
{
	const struct role *r = a;
	return stress_receiver(r->port, r->mac, r->nsenders, r->kill_case, r->timeout_ms);
}

static int run_sender(const void *a)
{
	const struct role *r = a;
	return stress_sender(r->port, r->id, r->mac, r->count);
}

/* Frames of sender `id` (of `sent`) delivered but not received, or
 * received but not delivered: fail with the first runs of them. */
static void maps_compare(uint32_t id, uint64_t sent)
{
	char msg[400] = "";
	size_t o = 0;
	uint64_t bad = 0, i = 0;

	if (sent > MAP_BITS)
		sent = MAP_BITS;
	while (i < sent) {
		bool d = map_get(maps->delivered[id], i), r = map_get(maps->received[id], i);
		if (d == r) {
			i++;
			continue;
		}
		uint64_t j = i;
		while (j < sent && map_get(maps->delivered[id], j) == d &&
		       map_get(maps->received[id], j) == r)
			j++;
		bad += j - i;
		if (o < sizeof(msg) - 80) {
			/* What the sender's batch did just before the run. */
			uint64_t k = i;
			while (k > 0 && i - k < 4096 && map_get(maps->delivered[id], k - 1))
				k--;
			o += (size_t)snprintf(msg + o, sizeof(msg) - o,
					      " [%llu, %llu) %s (delivered run from %llu);",
					      (unsigned long long)i, (unsigned long long)j,
					      d ? "delivered, not received" : "received, not delivered",
					      (unsigned long long)k);
		}
		i = j;
	}
	if (bad) {
		kids_kill();
		fail_msg("sender %u: %llu frame(s) where the switch and the receiver disagree:%s", id,
			 (unsigned long long)bad, msg);
	}
}

#define C4_SENDERS 3
#define C4_FRAMES  200000

static void test_many_senders(void **state)
{
	char sw[16];
	struct role rr, rs[C4_SENDERS];
	pid_t pids[C4_SENDERS + 1];
	double t0 = tu_now();

	(void)state;
	broker_start("vale", NULL);
	switch_name(sw, sizeof(sw), 'd');
	memset(&rr, 0, sizeof(rr));
	snprintf(rr.port, sizeof(rr.port), "%s:r", sw);
	mac_of(rr.mac, 0x77);
	rr.nsenders = C4_SENDERS;
	rr.timeout_ms = 100;
	pids[C4_SENDERS] = spawn(run_receiver, &rr, 100);
	WAIT_FOR(atomic_load(&sh->ready), 5.0, "the receiver did not start");
	/* The senders open after the receiver's learning broadcast, so their
	 * own RX rings stay empty and every frame they send is a unicast. */
	for (uint32_t i = 0; i < C4_SENDERS; i++) {
		memset(&rs[i], 0, sizeof(rs[i]));
		snprintf(rs[i].port, sizeof(rs[i].port), "%s:s%u", sw, i);
		memcpy(rs[i].mac, rr.mac, 6);
		rs[i].id = i;
		rs[i].count = C4_FRAMES;
		pids[i] = spawn(run_sender, &rs[i], i + 1);
	}
	atomic_store(&sh->go, 1);
	WAIT_FOR(atomic_load(&sh->done) == C4_SENDERS, 40.0,
		 "the senders did not finish in 40 s (sent %llu, %llu, %llu)",
		 (unsigned long long)atomic_load(&sh->sent[0]),
		 (unsigned long long)atomic_load(&sh->sent[1]),
		 (unsigned long long)atomic_load(&sh->sent[2]));
	WAIT_FOR(atomic_load(&sh->rx_done), 10.0, "the receiver did not finish draining");
	check_children("end");

	struct nmk_vale_stats st[C4_SENDERS], sr;
	uint64_t total = 0, drops = 0;
	for (uint32_t i = 0; i < C4_SENDERS; i++) {
		sw_stats(rs[i].port, &st[i]);
		uint64_t sent = atomic_load(&sh->sent[i]), got = atomic_load(&sh->rcvd[i]);
		if (sent != C4_FRAMES || st[i].tx_packets != sent ||
		    got + st[i].drop_full + st[i].drop_nodest != sent || st[i].forwarded != got ||
		    st[i].flooded != 0 || st[i].drop_invalid != 0) {
			kids_kill();
			fail_msg("sender %u: sent %llu, tx_packets %llu, received %llu, forwarded %llu, "
				 "flooded %llu, drop_full %llu, drop_nodest %llu, drop_invalid %llu",
				 i, (unsigned long long)sent, (unsigned long long)st[i].tx_packets,
				 (unsigned long long)got, (unsigned long long)st[i].forwarded,
				 (unsigned long long)st[i].flooded,
				 (unsigned long long)st[i].drop_full,
				 (unsigned long long)st[i].drop_nodest,
				 (unsigned long long)st[i].drop_invalid);
		}
		total += got;
		drops += st[i].drop_full;
	}
	for (uint32_t i = 0; i < C4_SENDERS; i++)
		maps_compare(i, atomic_load(&sh->sent[i]));
	sw_stats(rr.port, &sr);
	assert_int_equal(sr.rx_packets, total);
	atomic_store(&sh->release, 1);
	for (uint32_t i = 0; i <= C4_SENDERS; i++) {
		int status = kid_wait(pids[i], 5.0);
		if (status == -1 || !WIFEXITED(status) || WEXITSTATUS(status) != 0)
			fail_msg("child %u exited badly (status 0x%x)", i, status);
	}
	printf("# %u senders x %u frames: %llu received (%llu, %llu, %llu), %llu dropped "
	       "(ring full), %llu empty slots, %.1f s\n",
	       C4_SENDERS, C4_FRAMES, (unsigned long long)total,
	       (unsigned long long)atomic_load(&sh->rcvd[0]),
	       (unsigned long long)atomic_load(&sh->rcvd[1]),
	       (unsigned long long)atomic_load(&sh->rcvd[2]), (unsigned long long)drops,
	       (unsigned long long)atomic_load(&sh->zero_slots), tu_now() - t0);
}

/* ---- 5. senders killed in the middle of their batches ----------------------- */

#define KILL_BATCH  25
#define KILL_TOTAL  400

/* A short-lived sender: its own port, frames to the receiver as fast as it
 * can, in large bursts (so that a kill often lands inside a lease), until
 * it is killed. */
static int killed_sender(const void *a)
{
	const struct role *r = a;
	char err[NMK_ERRBUF_SIZE];
	struct nmk_port *p = nmk_port_open(r->port, err);
	static uint8_t buf[MAX_FRAME];
	uint8_t mac[6];
	uint64_t n = 0;

	if (p == NULL) {
		report("open %s: %s", r->port, err);
		return 1;
	}
	atomic_fetch_add(&sh->killed_opened, 1);
	mac_of(mac, 0x10000 + r->id);
	struct netmap_ring *tx = nmk_port_txring(p, 0);
	for (;;) {
		uint32_t burst = 64 + rnd(400), q;
		for (q = 0; q < burst; q++) {
			uint64_t seq = (uint64_t)r->id << 32 | n;
			uint32_t len = stress_len(seq);
			frame_make(buf, len, r->mac, mac, seq);
			if (!ring_put(tx, buf, len))
				break;
			n++;
		}
		if (nmk_txsync(p) < 0) {
			report("%s: txsync: %s", r->port, nmk_port_error(p));
			return 1;
		}
		atomic_fetch_add(&sh->killed_sent, q);
	}
}

static void sigusr1(int sig)
{
	(void)sig;      /* only to interrupt poll */
}

static int run_kill_receiver(const void *a)
{
	struct sigaction sa = { .sa_handler = sigusr1 };

	sigemptyset(&sa.sa_mask);
	sigaction(SIGUSR1, &sa, NULL);
	return run_receiver(a);
}

/*
 * For a failure report: the state of RX ring 0 of switch port `name`, as
 * the control object holds it (seen through a probe port opened on the
 * same switch, which shares the region).
 */
static void dump_rx_ring(const char *sw, const char *name)
{
	char probe[32], err[NMK_ERRBUF_SIZE];
	struct nmk_vale_stats st = NMK_VALE_STATS_INIT;

	snprintf(probe, sizeof(probe), "%s:probe", sw);
	if (nmk_vale_get_stats(name, &st, err) < 0) {
		printf("# dump: %s\n", err);
		return;
	}
	struct nmk_port *p = nmk_port_open(probe, err);
	if (p == NULL) {
		printf("# dump: %s\n", err);
		return;
	}
	const struct nmk_mem *m = &p->mem;
	const struct nmk_vale_port *vp = (const struct nmk_vale_port *)
		((char *)nmk_switch_section(m) + sizeof(struct nmk_vale_hdr)) + st.port_index;
	uint32_t ki = vp->rx_kring[0];
	struct nmk_kring *k = nmk_kring_at(m, ki);
	struct netmap_ring *r = nmk_ring_at(m->base, m->l, ki);
	const struct nmk_lease *L = nmk_leases_of(m, ki);
	printf("# %s rx ring: kring %u, %u slots, state %u, hwcur %u hwtail %u, ring head %u "
	       "cur %u tail %u, lock %#llx, busy %u, armed 0x%llx, stopped %u, leases [%u, %u)\n",
	       name, ki, k->num_slots, atomic_load(&vp->state), atomic_load(&k->hwcur),
	       atomic_load(&k->hwtail), r->head, r->cur, r->tail,
	       (unsigned long long)atomic_load(&k->lock),
	       atomic_load(&k->busy), (unsigned long long)atomic_load(&k->armed),
	       atomic_load(&k->stopped), k->lease_head, k->lease_tail);
	for (uint32_t i = k->lease_head; i != k->lease_tail && i - k->lease_head < NMK_LEASES; i++) {
		const struct nmk_lease *l = &L[i % NMK_LEASES];
		uint32_t pid = atomic_load((_Atomic uint32_t *)&l->pid);
		printf("#   lease %u: [%u, %u) pid %u%s stamp %u\n", i, l->start, l->end, pid,
		       pid && kill((pid_t)pid, 0) < 0 ? " (dead)" : "", l->stamp);
	}
	nmk_port_close(p);
}

/*
 * A long-lived receiver (asleep in poll without a timeout) and a
 * long-lived "other" sender; KILL_TOTAL short-lived senders, each on a
 * port of its own, blasting frames at the receiver and killed after a
 * random 0-5 ms (often in the middle of a lease).  After each batch of
 * kills the other sender's frames must keep arriving (within 2 s); after
 * the last one, everything the switch delivered must arrive although
 * nobody sends any more; every frame must be intact; the other sender's
 * frames must be exactly those its counters say were delivered; the dead
 * senders' ports must go away; the broker must survive.
 */
static void test_kill_senders(void **state)
{
	char sw[16];
	struct role rr, ro, rk;
	pid_t rpid, opid;
	double t0 = tu_now();
	unsigned kills = 0, stalls = 0;
	double worst = 0;

	(void)state;
	broker_start("vale", NULL);
	switch_name(sw, sizeof(sw), 'e');
	memset(&rr, 0, sizeof(rr));
	snprintf(rr.port, sizeof(rr.port), "%s:r", sw);
	mac_of(rr.mac, 0x77);
	rr.kill_case = true;
	rr.nsenders = 1;
	/* The receiver sleeps until a sender wakes it: a ring stuck behind a
	 * dead sender's lease would leave it asleep for good. */
	rr.timeout_ms = -1;
	rpid = spawn(run_kill_receiver, &rr, 100);
	WAIT_FOR(atomic_load(&sh->ready), 5.0, "the receiver did not start");

	memset(&ro, 0, sizeof(ro));
	snprintf(ro.port, sizeof(ro.port), "%s:o", sw);
	memcpy(ro.mac, rr.mac, 6);
	ro.id = 0;
	ro.count = 0;   /* until stop */
	opid = spawn(run_sender, &ro, 7);
	atomic_store(&sh->go, 1);
	WAIT_FOR(atomic_load(&sh->rcvd[0]) > 0, 5.0, "no frame of the other sender arrived");

	memset(&rk, 0, sizeof(rk));
	memcpy(rk.mac, rr.mac, 6);
	rng_state = 0x5eed;
	while (kills < KILL_TOTAL) {
		for (unsigned b = 0; b < KILL_BATCH; b++, kills++) {
			/* A new port each time: a dead sender's port is removed
			 * by the broker while the next one runs. */
			rk.id = 1 + kills;
			snprintf(rk.port, sizeof(rk.port), "%s:k%u", sw, kills);
			pid_t pid = fork();
			assert_true(pid >= 0);
			if (pid == 0) {
				child_init(kills);
				_exit(killed_sender(&rk));
			}
			sleep_us((long)rnd(5001));
			kill(pid, SIGKILL);
			int status;
			assert_int_equal(waitpid(pid, &status, 0), pid);
			if (!WIFSIGNALED(status)) {
				check_children("killed sender");
				kids_kill();
				fail_msg("kill %u: the sender exited by itself (status 0x%x)", kills,
					 status);
			}
		}
		check_children("after a batch of kills");
		/* After the last batch, stop at once: the drain below checks
		 * that what the last victims left behind gets through. */
		if (kills >= KILL_TOTAL)
			break;
		/* Progress: the other sender's frames keep arriving. */
		uint64_t before = atomic_load(&sh->rcvd[0]);
		double tb = tu_now();
		while (atomic_load(&sh->rcvd[0]) == before && tu_now() - tb < 2.0)
			sleep_us(500);
		if (atomic_load(&sh->rcvd[0]) == before)
			dump_rx_ring(sw, rr.port);      /* for the failure report */
		WAIT_FOR(atomic_load(&sh->rcvd[0]) > before, 0.0,
			 "after %u kills: no frame from the other sender for 2 s (ring stalled?); "
			 "received %llu from it, %llu from killed senders", kills,
			 (unsigned long long)before,
			 (unsigned long long)atomic_load(&sh->rcvd_killed));
		if (tu_now() - tb > worst)
			worst = tu_now() - tb;
		if (tu_now() - tb > 0.1)
			stalls++;
	}

	/* Stop the other sender.  Everything the switch delivered to the
	 * receiver must reach it while it sleeps in poll without a timeout,
	 * even frames queued behind a lease that a sender killed a moment ago
	 * left unfinished: nobody sends any more, so only the library and the
	 * broker can complete that lease and wake the receiver. */
	atomic_store(&sh->stop, 1);
	WAIT_FOR(atomic_load(&sh->done) == 1, 5.0, "the other sender did not stop");
	struct nmk_vale_stats so;
	sw_stats(ro.port, &so);
	double td = tu_now();
	while (atomic_load(&sh->rcvd[0]) < so.forwarded && tu_now() - td < 2.0)
		sleep_us(1000);
	if (atomic_load(&sh->rcvd[0]) < so.forwarded) {
		dump_rx_ring(sw, rr.port);
		kids_kill();
		fail_msg("the switch delivered %llu frames of the other sender, the receiver (asleep "
			 "in poll) got %llu within 2 s after the last send",
			 (unsigned long long)so.forwarded,
			 (unsigned long long)atomic_load(&sh->rcvd[0]));
	}
	double drain_s = tu_now() - td;

	/* Then let the receiver drain and finish (a signal, since it may be
	 * asleep in poll with nobody left to wake it). */
	atomic_store(&sh->rx_stop, 1);
	double end = tu_now() + 5;
	while (!atomic_load(&sh->rx_done)) {
		check_children("draining");
		if (tu_now() > end) {
			kids_kill();
			fail_msg("the receiver did not finish draining");
		}
		if (!atomic_load(&sh->rx_finishing))
			kill(rpid, SIGUSR1);
		sleep_us(20000);
	}
	check_children("end");

	/* Exact accounting for the survivor, whatever the dead did. */
	maps_compare(0, atomic_load(&sh->sent[0]));
	sw_stats(ro.port, &so);
	uint64_t sent = atomic_load(&sh->sent[0]), got = atomic_load(&sh->rcvd[0]);
	if (so.tx_packets != sent || got + so.drop_full + so.drop_nodest != sent ||
	    so.forwarded != got) {
		kids_kill();
		fail_msg("other sender: sent %llu, tx_packets %llu, received %llu, forwarded %llu, "
			 "drop_full %llu, drop_nodest %llu", (unsigned long long)sent,
			 (unsigned long long)so.tx_packets, (unsigned long long)got,
			 (unsigned long long)so.forwarded, (unsigned long long)so.drop_full,
			 (unsigned long long)so.drop_nodest);
	}

	/* The dead senders' ports go away: only r and o remain. */
	char err[NMK_ERRBUF_SIZE];
	unsigned left = 0;
	double tl = tu_now() + 3;
	do {
		struct nmk_vale_entry e = NMK_VALE_ENTRY_INIT;
		uint32_t cur = 0;
		int r;
		left = 0;
		while ((r = nmk_vale_list(&cur, &e, err)) > 0)
			left += strcmp(e.switch_name, sw) == 0;
		if (r < 0)
			fail_msg("nmk_vale_list: %s", err);
		if (left == 2)
			break;
		sleep_us(20000);
	} while (tu_now() < tl);
	if (left != 2) {
		kids_kill();
		fail_msg("%u ports left on %s 3 s after the last kill, expected 2", left, sw);
	}
	assert_true(broker_alive());

	atomic_store(&sh->release, 1);
	int status = kid_wait(rpid, 5.0);
	if (status == -1 || !WIFEXITED(status) || WEXITSTATUS(status) != 0)
		fail_msg("receiver exited badly (status 0x%x)", status);
	status = kid_wait(opid, 5.0);
	if (status == -1 || !WIFEXITED(status) || WEXITSTATUS(status) != 0)
		fail_msg("other sender exited badly (status 0x%x)", status);
	printf("# %u kills (%llu after opening their port): other sender %llu sent, %llu received, "
	       "%llu dropped full; %llu frames of killed senders received of %llu sent; "
	       "%llu empty slots; %u batches waited over 100 ms for progress (worst %.3f s); "
	       "last frames in %.3f s; %.1f s\n",
	       kills, (unsigned long long)atomic_load(&sh->killed_opened), (unsigned long long)sent,
	       (unsigned long long)got, (unsigned long long)so.drop_full,
	       (unsigned long long)atomic_load(&sh->rcvd_killed),
	       (unsigned long long)atomic_load(&sh->killed_sent),
	       (unsigned long long)atomic_load(&sh->zero_slots), stalls, worst, drain_s,
	       tu_now() - t0);
}

/* ---- 6. port and switch limits --------------------------------------------------- */

#define BIG_PORTS 1024

static void test_many_ports(void **state)
{
	char sw[16], name[64], err[NMK_ERRBUF_SIZE], bufs[32], nports[16];
	const char *args[] = { "--vale-ports", nports, "--vale-buffers", bufs, NULL };
	struct rlimit rl;
	static struct nmk_port *ports[BIG_PORTS];
	uint8_t mfirst[6], mlast[6], buf[128];
	double t0 = tu_now();

	(void)state;
	/* One connection per port here, and as many in the broker (which
	 * inherits the limit). */
	assert_int_equal(getrlimit(RLIMIT_NOFILE, &rl), 0);
	if (rl.rlim_cur < 4096) {
		rl.rlim_cur = rl.rlim_max < 4096 ? rl.rlim_max : 4096;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
	if (rl.rlim_cur < 2 * BIG_PORTS + 64) {
		printf("# RLIMIT_NOFILE is %llu: cannot open %u ports\n",
		       (unsigned long long)rl.rlim_cur, BIG_PORTS);
		skip();
	}
	snprintf(nports, sizeof(nports), "%u", BIG_PORTS);
	snprintf(bufs, sizeof(bufs), "%u", BIG_PORTS * 2 * 64 + 1024);
	broker_start("vale", args);
	switch_name(sw, sizeof(sw), 'f');

	for (unsigned i = 0; i < BIG_PORTS; i++) {
		snprintf(name, sizeof(name), "%s:p%u@conf:slots=64", sw, i);
		ports[i] = nmk_port_open(name, err);
		if (ports[i] == NULL)
			fail_msg("port %u of %u: %s", i, BIG_PORTS, err);
	}
	double t_open = tu_now() - t0;
	struct nmk_port *first = ports[0], *last = ports[BIG_PORTS - 1];
	assert_int_equal(nmk_port_info(last)->rx_slots, 64);
	mac_of(mfirst, 1);
	mac_of(mlast, 2);

	/* The last port speaks (a broadcast to 1023 ports), then the first
	 * sends to it. */
	frame_make(buf, 60, BCAST, mlast, 1);
	assert_true(ring_put(nmk_port_txring(last, 0), buf, 60));
	assert_int_equal(nmk_txsync(last), 0);
	frame_make(buf, 60, mlast, mfirst, 2);
	assert_true(ring_put(nmk_port_txring(first, 0), buf, 60));
	assert_int_equal(nmk_txsync(first), 0);
	for (unsigned i = 0; i < BIG_PORTS; i++) {
		struct netmap_ring *rx = nmk_port_rxring(ports[i], 0);
		uint32_t len, n = 0;
		uint64_t tags[4];
		assert_int_equal(nmk_rxsync(ports[i]), 0);
		while (ring_get(rx, buf, sizeof(buf), &len) == 1) {
			tags[n < 4 ? n : 3] = frame_seq(buf, len);
			n++;
		}
		/* Everyone has the broadcast, the last has the unicast instead. */
		if (i < BIG_PORTS - 1 && (n != 1 || tags[0] != 1))
			fail_msg("port %u: %u frame(s), expected the broadcast", i, n);
		if (i == BIG_PORTS - 1 && (n != 1 || tags[0] != 2))
			fail_msg("last port: %u frame(s), expected the unicast", n);
		assert_int_equal(nmk_rxsync(ports[i]), 0);
	}
	struct nmk_vale_stats st;
	snprintf(name, sizeof(name), "%s:p%u", sw, BIG_PORTS - 1);
	sw_stats(name, &st);
	assert_int_equal(st.port_index, BIG_PORTS - 1);
	ASSERT_STATS(st, 1, 0, BIG_PORTS - 1, 0, 0, 0, 1);

	/* One more is refused, naming the limit and the option. */
	snprintf(name, sizeof(name), "%s:extra@conf:slots=64", sw);
	errno = 0;
	assert_null(nmk_port_open(name, err));
	assert_int_equal(errno, ENOMEM);
	if (!strstr(err, "1024 ports") || !strstr(err, "--vale-ports"))
		fail_msg("message without the limit: %s", err);

	for (unsigned i = 0; i < BIG_PORTS; i++)
		nmk_port_close(ports[i]);
	assert_true(broker_alive());
	printf("# %u ports opened in %.2f s; whole case %.2f s\n", BIG_PORTS, t_open, tu_now() - t0);
}

static void test_default_limits(void **state)
{
	char sw[16], name[64], err[NMK_ERRBUF_SIZE];
	static struct nmk_port *ports[260];
	struct nmk_port *sws[8];

	(void)state;
	broker_start("vale", NULL);
	switch_name(sw, sizeof(sw), 'g');
	for (unsigned i = 0; i < 254; i++) {
		snprintf(name, sizeof(name), "%s:p%u@conf:slots=64", sw, i);
		ports[i] = nmk_port_open(name, err);
		if (ports[i] == NULL)
			fail_msg("port %u: %s", i, err);
	}
	snprintf(name, sizeof(name), "%s:extra@conf:slots=64", sw);
	errno = 0;
	assert_null(nmk_port_open(name, err));
	assert_int_equal(errno, ENOMEM);
	if (!strstr(err, "254 ports"))
		fail_msg("message without the limit: %s", err);

	/* Seven more switches make eight; the ninth is refused. */
	for (unsigned i = 0; i < 7; i++) {
		snprintf(name, sizeof(name), "vale%dx%u:p", (int)getpid(), i);
		sws[i] = nmk_port_open(name, err);
		if (sws[i] == NULL)
			fail_msg("switch %u: %s", i + 2, err);
	}
	snprintf(name, sizeof(name), "vale%dy:p", (int)getpid());
	errno = 0;
	assert_null(nmk_port_open(name, err));
	assert_int_equal(errno, ENOMEM);
	if (!strstr(err, "8 switches") || !strstr(err, "--vale-switches"))
		fail_msg("message without the limit: %s", err);

	/* Room again once a switch is gone. */
	nmk_port_close(sws[0]);
	struct nmk_port *p = NULL;
	double end = tu_now() + 2;
	while ((p = nmk_port_open(name, err)) == NULL && tu_now() < end)
		sleep_us(2000);
	if (p == NULL)
		fail_msg("a switch was removed, but a new one is still refused: %s", err);
	nmk_port_close(p);
	for (unsigned i = 1; i < 7; i++)
		nmk_port_close(sws[i]);
	for (unsigned i = 0; i < 254; i++)
		nmk_port_close(ports[i]);
}

/* ---- 7. a pluggable lookup function ------------------------------------------ */

struct lookup_priv {
	uint32_t target;                /* every frame goes here */
	uint32_t calls;
	uint32_t last_src;
};

static uint32_t lookup_to_target(const uint8_t *frame, uint32_t len, uint32_t src_port,
				 uint32_t *dst_ring, void *priv)
{
	struct lookup_priv *lp = priv;

	(void)dst_ring;
	lp->calls++;
	lp->last_src = src_port;
	if (len > 12 && frame[12] == 0x86)
		return NMK_VALE_DROP;
	return lp->target;
}

/* Send one frame from p; returns txsync's result. */
static int send1(struct nmk_port *p, const uint8_t dst[6], const uint8_t src[6], uint32_t len,
		 uint64_t tag, uint16_t ethertype)
{
	uint8_t buf[MAX_FRAME];

	frame_make(buf, len, dst, src, tag);
	buf[12] = (uint8_t)(ethertype >> 8);
	buf[13] = (uint8_t)ethertype;
	if (!ring_put(nmk_port_txring(p, 0), buf, len))
		return -ENOSPC;
	return nmk_txsync(p);
}

/* The tags of what p has received (at most max), via rxsync; returns the
 * count. */
static uint32_t recv_tags(struct nmk_port *p, uint64_t *tags, uint32_t max)
{
	static uint8_t buf[MAX_FRAME];
	struct netmap_ring *rx = nmk_port_rxring(p, 0);
	uint32_t n = 0, len;
	int g;

	assert_int_equal(nmk_rxsync(p), 0);
	while ((g = ring_get(rx, buf, sizeof(buf), &len)) != 0) {
		if (g < 0)
			fail_msg("%s", sh->errmsg);
		if (g == 2)
			continue;
		if (n < max)
			tags[n] = frame_seq(buf, len);
		n++;
	}
	assert_int_equal(nmk_rxsync(p), 0);
	return n;
}

/* p must have received exactly frame `tag` (or nothing when tag is 0). */
static void expect_only(struct nmk_port *p, const char *what, uint64_t tag)
{
	uint64_t tags[8];
	uint32_t n = recv_tags(p, tags, 8);

	if (tag == 0 && n != 0)
		fail_msg("%s: %s received %u frame(s), expected none", what,
			 nmk_port_info(p)->name, n);
	if (tag != 0 && (n != 1 || tags[0] != tag))
		fail_msg("%s: %s received %u frame(s) (first %lld), expected frame %llu", what,
			 nmk_port_info(p)->name, n, n ? (long long)tags[0] : -1LL,
			 (unsigned long long)tag);
}

static void test_lookup(void **state)
{
	char sw[16], name[4][32], err[NMK_ERRBUF_SIZE];
	struct nmk_port *p[4];
	uint8_t mac[4][6];
	uint32_t idx[4];
	struct lookup_priv lp = { 0 };

	(void)state;
	broker_start("vale", NULL);
	switch_name(sw, sizeof(sw), 'h');
	for (int i = 0; i < 4; i++) {
		snprintf(name[i], sizeof(name[i]), "%s:p%d", sw, i);
		p[i] = nmk_port_open(name[i], err);
		if (p[i] == NULL)
			fail_msg("%s", err);
		mac_of(mac[i], 0xa0 + (uint32_t)i);
	}
	/* The indices, as vale-ctl lists them. */
	struct nmk_vale_entry e = NMK_VALE_ENTRY_INIT;
	uint32_t cur = 0, found = 0;
	int r;
	while ((r = nmk_vale_list(&cur, &e, err)) > 0) {
		for (int i = 0; i < 4; i++) {
			if (strcmp(e.name, name[i]) == 0) {
				assert_string_equal(e.switch_name, sw);
				idx[i] = e.port_index;
				found |= 1u << i;
			}
		}
	}
	assert_int_equal(r, 0);
	assert_int_equal(found, 0xf);

	/* Learn everyone first, so that the learning bridge would deliver the
	 * unicasts below elsewhere. */
	for (int i = 0; i < 4; i++) {
		assert_int_equal(send1(p[i], BCAST, mac[i], 60, 100 + (uint64_t)i, ETHERTYPE), 0);
		for (int j = 0; j < 4; j++)
			recv_tags(p[j], NULL, 0);
	}

	lp.target = idx[2];
	assert_int_equal(nmk_vale_set_lookup(sw, lookup_to_target, &lp), 0);
	/* A unicast to p1's MAC, a broadcast, an unknown unicast: all to p2. */
	assert_int_equal(send1(p[0], mac[1], mac[0], 60, 1, ETHERTYPE), 0);
	assert_int_equal(lp.last_src, idx[0]);
	expect_only(p[1], "lookup: unicast", 0);
	expect_only(p[2], "lookup: unicast", 1);
	expect_only(p[3], "lookup: unicast", 0);
	assert_int_equal(send1(p[3], BCAST, mac[3], 60, 2, ETHERTYPE), 0);
	assert_int_equal(lp.last_src, idx[3]);
	expect_only(p[0], "lookup: broadcast", 0);
	expect_only(p[1], "lookup: broadcast", 0);
	expect_only(p[2], "lookup: broadcast", 2);
	assert_int_equal(send1(p[1], UNKNOWN, mac[1], 60, 3, ETHERTYPE), 0);
	expect_only(p[0], "lookup: unknown", 0);
	expect_only(p[2], "lookup: unknown", 3);
	expect_only(p[3], "lookup: unknown", 0);
	/* Byte 12 is 0x86 (IPv6): dropped. */
	assert_int_equal(send1(p[0], mac[1], mac[0], 60, 4, 0x86dd), 0);
	for (int i = 0; i < 4; i++)
		expect_only(p[i], "lookup: drop", 0);
	/* The function sends p2's own frames back to p2: dropped. */
	assert_int_equal(send1(p[2], mac[1], mac[2], 60, 5, ETHERTYPE), 0);
	for (int i = 0; i < 4; i++)
		expect_only(p[i], "lookup: to itself", 0);
	assert_int_equal(lp.calls, 5);

	struct nmk_vale_stats s0, s2;
	sw_stats(name[0], &s0);
	sw_stats(name[2], &s2);
	/* p0: learning broadcast (3 flooded), frame 1 (forwarded), frame 4 (dropped). */
	ASSERT_STATS(s0, 3, 1, 3, 0, 0, 1, 3);
	/* p2: learning broadcast, frame 5 (dropped); received 3 + frames 1, 2, 3. */
	ASSERT_STATS(s2, 2, 0, 3, 0, 0, 1, 6);

	/* The learning bridge again. */
	assert_int_equal(nmk_vale_set_lookup(sw, NULL, NULL), 0);
	assert_int_equal(send1(p[0], mac[1], mac[0], 60, 6, ETHERTYPE), 0);
	expect_only(p[1], "learning again", 6);
	expect_only(p[2], "learning again", 0);
	expect_only(p[3], "learning again", 0);
	assert_int_equal(send1(p[3], BCAST, mac[3], 60, 7, 0x86dd), 0);
	expect_only(p[0], "learning again: broadcast", 7);
	expect_only(p[1], "learning again: broadcast", 7);
	expect_only(p[2], "learning again: broadcast", 7);
	assert_int_equal(lp.calls, 5);

	/* Bad names are refused. */
	assert_int_equal(nmk_vale_set_lookup("vale0123456789abcdef", lookup_to_target, &lp), -EINVAL);
	for (int i = 0; i < 4; i++)
		nmk_port_close(p[i]);
}

/* ---- 8. a destination ring smaller than the batch -------------------------- */

static void test_ring_full(void **state)
{
	char sw[16], na[32], nb[40], err[NMK_ERRBUF_SIZE];
	uint8_t ma[6], mb[6], buf[128];
	uint64_t tags[256];

	(void)state;
	broker_start("vale", NULL);
	switch_name(sw, sizeof(sw), 'i');
	snprintf(na, sizeof(na), "%s:a", sw);
	snprintf(nb, sizeof(nb), "%s:b@conf:slots=64", sw);
	struct nmk_port *a = nmk_port_open(na, err);
	if (a == NULL)
		fail_msg("%s", err);
	struct nmk_port *b = nmk_port_open(nb, err);
	if (b == NULL)
		fail_msg("%s", err);
	snprintf(nb, sizeof(nb), "%s:b", sw);
	assert_int_equal(nmk_port_info(b)->rx_slots, 64);
	assert_int_equal(nmk_port_info(a)->tx_slots, 1024);
	mac_of(ma, 0xa);
	mac_of(mb, 0xb);

	/* B speaks, A drains it. */
	assert_int_equal(send1(b, BCAST, mb, 60, 1000, ETHERTYPE), 0);
	expect_only(a, "learning", 1000);

	/* 200 frames to B in one txsync: 63 fit (one slot stays empty). */
	struct netmap_ring *tx = nmk_port_txring(a, 0);
	for (uint64_t i = 0; i < 200; i++) {
		frame_make(buf, 60 + (uint32_t)i % 40, mb, ma, i);
		assert_true(ring_put(tx, buf, 60 + (uint32_t)i % 40));
	}
	assert_int_equal(nmk_txsync(a), 0);
	assert_int_equal(nm_ring_space(tx), 1023);
	uint32_t n = recv_tags(b, tags, 256);
	assert_int_equal(n, 63);
	for (uint32_t i = 0; i < n; i++)
		assert_int_equal(tags[i], i);

	struct nmk_vale_stats sa, sb;
	sw_stats(na, &sa);
	sw_stats(nb, &sb);
	ASSERT_STATS(sa, 200, 63, 0, 137, 0, 0, 1);
	ASSERT_STATS(sb, 1, 0, 1, 0, 0, 0, 63);

	/* The ring was released: there is room again. */
	for (uint64_t i = 0; i < 10; i++) {
		frame_make(buf, 60, mb, ma, 500 + i);
		assert_true(ring_put(tx, buf, 60));
	}
	assert_int_equal(nmk_txsync(a), 0);
	n = recv_tags(b, tags, 256);
	assert_int_equal(n, 10);
	assert_int_equal(tags[0], 500);
	assert_int_equal(tags[9], 509);
	sw_stats(na, &sa);
	ASSERT_STATS(sa, 210, 73, 0, 137, 0, 0, 1);

	nmk_port_close(a);
	nmk_port_close(b);
}

/* ---- 9. multi-slot frames --------------------------------------------------- */

static void test_multislot(void **state)
{
	char sw[16], na[32], nb[32], err[NMK_ERRBUF_SIZE];
	uint8_t ma[6], mb[6];
	static uint8_t buf[MAX_FRAME], got[MAX_FRAME];
	uint32_t len;

	(void)state;
	broker_start("vale", NULL);
	switch_name(sw, sizeof(sw), 'j');
	snprintf(na, sizeof(na), "%s:a", sw);
	snprintf(nb, sizeof(nb), "%s:b", sw);
	struct nmk_port *a = nmk_port_open(na, err);
	if (a == NULL)
		fail_msg("%s", err);
	struct nmk_port *b = nmk_port_open(nb, err);
	if (b == NULL)
		fail_msg("%s", err);
	mac_of(ma, 0xa);
	mac_of(mb, 0xb);
	assert_int_equal(send1(b, BCAST, mb, 60, 1000, ETHERTYPE), 0);
	expect_only(a, "learning", 1000);

	struct netmap_ring *tx = nmk_port_txring(a, 0), *rx = nmk_port_rxring(b, 0);
	uint32_t bsz = tx->nr_buf_size;
	assert_int_equal(bsz, 2048);

	/* 5000 bytes over three slots, whole at the other end. */
	frame_make(buf, 5000, mb, ma, 1);
	assert_true(ring_put(tx, buf, 5000));
	assert_int_equal(nmk_txsync(a), 0);
	assert_int_equal(nmk_rxsync(b), 0);
	assert_int_equal(nm_ring_space(rx), 3);
	uint32_t h = rx->head;
	assert_int_equal(rx->slot[h].len, 2048);
	assert_true(rx->slot[h].flags & NS_MOREFRAG);
	assert_int_equal(rx->slot[nm_ring_next(rx, h)].len, 2048);
	assert_true(rx->slot[nm_ring_next(rx, h)].flags & NS_MOREFRAG);
	assert_int_equal(rx->slot[nm_ring_next(rx, nm_ring_next(rx, h))].len, 5000 - 4096);
	assert_false(rx->slot[nm_ring_next(rx, nm_ring_next(rx, h))].flags & NS_MOREFRAG);
	assert_int_equal(ring_get(rx, got, sizeof(got), &len), 1);
	assert_int_equal(len, 5000);
	assert_memory_equal(got, buf, 5000);
	assert_int_equal(nmk_rxsync(b), 0);

	/* A chain whose middle slot has a bad buffer index, then a good
	 * frame, in one txsync: the chain is dropped whole, the frame goes. */
	frame_make(buf, 5000, mb, ma, 2);
	uint32_t mid = nm_ring_next(tx, tx->head);
	assert_true(ring_put(tx, buf, 5000));
	uint32_t saved = tx->slot[mid].buf_idx;
	tx->slot[mid].buf_idx = 0x7ffffff0;
	frame_make(buf, 300, mb, ma, 3);
	assert_true(ring_put(tx, buf, 300));
	assert_int_equal(nmk_txsync(a), -EINVAL);
	if (!strstr(nmk_port_error(a), "invalid"))
		fail_msg("error message: %s", nmk_port_error(a));
	tx->slot[mid].buf_idx = saved;
	assert_int_equal(nm_ring_space(tx), tx->num_slots - 1);
	expect_only(b, "after a bad chain", 3);

	/* The ring still works. */
	frame_make(buf, 4097, mb, ma, 4);
	assert_true(ring_put(tx, buf, 4097));
	assert_int_equal(nmk_txsync(a), 0);
	assert_int_equal(nmk_rxsync(b), 0);
	assert_int_equal(ring_get(rx, got, sizeof(got), &len), 1);
	assert_int_equal(len, 4097);
	assert_memory_equal(got, buf, 4097);
	assert_int_equal(nmk_rxsync(b), 0);

	struct nmk_vale_stats sa, sb;
	sw_stats(na, &sa);
	sw_stats(nb, &sb);
	ASSERT_STATS(sa, 3, 3, 0, 0, 1, 0, 1);
	assert_int_equal(sa.tx_bytes, 5000 + 300 + 4097);
	ASSERT_STATS(sb, 1, 0, 1, 0, 0, 0, 3);
	assert_int_equal(sb.rx_bytes, 5000 + 300 + 4097);

	nmk_port_close(a);
	nmk_port_close(b);
}

/* ---- main --------------------------------------------------------------- */

static int setup_case(void **state)
{
	(void)state;
	/* A hang fails the case instead of blocking CI. */
	alarm(50);
	return 0;
}

static int group_setup(void **state)
{
	(void)state;
	sh = mmap(NULL, sizeof(*sh), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (sh == MAP_FAILED)
		return -1;
	maps = mmap(NULL, sizeof(*maps), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	return maps == MAP_FAILED ? -1 : 0;
}

static int group_teardown(void **state)
{
	(void)state;
	kids_kill();
	munmap(sh, sizeof(*sh));
	munmap(maps, sizeof(*maps));
	return 0;
}

#define CASE(f) cmocka_unit_test_setup_teardown(f, setup_case, teardown_case)

int main(void)
{
	const struct CMUnitTest tests[] = {
		CASE(test_learning),
		CASE(test_aging),
		CASE(test_moved_mac),
		CASE(test_many_senders),
		CASE(test_kill_senders),
		CASE(test_many_ports),
		CASE(test_default_limits),
		CASE(test_lookup),
		CASE(test_ring_full),
		CASE(test_multislot),
	};

	signal(SIGPIPE, SIG_IGN);
	setvbuf(stdout, NULL, _IOLBF, 0);
	/* NMKIT_TEST_FILTER=test_lookup runs one case (a glob). */
	if (getenv("NMKIT_TEST_FILTER"))
		cmocka_set_test_filter(getenv("NMKIT_TEST_FILTER"));
	return cmocka_run_group_tests_name("vale", tests, group_setup, group_teardown);
}
