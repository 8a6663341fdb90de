/*
 * attach.c - NICs attached to VALE switches (vale-ctl -a valeX:eth0).
 *
 * Each attached NIC is served by a worker thread of the broker that is, to
 * the rest of nmkit, an ordinary client: it opens the device through the
 * best driver plugin ("netmap:eth0") and the switch port "valeX:eth0", and
 * moves frames between the two, busy-polling while traffic flows and
 * sleeping in poll on the device and the port when it does not.  Because
 * it talks to the broker through the broker's own socket, the main loop
 * never waits for it: an ATTACH is answered when the worker reports that
 * both ports are open, and a DETACH only asks it to stop.
 *
 * The attachment belongs to the broker, so it survives the exit of
 * vale-ctl and of every other client.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <unistd.h>

#include <nmkit/nmkit.h>
#include <net/netmap_user.h>

#include "attach.h"
#include "broker.h"
#include "nm_os.h"

struct nic {
	struct nic *next;
	char name[64];                  /* "vale0:eth0" */
	char ifname[32];
	bool tap;                       /* a host stack: the tap driver creates the device */
	pthread_t thread;
	_Atomic int stop;
	int wake_fd;                    /* a DETACH wakes the worker's poll */
	/* Set by the worker, read by the main loop after a notification. */
	_Atomic int state;              /* 0 starting, 1 running, 2 failed, 3 exited */
	int errcode;                    /* with state 2: the errno */
	char err[NMK_ERRBUF_SIZE];
	int notify_fd;                  /* the main loop's: signalled at every change */
	/* The ATTACH to answer once the worker has started. */
	uint64_t conn_id;
	uint32_t seq;
	bool answered;
};

static struct nic *nic_find(const struct broker *b, const char *name)
{
	for (struct nic *n = b->nics; n; n = n->next)
		if (strcmp(n->name, name) == 0)
			return n;
	return NULL;
}

bool attach_is_nic(const struct broker *b, const char *name)
{
	struct nic *n = nic_find(b, name);
	return n && atomic_load(&n->state) == 1;
}

/* Copy the frames waiting in src's RX rings to dst's TX rings, as far as
 * they fit, keeping multi-slot frames whole.  Returns the slots moved. */
static uint32_t move(struct nmk_port *src, struct nmk_port *dst)
{
	const struct nmk_port_info *si = nmk_port_info(src), *di = nmk_port_info(dst);
	struct netmap_ring *tx = nmk_port_txring(dst, di->first_tx_ring);
	uint32_t moved = 0;

	for (uint32_t ri = si->first_rx_ring; ri < si->last_rx_ring; ri++) {
		struct netmap_ring *rx = nmk_port_rxring(src, ri);
		uint32_t space = nm_ring_space(tx), avail = nm_ring_space(rx);
		uint32_t n = avail < space ? avail : space, last_end = 0;
		uint32_t j = rx->head;
		for (uint32_t k = 0; k < n; k++, j = nm_ring_next(rx, j))
			if (!(rx->slot[j].flags & NS_MOREFRAG))
				last_end = k + 1;
		uint32_t r = rx->head, t = tx->head;
		for (uint32_t k = 0; k < last_end; k++) {
			struct netmap_slot *rs = &rx->slot[r], *ts = &tx->slot[t];
			uint16_t len = rs->len <= tx->nr_buf_size ? rs->len : (uint16_t)tx->nr_buf_size;
			memcpy(NETMAP_BUF(tx, ts->buf_idx), NETMAP_BUF(rx, rs->buf_idx), len);
			ts->len = len;
			ts->flags = rs->flags & NS_MOREFRAG;
			r = nm_ring_next(rx, r);
			t = nm_ring_next(tx, t);
		}
		rx->head = rx->cur = r;
		tx->head = tx->cur = t;
		moved += last_end;
	}
	return moved;
}

static void report(struct nic *n, int state)
{
	atomic_store(&n->state, state);
	nm_os_notify_signal(n->notify_fd);
}

