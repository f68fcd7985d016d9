/*
 * cvq.c: the control-vq proposal's commands, dirty reports and our state
 * portions (see cvq.h).
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "util.h"
#include "devctx.h"
#include "cvq.h"
#include "writerec.h"

/* Data: after class and command. Result: before the ack. */
const struct va_opinfo cvq_optab[CVQ_NOPS] = {
	{ CVQ_OP_IDENTIFY, "IDENTIFY", 0, 0, 0, CVQ_IDENTIFY_LEN,
	  CVQ_IDENTIFY_LEN, "-",
	  "le16 mjr_ver, mnr_ver, ter_ver, dirty_page_track_modes, "
	  "log_max_pages_pull_bitmap, log_max_pages_pull_bytemap; "
	  "le32 reserved", 0 },
	{ CVQ_OP_START_DIRTY_PAGE_TRACK, "START_DIRTY_PAGE_TRACK", 1,
	  CVQ_START_LEN, CVQ_START_LEN, 0, VA_VAR,
	  "le16 func_id; le16 mode; u8 reserved",
	  "push: the dirty map (indirect descriptors)", 0 },
	{ CVQ_OP_STOP_DIRTY_PAGE_TRACK, "STOP_DIRTY_PAGE_TRACK", 1,
	  CVQ_FUNC_LEN, CVQ_FUNC_LEN, 0, 0, "le16 func_id", "-", 0 },
	{ CVQ_OP_GET_DIRTY_REPORT_SIZE, "GET_DIRTY_REPORT_SIZE", 1,
	  CVQ_FUNC_LEN, CVQ_FUNC_LEN, CVQ_REPORT_SIZE_LEN,
	  CVQ_REPORT_SIZE_LEN, "le16 func_id", "le32 len", 0 },
	{ CVQ_OP_REPORT_DIRTY_PAGES, "REPORT_DIRTY_PAGES", 1, CVQ_OFFSET_LEN,
	  CVQ_OFFSET_LEN, 0, VA_VAR, "le16 func_id; le16 reserved; "
	  "le32 offset", "u8 data[] (read and cleared)", 0 },
	{ CVQ_OP_SET_STATE, "SET_STATE", 1, CVQ_SET_STATE_LEN,
	  CVQ_SET_STATE_LEN, 0, 0, "le16 func_id; le16 state", "-", 0 },
	{ CVQ_OP_GET_STATE_ATTRS, "GET_STATE_ATTRS", 1, CVQ_FUNC_LEN,
	  CVQ_FUNC_LEN, CVQ_ATTRS_LEN, CVQ_ATTRS_LEN, "le16 func_id",
	  "le32 len; le16 state", 0 },
	{ CVQ_OP_SAVE_STATE, "SAVE_STATE", 1, CVQ_OFFSET_LEN, CVQ_OFFSET_LEN,
	  0, VA_VAR, "le16 func_id; le16 reserved; le32 offset",
	  "u8 data[]", 0 },
	{ CVQ_OP_RESTORE_STATE, "RESTORE_STATE", 1, CVQ_OFFSET_LEN, VA_VAR,
	  0, 0, "le16 func_id; le16 reserved; le32 offset; u8 data[]", "-",
	  0 },
};

static const char *const cvq_states[CVQ_S_N] = {
	[CVQ_S_INIT] = "init",
	[CVQ_S_RUNNING] = "running",
	[CVQ_S_QUIESCED] = "quiesced",
	[CVQ_S_FREEZED] = "freezed",
};

const char *
cvq_state_name(uint16_t s)
{
	return (s < CVQ_S_N ? cvq_states[s] : "unknown");
}

/* ---------------------------------------------------- command codecs */

size_t
cvq_hdr_put(uint8_t *p, uint16_t opcode)
{
	p[0] = (uint8_t)(opcode >> 8);
	p[1] = (uint8_t)opcode;
	return (CVQ_HDR_LEN);
}

