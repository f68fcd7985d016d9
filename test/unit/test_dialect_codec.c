/*
 * test_dialect_codec.c: the v1.4 and control-vq codecs (every builder
 * read back by its parser, every device-supplied length refused when it
 * lies), the two framings, the dialect tables (opcodes that collide
 * between dialects, modes, what each carries) and the converters'
 * refusals, which name the field.
 */
#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>

#include "util.h"
#include "cvq.h"
#include "devctx.h"
#include "dialect.h"
#include "v14.h"

static char	err[512];

/* --------------------------------------------------------- framing */

Test(framing, admin)
{
	struct va_dcmd	c;
	struct va_dres	r;
	uint8_t		b[64], w[32];

	memset(&c, 0, sizeof(c));
	c.opcode = V14_OP_DEV_MODE_SET;
	c.group = VA_GROUP_SRIOV;
	c.member = 3;
	c.data_len = 1;
	c.data[0] = 1;
	c.tail_len = 2;
	cr_assert_eq(va_frame_out_len(VA_FRAME_ADMIN, &c), 24 + 8);
	cr_assert_eq(va_frame_out_hdr(VA_FRAME_ADMIN, &c, b), 25);
	cr_assert_eq(get_le16(b), V14_OP_DEV_MODE_SET);
	cr_assert_eq(get_le64(b + 16), 3);
	cr_assert_eq(b[24], 1);
	cr_assert_eq(va_frame_in_len(VA_FRAME_ADMIN, 2), 16);
	va_status_put(w, VA_STATUS_EBUSY, VA_Q_TRYAGAIN);
	cr_assert_eq(va_frame_in(VA_FRAME_ADMIN, w, 16, 10, &r, err,
	    sizeof(err)), 0);
	cr_assert_eq(r.status, VA_STATUS_EBUSY);
	cr_assert_eq(r.result_len, 2);
	cr_assert_eq(va_frame_errno(VA_FRAME_ADMIN, r.status), -EBUSY);
	cr_assert_eq(va_frame_errno(VA_FRAME_ADMIN, VA_STATUS_EEXIST),
	    -EEXIST);
	cr_assert_eq(va_frame_in(VA_FRAME_ADMIN, w, 16, 7, &r, err,
	    sizeof(err)), -EPROTO);
	cr_assert_eq(va_frame_in(VA_FRAME_ADMIN, w, 16, 17, &r, err,
	    sizeof(err)), -EPROTO);
}

Test(framing, cvq)
{
	struct va_dcmd	c;
	struct va_dres	r;
	uint8_t		b[64], w[16];

	memset(&c, 0, sizeof(c));
	c.opcode = CVQ_OP_SAVE_STATE;
	c.data_len = cvq_offset_put(c.data, 2, 4096);
	c.tail_len = 5;
	cr_assert_eq(va_frame_out_len(VA_FRAME_CVQ, &c), 2 + 8 + 5);
	cr_assert_eq(va_frame_out_hdr(VA_FRAME_CVQ, &c, b), 10);
	cr_assert_eq(b[0], CVQ_CLASS_VF_MIGRATION);
	cr_assert_eq(b[1], 7);
	cr_assert_eq(cvq_hdr_get(b), CVQ_OP_SAVE_STATE);
	cr_assert_eq(get_le32(b + 6), 4096);
	cr_assert_eq(va_frame_in_len(VA_FRAME_CVQ, 15), 16);
	/* The ack is the last byte of the posted part, whatever was used. */
	memset(w, 0, sizeof(w));
	w[15] = CVQ_ACK_ERR;
	cr_assert_eq(va_frame_in(VA_FRAME_CVQ, w, 16, 4, &r, err,
	    sizeof(err)), 0);
	cr_assert_eq(r.status, CVQ_ACK_ERR);
	cr_assert_eq(r.result_len, 3);
	cr_assert_eq(va_frame_errno(VA_FRAME_CVQ, r.status), -EIO);
	cr_assert_eq(va_frame_in(VA_FRAME_CVQ, w, 16, 0, &r, err,
	    sizeof(err)), -EPROTO);
	cr_assert_not_null(strstr(err, "no ack"), "%s", err);
}

