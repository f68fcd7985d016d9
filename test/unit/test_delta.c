/*
 * test_delta.c: daemon/delta.c, the byte-exact page deltas: ranges merged
 * (overlapping, touching, contained, out of order), the whole-page
 * fallbacks, ranges past the end of a page or a region refused, and a
 * round trip that must leave the destination's page equal to the source's.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdint.h>
#include <string.h>

#include "delta.h"
#include "leakcheck.h"

#define PS	4096u

static void
expect_ranges(const struct delta_page *d, const uint32_t *offlen, uint32_t n)
{
	uint32_t	i;

	cr_assert_eq(d->whole, 0);
	cr_assert_eq(d->n, n, "%u ranges, expected %u", d->n, n);
	for (i = 0; i < n; i++) {
		cr_assert_eq(d->r[i].off, offlen[2 * i], "range %u off %u, "
		    "expected %u", i, d->r[i].off, offlen[2 * i]);
		cr_assert_eq(d->r[i].len, offlen[2 * i + 1], "range %u len "
		    "%u, expected %u", i, d->r[i].len, offlen[2 * i + 1]);
	}
}

Test(delta, ranges_merge)
{
	struct delta_page	d;

	delta_page_init(&d);
	cr_assert_eq(delta_add(&d, PS, 1000, 64), 0);
	cr_assert_eq(delta_add(&d, PS, 100, 64), 0);	/* before it */
	cr_assert_eq(delta_add(&d, PS, 3000, 8), 0);	/* after it */
	expect_ranges(&d, (const uint32_t[]){ 100, 64, 1000, 64, 3000, 8 },
	    3);
	/* overlapping the first: joined */
	cr_assert_eq(delta_add(&d, PS, 150, 100), 0);
	expect_ranges(&d, (const uint32_t[]){ 100, 150, 1000, 64, 3000, 8 },
	    3);
	/* touching the second's end: joined (a header costs more) */
	cr_assert_eq(delta_add(&d, PS, 1064, 36), 0);
	expect_ranges(&d, (const uint32_t[]){ 100, 150, 1000, 100, 3000, 8 },
	    3);
	/* contained: nothing changes */
	cr_assert_eq(delta_add(&d, PS, 1010, 10), 0);
	expect_ranges(&d, (const uint32_t[]){ 100, 150, 1000, 100, 3000, 8 },
	    3);
	/* one write over all three: one range */
	cr_assert_eq(delta_add(&d, PS, 200, 2900), 0);
	expect_ranges(&d, (const uint32_t[]){ 100, 3000 }, 1);
	cr_assert_eq(delta_covered(&d), 3000);
	LEAK_CHECK();
}

Test(delta, spanning_the_middle_absorbs_several)
{
	struct delta_page	d;
	uint32_t		i;

	delta_page_init(&d);
	for (i = 0; i < 8; i++)
		cr_assert_eq(delta_add(&d, PS, i * 512, 16), 0);
	cr_assert_eq(d.n, 8);
	/* from inside range 2 to inside range 5: 2..5 become one */
	cr_assert_eq(delta_add(&d, PS, 2 * 512 + 8, 3 * 512), 0);
	expect_ranges(&d, (const uint32_t[]){ 0, 16, 512, 16, 1024, 3 * 512 +
	    16, 3072, 16, 3584, 16 }, 5);
}

Test(delta, past_the_end_refused)
{
	struct delta_page	d;

	delta_page_init(&d);
	cr_assert_eq(delta_add(&d, PS, 4090, 7), -EINVAL);
	cr_assert_eq(delta_add(&d, PS, 4096, 1), -EINVAL);
	cr_assert_eq(delta_add(&d, PS, 0, 0), -EINVAL);
	cr_assert_eq(delta_add(&d, PS, UINT64_MAX, 2), -EINVAL);
	cr_assert_eq(delta_add(&d, PS, 8, UINT64_MAX), -EINVAL);
	cr_assert_eq(d.n, 0, "a refused range adds nothing");
	cr_assert_eq(delta_add(&d, PS, 4090, 6), 0);
	expect_ranges(&d, (const uint32_t[]){ 4090, 6 }, 1);
}

