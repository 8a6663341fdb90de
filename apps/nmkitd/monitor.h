/*
 * monitor.h - copy monitors of open ports.
 */
#ifndef NMKITD_MONITOR_H
#define NMKITD_MONITOR_H

#include <stdbool.h>
#include <stddef.h>

#include "objects.h"

/* A new monitor of `parent` (open), as the flags of req ask. */
struct port *monitor_get(const char *name, struct port *parent, const struct nmreq_register *req,
			 char *err, size_t errlen, int *status);
/* Its last registration went away. */
void monitor_idle(struct port *mp);
/* Free monitors whose rings have drained; true while some still wait. */
bool monitor_reap(void);

#endif /* NMKITD_MONITOR_H */
