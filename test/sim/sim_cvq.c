/*
 * sim_cvq.c: the control-virtqueue proposal, device side (cvq.h; the
 * plugin's README.md has our choices): the generic v1 framing with the
 * ack in the last writable byte, INIT / RUNNING / QUIESCED / FREEZED,
 * dirty-page tracking pulled (the device keeps the map; REPORT reads and
 * clears it) or pushed (the device sets bits in the driver's map, given
 * as the writable part of an indirect START), and the state saved and
 * restored in portions at offsets.
 *
 * The device side is written apart from the driver's converters
 * (dialect_*.c) on purpose: two implementations of one layout, and the
 * round trips through both are the test.
 *
 * A save takes a snapshot at offset 0; later offsets read it. A restore
 * takes portions in order from offset 0 and applies the image when its
 * header's length has arrived, all of it or nothing. Any state change
 * drops a save snapshot and a partial restore. Save and restore only
 * while FREEZED, as the proposal says.
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
#define ERR		CVQ_ACK_ERR

static const char *const track_names[] = {
	[0] = "off",
	[CVQ_TRACK_PUSH_BITMAP] = "push-bitmap",
	[CVQ_TRACK_PUSH_BYTEMAP] = "push-bytemap",
	[CVQ_TRACK_PULL_BITMAP] = "pull-bitmap",
	[CVQ_TRACK_PULL_BYTEMAP] = "pull-bytemap",
};

const char *
sim_cvq_track_name(int mode)
{
	if (mode < 0 || mode > CVQ_TRACK_PULL_BYTEMAP)
		return ("?");
	return (track_names[mode]);
}

/* ------------------------------------------------------ the image */

long
sim_cvq_build(struct sim *sim, struct sim_vf *vf, uint8_t *buf, size_t cap)
{
	const struct sim_devstate *st = &vf->st;
	const struct sim_cvq *n = &st->cvq;
	struct cvq_sbuf	 b;
	uint8_t		*v;
	unsigned int	 i, k;

	cvq_sbuf_init(&b, buf, cap, VA_DEVTYPE_NET);
	if ((v = cvq_portion_add(&b, CVQ_PT_FEATURES, 0, 0,
	    CVQ_FEATURES_HDR + 32)) != NULL) {
		put_le16(v, 2);
		put_le16(v + 2, 2);
		put_le64(v + 8, st->features[0]);
		put_le64(v + 16, st->features[1]);
		put_le64(v + 24, st->drv_features[0]);
		put_le64(v + 32, st->drv_features[1]);
	}
	if ((v = cvq_portion_add(&b, CVQ_PT_TRANSPORT, 0, 0,
	    CVQ_TRANSPORT_LEN)) != NULL)
		memcpy(v, st->common, CVQ_TRANSPORT_LEN);
	if ((v = cvq_portion_add(&b, CVQ_PT_DEVCFG, 0, 0,
	    SIM_DEVCFG_LEN)) != NULL)
		memcpy(v, st->devcfg, SIM_DEVCFG_LEN);
	for (i = 0; i < SIM_NUM_VQS; i++) {
		if ((v = cvq_portion_add(&b, CVQ_PT_QUEUE, 0, (uint16_t)i,
		    CVQ_QUEUE_HDR + 2 * st->vq[i].nown)) == NULL)
			continue;
		put_le16(v, st->vq[i].size);
		put_le16(v + 2, st->vq[i].msix);
		v[4] = st->vq[i].enabled;
		put_le16(v + 6, st->vq[i].notify_off);
		put_le16(v + 8, st->vq[i].notif_data);
		put_le16(v + 10, st->vq[i].avail_idx);
		put_le16(v + 12, st->vq[i].nown);
		put_le64(v + 16, st->vq[i].desc);
		put_le64(v + 24, st->vq[i].driver);
		put_le64(v + 32, st->vq[i].device);
		for (k = 0; k < st->vq[i].nown; k++)
			put_le16(v + CVQ_QUEUE_HDR + 2 * k, st->vq[i].own[k]);
	}
	if ((v = cvq_portion_add(&b, CVQ_PT_NET_RX, 0, 0,
	    CVQ_NET_RX_LEN)) != NULL) {
		put_le16(v, n->rx_mode);
		memcpy(v + 2, n->mac, 6);
	}
	if ((v = cvq_portion_add(&b, CVQ_PT_NET_VLAN, 0, 0,
	    CVQ_NET_VLAN_LEN)) != NULL)
		memcpy(v, n->vlan, CVQ_NET_VLAN_LEN);
	if ((v = cvq_portion_add(&b, CVQ_PT_NET_MACS, 0, 0, CVQ_NET_MACS_HDR +
	    6 * (n->uc + n->mc))) != NULL) {
		put_le32(v, n->uc);
		put_le32(v + 4, n->mc);
		memcpy(v + CVQ_NET_MACS_HDR, n->macs, 6 * (size_t)(n->uc +
		    n->mc));
	}
	if ((v = cvq_portion_add(&b, CVQ_PT_VENDOR, CVQ_PT_F_OPTIONAL, 0,
	    CVQ_VENDOR_HDR + VA_CTX_SIM_DMA_LEN)) != NULL) {
		put_le32(v, VDS_VENDOR_SIM_DMA);
		sim_dma_ctx_put(&st->dma, v + CVQ_VENDOR_HDR);
	}
	(void)sim;
	return (cvq_sbuf_end(&b));
}

