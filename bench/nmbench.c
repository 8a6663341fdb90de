/*
 * nmbench - the benchmark matrix behind `make bench`.
 *
 * Every case prints one line.  Two-core cases print the cache-line handoff
 * time measured just before and just after them (the two vCPUs of these
 * machines move between "near" and "far" placements, and two-core rates
 * swing 2.5-5x with them: see shared/reference/benchmarking.md); read those
 * rates against the one-core ceiling printed in the same run.
 *
 *   nmbench [-t seconds] [-j results.json] [case ...]
 *   cases: memcpy pipe vale valeloop memif nic nmlua (default all)
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <glob.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <nmkit/nmkit.h>
#include <net/netmap_user.h>

#include "nm_os.h"

static double seconds = 2.0;

/* Every case's figure, for the JSON file and the ratios. */
struct result {
	char name[64];
	unsigned bytes;
	double mpps, gbps;
	double handoff_before, handoff_after;   /* ns; 0 = one core */
	int cores;
};
static struct result results[64];
static unsigned nresults;

static void record(const char *name, unsigned bytes, double pps, int cores, double before,
		   double after)
{
	if (nresults < 64) {
		struct result *r = &results[nresults++];
		snprintf(r->name, sizeof(r->name), "%s", name);
		r->bytes = bytes;
		r->mpps = pps / 1e6;
		r->gbps = pps * bytes * 8 / 1e9;
		r->cores = cores;
		r->handoff_before = before;
		r->handoff_after = after;
	}
}

static const struct result *find(const char *name, unsigned bytes)
{
	for (unsigned i = 0; i < nresults; i++)
		if (!strcmp(results[i].name, name) && results[i].bytes == bytes)
			return &results[i];
	return NULL;
}

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
	if (n < 100)
		return -1;      /* the other CPU never answered: busy */
	qsort(rtt, n, sizeof(rtt[0]), cmp_u64);
	return (double)rtt[n / 2] * 1e9 / (double)nm_os_cycles_hz() / 2;
}

/* The reference gives 40-55 ns near and 190-210 ns far on these hosts. */
static const char *placement(double ns)
{
	return ns < 0 ? "unmeasured" : ns == 0 ? "single-cpu" : ns < 120 ? "near" : "far";
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
	record("memcpy", len, (double)n / (t1 - t0), 1, 0, 0);
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
	record("pipe_loopback", len, (double)got / (t1 - t0), 1, 0, 0);
	nmk_port_close(tx);
	nmk_port_close(rx);
}

/* ---- VALE -------------------------------------------------------------------- */

/* Write an Ethernet header (dst, src, a local ethertype) into every TX
 * buffer once: the send loops then only set lengths, as pkt-gen does. */
static void set_frames(struct netmap_ring *r, const uint8_t dst[6], const uint8_t src[6], unsigned len)
{
	for (uint32_t i = 0; i < r->num_slots; i++) {
		uint8_t *b = (uint8_t *)NETMAP_BUF(r, r->slot[i].buf_idx);
		memset(b, 0, len);
		memcpy(b, dst, 6);
		memcpy(b + 6, src, 6);
		b[12] = 0x88, b[13] = 0xb5;
		r->slot[i].len = (uint16_t)len;
	}
}

static void mac_of(uint8_t mac[6], unsigned id)
{
	const uint8_t m[6] = { 0x02, 0, 0, 0, 0, (uint8_t)(id + 1) };
	memcpy(mac, m, 6);
}

static const uint8_t bcast[6] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff };

/* Teach the switch where `mac` lives: one frame from port p. */
static void announce(struct nmk_port *p, const uint8_t mac[6])
{
	struct netmap_ring *r = nmk_port_txring(p, 0);
	uint8_t *b = (uint8_t *)NETMAP_BUF(r, r->slot[r->head].buf_idx);
	memset(b, 0, 60);
	memcpy(b, bcast, 6);
	memcpy(b + 6, mac, 6);
	b[12] = 0x88, b[13] = 0xb5;
	r->slot[r->head].len = 60;
	r->head = r->cur = nm_ring_next(r, r->head);
	nmk_txsync(p);
}

static void drain(struct nmk_port *p)
{
	struct netmap_ring *r = nmk_port_rxring(p, 0);
	for (int i = 0; i < 3; i++) {
		nmk_rxsync(p);
		r->head = r->cur = r->tail;
	}
	nmk_rxsync(p);
}

/* One process, one core: send on one port, drain the other. */
static void bench_vale1(const char *sw, unsigned len)
{
	char a[64], b[64];
	uint8_t ma[6], mb[6];
	snprintf(a, sizeof(a), "%s:a", sw);
	snprintf(b, sizeof(b), "%s:b", sw);
	struct nmk_port *tx = open_or_die(a), *rx = open_or_die(b);
	struct netmap_ring *tr = nmk_port_txring(tx, 0), *rr = nmk_port_rxring(rx, 0);
	uint64_t got = 0;

	mac_of(ma, 0);
	mac_of(mb, 1);
	announce(rx, mb);
	drain(tx);
	set_frames(tr, mb, ma, len);
	nm_os_pin_thread(0);
	double t0 = now(), t1;
	do {
		for (int i = 0; i < 16; i++) {
			tx_burst(tx, tr, len, 512);
			got += rx_burst(rx, rr);
		}
	} while ((t1 = now()) - t0 < seconds);
	printf("%-34s %4u B  %8.2f Mpps     %7.2f Gbit/s\n", "VALE loopback, 1 process, 1 core", len,
	       (double)got / (t1 - t0) / 1e6, (double)got * len * 8 / (t1 - t0) / 1e9);
	record("vale_loopback", len, (double)got / (t1 - t0), 1, 0, 0);
	nmk_port_close(tx);
	nmk_port_close(rx);
}

