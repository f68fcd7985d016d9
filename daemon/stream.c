/*
 * stream.c: the peer link, one nng PAIR1 socket per job on the libevent loop.
 *
 * nng runs its I/O on its own threads. We see it through three fds on the
 * loop: the socket's receive and send pollable fds (level-triggered: drain
 * to EAGAIN, watch the send fd only while something waits for room), and an
 * eventfd the pipe notify callback writes (it runs on an nng thread and
 * only touches a few atomic fields). So every callback the engine
 * gets runs on the loop thread.
 *
 * Callbacks may close the stream: s->busy counts the loop handlers running
 * for this stream and stream_close() inside one only marks it; the
 * outermost handler finishes the close on the way out.
 *
 * Closing lingers. nng 1.5.2 can hang forever in nng_close() (its reaper
 * thread waits for a pipe receive that never completes, nng #1543, fixed
 * after 1.7) when the socket is closed while the peer is actively sending
 * to it; measured here: 22 of 60 closes under a stream of acks. Once we
 * stop reading, a busy peer fills our receive queue within microseconds
 * and nng stops receiving, and a quiet peer sends nothing: either way the
 * close is then safe (0 of 300 with a 20 ms pause). So a close with a live
 * pipe stops reading at once, and calls nng_close() when the peer drops
 * the pipe or STREAM_LINGER_MS later, from a timer on the loop. A pipe
 * that is already gone is closed at once.
 */
#include <config.h>

#include <sys/eventfd.h>

#include <errno.h>
#include <malloc.h>
#include <stdatomic.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sys/queue.h>

#include <event2/event.h>
#include <nng/nng.h>
#include <nng/protocol/pair1/pair.h>

#include "frame.h"
#include "log.h"
#include "stream.h"
#include "util.h"

#define STREAM_PARK_MAX		256	/* frames parked while nng is full */
#define STREAM_URL_MAX		256
#define STREAM_LINGER_MS	20	/* quiet time before nng_close() */
#define STREAM_REMOVED_RING	8
#define STREAM_MMAP_THRESHOLD	(32 << 20)	/* see stream_tune_malloc() */
#define STREAM_TRIM_THRESHOLD	(64 << 20)

struct stream {
	struct event_base *base;
	struct stream_ops ops;
	void		*arg;
	struct stream_opts opts;
	char		 url[STREAM_URL_MAX];
	int		 listening;

	nng_socket	 sock;
	nng_listener	 listener;
	nng_dialer	 dialer;
	int		 sock_open;
	size_t		 recv_max;	/* whole message limit set on nng */

	struct event	*ev_recv;
	struct event	*ev_send;
	struct event	*ev_notify;
	struct event	*ev_kick;
	struct event	*ev_linger;
	int		 lingering;
	TAILQ_ENTRY(stream) linger_entry;
	int		 notify_fd;
	int		 send_watched;

	/* Written by nng's pipe callback on its threads: atomics only. */
	_Atomic uint32_t pipe_id;	/* the first pipe: our peer */
	atomic_int	 pipe_up;
	atomic_int	 pipe_down;
	/* Pipes removed lately: a pipe can go before its ADD_POST runs. */
	_Atomic uint32_t removed[STREAM_REMOVED_RING];
	atomic_uint	 nremoved;
	/* Peers refused (loop thread): their messages are dropped. */
	uint32_t	 dropped[STREAM_REMOVED_RING];
	unsigned	 ndropped;
	struct event	*ev_drop;	/* closes the refused pipe */
	uint32_t	 drop_pipe;

	int		 connected;
	int		 closed;	/* no more delivery, no more sends */
	int		 dead;		/* stream_close() was called */
	int		 busy;		/* loop handlers on the stack */

	/* Frames nng could not take yet, in order. */
	nng_msg		*park[STREAM_PARK_MAX];
	size_t		 park_payload[STREAM_PARK_MAX];
	unsigned	 park_head;
	unsigned	 npark;
	int		 want_writable;

	/* The message between stream_msg_begin() and commit/abort. */
	nng_msg		*open_msg;
	size_t		 open_hdr_max;
	size_t		 open_payload_max;

	uint64_t	 window;
	uint64_t	 sent_payload;	/* payload bytes accepted for sending */

	struct frame	 frame;		/* decode arena, reused */
	struct stream_stats stats;
};

static void	stream_destroy(struct stream *);
static void	stream_finish_close(struct stream *);
static void	stream_linger_cb(evutil_socket_t, short, void *);

/* Closed streams waiting for their linger (loop thread only). */
static TAILQ_HEAD(, stream) stream_lingering_list =
    TAILQ_HEAD_INITIALIZER(stream_lingering_list);
static unsigned	stream_nlingering;

