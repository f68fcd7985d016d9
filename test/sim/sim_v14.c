/*
 * sim_v14.c: virtio 1.4 device parts, device side (v14.h; README.md of
 * the plugin has our choices): the device-parts capability, resource
 * objects (one id space for the PF), METADATA_GET, GET, SET, and
 * DEV_MODE_SET with its two modes. No dirty tracking: a 1.4 device has
 * none.
 *
 * The device side is written apart from the driver's converters
 * (dialect_*.c) on purpose: two implementations of one layout, and the
 * round trips through both are the test.
 *
 * The parts image is a pure function of struct sim_devstate, built in the
 * order the spec requires, so a SET of a GET reads back byte for byte. A
 * SET applies to a copy of the state and swaps only when every part was
 * accepted. A SET may carry any subset of parts; what it omits keeps its
 * value, except that any net control part replaces the whole net control
 * state (RX flags, MAC table, VLAN table; the MAC only if given).
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "util.h"
#include "sim.h"

#define req_fail	sim_req_fail

/* ------------------------------------------------------ the image */

static void
add_reg(struct v14_pbuf *b, const struct sim_devstate *st, int r)
{
	uint8_t	sel[8], *v;

	v14_sel_u32(sel, vds_regs[r].offset);
	if ((v = v14_part_add(b, V14_PART_PCI_COMMON_CFG, 0, sel,
	    vds_regs[r].width)) != NULL)
		memcpy(v, st->common + vds_regs[r].offset, vds_regs[r].width);
}

static void
add_net(struct v14_pbuf *b, const struct sim_cvq *n)
{
	uint8_t		 sel[8], *v;
	uint32_t	 k, vid;

	for (k = 0; k < V14_NET_RX_CMDS; k++) {
		v14_sel_net(sel, V14_NET_CLASS_RX, (uint8_t)k);
		if ((v = v14_part_add(b, V14_PART_NET_CVQ, 0, sel, 1)) != NULL)
			v[0] = (n->rx_mode >> k) & 1;
	}
	v14_sel_net(sel, V14_NET_CLASS_MAC, V14_NET_MAC_TABLE_SET);
	if ((v = v14_part_add(b, V14_PART_NET_CVQ, 0, sel,
	    8 + 6 * (n->uc + n->mc))) != NULL) {
		put_le32(v, n->uc);
		memcpy(v + 4, n->macs, 6 * (size_t)n->uc);
		put_le32(v + 4 + 6 * n->uc, n->mc);
		memcpy(v + 8 + 6 * n->uc, n->macs[n->uc], 6 * (size_t)n->mc);
	}
	v14_sel_net(sel, V14_NET_CLASS_MAC, V14_NET_MAC_ADDR_SET);
	if ((v = v14_part_add(b, V14_PART_NET_CVQ, 0, sel, 6)) != NULL)
		memcpy(v, n->mac, 6);
	v14_sel_net(sel, V14_NET_CLASS_VLAN, V14_NET_VLAN_ADD);
	for (vid = 0; vid < 4096; vid++) {
		if ((n->vlan[vid / 8] >> (vid % 8)) & 1 &&
		    (v = v14_part_add(b, V14_PART_NET_CVQ, 0, sel, 2)) != NULL)
			put_le16(v, (uint16_t)vid);
	}
}

