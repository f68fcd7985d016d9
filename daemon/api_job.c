/*
 * api_job.c: the migration calls. They check the request, then hand the
 * work to the engine (job.c, job_out.c, job_in.c); nothing here keeps
 * state of its own.
 *
 *   PrepareIncoming  destination: reserve and stop a VF, map memory, listen;
 *                    the reply waits until the VF is stopped (deferred)
 *   StartMigration   source: queue a job; the reply carries its id at once
 *   GetJob/ListJobs  phase, statistics, decisions, error
 *   CancelJob        roll back (until the switchover is under way)
 *   SetJobPolicy     downtime, bandwidth, timeout while it runs
 *   Switchover       manual switchover: the orchestrator paused the VM
 *   ReleaseDevice    a source VF after its VM moved away
 */
#include "config.h"

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>

#include "api.h"
#include "backend.h"
#include "conf.h"
#include "job.h"
#include "log.h"
#include "rpc.h"
#include "util.h"
#include "view.h"
#include "vmigd.h"

#define S(x)	VMIG__V1__STATUS_CODE__STATUS_##x
#define ENG(d)	((struct engine *)(d)->engine)

static int	api_prepare_incoming(struct vmigd *, struct rpc_call *);
static int	api_start_migration(struct vmigd *, struct rpc_call *);
static int	api_get_job(struct vmigd *, struct rpc_call *);
static int	api_list_jobs(struct vmigd *, struct rpc_call *);
static int	api_cancel_job(struct vmigd *, struct rpc_call *);
static int	api_set_job_policy(struct vmigd *, struct rpc_call *);
static int	api_switchover(struct vmigd *, struct rpc_call *);
static int	api_release_device(struct vmigd *, struct rpc_call *);

const struct api_entry api_prepare_incoming_entry = {
	.name = "PrepareIncoming",
	.call = VMIG__V1__REQUEST__CALL_PREPARE_INCOMING,
	.result = VMIG__V1__RESPONSE__RESULT_PREPARE_INCOMING,
	.exec = api_prepare_incoming,
	.doc = "destination: reserve a VF and its memory, return token + URL",
};

const struct api_entry api_start_migration_entry = {
	.name = "StartMigration",
	.call = VMIG__V1__REQUEST__CALL_START_MIGRATION,
	.result = VMIG__V1__RESPONSE__RESULT_START_MIGRATION,
	.exec = api_start_migration,
	.doc = "source: migrate a VF to a prepared destination",
};

const struct api_entry api_get_job_entry = {
	.name = "GetJob",
	.call = VMIG__V1__REQUEST__CALL_GET_JOB,
	.result = VMIG__V1__RESPONSE__RESULT_GET_JOB,
	.exec = api_get_job,
	.reads_only = 1,
	.doc = "one job: phase, statistics, decisions, error",
};

const struct api_entry api_list_jobs_entry = {
	.name = "ListJobs",
	.call = VMIG__V1__REQUEST__CALL_LIST_JOBS,
	.result = VMIG__V1__RESPONSE__RESULT_LIST_JOBS,
	.exec = api_list_jobs,
	.reads_only = 1,
	.doc = "live jobs (and finished ones on request)",
};

const struct api_entry api_cancel_job_entry = {
	.name = "CancelJob",
	.call = VMIG__V1__REQUEST__CALL_CANCEL_JOB,
	.result = VMIG__V1__RESPONSE__RESULT_CANCEL_JOB,
	.exec = api_cancel_job,
	.doc = "roll a job back: the source device keeps running",
};

const struct api_entry api_set_job_policy_entry = {
	.name = "SetJobPolicy",
	.call = VMIG__V1__REQUEST__CALL_SET_JOB_POLICY,
	.result = VMIG__V1__RESPONSE__RESULT_SET_JOB_POLICY,
	.exec = api_set_job_policy,
	.doc = "change downtime, bandwidth or timeout of a running job",
};

