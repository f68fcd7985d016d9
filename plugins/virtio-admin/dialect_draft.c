/*
 * dialect_draft.c: the draft dialect as a dialect (dialect.h): its modes,
 * its operations as step tables (what plugin.c does today, command for
 * command, except that a save starts with DEV_CTX_DISCARD so that it
 * never continues somebody else's read), and its device context <->
 * the canonical state.
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "util.h"
#include "devctx.h"
#include "dialect.h"
#include "writerec.h"

#define DRAFT_RECS_MAX	4096	/* records per WRITE_RECORDS_READ */
#define DRAFT_ROUNDS	64	/* reads per range per dirty read */

/* ---------------------------------------------------------------- modes */

static const char *const draft_modes[] = { "active", "stop", "freeze" };
static const uint8_t draft_vmig[] = {
	VMIG_MODE_ACTIVE, VMIG_MODE_STOPPED, VMIG_MODE_FROZEN,
};

static int
draft_mode_device(enum vmig_mode m)
{
	switch (m) {
	case VMIG_MODE_ACTIVE:
		return (VA_MODE_ACTIVE);
	case VMIG_MODE_STOPPED:
		return (VA_MODE_STOP);
	case VMIG_MODE_FROZEN:
		return (VA_MODE_FREEZE);
	default:
		return (-1);
	}
}

/* Freeze is entered and left through stop. */
static const uint8_t draft_next[3][3] = {
	/* to:		active		stop		freeze */
	[VA_MODE_ACTIVE] = { VA_MODE_ACTIVE, VA_MODE_STOP, VA_MODE_STOP },
	[VA_MODE_STOP] = { VA_MODE_ACTIVE, VA_MODE_STOP, VA_MODE_FREEZE },
	[VA_MODE_FREEZE] = { VA_MODE_STOP, VA_MODE_STOP, VA_MODE_FREEZE },
};

static int
draft_mode_next(int cur, int target)
{
	if (cur < 0 || cur > VA_MODE_FREEZE || target < 0 ||
	    target > VA_MODE_FREEZE)
		return (-1);
	return (draft_next[cur][target]);
}

/* ---------------------------------------------------------- operations */

static const uint16_t draft_need[] = {
	VA_OP_DEV_MODE_GET, VA_OP_DEV_MODE_SET, VA_OP_DEV_CTX_SIZE_GET,
	VA_OP_DEV_CTX_READ, VA_OP_DEV_CTX_WRITE, VA_OP_DEV_CTX_DISCARD,
	VA_OP_WRITE_RECORD_CAP_QUERY, VA_OP_WRITE_RECORDS_START,
	VA_OP_WRITE_RECORDS_STOP, VA_OP_WRITE_RECORDS_READ,
};

static int
b_wr_cap(struct va_dop *op, struct va_dcmd *c, char *err, size_t errlen)
{
	c->opcode = VA_OP_WRITE_RECORD_CAP_QUERY;
	c->result_cap = VA_WR_CAP_LEN;
	return (0);
}

static int
p_wr_cap(struct va_dop *op, const struct va_dres *r, char *err,
    size_t errlen)
{
	struct va_dvf	*vf = op->vf;
	int		 rc;

	if ((rc = va_wrcap_get(r->result, r->result_len, &vf->wr_page_sizes,
	    &vf->wr_max_ranges, err, errlen)) != 0)
		return (rc);
	snprintf(vf->caps.interface, sizeof(vf->caps.interface), "%s",
	    op->d->iface);
	vf->caps.modes = op->d->vmig_modes;
	vf->caps.flags = VMIG_CAP_STATE_CHUNKED | VMIG_CAP_STATE_DISCARD;
	if (op->pf->flags & VA_HS_F_CTX_READ_ACTIVE)
		vf->caps.flags |= VMIG_CAP_STATE_PRECOPY;
	vf->caps.state_max_bytes = op->pf->max_state;
	vf->caps.dirty_kind = VMIG_DIRTY_WRITE_RECORDS;
	vf->caps.dirty_max_ranges = MIN(vf->wr_max_ranges, VA_WR_MAX_RANGES);
	/* The seed's bitmap: bit n = 4 KiB << n, as the ABI's. */
	vf->caps.dirty_page_sizes = vf->wr_page_sizes;
	return (VA_STEP_NEXT);
}

