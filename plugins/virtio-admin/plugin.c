/*
 * plugin.c: the virtio backend (include/vmig/backend.h): one core for
 * every virtio dialect (dialect.h: the draft admin commands, virtio 1.4
 * device parts, the control-virtqueue proposal). The core knows no
 * dialect: a PF's HELLO names one, and from then on every ABI call is one
 * of that dialect's operations (struct va_dop, its step tables in
 * dialect_<name>.c) whose commands the core sends through the PF's queue
 * (adminq.c over a transport, framed as the dialect says) and whose
 * answers it feeds back, until the operation is done; `done` then runs
 * once, on the loop, with a message that names the VF.
 *
 * What the core adds to the operations: device state goes out and comes
 * in in the canonical form (devstate.h), converted from and to the
 * dialect's native image here, so VFs of different dialects can migrate
 * into each other; a tracker per VF, or none when the dialect has no
 * dirty tracking (virtio 1.4: every mapped page is dirty, always).
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
#include "devstate.h"
#include "dialect.h"
#include "transport.h"

#define VA_NAME		"virtio-admin"
#define DEF_TIMEOUT_MS	5000
#define CHUNK_MAX	(256u << 10)	/* state bytes per command */
#define SAVE_DEFAULT	(1u << 20)	/* a native image, when unknown */
#define ALL_DIALECTS	((1u << VA_DIALECT_DRAFT) | (1u << VA_DIALECT_V14) | \
			    (1u << VA_DIALECT_CVQ))

static const struct vmig_host *va_host;

static void va_hostlog(int, const char *, ...)
    __attribute__((format(printf, 2, 3)));
static void va_dlog(const char *, ...)
    __attribute__((format(printf, 1, 2)));

static void
va_vhostlog(int level, const char *fmt, va_list ap)
{
	char	buf[512];

	if (va_host == NULL || va_host->log == NULL)
		return;
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_host->log(level, "%s: %s", VA_NAME, buf);
}

static void
va_hostlog(int level, const char *fmt, ...)
{
	va_list	ap;

	va_start(ap, fmt);
	va_vhostlog(level, fmt, ap);
	va_end(ap);
}

/* The dialects' step transitions (dialect.c), at debug level. */
static void
va_dlog(const char *fmt, ...)
{
	va_list	ap;

	va_start(ap, fmt);
	va_vhostlog(VMIG_LOG_DEBUG, fmt, ap);
	va_end(ap);
}

struct va_vf {
	struct vmig_dev_info	 info;
	struct va_dvf		 dvf;		/* the dialect's per-VF state */
	struct vmig_dev		*dev;		/* open handle */
};

struct va_opening;

struct vmig_pf {
	char			 name[64];
	char			 spec[300];
	struct va_aq		*aq;
	struct va_transport	*tp;
	struct event_base	*base;
	struct va_opening	*opening;	/* until the open is done */
	const struct va_dialect	*d;
	struct va_dpf		 dpf;		/* the dialect's per-PF state */
	uint32_t		 num_vfs;
	struct va_vf		*vfs;
};

struct va_op;
/* What an operation does with its outcome (0: done, or chains on). */
typedef int (*va_fin_fn)(struct va_op *, int err);

struct va_op {
	TAILQ_ENTRY(va_op)	 entry;
	struct vmig_pf		*pf;
	struct vmig_dev		*dev;		/* NULL: a PF operation */
	const char		*what;		/* ABI call, for messages */
	struct va_dop		 dop;
	struct va_dcmd		 dc;		/* the command in flight */
	struct va_cmd		*cmd;
	va_fin_fn		 fin;
	vmig_done_fn		 done;
	void			*arg;
	struct vmig_result	 res;
	char			 msg[400];
	struct event		*ev_later;	/* completion from the loop */
	uint8_t			*owned;		/* freed with the op */
	/* state_write: the canonical image, decoded, and the base */
	struct vds		*vds;
	struct vds		*base;
	uint8_t			*canon;		/* the image vds points into */
	uint8_t			*native;	/* what LOAD writes */
	uint32_t		 vf_i;		/* open: the VF being probed */
	uint8_t			*ubuf;		/* state_read: the caller's */
	size_t			 ucap;
	/* state_write: the mode to go back to after the load, -1 none;
	 * a failed load's error and message while it goes back */
	int			 back_mode;
	int			 load_err;
	char			 load_msg[400];
};

TAILQ_HEAD(va_opq, va_op);

struct vmig_dev {
	struct vmig_pf		*pf;
	struct va_vf		*vf;
	uint64_t		 member;
	char			 name[96];	/* "sim0/vf3" for messages */
	struct va_opq		 ops;
	int			 closing;
	/* Out: the canonical image being read, in chunks. */
	uint8_t			*img;
	size_t			 img_len;
	size_t			 img_off;
	/* In: the canonical image being written, until it is whole. */
	uint8_t			*in;
	size_t			 in_len;
	size_t			 in_cap;
};

/* ------------------------------------------------------------ operations */

static void	op_step(struct va_op *);

static const char *
op_who(const struct va_op *op)
{
	return (op->dev != NULL ? op->dev->name : op->pf->name);
}

static void op_msg(struct va_op *, const char *, ...)
    __attribute__((format(printf, 2, 3)));

static void
op_msg(struct va_op *op, const char *fmt, ...)
{
	char	buf[296];
	va_list	ap;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	snprintf(op->msg, sizeof(op->msg), "%s: %s", op_who(op), buf);
}

static struct va_op *
op_new(struct vmig_pf *pf, struct vmig_dev *dev, const char *what,
    enum va_dop_kind kind, int lane, va_fin_fn fin, vmig_done_fn done,
    void *arg)
{
	struct va_op	*op;

	if ((op = calloc(1, sizeof(*op))) == NULL)
		return (NULL);
	op->pf = pf;
	op->dev = dev;
	op->what = what;
	op->fin = fin;
	op->done = done;
	op->arg = arg;
	va_dop_init(&op->dop, kind, &pf->dpf, dev != NULL ? &dev->vf->dvf :
	    NULL);
	op->dop.lane = lane;
	if (dev != NULL)
		TAILQ_INSERT_TAIL(&dev->ops, op, entry);
	return (op);
}

