/*
 * nmdump - capture frames from a netmap port or monitor, the tcpdump of
 * nmkit.
 *
 *   nmdump -i PORT [-w FILE|-] [-c COUNT] [-s SNAPLEN] [-q] [expression]
 *
 * PORT is any port name: a monitor (vale0:a/r, x{1/t, vale0:a/rt) sees a
 * port's traffic without taking it; a port of its own (vale0:tap) sees what
 * the switch floods or sends to it.  The BPF expression is compiled by
 * libpcap; files are written by libpcap with nanosecond timestamps, so
 * `nmdump -i vale0:a/r -w - | tcpdump -nr -` works.  Without -w, one line
 * per frame goes to stdout.  On exit a summary goes to stderr.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <pcap/pcap.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <nmkit/nmkit.h>
#include <nmkit/compat/net/netmap_user.h>

#define FRAME_MAX 65536

static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

static void usage(FILE *f)
{
	fprintf(f, "usage: nmdump -i PORT [-w FILE|-] [-c COUNT] [-s SNAPLEN] [-q] [expression]\n"
		   "  -i PORT    port or monitor to read (vale0:a/r, x}1, vale0:cap, ...)\n"
		   "  -w FILE    write a pcap file (nanosecond timestamps); - for stdout\n"
		   "  -c COUNT   stop after COUNT matching frames\n"
		   "  -s SNAPLEN bytes kept per frame (default 262144)\n"
		   "  -q         no summary on exit\n"
		   "  expression a BPF filter, as tcpdump takes it\n");
}

/* One line per frame, for a terminal. */
static void print_frame(const struct timespec *ts, const uint8_t *p, uint32_t len)
{
	struct tm tm;
	time_t sec = ts->tv_sec;
	localtime_r(&sec, &tm);
	printf("%02d:%02d:%02d.%09ld ", tm.tm_hour, tm.tm_min, tm.tm_sec, ts->tv_nsec);
	if (len < 14) {
		printf("short frame, length %u\n", len);
		return;
	}
	printf("%02x:%02x:%02x:%02x:%02x:%02x > %02x:%02x:%02x:%02x:%02x:%02x, ethertype 0x%04x, length %u",
	       p[6], p[7], p[8], p[9], p[10], p[11], p[0], p[1], p[2], p[3], p[4], p[5],
	       (unsigned)(p[12] << 8 | p[13]), len);
	if (p[12] == 0x08 && p[13] == 0x00 && len >= 34) {
		const uint8_t *ip = p + 14;
		printf(": %u.%u.%u.%u > %u.%u.%u.%u proto %u", ip[12], ip[13], ip[14], ip[15], ip[16],
		       ip[17], ip[18], ip[19], ip[9]);
		unsigned ihl = (ip[0] & 0xf) * 4u;
		if ((ip[9] == 17 || ip[9] == 6) && len >= 14 + ihl + 4)
			printf(" ports %u > %u", ip[ihl] << 8 | ip[ihl + 1], ip[ihl + 2] << 8 | ip[ihl + 3]);
	}
	putchar('\n');
}

