/*
 * port.c - opening, adopting and closing ports; txsync and rxsync; the
 * process-wide caches of region mappings and wake-up fds.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "abi.h"
#include "client.h"
#include "driver.h"
#include "nm_os.h"
#include "port.h"
#include "port_kinds.h"
#include "portspec.h"
#include "proto.h"

static pthread_mutex_t lib_lock = PTHREAD_MUTEX_INITIALIZER;
static struct nmk_port *ports;          /* open in this process */


int nmk_port_set_error(struct nmk_port *p, int err, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(p->err, sizeof(p->err), fmt, ap);
	va_end(ap);
	return err;
}

/* ---- mappings: one per region per process ------------------------------- */

/*
 * Like libnetmap, a region is mapped once per process and shared by every
 * port in it, so that equal mem_ids give equal addresses and buffers can be
 * swapped between ports of one region.
 */
struct nmk_mapping {
	struct nmk_mapping *next;
	uint64_t broker_id;
	uint16_t mem_id;
	void *base, *ctrl;
	uint64_t ctrl_size;
	struct nmk_region_layout l;      /* validated private copy */
	struct nmk_mem mem;
	unsigned refs;
};

static struct nmk_mapping *mappings;

/* Check the control object against what we can compute ourselves, so that
 * no offset from shared memory is trusted. */
static int check_ctrl(const struct nmk_ctrl_hdr *h, const struct nmk_msg_binding *b,
		      struct nmk_region_layout *l, struct nmk_ctrl_geom *geom,
		      char *err, size_t errlen)
{
	struct nmk_ctrl_geom g;
	char lerr[160];

	if (h->magic != NMK_CTRL_MAGIC || h->version != NMK_CTRL_VERSION) {
		nmk_errbuf(err, errlen, "%s: control object has magic %llx version %u, expected version %u",
			b->name, (unsigned long long)h->magic, h->version, NMK_CTRL_VERSION);
		return -EPROTO;
	}
	if (nmk_region_layout(&h->layout.p, l, lerr, sizeof(lerr)) < 0 ||
	    memcmp(l, &h->layout, sizeof(*l)) != 0 || l->memsize != b->reg.nr_memsize ||
	    h->mem_id != b->reg.nr_mem_id || h->geom.nkrings != l->p.ring_num) {
		nmk_errbuf(err, errlen, "%s: region %u has an inconsistent layout", b->name,
			b->reg.nr_mem_id);
		return -EPROTO;
	}
	memset(&g, 0, sizeof(g));
	g.nkrings = h->geom.nkrings;
	g.nports = h->geom.nports;
	g.sw_bytes = h->geom.sw_bytes;
	if (nmk_ctrl_geom_compute(&g) < 0 || memcmp(&g, &h->geom, sizeof(g)) != 0 ||
	    g.size != b->ctrl_size) {
		nmk_errbuf(err, errlen, "%s: control object of region %u has an inconsistent layout",
			b->name, b->reg.nr_mem_id);
		return -EPROTO;
	}
	*geom = g;
	return 0;
}

/* NULL with *errp set: EPROTO for a region that nmkitd described wrongly,
 * ENOMEM (or mmap's errno) when it cannot be mapped here. */
