/*
 * v14.c: virtio 1.4 admin commands and device parts (see v14.h).
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "util.h"
#include "devctx.h"
#include "devstate.h"
#include "v14.h"

/* Lengths of the command-specific data and result, as in draft.c. */
const struct va_opinfo v14_optab[V14_NOPS] = {
	{ VA_OP_LIST_QUERY, "LIST_QUERY", 0, 0, 0, 8, VA_VAR,
	  "-", "le64 opcodes[] (bit n = opcode n)", 0 },
	{ VA_OP_LIST_USE, "LIST_USE", 0, 8, VA_VAR, 0, 0,
	  "le64 opcodes[] (subset of LIST_QUERY)", "-", 0 },
	{ V14_OP_CAP_ID_LIST_QUERY, "CAP_ID_LIST_QUERY", 0, 0, 0, 8, VA_VAR,
	  "-", "le64 supported_caps[] (bit n = capability id n)", 1 },
	{ V14_OP_DEVICE_CAP_GET, "DEVICE_CAP_GET", 0, V14_CAP_HDR_LEN,
	  V14_CAP_HDR_LEN, V14_CAP_DEV_PARTS_LEN, VA_VAR,
	  "le16 id; u8 reserved[6]",
	  "u8 cap_specific_data[] (id 0: u8 get_limit; u8 set_limit)", 1 },
	{ V14_OP_DRIVER_CAP_SET, "DRIVER_CAP_SET", 0,
	  V14_CAP_HDR_LEN + V14_CAP_DEV_PARTS_LEN, VA_VAR, 0, 0,
	  "le16 id; u8 reserved[6]; u8 cap_specific_data[]", "-", 1 },
	{ V14_OP_RESOURCE_OBJ_CREATE, "RESOURCE_OBJ_CREATE", 1,
	  V14_OBJ_CREATE_LEN, V14_OBJ_CREATE_LEN, 0, 0,
	  "le16 type; u8 rsvd[2]; le32 id; le64 flags; u8 parts_type; "
	  "u8 reserved[7]", "-", 0 },
	{ V14_OP_RESOURCE_OBJ_DESTROY, "RESOURCE_OBJ_DESTROY", 1,
	  V14_OBJ_HDR_LEN, V14_OBJ_HDR_LEN, 0, 0,
	  "le16 type; u8 rsvd[2]; le32 id", "-", 0 },
	{ V14_OP_DEV_PARTS_METADATA_GET, "DEV_PARTS_METADATA_GET", 1,
	  V14_META_LEN, V14_META_LEN, V14_META_RES_LEN, VA_VAR,
	  "obj hdr; u8 type (SIZE 0, COUNT 1, LIST 2); u8 reserved[7]",
	  "le32 size|count; le32 reserved; part headers[] (LIST)", 0 },
	{ V14_OP_DEV_PARTS_GET, "DEV_PARTS_GET", 1, V14_GET_HDR_LEN, VA_VAR,
	  0, VA_VAR,
	  "obj hdr; u8 type (SELECTED 0, ALL 1); u8 reserved[7]; "
	  "part headers[]", "struct virtio_dev_part parts[]", 0 },
	{ V14_OP_DEV_PARTS_SET, "DEV_PARTS_SET", 1, V14_OBJ_HDR_LEN, VA_VAR,
	  0, 0, "obj hdr; struct virtio_dev_part parts[]", "-", 0 },
	{ V14_OP_DEV_MODE_SET, "DEV_MODE_SET", 1, 1, VA_VAR, 0, 0,
	  "u8 flags (bit 0 STOPPED)", "-", 0 },
};

/* ---------------------------------------------------- command codecs */

size_t
v14_cap_put(uint8_t *p, uint16_t id)
{
	memset(p, 0, V14_CAP_HDR_LEN);
	put_le16(p, id);
	return (V14_CAP_HDR_LEN);
}

size_t
v14_cap_set_put(uint8_t *p, uint8_t get_limit, uint8_t set_limit)
{
	memset(p, 0, 16);
	put_le16(p, V14_CAP_DEV_PARTS);
	p[V14_CAP_HDR_LEN] = get_limit;
	p[V14_CAP_HDR_LEN + 1] = set_limit;
	return (16);
}

