/*
 * metrics_http.c: the HTTP side of the metrics: evhttp on an event base
 * and a thread of its own, serving the last page published. The loop
 * publishes (metrics_http_publish), the server copies the page under a
 * mutex held for that copy only, so neither ever waits for the other's
 * work.
 */
#include "config.h"

#include <sys/socket.h>

#include <netinet/in.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <nng/nng.h>
#include <nng/supplemental/util/platform.h>

#include "log.h"
#include "metrics.h"
#include "util.h"

#define MH_TIMEOUT_S		10	/* an idle or slow client is dropped */
#define MH_MAX_HEADERS		8192
#define MH_CONTENT_TYPE		"text/plain; version=0.0.4; charset=utf-8"

struct metrics_http {
	struct event_base	*base;
	struct evhttp		*http;
	nng_thread		*thread;
	nng_mtx			*lock;
	char			*page;		/* lock */
	size_t			 len;		/* lock */
	char			 url[128];
	uint64_t		 scrapes;	/* atomic */
};

/* "host:port" or "[v6]:port" into host and port; conf.c checked it. */
static int
mh_split(const char *listen, char *host, size_t hlen, unsigned int *port)
{
	const char	*colon, *h = listen, *end;
	size_t		 n;
	char		*e;
	unsigned long	 p;

	if ((colon = strrchr(listen, ':')) == NULL)
		return (-EINVAL);
	end = colon;
	if (*listen == '[') {
		h = listen + 1;
		if (colon == listen || colon[-1] != ']')
			return (-EINVAL);
		end = colon - 1;
	}
	n = (size_t)(end - h);
	if (n == 0 || n >= hlen)
		return (-EINVAL);
	memcpy(host, h, n);
	host[n] = '\0';
	errno = 0;
	p = strtoul(colon + 1, &e, 10);
	if (colon[1] == '\0' || *e != '\0' || errno != 0 || p > 65535)
		return (-EINVAL);
	*port = (unsigned int)p;
	return (0);
}

static void
mh_reply(struct evhttp_request *req, int code, const char *reason,
    const char *text)
{
	struct evbuffer	*b;

	if ((b = evbuffer_new()) == NULL) {
		evhttp_send_error(req, 500, NULL);
		return;
	}
	evbuffer_add(b, text, strlen(text));
	evhttp_add_header(evhttp_request_get_output_headers(req),
	    "Content-Type", "text/plain; charset=utf-8");
	evhttp_send_reply(req, code, reason, b);
	evbuffer_free(b);
}

/* The server's thread: every request. */
static void
mh_request(struct evhttp_request *req, void *arg)
{
	struct metrics_http	*h = arg;
	struct evbuffer		*b;
	const char		*path;
	enum evhttp_cmd_type	 cmd = evhttp_request_get_command(req);

	path = evhttp_uri_get_path(evhttp_request_get_evhttp_uri(req));
	if (path == NULL || (strcmp(path, "/metrics") != 0 &&
	    strcmp(path, "/") != 0)) {
		mh_reply(req, 404, "Not Found", "not found: vmigd serves "
		    "/metrics\n");
		return;
	}
	if (cmd != EVHTTP_REQ_GET && cmd != EVHTTP_REQ_HEAD) {
		evhttp_add_header(evhttp_request_get_output_headers(req),
		    "Allow", "GET, HEAD");
		mh_reply(req, 405, "Method Not Allowed", "GET or HEAD only\n");
		return;
	}
	if (strcmp(path, "/") == 0) {
		mh_reply(req, 200, "OK", "vmigd: Prometheus metrics at "
		    "/metrics\n");
		return;
	}
	evhttp_add_header(evhttp_request_get_output_headers(req),
	    "Content-Type", MH_CONTENT_TYPE);
	__atomic_add_fetch(&h->scrapes, 1, __ATOMIC_RELAXED);
	/* evhttp would send a body to HEAD too */
	if (cmd == EVHTTP_REQ_HEAD) {
		evhttp_send_reply(req, 200, "OK", NULL);
		return;
	}
	if ((b = evbuffer_new()) == NULL) {
		evhttp_send_error(req, 500, NULL);
		return;
	}
	nng_mtx_lock(h->lock);
	evbuffer_add(b, h->page != NULL ? h->page : "", h->len);
	nng_mtx_unlock(h->lock);
	evhttp_send_reply(req, 200, "OK", b);
	evbuffer_free(b);
}

