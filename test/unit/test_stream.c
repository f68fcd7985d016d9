/*
 * test_stream.c: the peer link over real loopback TCP, both ends on one
 * event_base in one process: connect, hello/ack, 1000 batches under a
 * window, a 64 MiB /dev/shm region moved with xfer byte for byte, peers
 * that vanish, send garbage or oversize messages.
 *
 * No timing: the loop runs until a condition holds; Criterion's timeout is
 * only a safety net against a hang.
 */
#include <criterion/criterion.h>

#include <sys/socket.h>

#include <netinet/in.h>
#include <arpa/inet.h>

#include <errno.h>
#include <poll.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>

#include "frame.h"
#include "memory.h"
#include "stream.h"
#include "util.h"
#include "xfer.h"

#define KIND(k)	VMIG__STREAM__V1__FRAME__KIND_##k

struct peer {
	const char	*name;
	struct stream	*s;
	int		 connected;
	int		 closed;
	int		 closed_err;
	char		 reason[512];
	int		 writable;
	uint64_t	 frames;
	uint64_t	 payload;
	uint64_t	 last_seq;
	int		 kinds[16];
	/* destination behaviour */
	int		 ack_every;	/* send an Ack after each N batches */
	int		 close_after;	/* stream_close() in the Nth frame */
	struct mem_map	*map;		/* apply page batches here */
	struct frame_layout *layout;
	uint64_t	 applied_pages;
	int		 order_broken;
	/* source: acked bytes from Ack frames */
	uint64_t	 acked;
	int		 ack_errors;
};

static struct event_base *base;

static void
setup(void)
{
	base = event_base_new();
	cr_assert_not_null(base);
}

static void
teardown(void)
{
	/* Closed streams linger on the loop for a moment: let them go. */
	while (stream_lingering() != 0)
		event_base_loop(base, EVLOOP_ONCE);
	event_base_free(base);
}

TestSuite(stream, .init = setup, .fini = teardown, .timeout = 120);

static void
on_connected(void *arg)
{
	((struct peer *)arg)->connected = 1;
}

static void
send_ack(struct peer *p)
{
	StreamFrame	 f = VMIG__STREAM__V1__FRAME__INIT;
	Vmig__Stream__V1__Ack a = VMIG__STREAM__V1__ACK__INIT;

	a.seq = p->last_seq;
	a.bytes = p->payload;
	f.kind_case = KIND(ACK);
	f.ack = &a;
	cr_assert_eq(stream_send(p->s, &f, NULL, 0), 0,
	    "acks are never refused");
}

static void
on_frame(void *arg, const struct frame *f)
{
	struct peer	*p = arg;
	char		 err[256];
	uint64_t	 n;
	int		 k = f->hdr->kind_case;

	p->frames++;
	p->payload += f->payload_len;
	if (k >= 0 && k < 16)
		p->kinds[k]++;
	switch (k) {
	case KIND(PAGES):
		if (f->hdr->pages->seq != p->last_seq + 1)
			p->order_broken = 1;
		p->last_seq = f->hdr->pages->seq;
		if (p->map != NULL) {
			cr_assert_eq(frame_check(p->layout, NULL, f, err,
			    sizeof err), 0, "%s", err);
			cr_assert_eq(xfer_apply_map(p->map, f->hdr->pages,
			    f->payload, f->payload_len, &n), 0);
			p->applied_pages += n;
		}
		if (p->ack_every != 0 && p->last_seq % p->ack_every == 0)
			send_ack(p);
		break;
	case KIND(ACK):
		if (stream_acked(p->s, f->hdr->ack->bytes) != 0)
			p->ack_errors++;
		p->acked = f->hdr->ack->bytes;
		break;
	case KIND(HELLO):
		{
			StreamFrame	 r = VMIG__STREAM__V1__FRAME__INIT;
			Vmig__Stream__V1__HelloAck ha =
			    VMIG__STREAM__V1__HELLO_ACK__INIT;

			ha.protocol_version = 1;
			ha.dest_job_id = 99;
			ha.window_bytes = 1 << 20;
			r.kind_case = KIND(HELLO_ACK);
			r.hello_ack = &ha;
			cr_assert_eq(stream_send(p->s, &r, NULL, 0), 0);
		}
		break;
	}
	if (p->close_after != 0 && p->frames == (uint64_t)p->close_after) {
		stream_close(p->s);
		p->s = NULL;
		p->closed = -1;		/* closed by us, not by the peer */
	}
}

static void
on_writable(void *arg)
{
	((struct peer *)arg)->writable++;
}

