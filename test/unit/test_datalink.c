/*
 * test_datalink.c: the data connections on a real loop over real TCP:
 * pages from one mapping into another, zero runs, scattered and staged
 * runs, several connections; a page rewritten while its copies are in
 * flight ends up as its last copy (striping); and a hostile peer on a raw
 * socket: nothing lands before the token, a header lying about its
 * payload or naming pages outside the region writes nothing, a peer that
 * stops inside a payload fails the link, and a frame dribbled in small
 * pieces (short reads) lands whole. Compression: batches compressed by
 * either codec land byte for byte, random pages go raw, and a block that
 * is corrupt, decodes to another length or names an unknown codec
 * writes nothing.
 */
#include <criterion/criterion.h>

#include <sys/socket.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>
#include <lz4.h>

#include "compress.h"
#include "datalink.h"
#include "dseal.h"
#include "frame.h"
#include "memory.h"
#include "util.h"
#include "testid.h"
#include "xfer.h"

#define NPAGES	1024		/* 4 MiB: four stripes */
#define PS	4096
#define LIVENESS_S	60	/* a hang bound, not a timing assertion */

static const uint8_t token[16] = "0123456789abcdef";
static char	 src_path[64], dst_path[64];
static struct mem_map src, dst;
static struct frame_region fr[1];
static struct frame_layout layout;
static struct event_base *base;
static struct dlink *ldl, *sdl;		/* listening (dst), dialing (src) */
/* the sealed suite's (dseal.h): NULL in the plain one */
static struct dseal_ctx *seal_dst, *seal_src;

static uint64_t	 applied, applied_pages;
static int	 connected, failed, writable;
static char	 fail_reason[512];

static void
make_file(char *path, size_t pathlen, int fill)
{
	uint8_t	*buf = calloc(NPAGES, PS);
	size_t	 i;
	int	 fd;

	snprintf(path, pathlen, "/dev/shm/vmig-test-dlink-XXXXXX");
	fd = mkstemp(path);
	cr_assert_neq(fd, -1);
	for (i = 0; fill && i < NPAGES; i++) {
		if (i % 7 == 0)
			continue;	/* zero pages */
		memset(buf + i * PS, (int)(i * 13 + 1) & 0xff, PS);
		buf[i * PS] = (uint8_t)(i + 1);
		buf[i * PS + 1] = (uint8_t)(i >> 8) | 0x80;
	}
	if (!fill)
		memset(buf, 0x5a, (size_t)NPAGES * PS);	/* stale contents */
	cr_assert_eq(write(fd, buf, (size_t)NPAGES * PS),
	    (ssize_t)NPAGES * PS);
	close(fd);
	free(buf);
}

static void
on_applied(void *arg, const struct dlink_applied *a)
{
	applied += a->bytes;
	applied_pages += a->pages;
	if (sdl != NULL)
		cr_assert_eq(dlink_acked(sdl, applied), 0);
}

static void
on_failed(void *arg, int err, const char *reason)
{
	failed = err;
	snprintf(fail_reason, sizeof fail_reason, "%s", reason);
}

static void
on_connected(void *arg)
{
	connected = 1;
}

static void
on_writable(void *arg)
{
	writable = 1;
}

static const struct dlink_ops dst_ops = {
	.applied = on_applied,
	.failed = on_failed,
};

static const struct dlink_ops src_ops = {
	.connected = on_connected,
	.writable = on_writable,
	.failed = on_failed,
};

static char	 url[256];

