/*
 * test_pcaplive.c - live ports of the pcap driver plugin, driven directly
 * through its descriptor over a veth pair in a private network namespace.
 *
 * A burst sent in one txsync must arrive whole at the other end: the
 * receiving handle's kernel buffer has to hold more than a few dozen
 * frames (it once held 32, and a burst of 50 lost 18), and frames that
 * libpcap already holds must not be stranded behind a pollfd that never
 * becomes readable again.
 *
 * Needs root (CAP_NET_ADMIN for the namespace and veth, CAP_NET_RAW for
 * the capture); without it, or without veth, the whole program is skipped
 * with a TAP "1..0 # SKIP" line.  The namespace dies with the process.
 */
#define _GNU_SOURCE          /* unshare(), CLONE_NEWNET */

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <dlfcn.h>
#include <errno.h>
#include <poll.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#ifdef __linux__
#include <sched.h>
#endif

#include <nmkit/nmk_driver.h>
#include <net/netmap.h>
#include "drvtest.h"

#define IF_A      "nmkpla"
#define IF_B      "nmkplb"
#define ETYPE     0x88b5        /* IEEE local experimental: nothing else sends it */
#define NBURST    500u

static const struct nmk_driver *drv;

static void open_live(const char *ifname, struct nmk_driver_port **p)
{
	struct nmk_driver_open_args a = { .ifname = ifname };
	struct nmk_driver_geometry g;
	char err[256] = "";

	if (drv->open(&a, p, &g, err, sizeof err) != 0)
		fail_msg("open pcap:%s: %s", ifname, err);
	assert_int_equal(g.rx_slots, NSLOTS);
}

static uint32_t frame_len(uint32_t seq)
{
	return 60 + (seq * 37) % 1455;  /* 60..1514 */
}

/* Frame `seq`: broadcast, our ethertype, the sequence number, the length
 * and a pattern that depends on both. */
static void fill(uint8_t *b, uint32_t seq, uint32_t len)
{
	memset(b, 0xff, 6);
	memset(b + 6, 0x02, 6);
	b[12] = ETYPE >> 8;
	b[13] = ETYPE & 0xff;
	memcpy(b + 14, &seq, 4);
	memcpy(b + 18, &len, 4);
	for (uint32_t i = 22; i < len; i++)
		b[i] = (uint8_t)(seq * 13 + i);
}

static bool ours(const uint8_t *b, uint32_t len)
{
	return len >= 22 && b[12] == (ETYPE >> 8) && b[13] == (ETYPE & 0xff);
}

/* Checks a frame's content and that it is the one expected next. */
static void check_next(const uint8_t *b, uint32_t len, uint32_t *next)
{
	uint32_t seq, flen;

	memcpy(&seq, b + 14, 4);
	memcpy(&flen, b + 18, 4);
	if (seq != *next)
		fail_msg("frame %u arrived where %u was expected", seq, *next);
	assert_int_equal(len, frame_len(seq));
	assert_int_equal(flen, len);
	for (uint32_t i = 22; i < len; i++)
		if (b[i] != (uint8_t)(seq * 13 + i))
			fail_msg("frame %u byte %u is %u, not %u", seq, i, b[i],
				 (uint8_t)(seq * 13 + i));
	(*next)++;
}

/* n frames from seq0 on, all handed to txsync before anything is received:
 * one burst.  txsync may take fewer when the socket is full; the rest are
 * offered again at once. */
static void send_burst(struct nmk_driver_port *pa, struct fake *tx, uint32_t seq0, uint32_t n)
{
	for (uint32_t k = 0; k < n; k++) {
		fill(slot_buf(tx, k), seq0 + k, frame_len(seq0 + k));
		tx->ring->slot[k].len = (uint16_t)frame_len(seq0 + k);
		tx->ring->slot[k].flags = 0;
	}
	uint32_t head = 0;
	double t0 = now();
	while (head < n) {
		if (now() - t0 > 5.0)
			fail_msg("txsync took only %u of %u frames within 5 s", head, n);
		int r = drv->txsync(pa, 0, &tx->dr, head, n);
		assert_true(r >= 0 && (uint32_t)r <= n - head);
		head += (uint32_t)r;
	}
}

/* Receive until `want` frames of ours have arrived, taking at most `room`
 * slots per rxsync, and sleeping on the pollfd only when rxsync found
 * nothing: a frame libpcap holds must make the fd readable. */
