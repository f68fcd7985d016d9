/*
 * plugin.c: the VFIO backend, plugin ABI 2 on top of the kernel-facing
 * layer (vfio_*.h; its README has the uAPI).
 *
 * A PF here is a list of VFIO devices (its members, "vfN" in order), each
 * reached the way its spec says; the devices need not share a physical
 * PF. The PF spec is comma-separated:
 *
 *	vfio:BDF		the group + a new type1 container (a free VF)
 *	vfio-cdev:PATH|BDF	the cdev + a new iommufd (6.6+)
 *	vfio-fd:SOCK[#NAME]	the fds a VMM holds, asked over SOCK
 *	attach			the fds a VMM hands vmigd's fd socket for this
 *				PF ("device", "container" or "iommufd"); the
 *				PF waits offline for them (one per PF)
 *	sysfs=DIR		where BDFs are looked up (/sys)
 *	dirty=SRC		force a source: dmalog, hwpt, type1, none
 *	timeout=MS		vfio-fd: how long to wait for the VMM
 *
 * Every kernel call runs on a worker thread (vfio_worker.h): one per
 * member, which opens and probes it (pf_open completes when every member
 * answered) and runs its device commands in order, and one per open
 * tracker. A call is a struct vcall: the op runs on the worker, its
 * result goes to the caller's done on the loop; a closed device or
 * tracker completes what it had queued with -ECANCELED. The members'
 * layer state (struct vfio_dev) is touched only on their worker; the
 * loop keeps its own copy of what pf_list shows (mode).
 *
 * Modes onto the v2 states (the source keeps its saving stream once it
 * started one: PRE_COPY goes on to STOP_COPY, never through STOP):
 *	ACTIVE	 RUNNING (ends a saving or resuming session)
 *	QUIESCED RUNNING_P2P, or PRE_COPY_P2P while saving
 *	STOPPED	 STOP, or STOP_COPY while saving
 *	FROZEN	 STOP_COPY
 * and onto the v1 bits: ACTIVE RUNNING, STOPPED 0 or SAVING while saving,
 * FROZEN SAVING. A state read while running opens the pre-copy session
 * (PRE_COPY, v1 RUNNING|SAVING); a state write opens RESUMING; leaving
 * RESUMING (QUIESCED or ACTIVE on the destination) is where the device
 * checks what it was given. An arc that leaves the device in ERROR is
 * answered with a reset (VFIO_DEVICE_RESET, the only way out: the
 * device runs again) and the arc's error.
 */
#include "config.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>

#include "vmig/backend.h"

#include "vfio_compat.h"
#include "vfio_dev.h"
#include "vfio_dirty.h"
#include "vfio_log.h"
#include "vfio_mig.h"
#include "vfio_open.h"
#include "vfio_v1.h"
#include "vfio_worker.h"

#define VP_VFS_MAX	32
#define VP_SPEC_MAX	256
#define VP_MSG_MAX	256

#define ST_RUN		VFIO_DEVICE_STATE_RUNNING
#define ST_STOP		VFIO_DEVICE_STATE_STOP
#define ST_SCOPY	VFIO_DEVICE_STATE_STOP_COPY
#define ST_RES		VFIO_DEVICE_STATE_RESUMING
#define ST_RP2P		VFIO_DEVICE_STATE_RUNNING_P2P
#define ST_PRE		VFIO_DEVICE_STATE_PRE_COPY
#define ST_PP2P		VFIO_DEVICE_STATE_PRE_COPY_P2P
#define ST_ERROR	VFIO_DEVICE_STATE_ERROR

struct vpriv {
	const struct vmig_host	*host;
	struct vmig_pf		*pfs;		/* open ones (tracker keys) */
	unsigned int		 serial;
};

/* One VF: a VFIO device and its worker. */
struct vmember {
	struct vmig_pf		*pf;
	unsigned int		 idx;		/* 0-based; member id idx + 1 */
	char			 spec[VP_SPEC_MAX];
	struct vfio_worker	*w;
	struct vfio_worker	*tw;		/* its tracker's, when open */
	/* worker side, once opened */
	struct vfio_dev		*dev;
	struct vfio_dirty	*trk;		/* its source, opened; NULL: none */
	uint64_t		 sc_read;	/* stop-copy bytes read */
	uint64_t		 sc_size;	/* MIG_DATA_SIZE, last asked */
	/* loop side */
	int			 opened;	/* the open answered */
	int			 open_err;
	char			 open_msg[VP_MSG_MAX];
	enum vfio_iface		 iface;		/* copies of the probe */
	uint64_t		 mig_flags;
	uint32_t		 dev_flags;
	enum vfio_dirty_src	 src;
	char			 why[VP_MSG_MAX];	/* why this source */
	uint32_t		 mode;		/* VMIG_MODE_*, last known */
	struct vmig_dev		*handle;
	struct vmig_tracker	*tracker;	/* opened through this member */
};

struct vmig_pf {
	struct vpriv		*p;
	struct vmig_pf		*next;
	unsigned int		 serial;
	char			 name[32];
	char			 sysfs[VP_SPEC_MAX];
	struct vfio_open_opts	 o;
	int			 force;		/* a dirty= source was given */
	enum vfio_dirty_src	 forced;
	int			 attach;	/* one member, fds handed in */
	int			 fds[VFIO_ROLE_N];
	unsigned int		 n;
	unsigned int		 pending;	/* member opens not answered */
	vmig_done_fn		 done;
	void			*arg;
	struct event		*ev_done;	/* answers pf_open */
	struct vmig_result	 res;
	char			 msg[VP_MSG_MAX + 64];
	struct vmember		 m[VP_VFS_MAX];
};

struct vmig_dev {
	struct vmember		*m;
};

struct vmig_tracker {
	struct vmember		*m;		/* the member it was opened by */
	struct vfio_dirty	*t;
};

