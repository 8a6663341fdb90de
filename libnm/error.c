/*
 * error.c - error strings and the version.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <string.h>

#include <nmkit/nmkit.h>

const char *nmk_strerror(int err)
{
	return strerror(err < 0 ? -err : err);
}

const char *nmk_version(void)
{
#ifdef PACKAGE_VERSION
	return "nmkit " PACKAGE_VERSION;
#else
	return "nmkit";
#endif
}
