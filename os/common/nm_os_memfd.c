/*
 * nm_os_memfd.c - shared memory and notification for systems that have
 * sealed memfd objects and eventfd(2): Linux, and FreeBSD 13 and later.
 * os/linux and os/freebsd both use it; what differs between them lives in
 * their own files.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif
#ifndef _GNU_SOURCE
#define _GNU_SOURCE	/* memfd_create, F_ADD_SEALS */
#endif

#include "nm_os.h"

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

/*
 * Linux 6.3 added MFD_NOEXEC_SEAL (create the memfd non-executable and seal
 * that with F_SEAL_EXEC).  Region memory never holds code, and with the
 * vm.memfd_noexec sysctl set a memfd created without it may be refused or
 * logged, so ask for it; older headers lack the value, which is ABI.
 */
#if defined(__linux__) && !defined(MFD_NOEXEC_SEAL)
#define MFD_NOEXEC_SEAL	0x0008U
#endif
#ifndef MFD_NOEXEC_SEAL
#define MFD_NOEXEC_SEAL	0       /* FreeBSD: memfds are not executable anyway */
#endif

/* ---- shared memory ------------------------------------------------------ */

/* The seals every region carries: the size is fixed for good.  Writes stay
 * allowed (it is shared memory), so no F_SEAL_WRITE. */
#define NM_OS_SEALS	(F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL)

int
nm_os_shm_create(const char *name, size_t size)
{
	char label[64];
	int fd, err;

	if (size == 0)
		return -EINVAL;
	/* ftruncate takes an off_t; a size_t beyond it would wrap negative. */
	if ((uintmax_t)size > (uintmax_t)INT64_MAX)
		return -EFBIG;

	/* The name is only a label shown in /proc/<pid>/fd; memfd_create
	 * refuses names over 249 bytes, so clip rather than fail on it. */
	snprintf(label, sizeof(label), "nmkit:%.48s", name != NULL ? name : "");

	fd = memfd_create(label, MFD_CLOEXEC | MFD_ALLOW_SEALING | MFD_NOEXEC_SEAL);
	if (fd < 0 && errno == EINVAL)	/* kernel older than 6.3 */
		fd = memfd_create(label, MFD_CLOEXEC | MFD_ALLOW_SEALING);
	if (fd < 0)
		return -errno;

	/* ftruncate only sets the size: shmem allocates a page when it is
	 * first touched, so even a huge region costs nothing until used.
	 * Nothing here may write or populate the object. */
	if (ftruncate(fd, (off_t)size) < 0)
		goto fail;
	if (fcntl(fd, F_ADD_SEALS, NM_OS_SEALS) < 0)
		goto fail;
	return fd;

fail:
	err = errno;
	close(fd);
	return -err;
}

int
nm_os_shm_check(int fd, size_t size)
{
	struct stat st;
	int seals;

	if (fstat(fd, &st) < 0)
		return -errno;
	/* F_GET_SEALS fails (EINVAL) on anything that is not a memfd-like
	 * object: a plain file or device fd can be truncated behind our back. */
	seals = fcntl(fd, F_GET_SEALS);
	if (seals < 0)
		return -EINVAL;
	/* Shrinking is what turns a mapping into SIGBUS; growing is harmless,
	 * so only the shrink seal is required. */
	if ((seals & F_SEAL_SHRINK) == 0)
		return -EPERM;
	if (st.st_size < 0 || (uintmax_t)st.st_size < (uintmax_t)size)
		return -ERANGE;
	return 0;
}

void *
nm_os_shm_map(int fd, size_t size)
{
	void *p;

	/* No MAP_POPULATE: the region must stay sparse in every process. */
	p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	return p == MAP_FAILED ? NULL : p;
}

void
nm_os_shm_unmap(void *addr, size_t size)
{
	if (addr != NULL && size != 0)
		munmap(addr, size);
}

/* ---- notification ------------------------------------------------------- */

int
nm_os_notify_create(void)
{
	int fd;

	fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	return fd < 0 ? -errno : fd;
}

int
nm_os_notify_signal(int fd)
{
	uint64_t one = 1;
	ssize_t n;

	do {
		n = write(fd, &one, sizeof(one));
	} while (n < 0 && errno == EINTR);
	/* EAGAIN means the counter is at its maximum: a wakeup is already
	 * pending, which is all a signal promises, so that is success. */
	if (n < 0)
		return errno == EAGAIN ? 0 : -errno;
	return 0;
}

int
nm_os_notify_drain(int fd)
{
	uint64_t count;
	ssize_t n;

	/* Without EFD_SEMAPHORE one read returns and zeroes the whole count. */
	do {
		n = read(fd, &count, sizeof(count));
	} while (n < 0 && errno == EINTR);
	if (n < 0)
		return errno == EAGAIN ? 0 : -errno;
	return 0;
}