/* nng's error numbers as negative errnos. */
static int
stream_errno(int rv)
{
	static const struct {
		int	 nng;
		int	 err;
	} map[] = {
		{ NNG_EINTR, EINTR },		{ NNG_ENOMEM, ENOMEM },
		{ NNG_EINVAL, EINVAL },		{ NNG_EBUSY, EBUSY },
		{ NNG_ETIMEDOUT, ETIMEDOUT },	{ NNG_ECONNREFUSED, ECONNREFUSED },
		{ NNG_ECLOSED, EPIPE },		{ NNG_EAGAIN, EAGAIN },
		{ NNG_ENOTSUP, ENOTSUP },	{ NNG_EADDRINUSE, EADDRINUSE },
		{ NNG_ENOENT, ENOENT },		{ NNG_EPROTO, EPROTO },
		{ NNG_EUNREACHABLE, EHOSTUNREACH },
		{ NNG_EADDRINVAL, EINVAL },	{ NNG_EPERM, EPERM },
		{ NNG_EMSGSIZE, EMSGSIZE },	{ NNG_ECONNABORTED, ECONNABORTED },
		{ NNG_ECONNRESET, ECONNRESET },	{ NNG_ECANCELED, ECANCELED },
		{ NNG_ENOFILES, EMFILE },	{ NNG_ENOSPC, ENOSPC },
		{ NNG_EEXIST, EEXIST },		{ NNG_ECRYPTO, EPROTO },
		{ NNG_EPEERAUTH, EACCES },
	};
	size_t	 i;

	if (rv & NNG_ESYSERR)
		return (-(rv & ~NNG_ESYSERR));
	for (i = 0; i < nitems(map); i++) {
		if (map[i].nng == rv)
			return (-map[i].err);
	}
	return (-EIO);
}

void
stream_opts_default(struct stream_opts *o)
{
	memset(o, 0, sizeof *o);
	o->payload_max = 4 * 1024 * 1024;
	/*
	 * Few messages in flight keep the buffers hot in the cache: 8 and 8
	 * moved 1 MiB batches ~25% faster than 16 and 16, 64 and 64 at half
	 * the speed (test/bench/stream_throughput, window 16 MiB).
	 */
	o->sendbuf = 8;
	o->recvbuf = 8;
	o->nodelay = 1;
	o->window = 0;
	o->recv_burst = 32;
}

/* Handlers bracket their work: leave returns 1 if the stream is gone. */
static void
stream_enter(struct stream *s)
{
	s->busy++;
}

static int
stream_leave(struct stream *s)
{
	if (--s->busy == 0 && s->dead) {
		stream_finish_close(s);
		return (1);
	}
	return (s->dead);
}

static void
stream_watch_send(struct stream *s, int on)
{
	if (s->ev_send == NULL || s->send_watched == on)
		return;
	if (on)
		event_add(s->ev_send, NULL);
	else
		event_del(s->ev_send);
	s->send_watched = on;
}

static void
stream_park_clear(struct stream *s)
{
	while (s->npark != 0) {
		nng_msg_free(s->park[s->park_head]);
		s->park_head = (s->park_head + 1) % STREAM_PARK_MAX;
		s->npark--;
	}
	s->park_head = 0;
}

/* Stop reading and sending; the socket stays open (see the top). */
static void
stream_quiesce(struct stream *s)
{
	if (s->ev_recv != NULL)
		event_del(s->ev_recv);
	stream_watch_send(s, 0);
	if (s->ev_kick != NULL)
		event_del(s->ev_kick);
	if (s->open_msg != NULL) {
		nng_msg_free(s->open_msg);
		s->open_msg = NULL;
	}
	stream_park_clear(s);
}

