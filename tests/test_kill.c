/*
 * test_kill.c - SIGKILL either side of a pipe at random moments, over and
 * over: the other side must never hang, never see a torn frame, and the
 * broker must release the dead side's port within a second (DESIGN.md,
 * "Faults"; reference §2.13).
 *
 * Structure: the surviving side (a receiver in the first phase, a sender in
 * the second) is one long-lived process that polls with 50 ms timeouts and
 * reports its progress through counters in a shared anonymous mapping.  The
 * other side is forked, killed after a random 0-20 ms (while blocked in
 * poll, mid-burst, mid-sync, or even before it opened its port), reaped,
 * and forked again.  Frames are a mix of short ones and ~5000-byte ones
 * spread over three slots with NS_MOREFRAG, and senders sometimes txsync in
 * the middle of a frame (netmap allows it), so a frame torn by a death would
 * show up at the receiver.
 *
 * Every frame the receiver takes must be intact (tu_check), have the length
 * its sequence number dictates, and follow the previous one: seq is
 * (sender incarnation << 32 | index), consecutive within one incarnation,
 * and a new incarnation starts at index 0 when the receiver outlives the
 * sender.
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
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <nmkit/nmkit.h>
#include <nmkit/compat/net/netmap_user.h>

#include "testutil.h"

#define MAX_FRAME  6144
#define KILLS      60           /* per phase; two phases */

/* ---- state shared by every process of the test -------------------------- */

struct shared {
	_Atomic uint64_t rx_frames;     /* frames taken by receivers, all lives */
	_Atomic uint64_t tx_frames;     /* frames handed to txsync by senders */
	_Atomic uint64_t heartbeat;     /* loop turns of the survivor */
	_Atomic uint32_t last_rx_inc;   /* sender incarnation of the last frame */
	_Atomic uint32_t stop;          /* survivor: finish and exit */
	_Atomic uint32_t errors;
	_Atomic uint32_t victim_state;  /* enum state, for the statistics */
	char errmsg[512];
};

static struct shared *sh;

/* Where the victim is, as far as it last said. */
enum state { ST_OPENING, ST_WORKING, ST_POLLING, ST_NSTATES };

static void set_state(bool survivor, enum state st)
{
	if (!survivor)
		atomic_store_explicit(&sh->victim_state, st, memory_order_relaxed);
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

/* ---- frames ------------------------------------------------------------- */

/* A small deterministic generator per process (rand() is shared state we
 * do not want to depend on). */
static uint64_t rng_state;

static uint32_t rnd(uint32_t n)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 7;
	rng_state ^= rng_state << 17;
	return n ? (uint32_t)(rng_state % n) : 0;
}

/* The length of frame `seq`: mostly short frames, one in four spanning
 * three 2048-byte buffers.  A torn or glued frame cannot match it. */
static uint32_t frame_len(uint64_t seq)
{
	uint64_t h = (seq + 1) * UINT64_C(0x9E3779B97F4A7C15);

	h ^= h >> 29;
	if ((h & 3) == 0)
		return 4000 + (uint32_t)((h >> 40) % 2001);
	return 60 + (uint32_t)((h >> 40) % 1455);
}

/* Queue frame `seq` at the head of the ring; false when it does not fit.
 * With `split`, a multi-slot frame is handed over in two txsyncs, the
 * first one ending in the middle of the frame. */
static bool frame_put(struct nmk_port *p, struct netmap_ring *r, uint64_t seq, bool split)
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
		if (split && off == 0 && n < len) {
			r->head = r->cur = head;
			nmk_txsync(p);
		}
	}
	r->head = r->cur = head;
	return true;
}

/* Take one frame from the head of the ring: 1 (seq in *seq), 0 when there
 * is none, -1 (reported) when the ring holds something that is not an
 * intact frame. */