static void
op_free(struct va_op *op)
{
	if (op->dev != NULL)
		TAILQ_REMOVE(&op->dev->ops, op, entry);
	if (op->ev_later != NULL)
		event_free(op->ev_later);
	free(op->owned);
	free(op->vds);
	free(op->canon);
	free(op->base);
	free(op->native);
	free(op);
}

/* The end of an operation: its fin may chain another, else done. */
static void
op_end(struct va_op *op, int err)
{
	if (op->fin != NULL && op->fin(op, err) == 1)
		return;		/* chained: the op goes on */
	op->res.err = err;
	if (op->msg[0] != '\0')
		op->res.msg = op->msg;
	if (err != 0)
		va_hostlog(VMIG_LOG_DEBUG, "%s: %s: %s", __func__, op->what,
		    op->msg);
	if (op->done != NULL)
		op->done(op->arg, &op->res);
	/* done may close the device: touch nothing of it afterwards. */
	op_free(op);
}

static void
op_later_cb(evutil_socket_t fd, short ev, void *arg)
{
	struct va_op	*op = arg;

	if (op->res.err != 0)
		op_end(op, op->res.err);
	else
		op_step(op);
}

/* Go on from the loop, never from inside the ABI call. */
static int
op_later(struct va_op *op, int err)
{
	struct timeval	tv = { 0, 0 };

	op->res.err = err;
	if (op->ev_later == NULL)
		op->ev_later = evtimer_new(op->pf->base, op_later_cb, op);
	if (op->ev_later == NULL) {
		op_free(op);
		return (-ENOMEM);
	}
	evtimer_add(op->ev_later, &tv);
	return (0);
}

static void
op_cmd_done(struct va_cmd *c, void *arg)
{
	struct va_op	*op = arg;
	struct va_dres	 r;
	char		 why[300];
	int		 rc;

	op->cmd = NULL;
	if (!c->answered) {
		/* No answer (timeout, device gone, a bad chain). */
		op_msg(op, "%s", c->msg);
		if (op->dop.d->ops_steps[op->dop.kind].fail != NULL)
			op->dop.d->ops_steps[op->dop.kind].fail(&op->dop,
			    c->err);
		op_end(op, c->err != 0 ? c->err : -EIO);
		return;
	}
	memset(&r, 0, sizeof(r));
	r.status = c->status;
	r.qual = c->qual;
	r.result = c->result;
	r.result_len = c->result_len;
	if (c->err != 0) {
		op->res.dev_status = c->status;
		op->res.dev_qualifier = c->qual;
	}
	if ((rc = va_dop_feed(&op->dop, &r, why, sizeof(why))) != 0) {
		op_msg(op, "%s", why);
		op_end(op, rc);
		return;
	}
	op_step(op);
}

/*
 * The operation's next command: 1 (submitted), 0 (the operation has
 * ended: op_end ran), or, with first (inside the ABI call), -errno when it
 * could not be submitted: the op is freed and done never runs.
 */
static int
op_issue(struct va_op *op, int first)
{
	char	 why[300];
	int	 rc, lane;

	rc = va_dop_next(&op->dop, &op->dc, why, sizeof(why));
	if (rc <= 0) {
		if (rc < 0)
			op_msg(op, "%s", why);
		if (first)
			return (op_later(op, rc) == 0 ? 0 : -ENOMEM);
		op_end(op, rc);
		return (0);
	}
	lane = op->dc.critical ? VMIG_LANE_CRITICAL : op->dop.lane;
	op->cmd = va_cmd_new(op->pf->aq, op->dc.opcode, op->dc.group,
	    op->dc.member, lane, op->dc.data, op->dc.data_len, op->dc.tail,
	    op->dc.tail_len, op->dc.result_cap, op_cmd_done, op);
	rc = op->cmd == NULL ? -ENOMEM : va_cmd_submit(op->cmd);
	if (rc == 0)
		return (1);
	op->cmd = NULL;
	if (first) {
		va_hostlog(VMIG_LOG_WARN, "%s: %s: %s: cannot submit: %s",
		    __func__, op_who(op), va_dialect_op_name(op->pf->d,
		    op->dc.opcode), strerror(-rc));
		op->fin = NULL;
		op_free(op);
		return (rc);
	}
	op_msg(op, "%s: cannot submit: %s", va_dialect_op_name(op->pf->d,
	    op->dc.opcode), strerror(-rc));
	op_end(op, rc);
	return (0);
}

static void
op_step(struct va_op *op)
{
	(void)op_issue(op, 0);
}

/* Start an ABI call's operation: its first command now, so a queue that
 * cannot take it is the call's error; an operation without one (a mode
 * the dialect remembers) ends from the loop. */
static int
op_start(struct va_op *op)
{
	int	rc = op_issue(op, 1);

	return (rc > 0 ? 0 : rc);
}

static int
dev_check(struct vmig_dev *dev, int lane, vmig_done_fn done)
{
	if (dev == NULL || done == NULL)
		return (-EINVAL);
	if (dev->closing)
		return (-ESHUTDOWN);
	if (lane != VMIG_LANE_BULK && lane != VMIG_LANE_CRITICAL)
		return (-EINVAL);
	if (va_aq_dead(dev->pf->aq))
		return (-ENOTCONN);
	return (0);
}

/* An ABI call as one operation of the dialect. */
static int
dev_op(struct vmig_dev *dev, const char *what, enum va_dop_kind kind,
    int lane, va_fin_fn fin, vmig_done_fn done, void *arg,
    struct va_op **opp)
{
	struct va_op	*op;
	int		 rc;

	if ((rc = dev_check(dev, lane, done)) != 0)
		return (rc);
	if ((op = op_new(dev->pf, dev, what, kind, lane, fin, done,
	    arg)) == NULL)
		return (-ENOMEM);
	*opp = op;
	return (0);
}

/* -------------------------------------------------------------- modes */

static uint32_t
vf_vmig_mode(const struct vmig_pf *pf, int mode)
{
	if (mode < 0 || mode >= pf->d->nmodes)
		return (VMIG_MODE_UNKNOWN);
	return (pf->d->mode_vmig[mode]);
}

