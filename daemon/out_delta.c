/*
 * out_delta.c: the source's byte-exact page deltas (delta.h, DESIGN.md
 * "Adaptive pre-copy").
 *
 * The write records of every read (tracker.h, ABI 2.2) are kept per page
 * since the page was last sent, in a table of at most OUT_DELTA_PAGES
 * pages. The rule that keeps it exact: a page has an entry only if every
 * write since its last send is in it. So an entry is made only for a page
 * that nothing else made dirty since it was sent (not in the regions'
 * dirty sets, not in acc: the records are given before the read's bits
 * reach acc), and a read without records (lost, a bitmap source) drops
 * every entry. A page without an entry goes whole.
 *
 * At the start of each round, before the page batches, the pump sends the
 * entries of this round's dirty pages whose ranges cover a small part of
 * the page (delta_send_whole) as PageDelta frames on the stream, clearing
 * their bits; the others are dropped and go whole. A page is sent once a
 * round and a round ends when the destination acknowledged all of it, so
 * a delta never races a copy of its page on a data connection.
 */
#include "config.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "delta.h"
#include "job_out.h"
#include "log.h"
#include "tracker.h"
#include "util.h"

struct out_delta_slot {
	uint32_t		used;
	uint32_t		region;
	uint64_t		page;
	struct delta_page	d;
};

static uint64_t
od_hash(uint32_t region, uint64_t page)
{
	uint64_t	h = page * 0x9e3779b97f4a7c15ULL ^ region;

	return (h ^ (h >> 29));
}

static struct out_delta_slot *
od_find(struct out_delta *od, uint32_t region, uint64_t page)
{
	uint64_t	i;

	if (od->cap == 0)
		return (NULL);
	for (i = od_hash(region, page) & (od->cap - 1); od->slots[i].used;
	    i = (i + 1) & (od->cap - 1)) {
		if (od->slots[i].region == region && od->slots[i].page == page)
			return (&od->slots[i]);
	}
	return (NULL);
}

static struct out_delta_slot *
od_insert_nogrow(struct out_delta *od, uint32_t region, uint64_t page)
{
	uint64_t	i;

	for (i = od_hash(region, page) & (od->cap - 1); od->slots[i].used;
	    i = (i + 1) & (od->cap - 1))
		;
	od->slots[i].used = 1;
	od->slots[i].region = region;
	od->slots[i].page = page;
	delta_page_init(&od->slots[i].d);
	od->n++;
	return (&od->slots[i]);
}

/* Doubling, kept at most half full; NULL when the bound is reached. */
static struct out_delta_slot *
od_insert(struct out_delta *od, uint32_t region, uint64_t page)
{
	struct out_delta_slot	*old = od->slots, *s;
	uint64_t		 ocap = od->cap, i;

	if (od->n >= od->max)
		return (NULL);
	if ((od->n + 1) * 2 > od->cap) {
		od->cap = ocap == 0 ? 64 : ocap * 2;
		od->slots = xcalloc(od->cap, sizeof(*od->slots));
		od->n = 0;
		for (i = 0; i < ocap; i++) {
			if (!old[i].used)
				continue;
			s = od_insert_nogrow(od, old[i].region, old[i].page);
			s->d = old[i].d;
		}
		free(old);
	}
	return (od_insert_nogrow(od, region, page));
}

/* Linear probing's deletion: later slots of the cluster move back. */
static void
od_delete(struct out_delta *od, uint64_t i)
{
	uint64_t	j = i, k, mask = od->cap - 1;

	od->slots[i].used = 0;
	od->n--;
	for (;;) {
		j = (j + 1) & mask;
		if (!od->slots[j].used)
			return;
		k = od_hash(od->slots[j].region, od->slots[j].page) & mask;
		/* j stays if its home k lies cyclically in (i, j] */
		if (i <= j ? (i < k && k <= j) : (i < k || k <= j))
			continue;
		od->slots[i] = od->slots[j];
		od->slots[j].used = 0;
		i = j;
	}
}

static void
od_clear(struct out_delta *od)
{
	if (od->n == 0)
		return;
	memset(od->slots, 0, od->cap * sizeof(*od->slots));
	od->n = 0;
}

/* Page p of region i is dirty by some write not in an entry's ranges. */
static int
od_pending(struct job *job, uint32_t i, uint64_t p)
{
	return (pageset_test(&job->mem.regions[i].dirty, p) ||
	    pageset_test(&job->out->acc[i], p));
}

