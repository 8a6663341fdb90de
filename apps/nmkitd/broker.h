/*
 * broker.h - nmkitd's request handling and its logging.
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

extern struct broker_config cfg;
extern uint64_t broker_id;

void blog(int prio, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Connections. */
struct conn *conn_new(int fd);
void conn_close(struct conn *c);         /* hang-up: releases its binding */
void conn_drop_all(void);                /* shutdown: hang up, touch nothing shared */
/* Handle one readable connection; returns false when it must be closed. */
bool conn_handle(struct conn *c);
unsigned conn_count(void);
struct conn *conn_list(void);

/* Answer an ATTACH of a NIC once its worker has started (attach_poll). */
void attach_answer(uint64_t conn_id, uint32_t seq, int status, const char *err,
		   const char *name);

/* Whether anything but connections is alive (persistent objects). */
bool broker_has_objects(void);

/* Ports, by kind. */
struct port *pipe_port_get(const char *name, const struct nmreq_register *req,
			   const struct nm_os_cred *cred, char *err, size_t errlen,
			   int *status);
void pipe_port_idle(struct port *p);     /* its last binding went away */
struct port *pipe_peer(struct port *p);  /* the other end */

/* Wake every binding armed on the krings of port p. */
void port_wake_all(struct port *p);

#endif /* NMKITD_BROKER_H */
