/*
 * test_pageset.c: dirty page sets against a naive byte-per-page model.
 */
#include <criterion/criterion.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "pageset.h"

/* Sizes around word boundaries and a partial last word. */
static const uint64_t sizes[] = { 1, 63, 64, 65, 127, 128, 129, 1000, 4097 };

static uint64_t
model_count(const uint8_t *m, uint64_t n)
{
	uint64_t	 i, c = 0;

	for (i = 0; i < n; i++)
		c += m[i];
	return (c);
}

static void
assert_same(const struct pageset *ps, const uint8_t *m)
{
	uint64_t	 i;

	for (i = 0; i < ps->npages; i++)
		cr_assert_eq(pageset_test(ps, i), m[i], "page %lu of %lu",
		    (unsigned long)i, (unsigned long)ps->npages);
	cr_assert_eq(pageset_count(ps), model_count(m, ps->npages));
	/* The tail of the last word stays clear. */
	if (ps->npages % 64 != 0)
		cr_assert_eq(ps->bits[ps->nwords - 1] >> (ps->npages % 64), 0);
}

Test(pageset, set_clear_test)
{
	struct pageset	 ps;

	pageset_init(&ps, 130);
	cr_assert_eq(pageset_set(&ps, 0), 1);
	cr_assert_eq(pageset_set(&ps, 0), 0);
	cr_assert_eq(pageset_set(&ps, 63), 1);
	cr_assert_eq(pageset_set(&ps, 64), 1);
	cr_assert_eq(pageset_set(&ps, 129), 1);
	cr_assert_eq(pageset_set(&ps, 130), 0, "out of range is refused");
	cr_assert_eq(pageset_test(&ps, 130), 0);
	cr_assert_eq(pageset_count(&ps), 4);
	cr_assert_eq(pageset_clear(&ps, 63), 1);
	cr_assert_eq(pageset_clear(&ps, 63), 0);
	cr_assert_eq(pageset_clear(&ps, 1000), 0);
	cr_assert_eq(pageset_count(&ps), 3);
	pageset_free(&ps);
}

Test(pageset, empty_set)
{
	struct pageset	 ps;
	uint64_t	 pos = 0, f, c;

	pageset_init(&ps, 0);
	cr_assert_eq(pageset_set(&ps, 0), 0);
	pageset_fill(&ps);
	cr_assert_eq(pageset_count(&ps), 0);
	cr_assert_eq(pageset_set_range(&ps, 0, 10), 0);
	cr_assert_eq(pageset_next_run(&ps, &pos, 0, &f, &c), 0);
	cr_assert_eq(pageset_recount(&ps), 0);
	pageset_free(&ps);
}

Test(pageset, ranges_against_model)
{
	struct pageset	 ps;
	uint8_t		*m;
	uint64_t	 n, first, count, i, changed, expect;
	size_t		 k;
	int		 round;

	srand(42);
	for (k = 0; k < sizeof sizes / sizeof sizes[0]; k++) {
		n = sizes[k];
		pageset_init(&ps, n);
		m = calloc(n, 1);
		for (round = 0; round < 400; round++) {
			first = (uint64_t)rand() % (n + 3);
			count = (uint64_t)rand() % (n + 3);
			expect = 0;
			if (rand() % 2) {
				for (i = first; i < first + count && i < n; i++)
					expect += !m[i], m[i] = 1;
				changed = pageset_set_range(&ps, first, count);
			} else {
				for (i = first; i < first + count && i < n; i++)
					expect += m[i], m[i] = 0;
				changed = pageset_clear_range(&ps, first, count);
			}
			cr_assert_eq(changed, expect, "n %lu range %lu+%lu",
			    (unsigned long)n, (unsigned long)first,
			    (unsigned long)count);
			expect = 0;
			for (i = first; i < first + count && i < n; i++)
				expect += m[i];
			cr_assert_eq(pageset_count_range(&ps, first, count),
			    expect);
			assert_same(&ps, m);
		}
		free(m);
		pageset_free(&ps);
	}
}

