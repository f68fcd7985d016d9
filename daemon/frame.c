/*
 * frame.c: encode, decode and validate peer stream frames.
 *
 * Decoding trusts nothing: the declared header length is checked against
 * the buffer and a bound, and protobuf-c unpacks into an arena whose size
 * is a fixed multiple of the header length, so a header full of tiny
 * repeated or unknown fields fails cleanly instead of allocating without
 * limit. Validation compares a decoded frame with the layout the
 * destination prepared and writes nothing.
 */
#include <config.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "frame.h"
#include "log.h"
#include "delta.h"
#include "util.h"

/*
 * protobuf-c needs at most ~50 bytes of memory per 2 header bytes (an empty
 * repeated submessage: its struct, its pointer and a scan record).
 */
#define FRAME_ARENA_FACTOR	64
#define FRAME_ARENA_SLACK	4096

static const char *const frame_kind_names[] = {
	[VMIG__STREAM__V1__FRAME__KIND__NOT_SET] = "unset",
	[VMIG__STREAM__V1__FRAME__KIND_HELLO] = "hello",
	[VMIG__STREAM__V1__FRAME__KIND_HELLO_ACK] = "hello-ack",
	[VMIG__STREAM__V1__FRAME__KIND_PAGES] = "pages",
	[VMIG__STREAM__V1__FRAME__KIND_STATE] = "state",
	[VMIG__STREAM__V1__FRAME__KIND_SWITCHOVER] = "switchover",
	[VMIG__STREAM__V1__FRAME__KIND_DONE] = "done",
	[VMIG__STREAM__V1__FRAME__KIND_ABORT] = "abort",
	[VMIG__STREAM__V1__FRAME__KIND_ACK] = "ack",
	[VMIG__STREAM__V1__FRAME__KIND_STOPCOPY] = "stopcopy",
	[VMIG__STREAM__V1__FRAME__KIND_DATA_HELLO] = "data-hello",
	[VMIG__STREAM__V1__FRAME__KIND_PAGE_DELTA] = "page-delta",
};

const char *
frame_kind_name(int kind)
{
	if (kind < 0 || (size_t)kind >= nitems(frame_kind_names) ||
	    frame_kind_names[kind] == NULL)
		return ("unknown");
	return (frame_kind_names[kind]);
}

uint64_t
frame_seq(const StreamFrame *h)
{
	switch (h->kind_case) {
	case VMIG__STREAM__V1__FRAME__KIND_PAGES:
		return (h->pages->seq);
	case VMIG__STREAM__V1__FRAME__KIND_STATE:
		return (h->state->seq);
	case VMIG__STREAM__V1__FRAME__KIND_SWITCHOVER:
		return (h->switchover->seq);
	case VMIG__STREAM__V1__FRAME__KIND_ACK:
		return (h->ack->seq);
	case VMIG__STREAM__V1__FRAME__KIND_STOPCOPY:
		return (h->stopcopy->seq);
	case VMIG__STREAM__V1__FRAME__KIND_PAGE_DELTA:
		return (h->page_delta->seq);
	default:
		return (0);
	}
}

int
frame_numbered(int kind)
{
	return (kind == VMIG__STREAM__V1__FRAME__KIND_PAGES ||
	    kind == VMIG__STREAM__V1__FRAME__KIND_STATE ||
	    kind == VMIG__STREAM__V1__FRAME__KIND_STOPCOPY ||
	    kind == VMIG__STREAM__V1__FRAME__KIND_PAGE_DELTA ||
	    kind == VMIG__STREAM__V1__FRAME__KIND_SWITCHOVER);
}

int
frame_check_seq(uint64_t last, const StreamFrame *h, char *err,
    size_t errlen)
{
	uint64_t	seq;

	if (!frame_numbered(h->kind_case))
		return (0);
	seq = frame_seq(h);
	if (seq == last + 1)
		return (0);
	return (err_set(err, errlen, -EPROTO, "%s frame %llu out of order: "
	    "frame %llu was expected (%s)", frame_kind_name(h->kind_case),
	    (unsigned long long)seq, (unsigned long long)last + 1,
	    seq <= last ? "a repeat or a reordering" : "frames were lost"));
}

size_t
frame_header_size(const StreamFrame *hdr)
{
	return (FRAME_PREFIX +
	    protobuf_c_message_get_packed_size(&hdr->base));
}

size_t
frame_encode_header(const StreamFrame *hdr, void *buf, size_t buflen)
{
	size_t	 n;

	n = protobuf_c_message_get_packed_size(&hdr->base);
	if (n > FRAME_HDR_MAX || buflen < FRAME_PREFIX + n)
		return (0);
	put_le32(buf, (uint32_t)n);
	if (protobuf_c_message_pack(&hdr->base, (uint8_t *)buf +
	    FRAME_PREFIX) != n)
		return (0);
	return (FRAME_PREFIX + n);
}

