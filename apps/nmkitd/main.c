/*
 * nmkitd - the nmkit broker: the control plane that the netmap kernel
 * module provides elsewhere.  It owns every region, port and switch, and
 * hands clients the memory objects they map; packets never pass through it.
 *
 *   nmkitd [-f] [-v] [--idle-exit SECONDS]
 *
 * -f stays in the foreground and logs to stderr; otherwise nmkitd detaches
 * and logs to syslog.  The library starts it with --auto (already detached,
 * exits after 10 idle seconds).  SIGTERM and SIGINT shut it down cleanly.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <syslog.h>
#include <unistd.h>

#include "attach.h"
#include "broker.h"
#include "client.h"
#include "vale.h"

static const struct broker_config default_config = {
	.pipe_region = {
		.if_num = 512, .if_size = 4224,
		.ring_num = 512, .ring_size = 256 + 16 * NMK_MAX_SLOTS,
		.buf_num = 163840, .buf_size = 2048,
	},
	.pipe_region_ports = 256,
	.max_pipes = 64,
	.vale_switches = 8,
	.vale_ports = 254,
	.vale_table = 1024,
	.vale_age = 300,
	.vale_region = {
		.if_size = 1024,
		.ring_size = 256 + 16 * NMK_MAX_SLOTS,
		.buf_size = 2048,
	},
};

/* What the signal handler may touch: a flag, and the fd that wakes the
 * main loop. */
static volatile sig_atomic_t stop_requested;
static int signal_notify_fd = -1;

void blog(const struct broker *b, int prio, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	if (b->cfg.foreground) {
		fprintf(stderr, "nmkitd[%d]: ", (int)getpid());
		vfprintf(stderr, fmt, ap);
		fputc('\n', stderr);
	} else {
		vsyslog(prio, fmt, ap);
	}
	va_end(ap);
}

static void on_signal(int sig)
{
	(void)sig;
	stop_requested = 1;
	nm_os_notify_signal(signal_notify_fd);
}

static void usage(FILE *f)
{
	fprintf(f, "usage: nmkitd [-f] [-v] [--idle-exit SECONDS]\n"
		   "  -f                 stay in the foreground, log to stderr\n"
		   "  -v                 log every registration and release\n"
		   "  --idle-exit SECS   exit after SECS seconds without clients\n"
		   "  --auto             started by the library (implies --idle-exit 10)\n"
		   "  --buf-size BYTES   buffer size of new regions (64..65536, default 2048)\n"
		   "  --pipe-buffers N   buffers in the region of each pipe parent (default 163840)\n"
		   "  --pipe-rings N     rings in the region of each pipe parent (default 512)\n"
		   "  --max-pipes N      pipes per parent (default 64, as netmap)\n"
		   "  --vale-switches N  VALE switches (default 8, as netmap)\n"
		   "  --vale-ports N     ports per switch (default 254, as netmap)\n"
		   "  --vale-table N     learning table entries, a power of two (default 1024)\n"
		   "  --vale-age SECS    learning table entry lifetime (default 300, 0 = forever)\n"
		   "  --vale-buffers N   buffers per switch region (default 2048 per port)\n"
		   "  --vale-rings N     rings per switch region (default 2 per port + 64)\n"
		   "The runtime directory is $NMKIT_RUNDIR, else /run/nmkit for root,\n"
		   "else $XDG_RUNTIME_DIR/nmkit.\n");
}

static int parse_uint(const char *opt, const char *arg, unsigned min, unsigned max, unsigned *out)
{
	char *end;
	unsigned long v;

	errno = 0;
	v = strtoul(arg, &end, 10);
	if (errno || *end || end == arg || v < min || v > max) {
		fprintf(stderr, "nmkitd: %s: '%s' is not a number in [%u, %u]\n", opt, arg, min, max);
		return -1;
	}
	*out = (unsigned)v;
	return 0;
}

/* Take the life lock: only one broker per runtime directory. */
static int take_life_lock(const struct broker *b)
{
	char path[256];
	int fd;

	if (nmk_rundir_path("nmkitd.pid", path, sizeof(path)) < 0)
		return -ENAMETOOLONG;
	fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
	if (fd < 0)
		return -errno;
	if (flock(fd, LOCK_EX | LOCK_NB) < 0) {
		int e = errno;
		close(fd);
		return e == EWOULDBLOCK ? -EEXIST : -e;
	}
	char pid[32];
	int n = snprintf(pid, sizeof(pid), "%d\n", (int)getpid());
	if (ftruncate(fd, 0) < 0 || write(fd, pid, (size_t)n) != n)
		blog(b, LOG_WARNING, "cannot write %s: %s", path, strerror(errno));
	return fd;              /* kept open (and locked) for our life */
}

