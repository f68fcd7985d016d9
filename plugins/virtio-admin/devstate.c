/*
 * devstate.c: the canonical device state codec (see devstate.h).
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "util.h"
#include "admin.h"
#include "devctx.h"
#include "devstate.h"

#define VDS_DEVTYPE_NET		1

/* struct virtio_pci_common_cfg (virtio 1.4, transport-pci.tex). */
const struct vds_reg vds_regs[VDS_NREGS] = {
	[VDS_R_DEVICE_FEATURE_SELECT] = { 0, 4, VDS_RC_STATE,
	    "device_feature_select" },
	[VDS_R_DEVICE_FEATURE] = { 4, 4, VDS_RC_DERIVED, "device_feature" },
	[VDS_R_DRIVER_FEATURE_SELECT] = { 8, 4, VDS_RC_STATE,
	    "driver_feature_select" },
	[VDS_R_DRIVER_FEATURE] = { 12, 4, VDS_RC_DERIVED, "driver_feature" },
	[VDS_R_CONFIG_MSIX_VECTOR] = { 16, 2, VDS_RC_STATE,
	    "config_msix_vector" },
	[VDS_R_NUM_QUEUES] = { 18, 2, VDS_RC_IDENTITY, "num_queues" },
	[VDS_R_DEVICE_STATUS] = { 20, 1, VDS_RC_STATE, "device_status" },
	[VDS_R_CONFIG_GENERATION] = { 21, 1, VDS_RC_IDENTITY,
	    "config_generation" },
	[VDS_R_QUEUE_SELECT] = { 22, 2, VDS_RC_STATE, "queue_select" },
	[VDS_R_QUEUE_SIZE] = { 24, 2, VDS_RC_WINDOW, "queue_size" },
	[VDS_R_QUEUE_MSIX_VECTOR] = { 26, 2, VDS_RC_WINDOW,
	    "queue_msix_vector" },
	[VDS_R_QUEUE_ENABLE] = { 28, 2, VDS_RC_WINDOW, "queue_enable" },
	[VDS_R_QUEUE_NOTIFY_OFF] = { 30, 2, VDS_RC_WINDOW,
	    "queue_notify_off" },
	[VDS_R_QUEUE_DESC] = { 32, 8, VDS_RC_WINDOW, "queue_desc" },
	[VDS_R_QUEUE_DRIVER] = { 40, 8, VDS_RC_WINDOW, "queue_driver" },
	[VDS_R_QUEUE_DEVICE] = { 48, 8, VDS_RC_WINDOW, "queue_device" },
	[VDS_R_QUEUE_NOTIF_CONFIG_DATA] = { 56, 2, VDS_RC_WINDOW,
	    "queue_notif_config_data" },
	[VDS_R_QUEUE_RESET] = { 58, 2, VDS_RC_WINDOW, "queue_reset" },
	[VDS_R_ADMIN_QUEUE_INDEX] = { 60, 2, VDS_RC_IDENTITY,
	    "admin_queue_index" },
	[VDS_R_ADMIN_QUEUE_NUM] = { 62, 2, VDS_RC_IDENTITY,
	    "admin_queue_num" },
};

static const struct {
	uint16_t	 type;
	uint16_t	 flags;
	const char	*name;
} vds_types[] = {
	{ VDS_T_DEVICE_FEATURES, VDS_F_OPTIONAL, "DEVICE_FEATURES" },
	{ VDS_T_DRIVER_FEATURES, VDS_F_OPTIONAL, "DRIVER_FEATURES" },
	{ VDS_T_COMMON_CFG, 0, "COMMON_CFG" },
	{ VDS_T_DEVICE_CONFIG, VDS_F_OPTIONAL, "DEVICE_CONFIG" },
	{ VDS_T_VQ, 0, "VQ" },
	{ VDS_T_VQ_NOTIFY, VDS_F_OPTIONAL, "VQ_NOTIFY" },
	{ VDS_T_VQ_SPLIT, 0, "VQ_SPLIT" },
	{ VDS_T_NET_CTRL, 0, "NET_CTRL" },
	{ VDS_T_VENDOR, 0, "VENDOR" },
};

static int
type_index(uint16_t type)
{
	size_t	i;

	for (i = 0; i < nitems(vds_types); i++) {
		if (vds_types[i].type == type)
			return ((int)i);
	}
	return (-1);
}

