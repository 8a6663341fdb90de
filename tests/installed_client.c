/*
 * installed_client.c - a program of a user of nmkit, built by
 * tests/test_installed.sh against the INSTALLED libnmkit.so, its headers
 * and `pkg-config --cflags --libs nmkit`, nothing of the build tree.
 *
 * It calls every function of <nmkit/nmkit.h> once at least: a pipe pair
 * and a VALE switch move a frame, then the port's info, the list, the
 * counters and the driver list are read through the sized structs, with
 * the size rules of the header's "ABI" section, and the failure paths
 * return what the header documents (negative errnos, NULL with errno).
 *
 * Usage: installed_client LIBDIR SCRATCHDIR.  LIBDIR is where the library
 * must have come from; SCRATCHDIR an empty directory for a broker-less
 * runtime directory.  The broker is $NMKIT_BROKER in $NMKIT_RUNDIR.
 * Prints one line a check, "ok" or "not ok", and exits 1 on any failure.
 */
#define _GNU_SOURCE 1   /* dladdr */

#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <nmkit/nmkit.h>
#include <nmkit/compat/net/netmap_user.h>

static int passed, failed;

static void check(int ok, const char *what, const char *detail)
{
	if (ok) {
		passed++;
		printf("ok %d - %s\n", passed + failed, what);
	} else {
		failed++;
		printf("not ok %d - %s%s%s\n", passed + failed, what, detail && *detail ? ": " : "",
		       detail ? detail : "");
	}
}

/* A NULL return with errno `want`. */
static void check_null_errno(const void *ptr, int want, const char *what, const char *err)
{
	int e = errno;
	char d[NMK_ERRBUF_SIZE + 96];

	snprintf(d, sizeof(d), "returned %p, errno %d (%s), wanted %d (%s); message \"%s\"",
		 ptr, e, strerror(e), want, strerror(want), err ? err : "");
	check(ptr == NULL && e == want, what, d);
}

/* A negative errno `want` (returned as -want). */
static void check_ret(int ret, int want, const char *what, const char *err)
{
	char d[NMK_ERRBUF_SIZE + 96];

	snprintf(d, sizeof(d), "returned %d (%s), wanted %d; message \"%s\"", ret,
		 ret < 0 ? strerror(-ret) : "-", want, err ? err : "");
	check(ret == want, what, d);
}

static const unsigned char *frame(unsigned char *buf, unsigned len, unsigned char tag)
{
	memset(buf, 0xff, 6);                   /* broadcast: VALE floods it */
	memcpy(buf + 6, "\x02\x00\x00\x00\x00\x01", 6);
	buf[12] = 0x88;
	buf[13] = 0xb5;
	for (unsigned i = 14; i < len; i++)
		buf[i] = (unsigned char)(tag + i);
	return buf;
}

static int send_frame(struct nmk_port *p, const unsigned char *buf, unsigned len)
{
	const struct nmk_port_info *in = nmk_port_info(p);
	struct netmap_ring *tx = nmk_port_txring(p, in->first_tx_ring);

	if (tx == NULL || nm_ring_space(tx) == 0)
		return -ENOSPC;
	struct netmap_slot *s = &tx->slot[tx->head];
	memcpy(NETMAP_BUF(tx, s->buf_idx), buf, len);
	s->len = (uint16_t)len;
	tx->head = tx->cur = nm_ring_next(tx, tx->head);
	return nmk_txsync(p);
}

/* 1 when the frame arrived whole on one of the bound RX rings. */
static int recv_frame(struct nmk_port *p, const unsigned char *want, unsigned len)
{
	const struct nmk_port_info *in = nmk_port_info(p);

	if (nmk_port_poll(p, POLLIN, 5000) <= 0)
		return 0;
	for (uint32_t r = in->first_rx_ring; r < in->last_rx_ring; r++) {
		struct netmap_ring *rx = nmk_port_rxring(p, r);
		if (rx == NULL || nm_ring_empty(rx))
			continue;
		struct netmap_slot *s = &rx->slot[rx->cur];
		int ok = s->len == len && memcmp(NETMAP_BUF(rx, s->buf_idx), want, len) == 0;
		rx->head = rx->cur = nm_ring_next(rx, rx->cur);
		nmk_rxsync(p);
		return ok;
	}
	return 0;
}