int main(int argc, char **argv)
{
	const char *port = NULL, *file = NULL;
	long count = -1;
	int snaplen = 262144, c;
	bool quiet = false;

	while ((c = getopt(argc, argv, "i:w:c:s:qh")) != -1) {
		switch (c) {
		case 'i':
			port = optarg;
			break;
		case 'w':
			file = optarg;
			break;
		case 'c':
			count = strtol(optarg, NULL, 10);
			if (count <= 0) {
				fprintf(stderr, "nmdump: -c %s: expected a positive count\n", optarg);
				return 1;
			}
			break;
		case 's':
			snaplen = atoi(optarg);
			if (snaplen <= 0 || snaplen > 262144)
				snaplen = 262144;
			break;
		case 'q':
			quiet = true;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 1;
		}
	}
	if (port == NULL) {
		usage(stderr);
		return 1;
	}

	/* The filter: the rest of the command line, joined. */
	char expr[4096] = "";
	for (int i = optind; i < argc; i++) {
		if (strlen(expr) + strlen(argv[i]) + 2 >= sizeof(expr)) {
			fprintf(stderr, "nmdump: filter expression too long\n");
			return 1;
		}
		if (i > optind)
			strcat(expr, " ");
		strcat(expr, argv[i]);
	}
	pcap_t *dead = pcap_open_dead_with_tstamp_precision(DLT_EN10MB, snaplen,
							    PCAP_TSTAMP_PRECISION_NANO);
	if (dead == NULL) {
		fprintf(stderr, "nmdump: libpcap: cannot open a dead handle\n");
		return 1;
	}
	struct bpf_program prog;
	bool filtering = expr[0] != '\0';
	if (filtering && pcap_compile(dead, &prog, expr, 1, PCAP_NETMASK_UNKNOWN) < 0) {
		fprintf(stderr, "nmdump: bad filter '%s': %s\n", expr, pcap_geterr(dead));
		return 1;
	}
	pcap_dumper_t *dump = NULL;
	if (file) {
		dump = pcap_dump_open(dead, file);
		if (dump == NULL) {
			fprintf(stderr, "nmdump: %s: %s\n", file, pcap_geterr(dead));
			return 1;
		}
	}

	char err[NMK_ERRBUF_SIZE];
	struct nmk_port *p = nmk_port_open(port, err);
	if (p == NULL) {
		fprintf(stderr, "nmdump: cannot open %s: %s\n", port, err);
		return 1;
	}
	const struct nmk_port_info *info = nmk_port_info(p);
	uint64_t drops0 = nmk_port_rx_dropped(p);
	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	signal(SIGPIPE, on_signal);
	if (!quiet)
		fprintf(stderr, "nmdump: listening on %s, link-type EN10MB (Ethernet), snapshot length %d bytes\n",
			info->name, snaplen);

	static uint8_t frame[FRAME_MAX];
	uint32_t flen = 0;
	uint64_t seen = 0, matched = 0, truncated = 0;
	while (!stop && (count < 0 || (long)matched < count)) {
		int r = nmk_port_poll(p, POLLIN, 500);
		if (r < 0 && r != -EINTR) {
			fprintf(stderr, "nmdump: %s: %s\n", port, nmk_strerror(r));
			break;
		}
		if (r > 0 && (r & POLLHUP)) {
			fprintf(stderr, "nmdump: nmkitd went away\n");
			break;
		}
		for (uint32_t ri = info->first_rx_ring; ri < info->last_rx_ring; ri++) {
			struct netmap_ring *rx = nmk_port_rxring(p, ri);
			while (!nm_ring_empty(rx) && (count < 0 || (long)matched < count)) {
				struct netmap_slot *s = &rx->slot[rx->head];
				uint32_t len = s->len;
				if (flen + len > FRAME_MAX) {
					len = FRAME_MAX - flen;
					truncated++;
				}
				memcpy(frame + flen, NETMAP_BUF(rx, s->buf_idx), len);
				flen += len;
				bool more = s->flags & NS_MOREFRAG;
				rx->head = rx->cur = nm_ring_next(rx, rx->head);
				/* Zero-length slots are filler (a sender died
				 * while it held them): not frames. */
				if (more || flen == 0)
					continue;
				seen++;
				struct pcap_pkthdr h;
				struct timespec ts;
				clock_gettime(CLOCK_REALTIME, &ts);
				h.ts.tv_sec = ts.tv_sec;
				h.ts.tv_usec = ts.tv_nsec; /* nanoseconds: the handle is NANO */
				h.caplen = flen < (uint32_t)snaplen ? flen : (uint32_t)snaplen;
				h.len = flen;
				if (!filtering || pcap_offline_filter(&prog, &h, frame)) {
					matched++;
					if (dump)
						pcap_dump((u_char *)dump, &h, frame);
					else
						print_frame(&ts, frame, flen);
				}
				flen = 0;
			}
		}
		if (dump)
			pcap_dump_flush(dump);
		else
			fflush(stdout);
	}
	uint64_t dropped = nmk_port_rx_dropped(p) - drops0;
	nmk_port_close(p);
	if (dump)
		pcap_dump_close(dump);
	if (filtering)
		pcap_freecode(&prog);
	pcap_close(dead);
	if (!quiet) {
		fprintf(stderr, "%" PRIu64 " packets captured\n", matched);
		fprintf(stderr, "%" PRIu64 " packets received by filter\n", seen);
		fprintf(stderr, "%" PRIu64 " packets dropped by the port (its ring was full)\n", dropped);
		if (truncated)
			fprintf(stderr, "%" PRIu64 " packets longer than %d bytes truncated\n", truncated,
				FRAME_MAX);
	}
	return 0;
}
