/*
 * fuzz_ops.h: run every operation of a dialect (dialect.h) against device
 * answers taken from the fuzzer's input: each command the operation asks
 * for gets the next record (u8 status; u8 len; u8 bytes[len], the bytes
 * repeated up to what the command's result may hold). Whatever the device
 * says, an operation ends, with 0 or -errno, and never writes outside its
 * buffers or maps (ASan watches).
 */
#ifndef FUZZ_OPS_H
#define FUZZ_OPS_H

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cvq.h"
#include "dialect.h"

static void
fuzz_ops(const struct va_dialect *d, const uint8_t *in, size_t n)
{
	static uint8_t		 res[1 << 16], buf[1 << 16], push[4096];
	struct va_dpf		 pf;
	struct va_dvf		 vf;
	struct va_dop		 op;
	struct va_dcmd		 c;
	struct va_dres		 r;
	struct vmig_iova_range	 rg = { 0x100000000ULL, 64 * 4096 };
	struct vmig_dirty_map	 map;
	uint64_t		 bits[1];
	size_t			 off = 0, k, len, want;
	char			 err[256];
	int			 kind, steps;

	va_dpf_init(&pf, d, 4, 4096);
	pf.obj_limit = 4;
	pf.cvq_modes = CVQ_CAP_ALL;
	pf.cvq_log_bitmap = pf.cvq_log_bytemap = 24;
	va_dvf_init(&vf, 2);
	vf.wr_page_sizes = 1;
	vf.wr_max_ranges = 8;
	for (kind = 0; kind < VA_DOP_NKINDS; kind++) {
		va_dop_init(&op, (enum va_dop_kind)kind, &pf,
		    kind == VA_DOP_PF_OPEN ? NULL : &vf);
		op.target = (enum vmig_mode)(1 + kind % 3);
		op.buf = buf;
		op.cap = sizeof(buf);
		op.len = n < sizeof(buf) ? n : sizeof(buf);
		memcpy(buf, in, op.len);
		op.ranges = &rg;
		op.nranges = 1;
		op.page_size = 4096;
		op.track_mode = 1 + kind % 4;
		bits[0] = 0;
		map = (struct vmig_dirty_map){ rg.iova, rg.length, 4096, bits };
		op.maps = &map;
		op.nmaps = 1;
		for (steps = 0; steps < 200; steps++) {
			if (va_dop_next(&op, &c, err, sizeof(err)) != 1)
				break;
			if (c.map_len > 0) {
				vf.push_map = push;
				vf.push_len = c.map_len < sizeof(push) ?
				    c.map_len : sizeof(push);
			}
			if (off + 2 > n)
				return;
			memset(&r, 0, sizeof(r));
			r.status = in[off] & 0x81 ? in[off] & 0x1f : 0;
			len = in[off + 1];
			off += 2;
			if (len > n - off)
				len = n - off;
			want = c.result_cap < sizeof(res) ? c.result_cap :
			    sizeof(res);
			for (k = 0; k < want && len > 0; k++)
				res[k] = in[off + k % len];
			off += len;
			r.result = res;
			/* A device may also say less than was asked. */
			r.result_len = (len % 3 == 0) ? want / 2 : want;
			if (va_dop_feed(&op, &r, err, sizeof(err)) != 0 &&
			    op.err == 0)
				break;
		}
	}
}

#endif /* FUZZ_OPS_H */