const char *
vds_type_name(uint16_t type)
{
	int	i = type_index(type);

	return (i >= 0 ? vds_types[i].name : "unknown");
}

uint16_t
vds_type_flags(uint16_t type)
{
	int	i = type_index(type);

	return (i >= 0 ? vds_types[i].flags : VDS_F_OPTIONAL);
}

int
vds_reg_at(uint32_t offset)
{
	int	i;

	for (i = 0; i < VDS_NREGS; i++) {
		if (vds_regs[i].offset == offset)
			return (i);
	}
	return (-1);
}

void
vds_init(struct vds *s, uint32_t device_type)
{
	memset(s, 0, sizeof(*s));
	s->device_type = device_type;
	s->minor = VDS_MINOR;
}

uint64_t
vds_reg_get(const struct vds *s, int reg)
{
	const uint8_t	*p = s->common + vds_regs[reg].offset;

	switch (vds_regs[reg].width) {
	case 1:
		return (p[0]);
	case 2:
		return (get_le16(p));
	case 4:
		return (get_le32(p));
	default:
		return (get_le64(p));
	}
}

static void
reg_put(uint8_t *common, int reg, uint64_t v)
{
	uint8_t	*p = common + vds_regs[reg].offset;

	switch (vds_regs[reg].width) {
	case 1:
		p[0] = (uint8_t)v;
		break;
	case 2:
		put_le16(p, (uint16_t)v);
		break;
	case 4:
		put_le32(p, (uint32_t)v);
		break;
	default:
		put_le64(p, v);
		break;
	}
}

void
vds_reg_set(struct vds *s, int reg, uint64_t v)
{
	reg_put(s->common, reg, v);
	s->common_present |= 1u << reg;
	s->have |= VDS_H_COMMON;
}

struct vds_vq *
vds_vq(struct vds *s, uint16_t index, int create)
{
	uint32_t	i;

	for (i = 0; i < s->nvq && s->vq[i].index < index; i++)
		;
	if (i < s->nvq && s->vq[i].index == index)
		return (&s->vq[i]);
	if (!create || s->nvq == VDS_MAX_VQS)
		return (NULL);
	memmove(&s->vq[i + 1], &s->vq[i], (s->nvq - i) * sizeof(s->vq[0]));
	memset(&s->vq[i], 0, sizeof(s->vq[i]));
	s->vq[i].index = index;
	s->nvq++;
	return (&s->vq[i]);
}

const struct vds_vq *
vds_vq_find(const struct vds *s, uint16_t index)
{
	return (vds_vq((struct vds *)(uintptr_t)s, index, 0));
}

int
vds_add_vendor(struct vds *s, uint32_t vendor, uint16_t flags,
    const uint8_t *p, uint32_t len, char *err, size_t errlen)
{
	uint32_t	i;

	for (i = 0; i < s->nvendor && s->vendor[i].vendor < vendor; i++)
		;
	if (i < s->nvendor && s->vendor[i].vendor == vendor)
		return (va_err(err, errlen, -EINVAL, "vendor blob %#x "
		    "appears twice", vendor));
	if (s->nvendor == VDS_MAX_VENDOR)
		return (va_err(err, errlen, -E2BIG, "more than %d vendor "
		    "blobs", VDS_MAX_VENDOR));
	if (len > VDS_MAX_BYTES)
		return (va_err(err, errlen, -E2BIG, "vendor blob %#x of %u "
		    "bytes", vendor, len));
	memmove(&s->vendor[i + 1], &s->vendor[i],
	    (s->nvendor - i) * sizeof(s->vendor[0]));
	s->vendor[i].type = VDS_T_VENDOR;
	s->vendor[i].flags = flags & VDS_F_OPTIONAL;
	s->vendor[i].vendor = vendor;
	s->vendor[i].p = p;
	s->vendor[i].len = len;
	s->nvendor++;
	return (0);
}