const struct api_entry api_switchover_entry = {
	.name = "Switchover",
	.call = VMIG__V1__REQUEST__CALL_SWITCHOVER,
	.result = VMIG__V1__RESPONSE__RESULT_SWITCHOVER,
	.exec = api_switchover,
	.doc = "manual switchover now (the VM has been paused)",
};

const struct api_entry api_release_device_entry = {
	.name = "ReleaseDevice",
	.call = VMIG__V1__REQUEST__CALL_RELEASE_DEVICE,
	.result = VMIG__V1__RESPONSE__RESULT_RELEASE_DEVICE,
	.exec = api_release_device,
	.doc = "free a source VF whose VM migrated away (or resume a stuck one)",
};

/* ------------------------------------------------------------ helpers */

/* Convert and sanity-check regions; the memory module checks the rest. */
static int
api_regions(struct rpc_call *call, Vmig__V1__MemoryRegion **in, size_t n,
    struct mem_region_spec *out)
{
	size_t	i;

	if (n > JOB_MEM_REGIONS_MAX) {
		rpc_call_error(call, S(INVALID_ARGUMENT), "%zu memory "
		    "regions: at most %d", n, JOB_MEM_REGIONS_MAX);
		return (-1);
	}
	for (i = 0; i < n; i++) {
		if (in[i]->path == NULL || in[i]->path[0] == '\0') {
			rpc_call_error(call, S(INVALID_ARGUMENT),
			    "region %zu has no path", i);
			return (-1);
		}
		out[i].path = in[i]->path;
		out[i].file_offset = in[i]->file_offset;
		out[i].iova = in[i]->iova;
		out[i].length = in[i]->length;
		out[i].page_size = in[i]->page_size != 0 ? in[i]->page_size :
		    4096;
	}
	return (0);
}

/*
 * What PrepareIncoming and StartMigration check alike: a device, a sane
 * policy, usable regions, a daemon that is not stopping. Fills specs and
 * pol; returns 0, or -1 with the call's error set.
 */
static int
api_migration_request(struct vmigd *d, struct rpc_call *call,
    const char *device, const Vmig__V1__MigrationPolicy *policy,
    Vmig__V1__MemoryRegion **regions, size_t nregions,
    struct mem_region_spec *specs, struct job_policy *pol)
{
	char	err[512];

	if (device == NULL || device[0] == '\0')
		rpc_call_error(call, S(INVALID_ARGUMENT), "device is missing");
	else if (job_policy_check(policy, err, sizeof(err)) != 0)
		rpc_call_error(call, S(INVALID_ARGUMENT), "%s", err);
	else if (api_regions(call, regions, nregions, specs) != 0)
		;	/* the error is set */
	else if (ENG(d)->shutting_down)
		rpc_call_error(call, S(UNAVAILABLE), "the daemon is shutting "
		    "down");
	else {
		job_policy_from_proto(pol, policy);
		return (0);
	}
	return (-1);
}

static struct job *
api_job_lookup(struct vmigd *d, struct rpc_call *call, uint64_t id)
{
	struct job	*job;

	if (id == 0) {
		rpc_call_error(call, S(INVALID_ARGUMENT), "job_id is missing");
		return (NULL);
	}
	if ((job = job_find(ENG(d), id)) == NULL)
		rpc_call_error(call, S(NOT_FOUND), "job %" PRIu64 ": no such "
		    "job (finished jobs are kept until %d more have ended)", id,
		    JOB_FINISHED_MAX);
	return (job);
}

static void
api_job_abandon(struct rpc_call *call, void *arg)
{
	struct job	*job = arg;

	if (job->call == call)
		job->call = NULL;
}

/* ------------------------------------------------------------ calls */