static void
stream_fail(struct stream *s, int err, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void
stream_fail(struct stream *s, int err, const char *fmt, ...)
{
	char	 reason[512];
	va_list	 ap;

	if (s->closed)
		return;
	va_start(ap, fmt);
	vsnprintf(reason, sizeof reason, fmt, ap);
	va_end(ap);
	s->closed = 1;
	log_debug("%s: %s: %s", __func__, s->url, reason);
	stream_quiesce(s);
	if (!s->dead && s->ops.closed != NULL)
		s->ops.closed(s->arg, err, reason);
}

static void
stream_kick(struct stream *s)
{
	if (s->ev_kick != NULL && !s->closed)
		event_active(s->ev_kick, EV_TIMEOUT, 1);
}

/* Pick up what the pipe callback recorded; may call connected(). */
static void
stream_pipe_state(struct stream *s, int *down)
{
	int	 up;

	up = atomic_load(&s->pipe_up);
	*down = atomic_load(&s->pipe_down);
	if (up && !s->connected && !s->closed) {
		s->connected = 1;
		log_debug("%s: %s: peer connected", __func__, s->url);
		if (s->ops.connected != NULL)
			s->ops.connected(s->arg);
	}
}

/* A message that is no frame: the user answers it, or the stream fails. */
static void
stream_bad_frame(struct stream *s, int err, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void
stream_bad_frame(struct stream *s, int err, const char *fmt, ...)
{
	char	 reason[512];
	va_list	 ap;

	va_start(ap, fmt);
	vsnprintf(reason, sizeof reason, fmt, ap);
	va_end(ap);
	if (s->ops.bad_frame == NULL) {
		stream_fail(s, err, "%s", reason);
		return;
	}
	log_debug("%s: %s: %s", __func__, s->url, reason);
	s->ops.bad_frame(s->arg, err, reason);
}

/* A message of a peer stream_drop_peer() refused: not delivered. */
static int
stream_from_dropped(const struct stream *s, nng_msg *m)
{
	uint32_t	id = (uint32_t)nng_pipe_id(nng_msg_get_pipe(m));
	unsigned	i;

	for (i = 0; i < MIN(s->ndropped, STREAM_REMOVED_RING); i++) {
		if (s->dropped[i] == id)
			return (1);
	}
	return (0);
}

static void
stream_deliver(struct stream *s, nng_msg *m)
{
	char	 err[256];
	size_t	 len = nng_msg_len(m), plen;
	int	 rc, kind;

	if (stream_from_dropped(s, m))
		return;
	s->stats.msgs_in++;
	s->stats.bytes_in += len;
	rc = frame_decode(&s->frame, nng_msg_body(m), len, 0, err, sizeof err);
	if (rc != 0) {
		stream_bad_frame(s, rc, "peer sent a bad frame: %s", err);
		return;
	}
	if (s->frame.payload_len > s->opts.payload_max) {
		kind = s->frame.hdr->kind_case;
		plen = s->frame.payload_len;
		frame_clear(&s->frame);
		stream_bad_frame(s, -EMSGSIZE, "peer sent a %s frame with %zu "
		    "payload bytes, over the limit of %zu",
		    frame_kind_name(kind), plen, s->opts.payload_max);
		return;
	}
	s->stats.payload_in += s->frame.payload_len;
	if (s->ops.frame != NULL)
		s->ops.frame(s->arg, &s->frame);
	frame_clear(&s->frame);
}

/* Receive up to max frames (0: until EAGAIN). */
static void
stream_drain(struct stream *s, int max)
{
	nng_msg	*m;
	int	 rv, n = 0;

	while (!s->closed && !s->dead && (max == 0 || n < max)) {
		rv = nng_recvmsg(s->sock, &m, NNG_FLAG_NONBLOCK);
		if (rv == NNG_EAGAIN)
			break;
		if (rv != 0) {
			stream_fail(s, stream_errno(rv), "receive failed: %s",
			    nng_strerror(rv));
			break;
		}
		stream_deliver(s, m);
		nng_msg_free(m);
		n++;
	}
}

static void
stream_recv_cb(evutil_socket_t fd, short what, void *arg)
{
	struct stream	*s = arg;
	int		 down;

	stream_enter(s);
	if (!s->connected)
		stream_pipe_state(s, &down);
	stream_drain(s, s->opts.recv_burst);
	stream_leave(s);
}

/* A listener whose user wants another peer after this one left. */
static int
stream_relisten(struct stream *s)
{
	if (!s->listening || s->closed || s->dead ||
	    s->ops.peer_lost == NULL || !s->ops.peer_lost(s->arg))
		return (0);
	log_debug("%s: %s: peer pipe %u gone, listening for another",
	    __func__, s->url, atomic_load(&s->pipe_id));
	/* the id last: a new pipe's ADD_POST may follow at once */
	atomic_store(&s->pipe_up, 0);
	atomic_store(&s->pipe_down, 0);
	atomic_store(&s->pipe_id, 0);
	s->connected = 0;
	stream_park_clear(s);
	return (1);
}

static void
stream_notify_cb(evutil_socket_t fd, short what, void *arg)
{
	struct stream	*s = arg;
	uint64_t	 v;
	int		 down;

	if (read(s->notify_fd, &v, sizeof v) == -1 && errno != EAGAIN)
		log_warn("%s: read eventfd", __func__);
	if (s->lingering) {
		/* The peer dropped the pipe: nothing can race the close. */
		if (atomic_load(&s->pipe_down))
			stream_destroy(s);
		return;
	}
	stream_enter(s);
	stream_pipe_state(s, &down);
	if (down && !s->closed && !s->dead) {
		/* Frames that arrived before the loss still count. */
		stream_drain(s, 0);
		if (stream_relisten(s)) {
			stream_leave(s);
			return;
		}
		stream_fail(s, -ECONNRESET, "peer connection lost (the peer "
		    "closed it, or a message exceeded the %zu-byte limit)",
		    s->recv_max);
	}
	stream_leave(s);
}

/* nng thread: record, then wake the loop. Never touch other state here. */
static void
stream_pipe_cb(nng_pipe p, nng_pipe_ev ev, void *arg)
{
	struct stream	*s = arg;
	uint64_t	 one = 1;
	uint32_t	 id = (uint32_t)nng_pipe_id(p), none = 0;
	unsigned	 i;

	/*
	 * The first pipe is our peer; PAIR1 refuses any other. A pipe that
	 * dies at once (a peer sending an oversize message right away) can
	 * have its REM_POST run before its ADD_POST: each side publishes
	 * first and looks at the other's after (seq_cst), so one of them
	 * sees the pipe gone.
	 */
	if (ev == NNG_PIPE_EV_ADD_POST &&
	    atomic_compare_exchange_strong(&s->pipe_id, &none, id)) {
		atomic_store(&s->pipe_up, 1);
		for (i = 0; i < STREAM_REMOVED_RING; i++) {
			if (atomic_load(&s->removed[i]) == id)
				atomic_store(&s->pipe_down, 1);
		}
	} else if (ev == NNG_PIPE_EV_REM_POST) {
		i = atomic_fetch_add(&s->nremoved, 1) % STREAM_REMOVED_RING;
		atomic_store(&s->removed[i], id);
		if (atomic_load(&s->pipe_id) == id)
			atomic_store(&s->pipe_down, 1);
	}
	if (write(s->notify_fd, &one, sizeof one) == -1) {
		/* The counter cannot overflow in practice; nothing to do. */
	}
}

static int
stream_window_ok(const struct stream *s, size_t payload)
{
	uint64_t	 unacked = s->sent_payload - s->stats.acked;

	if (s->window == 0 || payload == 0)
		return (1);
	/* A frame larger than the window goes alone, or never. */
	return (unacked == 0 || unacked + payload <= s->window);
}

int
stream_can_send(const struct stream *s, size_t payload_len)
{
	if (s->closed || s->dead)
		return (0);
	if (payload_len == 0)
		return (s->npark < STREAM_PARK_MAX);
	return (s->npark == 0 && stream_window_ok(s, payload_len));
}

/* Refuse with -EAGAIN and remember to call writable(). */
static int
stream_check(struct stream *s, size_t payload_len)
{
	if (s->closed || s->dead)
		return (-EPIPE);
	if (!stream_can_send(s, payload_len)) {
		s->want_writable = 1;
		s->stats.eagain++;
		return (-EAGAIN);
	}
	return (0);
}

/* Hand m to nng, or park it. Takes m in every case. */
static int
stream_push(struct stream *s, nng_msg *m, size_t payload_len)
{
	unsigned	 tail;
	size_t		 len = nng_msg_len(m);
	int		 rv;

	if (s->npark == 0) {
		rv = nng_sendmsg(s->sock, m, NNG_FLAG_NONBLOCK);
		if (rv != 0 && rv != NNG_EAGAIN) {
			nng_msg_free(m);
			stream_fail(s, stream_errno(rv), "send failed: %s",
			    nng_strerror(rv));
			return (-EPIPE);
		}
		if (rv == 0)
			goto sent;
	}
	VMIG_ASSERT(s->npark < STREAM_PARK_MAX);
	tail = (s->park_head + s->npark) % STREAM_PARK_MAX;
	s->park[tail] = m;
	s->park_payload[tail] = payload_len;
	s->npark++;
	stream_watch_send(s, 1);
sent:
	s->stats.msgs_out++;
	s->stats.bytes_out += len;
	s->stats.payload_out += payload_len;
	s->sent_payload += payload_len;
	return (0);
}

static void
stream_send_cb(evutil_socket_t fd, short what, void *arg)
{
	struct stream	*s = arg;
	int		 rv;

	stream_enter(s);
	while (s->npark != 0 && !s->closed) {
		rv = nng_sendmsg(s->sock, s->park[s->park_head],
		    NNG_FLAG_NONBLOCK);
		if (rv == NNG_EAGAIN)
			break;
		if (rv != 0) {
			stream_fail(s, stream_errno(rv), "send failed: %s",
			    nng_strerror(rv));
			break;
		}
		s->park[s->park_head] = NULL;
		s->park_head = (s->park_head + 1) % STREAM_PARK_MAX;
		s->npark--;
	}
	if (s->npark == 0 && !s->closed) {
		stream_watch_send(s, 0);
		if (s->want_writable && stream_window_ok(s, 1)) {
			s->want_writable = 0;
			if (s->ops.writable != NULL && !s->dead)
				s->ops.writable(s->arg);
		}
	}
	stream_leave(s);
}

static void
stream_kick_cb(evutil_socket_t fd, short what, void *arg)
{
	struct stream	*s = arg;

	stream_enter(s);
	if (s->want_writable && !s->closed && s->npark == 0) {
		s->want_writable = 0;
		if (s->ops.writable != NULL && !s->dead)
			s->ops.writable(s->arg);
	}
	stream_leave(s);
}

int
stream_send(struct stream *s, const StreamFrame *hdr, const void *payload,
    size_t len)
{
	nng_msg		*m;
	size_t		 hsize, n;
	int		 rc, rv;

	if ((rc = stream_check(s, len)) != 0)
		return (rc);
	hsize = frame_header_size(hdr);
	if (hsize - FRAME_PREFIX > FRAME_HDR_MAX || len > s->opts.payload_max)
		return (-EMSGSIZE);
	if ((rv = nng_msg_alloc(&m, hsize + len)) != 0)
		return (stream_errno(rv));
	n = frame_encode_header(hdr, nng_msg_body(m), hsize);
	VMIG_ASSERT(n == hsize);
	if (len != 0)
		memcpy((uint8_t *)nng_msg_body(m) + hsize, payload, len);
	return (stream_push(s, m, len));
}

int
stream_msg_begin(struct stream *s, size_t hdr_max, size_t payload_max,
    struct stream_msg **mp, void **payloadp)
{
	nng_msg		*m;
	int		 rc, rv;

	VMIG_ASSERT(s->open_msg == NULL);
	if ((rc = stream_check(s, payload_max ? payload_max : 1)) != 0)
		return (rc);
	if (hdr_max > FRAME_HDR_MAX || payload_max > s->opts.payload_max)
		return (-EMSGSIZE);
	if ((rv = nng_msg_alloc(&m, FRAME_PREFIX + hdr_max + payload_max)) != 0)
		return (stream_errno(rv));
	s->open_msg = m;
	s->open_hdr_max = hdr_max;
	s->open_payload_max = payload_max;
	*mp = (struct stream_msg *)m;
	*payloadp = (uint8_t *)nng_msg_body(m) + FRAME_PREFIX + hdr_max;
	return (0);
}

void
stream_msg_abort(struct stream *s, struct stream_msg *sm)
{
	nng_msg	*m = (nng_msg *)sm;

	if (m == NULL)
		return;
	if (s->open_msg == m) {
		s->open_msg = NULL;
		nng_msg_free(m);
	}
	/* Otherwise shutdown already freed it. */
}

int
stream_msg_commit(struct stream *s, struct stream_msg *sm,
    const StreamFrame *hdr, size_t payload_len)
{
	nng_msg		*m = (nng_msg *)sm;
	uint8_t		*payload;
	size_t		 hlen, gap;

	if (s->open_msg != m || m == NULL)
		return (-EPIPE);	/* freed by a shutdown since begin */
	s->open_msg = NULL;
	if (s->closed || s->dead) {
		nng_msg_free(m);
		return (-EPIPE);
	}
	hlen = protobuf_c_message_get_packed_size(&hdr->base);
	if (hlen > s->open_hdr_max || payload_len > s->open_payload_max) {
		nng_msg_free(m);
		return (-EMSGSIZE);
	}
	/* The header goes right in front of the payload; trim the gap. */
	payload = (uint8_t *)nng_msg_body(m) + FRAME_PREFIX + s->open_hdr_max;
	if (protobuf_c_message_pack(&hdr->base, payload - hlen) != hlen)
		fatalx("%s: protobuf pack size mismatch", __func__);
	put_le32(payload - hlen - FRAME_PREFIX, (uint32_t)hlen);
	gap = s->open_hdr_max - hlen;
	if (gap != 0 && nng_msg_trim(m, gap) != 0)
		fatalx("%s: nng_msg_trim", __func__);
	if (s->open_payload_max != payload_len &&
	    nng_msg_chop(m, s->open_payload_max - payload_len) != 0)
		fatalx("%s: nng_msg_chop", __func__);
	return (stream_push(s, m, payload_len));
}

void
stream_set_window(struct stream *s, uint64_t bytes)
{
	s->window = bytes;
	if (s->want_writable)
		stream_kick(s);
}

int
stream_acked(struct stream *s, uint64_t total)
{
	if (total < s->stats.acked || total > s->sent_payload)
		return (-EPROTO);
	if (total != s->stats.acked) {
		s->stats.acked = total;
		if (s->want_writable && s->npark == 0)
			stream_kick(s);
	}
	return (0);
}

uint64_t
stream_unacked(const struct stream *s)
{
	return (s->sent_payload - s->stats.acked);
}

const struct stream_stats *
stream_stats(const struct stream *s)
{
	return (&s->stats);
}

void
stream_set_priority(struct stream *s, int priority)
{
	struct event	*evs[4];
	size_t		 i;

	if (s == NULL || s->closed)
		return;
	evs[0] = s->ev_recv;
	evs[1] = s->ev_send;
	evs[2] = s->ev_notify;
	evs[3] = s->ev_kick;
	for (i = 0; i < nitems(evs); i++) {
		/* refused only while the event sits in the active queue: it
		 * then runs once more at its old priority, which is harmless */
		if (evs[i] != NULL && event_priority_set(evs[i], priority) != 0)
			log_debug("%s: %s: event %zu is active, priority "
			    "unchanged", __func__, s->url, i);
	}
}

static void
stream_drop_cb(evutil_socket_t fd, short what, void *arg)
{
	struct stream	*s = arg;
	nng_pipe	 p;
	int		 rv;

	if (s->drop_pipe == 0)
		return;
	/* nng has no lookup by id: the pipe is the id in a nng_pipe */
	p.id = s->drop_pipe;
	s->drop_pipe = 0;
	if ((rv = nng_pipe_close(p)) != 0 && rv != NNG_ENOENT &&
	    rv != NNG_ECLOSED)
		log_debug("%s: %s: closing a refused peer: %s", __func__,
		    s->url, nng_strerror(rv));
}

void
stream_drop_peer(struct stream *s)
{
	struct timeval	 tv = { 0, STREAM_LINGER_MS * 1000 };
	uint32_t	 id;

	if (s == NULL || s->closed || !s->listening)
		return;
	id = atomic_exchange(&s->pipe_id, 0);
	if (id == 0)
		return;
	/* the last few are enough: a refused pipe is closed in 20 ms */
	s->dropped[s->ndropped++ % STREAM_REMOVED_RING] = id;
	atomic_store(&s->pipe_up, 0);
	atomic_store(&s->pipe_down, 0);
	s->connected = 0;
	/* a second refusal within the linger closes the first one now */
	if (s->drop_pipe != 0)
		stream_drop_cb(-1, 0, s);
	s->drop_pipe = id;
	evtimer_add(s->ev_drop, &tv);
	log_debug("%s: %s: peer pipe %u refused", __func__, s->url, id);
}

int
stream_is_connected(const struct stream *s)
{
	return (s->connected && !s->closed);
}

int
stream_is_closed(const struct stream *s)
{
	return (s->closed);
}

/*
 * glibc serves blocks over 128 KiB with mmap and unmaps them on free (its
 * threshold only adapts upwards slowly), so every page batch message,
 * ours on the source and nng's on the destination, paid page faults and
 * kernel page zeroing: 1.3 Gbit/s through the benchmark, 2.9 with the
 * blocks kept in the heap. Process-wide, once, before the first stream.
 */
static void
stream_tune_malloc(void)
{
	static int	 done;

	if (done)
		return;
	done = 1;
	if (mallopt(M_MMAP_THRESHOLD, STREAM_MMAP_THRESHOLD) != 1 ||
	    mallopt(M_TRIM_THRESHOLD, STREAM_TRIM_THRESHOLD) != 1)
		log_warnx("%s: mallopt failed", __func__);
}

/* Socket, options, events: everything but the endpoint. */
static int
stream_new(struct event_base *base, const char *url,
    const struct stream_opts *opts, const struct stream_ops *ops, void *arg,
    struct stream **sp, char *err, size_t errlen)
{
	struct stream	*s;
	int		 rv, rfd, sfd;

	if (url == NULL || strlen(url) >= STREAM_URL_MAX)
		return (err_set(err, errlen, -EINVAL, "stream url is "
		    "missing or longer than %d bytes", STREAM_URL_MAX - 1));
	stream_tune_malloc();
	s = xcalloc(1, sizeof *s);
	s->base = base;
	s->ops = *ops;
	s->arg = arg;
	if (opts != NULL)
		s->opts = *opts;
	else
		stream_opts_default(&s->opts);
	if (s->opts.payload_max == 0 || s->opts.payload_max > FRAME_PAYLOAD_MAX)
		s->opts.payload_max = FRAME_PAYLOAD_MAX;
	if (s->opts.recv_burst <= 0)
		s->opts.recv_burst = 32;
	s->window = s->opts.window;
	s->recv_max = FRAME_PREFIX + FRAME_HDR_MAX + s->opts.payload_max;
	strlcpy_v(s->url, url, sizeof s->url);
	s->notify_fd = -1;
	frame_init(&s->frame);

	if ((s->notify_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)) == -1) {
		rv = -errno;
		free(s);
		return (err_set(err, errlen, rv, "stream %s: eventfd: %s",
		    url, strerror(-rv)));
	}
	if ((rv = nng_pair1_open(&s->sock)) != 0) {
		close(s->notify_fd);
		free(s);
		return (err_set(err, errlen, stream_errno(rv), "stream %s: "
		    "cannot open a pair1 socket: %s", url, nng_strerror(rv)));
	}
	s->sock_open = 1;
	*sp = s;

	if ((rv = nng_socket_set_int(s->sock, NNG_OPT_SENDBUF,
	    s->opts.sendbuf)) != 0 ||
	    (rv = nng_socket_set_int(s->sock, NNG_OPT_RECVBUF,
	    s->opts.recvbuf)) != 0 ||
	    (rv = nng_socket_set_size(s->sock, NNG_OPT_RECVMAXSZ,
	    s->recv_max)) != 0 ||
	    (rv = nng_pipe_notify(s->sock, NNG_PIPE_EV_ADD_POST,
	    stream_pipe_cb, s)) != 0 ||
	    (rv = nng_pipe_notify(s->sock, NNG_PIPE_EV_REM_POST,
	    stream_pipe_cb, s)) != 0 ||
	    (rv = nng_socket_get_int(s->sock, NNG_OPT_RECVFD, &rfd)) != 0 ||
	    (rv = nng_socket_get_int(s->sock, NNG_OPT_SENDFD, &sfd)) != 0)
		return (err_set(err, errlen, stream_errno(rv), "stream %s: "
		    "cannot set up the socket: %s", url, nng_strerror(rv)));

	s->ev_recv = event_new(base, rfd, EV_READ | EV_PERSIST, stream_recv_cb,
	    s);
	s->ev_send = event_new(base, sfd, EV_READ | EV_PERSIST, stream_send_cb,
	    s);
	s->ev_notify = event_new(base, s->notify_fd, EV_READ | EV_PERSIST,
	    stream_notify_cb, s);
	s->ev_kick = event_new(base, -1, 0, stream_kick_cb, s);
	s->ev_linger = evtimer_new(base, stream_linger_cb, s);
	s->ev_drop = evtimer_new(base, stream_drop_cb, s);
	if (s->ev_recv == NULL || s->ev_send == NULL || s->ev_notify == NULL ||
	    s->ev_kick == NULL || s->ev_linger == NULL || s->ev_drop == NULL)
		return (err_set(err, errlen, -ENOMEM, "stream %s: cannot "
		    "create events", url));
	event_add(s->ev_recv, NULL);
	event_add(s->ev_notify, NULL);
	return (0);
}

/*
 * Apply the per-endpoint options (size limit, TLS) through a setter. A
 * tls+tcp:// endpoint without a configuration is refused: nng's default
 * one would verify nothing on a listener.
 */
#define STREAM_EP_OPTS(kind, ep, s, rv) do {				\
	(rv) = nng_##kind##_set_size((ep), NNG_OPT_RECVMAXSZ,		\
	    (s)->recv_max);						\
	if ((rv) == 0 && stream_is_tcp((s)->url))			\
		(rv) = nng_##kind##_set_bool((ep), NNG_OPT_TCP_NODELAY,	\
		    (s)->opts.nodelay != 0);				\
	if ((rv) == 0 && strncmp((s)->url, "tls+", 4) == 0)		\
		(rv) = (s)->opts.tls == NULL ? NNG_EINVAL :		\
		    nng_##kind##_set_ptr((ep), NNG_OPT_TLS_CONFIG,	\
		    (s)->opts.tls);					\
} while (0)