static void receive(struct nmk_driver_port *pb, struct fake *rx, uint32_t room, uint32_t seq0,
		    uint32_t want)
{
	uint32_t next = seq0, from = 0;
	double t0 = now();

	while (next < seq0 + want) {
		if (now() - t0 > 5.0)
			fail_msg("only %u of %u frames arrived within 5 s", next - seq0, want);
		int n = drv->rxsync(pb, 0, &rx->dr, from, room);
		assert_true(n >= 0 && (uint32_t)n <= room);
		for (int j = 0; j < n; j++) {
			uint32_t i = (from + (uint32_t)j) % NSLOTS;
			uint8_t *b = slot_buf(rx, i);
			uint32_t len = rx->ring->slot[i].len;
			assert_int_equal(rx->ring->slot[i].flags, 0);
			if (ours(b, len))
				check_next(b, len, &next);
		}
		from = (from + (uint32_t)n) % NSLOTS;
		if (n == 0) {
			struct pollfd pfd = { .fd = drv->pollfd(pb, 0, 0), .events = POLLIN };
			assert_true(pfd.fd >= 0);
			(void)poll(&pfd, 1, 100);
		}
	}
}

/* NBURST frames of 60..1514 bytes in one burst all arrive, intact and in
 * order, and nothing is counted as dropped on either side. */
static void test_burst(void **state)
{
	(void)state;
	struct nmk_driver_port *pa, *pb;
	struct nmk_driver_stats sa, sb;
	struct fake tx, rx;

	open_live(IF_A, &pa);
	open_live(IF_B, &pb);
	fake_init(&tx);
	fake_init(&rx);

	send_burst(pa, &tx, 0, NBURST);
	receive(pb, &rx, NSLOTS, 0, NBURST);

	assert_int_equal(drv->stats(pa, &sa), 0);
	assert_int_equal(drv->stats(pb, &sb), 0);
	assert_int_equal(sa.tx_packets, NBURST);
	assert_int_equal(sa.tx_dropped, 0);
	assert_true(sb.rx_packets >= NBURST);
	assert_int_equal(sb.rx_dropped, 0);

	drv->close(pa);
	drv->close(pb);
	fake_free(&tx);
	fake_free(&rx);
}

/* The same burst received a few slots at a time, as by an application
 * whose RX ring is nearly full: what libpcap holds beyond the room is
 * delivered by the following rxsyncs, none is stranded or lost. */
static void test_small_room(void **state)
{
	(void)state;
	struct nmk_driver_port *pa, *pb;
	struct nmk_driver_stats sb;
	struct fake tx, rx;

	open_live(IF_A, &pa);
	open_live(IF_B, &pb);
	fake_init(&tx);
	fake_init(&rx);

	send_burst(pa, &tx, 1000, NBURST);
	receive(pb, &rx, 7, 1000, NBURST);

	assert_int_equal(drv->stats(pb, &sb), 0);
	assert_int_equal(sb.rx_dropped, 0);

	drv->close(pa);
	drv->close(pb);
	fake_free(&tx);
	fake_free(&rx);
}

#ifdef __linux__
static void setup_netns(void)
{
	netns_veth(IF_A, IF_B, "a live capture");
}
#endif

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_burst),
		cmocka_unit_test(test_small_room),
	};
	char path[4096];

#ifndef __linux__
	skip_all("needs Linux network namespaces and veth");
#else
	const char *bd = getenv("NMKIT_TEST_BUILDDIR");
	snprintf(path, sizeof path, "%s/drivers/pcap/.libs/pcap.so", bd && *bd ? bd : ".");
	void *h = dlopen(path, RTLD_NOW | RTLD_LOCAL);
	if (!h) {
		fprintf(stderr, "dlopen %s: %s\n", path, dlerror());
		return 1;
	}
	void *sym = dlsym(h, NMK_DRIVER_ENTRY_SYMBOL);
	if (!sym) {
		fprintf(stderr, "%s: no %s\n", path, NMK_DRIVER_ENTRY_SYMBOL);
		return 1;
	}
	nmk_driver_entry_fn entry;
	memcpy(&entry, &sym, sizeof entry);
	drv = entry();
	if (!drv) {
		fprintf(stderr, "%s: the entry returned NULL\n", path);
		return 1;
	}
	setup_netns();
	/* A hang fails the test instead of blocking CI. */
	alarm(30);
	return cmocka_run_group_tests_name("pcaplive", tests, NULL, NULL);
#endif
}
