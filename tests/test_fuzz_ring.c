/*
 * test_fuzz_ring.c - garbage written into a ring never crashes the broker or
 * the peer, never reaches another port, and earns its writer an error.
 *
 * Everything a process writes into its rings is untrusted (DESIGN.md, "Rings
 * and validation"; netmap-abi.md §2.1).  Here one process, the offender,
 * writes random head/cur/tail and random slot contents (buffer indices,
 * lengths, flags, NS_MOREFRAG chains) into the rings of one end of pipe A
 * and syncs, round after round, mixed with rounds of real frames.  For every
 * round it predicts from the ring as it wrote it whether netmap's rules make
 * the sync fail (head or cur outside the window last reported, a buffer
 * index outside the region, a length over the buffer size, a fragment chain
 * of NETMAP_MAX_FRAGS slots), and requires -EINVAL (POLLERR from poll)
 * exactly then.  Meanwhile:
 *
 *   - the peer end of pipe A receives: every slot it is shown must point
 *     into the region with a sane length, reading it must not fault, and it
 *     must only ever see complete packets;
 *   - pipe B, of another parent and so in another region, carries numbered
 *     frames between two processes of its own; every one must arrive intact
 *     and in order;
 *   - afterwards the broker is the same live process, and new ports open.
 *
 * A second case scribbles random bytes over whole ring headers and slot
 * arrays, then closes; re-opening the port must give a sane ring again.
 *
 * The random choices come from a fixed seed, printed in the output and
 * overridable with NMKIT_FUZZ_SEED (NMKIT_FUZZ_ROUNDS changes the number of
 * rounds, 100000 by default), so a failure can be replayed.  The verdict of
 * a round never depends on scheduling: the prediction only reads slots that
 * no other process writes while the sync runs.  (How much room the peer has
 * freed does, so a replay follows the same path only approximately.)
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
#include <inttypes.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <nmkit/nmkit.h>
#include <nmkit/compat/net/netmap_user.h>

#include "testutil.h"

#define DEFAULT_SEED    UINT64_C(0x6e6d6b697466757a)
#define DEFAULT_ROUNDS  100000L
#define CHILD_ALARM     50      /* s: a hung child dies instead of hanging CI */
#define WAIT_LIMIT      50.0    /* s: the parent's patience for one phase */
#define MAX_CHILDREN    4
#define HDR_FRAMES      16      /* frames sent through the re-opened port */
#define HDR_SEQ0        1000000u

/* ---- randomness ---------------------------------------------------------- */

static uint64_t seed;

static uint64_t splitmix64(uint64_t *s)
{
	uint64_t z = (*s += UINT64_C(0x9E3779B97F4A7C15));

	z = (z ^ (z >> 30)) * UINT64_C(0xBF58476D1CE4E5B9);
	z = (z ^ (z >> 27)) * UINT64_C(0x94D049BB133111EB);
	return z ^ (z >> 31);
}

/* xorshift64*: fast, and good enough to pick mutations. */
struct rng {
	uint64_t s;
};

static void rng_init(struct rng *r, uint64_t role)
{
	uint64_t s = seed ^ (role * UINT64_C(0x2545F4914F6CDD1D));

	r->s = splitmix64(&s) | 1;
}

static uint32_t rnd(struct rng *r)
{
	r->s ^= r->s >> 12;
	r->s ^= r->s << 25;
	r->s ^= r->s >> 27;
	return (uint32_t)((r->s * UINT64_C(0x2545F4914F6CDD1D)) >> 32);
}

/* Uniform enough in [0, n) for n > 0. */
static uint32_t below(struct rng *r, uint32_t n)
{
	return (uint32_t)(((uint64_t)rnd(r) * n) >> 32);
}

static void read_env(void)
{
	const char *s = getenv("NMKIT_FUZZ_SEED");

	seed = s && *s ? strtoull(s, NULL, 0) : DEFAULT_SEED;
}

static long fuzz_rounds(void)
{
	const char *s = getenv("NMKIT_FUZZ_ROUNDS");
	long n = s && *s ? strtol(s, NULL, 0) : DEFAULT_ROUNDS;

	return n > 0 ? n : DEFAULT_ROUNDS;
}

/* ---- children ------------------------------------------------------------ */

/*
 * A child must never return into cmocka: on a failed check it says why on
 * stderr and exits non-zero; a crash shows up in the parent as a signal.
 */
static const char *role = "parent";

static void child_fail(int line, const char *expr, const char *fmt, ...)
	__attribute__((format(printf, 3, 4), noreturn));

static void child_fail(int line, const char *expr, const char *fmt, ...)
{
	char buf[1024];
	int n;
	va_list ap;

	n = snprintf(buf, sizeof(buf), "# %s (seed %#" PRIx64 "): line %d: %s failed: ",
		     role, seed, line, expr);
	va_start(ap, fmt);
	if (n > 0 && (size_t)n < sizeof(buf))
		n += vsnprintf(buf + n, sizeof(buf) - (size_t)n, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= sizeof(buf) - 1)
		n = (int)sizeof(buf) - 2;
	buf[n++] = '\n';
	if (write(STDERR_FILENO, buf, (size_t)n) < 0) {
		/* nothing more we can do */
	}
	_exit(1);
}

