/*
 * dialect_v14.c: virtio 1.4 device parts as a dialect (dialect.h): two
 * modes (running, stopped: FROZEN is stopped with the parts captured),
 * state through device-parts resource objects, no device dirty tracking
 * (the host pairs it with the IOMMU's, or treats every mapped page as
 * dirty), and device parts <-> the canonical state. The command sequences
 * are the Linux virtio-vfio-pci driver's (reference §3.7, 3.9).
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "util.h"
#include "devctx.h"
#include "dialect.h"
#include "v14.h"

#define V14_RUNNING	0
#define V14_STOPPED	1

static const char *const v14_modes[] = { "running", "stopped" };
static const uint8_t v14_vmig[] = { VMIG_MODE_ACTIVE, VMIG_MODE_STOPPED };

static int
v14_mode_device(enum vmig_mode m)
{
	switch (m) {
	case VMIG_MODE_ACTIVE:
		return (V14_RUNNING);
	case VMIG_MODE_STOPPED:
	case VMIG_MODE_FROZEN:
		return (V14_STOPPED);
	default:
		return (-1);
	}
}

/* One DEV_MODE_SET reaches either mode from either. */
static int
v14_mode_next(int cur, int target)
{
	return (target == V14_RUNNING || target == V14_STOPPED ? target : -1);
}

/* ---------------------------------------------------------- operations */

static const uint16_t v14_need[] = {
	V14_OP_CAP_ID_LIST_QUERY, V14_OP_DEVICE_CAP_GET, V14_OP_DRIVER_CAP_SET,
	V14_OP_RESOURCE_OBJ_CREATE, V14_OP_RESOURCE_OBJ_DESTROY,
	V14_OP_DEV_PARTS_METADATA_GET, V14_OP_DEV_PARTS_GET,
	V14_OP_DEV_PARTS_SET, V14_OP_DEV_MODE_SET,
};

static int
b_cap_list(struct va_dop *op, struct va_dcmd *c, char *err, size_t errlen)
{
	c->opcode = V14_OP_CAP_ID_LIST_QUERY;
	c->group = VA_GROUP_SELF;
	c->member = 0;
	c->result_cap = 8;
	return (0);
}

static int
p_cap_list(struct va_dop *op, const struct va_dres *r, char *err,
    size_t errlen)
{
	int	has, rc;

	if ((rc = v14_caps_get(r->result, r->result_len, V14_CAP_DEV_PARTS,
	    &has, err, errlen)) != 0)
		return (rc);
	if (!has)
		return (va_err(err, errlen, -EOPNOTSUPP, "the PF lacks the "
		    "device-parts capability (CAP_ID_LIST_QUERY %#llx)",
		    (unsigned long long)get_le64(r->result)));
	return (VA_STEP_NEXT);
}

static int
b_cap_get(struct va_dop *op, struct va_dcmd *c, char *err, size_t errlen)
{
	c->opcode = V14_OP_DEVICE_CAP_GET;
	c->group = VA_GROUP_SELF;
	c->member = 0;
	c->data_len = v14_cap_put(c->data, V14_CAP_DEV_PARTS);
	c->result_cap = 8;
	return (0);
}

static int
p_cap_get(struct va_dop *op, const struct va_dres *r, char *err,
    size_t errlen)
{
	uint8_t	get, set;
	int	rc;

	if ((rc = v14_parts_cap_get(r->result, r->result_len, &get, &set,
	    err, errlen)) != 0)
		return (rc);
	/* One id space for both kinds, as Linux: the smaller limit. */
	op->pf->obj_limit = MIN(get, set);
	if (op->pf->obj_limit == 0)
		return (va_err(err, errlen, -EOPNOTSUPP, "the PF allows no "
		    "device-parts objects (get %u, set %u)", get, set));
	return (VA_STEP_NEXT);
}

static int
b_cap_set(struct va_dop *op, struct va_dcmd *c, char *err, size_t errlen)
{
	c->opcode = V14_OP_DRIVER_CAP_SET;
	c->group = VA_GROUP_SELF;
	c->member = 0;
	c->data_len = v14_cap_set_put(c->data, (uint8_t)op->pf->obj_limit,
	    (uint8_t)op->pf->obj_limit);
	return (0);
}

