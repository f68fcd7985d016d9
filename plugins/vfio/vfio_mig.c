/*
 * vfio_mig.c: see vfio_mig.h.
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "vfio_compat.h"
#include "vfio_log.h"
#include "vfio_mig.h"
#include "vfio_parse.h"

enum {
	S_ERR = VFIO_DEVICE_STATE_ERROR,
	S_STOP = VFIO_DEVICE_STATE_STOP,
	S_RUN = VFIO_DEVICE_STATE_RUNNING,
	S_SCOPY = VFIO_DEVICE_STATE_STOP_COPY,
	S_RES = VFIO_DEVICE_STATE_RESUMING,
	S_RP2P = VFIO_DEVICE_STATE_RUNNING_P2P,
	S_PRE = VFIO_DEVICE_STATE_PRE_COPY,
	S_PP2P = VFIO_DEVICE_STATE_PRE_COPY_P2P,
};

static const char *const state_names[VFIO_MIG_NSTATES] = {
	[S_ERR] = "ERROR", [S_STOP] = "STOP", [S_RUN] = "RUNNING",
	[S_SCOPY] = "STOP_COPY", [S_RES] = "RESUMING",
	[S_RP2P] = "RUNNING_P2P", [S_PRE] = "PRE_COPY",
	[S_PP2P] = "PRE_COPY_P2P",
};

/*
 * The next step from [cur] toward [target] with every optional state
 * supported: the kernel's vfio_from_fsm_table (vfio_main.c). ERROR means
 * the arc is refused.
 */
static const uint8_t next_step[VFIO_MIG_NSTATES][VFIO_MIG_NSTATES] = {
	/* target:	ERROR  STOP    RUNNING STOP_C  RESUM   R_P2P   PRE     PRE_P2P */
	[S_STOP] =  { S_ERR, S_STOP, S_RP2P, S_SCOPY, S_RES, S_RP2P, S_RP2P, S_RP2P },
	[S_RUN] =   { S_ERR, S_RP2P, S_RUN,  S_RP2P, S_RP2P, S_RP2P, S_PRE,  S_RP2P },
	[S_PRE] =   { S_ERR, S_RUN,  S_RUN,  S_PP2P, S_RUN,  S_RUN,  S_PRE,  S_PP2P },
	[S_PP2P] =  { S_ERR, S_RP2P, S_RP2P, S_SCOPY, S_RP2P, S_RP2P, S_PRE, S_PP2P },
	[S_SCOPY] = { S_ERR, S_STOP, S_STOP, S_SCOPY, S_STOP, S_STOP, S_ERR, S_ERR },
	[S_RES] =   { S_ERR, S_STOP, S_STOP, S_STOP, S_RES,  S_STOP, S_STOP, S_STOP },
	[S_RP2P] =  { S_ERR, S_STOP, S_RUN,  S_STOP, S_STOP, S_RP2P, S_RUN,  S_PP2P },
	[S_ERR] =   { S_ERR, S_ERR,  S_ERR,  S_ERR,  S_ERR,  S_ERR,  S_ERR,  S_ERR },
};

/* The VFIO_MIGRATION_* flags a state needs (ERROR: never usable). */
static const uint32_t state_needs[VFIO_MIG_NSTATES] = {
	[S_ERR] = ~0U,
	[S_STOP] = VFIO_MIGRATION_STOP_COPY,
	[S_RUN] = VFIO_MIGRATION_STOP_COPY,
	[S_SCOPY] = VFIO_MIGRATION_STOP_COPY,
	[S_RES] = VFIO_MIGRATION_STOP_COPY,
	[S_RP2P] = VFIO_MIGRATION_STOP_COPY | VFIO_MIGRATION_P2P,
	[S_PRE] = VFIO_MIGRATION_STOP_COPY | VFIO_MIGRATION_PRE_COPY,
	[S_PP2P] = VFIO_MIGRATION_STOP_COPY | VFIO_MIGRATION_P2P |
	    VFIO_MIGRATION_PRE_COPY,
};

const char *
vfio_mig_state_name(uint32_t s)
{
	return (s < VFIO_MIG_NSTATES ? state_names[s] : "INVALID");
}

int
vfio_mig_supported(uint64_t flags, uint32_t s)
{
	return (s < VFIO_MIG_NSTATES &&
	    (state_needs[s] & flags) == state_needs[s]);
}

int
vfio_mig_next(uint64_t flags, uint32_t cur, uint32_t target, uint32_t *next)
{
	uint32_t	n;

	if (!vfio_mig_supported(flags, cur) ||
	    !vfio_mig_supported(flags, target))
		return (-EINVAL);
	/*
	 * Steps into states the device lacks are skipped, as the kernel
	 * does: the driver sees the arc to the next state it has. The
	 * ERROR test matters: kernels from 6.2 until the 2026 fix spin
	 * forever on a blocked arc (STOP_COPY -> PRE_COPY*) of a PRE_COPY
	 * device, so such a request must never reach them.
	 */
	n = next_step[cur][target];
	while (!vfio_mig_supported(flags, n) && n != S_ERR)
		n = next_step[n][target];
	if (n == S_ERR)
		return (-EINVAL);
	*next = n;
	return (0);
}

