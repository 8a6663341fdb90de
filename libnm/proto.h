/*
 * proto.h - the broker protocol.
 *
 * A netmap fd is a SOCK_SEQPACKET connection to nmkitd, the broker: opening
 * /dev/netmap is connect(), NIOCCTRL is one request and its reply on that
 * connection.  Every message starts with struct nmk_msg_hdr; a reply carries
 * the request's type and seq, a status (0 or a negative errno) and, on
 * error, a NUL-terminated message as its body.  File descriptors (region and
 * control objects, wake fds) travel with SCM_RIGHTS.
 *
 * A one-byte message NMK_WAKE_BYTE is a wake-up: some process made a ring of
 * this port ready.  It makes the fd readable, so poll(POLLIN) on a port fd
 * works natively; the library drains wake-ups and skips them while it waits
 * for a reply.
 *
 * The version is checked on every message; a mismatch is answered with
 * -EPROTO and a message naming both versions.
 */
#ifndef NMK_PROTO_H
#define NMK_PROTO_H

#include <stddef.h>
#include <stdint.h>

#include <net/netmap.h>

#define NMK_PROTO_MAGIC   0x314b4d4eu   /* "NMK1" */
#define NMK_PROTO_VERSION 1u
#define NMK_WAKE_BYTE     'W'
#define NMK_MSG_MAX       4096u        /* header + body */
#define NMK_MSG_MAXFDS    4

enum nmk_msg_type {
	NMK_MSG_REGISTER = 1,   /* struct nmk_msg_register -> nmk_msg_binding + fds */
	NMK_MSG_BINDING,        /* (none) -> nmk_msg_binding + fds: adopt a passed fd */
	NMK_MSG_WAKEFD,         /* struct nmk_msg_wakefd -> 1 fd */
	NMK_MSG_PORT_INFO,      /* struct nmk_msg_port_info -> same, filled */
	NMK_MSG_LIST,           /* struct nmk_msg_list -> same, filled; -ENOENT at end */
	NMK_MSG_VALE_STATS,     /* struct nmk_msg_vale_stats (name) -> same, filled */
	NMK_MSG_VALE_NEWIF,     /* struct nmk_msg_vale_ctl -> same (effective conf) */
	NMK_MSG_VALE_DELIF,     /* struct nmk_msg_vale_ctl */
	NMK_MSG_VALE_ATTACH,    /* struct nmk_msg_vale_ctl -> same (port index) */
	NMK_MSG_VALE_DETACH,    /* struct nmk_msg_vale_ctl -> same (port index) */
	NMK_MSG_TYPE_MAX
};

struct nmk_msg_hdr {
	uint32_t magic;
	uint16_t version;
	uint16_t type;
	uint32_t seq;
	int32_t status;         /* replies: 0 or -errno */
	uint32_t len;           /* bytes of body after the header */
	uint32_t reserved;      /* must be 0 */
};

struct nmk_msg_register {
	char name[64];                  /* nr_name */
	struct nmreq_register reg;      /* as the application filled it */
};

struct nmk_msg_binding {
	struct nmreq_register reg;      /* filled as netmap fills it */
	char name[64];                  /* the port's name */
	uint64_t broker_id;             /* which broker instance */
	uint64_t ctrl_size;             /* bytes of the control object */
	uint64_t binding_id;            /* broker-wide id of this registration */
	uint32_t port_index;            /* in the control port table */
	uint32_t binding_slot;          /* bit in kring.armed */
	uint32_t first_tx, last_tx;     /* bound rings [first, last) */
	uint32_t first_rx, last_rx;
	uint32_t buf_size;
	uint32_t pad;
};

struct nmk_msg_wakefd {
	uint64_t binding_id;
};

struct nmk_msg_port_info {
	char name[64];
	struct nmreq_port_info_get info;
};

struct nmk_msg_list {
	uint32_t index;                 /* in: first entry to report */
	uint32_t next;                  /* out: index after this entry */
	char name[64];                  /* out: port name */
	uint32_t nbindings;             /* out: registrations on it */
	uint32_t owner_uid;             /* out */
	uint16_t mem_id;                /* out */
	uint8_t kind;                   /* out: NMK_LIST_* */
	uint8_t attached;               /* out: persistent port on a switch */
	char switch_name[16];           /* out: VALE only */
	uint32_t switch_index;          /* out: VALE only */
	uint32_t port_index;            /* out: VALE only */
};

/* What a LIST entry is. */
enum nmk_list_kind {
	NMK_LIST_PIPE = 1,
	NMK_LIST_VALE = 2,              /* a switch port */
	NMK_LIST_PERSISTENT = 3,        /* a persistent port (vale-ctl -n) */
	NMK_LIST_MONITOR = 4,
	NMK_LIST_NIC = 5,               /* a switch port served by a NIC worker */
	NMK_LIST_DRIVER = 6,            /* a driver port ("afpacket:eth0") */
};

struct nmk_msg_vale_ctl {
	char name[64];                  /* port, or valeX:port */
	uint32_t tx_slots, rx_slots;    /* NEWIF in/out */
	uint16_t tx_rings, rx_rings;
	uint16_t mem_id;                /* out */
	uint16_t flags;                 /* ATTACH in: NMK_VALE_CTL_* */
	uint32_t port_index;            /* ATTACH / DETACH out */
	uint32_t pad2;
};

/* ATTACH of a host stack: the device is a tap that the driver creates,
 * wired to this host's IP stack (vale-ctl -h). */
#define NMK_VALE_CTL_TAP 1u

struct nmk_msg_vale_stats {
	char name[64];                  /* in: "valeX:Y" */
	uint32_t port_index;            /* out: index in the switch */
	uint32_t pad;
	uint64_t tx_packets, tx_bytes;  /* frames the port sent into the switch */
	uint64_t rx_packets, rx_bytes;  /* frames delivered to the port */
	uint64_t forwarded, flooded;    /* copies of its frames delivered */
	uint64_t drop_full;             /* copies lost: destination ring full */
	uint64_t drop_invalid;          /* its frames dropped as invalid */
	uint64_t drop_nodest;           /* its frames with no destination */
};

/*
 * Send one message: header + body, with up to NMK_MSG_MAXFDS fds.
 * Returns 0 or a negative errno.  Never raises SIGPIPE.
 */
int nmk_msg_send(int sock, uint16_t type, uint32_t seq, int32_t status,
		 const void *body, uint32_t len, const int *fds, unsigned nfds);

/* Send an error reply whose body is the formatted message. */
int nmk_msg_send_error(int sock, uint16_t type, uint32_t seq, int32_t status,
		       const char *fmt, ...) __attribute__((format(printf, 5, 6)));

/*
 * Receive one message into buf (NMK_MSG_MAX bytes).  Fds attached to it are
 * stored in fds[] (count in *nfds, extra ones closed).  Returns the message
 * length (0 = peer closed), or a negative errno.  A wake-up byte is returned
 * as length 1.  `flags` is passed to recvmsg (MSG_DONTWAIT, ...).
 */
long nmk_msg_recv(int sock, void *buf, int *fds, unsigned *nfds, int flags);

/* Check a received message's header: magic, version, length.  Returns 0 or
 * -EPROTO with a message in err. */
int nmk_msg_check(const void *buf, long len, char *err, size_t errlen);

/* Send a wake-up on a broker-side socket end; never blocks (EAGAIN means one
 * is already queued, which is as good). */
void nmk_wake(int fd);

#endif /* NMK_PROTO_H */
