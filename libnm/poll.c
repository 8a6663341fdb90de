/*
 * poll.c - netmap's poll semantics on top of poll(2).
 *
 * For a port fd, poll first runs the syncs netmap's poll runs (TX unless
 * NR_NO_TX_POLL or only POLLIN was asked... as netmap: TX when POLLOUT was
 * asked or tx polling is on; RX when POLLIN was asked) and reports a ring
 * ready when cur != tail.  Only when nothing is ready does it sleep: it arms
 * its bit on every ring it waits for, re-checks (a producer may have
 * published in between), and sleeps in poll(2) on the port fd, which a
 * producer makes readable with a wake-up byte.  At full load nothing sleeps
 * and no system call is made.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <errno.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "nm_os.h"
#include "port.h"

#define WANT_RX (POLLIN | POLLRDNORM)
#define NMK_POLL_RECHECK_MS 250
#define WANT_TX (POLLOUT | POLLWRNORM)

/*
 * Must a poll without POLLOUT txsync this port?  netmap's poll then skips
 * the TX rings with nothing pending (head == hwcur).  That matters for a
 * kind whose TX rings refuse every sync (a monitor): a POLLIN poll would
 * always return POLLERR and never sleep.  Other rings are always synced,
 * so that a ring the user scribbled on is still checked and reset.
 */
static bool tx_pending(struct nmk_port *p)
{
	if (!p->ops->tx_refused)
		return p->info.first_tx_ring < p->info.last_tx_ring;
	for (uint32_t i = p->info.first_tx_ring; i < p->info.last_tx_ring; i++) {
		const struct nmk_kring_view *v = &p->tx_view[i];
		const struct netmap_ring *r = nmk_view_ring(&p->mem, v);
		if (r->head != atomic_load_explicit(&nmk_view_kring(&p->mem, v)->hwcur,
						    memory_order_relaxed) % v->num_slots)
			return true;
	}
	return false;
}

/* Sync and report readiness, as netmap_poll does before it sleeps. */
static short port_check(struct nmk_port *p, short events)
{
	short revents = 0;
	bool txpoll = !(p->info.flags & NR_NO_TX_POLL);

	if ((events & WANT_TX) || (txpoll && tx_pending(p))) {
		if (nmk_txsync(p) < 0)
			revents |= POLLERR;
		if (events & WANT_TX) {
			for (uint32_t i = p->info.first_tx_ring; i < p->info.last_tx_ring; i++) {
				struct netmap_ring *r = nmk_port_txring(p, i);
				if (r->cur != r->tail) {
					revents |= events & WANT_TX;
					break;
				}
			}
		}
	}
	if (events & WANT_RX) {
		if (nmk_rxsync(p) < 0)
			revents |= POLLERR;
		for (uint32_t i = p->info.first_rx_ring; i < p->info.last_rx_ring; i++) {
			struct netmap_ring *r = nmk_port_rxring(p, i);
			if (r->cur != r->tail) {
				revents |= events & WANT_RX;
				break;
			}
		}
	}
	return revents;
}

/* Arm (or disarm) every ring the caller waits for; with arm set, return
 * whether one became ready meanwhile. */
static bool port_arm(struct nmk_port *p, short events, bool arm)
{
	bool ready = false;
	struct {
		bool on;
		uint32_t first, last;
		const struct nmk_kring_view *v;
	} sets[2] = {
		{ (events & WANT_TX) != 0, p->info.first_tx_ring, p->info.last_tx_ring, p->tx_view },
		{ (events & WANT_RX) != 0, p->info.first_rx_ring, p->info.last_rx_ring, p->rx_view },
	};

	for (int d = 0; d < 2; d++) {
		if (!sets[d].on)
			continue;
		for (uint32_t i = sets[d].first; i < sets[d].last; i++) {
			if (arm) {
				nmk_kring_arm(&p->mem, sets[d].v[i].index, p->binding_slot);
				ready |= nmk_kring_ready(&p->mem, &sets[d].v[i]);
			} else {
				nmk_kring_disarm(&p->mem, sets[d].v[i].index, p->binding_slot);
			}
		}
	}
	return ready;
}

static int remaining_ms(int timeout, uint64_t start)
{
	if (timeout < 0)
		return -1;
	uint64_t spent = (nm_os_now_ns() - start) / 1000000u;
	return spent >= (uint64_t)timeout ? 0 : timeout - (int)spent;
}

/* Would a sync make one of the rings the caller waits for ready?  Only
 * loads: cheap enough to spin on. */
static bool port_ready(struct nmk_port *p, short events)
{
	if (events & WANT_TX)
		for (uint32_t i = p->info.first_tx_ring; i < p->info.last_tx_ring; i++)
			if (nmk_kring_ready(&p->mem, &p->tx_view[i]))
				return true;
	if (events & WANT_RX)
		for (uint32_t i = p->info.first_rx_ring; i < p->info.last_rx_ring; i++)
			if (nmk_kring_ready(&p->mem, &p->rx_view[i]))
				return true;
	return false;
}

/*
 * Before sleeping, watch the rings for a short while: a peer on another
 * core usually publishes within microseconds, and catching that here saves
 * both sides a system call (the sleeper's poll and the producer's wake-up).
 * NMKIT_POLL_SPIN_US sets the time (0 = never spin).
 */
static uint64_t spin_ns(void)
{
	static _Atomic int64_t cached = -1;
	int64_t v = atomic_load_explicit(&cached, memory_order_relaxed);

	if (v < 0) {
		const char *e = getenv("NMKIT_POLL_SPIN_US");
		v = e && *e ? (int64_t)strtoul(e, NULL, 10) * 1000 : 20000;
		atomic_store_explicit(&cached, v, memory_order_relaxed);
	}
	return (uint64_t)v;
}