void
vds_common_full(const struct vds *s, const struct vds *base, uint8_t out[64])
{
	const struct vds_vq *q;
	uint64_t	 sel, v;
	int		 r;

	memcpy(out, s->common, 64);
	for (r = 0; r < VDS_NREGS; r++) {
		if (s->common_present & (1u << r))
			continue;
		v = 0;
		switch (vds_regs[r].class) {
		case VDS_RC_DERIVED:
			if (r == VDS_R_DEVICE_FEATURE) {
				sel = vds_reg_get(s,
				    VDS_R_DEVICE_FEATURE_SELECT);
				if (sel / 2 < s->ndev)
					v = s->dev_features[sel / 2] >>
					    (32 * (sel % 2));
			} else {
				sel = vds_reg_get(s,
				    VDS_R_DRIVER_FEATURE_SELECT);
				if (sel / 2 < s->ndrv)
					v = s->drv_features[sel / 2] >>
					    (32 * (sel % 2));
			}
			v &= 0xffffffffu;
			break;
		case VDS_RC_WINDOW:
			q = vds_vq_find(s, (uint16_t)vds_reg_get(s,
			    VDS_R_QUEUE_SELECT));
			if (q == NULL)
				break;
			v = r == VDS_R_QUEUE_SIZE ? q->size :
			    r == VDS_R_QUEUE_MSIX_VECTOR ? q->msix :
			    r == VDS_R_QUEUE_ENABLE ? q->enabled :
			    r == VDS_R_QUEUE_NOTIFY_OFF ? q->notify_off :
			    r == VDS_R_QUEUE_DESC ? q->desc :
			    r == VDS_R_QUEUE_DRIVER ? q->driver :
			    r == VDS_R_QUEUE_DEVICE ? q->device :
			    r == VDS_R_QUEUE_NOTIF_CONFIG_DATA ?
			    q->notif_data : 0;
			break;
		case VDS_RC_IDENTITY:
			if (base != NULL && (base->common_present &
			    (1u << r)))
				v = vds_reg_get(base, r);
			else if (r == VDS_R_NUM_QUEUES)
				v = s->nvq;
			break;
		case VDS_RC_STATE:
			break;
		}
		reg_put(out, r, v);
	}
}

/* ------------------------------------------------------------- encode */

struct vds_out {
	uint8_t		*p;
	size_t		 cap;
	size_t		 len;
	int		 overflow;
};

/* A field header; returns where its value goes (NULL if counting). */
static uint8_t *
out_field(struct vds_out *o, uint16_t type, uint16_t flags, size_t len)
{
	uint8_t	*h;
	size_t	 at = o->len;

	o->len += VDS_FIELD_HDR_LEN + len;
	if (o->p == NULL || o->overflow)
		return (NULL);
	if (o->len > o->cap) {
		o->overflow = 1;
		return (NULL);
	}
	h = o->p + at;
	put_le16(h, type);
	put_le16(h + 2, flags);
	put_le32(h + 4, (uint32_t)len);
	memset(h + VDS_FIELD_HDR_LEN, 0, len);
	return (h + VDS_FIELD_HDR_LEN);
}

/* Unknown fields whose type sorts before `type`, in their order. */
static void
out_unknown_before(struct vds_out *o, const struct vds *s, uint32_t *next,
    uint32_t type)
{
	const struct vds_blob *u;
	uint8_t		*v;

	while (*next < s->nunknown && s->unknown[*next].type < type) {
		u = &s->unknown[(*next)++];
		if ((v = out_field(o, u->type, u->flags, u->len)) != NULL &&
		    u->len > 0)
			memcpy(v, u->p, u->len);
	}
}

static void
out_features(struct vds_out *o, uint16_t type, const uint64_t *w,
    uint32_t n)
{
	uint8_t		*v;
	uint32_t	 i;

	if ((v = out_field(o, type, vds_type_flags(type), 8 * n)) == NULL)
		return;
	for (i = 0; i < n; i++)
		put_le64(v + 8 * i, w[i]);
}

static void
out_net(struct vds_out *o, const struct vds_net *n)
{
	uint8_t		*v;
	uint32_t	 k, nmac = n->uc + n->mc;

	if ((v = out_field(o, VDS_T_NET_CTRL, 0, VDS_NET_FIXED +
	    6 * (size_t)nmac)) == NULL)
		return;
	memcpy(v, n->mac, 6);
	put_le16(v + 6, n->rx_mode);
	memcpy(v + VA_CTX_CVQ_VLAN_OFF, n->vlan, sizeof(n->vlan));
	put_le32(v + VA_CTX_CVQ_UC_OFF, n->uc);
	put_le32(v + VA_CTX_CVQ_MC_OFF, n->mc);
	for (k = 0; k < nmac; k++)
		memcpy(v + VDS_NET_FIXED + 6 * k, n->macs[k], 6);
}