static void
on_closed(void *arg, int err, const char *reason)
{
	struct peer	*p = arg;

	cr_assert_eq(p->closed, 0, "closed() is called once");
	p->closed = 1;
	p->closed_err = err;
	snprintf(p->reason, sizeof p->reason, "%s", reason);
}

static const struct stream_ops ops = {
	.connected = on_connected,
	.frame = on_frame,
	.writable = on_writable,
	.closed = on_closed,
};

typedef int (*cond_fn)(void *);

/* Run the loop until cond holds (Criterion's timeout guards a hang). */
static void
run_until(cond_fn cond, void *arg)
{
	while (!cond(arg))
		event_base_loop(base, EVLOOP_ONCE);
}

static int
both_connected(void *arg)
{
	struct peer	**pp = arg;

	return (pp[0]->connected && pp[1]->connected);
}

static int
is_closed(void *arg)
{
	return (((struct peer *)arg)->closed != 0);
}

static void
pair_up(struct peer *src, struct peer *dst, const struct stream_opts *o)
{
	struct peer	*pp[2] = { src, dst };
	char		 url[256], err[256];

	src->name = "source";
	dst->name = "destination";
	cr_assert_eq(stream_listen(base, "tcp://127.0.0.1", o, &ops, dst,
	    &dst->s, url, sizeof url, err, sizeof err), 0, "%s", err);
	cr_assert(strncmp(url, "tcp://127.0.0.1:", 16) == 0, "%s", url);
	cr_assert_neq(atoi(url + 16), 0, "a real port was picked: %s", url);
	cr_assert_eq(stream_dial(base, url, o, &ops, src, &src->s, err,
	    sizeof err), 0, "%s", err);
	run_until(both_connected, pp);
	cr_assert(stream_is_connected(src->s) && stream_is_connected(dst->s));
}

Test(stream, listen_errors)
{
	struct stream	*s, *s2;
	struct peer	 p = { 0 };
	char		 url[256], err[256];

	cr_assert_eq(stream_listen(base, "tcp://127.0.0.1", NULL, &ops, &p,
	    &s, url, sizeof url, err, sizeof err), 0, "%s", err);
	/* the same port again */
	cr_assert_eq(stream_listen(base, url, NULL, &ops, &p, &s2, NULL, 0,
	    err, sizeof err), -EADDRINUSE);
	cr_assert(strstr(err, "cannot listen on tcp://127.0.0.1:"), "%s", err);
	cr_assert_null(s2);
	cr_assert_neq(stream_listen(base, "bogus://x", NULL, &ops, &p, &s2,
	    NULL, 0, err, sizeof err), 0);
	cr_assert(strstr(err, "bogus://x"), "%s", err);
	cr_assert_neq(stream_dial(base, "nope", NULL, &ops, &p, &s2, err,
	    sizeof err), 0);
	cr_assert(strstr(err, "cannot dial nope"), "%s", err);
	stream_close(s);
	stream_close(NULL);
}

Test(stream, hello_and_ack)
{
	struct peer	 src = { 0 }, dst = { 0 };
	StreamFrame	 f = VMIG__STREAM__V1__FRAME__INIT;
	Vmig__Stream__V1__Hello h = VMIG__STREAM__V1__HELLO__INIT;

	pair_up(&src, &dst, NULL);
	h.protocol_version = STREAM_PROTOCOL_VERSION;
	h.source_job_id = 7;
	h.page_size = 4096;
	f.kind_case = KIND(HELLO);
	f.hello = &h;
	cr_assert_eq(stream_send(src.s, &f, NULL, 0), 0);
	while (src.kinds[KIND(HELLO_ACK)] == 0)
		event_base_loop(base, EVLOOP_ONCE);
	cr_assert_eq(dst.kinds[KIND(HELLO)], 1);
	cr_assert_eq(stream_stats(src.s)->msgs_out, 1);
	cr_assert_eq(stream_stats(src.s)->msgs_in, 1);
	cr_assert_eq(stream_stats(dst.s)->msgs_in, 1);
	cr_assert_gt(stream_stats(dst.s)->bytes_in, 10);
	stream_close(src.s);
	stream_close(dst.s);
}

struct pump {
	struct peer	*src;
	struct peer	*dst;
	uint64_t	 seq;		/* last sent */
	uint64_t	 total;
	size_t		 size;
	uint8_t		*payload;
	uint64_t	 window;
	uint64_t	 max_unacked;
	uint64_t	 eagain;
};

