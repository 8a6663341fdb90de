/*
 * <net/netmap.h> - nmkit's own rendering of the netmap user/kernel ABI.
 *
 * This file is not netmap's header.  It was written for nmkit from the ABI
 * facts collected in the project's netmap reference notes (NETMAP_API 14:
 * struct layouts, constants, flags, ioctl numbers), so that programs written
 * for netmap compile unchanged against nmkit.  Every type, field and macro
 * name below is netmap's, because that is what the programs use; the layout
 * of every structure is pinned by the static assertions at the end, since
 * the rings and requests are shared with code built against the real
 * header (and with nmkit's own broker, which must agree byte for byte).
 *
 * Install layout: the directory holding net/ goes on the include path
 * (pkg-config nmkit-netmap), so "#include <net/netmap.h>" finds this file.
 * netmap splits the pre-API-12 request (struct nmreq, NIOCREGIF, ...) into
 * netmap_legacy.h and includes it from here; nmkit keeps it in this file,
 * at the end, which gives programs the same set of names.
 *
 * The include guards are netmap's own names on purpose: if a system copy of
 * netmap's headers is also reachable, whichever comes first wins and the
 * other becomes a no-op instead of a wall of redefinition errors.
 */
#ifndef _NET_NETMAP_H_
#define _NET_NETMAP_H_

/* Lets a build tell nmkit's rendering from a kernel netmap install. */
#define NMKIT_COMPAT_NETMAP_H 1

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>		/* ssize_t */
#include <sys/time.h>		/* struct timeval in netmap_ring */
#include <sys/ioctl.h>		/* _IO, _IOWR */
#include <sys/socket.h>		/* BSD <net/if.h> needs it first */
#include <net/if.h>		/* IFNAMSIZ */

/*
 * glibc hides IFNAMSIZ under strict -std=c11 (it is a BSD name), but keeps
 * the POSIX IF_NAMESIZE; the arrays below must be 16 bytes either way.
 */
#if defined(IFNAMSIZ)
#define NMK_NM_IFNAMSIZ_	IFNAMSIZ
#elif defined(IF_NAMESIZE)
#define NMK_NM_IFNAMSIZ_	IF_NAMESIZE
#else
#define NMK_NM_IFNAMSIZ_	16
#endif

/*
 * Alignment for netmap_ring.sem.  The attribute form is used whenever the
 * compiler has it, because it also works in the gnu89/gnu99 modes that old
 * netmap programs are often built with.
 */
#if defined(__GNUC__) || defined(__clang__)
#define NMK_NM_ALIGNED_(n)	__attribute__((__aligned__(n)))
#elif defined(__cplusplus) && __cplusplus >= 201103L
#define NMK_NM_ALIGNED_(n)	alignas(n)
#elif defined(__STDC_VERSION__) && __STDC_VERSION__ >= 201112L
#define NMK_NM_ALIGNED_(n)	_Alignas(n)
#else
#error "nmkit <net/netmap.h> needs GCC/Clang attributes, C11 or C++11"
#endif

/* ---------------------------------------------------------------------- */
/* Versions and sizes */

#define NETMAP_API		14	/* the API this header describes */
#define NETMAP_MIN_API		14	/* oldest nr_version NIOCCTRL accepts */
#define NETMAP_MAX_API		15	/* newest nr_version NIOCCTRL accepts */

#define NM_CACHE_ALIGN		128	/* alignment of netmap_ring.sem */
#define NETMAP_MAX_FRAGS	64	/* slots per packet (NS_MOREFRAG chains) */

/* ---------------------------------------------------------------------- */
/* Slots */

/*
 * One slot of a ring: which buffer, how many bytes of it, and flags.
 * ptr carries a user virtual address with NS_INDIRECT, or the per-slot
 * buffer offset (masked by ring->offset_mask) with NETMAP_REQ_OPT_OFFSETS.
 */
struct netmap_slot {
	uint32_t	buf_idx;	/* buffer index in the region */
	uint16_t	len;		/* bytes in the buffer */
	uint16_t	flags;		/* NS_* */
	uint64_t	ptr;		/* indirect address or offset */
};

#define NS_BUF_CHANGED	0x0001	/* buf_idx was changed by the user */
#define NS_REPORT	0x0002	/* ask for a completion notification */
#define NS_FORWARD	0x0004	/* pass between host and NIC (NR_FORWARD) */
#define NS_NO_LEARN	0x0008	/* VALE: do not learn the source MAC */
#define NS_INDIRECT	0x0010	/* VALE tx: payload is at slot->ptr */
#define NS_MOREFRAG	0x0020	/* another slot of this packet follows */
#define NS_TXMON	0x0040	/* monitor: slot was seen on a tx ring */

/* The high byte is a destination port override (VALE, unused) ... */
#define NS_PORT_SHIFT	8
#define NS_PORT_MASK	(0xff << NS_PORT_SHIFT)
/* ... and, on VALE rx rings, the fragment count of the packet. */
#define NS_RFRAGS(_slot)	(((_slot)->flags >> 8) & 0xff)

