/*
 * test_os.c - unit tests for the OS layer (os/nm_os.h).
 *
 * These pin down the properties the rest of nmkit relies on: regions are
 * sparse and their size cannot change once created, notification never
 * blocks the signaller, peer credentials are the peer's, and the clocks and
 * CPU helpers return sane values.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif
#ifndef _GNU_SOURCE
#define _GNU_SOURCE	/* memfd_create, F_GET_SEALS, sched_getaffinity */
#endif

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <sys/wait.h>
#include <unistd.h>

#include "nm_os.h"

#define GIB	((size_t)1 << 30)
#define MIB	((size_t)1 << 20)

static void
sleep_ms(long ms)
{
	struct timespec req = { ms / 1000, (ms % 1000) * 1000000L }, rem;

	while (nanosleep(&req, &rem) != 0 && errno == EINTR)
		req = rem;
}

/* 1 if fd has data to read right now, 0 if not. */
static int
readable(int fd, int timeout_ms)
{
	struct pollfd pfd = { .fd = fd, .events = POLLIN };
	int n;

	do {
		n = poll(&pfd, 1, timeout_ms);
	} while (n < 0 && errno == EINTR);
	assert_true(n >= 0);
	return n > 0 && (pfd.revents & POLLIN) != 0;
}

/* ---- shared memory ------------------------------------------------------ */

static void
test_shm_create_sparse(void **state)
{
	long page = sysconf(_SC_PAGESIZE);
	struct stat st;
	char *p;
	int fd;

	(void)state;
	fd = nm_os_shm_create("test-sparse", GIB);
	assert_true(fd >= 0);
	assert_true((fcntl(fd, F_GETFD) & FD_CLOEXEC) != 0);

	assert_int_equal(fstat(fd, &st), 0);
	assert_int_equal(st.st_size, GIB);
#ifdef __linux__
	/* shmem counts only allocated pages in st_blocks (FreeBSD reports the
	 * full size there, so the check is Linux-only). */
	assert_int_equal(st.st_blocks, 0);
#endif

	p = nm_os_shm_map(fd, GIB);
	assert_non_null(p);
	p[GIB / 2 + 123] = 1;	/* touch one page in the middle */
#ifdef __linux__
	assert_int_equal(fstat(fd, &st), 0);
	/* One page, or at most one huge page if shmem THP is enabled: either
	 * way nothing near the 1 GiB a non-sparse object would use. */
	assert_true(st.st_blocks * 512 >= page);
	assert_true(st.st_blocks * 512 <= 2 * (long long)MIB);
#else
	(void)page;
#endif
	nm_os_shm_unmap(p, GIB);
	close(fd);
}

static void
test_shm_sealed(void **state)
{
	int fd, seals;

	(void)state;
	fd = nm_os_shm_create("test-sealed", GIB);
	assert_true(fd >= 0);

	errno = 0;
	assert_int_equal(ftruncate(fd, GIB / 2), -1);
	assert_int_equal(errno, EPERM);
	errno = 0;
	assert_int_equal(ftruncate(fd, 2 * GIB), -1);
	assert_int_equal(errno, EPERM);

	seals = fcntl(fd, F_GET_SEALS);
	assert_true(seals >= 0);
	assert_int_equal(seals & (F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL),
	    F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL);
	/* The region must stay writable ... */
	assert_int_equal(seals & F_SEAL_WRITE, 0);
	/* ... and F_SEAL_SEAL means no one can add more seals later. */
	errno = 0;
	assert_int_equal(fcntl(fd, F_ADD_SEALS, F_SEAL_WRITE), -1);
	assert_int_equal(errno, EPERM);
	close(fd);
}

static void
test_shm_create_bad_size(void **state)
{
	(void)state;
	assert_int_equal(nm_os_shm_create("test-zero", 0), -EINVAL);
	assert_true(nm_os_shm_create("test-huge", SIZE_MAX) < 0);
	/* The name is a label only: NULL and very long names must work. */
	{
		char name[600];
		int fd;

		memset(name, 'x', sizeof(name) - 1);
		name[sizeof(name) - 1] = '\0';
		fd = nm_os_shm_create(name, 4096);
		assert_true(fd >= 0);
		close(fd);
		fd = nm_os_shm_create(NULL, 4096);
		assert_true(fd >= 0);
		close(fd);
	}
}

