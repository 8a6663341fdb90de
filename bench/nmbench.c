/*
 * nmbench - the benchmark matrix behind `make bench`.
 *
 * Every case prints one line.  Two-core cases print the cache-line handoff
 * time measured just before and just after them (the two vCPUs of these
 * machines move between "near" and "far" placements, and two-core rates
 * swing 2.5-5x with them: see shared/reference/benchmarking.md); read those
 * rates against the one-core ceiling printed in the same run.
 *
 *   nmbench [-t seconds] [case ...]     cases: memcpy pipe1 pipe2 (default all)
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include <nmkit/nmkit.h>
#include <net/netmap_user.h>

#include "nm_os.h"

static double seconds = 2.0;

static double now(void)
{
	return (double)nm_os_now_ns() * 1e-9;
}

/* ---- cache-line handoff (placement) -------------------------------------- */

static _Alignas(128) _Atomic uint64_t pingpong;
static _Atomic int pong_stop;

static void *pong_thread(void *arg)
{
	(void)arg;
	nm_os_pin_thread(1);
	while (!atomic_load_explicit(&pong_stop, memory_order_relaxed)) {
		uint64_t v = atomic_load_explicit(&pingpong, memory_order_acquire);
		if (v & 1)
			atomic_store_explicit(&pingpong, v + 1, memory_order_release);
	}
	return NULL;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? -1 : x > y;
}

/* Median one-way handoff time (ns) of a cache line between CPUs 0 and 1,
 * over ~0.3 s of round trips. */
static double handoff_ns(void)
{
	enum { N = 20000 };
	static uint64_t rtt[N];
	pthread_t t;
	unsigned n = 0;

	if (nm_os_ncpus() < 2)
		return 0;
	atomic_store(&pingpong, 0);
	atomic_store(&pong_stop, 0);
	nm_os_pin_thread(0);
	pthread_create(&t, NULL, pong_thread, NULL);
	uint64_t end = nm_os_now_ns() + 300000000u;
	while (n < N && nm_os_now_ns() < end) {
		uint64_t v = atomic_load(&pingpong);
		uint64_t t0 = nm_os_cycles();
		atomic_store_explicit(&pingpong, v + 1, memory_order_release);
		while (atomic_load_explicit(&pingpong, memory_order_acquire) != v + 2)
			;
		rtt[n++] = nm_os_cycles() - t0;
	}
	atomic_store(&pong_stop, 1);
	pthread_join(t, NULL);
	qsort(rtt, n, sizeof(rtt[0]), cmp_u64);
	return (double)rtt[n / 2] * 1e9 / (double)nm_os_cycles_hz() / 2;
}

static const char *placement(double ns)
{
	return ns == 0 ? "single-cpu" : ns < 100 ? "near" : "far";
}

/* ---- memcpy ceiling ------------------------------------------------------- */

/* Copy frames between two 1024-slot rings of 2048-byte buffers on one core:
 * what a switch that copies can at best reach. */
static void bench_memcpy(unsigned len)
{
	enum { SLOTS = 1024, BUF = 2048 };
	char *a = aligned_alloc(4096, (size_t)SLOTS * BUF), *b = aligned_alloc(4096, (size_t)SLOTS * BUF);
	uint64_t n = 0;

	memset(a, 1, (size_t)SLOTS * BUF);
	memset(b, 2, (size_t)SLOTS * BUF);
	nm_os_pin_thread(0);
	double t0 = now(), t1;
	do {
		for (unsigned i = 0; i < SLOTS; i++)
			memcpy(b + (size_t)i * BUF, a + (size_t)i * BUF, len);
		n += SLOTS;
		__asm__ volatile("" ::: "memory");
	} while ((t1 = now()) - t0 < seconds / 2);
	printf("%-34s %4u B  %8.2f Mcopies/s  %7.2f Gbit/s\n", "memcpy ring->ring, 1 core", len,
	       (double)n / (t1 - t0) / 1e6, (double)n * len * 8 / (t1 - t0) / 1e9);
	free(a);
	free(b);
}

/* ---- pipes ---------------------------------------------------------------- */

static struct nmk_port *open_or_die(const char *name)
{
	char err[NMK_ERRBUF_SIZE];
	struct nmk_port *p = nmk_port_open(name, err);
	if (p == NULL) {
		fprintf(stderr, "nmbench: %s\n", err);
		exit(1);
	}
	return p;
}

static void set_lengths(struct netmap_ring *r, unsigned len)
{
	for (uint32_t i = 0; i < r->num_slots; i++)
		r->slot[i].len = (uint16_t)len;
}

/* Send up to `burst` frames (descriptors only, as pkt-gen does by default). */
static uint32_t tx_burst(struct nmk_port *p, struct netmap_ring *r, unsigned len, uint32_t burst)
{
	uint32_t space = nm_ring_space(r), head = r->head;

	if (space > burst)
		space = burst;
	for (uint32_t i = 0; i < space; i++) {
		r->slot[head].len = (uint16_t)len;
		head = nm_ring_next(r, head);
	}
	r->head = r->cur = head;
	nmk_txsync(p);
	return space;
}

static uint64_t rx_bytes;

/* Receive what is there, reading each slot's length as pkt-gen's receiver
 * does (it counts bytes), so the slots really travel to this core. */