/* ---------------------------------------------------------------------- */
/* Rings */

/*
 * A ring: a 256-byte header followed by num_slots slots.  The user owns
 * slots [head, tail); the "kernel" (here nmkit) owns the rest and alone
 * writes the const fields.  Programs see those as const so that an
 * accidental store does not compile, as with netmap.
 */
struct netmap_ring {
	/* From this header to buffer 0 of the region: see NETMAP_BUF(). */
	const int64_t	buf_ofs;
	const uint32_t	num_slots;
	const uint32_t	nr_buf_size;
	const uint16_t	ringid;
	const uint16_t	dir;		/* 0 = tx, 1 = rx */

	uint32_t	head;		/* first slot owned by the user */
	uint32_t	cur;		/* wakeup point for poll() */
	const uint32_t	tail;		/* first slot owned by the kernel */

	uint32_t	flags;		/* NR_TIMESTAMP, NR_FORWARD */

	struct timeval	ts;		/* time of the last rx sync */

	/* Only set when the port was opened with NETMAP_REQ_OPT_OFFSETS. */
	const uint64_t	offset_mask;	/* bits of slot->ptr holding an offset */
	const uint64_t	buf_align;	/* alignment required of tx offsets */

	/* Opaque, cache-aligned room for a user lock; nmkit never reads it. */
	NMK_NM_ALIGNED_(NM_CACHE_ALIGN) uint8_t sem[128];

	struct netmap_slot slot[];	/* num_slots entries */
};

#define NR_TIMESTAMP	0x0002	/* update ts on every sync */
#define NR_FORWARD	0x0004	/* honour NS_FORWARD on this ring */

/*
 * True when the user owns no slot: nothing received (rx) or no room (tx).
 * It looks at head, not cur, because a program may push cur past tail to
 * ask for a wakeup once more slots are available.
 */
static inline int
nm_ring_empty(const struct netmap_ring *ring)
{
	return ring->head == ring->tail;
}

/* ---------------------------------------------------------------------- */
/* Interfaces */

/*
 * The per-registration descriptor, at nr_offset in the region.  ring_ofs[]
 * gives each ring's offset from this struct, in the order NIC tx, host tx,
 * NIC rx, host rx; rings not bound to this registration have offset 0.
 */
struct netmap_if {
	char		ni_name[NMK_NM_IFNAMSIZ_];	/* port name */
	const uint32_t	ni_version;	/* unused */
	const uint32_t	ni_flags;	/* NI_PRIV_MEM */
	const uint32_t	ni_tx_rings;	/* NIC tx rings */
	const uint32_t	ni_rx_rings;	/* NIC rx rings */
	uint32_t	ni_bufs_head;	/* first extra buffer (user writable) */
	const uint32_t	ni_host_tx_rings;
	const uint32_t	ni_host_rx_rings;
	uint32_t	ni_spare1[3];
	const ssize_t	ring_ofs[];
};

#define NI_PRIV_MEM	0x1	/* the port has a private memory region */

/* ---------------------------------------------------------------------- */
/* NIOCCTRL requests */

#define NETMAP_REQ_MAXSIZE	4096	/* body plus all options */
#define NETMAP_REQ_IFNAMSIZ	64	/* nmreq_header.nr_name, with the NUL */
#define NM_BDG_NAME		"vale"	/* prefix of VALE switch names */

/*
 * Options form a list through user pointers.  The kernel writes nro_status
 * back (0 or an errno); nro_size matters only for variable-size options.
 */
struct nmreq_option {
	uint64_t	nro_next;	/* struct nmreq_option *, or 0 */
	uint32_t	nro_reqtype;	/* NETMAP_REQ_OPT_* */
	uint32_t	nro_status;	/* (out) */
	uint64_t	nro_size;
};

/* The only argument of NIOCCTRL; the body and options hang off it. */
struct nmreq_header {
	uint16_t	nr_version;	/* NETMAP_API */
	uint16_t	nr_reqtype;	/* NETMAP_REQ_* */
	uint32_t	nr_reserved;	/* must be 0 */
	char		nr_name[NETMAP_REQ_IFNAMSIZ];	/* port name */
	uint64_t	nr_options;	/* struct nmreq_option *, or 0 */
	uint64_t	nr_body;	/* struct nmreq_xxx * for nr_reqtype */
};

