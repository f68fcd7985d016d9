/*
 * pageset.c: dirty page bitmaps with a maintained count.
 *
 * Everything works on 64-bit words: ranges touch whole words in the middle
 * and masked words at the ends, runs are found with ctz, counts with
 * popcount. The tail bits of the last word stay zero so whole-word
 * operations need no masking.
 */
#include <config.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "pageset.h"
#include "util.h"

static inline uint64_t
pageset_tail_mask(const struct pageset *ps)
{
	unsigned	 rem = ps->npages & 63;

	return (rem == 0 ? ~0ULL : (1ULL << rem) - 1);
}

/* Mask of bits [lo, hi] within one word, 0 <= lo <= hi <= 63. */
static inline uint64_t
word_mask(unsigned lo, unsigned hi)
{
	uint64_t	 m = hi == 63 ? ~0ULL : (1ULL << (hi + 1)) - 1;

	return (m & ~((1ULL << lo) - 1));
}

void
pageset_init(struct pageset *ps, uint64_t npages)
{
	memset(ps, 0, sizeof *ps);
	ps->npages = npages;
	ps->nwords = (npages + 63) / 64;
	/* Always allocate one word so bits is never NULL. */
	ps->bits = xcalloc(ps->nwords ? ps->nwords : 1, sizeof *ps->bits);
}

void
pageset_free(struct pageset *ps)
{
	free(ps->bits);
	memset(ps, 0, sizeof *ps);
}

int
pageset_set(struct pageset *ps, uint64_t n)
{
	uint64_t	*w;

	if (n >= ps->npages)
		return (0);
	w = &ps->bits[PAGESET_WORD(n)];
	if (*w & PAGESET_BIT(n))
		return (0);
	*w |= PAGESET_BIT(n);
	ps->count++;
	return (1);
}

int
pageset_clear(struct pageset *ps, uint64_t n)
{
	uint64_t	*w;

	if (n >= ps->npages)
		return (0);
	w = &ps->bits[PAGESET_WORD(n)];
	if ((*w & PAGESET_BIT(n)) == 0)
		return (0);
	*w &= ~PAGESET_BIT(n);
	ps->count--;
	return (1);
}

/* Clip [first, first + count) to the set; 0 if nothing is left. */
static int
pageset_clip(const struct pageset *ps, uint64_t first, uint64_t count,
    uint64_t *lo, uint64_t *hi)
{
	if (count == 0 || first >= ps->npages)
		return (0);
	if (count > ps->npages - first)
		count = ps->npages - first;
	*lo = first;
	*hi = first + count - 1;	/* inclusive */
	return (1);
}

enum range_op { RANGE_SET, RANGE_CLEAR, RANGE_COUNT };

static uint64_t
pageset_range(struct pageset *ps, uint64_t first, uint64_t count,
    enum range_op op)
{
	uint64_t	 lo, hi, wlo, whi, w, m, changed = 0;

	if (!pageset_clip(ps, first, count, &lo, &hi))
		return (0);
	wlo = PAGESET_WORD(lo);
	whi = PAGESET_WORD(hi);
	for (w = wlo; w <= whi; w++) {
		m = word_mask(w == wlo ? lo & 63 : 0, w == whi ? hi & 63 : 63);
		switch (op) {
		case RANGE_SET:
			changed += __builtin_popcountll(m & ~ps->bits[w]);
			ps->bits[w] |= m;
			break;
		case RANGE_CLEAR:
			changed += __builtin_popcountll(m & ps->bits[w]);
			ps->bits[w] &= ~m;
			break;
		case RANGE_COUNT:
			changed += __builtin_popcountll(m & ps->bits[w]);
			break;
		}
	}
	if (op == RANGE_SET)
		ps->count += changed;
	else if (op == RANGE_CLEAR)
		ps->count -= changed;
	return (changed);
}

uint64_t
pageset_set_range(struct pageset *ps, uint64_t first, uint64_t count)
{
	return (pageset_range(ps, first, count, RANGE_SET));
}

uint64_t
pageset_clear_range(struct pageset *ps, uint64_t first, uint64_t count)
{
	return (pageset_range(ps, first, count, RANGE_CLEAR));
}

uint64_t
pageset_count_range(const struct pageset *ps, uint64_t first, uint64_t count)
{
	/* RANGE_COUNT does not write. */
	return (pageset_range((struct pageset *)ps, first, count, RANGE_COUNT));
}

uint64_t
pageset_mark_bytes(struct pageset *ps, unsigned page_shift, uint64_t off,
    uint64_t len)
{
	uint64_t	 first, last;

	if (len == 0 || page_shift > 63)
		return (0);
	first = off >> page_shift;
	/* The last byte, without overflowing off + len. */
	if (len - 1 > UINT64_MAX - off)
		last = UINT64_MAX >> page_shift;
	else
		last = (off + len - 1) >> page_shift;
	return (pageset_set_range(ps, first, last - first + 1));
}

