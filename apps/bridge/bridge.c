/*
 * bridge - forward packets between two netmap ports (reference §5.2).
 *
 *   bridge [-v] [-c] [-i ifa] [-i ifb] [-b burst] [-w wait] [-L]
 *   bridge ifa [ifb [burst]]
 *
 * When both ports share a memory region (the same mem_id), frames move by
 * swapping buffers between the RX slot of one port and the TX slot of the
 * other (NS_BUF_CHANGED on both): no data is copied.  Otherwise, or with
 * -c, frames are copied.  Multi-slot frames (NS_MOREFRAG) are kept whole.
 * -L loops the traffic of one port back onto itself.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <nmkit/nmkit.h>
#include <nmkit/compat/net/netmap_user.h>

static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

struct counters {
	uint64_t packets, swapped, copied, dropped;
};

/* Move what fits from every RX ring of src to the TX rings of dst. */
static void move(struct nmk_port *src, struct nmk_port *dst, unsigned burst, bool zerocopy,
		 struct counters *c)
{
	const struct nmk_port_info *si = nmk_port_info(src), *di = nmk_port_info(dst);
	uint32_t ti = di->first_tx_ring;

	for (uint32_t ri = si->first_rx_ring; ri < si->last_rx_ring; ri++) {
		struct netmap_ring *rx = nmk_port_rxring(src, ri);
		while (!nm_ring_empty(rx) && ti < di->last_tx_ring) {
			struct netmap_ring *tx = nmk_port_txring(dst, ti);
			uint32_t space = nm_ring_space(tx), avail = nm_ring_space(rx);
			uint32_t n = avail < space ? avail : space;
			if (n > burst)
				n = burst;
			/* Never split a multi-slot frame: stop before a chain
			 * that does not end within n slots. */
			uint32_t j = rx->head, last_end = 0;
			for (uint32_t k = 0; k < n; k++, j = nm_ring_next(rx, j))
				if (!(rx->slot[j].flags & NS_MOREFRAG))
					last_end = k + 1;
			n = last_end;
			if (n == 0) {
				ti++;   /* this TX ring is full: try the next */
				continue;
			}
			uint32_t r = rx->head, t = tx->head;
			for (uint32_t k = 0; k < n; k++) {
				struct netmap_slot *rs = &rx->slot[r], *ts = &tx->slot[t];
				if (zerocopy) {
					uint32_t idx = ts->buf_idx;
					ts->buf_idx = rs->buf_idx;
					rs->buf_idx = idx;
					ts->flags |= NS_BUF_CHANGED;
					rs->flags |= NS_BUF_CHANGED;
					c->swapped++;
				} else {
					uint16_t len = rs->len <= tx->nr_buf_size ? rs->len : (uint16_t)tx->nr_buf_size;
					memcpy(NETMAP_BUF(tx, ts->buf_idx), NETMAP_BUF(rx, rs->buf_idx), len);
					c->copied++;
				}
				ts->len = rs->len;
				ts->flags = (uint16_t)((ts->flags & NS_BUF_CHANGED) | (rs->flags & NS_MOREFRAG));
				if (!(rs->flags & NS_MOREFRAG))
					c->packets++;
				r = nm_ring_next(rx, r);
				t = nm_ring_next(tx, t);
			}
			rx->head = rx->cur = r;
			tx->head = tx->cur = t;
		}
	}
}

/* Slots waiting to be forwarded from src. */
static uint32_t pending(struct nmk_port *src)
{
	const struct nmk_port_info *si = nmk_port_info(src);
	uint32_t n = 0;

	for (uint32_t ri = si->first_rx_ring; ri < si->last_rx_ring; ri++)
		n += nm_ring_space(nmk_port_rxring(src, ri));
	return n;
}

static void usage(void)
{
	fprintf(stderr, "usage: bridge [-v] [-c] [-i ifa] [-i ifb] [-b burst] [-w wait_secs] [-L]\n"
			"       bridge ifa [ifb [burst]]\n"
			"  -c  copy frames even when the two ports share memory\n"
			"  -L  loop one port onto itself\n");
}

