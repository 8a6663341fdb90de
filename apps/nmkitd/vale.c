/*
 * vale.c - VALE switches and their ports, as the broker manages them.
 *
 * Opening "valeX:Y" creates switch valeX and its port Y when absent
 * (reference §4.2-4.3).  All ports of a switch live in the switch's region,
 * so a sender can write into any destination ring.  An ephemeral port goes
 * away with its last registration, a switch with its last port.
 *
 * Removing a port is done in two steps: its RX rings are stopped (no new
 * lease), and the port is freed only once the leases granted before have
 * completed (those of dead senders are completed for them), so no sender
 * ever writes into memory that has been given to another port.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>

#include "attach.h"
#include "broker.h"
#include "kinds.h"
#include "learn.h"
#include "lease.h"
#include "nm_os.h"
#include "vale.h"
#include "vale_shm.h"

struct vswitch {
	struct vswitch *next;
	char name[NMK_VALE_NAME_MAX];
	bool hidden;                    /* the home of an unattached persistent port */
	uint32_t index;                 /* bridge_idx (visible switches) */
	struct region *r;
	uid_t owner;
	uint32_t max_ports;
	struct nmk_vale_layout vl;      /* the switch section of r */
	struct nmk_learn learn;         /* our handle on its learning table */
	struct port **slots;            /* by switch port index */
	uint32_t *gens;
	unsigned nports;                /* slots in use (active or stopping) */
	uint32_t max_active;            /* highest slot ever used + 1 (the header's scan bound) */
	uint64_t recover_until;         /* retry dead senders' leases until (ns) */
};

static bool ident_ok(const char *s, size_t len)
{
	if (len == 0)
		return false;
	for (size_t i = 0; i < len; i++) {
		char c = s[i];
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '_'))
			return false;
	}
	return true;
}

int vale_name_split(const char *name, char *sw, size_t swlen, const char **port,
		    char *err, size_t errlen)
{
	const char *colon = strchr(name, ':');

	/* netmap: the switch name is everything before the first ':', made of
	 * [A-Za-z0-9_] (after "vale"), at most 15 characters; the port part at
	 * most 15 characters (reference §3.4). */
	if (colon == NULL) {
		snprintf(err, errlen, "%s: a VALE port name is valeX:Y", name);
		return -EINVAL;
	}
	size_t blen = (size_t)(colon - name);
	if (blen >= NMK_VALE_NAME_MAX || blen >= swlen) {
		snprintf(err, errlen, "%s: switch name longer than %u characters", name,
			 NMK_VALE_NAME_MAX - 1);
		return -EINVAL;
	}
	if (strncmp(name, "vale", 4) != 0 || (blen > 4 && !ident_ok(name + 4, blen - 4))) {
		snprintf(err, errlen, "%s: switch name must be vale followed by [A-Za-z0-9_]", name);
		return -EINVAL;
	}
	size_t plen = strlen(colon + 1);
	if (plen >= NMK_VALE_NAME_MAX) {
		snprintf(err, errlen, "%s: port name longer than %u characters", name,
			 NMK_VALE_NAME_MAX - 1);
		return -EINVAL;
	}
	if (!ident_ok(colon + 1, plen)) {
		snprintf(err, errlen, "%s: port name must be one or more of [A-Za-z0-9_]", name);
		return -EINVAL;
	}
	memcpy(sw, name, blen);
	sw[blen] = '\0';
	*port = colon + 1;
	return 0;
}

static struct nmk_vale_port *vport_at(struct vswitch *s, uint32_t i)
{
	return nmk_vale_port_at(nmk_switch_section(&s->r->m), &s->vl, i);
}

static struct nmk_vale_hdr *vhdr(struct vswitch *s)
{
	return nmk_switch_section(&s->r->m);
}

static struct vswitch *vale_find(struct broker *b, const char *name)
{
	for (struct vswitch *s = b->switches; s; s = s->next)
		if (!s->hidden && strcmp(s->name, name) == 0)
			return s;
	return NULL;
}

/* ---- persistent ports ------------------------------------------------------ */

