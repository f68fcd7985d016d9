/*
 * out_state.c: the source's device state, of either kind (backend ABI 2
 * caps.state_kind):
 *
 * SNAPSHOT: a device that can be read while it runs (VMIG_CAP_STATE_
 * PRECOPY) is read once in pre-copy (generation 1), so the destination
 * has most of it before the guest stops; stop-copy reads the final image
 * (the next generation), which supersedes it.
 *
 * STREAM: one stream per migration (VFIO's data_fd). Each pre-copy round
 * reads what the device has ready (its pre-copy info says how much, with
 * VMIG_CAP_PRECOPY_INFO), up to OUT_STREAM_ROUND_MAX, and sends it;
 * stop-copy reads the rest until the stream ends and sends it, the last
 * chunk marked. Chunks carry their stream offset (one generation) and the
 * destination writes them in order. What is still to read (pre-copy
 * pending plus the stop-copy size) is the state the policy must move.
 *
 * Either is sent in chunks as the stream's window allows.
 */
#include "config.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <xxhash.h>

#include "job_out.h"
#include "backend.h"
#include "log.h"
#include "util.h"

static void	out_state_read_next(struct job *, int);
static void	out_state_pump(struct job *);

/* The device under way's state (job_each_dev sets cur). */
#define OD(job)		(&(job)->out->dev[(job)->cur])

void
out_state_init(struct job *job)
{
	struct out_dev	*od;
	unsigned int	 i;

	for (i = 0; i < job->ndevs; i++) {
		od = &job->out->dev[i];
		od->stream = job->devs[i].dev->info.caps.state_kind ==
		    VMIG_STATE_STREAM;
		if (od->stream) {
			od->xs = XXH3_createState();
			VMIG_ASSERT(od->xs != NULL);
			XXH3_64bits_reset(od->xs);
		}
	}
}

void
out_state_free(struct job *job)
{
	unsigned int	i;

	for (i = 0; i < JOB_GROUP_MAX; i++) {
		free(job->out->dev[i].state);
		job->out->dev[i].state = NULL;
		if (job->out->dev[i].xs != NULL)
			XXH3_freeState(job->out->dev[i].xs);
		job->out->dev[i].xs = NULL;
	}
}

void
out_state_writable(struct job *job)
{
	if (job->out->state_sending)
		out_state_pump(job);
}

/* The job's totals over its devices, for the statistics and the policy. */
static void
out_state_totals(struct job *job)
{
	unsigned int	i;

	job->st.device_state_bytes = job->st.device_state_pending = 0;
	for (i = 0; i < job->ndevs; i++) {
		job->st.device_state_bytes += job->devs[i].state_bytes;
		job->st.device_state_pending += job->devs[i].state_pending;
	}
}

static int
out_state_grow(struct job *job, size_t need)
{
	struct out_dev	*od = OD(job);
	size_t		 cap;

	if (need > OUT_STATE_MAX || od->stream_pos + need > OUT_STATE_MAX)
		return (-EFBIG);
	if (need <= od->state_cap)
		return (0);
	cap = od->state_cap == 0 ? 2 * JOB_STATE_CHUNK : od->state_cap;
	while (cap < need)
		cap *= 2;
	od->state = xrealloc(od->state, cap);
	od->state_cap = cap;
	return (0);
}

/*
 * Where a stream's reads stop: in pre-copy when the device has nothing
 * more ready (or the round's share is read), in stop-copy at the end.
 */
static int
out_stream_read_more(struct job *job, const struct vmig_result *res)
{
	struct out_dev	*od = OD(job);

	if (job->phase != JOB_STOPCOPY) {
		od->precopy_pending = res->u.read.remaining;
		return (res->u.read.len != 0 && res->u.read.remaining != 0 &&
		    od->state_len < OUT_STREAM_ROUND_MAX);
	}
	return (res->u.read.len != 0);
}

