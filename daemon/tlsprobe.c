/*
 * tlsprobe.c: one TLS handshake beside a dialer, to learn why it fails
 * (tlsprobe.h).
 */
#include "config.h"

#include <sys/eventfd.h>

#include <errno.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>
#include <nng/nng.h>

#include "log.h"
#include "tlsprobe.h"
#include "util.h"

/* The listener's SP header: 8 bytes that come only after a handshake. */
#define PROBE_READ	8

struct tls_probe {
	nng_stream_dialer	*dialer;
	nng_stream		*st;
	nng_aio			*aio;
	uint8_t			 buf[PROBE_READ];
	size_t			 got;
	int			 connected;	/* nng thread only */
	atomic_int		 result;	/* TLSPROBE_*, set once */
	atomic_int		 nngrv;
	int			 efd;
	struct event		*ev;
	void			(*cb)(void *, int, int);
	void			*arg;
	char			 url[256];
};

static void
tls_probe_done(struct tls_probe *p, int result, int rv)
{
	uint64_t	one = 1;

	atomic_store(&p->nngrv, rv);
	atomic_store(&p->result, result);
	if (write(p->efd, &one, sizeof(one)) != (ssize_t)sizeof(one))
		log_debug("%s: %s: eventfd: %s", __func__, p->url,
		    strerror(errno));
}

/*
 * What an error says. The handshake may end the dial (nng's engine
 * starts it there) or the first read; after a connection, anything but
 * a timeout before the peer's first bytes is the handshake's failure.
 */
static int
tls_probe_verdict(int connected, int rv)
{
	if (rv == NNG_EPEERAUTH)
		return (TLSPROBE_PEER_REFUSED);
	if (rv == NNG_ECRYPTO)
		return (TLSPROBE_FAILED);
	if (!connected || rv == NNG_ETIMEDOUT)
		return (TLSPROBE_UNREACHABLE);
	return (TLSPROBE_FAILED);
}

/* nng's thread: the dial, then reads until the peer's first bytes. */
static void
tls_probe_cb(void *arg)
{
	struct tls_probe	*p = arg;
	nng_iov			 iov;
	int			 rv;

	if ((rv = nng_aio_result(p->aio)) != 0) {
		if (rv == NNG_ECANCELED)
			return;		/* tls_probe_free() */
		tls_probe_done(p, tls_probe_verdict(p->connected, rv), rv);
		return;
	}
	if (!p->connected) {
		p->connected = 1;
		p->st = nng_aio_get_output(p->aio, 0);
	} else
		p->got += nng_aio_count(p->aio);
	if (p->got >= PROBE_READ) {
		tls_probe_done(p, TLSPROBE_OK, 0);
		return;
	}
	iov.iov_buf = p->buf + p->got;
	iov.iov_len = PROBE_READ - p->got;
	if ((rv = nng_aio_set_iov(p->aio, 1, &iov)) != 0) {
		tls_probe_done(p, TLSPROBE_UNREACHABLE, rv);
		return;
	}
	nng_stream_recv(p->st, p->aio);	/* the last act: see datalink.c */
}

static void
tls_probe_event_cb(evutil_socket_t fd, short what, void *arg)
{
	struct tls_probe	*p = arg;
	uint64_t		 v;

	(void)what;
	if (read(fd, &v, sizeof(v)) == -1 && errno != EAGAIN)
		log_debug("%s: %s: eventfd: %s", __func__, p->url,
		    strerror(errno));
	event_del(p->ev);	/* once */
	p->cb(p->arg, atomic_load(&p->result), atomic_load(&p->nngrv));
}

int
tls_probe_start(struct event_base *base, const char *url,
    struct nng_tls_config *tls, int timeout_ms,
    void (*cb)(void *arg, int result, int nngrv), void *arg,
    struct tls_probe **out, char *err, size_t errlen)
{
	struct tls_probe	*p;
	int			 rv;

	*out = NULL;
	p = xcalloc(1, sizeof(*p));
	strlcpy_v(p->url, url, sizeof(p->url));
	p->cb = cb;
	p->arg = arg;
	atomic_init(&p->result, TLSPROBE_PENDING);
	atomic_init(&p->nngrv, 0);
	if ((p->efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)) == -1) {
		free(p);
		return (err_set(err, errlen, -errno, "TLS probe of %s: eventfd: "
		    "%s", url, strerror(errno)));
	}
	if ((p->ev = event_new(base, p->efd, EV_READ, tls_probe_event_cb,
	    p)) == NULL || event_add(p->ev, NULL) != 0) {
		tls_probe_free(p);
		return (err_set(err, errlen, -ENOMEM, "TLS probe of %s: no "
		    "event", url));
	}
	if ((rv = nng_stream_dialer_alloc(&p->dialer, url)) != 0 ||
	    (rv = nng_stream_dialer_set_ptr(p->dialer, NNG_OPT_TLS_CONFIG,
	    tls)) != 0 ||
	    (rv = nng_aio_alloc(&p->aio, tls_probe_cb, p)) != 0) {
		tls_probe_free(p);
		return (err_set(err, errlen, -EINVAL, "TLS probe of %s: %s",
		    url, nng_strerror(rv)));
	}
	nng_aio_set_timeout(p->aio, timeout_ms);
	nng_stream_dialer_dial(p->dialer, p->aio);
	*out = p;
	return (0);
}

void
tls_probe_free(struct tls_probe *p)
{
	if (p == NULL)
		return;
	if (p->aio != NULL)
		nng_aio_stop(p->aio);	/* waits for the callback */
	if (p->st != NULL) {
		nng_stream_close(p->st);
		nng_stream_free(p->st);
	}
	if (p->dialer != NULL) {
		nng_stream_dialer_close(p->dialer);
		nng_stream_dialer_free(p->dialer);
	}
	if (p->aio != NULL)
		nng_aio_free(p->aio);
	if (p->ev != NULL)
		event_free(p->ev);
	close(p->efd);
	free(p);
}
