/*
 * forward.h - VALE's data path: the ops of a switch port's rings
 * (forwarding in the sender's txsync; the receiver reads a lease-filled
 * ring), and the per-process lookup registry.
 */
#ifndef NMK_VALE_FORWARD_H
#define NMK_VALE_FORWARD_H

#include <nmkit/nmkit.h>

#include "kind.h"

extern const struct nmk_kind_ops nmk_vale_ops;

/* Register (fn != NULL) or remove a lookup function for a switch, for the
 * senders of this process.  Returns 0 or -ENOMEM. */
int nmk_vale_lookup_register(const char *sw, nmk_vale_lookup_fn fn, void *priv);

#endif /* NMK_VALE_FORWARD_H */
