/*
 * test_learn.c - the learning bridge's forwarding table (vale/learn.h):
 * learning, flooding, dropping, aging, moves, port removal, a table far
 * over capacity, header validation, and lock-free use by several threads
 * while another one scribbles garbage over the entries.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "learn.h"

#define BCAST NMK_VALE_BROADCAST
#define DROP  NMK_VALE_DROP

static const uint8_t mac_a[6] = { 0x02, 0x00, 0x00, 0x00, 0x00, 0x0a };
static const uint8_t mac_b[6] = { 0x02, 0x00, 0x00, 0x00, 0x00, 0x0b };
static const uint8_t mac_c[6] = { 0x02, 0x00, 0x00, 0x00, 0x00, 0x0c };
static const uint8_t mac_bcast[6] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff };
static const uint8_t mac_mcast[6] = { 0x01, 0x00, 0x5e, 0x00, 0x00, 0x01 };

/* A table in 64-byte aligned memory (as a region's control object is). */
static struct nmk_learn *new_table(uint32_t n, uint32_t max_age, size_t *bytesp)
{
	size_t bytes = nmk_learn_table_bytes(n);
	void *mem;

	assert_true(bytes > 0);
	mem = aligned_alloc(64, (bytes + 63) & ~(size_t)63);
	assert_non_null(mem);
	memset(mem, 0xa5, bytes);	/* init must not rely on zeroed memory */
	assert_int_equal(nmk_learn_table_init(mem, n, max_age), 0);
	assert_int_equal(nmk_learn_table_check(mem, bytes), 0);
	if (bytesp)
		*bytesp = bytes;
	struct nmk_learn *h = malloc(sizeof(*h));
	assert_non_null(h);
	assert_int_equal(nmk_learn_attach(h, mem, n, NMK_LEARN_MAX_PORTS), 0);
	return h;
}

static void free_table(struct nmk_learn *h)
{
	free(h->t);
	free(h);
}

/* Forward one minimal Ethernet frame from src (on port) to dst. */
static uint32_t fwd(struct nmk_learn *t, const uint8_t dst[6],
		    const uint8_t src[6], uint32_t port, uint32_t now)
{
	uint8_t f[60] = { 0 };

	memcpy(f, dst, 6);
	memcpy(f + 6, src, 6);
	f[12] = 0x08;
	return nmk_learn_lookup(t, f, sizeof(f), port, now);
}

/* Locally administered unicast MAC number i (i < 2^32). */
static void mac_of(uint32_t i, uint8_t m[6])
{
	m[0] = 0x02;
	m[1] = 0x00;
	m[2] = (uint8_t)(i >> 24);
	m[3] = (uint8_t)(i >> 16);
	m[4] = (uint8_t)(i >> 8);
	m[5] = (uint8_t)i;
}

static uint32_t index_of(const uint8_t m[6])
{
	assert_int_equal(m[0], 0x02);
	assert_int_equal(m[1], 0x00);
	return (uint32_t)m[2] << 24 | (uint32_t)m[3] << 16 |
	       (uint32_t)m[4] << 8 | m[5];
}

static uint64_t rng(uint64_t *s)
{
	/* xorshift64* */
	*s ^= *s >> 12;
	*s ^= *s << 25;
	*s ^= *s >> 27;
	return *s * 0x2545f4914f6cdd1dull;
}

/* ---- sizes and init ----------------------------------------------------- */

static void test_bytes_init(void **state)
{
	(void)state;
	uint64_t buf[64];

	assert_int_equal(nmk_learn_table_bytes(0), 0);
	assert_int_equal(nmk_learn_table_bytes(32), 0);
	assert_int_equal(nmk_learn_table_bytes(1000), 0);
	assert_int_equal(nmk_learn_table_bytes(1u << 21), 0);
	assert_true(nmk_learn_table_bytes(64) > 64 * 8);
	assert_true(nmk_learn_table_bytes(1u << 20) > (size_t)(1u << 20) * 8);
	assert_true(nmk_learn_table_bytes(2048) > nmk_learn_table_bytes(1024));

	assert_int_equal(nmk_learn_table_init(NULL, 64, 300), -EINVAL);
	assert_int_equal(nmk_learn_table_init(buf, 100, 300), -EINVAL);
	assert_int_equal(nmk_learn_table_init(buf, 32, 300), -EINVAL);
	assert_int_equal(nmk_learn_table_init((char *)buf + 4, 64, 300), -EINVAL);

	struct nmk_learn *t = new_table(NMK_LEARN_DEFAULT_ENTRIES,
					      NMK_LEARN_DEFAULT_MAX_AGE, NULL);
	assert_int_equal(nmk_learn_count(t, 0), 0);
	uint32_t pos = 0, port, age;
	uint8_t m[6];
	assert_int_equal(nmk_learn_next(t, &pos, 0, m, &port, &age), 0);
	free_table(t);
}