static void
out_queues(struct vds_out *o, const struct vds *s, uint16_t type)
{
	const struct vds_vq *q;
	uint8_t		*v;
	uint32_t	 i;

	for (i = 0; i < s->nvq; i++) {
		q = &s->vq[i];
		if (type == VDS_T_VQ && (q->has & VDS_VQ_HAS_CFG)) {
			if ((v = out_field(o, type, 0, VDS_VQ_LEN)) == NULL)
				continue;
			put_le16(v, q->index);
			put_le16(v + 2, q->size);
			put_le16(v + 4, q->msix);
			put_le16(v + 6, q->enabled);
			put_le64(v + 8, q->desc);
			put_le64(v + 16, q->driver);
			put_le64(v + 24, q->device);
		} else if (type == VDS_T_VQ_NOTIFY &&
		    (q->has & VDS_VQ_HAS_NOTIFY)) {
			if ((v = out_field(o, type, VDS_F_OPTIONAL,
			    VDS_VQ_NOTIFY_LEN)) == NULL)
				continue;
			put_le16(v, q->index);
			put_le16(v + 2, q->notify_off);
			put_le16(v + 4, q->notif_data);
		} else if (type == VDS_T_VQ_SPLIT &&
		    (q->has & VDS_VQ_HAS_SPLIT)) {
			if ((v = out_field(o, type, 0, VDS_VQ_SPLIT_HDR +
			    2 * (size_t)q->nown)) == NULL)
				continue;
			put_le16(v, q->index);
			put_le16(v + 2, q->avail_idx);
			put_le16(v + 4, q->nown);
			if (q->nown > 0)
				memcpy(v + VDS_VQ_SPLIT_HDR, q->own,
				    2 * (size_t)q->nown);
		}
	}
}

/* What no image may hold: refused before anything is written. */
static int
check_model(const struct vds *s, char *err, size_t errlen)
{
	uint32_t	 i;

	if (s->ndev < 1 && (s->have & VDS_H_DEVICE_FEATURES))
		return (va_err(err, errlen, -EINVAL, "DEVICE_FEATURES "
		    "without a word"));
	if (s->ndrv < 1 && (s->have & VDS_H_DRIVER_FEATURES))
		return (va_err(err, errlen, -EINVAL, "DRIVER_FEATURES "
		    "without a word"));
	if (s->ndev > VDS_MAX_FEATURE_WORDS || s->ndrv > VDS_MAX_FEATURE_WORDS)
		return (va_err(err, errlen, -EINVAL, "more than %d feature "
		    "words", VDS_MAX_FEATURE_WORDS));
	if ((s->have & VDS_H_DEVICE_CONFIG) && (s->config_len == 0 ||
	    s->config_len > VDS_MAX_DEVCFG))
		return (va_err(err, errlen, -EINVAL, "DEVICE_CONFIG of %u "
		    "bytes (1..%d)", s->config_len, VDS_MAX_DEVCFG));
	if ((s->have & VDS_H_NET) && (s->net.uc > VDS_MAX_MACS ||
	    s->net.mc > VDS_MAX_MACS))
		return (va_err(err, errlen, -EINVAL, "NET_CTRL: %u + %u MAC "
		    "entries, at most %d each", s->net.uc, s->net.mc,
		    VDS_MAX_MACS));
	if (s->nvq > VDS_MAX_VQS || s->nvendor > VDS_MAX_VENDOR ||
	    s->nunknown > VDS_MAX_UNKNOWN)
		return (va_err(err, errlen, -EINVAL, "more queues, vendor "
		    "blobs or unknown fields than a state holds"));
	for (i = 1; i < s->nvq; i++) {
		if (s->vq[i].index <= s->vq[i - 1].index)
			return (va_err(err, errlen, -EINVAL, "queues not "
			    "sorted by index (%u after %u)", s->vq[i].index,
			    s->vq[i - 1].index));
	}
	for (i = 1; i < s->nvendor; i++) {
		if (s->vendor[i].vendor <= s->vendor[i - 1].vendor)
			return (va_err(err, errlen, -EINVAL, "vendor blobs "
			    "not sorted"));
	}
	for (i = 0; i < s->nunknown; i++) {
		if (type_index(s->unknown[i].type) >= 0 ||
		    !(s->unknown[i].flags & VDS_F_OPTIONAL) ||
		    (i > 0 && s->unknown[i].type < s->unknown[i - 1].type))
			return (va_err(err, errlen, -EINVAL, "unknown field "
			    "%u (type %#x) is known, mandatory or unsorted", i,
			    s->unknown[i].type));
	}
	return (0);
}