/* A persistent port (vale-ctl -n): it lives in a one-port hidden switch of
 * its own until it is attached to a switch, and goes back there when it is
 * detached.  Its rings are made anew at each move, which is why attaching
 * and detaching need it closed (netmap requires that of a NIC, too). */
struct persist {
	struct persist *next;
	char name[NMK_VALE_NAME_MAX];
	struct nmreq_register shape;    /* rings and slots */
	uid_t owner;
	struct port *live;
	struct vswitch *sw;             /* attached switch, or the hidden one */
	bool attached;
};

static struct persist *persist_find(struct broker *b, const char *name)
{
	for (struct persist *ps = b->persists; ps; ps = ps->next)
		if (strcmp(ps->name, name) == 0)
			return ps;
	return NULL;
}

static uint32_t free_switch_index(struct broker *b)
{
	for (uint32_t i = 0;; i++) {
		bool used = false;
		for (struct vswitch *s = b->switches; s && !used; s = s->next)
			used = !s->hidden && s->index == i;
		if (!used)
			return i;
	}
}

static struct vswitch *switch_create(struct broker *b, const char *name, bool hidden, uid_t owner,
				     char *err, size_t errlen, int *status)
{
	struct vswitch *s;
	char rerr[200];

	if (!hidden && b->nswitches >= b->cfg.vale_switches) {
		snprintf(err, errlen, "%s: VALE switch limit reached: %u switches (nmkitd --vale-switches)",
			 name, b->cfg.vale_switches);
		*status = -ENOMEM;
		return NULL;
	}
	s = calloc(1, sizeof(*s));
	if (s == NULL)
		goto oom;
	snprintf(s->name, sizeof(s->name), "%s", name);
	s->owner = owner;
	s->hidden = hidden;
	s->index = hidden ? UINT32_MAX : free_switch_index(b);
	s->max_ports = hidden ? 1 : b->cfg.vale_ports;
	if (nmk_vale_layout(s->max_ports, b->cfg.vale_table, &s->vl) < 0)
		goto oom;
	s->slots = calloc(s->max_ports, sizeof(*s->slots));
	s->gens = calloc(s->max_ports, sizeof(*s->gens));
	if (!s->slots || !s->gens)
		goto oom;

	/* Room for every port with netmap's default shape (one ring of 1024
	 * slots each way) and some slack; sparse, so only what is used costs
	 * memory. */
	struct nmk_region_params rp = b->cfg.vale_region;
	if (rp.ring_num == 0)
		rp.ring_num = 2 * s->max_ports + 64;
	if (rp.buf_num == 0)
		rp.buf_num = 2 * 1024 * s->max_ports + 8192;
	if (rp.if_num == 0)
		rp.if_num = 2 * s->max_ports + 64;
	/* Port entries for the switch's ports and for monitors of them, whose
	 * rings come from the slack above: without these, a full switch or a
	 * persistent port's own one-port switch could have no monitor. */
	s->r = region_create(b, name, owner, &rp, s->max_ports + 32, s->vl.bytes, rerr,
			     sizeof(rerr));
	if (s->r == NULL) {
		snprintf(err, errlen, "%s: %s", name, rerr);
		free(s->slots);
		free(s->gens);
		free(s);
		*status = -ENOMEM;
		return NULL;
	}
	struct nmk_vale_hdr *h = vhdr(s);
	memcpy(h->name, s->name, sizeof(h->name));
	h->max_ports = s->max_ports;
	h->learn_entries = s->vl.learn_entries;
	atomic_store(&h->learn_age_s, b->cfg.vale_age);
	void *table = (char *)h + s->vl.learn_off;
	nmk_learn_table_init(table, s->vl.learn_entries, b->cfg.vale_age);
	nmk_learn_attach(&s->learn, table, s->vl.learn_entries, s->max_ports);
	nmk_learn_set_nports(&s->learn, s->max_ports);
	s->next = b->switches;
	b->switches = s;
	if (!hidden)
		b->nswitches++;
	if (b->cfg.verbose && !hidden)
		blog(b, LOG_INFO, "created switch %s (mem %u, %u ports, %u table entries)", name,
		     s->r->mem_id, s->max_ports, b->cfg.vale_table);
	return s;
oom:
	if (s) {
		free(s->slots);
		free(s->gens);
		free(s);
	}
	snprintf(err, errlen, "out of memory");
	*status = -ENOMEM;
	return NULL;
}

