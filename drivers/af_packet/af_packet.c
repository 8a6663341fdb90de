/*
 * af_packet.c - the "afpacket" driver plugin (alias "packet"): a Linux
 * network interface seen through AF_PACKET sockets, beside the kernel's own
 * use of it.
 *
 * One socket per ring pair.  With more than one pair the sockets join one
 * PACKET_FANOUT group, so that the kernel spreads received frames over them
 * (by flow hash, round robin or CPU).
 *
 * Receive: a TPACKET_V3 ring (PACKET_RX_RING) mapped into the process.  The
 * kernel fills blocks of frames and hands a block over when it is full or
 * when the retire timeout expires; rxsync walks the blocks in order, copies
 * frames into netmap buffers and gives each block back once all of its
 * frames are taken.  PACKET_IGNORE_OUTGOING, and a check of sll_pkttype for
 * kernels without it, keep a port from receiving what it sent.
 *
 * Transmit, tx=mmsg (the default): sendmmsg() straight from the netmap
 * buffers (one iovec per slot, so NS_MOREFRAG chains need no copy in user
 * space), with PACKET_QDISC_BYPASS by default.
 *
 * Transmit, tx=ring: a TPACKET_V2 TX ring (PACKET_TX_RING).  A TPACKET_V3
 * socket cannot also carry a V2 TX ring, so each ring pair gets a second
 * socket, bound with protocol 0 so that it receives nothing.  txsync copies
 * frames into free ring frames, marks them TP_STATUS_SEND_REQUEST and kicks
 * the kernel with one send() per call.  A slot is reported as taken only
 * once the kernel has picked its frame up, so a kick cut short (socket
 * buffer full) leaves those slots pending and the next txsync kicks again,
 * instead of frames lingering in the ring with nobody to push them.
 *
 * mmsg is the default because it measured faster: on a veth pair, one
 * core, batches of 512, it sent 4% more 60-byte frames and 20% more
 * 1500-byte frames than the ring, whose copy per frame costs more than the
 * system calls it saves.
 *
 * Nothing here blocks: the sockets are non-blocking and MSG_DONTWAIT is
 * passed anyway.  Control calls report errors as a negative errno plus a
 * message; the fast path never prints.
 */
#define _GNU_SOURCE

#include <errno.h>
#include <limits.h>
#include <linux/if_packet.h>
#include <net/ethernet.h>
#include <net/if.h>
#include <net/if_arp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include <arpa/inet.h>

#include <nmkit/nmk_driver.h>
#include <net/netmap.h>

#define AFP_NAME        "afpacket"
#define AFP_MAX_RINGS   64u
#define AFP_DEF_SLOTS   1024u
#define AFP_ETH_HLEN    14u
#define AFP_BATCH       64              /* frames per sendmmsg() */
#define AFP_IOV_MAX     256             /* iovecs per sendmmsg() batch */

/* Terse help: nmk_driver_list() shows all of them in 256 bytes. */
static const struct nmk_driver_param afp_params[] = {
	{ "rings", "ring pairs, 1..64", "1" },
	{ "fanout", "hash|lb|cpu", "hash" },
	{ "promisc", "0|1", "1" },
	{ "qdisc_bypass", "0|1", "1" },
	{ "block_size", "RX block bytes, power of 2", "262144" },
	{ "block_nr", "RX blocks, 2..65536", "16" },
	{ "retire_ms", "RX block timeout, 1..1000", "1" },
	{ "tx", "mmsg|ring", "mmsg" },
	{ NULL, NULL, NULL },
};

static const char *const afp_aliases[] = { "packet", NULL };

/* One frame queued by txsync in tx=ring mode. */
struct afp_txent {
	uint32_t frame;                 /* ring frame, or AFP_TX_DROP */
	uint32_t nslots, bytes;
};
#define AFP_TX_DROP     UINT32_MAX
#define AFP_TX_RINGMAX  (8u << 20)      /* bytes of TX ring per ring pair, at most */

struct afp_ring {
	int fd;
	uint8_t *map;                   /* the TPACKET_V3 RX ring */
	size_t maplen;
	uint32_t blk_size, blk_nr;
	uint32_t cur_blk;               /* the block rxsync reads next */
	uint8_t *pkt;                   /* next frame in cur_blk, or NULL */
	uint32_t left;                  /* frames not yet read in cur_blk */
	/* tx=ring only: the TPACKET_V2 TX socket and its ring. */
	int txfd;
	uint8_t *txmap;
	size_t txmaplen;
	uint32_t tx_fsize, tx_fnr;      /* frame size and count */
	uint32_t tx_fill;               /* the ring frame txsync fills next */
	/* Frames given to the ring (or dropped) but whose slots are not yet
	 * reported taken, oldest first: a circular queue of txq_cap. */
	struct afp_txent *txq;
	uint32_t txq_cap, txq_head, txq_len;
	uint32_t tx_inring;             /* entries of txq that hold a ring frame */
	/* Per ring, so that rings synced by different threads never share a
	 * counter; stats() sums them. */
	uint64_t rx_packets, rx_bytes, rx_dropped;
	uint64_t tx_packets, tx_bytes, tx_dropped;
};

struct nmk_driver_port {
	char ifname[IF_NAMESIZE];
	int ifindex;
	uint32_t max_frame;             /* MTU + Ethernet header */
	unsigned nrings;
	struct afp_ring ring[];
};

