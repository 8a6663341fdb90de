/*
 * portspec.c - parser for netmap port names (reference §3.1, §3.4).
 *
 *   portspec := subsystem ':' vpname [mode] [options]
 *   subsystem := "netmap" | "vale" [A-Za-z0-9_]*
 *   vpname    := anything up to the first of - * ^ / @, with an optional
 *                pipe suffix '{' id or '}' id
 *   mode      := [ '^' | '^' N | '*' | '-' N ] { '/' flags | '@' N }
 *   options   := { '@' name [ '=' value | ':' key '=' value { ',' ... } ] }
 *
 * The parser works on a private copy of the result and copies it out only on
 * success, so the caller's struct is never half written.  Errors carry a
 * cause and the 0-based index of the offending character; the message says
 * "(column N)" with that same number so that it matches *errpos.  When
 * something is missing, the index is where it should have been (possibly the
 * terminating NUL).
 *
 * Deliberate choices where netmap's own tools disagree or are silent:
 * - Base names after "netmap:" are not validated.  libnetmap stopped doing so
 *   in 2023 (commit 765f0979) and accepts "netmap:eth0&" and
 *   "netmap:vale0:0", while ctrl-api-test still expects EINVAL for both
 *   (reference §3.2, "Discrepancy").  We follow the library, which is what
 *   applications link against; the port lookup rejects what does not exist.
 * - "vale" names are checked here against the kernel's rules (§3.4): the
 *   kernel would reject them at REGISTER time, and a parse error that points
 *   at the character is more useful.  The limits apply to the parent port
 *   (the name without its pipe suffix), because that is the name the kernel
 *   looks up in the switch.
 * - A pipe needs a non-empty parent ("netmap:{a" is rejected): there is no
 *   port called "" to hang the pipe on.
 * - An option given twice is rejected, like a key given twice, because the
 *   second one would silently replace (or, for extmem, duplicate) the first.
 * - "@share" only records the port name (validated as a portspec of its own);
 *   looking up its mem id needs the broker, so it is the caller's job.
 * - "@offset" is disabled, as in libnetmap until nmport_enable_option().
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include <net/netmap.h>

#include "portspec.h"

#define NAME_LEN_MAX	(NMK_NAME_MAX - 1)	/* 63: nr_name keeps a NUL */
#define VALE_PART_MAX	15	/* switch and port names in netmap_bdg.c */
#define RING_ID_MAX	4094	/* ring ids are < 4095 (12-bit ring mask) */
#define OPT_KEYS_MAX	9	/* the most keys of any option (conf) */

/* The parse state: the result being built, and the first error met. */
struct ctx {
	const char *spec;
	struct nmk_portspec ps;
	unsigned opts_seen;	/* one bit per entry of options[] */
	const char *opt_name;	/* the option being parsed, for messages */
	int pos;		/* index of the offending character */
	char cause[256];
};

/* A key=value pair found in an option, pointing into the spec. */
struct kv {
	const char *key;	/* where the key was written (NULL: not given) */
	const char *val;
	size_t len;
};

struct opt_desc {
	const char *name;
	const char *keys[OPT_KEYS_MAX + 1];	/* NULL-terminated, as documented */
	int default_key;	/* index for "@name=value", or -1: none */
	bool disabled;		/* recognised but refused with EOPNOTSUPP */
	int (*finish)(struct ctx *c, const struct opt_desc *o,
		      const struct kv *vals);
};

static int conf_finish(struct ctx *c, const struct opt_desc *o,
		       const struct kv *vals);
static int share_finish(struct ctx *c, const struct opt_desc *o,
			const struct kv *vals);
static int extmem_finish(struct ctx *c, const struct opt_desc *o,
			 const struct kv *vals);
static int parse_spec(struct ctx *c, const char *spec);

/* Key order matters: the *_finish functions index vals[] by it. */
enum { K_RINGS, K_HOST_RINGS, K_SLOTS, K_TX_RINGS, K_RX_RINGS,
	K_HOST_TX_RINGS, K_HOST_RX_RINGS, K_TX_SLOTS, K_RX_SLOTS };
enum { K_FILE, K_IF_NUM, K_IF_SIZE, K_RING_NUM, K_RING_SIZE, K_BUF_NUM,
	K_BUF_SIZE };
enum { K_PORT };