static void switch_destroy(struct broker *b, struct vswitch *s)
{
	for (struct vswitch **q = &b->switches; *q; q = &(*q)->next) {
		if (*q == s) {
			*q = s->next;
			break;
		}
	}
	if (!s->hidden)
		b->nswitches--;
	if (b->cfg.verbose && !s->hidden)
		blog(b, LOG_INFO, "destroyed switch %s", s->name);
	region_put(b, s->r);
	free(s->slots);
	free(s->gens);
	free(s);
}

static uint32_t clamp_rings(uint32_t v)
{
	return v == 0 ? 1 : v;
}

/* Create port `name` in switch s (its slot, rings and table entry). */
static struct port *port_create(struct broker *b, struct vswitch *s, const char *name,
				const struct nmreq_register *req, char *err, size_t errlen,
				int *status)
{
	uint32_t ntx = clamp_rings(req->nr_tx_rings), nrx = clamp_rings(req->nr_rx_rings);
	uint32_t txs = req->nr_tx_slots ? req->nr_tx_slots : 1024;
	uint32_t rxs = req->nr_rx_slots ? req->nr_rx_slots : 1024;
	uint32_t slot;

	*status = -EINVAL;
	if (ntx > NMK_VALE_MAXRINGS || nrx > NMK_VALE_MAXRINGS) {
		snprintf(err, errlen, "%s: at most %u rings per direction (asked %u tx, %u rx)", name,
			 NMK_VALE_MAXRINGS, ntx, nrx);
		return NULL;
	}
	if (txs < 2 || rxs < 2 || txs > NMK_MAX_SLOTS || rxs > NMK_MAX_SLOTS) {
		snprintf(err, errlen, "%s: slots must be in [2, %u] (asked %u tx, %u rx)", name,
			 NMK_MAX_SLOTS, txs, rxs);
		return NULL;
	}
	for (slot = 0; slot < s->max_ports; slot++)
		if (s->slots[slot] == NULL)
			break;
	if (slot == s->max_ports) {
		snprintf(err, errlen, "%s: switch %s is full: %u ports (nmkitd --vale-ports)", name,
			 s->name, s->max_ports);
		*status = -ENOMEM;
		return NULL;
	}
	struct port *p = port_new(b, name, &vale_kind, s->r, s->owner, ntx, nrx, txs, rxs);
	if (p == NULL)
		goto oom;
	p->owner_obj = s;
	p->vport = slot;
	*status = -ENOMEM;
	if (region_alloc_port(s->r, &p->port_index) < 0) {
		snprintf(err, errlen, "%s: switch region has no free port entry", name);
		port_destroy(b, p);
		return NULL;
	}
	uint32_t gen = ++s->gens[slot];
	/* VALE copies into the receiver's own buffers: both directions own
	 * a buffer per slot. */
	for (uint32_t i = 0; i < ntx; i++)
		if ((*status = port_ring_create(p, true, i, txs, NMK_KIND_VALE, gen, 0, true, err,
						errlen)) < 0)
			goto fail;
	for (uint32_t i = 0; i < nrx; i++)
		if ((*status = port_ring_create(p, false, i, rxs, NMK_KIND_VALE, gen,
						NMK_KRING_LEASED, true, err, errlen)) < 0)
			goto fail;

	struct nmk_vale_port *vp = vport_at(s, slot);
	memset(vp, 0, sizeof(*vp));
	vp->gen = gen;
	vp->ctrl_port = p->port_index;
	vp->nrx = nrx;
	vp->ntx = ntx;
	for (uint32_t i = 0; i < nrx; i++)
		vp->rx_kring[i] = p->rx[i].v.index;
	atomic_store_explicit(&vp->state, NMK_VPORT_ACTIVE, memory_order_release);
	struct nmk_vale_hdr *h = vhdr(s);
	atomic_fetch_add(&h->nactive, 1);
	if (s->max_active < slot + 1)
		s->max_active = slot + 1;
	atomic_store(&h->max_active, s->max_active);
	s->slots[slot] = p;
	s->nports++;
	*status = 0;
	if (b->cfg.verbose)
		blog(b, LOG_INFO, "created port %s (switch index %u)", name, slot);
	return p;
fail:
	port_destroy(b, p);
	return NULL;
oom:
	snprintf(err, errlen, "out of memory");
	*status = -ENOMEM;
	return NULL;
}

