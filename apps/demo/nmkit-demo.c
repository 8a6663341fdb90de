/*
 * nmkit-demo - two processes move packets over a netmap pipe and print the
 * rate.  The parent sends 60-byte frames on "demoPID{1", a child receives
 * them on "demoPID}1" and checks that every frame arrives, in order.
 *
 *   nmkit-demo [-t seconds] [-l length] [-b burst]
 */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <nmkit/nmkit.h>
#include <nmkit/compat/net/netmap_user.h>

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static int receiver(const char *name, int result_fd, uint64_t *expected_out)
{
	char err[NMK_ERRBUF_SIZE];
	struct nmk_port *p = nmk_port_open(name, err);
	uint64_t got = 0, bad = 0, total = UINT64_MAX;

	(void)expected_out;
	if (p == NULL) {
		fprintf(stderr, "nmkit-demo: receiver: %s\n", err);
		return 1;
	}
	struct netmap_ring *rx = nmk_port_rxring(p, 0);
	double last_seen = now_s();
	while (got < total) {
		nmk_rxsync(p);
		uint32_t head = rx->head;
		while (head != rx->tail) {
			struct netmap_slot *s = &rx->slot[head];
			uint64_t seq;
			memcpy(&seq, NETMAP_BUF(rx, s->buf_idx) + 14, sizeof(seq));
			if (seq != got)
				bad++;
			got++;
			head = nm_ring_next(rx, head);
		}
		rx->head = rx->cur = head;
		if (total == UINT64_MAX) {
			/* The sender tells us its count when it is done. */
			ssize_t n = recv(result_fd, &total, sizeof(total), MSG_DONTWAIT);
			if (n != (ssize_t)sizeof(total))
				total = UINT64_MAX;
		}
		if (head == rx->tail && got < total) {
			if (nmk_port_poll(p, POLLIN, 100) == 0 && total != UINT64_MAX &&
			    now_s() - last_seen > 2.0)
				break;
		} else {
			last_seen = now_s();
		}
	}
	nmk_port_close(p);
	if (write(result_fd, &got, sizeof(got)) != sizeof(got))
		return 1;
	return bad ? 2 : 0;
}

int main(int argc, char **argv)
{
	double seconds = 2.0;
	unsigned len = 60, burst = 256;
	char name[64], rxname[64], err[NMK_ERRBUF_SIZE];
	int c, sv[2];

	while ((c = getopt(argc, argv, "t:l:b:h")) != -1) {
		switch (c) {
		case 't': seconds = atof(optarg); break;
		case 'l': len = (unsigned)atoi(optarg); break;
		case 'b': burst = (unsigned)atoi(optarg); break;
		default:
			fprintf(stderr, "usage: nmkit-demo [-t seconds] [-l length 60..2048] [-b burst]\n");
			return 2;
		}
	}
	if (len < 60 || len > 2048 || burst < 1 || seconds <= 0) {
		fprintf(stderr, "nmkit-demo: length must be 60..2048, burst >= 1, time > 0\n");
		return 2;
	}
	snprintf(name, sizeof(name), "demo%d{1", (int)getpid());
	snprintf(rxname, sizeof(rxname), "demo%d}1", (int)getpid());

	struct nmk_port *tx = nmk_port_open(name, err);
	if (tx == NULL) {
		fprintf(stderr, "nmkit-demo: %s\n", err);
		return 1;
	}
	if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) < 0) {
		perror("nmkit-demo: socketpair");
		return 1;
	}
	pid_t pid = fork();
	if (pid == 0) {
		close(sv[0]);
		_exit(receiver(rxname, sv[1], NULL));
	}
	close(sv[1]);

	struct netmap_ring *ring = nmk_port_txring(tx, 0);
	/* A template frame: broadcast Ethernet, then a 64-bit sequence. */
	for (uint32_t i = 0; i < ring->num_slots; i++) {
		char *b = NETMAP_BUF(ring, ring->slot[i].buf_idx);
		memset(b, 0, len);
		memset(b, 0xff, 6);
		b[12] = 0x88, b[13] = 0xb5;     /* local experimental ethertype */
	}
	printf("nmkit-demo: sending %u-byte frames from %s to %s (pid %d) for %.1f s\n",
	       len, name, rxname, (int)pid, seconds);
	fflush(stdout);

	uint64_t sent = 0;
	double t0 = now_s(), t1 = t0;
	while ((t1 = now_s()) - t0 < seconds) {
		uint32_t head = ring->head, space = nm_ring_space(ring);
		if (space > burst)
			space = burst;
		for (uint32_t n = 0; n < space; n++) {
			struct netmap_slot *s = &ring->slot[head];
			memcpy(NETMAP_BUF(ring, s->buf_idx) + 14, &sent, sizeof(sent));
			s->len = (uint16_t)len;
			sent++;
			head = nm_ring_next(ring, head);
		}
		ring->head = ring->cur = head;
		if (space == 0)
			nmk_port_poll(tx, POLLOUT, 100);
		else
			nmk_txsync(tx);
	}
	if (write(sv[0], &sent, sizeof(sent)) != sizeof(sent))
		perror("nmkit-demo: write");
	uint64_t received = 0;
	if (read(sv[0], &received, sizeof(received)) != sizeof(received))
		received = 0;
	int status = 0;
	waitpid(pid, &status, 0);
	nmk_port_close(tx);

	double el = t1 - t0;
	printf("nmkit-demo: sent %llu, received %llu frames in %.2f s: %.2f Mpps, %.2f Gbit/s\n",
	       (unsigned long long)sent, (unsigned long long)received, el,
	       (double)received / el / 1e6, (double)received * len * 8 / el / 1e9);
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0 || received != sent) {
		fprintf(stderr, "nmkit-demo: FAILED: %s\n",
			received != sent ? "frames were lost" : "frames arrived out of order");
		return 1;
	}
	printf("nmkit-demo: every frame arrived, in order\n");
	return 0;
}
