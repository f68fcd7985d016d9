/*
 * api_fds.c: the side door for file descriptors. A device in use by a
 * running VM is held by its VMM (the VFIO device fd, its container or
 * iommufd); the VMM hands the daemon dup()s of them. nng's ipc transport
 * cannot carry fds, so next to an ipc:// RPC socket at PATH the daemon
 * listens on a UNIX SOCK_SEQPACKET socket at PATH.fds (same permissions).
 * Each message there is one packed vmig.v1.AttachFdsRequest with the fds
 * in an SCM_RIGHTS control message, in the order of its names; the answer
 * is one packed vmig.v1.AttachFdsResponse. The backend registry keeps the
 * fds for the device's (or PF's) next open (backend_attach_fds).
 *
 * A caller is authorized like an ipc:// caller of the control API
 * (authz.h, from SO_PEERCRED at accept): AttachFds changes what a device
 * opens with, so it takes a caller allowed every call; anyone else is
 * answered PERMISSION_DENIED, its fds closed unused, and logged.
 *
 * Everything runs on the loop and nothing blocks: the socket is
 * non-blocking, a message is read whole (SEQPACKET) or not at all, and a
 * peer whose answer does not fit its socket buffer is dropped.
 */
#include "config.h"

#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>

#include "api.h"
#include "authz.h"
#include "backend.h"
#include "log.h"
#include "util.h"
#include "vmigd.h"

#define API_FDS_MSG_MAX		4096	/* a packed request */
#define API_FDS_PEERS_MAX	16	/* connections at once */

struct api_fds_peer {
	struct api_fds		*af;
	int			 fd;
	struct event		*ev;
	pid_t			 pid;
	uid_t			 uid;
	enum authz_level	 level;		/* authz.h, at accept */
	char			 who[128];
	char			 why[256];	/* when not AUTHZ_FULL */
};

struct api_fds {
	struct vmigd		*d;
	char			 path[sizeof(((struct sockaddr_un *)0)->sun_path)];
	int			 fd;
	struct event		*ev;
	struct api_fds_peer	*peers[API_FDS_PEERS_MAX];
};

static void
api_fds_peer_close(struct api_fds_peer *p)
{
	unsigned int	i;

	for (i = 0; i < API_FDS_PEERS_MAX; i++) {
		if (p->af->peers[i] == p)
			p->af->peers[i] = NULL;
	}
	event_free(p->ev);
	close(p->fd);
	free(p);
}

/* The fds of a message's SCM_RIGHTS control messages, all of them. */
static unsigned int
api_fds_collect(struct msghdr *m, int *fds, unsigned int max, int *over)
{
	struct cmsghdr	*c;
	unsigned int	 n = 0, k, i;
	int		 fd;

	*over = 0;
	for (c = CMSG_FIRSTHDR(m); c != NULL; c = CMSG_NXTHDR(m, c)) {
		if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
			continue;
		k = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
		for (i = 0; i < k; i++) {
			memcpy(&fd, CMSG_DATA(c) + i * sizeof(int), sizeof(fd));
			if (n < max)
				fds[n++] = fd;
			else {
				close(fd);
				*over = 1;
			}
		}
	}
	return (n);
}

static void
api_fds_answer(struct api_fds_peer *p, int rc, const char *msg)
{
	Vmig__V1__AttachFdsResponse	 r = VMIG__V1__ATTACH_FDS_RESPONSE__INIT;
	Vmig__V1__Status		 st = VMIG__V1__STATUS__INIT;
	uint8_t				 buf[512];
	size_t				 len;

	st.code = rc == 0 ? VMIG__V1__STATUS_CODE__STATUS_OK :
	    api_errno_status(rc);
	st.message = (char *)(msg != NULL ? msg : "");
	r.status = &st;
	len = vmig__v1__attach_fds_response__get_packed_size(&r);
	if (len > sizeof(buf))
		return;		/* the message is bounded by its sentence */
	vmig__v1__attach_fds_response__pack(&r, buf);
	if (send(p->fd, buf, len, MSG_DONTWAIT | MSG_NOSIGNAL) !=
	    (ssize_t)len)
		log_warnx("%s: pid %d: the answer could not be sent: %s",
		    __func__, (int)p->pid, strerror(errno));
}