uint16_t
cvq_hdr_get(const uint8_t *p)
{
	return ((uint16_t)((p[0] << 8) | p[1]));
}

size_t
cvq_identify_put(uint8_t *p, uint16_t modes, uint16_t log_bitmap,
    uint16_t log_bytemap)
{
	memset(p, 0, CVQ_IDENTIFY_LEN);
	put_le16(p, 1);		/* version 1.0.0 */
	put_le16(p + 6, modes);
	put_le16(p + 8, log_bitmap);
	put_le16(p + 10, log_bytemap);
	return (CVQ_IDENTIFY_LEN);
}

int
cvq_identify_get(const uint8_t *p, size_t len, uint16_t ver[3],
    uint16_t *modes, uint16_t *log_bitmap, uint16_t *log_bytemap,
    char *err, size_t errlen)
{
	int	rc;

	if ((rc = va_short("IDENTIFY result", len, CVQ_IDENTIFY_LEN,
	    -EPROTO, err, errlen)) != 0)
		return (rc);
	/* Checked first: nothing is taken from a result we refuse. */
	if (get_le16(p) != 1)
		return (va_err(err, errlen, -EPROTONOSUPPORT, "IDENTIFY: "
		    "version %u.%u.%u, we speak 1.x", get_le16(p),
		    get_le16(p + 2), get_le16(p + 4)));
	if ((get_le16(p + 6) & ~CVQ_CAP_ALL) || get_le16(p + 8) > 40 ||
	    get_le16(p + 10) > 40)
		return (va_err(err, errlen, -EPROTO, "IDENTIFY: modes %#x or "
		    "log_max_pages %u / %u out of range", get_le16(p + 6),
		    get_le16(p + 8), get_le16(p + 10)));
	ver[0] = get_le16(p);
	ver[1] = get_le16(p + 2);
	ver[2] = get_le16(p + 4);
	*modes = get_le16(p + 6);
	*log_bitmap = get_le16(p + 8);
	*log_bytemap = get_le16(p + 10);
	return (0);
}

size_t
cvq_start_put(uint8_t *p, uint16_t func, uint16_t mode)
{
	memset(p, 0, CVQ_START_LEN);
	put_le16(p, func);
	put_le16(p + 2, mode);
	return (CVQ_START_LEN);
}

int
cvq_start_get(const uint8_t *p, size_t len, uint16_t *func, uint16_t *mode,
    char *err, size_t errlen)
{
	int	rc;

	if ((rc = va_short("START_DIRTY_PAGE_TRACK data", len, CVQ_START_LEN,
	    -EINVAL, err, errlen)) != 0)
		return (rc);
	*func = get_le16(p);
	*mode = get_le16(p + 2);
	if (*mode < CVQ_TRACK_PUSH_BITMAP || *mode > CVQ_TRACK_PULL_BYTEMAP ||
	    p[4] != 0)
		return (va_err(err, errlen, -EINVAL, "tracking mode %u (1..4) "
		    "or reserved byte set", *mode));
	return (0);
}

size_t
cvq_func_put(uint8_t *p, uint16_t func)
{
	put_le16(p, func);
	return (CVQ_FUNC_LEN);
}

int
cvq_func_get(const uint8_t *p, size_t len, uint16_t *func, char *err,
    size_t errlen)
{
	int	rc;

	if ((rc = va_short("data", len, CVQ_FUNC_LEN, -EINVAL, err,
	    errlen)) != 0)
		return (rc);
	*func = get_le16(p);
	return (0);
}

size_t
cvq_u32_put(uint8_t *p, uint32_t v)
{
	put_le32(p, v);
	return (4);
}

int
cvq_u32_get(const char *what, const uint8_t *p, size_t len, uint32_t *v,
    char *err, size_t errlen)
{
	int	rc;

	if ((rc = va_short(what, len, 4, -EPROTO, err, errlen)) != 0)
		return (rc);
	*v = get_le32(p);
	return (0);
}