static int
b_mode_get(struct va_dop *op, struct va_dcmd *c, char *err, size_t errlen)
{
	c->opcode = VA_OP_DEV_MODE_GET;
	c->result_cap = VA_MODE_LEN;
	c->critical = 1;
	return (0);
}

static int
p_mode_get(struct va_dop *op, const struct va_dres *r, char *err,
    size_t errlen)
{
	uint8_t	mode;
	int	rc;

	if ((rc = va_mode_get(r->result, r->result_len, &mode, err,
	    errlen)) != 0)
		return (rc);
	op->vf->mode = mode;
	op->mode = draft_vmig[mode];
	return (VA_STEP_NEXT);
}

static int
b_learn_mode(struct va_dop *op, struct va_dcmd *c, char *err, size_t errlen)
{
	if (op->vf->mode >= 0)
		return (VA_STEP_NEXT);
	return (b_mode_get(op, c, err, errlen));
}

static void
draft_mode_cmd(struct va_dop *op, struct va_dcmd *c, int next)
{
	c->opcode = VA_OP_DEV_MODE_SET;
	c->data_len = va_mode_put(c->data, (uint8_t)next);
}

static void
mode_unknown(struct va_dop *op, int rc)
{
	op->vf->mode = -1;
}

static int
b_size(struct va_dop *op, struct va_dcmd *c, char *err, size_t errlen)
{
	c->opcode = VA_OP_DEV_CTX_SIZE_GET;
	c->result_cap = VA_CTX_SIZE_LEN;
	return (0);
}

static int
p_size(struct va_dop *op, const struct va_dres *r, char *err, size_t errlen)
{
	int	rc;

	if ((rc = va_size_get(r->result, r->result_len, &op->size, err,
	    errlen)) != 0)
		return (rc);
	return (VA_STEP_DONE);
}

static int
b_discard(struct va_dop *op, struct va_dcmd *c, char *err, size_t errlen)
{
	c->opcode = VA_OP_DEV_CTX_DISCARD;
	c->critical = 1;
	return (0);
}

static int
b_read(struct va_dop *op, struct va_dcmd *c, char *err, size_t errlen)
{
	if (op->off >= op->cap)
		return (va_err(err, errlen, -ENOSPC, "device context larger "
		    "than the %zu-byte buffer", op->cap));
	op->cur = MIN(op->cap - op->off, op->pf->chunk) & ~(size_t)7;
	if (op->cur == 0)
		op->cur = MIN(op->cap - op->off, op->pf->chunk);
	c->opcode = VA_OP_DEV_CTX_READ;
	c->result_cap = VA_CTX_READ_HDR + op->cur;
	return (0);
}

static int
p_read(struct va_dop *op, const struct va_dres *r, char *err, size_t errlen)
{
	const uint8_t	*bytes;
	uint32_t	 n, remaining;
	int		 rc;

	if ((rc = va_ctxread_get(r->result, r->result_len, &n, &remaining,
	    &bytes, err, errlen)) != 0)
		return (rc);
	if (n > op->cur)
		return (va_err(err, errlen, -EPROTO, "DEV_CTX_READ returned "
		    "%u bytes for a %zu-byte chunk", n, op->cur));
	if (n == 0 && remaining > 0)
		return (va_err(err, errlen, -EPROTO, "DEV_CTX_READ returned "
		    "no bytes with %u remaining", remaining));
	memcpy(op->buf + op->off, bytes, n);
	op->off += n;
	if (remaining == 0) {
		op->size = op->off;
		return (VA_STEP_DONE);
	}
	if (remaining > op->cap - op->off)
		return (va_err(err, errlen, -ENOSPC, "device context of %zu "
		    "bytes does not fit the %zu-byte buffer",
		    op->off + remaining, op->cap));
	return (VA_STEP_AGAIN);
}