/* ------------------------------------------------------------ v1.4 */

Test(v14, commands)
{
	uint8_t		 b[64];
	const uint8_t	*h;
	size_t		 nh;
	uint32_t	 id, v;
	uint16_t	 t16;
	uint8_t		 t, g, s;
	int		 has, stopped;

	cr_assert_eq(v14_obj_create_put(b, 7, V14_PARTS_OBJ_SET), 24);
	cr_assert_eq(v14_obj_create_get(b, 24, &id, &t, err, sizeof(err)), 0);
	cr_assert_eq(id, 7);
	cr_assert_eq(t, V14_PARTS_OBJ_SET);
	b[16] = 2;
	cr_assert_eq(v14_obj_create_get(b, 24, &id, &t, err, sizeof(err)),
	    -EINVAL);
	b[16] = 0;
	put_le64(b + 8, 1);
	cr_assert_eq(v14_obj_create_get(b, 24, &id, &t, err, sizeof(err)),
	    -EINVAL);
	cr_assert_eq(v14_obj_create_get(b, 23, &id, &t, err, sizeof(err)),
	    -EINVAL);
	v14_obj_hdr_put(b, V14_OBJ_DEV_PARTS, 9);
	b[2] = 1;
	cr_assert_eq(v14_obj_hdr_get(b, 8, &t16, &id, err, sizeof(err)),
	    -EINVAL);
	v14_meta_put(b, 3, V14_META_LIST);
	cr_assert_eq(v14_meta_get(b, 16, &id, &t, err, sizeof(err)), 0);
	cr_assert_eq(t, V14_META_LIST);
	b[8] = 3;
	cr_assert_eq(v14_meta_get(b, 16, &id, &t, err, sizeof(err)), -EINVAL);
	v14_get_put(b, 3, V14_GET_SELECTED);
	cr_assert_eq(v14_get_get(b, 48, &id, &t, &h, &nh, err, sizeof(err)),
	    0);
	cr_assert_eq(nh, 2);
	cr_assert_eq(h, b + 16);
	v14_get_put(b, 3, V14_GET_ALL);
	cr_assert_eq(v14_get_get(b, 48, &id, &t, &h, &nh, err, sizeof(err)),
	    0);
	cr_assert_eq(nh, 0);
	v14_cap_set_put(b, 4, 5);
	cr_assert_eq(v14_cap_set_get(b, 16, &t16, &g, &s, err, sizeof(err)),
	    0);
	cr_assert(t16 == V14_CAP_DEV_PARTS && g == 4 && s == 5);
	put_le64(b, 1);
	cr_assert_eq(v14_caps_get(b, 8, V14_CAP_DEV_PARTS, &has, err,
	    sizeof(err)), 0);
	cr_assert(has);
	cr_assert_eq(v14_caps_get(b, 4, 0, &has, err, sizeof(err)), -EPROTO);
	cr_assert_eq(v14_parts_cap_get(b, 1, &g, &s, err, sizeof(err)),
	    -EPROTO);
	/* METADATA LIST: the count must fit the result. */
	put_le32(b, 3);
	cr_assert_eq(v14_meta_list(b, 8 + 32, &v, &h, err, sizeof(err)),
	    -EPROTO);
	cr_assert_eq(v14_meta_list(b, 8 + 48, &v, &h, err, sizeof(err)), 0);
	v14_mode_put(b, 1);
	cr_assert_eq(v14_mode_get(b, 8, &stopped, err, sizeof(err)), 0);
	cr_assert(stopped);
	b[0] = 0x81;
	cr_assert_eq(v14_mode_get(b, 8, &stopped, err, sizeof(err)), -EINVAL);
}

