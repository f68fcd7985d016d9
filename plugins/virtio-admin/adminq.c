/*
 * adminq.c: the admin virtqueue driver (see adminq.h).
 */
#include "config.h"

#include <sys/queue.h>

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>

#include "vmig/backend.h"
#include "util.h"
#include "admin.h"
#include "adminq.h"
#include "cvq.h"
#include "dialect.h"

void	(*va_logfn)(int, const char *, ...);

#define POOL_UNIT	256	/* allocation granule of the buffer pool */
#define NLANES		2

TAILQ_HEAD(va_cmdq, va_cmd);

struct va_aq_queue {
	struct vq_driver	 vq;
	struct va_cmd		**by_head;
	struct event		*ev_call;
	unsigned int		 inflight[NLANES];	/* chains */
	unsigned int		 bulk_max;		/* chains */
	int			 kick;		/* kick at the end of the batch */
};

struct va_pool {
	uint64_t	 off;		/* of unit 0 in the mapping */
	uint32_t	 units;
	uint32_t	 used;
	uint64_t	*map;
};

struct va_aq {
	struct va_transport	*tp;
	struct event_base	*base;
	int			 timeout_ms;
	struct va_aq_queue	 q[VA_TP_MAX_QUEUES];
	unsigned int		 lane_q[NLANES];
	struct va_cmdq		 pending[NLANES];
	struct va_pool		 pool;
	struct event		*ev_sock;
	int			 depth;		/* callbacks on the stack */
	int			 dying;		/* free when depth drops to 0 */
	int			 dead;		/* device gone */
	char			 dead_why[400];
	struct va_aq_stats	 st;
	/* How commands sit in a chain, and their names (NULL: the draft). */
	const struct va_dialect	*dialect;
};

/* A command's name in the queue's dialect. */
static const char *
cmd_name(const struct va_aq *aq, uint16_t opcode)
{
	if (aq->dialect == NULL)
		return (va_op_name(opcode));
	return (va_dialect_op_name(aq->dialect, opcode));
}

static int
cvq_framed(const struct va_aq *aq)
{
	return (aq->dialect != NULL && aq->dialect->framing == VA_FRAME_CVQ);
}

/* Readable header and writable status bytes around data and result. */
static size_t
hdr_len(const struct va_aq *aq)
{
	return (cvq_framed(aq) ? CVQ_HDR_LEN : VA_HDR_LEN);
}

static size_t
status_len(const struct va_aq *aq)
{
	return (cvq_framed(aq) ? CVQ_ACK_LEN : VA_STATUS_LEN);
}

void
va_aq_set_dialect(struct va_aq *aq, const struct va_dialect *d)
{
	aq->dialect = d;
}

static void	aq_service(struct va_aq *, unsigned int);
static void	aq_pump(struct va_aq *);
static void	aq_destroy(struct va_aq *);

static uint64_t
mono_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ((uint64_t)ts.tv_sec * 1000000 + (uint64_t)ts.tv_nsec / 1000);
}

/* ------------------------------------------------------------ buffer pool */

static int
pool_init(struct va_pool *p, uint64_t off, uint64_t len)
{
	p->off = off;
	p->units = (uint32_t)(len / POOL_UNIT);
	p->used = 0;
	p->map = calloc((p->units + 63) / 64, sizeof(uint64_t));
	return (p->map == NULL ? -ENOMEM : 0);
}

static int
pool_test(const struct va_pool *p, uint32_t i)
{
	return ((p->map[i / 64] >> (i % 64)) & 1);
}

static void
pool_mark(struct va_pool *p, uint32_t first, uint32_t n, int set)
{
	uint32_t i;

	for (i = first; i < first + n; i++) {
		if (set)
			p->map[i / 64] |= 1ULL << (i % 64);
		else
			p->map[i / 64] &= ~(1ULL << (i % 64));
	}
}

