/*
 * datalink.c: a job's data connections (datalink.h has the contract).
 *
 * Each connection runs one aio at a time on nng's threads: the source's
 * writes a batch's segments out, at most 4 iov entries per operation
 * (nng's limit), resuming after short writes; the destination's reads a
 * header in two steps (the le32 length, then the header), checks it, and
 * reads the payload into guest memory, again 4 segments at a time,
 * resuming after short reads. The loop and nng's threads share only
 * what sits under dl->mtx (counters, the failure, slot ownership); the
 * loop learns of changes through dl->efd.
 */
#include <config.h>

#include <sys/eventfd.h>

#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>
#include <nng/nng.h>

#include "compress.h"
#include "datalink.h"
#include "dseal.h"
#include "frame.h"
#include "log.h"
#include "util.h"

#define DLINK_SLOTS		4	/* batches queued per connection */
#define DLINK_ACCEPT_MAX	(2 * DLINK_CONNS_MAX)
#define DLINK_IOV_MAX		4	/* nng 1.5.2: iov entries per aio */
#define DLINK_HDR_BUF		(FRAME_PREFIX + FRAME_HDR_MAX)
#define DLINK_TOKEN_MAX		64
#define DLINK_SAMPLES		4	/* pages a batch's compressibility */

/* a segment is dseal's, so that sealing takes the segments as they are */
#define dlink_seg	dseal_seg

/* A queued batch (source): the header, then payload segments. */
struct dlink_slot {
	uint8_t		*hdr;		/* FRAME_PREFIX + header */
	uint8_t		*stage;		/* short runs copied (lazily) */
	uint8_t		*zbuf;		/* the compressed block (lazily) */
	struct dlink_seg *segs;
	unsigned	 nseg;
};

enum dlink_rx {
	RX_PREFIX,
	RX_HEADER,
	RX_PAYLOAD,
};

/* A sealed connection's handshake (dseal.h): what its aio is doing. */
enum dlink_hs_op {
	HS_SEND,		/* the handshake's bytes out */
	HS_RECV,		/* the peer's handshake bytes in */
	HS_READY,		/* the ready record: the source reads it */
};

struct dlink_conn {
	struct dlink	*dl;
	unsigned	 idx;
	nng_stream	*st;
	nng_aio		*aio;		/* sends or receives */
	nng_aio		*dial_aio;	/* source: the connect */

	/* source; slots [completed, submitted) are queued (mtx) */
	struct dlink_slot slots[DLINK_SLOTS];
	unsigned	 submitted;
	unsigned	 completed;
	int		 sending;
	uint64_t	 seq;		/* loop: batches numbered */
	struct dlink_seg hello_seg;
	uint8_t		*hello;
	int		 hello_done;
	/* sealed (dseal.h): the records of the operation in progress */
	uint8_t		*sbuf;
	size_t		 scap;
	struct dlink_seg sseg;
	/* the operation in progress (nng thread) */
	struct dlink_seg *cur;
	unsigned	 cur_n;
	unsigned	 cur_i;
	size_t		 cur_off;

	/* destination (nng thread, but for setup and close) */
	enum dlink_rx	 rx;
	uint8_t		*hbuf;
	size_t		 have;
	size_t		 need;
	struct frame	 frame;
	int		 authed;
	uint64_t	 rx_seq;
	struct dlink_seg *rsegs;
	uint64_t	 rx_payload;
	struct dlink_applied part;	/* of the batch being read */
	const StreamPageBatch *rx_batch;
	uint32_t	 rx_codec;	/* of the batch being read */
	uint8_t		*zbuf;		/* its block (lazily) */
	uint8_t		*zraw;		/* the block decoded (lazily) */
	struct cz_ctx	*cz;
	uint8_t		 tag[DSEAL_TAG];	/* sealed: the payload's */

	/* sealed (both): the handshake, then the records' keys */
	struct dseal	*ds;
	nng_aio		*hs_aio;
	uint8_t		*hsbuf;		/* DSEAL_HS_BUF */
	enum dlink_hs_op hs_op;
	size_t		 hs_len, hs_off;
	enum dseal_hs	 hs_state;
	char		 hs_err[256];
};

struct dlink {
	struct event_base *base;
	struct dlink_ops ops;
	void		*arg;
	int		 source;
	char		 url[256];
	uint8_t		 token[DLINK_TOKEN_MAX];
	size_t		 tokenlen;

	int		 efd;
	struct event	*ev;
	pthread_mutex_t	 mtx;
	atomic_int	 closing;

	/* under mtx */
	int		 failed;
	int		 fail_err;
	char		 fail_reason[384];
	int		 fail_told;
	unsigned	 up;		/* source: connections dialed */
	int		 connected_told;
	struct dlink_applied applied;
	unsigned	 refused;
	unsigned	 refused_told;

	struct dlink_conn *conns[DLINK_ACCEPT_MAX];
	unsigned	 nconns;

	/* source (loop) */
	nng_stream_dialer *dialer;
	uint64_t	 window;
	uint64_t	 sent;
	uint64_t	 acked;
	uint64_t	 wire;		/* payload bytes queued, after codecs */
	uint64_t	 pipe_since;	/* ns: sent != acked since */
	uint64_t	 pipe_ns;	/* time with bytes unacknowledged */
	int		 want_writable;
	/* compression (compress.h): the policy's inputs, the counters */
	int		 cz_mode;
	uint32_t	 cz_codecs;	/* the peer decodes */
	struct cz_ctx	*cz;
	uint64_t	 cz_bps;	/* raw bytes/s compressed (EWMA) */
	uint32_t	 cz_raw_run;	/* auto: batches raw in a row */
	uint32_t	 cz_last;	/* the last decision (logged) */
	uint32_t	*rskip;		/* per region: raw batches to go */
	uint32_t	 nrskip;
	uint64_t	 z_in, z_out;	/* compressed batches' bytes (both) */

	/* destination */
	nng_stream_listener *listener;
	nng_aio		*accept_aio;
	struct mem_map	*map;
	struct frame_layout layout;
	uint64_t	 total_applied;	/* loop */
	uint64_t	 total_wire;	/* loop */

	struct dseal_ctx *seal;		/* sealed connections (dseal.h) */
};

static void	dlink_tx_cb(void *);
static void	dlink_rx_cb(void *);
static void	dlink_hs_cb(void *);
static void	dlink_refuse(struct dlink_conn *);
static void	dlink_rx_start(struct dlink_conn *, enum dlink_rx, uint8_t *,
		    size_t);

static void
dlink_wake(struct dlink *dl)
{
	uint64_t	one = 1;

	if (write(dl->efd, &one, sizeof(one)) == -1) {
		/* a counter at its maximum still wakes the loop */
	}
}