static int
mode_fin(struct va_op *op, int err)
{
	struct va_vf	*vf = op->dev->vf;

	vf->info.mode = vf_vmig_mode(op->pf, vf->dvf.mode);
	if (err == 0 && op->dop.kind == VA_DOP_GET_MODE)
		op->res.u.mode = op->dop.mode;
	return (0);
}

static int
va_get_mode(struct vmig_dev *dev, int lane, vmig_done_fn done, void *arg)
{
	struct va_op	*op;
	int		 rc;

	if ((rc = dev_op(dev, "get_mode", VA_DOP_GET_MODE, lane, mode_fin,
	    done, arg, &op)) != 0)
		return (rc);
	return (op_start(op));
}

static int
va_set_mode(struct vmig_dev *dev, enum vmig_mode mode, int lane,
    vmig_done_fn done, void *arg)
{
	struct va_op	*op;
	int		 rc;

	if (dev != NULL && dev->pf->d->mode_device(mode) < 0) {
		va_hostlog(VMIG_LOG_WARN, "%s: %s: mode %d cannot be set in "
		    "the %s dialect", __func__, dev->name, (int)mode,
		    dev->pf->d->name);
		return (-EINVAL);
	}
	if ((rc = dev_op(dev, "set_mode", VA_DOP_SET_MODE, lane, mode_fin,
	    done, arg, &op)) != 0)
		return (rc);
	/* An image read before is not this mode's: read afresh. */
	free(dev->img);
	dev->img = NULL;
	dev->img_len = dev->img_off = 0;
	op->dop.target = mode;
	return (op_start(op));
}

/* -------------------------------------------------------------- state */

static int
size_fin(struct va_op *op, int err)
{
	if (err == 0)
		op->res.u.size = op->dop.size;
	return (0);
}

static int
va_state_size(struct vmig_dev *dev, int lane, vmig_done_fn done, void *arg)
{
	struct va_op	*op;
	int		 rc;

	if ((rc = dev_op(dev, "state_size", VA_DOP_STATE_SIZE, lane, size_fin,
	    done, arg, &op)) != 0)
		return (rc);
	return (op_start(op));
}

static size_t
save_cap(const struct vmig_dev *dev)
{
	uint32_t	m = dev->vf->dvf.caps.state_max_bytes;

	return (m > 0 ? m : SAVE_DEFAULT);
}

/*
 * The native image a SAVE read, as the canonical one (devstate.h): what
 * goes on the wire, whatever the destination's dialect.
 */
static int
to_canonical(struct va_op *op)
{
	struct vmig_dev	*dev = op->dev;
	struct vds	*s;
	char		 why[300];
	long		 n;
	int		 rc;

	if ((s = calloc(1, sizeof(*s))) == NULL)
		return (-ENOMEM);
	rc = op->pf->d->to_canon(op->owned, op->dop.size,
	    op->pf->tp->dev.device_type, s, why, sizeof(why));
	if (rc == 0 && (n = vds_encode(s, NULL, 0, why, sizeof(why))) < 0)
		rc = (int)n;
	if (rc == 0) {
		dev->img = malloc((size_t)n);
		if (dev->img == NULL)
			rc = -ENOMEM;
		else if ((n = vds_encode(s, dev->img, (size_t)n, why,
		    sizeof(why))) < 0)
			rc = (int)n;
	}
	free(s);
	if (rc != 0) {
		free(dev->img);
		dev->img = NULL;
		op_msg(op, "its %s state image is not one the canonical form "
		    "holds: %s", op->pf->d->name, why);
		return (rc);
	}
	dev->img_len = (size_t)n;
	dev->img_off = 0;
	return (0);
}

/* Hand out the next chunk of the canonical image. */
static void
read_chunk(struct va_op *op)
{
	struct vmig_dev	*dev = op->dev;
	size_t		 n = MIN(op->ucap, dev->img_len - dev->img_off);

	memcpy(op->ubuf, dev->img + dev->img_off, n);
	dev->img_off += n;
	op->res.u.read.len = n;
	op->res.u.read.remaining = dev->img_len - dev->img_off;
	if (dev->img_off == dev->img_len) {
		free(dev->img);
		dev->img = NULL;
		dev->img_len = dev->img_off = 0;
	}
}

static int
read_fin(struct va_op *op, int err)
{
	int	rc;

	if (err != 0)
		return (0);
	/* The SAVE read the native image into owned: convert it once,
	 * hand it out in chunks (the engine reads a snapshot so). */
	if (op->dev->img == NULL && (rc = to_canonical(op)) != 0) {
		op->fin = NULL;
		op_end(op, rc);
		return (1);
	}
	read_chunk(op);
	return (0);
}

static int
va_state_read(struct vmig_dev *dev, void *buf, size_t cap, int lane,
    vmig_done_fn done, void *arg)
{
	struct va_op	*op;
	int		 rc;

	if (buf == NULL || cap == 0)
		return (-EINVAL);
	if ((rc = dev_op(dev, "state_read", VA_DOP_SAVE, lane, read_fin,
	    done, arg, &op)) != 0)
		return (rc);
	op->ubuf = buf;
	op->ucap = cap;
	if (dev->img != NULL) {
		/* The rest of an image already read: no command. */
		op->dop.step = op->dop.d->ops_steps[VA_DOP_SAVE].n;
		return (op_start(op));
	}
	if ((op->owned = malloc(save_cap(dev))) == NULL) {
		op_free(op);
		return (-ENOMEM);
	}
	op->dop.buf = op->owned;
	op->dop.cap = save_cap(dev);
	return (op_start(op));
}

static void
dev_drop_images(struct vmig_dev *dev)
{
	free(dev->img);
	dev->img = NULL;
	dev->img_len = dev->img_off = 0;
	free(dev->in);
	dev->in = NULL;
	dev->in_len = dev->in_cap = 0;
}

/*
 * Loading a canonical image: the destination's own state first (the base
 * for what the source's dialect does not carry: device config, notify
 * offsets), then the image in this dialect's form, then LOAD.
 */