/* DEV_PARTS_GET ALL: every part, in the order the spec requires. */
long
sim_v14_build(struct sim *sim, struct sim_vf *vf, uint8_t *buf, size_t cap)
{
	const struct sim_devstate *st = &vf->st;
	struct v14_pbuf	 b;
	uint8_t		 sel[8], *v;
	unsigned int	 i;

	v14_pbuf_init(&b, buf, cap);
	memset(sel, 0, sizeof(sel));
	if ((v = v14_part_add(&b, V14_PART_DEV_FEATURES, V14_PART_F_OPTIONAL,
	    sel, 16)) != NULL) {
		put_le64(v, st->features[0]);
		put_le64(v + 8, st->features[1]);
	}
	if ((v = v14_part_add(&b, V14_PART_DRV_FEATURES, 0, sel, 16)) != NULL) {
		put_le64(v, st->drv_features[0]);
		put_le64(v + 8, st->drv_features[1]);
	}
	/* The driver-written registers and num_queues; the rest is a
	 * window of the features or of the selected queue. */
	add_reg(&b, st, VDS_R_DEVICE_FEATURE_SELECT);
	add_reg(&b, st, VDS_R_DRIVER_FEATURE_SELECT);
	add_reg(&b, st, VDS_R_CONFIG_MSIX_VECTOR);
	add_reg(&b, st, VDS_R_NUM_QUEUES);
	add_reg(&b, st, VDS_R_QUEUE_SELECT);
	if ((v = v14_part_add(&b, V14_PART_DEVICE_STATUS, 0, sel, 1)) != NULL)
		v[0] = st->common[VA_COMMON_DEVICE_STATUS];
	for (i = 0; i < SIM_NUM_VQS; i++) {
		v14_sel_u16(sel, (uint16_t)i);
		if ((v = v14_part_add(&b, V14_PART_VQ_CFG, 0, sel,
		    V14_VQ_CFG_LEN)) == NULL)
			continue;
		put_le16(v, st->vq[i].size);
		put_le16(v + 2, st->vq[i].msix);
		put_le16(v + 4, st->vq[i].enabled);
		put_le64(v + 8, st->vq[i].desc);
		put_le64(v + 16, st->vq[i].driver);
		put_le64(v + 24, st->vq[i].device);
	}
	for (i = 0; i < SIM_NUM_VQS; i++) {
		v14_sel_u16(sel, (uint16_t)i);
		if ((v = v14_part_add(&b, V14_PART_VQ_NOTIFY_CFG, 0, sel,
		    V14_VQ_NOTIFY_LEN)) == NULL)
			continue;
		put_le16(v, st->vq[i].notify_off);
		put_le16(v + 2, st->vq[i].notif_data);
	}
	add_net(&b, &st->cvq);
	/* 1.4 has no vendor range: ours, optional (README.md). */
	v14_sel_u32(sel, VDS_VENDOR_SIM_DMA);
	if ((v = v14_part_add(&b, V14_PART_VENDOR, V14_PART_F_OPTIONAL, sel,
	    VA_CTX_SIM_DMA_LEN)) != NULL)
		sim_dma_ctx_put(&st->dma, v);
	(void)sim;
	if (b.overflow)
		return (-ENOSPC);
	return ((long)b.len);
}

/* ------------------------------------------------------- applying */

static int
apply_net(struct sim_cvq *n, const struct v14_part *pt, char *err,
    size_t errlen)
{
	const uint8_t	*v = pt->value;
	uint32_t	 uc, mc;
	uint16_t	 vid;

	switch (pt->sel[0]) {
	case V14_NET_CLASS_RX:
		if (v[0])
			n->rx_mode |= (uint16_t)(1u << pt->sel[1]);
		return (0);
	case V14_NET_CLASS_MAC:
		if (pt->sel[1] == V14_NET_MAC_ADDR_SET) {
			memcpy(n->mac, v, 6);
			return (0);
		}
		uc = get_le32(v);
		mc = get_le32(v + 4 + 6 * uc);
		n->uc = uc;
		n->mc = mc;
		memset(n->macs, 0, sizeof(n->macs));
		memcpy(n->macs, v + 4, 6 * (size_t)uc);
		memcpy(n->macs[uc], v + 8 + 6 * uc, 6 * (size_t)mc);
		return (0);
	case V14_NET_CLASS_VLAN:
		vid = get_le16(v);
		n->vlan[vid / 8] |= (uint8_t)(1u << (vid % 8));
		return (0);
	}
	return (0);
}

