/*
 * test_drivers.c - the driver plugin loader (libnm/driver.c).
 *
 * The plugins are built from tests/drivers/testplugin.c as check_LTLIBRARIES
 * (one good, one per way of being bad); each test copies the ones it wants
 * from $NMKIT_TEST_BUILDDIR/tests/drivers/.libs into a fresh private
 * directory, so that permissions can be changed freely, and loads that.
 * Copies, not symlinks: the loader checks the files themselves.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <nmkit/nmkit.h>

#include "driver.h"

static const char *builddir(void)
{
	const char *b = getenv("NMKIT_TEST_BUILDDIR");
	return b && *b ? b : ".";
}

static void copy_file(const char *src, const char *dst, mode_t mode)
{
	char buf[65536];
	ssize_t n;
	int in = open(src, O_RDONLY | O_CLOEXEC);
	if (in < 0)
		fail_msg("%s: %s (are the test plugins built? make check builds them)", src,
			 strerror(errno));
	int out = open(dst, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	assert_true(out >= 0);
	while ((n = read(in, buf, sizeof buf)) > 0)
		assert_int_equal(write(out, buf, (size_t)n), n);
	assert_int_equal(n, 0);
	/* Explicitly, whatever the umask. */
	assert_int_equal(fchmod(out, mode), 0);
	close(in);
	close(out);
}

/* A fresh 0700 directory holding copies of the named plugins (NULL-ended). */
static char *plugin_dir(const char *first, ...)
{
	char *dir = strdup("/tmp/nmkit-drivers-XXXXXX");
	assert_non_null(dir);
	assert_non_null(mkdtemp(dir));
	va_list ap;
	va_start(ap, first);
	for (const char *p = first; p; p = va_arg(ap, const char *)) {
		char src[PATH_MAX], dst[PATH_MAX];
		snprintf(src, sizeof src, "%s/tests/drivers/.libs/%s.so", builddir(), p);
		snprintf(dst, sizeof dst, "%s/%s.so", dir, p);
		copy_file(src, dst, 0755);
	}
	va_end(ap);
	return dir;
}

static void path_in(char *buf, size_t len, const char *dir, const char *file)
{
	snprintf(buf, len, "%s/%s", dir, file);
}

static void remove_dir(char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *e;

	assert_non_null(d);
	while ((e = readdir(d)) != NULL) {
		char p[PATH_MAX];
		if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
			continue;
		path_in(p, sizeof p, dir, e->d_name);
		unlink(p);
	}
	closedir(d);
	rmdir(dir);
	free(dir);
}

/* The refusal of `file` in dir, which must mention `cause`. */
static const char *rejected_for(const struct nmk_driver_set *set, const char *dir, const char *file)
{
	char p[PATH_MAX];

	path_in(p, sizeof p, dir, file);
	for (unsigned i = 0; i < set->nrejected; i++)
		if (strncmp(set->rejected[i], p, strlen(p)) == 0 && set->rejected[i][strlen(p)] == ':')
			return set->rejected[i];
	return NULL;
}

static void assert_refused(const struct nmk_driver_set *set, const char *dir, const char *file,
			   const char *cause)
{
	const char *m = rejected_for(set, dir, file);
	if (!m)
		fail_msg("%s was not refused", file);
	if (!strstr(m, cause))
		fail_msg("refusal of %s is \"%s\", expected it to mention \"%s\"", file, m, cause);
	assert_null(strchr(m, '\n'));
}

static void test_good_alone(void **state)
{
	(void)state;
	char *dir = plugin_dir("good", NULL);
	struct nmk_driver_set set;
	char err[256];

	assert_int_equal(nmk_drivers_load(&set, dir, err, sizeof err), 0);
	assert_string_equal(err, "");
	assert_int_equal(set.ndrv, 1);
	assert_int_equal(set.nrejected, 0);
	const struct nmk_driver *d = nmk_driver_set_find(&set, "testdrv");
	assert_non_null(d);
	assert_string_equal(d->name, "testdrv");
	assert_ptr_equal(nmk_driver_set_find(&set, "td"), d);
	assert_null(nmk_driver_set_find(&set, "tdx"));
	assert_null(nmk_driver_set_find(&set, "testdr"));
	assert_null(nmk_driver_set_find(&set, NULL));
	assert_int_equal(d->abi, NMK_DRIVER_ABI);
	assert_true(d->size >= NMK_DRIVER_V1_SIZE);
	assert_non_null(strstr(set.drv[0].path, "/good.so"));
	nmk_drivers_free(&set);
	remove_dir(dir);
}