int main(int argc, char **argv)
{
	const char *ifa = NULL, *ifb = NULL;
	unsigned burst = 1024, wait = 4;
	bool verbose = false, copy = false, loop = false;
	int ch;

	while ((ch = getopt(argc, argv, "hi:b:cvw:L")) != -1) {
		switch (ch) {
		case 'i':
			if (ifa == NULL)
				ifa = optarg;
			else if (ifb == NULL)
				ifb = optarg;
			else {
				fprintf(stderr, "bridge: -i given more than twice\n");
				return 1;
			}
			break;
		case 'b':
			burst = (unsigned)atoi(optarg);
			break;
		case 'c':
			copy = true;
			break;
		case 'v':
			verbose = true;
			break;
		case 'w':
			wait = (unsigned)atoi(optarg);
			break;
		case 'L':
			loop = true;
			break;
		default:
			usage();
			return 1;
		}
	}
	argc -= optind;
	argv += optind;
	if (argc > 0 && ifa == NULL)
		ifa = argv[0];
	if (argc > 1 && ifb == NULL)
		ifb = argv[1];
	if (argc > 2)
		burst = (unsigned)atoi(argv[2]);
	if (ifa == NULL) {
		usage();
		return 1;
	}
	if (burst < 1 || burst > 8192) {
		fprintf(stderr, "bridge: burst %u out of range [1, 8192]\n", burst);
		return 1;
	}
	if (wait > 100) {
		fprintf(stderr, "bridge: wait %u s out of range [0, 100]\n", wait);
		return 1;
	}
	if ((ifb == NULL || strcmp(ifa, ifb) == 0) && !loop) {
		fprintf(stderr, "bridge: bridging %s with its host stack (%s^) needs a NIC driver with host rings, which is not available; use -L to loop the port onto itself\n",
			ifa, ifa);
		return 1;
	}

	char err[NMK_ERRBUF_SIZE];
	struct nmk_port *pa = nmk_port_open(ifa, err);
	if (pa == NULL) {
		fprintf(stderr, "bridge: cannot open %s: %s\n", ifa, err);
		return 1;
	}
	struct nmk_port *pb = loop ? pa : nmk_port_open(ifb, err);
	if (pb == NULL) {
		fprintf(stderr, "bridge: cannot open %s: %s\n", ifb, err);
		nmk_port_close(pa);
		return 1;
	}
	bool zerocopy = !copy && nmk_port_info(pa)->mem_id == nmk_port_info(pb)->mem_id;
	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	if (wait && strncmp(ifa, "vale", 4) != 0 && strchr(ifa, '{') == NULL &&
	    strchr(ifa, '}') == NULL) {
		fprintf(stderr, "bridge: wait %u secs for link to come up...\n", wait);
		sleep(wait);
	}
	fprintf(stderr, "bridge: Ready to go, %s mem %u <-> %s mem %u, %s\n", ifa,
		nmk_port_info(pa)->mem_id, loop ? ifa : ifb, nmk_port_info(pb)->mem_id,
		zerocopy ? "zero-copy (buffer swapping)" : "copying");

	struct counters ab = { 0 }, ba = { 0 };
	while (!stop) {
		/* Ask for POLLOUT only on a side with frames waiting for room. */
		struct pollfd pfd[2] = {
			{ .fd = nmk_port_fd(pa), .events = POLLIN },
			{ .fd = nmk_port_fd(pb), .events = POLLIN },
		};
		uint32_t wa = pending(pa), wb = loop ? 0 : pending(pb);
		if (wa)
			pfd[1].events |= POLLOUT, pfd[0].events &= (short)~POLLIN;
		if (wb)
			pfd[0].events |= POLLOUT, pfd[1].events &= (short)~POLLIN;
		int n = nmk_poll(pfd, loop ? 1 : 2, 2500);
		if (n < 0 && n != -EINTR) {
			fprintf(stderr, "bridge: poll: %s\n", nmk_strerror(n));
			break;
		}
		if ((pfd[0].revents | pfd[1].revents) & POLLERR)
			fprintf(stderr, "bridge: %s\n", (pfd[0].revents & POLLERR) ? nmk_port_error(pa) : nmk_port_error(pb));
		if ((pfd[0].revents | pfd[1].revents) & POLLHUP) {
			fprintf(stderr, "bridge: nmkitd went away\n");
			break;
		}
		move(pa, pb, burst, zerocopy, &ab);
		if (!loop)
			move(pb, pa, burst, zerocopy, &ba);
		nmk_txsync(pb);
		nmk_rxsync(pa);
		if (!loop) {
			nmk_txsync(pa);
			nmk_rxsync(pb);
		}
	}
	fprintf(stderr, "bridge: %s -> %s: %" PRIu64 " packets (%" PRIu64 " slots swapped, %" PRIu64 " copied)\n",
		ifa, loop ? ifa : ifb, ab.packets, ab.swapped, ab.copied);
	if (!loop)
		fprintf(stderr, "bridge: %s -> %s: %" PRIu64 " packets (%" PRIu64 " slots swapped, %" PRIu64 " copied)\n",
			ifb, ifa, ba.packets, ba.swapped, ba.copied);
	if (verbose)
		fprintf(stderr, "bridge: done\n");
	nmk_port_close(pa);
	if (!loop)
		nmk_port_close(pb);
	return 0;
}