/* The next operation of a load's chain, on the same op. */
static int
load_then(struct va_op *op, enum va_dop_kind kind)
{
	va_dop_init(&op->dop, kind, &op->pf->dpf, &op->dev->vf->dvf);
	op->dop.lane = VMIG_LANE_CRITICAL;
	op_step(op);
	return (1);
}

/* The base's SAVE ended: the image in this dialect's form, then LOAD. */
static int
load_convert(struct va_op *op, int err)
{
	const struct va_dialect *d = op->pf->d;
	const struct vds *base = NULL;
	char		 why[sizeof(op->msg)];
	long		 n;

	/* Without a base, the image stands alone. */
	if (err == 0 && (op->base = calloc(1, sizeof(*op->base))) != NULL &&
	    d->to_canon(op->owned, op->dop.size, op->pf->tp->dev.device_type,
	    op->base, why, sizeof(why)) == 0)
		base = op->base;
	else if (err != 0)
		va_hostlog(VMIG_LOG_DEBUG, "%s: %s: no base state (%s): the "
		    "image stands alone", __func__, op->dev->name, op->msg);
	op->msg[0] = '\0';
	op->res.dev_status = op->res.dev_qualifier = 0;
	n = d->from_canon(op->vds, base, NULL, 0, why, sizeof(why));
	if (n > 0 && (op->native = malloc((size_t)n)) == NULL)
		n = -ENOMEM;
	if (n > 0)
		n = d->from_canon(op->vds, base, op->native, (size_t)n, why,
		    sizeof(why));
	if (n <= 0) {
		op_msg(op, "the state cannot be expressed in the %s dialect: "
		    "%s (the VF keeps its previous state)", d->name, why);
		op->fin = NULL;
		op_end(op, n < 0 ? (int)n : -EINVAL);
		return (1);
	}
	va_dop_init(&op->dop, VA_DOP_LOAD, &op->pf->dpf, &op->dev->vf->dvf);
	op->dop.lane = VMIG_LANE_CRITICAL;
	op->dop.buf = op->native;
	op->dop.len = (size_t)n;
	op_step(op);
	return (1);
}

/*
 * Loading a canonical image is a chain: into the frozen mode if the
 * dialect loads only there (the control-vq restores only FREEZED), the
 * VF's own
 * state (the base for what the source's dialect does not carry:
 * device config, notify offsets), the image in this dialect's form, LOAD,
 * and back to the mode the engine had set (also after a failed LOAD).
 */
static int
load_fin(struct va_op *op, int err)
{
	struct vmig_dev	*dev = op->dev;
	const struct va_dialect *d = op->pf->d;
	char		 why[sizeof(op->msg)];

	switch (op->dop.kind) {
	case VA_DOP_SET_MODE:
		if (op->native == NULL)		/* frozen for the load */
			return (err != 0 ? 0 : load_then(op, VA_DOP_SAVE));
		if (op->load_err != 0) {	/* back after a failed load */
			snprintf(op->msg, sizeof(op->msg), "%s", op->load_msg);
			op->fin = NULL;
			op_end(op, op->load_err);
			return (1);
		}
		return (0);
	case VA_DOP_SAVE:
		return (load_convert(op, err));
	case VA_DOP_LOAD:
		/* The device took it, or kept its previous state. */
		if (err != 0 && dev->vf->dvf.mode == d->mode_device(
		    VMIG_MODE_ACTIVE)) {
			snprintf(why, sizeof(why), "%s", op->msg);
			snprintf(op->msg, sizeof(op->msg), "%.330s; the VF is "
			    "running: stop or freeze it before loading a "
			    "state", why);
		}
		if (op->back_mode < 0)
			return (0);
		if (err != 0) {
			op->load_err = err;
			snprintf(op->load_msg, sizeof(op->load_msg), "%s",
			    op->msg);
		}
		va_dop_init(&op->dop, VA_DOP_SET_MODE, &op->pf->dpf,
		    &dev->vf->dvf);
		op->dop.lane = VMIG_LANE_CRITICAL;
		op->dop.target = (enum vmig_mode)op->back_mode;
		op_step(op);
		return (1);
	default:
		return (0);
	}
}

static int
va_state_write(struct vmig_dev *dev, const void *buf, size_t len, int lane,
    vmig_done_fn done, void *arg)
{
	const struct va_dialect *d;
	struct va_op	*op;
	uint32_t	 total = 0;
	char		 why[300];
	size_t		 cap;
	uint8_t		*p;
	int		 rc, frozen;

	if (buf == NULL || len == 0)
		return (-EINVAL);
	if ((rc = dev_op(dev, "state_write", VA_DOP_SAVE, lane, load_fin,
	    done, arg, &op)) != 0)
		return (rc);
	d = dev->pf->d;
	/* Gather the chunks: the image is converted once it is whole. */
	if (dev->in_len + len > VDS_MAX_BYTES) {
		op_msg(op, "a state image of more than %u bytes",
		    VDS_MAX_BYTES);
		goto refuse;
	}
	if (dev->in_len + len > dev->in_cap) {
		cap = MAX(dev->in_len + len, 2 * dev->in_cap);
		if ((p = realloc(dev->in, cap)) == NULL) {
			op_free(op);
			return (-ENOMEM);
		}
		dev->in = p;
		dev->in_cap = cap;
	}
	memcpy(dev->in + dev->in_len, buf, len);
	dev->in_len += len;
	rc = vds_peek_length(dev->in, dev->in_len, &total, why, sizeof(why));
	if (rc < 0 || (rc == 1 && dev->in_len > total)) {
		op_msg(op, "not a canonical state image: %s", rc < 0 ? why :
		    "more bytes than its header declares");
		goto refuse;
	}
	if (rc == 0 || dev->in_len < total) {
		/* More to come: nothing for the device yet. */
		op->fin = NULL;
		op->dop.step = op->dop.d->ops_steps[VA_DOP_SAVE].n;
		return (op_start(op));
	}
	if ((op->vds = calloc(1, sizeof(*op->vds))) == NULL) {
		op_free(op);
		return (-ENOMEM);
	}
	/* The decoded state points into the image: the op keeps it. */
	op->owned = dev->in;
	dev->in = NULL;
	dev->in_len = dev->in_cap = 0;
	if ((rc = vds_decode(op->owned, total, op->vds, why,
	    sizeof(why))) != 0) {
		op_msg(op, "canonical state refused: %s", why);
		return (op_later(op, rc));
	}
	if (op->vds->device_type != op->pf->tp->dev.device_type) {
		op_msg(op, "state of a %s device for a %s device",
		    va_devtype_name(op->vds->device_type),
		    va_devtype_name(op->pf->tp->dev.device_type));
		return (op_later(op, -EINVAL));
	}
	/* The base: the VF's own state, read the dialect's way. */
	op->canon = op->owned;
	if ((op->owned = malloc(save_cap(dev))) == NULL) {
		op_free(op);
		return (-ENOMEM);
	}
	op->dop.buf = op->owned;
	op->dop.cap = save_cap(dev);
	op->dop.lane = VMIG_LANE_CRITICAL;
	op->back_mode = -1;
	frozen = d->mode_device(VMIG_MODE_FROZEN);
	if (d->load_frozen && frozen >= 0 && dev->vf->dvf.mode >= 0 && dev->vf->dvf.mode !=
	    frozen && dev->vf->dvf.mode != d->mode_device(VMIG_MODE_ACTIVE)) {
		/* Stopped, not frozen: freeze for the load, then back. */
		op->back_mode = (int)d->mode_vmig[dev->vf->dvf.mode];
		va_dop_init(&op->dop, VA_DOP_SET_MODE, &op->pf->dpf,
		    &dev->vf->dvf);
		op->dop.lane = VMIG_LANE_CRITICAL;
		op->dop.target = VMIG_MODE_FROZEN;
	}
	return (op_start(op));

refuse:
	dev_drop_images(dev);
	op->fin = NULL;
	return (op_later(op, -EINVAL));
}