/* ---- forwarding --------------------------------------------------------- */

static void test_learning(void **state)
{
	(void)state;
	struct nmk_learn *t = new_table(1024, 300, NULL);

	/* Nobody known yet: A's frame to B floods, and teaches A on port 1. */
	assert_int_equal(fwd(t, mac_b, mac_a, 1, 10), BCAST);
	assert_int_equal(nmk_learn_count(t, 10), 1);
	/* Frames to A go to port 1 only, from any other port. */
	assert_int_equal(fwd(t, mac_a, mac_b, 2, 10), 1);
	assert_int_equal(fwd(t, mac_a, mac_c, 3, 11), 1);
	assert_int_equal(fwd(t, mac_a, mac_c, 0, 11), 1);
	/* And now B (port 2) and C (port 0, its last port) are known. */
	assert_int_equal(fwd(t, mac_b, mac_a, 1, 12), 2);
	assert_int_equal(fwd(t, mac_c, mac_a, 1, 12), 0);
	assert_int_equal(nmk_learn_count(t, 12), 3);
	/* An unknown unicast destination still floods. */
	uint8_t u[6];
	mac_of(12345, u);
	assert_int_equal(fwd(t, u, mac_a, 1, 12), BCAST);

	/* The listing shows the three with their ports and ages. */
	uint32_t pos = 0, port, age, seen = 0;
	uint8_t m[6];
	while (nmk_learn_next(t, &pos, 20, m, &port, &age)) {
		if (memcmp(m, mac_a, 6) == 0) {
			assert_int_equal(port, 1);
			assert_int_equal(age, 8);
			seen |= 1;
		} else if (memcmp(m, mac_b, 6) == 0) {
			assert_int_equal(port, 2);
			assert_int_equal(age, 10);
			seen |= 2;
		} else if (memcmp(m, mac_c, 6) == 0) {
			assert_int_equal(port, 0);
			assert_int_equal(age, 9);
			seen |= 4;
		} else {
			fail_msg("unexpected entry %02x:..:%02x", m[0], m[5]);
		}
	}
	assert_int_equal(seen, 7);
	free_table(t);
}

static void test_flood(void **state)
{
	(void)state;
	struct nmk_learn *t = new_table(64, 300, NULL);
	const uint8_t ipv6_mcast[6] = { 0x33, 0x33, 0x00, 0x00, 0x00, 0x01 };
	uint8_t u[6];

	/* Learn everything first, so nothing floods for lack of knowledge. */
	assert_int_equal(fwd(t, mac_b, mac_a, 1, 0), BCAST);
	assert_int_equal(fwd(t, mac_a, mac_b, 2, 0), 1);
	assert_int_equal(fwd(t, mac_bcast, mac_a, 1, 0), BCAST);
	assert_int_equal(fwd(t, mac_mcast, mac_a, 1, 0), BCAST);
	assert_int_equal(fwd(t, ipv6_mcast, mac_b, 2, 0), BCAST);
	mac_of(999, u);
	assert_int_equal(fwd(t, u, mac_a, 1, 0), BCAST);
	free_table(t);
}

static void test_multicast_source(void **state)
{
	(void)state;
	struct nmk_learn *t = new_table(64, 300, NULL);

	/* Multicast and broadcast sources are never learned. */
	assert_int_equal(fwd(t, mac_a, mac_mcast, 3, 0), BCAST);
	assert_int_equal(fwd(t, mac_a, mac_bcast, 4, 0), BCAST);
	assert_int_equal(nmk_learn_count(t, 0), 0);
	assert_int_equal(fwd(t, mac_mcast, mac_a, 1, 0), BCAST);
	assert_int_equal(fwd(t, mac_bcast, mac_a, 1, 0), BCAST);
	assert_int_equal(nmk_learn_count(t, 0), 1);
	free_table(t);
}