/* One portion into the new state; checks beyond the codec's. */
static int
apply_portion(struct sim_devstate *ns, const struct sim_devstate *cur,
    const struct cvq_portion *pt, unsigned int *seen, char *err,
    size_t errlen)
{
	const uint8_t	*v = pt->value;
	uint32_t	 a, b, k;
	struct sim_vq	*q;

	switch (pt->kind) {
	case CVQ_PT_FEATURES:
		a = get_le16(v);
		b = get_le16(v + 2);
		if (a != 2 || get_le64(v + 8) != cur->features[0] ||
		    get_le64(v + 16) != cur->features[1])
			return (va_err(err, errlen, -EINVAL, "device features "
			    "do not match this VF's %#llx",
			    (unsigned long long)cur->features[0]));
		if (b > 2 || (b > 0 && (get_le64(v + 24) &
		    ~cur->features[0])) || (b > 1 && (get_le64(v + 32) &
		    ~cur->features[1])))
			return (va_err(err, errlen, -EINVAL, "driver features "
			    "are not a subset of the device's"));
		if (b > 0) {
			ns->drv_features[0] = get_le64(v + 24);
			ns->drv_features[1] = b > 1 ? get_le64(v + 32) : 0;
		}
		seen[0]++;
		return (0);
	case CVQ_PT_TRANSPORT:
		if (get_le16(v + VA_COMMON_NUM_QUEUES) != SIM_NUM_VQS)
			return (va_err(err, errlen, -EINVAL, "num_queues %u, "
			    "this VF has %u",
			    get_le16(v + VA_COMMON_NUM_QUEUES), SIM_NUM_VQS));
		memcpy(ns->common, v, CVQ_TRANSPORT_LEN);
		seen[1]++;
		return (0);
	case CVQ_PT_DEVCFG:
		if (pt->length != SIM_DEVCFG_LEN)
			return (va_err(err, errlen, -EINVAL, "net config is "
			    "%u bytes, not %u", SIM_DEVCFG_LEN, pt->length));
		memcpy(ns->devcfg, v, SIM_DEVCFG_LEN);
		return (0);
	case CVQ_PT_QUEUE:
		if (pt->key >= SIM_NUM_VQS)
			return (va_err(err, errlen, -EINVAL, "queue %u, this "
			    "VF has %u", pt->key, SIM_NUM_VQS));
		q = &ns->vq[pt->key];
		if (get_le16(v) > SIM_VQ_SIZE || get_le16(v + 12) > SIM_OWN_MAX)
			return (va_err(err, errlen, -EINVAL, "queue %u: size "
			    "%u or %u owned descriptors too many", pt->key,
			    get_le16(v), get_le16(v + 12)));
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
		for (k = 0; k < q->nown; k++) {
			q->own[k] = get_le16(v + CVQ_QUEUE_HDR + 2 * k);
			if (q->own[k] >= SIM_VQ_SIZE)
				return (va_err(err, errlen, -EINVAL, "queue "
				    "%u: descriptor %u out of range", pt->key,
				    q->own[k]));
		}
		seen[2 + pt->key]++;
		return (0);
	case CVQ_PT_NET_RX:
		ns->cvq.rx_mode = get_le16(v);
		memcpy(ns->cvq.mac, v + 2, 6);
		return (0);
	case CVQ_PT_NET_VLAN:
		memcpy(ns->cvq.vlan, v, CVQ_NET_VLAN_LEN);
		return (0);
	case CVQ_PT_NET_MACS:
		ns->cvq.uc = get_le32(v);
		ns->cvq.mc = get_le32(v + 4);
		memset(ns->cvq.macs, 0, sizeof(ns->cvq.macs));
		memcpy(ns->cvq.macs, v + CVQ_NET_MACS_HDR,
		    6 * (size_t)(ns->cvq.uc + ns->cvq.mc));
		return (0);
	case CVQ_PT_VENDOR:
		if (get_le32(v) == VDS_VENDOR_SIM_DMA && pt->length ==
		    CVQ_VENDOR_HDR + VA_CTX_SIM_DMA_LEN)
			return (sim_dma_ctx_get(&ns->dma, v + CVQ_VENDOR_HDR,
			    err, errlen));
		if (pt->flags & CVQ_PT_F_OPTIONAL)
			return (0);
		return (va_err(err, errlen, -EINVAL, "vendor state %#x is "
		    "not ours", get_le32(v)));
	}
	return (0);	/* an unknown optional portion: skipped */
}