/* First fit: the pool is small and commands are short-lived. */
static int
pool_alloc(struct va_pool *p, size_t len, uint64_t *off)
{
	uint32_t need = (uint32_t)((len + POOL_UNIT - 1) / POOL_UNIT);
	uint32_t i = 0, run = 0, start = 0;

	if (need == 0 || need > p->units - p->used)
		return (-ENOMEM);
	while (i < p->units) {
		if (run == 0 && i % 64 == 0 && p->map[i / 64] == ~0ULL) {
			i += 64;
			continue;
		}
		if (pool_test(p, i)) {
			run = 0;
			i++;
			continue;
		}
		if (run++ == 0)
			start = i;
		i++;
		if (run == need) {
			pool_mark(p, start, need, 1);
			p->used += need;
			*off = p->off + (uint64_t)start * POOL_UNIT;
			return (0);
		}
	}
	return (-ENOMEM);
}

static void
pool_release(struct va_pool *p, uint64_t off, size_t len)
{
	uint32_t n = (uint32_t)((len + POOL_UNIT - 1) / POOL_UNIT);
	uint32_t first = (uint32_t)((off - p->off) / POOL_UNIT);

	pool_mark(p, first, n, 0);
	p->used -= n;
}

/* -------------------------------------------------------------- commands */

static void
cmd_free(struct va_cmd *c)
{
	if (c->timer != NULL)
		event_free(c->timer);
	if (c->buf_len > 0)
		pool_release(&c->aq->pool, c->buf_off, c->buf_len);
	free(c);
}

/* Run the owner's callback once; the command is freed afterwards. */
static void
cmd_complete(struct va_cmd *c)
{
	struct va_aq	*aq = c->aq;
	va_cmd_cb	 cb = c->cb;

	c->cb = NULL;
	if (c->timer != NULL)
		event_del(c->timer);
	if (c->err != 0)
		aq->st.failed++;
	else
		aq->st.completed++;
	if (cb != NULL) {
		aq->depth++;
		cb(c, c->arg);
		aq->depth--;
	}
}

static void
cmd_timeout(evutil_socket_t fd, short ev, void *arg)
{
	struct va_cmd	*c = arg;
	struct va_aq	*aq = c->aq;

	aq->st.timeouts++;
	c->err = -ETIMEDOUT;
	c->result = NULL;
	c->result_len = 0;
	if (c->state == VA_CMD_PENDING) {
		TAILQ_REMOVE(&aq->pending[c->lane], c, entry);
		snprintf(c->msg, sizeof(c->msg), "%s not completed within "
		    "%d ms (never entered the ring: queue full or pool "
		    "exhausted)", cmd_name(c->aq, c->opcode), aq->timeout_ms);
		cmd_complete(c);
		cmd_free(c);
	} else {
		/* The descriptors stay with the device until it returns
		 * them: only then may they be reused. */
		c->state = VA_CMD_ABANDONED;
		snprintf(c->msg, sizeof(c->msg), "%s not completed by the "
		    "device within %d ms", cmd_name(c->aq, c->opcode),
		    aq->timeout_ms);
		va_log(VMIG_LOG_WARN, "%s: %s (member %llu, head %u)",
		    __func__, c->msg, (unsigned long long)c->member, c->head);
		cmd_complete(c);
	}
	if (aq->depth == 0 && aq->dying)
		aq_destroy(aq);
	else
		aq_pump(aq);
}

struct va_cmd *
va_cmd_new(struct va_aq *aq, uint16_t opcode, uint16_t group,
    uint64_t member, int lane, const void *data, size_t data_len,
    const void *tail, size_t tail_len, size_t result_cap, va_cmd_cb cb,
    void *arg)
{
	struct va_cmd	*c;

	if (data_len > sizeof(c->data) || lane < 0 || lane >= NLANES)
		return (NULL);
	if ((c = calloc(1, sizeof(*c))) == NULL)
		return (NULL);
	c->aq = aq;
	c->opcode = opcode;
	c->group = group;
	c->member = member;
	c->lane = lane;
	c->q = aq->lane_q[lane];
	if (data_len > 0)
		memcpy(c->data, data, data_len);
	c->data_len = data_len;
	c->tail = tail;
	c->tail_len = tail_len;
	/* The admin framing pads both to 8; the control-vq's ack is the
	 * last byte of what is posted, so nothing is padded there. */
	if (cvq_framed(aq)) {
		c->out_len = data_len + tail_len;
		c->result_cap = result_cap;
	} else {
		c->out_len = (data_len + tail_len + 7) & ~(size_t)7;
		c->result_cap = (result_cap + 7) & ~(size_t)7;
	}
	c->cb = cb;
	c->arg = arg;
	return (c);
}