static void
setup(void)
{
	struct mem_region_spec s = { NULL, 0, 0x10000000, NPAGES * PS, PS };
	char	 err[256];

	make_file(src_path, sizeof src_path, 1);
	make_file(dst_path, sizeof dst_path, 0);
	s.path = src_path;
	/* writable: the tests rewrite pages as a device would */
	cr_assert_eq(mem_map_open(&src, &s, 1, MEM_MAP_WRITE, err,
	    sizeof err), 0, "%s",
	    err);
	s.path = dst_path;
	cr_assert_eq(mem_map_open(&dst, &s, 1, MEM_MAP_WRITE, err,
	    sizeof err), 0, "%s", err);
	xfer_layout(&dst, 0, fr, &layout);
	base = event_base_new();
	applied = applied_pages = 0;
	connected = failed = writable = 0;
	cr_assert_eq(dlink_listen(base, "tcp://127.0.0.1", &dst, &layout,
	    token, sizeof token, NULL, seal_dst, &dst_ops, NULL, &ldl, url,
	    sizeof url, err,
	    sizeof err), 0, "%s", err);
}

static void
teardown(void)
{
	dlink_close(sdl);
	dlink_close(ldl);
	sdl = ldl = NULL;
	event_base_free(base);
	mem_map_close(&src);
	mem_map_close(&dst);
	unlink(src_path);
	unlink(dst_path);
}

/* Run the loop until *flag or a failure (or the liveness bound). */
static void
run_until(const int *flag)
{
	struct timeval	 tick = { 0, 5000 };
	time_t		 end = time(NULL) + LIVENESS_S;

	while (!*flag && !failed) {
		cr_assert_lt(time(NULL), end, "the loop made no progress");
		event_base_loopexit(base, &tick);
		event_base_loop(base, EVLOOP_ONCE);
	}
}

/* One loop turn (at most a tick long). */
static void
run_once(void)
{
	struct timeval	 tick = { 0, 5000 };

	event_base_loopexit(base, &tick);
	event_base_loop(base, EVLOOP_ONCE);
}

/* Until `applied` reaches want (or a failure, or the liveness bound). */
static void
run_until_applied(uint64_t want)
{
	time_t	end = time(NULL) + LIVENESS_S;

	while (applied != want && !failed) {
		cr_assert_lt(time(NULL), end, "the loop made no progress");
		run_once();
	}
}

static void
dial(unsigned n)
{
	char	err[256];

	cr_assert_eq(dlink_dial(base, url, n, token, sizeof token, 4 << 20,
	    NULL, seal_src, &src_ops, NULL, &sdl, err, sizeof err), 0, "%s",
	    err);
	run_until(&connected);
	cr_assert_eq(failed, 0, "%s", fail_reason);
}

/* Queue every dirty page of the source region (no waiting for acks). */
static void
send_round(struct xfer_src *xs, uint32_t iteration)
{
	struct xfer_result res;
	uint64_t	 cursor = 0;
	int		 rc;

	for (;;) {
		rc = dlink_send(sdl, xs, &src.regions[0], &cursor, NULL,
		    iteration, &res);
		if (rc == -EAGAIN) {
			writable = 0;
			run_until(&writable);
			cr_assert_eq(failed, 0, "%s", fail_reason);
			continue;
		}
		cr_assert_eq(rc, 0);
		if (res.pages == 0 && res.end)
			break;
	}
}

/* The same, then wait until all landed. */
static void
send_all(struct xfer_src *xs, uint32_t iteration)
{
	send_round(xs, iteration);
	/* the runs' bytes: dlink_bytes() counts the wire's */
	run_until_applied(applied + dlink_unacked(sdl));
	cr_assert_eq(failed, 0, "%s", fail_reason);
}

static int
maps_equal(void)
{
	return (memcmp(src.regions[0].base, dst.regions[0].base,
	    (size_t)NPAGES * PS) == 0);
}

TestSuite(datalink, .init = setup, .fini = teardown);