/* One request: check it, hand the fds to the registry, answer. */
static void
api_fds_request(struct api_fds_peer *p, const uint8_t *buf, size_t len,
    int *fds, unsigned int nfds, int truncated)
{
	Vmig__V1__AttachFdsRequest	*q;
	char				 err[BACKEND_ERR_MAX];
	unsigned int			 i;
	int				 rc;

	if (p->level != AUTHZ_FULL) {
		for (i = 0; i < nfds; i++)
			close(fds[i]);
		log_warnx("%s: AttachFds refused to %s: %s", p->af->path,
		    p->who, p->why);
		err_set(err, sizeof(err), -EACCES, "AttachFds: permission "
		    "denied: %s", p->why);
		api_fds_answer(p, -EACCES, err);
		return;
	}
	q = vmig__v1__attach_fds_request__unpack(NULL, len, buf);
	if (q == NULL || truncated || q->target == NULL ||
	    *q->target == '\0' || q->n_names != nfds) {
		for (i = 0; i < nfds; i++)
			close(fds[i]);
		if (q == NULL)
			rc = err_set(err, sizeof(err), -EBADMSG, "not an "
			    "AttachFdsRequest (%zu bytes)", len);
		else if (truncated)
			rc = err_set(err, sizeof(err), -E2BIG, "more than %d "
			    "fds: at most %d per device or PF", BACKEND_FDS_MAX,
			    BACKEND_FDS_MAX);
		else if (q->target == NULL || *q->target == '\0')
			rc = err_set(err, sizeof(err), -EINVAL, "target is "
			    "empty: name a device (PF/vfN) or a PF");
		else
			rc = err_set(err, sizeof(err), -EINVAL, "%s: %zu names "
			    "for %u fds: name every fd, in order", q->target,
			    q->n_names, nfds);
		api_fds_answer(p, rc, err);
		if (q != NULL)
			vmig__v1__attach_fds_request__free_unpacked(q, NULL);
		return;
	}
	rc = backend_attach_fds(p->af->d->backends, q->target,
	    (const char *const *)q->names, fds, nfds, err, sizeof(err));
	if (rc == 0)
		log_info("%s: %u fds from pid %d (uid %u)", q->target, nfds,
		    (int)p->pid, (unsigned int)p->uid);
	api_fds_answer(p, rc, rc == 0 ? NULL : err);
	vmig__v1__attach_fds_request__free_unpacked(q, NULL);
}