/* ---------------------------------------------------------------------- */
/* Parameters */

struct afp_conf {
	unsigned rings;
	int fanout;                     /* PACKET_FANOUT_* */
	bool promisc, qdisc_bypass, txring;
	uint32_t block_size, block_nr, retire_ms;
};

/* Strict: decimal digits only, no sign, no blanks, within [lo, hi]. */
static bool parse_uint(const char *s, unsigned long lo, unsigned long hi, unsigned long *out)
{
	unsigned long v = 0;

	if (!s || !*s)
		return false;
	for (; *s; s++) {
		if (*s < '0' || *s > '9')
			return false;
		if (v > (ULONG_MAX - 9) / 10)
			return false;
		v = v * 10 + (unsigned long)(*s - '0');
	}
	if (v < lo || v > hi)
		return false;
	*out = v;
	return true;
}

static int parse_param(struct afp_conf *c, const char *key, const char *val, bool *rings_set,
		       char *err, size_t errlen)
{
	unsigned long v;
	long page = sysconf(_SC_PAGESIZE);

	if (page <= 0)
		page = 4096;
	if (!val)
		val = "";
	if (strcmp(key, "rings") == 0) {
		if (!parse_uint(val, 1, AFP_MAX_RINGS, &v))
			goto bad;
		c->rings = (unsigned)v;
		*rings_set = true;
	} else if (strcmp(key, "fanout") == 0) {
		if (strcmp(val, "hash") == 0)
			c->fanout = PACKET_FANOUT_HASH;
		else if (strcmp(val, "lb") == 0)
			c->fanout = PACKET_FANOUT_LB;
		else if (strcmp(val, "cpu") == 0)
			c->fanout = PACKET_FANOUT_CPU;
		else
			goto bad;
	} else if (strcmp(key, "promisc") == 0 || strcmp(key, "qdisc_bypass") == 0) {
		if (strcmp(val, "0") != 0 && strcmp(val, "1") != 0)
			goto bad;
		if (key[0] == 'p')
			c->promisc = val[0] == '1';
		else
			c->qdisc_bypass = val[0] == '1';
	} else if (strcmp(key, "block_size") == 0) {
		/* The kernel allocates each block as one run of pages. */
		if (!parse_uint(val, (unsigned long)page, 1ul << 30, &v) || (v & (v - 1)) != 0)
			goto bad;
		c->block_size = (uint32_t)v;
	} else if (strcmp(key, "block_nr") == 0) {
		if (!parse_uint(val, 2, 65536, &v))
			goto bad;
		c->block_nr = (uint32_t)v;
	} else if (strcmp(key, "tx") == 0) {
		if (strcmp(val, "mmsg") == 0)
			c->txring = false;
		else if (strcmp(val, "ring") == 0)
			c->txring = true;
		else
			goto bad;
	} else if (strcmp(key, "retire_ms") == 0) {
		if (!parse_uint(val, 1, 1000, &v))
			goto bad;
		c->retire_ms = (uint32_t)v;
	} else {
		nmk_errbuf(err, errlen, "%s: unknown parameter \"%s\"", AFP_NAME, key);
		return -EINVAL;
	}
	return 0;
bad:
	for (const struct nmk_driver_param *p = afp_params; p->key; p++)
		if (strcmp(p->key, key) == 0)
			nmk_errbuf(err, errlen, "%s: bad value \"%s\" for parameter %s (%s)", AFP_NAME,
				val, key, p->help);
	return -EINVAL;
}

/* ---------------------------------------------------------------------- */
/* Control */

static int afp_ifindex(const char *ifname, char *err, size_t errlen)
{
	unsigned idx;

	if (!ifname || !*ifname || strlen(ifname) >= IF_NAMESIZE) {
		nmk_errbuf(err, errlen, "%s: no such interface \"%s\"", AFP_NAME, ifname ? ifname : "");
		return -ENODEV;
	}
	idx = if_nametoindex(ifname);
	if (idx == 0 || idx > INT_MAX) {
		nmk_errbuf(err, errlen, "%s: no such interface \"%s\"", AFP_NAME, ifname);
		return -ENODEV;
	}
	return (int)idx;
}

static int afp_probe(const char *ifname, char *err, size_t errlen)
{
	int r = afp_ifindex(ifname, err, errlen);

	return r < 0 ? r : 0;
}

static void ring_close(struct afp_ring *r)
{
	if (r->map)
		munmap(r->map, r->maplen);
	if (r->fd >= 0)
		close(r->fd);
	if (r->txmap)
		munmap(r->txmap, r->txmaplen);
	if (r->txfd >= 0)
		close(r->txfd);
	free(r->txq);
	r->map = NULL;
	r->fd = -1;
	r->txmap = NULL;
	r->txfd = -1;
	r->txq = NULL;
}

static void afp_close(struct nmk_driver_port *p)
{
	if (!p)
		return;
	for (unsigned i = 0; i < p->nrings; i++)
		ring_close(&p->ring[i]);
	free(p);
}

/* Set up one ring's socket; the order matters: the socket binds to
 * ETH_P_ALL only once the ring exists, so no frame is queued outside it. */