static void
four_connections(void)
{
	struct xfer_src	 xs;
	uint64_t	 p;

	dial(4);
	xfer_src_init(&xs, 0, 0);
	pageset_fill(&src.regions[0].dirty);
	send_all(&xs, 1);
	cr_assert(maps_equal(), "the destination differs after round 1");
	cr_assert_eq(applied_pages, NPAGES);

	/* scattered single pages (staged copies) and a zeroed page */
	for (p = 3; p < NPAGES; p += 3) {
		src.regions[0].base[p * PS + 100] ^= 0xff;
		pageset_set(&src.regions[0].dirty, p);
	}
	memset(src.regions[0].base + 8 * PS, 0, PS);
	pageset_set(&src.regions[0].dirty, 8);
	send_all(&xs, 2);
	cr_assert(maps_equal(), "the destination differs after round 2");
	xfer_src_free(&xs);
}

Test(datalink, pages_over_four_connections_land_in_place)
{
	four_connections();
}

Test(datalink, a_page_always_takes_its_stripes_connection)
{
	uint64_t	 p, per = DLINK_STRIPE_BYTES / PS;
	unsigned	 seen[4] = { 0 }, c, i;

	for (p = 0; p < 16 * per; p++) {
		c = dlink_stripe_conn(0, p, 12, 4);
		cr_assert_lt(c, 4);
		/* every page of a stripe with its first page */
		cr_assert_eq(c, dlink_stripe_conn(0, p - p % per, 12, 4));
		seen[c]++;
	}
	for (i = 0; i < 4; i++)
		cr_assert_eq(seen[i], 4 * per, "connection %u", i);
	/* 2 MiB pages: one page is a stripe of its own */
	cr_assert_neq(dlink_stripe_conn(1, 0, 21, 2),
	    dlink_stripe_conn(1, 1, 21, 2));
}

/*
 * A page rewritten while its earlier copies are still in flight: each
 * copy is staged (one page), the sends never wait for acks, and other
 * stripes keep every connection busy. The destination must end with the
 * last version (a copy on another connection could overtake it).
 */
static void
rewritten_page(void)
{
	struct xfer_src	 xs;
	uint8_t		*hot = src.regions[0].base + 5 * PS;
	uint32_t	 v;
	int		 k;

	dial(4);
	xfer_src_init(&xs, 0, 0);
	pageset_fill(&src.regions[0].dirty);
	send_all(&xs, 1);
	for (v = 1; v <= 300; v++) {
		memset(hot, (int)(v & 0xff), PS);
		memcpy(hot, &v, sizeof v);
		pageset_set(&src.regions[0].dirty, 5);
		/* big batches in one to three other stripes ride along:
		 * connections stay busy, a round's batch count varies */
		for (k = 1; k <= (int)(v % 3) + 1; k++)
			pageset_set_range(&src.regions[0].dirty,
			    (uint64_t)k * 256, 200);
		send_round(&xs, 2);
		event_base_loop(base, EVLOOP_NONBLOCK);
	}
	send_all(&xs, 3);	/* waits for everything */
	memcpy(&v, dst.regions[0].base + 5 * PS, sizeof v);
	cr_assert_eq(v, 300, "page 5 holds version %u, not the last (300)",
	    v);
	cr_assert(maps_equal());
	xfer_src_free(&xs);
}

Test(datalink, a_rewritten_page_ends_as_its_last_copy)
{
	rewritten_page();
}

/* ---- a hostile peer on a raw socket ---------------------------------- */

static int
raw_connect(void)
{
	struct sockaddr_in sin;
	const char	*colon = strrchr(url, ':');
	int		 fd, one = 1;

	memset(&sin, 0, sizeof sin);
	sin.sin_family = AF_INET;
	sin.sin_port = htons((uint16_t)atoi(colon + 1));
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	fd = socket(AF_INET, SOCK_STREAM, 0);
	cr_assert_neq(fd, -1);
	cr_assert_eq(connect(fd, (struct sockaddr *)&sin, sizeof sin), 0);
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
	return (fd);
}

static void
raw_write(int fd, const void *buf, size_t len)
{
	cr_assert_eq(write(fd, buf, len), (ssize_t)len);
}

