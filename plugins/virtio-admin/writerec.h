/*
 * writerec.h: write records (IOVA, length) to the caller's dirty bitmaps
 * (struct vmig_dirty_map: one per memory region at its page size). A
 * record spanning pages sets each page; the part of a record outside
 * every map is counted, never written out of bounds.
 */
#ifndef VA_WRITEREC_H
#define VA_WRITEREC_H

#include <stddef.h>
#include <stdint.h>

#include "vmig/backend.h"

/* 0, or -EINVAL with a sentence naming the map. */
int		 va_maps_check(const struct vmig_dirty_map *, unsigned int n,
		    char *err, size_t errlen);
/* Bits of a map (ceil(length / page_size)). */
uint64_t	 va_map_bits(const struct vmig_dirty_map *);
/*
 * OR one record into the maps. Returns 1 if some part of it landed in a
 * map, 0 if none did; *newbits grows by the bits that went from 0 to 1.
 */
int		 va_wr_apply(struct vmig_dirty_map *, unsigned int n,
		    uint64_t iova, uint64_t len, uint64_t *newbits);
/* Set every bit of each map that intersects [iova, iova + len). */
void		 va_maps_set_whole(struct vmig_dirty_map *, unsigned int n,
		    uint64_t iova, uint64_t len, uint64_t *newbits);

#endif /* VA_WRITEREC_H */
