/*
 * test_xfer.c: page batches out of a dirty set (skip set, cursor, clearing,
 * zero pages, budgets and run limits) and back into memory (bounds checked
 * before anything is written); the token bucket.
 */
#include <criterion/criterion.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "frame.h"
#include "memory.h"
#include "tbucket.h"
#include "xfer.h"

#define NPAGES	256
#define PS	4096

static char	 src_path[64], dst_path[64];
static struct mem_map src, dst;

static void
make_file(char *path, size_t pathlen, int fill)
{
	uint8_t	*buf = calloc(NPAGES, PS);
	size_t	 i;
	int	 fd;

	snprintf(path, pathlen, "/dev/shm/vmig-test-xfer-XXXXXX");
	fd = mkstemp(path);
	cr_assert_neq(fd, -1);
	if (fill) {
		/* page n starts with n + 1, so every page is non-zero and
		 * distinct; pages that are multiples of 5 are all zero */
		for (i = 0; i < NPAGES; i++) {
			if (i % 5 == 0)
				continue;
			memset(buf + i * PS, (int)(i & 0xff) | 1, PS);
			buf[i * PS] = (uint8_t)(i + 1);
		}
	}
	cr_assert_eq(write(fd, buf, (size_t)NPAGES * PS),
	    (ssize_t)NPAGES * PS);
	close(fd);
	free(buf);
}

static void
setup(void)
{
	struct mem_region_spec s = { NULL, 0, 0x10000000, NPAGES * PS, PS };
	char	 err[256];

	make_file(src_path, sizeof src_path, 1);
	make_file(dst_path, sizeof dst_path, 0);
	s.path = src_path;
	cr_assert_eq(mem_map_open(&src, &s, 1, 0, err, sizeof err), 0, "%s",
	    err);
	s.path = dst_path;
	cr_assert_eq(mem_map_open(&dst, &s, 1, MEM_MAP_WRITE, err, sizeof err),
	    0, "%s", err);
}

static void
teardown(void)
{
	mem_map_close(&src);
	mem_map_close(&dst);
	unlink(src_path);
	unlink(dst_path);
}

TestSuite(xfer, .init = setup, .fini = teardown);

/* Gather everything from the cursor on, applying each batch to dst. */
static uint64_t
move_all(struct xfer_src *xs, uint64_t *cursor, const struct pageset *skip,
    size_t payload_max, int *batches)
{
	StreamPageBatch	 b = VMIG__STREAM__V1__PAGE_BATCH__INIT;
	struct xfer_result res;
	struct frame_region fr[1];
	struct frame_layout l;
	uint8_t		*payload = malloc(payload_max);
	uint64_t	 total = 0, n;
	char		 err[256];

	xfer_layout(&dst, 0, fr, &l);
	*batches = 0;
	for (;;) {
		xfer_gather(xs, &src.regions[0], cursor, skip, payload,
		    payload_max, &b, &res);
		if (res.pages == 0) {
			cr_assert(res.end);
			break;
		}
		(*batches)++;
		cr_assert_leq(res.bytes, payload_max);
		cr_assert_eq(res.runs, b.n_runs);
		cr_assert_eq(frame_check_pages(&l, &b, res.bytes, err,
		    sizeof err), 0, "a gathered batch is valid: %s", err);
		cr_assert_eq(xfer_apply(&dst.regions[0], &b, payload, res.bytes,
		    &n), 0);
		cr_assert_eq(n, res.pages);
		total += res.pages;
		if (res.end)
			break;
	}
	free(payload);
	return (total);
}

Test(xfer, everything_moves_and_bits_clear)
{
	struct xfer_src	 xs;
	uint64_t	 cursor = 0;
	int		 batches;

	xfer_src_init(&xs, 64 * PS, 0);
	pageset_fill(&src.regions[0].dirty);
	cr_assert_eq(move_all(&xs, &cursor, NULL, 64 * PS, &batches), NPAGES);
	cr_assert_eq(cursor, NPAGES);
	cr_assert_geq(batches, (NPAGES - NPAGES / 5) / 64);
	cr_assert_eq(pageset_count(&src.regions[0].dirty), 0);
	cr_assert_eq(memcmp(src.regions[0].base, dst.regions[0].base,
	    NPAGES * PS), 0);
	xfer_src_free(&xs);
}