static int
b_write(struct va_dop *op, struct va_dcmd *c, char *err, size_t errlen)
{
	uint32_t	flags = 0;
	char		why[200];

	/* The whole image is here: refuse a bad one before sending. */
	if (op->off == 0 && va_ctx_validate(op->buf, op->len, why,
	    sizeof(why)) != 0)
		return (va_err(err, errlen, -EINVAL, "device context refused "
		    "before sending: %s", why));
	op->cur = MIN(op->len - op->off, op->pf->chunk);
	if (op->off + op->cur == op->len)
		flags |= VA_CTX_WRITE_F_LAST;
	c->opcode = VA_OP_DEV_CTX_WRITE;
	put_le32(c->data, (uint32_t)op->cur);
	put_le32(c->data + 4, flags);
	c->data_len = VA_CTX_WRITE_HDR;
	c->tail = op->buf + op->off;
	c->tail_len = op->cur;
	c->critical = 1;
	return (0);
}

static int
p_write(struct va_dop *op, const struct va_dres *r, char *err, size_t errlen)
{
	op->off += op->cur;
	return (op->off == op->len ? VA_STEP_DONE : VA_STEP_AGAIN);
}

/* A chunk was accepted and a later one failed: drop the partial image. */
static int
write_started(struct va_dop *op)
{
	return (op->off > 0 && op->off < op->len);
}

static int
b_wr_start(struct va_dop *op, struct va_dcmd *c, char *err, size_t errlen)
{
	struct va_dvf	*vf = op->vf;
	uint64_t	 ps = op->page_size;
	uint32_t	 i;

	if (op->nranges == 0 || op->nranges > MIN(vf->wr_max_ranges,
	    VA_DVF_MAX_RANGES))
		return (va_err(err, errlen, -EINVAL, "%u ranges (the VF "
		    "records 1..%u)", op->nranges, vf->wr_max_ranges));
	if (ps < 4096 || (ps & (ps - 1)) != 0 || __builtin_ctzll(ps) - 12 >
	    31 || !((vf->wr_page_sizes >> (__builtin_ctzll(ps) - 12)) & 1))
		return (va_err(err, errlen, -EINVAL, "page size %llu not "
		    "supported (bitmap %#x)", (unsigned long long)ps,
		    vf->wr_page_sizes));
	for (i = 0; i < op->nranges; i++) {
		if (op->ranges[i].iova % ps != 0 ||
		    op->ranges[i].length % ps != 0 ||
		    op->ranges[i].length == 0)
			return (va_err(err, errlen, -EINVAL, "range %u "
			    "(%#llx+%llu) is not aligned to %llu", i,
			    (unsigned long long)op->ranges[i].iova,
			    (unsigned long long)op->ranges[i].length,
			    (unsigned long long)ps));
		put_le64(vf->rbuf + 16 * i, op->ranges[i].iova);
		put_le64(vf->rbuf + 16 * i + 8, op->ranges[i].length / ps);
	}
	c->opcode = VA_OP_WRITE_RECORDS_START;
	memset(c->data, 0, VA_WR_START_HDR);
	put_le64(c->data, ps);
	put_le32(c->data + 8, op->nranges);
	c->data_len = VA_WR_START_HDR;
	c->tail = vf->rbuf;
	c->tail_len = 16 * (size_t)op->nranges;
	return (0);
}

static int
p_wr_start(struct va_dop *op, const struct va_dres *r, char *err,
    size_t errlen)
{
	struct va_dvf	*vf = op->vf;

	memcpy(vf->ranges, op->ranges, op->nranges * sizeof(vf->ranges[0]));
	vf->nranges = op->nranges;
	vf->page_size = op->page_size;
	vf->recording = 1;
	return (VA_STEP_DONE);
}

static int
b_wr_read(struct va_dop *op, struct va_dcmd *c, char *err, size_t errlen)
{
	struct va_dvf	*vf = op->vf;
	size_t		 recs;
	char		 why[160];
	int		 rc;

	if (op->rounds == 0) {
		if (!vf->recording)
			return (va_err(err, errlen, -EINVAL, "write "
			    "recording is not running"));
		if ((rc = va_maps_check(op->maps, op->nmaps, why,
		    sizeof(why))) != 0)
			return (va_err(err, errlen, rc, "%s", why));
	}
	if (op->idx >= vf->nranges)
		return (VA_STEP_DONE);
	recs = MIN((size_t)DRAFT_RECS_MAX, (op->pf->chunk - VA_WR_RECS_HDR) /
	    VA_WR_REC_LEN);
	c->opcode = VA_OP_WRITE_RECORDS_READ;
	c->data_len = va_wrread_put(c->data, vf->ranges[op->idx].iova,
	    vf->ranges[op->idx].length);
	c->result_cap = VA_WR_RECS_HDR + recs * VA_WR_REC_LEN;
	return (0);
}