/* Send batches until the stream refuses; the writable callback resumes. */
static void
pump_send(struct pump *pm)
{
	StreamFrame	 f = VMIG__STREAM__V1__FRAME__INIT;
	StreamPageBatch	 b = VMIG__STREAM__V1__PAGE_BATCH__INIT;
	StreamPageRun	 run = VMIG__STREAM__V1__PAGE_RUN__INIT, *rp = &run;
	struct stream_msg *m;
	void		*payload;
	int		 rc;

	f.kind_case = KIND(PAGES);
	f.pages = &b;
	b.n_runs = 1;
	b.runs = &rp;
	while (pm->seq < pm->total) {
		b.seq = pm->seq + 1;
		run.first = pm->seq;
		run.count = 1;
		if (pm->seq % 2 == 0) {
			rc = stream_send(pm->src->s, &f, pm->payload, pm->size);
		} else {
			/* the gather API, with a smaller final payload */
			rc = stream_msg_begin(pm->src->s, 128, pm->size + 4096,
			    &m, &payload);
			if (rc == 0) {
				memcpy(payload, pm->payload, pm->size);
				rc = stream_msg_commit(pm->src->s, m, &f,
				    pm->size);
			}
		}
		if (rc == -EAGAIN) {
			pm->eagain++;
			break;
		}
		if (rc == -EPIPE && pm->src->closed)
			break;
		cr_assert_eq(rc, 0);
		pm->seq++;
		if (stream_unacked(pm->src->s) > pm->max_unacked)
			pm->max_unacked = stream_unacked(pm->src->s);
	}
}

static int
pump_done(void *arg)
{
	struct pump	*pm = arg;

	if (pm->src->writable != 0) {
		pm->src->writable = 0;
		pump_send(pm);
	}
	return (pm->dst->last_seq == pm->total || pm->dst->closed ||
	    pm->src->closed);
}

Test(stream, thousand_batches_with_window)
{
	struct peer	 src = { 0 }, dst = { 0 };
	struct stream_opts o;
	struct pump	 pm = { 0 };
	size_t		 i;

	stream_opts_default(&o);
	o.sendbuf = 4;
	o.recvbuf = 4;
	pair_up(&src, &dst, &o);
	pm.src = &src;
	pm.dst = &dst;
	pm.total = 1000;
	pm.size = 4096;
	pm.window = 64 * 1024;		/* 16 batches in flight */
	pm.payload = malloc(pm.size);
	for (i = 0; i < pm.size; i++)
		pm.payload[i] = (uint8_t)i;
	dst.ack_every = 4;
	stream_set_window(src.s, pm.window);
	pump_send(&pm);
	cr_assert_gt(pm.eagain, 0, "the window stops the first burst");
	run_until(pump_done, &pm);
	cr_assert_eq(src.closed, 0, "%s", src.reason);
	cr_assert_eq(dst.closed, 0, "%s", dst.reason);
	cr_assert_eq(dst.last_seq, 1000);
	cr_assert_eq(dst.order_broken, 0, "batches arrive in order");
	cr_assert_eq(dst.payload, 1000 * 4096);
	cr_assert_leq(pm.max_unacked, pm.window, "never over the window");
	cr_assert_eq(src.ack_errors, 0);
	cr_assert_eq(stream_stats(src.s)->payload_out, 1000 * 4096);
	cr_assert_eq(stream_stats(dst.s)->payload_in, 1000 * 4096);
	cr_assert_eq(stream_stats(src.s)->msgs_out, 1000);
	cr_assert_gt(stream_stats(src.s)->eagain, 0);
	free(pm.payload);
	stream_close(src.s);
	stream_close(dst.s);
}