static void test_short_frame(void **state)
{
	(void)state;
	struct nmk_learn *t = new_table(64, 300, NULL);
	/* Exactly-sized heap buffers, so an overread shows under ASan. */
	uint8_t *f13 = malloc(13), *f14 = malloc(14);

	assert_non_null(f13);
	assert_non_null(f14);
	memcpy(f13, mac_b, 6);
	memcpy(f13 + 6, mac_a, 6);
	f13[12] = 0x08;
	memcpy(f14, f13, 13);
	f14[13] = 0x00;

	assert_int_equal(nmk_learn_lookup(t, f13, 0, 1, 0), DROP);
	assert_int_equal(nmk_learn_lookup(t, f13, 13, 1, 0), DROP);
	assert_int_equal(nmk_learn_count(t, 0), 0);	/* nothing learned */
	assert_int_equal(nmk_learn_lookup(t, f14, 14, 1, 0), BCAST);
	assert_int_equal(nmk_learn_count(t, 0), 1);
	assert_int_equal(fwd(t, mac_a, mac_b, 2, 0), 1);
	free(f13);
	free(f14);
	free_table(t);
}

static void test_no_echo(void **state)
{
	(void)state;
	struct nmk_learn *t = new_table(64, 300, NULL);

	assert_int_equal(fwd(t, mac_b, mac_a, 1, 0), BCAST);
	assert_int_equal(fwd(t, mac_a, mac_b, 1, 0), DROP);	/* A and B both on 1 */
	assert_int_equal(fwd(t, mac_b, mac_a, 1, 0), DROP);
	assert_int_equal(fwd(t, mac_a, mac_a, 1, 0), DROP);	/* to itself */
	assert_int_equal(fwd(t, mac_a, mac_c, 2, 0), 1);
	free_table(t);
}

/* ---- aging -------------------------------------------------------------- */

static void test_aging(void **state)
{
	(void)state;
	const uint32_t max_age = 300;
	struct nmk_learn *t = new_table(64, max_age, NULL);

	/* Lookups use a multicast source, so they learn nothing. */
	assert_int_equal(fwd(t, mac_b, mac_a, 1, 0), BCAST);
	assert_int_equal(fwd(t, mac_a, mac_mcast, 2, max_age - 1), 1);
	assert_int_equal(nmk_learn_count(t, max_age - 1), 1);
	assert_int_equal(fwd(t, mac_a, mac_mcast, 2, max_age + 1), BCAST);
	assert_int_equal(nmk_learn_count(t, max_age + 1), 0);

	/* A frame from A refreshes it. */
	assert_int_equal(fwd(t, mac_b, mac_a, 1, 1000), BCAST);
	assert_int_equal(fwd(t, mac_b, mac_a, 1, 1200), BCAST);
	assert_int_equal(fwd(t, mac_a, mac_mcast, 2, 1200 + max_age - 1), 1);
	assert_int_equal(fwd(t, mac_a, mac_mcast, 2, 1200 + max_age + 1), BCAST);

	/* The limit applies to existing entries at once, both ways. */
	assert_int_equal(fwd(t, mac_b, mac_a, 1, 2000), BCAST);
	nmk_learn_set_max_age(t, 10);
	assert_int_equal(fwd(t, mac_a, mac_mcast, 2, 2009), 1);
	assert_int_equal(fwd(t, mac_a, mac_mcast, 2, 2011), BCAST);
	nmk_learn_set_max_age(t, 0);	/* never age */
	assert_int_equal(fwd(t, mac_a, mac_mcast, 2, 2011), 1);
	assert_int_equal(fwd(t, mac_a, mac_mcast, 2, 2000 + 1000000000u), 1);
	assert_int_equal(nmk_learn_count(t, 2000 + 1000000000u), 1);
	uint32_t pos = 0, port, age;
	uint8_t m[6];
	assert_int_equal(nmk_learn_next(t, &pos, 2100, m, &port, &age), 1);
	assert_memory_equal(m, mac_a, 6);
	assert_int_equal(port, 1);
	assert_int_equal(age, 100);
	assert_int_equal(nmk_learn_next(t, &pos, 2100, m, &port, &age), 0);
	free_table(t);

	/* Clocks of different processes: a reader or learner a second or two
	 * behind the time an entry was stamped with sees it as fresh (and does
	 * not stamp it back); a time far in the future is garbage, so old. */
	t = new_table(64, max_age, NULL);
	assert_int_equal(fwd(t, mac_b, mac_a, 1, 5000), BCAST);
	assert_int_equal(fwd(t, mac_a, mac_mcast, 2, 4999), 1);
	assert_int_equal(fwd(t, mac_a, mac_mcast, 2, 4998), 1);
	assert_int_equal(fwd(t, mac_b, mac_a, 1, 4999), BCAST);
	pos = 0;
	assert_int_equal(nmk_learn_next(t, &pos, 5000, m, &port, &age), 1);
	assert_int_equal(age, 0);
	assert_int_equal(fwd(t, mac_a, mac_mcast, 2, 4000), BCAST);
	assert_int_equal(nmk_learn_count(t, 4000), 0);
	/* ... and a learner's frame replaces a far-future stamp with its own. */
	assert_int_equal(fwd(t, mac_b, mac_a, 1, 4000), BCAST);
	assert_int_equal(fwd(t, mac_a, mac_mcast, 2, 4001), 1);
	free_table(t);

	/* max_age 0 from init: learned at t=0, still known much later. */
	t = new_table(64, 0, NULL);
	assert_int_equal(fwd(t, mac_b, mac_a, 1, 0), BCAST);
	assert_int_equal(fwd(t, mac_a, mac_mcast, 2, 4000000000u), 1);
	free_table(t);
}

