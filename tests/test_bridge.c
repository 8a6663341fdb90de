/*
 * test_bridge.c - the bridge tool: traffic crosses it between two VALE
 * switches (copying, different regions), and between two pipes of one
 * parent it swaps buffers instead of copying (zero copy: the receiver gets
 * the very buffer the sender filled).
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <net/netmap_user.h>

#include "testutil.h"

static char bridge_path[512];

static int setup(void **state)
{
	(void)state;
	const char *b = getenv("NMKIT_TEST_BUILDDIR");
	snprintf(bridge_path, sizeof(bridge_path), "%s/apps/bridge/bridge", b ? b : ".");
	return tu_setup("bridge");
}

static int teardown(void **state)
{
	(void)state;
	tu_teardown();
	return 0;
}

/* Start bridge between a and b, stderr to `log`; wait until it is ready. */
static pid_t start_bridge(const char *a, const char *b, const char *log)
{
	pid_t pid = fork();
	if (pid == 0) {
		if (freopen(log, "w", stderr) == NULL)
			_exit(126);
		execl(bridge_path, "bridge", "-w", "0", "-i", a, "-i", b, (char *)NULL);
		_exit(127);
	}
	for (int i = 0; i < 500; i++) {
		char buf[4096] = "";
		FILE *f = fopen(log, "r");
		if (f) {
			size_t n = fread(buf, 1, sizeof(buf) - 1, f);
			buf[n] = '\0';
			fclose(f);
		}
		if (strstr(buf, "Ready to go"))
			return pid;
		usleep(10000);
	}
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
	fail_msg("bridge did not start");
	return -1;
}

static void stop_bridge(pid_t pid, const char *log, char *out, size_t len)
{
	kill(pid, SIGTERM);
	int st;
	waitpid(pid, &st, 0);
	assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	FILE *f = fopen(log, "r");
	assert_non_null(f);
	size_t n = fread(out, 1, len - 1, f);
	out[n] = '\0';
	fclose(f);
	unlink(log);
}

static void send_frames(struct nmk_port *p, unsigned count, unsigned len, uint32_t *idx_out)
{
	struct netmap_ring *tx = nmk_port_txring(p, 0);
	for (unsigned i = 0; i < count; i++) {
		struct netmap_slot *s = &tx->slot[tx->head];
		uint8_t *b = (uint8_t *)NETMAP_BUF(tx, s->buf_idx);
		tu_fill(b, len, i);
		memset(b, 0xff, 6);     /* broadcast, so VALE floods it to the bridge */
		if (idx_out)
			idx_out[i] = s->buf_idx;
		s->len = (uint16_t)len;
		tx->head = tx->cur = nm_ring_next(tx, tx->head);
	}
	assert_int_equal(nmk_txsync(p), 0);
}

/* Receive `count` frames within 5 s; return their buffer indices. */
static void recv_frames(struct nmk_port *p, unsigned count, unsigned len, uint32_t *idx_out)
{
	struct netmap_ring *rx = nmk_port_rxring(p, 0);
	unsigned got = 0;
	double end = tu_now() + 5;

	while (got < count && tu_now() < end) {
		nmk_port_poll(p, POLLIN, 100);
		while (rx->head != rx->tail && got < count) {
			struct netmap_slot *s = &rx->slot[rx->head];
			uint8_t *b = (uint8_t *)NETMAP_BUF(rx, s->buf_idx);
			assert_int_equal(s->len, len);
			/* All but the broadcast address we wrote over the pattern. */
			uint8_t want[2048];
			tu_fill(want, len, got);
			assert_memory_equal(b + 6, want + 6, len - 6);
			if (idx_out)
				idx_out[got] = s->buf_idx;
			got++;
			rx->head = rx->cur = nm_ring_next(rx, rx->head);
		}
	}
	assert_int_equal(got, count);
}

static void test_joins_two_switches(void **state)
{
	char a[32], b[32], log[64], out[4096], err[NMK_ERRBUF_SIZE];

	(void)state;
	snprintf(a, sizeof(a), "valeba%d:br", (int)getpid() % 100000);
	snprintf(b, sizeof(b), "valebb%d:br", (int)getpid() % 100000);
	snprintf(log, sizeof(log), "/tmp/nmkit-bridge-%d.log", (int)getpid());
	/* The ports the bridge joins must exist first, with the hosts. */
	char ha[32], hb[32];
	snprintf(ha, sizeof(ha), "valeba%d:h", (int)getpid() % 100000);
	snprintf(hb, sizeof(hb), "valebb%d:h", (int)getpid() % 100000);
	struct nmk_port *pa = nmk_port_open(ha, err), *pb = nmk_port_open(hb, err);
	assert_non_null(pa);
	assert_non_null(pb);
	pid_t br = start_bridge(a, b, log);
	send_frames(pa, 100, 60, NULL);
	recv_frames(pb, 100, 60, NULL);
	send_frames(pb, 50, 1000, NULL);
	recv_frames(pa, 50, 1000, NULL);
	stop_bridge(br, log, out, sizeof(out));
	assert_non_null(strstr(out, "copying"));
	assert_non_null(strstr(out, "100 packets (0 slots swapped, 100 copied)"));
	nmk_port_close(pa);
	nmk_port_close(pb);
}

static void test_zero_copy_between_pipes(void **state)
{
	char a[32], b[32], sa[32], sb[32], log[64], out[4096], err[NMK_ERRBUF_SIZE];
	uint32_t sent[200], got[200];

	(void)state;
	int id = (int)getpid();
	snprintf(a, sizeof(a), "zc%d{1", id);
	snprintf(b, sizeof(b), "zc%d{2", id);
	snprintf(sa, sizeof(sa), "zc%d}1", id);
	snprintf(sb, sizeof(sb), "zc%d}2", id);
	snprintf(log, sizeof(log), "/tmp/nmkit-bridgez-%d.log", id);
	struct nmk_port *src = nmk_port_open(sa, err), *dst = nmk_port_open(sb, err);
	assert_non_null(src);
	assert_non_null(dst);
	pid_t br = start_bridge(a, b, log);
	send_frames(src, 200, 1500, sent);
	recv_frames(dst, 200, 1500, got);
	stop_bridge(br, log, out, sizeof(out));
	assert_non_null(strstr(out, "zero-copy"));
	assert_non_null(strstr(out, "200 packets (200 slots swapped, 0 copied)"));
	/* Zero copy, end to end: the receiver reads the sender's own buffers. */
	for (int i = 0; i < 200; i++)
		assert_int_equal(got[i], sent[i]);
	nmk_port_close(src);
	nmk_port_close(dst);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_joins_two_switches),
		cmocka_unit_test(test_zero_copy_between_pipes),
	};
	signal(SIGPIPE, SIG_IGN);
	return cmocka_run_group_tests_name("bridge", tests, setup, teardown);
}
