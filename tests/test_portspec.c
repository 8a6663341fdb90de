/*
 * test_portspec.c - table-driven tests of the netmap port name parser.
 *
 * The tables cover every row of reference §3.2 (the names checked against
 * the real libnetmap), then the option syntax, the kernel's VALE limits
 * (§3.4) and the error reporting contract of portspec.h.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <net/netmap.h>

#include "portspec.h"

/* Long names are built from these, so the lengths are easy to check. */
#define S10 "abcdefghij"
#define S60 S10 S10 S10 S10 S10 S10

static int parse(const char *spec, struct nmk_portspec *ps, char *err,
		 size_t errlen, int *errpos)
{
	memset(ps, 0, sizeof(*ps));
	err[0] = '\0';
	*errpos = -1;
	return nmk_portspec_parse(spec, ps, err, errlen, errpos);
}

/* Parse a name that must be accepted, reporting the message if it is not. */
static void parse_ok(const char *spec, struct nmk_portspec *ps)
{
	char err[256];
	int pos;
	int rc = parse(spec, ps, err, sizeof(err), &pos);

	if (rc != 0)
		fail_msg("\"%s\": rc %d, want 0 (%s)", spec, rc, err);
}

/* ---- accepted names --------------------------------------------------- */

struct ok_case {
	const char *spec;
	const char *name;
	int subsys;
	uint32_t mode;
	uint16_t ringid;
	uint64_t flags;
	uint16_t mem_id;
	char pipe_type;
	uint16_t pipe_off;
	uint16_t colon_off;
};

#define NM NMK_SUBSYS_NETMAP
#define VL NMK_SUBSYS_VALE

