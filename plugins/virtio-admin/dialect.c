/*
 * dialect.c: framing, the dialect registry, the step-table runner every
 * dialect's operations go through, and the compatibility checks (see
 * dialect.h).
 */
#include "config.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "util.h"
#include "cvq.h"
#include "dialect.h"

void	(*va_dlogfn)(const char *, ...);

#define DLOG(...) do {							\
	if (va_dlogfn != NULL)						\
		va_dlogfn(__VA_ARGS__);					\
} while (0)

/* ------------------------------------------------------------ framing */

static size_t
pad8(size_t n)
{
	return ((n + 7) & ~(size_t)7);
}

size_t
va_frame_out_len(enum va_framing f, const struct va_dcmd *c)
{
	if (f == VA_FRAME_CVQ)
		return (CVQ_HDR_LEN + c->data_len + c->tail_len);
	return (VA_HDR_LEN + pad8(c->data_len + c->tail_len));
}

size_t
va_frame_out_hdr(enum va_framing f, const struct va_dcmd *c, uint8_t *p)
{
	size_t	h;

	if (f == VA_FRAME_CVQ)
		h = cvq_hdr_put(p, c->opcode);
	else {
		va_hdr_put(p, c->opcode, c->group, c->member);
		h = VA_HDR_LEN;
	}
	if (c->data_len > 0)
		memcpy(p + h, c->data, c->data_len);
	return (h + c->data_len);
}

size_t
va_frame_in_len(enum va_framing f, size_t result_cap)
{
	if (f == VA_FRAME_CVQ)
		return (result_cap + CVQ_ACK_LEN);
	return (VA_STATUS_LEN + pad8(result_cap));
}

int
va_frame_in(enum va_framing f, const uint8_t *w, size_t wcap, size_t used,
    struct va_dres *r, char *err, size_t errlen)
{
	memset(r, 0, sizeof(*r));
	if (used > wcap)
		return (va_err(err, errlen, -EPROTO, "device wrote %zu bytes "
		    "into a %zu-byte buffer", used, wcap));
	if (f == VA_FRAME_CVQ) {
		if (used < CVQ_ACK_LEN || wcap < CVQ_ACK_LEN)
			return (va_err(err, errlen, -EPROTO, "device wrote no "
			    "ack (%zu bytes used)", used));
		r->status = w[wcap - 1];
		r->result = w;
		r->result_len = used - CVQ_ACK_LEN;
		return (0);
	}
	if (va_status_get(w, used, &r->status, &r->qual, err, errlen) != 0)
		return (-EPROTO);
	r->result = w + VA_STATUS_LEN;
	r->result_len = used - VA_STATUS_LEN;
	return (0);
}

int
va_frame_errno(enum va_framing f, uint16_t status)
{
	if (f == VA_FRAME_CVQ)
		return (status == CVQ_ACK_OK ? 0 : -EIO);
	return (va_status_errno(status));
}

static void
frame_status_str(enum va_framing f, const struct va_dres *r, char *buf,
    size_t len)
{
	if (f == VA_FRAME_CVQ)
		snprintf(buf, len, "ack %u (%s)", r->status,
		    r->status == CVQ_ACK_ERR ? "ERR" : "unknown");
	else
		snprintf(buf, len, "status %s (%u), qualifier %s (%#x)",
		    va_status_name(r->status), r->status,
		    va_qual_name(r->qual), r->qual);
}

/* ----------------------------------------------------------- registry */

static const struct va_dialect *const va_dialects[] = {
	&va_dialect_draft, &va_dialect_v14, &va_dialect_cvq,
};

const struct va_dialect *
va_dialect_find(uint32_t id)
{
	size_t	i;

	for (i = 0; i < nitems(va_dialects); i++) {
		if (va_dialects[i]->id == id)
			return (va_dialects[i]);
	}
	return (NULL);
}

const struct va_dialect *
va_dialect_byname(const char *name)
{
	size_t	i;

	if (strcmp(name, "v1.4") == 0 || strcmp(name, "1.4") == 0)
		return (&va_dialect_v14);
	if (strcmp(name, "control-vq") == 0)
		return (&va_dialect_cvq);
	for (i = 0; i < nitems(va_dialects); i++) {
		if (strcmp(va_dialects[i]->name, name) == 0)
			return (va_dialects[i]);
	}
	return (NULL);
}

const struct va_opinfo *
va_dialect_op(const struct va_dialect *d, uint16_t opcode)
{
	size_t	i;

	for (i = 0; i < d->nops; i++) {
		if (d->ops[i].opcode == opcode)
			return (&d->ops[i]);
	}
	return (NULL);
}