int
v14_cap_set_get(const uint8_t *p, size_t len, uint16_t *id,
    uint8_t *get_limit, uint8_t *set_limit, char *err, size_t errlen)
{
	int	rc;

	if ((rc = va_short("DRIVER_CAP_SET data", len, V14_CAP_HDR_LEN +
	    V14_CAP_DEV_PARTS_LEN, -EINVAL, err, errlen)) != 0)
		return (rc);
	*id = get_le16(p);
	*get_limit = p[V14_CAP_HDR_LEN];
	*set_limit = p[V14_CAP_HDR_LEN + 1];
	return (0);
}

int
v14_caps_get(const uint8_t *p, size_t len, uint16_t id, int *has, char *err,
    size_t errlen)
{
	int	rc;

	if ((rc = va_short("CAP_ID_LIST_QUERY result", len, 8, -EPROTO,
	    err, errlen)) != 0)
		return (rc);
	*has = va_list_has(p, len & ~(size_t)7, id);
	return (0);
}

int
v14_parts_cap_get(const uint8_t *p, size_t len, uint8_t *get_limit,
    uint8_t *set_limit, char *err, size_t errlen)
{
	int	rc;

	if ((rc = va_short("DEVICE_CAP_GET (device parts) result", len,
	    V14_CAP_DEV_PARTS_LEN, -EPROTO, err, errlen)) != 0)
		return (rc);
	*get_limit = p[0];
	*set_limit = p[1];
	return (0);
}

size_t
v14_obj_hdr_put(uint8_t *p, uint16_t type, uint32_t id)
{
	memset(p, 0, V14_OBJ_HDR_LEN);
	put_le16(p, type);
	put_le32(p + 4, id);
	return (V14_OBJ_HDR_LEN);
}

int
v14_obj_hdr_get(const uint8_t *p, size_t len, uint16_t *type, uint32_t *id,
    char *err, size_t errlen)
{
	int	rc;

	if ((rc = va_short("resource object header", len, V14_OBJ_HDR_LEN,
	    -EINVAL, err, errlen)) != 0)
		return (rc);
	if (get_le16(p + 2) != 0)
		return (va_err(err, errlen, -EINVAL, "resource object header "
		    "has reserved bytes set"));
	*type = get_le16(p);
	*id = get_le32(p + 4);
	return (0);
}

size_t
v14_obj_create_put(uint8_t *p, uint32_t id, uint8_t parts_type)
{
	memset(p, 0, V14_OBJ_CREATE_LEN);
	v14_obj_hdr_put(p, V14_OBJ_DEV_PARTS, id);
	p[16] = parts_type;
	return (V14_OBJ_CREATE_LEN);
}

int
v14_obj_create_get(const uint8_t *p, size_t len, uint32_t *id,
    uint8_t *parts_type, char *err, size_t errlen)
{
	uint16_t type;
	int	 rc, i;

	if ((rc = va_short("RESOURCE_OBJ_CREATE data", len,
	    V14_OBJ_CREATE_LEN, -EINVAL, err, errlen)) != 0 ||
	    (rc = v14_obj_hdr_get(p, len, &type, id, err, errlen)) != 0)
		return (rc);
	if (type != V14_OBJ_DEV_PARTS)
		return (va_err(err, errlen, -EINVAL, "resource object type "
		    "%#x (only device parts, 0)", type));
	if (get_le64(p + 8) != 0)
		return (va_err(err, errlen, -EINVAL, "create flags %#llx "
		    "(must be 0)", (unsigned long long)get_le64(p + 8)));
	for (i = 17; i < 24; i++) {
		if (p[i] != 0)
			return (va_err(err, errlen, -EINVAL, "device-parts "
			    "object has reserved bytes set"));
	}
	if (p[16] > V14_PARTS_OBJ_SET)
		return (va_err(err, errlen, -EINVAL, "device-parts object "
		    "type %u (GET 0, SET 1)", p[16]));
	*parts_type = p[16];
	return (0);
}

size_t
v14_meta_put(uint8_t *p, uint32_t id, uint8_t type)
{
	memset(p, 0, V14_META_LEN);
	v14_obj_hdr_put(p, V14_OBJ_DEV_PARTS, id);
	p[8] = type;
	return (V14_META_LEN);
}