Test(delta, whole_page_fallbacks)
{
	struct delta_page	d;
	uint32_t		i;

	/* small: ranges */
	delta_page_init(&d);
	cr_assert_eq(delta_add(&d, PS, 0, 64), 0);
	cr_assert(!delta_send_whole(&d, PS));
	cr_assert_eq(delta_wire_bytes(&d, PS), 64 + DELTA_ENTRY_LEN);
	/* more than half of the page covered: whole */
	cr_assert_eq(delta_add(&d, PS, 1024, 2100), 0);
	cr_assert(delta_send_whole(&d, PS));
	cr_assert_eq(delta_wire_bytes(&d, PS), PS);
	/* too many ranges: whole */
	delta_page_init(&d);
	for (i = 0; i < DELTA_RANGES_MAX; i++)
		cr_assert_eq(delta_add(&d, PS, i * 200, 8), 0);
	cr_assert(!d.whole);
	cr_assert_eq(delta_add(&d, PS, 4000, 8), 0);
	cr_assert(d.whole && delta_send_whole(&d, PS));
	/* and stays whole */
	cr_assert_eq(delta_add(&d, PS, 0, 8), 0);
	cr_assert(d.whole);
	/* lost records or a bitmap source: whole */
	delta_page_init(&d);
	cr_assert_eq(delta_add(&d, PS, 0, 8), 0);
	delta_whole(&d);
	cr_assert(delta_send_whole(&d, PS));
	/* nothing recorded: nothing to send as a delta */
	delta_page_init(&d);
	cr_assert(delta_send_whole(&d, PS));
}

/* Source page -> payload -> checked -> applied: the pages are equal. */
Test(delta, round_trip)
{
	static uint8_t		src[4 * PS], dst[4 * PS];
	struct delta_page	a, b;
	uint8_t			buf[2048];
	size_t			na, nb;
	char			err[256];
	uint32_t		i;

	for (i = 0; i < sizeof(src); i++)
		src[i] = dst[i] = (uint8_t)(i * 7);
	/* the device writes a few bytes of pages 1 and 3 */
	memset(src + PS + 100, 0xaa, 60);
	memset(src + PS + 130, 0xbb, 90);	/* overlaps the first */
	memset(src + 3 * PS + 4000, 0xcc, 96);	/* the page's last bytes */
	delta_page_init(&a);
	delta_page_init(&b);
	cr_assert_eq(delta_add(&a, PS, 100, 60), 0);
	cr_assert_eq(delta_add(&a, PS, 130, 90), 0);
	cr_assert_eq(delta_add(&b, PS, 4000, 96), 0);
	na = delta_encode(&a, 1, src + PS, buf, sizeof(buf));
	cr_assert_eq(na, DELTA_ENTRY_LEN + 120);
	/* one payload per page here; the check takes any sorted set */
	cr_assert_eq(delta_decode_check(buf, na, 1, 4, PS, err,
	    sizeof(err)), 0, "%s", err);
	delta_apply(dst, PS, buf, 1);
	nb = delta_encode(&b, 3, src + 3 * PS, buf, sizeof(buf));
	cr_assert_eq(nb, DELTA_ENTRY_LEN + 96);
	cr_assert_eq(delta_decode_check(buf, nb, 1, 4, PS, err,
	    sizeof(err)), 0, "%s", err);
	delta_apply(dst, PS, buf, 1);
	cr_assert(memcmp(src, dst, sizeof(src)) == 0);
	/* too small a buffer: nothing */
	cr_assert_eq(delta_encode(&a, 1, src + PS, buf, 10), 0);
}

/*
 * A page written again while its delta is in flight: the bytes sent are
 * the page's at encode time, and the new write is a new record, so the
 * next round's delta carries it; applying both in order gives the page's
 * final contents.
 */
