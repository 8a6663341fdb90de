/*
 * client.c - finding the broker, starting it, and talking to it.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "client.h"
#include "nm_os.h"
#include "proto.h"

#ifndef NMKIT_BROKER_PATH
#define NMKIT_BROKER_PATH "/usr/sbin/nmkitd"
#endif

int nmk_rundir(char *buf, size_t len)
{
	const char *env = getenv("NMKIT_RUNDIR");
	int n;

	if (env && *env)
		n = snprintf(buf, len, "%s", env);
	else if (geteuid() == 0)
		n = snprintf(buf, len, "/run/nmkit");
	else if ((env = getenv("XDG_RUNTIME_DIR")) && *env)
		n = snprintf(buf, len, "%s/nmkit", env);
	else
		n = snprintf(buf, len, "/tmp/nmkit-%u", (unsigned)geteuid());
	return n < 0 || (size_t)n >= len ? -ENAMETOOLONG : 0;
}

int nmk_rundir_path(const char *file, char *buf, size_t len)
{
	char dir[200];
	int n;

	if (nmk_rundir(dir, sizeof(dir)) < 0)
		return -ENAMETOOLONG;
	n = snprintf(buf, len, "%s/%s", dir, file);
	return n < 0 || (size_t)n >= len ? -ENAMETOOLONG : 0;
}

int nmk_rundir_create(char *err, size_t errlen)
{
	char dir[200];

	if (nmk_rundir(dir, sizeof(dir)) < 0) {
		snprintf(err, errlen, "runtime directory path too long");
		return -ENAMETOOLONG;
	}
	if (mkdir(dir, geteuid() == 0 ? 0755 : 0700) < 0 && errno != EEXIST) {
		int e = errno;
		snprintf(err, errlen, "cannot create runtime directory %s: %s", dir, strerror(e));
		return -e;
	}
	return 0;
}

static int try_connect(char *err, size_t errlen)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd;

	if (nmk_rundir_path("nmkitd.sock", sa.sun_path, sizeof(sa.sun_path)) < 0) {
		snprintf(err, errlen, "runtime directory path too long for a socket");
		return -ENAMETOOLONG;
	}
	fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		snprintf(err, errlen, "socket: %s", strerror(errno));
		return -errno;
	}
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		int e = errno;
		snprintf(err, errlen, "cannot reach nmkitd at %s: %s", sa.sun_path, strerror(e));
		close(fd);
		return -e;
	}
	return fd;
}

/* Start the broker, detached from us (double fork, new session), and reap
 * the intermediate child so that no zombie is left. */
static int spawn_broker(char *err, size_t errlen)
{
	const char *path = getenv("NMKIT_BROKER");
	pid_t pid;
	int status;

	if (path == NULL || *path == '\0')
		path = NMKIT_BROKER_PATH;
	if (access(path, X_OK) < 0) {
		int e = errno;
		snprintf(err, errlen, "cannot start the broker %s: %s (set NMKIT_BROKER)",
			 path, strerror(e));
		return -e;
	}
	pid = fork();
	if (pid < 0) {
		snprintf(err, errlen, "cannot start the broker: fork: %s", strerror(errno));
		return -errno;
	}
	if (pid == 0) {
		setsid();
		if (fork() != 0)
			_exit(0);
		int null = open("/dev/null", O_RDWR);
		if (null >= 0) {
			dup2(null, 0);
			dup2(null, 1);
			dup2(null, 2);
		}
		/* Do not hand the broker our descriptors. */
		for (int fd = 3; fd < 1024; fd++)
			close(fd);
		execl(path, "nmkitd", "--auto", (char *)NULL);
		_exit(127);
	}
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	return 0;
}