static int
stream_is_tcp(const char *url)
{
	return (strncmp(url, "tcp", 3) == 0 || strncmp(url, "tls+tcp", 7) == 0);
}

/* "tcp://host" gets ":0"; anything else is used as given. */
static void
stream_listen_url(const char *url, char *out, size_t outlen)
{
	const char	*host, *colon;

	host = strstr(url, "://");
	if (host != NULL && (strncmp(url, "tcp", 3) == 0 ||
	    strncmp(url, "tls+tcp", 7) == 0)) {
		host += 3;
		/* The port colon comes after a bracketed IPv6 address. */
		colon = strrchr(host, ':');
		if (colon == NULL || (strchr(host, ']') != NULL &&
		    colon < strchr(host, ']'))) {
			snprintf(out, outlen, "%s:0", url);
			return;
		}
	}
	snprintf(out, outlen, "%s", url);
}

int
stream_listen(struct event_base *base, const char *url,
    const struct stream_opts *opts, const struct stream_ops *ops, void *arg,
    struct stream **sp, char *bound_url, size_t bound_len, char *err,
    size_t errlen)
{
	struct stream	*s = NULL;
	char		 u[STREAM_URL_MAX + 8];
	const char	*colon;
	int		 rc, rv, port;

	*sp = NULL;
	if (url == NULL)
		return (err_set(err, errlen, -EINVAL, "no url to listen on"));
	stream_listen_url(url, u, sizeof u);
	if ((rc = stream_new(base, u, opts, ops, arg, &s, err, errlen)) != 0) {
		if (s != NULL)
			stream_destroy(s);
		return (rc);
	}
	s->listening = 1;
	if ((rv = nng_listener_create(&s->listener, s->sock, u)) != 0) {
		rc = err_set(err, errlen, stream_errno(rv), "cannot listen "
		    "on %s: %s", u, nng_strerror(rv));
		goto fail;
	}
	STREAM_EP_OPTS(listener, s->listener, s, rv);
	if (rv == 0)
		rv = nng_listener_start(s->listener, 0);
	if (rv != 0) {
		rc = err_set(err, errlen, stream_errno(rv), "cannot listen "
		    "on %s: %s", u, nng_strerror(rv));
		goto fail;
	}
	/* Port 0: say which port the kernel picked. */
	if (strncmp(u, "tcp://", 6) == 0 || strncmp(u, "tls+tcp://", 10) == 0) {
		if ((rv = nng_listener_get_int(s->listener,
		    NNG_OPT_TCP_BOUND_PORT, &port)) != 0) {
			rc = err_set(err, errlen, stream_errno(rv),
			    "listening on %s: no bound port: %s", u,
			    nng_strerror(rv));
			goto fail;
		}
		colon = strrchr(u, ':');
		snprintf(s->url, sizeof s->url, "%.*s:%d", (int)(colon - u), u,
		    port);
	}
	if (bound_url != NULL && bound_len != 0)
		snprintf(bound_url, bound_len, "%s", s->url);
	log_debug("%s: listening on %s", __func__, s->url);
	*sp = s;
	return (0);
fail:
	stream_destroy(s);
	return (rc);
}

