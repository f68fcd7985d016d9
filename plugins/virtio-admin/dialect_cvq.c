/*
 * dialect_cvq.c: the control-virtqueue proposal as a dialect (dialect.h):
 * INIT / RUNNING / QUIESCED / FREEZED, state saved and restored in
 * portions at offsets, dirty pages pulled as a bitmap or bytemap (or
 * pushed into a map the core keeps in shared memory), and our state
 * portions <-> the canonical state.
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "util.h"
#include "cvq.h"
#include "devctx.h"
#include "dialect.h"
#include "writerec.h"

static const char *const cvq_modes[CVQ_S_N] = {
	"init", "running", "quiesced", "freezed",
};
/* INIT (after an FLR) does no DMA and cannot be asked for: STOPPED. */
static const uint8_t cvq_vmig[CVQ_S_N] = {
	VMIG_MODE_STOPPED, VMIG_MODE_ACTIVE, VMIG_MODE_STOPPED,
	VMIG_MODE_FROZEN,
};

static int
cvq_mode_device(enum vmig_mode m)
{
	switch (m) {
	case VMIG_MODE_ACTIVE:
		return (CVQ_S_RUNNING);
	case VMIG_MODE_STOPPED:
		return (CVQ_S_QUIESCED);
	case VMIG_MODE_FROZEN:
		return (CVQ_S_FREEZED);
	default:
		return (-1);
	}
}

/*
 * The proposal's state machine: RUN and FREEZE leave INIT; QUIESCE and
 * RUN go between RUNNING and QUIESCED; FREEZE and QUIESCE ("unfreeze")
 * between QUIESCED and FREEZED. INIT is entered by an FLR only.
 */
static const int8_t cvq_next[CVQ_S_N][CVQ_S_N] = {
	/* to:	init	running		quiesced	freezed */
	[CVQ_S_INIT] = { -1, CVQ_S_RUNNING, CVQ_S_FREEZED, CVQ_S_FREEZED },
	[CVQ_S_RUNNING] = { -1, CVQ_S_RUNNING, CVQ_S_QUIESCED,
	    CVQ_S_QUIESCED },
	[CVQ_S_QUIESCED] = { -1, CVQ_S_RUNNING, CVQ_S_QUIESCED,
	    CVQ_S_FREEZED },
	[CVQ_S_FREEZED] = { -1, CVQ_S_QUIESCED, CVQ_S_QUIESCED,
	    CVQ_S_FREEZED },
};

static int
cvq_mode_next(int cur, int target)
{
	if (cur < 0 || cur >= CVQ_S_N || target < 0 || target >= CVQ_S_N)
		return (-1);
	return (cvq_next[cur][target]);
}

/* ---------------------------------------------------------- operations */

static uint16_t
func(const struct va_dop *op)
{
	return ((uint16_t)op->vf->member);
}

static int
b_identify(struct va_dop *op, struct va_dcmd *c, char *err, size_t errlen)
{
	c->opcode = CVQ_OP_IDENTIFY;
	c->group = 0;
	c->member = 0;
	c->result_cap = CVQ_IDENTIFY_LEN;
	return (0);
}

static int
p_identify(struct va_dop *op, const struct va_dres *r, char *err,
    size_t errlen)
{
	struct va_dpf	*pf = op->pf;
	int		 rc;

	if ((rc = cvq_identify_get(r->result, r->result_len, pf->cvq_version,
	    &pf->cvq_modes, &pf->cvq_log_bitmap, &pf->cvq_log_bytemap, err,
	    errlen)) != 0)
		return (rc);
	return (VA_STEP_DONE);
}

/* The tracking mode we use: pull before push (no shared map to keep),
 * bitmap before bytemap (an eighth of the bytes). */
static int
best_track(uint16_t caps)
{
	if (caps & CVQ_CAP_PULL_BITMAP)
		return (CVQ_TRACK_PULL_BITMAP);
	if (caps & CVQ_CAP_PULL_BYTEMAP)
		return (CVQ_TRACK_PULL_BYTEMAP);
	if (caps & CVQ_CAP_PUSH_BITMAP)
		return (CVQ_TRACK_PUSH_BITMAP);
	if (caps & CVQ_CAP_PUSH_BYTEMAP)
		return (CVQ_TRACK_PUSH_BYTEMAP);
	return (0);
}