/* An aged-out entry's slot is reused before any live one. */
static void test_aged_slot_reused(void **state)
{
	(void)state;
	/* 64 entries: fill them 10 times over, all at t=0 with max age 100. */
	struct nmk_learn *t = new_table(64, 100, NULL);
	uint8_t m[6];

	for (uint32_t i = 0; i < 640; i++) {
		mac_of(i, m);
		fwd(t, mac_bcast, m, i % 8, 0);
	}
	assert_int_equal(nmk_learn_count(t, 0), 64);
	assert_int_equal(nmk_learn_count(t, 100), 0);
	/* At t=200 every entry is dead, so 4 new MACs must all be kept even
	 * if they share a bucket (a full bucket of live entries would evict
	 * one of them). */
	for (uint32_t i = 1000; i < 1004; i++) {
		mac_of(i, m);
		fwd(t, mac_bcast, m, 3, 200);
	}
	assert_int_equal(nmk_learn_count(t, 200), 4);
	for (uint32_t i = 1000; i < 1004; i++) {
		mac_of(i, m);
		assert_int_equal(fwd(t, m, mac_mcast, 5, 200), 3);
	}
	free_table(t);
}

/* ---- moves and removal -------------------------------------------------- */

static void test_moved_mac(void **state)
{
	(void)state;
	struct nmk_learn *t = new_table(64, 300, NULL);

	assert_int_equal(fwd(t, mac_b, mac_a, 1, 5), BCAST);
	assert_int_equal(fwd(t, mac_a, mac_b, 2, 5), 1);
	/* A shows up on port 3, in the same second: relearned at once. */
	assert_int_equal(fwd(t, mac_b, mac_a, 3, 5), 2);
	assert_int_equal(fwd(t, mac_a, mac_b, 2, 5), 3);
	assert_int_equal(nmk_learn_count(t, 5), 2);
	/* ... and back, later. */
	assert_int_equal(fwd(t, mac_b, mac_a, 1, 7), 2);
	assert_int_equal(fwd(t, mac_a, mac_b, 2, 7), 1);
	/* A moving onto B's port makes A's traffic from B a drop. */
	assert_int_equal(fwd(t, mac_b, mac_a, 2, 8), DROP);
	assert_int_equal(fwd(t, mac_a, mac_c, 0, 8), 2);
	assert_int_equal(nmk_learn_count(t, 8), 3);
	free_table(t);
}

/*
 * Two senders of one port that learn the same new MAC at once can leave it
 * in two slots of its bucket.  Plant such a copy (keys are documented in
 * learn.h: MAC in bits 0-47, byte 0 lowest, port + 1 in bits 48-63; a
 * bucket is 64 bytes starting with its 4 keys) and check that a move
 * rewrites the first copy and removes the other, so it cannot resurface.
 */
