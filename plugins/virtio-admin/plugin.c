/*
 * plugin.c: the virtio-admin backend (include/vmig/backend.h), draft
 * dialect: the PF's admin queue (adminq.c over a transport) driving its
 * VFs' modes, device context and write records.
 *
 * Every ABI call becomes an operation (struct va_op) that issues admin
 * commands one after the other (a mode change may take two steps, a
 * context write is split into chunks, a dirty read keeps reading while the
 * device says more is pending) and calls `done` once at the end, on the
 * loop, with a message that names the VF.
 */
#include "config.h"

#include <sys/queue.h>

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>

#include "vmig/backend.h"
#include "util.h"
#include "admin.h"
#include "adminq.h"
#include "devctx.h"
#include "transport.h"
#include "writerec.h"

#define VA_NAME		"virtio-admin"
#define VA_IFACE	"virtio-admin/draft"
#define DEF_TIMEOUT_MS	5000
#define OPEN_TIMEOUT_MS	5000
#define CHUNK_MAX	(256u << 10)	/* context bytes per command */
#define WR_READ_RECS	4096		/* records per WRITE_RECORDS_READ */
#define WR_READ_ROUNDS	64		/* reads per range per dirty_read */
#define MAX_RANGES	VA_WR_MAX_RANGES

static const struct vmig_host *va_host;

static void va_hostlog(int, const char *, ...)
    __attribute__((format(printf, 2, 3)));

static void
va_hostlog(int level, const char *fmt, ...)
{
	char	buf[512];
	va_list	ap;

	if (va_host == NULL || va_host->log == NULL)
		return;
	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	va_host->log(level, "%s: %s", VA_NAME, buf);
}

struct va_vf {
	struct vmig_dev_info	 info;
	int			 mode;		/* device mode, -1 unknown */
	struct vmig_dev		*dev;		/* open handle */
};

struct vmig_pf {
	char			 name[64];
	char			 spec[300];
	struct va_aq		*aq;
	struct va_transport	*tp;
	struct event_base	*base;
	struct va_opening	*opening;	/* until the open is done */
	uint32_t		 num_vfs;
	struct va_vf		*vfs;
	size_t			 chunk;		/* context bytes per command */
	size_t			 wr_recs;	/* records per read */
};

enum va_opkind {
	OP_GET_MODE, OP_SET_MODE, OP_STATE_SIZE, OP_STATE_READ,
	OP_STATE_WRITE, OP_STATE_DISCARD, OP_DIRTY_START, OP_DIRTY_READ,
	OP_DIRTY_STOP,
};

static const char *const va_opnames[] = {
	"get_mode", "set_mode", "state_size", "state_read", "state_write",
	"state_discard", "dirty_start", "dirty_read", "dirty_stop",
};

struct va_op;
typedef void (*va_step_fn)(struct va_op *, struct va_cmd *);

struct va_op {
	TAILQ_ENTRY(va_op)	 entry;
	struct vmig_dev		*dev;
	enum va_opkind		 kind;
	int			 lane;
	vmig_done_fn		 done;
	void			*arg;
	struct vmig_result	 res;
	char			 msg[400];
	struct va_cmd		*cmd;		/* outstanding command */
	va_step_fn		 step;		/* what to do with its result */
	struct event		*ev_fail;	/* deferred completion */
	uint8_t			*owned;		/* freed with the op */

	/* Per kind. */
	uint8_t			 target;	/* set_mode: device mode */
	uint8_t			*buf;		/* state_read/write */
	size_t			 len;
	size_t			 off;
	size_t			 cur;		/* bytes in the command */
	struct vmig_dirty_map	*maps;
	unsigned int		 nmaps;
	unsigned int		 range;		/* dirty_read: range index */
	unsigned int		 rounds;
	uint64_t		 outside;
	uint64_t		 outside_iova;
};

TAILQ_HEAD(va_opq, va_op);

struct vmig_dev {
	struct vmig_pf		*pf;
	struct va_vf		*vf;
	uint64_t		 member;
	char			 name[96];	/* "sim0/vf3" for messages */
	struct va_opq		 ops;
	int			 closing;
	/* Context write: where the image being loaded ends. */
	struct va_ctx_tracker	 wtrk;
	/* Write recording. */
	int			 recording;
	uint64_t		 page_size;
	unsigned int		 nranges;
	struct va_wr_range	 ranges[MAX_RANGES];
};

/* ------------------------------------------------------------ operations */

static struct va_op *
op_new(struct vmig_dev *dev, enum va_opkind kind, int lane,
    vmig_done_fn done, void *arg)
{
	struct va_op	*op;

	if ((op = calloc(1, sizeof(*op))) == NULL)
		return (NULL);
	op->dev = dev;
	op->kind = kind;
	op->lane = lane;
	op->done = done;
	op->arg = arg;
	TAILQ_INSERT_TAIL(&dev->ops, op, entry);
	return (op);
}

static void
op_finish(struct va_op *op, int err)
{
	struct vmig_dev	*dev = op->dev;

	TAILQ_REMOVE(&dev->ops, op, entry);
	if (op->ev_fail != NULL)
		event_free(op->ev_fail);
	op->res.err = err;
	if (op->msg[0] != '\0')
		op->res.msg = op->msg;
	if (err != 0)
		va_hostlog(VMIG_LOG_DEBUG, "%s: %s %s: %s", __func__,
		    dev->name, va_opnames[op->kind], op->msg);
	/* done may close the device: touch nothing of dev afterwards. */
	op->done(op->arg, &op->res);
	free(op->owned);
	free(op);
}

static void op_msg(struct va_op *, const char *, ...)
    __attribute__((format(printf, 2, 3)));

static void
op_msg(struct va_op *op, const char *fmt, ...)
{
	char	buf[256];
	va_list	ap;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	snprintf(op->msg, sizeof(op->msg), "%s: %s", op->dev->name, buf);
}

static void
op_fail_cb(evutil_socket_t fd, short ev, void *arg)
{
	struct va_op	*op = arg;

	op_finish(op, op->res.err);
}

/* Complete with an error from the loop, never from inside the call. */
static int
op_fail_later(struct va_op *op, int err)
{
	struct timeval	tv = { 0, 0 };

	op->res.err = err;
	op->ev_fail = evtimer_new(op->dev->pf->base, op_fail_cb, op);
	if (op->ev_fail == NULL) {
		TAILQ_REMOVE(&op->dev->ops, op, entry);
		free(op->owned);
		free(op);
		return (-ENOMEM);
	}
	evtimer_add(op->ev_fail, &tv);
	return (0);
}

static void
op_cmd_done(struct va_cmd *c, void *arg)
{
	struct va_op	*op = arg;

	op->cmd = NULL;
	if (c->err != 0) {
		op->res.dev_status = c->status;
		op->res.dev_qualifier = c->qual;
		/* The wire carries no reason; add what we know. */
		if (op->kind == OP_STATE_WRITE && c->status != 0 &&
		    op->dev->vf->mode == VA_MODE_ACTIVE)
			op_msg(op, "%s; the VF is active: stop or freeze it "
			    "before loading a state", c->msg);
		else if (op->kind == OP_STATE_WRITE && c->status != 0)
			op_msg(op, "%s; the device refused the state image "
			    "(the VF keeps its previous state)", c->msg);
		else
			op_msg(op, "%s", c->msg);
		if (op->kind == OP_SET_MODE)
			op->dev->vf->mode = -1;
		if (op->kind == OP_STATE_WRITE)
			va_ctx_track_init(&op->dev->wtrk);
		op_finish(op, c->err);
		return;
	}
	op->step(op, c);
}

