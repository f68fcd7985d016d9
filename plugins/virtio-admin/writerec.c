/*
 * writerec.c: write records into dirty bitmaps (see writerec.h).
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>

#include "util.h"
#include "writerec.h"

uint64_t
va_map_bits(const struct vmig_dirty_map *m)
{
	return (m->length / m->page_size + (m->length % m->page_size != 0));
}

int
va_maps_check(const struct vmig_dirty_map *maps, unsigned int n, char *err,
    size_t errlen)
{
	const struct vmig_dirty_map *m;
	unsigned int	 i;

	if (n > 0 && maps == NULL) {
		snprintf(err, errlen, "%u dirty maps but no array", n);
		return (-EINVAL);
	}
	for (i = 0; i < n; i++) {
		m = &maps[i];
		if (m->page_size == 0 || (m->page_size & (m->page_size - 1))) {
			snprintf(err, errlen, "dirty map %u: page size %llu is "
			    "not a power of two", i,
			    (unsigned long long)m->page_size);
			return (-EINVAL);
		}
		if (m->length == 0 || m->length > UINT64_MAX - m->iova) {
			snprintf(err, errlen, "dirty map %u: range %#llx+%llu "
			    "is empty or overflows", i,
			    (unsigned long long)m->iova,
			    (unsigned long long)m->length);
			return (-EINVAL);
		}
		if (m->bits == NULL) {
			snprintf(err, errlen, "dirty map %u: no bitmap", i);
			return (-EINVAL);
		}
	}
	return (0);
}

/* Set bits [first, last] of w; count those that were clear. */
static uint64_t
set_bits(uint64_t *w, uint64_t first, uint64_t last)
{
	uint64_t	fw = first / 64, lw = last / 64, k, mask, added = 0;

	for (k = fw; k <= lw; k++) {
		mask = ~0ULL;
		if (k == fw)
			mask &= ~0ULL << (first % 64);
		if (k == lw && last % 64 != 63)
			mask &= (1ULL << (last % 64 + 1)) - 1;
		added += (uint64_t)__builtin_popcountll(mask & ~w[k]);
		w[k] |= mask;
	}
	return (added);
}

int
va_wr_apply(struct vmig_dirty_map *maps, unsigned int n, uint64_t iova,
    uint64_t len, uint64_t *newbits)
{
	struct vmig_dirty_map *m;
	uint64_t	 end, mend, s, e;
	unsigned int	 i;
	int		 hit = 0;

	if (len == 0)
		return (0);
	/* A record running past 2^64 is clipped, not wrapped. */
	end = len > UINT64_MAX - iova ? UINT64_MAX : iova + len;
	for (i = 0; i < n; i++) {
		m = &maps[i];
		mend = m->iova + m->length;
		s = MAX(iova, m->iova);
		e = MIN(end, mend);
		if (s >= e)
			continue;
		hit = 1;
		*newbits += set_bits(m->bits, (s - m->iova) / m->page_size,
		    (e - 1 - m->iova) / m->page_size);
	}
	return (hit);
}

void
va_maps_set_whole(struct vmig_dirty_map *maps, unsigned int n,
    uint64_t iova, uint64_t len, uint64_t *newbits)
{
	struct vmig_dirty_map *m;
	uint64_t	 end;
	unsigned int	 i;

	end = len > UINT64_MAX - iova ? UINT64_MAX : iova + len;
	for (i = 0; i < n; i++) {
		m = &maps[i];
		if (iova >= m->iova + m->length || m->iova >= end)
			continue;
		*newbits += set_bits(m->bits, 0, va_map_bits(m) - 1);
	}
}
