/*
 * broker.c - connections and the requests they carry.
 *
 * A connection is one netmap fd.  REGISTER binds it to a port; the binding
 * lasts until the connection hangs up, which happens only when the last
 * copy of the client's fd, in any process, is closed (or its process dies).
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <unistd.h>

#include "attach.h"
#include "broker.h"
#include "kinds.h"
#include "vale.h"

/* The kinds of port, in the order a REGISTERed name is offered to them:
 * a monitor flag wins over the name; the names of the others never
 * overlap. */
static const struct port_kind *const port_kinds[] = {
	&monitor_kind, &pipe_kind, &vale_kind, &nic_kind,
};

struct conn *conn_new(struct broker *b, int fd)
{
	struct conn *c = calloc(1, sizeof(*c));

	if (c == NULL)
		return NULL;
	c->id = ++b->conn_ids;
	c->fd = fd;
	if (nm_os_peer_cred(fd, &c->cred) < 0) {
		free(c);
		return NULL;
	}
	/* Append, never prepend: serve() acts on connections in list order,
	 * so the hang-up of an older connection is handled before requests
	 * on a newer one.  A client that closes a port and opens it again
	 * (say exclusively) must find it released, as with netmap, whose
	 * close is synchronous. */
	struct conn **q = &b->conns;
	while (*q)
		q = &(*q)->next;
	*q = c;
	b->nconns++;
	return c;
}

static void wake_ring(struct port *p, struct ring_use *u, void *arg)
{
	struct nmk_kring *kr = nmk_view_kring(&p->r->m, &u->v);
	uint64_t mask = atomic_exchange(&kr->armed, 0);

	(void)arg;
	for (struct binding *b = p->bindings; b && mask; b = b->next) {
		if (mask & (UINT64_C(1) << b->slot)) {
			nmk_wake(b->conn->fd);
			mask &= ~(UINT64_C(1) << b->slot);
		}
	}
}

void port_wake_all(struct port *p)
{
	port_each_ring(p, wake_ring, NULL);
	/* Every binding, armed or not: a process killed after taking the
	 * armed bits (nmk_wake_armed) and before its wake-up byte went out
	 * left them cleared, and its sleepers asleep for good.  Spurious
	 * wake-ups are harmless. */
	for (struct binding *b = p->bindings; b; b = b->next)
		nmk_wake(b->conn->fd);
}

static void disarm_ring(struct port *p, struct ring_use *u, void *arg)
{
	uint64_t bit = *(uint64_t *)arg;
	atomic_fetch_and(&nmk_view_kring(&p->r->m, &u->v)->armed, ~bit);
}

/* Free the extra buffers of a netmap_if as its list reads now: the client
 * owns the list and may have rewritten it, so every step is checked and the
 * walk is bounded. */
static void free_extra_bufs(struct region *r, struct netmap_if *nifp)
{
	uint32_t idx = nifp->ni_bufs_head;

	for (uint32_t steps = 0; idx != 0 && steps < r->l.p.buf_num; steps++) {
		if (idx < 2 || idx >= r->l.p.buf_num)
			break;
		uint32_t *link = (uint32_t *)(void *)nmk_buf_at(r->mem, &r->l, idx);
		uint32_t next = *link;
		*link = 0;
		region_free_buf(r, idx);
		idx = next;
	}
	nifp->ni_bufs_head = 0;
}

/*
 * A ring of port p lost its last user.  Nobody alive can be inside a sync
 * of it (a binding goes only when the last copy of its fd is gone), so its
 * sync lock may still name a dead process, or a zombie that the lock cannot
 * tell from a live one: free it; and what a syncer killed mid-way left half
 * done is its kind's to settle (a pipe's TX ring: the txsync's own
 * publishing step, see libnm/kinds/pipe.c).
 */
static void ring_abandoned(struct port *p, struct ring_use *u)
{
	const struct nmk_kind_ops *ops = nmk_kind_ops(u->v.kind);

	nmk_kring_put(nmk_view_kring(&p->r->m, &u->v));
	if (ops && ops->abandoned)
		ops->abandoned(&p->r->m, &u->v);
}

