/*
 * test_abi.c - run-time checks of nmkit's rendering of the netmap ABI.
 *
 * <net/netmap.h> and <net/netmap_user.h> under libnm/include/nmkit/compat
 * are nmkit's own rendering of netmap's ABI facts (NETMAP_API 14).  The
 * headers pin their layouts with static assertions; this test checks the
 * same figures again at run time, so that a dialect where the static
 * assertions compile to nothing (pre-C11) is still covered and a failure
 * names the exact field.  It also exercises the user helpers on a small
 * fake region laid out the way netmap lays one out: netmap_if, then
 * rings, then buffers, all found through offsets.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdalign.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <net/netmap.h>
#include <net/netmap_user.h>

/* The reference figures are LP64 ones (see the comment in netmap.h). */
#if defined(__LP64__) || defined(_LP64)
#define ABI_LP64 1
#else
#define ABI_LP64 0
#endif

/* Only Linux's generic _IOC encoding gives the reference's numbers. */
#if defined(__linux__) && (defined(__x86_64__) || defined(__i386__) || \
    defined(__aarch64__) || defined(__arm__) || defined(__riscv) || \
    defined(__s390__) || defined(__loongarch__))
#define ABI_LINUX_IOC 1
#else
#define ABI_LINUX_IOC 0
#endif

#define SIZE(type, n)		assert_int_equal(sizeof(struct type), (n))
#define OFF(type, field, n)	assert_int_equal(offsetof(struct type, field), (n))
#define ALIGN(type, n)		assert_int_equal(alignof(struct type), (n))

/*
 * The fake region stands in for the kernel, which alone writes the const
 * fields of rings and interfaces; so does this test, through a cast.
 */
#define SET_RO(lvalue, value) \
	do { \
		__typeof__(lvalue) set_ro_v_ = (value); \
		memcpy((void *)(uintptr_t)&(lvalue), &set_ro_v_, sizeof(set_ro_v_)); \
	} while (0)

/* ---------------------------------------------------------------------- */
/* Constants */

static void test_versions_and_limits(void **state)
{
	(void)state;
	assert_int_equal(NETMAP_API, 14);
	assert_int_equal(NETMAP_MIN_API, 14);
	assert_int_equal(NETMAP_MAX_API, 15);
	assert_int_equal(NM_CACHE_ALIGN, 128);
	assert_int_equal(NETMAP_MAX_FRAGS, 64);
	assert_int_equal(NETMAP_REQ_IFNAMSIZ, 64);
	assert_int_equal(NETMAP_REQ_MAXSIZE, 4096);
	assert_string_equal(NM_BDG_NAME, "vale");
	assert_string_equal(NETMAP_DEVICE_NAME, "/dev/netmap");
}

static void test_slot_and_ring_flags(void **state)
{
	struct netmap_slot s;

	(void)state;
	assert_int_equal(NS_BUF_CHANGED, 0x1);
	assert_int_equal(NS_REPORT, 0x2);
	assert_int_equal(NS_FORWARD, 0x4);
	assert_int_equal(NS_NO_LEARN, 0x8);
	assert_int_equal(NS_INDIRECT, 0x10);
	assert_int_equal(NS_MOREFRAG, 0x20);
	assert_int_equal(NS_TXMON, 0x40);
	assert_int_equal(NS_PORT_SHIFT, 8);
	assert_int_equal(NS_PORT_MASK, 0xff00);

	/* The fragment count is the high byte, whatever the low flags are. */
	memset(&s, 0, sizeof(s));
	s.flags = (uint16_t)(5 << 8) | NS_MOREFRAG | NS_BUF_CHANGED;
	assert_int_equal(NS_RFRAGS(&s), 5);
	s.flags = 0xff00;
	assert_int_equal(NS_RFRAGS(&s), 255);
	s.flags = NS_MOREFRAG;
	assert_int_equal(NS_RFRAGS(&s), 0);

	assert_int_equal(NR_TIMESTAMP, 0x2);
	assert_int_equal(NR_FORWARD, 0x4);
	assert_int_equal(NI_PRIV_MEM, 0x1);
}

