/*
 * test_broker.c - nmkitd itself: started once when clients race, robust to
 * garbage, clean on SIGTERM, and its death leaves data paths working.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <stdbool.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <net/netmap_user.h>

#include "client.h"
#include "proto.h"
#include "testutil.h"

static int setup(void **state)
{
	(void)state;
	return tu_setup("broker");
}

static int teardown(void **state)
{
	(void)state;
	tu_teardown();
	return 0;
}

static bool alive(pid_t pid)
{
	return tu_alive(pid);
}

/* Eight processes open ports at once with no broker running: all succeed
 * and they all talk to one broker. */
static void test_race_starts_one_broker(void **state)
{
	enum { N = 8 };
	int pipes[N][2], go[N][2];
	pid_t kids[N];

	(void)state;
	assert_int_equal(tu_broker_pid(), -1);
	for (int i = 0; i < N; i++) {
		assert_int_equal(pipe(pipes[i]), 0);
		assert_int_equal(pipe(go[i]), 0);
		kids[i] = fork();
		if (kids[i] == 0) {
			char name[64], err[NMK_ERRBUF_SIZE];
			snprintf(name, sizeof(name), "race%d_%d{1", (int)getppid(), i);
			struct nmk_port *p = nmk_port_open(name, err);
			int pid = p ? (int)tu_broker_pid() : -1;
			if (write(pipes[i][1], &pid, sizeof(pid)) != sizeof(pid))
				_exit(2);
			/* Hold the port until the parent has read everything. */
			char c;
			if (read(go[i][0], &c, 1) < 0)
				_exit(3);
			nmk_port_close(p);
			_exit(p ? 0 : 1);
		}
	}
	int first = -1;
	for (int i = 0; i < N; i++) {
		int pid;
		assert_int_equal(read(pipes[i][0], &pid, sizeof(pid)), sizeof(pid));
		assert_true(pid > 0);
		if (first < 0)
			first = pid;
		assert_int_equal(pid, first);
	}
	for (int i = 0; i < N; i++) {
		assert_int_equal(write(go[i][1], "x", 1), 1);
		int st;
		waitpid(kids[i], &st, 0);
		assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
		close(pipes[i][0]);
		close(pipes[i][1]);
		close(go[i][0]);
		close(go[i][1]);
	}
	assert_true(alive(first));
	assert_int_equal(tu_port_registrations("race_never"), 0);
}

static int raw_connect(void)
{
	char err[256];
	int fd = nmk_broker_connect(err, sizeof(err));
	assert_true(fd >= 0);
	return fd;
}

/* Read one reply and return its status. */
static int reply_status(int fd, char *text, size_t len)
{
	char buf[NMK_MSG_MAX];
	int fds[NMK_MSG_MAXFDS];
	unsigned nfds = 0;
	struct nmk_msg_hdr h;

	alarm(5);
	long n = nmk_msg_recv(fd, buf, fds, &nfds, 0);
	alarm(0);
	while (nfds)
		close(fds[--nfds]);
	assert_true(n >= (long)sizeof(h));
	memcpy(&h, buf, sizeof(h));
	if (text)
		snprintf(text, len, "%.*s", (int)(n - (long)sizeof(h)), buf + sizeof(h));
	return h.status;
}

/* Garbage of every shape gets an error reply; the broker survives and
 * serves everyone else. */