static void binding_release(struct broker *br, struct binding *b)
{
	struct port *p = b->port;
	struct region *r = p->r;
	uint64_t bit = UINT64_C(1) << b->slot;

	for (uint32_t i = b->first_tx; i < b->last_tx; i++) {
		if (--p->tx[i].users == 0)
			ring_abandoned(p, &p->tx[i]);
		if (b->exclusive)
			p->tx[i].exclusive = false;
	}
	for (uint32_t i = b->first_rx; i < b->last_rx; i++) {
		if (--p->rx[i].users == 0)
			ring_abandoned(p, &p->rx[i]);
		if (b->exclusive)
			p->rx[i].exclusive = false;
	}
	atomic_store(&nmk_ctrl_port_at(&r->m, p->port_index)->binding[b->slot], 0);
	port_each_ring(p, disarm_ring, &bit);
	free_extra_bufs(r, nmk_if_at(r->mem, &r->l, b->nifp));
	region_free_if(r, b->nifp);
	for (struct binding **q = &p->bindings; *q; q = &(*q)->next) {
		if (*q == b) {
			*q = b->next;
			break;
		}
	}
	p->nbindings--;
	free(b);

	if (p->kind->binding_gone)
		p->kind->binding_gone(br, p);
	if (p->nbindings == 0)
		p->kind->idle(br, p);
}

void conn_drop_all(struct broker *b)
{
	/* At shutdown: hang up on every client but leave the shared memory
	 * exactly as it is, since clients keep using their mappings. */
	while (b->conns) {
		struct conn *c = b->conns;
		b->conns = c->next;
		close(c->fd);
		free(c->b);
		free(c);
	}
	b->nconns = 0;
}

void conn_close(struct broker *b, struct conn *c)
{
	for (struct conn **q = &b->conns; *q; q = &(*q)->next) {
		if (*q == c) {
			*q = c->next;
			break;
		}
	}
	b->nconns--;
	if (c->b) {
		if (b->cfg.verbose)
			blog(b, LOG_INFO, "pid %d released %s", (int)c->cred.pid, c->b->port->name);
		binding_release(b, c->b);
	}
	close(c->fd);
	free(c);
}

/* ---- ports waiting to be freed --------------------------------------------- */

struct deferred {
	struct deferred *next;
	struct port *p;
};

void broker_defer_free(struct broker *b, struct port *p)
{
	struct deferred *d = malloc(sizeof(*d));

	p->leaving = true;      /* its rings stay stopped: broker_audit leaves it alone */

	if (d == NULL)
		return;         /* leaked until the broker goes: safe, never reused */
	d->p = p;
	d->next = b->deferred;
	b->deferred = d;
}

bool broker_reap(struct broker *b)
{
	for (struct deferred **q = &b->deferred; *q;) {
		struct deferred *d = *q;
		if (d->p->kind->reap(b, d->p)) {
			*q = d->next;
			free(d);
		} else {
			q = &d->next;
		}
	}
	return b->deferred != NULL;
}

/* ---- repairs ---------------------------------------------------------------- */

static void audit_ring(struct port *p, struct ring_use *u, void *arg)
{
	struct broker *b = arg;
	char what[160];

	if (nmk_kring_restore(&p->r->m, &u->v, what, sizeof(what)) < 0)
		blog(b, LOG_WARNING, "%s: %s", p->name, what);
}

/* The binding table of p: each registration's id in its slot, 0 elsewhere
 * (wake-ups go by these ids). */
static void audit_bindings(struct broker *br, struct port *p)
{
	struct nmk_ctrl_port *cp = nmk_ctrl_port_at(&p->r->m, p->port_index);
	uint64_t want[NMK_MAX_BINDINGS] = { 0 };
	bool fixed = false;

	for (struct binding *b = p->bindings; b; b = b->next)
		want[b->slot] = b->id;
	for (uint32_t s = 0; s < NMK_MAX_BINDINGS; s++) {
		if (atomic_load_explicit(&cp->binding[s], memory_order_relaxed) != want[s]) {
			atomic_store(&cp->binding[s], want[s]);
			fixed = true;
		}
	}
	if (fixed)
		blog(br, LOG_WARNING, "%s: its binding table was overwritten by a client; restored",
		     p->name);
}

