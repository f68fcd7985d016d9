/*
 * job_resume.c: a VF no job holds brought to the mode it rests in
 * (ReleaseDevice): with resume, a VF left stopped or frozen by a daemon
 * killed in the middle of a migration is made active again; without, a
 * completed source's VF (frozen: its VM lives on the destination now),
 * just freed by its job, is set stopped. A VF no job holds is active or
 * stopped, never frozen (DESIGN.md).
 *
 * A job of its own kind, so it is a step table like the migrations and
 * shows in GetJob like them: NONE -> RESUMING -> COMPLETED (or FAILED).
 * Only the mode change has to succeed; stopping a recording left running
 * and dropping a partial state are best effort (the device may have
 * neither). There is nothing to roll back: the device is left as the
 * failing command left it, and the error says so.
 */
#include "config.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backend.h"
#include "job.h"
#include "log.h"
#include "tracker.h"
#include "util.h"

#define B(p)		(1u << (p))
#define ENDS		(B(JOB_FAILED) | B(JOB_CANCELLED))

static const struct job_phase_row resume_phases[JOB_NPHASES] = {
	[JOB_NONE] = { B(JOB_RESUMING) | ENDS, 0 },
	[JOB_RESUMING] = { B(JOB_COMPLETED) | ENDS, 0 },
};

static int	rs_enter(struct job *);
static int	rs_stop_recording(struct job *);
static int	rs_discard_state(struct job *);
static int	rs_set_active(struct job *);
static int	rs_set_stopped(struct job *);
static int	rs_read_mode(struct job *);
static int	rs_complete(struct job *);
static int	rs_rb_finish(struct job *);

static const struct job_step resume_steps[] = {
	{ "open device", job_step_open_device },
	{ "enter resuming", rs_enter },
	{ "stop a write recording left running", rs_stop_recording },
	{ "discard a partial state", rs_discard_state },
	{ "set mode active", rs_set_active },
	{ "read its mode", rs_read_mode },
	{ "complete", rs_complete },
};

/* A released VF's recording and state were settled by its job already. */
static const struct job_step release_steps[] = {
	{ "open device", job_step_open_device },
	{ "enter resuming", rs_enter },
	{ "set mode stopped", rs_set_stopped },
	{ "read its mode", rs_read_mode },
	{ "complete", rs_complete },
};

/* Start-up recovery (engine_recover_device): each step only if asked. */
static int	rv_stop_recording(struct job *);
static int	rv_discard_state(struct job *);
static int	rv_set_mode(struct job *);

static const struct job_step recover_steps[] = {
	{ "open device", job_step_open_device },
	{ "enter resuming", rs_enter },
	{ "stop a write recording left running", rv_stop_recording },
	{ "discard a partial state", rv_discard_state },
	{ "set the mode it rests in", rv_set_mode },
	{ "read its mode", rs_read_mode },
	{ "complete", rs_complete },
};

static const struct job_step resume_rollback_steps[] = {
	{ "wait for the device command in flight", job_step_wait_device },
	{ "finish", rs_rb_finish },
};

#define NSTEPS(a)	(sizeof(a) / sizeof((a)[0]))

static int
rs_enter(struct job *job)
{
	job_set_phase(job, JOB_RESUMING, "resume requested");
	return (1);
}

/* Best effort: a device with nothing to stop or drop says so; go on. */
static void
rs_best_effort(struct job *job, const struct vmig_result *res)
{
	char	buf[256];

	if (res->err != 0)
		log_debug("%s: job %" PRIu64 ": device %s: %s: %s", __func__,
		    job->id, job->device_name, job->devop.what,
		    job_dev_strerror(res, buf, sizeof(buf)));
	job_step_done(job, 0, NULL);
}

/* The recording stops through the device's tracker (tracker.h). */
static void
rs_recording_stopped(struct job *job, const struct vmig_result *res)
{
	tracker_detach(job->rs_tracker);
	job->rs_tracker = NULL;
	rs_best_effort(job, res);
}

