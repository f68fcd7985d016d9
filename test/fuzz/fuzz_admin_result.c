/*
 * fuzz_admin_result.c: every decoder the driver applies to what a device
 * (or the simulator's socket) hands it: status, each command's result,
 * the handshake messages, write records into bitmaps sized exactly
 * (ASan sees any bit set out of bounds), and the draft dialect's
 * operations run against fuzzed answers (fuzz_ops.h).
 */
#include "config.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"
#include "admin.h"
#include "handshake.h"
#include "writerec.h"
#include "fuzz_ops.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct va_wr_range	 rg[VA_WR_MAX_RANGES];
	struct vmig_dirty_map	 m[2];
	struct va_hello		 h;
	struct va_setup		 s;
	struct va_ack		 a;
	const uint8_t		*p;
	uint64_t		*b0, *b1, iova, len, nb = 0, v64;
	uint32_t		 n, f, r, i;
	uint16_t		 st, q;
	uint8_t			 mode;
	char			 err[256];

	if (size < 1)
		return (0);
	/* The first byte picks the page sizes of two maps. */
	m[0].iova = 0x100000;
	m[0].length = 64 * 4096 + 1;
	m[0].page_size = 4096ULL << (data[0] & 3);
	m[1].iova = 0x800000;
	m[1].length = 16 * 65536;
	m[1].page_size = 4096ULL << ((data[0] >> 2) & 7);
	b0 = calloc((va_map_bits(&m[0]) + 63) / 64, 8);
	b1 = calloc((va_map_bits(&m[1]) + 63) / 64, 8);
	m[0].bits = b0;
	m[1].bits = b1;
	data++;
	size--;

	(void)va_status_get(data, size, &st, &q, err, sizeof(err));
	(void)va_mode_get(data, size, &mode, err, sizeof(err));
	(void)va_size_get(data, size, &v64, err, sizeof(err));
	if (va_ctxread_get(data, size, &n, &r, &p, err, sizeof(err)) == 0 &&
	    (p + n > data + size))
		abort();
	if (va_ctxwrite_get(data, size, &n, &f, &p, err, sizeof(err)) == 0 &&
	    (p + n > data + size))
		abort();
	(void)va_wrcap_get(data, size, &n, &r, err, sizeof(err));
	(void)va_wrstart_get(data, size, &v64, rg, VA_WR_MAX_RANGES, &n, err,
	    sizeof(err));
	(void)va_wrread_get(data, size, &iova, &len, err, sizeof(err));
	if (va_wrrecs_get(data, size, &n, &f, &p, err, sizeof(err)) == 0) {
		if (p + (size_t)n * VA_WR_REC_LEN > data + size)
			abort();
		for (i = 0; i < n; i++) {
			va_wrrec_get(p, i, &iova, &len);
			(void)va_wr_apply(m, 2, iova, len, &nb);
		}
		if (f & VA_WR_F_LOST)
			va_maps_set_whole(m, 2, iova, len, &nb);
	}
	(void)va_hello_get(data, size, &h, err, sizeof(err));
	(void)va_setup_get(data, size, &s, err, sizeof(err));
	(void)va_ack_get(data, size, &a, err, sizeof(err));
	(void)va_list_has(data, size, (uint16_t)(size * 7));
	free(b0);
	free(b1);
	fuzz_ops(&va_dialect_draft, data, size);
	return (0);
}
