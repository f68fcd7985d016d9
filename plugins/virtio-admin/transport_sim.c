/*
 * transport_sim.c: the simulated PF's admin queues, reached over a UNIX
 * socket (handshake.h): we create the rings and the buffer pool in a
 * sealed memfd and hand it over with a kick and a call eventfd per queue.
 *
 * Blocking, with a deadline: it runs once, when the PF is opened.
 */
#include "config.h"

#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/un.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "util.h"
#include "transport.h"

#define DEF_QSIZE	128
#define DEF_POOL	(4u << 20)

static void
tp_free(struct va_transport *tp)
{
	uint32_t i;

	if (tp->vfio != NULL)
		va_vfio_close(tp);	/* reset, unmap, release first */

	for (i = 0; i < VA_TP_MAX_QUEUES; i++) {
		if (tp->q[i].kick_fd != -1)
			close(tp->q[i].kick_fd);
		if (tp->q[i].call_fd != -1)
			close(tp->q[i].call_fd);
	}
	if (tp->mem != NULL && tp->mem != MAP_FAILED)
		munmap(tp->mem, tp->memsize);
	if (tp->sock != -1)
		close(tp->sock);
	free(tp);
}

static int
sim_connect(const char *path, char *err, size_t errlen)
{
	struct sockaddr_un sun;
	int		 s, e;

	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	if (strlen(path) >= sizeof(sun.sun_path)) {
		snprintf(err, errlen, "sim:%s: socket path longer than %zu "
		    "bytes", path, sizeof(sun.sun_path) - 1);
		return (-ENAMETOOLONG);
	}
	memcpy(sun.sun_path, path, strlen(path));
	if ((s = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0)) == -1) {
		e = errno;
		snprintf(err, errlen, "sim:%s: socket: %s", path, strerror(e));
		return (-e);
	}
	if (connect(s, (struct sockaddr *)&sun, sizeof(sun)) == -1) {
		e = errno;
		snprintf(err, errlen, "sim:%s: no simulated PF listening: %s",
		    path, strerror(e));
		close(s);
		return (-e);
	}
	return (s);
}

int
va_sim_wait(struct va_transport *tp, int ms, char *err, size_t errlen)
{
	int	rc;

	if ((rc = va_wait_readable(tp->sock, ms)) <= 0) {
		snprintf(err, errlen, "sim:%s: no answer from the simulated PF "
		    "within %d ms", tp->target, ms);
		return (rc == 0 ? -ETIMEDOUT : rc);
	}
	return (0);
}

/* One message; the socket is readable (the caller waited). */
static int
recv_one(int s, const char *path, uint8_t *buf, size_t cap, int ms,
    char *err, size_t errlen)
{
	int	 fds[4], nfds, k;
	ssize_t	 n;

	n = va_sock_recv(s, buf, cap, fds, 4, &nfds);
	for (k = 0; k < nfds; k++)
		close(fds[k]);	/* the device never sends us descriptors */
	if (n <= 0) {
		snprintf(err, errlen, "sim:%s: the simulated PF %s", path,
		    n == 0 ? "closed the connection" : strerror((int)-n));
		return (n == 0 ? -ECONNRESET : (int)n);
	}
	return ((int)n);
}

struct va_transport *
va_tp_new(const char *kind, const char *target)
{
	struct va_transport	*tp;
	uint32_t		 i;

	if ((tp = calloc(1, sizeof(*tp))) == NULL)
		return (NULL);
	tp->kind = kind;
	tp->sock = -1;
	for (i = 0; i < VA_TP_MAX_QUEUES; i++)
		tp->q[i].kick_fd = tp->q[i].call_fd = -1;
	snprintf(tp->target, sizeof(tp->target), "%s", target);
	return (tp);
}

/*
 * The handshake in steps (the plugin drives them from its loop, the
 * synchronous open below with a poll in between): connect; the PF's Hello
 * (tp->sock readable); our setup with the ring memory and eventfds; the
 * PF's Ack (readable again).
 */
int
va_sim_connect(const char *path, struct va_transport **tpp, char *err,
    size_t errlen)
{
	struct va_transport	*tp;
	int			 rc;

	*tpp = NULL;
	if ((tp = va_tp_new("sim", path)) == NULL)
		return (-ENOMEM);
	if ((rc = sim_connect(path, err, errlen)) < 0) {
		tp_free(tp);
		return (rc);
	}
	tp->sock = rc;
	*tpp = tp;
	return (0);
}