static const struct opt_desc options[] = {
	{
		/* libnetmap's comment calls "rings" the default key, but its
		 * code has none, so "@conf=4" is an error there too. */
		.name = "conf",
		.keys = { "rings", "host-rings", "slots", "tx-rings",
			  "rx-rings", "host-tx-rings", "host-rx-rings",
			  "tx-slots", "rx-slots", NULL },
		.default_key = -1,
		.finish = conf_finish,
	},
	{
		.name = "share",
		.keys = { "port", NULL },
		.default_key = K_PORT,
		.finish = share_finish,
	},
	{
		.name = "extmem",
		.keys = { "file", "if-num", "if-size", "ring-num",
			  "ring-size", "buf-num", "buf-size", NULL },
		.default_key = K_FILE,
		.finish = extmem_finish,
	},
	{
		.name = "offset",
		.keys = { "initial", "bits", NULL },
		.default_key = -1,
		.disabled = true,
	},
};

#define N_OPTIONS (sizeof(options) / sizeof(options[0]))

/* ---- small helpers -------------------------------------------------- */

/* Not isalnum(): that depends on the locale, and netmap means ASCII. */
static bool is_ident(char ch)
{
	return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
	       (ch >= '0' && ch <= '9') || ch == '_';
}

static bool is_digit(char ch)
{
	return ch >= '0' && ch <= '9';
}

static const char *skip_ident(const char *s)
{
	while (is_ident(*s))
		s++;
	return s;
}

static const char *skip_digits(const char *s)
{
	while (is_digit(*s))
		s++;
	return s;
}

/* Read the digits [s, e) into *v.  False when the value exceeds max; max is
 * at most 32 bits, so the 64-bit accumulator cannot overflow first. */
static bool digits_value(const char *s, const char *e, uint32_t max,
			 uint32_t *v)
{
	uint64_t n = 0;

	for (; s < e; s++) {
		n = n * 10 + (uint64_t)(*s - '0');
		if (n > max)
			return false;
	}
	*v = (uint32_t)n;
	return true;
}

/* Show a character in a message; control bytes would garble the line. */
static const char *char_desc(char ch, char buf[16])
{
	unsigned char u = (unsigned char)ch;

	if (u >= 0x20 && u < 0x7f)
		snprintf(buf, 16, "'%c'", ch);
	else
		snprintf(buf, 16, "byte 0x%02x", u);
	return buf;
}

__attribute__((format(printf, 4, 5)))
static int fail(struct ctx *c, int rc, const char *at, const char *fmt, ...)
{
	va_list ap;

	c->pos = (int)(at - c->spec);
	va_start(ap, fmt);
	vsnprintf(c->cause, sizeof(c->cause), fmt, ap);
	va_end(ap);
	return rc;
}

/* ---- subsystem and port name ---------------------------------------- */

/*
 * "netmap:" or "vale<id>:".  Sets *name to where nr_name starts in the spec
 * (netmap strips its prefix, VALE keeps it) and *vp to the vpname.
 */
static int parse_subsys(struct ctx *c, const char **name, const char **vp)
{
	const char *s = c->spec;
	const char *q;

	if (strncmp(s, "netmap", 6) == 0) {
		q = skip_ident(s + 6);
		/* libnetmap matches the prefix with strncmp, so "netmapXXX:"
		 * would otherwise slip through as "netmap:". */
		if (q != s + 6)
			return fail(c, -EINVAL, s + 6,
				    "unknown subsystem '%.*s': nothing may come between 'netmap' and ':'",
				    (int)(q - s), s);
		if (*q != ':')
			return fail(c, -EINVAL, q, "expected ':' after 'netmap'");
		c->ps.subsys = NMK_SUBSYS_NETMAP;
		*name = *vp = q + 1;
		return 0;
	}
	if (strncmp(s, "vale", 4) == 0) {
		q = skip_ident(s + 4);
		if (*q != ':')
			return fail(c, -EINVAL, q,
				    "expected ':' after VALE switch name '%.*s'",
				    (int)(q - s), s);
		/* The kernel wants the ':' within the first 16 characters. */
		if (q - s > VALE_PART_MAX)
			return fail(c, -EINVAL, s + VALE_PART_MAX,
				    "VALE switch name '%.*s' too long: %d characters, at most %d",
				    (int)(q - s), s, (int)(q - s), VALE_PART_MAX);
		c->ps.subsys = NMK_SUBSYS_VALE;
		c->ps.colon_off = (uint16_t)(q - s);
		*name = s;
		*vp = q + 1;
		return 0;
	}
	if (*s == '\0')
		return fail(c, -EINVAL, s,
			    "empty port name, expected \"netmap:<port>\" or \"vale<switch>:<port>\"");
	/* "<driver>:<device>": a driver plugin's prefix, [a-z0-9_]+.  Whether
	 * such a driver exists is for the opener to say. */
	for (q = s; (*q >= 'a' && *q <= 'z') || (*q >= '0' && *q <= '9') || *q == '_'; q++)
		;
	/* Not "val...": netmap reads any name starting so as a VALE name. */
	if (q != s && *q == ':' && (size_t)(q - s) < sizeof(c->ps.driver) &&
	    strncmp(s, "val", 3) != 0) {
		c->ps.subsys = NMK_SUBSYS_DRIVER;
		memcpy(c->ps.driver, s, (size_t)(q - s));
		c->ps.driver[q - s] = '\0';
		c->ps.colon_off = (uint16_t)(q - s);
		*name = s;
		*vp = q + 1;
		return 0;
	}
	return fail(c, -EINVAL, s,
		    "prefix unknown or missing, expected \"netmap:\", \"vale<switch>:\" or \"<driver>:\"");
}

