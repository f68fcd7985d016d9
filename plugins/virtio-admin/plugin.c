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

struct sync_slot {
	struct va_cmd	*cmd;		/* until it completes */
	int		*pending;
	int		 err;
	char		 msg[192];
	uint8_t		 res[64];
	size_t		 res_len;
};

static void
sync_cb(struct va_cmd *c, void *arg)
{
	struct sync_slot *s = arg;

	s->cmd = NULL;
	s->err = c->err;
	snprintf(s->msg, sizeof(s->msg), "%s", c->msg);
	if (c->err == 0) {
		s->res_len = MIN(c->result_len, sizeof(s->res));
		memcpy(s->res, c->result, s->res_len);
	}
	(*s->pending)--;
}

/* Run n commands to completion before the PF is handed out. */
static int
pf_sync(struct vmig_pf *pf, struct sync_slot *slots, unsigned int n,
    char *err, size_t errlen)
{
	unsigned int	i;
	int		pending = 0, rc = 0;

	for (i = 0; i < n; i++) {
		slots[i].pending = &pending;
		if (rc == 0 && (rc = va_cmd_submit(slots[i].cmd)) != 0) {
			snprintf(err, errlen, "%s: cannot submit %s: %s",
			    pf->name, va_op_name(slots[i].cmd->opcode),
			    strerror(-rc));
			slots[i].cmd = NULL;	/* freed by submit */
		} else if (rc == 0)
			pending++;
	}
	if (rc == 0 && (rc = va_aq_run_until(pf->aq, &pending,
	    OPEN_TIMEOUT_MS)) != 0)
		snprintf(err, errlen, "%s: the PF did not answer its first "
		    "commands: %s", pf->name, strerror(-rc));
	if (rc != 0) {
		for (i = 0; i < n; i++) {
			if (slots[i].cmd != NULL)
				va_cmd_cancel(slots[i].cmd);
			slots[i].cmd = NULL;
		}
	}
	return (rc);
}

/* A command whose completion fills slot. */
static int
pf_sync_cmd(struct vmig_pf *pf, struct sync_slot *slot, uint16_t opcode,
    uint64_t member, const void *data, size_t dlen, size_t rcap)
{
	memset(slot, 0, sizeof(*slot));
	slot->cmd = va_cmd_new(pf->aq, opcode, VA_GROUP_SRIOV, member,
	    VMIG_LANE_CRITICAL, data, dlen, NULL, 0, rcap, sync_cb, slot);
	return (slot->cmd == NULL ? -ENOMEM : 0);
}

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
    struct vmig_pf **pfp, char *err, size_t errlen)
{
	const struct vmig_host *host = priv;
	struct vmig_pf		*pf;
	struct va_tp_params	 tpp;
	struct sync_slot	 qs, us, *slots = NULL;
	uint8_t			 list[8], use[8];
	char			 base[300];
	static const uint16_t	 need[] = {
		VA_OP_DEV_MODE_GET, VA_OP_DEV_MODE_SET, VA_OP_DEV_CTX_SIZE_GET,
		VA_OP_DEV_CTX_READ, VA_OP_DEV_CTX_WRITE, VA_OP_DEV_CTX_DISCARD,
		VA_OP_WRITE_RECORD_CAP_QUERY, VA_OP_WRITE_RECORDS_START,
		VA_OP_WRITE_RECORDS_STOP, VA_OP_WRITE_RECORDS_READ,
	};
	int			 rc, timeout_ms = DEF_TIMEOUT_MS;
	uint32_t		 i, n, pgs, ranges;
	uint8_t			 mode;
	struct va_vf		*vf;
	char			 why[160];

	*pfp = NULL;
	if (name == NULL || spec == NULL) {
		snprintf(err, errlen, "PF open: no name or spec");
		return (-EINVAL);
	}
	memset(&tpp, 0, sizeof(tpp));
	if ((rc = parse_spec(spec, base, sizeof(base), &tpp, &timeout_ms,
	    err, errlen)) != 0)
		return (rc);
	if ((pf = calloc(1, sizeof(*pf))) == NULL) {
		snprintf(err, errlen, "%s: out of memory", name);
		return (-ENOMEM);
	}
	snprintf(pf->name, sizeof(pf->name), "%s", name);
	snprintf(pf->spec, sizeof(pf->spec), "%s", spec);
	pf->base = host->base;
	if ((rc = va_transport_open(base, &tpp, &pf->tp, err, errlen)) != 0)
		goto fail;
	if (pf->tp->dev.device_type != VA_DEVTYPE_NET) {
		snprintf(err, errlen, "%s: device type %u is not one we "
		    "migrate (virtio-net)", name, pf->tp->dev.device_type);
		rc = -EOPNOTSUPP;
		goto fail;
	}
	pf->aq = va_aq_new(pf->tp, host->base, timeout_ms, err, errlen);
	if (pf->aq == NULL) {
		rc = -ENOMEM;
		goto fail;
	}
	pf->tp = va_aq_transport(pf->aq);
	pf->chunk = MIN((size_t)CHUNK_MAX, va_aq_max_cmd(pf->aq) / 2) &
	    ~(size_t)7;
	pf->wr_recs = MIN((size_t)WR_READ_RECS, (va_aq_max_cmd(pf->aq) / 2 -
	    VA_WR_RECS_HDR) / VA_WR_REC_LEN);
	pf->num_vfs = pf->tp->dev.num_vfs;

