/*
 * port.h - the library's view of an open port (struct nmk_port).
 */
#ifndef NMK_PORT_H
#define NMK_PORT_H

#include <nmkit/nmkit.h>

#include "kinds.h"

struct nmk_mapping;

struct nmk_port {
	int fd;                          /* connection to the broker */
	struct nmk_port_info info;
	struct nmk_mapping *map;
	struct nmk_mem mem;
	struct netmap_if *nifp;
	uint64_t binding_id;
	uint32_t port_index, binding_slot;
	/* Our trusted copies of the bound rings' krings, by absolute ring
	 * index (index NMK_NONE: not bound here). */
	struct nmk_kring_view *tx_view, *rx_view;
	const struct nmk_kind_ops *ops;  /* the kind of its rings */
	void *state;                     /* the kind's per-port state (ops->state_free) */
	char err[NMK_ERRBUF_SIZE];
	struct nmk_port *next;           /* in the process-wide list, for nmk_poll */
};

/* The port whose fd this is, among those open in this process. */
struct nmk_port *nmk_port_by_fd(int fd);

/* The wake-up callback the syncs use (port.c). */
void nmk_wake_bindings(void *arg, const struct nmk_mem *m, uint32_t port_index, uint64_t mask);

/* Format the handle's error message; returns err. */
int nmk_port_set_error(struct nmk_port *p, int err, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* The fd a poller of this port sleeps on, and the events to ask of it:
 * the port fd itself (wake-up bytes), or a driver's device fd. */
int nmk_port_sleep_fd(struct nmk_port *p, short events, short *sys_events);

/* Read every queued wake-up byte on the port fd.  Returns -EPIPE when the
 * broker has hung up. */
int nmk_port_drain(struct nmk_port *p);

#endif /* NMK_PORT_H */