static int
b_probe(struct va_dop *op, struct va_dcmd *c, char *err, size_t errlen)
{
	struct vmig_dev_caps *caps = &op->vf->caps;

	snprintf(caps->interface, sizeof(caps->interface), "%s",
	    op->d->iface);
	caps->modes = op->d->vmig_modes;
	/* Parts may be read while running (Linux's PRE_COPY does); the
	 * core holds the image, so it can hand it out in chunks. */
	caps->flags = VMIG_CAP_STATE_PRECOPY | VMIG_CAP_STATE_CHUNKED |
	    VMIG_CAP_STATE_DISCARD;
	caps->state_max_bytes = MIN(op->pf->chunk, V14_MAX_BYTES);
	caps->dirty_kind = VMIG_DIRTY_NONE;
	/* No DEV_MODE_GET in 1.4: the mode is what we last set. */
	return (VA_STEP_DONE);
}

static int
b_get_mode(struct va_dop *op, struct va_dcmd *c, char *err, size_t errlen)
{
	op->mode = op->vf->mode < 0 ? VMIG_MODE_UNKNOWN :
	    v14_vmig[op->vf->mode];
	return (VA_STEP_DONE);
}

static void
v14_mode_cmd(struct va_dop *op, struct va_dcmd *c, int next)
{
	c->opcode = V14_OP_DEV_MODE_SET;
	c->data_len = v14_mode_put(c->data, next == V14_STOPPED);
}

static void
v14_fail(struct va_dop *op, int rc)
{
	if (op->kind == VA_DOP_SET_MODE)
		op->vf->mode = -1;
	if (op->cur_opcode == V14_OP_RESOURCE_OBJ_CREATE &&
	    op->vf != NULL && op->vf->obj >= 0) {
		/* Not created: the id is free again. */
		va_dpf_obj_free(op->pf, op->vf->obj);
		op->vf->obj = -1;
	} else if (op->cur_opcode == V14_OP_RESOURCE_OBJ_DESTROY &&
	    op->vf != NULL) {
		/* Still on the device: its id stays taken. */
		op->vf->obj = -1;
	}
}

static int
holds_object(struct va_dop *op)
{
	return (op->vf != NULL && op->vf->obj >= 0);
}

static int
obj_create(struct va_dop *op, struct va_dcmd *c, uint8_t type, char *err,
    size_t errlen)
{
	int	id;

	if (op->vf->obj >= 0)
		return (va_err(err, errlen, -EBUSY, "a device-parts object "
		    "(%d) is still in use", op->vf->obj));
	if ((id = va_dpf_obj_alloc(op->pf)) < 0)
		return (va_err(err, errlen, -EBUSY, "all %u device-parts "
		    "objects of the PF are in use", op->pf->obj_limit));
	op->vf->obj = id;
	c->opcode = V14_OP_RESOURCE_OBJ_CREATE;
	c->data_len = v14_obj_create_put(c->data, (uint32_t)id, type);
	return (0);
}

static int
b_create_get(struct va_dop *op, struct va_dcmd *c, char *err, size_t errlen)
{
	return (obj_create(op, c, V14_PARTS_OBJ_GET, err, errlen));
}

static int
b_create_set(struct va_dop *op, struct va_dcmd *c, char *err, size_t errlen)
{
	char	why[200];

	/* The whole image is here: refuse a bad one before anything. */
	if (v14_parts_validate(op->buf, op->len, why, sizeof(why)) != 0)
		return (va_err(err, errlen, -EINVAL, "device parts refused "
		    "before sending: %s", why));
	return (obj_create(op, c, V14_PARTS_OBJ_SET, err, errlen));
}

static int
b_meta_size(struct va_dop *op, struct va_dcmd *c, char *err, size_t errlen)
{
	c->opcode = V14_OP_DEV_PARTS_METADATA_GET;
	c->data_len = v14_meta_put(c->data, (uint32_t)op->vf->obj,
	    V14_META_SIZE);
	c->result_cap = V14_META_RES_LEN;
	return (0);
}