static const uint32_t track_kind[] = {
	[CVQ_TRACK_PUSH_BITMAP] = VMIG_DIRTY_BITMAP_PUSH,
	[CVQ_TRACK_PUSH_BYTEMAP] = VMIG_DIRTY_BYTEMAP_PUSH,
	[CVQ_TRACK_PULL_BITMAP] = VMIG_DIRTY_BITMAP_PULL,
	[CVQ_TRACK_PULL_BYTEMAP] = VMIG_DIRTY_BYTEMAP_PULL,
};

static int
b_attrs(struct va_dop *op, struct va_dcmd *c, char *err, size_t errlen)
{
	c->opcode = CVQ_OP_GET_STATE_ATTRS;
	c->data_len = cvq_func_put(c->data, func(op));
	c->result_cap = CVQ_ATTRS_LEN;
	return (0);
}

static int
p_attrs(struct va_dop *op, const struct va_dres *r, char *err, size_t errlen)
{
	uint32_t	size;
	uint16_t	state;
	int		rc;

	if ((rc = cvq_attrs_get(r->result, r->result_len, &size, &state, err,
	    errlen)) != 0)
		return (rc);
	op->vf->mode = state;
	op->mode = cvq_vmig[state];
	op->total = size;
	op->size = size;
	return (VA_STEP_NEXT);
}

static int
p_probe(struct va_dop *op, const struct va_dres *r, char *err,
    size_t errlen)
{
	struct vmig_dev_caps *caps = &op->vf->caps;
	int		 rc, t;

	if ((rc = p_attrs(op, r, err, errlen)) < 0)
		return (rc);
	snprintf(caps->interface, sizeof(caps->interface), "%s",
	    op->d->iface);
	caps->modes = op->d->vmig_modes;
	/* SAVE_STATE only while FREEZED: no state pre-copy. */
	caps->flags = VMIG_CAP_STATE_CHUNKED | VMIG_CAP_STATE_DISCARD;
	caps->state_max_bytes = CVQ_ST_MAX_BYTES;
	t = best_track(op->pf->cvq_modes);
	caps->dirty_kind = t != 0 ? track_kind[t] : VMIG_DIRTY_NONE;
	caps->dirty_max_ranges = VA_DVF_MAX_RANGES;
	caps->dirty_page_sizes = 1;	/* 4 KiB only */
	return (VA_STEP_DONE);
}

static int
b_learn_mode(struct va_dop *op, struct va_dcmd *c, char *err, size_t errlen)
{
	if (op->vf->mode >= 0)
		return (VA_STEP_NEXT);
	return (b_attrs(op, c, err, errlen));
}

static void
cvq_mode_cmd(struct va_dop *op, struct va_dcmd *c, int next)
{
	c->opcode = CVQ_OP_SET_STATE;
	c->data_len = cvq_set_state_put(c->data, func(op), (uint16_t)next);
}

static void
cvq_fail(struct va_dop *op, int rc)
{
	if (op->kind == VA_DOP_SET_MODE || op->kind == VA_DOP_GET_MODE)
		op->vf->mode = -1;
}

static int
p_size(struct va_dop *op, const struct va_dres *r, char *err, size_t errlen)
{
	int	rc;

	if ((rc = p_attrs(op, r, err, errlen)) < 0)
		return (rc);
	return (VA_STEP_DONE);
}

static int
p_save_attrs(struct va_dop *op, const struct va_dres *r, char *err,
    size_t errlen)
{
	int	rc;

	if ((rc = p_attrs(op, r, err, errlen)) < 0)
		return (rc);
	if (op->vf->mode != CVQ_S_FREEZED)
		return (va_err(err, errlen, -EINVAL, "the state can only be "
		    "saved FREEZED (the VF is %s)", cvq_modes[op->vf->mode]));
	if (op->total < CVQ_ST_HDR_LEN || op->total > op->cap)
		return (va_err(err, errlen, op->total > op->cap ? -ENOSPC :
		    -EPROTO, "state of %llu bytes (the buffer holds %zu)",
		    (unsigned long long)op->total, op->cap));
	return (VA_STEP_NEXT);
}