long
vds_encode(const struct vds *s, uint8_t *buf, size_t cap, char *err,
    size_t errlen)
{
	struct vds_out	 o;
	uint32_t	 i, un = 0;
	uint8_t		*v;
	int		 rc;

	if ((rc = check_model(s, err, errlen)) != 0)
		return (rc);
	memset(&o, 0, sizeof(o));
	o.p = buf;
	o.cap = buf != NULL ? cap : 0;
	o.len = VDS_HDR_LEN;
	if (buf != NULL && cap < VDS_HDR_LEN)
		o.overflow = 1;

	out_unknown_before(&o, s, &un, VDS_T_DEVICE_FEATURES);
	if (s->have & VDS_H_DEVICE_FEATURES)
		out_features(&o, VDS_T_DEVICE_FEATURES, s->dev_features,
		    s->ndev);
	out_unknown_before(&o, s, &un, VDS_T_DRIVER_FEATURES);
	if (s->have & VDS_H_DRIVER_FEATURES)
		out_features(&o, VDS_T_DRIVER_FEATURES, s->drv_features,
		    s->ndrv);
	out_unknown_before(&o, s, &un, VDS_T_COMMON_CFG);
	if ((s->have & VDS_H_COMMON) && (v = out_field(&o, VDS_T_COMMON_CFG,
	    0, VDS_COMMON_LEN)) != NULL) {
		put_le32(v, s->common_present);
		for (i = 0; i < VDS_NREGS; i++) {
			if (s->common_present & (1u << i))
				memcpy(v + 8 + vds_regs[i].offset,
				    s->common + vds_regs[i].offset,
				    vds_regs[i].width);
		}
	}
	out_unknown_before(&o, s, &un, VDS_T_DEVICE_CONFIG);
	if ((s->have & VDS_H_DEVICE_CONFIG) && (v = out_field(&o,
	    VDS_T_DEVICE_CONFIG, VDS_F_OPTIONAL, s->config_len)) != NULL)
		memcpy(v, s->config, s->config_len);
	out_unknown_before(&o, s, &un, VDS_T_VQ);
	out_queues(&o, s, VDS_T_VQ);
	out_unknown_before(&o, s, &un, VDS_T_VQ_NOTIFY);
	out_queues(&o, s, VDS_T_VQ_NOTIFY);
	out_unknown_before(&o, s, &un, VDS_T_VQ_SPLIT);
	out_queues(&o, s, VDS_T_VQ_SPLIT);
	out_unknown_before(&o, s, &un, VDS_T_NET_CTRL);
	if (s->have & VDS_H_NET)
		out_net(&o, &s->net);
	out_unknown_before(&o, s, &un, VDS_T_VENDOR);
	for (i = 0; i < s->nvendor; i++) {
		if ((v = out_field(&o, VDS_T_VENDOR, s->vendor[i].flags,
		    VDS_VENDOR_HDR + (size_t)s->vendor[i].len)) == NULL)
			continue;
		put_le32(v, s->vendor[i].vendor);
		if (s->vendor[i].len > 0)
			memcpy(v + VDS_VENDOR_HDR, s->vendor[i].p,
			    s->vendor[i].len);
	}
	out_unknown_before(&o, s, &un, 0x10000);

	if (o.len > VDS_MAX_BYTES)
		return (va_err(err, errlen, -E2BIG, "canonical state of %zu "
		    "bytes exceeds %u", o.len, VDS_MAX_BYTES));
	if (o.overflow)
		return (va_err(err, errlen, -ENOSPC, "canonical state of %zu "
		    "bytes does not fit in %zu", o.len, cap));
	if (buf != NULL) {
		put_le32(buf, VDS_MAGIC);
		put_le16(buf + 4, VDS_MAJOR);
		/* A newer source's minor stays: its optional fields do. */
		put_le16(buf + 6, MAX(s->minor, VDS_MINOR));
		put_le32(buf + 8, s->device_type);
		put_le32(buf + 12, (uint32_t)o.len);
	}
	return ((long)o.len);
}

/* ------------------------------------------------------------- decode */