static int
p_wr_read(struct va_dop *op, const struct va_dres *r, char *err,
    size_t errlen)
{
	struct va_dvf	*vf = op->vf;
	const uint8_t	*recs;
	uint64_t	 iova, len;
	uint32_t	 n, flags, i;
	int		 rc;

	if ((rc = va_wrrecs_get(r->result, r->result_len, &n, &flags, &recs,
	    err, errlen)) != 0)
		return (rc);
	for (i = 0; i < n; i++) {
		va_wrrec_get(recs, i, &iova, &len);
		op->records++;
		op->bytes += len;
		if (!va_wr_apply(op->maps, op->nmaps, iova, len, &op->pages))
			op->outside++;
		/* the exact bytes, for deltas (ABI 2.2) */
		if (op->log != NULL && op->log->n < op->log->cap) {
			op->log->recs[op->log->n].iova = iova;
			op->log->recs[op->log->n++].len = len;
		} else if (op->log != NULL)
			op->log->lost = 1;
	}
	if (flags & VA_WR_F_LOST) {
		/* The device lost track: the whole range is suspect. */
		op->overflow = 1;
		if (op->log != NULL)
			op->log->lost = 1;
		va_maps_set_whole(op->maps, op->nmaps, vf->ranges[op->idx].iova,
		    vf->ranges[op->idx].length, &op->pages);
	}
	if ((flags & VA_WR_F_MORE) && ++op->sub < DRAFT_ROUNDS)
		return (VA_STEP_AGAIN);
	op->sub = 0;
	if (++op->idx < vf->nranges)
		return (VA_STEP_AGAIN);
	return (VA_STEP_DONE);
}

static int
b_wr_stop(struct va_dop *op, struct va_dcmd *c, char *err, size_t errlen)
{
	c->opcode = VA_OP_WRITE_RECORDS_STOP;
	c->critical = 1;
	return (0);
}

static int
p_wr_stop(struct va_dop *op, const struct va_dres *r, char *err,
    size_t errlen)
{
	op->vf->recording = 0;
	return (VA_STEP_DONE);
}

static const struct va_dstep s_open[] = {
	{ "list_query", va_step_list_query, va_step_list_check },
	{ "list_use", va_step_list_use, va_step_next },
};
static const struct va_dstep s_probe[] = {
	{ "write_record_caps", b_wr_cap, p_wr_cap },
	{ "mode_get", b_mode_get, p_mode_get },
};
static const struct va_dstep s_get_mode[] = {
	{ "mode_get", b_mode_get, p_mode_get },
};
static const struct va_dstep s_set_mode[] = {
	{ "learn_mode", b_learn_mode, p_mode_get },
	{ "mode_set", va_step_mode_walk, va_step_mode_walked },
};
static const struct va_dstep s_size[] = {
	{ "ctx_size", b_size, p_size },
};
static const struct va_dstep s_save[] = {
	{ "ctx_discard", b_discard, va_step_next },
	{ "ctx_read", b_read, p_read },
};
static const struct va_dstep s_load[] = {
	{ "ctx_write", b_write, p_write },
	{ "ctx_discard", b_discard, va_step_next },	/* cleanup only */
};
static const struct va_dstep s_dstart[] = {
	{ "records_start", b_wr_start, p_wr_start },
};
static const struct va_dstep s_dread[] = {
	{ "records_read", b_wr_read, p_wr_read },
};
static const struct va_dstep s_dstop[] = {
	{ "records_stop", b_wr_stop, p_wr_stop },
};

