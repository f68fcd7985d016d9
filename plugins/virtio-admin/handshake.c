/*
 * handshake.c: encode, decode and carry the admin-queue handshake.
 */
#include "config.h"

#include <sys/socket.h>
#include <sys/uio.h>

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "util.h"
#include "handshake.h"

static void
put_str(uint8_t *p, const char *s, size_t n)
{
	size_t	l = strnlen(s, n - 1);

	memset(p, 0, n);
	memcpy(p, s, l);
}

static void
get_str(char *dst, const uint8_t *p, size_t n)
{
	size_t	i;

	for (i = 0; i + 1 < n && p[i] != '\0'; i++)
		dst[i] = (p[i] >= 0x20 && p[i] < 0x7f) ? (char)p[i] : '?';
	dst[i] = '\0';
}

static void
put_preamble(uint8_t *p, uint16_t type)
{
	put_le32(p, VA_HS_MAGIC);
	put_le16(p + 4, VA_HS_VERSION);
	put_le16(p + 6, type);
}

static int
get_preamble(const uint8_t *p, size_t len, size_t need, uint16_t type,
    const char *what, char *err, size_t errlen)
{
	if (len < 8 || get_le32(p) != VA_HS_MAGIC) {
		snprintf(err, errlen, "%s: not a simulator handshake message "
		    "(%zu bytes, bad magic)", what, len);
		return (-EPROTO);
	}
	if (get_le16(p + 4) != VA_HS_VERSION) {
		snprintf(err, errlen, "%s: handshake version %u, we speak %u",
		    what, get_le16(p + 4), VA_HS_VERSION);
		return (-EPROTO);
	}
	if (get_le16(p + 6) != type) {
		snprintf(err, errlen, "%s: message type %u, expected %u", what,
		    get_le16(p + 6), type);
		return (-EPROTO);
	}
	if (len < need) {
		snprintf(err, errlen, "%s: %zu bytes, needs %zu", what, len,
		    need);
		return (-EPROTO);
	}
	return (0);
}

size_t
va_hello_put(uint8_t *p, const struct va_hello *h)
{
	memset(p, 0, VA_HS_HELLO_LEN);
	put_preamble(p, VA_HS_HELLO);
	put_le32(p + 8, h->status);
	put_le32(p + 12, h->device_type);
	put_le32(p + 16, h->num_vfs);
	put_le32(p + 20, h->dialect);
	put_le32(p + 24, h->admin_queues);
	put_le32(p + 28, h->max_queue_size);
	put_le32(p + 32, h->flags);
	put_le32(p + 36, h->max_ctx_bytes);
	put_str(p + 40, h->name, 32);
	put_str(p + 72, h->msg, 56);
	return (VA_HS_HELLO_LEN);
}

int
va_hello_get(const uint8_t *p, size_t len, struct va_hello *h, char *err,
    size_t errlen)
{
	int	rc;

	if ((rc = get_preamble(p, len, VA_HS_HELLO_LEN, VA_HS_HELLO, "HELLO",
	    err, errlen)) != 0)
		return (rc);
	memset(h, 0, sizeof(*h));
	h->status = get_le32(p + 8);
	h->device_type = get_le32(p + 12);
	h->num_vfs = get_le32(p + 16);
	h->dialect = get_le32(p + 20);
	h->admin_queues = get_le32(p + 24);
	h->max_queue_size = get_le32(p + 28);
	h->flags = get_le32(p + 32);
	h->max_ctx_bytes = get_le32(p + 36);
	get_str(h->name, p + 40, 32);
	get_str(h->msg, p + 72, 56);
	if (h->status != 0)
		return (0);	/* a refusal: the caller reports msg */
	if (h->admin_queues == 0 || h->admin_queues > VA_HS_MAX_QUEUES) {
		snprintf(err, errlen, "HELLO: %u admin queues, expected "
		    "1..%d", h->admin_queues, VA_HS_MAX_QUEUES);
		return (-EPROTO);
	}
	if (h->max_queue_size < 2 || h->max_queue_size > VQ_MAX_SIZE ||
	    (h->max_queue_size & (h->max_queue_size - 1)) != 0) {
		snprintf(err, errlen, "HELLO: largest queue size %u is not a "
		    "power of two in 2..%u", h->max_queue_size, VQ_MAX_SIZE);
		return (-EPROTO);
	}
	if (h->num_vfs > 65535) {
		snprintf(err, errlen, "HELLO: %u VFs is more than SR-IOV "
		    "allows", h->num_vfs);
		return (-EPROTO);
	}
	return (0);
}