static void test_request_types(void **state)
{
	(void)state;
	assert_int_equal(NETMAP_REQ_REGISTER, 1);
	assert_int_equal(NETMAP_REQ_PORT_INFO_GET, 2);
	assert_int_equal(NETMAP_REQ_VALE_ATTACH, 3);
	assert_int_equal(NETMAP_REQ_VALE_DETACH, 4);
	assert_int_equal(NETMAP_REQ_VALE_LIST, 5);
	assert_int_equal(NETMAP_REQ_PORT_HDR_SET, 6);
	assert_int_equal(NETMAP_REQ_PORT_HDR_GET, 7);
	assert_int_equal(NETMAP_REQ_VALE_NEWIF, 8);
	assert_int_equal(NETMAP_REQ_VALE_DELIF, 9);
	assert_int_equal(NETMAP_REQ_VALE_POLLING_ENABLE, 10);
	assert_int_equal(NETMAP_REQ_VALE_POLLING_DISABLE, 11);
	assert_int_equal(NETMAP_REQ_POOLS_INFO_GET, 12);
	assert_int_equal(NETMAP_REQ_SYNC_KLOOP_START, 13);
	assert_int_equal(NETMAP_REQ_SYNC_KLOOP_STOP, 14);
	assert_int_equal(NETMAP_REQ_CSB_ENABLE, 15);

	assert_int_equal(NETMAP_REQ_OPT_EXTMEM, 1);
	assert_int_equal(NETMAP_REQ_OPT_SYNC_KLOOP_EVENTFDS, 2);
	assert_int_equal(NETMAP_REQ_OPT_CSB, 3);
	assert_int_equal(NETMAP_REQ_OPT_SYNC_KLOOP_MODE, 4);
	assert_int_equal(NETMAP_REQ_OPT_OFFSETS, 5);
	assert_int_equal(NETMAP_REQ_OPT_MAX, 6);
	assert_int_equal(NM_OPT_SYNC_KLOOP_DIRECT_TX, 1);
	assert_int_equal(NM_OPT_SYNC_KLOOP_DIRECT_RX, 2);
}

static void test_modes_and_flags(void **state)
{
	(void)state;
	assert_int_equal(NR_REG_DEFAULT, 0);
	assert_int_equal(NR_REG_ALL_NIC, 1);
	assert_int_equal(NR_REG_SW, 2);
	assert_int_equal(NR_REG_NIC_SW, 3);
	assert_int_equal(NR_REG_ONE_NIC, 4);
	assert_int_equal(NR_REG_PIPE_MASTER, 5);
	assert_int_equal(NR_REG_PIPE_SLAVE, 6);
	assert_int_equal(NR_REG_NULL, 7);
	assert_int_equal(NR_REG_ONE_SW, 8);

	assert_int_equal(NR_MONITOR_TX, 0x100);
	assert_int_equal(NR_MONITOR_RX, 0x200);
	assert_int_equal(NR_ZCOPY_MON, 0x400);
	assert_int_equal(NR_EXCLUSIVE, 0x800);
	assert_int_equal(NR_RX_RINGS_ONLY, 0x2000);
	assert_int_equal(NR_TX_RINGS_ONLY, 0x4000);
	assert_int_equal(NR_ACCEPT_VNET_HDR, 0x8000);
	assert_int_equal(NR_DO_RX_POLL, 0x10000);
	assert_int_equal(NR_NO_TX_POLL, 0x20000);

	assert_int_equal(NETMAP_POLLING_MODE_SINGLE_CPU, 1);
	assert_int_equal(NETMAP_POLLING_MODE_MULTI_CPU, 2);
}

static void test_legacy_constants(void **state)
{
	(void)state;
	assert_int_equal(NETMAP_HW_RING, 0x4000);
	assert_int_equal(NETMAP_SW_RING, 0x2000);
	assert_int_equal(NETMAP_RING_MASK, 0x0fff);
	assert_int_equal(NETMAP_NO_TX_POLL, 0x1000);
	assert_int_equal(NETMAP_DO_RX_POLL, 0x8000);
	assert_int_equal(NR_REG_MASK, 0xf);

	assert_int_equal(NETMAP_BDG_ATTACH, 1);
	assert_int_equal(NETMAP_BDG_DETACH, 2);
	assert_int_equal(NETMAP_BDG_REGOPS, 3);
	assert_int_equal(NETMAP_BDG_LIST, 4);
	assert_int_equal(NETMAP_BDG_VNET_HDR, 5);
	assert_int_equal(NETMAP_BDG_NEWIF, 6);
	assert_int_equal(NETMAP_BDG_DELIF, 7);
	assert_int_equal(NETMAP_PT_HOST_CREATE, 8);
	assert_int_equal(NETMAP_PT_HOST_DELETE, 9);
	assert_int_equal(NETMAP_BDG_POLLING_ON, 10);
	assert_int_equal(NETMAP_BDG_POLLING_OFF, 11);
	assert_int_equal(NETMAP_VNET_HDR_GET, 12);
	assert_int_equal(NETMAP_BDG_HOST, 1);
	assert_int_equal(NM_IFRDATA_LEN, 256);
}