/* Any thread: the first failure wins; the loop reports it. */
static void
dlink_fail(struct dlink *dl, int err, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void
dlink_fail(struct dlink *dl, int err, const char *fmt, ...)
{
	va_list	ap;

	pthread_mutex_lock(&dl->mtx);
	if (!dl->failed) {
		dl->failed = 1;
		dl->fail_err = err;
		va_start(ap, fmt);
		vsnprintf(dl->fail_reason, sizeof(dl->fail_reason), fmt, ap);
		va_end(ap);
	}
	pthread_mutex_unlock(&dl->mtx);
	dlink_wake(dl);
}

static int
dlink_nng_errno(int rv)
{
	switch (rv) {
	case NNG_ECLOSED:
	case NNG_ECONNSHUT:
		return (-EPIPE);
	case NNG_ECONNRESET:
		return (-ECONNRESET);
	case NNG_ECONNREFUSED:
		return (-ECONNREFUSED);
	case NNG_ENOMEM:
		return (-ENOMEM);
	case NNG_ETIMEDOUT:
		return (-ETIMEDOUT);
	default:
		return ((rv & NNG_ESYSERR) ? -(rv & ~NNG_ESYSERR) : -EIO);
	}
}

/* Set up to 4 iov entries from the current segment on. */
static unsigned
dlink_iov(struct dlink_conn *c, nng_iov *iov)
{
	unsigned	i, n = 0;
	size_t		off = c->cur_off;

	for (i = c->cur_i; i < c->cur_n && n < DLINK_IOV_MAX; i++) {
		iov[n].iov_buf = c->cur[i].p + off;
		iov[n].iov_len = c->cur[i].len - off;
		off = 0;
		n++;
	}
	return (n);
}

/* Move past n bytes; 1 when every segment is done. */
static int
dlink_advance(struct dlink_conn *c, size_t n)
{
	size_t	left;

	while (n != 0 && c->cur_i < c->cur_n) {
		left = c->cur[c->cur_i].len - c->cur_off;
		if (n < left) {
			c->cur_off += n;
			return (0);
		}
		n -= left;
		c->cur_i++;
		c->cur_off = 0;
	}
	while (c->cur_i < c->cur_n && c->cur[c->cur_i].len == 0)
		c->cur_i++;
	return (c->cur_i == c->cur_n);
}

static void
dlink_io(struct dlink_conn *c, int send)
{
	nng_iov		iov[DLINK_IOV_MAX];
	unsigned	n;

	n = dlink_iov(c, iov);
	if (nng_aio_set_iov(c->aio, n, iov) != 0) {
		dlink_fail(c->dl, -EINVAL, "data connection %u: cannot set "
		    "up the transfer", c->idx);
		return;
	}
	if (send)
		nng_stream_send(c->st, c->aio);
	else
		nng_stream_recv(c->st, c->aio);
}

/* ------------------------------------------------------------ source */

/*
 * Start writing what dlink_tx_next() chose (nng's thread or the loop,
 * the connection's own). On a sealed connection its segments, the
 * header (or greeting) first, become two records in the connection's
 * one buffer (dseal.h): one write.
 */
static void
dlink_tx_io(struct dlink_conn *c)
{
	size_t		len = DSEAL_LEN + 2 * DSEAL_TAG, n, payload = 0;
	unsigned	i;

	if (c->ds == NULL) {
		dlink_io(c, 1);
		return;
	}
	for (i = 1; i < c->cur_n; i++)
		payload += c->cur[i].len;
	len += c->cur[0].len + payload;
	if (len > c->scap) {
		free(c->sbuf);
		c->scap = MAX(len, (size_t)DLINK_HDR_BUF + (1u << 20));
		c->sbuf = xmalloc(c->scap);
	}
	n = dseal_seal_header(c->ds, c->cur[0].p, c->cur[0].len, c->sbuf);
	/* a payload record exactly when the destination expects one */
	if (payload > 0)
		n += dseal_seal_payload(c->ds, c->cur + 1, c->cur_n - 1,
		    c->sbuf + n);
	c->sseg.p = c->sbuf;
	c->sseg.len = n;
	c->cur = &c->sseg;
	c->cur_n = 1;
	dlink_io(c, 1);
}

/* The next thing to write: the greeting, then queued slots. mtx held. */
static int
dlink_tx_next(struct dlink_conn *c)
{
	struct dlink_slot	*sl;

	if (c->sending || atomic_load(&c->dl->closing))
		return (0);
	if (!c->hello_done) {
		c->cur = &c->hello_seg;
		c->cur_n = 1;
	} else if (c->completed != c->submitted) {
		sl = &c->slots[c->completed % DLINK_SLOTS];
		c->cur = sl->segs;
		c->cur_n = sl->nseg;
	} else
		return (0);
	c->cur_i = 0;
	c->cur_off = 0;
	c->sending = 1;
	return (1);
}

static void
dlink_tx_cb(void *arg)
{
	struct dlink_conn	*c = arg;
	struct dlink		*dl = c->dl;
	int			 rv, more;

	if ((rv = nng_aio_result(c->aio)) != 0) {
		if (!atomic_load(&dl->closing))
			dlink_fail(dl, dlink_nng_errno(rv), "data connection "
			    "%u to %s: send failed: %s", c->idx, dl->url,
			    nng_strerror(rv));
		return;
	}
	if (!dlink_advance(c, nng_aio_count(c->aio))) {
		dlink_io(c, 1);		/* a short write: the rest */
		return;
	}
	pthread_mutex_lock(&dl->mtx);
	if (!c->hello_done)
		c->hello_done = 1;
	else
		c->completed++;
	c->sending = 0;
	more = dlink_tx_next(c);
	pthread_mutex_unlock(&dl->mtx);
	dlink_wake(dl);
	if (more)
		dlink_tx_io(c);
}

/* A source's connection is up (and sealed, if it is): the greeting. */
static void
dlink_tx_up(struct dlink_conn *c)
{
	struct dlink	*dl = c->dl;
	int		 more;

	pthread_mutex_lock(&dl->mtx);
	dl->up++;
	more = dlink_tx_next(c);	/* the greeting */
	pthread_mutex_unlock(&dl->mtx);
	dlink_wake(dl);
	if (more)
		dlink_tx_io(c);
}

/* ------------------------------------------------------------ sealed */

static void
dlink_hs_io(struct dlink_conn *c, enum dlink_hs_op op, size_t len)
{
	nng_iov	iov;

	c->hs_op = op;
	c->hs_len = len;
	iov.iov_buf = c->hsbuf + c->hs_off;
	iov.iov_len = len - c->hs_off;
	if (nng_aio_set_iov(c->hs_aio, 1, &iov) != 0)
		fatalx("%s: one iov refused", __func__);
	if (op == HS_SEND || (op == HS_READY && !c->dl->source))
		nng_stream_send(c->st, c->hs_aio);
	else
		nng_stream_recv(c->st, c->hs_aio);
}

/*
 * A handshake that cannot go on: the source's link fails with why (the
 * job says it); the destination closes the connection (a stranger's, or
 * a source it does not trust) and counts it refused.
 */
static void
dlink_hs_fail(struct dlink_conn *c, int err, const char *why)
{
	struct dlink	*dl = c->dl;

	if (dl->source) {
		dlink_fail(dl, err, "data connection %u to %s: %s", c->idx,
		    dl->url, why);
		return;
	}
	log_info("%s: a data connection: %s", dl->url, why);
	dlink_refuse(c);
}

/* Send what the handshake wants sent, then act on its state. */
static void
dlink_hs_flush(struct dlink_conn *c)
{
	size_t	n;

	c->hs_off = 0;
	if ((n = dseal_hs_out(c->ds, c->hsbuf, DSEAL_HS_BUF)) > 0) {
		dlink_hs_io(c, HS_SEND, n);
		return;
	}
	switch (c->hs_state) {
	case DSEAL_HS_MORE:
		dlink_hs_io(c, HS_RECV, DSEAL_HS_BUF);
		return;
	case DSEAL_HS_FAILED:
		dlink_hs_fail(c, -EACCES, c->hs_err);
		return;
	case DSEAL_HS_DONE:
		break;
	}
	/* the source waits for the ready record: nothing may precede it */
	if (dseal_hs_extra(c->ds) != 0) {
		dlink_hs_fail(c, -EPROTO, "bytes came before the TLS "
		    "handshake's end was answered");
		return;
	}
	if (!c->dl->source)
		dseal_ready(c->ds, c->hsbuf);
	dlink_hs_io(c, HS_READY, DSEAL_READY);
}

static void
dlink_hs_step(struct dlink_conn *c, const uint8_t *in, size_t len)
{
	c->hs_state = dseal_handshake(c->ds, in, len, c->hs_err,
	    sizeof(c->hs_err));
	dlink_hs_flush(c);
}

/* Both ends of a sealed connection begin here, once TCP is up. */
static int
dlink_hs_start(struct dlink_conn *c)
{
	if (nng_aio_alloc(&c->hs_aio, dlink_hs_cb, c) != 0)
		return (-1);
	c->hsbuf = xmalloc(DSEAL_HS_BUF);
	c->ds = dseal_new(c->dl->seal);
	dlink_hs_step(c, NULL, 0);
	return (0);
}

static void
dlink_hs_cb(void *arg)
{
	struct dlink_conn	*c = arg;
	struct dlink		*dl = c->dl;
	char			 why[300];
	int			 rv;

	if ((rv = nng_aio_result(c->hs_aio)) != 0) {
		if (atomic_load(&dl->closing))
			return;
		if (c->hs_op == HS_READY && dl->source)
			snprintf(why, sizeof(why), "the destination ended the "
			    "connection after the TLS handshake instead of "
			    "answering it (%s): it refused this host's "
			    "certificate", nng_strerror(rv));
		else
			snprintf(why, sizeof(why), "TLS handshake: %s",
			    nng_strerror(rv));
		dlink_hs_fail(c, dlink_nng_errno(rv), why);
		return;
	}
	switch (c->hs_op) {
	case HS_SEND:
		c->hs_off += nng_aio_count(c->hs_aio);
		if (c->hs_off < c->hs_len)
			dlink_hs_io(c, HS_SEND, c->hs_len);
		else
			dlink_hs_flush(c);	/* more, or the state */
		return;
	case HS_RECV:
		dlink_hs_step(c, c->hsbuf, nng_aio_count(c->hs_aio));
		return;
	case HS_READY:
		c->hs_off += nng_aio_count(c->hs_aio);
		if (c->hs_off < DSEAL_READY) {
			dlink_hs_io(c, HS_READY, DSEAL_READY);
			return;
		}
		break;
	}
	if (!dl->source) {
		dlink_rx_start(c, RX_PREFIX, c->hbuf, DSEAL_LEN);
		return;
	}
	if (dseal_ready_ok(c->ds, c->hsbuf) != 0) {
		dlink_hs_fail(c, -EACCES, dseal_tls_record(c->hsbuf) ?
		    "the destination answered the TLS handshake with an "
		    "alert: it refused this host's certificate" :
		    "the destination's answer to the TLS handshake is not "
		    "its sealed ready record");
		return;
	}
	dlink_tx_up(c);
}

static void
dlink_dial_cb(void *arg)
{
	struct dlink_conn	*c = arg;
	struct dlink		*dl = c->dl;
	int			 rv;

	if ((rv = nng_aio_result(c->dial_aio)) != 0) {
		if (!atomic_load(&dl->closing))
			dlink_fail(dl, dlink_nng_errno(rv), "data connection "
			    "%u: cannot connect to %s: %s", c->idx, dl->url,
			    nng_strerror(rv));
		return;
	}
	c->st = nng_aio_get_output(c->dial_aio, 0);
	if (dl->seal == NULL)
		dlink_tx_up(c);
	else if (dlink_hs_start(c) != 0)
		dlink_fail(dl, -ENOMEM, "data connection %u: no aio", c->idx);
}

static int
dlink_pack(const StreamFrame *f, uint8_t *buf, size_t buflen)
{
	size_t	n;

	n = frame_encode_header(f, buf, buflen);
	return (n == 0 ? -EMSGSIZE : (int)n);
}

unsigned
dlink_stripe_conn(uint32_t region, uint64_t page, unsigned page_shift,
    unsigned nconns)
{
	uint64_t	sp = MAX(DLINK_STRIPE_BYTES >> page_shift, 1);

	return ((unsigned)((page / sp + region) % nconns));
}

/* Segments after the header: long runs in place, short ones staged. */
static void
dlink_segs_raw(struct dlink_slot *sl, const struct mem_region *r,
    const StreamPageBatch *b, size_t budget)
{
	struct dlink_seg	*sg;
	size_t			 len, stage_off = 0;
	uint32_t		 i;

	sl->nseg = 1;
	for (i = 0; i < b->n_runs; i++) {
		if (b->runs[i]->zero)
			continue;
		len = (size_t)b->runs[i]->count * r->page_size;
		sg = &sl->segs[sl->nseg - 1];
		if (len >= DLINK_DIRECT_MIN) {
			sg = &sl->segs[sl->nseg++];
			sg->p = r->base + (b->runs[i]->first << r->page_shift);
			sg->len = len;
			continue;
		}
		if (sl->stage == NULL)
			sl->stage = xmalloc(budget);
		VMIG_ASSERT(stage_off + len <= budget);
		memcpy(sl->stage + stage_off, r->base + (b->runs[i]->first <<
		    r->page_shift), len);
		if (sl->nseg == 1 || sg->p + sg->len != sl->stage + stage_off) {
			sg = &sl->segs[sl->nseg++];
			sg->p = sl->stage + stage_off;
			sg->len = 0;
		}
		sg->len += len;
		stage_off += len;
	}
}

/*
 * The link's rate: wire bytes the destination acknowledged per second
 * while some were unacknowledged (an idle source is not a slow link;
 * the time sends took is no measure, the socket buffers take megabytes
 * at once). 0: too little acknowledged yet to tell.
 */
static uint64_t
dlink_link_bps(const struct dlink *dl)
{
	uint64_t	ns, wire;

	ns = dl->pipe_ns + (dl->sent != dl->acked ? now_ns() -
	    dl->pipe_since : 0);
	/* the acks count the runs' bytes: the wire's share of them */
	wire = dl->sent == 0 ? 0 : (uint64_t)((double)dl->acked *
	    (double)dl->wire / (double)dl->sent);
	if (wire < CZ_LINK_MIN_BYTES || ns == 0)
		return (0);
	return ((uint64_t)((double)wire * 1e9 / (double)ns));
}

/* The policy's codec for a batch of r (compress.h). */
static uint32_t
dlink_codec(struct dlink *dl, const struct mem_region *r)
{
	struct cz_policy_in	 in;
	uint32_t		 n;

	if (dl->cz_mode == CZ_MODE_OFF || dl->cz_codecs == 0)
		return (CZ_NONE);
	if (r->index >= dl->nrskip) {
		n = r->index + 1;
		dl->rskip = xreallocarray(dl->rskip, n, sizeof(*dl->rskip));
		memset(dl->rskip + dl->nrskip, 0, (n - dl->nrskip) *
		    sizeof(*dl->rskip));
		dl->nrskip = n;
	}
	memset(&in, 0, sizeof(in));
	in.mode = dl->cz_mode;
	in.codecs = dl->cz_codecs;
	in.link_bps = dlink_link_bps(dl);
	in.comp_bps = dl->cz_bps;
	in.raw_run = dl->cz_raw_run;
	in.region_skip = dl->rskip[r->index];
	if (dl->rskip[r->index] != 0)
		dl->rskip[r->index]--;
	n = cz_decide(&in);
	if (n != dl->cz_last && in.region_skip == 0)
		log_debug("%s: %s: %s, was %s (link %llu B/s, %s %llu B/s)",
		    __func__, dl->url, cz_codec_name(n),
		    cz_codec_name(dl->cz_last),
		    (unsigned long long)in.link_bps, cz_mode_name(in.mode),
		    (unsigned long long)in.comp_bps);
	if (in.region_skip == 0) {
		dl->cz_last = n;
		dl->cz_raw_run = n == CZ_NONE ? dl->cz_raw_run + 1 : 0;
	}
	return (n);
}

/*
 * Does the batch look compressible? A page at each quarter of its data
 * (cz_sample): one that shrinks is enough to try the block, which
 * decides; none: likely random (a few random pages among compressible
 * ones must not cost the region its compression).
 */
static int
dlink_sample(const struct mem_region *r, const StreamPageBatch *b,
    size_t bytes)
{
	size_t		 off = 0, len, want = 0;
	uint32_t	 i;
	unsigned	 k = 0;

	for (i = 0; i < b->n_runs && k < DLINK_SAMPLES; i++) {
		if (b->runs[i]->zero)
			continue;
		len = (size_t)b->runs[i]->count * r->page_size;
		while (k < DLINK_SAMPLES && want < off + len) {
			if (cz_sample(r->base + (b->runs[i]->first <<
			    r->page_shift) + (want - off) / r->page_size *
			    r->page_size, r->page_size))
				return (1);
			want = bytes / DLINK_SAMPLES * ++k;
		}
		off += len;
	}
	return (0);
}

/*
 * Compress the batch's data runs into one block: the segment after the
 * header, 1. 0: they do not compress (a page sample first, then the
 * block), the region goes raw for a while and the segments are raw.
 */
static int
dlink_segs_z(struct dlink *dl, struct dlink_slot *sl, uint32_t codec,
    const struct mem_region *r, const StreamPageBatch *b, size_t bytes,
    size_t budget, size_t *wire)
{
	size_t		 off = 0, len, n;
	uint64_t	 t0;
	uint32_t	 i;

	if (!dlink_sample(r, b, bytes))
		goto raw;
	/* buffers touched before the clock: a first touch is no codec's */
	if (sl->stage == NULL) {
		sl->stage = xmalloc(budget);
		memset(sl->stage, 0, budget);
	}
	if (sl->zbuf == NULL) {
		/* a batch is at most the budget: what either codec needs */
		len = MIN(budget, CZ_BATCH_MAX);
		len = MAX(cz_bound(CZ_ZSTD, len), cz_bound(CZ_LZ4, len));
		sl->zbuf = xmalloc(len);
		memset(sl->zbuf, 0, len);
	}
	t0 = now_ns();
	for (i = 0; i < b->n_runs; i++) {
		if (b->runs[i]->zero)
			continue;
		len = (size_t)b->runs[i]->count * r->page_size;
		memcpy(sl->stage + off, r->base + (b->runs[i]->first <<
		    r->page_shift), len);
		off += len;
	}
	n = cz_compress(dl->cz, codec, sl->stage, bytes, sl->zbuf,
	    cz_bound(codec, bytes));
	/* the recent batches weigh most: data and load change */
	t0 = (uint64_t)((double)bytes * 1e9 / (double)MAX(now_ns() - t0, 1));
	dl->cz_bps = dl->cz_bps == 0 ? t0 : (3 * dl->cz_bps + t0) / 4;
	if (n == 0) {
		/* staged already: one segment of the raw bytes */
		sl->segs[1].p = sl->stage;
		sl->segs[1].len = bytes;
		sl->nseg = 2;
		goto miss;
	}
	sl->segs[1].p = sl->zbuf;
	sl->segs[1].len = n;
	sl->nseg = 2;
	*wire = n;
	dl->z_in += bytes;
	dl->z_out += n;
	return (1);
raw:
	dlink_segs_raw(sl, r, b, budget);
miss:
	dl->rskip[r->index] = CZ_SKIP_BATCHES;
	*wire = bytes;
	return (0);
}

int
dlink_send(struct dlink *dl, struct xfer_src *xs, struct mem_region *r,
    uint64_t *cursor, const struct pageset *skip, uint32_t iteration,
    struct xfer_result *res)
{
	StreamFrame		 f = VMIG__STREAM__V1__FRAME__INIT;
	StreamPageBatch		 b = VMIG__STREAM__V1__PAGE_BATCH__INIT;
	struct dlink_conn	*c;
	struct dlink_slot	*sl;
	uint64_t		 probe = *cursor, first, count, stripe, sp;
	size_t			 budget, wire = 0;
	uint32_t		 codec;
	int			 n, free_slot, more;

	memset(res, 0, sizeof(*res));
	pthread_mutex_lock(&dl->mtx);
	n = dl->failed;
	free_slot = dl->up < dl->nconns;
	pthread_mutex_unlock(&dl->mtx);
	if (n)
		return (-EAGAIN);	/* failed() tells the user */
	if (free_slot || atomic_load(&dl->closing))
		return (-EPIPE);
	if (!pageset_next_run_mask(&r->dirty, skip, &probe, 1, &first,
	    &count)) {
		*cursor = r->npages;
		res->end = 1;
		return (0);
	}
	budget = xs->budget - xs->budget % r->page_size;
	if (budget == 0)
		budget = r->page_size;
	/* the stripe decides the connection: a page always takes the same */
	sp = MAX(DLINK_STRIPE_BYTES >> r->page_shift, 1);
	stripe = first / sp;
	c = dl->conns[dlink_stripe_conn(r->index, first, r->page_shift,
	    dl->nconns)];
	pthread_mutex_lock(&dl->mtx);
	free_slot = c->submitted - c->completed < DLINK_SLOTS;
	pthread_mutex_unlock(&dl->mtx);
	if (!free_slot || (dl->window != 0 && dl->sent != dl->acked &&
	    dl->sent - dl->acked + budget > dl->window)) {
		dl->want_writable = 1;
		return (-EAGAIN);
	}
	sl = &c->slots[c->submitted % DLINK_SLOTS];

	xs->limit = (stripe + 1) * sp;
	xfer_gather(xs, r, cursor, skip, NULL, budget, &b, res);
	xs->limit = 0;
	if (res->pages == 0)
		return (0);

	codec = res->bytes != 0 && res->bytes <= CZ_BATCH_MAX ?
	    dlink_codec(dl, r) : CZ_NONE;
	if (codec != CZ_NONE && dlink_segs_z(dl, sl, codec, r, &b,
	    (size_t)res->bytes, budget, &wire)) {
		b.codec = codec;
		b.wire_bytes = wire;
	} else if (codec == CZ_NONE) {
		dlink_segs_raw(sl, r, &b, budget);
		wire = (size_t)res->bytes;
	}
	b.seq = ++c->seq;
	b.iteration = iteration;
	b.payload_bytes = res->bytes;
	f.kind_case = VMIG__STREAM__V1__FRAME__KIND_PAGES;
	f.pages = &b;
	if ((n = dlink_pack(&f, sl->hdr, DLINK_HDR_BUF)) < 0)
		fatalx("%s: a batch header over %d bytes", __func__,
		    FRAME_HDR_MAX);
	sl->segs[0].p = sl->hdr;
	sl->segs[0].len = (size_t)n;
	res->wire = wire;

	pthread_mutex_lock(&dl->mtx);
	c->submitted++;
	more = dlink_tx_next(c);
	pthread_mutex_unlock(&dl->mtx);
	if (more)
		dlink_tx_io(c);
	if (dl->sent == dl->acked && res->bytes != 0)
		dl->pipe_since = now_ns();
	dl->sent += res->bytes;
	dl->wire += wire;
	return (0);
}

void
dlink_set_compression(struct dlink *dl, int mode, uint32_t codecs)
{
	dl->cz_mode = mode;
	dl->cz_codecs = codecs & CZ_CODECS;
	if (dl->cz == NULL && mode != CZ_MODE_OFF)
		dl->cz = cz_ctx_new();
}

void
dlink_compressed(const struct dlink *dl, uint64_t *in, uint64_t *out)
{
	*in = dl == NULL ? 0 : dl->z_in;
	*out = dl == NULL ? 0 : dl->z_out;
}

int
dlink_acked(struct dlink *dl, uint64_t total)
{
	if (total < dl->acked || total > dl->sent)
		return (-EPROTO);
	if (total == dl->sent && dl->acked != dl->sent)
		dl->pipe_ns += now_ns() - dl->pipe_since;	/* drained */
	dl->acked = total;
	if (dl->want_writable)
		dlink_wake(dl);
	return (0);
}

uint64_t
dlink_unacked(const struct dlink *dl)
{
	return (dl == NULL ? 0 : dl->sent - dl->acked);
}

void
dlink_set_window(struct dlink *dl, uint64_t bytes)
{
	dl->window = bytes;
	if (dl->want_writable)
		dlink_wake(dl);
}

unsigned
dlink_conns(const struct dlink *dl)
{
	return (dl == NULL ? 0 : dl->nconns);
}

uint64_t
dlink_bytes(const struct dlink *dl)
{
	return (dl->source ? dl->wire : dl->total_wire);
}

/* ------------------------------------------------------------ destination */

/* A connection that has not shown the token is closed; mtx not held. */
static void
dlink_refuse(struct dlink_conn *c)
{
	struct dlink	*dl = c->dl;

	nng_stream_close(c->st);
	pthread_mutex_lock(&dl->mtx);
	dl->refused++;
	pthread_mutex_unlock(&dl->mtx);
	dlink_wake(dl);
}

static void
dlink_rx_start(struct dlink_conn *c, enum dlink_rx rx, uint8_t *p, size_t len)
{
	c->rx = rx;
	c->hello_seg.p = p;
	c->hello_seg.len = len;
	c->cur = &c->hello_seg;
	c->cur_n = 1;
	c->cur_i = 0;
	c->cur_off = 0;
	dlink_io(c, 0);
}

static int
dlink_token_ok(const struct dlink *dl, const ProtobufCBinaryData *t)
{
	uint8_t	diff = 0;
	size_t	i;

	if (t->len != dl->tokenlen)
		return (0);
	for (i = 0; i < t->len; i++)	/* constant time: a secret */
		diff |= t->data[i] ^ dl->token[i];
	return (diff == 0);
}

/*
 * A batch's codec and lengths (after frame_check_pages accepted its runs
 * and payload_bytes): a codec we decode, and a block shorter than the
 * runs it covers, which are at most CZ_BATCH_MAX. 0, or -1 (failed).
 */
static int
dlink_rx_codec(struct dlink_conn *c, const StreamPageBatch *pb)
{
	struct dlink	*dl = c->dl;

	c->rx_codec = pb->codec;
	if (pb->codec == CZ_NONE && pb->wire_bytes == 0)
		return (0);
	if (pb->codec >= 32 || !(CZ_CODECS & (1u << pb->codec))) {
		dlink_fail(dl, -EPROTO, "data connection %u: page batch %llu "
		    "of region %u: codec %u is unknown (1: lz4, 2: zstd)",
		    c->idx, (unsigned long long)pb->seq, pb->region, pb->codec);
		return (-1);
	}
	if (pb->payload_bytes == 0 || pb->payload_bytes > CZ_BATCH_MAX ||
	    pb->wire_bytes == 0 || pb->wire_bytes >= pb->payload_bytes) {
		dlink_fail(dl, -EPROTO, "data connection %u: page batch %llu "
		    "of region %u: a %s block of %llu bytes for %llu bytes of "
		    "runs (it must be shorter than its runs, which are at "
		    "most %u)", c->idx, (unsigned long long)pb->seq,
		    pb->region, cz_codec_name(pb->codec),
		    (unsigned long long)pb->wire_bytes,
		    (unsigned long long)pb->payload_bytes, CZ_BATCH_MAX);
		return (-1);
	}
	if (c->zbuf == NULL) {
		c->zbuf = xmalloc(CZ_BATCH_MAX);
		c->zraw = xmalloc(CZ_BATCH_MAX);
		c->cz = cz_ctx_new();
	}
	return (0);
}

/*
 * A header arrived: check it, then set up the read of its payload into
 * guest memory. 0: the payload next (rx is RX_PAYLOAD); 1: it was the
 * greeting, the next frame's prefix comes; -1: the connection stops
 * (failed or refused). It never submits a read itself: the caller does,
 * as its last act, because once a read is submitted its completion can
 * run on another thread and own the connection's state.
 */
static int
dlink_rx_header(struct dlink_conn *c)
{
	struct dlink		*dl = c->dl;
	const StreamPageBatch	*pb;
	const StreamPageRun	*run;
	struct mem_region	*r;
	char			 err[256];
	size_t			 i;
	int			 rc;

	rc = frame_decode(&c->frame, c->hbuf, c->need, 0, err, sizeof(err));
	if (rc == 0 && !c->authed) {
		/* nothing but a greeting with the token counts first */
		if (c->frame.hdr->kind_case !=
		    VMIG__STREAM__V1__FRAME__KIND_DATA_HELLO ||
		    !dlink_token_ok(dl, &c->frame.hdr->data_hello->token)) {
			frame_clear(&c->frame);
			dlink_refuse(c);
			return (-1);
		}
		frame_clear(&c->frame);
		c->authed = 1;
		return (1);
	}
	if (rc != 0) {
		dlink_fail(dl, -EPROTO, "data connection %u: %s", c->idx, err);
		return (-1);
	}
	if (c->frame.hdr->kind_case != VMIG__STREAM__V1__FRAME__KIND_PAGES) {
		dlink_fail(dl, -EPROTO, "data connection %u: a %s frame, only "
		    "page batches come here", c->idx,
		    frame_kind_name(c->frame.hdr->kind_case));
		return (-1);
	}
	pb = c->frame.hdr->pages;
	if (pb->seq != c->rx_seq + 1) {
		dlink_fail(dl, -EPROTO, "data connection %u: page batch %llu "
		    "after %llu", c->idx, (unsigned long long)pb->seq,
		    (unsigned long long)c->rx_seq);
		return (-1);
	}
	/* every run inside the region, the payload exactly the runs' */
	if (pb->payload_bytes > SIZE_MAX ||
	    frame_check_pages(&dl->layout, pb, (size_t)pb->payload_bytes,
	    err, sizeof(err)) != 0) {
		dlink_fail(dl, -EPROTO, "data connection %u: %s", c->idx, err);
		return (-1);
	}
	if (dlink_rx_codec(c, pb) != 0)
		return (-1);
	c->rx_seq = pb->seq;
	r = &dl->map->regions[pb->region];
	memset(&c->part, 0, sizeof(c->part));
	c->cur_n = 0;
	for (i = 0; i < pb->n_runs; i++) {
		run = pb->runs[i];
		c->part.pages += run->count;
		if (run->zero) {
			c->part.zero_pages += run->count;
			continue;
		}
		c->rsegs[c->cur_n].p = r->base + (run->first << r->page_shift);
		c->rsegs[c->cur_n].len = (size_t)run->count * r->page_size;
		c->cur_n++;
	}
	c->part.bytes = pb->payload_bytes;
	c->part.wire = pb->payload_bytes;
	if (c->rx_codec != CZ_NONE) {
		/* the block lands apart: guest memory gets it decoded */
		c->rsegs[0].p = c->zbuf;
		c->rsegs[0].len = (size_t)pb->wire_bytes;
		c->cur_n = 1;
		c->part.wire = pb->wire_bytes;
		c->part.z_in = pb->payload_bytes;
		c->part.z_out = pb->wire_bytes;
	}
	if (c->ds != NULL && c->cur_n != 0) {
		/* a sealed payload is one record: its tag follows the runs */
		c->rsegs[c->cur_n].p = c->tag;
		c->rsegs[c->cur_n].len = DSEAL_TAG;
		c->cur_n++;
	}
	c->part.iteration = pb->iteration;
	c->rx_batch = pb;
	c->rx = RX_PAYLOAD;
	c->cur = c->rsegs;
	c->cur_i = 0;
	c->cur_off = 0;
	return (0);
}

/*
 * A compressed batch's block is in: decode it apart, exactly the runs'
 * bytes, and only then copy it into the (validated) runs, so a corrupt
 * or lying block writes nothing into guest memory. 0, or -1 (failed).
 */
static int
dlink_rx_unpack(struct dlink_conn *c)
{
	const StreamPageBatch	*pb = c->rx_batch;
	struct mem_region	*r = &c->dl->map->regions[pb->region];
	char			 err[256];
	size_t			 i, off = 0, len;

	if (cz_decompress(c->cz, pb->codec, c->zbuf, (size_t)pb->wire_bytes,
	    c->zraw, (size_t)pb->payload_bytes, err, sizeof(err)) != 0) {
		dlink_fail(c->dl, -EPROTO, "data connection %u: page batch "
		    "%llu of region %u: %s", c->idx,
		    (unsigned long long)pb->seq, pb->region, err);
		return (-1);
	}
	for (i = 0; i < pb->n_runs; i++) {
		if (pb->runs[i]->zero)
			continue;
		len = (size_t)pb->runs[i]->count * r->page_size;
		memcpy(r->base + (pb->runs[i]->first << r->page_shift),
		    c->zraw + off, len);
		off += len;
	}
	return (0);
}

/* The payload is in: clear the zero runs, tell the loop. 0, or -1. */
static int
dlink_rx_done(struct dlink_conn *c)
{
	struct dlink		*dl = c->dl;
	const StreamPageBatch	*pb = c->rx_batch;
	struct mem_region	*r = &dl->map->regions[pb->region];
	uint8_t			*p;
	size_t			 i, ps = r->page_size;
	uint64_t		 k;

	if (c->rx_codec != CZ_NONE && dlink_rx_unpack(c) != 0)
		return (-1);

	for (i = 0; i < pb->n_runs; i++) {
		p = r->base + (pb->runs[i]->first << r->page_shift);
		if (!pb->runs[i]->zero) {
			/*
			 * The kernel wrote these pages; we read one byte of
			 * each now. Where a hypervisor fills page tables per
			 * mode on first touch (our test VMs: ~10 us a page),
			 * the verify digest would otherwise pay it for every
			 * page inside the downtime; on hardware this is one
			 * cached load per page.
			 */
			for (k = 0; k < pb->runs[i]->count; k++)
				(void)((volatile uint8_t *)p)[k * ps];
			continue;
		}
		/* a page that is zero already is left alone (no first touch) */
		for (k = 0; k < pb->runs[i]->count; k++, p += ps) {
			if (!page_is_zero(p, ps))
				memset(p, 0, ps);
		}
	}
	frame_clear(&c->frame);
	c->rx_batch = NULL;
	pthread_mutex_lock(&dl->mtx);
	dl->applied.batches++;
	dl->applied.pages += c->part.pages;
	dl->applied.zero_pages += c->part.zero_pages;
	dl->applied.bytes += c->part.bytes;
	dl->applied.wire += c->part.wire;
	dl->applied.z_in += c->part.z_in;
	dl->applied.z_out += c->part.z_out;
	if (c->part.iteration > dl->applied.iteration)
		dl->applied.iteration = c->part.iteration;
	pthread_mutex_unlock(&dl->mtx);
	dlink_wake(dl);
	return (0);
}

/*
 * Sealed: a header record's le32 length is in; read the record. Its
 * length is bounded before a byte of it is read.
 */
static void
dlink_rx_record(struct dlink_conn *c)
{
	uint32_t	n = get_le32(c->hbuf);

	if (n < FRAME_PREFIX + 1 + DSEAL_TAG || n > DLINK_HDR_BUF + DSEAL_TAG) {
		if (!c->authed) {
			dlink_refuse(c);
			return;
		}
		dlink_fail(c->dl, -EPROTO, "data connection %u: a header "
		    "record of %u bytes (%d to %d)", c->idx, n,
		    FRAME_PREFIX + 1 + DSEAL_TAG, DLINK_HDR_BUF + DSEAL_TAG);
		return;
	}
	c->need = n;
	dlink_rx_start(c, RX_HEADER, c->hbuf, n);
}

/*
 * Sealed: open the header record in place; its plaintext is the plain
 * path's le32 length and header, which must fill it exactly. 0, or -1
 * (refused or failed).
 */
static int
dlink_rx_open(struct dlink_conn *c)
{
	size_t		n = c->need - DSEAL_TAG;
	uint32_t	hlen;

	if (dseal_open_header(c->ds, c->hbuf, c->need) != 0) {
		if (!c->authed) {
			dlink_refuse(c);
			return (-1);
		}
		dlink_fail(c->dl, -EBADMSG, "data connection %u: a header "
		    "record that does not open (not sealed by the source in "
		    "this order, or altered on the way)", c->idx);
		return (-1);
	}
	hlen = get_le32(c->hbuf);
	if (hlen == 0 || (size_t)hlen + FRAME_PREFIX != n) {
		if (!c->authed) {	/* no token yet: not the job's to end */
			dlink_refuse(c);
			return (-1);
		}
		dlink_fail(c->dl, -EPROTO, "data connection %u: a header of %u "
		    "bytes in a record of %zu", c->idx, hlen, n);
		return (-1);
	}
	c->need = n;
	return (0);
}

static void
dlink_rx_cb(void *arg)
{
	struct dlink_conn	*c = arg;
	struct dlink		*dl = c->dl;
	uint32_t		 hlen;
	int			 rv, rc;

	if ((rv = nng_aio_result(c->aio)) != 0) {
		if (atomic_load(&dl->closing))
			return;
		/* between frames a source may close; inside one it broke */
		if (c->authed && (c->rx != RX_PREFIX || c->cur_off != 0 ||
		    c->cur_i != 0))
			dlink_fail(dl, dlink_nng_errno(rv), "data connection "
			    "%u ended inside a frame (%s)", c->idx,
			    c->rx == RX_PAYLOAD ? "in a page batch's payload" :
			    "in its header");
		nng_stream_close(c->st);
		return;
	}
	if (!dlink_advance(c, nng_aio_count(c->aio))) {
		dlink_io(c, 0);		/* a short read: the rest */
		return;
	}
	switch (c->rx) {
	case RX_PREFIX:
		if (c->ds != NULL) {
			dlink_rx_record(c);
			return;
		}
		hlen = get_le32(c->hbuf);
		if (hlen == 0 || hlen > FRAME_HDR_MAX) {
			if (!c->authed) {
				dlink_refuse(c);
				return;
			}
			dlink_fail(dl, -EPROTO, "data connection %u: a header "
			    "of %u bytes (the limit is %d)", c->idx, hlen,
			    FRAME_HDR_MAX);
			return;
		}
		c->need = FRAME_PREFIX + hlen;
		dlink_rx_start(c, RX_HEADER, c->hbuf + FRAME_PREFIX, hlen);
		return;
	case RX_HEADER:
		if (c->ds != NULL && dlink_rx_open(c) != 0)
			return;
		if ((rc = dlink_rx_header(c)) < 0)
			return;
		if (rc == 1) {
			dlink_rx_start(c, RX_PREFIX, c->hbuf, FRAME_PREFIX);
			return;
		}
		if (c->cur_n != 0) {
			dlink_io(c, 0);
			return;
		}
		break;		/* only zero runs: done */
	case RX_PAYLOAD:
		if (c->ds != NULL && dseal_open_payload(c->ds, c->rsegs,
		    c->cur_n - 1, c->tag) != 0) {
			dlink_fail(dl, -EBADMSG, "data connection %u: page "
			    "batch %llu: its sealed payload does not open (not "
			    "sealed by the source in this order, or altered "
			    "on the way)", c->idx,
			    (unsigned long long)c->rx_batch->seq);
			return;
		}
		break;
	}
	if (dlink_rx_done(c) != 0)
		return;
	dlink_rx_start(c, RX_PREFIX, c->hbuf, FRAME_PREFIX);
}

static void
dlink_accept_cb(void *arg)
{
	struct dlink		*dl = arg;
	struct dlink_conn	*c;
	nng_stream		*st;
	int			 rv;

	if ((rv = nng_aio_result(dl->accept_aio)) != 0) {
		if (!atomic_load(&dl->closing))
			log_debug("%s: %s: accept: %s", __func__, dl->url,
			    nng_strerror(rv));
		return;
	}
	st = nng_aio_get_output(dl->accept_aio, 0);
	pthread_mutex_lock(&dl->mtx);
	if (atomic_load(&dl->closing) || dl->nconns == DLINK_ACCEPT_MAX) {
		pthread_mutex_unlock(&dl->mtx);
		nng_stream_free(st);
		return;	/* enough: no more accepts */
	}
	c = xcalloc(1, sizeof(*c));
	c->dl = dl;
	c->idx = dl->nconns;
	c->st = st;
	c->hbuf = xmalloc(DLINK_HDR_BUF + DSEAL_TAG);
	c->rsegs = xcalloc(FRAME_RUNS_MAX + 1, sizeof(*c->rsegs));
	frame_init(&c->frame);
	if (nng_aio_alloc(&c->aio, dlink_rx_cb, c) != 0) {
		pthread_mutex_unlock(&dl->mtx);
		nng_stream_free(st);
		free(c->hbuf);
		free(c->rsegs);
		free(c);
		return;
	}
	dl->conns[dl->nconns++] = c;
	pthread_mutex_unlock(&dl->mtx);
	/* the next accept first: once its I/O starts, c is its callbacks' */
	nng_stream_listener_accept(dl->listener, dl->accept_aio);
	if (dl->seal == NULL)
		dlink_rx_start(c, RX_PREFIX, c->hbuf, FRAME_PREFIX);
	else if (dlink_hs_start(c) != 0)
		dlink_refuse(c);
}

/* ------------------------------------------------------------ loop */

static void
dlink_event_cb(evutil_socket_t fd, short what, void *arg)
{
	struct dlink		*dl = arg;
	struct dlink_applied	 a;
	char			 reason[384];
	uint64_t		 v;
	unsigned		 refused = 0;
	int			 fail = 0, err = 0, connected = 0, writable = 0;
	unsigned		 i;

	if (read(dl->efd, &v, sizeof(v)) == -1 && errno != EAGAIN)
		log_warn("%s: read eventfd", __func__);
	pthread_mutex_lock(&dl->mtx);
	a = dl->applied;
	memset(&dl->applied, 0, sizeof(dl->applied));
	if (dl->failed && !dl->fail_told) {
		dl->fail_told = fail = 1;
		err = dl->fail_err;
		strlcpy_v(reason, dl->fail_reason, sizeof(reason));
	}
	if (dl->source && !dl->connected_told && dl->up == dl->nconns) {
		dl->connected_told = connected = 1;
	}
	if (dl->refused != dl->refused_told) {
		refused = dl->refused - dl->refused_told;
		dl->refused_told = dl->refused;
	}
	if (dl->source && dl->want_writable) {
		for (i = 0; i < dl->nconns; i++) {
			if (dl->conns[i]->submitted - dl->conns[i]->completed <
			    DLINK_SLOTS)
				writable = 1;
		}
	}
	pthread_mutex_unlock(&dl->mtx);

	if (refused != 0)
		log_warnx("%s: refused %u data connection(s) that did not "
		    "%sshow the job's token", dl->url, refused, dl->seal !=
		    NULL ? "complete the TLS handshake or " : "");
	if (fail) {
		if (dl->ops.failed != NULL)
			dl->ops.failed(dl->arg, err, reason);
		return;	/* the user closes us */
	}
	if (a.batches != 0) {
		dl->total_applied += a.bytes;
		dl->total_wire += a.wire;
		dl->z_in += a.z_in;
		dl->z_out += a.z_out;
		if (dl->ops.applied != NULL)
			dl->ops.applied(dl->arg, &a);
		return;	/* the callback may have closed us */
	}
	if (connected && dl->ops.connected != NULL) {
		dl->ops.connected(dl->arg);
		return;
	}
	if (writable && (dl->window == 0 || dl->sent == dl->acked ||
	    dl->sent - dl->acked < dl->window)) {
		dl->want_writable = 0;
		if (dl->ops.writable != NULL)
			dl->ops.writable(dl->arg);
	}
}

static int
dlink_new(struct event_base *base, const char *url,
    const uint8_t *token, size_t tokenlen, const struct dlink_ops *ops,
    void *arg, struct dlink **dlp, char *err, size_t errlen)
{
	struct dlink	*dl;

	*dlp = NULL;
	if (tokenlen > DLINK_TOKEN_MAX)
		return (err_set(err, errlen, -EINVAL, "a token of %zu bytes, "
		    "over %d", tokenlen, DLINK_TOKEN_MAX));
	dl = xcalloc(1, sizeof(*dl));
	dl->base = base;
	dl->ops = *ops;
	dl->arg = arg;
	strlcpy_v(dl->url, url, sizeof(dl->url));
	memcpy(dl->token, token, tokenlen);
	dl->tokenlen = tokenlen;
	pthread_mutex_init(&dl->mtx, NULL);
	if ((dl->efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)) == -1) {
		free(dl);
		return (err_set(err, errlen, -errno, "data link %s: eventfd: "
		    "%s", url, strerror(errno)));
	}
	dl->ev = event_new(base, dl->efd, EV_READ | EV_PERSIST,
	    dlink_event_cb, dl);
	if (dl->ev == NULL) {
		close(dl->efd);
		free(dl);
		return (err_set(err, errlen, -ENOMEM, "data link %s: no "
		    "event", url));
	}
	event_add(dl->ev, NULL);
	*dlp = dl;
	return (0);
}