static void
mh_thread(void *arg)
{
	struct metrics_http	*h = arg;

	event_base_dispatch(h->base);
}

static void
mh_free(struct metrics_http *h)
{
	if (h->http != NULL)
		evhttp_free(h->http);
	if (h->base != NULL)
		event_base_free(h->base);
	if (h->lock != NULL)
		nng_mtx_free(h->lock);
	free(h->page);
	free(h);
}

/* The address actually bound (port 0 resolved) as a URL. */
static void
mh_set_url(struct metrics_http *h, struct evhttp_bound_socket *bs)
{
	struct sockaddr_storage	 ss;
	socklen_t		 sl = sizeof(ss);
	char			 addr[64];
	unsigned int		 port = 0;

	memset(&ss, 0, sizeof(ss));
	if (getsockname(evhttp_bound_socket_get_fd(bs),
	    (struct sockaddr *)&ss, &sl) != 0)
		log_warn("%s: getsockname", __func__);
	if (ss.ss_family == AF_INET6) {
		struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;

		evutil_inet_ntop(AF_INET6, &s6->sin6_addr, addr, sizeof(addr));
		port = ntohs(s6->sin6_port);
		snprintf(h->url, sizeof(h->url), "http://[%s]:%u/metrics",
		    addr, port);
	} else {
		struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;

		evutil_inet_ntop(AF_INET, &s4->sin_addr, addr, sizeof(addr));
		port = ntohs(s4->sin_port);
		snprintf(h->url, sizeof(h->url), "http://%s:%u/metrics", addr,
		    port);
	}
}

struct metrics_http *
metrics_http_open(const char *listen, char *err, size_t errlen)
{
	struct metrics_http		*h;
	struct evhttp_bound_socket	*bs;
	char				 host[64];
	unsigned int			 port;
	int				 rv;

	if (mh_split(listen, host, sizeof(host), &port) != 0) {
		err_set(err, errlen, 0, "metrics_listen %s: not host:port",
		    listen);
		return (NULL);
	}
	h = xcalloc(1, sizeof(*h));
	if (nng_mtx_alloc(&h->lock) != 0 ||
	    (h->base = event_base_new()) == NULL ||
	    (h->http = evhttp_new(h->base)) == NULL) {
		err_set(err, errlen, 0, "metrics_listen %s: out of memory",
		    listen);
		mh_free(h);
		return (NULL);
	}
	evhttp_set_timeout(h->http, MH_TIMEOUT_S);
	evhttp_set_max_headers_size(h->http, MH_MAX_HEADERS);
	evhttp_set_max_body_size(h->http, 0);
	evhttp_set_gencb(h->http, mh_request, h);
	if ((bs = evhttp_bind_socket_with_handle(h->http, host,
	    (uint16_t)port)) == NULL) {
		rv = errno;
		err_set(err, errlen, 0, "metrics_listen %s: cannot listen: %s",
		    listen, rv != 0 ? strerror(rv) : "bad address");
		mh_free(h);
		return (NULL);
	}
	mh_set_url(h, bs);
	if ((rv = nng_thread_create(&h->thread, mh_thread, h)) != 0) {
		err_set(err, errlen, 0, "metrics_listen %s: no thread: %s",
		    listen, nng_strerror(rv));
		mh_free(h);
		return (NULL);
	}
	return (h);
}

void
metrics_http_close(struct metrics_http *h)
{
	if (h == NULL)
		return;
	/* a scrape being answered is finished first */
	event_base_loopexit(h->base, NULL);
	nng_thread_destroy(h->thread);
	mh_free(h);
}

void
metrics_http_publish(struct metrics_http *h, char *page, size_t len)
{
	char	*old;

	nng_mtx_lock(h->lock);
	old = h->page;
	h->page = page;
	h->len = len;
	nng_mtx_unlock(h->lock);
	free(old);
}

const char *
metrics_http_url(const struct metrics_http *h)
{
	return (h->url);
}

uint64_t
metrics_http_scrapes(const struct metrics_http *h)
{
	return (__atomic_load_n(&h->scrapes, __ATOMIC_RELAXED));
}