/* The common shape of METADATA_GET and GET data: hdr; u8 type; rsvd[7]. */
static int
typed_get(const char *what, const uint8_t *p, size_t len, uint32_t *id,
    uint8_t *type, uint8_t maxtype, char *err, size_t errlen)
{
	uint16_t otype;
	int	 rc, i;

	if ((rc = va_short(what, len, 16, -EINVAL, err, errlen)) != 0 ||
	    (rc = v14_obj_hdr_get(p, len, &otype, id, err, errlen)) != 0)
		return (rc);
	if (otype != V14_OBJ_DEV_PARTS)
		return (va_err(err, errlen, -EINVAL, "%s names object type "
		    "%#x", what, otype));
	for (i = 9; i < 16; i++) {
		if (p[i] != 0)
			return (va_err(err, errlen, -EINVAL, "%s has "
			    "reserved bytes set", what));
	}
	if (p[8] > maxtype)
		return (va_err(err, errlen, -EINVAL, "%s type %u (0..%u)",
		    what, p[8], maxtype));
	*type = p[8];
	return (0);
}

int
v14_meta_get(const uint8_t *p, size_t len, uint32_t *id, uint8_t *type,
    char *err, size_t errlen)
{
	return (typed_get("DEV_PARTS_METADATA_GET data", p, len, id, type,
	    V14_META_LIST, err, errlen));
}

int
v14_meta_value(const uint8_t *p, size_t len, uint32_t *value, char *err,
    size_t errlen)
{
	int	rc;

	if ((rc = va_short("DEV_PARTS_METADATA_GET result", len,
	    V14_META_RES_LEN, -EPROTO, err, errlen)) != 0)
		return (rc);
	*value = get_le32(p);
	return (0);
}

int
v14_meta_list(const uint8_t *p, size_t len, uint32_t *count,
    const uint8_t **hdrs, char *err, size_t errlen)
{
	uint32_t n;
	int	 rc;

	if ((rc = v14_meta_value(p, len, &n, err, errlen)) != 0)
		return (rc);
	if ((len - V14_META_RES_LEN) / V14_PART_HDR_LEN < n)
		return (va_err(err, errlen, -EPROTO, "METADATA_GET LIST says "
		    "%u parts but the result holds %zu headers", n,
		    (len - V14_META_RES_LEN) / V14_PART_HDR_LEN));
	*count = n;
	*hdrs = p + V14_META_RES_LEN;
	return (0);
}

size_t
v14_get_put(uint8_t *p, uint32_t id, uint8_t type)
{
	memset(p, 0, V14_GET_HDR_LEN);
	v14_obj_hdr_put(p, V14_OBJ_DEV_PARTS, id);
	p[8] = type;
	return (V14_GET_HDR_LEN);
}

int
v14_get_get(const uint8_t *p, size_t len, uint32_t *id, uint8_t *type,
    const uint8_t **hdrs, size_t *nhdrs, char *err, size_t errlen)
{
	int	rc;

	if ((rc = typed_get("DEV_PARTS_GET data", p, len, id, type,
	    V14_GET_ALL, err, errlen)) != 0)
		return (rc);
	*hdrs = p + V14_GET_HDR_LEN;
	/* The driver pads to 8; a header list is whole 16-byte headers. */
	*nhdrs = (len - V14_GET_HDR_LEN) / V14_PART_HDR_LEN;
	if (*type == V14_GET_ALL)
		*nhdrs = 0;
	return (0);
}

size_t
v14_mode_put(uint8_t *p, int stopped)
{
	memset(p, 0, V14_MODE_LEN);
	p[0] = stopped ? V14_MODE_F_STOPPED : 0;
	return (V14_MODE_LEN);
}

int
v14_mode_get(const uint8_t *p, size_t len, int *stopped, char *err,
    size_t errlen)
{
	int	rc;

	if ((rc = va_short("DEV_MODE_SET data", len, 1, -EINVAL, err,
	    errlen)) != 0)
		return (rc);
	if (p[0] & ~V14_MODE_F_STOPPED)
		return (va_err(err, errlen, -EINVAL, "DEV_MODE_SET flags %#x "
		    "(only bit 0, STOPPED)", p[0]));
	*stopped = p[0] & V14_MODE_F_STOPPED;
	return (0);
}