static int
b_save(struct va_dop *op, struct va_dcmd *c, char *err, size_t errlen)
{
	op->cur = MIN(op->total - op->off, op->pf->chunk);
	c->opcode = CVQ_OP_SAVE_STATE;
	c->data_len = cvq_offset_put(c->data, func(op), (uint32_t)op->off);
	c->result_cap = op->cur;
	return (0);
}

static int
p_save(struct va_dop *op, const struct va_dres *r, char *err, size_t errlen)
{
	uint32_t	total;
	char		why[160];

	if (r->result_len > op->cur || r->result_len == 0)
		return (va_err(err, errlen, -EPROTO, "SAVE_STATE at %zu "
		    "returned %zu bytes for %zu", op->off, r->result_len,
		    op->cur));
	memcpy(op->buf + op->off, r->result, r->result_len);
	op->off += r->result_len;
	if (op->off < op->total)
		return (VA_STEP_AGAIN);
	if (cvq_state_peek(op->buf, op->off, &total, why, sizeof(why)) != 1 ||
	    total != op->off)
		return (va_err(err, errlen, -EPROTO, "the saved state is not "
		    "an image of %zu bytes", op->off));
	op->size = op->off;
	return (VA_STEP_DONE);
}

static int
b_restore(struct va_dop *op, struct va_dcmd *c, char *err, size_t errlen)
{
	char	why[200];

	if (op->off == 0 && cvq_state_validate(op->buf, op->len, why,
	    sizeof(why)) != 0)
		return (va_err(err, errlen, -EINVAL, "state image refused "
		    "before sending: %s", why));
	op->cur = MIN(op->len - op->off, op->pf->chunk);
	c->opcode = CVQ_OP_RESTORE_STATE;
	c->data_len = cvq_offset_put(c->data, func(op), (uint32_t)op->off);
	c->tail = op->buf + op->off;
	c->tail_len = op->cur;
	c->critical = 1;
	return (0);
}

static int
p_restore(struct va_dop *op, const struct va_dres *r, char *err,
    size_t errlen)
{
	op->off += op->cur;
	return (op->off < op->len ? VA_STEP_AGAIN : VA_STEP_DONE);
}

static int
b_track_start(struct va_dop *op, struct va_dcmd *c, char *err, size_t errlen)
{
	struct va_dvf	*vf = op->vf;
	uint64_t	 end = 0, pages, off, n;
	int		 mode = op->track_mode != 0 ? op->track_mode :
			    best_track(op->pf->cvq_modes);
	uint32_t	 i;
	uint16_t	 lg;

	if (mode < CVQ_TRACK_PUSH_BITMAP || mode > CVQ_TRACK_PULL_BYTEMAP ||
	    !(op->pf->cvq_modes & (1u << (mode - 1))))
		return (va_err(err, errlen, -EOPNOTSUPP, "tracking mode %d is "
		    "not offered (IDENTIFY modes %#x)", mode,
		    op->pf->cvq_modes));
	if (op->nranges == 0 || op->nranges > VA_DVF_MAX_RANGES)
		return (va_err(err, errlen, -EINVAL, "%u ranges (1..%d)",
		    op->nranges, VA_DVF_MAX_RANGES));
	for (i = 0; i < op->nranges; i++) {
		if (op->ranges[i].length == 0 || op->ranges[i].iova >
		    UINT64_MAX - op->ranges[i].length)
			return (va_err(err, errlen, -EINVAL, "range %u is "
			    "empty or overflows", i));
		end = MAX(end, op->ranges[i].iova + op->ranges[i].length);
	}
	pages = (end + CVQ_PAGE_SIZE - 1) / CVQ_PAGE_SIZE;
	lg = CVQ_TRACK_BYTEMAP(mode) ? op->pf->cvq_log_bytemap :
	    op->pf->cvq_log_bitmap;
	if (!CVQ_TRACK_PUSH(mode) && (lg > 62 || pages > (1ULL << lg)))
		return (va_err(err, errlen, -E2BIG, "IOVA up to %#llx is %llu "
		    "pages; the device tracks 2^%u", (unsigned long long)end,
		    (unsigned long long)pages, lg));
	memcpy(vf->ranges, op->ranges, op->nranges * sizeof(vf->ranges[0]));
	vf->nranges = op->nranges;
	c->opcode = CVQ_OP_START_DIRTY_PAGE_TRACK;
	c->data_len = cvq_start_put(c->data, func(op), (uint16_t)mode);
	if (CVQ_TRACK_PUSH(mode)) {
		cvq_report_span(0, end, CVQ_TRACK_BYTEMAP(mode), &off, &n);
		c->map_len = (size_t)n;
	}
	op->next_mode = (uint8_t)mode;
	return (0);
}