static int
api_prepare_incoming(struct vmigd *d, struct rpc_call *call)
{
	const Vmig__V1__PrepareIncomingRequest	*r =
	    call->req->prepare_incoming;
	struct mem_region_spec			 specs[JOB_MEM_REGIONS_MAX];
	struct job_policy			 pol;
	struct job				*job;
	char					 err[512];
	int					 code;

	if (api_migration_request(d, call, r->device, r->policy, r->regions,
	    r->n_regions, specs, &pol) != 0)
		return (RPC_REPLY);
	/* its err names the device (so does the backend's, passed on) */
	if (job_in_create(ENG(d), r->device, specs, r->n_regions, &pol,
	    r->vm, &job, &code, err, sizeof(err)) != 0)
		return (rpc_call_error(call, code, "%s", err));
	job->call = call;
	call->abandon = api_job_abandon;
	call->abandon_arg = job;
	job_in_prepare(job);
	return (RPC_DEFER);
}

static int
api_start_migration(struct vmigd *d, struct rpc_call *call)
{
	const Vmig__V1__StartMigrationRequest	*r = call->req->start_migration;
	Vmig__V1__StartMigrationResponse	*res = call->result;
	struct mem_region_spec			 specs[JOB_MEM_REGIONS_MAX];
	struct job_policy			 pol;
	struct job				*job;
	char					 err[512];
	int					 code;

	if (api_migration_request(d, call, r->device, r->policy, r->regions,
	    r->n_regions, specs, &pol) != 0)
		return (RPC_REPLY);
	if (job_out_create(ENG(d), r->device, specs, r->n_regions, r->dest_url,
	    r->token.data, r->token.len, &pol, r->vm, &job, &code, err,
	    sizeof(err)) != 0)
		return (rpc_call_error(call, code, "%s", err));
	res->job_id = job->id;
	return (RPC_REPLY);
}

static int
api_get_job(struct vmigd *d, struct rpc_call *call)
{
	Vmig__V1__GetJobResponse	*res = call->result;
	struct job			*job;

	if ((job = api_job_lookup(d, call, call->req->get_job->job_id)) ==
	    NULL)
		return (RPC_REPLY);
	res->job = rpc_msg_new(&vmig__v1__job__descriptor);
	job_to_proto(job, res->job);
	return (RPC_REPLY);
}

/*
 * nng thread. A job the view does not hold (an unknown id, a job created
 * this instant) goes to the loop, which answers with the one NOT_FOUND
 * message there is.
 */
int
api_job_fast(void *arg, const Vmig__V1__Request *req,
    Vmig__V1__Response *resp)
{
	struct engine			*eng = arg;
	Vmig__V1__GetJobResponse	*res;
	Vmig__V1__Job			*job;
	void				*buf;
	size_t				 len;

	if (req->call_case != VMIG__V1__REQUEST__CALL_GET_JOB ||
	    req->get_job == NULL ||
	    view_get(eng->view, req->get_job->job_id, &buf, &len) != 0)
		return (0);
	job = vmig__v1__job__unpack(NULL, len, buf);
	free(buf);
	if (job == NULL)
		return (0);	/* cannot happen: we packed it */
	res = rpc_msg_new(&vmig__v1__get_job_response__descriptor);
	res->job = job;
	resp->result_case = VMIG__V1__RESPONSE__RESULT_GET_JOB;
	resp->get_job = res;
	return (1);
}

static int
api_list_jobs(struct vmigd *d, struct rpc_call *call)
{
	Vmig__V1__ListJobsResponse	*res = call->result;
	struct job			*job;
	size_t				 n = 0;
	int				 all = call->req->list_jobs->include_finished;

	TAILQ_FOREACH(job, &ENG(d)->jobs, entry) {
		if (all || !job_phase_terminal(job->phase))
			n++;
	}
	if (n == 0)
		return (RPC_REPLY);
	res->jobs = xcalloc(n, sizeof(*res->jobs));
	TAILQ_FOREACH(job, &ENG(d)->jobs, entry) {
		if (!all && job_phase_terminal(job->phase))
			continue;
		res->jobs[res->n_jobs] = rpc_msg_new(&vmig__v1__job__descriptor);
		job_to_proto(job, res->jobs[res->n_jobs]);
		res->n_jobs++;
	}
	return (RPC_REPLY);
}