size_t
va_aq_max_cmd(struct va_aq *aq)
{
	/* Half the pool, so one huge command cannot starve the rest. */
	return ((size_t)aq->pool.units * POOL_UNIT / 2);
}

int
va_cmd_submit(struct va_cmd *c)
{
	struct va_aq	*aq = c->aq;
	size_t		 need;

	need = hdr_len(aq) + c->out_len + status_len(aq) + c->result_cap;
	if (aq->dead || aq->dying) {
		free(c);
		return (aq->dead ? -ENOTCONN : -ESHUTDOWN);
	}
	if (need > va_aq_max_cmd(aq)) {
		free(c);
		return (-E2BIG);
	}
	c->timer = evtimer_new(aq->base, cmd_timeout, c);
	if (c->timer == NULL) {
		free(c);
		return (-ENOMEM);
	}
	if (aq->timeout_ms > 0) {
		struct timeval tv = { aq->timeout_ms / 1000,
		    (aq->timeout_ms % 1000) * 1000 };
		evtimer_add(c->timer, &tv);
	}
	c->t_submit = mono_us();
	c->state = VA_CMD_PENDING;
	TAILQ_INSERT_TAIL(&aq->pending[c->lane], c, entry);
	aq->st.submitted++;
	if (aq->depth == 0)
		aq_pump(aq);
	return (0);
}

void
va_cmd_cancel(struct va_cmd *c)
{
	struct va_aq	*aq = c->aq;

	c->cb = NULL;
	switch (c->state) {
	case VA_CMD_NEW:
		free(c);
		break;
	case VA_CMD_PENDING:
		TAILQ_REMOVE(&aq->pending[c->lane], c, entry);
		cmd_free(c);
		break;
	case VA_CMD_INFLIGHT:
		c->state = VA_CMD_ABANDONED;
		if (c->timer != NULL)
			event_del(c->timer);
		break;
	default:
		break;
	}
}

/* Put one command into its ring; -ENOSPC/-ENOMEM if it must wait. */
static int
cmd_post(struct va_aq *aq, struct va_cmd *c)
{
	struct va_aq_queue *q = &aq->q[c->q];
	struct vq_buf	 out, in;
	uint8_t		*p;
	uint64_t	 off;
	size_t		 len, hl;
	int		 rc;

	if (q->vq.num_free < 2)
		return (-ENOSPC);
	hl = hdr_len(aq);
	len = hl + c->out_len + status_len(aq) + c->result_cap;
	if ((rc = pool_alloc(&aq->pool, len, &off)) != 0)
		return (rc);
	p = aq->tp->mem + off;
	if (cvq_framed(aq))
		(void)cvq_hdr_put(p, c->opcode);
	else
		va_hdr_put(p, c->opcode, c->group, c->member);
	memcpy(p + hl, c->data, c->data_len);
	if (c->tail_len > 0)
		memcpy(p + hl + c->data_len, c->tail, c->tail_len);
	memset(p + hl + c->data_len + c->tail_len, 0,
	    c->out_len - c->data_len - c->tail_len);
	/* Status (or ack) starts as garbage the device must overwrite. */
	memset(p + hl + c->out_len, 0xff, status_len(aq) + c->result_cap);
	out.addr = aq->tp->iova + off;	/* the device's address for it */
	out.len = (uint32_t)(hl + c->out_len);
	in.addr = aq->tp->iova + off + out.len;
	in.len = (uint32_t)(status_len(aq) + c->result_cap);
	if ((rc = vq_driver_add(&q->vq, &out, 1, &in, 1, &c->head)) != 0) {
		pool_release(&aq->pool, off, len);
		return (rc);
	}
	c->buf_off = off;
	c->buf_len = len;
	c->state = VA_CMD_INFLIGHT;
	q->by_head[c->head] = c;
	q->inflight[c->lane]++;
	q->kick = 1;
	return (0);
}