void
pageset_fill(struct pageset *ps)
{
	if (ps->nwords == 0)
		return;
	memset(ps->bits, 0xff, ps->nwords * sizeof *ps->bits);
	ps->bits[ps->nwords - 1] &= pageset_tail_mask(ps);
	ps->count = ps->npages;
}

void
pageset_zero(struct pageset *ps)
{
	if (ps->nwords != 0)
		memset(ps->bits, 0, ps->nwords * sizeof *ps->bits);
	ps->count = 0;
}

enum set_op { SET_COPY, SET_OR, SET_AND, SET_ANDNOT };

static int
pageset_op(struct pageset *dst, const struct pageset *src, enum set_op op)
{
	uint64_t	 i, v, count = 0;

	if (dst->npages != src->npages)
		return (-EINVAL);
	for (i = 0; i < dst->nwords; i++) {
		switch (op) {
		case SET_COPY:
			v = src->bits[i];
			break;
		case SET_OR:
			v = dst->bits[i] | src->bits[i];
			break;
		case SET_AND:
			v = dst->bits[i] & src->bits[i];
			break;
		case SET_ANDNOT:
		default:
			v = dst->bits[i] & ~src->bits[i];
			break;
		}
		dst->bits[i] = v;
		count += __builtin_popcountll(v);
	}
	dst->count = count;
	return (0);
}

int
pageset_copy(struct pageset *dst, const struct pageset *src)
{
	return (pageset_op(dst, src, SET_COPY));
}

int
pageset_or(struct pageset *dst, const struct pageset *src)
{
	return (pageset_op(dst, src, SET_OR));
}

int
pageset_and(struct pageset *dst, const struct pageset *src)
{
	return (pageset_op(dst, src, SET_AND));
}

int
pageset_andnot(struct pageset *dst, const struct pageset *src)
{
	return (pageset_op(dst, src, SET_ANDNOT));
}

uint64_t
pageset_count_and(const struct pageset *a, const struct pageset *b)
{
	uint64_t	 i, count = 0;

	if (a->npages != b->npages)
		return (0);
	for (i = 0; i < a->nwords; i++)
		count += __builtin_popcountll(a->bits[i] & b->bits[i]);
	return (count);
}

uint64_t
pageset_recount(struct pageset *ps)
{
	uint64_t	 i, count = 0;

	if (ps->nwords == 0) {
		ps->count = 0;
		return (0);
	}
	ps->bits[ps->nwords - 1] &= pageset_tail_mask(ps);
	for (i = 0; i < ps->nwords; i++)
		count += __builtin_popcountll(ps->bits[i]);
	ps->count = count;
	return (count);
}

static inline uint64_t
pageset_word(const struct pageset *ps, const struct pageset *ex, uint64_t w)
{
	return (ex == NULL ? ps->bits[w] : ps->bits[w] & ~ex->bits[w]);
}

int
pageset_next_run_mask(const struct pageset *ps, const struct pageset *ex,
    uint64_t *pos, uint64_t max_count, uint64_t *first, uint64_t *count)
{
	uint64_t	 p = *pos, w, v, start, end, limit;

	VMIG_ASSERT(ex == NULL || ex->npages == ps->npages);
	if (p >= ps->npages || ps->count == 0) {
		*pos = ps->npages;
		return (0);
	}

	/* Find the first set bit at or after p. */
	w = PAGESET_WORD(p);
	v = pageset_word(ps, ex, w) & ~((1ULL << (p & 63)) - 1);
	while (v == 0) {
		if (++w >= ps->nwords) {
			*pos = ps->npages;
			return (0);
		}
		v = pageset_word(ps, ex, w);
	}
	start = w * 64 + __builtin_ctzll(v);

	/* Find the first clear bit after start, stopping at the limit. */
	limit = ps->npages;
	if (max_count != 0 && max_count < limit - start)
		limit = start + max_count;
	v = ~pageset_word(ps, ex, w) & ~((1ULL << (start & 63)) - 1);
	while (v == 0) {
		if (++w >= ps->nwords || w * 64 >= limit)
			break;
		v = ~pageset_word(ps, ex, w);
	}
	end = v == 0 ? limit : w * 64 + __builtin_ctzll(v);
	if (end > limit)
		end = limit;

	*first = start;
	*count = end - start;
	*pos = end;
	return (1);
}

int
pageset_next_run(const struct pageset *ps, uint64_t *pos, uint64_t max_count,
    uint64_t *first, uint64_t *count)
{
	return (pageset_next_run_mask(ps, NULL, pos, max_count, first, count));
}