Test(pageset, ranges_at_the_ends)
{
	struct pageset	 ps;

	pageset_init(&ps, 129);
	cr_assert_eq(pageset_set_range(&ps, 128, 1), 1);
	cr_assert_eq(pageset_set_range(&ps, 120, 100), 8, "clipped at the end");
	cr_assert_eq(pageset_set_range(&ps, 0, 1), 1);
	cr_assert_eq(pageset_set_range(&ps, 129, 5), 0);
	cr_assert_eq(pageset_set_range(&ps, UINT64_MAX, UINT64_MAX), 0);
	cr_assert_eq(pageset_set_range(&ps, 5, UINT64_MAX), 115,
	    "a count that overflows first + count is clipped");
	cr_assert_eq(pageset_count(&ps), 125);
	pageset_free(&ps);
}

Test(pageset, mark_bytes)
{
	struct pageset	 ps;

	pageset_init(&ps, 16);
	/* bytes 4095..4096 touch pages 0 and 1 */
	cr_assert_eq(pageset_mark_bytes(&ps, 12, 4095, 2), 2);
	cr_assert_eq(pageset_mark_bytes(&ps, 12, 4096, 4096), 0);
	cr_assert_eq(pageset_mark_bytes(&ps, 12, 8192, 1), 1);
	cr_assert_eq(pageset_mark_bytes(&ps, 12, 8192, 0), 0, "empty range");
	/* a range running past the set is clipped */
	cr_assert_eq(pageset_mark_bytes(&ps, 12, 15 * 4096, 1 << 20), 1);
	/* off + len overflowing 2^64 does not wrap to low pages */
	cr_assert_eq(pageset_mark_bytes(&ps, 12, UINT64_MAX - 10, 100), 0);
	cr_assert(pageset_test(&ps, 0) && pageset_test(&ps, 1) &&
	    pageset_test(&ps, 2) && pageset_test(&ps, 15));
	cr_assert_eq(pageset_count(&ps), 4);
	pageset_free(&ps);
}

Test(pageset, fill_zero_recount)
{
	struct pageset	 ps;
	size_t		 k;

	for (k = 0; k < sizeof sizes / sizeof sizes[0]; k++) {
		pageset_init(&ps, sizes[k]);
		pageset_fill(&ps);
		cr_assert_eq(pageset_count(&ps), sizes[k]);
		cr_assert_eq(pageset_recount(&ps), sizes[k]);
		pageset_zero(&ps);
		cr_assert_eq(pageset_count(&ps), 0);
		/* A backend writes whole words, tail bits included. */
		memset(ps.bits, 0xff, ps.nwords * 8);
		cr_assert_eq(pageset_recount(&ps), sizes[k],
		    "recount drops the bits past npages");
		cr_assert_eq(pageset_count(&ps), sizes[k]);
		pageset_free(&ps);
	}
}

Test(pageset, set_operations)
{
	struct pageset	 a, b, c, d;

	pageset_init(&a, 200);
	pageset_init(&b, 200);
	pageset_init(&c, 201);
	pageset_set_range(&a, 0, 100);
	pageset_set_range(&b, 50, 100);
	cr_assert_eq(pageset_count_and(&a, &b), 50);
	cr_assert_eq(pageset_or(&a, &c), -EINVAL, "sizes must match");
	cr_assert_eq(pageset_count(&a), 100, "no change on mismatch");

	pageset_init(&d, 200);
	cr_assert_eq(pageset_copy(&d, &a), 0);
	cr_assert_eq(pageset_or(&d, &b), 0);
	cr_assert_eq(pageset_count(&d), 150);
	cr_assert(pageset_test(&d, 0) && pageset_test(&d, 149) &&
	    !pageset_test(&d, 150));

	cr_assert_eq(pageset_copy(&d, &a), 0);
	cr_assert_eq(pageset_and(&d, &b), 0);
	cr_assert_eq(pageset_count(&d), 50);
	cr_assert(!pageset_test(&d, 49) && pageset_test(&d, 50) &&
	    pageset_test(&d, 99) && !pageset_test(&d, 100));

	cr_assert_eq(pageset_copy(&d, &a), 0);
	cr_assert_eq(pageset_andnot(&d, &b), 0);
	cr_assert_eq(pageset_count(&d), 50);
	cr_assert(pageset_test(&d, 0) && pageset_test(&d, 49) &&
	    !pageset_test(&d, 50));
	pageset_free(&a);
	pageset_free(&b);
	pageset_free(&c);
	pageset_free(&d);
}

