/*
 * shm.h - the control object of a region: the state netmap keeps in the
 * kernel, here in shared memory so that syncs can run in every process.
 *
 * Layout (all offsets from the start of the control object, computed by
 * nmk_ctrl_geom_compute from the counts, so every process can check them):
 *
 *   struct nmk_ctrl_hdr                 at 0
 *   struct nmk_kring [nkrings]          at kring_off, one per ring object of
 *                                       the region (kring i: ring object i)
 *   struct nmk_ctrl_port [nports]       at port_off
 *   struct nmk_lease [nkrings][NMK_LEASES] at lease_off (lease-filled rings)
 *   the switch section, sw_bytes        at sw_off (switch regions; its
 *                                       layout belongs to vale/)
 *
 * The broker writes the constant fields when it creates a ring; afterwards
 * each field has one writer, as the comments say.  Indices that cross
 * processes are C11 atomics: release on the producer, acquire on the
 * consumer.  Nothing in here is a pointer.
 *
 * Every client of a region maps all of this read-write, so every word here
 * may hold garbage written by another process: code reads a word once,
 * checks its range, and bounds every wait on it (see kring.h, lease.h).
 */
#ifndef NMK_SHM_H
#define NMK_SHM_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "region.h"

#define NMK_CTRL_MAGIC    UINT64_C(0x326c7274636b6d6e) /* "nmkctrl2" */
#define NMK_CTRL_VERSION  2u
#define NMK_MAX_BINDINGS  64u       /* registrations (fds) per port */
#define NMK_NONE          0xffffffffu

#define NMK_LEASES        64u       /* outstanding leases per lease-filled ring */
#define NMK_MAX_MON       4u        /* monitors per ring */

/* nmk_kring.flags */
#define NMK_KRING_LEASED  1u        /* an RX ring that producers fill through leases */

/* Where everything is in a control object. */
struct nmk_ctrl_geom {
	uint32_t nkrings;       /* = ring objects of the region */
	uint32_t nports;        /* binding tables */
	uint64_t sw_bytes;      /* the switch section; 0 = not a switch region */
	uint64_t kring_off, port_off, lease_off, sw_off;
	uint64_t size;          /* bytes, a page multiple */
};

/* Fill the offsets and size of g from its counts.  Returns 0 or -EINVAL. */
int nmk_ctrl_geom_compute(struct nmk_ctrl_geom *g);

struct nmk_ctrl_hdr {
	uint64_t magic;
	uint32_t version;
	uint16_t mem_id;
	uint16_t pad0;
	struct nmk_region_layout layout;
	struct nmk_ctrl_geom geom;
};

struct nmk_kring {
	/* Constant while the ring exists (written by the broker).  Openers
	 * copy them once (struct nmk_kring_view) and use their copy; what
	 * other processes' rings say here is checked at every use. */
	uint32_t ring_index;    /* informational: ring object = this kring's index */
	uint32_t num_slots;
	uint32_t kind;          /* the port kind (libnm/kinds.h) */
	uint32_t port;          /* index in the control port table */
	uint32_t peer;          /* peer kring (pipes), else NMK_NONE */
	uint16_t dir;           /* NMK_DIR_TX or NMK_DIR_RX */
	uint16_t ring_id;       /* index of the ring within its port */
	uint32_t vport;         /* VALE: slot of the port in the switch table */
	uint32_t flags;         /* NMK_KRING_* */
	uint32_t gen;           /* lease-filled rings: generation of their port */
	char pad0[64 - 36];

	/* Owner side: written only by syncs of this ring. */
	_Atomic uint32_t hwcur;
	uint32_t rhead;         /* last validated head */
	uint32_t rtail;         /* last tail reported to the user */
	_Atomic uint32_t busy;  /* pid inside a sync of this ring, 0 = free */
	char pad1[64 - 16];

