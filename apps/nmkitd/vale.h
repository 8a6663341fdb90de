/*
 * vale.h - the broker's VALE switches.
 */
#ifndef NMKITD_VALE_H
#define NMKITD_VALE_H

#include <stdbool.h>
#include <stddef.h>

#include "objects.h"
#include "proto.h"

struct vswitch;

/* Split "valeX:Y" into "valeX" and "Y", checking netmap's naming rules. */
int vale_name_split(const char *name, char *sw, size_t swlen, const char **port,
		    char *err, size_t errlen);
struct vswitch *vale_find(const char *name);

/* The port "valeX:Y", created (with its switch) when absent. */
struct port *vale_port_get(const char *name, const struct nmreq_register *req,
			   const struct nm_os_cred *cred, char *err, size_t errlen, int *status);
/* Its last registration went away. */
void vale_port_idle(struct port *p);
/* Take a port out of its switch (freed once its leases drain). */
void vale_port_remove(struct port *p);
/* A client of this switch went away: complete leases dead senders left. */
void vale_client_died(struct port *p);
/* Free ports whose leases have drained; true while some still wait. */
bool vale_reap(void);
int vale_stats(struct port *p, struct nmk_msg_vale_stats *out);
unsigned vale_switch_count(void);

/* Persistent ports (vale-ctl -n/-r/-a/-d). */
int vale_newif(struct nmk_msg_vale_ctl *m, const struct nm_os_cred *cred, char *err, size_t errlen);
int vale_delif(struct nmk_msg_vale_ctl *m, const struct nm_os_cred *cred, char *err, size_t errlen);
int vale_attach(struct nmk_msg_vale_ctl *m, const struct nm_os_cred *cred, char *err, size_t errlen);
int vale_detach(struct nmk_msg_vale_ctl *m, const struct nm_os_cred *cred, char *err, size_t errlen);
/* The port a persistent port's own name ("v0", i.e. netmap:v0) opens. */
struct port *vale_persistent_port(const char *name);
bool vale_has_persistent(void);
/* Fill the VALE fields of a LIST entry. */
void vale_describe(struct port *p, struct nmk_msg_list *l);

#endif /* NMKITD_VALE_H */