static void
aq_pump(struct va_aq *aq)
{
	struct va_aq_queue *q;
	struct va_cmd	*c;
	unsigned int	 i;
	int		 lane;

	if (aq->dead || aq->dying)
		return;
	/* Critical first; bulk only within its share of a shared ring. */
	for (lane = NLANES - 1; lane >= 0; lane--) {
		while ((c = TAILQ_FIRST(&aq->pending[lane])) != NULL) {
			q = &aq->q[c->q];
			if (lane == VMIG_LANE_BULK && aq->lane_q[0] ==
			    aq->lane_q[1] && q->inflight[lane] >= q->bulk_max)
				break;
			/* A critical command waiting means bulk waits too. */
			if (lane == VMIG_LANE_BULK &&
			    !TAILQ_EMPTY(&aq->pending[VMIG_LANE_CRITICAL]) &&
			    aq->lane_q[0] == aq->lane_q[1])
				break;
			if (cmd_post(aq, c) != 0) {
				aq->st.queued++;
				break;
			}
			TAILQ_REMOVE(&aq->pending[lane], c, entry);
		}
	}
	for (i = 0; i < aq->tp->nqueues; i++) {
		if (aq->q[i].kick) {
			aq->q[i].kick = 0;
			va_transport_kick(aq->tp, i);
		}
	}
}

/* A control-vq answer: the result, then the ack in the last byte. */
static void
cvq_answer(struct va_cmd *c, const uint8_t *w, size_t wlen, uint32_t len)
{
	struct va_dres	r;
	char		why[160];

	if (va_frame_in(VA_FRAME_CVQ, w, wlen, len, &r, why,
	    sizeof(why)) != 0) {
		c->err = -EPROTO;
		snprintf(c->msg, sizeof(c->msg), "%s: %s",
		    cmd_name(c->aq, c->opcode), why);
		return;
	}
	c->answered = 1;
	c->status = r.status;
	c->result = r.result;
	c->result_len = r.result_len;
	if ((c->err = va_frame_errno(VA_FRAME_CVQ, r.status)) != 0)
		snprintf(c->msg, sizeof(c->msg), "%s: ack %u (error)",
		    cmd_name(c->aq, c->opcode), r.status);
}

/* Take what the device returned from one queue. */
static void
aq_service(struct va_aq *aq, unsigned int qi)
{
	struct va_aq_queue *q = &aq->q[qi];
	struct va_cmd	*c;
	uint16_t	 head;
	uint32_t	 len;
	size_t		 wlen;
	const uint8_t	*w;
	char		 why[160];
	int		 rc;

	va_transport_ack_call(aq->tp, qi);
	aq->depth++;
	while (!aq->dying) {
		rc = vq_driver_get_used(&q->vq, &head, &len, why, sizeof(why));
		if (rc == 0)
			break;
		if (rc < 0) {
			aq->st.bad_used++;
			va_log(VMIG_LOG_WARN, "%s: %s: queue %u: %s", __func__,
			    aq->tp->target, qi, why);
			continue;
		}
		c = q->by_head[head];
		q->by_head[head] = NULL;
		if (c == NULL)
			continue;
		q->inflight[c->lane]--;
		if (c->state == VA_CMD_ABANDONED) {
			aq->st.late++;
			va_log(VMIG_LOG_DEBUG, "%s: %s returned after it was "
			    "abandoned (head %u): descriptors reclaimed",
			    __func__, cmd_name(c->aq, c->opcode), head);
			cmd_free(c);
			continue;
		}
		wlen = status_len(aq) + c->result_cap;
		w = aq->tp->mem + c->buf_off + hdr_len(aq) + c->out_len;
		c->result = NULL;
		c->result_len = 0;
		if (len == 0) {
			c->err = -EPROTO;
			snprintf(c->msg, sizeof(c->msg), "%s: the device "
			    "returned the command unprocessed (used length 0)",
			    cmd_name(c->aq, c->opcode));
		} else if (len > wlen) {
			c->err = -EPROTO;
			snprintf(c->msg, sizeof(c->msg), "%s: the device claims "
			    "it wrote %u bytes into a %zu-byte buffer",
			    cmd_name(c->aq, c->opcode), len, wlen);
		} else if (cvq_framed(aq)) {
			cvq_answer(c, w, wlen, len);
		} else if (va_status_get(w, len, &c->status, &c->qual, why,
		    sizeof(why)) != 0) {
			c->err = -EPROTO;
			snprintf(c->msg, sizeof(c->msg), "%s: %s",
			    cmd_name(c->aq, c->opcode), why);
		} else if (c->status != VA_STATUS_OK) {
			c->answered = 1;
			c->err = va_status_errno(c->status);
			snprintf(c->msg, sizeof(c->msg), "%s: device status "
			    "%s (%u), qualifier %s (%u)",
			    cmd_name(c->aq, c->opcode), va_status_name(c->status),
			    c->status, va_qual_name(c->qual), c->qual);
		} else {
			c->answered = 1;
			c->result = w + VA_STATUS_LEN;
			c->result_len = len - VA_STATUS_LEN;
		}
		cmd_complete(c);
		cmd_free(c);
	}
	aq->depth--;
	if (aq->depth == 0 && aq->dying) {
		aq_destroy(aq);
		return;
	}
	if (aq->depth == 0)
		aq_pump(aq);
}