static struct nmk_mapping *mapping_get(const struct nmk_msg_binding *b, const int *fds,
				       unsigned nfds, char *err, size_t errlen, int *errp)
{
	struct nmk_mapping *mp;
	int ret;

	*errp = EPROTO;

	for (mp = mappings; mp; mp = mp->next) {
		if (mp->broker_id == b->broker_id && mp->mem_id == b->reg.nr_mem_id) {
			mp->refs++;
			return mp;
		}
	}
	if (nfds < 2) {
		nmk_errbuf(err, errlen, "%s: nmkitd sent no memory for region %u", b->name,
			b->reg.nr_mem_id);
		return NULL;
	}
	if ((ret = nm_os_shm_check(fds[0], b->reg.nr_memsize)) < 0 ||
	    (ret = nm_os_shm_check(fds[1], b->ctrl_size)) < 0) {
		nmk_errbuf(err, errlen, "%s: region %u is not a sealed object of the announced size: %s",
			b->name, b->reg.nr_mem_id, strerror(-ret));
		return NULL;
	}
	mp = calloc(1, sizeof(*mp));
	if (mp == NULL) {
		nmk_errbuf(err, errlen, "out of memory");
		*errp = ENOMEM;
		return NULL;
	}
	mp->broker_id = b->broker_id;
	mp->mem_id = b->reg.nr_mem_id;
	mp->ctrl_size = b->ctrl_size;
	mp->base = nm_os_shm_map(fds[0], b->reg.nr_memsize);
	mp->ctrl = nm_os_shm_map(fds[1], b->ctrl_size);
	if (mp->base == NULL || mp->ctrl == NULL) {
		*errp = errno ? errno : ENOMEM;
		nmk_errbuf(err, errlen, "%s: cannot map region %u (%llu bytes): %s", b->name,
			b->reg.nr_mem_id, (unsigned long long)b->reg.nr_memsize, strerror(*errp));
		goto fail;
	}
	const struct nmk_ctrl_hdr *h = mp->ctrl;
	struct nmk_ctrl_geom g;
	if (check_ctrl(h, b, &mp->l, &g, err, errlen) < 0)
		goto fail;
	mp->mem = (struct nmk_mem){ .base = mp->base, .ctrl = mp->ctrl, .l = &mp->l, .g = g };
	nmk_mem_init_limits(&mp->mem);
	mp->refs = 1;
	mp->next = mappings;
	mappings = mp;
	return mp;
fail:
	if (mp->base)
		nm_os_shm_unmap(mp->base, b->reg.nr_memsize);
	if (mp->ctrl)
		nm_os_shm_unmap(mp->ctrl, b->ctrl_size);
	free(mp);
	return NULL;
}

static void mapping_put(struct nmk_mapping *mp)
{
	if (--mp->refs)
		return;
	for (struct nmk_mapping **q = &mappings; *q; q = &(*q)->next) {
		if (*q == mp) {
			*q = mp->next;
			break;
		}
	}
	nm_os_shm_unmap(mp->base, mp->l.memsize);
	nm_os_shm_unmap(mp->ctrl, mp->ctrl_size);
	free(mp);
}

/* ---- wake-up fds -------------------------------------------------------- */

/*
 * To wake a sleeper we send a byte on the broker's end of its connection.
 * The broker hands us that end once (WAKEFD); we keep it here.  Requests go
 * over a side connection of our own, so that they never mix with a port's
 * traffic; it is re-made after fork.
 */
#define WAKE_CACHE 256
#define WAKE_RETRY_NS 1000000000ull

/* fd -1: the broker said no for this id (a binding gone, or an id that
 * another client wrote into the port table): not asked again before
 * retry_ns, so garbage ids cost one request a second, not one per wake. */
static struct {
	uint64_t id;
	int fd;
	uint64_t retry_ns;
} wake_cache[WAKE_CACHE];
static int side_fd = -1;
static pid_t side_pid;
static pthread_mutex_t wake_lock = PTHREAD_MUTEX_INITIALIZER;

static int side_connection(void)
{
	char err[200];
	pid_t me = getpid();

	if (side_fd >= 0 && side_pid == me)
		return side_fd;
	if (side_fd >= 0 && side_pid != me) {
		/* Inherited through fork: the parent's, not ours.  Forget the
		 * cache too (the fds are shared with the parent, which is fine,
		 * but we must not close the side connection under it). */
		side_fd = -1;
	}
	side_fd = nmk_broker_connect(err, sizeof(err));
	side_pid = me;
	return side_fd;
}

static int wake_fd_get(uint64_t id)
{
	unsigned h = (unsigned)(id * UINT64_C(0x9E3779B97F4A7C15) >> 56) % WAKE_CACHE;
	struct nmk_msg_wakefd req = { .binding_id = id };
	char err[200];
	int fds[NMK_MSG_MAXFDS];
	unsigned nfds = 0;
	int ret = -1;

	if (wake_cache[h].id == id && (wake_cache[h].fd >= 0 ||
					nm_os_now_ns() < wake_cache[h].retry_ns))
		return wake_cache[h].fd;
	/* Twice: the side connection may lead to a broker that has since
	 * been replaced; then connect to the current one. */
	for (int attempt = 0; attempt < 2; attempt++) {
		int side = side_connection();
		if (side < 0)
			return -1;
		ret = nmk_request(side, NMK_MSG_WAKEFD, &req, sizeof(req), NULL, NULL, fds, &nfds,
				  err, sizeof(err));
		if (ret != -ECONNRESET && ret != -EPIPE && ret != -ENOTCONN)
			break;
		close(side_fd);
		side_fd = -1;
	}
	int fd = ret < 0 || nfds < 1 ? -1 : fds[0];
	while (nfds > (fd < 0 ? 0u : 1u))
		close(fds[--nfds]);
	if (wake_cache[h].id && wake_cache[h].fd >= 0)
		close(wake_cache[h].fd);
	wake_cache[h].id = id;
	wake_cache[h].fd = fd;
	wake_cache[h].retry_ns = nm_os_now_ns() + WAKE_RETRY_NS;
	return fd;
}

