/*
 * nm_os_freebsd.c - the nm_os layer (os/nm_os.h) for FreeBSD.
 *
 * Written against FreeBSD 13 (memfd_create, file sealing on shm objects and
 * eventfd(2) all first appear in 13.0).  It has NOT been compiled or run:
 * there is no FreeBSD machine in this project's test setup.  Treat the first
 * FreeBSD build as its first review.
 *
 * Choices, mirroring os/linux/nm_os_linux.c:
 *  - shared memory: memfd_create (a SHM_ANON object created with
 *    SHM_ALLOW_SEALING underneath; plain shm_open(SHM_ANON) objects cannot
 *    be sealed) + ftruncate + F_ADD_SEALS;
 *  - notification: eventfd(2) rather than a pipe pair, so one fd carries
 *    both ends and signals coalesce into a counter instead of filling a
 *    pipe buffer;
 *  - credentials: LOCAL_PEERCRED (struct xucred);
 *  - cycles: os/common/nm_os_cycles.c (rdtsc on amd64, calibrated).
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif
#ifndef _GNU_SOURCE
#define _GNU_SOURCE	/* harmless on FreeBSD; kept for symmetry with Linux */
#endif

#include "nm_os.h"

#include <sys/param.h>		/* __FreeBSD_version; before sys/cpuset.h */
#include <sys/cpuset.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/ucred.h>
#include <sys/un.h>

#include <errno.h>
#include <sys/user.h>
#include <sys/sysctl.h>
#include <signal.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <time.h>
#include <unistd.h>

/* Shared memory and notification: os/common/nm_os_memfd.c. */

/* ---- credentials -------------------------------------------------------- */

#ifndef SOL_LOCAL
#define SOL_LOCAL	0	/* the level unix(4) documents for LOCAL_* */
#endif

int
nm_os_peer_cred(int sock, struct nm_os_cred *cred)
{
	struct xucred xu;
	socklen_t len = sizeof(xu);

	if (cred == NULL)
		return -EINVAL;
	/* LOCAL_PEERCRED returns the credentials cached at connect() time;
	 * an unconnected socket fails with ENOTCONN. */
	if (getsockopt(sock, SOL_LOCAL, LOCAL_PEERCRED, &xu, &len) < 0)
		return -errno;
	if (len != sizeof(xu) || xu.cr_version != XUCRED_VERSION)
		return -EINVAL;
#if __FreeBSD_version >= 1300000
	cred->pid = xu.cr_pid;
#else
	cred->pid = -1;		/* xucred carried no pid before 13 */
#endif
	cred->uid = xu.cr_uid;
	cred->gid = xu.cr_groups[0];	/* the effective gid, by convention */
	return 0;
}

/* ---- time --------------------------------------------------------------- */

uint64_t
nm_os_now_ns(void)
{
	struct timespec ts;

	if (clock_gettime(CLOCK_MONOTONIC, &ts) != 0)
		return 0;
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* The cycle counter: os/common/nm_os_cycles.c. */

/* ---- CPUs --------------------------------------------------------------- */

int
nm_os_ncpus(void)
{
	long n = sysconf(_SC_NPROCESSORS_ONLN);

	if (n < 1)	/* the caller is running, so there is at least one */
		return 1;
	return n > INT_MAX ? INT_MAX : (int)n;
}

uint64_t
nm_os_l2_cache_bytes(void)
{
	/* FreeBSD does not export cache sizes portably; a common size. */
	return 1u << 20;
}

int
nm_os_pin_thread(int cpu)
{
	cpuset_t set;

	if (cpu < 0 || cpu >= CPU_SETSIZE)
		return -EINVAL;
	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	/* CPU_WHICH_TID with id -1 is the calling thread. */
	if (cpuset_setaffinity(CPU_LEVEL_WHICH, CPU_WHICH_TID, -1,
	    sizeof(set), &set) != 0)
		return -errno;
	return 0;
}

int
nm_os_current_cpu(void)
{
#if __FreeBSD_version >= 1301000
	/* sched_getcpu(3) appeared in 13.1 and cannot fail. */
	return sched_getcpu();
#else
	return -1;
#endif
}

/* ---- kernel netmap ------------------------------------------------------ */

int
nm_os_kernel_netmap(void)
{
	int fd;

	/* GENERIC kernels include netmap, so this is usually 1 on FreeBSD;
	 * an fd we cannot open counts as no netmap for us. */
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
	struct kinfo_proc kp;
	size_t len = sizeof(kp);
	int mib[4] = { CTL_KERN, KERN_PROC, KERN_PROC_PID, (int)pid };

	if (pid <= 0)
		return 0;
	if (kill(pid, 0) < 0 && errno == ESRCH)
		return 1;
	/* A zombie never runs again: treat it as dead. */
	if (sysctl(mib, 4, &kp, &len, NULL, 0) < 0 || len == 0)
		return errno == ESRCH;
	return kp.ki_stat == SZOMB;
}