static int
api_cancel_job(struct vmigd *d, struct rpc_call *call)
{
	const Vmig__V1__CancelJobRequest	*r = call->req->cancel_job;
	Vmig__V1__CancelJobResponse		*res = call->result;
	struct job				*job;

	if ((job = api_job_lookup(d, call, r->job_id)) == NULL)
		return (RPC_REPLY);
	if (job_phase_terminal(job->phase))
		return (rpc_call_error(call, S(FAILED_PRECONDITION), "job %"
		    PRIu64 " already ended: %s", job->id,
		    job_phase_name(job->phase)));
	if (job->phase == JOB_RESUMING)
		return (rpc_call_error(call, S(FAILED_PRECONDITION), "job %"
		    PRIu64 " is resuming on the destination: too late to "
		    "cancel; it completes or rolls back by itself", job->id));
	job_cancel(job, r->reason != NULL && r->reason[0] != '\0' ? r->reason :
	    "by request");
	res->phase = (Vmig__V1__JobPhase)job->phase;
	return (RPC_REPLY);
}

static int
api_set_job_policy(struct vmigd *d, struct rpc_call *call)
{
	const Vmig__V1__SetJobPolicyRequest	*r = call->req->set_job_policy;
	Vmig__V1__SetJobPolicyResponse		*res = call->result;
	Vmig__V1__MigrationPolicy		 m =
	    VMIG__V1__MIGRATION_POLICY__INIT;
	struct job				*job;
	char					 err[256];

	if ((job = api_job_lookup(d, call, r->job_id)) == NULL)
		return (RPC_REPLY);
	if (job_phase_terminal(job->phase) || job->failing)
		return (rpc_call_error(call, S(FAILED_PRECONDITION), "job %"
		    PRIu64 " is %s: its policy no longer matters", job->id,
		    job_phase_name(job->phase)));
	job_policy_to_proto(&job->pol, &m);
	if (r->max_downtime_ms != 0)
		m.max_downtime_ms = r->max_downtime_ms;
	if (r->downtime_ceiling_ms != 0)
		m.downtime_ceiling_ms = r->downtime_ceiling_ms;
	if (m.downtime_ceiling_ms < m.max_downtime_ms)
		m.downtime_ceiling_ms = m.max_downtime_ms;
	if (r->bandwidth_limit_bps != 0)
		m.bandwidth_limit_bps = r->bandwidth_limit_bps;
	if (r->completion_timeout_s != 0)
		m.completion_timeout_s = r->completion_timeout_s;
	if (job_policy_check(&m, err, sizeof(err)) != 0)
		return (rpc_call_error(call, S(INVALID_ARGUMENT), "job %" PRIu64
		    ": %s", job->id, err));
	job->pol.max_downtime_ms = m.max_downtime_ms;
	job->pol.downtime_ceiling_ms = m.downtime_ceiling_ms;
	job->pol.bandwidth_limit_bps = m.bandwidth_limit_bps;
	if (r->completion_timeout_s != 0 &&
	    job->pol.completion_timeout_s != m.completion_timeout_s) {
		struct timeval	tv;
		uint64_t	elapsed = now_ms() - job->created_ms;
		uint64_t	limit = (uint64_t)m.completion_timeout_s * 1000;

		job->pol.completion_timeout_s = m.completion_timeout_s;
		limit = limit > elapsed ? limit - elapsed : 1;
		tv.tv_sec = (time_t)(limit / 1000);
		tv.tv_usec = (suseconds_t)(limit % 1000) * 1000;
		if (job->phase != JOB_QUEUED && job->phase != JOB_WAITING)
			evtimer_add(job->ev_deadline, &tv);
	}
	if (job->dir == JOB_OUTGOING)
		job_out_set_policy(job);
	engine_reschedule(ENG(d));
	res->policy = rpc_msg_new(&vmig__v1__migration_policy__descriptor);
	job_policy_to_proto(&job->pol, res->policy);
	log_info("job %" PRIu64 ": policy now downtime %" PRIu32 " ms (ceiling %"
	    PRIu32 "), bandwidth %" PRIu64 " B/s, timeout %" PRIu32 " s",
	    job->id, job->pol.max_downtime_ms, job->pol.downtime_ceiling_ms,
	    job->pol.bandwidth_limit_bps, job->pol.completion_timeout_s);
	return (RPC_REPLY);
}

