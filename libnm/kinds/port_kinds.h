/*
 * port_kinds.h - the ops of the port kinds in this folder (see core/kind.h);
 * VALE's are in vale/forward.h.  libnm/kinds.c puts them in the table.
 */
#ifndef NMK_PORT_KINDS_H
#define NMK_PORT_KINDS_H

#include "kind.h"

extern const struct nmk_kind_ops nmk_pipe_ops;
extern const struct nmk_kind_ops nmk_monitor_ops;
extern const struct nmk_kind_ops nmk_driver_ops;

/* A driver port's state (ctx->state): the driver running it here. */
struct nmk_driver;
struct nmk_driver_port;
void *nmk_driver_state_new(const struct nmk_driver *drv, struct nmk_driver_port *port);

#endif /* NMK_PORT_KINDS_H */