static void
raw_hello(int fd, const uint8_t *tok, size_t toklen)
{
	StreamFrame	 f = VMIG__STREAM__V1__FRAME__INIT;
	Vmig__Stream__V1__DataHello h = VMIG__STREAM__V1__DATA_HELLO__INIT;
	uint8_t		 buf[256];
	size_t		 n;

	h.token.data = (uint8_t *)tok;
	h.token.len = toklen;
	f.kind_case = VMIG__STREAM__V1__FRAME__KIND_DATA_HELLO;
	f.data_hello = &h;
	n = frame_encode_header(&f, buf, sizeof buf);
	cr_assert_neq(n, 0);
	raw_write(fd, buf, n);
}

/* A batch header for `count` data pages from `first`, seq 1; codec and
 * wire: a compressed batch's (0, 0: none). */
static size_t
raw_zbatch(uint8_t *buf, size_t buflen, uint64_t first, uint32_t count,
    uint64_t payload_bytes, uint32_t codec, uint64_t wire)
{
	StreamFrame	 f = VMIG__STREAM__V1__FRAME__INIT;
	StreamPageBatch	 b = VMIG__STREAM__V1__PAGE_BATCH__INIT;
	StreamPageRun	 r = VMIG__STREAM__V1__PAGE_RUN__INIT, *rp = &r;
	size_t		 n;

	r.first = first;
	r.count = count;
	b.seq = 1;
	b.runs = &rp;
	b.n_runs = 1;
	b.payload_bytes = payload_bytes;
	b.codec = codec;
	b.wire_bytes = wire;
	f.kind_case = VMIG__STREAM__V1__FRAME__KIND_PAGES;
	f.pages = &b;
	n = frame_encode_header(&f, buf, buflen);
	cr_assert_neq(n, 0);
	return (n);
}

static size_t
raw_batch(uint8_t *buf, size_t buflen, uint64_t first, uint32_t count,
    uint64_t payload_bytes)
{
	return (raw_zbatch(buf, buflen, first, count, payload_bytes, 0, 0));
}

static int
dst_untouched(void)
{
	size_t	i;

	for (i = 0; i < (size_t)NPAGES * PS; i++) {
		if (dst.regions[0].base[i] != 0x5a)
			return (0);
	}
	return (1);
}

/* The peer's socket is closed by the destination (read sees EOF). */
static void
wait_closed_by_dst(int fd)
{
	struct timeval	 tv = { 0, 0 };
	uint8_t		 b;
	time_t		 end = time(NULL) + LIVENESS_S;
	ssize_t		 n;

	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
	for (;;) {
		event_base_loop(base, EVLOOP_NONBLOCK);
		n = recv(fd, &b, 1, MSG_DONTWAIT);
		if (n == 0 || (n == -1 && errno == ECONNRESET))
			return;
		cr_assert_lt(time(NULL), end, "the peer was not closed");
		usleep(2000);
	}
}

static void
pages_without(const uint8_t *tok, size_t toklen)
{
	uint8_t		 hdr[512], *payload = malloc(2 * PS);
	size_t		 n;
	int		 fd;

	memset(payload, 0xee, 2 * PS);
	fd = raw_connect();
	if (tok != NULL)
		raw_hello(fd, tok, toklen);
	n = raw_batch(hdr, sizeof hdr, 10, 2, 2 * PS);
	/* either may meet the refusal's close already (EPIPE, no signal) */
	(void)send(fd, hdr, n, MSG_NOSIGNAL);
	(void)send(fd, payload, 2 * PS, MSG_NOSIGNAL);
	wait_closed_by_dst(fd);
	cr_assert_eq(failed, 0, "a refused peer must not end the link: %s",
	    fail_reason);
	cr_assert(dst_untouched(), "a peer without the token wrote memory");
	cr_assert_eq(applied, 0);
	close(fd);
	free(payload);
}

Test(datalink, pages_before_the_token_are_refused)
{
	pages_without(NULL, 0);
}