/* The port part of a VALE name, [port, end), without any pipe suffix. */
static int check_vale_port(struct ctx *c, const char *port, const char *end)
{
	char cb[16];

	for (const char *q = port; q < end; q++)
		if (!is_ident(*q))
			return fail(c, -EINVAL, q,
				    "invalid character %s in VALE port name, only [A-Za-z0-9_] allowed",
				    char_desc(*q, cb));
	if (end - port > VALE_PART_MAX)
		return fail(c, -EINVAL, port + VALE_PART_MAX,
			    "VALE port name '%.*s' too long: %d characters, at most %d",
			    (int)(end - port), port, (int)(end - port),
			    VALE_PART_MAX);
	return 0;
}

/* The pipe identifier after the '{' or '}' at `pipe`, up to `end`. */
static int check_pipe_id(struct ctx *c, const char *pipe, const char *end)
{
	char cb[16];

	if (pipe + 1 == end)
		return fail(c, -EINVAL, end, "empty pipe name after '%c'", *pipe);
	for (const char *q = pipe + 1; q < end; q++)
		if (!is_ident(*q))
			return fail(c, -EINVAL, q,
				    "invalid character %s in pipe name, only [A-Za-z0-9_] allowed",
				    char_desc(*q, cb));
	return 0;
}

/*
 * The vpname: from `vp` to the first mode or option character.  Fills name,
 * pipe_type and pipe_off; returns the end of the name in *endp.
 */
static int parse_vpname(struct ctx *c, const char *name, const char *vp,
			const char **endp)
{
	const char *end = vp + strcspn(vp, "-*^/@");
	const char *pipe = vp + strcspn(vp, "{}");
	bool vale = c->ps.subsys == NMK_SUBSYS_VALE;
	int rc;

	if (pipe > end)
		pipe = end;
	if (vp == end)
		return fail(c, -EINVAL, vp, vale ? "empty VALE port name" :
			    "empty port name");
	if (vp == pipe)
		return fail(c, -EINVAL, pipe, "empty parent port name before '%c'",
			    *pipe);
	if (vale) {
		rc = check_vale_port(c, vp, pipe);
		if (rc < 0)
			return rc;
	}
	if (pipe < end) {
		rc = check_pipe_id(c, pipe, end);
		if (rc < 0)
			return rc;
	}
	if (end - name > NAME_LEN_MAX)
		return fail(c, -EINVAL, name + NAME_LEN_MAX,
			    "port name too long: %zu characters, at most %d",
			    (size_t)(end - name), NAME_LEN_MAX);

	memcpy(c->ps.name, name, (size_t)(end - name));
	c->ps.name[end - name] = '\0';
	if (pipe < end) {
		c->ps.pipe_type = *pipe;
		c->ps.pipe_off = (uint16_t)(pipe - name);
	}
	*endp = end;
	return 0;
}

/* ---- mode: ring suffix, flags, mem id ------------------------------- */