static void test_duplicate_healed(void **state)
{
	(void)state;
	const uint32_t n = 64;
	size_t bytes, hdr, off;
	struct nmk_learn *t = new_table(n, 0, &bytes);
	uint64_t key_a = 0;

	hdr = bytes - (size_t)n * ((nmk_learn_table_bytes(2 * n) - bytes) / n);
	for (int i = 5; i >= 0; i--)
		key_a = key_a << 8 | mac_a[i];
	assert_int_equal(fwd(t, mac_b, mac_a, 1, 0), BCAST);
	for (off = hdr; off < bytes; off += 8)
		if (*(uint64_t *)((char *)t->t + off) == (key_a | 2ull << 48))
			break;
	assert_true(off < bytes);
	char *bucket = (char *)t->t + hdr + (off - hdr) / 64 * 64;
	int slot = (int)(off - hdr) % 64 / 8, dup = -1;
	assert_true(slot < 4);
	for (int w = slot + 1; w < 4 && dup < 0; w++)
		if (*(uint64_t *)(bucket + 8 * w) == 0)
			dup = w;
	assert_true(dup > slot);
	*(uint64_t *)(bucket + 8 * dup) = key_a | 3ull << 48;	/* A on port 2 */
	assert_int_equal(nmk_learn_count(t, 0), 2);
	assert_int_equal(fwd(t, mac_a, mac_mcast, 0, 0), 1);	/* first copy */

	/* A moves to port 4: one entry left, on port 4. */
	assert_int_equal(fwd(t, mac_b, mac_a, 4, 1), BCAST);
	assert_int_equal(nmk_learn_count(t, 1), 1);
	assert_int_equal(fwd(t, mac_a, mac_mcast, 0, 1), 4);
	nmk_learn_forget_port(t, 4);
	assert_int_equal(fwd(t, mac_a, mac_mcast, 0, 1), BCAST);
	free_table(t);
}

static void test_forget_port(void **state)
{
	(void)state;
	struct nmk_learn *t = new_table(1024, 300, NULL);
	uint8_t m[6];

	for (uint32_t i = 0; i < 300; i++) {
		mac_of(i, m);
		fwd(t, mac_bcast, m, i % 3, 0);
	}
	assert_int_equal(nmk_learn_count(t, 0), 300);
	nmk_learn_forget_port(t, 1);
	assert_int_equal(nmk_learn_count(t, 0), 200);
	for (uint32_t i = 0; i < 300; i++) {
		mac_of(i, m);
		assert_int_equal(fwd(t, m, mac_mcast, 7, 0),
				 i % 3 == 1 ? BCAST : i % 3);
	}
	uint32_t pos = 0, port, age;
	while (nmk_learn_next(t, &pos, 0, m, &port, &age))
		assert_int_not_equal(port, 1);
	nmk_learn_forget_port(t, 9);	/* nothing there: no change */
	nmk_learn_forget_port(t, 0xffffu);	/* out of range: ignored */
	assert_int_equal(nmk_learn_count(t, 0), 200);
	/* The port comes back: relearned as usual. */
	mac_of(1, m);
	fwd(t, mac_bcast, m, 1, 1);
	assert_int_equal(fwd(t, m, mac_mcast, 7, 1), 1);
	free_table(t);
}

static void test_port_limit(void **state)
{
	(void)state;
	struct nmk_learn *t = new_table(64, 300, NULL);

	assert_int_equal(fwd(t, mac_b, mac_a, 40, 0), BCAST);
	assert_int_equal(fwd(t, mac_a, mac_b, 2, 0), 40);
	/* With 16 ports, port 40's entry is ignored and not learned again. */
	nmk_learn_set_nports(t, 16);
	assert_int_equal(fwd(t, mac_a, mac_b, 2, 0), BCAST);
	assert_int_equal(fwd(t, mac_b, mac_c, 20, 0), 2);
	assert_int_equal(fwd(t, mac_c, mac_b, 2, 0), BCAST);
	assert_int_equal(nmk_learn_count(t, 0), 1);
	/* The highest storable port works with the full limit. */
	nmk_learn_set_nports(t, 0x10000);	/* clamped */
	assert_int_equal(fwd(t, mac_b, mac_c, NMK_LEARN_MAX_PORTS - 1, 0), 2);
	assert_int_equal(fwd(t, mac_c, mac_b, 2, 0), NMK_LEARN_MAX_PORTS - 1);
	free_table(t);
}

/* ---- capacity ----------------------------------------------------------- */

/* 10x more MACs than entries: the table ends full, every entry listed is
 * one that was learned with its own port, and lookups agree with it. */