static void wake_fd_drop(uint64_t id)
{
	unsigned h = (unsigned)(id * UINT64_C(0x9E3779B97F4A7C15) >> 56) % WAKE_CACHE;

	if (wake_cache[h].id == id) {
		if (wake_cache[h].fd >= 0)
			close(wake_cache[h].fd);
		wake_cache[h].id = 0;
	}
}

void nmk_wake_bindings(void *arg, const struct nmk_mem *m, uint32_t port_index, uint64_t mask)
{
	(void)arg;
	if (port_index >= m->g.nports)
		return;
	struct nmk_ctrl_port *cp = nmk_ctrl_port_at(m, port_index);
	pthread_mutex_lock(&wake_lock);
	for (uint32_t b = 0; mask && b < NMK_MAX_BINDINGS; b++) {
		if (!(mask & (UINT64_C(1) << b)))
			continue;
		mask &= ~(UINT64_C(1) << b);
		uint64_t id = atomic_load(&cp->binding[b]);
		if (id == 0)
			continue;
		for (int attempt = 0; attempt < 2; attempt++) {
			int fd = wake_fd_get(id);
			if (fd < 0)
				break;
			char byte = NMK_WAKE_BYTE;
			if (send(fd, &byte, 1, MSG_DONTWAIT | MSG_NOSIGNAL) == 0 ||
			    (errno != EPIPE && errno != ECONNRESET && errno != ENOTCONN))
				break;
			/* A stale fd (its broker or connection is gone): forget
			 * it and ask once more. */
			wake_fd_drop(id);
		}
	}
	pthread_mutex_unlock(&wake_lock);
}

/* ---- open / adopt / close ----------------------------------------------- */

/* The handle of a registration that nmkitd described.  NULL with *errp set
 * (ENOMEM, or EPROTO for an impossible description); the fds in fds[] are
 * closed either way, `fd` is not. */