static int
p_meta_size(struct va_dop *op, const struct va_dres *r, char *err,
    size_t errlen)
{
	uint32_t	size;
	int		rc;

	if ((rc = v14_meta_value(r->result, r->result_len, &size, err,
	    errlen)) != 0)
		return (rc);
	op->size = size;
	if (op->kind == VA_DOP_STATE_SIZE)
		return (VA_STEP_NEXT);
	if (size == 0)
		return (va_err(err, errlen, -EPROTO, "the device reports "
		    "device parts of 0 bytes"));
	if (size > op->pf->chunk || size > V14_MAX_BYTES)
		return (va_err(err, errlen, -E2BIG, "device parts of %u bytes "
		    "exceed the largest command (%zu)", size, op->pf->chunk));
	if (size > op->cap)
		return (va_err(err, errlen, -ENOSPC, "device parts of %u "
		    "bytes do not fit the %zu-byte buffer", size, op->cap));
	return (VA_STEP_NEXT);
}

static int
b_parts_get(struct va_dop *op, struct va_dcmd *c, char *err, size_t errlen)
{
	c->opcode = V14_OP_DEV_PARTS_GET;
	c->data_len = v14_get_put(c->data, (uint32_t)op->vf->obj,
	    V14_GET_ALL);
	c->result_cap = op->size;
	return (0);
}

static int
p_parts_get(struct va_dop *op, const struct va_dres *r, char *err,
    size_t errlen)
{
	char	why[200];

	if (r->result_len > op->cap)
		return (va_err(err, errlen, -EPROTO, "DEV_PARTS_GET returned "
		    "%zu bytes for %zu", r->result_len, op->cap));
	if (v14_parts_validate(r->result, r->result_len, why,
	    sizeof(why)) != 0)
		return (va_err(err, errlen, -EPROTO, "DEV_PARTS_GET: %s",
		    why));
	memcpy(op->buf, r->result, r->result_len);
	op->size = r->result_len;
	return (VA_STEP_NEXT);
}

/* The parts of buf[off..) that fit one command: whole parts only. */
static size_t
set_span(const struct va_dop *op)
{
	const uint8_t	*p = op->buf + op->off;
	size_t		 left = op->len - op->off, n = 0, one;
	size_t		 room = op->pf->chunk - V14_OBJ_HDR_LEN;

	/* The image was validated: whole parts, then at most padding. */
	while (left - n >= V14_PART_HDR_LEN) {
		one = (size_t)V14_PART_HDR_LEN + get_le32(p + n + 12);
		if (n > 0 && n + one > room)
			break;
		n += one;
	}
	/* Padding after the last part goes with it. */
	return (n + (left - n < V14_PART_HDR_LEN ? left - n : 0));
}

static int
b_parts_set(struct va_dop *op, struct va_dcmd *c, char *err, size_t errlen)
{
	op->cur = set_span(op);
	if (op->cur > op->pf->chunk - V14_OBJ_HDR_LEN)
		return (va_err(err, errlen, -E2BIG, "a device part of %zu "
		    "bytes exceeds the largest command (%zu)", op->cur,
		    op->pf->chunk));
	c->opcode = V14_OP_DEV_PARTS_SET;
	c->data_len = v14_obj_hdr_put(c->data, V14_OBJ_DEV_PARTS,
	    (uint32_t)op->vf->obj);
	c->tail = op->buf + op->off;
	c->tail_len = op->cur;
	c->critical = 1;
	return (0);
}

static int
p_parts_set(struct va_dop *op, const struct va_dres *r, char *err,
    size_t errlen)
{
	op->off += op->cur;
	return (op->off < op->len ? VA_STEP_AGAIN : VA_STEP_NEXT);
}

static int
b_destroy(struct va_dop *op, struct va_dcmd *c, char *err, size_t errlen)
{
	if (op->vf->obj < 0)
		return (VA_STEP_NEXT);
	c->opcode = V14_OP_RESOURCE_OBJ_DESTROY;
	c->data_len = v14_obj_hdr_put(c->data, V14_OBJ_DEV_PARTS,
	    (uint32_t)op->vf->obj);
	return (0);
}

static int
p_destroy(struct va_dop *op, const struct va_dres *r, char *err,
    size_t errlen)
{
	va_dpf_obj_free(op->pf, op->vf->obj);
	op->vf->obj = -1;
	return (VA_STEP_DONE);
}

