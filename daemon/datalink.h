/*
 * datalink.h: a job's data connections, pages straight from guest memory
 * to the socket and from the socket into guest memory.
 *
 * Beside the control stream (stream.c, nng PAIR1, protobuf frames in nng
 * messages) a job may have up to DLINK_CONNS_MAX data connections: plain
 * byte streams (nng_stream over TCP, or over TLS with the stream's
 * certificates when the stream is tls+tcp://: no guest page goes in
 * clear on a TLS migration) carrying page batches only, framed as on the
 * control stream (le32 header length, Frame header) followed by
 * exactly PageBatch.payload_bytes bytes, or wire_bytes of a compressed
 * block (proto/stream.proto, compress.h).
 *
 * Source: dlink_send() takes the next dirty pages of a region (xfer.c's
 * gather, without its copy), packs the header, and queues a batch whose
 * payload segments point into the guest mapping itself; runs shorter
 * than DLINK_DIRECT_MIN are copied into a staging buffer instead (nng
 * takes at most 4 iov entries per aio, so many tiny segments would cost
 * one system call each). nng's threads write the segments out.
 *
 * Destination: nng's threads read each header, check it (frame.c)
 * against the prepared regions before a byte of payload is read, then
 * read the payload straight into guest memory at the runs' places and
 * clear the zero runs. A compressed batch (compress.h) is read apart,
 * decoded to exactly its runs' bytes, and only then copied to their
 * places. A connection must first show the job's token
 * (DataHello): until then nothing it sends is written anywhere, and one
 * that fails to is closed (it cannot end the job). The listener exists
 * only once the job accepted the source's Hello.
 *
 * Striping: a batch never crosses a stripe (DLINK_STRIPE_BYTES of a
 * region) and a stripe always goes on the same connection, so a page is
 * never in flight on two connections: a later copy cannot be overtaken
 * by an earlier one.
 *
 * Threads: nng's threads own the sockets and touch only the connection
 * they serve (and guest memory inside validated runs); what the loop
 * must learn (batches applied, room, failures) goes through a mutex and
 * an eventfd watched by the loop, where every callback below runs.
 * dlink_close() stops the I/O and waits for nng's callbacks: after it
 * returns no byte is written into guest memory.
 */
#ifndef VMIG_DATALINK_H
#define VMIG_DATALINK_H

#include <stddef.h>
#include <stdint.h>

#include "frame.h"
#include "memory.h"
#include "xfer.h"

struct event_base;
struct dlink;
struct nng_tls_config;
struct dseal_ctx;

#define DLINK_CONNS_MAX		16
#define DLINK_CONNS_DEFAULT	2	/* see README "Benchmarks" */
#define DLINK_STRIPE_BYTES	(1024 * 1024)
#define DLINK_DIRECT_MIN	(64 * 1024)	/* shorter runs are staged */

/* What the destination applied since the last call. */
struct dlink_applied {
	uint64_t	 batches;
	uint64_t	 pages;
	uint64_t	 zero_pages;
	uint64_t	 bytes;		/* payload bytes (the runs') */
	uint64_t	 wire;		/* of which on the wire, after codecs */
	uint64_t	 z_in, z_out;	/* compressed batches: runs', block's */
	uint32_t	 iteration;	/* the newest batch's */
};

struct dlink_ops {
	void	(*connected)(void *arg);	/* source: all connections up */
	void	(*writable)(void *arg);		/* source: room again */
	void	(*applied)(void *arg, const struct dlink_applied *);
	void	(*failed)(void *arg, int err, const char *reason);
};

/*
 * Destination: listen on bind_url's host (tcp:// or tls+tcp://, the
 * stream's scheme; port 0: the kernel picks) for connections of the job
 * whose token is given; pages land in map (read-write) after checks
 * against layout. The URL to dial goes to url. -ENOTSUP for a non-TCP
 * bind URL. tls: the stream's server configuration (tls.h: a client
 * certificate required), which tls+tcp:// needs; the listener holds it.
 * seal (dseal.h; it takes a reference): the connections are tcp:// on
 * the bind host, each a TLS 1.3 handshake with a source of the seal's
 * CA, then sealed records; tls is not used then.
 */
int	 dlink_listen(struct event_base *, const char *bind_url,
	    struct mem_map *map, const struct frame_layout *layout,
	    const uint8_t *token, size_t tokenlen, struct nng_tls_config *tls,
	    struct dseal_ctx *seal,
	    const struct dlink_ops *, void *arg, struct dlink **dlp, char *url,
	    size_t urllen, char *err, size_t errlen);

/*
 * Source: dial nconns (1..DLINK_CONNS_MAX) connections to url and greet
 * each with the token; connected() when all are up. window: payload
 * bytes sent but not acknowledged (dlink_acked) that may be in flight.
 * tls: for tls+tcp:// (required there), the stream's client
 * configuration: the same certificate, CA and server name. seal (a
 * reference taken): url is tcp:// and the connections are sealed
 * (dseal.h), the destination checked as the seal's context says.
 */
int	 dlink_dial(struct event_base *, const char *url, unsigned nconns,
	    const uint8_t *token, size_t tokenlen, uint64_t window,
	    struct nng_tls_config *tls, struct dseal_ctx *seal,
	    const struct dlink_ops *, void *arg,
	    struct dlink **dlp, char *err, size_t errlen);

/*
 * Source: the next batch of r's dirty pages (minus skip) from *cursor,
 * like xfer_send(): 0 with res->pages > 0: queued; 0 with res->pages ==
 * 0: nothing left from the cursor; -EAGAIN: the stripe's connection or
 * the window is full (nothing taken, writable() follows), or the link
 * failed (failed() follows: the user decides); -EPIPE: not up or
 * closing.
 */
int	 dlink_send(struct dlink *, struct xfer_src *, struct mem_region *r,
	    uint64_t *cursor, const struct pageset *skip, uint32_t iteration,
	    struct xfer_result *res);
/*
 * The connection (0..nconns-1) a region's page always goes on: its
 * stripe's, so no page is ever in flight on two connections. Pure.
 */
unsigned dlink_stripe_conn(uint32_t region, uint64_t page,
	    unsigned page_shift, unsigned nconns);
/* The destination applied `total` payload bytes (Ack.data_bytes). */
int	 dlink_acked(struct dlink *, uint64_t total);
uint64_t dlink_unacked(const struct dlink *);
void	 dlink_set_window(struct dlink *, uint64_t bytes);
unsigned dlink_conns(const struct dlink *);
/* Payload bytes on the wire (after compression), queued (source) or
 * applied (destination) so far. */
uint64_t dlink_bytes(const struct dlink *);

/*
 * Source: compress batches as the policy says (compress.h; mode: enum
 * cz_mode; codecs: what the peer decodes, HelloAck.data_codecs).
 */
void	 dlink_set_compression(struct dlink *, int mode, uint32_t codecs);
/* The runs' bytes of compressed batches and their blocks' bytes. */
void	 dlink_compressed(const struct dlink *, uint64_t *in, uint64_t *out);

/* The loop event's priority (event_base_priority_init). */
void	 dlink_set_priority(struct dlink *, int priority);

/* Stop all I/O, wait for nng's callbacks, free (NULL is fine). */
void	 dlink_close(struct dlink *);

/* The listen URL for a tcp:// or tls+tcp:// bind_url (port 0, the same
 * scheme); -ENOTSUP otherwise. */
int	 dlink_listen_url(const char *bind_url, char *out, size_t outlen);

#endif /* VMIG_DATALINK_H */