enum {
	NETMAP_REQ_REGISTER = 1,
	NETMAP_REQ_PORT_INFO_GET = 2,
	NETMAP_REQ_VALE_ATTACH = 3,
	NETMAP_REQ_VALE_DETACH = 4,
	NETMAP_REQ_VALE_LIST = 5,
	NETMAP_REQ_PORT_HDR_SET = 6,
	NETMAP_REQ_PORT_HDR_GET = 7,
	NETMAP_REQ_VALE_NEWIF = 8,
	NETMAP_REQ_VALE_DELIF = 9,		/* no body */
	NETMAP_REQ_VALE_POLLING_ENABLE = 10,
	NETMAP_REQ_VALE_POLLING_DISABLE = 11,
	NETMAP_REQ_POOLS_INFO_GET = 12,
	NETMAP_REQ_SYNC_KLOOP_START = 13,
	NETMAP_REQ_SYNC_KLOOP_STOP = 14,	/* no body */
	NETMAP_REQ_CSB_ENABLE = 15,		/* no body */
};

enum {
	NETMAP_REQ_OPT_EXTMEM = 1,
	NETMAP_REQ_OPT_SYNC_KLOOP_EVENTFDS = 2,
	NETMAP_REQ_OPT_CSB = 3,
	NETMAP_REQ_OPT_SYNC_KLOOP_MODE = 4,
	NETMAP_REQ_OPT_OFFSETS = 5,
	NETMAP_REQ_OPT_MAX = 6,		/* first unknown type */
};

/*
 * NETMAP_REQ_REGISTER.  On success the counts, sizes, nr_offset,
 * nr_memsize, nr_mem_id and nr_extra_bufs are written back; nr_mode,
 * nr_ringid and nr_flags are left as the program set them.
 */
struct nmreq_register {
	uint64_t	nr_offset;	/* (out) netmap_if offset in the region */
	uint64_t	nr_memsize;	/* (out) region size */
	uint32_t	nr_tx_slots;
	uint32_t	nr_rx_slots;
	uint16_t	nr_tx_rings;
	uint16_t	nr_rx_rings;
	uint16_t	nr_host_tx_rings;
	uint16_t	nr_host_rx_rings;
	uint16_t	nr_mem_id;	/* 0 = any; else share that region */
	uint16_t	nr_ringid;	/* ring for ONE_NIC / ONE_SW */
	uint32_t	nr_mode;	/* NR_REG_* */
	uint32_t	nr_extra_bufs;	/* (in/out) extra buffers */
	uint64_t	nr_flags;	/* NR_* below (after a 4-byte hole) */
};

/* nmreq_register.nr_flags; the kernel ignores bits it does not know. */
#define NR_MONITOR_TX		0x100
#define NR_MONITOR_RX		0x200
#define NR_ZCOPY_MON		0x400
#define NR_EXCLUSIVE		0x800
/* 0x1000 is unused in this API (it was a legacy flag). */
#define NR_RX_RINGS_ONLY	0x2000
#define NR_TX_RINGS_ONLY	0x4000
#define NR_ACCEPT_VNET_HDR	0x8000
#define NR_DO_RX_POLL		0x10000
#define NR_NO_TX_POLL		0x20000

/* nmreq_register.nr_mode. */
enum {
	NR_REG_DEFAULT = 0,	/* legacy only: derive from nr_ringid */
	NR_REG_ALL_NIC = 1,
	NR_REG_SW = 2,		/* host rings */
	NR_REG_NIC_SW = 3,
	NR_REG_ONE_NIC = 4,	/* the NIC ring pair nr_ringid */
	NR_REG_PIPE_MASTER = 5,	/* deprecated: use the "x{N" name */
	NR_REG_PIPE_SLAVE = 6,	/* deprecated: use the "x}N" name */
	NR_REG_NULL = 7,
	NR_REG_ONE_SW = 8,	/* the host ring pair nr_ringid */
};

/*
 * The ioctls.  NIOCCTRL's size field covers only the header: the body and
 * options are found through its pointers and copied separately.
 * NIOCTXSYNC/NIOCRXSYNC take no argument.
 */
#define NIOCCTRL	_IOWR('i', 151, struct nmreq_header)
#define NIOCTXSYNC	_IO('i', 148)
#define NIOCRXSYNC	_IO('i', 149)

/* NETMAP_REQ_PORT_INFO_GET */
struct nmreq_port_info_get {
	uint64_t	nr_memsize;
	uint32_t	nr_tx_slots;
	uint32_t	nr_rx_slots;
	uint16_t	nr_tx_rings;
	uint16_t	nr_rx_rings;
	uint16_t	nr_host_tx_rings;
	uint16_t	nr_host_rx_rings;
	uint16_t	nr_mem_id;	/* (in/out) */
	uint16_t	pad[3];
};

/* NETMAP_REQ_VALE_ATTACH: a registration plus the resulting port index. */
struct nmreq_vale_attach {
	struct nmreq_register reg;
	uint32_t	port_index;	/* (out) */
	uint32_t	pad1;
};

/* NETMAP_REQ_VALE_DETACH */
struct nmreq_vale_detach {
	uint32_t	port_index;	/* (out) */
	uint32_t	pad1;
};