/* ---------------------------------------------------------------------- */
/* Layouts (reference §1.2) */

static void test_shared_memory_layout(void **state)
{
	(void)state;
	if (!ABI_LP64)
		skip();

	SIZE(netmap_slot, 16);
	ALIGN(netmap_slot, 8);
	OFF(netmap_slot, buf_idx, 0);
	OFF(netmap_slot, len, 4);
	OFF(netmap_slot, flags, 6);
	OFF(netmap_slot, ptr, 8);

	SIZE(netmap_ring, 256);
	ALIGN(netmap_ring, 128);
	OFF(netmap_ring, buf_ofs, 0);
	OFF(netmap_ring, num_slots, 8);
	OFF(netmap_ring, nr_buf_size, 12);
	OFF(netmap_ring, ringid, 16);
	OFF(netmap_ring, dir, 18);
	OFF(netmap_ring, head, 20);
	OFF(netmap_ring, cur, 24);
	OFF(netmap_ring, tail, 28);
	OFF(netmap_ring, flags, 32);
	OFF(netmap_ring, ts, 40);
	assert_int_equal(sizeof(((struct netmap_ring *)0)->ts), 16);
	OFF(netmap_ring, offset_mask, 56);
	OFF(netmap_ring, buf_align, 64);
	OFF(netmap_ring, sem, 128);
	assert_int_equal(sizeof(((struct netmap_ring *)0)->sem), 128);
	OFF(netmap_ring, slot, 256);

	SIZE(netmap_if, 56);
	OFF(netmap_if, ni_name, 0);
	assert_int_equal(sizeof(((struct netmap_if *)0)->ni_name), 16);
	OFF(netmap_if, ni_version, 16);
	OFF(netmap_if, ni_flags, 20);
	OFF(netmap_if, ni_tx_rings, 24);
	OFF(netmap_if, ni_rx_rings, 28);
	OFF(netmap_if, ni_bufs_head, 32);
	OFF(netmap_if, ni_host_tx_rings, 36);
	OFF(netmap_if, ni_host_rx_rings, 40);
	OFF(netmap_if, ni_spare1, 44);
	OFF(netmap_if, ring_ofs, 56);
	assert_int_equal(sizeof(((struct netmap_if *)0)->ring_ofs[0]), 8);
}