/* ------------------------------------------------------ parts codec */

static const struct {
	uint16_t	 type;
	const char	*name;
} v14_parts[] = {
	{ V14_PART_DEV_FEATURES, "DEV_FEATURES" },
	{ V14_PART_DRV_FEATURES, "DRV_FEATURES" },
	{ V14_PART_PCI_COMMON_CFG, "PCI_COMMON_CFG" },
	{ V14_PART_DEVICE_STATUS, "DEVICE_STATUS" },
	{ V14_PART_VQ_CFG, "VQ_CFG" },
	{ V14_PART_VQ_NOTIFY_CFG, "VQ_NOTIFY_CFG" },
	{ V14_PART_NET_CVQ, "NET_CVQ" },
	{ V14_PART_VENDOR, "VENDOR" },
};

const char *
v14_part_name(uint16_t type)
{
	size_t	i;

	for (i = 0; i < nitems(v14_parts); i++) {
		if (v14_parts[i].type == type)
			return (v14_parts[i].name);
	}
	return ("unknown");
}

uint64_t
v14_part_key(uint16_t type, const uint8_t *sel, const uint8_t *value,
    uint32_t length)
{
	switch (type) {
	case V14_PART_PCI_COMMON_CFG:
	case V14_PART_VENDOR:
		return (get_le32(sel));
	case V14_PART_VQ_CFG:
	case V14_PART_VQ_NOTIFY_CFG:
		return (get_le16(sel));
	case V14_PART_NET_CVQ:
		/* VLAN entries share a selector: ordered by their id. */
		return (((uint64_t)sel[0] << 24) | ((uint64_t)sel[1] << 16) |
		    (length == 2 && sel[0] == V14_NET_CLASS_VLAN ?
		    get_le16(value) : 0));
	default:
		return (0);
	}
}

static int
zero(const uint8_t *p, size_t n)
{
	size_t	i;

	for (i = 0; i < n; i++) {
		if (p[i] != 0)
			return (0);
	}
	return (1);
}

int
v14_net_known(const uint8_t sel[8])
{
	switch (sel[0]) {
	case V14_NET_CLASS_RX:
		return (sel[1] < V14_NET_RX_CMDS);
	case V14_NET_CLASS_MAC:
		return (sel[1] == V14_NET_MAC_TABLE_SET ||
		    sel[1] == V14_NET_MAC_ADDR_SET);
	case V14_NET_CLASS_VLAN:
		return (sel[1] == V14_NET_VLAN_ADD);
	}
	return (0);
}

/* A command we know is checked whatever its flags; another is skipped
 * if OPTIONAL, refused if not. */
static int
check_net(const struct v14_part *pt, char *err, size_t errlen)
{
	const uint8_t	*v = pt->value;
	uint32_t	 n, m;

	if (!zero(pt->sel + 2, 6))
		return (va_err(err, errlen, -EINVAL, "selector has reserved "
		    "bytes set"));
	if (!v14_net_known(pt->sel)) {
		if (pt->flags & V14_PART_F_OPTIONAL)
			return (0);
		return (va_err(err, errlen, -EINVAL, "unknown control "
		    "command class %u command %u", pt->sel[0], pt->sel[1]));
	}
	switch (pt->sel[0]) {
	case V14_NET_CLASS_RX:
		if (pt->length != 1 || v[0] > 1)
			return (va_err(err, errlen, -EINVAL, "rx command %u "
			    "with %u bytes (one byte, 0 or 1)", pt->sel[1],
			    pt->length));
		return (0);
	case V14_NET_CLASS_MAC:
		if (pt->sel[1] == V14_NET_MAC_ADDR_SET)
			return (pt->length == 6 ? 0 : va_err(err, errlen,
			    -EINVAL, "MAC_ADDR_SET of %u bytes", pt->length));
		n = pt->length >= 8 ? get_le32(v) : 0;
		if (pt->length < 8 || n > VDS_MAX_MACS ||
		    pt->length < 8 + 6 * n)
			return (va_err(err, errlen, -EINVAL, "MAC table of %u "
			    "unicast entries in %u bytes", n, pt->length));
		m = get_le32(v + 4 + 6 * n);
		if (m > VDS_MAX_MACS || pt->length != 8 + 6 * (n + m))
			return (va_err(err, errlen, -EINVAL, "MAC table of %u "
			    "+ %u entries (at most %d each) in %u bytes", n, m,
			    VDS_MAX_MACS, pt->length));
		return (0);
	default:
		if (pt->length != 2 || get_le16(v) >= 4096)
			return (va_err(err, errlen, -EINVAL, "VLAN command %u "
			    "with %u bytes (VLAN_ADD 0: le16 id < 4096)",
			    pt->sel[1], pt->length));
		return (0);
	}
}

