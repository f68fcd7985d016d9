/*
 * sim_cmd.c: the admin commands, device side: the framing the draft and
 * virtio 1.4 share, and the draft dialect's commands.
 *
 * sim_admin_exec() takes one command as the driver wrote it (header +
 * data, gathered from the readable descriptors) and produces the status
 * and the result. The checks every command gets (group, opcode, LIST_USE,
 * member, data and result sizes from the dialect's opcode table) come
 * first; each handler then checks its own fields. Nothing here touches
 * the ring.
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "util.h"
#include "sim.h"

/* A failed command keeps a reason the control channel can show. */
uint16_t
sim_req_fail(struct sim_req *r, uint16_t status, uint16_t qual,
    const char *fmt, ...)
{
	char	buf[200];
	va_list	ap;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	r->qual = qual;
	if (r->vf != NULL)
		snprintf(r->vf->last_error, sizeof(r->vf->last_error), "%s: %s",
		    r->oi != NULL ? r->oi->name : "?", buf);
	log_debug("%s: vf%u %s: %s (%s/%s)", __func__,
	    r->vf != NULL ? r->vf->id : 0, r->oi != NULL ? r->oi->name : "?",
	    buf, va_status_name(status), va_qual_name(qual));
	return (status);
}

#define req_fail	sim_req_fail

/* The opcodes of the PF's dialect that have a handler (0..63). */
static uint64_t
supported_list(const struct sim *sim)
{
	uint64_t	bits = 0;
	size_t		i;

	for (i = 0; i < sim->dl->nfns; i++) {
		if (sim->dl->fns[i].opcode < 64)
			bits |= 1ULL << sim->dl->fns[i].opcode;
	}
	return (bits);
}

uint16_t
sim_cmd_list_query(struct sim_req *r)
{
	r->rlen = 8;
	put_le64(r->res, supported_list(r->sim));
	return (VA_STATUS_OK);
}

uint16_t
sim_cmd_list_use(struct sim_req *r)
{
	uint64_t	want, have = supported_list(r->sim);
	size_t		i;

	if (r->dlen % 8 != 0)
		return (req_fail(r, VA_STATUS_EINVAL, VA_Q_INVALID_FIELD,
		    "list of %zu bytes is not whole le64 words", r->dlen));
	want = get_le64(r->data);
	for (i = 8; i < r->dlen; i += 8) {
		if (get_le64(r->data + i) != 0)
			return (req_fail(r, VA_STATUS_EINVAL,
			    VA_Q_INVALID_FIELD, "opcodes above 63 requested"));
	}
	if (want & ~have)
		return (req_fail(r, VA_STATUS_EINVAL, VA_Q_INVALID_FIELD,
		    "unsupported opcodes %#llx",
		    (unsigned long long)(want & ~have)));
	if ((want & 3) != 3)
		return (req_fail(r, VA_STATUS_EINVAL, VA_Q_INVALID_FIELD,
		    "LIST_QUERY and LIST_USE must stay in the list"));
	r->sim->list_in_use = 1;
	put_le64(r->sim->list_used, want);
	return (VA_STATUS_OK);
}

static uint16_t
cmd_mode_get(struct sim_req *r)
{
	r->rlen = va_mode_put(r->res, r->vf->mode);
	return (VA_STATUS_OK);
}

static uint16_t
cmd_mode_set(struct sim_req *r)
{
	char	why[160];
	int	rc;

	if (r->data[0] > VA_MODE_FREEZE)
		return (req_fail(r, VA_STATUS_EINVAL, VA_Q_INVALID_FIELD,
		    "unknown mode %u", r->data[0]));
	if ((rc = sim_vf_set_mode(r->sim, r->vf, r->data[0], why,
	    sizeof(why))) != 0)
		return (req_fail(r, VA_STATUS_EINVAL, VA_Q_INVALID_COMMAND,
		    "%s", why));
	return (VA_STATUS_OK);
}

static uint16_t
cmd_ctx_size(struct sim_req *r)
{
	long	n = sim_vf_ctx_build(r->sim, r->vf, NULL, 0);

	r->rlen = va_size_put(r->res, (uint64_t)n);
	return (VA_STATUS_OK);
}