static const struct ok_case ok_cases[] = {
	/* §3.2, row by row */
	{ "netmap:eth0", "eth0", NM, NR_REG_ALL_NIC, 0, 0, 0, 0, 0, 0 },
	{ "netmap:eth0-1", "eth0", NM, NR_REG_ONE_NIC, 1, 0, 0, 0, 0, 0 },
	{ "netmap:eth0^", "eth0", NM, NR_REG_SW, 0, 0, 0, 0, 0, 0 },
	{ "netmap:eth0^3", "eth0", NM, NR_REG_ONE_SW, 3, 0, 0, 0, 0, 0 },
	{ "netmap:eth0*", "eth0", NM, NR_REG_NIC_SW, 0, 0, 0, 0, 0, 0 },
	{ "netmap:eth0-2/Tx", "eth0", NM, NR_REG_ONE_NIC, 2,
	  NR_TX_RINGS_ONLY | NR_EXCLUSIVE, 0, 0, 0, 0 },
	{ "netmap:eth0-1/rtz", "eth0", NM, NR_REG_ONE_NIC, 1, 0x700, 0, 0, 0, 0 },
	{ "netmap:eth0/x@3", "eth0", NM, NR_REG_ALL_NIC, 0, NR_EXCLUSIVE, 3,
	  0, 0, 0 },
	{ "netmap:eth0@2/R", "eth0", NM, NR_REG_ALL_NIC, 0, NR_RX_RINGS_ONLY, 2,
	  0, 0, 0 },
	{ "netmap:eth0@conf:rings=4", "eth0", NM, NR_REG_ALL_NIC, 0, 0, 0,
	  0, 0, 0 },
	{ "vale0:a@conf:rings=2,tx-rings=3,slots=256,rx-slots=512", "vale0:a",
	  VL, NR_REG_ALL_NIC, 0, 0, 0, 0, 0, 5 },
	{ "vale:0", "vale:0", VL, NR_REG_ALL_NIC, 0, 0, 0, 0, 0, 4 },
	{ "valeXXX:YYY-4", "valeXXX:YYY", VL, NR_REG_ONE_NIC, 4, 0, 0, 0, 0, 7 },
	{ "netmap:pipe{in-7", "pipe{in", NM, NR_REG_ONE_NIC, 7, 0, 0, '{', 4, 0 },
	{ "vale0:0{0", "vale0:0{0", VL, NR_REG_ALL_NIC, 0, 0, 0, '{', 7, 5 },
	{ "netmap:pipeA}1", "pipeA}1", NM, NR_REG_ALL_NIC, 0, 0, 0, '}', 5, 0 },
	/* "vale0:0/Tx@opt": the name part alone; "@opt" is in err_cases */
	{ "vale0:0/Tx", "vale0:0", VL, NR_REG_ALL_NIC, 0,
	  NR_TX_RINGS_ONLY | NR_EXCLUSIVE, 0, 0, 0, 5 },
	/* The §3.2 discrepancy: base names after "netmap:" are free-form. */
	{ "netmap:eth0&", "eth0&", NM, NR_REG_ALL_NIC, 0, 0, 0, 0, 0, 0 },
	{ "netmap:vale0:0", "vale0:0", NM, NR_REG_ALL_NIC, 0, 0, 0, 0, 0, 0 },
	{ "netmap:a b", "a b", NM, NR_REG_ALL_NIC, 0, 0, 0, 0, 0, 0 },
	{ "netmap:em0.123", "em0.123", NM, NR_REG_ALL_NIC, 0, 0, 0, 0, 0, 0 },
	/* ring numbers: 0 and the largest, 4094, for both suffixes */
	{ "netmap:eth0^0", "eth0", NM, NR_REG_ONE_SW, 0, 0, 0, 0, 0, 0 },
	{ "netmap:eth0^4094", "eth0", NM, NR_REG_ONE_SW, 4094, 0, 0, 0, 0, 0 },
	{ "netmap:eth0-0", "eth0", NM, NR_REG_ONE_NIC, 0, 0, 0, 0, 0, 0 },
	{ "netmap:eth0-4094", "eth0", NM, NR_REG_ONE_NIC, 4094, 0, 0, 0, 0, 0 },
	/* mem id: the same value twice is fine, and the largest fits */
	{ "netmap:eth0@2@2", "eth0", NM, NR_REG_ALL_NIC, 0, 0, 2, 0, 0, 0 },
	{ "netmap:eth0@2/R@2", "eth0", NM, NR_REG_ALL_NIC, 0, NR_RX_RINGS_ONLY,
	  2, 0, 0, 0 },
	{ "netmap:eth0@65535", "eth0", NM, NR_REG_ALL_NIC, 0, 0, 65535, 0, 0, 0 },
	/* a ring suffix followed by flags and mem ids, in any mix */
	{ "netmap:eth0*/x@1", "eth0", NM, NR_REG_NIC_SW, 0, NR_EXCLUSIVE, 1,
	  0, 0, 0 },
	{ "netmap:eth0^/T", "eth0", NM, NR_REG_SW, 0, NR_TX_RINGS_ONLY, 0,
	  0, 0, 0 },
	{ "netmap:eth0^2@4/r", "eth0", NM, NR_REG_ONE_SW, 2, NR_MONITOR_RX, 4,
	  0, 0, 0 },
	{ "netmap:eth0-0@7/rt", "eth0", NM, NR_REG_ONE_NIC, 0,
	  NR_MONITOR_RX | NR_MONITOR_TX, 7, 0, 0, 0 },
	{ "netmap:eth0/x/z", "eth0", NM, NR_REG_ALL_NIC, 0,
	  NR_EXCLUSIVE | NR_ZCOPY_MON, 0, 0, 0, 0 },
	{ "netmap:eth0@2@conf:rings=1", "eth0", NM, NR_REG_ALL_NIC, 0, 0, 2,
	  0, 0, 0 },
	{ "netmap:eth0^@conf:rings=1", "eth0", NM, NR_REG_SW, 0, 0, 0, 0, 0, 0 },
	/* length limits, at the limit */
	{ "netmap:" S60 "abc", S60 "abc", NM, NR_REG_ALL_NIC, 0, 0, 0, 0, 0, 0 },
	{ "vale01234567890:a", "vale01234567890:a", VL, NR_REG_ALL_NIC, 0, 0, 0,
	  0, 0, 15 },
	{ "vale0:abcdefghijklmno", "vale0:abcdefghijklmno", VL, NR_REG_ALL_NIC,
	  0, 0, 0, 0, 0, 5 },
	{ "vale0:a{" S10 S10 S10 S10 S10 "abcde", "vale0:a{" S10 S10 S10 S10 S10
	  "abcde", VL, NR_REG_ALL_NIC, 0, 0, 0, '{', 7, 5 },
	{ "vale_B1:x_Y2}p_3", "vale_B1:x_Y2}p_3", VL, NR_REG_ALL_NIC, 0, 0, 0,
	  '}', 12, 7 },
};