static int
apply_part(struct sim_devstate *ns, const struct sim_devstate *cur,
    const struct v14_part *pt, int *net_seen, char *err, size_t errlen)
{
	const uint8_t	*v = pt->value;
	uint16_t	 q;
	int		 r;

	switch (pt->type) {
	case V14_PART_DEV_FEATURES:
		/* Verified, not set: the VF's features are what it is. */
		if (pt->length != 16 || get_le64(v) != cur->features[0] ||
		    get_le64(v + 8) != cur->features[1])
			return (va_err(err, errlen, -EINVAL, "device features "
			    "%#llx do not match this VF's %#llx",
			    (unsigned long long)get_le64(v),
			    (unsigned long long)cur->features[0]));
		return (0);
	case V14_PART_DRV_FEATURES:
		if (pt->length > 16 || (get_le64(v) & ~cur->features[0]) ||
		    (pt->length == 16 && (get_le64(v + 8) &
		    ~cur->features[1])))
			return (va_err(err, errlen, -EINVAL, "driver features "
			    "%#llx are not a subset of the device's %#llx",
			    (unsigned long long)get_le64(v),
			    (unsigned long long)cur->features[0]));
		ns->drv_features[0] = get_le64(v);
		ns->drv_features[1] = pt->length == 16 ? get_le64(v + 8) : 0;
		return (0);
	case V14_PART_PCI_COMMON_CFG:
		r = vds_reg_at(get_le32(pt->sel));
		if (r == VDS_R_NUM_QUEUES) {
			if (get_le16(v) != SIM_NUM_VQS)
				return (va_err(err, errlen, -EINVAL,
				    "num_queues %u, this VF has %u",
				    get_le16(v), SIM_NUM_VQS));
			return (0);
		}
		if (vds_regs[r].class != VDS_RC_STATE)
			return (va_err(err, errlen, -EINVAL, "%s (offset %u) "
			    "is not a register a driver writes",
			    vds_regs[r].name, vds_regs[r].offset));
		memcpy(ns->common + vds_regs[r].offset, v, pt->length);
		return (0);
	case V14_PART_DEVICE_STATUS:
		ns->common[VA_COMMON_DEVICE_STATUS] = v[0];
		return (0);
	case V14_PART_VQ_CFG:
	case V14_PART_VQ_NOTIFY_CFG:
		if ((q = get_le16(pt->sel)) >= SIM_NUM_VQS)
			return (va_err(err, errlen, -EINVAL, "queue %u, this "
			    "VF has %u", q, SIM_NUM_VQS));
		if (pt->type == V14_PART_VQ_NOTIFY_CFG) {
			ns->vq[q].notify_off = get_le16(v);
			ns->vq[q].notif_data = get_le16(v + 2);
			return (0);
		}
		if (get_le16(v) > SIM_VQ_SIZE)
			return (va_err(err, errlen, -EINVAL, "queue %u: size "
			    "%u exceeds %u", q, get_le16(v), SIM_VQ_SIZE));
		ns->vq[q].size = get_le16(v);
		ns->vq[q].msix = get_le16(v + 2);
		ns->vq[q].enabled = (uint8_t)get_le16(v + 4);
		ns->vq[q].desc = get_le64(v + 8);
		ns->vq[q].driver = get_le64(v + 16);
		ns->vq[q].device = get_le64(v + 24);
		return (0);
	case V14_PART_NET_CVQ:
		if (!v14_net_known(pt->sel))
			return (0);	/* optional: the iterator checked */
		if (!*net_seen) {
			/* The net control state travels whole. */
			ns->cvq.rx_mode = 0;
			ns->cvq.uc = ns->cvq.mc = 0;
			memset(ns->cvq.vlan, 0, sizeof(ns->cvq.vlan));
			memset(ns->cvq.macs, 0, sizeof(ns->cvq.macs));
			*net_seen = 1;
		}
		return (apply_net(&ns->cvq, pt, err, errlen));
	case V14_PART_VENDOR:
		if (get_le32(pt->sel) == VDS_VENDOR_SIM_DMA &&
		    pt->length == VA_CTX_SIM_DMA_LEN)
			return (sim_dma_ctx_get(&ns->dma, v, err, errlen));
		if (pt->flags & V14_PART_F_OPTIONAL)
			return (0);
		return (va_err(err, errlen, -EINVAL, "vendor part %#x of %u "
		    "bytes is not ours", get_le32(pt->sel), pt->length));
	}
	return (0);	/* an unknown optional part: skipped */
}

