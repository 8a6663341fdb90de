/*
 * <nmkit/nmkit.h> - nmkit's native C API.
 *
 * nmkit gives any machine netmap's API and the VALE switch without a kernel
 * module.  A port is opened by its netmap name ("x{1", "x}1", "vale0:a",
 * "netmap:eth0", with netmap's mode suffixes and @options); its rings and
 * buffers live in shared memory laid out exactly as netmap lays them out,
 * and packets move with netmap's head/cur/tail protocol:
 *
 *     char err[NMK_ERRBUF_SIZE];
 *     struct nmk_port *p = nmk_port_open("pipeA{1", err);
 *     if (p == NULL) { fprintf(stderr, "%s\n", err); exit(1); }
 *     struct netmap_ring *tx = nmk_port_txring(p, 0);
 *     ... fill slots [tx->head, tx->tail), advance head and cur ...
 *     nmk_txsync(p);
 *
 * Everything here is thread-compatible, not thread-safe: two threads may use
 * two ports at once, but one port (or one ring) must not be synced from two
 * threads at the same time, exactly as with netmap.
 *
 * Errors: functions that return int return 0 (or a non-negative value) on
 * success and a negative errno on failure; functions that return a pointer
 * and can fail (nmk_port_open, nmk_port_open_ext, nmk_port_from_fd,
 * nmk_port_txring, nmk_port_rxring) return NULL and set errno.  A readable
 * message, naming the port and the cause, goes to the caller's error buffer
 * or can be read back with nmk_port_error().  The library never prints and
 * never exits.
 *
 * ABI (libnmkit.so.0): every exported function carries the version node it
 * first appeared in (NMKIT_0.1 for all of this header); a function never
 * changes its arguments or meaning, a new one goes into a new node.  struct
 * nmk_port is opaque.  Every other struct here begins with `uint32_t size`
 * and grows only by appending fields (each growing sizeof, no tail padding
 * reused):
 *  - the caller sets .size to sizeof the struct it was compiled with (the
 *    NMK_..._INIT macros do, e.g. `struct nmk_vale_stats st =
 *    NMK_VALE_STATS_INIT;`) and the library touches only those bytes;
 *  - a size smaller than the struct's first released layout (the one of
 *    NMKIT_0.1) is rejected with EINVAL and a message;
 *  - a struct the library fills: on success it writes the fields it knows
 *    that fit, zeroes the rest of the caller's bytes, and sets .size to what
 *    it wrote, the smaller of the two sizes (NMK_HAS_FIELD() tests a field);
 *  - a struct the library reads: fields it does not know (a program built
 *    against a newer header) must be zero, else E2BIG: the library cannot do
 *    what they ask.  A caller's struct shorter than the library's reads as
 *    zero ("default") in the missing fields.
 * nmk_port_info() returns the library's own struct, whose .size is the
 * library's: a program that reads a field appended after NMKIT_0.1 checks it
 * with NMK_HAS_FIELD() first.
 */
#ifndef NMKIT_NMKIT_H
#define NMKIT_NMKIT_H

#include <poll.h>
#include <stddef.h>
#include <stdint.h>

#include <nmkit/compat/net/netmap.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(__GNUC__)
#define NMK_API __attribute__((visibility("default")))
#else
#define NMK_API
#endif

/** Size of the error buffers that the API fills (like PCAP_ERRBUF_SIZE). */
#define NMK_ERRBUF_SIZE 256

/** An initializer for a sized struct: .size set, every other field zero. */
#ifdef __cplusplus
#define NMK_SIZED_INIT(type) ([] { type s_{}; s_.size = sizeof(type); return s_; }())
#else
#define NMK_SIZED_INIT(type) { .size = sizeof(type) }
#endif

/** Whether sized struct *s (of type `type`) holds `field`: a struct that
 * the library filled, or the one nmk_port_info() returns. */
#define NMK_HAS_FIELD(type, s, field) \
	((s)->size >= offsetof(type, field) + sizeof(((type *)0)->field))

/** An open port: one registration, like one netmap fd after NIOCREGIF. */
struct nmk_port;

/**
 * Optional parameters of nmk_port_open_ext(); zero means "default".  Read
 * by the library: start from NMK_OPEN_PARAMS_INIT.
 */
struct nmk_open_params {
	uint32_t size;          /**< sizeof(struct nmk_open_params) */
	uint32_t extra_bufs;    /**< extra buffers to allocate (nr_extra_bufs) */
	uint64_t add_flags;     /**< NR_* flags ORed into those of the name */
};
#define NMK_OPEN_PARAMS_INIT NMK_SIZED_INIT(struct nmk_open_params)