#define CHECK(cond, ...) \
	do { \
		if (!(cond)) \
			child_fail(__LINE__, #cond, __VA_ARGS__); \
	} while (0)

/* One "# ..." line on stdout, in one write so children do not interleave. */
static void say(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static void say(const char *fmt, ...)
{
	char buf[512];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(buf, sizeof(buf) - 1, fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	if ((size_t)n > sizeof(buf) - 2)
		n = (int)sizeof(buf) - 2;
	buf[n++] = '\n';
	if (write(STDOUT_FILENO, buf, (size_t)n) < 0) {
		/* the log is best effort */
	}
}

static pid_t children[MAX_CHILDREN];
static unsigned nchildren;
static int child_close[8];      /* parent-only fds a child closes at once */
static unsigned nchild_close;

static pid_t spawn(void (*fn)(void *), void *arg)
{
	fflush(stdout);
	fflush(stderr);
	pid_t pid = fork();
	if (pid == 0) {
		for (unsigned i = 0; i < nchild_close; i++)
			close(child_close[i]);
		alarm(CHILD_ALARM);
		fn(arg);
		_exit(0);
	}
	if (pid > 0 && nchildren < MAX_CHILDREN)
		children[nchildren++] = pid;
	return pid;
}

/* Wait for one child up to `limit` seconds; returns its wait status, or -1
 * after killing it when it overstayed. */
static int reap(pid_t pid, double limit)
{
	double end = tu_now() + limit;
	int status;

	for (;;) {
		pid_t r = waitpid(pid, &status, WNOHANG);
		if (r == pid)
			break;
		if (r < 0 && errno != EINTR)
			return -1;
		if (tu_now() > end) {
			kill(pid, SIGKILL);
			waitpid(pid, &status, 0);
			status = -1;
			break;
		}
		usleep(2000);
	}
	for (unsigned i = 0; i < nchildren; i++)
		if (children[i] == pid)
			children[i] = 0;
	return status;
}

static bool exited_ok(int status)
{
	return status != -1 && WIFEXITED(status) && WEXITSTATUS(status) == 0;
}

static void describe(const char *who, int status)
{
	if (status == -1)
		say("# %s: did not finish in time (killed)", who);
	else if (WIFSIGNALED(status))
		say("# %s: killed by signal %d (%s)", who, WTERMSIG(status),
		    strsignal(WTERMSIG(status)));
	else if (WIFEXITED(status) && WEXITSTATUS(status))
		say("# %s: exited with status %d", who, WEXITSTATUS(status));
}

/* Teardown: whatever happened, no child and no broker outlives the test. */
static int kill_children(void **state)
{
	(void)state;
	for (unsigned i = 0; i < nchildren; i++) {
		if (children[i] > 0) {
			kill(children[i], SIGKILL);
			waitpid(children[i], NULL, 0);
		}
		children[i] = 0;
	}
	nchildren = 0;
	tu_teardown();
	return 0;
}

static int read_full(int fd, void *buf, size_t len, int timeout_ms)
{
	char *p = buf;
	double end = tu_now() + timeout_ms / 1000.0;

	while (len) {
		struct pollfd pfd = { .fd = fd, .events = POLLIN };
		int left = (int)((end - tu_now()) * 1000);
		if (left < 0 || poll(&pfd, 1, left) == 0)
			return -1;
		ssize_t n = read(fd, p, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

static void write_full(int fd, const void *buf, size_t len)
{
	const char *p = buf;

	while (len) {
		ssize_t n = write(fd, p, len);
		if (n < 0 && errno == EINTR)
			continue;
		CHECK(n > 0, "write: %s", strerror(errno));
		p += n;
		len -= (size_t)n;
	}
}

/* ---- ring geometry and rules --------------------------------------------- */

/*
 * Where the buffers of a region are, computed once at open from a ring the
 * process has not touched yet, so that later garbage in a ring header cannot
 * mislead the checks.  Buffers fill the region up to its end (netmap-abi.md
 * §1.7), so their number is what fits between buffer 0 and the end: exact
 * when the pool is a whole number of pages, as in nmkitd's default pipe
 * region (otherwise the boundary cases below would be off by one and the
 * test would say so).
 */
struct geom {
	char *mem;
	uint64_t memsize;
	char *bufs;             /* buffer 0 */
	uint32_t nbufs;
	uint32_t buf_size;
};

static void geom_of(struct nmk_port *p, const struct netmap_ring *ring, struct geom *g)
{
	const struct nmk_port_info *info = nmk_port_info(p);

	g->mem = nmk_port_mem(p);
	g->memsize = info->memsize;
	g->buf_size = info->buf_size;
	g->bufs = (char *)(uintptr_t)ring + ring->buf_ofs;
	CHECK(g->bufs >= g->mem && g->bufs < g->mem + g->memsize && g->buf_size > 0,
	      "buffer 0 at offset %lld of a %" PRIu64 "-byte region",
	      (long long)(g->bufs - g->mem), g->memsize);
	CHECK(ring->nr_buf_size == g->buf_size, "ring buffer size %u, port says %u",
	      ring->nr_buf_size, g->buf_size);
	g->nbufs = (uint32_t)((uint64_t)(g->mem + g->memsize - g->bufs) / g->buf_size);
	CHECK(g->nbufs > 2, "%u buffers", g->nbufs);
}

static char *buf_at(const struct geom *g, uint32_t idx)
{
	return g->bufs + (size_t)idx * g->buf_size;
}

static uint32_t next(uint32_t i, uint32_t n)
{
	return i + 1 == n ? 0 : i + 1;
}

static uint32_t fwd(uint32_t i, uint32_t k, uint32_t n)
{
	return (uint32_t)(((uint64_t)i + k) % n);
}

/* Slots in [a, b) modulo n. */
static uint32_t dist(uint32_t a, uint32_t b, uint32_t n)
{
	return b >= a ? b - a : b + n - a;
}

/* Is x in the circular interval [a, b] of a ring of n slots? */
static bool in_win(uint32_t x, uint32_t a, uint32_t b, uint32_t n)
{
	if (x >= n)
		return false;
	return a <= b ? (x >= a && x <= b) : (x >= a || x <= b);
}

/*
 * What the syncs must say about a ring, from netmap's rules (§2.1, §2.4,
 * §2.8), given the window [h0, t0] reported by the previous sync.
 */
struct verdict {
	bool head_bad;          /* head/cur outside the window: ring reset */
	bool slot_bad;          /* a handed-over slot had a bad index/length */
	bool frag_cut;          /* a chain reached NETMAP_MAX_FRAGS slots */
};

static bool verdict_bad(const struct verdict *v)
{
	return v->head_bad || v->slot_bad || v->frag_cut;
}

/*
 * TX: slots [h0, head) go to the peer; each must hold a buffer of the region
 * and a length that fits it.  `pending` is the length of the NS_MOREFRAG run
 * already handed over but not yet published to the peer (the pipe publishes
 * complete packets only); it is updated as the sync will update it.
 */
static struct verdict tx_verdict(const struct netmap_ring *r, uint32_t n, uint32_t h0,
				 uint32_t t0, const struct geom *g, uint32_t *pending)
{
	struct verdict v = { false, false, false };
	uint32_t head = r->head, cur = r->cur;

	if (!in_win(head, h0, t0, n) || !in_win(cur, head, t0, n)) {
		v.head_bad = true;
		return v;
	}
	for (uint32_t i = h0; i != head; i = next(i, n)) {
		const struct netmap_slot *s = &r->slot[i];
		if (s->buf_idx >= g->nbufs || s->len > g->buf_size)
			v.slot_bad = true;
		if (s->flags & NS_MOREFRAG) {
			if (++*pending == NETMAP_MAX_FRAGS) {
				v.frag_cut = true;
				*pending = 0;
			}
		} else {
			*pending = 0;
		}
	}
	return v;
}

/*
 * RX: slots [h0, head) go back to the sender.  Only those marked
 * NS_BUF_CHANGED carry a buffer back (the receiver swapped one in, §2.4);
 * the others' buffer index is not looked at.  `changed[i]` records which
 * slots were marked, for check_after().
 */
static struct verdict rx_verdict(const struct netmap_ring *r, uint32_t n, uint32_t h0,
				 uint32_t t0, const struct geom *g, uint8_t *changed)
{
	struct verdict v = { false, false, false };
	uint32_t head = r->head, cur = r->cur;

	if (!in_win(head, h0, t0, n) || !in_win(cur, head, t0, n)) {
		v.head_bad = true;
		return v;
	}
	for (uint32_t i = h0; i != head; i = next(i, n)) {
		changed[i] = (r->slot[i].flags & NS_BUF_CHANGED) != 0;
		if (changed[i] && r->slot[i].buf_idx >= g->nbufs)
			v.slot_bad = true;
	}
	return v;
}

/*
 * After a sync: the ring is sane again.  A reset puts head and cur back on
 * the last validated head; handed-over slots with bad values were replaced
 * by buffer 0, length 0; tail is always the library's.  On RX only the
 * slots in `changed` were handed back.  (The peer may already be refilling
 * the slots we gave it, but only with checked values, so reading them here
 * is safe.)
 */
static void check_after(const char *dir, const struct netmap_ring *r, uint32_t n, uint32_t h0,
			const struct verdict *v, const struct geom *g, long round,
			const uint8_t *changed)
{
	bool tx = changed == NULL;

	uint32_t head = r->head, cur = r->cur, tail = r->tail;

	CHECK(head < n && cur < n && tail < n, "round %ld %s: head %u cur %u tail %u of %u",
	      round, dir, head, cur, tail, n);
	if (v->head_bad) {
		CHECK(head == h0 && cur == h0, "round %ld %s: reset gave head %u cur %u, want %u",
		      round, dir, head, cur, h0);
		/* As after netmap_ring_reinit(): no slot the user may write
		 * through keeps a bad buffer or length; on TX that is every
		 * slot (each comes back to the user), on RX those shown. */
		uint32_t count = tx ? n : dist(head, tail, n);
		for (uint32_t j = 0, i = head; j < count; j++, i = next(i, n)) {
			const struct netmap_slot *s = &r->slot[i];
			CHECK(s->buf_idx < g->nbufs && s->len <= g->buf_size,
			      "round %ld %s slot %u: buffer %u length %u survived the reset",
			      round, dir, i, s->buf_idx, s->len);
		}
		return;
	}
	for (uint32_t i = h0; i != head; i = next(i, n)) {
		const struct netmap_slot *s = &r->slot[i];
		if (!tx && !changed[i])
			continue;
		CHECK(s->buf_idx < g->nbufs && (!tx || s->len <= g->buf_size),
		      "round %ld %s slot %u: buffer %u length %u left in place after the sync",
		      round, dir, i, s->buf_idx, s->len);
	}
}

/* ---- garbage ------------------------------------------------------------- */

static uint32_t junk_idx(struct rng *r, const struct geom *g, const uint32_t *own, uint32_t nown)
{
	switch (below(r, 10)) {
	case 0: return rnd(r);
	case 1: return g->nbufs;                        /* first index past the end */
	case 2: return g->nbufs + below(r, 4096);
	case 3: return g->nbufs - 1;                    /* the last buffer: valid */
	case 4: return below(r, 2);                     /* scratch buffers: valid */
	case 5: return 2 + below(r, 62);                /* someone's buffer: valid */
	case 6: return UINT32_MAX;
	case 7: return UINT32_C(1) << (31 - below(r, 8));
	default: return own[below(r, nown)];
	}
}

static uint16_t junk_len(struct rng *r, const struct geom *g)
{
	uint32_t bs = g->buf_size > 65535 ? 65535 : g->buf_size;

	switch (below(r, 7)) {
	case 0: return (uint16_t)rnd(r);
	case 1: return (uint16_t)bs;
	case 2: return (uint16_t)(bs < 65535 ? bs + 1 : bs);
	case 3: return (uint16_t)below(r, bs + 1);
	case 4: return 0;
	case 5: return 65535;
	default: return (uint16_t)(60 + below(r, 100));
	}
}

static uint16_t junk_flags(struct rng *r)
{
	switch (below(r, 4)) {
	case 0: return (uint16_t)rnd(r);
	case 1: return NS_MOREFRAG;
	case 2: return NS_MOREFRAG | NS_BUF_CHANGED;
	default: return 0;
	}
}

/* A head or cur: inside the window [h0, t0], just outside it, or wild. */
static uint32_t junk_pos(struct rng *r, uint32_t base, uint32_t h0, uint32_t t0, uint32_t n)
{
	uint32_t room = dist(h0, t0, n);

	switch (below(r, 10)) {
	case 0: case 1: return base;
	case 2: case 3: return fwd(h0, below(r, room + 1), n);
	case 4: return fwd(t0, 1, n);
	case 5: return fwd(h0, n - 1, n);
	case 6: return rnd(r);
	case 7: return n + below(r, 4);
	case 8: return below(r, n);
	default: return UINT32_MAX - below(r, 2);
	}
}

static void junk_slots(struct rng *r, struct netmap_ring *ring, uint32_t n, uint32_t h0,
		       uint32_t t0, const struct geom *g, const uint32_t *own, uint32_t nown)
{
	uint32_t room = dist(h0, t0, n), m = below(r, 7);

	for (uint32_t j = 0; j < m; j++) {
		/* Half inside the window, where a head move hands them over. */
		uint32_t i = below(r, 2) ? fwd(h0, below(r, room + 1), n) : below(r, n);
		uint32_t what = 1 + below(r, 7);
		if (what & 1)
			ring->slot[i].buf_idx = junk_idx(r, g, own, nown);
		if (what & 2)
			ring->slot[i].len = junk_len(r, g);
		if (what & 4)
			ring->slot[i].flags = junk_flags(r);
		if (below(r, 8) == 0)
			ring->slot[i].ptr = ((uint64_t)rnd(r) << 32) | rnd(r);
	}
}

static void junk_tail(struct rng *r, struct netmap_ring *ring, uint32_t n)
{
	if (below(r, 4) == 0)
		*(volatile uint32_t *)(uintptr_t)&ring->tail = below(r, 2) ? rnd(r) : below(r, n);
}

/* ---- pipe A: the offender ------------------------------------------------ */

struct fuzz_args {
	char name_a[64], peer_a[64], name_b[64], peer_b[64];
	int ready_w;            /* a byte (or more) when open */
	int go_r;               /* the offender starts on a byte here */
	int stop_r;             /* EOF here: stop */
	int count_r, count_w;   /* pipe B: the sender tells the receiver its total */
	long rounds;
};

struct fuzz_stats {
	long rounds, bad_rounds, good_rounds;
	long head_resets, slot_errors, frag_cuts, polls, rx_rounds, rx_bad, waits;
	uint64_t frames, fragments;
};

static void offender(void *arg)
{
	struct fuzz_args *a = arg;
	char err[NMK_ERRBUF_SIZE];
	struct fuzz_stats st;
	struct rng r;
	struct geom g;
	char c;

	role = "offender";
	memset(&st, 0, sizeof(st));
	rng_init(&r, 1);
	struct nmk_port *p = nmk_port_open(a->name_a, err);
	CHECK(p != NULL, "open %s: %s", a->name_a, err);
	const struct nmk_port_info *info = nmk_port_info(p);
	struct netmap_ring *tx = nmk_port_txring(p, 0), *rx = nmk_port_rxring(p, 0);
	CHECK(tx != NULL && rx != NULL, "%s binds no tx or no rx ring", a->name_a);
	uint32_t n = info->tx_slots, nr = info->rx_slots;
	CHECK(tx->num_slots == n && rx->num_slots == nr && n >= 2 && nr >= 2,
	      "slots %u/%u, rings say %u/%u", n, nr, tx->num_slots, rx->num_slots);
	geom_of(p, tx, &g);

	/* The buffers this ring owns; real frames use them. */
	uint32_t *own = calloc(n, sizeof(*own));
	uint8_t *changed = calloc(nr, 1);
	CHECK(own != NULL && changed != NULL, "out of memory");
	for (uint32_t i = 0; i < n; i++) {
		own[i] = tx->slot[i].buf_idx;
		CHECK(own[i] >= 2 && own[i] < g.nbufs, "fresh tx slot %u holds buffer %u", i, own[i]);
	}
	CHECK(write(a->ready_w, "o", 1) == 1, "ready: %s", strerror(errno));
	CHECK(read_full(a->go_r, &c, 1, 20000) == 0, "no go from the parent");

	uint32_t pending = 0;           /* unpublished MOREFRAG run (see tx_verdict) */
	uint64_t seq = 0;
	const char *name = info->name;
	size_t name_len = strlen(name);

	for (long round = 0; round < a->rounds; round++) {
		/* A ring with no room leaves nothing to hand over: now and
		 * then let the peer catch up (a sync of an untouched ring). */
		if (dist(tx->head, tx->tail, n) < 16 && below(&r, 4) == 0) {
			int ret = nmk_port_poll(p, POLLOUT, 20);
			CHECK(ret >= 0 && !(ret & POLLERR), "round %ld: waiting poll gave %d: %s",
			      round, ret, nmk_port_error(p));
			st.waits++;
		}
		/* The windows as the previous sync reported them. */
		uint32_t th0 = tx->head, tt0 = tx->tail, rh0 = rx->head, rt0 = rx->tail;
		uint32_t u = below(&r, 100);
		bool fuzz_tx = u < 80, fuzz_rx = u >= 65;

		if (fuzz_tx && below(&r, 10) < 3) {
			/* Real frames: what a well-behaved sender writes. */
			uint32_t room = dist(th0, tt0, n), k = below(&r, (room < 16 ? room : 16) + 1);
			uint32_t i = th0;
			for (uint32_t j = 0; j < k; j++, i = next(i, n)) {
				struct netmap_slot *s = &tx->slot[i];
				uint32_t len = below(&r, 8) ? 60 + below(&r, 200) :
					       60 + below(&r, g.buf_size - 59);
				s->buf_idx = own[i];
				s->len = (uint16_t)len;
				s->flags = NS_BUF_CHANGED | (below(&r, 8) ? 0 : NS_MOREFRAG);
				tu_fill(buf_at(&g, own[i]), len, seq++);
			}
			tx->head = i;
			tx->cur = below(&r, 4) ? i : fwd(i, below(&r, dist(i, tt0, n) + 1), n);
		} else if (fuzz_tx) {
			/* Half the time head and cur stay in the window, so
			 * that the garbage in the slots is what gets judged. */
			bool tame = below(&r, 2);
			junk_slots(&r, tx, n, th0, tt0, &g, own, n);
			uint32_t head = tame ? fwd(th0, below(&r, dist(th0, tt0, n) + 1), n) :
				       junk_pos(&r, th0, th0, tt0, n);
			if (below(&r, 16) == 0) {
				/* A chain: long enough, sometimes, to be cut. */
				uint32_t room = dist(th0, tt0, n), len = 1 + below(&r, 80);
				if (len <= room) {
					uint32_t i = th0;
					for (uint32_t j = 0; j < len; j++, i = next(i, n)) {
						tx->slot[i].buf_idx = own[i];
						tx->slot[i].len = 64;
						tx->slot[i].flags = NS_MOREFRAG;
					}
					head = i;
				}
			}
			tx->head = head;
			tx->cur = tame ? fwd(head, below(&r, dist(head, tt0, n) + 1), n) :
				  junk_pos(&r, head, th0, tt0, n);
			junk_tail(&r, tx, n);
		}
		if (fuzz_rx) {
			st.rx_rounds++;
			if (below(&r, 2)) {
				/* Release some received slots, properly. */
				uint32_t head = fwd(rh0, below(&r, dist(rh0, rt0, nr) + 1), nr);
				rx->head = head;
				rx->cur = below(&r, 4) ? head : fwd(head, below(&r, dist(head, rt0, nr) + 1), nr);
			} else {
				bool tame = below(&r, 2);
				junk_slots(&r, rx, nr, rh0, rt0, &g, own, n);
				uint32_t head = tame ? fwd(rh0, below(&r, dist(rh0, rt0, nr) + 1), nr) :
					       junk_pos(&r, rh0, rh0, rt0, nr);
				rx->head = head;
				rx->cur = tame ? fwd(head, below(&r, dist(head, rt0, nr) + 1), nr) :
					  junk_pos(&r, head, rh0, rt0, nr);
				junk_tail(&r, rx, nr);
			}
		}

		/* How to sync: every ring written to must be synced. */
		enum { TXSYNC, RXSYNC, BOTH, POLL_TX, POLL_BOTH } how;
		if (fuzz_tx && fuzz_rx)
			how = below(&r, 2) ? BOTH : POLL_BOTH;
		else if (fuzz_tx)
			how = below(&r, 5) ? TXSYNC : POLL_TX;
		else
			how = below(&r, 5) ? RXSYNC : POLL_BOTH;
		bool do_tx = how != RXSYNC, do_rx = how == RXSYNC || how == BOTH || how == POLL_BOTH;

		struct verdict vt = { false, false, false }, vr = { false, false, false };
		if (do_tx)
			vt = tx_verdict(tx, n, th0, tt0, &g, &pending);
		if (do_rx)
			vr = rx_verdict(rx, nr, rh0, rt0, &g, changed);
		bool tx_bad = verdict_bad(&vt), rx_bad = verdict_bad(&vr);
		uint32_t head_w = tx->head, cur_w = tx->cur;   /* as written */

		int ret_tx = 0, ret_rx = 0, ret_poll = 0;
		switch (how) {
		case TXSYNC:
			ret_tx = nmk_txsync(p);
			break;
		case RXSYNC:
			ret_rx = nmk_rxsync(p);
			break;
		case BOTH:
			ret_tx = nmk_txsync(p);
			ret_rx = nmk_rxsync(p);
			break;
		case POLL_TX:
			ret_poll = nmk_port_poll(p, POLLOUT, 0);
			break;
		case POLL_BOTH:
			ret_poll = nmk_port_poll(p, below(&r, 2) ? POLLIN : POLLIN | POLLOUT, 0);
			break;
		}

		if (how == POLL_TX || how == POLL_BOTH) {
			st.polls++;
			CHECK(ret_poll >= 0, "round %ld: poll returned %d (%s)", round, ret_poll,
			      nmk_strerror(ret_poll));
			CHECK(((ret_poll & POLLERR) != 0) == (tx_bad || rx_bad),
			      "round %ld: poll revents %#x, but tx %s / rx %s; error \"%s\"",
			      round, (unsigned)ret_poll, tx_bad ? "bad" : "fine",
			      rx_bad ? "bad" : "fine", nmk_port_error(p));
		} else {
			CHECK(ret_tx == (do_tx && tx_bad ? -EINVAL : 0),
			      "round %ld: txsync returned %d, expected %d (head %u cur %u window [%u, %u]); error \"%s\"",
			      round, ret_tx, tx_bad ? -EINVAL : 0, head_w, cur_w, th0, tt0,
			      nmk_port_error(p));
			CHECK(ret_rx == (do_rx && rx_bad ? -EINVAL : 0),
			      "round %ld: rxsync returned %d, expected %d (window [%u, %u]); error \"%s\"",
			      round, ret_rx, rx_bad ? -EINVAL : 0, rh0, rt0, nmk_port_error(p));
		}
		if (tx_bad || rx_bad) {
			/* The offender is told, and told which port. */
			const char *e = nmk_port_error(p);
			CHECK(strncmp(e, name, name_len) == 0 && strlen(e) > name_len + 2,
			      "round %ld: error message \"%s\" does not name %s", round, e, name);
			st.bad_rounds++;
		} else {
			st.good_rounds++;
		}
		st.head_resets += vt.head_bad + vr.head_bad;
		st.slot_errors += vt.slot_bad + vr.slot_bad;
		st.frag_cuts += vt.frag_cut;
		st.rx_bad += verdict_bad(&vr);
		if (do_tx && !vt.head_bad) {
			uint32_t k = dist(th0, head_w, n);
			st.fragments += k;
		}
		if (do_tx)
			check_after("tx", tx, n, th0, &vt, &g, round, NULL);
		if (do_rx)
			check_after("rx", rx, nr, rh0, &vr, &g, round, changed);
		st.rounds++;
	}
	st.frames = seq;

	/* Both outcomes, and every kind of fault, must have been exercised
	 * in earnest (a short debugging run is spared the last part). */
	CHECK(st.bad_rounds >= st.rounds / 10 && st.good_rounds >= st.rounds / 10,
	      "%ld bad and %ld good rounds of %ld", st.bad_rounds, st.good_rounds, st.rounds);
	CHECK(st.rounds < 10000 || (st.head_resets > 0 && st.slot_errors > 0 &&
				    st.frag_cuts > 0 && st.rx_bad > 0),
	      "resets %ld slot errors %ld chain cuts %ld rx rejections %ld", st.head_resets,
	      st.slot_errors, st.frag_cuts, st.rx_bad);
	say("# offender: %ld rounds: %ld rejected (%ld head/cur resets, %ld bad slots, %ld chains cut), %ld accepted, %ld polls, %ld rx rounds (%ld rejected); %" PRIu64 " slots handed over, %" PRIu64 " real frames; waited for room %ld times",
	    st.rounds, st.bad_rounds, st.head_resets, st.slot_errors, st.frag_cuts,
	    st.good_rounds, st.polls, st.rx_rounds, st.rx_bad, st.fragments, st.frames, st.waits);
	nmk_port_close(p);
	free(own);
	free(changed);
}

/* ---- pipe A: the peer ---------------------------------------------------- */

struct scan {
	uint64_t slots, packets, bytes, sum, good;
	uint32_t run;           /* current NS_MOREFRAG run */
};

/*
 * Look at every slot the port has shown us, [head, tail): it must point into
 * the region with a length that fits, reading it must not fault, and the
 * last slot shown must end a packet.  Then release everything.
 */
static void scan_rx(struct netmap_ring *rx, uint32_t n, const struct geom *g, struct scan *sc,
		    uint32_t good_seq0, uint32_t good_count)
{
	uint32_t head = rx->head, tail = rx->tail;

	CHECK(head < n && tail < n, "rx head %u tail %u of %u", head, tail, n);
	for (uint32_t i = head; i != tail; i = next(i, n)) {
		const struct netmap_slot *s = &rx->slot[i];
		uint32_t idx = s->buf_idx, len = s->len;
		CHECK(idx < g->nbufs && len <= g->buf_size,
		      "rx slot %u: buffer %u length %u (buffers < %u, length <= %u)", i, idx, len,
		      g->nbufs, g->buf_size);
		const volatile unsigned char *b = (const unsigned char *)buf_at(g, idx);
		uint64_t sum = 0;
		/* Touch every cache line of the frame, and its last byte. */
		for (uint32_t j = 0; j < len; j += 64)
			sum += b[j];
		if (len)
			sum += b[len - 1];
		sc->sum += sum;
		sc->bytes += len;
		sc->slots++;
		if (good_count && len >= 8) {
			uint64_t seq;
			memcpy(&seq, (const void *)b, 8);
			if (seq >= good_seq0 && seq < (uint64_t)good_seq0 + good_count &&
			    tu_check((const void *)b, len, seq) == 0)
				sc->good++;
		}
		if (s->flags & NS_MOREFRAG) {
			sc->run++;
			CHECK(sc->run < NETMAP_MAX_FRAGS, "rx slot %u: a chain of %u fragments", i,
			      sc->run);
		} else {
			sc->run = 0;
			sc->packets++;
		}
	}
	/* The pipe publishes complete packets only. */
	CHECK(sc->run == 0, "rx: tail %u cuts a packet (%u fragments before it)", tail, sc->run);
	rx->head = rx->cur = tail;
}

static bool stop_requested(const struct pollfd *pfd)
{
	return (pfd->revents & (POLLIN | POLLHUP | POLLERR)) != 0;
}

static void peer(void *arg)
{
	struct fuzz_args *a = arg;
	char err[NMK_ERRBUF_SIZE];
	struct scan sc;
	struct rng r;
	struct geom g;
	uint64_t sent = 0, wakeups = 0;

	role = "peer";
	memset(&sc, 0, sizeof(sc));
	rng_init(&r, 2);
	struct nmk_port *p = nmk_port_open(a->peer_a, err);
	CHECK(p != NULL, "open %s: %s", a->peer_a, err);
	const struct nmk_port_info *info = nmk_port_info(p);
	struct netmap_ring *rx = nmk_port_rxring(p, 0), *tx = nmk_port_txring(p, 0);
	CHECK(rx != NULL && tx != NULL, "%s binds no rx or no tx ring", a->peer_a);
	uint32_t n = info->rx_slots, nt = info->tx_slots;
	geom_of(p, rx, &g);
	CHECK(write(a->ready_w, "p", 1) == 1, "ready: %s", strerror(errno));

	for (bool stop = false; !stop;) {
		struct pollfd fds[2] = {
			{ .fd = nmk_port_fd(p), .events = POLLIN },
			{ .fd = a->stop_r, .events = POLLIN },
		};
		int ret = nmk_poll(fds, 2, 20);
		CHECK(ret >= 0, "poll: %s", nmk_strerror(ret));
		CHECK(!(fds[0].revents & (POLLERR | POLLHUP | POLLNVAL)),
		      "poll revents %#x: %s", (unsigned)fds[0].revents, nmk_port_error(p));
		wakeups++;
		stop = stop_requested(&fds[1]);
		if (stop) {
			/* Whatever is left, then go. */
			CHECK(nmk_rxsync(p) == 0, "rxsync: %s", nmk_port_error(p));
		}
		scan_rx(rx, n, &g, &sc, 0, 0);

		/* Send a few frames back, so the offender's rx ring has a
		 * window to play with.  Our tx buffers come back through the
		 * offender's rx releases: they must have been checked. */
		uint32_t k = below(&r, 4), head = tx->head;
		for (uint32_t j = 0; j < k && nm_ring_space(tx) > j; j++, head = next(head, nt)) {
			struct netmap_slot *s = &tx->slot[head];
			CHECK(s->buf_idx < g.nbufs, "tx slot %u came back with buffer %u", head,
			      s->buf_idx);
			uint32_t len = 60 + below(&r, 100);
			tu_fill(buf_at(&g, s->buf_idx), len, sent++);
			s->len = (uint16_t)len;
			s->flags = 0;
		}
		tx->head = tx->cur = head;
		/* Our own syncs never fail: the garbage is not ours. */
		CHECK(nmk_txsync(p) == 0, "txsync: %s", nmk_port_error(p));
	}
	say("# peer: saw %" PRIu64 " slots (%" PRIu64 " packets, %" PRIu64 " bytes, every line touched), sent %" PRIu64 " back, %" PRIu64 " polls",
	    sc.slots, sc.packets, sc.bytes, sent, wakeups);
	CHECK(sc.packets > 0, "nothing received");
	nmk_port_close(p);
}

/* ---- pipe B: checked traffic in another region --------------------------- */

static void b_sender(void *arg)
{
	struct fuzz_args *a = arg;
	char err[NMK_ERRBUF_SIZE];
	struct rng r;
	struct geom g;
	uint64_t seq = 0;

	role = "pipe B sender";
	rng_init(&r, 3);
	struct nmk_port *p = nmk_port_open(a->name_b, err);
	CHECK(p != NULL, "open %s: %s", a->name_b, err);
	struct netmap_ring *tx = nmk_port_txring(p, 0);
	CHECK(tx != NULL, "no tx ring");
	uint32_t n = nmk_port_info(p)->tx_slots;
	geom_of(p, tx, &g);
	CHECK(write(a->ready_w, "s", 1) == 1, "ready: %s", strerror(errno));

	for (bool stop = false; !stop;) {
		struct pollfd fds[2] = {
			{ .fd = nmk_port_fd(p), .events = POLLOUT },
			{ .fd = a->stop_r, .events = POLLIN },
		};
		int ret = nmk_poll(fds, 2, 100);
		CHECK(ret >= 0, "poll: %s", nmk_strerror(ret));
		CHECK(!(fds[0].revents & (POLLERR | POLLHUP | POLLNVAL)), "poll revents %#x: %s",
		      (unsigned)fds[0].revents, nmk_port_error(p));
		stop = stop_requested(&fds[1]);
		uint32_t head = tx->head, k = nm_ring_space(tx);
		if (k > 32)
			k = 32;
		for (uint32_t j = 0; j < k; j++, head = next(head, n)) {
			struct netmap_slot *s = &tx->slot[head];
			uint32_t len = below(&r, 16) ? 60 + below(&r, 500) :
				       60 + below(&r, g.buf_size - 59);
			CHECK(s->buf_idx >= 2 && s->buf_idx < g.nbufs, "tx slot %u holds buffer %u",
			      head, s->buf_idx);
			tu_fill(buf_at(&g, s->buf_idx), len, seq++);
			s->len = (uint16_t)len;
			s->flags = 0;
		}
		tx->head = tx->cur = head;
		CHECK(nmk_txsync(p) == 0, "txsync: %s", nmk_port_error(p));
		/* Leave the CPU to the fuzzer; this is a witness, not a load. */
		usleep(300);
	}
	/* Wait until the receiver has taken everything, then tell it how
	 * much there was. */
	double end = tu_now() + 10;
	while (nm_tx_pending(tx) && tu_now() < end) {
		int ret = nmk_port_poll(p, POLLOUT, 50);
		CHECK(ret >= 0 && !(ret & POLLERR), "poll %d: %s", ret, nmk_port_error(p));
	}
	CHECK(!nm_tx_pending(tx), "%u frames never taken", n - 1 - nm_ring_space(tx));
	write_full(a->count_w, &seq, sizeof(seq));
	say("# pipe B sender: %" PRIu64 " frames", seq);
	nmk_port_close(p);
}

static void b_receiver(void *arg)
{
	struct fuzz_args *a = arg;
	char err[NMK_ERRBUF_SIZE];
	struct geom g;
	uint64_t expect = 0, total = UINT64_MAX, bytes = 0;

	role = "pipe B receiver";
	struct nmk_port *p = nmk_port_open(a->peer_b, err);
	CHECK(p != NULL, "open %s: %s", a->peer_b, err);
	struct netmap_ring *rx = nmk_port_rxring(p, 0);
	CHECK(rx != NULL, "no rx ring");
	uint32_t n = nmk_port_info(p)->rx_slots;
	geom_of(p, rx, &g);
	CHECK(write(a->ready_w, "r", 1) == 1, "ready: %s", strerror(errno));

	while (expect != total) {
		struct pollfd fds[2] = {
			{ .fd = nmk_port_fd(p), .events = POLLIN },
			{ .fd = total == UINT64_MAX ? a->count_r : -1, .events = POLLIN },
		};
		int ret = nmk_poll(fds, 2, 100);
		CHECK(ret >= 0, "poll: %s", nmk_strerror(ret));
		CHECK(!(fds[0].revents & (POLLERR | POLLHUP | POLLNVAL)), "poll revents %#x: %s",
		      (unsigned)fds[0].revents, nmk_port_error(p));
		uint32_t head = rx->head, tail = rx->tail;
		CHECK(head < n && tail < n, "head %u tail %u", head, tail);
		for (uint32_t i = head; i != tail; i = next(i, n)) {
			const struct netmap_slot *s = &rx->slot[i];
			CHECK(s->buf_idx < g.nbufs && s->len >= 60 && s->len <= g.buf_size &&
			      !(s->flags & NS_MOREFRAG),
			      "frame %" PRIu64 ": slot %u buffer %u length %u flags %#x", expect, i,
			      s->buf_idx, s->len, s->flags);
			CHECK(tu_check(buf_at(&g, s->buf_idx), s->len, expect) == 0,
			      "frame %" PRIu64 " (slot %u, buffer %u, %u bytes) is damaged or out of order",
			      expect, i, s->buf_idx, s->len);
			bytes += s->len;
			expect++;
		}
		rx->head = rx->cur = tail;
		if (fds[1].revents) {
			CHECK(read_full(a->count_r, &total, sizeof(total), 1000) == 0,
			      "no frame count from the sender");
		}
		CHECK(expect <= total, "%" PRIu64 " frames received, %" PRIu64 " sent", expect,
		      total);
	}
	CHECK(nmk_rxsync(p) == 0, "rxsync: %s", nmk_port_error(p));
	CHECK(rx->head == rx->tail, "%u frames more than were sent", dist(rx->head, rx->tail, n));
	CHECK(total >= 100, "only %" PRIu64 " frames crossed pipe B", total);
	say("# pipe B receiver: %" PRIu64 " frames, %" PRIu64 " bytes, all intact and in order",
	    expect, bytes);
	nmk_port_close(p);
}

/* Open a brand-new pipe and move one frame through it. */
static void fresh_pipe_works(const char *prefix)
{
	char base[32], m[64], s[64], err[NMK_ERRBUF_SIZE];

	tu_unique(base, sizeof(base), prefix);
	snprintf(m, sizeof(m), "%s{1", base);
	snprintf(s, sizeof(s), "%s}1", base);
	struct nmk_port *pm = nmk_port_open(m, err);
	assert_non_null(pm);
	struct nmk_port *ps = nmk_port_open(s, err);
	assert_non_null(ps);
	struct netmap_ring *tx = nmk_port_txring(pm, 0), *rx = nmk_port_rxring(ps, 0);
	assert_non_null(tx);
	assert_non_null(rx);
	assert_int_equal(tx->head, 0);
	assert_int_equal(tx->tail, tx->num_slots - 1);
	struct netmap_slot *sl = &tx->slot[tx->head];
	tu_fill(NETMAP_BUF(tx, sl->buf_idx), 100, 42);
	sl->len = 100;
	tx->head = tx->cur = nm_ring_next(tx, tx->head);
	assert_int_equal(nmk_txsync(pm), 0);
	assert_true(nmk_port_poll(ps, POLLIN, 5000) & POLLIN);
	assert_int_equal(nm_ring_space(rx), 1);
	sl = &rx->slot[rx->head];
	assert_int_equal(sl->len, 100);
	assert_int_equal(tu_check(NETMAP_BUF(rx, sl->buf_idx), 100, 42), 0);
	nmk_port_close(ps);
	nmk_port_close(pm);
}

static bool broker_alive(pid_t pid)
{
	return pid > 0 && kill(pid, 0) == 0 && tu_broker_pid() == pid;
}

/* Wait until the broker lists no registration of `name`. */
static bool released(const char *name)
{
	double end = tu_now() + 5;

	while (tu_now() < end) {
		if (tu_port_registrations(name) == 0)
			return true;
		usleep(5000);
	}
	return false;
}

static void test_fuzz_pipe(void **state)
{
	struct fuzz_args a;
	int ready[2], go[2], stop[2], count[2];
	char base_a[32], base_b[32];
	char c[4];

	(void)state;
	read_env();
	memset(&a, 0, sizeof(a));
	a.rounds = fuzz_rounds();
	say("# fuzz_pipe: seed %#" PRIx64 ", %ld rounds (NMKIT_FUZZ_SEED / NMKIT_FUZZ_ROUNDS to change)",
	    seed, a.rounds);
	assert_int_equal(tu_setup("fuzz_ring"), 0);
	tu_unique(base_a, sizeof(base_a), "z");
	tu_unique(base_b, sizeof(base_b), "y");
	snprintf(a.name_a, sizeof(a.name_a), "%s{1", base_a);
	snprintf(a.peer_a, sizeof(a.peer_a), "%s}1", base_a);
	snprintf(a.name_b, sizeof(a.name_b), "%s{1", base_b);
	snprintf(a.peer_b, sizeof(a.peer_b), "%s}1", base_b);
	assert_int_equal(pipe(ready), 0);
	assert_int_equal(pipe(go), 0);
	assert_int_equal(pipe(stop), 0);
	assert_int_equal(pipe(count), 0);
	a.ready_w = ready[1];
	a.go_r = go[0];
	a.stop_r = stop[0];
	a.count_r = count[0];
	a.count_w = count[1];

	/* No child may hold the write end of `stop`, or its EOF never comes. */
	child_close[0] = stop[1];
	child_close[1] = go[1];
	child_close[2] = ready[0];
	nchild_close = 3;

	pid_t brx = spawn(b_receiver, &a);
	pid_t btx = spawn(b_sender, &a);
	pid_t pa = spawn(peer, &a);
	pid_t off = spawn(offender, &a);
	assert_true(brx > 0 && btx > 0 && pa > 0 && off > 0);
	close(ready[1]);
	close(go[0]);
	close(stop[0]);
	close(count[0]);
	close(count[1]);

	/* Everyone is open: the broker is up, and must stay the same one. */
	assert_int_equal(read_full(ready[0], c, 4, 20000), 0);
	close(ready[0]);
	pid_t broker = tu_broker_pid();
	assert_true(broker > 0);
	assert_int_equal(write(go[1], "g", 1), 1);
	close(go[1]);

	int s_off = reap(off, WAIT_LIMIT);
	describe("offender", s_off);
	close(stop[1]);
	int s_peer = reap(pa, 10);
	int s_btx = reap(btx, 15);
	int s_brx = reap(brx, 15);
	describe("peer", s_peer);
	describe("pipe B sender", s_btx);
	describe("pipe B receiver", s_brx);
	assert_true(exited_ok(s_off));
	assert_true(exited_ok(s_peer));
	assert_true(exited_ok(s_btx));
	assert_true(exited_ok(s_brx));

	assert_true(broker_alive(broker));
	assert_true(released(a.name_a));
	assert_true(released(a.name_b));
	fresh_pipe_works("f");
	assert_true(broker_alive(broker));
}

/* ---- scribbling over whole ring headers ---------------------------------- */

struct hdr_args {
	char name[64], peer[64];
	int ready_w;
	int stop_r;
};

static void scribble(void *p, size_t len, struct rng *r)
{
	unsigned char *b = p;

	for (size_t i = 0; i < len; i++)
		b[i] = (unsigned char)rnd(r);
}

/* Fill the slots from head on, in its own buffers, and hand them over. */
static void send_frames(struct netmap_ring *tx, uint32_t n, const struct geom *g,
			const uint32_t *own, uint32_t count, uint64_t seq0)
{
	uint32_t i = tx->head;

	for (uint32_t j = 0; j < count; j++, i = next(i, n)) {
		struct netmap_slot *s = &tx->slot[i];
		s->buf_idx = own[i];
		s->len = (uint16_t)(100 + j);
		s->flags = NS_BUF_CHANGED;
		tu_fill(buf_at(g, own[i]), 100 + j, seq0 + j);
	}
	tx->head = tx->cur = i;
}

static void scribbler(void *arg)
{
	struct hdr_args *a = arg;
	char err[NMK_ERRBUF_SIZE];
	struct rng r;
	struct geom g;
	uint32_t pending = 0;

	role = "scribbler";
	rng_init(&r, 5);
	struct nmk_port *p = nmk_port_open(a->name, err);
	CHECK(p != NULL, "open %s: %s", a->name, err);
	const struct nmk_port_info *info = nmk_port_info(p);
	struct netmap_ring *tx = nmk_port_txring(p, 0), *rx = nmk_port_rxring(p, 0);
	CHECK(tx != NULL && rx != NULL, "no tx or no rx ring");
	/* From here on only the port's figures count, never the ring's. */
	uint32_t n = info->tx_slots, nr = info->rx_slots;
	geom_of(p, tx, &g);
	uint32_t *own = calloc(n, sizeof(*own));
	uint8_t *changed = calloc(nr, 1);
	CHECK(own != NULL && changed != NULL, "out of memory");
	for (uint32_t i = 0; i < n; i++)
		own[i] = tx->slot[i].buf_idx;
	/* The next user of the port will need buffers it owns. */
	write_full(a->ready_w, &n, sizeof(n));
	write_full(a->ready_w, own, n * sizeof(*own));

	send_frames(tx, n, &g, own, 8, 0);
	CHECK(nmk_txsync(p) == 0, "txsync: %s", nmk_port_error(p));

	for (int pass = 0; pass < 2; pass++) {
		uint32_t th0 = tx->head, tt0 = tx->tail, rh0 = rx->head, rt0 = rx->tail;
		scribble(tx, offsetof(struct netmap_ring, slot), &r);
		scribble(tx->slot, n * sizeof(struct netmap_slot), &r);
		scribble(rx, offsetof(struct netmap_ring, slot), &r);
		scribble(rx->slot, nr * sizeof(struct netmap_slot), &r);
		if (pass == 1)
			break;  /* the second time, just leave */

		struct verdict vt = tx_verdict(tx, n, th0, tt0, &g, &pending);
		struct verdict vr = rx_verdict(rx, nr, rh0, rt0, &g, changed);
		int ret = nmk_port_poll(p, POLLIN | POLLOUT, 0);
		CHECK(ret >= 0 && ((ret & POLLERR) != 0) == (verdict_bad(&vt) || verdict_bad(&vr)),
		      "poll after the scribble returned %d; error \"%s\"", ret, nmk_port_error(p));
		check_after("tx", tx, n, th0, &vt, &g, -1, NULL);
		check_after("rx", rx, nr, rh0, &vr, &g, -1, changed);

		/* Hand the scribbled slots over, a few at a time. */
		for (long k = 0; k < 400; k++) {
			th0 = tx->head;
			tt0 = tx->tail;
			uint32_t room = dist(th0, tt0, n);
			if (room == 0) {
				int pr = nmk_port_poll(p, POLLOUT, 1000);
				CHECK(pr >= 0 && !(pr & POLLERR), "poll %d: %s", pr, nmk_port_error(p));
				continue;
			}
			tx->head = tx->cur = fwd(th0, 1 + below(&r, room < 8 ? room : 8), n);
			vt = tx_verdict(tx, n, th0, tt0, &g, &pending);
			ret = nmk_txsync(p);
			CHECK(ret == (verdict_bad(&vt) ? -EINVAL : 0),
			      "hand-over %ld: txsync returned %d; error \"%s\"", k, ret,
			      nmk_port_error(p));
			check_after("tx", tx, n, th0, &vt, &g, k, NULL);
		}
		/* End a chain the garbage may have left open. */
		double end = tu_now() + 5;
		while (nm_ring_empty(tx) && tu_now() < end)
			nmk_port_poll(p, POLLOUT, 100);
		CHECK(!nm_ring_empty(tx), "no tx space in 5 s");
		th0 = tx->head;
		tt0 = tx->tail;
		send_frames(tx, n, &g, own, 1, 99);
		tx->slot[th0].flags = 0;
		vt = tx_verdict(tx, n, th0, tt0, &g, &pending);
		CHECK(!verdict_bad(&vt) && pending == 0, "the terminating frame is refused");
		CHECK(nmk_txsync(p) == 0, "txsync: %s", nmk_port_error(p));
	}
	nmk_port_close(p);
	free(own);
	free(changed);
}

static void hdr_peer(void *arg)
{
	struct hdr_args *a = arg;
	char err[NMK_ERRBUF_SIZE];
	struct scan sc;
	struct geom g;

	role = "peer";
	memset(&sc, 0, sizeof(sc));
	struct nmk_port *p = nmk_port_open(a->peer, err);
	CHECK(p != NULL, "open %s: %s", a->peer, err);
	struct netmap_ring *rx = nmk_port_rxring(p, 0);
	CHECK(rx != NULL, "no rx ring");
	uint32_t n = nmk_port_info(p)->rx_slots;
	geom_of(p, rx, &g);
	uint64_t off = (uint64_t)(g.bufs - g.mem);
	write_full(a->ready_w, &off, sizeof(off));

	for (bool stop = false; !stop;) {
		struct pollfd fds[2] = {
			{ .fd = nmk_port_fd(p), .events = POLLIN },
			{ .fd = a->stop_r, .events = POLLIN },
		};
		int ret = nmk_poll(fds, 2, 20);
		CHECK(ret >= 0, "poll: %s", nmk_strerror(ret));
		CHECK(!(fds[0].revents & (POLLERR | POLLHUP | POLLNVAL)), "poll revents %#x: %s",
		      (unsigned)fds[0].revents, nmk_port_error(p));
		stop = stop_requested(&fds[1]);
		if (stop)
			CHECK(nmk_rxsync(p) == 0, "rxsync: %s", nmk_port_error(p));
		scan_rx(rx, n, &g, &sc, HDR_SEQ0, HDR_FRAMES);
	}
	CHECK(nmk_rxsync(p) == 0, "rxsync: %s", nmk_port_error(p));
	say("# peer: saw %" PRIu64 " slots (%" PRIu64 " packets), %" PRIu64 " of the %u frames sent after the re-open",
	    sc.slots, sc.packets, sc.good, HDR_FRAMES);
	CHECK(sc.good == HDR_FRAMES, "%" PRIu64 " of the %u frames sent after the re-open arrived",
	      sc.good, HDR_FRAMES);
	nmk_port_close(p);
}

/* Sync until every slot of a pipe tx ring has come back. */
static bool tx_drained(struct nmk_port *p, struct netmap_ring *tx)
{
	double end = tu_now() + 5;

	for (;;) {
		if (nmk_txsync(p) < 0)
			return false;
		if (!nm_tx_pending(tx))
			return true;
		if (tu_now() > end)
			return false;
		usleep(1000);
	}
}

static void test_scribble_header(void **state)
{
	struct hdr_args a;
	int ready_s[2], ready_p[2], stop[2];
	char base[32], err[NMK_ERRBUF_SIZE];
	uint64_t peer_off;
	uint32_t n;

	(void)state;
	read_env();
	memset(&a, 0, sizeof(a));
	say("# scribble_header: seed %#" PRIx64 " (NMKIT_FUZZ_SEED to change)", seed);
	assert_int_equal(tu_setup("fuzz_ring_hdr"), 0);
	tu_unique(base, sizeof(base), "s");
	snprintf(a.name, sizeof(a.name), "%s{1", base);
	snprintf(a.peer, sizeof(a.peer), "%s}1", base);
	assert_int_equal(pipe(ready_s), 0);
	assert_int_equal(pipe(ready_p), 0);
	assert_int_equal(pipe(stop), 0);
	a.stop_r = stop[0];
	child_close[0] = stop[1];
	child_close[1] = ready_s[0];
	child_close[2] = ready_p[0];
	nchild_close = 3;

	/* The peer stays open throughout, so the pair (and the scribbled
	 * rings) survive the scribbler's close. */
	a.ready_w = ready_p[1];
	pid_t pp = spawn(hdr_peer, &a);
	assert_true(pp > 0);
	assert_int_equal(read_full(ready_p[0], &peer_off, sizeof(peer_off), 20000), 0);
	pid_t broker = tu_broker_pid();
	assert_true(broker > 0);

	a.ready_w = ready_s[1];
	pid_t ps = spawn(scribbler, &a);
	assert_true(ps > 0);
	close(stop[0]);
	close(ready_s[1]);
	close(ready_p[1]);
	assert_int_equal(read_full(ready_s[0], &n, sizeof(n), 20000), 0);
	assert_in_range(n, 2, 1u << 20);
	uint32_t *own = calloc(n, sizeof(*own));
	assert_non_null(own);
	assert_int_equal(read_full(ready_s[0], own, n * sizeof(*own), 20000), 0);
	int s_scr = reap(ps, WAIT_LIMIT);
	describe("scribbler", s_scr);
	assert_true(exited_ok(s_scr));
	assert_true(broker_alive(broker));
	assert_true(released(a.name));

	/* Re-open: the rings must be usable as netmap leaves them after
	 * NIOCREGIF, whatever the previous user left in them. */
	struct nmk_port *p = nmk_port_open(a.name, err);
	if (p == NULL)
		fail_msg("re-open %s: %s", a.name, err);
	const struct nmk_port_info *info = nmk_port_info(p);
	struct netmap_ring *tx = nmk_port_txring(p, 0), *rx = nmk_port_rxring(p, 0);
	assert_non_null(tx);
	assert_non_null(rx);
	assert_int_equal(info->tx_slots, n);
	uint32_t nr = info->rx_slots;
	say("# re-opened: tx head %u cur %u tail %u, rx head %u cur %u tail %u", tx->head, tx->cur,
	    tx->tail, rx->head, rx->cur, rx->tail);
	assert_true(tx->head < n && tx->cur == tx->head && tx->tail < n);
	assert_true(rx->head < nr && rx->cur == rx->head && rx->tail < nr);
	assert_int_equal(rx->tail, rx->head);   /* the peer sent nothing */

	/* The constant part of the headers, which NETMAP_BUF() and
	 * nm_ring_next() read. */
	char *mem = nmk_port_mem(p);
	struct netmap_ring *rings[2] = { tx, rx };
	uint32_t slots[2] = { n, nr };
	for (int d = 0; d < 2; d++) {
		struct netmap_ring *ring = rings[d];
		assert_int_equal(ring->num_slots, slots[d]);
		assert_int_equal(ring->nr_buf_size, info->buf_size);
		assert_int_equal(ring->dir, d);
		assert_int_equal(ring->ringid, 0);
		assert_int_equal((uint64_t)((char *)ring + ring->buf_ofs - mem), peer_off);
	}

	/* Sync until the peer has given back every slot the scribbler
	 * handed over; then the whole ring is ours, and every slot of it
	 * must be safe to write through. */
	assert_true(tx_drained(p, tx));
	struct geom g = {
		.mem = mem, .memsize = info->memsize, .bufs = mem + peer_off,
		.buf_size = info->buf_size,
	};
	g.nbufs = (uint32_t)((info->memsize - peer_off) / info->buf_size);
	uint32_t bad = 0;
	for (uint32_t i = tx->head; i != tx->tail; i = next(i, n))
		bad += tx->slot[i].buf_idx >= g.nbufs || tx->slot[i].len > g.buf_size;
	if (bad)
		say("# re-opened tx ring: %u of %u free slots still hold a bad buffer or length", bad,
		    dist(tx->head, tx->tail, n));
	assert_int_equal(bad, 0);

	/* And the port works: frames in its own buffers reach the peer. */
	send_frames(tx, n, &g, own, HDR_FRAMES, HDR_SEQ0);
	assert_int_equal(nmk_txsync(p), 0);
	assert_true(tx_drained(p, tx));
	close(stop[1]);
	int s_peer = reap(pp, 10);
	describe("peer", s_peer);
	assert_true(exited_ok(s_peer));
	nmk_port_close(p);
	free(own);
	assert_true(broker_alive(broker));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_teardown(test_fuzz_pipe, kill_children),
		cmocka_unit_test_teardown(test_scribble_header, kill_children),
	};

	return cmocka_run_group_tests_name("fuzz_ring", tests, NULL, NULL);
}