static int
api_switchover(struct vmigd *d, struct rpc_call *call)
{
	Vmig__V1__SwitchoverResponse	*res = call->result;
	struct job			*job;
	char				 err[256];
	int				 rc;

	if ((job = api_job_lookup(d, call, call->req->switchover->job_id)) ==
	    NULL)
		return (RPC_REPLY);
	if (job->dir != JOB_OUTGOING)
		return (rpc_call_error(call, S(INVALID_ARGUMENT), "job %" PRIu64
		    " is incoming: call Switchover on the source", job->id));
	if ((rc = job_out_switchover(job, err, sizeof(err))) != 0)
		return (rpc_call_error(call, api_errno_status(rc), "%s", err));
	res->phase = (Vmig__V1__JobPhase)job->phase;
	return (RPC_REPLY);
}

/*
 * ReleaseDevice brings a VF no job holds (any more) to the mode it rests
 * in: a VF serving a VM is active, one waiting for a VM is stopped, and a
 * VF no job holds is never left frozen.
 *
 * - release: the VF of a completed source job (frozen: its VM lives on
 *   the destination now) is set stopped and freed, as a destination's VF
 *   is after prepare or a failure;
 * - resume: a VF no job holds, left stopped or frozen by a daemon that
 *   died mid-migration (its VM still runs here), is made active again,
 *   with write recording stopped and partial state dropped.
 *
 * Each is a short table of device commands, each result moving it on;
 * the device is claimed meanwhile and the call's reply waits.
 */
#define SETTLE_JOB_ID	UINT64_MAX	/* claims the device meanwhile */

enum api_settle_op {
	SETTLE_DIRTY_STOP,	/* best effort */
	SETTLE_DISCARD,		/* best effort, if the device can */
	SETTLE_SET_MODE,	/* must succeed */
	SETTLE_GET_MODE,	/* what the reply says */
	SETTLE_END,
};

static const enum api_settle_op api_resume_ops[] = {
	SETTLE_DIRTY_STOP, SETTLE_DISCARD, SETTLE_SET_MODE, SETTLE_GET_MODE,
	SETTLE_END,
};
static const enum api_settle_op api_release_ops[] = {
	SETTLE_SET_MODE, SETTLE_GET_MODE, SETTLE_END,
};

struct api_settle {
	struct rpc_call			*call;	/* NULL once abandoned */
	struct device			*dev;
	const enum api_settle_op	*ops;
	enum vmig_mode			 target;
	const char			*done;	/* "resumed", "released" */
	int				 step;
	int				 failed;
	uint32_t			 mode;
	char				 err[256];
};

static void	api_settle_next(struct api_settle *);

static void
api_settle_failed(struct api_settle *r, int err, const char *msg)
{
	snprintf(r->err, sizeof(r->err), "device %s: setting it %s: %s%s%s",
	    r->dev->name, backend_mode_name(r->target), strerror(-err),
	    msg != NULL ? ": " : "", msg != NULL ? msg : "");
	r->failed = 1;
}

static void
api_settle_done(void *arg, const struct vmig_result *res)
{
	struct api_settle	*r = arg;

	/* only the mode change matters; the cleanup is best effort */
	if (res->err != 0 && r->ops[r->step] == SETTLE_SET_MODE)
		api_settle_failed(r, res->err, res->msg);
	if (r->ops[r->step] == SETTLE_GET_MODE && res->err == 0)
		r->mode = res->u.mode;
	r->step++;
	api_settle_next(r);
}

static void
api_settle_abandon(struct rpc_call *call, void *arg)
{
	((struct api_settle *)arg)->call = NULL;
}

