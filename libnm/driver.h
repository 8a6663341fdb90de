/*
 * driver.h - the driver plugin loader (internal).
 *
 * Two ways to use it:
 *
 *  - A driver set (struct nmk_driver_set) that the caller loads from a
 *    directory and frees: what the tests use, since they load several
 *    directories in one process.
 *
 *  - The process-wide registry, loaded once (pthread_once) on first use
 *    from $NMKIT_DRIVER_PATH, or NMKIT_DRIVERDIR when it is unset, and kept
 *    for the life of the process: nmk_driver_find(), nmk_driver_list() and
 *    nmk_driver_rejected() use it.  Changing the variable after the first
 *    use has no effect.
 *
 * Plugins are never unloaded while a set lives, so the descriptors and the
 * functions they point to stay valid.  Nothing here prints or exits: every
 * refusal is a one-line message (the path, then the cause) kept in the set.
 */
#ifndef NMK_DRIVER_INTERNAL_H
#define NMK_DRIVER_INTERNAL_H

#include <stddef.h>

#include <nmkit/nmk_driver.h>

/* The smallest descriptor that has every v1 field (rxsync is the last). */
#define NMK_DRIVER_V1_SIZE \
	(offsetof(struct nmk_driver, rxsync) + sizeof(((struct nmk_driver *)0)->rxsync))

/* Longest driver name or alias (fits struct nmk_driver_info's name[32]). */
#define NMK_DRIVER_NAME_MAX 31

struct nmk_loaded_driver {
	const struct nmk_driver *desc;
	void *handle;                   /* from dlopen */
	char *path;
};

struct nmk_driver_set {
	char *dir;                      /* the directory scanned */
	struct nmk_loaded_driver *drv;
	unsigned ndrv;
	char **rejected;                /* "path: cause", one per refused file */
	unsigned nrejected;
};

/*
 * Load every "*.so" of `dir` (NULL: $NMKIT_DRIVER_PATH, else NMKIT_DRIVERDIR)
 * into `set`, in name order.  A file that is refused is recorded in
 * set->rejected and the others still load.  Returns 0, or a negative errno
 * (with the message in `err`, also recorded in set->rejected) when the
 * directory itself is refused or cannot be read; then nothing is loaded.
 * The default directory missing is not an error (nothing installed yet).
 * set must be freed with nmk_drivers_free() in every case.
 */
int nmk_drivers_load(struct nmk_driver_set *set, const char *dir, char *err, size_t errlen);
void nmk_drivers_free(struct nmk_driver_set *set);

/* The driver whose name or alias is `prefix`, or NULL. */
const struct nmk_driver *nmk_driver_set_find(const struct nmk_driver_set *set, const char *prefix);
/* The same in the process-wide registry. */
const struct nmk_driver *nmk_driver_find(const char *prefix);
/* The process-wide registry itself (loaded on first call). */
const struct nmk_driver_set *nmk_driver_registry(void);

/*
 * Check netmap-style parameters against d->params: "key=value,key=value",
 * with or without the leading '@' ("afpacket:eth0@fanout=hash" passes
 * "@fanout=hash" or "fanout=hash"); "" or NULL has none.  An unknown key, a
 * key given twice, a missing key or value give -EINVAL and a message that
 * names the key and the driver.
 */
int nmk_driver_params_check(const struct nmk_driver *d, const char *params, char *err,
			    size_t errlen);

#endif /* NMK_DRIVER_INTERNAL_H */