/* Fail everything with err (device gone, or closing). */
static void
aq_fail_all(struct va_aq *aq, int err, const char *why)
{
	struct va_cmd	*c;
	unsigned int	 i, h;
	int		 lane;

	aq->depth++;
	for (lane = 0; lane < NLANES; lane++) {
		while ((c = TAILQ_FIRST(&aq->pending[lane])) != NULL) {
			TAILQ_REMOVE(&aq->pending[lane], c, entry);
			c->err = err;
			snprintf(c->msg, sizeof(c->msg), "%s: %s",
			    cmd_name(c->aq, c->opcode), why);
			cmd_complete(c);
			cmd_free(c);
		}
	}
	for (i = 0; i < aq->tp->nqueues; i++) {
		for (h = 0; h < aq->q[i].vq.r.size; h++) {
			if ((c = aq->q[i].by_head[h]) == NULL ||
			    c->state != VA_CMD_INFLIGHT)
				continue;
			c->state = VA_CMD_ABANDONED;
			c->err = err;
			snprintf(c->msg, sizeof(c->msg), "%s: %s",
			    cmd_name(c->aq, c->opcode), why);
			cmd_complete(c);
		}
	}
	aq->depth--;
}

struct aq_qref {
	struct va_aq	*aq;
	unsigned int	 qi;
};

static void
aq_call_event(evutil_socket_t fd, short ev, void *arg)
{
	struct aq_qref	*r = arg;

	aq_service(r->aq, r->qi);
}

static void
aq_sock_event(evutil_socket_t fd, short ev, void *arg)
{
	struct va_aq	*aq = arg;
	uint8_t		 buf[256];
	int		 fds[VA_HS_MAX_FDS], nfds, k;
	ssize_t		 n;

	n = va_sock_recv(fd, buf, sizeof(buf), fds, VA_HS_MAX_FDS, &nfds);
	for (k = 0; k < nfds; k++)
		close(fds[k]);
	if (n > 0 || n == -EAGAIN || n == -EMSGSIZE)
		return;		/* nothing else is expected: ignore it */
	aq->dead = 1;
	snprintf(aq->dead_why, sizeof(aq->dead_why), "the PF %s went away "
	    "(%s)", aq->tp->target, n == 0 ? "connection closed" :
	    strerror((int)-n));
	va_log(VMIG_LOG_ERROR, "%s: %s", __func__, aq->dead_why);
	event_del(aq->ev_sock);
	aq_fail_all(aq, -ECONNRESET, aq->dead_why);
	if (aq->depth == 0 && aq->dying)
		aq_destroy(aq);
}

/* The per-queue references handed to libevent live beside the aq. */
struct va_aq_alloc {
	struct va_aq	 aq;
	struct aq_qref	 refs[VA_TP_MAX_QUEUES];
};