int
sim_v14_apply(struct sim *sim, struct sim_vf *vf, const uint8_t *buf,
    size_t len, char *err, size_t errlen)
{
	struct sim_devstate *ns;
	struct v14_iter	 it;
	struct v14_part	 pt;
	char		 why[200];
	int		 rc, net = 0;

	v14_iter_init(&it, buf, len);
	ns = xmalloc(sizeof(*ns));
	*ns = vf->st;
	while ((rc = v14_iter_next(&it, &pt, err, errlen)) == 1) {
		if (pt.known && (rc = apply_part(ns, &vf->st, &pt, &net, why,
		    sizeof(why))) != 0) {
			snprintf(err, errlen, "part %u (%s): %s", pt.index,
			    v14_part_name(pt.type), why);
			break;
		}
	}
	if (rc == 0)
		vf->st = *ns;
	free(ns);
	(void)sim;
	return (rc);
}

/* ------------------------------------------------------ commands */

static uint16_t
cmd_cap_list(struct sim_req *r)
{
	r->rlen = 8;
	put_le64(r->res, 1ULL << V14_CAP_DEV_PARTS);
	return (VA_STATUS_OK);
}

static uint16_t
cmd_cap_get(struct sim_req *r)
{
	uint16_t	id = get_le16(r->data);

	if (id != V14_CAP_DEV_PARTS)
		return (req_fail(r, VA_STATUS_ENXIO, VA_Q_INVALID_FIELD,
		    "no capability %#x", id));
	r->res[0] = (uint8_t)r->sim->o.parts_objs;
	r->res[1] = (uint8_t)r->sim->o.parts_objs;
	r->rlen = V14_CAP_DEV_PARTS_LEN;
	return (VA_STATUS_OK);
}

static unsigned int
objects(const struct sim *sim)
{
	unsigned int	i, n = 0;

	for (i = 0; i < SIM_MAX_OBJS; i++)
		n += sim->objs[i].used;
	return (n);
}

static uint16_t
cmd_cap_set(struct sim_req *r)
{
	struct sim	*sim = r->sim;
	uint16_t	 id;
	uint8_t		 get, set;
	char		 why[160];

	if (v14_cap_set_get(r->data, r->dlen, &id, &get, &set, why,
	    sizeof(why)) != 0)
		return (req_fail(r, VA_STATUS_EINVAL, VA_Q_INVALID_FIELD, "%s",
		    why));
	if (id != V14_CAP_DEV_PARTS)
		return (req_fail(r, VA_STATUS_ENXIO, VA_Q_INVALID_FIELD,
		    "no capability %#x", id));
	if (get > sim->o.parts_objs || set > sim->o.parts_objs)
		return (req_fail(r, VA_STATUS_EINVAL, VA_Q_INVALID_FIELD,
		    "limits %u/%u exceed the device's %u", get, set,
		    sim->o.parts_objs));
	if (objects(sim) > 0)
		return (req_fail(r, VA_STATUS_EBUSY, VA_Q_INVALID_COMMAND,
		    "%u device-parts objects exist", objects(sim)));
	sim->drv_get_objs = get;
	sim->drv_set_objs = set;
	sim->caps_set = 1;
	return (VA_STATUS_OK);
}

static struct sim_obj *
obj_find(struct sim *sim, uint32_t id)
{
	unsigned int	i;

	for (i = 0; i < SIM_MAX_OBJS; i++) {
		if (sim->objs[i].used && sim->objs[i].id == id)
			return (&sim->objs[i]);
	}
	return (NULL);
}