/* One record's bytes in one region, page by page. */
static void
od_record(struct job *job, uint32_t i, uint64_t off, uint64_t len)
{
	struct out_delta	*od = &job->out->delta;
	struct mem_region	*r = &job->mem.regions[i];
	struct out_delta_slot	*s;
	uint64_t		 p, in, n;

	while (len > 0) {
		p = off / r->page_size;
		in = off % r->page_size;
		n = MIN(len, r->page_size - in);
		/*
		 * Not sent yet (its bit is still in dirty: the copy reads
		 * memory after this read, so after the write) and made dirty
		 * by nothing else: the read's bit for it is redundant.
		 */
		if (pageset_test(&r->dirty, p) &&
		    !pageset_test(&job->out->acc[i], p) &&
		    od->nunmark < OUT_DELTA_UNMARK) {
			if (od->unmark == NULL)
				od->unmark = xcalloc(OUT_DELTA_UNMARK,
				    sizeof(*od->unmark));
			od->unmark[od->nunmark].region = i;
			od->unmark[od->nunmark++].page = p;
		}
		if ((s = od_find(od, i, p)) == NULL && !od_pending(job, i, p))
			s = od_insert(od, i, p);
		/* no entry: the page is whole until it is sent */
		if (s != NULL)
			(void)delta_add(&s->d, r->page_size, in, n);
		off += n;
		len -= n;
	}
}

/* The read's bits are in acc now: drop the redundant ones (od_record). */
static void
od_unmark(struct job *job)
{
	struct out_delta	*od = &job->out->delta;
	struct pageset		*a;
	uint64_t		 p;
	uint32_t		 k;

	for (k = 0; k < od->nunmark; k++) {
		a = &job->out->acc[od->unmark[k].region];
		p = od->unmark[k].page;
		if ((a->bits[PAGESET_WORD(p)] & PAGESET_BIT(p)) == 0)
			continue;	/* named twice */
		a->bits[PAGESET_WORD(p)] &= ~PAGESET_BIT(p);
		od->unmarked++;
	}
	od->nunmark = 0;
}

/*
 * tracker_recs_fn: a read's records, before its bits reach acc (after 0)
 * and once they did (after 1).
 */
static void
out_delta_recs(void *arg, const struct vmig_write_log *log, int after)
{
	struct job		*job = arg;
	struct job_out		*o = job->out;
	const struct mem_region	*r;
	uint64_t		 s, e;
	uint32_t		 k, i;

	if (!o->delta.on)
		return;
	if (after) {
		od_unmark(job);
		return;
	}
	o->delta.nunmark = 0;
	if (log == NULL || log->lost) {
		if (o->delta.n != 0)
			log_debug("%s: job %" PRIu64 ": a read without every "
			    "record: %" PRIu64 " delta pages go whole",
			    __func__, job->id, o->delta.n);
		od_clear(&o->delta);
		return;
	}
	for (k = 0; k < log->n; k++) {
		for (i = 0; i < job->mem.nregions; i++) {
			r = &job->mem.regions[i];
			s = MAX(log->recs[k].iova, r->iova);
			e = MIN(log->recs[k].iova + log->recs[k].len,
			    r->iova + r->length);
			if (s < e)
				od_record(job, i, s - r->iova, e - s);
		}
	}
}

void
out_delta_init(struct job *job, int on)
{
	struct out_delta	*od = &job->out->delta;

	memset(od, 0, sizeof(*od));
	od->on = on;
	od->max = MIN(job->mem.total_pages, OUT_DELTA_PAGES);
}

/* After each device's tracker is attached. */
void
out_delta_attach(struct job *job, struct tracker_user *tu)
{
	if (job->out->delta.on && tu != NULL)
		tracker_set_recs(tu, out_delta_recs, job);
}

void
out_delta_free(struct job *job)
{
	struct out_delta	*od = &job->out->delta;

	free(od->slots);
	free(od->sel);
	free(od->unmark);
	od->slots = NULL;
	od->sel = NULL;
	od->unmark = NULL;
	od->cap = od->n = 0;
	od->on = 0;
}

/* A new round: every entry is looked at once more. */
void
out_delta_round(struct job *job)
{
	struct out_delta	*od = &job->out->delta;

	od->region = 0;
	od->cursor = 0;
	od->done = !od->on || od->n == 0 || job->out->untracked;
}

/*
 * Bytes the dirty pages of the regions would cost on the wire, deltas
 * counted as sent (the policy's remaining bytes); 0 without deltas.
 */
uint64_t
out_delta_dirty_wire(struct job *job)
{
	struct out_delta	*od = &job->out->delta;
	struct mem_region	*r;
	uint64_t		 i, saved = 0, all;

	if (!od->on || job->out->untracked)
		return (0);
	all = mem_dirty_count(&job->mem) * job->out->page_size;
	for (i = 0; i < od->cap; i++) {
		if (!od->slots[i].used)
			continue;
		r = &job->mem.regions[od->slots[i].region];
		if (pageset_test(&r->dirty, od->slots[i].page))
			saved += r->page_size - delta_wire_bytes(
			    &od->slots[i].d, r->page_size);
	}
	return (all - MIN(saved, all));
}

/*
 * Take the entries of region od->region that go this round (dirty, not
 * deferred) into od->sel while their wire bytes fit budget; entries that
 * go whole are dropped. Returns the entries' count (wire entries, not
 * pages) and the payload bytes in *bytes.
 */