int
vfio_mig_path(uint64_t flags, uint32_t cur, uint32_t target, uint32_t *path,
    int max)
{
	uint32_t	s = cur, n;
	int		k = 0, rc;

	while (s != target) {
		if ((rc = vfio_mig_next(flags, s, target, &n)) != 0)
			return (rc);
		if (k >= max)
			return (-E2BIG);
		path[k++] = n;
		s = n;
	}
	return (k);
}

int
vfio_mig_arc_opens(uint32_t cur, uint32_t next)
{
	return ((cur == S_RUN && next == S_PRE) ||
	    (cur == S_RP2P && next == S_PP2P) ||
	    (cur == S_STOP && (next == S_SCOPY || next == S_RES)));
}

/* Arcs that end the session the device had. */
static int
arc_closes(uint32_t cur, uint32_t next)
{
	return ((cur == S_SCOPY && next == S_STOP) ||
	    (cur == S_PRE && next == S_RUN) ||
	    (cur == S_PP2P && next == S_RP2P) ||
	    (cur == S_RES && next == S_STOP));
}

uint32_t
vfio_mig_quiesced(uint64_t flags, uint32_t s)
{
	if (!(flags & VFIO_MIGRATION_P2P))
		return (s);
	if (s == S_RUN)
		return (S_RP2P);
	if (s == S_PRE)
		return (S_PP2P);
	return (s);
}

/* ---------------------------------------------------------- ioctls */

int
vfio_mig_get_state(struct vfio_dev *d, uint32_t *state, char *err,
    size_t errlen)
{
	struct vfio_device_feature_mig_state	ms;
	int					rc;

	memset(&ms, 0, sizeof(ms));
	rc = vfio_feature(d->fd, VFIO_DEVICE_FEATURE_GET |
	    VFIO_DEVICE_FEATURE_MIG_DEVICE_STATE, &ms, sizeof(ms));
	if (rc != 0)
		return (vfio_err(err, errlen, rc, "%s: MIG_DEVICE_STATE get: "
		    "%s", d->name, strerror(-rc)));
	if (ms.device_state >= VFIO_MIG_NSTATES)
		return (vfio_err(err, errlen, -EPROTO, "%s: the kernel reports "
		    "state %u, which this build does not know", d->name,
		    ms.device_state));
	*state = ms.device_state;
	return (0);
}

/* The one place a v2 transition happens, one arc, logged. */
static int
set_arc(struct vfio_dev *d, uint32_t next, char *err, size_t errlen)
{
	struct vfio_device_feature_mig_state	ms;
	uint32_t				cur = d->state;
	int					rc;

	memset(&ms, 0, sizeof(ms));
	ms.device_state = next;
	ms.data_fd = -1;
	rc = vfio_feature(d->fd, VFIO_DEVICE_FEATURE_SET |
	    VFIO_DEVICE_FEATURE_MIG_DEVICE_STATE, &ms, sizeof(ms));
	if (rc != 0) {
		vfio_warn("%s: %s: %s -> %s failed: %s", __func__, d->name,
		    vfio_mig_state_name(cur), vfio_mig_state_name(next),
		    strerror(-rc));
		return (vfio_err(err, errlen, rc, "%s: %s -> %s: %s", d->name,
		    vfio_mig_state_name(cur), vfio_mig_state_name(next),
		    strerror(-rc)));
	}
	vfio_debug("%s: %s: %s -> %s%s", __func__, d->name,
	    vfio_mig_state_name(cur), vfio_mig_state_name(next),
	    ms.data_fd >= 0 ? " (data fd)" : "");
	d->state = next;
	if (arc_closes(cur, next) && d->data_fd != -1) {
		close(d->data_fd);
		d->data_fd = -1;
	}
	if (ms.data_fd >= 0) {
		if (!vfio_mig_arc_opens(cur, next)) {
			/* Not an arc the uAPI gives a file on: keep ours. */
			close(ms.data_fd);
		} else {
			if (d->data_fd != -1)
				close(d->data_fd);
			d->data_fd = ms.data_fd;
			d->data_bytes = 0;
		}
	} else if (vfio_mig_arc_opens(cur, next))
		return (vfio_err(err, errlen, -EPROTO, "%s: %s -> %s gave no "
		    "data fd", d->name, vfio_mig_state_name(cur),
		    vfio_mig_state_name(next)));
	return (0);
}