/* "valeX:Y", or the name of a persistent port (netmap:Y opens it). */
static bool vale_claims(struct broker *b, const char *name, const struct nmreq_register *req)
{
	(void)req;
	return strncmp(name, "val", 3) == 0 || vale_persistent_port(b, name) != NULL;
}

static struct port *vale_get(struct broker *b, const char *name, const struct nmreq_register *req,
			     const struct nm_os_cred *cred, char *err, size_t errlen, int *status)
{
	if (strncmp(name, "val", 3) != 0)
		return vale_persistent_port(b, name);

	char swname[NMK_VALE_NAME_MAX];
	const char *pname;

	*status = vale_name_split(name, swname, sizeof(swname), &pname, err, errlen);
	if (*status < 0)
		return NULL;
	struct persist *ps = persist_find(b, pname);
	if (ps && !(ps->attached && strcmp(ps->sw->name, swname) == 0)) {
		snprintf(err, errlen, "%s: %s is a persistent port; attach it first (vale-ctl -a %s)",
			 name, pname, name);
		*status = -EINVAL;
		return NULL;
	}
	if (req->nr_mode != NR_REG_DEFAULT && req->nr_mode != NR_REG_ALL_NIC &&
	    req->nr_mode != NR_REG_ONE_NIC) {
		snprintf(err, errlen, "%s: VALE ports accept only the ALL_NIC and ONE_NIC modes (got %u)",
			 name, req->nr_mode);
		*status = -EINVAL;
		return NULL;
	}
	struct vswitch *s = vale_find(b, swname);
	if (s && s->owner != cred->uid && cred->uid != 0) {
		snprintf(err, errlen, "%s: switch %s belongs to uid %u, not to uid %u", name, swname,
			 (unsigned)s->owner, (unsigned)cred->uid);
		*status = -EACCES;
		return NULL;
	}
	if (s && req->nr_mem_id && req->nr_mem_id != s->r->mem_id) {
		snprintf(err, errlen, "%s: memory region %u is not the region of switch %s (%u)",
			 name, req->nr_mem_id, swname, s->r->mem_id);
		*status = -EINVAL;
		return NULL;
	}
	if (s) {
		for (uint32_t i = 0; i < s->max_ports; i++) {
			struct port *p = s->slots[i];
			if (p && strcmp(p->name, name) == 0) {
				if (atomic_load(&vport_at(s, i)->state) != NMK_VPORT_ACTIVE) {
					snprintf(err, errlen, "%s: the port is being removed; try again", name);
					*status = -EBUSY;
					return NULL;
				}
				return p;
			}
		}
	}
	bool created = s == NULL;
	if (s == NULL) {
		if (req->nr_mem_id) {
			snprintf(err, errlen, "%s: memory region %u cannot be given to a new switch",
				 name, req->nr_mem_id);
			*status = -EINVAL;
			return NULL;
		}
		s = switch_create(b, swname, false, cred->uid, err, errlen, status);
		if (s == NULL)
			return NULL;
	}
	struct port *p = port_create(b, s, name, req, err, errlen, status);
	if (p == NULL && created && s->nports == 0)
		switch_destroy(b, s);
	return p;
}