static int listen_socket(char *err, size_t errlen)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd;

	if (nmk_rundir_path("nmkitd.sock", sa.sun_path, sizeof(sa.sun_path)) < 0) {
		snprintf(err, errlen, "runtime directory path too long for a socket");
		return -ENAMETOOLONG;
	}
	fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0) {
		snprintf(err, errlen, "socket: %s", strerror(errno));
		return -errno;
	}
	/* We hold the life lock, so a socket file left here is stale. */
	unlink(sa.sun_path);
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(fd, 128) < 0) {
		int e = errno;
		snprintf(err, errlen, "%s: %s", sa.sun_path, strerror(e));
		close(fd);
		return -e;
	}
	/* Anyone may connect; what they may open is decided by credentials. */
	chmod(sa.sun_path, 0666);
	return fd;
}

static void daemonize(void)
{
	pid_t pid = fork();

	if (pid < 0) {
		perror("nmkitd: fork");
		exit(1);
	}
	if (pid > 0)
		_exit(0);
	setsid();
	pid = fork();
	if (pid > 0)
		_exit(0);
	int null = open("/dev/null", O_RDWR);
	if (null >= 0) {
		dup2(null, 0);
		dup2(null, 1);
		dup2(null, 2);
		if (null > 2)
			close(null);
	}
}