/* Collect runs with next_run(_mask) and compare with the model. */
static void
check_runs(const struct pageset *ps, const struct pageset *ex, uint64_t max)
{
	uint8_t		*seen = calloc(ps->npages + 1, 1);
	uint64_t	 pos = 0, f, c, i, last_end = 0;
	int		 first_run = 1;

	while (pageset_next_run_mask(ps, ex, &pos, max, &f, &c)) {
		cr_assert_gt(c, 0);
		if (max != 0)
			cr_assert_leq(c, max);
		cr_assert(first_run || f >= last_end, "runs ascend");
		cr_assert_eq(pos, f + c);
		for (i = f; i < f + c; i++) {
			cr_assert(pageset_test(ps, i));
			cr_assert(ex == NULL || !pageset_test(ex, i));
			seen[i] = 1;
		}
		/* A run ends at a clear page (or the end), unless cut by max. */
		if (max == 0 || c < max)
			cr_assert(f + c == ps->npages || !pageset_test(ps,
			    f + c) || (ex != NULL && pageset_test(ex, f + c)));
		last_end = f + c;
		first_run = 0;
	}
	cr_assert_eq(pos, ps->npages);
	for (i = 0; i < ps->npages; i++)
		cr_assert_eq(seen[i], pageset_test(ps, i) &&
		    (ex == NULL || !pageset_test(ex, i)), "page %lu",
		    (unsigned long)i);
	free(seen);
}

Test(pageset, runs_across_words)
{
	struct pageset	 ps;
	uint64_t	 pos, f, c;

	pageset_init(&ps, 300);
	pageset_set_range(&ps, 60, 10);		/* crosses word 0/1 */
	pageset_set_range(&ps, 127, 130);	/* crosses words 1..4 */
	pageset_set(&ps, 299);			/* last page */
	pos = 0;
	cr_assert(pageset_next_run(&ps, &pos, 0, &f, &c));
	cr_assert_eq(f, 60);
	cr_assert_eq(c, 10);
	cr_assert(pageset_next_run(&ps, &pos, 0, &f, &c));
	cr_assert_eq(f, 127);
	cr_assert_eq(c, 130);
	cr_assert(pageset_next_run(&ps, &pos, 0, &f, &c));
	cr_assert_eq(f, 299);
	cr_assert_eq(c, 1);
	cr_assert_eq(pageset_next_run(&ps, &pos, 0, &f, &c), 0);
	cr_assert_eq(pos, 300);

	/* max_count cuts a run; the next call continues it */
	pos = 0;
	cr_assert(pageset_next_run(&ps, &pos, 4, &f, &c));
	cr_assert_eq(f, 60);
	cr_assert_eq(c, 4);
	cr_assert(pageset_next_run(&ps, &pos, 4, &f, &c));
	cr_assert_eq(f, 64);
	cr_assert_eq(c, 4);
	/* a cursor inside a run starts there */
	pos = 200;
	cr_assert(pageset_next_run(&ps, &pos, 0, &f, &c));
	cr_assert_eq(f, 200);
	cr_assert_eq(c, 57);
	check_runs(&ps, NULL, 0);
	check_runs(&ps, NULL, 3);
	pageset_free(&ps);
}

Test(pageset, runs_random_with_mask)
{
	struct pageset	 ps, ex;
	uint64_t	 i;
	size_t		 k;

	srand(7);
	for (k = 0; k < sizeof sizes / sizeof sizes[0]; k++) {
		pageset_init(&ps, sizes[k]);
		pageset_init(&ex, sizes[k]);
		for (i = 0; i < sizes[k]; i++) {
			if (rand() % 3)
				pageset_set(&ps, i);
			if (rand() % 5 == 0)
				pageset_set(&ex, i);
		}
		check_runs(&ps, NULL, 0);
		check_runs(&ps, NULL, 7);
		check_runs(&ps, &ex, 0);
		check_runs(&ps, &ex, 5);
		pageset_fill(&ps);
		check_runs(&ps, &ex, 0);
		check_runs(&ps, NULL, 64);
		pageset_free(&ps);
		pageset_free(&ex);
	}
}