static struct nmk_port *port_from_binding(int fd, const struct nmk_msg_binding *b,
					  const int *fds, unsigned nfds, char *err,
					  size_t errlen, int *errp)
{
	struct nmk_port *p = calloc(1, sizeof(*p));

	*errp = EPROTO;
	if (p == NULL) {
		nmk_errbuf(err, errlen, "out of memory");
		for (unsigned i = 0; i < nfds; i++)
			close(fds[i]);
		*errp = ENOMEM;
		return NULL;
	}
	p->fd = fd;
	pthread_mutex_lock(&lib_lock);
	p->map = mapping_get(b, fds, nfds, err, errlen, errp);
	pthread_mutex_unlock(&lib_lock);
	if (p->map == NULL)
		goto fail;
	p->mem = p->map->mem;

	const struct nmk_region_layout *l = &p->map->l;
	const struct nmreq_register *reg = &b->reg;
	uint32_t ntx = reg->nr_tx_rings, nrx = reg->nr_rx_rings;
	uint32_t nofs = ntx + 1 + nrx + 1;
	if (reg->nr_offset < l->if_off || reg->nr_offset >= l->if_off + l->if_total ||
	    (reg->nr_offset - l->if_off) % l->p.if_size != 0 ||
	    sizeof(struct netmap_if) + nofs * sizeof(ssize_t) > l->p.if_size ||
	    b->last_tx > ntx || b->last_rx > nrx || b->first_tx > b->last_tx ||
	    b->first_rx > b->last_rx || b->binding_slot >= NMK_MAX_BINDINGS ||
	    b->port_index >= p->mem.g.nports) {
		nmk_errbuf(err, errlen, "%s: nmkitd described an impossible registration", b->name);
		goto fail;
	}
	p->nifp = (struct netmap_if *)(void *)((char *)p->map->base + reg->nr_offset);
	p->binding_id = b->binding_id;
	p->port_index = b->port_index;
	p->binding_slot = b->binding_slot;
	p->tx_view = calloc(ntx + 1, sizeof(*p->tx_view));
	p->rx_view = calloc(nrx + 1, sizeof(*p->rx_view));
	if (!p->tx_view || !p->rx_view) {
		nmk_errbuf(err, errlen, "out of memory");
		*errp = ENOMEM;
		goto fail;
	}
	/* Resolve every bound ring to its kring once, from the netmap_if as
	 * the broker wrote it, checking that it is a ring object, and keep our
	 * own copy of the kring's constants, checked against what the broker
	 * told us over our socket: later writes into the shared kring cannot
	 * change what this process believes about its rings. */
	for (uint32_t d = 0; d < 2; d++) {
		uint32_t n = d ? nrx : ntx, first = d ? b->first_rx : b->first_tx;
		uint32_t last = d ? b->last_rx : b->last_tx, base = d ? ntx + 1 : 0;
		uint32_t slots = d ? reg->nr_rx_slots : reg->nr_tx_slots;
		struct nmk_kring_view *out = d ? p->rx_view : p->tx_view;
		for (uint32_t i = 0; i < n; i++) {
			out[i].index = NMK_NONE;
			if (i < first || i >= last)
				continue;
			int64_t off = (int64_t)reg->nr_offset + p->nifp->ring_ofs[base + i];
			int64_t rel = off - (int64_t)l->ring_off;
			if (rel < 0 || rel % l->p.ring_size || rel / l->p.ring_size >= l->p.ring_num) {
				nmk_errbuf(err, errlen, "%s: ring %u is outside the ring pool", b->name, i);
				goto fail;
			}
			char why[160];
			struct nmk_kring_view *v = &out[i];
			const struct nmk_kind_ops *ops;
			if (nmk_kring_view_load(&p->mem, (uint32_t)(rel / l->p.ring_size), v, why,
						sizeof(why)) < 0) {
				nmk_errbuf(err, errlen, "%s: %s", b->name, why);
				goto fail;
			}
			if (v->dir != d || v->ring_id != i || v->num_slots != slots ||
			    v->port != b->port_index || (ops = nmk_kind_ops(v->kind)) == NULL ||
			    (p->ops && ops != p->ops)) {
				nmk_errbuf(err, errlen, "%s: %s ring %u does not match its registration",
					b->name, d ? "rx" : "tx", i);
				goto fail;
			}
			p->ops = ops;
		}
	}
	if (p->ops == NULL) {
		nmk_errbuf(err, errlen, "%s: the registration binds no ring", b->name);
		goto fail;
	}

	struct nmk_port_info *info = &p->info;
	info->size = sizeof(*info);     /* all of it: this library's layout */
	snprintf(info->name, sizeof(info->name), "%s", b->name);
	info->mode = reg->nr_mode;
	info->ringid = reg->nr_ringid;
	info->flags = reg->nr_flags;
	info->tx_rings = ntx;
	info->rx_rings = nrx;
	info->host_tx_rings = reg->nr_host_tx_rings;
	info->host_rx_rings = reg->nr_host_rx_rings;
	info->tx_slots = reg->nr_tx_slots;
	info->rx_slots = reg->nr_rx_slots;
	info->first_tx_ring = b->first_tx;
	info->last_tx_ring = b->last_tx;
	info->first_rx_ring = b->first_rx;
	info->last_rx_ring = b->last_rx;
	info->mem_id = reg->nr_mem_id;
	info->memsize = reg->nr_memsize;
	info->nifp_offset = reg->nr_offset;
	info->buf_size = l->p.buf_size;
	info->extra_bufs = reg->nr_extra_bufs;

	for (unsigned i = 0; i < nfds; i++)
		close(fds[i]);
	pthread_mutex_lock(&lib_lock);
	p->next = ports;
	ports = p;
	pthread_mutex_unlock(&lib_lock);
	return p;
fail:
	for (unsigned i = 0; i < nfds; i++)
		close(fds[i]);
	if (p->map) {
		pthread_mutex_lock(&lib_lock);
		mapping_put(p->map);
		pthread_mutex_unlock(&lib_lock);
	}
	free(p->tx_view);
	free(p->rx_view);
	free(p);
	return NULL;
}