size_t
va_setup_put(uint8_t *p, const struct va_setup *s)
{
	uint32_t i;
	uint8_t	*q;

	memset(p, 0, VA_HS_SETUP_HDR + s->nqueues * VA_HS_SETUP_Q);
	put_preamble(p, VA_HS_SETUP);
	put_le32(p + 8, s->nqueues);
	put_le64(p + 16, s->mem_size);
	put_le64(p + 24, s->iova);
	for (i = 0; i < s->nqueues; i++) {
		q = p + VA_HS_SETUP_HDR + i * VA_HS_SETUP_Q;
		put_le32(q, s->q[i].size);
		put_le64(q + 8, s->q[i].desc);
		put_le64(q + 16, s->q[i].avail);
		put_le64(q + 24, s->q[i].used);
	}
	return (VA_HS_SETUP_HDR + s->nqueues * VA_HS_SETUP_Q);
}

int
va_setup_get(const uint8_t *p, size_t len, struct va_setup *s, char *err,
    size_t errlen)
{
	const uint8_t	*q;
	uint32_t	 i;
	int		 rc;

	if ((rc = get_preamble(p, len, VA_HS_SETUP_HDR, VA_HS_SETUP, "SETUP",
	    err, errlen)) != 0)
		return (rc);
	memset(s, 0, sizeof(*s));
	s->nqueues = get_le32(p + 8);
	s->mem_size = get_le64(p + 16);
	s->iova = get_le64(p + 24);
	if (s->nqueues == 0 || s->nqueues > VA_HS_MAX_QUEUES) {
		snprintf(err, errlen, "SETUP: %u queues, expected 1..%d",
		    s->nqueues, VA_HS_MAX_QUEUES);
		return (-EPROTO);
	}
	if (len < VA_HS_SETUP_HDR + s->nqueues * VA_HS_SETUP_Q) {
		snprintf(err, errlen, "SETUP: %zu bytes for %u queues, needs "
		    "%u", len, s->nqueues,
		    VA_HS_SETUP_HDR + s->nqueues * VA_HS_SETUP_Q);
		return (-EPROTO);
	}
	for (i = 0; i < s->nqueues; i++) {
		q = p + VA_HS_SETUP_HDR + i * VA_HS_SETUP_Q;
		s->q[i].size = get_le32(q);
		s->q[i].desc = get_le64(q + 8);
		s->q[i].avail = get_le64(q + 16);
		s->q[i].used = get_le64(q + 24);
	}
	return (0);
}

size_t
va_ack_put(uint8_t *p, const struct va_ack *a)
{
	memset(p, 0, VA_HS_ACK_LEN);
	put_preamble(p, VA_HS_ACK);
	put_le32(p + 8, a->status);
	put_str(p + 12, a->msg, sizeof(a->msg));
	return (VA_HS_ACK_LEN);
}

int
va_ack_get(const uint8_t *p, size_t len, struct va_ack *a, char *err,
    size_t errlen)
{
	int	rc;

	if ((rc = get_preamble(p, len, VA_HS_ACK_LEN, VA_HS_ACK, "ACK", err,
	    errlen)) != 0)
		return (rc);
	a->status = get_le32(p + 8);
	get_str(a->msg, p + 12, sizeof(a->msg));
	return (0);
}