	/* Producer side: written by whoever fills this ring (the pipe peer,
	 * a driver, or senders under `lock`). */
	_Atomic uint64_t lock;          /* lease lock: holder pid | taken (ms) << 32 */
	_Atomic uint32_t hwtail;
	uint32_t lease_head;            /* oldest outstanding lease (free-running) */
	uint32_t lease_tail;            /* next lease to hand out (free-running) */
	_Atomic uint32_t stopped;       /* the port is going away: no new lease */
	_Atomic uint64_t drops;         /* frames lost to this RX ring: it was full */
	char pad2[64 - 32];

	/* Bindings of `port` asleep waiting on this ring (bit b = slot b). */
	_Atomic uint64_t armed;
	/* Monitors watching this ring: kring of the monitor's RX ring in the
	 * low 32 bits (bit 31: zero copy), its generation in the high 32;
	 * 0 = none. */
	_Atomic uint64_t mon[NMK_MAX_MON];
	char pad3[64 - 8 - 8 * NMK_MAX_MON];
};

struct nmk_ctrl_port {
	/* Broker-wide id of the binding in each slot; 0 = free. */
	_Atomic uint64_t binding[NMK_MAX_BINDINGS];
};

_Static_assert(sizeof(struct nmk_kring) == 256, "kring is four cache lines");
_Static_assert(offsetof(struct nmk_kring, hwcur) == 64, "owner line");
_Static_assert(offsetof(struct nmk_kring, lock) == 128, "producer line");
_Static_assert(offsetof(struct nmk_kring, armed) == 192, "wake line");
_Static_assert(sizeof(struct nmk_ctrl_port) == 8 * NMK_MAX_BINDINGS, "port entry");
_Static_assert(sizeof(_Atomic uint64_t) == 8 && sizeof(_Atomic uint32_t) == 4,
	       "lock-free atomics of plain size");

/* A lease: slots [start, end) of a lease-filled ring reserved by process
 * `pid` (0 once completed). */
struct nmk_lease {
	uint32_t start, end;
	_Atomic uint32_t pid;
	uint32_t stamp;         /* when it was taken, in ms (coarse clock) */
};

/*
 * A mapped region and its control object, with the geometry this process
 * validated when it mapped them.  Code that follows indices always uses
 * these private copies, never the header in shared memory, so that a stray
 * write into the control object cannot send it outside the mapping.
 */
struct nmk_mem {
	void *base;                     /* netmap region */
	void *ctrl;                     /* control object */
	const struct nmk_region_layout *l;
	struct nmk_ctrl_geom g;
	uint32_t max_slots;             /* most slots a ring object of l holds */
};

/* Fill m->max_slots from m->l (after setting base, ctrl, l and g). */
void nmk_mem_init_limits(struct nmk_mem *m);

/* Is n a slot count that a ring of this region can have? */
static inline int nmk_slots_ok(const struct nmk_mem *m, uint32_t n)
{
	return n >= 2 && n <= m->max_slots;
}

/* Kring i (i < g.nkrings: the caller checks). */
static inline struct nmk_kring *nmk_kring_at(const struct nmk_mem *m, uint32_t i)
{
	return (struct nmk_kring *)((char *)m->ctrl + m->g.kring_off) + i;
}

/* The index of kring k of this control object. */
static inline uint32_t nmk_kring_index(const struct nmk_mem *m, const struct nmk_kring *k)
{
	return (uint32_t)(k - nmk_kring_at(m, 0));
}

static inline struct nmk_ctrl_port *nmk_ctrl_port_at(const struct nmk_mem *m, uint32_t i)
{
	return (struct nmk_ctrl_port *)((char *)m->ctrl + m->g.port_off) + i;
}

static inline struct nmk_lease *nmk_leases_of(const struct nmk_mem *m, uint32_t kring)
{
	return (struct nmk_lease *)((char *)m->ctrl + m->g.lease_off) + (uint64_t)kring * NMK_LEASES;
}

/* The switch section (m->g.sw_bytes bytes; vale/ knows its layout). */
static inline void *nmk_switch_section(const struct nmk_mem *m)
{
	return (char *)m->ctrl + m->g.sw_off;
}

#endif /* NMK_SHM_H */