/*
 * Open the driver of a "<driver>:<device>" port here, in the application,
 * and put the geometry it chose into the REGISTER request: the broker then
 * makes rings of that shape in a region of the port's own.
 */
static int driver_open(const struct nmk_portspec *ps, struct nmk_msg_register *req,
		       const struct nmk_driver **drvp, struct nmk_driver_port **portp,
		       char *err, size_t errlen)
{
	const struct nmk_driver *d = nmk_driver_find(ps->driver);
	if (d == NULL) {
		snprintf(err, errlen, "no driver \"%s\" (vale-ctl --drivers lists them)", ps->driver);
		return -ENOENT;
	}
	int ret = nmk_driver_params_check(d, ps->drv_params, err, errlen);
	if (ret < 0)
		return ret;
	/* Split "k=v,k=v" for the driver. */
	char buf[sizeof(ps->drv_params)];
	const char *keys[16], *values[16];
	unsigned n = 0;
	snprintf(buf, sizeof(buf), "%s", ps->drv_params);
	for (char *save = NULL, *kv = strtok_r(buf, ",", &save); kv && n < 16;
	     kv = strtok_r(NULL, ",", &save)) {
		char *eq = strchr(kv, '=');
		if (eq == NULL)
			continue;
		*eq = '\0';
		keys[n] = kv;
		values[n++] = eq + 1;
	}
	struct nmk_driver_open_args a = {
		.ifname = ps->name + ps->colon_off + 1,
		.nparams = n, .keys = keys, .values = values,
		.tx_rings = ps->tx_rings, .rx_rings = ps->rx_rings,
		.tx_slots = ps->tx_slots, .rx_slots = ps->rx_slots,
	};
	struct nmk_driver_geometry g;
	memset(&g, 0, sizeof(g));
	ret = d->open(&a, portp, &g, err, errlen);
	if (ret < 0)
		return ret;
	req->reg.nr_tx_rings = (uint16_t)g.tx_rings;
	req->reg.nr_rx_rings = (uint16_t)g.rx_rings;
	req->reg.nr_tx_slots = g.tx_slots;
	req->reg.nr_rx_slots = g.rx_slots;
	*drvp = d;
	return 0;
}

/* "afpacket:eth0": a driver prefix other than netmap's and VALE's. */
static bool is_driver_name(const char *s)
{
	size_t n = strspn(s, "abcdefghijklmnopqrstuvwxyz0123456789_");
	return n > 0 && s[n] == ':' && strncmp(s, "val", 3) != 0;
}

/*
 * Open "netmap:<nic>..." with the driver of highest priority whose probe
 * accepts the device, as "<driver>:<nic>...".  errno ENXIO when none does.
 */
static struct nmk_port *open_with_best_driver(const char *full, const struct nmk_portspec *ps,
					      const struct nmk_open_params *params, char *errbuf)
{
	const struct nmk_driver_set *set = nmk_driver_registry();
	const struct nmk_driver *best = NULL;
	char err[NMK_ERRBUF_SIZE], spec[2 * NMK_NAME_MAX + 48];

	for (unsigned i = 0; set && i < set->ndrv; i++) {
		const struct nmk_driver *d = set->drv[i].desc;
		if (d->probe && d->probe(ps->name, err, sizeof(err)) == 0 &&
		    (best == NULL || d->priority > best->priority))
			best = d;
	}
	if (best == NULL) {
		nmk_errbuf(errbuf, NMK_ERRBUF_SIZE,
			"%s: no such port, and no driver plugin can drive a device of that name (vale-ctl --drivers)",
			ps->name);
		errno = ENXIO;
		return NULL;
	}
	snprintf(spec, sizeof(spec), "%s:%s", best->name, full + 7);
	return nmk_port_open_ext(spec, params, errbuf);
}

int nmk_port_sleep_fd(struct nmk_port *p, short events, short *sys_events)
{
	if (p->ops->sleep_fd) {
		bool tx = (events & (POLLOUT | POLLWRNORM)) && !(events & (POLLIN | POLLRDNORM));
		int fd = p->ops->sleep_fd(p->state, tx ? p->info.first_tx_ring : p->info.first_rx_ring,
					  tx, sys_events);
		if (fd >= 0)
			return fd;
	}
	*sys_events = POLLIN;
	return p->fd;
}

