/*
 * learn.c - the learning bridge's forwarding table (see learn.h).
 *
 * Concurrency.  Readers load a key (acquire), then its last-seen time.
 * Writers change a key only by compare-and-swap from the value they looked
 * at, so two senders that pick the same slot at once never merge their
 * writes: one wins, the other's MAC is learned again on its next frame.
 * The last-seen time is a plain atomic store written after the key; a
 * reader that catches a fresh key with its slot's previous time at worst
 * floods one frame.  Nothing is ever dereferenced from the entries, and a
 * port is returned only if it is below the port limit, so a garbage entry
 * can at worst send a frame to a wrong (existing) port or flood it.
 *
 * Hash.  idx = (m * 0x9e3779b97f4a7c15) >> (64 - bits), where m is the
 * 48-bit MAC and bits = log2(number of buckets): multiply-shift (Fibonacci
 * hashing).  One multiplication and a shift; every MAC bit reaches the top
 * bits that are kept; random MACs spread as a random function would, and
 * MACs that count up in any byte (virtual machines, one vendor's NICs)
 * spread almost perfectly (the three-gap theorem for multiples of the
 * golden ratio).  Folding the high bytes down first was measured to spread
 * such sequences worse, so there is no fold.
 */
#include <errno.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <string.h>

#include "learn.h"

#define LEARN_MAGIC	0x4e4d4c54u	/* "NMLT" */
#define LEARN_VERSION	1u
#define LEARN_WAYS	4u
#define MAC_MASK	0x0000ffffffffffffull
#define HASH_MULT	0x9e3779b97f4a7c15ull
/*
 * Processes read the clock at slightly different moments, so a last-seen
 * time up to this many seconds in the future counts as "now".  A time
 * further ahead can only be garbage: it counts as very old.
 */
#define CLOCK_SKEW	2u

_Static_assert(ATOMIC_LLONG_LOCK_FREE == 2 && ATOMIC_LONG_LOCK_FREE == 2,
	       "the table needs lock-free 64-bit atomics");
_Static_assert(ATOMIC_INT_LOCK_FREE == 2,
	       "the table needs lock-free 32-bit atomics");

/* One cache line: 4 keys, then their 4 last-seen times. */
struct learn_bucket {
	_Atomic uint64_t key[LEARN_WAYS];	/* mac | (port + 1) << 48; 0 port field = free */
	_Atomic uint32_t seen[LEARN_WAYS];	/* last-seen time, seconds */
	uint32_t pad[LEARN_WAYS];
};

struct nmk_learn_table {
	uint32_t magic;
	uint32_t version;
	uint32_t nentries;		/* power of two in [64, 1<<20] */
	uint32_t bucket_mask;		/* nentries / 4 - 1 */
	uint32_t hash_shift;		/* 64 - log2(nentries / 4) */
	_Atomic uint32_t max_age_s;	/* 0 = never age */
	_Atomic uint32_t port_limit;	/* results are < this */
	uint32_t reserved[9];
	struct learn_bucket buckets[];
};

_Static_assert(sizeof(struct learn_bucket) == 64, "bucket is one cache line");
_Static_assert(sizeof(struct nmk_learn_table) == 64, "header is 64 bytes");
_Static_assert(offsetof(struct nmk_learn_table, buckets) == 64, "buckets at 64");
_Static_assert(offsetof(struct nmk_learn_table, max_age_s) == 20, "header layout");
_Static_assert(offsetof(struct nmk_learn_table, port_limit) == 24, "header layout");
_Static_assert(offsetof(struct learn_bucket, seen) == 32, "bucket layout");

/* ---- helpers ------------------------------------------------------------ */

static inline bool valid_nentries(uint32_t n)
{
	return n >= NMK_LEARN_MIN_ENTRIES && n <= NMK_LEARN_MAX_ENTRIES &&
	       (n & (n - 1)) == 0;
}

static inline uint32_t log2_u32(uint32_t n)
{
	return 31u - (uint32_t)__builtin_clz(n);
}

/* 48-bit MAC at p, byte 0 in the low bits.  Reads 8 bytes: the caller
 * guarantees they are in the frame (both MACs come from a >= 14-byte header). */