static uint16_t
cmd_ctx_read(struct sim_req *r)
{
	struct sim_vf	*vf = r->vf;
	size_t		 chunk;
	long		 n;

	if (vf->mode == VA_MODE_ACTIVE && !r->sim->o.precopy)
		return (req_fail(r, VA_STATUS_EINVAL, VA_Q_INVALID_COMMAND,
		    "context read while active is not supported "
		    "(--no-precopy)"));
	if (vf->rd == NULL) {
		/* A new image: a snapshot of the state as it is now. */
		n = sim_vf_ctx_build(r->sim, vf, NULL, 0);
		vf->rd = xmalloc((size_t)n);
		vf->rd_len = (size_t)sim_vf_ctx_build(r->sim, vf, vf->rd,
		    (size_t)n);
		vf->rd_pos = 0;
	}
	chunk = MIN(r->rcap - VA_CTX_READ_HDR, vf->rd_len - vf->rd_pos);
	memcpy(r->res + VA_CTX_READ_HDR, vf->rd + vf->rd_pos, chunk);
	vf->rd_pos += chunk;
	va_ctxread_put(r->res, (uint32_t)chunk,
	    (uint32_t)(vf->rd_len - vf->rd_pos));
	r->rlen = VA_CTX_READ_HDR + chunk;
	if (vf->rd_pos == vf->rd_len) {
		free(vf->rd);
		vf->rd = NULL;
		vf->rd_len = vf->rd_pos = 0;
	}
	return (VA_STATUS_OK);
}

static void
drop_pending_write(struct sim_vf *vf)
{
	free(vf->wr);
	vf->wr = NULL;
	vf->wr_len = vf->wr_cap = 0;
}

static uint16_t
cmd_ctx_write(struct sim_req *r)
{
	struct sim_vf	*vf = r->vf;
	const uint8_t	*bytes;
	uint32_t	 n, flags;
	char		 why[200];

	if (vf->mode == VA_MODE_ACTIVE)
		return (req_fail(r, VA_STATUS_EINVAL, VA_Q_INVALID_COMMAND,
		    "context write while active: stop or freeze first"));
	if (va_ctxwrite_get(r->data, r->dlen, &n, &flags, &bytes, why,
	    sizeof(why)) != 0)
		return (req_fail(r, VA_STATUS_EINVAL, VA_Q_INVALID_FIELD, "%s",
		    why));
	if (n > VA_CTX_MAX_BYTES - vf->wr_len) {
		drop_pending_write(vf);
		return (req_fail(r, VA_STATUS_EINVAL, VA_Q_INVALID_FIELD,
		    "context image grows past %u bytes", VA_CTX_MAX_BYTES));
	}
	if (n > 0 && vf->wr_len + n > vf->wr_cap) {
		vf->wr_cap = MAX(vf->wr_len + n, vf->wr_cap * 2);
		vf->wr = xrealloc(vf->wr, vf->wr_cap);
	}
	if (n > 0) {
		memcpy(vf->wr + vf->wr_len, bytes, n);
		vf->wr_len += n;
	}
	if (!(flags & VA_CTX_WRITE_F_LAST))
		return (VA_STATUS_OK);
	/* The image is complete: all of it applies, or none. */
	if (sim_vf_ctx_apply(r->sim, vf, vf->wr, vf->wr_len, why,
	    sizeof(why)) != 0) {
		drop_pending_write(vf);
		return (req_fail(r, VA_STATUS_EINVAL, VA_Q_INVALID_FIELD,
		    "context refused, VF state unchanged: %s", why));
	}
	drop_pending_write(vf);
	log_info("%s: vf%u: device context restored", __func__, vf->id);
	return (VA_STATUS_OK);
}

static uint16_t
cmd_ctx_discard(struct sim_req *r)
{
	free(r->vf->rd);
	r->vf->rd = NULL;
	r->vf->rd_len = r->vf->rd_pos = 0;
	drop_pending_write(r->vf);
	return (VA_STATUS_OK);
}

static uint16_t
cmd_wr_cap(struct sim_req *r)
{
	r->rlen = va_wrcap_put(r->res, r->sim->o.wr_page_sizes,
	    r->sim->o.wr_ranges);
	return (VA_STATUS_OK);
}

