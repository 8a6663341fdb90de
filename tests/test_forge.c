/*
 * test_forge.c - a client forges the shared words it can reach (issue 8,
 * item 8).
 *
 * Every client of a VALE switch maps the switch's whole region and its
 * whole control object read-write, and every client of a pipe parent maps
 * that parent's; so any client can write any lock, lease, index, count,
 * pid and table entry that the other clients and the broker read.  Each
 * case here forges one such word (or a small family of them) as an
 * attacker would, and checks what the users of the machine rely on, not
 * one way of implementing the defence:
 *
 *  - no honest process dies of a signal, and every honest sync and poll
 *    returns (each child reports where it is; one still inside a call when
 *    told to stop has hung there);
 *  - after the attack, each honest client of the attacked switch (or pipe)
 *    either gets service again (the receiver gets frames sent after the
 *    attack, the sender's ring frees up) or keeps getting errors (a
 *    negative sync return, POLLERR: one seen after the attack) within
 *    SERVICE_S seconds; a silent stall fails, also after an error;
 *  - the library never shows an honest client a ring it cannot walk (slot
 *    counts and indices out of range);
 *  - the broker is the same live process all along and answers: during
 *    the attack, and afterwards, a new port opens on the attacked switch
 *    and on a new switch within PROBE_S seconds, and a fresh pair of ports
 *    on the attacked switch (or pipe parent) moves a frame;
 *  - a pair of ports on another switch (another region), started before
 *    the attack and running through it, gets every numbered frame intact
 *    and in order, and nothing is dropped.
 *
 * Process layout per case: the broker (our child, in the foreground, in a
 * runtime directory of its own), the B pair, the A pair (the attacked one),
 * the attacker (a client of A: it opens a port of its own and writes
 * through p->mem, the control object it mapped like any client), and the
 * probes.  Every child has an alarm and dies with the test; a crash or an
 * alarm prints a backtrace to stderr (see tests/test_forge.log; resolve
 * "test_forge(+0x1234)" with `addr2line -f -e tests/test_forge 0x1234`).
 * The parent never calls the library, so it cannot hang on the broker.
 *
 * NMKIT_TEST_FILTER=vale_lock_others runs one case (a glob).
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
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <nmkit/nmkit.h>
#include <nmkit/compat/net/netmap_user.h>

#if defined(__GLIBC__)
#include <execinfo.h>           /* elsewhere (libexecinfo) the backtraces are left out */
#define HAVE_BT 1
#else
#define HAVE_BT 0
#endif

#include "port.h"
#include "shm.h"
#include "vale_shm.h"
#include "testutil.h"

#ifndef NMK_MON_ZCOPY
#define NMK_MON_ZCOPY 0x80000000u       /* libnm/core/publish.h: a zero-copy monitor entry */
#endif

/* ---- what this test knows of the library's insides ----------------------------
 *
 * All of it is here, so that a change of layout is fixed in one place: the
 * kring indices and constants of a port's first rings (the opener's
 * trusted copies), the switch section of a control object, the lease lock
 * word.  The attacker writes shared memory through the same mapping that
 * any client gets. */

static uint32_t port_tx_kring(const struct nmk_port *p)
{
	return p->tx_view[0].index;
}

static uint32_t port_rx_kring(const struct nmk_port *p)
{
	return p->rx_view[0].index;
}

static uint32_t port_vport(const struct nmk_port *p)
{
	return p->tx_view[0].vport;
}

static uint32_t port_rx_gen(const struct nmk_port *p)
{
	return p->rx_view[0].gen;
}

static uint32_t port_rx_slots(const struct nmk_port *p)
{
	return p->rx_view[0].num_slots;
}

static struct nmk_vale_hdr *sw_hdr(const struct nmk_mem *m)
{
	return (struct nmk_vale_hdr *)nmk_switch_section(m);
}

/* The switch section's layout, from its header as the broker wrote it. */
static int sw_layout(const struct nmk_mem *m, struct nmk_vale_layout *vl)
{
	const struct nmk_vale_hdr *h = sw_hdr(m);

	if (m->g.sw_bytes == 0)
		return -EINVAL;
	return nmk_vale_layout(h->max_ports, h->learn_entries, vl);
}

static struct nmk_vale_port *sw_port(const struct nmk_mem *m, const struct nmk_vale_layout *vl,
				     uint32_t i)
{
	return nmk_vale_port_at(nmk_switch_section(m), vl, i);
}

static void *sw_learn(const struct nmk_mem *m, const struct nmk_vale_layout *vl)
{
	return (char *)nmk_switch_section(m) + vl->learn_off;
}

/* The lease lock word: the holder's pid, and when it took it (ms). */
typedef _Atomic uint64_t lock_word_t;

static uint64_t lock_value(uint32_t pid, uint32_t taken_ms)
{
	return pid | (uint64_t)taken_ms << 32;
}

/* ---- knobs ---------------------------------------------------------------- */

#define FRAME_LEN     64u
#define BURST         32u
#define WARM_B        256u      /* B frames received before the attack */
#define WARM_A        64u       /* A frames received before the attack */
#define B_WINDOW      256u      /* B frames in flight at most: its ring never overflows */
#define HOLD_MS       200       /* the forged state stands this long before the attacker closes */
#define SERVICE_S     3.0       /* honest A clients: service or an error within this */
#define STOP_S        2.0       /* children finish within this once told to stop */
#define PROBE_S       3.0       /* a new port opens within this */
#define START_S       8.0       /* each set-up step (generous: sanitizers, -j2) */
#define B_DRAIN_S     1.0       /* the B receiver's last frames after the stop */
#define POLL_MS       200       /* honest receivers' poll timeout */
#define LONG_POLL_MS  10000     /* ... in the wake-up cases: a sleeper relies on wake-ups */
#define CHILD_ALARM   25u
#define CASE_ALARM    45u

#define BIG_INDEX     0x7fffffffu
#define NEG_PID       0xffffffffu   /* (pid_t)-1: kill(-1, 0) "succeeds" */
#define NOPID         0x7ffffff0u   /* above any pid_max: never a live process */

static const uint8_t BCAST[6] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff };

/* ---- roles and the state they share ---------------------------------------- */

enum role {
	R_BRX, R_BTX,           /* the pair on switch B */
	R_ARX, R_ATX,           /* the pair on the attacked switch (or pipe) A */
	R_ATK,                  /* the attacker */
	R_PMID,                 /* during the attack: a port on a new switch */
	R_PA,                   /* afterwards: a new port on A */
	R_PNEW,                 /* afterwards: a port on a new switch */
	R_PPAIR,                /* afterwards: a fresh pair on A moves a frame */
	R_N
};

static const char *const role_name[R_N] = {
	"B receiver", "B sender", "A receiver", "A sender", "attacker",
	"probe 'new switch, during the attack'", "probe 'new port on A'",
	"probe 'new switch'", "probe 'fresh pair on A'",
};

enum where { W_IDLE, W_OPEN, W_TXSYNC, W_RXSYNC, W_POLL, W_CLOSE, W_FORGE, W_N };
static const char *const where_name[W_N] = {
	"its own code", "nmk_port_open", "nmk_txsync", "nmk_rxsync", "nmk_port_poll",
	"nmk_port_close", "forging",
};

struct role_sh {
	_Atomic uint32_t ready;
	_Atomic uint32_t where;
	_Atomic uint64_t where_ns;      /* since when */
	_Atomic uint64_t errors;        /* negative returns and POLLERR */
	_Atomic uint64_t first_err_ns, last_err_ns;
	_Atomic uint64_t progress_ns;   /* sender: ring freed; receiver: a fresh frame */
	_Atomic uint64_t sent, rcvd, bad, zero, ringbad;
	char first_err[240];
	char ringbad_msg[200];
	char report[300];               /* why it exited non-zero */
	/* What it opened (for the attacker to aim at). */
	uint32_t tx_kring, rx_kring, port_index, binding_slot, vport, rx_gen, nslots;
	uint8_t mac[6];
};

struct shared {
	struct role_sh r[R_N];
	_Atomic uint32_t atk_go, atk_forged, stop, ref_set;
	_Atomic uint64_t seq_ref;       /* A frames with seq >= this were sent after the attack */
	_Atomic uint64_t ref_ns;
	_Atomic uint64_t b_final;       /* the B sender's total, once it stopped */
	_Atomic uint32_t b_tx_done;
	_Atomic int32_t broker_pid;
	_Atomic uint32_t broker_died_round;
	char atk_note[400];             /* what the attacker wrote */
};

static struct shared *sh;

/* ---- the cases ------------------------------------------------------------- */

enum domain { D_VALE, D_PIPE };

#define F_FLOOD    1u   /* the A sender broadcasts (its frames reach the attacker's port) */
#define F_STAY     2u   /* the attacker keeps its port, and keeps forging, until the stop */
#define F_LONGPOLL 4u   /* the A receiver sleeps in poll for long: it relies on wake-ups */
#define F_RELEARN  8u   /* the A receiver announces its MAC every 20 ms */
#define F_TIGHT    16u  /* the attacker repeats its forge without pausing */

struct atk;

struct fcase {
	const char *name;
	enum domain dom;
	unsigned flags;
	void (*forge)(struct atk *a);   /* once, when told */
	void (*again)(struct atk *a);   /* repeated while the forged state stands, or NULL */
	const uint32_t *values;         /* one attacker port per value (rounds), or NULL */
	unsigned nvalues;
};

/* Names of everything a case opens, made before the first fork. */
static struct {
	char a_rx[64], a_tx[64], a_new[64], a_f1[64], a_f2[64];
	char b_rx[64], b_tx[64], mid[64], fresh[64];
	char sw_a[32], pipe_a[32];
} nm;

static const struct fcase *cur;

/* ---- small things ---------------------------------------------------------- */

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* The clock of lease stamps and lock words (ms, coarse). */
static uint32_t lease_now_ms(void)
{
	return nmk_now_ms();
}