static int
rs_stop_recording(struct job *job)
{
	char	err[256];

	if (tracker_attach(job->eng->trackers, job->dev, NULL, 0,
	    &job->rs_tracker, err, sizeof(err)) != 0) {
		log_debug("%s: job %" PRIu64 ": %s", __func__, job->id, err);
		return (1);
	}
	if (tracker_scope(job->rs_tracker) == VMIG_TRACK_NONE) {
		tracker_detach(job->rs_tracker);
		job->rs_tracker = NULL;
		return (1);
	}
	return (JOB_TRK_CALL(job, "stopping a write recording",
	    rs_recording_stopped, tracker_reset, job->rs_tracker));
}

static int
rs_discard_state(struct job *job)
{
	if ((job->dev->info.caps.flags & VMIG_CAP_STATE_DISCARD) == 0)
		return (1);
	return (JOB_DEV_CALL(job, "discarding a partial state",
	    rs_best_effort, state_discard, VMIG_LANE_CRITICAL));
}

static int
rs_set_active(struct job *job)
{
	return (JOB_DEV_CALL(job, "setting it active", job_dev_step_done,
	    set_mode, VMIG_MODE_ACTIVE, VMIG_LANE_CRITICAL));
}

static int
rs_set_stopped(struct job *job)
{
	return (JOB_DEV_CALL(job, "setting it stopped", job_dev_step_done,
	    set_mode, VMIG_MODE_STOPPED, VMIG_LANE_CRITICAL));
}

static int
rv_stop_recording(struct job *job)
{
	return (job->rs_what & ER_STOP_RECORDING ? rs_stop_recording(job) : 1);
}

static int
rv_discard_state(struct job *job)
{
	return (job->rs_what & ER_DISCARD ? rs_discard_state(job) : 1);
}

static int
rv_set_mode(struct job *job)
{
	if (job->rs_what & ER_ACTIVE)
		return (rs_set_active(job));
	if (job->rs_what & ER_STOPPED)
		return (rs_set_stopped(job));
	return (1);
}

static void
rs_mode_read(struct job *job, const struct vmig_result *res)
{
	if (res->err == 0)
		job->dev->info.mode = job->dev_mode = res->u.mode;
	rs_best_effort(job, res);
}

static int
rs_read_mode(struct job *job)
{
	return (JOB_DEV_CALL(job, "reading its mode", rs_mode_read, get_mode,
	    VMIG_LANE_CRITICAL));
}

static int
rs_complete(struct job *job)
{
	log_info("device %s %s (job %" PRIu64 "): %s", job->device_name,
	    job->kind == &job_kind_release ? "released by request" :
	    job->kind == &job_kind_recover ? "set right after a restart" :
	    "resumed by request", job->id, backend_mode_name(job->dev_mode));
	job_release_devices(job);
	job_finish(job, JOB_COMPLETED);
	job_call_done(job, 0);
	return (1);
}

static void
rs_start(struct job *job)
{
	job_run_steps(job, resume_steps, NSTEPS(resume_steps));
}

static void
rs_start_release(struct job *job)
{
	job_run_steps(job, release_steps, NSTEPS(release_steps));
}

static void
rs_start_recover(struct job *job)
{
	job_run_steps(job, recover_steps, NSTEPS(recover_steps));
}

static void
rs_rollback(struct job *job)
{
	job_run_steps(job, resume_rollback_steps,
	    NSTEPS(resume_rollback_steps));
}

static int
rs_rb_finish(struct job *job)
{
	job_release_devices(job);
	job_finish(job, job->cancel_req ? JOB_CANCELLED : JOB_FAILED);
	job_call_done(job, job->cancel_req ? -ECANCELED : -EIO);
	return (1);
}

