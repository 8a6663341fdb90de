/*
 * objects.h - what the broker owns: regions, ports, bindings, connections.
 *
 * The broker is single-threaded: one poll loop serves every connection, so
 * none of these objects needs a lock.  Shared memory that clients can write
 * (rings, netmap_if extra-buffer lists) is read here only with bounds checks.
 */
#ifndef NMKITD_OBJECTS_H
#define NMKITD_OBJECTS_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "nm_os.h"
#include "region.h"
#include "shm.h"

struct port;
struct binding;

/* One memory region (nr_mem_id) and its control object. */
struct region {
	struct region *next;
	uint16_t mem_id;
	char label[64];
	uid_t owner;
	int fd, ctrl_fd;
	void *mem, *ctrl;
	struct nmk_region_layout l;
	uint64_t ctrl_size;
	struct nmk_mem m;               /* mem, ctrl and geometry, for syncs */
	uint32_t nports;                /* size of the control port table */
	uint8_t *if_used, *ring_used, *port_used;
	uint64_t *buf_map;              /* bit set = buffer in use */
	uint32_t bufs_free;
	uint32_t buf_hint;
	unsigned refs;                  /* ports living in it */
};

enum port_kind { PORT_PIPE = 1, PORT_VALE, PORT_MON, PORT_NIC };

struct ring_use {
	uint32_t kring;                 /* kring = ring object index */
	unsigned users;                 /* bindings that bound this ring */
	bool exclusive;
};

struct port {
	struct port *next;
	char name[64];
	enum port_kind kind;
	struct region *r;
	uid_t owner;
	uint32_t port_index;            /* in the region's control port table */
	uint32_t ntx, nrx, tx_slots, rx_slots;
	struct ring_use *tx, *rx;
	unsigned nbindings;
	struct binding *bindings;       /* list */
	void *owner_obj;                /* the pipe pair, or the switch */
	uint32_t vport;                 /* PORT_VALE: slot in the switch */
	bool persistent;                /* PORT_VALE: created by NEWIF */
	int end;                        /* 0 master '{', 1 slave '}' */
};

struct conn;

struct binding {
	struct binding *next;           /* in port->bindings */
	struct port *port;
	struct conn *conn;
	uint64_t id;
	uint32_t slot;
	uint32_t first_tx, last_tx, first_rx, last_rx;
	uint32_t nifp;                  /* if-pool object index */
	bool exclusive;
	struct nmreq_register reg;      /* the reply, kept for BINDING requests */
};

struct conn {
	struct conn *next;
	uint64_t id;                    /* broker-wide, never reused */
	int fd;
	struct nm_os_cred cred;
	struct binding *b;
};

/* Regions. */
struct region *region_create(const char *label, uid_t owner,
			     const struct nmk_region_params *p, uint32_t nports,
			     uint32_t vale_ports, uint32_t learn_entries,
			     char *err, size_t errlen);
void region_put(struct region *r);           /* drops a ref; frees at 0 */
struct region *region_find(uint16_t mem_id);
int region_alloc_ring(struct region *r, uint32_t *index);
void region_free_ring(struct region *r, uint32_t index);
int region_alloc_if(struct region *r, uint32_t *index);
void region_free_if(struct region *r, uint32_t index);
int region_alloc_port(struct region *r, uint32_t *index);
void region_free_port(struct region *r, uint32_t index);
/* Allocate n buffers (all or none). */
int region_alloc_bufs(struct region *r, uint32_t *out, uint32_t n);
/* Free a buffer that a client may have handed back: ignored unless it is a
 * valid, allocated, non-reserved index. */
void region_free_buf(struct region *r, uint32_t idx);

/* Every port, for LIST and lookups by name. */
void port_link(struct port *p);
void port_unlink(struct port *p);
struct port *port_first(void);
struct port *port_next(struct port *p);
struct port *port_find(const char *name);
/* A new port in region r with every ring unset, in the port list. */
struct port *port_new(const char *name, enum port_kind kind, struct region *r, uid_t owner,
		      uint32_t ntx, uint32_t nrx, uint32_t tx_slots, uint32_t rx_slots);
/* Ring i (TX or RX) of port p: a ring object in its region and a kring of
 * `kind` (enum nmk_kring_kind) and generation `gen`; with own_bufs a buffer
 * per slot, else every slot on buffer 0 (a pipe's RX ring).  0, or -ENOMEM
 * with a message naming the pool. */
int port_ring_create(struct port *p, bool tx, uint32_t i, uint32_t slots, uint32_t kind,
		     uint32_t gen, bool own_bufs, char *err, size_t errlen);
/* Free a port's rings, the buffers they hold, its control entry, and it. */
void port_destroy(struct port *p);

/* Broker-wide ids. */
uint64_t next_binding_id(void);

#endif /* NMKITD_OBJECTS_H */