static int
b_no_dirty(struct va_dop *op, struct va_dcmd *c, char *err, size_t errlen)
{
	return (va_err(err, errlen, -EOPNOTSUPP, "virtio 1.4 devices report "
	    "no dirty pages: track them with the IOMMU, or treat every "
	    "mapped page as dirty"));
}

static const struct va_dstep s_open[] = {
	{ "list_query", va_step_list_query, va_step_list_check },
	{ "list_use", va_step_list_use, va_step_next },
	{ "cap_list", b_cap_list, p_cap_list },
	{ "cap_get", b_cap_get, p_cap_get },
	{ "cap_set", b_cap_set, va_step_next },
};
static const struct va_dstep s_probe[] = {
	{ "caps", b_probe, va_step_next },
};
static const struct va_dstep s_get_mode[] = {
	{ "cached_mode", b_get_mode, va_step_next },
};
static const struct va_dstep s_set_mode[] = {
	{ "mode_set", va_step_mode_walk, va_step_mode_walked },
};
static const struct va_dstep s_size[] = {
	{ "obj_create", b_create_get, va_step_next },
	{ "metadata_size", b_meta_size, p_meta_size },
	{ "obj_destroy", b_destroy, p_destroy },
};
static const struct va_dstep s_save[] = {
	{ "obj_create", b_create_get, va_step_next },
	{ "metadata_size", b_meta_size, p_meta_size },
	{ "parts_get", b_parts_get, p_parts_get },
	{ "obj_destroy", b_destroy, p_destroy },
};
static const struct va_dstep s_load[] = {
	{ "obj_create", b_create_set, va_step_next },
	{ "parts_set", b_parts_set, p_parts_set },
	{ "obj_destroy", b_destroy, p_destroy },
};
static const struct va_dstep s_nodirty[] = {
	{ "dirty", b_no_dirty, va_step_next },
};

#define STEPS(a)	(a), (int)nitems(a)
static const struct va_dsteps v14_steps[VA_DOP_NKINDS] = {
	[VA_DOP_PF_OPEN] = { STEPS(s_open), -1, NULL, NULL },
	[VA_DOP_VF_PROBE] = { STEPS(s_probe), -1, NULL, NULL },
	[VA_DOP_GET_MODE] = { STEPS(s_get_mode), -1, NULL, NULL },
	[VA_DOP_SET_MODE] = { STEPS(s_set_mode), -1, NULL, v14_fail },
	[VA_DOP_STATE_SIZE] = { STEPS(s_size), 2, holds_object, v14_fail },
	[VA_DOP_SAVE] = { STEPS(s_save), 3, holds_object, v14_fail },
	[VA_DOP_LOAD] = { STEPS(s_load), 2, holds_object, v14_fail },
	[VA_DOP_DIRTY_START] = { STEPS(s_nodirty), -1, NULL, NULL },
	[VA_DOP_DIRTY_READ] = { STEPS(s_nodirty), -1, NULL, NULL },
	[VA_DOP_DIRTY_STOP] = { STEPS(s_nodirty), -1, NULL, NULL },
};

/* ------------------------------------------------------------ canonical */

static int
net_part(struct vds *s, const struct v14_part *pt, char *err, size_t errlen)
{
	const uint8_t	*v = pt->value;
	uint32_t	 n, m, k;
	uint16_t	 vid;

	if (s->device_type != 1)
		return (va_err(err, errlen, -EINVAL, "part %u: net control "
		    "state in a device of type %u", pt->index,
		    s->device_type));
	if (!v14_net_known(pt->sel))
		return (0);	/* optional, and not a command we keep */
	s->have |= VDS_H_NET;
	switch (pt->sel[0]) {
	case V14_NET_CLASS_RX:
		if (v[0])
			s->net.rx_mode |= (uint16_t)(1u << pt->sel[1]);
		break;
	case V14_NET_CLASS_MAC:
		if (pt->sel[1] == V14_NET_MAC_ADDR_SET) {
			memcpy(s->net.mac, v, 6);
			break;
		}
		n = get_le32(v);
		m = get_le32(v + 4 + 6 * n);
		for (k = 0; k < n; k++)
			memcpy(s->net.macs[k], v + 4 + 6 * k, 6);
		for (k = 0; k < m; k++)
			memcpy(s->net.macs[n + k], v + 8 + 6 * (n + k), 6);
		s->net.uc = n;
		s->net.mc = m;
		break;
	case V14_NET_CLASS_VLAN:
		vid = get_le16(v);
		s->net.vlan[vid / 8] |= (uint8_t)(1u << (vid % 8));
		break;
	}
	return (0);
}

