/*
 * <nmkit/nmk_driver.h> - the driver plugin ABI, version 1.
 *
 * A driver plugin attaches a NIC, or something that looks like one (an
 * AF_PACKET socket, a tap device, a libpcap handle), to a netmap port.  It
 * is one shared object in the driver directory ($(libdir)/nmkit-1/drivers,
 * or $NMKIT_DRIVER_PATH), loaded with dlopen(RTLD_NOW | RTLD_LOCAL), whose
 * only exported symbol is
 *
 *     const struct nmk_driver *nmk_driver_entry_v1(void);
 *
 * returning a constant descriptor.  The loader checks the descriptor's
 * size and ABI version before using anything else in it, so a plugin built
 * against another version is refused with a clear message and the other
 * plugins still load.
 *
 * Control operations (probe, open, close, stats, list) are kept apart from
 * the fast path (txsync, rxsync), as DPDK keeps eth_dev_ops apart from its
 * burst functions.  A driver attaches to a device beside its other users;
 * it never takes it over.
 *
 * Conventions: functions return 0 (or a count) on success and a negative
 * errno on failure, with a message in the caller's buffer; they never
 * print and never exit.
 */
#ifndef NMKIT_NMK_DRIVER_H
#define NMKIT_NMK_DRIVER_H

#include <stddef.h>
#include <stdint.h>

#include <nmkit/nmk_util.h>

#ifdef __cplusplus
extern "C" {
#endif

#define NMK_DRIVER_ABI          1u
#define NMK_DRIVER_ENTRY_SYMBOL "nmk_driver_entry_v1"

/* One parameter a driver accepts in netmap's "@key=value" syntax
 * ("afpacket:veth0@fanout=hash,rings=2"); the list ends with key NULL. */
struct nmk_driver_param {
	const char *key;
	const char *help;
	const char *defval;             /* NULL: no default */
};

/* What nmkit asks of a driver port being opened. */
struct nmk_driver_open_args {
	const char *ifname;             /* the device, after the prefix */
	unsigned nparams;               /* parameters, already checked against the list */
	const char *const *keys;
	const char *const *values;
	uint32_t tx_rings, rx_rings;    /* requested; 0 = the driver's default */
	uint32_t tx_slots, rx_slots;
};

/* What the driver answers: the shape of the port. */
struct nmk_driver_geometry {
	uint32_t tx_rings, rx_rings;
	uint32_t tx_slots, rx_slots;
	uint32_t mtu;                   /* the largest frame it can send */
	uint8_t mac[6];                 /* the device's address, if any */
};

/*
 * A ring as the fast path sees it: the netmap ring, where buffer 0 is, and
 * the ring's geometry as nmkit validated it.  Use num_slots, buf_size and
 * nbufs from here, never the ring's own num_slots or nr_buf_size: the ring
 * is in memory that other processes (monitors of the port) can write.
 * Buffer i is at bufbase + i * buf_size for i < nbufs.
 */
struct nmk_driver_ring {
	void *ring;                     /* struct netmap_ring * */
	char *bufbase;
	uint32_t buf_size;
	uint32_t nbufs;
	uint32_t num_slots;
};

struct nmk_driver_stats {
	uint64_t rx_packets, rx_bytes, rx_dropped;
	uint64_t tx_packets, tx_bytes, tx_dropped;
};

struct nmk_driver_port;                 /* the driver's own state */

struct nmk_driver {
	uint32_t size;                  /* sizeof(struct nmk_driver) */
	uint32_t abi;                   /* NMK_DRIVER_ABI */
	const char *name;               /* the portspec prefix: "afpacket" */
	const char *const *aliases;     /* other prefixes, NULL-terminated, or NULL */
	const char *description;
	const struct nmk_driver_param *params;
	int priority;                   /* "netmap:eth0" picks the highest that probes */

	/* Control. */
	int (*probe)(const char *ifname, char *err, size_t errlen);
	int (*open)(const struct nmk_driver_open_args *args, struct nmk_driver_port **port,
		    struct nmk_driver_geometry *geom, char *err, size_t errlen);
	void (*close)(struct nmk_driver_port *port);
	int (*stats)(struct nmk_driver_port *port, struct nmk_driver_stats *stats);
	/* Devices it could drive, one name per line, into buf. */
	int (*list)(char *buf, size_t len);
	/* An fd that becomes readable (rx) or writable (tx) when ring `ring`
	 * may make progress: what a poller sleeps on. */
	int (*pollfd)(struct nmk_driver_port *port, unsigned ring, int tx);

	/* Fast path.  txsync sends slots [from, to) of TX ring `ring` and
	 * returns how many it took (the rest stay for the next call); rxsync
	 * fills up to `room` slots from `from` on with received frames and
	 * returns how many.  Both never block. */
	int (*txsync)(struct nmk_driver_port *port, unsigned ring,
		      const struct nmk_driver_ring *r, uint32_t from, uint32_t to);
	int (*rxsync)(struct nmk_driver_port *port, unsigned ring,
		      const struct nmk_driver_ring *r, uint32_t from, uint32_t room);
};

typedef const struct nmk_driver *(*nmk_driver_entry_fn)(void);

/*
 * A plugin's entry point, for its descriptor `desc`:
 *
 *     static const struct nmk_driver my_driver = { ... };
 *     NMK_DRIVER_ENTRY(my_driver)
 *
 * It must be the only exported symbol (link with
 * -export-symbols-regex '^nmk_driver_entry_v1$').
 */
#define NMK_DRIVER_ENTRY(desc)                                              \
	const struct nmk_driver *nmk_driver_entry_v1(void);                 \
	__attribute__((visibility("default")))                              \
	const struct nmk_driver *nmk_driver_entry_v1(void)                  \
	{                                                                   \
		return &(desc);                                             \
	}

#ifdef __cplusplus
}
#endif

#endif /* NMKIT_NMK_DRIVER_H */