/* A small, valid parts list: status, a queue, the MAC, two VLANs. */
static size_t
parts(uint8_t *buf, size_t cap)
{
	struct v14_pbuf	 b;
	uint8_t		 sel[8], *v;

	v14_pbuf_init(&b, buf, cap);
	memset(sel, 0, 8);
	if ((v = v14_part_add(&b, V14_PART_DEVICE_STATUS, 0, sel, 1)) != NULL)
		v[0] = 0xf;
	v14_sel_u16(sel, 0);
	if ((v = v14_part_add(&b, V14_PART_VQ_CFG, 0, sel, 32)) != NULL)
		put_le16(v, 256);
	v14_sel_net(sel, V14_NET_CLASS_MAC, V14_NET_MAC_ADDR_SET);
	(void)v14_part_add(&b, V14_PART_NET_CVQ, 0, sel, 6);
	v14_sel_net(sel, V14_NET_CLASS_VLAN, V14_NET_VLAN_ADD);
	if ((v = v14_part_add(&b, V14_PART_NET_CVQ, 0, sel, 2)) != NULL)
		put_le16(v, 5);
	if ((v = v14_part_add(&b, V14_PART_NET_CVQ, 0, sel, 2)) != NULL)
		put_le16(v, 9);
	cr_assert(!b.overflow);
	return (b.len);
}

static void
v14_refused(uint8_t *buf, size_t len, const char *why)
{
	cr_assert_eq(v14_parts_validate(buf, len, err, sizeof(err)), -EINVAL,
	    "accepted; expected: %s", why);
	cr_assert_not_null(strstr(err, why), "'%s' does not say '%s'", err,
	    why);
}

Test(v14, parts_iterator)
{
	uint8_t		 a[512], b[512];
	size_t		 n = parts(a, sizeof(a)), k, vlan2;

	cr_assert_eq(v14_parts_validate(a, n, err, sizeof(err)), 0, "%s",
	    err);
	cr_assert_eq(parts(NULL, 0), n, "counting gives the same length");
	/* Up to 7 zero bytes of padding are fine; anything else is not. */
	memcpy(b, a, n);
	memset(b + n, 0, 8);
	cr_assert_eq(v14_parts_validate(b, n + 7, err, sizeof(err)), 0);
	b[n + 3] = 1;
	v14_refused(b, n + 7, "header truncated");
	v14_refused(b, n + 8, "header truncated");
	/* The last part cut short in its value, in its header. */
	for (k = n - 2; k < n; k++)
		v14_refused(a, k, "runs past the end");
	v14_refused(a, n - 10, "header truncated");
	/* The second VLAN before the first: out of order; equal: a dup. */
	vlan2 = n - 18;
	memcpy(b, a, n);
	put_le16(b + vlan2 + 16, 5);
	v14_refused(b, n, "out of the required order, or a duplicate");
	put_le16(b + vlan2 + 16, 4);
	v14_refused(b, n, "out of the required order");
	put_le16(b + vlan2 + 16, 4096);
	v14_refused(b, n, "VLAN command 0");
	/* Reserved flag bits, a reserved byte, an unknown mandatory type,
	 * an unknown optional one (skipped), a length past the end. */
	memcpy(b, a, n);
	b[2] = 2;
	v14_refused(b, n, "reserved flag bits");
	b[2] = 0;
	b[3] = 1;
	v14_refused(b, n, "reserved flag bits 0 or byte");
	b[3] = 0;
	put_le16(b, 0x1ff);
	v14_refused(b, n, "unknown mandatory part type 0x1ff");
	/* A newer device's part, at the end: mandatory refused, optional
	 * skipped. */
	memcpy(b, a, n);
	memset(b + n, 0, 19);
	put_le16(b + n, 0x300);
	put_le32(b + n + 12, 3);
	v14_refused(b, n + 19, "unknown mandatory part type 0x300");
	b[n + 2] = V14_PART_F_OPTIONAL;
	cr_assert_eq(v14_parts_validate(b, n + 19, err, sizeof(err)), 0, "%s",
	    err);
	memcpy(b, a, n);
	put_le32(b + 12, 100000);
	v14_refused(b, n, "runs past the end");
	/* Known types of the wrong shape. */
	memcpy(b, a, n);
	b[17 + 4 + 2] = 1;	/* the queue's selector, past the index */
	v14_refused(b, n, "queue 0: length 32 (32) or selector bytes");
	memcpy(b, a, n);
	put_le16(b + 17 + 16, 100);	/* queue size */
	v14_refused(b, n, "size 100");
}