/* NETMAP_REQ_VALE_LIST: iterate switches and ports by index. */
struct nmreq_vale_list {
	uint16_t	nr_bridge_idx;
	uint16_t	pad1;
	uint32_t	nr_port_idx;
};

/* NETMAP_REQ_PORT_HDR_SET and NETMAP_REQ_PORT_HDR_GET */
struct nmreq_port_hdr {
	uint32_t	nr_hdr_len;	/* virtio-net header length */
	uint32_t	pad1;
};

/* NETMAP_REQ_VALE_NEWIF: create a persistent VALE port. */
struct nmreq_vale_newif {
	uint32_t	nr_tx_slots;
	uint32_t	nr_rx_slots;
	uint16_t	nr_tx_rings;
	uint16_t	nr_rx_rings;
	uint16_t	nr_mem_id;
	uint16_t	pad1;
};

/* NETMAP_REQ_VALE_POLLING_ENABLE and NETMAP_REQ_VALE_POLLING_DISABLE */
struct nmreq_vale_polling {
	uint32_t	nr_mode;	/* NETMAP_POLLING_MODE_* */
	uint32_t	nr_first_cpu_id;
	uint32_t	nr_num_polling_cpus;
	uint32_t	pad1;
};

#define NETMAP_POLLING_MODE_SINGLE_CPU	1
#define NETMAP_POLLING_MODE_MULTI_CPU	2

/*
 * NETMAP_REQ_POOLS_INFO_GET, and the in/out pool description of
 * NETMAP_REQ_OPT_EXTMEM.  Offsets are from the start of the region.
 */
struct nmreq_pools_info {
	uint64_t	nr_memsize;
	uint16_t	nr_mem_id;
	uint16_t	pad1[3];
	uint64_t	nr_if_pool_offset;
	uint32_t	nr_if_pool_objtotal;
	uint32_t	nr_if_pool_objsize;
	uint64_t	nr_ring_pool_offset;
	uint32_t	nr_ring_pool_objtotal;
	uint32_t	nr_ring_pool_objsize;
	uint64_t	nr_buf_pool_offset;
	uint32_t	nr_buf_pool_objtotal;
	uint32_t	nr_buf_pool_objsize;
};

/* NETMAP_REQ_SYNC_KLOOP_START */
struct nmreq_sync_kloop_start {
	uint32_t	sleep_us;	/* pause between kloop passes */
	uint32_t	pad1;
};

/*
 * Ring state exchanged through a user-supplied Control/Status Block
 * (NETMAP_REQ_OPT_CSB), one entry per bound ring and direction.  Each is
 * one 64-byte cache line so that the two writers never share a line.
 */
struct nm_csb_atok {		/* application to kernel */
	uint32_t	head;
	uint32_t	cur;
	uint32_t	appl_need_kick;	/* application wants notifications */
	uint32_t	sync_flags;
	uint32_t	pad[12];
};

struct nm_csb_ktoa {		/* kernel to application */
	uint32_t	hwcur;
	uint32_t	hwtail;
	uint32_t	kern_need_kick;	/* kernel wants notifications */
	uint32_t	pad[13];
};

/* ---------------------------------------------------------------------- */
/* Option bodies: each starts with its struct nmreq_option. */

/* NETMAP_REQ_OPT_EXTMEM: build the region inside user memory. */
struct nmreq_opt_extmem {
	struct nmreq_option	nro_opt;
	uint64_t		nro_usrptr;	/* user memory */
	struct nmreq_pools_info	nro_info;	/* (in/out) 0 = defaults */
};

/* NETMAP_REQ_OPT_CSB: user pointers to arrays of CSB entries. */
struct nmreq_opt_csb {
	struct nmreq_option	nro_opt;
	uint64_t		csb_atok;	/* struct nm_csb_atok[] */
	uint64_t		csb_ktoa;	/* struct nm_csb_ktoa[] */
};

/* NETMAP_REQ_OPT_OFFSETS: per-slot buffer offsets in slot->ptr. */
struct nmreq_opt_offsets {
	struct nmreq_option	nro_opt;
	uint64_t		nro_max_offset;
	uint64_t		nro_initial_offset;
	uint32_t		nro_offset_bits;
	uint32_t		nro_tx_align;
	uint64_t		nro_min_gap;
};

/*
 * NETMAP_REQ_OPT_SYNC_KLOOP_EVENTFDS: one pair of eventfds per bound ring;
 * variable size, so nro_opt.nro_size must cover the whole array.
 */
struct nmreq_opt_sync_kloop_eventfds {
	struct nmreq_option	nro_opt;
	struct {
		int32_t	ioeventfd;	/* application to kernel */
		int32_t	irqfd;		/* kernel to application */
	} eventfds[];
};

/* NETMAP_REQ_OPT_SYNC_KLOOP_MODE */
struct nmreq_opt_sync_kloop_mode {
	struct nmreq_option	nro_opt;
	uint32_t		mode;	/* NM_OPT_SYNC_KLOOP_DIRECT_* */
};