int
sim_cvq_apply(struct sim *sim, struct sim_vf *vf, const uint8_t *buf,
    size_t len, char *err, size_t errlen)
{
	struct sim_devstate *ns;
	struct cvq_iter	 it;
	struct cvq_portion pt;
	unsigned int	 seen[2 + SIM_NUM_VQS], i;
	char		 why[200];
	int		 rc;

	if ((rc = cvq_iter_init(&it, buf, len, err, errlen)) != 0)
		return (rc);
	if (it.device_type != VA_DEVTYPE_NET)
		return (va_err(err, errlen, -EINVAL, "state of device type %u",
		    it.device_type));
	ns = xmalloc(sizeof(*ns));
	*ns = vf->st;
	memset(seen, 0, sizeof(seen));
	while ((rc = cvq_iter_next(&it, &pt, err, errlen)) == 1) {
		if (pt.known && (rc = apply_portion(ns, &vf->st, &pt, seen,
		    why, sizeof(why))) != 0) {
			snprintf(err, errlen, "portion %u (%s): %s", pt.index,
			    cvq_portion_name(pt.kind), why);
			goto out;
		}
	}
	if (rc != 0)
		goto out;
	rc = -EINVAL;
	if (seen[0] == 0 || seen[1] == 0) {
		snprintf(err, errlen, "the %s portion is missing",
		    seen[0] == 0 ? "FEATURES" : "TRANSPORT");
		goto out;
	}
	for (i = 0; i < SIM_NUM_VQS; i++) {
		if (seen[2 + i] == 0) {
			snprintf(err, errlen, "queue %u has no QUEUE portion",
			    i);
			goto out;
		}
	}
	vf->st = *ns;
	rc = 0;
out:
	free(ns);
	(void)sim;
	return (rc);
}

/* ----------------------------------------------------- dirty pages */

void
sim_cvq_track_stop(struct sim_vf *vf)
{
	free(vf->track.map);
	memset(&vf->track, 0, sizeof(vf->track));
	vf->recording = 0;
}

/* Set page's entry in a map spread over segments of shared memory. */
static int
push_set(struct sim *sim, struct sim_track *t, uint64_t page, int bytemap)
{
	uint64_t	off = bytemap ? page : page / 8;
	unsigned int	k;
	uint8_t		*p;

	for (k = 0; k < t->nseg; k++) {
		if (off >= t->seg[k].len) {
			off -= t->seg[k].len;
			continue;
		}
		if (sim->shm == NULL || t->seg[k].addr + off >= sim->shm_size)
			return (0);
		p = sim->shm + t->seg[k].addr + off;
		/* The driver takes entries with an atomic exchange. */
		if (bytemap)
			__atomic_store_n(p, 1, __ATOMIC_RELEASE);
		else
			__atomic_fetch_or(p, (uint8_t)(1u << (page % 8)),
			    __ATOMIC_RELEASE);
		return (1);
	}
	return (0);
}