static uint16_t
cmd_wr_start(struct sim_req *r)
{
	struct sim_vf		*vf = r->vf;
	struct va_wr_range	 rg[VA_WR_MAX_RANGES];
	uint64_t		 ps;
	uint32_t		 n, i, max;
	char			 why[200];
	int			 bit;

	if (vf->recording)
		return (req_fail(r, VA_STATUS_EINVAL, VA_Q_INVALID_COMMAND,
		    "write recording already started"));
	max = MIN(r->sim->o.wr_ranges, VA_WR_MAX_RANGES);
	if (va_wrstart_get(r->data, r->dlen, &ps, rg, max, &n, why,
	    sizeof(why)) != 0)
		return (req_fail(r, VA_STATUS_EINVAL, VA_Q_INVALID_FIELD, "%s",
		    why));
	bit = __builtin_ctzll(ps) - 12;
	if (bit > 31 || !((r->sim->o.wr_page_sizes >> bit) & 1))
		return (req_fail(r, VA_STATUS_EINVAL, VA_Q_INVALID_FIELD,
		    "page size %llu not supported (bitmap %#x)",
		    (unsigned long long)ps, r->sim->o.wr_page_sizes));
	sim_vf_reset_records(vf);
	for (i = 0; i < n; i++) {
		vf->ranges[i].iova = rg[i].iova;
		vf->ranges[i].len = rg[i].pages * ps;
		vf->ranges[i].lost = 0;
	}
	vf->nranges = n;
	vf->page_size = ps;
	vf->recording = 1;
	log_debug("%s: vf%u: recording %u ranges at %llu", __func__, vf->id,
	    n, (unsigned long long)ps);
	return (VA_STATUS_OK);
}

static uint16_t
cmd_wr_stop(struct sim_req *r)
{
	/* Idempotent: the driver stops on every way out of a job. */
	r->vf->recording = 0;
	sim_vf_reset_records(r->vf);
	return (VA_STATUS_OK);
}

static uint16_t
cmd_wr_read(struct sim_req *r)
{
	struct sim_vf	*vf = r->vf;
	struct sim_range *rg = NULL;
	struct sim_rec	*rec, left, right, *extra = NULL;
	uint64_t	 iova, len, end, s, e;
	uint32_t	 max, count = 0, flags = 0, i, keep = 0, more = 0;
	uint32_t	 nextra = 0;
	char		 why[200];
	int		 lost = 0;

	if (!vf->recording)
		return (req_fail(r, VA_STATUS_EINVAL, VA_Q_INVALID_COMMAND,
		    "write recording is not started"));
	if (va_wrread_get(r->data, r->dlen, &iova, &len, why,
	    sizeof(why)) != 0)
		return (req_fail(r, VA_STATUS_EINVAL, VA_Q_INVALID_FIELD, "%s",
		    why));
	end = iova + len;
	for (i = 0; i < vf->nranges; i++) {
		if (iova >= vf->ranges[i].iova &&
		    end <= vf->ranges[i].iova + vf->ranges[i].len)
			rg = &vf->ranges[i];
	}
	if (rg == NULL)
		return (req_fail(r, VA_STATUS_EINVAL, VA_Q_INVALID_FIELD,
		    "range %#llx+%llu is not inside one recorded range",
		    (unsigned long long)iova, (unsigned long long)len));
	max = (uint32_t)MIN((r->rcap - VA_WR_RECS_HDR) / VA_WR_REC_LEN,
	    (size_t)UINT32_MAX);
	if (vf->more_max > 0 && vf->more_max < max)
		max = vf->more_max;

	/* Take what intersects; keep the rest (split records stay). */
	for (i = 0; i < vf->nrecs; i++) {
		rec = &vf->recs[i];
		s = MAX(rec->iova, iova);
		e = MIN(rec->iova + rec->len, end);
		if (s >= e || count >= max) {
			if (s < e)
				more = 1;
			vf->recs[keep++] = *rec;
			continue;
		}
		va_wrrec_put(r->res + VA_WR_RECS_HDR, count++, s, e - s);
		left.iova = rec->iova;
		left.len = s - rec->iova;
		right.iova = e;
		right.len = rec->iova + rec->len - e;
		/* keep <= i here, so these never overwrite unread records. */
		if (left.len > 0)
			vf->recs[keep++] = left;
		if (right.len > 0 && left.len == 0)
			vf->recs[keep++] = right;
		else if (right.len > 0) {
			extra = xreallocarray(extra, nextra + 1,
			    sizeof(*extra));
			extra[nextra++] = right;
		}
	}
	vf->nrecs = keep;
	for (i = 0; i < nextra; i++) {
		if (vf->nrecs < r->sim->o.records_max)
			vf->recs[vf->nrecs++] = extra[i];
		else
			lost = 1;
	}
	free(extra);
	if (more)
		flags |= VA_WR_F_MORE;
	if (rg->lost || lost || vf->lose_next) {
		flags |= VA_WR_F_LOST;
		rg->lost = 0;
		vf->lose_next = 0;
	}
	va_wrrecs_put_hdr(r->res, count, flags);
	r->rlen = VA_WR_RECS_HDR + (size_t)count * VA_WR_REC_LEN;
	return (VA_STATUS_OK);
}