Test(delta, rewrite_while_in_flight)
{
	static uint8_t		src[PS], dst[PS];
	struct delta_page	d;
	uint8_t			first[512], second[512];
	size_t			n1, n2;
	char			err[256];

	memset(src, 1, sizeof(src));
	memset(dst, 1, sizeof(dst));
	memset(src + 64, 2, 64);
	delta_page_init(&d);
	cr_assert_eq(delta_add(&d, PS, 64, 64), 0);
	n1 = delta_encode(&d, 0, src, first, sizeof(first));
	/* in flight; the device writes the same bytes and more again */
	memset(src + 96, 3, 64);
	delta_page_init(&d);	/* the page was sent: a fresh record set */
	cr_assert_eq(delta_add(&d, PS, 96, 64), 0);
	n2 = delta_encode(&d, 0, src, second, sizeof(second));
	cr_assert_eq(delta_decode_check(first, n1, 1, 1, PS, err,
	    sizeof(err)), 0, "%s", err);
	delta_apply(dst, PS, first, 1);
	cr_assert(memcmp(src, dst, sizeof(src)) != 0, "the first is stale");
	cr_assert_eq(delta_decode_check(second, n2, 1, 1, PS, err,
	    sizeof(err)), 0, "%s", err);
	delta_apply(dst, PS, second, 1);
	cr_assert(memcmp(src, dst, sizeof(src)) == 0);
}

static void
put(uint8_t *p, uint64_t page, uint32_t off, uint32_t len)
{
	struct delta_entry	e = { page, off, len };

	delta_put_entry(p, &e);
}

/* The destination refuses before writing anything. */
Test(delta, bad_payloads_refused)
{
	uint8_t		buf[256];
	char		err[256];
	const struct {
		const char	*what;
		uint64_t	 page;
		uint32_t	 off, len;
		size_t		 data;	/* bytes after the header */
		const char	*says;
	} bad[] = {
		{ "page outside the region", 4, 0, 8, 8, "outside the region" },
		{ "past the end of the page", 0, 4090, 8, 8, "do not fit" },
		{ "offset past the page", 0, 4096, 1, 1, "do not fit" },
		{ "empty", 0, 8, 0, 0, "do not fit" },
		{ "length wraps", 0, 8, UINT32_MAX, 8, "do not fit" },
		{ "fewer bytes than named", 0, 0, 64, 32, "carries 32" },
		{ "more bytes than named", 0, 0, 8, 16, "carries 16" },
	};
	size_t		i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		put(buf, bad[i].page, bad[i].off, bad[i].len);
		err[0] = '\0';
		cr_assert_eq(delta_decode_check(buf, DELTA_ENTRY_LEN +
		    bad[i].data, 1, 4, PS, err, sizeof(err)), -EBADMSG,
		    "%s accepted", bad[i].what);
		cr_assert(strstr(err, bad[i].says) != NULL, "%s: '%s'",
		    bad[i].what, err);
	}
	/* a header longer than the payload; no entries at all */
	cr_assert_eq(delta_decode_check(buf, 20, 2, 4, PS, err, sizeof(err)),
	    -EBADMSG);
	cr_assert_eq(delta_decode_check(buf, 0, 0, 4, PS, err, sizeof(err)),
	    -EBADMSG);
	/* two entries of one page that overlap, or out of order */
	put(buf, 1, 100, 50);
	put(buf + DELTA_ENTRY_LEN, 1, 120, 10);
	cr_assert_eq(delta_decode_check(buf, 2 * DELTA_ENTRY_LEN + 60, 2, 4,
	    PS, err, sizeof(err)), -EBADMSG);
	cr_assert(strstr(err, "overlap") != NULL, "%s", err);
	put(buf + DELTA_ENTRY_LEN, 1, 10, 10);
	cr_assert_eq(delta_decode_check(buf, 2 * DELTA_ENTRY_LEN + 60, 2, 4,
	    PS, err, sizeof(err)), -EBADMSG);
	/* the same two ranges on different pages are fine */
	put(buf + DELTA_ENTRY_LEN, 2, 10, 10);
	cr_assert_eq(delta_decode_check(buf, 2 * DELTA_ENTRY_LEN + 60, 2, 4,
	    PS, err, sizeof(err)), 0, "%s", err);
}