const struct va_opinfo *
va_dialect_op_byname(const struct va_dialect *d, const char *name)
{
	size_t	i;

	for (i = 0; i < d->nops; i++) {
		if (strcasecmp(d->ops[i].name, name) == 0)
			return (&d->ops[i]);
	}
	return (NULL);
}

const char *
va_dialect_op_name(const struct va_dialect *d, uint16_t opcode)
{
	static __thread char	 buf[16];
	const struct va_opinfo	*oi;

	if ((oi = va_dialect_op(d, opcode)) != NULL)
		return (oi->name);
	snprintf(buf, sizeof(buf), "%#x", opcode);
	return (buf);
}

const char *
va_dialect_mode_name(const struct va_dialect *d, int mode)
{
	if (mode < 0 || mode >= d->nmodes)
		return ("unknown");
	return (d->mode_names[mode]);
}

static const char *const va_citems[VA_CI_N] = {
	[VA_CI_DEVICE_FEATURES] = "device features",
	[VA_CI_DRIVER_FEATURES] = "driver features",
	[VA_CI_COMMON] = "common config registers",
	[VA_CI_DEVICE_STATUS] = "device status",
	[VA_CI_DEVICE_CONFIG] = "device config",
	[VA_CI_VQ] = "queue config",
	[VA_CI_VQ_NOTIFY] = "queue notify config",
	[VA_CI_VQ_AVAIL] = "queue avail index",
	[VA_CI_VQ_OWN] = "device-owned descriptors",
	[VA_CI_NET] = "net control state",
	[VA_CI_VENDOR] = "vendor state",
};

static const char *const va_carries[] = {
	[VA_C_CARRIED] = "carried",
	[VA_C_VERIFIED] = "verified",
	[VA_C_PROVISIONED] = "provisioned",
	[VA_C_RING] = "in the used ring",
	[VA_C_NONE] = "none",
};

const char *
va_citem_name(enum va_citem i)
{
	return (i < VA_CI_N ? va_citems[i] : "?");
}

const char *
va_carry_name(enum va_carry c)
{
	return (c <= VA_C_NONE ? va_carries[c] : "?");
}

/* ------------------------------------------------------------- objects */

void
va_dpf_init(struct va_dpf *pf, const struct va_dialect *d, uint32_t num_vfs,
    size_t chunk)
{
	memset(pf, 0, sizeof(*pf));
	pf->d = d;
	pf->num_vfs = num_vfs;
	pf->chunk = chunk & ~(size_t)7;
	if (pf->chunk < 64)
		pf->chunk = 64;
}

void
va_dvf_init(struct va_dvf *vf, uint64_t member)
{
	memset(vf, 0, sizeof(*vf));
	vf->member = member;
	vf->mode = -1;
	vf->obj = -1;
}

int
va_dpf_obj_alloc(struct va_dpf *pf)
{
	uint32_t	i;

	for (i = 0; i < pf->obj_limit && i < VA_PF_MAX_OBJS; i++) {
		if (!(pf->obj_used[i / 8] & (1u << (i % 8)))) {
			pf->obj_used[i / 8] |= (uint8_t)(1u << (i % 8));
			return ((int)i);
		}
	}
	return (-1);
}

void
va_dpf_obj_free(struct va_dpf *pf, int id)
{
	if (id >= 0 && id < VA_PF_MAX_OBJS)
		pf->obj_used[id / 8] &= (uint8_t)~(1u << (id % 8));
}

/* ------------------------------------------------------ shared steps */

int
va_step_next(struct va_dop *op, const struct va_dres *r, char *err,
    size_t errlen)
{
	return (VA_STEP_NEXT);
}

int
va_step_list_query(struct va_dop *op, struct va_dcmd *c, char *err,
    size_t errlen)
{
	c->opcode = VA_OP_LIST_QUERY;
	c->member = 0;
	c->result_cap = 8;
	return (0);
}

int
va_step_list_check(struct va_dop *op, const struct va_dres *r, char *err,
    size_t errlen)
{
	size_t	i;

	if (r->result_len < 8)
		return (va_err(err, errlen, -EPROTO, "LIST_QUERY result of "
		    "%zu bytes, needs 8", r->result_len));
	op->pf->opcodes[0] = get_le64(r->result);
	for (i = 0; i < op->d->nneed; i++) {
		if (!va_list_has(r->result, 8, op->d->need[i]))
			return (va_err(err, errlen, -EOPNOTSUPP, "the PF does "
			    "not offer %s (LIST_QUERY %#llx): not the %s "
			    "dialect's commands", va_dialect_op_name(op->d,
			    op->d->need[i]), (unsigned long long)
			    op->pf->opcodes[0], op->d->name));
	}
	return (VA_STEP_NEXT);
}