static const struct sim_handler draft_fns[] = {
	{ VA_OP_LIST_QUERY, sim_cmd_list_query },
	{ VA_OP_LIST_USE, sim_cmd_list_use },
	{ VA_OP_DEV_MODE_GET, cmd_mode_get },
	{ VA_OP_DEV_MODE_SET, cmd_mode_set },
	{ VA_OP_DEV_CTX_SIZE_GET, cmd_ctx_size },
	{ VA_OP_DEV_CTX_READ, cmd_ctx_read },
	{ VA_OP_DEV_CTX_WRITE, cmd_ctx_write },
	{ VA_OP_DEV_CTX_DISCARD, cmd_ctx_discard },
	{ VA_OP_WRITE_RECORD_CAP_QUERY, cmd_wr_cap },
	{ VA_OP_WRITE_RECORDS_START, cmd_wr_start },
	{ VA_OP_WRITE_RECORDS_STOP, cmd_wr_stop },
	{ VA_OP_WRITE_RECORDS_READ, cmd_wr_read },
};

const char *
sim_admin_frame_check(const struct vq_chain *ch)
{
	if (ch->misordered || ch->rlen % 8 != 0 || ch->wlen % 8 != 0 ||
	    ch->rlen < VA_HDR_LEN || ch->wlen < VA_STATUS_LEN ||
	    ch->rlen > VA_HDR_LEN + VA_DATA_MAX)
		return ("need a 24-byte header, an 8-byte status, multiples "
		    "of 8");
	return (NULL);
}

void
sim_admin_status(uint8_t *out, uint16_t status, uint16_t qual,
    struct sim_answer *a)
{
	va_status_put(out, status, qual);
	a->len = VA_STATUS_LEN;
	a->ack = -1;
}

void
sim_admin_key(const uint8_t *in, size_t inlen, uint16_t *opcode,
    uint64_t *member)
{
	struct va_hdr	h;

	*opcode = 0xffff;
	*member = 0;
	if (inlen < VA_HDR_LEN)
		return;
	va_hdr_get(in, &h);
	*opcode = h.opcode;
	*member = h.member;
}

/* The group a command must name: Self (member 0) or SR-IOV. */
static uint16_t
check_group(struct sim_req *r, const struct va_hdr *h)
{
	uint16_t want = r->oi->self ? VA_GROUP_SELF : VA_GROUP_SRIOV;

	if (h->group != want)
		return (req_fail(r, VA_STATUS_EINVAL, VA_Q_INVALID_GROUP,
		    "group type %u (%s takes %s, %u)", h->group, r->oi->name,
		    want == VA_GROUP_SELF ? "Self" : "SR-IOV", want));
	return (VA_STATUS_OK);
}