/* "-N" (digits required) or "^" / "^N"; `p` points at the '-' or '^'. */
static int parse_ring(struct ctx *c, const char **pp)
{
	const char *d = *pp + 1;
	const char *e = skip_digits(d);
	bool sw = **pp == '^';
	uint32_t v;

	if (d == e) {
		if (!sw)
			return fail(c, -EINVAL, d,
				    "expected a ring number after '-'");
		c->ps.mode = NR_REG_SW;
		*pp = d;
		return 0;
	}
	if (!digits_value(d, e, RING_ID_MAX, &v))
		return fail(c, -EINVAL, d,
			    "ring number %.*s out of range, at most %d",
			    (int)(e - d), d, RING_ID_MAX);
	c->ps.mode = sw ? NR_REG_ONE_SW : NR_REG_ONE_NIC;
	c->ps.ringid = (uint16_t)v;
	*pp = e;
	return 0;
}

static uint64_t flag_bit(char ch)
{
	switch (ch) {
	case 'x': return NR_EXCLUSIVE;
	case 'z': return NR_ZCOPY_MON;
	case 't': return NR_MONITOR_TX;
	case 'r': return NR_MONITOR_RX;
	case 'R': return NR_RX_RINGS_ONLY;
	case 'T': return NR_TX_RINGS_ONLY;
	default:  return 0;
	}
}

/* "/" followed by one or more flag letters; `p` points at the '/'. */
static int parse_flags(struct ctx *c, const char **pp)
{
	const char *f = *pp + 1;
	const char *q;
	char cb[16];

	for (q = f; *q != '\0' && *q != '/' && *q != '@'; q++) {
		uint64_t bit = flag_bit(*q);

		if (bit == 0)
			return fail(c, -EINVAL, q,
				    "unknown flag %s after '/', expected some of x z t r R T",
				    char_desc(*q, cb));
		c->ps.flags |= bit;
	}
	if (q == f)
		return fail(c, -EINVAL, f,
			    "expected flag letters (x z t r R T) after '/'");
	*pp = q;
	return 0;
}

/* "@N"; `p` points at the '@', which is followed by a digit. */
static int parse_memid(struct ctx *c, const char **pp)
{
	const char *at = *pp;
	const char *d = at + 1;
	const char *e = skip_digits(d);
	uint32_t v;

	if (!digits_value(d, e, UINT16_MAX, &v))
		return fail(c, -EINVAL, d, "mem id %.*s out of range, at most %u",
			    (int)(e - d), d, (unsigned)UINT16_MAX);
	if (v == 0)
		return fail(c, -EINVAL, d, "mem id 0 is not valid, mem ids start at 1");
	/* Saying the same thing twice is harmless; two ids are a conflict. */
	if (c->ps.mem_id != 0 && c->ps.mem_id != v)
		return fail(c, -EINVAL, at,
			    "mem id %u conflicts with %u given earlier",
			    (unsigned)v, (unsigned)c->ps.mem_id);
	c->ps.mem_id = (uint16_t)v;
	*pp = e;
	return 0;
}

/*
 * Everything between the vpname and the options.  The ring suffix may only
 * come first; then any mix of "/flags" and "@N".  Stops at the end or at an
 * '@' that is followed by something other than a digit (an option).
 */
static int parse_mode(struct ctx *c, const char **pp)
{
	const char *p = *pp;
	char cb[16];
	int rc = 0;

	c->ps.mode = NR_REG_ALL_NIC;
	if (*p == '-' || *p == '^') {
		rc = parse_ring(c, &p);
	} else if (*p == '*') {
		c->ps.mode = NR_REG_NIC_SW;
		p++;
	}
	while (rc == 0) {
		if (*p == '/') {
			rc = parse_flags(c, &p);
		} else if (*p == '@' && is_digit(p[1])) {
			rc = parse_memid(c, &p);
		} else if (*p == '@' && p[1] == '\0') {
			return fail(c, -EINVAL, p + 1,
				    "expected a mem id or an option name after '@'");
		} else if (*p == '@' || *p == '\0') {
			break;
		} else if (strchr("-*^", *p) != NULL) {
			return fail(c, -EINVAL, p,
				    "unexpected '%c': one ring suffix (-N, ^, ^N or *) at most, right after the port name",
				    *p);
		} else {
			return fail(c, -EINVAL, p,
				    "unexpected %s, expected '/' (flags), '@' (mem id or option) or the end",
				    char_desc(*p, cb));
		}
	}
	*pp = p;
	return rc;
}

/* ---- options -------------------------------------------------------- */