static int
p_track_start(struct va_dop *op, const struct va_dres *r, char *err,
    size_t errlen)
{
	op->vf->track_mode = op->next_mode;
	op->vf->recording = 1;
	return (VA_STEP_DONE);
}

static int
b_report_size(struct va_dop *op, struct va_dcmd *c, char *err,
    size_t errlen)
{
	struct va_dvf	*vf = op->vf;
	char		 why[160];
	int		 rc;

	if (!vf->recording)
		return (va_err(err, errlen, -EINVAL, "dirty tracking is not "
		    "running"));
	if ((rc = va_maps_check(op->maps, op->nmaps, why, sizeof(why))) != 0)
		return (va_err(err, errlen, rc, "%s", why));
	if (CVQ_TRACK_PUSH(vf->track_mode)) {
		if (vf->push_map == NULL)
			return (va_err(err, errlen, -EINVAL, "push tracking "
			    "without the map (the core keeps it)"));
		cvq_push_harvest(vf->push_map, vf->push_len,
		    CVQ_TRACK_BYTEMAP(vf->track_mode), op->maps, op->nmaps,
		    &op->records, &op->pages, &op->outside);
		op->bytes = op->records * CVQ_PAGE_SIZE;
		return (VA_STEP_DONE);
	}
	c->opcode = CVQ_OP_GET_DIRTY_REPORT_SIZE;
	c->data_len = cvq_func_put(c->data, func(op));
	c->result_cap = CVQ_REPORT_SIZE_LEN;
	return (0);
}

static int
p_report_size(struct va_dop *op, const struct va_dres *r, char *err,
    size_t errlen)
{
	uint32_t	len;
	int		rc;

	if ((rc = cvq_u32_get("GET_DIRTY_REPORT_SIZE result", r->result,
	    r->result_len, &len, err, errlen)) != 0)
		return (rc);
	op->total = len;
	op->idx = 0;
	op->sub = 0;
	return (VA_STEP_NEXT);
}

/* Where the next report read starts, or 0 when every range is read. */
static int
report_next(struct va_dop *op, uint64_t *off, uint64_t *n)
{
	struct va_dvf	*vf = op->vf;
	uint64_t	 o, len, end;

	while (op->idx < vf->nranges) {
		cvq_report_span(vf->ranges[op->idx].iova,
		    vf->ranges[op->idx].length,
		    CVQ_TRACK_BYTEMAP(vf->track_mode), &o, &len);
		end = MIN(o + len, op->total);
		if (op->sub == 0)
			op->off = (size_t)o;
		if (op->off < end) {
			*off = op->off;
			*n = MIN(end - op->off, (uint64_t)op->pf->chunk);
			op->sub = 1;
			return (1);
		}
		op->idx++;
		op->sub = 0;
	}
	return (0);
}

static int
b_report(struct va_dop *op, struct va_dcmd *c, char *err, size_t errlen)
{
	uint64_t	off, n;

	if (!report_next(op, &off, &n)) {
		op->bytes = op->records * CVQ_PAGE_SIZE;
		return (VA_STEP_DONE);
	}
	op->cur = (size_t)n;
	c->opcode = CVQ_OP_REPORT_DIRTY_PAGES;
	c->data_len = cvq_offset_put(c->data, func(op), (uint32_t)off);
	c->result_cap = (size_t)n;
	return (0);
}