Test(v14, parts_common_cfg_and_macs)
{
	struct v14_pbuf	 b;
	uint8_t		 buf[256], sel[8], *v;

	/* A register is its offset and width; no other offset is one. */
	v14_pbuf_init(&b, buf, sizeof(buf));
	v14_sel_u32(sel, 18);
	(void)v14_part_add(&b, V14_PART_PCI_COMMON_CFG, 0, sel, 2);
	cr_assert_eq(v14_parts_validate(buf, b.len, err, sizeof(err)), 0);
	v14_pbuf_init(&b, buf, sizeof(buf));
	v14_sel_u32(sel, 19);
	(void)v14_part_add(&b, V14_PART_PCI_COMMON_CFG, 0, sel, 2);
	v14_refused(buf, b.len, "offset 19 with 2 bytes");
	v14_pbuf_init(&b, buf, sizeof(buf));
	v14_sel_u32(sel, 18);
	(void)v14_part_add(&b, V14_PART_PCI_COMMON_CFG, 0, sel, 4);
	v14_refused(buf, b.len, "offset 18 with 4 bytes");
	/* A MAC table whose counts do not add up. */
	v14_pbuf_init(&b, buf, sizeof(buf));
	v14_sel_net(sel, V14_NET_CLASS_MAC, V14_NET_MAC_TABLE_SET);
	v = v14_part_add(&b, V14_PART_NET_CVQ, 0, sel, 8 + 12);
	put_le32(v, 1);
	put_le32(v + 10, 1);
	cr_assert_eq(v14_parts_validate(buf, b.len, err, sizeof(err)), 0,
	    "%s", err);
	put_le32(v + 10, 3);
	v14_refused(buf, b.len, "1 + 3 entries");
	put_le32(v, 65);
	v14_refused(buf, b.len, "65 unicast entries");
}

/* ------------------------------------------------------------- cvq */

Test(cvq, commands)
{
	uint8_t		b[64];
	uint16_t	ver[3], modes, lb, ly, f, m, st;
	uint32_t	off, len;

	cvq_identify_put(b, CVQ_CAP_ALL, 24, 22);
	cr_assert_eq(cvq_identify_get(b, 16, ver, &modes, &lb, &ly, err,
	    sizeof(err)), 0);
	cr_assert(ver[0] == 1 && modes == 0xf && lb == 24 && ly == 22);
	cr_assert_eq(cvq_identify_get(b, 15, ver, &modes, &lb, &ly, err,
	    sizeof(err)), -EPROTO);
	put_le16(b, 2);
	cr_assert_eq(cvq_identify_get(b, 16, ver, &modes, &lb, &ly, err,
	    sizeof(err)), -EPROTONOSUPPORT);
	put_le16(b, 1);
	put_le16(b + 6, 0x10);
	cr_assert_eq(cvq_identify_get(b, 16, ver, &modes, &lb, &ly, err,
	    sizeof(err)), -EPROTO);
	cvq_start_put(b, 3, CVQ_TRACK_PULL_BYTEMAP);
	cr_assert_eq(cvq_start_get(b, 5, &f, &m, err, sizeof(err)), 0);
	cr_assert(f == 3 && m == CVQ_TRACK_PULL_BYTEMAP);
	put_le16(b + 2, 5);
	cr_assert_eq(cvq_start_get(b, 5, &f, &m, err, sizeof(err)), -EINVAL);
	cvq_offset_put(b, 2, 77);
	cr_assert_eq(cvq_offset_get(b, 8, &f, &off, err, sizeof(err)), 0);
	cr_assert(f == 2 && off == 77);
	b[2] = 1;
	cr_assert_eq(cvq_offset_get(b, 8, &f, &off, err, sizeof(err)),
	    -EINVAL);
	cvq_set_state_put(b, 1, 4);
	cr_assert_eq(cvq_set_state_get(b, 4, &f, &st, err, sizeof(err)),
	    -EINVAL);
	cvq_attrs_put(b, 1000, CVQ_S_FREEZED);
	cr_assert_eq(cvq_attrs_get(b, 6, &len, &st, err, sizeof(err)), 0);
	cr_assert(len == 1000 && st == CVQ_S_FREEZED);
	cvq_attrs_put(b, CVQ_ST_MAX_BYTES + 1, 0);
	cr_assert_eq(cvq_attrs_get(b, 6, &len, &st, err, sizeof(err)),
	    -EPROTO);
	cr_assert_eq(cvq_u32_get("x", b, 3, &len, err, sizeof(err)), -EPROTO);
}

