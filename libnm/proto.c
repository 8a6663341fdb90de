/*
 * proto.c - framing of broker messages over SOCK_SEQPACKET with SCM_RIGHTS.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include "proto.h"

int nmk_msg_send(int sock, uint16_t type, uint32_t seq, int32_t status,
		 const void *body, uint32_t len, const int *fds, unsigned nfds)
{
	struct nmk_msg_hdr h = {
		.magic = NMK_PROTO_MAGIC,
		.version = NMK_PROTO_VERSION,
		.type = type,
		.seq = seq,
		.status = status,
		.len = len,
	};
	struct iovec iov[2] = {
		{ .iov_base = &h, .iov_len = sizeof(h) },
		{ .iov_base = (void *)(uintptr_t)body, .iov_len = len },
	};
	union {
		char buf[CMSG_SPACE(sizeof(int) * NMK_MSG_MAXFDS)];
		struct cmsghdr align;
	} cm;
	struct msghdr msg = {
		.msg_iov = iov,
		.msg_iovlen = len ? 2 : 1,
	};

	if (sizeof(h) + len > NMK_MSG_MAX || nfds > NMK_MSG_MAXFDS)
		return -EMSGSIZE;
	if (nfds) {
		memset(&cm, 0, sizeof(cm));
		msg.msg_control = cm.buf;
		msg.msg_controllen = CMSG_SPACE(sizeof(int) * nfds);
		struct cmsghdr *c = CMSG_FIRSTHDR(&msg);
		c->cmsg_level = SOL_SOCKET;
		c->cmsg_type = SCM_RIGHTS;
		c->cmsg_len = CMSG_LEN(sizeof(int) * nfds);
		memcpy(CMSG_DATA(c), fds, sizeof(int) * nfds);
	}
	for (;;) {
		ssize_t n = sendmsg(sock, &msg, MSG_NOSIGNAL);
		if (n >= 0)
			return 0;
		if (errno != EINTR)
			return -errno;
	}
}

int nmk_msg_send_error(int sock, uint16_t type, uint32_t seq, int32_t status,
		       const char *fmt, ...)
{
	char text[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	return nmk_msg_send(sock, type, seq, status, text, (uint32_t)strlen(text) + 1, NULL, 0);
}

long nmk_msg_recv(int sock, void *buf, int *fds, unsigned *nfds, int flags)
{
	struct iovec iov = { .iov_base = buf, .iov_len = NMK_MSG_MAX };
	union {
		char buf[CMSG_SPACE(sizeof(int) * NMK_MSG_MAXFDS)];
		struct cmsghdr align;
	} cm;
	struct msghdr msg = {
		.msg_iov = &iov,
		.msg_iovlen = 1,
		.msg_control = cm.buf,
		.msg_controllen = sizeof(cm.buf),
	};
	ssize_t n;

	if (nfds)
		*nfds = 0;
	do
		n = recvmsg(sock, &msg, flags | MSG_CMSG_CLOEXEC);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return -errno;
	for (struct cmsghdr *c = CMSG_FIRSTHDR(&msg); c; c = CMSG_NXTHDR(&msg, c)) {
		if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
			continue;
		unsigned cnt = (unsigned)((c->cmsg_len - CMSG_LEN(0)) / sizeof(int));
		int got[NMK_MSG_MAXFDS * 2];
		if (cnt > NMK_MSG_MAXFDS * 2)
			cnt = NMK_MSG_MAXFDS * 2;
		memcpy(got, CMSG_DATA(c), cnt * sizeof(int));
		for (unsigned i = 0; i < cnt; i++) {
			/* Keep what the caller can take; close the rest so that
			 * a garbage message cannot leak fds into us. */
			if (fds && nfds && *nfds < NMK_MSG_MAXFDS)
				fds[(*nfds)++] = got[i];
			else
				close(got[i]);
		}
	}
	if (msg.msg_flags & (MSG_TRUNC | MSG_CTRUNC)) {
		if (fds && nfds)
			while (*nfds)
				close(fds[--*nfds]);
		return -EMSGSIZE;
	}
	return (long)n;
}

int nmk_msg_check(const void *buf, long len, char *err, size_t errlen)
{
	struct nmk_msg_hdr h;

	if (len < (long)sizeof(h)) {
		snprintf(err, errlen, "short message (%ld bytes)", len);
		return -EPROTO;
	}
	memcpy(&h, buf, sizeof(h));
	if (h.magic != NMK_PROTO_MAGIC) {
		snprintf(err, errlen, "bad magic 0x%08x", h.magic);
		return -EPROTO;
	}
	if (h.version != NMK_PROTO_VERSION) {
		snprintf(err, errlen, "protocol version %u, expected %u", h.version,
			 NMK_PROTO_VERSION);
		return -EPROTO;
	}
	if (h.reserved != 0 || (long)sizeof(h) + (long)h.len != len) {
		snprintf(err, errlen, "malformed message (length %ld, body %u)", len, h.len);
		return -EPROTO;
	}
	return 0;
}

void nmk_wake(int fd)
{
	char b = NMK_WAKE_BYTE;
	ssize_t n;

	do
		n = send(fd, &b, 1, MSG_DONTWAIT | MSG_NOSIGNAL);
	while (n < 0 && errno == EINTR);
}