#define NM_OPT_SYNC_KLOOP_DIRECT_TX	(1 << 0)
#define NM_OPT_SYNC_KLOOP_DIRECT_RX	(1 << 1)

/* ---------------------------------------------------------------------- */
/*
 * The legacy request (netmap_legacy.h in netmap): NIOCREGIF and NIOCGINFO
 * with a 60-byte struct nmreq, still used by older programs and by
 * nm_open().  Defining netmap's guard keeps a stray system copy of
 * netmap_legacy.h from redefining all of this.
 */
#ifndef _NET_NETMAP_LEGACY_H_
#define _NET_NETMAP_LEGACY_H_

struct nmreq {
	char		nr_name[NMK_NM_IFNAMSIZ_];
	uint32_t	nr_version;	/* NETMAP_API; >= 14 accepted */
	uint32_t	nr_offset;	/* (out) netmap_if offset */
	uint32_t	nr_memsize;	/* (out) region size, 32 bits here */
	uint32_t	nr_tx_slots;
	uint32_t	nr_rx_slots;
	uint16_t	nr_tx_rings;
	uint16_t	nr_rx_rings;
	uint16_t	nr_ringid;	/* NETMAP_* ring bits below */
	uint16_t	nr_cmd;		/* NETMAP_BDG_* below, or 0 */
	uint16_t	nr_arg1;	/* command argument */
	uint16_t	nr_arg2;	/* memory region id */
	uint32_t	nr_arg3;	/* extra buffers */
	uint32_t	nr_flags;	/* NR_REG_* in the low bits, NR_* */
	uint32_t	spare2[1];
};

/* nmreq.nr_ringid */
#define NETMAP_HW_RING		0x4000	/* one NIC ring pair */
#define NETMAP_SW_RING		0x2000	/* the host ring pair */
#define NETMAP_RING_MASK	0x0fff	/* the ring number */
#define NETMAP_NO_TX_POLL	0x1000	/* poll() does not txsync */
#define NETMAP_DO_RX_POLL	0x8000	/* poll() always rxsyncs */

/* nmreq.nr_cmd */
#define NETMAP_BDG_ATTACH	1
#define NETMAP_BDG_DETACH	2
#define NETMAP_BDG_REGOPS	3
#define NETMAP_BDG_LIST		4	/* with NIOCGINFO */
#define NETMAP_BDG_VNET_HDR	5
#define NETMAP_BDG_NEWIF	6
#define NETMAP_BDG_DELIF	7
#define NETMAP_PT_HOST_CREATE	8
#define NETMAP_PT_HOST_DELETE	9
#define NETMAP_BDG_POLLING_ON	10
#define NETMAP_BDG_POLLING_OFF	11
#define NETMAP_VNET_HDR_GET	12
#define NETMAP_POOLS_INFO_GET	13	/* legacy name; not translated */

/* nmreq.nr_arg1 with NETMAP_BDG_ATTACH: attach the host rings too. */
#define NETMAP_BDG_HOST		1

/* nmreq.nr_flags & NR_REG_MASK is the NR_REG_* mode. */
#define NR_REG_MASK		0xf

/* NIOCCONFIG's opaque argument, for external VALE modules. */
#define NM_IFRDATA_LEN		256
struct nm_ifreq {
	char	nifr_name[NMK_NM_IFNAMSIZ_];
	char	data[NM_IFRDATA_LEN];
};

/* The size in these numbers is the whole struct: keep them exact. */
#define NIOCGINFO	_IOWR('i', 145, struct nmreq)
#define NIOCREGIF	_IOWR('i', 146, struct nmreq)
#define NIOCCONFIG	_IOWR('i', 150, struct nm_ifreq)

#endif /* _NET_NETMAP_LEGACY_H_ */

/* ---------------------------------------------------------------------- */
/*
 * Layout checks.  A program built against this header shares rings and
 * requests with code built against netmap's, so a drifted field would be
 * silent corruption; catch it at compile time instead.  The figures are
 * netmap's on LP64 (measured on x86_64 Linux); ILP32 targets lay the
 * 64-bit fields, timeval and ssize_t out differently, as netmap itself does
 * there, so the checks apply to LP64 only.  The ioctl numbers are checked
 * where Linux uses the generic _IOC encoding.
 */
#if defined(__cplusplus)
#if __cplusplus >= 201103L
#define NMK_NM_ASSERT_(e, what)	static_assert(e, "netmap ABI: " what);
#endif
#elif defined(__STDC_VERSION__) && __STDC_VERSION__ >= 201112L
#define NMK_NM_ASSERT_(e, what)	_Static_assert(e, "netmap ABI: " what);
#elif defined(__clang__) || \
    (defined(__GNUC__) && (__GNUC__ > 4 || (__GNUC__ == 4 && __GNUC_MINOR__ >= 6)))
