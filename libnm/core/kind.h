/*
 * kind.h - what a port kind implements: the ops of its rings.
 *
 * As netmap's adapters carry nm_txsync / nm_rxsync, and libpcap's pcap_t
 * its backend ops, every port kind (pipes, VALE, monitors, driver ports,
 * ...) fills one const struct nmk_kind_ops.  The table that indexes them
 * by the kind stored in each kring is libnm/kinds.c: the only place that
 * knows the set of kinds.  The generic part of a sync (the try-lock, the
 * check of head and cur, the hook that shows TX slots to copy monitors)
 * runs there once, before a kind's txsync or rxsync is called.
 */
#ifndef NMK_KIND_H
#define NMK_KIND_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "kring.h"

/* How a sync wakes sleepers: the bindings in `mask` of control port
 * `port_index` (the caller checks nothing: the callee bounds port_index). */
typedef void (*nmk_wake_fn)(void *arg, const struct nmk_mem *m, uint32_t port_index,
			    uint64_t mask);

/* What a sync needs from its caller. */
struct nmk_sync_ctx {
	nmk_wake_fn wake;               /* how to wake sleepers of other ports */
	void *wake_arg;
	void *state;                    /* the kind's per-port state (kind_ops.state_free) */
	char *err;                      /* where a failure is described */
	size_t errlen;
};

/* One sync of one ring, as a kind sees it: the try-lock is held and head
 * has been checked. */
struct nmk_sync {
	const struct nmk_mem *m;
	struct nmk_kring *k;            /* shared: only the non-constant fields are used */
	const struct nmk_kring_view *v; /* trusted constants */
	struct netmap_ring *ring;
	uint32_t head;                  /* validated */
	uint32_t hwcur;                 /* k->hwcur, reduced */
	struct nmk_sync_ctx *ctx;
};

struct nmk_kind_ops {
	/* Syncs (see struct nmk_sync).  Return 0 or a negative errno with a
	 * message in ctx->err. */
	int (*txsync)(struct nmk_sync *s);
	int (*rxsync)(struct nmk_sync *s);
	/* The tail the user of this ring should see now: where a TX ring's
	 * free space ends, where an RX ring's frames end. */
	uint32_t (*tail)(const struct nmk_mem *m, const struct nmk_kring_view *v);
	/* The ring lost its last user (the broker calls this): settle what
	 * a syncer killed mid-way left behind.  May be NULL. */
	void (*abandoned)(const struct nmk_mem *m, const struct nmk_kring_view *v);
	/* The kind's per-port state in ctx->state: freed at close.  NULL:
	 * the kind keeps none. */
	void (*state_free)(void *state);
	/* The fd a poller of ring `ring` should sleep on instead of the port
	 * fd, and the events to ask of it, or -1 for the port fd.  NULL:
	 * always the port fd. */
	int (*sleep_fd)(void *state, unsigned ring, bool tx, short *events);
	/* Its TX rings refuse every txsync (a monitor's): a poll for input
	 * syncs them only when the user queued slots, as netmap's poll skips
	 * idle TX rings, so that it can sleep. */
	bool tx_refused;
};

/* Tails that several kinds share: an RX ring shows what its producer
 * published (hwtail); a TX ring that is emptied at every txsync shows all
 * but the slot before hwcur. */
uint32_t nmk_tail_published(const struct nmk_mem *m, const struct nmk_kring_view *v);
uint32_t nmk_tail_before_hwcur(const struct nmk_mem *m, const struct nmk_kring_view *v);

/* Wake the bindings armed on kring k (after publishing into it). */
void nmk_wake_armed(const struct nmk_mem *m, struct nmk_kring *k, struct nmk_sync_ctx *ctx);

#endif /* NMK_KIND_H */
