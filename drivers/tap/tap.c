/*
 * tap.c - the "tap" driver plugin: a Linux tap device (/dev/net/tun,
 * IFF_TAP) as a netmap port.  Frames written to the tap file descriptor are
 * received by the kernel stack on the tap interface, and what the stack
 * sends on the interface is read from the descriptor: the port is the
 * "wire" side of the tap.
 *
 * One ring pair: a tap queue is one file descriptor, read() and write()
 * carry one frame each, and writev() gathers an NS_MOREFRAG chain into one
 * frame without a copy in user space.
 *
 * Taps this driver creates are IFF_MULTI_QUEUE, so that a second opener
 * (another port, tcpdump on a pcap driver, a VM) attaches a queue of its
 * own beside ours instead of getting EBUSY.  An existing tap is attached to
 * with the flags it already has: TUNSETIFF rewrites the device's feature
 * flags for every queue, so asking for others would change the framing
 * under its other users.  That is why the packet-information header and the
 * virtio-net header are handled here when an existing tap uses them (zeroed
 * on transmit: no offloads asked for; skipped on receive).
 *
 * A tap we create without persist=1 disappears when our descriptor is
 * closed; the descriptor keeps working when the interface is moved to
 * another network namespace.
 */
#define _GNU_SOURCE

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/if_tun.h>
#include <net/if.h>
#include <net/if_arp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include <nmkit/nmk_driver.h>
#include <net/netmap.h>

#define TAP_NAME        "tap"
#define TAP_DEF_SLOTS   1024u
#define TAP_ETH_HLEN    14u
#define TAP_HDR_MAX     32u             /* PI (4) + virtio-net header (10..20) */
#define TAP_IOV_MAX     (NETMAP_MAX_FRAGS + 1)

static const struct nmk_driver_param tap_params[] = {
	{ "create", "0|1: create the tap if absent", "1" },
	{ "persist", "0|1: keep it after close", "0" },
	{ "mtu", "68..65521", NULL },
	{ "rings", "1 only", "1" },
	{ NULL, NULL, NULL },
};

struct nmk_driver_port {
	char ifname[IF_NAMESIZE];
	int fd;
	uint32_t max_frame;             /* MTU + Ethernet header */
	uint32_t hdrlen;                /* PI + vnet header before each frame */
	/* One ring each way, synced by at most one thread each. */
	uint64_t rx_packets, rx_bytes, rx_dropped;
	uint64_t tx_packets, tx_bytes, tx_dropped;
};

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

static bool valid_ifname(const char *n)
{
	if (!n || !*n || strlen(n) >= IF_NAMESIZE)
		return false;
	/* It becomes a path component under /sys/class/net. */
	return strchr(n, '/') == NULL && strcmp(n, ".") != 0 && strcmp(n, "..") != 0;
}

/* The device's tun_flags (IFF_TAP, IFF_NO_PI, ...), or -ENODEV when it is
 * not a tun/tap device (or does not exist). */
static long tun_flags(const char *ifname)
{
	char path[96], buf[32];
	FILE *f;

	if (!valid_ifname(ifname))
		return -ENODEV;
	snprintf(path, sizeof path, "/sys/class/net/%s/tun_flags", ifname);
	f = fopen(path, "re");
	if (!f)
		return -ENODEV;
	bool ok = fgets(buf, sizeof buf, f) != NULL;
	fclose(f);
	if (!ok)
		return -ENODEV;
	char *end;
	errno = 0;
	unsigned long v = strtoul(buf, &end, 0);
	if (errno || end == buf || v > 0xffff)
		return -ENODEV;
	return (long)v;
}

static int tap_probe(const char *ifname, char *err, size_t errlen)
{
	long fl = tun_flags(ifname);

	if (fl < 0 || !(fl & IFF_TAP)) {
		nmk_errbuf(err, errlen, "%s: \"%s\" is not a tap device", TAP_NAME,
			ifname ? ifname : "");
		return -ENODEV;
	}
	return 0;
}

static void tap_close(struct nmk_driver_port *p)
{
	if (!p)
		return;
	if (p->fd >= 0)
		close(p->fd);
	free(p);
}