void
sim_cvq_record(struct sim *sim, struct sim_vf *vf, uint64_t iova,
    uint64_t len)
{
	struct sim_track *t = &vf->track;
	uint64_t	 page, last;
	int		 bytemap = CVQ_TRACK_BYTEMAP(t->mode);

	if (t->mode == 0 || len == 0)
		return;
	vf->recs_made++;
	last = (iova + len - 1) / CVQ_PAGE_SIZE;
	for (page = iova / CVQ_PAGE_SIZE; page <= last; page++) {
		if (CVQ_TRACK_PUSH(t->mode)) {
			if (!push_set(sim, t, page, bytemap))
				t->untracked++;
		} else if (bytemap && page < t->len)
			t->map[page] = 1;
		else if (!bytemap && page / 8 < t->len)
			t->map[page / 8] |= (uint8_t)(1u << (page % 8));
		else
			t->untracked++;
	}
}

/* An FLR: INIT from anywhere; tracking and sessions end. */
void
sim_cvq_flr(struct sim *sim, struct sim_vf *vf)
{
	log_info("%s: vf%u: FLR -> init", __func__, vf->id);
	sim_cvq_track_stop(vf);
	free(vf->rd);
	free(vf->wr);
	vf->rd = vf->wr = NULL;
	vf->rd_len = vf->rd_pos = vf->wr_len = vf->wr_cap = 0;
	vf->mode = CVQ_S_INIT;
	(void)sim;
}

/* Pages up to the end of the VF's attached memory: what it may write. */
static uint64_t
pages_needed(const struct sim_vf *vf)
{
	if (vf->mem.p == NULL)
		return (0);
	return ((vf->mem.iova + vf->mem.size + CVQ_PAGE_SIZE - 1) /
	    CVQ_PAGE_SIZE);
}

static uint16_t
cmd_identify(struct sim_req *r)
{
	struct sim	*sim = r->sim;

	r->rlen = cvq_identify_put(r->res, sim->o.cvq_modes,
	    sim->o.cvq_log_bitmap, sim->o.cvq_log_bytemap);
	return (CVQ_ACK_OK);
}

static uint16_t
cmd_start(struct sim_req *r)
{
	struct sim_vf	*vf = r->vf;
	struct sim_track *t = &vf->track;
	const struct vq_chain *ch = r->ch;
	uint64_t	 need = pages_needed(vf), have = 0;
	uint16_t	 func, mode, lg;
	unsigned int	 k;
	char		 why[160];

	if (cvq_start_get(r->data, r->dlen, &func, &mode, why,
	    sizeof(why)) != 0)
		return (req_fail(r, ERR, 0, "%s", why));
	if (!(r->sim->o.cvq_modes & (1u << (mode - 1))))
		return (req_fail(r, ERR, 0, "tracking mode %s is not offered",
		    sim_cvq_track_name(mode)));
	if (t->mode != 0)
		return (req_fail(r, ERR, 0, "tracking already started (%s)",
		    sim_cvq_track_name(t->mode)));
	if (CVQ_TRACK_PUSH(mode)) {
		/* The map: every writable segment but the last (the ack). */
		if (ch == NULL || ch->nseg - ch->nread < 2)
			return (req_fail(r, ERR, 0, "push mode without a map "
			    "before the ack (an indirect START)"));
		for (k = ch->nread; k + 1 < ch->nseg; k++) {
			t->seg[t->nseg++] = ch->seg[k];
			have += (uint64_t)ch->seg[k].len *
			    (CVQ_TRACK_BYTEMAP(mode) ? 1 : 8);
		}
		if (have < need) {
			t->nseg = 0;
			return (req_fail(r, ERR, 0, "the map covers %llu "
			    "pages, the VF writes up to page %llu",
			    (unsigned long long)have,
			    (unsigned long long)need));
		}
	} else {
		lg = CVQ_TRACK_BYTEMAP(mode) ? r->sim->o.cvq_log_bytemap :
		    r->sim->o.cvq_log_bitmap;
		if (need > (1ULL << lg))
			return (req_fail(r, ERR, 0, "the VF writes up to page "
			    "%llu, past the 2^%u it can track",
			    (unsigned long long)need, lg));
		t->len = (size_t)(CVQ_TRACK_BYTEMAP(mode) ? need :
		    (need + 7) / 8);
		t->map = xcalloc(t->len > 0 ? t->len : 1, 1);
	}
	t->mode = mode;
	vf->recording = 1;
	log_debug("%s: vf%u: tracking %s", __func__, vf->id,
	    sim_cvq_track_name(mode));
	return (CVQ_ACK_OK);
}