Test(stream, window_blocks_data_not_control)
{
	struct peer	 src = { 0 }, dst = { 0 };
	StreamFrame	 f = VMIG__STREAM__V1__FRAME__INIT;
	Vmig__Stream__V1__Abort ab = VMIG__STREAM__V1__ABORT__INIT;
	StreamStateChunk sc = VMIG__STREAM__V1__STATE_CHUNK__INIT;
	struct stream_msg *m;
	uint8_t		 data[1000] = { 0 };
	void		*pl;

	pair_up(&src, &dst, NULL);
	stream_set_window(src.s, 1500);
	f.kind_case = KIND(STATE);
	f.state = &sc;
	cr_assert_eq(stream_send(src.s, &f, data, 1000), 0);
	cr_assert_eq(stream_unacked(src.s), 1000);
	cr_assert_eq(stream_can_send(src.s, 1000), 0);
	cr_assert_eq(stream_can_send(src.s, 500), 1);
	cr_assert_eq(stream_send(src.s, &f, data, 1000), -EAGAIN);
	cr_assert_eq(stream_msg_begin(src.s, 64, 1000, &m, &pl), -EAGAIN);
	f.kind_case = KIND(ABORT);
	f.abort = &ab;
	cr_assert_eq(stream_send(src.s, &f, NULL, 0), 0, "control frames pass");
	/* acks: backwards and beyond what was sent are protocol errors */
	cr_assert_eq(stream_acked(src.s, 2000), -EPROTO);
	cr_assert_eq(stream_acked(src.s, 600), 0);
	cr_assert_eq(stream_acked(src.s, 500), -EPROTO);
	cr_assert_eq(stream_unacked(src.s), 400);
	cr_assert_eq(src.writable, 0, "writable() comes from the loop");
	while (src.writable == 0)
		event_base_loop(base, EVLOOP_ONCE);
	cr_assert_eq(stream_msg_begin(src.s, 64, 1000, &m, &pl), 0);
	stream_msg_abort(src.s, m);
	/* a frame larger than the whole window still goes when idle */
	cr_assert_eq(stream_acked(src.s, 1000), 0);
	f.kind_case = KIND(STATE);
	cr_assert_eq(stream_send(src.s, &f, data, 1000), 0);
	stream_set_window(src.s, 0);
	cr_assert_eq(stream_send(src.s, &f, data, 1000), 0, "window off");
	stream_close(src.s);
	stream_close(dst.s);
}

/* 64 MiB region with random content and zero pages, moved with xfer. */
#define BIG	(64u << 20)

struct xfer_run {
	struct peer	*src;
	struct peer	*dst;
	struct xfer_src	 xs;
	struct mem_region *r;
	uint64_t	 cursor;
	uint64_t	 seq;
	uint64_t	 sent_pages;
	uint64_t	 zero_pages;
	int		 end;
};

static void
xfer_pump(struct xfer_run *x)
{
	struct xfer_result res;
	int		 rc;

	while (!x->end) {
		rc = xfer_send(&x->xs, x->src->s, x->r, &x->cursor, NULL,
		    x->seq + 1, 1, &res);
		if (rc == -EAGAIN)
			return;
		cr_assert_eq(rc, 0);
		if (res.pages == 0) {
			x->end = 1;
			return;
		}
		x->seq++;
		x->sent_pages += res.pages;
		x->zero_pages += res.zero_pages;
	}
}

static int
xfer_done(void *arg)
{
	struct xfer_run	*x = arg;

	if (x->src->writable) {
		x->src->writable = 0;
		xfer_pump(x);
	}
	return ((x->end && x->dst->last_seq == x->seq) || x->src->closed ||
	    x->dst->closed);
}

static void
make_shm(char *path, size_t pathlen, size_t len, int random)
{
	uint64_t	*buf, v = 0x9e3779b97f4a7c15ULL;
	size_t		 i;
	int		 fd;

	snprintf(path, pathlen, "/dev/shm/vmig-test-stream-XXXXXX");
	cr_assert_neq((fd = mkstemp(path)), -1);
	cr_assert_eq(ftruncate(fd, (off_t)len), 0);
	if (random) {
		buf = malloc(len);
		for (i = 0; i < len / 8; i++) {
			v ^= v << 13;
			v ^= v >> 7;
			v ^= v << 17;
			buf[i] = v;
		}
		/* every 7th page all zero, and one page zero but its last byte */
		for (i = 0; i < len / 4096; i += 7)
			memset((uint8_t *)buf + i * 4096, 0, 4096);
		memset((uint8_t *)buf + 3 * 4096, 0, 4095);
		cr_assert_eq(write(fd, buf, len), (ssize_t)len);
		free(buf);
	}
	close(fd);
}