void broker_audit(struct broker *b)
{
	for (struct port *p = b->ports; p; p = p->next) {
		if (p->leaving || p->port_index == NMK_NONE)
			continue;
		port_each_ring(p, audit_ring, b);
		audit_bindings(b, p);
		if (p->kind->audit)
			p->kind->audit(b, p);
	}
	vale_audit_switches(b);
}

/* ---- REGISTER ----------------------------------------------------------- */

struct reg_ctx {
	struct conn *c;
	uint32_t seq;
	char err[300];
};

static int select_rings(const struct port *p, const struct nmreq_register *req,
			struct binding *b, char *err, size_t errlen)
{
	uint32_t mode = req->nr_mode == NR_REG_DEFAULT ? NR_REG_ALL_NIC : req->nr_mode;

	switch (mode) {
	case NR_REG_ALL_NIC:
		b->first_tx = 0, b->last_tx = p->ntx;
		b->first_rx = 0, b->last_rx = p->nrx;
		break;
	case NR_REG_ONE_NIC:
		if (req->nr_ringid >= p->ntx && req->nr_ringid >= p->nrx) {
			snprintf(err, errlen, "%s: ring %u does not exist (%u tx, %u rx rings)",
				 p->name, req->nr_ringid, p->ntx, p->nrx);
			return -EINVAL;
		}
		/* In a direction with fewer rings, netmap binds ring 0. */
		b->first_tx = req->nr_ringid < p->ntx ? req->nr_ringid : 0;
		b->last_tx = b->first_tx + 1;
		b->first_rx = req->nr_ringid < p->nrx ? req->nr_ringid : 0;
		b->last_rx = b->first_rx + 1;
		break;
	default:
		snprintf(err, errlen, "%s: %s accept only the ALL_NIC and ONE_NIC modes (got %u)",
			 p->name, p->kind->plural, req->nr_mode);
		return -EINVAL;
	}
	if (req->nr_flags & NR_TX_RINGS_ONLY)
		b->first_rx = b->last_rx = 0;
	if (req->nr_flags & NR_RX_RINGS_ONLY)
		b->first_tx = b->last_tx = 0;
	return 0;
}

static int check_exclusive(const struct port *p, const struct binding *b, bool want,
			   char *err, size_t errlen)
{
	const struct ring_use *sets[2] = { p->tx, p->rx };
	uint32_t first[2] = { b->first_tx, b->first_rx }, last[2] = { b->last_tx, b->last_rx };

	for (int d = 0; d < 2; d++) {
		for (uint32_t i = first[d]; i < last[d]; i++) {
			if (sets[d][i].exclusive || (want && sets[d][i].users)) {
				snprintf(err, errlen, "%s: %s ring %u is %s", p->name,
					 d ? "rx" : "tx", i,
					 sets[d][i].exclusive ? "open exclusively (/x)"
							      : "in use, cannot open it exclusively");
				return -EBUSY;
			}
		}
	}
	return 0;
}