int
vds_peek_length(const uint8_t *buf, size_t len, uint32_t *total, char *err,
    size_t errlen)
{
	if (len < VDS_HDR_LEN)
		return (0);
	if (get_le32(buf) != VDS_MAGIC)
		return (va_err(err, errlen, -EINVAL, "not a canonical device "
		    "state (magic %#x)", get_le32(buf)));
	*total = get_le32(buf + 12);
	if (*total < VDS_HDR_LEN || *total > VDS_MAX_BYTES)
		return (va_err(err, errlen, -EINVAL, "canonical state claims "
		    "%u bytes (%d..%u)", *total, VDS_HDR_LEN, VDS_MAX_BYTES));
	return (1);
}

static int
dec_features(struct vds *s, uint16_t type, const uint8_t *v, uint32_t len,
    char *err, size_t errlen)
{
	uint64_t	*w = type == VDS_T_DEVICE_FEATURES ? s->dev_features :
			    s->drv_features;
	uint32_t	 i;

	if (len == 0 || len % 8 != 0 || len > 8 * VDS_MAX_FEATURE_WORDS)
		return (va_err(err, errlen, -EINVAL, "length %u is not 1..%d "
		    "le64 words", len, VDS_MAX_FEATURE_WORDS));
	for (i = 0; i < len / 8; i++)
		w[i] = get_le64(v + 8 * i);
	if (type == VDS_T_DEVICE_FEATURES) {
		s->ndev = len / 8;
		s->have |= VDS_H_DEVICE_FEATURES;
	} else {
		s->ndrv = len / 8;
		s->have |= VDS_H_DRIVER_FEATURES;
	}
	return (0);
}

static int
dec_common(struct vds *s, const uint8_t *v, uint32_t len, char *err,
    size_t errlen)
{
	uint32_t	 present, i, k;

	if (len != VDS_COMMON_LEN)
		return (va_err(err, errlen, -EINVAL, "length %u, not %d", len,
		    VDS_COMMON_LEN));
	present = get_le32(v);
	if (present & ~VDS_REGS_ALL || get_le32(v + 4) != 0)
		return (va_err(err, errlen, -EINVAL, "unknown register bits "
		    "%#x or reserved bytes set", present & ~VDS_REGS_ALL));
	for (i = 0; i < VDS_NREGS; i++) {
		if (present & (1u << i))
			continue;
		for (k = 0; k < vds_regs[i].width; k++) {
			if (v[8 + vds_regs[i].offset + k] != 0)
				return (va_err(err, errlen, -EINVAL, "absent "
				    "register %s is not zero",
				    vds_regs[i].name));
		}
	}
	memcpy(s->common, v + 8, sizeof(s->common));
	s->common_present = present;
	s->have |= VDS_H_COMMON;
	return (0);
}

static int
dec_vq(struct vds *s, uint16_t type, const uint8_t *v, uint32_t len,
    char *err, size_t errlen)
{
	struct vds_vq	*q;
	uint16_t	 idx, n;

	if (len < 2)
		return (va_err(err, errlen, -EINVAL, "length %u has no queue "
		    "index", len));
	idx = get_le16(v);
	if ((q = vds_vq(s, idx, 1)) == NULL)
		return (va_err(err, errlen, -E2BIG, "queue %u: more than %d "
		    "queues", idx, VDS_MAX_VQS));
	switch (type) {
	case VDS_T_VQ:
		if (len != VDS_VQ_LEN)
			return (va_err(err, errlen, -EINVAL, "queue %u: "
			    "length %u, not %d", idx, len, VDS_VQ_LEN));
		q->size = get_le16(v + 2);
		q->msix = get_le16(v + 4);
		q->enabled = get_le16(v + 6);
		q->desc = get_le64(v + 8);
		q->driver = get_le64(v + 16);
		q->device = get_le64(v + 24);
		if (q->size > 32768 || (q->size & (q->size - 1)) != 0 ||
		    q->enabled > 1)
			return (va_err(err, errlen, -EINVAL, "queue %u: size "
			    "%u is not a power of two <= 32768, or enabled %u",
			    idx, q->size, q->enabled));
		q->has |= VDS_VQ_HAS_CFG;
		break;
	case VDS_T_VQ_NOTIFY:
		if (len != VDS_VQ_NOTIFY_LEN || get_le16(v + 6) != 0)
			return (va_err(err, errlen, -EINVAL, "queue %u: "
			    "length %u (not %d) or reserved bytes set", idx,
			    len, VDS_VQ_NOTIFY_LEN));
		q->notify_off = get_le16(v + 2);
		q->notif_data = get_le16(v + 4);
		q->has |= VDS_VQ_HAS_NOTIFY;
		break;
	default:
		if (len < VDS_VQ_SPLIT_HDR || get_le16(v + 6) != 0)
			return (va_err(err, errlen, -EINVAL, "queue %u: "
			    "length %u or reserved bytes set", idx, len));
		n = get_le16(v + 4);
		if (len != VDS_VQ_SPLIT_HDR + 2u * n)
			return (va_err(err, errlen, -EINVAL, "queue %u: %u "
			    "owned descriptors need %u bytes, field has %u",
			    idx, n, VDS_VQ_SPLIT_HDR + 2u * n, len));
		q->avail_idx = get_le16(v + 2);
		q->nown = n;
		q->own = v + VDS_VQ_SPLIT_HDR;
		q->has |= VDS_VQ_HAS_SPLIT;
		break;
	}
	return (0);
}