size_t
cvq_offset_put(uint8_t *p, uint16_t func, uint32_t offset)
{
	memset(p, 0, CVQ_OFFSET_LEN);
	put_le16(p, func);
	put_le32(p + 4, offset);
	return (CVQ_OFFSET_LEN);
}

int
cvq_offset_get(const uint8_t *p, size_t len, uint16_t *func,
    uint32_t *offset, char *err, size_t errlen)
{
	int	rc;

	if ((rc = va_short("data", len, CVQ_OFFSET_LEN, -EINVAL, err,
	    errlen)) != 0)
		return (rc);
	if (get_le16(p + 2) != 0)
		return (va_err(err, errlen, -EINVAL, "reserved bytes set"));
	*func = get_le16(p);
	*offset = get_le32(p + 4);
	return (0);
}

size_t
cvq_set_state_put(uint8_t *p, uint16_t func, uint16_t state)
{
	put_le16(p, func);
	put_le16(p + 2, state);
	return (CVQ_SET_STATE_LEN);
}

int
cvq_set_state_get(const uint8_t *p, size_t len, uint16_t *func,
    uint16_t *state, char *err, size_t errlen)
{
	int	rc;

	if ((rc = va_short("SET_STATE data", len, CVQ_SET_STATE_LEN,
	    -EINVAL, err, errlen)) != 0)
		return (rc);
	*func = get_le16(p);
	*state = get_le16(p + 2);
	if (*state >= CVQ_S_N)
		return (va_err(err, errlen, -EINVAL, "state %u (0..3)",
		    *state));
	return (0);
}

size_t
cvq_attrs_put(uint8_t *p, uint32_t len, uint16_t state)
{
	put_le32(p, len);
	put_le16(p + 4, state);
	return (CVQ_ATTRS_LEN);
}

int
cvq_attrs_get(const uint8_t *p, size_t len, uint32_t *size, uint16_t *state,
    char *err, size_t errlen)
{
	int	rc;

	if ((rc = va_short("GET_STATE_ATTRS result", len, CVQ_ATTRS_LEN,
	    -EPROTO, err, errlen)) != 0)
		return (rc);
	*size = get_le32(p);
	*state = get_le16(p + 4);
	if (*state >= CVQ_S_N)
		return (va_err(err, errlen, -EPROTO, "GET_STATE_ATTRS: state "
		    "%u (0..3)", *state));
	if (*size > CVQ_ST_MAX_BYTES)
		return (va_err(err, errlen, -EPROTO, "GET_STATE_ATTRS: state "
		    "of %u bytes exceeds %u", *size, CVQ_ST_MAX_BYTES));
	return (0);
}

/* ----------------------------------------------- dirty report / maps */

void
cvq_report_span(uint64_t iova, uint64_t length, int bytemap, uint64_t *off,
    uint64_t *n)
{
	uint64_t	first = iova / CVQ_PAGE_SIZE;
	uint64_t	end = (iova + length + CVQ_PAGE_SIZE - 1) /
			    CVQ_PAGE_SIZE;

	if (bytemap) {
		*off = first;
		*n = end - first;
	} else {
		*off = first / 8;
		*n = (end + 7) / 8 - first / 8;
	}
}

static void
apply_page(uint64_t page, struct vmig_dirty_map *maps, unsigned int nmaps,
    uint64_t *pages, uint64_t *newbits, uint64_t *outside)
{
	(*pages)++;
	if (page > UINT64_MAX / CVQ_PAGE_SIZE || !va_wr_apply(maps, nmaps,
	    page * CVQ_PAGE_SIZE, CVQ_PAGE_SIZE, newbits))
		(*outside)++;
}