Test(datalink, pages_after_a_wrong_token_are_refused)
{
	static const uint8_t wrong[16] = "0123456789abcdeX";

	pages_without(wrong, sizeof wrong);
}

static void
expect_failure(const char *what)
{
	run_until(&failed);
	cr_assert_neq(failed, 0);
	cr_assert(strstr(fail_reason, what) != NULL, "reason: %s",
	    fail_reason);
}

Test(datalink, a_header_lying_about_its_payload_writes_nothing)
{
	uint8_t		 hdr[512], *payload = calloc(2, PS);
	size_t		 n;
	int		 fd;

	fd = raw_connect();
	raw_hello(fd, token, sizeof token);
	/* one page in the runs, two pages of payload declared and sent */
	n = raw_batch(hdr, sizeof hdr, 10, 1, 2 * PS);
	raw_write(fd, hdr, n);
	raw_write(fd, payload, 2 * PS);
	expect_failure("payload");
	cr_assert(dst_untouched(), "a lying header wrote memory");
	close(fd);
	free(payload);
}

Test(datalink, a_run_outside_the_region_writes_nothing)
{
	uint8_t		 hdr[512], *payload = calloc(2, PS);
	size_t		 n;
	int		 fd;

	fd = raw_connect();
	raw_hello(fd, token, sizeof token);
	n = raw_batch(hdr, sizeof hdr, NPAGES - 1, 2, 2 * PS);
	raw_write(fd, hdr, n);
	raw_write(fd, payload, 2 * PS);
	expect_failure("outside region");
	cr_assert(dst_untouched(), "a run outside the region wrote memory");
	close(fd);
	free(payload);
}

Test(datalink, a_peer_stopping_inside_a_payload_fails_the_link)
{
	uint8_t		 hdr[512], *payload = malloc(4 * PS);
	size_t		 n;
	int		 fd;

	memset(payload, 0x11, 4 * PS);
	fd = raw_connect();
	raw_hello(fd, token, sizeof token);
	n = raw_batch(hdr, sizeof hdr, 20, 4, 4 * PS);
	raw_write(fd, hdr, n);
	raw_write(fd, payload, PS + PS / 2);
	close(fd);
	expect_failure("inside a frame");
	cr_assert_eq(applied, 0, "a partial batch was reported applied");
	free(payload);
}

Test(datalink, a_frame_in_small_pieces_lands_whole)
{
	uint8_t		 hdr[512], *payload = malloc(3 * PS), *all;
	size_t		 n, off;
	int		 fd;

	for (off = 0; off < 3 * PS; off++)
		payload[off] = (uint8_t)(off * 31 + 7);
	fd = raw_connect();
	raw_hello(fd, token, sizeof token);
	n = raw_batch(hdr, sizeof hdr, 40, 3, 3 * PS);
	all = malloc(n + 3 * PS);
	memcpy(all, hdr, n);
	memcpy(all + n, payload, 3 * PS);
	/* odd sizes, the loop running between them: every read is short */
	for (off = 0; off < n + 3 * PS; ) {
		size_t	k = MIN((size_t)(off % 3 == 0 ? 1 : 1000),
		    n + 3 * PS - off);

		raw_write(fd, all + off, k);
		off += k;
		event_base_loop(base, EVLOOP_NONBLOCK);
		usleep(200);
	}
	run_until_applied(3 * PS);
	cr_assert_eq(failed, 0, "%s", fail_reason);
	cr_assert_eq(memcmp(dst.regions[0].base + 40 * PS, payload, 3 * PS),
	    0);
	cr_assert_eq(dst.regions[0].base[39 * PS], 0x5a);
	cr_assert_eq(dst.regions[0].base[43 * PS], 0x5a);
	close(fd);
	free(all);
	free(payload);
}

/* ---- compression ------------------------------------------------------ */

