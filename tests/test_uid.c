/*
 * test_uid.c - ports belong to the user who created them: a second uid
 * cannot open a pipe of the first (EACCES, with a message naming the
 * owner), root may open anything, and any uid can create pipes of its own
 * (DESIGN.md, "the peer's credentials decide what it may open").
 *
 * It needs root (to become other uids); CI runs as root.  Root starts the
 * broker first and keeps a connection to it, so that the unprivileged
 * children never have to start one in root's runtime directory.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif
#ifndef _GNU_SOURCE
#define _GNU_SOURCE     /* setgroups */
#endif

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <grp.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <nmkit/nmkit.h>
#include <nmkit/compat/net/netmap_user.h>

#include "client.h"
#include "proto.h"
#include "testutil.h"

#define OWNER_UID  65534        /* nobody */
#define OTHER_UID  65533

static int keeper = -1;         /* root's connection: keeps the broker up */
static pid_t children[4];

/* ---- helpers ------------------------------------------------------------ */

static void put(int fd, char c)
{
	ssize_t n;

	do
		n = write(fd, &c, 1);
	while (n < 0 && errno == EINTR);
}

static int get(int fd, int ms)
{
	struct pollfd pfd = { .fd = fd, .events = POLLIN };
	char c;

	if (poll(&pfd, 1, ms) <= 0)
		return -1;
	return read(fd, &c, 1) == 1 ? c : -1;
}

/* Fork a child that runs fn(sock) as uid/gid `uid`. */
static pid_t spawn_as(uid_t uid, int (*fn)(int), int sock)
{
	pid_t pid = fork();

	assert_true(pid >= 0);
	if (pid == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		alarm(20);
		if (keeper >= 0)
			close(keeper);
		if (setgroups(0, NULL) < 0 || setgid(uid) < 0 || setuid(uid) < 0) {
			fprintf(stderr, "cannot become uid %u: %s\n", (unsigned)uid, strerror(errno));
			_exit(90);
		}
		if (geteuid() != uid || getuid() != uid) {
			fprintf(stderr, "still uid %u after setuid(%u)\n", (unsigned)geteuid(),
				(unsigned)uid);
			_exit(91);
		}
		_exit(fn(sock));
	}
	for (unsigned i = 0; i < 4; i++) {
		if (children[i] == 0) {
			children[i] = pid;
			break;
		}
	}
	return pid;
}

static int reap(pid_t pid, int secs)
{
	int status = 0;

	for (int i = 0; i < secs * 500; i++) {
		pid_t r = waitpid(pid, &status, WNOHANG);
		if (r == pid)
			goto done;
		usleep(2000);
	}
	kill(pid, SIGKILL);
	waitpid(pid, &status, 0);
	fprintf(stderr, "child %d did not exit within %d s: killed\n", (int)pid, secs);
	status = -1;
done:
	for (unsigned i = 0; i < 4; i++)
		if (children[i] == pid)
			children[i] = 0;
	if (status == -1)
		return -1;
	if (WIFSIGNALED(status)) {
		fprintf(stderr, "child %d died of signal %d\n", (int)pid, WTERMSIG(status));
		return -1;
	}
	return WEXITSTATUS(status);
}

static int teardown_children(void **state)
{
	(void)state;
	for (unsigned i = 0; i < 4; i++) {
		if (children[i] > 0) {
			kill(children[i], SIGKILL);
			waitpid(children[i], NULL, 0);
			children[i] = 0;
		}
	}
	return 0;
}

/* The owner uid of `name` as the broker lists it, or -1. */
static long port_owner(const char *name)
{
	char err[256];
	long owner = -1;

	for (uint32_t i = 0;; i++) {
		struct nmk_msg_list l = { .index = i };
		uint32_t rlen = sizeof(l);
		if (nmk_request(keeper, NMK_MSG_LIST, &l, sizeof(l), &l, &rlen, NULL, NULL, err,
				sizeof(err)) < 0)
			break;
		if (strcmp(l.name, name) == 0)
			owner = l.owner_uid;
	}
	return owner;
}

static bool registrations_become(const char *name, int want, double secs)
{
	double end = tu_now() + secs;
	int n;

	while ((n = tu_port_registrations(name)) != want) {
		if (tu_now() > end) {
			fprintf(stderr, "%s: %d registrations, expected %d\n", name, n, want);
			return false;
		}
		usleep(2000);
	}
	return true;
}

