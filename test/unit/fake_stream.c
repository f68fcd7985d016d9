/*
 * fake_stream.c: stream.h without nng (fake_stream.h says how).
 */
#include "config.h"

#include <sys/queue.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>

#include "fake_stream.h"
#include "frame.h"
#include "log.h"
#include "util.h"

struct stream {
	LIST_ENTRY(stream)	 entry;
	struct event_base	*base;
	const struct stream_ops	*ops;
	void			*arg;
	int			 listening;
	int			 connected;
	int			 closed;	/* by the engine */
	uint64_t		 window;
	uint64_t		 sent;		/* payload bytes */
	uint64_t		 acked;
	int			 blocked;	/* writable() owed */
	struct stream_stats	 st;
};

struct stream_msg {
	uint8_t			*buf;
	size_t			 hdr_max;
	size_t			 payload_max;
};

/* Something for the engine, on a later loop turn. */
struct fake_event {
	struct stream		*s;
	int			 what;		/* FE_* */
	uint8_t			*msg;
	size_t			 len;
};
enum { FE_FRAME, FE_CONNECTED, FE_CLOSED, FE_WRITABLE };

static LIST_HEAD(, stream) streams = LIST_HEAD_INITIALIZER(streams);
static fake_peer_fn	 peer_fn;
static fake_open_fn	 open_fn;
static void		*peer_arg;

void
fake_stream_set_peer(fake_peer_fn fn, fake_open_fn ofn, void *arg)
{
	peer_fn = fn;
	open_fn = ofn;
	peer_arg = arg;
}

static void
fake_event_cb(evutil_socket_t fd, short what, void *arg)
{
	struct fake_event	*e = arg;
	struct stream		*s = e->s;
	struct frame		 f;
	char			 err[256];

	if (!s->closed) {
		switch (e->what) {
		case FE_FRAME:
			frame_init(&f);
			if (frame_decode(&f, e->msg, e->len, 0, err,
			    sizeof(err)) != 0)
				s->ops->bad_frame(s->arg, -EBADMSG, err);
			else
				s->ops->frame(s->arg, &f);
			frame_free(&f);
			break;
		case FE_CONNECTED:
			s->connected = 1;
			if (s->ops->connected != NULL)
				s->ops->connected(s->arg);
			break;
		case FE_CLOSED:
			s->connected = 0;
			s->ops->closed(s->arg, -ECONNRESET, "the peer closed");
			break;
		case FE_WRITABLE:
			if (s->blocked) {
				s->blocked = 0;
				s->ops->writable(s->arg);
			}
			break;
		}
	}
	free(e->msg);
	free(e);
}

static void
fake_later(struct stream *s, int what, uint8_t *msg, size_t len)
{
	struct fake_event	*e = xcalloc(1, sizeof(*e));

	e->s = s;
	e->what = what;
	e->msg = msg;
	e->len = len;
	VMIG_ASSERT(event_base_once(s->base, -1, EV_TIMEOUT, fake_event_cb, e,
	    NULL) == 0);
}

/* hdr + payload as one message, as the wire has it. */
static uint8_t *
fake_encode(const StreamFrame *hdr, const void *payload, size_t len,
    size_t *msglen)
{
	size_t	 h = frame_header_size(hdr);
	uint8_t	*m = xmalloc(h + len + 1);

	VMIG_ASSERT(frame_encode_header(hdr, m, h) == h);
	if (len != 0)
		memcpy(m + h, payload, len);
	*msglen = h + len;
	return (m);
}

void
fake_stream_deliver(struct stream *s, const StreamFrame *hdr,
    const void *payload, size_t len)
{
	size_t	 n;
	uint8_t	*m = fake_encode(hdr, payload, len, &n);

	s->st.msgs_in++;
	s->st.bytes_in += n;
	s->st.payload_in += len;
	fake_later(s, FE_FRAME, m, n);
}

void
fake_stream_connect(struct stream *s)
{
	fake_later(s, FE_CONNECTED, NULL, 0);
}

void
fake_stream_peer_close(struct stream *s)
{
	fake_later(s, FE_CLOSED, NULL, 0);
}

void
fake_stream_reset(void)
{
	struct stream	*s;

	while ((s = LIST_FIRST(&streams)) != NULL) {
		LIST_REMOVE(s, entry);
		free(s);
	}
}

/* ------------------------------------------------------------ stream.h */

void
stream_opts_default(struct stream_opts *o)
{
	memset(o, 0, sizeof(*o));
}

static int
fake_open(struct event_base *base, const struct stream_ops *ops, void *arg,
    int listen, struct stream **sp, char *err, size_t errlen)
{
	struct stream	*s;
	int		 rc;

	if (open_fn != NULL && (rc = open_fn(peer_arg, listen)) != 0)
		return (err_set(err, errlen, rc, "the test refused it"));
	s = xcalloc(1, sizeof(*s));
	s->base = base;
	s->ops = ops;
	s->arg = arg;
	s->listening = listen;
	LIST_INSERT_HEAD(&streams, s, entry);
	*sp = s;
	return (0);
}