void
cvq_report_apply(const uint8_t *bytes, size_t n, uint64_t at, int bytemap,
    struct vmig_dirty_map *maps, unsigned int nmaps, uint64_t *pages,
    uint64_t *newbits, uint64_t *outside)
{
	size_t	i;
	int	b;

	for (i = 0; i < n; i++) {
		if (bytes[i] == 0)
			continue;
		if (bytemap) {
			apply_page(at + i, maps, nmaps, pages, newbits,
			    outside);
			continue;
		}
		for (b = 0; b < 8; b++) {
			if (bytes[i] & (1u << b))
				apply_page((at + i) * 8 + (uint64_t)b, maps,
				    nmaps, pages, newbits, outside);
		}
	}
}

void
cvq_push_harvest(uint8_t *map, size_t len, int bytemap,
    struct vmig_dirty_map *maps, unsigned int nmaps, uint64_t *pages,
    uint64_t *newbits, uint64_t *outside)
{
	uint8_t	v;
	size_t	i;

	/* The device ORs bits in with atomics; take each byte the same
	 * way, so that a bit set between our read and our clear survives. */
	for (i = 0; i < len; i++) {
		if (__atomic_load_n(&map[i], __ATOMIC_RELAXED) == 0)
			continue;
		v = __atomic_exchange_n(&map[i], 0, __ATOMIC_ACQ_REL);
		cvq_report_apply(&v, 1, i, bytemap, maps, nmaps, pages,
		    newbits, outside);
	}
}

/* ----------------------------------------------------- state image */

static const struct {
	uint8_t		 kind;
	const char	*name;
} cvq_kinds[] = {
	{ CVQ_PT_FEATURES, "FEATURES" },
	{ CVQ_PT_TRANSPORT, "TRANSPORT" },
	{ CVQ_PT_DEVCFG, "DEVCFG" },
	{ CVQ_PT_QUEUE, "QUEUE" },
	{ CVQ_PT_NET_RX, "NET_RX" },
	{ CVQ_PT_NET_VLAN, "NET_VLAN" },
	{ CVQ_PT_NET_MACS, "NET_MACS" },
	{ CVQ_PT_VENDOR, "VENDOR" },
};

const char *
cvq_portion_name(uint8_t kind)
{
	size_t	i;

	for (i = 0; i < nitems(cvq_kinds); i++) {
		if (cvq_kinds[i].kind == kind)
			return (cvq_kinds[i].name);
	}
	return ("unknown");
}

int
cvq_state_peek(const uint8_t *buf, size_t len, uint32_t *total, char *err,
    size_t errlen)
{
	if (len < CVQ_ST_HDR_LEN)
		return (0);
	if (get_le32(buf) != CVQ_ST_MAGIC || get_le16(buf + 4) !=
	    CVQ_ST_VERSION)
		return (va_err(err, errlen, -EINVAL, "not a control-vq state "
		    "image (magic %#x, version %u)", get_le32(buf),
		    get_le16(buf + 4)));
	*total = get_le32(buf + 8);
	if (*total < CVQ_ST_HDR_LEN || *total > CVQ_ST_MAX_BYTES)
		return (va_err(err, errlen, -EINVAL, "state image claims %u "
		    "bytes (%d..%u)", *total, CVQ_ST_HDR_LEN,
		    CVQ_ST_MAX_BYTES));
	return (1);
}

int
cvq_iter_init(struct cvq_iter *it, const void *buf, size_t len, char *err,
    size_t errlen)
{
	uint32_t	total;
	int		rc;

	memset(it, 0, sizeof(*it));
	if ((rc = cvq_state_peek(buf, len, &total, err, errlen)) <= 0)
		return (rc == 0 ? va_err(err, errlen, -EINVAL, "state image "
		    "of %zu bytes is shorter than its %d-byte header", len,
		    CVQ_ST_HDR_LEN) : rc);
	if (total != len)
		return (va_err(err, errlen, -EINVAL, "state image header says "
		    "%u bytes, the image has %zu", total, len));
	it->buf = buf;
	it->len = len;
	it->off = CVQ_ST_HDR_LEN;
	it->count = get_le16(it->buf + 6);
	it->device_type = get_le32(it->buf + 12);
	return (0);
}