/* ---- two processes or more: pkt-gen --------------------------------------------- */

static const char *pktgen(void)
{
	const char *p = getenv("NMBENCH_PKTGEN");
	return p && *p ? p : "apps/pkt-gen/pkt-gen";
}

/* The apps/ directory of the build tree, where vale-ctl is too. */
static const char *pktgen_dir(void)
{
	static char dir[512];
	snprintf(dir, sizeof(dir), "%s", pktgen());
	char *slash = strrchr(dir, '/');
	if (slash)
		*slash = '\0';
	return dir;
}

static pid_t spawn(const char *log, const char *const *argv)
{
	pid_t pid = fork();
	if (pid == 0) {
		int fd = open(log, O_WRONLY | O_CREAT | O_TRUNC, 0644);
		if (fd >= 0) {
			dup2(fd, 1);
			dup2(fd, 2);
		}
		execv(argv[0], (char *const *)(uintptr_t)argv);
		_exit(127);
	}
	return pid;
}

/* pkt-gen's "Speed: 12.345 Mpps" line, in packets per second. */
static double pktgen_speed(const char *log)
{
	FILE *f = fopen(log, "r");
	char line[512];
	double pps = 0;

	if (f == NULL)
		return 0;
	while (fgets(line, sizeof(line), f)) {
		char *p = strstr(line, "Speed: ");
		if (p == NULL)
			continue;
		char unit = 0;
		double v = 0;
		if (sscanf(p + 7, "%lf %c", &v, &unit) >= 1) {
			double mult = unit == 'K' ? 1e3 : unit == 'M' ? 1e6 : unit == 'G' ? 1e9 : 1;
			pps = v * mult;
		}
	}
	fclose(f);
	return pps;
}

/* The nmlua runner and its benchmark script, when bench_pktgen() runs a Lua
 * sender or receiver instead of pkt-gen (NMBENCH_NMLUA, NMBENCH_NMLUA_SCRIPT). */
static const char *nmlua_bin(void)
{
	const char *p = getenv("NMBENCH_NMLUA");
	return p && *p ? p : NULL;
}

static const char *nmlua_script(void)
{
	const char *p = getenv("NMBENCH_NMLUA_SCRIPT");
	return p && *p ? p : "bench/nmlua-bench.lua";
}

static bool lua_tx, lua_rx;

/*
 * pkt-gen senders pinned to CPU 0 and receivers pinned to CPU 1 (all
 * there is on two cores), each its own process, for `seconds`; the figure
 * is what the receivers got.  On a switch, unicast cases first teach it
 * the first receiver's address (from a registration of that port that this
 * process keeps while pkt-gen reads the same rings); broadcast cases flood.
 */
static void bench_pktgen(const char *name, const char *label, char **tx_ports, unsigned ntx,
			 char **rx_ports, unsigned nrx, bool broadcast, unsigned len)
{
	char logs[8][64], lenbuf[16], dst[32];
	pid_t rx[8], tx[8];
	struct nmk_port *teach = NULL;
	double before = handoff_ns();

	snprintf(lenbuf, sizeof(lenbuf), "%u", len);
	snprintf(dst, sizeof(dst), "%s", broadcast ? "ff:ff:ff:ff:ff:ff" : "02:00:00:00:00:65");
	if (!broadcast && strncmp(rx_ports[0], "vale", 4) == 0) {
		uint8_t mac[6];
		mac_of(mac, 100);
		teach = open_or_die(rx_ports[0]);
		announce(teach, mac);
	}
	for (unsigned i = 0; i < nrx; i++) {
		snprintf(logs[i], sizeof(logs[i]), "/tmp/nmbench-rx%u-%d.log", i, (int)getpid());
		const char *a[] = { pktgen(), "-f", "rx", "-i", rx_ports[i], "-a", "1", "-W", "-w", "0",
				    NULL };
		const char *l[] = { nmlua_bin(), nmlua_script(), "--role", "rx", "--port", rx_ports[i],
				    "--cpu", "1", NULL };
		rx[i] = spawn(logs[i], lua_rx ? l : a);
	}
	usleep(500000);
	for (unsigned i = 0; i < ntx; i++) {
		char log[64];
		snprintf(log, sizeof(log), "/tmp/nmbench-tx%u-%d.log", i, (int)getpid());
		const char *a[] = { pktgen(), "-f", "tx", "-i", tx_ports[i], "-a", "0", "-n", "0",
				    "-l", lenbuf, "-D", dst, "-w", "0", NULL };
		const char *l[] = { nmlua_bin(), nmlua_script(), "--role", "tx", "--port", tx_ports[i],
				    "--size", lenbuf, "--dst", dst, "--cpu", "0", NULL };
		tx[i] = spawn(log, lua_tx ? l : a);
	}
	usleep((useconds_t)(seconds * 1e6) + 300000);
	for (unsigned i = 0; i < ntx; i++) {
		kill(tx[i], SIGINT);
		waitpid(tx[i], NULL, 0);
	}
	double total = 0;
	for (unsigned i = 0; i < nrx; i++) {
		/* -W: the receivers stop after a second of silence. */
		for (int w = 0; w < 400 && waitpid(rx[i], NULL, WNOHANG) == 0; w++)
			usleep(10000);
		kill(rx[i], SIGKILL);
		waitpid(rx[i], NULL, 0);
		double pps = pktgen_speed(logs[i]);
		if (pps == 0) {
			/* Say why: the receiver's own last words. */
			char cmd[128];
			snprintf(cmd, sizeof(cmd), "tail -n 5 %s >&2", logs[i]);
			if (system(cmd) != 0)
				fprintf(stderr, "nmbench: %s: no rate\n", logs[i]);
		}
		total += pps;
		unlink(logs[i]);
	}
	if (teach)
		nmk_port_close(teach);
	double after = handoff_ns();
	printf("%-34s %4u B  %8.2f Mpps     %7.2f Gbit/s   handoff %.0f/%.0f ns (%s/%s)\n", label, len,
	       total / 1e6, total * len * 8 / 1e9, before, after, placement(before), placement(after));
	record(name, len, total, 2, before, after);
}

