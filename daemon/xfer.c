/*
 * xfer.c: page batches out of a region's dirty set, and back into memory.
 *
 * Source: walk dirty & ~skip from the cursor, and for each page look at it
 * once: an all-zero page extends a zero run (no payload), any other page is
 * copied into the message and extends a data run. The zero test touches
 * the page first, so the copy that follows reads from cache. The batch is
 * bounded by the payload budget, the run limit and a page limit (zero
 * pages cost no payload but still cost time on the loop).
 *
 * Destination: check the bounds again, then memcpy data runs and clear
 * zero runs, skipping pages that are already zero so a fresh memory file
 * does not get its holes filled.
 */
#include <config.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "frame.h"
#include "log.h"
#include "memory.h"
#include "stream.h"
#include "util.h"
#include "xfer.h"

#define XFER_RUNS_DEFAULT	1024
#define XFER_ZERO_FACTOR	8	/* pages per batch: 8 x budget pages */

void
xfer_src_init(struct xfer_src *xs, size_t budget, uint32_t runs_max)
{
	uint32_t	 i;

	memset(xs, 0, sizeof *xs);
	xs->budget = budget ? budget : XFER_BUDGET_DEFAULT;
	if (runs_max == 0)
		runs_max = XFER_RUNS_DEFAULT;
	if (runs_max > FRAME_RUNS_MAX)
		runs_max = FRAME_RUNS_MAX;
	xs->runs_max = runs_max;
	xs->runs = xcalloc(runs_max, sizeof *xs->runs);
	xs->runp = xcalloc(runs_max, sizeof *xs->runp);
	for (i = 0; i < runs_max; i++) {
		vmig__stream__v1__page_run__init(&xs->runs[i]);
		xs->runp[i] = &xs->runs[i];
	}
	xs->pages_max = 0;	/* per region: budget pages x factor */
}

void
xfer_src_free(struct xfer_src *xs)
{
	free(xs->runs);
	free(xs->runp);
	memset(xs, 0, sizeof *xs);
}

/* Append page p to the run list; 0 if a new run is needed but none left. */
static int
xfer_add_page(struct xfer_src *xs, uint32_t *nruns, uint64_t p, int zero)
{
	StreamPageRun	*run;

	if (*nruns != 0) {
		run = &xs->runs[*nruns - 1];
		if ((run->zero != 0) == zero && run->first + run->count == p &&
		    run->count != UINT32_MAX) {
			run->count++;
			return (1);
		}
	}
	if (*nruns == xs->runs_max)
		return (0);
	run = &xs->runs[(*nruns)++];
	run->first = p;
	run->count = 1;
	run->zero = zero;
	return (1);
}

void
xfer_gather(struct xfer_src *xs, struct mem_region *r, uint64_t *cursor,
    const struct pageset *skip, uint8_t *payload, size_t payload_max,
    StreamPageBatch *batch, struct xfer_result *res)
{
	uint64_t	 pos = *cursor, first, count, p, pages_max, scanned = 0;
	uint64_t	 limit;
	size_t		 ps = r->page_size, data_max, ndata = 0;
	uint32_t	 nruns = 0, i;
	const uint8_t	*src;
	int		 zero, full = 0, cut;

	memset(res, 0, sizeof *res);
	data_max = payload_max / ps;
	pages_max = xs->pages_max ? xs->pages_max :
	    MAX((uint64_t)(xs->budget / ps), 1) * XFER_ZERO_FACTOR;

	limit = xs->limit != 0 && xs->limit < r->npages ? xs->limit :
	    r->npages;
	while (!full && scanned < pages_max) {
		if (!pageset_next_run_mask(&r->dirty, skip, &pos,
		    pages_max - scanned, &first, &count)) {
			res->end = 1;
			break;
		}
		if (first >= limit) {	/* the next stripe's: not this batch */
			pos = first;
			break;
		}
		cut = first + count > limit;
		if (cut)
			count = limit - first;
		for (p = first; p < first + count; p++) {
			src = r->base + (p << r->page_shift);
			zero = page_is_zero(src, ps);
			if (!zero && ndata == data_max) {
				full = 1;
				break;
			}
			if (!xfer_add_page(xs, &nruns, p, zero)) {
				full = 1;
				break;
			}
			if (!zero) {
				if (payload != NULL)
					memcpy(payload + ndata * ps, src, ps);
				ndata++;
			}
			scanned++;
		}
		if (full)
			pos = p;
		else if (cut) {
			pos = limit;
			break;
		}
	}
	*cursor = pos;

	/* Clear what went into the batch: rewrites come back as dirty. */
	for (i = 0; i < nruns; i++) {
		pageset_clear_range(&r->dirty, xs->runs[i].first,
		    xs->runs[i].count);
		res->pages += xs->runs[i].count;
		if (xs->runs[i].zero)
			res->zero_pages += xs->runs[i].count;
	}
	res->runs = nruns;
	res->bytes = (uint64_t)ndata * ps;
	res->wire = res->bytes;
	if (!res->end && pos >= r->npages)
		res->end = 1;

	batch->region = r->index;
	batch->n_runs = nruns;
	batch->runs = xs->runp;
}