int
va_step_list_use(struct va_dop *op, struct va_dcmd *c, char *err,
    size_t errlen)
{
	size_t	i;

	c->opcode = VA_OP_LIST_USE;
	c->member = 0;
	c->data_len = 8;
	va_list_set(c->data, 8, VA_OP_LIST_QUERY);
	va_list_set(c->data, 8, VA_OP_LIST_USE);
	for (i = 0; i < op->d->nneed; i++)
		va_list_set(c->data, 8, op->d->need[i]);
	return (0);
}

int
va_step_mode_walk(struct va_dop *op, struct va_dcmd *c, char *err,
    size_t errlen)
{
	int	target = op->d->mode_device(op->target), next;

	if (target < 0)
		return (va_err(err, errlen, -EINVAL, "mode %d cannot be set",
		    (int)op->target));
	if (op->vf->mode == target)
		return (VA_STEP_DONE);
	if ((next = op->d->mode_next(op->vf->mode, target)) < 0)
		return (va_err(err, errlen, -EINVAL, "no way from mode %s to "
		    "%s", va_dialect_mode_name(op->d, op->vf->mode),
		    va_dialect_mode_name(op->d, target)));
	op->next_mode = (uint8_t)next;
	op->d->mode_cmd(op, c, next);
	c->critical = 1;
	return (0);
}

int
va_step_mode_walked(struct va_dop *op, const struct va_dres *r, char *err,
    size_t errlen)
{
	op->vf->mode = op->next_mode;
	return (op->vf->mode == op->d->mode_device(op->target) ?
	    VA_STEP_DONE : VA_STEP_AGAIN);
}

/* ---------------------------------------------------------- the runner */

static const char *const va_dop_names[VA_DOP_NKINDS] = {
	"pf_open", "vf_probe", "get_mode", "set_mode", "state_size", "save",
	"load", "dirty_start", "dirty_read", "dirty_stop",
};

void
va_dop_init(struct va_dop *op, enum va_dop_kind kind, struct va_dpf *pf,
    struct va_dvf *vf)
{
	memset(op, 0, sizeof(*op));
	op->d = pf->d;
	op->pf = pf;
	op->vf = vf;
	op->kind = kind;
}

static const char *
who(const struct va_dop *op, char *buf, size_t len)
{
	if (op->vf == NULL)
		snprintf(buf, len, "PF");
	else
		snprintf(buf, len, "vf%llu", (unsigned long long)
		    op->vf->member);
	return (buf);
}

/* A failure: with a cleanup to run, keep it for later; else report it. */
static int
dop_fail(struct va_dop *op, int rc, const char *why, char *err,
    size_t errlen)
{
	const struct va_dsteps *t = &op->d->ops_steps[op->kind];
	char	w[16];

	if (t->fail != NULL)
		t->fail(op, rc);
	if (op->err == 0 && t->cleanup >= 0 && t->need_cleanup != NULL &&
	    t->need_cleanup(op)) {
		DLOG("%s: %s %s: %s failed (%s): cleaning up", __func__,
		    who(op, w, sizeof(w)), va_dop_names[op->kind],
		    t->steps[op->step].name, why);
		op->err = rc;
		snprintf(op->why, sizeof(op->why), "%s", why);
		op->step = t->cleanup;
		op->rounds = 0;
		return (0);
	}
	if (op->err != 0) {
		/* The cleanup failed too: report the first failure. */
		return (va_err(err, errlen, op->err, "%s: %s (and cleaning "
		    "up: %s)", who(op, w, sizeof(w)), op->why, why));
	}
	return (va_err(err, errlen, rc, "%s: %s", who(op, w, sizeof(w)),
	    why));
}

/* Where the op goes after a step said rc. */
static void
dop_advance(struct va_dop *op, int rc)
{
	const struct va_dsteps *t = &op->d->ops_steps[op->kind];
	int	from = op->step;
	char	w[16];

	if (rc == VA_STEP_AGAIN)
		return;
	if (rc == VA_STEP_DONE || op->err != 0)
		op->step = t->n;
	else if (rc >= VA_STEP_GOTO(0))
		op->step = rc - VA_STEP_GOTO(0);
	else
		op->step++;
	op->rounds = 0;
	DLOG("%s: %s %s: %s -> %s", __func__, who(op, w, sizeof(w)),
	    va_dop_names[op->kind], t->steps[from].name,
	    op->step < t->n ? t->steps[op->step].name : "done");
}