/**
 * What a port is, as netmap's REGISTER reply describes it.  Filled by the
 * library: nmk_port_info() returns its own (read-only) copy;
 * nmk_port_info_by_name() fills one the caller sets up with
 * NMK_PORT_INFO_INIT.
 */
struct nmk_port_info {
	uint32_t size;          /**< bytes filled (see "ABI" above) */
	char name[64];          /**< nr_name, e.g. "pipeA{1" or "vale0:a" */
	uint32_t mode;          /**< NR_REG_* */
	uint16_t ringid;        /**< ring for NR_REG_ONE_NIC / ONE_SW */
	uint64_t flags;         /**< NR_* register flags */
	uint32_t tx_rings, rx_rings;             /**< rings of the port */
	uint32_t host_tx_rings, host_rx_rings;
	uint32_t tx_slots, rx_slots;
	uint32_t first_tx_ring, last_tx_ring;    /**< bound rings: [first, last) */
	uint32_t first_rx_ring, last_rx_ring;
	uint16_t mem_id;        /**< region id; equal ids share memory */
	uint64_t memsize;       /**< bytes of the region (nr_memsize) */
	uint64_t nifp_offset;   /**< nr_offset: the netmap_if in the region */
	uint32_t buf_size;      /**< bytes per buffer */
	uint32_t extra_bufs;    /**< extra buffers obtained */
};
#define NMK_PORT_INFO_INIT NMK_SIZED_INIT(struct nmk_port_info)

/**
 * Open and register a port by name.  The broker (nmkitd) is started if none
 * answers.  Returns NULL and fills `errbuf` (NMK_ERRBUF_SIZE bytes, may be
 * NULL) on failure, with errno set: EINVAL for a malformed name (the message
 * points at the bad character) or a NULL one, ENXIO for "netmap:<name>" that
 * is neither a port nmkitd has nor a device a driver plugin can drive,
 * ENOENT for an unknown "<driver>:" prefix, EBUSY for a port opened
 * exclusively, EACCES for a port that belongs to another user, ENOMEM when
 * a limit is reached (the message names the limit) or memory runs out,
 * EOPNOTSUPP for @share and @extmem, and for nmk_port_open_ext() the size
 * rules of `params` (EINVAL, E2BIG; see "ABI" above; params may be NULL).
 * When nmkitd cannot be reached or started: ENOENT (no broker program; the
 * message names it and NMKIT_BROKER), ECONNREFUSED, ETIMEDOUT (it did not
 * answer), EACCES (no runtime directory).  EPROTO when it answered
 * something impossible.  A driver port may fail with its driver's errno.
 */
NMK_API struct nmk_port *nmk_port_open(const char *spec, char *errbuf);
NMK_API struct nmk_port *nmk_port_open_ext(const char *spec,
					   const struct nmk_open_params *params,
					   char *errbuf);

/**
 * Adopt a registered port fd that this process received from another one
 * (over a unix socket with SCM_RIGHTS, or inherited through fork): the fd
 * keeps working here.  The fd is owned by the returned handle afterwards.
 * On failure the fd stays the caller's, open, and errno is EBADF for a
 * closed fd, ENOTSOCK for one that is not a socket, EINVAL for a socket
 * that is not a connection to nmkitd, ENXIO for a connection to nmkitd
 * that registered no port, ENOMEM, or EPROTO/ETIMEDOUT/ECONNRESET when
 * nmkitd does not answer as it should.
 */
NMK_API struct nmk_port *nmk_port_from_fd(int fd, char *errbuf);

/** Close the handle and its fd.  The port is released when the last copy of
 * the fd, in any process, is closed. */
NMK_API void nmk_port_close(struct nmk_port *port);

/** The fd: pollable (POLLIN/POLLOUT wake-ups), passable to other processes. */
NMK_API int nmk_port_fd(const struct nmk_port *port);
/** The port's info: the library's own copy, valid until nmk_port_close();
 * its .size is the library's sizeof (NMK_HAS_FIELD() before reading a field
 * newer than NMKIT_0.1). */
NMK_API const struct nmk_port_info *nmk_port_info(const struct nmk_port *port);
/** The netmap_if of this registration (NETMAP_TXRING() etc. work on it). */
NMK_API struct netmap_if *nmk_port_nifp(const struct nmk_port *port);
/** Start of the mapped region (NETMAP_IF(mem, info->nifp_offset)). */
NMK_API void *nmk_port_mem(const struct nmk_port *port);
/** Ring i of the port (absolute index), or NULL with errno EINVAL when it
 * does not exist or is not bound here. */
NMK_API struct netmap_ring *nmk_port_txring(const struct nmk_port *port, unsigned i);
NMK_API struct netmap_ring *nmk_port_rxring(const struct nmk_port *port, unsigned i);

