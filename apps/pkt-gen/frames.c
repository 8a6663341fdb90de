/*
 * frames.c - building and updating pkt-gen's UDP frames.
 *
 * The frame is built once.  Per packet only the fields that change are
 * rewritten, and the checksums are recomputed in constant time: the IPv4
 * header is 20 bytes, and the UDP checksum is the sum of the pseudo header,
 * the UDP header and the payload, whose sum for every possible length is
 * precomputed (the payload itself never changes, except for its first four
 * bytes, which hold txseq's sequence number and are summed apart).
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <arpa/inet.h>
#include <ifaddrs.h>
#include <net/if.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/types.h>
#ifdef __linux__
#include <linux/if_packet.h>
#else
#include <net/if_dl.h>
#endif

#include "frames.h"

#define ETHERTYPE_IPV4 0x0800
#define ETHERTYPE_IPV6 0x86dd
#define PROTO_UDP 17
#define DEFAULT_PORT 1234

/* What fills the payload (repeated); any text would do. */
static const char payload_text[] = "nmkit pkt-gen: a UDP test frame, sent through netmap rings\n";

static inline void put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static inline uint16_t get16(const uint8_t *p)
{
	return (uint16_t)((p[0] << 8) | p[1]);
}

/* ---- checksums ------------------------------------------------------------ */

uint32_t pg_csum_add(uint32_t sum, const void *data, size_t len)
{
	const uint8_t *p = data;
	uint64_t s = sum;
	size_t i;

	for (i = 0; i + 1 < len; i += 2)
		s += get16(p + i);
	if (i < len)
		s += (uint32_t)p[i] << 8;   /* an odd last byte is the high half of a word */
	while (s >> 32)
		s = (s & 0xffffffffu) + (s >> 32);
	return (uint32_t)s;
}

/* Fold to 16 bits and complement: the value of a checksum field. */
uint16_t pg_csum_fold(uint32_t sum)
{
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)~sum;
}

/* ---- addresses ------------------------------------------------------------ */

/* One end of a range: "a.b.c.d[:port]", "[v6][:port]" or "v6". */
static int parse_end(char *s, int af, uint8_t addr[16], uint16_t *port, char *err, size_t errlen)
{
	char *portstr = NULL;

	if (af == AF_INET) {
		portstr = strchr(s, ':');
	} else if (s[0] == '[') {
		char *close = strchr(s, ']');
		if (close == NULL) {
			snprintf(err, errlen, "missing ']' in '%s'", s);
			return -1;
		}
		*close = '\0';
		if (close[1] == ':')
			portstr = close + 1;
		else if (close[1] != '\0') {
			snprintf(err, errlen, "unexpected '%s' after ']'", close + 1);
			return -1;
		}
		s++;
	}
	if (portstr != NULL) {
		char *end;
		*portstr++ = '\0';
		unsigned long v = strtoul(portstr, &end, 0);
		if (*portstr == '\0' || *end != '\0' || v > 65535) {
			snprintf(err, errlen, "bad port '%s'", portstr);
			return -1;
		}
		*port = (uint16_t)v;
	}
	memset(addr, 0, 16);
	if (inet_pton(af, s, addr) != 1) {
		snprintf(err, errlen, "bad %s address '%s'", af == AF_INET ? "IPv4" : "IPv6", s);
		return -1;
	}
	return 0;
}

