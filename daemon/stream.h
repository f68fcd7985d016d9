/*
 * stream.h: the peer link of one migration job, an nng PAIR1 socket driven
 * from the libevent loop.
 *
 * The destination listens, the source dials (nng redials by itself; the
 * engine owns the setup timeout). Everything runs on the loop thread: nng's
 * pollable receive/send fds are watched level-triggered, and pipe events
 * (which nng reports on its own threads) are handed over through an
 * eventfd. Each nng message is one frame (daemon/frame.h).
 *
 * Callbacks, all on the loop thread; the stream may be closed from inside
 * any of them:
 *   connected(arg)        a peer pipe is up (optional)
 *   frame(arg, f)         one decoded frame; f and its payload are valid
 *                         during the call only
 *   writable(arg)         a send that returned -EAGAIN may be retried
 *   bad_frame(arg, err, why)  the peer sent a message that does not
 *                         decode (-EBADMSG) or carries too much payload
 *                         (-EMSGSIZE); it is dropped, the stream stays up
 *                         so the user can answer (an Abort) and close or
 *                         drop the peer; without this callback the stream
 *                         fails as for closed()
 *   peer_lost(arg)        (optional, listening streams) the peer's
 *                         connection went: return 1 to keep listening for
 *                         another peer (connected() again), 0 to close as
 *                         below
 *   closed(arg, err, why) the peer is gone (connection lost, a message
 *                         over the size limit); nothing is delivered
 *                         afterwards
 *
 * Sending never loses a message: stream_send() and stream_msg_commit()
 * return 0 when the message is handed to nng or parked in the stream's own
 * queue (it goes out, in order, when nng has room). -EAGAIN means nothing
 * was taken: the byte window is full or a message is already parked;
 * writable() follows when that changes. Frames without payload (acks,
 * aborts) are never held back by the window, and are refused only when
 * 256 frames are parked already (the peer stopped reading): acks are
 * cumulative, so keep the newest and send it from writable().
 */
#ifndef VMIG_STREAM_H
#define VMIG_STREAM_H

#include <stddef.h>
#include <stdint.h>

#include "frame.h"

struct event_base;
struct nng_tls_config;
struct stream;
struct stream_msg;

struct stream_ops {
	void	(*connected)(void *arg);
	void	(*frame)(void *arg, const struct frame *f);
	void	(*writable)(void *arg);
	void	(*closed)(void *arg, int err, const char *reason);
	void	(*bad_frame)(void *arg, int err, const char *reason);
	int	(*peer_lost)(void *arg);
};

struct stream_opts {
	size_t		 payload_max;	/* largest payload (recv size limit) */
	int		 sendbuf;	/* nng messages queued (0..8192) */
	int		 recvbuf;
	int		 nodelay;	/* TCP_NODELAY */
	/*
	 * Unacked payload bytes, 0: none. 16 MiB (16 batches of 1 MiB) is
	 * what the benchmark liked best here: 64 MiB cost ~15% more CPU per
	 * byte (buffers fall out of the cache), 8 MiB starves the pipe.
	 */
	uint64_t	 window;
	int		 recv_burst;	/* frames per loop wakeup */
	/*
	 * tls+tcp:// only, and then required: the configuration (tls.h) the
	 * endpoint takes a hold on; the caller frees its own.
	 */
	struct nng_tls_config	*tls;
};

struct stream_stats {
	uint64_t	 msgs_out;
	uint64_t	 msgs_in;
	uint64_t	 bytes_out;	/* whole messages */
	uint64_t	 bytes_in;
	uint64_t	 payload_out;	/* frame payloads only */
	uint64_t	 payload_in;
	uint64_t	 acked;		/* payload bytes acked by the peer */
	uint64_t	 eagain;	/* sends refused (window or queue) */
};

void	 stream_opts_default(struct stream_opts *);

/*
 * Listen on url: "tcp://127.0.0.1" or "tcp://127.0.0.1:0" picks a free
 * port; the full URL actually bound goes to bound_url. -errno with err.
 */
int	 stream_listen(struct event_base *, const char *url,
	    const struct stream_opts *, const struct stream_ops *, void *arg,
	    struct stream **sp, char *bound_url, size_t bound_len, char *err,
	    size_t errlen);
/* Dial url without blocking; connected() tells when the pipe is up. */
int	 stream_dial(struct event_base *, const char *url,
	    const struct stream_opts *, const struct stream_ops *, void *arg,
	    struct stream **sp, char *err, size_t errlen);
/*
 * Close: no callback runs afterwards, the stream must not be used again
 * (NULL is fine). With a live peer the socket lingers a few milliseconds
 * on the loop before nng_close() (an nng 1.5.2 hang, see stream.c), so
 * keep running the loop, or call stream_flush() before event_base_free().
 */
void	 stream_close(struct stream *);
/* Streams closed but still lingering; close them all now (exit, tests). */
unsigned stream_lingering(void);
void	 stream_flush(void);

/*
 * libevent priority of the stream's events (a base with priorities: see
 * event_base_priority_init). A job in stop-copy raises its stream so that
 * its frames are not queued behind other jobs' bulk pages.
 */
void	 stream_set_priority(struct stream *, int priority);

/*
 * A listening stream refuses its current peer (a source that failed to
 * authenticate): what was sent to it (an Abort) has STREAM_LINGER_MS to
 * go, then its connection is closed; whatever it still sends is dropped,
 * and the next peer to connect is taken as new (connected() again).
 */
void	 stream_drop_peer(struct stream *);

int	 stream_is_connected(const struct stream *);
int	 stream_is_closed(const struct stream *);

/* Send a frame whose payload (may be NULL/0) is copied in. */
int	 stream_send(struct stream *, const StreamFrame *hdr,
	    const void *payload, size_t len);

/*
 * Gather API for page batches, one copy: begin reserves a message with
 * room for hdr_max header bytes and payload_max payload bytes and returns
 * a pointer to the payload area; the caller writes up to payload_max bytes
 * there, then commit encodes hdr in front of the first payload_len bytes
 * and sends (or parks) the message. begin returns -EAGAIN when the window
 * cannot take payload_max more bytes or a message is parked. After a
 * successful begin, exactly one of commit or abort must follow. Commit
 * takes the message in every case; on failure (-EMSGSIZE: header over
 * hdr_max; -EPIPE: stream closed) it is freed.
 */
int	 stream_msg_begin(struct stream *, size_t hdr_max, size_t payload_max,
	    struct stream_msg **mp, void **payloadp);
int	 stream_msg_commit(struct stream *, struct stream_msg *,
	    const StreamFrame *hdr, size_t payload_len);
void	 stream_msg_abort(struct stream *, struct stream_msg *);

/* Byte window: bytes sent but not acked may not exceed it (0: off). */
void	 stream_set_window(struct stream *, uint64_t bytes);
/*
 * The peer acked `total` payload bytes so far (an Ack frame). -EPROTO if
 * total goes backwards or exceeds what was sent.
 */
int	 stream_acked(struct stream *, uint64_t total);
uint64_t stream_unacked(const struct stream *);
/* 1 if a payload_len-byte payload frame would be accepted now. */
int	 stream_can_send(const struct stream *, size_t payload_len);

const struct stream_stats *stream_stats(const struct stream *);

#endif /* VMIG_STREAM_H */
