/*
 * kinds.h - the port kinds, and the sync of one ring through its kind.
 *
 * The kind stored in each kring (enum nmk_kind, written by the broker)
 * indexes the table of kind ops in kinds.c: the only place on the data
 * path that knows the set of kinds.  Adding a kind is one file that fills
 * a struct nmk_kind_ops (core/kind.h) and one entry here.
 */
#ifndef NMK_KINDS_H
#define NMK_KINDS_H

#include <stdbool.h>
#include <stdint.h>

#include "kind.h"

enum nmk_kind {
	NMK_KIND_NONE = 0,      /* a free kring */
	NMK_KIND_PIPE,          /* libnm/kinds/pipe.c */
	NMK_KIND_VALE,          /* vale/forward.c */
	NMK_KIND_MONITOR,       /* libnm/kinds/monitor.c */
	NMK_KIND_DRIVER,        /* libnm/kinds/driver_port.c */
	NMK_KIND_MAX
};

/* The ops of kind `kind`, or NULL for a value that is no kind. */
const struct nmk_kind_ops *nmk_kind_ops(uint32_t kind);

/*
 * Sync one ring (dir NMK_DIR_TX or NMK_DIR_RX) through its kind: the
 * try-lock, the check of what the user wrote (a violation resets the ring
 * and gives -EINVAL), the hook that shows newly queued TX slots to copy
 * monitors, then the kind's txsync or rxsync.  Returns 0, 1 when another
 * process is inside a sync of the ring (skipped, as netmap skips it), or a
 * negative errno with a message in ctx->err.
 */
int nmk_kring_sync(const struct nmk_mem *m, struct nmk_kring_view *v, int dir,
		   struct nmk_sync_ctx *ctx);

/* The ring's view reset (nmk_kring_reset_view) with its kind's tail. */
void nmk_kring_reset(const struct nmk_mem *m, const struct nmk_kring_view *v);

/* Would a sync of this ring now make it ready (cur != new tail)?  Only
 * loads: cheap enough to spin on, and used after arming to close the race
 * with a producer. */
bool nmk_kring_ready(const struct nmk_mem *m, const struct nmk_kring_view *v);

#endif /* NMK_KINDS_H */