int
dlink_listen_url(const char *bind_url, char *out, size_t outlen)
{
	const char	*host, *end, *scheme;
	size_t		 n;

	if (strncmp(bind_url, "tcp://", 6) == 0)
		scheme = "tcp://";
	else if (strncmp(bind_url, "tls+tcp://", 10) == 0)
		scheme = "tls+tcp://";
	else
		return (-ENOTSUP);
	host = bind_url + strlen(scheme);
	if (*host == '[')
		end = strchr(host, ']') != NULL ? strchr(host, ']') + 1 : NULL;
	else
		end = strchr(host, ':');
	n = end != NULL ? (size_t)(end - host) : strlen(host);
	if ((size_t)snprintf(out, outlen, "%s%.*s:0", scheme, (int)n,
	    host) >= outlen)
		return (-ENAMETOOLONG);
	return (0);
}

/* tls+tcp:// takes the caller's configuration, and only with one. */
static int
dlink_tls(const char *url, struct nng_tls_config *tls, int listener,
    void *ep)
{
	if (strncmp(url, "tls+", 4) != 0)
		return (0);
	if (tls == NULL)
		return (NNG_EINVAL);
	return (listener ? nng_stream_listener_set_ptr(ep, NNG_OPT_TLS_CONFIG,
	    tls) : nng_stream_dialer_set_ptr(ep, NNG_OPT_TLS_CONFIG, tls));
}