#define STEPS(a)	(a), (int)nitems(a)
static const struct va_dsteps draft_steps[VA_DOP_NKINDS] = {
	[VA_DOP_PF_OPEN] = { STEPS(s_open), -1, NULL, NULL },
	[VA_DOP_VF_PROBE] = { STEPS(s_probe), -1, NULL, NULL },
	[VA_DOP_GET_MODE] = { STEPS(s_get_mode), -1, NULL, mode_unknown },
	[VA_DOP_SET_MODE] = { STEPS(s_set_mode), -1, NULL, mode_unknown },
	[VA_DOP_STATE_SIZE] = { STEPS(s_size), -1, NULL, NULL },
	[VA_DOP_SAVE] = { STEPS(s_save), -1, NULL, NULL },
	/* a successful load ends in ctx_write (DONE); discard is cleanup */
	[VA_DOP_LOAD] = { STEPS(s_load), 1, write_started, NULL },
	[VA_DOP_DIRTY_START] = { STEPS(s_dstart), -1, NULL, NULL },
	[VA_DOP_DIRTY_READ] = { STEPS(s_dread), -1, NULL, NULL },
	[VA_DOP_DIRTY_STOP] = { STEPS(s_dstop), -1, NULL, NULL },
};

/* ------------------------------------------------------------ canonical */

static int
draft_to_canon(const uint8_t *img, size_t len, uint32_t devtype,
    struct vds *s, char *err, size_t errlen)
{
	struct va_ctx_iter	 it;
	struct va_ctx_field	 f;
	struct vds_vq		*q;
	const uint8_t		*v;
	uint32_t		 i, k, seen = 0, bit;
	int			 rc;

	vds_init(s, devtype);
	if ((rc = va_ctx_iter_init(&it, img, len, err, errlen)) != 0)
		return (rc);
	while ((rc = va_ctx_iter_next(&it, &f, err, errlen)) == 1) {
		v = f.value;
		q = NULL;
		bit = f.type == VA_CTX_PCI_COMMON_CFG ? VDS_H_COMMON :
		    f.type == VA_CTX_DEV_CFG_LAYOUT ? VDS_H_DEVICE_CONFIG :
		    f.type == VA_CTX_DEV_FEATURES ? VDS_H_DEVICE_FEATURES :
		    f.type == VA_CTX_NET_CVQ_STATE ? VDS_H_NET : 0;
		if (bit != 0 && (seen & bit))
			return (va_err(err, errlen, -EINVAL, "field %u: a "
			    "second %s", f.index, va_ctx_type_name(f.type)));
		seen |= bit;
		if (f.type == VA_CTX_PCI_VQ_CFG ||
		    f.type == VA_CTX_VQ_SPLIT_RUNTIME ||
		    f.type == VA_CTX_VQ_SPLIT_DEV_OWN_DESC) {
			if ((q = vds_vq(s, get_le16(v), 1)) == NULL)
				return (va_err(err, errlen, -E2BIG, "field %u: "
				    "more than %d queues", f.index,
				    VDS_MAX_VQS));
		}
		switch (f.type) {
		case VA_CTX_PCI_COMMON_CFG:
			memcpy(s->common, v, sizeof(s->common));
			s->common_present = VDS_REGS_ALL;
			s->have |= VDS_H_COMMON;
			break;
		case VA_CTX_DEV_CFG_LAYOUT:
			s->config = v;
			s->config_len = (uint32_t)f.length;
			s->have |= VDS_H_DEVICE_CONFIG;
			break;
		case VA_CTX_DEV_FEATURES:
			s->ndev = (uint32_t)(f.length / 8);
			for (i = 0; i < s->ndev; i++)
				s->dev_features[i] = get_le64(v + 8 * i);
			s->have |= VDS_H_DEVICE_FEATURES;
			break;
		case VA_CTX_PCI_VQ_CFG:
			if (q->has & VDS_VQ_HAS_CFG)
				goto dup;
			q->size = get_le16(v + 2);
			q->msix = get_le16(v + 4);
			q->desc = get_le64(v + 8);
			q->driver = get_le64(v + 16);
			q->device = get_le64(v + 24);
			q->has |= VDS_VQ_HAS_CFG;
			break;
		case VA_CTX_VQ_SPLIT_RUNTIME:
			if (q->has & VDS_VQ_HAS_SPLIT)
				goto dup;
			q->avail_idx = get_le16(v + 2);
			q->enabled = v[4];
			q->has |= VDS_VQ_HAS_SPLIT;
			break;
		case VA_CTX_VQ_SPLIT_DEV_OWN_DESC:
			if (q->own != NULL)
				goto dup;
			q->nown = get_le16(v + 2);
			q->own = v + VA_CTX_OWN_DESC_HDR;
			break;
		case VA_CTX_NET_CVQ_STATE:
			if (devtype != 1)
				return (va_err(err, errlen, -EINVAL, "net "
				    "control state in a device of type %u",
				    devtype));
			memcpy(s->net.mac, v, 6);
			s->net.rx_mode = get_le16(v + 6);
			memcpy(s->net.vlan, v + VA_CTX_CVQ_VLAN_OFF, 512);
			s->net.uc = get_le32(v + VA_CTX_CVQ_UC_OFF);
			s->net.mc = get_le32(v + VA_CTX_CVQ_MC_OFF);
			for (k = 0; k < s->net.uc + s->net.mc; k++)
				memcpy(s->net.macs[k], v + VA_CTX_CVQ_FIXED +
				    6 * k, 6);
			s->have |= VDS_H_NET;
			break;
		default:
			if (f.type >= 0x80000000u && (rc = vds_add_vendor(s,
			    f.type, (f.flags & VA_CTX_F_OPTIONAL) ?
			    VDS_F_OPTIONAL : 0, v, (uint32_t)f.length, err,
			    errlen)) != 0)
				return (rc);
			/* another optional type we do not know: dropped */
			break;
		}
	}
	if (rc != 0)
		return (rc);
	for (i = 0; i < s->nvq; i++) {
		q = &s->vq[i];
		/* The draft splits a queue's enable bit off its config. */
		if ((q->has & VDS_VQ_HAS_CFG) != 0 &&
		    (q->has & VDS_VQ_HAS_SPLIT) == 0)
			return (va_err(err, errlen, -EINVAL, "queue %u: "
			    "PCI_VQ_CFG without VQ_SPLIT_RUNTIME", q->index));
		if ((q->has & VDS_VQ_HAS_SPLIT) && !(q->has & VDS_VQ_HAS_CFG))
			return (va_err(err, errlen, -EINVAL, "queue %u: "
			    "VQ_SPLIT_RUNTIME without PCI_VQ_CFG", q->index));
		if (q->nown > 0 && !(q->has & VDS_VQ_HAS_SPLIT))
			return (va_err(err, errlen, -EINVAL, "queue %u: "
			    "owned descriptors without VQ_SPLIT_RUNTIME",
			    q->index));
	}
	return (0);
dup:
	return (va_err(err, errlen, -EINVAL, "field %u: a second %s for queue "
	    "%u", f.index, va_ctx_type_name(f.type), q->index));
}