void
sim_admin_exec(struct sim *sim, const struct vq_chain *ch, const uint8_t *in,
    size_t inlen, uint8_t *out, size_t outcap, struct sim_answer *a)
{
	struct sim_req	 r;
	struct va_hdr	 h;
	sim_cmd_fn	 fn = NULL;
	uint16_t	 status;
	size_t		 i;

	a->len = 0;
	a->ack = -1;
	if (outcap < VA_STATUS_LEN)
		return;
	memset(&r, 0, sizeof(r));
	r.sim = sim;
	r.ch = ch;
	sim->n_cmds++;
	if (inlen < VA_HDR_LEN) {
		status = req_fail(&r, VA_STATUS_EINVAL, VA_Q_INVALID_COMMAND,
		    "command of %zu bytes has no full header", inlen);
		goto done;
	}
	va_hdr_get(in, &h);
	r.data = in + VA_HDR_LEN;
	r.dlen = inlen - VA_HDR_LEN;
	r.res = out + VA_STATUS_LEN;
	r.rcap = outcap - VA_STATUS_LEN;
	r.oi = va_dialect_op(sim->dl->d, h.opcode);
	for (i = 0; i < sim->dl->nfns; i++) {
		if (sim->dl->fns[i].opcode == h.opcode)
			fn = sim->dl->fns[i].fn;
	}
	if (h.group != VA_GROUP_SRIOV && (r.oi == NULL || !r.oi->self)) {
		status = req_fail(&r, VA_STATUS_EINVAL, VA_Q_INVALID_GROUP,
		    "group type %u (only SR-IOV, 1)", h.group);
		goto done;
	}
	if (r.oi == NULL || fn == NULL) {
		status = req_fail(&r, VA_STATUS_EINVAL, VA_Q_INVALID_OPCODE,
		    "unknown opcode %#x", h.opcode);
		goto done;
	}
	if ((status = check_group(&r, &h)) != VA_STATUS_OK)
		goto done;
	/* Before LIST_USE only 0 and 1; after, only what was chosen. */
	if (h.opcode > VA_OP_LIST_USE && (!sim->list_in_use ||
	    !va_list_has(sim->list_used, sizeof(sim->list_used), h.opcode))) {
		status = req_fail(&r, VA_STATUS_EINVAL, VA_Q_INVALID_OPCODE,
		    "%s not enabled by LIST_USE", r.oi->name);
		goto done;
	}
	if (r.oi->per_member) {
		if ((r.vf = sim_vf_get(sim, h.member)) == NULL) {
			status = req_fail(&r, VA_STATUS_EINVAL,
			    VA_Q_INVALID_MEMBER, "no VF %llu (1..%u)",
			    (unsigned long long)h.member, sim->o.nvfs);
			goto done;
		}
		r.vf->cmds++;
	} else if (h.member != 0) {
		status = req_fail(&r, VA_STATUS_EINVAL, VA_Q_INVALID_MEMBER,
		    "member %llu for a group command (must be 0)",
		    (unsigned long long)h.member);
		goto done;
	}
	if (r.dlen < r.oi->data_min) {
		status = req_fail(&r, VA_STATUS_EINVAL, VA_Q_INVALID_FIELD,
		    "data of %zu bytes, needs %u", r.dlen, r.oi->data_min);
		goto done;
	}
	if (r.rcap < r.oi->result_min) {
		status = req_fail(&r, VA_STATUS_EINVAL, VA_Q_INVALID_FIELD,
		    "result buffer of %zu bytes, needs %u", r.rcap,
		    r.oi->result_min);
		goto done;
	}
	if (r.oi->result_max != VA_VAR && r.rcap > r.oi->result_max)
		r.rcap = r.oi->result_max;
	status = fn(&r);
done:
	if (status != VA_STATUS_OK)
		r.rlen = 0;
	va_status_put(out, status, status == VA_STATUS_OK ? VA_Q_OK : r.qual);
	a->len = VA_STATUS_LEN + r.rlen;
}

int
sim_mode_parse(struct sim *sim, const char *name)
{
	int	m;

	for (m = 0; m < sim->dl->d->nmodes; m++) {
		if (strcmp(name, sim->dl->d->mode_names[m]) == 0)
			return (m);
	}
	/* The draft's names work in every dialect: active, stop, freeze. */
	if (strcmp(name, "active") == 0)
		return (sim->dl->active);
	if (strcmp(name, "stop") == 0)
		return (sim->dl->stopped);
	if (strcmp(name, "freeze") == 0)
		return (sim->dl->frozen);
	return (-1);
}

static long
draft_image(struct sim *sim, struct sim_vf *vf, uint8_t *buf, size_t cap)
{
	return (sim_vf_ctx_build(sim, vf, buf, cap));
}

static void
draft_reset(struct sim *sim)
{
}

const struct sim_dialect sim_draft = {
	.d = &va_dialect_draft,
	.mode_hint = "go through stop",
	.fns = draft_fns,
	.nfns = nitems(draft_fns),
	.active = VA_MODE_ACTIVE,
	.stopped = VA_MODE_STOP,
	.frozen = VA_MODE_FREEZE,
	.mode_ok = sim_draft_mode_ok,
	.frame_check = sim_admin_frame_check,
	.exec = sim_admin_exec,
	.status = sim_admin_status,
	.key = sim_admin_key,
	.image = draft_image,
	.reset = draft_reset,
	.mode_check = sim_draft_mode_check,
	.mode_set = sim_draft_mode_set,
};