Test(stream, xfer_64mib_byte_for_byte)
{
	struct peer	 src = { 0 }, dst = { 0 };
	struct mem_map	 sm, dm;
	struct frame_region fr[1];
	struct frame_layout layout;
	struct xfer_run	 x;
	struct mem_region_spec spec = { NULL, 0, 0x100000000ULL, BIG, 4096 };
	char		 sp[64], dp[64], err[256];
	int		 fd;
	uint8_t		 junk[4096];

	make_shm(sp, sizeof sp, BIG, 1);
	make_shm(dp, sizeof dp, BIG, 0);
	/* the destination holds stale bytes where zero pages will land */
	memset(junk, 0x5a, sizeof junk);
	fd = open(dp, O_WRONLY);
	cr_assert_eq(pwrite(fd, junk, 4096, 7 * 4096), 4096);
	close(fd);
	spec.path = sp;
	cr_assert_eq(mem_map_open(&sm, &spec, 1, 0, err, sizeof err), 0, "%s",
	    err);
	spec.path = dp;
	cr_assert_eq(mem_map_open(&dm, &spec, 1, MEM_MAP_WRITE, err,
	    sizeof err), 0, "%s", err);
	xfer_layout(&dm, 0, fr, &layout);

	pair_up(&src, &dst, NULL);
	dst.ack_every = 1;
	dst.map = &dm;
	dst.layout = &layout;
	stream_set_window(src.s, 8u << 20);

	memset(&x, 0, sizeof x);
	x.src = &src;
	x.dst = &dst;
	x.r = &sm.regions[0];
	xfer_src_init(&x.xs, 0, 0);
	pageset_fill(&x.r->dirty);
	xfer_pump(&x);
	run_until(xfer_done, &x);
	cr_assert_eq(src.closed, 0, "%s", src.reason);
	cr_assert_eq(dst.closed, 0, "%s", dst.reason);
	cr_assert_eq(x.sent_pages, BIG / 4096);
	cr_assert_eq(dst.applied_pages, BIG / 4096);
	cr_assert_eq(x.zero_pages, (BIG / 4096 + 6) / 7, "zero pages flagged");
	cr_assert_eq(pageset_count(&x.r->dirty), 0, "sent bits are cleared");
	cr_assert_eq(memcmp(sm.regions[0].base, dm.regions[0].base, BIG), 0,
	    "byte for byte");
	cr_assert_eq(mem_digest(&sm), mem_digest(&dm));
	cr_assert_eq(dst.payload, (uint64_t)(BIG / 4096 - x.zero_pages) * 4096,
	    "zero pages carry no payload");

	xfer_src_free(&x.xs);
	stream_close(src.s);
	stream_close(dst.s);
	mem_map_close(&sm);
	mem_map_close(&dm);
	unlink(sp);
	unlink(dp);
}

Test(stream, peer_closes_mid_stream)
{
	struct peer	 src = { 0 }, dst = { 0 };
	struct pump	 pm = { 0 };
	uint8_t		 payload[4096] = { 0 };

	pair_up(&src, &dst, NULL);
	dst.close_after = 10;	/* the destination closes in its 10th frame */
	pm.src = &src;
	pm.dst = &dst;
	pm.total = 1000;
	pm.size = sizeof payload;
	pm.payload = payload;
	stream_set_window(src.s, 64 * 1024);
	dst.ack_every = 1;
	pump_send(&pm);
	run_until(is_closed, &src);
	cr_assert_eq(src.closed, 1);
	cr_assert_eq(src.closed_err, -ECONNRESET);
	cr_assert(strstr(src.reason, "peer connection lost"), "%s", src.reason);
	cr_assert_eq(dst.closed, -1);
	cr_assert_eq(dst.frames, 10, "nothing is delivered after close");
	/* sending on a closed stream fails, never crashes */
	cr_assert_eq(pump_done(&pm), 1);
	{
		StreamFrame	 f = VMIG__STREAM__V1__FRAME__INIT;
		Vmig__Stream__V1__Abort ab = VMIG__STREAM__V1__ABORT__INIT;

		f.kind_case = KIND(ABORT);
		f.abort = &ab;
		cr_assert_eq(stream_send(src.s, &f, NULL, 0), -EPIPE);
		cr_assert(stream_is_closed(src.s));
	}
	stream_close(src.s);
}

Test(stream, source_vanishes)
{
	struct peer	 src = { 0 }, dst = { 0 };

	pair_up(&src, &dst, NULL);
	stream_close(src.s);
	run_until(is_closed, &dst);
	cr_assert_eq(dst.closed_err, -ECONNRESET);
	cr_assert(strstr(dst.reason, "peer connection lost"), "%s", dst.reason);
	stream_close(dst.s);
}

/*
 * A hand-made SP peer for the hostile cases: plain TCP, the 8-byte SP
 * handshake (0 'S' 'P' 0, protocol 0x0011 = pair1, 0 0), then messages as
 * a 64-bit big-endian length and a body that starts with PAIR1's 32-bit
 * hop count. No nng on this side, so nothing it leaks or misdoes can blur
 * what the stream under test does.
 */
