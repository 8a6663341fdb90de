/*
 * nic.h - ports of driver plugins, as the broker sees them.
 */
#ifndef NMKITD_NIC_H
#define NMKITD_NIC_H

#include "objects.h"

/* A new port for "<driver>:<device>", rings shaped as req asks. */
struct port *nic_port_get(const char *name, const struct nmreq_register *req,
			  const struct nm_os_cred *cred, char *err, size_t errlen, int *status);
/* Its registration went away: free it and its region. */
void nic_port_idle(struct port *p);

#endif /* NMKITD_NIC_H */
