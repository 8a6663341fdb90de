/*
 * gen-cdefs - prints the FFI declarations of the structs and constants of
 * nmkit's headers that Lua touches, laid out from the compiler's own
 * offsetof and sizeof: Lua's view of a struct cannot drift from C's.
 *
 *   gen-cdefs structs   the ffi.cdef text (fields Lua uses; the rest
 *                       become padding of the right size)
 *   gen-cdefs sizes     a Lua table of sizeof for every struct Lua touches,
 *                       which nmkit.cdefs' selftest compares with ffi.sizeof
 *
 * lua/gen-cdefs.sh adds the functions of <nmkit/nmkit.h> and the ffi
 * sections of the headers in lua/rt/.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <poll.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include <nmkit/nmkit.h>

#include "rt/hist.h"
#include "rt/ring.h"
#include "rt/stats.h"

struct field {
	const char *decl;       /* e.g. "uint32_t buf_idx" */
	size_t off, size;       /* offsetof, sizeof of the member */
	size_t declsize;        /* sizeof of the declared type (must match) */
};

#define F(T, ty, f) { #ty " " #f, offsetof(T, f), sizeof(((T *)0)->f), sizeof(ty) }
#define A(T, ty, f, n) { #ty " " #f "[" #n "]", offsetof(T, f), sizeof(((T *)0)->f), sizeof(ty) * (n) }
#define END { NULL, 0, 0, 0 }

static int failed;

/* Print struct `name` with its fields at their C offsets; `flex` is a
 * trailing flexible array member (or NULL), at offset flex_off. */
static void emit(const char *name, size_t size, const struct field *fs, const char *flex,
		 size_t flex_off)
{
	size_t at = 0;
	int pad = 0;

	printf("struct %s {\n", name);
	for (const struct field *f = fs; f->decl; f++) {
		if (f->size != f->declsize || f->off < at) {
			fprintf(stderr, "gen-cdefs: struct %s: '%s' does not match the header\n",
				name, f->decl);
			failed = 1;
		}
		if (f->off > at)
			printf("\tuint8_t _pad%d[%zu];\n", pad++, f->off - at);
		printf("\t%s;\n", f->decl);
		at = f->off + f->size;
	}
	if (flex) {
		if (flex_off > at)
			printf("\tuint8_t _pad%d[%zu];\n", pad++, flex_off - at);
		printf("\t%s[?];\n", flex);
	} else if (size > at) {
		printf("\tuint8_t _pad%d[%zu];\n", pad++, size - at);
	}
	printf("};\n");
}