int pg_range_parse(const char *spec, int af, struct pg_range *r, char *err, size_t errlen)
{
	char buf[256], *hi;
	size_t alen = af == AF_INET ? 4 : 16;

	memset(r, 0, sizeof(*r));
	r->af = af;
	if (strlen(spec) >= sizeof(buf)) {
		snprintf(err, errlen, "address range too long");
		return -1;
	}
	strcpy(buf, spec);
	/* The first '-' splits the two ends (IPv6 addresses have none). */
	hi = strchr(buf, '-');
	if (hi != NULL)
		*hi++ = '\0';
	r->port0 = DEFAULT_PORT;
	if (parse_end(buf, af, r->start, &r->port0, err, errlen) < 0)
		return -1;
	r->port1 = r->port0;
	memcpy(r->end, r->start, 16);
	if (hi != NULL && parse_end(hi, af, r->end, &r->port1, err, errlen) < 0)
		return -1;
	if (memcmp(r->start, r->end, alen) > 0) {
		uint8_t t[16];
		memcpy(t, r->start, 16);
		memcpy(r->start, r->end, 16);
		memcpy(r->end, t, 16);
	}
	if (r->port0 > r->port1) {
		uint16_t t = r->port0;
		r->port0 = r->port1;
		r->port1 = t;
	}
	return 0;
}

bool pg_range_single(const struct pg_range *r)
{
	return !r->random && r->port0 == r->port1 &&
	       memcmp(r->start, r->end, r->af == AF_INET ? 4 : 16) == 0;
}

int pg_mac_parse(const char *s, uint8_t mac[6])
{
	unsigned int v[6];
	char tail;

	if (sscanf(s, "%x:%x:%x:%x:%x:%x%c", &v[0], &v[1], &v[2], &v[3], &v[4], &v[5], &tail) != 6)
		return -1;
	for (int i = 0; i < 6; i++) {
		if (v[i] > 255)
			return -1;
		mac[i] = (uint8_t)v[i];
	}
	return 0;
}

int pg_mac_of_interface(const char *ifname, char *buf, size_t len)
{
	struct ifaddrs *head, *ifa;
	char name[IF_NAMESIZE + 1];
	size_t n;
	int found = -1;

	if (strncmp(ifname, "netmap:", 7) == 0)
		ifname += 7;
	n = strcspn(ifname, "-*^/@{}");
	if (n == 0 || n > IF_NAMESIZE)
		return -1;
	memcpy(name, ifname, n);
	name[n] = '\0';
	if (getifaddrs(&head) != 0)
		return -1;
	for (ifa = head; ifa != NULL; ifa = ifa->ifa_next) {
		const uint8_t *mac;
		if (ifa->ifa_addr == NULL || strcmp(ifa->ifa_name, name) != 0)
			continue;
#ifdef __linux__
		if (ifa->ifa_addr->sa_family != AF_PACKET)
			continue;
		const struct sockaddr_ll *sll = (const struct sockaddr_ll *)(const void *)ifa->ifa_addr;
		if (sll->sll_halen != 6)
			continue;
		mac = sll->sll_addr;
#else
		if (ifa->ifa_addr->sa_family != AF_LINK)
			continue;
		const struct sockaddr_dl *sdl = (const struct sockaddr_dl *)(const void *)ifa->ifa_addr;
		if (sdl->sdl_alen != 6)
			continue;
		mac = (const uint8_t *)LLADDR(sdl);
#endif
		snprintf(buf, len, "%02x:%02x:%02x:%02x:%02x:%02x", mac[0], mac[1], mac[2], mac[3],
			 mac[4], mac[5]);
		found = 0;
		break;
	}
	freeifaddrs(head);
	return found;
}

/* ---- frames --------------------------------------------------------------- */

static uint32_t paylen_of(const struct pg_frame *f)
{
	return f->len > f->pay ? f->len - f->pay : 0;
}

/* Sum of the payload's first `paylen` bytes, in constant time. */
static uint32_t payload_sum(const struct pg_frame *f, uint32_t paylen)
{
	const uint8_t *p = f->data + f->pay;

	if (f->paysum == NULL || paylen <= 4)
		return pg_csum_add(0, p, paylen);
	/* paysum[] was computed with the first 4 bytes as zero. */
	return f->paysum[paylen] + get16(p) + get16(p + 2);
}

static void fix_ip_csum(struct pg_frame *f)
{
	uint8_t *ip = f->data + PG_ETH_LEN;

	if (f->af != AF_INET)
		return;     /* IPv6 has no header checksum */
	put16(ip + 10, 0);
	put16(ip + 10, pg_csum_fold(pg_csum_add(0, ip, 20)));
}

