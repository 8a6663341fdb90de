/*
 * client.h - finding the broker, starting it, and talking to it.
 */
#ifndef NMK_CLIENT_H
#define NMK_CLIENT_H

#include <stddef.h>
#include <stdint.h>

/* The runtime directory: $NMKIT_RUNDIR, else /run/nmkit for root, else
 * $XDG_RUNTIME_DIR/nmkit, else /tmp/nmkit-<uid>.  Returns 0 or -ENAMETOOLONG. */
int nmk_rundir(char *buf, size_t len);

/* Paths of the broker's socket, start lock and pid (life lock) files. */
int nmk_rundir_path(const char *file, char *buf, size_t len);

/* Create the runtime directory if it does not exist (0755 for root, so
 * that other users can reach a root broker, else 0700). */
int nmk_rundir_create(char *err, size_t errlen);

/*
 * Connect to the broker, starting it when none answers (at most one is
 * started even when many clients race).  Returns a connected
 * SOCK_SEQPACKET fd (close-on-exec) or a negative errno with a message.
 */
int nmk_broker_connect(char *err, size_t errlen);

/*
 * One request and its reply on connection `fd`: wake-up bytes that arrive
 * meanwhile are skipped.  The reply body (up to *rlen bytes) goes to
 * `reply`, its fds to fds[] (*nfds).  Returns the reply's status (0 or a
 * negative errno); on a negative status the broker's message is in err.
 */
int nmk_request(int fd, uint16_t type, const void *body, uint32_t len,
		void *reply, uint32_t *rlen, int *fds, unsigned *nfds,
		char *err, size_t errlen);

#endif /* NMK_CLIENT_H */