static int fill_nifp(struct port *p, struct binding *b, uint32_t extra, uint32_t *got,
		     char *err, size_t errlen)
{
	struct region *r = p->r;
	uint32_t nofs = p->ntx + 1 + p->nrx + 1;

	if (sizeof(struct netmap_if) + nofs * sizeof(ssize_t) > r->l.p.if_size) {
		snprintf(err, errlen, "%s: %u rings do not fit a netmap_if of %u bytes",
			 p->name, p->ntx + p->nrx, r->l.p.if_size);
		return -ENOMEM;
	}
	if (region_alloc_if(r, &b->nifp) < 0) {
		snprintf(err, errlen, "%s: region %u has no free netmap_if (if pool of %u)",
			 p->name, r->mem_id, r->l.p.if_num);
		return -ENOMEM;
	}
	struct netmap_if *nifp = nmk_if_at(r->mem, &r->l, b->nifp);
	uint64_t nifp_off = r->l.if_off + (uint64_t)b->nifp * r->l.p.if_size;
	memset(nifp, 0, r->l.p.if_size);
	/* ni_name holds 15 characters and a NUL, as in netmap. */
	memcpy(nifp->ni_name, p->name, strnlen(p->name, sizeof(nifp->ni_name) - 1));
	*(uint32_t *)(uintptr_t)&nifp->ni_tx_rings = p->ntx;
	*(uint32_t *)(uintptr_t)&nifp->ni_rx_rings = p->nrx;
	/* netmap always reports one (fake) host ring per direction. */
	*(uint32_t *)(uintptr_t)&nifp->ni_host_tx_rings = 1;
	*(uint32_t *)(uintptr_t)&nifp->ni_host_rx_rings = 1;
	ssize_t *ofs = (ssize_t *)(uintptr_t)nifp->ring_ofs;
	for (uint32_t i = b->first_tx; i < b->last_tx; i++)
		ofs[i] = (ssize_t)(r->l.ring_off + (uint64_t)p->tx[i].v.index * r->l.p.ring_size -
				   nifp_off);
	for (uint32_t i = b->first_rx; i < b->last_rx; i++)
		ofs[p->ntx + 1 + i] = (ssize_t)(r->l.ring_off +
			(uint64_t)p->rx[i].v.index * r->l.p.ring_size - nifp_off);

	/* Extra buffers: as many as can be had, linked through their first
	 * word (reference §2.5). */
	uint32_t n = extra < r->bufs_free ? extra : r->bufs_free;
	*got = 0;
	if (n) {
		uint32_t *bufs = malloc(sizeof(uint32_t) * n);
		if (bufs && region_alloc_bufs(r, bufs, n) == 0) {
			for (uint32_t i = 0; i < n; i++)
				*(uint32_t *)(void *)nmk_buf_at(r->mem, &r->l, bufs[i]) =
					i + 1 < n ? bufs[i + 1] : 0;
			nifp->ni_bufs_head = bufs[0];
			*got = n;
		}
		free(bufs);
	}
	return 0;
}

static int bind_slot(struct port *p, struct binding *b, char *err, size_t errlen)
{
	struct nmk_ctrl_port *cp = nmk_ctrl_port_at(&p->r->m, p->port_index);

	for (uint32_t s = 0; s < NMK_MAX_BINDINGS; s++) {
		if (atomic_load(&cp->binding[s]) == 0) {
			b->slot = s;
			atomic_store(&cp->binding[s], b->id);
			return 0;
		}
	}
	snprintf(err, errlen, "%s: too many registrations of one port (limit %u)",
		 p->name, NMK_MAX_BINDINGS);
	return -ENOMEM;
}

static void fill_binding_msg(const struct broker *br, const struct binding *b,
			     struct nmk_msg_binding *m)
{
	const struct port *p = b->port;

	memset(m, 0, sizeof(*m));
	m->reg = b->reg;
	snprintf(m->name, sizeof(m->name), "%s", p->name);
	m->broker_id = br->id;
	m->ctrl_size = p->r->ctrl_size;
	m->binding_id = b->id;
	m->port_index = p->port_index;
	m->binding_slot = b->slot;
	m->first_tx = b->first_tx, m->last_tx = b->last_tx;
	m->first_rx = b->first_rx, m->last_rx = b->last_rx;
	m->buf_size = p->r->l.p.buf_size;
}

static int send_binding(const struct broker *br, struct conn *c, uint16_t type, uint32_t seq,
			const struct binding *b)
{
	struct nmk_msg_binding m;
	int fds[2] = { b->port->r->fd, b->port->r->ctrl_fd };

	fill_binding_msg(br, b, &m);
	return nmk_msg_send(c->fd, type, seq, 0, &m, sizeof(m), fds, 2);
}

