/*
 * vale-ctl - manage VALE switches and ports, with netmap's options and
 * output (reference §4.14), plus the counters nmkit keeps.
 *
 *   vale-ctl                       list every port: NAME bridge_idx B port_idx P
 *   vale-ctl -l [valeX:Y]          with a name: bridge_idx: B / port_idx: P;
 *                                  without: every switch and port with counters
 *   vale-ctl -n IF [-C spec] [-v]  create persistent port IF
 *   vale-ctl -r IF                 remove persistent port IF
 *   vale-ctl -a valeX:IF           attach IF to switch valeX
 *   vale-ctl -d valeX:IF           detach it
 *   vale-ctl -h valeX:IF           attach IF and its host stack (needs a NIC driver)
 *   vale-ctl -g PORT               port information
 *   vale-ctl --drivers             driver plugins with their parameters, and
 *                                  the plugins refused with the reason
 *
 * On failure it prints "failed to <action> <name>: <reason>" and exits 1.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <nmkit/nmkit.h>

static int fail(const char *action, const char *name, int err, const char *detail)
{
	fprintf(stderr, "vale-ctl: failed to %s %s: %s", action, name, strerror(err < 0 ? -err : err));
	if (detail && *detail)
		fprintf(stderr, " (%s)", detail);
	fputc('\n', stderr);
	return 1;
}

static void usage(FILE *f)
{
	fprintf(f,
		"usage: vale-ctl [-g port] [-a valeX:if] [-h valeX:if] [-d valeX:if] [-n if] [-r if]\n"
		"                [-l [valeX:Y]] [-C spec] [-v] [--drivers]\n"
		"  (no option)   list every VALE port: NAME bridge_idx B port_idx P\n"
		"  -l [port]     list switches and ports with counters; with a port, its indices\n"
		"  -n if         create persistent port if (-C tx_slots[,rx_slots[,tx_rings[,rx_rings]]])\n"
		"  -r if         remove persistent port if\n"
		"  -a valeX:if   attach if to switch valeX\n"
		"  -d valeX:if   detach if from valeX\n"
		"  -h valeX:if   attach if with its host stack (needs a NIC driver)\n"
		"  -g port       show the port's memory, rings and slots\n"
		"  -v            verbose\n"
		"  --drivers     list driver plugins and their parameters, and refused plugins\n");
}

/* -C tx_slots[,rx_slots[,tx_rings[,rx_rings]]] (netmap's vale-ctl rules). */
static int parse_conf(const char *spec, struct nmk_vale_conf *c)
{
	unsigned long v[4];
	int n = 0;
	const char *p = spec;

	while (n < 4) {
		char *end;
		errno = 0;
		v[n] = strtoul(p, &end, 10);
		if (errno || end == p || v[n] > 65535)
			return -1;
		n++;
		if (*end == '\0')
			break;
		if (*end != ',')
			return -1;
		p = end + 1;
	}
	c->tx_slots = (uint32_t)v[0];
	c->rx_slots = (uint32_t)(n > 1 ? v[1] : v[0]);
	if (n > 2) {
		c->tx_rings = (uint16_t)v[2];
		c->rx_rings = (uint16_t)(n > 3 ? v[3] : v[2]);
	}
	return 0;
}

static int list_plain(void)
{
	char err[NMK_ERRBUF_SIZE];
	struct nmk_vale_entry e = NMK_VALE_ENTRY_INIT;
	uint32_t cur = 0;
	int r;

	while ((r = nmk_vale_list(&cur, &e, err)) > 0)
		if (e.switch_name[0])
			printf("%s bridge_idx %" PRIu32 " port_idx %" PRIu32 "\n", e.name, e.switch_index,
			       e.port_index);
	return r < 0 ? fail("list", "ports", r, err) : 0;
}