/* The object a command names: it exists, it is this VF's, its type. */
static struct sim_obj *
obj_of(struct sim_req *r, uint32_t id, int type, uint16_t *status)
{
	struct sim_obj	*o = obj_find(r->sim, id);

	if (o == NULL || o->member != r->vf->id) {
		*status = req_fail(r, VA_STATUS_ENXIO, VA_Q_INVALID_FIELD,
		    "no device-parts object %u on this VF", id);
		return (NULL);
	}
	if (type >= 0 && o->type != type) {
		*status = req_fail(r, VA_STATUS_EINVAL, VA_Q_INVALID_FIELD,
		    "object %u is a %s object", id, o->type ==
		    V14_PARTS_OBJ_GET ? "GET" : "SET");
		return (NULL);
	}
	return (o);
}

static uint16_t
cmd_obj_create(struct sim_req *r)
{
	struct sim	*sim = r->sim;
	unsigned int	 i, n = 0, lim;
	uint32_t	 id;
	uint8_t		 type;
	char		 why[160];

	if (!sim->caps_set)
		return (req_fail(r, VA_STATUS_EINVAL, VA_Q_INVALID_COMMAND,
		    "DRIVER_CAP_SET must come first"));
	if (v14_obj_create_get(r->data, r->dlen, &id, &type, why,
	    sizeof(why)) != 0)
		return (req_fail(r, VA_STATUS_EINVAL, VA_Q_INVALID_FIELD, "%s",
		    why));
	lim = type == V14_PARTS_OBJ_GET ? sim->drv_get_objs :
	    sim->drv_set_objs;
	if (id >= MAX(sim->drv_get_objs, sim->drv_set_objs))
		return (req_fail(r, VA_STATUS_EINVAL, VA_Q_INVALID_FIELD,
		    "object id %u past the limit %u", id,
		    MAX(sim->drv_get_objs, sim->drv_set_objs)));
	if (obj_find(sim, id) != NULL)
		return (req_fail(r, VA_STATUS_EEXIST, VA_Q_INVALID_FIELD,
		    "object %u exists", id));
	for (i = 0; i < SIM_MAX_OBJS; i++)
		n += sim->objs[i].used && sim->objs[i].type == type;
	if (n >= lim)
		return (req_fail(r, VA_STATUS_ENOSPC, VA_Q_NORESOURCE,
		    "%u %s objects, the limit", n, type == V14_PARTS_OBJ_GET ?
		    "GET" : "SET"));
	for (i = 0; i < SIM_MAX_OBJS && sim->objs[i].used; i++)
		;
	sim->objs[i].used = 1;
	sim->objs[i].id = id;
	sim->objs[i].member = r->vf->id;
	sim->objs[i].type = type;
	return (VA_STATUS_OK);
}

static uint16_t
cmd_obj_destroy(struct sim_req *r)
{
	struct sim_obj	*o;
	uint32_t	 id;
	uint16_t	 type, status;
	char		 why[160];

	if (v14_obj_hdr_get(r->data, r->dlen, &type, &id, why,
	    sizeof(why)) != 0 || type != V14_OBJ_DEV_PARTS)
		return (req_fail(r, VA_STATUS_EINVAL, VA_Q_INVALID_FIELD,
		    "bad object header (%s)", type != V14_OBJ_DEV_PARTS ?
		    "not device parts" : why));
	if ((o = obj_of(r, id, -1, &status)) == NULL)
		return (status);
	memset(o, 0, sizeof(*o));
	return (VA_STATUS_OK);
}

/* The parts image, in a buffer of its own (freed by the caller). */
static uint8_t *
image(struct sim *sim, struct sim_vf *vf, size_t *len)
{
	uint8_t	*buf;
	long	 n;

	n = sim_v14_build(sim, vf, NULL, 0);
	buf = xmalloc((size_t)n);
	*len = (size_t)sim_v14_build(sim, vf, buf, (size_t)n);
	return (buf);
}