/* Compare a key as written with a known key; '-' and '_' are the same. */
static bool key_matches(const char *k, size_t len, const char *known)
{
	size_t i;

	for (i = 0; i < len && known[i] != '\0'; i++) {
		char a = k[i] == '_' ? '-' : k[i];

		if (a != known[i])
			return false;
	}
	return i == len && known[i] == '\0';
}

static int find_key(const struct opt_desc *o, const char *k, size_t len)
{
	for (int i = 0; o->keys[i] != NULL; i++)
		if (key_matches(k, len, o->keys[i]))
			return i;
	return -1;
}

/* "rings, slots, ..." for the unknown-key message. */
static const char *key_list(const struct opt_desc *o, char *buf, size_t len)
{
	size_t off = 0;

	buf[0] = '\0';
	for (int i = 0; o->keys[i] != NULL && off < len; i++)
		off += (size_t)snprintf(buf + off, len - off, "%s%s",
					i ? ", " : "", o->keys[i]);
	return buf;
}

/* Record the value that starts at `v` for key k (written at `key`). */
static int take_value(struct ctx *c, const struct opt_desc *o, int k,
		      const char *key, const char *v, struct kv *vals,
		      const char **endp)
{
	size_t len = strcspn(v, ",@");

	if (len == 0)
		return fail(c, -EINVAL, v,
			    "missing value for key '%s' of option '%s'",
			    o->keys[k], o->name);
	vals[k].key = key;
	vals[k].val = v;
	vals[k].len = len;
	*endp = v + len;
	return 0;
}

/* One "key=value" of an option's list; `q` points at the key. */
static int parse_pair(struct ctx *c, const struct opt_desc *o,
		      const char *q, struct kv *vals, const char **endp)
{
	size_t klen = strcspn(q, "=,@");
	char kb[200];
	int k;

	if (klen == 0)
		return fail(c, -EINVAL, q,
			    "expected <key>=<value> after '%c' in option '%s'",
			    q[-1], o->name);
	k = find_key(o, q, klen);
	if (k < 0)
		return fail(c, -EINVAL, q,
			    "unknown key '%.*s' for option '%s' (keys: %s)",
			    (int)klen, q, o->name, key_list(o, kb, sizeof(kb)));
	if (vals[k].key != NULL)
		return fail(c, -EINVAL, q,
			    "key '%s' of option '%s' given twice",
			    o->keys[k], o->name);
	if (q[klen] != '=')
		return fail(c, -EINVAL, q + klen,
			    "key '%.*s' of option '%s' needs a value: %.*s=<value>",
			    (int)klen, q, o->name, (int)klen, q);
	return take_value(c, o, k, q, q + klen + 1, vals, endp);
}

/*
 * The arguments of option o, starting right after its name at `q`: nothing,
 * "=value" for the default key, or ":k=v,k=v".  "=value" may be followed by
 * ",k=v" too, as it stands for "defaultkey=value".
 */
static int parse_args(struct ctx *c, const struct opt_desc *o, const char *q,
		      struct kv *vals, const char **endp)
{
	int rc = 0;

	if (*q == '=') {
		if (o->default_key < 0)
			return fail(c, -EINVAL, q,
				    "option '%s' has no default key, write @%s:<key>=<value>",
				    o->name, o->name);
		rc = take_value(c, o, o->default_key, q, q + 1, vals, &q);
	} else if (*q == ':') {
		rc = parse_pair(c, o, q + 1, vals, &q);
	}
	while (rc == 0 && *q == ',')
		rc = parse_pair(c, o, q + 1, vals, &q);
	*endp = q;
	return rc;
}

static const struct opt_desc *find_option(const char *name, size_t len)
{
	for (size_t i = 0; i < N_OPTIONS; i++)
		if (strlen(options[i].name) == len &&
		    memcmp(options[i].name, name, len) == 0)
			return &options[i];
	return NULL;
}

/* "@key=value" on a driver port: kept for the driver, which knows its
 * parameters and checks them when the port opens. */
static int driver_param(struct ctx *c, const char **pp)
{
	const char *kv = *pp + 1;
	size_t len = strcspn(kv, "@");
	size_t used = strlen(c->ps.drv_params);

	if (memchr(kv, '=', len) == NULL)
		return fail(c, -EINVAL, kv, "driver parameter '%.*s' needs a value: @key=value",
			    (int)len, kv);
	if (used + len + 2 > sizeof(c->ps.drv_params))
		return fail(c, -EINVAL, kv, "driver parameters longer than %zu characters",
			    sizeof(c->ps.drv_params) - 1);
	if (used)
		c->ps.drv_params[used++] = ',';
	memcpy(c->ps.drv_params + used, kv, len);
	c->ps.drv_params[used + len] = '\0';
	*pp = kv + len;
	return 0;
}