int
dlink_listen(struct event_base *base, const char *bind_url,
    struct mem_map *map, const struct frame_layout *layout,
    const uint8_t *token, size_t tokenlen, struct nng_tls_config *tls,
    struct dseal_ctx *seal, const struct dlink_ops *ops, void *arg,
    struct dlink **dlp, char *url, size_t urllen, char *err, size_t errlen)
{
	struct dlink	*dl;
	char		 u[300];
	const char	*colon;
	int		 rc, rv, port;

	if ((rc = dlink_listen_url(bind_url, u, sizeof(u))) != 0)
		return (err_set(err, errlen, rc, "data connections need a "
		    "tcp:// or tls+tcp:// bind address, not %s", bind_url));
	/* sealed connections are TCP: the seal is ours, not nng's */
	if (seal != NULL && strncmp(u, "tls+", 4) == 0)
		memmove(u, u + 4, strlen(u + 4) + 1);
	if ((rc = dlink_new(base, u, token, tokenlen, ops, arg, &dl, err,
	    errlen)) != 0)
		return (rc);
	if (seal != NULL)
		dl->seal = dseal_ctx_ref(seal);
	dl->map = map;
	dl->layout = *layout;
	if ((rv = nng_stream_listener_alloc(&dl->listener, u)) != 0 ||
	    (rv = nng_stream_listener_set_bool(dl->listener,
	    NNG_OPT_TCP_NODELAY, true)) != 0 ||
	    (rv = dlink_tls(u, tls, 1, dl->listener)) != 0 ||
	    (rv = nng_stream_listener_listen(dl->listener)) != 0 ||
	    (rv = nng_stream_listener_get_int(dl->listener,
	    NNG_OPT_TCP_BOUND_PORT, &port)) != 0 ||
	    (rv = nng_aio_alloc(&dl->accept_aio, dlink_accept_cb, dl)) != 0) {
		rc = err_set(err, errlen, dlink_nng_errno(rv), "data link: "
		    "cannot listen on %s: %s", u, nng_strerror(rv));
		dlink_close(dl);
		return (rc);
	}
	colon = strrchr(u, ':');
	snprintf(dl->url, sizeof(dl->url), "%.*s:%d", (int)(colon - u), u,
	    port);
	snprintf(url, urllen, "%s", dl->url);
	nng_stream_listener_accept(dl->listener, dl->accept_aio);
	log_debug("%s: data connections on %s%s", __func__, dl->url,
	    dl->seal != NULL ? ", sealed" : "");
	*dlp = dl;
	return (0);
}