int
stream_listen(struct event_base *base, const char *url,
    const struct stream_opts *o, const struct stream_ops *ops, void *arg,
    struct stream **sp, char *bound_url, size_t bound_len, char *err,
    size_t errlen)
{
	if (fake_open(base, ops, arg, 1, sp, err, errlen) != 0)
		return (-EADDRINUSE);
	strlcpy_v(bound_url, "fake://listener", bound_len);
	return (0);
}

int
stream_dial(struct event_base *base, const char *url,
    const struct stream_opts *o, const struct stream_ops *ops, void *arg,
    struct stream **sp, char *err, size_t errlen)
{
	if (fake_open(base, ops, arg, 0, sp, err, errlen) != 0)
		return (-ECONNREFUSED);
	fake_stream_connect(*sp);
	return (0);
}

void
stream_close(struct stream *s)
{
	if (s != NULL)
		s->closed = 1;	/* freed by fake_stream_reset() */
}

unsigned
stream_lingering(void)
{
	return (0);
}

void
stream_flush(void)
{
}

void
stream_set_priority(struct stream *s, int priority)
{
}

void
stream_drop_peer(struct stream *s)
{
	s->connected = 0;
}

int
stream_is_connected(const struct stream *s)
{
	return (s->connected);
}

int
stream_is_closed(const struct stream *s)
{
	return (s->closed);
}

int
stream_can_send(const struct stream *s, size_t len)
{
	return (s->window == 0 || s->sent - s->acked + len <= s->window);
}

/* A frame the engine sends: through the codec to the peer. */
static int
fake_send(struct stream *s, const StreamFrame *hdr, const void *payload,
    size_t len)
{
	struct frame	 f;
	uint8_t		*m;
	size_t		 n;
	char		 err[256];
	int		 rc = 0;

	if (s->closed)
		return (-EPIPE);
	m = fake_encode(hdr, payload, len, &n);
	frame_init(&f);
	VMIG_ASSERT(frame_decode(&f, m, n, 0, err, sizeof(err)) == 0);
	if (peer_fn != NULL)
		rc = peer_fn(peer_arg, s, &f);
	frame_free(&f);
	free(m);
	if (rc != 0) {
		/* as on a real link: a failed send is a broken connection */
		fake_later(s, FE_CLOSED, NULL, 0);
		return (rc);
	}
	s->sent += len;
	s->st.msgs_out++;
	s->st.bytes_out += n;
	s->st.payload_out += len;
	return (0);
}

int
stream_send(struct stream *s, const StreamFrame *hdr, const void *payload,
    size_t len)
{
	if (len != 0 && !stream_can_send(s, len)) {
		s->blocked = 1;
		s->st.eagain++;
		return (-EAGAIN);
	}
	return (fake_send(s, hdr, payload, len));
}

int
stream_msg_begin(struct stream *s, size_t hdr_max, size_t payload_max,
    struct stream_msg **mp, void **payloadp)
{
	struct stream_msg	*m;

	if (!stream_can_send(s, payload_max)) {
		s->blocked = 1;
		s->st.eagain++;
		return (-EAGAIN);
	}
	m = xcalloc(1, sizeof(*m));
	m->buf = xmalloc(payload_max + 1);
	m->hdr_max = hdr_max;
	m->payload_max = payload_max;
	*mp = m;
	*payloadp = m->buf;
	return (0);
}

void
stream_msg_abort(struct stream *s, struct stream_msg *m)
{
	free(m->buf);
	free(m);
}

int
stream_msg_commit(struct stream *s, struct stream_msg *m,
    const StreamFrame *hdr, size_t payload_len)
{
	int	rc;

	VMIG_ASSERT(payload_len <= m->payload_max);
	rc = frame_header_size(hdr) > m->hdr_max ? -EMSGSIZE :
	    fake_send(s, hdr, m->buf, payload_len);
	stream_msg_abort(s, m);
	return (rc);
}

void
stream_set_window(struct stream *s, uint64_t bytes)
{
	s->window = bytes;
}

int
stream_acked(struct stream *s, uint64_t total)
{
	if (total < s->acked || total > s->sent)
		return (-EPROTO);
	s->acked = total;
	s->st.acked = total;
	if (s->blocked)
		fake_later(s, FE_WRITABLE, NULL, 0);
	return (0);
}

uint64_t
stream_unacked(const struct stream *s)
{
	return (s->sent - s->acked);
}

const struct stream_stats *
stream_stats(const struct stream *s)
{
	return (&s->st);
}
