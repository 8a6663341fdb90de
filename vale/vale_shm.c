/*
 * vale_shm.c - the layout of a switch section (see vale_shm.h).
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <errno.h>

#include "learn.h"
#include "vale_shm.h"

int nmk_vale_layout(uint32_t max_ports, uint32_t learn_entries, struct nmk_vale_layout *out)
{
	size_t learn = nmk_learn_table_bytes(learn_entries);

	if (max_ports == 0 || max_ports > 65536 || learn == 0)
		return -EINVAL;
	out->max_ports = max_ports;
	out->learn_entries = learn_entries;
	out->ports_off = sizeof(struct nmk_vale_hdr);
	/* The learning table on its own page, 64-byte buckets aligned. */
	out->learn_off = (out->ports_off + (uint64_t)max_ports * sizeof(struct nmk_vale_port) +
			  4095) & ~(uint64_t)4095;
	out->bytes = out->learn_off + learn;
	return 0;
}
