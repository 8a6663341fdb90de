/*
 * vale_shm.h - a switch's section of its region's control object: a
 * header, the port table, the learning table (nmk_vale_layout says where).
 *
 * The broker owns the port table: it fills a slot, then sets it ACTIVE (a
 * release store); senders read `state` with acquire and then the rest.  A
 * slot being removed goes STOPPING while senders drain; its `gen` changes
 * whenever it gets a new occupant, and the RX krings of the port carry the
 * same gen, so a sender holding a stale view never delivers into a ring
 * that has meanwhile been given to another port.
 *
 * Counters are written by senders with relaxed atomic adds: a port's own
 * TX-side counters only by the process syncing its TX ring; the RX-side
 * counters by whichever sender delivers, once per lease.
 */
#ifndef NMK_VALE_SHM_H
#define NMK_VALE_SHM_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#define NMK_VALE_MAXRINGS 16u           /* per direction (netmap: NM_BDG_MAXRINGS) */
#define NMK_VALE_NAME_MAX 16u           /* "valeX" and port names: 15 chars + NUL */

enum nmk_vale_state {
	NMK_VPORT_FREE = 0,
	NMK_VPORT_ACTIVE = 1,
	NMK_VPORT_STOPPING = 2,
};

struct nmk_vale_hdr {
	char name[NMK_VALE_NAME_MAX];   /* "vale0" */
	uint32_t max_ports;
	_Atomic uint32_t nactive;       /* ports ACTIVE now */
	_Atomic uint32_t max_active;    /* highest slot ever used + 1: scan bound */
	_Atomic uint32_t learn_age_s;   /* learning table max age (mirror) */
	uint32_t learn_entries;         /* size of the learning table */
	char pad[4096 - 36];
};

struct nmk_vale_port {
	/* Written by the broker. */
	_Atomic uint32_t state;         /* enum nmk_vale_state */
	uint32_t gen;
	uint32_t ctrl_port;             /* binding table index, for wake-ups */
	uint32_t nrx, ntx;
	uint32_t rx_kring[NMK_VALE_MAXRINGS];
	uint32_t pad0[32 - 5 - NMK_VALE_MAXRINGS];
	/* TX side: this port's frames entering the switch. */
	_Atomic uint64_t tx_packets, tx_bytes;
	_Atomic uint64_t forwarded;     /* unicast copies delivered */
	_Atomic uint64_t flooded;       /* copies delivered by flooding */
	_Atomic uint64_t drop_full;     /* copies lost: destination ring full */
	_Atomic uint64_t drop_invalid;  /* frames dropped as invalid */
	_Atomic uint64_t drop_nodest;   /* frames with nowhere to go (lookup drop, own port) */
	uint64_t pad1;
	/* RX side: frames delivered to this port. */
	_Atomic uint64_t rx_packets, rx_bytes;
	uint64_t pad2[6];
};

_Static_assert(sizeof(struct nmk_vale_hdr) == 4096, "vale header is one page");
_Static_assert(sizeof(struct nmk_vale_port) == 256, "vale port is four cache lines");
_Static_assert(offsetof(struct nmk_vale_port, tx_packets) == 128, "tx counters line");
_Static_assert(offsetof(struct nmk_vale_port, rx_packets) == 192, "rx counters line");

/* Where the parts of a switch section are, from its two sizes. */
struct nmk_vale_layout {
	uint32_t max_ports, learn_entries;
	uint64_t ports_off, learn_off;  /* from the start of the section */
	uint64_t bytes;                 /* the section's size (nmk_ctrl_geom.sw_bytes) */
};

/* Compute it; -EINVAL for sizes out of range (ports in [1, 65536], a valid
 * learning table size). */
int nmk_vale_layout(uint32_t max_ports, uint32_t learn_entries, struct nmk_vale_layout *out);

static inline struct nmk_vale_port *nmk_vale_port_at(void *section,
						     const struct nmk_vale_layout *vl, uint32_t i)
{
	return (struct nmk_vale_port *)((char *)section + vl->ports_off) + i;
}

#endif /* NMK_VALE_SHM_H */