/* The bounded arena protobuf-c unpacks into. */
static void *
frame_arena_alloc(void *data, size_t size)
{
	struct frame	*f = data;
	void		*p;

	size = (size + 15) & ~(size_t)15;
	if (size == 0 || size > f->arena_cap - f->arena_used) {
		f->arena_failed = 1;
		return (NULL);
	}
	p = f->arena + f->arena_used;
	f->arena_used += size;
	return (p);
}

static void
frame_arena_free(void *data, void *p)
{
	/* Everything goes at once in frame_clear(). */
}

void
frame_init(struct frame *f)
{
	memset(f, 0, sizeof *f);
}

void
frame_clear(struct frame *f)
{
	/* The arena owns every byte of the header: nothing to unpack-free. */
	f->hdr = NULL;
	f->payload = NULL;
	f->payload_len = 0;
	f->hdr_len = 0;
	f->arena_used = 0;
	f->arena_failed = 0;
}

void
frame_free(struct frame *f)
{
	free(f->arena);
	memset(f, 0, sizeof *f);
}

int
frame_decode(struct frame *f, const void *buf, size_t len, size_t hdr_max,
    char *err, size_t errlen)
{
	ProtobufCAllocator	 alloc;
	const uint8_t		*b = buf;
	StreamFrame		*h;
	uint32_t		 hlen;
	size_t			 need;

	frame_clear(f);
	if (hdr_max == 0 || hdr_max > FRAME_HDR_MAX)
		hdr_max = FRAME_HDR_MAX;
	if (len < FRAME_PREFIX)
		return (err_set(err, errlen, -EBADMSG, "frame of %zu bytes "
		    "is shorter than its %d-byte header length", len,
		    FRAME_PREFIX));
	hlen = get_le32(b);
	if (hlen > hdr_max)
		return (err_set(err, errlen, -EMSGSIZE, "frame header of %u "
		    "bytes exceeds the limit of %zu bytes", hlen, hdr_max));
	if (hlen > len - FRAME_PREFIX)
		return (err_set(err, errlen, -EBADMSG, "frame header length "
		    "%u exceeds the %zu bytes that follow it", hlen,
		    len - FRAME_PREFIX));
	if (hlen == 0)
		return (err_set(err, errlen, -EBADMSG,
		    "frame header is empty"));

	need = (size_t)hlen * FRAME_ARENA_FACTOR + FRAME_ARENA_SLACK;
	if (f->arena_cap < need) {
		free(f->arena);
		f->arena = xmalloc(need);
		f->arena_cap = need;
	}
	alloc.alloc = frame_arena_alloc;
	alloc.free = frame_arena_free;
	alloc.allocator_data = f;
	h = vmig__stream__v1__frame__unpack(&alloc, hlen, b + FRAME_PREFIX);
	if (h == NULL) {
		if (f->arena_failed) {
			frame_clear(f);
			return (err_set(err, errlen, -EBADMSG, "frame header "
			    "of %u bytes needs more than %zu bytes to decode",
			    hlen, need));
		}
		frame_clear(f);
		return (err_set(err, errlen, -EBADMSG, "frame header of %u "
		    "bytes is not a valid Frame message", hlen));
	}
	if (h->kind_case == VMIG__STREAM__V1__FRAME__KIND__NOT_SET) {
		frame_clear(f);
		return (err_set(err, errlen, -EBADMSG, "frame header of %u "
		    "bytes carries no known frame kind", hlen));
	}
	f->hdr = h;
	f->hdr_len = hlen;
	f->payload_len = len - FRAME_PREFIX - hlen;
	f->payload = f->payload_len != 0 ? b + FRAME_PREFIX + hlen : NULL;
	return (0);
}

int
frame_check_delta(const struct frame_layout *l, const StreamPageDelta *pd,
    const uint8_t *payload, size_t payload_len, char *err, size_t errlen)
{
	const struct frame_region *r;
	size_t		 payload_max;
	unsigned long long seq = (unsigned long long)pd->seq;
	char		 why[200];

	payload_max = l->payload_max ? l->payload_max : FRAME_PAYLOAD_MAX;
	if (pd->region >= l->nregions)
		return (err_set(err, errlen, -EPROTO, "page delta %llu names "
		    "region %u, but %u regions were prepared", seq, pd->region,
		    l->nregions));
	r = &l->regions[pd->region];
	if (payload_len > payload_max)
		return (err_set(err, errlen, -EPROTO, "page delta %llu for "
		    "region %u carries %zu payload bytes, more than the limit "
		    "of %zu", seq, pd->region, payload_len, payload_max));
	if (r->page_size == 0 || delta_decode_check(payload, payload_len,
	    pd->entries, r->npages, r->page_size, why, sizeof(why)) != 0)
		return (err_set(err, errlen, -EPROTO, "page delta %llu for "
		    "region %u: %s", seq, pd->region, r->page_size == 0 ?
		    "the region has no page size" : why));
	return (0);
}

