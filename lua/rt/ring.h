/*
 * ring.h - the batch calls of nmlua's rings: one C call per batch (send,
 * recv, poll, prefill, copy), while Lua reaches slots and buffers directly
 * through the pointers of struct nmlua_ring.
 *
 * The pointers and sizes here are taken once, when the ring is opened, from
 * what the library reported (nmk_port_info) and checked against the
 * region: Lua never follows a size that another process could rewrite.
 */
#ifndef NMLUA_RING_H
#define NMLUA_RING_H

#include <stdint.h>

#include <nmkit/nmkit.h>

/* ffi:begin */
struct nmlua_ring {
	struct netmap_ring *ring;
	struct netmap_slot *slot;       /* ring->slot */
	uint8_t *bufs;                  /* buffer 0 of the region */
	uint32_t num_slots;
	uint32_t buf_size;
	uint32_t nbufs;                 /* a buf_idx at or above this is refused */
	uint32_t tx;                    /* 1: TX ring, 0: RX ring */
	uint32_t index;                 /* absolute ring index in the port */
	int32_t error;                  /* the last sync's negative errno, or 0 */
	uint64_t t_sync;                /* nmlua_cycles() right after the last sync */
	struct nmk_port *port;
	uint16_t *dst_by_buf;           /* Lua lookup: destination by buffer index */
	double dropped;                 /* frames lost to full RX rings (port total) */
};
/* Ring `i` (counted from the first bound one) of direction tx (1) or rx
 * (0) of `port`; NULL with a message in err (NMK_ERRBUF_SIZE bytes). */
struct nmlua_ring *nmlua_ring_open(struct nmk_port *port, int tx, uint32_t i, char *err);
void nmlua_ring_close(struct nmlua_ring *r);
/* Hand the next n slots (from cur) to the port and txsync.  When
 * stamp_off >= 0, the cycle counter is written at byte stamp_off + 8 of
 * each frame (after the 8-byte sequence number that Lua writes at
 * stamp_off) right before the sync.  Returns the free slots after the sync,
 * or a negative errno (r->error too). */
int nmlua_ring_send(struct nmlua_ring *r, uint32_t n, int32_t stamp_off);
/* rxsync (releasing what was released), note the time in t_sync, and
 * return the frames ready from cur, at most max; or a negative errno. */
int nmlua_ring_recv(struct nmlua_ring *r, uint32_t max);
/* Wait until the ring has room (TX) or frames (RX), at most timeout_ms
 * (-1: until the run stops); 1 ready, 0 not (timeout or stop), or a
 * negative errno. */
int nmlua_ring_poll(struct nmlua_ring *r, int timeout_ms);
/* Write `frame` into the buffer of every slot of the ring and set the
 * slots' lengths: the generator then only changes what varies. */
int nmlua_ring_prefill(struct nmlua_ring *r, const uint8_t *frame, uint32_t len);
/* Copy up to max frames from RX ring src (from its cur) into TX ring dst
 * (from its cur), advancing both rings' head and cur; no sync.  Returns
 * the frames copied. */
uint32_t nmlua_ring_copy(struct nmlua_ring *dst, struct nmlua_ring *src, uint32_t max);
/* Let Lua choose the destinations of the frames sent on this ring into
 * VALE switch `sw` (r->dst_by_buf); NULL sw turns it off.  0 or a negative
 * errno with a message in err. */
int nmlua_ring_lookup(struct nmlua_ring *r, const char *sw, char *err);
/* ffi:end */

#endif