/* A struct of the library's with room after it: what a program built
 * against a newer header passes. */
struct bigger_info {
	struct nmk_port_info pi;
	unsigned char newer[40];
};
struct bigger_params {
	struct nmk_open_params op;
	unsigned char newer[16];
};
struct bigger_conf {
	struct nmk_vale_conf c;
	unsigned char newer[16];
};

static void test_where_from(const char *libdir)
{
	Dl_info di;
	char d[512];

	memset(&di, 0, sizeof(di));
	int ok = dladdr((void *)(uintptr_t)nmk_port_open, &di) != 0 && di.dli_fname != NULL;
	snprintf(d, sizeof(d), "nmk_port_open is in %s, expected under %s",
		 ok ? di.dli_fname : "(unknown)", libdir);
	check(ok && strncmp(di.dli_fname, libdir, strlen(libdir)) == 0,
	      "the library is the installed one", d);
	check(strncmp(nmk_version(), "nmkit", 5) == 0, "nmk_version", nmk_version());
	check(strcmp(nmk_strerror(-EINVAL), strerror(EINVAL)) == 0 &&
	      strcmp(nmk_strerror(ENXIO), strerror(ENXIO)) == 0, "nmk_strerror", NULL);
}

static void test_pipe(int id)
{
	char a[64], b[64], err[NMK_ERRBUF_SIZE] = "", d[600];
	unsigned char buf[60];
	struct nmk_open_params op = NMK_OPEN_PARAMS_INIT;

	snprintf(a, sizeof(a), "abi%d{1", id);
	snprintf(b, sizeof(b), "abi%d}1", id);
	op.extra_bufs = 4;
	struct nmk_port *pa = nmk_port_open_ext(a, &op, err);
	check(pa != NULL, "nmk_port_open_ext with NMK_OPEN_PARAMS_INIT", err);
	struct nmk_port *pb = nmk_port_open(b, err);
	check(pb != NULL, "nmk_port_open", err);
	if (pa == NULL || pb == NULL)
		goto out;

	const struct nmk_port_info *ia = nmk_port_info(pa), *ib = nmk_port_info(pb);
	snprintf(d, sizeof(d), "size %u (sizeof %zu), name %s, extra_bufs %u, tx_slots %u, buf_size %u",
		 ia->size, sizeof(*ia), ia->name, ia->extra_bufs, ia->tx_slots, ia->buf_size);
	check(ia->size == sizeof(struct nmk_port_info) &&
	      NMK_HAS_FIELD(struct nmk_port_info, ia, extra_bufs) && strcmp(ia->name, a) == 0 &&
	      ia->extra_bufs == 4 && ia->tx_slots > 0 && ia->buf_size >= 2048 &&
	      ia->mem_id == ib->mem_id && ia->last_tx_ring > ia->first_tx_ring,
	      "nmk_port_info: the library's struct, whole", d);
	check(nmk_port_fd(pa) >= 0 && nmk_port_nifp(pa) != NULL && nmk_port_mem(pa) != NULL &&
	      NETMAP_IF(nmk_port_mem(pa), ia->nifp_offset) == nmk_port_nifp(pa),
	      "nmk_port_fd, nmk_port_nifp, nmk_port_mem", NULL);
	check(nmk_port_error(pa) != NULL && nmk_port_error(pa)[0] == '\0',
	      "nmk_port_error is empty before an error", nmk_port_error(pa));

	frame(buf, sizeof(buf), 1);
	int r = send_frame(pa, buf, sizeof(buf));
	check(r == 0, "nmk_txsync sends a frame", nmk_port_error(pa));
	check(recv_frame(pb, buf, sizeof(buf)), "nmk_port_poll and nmk_rxsync receive it", NULL);
	check(nmk_port_rx_dropped(pb) == 0, "nmk_port_rx_dropped", NULL);

	/* nmk_poll over a port fd and an ordinary one. */
	frame(buf, sizeof(buf), 2);
	send_frame(pa, buf, sizeof(buf));
	int fds[2];
	if (pipe(fds) == 0) {
		struct pollfd pfd[2] = {
			{ .fd = nmk_port_fd(pb), .events = POLLIN },
			{ .fd = fds[0], .events = POLLIN },
		};
		r = nmk_poll(pfd, 2, 5000);
		snprintf(d, sizeof(d), "returned %d, revents %#x %#x", r, pfd[0].revents,
			 pfd[1].revents);
		check(r == 1 && (pfd[0].revents & POLLIN) && pfd[1].revents == 0, "nmk_poll", d);
		check(recv_frame(pb, buf, sizeof(buf)), "the frame nmk_poll saw", NULL);
		close(fds[0]);
		close(fds[1]);
	}

	/* Rings that are not bound: NULL and EINVAL. */
	errno = 0;
	check_null_errno(nmk_port_txring(pa, 1000), EINVAL, "nmk_port_txring out of range", NULL);
	errno = 0;
	check_null_errno(nmk_port_rxring(pa, ia->rx_rings), EINVAL, "nmk_port_rxring out of range", NULL);

	/* A ring with a bad head: -EINVAL, and the cause on the handle. */
	struct netmap_ring *tx = nmk_port_txring(pa, ia->first_tx_ring);
	tx->head = tx->cur = tx->num_slots + 5;
	r = nmk_txsync(pa);
	check_ret(r, -EINVAL, "nmk_txsync on a ring with a bad head", nmk_port_error(pa));
	check(nmk_port_error(pa)[0] != '\0', "nmk_port_error after it", NULL);

	/* nmk_port_from_fd: a copy of a port fd is adopted. */
	int dupfd = dup(nmk_port_fd(pb));
	struct nmk_port *pc = nmk_port_from_fd(dupfd, err);
	check(pc != NULL && strcmp(nmk_port_info(pc)->name, b) == 0, "nmk_port_from_fd of a port fd",
	      err);
	if (pc)
		nmk_port_close(pc);
	else if (dupfd >= 0)
		close(dupfd);

	/* nmk_open_params: the size rules. */
	struct nmk_open_params zero;
	memset(&zero, 0, sizeof(zero));
	err[0] = '\0';
	errno = 0;
	check_null_errno(nmk_port_open_ext(a, &zero, err), EINVAL,
			 "nmk_port_open_ext with .size 0", err);
	check(strstr(err, "size") != NULL, "... says so", err);
	struct bigger_params bp;
	memset(&bp, 0, sizeof(bp));
	bp.op.size = sizeof(bp);
	bp.newer[3] = 1;
	errno = 0;
	check_null_errno(nmk_port_open_ext(a, &bp.op, err), E2BIG,
			 "nmk_port_open_ext with a newer field set", err);
	bp.newer[3] = 0;
	bp.op.extra_bufs = 2;
	snprintf(d, sizeof(d), "abi%d{2", id);
	struct nmk_port *pn = nmk_port_open_ext(d, &bp.op, err);
	check(pn != NULL && nmk_port_info(pn)->extra_bufs == 2,
	      "... and with newer fields zero, it is read", err);
	if (pn)
		nmk_port_close(pn);
out:
	nmk_port_close(pb);
	nmk_port_close(pa);
}