/* gnu89/gnu99 builds of old netmap programs: GCC has it as an extension. */
#define NMK_NM_ASSERT_(e, what)	__extension__ _Static_assert(e, "netmap ABI: " what);
#endif
#ifndef NMK_NM_ASSERT_
#define NMK_NM_ASSERT_(e, what)	/* no static assertions in this dialect */
#endif

/* __alignof__ first: it is also there in the pre-C11 GNU dialects. */
#if defined(__GNUC__) || defined(__clang__)
#define NMK_NM_ALIGNOF_(t)	__alignof__(t)
#elif defined(__cplusplus)
#define NMK_NM_ALIGNOF_(t)	alignof(t)
#else
#define NMK_NM_ALIGNOF_(t)	_Alignof(t)
#endif

#define NMK_NM_ALIGN_(type, n) \
	NMK_NM_ASSERT_(NMK_NM_ALIGNOF_(struct type) == (n), "alignof(struct " #type ")")
#define NMK_NM_SIZE_(type, n) \
	NMK_NM_ASSERT_(sizeof(struct type) == (n), "sizeof(struct " #type ")")
#define NMK_NM_OFF_(type, field, n) \
	NMK_NM_ASSERT_(offsetof(struct type, field) == (n), \
	    "offsetof(struct " #type ", " #field ")")

#if defined(__LP64__) || defined(_LP64)
NMK_NM_SIZE_(netmap_slot, 16)
NMK_NM_ALIGN_(netmap_slot, 8)
NMK_NM_OFF_(netmap_slot, buf_idx, 0)
NMK_NM_OFF_(netmap_slot, len, 4)
NMK_NM_OFF_(netmap_slot, flags, 6)
NMK_NM_OFF_(netmap_slot, ptr, 8)

NMK_NM_SIZE_(netmap_ring, 256)
NMK_NM_ALIGN_(netmap_ring, NM_CACHE_ALIGN)
NMK_NM_OFF_(netmap_ring, buf_ofs, 0)
NMK_NM_OFF_(netmap_ring, num_slots, 8)
NMK_NM_OFF_(netmap_ring, nr_buf_size, 12)
NMK_NM_OFF_(netmap_ring, ringid, 16)
NMK_NM_OFF_(netmap_ring, dir, 18)
NMK_NM_OFF_(netmap_ring, head, 20)
NMK_NM_OFF_(netmap_ring, cur, 24)
NMK_NM_OFF_(netmap_ring, tail, 28)
NMK_NM_OFF_(netmap_ring, flags, 32)
NMK_NM_OFF_(netmap_ring, ts, 40)
NMK_NM_OFF_(netmap_ring, offset_mask, 56)
NMK_NM_OFF_(netmap_ring, buf_align, 64)
NMK_NM_OFF_(netmap_ring, sem, 128)
NMK_NM_OFF_(netmap_ring, slot, 256)
NMK_NM_ASSERT_(sizeof(struct timeval) == 16, "sizeof(struct timeval)")

NMK_NM_SIZE_(netmap_if, 56)
NMK_NM_OFF_(netmap_if, ni_name, 0)
NMK_NM_OFF_(netmap_if, ni_version, 16)
NMK_NM_OFF_(netmap_if, ni_flags, 20)
NMK_NM_OFF_(netmap_if, ni_tx_rings, 24)
NMK_NM_OFF_(netmap_if, ni_rx_rings, 28)
NMK_NM_OFF_(netmap_if, ni_bufs_head, 32)
NMK_NM_OFF_(netmap_if, ni_host_tx_rings, 36)
NMK_NM_OFF_(netmap_if, ni_host_rx_rings, 40)
NMK_NM_OFF_(netmap_if, ni_spare1, 44)
NMK_NM_OFF_(netmap_if, ring_ofs, 56)
NMK_NM_ASSERT_(sizeof(ssize_t) == 8, "ring_ofs[] entries are 8 bytes")

NMK_NM_SIZE_(nmreq_option, 24)
NMK_NM_OFF_(nmreq_option, nro_next, 0)
NMK_NM_OFF_(nmreq_option, nro_reqtype, 8)
NMK_NM_OFF_(nmreq_option, nro_status, 12)
NMK_NM_OFF_(nmreq_option, nro_size, 16)

NMK_NM_SIZE_(nmreq_header, 88)
NMK_NM_OFF_(nmreq_header, nr_version, 0)
NMK_NM_OFF_(nmreq_header, nr_reqtype, 2)
NMK_NM_OFF_(nmreq_header, nr_reserved, 4)
NMK_NM_OFF_(nmreq_header, nr_name, 8)
NMK_NM_OFF_(nmreq_header, nr_options, 72)
NMK_NM_OFF_(nmreq_header, nr_body, 80)

NMK_NM_SIZE_(nmreq_register, 56)
NMK_NM_OFF_(nmreq_register, nr_offset, 0)
NMK_NM_OFF_(nmreq_register, nr_memsize, 8)
NMK_NM_OFF_(nmreq_register, nr_tx_slots, 16)
NMK_NM_OFF_(nmreq_register, nr_rx_slots, 20)
NMK_NM_OFF_(nmreq_register, nr_tx_rings, 24)
NMK_NM_OFF_(nmreq_register, nr_rx_rings, 26)
NMK_NM_OFF_(nmreq_register, nr_host_tx_rings, 28)
NMK_NM_OFF_(nmreq_register, nr_host_rx_rings, 30)
NMK_NM_OFF_(nmreq_register, nr_mem_id, 32)
NMK_NM_OFF_(nmreq_register, nr_ringid, 34)
NMK_NM_OFF_(nmreq_register, nr_mode, 36)
NMK_NM_OFF_(nmreq_register, nr_extra_bufs, 40)
NMK_NM_OFF_(nmreq_register, nr_flags, 48)

NMK_NM_SIZE_(nmreq_port_info_get, 32)
NMK_NM_OFF_(nmreq_port_info_get, nr_memsize, 0)
NMK_NM_OFF_(nmreq_port_info_get, nr_tx_slots, 8)
NMK_NM_OFF_(nmreq_port_info_get, nr_rx_slots, 12)
NMK_NM_OFF_(nmreq_port_info_get, nr_tx_rings, 16)
NMK_NM_OFF_(nmreq_port_info_get, nr_rx_rings, 18)
NMK_NM_OFF_(nmreq_port_info_get, nr_host_tx_rings, 20)
NMK_NM_OFF_(nmreq_port_info_get, nr_host_rx_rings, 22)
NMK_NM_OFF_(nmreq_port_info_get, nr_mem_id, 24)
NMK_NM_OFF_(nmreq_port_info_get, pad, 26)

NMK_NM_SIZE_(nmreq_vale_attach, 64)
NMK_NM_OFF_(nmreq_vale_attach, reg, 0)
NMK_NM_OFF_(nmreq_vale_attach, port_index, 56)
NMK_NM_OFF_(nmreq_vale_attach, pad1, 60)

NMK_NM_SIZE_(nmreq_vale_detach, 8)
NMK_NM_OFF_(nmreq_vale_detach, port_index, 0)
NMK_NM_OFF_(nmreq_vale_detach, pad1, 4)

NMK_NM_SIZE_(nmreq_vale_list, 8)
NMK_NM_OFF_(nmreq_vale_list, nr_bridge_idx, 0)
NMK_NM_OFF_(nmreq_vale_list, pad1, 2)
NMK_NM_OFF_(nmreq_vale_list, nr_port_idx, 4)

NMK_NM_SIZE_(nmreq_port_hdr, 8)
NMK_NM_OFF_(nmreq_port_hdr, nr_hdr_len, 0)
NMK_NM_OFF_(nmreq_port_hdr, pad1, 4)

NMK_NM_SIZE_(nmreq_vale_newif, 16)
NMK_NM_OFF_(nmreq_vale_newif, nr_tx_slots, 0)
NMK_NM_OFF_(nmreq_vale_newif, nr_rx_slots, 4)
NMK_NM_OFF_(nmreq_vale_newif, nr_tx_rings, 8)
NMK_NM_OFF_(nmreq_vale_newif, nr_rx_rings, 10)
NMK_NM_OFF_(nmreq_vale_newif, nr_mem_id, 12)
NMK_NM_OFF_(nmreq_vale_newif, pad1, 14)

NMK_NM_SIZE_(nmreq_vale_polling, 16)
NMK_NM_OFF_(nmreq_vale_polling, nr_mode, 0)
NMK_NM_OFF_(nmreq_vale_polling, nr_first_cpu_id, 4)
NMK_NM_OFF_(nmreq_vale_polling, nr_num_polling_cpus, 8)
NMK_NM_OFF_(nmreq_vale_polling, pad1, 12)

NMK_NM_SIZE_(nmreq_pools_info, 64)
NMK_NM_OFF_(nmreq_pools_info, nr_memsize, 0)
NMK_NM_OFF_(nmreq_pools_info, nr_mem_id, 8)
NMK_NM_OFF_(nmreq_pools_info, pad1, 10)
NMK_NM_OFF_(nmreq_pools_info, nr_if_pool_offset, 16)
NMK_NM_OFF_(nmreq_pools_info, nr_if_pool_objtotal, 24)
NMK_NM_OFF_(nmreq_pools_info, nr_if_pool_objsize, 28)
NMK_NM_OFF_(nmreq_pools_info, nr_ring_pool_offset, 32)
NMK_NM_OFF_(nmreq_pools_info, nr_ring_pool_objtotal, 40)
NMK_NM_OFF_(nmreq_pools_info, nr_ring_pool_objsize, 44)
NMK_NM_OFF_(nmreq_pools_info, nr_buf_pool_offset, 48)
NMK_NM_OFF_(nmreq_pools_info, nr_buf_pool_objtotal, 56)
NMK_NM_OFF_(nmreq_pools_info, nr_buf_pool_objsize, 60)

NMK_NM_SIZE_(nmreq_sync_kloop_start, 8)
NMK_NM_OFF_(nmreq_sync_kloop_start, sleep_us, 0)
NMK_NM_SIZE_(nm_csb_atok, 64)
NMK_NM_SIZE_(nm_csb_ktoa, 64)

NMK_NM_SIZE_(nmreq_opt_extmem, 96)
NMK_NM_OFF_(nmreq_opt_extmem, nro_opt, 0)
NMK_NM_OFF_(nmreq_opt_extmem, nro_usrptr, 24)
NMK_NM_OFF_(nmreq_opt_extmem, nro_info, 32)

NMK_NM_SIZE_(nmreq_opt_csb, 40)
NMK_NM_OFF_(nmreq_opt_csb, csb_atok, 24)
NMK_NM_OFF_(nmreq_opt_csb, csb_ktoa, 32)

NMK_NM_SIZE_(nmreq_opt_offsets, 56)
NMK_NM_OFF_(nmreq_opt_offsets, nro_max_offset, 24)
NMK_NM_OFF_(nmreq_opt_offsets, nro_initial_offset, 32)
NMK_NM_OFF_(nmreq_opt_offsets, nro_offset_bits, 40)
NMK_NM_OFF_(nmreq_opt_offsets, nro_tx_align, 44)
NMK_NM_OFF_(nmreq_opt_offsets, nro_min_gap, 48)

NMK_NM_SIZE_(nmreq_opt_sync_kloop_eventfds, 24)
NMK_NM_OFF_(nmreq_opt_sync_kloop_eventfds, eventfds, 24)
NMK_NM_ASSERT_(sizeof(((struct nmreq_opt_sync_kloop_eventfds *)0)->eventfds[0]) == 8,
    "eventfds[] entries are 8 bytes")

NMK_NM_SIZE_(nmreq_opt_sync_kloop_mode, 32)
NMK_NM_OFF_(nmreq_opt_sync_kloop_mode, mode, 24)

NMK_NM_SIZE_(nmreq, 60)
NMK_NM_ALIGN_(nmreq, 4)
NMK_NM_OFF_(nmreq, nr_name, 0)
NMK_NM_OFF_(nmreq, nr_version, 16)
NMK_NM_OFF_(nmreq, nr_offset, 20)
NMK_NM_OFF_(nmreq, nr_memsize, 24)
NMK_NM_OFF_(nmreq, nr_tx_slots, 28)
NMK_NM_OFF_(nmreq, nr_rx_slots, 32)
NMK_NM_OFF_(nmreq, nr_tx_rings, 36)
NMK_NM_OFF_(nmreq, nr_rx_rings, 38)
NMK_NM_OFF_(nmreq, nr_ringid, 40)
NMK_NM_OFF_(nmreq, nr_cmd, 42)
NMK_NM_OFF_(nmreq, nr_arg1, 44)
NMK_NM_OFF_(nmreq, nr_arg2, 46)
NMK_NM_OFF_(nmreq, nr_arg3, 48)
NMK_NM_OFF_(nmreq, nr_flags, 52)
NMK_NM_OFF_(nmreq, spare2, 56)

NMK_NM_SIZE_(nm_ifreq, 272)
NMK_NM_OFF_(nm_ifreq, nifr_name, 0)
NMK_NM_OFF_(nm_ifreq, data, 16)
#endif /* LP64 */

#if defined(__linux__) && (defined(__x86_64__) || defined(__i386__) || \
    defined(__aarch64__) || defined(__arm__) || defined(__riscv) || \
    defined(__s390__) || defined(__loongarch__))
NMK_NM_ASSERT_(NIOCGINFO == 0xc03c6991u, "NIOCGINFO")
NMK_NM_ASSERT_(NIOCREGIF == 0xc03c6992u, "NIOCREGIF")
NMK_NM_ASSERT_(NIOCTXSYNC == 0x6994u, "NIOCTXSYNC")
NMK_NM_ASSERT_(NIOCRXSYNC == 0x6995u, "NIOCRXSYNC")
NMK_NM_ASSERT_(NIOCCONFIG == 0xc1106996u, "NIOCCONFIG")
NMK_NM_ASSERT_(NIOCCTRL == 0xc0586997u, "NIOCCTRL")
#endif

/* The helpers are private to this header: keep programs' namespace clean. */
#undef NMK_NM_OFF_
#undef NMK_NM_SIZE_
#undef NMK_NM_ALIGN_
#undef NMK_NM_ALIGNOF_
#undef NMK_NM_ASSERT_
#undef NMK_NM_ALIGNED_
#undef NMK_NM_IFNAMSIZ_

#endif /* _NET_NETMAP_H_ */
