/*
 * vfsim_wire.c: one message on the wire (vfsim_proto.h), shared by the
 * interposer and the simulator: the header with an optional descriptor
 * (SCM_RIGHTS), then the payload. sendmsg/send only: the interposer does
 * not intercept them.
 */
#include "config.h"

#include <sys/socket.h>

#include <errno.h>
#include <string.h>

#include "vfsim_proto.h"

int
vfs_wire_send(int s, const struct vfs_msg *m, const void *pl, int fd)
{
	union {
		struct cmsghdr	h;
		char		b[CMSG_SPACE(sizeof(int))];
	} cm;
	struct msghdr	 mh;
	struct iovec	 iov;
	struct cmsghdr	*c;
	const uint8_t	*p = pl;
	size_t		 n = m->len;
	ssize_t		 r;

	memset(&mh, 0, sizeof(mh));
	iov.iov_base = (void *)(uintptr_t)m;
	iov.iov_len = sizeof(*m);
	mh.msg_iov = &iov;
	mh.msg_iovlen = 1;
	if (fd >= 0) {
		memset(&cm, 0, sizeof(cm));
		mh.msg_control = cm.b;
		mh.msg_controllen = sizeof(cm.b);
		c = CMSG_FIRSTHDR(&mh);
		c->cmsg_level = SOL_SOCKET;
		c->cmsg_type = SCM_RIGHTS;
		c->cmsg_len = CMSG_LEN(sizeof(int));
		memcpy(CMSG_DATA(c), &fd, sizeof(int));
	}
	do {
		r = sendmsg(s, &mh, MSG_NOSIGNAL);
	} while (r == -1 && errno == EINTR);
	if (r != (ssize_t)sizeof(*m))
		return (-EPIPE);
	while (n > 0) {
		r = send(s, p, n, MSG_NOSIGNAL);
		if (r == -1 && (errno == EINTR || errno == EAGAIN))
			continue;
		if (r <= 0)
			return (-EPIPE);
		p += r;
		n -= (size_t)r;
	}
	return (0);
}
