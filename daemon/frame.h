/*
 * frame.h: the peer stream frame codec (proto/stream.proto), pure: no I/O,
 * no memory writes outside the caller's buffers.
 *
 *     le32 header_length | Frame (protobuf, header_length bytes) | payload
 *
 * Encoding writes the first two parts into a caller buffer; the caller puts
 * the payload straight after them (gathering pages with one copy). Decoding
 * bounds the header length and unpacks it into a per-frame arena of bounded
 * size, so a hostile header cannot make us allocate without limit.
 * Validation checks a decoded frame against what the destination prepared
 * (struct frame_layout) and never writes anything.
 */
#ifndef VMIG_FRAME_H
#define VMIG_FRAME_H

#include <stddef.h>
#include <stdint.h>

#include "stream.pb-c.h"

typedef Vmig__Stream__V1__Frame		StreamFrame;
typedef Vmig__Stream__V1__PageBatch	StreamPageBatch;
typedef Vmig__Stream__V1__PageRun	StreamPageRun;
typedef Vmig__Stream__V1__StateChunk	StreamStateChunk;
typedef Vmig__Stream__V1__PageDelta	StreamPageDelta;

/*
 * The peer stream protocol (proto/stream.proto Hello.protocol_version):
 * defined here, once; both sides and GetVersion use it.
 */
#define STREAM_PROTOCOL_VERSION	2

#define FRAME_PREFIX		4		/* le32 header length */
#define FRAME_HDR_MAX		(64 * 1024)	/* protobuf header bytes */
#define FRAME_RUNS_MAX		4096		/* runs in one PageBatch */
#define FRAME_PAYLOAD_MAX	(8 * 1024 * 1024)	/* payload bytes */
/* Bytes of header a PageBatch of nruns may need (generous bound). */
#define FRAME_BATCH_HDR_BOUND(nruns)	(64 + (size_t)(nruns) * 24)

/* One received frame: hdr and payload point into the message / arena. */
struct frame {
	const StreamFrame *hdr;
	const uint8_t	*payload;	/* NULL if payload_len is 0 */
	size_t		 payload_len;
	size_t		 hdr_len;	/* protobuf bytes */
	/* private: the unpack arena (reused across frame_decode calls) */
	uint8_t		*arena;
	size_t		 arena_cap;
	size_t		 arena_used;
	int		 arena_failed;
};

/* Frame kinds by name: "hello", "pages", ...; "unset" / "unknown". */
const char *frame_kind_name(int kind);
/* The seq of a PageBatch / StateChunk / Switchover / Ack, else 0. */
uint64_t frame_seq(const StreamFrame *);

/* FRAME_PREFIX + packed size of hdr. */
size_t	 frame_header_size(const StreamFrame *hdr);
/*
 * Write the le32 length and the packed header into buf. Returns the bytes
 * written (frame_header_size()), or 0 if buflen is too small or the header
 * is over FRAME_HDR_MAX.
 */
size_t	 frame_encode_header(const StreamFrame *hdr, void *buf, size_t buflen);

void	 frame_init(struct frame *);
/*
 * Decode one message. hdr_max bounds the header (0: FRAME_HDR_MAX). On
 * success f->hdr is set and f->payload points into buf (which must outlive
 * the use of f). Any failure is -EBADMSG (or -EMSGSIZE for a header over
 * the bound) with a sentence in err; f is then empty.
 */
int	 frame_decode(struct frame *f, const void *buf, size_t len,
	    size_t hdr_max, char *err, size_t errlen);
/* Drop the decoded header (the arena is kept for the next decode). */
void	 frame_clear(struct frame *);
/* Release the arena too. */
void	 frame_free(struct frame *);

/* What the destination prepared: region i of the job's memory. */
struct frame_region {
	uint64_t	 iova;
	uint64_t	 length;
	uint64_t	 npages;
	uint32_t	 page_size;
};

struct frame_layout {
	const struct frame_region *regions;
	uint32_t	 nregions;
	uint64_t	 state_max;	/* bytes of device state image */
	uint32_t	 runs_max;	/* 0: FRAME_RUNS_MAX */
	size_t		 payload_max;	/* 0: FRAME_PAYLOAD_MAX */
};

/* Where the state image of the newest generation stands. */
struct frame_state_pos {
	int		 started;	/* a chunk has been accepted */
	uint32_t	 generation;
	uint64_t	 next;		/* offset the next chunk must have */
	uint64_t	 total;		/* declared total, 0: unknown */
	int		 complete;	/* the last chunk arrived */
};

/*
 * PageBatch: the region exists; every run is non-empty, inside the region
 * (first + count overflow included), at most runs_max runs; the payload is
 * exactly the non-zero runs' pages times the page size.
 */
int	 frame_check_pages(const struct frame_layout *, const StreamPageBatch *,
	    size_t payload_len, char *err, size_t errlen);
/*
 * PageDelta: the region exists, the payload is within payload_max, and
 * delta_decode_check() (delta.h) accepts it: every entry inside one page
 * of the region, not empty, a page's ranges in order without overlap,
 * the bytes exactly the entries' sum. Nothing is written.
 */
int	 frame_check_delta(const struct frame_layout *, const StreamPageDelta *,
	    const uint8_t *payload, size_t payload_len, char *err,
	    size_t errlen);
/*
 * StateChunk: offset + payload within state_max (and total if declared),
 * total within state_max; a chunk of the current generation continues
 * exactly where the previous one ended and none follows the last one; a
 * newer generation starts at offset 0; an older generation is stale.
 * pos is read only; frame_state_accept() advances it.
 */
int	 frame_check_state(const struct frame_layout *,
	    const struct frame_state_pos *, const StreamStateChunk *,
	    size_t payload_len, char *err, size_t errlen);
void	 frame_state_accept(struct frame_state_pos *, const StreamStateChunk *,
	    size_t payload_len);
/*
 * Any frame: pages and state as above; every other kind carries no
 * payload. pos may be NULL when state chunks are not expected.
 */
int	 frame_check(const struct frame_layout *, const struct frame_state_pos *,
	    const struct frame *, char *err, size_t errlen);
/*
 * Sequence numbers (stream.proto): the frames the source numbers (pages,
 * state, stopcopy, switchover) follow each other without a gap, so loss
 * or reordering is a protocol error. 0 if f carries none or carries
 * last + 1; -EPROTO with a sentence otherwise. frame_seq() gives the new
 * last after an accepted frame.
 */
int	 frame_check_seq(uint64_t last, const StreamFrame *, char *err,
	    size_t errlen);
/* 1 for the kinds the source numbers. */
int	 frame_numbered(int kind);

/*
 * The engine's phase check: 0 if kind is in the mask of allowed kinds
 * (bit n = kind n), else -EPROTO with "unexpected <kind> frame <where>".
 */
int	 frame_expect(const struct frame *, uint32_t allowed, const char *where,
	    char *err, size_t errlen);
#define FRAME_KIND_BIT(k)	(1U << (k))

#endif /* VMIG_FRAME_H */
