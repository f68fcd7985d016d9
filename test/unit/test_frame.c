/*
 * test_frame.c: the frame codec (round trips of every kind, truncations,
 * lying header lengths, oversize headers, hostile protobuf) and every
 * validation rule against a prepared layout.
 */
#include <criterion/criterion.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "delta.h"
#include "frame.h"
#include "util.h"

#define KIND(k)	VMIG__STREAM__V1__FRAME__KIND_##k

/* Encode hdr + payload into a fresh buffer. */
static uint8_t *
encode(const StreamFrame *hdr, const void *payload, size_t plen,
    size_t *lenp)
{
	size_t	 h = frame_header_size(hdr);
	uint8_t	*buf = malloc(h + plen + 1);

	cr_assert_eq(frame_encode_header(hdr, buf, h), h);
	if (plen != 0)
		memcpy(buf + h, payload, plen);
	*lenp = h + plen;
	return (buf);
}

static void
decode_ok(struct frame *f, const uint8_t *buf, size_t len)
{
	char	 err[256] = "";

	cr_assert_eq(frame_decode(f, buf, len, 0, err, sizeof err), 0, "%s",
	    err);
}

Test(frame, round_trip_every_kind)
{
	Vmig__Stream__V1__Hello hello = VMIG__STREAM__V1__HELLO__INIT;
	Vmig__Stream__V1__RegionLayout rl = VMIG__STREAM__V1__REGION_LAYOUT__INIT;
	Vmig__Stream__V1__RegionLayout *rlp = &rl;
	Vmig__Stream__V1__DeviceLayout dl = VMIG__STREAM__V1__DEVICE_LAYOUT__INIT;
	Vmig__Stream__V1__DeviceLayout *dlp = &dl;
	Vmig__Stream__V1__HelloAck ha = VMIG__STREAM__V1__HELLO_ACK__INIT;
	StreamPageBatch pb = VMIG__STREAM__V1__PAGE_BATCH__INIT;
	StreamPageRun r1 = VMIG__STREAM__V1__PAGE_RUN__INIT, r2 = r1;
	StreamPageRun *runs[2] = { &r1, &r2 };
	StreamStateChunk sc = VMIG__STREAM__V1__STATE_CHUNK__INIT;
	Vmig__Stream__V1__Switchover sw = VMIG__STREAM__V1__SWITCHOVER__INIT;
	Vmig__Stream__V1__Done dn = VMIG__STREAM__V1__DONE__INIT;
	Vmig__Stream__V1__Abort ab = VMIG__STREAM__V1__ABORT__INIT;
	Vmig__Stream__V1__Ack ack = VMIG__STREAM__V1__ACK__INIT;
	StreamFrame fr[8];
	uint8_t		 token[4] = { 1, 2, 3, 4 }, payload[8192], *buf;
	static const char *const names[] = { "hello", "hello-ack", "pages",
	    "state", "switchover", "done", "abort", "ack" };
	struct frame	 f;
	size_t		 len, i, plen;

	for (i = 0; i < sizeof payload; i++)
		payload[i] = (uint8_t)(i * 13);
	for (i = 0; i < 8; i++)
		vmig__stream__v1__frame__init(&fr[i]);

	rl.index = 0;
	rl.iova = 0x100000;
	rl.length = 1 << 20;
	hello.protocol_version = STREAM_PROTOCOL_VERSION;
	hello.token.data = token;
	hello.token.len = sizeof token;
	hello.source_job_id = 77;
	dl.source_device = "pf0/vf3";
	dl.device_type = "virtio-net";
	dl.interface = "virtio-admin/draft";
	dl.state_max_bytes = 1 << 20;
	hello.n_devices = 1;
	hello.devices = &dlp;
	hello.n_regions = 1;
	hello.regions = &rlp;
	hello.page_size = 4096;
	hello.verify = 1;
	fr[0].kind_case = KIND(HELLO);
	fr[0].hello = &hello;
	ha.protocol_version = STREAM_PROTOCOL_VERSION;
	ha.window_bytes = 64 << 20;
	fr[1].kind_case = KIND(HELLO_ACK);
	fr[1].hello_ack = &ha;
	r1.first = 5;
	r1.count = 2;
	r2.first = 10;
	r2.count = 100;
	r2.zero = 1;
	pb.seq = 9;
	pb.region = 0;
	pb.n_runs = 2;
	pb.runs = runs;
	pb.iteration = 3;
	fr[2].kind_case = KIND(PAGES);
	fr[2].pages = &pb;
	sc.seq = 10;
	sc.offset = 0;
	sc.total = 100;
	sc.last = 1;
	sc.generation = 2;
	fr[3].kind_case = KIND(STATE);
	fr[3].state = &sc;
	sw.seq = 11;
	sw.memory_digest = 0x1234567890abcdefULL;
	fr[4].kind_case = KIND(SWITCHOVER);
	fr[4].switchover = &sw;
	dn.verified = 1;
	dn.load_time_us = 1500;
	fr[5].kind_case = KIND(DONE);
	fr[5].done = &dn;
	ab.code = VMIG__STREAM__V1__ABORT__CODE__CODE_PROTOCOL;
	ab.reason = "bad run";
	fr[6].kind_case = KIND(ABORT);
	fr[6].abort = &ab;
	ack.seq = 9;
	ack.bytes = 8192;
	fr[7].kind_case = KIND(ACK);
	fr[7].ack = &ack;

	frame_init(&f);
	for (i = 0; i < 8; i++) {
		plen = i == 2 ? 8192 : i == 3 ? 100 : 0;
		buf = encode(&fr[i], payload, plen, &len);
		decode_ok(&f, buf, len);
		cr_assert_eq(f.hdr->kind_case, fr[i].kind_case);
		cr_assert_eq(f.payload_len, plen);
		cr_assert_eq(f.hdr_len + FRAME_PREFIX + plen, len);
		if (plen != 0)
			cr_assert_eq(memcmp(f.payload, payload, plen), 0);
		else
			cr_assert_null(f.payload);
		switch (f.hdr->kind_case) {
		case KIND(HELLO):
			cr_assert_eq(f.hdr->hello->source_job_id, 77);
			cr_assert_eq(f.hdr->hello->n_devices, 1);
			cr_assert_str_eq(f.hdr->hello->devices[0]->device_type,
			    "virtio-net");
			cr_assert_eq(f.hdr->hello->token.len, 4);
			cr_assert_eq(f.hdr->hello->n_regions, 1);
			cr_assert_eq(f.hdr->hello->regions[0]->length, 1 << 20);
			break;
		case KIND(HELLO_ACK):
			cr_assert_eq(f.hdr->hello_ack->window_bytes, 64 << 20);
			break;
		case KIND(PAGES):
			cr_assert_eq(f.hdr->pages->n_runs, 2);
			cr_assert_eq(f.hdr->pages->runs[1]->count, 100);
			cr_assert(f.hdr->pages->runs[1]->zero);
			cr_assert_eq(frame_seq(f.hdr), 9);
			break;
		case KIND(STATE):
			cr_assert_eq(f.hdr->state->generation, 2);
			cr_assert_eq(frame_seq(f.hdr), 10);
			break;
		case KIND(SWITCHOVER):
			cr_assert_eq(f.hdr->switchover->memory_digest,
			    0x1234567890abcdefULL);
			cr_assert_eq(frame_seq(f.hdr), 11);
			break;
		case KIND(DONE):
			cr_assert_eq(f.hdr->done->load_time_us, 1500);
			cr_assert_eq(frame_seq(f.hdr), 0);
			break;
		case KIND(ABORT):
			cr_assert_str_eq(f.hdr->abort->reason, "bad run");
			break;
		case KIND(ACK):
			cr_assert_eq(f.hdr->ack->bytes, 8192);
			break;
		default:
			cr_assert_fail("unexpected kind");
		}
		cr_assert_str_eq(frame_kind_name(f.hdr->kind_case), names[i]);

		/* Every truncation fails cleanly, or (cut payload) decodes
		 * with a shorter payload that validation then rejects. */
		for (size_t cut = 0; cut < len; cut++) {
			uint8_t *t = malloc(cut ? cut : 1);
			char	 err[256] = "";
			int	 rc;

			memcpy(t, buf, cut);
			rc = frame_decode(&f, t, cut, 0, err, sizeof err);
			if (cut < len - plen) {
				cr_assert_neq(rc, 0, "kind %zu cut %zu", i, cut);
				cr_assert_null(f.hdr);
				cr_assert_neq(err[0], 0);
			} else {
				cr_assert_eq(rc, 0);
				cr_assert_eq(f.payload_len, cut - (len - plen));
			}
			free(t);
		}
		free(buf);
	}
	cr_assert_str_eq(frame_kind_name(0), "unset");
	cr_assert_str_eq(frame_kind_name(99), "unknown");
	cr_assert_str_eq(frame_kind_name(-1), "unknown");
	frame_free(&f);
}