static void
api_settle_end(struct api_settle *r)
{
	Vmig__V1__ReleaseDeviceResponse	*res;

	backend_dev_release(r->dev, SETTLE_JOB_ID);
	if (r->call != NULL) {
		r->call->abandon = NULL;
		if (r->failed)
			rpc_call_error(r->call, S(DEVICE_ERROR), "%s", r->err);
		else {
			res = r->call->result;
			res->mode = (Vmig__V1__DeviceMode)r->mode;
			r->dev->info.mode = r->mode;
			log_info("device %s %s by request: %s", r->dev->name,
			    r->done, backend_mode_name(r->mode));
		}
		rpc_call_reply(r->call);
	}
	free(r);
}

static void
api_settle_next(struct api_settle *r)
{
	const struct vmig_backend	*ops = backend_dev_ops(r->dev);
	struct vmig_dev			*h = r->dev->handle;
	int				 rc = 0;

	for (;;) {
		if (r->failed || r->call == NULL)
			break;
		switch (r->ops[r->step]) {
		case SETTLE_DIRTY_STOP:
			rc = ops->dirty_stop(h, api_settle_done, r);
			break;
		case SETTLE_DISCARD:
			if ((r->dev->info.caps.flags & VMIG_CAP_STATE_DISCARD) ==
			    0) {
				r->step++;
				continue;
			}
			rc = ops->state_discard(h, VMIG_LANE_CRITICAL,
			    api_settle_done, r);
			break;
		case SETTLE_SET_MODE:
			rc = ops->set_mode(h, r->target, VMIG_LANE_CRITICAL,
			    api_settle_done, r);
			break;
		case SETTLE_GET_MODE:
			rc = ops->get_mode(h, VMIG_LANE_CRITICAL,
			    api_settle_done, r);
			break;
		case SETTLE_END:
			api_settle_end(r);
			return;
		}
		if (rc == 0)
			return;	/* api_settle_done() comes back */
		if (r->ops[r->step] == SETTLE_SET_MODE)
			api_settle_failed(r, rc, NULL);
		r->step++;
	}
	api_settle_end(r);
}

static void
api_settle_start(evutil_socket_t fd, short what, void *arg)
{
	api_settle_next(arg);
}

static int
api_settle_device(struct vmigd *d, struct rpc_call *call, struct device *dev,
    int resume)
{
	static const struct timeval zero = { 0, 0 };
	struct api_settle	*r;
	char			 err[256];
	int			 rc;

	if ((rc = backend_dev_open(dev, err, sizeof(err))) != 0)
		return (rpc_call_error(call, api_errno_status(rc), "%s", err));
	if ((rc = backend_dev_claim(dev, SETTLE_JOB_ID, resume ? "resuming" :
	    "releasing", err, sizeof(err))) != 0)
		return (rpc_call_error(call, S(FAILED_PRECONDITION), "%s", err));
	r = xcalloc(1, sizeof(*r));
	r->call = call;
	r->dev = dev;
	r->ops = resume ? api_resume_ops : api_release_ops;
	r->target = resume ? VMIG_MODE_ACTIVE : VMIG_MODE_STOPPED;
	r->done = resume ? "resumed" : "released";
	call->abandon = api_settle_abandon;
	call->abandon_arg = r;
	/* on the next turn: the handler returns before any reply can go */
	event_base_once(ENG(d)->d->base, -1, EV_TIMEOUT, api_settle_start, r,
	    &zero);
	return (RPC_DEFER);
}

static int
api_release_device(struct vmigd *d, struct rpc_call *call)
{
	const char			*name = call->req->release_device->device;
	struct device			*dev;
	struct job			*job;
	char				 err[256];
	int				 rc;

	if (name == NULL || name[0] == '\0')
		return (rpc_call_error(call, S(INVALID_ARGUMENT),
		    "device is missing"));
	if ((rc = backend_dev_lookup(d->backends, name, &dev, err,
	    sizeof(err))) != 0)
		return (rpc_call_error(call, api_errno_status(rc), "%s", err));
	if (dev->job_id == 0 && call->req->release_device->resume)
		return (api_settle_device(d, call, dev, 1));
	if (dev->job_id == 0)
		return (rpc_call_error(call, S(FAILED_PRECONDITION), "device %s "
		    "is not held by any job (resume makes a stopped one "
		    "active again)", name));
	if (call->req->release_device->resume)
		return (rpc_call_error(call, S(FAILED_PRECONDITION), "device %s "
		    "is held by %s: only a VF no job holds is resumed", name,
		    dev->owner));
	job = job_find(ENG(d), dev->job_id);
	if (job == NULL || job->dir != JOB_OUTGOING ||
	    job->phase != JOB_COMPLETED)
		return (rpc_call_error(call, S(FAILED_PRECONDITION), "device %s "
		    "is in use by %s: only a VF whose VM migrated away can be "
		    "released", name, dev->owner));
	log_info("device %s released by job %" PRIu64 ", setting it stopped",
	    name, job->id);
	job_out_release(job);
	return (api_settle_device(d, call, dev, 0));
}