static int list_one(const char *name)
{
	char err[NMK_ERRBUF_SIZE];
	struct nmk_vale_entry e = NMK_VALE_ENTRY_INIT;
	uint32_t cur = 0;
	int r;

	if (strncmp(name, "vale", 4) != 0)
		return fail("list", name, -EINVAL, "the name must start with vale");
	while ((r = nmk_vale_list(&cur, &e, err)) > 0) {
		if (strcmp(e.name, name) == 0) {
			printf("bridge_idx: %" PRIu32 "\nport_idx: %" PRIu32 "\n", e.switch_index,
			       e.port_index);
			return 0;
		}
	}
	return fail("list", name, r < 0 ? r : -ENOENT, r < 0 ? err : "no such port");
}

/* Every switch, then its ports with their counters. */
static int list_counters(void)
{
	char err[NMK_ERRBUF_SIZE];
	struct nmk_vale_entry e = NMK_VALE_ENTRY_INIT;
	uint32_t cur = 0;
	int r, n = 0;

	printf("%-24s %6s %6s %4s %12s %12s %12s %12s %10s %10s %10s\n", "port", "bridge", "port",
	       "fds", "tx_pkts", "rx_pkts", "forwarded", "flooded", "drop_full", "drop_inval",
	       "drop_nodst");
	while ((r = nmk_vale_list(&cur, &e, err)) > 0) {
		struct nmk_vale_stats st = NMK_VALE_STATS_INIT;
		char bridge[16] = "-";
		nmk_vale_get_stats(e.name, &st, NULL);  /* zeros when it has none */
		if (e.switch_name[0])
			snprintf(bridge, sizeof(bridge), "%" PRIu32, e.switch_index);
		printf("%-24s %6s %6" PRIu32 " %4" PRIu32 " %12" PRIu64 " %12" PRIu64 " %12" PRIu64
		       " %12" PRIu64 " %10" PRIu64 " %10" PRIu64 " %10" PRIu64 "%s\n",
		       e.name, bridge, e.port_index, e.registrations, st.tx_packets, st.rx_packets,
		       st.forwarded, st.flooded, st.drop_full, st.drop_invalid, st.drop_nodest,
		       e.persistent ? (e.attached ? "  persistent" : "  persistent, detached") : "");
		n++;
	}
	if (r < 0)
		return fail("list", "ports", r, err);
	return 0;
}

/* Every loaded driver, then every refused plugin (or directory) with the
 * reason.  Refusals are information, not a failure of the command. */
static int list_drivers(void)
{
	char err[NMK_ERRBUF_SIZE] = "", msg[1024];
	struct nmk_driver_info di = NMK_DRIVER_INFO_INIT;
	unsigned i;
	int r;

	for (i = 0; (r = nmk_driver_list(i, &di, err)) > 0; i++) {
		printf("%s", di.name);
		if (di.aliases[0])
			printf(" (aliases: %s)", di.aliases);
		printf(": %s\n", di.description[0] ? di.description : "(no description)");
		printf("    path: %s\n", di.path);
		/* params is "key=default (help); ...": one parameter a line. */
		if (!di.params[0]) {
			printf("    parameters: none\n");
		} else {
			printf("    parameters:\n");
			for (char *p = di.params, *end; p; p = end) {
				end = strstr(p, "; ");
				if (end) {
					*end = '\0';
					end += 2;
				}
				printf("      @%s\n", p);
			}
		}
	}
	if (r < 0)
		return fail("list", "drivers", r, err);
	if (i == 0)
		printf("no driver plugins loaded\n");
	for (i = 0; nmk_driver_rejected(i, msg, sizeof msg) > 0; i++)
		printf("refused: %s\n", msg);
	return 0;
}