static void
api_fds_peer_cb(evutil_socket_t fd, short what, void *arg)
{
	struct api_fds_peer	*p = arg;
	uint8_t			 buf[API_FDS_MSG_MAX];
	union {
		struct cmsghdr	 h;
		char		 b[CMSG_SPACE(sizeof(int) *
				    (BACKEND_FDS_MAX + 1))];
	}			 cbuf;
	struct iovec		 iov = { buf, sizeof(buf) };
	struct msghdr		 m;
	int			 fds[BACKEND_FDS_MAX];
	unsigned int		 n;
	ssize_t			 len;
	int			 over;

	memset(&m, 0, sizeof(m));
	m.msg_iov = &iov;
	m.msg_iovlen = 1;
	m.msg_control = cbuf.b;
	m.msg_controllen = sizeof(cbuf.b);
	len = recvmsg(fd, &m, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
	if (len < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	if (len <= 0) {
		api_fds_peer_close(p);	/* gone (0), or broken */
		return;
	}
	n = api_fds_collect(&m, fds, BACKEND_FDS_MAX, &over);
	if ((m.msg_flags & MSG_TRUNC) != 0) {
		while (n > 0)
			close(fds[--n]);
		api_fds_answer(p, -EMSGSIZE, "request over 4096 bytes");
		return;
	}
	api_fds_request(p, buf, (size_t)len, fds, n, over ||
	    (m.msg_flags & MSG_CTRUNC) != 0);
}

static void
api_fds_accept_cb(evutil_socket_t fd, short what, void *arg)
{
	struct api_fds		*af = arg;
	struct api_fds_peer	*p;
	struct ucred		 cred;
	struct authz_peer	 ap;
	socklen_t		 clen = sizeof(cred);
	unsigned int		 i;
	int			 c;

	if ((c = accept4(fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC)) < 0)
		return;
	for (i = 0; i < API_FDS_PEERS_MAX && af->peers[i] != NULL; i++)
		;
	if (i == API_FDS_PEERS_MAX) {
		log_warnx("%s: %d connections already: refusing one", af->path,
		    API_FDS_PEERS_MAX);
		close(c);
		return;
	}
	p = xcalloc(1, sizeof(*p));
	p->af = af;
	p->fd = c;
	memset(&ap, 0, sizeof(ap));
	if (getsockopt(c, SOL_SOCKET, SO_PEERCRED, &cred, &clen) == 0) {
		p->pid = cred.pid;
		p->uid = cred.uid;
		ap.transport = AUTHZ_IPC;
		ap.uid = cred.uid;
		ap.gid = cred.gid;
		ap.pid = (uint64_t)cred.pid;
	}
	authz_peer_str(&ap, p->who, sizeof(p->who));
	/* no credentials: AUTHZ_UNKNOWN, which authz_level refuses */
	p->level = af->d->authz != NULL ? authz_level(af->d->authz, &ap,
	    p->why, sizeof(p->why)) : AUTHZ_FULL;
	if (p->level == AUTHZ_READ)
		strlcpy_v(p->why, "read-only callers may not hand fds over",
		    sizeof(p->why));
	p->ev = event_new(af->d->base, c, EV_READ | EV_PERSIST,
	    api_fds_peer_cb, p);
	event_add(p->ev, NULL);
	af->peers[i] = p;
}

int
api_fds_open(struct vmigd *d, const char *rpc_url, char *err, size_t errlen)
{
	struct sockaddr_un	 sa;
	struct api_fds		*af;
	int			 fd;

	if (strncmp(rpc_url, "ipc://", 6) != 0)
		return (0);	/* fds only pass on this host */
	memset(&sa, 0, sizeof(sa));
	sa.sun_family = AF_UNIX;
	if ((size_t)snprintf(sa.sun_path, sizeof(sa.sun_path), "%s.fds",
	    rpc_url + 6) >= sizeof(sa.sun_path))
		return (err_set(err, errlen, -ENAMETOOLONG, "%s.fds: the fd "
		    "socket's path is over %zu bytes", rpc_url + 6,
		    sizeof(sa.sun_path) - 1));
	if ((fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_NONBLOCK |
	    SOCK_CLOEXEC, 0)) < 0)
		return (err_set(err, errlen, -errno, "fd socket: %s",
		    strerror(errno)));
	(void)unlink(sa.sun_path);	/* a dead daemon's */
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0 ||
	    chmod(sa.sun_path, 0660) != 0 || listen(fd, 8) != 0) {
		int e = errno;

		close(fd);
		return (err_set(err, errlen, -e, "fd socket %s: %s",
		    sa.sun_path, strerror(e)));
	}
	af = xcalloc(1, sizeof(*af));
	af->d = d;
	af->fd = fd;
	strlcpy_v(af->path, sa.sun_path, sizeof(af->path));
	af->ev = event_new(d->base, fd, EV_READ | EV_PERSIST,
	    api_fds_accept_cb, af);
	event_add(af->ev, NULL);
	d->fds = af;
	log_info("fd socket %s: VMMs hand device fds over here", af->path);
	return (0);
}

void
api_fds_close(struct vmigd *d)
{
	struct api_fds	*af = d->fds;
	unsigned int	 i;

	if (af == NULL)
		return;
	for (i = 0; i < API_FDS_PEERS_MAX; i++) {
		if (af->peers[i] != NULL)
			api_fds_peer_close(af->peers[i]);
	}
	event_free(af->ev);
	close(af->fd);
	(void)unlink(af->path);
	free(af);
	d->fds = NULL;
}

const char *
api_fds_path(const struct vmigd *d)
{
	return (d->fds != NULL ? d->fds->path : "");
}