enum vop {
	OP_OPEN = 1,
	OP_GET_MODE,
	OP_SET_MODE,
	OP_SIZE,
	OP_PRECOPY,
	OP_READ,
	OP_WRITE,
	OP_DISCARD,
	OP_TSTART,
	OP_TREAD,
	OP_TSTOP,
};

/* One call: made on a worker, answered on the loop. */
struct vcall {
	enum vop		 op;
	struct vmember		*m;
	struct vmig_tracker	*t;
	uint32_t		 mode;
	void			*buf;
	const void		*cbuf;
	size_t			 len;
	const struct vmig_iova_range *ranges;
	struct vmig_dirty_map	*maps;
	unsigned int		 n;
	uint64_t		 page_size;
	vmig_done_fn		 done;
	void			*arg;
	struct vmig_result	 res;
	uint32_t		 new_mode;	/* the member's mode after it */
	char			 msg[VP_MSG_MAX];
};

static const struct vmig_host *vp_host;

static void
vp_log(int level, const char *fmt, ...)
{
	char	buf[512];
	va_list	ap;

	if (vp_host == NULL || vp_host->log == NULL)
		return;
	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	vp_host->log(level, "%s", buf);
}

/* ------------------------------------------------------- modes */

/* What the engine sees of a v2 state. */
static uint32_t
v2_mode(uint32_t st)
{
	switch (st) {
	case ST_RUN:
	case ST_PRE:
		return (VMIG_MODE_ACTIVE);
	case ST_RP2P:
	case ST_PP2P:
		return (VMIG_MODE_QUIESCED);
	case ST_STOP:
	case ST_RES:
		return (VMIG_MODE_STOPPED);
	case ST_SCOPY:
		return (VMIG_MODE_FROZEN);
	default:
		return (VMIG_MODE_ERROR);
	}
}

static uint32_t
v1_mode(uint32_t st)
{
	st &= VFIO_V1_MASK;
	if (st == VFIO_V1_ERROR)
		return (VMIG_MODE_ERROR);
	if (st & VFIO_V1_RUNNING)
		return (VMIG_MODE_ACTIVE);
	if (st == VFIO_V1_SAVING)
		return (VMIG_MODE_FROZEN);
	return (VMIG_MODE_STOPPED);
}

static int
v2_saving(uint32_t st)
{
	return (st == ST_PRE || st == ST_PP2P || st == ST_SCOPY);
}

/* The v2 state for an engine mode, from where the device is. */
static int
v2_target(const struct vfio_dev *d, uint32_t mode, uint32_t *st)
{
	switch (mode) {
	case VMIG_MODE_ACTIVE:
		*st = ST_RUN;
		return (0);
	case VMIG_MODE_QUIESCED:
		if (!(d->mig_flags & VFIO_MIGRATION_P2P))
			return (-EOPNOTSUPP);
		*st = d->state == ST_PRE || d->state == ST_PP2P ? ST_PP2P :
		    ST_RP2P;
		return (0);
	case VMIG_MODE_STOPPED:
		*st = v2_saving(d->state) ? ST_SCOPY : ST_STOP;
		return (0);
	case VMIG_MODE_FROZEN:
		*st = ST_SCOPY;
		return (0);
	default:
		return (-EINVAL);
	}
}

static int
v1_target(const struct vfio_dev *d, uint32_t mode, uint32_t *st)
{
	switch (mode) {
	case VMIG_MODE_ACTIVE:
		*st = VFIO_V1_RUNNING;
		return (0);
	case VMIG_MODE_STOPPED:
		*st = (d->v1.state & VFIO_V1_SAVING) ? VFIO_V1_SAVING :
		    VFIO_V1_STOP;
		return (0);
	case VMIG_MODE_FROZEN:
		*st = VFIO_V1_SAVING;
		return (0);
	default:
		return (-EOPNOTSUPP);
	}
}

static uint32_t
member_mode(const struct vfio_dev *d)
{
	return (d->iface == VFIO_IFACE_V1 ? v1_mode(d->v1.state) :
	    v2_mode(d->state));
}

/* ---------------------------------------------- work (worker thread) */

/*
 * A failed call that left the device in ERROR: reset it (the only way
 * out; it runs again) and say so after the call's own reason.
 */
static void
w_reset_if_error(struct vcall *c)
{
	struct vfio_dev	*d = c->m->dev;
	char		 err[VP_MSG_MAX];
	size_t		 n;
	int		 rc;

	if (member_mode(d) != VMIG_MODE_ERROR)
		return;
	n = strlen(c->msg);
	rc = vfio_dev_reset(d, err, sizeof(err));
	snprintf(c->msg + n, sizeof(c->msg) - n, rc == 0 ? "; the device was "
	    "reset (VFIO_DEVICE_RESET) and runs again" : "; its reset failed "
	    "too: %s", err);
	if (d->iface == VFIO_IFACE_V1)
		vfio_v1_forget(d);
}

static int
w_set_state(struct vmember *m, uint32_t st, char *err, size_t errlen)
{
	struct vfio_dev	*d = m->dev;

	if (d->iface == VFIO_IFACE_V1)
		return (vfio_v1_set_state(d, st, err, errlen));
	if (st == ST_SCOPY && d->state != ST_SCOPY)
		m->sc_read = 0;
	return (vfio_mig_set_state(d, st, err, errlen));
}

static int
w_set_mode(struct vcall *c)
{
	struct vfio_dev	*d = c->m->dev;
	uint32_t	 st;
	int		 rc;

	rc = d->iface == VFIO_IFACE_V1 ? v1_target(d, c->mode, &st) :
	    v2_target(d, c->mode, &st);
	if (rc != 0)
		return (vfio_err(c->msg, sizeof(c->msg), rc, "%s: mode %u is not "
		    "one it has", d->name, c->mode));
	if (d->iface == VFIO_IFACE_V1 && (d->v1.state & VFIO_V1_RESUMING) &&
	    st != VFIO_V1_RESUMING && (rc = vfio_v1_write_done(d, c->msg,
	    sizeof(c->msg))) != 0)
		return (rc);
	return (w_set_state(c->m, st, c->msg, sizeof(c->msg)));
}