static void
test_shm_check(void **state)
{
	int fd, raw, pfd[2];

	(void)state;
	fd = nm_os_shm_create("test-check", GIB);
	assert_true(fd >= 0);
	assert_int_equal(nm_os_shm_check(fd, GIB), 0);
	assert_int_equal(nm_os_shm_check(fd, GIB - 1), 0);
	assert_int_equal(nm_os_shm_check(fd, 4096), 0);
	assert_true(nm_os_shm_check(fd, GIB + 1) < 0);
	assert_true(nm_os_shm_check(fd, 2 * GIB) < 0);
	close(fd);

	/* Right size but no seals: could be shrunk under a mapping. */
	raw = memfd_create("test-unsealed", MFD_CLOEXEC | MFD_ALLOW_SEALING);
	assert_true(raw >= 0);
	assert_int_equal(ftruncate(raw, (off_t)MIB), 0);
	assert_true(nm_os_shm_check(raw, MIB) < 0);
	/* Growing sealed but shrinking still allowed: still unsafe. */
	assert_int_equal(fcntl(raw, F_ADD_SEALS, F_SEAL_GROW), 0);
	assert_true(nm_os_shm_check(raw, MIB) < 0);
	assert_int_equal(fcntl(raw, F_ADD_SEALS, F_SEAL_SHRINK), 0);
	assert_int_equal(nm_os_shm_check(raw, MIB), 0);
	close(raw);

	/* Sealing never enabled. */
	raw = memfd_create("test-nosealing", MFD_CLOEXEC);
	assert_true(raw >= 0);
	assert_int_equal(ftruncate(raw, (off_t)MIB), 0);
	assert_true(nm_os_shm_check(raw, MIB) < 0);
	close(raw);

	/* Not shared memory at all, and not an fd at all. */
	assert_int_equal(pipe(pfd), 0);
	assert_true(nm_os_shm_check(pfd[0], 0) < 0);
	close(pfd[0]);
	close(pfd[1]);
	assert_int_equal(nm_os_shm_check(pfd[0], 0), -EBADF);
}

static void
test_shm_map_twice(void **state)
{
	size_t size = 4 * MIB;
	volatile unsigned char *a, *b;
	int fd;

	(void)state;
	fd = nm_os_shm_create("test-map", size);
	assert_true(fd >= 0);
	a = nm_os_shm_map(fd, size);
	b = nm_os_shm_map(fd, size);
	assert_non_null(a);
	assert_non_null(b);
	assert_ptr_not_equal(a, b);

	for (size_t off = 0; off < size; off += 65537)
		a[off] = (unsigned char)(off * 7 + 1);
	for (size_t off = 0; off < size; off += 65537)
		assert_int_equal(b[off], (unsigned char)(off * 7 + 1));
	b[size - 1] = 0xa5;
	assert_int_equal(a[size - 1], 0xa5);

	nm_os_shm_unmap((void *)a, size);
	nm_os_shm_unmap((void *)b, size);
	close(fd);

	assert_null(nm_os_shm_map(-1, size));
}

/* ---- notification ------------------------------------------------------- */

static void *
signal_later(void *arg)
{
	sleep_ms(20);
	return (void *)(intptr_t)nm_os_notify_signal(*(int *)arg);
}