/* Forget a partial image; the device never saw one (LOAD is whole). */
static int
va_state_discard(struct vmig_dev *dev, int lane, vmig_done_fn done,
    void *arg)
{
	struct va_op	*op;
	int		 rc;

	if ((rc = dev_op(dev, "state_discard", VA_DOP_SAVE, lane, NULL, done,
	    arg, &op)) != 0)
		return (rc);
	dev_drop_images(dev);
	op->dop.step = op->dop.d->ops_steps[VA_DOP_SAVE].n;
	return (op_start(op));
}

/* ------------------------------------------------------------ dirty */

static int
dirty_fin(struct va_op *op, int err)
{
	if (err == 0 && op->dop.kind == VA_DOP_DIRTY_READ) {
		op->res.u.dirty.records = op->dop.records;
		op->res.u.dirty.bytes = op->dop.bytes;
		op->res.u.dirty.pages = op->dop.pages;
		op->res.u.dirty.overflow = op->dop.overflow;
		if (op->dop.outside > 0)
			va_hostlog(VMIG_LOG_WARN, "%s: %s: %llu dirty reports "
			    "outside every dirty map: not recorded", __func__,
			    op->dev->name,
			    (unsigned long long)op->dop.outside);
	}
	return (0);
}

/*
 * Trackers: a VF tracks its own writes (write records, the control-vq's
 * maps), so a tracker is its device's, named by it; a dialect without
 * dirty tracking (virtio 1.4) has none, and the engine counts every
 * mapped page dirty (VMIG_TRACK_NONE).
 */
struct vmig_tracker {
	struct vmig_dev	*dev;
};

static int
va_dev_tracker(struct vmig_dev *dev, struct vmig_tracker_info *info)
{
	const struct vmig_dev_caps *c = &dev->vf->info.caps;

	memset(info, 0, sizeof(*info));
	info->scope = c->track_scope;
	info->kind = c->dirty_kind;
	if (info->scope != VMIG_TRACK_NONE)
		snprintf(info->key, sizeof(info->key), "%.63s", dev->name);
	return (0);
}