static void test_request_layout(void **state)
{
	(void)state;
	if (!ABI_LP64)
		skip();

	SIZE(nmreq_option, 24);
	OFF(nmreq_option, nro_next, 0);
	OFF(nmreq_option, nro_reqtype, 8);
	OFF(nmreq_option, nro_status, 12);
	OFF(nmreq_option, nro_size, 16);

	SIZE(nmreq_header, 88);
	OFF(nmreq_header, nr_version, 0);
	OFF(nmreq_header, nr_reqtype, 2);
	OFF(nmreq_header, nr_reserved, 4);
	OFF(nmreq_header, nr_name, 8);
	assert_int_equal(sizeof(((struct nmreq_header *)0)->nr_name), 64);
	OFF(nmreq_header, nr_options, 72);
	OFF(nmreq_header, nr_body, 80);

	SIZE(nmreq_register, 56);
	OFF(nmreq_register, nr_offset, 0);
	OFF(nmreq_register, nr_memsize, 8);
	OFF(nmreq_register, nr_tx_slots, 16);
	OFF(nmreq_register, nr_rx_slots, 20);
	OFF(nmreq_register, nr_tx_rings, 24);
	OFF(nmreq_register, nr_rx_rings, 26);
	OFF(nmreq_register, nr_host_tx_rings, 28);
	OFF(nmreq_register, nr_host_rx_rings, 30);
	OFF(nmreq_register, nr_mem_id, 32);
	OFF(nmreq_register, nr_ringid, 34);
	OFF(nmreq_register, nr_mode, 36);
	OFF(nmreq_register, nr_extra_bufs, 40);
	OFF(nmreq_register, nr_flags, 48);

	SIZE(nmreq_port_info_get, 32);
	OFF(nmreq_port_info_get, nr_memsize, 0);
	OFF(nmreq_port_info_get, nr_tx_slots, 8);
	OFF(nmreq_port_info_get, nr_rx_slots, 12);
	OFF(nmreq_port_info_get, nr_tx_rings, 16);
	OFF(nmreq_port_info_get, nr_rx_rings, 18);
	OFF(nmreq_port_info_get, nr_host_tx_rings, 20);
	OFF(nmreq_port_info_get, nr_host_rx_rings, 22);
	OFF(nmreq_port_info_get, nr_mem_id, 24);
	OFF(nmreq_port_info_get, pad, 26);

	SIZE(nmreq_vale_attach, 64);
	OFF(nmreq_vale_attach, reg, 0);
	OFF(nmreq_vale_attach, port_index, 56);
	OFF(nmreq_vale_attach, pad1, 60);

	SIZE(nmreq_vale_detach, 8);
	OFF(nmreq_vale_detach, port_index, 0);
	OFF(nmreq_vale_detach, pad1, 4);

	SIZE(nmreq_vale_list, 8);
	OFF(nmreq_vale_list, nr_bridge_idx, 0);
	OFF(nmreq_vale_list, pad1, 2);
	OFF(nmreq_vale_list, nr_port_idx, 4);

	SIZE(nmreq_port_hdr, 8);
	OFF(nmreq_port_hdr, nr_hdr_len, 0);
	OFF(nmreq_port_hdr, pad1, 4);

	SIZE(nmreq_vale_newif, 16);
	OFF(nmreq_vale_newif, nr_tx_slots, 0);
	OFF(nmreq_vale_newif, nr_rx_slots, 4);
	OFF(nmreq_vale_newif, nr_tx_rings, 8);
	OFF(nmreq_vale_newif, nr_rx_rings, 10);
	OFF(nmreq_vale_newif, nr_mem_id, 12);
	OFF(nmreq_vale_newif, pad1, 14);

	SIZE(nmreq_vale_polling, 16);
	OFF(nmreq_vale_polling, nr_mode, 0);
	OFF(nmreq_vale_polling, nr_first_cpu_id, 4);
	OFF(nmreq_vale_polling, nr_num_polling_cpus, 8);
	OFF(nmreq_vale_polling, pad1, 12);

	SIZE(nmreq_pools_info, 64);
	OFF(nmreq_pools_info, nr_memsize, 0);
	OFF(nmreq_pools_info, nr_mem_id, 8);
	OFF(nmreq_pools_info, pad1, 10);
	OFF(nmreq_pools_info, nr_if_pool_offset, 16);
	OFF(nmreq_pools_info, nr_if_pool_objtotal, 24);
	OFF(nmreq_pools_info, nr_if_pool_objsize, 28);
	OFF(nmreq_pools_info, nr_ring_pool_offset, 32);
	OFF(nmreq_pools_info, nr_ring_pool_objtotal, 40);
	OFF(nmreq_pools_info, nr_ring_pool_objsize, 44);
	OFF(nmreq_pools_info, nr_buf_pool_offset, 48);
	OFF(nmreq_pools_info, nr_buf_pool_objtotal, 56);
	OFF(nmreq_pools_info, nr_buf_pool_objsize, 60);

	SIZE(nmreq_sync_kloop_start, 8);
	OFF(nmreq_sync_kloop_start, sleep_us, 0);
	SIZE(nm_csb_atok, 64);
	SIZE(nm_csb_ktoa, 64);
}

static void test_option_layout(void **state)
{
	(void)state;
	if (!ABI_LP64)
		skip();

	SIZE(nmreq_opt_extmem, 96);
	OFF(nmreq_opt_extmem, nro_opt, 0);
	OFF(nmreq_opt_extmem, nro_usrptr, 24);
	OFF(nmreq_opt_extmem, nro_info, 32);

	SIZE(nmreq_opt_csb, 40);
	OFF(nmreq_opt_csb, nro_opt, 0);
	OFF(nmreq_opt_csb, csb_atok, 24);
	OFF(nmreq_opt_csb, csb_ktoa, 32);

	SIZE(nmreq_opt_offsets, 56);
	OFF(nmreq_opt_offsets, nro_opt, 0);
	OFF(nmreq_opt_offsets, nro_max_offset, 24);
	OFF(nmreq_opt_offsets, nro_initial_offset, 32);
	OFF(nmreq_opt_offsets, nro_offset_bits, 40);
	OFF(nmreq_opt_offsets, nro_tx_align, 44);
	OFF(nmreq_opt_offsets, nro_min_gap, 48);

	/* 24 bytes of header, then N x {ioeventfd, irqfd}. */
	SIZE(nmreq_opt_sync_kloop_eventfds, 24);
	OFF(nmreq_opt_sync_kloop_eventfds, nro_opt, 0);
	OFF(nmreq_opt_sync_kloop_eventfds, eventfds, 24);
	assert_int_equal(sizeof(((struct nmreq_opt_sync_kloop_eventfds *)0)->eventfds[0]), 8);
	assert_int_equal(offsetof(struct nmreq_opt_sync_kloop_eventfds, eventfds[1].irqfd), 24 + 8 + 4);

	SIZE(nmreq_opt_sync_kloop_mode, 32);
	OFF(nmreq_opt_sync_kloop_mode, nro_opt, 0);
	OFF(nmreq_opt_sync_kloop_mode, mode, 24);
}