/* Open the saving session if the device runs: pre-copy. */
static int
w_start_saving(struct vcall *c)
{
	struct vfio_dev	*d = c->m->dev;

	if (d->iface == VFIO_IFACE_V1) {
		if ((d->v1.state & VFIO_V1_MASK) == VFIO_V1_RUNNING)
			return (vfio_v1_set_state(d, VFIO_V1_RUNNING |
			    VFIO_V1_SAVING, c->msg, sizeof(c->msg)));
		if ((d->v1.state & VFIO_V1_SAVING) == 0)
			return (vfio_err(c->msg, sizeof(c->msg), -EBUSY, "%s: "
			    "stopped and not saving: nothing to read",
			    d->name));
		return (0);
	}
	if (v2_saving(d->state))
		return (0);
	if ((d->state == ST_RUN || d->state == ST_RP2P) &&
	    (d->mig_flags & VFIO_MIGRATION_PRE_COPY))
		return (vfio_mig_set_state(d, d->state == ST_RUN ? ST_PRE :
		    ST_PP2P, c->msg, sizeof(c->msg)));
	return (vfio_err(c->msg, sizeof(c->msg), -EBUSY, "%s: in %s there is "
	    "no state to read", d->name, vfio_mig_state_name(d->state)));
}

static int
w_precopy(struct vcall *c)
{
	struct vfio_dev	*d = c->m->dev;
	int		 rc;

	if ((rc = w_start_saving(c)) != 0)
		return (rc);
	if (d->iface == VFIO_IFACE_V1) {
		c->res.u.precopy.initial_bytes = 0;
		return (vfio_v1_pending(d, &c->res.u.precopy.initial_bytes,
		    c->msg, sizeof(c->msg)));
	}
	return (vfio_mig_precopy_info(d, &c->res.u.precopy.initial_bytes,
	    &c->res.u.precopy.dirty_bytes, c->msg, sizeof(c->msg)));
}

static int
w_read(struct vcall *c)
{
	struct vmember	*m = c->m;
	struct vfio_dev	*d = m->dev;
	uint64_t	 ini, dirty;
	ssize_t		 n;
	int		 rc, pre;

	if ((rc = w_start_saving(c)) != 0)
		return (rc);
	pre = d->iface == VFIO_IFACE_V1 ? (d->v1.state & VFIO_V1_RUNNING) !=
	    0 : d->state != ST_SCOPY;
	n = d->iface == VFIO_IFACE_V1 ? vfio_v1_read(d, c->buf, c->len,
	    c->msg, sizeof(c->msg)) : vfio_mig_read(d, c->buf, c->len, c->msg,
	    sizeof(c->msg));
	if (n == -ENOMSG)
		n = 0;		/* pre-copy: nothing more for now */
	if (n < 0)
		return ((int)n);
	c->res.u.read.len = (size_t)n;
	if (n == 0) {
		c->res.u.read.remaining = 0;
		return (0);
	}
	if (!pre) {
		/* stop-copy: as far as MIG_DATA_SIZE said; more until 0 */
		m->sc_read += (uint64_t)n;
		c->res.u.read.remaining = m->sc_size > m->sc_read ?
		    m->sc_size - m->sc_read : 1;
	} else if (d->iface == VFIO_IFACE_V2 &&
	    vfio_mig_precopy_info(d, &ini, &dirty, NULL, 0) == 0)
		c->res.u.read.remaining = ini + dirty;
	else
		c->res.u.read.remaining = 1;	/* read on until ENOMSG */
	return (0);
}

static int
w_write(struct vcall *c)
{
	struct vfio_dev	*d = c->m->dev;
	int		 rc;

	if (d->iface == VFIO_IFACE_V1) {
		if ((d->v1.state & VFIO_V1_MASK) != VFIO_V1_RESUMING &&
		    (rc = vfio_v1_set_state(d, VFIO_V1_RESUMING, c->msg,
		    sizeof(c->msg))) != 0)
			return (rc);
		return (vfio_v1_write(d, c->cbuf, c->len, c->msg,
		    sizeof(c->msg)));
	}
	if (d->state != ST_RES && (rc = vfio_mig_set_state(d, ST_RES, c->msg,
	    sizeof(c->msg))) != 0)
		return (rc);
	return (vfio_mig_write(d, c->cbuf, c->len, c->msg, sizeof(c->msg)));
}

/*
 * Drop a partial load: only a reset aborts a resume (leaving RESUMING
 * makes the device load what it has), then STOP, as prepared.
 */
static int
w_discard(struct vcall *c)
{
	struct vfio_dev	*d = c->m->dev;
	int		 resuming, rc;

	resuming = d->iface == VFIO_IFACE_V1 ? (d->v1.state & VFIO_V1_MASK) ==
	    VFIO_V1_RESUMING : d->state == ST_RES;
	if (!resuming && member_mode(d) != VMIG_MODE_ERROR)
		return (0);
	if ((d->dev_flags & VFIO_DEVICE_FLAGS_RESET) == 0)
		return (vfio_err(c->msg, sizeof(c->msg), -EOPNOTSUPP, "%s: a "
		    "partial state cannot be dropped without "
		    "VFIO_DEVICE_RESET", d->name));
	if ((rc = vfio_dev_reset(d, c->msg, sizeof(c->msg))) != 0)
		return (rc);
	if (d->iface == VFIO_IFACE_V1)
		vfio_v1_forget(d);
	return (w_set_state(c->m, d->iface == VFIO_IFACE_V1 ? VFIO_V1_STOP :
	    ST_STOP, c->msg, sizeof(c->msg)));
}

