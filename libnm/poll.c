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
#include <stdlib.h>
#include <string.h>

#include "nm_os.h"
#include "port.h"

#define WANT_RX (POLLIN | POLLRDNORM)
#define WANT_TX (POLLOUT | POLLWRNORM)

/* Sync and report readiness, as netmap_poll does before it sleeps. */
static short port_check(struct nmk_port *p, short events)
{
	short revents = 0;
	bool txpoll = !(p->info.flags & NR_NO_TX_POLL);

	if ((events & WANT_TX) || txpoll) {
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
		uint32_t first, last, *k;
	} sets[2] = {
		{ (events & WANT_TX) != 0, p->info.first_tx_ring, p->info.last_tx_ring, p->tx_kring },
		{ (events & WANT_RX) != 0, p->info.first_rx_ring, p->info.last_rx_ring, p->rx_kring },
	};

	for (int d = 0; d < 2; d++) {
		if (!sets[d].on)
			continue;
		for (uint32_t i = sets[d].first; i < sets[d].last; i++) {
			if (arm) {
				nmk_kring_arm(&p->mem, sets[d].k[i], p->binding_slot);
				ready |= nmk_kring_ready(&p->mem, sets[d].k[i]);
			} else {
				nmk_kring_disarm(&p->mem, sets[d].k[i], p->binding_slot);
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

/* The common engine: ports[i] is the port of fds[i], or NULL for an
 * ordinary fd. */
static int poll_mixed(struct nmk_port **ports, struct pollfd *fds, nfds_t n, int timeout)
{
	uint64_t start = nm_os_now_ns();
	struct pollfd *sys = malloc(sizeof(*sys) * (n ? n : 1));

	if (sys == NULL)
		return -ENOMEM;
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
		if (ready || left == 0) {
			free(sys);
			return ready;
		}

		/* Nothing ready: arm, re-check, sleep. */
		bool raced = false;
		for (nfds_t i = 0; i < n; i++)
			if (ports[i])
				raced |= port_arm(ports[i], fds[i].events, true);
		if (!raced) {
			for (nfds_t i = 0; i < n; i++)
				sys[i] = (struct pollfd){
					.fd = fds[i].fd,
					.events = ports[i] ? POLLIN : fds[i].events,
				};
			int r = poll(sys, n, left);
			if (r < 0 && errno != EINTR) {
				int e = errno;
				for (nfds_t i = 0; i < n; i++)
					if (ports[i])
						port_arm(ports[i], fds[i].events, false);
				free(sys);
				return -e;
			}
			if (r < 0) {    /* EINTR: return like poll(2) would */
				for (nfds_t i = 0; i < n; i++)
					if (ports[i])
						port_arm(ports[i], fds[i].events, false);
				free(sys);
				return -EINTR;
			}
			for (nfds_t i = 0; i < n; i++) {
				if (ports[i] && (sys[i].revents & (POLLHUP | POLLERR))) {
					/* The broker is gone: our rings still work but
					 * we can no longer sleep; report it. */
					for (nfds_t j = 0; j < n; j++)
						if (ports[j])
							port_arm(ports[j], fds[j].events, false);
					fds[i].revents = POLLHUP | POLLERR;
					free(sys);
					return 1;
				}
			}
		}
		for (nfds_t i = 0; i < n; i++) {
			if (ports[i]) {
				port_arm(ports[i], fds[i].events, false);
				nmk_port_drain(ports[i]);
			}
		}
	}
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
	struct nmk_port **ports = calloc(nfds ? nfds : 1, sizeof(*ports));
	int r;

	if (ports == NULL)
		return -ENOMEM;
	for (nfds_t i = 0; i < nfds; i++)
		ports[i] = fds[i].fd >= 0 ? nmk_port_by_fd(fds[i].fd) : NULL;
	r = poll_mixed(ports, fds, nfds, timeout_ms);
	free(ports);
	return r;
}