static void
test_notify(void **state)
{
	pthread_t th;
	void *ret;
	int fd;

	(void)state;
	fd = nm_os_notify_create();
	assert_true(fd >= 0);
	assert_true((fcntl(fd, F_GETFD) & FD_CLOEXEC) != 0);
	assert_true((fcntl(fd, F_GETFL) & O_NONBLOCK) != 0);

	assert_false(readable(fd, 0));
	assert_int_equal(nm_os_notify_drain(fd), 0);	/* nothing pending */

	assert_int_equal(nm_os_notify_signal(fd), 0);
	assert_true(readable(fd, 0));
	assert_int_equal(nm_os_notify_drain(fd), 0);
	assert_false(readable(fd, 0));

	/* Many signals coalesce; none of them may block. */
	for (int i = 0; i < 100000; i++)
		assert_int_equal(nm_os_notify_signal(fd), 0);
	assert_true(readable(fd, 0));
	assert_int_equal(nm_os_notify_drain(fd), 0);
	assert_false(readable(fd, 0));

#ifdef __linux__
	/* Even a saturated eventfd counter must not make signal block or
	 * fail: a wakeup is pending either way. */
	{
		uint64_t big = UINT64_MAX - 1;

		assert_int_equal(write(fd, &big, sizeof(big)), sizeof(big));
		assert_int_equal(nm_os_notify_signal(fd), 0);
		assert_true(readable(fd, 0));
		assert_int_equal(nm_os_notify_drain(fd), 0);
		assert_false(readable(fd, 0));
	}
#endif

	/* The point of it: a thread wakes another sleeping in poll. */
	assert_int_equal(pthread_create(&th, NULL, signal_later, &fd), 0);
	assert_true(readable(fd, 5000));
	assert_int_equal(pthread_join(th, &ret), 0);
	assert_int_equal((intptr_t)ret, 0);
	assert_int_equal(nm_os_notify_drain(fd), 0);
	close(fd);

	assert_true(nm_os_notify_signal(-1) < 0);
	assert_true(nm_os_notify_drain(-1) < 0);
}

/* ---- credentials -------------------------------------------------------- */

static void
test_peer_cred(void **state)
{
	struct nm_os_cred cred;
	int sv[2], s, pfd[2];

	(void)state;
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	memset(&cred, 0xff, sizeof(cred));
	assert_int_equal(nm_os_peer_cred(sv[0], &cred), 0);
	assert_int_equal(cred.pid, getpid());
	assert_int_equal(cred.uid, getuid());
	assert_int_equal(cred.gid, getgid());
	memset(&cred, 0xff, sizeof(cred));
	assert_int_equal(nm_os_peer_cred(sv[1], &cred), 0);
	assert_int_equal(cred.pid, getpid());
	assert_int_equal(nm_os_peer_cred(sv[0], NULL), -EINVAL);
	close(sv[0]);
	close(sv[1]);

	/* No peer, and not a socket: errors, not made-up credentials. */
	s = socket(AF_UNIX, SOCK_STREAM, 0);
	assert_true(s >= 0);
	assert_true(nm_os_peer_cred(s, &cred) < 0);
	close(s);
	assert_int_equal(pipe(pfd), 0);
	assert_true(nm_os_peer_cred(pfd[0], &cred) < 0);
	close(pfd[0]);
	close(pfd[1]);
}

/* ---- time --------------------------------------------------------------- */

static void
test_now_ns(void **state)
{
	uint64_t prev, now, t0;

	(void)state;
	prev = nm_os_now_ns();
	assert_true(prev > 0);
	for (int i = 0; i < 100000; i++) {
		now = nm_os_now_ns();
		assert_true(now >= prev);
		prev = now;
	}
	t0 = nm_os_now_ns();
	sleep_ms(10);
	now = nm_os_now_ns();
	assert_true(now - t0 >= 10 * 1000000ull);
	assert_true(now - t0 < 10 * 1000000000ull);
}

static void *
get_hz(void *arg)
{
	*(uint64_t *)arg = nm_os_cycles_hz();
	return NULL;
}

static void
test_cycles(void **state)
{
	pthread_t th[4];
	uint64_t hz, hzs[4], c0, c1, co0, co1, t0, t1;
	double inner, outer, elapsed;

	(void)state;
	/* Calibration runs once even when first asked from many threads. */
	for (int i = 0; i < 4; i++)
		assert_int_equal(pthread_create(&th[i], NULL, get_hz, &hzs[i]), 0);
	for (int i = 0; i < 4; i++)
		assert_int_equal(pthread_join(th[i], NULL), 0);
	hz = nm_os_cycles_hz();
	for (int i = 0; i < 4; i++)
		assert_int_equal(hzs[i], hz);
	assert_true(hz >= 100000000ull);
	assert_true(hz <= 100000000000ull);

	c0 = nm_os_cycles();
	c1 = nm_os_cycles();
	assert_true(c1 >= c0);

	/*
	 * The calibration agrees with the monotonic clock over a fresh
	 * interval.  The cycle reads bracket the clock reads on the outside
	 * and the inside, so a preemption between two reads (a loaded
	 * machine running tests in parallel) can only widen the gap between
	 * the bounds, never push either past the clock.
	 */
	co0 = nm_os_cycles();
	t0 = nm_os_now_ns();
	c0 = nm_os_cycles();
	sleep_ms(50);
	c1 = nm_os_cycles();
	t1 = nm_os_now_ns();
	co1 = nm_os_cycles();
	assert_true(c1 > c0);
	elapsed = (double)(t1 - t0) / 1e9;
	inner = (double)(c1 - c0) / (double)hz;
	outer = (double)(co1 - co0) / (double)hz;
	assert_true(inner < elapsed * 1.05);
	assert_true(outer > elapsed * 0.95);
}