/* Find (or create) the port a name designates. */
static struct port *port_lookup(struct broker *b, const char *name,
				const struct nmreq_register *req, const struct nm_os_cred *cred,
				char *err, size_t errlen, int *status)
{
	if (name[0] == '\0') {
		snprintf(err, errlen, "empty port name");
		*status = -EINVAL;
		return NULL;
	}
	if (req->nr_mode == NR_REG_NULL) {
		snprintf(err, errlen, "%s: null ports are not available in this version", name);
		*status = -EOPNOTSUPP;
		return NULL;
	}
	for (size_t i = 0; i < sizeof(port_kinds) / sizeof(port_kinds[0]); i++)
		if (port_kinds[i]->claims(b, name, req))
			return port_kinds[i]->get(b, name, req, cred, err, errlen, status);
	snprintf(err, errlen, "%s: no such port", name);
	*status = -ENXIO;
	return NULL;
}

static void do_register(struct broker *br, struct conn *c, uint32_t seq, const void *body,
			uint32_t len)
{
	struct nmk_msg_register req;
	char err[300];
	int status = 0;

	if (len != sizeof(req)) {
		nmk_msg_send_error(c->fd, NMK_MSG_REGISTER, seq, -EINVAL,
				   "register: body of %u bytes, expected %zu", len, sizeof(req));
		return;
	}
	memcpy(&req, body, sizeof(req));
	req.name[sizeof(req.name) - 1] = '\0';
	if (c->b) {
		nmk_msg_send_error(c->fd, NMK_MSG_REGISTER, seq, -EBUSY,
				   "%s: this fd is already registered to %s", req.name,
				   c->b->port->name);
		return;
	}
	struct port *p = port_lookup(br, req.name, &req.reg, &c->cred, err, sizeof(err), &status);
	if (p == NULL) {
		nmk_msg_send_error(c->fd, NMK_MSG_REGISTER, seq, status, "%s", err);
		return;
	}
	if (p->owner != c->cred.uid && c->cred.uid != 0) {
		snprintf(err, sizeof(err), "%s: belongs to uid %u, not to uid %u", p->name,
			 (unsigned)p->owner, (unsigned)c->cred.uid);
		status = -EACCES;
		goto fail;
	}

	struct binding *b = calloc(1, sizeof(*b));
	if (b == NULL) {
		snprintf(err, sizeof(err), "out of memory");
		status = -ENOMEM;
		goto fail;
	}
	b->port = p;
	b->conn = c;
	b->id = next_binding_id(br);
	b->exclusive = (req.reg.nr_flags & NR_EXCLUSIVE) != 0;
	uint32_t got = 0;
	if ((status = select_rings(p, &req.reg, b, err, sizeof(err))) < 0 ||
	    (status = check_exclusive(p, b, b->exclusive, err, sizeof(err))) < 0 ||
	    (status = bind_slot(p, b, err, sizeof(err))) < 0) {
		free(b);
		goto fail;
	}
	if ((status = fill_nifp(p, b, req.reg.nr_extra_bufs, &got, err, sizeof(err))) < 0) {
		atomic_store(&nmk_ctrl_port_at(&p->r->m, p->port_index)->binding[b->slot], 0);
		free(b);
		goto fail;
	}

	const struct nmk_mem *m = &p->r->m;
	for (uint32_t i = b->first_tx; i < b->last_tx; i++) {
		if (p->tx[i].users++ == 0)
			nmk_kring_reset(m, &p->tx[i].v);
		p->tx[i].exclusive |= b->exclusive;
	}
	for (uint32_t i = b->first_rx; i < b->last_rx; i++) {
		if (p->rx[i].users++ == 0)
			nmk_kring_reset(m, &p->rx[i].v);
		p->rx[i].exclusive |= b->exclusive;
	}

	/* The reply: netmap writes these fields and leaves mode, ringid and
	 * flags as the application set them. */
	b->reg = req.reg;
	b->reg.nr_offset = p->r->l.if_off + (uint64_t)b->nifp * p->r->l.p.if_size;
	b->reg.nr_memsize = p->r->l.memsize;
	b->reg.nr_tx_slots = p->tx_slots;
	b->reg.nr_rx_slots = p->rx_slots;
	b->reg.nr_tx_rings = (uint16_t)p->ntx;
	b->reg.nr_rx_rings = (uint16_t)p->nrx;
	b->reg.nr_host_tx_rings = 0;
	b->reg.nr_host_rx_rings = 0;
	b->reg.nr_mem_id = p->r->mem_id;
	b->reg.nr_extra_bufs = got;

	b->next = p->bindings;
	p->bindings = b;
	p->nbindings++;
	c->b = b;
	if (br->cfg.verbose)
		blog(br, LOG_INFO, "pid %d uid %u registered %s (mem %u, binding %llu)",
		     (int)c->cred.pid, (unsigned)c->cred.uid, p->name, p->r->mem_id,
		     (unsigned long long)b->id);
	if (send_binding(br, c, NMK_MSG_REGISTER, seq, b) < 0)
		blog(br, LOG_WARNING, "pid %d: cannot send the reply for %s", (int)c->cred.pid,
		     p->name);
	return;
fail:
	nmk_msg_send_error(c->fd, NMK_MSG_REGISTER, seq, status, "%s", err);
	if (p->nbindings == 0)
		p->kind->idle(br, p);
}