static int ring_open(struct nmk_driver_port *p, unsigned i, const struct afp_conf *c,
		     int *fanout_arg, char *err, size_t errlen)
{
	struct afp_ring *r = &p->ring[i];
	int one = 1, e;

	r->fd = socket(AF_PACKET, SOCK_RAW | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (r->fd < 0) {
		e = errno;
		nmk_errbuf(err, errlen, "%s:%s: AF_PACKET socket: %s%s", AFP_NAME, p->ifname,
			strerror(e), e == EPERM ? " (CAP_NET_RAW is needed)" : "");
		return -e;
	}
	int ver = TPACKET_V3;
	if (setsockopt(r->fd, SOL_PACKET, PACKET_VERSION, &ver, sizeof ver) < 0) {
		e = errno;
		nmk_errbuf(err, errlen, "%s:%s: PACKET_VERSION TPACKET_V3: %s", AFP_NAME, p->ifname,
			strerror(e));
		return -e;
	}

	/* tp_frame_* do not bound frame sizes in V3, but the kernel still
	 * checks that they describe the blocks exactly. */
	struct tpacket_req3 req;
	memset(&req, 0, sizeof req);
	req.tp_block_size = c->block_size;
	req.tp_block_nr = c->block_nr;
	req.tp_frame_size = 2048;
	req.tp_frame_nr = (c->block_size / 2048) * c->block_nr;
	req.tp_retire_blk_tov = c->retire_ms;
	if (setsockopt(r->fd, SOL_PACKET, PACKET_RX_RING, &req, sizeof req) < 0) {
		e = errno;
		nmk_errbuf(err, errlen, "%s:%s: PACKET_RX_RING (%u blocks of %u bytes): %s", AFP_NAME,
			p->ifname, c->block_nr, c->block_size, strerror(e));
		return -e;
	}
	r->blk_size = c->block_size;
	r->blk_nr = c->block_nr;
	r->maplen = (size_t)c->block_size * c->block_nr;
	void *m = mmap(NULL, r->maplen, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_LOCKED, r->fd, 0);
	if (m == MAP_FAILED)    /* MAP_LOCKED may exceed RLIMIT_MEMLOCK: try without */
		m = mmap(NULL, r->maplen, PROT_READ | PROT_WRITE, MAP_SHARED, r->fd, 0);
	if (m == MAP_FAILED) {
		e = errno;
		nmk_errbuf(err, errlen, "%s:%s: mmap of the RX ring: %s", AFP_NAME, p->ifname,
			strerror(e));
		return -e;
	}
	r->map = m;

	if (c->qdisc_bypass &&
	    setsockopt(r->fd, SOL_PACKET, PACKET_QDISC_BYPASS, &one, sizeof one) < 0) {
		e = errno;
		nmk_errbuf(err, errlen, "%s:%s: PACKET_QDISC_BYPASS: %s", AFP_NAME, p->ifname,
			strerror(e));
		return -e;
	}
	/* Before Linux 4.20 the option does not exist; rxsync filters too. */
	(void)setsockopt(r->fd, SOL_PACKET, PACKET_IGNORE_OUTGOING, &one, sizeof one);

	struct sockaddr_ll sll;
	memset(&sll, 0, sizeof sll);
	sll.sll_family = AF_PACKET;
	sll.sll_protocol = htons(ETH_P_ALL);
	sll.sll_ifindex = p->ifindex;
	if (bind(r->fd, (struct sockaddr *)&sll, sizeof sll) < 0) {
		e = errno;
		nmk_errbuf(err, errlen, "%s:%s: bind: %s", AFP_NAME, p->ifname, strerror(e));
		return e == ENODEV ? -ENODEV : -e;
	}

	/* The first socket asks the kernel for a group id nobody uses (ids
	 * are shared by the whole namespace, and a guessed one could join a
	 * stranger's group); the others join that id. */
	if (p->nrings > 1) {
		int arg = i == 0 ? (c->fanout | PACKET_FANOUT_FLAG_UNIQUEID) << 16 : *fanout_arg;
		if (setsockopt(r->fd, SOL_PACKET, PACKET_FANOUT, &arg, sizeof arg) < 0) {
			e = errno;
			nmk_errbuf(err, errlen, "%s:%s: PACKET_FANOUT: %s", AFP_NAME, p->ifname,
				strerror(e));
			return -e;
		}
		if (i == 0) {
			socklen_t len = sizeof arg;
			if (getsockopt(r->fd, SOL_PACKET, PACKET_FANOUT, &arg, &len) < 0) {
				e = errno;
				nmk_errbuf(err, errlen, "%s:%s: reading the PACKET_FANOUT id: %s",
					AFP_NAME, p->ifname, strerror(e));
				return -e;
			}
			*fanout_arg = (arg & 0xffff) | (c->fanout << 16);
		}
	}

	/* Membership is counted by the kernel and dropped with the socket,
	 * so the interface leaves promiscuous mode when the last user goes. */
	if (c->promisc && i == 0) {
		struct packet_mreq mr;
		memset(&mr, 0, sizeof mr);
		mr.mr_ifindex = p->ifindex;
		mr.mr_type = PACKET_MR_PROMISC;
		if (setsockopt(r->fd, SOL_PACKET, PACKET_ADD_MEMBERSHIP, &mr, sizeof mr) < 0) {
			e = errno;
			nmk_errbuf(err, errlen, "%s:%s: PACKET_MR_PROMISC: %s", AFP_NAME, p->ifname,
				strerror(e));
			return -e;
		}
	}
	return 0;
}

/* tx=ring: the second socket of ring pair i, with its TPACKET_V2 TX ring.
 * Protocol 0 in bind() sets the device without hooking the socket into
 * reception, so it never queues a received frame. */
static int txring_open(struct nmk_driver_port *p, unsigned i, const struct afp_conf *c,
		       uint32_t tx_slots, char *err, size_t errlen)
{
	struct afp_ring *r = &p->ring[i];
	int one = 1, e;
	long page = sysconf(_SC_PAGESIZE);

	if (page <= 0)
		page = 4096;
	r->txfd = socket(AF_PACKET, SOCK_RAW | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (r->txfd < 0) {
		e = errno;
		nmk_errbuf(err, errlen, "%s:%s: AF_PACKET TX socket: %s", AFP_NAME, p->ifname,
			strerror(e));
		return -e;
	}
	int ver = TPACKET_V2;
	if (setsockopt(r->txfd, SOL_PACKET, PACKET_VERSION, &ver, sizeof ver) < 0) {
		e = errno;
		nmk_errbuf(err, errlen, "%s:%s: PACKET_VERSION TPACKET_V2: %s", AFP_NAME, p->ifname,
			strerror(e));
		return -e;
	}
	/* A malformed frame is skipped, not left blocking the ring. */
	(void)setsockopt(r->txfd, SOL_PACKET, PACKET_LOSS, &one, sizeof one);
	if (c->qdisc_bypass &&
	    setsockopt(r->txfd, SOL_PACKET, PACKET_QDISC_BYPASS, &one, sizeof one) < 0) {
		e = errno;
		nmk_errbuf(err, errlen, "%s:%s: PACKET_QDISC_BYPASS: %s", AFP_NAME, p->ifname,
			strerror(e));
		return -e;
	}

	/* Frames are a power of two that holds the header and the largest
	 * frame, so that they tile the blocks exactly and frame k is at
	 * k * tx_fsize. */
	uint32_t fsize = 2048, bsize = 1u << 16;
	while (fsize < TPACKET2_HDRLEN - sizeof(struct sockaddr_ll) + p->max_frame)
		fsize <<= 1;
	if (bsize < (uint32_t)page)
		bsize = (uint32_t)page;
	if (bsize < fsize)
		bsize = fsize;
	uint32_t fpb = bsize / fsize, fnr = tx_slots;
	if (fnr > AFP_TX_RINGMAX / fsize)
		fnr = AFP_TX_RINGMAX / fsize;
	fnr = (fnr + fpb - 1) / fpb * fpb;
	if (fnr < fpb)
		fnr = fpb;

	struct tpacket_req req;
	memset(&req, 0, sizeof req);
	req.tp_block_size = bsize;
	req.tp_block_nr = fnr / fpb;
	req.tp_frame_size = fsize;
	req.tp_frame_nr = fnr;
	if (setsockopt(r->txfd, SOL_PACKET, PACKET_TX_RING, &req, sizeof req) < 0) {
		e = errno;
		nmk_errbuf(err, errlen, "%s:%s: PACKET_TX_RING (%u frames of %u bytes): %s", AFP_NAME,
			p->ifname, fnr, fsize, strerror(e));
		return -e;
	}
	r->txmaplen = (size_t)bsize * req.tp_block_nr;
	void *m = mmap(NULL, r->txmaplen, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_LOCKED,
		       r->txfd, 0);
	if (m == MAP_FAILED)
		m = mmap(NULL, r->txmaplen, PROT_READ | PROT_WRITE, MAP_SHARED, r->txfd, 0);
	if (m == MAP_FAILED) {
		e = errno;
		nmk_errbuf(err, errlen, "%s:%s: mmap of the TX ring: %s", AFP_NAME, p->ifname,
			strerror(e));
		return -e;
	}
	r->txmap = m;
	r->tx_fsize = fsize;
	r->tx_fnr = fnr;
	/* Dropped frames take queue entries too, without a ring frame. */
	r->txq_cap = 2 * fnr;
	r->txq = calloc(r->txq_cap, sizeof r->txq[0]);
	if (!r->txq) {
		nmk_errbuf(err, errlen, "%s: out of memory", AFP_NAME);
		return -ENOMEM;
	}

	struct sockaddr_ll sll;
	memset(&sll, 0, sizeof sll);
	sll.sll_family = AF_PACKET;
	sll.sll_protocol = 0;
	sll.sll_ifindex = p->ifindex;
	if (bind(r->txfd, (struct sockaddr *)&sll, sizeof sll) < 0) {
		e = errno;
		nmk_errbuf(err, errlen, "%s:%s: bind of the TX socket: %s", AFP_NAME, p->ifname,
			strerror(e));
		return e == ENODEV ? -ENODEV : -e;
	}
	return 0;
}

static int afp_open(const struct nmk_driver_open_args *a, struct nmk_driver_port **portp,
		    struct nmk_driver_geometry *geom, char *err, size_t errlen)
{
	struct afp_conf c = {
		.rings = 1, .fanout = PACKET_FANOUT_HASH, .promisc = true, .qdisc_bypass = true,
		.block_size = 1u << 18, .block_nr = 16, .retire_ms = 1,
	};
	bool rings_set = false;
	int r, ifindex;

	nmk_errbuf(err, errlen, "%s", "");
	if (!a || !portp || !geom) {
		nmk_errbuf(err, errlen, "%s: open: NULL argument", AFP_NAME);
		return -EINVAL;
	}
	*portp = NULL;
	for (unsigned i = 0; i < a->nparams; i++) {
		r = parse_param(&c, a->keys[i], a->values[i], &rings_set, err, errlen);
		if (r < 0)
			return r;
	}
	/* Ring pairs: the parameter wins; otherwise what the caller asked. */
	if (!rings_set) {
		uint32_t want = a->rx_rings > a->tx_rings ? a->rx_rings : a->tx_rings;
		if (want > AFP_MAX_RINGS) {
			nmk_errbuf(err, errlen, "%s: %u rings requested, at most %u", AFP_NAME,
				(unsigned)want, AFP_MAX_RINGS);
			return -EINVAL;
		}
		if (want)
			c.rings = want;
	}

	ifindex = afp_ifindex(a->ifname, err, errlen);
	if (ifindex < 0)
		return ifindex;

	/* MTU and address, through any socket: the ioctls only read. */
	int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (s < 0)
		s = socket(AF_PACKET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (s < 0) {
		r = -errno;
		nmk_errbuf(err, errlen, "%s:%s: socket for ioctls: %s", AFP_NAME, a->ifname, strerror(-r));
		return r;
	}
	struct ifreq ifr;
	memset(&ifr, 0, sizeof ifr);
	snprintf(ifr.ifr_name, sizeof ifr.ifr_name, "%s", a->ifname);
	if (ioctl(s, SIOCGIFMTU, &ifr) < 0) {
		r = -errno;
		close(s);
		nmk_errbuf(err, errlen, "%s:%s: SIOCGIFMTU: %s", AFP_NAME, a->ifname, strerror(-r));
		return r;
	}
	int mtu = ifr.ifr_mtu;
	memset(geom, 0, sizeof *geom);
	memset(&ifr, 0, sizeof ifr);
	snprintf(ifr.ifr_name, sizeof ifr.ifr_name, "%s", a->ifname);
	if (ioctl(s, SIOCGIFHWADDR, &ifr) == 0 && ifr.ifr_hwaddr.sa_family == ARPHRD_ETHER)
		memcpy(geom->mac, ifr.ifr_hwaddr.sa_data, 6);
	close(s);
	if (mtu <= 0 || (uint64_t)mtu + AFP_ETH_HLEN > UINT16_MAX) {
		/* netmap slots carry 16-bit lengths. */
		mtu = mtu <= 0 ? 1500 : (int)(UINT16_MAX - AFP_ETH_HLEN);
	}
	uint32_t max_frame = (uint32_t)mtu + AFP_ETH_HLEN;
	/* A V3 block must hold the largest frame plus its headers. */
	if (c.block_size < max_frame + 256) {
		nmk_errbuf(err, errlen, "%s:%s: block_size %u cannot hold a %u-byte frame", AFP_NAME,
			a->ifname, c.block_size, max_frame);
		return -EINVAL;
	}

	struct nmk_driver_port *p = calloc(1, sizeof *p + c.rings * sizeof p->ring[0]);
	if (!p) {
		nmk_errbuf(err, errlen, "%s: out of memory", AFP_NAME);
		return -ENOMEM;
	}
	snprintf(p->ifname, sizeof p->ifname, "%s", a->ifname);
	p->ifindex = ifindex;
	p->max_frame = max_frame;
	p->nrings = c.rings;
	for (unsigned i = 0; i < c.rings; i++)
		p->ring[i].fd = p->ring[i].txfd = -1;

	int fanout_arg = 0;
	r = 0;
	uint32_t tx_slots = a->tx_slots ? a->tx_slots : AFP_DEF_SLOTS;
	for (unsigned i = 0; r == 0 && i < c.rings; i++) {
		r = ring_open(p, i, &c, &fanout_arg, err, errlen);
		if (r == 0 && c.txring)
			r = txring_open(p, i, &c, tx_slots, err, errlen);
	}
	if (r < 0) {
		afp_close(p);
		return r;
	}

	geom->tx_rings = geom->rx_rings = c.rings;
	geom->tx_slots = tx_slots;
	geom->rx_slots = a->rx_slots ? a->rx_slots : AFP_DEF_SLOTS;
	geom->mtu = max_frame;
	*portp = p;
	return 0;
}

static int afp_stats(struct nmk_driver_port *p, struct nmk_driver_stats *st)
{
	if (!p || !st)
		return -EINVAL;
	memset(st, 0, sizeof *st);
	for (unsigned i = 0; i < p->nrings; i++) {
		struct afp_ring *r = &p->ring[i];
		struct tpacket_stats_v3 ks;
		socklen_t len = sizeof ks;

		/* The kernel resets its counters on every read: keep a sum. */
		memset(&ks, 0, sizeof ks);
		if (getsockopt(r->fd, SOL_PACKET, PACKET_STATISTICS, &ks, &len) == 0)
			__atomic_fetch_add(&r->rx_dropped, ks.tp_drops, __ATOMIC_RELAXED);
		st->rx_packets += r->rx_packets;
		st->rx_bytes += r->rx_bytes;
		st->rx_dropped += __atomic_load_n(&r->rx_dropped, __ATOMIC_RELAXED);
		st->tx_packets += r->tx_packets;
		st->tx_bytes += r->tx_bytes;
		st->tx_dropped += r->tx_dropped;
	}
	return 0;
}

/* One interface name per line; returns how many, or -ENOSPC when buf was
 * too small (it then holds the names that fit). */
static int afp_list(char *buf, size_t len)
{
	struct if_nameindex *ni = if_nameindex();
	size_t off = 0;
	int n = 0, r = 0;

	if (buf && len)
		buf[0] = '\0';
	if (!ni)
		return -errno;
	for (struct if_nameindex *i = ni; i->if_index != 0 && i->if_name; i++) {
		size_t l = strlen(i->if_name);
		if (!buf || off + l + 2 > len) {
			r = -ENOSPC;
			break;
		}
		memcpy(buf + off, i->if_name, l);
		off += l;
		buf[off++] = '\n';
		buf[off] = '\0';
		n++;
	}
	if_freenameindex(ni);
	return r < 0 ? r : n;
}

static int afp_pollfd(struct nmk_driver_port *p, unsigned ring, int tx)
{
	if (!p || ring >= p->nrings)
		return -EINVAL;
	/* With tx=mmsg one socket carries both directions. */
	if (tx && p->ring[ring].txfd >= 0)
		return p->ring[ring].txfd;
	return p->ring[ring].fd;
}

/* ---------------------------------------------------------------------- */
/* Fast path */

static int afp_rxsync(struct nmk_driver_port *p, unsigned ring, const struct nmk_driver_ring *dr,
		      uint32_t from, uint32_t room)
{
	if (!p || !dr || ring >= p->nrings)
		return -EINVAL;
	struct afp_ring *r = &p->ring[ring];
	struct netmap_ring *nr = dr->ring;
	uint32_t ns = dr->num_slots, n = 0, i = from;

	if (from >= ns)
		return -EINVAL;
	if (room > ns)
		room = ns;

	while (n < room) {
		struct tpacket_block_desc *bd =
			(struct tpacket_block_desc *)(r->map + (size_t)r->cur_blk * r->blk_size);

		if (!r->pkt) {
			/* Acquire: the block's frames are complete once we see its status. */
			uint32_t st = __atomic_load_n(&bd->hdr.bh1.block_status, __ATOMIC_ACQUIRE);
			if (!(st & TP_STATUS_USER))
				break;
			r->left = bd->hdr.bh1.num_pkts;
			r->pkt = (uint8_t *)bd + bd->hdr.bh1.offset_to_first_pkt;
		}
		if (r->left > 0) {
			struct tpacket3_hdr *h = (struct tpacket3_hdr *)r->pkt;
			const struct sockaddr_ll *sll = (const struct sockaddr_ll *)
				(r->pkt + TPACKET_ALIGN(sizeof(struct tpacket3_hdr)));

			if (sll->sll_pkttype != PACKET_OUTGOING) {
				struct netmap_slot *s = &nr->slot[i];
				const uint8_t *src = r->pkt + h->tp_mac;
				uint32_t len = h->tp_snaplen, bs = dr->buf_size;

				if (s->buf_idx >= dr->nbufs) {
					/* Nowhere to put it: the frame is lost. */
					s->len = 0;
					r->rx_dropped++;
				} else {
					uint8_t *dst = (uint8_t *)dr->bufbase + (size_t)s->buf_idx * bs;
					uint32_t out = 0;

					if (bs > UINT16_MAX)
						bs = UINT16_MAX;
					/* A VLAN tag the device stripped goes back in, so
					 * the frame is as it was on the wire. */
					if ((h->tp_status & TP_STATUS_VLAN_VALID) && len >= 12 &&
					    bs >= 16) {
						uint16_t tpid = (h->tp_status & TP_STATUS_VLAN_TPID_VALID)
							? h->hv1.tp_vlan_tpid : ETHERTYPE_VLAN;
						uint8_t tag[4] = { (uint8_t)(tpid >> 8), (uint8_t)tpid,
								   (uint8_t)(h->hv1.tp_vlan_tci >> 8),
								   (uint8_t)h->hv1.tp_vlan_tci };
						memcpy(dst, src, 12);
						memcpy(dst + 12, tag, 4);
						out = 16;
						src += 12;
						len -= 12;
					}
					if (len > bs - out)
						len = bs - out;
					memcpy(dst + out, src, len);
					out += len;
					s->len = (uint16_t)out;
					r->rx_packets++;
					r->rx_bytes += out;
				}
				s->flags = 0;
				i = nmk_ring_next(i, ns);
				n++;
			}
			r->pkt += h->tp_next_offset;
			r->left--;
		}
		if (r->left == 0) {
			/* Release: our reads of the block are done before the
			 * kernel may refill it. */
			__atomic_store_n(&bd->hdr.bh1.block_status, TP_STATUS_KERNEL, __ATOMIC_RELEASE);
			r->cur_blk = r->cur_blk + 1 == r->blk_nr ? 0 : r->cur_blk + 1;
			r->pkt = NULL;
		}
	}
	return (int)n;
}

/* What one frame of the batch is: how many slots and bytes. */
struct afp_frame {
	uint32_t nslots, bytes;
};

/* tx=ring: the oldest queued frames the kernel has picked up (or that
 * were dropped) give their slots back; returns how many slots. */
static uint32_t txring_reap(struct afp_ring *r)
{
	uint32_t taken = 0;

	while (r->txq_len > 0) {
		const struct afp_txent *q = &r->txq[r->txq_head];
		if (q->frame == AFP_TX_DROP) {
			r->tx_dropped++;
		} else {
			struct tpacket2_hdr *h =
				(struct tpacket2_hdr *)(r->txmap + (size_t)q->frame * r->tx_fsize);
			if (__atomic_load_n(&h->tp_status, __ATOMIC_ACQUIRE) & TP_STATUS_SEND_REQUEST)
				break;  /* not sent yet */
			r->tx_packets++;
			r->tx_bytes += q->bytes;
			r->tx_inring--;
		}
		taken += q->nslots;
		r->txq_head = r->txq_head + 1 == r->txq_cap ? 0 : r->txq_head + 1;
		r->txq_len--;
	}
	return taken;
}

static void txq_push(struct afp_ring *r, uint32_t frame, uint32_t nslots, uint32_t bytes)
{
	uint32_t t = r->txq_head + r->txq_len;

	if (t >= r->txq_cap)
		t -= r->txq_cap;
	r->txq[t] = (struct afp_txent){ .frame = frame, .nslots = nslots, .bytes = bytes };
	r->txq_len++;
}

/* tx=ring, after a kick failed for the device (down, gone): the frames
 * the kernel did not take are dropped, as tx=mmsg drops them, so that the
 * ring does not stall.  The kernel only reads the ring inside send(), so
 * they are ours again; they are the newest ring frames, and filling starts
 * over at the first of them, where the kernel will look next. */
static void txring_unsend(struct afp_ring *r)
{
	uint32_t first = AFP_TX_DROP;

	for (uint32_t k = 0, t = r->txq_head; k < r->txq_len; k++) {
		struct afp_txent *q = &r->txq[t];
		t = t + 1 == r->txq_cap ? 0 : t + 1;
		if (q->frame == AFP_TX_DROP)
			continue;
		struct tpacket2_hdr *h =
			(struct tpacket2_hdr *)(r->txmap + (size_t)q->frame * r->tx_fsize);
		if (!(__atomic_load_n(&h->tp_status, __ATOMIC_ACQUIRE) & TP_STATUS_SEND_REQUEST))
			continue;
		__atomic_store_n(&h->tp_status, TP_STATUS_AVAILABLE, __ATOMIC_RELEASE);
		if (first == AFP_TX_DROP)
			first = q->frame;
		q->frame = AFP_TX_DROP;
		q->bytes = 0;
		r->tx_inring--;
	}
	if (first != AFP_TX_DROP)
		r->tx_fill = first;
}

static int afp_txsync_ring(struct nmk_driver_port *p, struct afp_ring *r,
			   const struct nmk_driver_ring *dr, uint32_t from, uint32_t total)
{
	struct netmap_ring *nr = dr->ring;
	uint32_t ns = dr->num_slots, pos = 0;
	const uint32_t off = TPACKET2_HDRLEN - sizeof(struct sockaddr_ll);

	/* Slots [from, from + pos) are already in the queue from earlier calls. */
	for (uint32_t k = 0, t = r->txq_head; k < r->txq_len; k++) {
		pos += r->txq[t].nslots;
		t = t + 1 == r->txq_cap ? 0 : t + 1;
	}
	while (pos < total && r->txq_len < r->txq_cap) {
		uint32_t i = (from + pos) % ns, cnt = 0, bytes = 0;
		bool bad = false, complete = false;

		for (uint32_t k = 0; pos + k < total; k++) {
			const struct netmap_slot *s = &nr->slot[(i + k) % ns];
			cnt++;
			if (s->buf_idx >= dr->nbufs || s->len > dr->buf_size)
				bad = true;
			else
				bytes += s->len;
			if (!(s->flags & NS_MOREFRAG) || cnt == NETMAP_MAX_FRAGS) {
				if (s->flags & NS_MOREFRAG)
					bad = true;
				complete = true;
				break;
			}
		}
		if (!complete)
			break;  /* the rest of this frame is not queued yet */
		if (bad || bytes < AFP_ETH_HLEN || bytes > p->max_frame) {
			txq_push(r, AFP_TX_DROP, cnt, 0);
			pos += cnt;
			continue;
		}
		if (r->tx_inring == r->tx_fnr)
			break;  /* every frame is ours and unsent */
		struct tpacket2_hdr *h =
			(struct tpacket2_hdr *)(r->txmap + (size_t)r->tx_fill * r->tx_fsize);
		uint32_t st = __atomic_load_n(&h->tp_status, __ATOMIC_ACQUIRE);
		if (st != TP_STATUS_AVAILABLE && st != TP_STATUS_WRONG_FORMAT)
			break;  /* still being sent: the ring is full */
		uint8_t *dst = (uint8_t *)h + off;
		for (uint32_t k = 0; k < cnt; k++) {
			const struct netmap_slot *s = &nr->slot[(i + k) % ns];
			memcpy(dst, dr->bufbase + (size_t)s->buf_idx * dr->buf_size, s->len);
			dst += s->len;
		}
		h->tp_len = bytes;
		h->tp_snaplen = bytes;
		/* Release: the frame's bytes are in place before the kernel sees it. */
		__atomic_store_n(&h->tp_status, TP_STATUS_SEND_REQUEST, __ATOMIC_RELEASE);
		txq_push(r, r->tx_fill, cnt, bytes);
		r->tx_inring++;
		r->tx_fill = r->tx_fill + 1 == r->tx_fnr ? 0 : r->tx_fill + 1;
		pos += cnt;
	}
	/* Kick whenever something is unsent, including frames a previous kick
	 * left behind.  EAGAIN/ENOBUFS mean a full socket buffer or device
	 * queue: those frames stay queued for the next call. */
	if (r->tx_inring > 0) {
		int k;
		while ((k = (int)send(r->txfd, NULL, 0, MSG_DONTWAIT)) < 0 && errno == EINTR)
			;
		if (k < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != ENOBUFS)
			txring_unsend(r);
	}
	return (int)txring_reap(r);
}

static int afp_txsync(struct nmk_driver_port *p, unsigned ring, const struct nmk_driver_ring *dr,
		      uint32_t from, uint32_t to)
{
	if (!p || !dr || ring >= p->nrings)
		return -EINVAL;
	struct afp_ring *r = &p->ring[ring];
	struct netmap_ring *nr = dr->ring;
	uint32_t ns = dr->num_slots;

	if (from >= ns || to >= ns)
		return -EINVAL;

	uint32_t total = to >= from ? to - from : ns - from + to;
	uint32_t taken = 0;
	if (r->txfd >= 0)
		return afp_txsync_ring(p, r, dr, from, total);
	struct mmsghdr msg[AFP_BATCH];
	struct iovec iov[AFP_IOV_MAX];
	struct afp_frame fr[AFP_BATCH];

	while (taken < total) {
		unsigned nmsg = 0, niov = 0;
		uint32_t pos = taken;           /* slots looked at for this batch */
		bool stop = false;              /* an incomplete chain: go no further */

		while (pos < total && nmsg < AFP_BATCH) {
			uint32_t i = (from + pos) % ns, cnt = 0, bytes = 0;
			unsigned iov0 = niov;
			bool bad = false, complete = false, nofit = false;

			while (pos + cnt < total) {
				const struct netmap_slot *s = &nr->slot[(i + cnt) % ns];
				cnt++;
				if (s->buf_idx >= dr->nbufs || s->len > dr->buf_size) {
					bad = true;
				} else if (s->len > 0) {
					if (niov == AFP_IOV_MAX) {
						nofit = true;
					} else {
						iov[niov].iov_base = dr->bufbase +
							(size_t)s->buf_idx * dr->buf_size;
						iov[niov++].iov_len = s->len;
					}
					bytes += s->len;
				}
				if (!(s->flags & NS_MOREFRAG) || cnt == NETMAP_MAX_FRAGS) {
					/* A runaway chain is cut and dropped, as netmap does. */
					if (s->flags & NS_MOREFRAG)
						bad = true;
					complete = true;
					break;
				}
			}
			if (!complete) {
				/* The rest of this frame is not queued yet. */
				niov = iov0;
				stop = true;
				break;
			}
			if (nofit && nmsg > 0) {
				niov = iov0;    /* send the batch first, then retry it */
				break;
			}
			if (bad || nofit || bytes < AFP_ETH_HLEN || bytes > p->max_frame) {
				niov = iov0;
				if (nmsg > 0)
					break;  /* drop it after the frames before it */
				r->tx_dropped++;
				taken += cnt;
				pos = taken;
				continue;
			}
			memset(&msg[nmsg], 0, sizeof msg[nmsg]);
			msg[nmsg].msg_hdr.msg_iov = &iov[iov0];
			msg[nmsg].msg_hdr.msg_iovlen = niov - iov0;
			fr[nmsg].nslots = cnt;
			fr[nmsg].bytes = bytes;
			nmsg++;
			pos += cnt;
		}
		if (nmsg == 0) {
			if (stop || pos == taken)
				break;
			continue;       /* only drops so far: go on */
		}

		int sent = sendmmsg(r->fd, msg, nmsg, MSG_DONTWAIT);
		if (sent < 0) {
			int e = errno;
			if (e == EINTR)
				continue;
			if (e == EAGAIN || e == EWOULDBLOCK || e == ENOBUFS)
				break;  /* full: the rest stay for the next call */
			/* Anything else (link down, device gone, a size the
			 * device refuses) is about this frame: drop it, so
			 * that one bad frame cannot stall the ring. */
			r->tx_dropped++;
			taken += fr[0].nslots;
			continue;
		}
		for (int k = 0; k < sent; k++) {
			r->tx_packets++;
			r->tx_bytes += fr[k].bytes;
			taken += fr[k].nslots;
		}
		if ((unsigned)sent < nmsg || stop)
			break;  /* the socket took no more, or a chain is incomplete */
	}
	return (int)taken;
}

/* ---------------------------------------------------------------------- */

static const struct nmk_driver afp_driver = {
	.size = sizeof(struct nmk_driver),
	.abi = NMK_DRIVER_ABI,
	.name = AFP_NAME,
	.aliases = afp_aliases,
	.description = "Linux AF_PACKET: TPACKET_V3 RX ring, sendmmsg or TPACKET_V2 TX ring, PACKET_FANOUT",
	.params = afp_params,
	.priority = 10,
	.probe = afp_probe,
	.open = afp_open,
	.close = afp_close,
	.stats = afp_stats,
	.list = afp_list,
	.pollfd = afp_pollfd,
	.txsync = afp_txsync,
	.rxsync = afp_rxsync,
};

NMK_DRIVER_ENTRY(afp_driver)
