/*
 * test_admin_codec.c: the draft admin command table and codecs: round
 * trips, every truncation and every over-long count or length refused
 * with a reason, the handshake messages.
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>

#include "util.h"
#include "admin.h"
#include "handshake.h"

static char	err[256];

Test(admin, table)
{
	static const struct { uint16_t op; const char *name; } want[] = {
		{ 0x0, "LIST_QUERY" }, { 0x1, "LIST_USE" },
		{ 0x7, "DEV_MODE_GET" }, { 0x8, "DEV_MODE_SET" },
		{ 0x9, "DEV_CTX_SIZE_GET" }, { 0xa, "DEV_CTX_READ" },
		{ 0xb, "DEV_CTX_WRITE" }, { 0xc, "DEV_CTX_DISCARD" },
		{ 0xd, "WRITE_RECORD_CAP_QUERY" },
		{ 0xe, "WRITE_RECORDS_START" }, { 0xf, "WRITE_RECORDS_STOP" },
		{ 0x10, "WRITE_RECORDS_READ" },
	};
	const struct va_opinfo *oi;
	size_t	i;

	for (i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
		oi = va_op_find(want[i].op);
		cr_assert_not_null(oi, "opcode %#x", want[i].op);
		cr_assert_str_eq(oi->name, want[i].name);
		cr_assert_eq(va_op_byname(want[i].name), oi);
		cr_assert_eq(oi->per_member, want[i].op > 1);
		cr_assert_not_null(oi->data_layout);
	}
	cr_assert_null(va_op_find(0x2));
	cr_assert_null(va_op_find(0x11));
	cr_assert_str_eq(va_op_name(0x1234), "0x1234");
	cr_assert_null(va_op_byname("DEV_PARTS_GET"));
}

Test(admin, status)
{
	cr_assert_eq(va_status_errno(0), 0);
	cr_assert_eq(va_status_errno(22), -EINVAL);
	cr_assert_eq(va_status_errno(11), -EAGAIN);
	cr_assert_eq(va_status_errno(12), -ENOMEM);
	cr_assert_eq(va_status_errno(16), -EBUSY);
	cr_assert_eq(va_status_errno(6), -ENXIO);
	cr_assert_eq(va_status_errno(28), -ENOSPC);
	cr_assert_eq(va_status_errno(5), -EINVAL, "other: EINVAL");
	cr_assert_str_eq(va_status_name(22), "EINVAL");
	cr_assert_str_eq(va_qual_name(VA_Q_INVALID_MEMBER), "INVALID_MEMBER");
	cr_assert_str_eq(va_qual_name(0x99), "reserved qualifier");
	cr_assert_str_eq(va_mode_name(VA_MODE_FREEZE), "freeze");
	cr_assert_str_eq(va_mode_name(9), "unknown");
}

Test(admin, header_status)
{
	uint8_t		 b[24], s[8];
	struct va_hdr	 h;
	uint16_t	 st, q;

	memset(b, 0xaa, sizeof(b));
	va_hdr_put(b, 0x10, 1, 0x0102030405060708ULL);
	cr_assert_eq(b[0], 0x10);
	cr_assert_eq(b[4], 0, "reserved zeroed");
	va_hdr_get(b, &h);
	cr_assert_eq(h.opcode, 0x10);
	cr_assert_eq(h.group, 1);
	cr_assert_eq(h.member, 0x0102030405060708ULL);
	va_status_put(s, 22, 3);
	cr_assert_eq(va_status_get(s, 8, &st, &q, err, sizeof(err)), 0);
	cr_assert_eq(st, 22);
	cr_assert_eq(q, 3);
	cr_assert_eq(va_status_get(s, 7, &st, &q, err, sizeof(err)), -EPROTO);
	cr_assert_not_null(strstr(err, "7 bytes"));
}

Test(admin, mode_size)
{
	uint8_t		b[8];
	uint8_t		m;
	uint64_t	v;
	size_t		l;

	cr_assert_eq(va_mode_put(b, VA_MODE_STOP), 8);
	cr_assert_eq(va_mode_get(b, 8, &m, err, sizeof(err)), 0);
	cr_assert_eq(m, VA_MODE_STOP);
	for (l = 0; l < 8; l++)
		cr_assert_eq(va_mode_get(b, l, &m, err, sizeof(err)), -EPROTO);
	b[0] = 3;
	cr_assert_eq(va_mode_get(b, 8, &m, err, sizeof(err)), -EPROTO);
	cr_assert_not_null(strstr(err, "unknown device mode 3"));
	cr_assert_eq(va_size_put(b, 123456789), 8);
	cr_assert_eq(va_size_get(b, 8, &v, err, sizeof(err)), 0);
	cr_assert_eq(v, 123456789);
	for (l = 0; l < 8; l++)
		cr_assert_eq(va_size_get(b, l, &v, err, sizeof(err)), -EPROTO);
}

Test(admin, ctx_read_write)
{
	uint8_t		 b[64];
	const uint8_t	*p;
	uint32_t	 n, r, f;
	size_t		 l;

	memset(b, 0, sizeof(b));
	va_ctxread_put(b, 16, 100);
	memset(b + 8, 0x5a, 16);
	cr_assert_eq(va_ctxread_get(b, 24, &n, &r, &p, err, sizeof(err)), 0);
	cr_assert_eq(n, 16);
	cr_assert_eq(r, 100);
	cr_assert_eq(p, b + 8);
	/* The size must fit in what the device wrote. */
	for (l = 8; l < 24; l++) {
		cr_assert_eq(va_ctxread_get(b, l, &n, &r, &p, err,
		    sizeof(err)), -EPROTO);
		cr_assert_not_null(strstr(err, "only"));
	}
	for (l = 0; l < 8; l++)
		cr_assert_eq(va_ctxread_get(b, l, &n, &r, &p, err,
		    sizeof(err)), -EPROTO);
	put_le32(b, UINT32_MAX);
	cr_assert_eq(va_ctxread_get(b, 64, &n, &r, &p, err, sizeof(err)),
	    -EPROTO);

	/* Write: header, bytes, zero padding to 8. */
	memset(b, 0xee, sizeof(b));
	cr_assert_eq(va_ctxwrite_put(b, "abcdefghijk", 11, 1), 8 + 16);
	cr_assert_eq(b[8 + 11], 0);
	cr_assert_eq(b[8 + 15], 0);
	cr_assert_eq(va_ctxwrite_get(b, 24, &n, &f, &p, err, sizeof(err)), 0);
	cr_assert_eq(n, 11);
	cr_assert_eq(f, VA_CTX_WRITE_F_LAST);
	cr_assert_eq(memcmp(p, "abcdefghijk", 11), 0);
	for (l = 0; l < 19; l++)
		cr_assert_eq(va_ctxwrite_get(b, l, &n, &f, &p, err,
		    sizeof(err)), -EINVAL, "length %zu", l);
	put_le32(b + 4, 6);
	cr_assert_eq(va_ctxwrite_get(b, 24, &n, &f, &p, err, sizeof(err)),
	    -EINVAL);
	cr_assert_not_null(strstr(err, "unknown flags"));
	cr_assert_eq(va_ctxwrite_put(b, NULL, 0, 0), 8);
}