/* Send one single-slot frame with contents derived from seq. */
static int send_one(struct nmk_port *p, uint64_t seq)
{
	struct netmap_ring *r = nmk_port_txring(p, 0);

	if (nm_ring_space(r) == 0)
		return -1;
	struct netmap_slot *s = &r->slot[r->head];
	tu_fill(NETMAP_BUF(r, s->buf_idx), 200, seq);
	s->len = 200;
	s->flags = 0;
	r->head = r->cur = nm_ring_next(r, r->head);
	return nmk_txsync(p);
}

/* Wait (poll, 5 s) for one frame and check it. */
static int recv_one(struct nmk_port *p, uint64_t seq)
{
	struct netmap_ring *r = nmk_port_rxring(p, 0);

	/* The peer of another uid must be able to wake us: sleep in poll. */
	if (nm_ring_empty(r) && nmk_port_poll(p, POLLIN, 5000) <= 0) {
		fprintf(stderr, "%s: no frame within 5 s\n", nmk_port_info(p)->name);
		return -1;
	}
	if (nm_ring_empty(r))
		return -1;
	struct netmap_slot *s = &r->slot[r->head];
	if (s->len != 200 || tu_check(NETMAP_BUF(r, s->buf_idx), 200, seq) != 0) {
		fprintf(stderr, "%s: frame %llu is wrong\n", nmk_port_info(p)->name,
			(unsigned long long)seq);
		return -1;
	}
	r->head = r->cur = nm_ring_next(r, r->head);
	return nmk_rxsync(p);
}

/* ---- the children ------------------------------------------------------- */

/* uid OWNER_UID: create the pipe "uN" by opening its master end, hold it,
 * and exchange a frame with root, who opens the other end. */
static int owner_child(int sock)
{
	char err[NMK_ERRBUF_SIZE];
	struct nmk_port *p = nmk_port_open("uN{1", err);

	if (p == NULL) {
		fprintf(stderr, "uid %u: %s\n", (unsigned)getuid(), err);
		put(sock, 'E');
		return 10;
	}
	put(sock, 'O');
	if (get(sock, 10000) != 'R')            /* root opened uN}1 */
		return 11;
	if (recv_one(p, 1) < 0)
		return 12;
	if (send_one(p, 2) < 0)
		return 13;
	if (get(sock, 10000) != 'X')
		return 14;
	nmk_port_close(p);
	return 0;
}

/* Expect opening `name` to be refused with EACCES, the message naming the
 * owner. */
static int expect_eacces(const char *name)
{
	char err[NMK_ERRBUF_SIZE] = "";
	char owner[32];

	errno = 0;
	struct nmk_port *p = nmk_port_open(name, err);
	if (p != NULL) {
		fprintf(stderr, "uid %u could open %s, owned by uid %u\n", (unsigned)getuid(), name,
			OWNER_UID);
		nmk_port_close(p);
		return -1;
	}
	snprintf(owner, sizeof(owner), "%u", OWNER_UID);
	if (errno != EACCES || strstr(err, owner) == NULL || strstr(err, "uid") == NULL) {
		fprintf(stderr, "uid %u opening %s: errno %d (%s), message \"%s\"; expected EACCES "
			"naming uid %u\n", (unsigned)getuid(), name, errno, strerror(errno), err,
			OWNER_UID);
		return -1;
	}
	printf("# uid %u refused %s: %s\n", (unsigned)getuid(), name, err);
	fflush(stdout);
	return 0;
}

/* uid OTHER_UID: may not touch the pipes of "uN" (either end of the open
 * pair, nor a new pair of the same parent), may create its own. */
static int other_child(int sock)
{
	char err[NMK_ERRBUF_SIZE];

	if (expect_eacces("uN}1") < 0)
		return 20;
	if (expect_eacces("uN{1") < 0)
		return 21;
	if (expect_eacces("uN{2") < 0)
		return 22;
	struct nmk_port *v = nmk_port_open("vN{1", err);
	if (v == NULL) {
		fprintf(stderr, "uid %u: %s\n", (unsigned)getuid(), err);
		return 23;
	}
	put(sock, 'V');                         /* parent checks owner, count */
	if (get(sock, 10000) != 'X')
		return 24;
	nmk_port_close(v);
	return 0;
}