int
stream_dial(struct event_base *base, const char *url,
    const struct stream_opts *opts, const struct stream_ops *ops, void *arg,
    struct stream **sp, char *err, size_t errlen)
{
	struct stream	*s = NULL;
	int		 rc, rv;

	*sp = NULL;
	if ((rc = stream_new(base, url, opts, ops, arg, &s, err, errlen)) != 0) {
		if (s != NULL)
			stream_destroy(s);
		return (rc);
	}
	if ((rv = nng_dialer_create(&s->dialer, s->sock, url)) != 0) {
		rc = err_set(err, errlen, stream_errno(rv), "cannot dial "
		    "%s: %s", url, nng_strerror(rv));
		goto fail;
	}
	STREAM_EP_OPTS(dialer, s->dialer, s, rv);
	if (rv == 0)
		rv = nng_dialer_set_ms(s->dialer, NNG_OPT_RECONNMINT, 20);
	if (rv == 0)
		rv = nng_dialer_set_ms(s->dialer, NNG_OPT_RECONNMAXT, 1000);
	/* Non-blocking: nng keeps redialing until the peer listens. */
	if (rv == 0)
		rv = nng_dialer_start(s->dialer, NNG_FLAG_NONBLOCK);
	if (rv != 0) {
		rc = err_set(err, errlen, stream_errno(rv), "cannot dial "
		    "%s: %s", url, nng_strerror(rv));
		goto fail;
	}
	log_debug("%s: dialing %s", __func__, url);
	*sp = s;
	return (0);
fail:
	stream_destroy(s);
	return (rc);
}