/* Every kind of bad plugin beside the good one: each refused with its own
 * reason, the good one loaded all the same. */
static void test_bad_beside_good(void **state)
{
	(void)state;
	char *dir = plugin_dir("badabi", "good", "nosym", "nullentry", "small", "twin", NULL);
	struct nmk_driver_set set;
	char err[256], p[PATH_MAX];

	/* Not "*.so": never looked at. */
	path_in(p, sizeof p, dir, "README.txt");
	FILE *f = fopen(p, "w");
	assert_non_null(f);
	fputs("not a plugin\n", f);
	fclose(f);
	path_in(p, sizeof p, dir, "good.so.bak");
	FILE *g = fopen(p, "w");
	assert_non_null(g);
	fclose(g);

	assert_int_equal(nmk_drivers_load(&set, dir, err, sizeof err), 0);
	assert_int_equal(set.ndrv, 1);
	assert_non_null(nmk_driver_set_find(&set, "testdrv"));
	assert_ptr_equal(nmk_driver_set_find(&set, "td"), nmk_driver_set_find(&set, "testdrv"));
	assert_null(nmk_driver_set_find(&set, "testtwin"));
	assert_int_equal(set.nrejected, 5);
	assert_refused(&set, dir, "badabi.so", "ABI 99");
	assert_refused(&set, dir, "nosym.so", "nmk_driver_entry_v1");
	assert_refused(&set, dir, "nullentry.so", "returned NULL");
	assert_refused(&set, dir, "small.so", "size");
	/* A duplicate names both files. */
	assert_refused(&set, dir, "twin.so", "\"td\"");
	path_in(p, sizeof p, dir, "good.so");
	assert_refused(&set, dir, "twin.so", p);
	nmk_drivers_free(&set);
	remove_dir(dir);
}

static void test_world_writable_dir(void **state)
{
	(void)state;
	char *dir = plugin_dir("good", NULL);
	struct nmk_driver_set set;
	char err[512];

	assert_int_equal(chmod(dir, 0777), 0);
	assert_int_equal(nmk_drivers_load(&set, dir, err, sizeof err), -EPERM);
	assert_non_null(strstr(err, "world-writable"));
	assert_non_null(strstr(err, dir));
	assert_int_equal(set.ndrv, 0);
	assert_null(nmk_driver_set_find(&set, "testdrv"));
	assert_int_equal(set.nrejected, 1);
	assert_non_null(strstr(set.rejected[0], dir));
	assert_non_null(strstr(set.rejected[0], "world-writable"));
	nmk_drivers_free(&set);

	/* Sticky does not make it safe: anyone can still add a plugin. */
	assert_int_equal(chmod(dir, 01777), 0);
	assert_int_equal(nmk_drivers_load(&set, dir, err, sizeof err), -EPERM);
	assert_int_equal(set.ndrv, 0);
	nmk_drivers_free(&set);

	assert_int_equal(chmod(dir, 0755), 0);
	assert_int_equal(nmk_drivers_load(&set, dir, err, sizeof err), 0);
	assert_int_equal(set.ndrv, 1);
	nmk_drivers_free(&set);
	remove_dir(dir);
}

/* A world-writable file is refused alone: the next one (which needs the
 * alias the refused one would have taken) loads. */
static void test_world_writable_file(void **state)
{
	(void)state;
	char *dir = plugin_dir("good", "twin", NULL);
	struct nmk_driver_set set;
	char err[256], p[PATH_MAX];

	path_in(p, sizeof p, dir, "good.so");
	assert_int_equal(chmod(p, 0666), 0);
	assert_int_equal(nmk_drivers_load(&set, dir, err, sizeof err), 0);
	assert_int_equal(set.ndrv, 1);
	assert_null(nmk_driver_set_find(&set, "testdrv"));
	assert_non_null(nmk_driver_set_find(&set, "testtwin"));
	assert_non_null(nmk_driver_set_find(&set, "td"));
	assert_int_equal(set.nrejected, 1);
	assert_refused(&set, dir, "good.so", "world-writable");
	nmk_drivers_free(&set);
	remove_dir(dir);
}