static uint32_t rx_burst(struct nmk_port *p, struct netmap_ring *r)
{
	nmk_rxsync(p);
	uint32_t n = 0, head = r->head, tail = r->tail;
	uint64_t bytes = 0;
	for (; head != tail; head = nm_ring_next(r, head), n++)
		bytes += r->slot[head].len;
	rx_bytes += bytes;
	r->head = r->cur = head;
	return n;
}

static void bench_pipe1(unsigned len)
{
	char a[64], b[64];
	snprintf(a, sizeof(a), "bp%d{1", (int)getpid());
	snprintf(b, sizeof(b), "bp%d}1", (int)getpid());
	struct nmk_port *tx = open_or_die(a), *rx = open_or_die(b);
	struct netmap_ring *tr = nmk_port_txring(tx, 0), *rr = nmk_port_rxring(rx, 0);
	uint64_t got = 0;

	nm_os_pin_thread(0);
	set_lengths(tr, len);
	double t0 = now(), t1;
	do {
		for (int i = 0; i < 64; i++) {
			tx_burst(tx, tr, len, 512);
			got += rx_burst(rx, rr);
		}
	} while ((t1 = now()) - t0 < seconds);
	printf("%-34s %4u B  %8.2f Mpps     %7.2f Gbit/s\n", "pipe loopback, 1 process, 1 core", len,
	       (double)got / (t1 - t0) / 1e6, (double)got * len * 8 / (t1 - t0) / 1e9);
	nmk_port_close(tx);
	nmk_port_close(rx);
}

static void bench_pipe2(unsigned len)
{
	char a[64], b[64];
	snprintf(a, sizeof(a), "bq%d{1", (int)getpid());
	snprintf(b, sizeof(b), "bq%d}1", (int)getpid());
	double before = handoff_ns();
	/* The shared counter and stop flag of the two processes. */
	struct shared {
		_Atomic uint64_t received;
		_Atomic int stop, ready;
	} *sh = mmap(NULL, sizeof(*sh), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	struct nmk_port *tx = open_or_die(a);

	pid_t pid = fork();
	if (pid == 0) {
		nm_os_pin_thread(1);
		struct nmk_port *rx = open_or_die(b);
		struct netmap_ring *rr = nmk_port_rxring(rx, 0);
		uint64_t got = 0;
		atomic_store(&sh->ready, 1);
		while (!atomic_load_explicit(&sh->stop, memory_order_relaxed)) {
			uint32_t n = rx_burst(rx, rr);
			got += n;
			if (n == 0)
				nmk_port_poll(rx, POLLIN, 10);
			atomic_store_explicit(&sh->received, got, memory_order_relaxed);
		}
		nmk_port_close(rx);
		_exit(0);
	}
	nm_os_pin_thread(0);
	struct netmap_ring *tr = nmk_port_txring(tx, 0);
	set_lengths(tr, len);
	while (!atomic_load(&sh->ready))
		usleep(1000);
	double t0 = now(), t1;
	uint64_t start = atomic_load(&sh->received);
	do {
		for (int i = 0; i < 64; i++)
			if (tx_burst(tx, tr, len, 512) == 0)
				nmk_port_poll(tx, POLLOUT, 10);
	} while ((t1 = now()) - t0 < seconds);
	uint64_t got = atomic_load(&sh->received) - start;
	atomic_store(&sh->stop, 1);
	waitpid(pid, NULL, 0);
	nmk_port_close(tx);
	double after = handoff_ns();
	printf("%-34s %4u B  %8.2f Mpps     %7.2f Gbit/s   handoff %.0f/%.0f ns (%s/%s)\n",
	       "pipe, 2 processes, cpu 0 -> cpu 1", len, (double)got / (t1 - t0) / 1e6,
	       (double)got * len * 8 / (t1 - t0) / 1e9, before, after, placement(before),
	       placement(after));
	munmap(sh, sizeof(*sh));
}

int main(int argc, char **argv)
{
	int c;
	bool all = true, want_memcpy = false, want_pipe1 = false, want_pipe2 = false;

	while ((c = getopt(argc, argv, "t:h")) != -1) {
		switch (c) {
		case 't':
			seconds = atof(optarg);
			break;
		default:
			fprintf(stderr, "usage: nmbench [-t seconds] [memcpy|pipe1|pipe2 ...]\n");
			return 2;
		}
	}
	for (int i = optind; i < argc; i++) {
		all = false;
		if (!strcmp(argv[i], "memcpy"))
			want_memcpy = true;
		else if (!strcmp(argv[i], "pipe1"))
			want_pipe1 = true;
		else if (!strcmp(argv[i], "pipe2"))
			want_pipe2 = true;
		else {
			fprintf(stderr, "nmbench: unknown case %s\n", argv[i]);
			return 2;
		}
	}
	signal(SIGPIPE, SIG_IGN);
	printf("nmbench: %d cpus, %.1f s per case, cycle counter %.2f GHz\n", nm_os_ncpus(),
	       seconds, (double)nm_os_cycles_hz() / 1e9);
	if (all || want_memcpy) {
		bench_memcpy(60);
		bench_memcpy(1514);
	}
	if (all || want_pipe1) {
		bench_pipe1(60);
		bench_pipe1(1514);
	}
	if (all || want_pipe2) {
		bench_pipe2(60);
		bench_pipe2(1514);
	}
	return 0;
}