static int
w_tstart(struct vcall *c)
{
	struct vfio_dirty_info	info;
	int			rc;

	if ((rc = vfio_dirty_start(c->t->t, c->ranges, c->n, c->page_size,
	    c->msg, sizeof(c->msg))) != 0)
		return (rc);
	vfio_dirty_get_info(c->t->t, &info);
	if (info.flags & VFIO_DIRTY_F_ALL_MAPPED) {
		/* type1 without pinning: the kernel reports every page */
		c->res.u.track.all_dirty = 1;
		snprintf(c->msg, sizeof(c->msg), "%s", info.why);
	}
	return (0);
}

static int
w_tread(struct vcall *c)
{
	struct vfio_dirty_info	info;
	struct vfio_dirty_stats	st;
	int			rc;

	rc = vfio_dirty_read(c->t->t, c->maps, c->n, &st, c->msg,
	    sizeof(c->msg));
	if (rc != 0)
		return (rc);
	vfio_dirty_get_info(c->t->t, &info);
	if (info.flags & VFIO_DIRTY_F_CORRUPT)
		/*
		 * The source failed and does not restart: this read marked
		 * every page, but nothing tracks the next writes.
		 */
		return (vfio_err(c->msg, sizeof(c->msg), -EIO, "%s: the dirty "
		    "page source %s failed and does not restart (%s): the "
		    "device's writes are no longer tracked", c->m->dev != NULL ?
		    c->m->dev->name : "device", vfio_dirty_src_name(info.src),
		    info.why));
	c->res.u.dirty.records = st.reported;
	c->res.u.dirty.bytes = st.reported * info.page_size;
	c->res.u.dirty.pages = st.added;
	c->res.u.dirty.overflow = st.overflow;
	if (st.overflow)
		snprintf(c->msg, sizeof(c->msg), "%s", info.why);
	return (0);
}

/* Open a member, probe it, open its best dirty source (not started). */
static int
w_open(struct vcall *c)
{
	struct vmember		*m = c->m;
	struct vmig_pf		*pf = m->pf;
	enum vfio_dirty_src	 srcs[8];
	char			 err[VP_MSG_MAX];
	int			 i, n, rc;

	if (pf->attach)
		rc = vfio_open_adopt(pf->name, pf->fds, 0, &m->dev, c->msg,
		    sizeof(c->msg));
	else
		rc = vfio_open_spec(m->spec, &pf->o, &m->dev, c->msg,
		    sizeof(c->msg));
	if (rc != 0)
		return (rc);
	if (m->dev->iface == VFIO_IFACE_NONE)
		return (vfio_err(c->msg, sizeof(c->msg), -EOPNOTSUPP, "%s: the "
		    "device has no migration support (neither "
		    "VFIO_DEVICE_FEATURE_MIGRATION nor a v1 region)",
		    m->dev->name));
	m->why[0] = '\0';
	n = vfio_dirty_sources(m->dev, srcs, 8);
	for (i = 0; i < n; i++) {
		if (pf->force && srcs[i] != pf->forced)
			continue;
		if (vfio_dirty_open(m->dev, srcs[i], &m->trk, err,
		    sizeof(err)) == 0)
			break;
		/* refused (iommufd's type1 compatibility, ...): the next */
		snprintf(m->why + strlen(m->why), sizeof(m->why) -
		    strlen(m->why), "%s%s", m->why[0] ? "; " : "", err);
	}
	if (i == n)
		return (vfio_err(c->msg, sizeof(c->msg), -EOPNOTSUPP, "%s: no "
		    "dirty source%s%s", m->dev->name, pf->force ? " of the "
		    "one asked for" : "", m->why));
	m->src = srcs[i];
	c->new_mode = member_mode(m->dev);
	return (0);
}

static void
w_work(void *arg)
{
	struct vcall	*c = arg;
	int		 rc = 0;

	switch (c->op) {
	case OP_OPEN:
		rc = w_open(c);
		break;
	case OP_GET_MODE:
		if (c->m->dev->iface == VFIO_IFACE_V1)
			rc = vfio_v1_get_state(c->m->dev, &c->m->dev->v1.state,
			    c->msg, sizeof(c->msg));
		else
			rc = vfio_mig_get_state(c->m->dev, &c->m->dev->state,
			    c->msg, sizeof(c->msg));
		break;
	case OP_SET_MODE:
		rc = w_set_mode(c);
		break;
	case OP_SIZE:
		if (c->m->dev->iface == VFIO_IFACE_V2 &&
		    c->m->dev->has_data_size &&
		    (rc = vfio_mig_data_size(c->m->dev, &c->res.u.size, c->msg,
		    sizeof(c->msg))) == 0)
			c->m->sc_size = c->res.u.size;
		break;
	case OP_PRECOPY:
		rc = w_precopy(c);
		break;
	case OP_READ:
		rc = w_read(c);
		break;
	case OP_WRITE:
		rc = w_write(c);
		break;
	case OP_DISCARD:
		rc = w_discard(c);
		break;
	case OP_TSTART:
		rc = w_tstart(c);
		break;
	case OP_TREAD:
		rc = w_tread(c);
		break;
	case OP_TSTOP:
		rc = vfio_dirty_stop(c->t->t, c->msg, sizeof(c->msg));
		break;
	}
	c->res.err = rc;
	if (c->m->dev != NULL && c->op != OP_OPEN && c->op < OP_TSTART) {
		if (rc != 0)
			w_reset_if_error(c);
		c->new_mode = member_mode(c->m->dev);
		if (c->op == OP_GET_MODE)
			c->res.u.mode = c->new_mode;
	}
}

/* ---------------------------------------------------- calls (loop) */

static void	vp_pf_opened(struct vcall *);

static void
vp_call_done(void *arg, int cancelled)
{
	struct vcall	*c = arg;

	if (cancelled) {
		c->res.err = -ECANCELED;
		snprintf(c->msg, sizeof(c->msg), "closed while the call was "
		    "queued");
	} else if (c->op != OP_OPEN && c->op < OP_TSTART)
		c->m->mode = c->new_mode;
	if (c->msg[0] != '\0')
		c->res.msg = c->msg;
	if (c->res.err != 0)
		vp_log(VMIG_LOG_DEBUG, "%s: vf%u op %d: %s", __func__,
		    c->m->idx + 1, c->op, c->msg);
	if (c->op == OP_OPEN)
		vp_pf_opened(c);
	else
		c->done(c->arg, &c->res);
	free(c);
}