static void test_accepted(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(ok_cases) / sizeof(ok_cases[0]); i++) {
		const struct ok_case *t = &ok_cases[i];
		struct nmk_portspec ps;

		parse_ok(t->spec, &ps);
		if (strcmp(ps.name, t->name) != 0)
			fail_msg("\"%s\": name \"%s\", want \"%s\"", t->spec,
				 ps.name, t->name);
		if (ps.subsys != t->subsys || ps.mode != t->mode ||
		    ps.ringid != t->ringid || ps.flags != t->flags ||
		    ps.mem_id != t->mem_id || ps.pipe_type != t->pipe_type ||
		    ps.pipe_off != t->pipe_off || ps.colon_off != t->colon_off)
			fail_msg("\"%s\": subsys %d mode %u ring %u flags %#llx mem %u pipe %c@%u colon %u",
				 t->spec, ps.subsys, ps.mode, ps.ringid,
				 (unsigned long long)ps.flags, ps.mem_id,
				 ps.pipe_type ? ps.pipe_type : '-', ps.pipe_off,
				 ps.colon_off);
	}
}

/* The pipe fields split the name into parent and pipe id. */
static void test_pipe_fields(void **state)
{
	struct nmk_portspec ps;

	(void)state;
	parse_ok("netmap:pipe{in-7", &ps);
	assert_int_equal(ps.pipe_type, '{');
	assert_int_equal(ps.pipe_off, 4);
	assert_int_equal(strncmp(ps.name, "pipe", ps.pipe_off), 0);
	assert_string_equal(ps.name + ps.pipe_off + 1, "in");
	assert_int_equal(ps.mode, NR_REG_ONE_NIC);
	assert_int_equal(ps.ringid, 7);

	parse_ok("vale0:0}peer", &ps);
	assert_int_equal(ps.pipe_type, '}');
	assert_int_equal(strncmp(ps.name, "vale0:0", ps.pipe_off), 0);
	assert_int_equal(ps.pipe_off, strlen("vale0:0"));
	assert_string_equal(ps.name + ps.pipe_off + 1, "peer");

	parse_ok("netmap:eth0", &ps);
	assert_int_equal(ps.pipe_type, 0);
	assert_int_equal(ps.pipe_off, 0);
}

/* ---- @conf ------------------------------------------------------------ */

struct conf_case {
	const char *spec;
	uint32_t txr, rxr, htxr, hrxr, txs, rxs;
};

static const struct conf_case conf_cases[] = {
	{ "netmap:eth0@conf:rings=4", 4, 4, 0, 0, 0, 0 },
	/* §3.2: the specific keys win over the general ones ... */
	{ "vale0:a@conf:rings=2,tx-rings=3,slots=256,rx-slots=512",
	  3, 2, 0, 0, 256, 512 },
	/* ... whatever the order */
	{ "vale0:a@conf:rx-slots=512,tx-rings=3,slots=256,rings=2",
	  3, 2, 0, 0, 256, 512 },
	{ "netmap:eth0@conf:host-rings=2,host-rx-rings=5", 0, 0, 2, 5, 0, 0 },
	{ "netmap:eth0@conf:host-rx-rings=5,host-rings=2", 0, 0, 2, 5, 0, 0 },
	{ "netmap:eth0@conf:host-rings=3", 0, 0, 3, 3, 0, 0 },
	/* '-' and '_' are the same in key names */
	{ "netmap:eth0@conf:host_rx_rings=5,host_rings=2", 0, 0, 2, 5, 0, 0 },
	{ "netmap:eth0@conf:tx_slots=1024,rx-slots=2048", 0, 0, 0, 0, 1024, 2048 },
	{ "netmap:eth0@conf:host-tx_rings=1,host_rx-rings=2,tx_rings=3,"
	  "rx-rings=4,tx-slots=5,rx_slots=6", 3, 4, 1, 2, 5, 6 },
	/* no keys at all is allowed and changes nothing */
	{ "netmap:eth0@conf", 0, 0, 0, 0, 0, 0 },
	{ "netmap:eth0@conf:slots=4294967295", 0, 0, 0, 0, 4294967295u,
	  4294967295u },
	{ "vale0:a-1/x@1@conf:rings=2", 2, 2, 0, 0, 0, 0 },
};