static void
rs_free(struct job *job)
{
	tracker_detach(job->rs_tracker);
	job->rs_tracker = NULL;
}

/* Not admitted by the scheduler: it moves no data and takes no share. */
const struct job_kind job_kind_resume = {
	.name = "resume",
	.dir = JOB_RESUME,
	.phases = resume_phases,
	.start = rs_start,
	.rollback = rs_rollback,
	.free = rs_free,
};

const struct job_kind job_kind_release = {
	.name = "release",
	.dir = JOB_RESUME,
	.phases = resume_phases,
	.start = rs_start_release,
	.rollback = rs_rollback,
	.free = rs_free,
};

const struct job_kind job_kind_recover = {
	.name = "recover",
	.dir = JOB_RESUME,
	.phases = resume_phases,
	.start = rs_start_recover,
	.rollback = rs_rollback,
	.free = rs_free,
};

static int
rs_create(struct engine *eng, const struct job_kind *kind, struct device *dev,
    unsigned int what, engine_done_fn done, void *arg, struct job **jp,
    char *err, size_t errlen)
{
	struct job	*job;
	char		 owner[64];
	int		 rc;

	if (eng->shutting_down)
		return (err_set(err, errlen, -ESHUTDOWN, "the daemon is "
		    "shutting down"));
	job = job_new(eng, kind, dev->name);
	snprintf(owner, sizeof(owner), "%s (job %" PRIu64 ")", kind ==
	    &job_kind_release ? "releasing" : kind == &job_kind_recover ?
	    "recovering" : "resuming", job->id);
	if ((rc = backend_dev_claim(dev, job->id, owner, err, errlen)) != 0) {
		job_discard(job);
		return (rc);
	}
	job->devs[0].dev = dev;
	job->devs[0].id = job->id;
	strlcpy_v(job->devs[0].name, dev->name, sizeof(job->devs[0].name));
	job->ndevs = 1;
	job_set_cur(job, 0);
	job->done = done;
	job->done_arg = arg;
	job->rs_what = what;
	kind->start(job);
	*jp = job;
	return (0);
}

int
engine_resume_device(struct engine *eng, struct device *dev,
    engine_done_fn done, void *arg, struct job **jp, char *err,
    size_t errlen)
{
	if (dev->job_id != 0)
		return (err_set(err, errlen, -EBUSY, "device %s is held by "
		    "%s: only a VF no job holds is resumed", dev->name,
		    dev->owner));
	return (rs_create(eng, &job_kind_resume, dev, 0, done, arg, jp, err,
	    errlen));
}

int
engine_release_device(struct engine *eng, struct device *dev,
    engine_done_fn done, void *arg, struct job **jp, char *err,
    size_t errlen)
{
	struct job	*job;

	if (dev->job_id == 0)
		return (err_set(err, errlen, -EALREADY, "device %s is not held "
		    "by any job (resume makes a stopped one active again)",
		    dev->name));
	job = job_find(eng, dev->job_id);
	if (job == NULL || job->kind->holds_device == NULL ||
	    !job->kind->holds_device(job))
		return (err_set(err, errlen, -EBUSY, "device %s is in use by "
		    "%s: only a VF whose VM migrated away can be released",
		    dev->name, dev->owner));
	job_out_release(job, dev);
	log_info("device %s released after job %" PRIu64 ", setting it "
	    "stopped", dev->name, job->id);
	return (rs_create(eng, &job_kind_release, dev, 0, done, arg, jp, err,
	    errlen));
}

int
engine_recover_device(struct engine *eng, struct device *dev,
    unsigned int what, engine_done_fn done, void *arg, struct job **jp,
    char *err, size_t errlen)
{
	if (dev->job_id != 0)
		return (err_set(err, errlen, -EBUSY, "device %s is held by "
		    "%s", dev->name, dev->owner));
	return (rs_create(eng, &job_kind_recover, dev, what, done, arg, jp,
	    err, errlen));
}