/* What the draft needs, from the state or the destination's own. */
static int
draft_needs(const struct vds *s, const struct vds *base, const uint8_t **cfg,
    uint32_t *cfg_len, const uint64_t **feat, uint32_t *nf, char *err,
    size_t errlen)
{
	const struct va_ctx_type *t;
	const struct vds_vq *q;
	uint32_t	 i;
	char		 why[160];
	int		 rc;

	if (!(s->have & VDS_H_COMMON))
		return (va_err(err, errlen, -EINVAL, "COMMON_CFG is missing: "
		    "the draft needs the whole PCI_COMMON_CFG"));
	*cfg = s->config;
	*cfg_len = s->config_len;
	if (!(s->have & VDS_H_DEVICE_CONFIG) && base != NULL &&
	    (base->have & VDS_H_DEVICE_CONFIG)) {
		*cfg = base->config;
		*cfg_len = base->config_len;
	} else if (!(s->have & VDS_H_DEVICE_CONFIG))
		return (va_err(err, errlen, -EINVAL, "DEVICE_CONFIG is "
		    "missing (the source's dialect does not carry it) and the "
		    "destination's own is not known: the draft needs "
		    "DEV_CFG_LAYOUT"));
	*feat = s->dev_features;
	*nf = s->ndev;
	if (!(s->have & VDS_H_DEVICE_FEATURES) && base != NULL &&
	    (base->have & VDS_H_DEVICE_FEATURES)) {
		*feat = base->dev_features;
		*nf = base->ndev;
	} else if (!(s->have & VDS_H_DEVICE_FEATURES))
		return (va_err(err, errlen, -EINVAL, "DEVICE_FEATURES is "
		    "missing and the destination's own are not known: the "
		    "draft needs DEV_FEATURES"));
	for (i = 0; i < s->nvq; i++) {
		q = &s->vq[i];
		if (!(q->has & VDS_VQ_HAS_CFG))
			return (va_err(err, errlen, -EINVAL, "VQ of queue %u "
			    "is missing: the draft needs its PCI_VQ_CFG",
			    q->index));
		if (!(q->has & VDS_VQ_HAS_SPLIT))
			return (va_err(err, errlen, -EINVAL, "VQ_SPLIT (avail "
			    "index) of queue %u is missing: the source keeps "
			    "it in the used ring in guest memory; read it from "
			    "there first", q->index));
	}
	for (i = 0; i < s->nvendor; i++) {
		if (s->vendor[i].vendor < 0x80000000u &&
		    !(s->vendor[i].flags & VDS_F_OPTIONAL))
			return (va_err(err, errlen, -EINVAL, "VENDOR %#x "
			    "cannot be a draft vendor type (0x80000000 and "
			    "up)", s->vendor[i].vendor));
		/* A type the draft knows is checked as the device (and
		 * draft_to_canon) would: refused here, before it is sent. */
		if ((t = va_ctx_type_find(s->vendor[i].vendor)) != NULL &&
		    (rc = va_ctx_value_check(t, s->vendor[i].p,
		    s->vendor[i].len, why, sizeof(why))) != 0)
			return (va_err(err, errlen, rc, "VENDOR %#x (%s): %s",
			    s->vendor[i].vendor, t->name, why));
		/* One it does not know may only be optional: a draft device
		 * refuses an unknown mandatory field (devctx.c), so would we
		 * reading the image back (fuzz_devstate found this). */
		if (t == NULL && !(s->vendor[i].flags & VDS_F_OPTIONAL))
			return (va_err(err, errlen, -EINVAL, "VENDOR %#x is "
			    "mandatory and not a draft type: a draft device "
			    "refuses an unknown mandatory field",
			    s->vendor[i].vendor));
	}
	return (0);
}