Test(frame, header_length_lies)
{
	uint8_t		 buf[64];
	struct frame	 f;
	char		 err[256];
	int		 rc;

	frame_init(&f);
	memset(buf, 0, sizeof buf);
	/* shorter than the prefix */
	rc = frame_decode(&f, buf, 3, 0, err, sizeof err);
	cr_assert_eq(rc, -EBADMSG);
	cr_assert(strstr(err, "shorter than its 4-byte header length"), "%s",
	    err);
	/* declares more than follows */
	put_le32(buf, 61);
	rc = frame_decode(&f, buf, 64, 0, err, sizeof err);
	cr_assert_eq(rc, -EBADMSG);
	cr_assert(strstr(err, "header length 61 exceeds the 60 bytes"), "%s",
	    err);
	/* huge */
	put_le32(buf, 0xffffffff);
	rc = frame_decode(&f, buf, 64, 0, err, sizeof err);
	cr_assert_eq(rc, -EMSGSIZE);
	cr_assert(strstr(err, "4294967295 bytes exceeds the limit"), "%s", err);
	/* caller's tighter bound */
	put_le32(buf, 40);
	rc = frame_decode(&f, buf, 64, 32, err, sizeof err);
	cr_assert_eq(rc, -EMSGSIZE);
	/* empty header */
	put_le32(buf, 0);
	rc = frame_decode(&f, buf, 64, 0, err, sizeof err);
	cr_assert_eq(rc, -EBADMSG);
	cr_assert(strstr(err, "empty"), "%s", err);
	/* garbage protobuf: a field with wire type 7 */
	put_le32(buf, 4);
	buf[4] = 0x0f;
	buf[5] = buf[6] = buf[7] = 0xff;
	rc = frame_decode(&f, buf, 8, 0, err, sizeof err);
	cr_assert_eq(rc, -EBADMSG);
	cr_assert(strstr(err, "not a valid Frame message"), "%s", err);
	/* a valid message of an unknown kind (field 15, varint) */
	put_le32(buf, 2);
	buf[4] = (15 << 3) | 0;
	buf[5] = 1;
	rc = frame_decode(&f, buf, 6, 0, err, sizeof err);
	cr_assert_eq(rc, -EBADMSG);
	cr_assert(strstr(err, "no known frame kind"), "%s", err);
	cr_assert_null(f.hdr);
	frame_free(&f);
}