struct nmk_port *nmk_port_open_ext(const char *spec, const struct nmk_open_params *params,
				   char *errbuf)
{
	char err[NMK_ERRBUF_SIZE];
	struct nmk_portspec ps;
	struct nmk_msg_register req;
	struct nmk_msg_binding reply;
	uint32_t rlen = sizeof(reply);
	int fds[NMK_MSG_MAXFDS];
	unsigned nfds = 0;
	int ret, fd;

	if (spec == NULL) {
		nmk_errbuf(errbuf, NMK_ERRBUF_SIZE, "no port name given");
		errno = EINVAL;
		return NULL;
	}
	/* The caller's parameters, in this library's layout. */
	struct nmk_open_params op = NMK_OPEN_PARAMS_INIT;
	if (params) {
		ret = nmk_abi_copy_in(&op, sizeof(op), params,
				      NMK_OPEN_PARAMS_SIZE_0_1,
				      "nmk_port_open_ext", "nmk_open_params", errbuf, NMK_ERRBUF_SIZE);
		if (ret < 0) {
			errno = -ret;
			return NULL;
		}
	}
	/* Like pkt-gen, take a bare name ("x{1", "eth0") as "netmap:<name>";
	 * a name with a prefix ("netmap:", "vale0:", "afpacket:") as it is. */
	char full[2 * NMK_NAME_MAX + 16];
	size_t plen = strspn(spec, "abcdefghijklmnopqrstuvwxyz0123456789_");
	if (plen == 0 || spec[plen] != ':')
		snprintf(full, sizeof(full), "netmap:%s", spec);
	else if (strncmp(spec, "netmap:", 7) == 0 && is_driver_name(spec + 7))
		snprintf(full, sizeof(full), "%s", spec + 7);   /* netmap:afpacket:eth0 */
	else
		snprintf(full, sizeof(full), "%s", spec);
	ret = nmk_portspec_parse(full, &ps, err, sizeof(err), NULL);
	if (ret < 0) {
		nmk_errbuf(errbuf, NMK_ERRBUF_SIZE, "%s", err);
		errno = -ret;
		return NULL;
	}
	if (ps.share[0] || ps.extmem_file[0]) {
		nmk_errbuf(errbuf, NMK_ERRBUF_SIZE, "%s: @%s is not available in this version", spec,
			ps.share[0] ? "share" : "extmem");
		errno = EOPNOTSUPP;
		return NULL;
	}
	memset(&req, 0, sizeof(req));
	snprintf(req.name, sizeof(req.name), "%s", ps.name);
	req.reg.nr_mode = ps.mode;
	req.reg.nr_ringid = ps.ringid;
	req.reg.nr_flags = ps.flags | op.add_flags;
	req.reg.nr_mem_id = ps.mem_id;
	req.reg.nr_tx_rings = (uint16_t)ps.tx_rings;
	req.reg.nr_rx_rings = (uint16_t)ps.rx_rings;
	req.reg.nr_host_tx_rings = (uint16_t)ps.host_tx_rings;
	req.reg.nr_host_rx_rings = (uint16_t)ps.host_rx_rings;
	req.reg.nr_tx_slots = ps.tx_slots;
	req.reg.nr_rx_slots = ps.rx_slots;
	req.reg.nr_extra_bufs = op.extra_bufs;

	/* A driver port: the driver runs here; the broker gives it rings. */
	const struct nmk_driver *drv = NULL;
	struct nmk_driver_port *dport = NULL;
	if (ps.subsys == NMK_SUBSYS_DRIVER) {
		ret = driver_open(&ps, &req, &drv, &dport, err, sizeof(err));
		if (ret < 0) {
			nmk_errbuf(errbuf, NMK_ERRBUF_SIZE, "%s: %s", spec, err);
			errno = -ret;
			return NULL;
		}
	}
	fd = nmk_broker_connect(err, sizeof(err));
	if (fd < 0) {
		nmk_errbuf(errbuf, NMK_ERRBUF_SIZE, "%s: %s", spec, err);
		if (drv)
			drv->close(dport);
		errno = -fd;
		return NULL;
	}
	ret = nmk_request(fd, NMK_MSG_REGISTER, &req, sizeof(req), &reply, &rlen, fds, &nfds,
			  err, sizeof(err));
	if (ret == 0 && rlen != sizeof(reply)) {
		snprintf(err, sizeof(err), "%s: short reply from nmkitd", spec);
		ret = -EPROTO;
	}
	if (ret < 0) {
		while (nfds)
			close(fds[--nfds]);
		close(fd);
		if (drv)
			drv->close(dport);
		/* "netmap:eth0" that the broker does not know (no persistent
		 * port of that name) is a NIC: the best driver that can drive
		 * it opens it. */
		if (ret == -ENXIO && drv == NULL && ps.subsys == NMK_SUBSYS_NETMAP && !ps.pipe_type)
			return open_with_best_driver(full, &ps, params, errbuf);
		nmk_errbuf(errbuf, NMK_ERRBUF_SIZE, "%s", err);
		errno = -ret;
		return NULL;
	}
	reply.name[sizeof(reply.name) - 1] = '\0';
	int e;
	struct nmk_port *p = port_from_binding(fd, &reply, fds, nfds, errbuf, NMK_ERRBUF_SIZE, &e);
	if (p == NULL) {
		close(fd);
		if (drv)
			drv->close(dport);
		errno = e;
		return NULL;
	}
	if (drv) {
		/* From now on the port owns the driver: closed with it. */
		p->state = nmk_driver_state_new(drv, dport);
		if (p->state == NULL) {
			drv->close(dport);
			nmk_port_close(p);
			nmk_errbuf(errbuf, NMK_ERRBUF_SIZE, "%s: out of memory", spec);
			errno = ENOMEM;
			return NULL;
		}
	}
	return p;
}

