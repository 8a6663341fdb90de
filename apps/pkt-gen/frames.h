/*
 * frames.h - pkt-gen's frames: Ethernet + IPv4/IPv6 + UDP, built once and
 * then changed in place from packet to packet (addresses and ports that
 * walk a range or are random, the length, a sequence number), with the
 * checksums kept right.  No netmap here: the caller copies the bytes into
 * ring buffers.
 */
#ifndef PKTGEN_FRAMES_H
#define PKTGEN_FRAMES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define PG_MAX_FRAME 65536      /* -l upper bound, as netmap's pkt-gen */
#define PG_MIN_FRAME 16         /* -l lower bound */

/* Offsets in a frame: Ethernet header, then IPv4 (20) or IPv6 (40), then UDP. */
#define PG_ETH_LEN   14
#define PG_UDP_LEN   8

/*
 * An address and port range, "addr[:port][-addr[:port]]" (IPv6 addresses
 * with a port in brackets: "[fd00::1]:1234").  Addresses are kept in
 * network byte order (IPv4 in the first 4 bytes).  The range is walked like
 * an odometer, the port first.
 */
struct pg_range {
	int af;                    /* AF_INET or AF_INET6 */
	uint8_t start[16], end[16];
	uint16_t port0, port1;     /* host order, port0 <= port1 */
	bool random;               /* -z / -Z: random address and port per packet */
};

/* Parse `spec` into `r`.  Returns 0, or -1 with a message in err. */
int pg_range_parse(const char *spec, int af, struct pg_range *r, char *err, size_t errlen);
/* Whether the range holds exactly one address and one port (and is not random). */
bool pg_range_single(const struct pg_range *r);

/* "aa:bb:cc:dd:ee:ff" -> 6 bytes; returns 0 or -1. */
int pg_mac_parse(const char *s, uint8_t mac[6]);
/* The MAC of interface `ifname` (without the "netmap:" prefix and ring
 * suffixes), as "aa:bb:cc:dd:ee:ff"; returns 0, or -1 if there is none. */
int pg_mac_of_interface(const char *ifname, char *buf, size_t len);

/* What a frame is made of. */
struct pg_frame_conf {
	int af;
	uint8_t src_mac[6], dst_mac[6];
	const struct pg_range *src, *dst;
	uint32_t len;              /* the largest length the frame will have */
	uint32_t seed;             /* for the random choices */
};

/*
 * A frame template.  data[0 .. max_len) always holds the frame as it should
 * be sent now (with the current length, addresses, sequence number and
 * checksums); bytes that change from packet to packet all lie in
 * [dirty_lo, dirty_hi), so a buffer that already holds an earlier version
 * of the frame needs only that span copied again.
 */
struct pg_frame {
	uint8_t *data;
	uint32_t alloc;            /* bytes of data (>= max_len, >= the headers) */
	uint32_t max_len, len;
	int af;
	bool raw;                  /* a frame from a pcap file: never changed */
	bool moving;               /* addresses/ports change per packet */
	uint32_t l4, pay;          /* offsets of the UDP header and payload */
	uint32_t dirty_lo, dirty_hi;
	uint32_t *paysum;          /* prefix sums of the payload, see frames.c */
	struct pg_range src, dst;
	uint8_t cur_src[16], cur_dst[16];
	uint16_t cur_sport, cur_dport;
	unsigned short seed[3];
};

/* Build a UDP frame.  Returns 0 or -1 (out of memory). */
int pg_frame_init(struct pg_frame *f, const struct pg_frame_conf *c);
/* Take a frame as it is (pkt-gen -P): it is never modified. */
int pg_frame_init_raw(struct pg_frame *f, const uint8_t *bytes, uint32_t len);
void pg_frame_free(struct pg_frame *f);

/* Set the current length (<= max_len): length fields and checksums follow. */
void pg_frame_set_len(struct pg_frame *f, uint32_t len);
/* Write a 32-bit big-endian sequence number at the start of the payload
 * (when the frame is long enough), fixing the UDP checksum. */
void pg_frame_set_seq(struct pg_frame *f, uint32_t seq);
/* Move to the next source/destination address and port (ranges, -z, -Z). */
void pg_frame_next_addr(struct pg_frame *f);
/* A random number from the frame's generator (for random lengths). */
uint32_t pg_frame_rand(struct pg_frame *f);

/* Internet checksum helpers (exposed for tests and for ping/pong). */
uint32_t pg_csum_add(uint32_t sum, const void *data, size_t len);
uint16_t pg_csum_fold(uint32_t sum);

#endif /* PKTGEN_FRAMES_H */
