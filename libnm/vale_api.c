/*
 * vale_api.c - the C API for VALE control: persistent ports, attachment,
 * listing, counters, and the lookup function.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <nmkit/nmkit.h>
#include <nmkit/nmk_util.h>

#include "abi.h"
#include "client.h"
#include "forward.h"
#include "proto.h"


/* One request on a fresh connection.  *reached (may be NULL) tells a
 * status of the broker's from a failure to reach or start it: ENOENT, say,
 * is either "no such port" or "no nmkitd program". */
static int call_ex(uint16_t type, const void *body, uint32_t len, void *reply, uint32_t rlen,
		   char *errbuf, int *reached)
{
	char err[NMK_ERRBUF_SIZE];
	int fd = nmk_broker_connect(err, sizeof(err));

	if (reached)
		*reached = fd >= 0;
	if (fd < 0) {
		nmk_errbuf(errbuf, NMK_ERRBUF_SIZE, "%s", err);
		return fd;
	}
	uint32_t got = rlen;
	int ret = nmk_request(fd, type, body, len, reply, &got, NULL, NULL, err, sizeof(err));
	close(fd);
	if (ret == 0 && reply && got != rlen) {
		snprintf(err, sizeof(err), "short reply from nmkitd");
		ret = -EPROTO;
	}
	if (ret < 0)
		nmk_errbuf(errbuf, NMK_ERRBUF_SIZE, "%s", err);
	return ret;
}

static int call(uint16_t type, const void *body, uint32_t len, void *reply, uint32_t rlen,
		char *errbuf)
{
	return call_ex(type, body, len, reply, rlen, errbuf, NULL);
}

static int ctl(uint16_t type, const char *name, const struct nmk_vale_conf *conf, uint16_t flags,
	       char *errbuf)
{
	struct nmk_msg_vale_ctl m;

	if (name == NULL || strlen(name) >= sizeof(m.name)) {
		nmk_errbuf(errbuf, NMK_ERRBUF_SIZE, "%s: name missing or too long", name ? name : "(null)");
		return -EINVAL;
	}
	memset(&m, 0, sizeof(m));
	snprintf(m.name, sizeof(m.name), "%s", name);
	m.flags = flags;
	if (conf) {
		struct nmk_vale_conf c;
		int ret = nmk_abi_copy_in(&c, sizeof(c), conf, NMK_VALE_CONF_SIZE_0_1,
					  "nmk_vale_newif", "nmk_vale_conf", errbuf, NMK_ERRBUF_SIZE);
		if (ret < 0)
			return ret;
		m.tx_slots = c.tx_slots;
		m.rx_slots = c.rx_slots;
		m.tx_rings = c.tx_rings;
		m.rx_rings = c.rx_rings;
	}
	int ret = call(type, &m, sizeof(m), &m, sizeof(m), errbuf);
	if (ret == 0 && (type == NMK_MSG_VALE_ATTACH || type == NMK_MSG_VALE_DETACH))
		return (int)m.port_index;
	return ret;
}

int nmk_vale_newif(const char *name, const struct nmk_vale_conf *conf, char *errbuf)
{
	return ctl(NMK_MSG_VALE_NEWIF, name, conf, 0, errbuf);
}

int nmk_vale_delif(const char *name, char *errbuf)
{
	return ctl(NMK_MSG_VALE_DELIF, name, NULL, 0, errbuf);
}

int nmk_vale_attach(const char *name, char *errbuf)
{
	return ctl(NMK_MSG_VALE_ATTACH, name, NULL, 0, errbuf);
}

int nmk_vale_detach(const char *name, char *errbuf)
{
	return ctl(NMK_MSG_VALE_DETACH, name, NULL, 0, errbuf);
}

/* The host port of "valeX:eth0": "valeX:eth0_h", a tap of that name. */
static int host_name(const char *name, char *out, size_t len, char *errbuf)
{
	const char *colon = name ? strchr(name, ':') : NULL;
	if (colon == NULL || strlen(colon + 1) + 2 > 15 ||
	    (size_t)snprintf(out, len, "%s_h", name) >= len) {
		nmk_errbuf(errbuf, NMK_ERRBUF_SIZE, "%s: expected valeX:<ifname> with an interface name of at most 13 characters",
			name ? name : "(null)");
		return -EINVAL;
	}
	return 0;
}

int nmk_vale_attach_host(const char *name, char *errbuf)
{
	char host[80];
	int ret = host_name(name, host, sizeof(host), errbuf);

	if (ret < 0)
		return ret;
	ret = ctl(NMK_MSG_VALE_ATTACH, name, NULL, 0, errbuf);
	if (ret < 0)
		return ret;
	int hret = ctl(NMK_MSG_VALE_ATTACH, host, NULL, NMK_VALE_CTL_TAP, errbuf);
	if (hret < 0) {
		ctl(NMK_MSG_VALE_DETACH, name, NULL, 0, NULL);
		return hret;
	}
	return ret;
}

int nmk_vale_detach_host(const char *name, char *errbuf)
{
	char host[80];
	int ret = host_name(name, host, sizeof(host), errbuf);

	if (ret < 0)
		return ret;
	ret = ctl(NMK_MSG_VALE_DETACH, host, NULL, 0, errbuf);
	int nret = ctl(NMK_MSG_VALE_DETACH, name, NULL, 0, ret < 0 ? NULL : errbuf);
	return ret < 0 ? ret : nret;
}