static void test_conf(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(conf_cases) / sizeof(conf_cases[0]); i++) {
		const struct conf_case *t = &conf_cases[i];
		struct nmk_portspec ps;

		parse_ok(t->spec, &ps);
		if (ps.tx_rings != t->txr || ps.rx_rings != t->rxr ||
		    ps.host_tx_rings != t->htxr || ps.host_rx_rings != t->hrxr ||
		    ps.tx_slots != t->txs || ps.rx_slots != t->rxs)
			fail_msg("\"%s\": rings %u/%u host %u/%u slots %u/%u",
				 t->spec, ps.tx_rings, ps.rx_rings,
				 ps.host_tx_rings, ps.host_rx_rings,
				 ps.tx_slots, ps.rx_slots);
	}
}

/* ---- @share and @extmem ---------------------------------------------- */

static void test_share(void **state)
{
	struct nmk_portspec ps;

	(void)state;
	parse_ok("netmap:eth0", &ps);
	assert_string_equal(ps.share, "");

	parse_ok("netmap:eth0@share=vale0:a", &ps);
	assert_string_equal(ps.name, "eth0");
	assert_string_equal(ps.share, "vale0:a");

	parse_ok("netmap:eth0@share:port=netmap:eth1-2/x", &ps);
	assert_string_equal(ps.share, "netmap:eth1-2/x");

	parse_ok("vale0:x@share=vale0:y@conf:rings=2", &ps);
	assert_string_equal(ps.share, "vale0:y");
	assert_int_equal(ps.tx_rings, 2);
}

static void test_extmem(void **state)
{
	struct nmk_portspec ps;

	(void)state;
	parse_ok("netmap:eth0", &ps);
	assert_string_equal(ps.extmem_file, "");

	parse_ok("netmap:eth0@extmem:file=/dev/shm/x,if-num=2,if_size=1024,"
		 "ring-num=4,ring_size=36864,buf-num=8192,buf-size=2048", &ps);
	assert_string_equal(ps.extmem_file, "/dev/shm/x");
	assert_int_equal(ps.extmem_if_num, 2);
	assert_int_equal(ps.extmem_if_size, 1024);
	assert_int_equal(ps.extmem_ring_num, 4);
	assert_int_equal(ps.extmem_ring_size, 36864);
	assert_int_equal(ps.extmem_buf_num, 8192);
	assert_int_equal(ps.extmem_buf_size, 2048);

	/* "file" is the default key, and more keys may follow it */
	parse_ok("vale0:a@extmem=/tmp/pool.bin", &ps);
	assert_string_equal(ps.extmem_file, "/tmp/pool.bin");
	assert_int_equal(ps.extmem_buf_num, 0);
	parse_ok("vale0:a@extmem=/tmp/pool.bin,buf-num=100@conf:slots=64", &ps);
	assert_string_equal(ps.extmem_file, "/tmp/pool.bin");
	assert_int_equal(ps.extmem_buf_num, 100);
	assert_int_equal(ps.rx_slots, 64);
}

/* ---- rejected names --------------------------------------------------- */

struct err_case {
	const char *spec;
	int rc;
	int errpos;
	const char *cause;	/* must appear in the message */
};

#define EI (-EINVAL)