static int
raw_connect(const char *url)
{
	struct sockaddr_in sin;
	const char	*colon = strrchr(url, ':');
	uint8_t		 hs[8] = { 0, 'S', 'P', 0, 0, 0x11, 0, 0 }, peer[8];
	int		 fd;

	cr_assert_not_null(colon);
	memset(&sin, 0, sizeof sin);
	sin.sin_family = AF_INET;
	sin.sin_port = htons((uint16_t)atoi(colon + 1));
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	fd = socket(AF_INET, SOCK_STREAM, 0);
	cr_assert_neq(fd, -1);
	cr_assert_eq(connect(fd, (struct sockaddr *)&sin, sizeof sin), 0);
	cr_assert_eq(write(fd, hs, sizeof hs), 8);
	cr_assert_eq(read(fd, peer, sizeof peer), 8);
	cr_assert_eq(memcmp(peer, hs, 4), 0, "an SP peer answered");
	return (fd);
}

/*
 * One PAIR1 message: declared body length (may lie), hop count, bytes.
 * 0 if it all went out (no SIGPIPE when the stream hung up on us).
 */
static int
raw_send(int fd, uint64_t declared, const void *data, size_t len)
{
	uint8_t	 hdr[12];
	int	 i;

	for (i = 0; i < 8; i++)
		hdr[i] = (uint8_t)(declared >> (56 - 8 * i));
	hdr[8] = hdr[9] = hdr[10] = 0;
	hdr[11] = 1;
	if (send(fd, hdr, sizeof hdr, MSG_NOSIGNAL) != (ssize_t)sizeof hdr)
		return (-1);
	if (len != 0 && send(fd, data, len, MSG_NOSIGNAL) != (ssize_t)len)
		return (-1);
	return (0);
}

static struct stream *
listen_for(struct peer *p, char *url, size_t urllen,
    const struct stream_opts *o)
{
	struct stream	*s;
	char		 err[256];

	cr_assert_eq(stream_listen(base, "tcp://127.0.0.1:0", o, &ops, p, &s,
	    url, urllen, err, sizeof err), 0, "%s", err);
	p->s = s;
	return (s);
}

Test(stream, garbage_message)
{
	struct peer	 dst = { 0 };
	char		 url[256];
	uint8_t		 junk[100];
	int		 fd;

	listen_for(&dst, url, sizeof url, NULL);
	fd = raw_connect(url);
	memset(junk, 0xee, sizeof junk);
	cr_assert_eq(raw_send(fd, 4 + sizeof junk, junk, sizeof junk), 0);
	run_until(is_closed, &dst);
	cr_assert_eq(dst.closed_err, -EMSGSIZE);
	cr_assert(strstr(dst.reason, "peer sent a bad frame: frame header of "
	    "4008636142 bytes exceeds the limit"), "%s", dst.reason);
	cr_assert_eq(dst.frames, 0);
	stream_close(dst.s);
	close(fd);
}

Test(stream, undecodable_protobuf)
{
	struct peer	 dst = { 0 };
	char		 url[256];
	uint8_t		 msg[8] = { 4, 0, 0, 0, 0x0f, 0xff, 0xff, 0xff };
	int		 fd;

	listen_for(&dst, url, sizeof url, NULL);
	fd = raw_connect(url);
	cr_assert_eq(raw_send(fd, 4 + sizeof msg, msg, sizeof msg), 0);
	run_until(is_closed, &dst);
	cr_assert_eq(dst.closed_err, -EBADMSG);
	cr_assert(strstr(dst.reason, "not a valid Frame message"), "%s",
	    dst.reason);
	stream_close(dst.s);
	close(fd);
}

Test(stream, oversize_message)
{
	struct peer	 dst = { 0 };
	struct stream_opts o;
	char		 url[256];
	int		 fd;

	stream_opts_default(&o);
	o.payload_max = 64 * 1024;
	listen_for(&dst, url, sizeof url, &o);
	fd = raw_connect(url);
	/* one byte over the limit: nng drops the pipe at the length */
	cr_assert_eq(raw_send(fd, 4 + FRAME_PREFIX + FRAME_HDR_MAX +
	    o.payload_max + 1, NULL, 0), 0);
	run_until(is_closed, &dst);
	cr_assert_eq(dst.closed_err, -ECONNRESET);
	cr_assert(strstr(dst.reason, "exceeded the 131076-byte limit"), "%s",
	    dst.reason);
	cr_assert_eq(dst.frames, 0);
	stream_close(dst.s);
	close(fd);
}