static struct vcall *
vp_call(enum vop op, struct vmember *m, vmig_done_fn done, void *arg)
{
	struct vcall	*c;

	if ((c = calloc(1, sizeof(*c))) == NULL)
		return (NULL);
	c->op = op;
	c->m = m;
	c->done = done;
	c->arg = arg;
	return (c);
}

static int
vp_submit(struct vfio_worker *w, struct vcall *c, int lane)
{
	if (c == NULL)
		return (-ENOMEM);
	if (vfio_worker_submit(w, lane == VMIG_LANE_CRITICAL ?
	    VFIO_LANE_CRITICAL : VFIO_LANE_BULK, w_work, vp_call_done,
	    c) == NULL) {
		free(c);
		return (-ENOMEM);
	}
	return (0);
}

static int
vp_dev_submit(struct vmig_dev *dev, struct vcall *c, int lane)
{
	return (vp_submit(dev->m->w, c, lane));
}

/* -------------------------------------------------------------- PF */

static int
vp_init(const struct vmig_host *host, void **priv)
{
	struct vpriv	*p;

	if ((p = calloc(1, sizeof(*p))) == NULL)
		return (-ENOMEM);
	p->host = host;
	vp_host = host;
	vfio_logfn = vp_log;
	*priv = p;
	return (0);
}

static void
vp_fini(void *priv)
{
	vfio_logfn = NULL;
	vp_host = NULL;
	free(priv);
}

static int
vp_src_parse(const char *s, enum vfio_dirty_src *out)
{
	static const struct {
		const char		*name;
		enum vfio_dirty_src	 src;
	} t[] = {
		{ "dmalog", VFIO_DIRTY_SRC_DMALOG },
		{ "hwpt", VFIO_DIRTY_SRC_HWPT },
		{ "type1", VFIO_DIRTY_SRC_TYPE1 },
		{ "none", VFIO_DIRTY_SRC_NONE },
	};
	size_t	i;

	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		if (strcmp(s, t[i].name) == 0) {
			*out = t[i].src;
			return (0);
		}
	}
	return (-EINVAL);
}

/* One comma-separated item of the PF spec. */
static int
vp_spec_item(struct vmig_pf *pf, const char *it, char *err, size_t errlen)
{
	struct vfio_spec	sp;
	long			ms;
	char			*end;

	if (strncmp(it, "sysfs=", 6) == 0) {
		snprintf(pf->sysfs, sizeof(pf->sysfs), "%s", it + 6);
		pf->o.sysfs = pf->sysfs;
		return (0);
	}
	if (strncmp(it, "dirty=", 6) == 0) {
		pf->force = 1;
		if (vp_src_parse(it + 6, &pf->forced) != 0)
			return (vfio_err(err, errlen, -EINVAL, "dirty=%s: want "
			    "dmalog, hwpt, type1 or none", it + 6));
		return (0);
	}
	if (strncmp(it, "timeout=", 8) == 0) {
		ms = strtol(it + 8, &end, 10);
		if (*end != '\0' || ms < 1 || ms > 600000)
			return (vfio_err(err, errlen, -EINVAL, "timeout=%s: want "
			    "1 to 600000 ms", it + 8));
		pf->o.timeout_ms = (int)ms;
		return (0);
	}
	if (pf->n == VP_VFS_MAX)
		return (vfio_err(err, errlen, -E2BIG, "more than %d devices",
		    VP_VFS_MAX));
	if (strcmp(it, "attach") == 0)
		pf->attach = 1;
	else if (vfio_spec_parse(it, &sp, err, errlen) != 0)
		return (-EINVAL);
	snprintf(pf->m[pf->n].spec, sizeof(pf->m[pf->n].spec), "%s", it);
	pf->n++;
	return (0);
}

static int
vp_spec_parse(struct vmig_pf *pf, const char *spec, char *err, size_t errlen)
{
	char	*copy, *it, *save = NULL;
	int	 rc = 0;

	if ((copy = strdup(spec)) == NULL)
		return (-ENOMEM);
	for (it = strtok_r(copy, ",", &save); it != NULL && rc == 0;
	    it = strtok_r(NULL, ",", &save))
		rc = vp_spec_item(pf, it, err, errlen);
	free(copy);
	if (rc != 0)
		return (rc);
	if (pf->n == 0)
		return (vfio_err(err, errlen, -EINVAL, "no device: give vfio:BDF, "
		    "vfio-cdev:PATH|BDF, vfio-fd:SOCKET[#NAME] or attach, "
		    "comma-separated"));
	if (pf->attach && pf->n != 1)
		return (vfio_err(err, errlen, -EINVAL, "attach: the PF's one "
		    "device (its fds come to the PF), with no other"));
	return (0);
}

/* The fds a VMM handed to the PF, by role (attach). */
static int
vp_pf_fds(struct vmig_pf *pf, const struct vmig_fd *fds, unsigned int nfds,
    char *err, size_t errlen)
{
	static const char *const roles[VFIO_ROLE_N] = { "device", "container",
	    "iommufd" };
	unsigned int	 i;
	int		 r;

	for (r = 0; r < VFIO_ROLE_N; r++)
		pf->fds[r] = -1;
	for (i = 0; i < nfds; i++) {
		for (r = 0; r < VFIO_ROLE_N; r++) {
			if (strcmp(fds[i].name, roles[r]) == 0)
				break;
		}
		if (r == VFIO_ROLE_N || pf->fds[r] != -1)
			return (vfio_err(err, errlen, -EINVAL, "fd \"%s\": want "
			    "one \"device\" and a \"container\" or an "
			    "\"iommufd\"", fds[i].name));
		pf->fds[r] = fds[i].fd;
	}
	if (pf->attach && pf->fds[VFIO_ROLE_DEVICE] == -1)
		return (vfio_err(err, errlen, -EAGAIN, "waiting for the VMM's "
		    "fds: AttachFds %s with \"device\" and \"container\" (or "
		    "\"iommufd\")", pf->name));
	return (0);
}