static uint16_t
cmd_stop(struct sim_req *r)
{
	/* Idempotent: the driver stops on every way out of a job. */
	sim_cvq_track_stop(r->vf);
	return (CVQ_ACK_OK);
}

static uint16_t
cmd_report_size(struct sim_req *r)
{
	struct sim_track *t = &r->vf->track;

	if (t->mode == 0 || CVQ_TRACK_PUSH(t->mode))
		return (req_fail(r, ERR, 0, "no pull tracking running (%s)",
		    sim_cvq_track_name(t->mode)));
	r->rlen = cvq_u32_put(r->res, (uint32_t)t->len);
	return (CVQ_ACK_OK);
}

static uint16_t
cmd_report(struct sim_req *r)
{
	struct sim_track *t = &r->vf->track;
	uint32_t	 off;
	uint16_t	 func;
	size_t		 n;
	char		 why[160];

	if (t->mode == 0 || CVQ_TRACK_PUSH(t->mode))
		return (req_fail(r, ERR, 0, "no pull tracking running (%s)",
		    sim_cvq_track_name(t->mode)));
	if (cvq_offset_get(r->data, r->dlen, &func, &off, why,
	    sizeof(why)) != 0)
		return (req_fail(r, ERR, 0, "%s", why));
	if (off > t->len)
		return (req_fail(r, ERR, 0, "offset %u past the %zu-byte "
		    "report", off, t->len));
	/* Read and clear what is returned. */
	n = MIN(r->rcap, t->len - off);
	memcpy(r->res, t->map + off, n);
	memset(t->map + off, 0, n);
	r->rlen = n;
	return (CVQ_ACK_OK);
}

/* The proposal's transitions (INIT is left, never entered, here). */
/* A state change ends a save or restore in progress. */
static void
cvq_mode_set(struct sim_vf *vf, int mode)
{
	sim_vf_drop_sessions(vf);
	(void)mode;
}

static const uint8_t cvq_mode_ok[4][4] = {
	/* to:	init	running	quiesced freezed */
	[CVQ_S_INIT] = { 1, 1, 0, 1 },
	[CVQ_S_RUNNING] = { 0, 1, 1, 0 },
	[CVQ_S_QUIESCED] = { 0, 1, 1, 1 },
	[CVQ_S_FREEZED] = { 0, 0, 1, 1 },
};

static uint16_t
cmd_set_state(struct sim_req *r)
{
	uint16_t	func, state;
	char		why[160];

	if (cvq_set_state_get(r->data, r->dlen, &func, &state, why,
	    sizeof(why)) != 0)
		return (req_fail(r, ERR, 0, "%s", why));
	if (state == CVQ_S_INIT && r->vf->mode != CVQ_S_INIT)
		return (req_fail(r, ERR, 0, "INIT is entered by an FLR, not "
		    "set"));
	if (sim_vf_set_mode(r->sim, r->vf, (uint8_t)state, why,
	    sizeof(why)) != 0)
		return (req_fail(r, ERR, 0, "%s", why));
	return (CVQ_ACK_OK);
}

static uint16_t
cmd_attrs(struct sim_req *r)
{
	long	n = sim_cvq_build(r->sim, r->vf, NULL, 0);

	r->rlen = cvq_attrs_put(r->res, (uint32_t)n, r->vf->mode);
	return (CVQ_ACK_OK);
}

static uint16_t
cmd_save(struct sim_req *r)
{
	struct sim_vf	*vf = r->vf;
	uint32_t	 off;
	uint16_t	 func;
	size_t		 n;
	char		 why[160];

	if (cvq_offset_get(r->data, r->dlen, &func, &off, why,
	    sizeof(why)) != 0)
		return (req_fail(r, ERR, 0, "%s", why));
	if (vf->mode != CVQ_S_FREEZED)
		return (req_fail(r, ERR, 0, "save while %s: freeze first",
		    cvq_state_name(vf->mode)));
	if (off == 0) {
		/* A new image: a snapshot of the state as it is now. */
		free(vf->rd);
		vf->rd_len = (size_t)sim_cvq_build(r->sim, vf, NULL, 0);
		vf->rd = xmalloc(vf->rd_len);
		(void)sim_cvq_build(r->sim, vf, vf->rd, vf->rd_len);
	}
	if (vf->rd == NULL || off > vf->rd_len)
		return (req_fail(r, ERR, 0, "offset %u without a save from 0, "
		    "or past its %zu bytes", off, vf->rd_len));
	n = MIN(r->rcap, vf->rd_len - off);
	memcpy(r->res, vf->rd + off, n);
	vf->rd_pos = off + n;
	r->rlen = n;
	return (CVQ_ACK_OK);
}