static int
v14_to_canon(const uint8_t *img, size_t len, uint32_t devtype,
    struct vds *s, char *err, size_t errlen)
{
	struct v14_iter	 it;
	struct v14_part	 pt;
	struct vds_vq	*q;
	uint32_t	 i;
	int		 rc, r;

	vds_init(s, devtype);
	v14_iter_init(&it, img, len);
	while ((rc = v14_iter_next(&it, &pt, err, errlen)) == 1) {
		if (!pt.known)
			continue;	/* optional and unknown: dropped */
		switch (pt.type) {
		case V14_PART_DEV_FEATURES:
		case V14_PART_DRV_FEATURES:
			for (i = 0; i < pt.length / 8; i++) {
				if (pt.type == V14_PART_DEV_FEATURES)
					s->dev_features[i] =
					    get_le64(pt.value + 8 * i);
				else
					s->drv_features[i] =
					    get_le64(pt.value + 8 * i);
			}
			if (pt.type == V14_PART_DEV_FEATURES) {
				s->ndev = pt.length / 8;
				s->have |= VDS_H_DEVICE_FEATURES;
			} else {
				s->ndrv = pt.length / 8;
				s->have |= VDS_H_DRIVER_FEATURES;
			}
			break;
		case V14_PART_PCI_COMMON_CFG:
			r = vds_reg_at(get_le32(pt.sel));
			memcpy(s->common + vds_regs[r].offset, pt.value,
			    pt.length);
			s->common_present |= 1u << r;
			s->have |= VDS_H_COMMON;
			break;
		case V14_PART_DEVICE_STATUS:
			vds_reg_set(s, VDS_R_DEVICE_STATUS, pt.value[0]);
			break;
		case V14_PART_VQ_CFG:
		case V14_PART_VQ_NOTIFY_CFG:
			if ((q = vds_vq(s, get_le16(pt.sel), 1)) == NULL)
				return (va_err(err, errlen, -E2BIG, "part %u: "
				    "more than %d queues", pt.index,
				    VDS_MAX_VQS));
			if (pt.type == V14_PART_VQ_NOTIFY_CFG) {
				q->notify_off = get_le16(pt.value);
				q->notif_data = get_le16(pt.value + 2);
				q->has |= VDS_VQ_HAS_NOTIFY;
				break;
			}
			q->size = get_le16(pt.value);
			q->msix = get_le16(pt.value + 2);
			q->enabled = get_le16(pt.value + 4);
			q->desc = get_le64(pt.value + 8);
			q->driver = get_le64(pt.value + 16);
			q->device = get_le64(pt.value + 24);
			q->has |= VDS_VQ_HAS_CFG;
			break;
		case V14_PART_NET_CVQ:
			if ((rc = net_part(s, &pt, err, errlen)) != 0)
				return (rc);
			break;
		case V14_PART_VENDOR:
			if ((rc = vds_add_vendor(s, get_le32(pt.sel),
			    (pt.flags & V14_PART_F_OPTIONAL) ? VDS_F_OPTIONAL :
			    0, pt.value, pt.length, err, errlen)) != 0)
				return (rc);
			break;
		}
	}
	return (rc);
}

/* The common-config registers a v1.4 device reports as parts. */
static int
v14_reg_carried(int r)
{
	return ((vds_regs[r].class == VDS_RC_STATE &&
	    r != VDS_R_DEVICE_STATUS) || r == VDS_R_NUM_QUEUES);
}