/* Free a stopped port whose leases are done; its switch if it was the last. */
static bool vale_reap_port(struct broker *b, struct port *p)
{
	struct vswitch *s = p->owner_obj;

	for (uint32_t i = 0; i < p->nrx; i++) {
		if (p->rx[i].v.index == NMK_NONE)
			continue;
		if (!nmk_lease_idle(&s->r->m, &p->rx[i].v, BROKER_LOCK_WAIT_NS))
			return false;
	}
	struct nmk_vale_port *vp = vport_at(s, p->vport);
	atomic_store_explicit(&vp->state, NMK_VPORT_FREE, memory_order_release);
	s->slots[p->vport] = NULL;
	s->nports--;
	if (b->cfg.verbose)
		blog(b, LOG_INFO, "removed port %s", p->name);
	port_destroy(b, p);
	if (s->nports == 0)
		switch_destroy(b, s);
	return true;
}

/* Take a port out of its switch (freed once its leases drain). */
static void vale_port_remove(struct broker *b, struct port *p)
{
	struct vswitch *s = p->owner_obj;
	struct nmk_vale_port *vp = vport_at(s, p->vport);

	/* Senders that already looked the port up see the stop under the
	 * lease lock; new ones see STOPPING. */
	atomic_store_explicit(&vp->state, NMK_VPORT_STOPPING, memory_order_release);
	atomic_fetch_sub(&vhdr(s)->nactive, 1);
	for (uint32_t i = 0; i < p->nrx; i++)
		if (p->rx[i].v.index != NMK_NONE)
			nmk_lease_stop(&s->r->m, &p->rx[i].v, BROKER_LOCK_WAIT_NS);
	nmk_learn_forget_port(&s->learn, p->vport);
	if (!vale_reap_port(b, p))
		broker_defer_free(b, p);
}

/* Its last registration went away. */
static void vale_idle(struct broker *b, struct port *p)
{
	if (!p->persistent)
		vale_port_remove(b, p);
}

/* Complete the leases that dead senders left on the switch's RX rings, and
 * wake the receivers of rings that moved (of every port with `all`). */
static void switch_recover(struct vswitch *s, bool all)
{
	for (uint32_t i = 0; i < s->max_ports; i++) {
		struct port *q = s->slots[i];
		bool moved = false;
		if (q == NULL)
			continue;
		for (uint32_t j = 0; j < q->nrx; j++)
			if (q->rx[j].v.index != NMK_NONE)
				moved |= nmk_lease_recover(&s->r->m, &q->rx[j].v, true);
		/* Completing a lease publishes the frames queued behind it
		 * (and frees no room): a receiver asleep in poll must hear of
		 * them, since no sender may ever publish again to wake it. */
		if (moved || all)
			port_wake_all(q);
	}
}

bool vale_reap(struct broker *b)
{
	bool retry = false;
	uint64_t now = nm_os_now_ns();

	for (struct vswitch *s = b->switches; s; s = s->next) {
		if (s->recover_until == 0)
			continue;
		if (now > s->recover_until) {
			s->recover_until = 0;
			continue;
		}
		switch_recover(s, false);
		retry = true;
	}
	return retry;
}

/* A client of this switch went away: complete the leases dead senders
 * left. */
static void vale_binding_gone(struct broker *b, struct port *p)
{
	struct vswitch *s = p->owner_obj;

	(void)b;
	/* Complete at once the leases a dead sender left on this switch, and
	 * wake everyone: it may have died between taking the armed bits and
	 * sending the wake-ups.  Spurious wake-ups are harmless. */
	switch_recover(s, true);
	/* A lease is completed only once its holder is seen dead, that is,
	 * reaped, which its parent may do a little after we see the hang-up:
	 * try again for a while (vale_reap). */
	s->recover_until = nm_os_now_ns() + 2000000000u;
}