static long
draft_from_canon(const struct vds *s, const struct vds *base, uint8_t *buf,
    size_t cap, char *err, size_t errlen)
{
	const struct vds_vq *q;
	struct va_ctx_buf b;
	const uint8_t	*cfg = NULL;
	uint32_t	 cfg_len = 0, nf = 0, i, k, type;
	const uint64_t	*feat = NULL;
	uint8_t		*v;
	long		 n;
	int		 rc;

	if ((rc = draft_needs(s, base, &cfg, &cfg_len, &feat, &nf, err,
	    errlen)) != 0)
		return (rc);
	va_ctx_begin(&b, buf, cap);
	if ((v = va_ctx_add(&b, VA_CTX_PCI_COMMON_CFG, 0,
	    VA_CTX_COMMON_LEN)) != NULL)
		vds_common_full(s, base, v);
	if ((v = va_ctx_add(&b, VA_CTX_DEV_CFG_LAYOUT, 0, cfg_len)) != NULL)
		memcpy(v, cfg, cfg_len);
	if ((v = va_ctx_add(&b, VA_CTX_DEV_FEATURES, 0, 8 * nf)) != NULL) {
		for (i = 0; i < nf; i++)
			put_le64(v + 8 * i, feat[i]);
	}
	for (i = 0; i < s->nvq; i++) {
		q = &s->vq[i];
		if ((v = va_ctx_add(&b, VA_CTX_PCI_VQ_CFG, 0,
		    VA_CTX_VQ_CFG_LEN)) == NULL)
			continue;
		put_le16(v, q->index);
		put_le16(v + 2, q->size);
		put_le16(v + 4, q->msix);
		put_le64(v + 8, q->desc);
		put_le64(v + 16, q->driver);
		put_le64(v + 24, q->device);
	}
	for (i = 0; i < s->nvq; i++) {
		q = &s->vq[i];
		if ((v = va_ctx_add(&b, VA_CTX_VQ_SPLIT_RUNTIME, 0,
		    VA_CTX_VQ_RT_LEN)) == NULL)
			continue;
		put_le16(v, q->index);
		put_le16(v + 2, q->avail_idx);
		v[4] = (uint8_t)q->enabled;
	}
	for (i = 0; i < s->nvq; i++) {
		q = &s->vq[i];
		if ((v = va_ctx_add(&b, VA_CTX_VQ_SPLIT_DEV_OWN_DESC, 0,
		    VA_CTX_OWN_DESC_HDR + 2 * (uint64_t)q->nown)) == NULL)
			continue;
		put_le16(v, q->index);
		put_le16(v + 2, q->nown);
		if (q->nown > 0)
			memcpy(v + VA_CTX_OWN_DESC_HDR, q->own,
			    2 * (size_t)q->nown);
	}
	if ((s->have & VDS_H_NET) && (v = va_ctx_add(&b, VA_CTX_NET_CVQ_STATE,
	    0, VA_CTX_CVQ_FIXED + 6 * (uint64_t)(s->net.uc +
	    s->net.mc))) != NULL) {
		memcpy(v, s->net.mac, 6);
		put_le16(v + 6, s->net.rx_mode);
		memcpy(v + VA_CTX_CVQ_VLAN_OFF, s->net.vlan, 512);
		put_le32(v + VA_CTX_CVQ_UC_OFF, s->net.uc);
		put_le32(v + VA_CTX_CVQ_MC_OFF, s->net.mc);
		for (k = 0; k < s->net.uc + s->net.mc; k++)
			memcpy(v + VA_CTX_CVQ_FIXED + 6 * k, s->net.macs[k], 6);
	}
	for (i = 0; i < s->nvendor; i++) {
		type = s->vendor[i].vendor;
		if (type < 0x80000000u)
			continue;	/* optional, and not expressible */
		if ((v = va_ctx_add(&b, type, (s->vendor[i].flags &
		    VDS_F_OPTIONAL) ? VA_CTX_F_OPTIONAL : 0,
		    s->vendor[i].len)) != NULL && s->vendor[i].len > 0)
			memcpy(v, s->vendor[i].p, s->vendor[i].len);
	}
	if ((n = va_ctx_end(&b)) < 0)
		return (va_err(err, errlen, (int)n, "device context of %zu "
		    "bytes does not fit in %zu", b.len, cap));
	if ((size_t)n > VA_CTX_MAX_BYTES)
		return (va_err(err, errlen, -E2BIG, "device context of %ld "
		    "bytes exceeds the draft's %u", n, VA_CTX_MAX_BYTES));
	return (n);
}