/* Per-type checks beyond the header. */
static int
check_part(const struct v14_part *pt, char *err, size_t errlen)
{
	const uint8_t	*v = pt->value;
	int		 r;
	uint16_t	 qsz;

	switch (pt->type) {
	case V14_PART_DEV_FEATURES:
	case V14_PART_DRV_FEATURES:
		if (!zero(pt->sel, 8) || pt->length == 0 ||
		    pt->length % 8 != 0 || pt->length > 64)
			return (va_err(err, errlen, -EINVAL, "length %u is "
			    "not 1..8 le64 words, or a selector is set",
			    pt->length));
		return (0);
	case V14_PART_PCI_COMMON_CFG:
		r = vds_reg_at(get_le32(pt->sel));
		if (r < 0 || !zero(pt->sel + 4, 4) ||
		    pt->length != vds_regs[r].width)
			return (va_err(err, errlen, -EINVAL, "offset %u with "
			    "%u bytes is not a register of the common config",
			    get_le32(pt->sel), pt->length));
		return (0);
	case V14_PART_DEVICE_STATUS:
		if (!zero(pt->sel, 8) || pt->length != 1)
			return (va_err(err, errlen, -EINVAL, "length %u (1) "
			    "or a selector set", pt->length));
		return (0);
	case V14_PART_VQ_CFG:
		if (!zero(pt->sel + 2, 6) || pt->length != V14_VQ_CFG_LEN)
			return (va_err(err, errlen, -EINVAL, "queue %u: "
			    "length %u (%d) or selector bytes set",
			    get_le16(pt->sel), pt->length, V14_VQ_CFG_LEN));
		qsz = get_le16(v);
		if (qsz > 32768 || (qsz & (qsz - 1)) != 0 ||
		    get_le16(v + 4) > 1 || get_le16(v + 6) != 0)
			return (va_err(err, errlen, -EINVAL, "queue %u: size "
			    "%u, enabled %u or reserved bytes",
			    get_le16(pt->sel), qsz, get_le16(v + 4)));
		return (0);
	case V14_PART_VQ_NOTIFY_CFG:
		if (!zero(pt->sel + 2, 6) || pt->length != V14_VQ_NOTIFY_LEN ||
		    !zero(v + 4, 4))
			return (va_err(err, errlen, -EINVAL, "queue %u: "
			    "length %u (%d) or reserved bytes set",
			    get_le16(pt->sel), pt->length, V14_VQ_NOTIFY_LEN));
		return (0);
	case V14_PART_NET_CVQ:
		return (check_net(pt, err, errlen));
	case V14_PART_VENDOR:
		if (!zero(pt->sel + 4, 4))
			return (va_err(err, errlen, -EINVAL, "selector has "
			    "reserved bytes set"));
		return (0);
	}
	return (0);
}

void
v14_iter_init(struct v14_iter *it, const void *buf, size_t len)
{
	memset(it, 0, sizeof(*it));
	it->buf = buf;
	it->len = len;
}