int vale_stats(struct broker *b, struct port *p, struct nmk_msg_vale_stats *out)
{
	struct vswitch *s = p->owner_obj;
	struct nmk_vale_port *vp = vport_at(s, p->vport);

	(void)b;
	out->port_index = p->vport;
	out->tx_packets = atomic_load(&vp->tx_packets);
	out->tx_bytes = atomic_load(&vp->tx_bytes);
	out->rx_packets = atomic_load(&vp->rx_packets);
	out->rx_bytes = atomic_load(&vp->rx_bytes);
	out->forwarded = atomic_load(&vp->forwarded);
	out->flooded = atomic_load(&vp->flooded);
	out->drop_full = atomic_load(&vp->drop_full);
	out->drop_invalid = atomic_load(&vp->drop_invalid);
	out->drop_nodest = atomic_load(&vp->drop_nodest);
	return 0;
}

/* ---- persistent ports: create, remove, attach, detach ---------------------- */

static struct port *materialize(struct broker *b, struct persist *ps, struct vswitch *sw,
				const char *name, char *err, size_t errlen, int *status)
{
	struct port *p = port_create(b, sw, name, &ps->shape, err, errlen, status);

	if (p) {
		p->persistent = true;
		ps->live = p;
		ps->sw = sw;
	}
	return p;
}

/* Put a persistent port (back) into a hidden switch of its own. */
static int go_home(struct broker *b, struct persist *ps, char *err, size_t errlen)
{
	int status;
	struct vswitch *home = switch_create(b, ps->name, true, ps->owner, err, errlen, &status);

	if (home == NULL)
		return status;
	if (materialize(b, ps, home, ps->name, err, errlen, &status) == NULL) {
		switch_destroy(b, home);
		return status;
	}
	ps->attached = false;
	return 0;
}

static void take_out(struct broker *b, struct persist *ps)
{
	struct port *p = ps->live;

	p->persistent = false;
	ps->live = NULL;
	vale_port_remove(b, p);
}

int vale_newif(struct broker *b, struct nmk_msg_vale_ctl *m, const struct nm_os_cred *cred,
	       char *err, size_t errlen)
{
	size_t len = strnlen(m->name, sizeof(m->name));

	if (len == 0 || len >= NMK_VALE_NAME_MAX || !ident_ok(m->name, len)) {
		snprintf(err, errlen, "%s: a persistent port name is 1 to %u of [A-Za-z0-9_]", m->name,
			 NMK_VALE_NAME_MAX - 1);
		return -EINVAL;
	}
	if (strncmp(m->name, "vale", 4) == 0) {
		snprintf(err, errlen, "%s: a persistent port name must not start with \"vale\"", m->name);
		return -EINVAL;
	}
	if (persist_find(b, m->name) || port_find(b, m->name)) {
		snprintf(err, errlen, "%s: a port with this name exists", m->name);
		return -EEXIST;
	}
	struct persist *ps = calloc(1, sizeof(*ps));
	if (ps == NULL) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	snprintf(ps->name, sizeof(ps->name), "%s", m->name);
	ps->owner = cred->uid;
	ps->shape.nr_tx_slots = m->tx_slots;
	ps->shape.nr_rx_slots = m->rx_slots;
	ps->shape.nr_tx_rings = m->tx_rings;
	ps->shape.nr_rx_rings = m->rx_rings;
	int ret = go_home(b, ps, err, errlen);
	if (ret < 0) {
		free(ps);
		return ret;
	}
	ps->next = b->persists;
	b->persists = ps;
	m->tx_slots = ps->live->tx_slots;
	m->rx_slots = ps->live->rx_slots;
	m->tx_rings = (uint16_t)ps->live->ntx;
	m->rx_rings = (uint16_t)ps->live->nrx;
	m->mem_id = ps->live->r->mem_id;
	if (b->cfg.verbose)
		blog(b, LOG_INFO, "created persistent port %s", ps->name);
	return 0;
}

static int owner_check(const struct persist *ps, const struct nm_os_cred *cred, char *err,
		       size_t errlen)
{
	if (ps->owner == cred->uid || cred->uid == 0)
		return 0;
	snprintf(err, errlen, "%s: belongs to uid %u, not to uid %u", ps->name,
		 (unsigned)ps->owner, (unsigned)cred->uid);
	return -EACCES;
}

