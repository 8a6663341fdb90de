/*
 * vale.h - the broker's VALE switches (its port kind is vale_kind).
 */
#ifndef NMKITD_VALE_H
#define NMKITD_VALE_H

#include <stdbool.h>
#include <stddef.h>

#include "objects.h"
#include "proto.h"

/* Split "valeX:Y" into "valeX" and "Y", checking netmap's naming rules. */
int vale_name_split(const char *name, char *sw, size_t swlen, const char **port,
		    char *err, size_t errlen);

/* Retry the recovery of dead senders' leases on switches that lost a
 * client lately; true while some still retry. */
bool vale_reap(struct broker *b);
int vale_stats(struct broker *b, struct port *p, struct nmk_msg_vale_stats *out);
/* Put back switch headers and learning table headers that clients
 * overwrote (broker_audit). */
void vale_audit_switches(struct broker *b);

/* Persistent ports (vale-ctl -n/-r/-a/-d). */
int vale_newif(struct broker *b, struct nmk_msg_vale_ctl *m, const struct nm_os_cred *cred,
	       char *err, size_t errlen);
int vale_delif(struct broker *b, struct nmk_msg_vale_ctl *m, const struct nm_os_cred *cred,
	       char *err, size_t errlen);
int vale_attach(struct broker *b, struct nmk_msg_vale_ctl *m, const struct nm_os_cred *cred,
		char *err, size_t errlen);
int vale_detach(struct broker *b, struct nmk_msg_vale_ctl *m, const struct nm_os_cred *cred,
		char *err, size_t errlen);
/* The port a persistent port's own name ("v0", i.e. netmap:v0) opens. */
struct port *vale_persistent_port(struct broker *b, const char *name);

#endif /* NMKITD_VALE_H */