static const struct err_case err_cases[] = {
	/* §3.2 "errors" row, every entry */
	{ "eth0", EI, 0, "prefix unknown or missing" },
	{ "netmap:", EI, 7, "empty port name" },
	{ "netmap:^", EI, 7, "empty port name" },
	{ "netmap:{", EI, 7, "empty parent port name before '{'" },
	{ "netmapXXX:eth0", EI, 6, "unknown subsystem 'netmapXXX'" },
	{ "netmap:pipe{1}2", EI, 13, "invalid character '}' in pipe name" },
	{ "netmap:eth0-", EI, 12, "expected a ring number after '-'" },
	{ "netmap:eth0@", EI, 12, "expected a mem id or an option name" },
	{ "netmap:eth0@2/R@3", EI, 15, "mem id 3 conflicts with 2" },
	{ "", EI, 0, "empty port name" },
	/* §3.2: "@opt" is an unknown option */
	{ "vale0:0/Tx@opt", EI, 11, "unknown option 'opt'" },

	/* subsystem */
	{ "netmap", EI, 6, "expected ':' after 'netmap'" },
	{ "netmap_:x", EI, 6, "unknown subsystem 'netmap_'" },
	{ "vale0", EI, 5, "expected ':' after VALE switch name 'vale0'" },
	{ "vale0-1:a", EI, 5, "expected ':'" },
	{ "val0:a", EI, 0, "prefix unknown" },
	{ "NETMAP:eth0", EI, 0, "prefix unknown" },

	/* VALE names (§3.4) */
	{ "vale0:", EI, 6, "empty VALE port name" },
	{ "vale0:-1", EI, 6, "empty VALE port name" },
	{ "vale0:a&b", EI, 7, "invalid character '&' in VALE port name" },
	{ "vale0:a:b", EI, 7, "invalid character ':' in VALE port name" },
	{ "vale0:a b", EI, 7, "invalid character ' ' in VALE port name" },
	{ "vale0:{1", EI, 6, "empty parent port name" },
	{ "vale012345678901:a", EI, 15, "at most 15" },
	{ "vale0:abcdefghijklmnop", EI, 21, "VALE port name 'abcdefghijklmnop' too long: 16 characters, at most 15" },
	{ "vale0:abcdefghijklmnop{1", EI, 21, "at most 15" },

	/* name length: 64 characters is one too many */
	{ "netmap:" S60 "abcd", EI, 70, "port name too long: 64 characters, at most 63" },
	{ "vale0:a{" S10 S10 S10 S10 S10 "abcdef", EI, 63, "at most 63" },

	/* pipes */
	{ "netmap:x{", EI, 9, "empty pipe name after '{'" },
	{ "netmap:x}-1", EI, 9, "empty pipe name after '}'" },
	{ "netmap:x{a.b", EI, 10, "invalid character '.' in pipe name" },
	{ "netmap:}a", EI, 7, "empty parent port name before '}'" },

	/* ring suffix */
	{ "netmap:eth0-x", EI, 12, "expected a ring number" },
	{ "netmap:eth0-4095", EI, 12, "ring number 4095 out of range, at most 4094" },
	{ "netmap:eth0^4095", EI, 12, "at most 4094" },
	{ "netmap:eth0-99999999999999999999", EI, 12, "out of range" },
	{ "netmap:eth0-1x", EI, 13, "unexpected 'x'" },
	{ "netmap:eth0*-1", EI, 12, "one ring suffix" },
	{ "netmap:eth0-1^", EI, 13, "one ring suffix" },
	{ "netmap:eth0/x*", EI, 13, "unknown flag '*'" },
	{ "netmap:eth0@1-1", EI, 13, "one ring suffix" },

	/* flags */
	{ "netmap:eth0/", EI, 12, "expected flag letters" },
	{ "netmap:eth0//x", EI, 12, "expected flag letters" },
	{ "netmap:eth0/q", EI, 12, "unknown flag 'q'" },
	{ "netmap:eth0/xX", EI, 13, "unknown flag 'X'" },

	/* mem id */
	{ "netmap:eth0@0", EI, 12, "mem id 0 is not valid" },
	{ "netmap:eth0@65536", EI, 12, "mem id 65536 out of range, at most 65535" },
	{ "netmap:eth0@2@3", EI, 13, "mem id 3 conflicts with 2 given earlier" },
	{ "netmap:eth0@2x", EI, 13, "unexpected 'x'" },
	{ "netmap:eth0@conf:rings=1@3", EI, 24, "must come before the options" },

	/* options in general */
	{ "netmap:eth0@foo", EI, 12, "unknown option 'foo'" },
	{ "netmap:eth0@@conf", EI, 12, "expected an option name" },
	{ "netmap:eth0@:rings=1", EI, 12, "expected an option name" },
	{ "netmap:eth0@CONF:rings=1", EI, 12, "unknown option 'CONF'" },
	{ "netmap:eth0@conf:rings=1@conf:slots=2", EI, 25, "option 'conf' given twice" },

	/* @conf */
	{ "netmap:eth0@conf=4", EI, 16, "option 'conf' has no default key" },
	{ "netmap:eth0@conf:foo=1", EI, 17, "unknown key 'foo' for option 'conf'" },
	{ "netmap:eth0@conf:ring=1", EI, 17, "unknown key 'ring'" },
	{ "netmap:eth0@conf:rings=2,rings=3", EI, 25, "key 'rings' of option 'conf' given twice" },
	{ "netmap:eth0@conf:tx-rings=2,tx_rings=3", EI, 28, "key 'tx-rings' of option 'conf' given twice" },
	{ "netmap:eth0@conf:rings", EI, 22, "key 'rings' of option 'conf' needs a value" },
	{ "netmap:eth0@conf:rings,slots=1", EI, 22, "needs a value" },
	{ "netmap:eth0@conf:rings=", EI, 23, "missing value for key 'rings'" },
	{ "netmap:eth0@conf:rings=,slots=1", EI, 23, "missing value" },
	{ "netmap:eth0@conf:rings=4x", EI, 24, "value '4x' of key 'rings' in option 'conf' is not a number" },
	{ "netmap:eth0@conf:rings=x", EI, 23, "is not a number" },
	{ "netmap:eth0@conf:rings=-1", EI, 23, "is not a number" },
	{ "netmap:eth0@conf:rings=4294967296", EI, 23, "too large" },
	{ "netmap:eth0@conf:", EI, 17, "expected <key>=<value> after ':'" },
	{ "netmap:eth0@conf:rings=1,", EI, 25, "expected <key>=<value> after ','" },

	/* @share */
	{ "netmap:eth0@share", EI, 12, "option 'share' needs a port" },
	{ "netmap:eth0@share=", EI, 18, "missing value for key 'port'" },
	{ "netmap:eth0@share=eth1", EI, 18, "in option 'share': prefix unknown" },
	{ "netmap:eth0@share=netmap:eth1-", EI, 30, "in option 'share': expected a ring number" },
	{ "netmap:eth0@share=vale0:a,port=vale0:b", EI, 26, "key 'port' of option 'share' given twice" },
	{ "netmap:eth0@share:foo=x", EI, 18, "unknown key 'foo' for option 'share'" },

	/* @extmem */
	{ "netmap:eth0@extmem", EI, 12, "option 'extmem' needs a file" },
	{ "netmap:eth0@extmem:if-num=2", EI, 12, "needs a file" },
	{ "netmap:eth0@extmem:file=/f,bogus=1", EI, 27, "unknown key 'bogus' for option 'extmem'" },
	{ "netmap:eth0@extmem:file=/f,buf-num=lots", EI, 35, "value 'lots' of key 'buf-num'" },

	/* @offset is disabled, as in libnetmap */
	{ "netmap:eth0@offset:initial=8", -EOPNOTSUPP, 12, "option 'offset' is disabled" },
	{ "netmap:eth0@offset", -EOPNOTSUPP, 12, "disabled" },
	{ "vale0:a@conf:rings=1@offset=1", -EOPNOTSUPP, 21, "disabled" },
};