static void
net_parts(struct v14_pbuf *b, const struct vds_net *n)
{
	uint8_t		 sel[8], *v;
	uint32_t	 k, vid;

	for (k = 0; k < V14_NET_RX_CMDS; k++) {
		v14_sel_net(sel, V14_NET_CLASS_RX, (uint8_t)k);
		if ((v = v14_part_add(b, V14_PART_NET_CVQ, 0, sel, 1)) != NULL)
			v[0] = (n->rx_mode >> k) & 1;
	}
	v14_sel_net(sel, V14_NET_CLASS_MAC, V14_NET_MAC_TABLE_SET);
	if ((v = v14_part_add(b, V14_PART_NET_CVQ, 0, sel, 8 +
	    6 * (n->uc + n->mc))) != NULL) {
		put_le32(v, n->uc);
		for (k = 0; k < n->uc; k++)
			memcpy(v + 4 + 6 * k, n->macs[k], 6);
		put_le32(v + 4 + 6 * n->uc, n->mc);
		for (k = 0; k < n->mc; k++)
			memcpy(v + 8 + 6 * (n->uc + k), n->macs[n->uc + k], 6);
	}
	v14_sel_net(sel, V14_NET_CLASS_MAC, V14_NET_MAC_ADDR_SET);
	if ((v = v14_part_add(b, V14_PART_NET_CVQ, 0, sel, 6)) != NULL)
		memcpy(v, n->mac, 6);
	v14_sel_net(sel, V14_NET_CLASS_VLAN, V14_NET_VLAN_ADD);
	for (vid = 0; vid < 4096; vid++) {
		if (!(n->vlan[vid / 8] & (1u << (vid % 8))))
			continue;
		if ((v = v14_part_add(b, V14_PART_NET_CVQ, 0, sel, 2)) != NULL)
			put_le16(v, (uint16_t)vid);
	}
}

static long
v14_from_canon(const struct vds *s, const struct vds *base, uint8_t *buf,
    size_t cap, char *err, size_t errlen)
{
	const struct vds_vq *q;
	struct v14_pbuf	 b;
	uint8_t		 sel[8], *v;
	uint32_t	 i;
	int		 r;

	for (i = 0; i < s->nvq; i++) {
		q = &s->vq[i];
		if (q->nown > 0)
			return (va_err(err, errlen, -EPROTONOSUPPORT,
			    "VQ_SPLIT of queue %u: %u device-owned "
			    "descriptors, and v1.4 has no part for them (its "
			    "devices write every buffer back when stopped)",
			    q->index, q->nown));
	}
	for (i = 0; i < s->nvendor; i++) {
		if (s->vendor[i].len > V14_MAX_BYTES)
			return (va_err(err, errlen, -E2BIG, "VENDOR %#x of %u "
			    "bytes", s->vendor[i].vendor, s->vendor[i].len));
	}
	v14_pbuf_init(&b, buf, cap);
	memset(sel, 0, sizeof(sel));
	if ((s->have & VDS_H_DEVICE_FEATURES) && (v = v14_part_add(&b,
	    V14_PART_DEV_FEATURES, V14_PART_F_OPTIONAL, sel,
	    8 * s->ndev)) != NULL) {
		for (i = 0; i < s->ndev; i++)
			put_le64(v + 8 * i, s->dev_features[i]);
	}
	if ((s->have & VDS_H_DRIVER_FEATURES) && (v = v14_part_add(&b,
	    V14_PART_DRV_FEATURES, 0, sel, 8 * s->ndrv)) != NULL) {
		for (i = 0; i < s->ndrv; i++)
			put_le64(v + 8 * i, s->drv_features[i]);
	}
	/* Registers in offset order (the table is). */
	for (r = 0; r < VDS_NREGS; r++) {
		if (!(s->common_present & (1u << r)) || !v14_reg_carried(r))
			continue;
		v14_sel_u32(sel, vds_regs[r].offset);
		if ((v = v14_part_add(&b, V14_PART_PCI_COMMON_CFG, 0, sel,
		    vds_regs[r].width)) != NULL)
			memcpy(v, s->common + vds_regs[r].offset,
			    vds_regs[r].width);
	}
	memset(sel, 0, sizeof(sel));
	if ((s->common_present & (1u << VDS_R_DEVICE_STATUS)) &&
	    (v = v14_part_add(&b, V14_PART_DEVICE_STATUS, 0, sel, 1)) != NULL)
		v[0] = (uint8_t)vds_reg_get(s, VDS_R_DEVICE_STATUS);
	for (i = 0; i < s->nvq; i++) {
		q = &s->vq[i];
		if (!(q->has & VDS_VQ_HAS_CFG))
			continue;
		v14_sel_u16(sel, q->index);
		if ((v = v14_part_add(&b, V14_PART_VQ_CFG, 0, sel,
		    V14_VQ_CFG_LEN)) == NULL)
			continue;
		put_le16(v, q->size);
		put_le16(v + 2, q->msix);
		put_le16(v + 4, q->enabled);
		put_le64(v + 8, q->desc);
		put_le64(v + 16, q->driver);
		put_le64(v + 24, q->device);
	}
	for (i = 0; i < s->nvq; i++) {
		q = &s->vq[i];
		if (!(q->has & VDS_VQ_HAS_NOTIFY))
			continue;
		v14_sel_u16(sel, q->index);
		if ((v = v14_part_add(&b, V14_PART_VQ_NOTIFY_CFG, 0, sel,
		    V14_VQ_NOTIFY_LEN)) == NULL)
			continue;
		put_le16(v, q->notify_off);
		put_le16(v + 2, q->notif_data);
	}
	if (s->have & VDS_H_NET)
		net_parts(&b, &s->net);
	for (i = 0; i < s->nvendor; i++) {
		v14_sel_u32(sel, s->vendor[i].vendor);
		if ((v = v14_part_add(&b, V14_PART_VENDOR, (s->vendor[i].flags &
		    VDS_F_OPTIONAL) ? V14_PART_F_OPTIONAL : 0, sel,
		    s->vendor[i].len)) != NULL && s->vendor[i].len > 0)
			memcpy(v, s->vendor[i].p, s->vendor[i].len);
	}
	if (b.len > V14_MAX_BYTES)
		return (va_err(err, errlen, -E2BIG, "device parts of %zu bytes "
		    "exceed %u", b.len, V14_MAX_BYTES));
	if (b.overflow)
		return (va_err(err, errlen, -ENOSPC, "device parts of %zu "
		    "bytes do not fit in %zu", b.len, cap));
	(void)base;	/* nothing v1.4 needs is provisioned */
	return ((long)b.len);
}