static int
p_report(struct va_dop *op, const struct va_dres *r, char *err,
    size_t errlen)
{
	if (r->result_len > op->cur)
		return (va_err(err, errlen, -EPROTO, "REPORT_DIRTY_PAGES at "
		    "%zu returned %zu bytes for %zu", op->off, r->result_len,
		    op->cur));
	cvq_report_apply(r->result, r->result_len, op->off,
	    CVQ_TRACK_BYTEMAP(op->vf->track_mode), op->maps, op->nmaps,
	    &op->records, &op->pages, &op->outside);
	/* A shorter answer: the report ends there. */
	if (r->result_len < op->cur) {
		op->idx++;
		op->sub = 0;
	} else
		op->off += r->result_len;
	return (VA_STEP_AGAIN);
}

static int
b_track_stop(struct va_dop *op, struct va_dcmd *c, char *err, size_t errlen)
{
	c->opcode = CVQ_OP_STOP_DIRTY_PAGE_TRACK;
	c->data_len = cvq_func_put(c->data, func(op));
	c->critical = 1;
	return (0);
}

static int
p_track_stop(struct va_dop *op, const struct va_dres *r, char *err,
    size_t errlen)
{
	/* The core may free the push map now. */
	op->vf->recording = 0;
	op->vf->track_mode = 0;
	op->vf->push_map = NULL;
	op->vf->push_len = 0;
	return (VA_STEP_DONE);
}

static const struct va_dstep s_open[] = {
	{ "identify", b_identify, p_identify },
};
static const struct va_dstep s_probe[] = {
	{ "state_attrs", b_attrs, p_probe },
};
static const struct va_dstep s_get_mode[] = {
	{ "state_attrs", b_attrs, p_size },
};
static const struct va_dstep s_set_mode[] = {
	{ "learn_state", b_learn_mode, p_attrs },
	{ "set_state", va_step_mode_walk, va_step_mode_walked },
};
static const struct va_dstep s_size[] = {
	{ "state_attrs", b_attrs, p_size },
};
static const struct va_dstep s_save[] = {
	{ "state_attrs", b_attrs, p_save_attrs },
	{ "save_state", b_save, p_save },
};
static const struct va_dstep s_load[] = {
	{ "restore_state", b_restore, p_restore },
};
static const struct va_dstep s_dstart[] = {
	{ "track_start", b_track_start, p_track_start },
};
static const struct va_dstep s_dread[] = {
	{ "report_size", b_report_size, p_report_size },
	{ "report", b_report, p_report },
};
static const struct va_dstep s_dstop[] = {
	{ "track_stop", b_track_stop, p_track_stop },
};

#define STEPS(a)	(a), (int)nitems(a)
static const struct va_dsteps cvq_steps[VA_DOP_NKINDS] = {
	[VA_DOP_PF_OPEN] = { STEPS(s_open), -1, NULL, NULL },
	[VA_DOP_VF_PROBE] = { STEPS(s_probe), -1, NULL, NULL },
	[VA_DOP_GET_MODE] = { STEPS(s_get_mode), -1, NULL, cvq_fail },
	[VA_DOP_SET_MODE] = { STEPS(s_set_mode), -1, NULL, cvq_fail },
	[VA_DOP_STATE_SIZE] = { STEPS(s_size), -1, NULL, NULL },
	[VA_DOP_SAVE] = { STEPS(s_save), -1, NULL, NULL },
	[VA_DOP_LOAD] = { STEPS(s_load), -1, NULL, NULL },
	[VA_DOP_DIRTY_START] = { STEPS(s_dstart), -1, NULL, NULL },
	[VA_DOP_DIRTY_READ] = { STEPS(s_dread), -1, NULL, NULL },
	[VA_DOP_DIRTY_STOP] = { STEPS(s_dstop), -1, NULL, NULL },
};

/* ------------------------------------------------------------ canonical */

static int
cvq_to_canon(const uint8_t *img, size_t len, uint32_t devtype,
    struct vds *s, char *err, size_t errlen)
{
	struct cvq_iter		 it;
	struct cvq_portion	 pt;
	struct vds_vq		*q;
	const uint8_t		*v;
	uint32_t		 i, a, b;
	int			 rc;