static size_t
state(uint8_t *buf, size_t cap)
{
	struct cvq_sbuf	 b;
	uint8_t		*v;
	long		 n;

	cvq_sbuf_init(&b, buf, cap, 1);
	if ((v = cvq_portion_add(&b, CVQ_PT_FEATURES, 0, 0, 8 + 16)) != NULL) {
		put_le16(v, 1);
		put_le16(v + 2, 1);
	}
	(void)cvq_portion_add(&b, CVQ_PT_TRANSPORT, 0, 0, 64);
	if ((v = cvq_portion_add(&b, CVQ_PT_QUEUE, 0, 0, 40 + 4)) != NULL)
		put_le16(v + 12, 2);
	(void)cvq_portion_add(&b, CVQ_PT_QUEUE, 0, 1, 40);
	if ((v = cvq_portion_add(&b, CVQ_PT_VENDOR, CVQ_PT_F_OPTIONAL, 0,
	    8 + 3)) != NULL)
		put_le32(v, 5);
	n = cvq_sbuf_end(&b);
	cr_assert_gt(n, 0);
	return ((size_t)n);
}

static void
cvq_refused(uint8_t *buf, size_t len, const char *why)
{
	cr_assert_eq(cvq_state_validate(buf, len, err, sizeof(err)), -EINVAL,
	    "accepted; expected: %s", why);
	cr_assert_not_null(strstr(err, why), "'%s' does not say '%s'", err,
	    why);
}

Test(cvq, state_portions)
{
	uint8_t		 a[512], b[512];
	size_t		 n = state(a, sizeof(a)), k, q1;
	uint32_t	 total;

	cr_assert_eq(cvq_state_validate(a, n, err, sizeof(err)), 0, "%s",
	    err);
	cr_assert_eq(state(NULL, 0), n);
	cr_assert_eq(cvq_state_peek(a, 15, &total, err, sizeof(err)), 0);
	cr_assert_eq(cvq_state_peek(a, 16, &total, err, sizeof(err)), 1);
	cr_assert_eq(total, n);
	for (k = 0; k < n; k++) {
		memcpy(b, a, n);
		if (k >= 16)
			put_le32(b + 8, (uint32_t)k);
		cr_assert_neq(cvq_state_validate(b, k, err, sizeof(err)), 0,
		    "prefix %zu accepted", k);
	}
	/* The count, the order, the shapes. */
	memcpy(b, a, n);
	put_le16(b + 6, 6);
	cvq_refused(b, n, "truncated");
	put_le16(b + 6, 4);
	cvq_refused(b, n, "trail the last of 4 portions");
	q1 = 16 + 8 + 24 + 8 + 64 + 8 + 44;
	memcpy(b, a, n);
	put_le16(b + q1 + 2, 0);
	cvq_refused(b, n, "out of order or a duplicate");
	memcpy(b, a, n);
	put_le16(b + q1 + 8 + 12, 1);	/* an owned desc the length lacks */
	cvq_refused(b, n, "do not fit the QUEUE layout");
	memcpy(b, a, n);
	b[q1] = 0x55;
	cvq_refused(b, n, "unknown mandatory kind 0x55");
	b[q1 + 1] = CVQ_PT_F_OPTIONAL;
	cr_assert_eq(cvq_state_validate(b, n, err, sizeof(err)), 0, "%s", err);
	memcpy(b, a, n);
	put_le32(b, 0);
	cvq_refused(b, n, "not a control-vq state image");
}