Test(frame, hostile_header_is_bounded)
{
	/* A PageBatch of the maximum header size made of empty runs: the
	 * densest allocation protobuf-c can be asked for. It must decode
	 * (or fail) within the arena, never allocate without bound. */
	size_t		 hlen = FRAME_HDR_MAX, inner, i, n;
	uint8_t		*buf = malloc(FRAME_PREFIX + hlen);
	struct frame	 f;
	char		 err[256] = "";
	int		 rc;

	/* Frame.pages (field 3, len) { PageBatch.runs (3, len) {} ... } */
	inner = hlen - 1 - 3;		/* tag + 3-byte length */
	inner -= inner % 2;
	n = 0;
	buf[FRAME_PREFIX + n++] = (3 << 3) | 2;
	buf[FRAME_PREFIX + n++] = (uint8_t)(0x80 | (inner & 0x7f));
	buf[FRAME_PREFIX + n++] = (uint8_t)(0x80 | ((inner >> 7) & 0x7f));
	buf[FRAME_PREFIX + n++] = (uint8_t)(inner >> 14);
	for (i = 0; i < inner / 2; i++) {
		buf[FRAME_PREFIX + n++] = (3 << 3) | 2;
		buf[FRAME_PREFIX + n++] = 0;
	}
	put_le32(buf, (uint32_t)n);
	frame_init(&f);
	rc = frame_decode(&f, buf, FRAME_PREFIX + n, 0, err, sizeof err);
	cr_assert_eq(rc, 0, "%s", err);
	cr_assert_eq(f.hdr->pages->n_runs, inner / 2);
	cr_assert_leq(f.arena_cap, 64 * n + 4096);
	frame_free(&f);
	free(buf);
}