/* ---- other requests ----------------------------------------------------- */

static void do_binding(struct broker *b, struct conn *c, uint32_t seq)
{
	if (c->b == NULL) {
		nmk_msg_send_error(c->fd, NMK_MSG_BINDING, seq, -ENXIO,
				   "this fd is not registered to any port");
		return;
	}
	send_binding(b, c, NMK_MSG_BINDING, seq, c->b);
}

static void do_wakefd(struct broker *b, struct conn *c, uint32_t seq, const void *body,
		      uint32_t len)
{
	struct nmk_msg_wakefd w;

	if (len != sizeof(w)) {
		nmk_msg_send_error(c->fd, NMK_MSG_WAKEFD, seq, -EINVAL, "wakefd: bad body size");
		return;
	}
	memcpy(&w, body, sizeof(w));
	for (struct conn *o = b->conns; o; o = o->next) {
		if (o->b == NULL || o->b->id != w.binding_id)
			continue;
		/* A wake fd is this broker's end of the other connection: only
		 * its owner (or root) may have it. */
		if (c->cred.uid != 0 && c->cred.uid != o->cred.uid && c->cred.uid != o->b->port->owner) {
			nmk_msg_send_error(c->fd, NMK_MSG_WAKEFD, seq, -EACCES,
					   "binding %llu belongs to another user",
					   (unsigned long long)w.binding_id);
			return;
		}
		nmk_msg_send(c->fd, NMK_MSG_WAKEFD, seq, 0, NULL, 0, &o->fd, 1);
		return;
	}
	nmk_msg_send_error(c->fd, NMK_MSG_WAKEFD, seq, -ENOENT, "binding %llu is gone",
			   (unsigned long long)w.binding_id);
}

static void do_port_info(struct broker *b, struct conn *c, uint32_t seq, const void *body,
			 uint32_t len)
{
	struct nmk_msg_port_info pi;
	struct nmreq_register req;
	char err[300];
	int status = 0;

	if (len != sizeof(pi)) {
		nmk_msg_send_error(c->fd, NMK_MSG_PORT_INFO, seq, -EINVAL, "port info: bad body size");
		return;
	}
	memcpy(&pi, body, sizeof(pi));
	pi.name[sizeof(pi.name) - 1] = '\0';
	memset(&req, 0, sizeof(req));
	req.nr_mode = NR_REG_ALL_NIC;
	/* Like netmap, looking a port up may create it for the time of the
	 * request. */
	struct port *p = port_lookup(b, pi.name, &req, &c->cred, err, sizeof(err), &status);
	if (p == NULL) {
		nmk_msg_send_error(c->fd, NMK_MSG_PORT_INFO, seq, status, "%s", err);
		return;
	}
	memset(&pi.info, 0, sizeof(pi.info));
	pi.info.nr_memsize = p->r->l.memsize;
	pi.info.nr_tx_slots = p->tx_slots;
	pi.info.nr_rx_slots = p->rx_slots;
	pi.info.nr_tx_rings = (uint16_t)p->ntx;
	pi.info.nr_rx_rings = (uint16_t)p->nrx;
	pi.info.nr_mem_id = p->r->mem_id;
	nmk_msg_send(c->fd, NMK_MSG_PORT_INFO, seq, 0, &pi, sizeof(pi), NULL, 0);
	if (p->nbindings == 0)
		p->kind->idle(b, p);
}