static void test_garbage_messages(void **state)
{
	char err[NMK_ERRBUF_SIZE], text[512];
	int fd;

	(void)state;
	struct nmk_port *p = nmk_port_open("garb{1", err);
	assert_non_null(p);
	pid_t broker = tu_broker_pid();

	fd = raw_connect();
	/* Wrong version: the message names it. */
	struct nmk_msg_hdr h = { .magic = NMK_PROTO_MAGIC, .version = 99, .type = NMK_MSG_LIST };
	assert_int_equal(send(fd, &h, sizeof(h), 0), (ssize_t)sizeof(h));
	assert_int_equal(reply_status(fd, text, sizeof(text)), -EPROTO);
	assert_non_null(strstr(text, "version"));
	/* Unknown type. */
	h.version = NMK_PROTO_VERSION;
	h.type = 999;
	assert_int_equal(send(fd, &h, sizeof(h), 0), (ssize_t)sizeof(h));
	assert_int_equal(reply_status(fd, text, sizeof(text)), -EOPNOTSUPP);
	/* A REGISTER with a short body. */
	h.type = NMK_MSG_REGISTER;
	h.len = 4;
	char small[sizeof(h) + 4];
	memcpy(small, &h, sizeof(h));
	assert_int_equal(send(fd, small, sizeof(small), 0), (ssize_t)sizeof(small));
	assert_int_equal(reply_status(fd, text, sizeof(text)), -EINVAL);
	/* Random bytes, random sizes, some with fds attached. */
	srand(1234);
	for (int i = 0; i < 2000; i++) {
		char junk[NMK_MSG_MAX + 64];
		size_t len = (size_t)(rand() % (int)sizeof(junk)) + 1;
		for (size_t j = 0; j < len; j++)
			junk[j] = (char)rand();
		if (i % 3 == 0 && len >= sizeof(h)) /* a valid header, junk body */
			memcpy(junk, &(struct nmk_msg_hdr){ .magic = NMK_PROTO_MAGIC,
				.version = NMK_PROTO_VERSION, .type = (uint16_t)(rand() % 8),
				.len = (uint32_t)(len - sizeof(h)) }, sizeof(h));
		if (i % 7 == 0) {
			int devnull = open("/dev/null", O_RDONLY);
			tu_send_fd(fd, devnull);
			close(devnull);
		}
		ssize_t r = send(fd, junk, len, MSG_NOSIGNAL);
		(void)r;
		/* Drain replies so our socket never fills. */
		char buf[NMK_MSG_MAX];
		while (recv(fd, buf, sizeof(buf), MSG_DONTWAIT) > 0)
			;
	}
	close(fd);
	assert_true(alive(broker));
	/* Still serving: the earlier port works and a new one opens. */
	struct nmk_port *q = nmk_port_open("garb}1", err);
	assert_non_null(q);
	struct netmap_ring *tx = nmk_port_txring(p, 0), *rx = nmk_port_rxring(q, 0);
	tx->slot[tx->head].len = 60;
	tx->head = tx->cur = nm_ring_next(tx, tx->head);
	assert_int_equal(nmk_txsync(p), 0);
	assert_int_equal(nmk_rxsync(q), 0);
	assert_int_equal(nm_ring_space(rx), 1);
	nmk_port_close(p);
	nmk_port_close(q);
	assert_int_equal(tu_broker_pid(), broker);
}

/* SIGTERM: the broker exits at once, removes its socket, and the next
 * client starts a new one.  Mappings survive the broker. */
static void test_sigterm_and_broker_death(void **state)
{
	char err[NMK_ERRBUF_SIZE], sock[300];

	(void)state;
	struct nmk_port *tx = nmk_port_open("term{1", err), *rx = nmk_port_open("term}1", err);
	assert_non_null(tx);
	assert_non_null(rx);
	pid_t broker = tu_broker_pid();
	assert_true(alive(broker));
	assert_int_equal(kill(broker, SIGTERM), 0);
	for (int i = 0; i < 200 && alive(broker); i++)
		usleep(10000);
	assert_false(alive(broker));
	assert_int_equal(nmk_rundir_path("nmkitd.sock", sock, sizeof(sock)), 0);
	struct stat st;
	assert_int_equal(stat(sock, &st), -1);

	/* The data path does not need the broker. */
	struct netmap_ring *t = nmk_port_txring(tx, 0), *r = nmk_port_rxring(rx, 0);
	for (int i = 0; i < 100; i++) {
		tu_fill(NETMAP_BUF(t, t->slot[t->head].buf_idx), 60, (uint64_t)i);
		t->slot[t->head].len = 60;
		t->head = t->cur = nm_ring_next(t, t->head);
	}
	assert_int_equal(nmk_txsync(tx), 0);
	assert_int_equal(nmk_rxsync(rx), 0);
	assert_int_equal(nm_ring_space(r), 100);
	for (int i = 0; i < 100; i++) {
		struct netmap_slot *s = &r->slot[(r->head + (uint32_t)i) % r->num_slots];
		assert_int_equal(tu_check(NETMAP_BUF(r, s->buf_idx), s->len, (uint64_t)i), 0);
	}
	/* poll reports the hang-up instead of sleeping forever. */
	r->head = r->cur = r->tail;
	assert_int_equal(nmk_port_poll(rx, POLLIN, 2000) & POLLHUP, POLLHUP);
	nmk_port_close(tx);
	nmk_port_close(rx);

	/* A new client starts a new broker. */
	struct nmk_port *p = nmk_port_open("term2{1", err);
	assert_non_null(p);
	pid_t again = tu_broker_pid();
	assert_true(alive(again));
	assert_int_not_equal(again, broker);
	nmk_port_close(p);

	/* SIGKILL, too: clients keep their mappings; new opens get a new broker. */
	p = nmk_port_open("term3{1", err);
	assert_non_null(p);
	assert_int_equal(kill(again, SIGKILL), 0);
	for (int i = 0; i < 200 && alive(again); i++)
		usleep(10000);
	struct netmap_ring *t3 = nmk_port_txring(p, 0);
	t3->slot[0].len = 60;   /* still mapped */
	nmk_port_close(p);
	p = nmk_port_open("term4{1", err);
	assert_non_null(p);
	nmk_port_close(p);
}