Test(cvq, dirty_reports)
{
	struct vmig_dirty_map m[2];
	uint64_t	 b0[1] = { 0 }, b1[1] = { 0 }, off, n, pages = 0;
	uint64_t	 newbits = 0, outside = 0;
	uint8_t		 rep[4], map[64];

	/* Bitmap: page 0x100000 (4 GiB) starts at byte 0x20000. */
	cvq_report_span(1ULL << 32, 5 * 4096, 0, &off, &n);
	cr_assert(off == 0x20000 && n == 1);
	cvq_report_span((1ULL << 32) + 4096 * 7, 4096 * 2, 0, &off, &n);
	cr_assert(off == 0x20000 && n == 2);
	cvq_report_span(1ULL << 32, 5 * 4096, 1, &off, &n);
	cr_assert(off == 0x100000 && n == 5);
	/* Two maps, one at 64 KiB pages; a bit in neither. */
	m[0] = (struct vmig_dirty_map){ 1ULL << 32, 8 * 4096, 4096, b0 };
	m[1] = (struct vmig_dirty_map){ (1ULL << 32) + 65536, 4 * 65536,
	    65536, b1 };
	memset(rep, 0, sizeof(rep));
	rep[0] = 0x05;		/* pages 0, 2 */
	rep[2] = 0x01;		/* page 16: 64 KiB into the second map */
	rep[3] = 0x80;		/* page 31: the same 64 KiB page */
	cvq_report_apply(rep, 4, 0x20000, 0, m, 2, &pages, &newbits,
	    &outside);
	cr_assert_eq(pages, 4);
	cr_assert_eq(b0[0], 0x5);
	cr_assert_eq(b1[0], 0x1);
	cr_assert_eq(newbits, 3);
	cr_assert_eq(outside, 0);
	rep[0] = 0;
	rep[1] = 0x01;		/* page 8: between the maps */
	pages = 0;
	cvq_report_apply(rep, 2, 0x20000, 0, m, 2, &pages, &newbits,
	    &outside);
	cr_assert_eq(outside, 1);
	/* Push: taken and cleared, bytemap and bitmap alike. */
	memset(map, 0, sizeof(map));
	map[3] = 1;
	b0[0] = 0;
	pages = newbits = outside = 0;
	cvq_push_harvest(map, sizeof(map), 1, m, 1, &pages, &newbits,
	    &outside);
	cr_assert_eq(pages, 1);
	cr_assert_eq(outside, 1, "page 3 of the IOVA space is in no map");
	cr_assert_eq(map[3], 0);
}

/* ------------------------------------------------- the dialect tables */

Test(dialect, tables)
{
	const struct va_dialect *d, *v, *c;

	d = va_dialect_byname("draft");
	v = va_dialect_byname("v1.4");
	c = va_dialect_byname("control-vq");
	cr_assert(d == &va_dialect_draft && v == &va_dialect_v14 &&
	    c == &va_dialect_cvq);
	cr_assert_eq(va_dialect_find(VA_DIALECT_V14), v);
	cr_assert_null(va_dialect_find(9));
	cr_assert_null(va_dialect_byname("v2"));
	/* The same opcodes mean different commands. */
	cr_assert_str_eq(va_dialect_op_name(d, 0x7), "DEV_MODE_GET");
	cr_assert_str_eq(va_dialect_op_name(v, 0x7), "CAP_ID_LIST_QUERY");
	cr_assert_str_eq(va_dialect_op_name(d, 0x10), "WRITE_RECORDS_READ");
	cr_assert_str_eq(va_dialect_op_name(v, 0x10), "DEV_PARTS_SET");
	cr_assert_str_eq(va_dialect_op_name(v, 0xb), "0xb");
	cr_assert_str_eq(va_dialect_op_name(c, CVQ_OP(5)), "SET_STATE");
	cr_assert_eq(va_dialect_op_byname(v, "dev_mode_set")->opcode, 0x11);
	cr_assert(va_dialect_op(v, V14_OP_CAP_ID_LIST_QUERY)->self);
	cr_assert(!va_dialect_op(v, V14_OP_DEV_PARTS_GET)->self);
	/* Modes. */
	cr_assert_str_eq(va_dialect_mode_name(c, 0), "init");
	cr_assert_str_eq(va_dialect_mode_name(v, 1), "stopped");
	cr_assert_str_eq(va_dialect_mode_name(d, 5), "unknown");
	cr_assert_eq(v->mode_device(VMIG_MODE_FROZEN), 1);
	cr_assert_eq(c->mode_next(CVQ_S_RUNNING, CVQ_S_FREEZED),
	    CVQ_S_QUIESCED);
	cr_assert_eq(c->mode_next(CVQ_S_INIT, CVQ_S_QUIESCED), CVQ_S_FREEZED);
	cr_assert_eq(c->mode_next(CVQ_S_RUNNING, CVQ_S_INIT), -1);
	cr_assert_eq(d->mode_next(VA_MODE_FREEZE, VA_MODE_ACTIVE),
	    VA_MODE_STOP);
	cr_assert_eq(d->mode_vmig[VA_MODE_FREEZE], VMIG_MODE_FROZEN);
	cr_assert_eq(c->mode_vmig[CVQ_S_INIT], VMIG_MODE_STOPPED);
}