static void do_list(struct broker *b, struct conn *c, uint32_t seq, const void *body,
		    uint32_t len)
{
	struct nmk_msg_list l;
	struct port *p;
	uint32_t i = 0;

	if (len != sizeof(l)) {
		nmk_msg_send_error(c->fd, NMK_MSG_LIST, seq, -EINVAL, "list: bad body size");
		return;
	}
	memcpy(&l, body, sizeof(l));
	for (p = b->ports; p && i < l.index; p = p->next)
		i++;
	if (p == NULL) {
		nmk_msg_send_error(c->fd, NMK_MSG_LIST, seq, -ENOENT, "no more ports");
		return;
	}
	memset(&l, 0, sizeof(l));
	l.index = i;
	l.next = i + 1;
	snprintf(l.name, sizeof(l.name), "%s", p->name);
	l.nbindings = p->nbindings;
	l.owner_uid = (uint32_t)p->owner;
	l.mem_id = p->r->mem_id;
	l.kind = p->kind->list_kind;
	if (p->kind->describe)
		p->kind->describe(b, p, &l);
	nmk_msg_send(c->fd, NMK_MSG_LIST, seq, 0, &l, sizeof(l), NULL, 0);
}

static void do_vale_stats(struct broker *b, struct conn *c, uint32_t seq, const void *body,
			  uint32_t len)
{
	struct nmk_msg_vale_stats st;

	if (len != sizeof(st)) {
		nmk_msg_send_error(c->fd, NMK_MSG_VALE_STATS, seq, -EINVAL, "vale stats: bad body size");
		return;
	}
	memcpy(&st, body, sizeof(st));
	st.name[sizeof(st.name) - 1] = '\0';
	struct port *p = port_find(b, st.name);
	if (p == NULL || p->kind != &vale_kind) {
		nmk_msg_send_error(c->fd, NMK_MSG_VALE_STATS, seq, -ENOENT,
				   "%s: no such VALE port", st.name);
		return;
	}
	vale_stats(b, p, &st);
	nmk_msg_send(c->fd, NMK_MSG_VALE_STATS, seq, 0, &st, sizeof(st), NULL, 0);
}

static void do_vale_ctl(struct broker *b, struct conn *c, uint16_t type, uint32_t seq,
			const void *body, uint32_t len)
{
	struct nmk_msg_vale_ctl m;
	char err[300];
	int ret;

	if (len != sizeof(m)) {
		nmk_msg_send_error(c->fd, type, seq, -EINVAL, "vale request: bad body size");
		return;
	}
	memcpy(&m, body, sizeof(m));
	m.name[sizeof(m.name) - 1] = '\0';
	char sw[16];
	const char *ifname = NULL;
	bool nic = (type == NMK_MSG_VALE_ATTACH || type == NMK_MSG_VALE_DETACH) &&
		   vale_name_split(m.name, sw, sizeof(sw), &ifname, err, sizeof(err)) == 0 &&
		   vale_persistent_port(b, ifname) == NULL;
	switch (type) {
	case NMK_MSG_VALE_NEWIF:
		ret = vale_newif(b, &m, &c->cred, err, sizeof(err));
		break;
	case NMK_MSG_VALE_DELIF:
		ret = vale_delif(b, &m, &c->cred, err, sizeof(err));
		break;
	case NMK_MSG_VALE_ATTACH:
		if (!nic) {
			ret = vale_attach(b, &m, &c->cred, err, sizeof(err));
			break;
		}
		/* A NIC: the broker drives it with the caller's authority,
		 * so only root may ask. */
		if (c->cred.uid != 0) {
			snprintf(err, sizeof(err), "%s: attaching a NIC needs root", m.name);
			ret = -EPERM;
			break;
		}
		ret = attach_nic(b, m.name, ifname, (m.flags & NMK_VALE_CTL_TAP) != 0, c->id, seq,
				 err, sizeof(err));
		if (ret == 0)
			return;         /* answered when the worker has started */
		break;
	default:
		if (nic && attach_is_nic(b, m.name))
			ret = detach_nic(b, m.name, err, sizeof(err));
		else
			ret = vale_detach(b, &m, &c->cred, err, sizeof(err));
		break;
	}
	if (ret < 0)
		nmk_msg_send_error(c->fd, type, seq, ret, "%s", err);
	else
		nmk_msg_send(c->fd, type, seq, 0, &m, sizeof(m), NULL, 0);
}