struct va_aq *
va_aq_new(struct va_transport *tp, struct event_base *base, int timeout_ms,
    char *err, size_t errlen)
{
	struct va_aq_alloc *al;
	struct va_aq	*aq;
	struct aq_qref	*refs;
	unsigned int	 i;
	uint32_t	 chains;

	if ((al = calloc(1, sizeof(*al))) == NULL) {
		snprintf(err, errlen, "out of memory");
		return (NULL);
	}
	aq = &al->aq;
	refs = al->refs;
	aq->tp = tp;
	aq->base = base;
	aq->timeout_ms = timeout_ms;
	TAILQ_INIT(&aq->pending[0]);
	TAILQ_INIT(&aq->pending[1]);
	if (pool_init(&aq->pool, tp->pool_off, tp->pool_len) != 0)
		goto nomem;
	for (i = 0; i < tp->nqueues; i++) {
		if (vq_driver_init(&aq->q[i].vq, &tp->q[i].ring) != 0)
			goto nomem;
		aq->q[i].by_head = calloc(tp->q[i].ring.size,
		    sizeof(*aq->q[i].by_head));
		if (aq->q[i].by_head == NULL)
			goto nomem;
		chains = tp->q[i].ring.size / 2;
		aq->q[i].bulk_max = chains / 4 > 0 ? chains / 4 : 1;
		refs[i].aq = aq;
		refs[i].qi = i;
		aq->q[i].ev_call = event_new(base, tp->q[i].call_fd,
		    EV_READ | EV_PERSIST, aq_call_event, &refs[i]);
		if (aq->q[i].ev_call == NULL)
			goto nomem;
		event_add(aq->q[i].ev_call, NULL);
	}
	/* One queue: both lanes share it; two: one each. */
	aq->lane_q[VMIG_LANE_BULK] = 0;
	aq->lane_q[VMIG_LANE_CRITICAL] = tp->nqueues > 1 ? 1 : 0;
	if (tp->sock != -1) {
		aq->ev_sock = event_new(base, tp->sock, EV_READ | EV_PERSIST,
		    aq_sock_event, aq);
		if (aq->ev_sock == NULL)
			goto nomem;
		event_add(aq->ev_sock, NULL);
	}
	return (aq);

nomem:
	snprintf(err, errlen, "%s: out of memory setting up the admin queue",
	    tp->target);
	aq->tp = NULL;	/* the caller still owns the transport */
	aq_destroy(aq);
	return (NULL);
}

static void
aq_destroy(struct va_aq *aq)
{
	struct va_cmd	*c;
	unsigned int	 i, h;

	for (i = 0; i < VA_TP_MAX_QUEUES; i++) {
		if (aq->q[i].ev_call != NULL)
			event_free(aq->q[i].ev_call);
		if (aq->q[i].by_head != NULL) {
			for (h = 0; h < aq->q[i].vq.r.size; h++) {
				if ((c = aq->q[i].by_head[h]) != NULL) {
					c->buf_len = 0;	/* pool goes too */
					cmd_free(c);
				}
			}
			free(aq->q[i].by_head);
		}
		vq_driver_free_all(&aq->q[i].vq);
	}
	if (aq->ev_sock != NULL)
		event_free(aq->ev_sock);
	free(aq->pool.map);
	if (aq->tp != NULL)
		va_transport_close(aq->tp);
	free(aq);
}

void
va_aq_free(struct va_aq *aq)
{
	if (aq == NULL)
		return;
	aq->dying = 1;
	aq_fail_all(aq, -ECANCELED, "cancelled: the PF is being closed");
	if (aq->depth == 0)
		aq_destroy(aq);
}

struct va_transport *
va_aq_transport(struct va_aq *aq)
{
	return (aq->tp);
}

void
va_aq_stats(struct va_aq *aq, struct va_aq_stats *st)
{
	*st = aq->st;
	st->bad_used = 0;
	for (unsigned int i = 0; i < aq->tp->nqueues; i++)
		st->bad_used += aq->q[i].vq.bad_used;
}

int
va_aq_dead(struct va_aq *aq)
{
	return (aq->dead);
}