const char *
va_dialect_name(uint32_t d)
{
	switch (d) {
	case VA_DIALECT_DRAFT:
		return ("draft");
	case VA_DIALECT_V14:
		return ("v14");
	case VA_DIALECT_CVQ:
		return ("cvq");
	default:
		return ("unknown");
	}
}

const char *
va_devtype_name(uint32_t t)
{
	return (t == VA_DEVTYPE_NET ? "virtio-net" : "virtio-unknown");
}

int
va_sock_send(int s, const void *buf, size_t len, const int *fds, int nfds)
{
	struct msghdr	 mh;
	struct iovec	 iov;
	union {
		struct cmsghdr	hdr;
		char		buf[CMSG_SPACE(sizeof(int) * VA_HS_MAX_FDS)];
	} cm;
	struct cmsghdr	*c;
	ssize_t		 n;

	if (nfds < 0 || nfds > VA_HS_MAX_FDS)
		return (-EINVAL);
	memset(&mh, 0, sizeof(mh));
	iov.iov_base = (void *)(uintptr_t)buf;
	iov.iov_len = len;
	mh.msg_iov = &iov;
	mh.msg_iovlen = 1;
	if (nfds > 0) {
		memset(&cm, 0, sizeof(cm));
		mh.msg_control = cm.buf;
		mh.msg_controllen = CMSG_SPACE(sizeof(int) * (size_t)nfds);
		c = CMSG_FIRSTHDR(&mh);
		c->cmsg_level = SOL_SOCKET;
		c->cmsg_type = SCM_RIGHTS;
		c->cmsg_len = CMSG_LEN(sizeof(int) * (size_t)nfds);
		memcpy(CMSG_DATA(c), fds, sizeof(int) * (size_t)nfds);
	}
	do {
		n = sendmsg(s, &mh, MSG_NOSIGNAL);
	} while (n == -1 && errno == EINTR);
	if (n == -1)
		return (-errno);
	if ((size_t)n != len)
		return (-EMSGSIZE);
	return (0);
}

ssize_t
va_sock_recv(int s, void *buf, size_t cap, int *fds, int maxfds, int *nfds)
{
	struct msghdr	 mh;
	struct iovec	 iov;
	union {
		struct cmsghdr	hdr;
		char		buf[CMSG_SPACE(sizeof(int) * 16)];
	} cm;
	struct cmsghdr	*c;
	ssize_t		 n;
	int		 got[16], ngot = 0, i, k;
	size_t		 l;

	*nfds = 0;
	memset(&mh, 0, sizeof(mh));
	iov.iov_base = buf;
	iov.iov_len = cap;
	mh.msg_iov = &iov;
	mh.msg_iovlen = 1;
	mh.msg_control = cm.buf;
	mh.msg_controllen = sizeof(cm.buf);
	do {
		n = recvmsg(s, &mh, MSG_CMSG_CLOEXEC);
	} while (n == -1 && errno == EINTR);
	if (n == -1)
		return (-errno);
	for (c = CMSG_FIRSTHDR(&mh); c != NULL; c = CMSG_NXTHDR(&mh, c)) {
		if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
			continue;
		l = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
		for (i = 0; i < (int)l && ngot < 16; i++)
			memcpy(&got[ngot++], CMSG_DATA(c) + i * sizeof(int),
			    sizeof(int));
	}
	for (k = 0; k < ngot; k++) {
		if (k < maxfds)
			fds[(*nfds)++] = got[k];
		else
			close(got[k]);
	}
	if (mh.msg_flags & (MSG_TRUNC | MSG_CTRUNC)) {
		for (k = 0; k < *nfds; k++)
			close(fds[k]);
		*nfds = 0;
		return (-EMSGSIZE);
	}
	return (n);
}

int
va_wait_readable(int s, int ms)
{
	struct pollfd	pfd;
	int		n;

	pfd.fd = s;
	pfd.events = POLLIN;
	do {
		n = poll(&pfd, 1, ms);
	} while (n == -1 && errno == EINTR);
	if (n == -1)
		return (-errno);
	return (n > 0);
}