Test(stream, peer_lies_about_length_and_vanishes)
{
	struct peer	 dst = { 0 };
	char		 url[256];
	uint8_t		 part[100] = { 0 };
	int		 fd;

	listen_for(&dst, url, sizeof url, NULL);
	fd = raw_connect(url);
	/* announce 1000 bytes, send 100, go away */
	cr_assert_eq(raw_send(fd, 1000, part, sizeof part), 0);
	close(fd);
	run_until(is_closed, &dst);
	cr_assert_eq(dst.closed_err, -ECONNRESET);
	cr_assert_eq(dst.frames, 0);
	stream_close(dst.s);
}

Test(stream, second_peer_does_not_disturb)
{
	struct peer	 src = { 0 }, dst = { 0 };
	struct peer	*pp[2] = { &src, &dst };
	StreamFrame	 f = VMIG__STREAM__V1__FRAME__INIT;
	Vmig__Stream__V1__Hello h = VMIG__STREAM__V1__HELLO__INIT;
	char		 url[256];
	char		 err[256];
	int		 fd;

	listen_for(&dst, url, sizeof url, NULL);
	cr_assert_eq(stream_dial(base, url, NULL, &ops, &src, &src.s, err,
	    sizeof err), 0);
	run_until(both_connected, pp);
	/* an intruder connects (PAIR1 refuses a second pipe), talks, leaves */
	fd = raw_connect(url);
	(void)raw_send(fd, 4 + 3, "abc", 3);	/* may be refused already */
	close(fd);
	/* the real pair still works */
	f.kind_case = KIND(HELLO);
	f.hello = &h;
	cr_assert_eq(stream_send(src.s, &f, NULL, 0), 0);
	while (src.kinds[KIND(HELLO_ACK)] == 0)
		event_base_loop(base, EVLOOP_ONCE);
	cr_assert_eq(dst.closed, 0, "%s", dst.reason);
	cr_assert_eq(src.closed, 0, "%s", src.reason);
	cr_assert_eq(dst.frames, 1, "nothing from the intruder arrived");
	stream_close(src.s);
	stream_close(dst.s);
}

Test(stream, ipc_url)
{
	struct peer	 src = { 0 }, dst = { 0 };
	struct peer	*pp[2] = { &src, &dst };
	char		 url[256], bound[256], err[256];

	snprintf(url, sizeof url, "ipc:///tmp/vmig-test-stream-%d.sock",
	    getpid());
	cr_assert_eq(stream_listen(base, url, NULL, &ops, &dst, &dst.s, bound,
	    sizeof bound, err, sizeof err), 0, "%s", err);
	cr_assert_str_eq(bound, url);
	cr_assert_eq(stream_dial(base, url, NULL, &ops, &src, &src.s, err,
	    sizeof err), 0, "%s", err);
	run_until(both_connected, pp);
	stream_close(src.s);
	stream_close(dst.s);
}

/* ------------------------------------------------------------ refusing */

/* A listener that answers bad frames and refuses the peer (job_in.c). */
struct gate {
	struct peer	 p;
	int		 bad;		/* bad_frame() calls */
	int		 bad_err;
	int		 lost;		/* peer_lost() calls */
};

static void
gate_bad_frame(void *arg, int err, const char *reason)
{
	struct gate		*g = arg;
	StreamFrame		 f = VMIG__STREAM__V1__FRAME__INIT;
	Vmig__Stream__V1__Abort	 a = VMIG__STREAM__V1__ABORT__INIT;

	g->bad++;
	g->bad_err = err;
	snprintf(g->p.reason, sizeof g->p.reason, "%s", reason);
	/* the stream is still up: the peer can be told why */
	a.code = VMIG__STREAM__V1__ABORT__CODE__CODE_PROTOCOL;
	a.reason = (char *)reason;
	f.kind_case = KIND(ABORT);
	f.abort = &a;
	cr_assert_eq(stream_send(g->p.s, &f, NULL, 0), 0);
	stream_drop_peer(g->p.s);
}

static int
gate_peer_lost(void *arg)
{
	((struct gate *)arg)->lost++;
	return (1);
}

static const struct stream_ops gate_ops = {
	.connected = on_connected,
	.frame = on_frame,
	.writable = on_writable,
	.closed = on_closed,
	.bad_frame = gate_bad_frame,
	.peer_lost = gate_peer_lost,
};

static int
gate_saw_bad(void *arg)
{
	return (((struct gate *)arg)->bad != 0);
}

static int
gate_saw_lost(void *arg)
{
	return (((struct gate *)arg)->lost != 0);
}

static int
peer_connected(void *arg)
{
	return (((struct peer *)arg)->connected);
}