/* Issue the op's next command; on failure finish the op (later). */
static int
op_issue(struct va_op *op, uint16_t opcode, const void *data, size_t dlen,
    const void *tail, size_t tlen, size_t rcap, va_step_fn step)
{
	struct vmig_dev	*dev = op->dev;
	struct va_cmd	*c;
	int		 rc;

	op->step = step;
	c = va_cmd_new(dev->pf->aq, opcode, VA_GROUP_SRIOV, dev->member,
	    op->lane, data, dlen, tail, tlen, rcap, op_cmd_done, op);
	if (c == NULL) {
		op_msg(op, "%s: out of memory", va_op_name(opcode));
		return (op_fail_later(op, -ENOMEM));
	}
	if ((rc = va_cmd_submit(c)) != 0) {
		op_msg(op, "%s: cannot submit: %s", va_op_name(opcode),
		    strerror(-rc));
		return (op_fail_later(op, rc));
	}
	op->cmd = c;
	return (0);
}

/* The first command of an op: a submit failure is returned, no done. */
static int
op_start(struct va_op *op, uint16_t opcode, const void *data, size_t dlen,
    const void *tail, size_t tlen, size_t rcap, va_step_fn step)
{
	struct vmig_dev	*dev = op->dev;
	struct va_cmd	*c;
	int		 rc;

	op->step = step;
	c = va_cmd_new(dev->pf->aq, opcode, VA_GROUP_SRIOV, dev->member,
	    op->lane, data, dlen, tail, tlen, rcap, op_cmd_done, op);
	rc = c == NULL ? -ENOMEM : va_cmd_submit(c);
	if (rc != 0) {
		va_hostlog(VMIG_LOG_WARN, "%s: %s: %s: cannot submit: %s",
		    __func__, dev->name, va_op_name(opcode), strerror(-rc));
		TAILQ_REMOVE(&dev->ops, op, entry);
		free(op->owned);
		free(op);
		return (rc);
	}
	op->cmd = c;
	return (0);
}

/* A device result that makes no sense ends the op with -EPROTO. */
static void
op_bad_result(struct va_op *op, const char *why)
{
	op_msg(op, "%s", why);
	op_finish(op, -EPROTO);
}

static int
dev_check(struct vmig_dev *dev, int lane)
{
	if (dev == NULL)
		return (-EINVAL);
	if (dev->closing)
		return (-ESHUTDOWN);
	if (lane != VMIG_LANE_BULK && lane != VMIG_LANE_CRITICAL)
		return (-EINVAL);
	if (va_aq_dead(dev->pf->aq))
		return (-ENOTCONN);
	return (0);
}

/* -------------------------------------------------------------- modes */

static const struct {
	enum vmig_mode	 vm;
	uint8_t		 dm;
} va_modemap[] = {
	{ VMIG_MODE_ACTIVE, VA_MODE_ACTIVE },
	{ VMIG_MODE_STOPPED, VA_MODE_STOP },
	{ VMIG_MODE_FROZEN, VA_MODE_FREEZE },
};

/* Device transitions: freeze is entered and left through stop. */
static const uint8_t va_mode_next[3][3] = {
	/* to:		active		stop		freeze */
	[VA_MODE_ACTIVE] = { VA_MODE_ACTIVE, VA_MODE_STOP, VA_MODE_STOP },
	[VA_MODE_STOP] = { VA_MODE_ACTIVE, VA_MODE_STOP, VA_MODE_FREEZE },
	[VA_MODE_FREEZE] = { VA_MODE_STOP, VA_MODE_STOP, VA_MODE_FREEZE },
};

static uint32_t
mode_to_vmig(uint8_t dm)
{
	size_t	i;

	for (i = 0; i < nitems(va_modemap); i++) {
		if (va_modemap[i].dm == dm)
			return (va_modemap[i].vm);
	}
	return (VMIG_MODE_UNKNOWN);
}

static void
get_mode_step(struct va_op *op, struct va_cmd *c)
{
	uint8_t	mode;
	char	why[160];

	if (va_mode_get(c->result, c->result_len, &mode, why,
	    sizeof(why)) != 0) {
		op->dev->vf->mode = -1;
		op_bad_result(op, why);
		return;
	}
	op->dev->vf->mode = mode;
	op->dev->vf->info.mode = mode_to_vmig(mode);
	op->res.u.mode = mode_to_vmig(mode);
	op_finish(op, 0);
}

static int
va_get_mode(struct vmig_dev *dev, int lane, vmig_done_fn done, void *arg)
{
	struct va_op	*op;
	int		 rc;

	if ((rc = dev_check(dev, lane)) != 0 || done == NULL)
		return (rc != 0 ? rc : -EINVAL);
	if ((op = op_new(dev, OP_GET_MODE, lane, done, arg)) == NULL)
		return (-ENOMEM);
	return (op_start(op, VA_OP_DEV_MODE_GET, NULL, 0, NULL, 0,
	    VA_MODE_LEN, get_mode_step));
}

static void set_mode_step(struct va_op *, struct va_cmd *);

static int
set_mode_next(struct va_op *op, int first)
{
	uint8_t	data[VA_MODE_LEN], next;
	int	cur = op->dev->vf->mode;

	next = va_mode_next[cur][op->target];
	va_mode_put(data, next);
	op->cur = next;
	if (first)
		return (op_start(op, VA_OP_DEV_MODE_SET, data, sizeof(data),
		    NULL, 0, 0, set_mode_step));
	return (op_issue(op, VA_OP_DEV_MODE_SET, data, sizeof(data), NULL, 0,
	    0, set_mode_step));
}

static void
set_mode_learned(struct va_op *op, struct va_cmd *c)
{
	uint8_t	mode;
	char	why[160];

	if (va_mode_get(c->result, c->result_len, &mode, why,
	    sizeof(why)) != 0) {
		op_bad_result(op, why);
		return;
	}
	op->dev->vf->mode = mode;
	set_mode_next(op, 0);
}

static void
set_mode_step(struct va_op *op, struct va_cmd *c)
{
	struct va_vf	*vf = op->dev->vf;

	vf->mode = (int)op->cur;
	vf->info.mode = mode_to_vmig((uint8_t)op->cur);
	if (vf->mode == op->target) {
		op_finish(op, 0);
		return;
	}
	set_mode_next(op, 0);
}