static void structs(void)
{
	static const struct field slot[] = {
		F(struct netmap_slot, uint32_t, buf_idx),
		F(struct netmap_slot, uint16_t, len),
		F(struct netmap_slot, uint16_t, flags),
		F(struct netmap_slot, uint64_t, ptr),
		END,
	};
	static const struct field ring[] = {
		F(struct netmap_ring, int64_t, buf_ofs),
		F(struct netmap_ring, uint32_t, num_slots),
		F(struct netmap_ring, uint32_t, nr_buf_size),
		F(struct netmap_ring, uint16_t, ringid),
		F(struct netmap_ring, uint16_t, dir),
		F(struct netmap_ring, uint32_t, head),
		F(struct netmap_ring, uint32_t, cur),
		F(struct netmap_ring, uint32_t, tail),
		F(struct netmap_ring, uint32_t, flags),
		END,
	};
	static const struct field info[] = {
		F(struct nmk_port_info, uint32_t, size),
		A(struct nmk_port_info, char, name, 64),
		F(struct nmk_port_info, uint32_t, mode),
		F(struct nmk_port_info, uint16_t, ringid),
		F(struct nmk_port_info, uint64_t, flags),
		F(struct nmk_port_info, uint32_t, tx_rings),
		F(struct nmk_port_info, uint32_t, rx_rings),
		F(struct nmk_port_info, uint32_t, host_tx_rings),
		F(struct nmk_port_info, uint32_t, host_rx_rings),
		F(struct nmk_port_info, uint32_t, tx_slots),
		F(struct nmk_port_info, uint32_t, rx_slots),
		F(struct nmk_port_info, uint32_t, first_tx_ring),
		F(struct nmk_port_info, uint32_t, last_tx_ring),
		F(struct nmk_port_info, uint32_t, first_rx_ring),
		F(struct nmk_port_info, uint32_t, last_rx_ring),
		F(struct nmk_port_info, uint16_t, mem_id),
		F(struct nmk_port_info, uint64_t, memsize),
		F(struct nmk_port_info, uint64_t, nifp_offset),
		F(struct nmk_port_info, uint32_t, buf_size),
		F(struct nmk_port_info, uint32_t, extra_bufs),
		END,
	};
	static const struct field vstats[] = {
		F(struct nmk_vale_stats, uint32_t, size),
		F(struct nmk_vale_stats, uint32_t, port_index),
		F(struct nmk_vale_stats, uint64_t, tx_packets),
		F(struct nmk_vale_stats, uint64_t, tx_bytes),
		F(struct nmk_vale_stats, uint64_t, rx_packets),
		F(struct nmk_vale_stats, uint64_t, rx_bytes),
		F(struct nmk_vale_stats, uint64_t, forwarded),
		F(struct nmk_vale_stats, uint64_t, flooded),
		F(struct nmk_vale_stats, uint64_t, drop_full),
		F(struct nmk_vale_stats, uint64_t, drop_invalid),
		F(struct nmk_vale_stats, uint64_t, drop_nodest),
		END,
	};
	static const struct field entry[] = {
		F(struct nmk_vale_entry, uint32_t, size),
		A(struct nmk_vale_entry, char, name, 64),
		A(struct nmk_vale_entry, char, switch_name, 16),
		F(struct nmk_vale_entry, uint32_t, switch_index),
		F(struct nmk_vale_entry, uint32_t, port_index),
		F(struct nmk_vale_entry, uint32_t, registrations),
		F(struct nmk_vale_entry, uint16_t, mem_id),
		F(struct nmk_vale_entry, uint8_t, persistent),
		F(struct nmk_vale_entry, uint8_t, attached),
		END,
	};
	static const struct field conf[] = {
		F(struct nmk_vale_conf, uint32_t, size),
		F(struct nmk_vale_conf, uint32_t, tx_slots),
		F(struct nmk_vale_conf, uint32_t, rx_slots),
		F(struct nmk_vale_conf, uint16_t, tx_rings),
		F(struct nmk_vale_conf, uint16_t, rx_rings),
		END,
	};
	static const struct field pfd[] = {
		F(struct pollfd, int, fd),
		F(struct pollfd, short, events),
		F(struct pollfd, short, revents),
		END,
	};

	printf("typedef %s nfds_t;\n", sizeof(nfds_t) == sizeof(unsigned long) ? "unsigned long" : "unsigned int");
	printf("struct netmap_if;\nstruct nmk_port;\nstruct nmk_open_params;\nstruct nmk_driver_info;\n");
	emit("netmap_slot", sizeof(struct netmap_slot), slot, NULL, 0);
	emit("netmap_ring", sizeof(struct netmap_ring), ring, "struct netmap_slot slot",
	     offsetof(struct netmap_ring, slot));
	emit("nmk_port_info", sizeof(struct nmk_port_info), info, NULL, 0);
	emit("nmk_vale_stats", sizeof(struct nmk_vale_stats), vstats, NULL, 0);
	emit("nmk_vale_entry", sizeof(struct nmk_vale_entry), entry, NULL, 0);
	emit("nmk_vale_conf", sizeof(struct nmk_vale_conf), conf, NULL, 0);
	emit("pollfd", sizeof(struct pollfd), pfd, NULL, 0);
	printf("enum {\n\tNMK_ERRBUF_SIZE = %d,\n\tNMK_VALE_BROADCAST = %u,\n\tNMK_VALE_DROP = %u,\n"
	       "\tNS_BUF_CHANGED = %d,\n\tNS_MOREFRAG = %d,\n\tPOLLIN = %d,\n\tPOLLOUT = %d,\n"
	       "\tPOLLERR = %d\n};\n", NMK_ERRBUF_SIZE, NMK_VALE_BROADCAST, NMK_VALE_DROP,
	       NS_BUF_CHANGED, NS_MOREFRAG, POLLIN, POLLOUT, POLLERR);
}

static void sizes(void)
{
#define S(T) printf("\t[\"%s\"] = %zu,\n", #T, sizeof(T))
	printf("{\n");
	S(struct netmap_slot);
	S(struct nmk_port_info);
	S(struct nmk_vale_stats);
	S(struct nmk_vale_entry);
	S(struct nmk_vale_conf);
	S(struct pollfd);
	S(struct nmlua_ring);
	S(struct nmlua_counter);
	S(struct nmlua_hist);
	printf("}\n");
#undef S
}

int main(int argc, char **argv)
{
	if (argc == 2 && strcmp(argv[1], "structs") == 0)
		structs();
	else if (argc == 2 && strcmp(argv[1], "sizes") == 0)
		sizes();
	else {
		fprintf(stderr, "usage: gen-cdefs structs|sizes\n");
		return 2;
	}
	return failed;
}