int
va_dop_next(struct va_dop *op, struct va_dcmd *cmd, char *err,
    size_t errlen)
{
	const struct va_dsteps *t = &op->d->ops_steps[op->kind];
	char	 why[240], w[16];
	int	 rc;

	for (;;) {
		if (op->step >= t->n) {
			if (op->err != 0)
				return (va_err(err, errlen, op->err, "%s: %s",
				    who(op, w, sizeof(w)), op->why));
			return (0);
		}
		memset(cmd, 0, sizeof(*cmd));
		cmd->group = VA_GROUP_SRIOV;
		cmd->member = op->vf != NULL ? op->vf->member : 0;
		cmd->critical = op->lane == VMIG_LANE_CRITICAL;
		why[0] = '\0';
		rc = t->steps[op->step].build(op, cmd, why, sizeof(why));
		if (rc == 0) {
			op->cur_opcode = cmd->opcode;
			op->rounds++;
			return (1);
		}
		if (rc < 0) {
			if ((rc = dop_fail(op, rc, why, err, errlen)) != 0)
				return (rc);
			continue;
		}
		dop_advance(op, rc);
	}
}

int
va_dop_feed(struct va_dop *op, const struct va_dres *res, char *err,
    size_t errlen)
{
	const struct va_dsteps *t = &op->d->ops_steps[op->kind];
	const struct va_dstep *s;
	char	 why[240], st[96];
	int	 rc;

	if (op->step >= t->n)
		return (va_err(err, errlen, -EINVAL, "an answer to an "
		    "operation that is complete"));
	s = &t->steps[op->step];
	why[0] = '\0';
	if ((rc = va_frame_errno(op->d->framing, res->status)) != 0) {
		frame_status_str(op->d->framing, res, st, sizeof(st));
		snprintf(why, sizeof(why), "%s (%s): %s", s->name,
		    va_dialect_op_name(op->d, op->cur_opcode), st);
	} else if ((rc = s->parse(op, res, why, sizeof(why))) < 0) {
		/* the parse said why */
	} else {
		dop_advance(op, rc);
		return (0);
	}
	if (op->err != 0 && op->step == t->cleanup) {
		/* A failed cleanup: the op ends with the first failure. */
		op->step = t->n;
		return (va_err(err, errlen, op->err, "%s (cleanup %s)",
		    op->why, why));
	}
	return (dop_fail(op, rc, why, err, errlen));
}

/* ------------------------------------------------------- compatibility */

/* Items a destination cannot load without (the rest may be missing). */
static int
needed(const struct va_dialect *dst, enum va_citem i)
{
	if (dst->carry[i] != VA_C_CARRIED)
		return (0);
	return (i == VA_CI_COMMON || i == VA_CI_DEVICE_STATUS ||
	    i == VA_CI_VQ || i == VA_CI_VQ_AVAIL ||
	    (i == VA_CI_DEVICE_CONFIG && dst->id == VA_DIALECT_DRAFT));
}

int
va_dialect_compat(const struct va_dialect *src, const struct va_dialect *dst,
    char *err, size_t errlen)
{
	enum va_carry	 cs, cd;
	size_t		 off = 0;
	int		 i, cond = 0;

	if (err != NULL && errlen > 0)
		err[0] = '\0';
	for (i = 0; i < VA_CI_N; i++) {
		cs = (enum va_carry)src->carry[i];
		cd = (enum va_carry)dst->carry[i];
		if ((cs == VA_C_CARRIED || cs == VA_C_VERIFIED) &&
		    cd == VA_C_NONE) {
			/* Only device-owned descriptors are like this: fine
			 * when there are none at the switchover. */
			cond = 1;
			off += (size_t)snprintf(err + off, off < errlen ?
			    errlen - off : 0, "%s%s must be empty (%s has no "
			    "way to express them)", off > 0 ? "; " : "",
			    va_citem_name(i), dst->name);
		} else if (needed(dst, i) && cs == VA_C_RING) {
			cond = 1;
			off += (size_t)snprintf(err + off, off < errlen ?
			    errlen - off : 0, "%s%s comes from each used ring "
			    "in guest memory (%s keeps it there)",
			    off > 0 ? "; " : "", va_citem_name(i), src->name);
		} else if (needed(dst, i) && cs != VA_C_CARRIED) {
			cond = 1;
			off += (size_t)snprintf(err + off, off < errlen ?
			    errlen - off : 0, "%sthe destination keeps its own "
			    "%s (%s does not carry it)", off > 0 ? "; " : "",
			    va_citem_name(i), src->name);
		}
		if (off >= errlen && errlen > 0)
			off = errlen - 1;
	}
	return (cond);
}

int
va_state_compat(const struct vds *s, const struct va_dialect *dst,
    const struct vds *base, char *err, size_t errlen)
{
	long	n;

	n = dst->from_canon(s, base, NULL, 0, err, errlen);
	return (n < 0 ? (int)n : 0);
}
