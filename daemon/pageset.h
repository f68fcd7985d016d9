/*
 * pageset.h: a dirty page set, one bit per page of a memory region, with a
 * maintained population count.
 *
 * The layout is the one of struct vmig_dirty_map (include/vmig/backend.h):
 * bit n % 64 of word n / 64 is page n, so the engine hands `bits` straight
 * to a backend and calls pageset_recount() afterwards. Bits past npages in
 * the last word are always zero (pageset_recount() clears any a backend
 * set), so word-wise operations never see pages that do not exist.
 */
#ifndef VMIG_PAGESET_H
#define VMIG_PAGESET_H

#include <stddef.h>
#include <stdint.h>

struct pageset {
	uint64_t	*bits;		/* nwords words, zero tail */
	uint64_t	 npages;
	uint64_t	 nwords;
	uint64_t	 count;		/* set bits */
};

#define PAGESET_WORD(n)	((n) >> 6)
#define PAGESET_BIT(n)	(1ULL << ((n) & 63))

/* Allocate npages clear bits (npages may be 0). */
void	 pageset_init(struct pageset *, uint64_t npages);
void	 pageset_free(struct pageset *);

static inline int
pageset_test(const struct pageset *ps, uint64_t n)
{
	return (n < ps->npages &&
	    (ps->bits[PAGESET_WORD(n)] & PAGESET_BIT(n)) != 0);
}

/* 1 if the page was newly set (cleared), 0 if not or n is out of range. */
int	 pageset_set(struct pageset *, uint64_t n);
int	 pageset_clear(struct pageset *, uint64_t n);

/*
 * Ranges are clipped to [0, npages); the return value is the number of
 * bits that changed.
 */
uint64_t pageset_set_range(struct pageset *, uint64_t first, uint64_t count);
uint64_t pageset_clear_range(struct pageset *, uint64_t first,
	    uint64_t count);
/* Set the pages covering bytes [off, off + len) for pages of page_shift. */
uint64_t pageset_mark_bytes(struct pageset *, unsigned page_shift,
	    uint64_t off, uint64_t len);
uint64_t pageset_count_range(const struct pageset *, uint64_t first,
	    uint64_t count);

void	 pageset_fill(struct pageset *);
void	 pageset_zero(struct pageset *);

/* dst op= src; both must have the same npages (else -EINVAL, no change). */
int	 pageset_copy(struct pageset *dst, const struct pageset *src);
int	 pageset_or(struct pageset *dst, const struct pageset *src);
int	 pageset_and(struct pageset *dst, const struct pageset *src);
int	 pageset_andnot(struct pageset *dst, const struct pageset *src);
/* |a & b| without changing either (hot set size); same npages or 0. */
uint64_t pageset_count_and(const struct pageset *, const struct pageset *);

static inline uint64_t
pageset_count(const struct pageset *ps)
{
	return (ps->count);
}

/* After someone wrote bits directly (a backend): clear the tail, recount. */
uint64_t pageset_recount(struct pageset *);

/*
 * Find the next run of set bits at or after *pos, at most max_count long
 * (0: unlimited). Returns 1 with [*first, *first + *count) and *pos moved
 * past the run, or 0 when no set bit is left (*pos = npages). A run cut
 * by max_count continues at the new *pos on the next call.
 *
 * pageset_next_run_mask() does the same for ps & ~exclude (exclude may be
 * NULL, or must have the same npages): pages in exclude are skipped.
 */
int	 pageset_next_run(const struct pageset *, uint64_t *pos,
	    uint64_t max_count, uint64_t *first, uint64_t *count);
int	 pageset_next_run_mask(const struct pageset *,
	    const struct pageset *exclude, uint64_t *pos, uint64_t max_count,
	    uint64_t *first, uint64_t *count);

#endif /* VMIG_PAGESET_H */