Test(admin, write_record_cap)
{
	uint8_t		b[8];
	uint32_t	ps, n;
	size_t		l;

	va_wrcap_put(b, 0x211, 8);
	cr_assert_eq(va_wrcap_get(b, 8, &ps, &n, err, sizeof(err)), 0);
	cr_assert_eq(ps, 0x211);
	cr_assert_eq(n, 8);
	for (l = 0; l < 8; l++)
		cr_assert_eq(va_wrcap_get(b, l, &ps, &n, err, sizeof(err)),
		    -EPROTO);
	va_wrcap_put(b, 0, 8);
	cr_assert_eq(va_wrcap_get(b, 8, &ps, &n, err, sizeof(err)), -EPROTO);
	va_wrcap_put(b, 1, 0);
	cr_assert_eq(va_wrcap_get(b, 8, &ps, &n, err, sizeof(err)), -EPROTO);
}

Test(admin, write_records_start)
{
	struct va_wr_range r[3] = { { 0x10000, 4 }, { 0x100000, 16 },
	    { 0x20000, 1 } }, out[8];
	uint8_t		 b[16 + 16 * 8];
	uint64_t	 ps;
	uint32_t	 n;
	size_t		 len, l;

	len = va_wrstart_put(b, 4096, r, 3);
	cr_assert_eq(len, 16 + 48);
	cr_assert_eq(va_wrstart_get(b, len, &ps, out, 8, &n, err,
	    sizeof(err)), 0, "%s", err);
	cr_assert_eq(ps, 4096);
	cr_assert_eq(n, 3);
	cr_assert_eq(out[1].iova, 0x100000);
	cr_assert_eq(out[1].pages, 16);
	/* Every truncation. */
	for (l = 0; l < len; l++)
		cr_assert_lt(va_wrstart_get(b, l, &ps, out, 8, &n, err,
		    sizeof(err)), 0, "length %zu", l);
	/* More ranges than the device takes. */
	cr_assert_eq(va_wrstart_get(b, len, &ps, out, 2, &n, err,
	    sizeof(err)), -E2BIG);
	/* A count beyond the data. */
	put_le32(b + 8, 4);
	cr_assert_eq(va_wrstart_get(b, len, &ps, out, 8, &n, err,
	    sizeof(err)), -EINVAL);
	cr_assert_not_null(strstr(err, "holds 3"));
	put_le32(b + 8, 0);
	cr_assert_eq(va_wrstart_get(b, len, &ps, out, 8, &n, err,
	    sizeof(err)), -EINVAL);
	/* Page sizes. */
	len = va_wrstart_put(b, 3000, r, 1);
	cr_assert_eq(va_wrstart_get(b, len, &ps, out, 8, &n, err,
	    sizeof(err)), -EINVAL);
	len = va_wrstart_put(b, 2048, r, 1);
	cr_assert_eq(va_wrstart_get(b, len, &ps, out, 8, &n, err,
	    sizeof(err)), -EINVAL);
	/* Alignment, empty range, overflow, overlap. */
	r[0].iova = 0x10800;
	len = va_wrstart_put(b, 4096, r, 1);
	cr_assert_eq(va_wrstart_get(b, len, &ps, out, 8, &n, err,
	    sizeof(err)), -EINVAL);
	cr_assert_not_null(strstr(err, "aligned"));
	r[0].iova = 0x10000;
	r[0].pages = 0;
	len = va_wrstart_put(b, 4096, r, 1);
	cr_assert_eq(va_wrstart_get(b, len, &ps, out, 8, &n, err,
	    sizeof(err)), -EINVAL);
	r[0].iova = UINT64_MAX - 4095;
	r[0].pages = 2;
	len = va_wrstart_put(b, 4096, r, 1);
	cr_assert_eq(va_wrstart_get(b, len, &ps, out, 8, &n, err,
	    sizeof(err)), -EINVAL);
	cr_assert_not_null(strstr(err, "overflows"));
	r[0].iova = 0x10000;
	r[0].pages = 0x11;	/* reaches into r[2] at 0x20000 */
	len = va_wrstart_put(b, 4096, r, 3);
	cr_assert_eq(va_wrstart_get(b, len, &ps, out, 8, &n, err,
	    sizeof(err)), -EINVAL);
	cr_assert_not_null(strstr(err, "ranges 0 and 2 overlap"), "%s", err);
	r[0].pages = 0x10000 / 4096;	/* ends exactly where r[2] starts */
	len = va_wrstart_put(b, 4096, r, 3);
	cr_assert_eq(va_wrstart_get(b, len, &ps, out, 8, &n, err,
	    sizeof(err)), 0, "%s", err);
}