static void fix_udp_csum(struct pg_frame *f)
{
	uint8_t *ip = f->data + PG_ETH_LEN, *udp = f->data + f->l4;
	uint32_t paylen = paylen_of(f), udplen = PG_UDP_LEN + paylen, sum;

	/* Pseudo header: addresses, protocol, UDP length. */
	if (f->af == AF_INET)
		sum = pg_csum_add(0, ip + 12, 8);
	else
		sum = pg_csum_add(0, ip + 8, 32);
	sum += PROTO_UDP + udplen;
	put16(udp + 6, 0);
	sum = pg_csum_add(sum, udp, PG_UDP_LEN);
	sum += payload_sum(f, paylen);
	uint16_t c = pg_csum_fold(sum);
	put16(udp + 6, c == 0 ? 0xffff : c);   /* 0 means "no checksum" in UDP */
}

static void write_lengths(struct pg_frame *f)
{
	uint8_t *ip = f->data + PG_ETH_LEN, *udp = f->data + f->l4;
	uint32_t paylen = paylen_of(f), udplen = PG_UDP_LEN + paylen;

	if (f->af == AF_INET)
		put16(ip + 2, (uint16_t)(20 + udplen));
	else
		put16(ip + 4, (uint16_t)udplen);
	put16(udp + 4, (uint16_t)udplen);
}

static void write_addrs(struct pg_frame *f)
{
	uint8_t *ip = f->data + PG_ETH_LEN, *udp = f->data + f->l4;

	if (f->af == AF_INET) {
		memcpy(ip + 12, f->cur_src, 4);
		memcpy(ip + 16, f->cur_dst, 4);
	} else {
		memcpy(ip + 8, f->cur_src, 16);
		memcpy(ip + 24, f->cur_dst, 16);
	}
	put16(udp, f->cur_sport);
	put16(udp + 2, f->cur_dport);
}

int pg_frame_init(struct pg_frame *f, const struct pg_frame_conf *c)
{
	uint32_t iplen = c->af == AF_INET ? 20 : 40;

	memset(f, 0, sizeof(*f));
	f->af = c->af;
	f->l4 = PG_ETH_LEN + iplen;
	f->pay = f->l4 + PG_UDP_LEN;
	f->max_len = f->len = c->len;
	/* Room for the headers and the sequence number even in a frame cut
	 * shorter than them. */
	f->alloc = c->len > f->pay + 64 ? c->len : f->pay + 64;
	f->data = calloc(1, f->alloc);
	if (f->data == NULL)
		return -1;
	f->src = *c->src;
	f->dst = *c->dst;
	memcpy(f->cur_src, f->src.start, 16);
	memcpy(f->cur_dst, f->dst.start, 16);
	f->cur_sport = f->src.port0;
	f->cur_dport = f->dst.port0;
	f->moving = !pg_range_single(&f->src) || !pg_range_single(&f->dst);
	f->seed[0] = (unsigned short)c->seed;
	f->seed[1] = (unsigned short)(c->seed >> 16);
	f->seed[2] = 0x330e;

	/* Payload, then the sums of its prefixes. */
	uint32_t maxpay = f->alloc - f->pay;
	for (uint32_t i = 0; i < maxpay; i++)
		f->data[f->pay + i] = (uint8_t)payload_text[i % (sizeof(payload_text) - 1)];
	f->paysum = malloc(((size_t)maxpay + 1) * sizeof(uint32_t));
	if (f->paysum == NULL) {
		pg_frame_free(f);
		return -1;
	}
	uint32_t s = 0;
	f->paysum[0] = 0;
	for (uint32_t i = 0; i < maxpay; i++) {
		uint32_t b = i < 4 ? 0 : f->data[f->pay + i];
		s += (i & 1) ? b : b << 8;
		f->paysum[i + 1] = s;
	}

	/* Ethernet. */
	memcpy(f->data, c->dst_mac, 6);
	memcpy(f->data + 6, c->src_mac, 6);
	put16(f->data + 12, c->af == AF_INET ? ETHERTYPE_IPV4 : ETHERTYPE_IPV6);
	/* IP. */
	uint8_t *ip = f->data + PG_ETH_LEN;
	if (c->af == AF_INET) {
		ip[0] = 0x45;               /* version 4, 5 words */
		ip[1] = 0x10;               /* TOS: low delay */
		put16(ip + 4, 0);           /* id */
		put16(ip + 6, 0x4000);      /* don't fragment */
		ip[8] = 64;                 /* TTL */
		ip[9] = PROTO_UDP;
	} else {
		ip[0] = 0x60;               /* version 6, no traffic class or flow */
		ip[6] = PROTO_UDP;
		ip[7] = 64;                 /* hop limit */
	}
	write_addrs(f);
	write_lengths(f);
	fix_ip_csum(f);
	fix_udp_csum(f);
	/* What can change: the IP and UDP headers and the sequence number. */
	f->dirty_lo = PG_ETH_LEN;
	f->dirty_hi = f->pay + 4;
	return 0;
}