static uint16_t
cmd_metadata(struct sim_req *r)
{
	struct v14_iter	 it;
	struct v14_part	 pt;
	uint8_t		*buf;
	size_t		 len;
	uint32_t	 id, count = 0;
	uint16_t	 status;
	uint8_t		 type;
	char		 why[160];

	if (v14_meta_get(r->data, r->dlen, &id, &type, why, sizeof(why)) != 0)
		return (req_fail(r, VA_STATUS_EINVAL, VA_Q_INVALID_FIELD, "%s",
		    why));
	if (obj_of(r, id, V14_PARTS_OBJ_GET, &status) == NULL)
		return (status);
	buf = image(r->sim, r->vf, &len);
	v14_iter_init(&it, buf, len);
	while (v14_iter_next(&it, &pt, why, sizeof(why)) == 1) {
		if (type == V14_META_LIST && r->rcap >= V14_META_RES_LEN +
		    (count + 1) * (size_t)V14_PART_HDR_LEN)
			memcpy(r->res + V14_META_RES_LEN + count *
			    V14_PART_HDR_LEN, buf + pt.offset,
			    V14_PART_HDR_LEN);
		count++;
	}
	free(buf);
	if (type == V14_META_LIST && r->rcap < V14_META_RES_LEN +
	    count * (size_t)V14_PART_HDR_LEN)
		return (req_fail(r, VA_STATUS_ENOMEM, VA_Q_NORESOURCE,
		    "%u part headers do not fit %zu bytes", count, r->rcap));
	memset(r->res, 0, V14_META_RES_LEN);
	put_le32(r->res, type == V14_META_SIZE ? (uint32_t)len : count);
	r->rlen = V14_META_RES_LEN + (type == V14_META_LIST ?
	    count * (size_t)V14_PART_HDR_LEN : 0);
	return (VA_STATUS_OK);
}

/* GET_TYPE_SELECTED: does this part match one of the wanted headers? */
static int
wanted(const struct v14_part *pt, const uint8_t *hdrs, size_t n)
{
	size_t	k;

	for (k = 0; k < n; k++) {
		if (get_le16(hdrs + k * V14_PART_HDR_LEN) == pt->type &&
		    memcmp(hdrs + k * V14_PART_HDR_LEN + 4, pt->sel, 8) == 0)
			return (1);
	}
	return (0);
}

static uint16_t
cmd_parts_get(struct sim_req *r)
{
	struct v14_iter	 it;
	struct v14_part	 pt;
	const uint8_t	*hdrs;
	uint8_t		*buf;
	size_t		 len, nh, out = 0, one;
	uint32_t	 id;
	uint16_t	 status;
	uint8_t		 type;
	char		 why[160];

	if (v14_get_get(r->data, r->dlen, &id, &type, &hdrs, &nh, why,
	    sizeof(why)) != 0)
		return (req_fail(r, VA_STATUS_EINVAL, VA_Q_INVALID_FIELD, "%s",
		    why));
	if (obj_of(r, id, V14_PARTS_OBJ_GET, &status) == NULL)
		return (status);
	buf = image(r->sim, r->vf, &len);
	v14_iter_init(&it, buf, len);
	while (v14_iter_next(&it, &pt, why, sizeof(why)) == 1) {
		/* Parts that do not exist are skipped, silently. */
		if (type == V14_GET_SELECTED && !wanted(&pt, hdrs, nh))
			continue;
		one = V14_PART_HDR_LEN + pt.length;
		if (out + one > r->rcap) {
			free(buf);
			return (req_fail(r, VA_STATUS_ENOMEM,
			    VA_Q_NORESOURCE, "the parts need more than the "
			    "%zu-byte result", r->rcap));
		}
		memcpy(r->res + out, buf + pt.offset, one);
		out += one;
	}
	free(buf);
	r->rlen = out;
	return (VA_STATUS_OK);
}