struct nmk_port *nmk_port_open(const char *spec, char *errbuf)
{
	return nmk_port_open_ext(spec, NULL, errbuf);
}

struct nmk_port *nmk_port_from_fd(int fd, char *errbuf)
{
	char err[NMK_ERRBUF_SIZE];
	struct nmk_msg_binding reply;
	uint32_t rlen = sizeof(reply);
	int fds[NMK_MSG_MAXFDS];
	unsigned nfds = 0;
	int ret, type = 0;
	socklen_t tlen = sizeof(type);
	struct sockaddr_storage sa;
	socklen_t salen = sizeof(sa);

	/* A port fd is a unix seqpacket connection to nmkitd.  Check that
	 * before sending anything: on any other socket (a stream socketpair,
	 * say) the request would be accepted and the reply awaited forever. */
	if (getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &tlen) < 0) {
		int e = errno;
		nmk_errbuf(errbuf, NMK_ERRBUF_SIZE, "fd %d is not a netmap port fd: %s", fd,
			strerror(e));
		errno = e;
		return NULL;
	}
	if (type != SOCK_SEQPACKET || getsockname(fd, (struct sockaddr *)&sa, &salen) < 0 ||
	    sa.ss_family != AF_UNIX) {
		nmk_errbuf(errbuf, NMK_ERRBUF_SIZE,
			"fd %d is not a netmap port fd (a socket, but not a connection to nmkitd)", fd);
		errno = EINVAL;
		return NULL;
	}

	ret = nmk_request(fd, NMK_MSG_BINDING, NULL, 0, &reply, &rlen, fds, &nfds, err, sizeof(err));
	if (ret == 0 && rlen != sizeof(reply)) {
		snprintf(err, sizeof(err), "short reply from nmkitd");
		ret = -EPROTO;
	}
	if (ret < 0) {
		while (nfds)
			close(fds[--nfds]);
		nmk_errbuf(errbuf, NMK_ERRBUF_SIZE, "fd %d: %s", fd, err);
		errno = -ret;
		return NULL;
	}
	reply.name[sizeof(reply.name) - 1] = '\0';
	int e;
	struct nmk_port *p = port_from_binding(fd, &reply, fds, nfds, errbuf, NMK_ERRBUF_SIZE, &e);
	if (p == NULL)
		errno = e;
	return p;
}