static void
compressed_round_trip(int mode, unsigned nconns)
{
	struct xfer_src	 xs;
	uint64_t	 in, out, din, dout;

	dial(nconns);
	dlink_set_compression(sdl, mode, CZ_CODECS);
	xfer_src_init(&xs, 0, 0);
	pageset_fill(&src.regions[0].dirty);
	send_all(&xs, 1);
	cr_assert(maps_equal(), "the destination differs");
	dlink_compressed(sdl, &in, &out);
	dlink_compressed(ldl, &din, &dout);
	cr_assert_gt(in, 0, "nothing was compressed");
	cr_assert_lt(out, in / 4, "%llu bytes compressed to %llu",
	    (unsigned long long)in, (unsigned long long)out);
	cr_assert_eq(din, in);
	cr_assert_eq(dout, out);
	cr_assert_eq(dlink_bytes(sdl), dlink_bytes(ldl));
	cr_assert_lt(dlink_bytes(sdl), applied / 4, "wire %llu, runs %llu",
	    (unsigned long long)dlink_bytes(sdl), (unsigned long long)applied);
	xfer_src_free(&xs);
}

Test(datalink, lz4_batches_land_byte_for_byte)
{
	compressed_round_trip(CZ_MODE_LZ4, 2);
}

Test(datalink, zstd_batches_land_byte_for_byte)
{
	compressed_round_trip(CZ_MODE_ZSTD, 3);
}

Test(datalink, random_pages_go_raw_and_land)
{
	struct xfer_src	 xs;
	uint64_t	 in, out, half = NPAGES / 2;
	uint32_t	 x = 88172645u;
	size_t		 i;

	/* the first half as make_file() wrote it, the second random */
	for (i = half * PS; i < NPAGES * PS; i++) {
		x ^= x << 13;
		x ^= x >> 17;
		x ^= x << 5;
		src.regions[0].base[i] = (uint8_t)x;
	}
	dial(1);
	dlink_set_compression(sdl, CZ_MODE_LZ4, CZ_CODECS);
	xfer_src_init(&xs, 0, 0);
	pageset_fill(&src.regions[0].dirty);
	send_all(&xs, 1);
	cr_assert(maps_equal(), "the destination differs");
	dlink_compressed(sdl, &in, &out);
	/* the compressible half compressed, never the random half */
	cr_assert_gt(in, 0);
	cr_assert_leq(in, half * PS);
	cr_assert_lt(out, in / 4);
	xfer_src_free(&xs);
}

/* A hostile compressed batch: the link fails saying `what`, nothing
 * lands. */
static void
zbatch_fails(uint32_t codec, const uint8_t *blk, size_t len, uint64_t wire,
    const char *what)
{
	uint8_t		 hdr[512];
	size_t		 n;
	int		 fd;

	fd = raw_connect();
	raw_hello(fd, token, sizeof token);
	n = raw_zbatch(hdr, sizeof hdr, 10, 2, 2 * PS, codec, wire);
	raw_write(fd, hdr, n);
	(void)send(fd, blk, len, MSG_NOSIGNAL);
	expect_failure(what);
	cr_assert(dst_untouched(), "a hostile compressed batch wrote memory");
	cr_assert_eq(applied, 0);
	close(fd);
}

Test(datalink, a_corrupt_lz4_block_writes_nothing)
{
	uint8_t	blk[1000];

	memset(blk, 0xff, sizeof blk);
	zbatch_fails(CZ_LZ4, blk, sizeof blk, sizeof blk, "corrupt lz4");
}

Test(datalink, a_corrupt_zstd_frame_writes_nothing)
{
	uint8_t	blk[1000];

	memset(blk, 0x5c, sizeof blk);
	zbatch_fails(CZ_ZSTD, blk, sizeof blk, sizeof blk, "corrupt zstd");
}