static const uint8_t draft_carry[VA_CI_N] = {
	[VA_CI_DEVICE_FEATURES] = VA_C_VERIFIED,
	/* only the 32-bit window of PCI_COMMON_CFG's driver_feature */
	[VA_CI_DRIVER_FEATURES] = VA_C_PROVISIONED,
	[VA_CI_COMMON] = VA_C_CARRIED,
	[VA_CI_DEVICE_STATUS] = VA_C_CARRIED,
	[VA_CI_DEVICE_CONFIG] = VA_C_CARRIED,
	[VA_CI_VQ] = VA_C_CARRIED,
	[VA_CI_VQ_NOTIFY] = VA_C_PROVISIONED,
	[VA_CI_VQ_AVAIL] = VA_C_CARRIED,
	[VA_CI_VQ_OWN] = VA_C_CARRIED,
	[VA_CI_NET] = VA_C_CARRIED,
	[VA_CI_VENDOR] = VA_C_CARRIED,
};

const struct va_dialect va_dialect_draft = {
	.id = VA_DIALECT_DRAFT,
	.name = "draft",
	.iface = "virtio-admin/draft",
	.origin = "the draft device-migration admin commands (virtio-comment, "
	    "Oct 2023; seeds 000, 002)",
	.framing = VA_FRAME_ADMIN,
	.ops = va_draft_optab,
	.nops = VA_DRAFT_NOPS,
	.mode_names = draft_modes,
	.nmodes = 3,
	.mode_vmig = draft_vmig,
	.mode_device = draft_mode_device,
	.mode_next = draft_mode_next,
	.vmig_modes = VMIG_MODE_BIT(VMIG_MODE_ACTIVE) |
	    VMIG_MODE_BIT(VMIG_MODE_STOPPED) | VMIG_MODE_BIT(VMIG_MODE_FROZEN),
	.dirty_kinds = 1u << VMIG_DIRTY_WRITE_RECORDS,
	.ops_steps = draft_steps,
	.to_canon = draft_to_canon,
	.from_canon = draft_from_canon,
	.carry = draft_carry,
	.need = draft_need,
	.nneed = nitems(draft_need),
	.mode_cmd = draft_mode_cmd,
};