int
frame_check_pages(const struct frame_layout *l, const StreamPageBatch *pb,
    size_t payload_len, char *err, size_t errlen)
{
	const struct frame_region *r;
	const StreamPageRun *run;
	uint64_t	 pages = 0, bytes, prev_end = 0;
	uint32_t	 runs_max = l->runs_max ? l->runs_max : FRAME_RUNS_MAX;
	size_t		 payload_max, i;
	unsigned long long seq = (unsigned long long)pb->seq;

	payload_max = l->payload_max ? l->payload_max : FRAME_PAYLOAD_MAX;
	if (pb->region >= l->nregions)
		return (err_set(err, errlen, -EPROTO, "page batch %llu names "
		    "region %u, but %u regions were prepared", seq, pb->region,
		    l->nregions));
	r = &l->regions[pb->region];
	if (pb->n_runs == 0)
		return (err_set(err, errlen, -EPROTO, "page batch %llu for "
		    "region %u has no runs", seq, pb->region));
	if (pb->n_runs > runs_max)
		return (err_set(err, errlen, -EPROTO, "page batch %llu for "
		    "region %u has %zu runs, more than the limit of %u", seq,
		    pb->region, pb->n_runs, runs_max));
	if (payload_len > payload_max)
		return (err_set(err, errlen, -EPROTO, "page batch %llu for "
		    "region %u carries %zu payload bytes, more than the limit "
		    "of %zu", seq, pb->region, payload_len, payload_max));
	if (pb->payload_bytes != 0 && pb->payload_bytes != payload_len)
		return (err_set(err, errlen, -EPROTO, "page batch %llu for "
		    "region %u declares %llu payload bytes and carries %zu",
		    seq, pb->region, (unsigned long long)pb->payload_bytes,
		    payload_len));
	for (i = 0; i < pb->n_runs; i++) {
		run = pb->runs[i];
		if (run->count == 0)
			return (err_set(err, errlen, -EPROTO, "page batch "
			    "%llu: run %zu in region %u is empty", seq, i,
			    pb->region));
		if (run->first >= r->npages || run->count > r->npages -
		    run->first)
			return (err_set(err, errlen, -EPROTO, "page batch "
			    "%llu: run %zu (pages %llu..%llu) is outside region "
			    "%u of %llu pages", seq, i,
			    (unsigned long long)run->first,
			    (unsigned long long)run->first + run->count - 1,
			    pb->region, (unsigned long long)r->npages));
		if (run->first < prev_end)
			return (err_set(err, errlen, -EPROTO, "page batch "
			    "%llu: run %zu (from page %llu) overlaps or precedes "
			    "the run before it (ending at page %llu)", seq, i,
			    (unsigned long long)run->first,
			    (unsigned long long)prev_end - 1));
		prev_end = run->first + run->count;
		if (!run->zero)
			pages += run->count;
	}
	/* pages <= npages <= 2^64 / page_size cannot overflow, but be sure. */
	if (__builtin_mul_overflow(pages, (uint64_t)r->page_size, &bytes) ||
	    bytes != payload_len)
		return (err_set(err, errlen, -EPROTO, "page batch %llu for "
		    "region %u: %llu non-zero pages of %u bytes need %llu "
		    "payload bytes, the frame carries %zu", seq, pb->region,
		    (unsigned long long)pages, r->page_size,
		    (unsigned long long)pages * r->page_size, payload_len));
	return (0);
}