/* One "@name..." option; `*pp` points at the '@'. */
static int parse_option(struct ctx *c, const char **pp)
{
	const char *name = *pp + 1;
	size_t len = strcspn(name, ":=@");
	struct kv vals[OPT_KEYS_MAX] = { { NULL, NULL, 0 } };
	const struct opt_desc *o;
	unsigned bit;
	int rc;

	if (len == 0)
		return fail(c, -EINVAL, name,
			    "expected an option name after '@'");
	if (skip_digits(name) == name + len)
		return fail(c, -EINVAL, *pp,
			    "mem id '@%.*s' must come before the options",
			    (int)len, name);
	o = find_option(name, len);
	if (o == NULL && c->ps.subsys == NMK_SUBSYS_DRIVER)
		return driver_param(c, pp);
	if (o == NULL)
		return fail(c, -EINVAL, name,
			    "unknown option '%.*s' (options: conf, share, extmem, offset)",
			    (int)len, name);
	if (o->disabled)
		return fail(c, -EOPNOTSUPP, name,
			    "option '%s' is disabled, as in libnetmap", o->name);
	bit = 1u << (o - options);
	if (c->opts_seen & bit)
		return fail(c, -EINVAL, name, "option '%s' given twice", o->name);
	c->opts_seen |= bit;
	c->opt_name = name;

	/* This leaves *pp at the next '@' or at the end: values run up to
	 * ',' or '@', and a key without '=' is an error. */
	rc = parse_args(c, o, name + len, vals, pp);
	if (rc < 0)
		return rc;
	return o->finish(c, o, vals);
}

static int parse_options(struct ctx *c, const char *p)
{
	int rc = 0;

	while (rc == 0 && *p == '@')
		rc = parse_option(c, &p);
	return rc;
}

/* A numeric value: decimal digits only, fitting in 32 bits. */
static int kv_number(struct ctx *c, const struct opt_desc *o, int k,
		     const struct kv *kv, uint32_t *out)
{
	const char *e = skip_digits(kv->val);

	if (e != kv->val + kv->len)
		return fail(c, -EINVAL, e,
			    "value '%.*s' of key '%s' in option '%s' is not a number",
			    (int)kv->len, kv->val, o->keys[k], o->name);
	if (!digits_value(kv->val, e, UINT32_MAX, out))
		return fail(c, -EINVAL, kv->val,
			    "value %.*s of key '%s' in option '%s' too large, at most %u",
			    (int)kv->len, kv->val, o->keys[k], o->name,
			    (unsigned)UINT32_MAX);
	return 0;
}

/* Parse the numeric keys [first, last] that were given into out[]. */
static int kv_numbers(struct ctx *c, const struct opt_desc *o,
		      const struct kv *vals, int first, int last,
		      uint32_t *out)
{
	for (int k = first; k <= last; k++) {
		if (vals[k].key == NULL)
			continue;
		int rc = kv_number(c, o, k, &vals[k], &out[k]);

		if (rc < 0)
			return rc;
	}
	return 0;
}

/* A string value into a fixed buffer, with room for the NUL. */
static int kv_string(struct ctx *c, const struct opt_desc *o, int k,
		     const struct kv *kv, char *out, size_t outlen)
{
	if (kv->len >= outlen)
		return fail(c, -EINVAL, kv->val + outlen - 1,
			    "value of key '%s' in option '%s' too long: %zu characters, at most %zu",
			    o->keys[k], o->name, kv->len, outlen - 1);
	memcpy(out, kv->val, kv->len);
	out[kv->len] = '\0';
	return 0;
}

/* The specific key wins over the general one, whatever their order. */
static uint32_t pick(const struct kv *vals, const uint32_t *v, int specific,
		     int general)
{
	if (vals[specific].key != NULL)
		return v[specific];
	if (vals[general].key != NULL)
		return v[general];
	return 0;
}