static void sleep_us(long us)
{
	struct timespec ts = { us / 1000000, (us % 1000000) * 1000 };

	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

static void mac_of(uint8_t mac[6], uint32_t n)
{
	mac[0] = 0x02;
	mac[1] = 0x00;
	mac[2] = 0x00;
	mac[3] = 0x0f;
	mac[4] = (uint8_t)(n >> 8);
	mac[5] = (uint8_t)n;
}

static void frame_make(uint8_t *buf, const uint8_t dst[6], const uint8_t src[6], uint64_t seq)
{
	memcpy(buf, dst, 6);
	memcpy(buf + 6, src, 6);
	buf[12] = 0x88;
	buf[13] = 0xb5;
	tu_fill(buf + 14, FRAME_LEN - 14, seq);
}

static bool frame_seq(const uint8_t *buf, uint32_t len, uint64_t *seq)
{
	if (len != FRAME_LEN)
		return false;
	memcpy(seq, buf + 14, 8);
	return tu_check(buf + 14, FRAME_LEN - 14, *seq) == 0;
}

/* ---- children: common ------------------------------------------------------- */

static enum role me;
static volatile sig_atomic_t usr1;

#define S (&sh->r[me])

static void at(enum where w)
{
	atomic_store_explicit(&S->where_ns, now_ns(), memory_order_relaxed);
	atomic_store_explicit(&S->where, w, memory_order_release);
}

static void child_report(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Why this child is about to exit non-zero (the first reason is kept). */
static void child_report(const char *fmt, ...)
{
	va_list ap;

	if (S->report[0] == '\0') {
		va_start(ap, fmt);
		vsnprintf(S->report, sizeof(S->report), fmt, ap);
		va_end(ap);
	}
	va_start(ap, fmt);
	fprintf(stderr, "pid %d (%s): ", (int)getpid(), role_name[me]);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
}

/* A crash, an alarm (a hang) or SIGUSR2 (the parent saw a hang): say where. */
static void on_fatal(int sig)
{
	char buf[200];
	void *bt[48];
	int n = snprintf(buf, sizeof(buf), "pid %d (%s): %s while in %s; backtrace:\n",
			 (int)getpid(), role_name[me], strsignal(sig),
			 where_name[atomic_load(&S->where) % W_N]);

	if (n > 0)
		(void)!write(2, buf, (size_t)n);
#if HAVE_BT
	n = backtrace(bt, 48);
	backtrace_symbols_fd(bt, n, 2);
#else
	(void)bt;
#endif
	if (sig != SIGUSR2)
		raise(sig);             /* SA_RESETHAND: now the default action */
}

static void on_usr1(int sig)
{
	(void)sig;
	usr1 = 1;
}

static void child_init(enum role r)
{
	static char altstack[65536];
	stack_t ss = { .ss_sp = altstack, .ss_size = sizeof(altstack) };
	struct sigaction sa;
	void *bt[2];

	me = r;
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	alarm(CHILD_ALARM);
	/* A child never starts a broker of its own: a dead broker stays dead. */
	setenv("NMKIT_BROKER", "/nonexistent/nmkitd", 1);
#if HAVE_BT
	backtrace(bt, 2);               /* load what backtrace() needs now, not in a handler */
#else
	(void)bt;
#endif
	sigaltstack(&ss, NULL);
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_fatal;
	sa.sa_flags = SA_RESETHAND | SA_ONSTACK;
	const int fatal[] = { SIGSEGV, SIGFPE, SIGBUS, SIGILL, SIGABRT, SIGALRM };
	for (unsigned i = 0; i < sizeof(fatal) / sizeof(fatal[0]); i++)
		sigaction(fatal[i], &sa, NULL);
	sa.sa_flags = SA_ONSTACK;
	sigaction(SIGUSR2, &sa, NULL);
	sa.sa_handler = on_usr1;
	sa.sa_flags = 0;                /* no SA_RESTART: a long poll returns at the stop */
	sigaction(SIGUSR1, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	at(W_IDLE);
}

static bool stopping(void)
{
	return usr1 || atomic_load(&sh->stop);
}

static void note_err(struct nmk_port *p, int ret, const char *what)
{
	atomic_store(&S->last_err_ns, now_ns());
	if (atomic_fetch_add(&S->errors, 1) == 0) {
		atomic_store(&S->first_err_ns, now_ns());
		snprintf(S->first_err, sizeof(S->first_err), "%s: %s (%s)", what, nmk_strerror(ret),
			 p ? nmk_port_error(p) : "");
	}
}

static void note_ringbad(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static void note_ringbad(const char *fmt, ...)
{
	va_list ap;

	if (atomic_fetch_add(&S->ringbad, 1) == 0) {
		va_start(ap, fmt);
		vsnprintf(S->ringbad_msg, sizeof(S->ringbad_msg), fmt, ap);
		va_end(ap);
	}
}

static struct nmk_port *open_port(const char *name)
{
	char err[NMK_ERRBUF_SIZE];

	at(W_OPEN);
	struct nmk_port *p = nmk_port_open(name, err);
	at(W_IDLE);
	if (p == NULL)
		child_report("open %s: %s", name, err);
	return p;
}

static void close_port(struct nmk_port *p)
{
	at(W_CLOSE);
	nmk_port_close(p);
	at(W_IDLE);
}

static int txsync(struct nmk_port *p)
{
	at(W_TXSYNC);
	int r = nmk_txsync(p);
	at(W_IDLE);
	return r;
}

static int rxsync(struct nmk_port *p)
{
	at(W_RXSYNC);
	int r = nmk_rxsync(p);
	at(W_IDLE);
	return r;
}

/* poll; -EINTR (the stop) is 0. */
static int port_poll(struct nmk_port *p, short ev, int ms)
{
	at(W_POLL);
	int r = nmk_port_poll(p, ev, ms);
	at(W_IDLE);
	return r == -EINTR ? 0 : r;
}

/* Tell the attacker what this port is. */
static void publish(struct nmk_port *p, uint32_t macn)
{
	S->tx_kring = port_tx_kring(p);
	S->rx_kring = port_rx_kring(p);
	S->port_index = p->port_index;
	S->binding_slot = p->binding_slot;
	S->vport = port_vport(p);
	S->rx_gen = port_rx_gen(p);
	S->nslots = port_rx_slots(p);
	mac_of(S->mac, macn);
}

/*
 * Is the ring the library shows us one we can walk?  An honest program
 * trusts num_slots, head, cur, tail and the slots' buffer indices as
 * netmap's programs do; a library that shows forged values there has let
 * the attacker reach into this process.
 */
static bool ring_sane(struct nmk_port *p, struct netmap_ring *r, uint32_t n0, const char *what)
{
	if (r->num_slots != n0 || r->head >= n0 || r->cur >= n0 || r->tail >= n0) {
		note_ringbad("%s ring: num_slots %u, head %u, cur %u, tail %u (the ring has %u slots)",
			     what, r->num_slots, r->head, r->cur, r->tail, n0);
		return false;
	}
	for (uint32_t i = 0; i < n0; i++) {
		if (r->slot[i].buf_idx >= p->mem.l->p.buf_num) {
			note_ringbad("%s ring: slot %u has buffer %u (the region has %u)", what, i,
				     r->slot[i].buf_idx, p->mem.l->p.buf_num);
			return false;
		}
	}
	return true;
}

/* ---- the B pair: strict ------------------------------------------------------ */

static int b_receiver(void)
{
	struct nmk_port *p = open_port(nm.b_rx);

	if (p == NULL)
		return 1;
	struct netmap_ring *r = nmk_port_rxring(p, 0);
	uint64_t expect = 0, stop_ns = 0;

	atomic_store(&S->ready, 1);
	for (;;) {
		int rev = port_poll(p, POLLIN, POLL_MS);
		if (rev < 0 || (rev & POLLERR)) {
			child_report("poll: %s (%s)", rev < 0 ? nmk_strerror(rev) : "POLLERR",
				     nmk_port_error(p));
			return 1;
		}
		while (r->head != r->tail) {
			struct netmap_slot *s = &r->slot[r->head];
			uint64_t seq = UINT64_MAX;
			if (!frame_seq((const uint8_t *)NETMAP_BUF(r, s->buf_idx), s->len, &seq) ||
			    seq != expect) {
				child_report("frame at slot %u (length %u) is not frame %llu intact "
					     "(seq field %llu)", r->head, s->len,
					     (unsigned long long)expect, (unsigned long long)seq);
				return 1;
			}
			expect++;
			r->head = r->cur = nm_ring_next(r, r->head);
		}
		atomic_store(&S->rcvd, expect);
		if (atomic_load(&sh->b_tx_done) && expect == atomic_load(&sh->b_final))
			break;
		if (stopping()) {
			if (stop_ns == 0)
				stop_ns = now_ns();
			else if (now_ns() - stop_ns > (uint64_t)(B_DRAIN_S * 1e9)) {
				child_report("got %llu of the %llu frames sent (%s)",
					     (unsigned long long)expect,
					     (unsigned long long)atomic_load(&sh->b_final),
					     atomic_load(&sh->b_tx_done) ? "sender done" :
					     "sender not done");
				return 1;
			}
		}
	}
	if (rxsync(p) < 0) {
		child_report("rxsync: %s", nmk_port_error(p));
		return 1;
	}
	if (nmk_port_rx_dropped(p) != 0) {
		child_report("%llu frames dropped at its ring",
			     (unsigned long long)nmk_port_rx_dropped(p));
		return 1;
	}
	close_port(p);
	return 0;
}

static int b_sender(void)
{
	struct nmk_port *p = open_port(nm.b_tx);

	if (p == NULL)
		return 1;
	struct netmap_ring *r = nmk_port_txring(p, 0);
	uint8_t src[6];
	uint64_t seq = 0;

	mac_of(src, 0xb1);
	while (!stopping()) {
		uint64_t room = B_WINDOW - (seq - atomic_load(&sh->r[R_BRX].rcvd));
		unsigned q = 0;
		while (q < BURST && q < room && nm_ring_space(r) > 0) {
			struct netmap_slot *s = &r->slot[r->head];
			frame_make((uint8_t *)NETMAP_BUF(r, s->buf_idx), BCAST, src, seq++);
			s->len = FRAME_LEN;
			s->flags = 0;
			r->head = r->cur = nm_ring_next(r, r->head);
			q++;
		}
		if (q) {
			atomic_store(&S->sent, seq);
			int ret = txsync(p);
			if (ret < 0) {
				child_report("txsync: %s", nmk_port_error(p));
				return 1;
			}
		}
		/* Short pauses, a long one at first: the receiver sleeps in poll
		 * and the wake-up path (and its fd cache) is set up now, before
		 * anything is attacked. */
		sleep_us(seq <= BURST ? 30000 : 1000);
	}
	atomic_store(&sh->b_final, seq);
	atomic_store(&sh->b_tx_done, 1);
	/* Its own counters, in its own switch's port table. */
	struct nmk_vale_layout vl;
	if (sw_layout(&p->mem, &vl) < 0) {
		child_report("its switch section has no layout");
		return 1;
	}
	struct nmk_vale_port *vp = sw_port(&p->mem, &vl, port_vport(p));
	uint64_t txp = atomic_load(&vp->tx_packets), full = atomic_load(&vp->drop_full),
		 nodest = atomic_load(&vp->drop_nodest), inval = atomic_load(&vp->drop_invalid);
	if (txp != seq || full || nodest || inval) {
		child_report("sent %llu frames; its port counts tx %llu, drop_full %llu, "
			     "drop_nodest %llu, drop_invalid %llu", (unsigned long long)seq,
			     (unsigned long long)txp, (unsigned long long)full,
			     (unsigned long long)nodest, (unsigned long long)inval);
		return 1;
	}
	close_port(p);
	return 0;
}

/* ---- the A pair: tolerant, but watched ---------------------------------------- */

static int a_receiver(void)
{
	const bool vale = cur->dom == D_VALE;
	struct nmk_port *p = open_port(nm.a_rx);

	if (p == NULL)
		return 1;
	publish(p, 0xa1);
	struct netmap_ring *r = nmk_port_rxring(p, 0), *t = nmk_port_txring(p, 0);
	const uint32_t n0 = r->num_slots, tn0 = t->num_slots;
	const int poll_ms = cur->flags & F_LONGPOLL ? LONG_POLL_MS : POLL_MS;
	uint64_t last_learn = 0, hello = 0;

	for (;;) {
		/* VALE: our address, so that the switch learns where we are;
		 * once before the sender starts, then as the case says. */
		if (vale && (last_learn == 0 ||
			     ((cur->flags & F_RELEARN) && now_ns() - last_learn > 20000000u))) {
			if (ring_sane(p, t, tn0, "tx") && nm_ring_space(t) > 0) {
				struct netmap_slot *s = &t->slot[t->head];
				frame_make((uint8_t *)NETMAP_BUF(t, s->buf_idx),
					   last_learn ? sh->r[R_ATX].mac : BCAST, S->mac,
					   UINT64_MAX - hello++);
				s->len = FRAME_LEN;
				s->flags = 0;
				t->head = t->cur = nm_ring_next(t, t->head);
			}
			int ret = txsync(p);
			if (ret < 0)
				note_err(p, ret, "txsync");
			last_learn = now_ns();
		}
		atomic_store(&S->ready, 1);
		if (stopping())
			break;
		int rev = port_poll(p, POLLIN, poll_ms);
		if (rev < 0)
			note_err(p, rev, "poll");
		else if (rev & POLLERR)
			note_err(p, -EIO, "poll gave POLLERR");
		if (!ring_sane(p, r, n0, "rx")) {
			sleep_us(1000);
			continue;
		}
		bool fresh = false;
		uint32_t taken = 0;
		while (r->head != r->tail && taken++ < n0) {
			struct netmap_slot *s = &r->slot[r->head];
			uint64_t seq;
			if (s->len == 0)
				atomic_fetch_add(&S->zero, 1);
			else if (s->len > r->nr_buf_size ||
				 !frame_seq((const uint8_t *)NETMAP_BUF(r, s->buf_idx), s->len, &seq))
				atomic_fetch_add(&S->bad, 1);
			else {
				atomic_fetch_add(&S->rcvd, 1);
				if (atomic_load(&sh->ref_set) && seq >= atomic_load(&sh->seq_ref) &&
				    seq < UINT64_MAX / 2)
					fresh = true;
			}
			r->head = r->cur = nm_ring_next(r, r->head);
		}
		if (fresh)
			atomic_store(&S->progress_ns, now_ns());
		/* The slots go back at the next poll's rxsync, as with netmap. */
	}
	close_port(p);
	return 0;
}

static int a_sender(void)
{
	const bool vale = cur->dom == D_VALE;
	struct nmk_port *p = open_port(nm.a_tx);

	if (p == NULL)
		return 1;
	publish(p, 0xa2);
	struct netmap_ring *r = nmk_port_txring(p, 0);
	const uint32_t n0 = r->num_slots;
	const uint8_t *dst = cur->flags & F_FLOOD ? BCAST : sh->r[R_ARX].mac;
	uint64_t seq = 0;
	unsigned bursts = 0;

	atomic_store(&S->ready, 1);
	while (!stopping()) {
		if (!ring_sane(p, r, n0, "tx")) {
			int ret = txsync(p);
			if (ret < 0)
				note_err(p, ret, "txsync");
			sleep_us(1000);
			continue;
		}
		uint32_t space0 = nm_ring_space(r), q = 0;
		while (q < BURST && nm_ring_space(r) > 0) {
			struct netmap_slot *s = &r->slot[r->head];
			frame_make((uint8_t *)NETMAP_BUF(r, s->buf_idx), dst, S->mac, seq++);
			s->len = FRAME_LEN;
			s->flags = 0;
			r->head = r->cur = nm_ring_next(r, r->head);
			q++;
		}
		atomic_store(&S->sent, seq);
		if (q || vale) {
			int ret = txsync(p);
			if (ret < 0)
				note_err(p, ret, "txsync");
		}
		/* Progress: slots came back (VALE frees the whole ring at every
		 * txsync; a pipe as its receiver releases). */
		if (r->tail < n0 && nm_ring_space(r) > space0 - q)
			atomic_store(&S->progress_ns, now_ns());
		if (nm_ring_space(r) == 0 && !vale) {
			int ret = port_poll(p, POLLOUT, POLL_MS);
			if (ret < 0)
				note_err(p, ret, "poll");
			else if (ret & POLLERR)
				note_err(p, -EIO, "poll gave POLLERR");
			if (r->tail < n0 && nm_ring_space(r) > 0)
				atomic_store(&S->progress_ns, now_ns());
		}
		sleep_us(bursts++ == 0 ? 30000 : 1000);
	}
	close_port(p);
	return 0;
}

/* ---- the attacker --------------------------------------------------------------- */

struct atk {
	struct nmk_port *p;
	const struct nmk_mem *m;
	uint32_t own_tx, own_rx, own_port, own_vport;
	uint32_t value;                 /* this round's value (families) */
	uint32_t dead;                  /* the pid of a process that is gone */
	uint32_t saved[8];              /* for forges that restore what they change */
	struct nmk_vale_layout vl;      /* switches: its section, as at the start */
};

static struct nmk_kring *KR(struct atk *a, uint32_t i)
{
	return nmk_kring_at(a->m, i);
}

static struct nmk_kring *VICTIM_TX(struct atk *a, enum role r)
{
	return KR(a, sh->r[r].tx_kring);
}

static struct nmk_kring *VICTIM_RX(struct atk *a, enum role r)
{
	return KR(a, sh->r[r].rx_kring);
}

static void set32(uint32_t *field, uint32_t v)
{
	*(volatile uint32_t *)field = v;
}

static void set16(uint16_t *field, uint16_t v)
{
	*(volatile uint16_t *)field = v;
}

static void note(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Say what was forged (for the case's summary). */
static void note(const char *fmt, ...)
{
	size_t len = strlen(sh->atk_note);
	va_list ap;

	if (len + 3 >= sizeof(sh->atk_note))
		return;
	if (len)
		len += (size_t)snprintf(sh->atk_note + len, sizeof(sh->atk_note) - len, "; ");
	va_start(ap, fmt);
	vsnprintf(sh->atk_note + len, sizeof(sh->atk_note) - len, fmt, ap);
	va_end(ap);
}

/* Take a sync try-lock (busy) from 0 to v, as its holder would (bounded). */
static bool grab(_Atomic uint32_t *w, uint32_t v)
{
	uint64_t end = now_ns() + 500000000u;

	do {
		uint32_t z = 0;
		if (atomic_compare_exchange_weak(w, &z, v))
			return true;
	} while (now_ns() < end);
	atomic_store(w, v);             /* the honest holder may clear it again */
	return false;
}

/* Take a lease lock from free to (pid, taken_ms), as its holder would. */
static bool grab_lock(lock_word_t *w, uint32_t pid, uint32_t taken_ms)
{
	uint64_t end = now_ns() + 500000000u;

	do {
		uint64_t z = 0;
		if (atomic_compare_exchange_weak(w, &z, lock_value(pid, taken_ms)))
			return true;
	} while (now_ns() < end);
	atomic_store(w, lock_value(pid, taken_ms));
	return false;
}

/*
 * Append a lease record to RX kring kr, following the protocol (under the
 * lease lock, which we take as our own), with whatever values we like.
 * start = ~0 means "where the next lease would start".
 */
static void lease_forge(struct atk *a, uint32_t kr, uint32_t start, uint32_t len, uint32_t end,
			uint32_t pid, uint32_t stamp)
{
	struct nmk_kring *k = KR(a, kr);
	struct nmk_lease *L = nmk_leases_of(a->m, kr);
	uint32_t n = k->num_slots ? k->num_slots : 1;

	grab_lock(&k->lock, nmk_my_pid(), lease_now_ms());
	if (start == ~0u)
		start = k->lease_tail == k->lease_head ? atomic_load(&k->hwtail) % n
						       : L[(k->lease_tail - 1) % NMK_LEASES].end;
	if (end == ~0u)
		end = (start + len) % n;
	struct nmk_lease *l = &L[k->lease_tail % NMK_LEASES];
	l->start = start;
	l->end = end;
	l->stamp = stamp;
	atomic_store(&l->pid, pid);
	k->lease_tail++;
	atomic_store(&k->lock, 0);
}

static struct nmk_vale_hdr *vhdr(struct atk *a)
{
	return sw_hdr(a->m);
}

static struct nmk_vale_port *vport_at(struct atk *a, uint32_t i)
{
	return sw_port(a->m, &a->vl, i);
}

/* The learning table as vale/learn.c lays it out (a 64-byte header, then
 * buckets of 4 keys and 4 last-seen times). */
struct learn_hdr {
	uint32_t magic, version, nentries, bucket_mask, hash_shift;
	_Atomic uint32_t max_age_s, port_limit;
	uint32_t reserved[9];
};
struct learn_bucket {
	_Atomic uint64_t key[4];
	_Atomic uint32_t seen[4];
	uint32_t pad[4];
};

static struct learn_hdr *learn(struct atk *a)
{
	return (struct learn_hdr *)sw_learn(a->m, &a->vl);
}

/* ---- the forges ------------------------------------------------------------------- */

/* Lease locks of the other ports' RX rings held by live pids: pid 1 (a
 * process that never dies) on the receiver's, -1 (kill(-1, 0) succeeds)
 * on the sender's, which only the broker's recovery ever takes. */
static void forge_lock_others(struct atk *a)
{
	grab_lock(&VICTIM_RX(a, R_ARX)->lock, 1, lease_now_ms());
	grab_lock(&VICTIM_RX(a, R_ATX)->lock, NEG_PID, lease_now_ms() + 100000000u);
	note("lock of the A receiver's RX kring %u = pid 1 taken now, of the A sender's RX kring "
	     "%u = pid 0x%x taken in the future", sh->r[R_ARX].rx_kring, sh->r[R_ATX].rx_kring,
	     NEG_PID);
}

/* The lease lock of its own RX ring held by pid 1, then close: the broker's
 * hang-up path (completing the leases of the dead, stopping the port's
 * rings) takes that lock. */
static void forge_lock_own(struct atk *a)
{
	grab_lock(&KR(a, a->own_rx)->lock, 1, lease_now_ms() + 100000000u);
	note("lock of its own RX kring %u = pid 1 taken in the future, then close", a->own_rx);
}

/* Dead pids everywhere a pid is recorded, with sane indices: the designed
 * take-over must work (a lease completed, locks taken over). */
static void forge_dead_pids(struct atk *a)
{
	lease_forge(a, sh->r[R_ARX].rx_kring, ~0u, 4, ~0u, a->dead, lease_now_ms() - 1000);
	lease_forge(a, a->own_rx, ~0u, 4, ~0u, a->dead, lease_now_ms() - 1000);
	grab_lock(&VICTIM_RX(a, R_ARX)->lock, a->dead, lease_now_ms());
	grab_lock(&VICTIM_RX(a, R_ATX)->lock, NOPID, lease_now_ms());
	grab_lock(&KR(a, a->own_rx)->lock, a->dead, lease_now_ms());
	grab(&VICTIM_TX(a, R_ATX)->busy, a->dead);
	grab(&VICTIM_RX(a, R_ARX)->busy, NOPID);
	note("a lease of dead pid %u on the A receiver's and its own RX krings; lease locks = "
	     "%u / 0x%x / %u; busy of the A sender's TX kring = %u, of the A receiver's RX "
	     "kring = 0x%x", a->dead, a->dead, NOPID, a->dead, a->dead, NOPID);
}

/* The sync try-locks of the honest rings held by live pids. */
static void forge_busy_live(struct atk *a)
{
	grab(&VICTIM_TX(a, R_ATX)->busy, 1);
	grab(&VICTIM_RX(a, R_ARX)->busy, NEG_PID);
	note("busy of the A sender's TX kring %u = 1, of the A receiver's RX kring %u = 0x%x",
	     sh->r[R_ATX].tx_kring, sh->r[R_ARX].rx_kring, NEG_PID);
}

/* A lease held by a live pid (1) at the head of the receiver's ring. */
static void forge_lease_live(struct atk *a)
{
	lease_forge(a, sh->r[R_ARX].rx_kring, ~0u, 8, ~0u, 1, lease_now_ms());
	lease_forge(a, sh->r[R_ARX].rx_kring, ~0u, 8, ~0u, NEG_PID, lease_now_ms() + 100000);
	note("leases {8 slots, pid 1} and {8 slots, pid 0x%x, stamp in the future} appended "
	     "to the A receiver's RX kring %u", NEG_PID, sh->r[R_ARX].rx_kring);
}

/* The lease window of the receiver's ring: 2^32 - 1 leases outstanding. */
static void forge_lease_window(struct atk *a)
{
	struct nmk_kring *k = VICTIM_RX(a, R_ARX);

	grab_lock(&k->lock, nmk_my_pid(), lease_now_ms());
	k->lease_tail = k->lease_head - 1;
	atomic_store(&k->lock, 0);
	note("lease_tail = lease_head - 1 on the A receiver's RX kring %u", sh->r[R_ARX].rx_kring);
}

/* Its own RX ring: a lease of a dead pid, then ring_index out of the
 * region; then close (the broker completes the dead lease). */
static void forge_own_ring_index(struct atk *a)
{
	lease_forge(a, a->own_rx, 0, 0, 8, a->dead, lease_now_ms() - 1000);
	set32(&KR(a, a->own_rx)->ring_index, BIG_INDEX);
	note("its own RX kring %u: a lease {0, 8} of dead pid %u, ring_index = 0x%x, then close",
	     a->own_rx, a->dead, BIG_INDEX);
}

/* Its own RX ring: a lease of a dead pid with far indices, and num_slots
 * = the round's value; then close. */
static void forge_own_num_slots(struct atk *a)
{
	lease_forge(a, a->own_rx, 0x7ffffff0u, 0, 0x80000010u, a->dead, lease_now_ms() - 1000);
	set32(&KR(a, a->own_rx)->num_slots, a->value);
	note("port %u: its own RX kring %u: a lease {0x7ffffff0, 0x80000010} of dead pid %u, "
	     "num_slots = %u, then close", a->own_vport, a->own_rx, a->dead, a->value);
}

/* num_slots of the honest rings. */
static void forge_num_slots_others(struct atk *a)
{
	set32(&VICTIM_RX(a, R_ARX)->num_slots, 0);
	set32(&VICTIM_TX(a, R_ATX)->num_slots, 0xffffffffu);
	set32(&VICTIM_RX(a, R_ATX)->num_slots, 4097);
	note("num_slots of the A receiver's RX kring = 0, of the A sender's TX kring = "
	     "0xffffffff, of its RX kring = 4097");
}

/* num_slots of the honest rings flipped between 0 and its value, as fast
 * as we can, so that a check and a later read disagree; restored at the
 * end. */
static void forge_num_slots_flip(struct atk *a)
{
	a->saved[0] = VICTIM_RX(a, R_ARX)->num_slots;
	a->saved[1] = VICTIM_TX(a, R_ATX)->num_slots;
	note("num_slots of the A receiver's RX kring and of the A sender's TX kring flipped "
	     "between 0 and %u for %d ms, then restored", a->saved[0], HOLD_MS);
}

static void again_num_slots_flip(struct atk *a)
{
	for (int i = 0; i < 20000; i++) {
		set32(&VICTIM_RX(a, R_ARX)->num_slots, 0);
		set32(&VICTIM_TX(a, R_ATX)->num_slots, 0);
		set32(&VICTIM_RX(a, R_ARX)->num_slots, a->saved[0]);
		set32(&VICTIM_TX(a, R_ATX)->num_slots, a->saved[1]);
	}
}

static void restore_num_slots(struct atk *a)
{
	set32(&VICTIM_RX(a, R_ARX)->num_slots, a->saved[0]);
	set32(&VICTIM_TX(a, R_ATX)->num_slots, a->saved[1]);
}

/* num_slots of the honest rings: wrong, but within netmap's limits. */
static void forge_num_slots_valid(struct atk *a)
{
	set32(&VICTIM_RX(a, R_ARX)->num_slots, 4096);
	set32(&VICTIM_TX(a, R_ATX)->num_slots, 2);
	note("num_slots of the A receiver's RX kring = 4096 (it has %u), of the A sender's TX "
	     "kring = 2", sh->r[R_ARX].nslots);
}

/* ring_index of the honest receiver's ring: our own ring's, a valid one. */
static void forge_ring_index_valid(struct atk *a)
{
	uint32_t mine = KR(a, a->own_rx)->ring_index;

	set32(&VICTIM_RX(a, R_ARX)->ring_index, mine);
	note("ring_index of the A receiver's RX kring = %u, our own RX ring's (a valid index)",
	     mine);
}

/* ring_index of the honest rings out of the region. */
static void forge_ring_index_others(struct atk *a)
{
	set32(&VICTIM_RX(a, R_ARX)->ring_index, BIG_INDEX);
	set32(&VICTIM_TX(a, R_ATX)->ring_index, 0x40000000u);
	note("ring_index of the A receiver's RX kring = 0x%x, of the A sender's TX kring = "
	     "0x40000000", BIG_INDEX);
}

/* ring_index of its own RX ring out of the region, while the honest
 * sender floods (every flood reaches our port). */
static void forge_ring_index_own(struct atk *a)
{
	set32(&KR(a, a->own_rx)->ring_index, BIG_INDEX);
	note("ring_index of its own RX kring %u = 0x%x (the A sender floods)", a->own_rx, BIG_INDEX);
}

/* kind of the honest rings: garbage, and valid kinds of the wrong sort. */
static void forge_kind_others(struct atk *a)
{
	set32(&VICTIM_RX(a, R_ARX)->kind, 0xdeadbeefu);
	set32(&VICTIM_TX(a, R_ATX)->kind, NMK_KIND_PIPE);
	set32(&VICTIM_RX(a, R_ATX)->kind, NMK_KIND_DRIVER);
	note("kind of the A receiver's RX kring = 0xdeadbeef, of the A sender's TX kring = "
	     "PIPE, of its RX kring = DRIVER");
}

/* Its own TX ring made to look like a pipe whose peer is its RX ring, and
 * that ring's ring_index out of the region; then close (the broker settles
 * the abandoned TX rings of pipes: what a dead sender left). */
static void forge_own_kind_peer(struct atk *a)
{
	struct nmk_kring *t = KR(a, a->own_tx), *r = KR(a, a->own_rx);
	uint32_t n = t->num_slots;

	set32(&t->peer, a->own_rx);
	set32(&t->kind, NMK_KIND_PIPE);
	atomic_store(&t->hwcur, (atomic_load(&r->hwtail) + 3) % n);
	set32(&r->ring_index, BIG_INDEX);
	note("its own TX kring %u: kind = PIPE, peer = its RX kring %u (ring_index = 0x%x), "
	     "hwcur = hwtail + 3; then close", a->own_tx, a->own_rx, BIG_INDEX);
}

/* Owner-side and producer-side indices of the honest rings. */
static void forge_hw_indices(struct atk *a)
{
	struct nmk_kring *r = VICTIM_RX(a, R_ARX), *t = VICTIM_TX(a, R_ATX);

	atomic_store(&r->hwtail, 0xfffffff0u);
	atomic_store(&r->hwcur, 0x7ffffff1u);
	set32(&r->rhead, 0xffffffffu);
	set32(&r->rtail, 0x80000000u);
	atomic_store(&t->hwcur, 0xfffffff5u);
	set32(&t->rhead, BIG_INDEX);
	set32(&t->rtail, 0xffffffffu);
}

static void forge_hw_indices_first(struct atk *a)
{
	forge_hw_indices(a);
	note("A receiver's RX kring: hwtail 0xfffffff0, hwcur 0x7ffffff1, rhead 0xffffffff, "
	     "rtail 0x80000000; A sender's TX kring: hwcur 0xfffffff5, rhead 0x7fffffff, rtail "
	     "0xffffffff; rewritten every ms for %d ms", HOLD_MS);
}

/* Identity words of the honest rings: vport, ring_id, dir. */
static void forge_kring_ids(struct atk *a)
{
	struct nmk_kring *r = VICTIM_RX(a, R_ARX), *t = VICTIM_TX(a, R_ATX);

	set32(&r->vport, 0xffffffffu);
	set16(&r->ring_id, 0xffff);
	set16(&r->dir, 7);
	set32(&t->vport, 0xfffffff0u);
	set16(&t->ring_id, 0xfffe);
	note("A receiver's RX kring: vport 0xffffffff, ring_id 0xffff, dir 7; A sender's TX "
	     "kring: vport 0xfffffff0, ring_id 0xfffe");
}

/* The words that tell senders a ring is gone: stopped, gen. */
static void forge_ring_gone(struct atk *a)
{
	struct nmk_kring *r = VICTIM_RX(a, R_ARX);

	atomic_store(&r->stopped, 1);
	set32(&r->gen, r->gen + 0x1000);
	note("A receiver's RX kring %u: stopped = 1, gen += 0x1000", sh->r[R_ARX].rx_kring);
}

/* The honest receiver's entry in the switch's port table. */
static void forge_ptable_entry(struct atk *a)
{
	struct nmk_vale_port *vp = vport_at(a, sh->r[R_ARX].vport);

	set32(&vp->nrx, 0xffffffffu);
	for (unsigned i = 0; i < NMK_VALE_MAXRINGS; i++)
		set32(&vp->rx_kring[i], 0xfffffff0u);
	set32(&vp->gen, vp->gen ^ 0x5555u);
	set32(&vp->ctrl_port, 0xffffffffu);
	note("the A receiver's port table entry %u: nrx 0xffffffff, rx_kring[] 0xfffffff0, "
	     "gen ^= 0x5555, ctrl_port 0xffffffff", sh->r[R_ARX].vport);
}

/* The port table's header and every free entry, while the sender floods. */
static void forge_ptable_rest(struct atk *a)
{
	struct nmk_vale_hdr *h = vhdr(a);
	unsigned forged = 0;

	atomic_store(&h->max_active, 0xffffffffu);
	set32(&h->max_ports, 0xffffffffu);
	atomic_store(&h->nactive, 0x7fffffffu);
	atomic_store(&h->learn_age_s, 0);
	memset(h->name, 'Z', sizeof(h->name));
	for (uint32_t i = 0; i < a->vl.max_ports; i++) {
		struct nmk_vale_port *vp = vport_at(a, i);
		if (atomic_load(&vp->state) != NMK_VPORT_FREE)
			continue;
		set32(&vp->gen, i % 3 == 2 ? sh->r[R_ARX].rx_gen : 0x77u);
		set32(&vp->nrx, i % 5 == 0 ? 0xffffffffu : NMK_VALE_MAXRINGS);
		set32(&vp->ctrl_port, i % 2 ? 0xffffffffu : sh->r[R_ARX].port_index);
		for (unsigned j = 0; j < NMK_VALE_MAXRINGS; j++) {
			const uint32_t pick[4] = { 0xffffffffu, a->m->g.nkrings - 1,
						   sh->r[R_ATX].tx_kring, sh->r[R_ARX].rx_kring };
			set32(&vp->rx_kring[j], pick[j % 4]);
		}
		atomic_store(&vp->state, i % 7 == 6 ? 0x12345u : NMK_VPORT_ACTIVE);
		forged++;
	}
	note("port table header: max_active, max_ports 0xffffffff, nactive 0x7fffffff, "
	     "learn_age 0, name unterminated; %u free entries made ACTIVE with rx_kring[] = "
	     "0xffffffff / the last kring / the A sender's TX kring / the A receiver's RX kring "
	     "(the A sender floods)", forged);
}

/* The learning table's header. */
static void forge_learn_header(struct atk *a)
{
	struct learn_hdr *t = learn(a);

	t->magic = 0;
	t->nentries = 0xffffffffu;
	t->bucket_mask = 0x0fffffffu;
	t->hash_shift = 0;
	atomic_store(&t->port_limit, 0xffffffffu);
	atomic_store(&t->max_age_s, 0);
	note("learning table header: nentries 0xffffffff, bucket_mask 0x0fffffff, hash_shift 0, "
	     "port_limit 0xffffffff, magic 0; then close");
}

/* Every entry of the learning table: garbage keys and times, and the
 * honest receiver's MAC on our port; rewritten while the forged state
 * stands (the receiver announces itself every 20 ms). */
static void forge_learn_entries(struct atk *a)
{
	uint32_t nb = a->vl.learn_entries / 4;
	struct learn_bucket *b = (struct learn_bucket *)((char *)learn(a) + 64);
	uint64_t victim = 0;

	for (int i = 0; i < 6; i++)
		victim |= (uint64_t)sh->r[R_ARX].mac[i] << (8 * i);
	for (uint32_t i = 0; i < nb; i++) {
		for (unsigned w = 0; w < 4; w++) {
			uint64_t key = (i * 4u + w) * UINT64_C(0x9e3779b97f4a7c15);
			if (w == 0)
				key = victim | ((uint64_t)(a->own_vport + 1) << 48);
			else if (w == 1)
				key |= UINT64_C(0xffff) << 48;
			atomic_store(&b[i].key[w], key);
			atomic_store(&b[i].seen[w], w == 2 ? 0xffffffffu : (uint32_t)time(NULL) + 100000u);
		}
	}
}

static void forge_learn_entries_first(struct atk *a)
{
	forge_learn_entries(a);
	note("every learning table entry: garbage keys, ports 0xfffe and times; the A "
	     "receiver's MAC on our port %u; rewritten for %d ms", a->own_vport, HOLD_MS);
}

/* Monitor entries on the honest rings pointing at our own RX ring, whose
 * ring_index is out of the region. */
static void forge_mon(struct atk *a)
{
	struct nmk_kring *own = KR(a, a->own_rx);
	uint64_t e = a->own_rx | ((uint64_t)own->gen << 32);

	atomic_store(&VICTIM_TX(a, R_ATX)->mon[0], e);
	atomic_store(&VICTIM_TX(a, R_ATX)->mon[1], 0x7ffffff0u);
	atomic_store(&VICTIM_RX(a, R_ARX)->mon[0], e | NMK_MON_ZCOPY);
	set32(&own->ring_index, BIG_INDEX);
	note("mon[0] of the A sender's TX kring = its own RX kring %u (gen %u), mon[1] = "
	     "0x7ffffff0; mon[0] of the A receiver's RX kring = the same, zero-copy; its own "
	     "RX kring's ring_index = 0x%x", a->own_rx, own->gen, BIG_INDEX);
}

/* The receiver's wake-up mask cleared, again and again. */
static void forge_armed(struct atk *a)
{
	note("armed of the A receiver's RX kring cleared continuously (the A receiver sleeps "
	     "in poll with a %d ms timeout)", LONG_POLL_MS);
}

static void again_armed(struct atk *a)
{
	struct nmk_kring *r = VICTIM_RX(a, R_ARX);

	for (int i = 0; i < 100000; i++)
		atomic_store_explicit(&r->armed, 0, memory_order_relaxed);
}

/* Where wake-ups go: the receiver's RX kring's port, and the receiver's
 * binding ids in the control port table. */
static void forge_wake_ids(struct atk *a)
{
	struct nmk_ctrl_port *cp = nmk_ctrl_port_at(a->m, sh->r[R_ARX].port_index);

	set32(&VICTIM_RX(a, R_ARX)->port, a->own_port);
	atomic_store(&cp->binding[sh->r[R_ARX].binding_slot], UINT64_C(0xdead0000beef));
}

static void forge_wake_ids_first(struct atk *a)
{
	forge_wake_ids(a);
	note("port of the A receiver's RX kring = our port %u; the A receiver's binding id "
	     "(port %u slot %u) = 0xdead0000beef (the A receiver sleeps in poll with a %d ms "
	     "timeout)", a->own_port, sh->r[R_ARX].port_index, sh->r[R_ARX].binding_slot,
	     LONG_POLL_MS);
}

/* Pipes: the honest TX ring's peer is our RX ring; the RX ring's peer is
 * nothing. */
static void forge_pipe_peer(struct atk *a)
{
	set32(&VICTIM_TX(a, R_ATX)->peer, a->own_rx);
	set32(&VICTIM_RX(a, R_ARX)->peer, 0xffffffffu);
	note("peer of the pipe sender's TX kring %u = our RX kring %u, of the pipe receiver's RX "
	     "kring %u = 0xffffffff", sh->r[R_ATX].tx_kring, a->own_rx, sh->r[R_ARX].rx_kring);
}

static void forge_pipe_busy(struct atk *a)
{
	grab(&VICTIM_TX(a, R_ATX)->busy, 1);
	grab(&VICTIM_RX(a, R_ARX)->busy, NEG_PID);
	note("busy of the pipe sender's TX kring = 1, of the pipe receiver's RX kring = 0x%x",
	     NEG_PID);
}

static void forge_pipe_hw(struct atk *a)
{
	struct nmk_kring *t = VICTIM_TX(a, R_ATX), *r = VICTIM_RX(a, R_ARX);

	atomic_store(&t->hwcur, 0xfffffff0u);
	set32(&t->rhead, 0xffffffffu);
	set32(&t->rtail, BIG_INDEX);
	atomic_store(&r->hwtail, 0x7ffffff3u);
	atomic_store(&r->hwcur, 0xffffffffu);
	set32(&r->rtail, 0xfffffff9u);
}

static void forge_pipe_hw_first(struct atk *a)
{
	forge_pipe_hw(a);
	note("pipe sender's TX kring: hwcur 0xfffffff0, rhead 0xffffffff, rtail 0x7fffffff; pipe "
	     "receiver's RX kring: hwtail 0x7ffffff3, hwcur 0xffffffff, rtail 0xfffffff9; "
	     "rewritten every ms for %d ms", HOLD_MS);
}

static void forge_pipe_ring_index(struct atk *a)
{
	set32(&VICTIM_TX(a, R_ATX)->ring_index, BIG_INDEX);
	set32(&VICTIM_RX(a, R_ARX)->ring_index, 0x40000000u);
	note("ring_index of the pipe sender's TX kring = 0x%x, of the pipe receiver's RX kring = "
	     "0x40000000", BIG_INDEX);
}

static void forge_pipe_slots_kind(struct atk *a)
{
	set32(&VICTIM_RX(a, R_ARX)->num_slots, 0);
	set32(&VICTIM_TX(a, R_ATX)->kind, 0x1234u);
	note("num_slots of the pipe receiver's RX kring = 0, kind of the pipe sender's TX kring = "
	     "0x1234");
}

/* Our own pipe end's TX ring: its peer made our RX ring, whose ring_index
 * is out of the region, with slots pending; then close (the broker settles
 * the abandoned TX rings of pipes: what a dead sender left). */
static void forge_pipe_own_peer(struct atk *a)
{
	struct nmk_kring *t = KR(a, a->own_tx), *r = KR(a, a->own_rx);
	uint32_t n = t->num_slots;

	set32(&t->peer, a->own_rx);
	set32(&r->num_slots, n);
	atomic_store(&t->hwcur, (atomic_load(&r->hwtail) + 3) % n);
	set32(&r->ring_index, BIG_INDEX);
	note("its own TX kring %u: peer = its RX kring %u (ring_index = 0x%x), hwcur = hwtail + "
	     "3; then close", a->own_tx, a->own_rx, BIG_INDEX);
}

static uint32_t dead_pid(void)
{
	pid_t pid = fork();

	if (pid == 0)
		_exit(0);
	waitpid(pid, NULL, 0);
	return (uint32_t)pid;
}

static int attacker(void)
{
	const unsigned rounds = cur->nvalues ? cur->nvalues : 1;
	struct atk a = { .dead = dead_pid() };

	for (unsigned round = 0; round < rounds; round++) {
		char name[64];
		if (cur->dom == D_VALE)
			snprintf(name, sizeof(name), "%s:x%u", nm.sw_a, round);
		else
			snprintf(name, sizeof(name), "%s{%u", nm.pipe_a, 2 + round);
		a.p = open_port(name);
		if (a.p == NULL)
			return 1;
		a.m = &a.p->mem;
		a.own_tx = port_tx_kring(a.p);
		a.own_rx = port_rx_kring(a.p);
		a.own_port = a.p->port_index;
		a.own_vport = port_vport(a.p);
		if (cur->dom == D_VALE && sw_layout(a.m, &a.vl) < 0) {
			child_report("%s: its switch section has no layout", name);
			return 1;
		}
		a.value = cur->values ? cur->values[round] : 0;
		if (round == 0) {
			atomic_store(&S->ready, 1);
			while (!atomic_load(&sh->atk_go)) {
				if (stopping())
					return 0;
				sleep_us(200);
			}
		}
		at(W_FORGE);
		cur->forge(&a);
		at(W_IDLE);
		atomic_store(&sh->atk_forged, 1);
		uint64_t end = now_ns() + HOLD_MS * 1000000ull;
		while (cur->flags & F_STAY ? !stopping() : now_ns() < end) {
			if (cur->again)
				cur->again(&a);
			if (!(cur->flags & F_TIGHT))
				sleep_us(1000);
		}
		if (cur->again == again_num_slots_flip)
			restore_num_slots(&a);
		close_port(a.p);
		if (rounds > 1) {
			/* Let the broker run its hang-up path; stop if it died. */
			sleep_us(150000);
			if (!tu_alive(atomic_load(&sh->broker_pid))) {
				atomic_store(&sh->broker_died_round, round + 1);
				break;
			}
		}
	}
	return 0;
}

/* ---- probes ------------------------------------------------------------------ */

static int probe_open(const char *name)
{
	struct nmk_port *p = open_port(name);

	if (p == NULL)
		return 1;
	close_port(p);
	return 0;
}

static int probe_mid(void)
{
	return probe_open(nm.mid);
}

static int probe_a(void)
{
	return probe_open(nm.a_new);
}

static int probe_new(void)
{
	return probe_open(nm.fresh);
}

/* A fresh pair on A: f1 sends (floods, on a switch) until f2 gets one of
 * its frames intact. */
static int probe_pair(void)
{
	struct nmk_port *rx = open_port(nm.a_f2);

	if (rx == NULL)
		return 1;
	struct nmk_port *tx = open_port(nm.a_f1);
	if (tx == NULL)
		return 1;
	struct netmap_ring *t = nmk_port_txring(tx, 0), *r = nmk_port_rxring(rx, 0);
	const uint32_t tn = t->num_slots, rn = r->num_slots;
	uint8_t src[6];
	uint64_t end = now_ns() + 2000000000u, seq = 0;
	unsigned got = 0, bad = 0;

	mac_of(src, 0xf1);
	while (got == 0 && now_ns() < end) {
		if (!ring_sane(tx, t, tn, "tx") || !ring_sane(rx, r, rn, "rx")) {
			child_report("the library showed an impossible ring: %s", S->ringbad_msg);
			return 1;
		}
		if (nm_ring_space(t) > 0) {
			struct netmap_slot *s = &t->slot[t->head];
			frame_make((uint8_t *)NETMAP_BUF(t, s->buf_idx), BCAST, src, seq++);
			s->len = FRAME_LEN;
			s->flags = 0;
			t->head = t->cur = nm_ring_next(t, t->head);
		}
		int ret = txsync(tx);
		if (ret < 0)
			note_err(tx, ret, "f1 txsync");
		ret = port_poll(rx, POLLIN, 20);
		if (ret < 0 || (ret & POLLERR))
			note_err(rx, ret < 0 ? ret : -EIO, "f2 poll");
		for (uint32_t i = 0; r->head != r->tail && i < rn; i++) {
			struct netmap_slot *s = &r->slot[r->head];
			const uint8_t *b = (const uint8_t *)NETMAP_BUF(r, s->buf_idx);
			uint64_t q;
			if (frame_seq(b, s->len, &q) && memcmp(b + 6, src, 6) == 0)
				got++;
			else if (s->len)
				bad++;
			r->head = r->cur = nm_ring_next(r, r->head);
		}
	}
	if (got == 0) {
		child_report("f2 got none of the %llu frames f1 sent in 2 s (%u others; errors: %s)",
			     (unsigned long long)seq, bad, S->first_err[0] ? S->first_err : "none");
		return 1;
	}
	close_port(tx);
	close_port(rx);
	return 0;
}

/* ---- the parent: children, the broker, the verdict --------------------------------- */

struct kid {
	pid_t pid;
	bool done, hung;
	int status;
	const char *phase;              /* when it ended */
	double life;                    /* hung: how long it had run */
	double stuck;                   /* hung: how long it had been in its last call */
	double born;
	const char *stuck_in;
};

static struct kid kids[R_N];
static pid_t broker_child;
static bool broker_dead;
static int broker_status;
static const char *broker_phase;
static const char *phase = "set-up";
static char verdict[6000];
static unsigned nfail;

static void fail_add(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static void fail_add(const char *fmt, ...)
{
	size_t len = strlen(verdict);
	va_list ap;

	if (len + 8 < sizeof(verdict)) {
		len += (size_t)snprintf(verdict + len, sizeof(verdict) - len, "\n#   - ");
		va_start(ap, fmt);
		vsnprintf(verdict + len, sizeof(verdict) - len, fmt, ap);
		va_end(ap);
	}
	nfail++;
}

static void poll_all(void)
{
	int st;

	for (int r = 0; r < R_N; r++) {
		if (kids[r].pid > 0 && !kids[r].done && waitpid(kids[r].pid, &st, WNOHANG) == kids[r].pid) {
			kids[r].done = true;
			kids[r].status = st;
			kids[r].phase = phase;
		}
	}
	if (broker_child > 0 && !broker_dead && waitpid(broker_child, &st, WNOHANG) == broker_child) {
		broker_dead = true;
		broker_status = st;
		broker_phase = phase;
	}
}

static const char *status_str(int st, char *buf, size_t len)
{
	if (WIFSIGNALED(st))
		snprintf(buf, len, "killed by %s%s", strsignal(WTERMSIG(st)),
			 WTERMSIG(st) == SIGALRM ? " (its alarm: a hang)" : "");
	else if (WIFEXITED(st))
		snprintf(buf, len, "exited with status %d", WEXITSTATUS(st));
	else
		snprintf(buf, len, "status 0x%x", st);
	return buf;
}

static void spawn(enum role r, int (*fn)(void))
{
	fflush(stdout);
	fflush(stderr);
	pid_t pid = fork();

	assert_true(pid >= 0);
	if (pid == 0) {
		child_init(r);
		_exit(fn());
	}
	kids[r] = (struct kid){ .pid = pid, .born = tu_now() };
}

static double in_call_s(enum role r);
static const char *where_of(enum role r);

/* Kill a child that did not finish: first ask it where it is. */
static void kid_kill(enum role r)
{
	if (kids[r].pid <= 0 || kids[r].done)
		return;
	kids[r].stuck = in_call_s(r);
	kids[r].stuck_in = where_of(r);
	kids[r].life = tu_now() - kids[r].born;
	kill(kids[r].pid, SIGUSR2);
	sleep_us(50000);
	kill(kids[r].pid, SIGKILL);
	waitpid(kids[r].pid, &kids[r].status, 0);
	kids[r].done = true;
	kids[r].hung = true;
	kids[r].phase = phase;
}

static void kids_kill_all(void)
{
	for (int r = 0; r < R_N; r++) {
		if (kids[r].pid > 0 && !kids[r].done) {
			kill(kids[r].pid, SIGKILL);
			waitpid(kids[r].pid, NULL, 0);
			kids[r].done = true;
		}
	}
}

/* Wait for cond for at most secs; false on the timeout. */
#define WAIT(cond, secs)                                                       \
	({                                                                     \
		double end_ = tu_now() + (secs);                               \
		bool ok_;                                                      \
		for (;;) {                                                     \
			poll_all();                                            \
			if ((ok_ = (cond)))                                    \
				break;                                         \
			if (tu_now() > end_)                                   \
				break;                                         \
			sleep_us(500);                                         \
		}                                                              \
		ok_;                                                           \
	})

static double in_call_s(enum role r)
{
	uint64_t since = atomic_load(&sh->r[r].where_ns);

	return since ? (double)(now_ns() - since) * 1e-9 : 0;
}

static const char *where_of(enum role r)
{
	return where_name[atomic_load(&sh->r[r].where) % W_N];
}

/* A set-up step failed: say why and stop the case. */
static void setup_failed(const char *what, enum role r)
{
	char st[80] = "running";

	poll_all();
	if (kids[r].done)
		status_str(kids[r].status, st, sizeof(st));
	kids_kill_all();
	fail_msg("set-up: %s (%s %s, in %s%s%s; broker %s)", what, role_name[r], st, where_of(r),
		 sh->r[r].report[0] ? ": " : "", sh->r[r].report,
		 broker_dead ? "dead" : "alive");
}

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

/* The case's broker: our child, in the foreground, in a fresh runtime
 * directory that the library finds through NMKIT_RUNDIR. */
static void broker_start(void)
{
	const char *bin = getenv("NMKIT_BROKER");
	char sock[300];

	assert_int_equal(tu_setup("forge"), 0);
	broker_child = fork();
	assert_true(broker_child >= 0);
	if (broker_child == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		execl(bin, bin, "-f", "--idle-exit", "20", (char *)NULL);
		_exit(127);
	}
	snprintf(sock, sizeof(sock), "%s/nmkitd.sock", getenv("NMKIT_RUNDIR"));
	double end = tu_now() + 10;
	while (!broker_listening(sock)) {
		poll_all();
		if (broker_dead)
			fail_msg("the broker exited at start (status 0x%x)", broker_status);
		if (tu_now() > end)
			fail_msg("the broker does not listen on %s after 10 s", sock);
		sleep_us(1000);
	}
	atomic_store(&sh->broker_pid, broker_child);
}

static void names_make(const struct fcase *fc)
{
	int pid = (int)getpid();

	snprintf(nm.sw_a, sizeof(nm.sw_a), "vale%da", pid);
	snprintf(nm.pipe_a, sizeof(nm.pipe_a), "pa%d", pid);
	snprintf(nm.b_rx, sizeof(nm.b_rx), "vale%db:r", pid);
	snprintf(nm.b_tx, sizeof(nm.b_tx), "vale%db:s", pid);
	snprintf(nm.mid, sizeof(nm.mid), "vale%dm:p", pid);
	snprintf(nm.fresh, sizeof(nm.fresh), "vale%dc:p", pid);
	if (fc->dom == D_VALE) {
		snprintf(nm.a_rx, sizeof(nm.a_rx), "%s:r", nm.sw_a);
		snprintf(nm.a_tx, sizeof(nm.a_tx), "%s:s", nm.sw_a);
		snprintf(nm.a_new, sizeof(nm.a_new), "%s:n", nm.sw_a);
		snprintf(nm.a_f1, sizeof(nm.a_f1), "%s:f1", nm.sw_a);
		snprintf(nm.a_f2, sizeof(nm.a_f2), "%s:f2", nm.sw_a);
	} else {
		snprintf(nm.a_rx, sizeof(nm.a_rx), "%s}1", nm.pipe_a);
		snprintf(nm.a_tx, sizeof(nm.a_tx), "%s{1", nm.pipe_a);
		snprintf(nm.a_new, sizeof(nm.a_new), "%s{9", nm.pipe_a);
		snprintf(nm.a_f1, sizeof(nm.a_f1), "%s{8", nm.pipe_a);
		snprintf(nm.a_f2, sizeof(nm.a_f2), "%s}8", nm.pipe_a);
	}
}

static bool service_ok(enum role r)
{
	uint64_t ref = atomic_load(&sh->ref_ns);

	/* What counts is what the client sees now: an error during the attack
	 * followed by silence is a silent stall. */
	return atomic_load(&sh->r[r].last_err_ns) > ref || atomic_load(&sh->r[r].progress_ns) > ref;
}

/* The verdict on one child that should have exited 0; the attacker's
 * fate is only noted. */
static void judge_exit(enum role r, bool honest)
{
	char st[80], msg[600];
	struct kid *k = &kids[r];

	if (k->pid <= 0)
		return;
	if (k->hung && r >= R_PMID)
		snprintf(msg, sizeof(msg), "%s did not finish in %.1f s: in %s for %.1f s (the broker "
			 "does not answer)", role_name[r], k->life, k->stuck_in, k->stuck);
	else if (k->hung)
		snprintf(msg, sizeof(msg), "%s hung: in %s for %.1f s, not finished %.1f s after it was "
			 "told to stop", role_name[r], k->stuck_in, k->stuck, STOP_S);
	else if (WIFEXITED(k->status) && WEXITSTATUS(k->status) == 0)
		return;
	else if (WIFSIGNALED(k->status))
		snprintf(msg, sizeof(msg), "%s %s during %s, in %s (backtrace in the log)",
			 role_name[r], status_str(k->status, st, sizeof(st)), k->phase, where_of(r));
	else
		snprintf(msg, sizeof(msg), "%s %s during %s: %s%s", role_name[r],
			 status_str(k->status, st, sizeof(st)), k->phase,
			 sh->r[r].report[0] ? sh->r[r].report
					    : "(no reason given: a sanitizer? see the log)",
			 broker_dead ? " (the broker is dead)" : "");
	if (honest)
		fail_add("%s", msg);
	else
		printf("#   (note: %s)\n", msg);
}

static void run_case(void **state)
{
	const struct fcase *fc = *state;
	const double t0 = tu_now();

	cur = fc;
	memset(sh, 0, sizeof(*sh));
	memset(kids, 0, sizeof(kids));
	verdict[0] = '\0';
	nfail = 0;
	broker_dead = false;
	broker_phase = NULL;
	phase = "set-up";
	names_make(fc);
	broker_start();

	/* The B pair first, then the A pair, then the attacker; each proves
	 * itself before the next starts. */
	spawn(R_BRX, b_receiver);
	if (!WAIT(atomic_load(&sh->r[R_BRX].ready) || kids[R_BRX].done, START_S) || kids[R_BRX].done)
		setup_failed("the B receiver did not open its port", R_BRX);
	spawn(R_BTX, b_sender);
	if (!WAIT(atomic_load(&sh->r[R_BRX].rcvd) >= WARM_B || kids[R_BTX].done || kids[R_BRX].done,
		  START_S) || kids[R_BTX].done || kids[R_BRX].done)
		setup_failed("the B pair did not move its first frames",
			     kids[R_BRX].done ? R_BRX : R_BTX);
	spawn(R_ARX, a_receiver);
	if (!WAIT(atomic_load(&sh->r[R_ARX].ready) || kids[R_ARX].done, START_S) || kids[R_ARX].done)
		setup_failed("the A receiver did not open its port", R_ARX);
	spawn(R_ATX, a_sender);
	if (!WAIT(atomic_load(&sh->r[R_ARX].rcvd) >= WARM_A || kids[R_ATX].done || kids[R_ARX].done,
		  START_S) || kids[R_ATX].done || kids[R_ARX].done)
		setup_failed("the A pair did not move its first frames",
			     kids[R_ARX].done ? R_ARX : R_ATX);
	if (atomic_load(&sh->r[R_ATX].errors) || atomic_load(&sh->r[R_ARX].errors))
		setup_failed("errors before the attack", atomic_load(&sh->r[R_ATX].errors) ? R_ATX : R_ARX);
	spawn(R_ATK, attacker);
	if (!WAIT(atomic_load(&sh->r[R_ATK].ready) || kids[R_ATK].done, START_S) || kids[R_ATK].done)
		setup_failed("the attacker did not open its port", R_ATK);

	/* The attack. */
	phase = "the attack";
	atomic_store(&sh->atk_go, 1);
	if (!WAIT(atomic_load(&sh->atk_forged) || kids[R_ATK].done, START_S))
		setup_failed("the attacker did not forge", R_ATK);
	if (!atomic_load(&sh->atk_forged)) {
		/* Killed while writing: the control object may well be read-only
		 * where it wrote.  The case goes on: nothing must be harmed. */
		if (!WIFSIGNALED(kids[R_ATK].status))
			setup_failed("the attacker did not forge", R_ATK);
		printf("#   (note: the attacker was killed by %s while forging)\n",
		       strsignal(WTERMSIG(kids[R_ATK].status)));
	}
	if (fc->flags & F_STAY) {
		WAIT(false, HOLD_MS / 1000.0);
	} else {
		double bound = (fc->nvalues ? fc->nvalues : 1) * (HOLD_MS / 1000.0 + 0.5) + 3;
		if (!WAIT(kids[R_ATK].done, bound))
			kid_kill(R_ATK);
	}

	/* After it: service or errors, and the broker answers. */
	phase = fc->flags & F_STAY ? "the attack (after the first forge)" : "the recovery after the attack";
	atomic_store(&sh->seq_ref, atomic_load(&sh->r[R_ATX].sent));
	atomic_store(&sh->ref_ns, now_ns());
	atomic_store(&sh->ref_set, 1);
	spawn(R_PMID, probe_mid);
	double t_mid = tu_now();
	WAIT((service_ok(R_ATX) || kids[R_ATX].done) && (service_ok(R_ARX) || kids[R_ARX].done),
	     SERVICE_S);
	bool svc[R_N] = { [R_ATX] = service_ok(R_ATX), [R_ARX] = service_ok(R_ARX) };
	double stuck[R_N] = { [R_ATX] = in_call_s(R_ATX), [R_ARX] = in_call_s(R_ARX) };
	const char *stuck_in[R_N] = { [R_ATX] = where_of(R_ATX), [R_ARX] = where_of(R_ARX) };
	if (!WAIT(kids[R_PMID].done, PROBE_S - (tu_now() - t_mid)))
		kid_kill(R_PMID);

	/* Stop everyone; they must finish. */
	phase = "the stop";
	atomic_store(&sh->stop, 1);
	double end = tu_now() + STOP_S;
	for (;;) {
		poll_all();
		bool all = true;
		for (int r = R_BRX; r <= R_ATK; r++) {
			if (kids[r].pid > 0 && !kids[r].done) {
				all = false;
				kill(kids[r].pid, SIGUSR1);
			}
		}
		if (all || tu_now() > end)
			break;
		sleep_us(20000);
	}
	for (int r = R_BRX; r <= R_ATK; r++)
		kid_kill((enum role)r);

	/* Afterwards: the broker answers, A is usable again. */
	phase = "the probes after the attack";
	if (!broker_dead) {
		spawn(R_PA, probe_a);
		spawn(R_PNEW, probe_new);
		spawn(R_PPAIR, probe_pair);
		WAIT(kids[R_PA].done && kids[R_PNEW].done && kids[R_PPAIR].done, PROBE_S);
		kid_kill(R_PA);
		kid_kill(R_PNEW);
		kid_kill(R_PPAIR);
	}
	WAIT(false, 0.02);              /* a broker that crashes in the end shows it now */
	if (!broker_dead && tu_broker_pid() != broker_child)
		fail_add("the broker's pid file names pid %d, not the broker started, %d",
			 (int)tu_broker_pid(), (int)broker_child);

	/* The verdict. */
	if (broker_dead) {
		char st[80];
		fail_add("the broker (pid %d) %s during %s%s", (int)broker_child,
			 status_str(broker_status, st, sizeof(st)), broker_phase,
			 atomic_load(&sh->broker_died_round) ? " (see the round below)" : "");
		if (atomic_load(&sh->broker_died_round) && fc->values)
			fail_add("... after the attacker's round %u (value %u)",
				 atomic_load(&sh->broker_died_round),
				 fc->values[atomic_load(&sh->broker_died_round) - 1]);
	}
	judge_exit(R_BRX, true);
	judge_exit(R_BTX, true);
	judge_exit(R_ARX, true);
	judge_exit(R_ATX, true);
	judge_exit(R_ATK, false);
	judge_exit(R_PMID, true);
	if (!broker_dead) {
		judge_exit(R_PA, true);
		judge_exit(R_PNEW, true);
		judge_exit(R_PPAIR, true);
	} else {
		fail_add("probes after the attack not run: the broker is dead");
	}
	for (int r = R_ARX; r <= R_ATX; r++) {
		/* A silent stall, unless it is the other side's crash or hang. */
		enum role other = r == R_ARX ? R_ATX : R_ARX;
		bool broken[R_N] = { false };
		for (int q = R_ARX; q <= R_ATX; q++)
			broken[q] = kids[q].hung ||
				    (kids[q].done && strcmp(kids[q].phase, "the stop") != 0 &&
				     !(WIFEXITED(kids[q].status) && WEXITSTATUS(kids[q].status) == 0));
		if (!svc[r] && !broken[r] && !broken[other])
			fail_add("%s: %s, and no call returned an error, within %.1f s after the "
				 "attack: a silent stall (then in %s for %.1f s)", role_name[r],
				 r == R_ARX ? "no frame sent after the attack arrived"
					    : "its TX ring never freed up",
				 SERVICE_S, stuck_in[r], stuck[r]);
		if (atomic_load(&sh->r[r].ringbad))
			fail_add("%s: the library showed an impossible ring (%llu times), first: %s",
				 role_name[r], (unsigned long long)atomic_load(&sh->r[r].ringbad),
				 sh->r[r].ringbad_msg);
	}

	printf("# %s: attacker: %s\n", fc->name, sh->atk_note[0] ? sh->atk_note : "(nothing noted)");
	for (int r = R_ARX; r <= R_ATX; r++) {
		const struct role_sh *s = &sh->r[r];
		printf("#   %s: %llu frames %s, %llu errors (all phases)%s%s\n", role_name[r],
		       (unsigned long long)(r == R_ATX ? s->sent : s->rcvd),
		       r == R_ATX ? "queued" : "received", (unsigned long long)s->errors,
		       s->errors ? ", the first: " : "", s->errors ? s->first_err : "");
	}
	printf("#   B pair: %llu frames\n", (unsigned long long)atomic_load(&sh->r[R_BRX].rcvd));
	if (nfail) {
		printf("# %s: FAIL (%.1f s):%s\n", fc->name, tu_now() - t0, verdict);
		fail_msg("%s: %u problem(s), listed above", fc->name, nfail);
	}
	printf("# %s: PASS (%.1f s)\n", fc->name, tu_now() - t0);
}

/* ---- cases and main ------------------------------------------------------------ */

static const uint32_t slots_zero[] = { 0 };
static const uint32_t slots_max[] = { 0xffffffffu };
static const uint32_t slots_odd[] = { 1, 4097 };

static const struct fcase cases[] = {
	{ "vale_lock_others", D_VALE, 0, forge_lock_others, NULL, NULL, 0 },
	{ "vale_lock_own", D_VALE, 0, forge_lock_own, NULL, NULL, 0 },
	{ "vale_dead_pids", D_VALE, 0, forge_dead_pids, NULL, NULL, 0 },
	{ "vale_busy_live", D_VALE, 0, forge_busy_live, NULL, NULL, 0 },
	{ "vale_lease_live", D_VALE, 0, forge_lease_live, NULL, NULL, 0 },
	{ "vale_lease_window", D_VALE, 0, forge_lease_window, NULL, NULL, 0 },
	{ "vale_own_ring_index", D_VALE, 0, forge_own_ring_index, NULL, NULL, 0 },
	{ "vale_own_num_slots_0", D_VALE, 0, forge_own_num_slots, NULL, slots_zero, 1 },
	{ "vale_own_num_slots_max", D_VALE, 0, forge_own_num_slots, NULL, slots_max, 1 },
	{ "vale_own_num_slots_odd", D_VALE, 0, forge_own_num_slots, NULL, slots_odd, 2 },
	{ "vale_num_slots_others", D_VALE, 0, forge_num_slots_others, NULL, NULL, 0 },
	{ "vale_num_slots_flip", D_VALE, F_TIGHT, forge_num_slots_flip, again_num_slots_flip, NULL, 0 },
	{ "vale_num_slots_valid", D_VALE, 0, forge_num_slots_valid, NULL, NULL, 0 },
	{ "vale_ring_index_valid", D_VALE, F_STAY, forge_ring_index_valid, NULL, NULL, 0 },
	{ "vale_ring_index_others", D_VALE, 0, forge_ring_index_others, NULL, NULL, 0 },
	{ "vale_ring_index_flood", D_VALE, F_FLOOD | F_STAY, forge_ring_index_own, NULL, NULL, 0 },
	{ "vale_kind_others", D_VALE, 0, forge_kind_others, NULL, NULL, 0 },
	{ "vale_own_kind_peer", D_VALE, 0, forge_own_kind_peer, NULL, NULL, 0 },
	{ "vale_hw_indices", D_VALE, 0, forge_hw_indices_first, forge_hw_indices, NULL, 0 },
	{ "vale_kring_ids", D_VALE, 0, forge_kring_ids, NULL, NULL, 0 },
	{ "vale_ring_gone", D_VALE, 0, forge_ring_gone, NULL, NULL, 0 },
	{ "vale_port_table_entry", D_VALE, 0, forge_ptable_entry, NULL, NULL, 0 },
	{ "vale_port_table_rest", D_VALE, F_FLOOD, forge_ptable_rest, NULL, NULL, 0 },
	{ "vale_learn_header", D_VALE, 0, forge_learn_header, NULL, NULL, 0 },
	{ "vale_learn_entries", D_VALE, F_RELEARN, forge_learn_entries_first, forge_learn_entries,
	  NULL, 0 },
	{ "vale_mon", D_VALE, F_STAY, forge_mon, NULL, NULL, 0 },
	{ "vale_armed", D_VALE, F_STAY | F_LONGPOLL | F_TIGHT, forge_armed, again_armed, NULL, 0 },
	{ "vale_wake_ids", D_VALE, F_STAY | F_LONGPOLL, forge_wake_ids_first, forge_wake_ids,
	  NULL, 0 },
	{ "pipe_peer", D_PIPE, F_STAY, forge_pipe_peer, NULL, NULL, 0 },
	{ "pipe_busy", D_PIPE, 0, forge_pipe_busy, NULL, NULL, 0 },
	{ "pipe_hw_indices", D_PIPE, 0, forge_pipe_hw_first, forge_pipe_hw, NULL, 0 },
	{ "pipe_ring_index", D_PIPE, 0, forge_pipe_ring_index, NULL, NULL, 0 },
	{ "pipe_slots_kind", D_PIPE, 0, forge_pipe_slots_kind, NULL, NULL, 0 },
	{ "pipe_own_peer", D_PIPE, 0, forge_pipe_own_peer, NULL, NULL, 0 },
};

#define NCASES (sizeof(cases) / sizeof(cases[0]))

static int setup_case(void **state)
{
	(void)state;
	alarm(CASE_ALARM);              /* a hang here fails the program, not CI */
	return 0;
}

static int teardown_case(void **state)
{
	char path[300];

	(void)state;
	kids_kill_all();
	if (broker_child > 0) {
		if (!broker_dead) {
			kill(broker_child, SIGTERM);
			if (!WAIT(broker_dead, 1.0)) {
				/* A broker spinning on a forged lock never sees SIGTERM. */
				kill(broker_child, SIGKILL);
				waitpid(broker_child, NULL, 0);
			}
		}
		broker_child = 0;
		/* Reaped: keep tu_teardown from signalling its pid. */
		const char *rd = getenv("NMKIT_RUNDIR");
		snprintf(path, sizeof(path), "%s/nmkitd.pid", rd ? rd : "/nonexistent");
		unlink(path);
	}
	tu_teardown();
	alarm(0);
	return 0;
}

static int group_setup(void **state)
{
	(void)state;
	sh = mmap(NULL, sizeof(*sh), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	return sh == MAP_FAILED ? -1 : 0;
}

static int group_teardown(void **state)
{
	(void)state;
	kids_kill_all();
	munmap(sh, sizeof(*sh));
	return 0;
}

int main(void)
{
	struct CMUnitTest tests[NCASES];

	for (size_t i = 0; i < NCASES; i++)
		tests[i] = (struct CMUnitTest){ .name = cases[i].name, .test_func = run_case,
						.setup_func = setup_case,
						.teardown_func = teardown_case,
						.initial_state = (void *)&cases[i] };
	signal(SIGPIPE, SIG_IGN);
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (getenv("NMKIT_TEST_FILTER"))
		cmocka_set_test_filter(getenv("NMKIT_TEST_FILTER"));
	return cmocka_run_group_tests_name("forge", tests, group_setup, group_teardown);
}