static inline uint64_t load_mac8(const uint8_t *p)
{
	uint64_t v;

	memcpy(&v, p, sizeof(v));
#if __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
	v = __builtin_bswap64(v);
#endif
	return v & MAC_MASK;
}

static inline struct learn_bucket *bucket_of(const struct nmk_learn *h, uint64_t mac)
{
	uint64_t x = mac * HASH_MULT;
	uint32_t i = (uint32_t)(x >> h->hash_shift) & h->bucket_mask;

	return &h->t->buckets[i];
}

/* Seconds since `seen`, with small clock skew as 0 and a far future as old. */
static inline uint32_t age_of(uint32_t now, uint32_t seen)
{
	uint32_t d = now - seen;

	return d > (uint32_t)-CLOCK_SKEW - 1u ? 0 : d;
}

/* The largest live age: max_age - 1, so max_age 0 (never) wraps to ~0. */
static inline uint32_t live_limit(const struct nmk_learn_table *t)
{
	return atomic_load_explicit(&((struct nmk_learn_table *)t)->max_age_s,
				    memory_order_relaxed) - 1u;
}

static inline uint64_t key_load(const _Atomic uint64_t *k, memory_order mo)
{
	return atomic_load_explicit((_Atomic uint64_t *)k, mo);
}

static inline uint32_t seen_load(const _Atomic uint32_t *s)
{
	return atomic_load_explicit((_Atomic uint32_t *)s, memory_order_relaxed);
}

/* ---- setup -------------------------------------------------------------- */

size_t nmk_learn_table_bytes(uint32_t nentries)
{
	if (!valid_nentries(nentries))
		return 0;
	return sizeof(struct nmk_learn_table) +
	       (size_t)(nentries / LEARN_WAYS) * sizeof(struct learn_bucket);
}

int nmk_learn_table_init(void *mem, uint32_t nentries, uint32_t max_age_s)
{
	struct nmk_learn_table *t = mem;
	uint32_t nb = nentries / LEARN_WAYS;

	if (mem == NULL || ((uintptr_t)mem & 7) != 0 || !valid_nentries(nentries))
		return -EINVAL;
	memset(mem, 0, nmk_learn_table_bytes(nentries));
	t->nentries = nentries;
	t->bucket_mask = nb - 1;
	t->hash_shift = 64 - log2_u32(nb);
	atomic_init(&t->max_age_s, max_age_s);
	atomic_init(&t->port_limit, NMK_LEARN_MAX_PORTS);
	for (uint32_t b = 0; b < nb; b++)
		for (uint32_t w = 0; w < LEARN_WAYS; w++) {
			atomic_init(&t->buckets[b].key[w], 0);
			atomic_init(&t->buckets[b].seen[w], 0);
		}
	t->version = LEARN_VERSION;
	/* The magic last, released, so a checker in another process that sees
	 * it also sees the rest. */
	atomic_thread_fence(memory_order_release);
	t->magic = LEARN_MAGIC;
	return 0;
}

int nmk_learn_table_check(const void *mem, size_t bytes)
{
	const struct nmk_learn_table *t = mem;
	size_t need;

	if (mem == NULL || ((uintptr_t)mem & 7) != 0 ||
	    bytes < sizeof(struct nmk_learn_table))
		return -EINVAL;
	if (t->magic != LEARN_MAGIC || t->version != LEARN_VERSION)
		return -EINVAL;
	atomic_thread_fence(memory_order_acquire);
	need = nmk_learn_table_bytes(t->nentries);
	if (need == 0 || need > bytes)
		return -EINVAL;
	if (t->bucket_mask != t->nentries / LEARN_WAYS - 1 ||
	    t->hash_shift != 64 - log2_u32(t->nentries / LEARN_WAYS))
		return -EINVAL;
	if (atomic_load_explicit(&((struct nmk_learn_table *)t)->port_limit,
				 memory_order_relaxed) > NMK_LEARN_MAX_PORTS)
		return -EINVAL;
	return 0;
}

int nmk_learn_attach(struct nmk_learn *h, void *mem, uint32_t nentries, uint32_t nports)
{
	if (mem == NULL || ((uintptr_t)mem & 7) != 0 || !valid_nentries(nentries))
		return -EINVAL;
	h->t = mem;
	h->nentries = nentries;
	h->bucket_mask = nentries / LEARN_WAYS - 1;
	h->hash_shift = 64 - log2_u32(nentries / LEARN_WAYS);
	h->port_limit = nports < NMK_LEARN_MAX_PORTS ? nports : NMK_LEARN_MAX_PORTS;
	return 0;
}

