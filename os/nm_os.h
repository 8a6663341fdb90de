/*
 * nm_os.h - the only interface between nmkit and the operating system.
 *
 * Everything OS-specific (how shared memory is created and sealed, how a
 * sleeping thread is notified, how a peer's credentials are read, clocks,
 * CPU placement, and whether a kernel netmap exists) lives behind these
 * functions, implemented once per OS in os/<name>/.  Nothing else in the
 * tree includes an os/<name>/ file.
 *
 * Conventions: functions return 0 (or a non-negative value) on success and a
 * negative errno on failure.  They never print and never exit.
 */
#ifndef NM_OS_H
#define NM_OS_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* ---- shared memory ------------------------------------------------------ */

/*
 * Create an anonymous shared-memory object of exactly `size` bytes, sparse
 * (pages are allocated only when touched), and seal it so that no holder of
 * the fd can shrink or grow it.  `name` is only a debugging label.
 * Returns the fd (close-on-exec) or a negative errno.
 */
int nm_os_shm_create(const char *name, size_t size);

/*
 * Check that `fd` is a sealed shared-memory object of at least `size`
 * bytes: a client calls this on every region fd it receives before mapping
 * it, so that a truncated object can never fault a process later.
 */
int nm_os_shm_check(int fd, size_t size);

/* Map `size` bytes of shared object `fd` read-write.  Returns NULL (errno set)
 * on failure. */
void *nm_os_shm_map(int fd, size_t size);
void nm_os_shm_unmap(void *addr, size_t size);

/* ---- notification ------------------------------------------------------- */

/*
 * A notification object: a counter a thread can sleep on with poll(POLLIN)
 * and another thread (or process holding the fd) can signal.  Used inside
 * the broker to wake its event loop from worker threads.
 */
int nm_os_notify_create(void);          /* fd, non-blocking, close-on-exec */
int nm_os_notify_signal(int fd);        /* never blocks */
int nm_os_notify_drain(int fd);         /* clears pending signals */

/* ---- credentials -------------------------------------------------------- */

struct nm_os_cred {
	pid_t pid;
	uid_t uid;
	gid_t gid;
};

/* The credentials of the process at the other end of a connected unix socket,
 * as they were when it connected. */
int nm_os_peer_cred(int sock, struct nm_os_cred *cred);

/* ---- processes ---------------------------------------------------------- */

/*
 * 1 when process `pid` is gone or a zombie (it will never run again), 0
 * when it may still run.  Locks and leases in shared memory record their
 * holder's pid: a dead holder's are taken over.  A zombie counts as dead,
 * since its parent may reap it late or never.
 */
int nm_os_pid_dead(pid_t pid);

/* ---- time --------------------------------------------------------------- */

uint64_t nm_os_now_ns(void);            /* monotonic clock, nanoseconds */

/* A cheap cycle counter, calibrated against the monotonic clock on first use.
 * nm_os_cycles_hz() is its frequency; on a CPU without one it falls back to
 * the monotonic clock and reports 1e9. */
uint64_t nm_os_cycles(void);
uint64_t nm_os_cycles_hz(void);

/* ---- CPUs --------------------------------------------------------------- */

int nm_os_ncpus(void);
/* Bytes of one CPU's second-level data cache; 1 MiB when the OS does not
 * say.  Decides when large copies bypass the cache (libnm/core/copy.h). */
uint64_t nm_os_l2_cache_bytes(void);
int nm_os_pin_thread(int cpu);          /* the calling thread */
int nm_os_current_cpu(void);            /* -1 when unknown */

/* ---- kernel netmap ------------------------------------------------------ */

/* 1 when a kernel netmap module is present (/dev/netmap can be opened),
 * 0 when it is not. */
int nm_os_kernel_netmap(void);

#endif /* NM_OS_H */
