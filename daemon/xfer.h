/*
 * xfer.h: page transfer on both sides of a job.
 *
 * Source: take the next pages of a region's dirty set from a cursor, copy
 * them from the read-only mapping straight into a stream message (one
 * copy), send all-zero pages as flagged runs without payload, and clear
 * the bits sent. A page the device writes again after we copied it comes
 * back through the next dirty read, so clearing before the copy is safe.
 * An optional skip set holds pages deferred to stop-copy (the hot set):
 * they are neither sent nor cleared.
 *
 * Destination: write a PageBatch that frame_check_pages() accepted into
 * the read-write mapping.
 */
#ifndef VMIG_XFER_H
#define VMIG_XFER_H

#include <stddef.h>
#include <stdint.h>

#include "frame.h"
#include "memory.h"

struct stream;

#define XFER_BUDGET_DEFAULT	(1024 * 1024)	/* payload bytes per batch */

/* Reusable per-job source state: the run array of the batch header. */
struct xfer_src {
	StreamPageRun	*runs;
	StreamPageRun	**runp;
	uint32_t	 runs_max;
	size_t		 budget;	/* payload bytes per batch */
	uint64_t	 pages_max;	/* pages per batch, zero pages included */
	uint64_t	 limit;		/* a batch ends before this page (0: none) */
};

struct xfer_result {
	uint64_t	 pages;		/* pages in the batch */
	uint64_t	 zero_pages;	/* of which sent as zero runs */
	uint64_t	 bytes;		/* payload bytes */
	uint64_t	 wire;		/* of which on the wire (compressed) */
	uint32_t	 runs;
	int		 end;		/* no dirty page left after the cursor */
};

/* budget 0: XFER_BUDGET_DEFAULT; runs_max 0: FRAME_RUNS_MAX. */
void	 xfer_src_init(struct xfer_src *, size_t budget, uint32_t runs_max);
void	 xfer_src_free(struct xfer_src *);

/*
 * Build one batch into payload (room for payload_max bytes, at least one
 * page): the runs go to batch->runs (pointing into xs), the bytes to
 * payload, the bits are cleared in r->dirty and *cursor moves on. No I/O.
 * res->pages == 0 and res->end set when nothing is left. With payload
 * NULL nothing is copied: the caller sends the runs from r itself
 * (datalink.c). The batch stops before page xs->limit (a stripe's end)
 * when that is set: res->end then stays 0.
 */
void	 xfer_gather(struct xfer_src *, struct mem_region *, uint64_t *cursor,
	    const struct pageset *skip, uint8_t *payload, size_t payload_max,
	    StreamPageBatch *batch, struct xfer_result *res);

/*
 * Gather the next batch straight into a stream message and send it as
 * PageBatch{seq, region, iteration}. 0 with res->pages > 0: sent; 0 with
 * res->pages == 0: nothing left from the cursor (nothing sent); -EAGAIN:
 * the stream is full (nothing taken, bits untouched); -EPIPE: closed.
 */
int	 xfer_send(struct xfer_src *, struct stream *, struct mem_region *,
	    uint64_t *cursor, const struct pageset *skip, uint64_t seq,
	    uint32_t iteration, struct xfer_result *res);

/*
 * Apply a PageBatch (already accepted by frame_check_pages) into r. The
 * bounds are checked again (-EINVAL, nothing written) so a caller that
 * forgot the check cannot write outside the mapping. *pages (may be NULL)
 * gets the pages written.
 */
int	 xfer_apply(struct mem_region *, const StreamPageBatch *,
	    const uint8_t *payload, size_t len, uint64_t *pages);
/* Same, choosing the region by batch->region in map. */
int	 xfer_apply_map(struct mem_map *, const StreamPageBatch *,
	    const uint8_t *payload, size_t len, uint64_t *pages);

/* A frame_layout of map: regions must hold map->nregions entries. */
void	 xfer_layout(const struct mem_map *, uint64_t state_max,
	    struct frame_region *regions, struct frame_layout *layout);

#endif /* VMIG_XFER_H */