/* ---- CPUs --------------------------------------------------------------- */

struct pin_result {
	int cpu;
	int pin_rc;
	int current;
};

static void *
pin_thread_main(void *arg)
{
	struct pin_result *r = arg;

	r->pin_rc = nm_os_pin_thread(r->cpu);
	r->current = nm_os_current_cpu();
	return NULL;
}

static void
test_cpus(void **state)
{
	struct pin_result r = { .cpu = 0 };
	pthread_t th;

	(void)state;
	assert_true(nm_os_ncpus() >= 1);
	assert_int_equal(nm_os_pin_thread(-1), -EINVAL);
	assert_true(nm_os_pin_thread(1 << 24) < 0);
	assert_true(nm_os_current_cpu() >= -1);

#ifdef __linux__
	/* CPU 0 normally, but a container may not allow it: use the lowest
	 * CPU we may run on. */
	{
		cpu_set_t allowed;

		assert_int_equal(sched_getaffinity(0, sizeof(allowed), &allowed), 0);
		while (r.cpu < CPU_SETSIZE && !CPU_ISSET(r.cpu, &allowed))
			r.cpu++;
		assert_true(r.cpu < CPU_SETSIZE);
	}
#endif
	/* Pin a helper thread, not this one, so later tests run unpinned. */
	assert_int_equal(pthread_create(&th, NULL, pin_thread_main, &r), 0);
	assert_int_equal(pthread_join(th, NULL), 0);
	assert_int_equal(r.pin_rc, 0);
	/* -1 is allowed where the OS cannot tell (FreeBSD before 13.1). */
	if (r.current != -1)
		assert_int_equal(r.current, r.cpu);
#ifdef __linux__
	assert_int_equal(r.current, r.cpu);
#endif
}

/* ---- kernel netmap ------------------------------------------------------ */

/* A live process, a zombie and a reaped one. */
static void
test_pid_dead(void **state)
{
	(void)state;
	assert_int_equal(nm_os_pid_dead(getpid()), 0);
	pid_t kid = fork();
	if (kid == 0)
		_exit(0);
	assert_true(kid > 0);
	/* Not reaped yet: a zombie, which never runs again. */
	for (int i = 0; i < 200 && !nm_os_pid_dead(kid); i++)
		usleep(5000);
	assert_int_equal(nm_os_pid_dead(kid), 1);
	assert_int_equal(waitpid(kid, NULL, 0), kid);
	assert_int_equal(nm_os_pid_dead(kid), 1);
	assert_int_equal(nm_os_pid_dead(0), 0);
}

static void
test_kernel_netmap(void **state)
{
	int k;

	(void)state;
	k = nm_os_kernel_netmap();
	assert_true(k == 0 || k == 1);
	/* Without the device node there is certainly no kernel netmap. */
	if (access("/dev/netmap", F_OK) != 0)
		assert_int_equal(k, 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_shm_create_sparse),
		cmocka_unit_test(test_shm_sealed),
		cmocka_unit_test(test_shm_create_bad_size),
		cmocka_unit_test(test_shm_check),
		cmocka_unit_test(test_shm_map_twice),
		cmocka_unit_test(test_notify),
		cmocka_unit_test(test_peer_cred),
		cmocka_unit_test(test_now_ns),
		cmocka_unit_test(test_cycles),
		cmocka_unit_test(test_cpus),
		cmocka_unit_test(test_pid_dead),
		cmocka_unit_test(test_kernel_netmap),
	};

	return cmocka_run_group_tests_name("nm_os", tests, NULL, NULL);
}