static int
va_set_mode(struct vmig_dev *dev, enum vmig_mode mode, int lane,
    vmig_done_fn done, void *arg)
{
	struct va_op	*op;
	size_t		 i;
	int		 rc, target = -1;

	if ((rc = dev_check(dev, lane)) != 0 || done == NULL)
		return (rc != 0 ? rc : -EINVAL);
	for (i = 0; i < nitems(va_modemap); i++) {
		if (va_modemap[i].vm == mode)
			target = va_modemap[i].dm;
	}
	if (target < 0) {
		va_hostlog(VMIG_LOG_WARN, "%s: %s: mode %d cannot be set",
		    __func__, dev->name, (int)mode);
		return (-EINVAL);
	}
	if ((op = op_new(dev, OP_SET_MODE, lane, done, arg)) == NULL)
		return (-ENOMEM);
	op->target = (uint8_t)target;
	if (dev->vf->mode < 0)	/* unknown: learn it first */
		return (op_start(op, VA_OP_DEV_MODE_GET, NULL, 0, NULL, 0,
		    VA_MODE_LEN, set_mode_learned));
	return (set_mode_next(op, 1));
}

/* -------------------------------------------------------------- state */

static void
state_size_step(struct va_op *op, struct va_cmd *c)
{
	char	why[160];

	if (va_size_get(c->result, c->result_len, &op->res.u.size, why,
	    sizeof(why)) != 0) {
		op_bad_result(op, why);
		return;
	}
	op_finish(op, 0);
}

static int
va_state_size(struct vmig_dev *dev, int lane, vmig_done_fn done, void *arg)
{
	struct va_op	*op;
	int		 rc;

	if ((rc = dev_check(dev, lane)) != 0 || done == NULL)
		return (rc != 0 ? rc : -EINVAL);
	if ((op = op_new(dev, OP_STATE_SIZE, lane, done, arg)) == NULL)
		return (-ENOMEM);
	return (op_start(op, VA_OP_DEV_CTX_SIZE_GET, NULL, 0, NULL, 0,
	    VA_CTX_SIZE_LEN, state_size_step));
}

static void
state_read_step(struct va_op *op, struct va_cmd *c)
{
	const uint8_t	*bytes;
	uint32_t	 size, remaining;
	char		 why[160];

	if (va_ctxread_get(c->result, c->result_len, &size, &remaining,
	    &bytes, why, sizeof(why)) != 0) {
		op_bad_result(op, why);
		return;
	}
	if (size > op->cur) {
		snprintf(why, sizeof(why), "DEV_CTX_READ returned %u bytes "
		    "for a %zu-byte chunk", size, op->cur);
		op_bad_result(op, why);
		return;
	}
	if (size == 0 && remaining > 0) {
		snprintf(why, sizeof(why), "DEV_CTX_READ returned no bytes "
		    "with %u remaining", remaining);
		op_bad_result(op, why);
		return;
	}
	memcpy(op->buf, bytes, size);
	op->res.u.read.len = size;
	op->res.u.read.remaining = remaining;
	op_finish(op, 0);
}

static int
va_state_read(struct vmig_dev *dev, void *buf, size_t cap, int lane,
    vmig_done_fn done, void *arg)
{
	struct va_op	*op;
	int		 rc;

	if ((rc = dev_check(dev, lane)) != 0 || done == NULL)
		return (rc != 0 ? rc : -EINVAL);
	if (buf == NULL || cap < 8) {
		va_hostlog(VMIG_LOG_WARN, "%s: %s: a state chunk needs at "
		    "least 8 bytes (cap %zu)", __func__, dev->name, cap);
		return (-EINVAL);
	}
	if ((op = op_new(dev, OP_STATE_READ, lane, done, arg)) == NULL)
		return (-ENOMEM);
	op->buf = buf;
	op->cur = MIN(cap & ~(size_t)7, dev->pf->chunk);
	return (op_start(op, VA_OP_DEV_CTX_READ, NULL, 0, NULL, 0,
	    VA_CTX_READ_HDR + op->cur, state_read_step));
}

static void state_write_step(struct va_op *, struct va_cmd *);

/* Send the next chunk of the caller's buffer. */
static int
state_write_next(struct va_op *op, int first)
{
	struct vmig_dev	*dev = op->dev;
	uint8_t		 hdr[VA_CTX_WRITE_HDR];
	size_t		 n, end;
	uint32_t	 flags = 0;
	char		 why[200];
	int		 rc;

	n = MIN(op->len - op->off, dev->pf->chunk);
	rc = va_ctx_track(&dev->wtrk, op->buf + op->off, n, &end, why,
	    sizeof(why));
	if (rc < 0) {
		va_ctx_track_init(&dev->wtrk);
		op_msg(op, "device context refused before sending: %s", why);
		if (first)
			return (op_fail_later(op, -EINVAL));
		op_finish(op, -EINVAL);
		return (0);
	}
	if (rc == 1)
		flags |= VA_CTX_WRITE_F_LAST;
	put_le32(hdr, (uint32_t)n);
	put_le32(hdr + 4, flags);
	op->cur = n;
	if (first)
		return (op_start(op, VA_OP_DEV_CTX_WRITE, hdr, sizeof(hdr),
		    op->buf + op->off, n, 0, state_write_step));
	return (op_issue(op, VA_OP_DEV_CTX_WRITE, hdr, sizeof(hdr),
	    op->buf + op->off, n, 0, state_write_step));
}

static void
state_write_step(struct va_op *op, struct va_cmd *c)
{
	struct vmig_dev	*dev = op->dev;
	size_t		 end;
	char		 why[8];

	op->off += op->cur;
	/* The tracker said this chunk ended the image: start afresh. */
	if (va_ctx_track(&dev->wtrk, NULL, 0, &end, why, sizeof(why)) == 1)
		va_ctx_track_init(&dev->wtrk);
	if (op->off >= op->len) {
		op_finish(op, 0);
		return;
	}
	state_write_next(op, 0);
}

static int
va_state_write(struct vmig_dev *dev, const void *buf, size_t len, int lane,
    vmig_done_fn done, void *arg)
{
	struct va_op	*op;
	int		 rc;

	if ((rc = dev_check(dev, lane)) != 0 || done == NULL)
		return (rc != 0 ? rc : -EINVAL);
	if (buf == NULL || len == 0)
		return (-EINVAL);
	if ((op = op_new(dev, OP_STATE_WRITE, lane, done, arg)) == NULL)
		return (-ENOMEM);
	op->buf = (uint8_t *)(uintptr_t)buf;
	op->len = len;
	return (state_write_next(op, 1));
}

static void
state_discard_step(struct va_op *op, struct va_cmd *c)
{
	op_finish(op, 0);
}

static int
va_state_discard(struct vmig_dev *dev, int lane, vmig_done_fn done,
    void *arg)
{
	struct va_op	*op;
	int		 rc;

	if ((rc = dev_check(dev, lane)) != 0 || done == NULL)
		return (rc != 0 ? rc : -EINVAL);
	if ((op = op_new(dev, OP_STATE_DISCARD, lane, done, arg)) == NULL)
		return (-ENOMEM);
	/* The device drops its partial image; so do we, whatever happens. */
	va_ctx_track_init(&dev->wtrk);
	return (op_start(op, VA_OP_DEV_CTX_DISCARD, NULL, 0, NULL, 0, 0,
	    state_discard_step));
}