static void
vp_pf_unlink(struct vmig_pf *pf)
{
	struct vmig_pf	**pp;

	for (pp = &pf->p->pfs; *pp != NULL; pp = &(*pp)->next) {
		if (*pp == pf) {
			*pp = pf->next;
			return;
		}
	}
}

static void
vp_pf_free(struct vmig_pf *pf)
{
	struct vmember	*m;
	unsigned int	 i;

	vp_pf_unlink(pf);
	for (i = 0; i < pf->n; i++) {
		m = &pf->m[i];
		/* cancels the open (pf_open's done: -ECANCELED) */
		if (m->w != NULL)
			vfio_worker_free(m->w);
		if (m->tw != NULL)
			vfio_worker_free(m->tw);
		if (m->trk != NULL)
			vfio_dirty_close(m->trk);
		if (m->dev != NULL)
			vfio_dev_free(m->dev);
	}
	if (pf->ev_done != NULL)
		event_free(pf->ev_done);
	free(pf);
}

/*
 * pf_open's answer, from its own event: the daemon may close the PF in
 * it, which frees the workers, and a worker must not be freed from
 * inside its own completion.
 */
static void
vp_pf_answer(evutil_socket_t fd, short what, void *arg)
{
	struct vmig_pf	*pf = arg;

	(void)fd;
	(void)what;
	pf->done(pf->arg, &pf->res);
}

static void
vp_pf_opened(struct vcall *c)
{
	struct vmember		*m = c->m;
	struct vmig_pf		*pf = m->pf;
	unsigned int		 i;

	m->opened = 1;
	m->open_err = c->res.err;
	snprintf(m->open_msg, sizeof(m->open_msg), "%s", c->msg);
	if (c->res.err == 0) {
		m->iface = m->dev->iface;
		m->mig_flags = m->dev->mig_flags;
		m->dev_flags = m->dev->dev_flags;
		m->mode = c->new_mode;
		vp_log(VMIG_LOG_INFO, "%s/vf%u: %s, %s, dirty pages from "
		    "%s%s%s%s", pf->name, m->idx + 1, m->dev->name,
		    vfio_iface_name(m->iface), vfio_dirty_src_name(m->src),
		    m->why[0] ? " (skipped: " : "", m->why, m->why[0] ? ")" :
		    "");
	}
	if (--pf->pending > 0 || pf->done == NULL)
		return;
	memset(&pf->res, 0, sizeof(pf->res));
	for (i = 0; i < pf->n; i++) {
		if (pf->m[i].open_err != 0) {
			pf->res.err = pf->m[i].open_err;
			snprintf(pf->msg, sizeof(pf->msg), "vf%u (%s): %s", i + 1,
			    pf->m[i].spec, pf->m[i].open_msg);
			pf->res.msg = pf->msg;
			break;
		}
	}
	event_active(pf->ev_done, EV_TIMEOUT, 1);
}

static int
vp_pf_open(void *priv, const char *name, const char *spec,
    const struct vmig_fd *fds, unsigned int nfds, struct vmig_pf **out,
    vmig_done_fn done, void *arg, char *err, size_t errlen)
{
	struct vpriv	*p = priv;
	struct vmig_pf	*pf;
	struct vmember	*m;
	char		 wname[64];
	unsigned int	 i;
	int		 rc;

	if ((pf = calloc(1, sizeof(*pf))) == NULL)
		return (-ENOMEM);
	pf->p = p;
	snprintf(pf->name, sizeof(pf->name), "%s", name);
	if ((rc = vp_spec_parse(pf, spec, err, errlen)) != 0 ||
	    (rc = vp_pf_fds(pf, fds, nfds, err, errlen)) != 0) {
		free(pf);
		return (rc);
	}
	pf->serial = ++p->serial;
	pf->next = p->pfs;
	p->pfs = pf;
	for (i = 0; i < pf->n; i++) {
		m = &pf->m[i];
		m->pf = pf;
		m->idx = i;
		snprintf(wname, sizeof(wname), "%s/vf%u", name, i + 1);
		m->w = vfio_worker_new(p->host->base, wname);
		snprintf(wname, sizeof(wname), "%s/vf%u/dirty", name, i + 1);
		m->tw = vfio_worker_new(p->host->base, wname);
		if (m->w == NULL || m->tw == NULL) {
			vp_pf_free(pf);
			return (vfio_err(err, errlen, -ENOMEM, "no worker"));
		}
	}
	if ((pf->ev_done = event_new(p->host->base, -1, 0, vp_pf_answer,
	    pf)) == NULL) {
		vp_pf_free(pf);
		return (-ENOMEM);
	}
	/* every member opens on its own worker; done once all answered */
	for (i = 0; i < pf->n; i++) {
		if ((rc = vp_submit(pf->m[i].w, vp_call(OP_OPEN, &pf->m[i],
		    NULL, NULL), VMIG_LANE_CRITICAL)) != 0) {
			vp_pf_free(pf);
			return (rc);
		}
		pf->pending++;
	}
	pf->done = done;
	pf->arg = arg;
	*out = pf;
	return (0);
}

static void
vp_pf_close(struct vmig_pf *pf)
{
	vp_pf_free(pf);
}

static int
vp_pf_info(struct vmig_pf *pf, struct vmig_pf_info *info)
{
	memset(info, 0, sizeof(*info));
	snprintf(info->interface, sizeof(info->interface), "vfio");
	info->num_vfs = pf->n;
	info->queue_depth = 1;		/* a device's calls run one by one */
	info->max_inflight = 1;
	return (0);
}

