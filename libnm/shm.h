/*
 * shm.h - the control object of a region: the state netmap keeps in the
 * kernel, here in shared memory so that syncs can run in every process.
 *
 * Layout (all offsets from the start of the control object):
 *
 *   struct nmk_ctrl_hdr          at 0
 *   struct nmk_kring [ring_num]  at kring_off, one per ring object of the
 *                                region (kring i describes ring object i)
 *   struct nmk_ctrl_port[nports] at port_off
 *
 * The broker writes the constant fields when it creates a ring; afterwards
 * each field has one writer, as the comments say.  Indices that cross
 * processes are C11 atomics: release on the producer, acquire on the
 * consumer.  Nothing in here is a pointer.
 */
#ifndef NMK_SHM_H
#define NMK_SHM_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "region.h"

#define NMK_CTRL_MAGIC    UINT64_C(0x316c7274636b6d6e) /* "nmkctrl1" */
#define NMK_CTRL_VERSION  1u
#define NMK_MAX_BINDINGS  64u       /* registrations (fds) per port */
#define NMK_NONE          0xffffffffu

enum nmk_kring_kind {
	NMK_KR_FREE = 0,
	NMK_KR_PIPE_TX,         /* slots go to the peer RX ring, no copy */
	NMK_KR_PIPE_RX,         /* slots come from the peer TX ring */
	NMK_KR_NULL,            /* syncs do nothing */
};

struct nmk_ctrl_hdr {
	uint64_t magic;
	uint32_t version;
	uint16_t mem_id;
	uint16_t pad0;
	struct nmk_region_layout layout;
	uint32_t nkrings;
	uint32_t nports;
	uint64_t kring_off;
	uint64_t port_off;
	uint64_t size;          /* bytes of the control object */
};

struct nmk_kring {
	/* Constant while the ring exists (written by the broker). */
	uint32_t ring_index;    /* ring object index in the region */
	uint32_t num_slots;
	uint32_t kind;          /* enum nmk_kring_kind */
	uint32_t port;          /* index in the control port table */
	uint32_t peer;          /* peer kring (pipes), else NMK_NONE */
	uint16_t dir;           /* NMK_DIR_TX or NMK_DIR_RX */
	uint16_t ring_id;       /* index of the ring within its port */
	char pad0[64 - 24];

	/* Owner side: written only by syncs of this ring. */
	_Atomic uint32_t hwcur;
	uint32_t rhead;         /* last validated head */
	uint32_t rtail;         /* last tail reported to the user */
	_Atomic uint32_t busy;  /* pid inside a sync of this ring, 0 = free */
	char pad1[64 - 16];

	/* Producer side: written by whoever fills this ring (the pipe peer). */
	_Atomic uint32_t hwtail;
	char pad2[64 - 4];

	/* Bindings of `port` asleep waiting on this ring (bit b = slot b). */
	_Atomic uint64_t armed;
	char pad3[64 - 8];
};

struct nmk_ctrl_port {
	/* Broker-wide id of the binding in each slot; 0 = free. */
	_Atomic uint64_t binding[NMK_MAX_BINDINGS];
};

_Static_assert(sizeof(struct nmk_kring) == 256, "kring is four cache lines");
_Static_assert(offsetof(struct nmk_kring, hwcur) == 64, "owner line");
_Static_assert(offsetof(struct nmk_kring, hwtail) == 128, "producer line");
_Static_assert(offsetof(struct nmk_kring, armed) == 192, "wake line");
_Static_assert(sizeof(struct nmk_ctrl_port) == 8 * NMK_MAX_BINDINGS, "port entry");
_Static_assert(sizeof(_Atomic uint64_t) == 8 && sizeof(_Atomic uint32_t) == 4,
	       "lock-free atomics of plain size");

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
	uint64_t kring_off, port_off;
	uint32_t nkrings, nports;
};

static inline struct nmk_kring *nmk_kring_at(const struct nmk_mem *m, uint32_t i)
{
	return (struct nmk_kring *)((char *)m->ctrl + m->kring_off) + i;
}

static inline struct nmk_ctrl_port *nmk_ctrl_port_at(const struct nmk_mem *m, uint32_t i)
{
	return (struct nmk_ctrl_port *)((char *)m->ctrl + m->port_off) + i;
}

/* Bytes of a control object for a region with `nkrings` rings and `nports`
 * ports, and the offsets of its arrays. */
static inline uint64_t nmk_ctrl_size(uint32_t nkrings, uint32_t nports,
				     uint64_t *kring_off, uint64_t *port_off)
{
	uint64_t k = NMK_PAGE_SIZE;
	uint64_t p = k + (uint64_t)nkrings * sizeof(struct nmk_kring);
	uint64_t end = p + (uint64_t)nports * sizeof(struct nmk_ctrl_port);
	if (kring_off)
		*kring_off = k;
	if (port_off)
		*port_off = p;
	return (end + NMK_PAGE_SIZE - 1) & ~(uint64_t)(NMK_PAGE_SIZE - 1);
}

#endif /* NMK_SHM_H */
