/*
 * test_afpacket.c - the afpacket driver plugin, driven directly through its
 * descriptor over a veth pair in a private network namespace.
 *
 * Needs root (CAP_NET_ADMIN for the namespace and veth, CAP_NET_RAW for
 * the sockets); without it, or without veth, the whole program is skipped
 * with a TAP "1..0 # SKIP" line.  The namespace dies with the process, so
 * nothing is left behind on the host.
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
#include <sys/socket.h>
#include <linux/if_packet.h>
#endif

#include <nmkit/nmk_driver.h>
#include <net/netmap.h>
#include "drvtest.h"

#define IF_A      "nmkafa"
#define IF_B      "nmkafb"
#define ETYPE     0x88b5        /* IEEE local experimental: nothing else sends it */
#define NFRAMES   1000u

static const struct nmk_driver *drv;

static int open_port(const char *ifname, unsigned nparams, const char *const *keys,
		     const char *const *vals, struct nmk_driver_port **p,
		     struct nmk_driver_geometry *g, char *err, size_t errlen)
{
	struct nmk_driver_open_args a = {
		.ifname = ifname, .nparams = nparams, .keys = keys, .values = vals,
	};
	return drv->open(&a, p, g, err, errlen);
}

/* Frame `seq`: to b's address, our ethertype, then the sequence number,
 * the length and a pattern that depends on both. */