int nmk_broker_connect(char *err, size_t errlen)
{
	char lock_path[256];
	int fd, lock;

	fd = try_connect(err, errlen);
	if (fd >= 0 || (fd != -ENOENT && fd != -ECONNREFUSED))
		return fd;

	/* Nobody answers: start one broker, holding the start lock so that
	 * racing clients wait for it instead of starting their own. */
	if (nmk_rundir_create(err, errlen) < 0)
		return -EACCES;
	if (nmk_rundir_path("nmkitd.lock", lock_path, sizeof(lock_path)) < 0) {
		snprintf(err, errlen, "runtime directory path too long");
		return -ENAMETOOLONG;
	}
	lock = open(lock_path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
	if (lock < 0) {
		int e = errno;
		snprintf(err, errlen, "cannot open %s: %s", lock_path, strerror(e));
		return -e;
	}
	while (flock(lock, LOCK_EX) < 0 && errno == EINTR)
		;
	fd = try_connect(err, errlen);
	if (fd < 0) {
		int ret = spawn_broker(err, errlen);
		if (ret < 0) {
			close(lock);
			return ret;
		}
		/* Wait up to 5 s for it to listen. */
		for (int i = 0; i < 500; i++) {
			fd = try_connect(err, errlen);
			if (fd >= 0)
				break;
			struct timespec ts = { 0, 10 * 1000 * 1000 };
			nanosleep(&ts, NULL);
		}
	}
	close(lock);
	return fd;
}

#define NMK_REPLY_TIMEOUT_MS 10000

static uint32_t request_seq;

int nmk_request(int fd, uint16_t type, const void *body, uint32_t len,
		void *reply, uint32_t *rlen, int *fds, unsigned *nfds,
		char *err, size_t errlen)
{
	char buf[NMK_MSG_MAX];
	int got[NMK_MSG_MAXFDS];
	unsigned ngot = 0;
	uint32_t seq = __atomic_add_fetch(&request_seq, 1, __ATOMIC_RELAXED);
	struct nmk_msg_hdr h;
	int ret;

	if (nfds)
		*nfds = 0;
	ret = nmk_msg_send(fd, type, seq, 0, body, len, NULL, 0);
	if (ret < 0) {
		snprintf(err, errlen, "cannot reach nmkitd: %s", strerror(-ret));
		return ret;
	}
	for (;;) {
		/* The broker answers at once; a peer that does not (a socket
		 * that is not nmkitd, a broker stopped by a debugger) must not
		 * hang the caller forever. */
		struct pollfd pfd = { .fd = fd, .events = POLLIN };
		int pr;
		do
			pr = poll(&pfd, 1, NMK_REPLY_TIMEOUT_MS);
		while (pr < 0 && errno == EINTR);
		if (pr == 0) {
			snprintf(err, errlen, "nmkitd did not answer within %d s",
				 NMK_REPLY_TIMEOUT_MS / 1000);
			return -ETIMEDOUT;
		}
		long n = nmk_msg_recv(fd, buf, got, &ngot, 0);
		if (n == 0) {
			snprintf(err, errlen, "nmkitd closed the connection");
			return -ECONNRESET;
		}
		if (n < 0) {
			snprintf(err, errlen, "reading from nmkitd: %s", strerror((int)-n));
			return (int)n;
		}
		if (n == 1 && buf[0] == NMK_WAKE_BYTE)
			continue;       /* a wake-up, not our reply */
		if (nmk_msg_check(buf, n, err, errlen) < 0) {
			while (ngot)
				close(got[--ngot]);
			return -EPROTO;
		}
		memcpy(&h, buf, sizeof(h));
		if (h.seq != seq || h.type != type) {
			/* A reply to a request another process made on a shared
			 * fd, or a stale one: not ours. */
			while (ngot)
				close(got[--ngot]);
			continue;
		}
		break;
	}
	if (h.status < 0) {
		snprintf(err, errlen, "%.*s", (int)(h.len ? h.len : 1) - 1, buf + sizeof(h));
		while (ngot)
			close(got[--ngot]);
		return h.status;
	}
	if (rlen) {
		uint32_t n = h.len < *rlen ? h.len : *rlen;
		memcpy(reply, buf + sizeof(h), n);
		*rlen = n;
	}
	for (unsigned i = 0; i < ngot; i++) {
		if (fds && nfds)
			fds[(*nfds)++] = got[i];
		else
			close(got[i]);
	}
	return 0;
}