/**
 * txsync: hand slots [hwcur, head) of every bound TX ring to the port and
 * update tail.  rxsync: release slots [hwcur, head) of every bound RX ring and
 * update tail.  They never block.  If a ring holds an invalid value (head,
 * cur, a buffer index, a length) the ring is reset as netmap resets it and
 * -EINVAL is returned, with the cause in nmk_port_error().
 */
NMK_API int nmk_txsync(struct nmk_port *port);
NMK_API int nmk_rxsync(struct nmk_port *port);

/**
 * netmap's poll() for one port: syncs as netmap's poll does and sleeps until
 * a ring is ready or `timeout_ms` passes (-1 = forever).  Returns the revents
 * (POLLIN, POLLOUT, POLLERR) or 0 on timeout, or a negative errno.
 */
NMK_API int nmk_port_poll(struct nmk_port *port, short events, int timeout_ms);

/**
 * poll(2) over a mix of port fds (of ports opened in this process) and
 * ordinary fds: port fds get netmap's semantics, the others poll's.
 * Returns the number of fds with revents, 0 on timeout, or a negative errno
 * (-EINTR included), not poll(2)'s -1.
 */
NMK_API int nmk_poll(struct pollfd *fds, nfds_t nfds, int timeout_ms);

/* ---- VALE switches --------------------------------------------------------- */

/** Counters of one VALE port (all since the port was created).  Filled by
 * nmk_vale_get_stats(): start from NMK_VALE_STATS_INIT. */
struct nmk_vale_stats {
	uint32_t size;          /**< sizeof(struct nmk_vale_stats); bytes filled */
	uint32_t port_index;    /**< index of the port in its switch */
	uint64_t tx_packets;    /**< frames the port sent into the switch */
	uint64_t tx_bytes;
	uint64_t rx_packets;    /**< frames delivered to the port */
	uint64_t rx_bytes;
	uint64_t forwarded;     /**< unicast copies of its frames delivered */
	uint64_t flooded;       /**< copies of its frames delivered by flooding */
	uint64_t drop_full;     /**< copies lost because a destination ring was full */
	uint64_t drop_invalid;  /**< its frames dropped as invalid (bad slot, bad chain) */
	uint64_t drop_nodest;   /**< its frames with no destination (own port, lookup drop) */
};
#define NMK_VALE_STATS_INIT NMK_SIZED_INIT(struct nmk_vale_stats)

/** One entry of nmk_vale_list(), filled by it: start from
 * NMK_VALE_ENTRY_INIT (once for the whole walk). */
struct nmk_vale_entry {
	uint32_t size;          /**< sizeof(struct nmk_vale_entry); bytes filled */
	char name[64];          /**< "valeX:Y", or a persistent port's own name */
	char switch_name[16];   /**< "valeX", or "" when not on a switch */
	uint32_t switch_index;  /**< bridge_idx, as vale-ctl prints it */
	uint32_t port_index;    /**< port_idx */
	uint32_t registrations; /**< open fds (bindings) on the port */
	uint16_t mem_id;
	uint8_t persistent;     /**< created with nmk_vale_newif() */
	uint8_t attached;       /**< a persistent port attached to a switch */
};
#define NMK_VALE_ENTRY_INIT NMK_SIZED_INIT(struct nmk_vale_entry)

/** Ring and slot counts for nmk_vale_newif(); zero means the default.  Read
 * by the library: start from NMK_VALE_CONF_INIT. */
struct nmk_vale_conf {
	uint32_t size;          /**< sizeof(struct nmk_vale_conf) */
	uint32_t tx_slots, rx_slots;
	uint16_t tx_rings, rx_rings;
};
#define NMK_VALE_CONF_INIT NMK_SIZED_INIT(struct nmk_vale_conf)

/**
 * Create a persistent VALE port `name` (as `vale-ctl -n`): it exists until
 * nmk_vale_delif(), with or without open fds, and can be attached to a
 * switch.  -EEXIST if it exists, -EINVAL for a bad name (at most 15
 * characters, not starting with "vale").
 */
NMK_API int nmk_vale_newif(const char *name, const struct nmk_vale_conf *conf, char *errbuf);
/** Remove a persistent port: -ENOENT if missing, -EBUSY if attached or open. */
NMK_API int nmk_vale_delif(const char *name, char *errbuf);
/** Attach persistent port Y to switch X ("valeX:Y", as `vale-ctl -a`):
 * -EBUSY if already attached or open, -ENOENT if Y does not exist. */
NMK_API int nmk_vale_attach(const char *name, char *errbuf);
/**
 * Attach NIC `eth0` to switch X with its host stack ("valeX:eth0", as
 * `vale-ctl -h`): the NIC as nmk_vale_attach() does, and a tap device
 * "eth0_h", created for it and wired to this host's IP stack, as the port
 * "valeX:eth0_h".  nmk_vale_detach_host() removes both.
 */