static void test_rejected(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(err_cases) / sizeof(err_cases[0]); i++) {
		const struct err_case *t = &err_cases[i];
		struct nmk_portspec ps;
		char err[512];
		int pos;
		int rc = parse(t->spec, &ps, err, sizeof(err), &pos);

		if (rc != t->rc)
			fail_msg("\"%s\": rc %d, want %d (%s)", t->spec, rc,
				 t->rc, err);
		if (err[0] == '\0' || strchr(err, '\n') != NULL)
			fail_msg("\"%s\": want a one-line message, got \"%s\"",
				 t->spec, err);
		if (strstr(err, t->cause) == NULL)
			fail_msg("\"%s\": message \"%s\" lacks \"%s\"", t->spec,
				 err, t->cause);
		if (pos != t->errpos)
			fail_msg("\"%s\": errpos %d, want %d (%s)", t->spec,
				 pos, t->errpos, err);
		/* The message quotes the spec and the column, after ": ". */
		if (t->spec[0] != '\0' &&
		    strncmp(err, t->spec, strlen(t->spec)) != 0)
			fail_msg("\"%s\": message does not quote the spec: %s",
				 t->spec, err);
		char col[32];

		snprintf(col, sizeof(col), "(column %d)", t->errpos);
		if (strstr(err, col) == NULL)
			fail_msg("\"%s\": message lacks \"%s\": %s", t->spec,
				 col, err);
	}
}