/* Two regions: 100 pages of 4 KiB, 10 pages of 2 MiB. */
static const struct frame_region regions[] = {
	{ 0, 100 * 4096, 100, 4096 },
	{ 1 << 30, 10 << 21, 10, 2 << 20 },
};
static const struct frame_layout layout = {
	regions, 2, 1 << 20, 16, 64 << 20
};

/* rc 0 when substr is NULL, else -EPROTO with substr in err. */
static void
want_rc(int rc, const char *err, const char *substr)
{
	if (substr == NULL)
		cr_assert_eq(rc, 0, "%s", err);
	else {
		cr_assert_eq(rc, -EPROTO, "expected \"%s\"", substr);
		cr_assert(strstr(err, substr) != NULL, "\"%s\" lacks \"%s\"",
		    err, substr);
	}
}

static int
check_runs(uint32_t region, const uint64_t (*r)[3], size_t n, size_t plen,
    const char *substr)
{
	StreamPageBatch	 pb = VMIG__STREAM__V1__PAGE_BATCH__INIT;
	StreamPageRun	 runs[32], *rp[32];
	char		 err[512] = "";
	size_t		 i;
	int		 rc;

	for (i = 0; i < n; i++) {
		vmig__stream__v1__page_run__init(&runs[i]);
		runs[i].first = r[i][0];
		runs[i].count = (uint32_t)r[i][1];
		runs[i].zero = (int)r[i][2];
		rp[i] = &runs[i];
	}
	pb.seq = 5;
	pb.region = region;
	pb.n_runs = n;
	pb.runs = rp;
	rc = frame_check_pages(&layout, &pb, plen, err, sizeof err);
	want_rc(rc, err, substr);
	return (rc);
}

Test(frame, check_pages_rules)
{
	const uint64_t ok[][3] = { { 0, 2, 0 }, { 2, 5, 1 }, { 99, 1, 0 } };
	const uint64_t empty[][3] = { { 3, 0, 0 } };
	const uint64_t past[][3] = { { 99, 2, 0 } };
	const uint64_t start[][3] = { { 100, 1, 1 } };
	const uint64_t wrap[][3] = { { UINT64_MAX - 1, 4, 0 } };
	const uint64_t overlap[][3] = { { 10, 5, 0 }, { 14, 1, 0 } };
	const uint64_t back[][3] = { { 10, 5, 0 }, { 2, 1, 0 } };
	const uint64_t zeros[][3] = { { 0, 100, 1 } };
	const uint64_t huge[][3] = { { 0, 10, 0 } };
	uint64_t many[17][3];
	size_t	 i;

	check_runs(0, ok, 3, 3 * 4096, NULL);
	check_runs(0, zeros, 1, 0, NULL);
	check_runs(1, huge, 1, (size_t)10 << 21, NULL);
	check_runs(2, ok, 3, 3 * 4096, "names region 2, but 2 regions");
	check_runs(0, ok, 0, 0, "has no runs");
	check_runs(0, empty, 1, 0, "run 0 in region 0 is empty");
	check_runs(0, past, 1, 2 * 4096, "run 0 (pages 99..100) is outside "
	    "region 0 of 100 pages");
	check_runs(0, start, 1, 0, "is outside region 0");
	check_runs(0, wrap, 1, 4 * 4096, "is outside region 0");
	check_runs(0, overlap, 2, 6 * 4096, "overlaps or precedes");
	check_runs(0, back, 2, 6 * 4096, "overlaps or precedes");
	check_runs(0, ok, 3, 3 * 4096 - 1, "need 12288 payload bytes, the "
	    "frame carries 12287");
	check_runs(0, ok, 3, 4 * 4096, "the frame carries 16384");
	check_runs(0, zeros, 1, 4096, "0 non-zero pages");
	for (i = 0; i < 17; i++) {
		many[i][0] = i;
		many[i][1] = 1;
		many[i][2] = 1;
	}
	check_runs(0, many, 16, 0, NULL);
	check_runs(0, many, 17, 0, "has 17 runs, more than the limit of 16");
}