static uint32_t
vp_scope(enum vfio_dirty_src src)
{
	switch (src) {
	case VFIO_DIRTY_SRC_DMALOG:
		return (VMIG_TRACK_DEVICE);
	case VFIO_DIRTY_SRC_TYPE1:
	case VFIO_DIRTY_SRC_HWPT:
		return (VMIG_TRACK_SHARED);
	default:
		return (VMIG_TRACK_NONE);
	}
}

static void
vp_caps(const struct vmember *m, struct vmig_dev_caps *c)
{
	memset(c, 0, sizeof(*c));
	snprintf(c->interface, sizeof(c->interface), "%s",
	    vfio_iface_name(m->iface));
	c->modes = VMIG_MODE_BIT(VMIG_MODE_ACTIVE) |
	    VMIG_MODE_BIT(VMIG_MODE_STOPPED) | VMIG_MODE_BIT(VMIG_MODE_FROZEN);
	c->flags = VMIG_CAP_STATE_CHUNKED | VMIG_CAP_STATE_DISCARD;
	if (m->iface == VFIO_IFACE_V1)
		c->flags |= VMIG_CAP_STATE_PRECOPY;	/* RUNNING|SAVING */
	if (m->iface == VFIO_IFACE_V2 &&
	    (m->mig_flags & VFIO_MIGRATION_PRE_COPY))
		c->flags |= VMIG_CAP_STATE_PRECOPY | VMIG_CAP_PRECOPY_INFO;
	if (m->iface == VFIO_IFACE_V2 && (m->mig_flags & VFIO_MIGRATION_P2P)) {
		c->flags |= VMIG_CAP_P2P_QUIESCE;
		c->modes |= VMIG_MODE_BIT(VMIG_MODE_QUIESCED);
	}
	c->state_kind = VMIG_STATE_STREAM;
	c->dirty_kind = vfio_dirty_kind(m->src);
	c->track_scope = vp_scope(m->src);
	c->dirty_max_ranges = m->src == VFIO_DIRTY_SRC_DMALOG ?
	    VFIO_DMALOG_MAX_RANGES : 64;
	c->dirty_page_sizes = 1;	/* 4 KiB; any source maps onto it */
}

static int
vp_pf_list(struct vmig_pf *pf, struct vmig_dev_info *out, int max)
{
	const struct vmember	*m;
	unsigned int		 i;

	for (i = 0; i < pf->n && (int)i < max; i++) {
		m = &pf->m[i];
		memset(&out[i], 0, sizeof(out[i]));
		snprintf(out[i].name, sizeof(out[i].name), "vf%u", i + 1);
		snprintf(out[i].type, sizeof(out[i].type), "vfio-pci");
		out[i].member_id = i + 1;
		out[i].mode = m->open_err == 0 ? m->mode : VMIG_MODE_UNKNOWN;
		if (m->open_err == 0)
			vp_caps(m, &out[i].caps);
	}
	return ((int)pf->n);
}

/* ---------------------------------------------------------- devices */

static int
vp_dev_open(struct vmig_pf *pf, uint64_t member, const struct vmig_fd *fds,
    unsigned int nfds, struct vmig_dev **out, char *err, size_t errlen)
{
	struct vmember	*m;
	struct vmig_dev	*d;

	if (member < 1 || member > pf->n)
		return (vfio_err(err, errlen, -ENOENT, "no vf%" PRIu64 " (the "
		    "PF has %u)", member, pf->n));
	m = &pf->m[member - 1];
	if (nfds > 0)
		return (vfio_err(err, errlen, -EINVAL, "VFIO fds go to the PF "
		    "(spec \"attach\": AttachFds %s), not to its VF: their "
		    "device is probed before any job", pf->name));
	if (m->open_err != 0 || m->dev == NULL)
		return (vfio_err(err, errlen, -ENODEV, "%s", m->open_msg));
	if (m->handle != NULL)
		return (vfio_err(err, errlen, -EBUSY, "vf%" PRIu64 " is open "
		    "already", member));
	if ((d = calloc(1, sizeof(*d))) == NULL)
		return (-ENOMEM);
	d->m = m;
	m->handle = d;
	*out = d;
	return (0);
}

static void
vp_dev_close(struct vmig_dev *d)
{
	/* what it queued completes with -ECANCELED; the member stays */
	vfio_worker_cancel_all(d->m->w);
	d->m->handle = NULL;
	free(d);
}

static int
vp_get_mode(struct vmig_dev *d, int lane, vmig_done_fn done, void *arg)
{
	return (vp_dev_submit(d, vp_call(OP_GET_MODE, d->m, done, arg), lane));
}

static int
vp_set_mode(struct vmig_dev *d, enum vmig_mode mode, int lane,
    vmig_done_fn done, void *arg)
{
	struct vcall	*c;

	if ((c = vp_call(OP_SET_MODE, d->m, done, arg)) != NULL)
		c->mode = mode;
	return (vp_dev_submit(d, c, lane));
}

static int
vp_state_size(struct vmig_dev *d, int lane, vmig_done_fn done, void *arg)
{
	return (vp_dev_submit(d, vp_call(OP_SIZE, d->m, done, arg), lane));
}

static int
vp_precopy_info(struct vmig_dev *d, int lane, vmig_done_fn done, void *arg)
{
	return (vp_dev_submit(d, vp_call(OP_PRECOPY, d->m, done, arg), lane));
}

static int
vp_state_read(struct vmig_dev *d, void *buf, size_t cap, int lane,
    vmig_done_fn done, void *arg)
{
	struct vcall	*c;

	if ((c = vp_call(OP_READ, d->m, done, arg)) != NULL) {
		c->buf = buf;
		c->len = cap;
	}
	return (vp_dev_submit(d, c, lane));
}

static int
vp_state_write(struct vmig_dev *d, const void *buf, size_t len, int lane,
    vmig_done_fn done, void *arg)
{
	struct vcall	*c;

	if ((c = vp_call(OP_WRITE, d->m, done, arg)) != NULL) {
		c->cbuf = buf;
		c->len = len;
	}
	return (vp_dev_submit(d, c, lane));
}