static void test_full_table(void **state)
{
	(void)state;
	const uint32_t n = 1024, nmacs = 10 * n, nports = 16;
	struct nmk_learn *t = new_table(n, 0, NULL);
	uint8_t m[6];

	nmk_learn_set_nports(t, nports);
	for (uint32_t i = 0; i < nmacs; i++) {
		mac_of(i * 2654435761u, m);	/* scattered, distinct */
		uint32_t r = fwd(t, mac_bcast, m, i % nports, i / 16);
		assert_int_equal(r, BCAST);
	}
	assert_int_equal(nmk_learn_count(t, nmacs / 16), n);

	uint32_t pos = 0, port, age, listed = 0;
	while (nmk_learn_next(t, &pos, nmacs / 16, m, &port, &age)) {
		uint32_t i = index_of(m) * 244002641u;	/* inverse mod 2^32 */
		assert_true(i < nmacs);
		assert_int_equal(port, i % nports);
		listed++;
	}
	assert_int_equal(listed, n);

	/* Lookups with a multicast source, so they learn nothing. */
	uint32_t known = 0;
	for (uint32_t i = 0; i < nmacs; i++) {
		mac_of(i * 2654435761u, m);
		uint32_t r = fwd(t, m, mac_mcast, nports - 1, 0);
		if (r == BCAST)
			continue;
		if (r == DROP)
			assert_int_equal(i % nports, nports - 1);
		else
			assert_int_equal(r, i % nports);
		known++;
	}
	assert_int_equal(known, n);
	/* The last 4 learned always survive (a bucket holds 4). */
	for (uint32_t i = nmacs - 4; i < nmacs; i++) {
		mac_of(i * 2654435761u, m);
		assert_int_equal(fwd(t, m, mac_mcast, 0, 0), i % nports);
	}
	free_table(t);
}

/* The hash spreads typical MAC sets: half a table of MACs counting up in
 * various bytes (virtual machines, one vendor's NICs) fits with almost no
 * eviction, and random MACs with few. */
static void test_hash_spread(void **state)
{
	(void)state;
	const uint32_t n = 1024;
	uint64_t s = 7;
	uint8_t m[6];

	for (int set = 0; set < 4; set++) {
		struct nmk_learn *t = new_table(n, 0, NULL);

		for (uint32_t i = 0; i < n / 2; i++) {
			mac_of(i, m);	/* set 0: bytes 4-5 count */
			if (set == 1) {	/* bytes 3-4 count, a fixed last byte */
				m[3] = (uint8_t)(i >> 8);
				m[4] = (uint8_t)i;
				m[5] = 0x12;
			} else if (set == 2) {	/* bytes 1-2 count (OUI-like) */
				m[1] = (uint8_t)(i >> 8);
				m[2] = (uint8_t)i;
				m[3] = 0x11;
				m[4] = 0x22;
				m[5] = 0x33;
			} else if (set == 3) {	/* random unicast */
				uint64_t r = rng(&s);
				memcpy(m, &r, 6);
				m[0] &= 0xfe;
			}
			fwd(t, mac_bcast, m, 1, 0);
		}
		uint32_t c = nmk_learn_count(t, 0);
		print_message("# set %d: %u of %u kept\n", set, c, n / 2);
		assert_true(c >= (set < 3 ? n / 2 * 98 / 100 : n / 2 * 90 / 100));
		free_table(t);
	}
}

/* ---- validation --------------------------------------------------------- */

static void test_check(void **state)
{
	(void)state;
	size_t bytes;
	struct nmk_learn *t = new_table(1024, 300, &bytes);
	uint32_t *w = (uint32_t *)t->t;

	assert_int_equal(nmk_learn_table_check(t->t, bytes), 0);
	assert_int_equal(nmk_learn_table_check(t->t, bytes + 4096), 0);
	assert_int_equal(nmk_learn_table_check(t->t, bytes - 1), -EINVAL);
	assert_int_equal(nmk_learn_table_check(t->t, nmk_learn_table_bytes(512)),
			 -EINVAL);
	assert_int_equal(nmk_learn_table_check(t->t, 16), -EINVAL);
	assert_int_equal(nmk_learn_table_check(NULL, bytes), -EINVAL);
	assert_int_equal(nmk_learn_table_check((char *)t->t + 4, bytes - 4), -EINVAL);

	/* The first five header words (magic, version, nentries and the two
	 * fields derived from it) are all checked: any flipped bit is caught. */
	for (int i = 0; i < 5; i++)
		for (int b = 0; b < 32; b++) {
			w[i] ^= 1u << b;
			if (nmk_learn_table_check(t->t, bytes) != -EINVAL)
				fail_msg("word %d bit %d not caught", i, b);
			w[i] ^= 1u << b;
		}
	assert_int_equal(nmk_learn_table_check(t->t, bytes), 0);

	/* A consistent header for a bigger table than the memory holds. */
	uint32_t saved[5];
	memcpy(saved, w, sizeof(saved));
	w[2] = 2048;
	w[3] = 511;
	w[4] = 64 - 9;
	assert_int_equal(nmk_learn_table_check(t->t, bytes), -EINVAL);
	assert_int_equal(nmk_learn_table_check(t->t, nmk_learn_table_bytes(2048)), 0);
	memcpy(w, saved, sizeof(saved));

	/* A port limit above what entries can store. */
	nmk_learn_set_nports(t, 8);
	assert_int_equal(nmk_learn_table_check(t->t, bytes), 0);
	w[6] = 0x10000;
	assert_int_equal(nmk_learn_table_check(t->t, bytes), -EINVAL);
	w[6] = 8;

	/* Zeroed memory is not a table. */
	memset(t->t, 0, bytes);
	assert_int_equal(nmk_learn_table_check(t->t, bytes), -EINVAL);
	free_table(t);
}