/* ------------------------------------------------------------ life cycle */

static void
api_job_limits(struct vmigd *d)
{
	engine_set_limits(ENG(d), d->conf->max_outgoing, d->conf->max_incoming,
	    d->conf->max_per_pf, d->conf->bandwidth);
}

void
api_job_init(struct vmigd *d)
{
	d->engine = engine_new(d);
	api_job_limits(d);
}

void
api_job_reload(struct vmigd *d)
{
	if (d->engine != NULL)
		api_job_limits(d);
}

unsigned int
api_job_stop(struct vmigd *d)
{
	if (d->engine == NULL)
		return (0);
	return (engine_cancel_all(d->engine, "the daemon is shutting down"));
}

void
api_job_shutdown(struct vmigd *d)
{
	if (d->engine != NULL)
		engine_freeze(d->engine);
}

void
api_job_free(struct vmigd *d)
{
	engine_free(d->engine);
	d->engine = NULL;
}

void
api_job_fill_status(struct vmigd *d, Vmig__V1__GetDaemonStatusResponse *st)
{
	struct engine	*eng = ENG(d);
	struct job	*job;
	unsigned int	 counts[JOB_NPHASES];
	size_t		 i, n = 0, *idx;

	if (eng == NULL)
		return;
	memset(counts, 0, sizeof(counts));
	TAILQ_FOREACH(job, &eng->jobs, entry)
		counts[job->phase]++;
	for (i = 1; i < JOB_NPHASES; i++) {
		if (counts[i] != 0)
			n++;
	}
	if (n > 0) {
		st->jobs_by_phase = xcalloc(n, sizeof(*st->jobs_by_phase));
		for (i = 1; i < JOB_NPHASES; i++) {
			Vmig__V1__PhaseCount *pc;

			if (counts[i] == 0)
				continue;
			pc = rpc_msg_new(&vmig__v1__phase_count__descriptor);
			pc->phase = (Vmig__V1__JobPhase)i;
			pc->count = counts[i];
			st->jobs_by_phase[st->n_jobs_by_phase++] = pc;
		}
	}
	if (eng->nsched == 0)
		return;
	/* the queue in admission order, and the shares, as last computed */
	idx = xcalloc(eng->nsched, sizeof(*idx));
	sched_queue_order(eng->sjobs, eng->nsched, idx, &n);
	if (n > 0) {
		st->queue = xcalloc(n, sizeof(*st->queue));
		for (i = 0; i < n; i++)
			st->queue[i] = eng->sjobs[idx[i]].id;
		st->n_queue = n;
	}
	free(idx);
	for (i = 0, n = 0; i < eng->nsched; i++)
		n += eng->shares[i].sending;
	if (n > 0) {
		st->shares = xcalloc(n, sizeof(*st->shares));
		for (i = 0; i < eng->nsched; i++) {
			Vmig__V1__BandwidthShare *bs;

			if (!eng->shares[i].sending)
				continue;
			bs = rpc_msg_new(&vmig__v1__bandwidth_share__descriptor);
			bs->job_id = eng->shares[i].id;
			bs->share_bps = eng->shares[i].share_bps;
			bs->reason = xstrdup(eng->shares[i].reason);
			st->shares[st->n_shares++] = bs;
		}
	}
}