static void test_vale(int id)
{
	char sw[32], a[64], b[64], nope[64], per[32], attached[64], err[NMK_ERRBUF_SIZE] = "";
	char d[600];
	unsigned char buf[64];

	snprintf(sw, sizeof(sw), "vale%d", id);
	snprintf(a, sizeof(a), "%s:a", sw);
	snprintf(b, sizeof(b), "%s:b", sw);
	snprintf(nope, sizeof(nope), "%s:nope", sw);
	snprintf(per, sizeof(per), "abi%d", id);
	snprintf(attached, sizeof(attached), "%s:%s", sw, per);

	struct nmk_port *pa = nmk_port_open(a, err);
	check(pa != NULL, "open a VALE port", err);
	struct nmk_port *pb = nmk_port_open(b, err);
	check(pb != NULL, "open another on the switch", err);
	if (pa == NULL || pb == NULL)
		goto out;
	frame(buf, sizeof(buf), 3);
	check(send_frame(pa, buf, sizeof(buf)) == 0, "send into the switch", nmk_port_error(pa));
	check(recv_frame(pb, buf, sizeof(buf)), "the switch delivers it", NULL);

	/* nmk_vale_list with a sized entry. */
	struct nmk_vale_entry e = NMK_VALE_ENTRY_INIT;
	uint32_t cur = 0;
	int r, seen = 0, sized = 1;
	while ((r = nmk_vale_list(&cur, &e, err)) > 0) {
		sized &= e.size == sizeof(e);
		if (strcmp(e.switch_name, sw) == 0 && (strcmp(e.name, a) == 0 || strcmp(e.name, b) == 0))
			seen++;
	}
	snprintf(d, sizeof(d), "end %d, saw %d of 2 ports, sizes ok %d: %s", r, seen, sized, err);
	check(r == 0 && seen == 2 && sized, "nmk_vale_list", d);
	struct nmk_vale_entry small = NMK_VALE_ENTRY_INIT;
	small.size = 8;
	cur = 0;
	check_ret(nmk_vale_list(&cur, &small, err), -EINVAL, "nmk_vale_list with a short struct", err);
	check_ret(nmk_vale_list(NULL, &e, err), -EINVAL, "nmk_vale_list without a cursor", err);

	/* nmk_vale_get_stats. */
	struct nmk_vale_stats sa = NMK_VALE_STATS_INIT, sb = NMK_VALE_STATS_INIT;
	r = nmk_vale_get_stats(a, &sa, err);
	int r2 = nmk_vale_get_stats(b, &sb, err);
	snprintf(d, sizeof(d), "%d %d: a tx %llu, b rx %llu, size %u: %s", r, r2,
		 (unsigned long long)sa.tx_packets, (unsigned long long)sb.rx_packets, sa.size, err);
	check(r == 0 && r2 == 0 && sa.tx_packets == 1 && sb.rx_packets == 1 && sa.size == sizeof(sa),
	      "nmk_vale_get_stats", d);
	struct nmk_vale_stats st0;
	memset(&st0, 0, sizeof(st0));
	check_ret(nmk_vale_get_stats(a, &st0, err), -EINVAL, "nmk_vale_get_stats with .size 0", err);
	check(st0.tx_packets == 0, "... and leaves the struct alone", NULL);
	check_ret(nmk_vale_get_stats(nope, &sa, err), -ENOENT, "nmk_vale_get_stats of a missing port",
		  err);
	check_ret(nmk_vale_get_stats(a, NULL, err), -EINVAL, "nmk_vale_get_stats without a struct", err);

	/* nmk_port_info_by_name: the size rules on a struct the library fills. */
	struct nmk_port_info pi = NMK_PORT_INFO_INIT;
	r = nmk_port_info_by_name(a, &pi, err);
	const struct nmk_port_info *ia = nmk_port_info(pa);
	snprintf(d, sizeof(d), "%d: size %u, memsize %llu/%llu, mem_id %u/%u: %s", r, pi.size,
		 (unsigned long long)pi.memsize, (unsigned long long)ia->memsize, pi.mem_id,
		 ia->mem_id, err);
	check(r == 0 && pi.size == sizeof(pi) && pi.memsize == ia->memsize &&
	      pi.mem_id == ia->mem_id && pi.tx_slots == ia->tx_slots, "nmk_port_info_by_name", d);
	struct bigger_info bi;
	memset(&bi, 0xaa, sizeof(bi));
	bi.pi.size = sizeof(bi);
	r = nmk_port_info_by_name(a, &bi.pi, err);
	int zero = 1;
	for (size_t i = 0; i < sizeof(bi.newer); i++)
		zero &= bi.newer[i] == 0;
	snprintf(d, sizeof(d), "%d: size %u, tail zeroed %d: %s", r, bi.pi.size, zero, err);
	check(r == 0 && bi.pi.size == sizeof(struct nmk_port_info) && zero &&
	      bi.pi.mem_id == ia->mem_id, "... into a newer, longer struct", d);
	struct nmk_port_info shortpi = NMK_PORT_INFO_INIT;
	shortpi.size = (uint32_t)offsetof(struct nmk_port_info, extra_bufs);
	err[0] = '\0';
	check_ret(nmk_port_info_by_name(a, &shortpi, err), -EINVAL,
		  "nmk_port_info_by_name with a struct shorter than the first layout", err);
	check(strstr(err, "nmk_port_info") != NULL, "... names the struct", err);

	/* Persistent ports, with nmk_vale_conf. */
	struct nmk_vale_conf conf = NMK_VALE_CONF_INIT;
	conf.tx_slots = conf.rx_slots = 256;
	check_ret(nmk_vale_newif(per, &conf, err), 0, "nmk_vale_newif with NMK_VALE_CONF_INIT", err);
	pi = (struct nmk_port_info)NMK_PORT_INFO_INIT;
	r = nmk_port_info_by_name(per, &pi, err);
	snprintf(d, sizeof(d), "%d: tx_slots %u: %s", r, pi.tx_slots, err);
	check(r == 0 && pi.tx_slots == 256, "... with the slots it asked for", d);
	check_ret(nmk_vale_newif(per, NULL, err), -EEXIST, "nmk_vale_newif of an existing port", err);
	r = nmk_vale_attach(attached, err);
	check(r >= 0, "nmk_vale_attach", err);
	r = nmk_vale_detach(attached, err);
	check(r >= 0, "nmk_vale_detach", err);
	check_ret(nmk_vale_detach(attached, err), -ENOENT, "nmk_vale_detach when not attached", err);
	check_ret(nmk_vale_delif(per, err), 0, "nmk_vale_delif", err);
	check_ret(nmk_vale_delif(per, err), -ENOENT, "nmk_vale_delif of a missing port", err);
	check_ret(nmk_vale_attach(attached, err), -ENOENT, "nmk_vale_attach of a missing port", err);

	struct nmk_vale_conf c0;
	memset(&c0, 0, sizeof(c0));
	check_ret(nmk_vale_newif(per, &c0, err), -EINVAL, "nmk_vale_newif with .size 0", err);
	struct bigger_conf bc;
	memset(&bc, 0, sizeof(bc));
	bc.c.size = sizeof(bc);
	bc.c.tx_slots = 128;
	bc.newer[0] = 7;
	check_ret(nmk_vale_newif(per, &bc.c, err), -E2BIG, "nmk_vale_newif with a newer field set", err);
	bc.newer[0] = 0;
	check_ret(nmk_vale_newif(per, &bc.c, err), 0, "... and with newer fields zero", err);
	nmk_vale_delif(per, NULL);

	check_ret(nmk_vale_attach_host("novale", err), -EINVAL, "nmk_vale_attach_host of a bad name", err);
	check_ret(nmk_vale_detach_host("novale", err), -EINVAL, "nmk_vale_detach_host of a bad name", err);

	check_ret(nmk_vale_set_lookup(NULL, NULL, NULL), -EINVAL, "nmk_vale_set_lookup without a switch",
		  NULL);
	check_ret(nmk_vale_set_lookup(sw, NULL, NULL), 0, "nmk_vale_set_lookup: the learning bridge",
		  NULL);
out:
	nmk_port_close(pb);
	nmk_port_close(pa);
}