	/* LIST_QUERY, then LIST_USE of what we need (reference §3.5). */
	if ((rc = pf_sync_cmd(pf, &qs, VA_OP_LIST_QUERY, 0, NULL, 0,
	    sizeof(list))) != 0 || (rc = pf_sync(pf, &qs, 1, err,
	    errlen)) != 0)
		goto fail;
	if (qs.err != 0 || qs.res_len < 8) {
		snprintf(err, errlen, "%s: LIST_QUERY failed: %s", name,
		    qs.err != 0 ? qs.msg : "result shorter than 8 bytes");
		rc = qs.err != 0 ? qs.err : -EPROTO;
		goto fail;
	}
	memcpy(list, qs.res, sizeof(list));
	memset(use, 0, sizeof(use));
	va_list_set(use, sizeof(use), VA_OP_LIST_QUERY);
	va_list_set(use, sizeof(use), VA_OP_LIST_USE);
	for (i = 0; i < nitems(need); i++) {
		if (!va_list_has(list, sizeof(list), need[i])) {
			snprintf(err, errlen, "%s: the PF does not offer %s "
			    "(LIST_QUERY %#llx): not the draft migration "
			    "commands", name, va_op_name(need[i]),
			    (unsigned long long)get_le64(list));
			rc = -EOPNOTSUPP;
			goto fail;
		}
		va_list_set(use, sizeof(use), need[i]);
	}
	if ((rc = pf_sync_cmd(pf, &us, VA_OP_LIST_USE, 0, use, sizeof(use),
	    0)) != 0 || (rc = pf_sync(pf, &us, 1, err, errlen)) != 0)
		goto fail;
	if (us.err != 0) {
		snprintf(err, errlen, "%s: LIST_USE failed: %s", name, us.msg);
		rc = us.err;
		goto fail;
	}

	/* Each VF: write-record capabilities and its mode. */
	n = pf->num_vfs;
	pf->vfs = calloc(n > 0 ? n : 1, sizeof(*pf->vfs));
	slots = calloc(n > 0 ? 2 * n : 1, sizeof(*slots));
	if (pf->vfs == NULL || slots == NULL) {
		snprintf(err, errlen, "%s: out of memory", name);
		rc = -ENOMEM;
		goto fail;
	}
	for (i = 0; i < 2 * n; i++) {
		if ((rc = pf_sync_cmd(pf, &slots[i], i < n ?
		    VA_OP_WRITE_RECORD_CAP_QUERY : VA_OP_DEV_MODE_GET,
		    i % n + 1, NULL, 0, 8)) != 0) {
			snprintf(err, errlen, "%s: out of memory", name);
			while (i-- > 0)
				va_cmd_cancel(slots[i].cmd);
			goto fail;
		}
	}
	if ((rc = pf_sync(pf, slots, 2 * n, err, errlen)) != 0)
		goto fail;
	for (i = 0; i < n; i++) {
		vf = &pf->vfs[i];
		if (slots[i].err != 0 || va_wrcap_get(slots[i].res,
		    slots[i].res_len, &pgs, &ranges, why, sizeof(why)) != 0) {
			snprintf(err, errlen, "%s: vf%u: %s", name, i + 1,
			    slots[i].err != 0 ? slots[i].msg : why);
			rc = slots[i].err != 0 ? slots[i].err : -EPROTO;
			goto fail;
		}
		vf->mode = -1;
		if (slots[n + i].err == 0 && va_mode_get(slots[n + i].res,
		    slots[n + i].res_len, &mode, why, sizeof(why)) == 0)
			vf->mode = mode;
		snprintf(vf->info.name, sizeof(vf->info.name), "vf%u", i + 1);
		snprintf(vf->info.type, sizeof(vf->info.type), "%s",
		    va_devtype_name(pf->tp->dev.device_type));
		vf->info.member_id = i + 1;
		vf->info.mode = vf->mode >= 0 ? mode_to_vmig((uint8_t)vf->mode) :
		    VMIG_MODE_UNKNOWN;
		snprintf(vf->info.caps.interface,
		    sizeof(vf->info.caps.interface), "%s", VA_IFACE);
		vf->info.caps.modes = VMIG_MODE_BIT(VMIG_MODE_ACTIVE) |
		    VMIG_MODE_BIT(VMIG_MODE_STOPPED) |
		    VMIG_MODE_BIT(VMIG_MODE_FROZEN);
		vf->info.caps.flags = VMIG_CAP_STATE_CHUNKED |
		    VMIG_CAP_STATE_DISCARD;
		if (pf->tp->dev.flags & VA_HS_F_CTX_READ_ACTIVE)
			vf->info.caps.flags |= VMIG_CAP_STATE_PRECOPY;
		vf->info.caps.state_max_bytes = pf->tp->dev.max_ctx_bytes;
		vf->info.caps.dirty_kind = VMIG_DIRTY_WRITE_RECORDS;
		vf->info.caps.dirty_max_ranges = MIN(ranges, MAX_RANGES);
		/* The seed's bitmap: bit n = 4 KiB << n, as ours. */
		vf->info.caps.dirty_page_sizes = pgs;
	}
	free(slots);
	va_hostlog(VMIG_LOG_INFO, "%s: %s: %u VFs (%s), %u admin queue(s) of "
	    "%u, timeout %d ms", __func__, name, n,
	    va_devtype_name(pf->tp->dev.device_type), pf->tp->nqueues,
	    pf->tp->q[0].ring.size, timeout_ms);
	*pfp = pf;
	return (0);

fail:
	va_hostlog(VMIG_LOG_WARN, "%s: %s", __func__, err);
	pf_free(pf);
	free(slots);
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
va_dev_open(struct vmig_pf *pf, uint64_t member, struct vmig_dev **devp,
    char *err, size_t errlen)
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
	.dirty_start = va_dirty_start,
	.dirty_read = va_dirty_read,
	.dirty_stop = va_dirty_stop,
};