static int
dec_net(struct vds *s, const uint8_t *v, uint32_t len, char *err,
    size_t errlen)
{
	uint32_t	 uc, mc, k;
	uint16_t	 rx;

	if (s->device_type != VDS_DEVTYPE_NET)
		return (va_err(err, errlen, -EINVAL, "net control state in "
		    "a device of type %u", s->device_type));
	if (len < VDS_NET_FIXED)
		return (va_err(err, errlen, -EINVAL, "length %u, shorter "
		    "than %d", len, VDS_NET_FIXED));
	uc = get_le32(v + VA_CTX_CVQ_UC_OFF);
	mc = get_le32(v + VA_CTX_CVQ_MC_OFF);
	rx = get_le16(v + 6);
	if (uc > VDS_MAX_MACS || mc > VDS_MAX_MACS ||
	    len != VDS_NET_FIXED + 6ULL * (uc + mc))
		return (va_err(err, errlen, -EINVAL, "%u + %u MAC entries "
		    "(at most %d each) in %u bytes", uc, mc, VDS_MAX_MACS,
		    len));
	if (rx & ~VA_NET_RX_MASK)
		return (va_err(err, errlen, -EINVAL, "unknown rx_mode bits "
		    "%#x", rx & ~VA_NET_RX_MASK));
	memcpy(s->net.mac, v, 6);
	s->net.rx_mode = rx;
	memcpy(s->net.vlan, v + VA_CTX_CVQ_VLAN_OFF, sizeof(s->net.vlan));
	s->net.uc = uc;
	s->net.mc = mc;
	for (k = 0; k < uc + mc; k++)
		memcpy(s->net.macs[k], v + VDS_NET_FIXED + 6 * k, 6);
	s->have |= VDS_H_NET;
	return (0);
}

/* The field's sort key within its type (queues and vendor blobs). */
static uint32_t
field_key(uint16_t type, const uint8_t *v, uint32_t len)
{
	if ((type == VDS_T_VQ || type == VDS_T_VQ_NOTIFY ||
	    type == VDS_T_VQ_SPLIT) && len >= 2)
		return (get_le16(v));
	if (type == VDS_T_VENDOR && len >= 4)
		return (get_le32(v));
	return (0);
}

static int
dec_field(struct vds *s, uint16_t type, uint16_t flags, const uint8_t *v,
    uint32_t len, char *err, size_t errlen)
{
	switch (type) {
	case VDS_T_DEVICE_FEATURES:
	case VDS_T_DRIVER_FEATURES:
		return (dec_features(s, type, v, len, err, errlen));
	case VDS_T_COMMON_CFG:
		return (dec_common(s, v, len, err, errlen));
	case VDS_T_DEVICE_CONFIG:
		if (len == 0 || len > VDS_MAX_DEVCFG)
			return (va_err(err, errlen, -EINVAL, "length %u, not "
			    "1..%d", len, VDS_MAX_DEVCFG));
		s->config = v;
		s->config_len = len;
		s->have |= VDS_H_DEVICE_CONFIG;
		return (0);
	case VDS_T_VQ:
	case VDS_T_VQ_NOTIFY:
	case VDS_T_VQ_SPLIT:
		return (dec_vq(s, type, v, len, err, errlen));
	case VDS_T_NET_CTRL:
		return (dec_net(s, v, len, err, errlen));
	case VDS_T_VENDOR:
		if (len < VDS_VENDOR_HDR || get_le32(v + 4) != 0)
			return (va_err(err, errlen, -EINVAL, "length %u or "
			    "reserved bytes set", len));
		return (vds_add_vendor(s, get_le32(v), flags,
		    v + VDS_VENDOR_HDR, len - VDS_VENDOR_HDR, err, errlen));
	default:
		if (s->nunknown == VDS_MAX_UNKNOWN)
			return (va_err(err, errlen, -E2BIG, "more than %d "
			    "unknown optional fields", VDS_MAX_UNKNOWN));
		s->unknown[s->nunknown].type = type;
		s->unknown[s->nunknown].flags = flags;
		s->unknown[s->nunknown].p = v;
		s->unknown[s->nunknown].len = len;
		s->nunknown++;
		return (0);
	}
}