int
dlink_dial(struct event_base *base, const char *url, unsigned nconns,
    const uint8_t *token, size_t tokenlen, uint64_t window,
    struct nng_tls_config *tls, struct dseal_ctx *seal,
    const struct dlink_ops *ops, void *arg, struct dlink **dlp, char *err,
    size_t errlen)
{
	StreamFrame		 f = VMIG__STREAM__V1__FRAME__INIT;
	Vmig__Stream__V1__DataHello h = VMIG__STREAM__V1__DATA_HELLO__INIT;
	struct dlink		*dl;
	struct dlink_conn	*c;
	unsigned		 i, k;
	int			 rc, rv, n;

	if (nconns == 0 || nconns > DLINK_CONNS_MAX)
		return (err_set(err, errlen, -EINVAL, "%u data connections: "
		    "1 to %d", nconns, DLINK_CONNS_MAX));
	if (strncmp(url, "tcp://", 6) != 0 &&
	    strncmp(url, "tls+tcp://", 10) != 0)
		return (err_set(err, errlen, -ENOTSUP, "data connections are "
		    "tcp:// or tls+tcp://, not %s", url));
	if (seal != NULL && strncmp(url, "tcp://", 6) != 0)
		return (err_set(err, errlen, -EINVAL, "sealed data connections "
		    "are tcp://, not %s", url));
	if ((rc = dlink_new(base, url, token, tokenlen, ops, arg, &dl, err,
	    errlen)) != 0)
		return (rc);
	dl->source = 1;
	dl->window = window;
	if (seal != NULL)
		dl->seal = dseal_ctx_ref(seal);
	if ((rv = nng_stream_dialer_alloc(&dl->dialer, url)) != 0 ||
	    (rv = nng_stream_dialer_set_bool(dl->dialer, NNG_OPT_TCP_NODELAY,
	    true)) != 0 ||
	    (rv = dlink_tls(url, tls, 0, dl->dialer)) != 0) {
		rc = err_set(err, errlen, dlink_nng_errno(rv), "data link: "
		    "cannot dial %s: %s", url, nng_strerror(rv));
		dlink_close(dl);
		return (rc);
	}
	for (i = 0; i < nconns; i++) {
		c = xcalloc(1, sizeof(*c));
		c->dl = dl;
		c->idx = i;
		for (k = 0; k < DLINK_SLOTS; k++) {
			c->slots[k].hdr = xmalloc(DLINK_HDR_BUF);
			/* the header, and at most one segment per run;
			 * each written before it is read (nseg): not
			 * cleared, 512 KiB a job of fresh pages to fault */
			c->slots[k].segs = xreallocarray(NULL,
			    FRAME_RUNS_MAX + 1, sizeof(struct dlink_seg));
		}
		h.token.data = (uint8_t *)token;
		h.token.len = tokenlen;
		h.connection = i;
		f.kind_case = VMIG__STREAM__V1__FRAME__KIND_DATA_HELLO;
		f.data_hello = &h;
		c->hello = xmalloc(FRAME_PREFIX + 256);
		if ((n = dlink_pack(&f, c->hello, FRAME_PREFIX + 256)) < 0)
			fatalx("%s: data hello does not fit", __func__);
		c->hello_seg.p = c->hello;
		c->hello_seg.len = (size_t)n;
		dl->conns[dl->nconns++] = c;
	}
	for (i = 0; i < nconns; i++) {
		c = dl->conns[i];
		if (nng_aio_alloc(&c->dial_aio, dlink_dial_cb, c) != 0 ||
		    nng_aio_alloc(&c->aio, dlink_tx_cb, c) != 0) {
			rc = err_set(err, errlen, -ENOMEM, "data link: no aio");
			dlink_close(dl);
			return (rc);
		}
	}
	for (i = 0; i < nconns; i++) {
		c = dl->conns[i];
		nng_stream_dialer_dial(dl->dialer, c->dial_aio);
	}
	log_debug("%s: %u data connections to %s%s", __func__, nconns, url,
	    dl->seal != NULL ? ", sealed" : "");
	*dlp = dl;
	return (0);
}

