/*
 * test_writerec.c: write records (IOVA, length) into dirty bitmaps:
 * spanning pages, crossing maps, several page sizes, records outside
 * every map, clipping at 2^64, whole-map marking and the count of newly
 * set bits.
 */
#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>

#include "writerec.h"

static char	err[256];

static int
bit(const uint64_t *b, uint64_t n)
{
	return ((b[n / 64] >> (n % 64)) & 1);
}

static uint64_t
count(const uint64_t *b, size_t words)
{
	uint64_t	n = 0;
	size_t		i;

	for (i = 0; i < words; i++)
		n += (uint64_t)__builtin_popcountll(b[i]);
	return (n);
}

Test(writerec, maps_check)
{
	uint64_t	w[4];
	struct vmig_dirty_map m = { 0x1000, 0x10000, 4096, w };

	cr_assert_eq(va_maps_check(&m, 1, err, sizeof(err)), 0);
	cr_assert_eq(va_maps_check(NULL, 0, err, sizeof(err)), 0);
	cr_assert_eq(va_maps_check(NULL, 1, err, sizeof(err)), -EINVAL);
	m.page_size = 3000;
	cr_assert_eq(va_maps_check(&m, 1, err, sizeof(err)), -EINVAL);
	cr_assert_not_null(strstr(err, "dirty map 0"));
	m.page_size = 0;
	cr_assert_eq(va_maps_check(&m, 1, err, sizeof(err)), -EINVAL);
	m.page_size = 4096;
	m.length = 0;
	cr_assert_eq(va_maps_check(&m, 1, err, sizeof(err)), -EINVAL);
	m.length = 8192;
	m.iova = UINT64_MAX - 4096;
	cr_assert_eq(va_maps_check(&m, 1, err, sizeof(err)), -EINVAL);
	m.iova = 0;
	m.bits = NULL;
	cr_assert_eq(va_maps_check(&m, 1, err, sizeof(err)), -EINVAL);
	/* A partial last page counts as a bit. */
	m.length = 4097;
	cr_assert_eq(va_map_bits(&m), 2);
}

Test(writerec, spans_pages)
{
	uint64_t	w[2] = { 0, 0 }, nb = 0;
	struct vmig_dirty_map m = { 0x100000, 128 * 4096, 4096, w };

	/* 8 bytes inside one page. */
	cr_assert_eq(va_wr_apply(&m, 1, 0x100000 + 5 * 4096 + 100, 8, &nb), 1);
	cr_assert_eq(nb, 1);
	cr_assert(bit(w, 5));
	/* Crossing two page boundaries: pages 6, 7, 8. */
	cr_assert_eq(va_wr_apply(&m, 1, 0x100000 + 6 * 4096 + 4000,
	    4096 + 200, &nb), 1);
	cr_assert_eq(nb, 4);
	cr_assert(bit(w, 6) && bit(w, 7) && bit(w, 8));
	/* Again: nothing new. */
	cr_assert_eq(va_wr_apply(&m, 1, 0x100000 + 7 * 4096, 4096, &nb), 1);
	cr_assert_eq(nb, 4);
	/* Across the 64-bit word boundary: pages 60..70. */
	cr_assert_eq(va_wr_apply(&m, 1, 0x100000 + 60 * 4096, 11 * 4096,
	    &nb), 1);
	cr_assert_eq(nb, 15);
	cr_assert_eq(count(w, 2), 15);
	/* A zero-length record touches nothing. */
	cr_assert_eq(va_wr_apply(&m, 1, 0x100000, 0, &nb), 0);
	cr_assert_eq(count(w, 2), 15);
}

Test(writerec, outside_and_clipping)
{
	uint64_t	 w[1] = { 0 }, nb = 0;
	struct vmig_dirty_map m = { 0x10000, 4 * 4096, 4096, w };

	cr_assert_eq(va_wr_apply(&m, 1, 0, 0x10000, &nb), 0, "just below");
	cr_assert_eq(va_wr_apply(&m, 1, 0x14000, 4096, &nb), 0, "just past");
	cr_assert_eq(w[0], 0);
	/* Half in: only the inside part lands. */
	cr_assert_eq(va_wr_apply(&m, 1, 0xf000, 0x2000, &nb), 1);
	cr_assert_eq(w[0], 1);
	cr_assert_eq(va_wr_apply(&m, 1, 0x13ff0, 0x1000, &nb), 1);
	cr_assert_eq(w[0], 0x9);
	/* A record wrapping 2^64 is clipped. */
	cr_assert_eq(va_wr_apply(&m, 1, UINT64_MAX - 10, 100, &nb), 0);
	cr_assert_eq(va_wr_apply(&m, 1, 0x11000, UINT64_MAX, &nb), 1);
	cr_assert_eq(w[0], 0xf);
	cr_assert_eq(nb, 4);
	/* Never a bit past the map: the word's upper bits stay clear. */
	cr_assert_eq(w[0] & ~0xfULL, 0);
}

Test(writerec, several_maps)
{
	uint64_t	 a[1] = { 0 }, b[1] = { 0 }, nb = 0;
	struct vmig_dirty_map m[2] = {
		{ 0x0, 8 * 4096, 4096, a },
		{ 0x100000, 4 * 65536, 65536, b },
	};

	/* One record that covers the end of the first and the start of
	 * the gap: only the first map is touched. */
	cr_assert_eq(va_wr_apply(m, 2, 6 * 4096, 0x10000, &nb), 1);
	cr_assert_eq(a[0], 0xc0);
	cr_assert_eq(b[0], 0);
	/* A record in the second map at 64 KiB granularity. */
	cr_assert_eq(va_wr_apply(m, 2, 0x100000 + 65536 + 5, 65536, &nb), 1);
	cr_assert_eq(b[0], 0x6);
	cr_assert_eq(nb, 4);
	/* One record spanning both maps (and the gap). */
	cr_assert_eq(va_wr_apply(m, 2, 0, 0x100000 + 1, &nb), 1);
	cr_assert_eq(a[0], 0xff);
	cr_assert_eq(b[0], 0x7);
	cr_assert_eq(nb, 4 + 6 + 1);
}

Test(writerec, set_whole)
{
	uint64_t	 a[2] = { 1, 0 }, b[1] = { 0 }, nb = 0;
	struct vmig_dirty_map m[2] = {
		{ 0x0, 100 * 4096, 4096, a },
		{ 0x1000000, 4096 * 3 + 1, 4096, b },
	};

	va_maps_set_whole(m, 2, 0x0, 0x1000, &nb);
	cr_assert_eq(nb, 99);
	cr_assert_eq(a[0], ~0ULL);
	cr_assert_eq(a[1], (1ULL << 36) - 1);
	cr_assert_eq(b[0], 0);
	va_maps_set_whole(m, 2, 0x1000000 + 3 * 4096, 1, &nb);
	cr_assert_eq(b[0], 0xf);
	cr_assert_eq(nb, 103);
	/* A range touching neither. */
	va_maps_set_whole(m, 2, 0x800000, 0x1000, &nb);
	cr_assert_eq(nb, 103);
}
