/*
 * fuzz_cvq.c: the control-vq codecs a device's answers reach: the state
 * portions (and the converter to the canonical form of what they accept,
 * and back), every command result decoder, dirty reports into maps sized
 * exactly (ASan sees a bit set out of bounds), the cvq framing, and the
 * dialect's operations against fuzzed answers (fuzz_ops.h).
 */
#include "config.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cvq.h"
#include "dialect.h"
#include "fuzz_ops.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct vds	 s;
	static uint8_t		 img[1 << 20], map[256];
	struct vmig_dirty_map	 m[2];
	struct va_dres		 r;
	uint64_t		*b0, *b1, pages = 0, nb = 0, out = 0, off, n64;
	uint32_t		 v, total;
	uint16_t		 ver[3], a, b, c;
	char			 err[256];
	long			 n;

	if (size < 1)
		return (0);
	switch (data[0] % 3) {
	case 0:
		(void)cvq_state_peek(data + 1, size - 1, &total, err,
		    sizeof(err));
		if (va_dialect_cvq.to_canon(data + 1, size - 1, 1, &s, err,
		    sizeof(err)) != 0)
			break;
		n = va_dialect_cvq.from_canon(&s, NULL, img, sizeof(img), err,
		    sizeof(err));
		if (n >= 0 && cvq_state_validate(img, (size_t)n, err,
		    sizeof(err)) != 0)
			abort();
		break;
	case 1:
		data++;
		size--;
		(void)cvq_identify_get(data, size, ver, &a, &b, &c, err,
		    sizeof(err));
		(void)cvq_start_get(data, size, &a, &b, err, sizeof(err));
		(void)cvq_func_get(data, size, &a, err, sizeof(err));
		(void)cvq_u32_get("x", data, size, &v, err, sizeof(err));
		(void)cvq_offset_get(data, size, &a, &v, err, sizeof(err));
		(void)cvq_set_state_get(data, size, &a, &b, err, sizeof(err));
		(void)cvq_attrs_get(data, size, &v, &a, err, sizeof(err));
		if (va_frame_in(VA_FRAME_CVQ, data, size, size / 2, &r, err,
		    sizeof(err)) == 0 && r.result + r.result_len > data + size)
			abort();
		/* Reports at any offset into two maps, sized exactly. */
		m[0] = (struct vmig_dirty_map){ 0x10000, 37 * 4096 + 1, 4096,
		    NULL };
		m[1] = (struct vmig_dirty_map){ 0x200000, 5 * 65536, 65536,
		    NULL };
		b0 = calloc(1, 8);
		b1 = calloc(1, 8);
		m[0].bits = b0;
		m[1].bits = b1;
		off = size > 0 ? data[0] * 8ULL : 0;
		cvq_report_apply(data, size, off, size % 2, m, 2, &pages, &nb,
		    &out);
		memcpy(map, data, size < sizeof(map) ? size : sizeof(map));
		cvq_push_harvest(map, sizeof(map), size % 2, m, 2, &pages, &nb,
		    &out);
		cvq_report_span(off * 4096, size, size % 2, &off, &n64);
		free(b0);
		free(b1);
		break;
	default:
		fuzz_ops(&va_dialect_cvq, data + 1, size - 1);
		break;
	}
	return (0);
}