int
frame_check_state(const struct frame_layout *l,
    const struct frame_state_pos *pos, const StreamStateChunk *sc,
    size_t payload_len, char *err, size_t errlen)
{
	unsigned long long seq = (unsigned long long)sc->seq;
	unsigned long long off = (unsigned long long)sc->offset;
	uint64_t	 end;

	if (payload_len > (l->payload_max ? l->payload_max :
	    FRAME_PAYLOAD_MAX))
		return (err_set(err, errlen, -EPROTO, "state chunk %llu "
		    "carries %zu bytes, more than the frame limit", seq,
		    payload_len));
	if (__builtin_add_overflow(sc->offset, (uint64_t)payload_len, &end) ||
	    end > l->state_max)
		return (err_set(err, errlen, -EPROTO, "state chunk %llu "
		    "(generation %u) at offset %llu + %zu bytes goes past the "
		    "state limit of %llu bytes", seq, sc->generation, off,
		    payload_len, (unsigned long long)l->state_max));
	if (sc->total > l->state_max)
		return (err_set(err, errlen, -EPROTO, "state chunk %llu "
		    "declares an image of %llu bytes, over the state limit of "
		    "%llu bytes", seq, (unsigned long long)sc->total,
		    (unsigned long long)l->state_max));
	if (sc->total != 0 && end > sc->total)
		return (err_set(err, errlen, -EPROTO, "state chunk %llu "
		    "ends at %llu, past the declared image size %llu", seq,
		    (unsigned long long)end, (unsigned long long)sc->total));
	if (sc->last && sc->total != 0 && end != sc->total)
		return (err_set(err, errlen, -EPROTO, "state chunk %llu is "
		    "the last but ends at %llu, the image is %llu bytes", seq,
		    (unsigned long long)end, (unsigned long long)sc->total));
	if (payload_len == 0 && !sc->last)
		return (err_set(err, errlen, -EPROTO, "state chunk %llu is "
		    "empty and not the last", seq));

	if (pos == NULL || !pos->started || sc->generation > pos->generation) {
		if (sc->offset != 0)
			return (err_set(err, errlen, -EPROTO, "state chunk "
			    "%llu starts generation %u at offset %llu, not 0",
			    seq, sc->generation, off));
		return (0);
	}
	if (sc->generation < pos->generation)
		return (err_set(err, errlen, -EPROTO, "state chunk %llu "
		    "belongs to generation %u, older than the current %u", seq,
		    sc->generation, pos->generation));
	if (pos->complete)
		return (err_set(err, errlen, -EPROTO, "state chunk %llu "
		    "follows the last chunk of generation %u", seq,
		    sc->generation));
	if (sc->offset != pos->next)
		return (err_set(err, errlen, -EPROTO, "state chunk %llu of "
		    "generation %u is not contiguous: offset %llu, expected "
		    "%llu", seq, sc->generation, off,
		    (unsigned long long)pos->next));
	if (pos->total != 0 && sc->total != 0 && sc->total != pos->total)
		return (err_set(err, errlen, -EPROTO, "state chunk %llu of "
		    "generation %u declares %llu bytes, earlier chunks %llu",
		    seq, sc->generation, (unsigned long long)sc->total,
		    (unsigned long long)pos->total));
	if (pos->total != 0 && end > pos->total)
		return (err_set(err, errlen, -EPROTO, "state chunk %llu "
		    "ends at %llu, past the image size %llu declared earlier",
		    seq, (unsigned long long)end,
		    (unsigned long long)pos->total));
	if (sc->last && sc->total == 0 && pos->total != 0 && end != pos->total)
		return (err_set(err, errlen, -EPROTO, "state chunk %llu is "
		    "the last but ends at %llu, the image is %llu bytes", seq,
		    (unsigned long long)end, (unsigned long long)pos->total));
	return (0);
}

void
frame_state_accept(struct frame_state_pos *pos, const StreamStateChunk *sc,
    size_t payload_len)
{
	if (!pos->started || sc->generation != pos->generation) {
		memset(pos, 0, sizeof *pos);
		pos->started = 1;
		pos->generation = sc->generation;
	}
	pos->next = sc->offset + payload_len;
	if (sc->total != 0)
		pos->total = sc->total;
	if (sc->last)
		pos->complete = 1;
}

int
frame_check(const struct frame_layout *l, const struct frame_state_pos *pos,
    const struct frame *f, char *err, size_t errlen)
{
	int	 kind = f->hdr->kind_case;

	switch (kind) {
	case VMIG__STREAM__V1__FRAME__KIND_PAGES:
		return (frame_check_pages(l, f->hdr->pages, f->payload_len, err,
		    errlen));
	case VMIG__STREAM__V1__FRAME__KIND_STATE:
		return (frame_check_state(l, pos, f->hdr->state,
		    f->payload_len, err, errlen));
	case VMIG__STREAM__V1__FRAME__KIND_PAGE_DELTA:
		return (frame_check_delta(l, f->hdr->page_delta, f->payload,
		    f->payload_len, err, errlen));
	default:
		if (f->payload_len != 0)
			return (err_set(err, errlen, -EPROTO, "%s frame "
			    "carries %zu payload bytes, it should carry none",
			    frame_kind_name(kind), f->payload_len));
		return (0);
	}
}

int
frame_expect(const struct frame *f, uint32_t allowed, const char *where,
    char *err, size_t errlen)
{
	int	 kind = f->hdr->kind_case;

	if (kind >= 0 && kind < 32 && (allowed & FRAME_KIND_BIT(kind)))
		return (0);
	return (err_set(err, errlen, -EPROTO, "unexpected %s frame %s",
	    frame_kind_name(kind), where != NULL ? where : "now"));
}