void
dlink_set_priority(struct dlink *dl, int priority)
{
	if (dl != NULL && event_priority_set(dl->ev, priority) != 0)
		log_debug("%s: %s: event active, priority unchanged",
		    __func__, dl->url);
}

void
dlink_close(struct dlink *dl)
{
	struct dlink_conn	*c;
	unsigned		 i, k;

	if (dl == NULL)
		return;
	atomic_store(&dl->closing, 1);
	/* close first (pending operations end), then wait for callbacks */
	if (dl->listener != NULL)
		nng_stream_listener_close(dl->listener);
	if (dl->accept_aio != NULL)
		nng_aio_stop(dl->accept_aio);
	if (dl->dialer != NULL)
		nng_stream_dialer_close(dl->dialer);
	pthread_mutex_lock(&dl->mtx);
	k = dl->nconns;
	pthread_mutex_unlock(&dl->mtx);
	for (i = 0; i < k; i++) {
		c = dl->conns[i];
		if (c->dial_aio != NULL)
			nng_aio_stop(c->dial_aio);	/* c->st is set now */
		if (c->st != NULL)
			nng_stream_close(c->st);
		if (c->aio != NULL)
			nng_aio_stop(c->aio);
		if (c->hs_aio != NULL)
			nng_aio_stop(c->hs_aio);
	}
	for (i = 0; i < k; i++) {
		c = dl->conns[i];
		if (c->aio != NULL)
			nng_aio_free(c->aio);
		if (c->dial_aio != NULL)
			nng_aio_free(c->dial_aio);
		if (c->hs_aio != NULL)
			nng_aio_free(c->hs_aio);
		dseal_free(c->ds);
		free(c->hsbuf);
		free(c->sbuf);
		if (c->st != NULL)
			nng_stream_free(c->st);
		for (unsigned j = 0; j < DLINK_SLOTS; j++) {
			free(c->slots[j].hdr);
			free(c->slots[j].stage);
			free(c->slots[j].zbuf);
			free(c->slots[j].segs);
		}
		free(c->hello);
		free(c->hbuf);
		free(c->rsegs);
		free(c->zbuf);
		free(c->zraw);
		cz_ctx_free(c->cz);
		frame_free(&c->frame);
		free(c);
	}
	if (dl->accept_aio != NULL)
		nng_aio_free(dl->accept_aio);
	if (dl->listener != NULL)
		nng_stream_listener_free(dl->listener);
	if (dl->dialer != NULL)
		nng_stream_dialer_free(dl->dialer);
	cz_ctx_free(dl->cz);
	dseal_ctx_free(dl->seal);
	free(dl->rskip);
	event_free(dl->ev);
	close(dl->efd);
	pthread_mutex_destroy(&dl->mtx);
	free(dl);
}