static void *worker(void *arg)
{
	struct nic *n = arg;
	char spec[64];

	/* A NIC through the best driver; a host stack through a tap the
	 * driver creates (and removes when the worker closes it). */
	snprintf(spec, sizeof(spec), n->tap ? "tap:%s" : "netmap:%s", n->ifname);
	struct nmk_port *dev = nmk_port_open(spec, n->err);
	if (dev == NULL) {
		/* No device of that name (or no driver for it): what does not
		 * exist is ENOENT for vale-ctl, as for persistent ports. */
		n->errcode = errno == ENXIO ? ENOENT : errno;
		report(n, 2);
		return NULL;
	}
	struct nmk_port *sw = nmk_port_open(n->name, n->err);
	if (sw == NULL) {
		n->errcode = errno;
		nmk_port_close(dev);
		report(n, 2);
		return NULL;
	}
	report(n, 1);
	while (!atomic_load_explicit(&n->stop, memory_order_relaxed)) {
		/* Each rxsync also releases what the previous round consumed
		 * (and so does the poll below, before sleeping). */
		nmk_rxsync(dev);
		uint32_t in = move(dev, sw);
		nmk_txsync(sw);         /* forwards into the switch */
		nmk_rxsync(sw);
		uint32_t out = move(sw, dev);
		nmk_txsync(dev);        /* the driver sends */
		if (in || out)
			continue;       /* traffic flows: keep polling */
		struct pollfd pfd[3] = {
			{ .fd = nmk_port_fd(dev), .events = POLLIN },
			{ .fd = nmk_port_fd(sw), .events = POLLIN },
			{ .fd = n->wake_fd, .events = POLLIN },
		};
		nmk_poll(pfd, 3, 1000);
	}
	nmk_port_close(sw);
	nmk_port_close(dev);
	report(n, 3);
	return NULL;
}

int attach_nic(struct broker *b, const char *name, const char *ifname, bool tap,
	       uint64_t conn_id, uint32_t seq, char *err, size_t errlen)
{
	struct nic *n = nic_find(b, name);

	if (n) {
		snprintf(err, errlen, "%s: %s is already attached", name, ifname);
		return -EBUSY;
	}
	n = calloc(1, sizeof(*n));
	if (n == NULL) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	snprintf(n->name, sizeof(n->name), "%s", name);
	snprintf(n->ifname, sizeof(n->ifname), "%s", ifname);
	n->tap = tap;
	n->conn_id = conn_id;
	n->seq = seq;
	n->notify_fd = b->notify_fd;
	n->wake_fd = nm_os_notify_create();
	if (n->wake_fd < 0 || pthread_create(&n->thread, NULL, worker, n) != 0) {
		if (n->wake_fd >= 0)
			close(n->wake_fd);
		free(n);
		snprintf(err, errlen, "%s: cannot start a worker thread", name);
		return -EAGAIN;
	}
	n->next = b->nics;
	b->nics = n;
	if (b->cfg.verbose)
		blog(b, LOG_INFO, "attaching %s", name);
	return 0;       /* answered by attach_poll once the worker has started */
}

int detach_nic(struct broker *b, const char *name, char *err, size_t errlen)
{
	struct nic *n = nic_find(b, name);

	if (n == NULL || atomic_load(&n->state) != 1) {
		snprintf(err, errlen, "%s: no NIC attached under this name", name);
		return -ENOENT;
	}
	atomic_store(&n->stop, 1);
	nm_os_notify_signal(n->wake_fd);
	if (b->cfg.verbose)
		blog(b, LOG_INFO, "detaching %s", name);
	return 0;
}

static void nic_free(struct broker *b, struct nic *n)
{
	pthread_join(n->thread, NULL);
	close(n->wake_fd);
	for (struct nic **q = &b->nics; *q; q = &(*q)->next) {
		if (*q == n) {
			*q = n->next;
			break;
		}
	}
	free(n);
}

void attach_poll(struct broker *b)
{
	for (struct nic *n = b->nics, *next; n; n = next) {
		next = n->next;
		int st = atomic_load(&n->state);
		if (st != 0 && !n->answered) {
			n->answered = true;
			attach_answer(b, n->conn_id, n->seq,
				      st == 2 ? -(n->errcode ? n->errcode : ENXIO) : 0, n->err, n->name);
			if (b->cfg.verbose && st != 2)
				blog(b, LOG_INFO, "attached %s", n->name);
		}
		if (st == 2 || st == 3)
			nic_free(b, n);
	}
}

void attach_stop_all(struct broker *b)
{
	for (struct nic *n = b->nics; n; n = n->next) {
		atomic_store(&n->stop, 1);
		nm_os_notify_signal(n->wake_fd);
	}
}
