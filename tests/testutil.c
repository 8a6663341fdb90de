/*
 * testutil.c - shared helpers for the multi-process tests.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "client.h"
#include "proto.h"
#include "testutil.h"

static char rundir[256];

int tu_setup(const char *test_name)
{
	const char *broker = getenv("NMKIT_BROKER");
	char tmpl[256];

	if (broker == NULL || access(broker, X_OK) != 0) {
		fprintf(stderr, "%s: NMKIT_BROKER must name the nmkitd binary (got %s)\n",
			test_name, broker ? broker : "nothing");
		return -1;
	}
	snprintf(tmpl, sizeof(tmpl), "/tmp/nmkit-test-%s-XXXXXX", test_name);
	if (mkdtemp(tmpl) == NULL) {
		perror("mkdtemp");
		return -1;
	}
	/* Other uids (test_uid) must reach the broker socket. */
	chmod(tmpl, 0755);
	snprintf(rundir, sizeof(rundir), "%s", tmpl);
	setenv("NMKIT_RUNDIR", rundir, 1);
	return 0;
}

pid_t tu_broker_pid(void)
{
	char path[300];
	FILE *f;
	int pid = -1;

	snprintf(path, sizeof(path), "%s/nmkitd.pid", rundir);
	f = fopen(path, "r");
	if (f == NULL)
		return -1;
	if (fscanf(f, "%d", &pid) != 1)
		pid = -1;
	fclose(f);
	return pid;
}

/* Alive and not a zombie: the broker is double-forked, so whoever reaps
 * it (init) may take its time, and kill(pid, 0) succeeds on a zombie. */
bool tu_alive(pid_t pid)
{
	char path[64], buf[256];
	FILE *f;

	if (pid <= 0 || kill(pid, 0) != 0)
		return false;
	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	f = fopen(path, "r");
	if (f == NULL)
		return true;
	size_t n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	const char *rp = strrchr(buf, ')');
	return !(rp && rp[1] == ' ' && (rp[2] == 'Z' || rp[2] == 'X'));
}

void tu_teardown(void)
{
	pid_t pid = tu_broker_pid();
	char path[300];

	if (pid > 0 && kill(pid, SIGTERM) == 0) {
		for (int i = 0; i < 200 && tu_alive(pid); i++)
			usleep(10000);
	}
	const char *files[] = { "nmkitd.pid", "nmkitd.lock", "nmkitd.sock" };
	for (unsigned i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
		snprintf(path, sizeof(path), "%s/%s", rundir, files[i]);
		unlink(path);
	}
	rmdir(rundir);
}

int tu_port_registrations(const char *name)
{
	char err[256];
	int fd = nmk_broker_connect(err, sizeof(err));
	int found = 0;

	if (fd < 0)
		return -1;
	for (uint32_t i = 0;; i++) {
		struct nmk_msg_list l = { .index = i };
		uint32_t rlen = sizeof(l);
		int r = nmk_request(fd, NMK_MSG_LIST, &l, sizeof(l), &l, &rlen, NULL, NULL, err,
				    sizeof(err));
		if (r == -ENOENT)
			break;
		if (r < 0) {
			close(fd);
			return -1;
		}
		if (strcmp(l.name, name) == 0 && l.nbindings > 0)
			found += (int)l.nbindings;
	}
	close(fd);
	return found;
}

void tu_unique(char *buf, size_t len, const char *prefix)
{
	snprintf(buf, len, "%s%d", prefix, (int)getpid());
}

double tu_now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static uint8_t pattern(uint64_t seq, uint32_t i)
{
	return (uint8_t)((seq * 31u + i * 7u) ^ (seq >> 8));
}

void tu_fill(void *buf, uint32_t len, uint64_t seq)
{
	uint8_t *b = buf;
	for (uint32_t i = 0; i < len; i++)
		b[i] = pattern(seq, i);
	if (len >= 8)
		memcpy(b, &seq, 8);
}

int tu_check(const void *buf, uint32_t len, uint64_t seq)
{
	const uint8_t *b = buf;
	uint64_t got;

	if (len >= 8) {
		memcpy(&got, b, 8);
		if (got != seq)
			return -1;
	}
	for (uint32_t i = len >= 8 ? 8 : 0; i < len; i++)
		if (b[i] != pattern(seq, i))
			return -1;
	return 0;
}

int tu_send_fd(int sock, int fd)
{
	char c = 'F';
	struct iovec iov = { .iov_base = &c, .iov_len = 1 };
	union {
		char buf[CMSG_SPACE(sizeof(int))];
		struct cmsghdr align;
	} cm;
	struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1,
			      .msg_control = cm.buf, .msg_controllen = sizeof(cm.buf) };
	struct cmsghdr *h = CMSG_FIRSTHDR(&msg);

	h->cmsg_level = SOL_SOCKET;
	h->cmsg_type = SCM_RIGHTS;
	h->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(h), &fd, sizeof(int));
	return sendmsg(sock, &msg, 0) == 1 ? 0 : -1;
}

int tu_recv_fd(int sock)
{
	char c;
	struct iovec iov = { .iov_base = &c, .iov_len = 1 };
	union {
		char buf[CMSG_SPACE(sizeof(int))];
		struct cmsghdr align;
	} cm;
	struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1,
			      .msg_control = cm.buf, .msg_controllen = sizeof(cm.buf) };
	int fd = -1;

	if (recvmsg(sock, &msg, 0) != 1)
		return -1;
	struct cmsghdr *h = CMSG_FIRSTHDR(&msg);
	if (h && h->cmsg_type == SCM_RIGHTS)
		memcpy(&fd, CMSG_DATA(h), sizeof(int));
	return fd;
}
