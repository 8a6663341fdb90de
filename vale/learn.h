/*
 * learn.h - the forwarding table of VALE's learning bridge (reference §4.5).
 *
 * The table lives in shared memory (a region's control object, mapped at a
 * different address in every process).  Many senders use it at once without
 * locks, each learning source addresses and looking up destinations for its
 * own batches, and the broker reads it (vale-ctl listings, port removal).
 *
 * Layout: a 64-byte header, then nentries/4 buckets of 64 bytes (one cache
 * line), each holding 4 entries.  There are no pointers inside, only sizes
 * and indices, and its size is fixed at init.  An entry is
 *   - a 64-bit atomic key: the MAC as a 48-bit integer (byte 0 in bits 0-7,
 *     so the multicast bit is bit 0) and (port + 1) in bits 48-63; a key
 *     whose port field is 0 is a free slot.  MAC and port change together,
 *     so a reader never sees one MAC with another MAC's port.
 *   - a 32-bit atomic last-seen time (seconds, the caller's clock).
 *
 * Compared with VALE: entries age out (max_age_s, 0 = never), the size is
 * configurable, and a collision does not overwrite: the hash picks a bucket,
 * an entry for the MAC is updated in place (so a MAC that moves to another
 * port is relearned on its first frame from the new port), otherwise a free
 * slot is taken, else the oldest (aged-out entries are the oldest).
 *
 * Faults: every function is lock-free, so a process killed at any
 * instruction leaves the table usable; a torn or garbage entry can at worst
 * lose or mis-age that entry.  A lookup never returns a port at or above the
 * handle's port limit (nmk_learn_set_nports), whatever the entries hold.
 * Lookups index the table with their handle's geometry (struct nmk_learn),
 * never with the header's, so garbage written over the header (nentries,
 * masks) cannot send them outside the table.
 */
#ifndef NMK_VALE_LEARN_H
#define NMK_VALE_LEARN_H

#include <stddef.h>
#include <stdint.h>

#define NMK_VALE_BROADCAST 0xfffeu	/* flood to every port but the source */
#define NMK_VALE_DROP      0xffffu	/* drop the frame */

/* Source ports must be below this: the port is stored as port + 1 in 16 bits. */
#define NMK_LEARN_MAX_PORTS 0xfff0u

#define NMK_LEARN_MIN_ENTRIES     64u
#define NMK_LEARN_MAX_ENTRIES     (1u << 20)
#define NMK_LEARN_DEFAULT_ENTRIES 1024u	/* netmap's NM_BDG_HASH */
#define NMK_LEARN_DEFAULT_MAX_AGE 300u	/* seconds */

/* Opaque: a header followed by the entries, all in shared memory. */
struct nmk_learn_table;

/*
 * A process's handle on a table: where it is, and its geometry from a
 * trusted source (the caller's own copy of the switch's size), never from
 * the header in shared memory, which any client of the switch can rewrite.
 * Lookups index the table with these fields only.
 */
struct nmk_learn {
	struct nmk_learn_table *t;
	uint32_t nentries;
	uint32_t bucket_mask;
	uint32_t hash_shift;
	uint32_t port_limit;    /* results are < this */
};

/*
 * Bytes needed for a table of `nentries` entries (a power of two in
 * [64, 1<<20]); 0 if nentries is not valid.
 */
size_t nmk_learn_table_bytes(uint32_t nentries);

/*
 * Initialise an empty table at `mem` (at least nmk_learn_table_bytes()
 * bytes, 8-byte aligned; 64-byte alignment keeps a bucket in one cache
 * line).  The port limit starts at NMK_LEARN_MAX_PORTS.  Returns 0, or
 * -EINVAL for a bad nentries or a NULL/misaligned mem.  Not concurrent:
 * call it before anyone else sees the memory.
 */
int nmk_learn_table_init(void *mem, uint32_t nentries, uint32_t max_age_s);

/*
 * Validate a table found in shared memory: magic and version, nentries a
 * power of two in range with consistent derived fields, the whole table
 * within `bytes`, alignment, port limit.  0 or -EINVAL.  (A check of the
 * moment: the handle below is what keeps later scribbles harmless.)
 */
int nmk_learn_table_check(const void *mem, size_t bytes);

/*
 * Make a handle on the table of `nentries` entries at `mem`, with the port
 * limit `nports` (clamped to NMK_LEARN_MAX_PORTS).  Returns 0, or -EINVAL
 * for a bad nentries or a NULL/misaligned mem.
 */
int nmk_learn_attach(struct nmk_learn *h, void *mem, uint32_t nentries, uint32_t nports);

/*
 * The default VALE lookup for one frame (Ethernet header at `frame`, `len`
 * bytes, from switch port `src_port` < NMK_LEARN_MAX_PORTS):
 *  - frames shorter than 14 bytes: NMK_VALE_DROP (nothing learned);
 *  - learn the source MAC for src_port at time now_s, unless it is
 *    multicast/broadcast or src_port is at or above the port limit;
 *  - return the port that owns the destination MAC; NMK_VALE_BROADCAST for
 *    broadcast/multicast/unknown/aged-out destinations (and for entries
 *    whose port is at or above the port limit); NMK_VALE_DROP for a
 *    destination learned on src_port itself (no echo to the source).
 * A result is always < the port limit, NMK_VALE_BROADCAST or NMK_VALE_DROP.
 * The shared entry is written only when something changed (new MAC, new
 * port, or a last-seen time older than now_s), so a steady flow only reads.
 */
uint32_t nmk_learn_lookup(const struct nmk_learn *h, const uint8_t *frame,
			  uint32_t len, uint32_t src_port, uint32_t now_s);

/* Forget every entry pointing at `port` (when a port leaves the switch). */
void nmk_learn_forget_port(const struct nmk_learn *h, uint32_t port);

/*
 * Change the age limit (seconds, 0 = never age), kept in the table for
 * every process.  An entry is live while now_s - last_seen < max_age_s; it
 * takes effect at once for all entries.
 */
void nmk_learn_set_max_age(const struct nmk_learn *h, uint32_t max_age_s);

/*
 * Set the port limit of this handle (the switch's number of port slots,
 * at most NMK_LEARN_MAX_PORTS): lookups never return a port >= nports, and
 * such sources are not learned, so the forwarder can trust a result even if
 * an entry was torn or scribbled on.  The table's header keeps a copy for
 * the record (nmk_learn_table_check).
 */
void nmk_learn_set_nports(struct nmk_learn *h, uint32_t nports);

/*
 * Put the table's header back as handle h and `max_age_s` say, keeping the
 * entries: for the owner of the table (the broker) when a client wrote
 * over it.  Returns 1 when something had to be fixed, else 0.
 */
int nmk_learn_repair(const struct nmk_learn *h, uint32_t max_age_s);

/* Count live (not free, not aged-out) entries (for vale-ctl / tests). */
uint32_t nmk_learn_count(const struct nmk_learn *h, uint32_t now_s);

/*
 * Iterate live entries (for listing): returns 1 and fills mac[6], port and
 * age_s for the next live entry at or after *pos (an entry index, start at
 * 0), advancing *pos past it; returns 0 at the end.  Concurrent updates may
 * make a listing miss or repeat an entry, never return a torn one.
 */
int nmk_learn_next(const struct nmk_learn *h, uint32_t *pos,
		   uint32_t now_s, uint8_t mac[6], uint32_t *port,
		   uint32_t *age_s);

#endif /* NMK_VALE_LEARN_H */