int nmk_vale_list(uint32_t *cursor, struct nmk_vale_entry *entry, char *errbuf)
{
	struct nmk_msg_list l;
	struct nmk_vale_entry ent, *e = &ent;

	if (cursor == NULL || entry == NULL) {
		nmk_errbuf(errbuf, NMK_ERRBUF_SIZE, "nmk_vale_list: %s is NULL", cursor ? "entry" : "cursor");
		return -EINVAL;
	}
	int ret = nmk_abi_check(entry, NMK_VALE_ENTRY_SIZE_0_1, "nmk_vale_list",
				"nmk_vale_entry", errbuf, NMK_ERRBUF_SIZE);
	if (ret < 0)
		return ret;
	for (;;) {
		memset(&l, 0, sizeof(l));
		l.index = *cursor;
		int reached;
		ret = call_ex(NMK_MSG_LIST, &l, sizeof(l), &l, sizeof(l), errbuf, &reached);
		if (ret == -ENOENT && reached)
			return 0;       /* the broker's "past the last port" */
		if (ret < 0)
			return ret;
		*cursor = l.next;
		if (l.kind == NMK_LIST_PIPE || l.kind == NMK_LIST_DRIVER)
			continue;       /* not VALE ports */
		memset(e, 0, sizeof(*e));
		l.name[sizeof(l.name) - 1] = '\0';
		l.switch_name[sizeof(l.switch_name) - 1] = '\0';
		snprintf(e->name, sizeof(e->name), "%s", l.name);
		snprintf(e->switch_name, sizeof(e->switch_name), "%s", l.switch_name);
		e->switch_index = l.switch_index;
		e->port_index = l.port_index;
		e->registrations = l.nbindings;
		e->mem_id = l.mem_id;
		e->persistent = l.kind == NMK_LIST_PERSISTENT;
		e->attached = l.attached;
		nmk_abi_copy_out(entry, e, sizeof(*e));
		return 1;
	}
}

int nmk_vale_get_stats(const char *name, struct nmk_vale_stats *stats, char *errbuf)
{
	struct nmk_msg_vale_stats m;
	struct nmk_vale_stats s, *st = &s;

	memset(&m, 0, sizeof(m));
	if (name == NULL || strlen(name) >= sizeof(m.name)) {
		nmk_errbuf(errbuf, NMK_ERRBUF_SIZE, "%s: name missing or too long", name ? name : "(null)");
		return -EINVAL;
	}
	if (stats == NULL) {
		nmk_errbuf(errbuf, NMK_ERRBUF_SIZE, "nmk_vale_get_stats: stats is NULL");
		return -EINVAL;
	}
	int ret = nmk_abi_check(stats, NMK_VALE_STATS_SIZE_0_1,
				"nmk_vale_get_stats", "nmk_vale_stats", errbuf, NMK_ERRBUF_SIZE);
	if (ret < 0)
		return ret;
	snprintf(m.name, sizeof(m.name), "%s", name);
	ret = call(NMK_MSG_VALE_STATS, &m, sizeof(m), &m, sizeof(m), errbuf);
	if (ret < 0)
		return ret;
	memset(st, 0, sizeof(*st));
	st->port_index = m.port_index;
	st->tx_packets = m.tx_packets;
	st->tx_bytes = m.tx_bytes;
	st->rx_packets = m.rx_packets;
	st->rx_bytes = m.rx_bytes;
	st->forwarded = m.forwarded;
	st->flooded = m.flooded;
	st->drop_full = m.drop_full;
	st->drop_invalid = m.drop_invalid;
	st->drop_nodest = m.drop_nodest;
	nmk_abi_copy_out(stats, st, sizeof(*st));
	return 0;
}

int nmk_vale_set_lookup(const char *sw, nmk_vale_lookup_fn fn, void *priv)
{
	if (sw == NULL || strlen(sw) >= 16)
		return -EINVAL;
	return nmk_vale_lookup_register(sw, fn, priv);
}

int nmk_port_info_by_name(const char *name, struct nmk_port_info *out, char *errbuf)
{
	struct nmk_msg_port_info m;
	struct nmk_port_info pi, *info = &pi;

	if (out == NULL) {
		nmk_errbuf(errbuf, NMK_ERRBUF_SIZE, "nmk_port_info_by_name: info is NULL");
		return -EINVAL;
	}
	int ret = nmk_abi_check(out, NMK_PORT_INFO_SIZE_0_1,
				"nmk_port_info_by_name", "nmk_port_info", errbuf, NMK_ERRBUF_SIZE);
	if (ret < 0)
		return ret;
	memset(&m, 0, sizeof(m));
	if (name == NULL)
		name = "";
	/* Accept netmap's spelling of a NIC-like name. */
	if (strncmp(name, "netmap:", 7) == 0)
		name += 7;
	if (strlen(name) >= sizeof(m.name)) {
		nmk_errbuf(errbuf, NMK_ERRBUF_SIZE, "%s: name too long", name);
		return -EINVAL;
	}
	snprintf(m.name, sizeof(m.name), "%s", name);
	ret = call(NMK_MSG_PORT_INFO, &m, sizeof(m), &m, sizeof(m), errbuf);
	if (ret < 0)
		return ret;
	memset(info, 0, sizeof(*info));
	snprintf(info->name, sizeof(info->name), "%s", name);
	info->memsize = m.info.nr_memsize;
	info->tx_slots = m.info.nr_tx_slots;
	info->rx_slots = m.info.nr_rx_slots;
	info->tx_rings = m.info.nr_tx_rings;
	info->rx_rings = m.info.nr_rx_rings;
	info->mem_id = m.info.nr_mem_id;
	nmk_abi_copy_out(out, info, sizeof(*info));
	return 0;
}