/* The PF's Hello is readable: take it, answer with our setup. */
int
va_sim_on_hello(struct va_transport *tp, const struct va_tp_params *p,
    char *err, size_t errlen)
{
	const char	*path = tp->target;
	struct va_setup	 setup;
	uint8_t		 buf[VA_HS_MAX_LEN + VA_HS_HELLO_LEN];
	int		 fds[VA_HS_MAX_FDS], nfds = 0, rc, memfd = -1, e;
	uint32_t	 i, qsize, nq;
	uint64_t	 at, pool;
	size_t		 len;
	char		 why[160];

	if ((rc = recv_one(tp->sock, path, buf, sizeof(buf), 0, err,
	    errlen)) < 0)
		return (rc);
	if ((rc = va_hello_get(buf, (size_t)rc, &tp->dev, why,
	    sizeof(why))) != 0) {
		snprintf(err, errlen, "sim:%s: %s", path, why);
		return (rc < 0 ? rc : -EPROTO);
	}
	if (tp->dev.status != 0) {
		snprintf(err, errlen, "sim:%s: the simulated PF refused us: %s",
		    path, tp->dev.msg);
		return (-(int)tp->dev.status);
	}
	if (tp->dev.dialect >= 32 || !((p->dialects != 0 ? p->dialects :
	    1u << VA_DIALECT_DRAFT) & (1u << tp->dev.dialect))) {
		snprintf(err, errlen, "sim:%s: PF speaks dialect %u (%s), %s",
		    path, tp->dev.dialect, va_dialect_name(tp->dev.dialect),
		    p->dialects == 0 ? "this plugin speaks the draft dialect" :
		    "not one this driver accepts");
		return (-EPROTONOSUPPORT);
	}

	nq = MIN(tp->dev.admin_queues, p->max_queues > 0 ? p->max_queues :
	    VA_TP_MAX_QUEUES);
	nq = MIN(nq, VA_TP_MAX_QUEUES);
	qsize = p->qsize > 0 ? p->qsize : DEF_QSIZE;
	if (qsize > tp->dev.max_queue_size)
		qsize = tp->dev.max_queue_size;
	if (qsize < 2 || (qsize & (qsize - 1)) != 0) {
		snprintf(err, errlen, "sim:%s: queue size %u is not a power of "
		    "two >= 2", path, qsize);
		return (-EINVAL);
	}
	pool = p->pool_bytes > 0 ? p->pool_bytes : DEF_POOL;
	pool = (pool + 4095) & ~(uint64_t)4095;

	memset(&setup, 0, sizeof(setup));
	setup.nqueues = nq;
	for (i = 0, at = 0; i < nq; i++)
		at = vq_layout_at(&setup.q[i], qsize, at);
	tp->pool_off = (at + 4095) & ~(uint64_t)4095;
	tp->pool_len = pool;
	tp->memsize = setup.mem_size = tp->pool_off + pool;
	tp->nqueues = nq;

	if ((memfd = memfd_create("vmig-adminq", MFD_CLOEXEC |
	    MFD_ALLOW_SEALING)) == -1 ||
	    ftruncate(memfd, (off_t)tp->memsize) == -1 ||
	    fcntl(memfd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW |
	    F_SEAL_SEAL) == -1) {
		e = errno;
		snprintf(err, errlen, "sim:%s: shared memory of %llu bytes: %s",
		    path, (unsigned long long)tp->memsize, strerror(e));
		rc = -e;
		goto fail;
	}
	tp->mem = mmap(NULL, tp->memsize, PROT_READ | PROT_WRITE, MAP_SHARED,
	    memfd, 0);
	if (tp->mem == MAP_FAILED) {
		e = errno;
		tp->mem = NULL;
		snprintf(err, errlen, "sim:%s: mmap: %s", path, strerror(e));
		rc = -e;
		goto fail;
	}
	fds[nfds++] = memfd;
	for (i = 0; i < nq; i++) {
		if ((rc = vq_ring_map(&tp->q[i].ring, tp->mem, tp->memsize,
		    &setup.q[i], why, sizeof(why))) != 0) {
			snprintf(err, errlen, "sim:%s: queue %u: %s", path, i,
			    why);
			goto fail;
		}
		tp->q[i].kick_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
		tp->q[i].call_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
		if (tp->q[i].kick_fd == -1 || tp->q[i].call_fd == -1) {
			e = errno;
			snprintf(err, errlen, "sim:%s: eventfd: %s", path,
			    strerror(e));
			rc = -e;
			goto fail;
		}
		fds[nfds++] = tp->q[i].kick_fd;
		fds[nfds++] = tp->q[i].call_fd;
	}
	len = va_setup_put(buf, &setup);
	if ((rc = va_sock_send(tp->sock, buf, len, fds, nfds)) != 0) {
		snprintf(err, errlen, "sim:%s: sending the setup: %s", path,
		    strerror(-rc));
		goto fail;
	}
	rc = 0;
fail:
	if (memfd != -1)
		close(memfd);
	return (rc < 0 ? rc : rc > 0 ? -EPROTO : 0);
}