	vds_init(s, devtype);
	if ((rc = cvq_iter_init(&it, img, len, err, errlen)) != 0)
		return (rc);
	if (it.device_type != devtype)
		return (va_err(err, errlen, -EINVAL, "state of device type "
		    "%u for a device of type %u", it.device_type, devtype));
	while ((rc = cvq_iter_next(&it, &pt, err, errlen)) == 1) {
		v = pt.value;
		if (pt.kind >= CVQ_PT_NET_RX && pt.kind <= CVQ_PT_NET_MACS) {
			if (devtype != 1)
				return (va_err(err, errlen, -EINVAL, "portion "
				    "%u: net state in a device of type %u",
				    pt.index, devtype));
			s->have |= VDS_H_NET;
		}
		switch (pt.kind) {
		case CVQ_PT_FEATURES:
			a = get_le16(v);
			b = get_le16(v + 2);
			for (i = 0; i < a; i++)
				s->dev_features[i] = get_le64(v + 8 + 8 * i);
			for (i = 0; i < b; i++)
				s->drv_features[i] = get_le64(v + 8 +
				    8 * (a + i));
			s->ndev = a;
			s->ndrv = b;
			s->have |= VDS_H_DEVICE_FEATURES;
			if (b > 0)
				s->have |= VDS_H_DRIVER_FEATURES;
			break;
		case CVQ_PT_TRANSPORT:
			memcpy(s->common, v, sizeof(s->common));
			s->common_present = VDS_REGS_ALL;
			s->have |= VDS_H_COMMON;
			break;
		case CVQ_PT_DEVCFG:
			s->config = v;
			s->config_len = pt.length;
			s->have |= VDS_H_DEVICE_CONFIG;
			break;
		case CVQ_PT_QUEUE:
			if ((q = vds_vq(s, pt.key, 1)) == NULL)
				return (va_err(err, errlen, -E2BIG, "portion "
				    "%u: more than %d queues", pt.index,
				    VDS_MAX_VQS));
			q->size = get_le16(v);
			q->msix = get_le16(v + 2);
			q->enabled = v[4];
			q->notify_off = get_le16(v + 6);
			q->notif_data = get_le16(v + 8);
			q->avail_idx = get_le16(v + 10);
			q->nown = get_le16(v + 12);
			q->desc = get_le64(v + 16);
			q->driver = get_le64(v + 24);
			q->device = get_le64(v + 32);
			q->own = v + CVQ_QUEUE_HDR;
			q->has = VDS_VQ_HAS_CFG | VDS_VQ_HAS_NOTIFY |
			    VDS_VQ_HAS_SPLIT;
			break;
		case CVQ_PT_NET_RX:
			s->net.rx_mode = get_le16(v);
			memcpy(s->net.mac, v + 2, 6);
			break;
		case CVQ_PT_NET_VLAN:
			memcpy(s->net.vlan, v, CVQ_NET_VLAN_LEN);
			break;
		case CVQ_PT_NET_MACS:
			s->net.uc = get_le32(v);
			s->net.mc = get_le32(v + 4);
			for (i = 0; i < s->net.uc + s->net.mc; i++)
				memcpy(s->net.macs[i], v + CVQ_NET_MACS_HDR +
				    6 * i, 6);
			break;
		case CVQ_PT_VENDOR:
			if ((rc = vds_add_vendor(s, get_le32(v),
			    (pt.flags & CVQ_PT_F_OPTIONAL) ? VDS_F_OPTIONAL :
			    0, v + CVQ_VENDOR_HDR, pt.length - CVQ_VENDOR_HDR,
			    err, errlen)) != 0)
				return (rc);
			break;
		default:
			break;	/* optional and unknown: dropped */
		}
	}
	return (rc);
}