static uint16_t
cmd_restore(struct sim_req *r)
{
	struct sim_vf	*vf = r->vf;
	uint32_t	 off, total;
	uint16_t	 func;
	size_t		 n = r->dlen - CVQ_OFFSET_LEN;
	char		 why[200];
	int		 rc;

	if (cvq_offset_get(r->data, r->dlen, &func, &off, why,
	    sizeof(why)) != 0)
		return (req_fail(r, ERR, 0, "%s", why));
	if (vf->mode != CVQ_S_FREEZED)
		return (req_fail(r, ERR, 0, "restore while %s: freeze first",
		    cvq_state_name(vf->mode)));
	if (off == 0)
		vf->wr_len = 0;
	if (off != vf->wr_len)
		return (req_fail(r, ERR, 0, "portion at %u, expected %zu",
		    off, vf->wr_len));
	if (n > CVQ_ST_MAX_BYTES - vf->wr_len)
		goto bad_len;
	if (vf->wr_len + n > vf->wr_cap) {
		vf->wr_cap = MAX(vf->wr_len + n, vf->wr_cap * 2);
		vf->wr = xrealloc(vf->wr, vf->wr_cap);
	}
	memcpy(vf->wr + vf->wr_len, r->data + CVQ_OFFSET_LEN, n);
	vf->wr_len += n;
	if ((rc = cvq_state_peek(vf->wr, vf->wr_len, &total, why,
	    sizeof(why))) <= 0) {
		if (rc == 0)
			return (CVQ_ACK_OK);
		vf->wr_len = 0;
		return (req_fail(r, ERR, 0, "%s", why));
	}
	if (vf->wr_len < total)
		return (CVQ_ACK_OK);
	if (vf->wr_len > total)
		goto bad_len;
	/* The image is complete: all of it applies, or none. */
	rc = sim_cvq_apply(r->sim, vf, vf->wr, vf->wr_len, why, sizeof(why));
	vf->wr_len = 0;
	if (rc != 0)
		return (req_fail(r, ERR, 0, "state refused, VF unchanged: %s",
		    why));
	log_info("%s: vf%u: state restored", __func__, vf->id);
	return (CVQ_ACK_OK);
bad_len:
	vf->wr_len = 0;
	return (req_fail(r, ERR, 0, "portions run past the image's length"));
}

static const struct sim_handler cvq_fns[] = {
	{ CVQ_OP_IDENTIFY, cmd_identify },
	{ CVQ_OP_START_DIRTY_PAGE_TRACK, cmd_start },
	{ CVQ_OP_STOP_DIRTY_PAGE_TRACK, cmd_stop },
	{ CVQ_OP_GET_DIRTY_REPORT_SIZE, cmd_report_size },
	{ CVQ_OP_REPORT_DIRTY_PAGES, cmd_report },
	{ CVQ_OP_SET_STATE, cmd_set_state },
	{ CVQ_OP_GET_STATE_ATTRS, cmd_attrs },
	{ CVQ_OP_SAVE_STATE, cmd_save },
	{ CVQ_OP_RESTORE_STATE, cmd_restore },
};

/* ------------------------------------------------------- framing */

static const char *
cvq_frame_check(const struct vq_chain *ch)
{
	if (ch->misordered || ch->rlen < CVQ_HDR_LEN ||
	    ch->wlen < CVQ_ACK_LEN || ch->rlen > VA_HDR_LEN + VA_DATA_MAX)
		return ("need class and command, then writable room for the "
		    "ack");
	return (NULL);
}

static void
cvq_status(uint8_t *out, uint16_t status, uint16_t qual,
    struct sim_answer *a)
{
	a->len = 0;
	a->ack = status == 0 ? CVQ_ACK_OK : CVQ_ACK_ERR;
}