static int conf_finish(struct ctx *c, const struct opt_desc *o,
		       const struct kv *vals)
{
	uint32_t v[OPT_KEYS_MAX] = { 0 };
	int rc = kv_numbers(c, o, vals, K_RINGS, K_RX_SLOTS, v);

	if (rc < 0)
		return rc;
	c->ps.tx_rings = pick(vals, v, K_TX_RINGS, K_RINGS);
	c->ps.rx_rings = pick(vals, v, K_RX_RINGS, K_RINGS);
	c->ps.host_tx_rings = pick(vals, v, K_HOST_TX_RINGS, K_HOST_RINGS);
	c->ps.host_rx_rings = pick(vals, v, K_HOST_RX_RINGS, K_HOST_RINGS);
	c->ps.tx_slots = pick(vals, v, K_TX_SLOTS, K_SLOTS);
	c->ps.rx_slots = pick(vals, v, K_RX_SLOTS, K_SLOTS);
	return 0;
}

/*
 * The shared port must be a portspec itself.  It cannot hold '@' (that ends
 * the value), so it has no options and this recursion is one level deep.
 */
static int share_finish(struct ctx *c, const struct opt_desc *o,
			const struct kv *vals)
{
	const struct kv *kv = &vals[K_PORT];
	char port[sizeof(c->ps.share)];
	struct ctx sub;
	int rc;

	if (kv->key == NULL)
		return fail(c, -EINVAL, c->opt_name,
			    "option 'share' needs a port: @share=<portspec>");
	rc = kv_string(c, o, K_PORT, kv, port, sizeof(port));
	if (rc < 0)
		return rc;
	rc = parse_spec(&sub, port);
	if (rc < 0)
		return fail(c, rc, kv->val + sub.pos, "in option 'share': %s",
			    sub.cause);
	memcpy(c->ps.share, port, sizeof(port));
	return 0;
}

static int extmem_finish(struct ctx *c, const struct opt_desc *o,
			 const struct kv *vals)
{
	uint32_t v[OPT_KEYS_MAX] = { 0 };
	int rc;

	if (vals[K_FILE].key == NULL)
		return fail(c, -EINVAL, c->opt_name,
			    "option 'extmem' needs a file: @extmem:file=<path>[,...]");
	rc = kv_string(c, o, K_FILE, &vals[K_FILE], c->ps.extmem_file,
		       sizeof(c->ps.extmem_file));
	if (rc < 0)
		return rc;
	rc = kv_numbers(c, o, vals, K_IF_NUM, K_BUF_SIZE, v);
	if (rc < 0)
		return rc;
	c->ps.extmem_if_num = v[K_IF_NUM];
	c->ps.extmem_if_size = v[K_IF_SIZE];
	c->ps.extmem_ring_num = v[K_RING_NUM];
	c->ps.extmem_ring_size = v[K_RING_SIZE];
	c->ps.extmem_buf_num = v[K_BUF_NUM];
	c->ps.extmem_buf_size = v[K_BUF_SIZE];
	return 0;
}

/* ---- entry points --------------------------------------------------- */

static int parse_spec(struct ctx *c, const char *spec)
{
	const char *name = NULL, *p = NULL;
	int rc;

	memset(c, 0, sizeof(*c));
	c->spec = spec;
	rc = parse_subsys(c, &name, &p);
	if (rc == 0)
		rc = parse_vpname(c, name, p, &p);
	if (rc == 0)
		rc = parse_mode(c, &p);
	if (rc == 0)
		rc = parse_options(c, p);
	return rc;
}

/* "<spec>: <cause> (column N)", quoting an empty spec so it shows. */
static void report(const struct ctx *c, char *err, size_t errlen)
{
	if (err == NULL || errlen == 0)
		return;
	snprintf(err, errlen, "%s: %s (column %d)",
		 c->spec[0] != '\0' ? c->spec : "\"\"", c->cause, c->pos);
}

int nmk_portspec_parse(const char *spec, struct nmk_portspec *ps,
		       char *err, size_t errlen, int *errpos)
{
	struct ctx c;
	int rc;

	if (spec == NULL) {
		if (err != NULL && errlen > 0)
			snprintf(err, errlen, "no port name given (NULL)");
		if (errpos != NULL)
			*errpos = 0;
		return -EINVAL;
	}
	rc = parse_spec(&c, spec);
	if (rc < 0) {
		report(&c, err, errlen);
		if (errpos != NULL)
			*errpos = c.pos;
		return rc;
	}
	/* A NULL ps just validates the name. */
	if (ps != NULL)
		*ps = c.ps;
	return 0;
}