static int
chunk(struct frame_state_pos *pos, uint32_t gen, uint64_t off,
    uint64_t total, int last, size_t len, const char *substr)
{
	StreamStateChunk sc = VMIG__STREAM__V1__STATE_CHUNK__INIT;
	char	 err[512] = "";
	int	 rc;

	sc.seq = 1;
	sc.generation = gen;
	sc.offset = off;
	sc.total = total;
	sc.last = last;
	rc = frame_check_state(&layout, pos, &sc, len, err, sizeof err);
	if (substr == NULL) {
		cr_assert_eq(rc, 0, "%s", err);
		frame_state_accept(pos, &sc, len);
	} else {
		cr_assert_eq(rc, -EPROTO, "expected \"%s\"", substr);
		cr_assert(strstr(err, substr) != NULL, "\"%s\" lacks \"%s\"",
		    err, substr);
	}
	return (rc);
}

Test(frame, check_state_rules)
{
	struct frame_state_pos pos;
	struct frame_state_pos before;

	memset(&pos, 0, sizeof pos);
	chunk(&pos, 1, 10, 0, 0, 100, "starts generation 1 at offset 10");
	chunk(&pos, 1, 0, 0, 0, 100, NULL);
	before = pos;
	chunk(&pos, 1, 50, 0, 0, 100, "not contiguous: offset 50, expected "
	    "100");
	cr_assert_eq(memcmp(&before, &pos, sizeof pos), 0, "checks write "
	    "nothing");
	chunk(&pos, 1, 100, 300, 0, 100, NULL);
	chunk(&pos, 1, 200, 400, 0, 50, "declares 400 bytes, earlier chunks 300");
	chunk(&pos, 1, 200, 0, 0, 150, "past the image size 300");
	chunk(&pos, 1, 200, 0, 1, 50, "is the last but ends at 250");
	chunk(&pos, 1, 200, 0, 0, 0, "empty and not the last");
	chunk(&pos, 1, 200, 300, 1, 100, NULL);
	cr_assert(pos.complete);
	chunk(&pos, 1, 300, 0, 0, 10, "follows the last chunk");
	chunk(&pos, 0, 0, 0, 0, 10, "generation 0, older than the current 1");
	/* a new generation restarts at 0 */
	chunk(&pos, 2, 100, 0, 0, 10, "starts generation 2 at offset 100");
	chunk(&pos, 2, 0, 0, 0, 10, NULL);
	cr_assert_eq(pos.generation, 2);
	cr_assert_eq(pos.next, 10);
	cr_assert(!pos.complete);
	/* limits */
	chunk(&pos, 2, 10, 0, 0, (1 << 20), "goes past the state limit of "
	    "1048576");
	chunk(&pos, 2, 10, (1 << 20) + 1, 0, 10, "over the state limit");
	chunk(&pos, 2, UINT64_MAX - 5, 0, 0, 10, "goes past the state limit");
	chunk(&pos, 2, 10, 15, 0, 10, "past the declared image size 15");
	chunk(&pos, 2, 10, 0, 1, 0, NULL);	/* empty last chunk is fine */
	cr_assert(pos.complete);
	/* an empty image */
	memset(&pos, 0, sizeof pos);
	chunk(&pos, 0, 0, 0, 1, 0, NULL);
	cr_assert(pos.complete && pos.started);
}

/*
 * A PageDelta for region with n entries { page, off, len } and extra
 * bytes beyond (or, negative, short of) the entries' sum, through the
 * whole path: encoded, decoded, frame_check(). substr NULL: accepted.
 */
static void
check_delta(uint32_t region, uint32_t n_hdr, const uint64_t (*e)[3],
    size_t n, long extra, size_t pad, const char *substr)
{
	StreamPageDelta	 pd = VMIG__STREAM__V1__PAGE_DELTA__INIT;
	StreamFrame	 fr = VMIG__STREAM__V1__FRAME__INIT;
	struct delta_entry de;
	struct frame	 f;
	uint8_t		*payload, *buf;
	size_t		 i, plen = n * DELTA_ENTRY_LEN, len;
	char		 err[256] = "";
	int		 rc;

	for (i = 0; i < n; i++)
		plen += e[i][2] < 8192 ? e[i][2] : 0;
	plen = (size_t)((long)plen + extra) + pad;
	payload = calloc(1, plen + 1);
	for (i = 0; i < n && (i + 1) * DELTA_ENTRY_LEN <= plen; i++) {
		de.page = e[i][0];
		de.off = (uint32_t)e[i][1];
		de.len = (uint32_t)e[i][2];
		delta_put_entry(payload + i * DELTA_ENTRY_LEN, &de);
	}
	pd.seq = 9;
	pd.region = region;
	pd.entries = n_hdr;
	fr.kind_case = KIND(PAGE_DELTA);
	fr.page_delta = &pd;
	buf = encode(&fr, payload, plen, &len);
	frame_init(&f);
	decode_ok(&f, buf, len);
	rc = frame_check(&layout, NULL, &f, err, sizeof err);
	want_rc(rc, err, substr);
	frame_free(&f);
	free(buf);
	free(payload);
}