static void
cvq_key(const uint8_t *in, size_t inlen, uint16_t *opcode, uint64_t *member)
{
	*opcode = 0xffff;
	*member = 0;
	if (inlen < CVQ_HDR_LEN)
		return;
	*opcode = cvq_hdr_get(in);
	if (*opcode != CVQ_OP_IDENTIFY && inlen >= CVQ_HDR_LEN + 2)
		*member = get_le16(in + CVQ_HDR_LEN);
}

static void
cvq_exec(struct sim *sim, const struct vq_chain *ch, const uint8_t *in,
    size_t inlen, uint8_t *out, size_t outcap, struct sim_answer *a)
{
	struct sim_req	 r;
	sim_cmd_fn	 fn = NULL;
	uint16_t	 opcode, status;
	size_t		 i, wlen = ch != NULL ? (size_t)ch->wlen : outcap;

	a->len = 0;
	a->ack = CVQ_ACK_ERR;
	memset(&r, 0, sizeof(r));
	r.sim = sim;
	r.ch = ch;
	sim->n_cmds++;
	if (inlen < CVQ_HDR_LEN || wlen < CVQ_ACK_LEN) {
		status = req_fail(&r, ERR, 0, "command of %zu bytes, %zu "
		    "writable", inlen, wlen);
		goto done;
	}
	opcode = cvq_hdr_get(in);
	r.data = in + CVQ_HDR_LEN;
	r.dlen = inlen - CVQ_HDR_LEN;
	r.res = out;
	/* The ack takes the last writable byte. */
	r.rcap = MIN(outcap, wlen - CVQ_ACK_LEN);
	r.oi = va_dialect_op(sim->dl->d, opcode);
	for (i = 0; i < sim->dl->nfns; i++) {
		if (sim->dl->fns[i].opcode == opcode)
			fn = sim->dl->fns[i].fn;
	}
	if (r.oi == NULL || fn == NULL) {
		status = req_fail(&r, ERR, 0, "unknown class %u command %u",
		    in[0], in[1]);
		goto done;
	}
	if (r.oi->per_member) {
		if (r.dlen < 2 || (r.vf = sim_vf_get(sim,
		    get_le16(r.data))) == NULL) {
			status = req_fail(&r, ERR, 0, "no VF %u (1..%u)",
			    r.dlen < 2 ? 0 : get_le16(r.data), sim->o.nvfs);
			goto done;
		}
		r.vf->cmds++;
	}
	if (r.dlen < r.oi->data_min) {
		status = req_fail(&r, ERR, 0, "data of %zu bytes, needs %u",
		    r.dlen, r.oi->data_min);
		goto done;
	}
	if (r.rcap < r.oi->result_min) {
		status = req_fail(&r, ERR, 0, "result room of %zu bytes, "
		    "needs %u", r.rcap, r.oi->result_min);
		goto done;
	}
	if (r.oi->result_max != VA_VAR && r.rcap > r.oi->result_max)
		r.rcap = r.oi->result_max;
	status = fn(&r);
done:
	if (status != CVQ_ACK_OK)
		r.rlen = 0;
	a->len = r.rlen;
	a->ack = status;
}

static long
cvq_image(struct sim *sim, struct sim_vf *vf, uint8_t *buf, size_t cap)
{
	return (sim_cvq_build(sim, vf, buf, cap));
}

/* The driver's memory is gone: push maps with it. */
static void
cvq_reset(struct sim *sim)
{
	unsigned int	i;

	for (i = 0; i < sim->o.nvfs; i++) {
		if (CVQ_TRACK_PUSH(sim->vfs[i].track.mode))
			sim_cvq_track_stop(&sim->vfs[i]);
	}
}

const struct sim_dialect sim_cvq = {
	.d = &va_dialect_cvq,
	.fns = cvq_fns,
	.nfns = nitems(cvq_fns),
	.active = CVQ_S_RUNNING,
	.stopped = CVQ_S_QUIESCED,
	.frozen = CVQ_S_FREEZED,
	.mode_ok = cvq_mode_ok,
	.mode_hint = "the proposal's state machine: running <-> quiesced "
	    "<-> freezed",
	.frame_check = cvq_frame_check,
	.exec = cvq_exec,
	.status = cvq_status,
	.key = cvq_key,
	.image = cvq_image,
	.reset = cvq_reset,
	.mode_set = cvq_mode_set,
	.record = sim_cvq_record,
};