/* ---- the error contract ---------------------------------------------- */

static void test_message_format(void **state)
{
	struct nmk_portspec ps;
	char err[256];
	int pos;

	(void)state;
	assert_int_equal(parse("netmap:eth0@2/R@3", &ps, err, sizeof(err), &pos),
			 -EINVAL);
	assert_string_equal(err,
			    "netmap:eth0@2/R@3: mem id 3 conflicts with 2 given earlier (column 15)");
	assert_int_equal(pos, 15);

	/* An empty spec still shows up in the message. */
	assert_int_equal(parse("", &ps, err, sizeof(err), &pos), -EINVAL);
	assert_int_equal(strncmp(err, "\"\": ", 4), 0);
}

/* On error the caller's struct must not be touched at all. */
static void test_unchanged_on_error(void **state)
{
	static const char *const bad[] = {
		"netmap:eth0@2/R@3",		/* fails after setting mem_id */
		"vale0:a-1/x@conf:rings=2,bogus=1", /* after a good name */
		"netmap:eth0@extmem:file=/f,buf-num=x",	/* file copied first */
		"netmap:eth0@share=vale0:a@conf=1",	/* share copied first */
		"netmap:eth0@conf:rings=2@offset",	/* EOPNOTSUPP */
		"",
	};
	struct nmk_portspec ps, saved;
	char err[256];
	int pos;

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		memset(&ps, 0x5a, sizeof(ps));
		saved = ps;
		assert_true(nmk_portspec_parse(bad[i], &ps, err, sizeof(err),
					       &pos) < 0);
		if (memcmp(&ps, &saved, sizeof(ps)) != 0)
			fail_msg("\"%s\" changed *ps on error", bad[i]);
	}
}

/* err, errpos and ps are all optional; a short buffer is truncated. */
static void test_optional_outputs(void **state)
{
	struct nmk_portspec ps;
	char err[10];
	int pos = -1;

	(void)state;
	assert_int_equal(nmk_portspec_parse("eth0", &ps, NULL, 0, NULL), -EINVAL);
	assert_int_equal(nmk_portspec_parse("netmap:eth0", NULL, NULL, 0, NULL), 0);
	assert_int_equal(nmk_portspec_parse("netmap:eth0@9@8", &ps, err,
					    sizeof(err), &pos), -EINVAL);
	assert_int_equal(strlen(err), sizeof(err) - 1);
	assert_int_equal(pos, 13);

	memset(err, 'x', sizeof(err));
	assert_int_equal(nmk_portspec_parse("eth0", &ps, err, 0, &pos), -EINVAL);
	assert_int_equal(err[0], 'x');

	assert_int_equal(nmk_portspec_parse(NULL, &ps, NULL, 0, &pos), -EINVAL);
	assert_int_equal(pos, 0);
}

/* Fields that were not given are zero, whatever *ps held before. */
static void test_success_resets_fields(void **state)
{
	struct nmk_portspec ps;

	(void)state;
	memset(&ps, 0x5a, sizeof(ps));
	assert_int_equal(nmk_portspec_parse("netmap:eth0", &ps, NULL, 0, NULL), 0);
	assert_string_equal(ps.name, "eth0");
	assert_int_equal(ps.mode, NR_REG_ALL_NIC);
	assert_int_equal(ps.flags, 0);
	assert_int_equal(ps.mem_id, 0);
	assert_int_equal(ps.tx_rings, 0);
	assert_int_equal(ps.extmem_buf_size, 0);
	assert_string_equal(ps.share, "");
	assert_string_equal(ps.extmem_file, "");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_accepted),
		cmocka_unit_test(test_pipe_fields),
		cmocka_unit_test(test_conf),
		cmocka_unit_test(test_share),
		cmocka_unit_test(test_extmem),
		cmocka_unit_test(test_rejected),
		cmocka_unit_test(test_message_format),
		cmocka_unit_test(test_unchanged_on_error),
		cmocka_unit_test(test_optional_outputs),
		cmocka_unit_test(test_success_resets_fields),
	};

	return cmocka_run_group_tests_name("portspec", tests, NULL, NULL);
}