static int
va_tracker_open(struct vmig_dev *dev, struct vmig_tracker **tp, char *err,
    size_t errlen)
{
	if (dev->vf->info.caps.track_scope == VMIG_TRACK_NONE) {
		snprintf(err, errlen, "%s: the %s dialect has no dirty "
		    "tracking", dev->name, dev->pf->d->name);
		return (-EOPNOTSUPP);
	}
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

/* What every dialect's tracker needs of its ranges: a sentence, or 0. */
static int
ranges_check(const struct vmig_dev_caps *caps,
    const struct vmig_iova_range *r, unsigned int n, uint64_t page_size,
    char *why, size_t len)
{
	unsigned int	i, j;
	int		bit;

	bit = page_size >= 4096 && (page_size & (page_size - 1)) == 0 ?
	    __builtin_ctzll(page_size) - 12 : -1;
	if (bit < 0 || bit > 63 || !(caps->dirty_page_sizes >> bit & 1))
		return (va_err(why, len, -EINVAL, "page size %llu is not one "
		    "the device tracks at (bitmap %#llx, bit n = 4096 << n)",
		    (unsigned long long)page_size,
		    (unsigned long long)caps->dirty_page_sizes));
	if (n == 0 || r == NULL || n > caps->dirty_max_ranges)
		return (va_err(why, len, n == 0 ? -EINVAL : -E2BIG, "%u "
		    "ranges; the device tracks 1..%u", n,
		    caps->dirty_max_ranges));
	for (i = 0; i < n; i++) {
		if (r[i].length == 0 || r[i].iova % page_size ||
		    r[i].length % page_size ||
		    r[i].length > UINT64_MAX - r[i].iova)
			return (va_err(why, len, -EINVAL, "range %u (%#llx+"
			    "%llu) is empty, overflows or is not aligned to the "
			    "page size %llu", i, (unsigned long long)r[i].iova,
			    (unsigned long long)r[i].length,
			    (unsigned long long)page_size));
		for (j = 0; j < i; j++) {
			if (r[i].iova < r[j].iova + r[j].length &&
			    r[j].iova < r[i].iova + r[i].length)
				return (va_err(why, len, -EINVAL, "ranges %u "
				    "and %u overlap", j, i));
		}
	}
	return (0);
}

static int
va_tracker_start(struct vmig_tracker *t, const struct vmig_iova_range *r,
    unsigned int n, uint64_t page_size, vmig_done_fn done, void *arg)
{
	struct va_op	*op;
	char		 why[200];
	int		 rc;

	if ((rc = dev_op(t->dev, "tracker_start", VA_DOP_DIRTY_START,
	    VMIG_LANE_BULK, dirty_fin, done, arg, &op)) != 0)
		return (rc);
	if (t->dev->vf->dvf.recording || t->dev->vf->dvf.track_mode != 0) {
		op_msg(op, "dirty tracking is already running; stop it first");
		op->fin = NULL;
		return (op_later(op, -EBUSY));
	}
	if ((rc = ranges_check(&t->dev->vf->info.caps, r, n, page_size, why,
	    sizeof(why))) != 0) {
		op_msg(op, "%s", why);
		op->fin = NULL;
		return (op_later(op, rc));
	}
	op->dop.ranges = r;
	op->dop.nranges = n;
	op->dop.page_size = page_size;
	return (op_start(op));
}

/* Records go to log when the dialect has them (draft); else lost. */
static int
va_tracker_read_records(struct vmig_tracker *t, struct vmig_dirty_map *maps,
    unsigned int n, struct vmig_write_log *log, int lane, vmig_done_fn done,
    void *arg)
{
	struct va_op	*op;
	int		 rc;

	if ((rc = dev_op(t->dev, "tracker_read", VA_DOP_DIRTY_READ, lane,
	    dirty_fin, done, arg, &op)) != 0)
		return (rc);
	op->dop.maps = maps;
	op->dop.nmaps = n;
	op->dop.log = log;
	if (log != NULL && t->dev->pf->d != &va_dialect_draft)
		log->lost = 1;	/* page reports (cvq): no byte ranges */
	return (op_start(op));
}

static int
va_tracker_read(struct vmig_tracker *t, struct vmig_dirty_map *maps,
    unsigned int n, int lane, vmig_done_fn done, void *arg)
{
	return (va_tracker_read_records(t, maps, n, NULL, lane, done, arg));
}

static int
va_tracker_stop(struct vmig_tracker *t, vmig_done_fn done, void *arg)
{
	struct va_op	*op;
	int		 rc;

	if ((rc = dev_op(t->dev, "tracker_stop", VA_DOP_DIRTY_STOP,
	    VMIG_LANE_CRITICAL, dirty_fin, done, arg, &op)) != 0)
		return (rc);
	return (op_start(op));
}

/* ------------------------------------------------------------- PF, VFs */

/*
 * Opening a PF is asynchronous (ABI 2): the transport's handshake (its
 * HELLO names the dialect), then the dialect's PF_OPEN and each VF's
 * VF_PROBE operations, each command's completion starting the next; the
 * daemon's done runs at the end. Nothing polls.
 */
enum va_open_step {
	OPEN_HELLO,		/* the sim's Hello is awaited */
	OPEN_ACK,		/* its Ack */
	OPEN_OPS,		/* the dialect's operations */
};

struct va_opening {
	struct vmig_pf		*pf;
	vmig_done_fn		 done;
	void			*arg;
	struct va_tp_params	 tpp;
	int			 timeout_ms;
	enum va_open_step	 step;
	struct event		*ev;		/* socket readable, or timeout */
	struct va_op		*op;		/* the operation in flight */
	char			 msg[512];
};

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

/* The open is over: tell the daemon (err 0: the PF is usable). */
static void
open_finish(struct va_opening *o, int err)
{
	struct vmig_pf		*pf = o->pf;
	struct vmig_result	 res;

	memset(&res, 0, sizeof(res));
	res.err = err;
	if (err != 0) {
		res.msg = o->msg;
		va_hostlog(VMIG_LOG_WARN, "%s: %s", __func__, o->msg);
	}
	if (o->op != NULL) {
		if (o->op->cmd != NULL)
			va_cmd_cancel(o->op->cmd);
		o->op->fin = NULL;
		op_free(o->op);
	}
	if (o->ev != NULL)
		event_free(o->ev);
	pf->opening = NULL;
	o->done(o->arg, &res);
	free(o);
}

static void
open_fail(struct va_opening *o, int err, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void
open_fail(struct va_opening *o, int err, const char *fmt, ...)
{
	va_list	ap;

	va_start(ap, fmt);
	vsnprintf(o->msg, sizeof(o->msg), fmt, ap);
	va_end(ap);
	open_finish(o, err < 0 ? err : -EIO);
}

/* A VF as the daemon sees it, from what its probe learned. */
static void
open_vf_info(struct vmig_pf *pf, uint32_t i)
{
	struct va_vf		*vf = &pf->vfs[i];
	struct vmig_dev_caps	*c = &vf->info.caps;

	snprintf(vf->info.name, sizeof(vf->info.name), "vf%u", i + 1);
	snprintf(vf->info.type, sizeof(vf->info.type), "%s",
	    va_devtype_name(pf->tp->dev.device_type));
	vf->info.member_id = i + 1;
	/* A dialect that cannot read a mode (virtio 1.4 has no
	 * DEV_MODE_GET): a VF nobody has stopped runs. */
	if (vf->dvf.mode < 0)
		vf->dvf.mode = pf->d->mode_device(VMIG_MODE_ACTIVE);
	vf->info.mode = vf_vmig_mode(pf, vf->dvf.mode);
	*c = vf->dvf.caps;
	c->state_kind = VMIG_STATE_SNAPSHOT;
	/* The canonical image is what goes out: room for its header. */
	if (c->state_max_bytes > 0)
		c->state_max_bytes = MIN((uint64_t)c->state_max_bytes * 2 +
		    4096, VDS_MAX_BYTES);
	c->track_scope = c->dirty_kind == VMIG_DIRTY_NONE ? VMIG_TRACK_NONE :
	    VMIG_TRACK_DEVICE;
}

static int
open_op_fin(struct va_op *op, int err)
{
	struct vmig_pf		*pf = op->pf;
	struct va_opening	*o = pf->opening;
	uint32_t		 i;

	if (err != 0) {
		snprintf(o->msg, sizeof(o->msg), "%s", op->msg);
		o->op = NULL;
		op->done = NULL;
		open_finish(o, err);
		return (0);
	}
	if (op->dop.kind == VA_DOP_PF_OPEN) {
		pf->vfs = calloc(pf->num_vfs > 0 ? pf->num_vfs : 1,
		    sizeof(*pf->vfs));
		if (pf->vfs == NULL) {
			snprintf(o->msg, sizeof(o->msg), "%s: out of memory",
			    pf->name);
			o->op = NULL;
			op->done = NULL;
			open_finish(o, -ENOMEM);
			return (0);
		}
		for (i = 0; i < pf->num_vfs; i++)
			va_dvf_init(&pf->vfs[i].dvf, i + 1);
		op->vf_i = 0;
	} else
		op->vf_i++;
	if (op->vf_i < pf->num_vfs) {
		va_dop_init(&op->dop, VA_DOP_VF_PROBE, &pf->dpf,
		    &pf->vfs[op->vf_i].dvf);
		op->dop.lane = VMIG_LANE_CRITICAL;
		op_step(op);
		return (1);
	}
	for (i = 0; i < pf->num_vfs; i++)
		open_vf_info(pf, i);
	va_hostlog(VMIG_LOG_INFO, "%s: %s: %u VFs (%s), dialect %s, %u "
	    "queue(s) of %u, timeout %d ms", __func__, pf->name, pf->num_vfs,
	    va_devtype_name(pf->tp->dev.device_type), pf->d->name,
	    pf->tp->nqueues, pf->tp->q[0].ring.size, o->timeout_ms);
	o->op = NULL;
	op->done = NULL;
	open_finish(o, 0);
	return (0);
}

/* The queues are up: the queue driver, then the dialect's PF_OPEN. */
static int
open_queues(struct va_opening *o)
{
	struct vmig_pf	*pf = o->pf;
	size_t		 chunk;

	if ((pf->d = va_dialect_find(pf->tp->dev.dialect)) == NULL) {
		snprintf(o->msg, sizeof(o->msg), "%s: dialect %u is none we "
		    "know", pf->name, pf->tp->dev.dialect);
		return (-EPROTONOSUPPORT);
	}
	pf->aq = va_aq_new(pf->tp, pf->base, o->timeout_ms, o->msg,
	    sizeof(o->msg));
	if (pf->aq == NULL)
		return (-ENOMEM);
	pf->tp = va_aq_transport(pf->aq);
	va_aq_set_dialect(pf->aq, pf->d);
	pf->num_vfs = pf->tp->dev.num_vfs;
	chunk = MIN((size_t)CHUNK_MAX, va_aq_max_cmd(pf->aq) / 2) &
	    ~(size_t)7;
	va_dpf_init(&pf->dpf, pf->d, pf->num_vfs, chunk);
	pf->dpf.flags = pf->tp->dev.flags;
	pf->dpf.max_state = pf->tp->dev.max_ctx_bytes;
	o->op = op_new(pf, NULL, "pf_open", VA_DOP_PF_OPEN,
	    VMIG_LANE_CRITICAL, open_op_fin, NULL, NULL);
	if (o->op == NULL)
		return (-ENOMEM);
	o->step = OPEN_OPS;
	op_step(o->op);
	return (0);
}

/* vfio: the transport is up (va_pf_open programmed it). */
static void
open_vfio_cb(evutil_socket_t fd, short what, void *arg)
{
	struct va_opening	*o = arg;
	int			 rc;

	(void)fd;
	(void)what;
	if ((rc = open_queues(o)) != 0)
		open_finish(o, rc);
}

static void
open_sock_cb(evutil_socket_t fd, short what, void *arg)
{
	struct va_opening	*o = arg;
	struct vmig_pf		*pf = o->pf;
	struct timeval		 tv;
	int			 rc;

	if (what & EV_TIMEOUT) {
		open_fail(o, -ETIMEDOUT, "sim:%s: no answer from the "
		    "simulated PF within %d ms", pf->tp->target,
		    o->tpp.timeout_ms);
		return;
	}
	if (o->step == OPEN_HELLO) {
		if ((rc = va_sim_on_hello(pf->tp, &o->tpp, o->msg,
		    sizeof(o->msg))) != 0) {
			open_finish(o, rc);
			return;
		}
		o->step = OPEN_ACK;
		tv.tv_sec = o->tpp.timeout_ms / 1000;
		tv.tv_usec = (o->tpp.timeout_ms % 1000) * 1000;
		event_add(o->ev, &tv);
		return;
	}
	if ((rc = va_sim_on_ack(pf->tp, o->msg, sizeof(o->msg))) != 0 ||
	    (rc = open_queues(o)) != 0)
		open_finish(o, rc);
}

/* A dialect by the name simdev's --dialect takes: its id, 0 if none. */
static uint32_t
dialect_by_name(const char *s)
{
	if (strcmp(s, "draft") == 0)
		return (VA_DIALECT_DRAFT);
	if (strcmp(s, "v14") == 0 || strcmp(s, "v1.4") == 0)
		return (VA_DIALECT_V14);
	if (strcmp(s, "cvq") == 0)
		return (VA_DIALECT_CVQ);
	return (0);
}

/*
 * "sim:PATH[,timeout=MS][,qsize=N][,queues=N][,pool=BYTES]", or
 * "vfio:BDF[,...][,dialect=NAME][,sysfs=DIR]"
 */
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
		if (strcmp(opt, "sysfs") == 0) {	/* vfio: a path */
			snprintf(tpp->sysfs, sizeof(tpp->sysfs), "%s", val);
			continue;
		}
		if (strcmp(opt, "dialect") == 0) {	/* vfio: a name */
			if ((tpp->dialect = dialect_by_name(val)) == 0) {
				snprintf(err, errlen, "PF spec '%s': dialect=%s "
				    "(draft, v14)", spec, val);
				return (-EINVAL);
			}
			continue;
		}
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
			    "option %s=%s (timeout, qsize, queues, pool; vfio: "
			    "dialect, sysfs)",
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
	struct va_opening	*o;
	struct timeval		 tv;
	char			 base[300];
	int			 rc, timeout_ms = DEF_TIMEOUT_MS;

	*pfp = NULL;
	if (name == NULL || spec == NULL || done == NULL) {
		snprintf(err, errlen, "PF open: no name, spec or callback");
		return (-EINVAL);
	}
	if ((pf = calloc(1, sizeof(*pf))) == NULL ||
	    (o = calloc(1, sizeof(*o))) == NULL) {
		free(pf);
		snprintf(err, errlen, "%s: out of memory", name);
		return (-ENOMEM);
	}
	if ((rc = parse_spec(spec, base, sizeof(base), &o->tpp, &timeout_ms,
	    err, errlen)) != 0)
		goto fail;
	if (o->tpp.timeout_ms <= 0)
		o->tpp.timeout_ms = 2000;	/* the handshake's */
	o->tpp.dialects = ALL_DIALECTS;
	snprintf(pf->name, sizeof(pf->name), "%s", name);
	snprintf(pf->spec, sizeof(pf->spec), "%s", spec);
	pf->base = host->base;
	o->pf = pf;
	o->done = done;
	o->arg = arg;
	o->timeout_ms = timeout_ms;
	o->step = OPEN_HELLO;
	if (strncmp(base, "sim:", 4) != 0 || base[4] == '\0') {
		/*
		 * vfio:BDF: the device is programmed synchronously (a few
		 * system calls); the queue driver starts on the loop's next
		 * turn, as a sim: PF's does after its Ack.
		 */
		if ((rc = va_transport_open(base, &o->tpp, &pf->tp, err,
		    errlen)) != 0)
			goto fail;
		o->ev = event_new(host->base, -1, 0, open_vfio_cb, o);
		tv.tv_sec = tv.tv_usec = 0;
	} else {
		if ((rc = va_sim_connect(base + 4, &pf->tp, err,
		    errlen)) != 0)
			goto fail;
		o->ev = event_new(host->base, pf->tp->sock, EV_READ,
		    open_sock_cb, o);
		tv.tv_sec = o->tpp.timeout_ms / 1000;
		tv.tv_usec = (o->tpp.timeout_ms % 1000) * 1000;
	}
	if (o->ev == NULL) {
		rc = -ENOMEM;
		snprintf(err, errlen, "%s: out of memory", name);
		goto fail;
	}
	event_add(o->ev, &tv);
	if (nfds != 0)
		va_hostlog(VMIG_LOG_DEBUG, "%s: %s: %u fds handed over (the "
		    "%s transport needs none)", __func__, name, nfds,
		    pf->tp->kind);
	pf->opening = o;
	*pfp = pf;
	return (0);

fail:
	va_hostlog(VMIG_LOG_WARN, "%s: %s", __func__, err);
	free(o);
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
		op->fin = NULL;
		snprintf(op->msg, sizeof(op->msg), "%s: cancelled: the device "
		    "was closed", dev->name);
		op->res.dev_status = 0;
		op_end(op, -ECANCELED);
	}
}