/* Owned by somebody else: only root can set that up. */
static void test_foreign_owner(void **state)
{
	(void)state;
	if (geteuid() != 0) {
		skip();
		return;
	}
	char *dir = plugin_dir("good", NULL);
	struct nmk_driver_set set;
	char err[512], p[PATH_MAX];

	path_in(p, sizeof p, dir, "good.so");
	assert_int_equal(chown(p, 65534, 65534), 0);
	assert_int_equal(nmk_drivers_load(&set, dir, err, sizeof err), 0);
	assert_int_equal(set.ndrv, 0);
	assert_refused(&set, dir, "good.so", "owned by uid 65534");
	nmk_drivers_free(&set);

	assert_int_equal(chown(p, 0, 0), 0);
	assert_int_equal(chown(dir, 65534, 65534), 0);
	assert_int_equal(nmk_drivers_load(&set, dir, err, sizeof err), -EPERM);
	assert_non_null(strstr(err, "owned by uid 65534"));
	assert_non_null(strstr(err, dir));
	assert_int_equal(set.ndrv, 0);
	nmk_drivers_free(&set);
	remove_dir(dir);
}

static void test_missing_dir(void **state)
{
	(void)state;
	struct nmk_driver_set set;
	char err[256];
	const char *dir = "/nonexistent/nmkit-drivers";

	assert_int_equal(nmk_drivers_load(&set, dir, err, sizeof err), -ENOENT);
	assert_non_null(strstr(err, dir));
	assert_int_equal(set.ndrv, 0);
	assert_int_equal(set.nrejected, 1);
	nmk_drivers_free(&set);

	/* An empty directory: nothing, and nothing wrong. */
	char *empty = plugin_dir(NULL);
	assert_int_equal(nmk_drivers_load(&set, empty, err, sizeof err), 0);
	assert_int_equal(set.ndrv, 0);
	assert_int_equal(set.nrejected, 0);
	nmk_drivers_free(&set);
	remove_dir(empty);
}

static void test_params(void **state)
{
	(void)state;
	char *dir = plugin_dir("good", NULL);
	struct nmk_driver_set set;
	char err[256];

	assert_int_equal(nmk_drivers_load(&set, dir, err, sizeof err), 0);
	const struct nmk_driver *d = nmk_driver_set_find(&set, "testdrv");
	assert_non_null(d);

	static const char *const good[] = {
		NULL, "", "@", "speed=10,mode=x", "@speed=10,mode=x", "mode=a=b", "speed=10",
	};
	for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
		int r = nmk_driver_params_check(d, good[i], err, sizeof err);
		if (r != 0)
			fail_msg("\"%s\" refused: %s", good[i] ? good[i] : "(null)", err);
		assert_string_equal(err, "");
	}

	static const struct {
		const char *params, *want1, *want2;
	} bad[] = {
		{ "bogus=1", "\"bogus\"", "testdrv" },
		{ "@speed=10,bogus=1", "\"bogus\"", "testdrv" },
		{ "speed=1,speed=2", "\"speed\"", "twice" },
		{ "speed=1,mode=x,speed=2", "\"speed\"", "twice" },
		{ "speed", "\"speed\"", "no value" },
		{ "speed=", "\"speed\"", "no value" },
		{ "mode=x,speed", "\"speed\"", "no value" },
		{ "speed=1,,mode=2", "empty", "testdrv" },
		{ "=3", "empty", "testdrv" },
		{ "speed=1,", "empty", "testdrv" },
		{ "Speed=1", "\"Speed\"", "unknown" },
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		int r = nmk_driver_params_check(d, bad[i].params, err, sizeof err);
		if (r != -EINVAL)
			fail_msg("\"%s\" gave %d, expected -EINVAL", bad[i].params, r);
		if (!strstr(err, bad[i].want1) || !strstr(err, bad[i].want2))
			fail_msg("\"%s\": message \"%s\" lacks \"%s\" or \"%s\"", bad[i].params, err,
				 bad[i].want1, bad[i].want2);
	}
	nmk_drivers_free(&set);
	remove_dir(dir);
}