int nmk_learn_repair(const struct nmk_learn *h, uint32_t max_age_s)
{
	struct nmk_learn_table *t = h->t;
	int fixed = t->magic != LEARN_MAGIC || t->version != LEARN_VERSION ||
		    t->nentries != h->nentries || t->bucket_mask != h->bucket_mask ||
		    t->hash_shift != h->hash_shift ||
		    atomic_load_explicit(&t->max_age_s, memory_order_relaxed) != max_age_s ||
		    atomic_load_explicit(&t->port_limit, memory_order_relaxed) != h->port_limit;

	if (fixed) {
		t->version = LEARN_VERSION;
		t->nentries = h->nentries;
		t->bucket_mask = h->bucket_mask;
		t->hash_shift = h->hash_shift;
		atomic_store_explicit(&t->max_age_s, max_age_s, memory_order_relaxed);
		atomic_store_explicit(&t->port_limit, h->port_limit, memory_order_relaxed);
		atomic_thread_fence(memory_order_release);
		t->magic = LEARN_MAGIC;
	}
	return fixed;
}

void nmk_learn_set_max_age(const struct nmk_learn *h, uint32_t max_age_s)
{
	atomic_store_explicit(&h->t->max_age_s, max_age_s, memory_order_relaxed);
}

void nmk_learn_set_nports(struct nmk_learn *h, uint32_t nports)
{
	if (nports > NMK_LEARN_MAX_PORTS)
		nports = NMK_LEARN_MAX_PORTS;
	h->port_limit = nports;
	atomic_store_explicit(&h->t->port_limit, nports, memory_order_relaxed);
}

/* ---- the per-frame path ------------------------------------------------- */

/*
 * Learn `mac` (unicast) on `port` at `now`.  The common case, a known MAC
 * on the same port seen this second, only reads the bucket.
 */
static inline void learn(const struct nmk_learn *h, uint64_t mac, uint32_t port, uint32_t now)
{
	struct learn_bucket *b = bucket_of(h, mac);
	uint64_t want = mac | (uint64_t)(port + 1) << 48;
	uint64_t k[LEARN_WAYS];
	uint32_t hit = LEARN_WAYS, victim = 0, oldest = 0;

	for (uint32_t w = 0; w < LEARN_WAYS; w++)
		k[w] = key_load(&b->key[w], memory_order_relaxed);
	/* The first entry holding the MAC is the one lookups use. */
	for (uint32_t w = LEARN_WAYS; w-- > 0;)
		if (((k[w] ^ mac) & MAC_MASK) == 0 && k[w] > MAC_MASK)
			hit = w;
	if (hit < LEARN_WAYS && k[hit] == want) {
		/* Known here: refresh the time only when it is behind. */
		if (age_of(now, seen_load(&b->seen[hit])) != 0)
			atomic_store_explicit(&b->seen[hit], now,
					      memory_order_relaxed);
		return;
	}
	if (hit < LEARN_WAYS) {
		/* The MAC moved to this port: rewrite its entry in place. */
		victim = hit;
	} else {
		/* New MAC: a free slot, else the oldest (aged-out ones are). */
		for (uint32_t w = 0; w < LEARN_WAYS; w++) {
			uint32_t a = k[w] > MAC_MASK ?
				age_of(now, seen_load(&b->seen[w])) : UINT32_MAX;

			/* Ties keep the first, so victim 0 needs no case. */
			if (a > oldest) {
				oldest = a;
				victim = w;
			}
		}
	}
	if (!atomic_compare_exchange_strong_explicit(&b->key[victim],
						     &k[victim], want,
						     memory_order_release,
						     memory_order_relaxed))
		return;	/* someone else took the slot; learn again next frame */
	atomic_store_explicit(&b->seen[victim], now, memory_order_relaxed);
	/* Two senders of one port may have learned the MAC twice at once: drop
	 * later copies, so an old copy can never outlive a move. */
	for (uint32_t w = victim + 1; w < LEARN_WAYS; w++)
		if (((k[w] ^ mac) & MAC_MASK) == 0 && k[w] > MAC_MASK)
			atomic_compare_exchange_strong_explicit(
				&b->key[w], &k[w], 0,
				memory_order_relaxed, memory_order_relaxed);
}