static void test_legacy_layout(void **state)
{
	(void)state;
	if (!ABI_LP64)
		skip();

	SIZE(nmreq, 60);
	ALIGN(nmreq, 4);
	OFF(nmreq, nr_name, 0);
	assert_int_equal(sizeof(((struct nmreq *)0)->nr_name), 16);
	OFF(nmreq, nr_version, 16);
	OFF(nmreq, nr_offset, 20);
	OFF(nmreq, nr_memsize, 24);
	OFF(nmreq, nr_tx_slots, 28);
	OFF(nmreq, nr_rx_slots, 32);
	OFF(nmreq, nr_tx_rings, 36);
	OFF(nmreq, nr_rx_rings, 38);
	OFF(nmreq, nr_ringid, 40);
	OFF(nmreq, nr_cmd, 42);
	OFF(nmreq, nr_arg1, 44);
	OFF(nmreq, nr_arg2, 46);
	OFF(nmreq, nr_arg3, 48);
	OFF(nmreq, nr_flags, 52);
	OFF(nmreq, spare2, 56);

	SIZE(nm_ifreq, 272);
	OFF(nm_ifreq, nifr_name, 0);
	OFF(nm_ifreq, data, 16);
}

/* Reference §1.3. */
static void test_ioctl_numbers(void **state)
{
	(void)state;
	if (!ABI_LINUX_IOC)
		skip();
	assert_int_equal(NIOCGINFO, 0xc03c6991u);
	assert_int_equal(NIOCREGIF, 0xc03c6992u);
	assert_int_equal(NIOCTXSYNC, 0x6994u);
	assert_int_equal(NIOCRXSYNC, 0x6995u);
	assert_int_equal(NIOCCONFIG, 0xc1106996u);
	assert_int_equal(NIOCCTRL, 0xc0586997u);
}

/* ---------------------------------------------------------------------- */
/* A fake region: netmap_if at 0, rings from page 1, buffers from page 4. */

#define FAKE_PAGE	4096u
#define FAKE_SLOTS	8u
#define FAKE_RING_SIZE	1024u		/* >= 256 + 16 * FAKE_SLOTS */
#define FAKE_RING_OFF	FAKE_PAGE
#define FAKE_BUF_OFF	(4u * FAKE_PAGE)
#define FAKE_BUF_SIZE	2048u
#define FAKE_NBUFS	8u
#define FAKE_SIZE	(FAKE_BUF_OFF + FAKE_NBUFS * FAKE_BUF_SIZE)

/* Rings, in ring_ofs[] order: NIC tx 0-1, host tx, NIC rx 0, host rx. */
#define FAKE_TX		2u
#define FAKE_HOST_TX	1u
#define FAKE_RX		1u
#define FAKE_HOST_RX	1u
#define FAKE_NRINGS	(FAKE_TX + FAKE_HOST_TX + FAKE_RX + FAKE_HOST_RX)

static struct netmap_ring *fake_ring_at(char *base, unsigned k)
{
	return (struct netmap_ring *)(void *)(base + FAKE_RING_OFF + k * FAKE_RING_SIZE);
}

static int fake_region_setup(void **state)
{
	char *base = aligned_alloc(FAKE_PAGE, FAKE_SIZE);
	struct netmap_if *nifp;

	if (base == NULL)
		return -1;
	memset(base, 0, FAKE_SIZE);

	nifp = (struct netmap_if *)(void *)base;
	snprintf(nifp->ni_name, sizeof(nifp->ni_name), "fake0");
	SET_RO(nifp->ni_tx_rings, FAKE_TX);
	SET_RO(nifp->ni_rx_rings, FAKE_RX);
	SET_RO(nifp->ni_host_tx_rings, FAKE_HOST_TX);
	SET_RO(nifp->ni_host_rx_rings, FAKE_HOST_RX);

	for (unsigned k = 0; k < FAKE_NRINGS; k++) {
		struct netmap_ring *ring = fake_ring_at(base, k);
		uint64_t ring_off = FAKE_RING_OFF + (uint64_t)k * FAKE_RING_SIZE;
		int is_rx = k >= FAKE_TX + FAKE_HOST_TX;

		/* Offsets relative to the nifp and to each ring, as netmap does. */
		SET_RO(nifp->ring_ofs[k], (ssize_t)ring_off);
		SET_RO(ring->buf_ofs, (int64_t)(FAKE_BUF_OFF - ring_off));
		SET_RO(ring->num_slots, FAKE_SLOTS);
		SET_RO(ring->nr_buf_size, FAKE_BUF_SIZE);
		SET_RO(ring->ringid, (uint16_t)k);
		SET_RO(ring->dir, (uint16_t)is_rx);
		SET_RO(ring->tail, is_rx ? 0 : FAKE_SLOTS - 1);
		for (unsigned i = 0; i < FAKE_SLOTS; i++) {
			ring->slot[i].buf_idx = 2 + (i % (FAKE_NBUFS - 2));
			ring->slot[i].len = FAKE_BUF_SIZE;
		}
	}
	*state = base;
	return 0;
}