static uint32_t
od_select(struct job *job, size_t budget, size_t *bytes)
{
	struct job_out		*o = job->out;
	struct out_delta	*od = &o->delta;
	struct mem_region	*r = &job->mem.regions[od->region];
	const struct pageset	*skip;
	struct out_delta_slot	*s;
	uint32_t		 entries = 0;
	uint64_t		 w;

	skip = o->defer_hot && !o->pump_final ? &o->hot[od->region] : NULL;
	if (od->sel == NULL)
		od->sel = xcalloc(OUT_DELTA_SEL, sizeof(*od->sel));
	od->nsel = 0;
	*bytes = 0;
	while (od->cursor < od->cap && od->nsel < OUT_DELTA_SEL) {
		s = &od->slots[od->cursor];
		/*
		 * In neither the dirty set nor a read of this round: its page
		 * went whole since (a sweep the table's growth cut short).
		 */
		if (s->used && s->region == od->region &&
		    !od_pending(job, od->region, s->page)) {
			od_delete(od, od->cursor);
			continue;
		}
		if (!s->used || s->region != od->region ||
		    !pageset_test(&r->dirty, s->page) ||
		    (skip != NULL && pageset_test(skip, s->page))) {
			od->cursor++;
			continue;
		}
		if (delta_send_whole(&s->d, r->page_size)) {
			od_delete(od, od->cursor);	/* the gather sends it */
			continue;
		}
		w = delta_wire_bytes(&s->d, r->page_size);
		if (*bytes + w > budget)
			break;
		od->sel[od->nsel].page = s->page;
		od->sel[od->nsel++].d = s->d;
		entries += s->d.n;
		*bytes += w;
		(void)pageset_clear(&r->dirty, s->page);
		od_delete(od, od->cursor);	/* the slot may refill: again */
	}
	return (entries);
}

/* Write the selected pages' entries, then their bytes, from memory now. */
static void
od_encode(struct job *job, uint8_t *out, uint32_t entries)
{
	struct out_delta	*od = &job->out->delta;
	struct mem_region	*r = &job->mem.regions[od->region];
	struct delta_entry	 e;
	size_t			 at = (size_t)entries * DELTA_ENTRY_LEN, k = 0;
	uint32_t		 i, j;

	for (i = 0; i < od->nsel; i++) {
		for (j = 0; j < od->sel[i].d.n; j++) {
			e.page = od->sel[i].page;
			e.off = od->sel[i].d.r[j].off;
			e.len = od->sel[i].d.r[j].len;
			delta_put_entry(out + k * DELTA_ENTRY_LEN, &e);
			memcpy(out + at, r->base + e.page * r->page_size +
			    e.off, e.len);
			at += e.len;
			k++;
		}
	}
}

/*
 * One PageDelta frame of this round. 1: sent one, or moved on (call
 * again); 0: the stream is full (-EAGAIN, nothing taken) or failed
 * (*rcp). od->done is set when no entry is left for this round.
 */
int
out_delta_batch(struct job *job, uint64_t *sent, int *rcp)
{
	StreamFrame		 f = VMIG__STREAM__V1__FRAME__INIT;
	StreamPageDelta		 pd = VMIG__STREAM__V1__PAGE_DELTA__INIT;
	struct job_out		*o = job->out;
	struct out_delta	*od = &o->delta;
	struct stream_msg	*m;
	void			*payload;
	size_t			 bytes;
	uint32_t		 entries;
	int			 rc;

	*sent = 0;
	*rcp = 0;
	if (od->region >= job->mem.nregions) {
		od->done = 1;
		return (1);
	}
	rc = stream_msg_begin(job->stream, 128, OUT_DELTA_BUDGET, &m,
	    &payload);
	if (rc != 0) {
		*rcp = rc;
		return (0);
	}
	entries = od_select(job, OUT_DELTA_BUDGET, &bytes);
	if (entries == 0) {
		stream_msg_abort(job->stream, m);
		od->region++;
		od->cursor = 0;
		return (1);
	}
	od_encode(job, payload, entries);
	pd.seq = o->seq + 1;
	pd.region = od->region;
	pd.entries = entries;
	pd.iteration = o->iteration;
	f.kind_case = VMIG__STREAM__V1__FRAME__KIND_PAGE_DELTA;
	f.page_delta = &pd;
	if ((rc = stream_msg_commit(job->stream, m, &f, bytes)) != 0) {
		*rcp = rc;
		return (0);
	}
	o->seq++;
	*sent = bytes;
	od->pages_sent += od->nsel;
	od->bytes_sent += bytes;
	log_debug("%s: job %" PRIu64 ": %" PRIu32 " pages of region %" PRIu32
	    " as %" PRIu32 " ranges, %zu bytes", __func__, job->id, od->nsel,
	    od->region, entries, bytes);
	return (1);
}
