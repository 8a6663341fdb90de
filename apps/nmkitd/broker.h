/*
 * broker.h - nmkitd's state, its connections and the requests they carry.
 *
 * Everything the broker knows lives in one struct broker, made by main()
 * and passed to every function that needs it: no file shares globals with
 * another.
 */
#ifndef NMKITD_BROKER_H
#define NMKITD_BROKER_H

#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>

#include "objects.h"
#include "proto.h"

/* Configuration, from the command line. */
struct broker_config {
	bool foreground;                /* -f: stay attached, log to stderr */
	bool verbose;                   /* -v: log every request */
	unsigned idle_exit;             /* seconds idle before exiting, 0 = never */
	struct nmk_region_params pipe_region;
	uint32_t pipe_region_ports;
	unsigned max_pipes;             /* per parent (netmap: 64) */
	unsigned vale_switches;         /* netmap: 8 */
	unsigned vale_ports;            /* per switch; netmap: 254 */
	unsigned vale_table;            /* learning table entries; netmap: 1024 */
	unsigned vale_age;              /* learning table max age, seconds */
	struct nmk_region_params vale_region;   /* zero counts: derived from vale_ports */
};

struct pipe_parent;
struct vswitch;
struct persist;
struct deferred;
struct nic;

struct broker {
	struct broker_config cfg;
	uint64_t id;                    /* this instance: clients key mappings with it */
	int notify_fd;                  /* NIC workers wake the main loop with it */
	/* Connections, in accept order. */
	struct conn *conns;
	unsigned nconns;
	uint64_t conn_ids, binding_ids;
	/* Memory and ports. */
	struct region *regions;
	uint16_t next_mem_id;
	struct port *ports;
	struct deferred *deferred;      /* ports waiting to be freed (port_kind.reap) */
	/* The kinds' own objects. */
	struct pipe_parent *pipe_parents;
	struct vswitch *switches;
	unsigned nswitches;             /* visible ones (hidden homes not counted) */
	struct persist *persists;
	unsigned mon_serial;
	uint32_t mon_gen;
	struct nic *nics;
};

void blog(const struct broker *b, int prio, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* Connections. */
struct conn *conn_new(struct broker *b, int fd);
void conn_close(struct broker *b, struct conn *c);  /* hang-up: releases its binding */
void conn_drop_all(struct broker *b);               /* shutdown: hang up, touch nothing shared */
/* Handle one readable connection; returns false when it must be closed. */
bool conn_handle(struct broker *b, struct conn *c);

/* Answer an ATTACH of a NIC once its worker has started (attach_poll). */
void attach_answer(struct broker *b, uint64_t conn_id, uint32_t seq, int status,
		   const char *err, const char *name);

/* Whether anything but connections is alive (persistent objects). */
bool broker_has_objects(const struct broker *b);

/* Keep port p until its kind's reap() frees it (broker_reap). */
void broker_defer_free(struct broker *b, struct port *p);
/* Offer every deferred port to its kind's reap; true while some wait. */
bool broker_reap(struct broker *b);

/*
 * Put back what clients overwrote of the shared state the broker owns:
 * every ring's kring constants, every port's binding table, and each
 * kind's own (a switch's port table and headers), logging what it found.
 * Run every BROKER_AUDIT_MS while ports exist: a client that rewrote a
 * word senders read (a ring's slot count, a port table entry) would
 * otherwise make a receiver starve silently.
 */
#define BROKER_AUDIT_MS 250
void broker_audit(struct broker *b);

/* Wake every binding of port p (armed or not). */
void port_wake_all(struct port *p);

/* How long the broker waits for a lease lock that clients can write. */
#define BROKER_LOCK_WAIT_NS 2000000u

#endif /* NMKITD_BROKER_H */