Test(xfer, zero_pages_are_flagged_runs)
{
	StreamPageBatch	 b = VMIG__STREAM__V1__PAGE_BATCH__INIT;
	struct xfer_src	 xs;
	struct xfer_result res;
	uint64_t	 cursor = 0;
	uint8_t		*payload = malloc(NPAGES * PS);
	size_t		 i;

	xfer_src_init(&xs, NPAGES * PS, 0);
	pageset_set_range(&src.regions[0].dirty, 0, 11);  /* 0 and 5, 10 zero */
	xfer_gather(&xs, &src.regions[0], &cursor, NULL, payload, NPAGES * PS,
	    &b, &res);
	cr_assert_eq(res.pages, 11);
	cr_assert_eq(res.zero_pages, 3);
	cr_assert_eq(res.bytes, 8 * PS);
	/* zero(0) data(1-4) zero(5) data(6-9) zero(10) */
	cr_assert_eq(b.n_runs, 5);
	cr_assert(b.runs[0]->zero && b.runs[0]->first == 0 &&
	    b.runs[0]->count == 1);
	cr_assert(!b.runs[1]->zero && b.runs[1]->first == 1 &&
	    b.runs[1]->count == 4);
	cr_assert(b.runs[4]->zero && b.runs[4]->first == 10);
	/* the payload holds the data pages in order */
	cr_assert_eq(payload[0], 2);
	cr_assert_eq(payload[4 * PS], 7);
	cr_assert(res.end);
	/* applying zero runs clears stale bytes on the destination */
	for (i = 0; i < 11; i++)
		memset(dst.regions[0].base + i * PS, 0x77, PS);
	cr_assert_eq(xfer_apply(&dst.regions[0], &b, payload, res.bytes,
	    NULL), 0);
	cr_assert_eq(memcmp(src.regions[0].base, dst.regions[0].base, 11 * PS),
	    0);
	free(payload);
	xfer_src_free(&xs);
}

Test(xfer, skip_set_defers_pages)
{
	struct xfer_src	 xs;
	struct pageset	 skip;
	uint64_t	 cursor = 0;
	int		 batches;

	xfer_src_init(&xs, 16 * PS, 0);
	pageset_init(&skip, NPAGES);
	pageset_set_range(&skip, 100, 50);
	pageset_fill(&src.regions[0].dirty);
	cr_assert_eq(move_all(&xs, &cursor, &skip, 16 * PS, &batches),
	    NPAGES - 50);
	/* the hot pages stay dirty for stop-copy */
	cr_assert_eq(pageset_count(&src.regions[0].dirty), 50);
	cr_assert(pageset_test(&src.regions[0].dirty, 100));
	cr_assert(pageset_test(&src.regions[0].dirty, 149));
	cr_assert_eq(dst.regions[0].base[101 * PS], 0, "not sent");
	/* stop-copy sends them */
	cursor = 0;
	cr_assert_eq(move_all(&xs, &cursor, NULL, 16 * PS, &batches), 50);
	cr_assert_eq(memcmp(src.regions[0].base, dst.regions[0].base,
	    NPAGES * PS), 0);
	pageset_free(&skip);
	xfer_src_free(&xs);
}

Test(xfer, cursor_resumes_and_redirtied_pages_come_back)
{
	StreamPageBatch	 b = VMIG__STREAM__V1__PAGE_BATCH__INIT;
	struct xfer_src	 xs;
	struct xfer_result res;
	uint64_t	 cursor = 0;
	uint8_t		*payload = malloc(8 * PS);

	xfer_src_init(&xs, 8 * PS, 0);
	pageset_fill(&src.regions[0].dirty);
	/* the payload budget stops the first batch after 8 data pages */
	xfer_gather(&xs, &src.regions[0], &cursor, NULL, payload, 8 * PS, &b,
	    &res);
	cr_assert_eq(res.bytes, 8 * PS);
	cr_assert_eq(res.pages, 11, "8 data pages and 3 zero pages (0, 5 "
	    "and 10: zero pages still fit when the payload is full)");
	cr_assert_eq(cursor, 11);
	cr_assert_eq(res.end, 0);
	cr_assert_eq(pageset_count(&src.regions[0].dirty), NPAGES - 11);
	/* a page already sent is written again: it is dirty again */
	pageset_set(&src.regions[0].dirty, 3);
	xfer_gather(&xs, &src.regions[0], &cursor, NULL, payload, 8 * PS, &b,
	    &res);
	cr_assert_eq(b.runs[0]->first, 11, "the cursor resumes");
	cr_assert(pageset_test(&src.regions[0].dirty, 3),
	    "behind the cursor: waits for the next pass");
	cursor = 0;
	xfer_gather(&xs, &src.regions[0], &cursor, NULL, payload, 8 * PS, &b,
	    &res);
	cr_assert_eq(b.runs[0]->first, 3);
	free(payload);
	xfer_src_free(&xs);
}