int vale_delif(struct broker *b, struct nmk_msg_vale_ctl *m, const struct nm_os_cred *cred,
	       char *err, size_t errlen)
{
	struct persist *ps = persist_find(b, m->name);
	int ret;

	if (ps == NULL) {
		snprintf(err, errlen, "%s: no such persistent port", m->name);
		return -ENOENT;
	}
	if ((ret = owner_check(ps, cred, err, errlen)) < 0)
		return ret;
	if (ps->attached) {
		snprintf(err, errlen, "%s: attached to %s; detach it first", m->name, ps->sw->name);
		return -EBUSY;
	}
	if (ps->live->nbindings) {
		snprintf(err, errlen, "%s: open by %u fd(s)", m->name, ps->live->nbindings);
		return -EBUSY;
	}
	take_out(b, ps);
	for (struct persist **q = &b->persists; *q; q = &(*q)->next) {
		if (*q == ps) {
			*q = ps->next;
			break;
		}
	}
	if (b->cfg.verbose)
		blog(b, LOG_INFO, "removed persistent port %s", ps->name);
	free(ps);
	return 0;
}

int vale_attach(struct broker *b, struct nmk_msg_vale_ctl *m, const struct nm_os_cred *cred,
		char *err, size_t errlen)
{
	char swname[NMK_VALE_NAME_MAX];
	const char *pname;
	int ret = vale_name_split(m->name, swname, sizeof(swname), &pname, err, errlen);

	if (ret < 0)
		return ret;
	struct persist *ps = persist_find(b, pname);
	if (ps == NULL) {
		snprintf(err, errlen, "%s: %s is not a persistent port, and no NIC driver is available to attach an interface",
			 m->name, pname);
		return -ENOENT;
	}
	if ((ret = owner_check(ps, cred, err, errlen)) < 0)
		return ret;
	if (ps->attached) {
		snprintf(err, errlen, "%s: %s is already attached to %s", m->name, pname, ps->sw->name);
		return -EBUSY;
	}
	if (ps->live->nbindings) {
		snprintf(err, errlen, "%s: %s is open by %u fd(s)", m->name, pname, ps->live->nbindings);
		return -EBUSY;
	}
	struct vswitch *s = vale_find(b, swname);
	if (s && s->owner != cred->uid && cred->uid != 0) {
		snprintf(err, errlen, "%s: switch %s belongs to uid %u", m->name, swname,
			 (unsigned)s->owner);
		return -EACCES;
	}
	bool created = s == NULL;
	if (s == NULL && (s = switch_create(b, swname, false, cred->uid, err, errlen, &ret)) == NULL)
		return ret;
	take_out(b, ps);
	if (materialize(b, ps, s, m->name, err, errlen, &ret) == NULL) {
		char err2[200];
		if (created && s->nports == 0)
			switch_destroy(b, s);
		go_home(b, ps, err2, sizeof(err2));
		return ret;
	}
	ps->attached = true;
	m->port_index = ps->live->vport;
	m->mem_id = s->r->mem_id;
	if (b->cfg.verbose)
		blog(b, LOG_INFO, "attached %s to %s", pname, swname);
	return 0;
}

int vale_detach(struct broker *b, struct nmk_msg_vale_ctl *m, const struct nm_os_cred *cred,
		char *err, size_t errlen)
{
	char swname[NMK_VALE_NAME_MAX];
	const char *pname;
	int ret = vale_name_split(m->name, swname, sizeof(swname), &pname, err, errlen);

	if (ret < 0)
		return ret;
	struct persist *ps = persist_find(b, pname);
	if (ps == NULL || !ps->attached || strcmp(ps->sw->name, swname) != 0) {
		snprintf(err, errlen, "%s: %s is not attached to %s", m->name, pname, swname);
		return -ENOENT;
	}
	if ((ret = owner_check(ps, cred, err, errlen)) < 0)
		return ret;
	if (ps->live->nbindings) {
		snprintf(err, errlen, "%s: open by %u fd(s)", m->name, ps->live->nbindings);
		return -EBUSY;
	}
	m->port_index = ps->live->vport;
	take_out(b, ps);
	ret = go_home(b, ps, err, errlen);
	if (b->cfg.verbose)
		blog(b, LOG_INFO, "detached %s from %s", pname, swname);
	return ret;
}