/* A NIC worker has started (or failed): answer the ATTACH that asked. */
void attach_answer(struct broker *b, uint64_t conn_id, uint32_t seq, int status,
		   const char *err, const char *name)
{
	for (struct conn *c = b->conns; c; c = c->next) {
		if (c->id != conn_id)
			continue;
		if (status < 0) {
			nmk_msg_send_error(c->fd, NMK_MSG_VALE_ATTACH, seq, status, "%s", err);
			return;
		}
		struct nmk_msg_vale_ctl m;
		memset(&m, 0, sizeof(m));
		snprintf(m.name, sizeof(m.name), "%s", name);
		struct port *p = port_find(b, name);
		if (p) {
			m.port_index = p->vport;
			m.mem_id = p->r->mem_id;
		}
		nmk_msg_send(c->fd, NMK_MSG_VALE_ATTACH, seq, 0, &m, sizeof(m), NULL, 0);
		return;
	}
}

bool conn_handle(struct broker *b, struct conn *c)
{
	char buf[NMK_MSG_MAX];
	int fds[NMK_MSG_MAXFDS];
	unsigned nfds = 0;
	char err[200];
	struct nmk_msg_hdr h;

	long n = nmk_msg_recv(c->fd, buf, fds, &nfds, MSG_DONTWAIT);
	/* Requests carry no fds: close any, so a client cannot make us leak. */
	while (nfds)
		close(fds[--nfds]);
	if (n == -EAGAIN)
		return true;
	if (n == 0 || n == -ECONNRESET || n == -ENOTCONN)
		return false;
	if (n < 0) {
		/* A truncated (oversized) message: say so and carry on. */
		nmk_msg_send_error(c->fd, 0, 0, -EMSGSIZE, "message larger than %u bytes",
				   NMK_MSG_MAX);
		return true;
	}
	if (n == 1)
		return true;    /* a stray wake-up byte: nothing to do */
	if (nmk_msg_check(buf, n, err, sizeof(err)) < 0) {
		blog(b, LOG_WARNING, "pid %d: garbage message: %s", (int)c->cred.pid, err);
		nmk_msg_send_error(c->fd, 0, 0, -EPROTO, "%s", err);
		return true;
	}
	memcpy(&h, buf, sizeof(h));
	const void *body = buf + sizeof(h);
	switch (h.type) {
	case NMK_MSG_REGISTER:
		do_register(b, c, h.seq, body, h.len);
		break;
	case NMK_MSG_BINDING:
		do_binding(b, c, h.seq);
		break;
	case NMK_MSG_WAKEFD:
		do_wakefd(b, c, h.seq, body, h.len);
		break;
	case NMK_MSG_PORT_INFO:
		do_port_info(b, c, h.seq, body, h.len);
		break;
	case NMK_MSG_LIST:
		do_list(b, c, h.seq, body, h.len);
		break;
	case NMK_MSG_VALE_STATS:
		do_vale_stats(b, c, h.seq, body, h.len);
		break;
	case NMK_MSG_VALE_NEWIF:
	case NMK_MSG_VALE_DELIF:
	case NMK_MSG_VALE_ATTACH:
	case NMK_MSG_VALE_DETACH:
		do_vale_ctl(b, c, h.type, h.seq, body, h.len);
		break;
	default:
		nmk_msg_send_error(c->fd, h.type, h.seq, -EOPNOTSUPP,
				   "unknown request type %u", h.type);
		break;
	}
	return true;
}

bool broker_has_objects(const struct broker *b)
{
	/* Pipes, monitors and driver ports live only while registered;
	 * switches while they have ports, which live while registered,
	 * persistent or served by a NIC worker (a registered client too). */
	return b->nswitches > 0 || b->persists != NULL;
}