/* nmkitd -f stays in the foreground and logs to stderr. */
static void test_foreground_logs(void **state)
{
	int errpipe[2];
	char dir[] = "/tmp/nmkit-test-fg-XXXXXX";

	(void)state;
	assert_non_null(mkdtemp(dir));
	assert_int_equal(pipe(errpipe), 0);
	pid_t pid = fork();
	if (pid == 0) {
		setenv("NMKIT_RUNDIR", dir, 1);
		dup2(errpipe[1], 2);
		close(errpipe[0]);
		execl(getenv("NMKIT_BROKER"), "nmkitd", "-f", "-v", (char *)NULL);
		_exit(127);
	}
	close(errpipe[1]);
	char saved[300];
	snprintf(saved, sizeof(saved), "%s", getenv("NMKIT_RUNDIR"));
	setenv("NMKIT_RUNDIR", dir, 1);
	/* Wait for it to listen, then use it. */
	struct nmk_port *p = NULL;
	char err[NMK_ERRBUF_SIZE];
	for (int i = 0; i < 300 && p == NULL; i++) {
		char sock[300];
		struct stat st;
		snprintf(sock, sizeof(sock), "%s/nmkitd.sock", dir);
		if (stat(sock, &st) == 0)
			p = nmk_port_open("fg{1", err);
		else
			usleep(10000);
	}
	assert_non_null(p);
	nmk_port_close(p);
	usleep(100000);
	kill(pid, SIGTERM);
	int st;
	waitpid(pid, &st, 0);
	assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	char log[8192];
	ssize_t n, total = 0;
	while ((n = read(errpipe[0], log + total, sizeof(log) - 1 - (size_t)total)) > 0)
		total += n;
	log[total] = '\0';
	close(errpipe[0]);
	assert_non_null(strstr(log, "ready"));
	assert_non_null(strstr(log, "registered fg{1"));
	assert_non_null(strstr(log, "released fg{1"));
	assert_non_null(strstr(log, "stopped"));
	setenv("NMKIT_RUNDIR", saved, 1);
	char path[300];
	const char *files[] = { "nmkitd.pid", "nmkitd.lock", "nmkitd.sock" };
	for (int i = 0; i < 3; i++) {
		snprintf(path, sizeof(path), "%s/%s", dir, files[i]);
		unlink(path);
	}
	rmdir(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_race_starts_one_broker, setup, teardown),
		cmocka_unit_test_setup_teardown(test_garbage_messages, setup, teardown),
		cmocka_unit_test_setup_teardown(test_sigterm_and_broker_death, setup, teardown),
		cmocka_unit_test_setup_teardown(test_foreground_logs, setup, teardown),
	};
	signal(SIGPIPE, SIG_IGN);
	return cmocka_run_group_tests_name("broker", tests, NULL, NULL);
}