Test(frame, check_delta_rules)
{
	const uint64_t ok[][3] = { { 0, 0, 64 }, { 0, 100, 8 }, { 99, 4032,
	    64 } };
	const uint64_t big[][3] = { { 9, (2 << 20) - 16, 16 } };
	const uint64_t past[][3] = { { 100, 0, 64 } };
	const uint64_t wrap[][3] = { { UINT64_MAX, 0, 64 } };
	const uint64_t edge[][3] = { { 1, 4000, 97 } };
	const uint64_t off[][3] = { { 1, 4096, 1 } };
	const uint64_t lenwrap[][3] = { { 1, 8, 0xffffffffULL } };
	const uint64_t empty[][3] = { { 1, 8, 0 } };
	const uint64_t overlap[][3] = { { 3, 0, 64 }, { 3, 63, 2 } };
	const uint64_t back[][3] = { { 3, 100, 4 }, { 3, 50, 4 } };

	check_delta(0, 3, ok, 3, 0, 0, NULL);
	check_delta(1, 1, big, 1, 0, 0, NULL);
	/* the region must have been prepared */
	check_delta(2, 3, ok, 3, 0, 0, "names region 2, but 2 regions");
	/* no entries; more entries than the payload holds (a lying count) */
	check_delta(0, 0, ok, 3, 0, 0, "delta of 0 entries");
	check_delta(0, 1000, ok, 3, 0, 0, "delta of 1000 entries needs");
	check_delta(0, UINT32_MAX, ok, 3, 0, 0, "needs a");
	/* every entry inside one page of the region */
	check_delta(0, 1, past, 1, 0, 0, "page 100 is outside the region");
	check_delta(0, 1, wrap, 1, 0, 0, "is outside the region");
	check_delta(0, 1, edge, 1, 0, 0, "do not fit a 4096-byte page");
	check_delta(0, 1, off, 1, 0, 0, "do not fit a 4096-byte page");
	check_delta(0, 1, lenwrap, 1, 0, 0, "do not fit a 4096-byte page");
	check_delta(0, 1, empty, 1, 0, 0, "do not fit");
	/* a page's ranges in order, not overlapping */
	check_delta(0, 2, overlap, 2, 0, 0, "overlap or precede");
	check_delta(0, 2, back, 2, 0, 0, "overlap or precede");
	/* the bytes are exactly the entries' sum: lengths that lie */
	check_delta(0, 3, ok, 3, 1, 0, "name 136 bytes, the payload carries "
	    "137");
	check_delta(0, 3, ok, 3, -1, 0, "name 136 bytes, the payload carries "
	    "135");
	check_delta(0, 2, ok, 3, 0, 0, "the payload carries");
}

Test(frame, check_delta_payload_bound)
{
	const struct frame_layout small = { regions, 2, 1 << 20, 16, 4096 };
	StreamPageDelta	 pd = VMIG__STREAM__V1__PAGE_DELTA__INIT;
	char		 err[256];

	pd.region = 0;
	pd.entries = 1;
	cr_assert_eq(frame_check_delta(&small, &pd, NULL, 4097, err,
	    sizeof err), -EPROTO);
	cr_assert(strstr(err, "more than the limit of 4096"), "%s", err);
}

Test(frame, check_any_and_expect)
{
	Vmig__Stream__V1__Ack ack = VMIG__STREAM__V1__ACK__INIT;
	StreamFrame	 fr = VMIG__STREAM__V1__FRAME__INIT;
	struct frame	 f;
	uint8_t		*buf, payload[16] = { 0 };
	size_t		 len;
	char		 err[256];

	fr.kind_case = KIND(ACK);
	fr.ack = &ack;
	buf = encode(&fr, payload, sizeof payload, &len);
	frame_init(&f);
	decode_ok(&f, buf, len);
	cr_assert_eq(frame_check(&layout, NULL, &f, err, sizeof err), -EPROTO);
	cr_assert(strstr(err, "ack frame carries 16 payload bytes"), "%s", err);
	cr_assert_eq(frame_expect(&f, FRAME_KIND_BIT(KIND(ACK)), "in setup",
	    err, sizeof err), 0);
	cr_assert_eq(frame_expect(&f, FRAME_KIND_BIT(KIND(HELLO)) |
	    FRAME_KIND_BIT(KIND(PAGES)), "during pre-copy", err, sizeof err),
	    -EPROTO);
	cr_assert_str_eq(err, "unexpected ack frame during pre-copy");
	free(buf);
	buf = encode(&fr, NULL, 0, &len);
	decode_ok(&f, buf, len);
	cr_assert_eq(frame_check(&layout, NULL, &f, err, sizeof err), 0);
	free(buf);
	frame_free(&f);
}

