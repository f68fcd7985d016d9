/*
 * fake_stream.h: the peer stream (daemon/stream.h) without nng, for the
 * engine's unit test. fake_stream.c defines every function of stream.h,
 * so a test that links it before libvmig.a gets it instead of stream.c.
 *
 * Frames the engine sends go through the codec (encoded, decoded) to the
 * test's peer function, which may refuse them (an error the engine sees
 * as stream_send's); frames the test delivers reach the engine's
 * stream_ops on a later loop turn, encoded and decoded too, as nng's
 * would. The byte window and writable() behave like stream.c's.
 */
#ifndef VMIG_TEST_FAKE_STREAM_H
#define VMIG_TEST_FAKE_STREAM_H

#include "stream.h"

/*
 * The peer: every frame the engine sends (f: decoded). Return 0, or a
 * negative errno that stream_send / stream_msg_commit return instead.
 */
typedef int	(*fake_peer_fn)(void *arg, struct stream *, const struct frame *f);
/* Called by stream_dial / stream_listen: 0, or the error they return. */
typedef int	(*fake_open_fn)(void *arg, int listen);

void	fake_stream_set_peer(fake_peer_fn, fake_open_fn, void *arg);
/* Deliver a frame to the engine (on a later loop turn). */
void	fake_stream_deliver(struct stream *, const StreamFrame *hdr,
	    const void *payload, size_t len);
/* The dialled stream is connected (connected() on a later turn). */
void	fake_stream_connect(struct stream *);
/* The peer closed its side (closed() on a later turn). */
void	fake_stream_peer_close(struct stream *);
/* Free every stream (the engine only closes them). */
void	fake_stream_reset(void);

#endif /* VMIG_TEST_FAKE_STREAM_H */