static void
stream_linger_cb(evutil_socket_t fd, short what, void *arg)
{
	stream_destroy(arg);
}

/* The user is done and no handler is on the stack: close or linger. */
static void
stream_finish_close(struct stream *s)
{
	if (s->lingering)
		return;
	stream_quiesce(s);
	if (s->sock_open && atomic_load(&s->pipe_up) &&
	    !atomic_load(&s->pipe_down) && s->ev_linger != NULL &&
	    s->ev_notify != NULL) {
		struct timeval	 tv = { 0, STREAM_LINGER_MS * 1000 };

		s->lingering = 1;
		TAILQ_INSERT_TAIL(&stream_lingering_list, s, linger_entry);
		stream_nlingering++;
		evtimer_add(s->ev_linger, &tv);
		log_debug("%s: %s: lingering %d ms", __func__, s->url,
		    STREAM_LINGER_MS);
		return;
	}
	stream_destroy(s);
}

static void
stream_destroy(struct stream *s)
{
	stream_quiesce(s);
	if (s->lingering) {
		TAILQ_REMOVE(&stream_lingering_list, s, linger_entry);
		stream_nlingering--;
		s->lingering = 0;
	}
	/* event_del first: nng_close closes the pollable fds. */
	if (s->ev_recv != NULL)
		event_free(s->ev_recv);
	if (s->ev_send != NULL)
		event_free(s->ev_send);
	if (s->ev_kick != NULL)
		event_free(s->ev_kick);
	if (s->ev_linger != NULL)
		event_free(s->ev_linger);
	if (s->ev_drop != NULL)
		event_free(s->ev_drop);
	if (s->ev_notify != NULL)
		event_free(s->ev_notify);
	if (s->sock_open) {
		nng_close(s->sock);
		s->sock_open = 0;
	}
	/* nng_close() ran the last pipe callbacks: the eventfd may go. */
	if (s->notify_fd != -1)
		close(s->notify_fd);
	frame_free(&s->frame);
	free(s);
}

void
stream_close(struct stream *s)
{
	if (s == NULL || s->dead)
		return;
	s->dead = 1;
	s->closed = 1;
	stream_quiesce(s);
	if (s->busy == 0)
		stream_finish_close(s);
}

unsigned
stream_lingering(void)
{
	return (stream_nlingering);
}

void
stream_flush(void)
{
	struct stream	*s;

	while ((s = TAILQ_FIRST(&stream_lingering_list)) != NULL)
		stream_destroy(s);
}