static int frame_get(struct netmap_ring *r, uint64_t *seq)
{
	uint8_t buf[MAX_FRAME];
	uint32_t i = r->head, len = 0;

	if (i == r->tail)
		return 0;
	for (;;) {
		if (i == r->tail) {
			report("frame at slot %u runs into the tail (%u) with NS_MOREFRAG set: the "
			       "receiver sees an incomplete frame", r->head, r->tail);
			return -1;
		}
		struct netmap_slot *s = &r->slot[i];
		if (s->len > r->nr_buf_size || len + s->len > MAX_FRAME) {
			report("frame at slot %u is longer than %u bytes (torn/glued frames?)",
			       r->head, MAX_FRAME);
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
		report("frame at slot %u has %u bytes", r->head, len);
		return -1;
	}
	memcpy(seq, buf, 8);
	if (len != frame_len(*seq) || tu_check(buf, len, *seq) != 0) {
		report("frame %u:%u is torn: %u bytes (expected %u), contents %s",
		       (unsigned)(*seq >> 32), (unsigned)*seq, len, frame_len(*seq),
		       tu_check(buf, len, *seq) ? "wrong" : "right");
		return -1;
	}
	return 1;
}

/* ---- the two sides ------------------------------------------------------ */

static void child_init(uint64_t seed)
{
	/* Never outlive the test, never block CI. */
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	alarm(60);
	rng_state = seed * UINT64_C(0x2545F4914F6CDD1D) + (uint64_t)getpid() + 1;
}

static struct nmk_port *open_or_report(const char *name)
{
	char err[NMK_ERRBUF_SIZE];
	struct nmk_port *p = nmk_port_open(name, err);

	if (p == NULL)
		report("open %s: %s", name, err);
	return p;
}

/*
 * A sender: bursts of frames, sometimes split across two txsyncs, a pause
 * now and then (so the receiver drains and sleeps), and poll with a 50 ms
 * timeout when the ring is full (so a vanished receiver cannot hang it).
 */
static int sender(const char *name, uint32_t inc, bool survivor)
{
	struct nmk_port *p = open_or_report(name);

	if (p == NULL)
		return 1;
	struct netmap_ring *r = nmk_port_txring(p, 0);
	uint64_t i = 0;

	set_state(survivor, ST_WORKING);
	while (!(survivor && atomic_load(&sh->stop))) {
		if (survivor)
			atomic_fetch_add(&sh->heartbeat, 1);
		uint32_t burst = 1 + rnd(64), queued = 0;
		while (queued < burst &&
		       frame_put(p, r, ((uint64_t)inc << 32) | i, rnd(4) == 0)) {
			i++;
			queued++;
		}
		if (queued) {
			if (nmk_txsync(p) < 0) {
				report("%s: txsync: %s", name, nmk_port_error(p));
				return 1;
			}
			atomic_fetch_add(&sh->tx_frames, queued);
		}
		if (queued < burst) {
			set_state(survivor, ST_POLLING);
			int rev = nmk_port_poll(p, POLLOUT, 50);
			set_state(survivor, ST_WORKING);
			if (rev < 0) {
				report("%s: poll: %s", name, nmk_strerror(rev));
				return 1;
			}
		}
		if (rnd(16) == 0)
			usleep(rnd(2000));
	}
	nmk_port_close(p);
	return 0;
}

/*
 * A receiver: takes whole frames, checks each, releases them in batches,
 * pauses now and then (so the sender fills the ring and sleeps), and polls
 * with a 50 ms timeout.  `fresh_starts`: a new sender incarnation must start
 * at index 0 (true when the receiver outlives the senders).
 */
static int receiver(const char *name, bool survivor, bool fresh_starts)
{
	struct nmk_port *p = open_or_report(name);

	if (p == NULL)
		return 1;
	struct netmap_ring *r = nmk_port_rxring(p, 0);
	bool have_last = false;
	uint64_t last = 0, seq;

	set_state(survivor, ST_WORKING);
	while (!(survivor && atomic_load(&sh->stop))) {
		if (survivor)
			atomic_fetch_add(&sh->heartbeat, 1);
		uint32_t batch = 1 + rnd(256), got = 0;
		int g = 0;
		while (got < batch && (g = frame_get(r, &seq)) == 1) {
			uint32_t inc = (uint32_t)(seq >> 32), idx = (uint32_t)seq;
			if (have_last && inc == (uint32_t)(last >> 32)) {
				if (seq != last + 1) {
					report("%s: frame %u:%u after %u:%u", name, inc, idx,
					       (unsigned)(last >> 32), (unsigned)last);
					return 1;
				}
			} else if (have_last && inc < (uint32_t)(last >> 32)) {
				report("%s: frame %u:%u after %u:%u (older sender)", name, inc, idx,
				       (unsigned)(last >> 32), (unsigned)last);
				return 1;
			} else if (fresh_starts && idx != 0) {
				report("%s: sender %u's first frame is %u, not 0", name, inc, idx);
				return 1;
			}
			have_last = true;
			last = seq;
			got++;
			atomic_store(&sh->last_rx_inc, inc);
		}
		if (g < 0)
			return 1;
		if (got) {
			/* Only whole frames were consumed, so what a killed
			 * receiver leaves unreleased starts at a frame. */
			if (nmk_rxsync(p) < 0) {
				report("%s: rxsync: %s", name, nmk_port_error(p));
				return 1;
			}
			atomic_fetch_add(&sh->rx_frames, got);
		}
		if (got < batch) {
			set_state(survivor, ST_POLLING);
			int rev = nmk_port_poll(p, POLLIN, 50);
			set_state(survivor, ST_WORKING);
			if (rev < 0) {
				report("%s: poll: %s", name, nmk_strerror(rev));
				return 1;
			}
		}
		if (rnd(8) == 0)
			usleep(rnd(3000));      /* let the sender fill the ring and sleep */
	}
	nmk_port_close(p);
	return 0;
}

/* ---- the controller ----------------------------------------------------- */

static pid_t survivor_pid, victim_pid;

static void kill_all(void)
{
	pid_t *pids[] = { &victim_pid, &survivor_pid };

	for (unsigned i = 0; i < 2; i++) {
		if (*pids[i] > 0) {
			kill(*pids[i], SIGKILL);
			waitpid(*pids[i], NULL, 0);
			*pids[i] = 0;
		}
	}
}

static int teardown_children(void **state)
{
	(void)state;
	kill_all();
	return 0;
}

static void sleep_us(long us)
{
	struct timespec ts = { us / 1000000, (us % 1000000) * 1000 };

	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

/* Fail the test with what the children reported. */
static void check_children(const char *when)
{
	if (atomic_load(&sh->errors)) {
		char msg[512];
		snprintf(msg, sizeof(msg), "%s", sh->errmsg);
		kill_all();
		fail_msg("%s: %s", when, msg);
	}
	if (survivor_pid > 0) {
		int status;
		if (waitpid(survivor_pid, &status, WNOHANG) == survivor_pid) {
			survivor_pid = 0;
			kill_all();
			fail_msg("%s: the survivor exited (status 0x%x)", when, status);
		}
	}
}

/* Wait for `cond` (re-evaluated) for at most `secs`. */
#define WAIT_FOR(cond, secs, ...)                                               \
	do {                                                                    \
		double end_ = tu_now() + (secs);                                \
		while (!(cond)) {                                               \
			check_children("waiting");                              \
			if (tu_now() > end_) {                                  \
				kill_all();                                     \
				fail_msg(__VA_ARGS__);                          \
			}                                                       \
			sleep_us(500);                                          \
		}                                                               \
	} while (0)

static int run_victim(bool kill_senders, const char *name, uint32_t inc)
{
	return kill_senders ? sender(name, inc, false) : receiver(name, false, false);
}

static pid_t spawn_victim(bool kill_senders, const char *name, uint32_t inc, uint64_t seed)
{
	pid_t pid = fork();

	assert_true(pid >= 0);
	if (pid == 0) {
		child_init(seed);
		_exit(run_victim(kill_senders, name, inc));
	}
	return pid;
}

static void phase(bool kill_senders)
{
	/* The sender opens "{", the receiver "}". */
	const char *vname = kill_senders ? "kS{1" : "kR}1";
	const char *sname = kill_senders ? "kS}1" : "kR{1";
	double t0 = tu_now();

	memset(sh, 0, sizeof(*sh));
	rng_state = kill_senders ? 0x1234567 : 0x7654321;

	survivor_pid = fork();
	assert_true(survivor_pid >= 0);
	if (survivor_pid == 0) {
		child_init(99);
		_exit(kill_senders ? receiver(sname, true, true) : sender(sname, 1, true));
	}

	unsigned early = 0, slow = 0, at_state[ST_NSTATES] = { 0 };
	for (uint32_t k = 0; k <= KILLS; k++) {
		uint32_t inc = k + 2;
		uint64_t rx0 = atomic_load(&sh->rx_frames);

		atomic_store(&sh->victim_state, ST_OPENING);
		victim_pid = spawn_victim(kill_senders, vname, inc, k);
		/* One kill in five comes at once, before the victim has done
		 * much (often before it has opened its port). */
		bool at_once = k % 5 == 4 && k < KILLS;
		if (!at_once) {
			/* Progress: the survivor is served by the new victim. */
			if (kill_senders)
				WAIT_FOR(atomic_load(&sh->last_rx_inc) == inc, 2.0,
					 "kill %u: no frame from the new sender within 2 s "
					 "(received %llu frames in all)", k,
					 (unsigned long long)atomic_load(&sh->rx_frames));
			else
				WAIT_FOR(atomic_load(&sh->rx_frames) >= rx0 + 2048, 2.0,
					 "kill %u: the new receiver got %llu frames in 2 s, "
					 "expected 2048", k,
					 (unsigned long long)(atomic_load(&sh->rx_frames) - rx0));
		} else {
			early++;
		}
		if (k == KILLS)
			break;  /* the last victim only proves progress */
		sleep_us(at_once ? (long)rnd(1000) : (long)rnd(20000));

		at_state[atomic_load(&sh->victim_state) % ST_NSTATES]++;
		assert_int_equal(kill(victim_pid, SIGKILL), 0);
		int status;
		assert_int_equal(waitpid(victim_pid, &status, 0), victim_pid);
		victim_pid = 0;
		if (!WIFSIGNALED(status) || WTERMSIG(status) != SIGKILL) {
			check_children("victim");
			kill_all();
			fail_msg("kill %u: the victim exited by itself (status 0x%x)", k, status);
		}

		/* The broker must let go of the dead side's port. */
		double tk = tu_now();
		int n;
		while ((n = tu_port_registrations(vname)) != 0) {
			if (tu_now() - tk > 1.0) {
				kill_all();
				fail_msg("kill %u: %s still has %d registration(s) 1 s after the "
					 "kill", k, vname, n);
			}
			sleep_us(1000);
		}
		if (tu_now() - tk > 0.1)
			slow++;

		/* The survivor is not stuck: its loop keeps turning. */
		uint64_t hb1 = atomic_load(&sh->heartbeat);
		WAIT_FOR(atomic_load(&sh->heartbeat) > hb1, 1.0,
			 "kill %u: the survivor stopped turning its loop", k);
		check_children("after kill");
	}
	kill(victim_pid, SIGKILL);
	waitpid(victim_pid, NULL, 0);
	victim_pid = 0;

	/* Stop the survivor; it must exit cleanly. */
	atomic_store(&sh->stop, 1);
	double end = tu_now() + 5;
	int status = 0;
	pid_t r;
	while ((r = waitpid(survivor_pid, &status, WNOHANG)) == 0 && tu_now() < end)
		sleep_us(1000);
	if (r != survivor_pid) {
		kill_all();
		fail_msg("the survivor did not stop within 5 s");
	}
	survivor_pid = 0;
	check_children("end");
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);

	pid_t broker = tu_broker_pid();
	assert_true(broker > 0);
	assert_int_equal(kill(broker, 0), 0);
	printf("# %s: %u kills (%u at once; %u before/while opening, %u working, %u in poll), "
	       "%llu frames sent, %llu received, %u releases over 100 ms, %.1f s\n",
	       kill_senders ? "senders killed" : "receivers killed", KILLS, early,
	       at_state[ST_OPENING], at_state[ST_WORKING], at_state[ST_POLLING],
	       (unsigned long long)atomic_load(&sh->tx_frames),
	       (unsigned long long)atomic_load(&sh->rx_frames), slow, tu_now() - t0);
	fflush(stdout);
}

static void test_kill_senders(void **state)
{
	(void)state;
	phase(true);
}

static void test_kill_receivers(void **state)
{
	(void)state;
	phase(false);
}

/* ---- main --------------------------------------------------------------- */

static int group_setup(void **state)
{
	(void)state;
	sh = mmap(NULL, sizeof(*sh), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (sh == MAP_FAILED)
		return -1;
	return tu_setup("kill");
}

static int group_teardown(void **state)
{
	(void)state;
	kill_all();
	tu_teardown();
	munmap(sh, sizeof(*sh));
	return 0;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_teardown(test_kill_senders, teardown_children),
		cmocka_unit_test_teardown(test_kill_receivers, teardown_children),
	};

	/* A hang anywhere fails the program instead of blocking CI. */
	alarm(55);
	signal(SIGPIPE, SIG_IGN);
	setvbuf(stdout, NULL, _IOLBF, 0);
	return cmocka_run_group_tests_name("kill", tests, group_setup, group_teardown);
}
