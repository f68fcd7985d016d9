/*
 * fuzz_frame.c: libFuzzer harness for the peer stream frame codec.
 *
 * Every input is one received nng message. It is decoded, checked against
 * a fixed destination layout, and when the checks accept it, applied the
 * way the destination would (page runs and page deltas into a region
 * buffer, state chunks into a state image) without xfer_apply()'s second bounds check: ASan
 * proves that frame_check() alone keeps every write inside. Headers are
 * re-encoded and decoded again.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "delta.h"
#include "frame.h"

#define NPAGES		64
#define PAGE		4096
#define STATE_MAX	(64 * 1024)

static const struct frame_region regions[2] = {
	{ 0x100000, NPAGES * PAGE, NPAGES, PAGE },
	{ 0x10000000, 4 * PAGE, 4, PAGE },
};
static const struct frame_layout layout = {
	regions, 2, STATE_MAX, 64, 1 << 20
};

static uint8_t		*mem[2];
static uint8_t		*state;
static struct frame_state_pos pos;
static struct frame	 f, f2;

static void
apply_pages(const StreamPageBatch *b, const uint8_t *payload)
{
	const StreamPageRun *r;
	size_t		 i, off = 0, n;

	for (i = 0; i < b->n_runs; i++) {
		r = b->runs[i];
		n = (size_t)r->count * PAGE;
		if (r->zero)
			memset(mem[b->region] + r->first * PAGE, 0, n);
		else {
			memcpy(mem[b->region] + r->first * PAGE, payload + off,
			    n);
			off += n;
		}
	}
}

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char		 err[512];
	uint8_t		*buf, *enc;
	size_t		 h, n;

	if (mem[0] == NULL) {
		mem[0] = malloc(NPAGES * PAGE);
		mem[1] = malloc(4 * PAGE);
		state = malloc(STATE_MAX);
	}
	/* An exact-size copy so that ASan sees any read past the end. */
	buf = malloc(size ? size : 1);
	memcpy(buf, data, size);
	if (frame_decode(&f, buf, size, 0, err, sizeof err) != 0) {
		if (err[0] == '\0')
			abort();	/* every failure carries a reason */
		free(buf);
		return (0);
	}
	(void)frame_kind_name(f.hdr->kind_case);
	(void)frame_seq(f.hdr);
	if (frame_check(&layout, &pos, &f, err, sizeof err) == 0) {
		switch (f.hdr->kind_case) {
		case VMIG__STREAM__V1__FRAME__KIND_PAGES:
			apply_pages(f.hdr->pages, f.payload);
			break;
		case VMIG__STREAM__V1__FRAME__KIND_STATE:
			if (f.payload_len != 0)
				memcpy(state + f.hdr->state->offset, f.payload,
				    f.payload_len);
			frame_state_accept(&pos, f.hdr->state, f.payload_len);
			break;
		case VMIG__STREAM__V1__FRAME__KIND_PAGE_DELTA:
			/* delta_apply trusts the check alone, like the engine */
			delta_apply(mem[f.hdr->page_delta->region], PAGE,
			    f.payload, f.hdr->page_delta->entries);
			break;
		default:
			break;
		}
	} else if (err[0] == '\0')
		abort();
	(void)frame_expect(&f, FRAME_KIND_BIT(VMIG__STREAM__V1__FRAME__KIND_ACK),
	    "here", err, sizeof err);

	/*
	 * Re-encode the header and decode it again. protobuf-c keeps unknown
	 * fields verbatim (even invalid ones such as field 0), so the second
	 * decode may refuse what the first let through; it must not crash,
	 * and when it succeeds the kind must not change.
	 */
	h = frame_header_size(f.hdr);
	enc = malloc(h);
	n = frame_encode_header(f.hdr, enc, h);
	if (n != 0) {
		if (n != h)
			abort();
		if (frame_decode(&f2, enc, n, 0, err, sizeof err) == 0 &&
		    f2.hdr->kind_case != f.hdr->kind_case)
			abort();
		frame_clear(&f2);
	}
	free(enc);
	frame_clear(&f);
	free(buf);
	return (0);
}