void nmk_port_close(struct nmk_port *p)
{
	if (p == NULL)
		return;
	pthread_mutex_lock(&lib_lock);
	for (struct nmk_port **q = &ports; *q; q = &(*q)->next) {
		if (*q == p) {
			*q = p->next;
			break;
		}
	}
	/* No disarming here: the armed bits belong to the registration, which
	 * other copies of the fd (dup, fork, SCM_RIGHTS) may still be sleeping
	 * on; clearing them would lose their wake-ups.  The broker disarms
	 * when the last copy goes, and a wake-up sent meanwhile is harmless. */
	mapping_put(p->map);
	pthread_mutex_unlock(&lib_lock);
	close(p->fd);
	if (p->ops->state_free)
		p->ops->state_free(p->state);
	free(p->tx_view);
	free(p->rx_view);
	free(p);
}

struct nmk_port *nmk_port_by_fd(int fd)
{
	struct nmk_port *p;

	pthread_mutex_lock(&lib_lock);
	for (p = ports; p; p = p->next)
		if (p->fd == fd)
			break;
	pthread_mutex_unlock(&lib_lock);
	return p;
}

/* ---- accessors ---------------------------------------------------------- */

int nmk_port_fd(const struct nmk_port *p)
{
	return p->fd;
}

const struct nmk_port_info *nmk_port_info(const struct nmk_port *p)
{
	return &p->info;
}

struct netmap_if *nmk_port_nifp(const struct nmk_port *p)
{
	return p->nifp;
}

void *nmk_port_mem(const struct nmk_port *p)
{
	return p->map->base;
}

struct netmap_ring *nmk_port_txring(const struct nmk_port *p, unsigned i)
{
	if (i >= p->info.tx_rings || p->tx_view[i].index == NMK_NONE) {
		errno = EINVAL;
		return NULL;
	}
	return nmk_view_ring(&p->mem, &p->tx_view[i]);
}

struct netmap_ring *nmk_port_rxring(const struct nmk_port *p, unsigned i)
{
	if (i >= p->info.rx_rings || p->rx_view[i].index == NMK_NONE) {
		errno = EINVAL;
		return NULL;
	}
	return nmk_view_ring(&p->mem, &p->rx_view[i]);
}

uint64_t nmk_port_rx_dropped(const struct nmk_port *p)
{
	uint64_t n = 0;

	for (uint32_t i = p->info.first_rx_ring; i < p->info.last_rx_ring; i++)
		n += atomic_load_explicit(&nmk_view_kring(&p->mem, &p->rx_view[i])->drops,
					  memory_order_relaxed);
	return n;
}

const char *nmk_port_error(const struct nmk_port *p)
{
	return p->err;
}

/* ---- syncs -------------------------------------------------------------- */

static int port_sync(struct nmk_port *p, bool tx)
{
	char err[NMK_ERRBUF_SIZE - 80];
	struct nmk_sync_ctx ctx = {
		.wake = nmk_wake_bindings, .wake_arg = p, .state = p->state,
		.err = err, .errlen = sizeof(err),
	};
	uint32_t first = tx ? p->info.first_tx_ring : p->info.first_rx_ring;
	uint32_t last = tx ? p->info.last_tx_ring : p->info.last_rx_ring;
	struct nmk_kring_view *v = tx ? p->tx_view : p->rx_view;
	int ret = 0;

	for (uint32_t i = first; i < last; i++) {
		int r = nmk_kring_sync(&p->mem, &v[i], tx ? NMK_DIR_TX : NMK_DIR_RX, &ctx);
		if (r < 0 && ret == 0)
			ret = nmk_port_set_error(p, r, "%s: %s", p->info.name, err);
	}
	p->state = ctx.state;   /* a kind may make its state at the first sync */
	return ret;
}

int nmk_txsync(struct nmk_port *p)
{
	return port_sync(p, true);
}

int nmk_rxsync(struct nmk_port *p)
{
	return port_sync(p, false);
}

int nmk_port_drain(struct nmk_port *p)
{
	char buf[NMK_MSG_MAX];

	for (;;) {
		ssize_t n = recv(p->fd, buf, sizeof(buf), MSG_DONTWAIT);
		if (n > 0)
			continue;       /* wake-ups (and any stray message) */
		if (n == 0)
			return -EPIPE;
		if (errno == EINTR)
			continue;
		return errno == EAGAIN || errno == EWOULDBLOCK ? 0 : -errno;
	}
}