static void
out_net(struct cvq_sbuf *b, const struct vds_net *n)
{
	uint8_t		*v;
	uint32_t	 k;

	if ((v = cvq_portion_add(b, CVQ_PT_NET_RX, 0, 0,
	    CVQ_NET_RX_LEN)) != NULL) {
		put_le16(v, n->rx_mode);
		memcpy(v + 2, n->mac, 6);
	}
	if ((v = cvq_portion_add(b, CVQ_PT_NET_VLAN, 0, 0,
	    CVQ_NET_VLAN_LEN)) != NULL)
		memcpy(v, n->vlan, CVQ_NET_VLAN_LEN);
	if ((v = cvq_portion_add(b, CVQ_PT_NET_MACS, 0, 0, CVQ_NET_MACS_HDR +
	    6 * (n->uc + n->mc))) != NULL) {
		put_le32(v, n->uc);
		put_le32(v + 4, n->mc);
		for (k = 0; k < n->uc + n->mc; k++)
			memcpy(v + CVQ_NET_MACS_HDR + 6 * k, n->macs[k], 6);
	}
}

static long
cvq_from_canon(const struct vds *s, const struct vds *base, uint8_t *buf,
    size_t cap, char *err, size_t errlen)
{
	const struct vds_vq *q, *bq;
	struct cvq_sbuf	 b;
	const uint64_t	*dev = s->dev_features;
	const uint8_t	*cfg = s->config;
	uint32_t	 ndev = s->ndev, ndrv, cfg_len = s->config_len, i;
	uint8_t		*v;
	long		 n;

	if (!(s->have & VDS_H_DEVICE_FEATURES) && base != NULL &&
	    (base->have & VDS_H_DEVICE_FEATURES)) {
		dev = base->dev_features;
		ndev = base->ndev;
	} else if (!(s->have & VDS_H_DEVICE_FEATURES))
		return (va_err(err, errlen, -EINVAL, "DEVICE_FEATURES is "
		    "missing and the destination's own are not known"));
	if (!(s->have & VDS_H_COMMON))
		return (va_err(err, errlen, -EINVAL, "COMMON_CFG is missing: "
		    "our control-vq devices need the transport state"));
	if (!(s->have & VDS_H_DEVICE_CONFIG) && base != NULL &&
	    (base->have & VDS_H_DEVICE_CONFIG)) {
		cfg = base->config;
		cfg_len = base->config_len;
	}
	for (i = 0; i < s->nvq; i++) {
		q = &s->vq[i];
		if (!(q->has & VDS_VQ_HAS_CFG))
			return (va_err(err, errlen, -EINVAL, "VQ of queue %u "
			    "is missing", q->index));
		if (!(q->has & VDS_VQ_HAS_SPLIT))
			return (va_err(err, errlen, -EINVAL, "VQ_SPLIT (avail "
			    "index) of queue %u is missing: the source keeps "
			    "it in the used ring in guest memory; read it from "
			    "there first", q->index));
	}
	ndrv = (s->have & VDS_H_DRIVER_FEATURES) ? s->ndrv : 0;

	cvq_sbuf_init(&b, buf, cap, s->device_type);
	if ((v = cvq_portion_add(&b, CVQ_PT_FEATURES, 0, 0, CVQ_FEATURES_HDR +
	    8 * (ndev + ndrv))) != NULL) {
		put_le16(v, (uint16_t)ndev);
		put_le16(v + 2, (uint16_t)ndrv);
		for (i = 0; i < ndev; i++)
			put_le64(v + 8 + 8 * i, dev[i]);
		for (i = 0; i < ndrv; i++)
			put_le64(v + 8 + 8 * (ndev + i), s->drv_features[i]);
	}
	if ((v = cvq_portion_add(&b, CVQ_PT_TRANSPORT, 0, 0,
	    CVQ_TRANSPORT_LEN)) != NULL)
		vds_common_full(s, base, v);
	if (cfg != NULL && (v = cvq_portion_add(&b, CVQ_PT_DEVCFG, 0, 0,
	    cfg_len)) != NULL)
		memcpy(v, cfg, cfg_len);
	for (i = 0; i < s->nvq; i++) {
		q = &s->vq[i];
		if ((v = cvq_portion_add(&b, CVQ_PT_QUEUE, 0, q->index,
		    CVQ_QUEUE_HDR + 2 * (uint32_t)q->nown)) == NULL)
			continue;
		/* A source without notify config: the destination's own. */
		bq = (q->has & VDS_VQ_HAS_NOTIFY) ? q : base != NULL ?
		    vds_vq_find(base, q->index) : NULL;
		put_le16(v, q->size);
		put_le16(v + 2, q->msix);
		v[4] = (uint8_t)q->enabled;
		if (bq != NULL) {
			put_le16(v + 6, bq->notify_off);
			put_le16(v + 8, bq->notif_data);
		}
		put_le16(v + 10, q->avail_idx);
		put_le16(v + 12, q->nown);
		put_le64(v + 16, q->desc);
		put_le64(v + 24, q->driver);
		put_le64(v + 32, q->device);
		if (q->nown > 0)
			memcpy(v + CVQ_QUEUE_HDR, q->own, 2 * (size_t)q->nown);
	}
	if (s->have & VDS_H_NET)
		out_net(&b, &s->net);
	for (i = 0; i < s->nvendor; i++) {
		if ((v = cvq_portion_add(&b, CVQ_PT_VENDOR,
		    (s->vendor[i].flags & VDS_F_OPTIONAL) ? CVQ_PT_F_OPTIONAL :
		    0, 0, CVQ_VENDOR_HDR + s->vendor[i].len)) == NULL)
			continue;
		put_le32(v, s->vendor[i].vendor);
		if (s->vendor[i].len > 0)
			memcpy(v + CVQ_VENDOR_HDR, s->vendor[i].p,
			    s->vendor[i].len);
	}
	if ((n = cvq_sbuf_end(&b)) < 0)
		return (va_err(err, errlen, (int)n, "state image of %zu bytes "
		    "does not fit in %zu (or exceeds %u)", b.len, cap,
		    CVQ_ST_MAX_BYTES));
	return (n);
}

