/*
 * driver.c - find, check and load driver plugins (see driver.h and
 * <nmkit/nmk_driver.h>).
 *
 * A plugin runs with the rights of every process that loads it, so the
 * directory and each file must be writable only by root or by the user who
 * loads them (the DPDK rule): a world-writable directory, or one owned by
 * somebody else, is refused as a whole.  Everything after that is checked
 * per file, and a bad file never stops the others from loading.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <dirent.h>
#include <dlfcn.h>
#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <nmkit/nmkit.h>
#include <nmkit/nmk_driver.h>

#include "abi.h"
#include "driver.h"

#ifndef NMKIT_DRIVERDIR
#define NMKIT_DRIVERDIR "/usr/local/lib/nmkit-1/drivers"
#endif

/* Record "path: cause" in the set; an allocation failure loses only the
 * message, never the load of the other files. */
static void reject(struct nmk_driver_set *set, const char *path, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void reject(struct nmk_driver_set *set, const char *path, const char *fmt, ...)
{
	char cause[512], *msg;
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(cause, sizeof cause, fmt, ap);
	va_end(ap);
	/* dlerror() text may hold newlines; the list is one line per file. */
	for (char *c = cause; *c; c++)
		if (*c == '\n')
			*c = ' ';
	size_t len = strlen(path) + strlen(cause) + 3;
	char **r = realloc(set->rejected, (set->nrejected + 1) * sizeof *r);
	if (!r)
		return;
	set->rejected = r;
	msg = malloc(len);
	if (!msg)
		return;
	snprintf(msg, len, "%s: %s", path, cause);
	set->rejected[set->nrejected++] = msg;
}

/* World-writable, or owned by neither root nor us: a reason, or NULL. */
static const char *unsafe_owner(const struct stat *st, char *buf, size_t len)
{
	if (st->st_mode & S_IWOTH)
		return "world-writable";
	if (st->st_uid != 0 && st->st_uid != geteuid()) {
		snprintf(buf, len, "owned by uid %u, neither root nor the current user (uid %u)",
			 (unsigned)st->st_uid, (unsigned)geteuid());
		return buf;
	}
	return NULL;
}

static bool valid_name(const char *s)
{
	size_t n = 0;

	if (!s || !*s)
		return false;
	for (; s[n]; n++)
		if (!((s[n] >= 'a' && s[n] <= 'z') || (s[n] >= '0' && s[n] <= '9') || s[n] == '_'))
			return false;
	return n <= NMK_DRIVER_NAME_MAX;
}

/* The names this process already means something else by. */
static bool reserved_name(const char *s)
{
	return strcmp(s, "netmap") == 0 || strncmp(s, "vale", 4) == 0;
}

/* Which loaded driver (index) already answers to `name`, or -1. */
static int claimed_by(const struct nmk_driver_set *set, const char *name)
{
	for (unsigned i = 0; i < set->ndrv; i++) {
		const struct nmk_driver *d = set->drv[i].desc;
		if (strcmp(d->name, name) == 0)
			return (int)i;
		for (const char *const *a = d->aliases; a && *a; a++)
			if (strcmp(*a, name) == 0)
				return (int)i;
	}
	return -1;
}

/* Everything but the ownership checks: returns false after recording why. */
static bool check_desc(struct nmk_driver_set *set, const char *path, const struct nmk_driver *d)
{
	if (!d) {
		reject(set, path, "%s() returned NULL", NMK_DRIVER_ENTRY_SYMBOL);
		return false;
	}
	/* size first: it says how much of the descriptor may be read. */
	if (d->size < offsetof(struct nmk_driver, abi) + sizeof d->abi) {
		reject(set, path, "descriptor size %u is too small to hold an ABI version",
		       (unsigned)d->size);
		return false;
	}
	if (d->abi != NMK_DRIVER_ABI) {
		reject(set, path, "built for driver ABI %u, this nmkit loads ABI %u", (unsigned)d->abi,
		       (unsigned)NMK_DRIVER_ABI);
		return false;
	}
	if (d->size < NMK_DRIVER_V1_SIZE) {
		reject(set, path, "descriptor size %u is smaller than the ABI %u size %zu",
		       (unsigned)d->size, (unsigned)NMK_DRIVER_ABI, (size_t)NMK_DRIVER_V1_SIZE);
		return false;
	}
	if (!valid_name(d->name)) {
		reject(set, path, "driver name \"%s\" is not 1 to %d characters of [a-z0-9_]",
		       d->name ? d->name : "(null)", NMK_DRIVER_NAME_MAX);
		return false;
	}
	for (const char *const *a = d->aliases; a && *a; a++) {
		if (!valid_name(*a)) {
			reject(set, path, "driver %s: alias \"%s\" is not 1 to %d characters of [a-z0-9_]",
			       d->name, *a, NMK_DRIVER_NAME_MAX);
			return false;
		}
	}
	for (const struct nmk_driver_param *p = d->params; p && p->key; p++) {
		if (!valid_name(p->key)) {
			reject(set, path, "driver %s: parameter \"%s\" is not 1 to %d characters of [a-z0-9_]",
			       d->name, p->key, NMK_DRIVER_NAME_MAX);
			return false;
		}
	}
	/* A driver that cannot open a port or move frames is of no use, and
	 * checking here saves a NULL test on every fast-path call. */
	if (!d->open || !d->close || !d->txsync || !d->rxsync) {
		reject(set, path, "driver %s lacks one of open, close, txsync, rxsync", d->name);
		return false;
	}
	/* Its own names must be distinct, and free in this set. */
	const char *own[64];
	unsigned nown = 0;
	own[nown++] = d->name;
	for (const char *const *a = d->aliases; a && *a && nown < 64; a++)
		own[nown++] = *a;
	for (unsigned i = 0; i < nown; i++) {
		if (reserved_name(own[i])) {
			reject(set, path, "driver %s: the prefix \"%s\" is reserved by nmkit", d->name,
			       own[i]);
			return false;
		}
		for (unsigned j = 0; j < i; j++) {
			if (strcmp(own[i], own[j]) == 0) {
				reject(set, path, "driver %s names \"%s\" twice", d->name, own[i]);
				return false;
			}
		}
		int k = claimed_by(set, own[i]);
		if (k >= 0) {
			reject(set, path, "duplicate driver name \"%s\", already provided by %s",
			       own[i], set->drv[k].path);
			return false;
		}
	}
	return true;
}

static void load_one(struct nmk_driver_set *set, const char *path)
{
	char why[128];
	const char *bad;
	struct stat st;

	if (stat(path, &st) < 0) {
		reject(set, path, "cannot stat: %s", strerror(errno));
		return;
	}
	if (!S_ISREG(st.st_mode)) {
		reject(set, path, "not a regular file");
		return;
	}
	if ((bad = unsafe_owner(&st, why, sizeof why)) != NULL) {
		reject(set, path, "refused: the file is %s", bad);
		return;
	}

	/* RTLD_LOCAL: one plugin's symbols never satisfy another's. */
	dlerror();
	void *h = dlopen(path, RTLD_NOW | RTLD_LOCAL);
	if (!h) {
		const char *e = dlerror();
		reject(set, path, "dlopen failed: %s", e ? e : "unknown error");
		return;
	}
	dlerror();
	void *sym = dlsym(h, NMK_DRIVER_ENTRY_SYMBOL);
	if (!sym) {
		reject(set, path, "no symbol %s (not an nmkit driver, or one built for another ABI)",
		       NMK_DRIVER_ENTRY_SYMBOL);
		dlclose(h);
		return;
	}
	/* POSIX guarantees that a dlsym() result converts to a function pointer. */
	nmk_driver_entry_fn entry;
	memcpy(&entry, &sym, sizeof entry);
	const struct nmk_driver *d = entry();
	if (!check_desc(set, path, d)) {
		dlclose(h);
		return;
	}

	struct nmk_loaded_driver *v = realloc(set->drv, (set->ndrv + 1) * sizeof *v);
	char *p = strdup(path);
	if (!v || !p) {
		if (v)
			set->drv = v;
		free(p);
		reject(set, path, "out of memory");
		dlclose(h);
		return;
	}
	set->drv = v;
	set->drv[set->ndrv++] = (struct nmk_loaded_driver){ .desc = d, .handle = h, .path = p };
}

static int so_file(const struct dirent *e)
{
	size_t n = strlen(e->d_name);

	return e->d_name[0] != '.' && n > 3 && strcmp(e->d_name + n - 3, ".so") == 0;
}

int nmk_drivers_load(struct nmk_driver_set *set, const char *dir, char *err, size_t errlen)
{
	bool dflt = false;
	char why[128];
	const char *bad;
	struct stat st;

	memset(set, 0, sizeof *set);
	nmk_errbuf(err, errlen, "%s", "");
	if (!dir) {
		dir = getenv("NMKIT_DRIVER_PATH");
		if (!dir || !*dir) {
			dir = NMKIT_DRIVERDIR;
			dflt = true;
		}
	}
	set->dir = strdup(dir);
	if (!set->dir) {
		nmk_errbuf(err, errlen, "out of memory");
		return -ENOMEM;
	}

	if (stat(dir, &st) < 0) {
		int e = errno;
		if (dflt && e == ENOENT)
			return 0;       /* no driver installed */
		nmk_errbuf(err, errlen, "%s: driver directory: %s", dir, strerror(e));
		reject(set, dir, "driver directory: %s", strerror(e));
		return -e;
	}
	if (!S_ISDIR(st.st_mode)) {
		nmk_errbuf(err, errlen, "%s: driver directory: not a directory", dir);
		reject(set, dir, "driver directory: not a directory");
		return -ENOTDIR;
	}
	if ((bad = unsafe_owner(&st, why, sizeof why)) != NULL) {
		nmk_errbuf(err, errlen, "%s: driver directory refused: it is %s", dir, bad);
		reject(set, dir, "driver directory refused: it is %s", bad);
		return -EPERM;
	}

	struct dirent **names;
	int n = scandir(dir, &names, so_file, alphasort);
	if (n < 0) {
		int e = errno;
		nmk_errbuf(err, errlen, "%s: cannot read the driver directory: %s", dir, strerror(e));
		reject(set, dir, "cannot read the driver directory: %s", strerror(e));
		return -e;
	}
	for (int i = 0; i < n; i++) {
		size_t len = strlen(dir) + strlen(names[i]->d_name) + 2;
		char *path = malloc(len);
		if (path) {
			snprintf(path, len, "%s/%s", dir, names[i]->d_name);
			load_one(set, path);
			free(path);
		}
		free(names[i]);
	}
	free(names);
	return 0;
}

void nmk_drivers_free(struct nmk_driver_set *set)
{
	for (unsigned i = 0; i < set->ndrv; i++) {
		dlclose(set->drv[i].handle);
		free(set->drv[i].path);
	}
	for (unsigned i = 0; i < set->nrejected; i++)
		free(set->rejected[i]);
	free(set->drv);
	free(set->rejected);
	free(set->dir);
	memset(set, 0, sizeof *set);
}

const struct nmk_driver *nmk_driver_set_find(const struct nmk_driver_set *set, const char *prefix)
{
	if (!prefix)
		return NULL;
	int k = claimed_by(set, prefix);
	return k < 0 ? NULL : set->drv[k].desc;
}

/* The process-wide registry: loaded once, never freed (plugins may have
 * handed out pointers into themselves). */
static struct nmk_driver_set registry;
static pthread_once_t registry_once = PTHREAD_ONCE_INIT;

static void registry_load(void)
{
	char err[NMK_ERRBUF_SIZE];

	/* A refused directory is already in registry.rejected. */
	(void)nmk_drivers_load(&registry, NULL, err, sizeof err);
}

const struct nmk_driver_set *nmk_driver_registry(void)
{
	pthread_once(&registry_once, registry_load);
	return &registry;
}

const struct nmk_driver *nmk_driver_find(const char *prefix)
{
	return nmk_driver_set_find(nmk_driver_registry(), prefix);
}

static const struct nmk_driver_param *param_lookup(const struct nmk_driver *d, const char *key,
						   size_t klen)
{
	for (const struct nmk_driver_param *p = d->params; p && p->key; p++)
		if (strlen(p->key) == klen && strncmp(p->key, key, klen) == 0)
			return p;
	return NULL;
}

int nmk_driver_params_check(const struct nmk_driver *d, const char *params, char *err,
			    size_t errlen)
{
	const char *s = params;

	nmk_errbuf(err, errlen, "%s", "");
	if (!s)
		return 0;
	if (*s == '@')
		s++;
	if (!*s)
		return 0;
	/* Items are few and short: check each against the ones before it. */
	for (const char *item = s;;) {
		const char *end = strchr(item, ',');
		size_t ilen = end ? (size_t)(end - item) : strlen(item);
		const char *eq = memchr(item, '=', ilen);
		size_t klen = eq ? (size_t)(eq - item) : ilen;
		int kl = klen > 64 ? 64 : (int)klen;

		if (klen == 0) {
			nmk_errbuf(err, errlen, "driver %s: empty parameter name in \"%s\"", d->name, s);
			return -EINVAL;
		}
		if (!param_lookup(d, item, klen)) {
			char known[160] = "";
			size_t off = 0;
			for (const struct nmk_driver_param *p = d->params; p && p->key; p++) {
				int w = snprintf(known + off, sizeof known - off, "%s%s",
						 off ? ", " : "", p->key);
				if (w < 0 || (size_t)w >= sizeof known - off)
					break;
				off += (size_t)w;
			}
			nmk_errbuf(err, errlen, "driver %s: unknown parameter \"%.*s\" (known: %s)", d->name,
				kl, item, off ? known : "none");
			return -EINVAL;
		}
		if (!eq || eq + 1 == item + ilen) {
			nmk_errbuf(err, errlen, "driver %s: parameter \"%.*s\" has no value (use %.*s=VALUE)",
				d->name, kl, item, kl, item);
			return -EINVAL;
		}
		for (const char *prev = s; prev < item;) {
			const char *pend = strchr(prev, ',');
			size_t plen = strcspn(prev, "=,");
			if (plen == klen && strncmp(prev, item, klen) == 0) {
				nmk_errbuf(err, errlen, "driver %s: parameter \"%.*s\" given twice", d->name,
					kl, item);
				return -EINVAL;
			}
			prev = pend + 1;        /* pend exists: prev is before item */
		}
		if (!end)
			return 0;
		item = end + 1;
	}
}

/* Public API: the process-wide registry as plain structs. */

static void append(char *buf, size_t len, size_t *off, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static void append(char *buf, size_t len, size_t *off, const char *fmt, ...)
{
	va_list ap;

	if (*off >= len - 1)
		return;
	va_start(ap, fmt);
	int w = vsnprintf(buf + *off, len - *off, fmt, ap);
	va_end(ap);
	if (w > 0)
		*off = (size_t)w >= len - *off ? len - 1 : *off + (size_t)w;
}

int nmk_driver_list(unsigned index, struct nmk_driver_info *out, char *errbuf)
{
	const struct nmk_driver_set *set = nmk_driver_registry();
	struct nmk_driver_info di, *info = &di;
	size_t off;

	if (errbuf)
		errbuf[0] = '\0';
	if (!out) {
		if (errbuf)
			snprintf(errbuf, NMK_ERRBUF_SIZE, "nmk_driver_list: info is NULL");
		return -EINVAL;
	}
	int ret = nmk_abi_check(out, NMK_DRIVER_INFO_SIZE_0_1, "nmk_driver_list",
				"nmk_driver_info", errbuf, NMK_ERRBUF_SIZE);
	if (ret < 0)
		return ret;
	if (index >= set->ndrv)
		return 0;
	const struct nmk_loaded_driver *l = &set->drv[index];
	const struct nmk_driver *d = l->desc;

	memset(info, 0, sizeof *info);
	snprintf(info->name, sizeof info->name, "%s", d->name);
	off = 0;
	for (const char *const *a = d->aliases; a && *a; a++)
		append(info->aliases, sizeof info->aliases, &off, "%s%s", off ? "," : "", *a);
	snprintf(info->description, sizeof info->description, "%s",
		 d->description ? d->description : "");
	off = 0;
	for (const struct nmk_driver_param *p = d->params; p && p->key; p++) {
		append(info->params, sizeof info->params, &off, "%s%s", off ? "; " : "", p->key);
		if (p->defval)
			append(info->params, sizeof info->params, &off, "=%s", p->defval);
		if (p->help && *p->help)
			append(info->params, sizeof info->params, &off, " (%s)", p->help);
	}
	snprintf(info->path, sizeof info->path, "%s", l->path);
	nmk_abi_copy_out(out, info, sizeof *info);
	return 1;
}

int nmk_driver_rejected(unsigned index, char *msg, size_t len)
{
	const struct nmk_driver_set *set = nmk_driver_registry();

	if (index >= set->nrejected)
		return 0;
	if (msg && len)
		snprintf(msg, len, "%s", set->rejected[index]);
	return 1;
}