static uint16_t
cmd_parts_set(struct sim_req *r)
{
	uint32_t	 id;
	uint16_t	 type, status;
	char		 why[200];

	if (v14_obj_hdr_get(r->data, r->dlen, &type, &id, why,
	    sizeof(why)) != 0 || type != V14_OBJ_DEV_PARTS)
		return (req_fail(r, VA_STATUS_EINVAL, VA_Q_INVALID_FIELD,
		    "bad object header"));
	if (obj_of(r, id, V14_PARTS_OBJ_SET, &status) == NULL)
		return (status);
	if (r->vf->mode != r->sim->dl->stopped)
		return (req_fail(r, VA_STATUS_EINVAL, VA_Q_INVALID_COMMAND,
		    "parts set while running: stop the VF first"));
	if (sim_v14_apply(r->sim, r->vf, r->data + V14_OBJ_HDR_LEN,
	    r->dlen - V14_OBJ_HDR_LEN, why, sizeof(why)) != 0)
		return (req_fail(r, VA_STATUS_EINVAL, VA_Q_INVALID_FIELD,
		    "parts refused, VF state unchanged: %s", why));
	log_info("%s: vf%u: device parts set", __func__, r->vf->id);
	return (VA_STATUS_OK);
}

static uint16_t
cmd_mode_set(struct sim_req *r)
{
	char	why[160];
	int	stopped;

	if (v14_mode_get(r->data, r->dlen, &stopped, why, sizeof(why)) != 0)
		return (req_fail(r, VA_STATUS_EINVAL, VA_Q_INVALID_FIELD, "%s",
		    why));
	if (sim_vf_set_mode(r->sim, r->vf, (uint8_t)(stopped ?
	    r->sim->dl->stopped : r->sim->dl->active), why, sizeof(why)) != 0)
		return (req_fail(r, VA_STATUS_EINVAL, VA_Q_INVALID_COMMAND,
		    "%s", why));
	return (VA_STATUS_OK);
}

static const struct sim_handler v14_fns[] = {
	{ VA_OP_LIST_QUERY, sim_cmd_list_query },
	{ VA_OP_LIST_USE, sim_cmd_list_use },
	{ V14_OP_CAP_ID_LIST_QUERY, cmd_cap_list },
	{ V14_OP_DEVICE_CAP_GET, cmd_cap_get },
	{ V14_OP_DRIVER_CAP_SET, cmd_cap_set },
	{ V14_OP_RESOURCE_OBJ_CREATE, cmd_obj_create },
	{ V14_OP_RESOURCE_OBJ_DESTROY, cmd_obj_destroy },
	{ V14_OP_DEV_PARTS_METADATA_GET, cmd_metadata },
	{ V14_OP_DEV_PARTS_GET, cmd_parts_get },
	{ V14_OP_DEV_PARTS_SET, cmd_parts_set },
	{ V14_OP_DEV_MODE_SET, cmd_mode_set },
};

/* A driver that goes away takes its capabilities and objects along. */
static void
v14_reset(struct sim *sim)
{
	memset(sim->objs, 0, sizeof(sim->objs));
	sim->caps_set = 0;
	sim->drv_get_objs = sim->drv_set_objs = 0;
}

/*
 * Leaving a mode ends a parts read or write; a stopped device has
 * written every buffer it saw back.
 */
static void
v14_mode_set(struct sim_vf *vf, int mode)
{
	int	q;

	sim_vf_drop_sessions(vf);
	if (mode == 1) {
		for (q = 0; q < SIM_NUM_VQS; q++)
			vf->st.vq[q].nown = 0;
	}
}

/* Running and stopped, either way, idempotent. */
static const uint8_t v14_mode_ok[4][4] = {
	{ 1, 1 },
	{ 1, 1 },
};

const struct sim_dialect sim_v14 = {
	.d = &va_dialect_v14,
	.fns = v14_fns,
	.nfns = nitems(v14_fns),
	.active = 0,
	.stopped = 1,
	.frozen = -1,
	.mode_ok = v14_mode_ok,
	.mode_hint = "1.4 has running and stopped only",
	.frame_check = sim_admin_frame_check,
	.exec = sim_admin_exec,
	.status = sim_admin_status,
	.key = sim_admin_key,
	.image = sim_v14_build,
	.reset = v14_reset,
	.mode_set = v14_mode_set,
};