static int fake_region_teardown(void **state)
{
	free(*state);
	return 0;
}

static void test_if_and_ring_lookup(void **state)
{
	char *base = *state;
	struct netmap_if *nifp = NETMAP_IF(base, 0);

	assert_ptr_equal(nifp, base);
	assert_string_equal(nifp->ni_name, "fake0");
	/* The offset is in bytes from the mapping's base. */
	assert_ptr_equal(NETMAP_IF(base, FAKE_RING_OFF), fake_ring_at(base, 0));

	/* Tx indexes cover NIC then host tx rings. */
	assert_ptr_equal(NETMAP_TXRING(nifp, 0), fake_ring_at(base, 0));
	assert_ptr_equal(NETMAP_TXRING(nifp, 1), fake_ring_at(base, 1));
	assert_ptr_equal(NETMAP_TXRING(nifp, FAKE_TX), fake_ring_at(base, 2));
	/* Rx indexes skip every tx entry, host ones included. */
	assert_ptr_equal(NETMAP_RXRING(nifp, 0), fake_ring_at(base, 3));
	assert_ptr_equal(NETMAP_RXRING(nifp, FAKE_RX), fake_ring_at(base, 4));

	assert_int_equal(NETMAP_TXRING(nifp, 1)->ringid, 1);
	assert_int_equal(NETMAP_TXRING(nifp, 1)->dir, 0);
	assert_int_equal(NETMAP_RXRING(nifp, 0)->dir, 1);
	/* Rings are cache aligned in the region, as the allocator keeps them. */
	assert_int_equal((uintptr_t)NETMAP_RXRING(nifp, 0) % NM_CACHE_ALIGN, 0);
}

static void test_buffers(void **state)
{
	char *base = *state;
	struct netmap_if *nifp = NETMAP_IF(base, 0);
	struct netmap_ring *tx = NETMAP_TXRING(nifp, 0);
	struct netmap_ring *rx = NETMAP_RXRING(nifp, 0);
	char *b3 = base + FAKE_BUF_OFF + 3 * FAKE_BUF_SIZE;

	/* Every ring of the region resolves an index to the same buffer. */
	assert_ptr_equal(NETMAP_BUF(tx, 3), b3);
	assert_ptr_equal(NETMAP_BUF(rx, 3), b3);
	assert_ptr_equal(NETMAP_BUF(tx, 0), base + FAKE_BUF_OFF);
	assert_ptr_equal(NETMAP_BUF(tx, tx->slot[1].buf_idx),
	    base + FAKE_BUF_OFF + 3 * FAKE_BUF_SIZE);

	/* And back, from the start or from inside the buffer. */
	assert_int_equal(NETMAP_BUF_IDX(tx, b3), 3);
	assert_int_equal(NETMAP_BUF_IDX(rx, b3 + 100), 3);
	assert_int_equal(NETMAP_BUF_IDX(rx, b3 + FAKE_BUF_SIZE - 1), 3);
	assert_int_equal(NETMAP_BUF_IDX(tx, NETMAP_BUF(rx, FAKE_NBUFS - 1)), FAKE_NBUFS - 1);

	/* Index arithmetic is done in size_t, not 32 bits. */
	assert_ptr_equal(NETMAP_BUF(tx, 0x400000u),
	    (char *)tx + tx->buf_ofs + (size_t)0x400000u * FAKE_BUF_SIZE);
}