static void serve(struct broker *b, int lfd)
{
	struct pollfd *pfds = NULL;
	struct conn **owners = NULL;
	size_t cap = 0;
	uint64_t idle_since = nm_os_now_ns(), next_audit = 0;

	while (!stop_requested) {
		size_t n = 2 + b->nconns;
		if (n > cap) {
			cap = n * 2;
			pfds = realloc(pfds, cap * sizeof(*pfds));
			owners = realloc(owners, cap * sizeof(*owners));
			if (!pfds || !owners) {
				blog(b, LOG_ERR, "out of memory");
				return;
			}
		}
		pfds[0] = (struct pollfd){ .fd = lfd, .events = POLLIN };
		pfds[1] = (struct pollfd){ .fd = b->notify_fd, .events = POLLIN };
		size_t i = 2;
		for (struct conn *c = b->conns; c; c = c->next, i++) {
			pfds[i] = (struct pollfd){ .fd = c->fd, .events = POLLIN };
			owners[i] = c;
		}
		bool reaping = broker_reap(b) | vale_reap(b);
		int timeout = reaping ? 10 : b->cfg.idle_exit ? 1000 : -1;
		if (b->ports) {
			uint64_t now = nm_os_now_ns();
			if (now >= next_audit) {
				broker_audit(b);
				next_audit = now + BROKER_AUDIT_MS * 1000000ull;
			}
			if (timeout < 0 || timeout > BROKER_AUDIT_MS)
				timeout = BROKER_AUDIT_MS;
		}
		int r = poll(pfds, i, timeout);
		if (r < 0 && errno != EINTR) {
			blog(b, LOG_ERR, "poll: %s", strerror(errno));
			break;
		}
		if (r > 0 && (pfds[1].revents & POLLIN)) {
			nm_os_notify_drain(b->notify_fd);
			attach_poll(b);
		}
		for (size_t j = 2; r > 0 && j < i; j++) {
			struct conn *c = owners[j];
			short re = pfds[j].revents;
			if (re == 0)
				continue;
			/* Serve what is queued before acting on a hang-up, so
			 * that a request sent just before close is answered. */
			bool keep = true;
			if (re & POLLIN)
				keep = conn_handle(b, c);
			if (!keep || ((re & (POLLHUP | POLLERR | POLLNVAL)) && !(re & POLLIN)))
				conn_close(b, c);
		}
		if (r > 0 && (pfds[0].revents & POLLIN)) {
			for (;;) {
				int cfd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
				if (cfd < 0)
					break;
				if (conn_new(b, cfd) == NULL)
					close(cfd);
			}
		}
		if (b->nconns || broker_has_objects(b))
			idle_since = nm_os_now_ns();
		else if (b->cfg.idle_exit &&
			 nm_os_now_ns() - idle_since > (uint64_t)b->cfg.idle_exit * 1000000000u) {
			blog(b, LOG_INFO, "idle for %u s, exiting", b->cfg.idle_exit);
			break;
		}
	}
	free(pfds);
	free(owners);
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "idle-exit", required_argument, NULL, 'I' },
		{ "auto", no_argument, NULL, 'A' },
		{ "help", no_argument, NULL, 'h' },
		{ "buf-size", required_argument, NULL, 'B' },
		{ "pipe-buffers", required_argument, NULL, 'P' },
		{ "pipe-rings", required_argument, NULL, 'R' },
		{ "max-pipes", required_argument, NULL, 'M' },
		{ "vale-switches", required_argument, NULL, 'S' },
		{ "vale-ports", required_argument, NULL, 'N' },
		{ "vale-table", required_argument, NULL, 'T' },
		{ "vale-age", required_argument, NULL, 'G' },
		{ "vale-buffers", required_argument, NULL, 'U' },
		{ "vale-rings", required_argument, NULL, 'K' },
		{ NULL, 0, NULL, 0 },
	};
	static struct broker broker;
	struct broker *b = &broker;
	struct broker_config *cfg = &b->cfg;
	bool autostart = false;
	char err[300];
	int c;

	*cfg = default_config;
	b->next_mem_id = 2;
	b->notify_fd = -1;

	while ((c = getopt_long(argc, argv, "fvh", opts, NULL)) != -1) {
		switch (c) {
		case 'f':
			cfg->foreground = true;
			break;
		case 'v':
			cfg->verbose = true;
			break;
		case 'I':
			if (parse_uint("--idle-exit", optarg, 0, 86400, &cfg->idle_exit) < 0)
				return 2;
			break;
		case 'B':
			if (parse_uint("--buf-size", optarg, NMK_MIN_BUF_SIZE, NMK_MAX_BUF_SIZE,
				       &cfg->pipe_region.buf_size) < 0)
				return 2;
			break;
		case 'P':
			if (parse_uint("--pipe-buffers", optarg, 4, 16u << 20, &cfg->pipe_region.buf_num) < 0)
				return 2;
			break;
		case 'R':
			if (parse_uint("--pipe-rings", optarg, 2, 65536, &cfg->pipe_region.ring_num) < 0)
				return 2;
			break;
		case 'M':
			if (parse_uint("--max-pipes", optarg, 1, 4096, &cfg->max_pipes) < 0)
				return 2;
			break;
		case 'S':
			if (parse_uint("--vale-switches", optarg, 1, 4096, &cfg->vale_switches) < 0)
				return 2;
			break;
		case 'N':
			if (parse_uint("--vale-ports", optarg, 2, 4096, &cfg->vale_ports) < 0)
				return 2;
			break;
		case 'T':
			if (parse_uint("--vale-table", optarg, 64, 1u << 20, &cfg->vale_table) < 0)
				return 2;
			if (cfg->vale_table & (cfg->vale_table - 1)) {
				fprintf(stderr, "nmkitd: --vale-table: %u is not a power of two\n",
					cfg->vale_table);
				return 2;
			}
			break;
		case 'G':
			if (parse_uint("--vale-age", optarg, 0, 1u << 30, &cfg->vale_age) < 0)
				return 2;
			break;
		case 'U':
			if (parse_uint("--vale-buffers", optarg, 4, 1u << 26, &cfg->vale_region.buf_num) < 0)
				return 2;
			break;
		case 'K':
			if (parse_uint("--vale-rings", optarg, 2, 1u << 20, &cfg->vale_region.ring_num) < 0)
				return 2;
			break;
		case 'A':
			autostart = true;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind != argc) {
		usage(stderr);
		return 2;
	}
	if (autostart && cfg->idle_exit == 0)
		cfg->idle_exit = 10;
	if (!cfg->foreground) {
		openlog("nmkitd", LOG_PID, LOG_DAEMON);
		if (!autostart)
			daemonize();
	}
	signal(SIGPIPE, SIG_IGN);

	if (nmk_rundir_create(err, sizeof(err)) < 0) {
		blog(b, LOG_ERR, "%s", err);
		return 1;
	}
	int lock = take_life_lock(b);
	if (lock == -EEXIST) {
		blog(b, LOG_INFO, "another nmkitd serves this runtime directory");
		return 0;
	}
	if (lock < 0) {
		blog(b, LOG_ERR, "cannot take the broker lock: %s", strerror(-lock));
		return 1;
	}
	b->notify_fd = nm_os_notify_create();
	if (b->notify_fd < 0) {
		blog(b, LOG_ERR, "cannot create a notification fd: %s", strerror(-b->notify_fd));
		return 1;
	}
	signal_notify_fd = b->notify_fd;
	struct sigaction sa = { .sa_handler = on_signal };
	sigemptyset(&sa.sa_mask);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);

	int lfd = listen_socket(err, sizeof(err));
	if (lfd < 0) {
		blog(b, LOG_ERR, "cannot listen: %s", err);
		return 1;
	}
	b->id = nm_os_now_ns() ^ ((uint64_t)getpid() << 40);
	blog(b, LOG_INFO, "ready (pid %d)", (int)getpid());
	serve(b, lfd);

	/* Clean shutdown: hang up every client (their mappings stay valid),
	 * remove the socket, release the lock. */
	attach_stop_all(b);
	conn_drop_all(b);
	char path[256];
	if (nmk_rundir_path("nmkitd.sock", path, sizeof(path)) == 0)
		unlink(path);
	close(lfd);
	blog(b, LOG_INFO, "stopped");
	close(lock);
	return 0;
}