static void test_errors(int id, const char *scratch)
{
	char name[96], err[NMK_ERRBUF_SIZE];

	err[0] = '\0';
	errno = 0;
	check_null_errno(nmk_port_open(NULL, err), EINVAL, "nmk_port_open(NULL)", err);
	errno = 0;
	check_null_errno(nmk_port_open("vale0:", err), EINVAL, "nmk_port_open of a malformed name",
			 err);
	errno = 0;
	check_null_errno(nmk_port_open("x{", err), EINVAL, "nmk_port_open of an empty pipe name", err);
	snprintf(name, sizeof(name), "netmap:nmkabi%d", id);
	errno = 0;
	check_null_errno(nmk_port_open(name, err), ENXIO, "nmk_port_open of a missing NIC", err);
	snprintf(name, sizeof(name), "nodriver%d:eth0", id);
	errno = 0;
	check_null_errno(nmk_port_open(name, err), ENOENT, "nmk_port_open with an unknown driver", err);
	errno = 0;
	check_null_errno(nmk_port_open("x{1@share=netmap:y", err), EOPNOTSUPP, "nmk_port_open with @share",
			 err);

	/* nmk_port_from_fd of fds that are not port fds; they stay open. */
	errno = 0;
	check_null_errno(nmk_port_from_fd(-1, err), EBADF, "nmk_port_from_fd(-1)", err);
	int fds[2];
	if (pipe(fds) == 0) {
		errno = 0;
		check_null_errno(nmk_port_from_fd(fds[0], err), ENOTSOCK,
				 "nmk_port_from_fd of a pipe", err);
		check(fcntl(fds[0], F_GETFD) >= 0, "... leaves the fd open", NULL);
		close(fds[0]);
		close(fds[1]);
	}
	if (socketpair(AF_UNIX, SOCK_STREAM, 0, fds) == 0) {
		errno = 0;
		check_null_errno(nmk_port_from_fd(fds[0], err), EINVAL,
				 "nmk_port_from_fd of a stream socket", err);
		close(fds[0]);
		close(fds[1]);
	}
	/* A connection to the broker that registered nothing. */
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	const char *rundir = getenv("NMKIT_RUNDIR");
	int s = socket(AF_UNIX, SOCK_SEQPACKET, 0);
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s/nmkitd.sock", rundir ? rundir : "");
	if (s >= 0 && connect(s, (struct sockaddr *)&sa, sizeof(sa)) == 0) {
		errno = 0;
		check_null_errno(nmk_port_from_fd(s, err), ENXIO,
				 "nmk_port_from_fd of a broker connection with no port", err);
		check(fcntl(s, F_GETFD) >= 0, "... leaves the fd open", NULL);
	} else {
		check(0, "connect to the broker", strerror(errno));
	}
	if (s >= 0)
		close(s);

	/* Drivers: sized struct; a short one is refused even past the end. */
	struct nmk_driver_info di = NMK_DRIVER_INFO_INIT;
	int r = nmk_driver_list(0, &di, err);
	check(r == 0 || (r == 1 && di.name[0] && di.path[0] && di.size == sizeof(di)),
	      "nmk_driver_list", err);
	check_ret(nmk_driver_list(1000, &di, err), 0, "nmk_driver_list past the end", err);
	di.size = 0;
	check_ret(nmk_driver_list(1000, &di, err), -EINVAL, "nmk_driver_list with .size 0", err);
	char msg[256];
	check_ret(nmk_driver_rejected(1000, msg, sizeof(msg)), 0, "nmk_driver_rejected past the end",
		  NULL);

	/* No broker: a runtime directory with none, and no program to start. */
	char *old_rundir = rundir ? strdup(rundir) : NULL;
	char *old_broker = getenv("NMKIT_BROKER") ? strdup(getenv("NMKIT_BROKER")) : NULL;
	setenv("NMKIT_RUNDIR", scratch, 1);
	setenv("NMKIT_BROKER", "/nonexistent/nmkitd", 1);
	errno = 0;
	err[0] = '\0';
	check_null_errno(nmk_port_open("x{1", err), ENOENT,
			 "nmk_port_open when the broker cannot be started", err);
	check(strstr(err, "NMKIT_BROKER") != NULL, "... says how to name it", err);
	uint32_t cur = 0;
	struct nmk_vale_entry e = NMK_VALE_ENTRY_INIT;
	check_ret(nmk_vale_list(&cur, &e, err), -ENOENT, "nmk_vale_list when the broker cannot be started",
		  err);
	if (old_rundir)
		setenv("NMKIT_RUNDIR", old_rundir, 1);
	if (old_broker)
		setenv("NMKIT_BROKER", old_broker, 1);
	free(old_rundir);
	free(old_broker);
}

int main(int argc, char **argv)
{
	if (argc != 3) {
		fprintf(stderr, "usage: %s LIBDIR SCRATCHDIR\n", argv[0]);
		return 2;
	}
	setvbuf(stdout, NULL, _IOLBF, 0);
	int id = (int)getpid() % 100000;

	test_where_from(argv[1]);
	test_pipe(id);
	test_vale(id);
	test_errors(id, argv[2]);
	printf("%d passed, %d failed\n", passed, failed);
	return failed ? 1 : 0;
}