static void test_offsets(void **state)
{
	char *base = *state;
	struct netmap_ring *tx = NETMAP_TXRING(NETMAP_IF(base, 0), 0);
	struct netmap_slot *slot = &tx->slot[0];

	/* Without OPT_OFFSETS the mask is 0: ptr never moves the buffer. */
	slot->ptr = 0x1234;
	assert_int_equal(NETMAP_ROFFSET(tx, slot), 0);
	assert_ptr_equal(NETMAP_BUF_OFFSET(tx, slot), NETMAP_BUF(tx, slot->buf_idx));
	NETMAP_WOFFSET(tx, slot, 64);
	assert_int_equal(slot->ptr, 0x1234);

	SET_RO(tx->offset_mask, (uint64_t)0xfff);
	slot->ptr = 0xabc000;
	NETMAP_WOFFSET(tx, slot, 66);
	assert_int_equal(slot->ptr, 0xabc000 | 66);
	assert_int_equal(NETMAP_ROFFSET(tx, slot), 66);
	assert_ptr_equal(NETMAP_BUF_OFFSET(tx, slot), NETMAP_BUF(tx, slot->buf_idx) + 66);
	/* Bits outside the mask neither leak in nor get cleared. */
	NETMAP_WOFFSET(tx, slot, 0x10005);
	assert_int_equal(slot->ptr, 0xabc005);
	SET_RO(tx->offset_mask, (uint64_t)0);
	slot->ptr = 0;
}

/* ---------------------------------------------------------------------- */
/* Ring index helpers */

static void test_ring_next(void **state)
{
	struct netmap_ring *tx = NETMAP_TXRING(NETMAP_IF((char *)*state, 0), 0);

	assert_int_equal(nm_ring_next(tx, 0), 1);
	assert_int_equal(nm_ring_next(tx, FAKE_SLOTS - 2), FAKE_SLOTS - 1);
	assert_int_equal(nm_ring_next(tx, FAKE_SLOTS - 1), 0);

	/* Walking num_slots steps comes back to the start. */
	uint32_t i = 5;
	for (unsigned n = 0; n < FAKE_SLOTS; n++)
		i = nm_ring_next(tx, i);
	assert_int_equal(i, 5);
}

static void test_ring_space_and_pending(void **state)
{
	struct netmap_if *nifp = NETMAP_IF((char *)*state, 0);
	struct netmap_ring *tx = NETMAP_TXRING(nifp, 0);
	struct netmap_ring *rx = NETMAP_RXRING(nifp, 0);

	/* Fresh tx ring: all but one slot free, nothing pending. */
	assert_int_equal(tx->head, 0);
	assert_int_equal(tx->tail, FAKE_SLOTS - 1);
	assert_int_equal(nm_ring_space(tx), FAKE_SLOTS - 1);
	assert_false(nm_ring_empty(tx));
	assert_false(nm_tx_pending(tx));

	/* Queue three packets: less space, and now pending. */
	tx->head = tx->cur = 3;
	assert_int_equal(nm_ring_space(tx), FAKE_SLOTS - 4);
	assert_true(nm_tx_pending(tx));

	/* Fill it: no space, the ring is "empty" for the user. */
	tx->head = tx->cur = FAKE_SLOTS - 1;
	assert_int_equal(nm_ring_space(tx), 0);
	assert_true(nm_ring_empty(tx));

	/* cur ahead of head (waiting for room) changes neither answer. */
	tx->head = 3;
	tx->cur = FAKE_SLOTS - 1;
	assert_int_equal(nm_ring_space(tx), FAKE_SLOTS - 4);
	assert_false(nm_ring_empty(tx));

	/* Wrapped: tail behind head. */
	SET_RO(tx->tail, 2u);
	tx->head = tx->cur = 6;
	assert_int_equal(nm_ring_space(tx), 4);
	assert_true(nm_tx_pending(tx));
	/* Everything sent: head == tail + 1, also across the wrap. */
	tx->head = tx->cur = 3;
	assert_false(nm_tx_pending(tx));
	SET_RO(tx->tail, FAKE_SLOTS - 1);
	tx->head = tx->cur = 0;
	assert_false(nm_tx_pending(tx));

	/* Fresh rx ring: empty, no space. */
	assert_true(nm_ring_empty(rx));
	assert_int_equal(nm_ring_space(rx), 0);
	SET_RO(rx->tail, 5u);
	assert_false(nm_ring_empty(rx));
	assert_int_equal(nm_ring_space(rx), 5);
	rx->head = rx->cur = 5;
	assert_true(nm_ring_empty(rx));
	SET_RO(rx->tail, 1u);
	assert_int_equal(nm_ring_space(rx), FAKE_SLOTS - 4);
	rx->head = rx->cur = 0;
	SET_RO(rx->tail, 0u);
}

