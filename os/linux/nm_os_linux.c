/*
 * nm_os_linux.c - the nm_os layer (os/nm_os.h) for Linux.
 *
 * Shared memory is a sealed memfd, notification an eventfd, peer
 * credentials come from SO_PEERCRED, and the cycle counter is the TSC on
 * x86_64 (the monotonic clock elsewhere).  Every function reports failure
 * as a negative errno (nm_os_shm_map: NULL with errno) and never prints or
 * exits, because this code runs inside applications as well as the broker.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif
#ifndef _GNU_SOURCE
#define _GNU_SOURCE	/* memfd_create, F_ADD_SEALS, SO_PEERCRED, sched_getcpu */
#endif

#include "nm_os.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* Shared memory and notification: os/common/nm_os_memfd.c. */

/* ---- credentials -------------------------------------------------------- */

int
nm_os_peer_cred(int sock, struct nm_os_cred *cred)
{
	struct ucred uc;
	socklen_t len = sizeof(uc);

	if (cred == NULL)
		return -EINVAL;
	/* SO_PEERCRED reports the peer's credentials captured by connect()
	 * (or socketpair()), which is exactly the contract. */
	if (getsockopt(sock, SOL_SOCKET, SO_PEERCRED, &uc, &len) < 0)
		return -errno;
	if (len != sizeof(uc))
		return -EINVAL;
	/* A socket with no peer yields { 0, -1, -1 } rather than an error.
	 * (pid alone may be 0 legitimately: a peer in another pid namespace.) */
	if (uc.uid == (uid_t)-1 && uc.gid == (gid_t)-1)
		return -ENOTCONN;
	cred->pid = uc.pid;
	cred->uid = uc.uid;
	cred->gid = uc.gid;
	return 0;
}

/* ---- time --------------------------------------------------------------- */

uint64_t
nm_os_now_ns(void)
{
	struct timespec ts;

	/* CLOCK_MONOTONIC cannot fail with a valid pointer; 0 is only a
	 * defensive value that keeps the function total. */
	if (clock_gettime(CLOCK_MONOTONIC, &ts) != 0)
		return 0;
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* The cycle counter: os/common/nm_os_cycles.c. */

/* ---- CPUs --------------------------------------------------------------- */

/* No Linux build supports more CPUs than this (NR_CPUS tops out at 8192);
 * the cap only keeps an absurd argument from allocating a huge mask. */
#define NM_OS_MAX_CPU	65536

int
nm_os_ncpus(void)
{
	long n = sysconf(_SC_NPROCESSORS_ONLN);

	/* The caller is running, so there is at least one. */
	if (n < 1)
		return 1;
	return n > INT_MAX ? INT_MAX : (int)n;
}

uint64_t
nm_os_l2_cache_bytes(void)
{
	long n = sysconf(_SC_LEVEL2_CACHE_SIZE);

	if (n <= 0) {
		/* glibc answers from cpuid on x86; elsewhere ask sysfs. */
		FILE *f = fopen("/sys/devices/system/cpu/cpu0/cache/index2/size", "r");
		char unit = 0;
		if (f) {
			if (fscanf(f, "%ld%c", &n, &unit) < 1)
				n = 0;
			fclose(f);
		}
		n *= unit == 'K' ? 1024 : unit == 'M' ? 1024 * 1024 : 1;
	}
	return n > 0 ? (uint64_t)n : 1u << 20;
}

int
nm_os_pin_thread(int cpu)
{
	cpu_set_t *set;
	size_t setsize;
	int rc;

	if (cpu < 0 || cpu >= NM_OS_MAX_CPU)
		return -EINVAL;
	/* A dynamically sized set, so CPU numbers past CPU_SETSIZE work. */
	set = CPU_ALLOC((size_t)cpu + 1);
	if (set == NULL)
		return -ENOMEM;
	setsize = CPU_ALLOC_SIZE((size_t)cpu + 1);
	CPU_ZERO_S(setsize, set);
	CPU_SET_S((size_t)cpu, setsize, set);
	rc = pthread_setaffinity_np(pthread_self(), setsize, set);
	CPU_FREE(set);
	return -rc;	/* pthread_* return the errno value itself */
}

int
nm_os_current_cpu(void)
{
	int cpu = sched_getcpu();

	return cpu < 0 ? -1 : cpu;
}

/* ---- kernel netmap ------------------------------------------------------ */

int
nm_os_kernel_netmap(void)
{
	int fd;

	/* Opening is the test: the node exists only with the module loaded,
	 * and an fd we cannot open is as good as no netmap for us. */
	fd = open("/dev/netmap", O_RDWR | O_CLOEXEC);
	if (fd < 0)
		return 0;
	close(fd);
	return 1;
}

/* ---- processes ---------------------------------------------------------- */

int
nm_os_pid_dead(pid_t pid)
{
	char path[64], buf[512];
	ssize_t n;
	int fd;

	if (pid <= 0)
		return 0;
	if (kill(pid, 0) < 0 && errno == ESRCH)
		return 1;
	/* Alive or a zombie: /proc/<pid>/stat has the state after the
	 * command name, which is in parentheses and may itself hold ')'. */
	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return errno == ENOENT;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return 0;
	buf[n] = '\0';
	const char *rp = strrchr(buf, ')');
	return rp && rp[1] == ' ' && (rp[2] == 'Z' || rp[2] == 'X');
}
