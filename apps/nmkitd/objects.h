/*
 * objects.h - what the broker owns: regions, ports, bindings, connections,
 * and the kinds of port.
 *
 * The broker is single-threaded: one poll loop serves every connection, so
 * none of these objects needs a lock.  Its own structures are the trusted
 * copy of every region and ring; shared memory that clients can write
 * (rings, krings, netmap_if extra-buffer lists) is read here only with
 * bounds checks, and every wait on a word in it is bounded.
 */
#ifndef NMKITD_OBJECTS_H
#define NMKITD_OBJECTS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "kring.h"
#include "nm_os.h"
#include "proto.h"
#include "region.h"
#include "shm.h"

struct broker;
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

/*
 * How the broker handles one kind of port (pipes.c, vale.c, monitor.c,
 * nic.c), as the data path's kinds carry their ops (libnm/kinds.c).  The
 * table of them, in the order names are offered to them, is in broker.c.
 */
struct port_kind {
	const char *plural;             /* "pipes", for messages */
	/* Does a REGISTER of `name` designate a port of this kind? */
	bool (*claims)(struct broker *b, const char *name, const struct nmreq_register *req);
	/* The port (created when absent), or NULL with *status and err. */
	struct port *(*get)(struct broker *b, const char *name, const struct nmreq_register *req,
			    const struct nm_os_cred *cred, char *err, size_t errlen, int *status);
	/* Its last registration went away. */
	void (*idle)(struct broker *b, struct port *p);
	/* One of its registrations went away (maybe its process died in the
	 * middle of a sync): settle what that may have left behind.  NULL:
	 * nothing to do. */
	void (*binding_gone)(struct broker *b, struct port *p);
	/* A port waiting to be freed (broker_defer_free): free it now if it
	 * can be; true when it was. */
	bool (*reap)(struct broker *b, struct port *p);
	/* Fill what LIST says of it beyond the common fields.  NULL: nothing. */
	void (*describe)(struct broker *b, const struct port *p, struct nmk_msg_list *l);
	/* Put back what clients overwrote of the kind's own shared state of p
	 * (broker_audit).  NULL: it has none beyond its rings. */
	void (*audit)(struct broker *b, struct port *p);
	uint8_t list_kind;              /* LIST's kind field (proto.h) */
};

extern const struct port_kind pipe_kind, vale_kind, monitor_kind, nic_kind;

/* One ring of a port: our trusted view of its kring (index NMK_NONE while
 * unset), and who uses it. */
struct ring_use {
	struct nmk_kring_view v;
	unsigned users;                 /* bindings that bound this ring */
	bool exclusive;
};

struct port {
	struct port *next;
	char name[64];
	const struct port_kind *kind;
	struct region *r;
	uid_t owner;
	uint32_t port_index;            /* in the region's control port table */
	uint32_t ntx, nrx, tx_slots, rx_slots;
	struct ring_use *tx, *rx;
	unsigned nbindings;
	struct binding *bindings;       /* list */
	void *owner_obj;                /* the pipe pair, the switch, the monitor */
	uint32_t vport;                 /* VALE: slot in the switch */
	bool persistent;                /* VALE: created by NEWIF */
	bool leaving;                   /* stopped, waiting to be freed (broker_defer_free) */
	int end;                        /* pipes: 0 master '{', 1 slave '}' */
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
struct region *region_create(struct broker *b, const char *label, uid_t owner,
			     const struct nmk_region_params *p, uint32_t nports, uint64_t sw_bytes,
			     char *err, size_t errlen);
void region_put(struct broker *b, struct region *r);     /* drops a ref; frees at 0 */
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
struct port *port_find(struct broker *b, const char *name);
/* A new port in region r with every ring unset, in the port list. */
struct port *port_new(struct broker *b, const char *name, const struct port_kind *kind,
		      struct region *r, uid_t owner, uint32_t ntx, uint32_t nrx, uint32_t tx_slots,
		      uint32_t rx_slots);
/*
 * Ring i (TX or RX) of port p: a ring object in its region and its kring,
 * of data-path kind `kind` (enum nmk_kind), generation `gen` and flags
 * (NMK_KRING_*); with own_bufs a buffer per slot, else every slot on
 * buffer 0 (a pipe's RX ring).  0, or -ENOMEM with a message naming the
 * pool.
 */
int port_ring_create(struct port *p, bool tx, uint32_t i, uint32_t slots, uint32_t kind,
		     uint32_t gen, uint32_t flags, bool own_bufs, char *err, size_t errlen);
/* Free a port's rings, the buffers they hold, its control entry, and it. */
void port_destroy(struct broker *b, struct port *p);

/* Call fn on the view of every ring of p that exists. */
void port_each_ring(struct port *p, void (*fn)(struct port *p, struct ring_use *u, void *arg),
		    void *arg);

/* Broker-wide ids. */
uint64_t next_binding_id(struct broker *b);

#endif /* NMKITD_OBJECTS_H */