/* ---- concurrency -------------------------------------------------------- */

#define CC_NPORTS  8u
#define CC_NMACS   96u
#define CC_WORKERS 4

struct cc {
	struct nmk_learn *t;
	size_t bytes, hdr;
	atomic_bool stop;
	_Atomic uint32_t now;
	atomic_ulong bad, ops, corruptions;
};

static void cc_mac(uint32_t i, uint8_t m[6])
{
	mac_of(i, m);
	m[1] = 0x5a;
}

static void *cc_worker(void *arg)
{
	struct cc *c = arg;
	uint64_t s = 0x9e3779b97f4a7c15ull ^ (uintptr_t)&s;
	unsigned long ops = 0, bad = 0;
	uint8_t f[64];

	while (!atomic_load_explicit(&c->stop, memory_order_relaxed)) {
		for (int k = 0; k < 256; k++) {
			uint64_t r = rng(&s);
			uint32_t src_port = (uint32_t)(r % CC_NPORTS);
			uint32_t len = (r >> 8) % 16 == 0 ? (uint32_t)((r >> 12) % 14) : 60;

			cc_mac((uint32_t)(r >> 16) % CC_NMACS, f);
			if ((r >> 24) % 32 == 0)
				memcpy(f, mac_bcast, 6);
			else if ((r >> 24) % 32 == 1)
				memcpy(f, mac_mcast, 6);
			cc_mac((uint32_t)(r >> 32) % CC_NMACS, f + 6);
			if ((r >> 40) % 64 == 0)
				memcpy(f + 6, mac_mcast, 6);
			uint32_t res = nmk_learn_lookup(c->t, f, len, src_port,
				atomic_load_explicit(&c->now, memory_order_relaxed));
			if (!(res < CC_NPORTS || res == BCAST || res == DROP) ||
			    res == src_port || (len < 14 && res != DROP))
				bad++;
			ops++;
		}
	}
	atomic_fetch_add(&c->ops, ops);
	atomic_fetch_add(&c->bad, bad);
	return NULL;
}

/* Scribble over entry words: random garbage, and "torn" keys holding a MAC
 * of the working set with a random port field, at 64- and 32-bit grain. */
static void *cc_corruptor(void *arg)
{
	struct cc *c = arg;
	uint64_t s = 0x1234567887654321ull;
	unsigned long n = 0;
	char *base = (char *)c->t->t + c->hdr;
	size_t words = (c->bytes - c->hdr) / 8;

	while (!atomic_load_explicit(&c->stop, memory_order_relaxed)) {
		uint64_t r = rng(&s), v = rng(&s);
		size_t off = (size_t)(r % words) * 8;

		if ((r >> 32) % 3 == 0) {
			uint8_t m[6];

			cc_mac((uint32_t)(v >> 16) % CC_NMACS, m);
			v = (v & 0xffff000000000000ull) | m[0] | (uint64_t)m[1] << 8 |
			    (uint64_t)m[2] << 16 | (uint64_t)m[3] << 24 |
			    (uint64_t)m[4] << 32 | (uint64_t)m[5] << 40;
		}
		if ((r >> 40) % 2 == 0) {
			atomic_store_explicit((_Atomic uint64_t *)(base + off), v,
					      memory_order_relaxed);
		} else {
			off += ((r >> 48) & 1) * 4;
			atomic_store_explicit((_Atomic uint32_t *)(base + off),
					      (uint32_t)v, memory_order_relaxed);
		}
		n++;
		if (n % 64 == 0)
			sched_yield();
	}
	atomic_fetch_add(&c->corruptions, n);
	return NULL;
}