static const uint8_t v14_carry[VA_CI_N] = {
	[VA_CI_DEVICE_FEATURES] = VA_C_VERIFIED,
	[VA_CI_DRIVER_FEATURES] = VA_C_CARRIED,
	[VA_CI_COMMON] = VA_C_CARRIED,
	[VA_CI_DEVICE_STATUS] = VA_C_CARRIED,
	/* not a device part: the destination VF is provisioned alike */
	[VA_CI_DEVICE_CONFIG] = VA_C_PROVISIONED,
	[VA_CI_VQ] = VA_C_CARRIED,
	[VA_CI_VQ_NOTIFY] = VA_C_CARRIED,
	[VA_CI_VQ_AVAIL] = VA_C_RING,
	[VA_CI_VQ_OWN] = VA_C_NONE,
	[VA_CI_NET] = VA_C_CARRIED,
	[VA_CI_VENDOR] = VA_C_CARRIED,
};

const struct va_dialect va_dialect_v14 = {
	.id = VA_DIALECT_V14,
	.name = "v14",
	.iface = "virtio-admin/v1.4",
	.origin = "virtio 1.4 device parts (virtio-v1.4-cs01; Linux 6.13 "
	    "virtio-vfio-pci)",
	.framing = VA_FRAME_ADMIN,
	.ops = v14_optab,
	.nops = V14_NOPS,
	.mode_names = v14_modes,
	.nmodes = 2,
	.mode_vmig = v14_vmig,
	.mode_device = v14_mode_device,
	.mode_next = v14_mode_next,
	.vmig_modes = VMIG_MODE_BIT(VMIG_MODE_ACTIVE) |
	    VMIG_MODE_BIT(VMIG_MODE_STOPPED) | VMIG_MODE_BIT(VMIG_MODE_FROZEN),
	.dirty_kinds = 1u << VMIG_DIRTY_NONE,
	.ops_steps = v14_steps,
	.to_canon = v14_to_canon,
	.from_canon = v14_from_canon,
	.carry = v14_carry,
	.need = v14_need,
	.nneed = nitems(v14_need),
	.mode_cmd = v14_mode_cmd,
};
