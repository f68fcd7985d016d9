/*
 * events.c: the WatchEvents publisher. nng PUB never blocks a sender (a
 * slow subscriber loses messages instead), so publishing from the loop is
 * safe.
 */
#include "config.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <nng/nng.h>
#include <nng/protocol/pubsub0/pub.h>

#include "events.h"
#include "log.h"
#include "util.h"

struct events {
	nng_socket	 sock;
	char		*url;
	uint64_t	 seq;
	uint64_t	 sent;
};

/* One observer for the process (metrics.c), also with events off. */
static events_observer_fn	 events_observer;
static void			*events_observer_arg;

void
events_observe(events_observer_fn fn, void *arg)
{
	events_observer = fn;
	events_observer_arg = arg;
}

struct events *
events_open(const char *url, int ipc_mode, char *err, size_t errlen)
{
	struct events	*ev;
	nng_listener	 l;
	int		 rv;

	ev = xcalloc(1, sizeof(*ev));
	ev->url = xstrdup(url);
	if ((rv = nng_pub0_open(&ev->sock)) != 0) {
		snprintf(err, errlen, "events_url %s: cannot open a PUB "
		    "socket: %s", url, nng_strerror(rv));
		free(ev->url);
		free(ev);
		return (NULL);
	}
	if ((rv = nng_listener_create(&l, ev->sock, url)) != 0)
		goto fail;
	if (strncmp(url, "ipc://", 6) == 0 && (rv = nng_listener_set_int(l,
	    NNG_OPT_IPC_PERMISSIONS, ipc_mode != 0 ? ipc_mode : 0660)) != 0)
		goto fail;
	/* Subscribers only receive; a small cap keeps them from feeding us. */
	if ((rv = nng_listener_set_size(l, NNG_OPT_RECVMAXSZ, 1024)) != 0)
		goto fail;
	if ((rv = nng_listener_start(l, 0)) != 0)
		goto fail;
	log_debug("%s: publishing on %s", __func__, url);
	return (ev);
fail:
	snprintf(err, errlen, "events_url %s: cannot listen: %s%s", url,
	    nng_strerror(rv), rv == NNG_EADDRINUSE ?
	    " (another vmigd running?)" : "");
	nng_close(ev->sock);
	free(ev->url);
	free(ev);
	return (NULL);
}

void
events_close(struct events *ev)
{
	if (ev == NULL)
		return;
	nng_close(ev->sock);
	free(ev->url);
	free(ev);
}

int
events_publish(struct events *ev, Vmig__V1__Event *e)
{
	nng_msg	*m;
	size_t	 len;
	int	 rv;

	if (events_observer != NULL)
		events_observer(events_observer_arg, e);
	if (ev == NULL)
		return (0);
	e->seq = ++ev->seq;
	e->unix_ms = unix_ms();
	len = vmig__v1__event__get_packed_size(e);
	if ((rv = nng_msg_alloc(&m, len)) != 0) {
		log_warnx("%s: event %llu: %s", __func__,
		    (unsigned long long)e->seq, nng_strerror(rv));
		return (-ENOMEM);
	}
	vmig__v1__event__pack(e, nng_msg_body(m));
	if ((rv = nng_sendmsg(ev->sock, m, NNG_FLAG_NONBLOCK)) != 0) {
		nng_msg_free(m);
		log_warnx("%s: event %llu: %s", __func__,
		    (unsigned long long)e->seq, nng_strerror(rv));
		return (-EIO);
	}
	ev->sent++;
	return (0);
}

void
events_device(struct events *ev, const char *device, const char *fmt, ...)
{
	Vmig__V1__Event	 e = VMIG__V1__EVENT__INIT;
	char		*msg;
	va_list		 ap;

	if (ev == NULL)
		return;
	va_start(ap, fmt);
	if (vasprintf(&msg, fmt, ap) < 0)
		fatal("%s: vasprintf", __func__);
	va_end(ap);
	e.kind = VMIG__V1__EVENT__KIND__KIND_DEVICE;
	e.device = (char *)device;
	e.message = msg;
	events_publish(ev, &e);
	free(msg);
}

const char *
events_url(const struct events *ev)
{
	return (ev != NULL ? ev->url : "");
}

uint64_t
events_sent(const struct events *ev)
{
	return (ev != NULL ? ev->sent : 0);
}