NMK_API int nmk_vale_attach_host(const char *name, char *errbuf);
NMK_API int nmk_vale_detach_host(const char *name, char *errbuf);

/** Detach it: -ENOENT if not attached there, -EBUSY if open. */
NMK_API int nmk_vale_detach(const char *name, char *errbuf);
/** Enumerate ports: start with *cursor = 0; returns 1 with an entry, 0 at
 * the end, or a negative errno (-EINVAL for a NULL argument or a short
 * entry, the broker's errors as for nmk_port_open()). */
NMK_API int nmk_vale_list(uint32_t *cursor, struct nmk_vale_entry *entry, char *errbuf);
/** Counters of VALE port `name` ("valeX:Y"): 0, -ENOENT when there is no
 * such port, -EINVAL for a bad name or a NULL or short `stats` (which is
 * then left alone). */
NMK_API int nmk_vale_get_stats(const char *name, struct nmk_vale_stats *stats, char *errbuf);

/** Returned by a lookup function: flood, or drop the frame. */
#define NMK_VALE_BROADCAST 0xfffeu
#define NMK_VALE_DROP      0xffffu

/**
 * A switch's forwarding decision for one frame (the first fragment's
 * bytes): the destination port index, NMK_VALE_BROADCAST or NMK_VALE_DROP.
 * `*dst_ring` starts as the source ring's index and may be changed.
 */
typedef uint32_t (*nmk_vale_lookup_fn)(const uint8_t *frame, uint32_t len, uint32_t src_port,
				       uint32_t *dst_ring, void *priv);

/**
 * Replace the learning bridge of switch `sw` ("vale0") by `fn` for the
 * frames that this process sends (fn == NULL restores the learning
 * bridge).  Forwarding runs in the sender's txsync, so every process that
 * sends into the switch must register the same function.  -EINVAL for a
 * NULL or too long name, -ENOMEM when this process has registered
 * functions for too many switches.
 */
NMK_API int nmk_vale_set_lookup(const char *sw, nmk_vale_lookup_fn fn, void *priv);

/**
 * What a port is without registering it (netmap's PORT_INFO_GET): memsize,
 * rings, slots and mem_id fill `info` (set up with NMK_PORT_INFO_INIT);
 * the other fields are zero.  Like netmap, it may create an ephemeral VALE
 * port or a pipe for the time of the request.  -EINVAL for a NULL or short
 * `info` or a name too long, else the errors of opening that name.
 */
NMK_API int nmk_port_info_by_name(const char *name, struct nmk_port_info *info, char *errbuf);

/**
 * Frames lost to the bound RX rings of this port because they were full
 * (VALE destinations and monitors), since the rings were created.
 */
NMK_API uint64_t nmk_port_rx_dropped(const struct nmk_port *port);

/** The last error message on this handle ("" when none). */
NMK_API const char *nmk_port_error(const struct nmk_port *port);

/** Like strerror(3), for the negative errnos returned here. */
NMK_API const char *nmk_strerror(int err);

/** The library's version string. */
NMK_API const char *nmk_version(void);

/** A loaded driver plugin, as nmk_driver_list() describes it: start from
 * NMK_DRIVER_INFO_INIT. */
struct nmk_driver_info {
	uint32_t size;          /**< sizeof(struct nmk_driver_info); bytes filled */
	char name[32];          /**< the portspec prefix: "afpacket" */
	char aliases[64];       /**< other prefixes, comma-separated */
	char description[128];
	char params[256];       /**< "key=default (help); key (help); ..." */
	char path[256];         /**< the shared object it came from */
};
#define NMK_DRIVER_INFO_INIT NMK_SIZED_INIT(struct nmk_driver_info)

/**
 * The driver plugins of this process, loaded on first use from
 * $NMKIT_DRIVER_PATH (or the installed driver directory when unset).
 * Returns 1 with `info` (set up with NMK_DRIVER_INFO_INIT) filled for
 * driver `index` (0, 1, ...), 0 past the last one, or a negative errno
 * (-EINVAL for a NULL or short `info`) with a message in `errbuf` (may be
 * NULL).
 * A refused directory is not an error here: it shows up, like every
 * refused plugin, in nmk_driver_rejected().
 */
NMK_API int nmk_driver_list(unsigned index, struct nmk_driver_info *info, char *errbuf);

/**
 * Why plugin or directory `index` (0, 1, ...) was refused, as one line
 * "path: cause" copied into `msg` (`len` bytes).  Returns 1 with a
 * message, 0 past the last one.
 */
NMK_API int nmk_driver_rejected(unsigned index, char *msg, size_t len);

#ifdef __cplusplus
}
#endif

#endif /* NMKIT_NMKIT_H */