static bool spin_until_ready(struct nmk_port **ports, struct pollfd *fds, nfds_t n, int left)
{
	uint64_t budget = spin_ns();

	if (budget == 0)
		return false;
	if (left >= 0 && (uint64_t)left * 1000000u < budget)
		budget = (uint64_t)left * 1000000u;
	uint64_t end = nm_os_now_ns() + budget;
	do {
		for (int spins = 0; spins < 64; spins++) {
			for (nfds_t i = 0; i < n; i++)
				if (ports[i] && port_ready(ports[i], fds[i].events))
					return true;
#if defined(__x86_64__) || defined(__i386__)
			__builtin_ia32_pause();
#endif
		}
	} while (nm_os_now_ns() < end);
	return false;
}

static void disarm_all(struct nmk_port **ports, struct pollfd *fds, nfds_t n)
{
	for (nfds_t i = 0; i < n; i++)
		if (ports[i])
			port_arm(ports[i], fds[i].events, false);
}

/* The common engine: ports[i] is the port of fds[i], or NULL for an
 * ordinary fd; sys has room for n pollfds. */
static int poll_loop(struct nmk_port **ports, struct pollfd *fds, nfds_t n, int timeout,
		     struct pollfd *sys)
{
	uint64_t start = nm_os_now_ns();

	for (;;) {
		int ready = 0;
		bool others = false;

		for (nfds_t i = 0; i < n; i++) {
			fds[i].revents = 0;
			if (ports[i]) {
				fds[i].revents = port_check(ports[i], fds[i].events);
				ready += fds[i].revents != 0;
			} else if (fds[i].fd >= 0) {
				others = true;
			}
		}
		if (others) {   /* ordinary fds: a non-blocking look */
			for (nfds_t i = 0; i < n; i++)
				sys[i] = (struct pollfd){ .fd = ports[i] ? -1 : fds[i].fd,
							  .events = fds[i].events };
			if (poll(sys, n, 0) > 0) {
				for (nfds_t i = 0; i < n; i++) {
					if (!ports[i] && sys[i].revents) {
						fds[i].revents = sys[i].revents;
						ready++;
					}
				}
			}
		}
		int left = remaining_ms(timeout, start);
		if (ready || left == 0)
			return ready;

		if (!others && spin_until_ready(ports, fds, n, left))
			continue;

		/* Nothing ready: arm, re-check, sleep. */
		bool raced = false;
		for (nfds_t i = 0; i < n; i++)
			if (ports[i])
				raced |= port_arm(ports[i], fds[i].events, true);
		if (!raced) {
			for (nfds_t i = 0; i < n; i++) {
				sys[i] = (struct pollfd){ .fd = fds[i].fd, .events = fds[i].events };
				if (ports[i])
					sys[i].fd = nmk_port_sleep_fd(ports[i], fds[i].events,
								      &sys[i].events);
			}
			/* The wake-up that ends this sleep depends on words in
			 * shared memory (the armed bits, the kring's port, the
			 * binding ids) that another client could overwrite: never
			 * sleep longer than NMK_POLL_RECHECK_MS without looking at
			 * the rings again. */
			int nap = left;
			for (nfds_t i = 0; i < n; i++)
				if (ports[i] && (nap < 0 || nap > NMK_POLL_RECHECK_MS))
					nap = NMK_POLL_RECHECK_MS;
			if (poll(sys, n, nap) < 0) {
				/* EINTR included: return as poll(2) would. */
				int e = errno;
				disarm_all(ports, fds, n);
				return -e;
			}
			for (nfds_t i = 0; i < n; i++) {
				if (ports[i] && !ports[i]->ops->sleep_fd &&
				    (sys[i].revents & (POLLHUP | POLLERR))) {
					/* The broker is gone: our rings still work but
					 * we can no longer sleep; report it. */
					disarm_all(ports, fds, n);
					fds[i].revents = POLLHUP | POLLERR;
					return 1;
				}
			}
		}
		disarm_all(ports, fds, n);
		for (nfds_t i = 0; i < n; i++)
			if (ports[i])
				nmk_port_drain(ports[i]);
	}
}

static int poll_mixed(struct nmk_port **ports, struct pollfd *fds, nfds_t n, int timeout)
{
	/* poll runs once per batch in many programs: no allocation for the
	 * usual handful of fds. */
	struct pollfd local[16];
	struct pollfd *sys = n <= 16 ? local : malloc(sizeof(*sys) * n);

	if (sys == NULL)
		return -ENOMEM;
	int r = poll_loop(ports, fds, n, timeout, sys);
	if (sys != local)
		free(sys);
	return r;
}

int nmk_port_poll(struct nmk_port *p, short events, int timeout_ms)
{
	struct pollfd pfd = { .fd = p->fd, .events = events };
	struct nmk_port *ports[1] = { p };
	int r = poll_mixed(ports, &pfd, 1, timeout_ms);

	return r <= 0 ? r : pfd.revents;
}

int nmk_poll(struct pollfd *fds, nfds_t nfds, int timeout_ms)
{
	struct nmk_port *local[16];
	struct nmk_port **ports = nfds <= 16 ? local : calloc(nfds, sizeof(*ports));
	int r;

	if (ports == NULL)
		return -ENOMEM;
	for (nfds_t i = 0; i < nfds; i++)
		ports[i] = fds[i].fd >= 0 ? nmk_port_by_fd(fds[i].fd) : NULL;
	r = poll_mixed(ports, fds, nfds, timeout_ms);
	if (ports != local)
		free(ports);
	return r;
}