Test(xfer, run_and_page_limits)
{
	StreamPageBatch	 b = VMIG__STREAM__V1__PAGE_BATCH__INIT;
	struct xfer_src	 xs;
	struct xfer_result res;
	uint64_t	 cursor = 0, i;
	uint8_t		*payload = malloc(NPAGES * PS);

	/* every other page: one run per page */
	for (i = 0; i < NPAGES; i += 2)
		pageset_set(&src.regions[0].dirty, i);
	xfer_src_init(&xs, NPAGES * PS, 4);
	xfer_gather(&xs, &src.regions[0], &cursor, NULL, payload, NPAGES * PS,
	    &b, &res);
	cr_assert_eq(b.n_runs, 4);
	cr_assert_eq(res.pages, 4);
	cr_assert_eq(cursor, 8, "stops at the page that needed a fifth run");
	cr_assert_eq(pageset_count(&src.regions[0].dirty), NPAGES / 2 - 4);
	xfer_src_free(&xs);

	/* zero pages cost no payload but are bounded by pages_max */
	pageset_zero(&src.regions[0].dirty);
	for (i = 0; i < NPAGES; i += 5)
		pageset_set(&src.regions[0].dirty, i);	/* all zero pages */
	xfer_src_init(&xs, PS, 0);
	xs.pages_max = 10;
	cursor = 0;
	xfer_gather(&xs, &src.regions[0], &cursor, NULL, payload, PS, &b,
	    &res);
	cr_assert_eq(res.pages, 10);
	cr_assert_eq(res.zero_pages, 10);
	cr_assert_eq(res.bytes, 0);
	free(payload);
	xfer_src_free(&xs);
}

Test(xfer, apply_checks_bounds_before_writing)
{
	StreamPageBatch	 b = VMIG__STREAM__V1__PAGE_BATCH__INIT;
	StreamPageRun	 r[2], *rp[2] = { &r[0], &r[1] };
	uint8_t		*payload = calloc(4, PS);
	uint64_t	 n = 99;

	memset(payload, 0xaa, 4 * PS);
	vmig__stream__v1__page_run__init(&r[0]);
	vmig__stream__v1__page_run__init(&r[1]);
	r[0].first = 0;
	r[0].count = 2;
	r[1].first = NPAGES - 1;
	r[1].count = 2;		/* runs off the end */
	b.n_runs = 2;
	b.runs = rp;
	cr_assert_eq(xfer_apply(&dst.regions[0], &b, payload, 4 * PS, &n),
	    -EINVAL);
	cr_assert_eq(n, 0);
	cr_assert_eq(dst.regions[0].base[0], 0, "the good first run was not "
	    "written either");
	r[1].count = 1;
	cr_assert_eq(xfer_apply(&dst.regions[0], &b, payload, 4 * PS, &n),
	    -EINVAL, "payload length mismatch");
	r[1].first = UINT64_MAX;
	cr_assert_eq(xfer_apply(&dst.regions[0], &b, payload, 3 * PS, &n),
	    -EINVAL);
	r[1].first = 10;
	r[1].count = 0;
	cr_assert_eq(xfer_apply(&dst.regions[0], &b, payload, 2 * PS, &n),
	    -EINVAL, "empty run");
	r[1].count = 1;
	cr_assert_eq(xfer_apply(&src.regions[0], &b, payload, 3 * PS, &n),
	    -EROFS, "the source mapping is read-only");
	b.region = 1;
	cr_assert_eq(xfer_apply_map(&dst, &b, payload, 3 * PS, &n), -EINVAL);
	b.region = 0;
	cr_assert_eq(xfer_apply_map(&dst, &b, payload, 3 * PS, &n), 0);
	cr_assert_eq(n, 3);
	cr_assert_eq(dst.regions[0].base[10 * PS + 5], 0xaa);
	free(payload);
}