static void
out_state_read_done(struct job *job, const struct vmig_result *res)
{
	struct out_dev	*od = OD(job);

	if (job_dev_failed(job, res))
		return;
	if (res->u.read.len > JOB_STATE_CHUNK) {
		job_step_done(job, -EPROTO, "device %s: state read returned "
		    "%zu bytes for a %d-byte buffer", job->dev->name,
		    res->u.read.len, JOB_STATE_CHUNK);
		return;
	}
	if (od->stream)
		XXH3_64bits_update(od->xs, od->state + od->state_len,
		    res->u.read.len);
	od->state_len += res->u.read.len;
	JD(job)->state_pending = res->u.read.remaining;
	if (od->stream ? !out_stream_read_more(job, res) :
	    res->u.read.remaining == 0) {
		if (od->stream && job->phase == JOB_STOPCOPY &&
		    res->u.read.remaining != 0) {
			job_step_done(job, -EPROTO, "device %s: state stream "
			    "read made no progress with %" PRIu64 " bytes "
			    "remaining", job->dev->name,
			    res->u.read.remaining);
			return;
		}
		JD(job)->state_bytes = od->stream_pos + od->state_len;
		out_state_totals(job);
		job_dev_next(job);
		return;
	}
	if (res->u.read.len == 0) {
		job_step_done(job, -EPROTO, "device %s: state read made no "
		    "progress with %" PRIu64 " bytes remaining",
		    job->dev->name, res->u.read.remaining);
		return;
	}
	out_state_read_next(job, job->phase == JOB_STOPCOPY ?
	    VMIG_LANE_CRITICAL : VMIG_LANE_BULK);
}

static void
out_state_read_next(struct job *job, int lane)
{
	struct out_dev	*od = OD(job);
	int		 rc;

	if ((rc = out_state_grow(job, od->state_len + JOB_STATE_CHUNK)) != 0) {
		job_step_done(job, rc, "device %s: state larger than %u bytes",
		    job->dev->name, OUT_STATE_MAX);
		return;
	}
	(void)JOB_DEV_CALL(job, "reading its state", out_state_read_done,
	    state_read, od->state + od->state_len, JOB_STATE_CHUNK, lane);
}

/*
 * Send what the device's state holds in chunks, as the stream's window
 * allows; writable() resumes it. A snapshot goes as image od->generation
 * (the last chunk marked); a stream's chunks continue at stream_pos, the
 * stop-copy one's last chunk ends the stream. The device's turn ends when
 * the last chunk is handed to the stream.
 */
static void
out_state_pump(struct job *job)
{
	struct job_out				*o = job->out;
	struct out_dev				*od = OD(job);
	Vmig__Stream__V1__Frame			 f = VMIG__STREAM__V1__FRAME__INIT;
	Vmig__Stream__V1__StateChunk		 c =
	    VMIG__STREAM__V1__STATE_CHUNK__INIT;
	size_t					 n;
	int					 rc, final;

	f.kind_case = VMIG__STREAM__V1__FRAME__KIND_STATE;
	f.state = &c;
	while (o->state_sending) {
		n = MIN(od->state_len - od->state_off, OUT_STATE_SEND_CHUNK);
		final = od->state_off + n == od->state_len;
		c.seq = o->seq + 1;
		c.device = job->cur;
		c.offset = od->stream_pos + od->state_off;
		c.total = od->stream ? 0 : od->state_len;
		c.last = final && !(od->stream && o->state_precopy);
		c.precopy = o->state_precopy;
		c.generation = od->generation;
		rc = stream_send(job->stream, &f, n != 0 ?
		    od->state + od->state_off : NULL, n);
		if (rc == -EAGAIN)
			return;
		if (rc != 0) {
			o->state_sending = 0;
			job_step_done(job, rc, "sending device %s's state: %s",
			    job->dev->name, strerror(-rc));
			return;
		}
		o->seq++;
		od->state_off += n;
		job->st.bytes_sent = job_wire_bytes(job);
		if (final)
			o->state_sending = 0;
	}
	if (od->stream) {
		/* sent: the buffer starts over further down the stream */
		od->stream_pos += od->state_len;
		od->state_len = od->state_off = 0;
	}
	job_dev_next(job);
}

static void
out_state_pump_start(struct job *job, int precopy)
{
	struct job_out	*o = job->out;

	o->state_sending = 1;
	o->state_precopy = precopy;
	OD(job)->state_off = 0;
	out_state_pump(job);
}

