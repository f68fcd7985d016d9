/*
 * simpump.c: a synchronous driver of any dialect (see simpump.h).
 */
#include "config.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "util.h"
#include "simpump.h"

int
simpump_open(struct simpump *p, int nvfs, const char *const *extra,
    char *err, size_t errlen)
{
	struct va_tp_params tpp;
	int		 rc, i;

	memset(p, 0, sizeof(*p));
	if (nvfs > SIMPUMP_VFS)
		return (va_err(err, errlen, -EINVAL, "%d VFs, at most %d", nvfs,
		    SIMPUMP_VFS));
	if ((rc = simproc_start(&p->sp, nvfs, extra)) != 0)
		return (va_err(err, errlen, rc, "simulator did not start: %s",
		    strerror(-rc)));
	memset(&tpp, 0, sizeof(tpp));
	tpp.qsize = 16;
	tpp.pool_bytes = SIMPUMP_POOL;
	tpp.max_queues = 1;
	tpp.dialects = (1u << VA_DIALECT_DRAFT) | (1u << VA_DIALECT_V14) |
	    (1u << VA_DIALECT_CVQ);
	if ((rc = va_transport_sim_open(p->sp.sock, &tpp, &p->tp, err,
	    errlen)) != 0) {
		simproc_stop(&p->sp);
		return (rc);
	}
	p->r = &p->tp->q[0].ring;
	p->pool = p->tp->mem + p->tp->pool_off;
	p->d = va_dialect_find(p->tp->dev.dialect);
	p->nvfs = nvfs;
	va_dpf_init(&p->pf, p->d, (uint32_t)nvfs, SIMPUMP_CHUNK);
	p->pf.flags = p->tp->dev.flags;
	p->pf.max_state = p->tp->dev.max_ctx_bytes;
	for (i = 0; i <= SIMPUMP_VFS; i++)
		va_dvf_init(&p->vf[i], (uint64_t)i);
	return (0);
}

void
simpump_close(struct simpump *p)
{
	va_transport_close(p->tp);
	simproc_stop(&p->sp);
}

int
simpump_post(struct simpump *p, const struct simpump_desc *d, int n,
    uint16_t head, uint32_t *id, uint32_t *len, int wait_ms)
{
	struct pollfd	 pfd;
	uint8_t		*e;
	uint64_t	 one = 1, v;
	int		 i;

	for (i = 0; i < n; i++) {
		e = p->r->desc + i * 16;
		put_le64(e, p->tp->pool_off + d[i].addr);
		put_le32(e + 8, d[i].len);
		put_le16(e + 12, d[i].flags);
		put_le16(e + 14, d[i].next);
	}
	put_le16(p->r->avail + 4 + 2 * (p->avail % p->r->size), head);
	p->avail++;
	__atomic_store_n((uint16_t *)(void *)(p->r->avail + 2), p->avail,
	    __ATOMIC_RELEASE);
	if (write(p->tp->q[0].kick_fd, &one, 8) != 8)
		return (-errno);
	pfd.fd = p->tp->q[0].call_fd;
	pfd.events = POLLIN;
	if (poll(&pfd, 1, wait_ms) <= 0)
		return (0);
	(void)read(p->tp->q[0].call_fd, &v, 8);
	if (__atomic_load_n((uint16_t *)(void *)(p->r->used + 2),
	    __ATOMIC_ACQUIRE) == p->used)
		return (0);
	e = p->r->used + 4 + 8 * (p->used % p->r->size);
	if (id != NULL)
		*id = get_le32(e);
	*len = get_le32(e + 4);
	p->used++;
	return (1);
}