static int
got_hello(void *arg)
{
	return (((struct peer *)arg)->kinds[KIND(HELLO)] != 0);
}

static void
send_hello(struct stream *s)
{
	StreamFrame	 f = VMIG__STREAM__V1__FRAME__INIT;
	Vmig__Stream__V1__Hello h = VMIG__STREAM__V1__HELLO__INIT;

	h.protocol_version = 1;
	f.kind_case = KIND(HELLO);
	f.hello = &h;
	cr_assert_eq(stream_send(s, &f, NULL, 0), 0);
}

/*
 * Garbage reaches bad_frame() (not closed()), the answer gets out, the
 * refused peer's connection closes, whatever else it sent is dropped, and
 * the next peer is served.
 */
Test(stream, refuse_a_peer_then_serve_the_next)
{
	struct gate	 g = { 0 };
	struct peer	 src = { 0 };
	char		 url[256], err[256], buf[256];
	uint8_t		 junk[16];
	size_t		 total;
	ssize_t		 n;
	int		 fd;

	cr_assert_eq(stream_listen(base, "tcp://127.0.0.1:0", NULL, &gate_ops,
	    &g, &g.p.s, url, sizeof url, err, sizeof err), 0, "%s", err);
	fd = raw_connect(url);
	memset(junk, 0xee, sizeof junk);
	junk[0] = 4;	/* a 4-byte header of 0xee: not a Frame */
	junk[1] = junk[2] = junk[3] = 0;
	cr_assert_eq(raw_send(fd, 4 + 8, junk, 8), 0);
	/* and a good frame after it, which must not be delivered */
	cr_assert_eq(raw_send(fd, 4 + sizeof junk, junk, sizeof junk), 0);
	run_until(gate_saw_bad, &g);
	cr_assert_eq(g.bad_err, -EBADMSG);
	cr_assert(strstr(g.p.reason, "bad frame"), "%s", g.p.reason);
	cr_assert_eq(g.p.closed, 0, "a bad frame does not close the stream");
	/* the Abort arrives, then the connection closes (the linger) */
	total = 0;
	for (;;) {
		struct pollfd	 pfd = { .fd = fd, .events = POLLIN };

		event_base_loop(base, EVLOOP_NONBLOCK);
		if (poll(&pfd, 1, 10) != 1)
			continue;
		if ((n = read(fd, buf, sizeof buf)) <= 0)
			break;
		total += (size_t)n;
	}
	cr_assert_gt(total, 12, "the refused peer was told why");
	cr_assert_eq(n, 0, "the refused peer's connection was closed");
	close(fd);
	cr_assert_eq(g.p.frames, 0);

	/* the next peer connects and is served */
	g.p.connected = 0;	/* the refused one was connected too */
	cr_assert_eq(stream_dial(base, url, NULL, &ops, &src, &src.s, err,
	    sizeof err), 0, "%s", err);
	while (!src.connected)
		event_base_loop(base, EVLOOP_ONCE);
	send_hello(src.s);
	run_until(got_hello, &g.p);
	/* the pipe's ADD_POST may reach the loop after its first message */
	run_until(peer_connected, &g.p);
	cr_assert_eq(g.p.closed, 0);
	cr_assert(stream_is_connected(g.p.s));
	stream_close(src.s);
	stream_close(g.p.s);
}

/* A peer that leaves is forgotten when the user says so. */
Test(stream, peer_lost_keeps_listening)
{
	struct gate	 g = { 0 };
	struct peer	 a = { 0 }, b = { 0 };
	char		 url[256], err[256];

	cr_assert_eq(stream_listen(base, "tcp://127.0.0.1:0", NULL, &gate_ops,
	    &g, &g.p.s, url, sizeof url, err, sizeof err), 0, "%s", err);
	cr_assert_eq(stream_dial(base, url, NULL, &ops, &a, &a.s, err,
	    sizeof err), 0, "%s", err);
	while (!a.connected || !g.p.connected)
		event_base_loop(base, EVLOOP_ONCE);
	stream_close(a.s);
	run_until(gate_saw_lost, &g);
	cr_assert_eq(g.p.closed, 0);
	cr_assert(!stream_is_connected(g.p.s));
	cr_assert_eq(stream_dial(base, url, NULL, &ops, &b, &b.s, err,
	    sizeof err), 0, "%s", err);
	while (!b.connected || !g.p.connected)
		event_base_loop(base, EVLOOP_ONCE);
	send_hello(b.s);
	run_until(got_hello, &g.p);
	stream_close(b.s);
	stream_close(g.p.s);
}