static const uint8_t cvq_carry[VA_CI_N] = {
	[VA_CI_DEVICE_FEATURES] = VA_C_VERIFIED,
	[VA_CI_DRIVER_FEATURES] = VA_C_CARRIED,
	[VA_CI_COMMON] = VA_C_CARRIED,
	[VA_CI_DEVICE_STATUS] = VA_C_CARRIED,
	[VA_CI_DEVICE_CONFIG] = VA_C_CARRIED,
	[VA_CI_VQ] = VA_C_CARRIED,
	[VA_CI_VQ_NOTIFY] = VA_C_CARRIED,
	[VA_CI_VQ_AVAIL] = VA_C_CARRIED,
	[VA_CI_VQ_OWN] = VA_C_CARRIED,
	[VA_CI_NET] = VA_C_CARRIED,
	[VA_CI_VENDOR] = VA_C_CARRIED,
};

const struct va_dialect va_dialect_cvq = {
	.id = VA_DIALECT_CVQ,
	.name = "cvq",
	.iface = "virtio-cvq/v1",
	.origin = "the generic control-virtqueue VF migration proposal "
	    "(virtio-comment, Jun 2021; seed 003)",
	.framing = VA_FRAME_CVQ,
	.ops = cvq_optab,
	.nops = CVQ_NOPS,
	.mode_names = cvq_modes,
	.nmodes = CVQ_S_N,
	.mode_vmig = cvq_vmig,
	.mode_device = cvq_mode_device,
	.mode_next = cvq_mode_next,
	.vmig_modes = VMIG_MODE_BIT(VMIG_MODE_ACTIVE) |
	    VMIG_MODE_BIT(VMIG_MODE_STOPPED) | VMIG_MODE_BIT(VMIG_MODE_FROZEN),
	/* RESTORE_STATE (and SAVE_STATE) only while FREEZED */
	.load_frozen = 1,
	.dirty_kinds = (1u << VMIG_DIRTY_BITMAP_PULL) |
	    (1u << VMIG_DIRTY_BITMAP_PUSH) | (1u << VMIG_DIRTY_BYTEMAP_PULL) |
	    (1u << VMIG_DIRTY_BYTEMAP_PUSH),
	.ops_steps = cvq_steps,
	.to_canon = cvq_to_canon,
	.from_canon = cvq_from_canon,
	.carry = cvq_carry,
	.mode_cmd = cvq_mode_cmd,
};
