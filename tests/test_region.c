/*
 * test_region.c - region layout arithmetic and ring initialisation
 * (reference §1.7).
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <net/netmap_user.h>

#include "region.h"
#include "learn.h"
#include "shm.h"
#include "vale_shm.h"

static const struct nmk_region_params pipe_params = {
	.if_num = 512, .if_size = 4224,
	.ring_num = 512, .ring_size = 256 + 16 * 4096,
	.buf_num = 163840, .buf_size = 2048,
};

static void test_pools_in_order_and_page_aligned(void **state)
{
	struct nmk_region_layout l;
	char err[200];

	(void)state;
	assert_int_equal(nmk_region_layout(&pipe_params, &l, err, sizeof(err)), 0);
	assert_int_equal(l.if_off, 0);
	assert_true(l.ring_off >= (uint64_t)l.p.if_num * l.p.if_size);
	assert_true(l.buf_off >= l.ring_off + (uint64_t)l.p.ring_num * l.p.ring_size);
	assert_int_equal(l.ring_off % NMK_PAGE_SIZE, 0);
	assert_int_equal(l.buf_off % NMK_PAGE_SIZE, 0);
	assert_int_equal(l.memsize % NMK_PAGE_SIZE, 0);
	assert_int_equal(l.memsize, l.if_total + l.ring_total + l.buf_total);
	assert_int_equal(l.buf_total, (uint64_t)163840 * 2048);
}

static void test_sizes_rounded_to_64(void **state)
{
	struct nmk_region_params p = pipe_params;
	struct nmk_region_layout l;
	char err[200];

	(void)state;
	p.if_size = 1000;
	p.ring_size = 256 + 16 * 3;
	p.buf_size = 1500;
	assert_int_equal(nmk_region_layout(&p, &l, err, sizeof(err)), 0);
	assert_int_equal(l.p.if_size, 1024);
	assert_int_equal(l.p.ring_size, 320);
	assert_int_equal(l.p.buf_size, 1536);
}

static void test_bad_params_named(void **state)
{
	struct nmk_region_params p;
	struct nmk_region_layout l;
	char err[200];

	(void)state;
	p = pipe_params;
	p.buf_size = 32;
	assert_int_equal(nmk_region_layout(&p, &l, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "buffer size"));
	p = pipe_params;
	p.buf_num = 3;
	assert_int_equal(nmk_region_layout(&p, &l, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "buffer pool"));
	p = pipe_params;
	p.ring_num = 0;
	assert_int_equal(nmk_region_layout(&p, &l, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "ring pool"));
	p = pipe_params;
	p.buf_num = 1u << 26;   /* 128 GiB of buffers */
	p.buf_size = 2048;
	assert_int_equal(nmk_region_layout(&p, &l, err, sizeof(err)), -E2BIG);
}

/* A fresh ring, as netmap makes it: NETMAP_BUF lands on the right buffer,
 * TX tail N-1, RX tail 0, fake rings on buffer 0. */
static void test_ring_init(void **state)
{
	struct nmk_region_params p = {
		.if_num = 2, .if_size = 1024, .ring_num = 2, .ring_size = 256 + 16 * 64,
		.buf_num = 200, .buf_size = 2048,
	};
	struct nmk_region_layout l;
	char err[200];
	uint32_t bufs[64];

	(void)state;
	assert_int_equal(nmk_region_layout(&p, &l, err, sizeof(err)), 0);
	char *mem = aligned_alloc(NMK_PAGE_SIZE, l.memsize);
	assert_non_null(mem);
	for (uint32_t i = 0; i < 64; i++)
		bufs[i] = 2 + i * 2;
	struct netmap_ring *tx = nmk_ring_at(mem, &l, 0), *rx = nmk_ring_at(mem, &l, 1);
	nmk_ring_init(tx, &l, 0, 64, 3, NMK_DIR_TX, bufs);
	nmk_ring_init(rx, &l, 1, 64, 3, NMK_DIR_RX, NULL);
	assert_int_equal(tx->num_slots, 64);
	assert_int_equal(tx->nr_buf_size, 2048);
	assert_int_equal(tx->ringid, 3);
	assert_int_equal(tx->dir, NMK_DIR_TX);
	assert_int_equal(tx->head, 0);
	assert_int_equal(tx->cur, 0);
	assert_int_equal(tx->tail, 63);
	assert_int_equal(rx->tail, 0);
	assert_int_equal(rx->dir, NMK_DIR_RX);
	for (uint32_t i = 0; i < 64; i++) {
		assert_ptr_equal(NETMAP_BUF(tx, tx->slot[i].buf_idx), nmk_buf_at(mem, &l, bufs[i]));
		assert_ptr_equal(NETMAP_BUF(rx, 5), nmk_buf_at(mem, &l, 5));
		assert_int_equal(NETMAP_BUF_IDX(tx, NETMAP_BUF(tx, bufs[i])), bufs[i]);
		assert_int_equal(tx->slot[i].len, 2048);
		assert_int_equal(tx->slot[i].flags, 0);
		assert_int_equal(rx->slot[i].buf_idx, 0);
	}
	free(mem);
}

static void test_ctrl_geom(void **state)
{
	struct nmk_ctrl_geom g = { .nkrings = 512, .nports = 256 };

	(void)state;
	assert_int_equal(nmk_ctrl_geom_compute(&g), 0);
	assert_int_equal(g.kring_off, NMK_PAGE_SIZE);
	assert_true(g.port_off >= g.kring_off + 512 * sizeof(struct nmk_kring));
	assert_true(g.lease_off >= g.port_off + 256 * sizeof(struct nmk_ctrl_port));
	assert_true(g.size >= g.lease_off + 512 * NMK_LEASES * sizeof(struct nmk_lease));
	assert_int_equal(g.size % NMK_PAGE_SIZE, 0);
	assert_int_equal(g.port_off % NMK_PAGE_SIZE, 0);

	/* A switch region adds its port table and learning table. */
	struct nmk_vale_layout vl;
	assert_int_equal(nmk_vale_layout(254, 1024, &vl), 0);
	struct nmk_ctrl_geom v = { .nkrings = 512, .nports = 254, .sw_bytes = vl.bytes };
	assert_int_equal(nmk_ctrl_geom_compute(&v), 0);
	assert_true(vl.learn_off > vl.ports_off);
	assert_true(v.size >= v.sw_off + vl.learn_off + nmk_learn_table_bytes(1024));
	assert_int_equal((v.sw_off + vl.learn_off) % NMK_PAGE_SIZE, 0);
	assert_int_equal(nmk_vale_layout(0, 1024, &vl), -EINVAL);
	assert_int_equal(nmk_vale_layout(254, 1000, &vl), -EINVAL);

	struct nmk_ctrl_geom bad = { .nkrings = 0, .nports = 1 };
	assert_int_equal(nmk_ctrl_geom_compute(&bad), -EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_pools_in_order_and_page_aligned),
		cmocka_unit_test(test_sizes_rounded_to_64),
		cmocka_unit_test(test_bad_params_named),
		cmocka_unit_test(test_ring_init),
		cmocka_unit_test(test_ctrl_geom),
	};
	return cmocka_run_group_tests_name("region", tests, NULL, NULL);
}