int
vds_decode(const uint8_t *buf, size_t len, struct vds *s, char *err,
    size_t errlen)
{
	const uint8_t	*h, *v;
	uint32_t	 total, flen, key, pkey = 0, idx = 0;
	uint16_t	 type, flags, ptype = 0;
	size_t		 off;
	char		 why[200];
	int		 rc;

	if (len < VDS_HDR_LEN)
		return (va_err(err, errlen, -EINVAL, "canonical state of "
		    "%zu bytes is shorter than its %d-byte header", len,
		    VDS_HDR_LEN));
	if ((rc = vds_peek_length(buf, len, &total, err, errlen)) < 0)
		return (rc);
	if (get_le16(buf + 4) != VDS_MAJOR)
		return (va_err(err, errlen, -EPROTONOSUPPORT, "canonical "
		    "state version %u.%u; we read %d.x", get_le16(buf + 4),
		    get_le16(buf + 6), VDS_MAJOR));
	if (total != len)
		return (va_err(err, errlen, -EINVAL, "canonical state header "
		    "says %u bytes, the image has %zu", total, len));
	vds_init(s, get_le32(buf + 8));
	s->minor = get_le16(buf + 6);
	for (off = VDS_HDR_LEN; off < len; idx++) {
		if (len - off < VDS_FIELD_HDR_LEN)
			return (va_err(err, errlen, -EINVAL, "field %u: header "
			    "truncated at offset %zu", idx, off));
		h = buf + off;
		type = get_le16(h);
		flags = get_le16(h + 2);
		flen = get_le32(h + 4);
		v = h + VDS_FIELD_HDR_LEN;
		if (flen > len - off - VDS_FIELD_HDR_LEN)
			return (va_err(err, errlen, -EINVAL, "field %u (%s): "
			    "length %u runs past the end (%zu bytes left)", idx,
			    vds_type_name(type), flen,
			    len - off - VDS_FIELD_HDR_LEN));
		if (flags & ~VDS_F_OPTIONAL)
			return (va_err(err, errlen, -EINVAL, "field %u (%s): "
			    "reserved flag bits %#x", idx, vds_type_name(type),
			    flags & ~VDS_F_OPTIONAL));
		if (type_index(type) < 0 && !(flags & VDS_F_OPTIONAL))
			return (va_err(err, errlen, -EINVAL, "field %u: "
			    "unknown mandatory type %#x (state version %u.%u)",
			    idx, type, VDS_MAJOR, s->minor));
		if (type_index(type) >= 0 && type != VDS_T_VENDOR &&
		    flags != vds_type_flags(type))
			return (va_err(err, errlen, -EINVAL, "field %u (%s): "
			    "flags %#x, canonical %#x", idx,
			    vds_type_name(type), flags, vds_type_flags(type)));
		key = field_key(type, v, flen);
		/* Unknown types keep their order; known ones are unique. */
		if (idx > 0 && (type < ptype || (type == ptype &&
		    type_index(type) >= 0 && key <= pkey)))
			return (va_err(err, errlen, -EINVAL, "field %u (%s, "
			    "key %u): out of canonical order or a duplicate",
			    idx, vds_type_name(type), key));
		if ((rc = dec_field(s, type, flags, v, flen, why,
		    sizeof(why))) != 0)
			return (va_err(err, errlen, rc, "field %u (%s): %s",
			    idx, vds_type_name(type), why));
		ptype = type;
		pkey = key;
		off += VDS_FIELD_HDR_LEN + flen;
	}
	return (0);
}