/* ---- the NIC path: veths between namespaces -------------------------------------- */

static int sh(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static int sh(const char *fmt, ...)
{
	char cmd[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	int r = system(cmd);
	return r == 0 ? 0 : -1;
}

/* pkt-gen in namespace ns: "ip netns exec ns pkt-gen ..." */
static pid_t spawn_ns(const char *log, const char *ns, const char *const *args)
{
	const char *argv[24] = { "/usr/sbin/ip", "netns", "exec", ns };
	unsigned n = 4;
	for (unsigned i = 0; args[i] && n < 23; i++)
		argv[n++] = args[i];
	argv[n] = NULL;
	if (access(argv[0], X_OK) != 0)
		argv[0] = "/sbin/ip";
	return spawn(log, argv);
}

/* A generator in namespace A sends over a veth to a receiver in namespace
 * B, through `how` in the root namespace (our switch with both veths
 * attached, or a Linux bridge).  Both ends use the afpacket driver. */
static double nic_case(const char *how, unsigned len, const char *drvpath)
{
	int id = (int)getpid() % 100000;
	char nsa[32], nsb[32], a1[16], a2[16], b1[16], b2[16], sw[16], lenbuf[16];
	char rxlog[64], txlog[64], ifa[32], ifb[32];

	snprintf(nsa, sizeof(nsa), "nmbA%d", id);
	snprintf(nsb, sizeof(nsb), "nmbB%d", id);
	snprintf(a1, sizeof(a1), "nba%d", id);
	snprintf(a2, sizeof(a2), "nbA%d", id);
	snprintf(b1, sizeof(b1), "nbb%d", id);
	snprintf(b2, sizeof(b2), "nbB%d", id);
	snprintf(sw, sizeof(sw), "valen%d", id);
	snprintf(lenbuf, sizeof(lenbuf), "%u", len);
	if (sh("ip netns add %s && ip netns add %s", nsa, nsb) < 0)
		return -1;
	sh("ip link add %s type veth peer name %s && ip link add %s type veth peer name %s",
	   a1, a2, b1, b2);
	sh("ip link set %s netns %s && ip link set %s netns %s", a1, nsa, b1, nsb);
	sh("ip -n %s link set %s up && ip -n %s link set %s up && ip link set %s up && ip link set %s up",
	   nsa, a1, nsb, b1, a2, b2);
	sh("for i in %s %s; do sysctl -qw net.ipv6.conf.$i.disable_ipv6=1; done", a2, b2);
	sh("ip netns exec %s sysctl -qw net.ipv6.conf.all.disable_ipv6=1; "
	   "ip netns exec %s sysctl -qw net.ipv6.conf.all.disable_ipv6=1", nsa, nsb);
	bool ours = strcmp(how, "vale") == 0;
	if (ours) {
		sh("NMKIT_DRIVER_PATH=%s %s/../vale-ctl/vale-ctl -a %s:%s >/dev/null && "
		   "NMKIT_DRIVER_PATH=%s %s/../vale-ctl/vale-ctl -a %s:%s >/dev/null",
		   drvpath, pktgen_dir(), sw, a2, drvpath, pktgen_dir(), sw, b2);
	} else {
		sh("ip link add nbbr%d type bridge && ip link set nbbr%d up && "
		   "ip link set %s master nbbr%d && ip link set %s master nbbr%d",
		   id, id, a2, id, b2, id);
	}
	snprintf(rxlog, sizeof(rxlog), "/tmp/nmbench-nicrx-%d.log", id);
	snprintf(txlog, sizeof(txlog), "/tmp/nmbench-nictx-%d.log", id);
	snprintf(ifa, sizeof(ifa), "afpacket:%s", a1);
	snprintf(ifb, sizeof(ifb), "afpacket:%s", b1);
	const char *ra[] = { pktgen(), "-f", "rx", "-i", ifb, "-W", "-w", "0", NULL };
	pid_t rx = spawn_ns(rxlog, nsb, ra);
	usleep(500000);
	/* A valid source address: the Linux bridge drops frames from 0:0:0:0:0:0. */
	const char *ta[] = { pktgen(), "-f", "tx", "-i", ifa, "-n", "0", "-l", lenbuf, "-w", "0",
			     "-S", "02:00:00:00:00:01", NULL };
	pid_t tx = spawn_ns(txlog, nsa, ta);
	usleep((useconds_t)(seconds * 1e6) + 300000);
	kill(tx, SIGINT);
	waitpid(tx, NULL, 0);
	for (int w = 0; w < 400 && waitpid(rx, NULL, WNOHANG) == 0; w++)
		usleep(10000);
	kill(rx, SIGKILL);
	waitpid(rx, NULL, 0);
	double pps = pktgen_speed(rxlog);
	unlink(rxlog);
	unlink(txlog);
	if (ours)
		sh("NMKIT_DRIVER_PATH=%s %s/../vale-ctl/vale-ctl -d %s:%s; "
		   "NMKIT_DRIVER_PATH=%s %s/../vale-ctl/vale-ctl -d %s:%s",
		   drvpath, pktgen_dir(), sw, a2, drvpath, pktgen_dir(), sw, b2);
	else
		sh("ip link del nbbr%d", id);
	sh("ip netns del %s; ip netns del %s; ip link del %s 2>/dev/null; ip link del %s 2>/dev/null",
	   nsa, nsb, a2, b2);
	return pps;
}

static void bench_nic(void)
{
	const char *drvpath = getenv("NMBENCH_DRIVERS");

	if (geteuid() != 0 || drvpath == NULL || access("/var/run/netns", F_OK) != 0) {
		if (geteuid() != 0 || drvpath == NULL) {
			printf("%-34s (needs root and the afpacket plugin: skipped)\n", "NIC path, veth <-> veth");
			return;
		}
	}
	double ours = nic_case("vale", 60, drvpath);
	double lin = nic_case("bridge", 60, drvpath);
	printf("%-34s %4u B  %8.2f Mpps     %7.2f Gbit/s\n", "NIC path, veth -> VALE -> veth", 60u,
	       ours / 1e6, ours * 60 * 8 / 1e9);
	printf("%-34s %4u B  %8.2f Mpps     %7.2f Gbit/s\n", "NIC path, veth -> Linux bridge -> veth",
	       60u, lin / 1e6, lin * 60 * 8 / 1e9);
	record("nic_vale", 60, ours, 2, 0, 0);
	record("nic_linux_bridge", 60, lin, 2, 0, 0);
}

/* ---- DPDK memif, the reference ----------------------------------------------- */

/*
 * testpmd runs interactively (-i), its standard input a pipe this process
 * holds open for the whole session, and gets its commands at known moments.
 * Without -i it stops forwarding as soon as its standard input reaches end of
 * file, which is the case under any harness or CI: the reference then read 0.
 *
 * Its output goes to a log file through `stdbuf -oL`: written to a file, its
 * stdio would hold every answer back until it exits, and the session needs
 * each answer as soon as it is complete.
 *
 * The rate is the growth of the receiving side's RX-packets counters between
 * two `show port stats all`, over the monotonic time between them as noted
 * here.  testpmd's own per-second Rx-pps lines go missing when both cores are
 * busy, so a median of them is noise.
 *
 * NMBENCH_TESTPMD and NMBENCH_MEMIF_PMD name another testpmd or memif PMD
 * (a bogus one shows what a void reference row says).
 */

#define MEMIF_PMD_GLOB "/usr/lib/*/dpdk/pmds-*/librte_net_memif.so"
#define STDBUF "/usr/bin/stdbuf"

static const char *testpmd(void)
{
	static const char *paths[] = { "/usr/bin/dpdk-testpmd", "/usr/local/bin/dpdk-testpmd" };
	const char *env = getenv("NMBENCH_TESTPMD");

	if (env && *env)
		return access(env, X_OK) == 0 ? env : NULL;
	for (unsigned i = 0; i < 2; i++)
		if (access(paths[i], X_OK) == 0)
			return paths[i];
	return NULL;
}

static const char *memif_pmd(void)
{
	static char path[512];
	const char *env = getenv("NMBENCH_MEMIF_PMD");
	glob_t g;

	if (env && *env)
		return env;     /* as given: testpmd says so if it cannot load it */
	if (glob(MEMIF_PMD_GLOB, 0, NULL, &g) != 0)
		return NULL;
	/* Sorted: the last is the newest ABI (pmds-23.0 for DPDK 22.11). */
	snprintf(path, sizeof(path), "%s", g.gl_pathv[g.gl_pathc - 1]);
	globfree(&g);
	return path;
}

/* One testpmd process. */
struct tp {
	pid_t pid;              /* 0 once reaped, -1 if never started */
	int status;             /* wait status, once reaped */
	bool died;              /* it exited before it was told to quit */
	int in;                 /* write end of its standard input */
	off_t measured;         /* size of its log at the second reading, or -1 */
	char prefix[64];        /* its --file-prefix */
	char log[128];
};

static void tp_spawn(struct tp *t, const char *const *argv)
{
	int fds[2];

	t->pid = -1;
	t->in = -1;
	t->died = false;
	t->measured = -1;
	if (pipe(fds) != 0)
		return;
	/* Only this testpmd gets the read end; no child keeps the write end. */
	fcntl(fds[1], F_SETFD, FD_CLOEXEC);
	pid_t pid = fork();
	if (pid == 0) {
		int fd = open(t->log, O_WRONLY | O_CREAT | O_TRUNC, 0644);
		dup2(fds[0], 0);
		if (fd >= 0) {
			dup2(fd, 1);
			dup2(fd, 2);
		}
		execv(argv[0], (char *const *)(uintptr_t)argv);
		_exit(127);
	}
	close(fds[0]);
	t->in = fds[1];
	t->pid = pid;
}

static bool tp_alive(struct tp *t)
{
	if (t->pid > 0 && waitpid(t->pid, &t->status, WNOHANG) == t->pid)
		t->pid = 0;
	return t->pid > 0;
}

static void tp_send(struct tp *t, const char *cmd)
{
	char line[128];
	int n = snprintf(line, sizeof(line), "%s\n", cmd);

	if (t->in >= 0 && write(t->in, line, (size_t)n) != n)
		fprintf(stderr, "nmbench: could not send '%s' to testpmd: %s\n", cmd, strerror(errno));
}

/* A log line that makes the run void: EAL and PMD failures, rte_exit's
 * "Cause:" line ("Error - exiting" is followed by it, which says more).
 * mlockall() failing is only a warning, printed when not root. */
static bool voids_run(const char *line)
{
	static const char *const marks[] = { "Cannot", "cannot", "Error", "FATAL", "Failed", "failed",
					     "No probed ethernet devices", "Cause:" };

	if (strstr(line, "Error - exiting") || strstr(line, "mlockall()"))
		return false;
	for (unsigned i = 0; i < sizeof(marks) / sizeof(marks[0]); i++)
		if (strstr(line, marks[i]))
			return true;
	return false;
}

/* What a testpmd log says so far. */
struct tp_log {
	unsigned prompts;       /* "testpmd> ": it is up and reads commands */
	unsigned blocks;        /* complete "NIC statistics for port N" blocks */
	uint64_t rx;            /* sum of RX-packets of the blocks asked for */
	char fatal[256];        /* the first line that voids the run, or "" */
};

/* Read the log (its first `upto` bytes, or all if upto < 0); sum the
 * RX-packets of complete blocks from..from+n-1. */
static void tp_scan(const char *log, off_t upto, unsigned from, unsigned n, struct tp_log *s)
{
	FILE *f = fopen(log, "r");
	char line[1024];
	uint64_t rx = 0;
	bool in = false;

	memset(s, 0, sizeof(*s));
	if (f == NULL)
		return;
	while ((upto < 0 || ftello(f) < upto) && fgets(line, sizeof(line), f)) {
		for (const char *p = line; (p = strstr(p, "testpmd> ")) != NULL; p++)
			s->prompts++;
		if (strchr(line, '\n') == NULL)
			break;          /* a line still being written */
		const char *p;
		if (strstr(line, "NIC statistics for port ")) {
			in = true;
			rx = 0;
		} else if (in && (p = strstr(line, "RX-packets:")) != NULL) {
			rx = strtoull(p + 11, NULL, 10);
		} else if (in && strstr(line, "#####")) {
			in = false;
			if (s->blocks >= from && s->blocks - from < n)
				s->rx += rx;
			s->blocks++;
		} else if (!s->fatal[0] && voids_run(line)) {
			const char *b = line + strspn(line, " \t");
			snprintf(s->fatal, sizeof(s->fatal), "%.*s", (int)strcspn(b, "\r\n"), b);
		}
	}
	fclose(f);
}

/* Ask for the statistics of its `nports` ports: the sum of their RX-packets,
 * and the monotonic time the question was sent.  Bounded: false if no
 * complete answer comes within 3 s. */
static bool tp_rx(struct tp *t, unsigned nports, uint64_t *rx, double *when)
{
	struct tp_log s;

	tp_scan(t->log, -1, 0, 0, &s);
	unsigned from = s.blocks;
	*when = now();
	tp_send(t, "show port stats all");
	do {
		usleep(10000);
		tp_scan(t->log, -1, from, nports, &s);
		if (s.blocks >= from + nports) {
			*rx = s.rx;
			return true;
		}
	} while (tp_alive(t) && now() - *when < 3);
	return false;
}

/* Wait (bounded) for a child to exit; true if it did. */
static bool tp_reaped(struct tp *t, double secs)
{
	for (double end = now() + secs; tp_alive(t) && now() < end;)
		usleep(10000);
	return !tp_alive(t);
}

/* EAL's runtime directory for a file prefix, as DPDK 22.11 picks it. */
static void eal_dir(char *dir, size_t size, const char *prefix)
{
	const char *xdg = getenv("XDG_RUNTIME_DIR");

	if (getuid() == 0)
		snprintf(dir, size, "/var/run/dpdk/%s", prefix);
	else
		snprintf(dir, size, "%s/dpdk/%s", xdg ? xdg : "/tmp", prefix);
}

/* Stop and quit it; then SIGTERM, then SIGKILL, each with a bounded wait.
 * Then remove EAL's runtime directory, which testpmd leaves behind even
 * when it quits cleanly. */
static void tp_finish(struct tp *t)
{
	char dir[512];

	if (t->pid < 0)
		return;
	t->died = !tp_alive(t);
	tp_send(t, "stop");
	tp_send(t, "quit");
	close(t->in);   /* end of file: its command line quits too */
	t->in = -1;
	if (!tp_reaped(t, 5)) {
		kill(t->pid, SIGTERM);
		if (!tp_reaped(t, 2)) {
			kill(t->pid, SIGKILL);
			if (!tp_reaped(t, 2))
				fprintf(stderr, "nmbench: testpmd %d survives SIGKILL\n", (int)t->pid);
		}
	}
	eal_dir(dir, sizeof(dir), t->prefix);
	DIR *d = opendir(dir);
	if (d) {
		for (struct dirent *e; (e = readdir(d)) != NULL;)
			if (strcmp(e->d_name, ".") && strcmp(e->d_name, ".."))
				unlinkat(dirfd(d), e->d_name, 0);
		closedir(d);
		rmdir(dir);
	}
}

/* "exit status 1", "signal 9": how a reaped testpmd ended. */
static const char *tp_ended(const struct tp *t)
{
	static char buf[32];

	if (WIFSIGNALED(t->status))
		snprintf(buf, sizeof(buf), "signal %d", WTERMSIG(t->status));
	else
		snprintf(buf, sizeof(buf), "exit status %d", WEXITSTATUS(t->status));
	return buf;
}

/* One testpmd of a reference session. */
struct tp_role {
	char tag;               /* in its file prefix and log name */
	const char *lcores;
	const char *vdev[2];    /* "net_memifN,role=...", socket added per session */
	const char *fwd;        /* --forward-mode */
	const char *start;      /* the command that starts forwarding */
};

static unsigned tp_sessions;

/*
 * One reference session: start the roles in order (a server before its
 * client), each with its start command; wait for frames to reach the
 * receiver (roles[0], whose `nports` ports are read: the memif connection
 * takes 2-3 s here before the first frame arrives); warm up; read the
 * counters at two moments `seconds` apart.  Returns the rate, or 0 with the
 * reason in `why`.  Every session has its own socket and file prefixes.
 */
static double tp_session(const struct tp_role *roles, unsigned nroles, unsigned nports,
			 unsigned len, const char *rxside, char *why, size_t whylen)
{
	struct tp tp[2];
	struct tp_log s;
	char sock[128], vdev[2][2][256], fwd[2][64], txpkts[32];
	unsigned seq = tp_sessions++, started = 0;
	uint64_t rx0 = 0, rx1 = 0, rx2 = 0;
	double t0, t = 0, t1 = 0, t2 = 0, pps = 0;
	const char *seelog = NULL;

	why[0] = '\0';
	/* memif's socket is abstract by default (DPDK 22.11): the path is only
	 * a name, a fresh one per session; the unlinks are for a DPDK whose
	 * memif sockets are files. */
	snprintf(sock, sizeof(sock), "/tmp/nmbench-memif-%d-%u.sock", (int)getpid(), seq);
	unlink(sock);
	snprintf(txpkts, sizeof(txpkts), "--txpkts=%u", len);
	for (unsigned i = 0; i < nroles && i < 2; i++) {
		const struct tp_role *r = &roles[i];
		const char *argv[32];
		unsigned n = 0;

		snprintf(tp[i].prefix, sizeof(tp[i].prefix), "nmbench-%c%d-%u", r->tag, (int)getpid(), seq);
		snprintf(tp[i].log, sizeof(tp[i].log), "/tmp/nmbench-%c%d-%u.log", r->tag, (int)getpid(),
			 seq);
		snprintf(fwd[i], sizeof(fwd[i]), "--forward-mode=%s", r->fwd);
		argv[n++] = STDBUF;
		argv[n++] = "-oL";
		argv[n++] = testpmd();
		argv[n++] = "--lcores";
		argv[n++] = r->lcores;
		argv[n++] = "--no-pci";
		argv[n++] = "--no-huge";
		argv[n++] = "-m";
		argv[n++] = "512";
		argv[n++] = "-d";
		argv[n++] = memif_pmd();
		argv[n++] = "--file-prefix";
		argv[n++] = tp[i].prefix;
		for (unsigned v = 0; v < 2 && r->vdev[v]; v++) {
			snprintf(vdev[i][v], sizeof(vdev[i][v]), "%s,socket=%s", r->vdev[v], sock);
			argv[n++] = "--vdev";
			argv[n++] = vdev[i][v];
		}
		argv[n++] = "--";
		argv[n++] = "-i";
		argv[n++] = "--total-num-mbufs=16384";
		argv[n++] = fwd[i];
		argv[n++] = txpkts;
		argv[n] = NULL;
		tp_spawn(&tp[i], argv);
		started++;
		if (tp[i].pid < 0) {
			snprintf(why, whylen, "cannot start testpmd: %s", strerror(errno));
			goto out;
		}
		/* The start command waits in the pipe until testpmd reads
		 * commands.  Its prompt comes once its ports are set up (a
		 * server listens): only then start the next role. */
		tp_send(&tp[i], r->start);
		t0 = now();
		do {
			usleep(20000);
			tp_scan(tp[i].log, -1, 0, 0, &s);
		} while (s.prompts == 0 && tp_alive(&tp[i]) && now() - t0 < 20);
		if (s.prompts == 0) {
			snprintf(why, whylen, "testpmd not ready after 20 s");
			seelog = tp[i].log;
			goto out;
		}
	}

	/* Wait (bounded) for the first frames, warm up, read twice. */
	t0 = now();
	bool ok;
	while ((ok = tp_rx(&tp[0], nports, &rx0, &t)) && rx0 == 0 && t - t0 < 10)
		usleep(100000);
	if (ok && rx0 > 0) {
		usleep(500000);
		ok = tp_rx(&tp[0], nports, &rx1, &t1);
		if (ok) {
			usleep((useconds_t)(seconds * 1e6));
			ok = tp_rx(&tp[0], nports, &rx2, &t2);
		}
	}
	if (!ok)
		snprintf(why, whylen, "no answer from the %s to 'show port stats all' in 3 s", rxside);
	else if (rx0 == 0)
		snprintf(why, whylen, "the %s counted 0 frames in %.1f s", rxside, t - t0);
	else if (rx2 <= rx1)
		snprintf(why, whylen, "the %s counted 0 frames in %.1f s", rxside, t2 - t1);
	else {
		pps = (double)(rx2 - rx1) / (t2 - t1);
		for (unsigned i = 0; i < started; i++) {
			struct stat st;
			if (stat(tp[i].log, &st) == 0)
				tp[i].measured = st.st_size;
		}
	}

out:
	/* The sender first, so the receiver does not see its peer vanish mid-run. */
	for (unsigned i = started; i-- > 0;)
		tp_finish(&tp[i]);
	unlink(sock);
	/* A failure line printed before the second reading voids the run even
	 * if frames were counted, and says more than our own reason; so does a
	 * testpmd gone before it was told to quit (the sender, too).  Lines
	 * printed at teardown, after the counters were read, cannot change
	 * them (the one-process loopback sometimes prints "EAL: Error: Invalid
	 * memory" as it closes its ports); with no figure, they may say why. */
	for (unsigned i = 0; i < started; i++) {
		tp_scan(tp[i].log, pps > 0 ? tp[i].measured : -1, 0, 0, &s);
		if (s.fatal[0])
			snprintf(why, whylen, "%s", s.fatal);
		else if (tp[i].died)
			snprintf(why, whylen, "the %s testpmd exited before it was told to quit (%s)",
				 roles[i].fwd, tp_ended(&tp[i]));
		else
			continue;
		seelog = tp[i].log;
		pps = 0;
		break;
	}
	if (pps > 0) {
		for (unsigned i = 0; i < started; i++)
			unlink(tp[i].log);
		return pps;
	}
	if (!why[0])
		snprintf(why, whylen, "no rate");
	size_t l = strlen(why);
	snprintf(why + l, whylen - l, "; see %s", seelog ? seelog : tp[0].log);
	return 0;
}

/* A session, and a second one with a fresh socket and file prefixes if the
 * first is void; or why there is no reference at all. */
static double memif_ref(const struct tp_role *roles, unsigned nroles, unsigned nports, unsigned len,
			const char *rxside, char *why, size_t whylen)
{
	if (!testpmd()) {
		snprintf(why, whylen, "dpdk-testpmd not installed");
		return 0;
	}
	if (!memif_pmd()) {
		snprintf(why, whylen, "memif PMD not found in %s", MEMIF_PMD_GLOB);
		return 0;
	}
	if (access(STDBUF, X_OK) != 0) {
		snprintf(why, whylen, STDBUF " (coreutils) not installed: needed to read testpmd");
		return 0;
	}
	for (int attempt = 0; attempt < 2; attempt++) {
		double pps = tp_session(roles, nroles, nports, len, rxside, why, whylen);
		if (pps > 0)
			return pps;
		if (attempt == 0) {
			fflush(stdout);
			fprintf(stderr, "nmbench: DPDK reference %u B void (%s): once more\n", len, why);
		}
	}
	return 0;
}

static double memif_before, memif_after;

/* Two processes: txonly client on CPU 0 -> rxonly server on CPU 1. */
static double memif_pair(unsigned len, char *why, size_t whylen)
{
	static const struct tp_role roles[] = {
		{ 's', "0@1,1@1", { "net_memif0,role=server", NULL }, "rxonly", "start" },
		{ 'c', "0@0,1@0", { "net_memif0,role=client", NULL }, "txonly", "start" },
	};

	memif_before = handoff_ns();
	double pps = memif_ref(roles, 2, 1, len, "rxonly side", why, whylen);
	memif_after = handoff_ns();
	return pps;
}

/* One process, one core: two memif ports joined by one socket, io
 * forwarding, a first burst sent by `start tx_first`. */
static double memif_loop(unsigned len, char *why, size_t whylen)
{
	static const struct tp_role roles[] = {
		{ 'l', "0@0,1@0", { "net_memif0,role=server", "net_memif1,role=client" }, "io", "start tx_first" },
	};

	return memif_ref(roles, 1, 2, len, "io ports", why, whylen);
}

static void print_ref(const char *name, const char *label, unsigned len, double pps, const char *why,
		      int cores, double before, double after)
{
	if (pps <= 0) {
		printf("%-34s %4u B  (no reference: %s)\n", label, len, why);
		return;
	}
	if (cores == 1)
		printf("%-34s %4u B  %8.2f Mpps     %7.2f Gbit/s\n", label, len, pps / 1e6,
		       pps * len * 8 / 1e9);
	else
		printf("%-34s %4u B  %8.2f Mpps     %7.2f Gbit/s   handoff %.0f/%.0f ns (%s/%s)\n", label,
		       len, pps / 1e6, pps * len * 8 / 1e9, before, after, placement(before),
		       placement(after));
	record(name, len, pps, cores, before, after);
}

/* Our figure as a ratio of the reference measured in the same run. */
static void print_ratio(const char *ours, const char *ref, unsigned len)
{
	const struct result *a = find(ours, len), *b = find(ref, len);
	if (a && b && b->mpps > 0)
		printf("ratio %-28s %4u B  %6.2fx %s\n", ours, len, a->mpps / b->mpps, ref);
}

static void write_json(const char *path)
{
	FILE *f = fopen(path, "w");
	if (f == NULL) {
		fprintf(stderr, "nmbench: cannot write %s\n", path);
		return;
	}
	fprintf(f, "{\n  \"cpus\": %d,\n  \"seconds_per_case\": %.1f,\n  \"cases\": [\n",
		nm_os_ncpus(), seconds);
	for (unsigned i = 0; i < nresults; i++) {
		const struct result *r = &results[i];
		fprintf(f, "    {\"case\": \"%s\", \"bytes\": %u, \"mpps\": %.3f, \"gbps\": %.3f, \"cores\": %d",
			r->name, r->bytes, r->mpps, r->gbps, r->cores);
		if (r->cores > 1)
			fprintf(f, ", \"handoff_ns\": [%.0f, %.0f], \"placement\": [\"%s\", \"%s\"]",
				r->handoff_before, r->handoff_after, placement(r->handoff_before),
				placement(r->handoff_after));
		fprintf(f, "}%s\n", i + 1 < nresults ? "," : "");
	}
	fprintf(f, "  ]\n}\n");
	fclose(f);
	printf("nmbench: results in %s\n", path);
}

static bool want(int argc, char **argv, const char *name)
{
	if (argc == 0)
		return true;
	for (int i = 0; i < argc; i++)
		if (!strcmp(argv[i], name))
			return true;
	return false;
}

int main(int argc, char **argv)
{
	const char *json = "nmbench.json";
	int c;

	while ((c = getopt(argc, argv, "t:j:h")) != -1) {
		switch (c) {
		case 't':
			seconds = atof(optarg);
			break;
		case 'j':
			json = optarg;
			break;
		default:
			fprintf(stderr, "usage: nmbench [-t seconds] [-j results.json] [memcpy|pipe|vale|valeloop|memif|nic|nmlua ...]\n");
			return 2;
		}
	}
	argc -= optind;
	argv += optind;
	signal(SIGPIPE, SIG_IGN);
	printf("nmbench: %d cpus, %.1f s per case, cycle counter %.2f GHz\n", nm_os_ncpus(), seconds,
	       (double)nm_os_cycles_hz() / 1e9);
	printf("%-34s %6s  %-14s %-15s %s\n", "case", "frame", "rate", "bandwidth",
	       "cache-line handoff cpu0<->cpu1 before/after (placement)");

	char sw[16], p[8][48];
	char *tx[4], *rx[4];
	char why[512];  /* why a DPDK reference row has no figure */
	int id = (int)getpid() % 100000;
	snprintf(sw, sizeof(sw), "valeb%d", id);

	/* One core: the ceiling, then the loopbacks. */
	if (want(argc, argv, "memcpy")) {
		bench_memcpy(60);
		bench_memcpy(1514);
	}
	if (want(argc, argv, "pipe")) {
		bench_pipe1(60);
		bench_pipe1(1514);
	}
	if (want(argc, argv, "vale") || want(argc, argv, "valeloop")) {
		bench_vale1(sw, 60);
		bench_vale1(sw, 1514);
	}
	if (want(argc, argv, "memif")) {
		double pps = memif_loop(60, why, sizeof(why));
		print_ref("memif_loopback", "DPDK memif loopback, 1 core", 60, pps, why, 1, 0, 0);
		pps = memif_loop(1514, why, sizeof(why));
		print_ref("memif_loopback", "DPDK memif loopback, 1 core", 1514, pps, why, 1, 0, 0);
	}
	/* Two cores, each process pinned. */
	if (want(argc, argv, "pipe")) {
		snprintf(p[0], sizeof(p[0]), "bq%d{1", id);
		snprintf(p[1], sizeof(p[1]), "bq%d}1", id);
		tx[0] = p[0], rx[0] = p[1];
		bench_pktgen("pipe_pair", "pipe, pkt-gen cpu 0 -> cpu 1", tx, 1, rx, 1, true, 60);
	}
	if (want(argc, argv, "vale")) {
		for (int k = 0; k < 4; k++)
			snprintf(p[k], sizeof(p[k]), "%s:s%d", sw, k);
		for (int k = 0; k < 4; k++)
			snprintf(p[4 + k], sizeof(p[4 + k]), "%s:r%d", sw, k);
		tx[0] = p[0], tx[1] = p[1];
		rx[0] = p[4], rx[1] = p[5], rx[2] = p[6];
		bench_pktgen("vale_1_1", "VALE 1 -> 1, cpu 0 -> cpu 1", tx, 1, rx, 1, false, 60);
		bench_pktgen("vale_1_1", "VALE 1 -> 1, cpu 0 -> cpu 1", tx, 1, rx, 1, false, 1514);
		bench_pktgen("vale_2_1", "VALE 2 -> 1, cpu 0 -> cpu 1", tx, 2, rx, 1, false, 60);
		bench_pktgen("vale_bcast_1_3", "VALE broadcast 1 -> 3 (total)", tx, 1, rx, 3, true, 60);
	}
	if (want(argc, argv, "nmlua") && nmlua_bin() != NULL) {
		for (int k = 0; k < 2; k++)
			snprintf(p[k], sizeof(p[k]), "%s:l%d", sw, k);
		tx[0] = p[0], rx[0] = p[1];
		/* Lua and C on the same path, in turn, five rounds: the ratios
		 * take each one's best round, which a noisy neighbour on these
		 * shared cores disturbs least (one receiver alone moves between
		 * 18 and 37 Mpps from run to run here). */
		for (int round = 0; round < 5; round++) {
			bench_pktgen("pkt-gen_tx#", "VALE 1 -> 1, pkt-gen -> pkt-gen", tx, 1, rx, 1, false, 60);
			lua_tx = true;
			bench_pktgen("nmlua_tx#", "VALE 1 -> 1, nmlua -> pkt-gen", tx, 1, rx, 1, false, 60);
			lua_tx = false;
			lua_rx = true;
			bench_pktgen("nmlua_rx#", "VALE 1 -> 1, pkt-gen -> nmlua", tx, 1, rx, 1, false, 60);
			lua_rx = false;
		}
		static const char *const best[][2] = {
			{ "pkt-gen_tx#", "pkt-gen_tx" }, { "pkt-gen_tx#", "pkt-gen_rx" },
			{ "nmlua_tx#", "nmlua_tx" }, { "nmlua_rx#", "nmlua_rx" },
		};
		for (unsigned b = 0; b < sizeof(best) / sizeof(best[0]); b++) {
			const struct result *top = NULL;
			for (unsigned i = 0; i < nresults; i++)
				if (strcmp(results[i].name, best[b][0]) == 0 &&
				    (top == NULL || results[i].mpps > top->mpps))
					top = &results[i];
			if (top)
				record(best[b][1], 60, top->mpps * 1e6, 2, top->handoff_before,
				       top->handoff_after);
		}
	}
	if (want(argc, argv, "memif")) {
		double pps = memif_pair(60, why, sizeof(why));
		print_ref("memif_pair", "DPDK memif pair, cpu 0 -> cpu 1", 60, pps, why, 2, memif_before,
			  memif_after);
		pps = memif_pair(1514, why, sizeof(why));
		print_ref("memif_pair", "DPDK memif pair, cpu 0 -> cpu 1", 1514, pps, why, 2, memif_before,
			  memif_after);
	}

	if (want(argc, argv, "nic"))
		bench_nic();

	/* Ratios of figures measured in this run. */
	for (unsigned len = 60; len; len = len == 60 ? 1514 : 0) {
		print_ratio("pipe_loopback", "memcpy", len);
		print_ratio("vale_loopback", "memcpy", len);
		print_ratio("vale_loopback", "memif_loopback", len);
		print_ratio("pipe_pair", "memif_pair", len);
		print_ratio("vale_1_1", "memif_pair", len);
		print_ratio("vale_2_1", "memif_pair", len);
		print_ratio("vale_2_1", "vale_1_1", len);
		print_ratio("vale_bcast_1_3", "memif_pair", len);
		print_ratio("nic_vale", "nic_linux_bridge", len);
		print_ratio("nmlua_tx", "pkt-gen_tx", len);
		print_ratio("nmlua_rx", "pkt-gen_rx", len);
	}
	write_json(json);
	return 0;
}