int pg_frame_init_raw(struct pg_frame *f, const uint8_t *bytes, uint32_t len)
{
	memset(f, 0, sizeof(*f));
	f->raw = true;
	f->alloc = len ? len : 1;
	f->data = malloc(f->alloc);
	if (f->data == NULL)
		return -1;
	memcpy(f->data, bytes, len);
	f->max_len = f->len = len;
	return 0;
}

void pg_frame_free(struct pg_frame *f)
{
	free(f->data);
	free(f->paysum);
	f->data = NULL;
	f->paysum = NULL;
}

void pg_frame_set_len(struct pg_frame *f, uint32_t len)
{
	if (len > f->max_len)
		len = f->max_len;
	f->len = len;
	if (f->raw)
		return;
	write_lengths(f);
	fix_ip_csum(f);
	fix_udp_csum(f);
}

void pg_frame_set_seq(struct pg_frame *f, uint32_t seq)
{
	uint8_t *p = f->data + f->pay;

	if (f->raw || f->len < f->pay + 4)
		return;
	put16(p, (uint16_t)(seq >> 16));
	put16(p + 2, (uint16_t)seq);
	fix_udp_csum(f);
}

uint32_t pg_frame_rand(struct pg_frame *f)
{
	return (uint32_t)nrand48(f->seed) ^ ((uint32_t)nrand48(f->seed) << 16);
}

/* 128-bit (or 32-bit) big-endian increment. */
static void addr_inc(uint8_t *a, size_t len)
{
	for (size_t i = len; i-- > 0;)
		if (++a[i] != 0)
			break;
}

/* One step of one end; returns true when it wrapped (the next end moves too). */
static bool step(struct pg_frame *f, const struct pg_range *r, uint8_t *addr, uint16_t *port)
{
	size_t alen = f->af == AF_INET ? 4 : 16;

	if (r->random) {
		uint32_t v = pg_frame_rand(f);
		memcpy(addr + alen - 4, &v, 4);
		*port = (uint16_t)pg_frame_rand(f);
		return true;
	}
	if (*port < r->port1) {
		(*port)++;
		return false;
	}
	*port = r->port0;
	if (memcmp(addr, r->end, alen) < 0) {
		addr_inc(addr, alen);
		return false;
	}
	memcpy(addr, r->start, alen);
	return true;
}

void pg_frame_next_addr(struct pg_frame *f)
{
	if (f->raw || !f->moving)
		return;
	/* An odometer: source port, source address, destination port,
	 * destination address. */
	if (step(f, &f->src, f->cur_src, &f->cur_sport))
		step(f, &f->dst, f->cur_dst, &f->cur_dport);
	write_addrs(f);
	fix_ip_csum(f);
	fix_udp_csum(f);
}