static void
va_dev_close(struct vmig_dev *dev)
{
	if (dev == NULL || dev->closing)
		return;
	dev->closing = 1;
	dev_cancel_ops(dev);
	dev_drop_images(dev);
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
	snprintf(info->interface, sizeof(info->interface), "%s",
	    pf->d != NULL ? pf->d->iface : "virtio");
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
	vf->dev = dev;
	*devp = dev;
	return (0);
}

/*
 * Cross-dialect migration: the canonical state goes over the wire, so a
 * VF of one dialect may take another's state, unless the source keeps an
 * item the destination needs somewhere we do not read (v1.4 keeps each
 * queue's avail index in the used ring, in guest memory). The rest
 * (device-owned descriptors a dialect cannot express, items the
 * destination provisions itself) are conditions, checked with the state
 * itself at the load, the field named.
 */
static const struct va_dialect *
dialect_by_iface(const char *iface)
{
	const struct va_dialect	*d;
	uint32_t		 id;

	for (id = 0; id < 32; id++) {
		if ((d = va_dialect_find(id)) != NULL &&
		    strcmp(d->iface, iface) == 0)
			return (d);
	}
	return (NULL);
}

static int
va_pf_state_compat(struct vmig_pf *pf, uint64_t member, const char *src_iface,
    char *err, size_t errlen)
{
	const struct va_dialect	*src, *dst = pf->d;
	int			 i;

	if (dst == NULL || member == 0 || member > pf->num_vfs) {
		snprintf(err, errlen, "%s: no VF %llu", pf->name,
		    (unsigned long long)member);
		return (-ENOENT);
	}
	if ((src = dialect_by_iface(src_iface)) == NULL) {
		snprintf(err, errlen, "%s is not a virtio dialect we know "
		    "(draft, v14, cvq)", src_iface);
		return (-EPROTONOSUPPORT);
	}
	for (i = 0; i < VA_CI_N; i++) {
		if (dst->carry[i] == VA_C_CARRIED &&
		    src->carry[i] == VA_C_RING) {
			snprintf(err, errlen, "%s: the %s dialect needs it and "
			    "%s keeps it in each used ring in guest memory, "
			    "where this backend does not read it",
			    va_citem_name(i), dst->name, src->name);
			return (-EPROTONOSUPPORT);
		}
	}
	return (va_dialect_compat(src, dst, err, errlen));
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
	va_dlogfn = va_dlog;
	*priv = (void *)(uintptr_t)host;
	return (0);
}

static void
va_fini(void *priv)
{
	va_logfn = NULL;
	va_dlogfn = NULL;
	va_host = NULL;
}

__attribute__((visibility("default")))
const struct vmig_backend vmig_backend = {
	.abi_major = VMIG_BACKEND_ABI_MAJOR,
	.abi_minor = VMIG_BACKEND_ABI_MINOR,
	.name = VA_NAME,
	.version = PACKAGE_VERSION,
	.description = "virtio PF: the draft admin commands, virtio 1.4 "
	    "device parts or the control-vq proposal, whichever the PF "
	    "speaks; sim:PATH or vfio:BDF",
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
	.tracker_read_records = va_tracker_read_records,
	.tracker_stop = va_tracker_stop,
	.state_compat = va_pf_state_compat,
};