int
xfer_send(struct xfer_src *xs, struct stream *s, struct mem_region *r,
    uint64_t *cursor, const struct pageset *skip, uint64_t seq,
    uint32_t iteration, struct xfer_result *res)
{
	StreamFrame	 f = VMIG__STREAM__V1__FRAME__INIT;
	StreamPageBatch	 b = VMIG__STREAM__V1__PAGE_BATCH__INIT;
	struct stream_msg *m;
	uint64_t	 probe = *cursor, first, count;
	size_t		 payload_max;
	void		*payload;
	int		 rc;

	memset(res, 0, sizeof *res);
	if (!pageset_next_run_mask(&r->dirty, skip, &probe, 1, &first,
	    &count)) {
		*cursor = r->npages;
		res->end = 1;
		return (0);
	}
	/* Never reserve more than the dirty pages could fill. */
	payload_max = xs->budget - xs->budget % r->page_size;
	if (payload_max == 0)
		payload_max = r->page_size;
	if (payload_max / r->page_size > pageset_count(&r->dirty))
		payload_max = pageset_count(&r->dirty) * r->page_size;
	rc = stream_msg_begin(s, FRAME_BATCH_HDR_BOUND(xs->runs_max),
	    payload_max, &m, &payload);
	if (rc != 0)
		return (rc);

	xfer_gather(xs, r, cursor, skip, payload, payload_max, &b, res);
	if (res->pages == 0) {
		stream_msg_abort(s, m);
		return (0);
	}
	b.seq = seq;
	b.iteration = iteration;
	f.kind_case = VMIG__STREAM__V1__FRAME__KIND_PAGES;
	f.pages = &b;
	return (stream_msg_commit(s, m, &f, (size_t)res->bytes));
}

int
xfer_apply(struct mem_region *r, const StreamPageBatch *b,
    const uint8_t *payload, size_t len, uint64_t *pages)
{
	const StreamPageRun *run;
	uint64_t	 need = 0, n = 0, p;
	size_t		 i, ps = r->page_size, off = 0, bytes;
	uint8_t		*dst;

	if (pages != NULL)
		*pages = 0;
	if (!r->writable)
		return (-EROFS);
	/* First pass: every bound, so that nothing is written on error. */
	for (i = 0; i < b->n_runs; i++) {
		run = b->runs[i];
		if (run->count == 0 || run->first >= r->npages ||
		    run->count > r->npages - run->first)
			return (-EINVAL);
		if (!run->zero)
			need += run->count;
	}
	if (need > len / ps || need * ps != len)
		return (-EINVAL);

	for (i = 0; i < b->n_runs; i++) {
		run = b->runs[i];
		dst = r->base + (run->first << r->page_shift);
		bytes = (size_t)run->count * ps;
		if (run->zero) {
			for (p = 0; p < run->count; p++) {
				if (!page_is_zero(dst + p * ps, ps))
					memset(dst + p * ps, 0, ps);
			}
		} else {
			memcpy(dst, payload + off, bytes);
			off += bytes;
		}
		n += run->count;
	}
	if (pages != NULL)
		*pages = n;
	return (0);
}

int
xfer_apply_map(struct mem_map *m, const StreamPageBatch *b,
    const uint8_t *payload, size_t len, uint64_t *pages)
{
	if (b->region >= m->nregions) {
		if (pages != NULL)
			*pages = 0;
		return (-EINVAL);
	}
	return (xfer_apply(&m->regions[b->region], b, payload, len, pages));
}

void
xfer_layout(const struct mem_map *m, uint64_t state_max,
    struct frame_region *regions, struct frame_layout *l)
{
	uint32_t	 i;

	memset(l, 0, sizeof *l);
	for (i = 0; i < m->nregions; i++) {
		regions[i].iova = m->regions[i].iova;
		regions[i].length = m->regions[i].length;
		regions[i].npages = m->regions[i].npages;
		regions[i].page_size = m->regions[i].page_size;
	}
	l->regions = regions;
	l->nregions = m->nregions;
	l->state_max = state_max;
}