Test(xfer, huge_pages)
{
	struct mem_region_spec s = { NULL, 0, 0, 4 << 21, 2 << 20 };
	struct mem_map	 a, b;
	struct xfer_src	 xs;
	StreamPageBatch	 pb = VMIG__STREAM__V1__PAGE_BATCH__INIT;
	struct xfer_result res;
	uint64_t	 cursor = 0;
	uint8_t		*payload = malloc(4 << 21);
	char		 p1[64], p2[64], err[256];
	int		 fd;

	snprintf(p1, sizeof p1, "/dev/shm/vmig-test-xfer-XXXXXX");
	snprintf(p2, sizeof p2, "/dev/shm/vmig-test-xfer-XXXXXX");
	fd = mkstemp(p1);
	cr_assert_eq(ftruncate(fd, 4 << 21), 0);
	cr_assert_eq(pwrite(fd, "x", 1, (2 << 21) + 77), 1);
	close(fd);
	fd = mkstemp(p2);
	cr_assert_eq(ftruncate(fd, 4 << 21), 0);
	close(fd);
	s.path = p1;
	cr_assert_eq(mem_map_open(&a, &s, 1, 0, err, sizeof err), 0, "%s",
	    err);
	s.path = p2;
	cr_assert_eq(mem_map_open(&b, &s, 1, MEM_MAP_WRITE, err, sizeof err),
	    0);
	xfer_src_init(&xs, 4 << 21, 0);
	pageset_fill(&a.regions[0].dirty);
	xfer_gather(&xs, &a.regions[0], &cursor, NULL, payload, 4 << 21, &pb,
	    &res);
	cr_assert_eq(res.pages, 4);
	cr_assert_eq(res.zero_pages, 3);
	cr_assert_eq(res.bytes, 2 << 20);
	cr_assert_eq(xfer_apply(&b.regions[0], &pb, payload, res.bytes, NULL),
	    0);
	cr_assert_eq(mem_digest(&a), mem_digest(&b));
	xfer_src_free(&xs);
	mem_map_close(&a);
	mem_map_close(&b);
	unlink(p1);
	unlink(p2);
	free(payload);
}

Test(tbucket, rate_and_debt)
{
	struct tbucket	 tb;
	uint64_t	 t = 1000000000ULL, w;

	tbucket_init(&tb, 100 << 20, 1 << 20, t);	/* 100 MiB/s, 1 MiB */
	cr_assert_eq(tbucket_wait_ns(&tb, t), 0, "starts full");
	cr_assert(tbucket_take(&tb, 1 << 20, t));
	cr_assert_eq(tbucket_take(&tb, 1, t), 0, "empty");
	/* 10 ms later: 1 MiB refilled at 100 MiB/s ... */
	t += 10000000;
	cr_assert_eq(tbucket_wait_ns(&tb, t), 0);
	/* ... and a 4 MiB batch puts it 3 MiB into debt: 30 ms to repay */
	tbucket_consume(&tb, 4 << 20, t);
	cr_assert_eq(tb.tokens, -(3 << 20));
	w = tbucket_wait_ns(&tb, t);
	cr_assert(w >= 30000000 && w <= 30000010, "%lu", (unsigned long)w);
	cr_assert_neq(tbucket_wait_ns(&tb, t + w - 1000), 0);
	t += w;
	cr_assert_eq(tbucket_wait_ns(&tb, t), 0);
	cr_assert_eq(tb.consumed, 5 << 20);
	/* never more than the burst accumulates */
	t += 10000000000ULL;
	tbucket_refill(&tb, t);
	cr_assert_eq(tb.tokens, 1 << 20);
	/* a clock going backwards changes nothing */
	tbucket_refill(&tb, t - 5);
	cr_assert_eq(tb.tokens, 1 << 20);
}

Test(tbucket, unlimited_and_rate_change)
{
	struct tbucket	 tb;

	tbucket_init(&tb, 0, 0, 0);
	cr_assert(tbucket_take(&tb, 1ULL << 40, 0), "rate 0 is unlimited");
	cr_assert_eq(tbucket_wait_ns(&tb, 0), 0);
	tbucket_set_rate(&tb, 10 << 20, 0, 0);
	cr_assert_eq(tb.burst, 1 << 20, "default burst: 100 ms of rate");
	cr_assert_leq(tb.tokens, 1 << 20);
	tbucket_set_rate(&tb, 1000, 0, 0);
	cr_assert_eq(tb.burst, 64 * 1024, "at least 64 KiB");
	/* huge values do not overflow */
	tbucket_consume(&tb, UINT64_MAX, 1);
	cr_assert_lt(tb.tokens, 0);
	cr_assert_gt(tbucket_wait_ns(&tb, 2), 0);
	tbucket_refill(&tb, UINT64_MAX);
	cr_assert_leq(tb.tokens, 64 * 1024);
}