/* -------------------------------------------------------- write records */

static void
dirty_start_step(struct va_op *op, struct va_cmd *c)
{
	op->dev->recording = 1;
	op_finish(op, 0);
}

static int
va_dirty_start(struct vmig_dev *dev, const struct vmig_iova_range *ranges,
    unsigned int n, uint64_t page_size, vmig_done_fn done, void *arg)
{
	const struct vmig_dev_caps *caps;
	struct va_wr_range	 wr[MAX_RANGES];
	struct va_op		*op;
	uint8_t			 data[VA_WR_START_HDR];
	unsigned int		 i, j;
	int			 rc, bit;

	if ((rc = dev_check(dev, VMIG_LANE_BULK)) != 0 || done == NULL)
		return (rc != 0 ? rc : -EINVAL);
	caps = &dev->vf->info.caps;
	if ((op = op_new(dev, OP_DIRTY_START, VMIG_LANE_BULK, done,
	    arg)) == NULL)
		return (-ENOMEM);
	bit = page_size >= 4096 && (page_size & (page_size - 1)) == 0 ?
	    __builtin_ctzll(page_size) - 12 : -1;
	if (bit < 0 || bit > 63 || !(caps->dirty_page_sizes >> bit & 1)) {
		op_msg(op, "page size %llu is not one the device records at "
		    "(bitmap %#llx, bit n = 4096 << n)",
		    (unsigned long long)page_size,
		    (unsigned long long)caps->dirty_page_sizes);
		return (op_fail_later(op, -EINVAL));
	}
	if (n == 0 || ranges == NULL || n > caps->dirty_max_ranges ||
	    n > MAX_RANGES) {
		op_msg(op, "%u ranges; the device records 1..%u", n,
		    MIN(caps->dirty_max_ranges, MAX_RANGES));
		return (op_fail_later(op, n == 0 ? -EINVAL : -E2BIG));
	}
	if (dev->recording) {
		op_msg(op, "write recording is already running; stop it "
		    "first");
		return (op_fail_later(op, -EBUSY));
	}
	for (i = 0; i < n; i++) {
		if (ranges[i].length == 0 || ranges[i].iova % page_size ||
		    ranges[i].length % page_size ||
		    ranges[i].length > UINT64_MAX - ranges[i].iova) {
			op_msg(op, "range %u (%#llx+%llu) is empty, overflows "
			    "or is not aligned to the page size %llu", i,
			    (unsigned long long)ranges[i].iova,
			    (unsigned long long)ranges[i].length,
			    (unsigned long long)page_size);
			return (op_fail_later(op, -EINVAL));
		}
		for (j = 0; j < i; j++) {
			if (ranges[i].iova < ranges[j].iova +
			    ranges[j].length && ranges[j].iova <
			    ranges[i].iova + ranges[i].length) {
				op_msg(op, "ranges %u and %u overlap", j, i);
				return (op_fail_later(op, -EINVAL));
			}
		}
		wr[i].iova = ranges[i].iova;
		wr[i].pages = ranges[i].length / page_size;
	}
	memcpy(dev->ranges, wr, sizeof(wr[0]) * n);
	dev->nranges = n;
	dev->page_size = page_size;
	/* Header in the fixed part, the entries as the tail (which must
	 * live until the command enters the ring: the op owns it). */
	va_wrstart_put(data, page_size, NULL, 0);
	put_le32(data + 8, n);
	if ((op->owned = malloc((size_t)n * VA_WR_ENTRY_LEN)) == NULL) {
		op_msg(op, "out of memory");
		return (op_fail_later(op, -ENOMEM));
	}
	for (i = 0; i < n; i++) {
		put_le64(op->owned + (size_t)i * VA_WR_ENTRY_LEN, wr[i].iova);
		put_le64(op->owned + (size_t)i * VA_WR_ENTRY_LEN + 8,
		    wr[i].pages);
	}
	op->buf = op->owned;
	op->len = (size_t)n * VA_WR_ENTRY_LEN;
	return (op_start(op, VA_OP_WRITE_RECORDS_START, data, sizeof(data),
	    op->buf, op->len, 0, dirty_start_step));
}

static void dirty_read_step(struct va_op *, struct va_cmd *);

static int
dirty_read_issue(struct va_op *op, int first)
{
	struct vmig_dev	*dev = op->dev;
	struct va_wr_range *r = &dev->ranges[op->range];
	uint8_t		 data[VA_WR_READ_LEN];
	size_t		 rcap;

	va_wrread_put(data, r->iova, r->pages * dev->page_size);
	rcap = VA_WR_RECS_HDR + dev->pf->wr_recs * VA_WR_REC_LEN;
	if (first)
		return (op_start(op, VA_OP_WRITE_RECORDS_READ, data,
		    sizeof(data), NULL, 0, rcap, dirty_read_step));
	return (op_issue(op, VA_OP_WRITE_RECORDS_READ, data, sizeof(data),
	    NULL, 0, rcap, dirty_read_step));
}

static void
dirty_read_finish(struct va_op *op)
{
	if (op->outside > 0)
		va_hostlog(VMIG_LOG_WARN, "%s: %s: %llu write records outside "
		    "every dirty map (first at iova %#llx): not recorded",
		    __func__, op->dev->name, (unsigned long long)op->outside,
		    (unsigned long long)op->outside_iova);
	op_finish(op, 0);
}

static void
dirty_read_step(struct va_op *op, struct va_cmd *c)
{
	struct vmig_dev	*dev = op->dev;
	struct va_wr_range *r = &dev->ranges[op->range];
	const uint8_t	*recs;
	uint32_t	 count, flags, i;
	uint64_t	 iova, len, rlen;
	char		 why[160];

	if (va_wrrecs_get(c->result, c->result_len, &count, &flags, &recs,
	    why, sizeof(why)) != 0) {
		op_bad_result(op, why);
		return;
	}
	rlen = r->pages * dev->page_size;
	for (i = 0; i < count; i++) {
		va_wrrec_get(recs, i, &iova, &len);
		op->res.u.dirty.records++;
		op->res.u.dirty.bytes += len;
		if (!va_wr_apply(op->maps, op->nmaps, iova, len,
		    &op->res.u.dirty.pages)) {
			if (op->outside++ == 0)
				op->outside_iova = iova;
		}
	}
	if (flags & VA_WR_F_LOST) {
		/* The device lost track: the whole range is suspect. */
		op->res.u.dirty.overflow = 1;
		va_maps_set_whole(op->maps, op->nmaps, r->iova, rlen,
		    &op->res.u.dirty.pages);
		va_hostlog(VMIG_LOG_INFO, "%s: %s: device lost write records "
		    "in %#llx+%llu: range marked dirty", __func__, dev->name,
		    (unsigned long long)r->iova, (unsigned long long)rlen);
	}
	if ((flags & VA_WR_F_MORE) && ++op->rounds < WR_READ_ROUNDS) {
		dirty_read_issue(op, 0);
		return;
	}
	if (flags & VA_WR_F_MORE)
		va_hostlog(VMIG_LOG_DEBUG, "%s: %s: still records pending after "
		    "%u reads; the next dirty_read takes them", __func__,
		    dev->name, op->rounds);
	op->rounds = 0;
	if (++op->range < dev->nranges) {
		dirty_read_issue(op, 0);
		return;
	}
	dirty_read_finish(op);
}