static int tap_open(const struct nmk_driver_open_args *a, struct nmk_driver_port **portp,
		    struct nmk_driver_geometry *geom, char *err, size_t errlen)
{
	bool create = true, persist = false;
	unsigned long mtu_param = 0, v;
	int r, e;

	nmk_errbuf(err, errlen, "%s", "");
	if (!a || !portp || !geom) {
		nmk_errbuf(err, errlen, "%s: open: NULL argument", TAP_NAME);
		return -EINVAL;
	}
	*portp = NULL;
	for (unsigned i = 0; i < a->nparams; i++) {
		const char *k = a->keys[i], *val = a->values[i] ? a->values[i] : "";
		if (strcmp(k, "create") == 0 || strcmp(k, "persist") == 0) {
			if (strcmp(val, "0") != 0 && strcmp(val, "1") != 0) {
				nmk_errbuf(err, errlen, "%s: bad value \"%s\" for %s (0 or 1)", TAP_NAME,
					val, k);
				return -EINVAL;
			}
			if (k[0] == 'c')
				create = val[0] == '1';
			else
				persist = val[0] == '1';
		} else if (strcmp(k, "mtu") == 0) {
			if (!parse_uint(val, 68, UINT16_MAX - TAP_ETH_HLEN, &mtu_param)) {
				nmk_errbuf(err, errlen, "%s: bad value \"%s\" for mtu (68..%u)", TAP_NAME,
					val, (unsigned)(UINT16_MAX - TAP_ETH_HLEN));
				return -EINVAL;
			}
		} else if (strcmp(k, "rings") == 0) {
			if (!parse_uint(val, 1, 1, &v)) {
				nmk_errbuf(err, errlen,
					"%s: rings=%s is not supported: a tap port has one ring pair "
					"(open the tap again for another queue)", TAP_NAME, val);
				return -EOPNOTSUPP;
			}
		} else {
			nmk_errbuf(err, errlen, "%s: unknown parameter \"%s\"", TAP_NAME, k);
			return -EINVAL;
		}
	}
	if (a->tx_rings > 1 || a->rx_rings > 1) {
		nmk_errbuf(err, errlen,
			"%s: %u rings requested, but a tap port has one ring pair "
			"(open the tap again for another queue)", TAP_NAME,
			(unsigned)(a->tx_rings > a->rx_rings ? a->tx_rings : a->rx_rings));
		return -EOPNOTSUPP;
	}
	if (!valid_ifname(a->ifname)) {
		nmk_errbuf(err, errlen, "%s: bad interface name \"%s\"", TAP_NAME,
			a->ifname ? a->ifname : "");
		return -EINVAL;
	}

	/* Existing device: attach with the flags it has.  None: create one. */
	long fl = tun_flags(a->ifname);
	bool exists = if_nametoindex(a->ifname) != 0;
	short flags;
	if (fl >= 0) {
		if (!(fl & IFF_TAP)) {
			nmk_errbuf(err, errlen, "%s: %s is a tun device, not a tap", TAP_NAME, a->ifname);
			return -EINVAL;
		}
		flags = (short)(IFF_TAP | (fl & (IFF_NO_PI | IFF_VNET_HDR | IFF_MULTI_QUEUE)));
	} else if (exists) {
		nmk_errbuf(err, errlen, "%s: %s exists and is not a tap device", TAP_NAME, a->ifname);
		return -EINVAL;
	} else if (!create) {
		nmk_errbuf(err, errlen, "%s: no tap device \"%s\" (and create=0)", TAP_NAME, a->ifname);
		return -ENODEV;
	} else {
		flags = IFF_TAP | IFF_NO_PI | IFF_MULTI_QUEUE;
	}

