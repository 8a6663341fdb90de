/*
 * testplugin.c - driver plugins for test_drivers, one per way a plugin can
 * be good or bad, chosen by a -D at build time (see Makefile.am):
 *
 *   PLUGIN_GOOD       "testdrv", alias "td", parameters speed and mode
 *   PLUGIN_BADABI     a descriptor that says ABI 99
 *   PLUGIN_NOSYM      no nmk_driver_entry_v1 at all
 *   PLUGIN_NULLENTRY  the entry returns NULL
 *   PLUGIN_SMALL      a descriptor whose size stops before the fast path
 *   PLUGIN_TWIN       a valid driver that claims the alias "td" again
 *
 * The ops do nothing useful: the loader never calls them.
 */
#include <errno.h>
#include <stddef.h>

#include <nmkit/nmk_driver.h>

static int tp_open(const struct nmk_driver_open_args *args, struct nmk_driver_port **port,
		   struct nmk_driver_geometry *geom, char *err, size_t errlen)
{
	(void)args; (void)port; (void)geom; (void)err; (void)errlen;
	return -EOPNOTSUPP;
}

static void tp_close(struct nmk_driver_port *port)
{
	(void)port;
}

static int tp_txsync(struct nmk_driver_port *port, unsigned ring, const struct nmk_driver_ring *r,
		     uint32_t from, uint32_t to)
{
	(void)port; (void)ring; (void)r; (void)from; (void)to;
	return 0;
}

static int tp_rxsync(struct nmk_driver_port *port, unsigned ring, const struct nmk_driver_ring *r,
		     uint32_t from, uint32_t room)
{
	(void)port; (void)ring; (void)r; (void)from; (void)room;
	return 0;
}

static const struct nmk_driver_param tp_params[] = {
	{ "speed", "link speed in Mb/s", "1000" },
	{ "mode", "test mode", NULL },
	{ NULL, NULL, NULL },
};

/* The twin has its own name but the good driver's alias. */
static const char *const tp_aliases[] = { "td", NULL };
#if defined(PLUGIN_TWIN)
#define TP_NAME "testtwin"
#else
#define TP_NAME "testdrv"
#endif

#if defined(PLUGIN_BADABI)
#define TP_ABI 99u
#else
#define TP_ABI NMK_DRIVER_ABI
#endif

#if defined(PLUGIN_SMALL)
#define TP_SIZE ((uint32_t)offsetof(struct nmk_driver, txsync))
#else
#define TP_SIZE ((uint32_t)sizeof(struct nmk_driver))
#endif

static const struct nmk_driver tp_driver = {
	.size = TP_SIZE,
	.abi = TP_ABI,
	.name = TP_NAME,
	.aliases = tp_aliases,
	.description = "nmkit's test driver",
	.params = tp_params,
	.priority = 0,
	.open = tp_open,
	.close = tp_close,
	.txsync = tp_txsync,
	.rxsync = tp_rxsync,
};

/* Only the entry is exported; the prototype keeps -Wmissing-prototypes quiet. */
#if !defined(PLUGIN_NOSYM)
const struct nmk_driver *nmk_driver_entry_v1(void);

const struct nmk_driver *nmk_driver_entry_v1(void)
{
#if defined(PLUGIN_NULLENTRY)
	(void)tp_driver;
	return NULL;
#else
	return &tp_driver;
#endif
}
#else
/* Something exported, so that the object is a plausible plugin otherwise. */
const struct nmk_driver *nmk_driver_entry_v0(void);

const struct nmk_driver *nmk_driver_entry_v0(void)
{
	return &tp_driver;
}
#endif