int
simpump_cmd(struct simpump *p, const struct va_dcmd *c, struct va_dres *res,
    char *err, size_t errlen)
{
	struct simpump_desc d[3];
	enum va_framing	 f = p->d->framing;
	size_t		 out, hdr, in;
	uint32_t	 used;
	uint8_t		*t;
	int		 rc;

	out = va_frame_out_len(f, c);
	in = va_frame_in_len(f, c->result_cap);
	if (out > SIMPUMP_IN || in > SIMPUMP_TABLE - SIMPUMP_IN ||
	    c->map_len > SIMPUMP_MAP_MAX)
		return (va_err(err, errlen, -E2BIG, "command of %zu + %zu "
		    "bytes does not fit the pump", out, in));
	memset(p->pool + SIMPUMP_OUT, 0, out);
	hdr = va_frame_out_hdr(f, c, p->pool + SIMPUMP_OUT);
	if (c->tail_len > 0)
		memcpy(p->pool + SIMPUMP_OUT + hdr, c->tail, c->tail_len);
	memset(p->pool + SIMPUMP_IN, 0xee, in);
	if (c->map_len > 0) {
		/* The proposal's push START: one indirect head, its table
		 * holding the command, the map and the ack. */
		memset(p->pool + SIMPUMP_MAP, 0, c->map_len);
		t = p->pool + SIMPUMP_TABLE;
		memset(t, 0, 48);
		put_le64(t, p->tp->pool_off + SIMPUMP_OUT);
		put_le32(t + 8, (uint32_t)out);
		put_le16(t + 12, 1);
		put_le16(t + 14, 1);
		put_le64(t + 16, p->tp->pool_off + SIMPUMP_MAP);
		put_le32(t + 24, (uint32_t)c->map_len);
		put_le16(t + 28, 2 | 1);
		put_le16(t + 30, 2);
		put_le64(t + 32, p->tp->pool_off + SIMPUMP_IN);
		put_le32(t + 40, (uint32_t)in);
		put_le16(t + 44, 2);
		d[0] = (struct simpump_desc){ SIMPUMP_TABLE, 48, 4, 0 };
		rc = simpump_post(p, d, 1, 0, NULL, &used, 10000);
	} else {
		d[0] = (struct simpump_desc){ SIMPUMP_OUT, (uint32_t)out, 1,
		    1 };
		d[1] = (struct simpump_desc){ SIMPUMP_IN, (uint32_t)in, 2, 0 };
		rc = simpump_post(p, d, 2, 0, NULL, &used, 10000);
	}
	if (rc <= 0)
		return (va_err(err, errlen, rc < 0 ? rc : -ETIMEDOUT, "no "
		    "answer to %s", va_dialect_op_name(p->d, c->opcode)));
	/* The map is part of the used length in push mode: not ours. */
	if (c->map_len > 0 && used > c->map_len)
		used -= (uint32_t)c->map_len;
	return (va_frame_in(f, p->pool + SIMPUMP_IN, in, used, res, err,
	    errlen));
}

int
simpump_run(struct simpump *p, struct va_dop *op, char *err, size_t errlen)
{
	struct va_dcmd	 c;
	struct va_dres	 res;
	int		 rc;

	while ((rc = va_dop_next(op, &c, err, errlen)) == 1) {
		if ((rc = simpump_cmd(p, &c, &res, err, errlen)) != 0)
			return (rc);
		if ((rc = va_dop_feed(op, &res, err, errlen)) != 0)
			return (rc);
		/* The core keeps a push map where the device writes it. */
		if (c.map_len > 0 && op->vf != NULL) {
			op->vf->push_map = p->pool + SIMPUMP_MAP;
			op->vf->push_len = c.map_len;
		}
	}
	return (rc);
}

int
simpump_open_pf(struct simpump *p, char *err, size_t errlen)
{
	struct va_dop	op;
	int		rc, i;

	va_dop_init(&op, VA_DOP_PF_OPEN, &p->pf, NULL);
	if ((rc = simpump_run(p, &op, err, errlen)) != 0)
		return (rc);
	for (i = 1; i <= p->nvfs; i++) {
		va_dop_init(&op, VA_DOP_VF_PROBE, &p->pf, &p->vf[i]);
		if ((rc = simpump_run(p, &op, err, errlen)) != 0)
			return (rc);
	}
	return (0);
}