Test(dialect, compat_table)
{
	const struct va_dialect *ds[] = { &va_dialect_draft, &va_dialect_v14,
	    &va_dialect_cvq };
	size_t	 i;

	for (i = 0; i < 3; i++)
		cr_assert_eq(va_dialect_compat(ds[i], ds[i], err, sizeof(err)),
		    0, "%s to itself: %s", ds[i]->name, err);
	cr_assert_eq(va_dialect_compat(&va_dialect_draft, &va_dialect_v14,
	    err, sizeof(err)), 1);
	cr_assert_not_null(strstr(err, "device-owned descriptors must be "
	    "empty"), "%s", err);
	cr_assert_eq(va_dialect_compat(&va_dialect_v14, &va_dialect_draft,
	    err, sizeof(err)), 1);
	cr_assert_not_null(strstr(err, "queue avail index comes from each "
	    "used ring"), "%s", err);
	cr_assert_not_null(strstr(err, "keeps its own device config"), "%s",
	    err);
	cr_assert_eq(va_dialect_compat(&va_dialect_draft, &va_dialect_cvq,
	    err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(va_dialect_compat(&va_dialect_cvq, &va_dialect_draft,
	    err, sizeof(err)), 0, "%s", err);
	cr_assert_str_eq(va_citem_name(VA_CI_VQ_OWN),
	    "device-owned descriptors");
	cr_assert_str_eq(va_carry_name(VA_C_RING), "in the used ring");
}

/* ------------------------------------------------ converters refusing */

Test(dialect, converters_name_the_field)
{
	struct vds	*s = calloc(1, sizeof(*s)), *base = calloc(1,
			    sizeof(*base));
	struct vds_vq	*q;
	struct va_ctx_buf b;
	static uint8_t	 img[4096], cfg[24], dma[VA_CTX_SIM_DMA_LEN];
	uint8_t		*v, own[4] = { 1, 0, 2, 0 };

	vds_init(s, 1);
	s->have = VDS_H_DEVICE_FEATURES;
	s->ndev = 1;
	vds_reg_set(s, VDS_R_DEVICE_STATUS, 0xf);
	q = vds_vq(s, 0, 1);
	q->has = VDS_VQ_HAS_CFG;
	q->size = 256;
	/* Draft: the device config is needed; the destination's will do. */
	cr_assert_eq(va_dialect_draft.from_canon(s, NULL, NULL, 0, err,
	    sizeof(err)), -EINVAL);
	cr_assert_not_null(strstr(err, "DEVICE_CONFIG is missing"), "%s",
	    err);
	vds_init(base, 1);
	base->have = VDS_H_DEVICE_CONFIG;
	base->config = cfg;
	base->config_len = sizeof(cfg);
	cr_assert_eq(va_state_compat(s, &va_dialect_draft, base, err,
	    sizeof(err)), -EINVAL);
	cr_assert_not_null(strstr(err, "VQ_SPLIT (avail index) of queue 0"),
	    "%s", err);
	q->has |= VDS_VQ_HAS_SPLIT;
	cr_assert_eq(va_state_compat(s, &va_dialect_draft, base, err,
	    sizeof(err)), 0, "%s", err);
	/* v1.4: no part for descriptors the device owns. */
	q->nown = 2;
	q->own = own;
	cr_assert_eq(va_state_compat(s, &va_dialect_v14, NULL, err,
	    sizeof(err)), -EPROTONOSUPPORT);
	cr_assert_not_null(strstr(err, "VQ_SPLIT of queue 0: 2 device-owned"),
	    "%s", err);
	cr_assert_eq(va_state_compat(s, &va_dialect_cvq, NULL, err,
	    sizeof(err)), 0, "%s", err);
	/* A vendor blob the draft cannot number, unless it is optional. */
	q->nown = 0;
	cr_assert_eq(vds_add_vendor(s, 0x42, 0, cfg, 4, err, sizeof(err)), 0);
	cr_assert_eq(va_state_compat(s, &va_dialect_draft, base, err,
	    sizeof(err)), -EINVAL);
	cr_assert_not_null(strstr(err, "VENDOR 0x42"), "%s", err);
	s->vendor[0].flags = VDS_F_OPTIONAL;
	cr_assert_eq(va_state_compat(s, &va_dialect_draft, base, err,
	    sizeof(err)), 0, "%s", err);
	/* A vendor type the draft knows, with a value its device (and its
	 * own to_canon) would refuse: refused before anything is sent. */
	memset(dma, 0, sizeof(dma));
	cr_assert_eq(vds_add_vendor(s, VDS_VENDOR_SIM_DMA, VDS_F_OPTIONAL,
	    dma, sizeof(dma), err, sizeof(err)), 0);
	cr_assert_eq(va_state_compat(s, &va_dialect_draft, base, err,
	    sizeof(err)), -EINVAL);
	cr_assert_not_null(strstr(err, "VENDOR 0x80000001 (VENDOR_SIM_DMA): "
	    "DMA state version 0, expected 1"), "%s", err);
	s->vendor[1].len = 4;
	cr_assert_eq(va_state_compat(s, &va_dialect_draft, base, err,
	    sizeof(err)), -EINVAL);
	cr_assert_not_null(strstr(err, "length 4 outside 112..112"), "%s",
	    err);
	s->vendor[1].len = sizeof(dma);
	dma[0] = 1;
	cr_assert_eq(va_state_compat(s, &va_dialect_draft, base, err,
	    sizeof(err)), 0, "%s", err);
	/* A vendor type the draft does not know, mandatory: its device
	 * refuses an unknown mandatory field, so the converter does. */
	cr_assert_eq(vds_add_vendor(s, 0x8000ff01u, 0, cfg, 4, err,
	    sizeof(err)), 0);
	cr_assert_eq(va_state_compat(s, &va_dialect_draft, base, err,
	    sizeof(err)), -EINVAL);
	cr_assert_not_null(strstr(err, "VENDOR 0x8000ff01 is mandatory and "
	    "not a draft type"), "%s", err);
	s->vendor[2].flags = VDS_F_OPTIONAL;
	cr_assert_eq(va_state_compat(s, &va_dialect_draft, base, err,
	    sizeof(err)), 0, "%s", err);

	/* Draft images the canonical form will not take. */
	va_ctx_begin(&b, img, sizeof(img));
	v = va_ctx_add(&b, VA_CTX_PCI_VQ_CFG, 0, VA_CTX_VQ_CFG_LEN);
	put_le16(v + 2, 256);
	cr_assert_gt(va_ctx_end(&b), 0);
	cr_assert_eq(va_dialect_draft.to_canon(img, b.len, 1, s, err,
	    sizeof(err)), -EINVAL);
	cr_assert_not_null(strstr(err, "PCI_VQ_CFG without VQ_SPLIT_RUNTIME"),
	    "%s", err);
	va_ctx_begin(&b, img, sizeof(img));
	(void)va_ctx_add(&b, VA_CTX_DEV_FEATURES, 0, 8);
	(void)va_ctx_add(&b, VA_CTX_DEV_FEATURES, 0, 8);
	cr_assert_gt(va_ctx_end(&b), 0);
	cr_assert_eq(va_dialect_draft.to_canon(img, b.len, 1, s, err,
	    sizeof(err)), -EINVAL);
	cr_assert_not_null(strstr(err, "a second DEV_FEATURES"), "%s", err);
	free(s);
	free(base);
}