struct port *vale_persistent_port(struct broker *b, const char *name)
{
	struct persist *ps = persist_find(b, name);
	return ps ? ps->live : NULL;
}

/* ---- repairs ------------------------------------------------------------------ */

/* p's entry in its switch's port table, as the broker made it. */
static void vale_audit(struct broker *b, struct port *p)
{
	struct vswitch *s = p->owner_obj;
	struct nmk_vale_port *vp = vport_at(s, p->vport);
	uint32_t gen = p->ntx ? p->tx[0].v.gen : p->rx[0].v.gen;
	bool fixed = false;

#define FIX(field, value)                                                       \
	do {                                                                    \
		if (*(volatile uint32_t *)&vp->field != (value)) {              \
			*(volatile uint32_t *)&vp->field = (value);             \
			fixed = true;                                           \
		}                                                               \
	} while (0)
	FIX(gen, gen);
	FIX(ctrl_port, p->port_index);
	FIX(nrx, p->nrx);
	FIX(ntx, p->ntx);
	for (uint32_t i = 0; i < p->nrx && i < NMK_VALE_MAXRINGS; i++)
		FIX(rx_kring[i], p->rx[i].v.index);
#undef FIX
	if (atomic_load_explicit(&vp->state, memory_order_acquire) != NMK_VPORT_ACTIVE) {
		atomic_store_explicit(&vp->state, NMK_VPORT_ACTIVE, memory_order_release);
		fixed = true;
	}
	if (fixed)
		blog(b, LOG_WARNING, "%s: its entry in the port table of %s was overwritten by a client; restored",
		     p->name, s->name);
}

void vale_audit_switches(struct broker *b)
{
	for (struct vswitch *s = b->switches; s; s = s->next) {
		struct nmk_vale_hdr *h = vhdr(s);
		bool fixed = false;
		if (memcmp(h->name, s->name, sizeof(h->name)) != 0) {
			memcpy(h->name, s->name, sizeof(h->name));
			fixed = true;
		}
		if (*(volatile uint32_t *)&h->max_ports != s->max_ports ||
		    *(volatile uint32_t *)&h->learn_entries != s->vl.learn_entries ||
		    atomic_load(&h->max_active) != s->max_active ||
		    atomic_load(&h->learn_age_s) != b->cfg.vale_age) {
			h->max_ports = s->max_ports;
			h->learn_entries = s->vl.learn_entries;
			atomic_store(&h->max_active, s->max_active);
			atomic_store(&h->learn_age_s, b->cfg.vale_age);
			fixed = true;
		}
		fixed |= nmk_learn_repair(&s->learn, b->cfg.vale_age) != 0;
		if (fixed)
			blog(b, LOG_WARNING, "%s: its header or learning table header was overwritten by a client; restored",
			     s->name);
	}
}

static void vale_describe(struct broker *b, const struct port *p, struct nmk_msg_list *l)
{
	struct vswitch *s = p->owner_obj;
	struct persist *ps = NULL;

	for (struct persist *q = b->persists; q; q = q->next)
		if (q->live == p)
			ps = q;
	l->kind = ps ? NMK_LIST_PERSISTENT : attach_is_nic(b, p->name) ? NMK_LIST_NIC : NMK_LIST_VALE;
	l->attached = ps && ps->attached;
	if (!s->hidden) {
		snprintf(l->switch_name, sizeof(l->switch_name), "%s", s->name);
		l->switch_index = s->index;
	} else {
		l->switch_index = UINT32_MAX;
	}
	l->port_index = p->vport;
}

const struct port_kind vale_kind = {
	.plural = "VALE ports",
	.claims = vale_claims,
	.get = vale_get,
	.idle = vale_idle,
	.binding_gone = vale_binding_gone,
	.reap = vale_reap_port,
	.describe = vale_describe,
	.audit = vale_audit,
	.list_kind = NMK_LIST_VALE,
};