	struct nmk_driver_port *p = calloc(1, sizeof *p);
	if (!p) {
		nmk_errbuf(err, errlen, "%s: out of memory", TAP_NAME);
		return -ENOMEM;
	}
	snprintf(p->ifname, sizeof p->ifname, "%s", a->ifname);
	p->fd = open("/dev/net/tun", O_RDWR | O_NONBLOCK | O_CLOEXEC);
	if (p->fd < 0) {
		e = errno;
		nmk_errbuf(err, errlen, "%s:%s: /dev/net/tun: %s", TAP_NAME, a->ifname, strerror(e));
		tap_close(p);
		return -e;
	}
	struct ifreq ifr;
	memset(&ifr, 0, sizeof ifr);
	snprintf(ifr.ifr_name, sizeof ifr.ifr_name, "%s", a->ifname);
	ifr.ifr_flags = flags;
	if (ioctl(p->fd, TUNSETIFF, &ifr) < 0) {
		e = errno;
		nmk_errbuf(err, errlen, "%s:%s: TUNSETIFF: %s%s", TAP_NAME, a->ifname, strerror(e),
			e == EBUSY ? " (a single-queue tap already has its opener; "
				     "create it with multi_queue to share it)" :
			e == EPERM ? " (CAP_NET_ADMIN is needed)" : "");
		tap_close(p);
		return -e;
	}
	bool created = fl < 0;
	/* Another process may have won a race and made it first. */
	if (created && persist && ioctl(p->fd, TUNSETPERSIST, 1) < 0) {
		e = errno;
		nmk_errbuf(err, errlen, "%s:%s: TUNSETPERSIST: %s", TAP_NAME, a->ifname, strerror(e));
		tap_close(p);
		return -e;
	}
	if (!created && persist)
		(void)ioctl(p->fd, TUNSETPERSIST, 1);
	if (flags & IFF_VNET_HDR) {
		int sz = 0;
		if (ioctl(p->fd, TUNGETVNETHDRSZ, &sz) < 0 || sz < 10 || sz > 20) {
			nmk_errbuf(err, errlen, "%s:%s: unusable virtio-net header size", TAP_NAME,
				a->ifname);
			tap_close(p);
			return -EINVAL;
		}
		p->hdrlen += (uint32_t)sz;
	}
	if (!(flags & IFF_NO_PI))
		p->hdrlen += 4;