/* Length and contents of a known portion. */
static int
check_portion(const struct cvq_portion *pt, char *err, size_t errlen)
{
	const uint8_t	*v = pt->value;
	uint32_t	 a, b;
	uint16_t	 qsz;

	switch (pt->kind) {
	case CVQ_PT_FEATURES:
		if (pt->length < CVQ_FEATURES_HDR || pt->key != 0)
			break;
		a = get_le16(v);
		b = get_le16(v + 2);
		if (a == 0 || a > 8 || b > 8 || get_le32(v + 4) != 0 ||
		    pt->length != CVQ_FEATURES_HDR + 8 * (a + b))
			break;
		return (0);
	case CVQ_PT_TRANSPORT:
		if (pt->length == CVQ_TRANSPORT_LEN && pt->key == 0)
			return (0);
		break;
	case CVQ_PT_DEVCFG:
		if (pt->length >= 1 && pt->length <= 256 && pt->key == 0)
			return (0);
		break;
	case CVQ_PT_QUEUE:
		if (pt->length < CVQ_QUEUE_HDR)
			break;
		qsz = get_le16(v);
		if (qsz > 32768 || (qsz & (qsz - 1)) != 0 || v[4] > 1 ||
		    v[5] != 0 || get_le16(v + 14) != 0 ||
		    pt->length != CVQ_QUEUE_HDR + 2u * get_le16(v + 12))
			break;
		return (0);
	case CVQ_PT_NET_RX:
		if (pt->length == CVQ_NET_RX_LEN && pt->key == 0 &&
		    (get_le16(v) & ~VA_NET_RX_MASK) == 0)
			return (0);
		break;
	case CVQ_PT_NET_VLAN:
		if (pt->length == CVQ_NET_VLAN_LEN && pt->key == 0)
			return (0);
		break;
	case CVQ_PT_NET_MACS:
		if (pt->length < CVQ_NET_MACS_HDR || pt->key != 0)
			break;
		a = get_le32(v);
		b = get_le32(v + 4);
		if (a > VA_CTX_CVQ_MAX_MACS || b > VA_CTX_CVQ_MAX_MACS ||
		    pt->length != CVQ_NET_MACS_HDR + 6 * (a + b))
			break;
		return (0);
	case CVQ_PT_VENDOR:
		if (pt->length >= CVQ_VENDOR_HDR && pt->key == 0 &&
		    get_le32(v + 4) == 0)
			return (0);
		break;
	}
	return (va_err(err, errlen, -EINVAL, "length %u, key %u or contents "
	    "do not fit the %s layout (README.md)", pt->length, pt->key,
	    cvq_portion_name(pt->kind)));
}