/* ---- the test ----------------------------------------------------------- */

static void test_other_uid(void **state)
{
	char err[NMK_ERRBUF_SIZE];
	int s1[2], s2[2];

	(void)state;
	assert_int_equal(socketpair(AF_UNIX, SOCK_SEQPACKET, 0, s1), 0);
	assert_int_equal(socketpair(AF_UNIX, SOCK_SEQPACKET, 0, s2), 0);

	/* The owner creates the pipe. */
	pid_t owner = spawn_as(OWNER_UID, owner_child, s1[1]);
	close(s1[1]);
	assert_int_equal(get(s1[0], 10000), 'O');
	assert_int_equal(tu_port_registrations("uN{1"), 1);
	assert_int_equal(port_owner("uN{1"), OWNER_UID);
	assert_int_equal(port_owner("uN}1"), OWNER_UID);

	/* Another uid is refused, and creates a pipe of its own. */
	pid_t other = spawn_as(OTHER_UID, other_child, s2[1]);
	close(s2[1]);
	assert_int_equal(get(s2[0], 10000), 'V');
	assert_int_equal(tu_port_registrations("vN{1"), 1);
	assert_int_equal(port_owner("vN{1"), OTHER_UID);
	/* Its refused attempts left nothing behind. */
	assert_int_equal(tu_port_registrations("uN}1"), 0);
	assert_int_equal(port_owner("uN{2"), -1);
	put(s2[0], 'X');
	assert_int_equal(reap(other, 10), 0);
	assert_true(registrations_become("vN{1", 0, 1.0));

	/* Root may open anything, and the two uids wake each other. */
	struct nmk_port *p = nmk_port_open("uN}1", err);
	if (p == NULL)
		fail_msg("root: %s", err);
	assert_int_equal(tu_port_registrations("uN}1"), 1);
	put(s1[0], 'R');
	assert_int_equal(send_one(p, 1), 0);
	assert_int_equal(recv_one(p, 2), 0);
	put(s1[0], 'X');
	assert_int_equal(reap(owner, 10), 0);
	assert_true(registrations_become("uN{1", 0, 1.0));
	nmk_port_close(p);
	assert_true(registrations_become("uN}1", 0, 1.0));
	close(s1[0]);
	close(s2[0]);
}

/* ---- main --------------------------------------------------------------- */

static int group_setup(void **state)
{
	char err[256], path[300], dir[256];
	struct stat st;

	(void)state;
	if (tu_setup("uid") < 0)
		return -1;
	/* Start the broker as root and keep it up (it exits after 10 idle
	 * seconds): the children must not start one themselves. */
	keeper = nmk_broker_connect(err, sizeof(err));
	if (keeper < 0) {
		fprintf(stderr, "uid: %s\n", err);
		return -1;
	}
	/* The other uids must reach the socket. */
	if (nmk_rundir(dir, sizeof(dir)) < 0 || stat(dir, &st) < 0 || (st.st_mode & 0005) != 0005 ||
	    nmk_rundir_path("nmkitd.sock", path, sizeof(path)) < 0 || stat(path, &st) < 0 ||
	    (st.st_mode & 0006) != 0006) {
		fprintf(stderr, "uid: the runtime directory or socket is not open to other users\n");
		return -1;
	}
	return 0;
}

static int group_teardown(void **state)
{
	(void)state;
	if (keeper >= 0)
		close(keeper);
	tu_teardown();
	return 0;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_teardown(test_other_uid, teardown_children),
	};

	if (geteuid() != 0) {
		const char *out = getenv("CMOCKA_MESSAGE_OUTPUT");
		fprintf(stderr, "test_uid: skipped: needs root to become other uids (euid %u)\n",
			(unsigned)geteuid());
		/* automake's TAP driver counts a skip plan as SKIP but any
		 * non-zero exit, 77 included, as ERROR; elsewhere 77 is the
		 * convention for "skipped". */
		if (out && strcasecmp(out, "TAP") == 0) {
			printf("1..0 # SKIP test_uid must run as root to become other uids\n");
			return 0;
		}
		return 77;
	}
	alarm(50);
	signal(SIGPIPE, SIG_IGN);
	setvbuf(stdout, NULL, _IOLBF, 0);
	return cmocka_run_group_tests_name("uid", tests, group_setup, group_teardown);
}