int
v14_iter_next(struct v14_iter *it, struct v14_part *pt, char *err,
    size_t errlen)
{
	const uint8_t	*h;
	size_t		 left = it->len - it->off;
	uint64_t	 key;
	char		 why[160];
	int		 rc;

	if (left == 0)
		return (0);
	/* The driver pads the command's data to 8 bytes. */
	if (left < 8 && zero(it->buf + it->off, left)) {
		it->off = it->len;
		return (0);
	}
	if (it->len > V14_MAX_BYTES)
		return (va_err(err, errlen, -EINVAL, "parts of %zu bytes "
		    "exceed %u", it->len, V14_MAX_BYTES));
	if (left < V14_PART_HDR_LEN)
		return (va_err(err, errlen, -EINVAL, "part %u: header "
		    "truncated at offset %zu (%zu bytes left)", it->idx,
		    it->off, left));
	h = it->buf + it->off;
	memset(pt, 0, sizeof(*pt));
	pt->index = it->idx;
	pt->type = get_le16(h);
	pt->flags = h[2];
	memcpy(pt->sel, h + 4, 8);
	pt->length = get_le32(h + 12);
	pt->value = h + V14_PART_HDR_LEN;
	pt->offset = it->off;
	pt->known = strcmp(v14_part_name(pt->type), "unknown") != 0;
	if (pt->length > left - V14_PART_HDR_LEN)
		return (va_err(err, errlen, -EINVAL, "part %u (%s): length "
		    "%u runs past the end (%zu bytes left)", it->idx,
		    v14_part_name(pt->type), pt->length,
		    left - V14_PART_HDR_LEN));
	if ((pt->flags & ~V14_PART_F_OPTIONAL) || h[3] != 0)
		return (va_err(err, errlen, -EINVAL, "part %u (%s): reserved "
		    "flag bits %#x or byte set", it->idx,
		    v14_part_name(pt->type), pt->flags));
	if (!pt->known && !(pt->flags & V14_PART_F_OPTIONAL))
		return (va_err(err, errlen, -EINVAL, "part %u: unknown "
		    "mandatory part type %#x", it->idx, pt->type));
	if (pt->known && (rc = check_part(pt, why, sizeof(why))) != 0)
		return (va_err(err, errlen, rc, "part %u (%s): %s", it->idx,
		    v14_part_name(pt->type), why));
	key = v14_part_key(pt->type, pt->sel, pt->value, pt->length);
	if (it->idx > 0 && (pt->type < it->ptype || (pt->type ==
	    it->ptype && pt->known && key <= it->pkey)))
		return (va_err(err, errlen, -EINVAL, "part %u (%s): out of the "
		    "required order, or a duplicate", it->idx,
		    v14_part_name(pt->type)));
	it->ptype = pt->type;
	it->pkey = key;
	it->off += V14_PART_HDR_LEN + pt->length;
	it->idx++;
	return (1);
}

int
v14_parts_validate(const void *buf, size_t len, char *err, size_t errlen)
{
	struct v14_iter	 it;
	struct v14_part	 pt;
	int		 rc;

	v14_iter_init(&it, buf, len);
	while ((rc = v14_iter_next(&it, &pt, err, errlen)) == 1)
		;
	return (rc);
}

void
v14_pbuf_init(struct v14_pbuf *b, uint8_t *p, size_t cap)
{
	memset(b, 0, sizeof(*b));
	b->p = p;
	b->cap = p != NULL ? cap : 0;
}

uint8_t *
v14_part_add(struct v14_pbuf *b, uint16_t type, uint8_t flags,
    const uint8_t sel[8], uint32_t length)
{
	uint8_t	*h;
	size_t	 at = b->len;

	b->len += V14_PART_HDR_LEN + (size_t)length;
	b->count++;
	if (b->p == NULL || b->overflow)
		return (NULL);
	if (b->len > b->cap) {
		b->overflow = 1;
		return (NULL);
	}
	h = b->p + at;
	memset(h, 0, V14_PART_HDR_LEN + (size_t)length);
	put_le16(h, type);
	h[2] = flags;
	memcpy(h + 4, sel, 8);
	put_le32(h + 12, length);
	return (h + V14_PART_HDR_LEN);
}

void
v14_sel_u16(uint8_t sel[8], uint16_t v)
{
	memset(sel, 0, 8);
	put_le16(sel, v);
}

void
v14_sel_u32(uint8_t sel[8], uint32_t v)
{
	memset(sel, 0, 8);
	put_le32(sel, v);
}

void
v14_sel_net(uint8_t sel[8], uint8_t class, uint8_t cmd)
{
	memset(sel, 0, 8);
	sel[0] = class;
	sel[1] = cmd;
}