/* The device's pre-copy info: how much of its stream is ready. */
static void
out_precopy_info_done(struct job *job, const struct vmig_result *res)
{
	struct out_dev	*od = OD(job);
	uint64_t	 ready;

	if (job_dev_failed(job, res))
		return;
	ready = res->u.precopy.initial_bytes + res->u.precopy.dirty_bytes;
	od->precopy_pending = ready;
	if (ready == 0) {
		job_dev_next(job);
		return;
	}
	out_state_read_next(job, VMIG_LANE_BULK);
}

/*
 * A snapshot: once, with a device that can, read its state while it
 * runs. A stream: every round, what the device has ready.
 */
static int
out_precopy_read_one(struct job *job)
{
	const struct vmig_dev_caps	*caps = &job->dev->info.caps;
	struct out_dev			*od = OD(job);

	if ((caps->flags & VMIG_CAP_STATE_PRECOPY) == 0)
		return (1);
	if (od->stream) {
		od->generation = 1;
		if ((caps->flags & VMIG_CAP_PRECOPY_INFO) != 0 &&
		    backend_dev_ops(job->dev)->state_precopy_info != NULL)
			return (JOB_DEV_CALL(job, "pre-copy info",
			    out_precopy_info_done, state_precopy_info,
			    VMIG_LANE_BULK));
		out_state_read_next(job, VMIG_LANE_BULK);
		return (0);
	}
	if (od->generation != 0)
		return (1);
	od->generation = 1;
	od->state_len = 0;
	out_state_read_next(job, VMIG_LANE_BULK);
	return (0);
}

int
out_precopy_state_read(struct job *job)
{
	return (job_each_dev(job, out_precopy_read_one));
}

static int
out_precopy_send_one(struct job *job)
{
	struct out_dev	*od = OD(job);

	if (od->stream) {
		if (od->state_len == 0)
			return (1);	/* nothing ready this round */
	} else {
		if (od->generation != 1 || od->precopy_state_sent)
			return (1);
		od->precopy_state_sent = 1;
	}
	out_state_pump_start(job, 1);
	return (0);
}

int
out_precopy_state_send(struct job *job)
{
	return (job_each_dev(job, out_precopy_send_one));
}

static void
out_state_size_done(struct job *job, const struct vmig_result *res)
{
	if (job_dev_failed(job, res))
		return;
	if (res->u.size > OUT_STATE_MAX) {
		job_step_done(job, -EFBIG, "device %s reports %" PRIu64
		    " bytes of state, over the %u-byte limit",
		    job->dev->name, res->u.size, OUT_STATE_MAX);
		return;
	}
	if (OD(job)->stream) {
		/* what was read, and all that is still to read */
		JD(job)->state_bytes = OD(job)->stream_pos +
		    OD(job)->state_len + res->u.size;
		JD(job)->state_pending = OD(job)->precopy_pending +
		    res->u.size;
	} else
		JD(job)->state_bytes = JD(job)->state_pending = res->u.size;
	out_state_totals(job);
	job_dev_next(job);
}

static int
out_state_size_one(struct job *job)
{
	return (JOB_DEV_CALL(job, "state size", out_state_size_done,
	    state_size, VMIG_LANE_BULK));
}

int
out_state_size(struct job *job)
{
	return (job_each_dev(job, out_state_size_one));
}

static int
out_read_state_one(struct job *job)
{
	struct out_dev	*od = OD(job);

	if (od->stream)
		od->generation = 1;	/* the rest of the one stream */
	else {
		od->state_len = 0;
		od->generation++;
	}
	out_state_read_next(job, VMIG_LANE_CRITICAL);
	return (0);
}

int
out_read_state(struct job *job)
{
	job->out->t_state = now_us();
	return (job_each_dev(job, out_read_state_one));
}

static int
out_send_state_one(struct job *job)
{
	struct out_dev	*od = OD(job);

	od->state_digest = od->stream ? XXH3_64bits_digest(od->xs) :
	    XXH3_64bits(od->state, od->state_len);
	out_state_pump_start(job, 0);
	return (0);
}

int
out_send_state(struct job *job)
{
	job->out->t_state_sent = now_us();
	return (job_each_dev(job, out_send_state_one));
}