static void test_pkt_copy(void **state)
{
	static const int lens[] = { 0, 1, 60, 64, 128, 960, 1000, 1024, 1088, 1514, 2048 };
	unsigned char src[2048 + 64], dst[2048 + 64];

	(void)state;
	for (size_t i = 0; i < sizeof(src); i++)
		src[i] = (unsigned char)(i * 7 + 1);
	for (size_t k = 0; k < sizeof(lens) / sizeof(lens[0]); k++) {
		int len = lens[k];

		memset(dst, 0xee, sizeof(dst));
		nm_pkt_copy(src, dst, len);
		if (len > 0)
			assert_memory_equal(dst, src, (size_t)len);
		/* Exactly len bytes: the byte after is untouched. */
		assert_int_equal(dst[len], 0xee);
	}
	/* A negative length is a no-op rather than a huge memcpy. */
	memset(dst, 0xee, sizeof(dst));
	nm_pkt_copy(src, dst, -64);
	assert_int_equal(dst[0], 0xee);
}

/* D() and RD() write to stderr: capture it in a file for a moment. */
static char *capture_stderr(void (*fn)(void))
{
	FILE *tmp = tmpfile();
	int saved;
	long n;
	char *out;

	assert_non_null(tmp);
	fflush(stderr);
	saved = dup(STDERR_FILENO);
	assert_true(saved >= 0);
	assert_true(dup2(fileno(tmp), STDERR_FILENO) >= 0);
	fn();
	fflush(stderr);
	dup2(saved, STDERR_FILENO);
	close(saved);

	/* Written through the descriptor, so ask it, not the FILE. */
	n = (long)lseek(fileno(tmp), 0, SEEK_END);
	assert_true(n >= 0);
	out = calloc(1, (size_t)n + 1);
	assert_non_null(out);
	rewind(tmp);
	assert_int_equal(fread(out, 1, (size_t)n, tmp), (size_t)n);
	fclose(tmp);
	return out;
}

static void log_once(void)
{
	D("hello %d", 42);
	ND("never %d", 1);
	D("plain");
}

static void log_burst(void)
{
	for (int i = 0; i < 50; i++)
		RD(2, "burst %d", i);
}

static unsigned count_lines(const char *s)
{
	unsigned n = 0;

	for (; *s != '\0'; s++)
		n += *s == '\n';
	return n;
}

static void test_logging(void **state)
{
	char *out;
	unsigned a, b, c, d;
	char func[64], msg[64];
	int line;

	(void)state;
	out = capture_stderr(log_once);
	assert_int_equal(count_lines(out), 2);
	/* "SSS.UUUUUU function [line] message" */
	assert_int_equal(sscanf(out, "%1u%1u%1u.%6u %63s [%d] %63[^\n]", &a, &b, &c, &d, func, &line, msg), 7);
	assert_string_equal(func, "log_once");
	assert_true(line > 0);
	assert_string_equal(msg, "hello 42");
	assert_non_null(strstr(out, "] plain\n"));
	assert_null(strstr(out, "never"));
	free(out);

	/* At most 2 a second; a burst may straddle one second boundary. */
	out = capture_stderr(log_burst);
	assert_in_range(count_lines(out), 2, 4);
	assert_non_null(strstr(out, "burst 0\n"));
	free(out);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_versions_and_limits),
		cmocka_unit_test(test_slot_and_ring_flags),
		cmocka_unit_test(test_request_types),
		cmocka_unit_test(test_modes_and_flags),
		cmocka_unit_test(test_legacy_constants),
		cmocka_unit_test(test_shared_memory_layout),
		cmocka_unit_test(test_request_layout),
		cmocka_unit_test(test_option_layout),
		cmocka_unit_test(test_legacy_layout),
		cmocka_unit_test(test_ioctl_numbers),
		cmocka_unit_test_setup_teardown(test_if_and_ring_lookup,
		    fake_region_setup, fake_region_teardown),
		cmocka_unit_test_setup_teardown(test_buffers,
		    fake_region_setup, fake_region_teardown),
		cmocka_unit_test_setup_teardown(test_offsets,
		    fake_region_setup, fake_region_teardown),
		cmocka_unit_test_setup_teardown(test_ring_next,
		    fake_region_setup, fake_region_teardown),
		cmocka_unit_test_setup_teardown(test_ring_space_and_pending,
		    fake_region_setup, fake_region_teardown),
		cmocka_unit_test(test_pkt_copy),
		cmocka_unit_test(test_logging),
	};

	return cmocka_run_group_tests_name("abi", tests, NULL, NULL);
}