int
cvq_iter_next(struct cvq_iter *it, struct cvq_portion *pt, char *err,
    size_t errlen)
{
	const uint8_t	*h;
	size_t		 left = it->len - it->off;
	uint64_t	 key;
	char		 why[160];
	int		 rc;

	if (it->idx == it->count) {
		if (left != 0)
			return (va_err(err, errlen, -EINVAL, "%zu bytes trail "
			    "the last of %u portions", left, it->count));
		return (0);
	}
	if (left < CVQ_PT_HDR_LEN)
		return (va_err(err, errlen, -EINVAL, "portion %u: header "
		    "truncated at offset %zu", it->idx, it->off));
	h = it->buf + it->off;
	memset(pt, 0, sizeof(*pt));
	pt->index = it->idx;
	pt->kind = h[0];
	pt->flags = h[1];
	pt->key = get_le16(h + 2);
	pt->length = get_le32(h + 4);
	pt->value = h + CVQ_PT_HDR_LEN;
	pt->known = strcmp(cvq_portion_name(pt->kind), "unknown") != 0;
	if (pt->length > left - CVQ_PT_HDR_LEN)
		return (va_err(err, errlen, -EINVAL, "portion %u (%s): length "
		    "%u runs past the end (%zu bytes left)", it->idx,
		    cvq_portion_name(pt->kind), pt->length,
		    left - CVQ_PT_HDR_LEN));
	if (pt->flags & ~CVQ_PT_F_OPTIONAL)
		return (va_err(err, errlen, -EINVAL, "portion %u (%s): "
		    "reserved flag bits %#x", it->idx,
		    cvq_portion_name(pt->kind), pt->flags));
	if (!pt->known && !(pt->flags & CVQ_PT_F_OPTIONAL))
		return (va_err(err, errlen, -EINVAL, "portion %u: unknown "
		    "mandatory kind %#x", it->idx, pt->kind));
	if (pt->known && (rc = check_portion(pt, why, sizeof(why))) != 0)
		return (va_err(err, errlen, rc, "portion %u (%s): %s",
		    it->idx, cvq_portion_name(pt->kind), why));
	/* Vendor portions are ordered by their vendor id. */
	key = ((uint64_t)pt->kind << 48) | ((uint64_t)pt->key << 32) |
	    (pt->kind == CVQ_PT_VENDOR ? get_le32(pt->value) : 0);
	if (it->idx > 0 && key <= it->pkey && pt->known)
		return (va_err(err, errlen, -EINVAL, "portion %u (%s, key %u): "
		    "out of order or a duplicate", it->idx,
		    cvq_portion_name(pt->kind), pt->key));
	it->pkey = key;
	it->off += CVQ_PT_HDR_LEN + pt->length;
	it->idx++;
	return (1);
}

int
cvq_state_validate(const void *buf, size_t len, char *err, size_t errlen)
{
	struct cvq_iter		it;
	struct cvq_portion	pt;
	int			rc;

	if ((rc = cvq_iter_init(&it, buf, len, err, errlen)) != 0)
		return (rc);
	while ((rc = cvq_iter_next(&it, &pt, err, errlen)) == 1)
		;
	return (rc);
}

void
cvq_sbuf_init(struct cvq_sbuf *b, uint8_t *p, size_t cap,
    uint32_t device_type)
{
	memset(b, 0, sizeof(*b));
	b->p = p;
	b->cap = p != NULL ? cap : 0;
	b->len = CVQ_ST_HDR_LEN;
	b->device_type = device_type;
	if (p != NULL && cap < CVQ_ST_HDR_LEN)
		b->overflow = 1;
}

uint8_t *
cvq_portion_add(struct cvq_sbuf *b, uint8_t kind, uint8_t flags,
    uint16_t key, uint32_t length)
{
	uint8_t	*h;
	size_t	 at = b->len;

	b->len += CVQ_PT_HDR_LEN + (size_t)length;
	b->count++;
	if (b->p == NULL || b->overflow)
		return (NULL);
	if (b->len > b->cap) {
		b->overflow = 1;
		return (NULL);
	}
	h = b->p + at;
	memset(h, 0, CVQ_PT_HDR_LEN + (size_t)length);
	h[0] = kind;
	h[1] = flags;
	put_le16(h + 2, key);
	put_le32(h + 4, length);
	return (h + CVQ_PT_HDR_LEN);
}

long
cvq_sbuf_end(struct cvq_sbuf *b)
{
	if (b->len > CVQ_ST_MAX_BYTES || b->count > CVQ_ST_MAX_PORTIONS)
		return (-E2BIG);
	if (b->overflow)
		return (-ENOSPC);
	if (b->p != NULL) {
		put_le32(b->p, CVQ_ST_MAGIC);
		put_le16(b->p + 4, CVQ_ST_VERSION);
		put_le16(b->p + 6, (uint16_t)b->count);
		put_le32(b->p + 8, (uint32_t)b->len);
		put_le32(b->p + 12, b->device_type);
	}
	return ((long)b->len);
}