static double now_mono(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

static void test_concurrent_garbage(void **state)
{
	(void)state;
	struct cc c = { 0 };
	pthread_t th[CC_WORKERS + 1];
	const uint32_t n = 256;	/* small: many collisions */
	uint64_t s = 42;

	c.t = new_table(n, 3, &c.bytes);
	/* Header size = total - n x (bytes per entry), from the public sizes. */
	c.hdr = c.bytes - (size_t)n * ((nmk_learn_table_bytes(2 * n) - c.bytes) / n);
	assert_true(c.hdr > 0 && c.hdr % 8 == 0 && c.hdr < c.bytes);
	nmk_learn_set_nports(c.t, CC_NPORTS);
	atomic_init(&c.stop, false);
	atomic_init(&c.now, 1000);
	atomic_init(&c.bad, 0);
	atomic_init(&c.ops, 0);
	atomic_init(&c.corruptions, 0);

	for (int i = 0; i < CC_WORKERS; i++)
		assert_int_equal(pthread_create(&th[i], NULL, cc_worker, &c), 0);
	assert_int_equal(pthread_create(&th[CC_WORKERS], NULL, cc_corruptor, &c), 0);

	/* Meanwhile: the control side (removal, listing, age changes) and a
	 * clock that ticks fast enough for entries to age out. */
	unsigned long listed_bad = 0;
	double end = now_mono() + 1.0;
	while (now_mono() < end) {
		uint64_t r = rng(&s);
		uint32_t now = atomic_fetch_add(&c.now, 1) + 1;
		uint32_t pos = 0, port, age;
		uint8_t m[6];

		nmk_learn_forget_port(c.t, (uint32_t)(r % CC_NPORTS));
		if (nmk_learn_count(c.t, now) > n)
			listed_bad++;
		while (nmk_learn_next(c.t, &pos, now, m, &port, &age))
			if (port >= CC_NPORTS)
				listed_bad++;
		if ((r >> 8) % 8 == 0)
			nmk_learn_set_max_age(c.t, (uint32_t)((r >> 16) % 3) * 3);
		struct timespec ts = { 0, 2 * 1000 * 1000 };
		nanosleep(&ts, NULL);
	}
	atomic_store(&c.stop, true);
	for (int i = 0; i <= CC_WORKERS; i++)
		pthread_join(th[i], NULL);

	print_message("# %lu lookups, %lu corruptions\n",
		      (unsigned long)atomic_load(&c.ops),
		      (unsigned long)atomic_load(&c.corruptions));
	assert_int_equal(atomic_load(&c.bad), 0);
	assert_int_equal(listed_bad, 0);
	assert_true(atomic_load(&c.ops) > 0);
	assert_true(atomic_load(&c.corruptions) > 0);

	/* The table is still a table, and still learns. */
	assert_int_equal(nmk_learn_table_check(c.t->t, c.bytes), 0);
	uint32_t now = atomic_load(&c.now) + 10;
	nmk_learn_set_max_age(c.t, 300);
	assert_int_equal(fwd(c.t, mac_b, mac_a, 5, now), BCAST);
	assert_int_equal(fwd(c.t, mac_a, mac_b, 6, now), 5);
	free_table(c.t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_bytes_init),
		cmocka_unit_test(test_learning),
		cmocka_unit_test(test_flood),
		cmocka_unit_test(test_multicast_source),
		cmocka_unit_test(test_short_frame),
		cmocka_unit_test(test_no_echo),
		cmocka_unit_test(test_aging),
		cmocka_unit_test(test_aged_slot_reused),
		cmocka_unit_test(test_moved_mac),
		cmocka_unit_test(test_duplicate_healed),
		cmocka_unit_test(test_forget_port),
		cmocka_unit_test(test_port_limit),
		cmocka_unit_test(test_full_table),
		cmocka_unit_test(test_hash_spread),
		cmocka_unit_test(test_check),
		cmocka_unit_test(test_concurrent_garbage),
	};

	return cmocka_run_group_tests_name("learn", tests, NULL, NULL);
}
