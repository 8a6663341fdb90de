/*
 * portspec.h - the netmap port name grammar (reference §3.1).
 *
 *   portspec := subsystem ':' vpname [mode] [options]
 *
 * nmk_portspec_parse() turns a name such as "vale0:a-1/x@conf:rings=2" into
 * the fields netmap's REGISTER request carries.  It is a pure function: no
 * I/O, no global state, so it is unit-tested exhaustively.
 */
#ifndef NMK_PORTSPEC_H
#define NMK_PORTSPEC_H

#include <stddef.h>
#include <stdint.h>

#define NMK_NAME_MAX 64         /* NETMAP_REQ_IFNAMSIZ, including the NUL */

enum nmk_subsys {
	NMK_SUBSYS_NETMAP = 1,  /* "netmap:" (prefix stripped from name) */
	NMK_SUBSYS_VALE   = 2,  /* "valeX:" (kept in name) */
	NMK_SUBSYS_DRIVER = 3,  /* "<driver>:" (afpacket:, tap:, ...; kept in name) */
};

struct nmk_portspec {
	char name[NMK_NAME_MAX];   /* nr_name as netmap sets it */
	int subsys;                /* enum nmk_subsys */

	/* Pipe suffix, when the vpname holds '{' or '}': pipe_type is that
	 * character (0 when not a pipe), pipe_off is the offset in `name` of the
	 * character, so name[0..pipe_off) is the parent and name+pipe_off+1 the
	 * pipe identifier. */
	char pipe_type;
	uint16_t pipe_off;

	/* For VALE names, the offset of the ':' in `name`. */
	uint16_t colon_off;

	uint32_t mode;             /* NR_REG_* */
	uint16_t ringid;
	uint64_t flags;            /* NR_EXCLUSIVE, NR_MONITOR_TX, ... */
	uint16_t mem_id;           /* 0 = not given */

	/* @conf: values, 0 = not given */
	uint32_t tx_rings, rx_rings, host_tx_rings, host_rx_rings;
	uint32_t tx_slots, rx_slots;

	/* @share=<portspec>: the port whose memory this one shares ("" = none) */
	char share[NMK_NAME_MAX * 2];

	/* Driver ports: the prefix ("afpacket"), and the options that are
	 * not netmap's, as "key=value,key=value", for the driver to check. */
	char driver[32];
	char drv_params[256];

	/* @extmem:file=...: the file to map ("" = none) and its pool sizes */
	char extmem_file[256];
	uint32_t extmem_if_num, extmem_if_size, extmem_ring_num, extmem_ring_size;
	uint32_t extmem_buf_num, extmem_buf_size;
};

/*
 * Parse `spec` into `*ps`.  Returns 0, or a negative errno (-EINVAL for a
 * malformed name, -EOPNOTSUPP for a disabled option).  On error, `err` (when
 * not NULL) receives one line that quotes the name and the cause, and
 * `*errpos` (when not NULL) the 0-based index of the offending character in
 * `spec`; `*ps` is left unchanged.
 */
int nmk_portspec_parse(const char *spec, struct nmk_portspec *ps,
		       char *err, size_t errlen, int *errpos);

#endif /* NMK_PORTSPEC_H */
