/*
 * drvtest.h - what the driver plugin tests share: a netmap ring in plain
 * memory for driving a plugin directly, a veth pair in a private network
 * namespace, and skipping under the TAP driver.
 */
#ifndef NMK_DRVTEST_H
#define NMK_DRVTEST_H

#include <stdint.h>

#include <nmkit/nmk_driver.h>
#include <net/netmap.h>

#define NSLOTS 1024u
#define BUFSZ  2048u

/* Skip the whole program: "1..0 # SKIP why" (exit 77 would be an ERROR
 * under automake's TAP driver). */
void skip_all(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));

/* Monotonic time in seconds. */
double now(void);

/* A netmap ring in plain memory: header, slots, then buffers (buffer 0 is
 * left unused, as in netmap). */
struct fake {
	struct netmap_ring *ring;
	char *bufs;
	struct nmk_driver_ring dr;
};

void fake_init(struct fake *f);
void fake_free(struct fake *f);
uint8_t *slot_buf(struct fake *f, uint32_t i);

/* Enter a private network namespace holding a veth pair a <-> b, up, with
 * no IPv6 chatter; skip the program (saying `what` needs it) when that is
 * not possible. */
void netns_veth(const char *a, const char *b, const char *what);

#endif /* NMK_DRVTEST_H */