int
vfio_mig_set_state(struct vfio_dev *d, uint32_t target, char *err,
    size_t errlen)
{
	uint32_t	path[VFIO_MIG_MAX_PATH], now;
	char		why[256];
	int		n, i, rc;

	if (d->iface != VFIO_IFACE_V2)
		return (vfio_err(err, errlen, -EOPNOTSUPP, "%s: not a "
		    "migration v2 device", d->name));
	if ((n = vfio_mig_path(d->mig_flags, d->state, target, path,
	    VFIO_MIG_MAX_PATH)) < 0)
		return (vfio_err(err, errlen, -EINVAL, "%s: no arc from %s to "
		    "%s with migration flags %#llx", d->name,
		    vfio_mig_state_name(d->state), vfio_mig_state_name(target),
		    (unsigned long long)d->mig_flags));
	for (i = 0; i < n; i++) {
		if ((rc = set_arc(d, path[i], why, sizeof(why))) == 0)
			continue;
		/* Where did it leave the device? Ask, never guess. */
		if (vfio_mig_get_state(d, &now, NULL, 0) == 0)
			d->state = now;
		if (d->state == S_ERR)
			return (vfio_err(err, errlen, -EIO, "%s; the device is "
			    "in ERROR now and only VFIO_DEVICE_RESET gets it "
			    "out", why));
		return (vfio_err(err, errlen, rc, "%s (the device is in %s)",
		    why, vfio_mig_state_name(d->state)));
	}
	return (0);
}

ssize_t
vfio_mig_read(struct vfio_dev *d, void *buf, size_t cap, char *err,
    size_t errlen)
{
	ssize_t	r;

	if (d->data_fd == -1)
		return (vfio_err(err, errlen, -EBADF, "%s: no data session "
		    "(state %s)", d->name, vfio_mig_state_name(d->state)));
	do {
		r = read(d->data_fd, buf, cap);
	} while (r == -1 && errno == EINTR);
	if (r >= 0) {
		d->data_bytes += (uint64_t)r;
		return (r);
	}
	if (errno == ENOMSG)
		return (-ENOMSG);	/* PRE_COPY: nothing right now */
	return (vfio_err(err, errlen, -errno, "%s: data read in %s after "
	    "%llu bytes: %s", d->name, vfio_mig_state_name(d->state),
	    (unsigned long long)d->data_bytes, strerror(errno)));
}

int
vfio_mig_write(struct vfio_dev *d, const void *buf, size_t len, char *err,
    size_t errlen)
{
	ssize_t	r;
	size_t	n = 0;

	if (d->data_fd == -1 || d->state != S_RES)
		return (vfio_err(err, errlen, -EBADF, "%s: not resuming "
		    "(state %s)", d->name, vfio_mig_state_name(d->state)));
	while (n < len) {
		r = write(d->data_fd, (const uint8_t *)buf + n, len - n);
		if (r == -1 && errno == EINTR)
			continue;
		if (r == -1)
			return (vfio_err(err, errlen, -errno, "%s: data write "
			    "after %llu bytes: %s", d->name,
			    (unsigned long long)(d->data_bytes + n),
			    strerror(errno)));
		if (r == 0)
			return (vfio_err(err, errlen, -EIO, "%s: data write "
			    "took nothing", d->name));
		n += (size_t)r;
	}
	d->data_bytes += n;
	return (0);
}

int
vfio_mig_precopy_info(struct vfio_dev *d, uint64_t *initial, uint64_t *dirty,
    char *err, size_t errlen)
{
	struct vfio_precopy_info	pi;
	int				rc;

	if (d->data_fd == -1)
		return (vfio_err(err, errlen, -EBADF, "%s: no data session "
		    "(state %s)", d->name, vfio_mig_state_name(d->state)));
	memset(&pi, 0, sizeof(pi));
	pi.argsz = sizeof(pi);
	if ((rc = vfio_ioctl(d->data_fd, VFIO_MIG_GET_PRECOPY_INFO, &pi)) < 0)
		return (vfio_err(err, errlen, rc, "%s: PRECOPY_INFO in %s: %s",
		    d->name, vfio_mig_state_name(d->state), strerror(-rc)));
	return (vfio_precopy_parse(&pi, sizeof(pi), initial, dirty));
}

int
vfio_mig_data_size(struct vfio_dev *d, uint64_t *bytes, char *err,
    size_t errlen)
{
	struct vfio_device_feature_mig_data_size	ds;
	int						rc;

	memset(&ds, 0, sizeof(ds));
	rc = vfio_feature(d->fd, VFIO_DEVICE_FEATURE_GET |
	    VFIO_DEVICE_FEATURE_MIG_DATA_SIZE, &ds, sizeof(ds));
	if (rc != 0)
		return (vfio_err(err, errlen, rc, "%s: MIG_DATA_SIZE: %s",
		    d->name, strerror(-rc)));
	*bytes = ds.stop_copy_length;
	return (0);
}
