/*
 * out_state.c: the source's device state. A device that can be read while
 * it runs (VMIG_CAP_STATE_PRECOPY) is read once in pre-copy (generation
 * 1), so the destination has most of it before the guest stops; stop-copy
 * reads the final image (the next generation), which supersedes it. An
 * image is sent in chunks as the stream's window allows.
 */
#include "config.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <xxhash.h>

#include "job_out.h"
#include "log.h"
#include "util.h"

static void	out_state_read_next(struct job *, int);
static void	out_state_pump(struct job *);

void
out_state_free(struct job *job)
{
	free(job->out->state);
	job->out->state = NULL;
}

void
out_state_writable(struct job *job)
{
	if (job->out->state_sending)
		out_state_pump(job);
}

static int
out_state_grow(struct job *job, size_t need)
{
	struct job_out	*o = job->out;
	size_t		 cap;

	if (need > OUT_STATE_MAX)
		return (-EFBIG);
	if (need <= o->state_cap)
		return (0);
	cap = o->state_cap == 0 ? 2 * JOB_STATE_CHUNK : o->state_cap;
	while (cap < need)
		cap *= 2;
	o->state = xrealloc(o->state, cap);
	o->state_cap = cap;
	return (0);
}

static void
out_state_read_done(struct job *job, const struct vmig_result *res)
{
	struct job_out	*o = job->out;

	if (job_dev_failed(job, res))
		return;
	if (res->u.read.len > JOB_STATE_CHUNK) {
		job_step_done(job, -EPROTO, "device %s: state read returned "
		    "%zu bytes for a %d-byte buffer", job->device_name,
		    res->u.read.len, JOB_STATE_CHUNK);
		return;
	}
	o->state_len += res->u.read.len;
	job->st.device_state_pending = res->u.read.remaining;
	if (res->u.read.remaining == 0) {
		job->st.device_state_bytes = o->state_len;
		job_step_done(job, 0, NULL);
		return;
	}
	if (res->u.read.len == 0) {
		job_step_done(job, -EPROTO, "device %s: state read made no "
		    "progress with %" PRIu64 " bytes remaining",
		    job->device_name, res->u.read.remaining);
		return;
	}
	out_state_read_next(job, job->phase == JOB_STOPCOPY ?
	    VMIG_LANE_CRITICAL : VMIG_LANE_BULK);
}

static void
out_state_read_next(struct job *job, int lane)
{
	struct job_out	*o = job->out;
	int		 rc;

	if ((rc = out_state_grow(job, o->state_len + JOB_STATE_CHUNK)) != 0) {
		job_step_done(job, rc, "device %s: state larger than %u bytes",
		    job->device_name, OUT_STATE_MAX);
		return;
	}
	(void)JOB_DEV_CALL(job, "reading its state", out_state_read_done,
	    state_read, o->state + o->state_len, JOB_STATE_CHUNK, lane);
}

/*
 * Send the image in o->state (generation o->generation) in chunks, as the
 * stream's window allows; writable() resumes it. The step ends when the
 * last chunk is handed to the stream.
 */
static void
out_state_pump(struct job *job)
{
	struct job_out				*o = job->out;
	Vmig__Stream__V1__Frame			 f = VMIG__STREAM__V1__FRAME__INIT;
	Vmig__Stream__V1__StateChunk		 c =
	    VMIG__STREAM__V1__STATE_CHUNK__INIT;
	size_t					 n;
	int					 rc;

	f.kind_case = VMIG__STREAM__V1__FRAME__KIND_STATE;
	f.state = &c;
	while (o->state_sending) {
		n = MIN(o->state_len - o->state_off, OUT_STATE_SEND_CHUNK);
		c.seq = o->seq + 1;
		c.offset = o->state_off;
		c.total = o->state_len;
		c.last = o->state_off + n == o->state_len;
		c.precopy = o->state_precopy;
		c.generation = o->generation;
		rc = stream_send(job->stream, &f, n != 0 ?
		    o->state + o->state_off : NULL, n);
		if (rc == -EAGAIN)
			return;
		if (rc != 0) {
			o->state_sending = 0;
			job_step_done(job, rc, "sending device state: %s",
			    strerror(-rc));
			return;
		}
		o->seq++;
		o->state_off += n;
		job->st.bytes_sent = stream_stats(job->stream)->bytes_out;
		if (c.last)
			o->state_sending = 0;
	}
	job_step_done(job, 0, NULL);
}

static void
out_state_pump_start(struct job *job, int precopy)
{
	struct job_out	*o = job->out;

	o->state_sending = 1;
	o->state_precopy = precopy;
	o->state_off = 0;
	out_state_pump(job);
}

/* Once, with a device that can: read its state while it runs. */
int
out_precopy_state_read(struct job *job)
{
	struct job_out	*o = job->out;

	if (o->generation != 0 ||
	    (job->dev->info.caps.flags & VMIG_CAP_STATE_PRECOPY) == 0)
		return (1);
	o->generation = 1;
	o->state_len = 0;
	out_state_read_next(job, VMIG_LANE_BULK);
	return (0);
}

int
out_precopy_state_send(struct job *job)
{
	struct job_out	*o = job->out;

	if (o->generation != 1 || o->precopy_state_sent)
		return (1);
	o->precopy_state_sent = 1;
	out_state_pump_start(job, 1);
	return (0);
}

static void
out_state_size_done(struct job *job, const struct vmig_result *res)
{
	if (job_dev_failed(job, res))
		return;
	if (res->u.size > OUT_STATE_MAX) {
		job_step_done(job, -EFBIG, "device %s reports %" PRIu64
		    " bytes of state, over the %u-byte limit",
		    job->device_name, res->u.size, OUT_STATE_MAX);
		return;
	}
	job->st.device_state_bytes = res->u.size;
	job->st.device_state_pending = res->u.size;
	job_step_done(job, 0, NULL);
}

int
out_state_size(struct job *job)
{
	return (JOB_DEV_CALL(job, "state size", out_state_size_done,
	    state_size, VMIG_LANE_BULK));
}

int
out_read_state(struct job *job)
{
	struct job_out	*o = job->out;

	o->state_len = 0;
	o->generation++;
	o->t_state = now_us();
	out_state_read_next(job, VMIG_LANE_CRITICAL);
	return (0);
}

int
out_send_state(struct job *job)
{
	struct job_out	*o = job->out;

	o->t_state_sent = now_us();
	o->state_digest = XXH3_64bits(o->state, o->state_len);
	out_state_pump_start(job, 0);
	return (0);
}