static int
vp_state_discard(struct vmig_dev *d, int lane, vmig_done_fn done, void *arg)
{
	return (vp_dev_submit(d, vp_call(OP_DISCARD, d->m, done, arg), lane));
}

/* ---------------------------------------------------------- trackers */

/*
 * A shared tracker's key: the first open member (any PF) whose container
 * (or iommufd and HWPT) is the same file, compared with kcmp: two opens
 * of /dev/vfio/vfio are one inode but two containers.
 */
static void
vp_key(const struct vmember *m, char *key, size_t len)
{
	const struct vmig_pf	*pf;
	const struct vmember	*o;
	const struct vfio_dev	*a = m->dev, *b;
	unsigned int		 i;
	int			 type1 = m->src == VFIO_DIRTY_SRC_TYPE1;

	for (pf = m->pf->p->pfs; pf != NULL; pf = pf->next) {
		for (i = 0; i < pf->n; i++) {
			o = &pf->m[i];
			if (o->src != m->src || o->open_err != 0 ||
			    !o->opened || (b = o->dev) == NULL)
				continue;
			if (type1 ? vfio_same_file(a->container_fd,
			    b->container_fd) : (a->hwpt_id == b->hwpt_id &&
			    vfio_same_file(a->iommufd, b->iommufd))) {
				snprintf(key, len, "%s:%u.%u", type1 ? "type1" :
				    "hwpt", pf->serial, i + 1);
				return;
			}
		}
	}
	snprintf(key, len, "%s:%u.%u", type1 ? "type1" : "hwpt",
	    m->pf->serial, m->idx + 1);
}

static int
vp_dev_tracker(struct vmig_dev *d, struct vmig_tracker_info *info)
{
	struct vmember	*m = d->m;

	memset(info, 0, sizeof(*info));
	info->scope = vp_scope(m->src);
	info->kind = vfio_dirty_kind(m->src);
	if (info->scope == VMIG_TRACK_SHARED)
		vp_key(m, info->key, sizeof(info->key));
	else if (info->scope == VMIG_TRACK_DEVICE)
		/* the engine tells trackers apart by key, its own too */
		snprintf(info->key, sizeof(info->key), "dev:%u.%u",
		    m->pf->serial, m->idx + 1);
	return (0);
}

static int
vp_tracker_open(struct vmig_dev *d, struct vmig_tracker **out, char *err,
    size_t errlen)
{
	struct vmember		*m = d->m;
	struct vmig_tracker	*t;

	if (m->trk == NULL || m->src == VFIO_DIRTY_SRC_NONE)
		return (vfio_err(err, errlen, -ENODEV, "vf%u has no tracker",
		    m->idx + 1));
	if (m->tracker != NULL)
		return (vfio_err(err, errlen, -EBUSY, "vf%u's tracker is open "
		    "already", m->idx + 1));
	if ((t = calloc(1, sizeof(*t))) == NULL)
		return (-ENOMEM);
	t->m = m;
	t->t = m->trk;
	m->tracker = t;
	*out = t;
	return (0);
}

static void
vp_tracker_close(struct vmig_tracker *t)
{
	/* completes what it queued (its thread stays with the member) */
	vfio_worker_cancel_all(t->m->tw);
	t->m->tracker = NULL;
	free(t);
}

static int
vp_tracker_call(struct vmig_tracker *t, struct vcall *c, int lane)
{
	if (c != NULL)
		c->t = t;
	return (vp_submit(t->m->tw, c, lane));
}

static int
vp_tracker_start(struct vmig_tracker *t, const struct vmig_iova_range *r,
    unsigned int n, uint64_t page_size, vmig_done_fn done, void *arg)
{
	struct vcall	*c;

	if ((c = vp_call(OP_TSTART, t->m, done, arg)) != NULL) {
		c->ranges = r;
		c->n = n;
		c->page_size = page_size;
	}
	return (vp_tracker_call(t, c, VMIG_LANE_CRITICAL));
}

static int
vp_tracker_read(struct vmig_tracker *t, struct vmig_dirty_map *maps,
    unsigned int n, int lane, vmig_done_fn done, void *arg)
{
	struct vcall	*c;

	if ((c = vp_call(OP_TREAD, t->m, done, arg)) != NULL) {
		c->maps = maps;
		c->n = n;
	}
	return (vp_tracker_call(t, c, lane));
}

static int
vp_tracker_stop(struct vmig_tracker *t, vmig_done_fn done, void *arg)
{
	return (vp_tracker_call(t, vp_call(OP_TSTOP, t->m, done, arg),
	    VMIG_LANE_CRITICAL));
}

__attribute__((visibility("default")))
const struct vmig_backend vmig_backend = {
	.abi_major = VMIG_BACKEND_ABI_MAJOR,
	.abi_minor = VMIG_BACKEND_ABI_MINOR,
	.name = "vfio",
	.version = PACKAGE_VERSION,
	.description = "VFIO devices: migration v2 (with pre-copy) and the v1 "
	    "region; DMA logging, iommufd HWPT or type1 dirty pages",
	.init = vp_init,
	.fini = vp_fini,
	.pf_open = vp_pf_open,
	.pf_close = vp_pf_close,
	.pf_info = vp_pf_info,
	.pf_list = vp_pf_list,
	.dev_open = vp_dev_open,
	.dev_close = vp_dev_close,
	.get_mode = vp_get_mode,
	.set_mode = vp_set_mode,
	.state_size = vp_state_size,
	.state_precopy_info = vp_precopy_info,
	.state_read = vp_state_read,
	.state_write = vp_state_write,
	.state_discard = vp_state_discard,
	.dev_tracker = vp_dev_tracker,
	.tracker_open = vp_tracker_open,
	.tracker_close = vp_tracker_close,
	.tracker_start = vp_tracker_start,
	.tracker_read = vp_tracker_read,
	.tracker_stop = vp_tracker_stop,
};
