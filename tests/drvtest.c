/*
 * drvtest.c - what the driver plugin tests share (see drvtest.h).
 */
#define _GNU_SOURCE             /* unshare(), CLONE_NEWNET */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "drvtest.h"

void skip_all(const char *fmt, ...)
{
	va_list ap;

	printf("1..0 # SKIP ");
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
	fflush(stdout);
	exit(0);
}

double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

void fake_init(struct fake *f)
{
	size_t hdr = sizeof(struct netmap_ring) + NSLOTS * sizeof(struct netmap_slot);

	f->ring = calloc(1, hdr);
	f->bufs = calloc(NSLOTS + 1, BUFSZ);
	assert_non_null(f->ring);
	assert_non_null(f->bufs);
	/* The const fields are ours to set: the memory is not const. */
	*(uint32_t *)(uintptr_t)&f->ring->num_slots = NSLOTS;
	*(uint32_t *)(uintptr_t)&f->ring->nr_buf_size = BUFSZ;
	for (uint32_t i = 0; i < NSLOTS; i++)
		f->ring->slot[i].buf_idx = i + 1;
	f->dr.ring = f->ring;
	f->dr.bufbase = f->bufs;
	f->dr.buf_size = BUFSZ;
	f->dr.nbufs = NSLOTS + 1;
	f->dr.num_slots = NSLOTS;
}

void fake_free(struct fake *f)
{
	free(f->ring);
	free(f->bufs);
}

uint8_t *slot_buf(struct fake *f, uint32_t i)
{
	return (uint8_t *)f->bufs + (size_t)f->ring->slot[i].buf_idx * BUFSZ;
}

void netns_veth(const char *a, const char *b, const char *what)
{
	char cmd[256];

	if (geteuid() != 0)
		skip_all("needs root for a network namespace and %s", what);
	if (unshare(CLONE_NEWNET) < 0)
		skip_all("unshare(CLONE_NEWNET): %s", strerror(errno));
	snprintf(cmd, sizeof(cmd), "ip link add name %s type veth peer name %s >/dev/null 2>&1", a, b);
	if (system(cmd) != 0)
		skip_all("cannot create a veth pair with ip(8) (no veth support or no iproute2)");
	/* No IPv6 chatter (router solicitations, MLD) on the pair. */
	snprintf(cmd, sizeof(cmd), "sysctl -qw net.ipv6.conf.%s.disable_ipv6=1 "
		 "net.ipv6.conf.%s.disable_ipv6=1 >/dev/null 2>&1", a, b);
	if (system(cmd) != 0) {
		/* Harmless: the tests ignore frames that are not theirs. */
	}
	snprintf(cmd, sizeof(cmd), "ip link set %s up && ip link set %s up", a, b);
	if (system(cmd) != 0)
		skip_all("cannot bring the veth pair up");
}