static int
va_dirty_read(struct vmig_dev *dev, struct vmig_dirty_map *maps,
    unsigned int n, int lane, vmig_done_fn done, void *arg)
{
	struct va_op	*op;
	char		 why[160];
	int		 rc;

	if ((rc = dev_check(dev, lane)) != 0 || done == NULL)
		return (rc != 0 ? rc : -EINVAL);
	if ((op = op_new(dev, OP_DIRTY_READ, lane, done, arg)) == NULL)
		return (-ENOMEM);
	if ((rc = va_maps_check(maps, n, why, sizeof(why))) != 0) {
		op_msg(op, "%s", why);
		return (op_fail_later(op, rc));
	}
	if (!dev->recording) {
		op_msg(op, "write recording is not running");
		return (op_fail_later(op, -EINVAL));
	}
	op->maps = maps;
	op->nmaps = n;
	return (dirty_read_issue(op, 1));
}

static void
dirty_stop_step(struct va_op *op, struct va_cmd *c)
{
	op->dev->recording = 0;
	op_finish(op, 0);
}

static int
va_dirty_stop(struct vmig_dev *dev, vmig_done_fn done, void *arg)
{
	struct va_op	*op;
	int		 rc;

	if ((rc = dev_check(dev, VMIG_LANE_CRITICAL)) != 0 || done == NULL)
		return (rc != 0 ? rc : -EINVAL);
	if ((op = op_new(dev, OP_DIRTY_STOP, VMIG_LANE_CRITICAL, done,
	    arg)) == NULL)
		return (-ENOMEM);
	return (op_start(op, VA_OP_WRITE_RECORDS_STOP, NULL, 0, NULL, 0, 0,
	    dirty_stop_step));
}

/* ------------------------------------------------------------- PF, VFs */

/*
 * Opening a PF is asynchronous (ABI 2): the transport's handshake and the
 * first admin commands (LIST_QUERY, LIST_USE, each VF's write-record
 * capabilities and mode) each end in a callback on the loop that starts
 * the next, and the daemon's done runs at the end. Nothing polls.
 */
enum va_open_step {
	OPEN_HELLO,		/* the sim's Hello is awaited */
	OPEN_ACK,		/* its Ack */
	OPEN_LIST,		/* LIST_QUERY */
	OPEN_USE,		/* LIST_USE */
	OPEN_VFS,		/* per VF: write-record caps, mode */
};

struct sync_slot {
	struct va_opening *op;
	struct va_cmd	*cmd;		/* until it completes */
	int		 err;
	char		 msg[192];
	uint8_t		 res[64];
	size_t		 res_len;
};

struct va_opening {
	struct vmig_pf		*pf;
	vmig_done_fn		 done;
	void			*arg;
	struct va_tp_params	 tpp;
	int			 timeout_ms;
	enum va_open_step	 step;
	struct event		*ev;		/* socket readable, or timeout */
	struct sync_slot	*slots;
	unsigned int		 nslots;
	int			 pending;
	uint8_t			 list[8];
	char			 msg[512];
};

static void	open_next(struct va_opening *);

static void
pf_free(struct vmig_pf *pf)
{
	if (pf->aq != NULL)
		va_aq_free(pf->aq);	/* closes the transport */
	else if (pf->tp != NULL)
		va_transport_close(pf->tp);
	free(pf->vfs);
	free(pf);
}

static void
open_cancel_slots(struct va_opening *op)
{
	unsigned int	i;

	for (i = 0; i < op->nslots; i++) {
		if (op->slots[i].cmd != NULL)
			va_cmd_cancel(op->slots[i].cmd);
		op->slots[i].cmd = NULL;
	}
	free(op->slots);
	op->slots = NULL;
	op->nslots = 0;
	op->pending = 0;
}

/* The open is over: tell the daemon (err 0: the PF is usable). */
static void
open_finish(struct va_opening *op, int err)
{
	struct vmig_pf		*pf = op->pf;
	struct vmig_result	 res;

	memset(&res, 0, sizeof(res));
	res.err = err;
	if (err != 0) {
		res.msg = op->msg;
		va_hostlog(VMIG_LOG_WARN, "%s: %s", __func__, op->msg);
	}
	open_cancel_slots(op);
	if (op->ev != NULL)
		event_free(op->ev);
	pf->opening = NULL;
	op->done(op->arg, &res);
	free(op);
}