Test(datalink, a_block_decoding_to_one_page_for_two_writes_nothing)
{
	uint8_t	page[PS], blk[LZ4_COMPRESSBOUND(PS)];
	int	n;

	memset(page, 0x42, sizeof page);
	n = LZ4_compress_default((const char *)page, (char *)blk, PS,
	    (int)sizeof blk);
	cr_assert_gt(n, 0);
	zbatch_fails(CZ_LZ4, blk, (size_t)n, (uint64_t)n,
	    "decodes to 4096 bytes, not the 8192");
}

Test(datalink, an_unknown_codec_fails)
{
	uint8_t	blk[2 * PS];

	memset(blk, 0, sizeof blk);
	zbatch_fails(7, blk, 100, 100, "codec 7 is unknown");
}

Test(datalink, a_block_as_long_as_its_runs_fails)
{
	uint8_t	blk[2 * PS];

	memset(blk, 0, sizeof blk);
	zbatch_fails(CZ_LZ4, blk, sizeof blk, sizeof blk,
	    "must be shorter than its runs");
}

/* ---- sealed connections (dseal.h) ------------------------------------ */

static void
sealed_contexts(const struct id *source)
{
	char	err[256];

	cr_assert_eq(dseal_ctx_new(TLS_SERVER, ca.cert_pem, server.cert_pem,
	    server.key_pem, NULL, &seal_dst, err, sizeof err), 0, "%s", err);
	cr_assert_eq(dseal_ctx_new(TLS_CLIENT, ca.cert_pem, source->cert_pem,
	    source->key_pem, "127.0.0.1", &seal_src, err, sizeof err), 0, "%s",
	    err);
}

static void
setup_sealed(void)
{
	ids_make();
	sealed_contexts(&client);
	setup();
}

static void
teardown_sealed(void)
{
	teardown();
	dseal_ctx_free(seal_dst);
	dseal_ctx_free(seal_src);
	seal_dst = seal_src = NULL;
	ids_free();
}

TestSuite(sealed, .init = setup_sealed, .fini = teardown_sealed);

Test(sealed, pages_over_four_connections_land_in_place)
{
	cr_assert(strncmp(url, "tcp://", 6) == 0, "listening on %s", url);
	four_connections();
}

Test(sealed, a_rewritten_page_ends_as_its_last_copy)
{
	rewritten_page();
}

Test(sealed, lz4_batches_land_byte_for_byte)
{
	compressed_round_trip(CZ_MODE_LZ4, 2);
}

/* The plain path's greeting and pages, token and all, are no handshake. */
Test(sealed, a_plain_peer_with_the_token_is_refused)
{
	pages_without(token, sizeof token);
}

Test(sealed, another_cas_source_fails_and_writes_nothing)
{
	char	err[256];

	/* the listener keeps its own reference to the destination's */
	dseal_ctx_free(seal_src);
	dseal_ctx_free(seal_dst);
	sealed_contexts(&stranger);
	cr_assert_eq(dlink_dial(base, url, 2, token, sizeof token, 4 << 20,
	    NULL, seal_src, &src_ops, NULL, &sdl, err, sizeof err), 0, "%s",
	    err);
	expect_failure("refused this host's certificate");
	cr_assert_eq(connected, 0);
	cr_assert(dst_untouched());
	cr_assert_eq(applied, 0);
}

Test(sealed, a_destination_of_another_name_fails_the_link)
{
	char	err[256];

	dseal_ctx_free(seal_src);
	cr_assert_eq(dseal_ctx_new(TLS_CLIENT, ca.cert_pem, client.cert_pem,
	    client.key_pem, "127.0.0.9", &seal_src, err, sizeof err), 0, "%s",
	    err);
	cr_assert_eq(dlink_dial(base, url, 1, token, sizeof token, 4 << 20,
	    NULL, seal_src, &src_ops, NULL, &sdl, err, sizeof err), 0, "%s",
	    err);
	expect_failure("refused the destination's certificate");
	cr_assert(dst_untouched());
}