Test(frame, encode_bounds)
{
	Vmig__Stream__V1__Abort ab = VMIG__STREAM__V1__ABORT__INIT;
	StreamFrame	 fr = VMIG__STREAM__V1__FRAME__INIT;
	uint8_t		 small[8];
	char		*big;

	fr.kind_case = KIND(ABORT);
	fr.abort = &ab;
	ab.reason = "a reason longer than eight bytes";
	cr_assert_eq(frame_encode_header(&fr, small, sizeof small), 0);
	big = malloc(FRAME_HDR_MAX + 1);
	memset(big, 'x', FRAME_HDR_MAX);
	big[FRAME_HDR_MAX] = 0;
	ab.reason = big;
	{
		size_t	 h = frame_header_size(&fr);
		uint8_t	*out = malloc(h);

		cr_assert_gt(h, FRAME_HDR_MAX);
		cr_assert_eq(frame_encode_header(&fr, out, h), 0,
		    "a header over FRAME_HDR_MAX is refused");
		free(out);
	}
	free(big);
}

/* stream.proto's promise: numbered frames follow each other, no gap. */
Test(frame, sequence_numbers)
{
	Vmig__Stream__V1__PageBatch	 pb = VMIG__STREAM__V1__PAGE_BATCH__INIT;
	Vmig__Stream__V1__StopCopy	 sc = VMIG__STREAM__V1__STOP_COPY__INIT;
	StreamPageDelta			 pd = VMIG__STREAM__V1__PAGE_DELTA__INIT;
	Vmig__Stream__V1__Ack		 ack = VMIG__STREAM__V1__ACK__INIT;
	StreamFrame			 fr = VMIG__STREAM__V1__FRAME__INIT;
	char				 err[256];

	fr.kind_case = KIND(PAGES);
	fr.pages = &pb;
	pb.seq = 1;
	cr_assert_eq(frame_check_seq(0, &fr, err, sizeof err), 0);
	pb.seq = 5;
	cr_assert_eq(frame_check_seq(4, &fr, err, sizeof err), 0);
	cr_assert_eq(frame_check_seq(3, &fr, err, sizeof err), -EPROTO);
	cr_assert(strstr(err, "pages frame 5 out of order: frame 4 was "
	    "expected (frames were lost)"), "%s", err);
	cr_assert_eq(frame_check_seq(5, &fr, err, sizeof err), -EPROTO);
	cr_assert(strstr(err, "a repeat or a reordering"), "%s", err);
	fr.kind_case = KIND(STOPCOPY);
	fr.stopcopy = &sc;
	sc.seq = 7;
	cr_assert_eq(frame_check_seq(7, &fr, err, sizeof err), -EPROTO);
	cr_assert(frame_numbered(KIND(STATE)) && frame_numbered(KIND(SWITCHOVER)));
	/* a delta is numbered with the pages: one lost is a gap */
	fr.kind_case = KIND(PAGE_DELTA);
	fr.page_delta = &pd;
	pd.seq = 9;
	cr_assert(frame_numbered(KIND(PAGE_DELTA)));
	cr_assert_eq(frame_seq(&fr), 9);
	cr_assert_eq(frame_check_seq(8, &fr, err, sizeof err), 0);
	cr_assert_eq(frame_check_seq(7, &fr, err, sizeof err), -EPROTO);
	cr_assert(strstr(err, "page-delta frame 9 out of order"), "%s", err);
	/* acks and the hello carry none of the source's numbers */
	fr.kind_case = KIND(ACK);
	fr.ack = &ack;
	ack.seq = 99;
	cr_assert_eq(frame_check_seq(3, &fr, err, sizeof err), 0);
	cr_assert(!frame_numbered(KIND(HELLO)) && !frame_numbered(KIND(ACK)));
}