	int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (s < 0)
		s = socket(AF_PACKET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (s < 0) {
		e = errno;
		nmk_errbuf(err, errlen, "%s:%s: socket for ioctls: %s", TAP_NAME, a->ifname, strerror(e));
		tap_close(p);
		return -e;
	}
	r = 0;
	if (mtu_param) {
		memset(&ifr, 0, sizeof ifr);
		snprintf(ifr.ifr_name, sizeof ifr.ifr_name, "%s", a->ifname);
		ifr.ifr_mtu = (int)mtu_param;
		if (ioctl(s, SIOCSIFMTU, &ifr) < 0) {
			r = -errno;
			nmk_errbuf(err, errlen, "%s:%s: SIOCSIFMTU %lu: %s", TAP_NAME, a->ifname,
				mtu_param, strerror(-r));
		}
	}
	/* Only a tap we made is brought up: an existing one is configured
	 * by whoever owns it. */
	if (r == 0 && created) {
		memset(&ifr, 0, sizeof ifr);
		snprintf(ifr.ifr_name, sizeof ifr.ifr_name, "%s", a->ifname);
		if (ioctl(s, SIOCGIFFLAGS, &ifr) < 0 ||
		    (ifr.ifr_flags |= IFF_UP, ioctl(s, SIOCSIFFLAGS, &ifr) < 0)) {
			r = -errno;
			nmk_errbuf(err, errlen, "%s:%s: bringing the link up: %s", TAP_NAME, a->ifname,
				strerror(-r));
		}
	}
	int mtu = 0;
	if (r == 0) {
		memset(&ifr, 0, sizeof ifr);
		snprintf(ifr.ifr_name, sizeof ifr.ifr_name, "%s", a->ifname);
		if (ioctl(s, SIOCGIFMTU, &ifr) < 0) {
			r = -errno;
			nmk_errbuf(err, errlen, "%s:%s: SIOCGIFMTU: %s", TAP_NAME, a->ifname,
				strerror(-r));
		}
		mtu = ifr.ifr_mtu;
	}
	if (r < 0) {
		close(s);
		tap_close(p);
		return r;
	}
	memset(geom, 0, sizeof *geom);
	memset(&ifr, 0, sizeof ifr);
	snprintf(ifr.ifr_name, sizeof ifr.ifr_name, "%s", a->ifname);
	if (ioctl(s, SIOCGIFHWADDR, &ifr) == 0 && ifr.ifr_hwaddr.sa_family == ARPHRD_ETHER)
		memcpy(geom->mac, ifr.ifr_hwaddr.sa_data, 6);
	close(s);
	if (mtu <= 0 || (uint64_t)mtu + TAP_ETH_HLEN > UINT16_MAX)
		mtu = mtu <= 0 ? 1500 : (int)(UINT16_MAX - TAP_ETH_HLEN);
	p->max_frame = (uint32_t)mtu + TAP_ETH_HLEN;

	geom->tx_rings = geom->rx_rings = 1;
	geom->tx_slots = a->tx_slots ? a->tx_slots : TAP_DEF_SLOTS;
	geom->rx_slots = a->rx_slots ? a->rx_slots : TAP_DEF_SLOTS;
	geom->mtu = p->max_frame;
	*portp = p;
	return 0;
}

static int tap_stats(struct nmk_driver_port *p, struct nmk_driver_stats *st)
{
	if (!p || !st)
		return -EINVAL;
	st->rx_packets = __atomic_load_n(&p->rx_packets, __ATOMIC_RELAXED);
	st->rx_bytes = __atomic_load_n(&p->rx_bytes, __ATOMIC_RELAXED);
	st->rx_dropped = __atomic_load_n(&p->rx_dropped, __ATOMIC_RELAXED);
	st->tx_packets = __atomic_load_n(&p->tx_packets, __ATOMIC_RELAXED);
	st->tx_bytes = __atomic_load_n(&p->tx_bytes, __ATOMIC_RELAXED);
	st->tx_dropped = __atomic_load_n(&p->tx_dropped, __ATOMIC_RELAXED);
	return 0;
}

/* The tap devices of this namespace, one a line; how many, or -ENOSPC
 * when buf was too small (it then holds those that fit). */
static int tap_list(char *buf, size_t len)
{
	DIR *d = opendir("/sys/class/net");
	size_t off = 0;
	int n = 0, r = 0;

	if (buf && len)
		buf[0] = '\0';
	if (!d)
		return -errno;
	for (struct dirent *de; (de = readdir(d)) != NULL;) {
		if (de->d_name[0] == '.')
			continue;
		long fl = tun_flags(de->d_name);
		if (fl < 0 || !(fl & IFF_TAP))
			continue;
		size_t l = strlen(de->d_name);
		if (!buf || off + l + 2 > len) {
			r = -ENOSPC;
			break;
		}
		memcpy(buf + off, de->d_name, l);
		off += l;
		buf[off++] = '\n';
		buf[off] = '\0';
		n++;
	}
	closedir(d);
	return r < 0 ? r : n;
}

static int tap_pollfd(struct nmk_driver_port *p, unsigned ring, int tx)
{
	(void)tx;       /* one descriptor carries both directions */
	if (!p || ring != 0)
		return -EINVAL;
	return p->fd;
}

/* ---------------------------------------------------------------------- */
/* Fast path */

static int tap_rxsync(struct nmk_driver_port *p, unsigned ring, const struct nmk_driver_ring *dr,
		      uint32_t from, uint32_t room)
{
	if (!p || !dr || ring != 0)
		return -EINVAL;
	struct netmap_ring *nr = dr->ring;
	uint32_t ns = dr->num_slots, n = 0, i = from;
	uint32_t bs = dr->buf_size > UINT16_MAX ? UINT16_MAX : dr->buf_size;
	uint8_t hdr[TAP_HDR_MAX], scratch[64];

	if (from >= ns)
		return -EINVAL;
	if (room > ns)
		room = ns;
	while (n < room) {
		struct netmap_slot *s = &nr->slot[i];
		bool bad = s->buf_idx >= dr->nbufs;
		struct iovec iov[2];
		int k = 0;

		if (p->hdrlen)
			iov[k++] = (struct iovec){ hdr, p->hdrlen };
		/* With no buffer to fill, the frame is still read, so that one
		 * bad slot cannot stall the queue, and counted as dropped. */
		if (bad)
			iov[k++] = (struct iovec){ scratch, sizeof scratch };
		else
			iov[k++] = (struct iovec){ dr->bufbase + (size_t)s->buf_idx * dr->buf_size, bs };
		ssize_t got = readv(p->fd, iov, k);
		if (got < 0) {
			if (errno == EINTR)
				continue;
			break;  /* EAGAIN: nothing more; anything else: try later */
		}
		if (got == 0)
			break;
		if ((size_t)got < p->hdrlen + (bad ? 0 : 1)) {
			bad = true;
		}
		if (bad) {
			s->len = 0;
			p->rx_dropped++;
		} else {
			s->len = (uint16_t)((size_t)got - p->hdrlen);
			p->rx_packets++;
			p->rx_bytes += s->len;
		}
		s->flags = 0;
		i = nmk_ring_next(i, ns);
		n++;
	}
	return (int)n;
}

static int tap_txsync(struct nmk_driver_port *p, unsigned ring, const struct nmk_driver_ring *dr,
		      uint32_t from, uint32_t to)
{
	if (!p || !dr || ring != 0)
		return -EINVAL;
	struct netmap_ring *nr = dr->ring;
	uint32_t ns = dr->num_slots;

	if (from >= ns || to >= ns)
		return -EINVAL;

	uint32_t total = to >= from ? to - from : ns - from + to;
	uint32_t taken = 0;
	struct iovec iov[TAP_IOV_MAX];
	/* Zeroed: no PI flags, and a virtio-net header asking for nothing. */
	uint8_t hdr[TAP_HDR_MAX] = { 0 };

	while (taken < total) {
		uint32_t cnt = 0, bytes = 0;
		int niov = 0;
		bool bad = false, complete = false;

		if (p->hdrlen)
			iov[niov++] = (struct iovec){ hdr, p->hdrlen };
		while (taken + cnt < total) {
			const struct netmap_slot *s = &nr->slot[(from + taken + cnt) % ns];
			cnt++;
			if (s->buf_idx >= dr->nbufs || s->len > dr->buf_size) {
				bad = true;
			} else if (s->len > 0 && niov < TAP_IOV_MAX) {
				iov[niov].iov_base = dr->bufbase + (size_t)s->buf_idx * dr->buf_size;
				iov[niov++].iov_len = s->len;
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
		if (!complete)
			break;  /* the rest of the chain is not queued yet */
		if (bad || bytes < TAP_ETH_HLEN || bytes > p->max_frame) {
			p->tx_dropped++;
			taken += cnt;
			continue;
		}
		ssize_t w = writev(p->fd, iov, niov);
		if (w < 0) {
			int e = errno;
			if (e == EINTR)
				continue;
			if (e == EAGAIN || e == EWOULDBLOCK || e == ENOBUFS)
				break;  /* the rest stay for the next call */
			/* Link down, device gone, a frame it refuses: drop it,
			 * so that one frame cannot stall the ring. */
			p->tx_dropped++;
			taken += cnt;
			continue;
		}
		p->tx_packets++;
		p->tx_bytes += bytes;
		taken += cnt;
	}
	return (int)taken;
}

/* ---------------------------------------------------------------------- */

static const struct nmk_driver tap_driver = {
	.size = sizeof(struct nmk_driver),
	.abi = NMK_DRIVER_ABI,
	.name = TAP_NAME,
	.aliases = NULL,
	.description = "Linux tap device (/dev/net/tun): one queue, read/writev, creates taps",
	.params = tap_params,
	.priority = 20,
	.probe = tap_probe,
	.open = tap_open,
	.close = tap_close,
	.stats = tap_stats,
	.list = tap_list,
	.pollfd = tap_pollfd,
	.txsync = tap_txsync,
	.rxsync = tap_rxsync,
};

NMK_DRIVER_ENTRY(tap_driver)