Test(admin, write_records_read)
{
	uint8_t		 b[8 + 16 * 3];
	const uint8_t	*recs;
	uint64_t	 iova, len;
	uint32_t	 n, f;
	size_t		 l;

	va_wrread_put(b, 0x1000, 0x2000);
	cr_assert_eq(va_wrread_get(b, 16, &iova, &len, err, sizeof(err)), 0);
	cr_assert_eq(iova, 0x1000);
	cr_assert_eq(len, 0x2000);
	for (l = 0; l < 16; l++)
		cr_assert_eq(va_wrread_get(b, l, &iova, &len, err,
		    sizeof(err)), -EINVAL);
	va_wrread_put(b, 0x1000, 0);
	cr_assert_eq(va_wrread_get(b, 16, &iova, &len, err, sizeof(err)),
	    -EINVAL);
	va_wrread_put(b, UINT64_MAX, 2);
	cr_assert_eq(va_wrread_get(b, 16, &iova, &len, err, sizeof(err)),
	    -EINVAL);

	va_wrrecs_put_hdr(b, 3, VA_WR_F_MORE);
	va_wrrec_put(b + 8, 0, 0x1000, 8);
	va_wrrec_put(b + 8, 1, 0x2000, 4096);
	va_wrrec_put(b + 8, 2, 0x9000, 1);
	cr_assert_eq(va_wrrecs_get(b, sizeof(b), &n, &f, &recs, err,
	    sizeof(err)), 0);
	cr_assert_eq(n, 3);
	cr_assert_eq(f, VA_WR_F_MORE);
	va_wrrec_get(recs, 1, &iova, &len);
	cr_assert_eq(iova, 0x2000);
	cr_assert_eq(len, 4096);
	/* A count larger than the result. */
	for (l = 0; l < sizeof(b); l++)
		cr_assert_eq(va_wrrecs_get(b, l, &n, &f, &recs, err,
		    sizeof(err)), -EPROTO, "length %zu", l);
	put_le32(b, UINT32_MAX);
	cr_assert_eq(va_wrrecs_get(b, sizeof(b), &n, &f, &recs, err,
	    sizeof(err)), -EPROTO);
	cr_assert_not_null(strstr(err, "holds 3"), "%s", err);
	va_wrrecs_put_hdr(b, 0, 0x4);
	cr_assert_eq(va_wrrecs_get(b, sizeof(b), &n, &f, &recs, err,
	    sizeof(err)), -EPROTO);
	cr_assert_not_null(strstr(err, "flags"));
}