/* The process-wide registry and the public API, then `vale-ctl --drivers`
 * on the same directory.  Must be the only test that touches the registry:
 * it is loaded once per process. */
static void test_registry_and_valectl(void **state)
{
	(void)state;
	char *dir = plugin_dir("good", "badabi", "nosym", NULL);
	char err[NMK_ERRBUF_SIZE], msg[512];
	struct nmk_driver_info di = NMK_DRIVER_INFO_INIT;

	assert_int_equal(setenv("NMKIT_DRIVER_PATH", dir, 1), 0);
	const struct nmk_driver *d = nmk_driver_find("td");
	assert_non_null(d);
	assert_string_equal(d->name, "testdrv");
	assert_ptr_equal(nmk_driver_find("testdrv"), d);
	assert_null(nmk_driver_find("afpacket"));

	assert_int_equal(nmk_driver_list(0, &di, err), 1);
	assert_string_equal(di.name, "testdrv");
	assert_string_equal(di.aliases, "td");
	assert_string_equal(di.description, "nmkit's test driver");
	assert_string_equal(di.params, "speed=1000 (link speed in Mb/s); mode (test mode)");
	assert_non_null(strstr(di.path, "/good.so"));
	assert_int_equal(nmk_driver_list(1, &di, err), 0);
	assert_int_equal(nmk_driver_list(0, NULL, err), -EINVAL);

	assert_int_equal(nmk_driver_rejected(0, msg, sizeof msg), 1);
	assert_non_null(strstr(msg, "/badabi.so: "));
	assert_non_null(strstr(msg, "ABI"));
	assert_int_equal(nmk_driver_rejected(1, msg, sizeof msg), 1);
	assert_non_null(strstr(msg, "/nosym.so: "));
	assert_non_null(strstr(msg, "nmk_driver_entry_v1"));
	assert_int_equal(nmk_driver_rejected(2, msg, sizeof msg), 0);

	/* The tool, in a child, with the same NMKIT_DRIVER_PATH. */
	char cmd[PATH_MAX + 64], out[8192] = "";
	snprintf(cmd, sizeof cmd, "'%s/apps/vale-ctl/vale-ctl' --drivers 2>&1", builddir());
	FILE *p = popen(cmd, "r");
	assert_non_null(p);
	size_t n = fread(out, 1, sizeof out - 1, p);
	out[n] = '\0';
	int st = pclose(p);
	if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
		fail_msg("vale-ctl --drivers: status %#x, output:\n%s", st, out);
	static const char *const want[] = {
		"testdrv (aliases: td): nmkit's test driver\n",
		"/good.so\n",
		"@speed=1000 (link speed in Mb/s)\n",
		"@mode (test mode)\n",
		"refused: ",
		"/badabi.so: built for driver ABI 99",
		"/nosym.so: no symbol nmk_driver_entry_v1",
	};
	for (size_t i = 0; i < sizeof want / sizeof want[0]; i++)
		if (!strstr(out, want[i]))
			fail_msg("vale-ctl --drivers lacks \"%s\"; output:\n%s", want[i], out);

	/* The short options still work beside the long one. */
	snprintf(cmd, sizeof cmd, "'%s/apps/vale-ctl/vale-ctl' --drivers -n x >/dev/null 2>&1",
		 builddir());
	st = system(cmd);
	assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 1);

	remove_dir(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_good_alone),
		cmocka_unit_test(test_bad_beside_good),
		cmocka_unit_test(test_world_writable_dir),
		cmocka_unit_test(test_world_writable_file),
		cmocka_unit_test(test_foreign_owner),
		cmocka_unit_test(test_missing_dir),
		cmocka_unit_test(test_params),
		cmocka_unit_test(test_registry_and_valectl),
	};

	return cmocka_run_group_tests_name("drivers", tests, NULL, NULL);
}