uint32_t nmk_learn_lookup(const struct nmk_learn *h, const uint8_t *frame,
			  uint32_t len, uint32_t src_port, uint32_t now_s)
{
	uint32_t limit, port;
	uint64_t dst, src, k;
	struct learn_bucket *b;

	if (len < 14)
		return NMK_VALE_DROP;
	dst = load_mac8(frame);
	src = load_mac8(frame + 6);
	limit = h->port_limit;
	if ((src & 1) == 0 && src_port < limit)
		learn(h, src, src_port, now_s);
	if (dst & 1)
		return NMK_VALE_BROADCAST;	/* broadcast and multicast */
	b = bucket_of(h, dst);
	for (uint32_t w = 0; w < LEARN_WAYS; w++) {
		k = key_load(&b->key[w], memory_order_acquire);
		if (((k ^ dst) & MAC_MASK) != 0 || k <= MAC_MASK)
			continue;
		port = (uint32_t)(k >> 48) - 1;
		if (port >= limit ||
		    age_of(now_s, seen_load(&b->seen[w])) > live_limit(h->t))
			return NMK_VALE_BROADCAST;
		return port == src_port ? NMK_VALE_DROP : port;
	}
	return NMK_VALE_BROADCAST;
}

/* ---- control ------------------------------------------------------------ */

void nmk_learn_forget_port(const struct nmk_learn *h, uint32_t port)
{
	struct nmk_learn_table *t = h->t;
	uint32_t nb = h->bucket_mask + 1;
	uint64_t pf = (uint64_t)(port + 1) << 48;

	if (port >= NMK_LEARN_MAX_PORTS)
		return;
	for (uint32_t i = 0; i < nb; i++) {
		struct learn_bucket *b = &t->buckets[i];

		for (uint32_t w = 0; w < LEARN_WAYS; w++) {
			uint64_t k = key_load(&b->key[w], memory_order_relaxed);

			/* CAS, so a key that a sender just rewrote survives. */
			if ((k & ~MAC_MASK) == pf)
				atomic_compare_exchange_strong_explicit(
					&b->key[w], &k, 0,
					memory_order_relaxed,
					memory_order_relaxed);
		}
	}
}

/* Entry `i` if it is live: fills mac/port/age and returns true. */
static bool entry_live(const struct nmk_learn_table *t, uint32_t i,
		       uint32_t now, uint32_t limit, uint32_t live,
		       uint64_t *mac, uint32_t *port, uint32_t *age)
{
	const struct learn_bucket *b = &t->buckets[i / LEARN_WAYS];
	uint64_t k = key_load(&b->key[i % LEARN_WAYS], memory_order_acquire);

	if (k <= MAC_MASK)
		return false;
	*mac = k & MAC_MASK;
	*port = (uint32_t)(k >> 48) - 1;
	*age = age_of(now, seen_load(&b->seen[i % LEARN_WAYS]));
	return *port < limit && *age <= live;
}

uint32_t nmk_learn_count(const struct nmk_learn *h, uint32_t now_s)
{
	const struct nmk_learn_table *t = h->t;
	uint32_t n = 0, limit = h->port_limit, live = live_limit(t);
	uint32_t total = h->nentries, port, age;
	uint64_t mac;

	for (uint32_t i = 0; i < total; i++)
		n += entry_live(t, i, now_s, limit, live, &mac, &port, &age);
	return n;
}

int nmk_learn_next(const struct nmk_learn *h, uint32_t *pos,
		   uint32_t now_s, uint8_t mac[6], uint32_t *port,
		   uint32_t *age_s)
{
	const struct nmk_learn_table *t = h->t;
	uint32_t limit = h->port_limit, live = live_limit(t);
	uint32_t total = h->nentries;
	uint64_t m;

	for (uint32_t i = *pos; i < total; i++) {
		if (!entry_live(t, i, now_s, limit, live, &m, port, age_s))
			continue;
		for (int j = 0; j < 6; j++)
			mac[j] = (uint8_t)(m >> (8 * j));
		*pos = i + 1;
		return 1;
	}
	*pos = total;
	return 0;
}