static void
open_fail(struct va_opening *op, int err, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void
open_fail(struct va_opening *op, int err, const char *fmt, ...)
{
	va_list	ap;

	va_start(ap, fmt);
	vsnprintf(op->msg, sizeof(op->msg), fmt, ap);
	va_end(ap);
	open_finish(op, err < 0 ? err : -EIO);
}

static void
sync_cb(struct va_cmd *c, void *arg)
{
	struct sync_slot	*s = arg;
	struct va_opening	*op = s->op;

	s->cmd = NULL;
	s->err = c->err;
	snprintf(s->msg, sizeof(s->msg), "%s", c->msg);
	if (c->err == 0) {
		s->res_len = MIN(c->result_len, sizeof(s->res));
		memcpy(s->res, c->result, s->res_len);
	}
	if (--op->pending == 0)
		open_next(op);
}

/* Submit n commands (slots prepared); their completions go on. */
static int
open_submit(struct va_opening *op, const uint16_t *opcodes,
    const uint64_t *members, const void *data, size_t dlen, size_t rcap,
    unsigned int n)
{
	struct vmig_pf	*pf = op->pf;
	unsigned int	 i;
	int		 rc;

	open_cancel_slots(op);
	op->slots = calloc(n, sizeof(*op->slots));
	if (op->slots == NULL)
		return (-ENOMEM);
	op->nslots = n;
	for (i = 0; i < n; i++) {
		op->slots[i].op = op;
		op->slots[i].cmd = va_cmd_new(pf->aq, opcodes[i],
		    VA_GROUP_SRIOV, members[i], VMIG_LANE_CRITICAL, data, dlen,
		    NULL, 0, rcap, sync_cb, &op->slots[i]);
		if (op->slots[i].cmd == NULL)
			return (-ENOMEM);
	}
	for (i = 0; i < n; i++) {
		if ((rc = va_cmd_submit(op->slots[i].cmd)) != 0) {
			op->slots[i].cmd = NULL;	/* freed by submit */
			snprintf(op->msg, sizeof(op->msg), "%s: cannot submit "
			    "%s: %s", pf->name, va_op_name(opcodes[i]),
			    strerror(-rc));
			return (rc);
		}
		op->pending++;
	}
	return (0);
}

/* The queues are up: the admin queue driver, then LIST_QUERY. */
static int
open_queues(struct va_opening *op)
{
	struct vmig_pf	*pf = op->pf;
	static const uint16_t q = VA_OP_LIST_QUERY;
	static const uint64_t zero;

	pf->aq = va_aq_new(pf->tp, pf->base, op->timeout_ms, op->msg,
	    sizeof(op->msg));
	if (pf->aq == NULL)
		return (-ENOMEM);
	pf->tp = va_aq_transport(pf->aq);
	pf->chunk = MIN((size_t)CHUNK_MAX, va_aq_max_cmd(pf->aq) / 2) &
	    ~(size_t)7;
	pf->wr_recs = MIN((size_t)WR_READ_RECS, (va_aq_max_cmd(pf->aq) / 2 -
	    VA_WR_RECS_HDR) / VA_WR_REC_LEN);
	pf->num_vfs = pf->tp->dev.num_vfs;
	op->step = OPEN_LIST;
	return (open_submit(op, &q, &zero, NULL, 0, 8, 1));
}

static void
open_sock_cb(evutil_socket_t fd, short what, void *arg)
{
	struct va_opening	*op = arg;
	struct vmig_pf		*pf = op->pf;
	struct timeval		 tv;
	int			 rc;

	if (what & EV_TIMEOUT) {
		open_fail(op, -ETIMEDOUT, "sim:%s: no answer from the "
		    "simulated PF within %d ms", pf->tp->target,
		    op->tpp.timeout_ms);
		return;
	}
	if (op->step == OPEN_HELLO) {
		if ((rc = va_sim_on_hello(pf->tp, &op->tpp, op->msg,
		    sizeof(op->msg))) != 0) {
			open_finish(op, rc);
			return;
		}
		op->step = OPEN_ACK;
		tv.tv_sec = op->tpp.timeout_ms / 1000;
		tv.tv_usec = (op->tpp.timeout_ms % 1000) * 1000;
		event_add(op->ev, &tv);
		return;
	}
	if ((rc = va_sim_on_ack(pf->tp, op->msg, sizeof(op->msg))) != 0 ||
	    (rc = open_queues(op)) != 0)
		open_finish(op, rc);
}

/* LIST_QUERY answered: use what we need, if the PF offers it all. */
static int
open_use(struct va_opening *op)
{
	struct vmig_pf		*pf = op->pf;
	struct sync_slot	*qs = &op->slots[0];
	static const uint16_t	 u = VA_OP_LIST_USE;
	static const uint64_t	 zero;
	static const uint16_t	 need[] = {
		VA_OP_DEV_MODE_GET, VA_OP_DEV_MODE_SET, VA_OP_DEV_CTX_SIZE_GET,
		VA_OP_DEV_CTX_READ, VA_OP_DEV_CTX_WRITE, VA_OP_DEV_CTX_DISCARD,
		VA_OP_WRITE_RECORD_CAP_QUERY, VA_OP_WRITE_RECORDS_START,
		VA_OP_WRITE_RECORDS_STOP, VA_OP_WRITE_RECORDS_READ,
	};
	uint8_t			 use[8];
	unsigned int		 i;

	if (qs->err != 0 || qs->res_len < 8) {
		snprintf(op->msg, sizeof(op->msg), "%s: LIST_QUERY failed: %s",
		    pf->name, qs->err != 0 ? qs->msg : "result shorter than 8 "
		    "bytes");
		return (qs->err != 0 ? qs->err : -EPROTO);
	}
	memcpy(op->list, qs->res, sizeof(op->list));
	memset(use, 0, sizeof(use));
	va_list_set(use, sizeof(use), VA_OP_LIST_QUERY);
	va_list_set(use, sizeof(use), VA_OP_LIST_USE);
	for (i = 0; i < nitems(need); i++) {
		if (!va_list_has(op->list, sizeof(op->list), need[i])) {
			snprintf(op->msg, sizeof(op->msg), "%s: the PF does not "
			    "offer %s (LIST_QUERY %#llx): not the draft "
			    "migration commands", pf->name, va_op_name(need[i]),
			    (unsigned long long)get_le64(op->list));
			return (-EOPNOTSUPP);
		}
		va_list_set(use, sizeof(use), need[i]);
	}
	op->step = OPEN_USE;
	return (open_submit(op, &u, &zero, use, sizeof(use), 0, 1));
}

/* LIST_USE answered: each VF's write-record caps and mode at once. */
static int
open_vfs(struct va_opening *op)
{
	struct vmig_pf	*pf = op->pf;
	uint16_t	*opcodes;
	uint64_t	*members;
	uint32_t	 i, n = pf->num_vfs;
	int		 rc;

	if (op->slots[0].err != 0) {
		snprintf(op->msg, sizeof(op->msg), "%s: LIST_USE failed: %s",
		    pf->name, op->slots[0].msg);
		return (op->slots[0].err);
	}
	pf->vfs = calloc(n > 0 ? n : 1, sizeof(*pf->vfs));
	opcodes = calloc(n > 0 ? 2 * n : 1, sizeof(*opcodes));
	members = calloc(n > 0 ? 2 * n : 1, sizeof(*members));
	if (pf->vfs == NULL || opcodes == NULL || members == NULL) {
		free(opcodes);
		free(members);
		snprintf(op->msg, sizeof(op->msg), "%s: out of memory",
		    pf->name);
		return (-ENOMEM);
	}
	for (i = 0; i < 2 * n; i++) {
		opcodes[i] = i < n ? VA_OP_WRITE_RECORD_CAP_QUERY :
		    VA_OP_DEV_MODE_GET;
		members[i] = i % n + 1;
	}
	op->step = OPEN_VFS;
	rc = n == 0 ? 0 : open_submit(op, opcodes, members, NULL, 0, 8, 2 * n);
	free(opcodes);
	free(members);
	if (rc == 0 && n == 0)
		open_finish(op, 0);	/* a PF without VFs: nothing to ask */
	return (rc);
}

/* A VF's description, from its two answers. */
static int
open_vf(struct va_opening *op, uint32_t i)
{
	struct vmig_pf		*pf = op->pf;
	struct va_vf		*vf = &pf->vfs[i];
	struct sync_slot	*cap = &op->slots[i];
	struct sync_slot	*mode = &op->slots[pf->num_vfs + i];
	struct vmig_dev_caps	*c = &vf->info.caps;
	uint32_t		 pgs, ranges;
	uint8_t			 m;
	char			 why[160];

	if (cap->err != 0 || va_wrcap_get(cap->res, cap->res_len, &pgs,
	    &ranges, why, sizeof(why)) != 0) {
		snprintf(op->msg, sizeof(op->msg), "%s: vf%u: %s", pf->name,
		    i + 1, cap->err != 0 ? cap->msg : why);
		return (cap->err != 0 ? cap->err : -EPROTO);
	}
	vf->mode = -1;
	if (mode->err == 0 && va_mode_get(mode->res, mode->res_len, &m, why,
	    sizeof(why)) == 0)
		vf->mode = m;
	snprintf(vf->info.name, sizeof(vf->info.name), "vf%u", i + 1);
	snprintf(vf->info.type, sizeof(vf->info.type), "%s",
	    va_devtype_name(pf->tp->dev.device_type));
	vf->info.member_id = i + 1;
	vf->info.mode = vf->mode >= 0 ? mode_to_vmig((uint8_t)vf->mode) :
	    VMIG_MODE_UNKNOWN;
	snprintf(c->interface, sizeof(c->interface), "%s", VA_IFACE);
	c->modes = VMIG_MODE_BIT(VMIG_MODE_ACTIVE) |
	    VMIG_MODE_BIT(VMIG_MODE_STOPPED) | VMIG_MODE_BIT(VMIG_MODE_FROZEN);
	c->flags = VMIG_CAP_STATE_CHUNKED | VMIG_CAP_STATE_DISCARD;
	if (pf->tp->dev.flags & VA_HS_F_CTX_READ_ACTIVE)
		c->flags |= VMIG_CAP_STATE_PRECOPY;
	/* the draft's device context: whole images, the newest wins */
	c->state_kind = VMIG_STATE_SNAPSHOT;
	c->state_max_bytes = pf->tp->dev.max_ctx_bytes;
	/* its own write records: a tracker per device */
	c->dirty_kind = VMIG_DIRTY_WRITE_RECORDS;
	c->track_scope = VMIG_TRACK_DEVICE;
	c->dirty_max_ranges = MIN(ranges, MAX_RANGES);
	/* The seed's bitmap: bit n = 4 KiB << n, as ours. */
	c->dirty_page_sizes = pgs;
	return (0);
}

static void
open_next(struct va_opening *op)
{
	struct vmig_pf	*pf = op->pf;
	uint32_t	 i;
	int		 rc = 0;

	switch (op->step) {
	case OPEN_LIST:
		rc = open_use(op);
		break;
	case OPEN_USE:
		rc = open_vfs(op);
		break;
	case OPEN_VFS:
		for (i = 0; i < pf->num_vfs && rc == 0; i++)
			rc = open_vf(op, i);
		if (rc == 0) {
			va_hostlog(VMIG_LOG_INFO, "%s: %s: %u VFs (%s), %u "
			    "admin queue(s) of %u, timeout %d ms", __func__,
			    pf->name, pf->num_vfs,
			    va_devtype_name(pf->tp->dev.device_type),
			    pf->tp->nqueues, pf->tp->q[0].ring.size,
			    op->timeout_ms);
			open_finish(op, 0);
			return;
		}
		break;
	default:
		rc = -EPROTO;
		break;
	}
	if (rc != 0)
		open_finish(op, rc);
}

/* "sim:PATH[,timeout=MS][,qsize=N][,queues=N][,pool=BYTES]" */
static int
parse_spec(const char *spec, char *base, size_t baselen,
    struct va_tp_params *tpp, int *timeout_ms, char *err, size_t errlen)
{
	char		 buf[512], *opt, *val, *save = NULL, *end;
	const char	*comma;
	unsigned long long v;

	comma = strchr(spec, ',');
	if (comma == NULL) {
		snprintf(base, baselen, "%s", spec);
		return (0);
	}
	if ((size_t)(comma - spec) >= baselen ||
	    strlen(comma + 1) >= sizeof(buf)) {
		snprintf(err, errlen, "PF spec '%s' is too long", spec);
		return (-EINVAL);
	}
	memcpy(base, spec, (size_t)(comma - spec));
	base[comma - spec] = '\0';
	snprintf(buf, sizeof(buf), "%s", comma + 1);
	for (opt = strtok_r(buf, ",", &save); opt != NULL;
	    opt = strtok_r(NULL, ",", &save)) {
		if ((val = strchr(opt, '=')) == NULL) {
			snprintf(err, errlen, "PF spec '%s': option '%s' has "
			    "no value", spec, opt);
			return (-EINVAL);
		}
		*val++ = '\0';
		errno = 0;
		v = strtoull(val, &end, 0);
		if (errno != 0 || *end != '\0' || end == val || v > INT32_MAX) {
			snprintf(err, errlen, "PF spec '%s': %s=%s is not a "
			    "number", spec, opt, val);
			return (-EINVAL);
		}
		if (strcmp(opt, "timeout") == 0 && v > 0)
			*timeout_ms = (int)v;
		else if (strcmp(opt, "qsize") == 0)
			tpp->qsize = (uint32_t)v;
		else if (strcmp(opt, "queues") == 0 && v > 0)
			tpp->max_queues = (uint32_t)v;
		else if (strcmp(opt, "pool") == 0 && v >= 65536)
			tpp->pool_bytes = v;
		else {
			snprintf(err, errlen, "PF spec '%s': unknown or bad "
			    "option %s=%s (timeout, qsize, queues, pool)",
			    spec, opt, val);
			return (-EINVAL);
		}
	}
	return (0);
}

static int
va_pf_open(void *priv, const char *name, const char *spec,
    const struct vmig_fd *fds, unsigned int nfds, struct vmig_pf **pfp,
    vmig_done_fn done, void *arg, char *err, size_t errlen)
{
	const struct vmig_host	*host = priv;
	struct vmig_pf		*pf;
	struct va_opening	*op;
	struct timeval		 tv;
	char			 base[300];
	int			 rc, timeout_ms = DEF_TIMEOUT_MS;

	*pfp = NULL;
	if (name == NULL || spec == NULL || done == NULL) {
		snprintf(err, errlen, "PF open: no name, spec or callback");
		return (-EINVAL);
	}
	if ((pf = calloc(1, sizeof(*pf))) == NULL ||
	    (op = calloc(1, sizeof(*op))) == NULL) {
		free(pf);
		snprintf(err, errlen, "%s: out of memory", name);
		return (-ENOMEM);
	}
	if ((rc = parse_spec(spec, base, sizeof(base), &op->tpp, &timeout_ms,
	    err, errlen)) != 0)
		goto fail;
	if (op->tpp.timeout_ms <= 0)
		op->tpp.timeout_ms = 2000;	/* the handshake's */
	snprintf(pf->name, sizeof(pf->name), "%s", name);
	snprintf(pf->spec, sizeof(pf->spec), "%s", spec);
	pf->base = host->base;
	op->pf = pf;
	op->done = done;
	op->arg = arg;
	op->timeout_ms = timeout_ms;
	op->step = OPEN_HELLO;
	if (strncmp(base, "sim:", 4) != 0 || base[4] == '\0') {
		/* vfio:BDF is no transport on this host yet: it says why */
		if ((rc = va_transport_open(base, &op->tpp, &pf->tp, err,
		    errlen)) != 0)
			goto fail;
		rc = -EOPNOTSUPP;
		snprintf(err, errlen, "%s: only sim: PFs open here", name);
		goto fail;
	}
	if ((rc = va_sim_connect(base + 4, &pf->tp, err, errlen)) != 0)
		goto fail;
	op->ev = event_new(host->base, pf->tp->sock, EV_READ, open_sock_cb,
	    op);
	if (op->ev == NULL) {
		rc = -ENOMEM;
		snprintf(err, errlen, "%s: out of memory", name);
		goto fail;
	}
	tv.tv_sec = op->tpp.timeout_ms / 1000;
	tv.tv_usec = (op->tpp.timeout_ms % 1000) * 1000;
	event_add(op->ev, &tv);
	if (nfds != 0)
		va_hostlog(VMIG_LOG_DEBUG, "%s: %s: %u fds handed over (the "
		    "sim transport needs none)", __func__, name, nfds);
	pf->opening = op;
	*pfp = pf;
	return (0);

fail:
	va_hostlog(VMIG_LOG_WARN, "%s: %s", __func__, err);
	free(op);
	pf_free(pf);
	return (rc < 0 ? rc : -EIO);
}

static void
dev_cancel_ops(struct vmig_dev *dev)
{
	struct va_op	*op;

	while ((op = TAILQ_FIRST(&dev->ops)) != NULL) {
		if (op->cmd != NULL) {
			va_cmd_cancel(op->cmd);
			op->cmd = NULL;
		}
		snprintf(op->msg, sizeof(op->msg), "%s: cancelled: the device "
		    "was closed", dev->name);
		op->res.dev_status = 0;
		op_finish(op, -ECANCELED);
	}
}

static void
va_dev_close(struct vmig_dev *dev)
{
	if (dev == NULL || dev->closing)
		return;
	dev->closing = 1;
	dev_cancel_ops(dev);
	dev->vf->dev = NULL;
	free(dev);
}

static void
va_pf_close(struct vmig_pf *pf)
{
	uint32_t i;

	if (pf == NULL)
		return;
	if (pf->opening != NULL)
		open_fail(pf->opening, -ECANCELED, "%s: cancelled: the PF was "
		    "closed while it opened", pf->name);
	for (i = 0; i < pf->num_vfs && pf->vfs != NULL; i++) {
		if (pf->vfs[i].dev != NULL)
			va_dev_close(pf->vfs[i].dev);
	}
	pf_free(pf);
}

static int
va_pf_info(struct vmig_pf *pf, struct vmig_pf_info *info)
{
	memset(info, 0, sizeof(*info));
	snprintf(info->interface, sizeof(info->interface), "%s", VA_IFACE);
	info->num_vfs = pf->num_vfs;
	info->queue_depth = pf->tp->q[0].ring.size;
	info->max_inflight = pf->tp->nqueues * pf->tp->q[0].ring.size / 2;
	return (0);
}

static int
va_pf_list(struct vmig_pf *pf, struct vmig_dev_info *out, int max)
{
	int	i;

	for (i = 0; i < (int)pf->num_vfs && i < max; i++)
		out[i] = pf->vfs[i].info;
	return ((int)pf->num_vfs);
}

static int
va_dev_open(struct vmig_pf *pf, uint64_t member, const struct vmig_fd *fds,
    unsigned int nfds, struct vmig_dev **devp, char *err, size_t errlen)
{
	struct vmig_dev	*dev;
	struct va_vf	*vf;

	*devp = NULL;
	if (member == 0 || member > pf->num_vfs) {
		snprintf(err, errlen, "%s: no VF %llu (the PF has %u)",
		    pf->name, (unsigned long long)member, pf->num_vfs);
		return (-ENOENT);
	}
	vf = &pf->vfs[member - 1];
	if (vf->dev != NULL) {
		snprintf(err, errlen, "%s/vf%llu is already open", pf->name,
		    (unsigned long long)member);
		return (-EBUSY);
	}
	if ((dev = calloc(1, sizeof(*dev))) == NULL) {
		snprintf(err, errlen, "%s/vf%llu: out of memory", pf->name,
		    (unsigned long long)member);
		return (-ENOMEM);
	}
	dev->pf = pf;
	dev->vf = vf;
	dev->member = member;
	snprintf(dev->name, sizeof(dev->name), "%s/vf%llu", pf->name,
	    (unsigned long long)member);
	TAILQ_INIT(&dev->ops);
	va_ctx_track_init(&dev->wtrk);
	vf->dev = dev;
	*devp = dev;
	return (0);
}

/*
 * Trackers: each VF records its own writes (write records), so a tracker
 * is its device's, named by it; the calls are the device's.
 */
struct vmig_tracker {
	struct vmig_dev	*dev;
};

static int
va_dev_tracker(struct vmig_dev *dev, struct vmig_tracker_info *info)
{
	memset(info, 0, sizeof(*info));
	info->scope = VMIG_TRACK_DEVICE;
	info->kind = VMIG_DIRTY_WRITE_RECORDS;
	snprintf(info->key, sizeof(info->key), "%.63s", dev->name);
	return (0);
}

static int
va_tracker_open(struct vmig_dev *dev, struct vmig_tracker **tp, char *err,
    size_t errlen)
{
	if ((*tp = calloc(1, sizeof(**tp))) == NULL) {
		snprintf(err, errlen, "%s: out of memory", dev->name);
		return (-ENOMEM);
	}
	(*tp)->dev = dev;
	return (0);
}

/* The device is not touched: it may be closed already. */
static void
va_tracker_close(struct vmig_tracker *t)
{
	free(t);
}

static int
va_tracker_start(struct vmig_tracker *t, const struct vmig_iova_range *r,
    unsigned int n, uint64_t page_size, vmig_done_fn done, void *arg)
{
	return (va_dirty_start(t->dev, r, n, page_size, done, arg));
}

static int
va_tracker_read(struct vmig_tracker *t, struct vmig_dirty_map *maps,
    unsigned int n, int lane, vmig_done_fn done, void *arg)
{
	return (va_dirty_read(t->dev, maps, n, lane, done, arg));
}

static int
va_tracker_stop(struct vmig_tracker *t, vmig_done_fn done, void *arg)
{
	return (va_dirty_stop(t->dev, done, arg));
}

static int
va_init(const struct vmig_host *host, void **priv)
{
	if (host == NULL || host->base == NULL)
		return (-EINVAL);
	if (host->abi_major != VMIG_BACKEND_ABI_MAJOR)
		return (-EPROTONOSUPPORT);
	va_host = host;
	va_logfn = va_hostlog;
	*priv = (void *)(uintptr_t)host;
	return (0);
}

static void
va_fini(void *priv)
{
	va_logfn = NULL;
	va_host = NULL;
}

__attribute__((visibility("default")))
const struct vmig_backend vmig_backend = {
	.abi_major = VMIG_BACKEND_ABI_MAJOR,
	.abi_minor = VMIG_BACKEND_ABI_MINOR,
	.name = VA_NAME,
	.version = PACKAGE_VERSION,
	.description = "virtio PF admin virtqueue, draft dialect (device "
	    "context TLVs, write records); sim:PATH or vfio:BDF",
	.init = va_init,
	.fini = va_fini,
	.pf_open = va_pf_open,
	.pf_close = va_pf_close,
	.pf_info = va_pf_info,
	.pf_list = va_pf_list,
	.dev_open = va_dev_open,
	.dev_close = va_dev_close,
	.get_mode = va_get_mode,
	.set_mode = va_set_mode,
	.state_size = va_state_size,
	.state_read = va_state_read,
	.state_write = va_state_write,
	.state_discard = va_state_discard,
	.dev_tracker = va_dev_tracker,
	.tracker_open = va_tracker_open,
	.tracker_close = va_tracker_close,
	.tracker_start = va_tracker_start,
	.tracker_read = va_tracker_read,
	.tracker_stop = va_tracker_stop,
};