Test(admin, list_bits)
{
	uint8_t	b[16];

	memset(b, 0, sizeof(b));
	va_list_set(b, 16, 0);
	va_list_set(b, 16, 0x10);
	va_list_set(b, 16, 70);
	va_list_set(b, 16, 200);	/* beyond: ignored */
	cr_assert(va_list_has(b, 16, 0));
	cr_assert(va_list_has(b, 16, 0x10));
	cr_assert(va_list_has(b, 16, 70));
	cr_assert_not(va_list_has(b, 8, 70));
	cr_assert_not(va_list_has(b, 16, 1));
	cr_assert_not(va_list_has(b, 16, 200));
}

Test(admin, handshake_messages)
{
	struct va_hello	 h, g;
	struct va_setup	 s, t;
	struct va_ack	 a, c;
	uint8_t		 b[VA_HS_MAX_LEN + VA_HS_HELLO_LEN];
	size_t		 len, l;

	memset(&h, 0, sizeof(h));
	h.device_type = VA_DEVTYPE_NET;
	h.num_vfs = 7;
	h.dialect = VA_DIALECT_DRAFT;
	h.admin_queues = 2;
	h.max_queue_size = 256;
	h.flags = VA_HS_F_CTX_READ_ACTIVE;
	h.max_ctx_bytes = 4096;
	snprintf(h.name, sizeof(h.name), "pf\x01x");
	len = va_hello_put(b, &h);
	cr_assert_eq(va_hello_get(b, len, &g, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(g.num_vfs, 7);
	cr_assert_eq(g.admin_queues, 2);
	cr_assert_str_eq(g.name, "pf?x", "control bytes are not passed on");
	for (l = 0; l < len; l++)
		cr_assert_eq(va_hello_get(b, l, &g, err, sizeof(err)),
		    -EPROTO);
	h.admin_queues = 5;
	va_hello_put(b, &h);
	cr_assert_eq(va_hello_get(b, len, &g, err, sizeof(err)), -EPROTO);
	h.admin_queues = 1;
	h.max_queue_size = 100;
	va_hello_put(b, &h);
	cr_assert_eq(va_hello_get(b, len, &g, err, sizeof(err)), -EPROTO);
	h.status = 16;
	snprintf(h.msg, sizeof(h.msg), "busy");
	va_hello_put(b, &h);
	cr_assert_eq(va_hello_get(b, len, &g, err, sizeof(err)), 0);
	cr_assert_eq(g.status, 16);
	cr_assert_str_eq(g.msg, "busy");
	b[0] ^= 1;
	cr_assert_eq(va_hello_get(b, len, &g, err, sizeof(err)), -EPROTO);
	cr_assert_not_null(strstr(err, "magic"));

	memset(&s, 0, sizeof(s));
	s.nqueues = 2;
	s.mem_size = 1 << 20;
	vq_layout_at(&s.q[0], 64, 0);
	vq_layout_at(&s.q[1], 64, 4096);
	len = va_setup_put(b, &s);
	cr_assert_eq(va_setup_get(b, len, &t, err, sizeof(err)), 0);
	cr_assert_eq(t.nqueues, 2);
	cr_assert_eq(t.q[1].used, s.q[1].used);
	for (l = 0; l < len; l++)
		cr_assert_eq(va_setup_get(b, l, &t, err, sizeof(err)),
		    -EPROTO);
	put_le32(b + 8, 9);
	cr_assert_eq(va_setup_get(b, sizeof(b), &t, err, sizeof(err)),
	    -EPROTO);
	/* A SETUP is not an ACK. */
	cr_assert_eq(va_ack_get(b, sizeof(b), &c, err, sizeof(err)), -EPROTO);

	memset(&a, 0, sizeof(a));
	a.status = 22;
	snprintf(a.msg, sizeof(a.msg), "no");
	len = va_ack_put(b, &a);
	cr_assert_eq(va_ack_get(b, len, &c, err, sizeof(err)), 0);
	cr_assert_eq(c.status, 22);
	cr_assert_str_eq(c.msg, "no");
}