int main(int argc, char **argv)
{
	enum { OPT_DRIVERS = 1000 };
	static const struct option longopts[] = {
		{ "drivers", no_argument, NULL, OPT_DRIVERS },
		{ NULL, 0, NULL, 0 },
	};
	char err[NMK_ERRBUF_SIZE] = "";
	struct nmk_vale_conf conf = NMK_VALE_CONF_INIT;
	const char *name = NULL;
	int cmd = 0, verbose = 0, c;

	while ((c = getopt_long(argc, argv, "a:d:h:n:r:g:lC:m:p:P:v", longopts, NULL)) != -1) {
		switch (c) {
		case OPT_DRIVERS:
			if (cmd) {
				fprintf(stderr, "vale-ctl: one command at a time (--drivers and another)\n");
				return 1;
			}
			cmd = 'D';
			break;
		case 'a': case 'd': case 'h': case 'n': case 'r': case 'g': case 'p': case 'P':
			if (cmd) {
				fprintf(stderr, "vale-ctl: one command at a time (-%s and -%c)\n",
					cmd == 'D' ? "-drivers" : (char[]){ (char)cmd, 0 }, c);
				return 1;
			}
			cmd = c;
			name = optarg;
			break;
		case 'l':
			if (cmd) {
				fprintf(stderr, "vale-ctl: one command at a time (-%s and -l)\n",
					cmd == 'D' ? "-drivers" : (char[]){ (char)cmd, 0 });
				return 1;
			}
			cmd = 'l';
			if (optind < argc && argv[optind][0] != '-')
				name = argv[optind++];
			break;
		case 'C':
			if (parse_conf(optarg, &conf) < 0) {
				fprintf(stderr, "vale-ctl: -C %s: expected tx_slots[,rx_slots[,tx_rings[,rx_rings]]]\n",
					optarg);
				return 1;
			}
			break;
		case 'm':
			fprintf(stderr, "vale-ctl: -m %s: sharing a memory region is not supported yet\n", optarg);
			return 1;
		case 'v':
			verbose = 1;
			break;
		default:
			usage(stderr);
			return 1;
		}
	}
	if (optind != argc) {
		usage(stderr);
		return 1;
	}

	int r;
	switch (cmd) {
	case 0:
		return list_plain();
	case 'l':
		return name ? list_one(name) : list_counters();
	case 'D':
		return list_drivers();
	case 'n':
		r = nmk_vale_newif(name, &conf, err);
		if (r < 0)
			return fail("create", name, r, err);
		if (verbose) {
			struct nmk_port_info pi = NMK_PORT_INFO_INIT;
			if (nmk_port_info_by_name(name, &pi, err) == 0)
				printf("%s: tx_slots %u rx_slots %u tx_rings %u rx_rings %u mem_id %u\n",
				       name, pi.tx_slots, pi.rx_slots, pi.tx_rings, pi.rx_rings, pi.mem_id);
		}
		return 0;
	case 'r':
		r = nmk_vale_delif(name, err);
		return r < 0 ? fail("delete", name, r, err) : 0;
	case 'a':
		r = nmk_vale_attach(name, err);
		return r < 0 ? fail("attach", name, r, err) : 0;
	case 'd':
		r = nmk_vale_detach(name, err);
		if (r < 0)
			return fail("detach", name, r, err);
		/* A host stack attached with -h goes with its NIC. */
		char host[96];
		snprintf(host, sizeof(host), "%s_h", name);
		nmk_vale_detach(host, NULL);
		return 0;
	case 'h':
		r = nmk_vale_attach_host(name, err);
		return r < 0 ? fail("attach", name, r, err) : 0;
	case 'p':
	case 'P':
		return fail(cmd == 'p' ? "enable polling on" : "disable polling on", name, -EOPNOTSUPP,
			    "polling applies to attached NICs, and no NIC driver is available");
	case 'g': {
		struct nmk_port_info pi = NMK_PORT_INFO_INIT;
		r = nmk_port_info_by_name(name, &pi, err);
		if (r < 0)
			return fail("get info of", name, r, err);
		printf("%s: memsize: %" PRIu64 " tx_slots: %u rx_slots: %u tx_rings: %u rx_rings: %u mem_id: %u\n",
		       name, pi.memsize, pi.tx_slots, pi.rx_slots, pi.tx_rings, pi.rx_rings, pi.mem_id);
		return 0;
	}
	}
	return 0;
}
