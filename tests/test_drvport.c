/*
 * test_drvport.c - driver ports end to end, with the "loop" test driver
 * (every frame sent comes back): the prefix picks the driver, its
 * parameters are checked, it runs in the opening process while the broker
 * gives the port rings of the shape the driver asked, and txsync, rxsync
 * and poll go through it.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <net/netmap_user.h>

#include "testutil.h"

static char drvdir[256];

static int setup(void **state)
{
	char src[512], cmd[1200];
	const char *b = getenv("NMKIT_TEST_BUILDDIR");

	(void)state;
	snprintf(drvdir, sizeof(drvdir), "/tmp/nmkit-test-drvport-%d", (int)getpid());
	mkdir(drvdir, 0755);
	snprintf(src, sizeof(src), "%s/tests/drivers/.libs/loop.so", b ? b : ".");
	snprintf(cmd, sizeof(cmd), "cp '%s' '%s/loop.so'", src, drvdir);
	if (system(cmd) != 0)
		return -1;
	/* The registry is read once per process, on first use. */
	setenv("NMKIT_DRIVER_PATH", drvdir, 1);
	return tu_setup("drvport");
}

static int teardown(void **state)
{
	char path[300];

	(void)state;
	tu_teardown();
	snprintf(path, sizeof(path), "%s/loop.so", drvdir);
	unlink(path);
	rmdir(drvdir);
	return 0;
}

static void test_frames_go_through_the_driver(void **state)
{
	char err[NMK_ERRBUF_SIZE];

	(void)state;
	struct nmk_port *p = nmk_port_open("loop:one@slots=128", err);
	if (p == NULL)
		fail_msg("open: %s", err);
	const struct nmk_port_info *info = nmk_port_info(p);
	assert_int_equal(info->tx_slots, 128);   /* the shape the driver chose */
	assert_int_equal(info->rx_slots, 128);
	struct netmap_ring *tx = nmk_port_txring(p, 0), *rx = nmk_port_rxring(p, 0);
	assert_int_equal(tx->tail, 127);
	assert_int_equal(rx->tail, 0);

	uint64_t sent = 0, got = 0;
	for (int round = 0; round < 50; round++) {
		uint32_t space = nm_ring_space(tx);
		for (uint32_t k = 0; k < space && k < 40; k++) {
			struct netmap_slot *s = &tx->slot[tx->head];
			uint32_t len = 60 + (uint32_t)(sent % 1400);
			tu_fill(NETMAP_BUF(tx, s->buf_idx), len, sent++);
			s->len = (uint16_t)len;
			tx->head = tx->cur = nm_ring_next(tx, tx->head);
		}
		assert_int_equal(nmk_txsync(p), 0);
		/* What the driver took is free again at once. */
		assert_int_equal(nm_ring_space(tx), 127);
		int r = nmk_port_poll(p, POLLIN, 1000);
		assert_true(r & POLLIN);
		while (!nm_ring_empty(rx)) {
			struct netmap_slot *s = &rx->slot[rx->head];
			assert_int_equal(s->len, 60 + (uint32_t)(got % 1400));
			assert_int_equal(tu_check(NETMAP_BUF(rx, s->buf_idx), s->len, got), 0);
			got++;
			rx->head = rx->cur = nm_ring_next(rx, rx->head);
		}
	}
	assert_int_equal(got, sent);
	/* Nothing more: poll times out. */
	assert_int_equal(nmk_rxsync(p), 0);
	assert_int_equal(nmk_port_poll(p, POLLIN, 50), 0);
	nmk_port_close(p);
}

static void test_errors_name_the_cause(void **state)
{
	char err[NMK_ERRBUF_SIZE];

	(void)state;
	assert_null(nmk_port_open("loop:one@bogus=1", err));
	assert_int_equal(errno, EINVAL);
	assert_non_null(strstr(err, "bogus"));
	assert_non_null(strstr(err, "loop"));
	assert_null(nmk_port_open("nosuchdrv:eth0", err));
	assert_int_equal(errno, ENOENT);
	assert_non_null(strstr(err, "nosuchdrv"));
	assert_null(nmk_port_open("loop:", err));
	assert_int_not_equal(errno, 0);
}

/* Two opens of one device are two ports, each with its own driver state. */
static void test_two_opens_two_ports(void **state)
{
	char err[NMK_ERRBUF_SIZE];

	(void)state;
	struct nmk_port *a = nmk_port_open("loop:two", err), *b = nmk_port_open("loop:two", err);
	assert_non_null(a);
	assert_non_null(b);
	assert_int_not_equal(nmk_port_info(a)->mem_id, nmk_port_info(b)->mem_id);
	struct netmap_ring *tx = nmk_port_txring(a, 0);
	tx->slot[tx->head].len = 60;
	tx->head = tx->cur = nm_ring_next(tx, tx->head);
	assert_int_equal(nmk_txsync(a), 0);
	assert_int_equal(nmk_rxsync(b), 0);
	assert_true(nm_ring_empty(nmk_port_rxring(b, 0)));
	assert_int_equal(nmk_rxsync(a), 0);
	assert_int_equal(nm_ring_space(nmk_port_rxring(a, 0)), 1);
	nmk_port_close(a);
	nmk_port_close(b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_frames_go_through_the_driver),
		cmocka_unit_test(test_errors_name_the_cause),
		cmocka_unit_test(test_two_opens_two_ports),
	};
	return cmocka_run_group_tests_name("drvport", tests, setup, teardown);
}