static void fill(uint8_t *b, uint32_t seq, uint32_t len, const uint8_t *dst, const uint8_t *src)
{
	memcpy(b, dst, 6);
	memcpy(b + 6, src, 6);
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

/* Checks frame content; returns its sequence number. */
static uint32_t check_frame(const uint8_t *b, uint32_t len)
{
	uint32_t seq, flen;

	memcpy(&seq, b + 14, 4);
	memcpy(&flen, b + 18, 4);
	assert_int_equal(flen, len);
	for (uint32_t i = 22; i < len; i++)
		if (b[i] != (uint8_t)(seq * 13 + i))
			fail_msg("frame %u byte %u is %u, not %u", seq, i, b[i],
				 (uint8_t)(seq * 13 + i));
	return seq;
}

static uint32_t frame_len(uint32_t seq)
{
	return seq == NFRAMES - 1 ? 1500 : 60 + (seq * 37) % 1441;
}

/* Receive what is there on every ring of port p; calls back per frame of ours. */
static unsigned drain(struct nmk_driver_port *p, unsigned nrings, struct fake *f,
		      void (*cb)(const uint8_t *, uint32_t, void *), void *arg)
{
	unsigned got = 0;

	for (unsigned r = 0; r < nrings; r++) {
		int n;
		do {
			n = drv->rxsync(p, r, &f->dr, 0, NSLOTS);
			assert_true(n >= 0);
			for (int i = 0; i < n; i++) {
				uint8_t *b = slot_buf(f, (uint32_t)i);
				uint32_t len = f->ring->slot[i].len;
				assert_int_equal(f->ring->slot[i].flags, 0);
				if (ours(b, len)) {
					got++;
					if (cb)
						cb(b, len, arg);
				}
			}
		} while (n > 0);
	}
	return got;
}

struct order {
	uint32_t next;
};

static void in_order(const uint8_t *b, uint32_t len, void *arg)
{
	struct order *o = arg;
	uint32_t seq = check_frame(b, len);

	if (seq != o->next)
		fail_msg("frame %u arrived where %u was expected", seq, o->next);
	assert_int_equal(len, frame_len(seq));
	o->next++;
}

static void wait_readable(struct nmk_driver_port *p, unsigned ring, int ms)
{
	struct pollfd pfd = { .fd = drv->pollfd(p, ring, 0), .events = POLLIN };

	assert_true(pfd.fd >= 0);
	(void)poll(&pfd, 1, ms);
}

/* 1000 frames of 60..1500 bytes from a arrive on b intact and in order,
 * none comes back on a, and the counters say so; a sends with the given
 * tx= mode. */
static void transfer(const char *txmode)
{
	struct nmk_driver_port *pa, *pb;
	struct nmk_driver_geometry ga, gb;
	struct nmk_driver_stats sa, sb;
	struct fake tx, rx;
	char err[256];
	uint64_t bytes = 0;
	const char *keys[] = { "tx" };
	const char *vals[] = { txmode };

	if (open_port(IF_A, 1, keys, vals, &pa, &ga, err, sizeof err) != 0)
		fail_msg("open with tx=%s: %s", txmode, err);
	assert_int_equal(open_port(IF_B, 0, NULL, NULL, &pb, &gb, err, sizeof err), 0);
	assert_int_equal(ga.tx_rings, 1);
	assert_int_equal(ga.rx_rings, 1);
	assert_int_equal(ga.tx_slots, 1024);
	assert_int_equal(ga.mtu, 1514);
	fake_init(&tx);
	fake_init(&rx);

	struct order o = { 0 };
	uint32_t seq = 0, head = 0;
	double t0 = now();
	while (o.next < NFRAMES) {
		if (now() - t0 > 5.0)
			fail_msg("only %u of %u frames arrived within 5 s", o.next, NFRAMES);
		/* Up to 64 frames a round, from wherever the ring is. */
		uint32_t k = 0;
		for (; k < 64 && seq + k < NFRAMES; k++) {
			uint32_t i = (head + k) % NSLOTS, len = frame_len(seq + k);
			fill(slot_buf(&tx, i), seq + k, len, gb.mac, ga.mac);
			tx.ring->slot[i].len = (uint16_t)len;
			tx.ring->slot[i].flags = 0;
		}
		if (k) {
			int n = drv->txsync(pa, 0, &tx.dr, head, (head + k) % NSLOTS);
			assert_true(n >= 0 && (uint32_t)n <= k);
			for (int j = 0; j < n; j++)
				bytes += frame_len(seq + (uint32_t)j);
			seq += (uint32_t)n;
			head = (head + (uint32_t)n) % NSLOTS;
		}
		if (drain(pb, 1, &rx, in_order, &o) == 0 && o.next < NFRAMES)
			wait_readable(pb, 0, 5);
	}
	assert_int_equal(seq, NFRAMES);

	/* Blocks retire within 1 ms: anything sent back would be there by now. */
	usleep(50 * 1000);
	assert_int_equal(drain(pa, 1, &rx, NULL, NULL), 0);

	assert_int_equal(drv->stats(pa, &sa), 0);
	assert_int_equal(drv->stats(pb, &sb), 0);
	assert_int_equal(sa.tx_packets, NFRAMES);
	assert_int_equal(sa.tx_bytes, bytes);
	assert_int_equal(sa.tx_dropped, 0);
	assert_true(sb.rx_packets >= NFRAMES);
	assert_true(sb.rx_bytes >= bytes);
	assert_int_equal(sb.rx_dropped, 0);
	assert_int_equal(sb.tx_packets, 0);

	drv->close(pa);
	drv->close(pb);
	fake_free(&tx);
	fake_free(&rx);
}

static void test_transfer(void **state)
{
	(void)state;
	transfer("mmsg");
}

static void test_transfer_ring(void **state)
{
	(void)state;
	transfer("ring");
}

/* A frame above MTU + 14 is taken, not sent, and counted; the frames
 * around it go out; bad buffer indices and lengths are dropped too. */
static void test_mtu(void **state)
{
	(void)state;
	struct nmk_driver_port *pa, *pb;
	struct nmk_driver_geometry ga, gb;
	struct nmk_driver_stats sa;
	struct fake tx, rx;
	char err[256];

	assert_int_equal(open_port(IF_A, 0, NULL, NULL, &pa, &ga, err, sizeof err), 0);
	assert_int_equal(open_port(IF_B, 0, NULL, NULL, &pb, &gb, err, sizeof err), 0);
	fake_init(&tx);
	fake_init(&rx);

	uint32_t lens[5] = { 1514, 1515, 100, 100, 100 };
	for (uint32_t i = 0; i < 5; i++) {
		fill(slot_buf(&tx, i), i, lens[i], gb.mac, ga.mac);
		tx.ring->slot[i].len = (uint16_t)lens[i];
	}
	tx.ring->slot[3].buf_idx = NSLOTS + 5;  /* out of the region */
	tx.ring->slot[4].len = BUFSZ + 1;       /* longer than a buffer */
	assert_int_equal(drv->txsync(pa, 0, &tx.dr, 0, 5), 5);
	assert_int_equal(drv->stats(pa, &sa), 0);
	assert_int_equal(sa.tx_packets, 2);
	assert_int_equal(sa.tx_bytes, 1514 + 100);
	assert_int_equal(sa.tx_dropped, 3);

	/* What did go out arrives: 0 and 2. */
	uint32_t seen[2], ns = 0;
	double t0 = now();
	while (ns < 2 && now() - t0 < 5.0) {
		int n = drv->rxsync(pb, 0, &rx.dr, 0, NSLOTS);
		assert_true(n >= 0);
		for (int i = 0; i < n; i++) {
			uint8_t *b = slot_buf(&rx, (uint32_t)i);
			if (ours(b, rx.ring->slot[i].len)) {
				assert_true(ns < 2);
				seen[ns++] = check_frame(b, rx.ring->slot[i].len);
			}
		}
		if (n == 0)
			wait_readable(pb, 0, 10);
	}
	assert_int_equal(ns, 2);
	assert_int_equal(seen[0], 0);
	assert_int_equal(seen[1], 2);

	drv->close(pa);
	drv->close(pb);
	fake_free(&tx);
	fake_free(&rx);
}

/* NS_MOREFRAG chains go out as one frame. */
static void test_morefrag(void **state)
{
	(void)state;
	struct nmk_driver_port *pa, *pb;
	struct nmk_driver_geometry ga, gb;
	struct fake tx, rx;
	char err[256];
	uint8_t frame[1200];

	assert_int_equal(open_port(IF_A, 0, NULL, NULL, &pa, &ga, err, sizeof err), 0);
	assert_int_equal(open_port(IF_B, 0, NULL, NULL, &pb, &gb, err, sizeof err), 0);
	fake_init(&tx);
	fake_init(&rx);
	fill(frame, 7, sizeof frame, gb.mac, ga.mac);
	/* 3 slots of 400 bytes; an unfinished chain after it stays queued. */
	uint32_t idx[3] = { NSLOTS - 2, NSLOTS - 1, 0 };
	for (uint32_t i = 0; i < 3; i++) {
		memcpy(slot_buf(&tx, idx[i]), frame + 400 * i, 400);
		tx.ring->slot[idx[i]].len = 400;
		tx.ring->slot[idx[i]].flags = i < 2 ? NS_MOREFRAG : 0;
	}
	tx.ring->slot[1].len = 100;
	tx.ring->slot[1].flags = NS_MOREFRAG;
	assert_int_equal(drv->txsync(pa, 0, &tx.dr, NSLOTS - 2, 2), 3);

	unsigned got = 0;
	double t0 = now();
	while (got == 0 && now() - t0 < 5.0) {
		int n = drv->rxsync(pb, 0, &rx.dr, 5, NSLOTS);
		assert_true(n >= 0);
		for (int i = 0; i < n; i++) {
			uint32_t s = (5 + (uint32_t)i) % NSLOTS;
			uint8_t *b = slot_buf(&rx, s);
			if (ours(b, rx.ring->slot[s].len)) {
				assert_int_equal(check_frame(b, rx.ring->slot[s].len), 7);
				got++;
			}
		}
		if (n == 0)
			wait_readable(pb, 0, 10);
	}
	assert_int_equal(got, 1);
	drv->close(pa);
	drv->close(pb);
	fake_free(&tx);
	fake_free(&rx);
}

/* rings=2 joins a fanout group: every frame arrives on one of the rings. */
static void test_fanout(void **state)
{
	(void)state;
	struct nmk_driver_port *pa, *pb, *pc;
	struct nmk_driver_geometry ga, gb, gc;
	struct fake tx, rx;
	char err[256];
	const char *keys[] = { "rings", "fanout" };
	const char *vals[] = { "2", "lb" };

	/* a sends through the qdisc, so that other sockets on a see its frames
	 * as PACKET_OUTGOING: a second port there (pd) must ignore them. */
	const char *akeys[] = { "rings", "qdisc_bypass" };
	const char *avals[] = { "2", "0" };
	struct nmk_driver_port *pd;
	struct nmk_driver_geometry gd;
	assert_int_equal(open_port(IF_A, 2, akeys, avals, &pa, &ga, err, sizeof err), 0);
	assert_int_equal(open_port(IF_A, 0, NULL, NULL, &pd, &gd, err, sizeof err), 0);
	assert_int_equal(open_port(IF_B, 2, keys, vals, &pb, &gb, err, sizeof err), 0);
	assert_int_equal(gb.rx_rings, 2);
	assert_int_equal(gb.tx_rings, 2);
	assert_true(drv->pollfd(pb, 0, 0) != drv->pollfd(pb, 1, 0));
	assert_true(drv->pollfd(pb, 2, 0) < 0);
	/* A second port with its own group beside the first. */
	assert_int_equal(open_port(IF_B, 2, keys, vals, &pc, &gc, err, sizeof err), 0);
	fake_init(&tx);
	fake_init(&rx);

	for (uint32_t i = 0; i < 200; i++) {
		fill(slot_buf(&tx, i), i, 100, gb.mac, ga.mac);
		tx.ring->slot[i].len = 100;
	}
	uint32_t sent = 0;
	double t0 = now();
	while (sent < 200 && now() - t0 < 5.0) {
		int n = drv->txsync(pa, 0, &tx.dr, sent, 200);
		assert_true(n >= 0);
		sent += (uint32_t)n;
	}
	assert_int_equal(sent, 200);

	unsigned got_b = 0, got_c = 0;
	t0 = now();
	while ((got_b < 200 || got_c < 200) && now() - t0 < 5.0) {
		unsigned g = drain(pb, 2, &rx, NULL, NULL) + 0;
		unsigned h = drain(pc, 2, &rx, NULL, NULL);
		got_b += g;
		got_c += h;
		if (g + h == 0)
			usleep(2000);
	}
	assert_int_equal(got_b, 200);
	assert_int_equal(got_c, 200);
	usleep(50 * 1000);
	assert_int_equal(drain(pa, 2, &rx, NULL, NULL), 0);
	assert_int_equal(drain(pd, 1, &rx, NULL, NULL), 0);
	drv->close(pd);
	drv->close(pa);
	drv->close(pb);
	drv->close(pc);
	fake_free(&tx);
	fake_free(&rx);
}

static void expect_einval(const char *key, const char *val)
{
	struct nmk_driver_port *p = NULL;
	struct nmk_driver_geometry g;
	char err[256] = "";
	const char *keys[] = { key };
	const char *vals[] = { val };

	assert_int_equal(open_port(IF_A, 1, keys, vals, &p, &g, err, sizeof err), -EINVAL);
	assert_null(p);
	if (!strstr(err, key) || !strstr(err, val))
		fail_msg("%s=%s: message \"%s\" names neither", key, val, err);
}

static void test_bad_params(void **state)
{
	(void)state;
	expect_einval("rings", "0");
	expect_einval("rings", "65");
	expect_einval("rings", "1x");
	expect_einval("rings", "-1");
	expect_einval("rings", " 1");
	expect_einval("fanout", "rr");
	expect_einval("promisc", "yes");
	expect_einval("qdisc_bypass", "2");
	expect_einval("block_size", "1000");    /* not a power of two */
	expect_einval("block_size", "99999999999999999999999");
	expect_einval("block_nr", "1");
	expect_einval("retire_ms", "0");
	expect_einval("tx", "mmap");

	/* And good ones are taken. */
	struct nmk_driver_port *p;
	struct nmk_driver_geometry g;
	char err[256];
	const char *keys[] = { "promisc", "qdisc_bypass", "block_size", "block_nr", "retire_ms" };
	const char *vals[] = { "0", "0", "65536", "4", "5" };
	assert_int_equal(open_port(IF_A, 5, keys, vals, &p, &g, err, sizeof err), 0);
	drv->close(p);
}

static void test_nodev(void **state)
{
	(void)state;
	struct nmk_driver_port *p = NULL;
	struct nmk_driver_geometry g;
	char err[256] = "";

	assert_int_equal(open_port("nmkafnone", 0, NULL, NULL, &p, &g, err, sizeof err), -ENODEV);
	assert_null(p);
	assert_non_null(strstr(err, "nmkafnone"));
	err[0] = '\0';
	assert_int_equal(drv->probe("nmkafnone", err, sizeof err), -ENODEV);
	assert_non_null(strstr(err, "nmkafnone"));
	assert_int_equal(drv->probe(IF_A, err, sizeof err), 0);
}

static void test_list(void **state)
{
	(void)state;
	char buf[4096], tiny[4];

	assert_true(drv->list(buf, sizeof buf) >= 3);  /* lo and the pair */
	assert_non_null(strstr(buf, IF_A "\n"));
	assert_non_null(strstr(buf, IF_B "\n"));
	assert_int_equal(drv->list(tiny, sizeof tiny), -ENOSPC);
}

static void test_descriptor(void **state)
{
	(void)state;
	assert_int_equal(drv->size, sizeof(struct nmk_driver));
	assert_int_equal(drv->abi, NMK_DRIVER_ABI);
	assert_string_equal(drv->name, "afpacket");
	assert_string_equal(drv->aliases[0], "packet");
	assert_null(drv->aliases[1]);
	assert_int_equal(drv->priority, 10);
	const char *want[] = { "rings", "fanout", "promisc", "qdisc_bypass", "block_size", "tx", NULL };
	for (const char **w = want; *w; w++) {
		bool found = false;
		for (const struct nmk_driver_param *pp = drv->params; pp->key; pp++)
			found |= strcmp(pp->key, *w) == 0;
		if (!found)
			fail_msg("no parameter %s", *w);
	}
}

#ifdef __linux__
static void setup_netns(void)
{
	netns_veth(IF_A, IF_B, "AF_PACKET sockets");
	int s = socket(AF_PACKET, SOCK_RAW, 0);
	if (s < 0)
		skip_all("AF_PACKET socket: %s", strerror(errno));
	close(s);
}
#endif

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_descriptor),
		cmocka_unit_test(test_bad_params),
		cmocka_unit_test(test_nodev),
		cmocka_unit_test(test_list),
		cmocka_unit_test(test_transfer),
		cmocka_unit_test(test_transfer_ring),
		cmocka_unit_test(test_mtu),
		cmocka_unit_test(test_morefrag),
		cmocka_unit_test(test_fanout),
	};
	char path[4096];

#ifndef __linux__
	skip_all("AF_PACKET is Linux only");
#else
	const char *bd = getenv("NMKIT_TEST_BUILDDIR");
	snprintf(path, sizeof path, "%s/drivers/af_packet/.libs/afpacket.so", bd && *bd ? bd : ".");
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
	return cmocka_run_group_tests_name("afpacket", tests, NULL, NULL);
#endif
}