/* The PF's Ack is readable: the queues are set up (or refused). */
int
va_sim_on_ack(struct va_transport *tp, char *err, size_t errlen)
{
	const char	*path = tp->target;
	struct va_ack	 ack;
	uint8_t		 buf[VA_HS_MAX_LEN + VA_HS_HELLO_LEN];
	char		 why[160];
	int		 rc;

	if ((rc = recv_one(tp->sock, path, buf, sizeof(buf), 0, err,
	    errlen)) < 0)
		return (rc);
	if ((rc = va_ack_get(buf, (size_t)rc, &ack, why, sizeof(why))) != 0) {
		snprintf(err, errlen, "sim:%s: %s", path, why);
		return (rc < 0 ? rc : -EPROTO);
	}
	if (ack.status != 0) {
		snprintf(err, errlen, "sim:%s: the simulated PF refused the "
		    "queue setup: %s", path, ack.msg);
		return (-(int)ack.status);
	}
	return (0);
}

/* Synchronous (tools and tests): the steps with a bounded wait between. */
int
va_transport_sim_open(const char *path, const struct va_tp_params *p,
    struct va_transport **tpp, char *err, size_t errlen)
{
	struct va_transport	*tp;
	int			 rc, ms;

	ms = p->timeout_ms > 0 ? p->timeout_ms : 2000;
	if ((rc = va_sim_connect(path, &tp, err, errlen)) != 0)
		return (rc);
	if ((rc = va_sim_wait(tp, ms, err, errlen)) != 0 ||
	    (rc = va_sim_on_hello(tp, p, err, errlen)) != 0 ||
	    (rc = va_sim_wait(tp, ms, err, errlen)) != 0 ||
	    (rc = va_sim_on_ack(tp, err, errlen)) != 0) {
		tp_free(tp);
		return (rc);
	}
	*tpp = tp;
	return (0);
}

int
va_transport_open(const char *spec, const struct va_tp_params *p,
    struct va_transport **tpp, char *err, size_t errlen)
{
	if (strncmp(spec, "sim:", 4) == 0 && spec[4] != '\0')
		return (va_transport_sim_open(spec + 4, p, tpp, err, errlen));
	if (strncmp(spec, "vfio:", 5) == 0 && spec[5] != '\0')
		return (va_transport_vfio_open(spec + 5, p, tpp, err, errlen));
	snprintf(err, errlen, "PF spec '%s': expected sim:PATH or vfio:BDF",
	    spec);
	return (-EINVAL);
}

void
va_transport_close(struct va_transport *tp)
{
	if (tp != NULL)
		tp_free(tp);
}

int
va_transport_kick(struct va_transport *tp, unsigned int q)
{
	uint64_t one = 1;

	if (q >= tp->nqueues)
		return (-EINVAL);
	if (tp->vfio != NULL)
		return (va_vfio_kick(tp, q));
	if (write(tp->q[q].kick_fd, &one, sizeof(one)) != sizeof(one))
		return (errno == EAGAIN ? 0 : -errno);
	return (0);
}

int
va_transport_ack_call(struct va_transport *tp, unsigned int q)
{
	uint64_t v;

	if (q >= tp->nqueues)
		return (-EINVAL);
	if (read(tp->q[q].call_fd, &v, sizeof(v)) != sizeof(v))
		return (0);
	return (1);
}
