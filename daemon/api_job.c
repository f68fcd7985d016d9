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
#include "history.h"
#include "job.h"
#include "log.h"
#include "peerpol.h"
#include "rpc.h"
#include "util.h"
#include "view.h"
#include "vmigd.h"

#define S(x)	VMIG__V1__STATUS_CODE__STATUS_##x

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
 * policy, usable regions. Fills req, specs and pol; returns 0, or -1 with
 * the call's error set.
 */
static int
api_migration_request(struct rpc_call *call, const char *device,
    char **group, size_t ngroup, const Vmig__V1__MigrationPolicy *policy,
    Vmig__V1__MemoryRegion **regions, size_t nregions, const char *vm,
    struct mem_region_spec *specs, struct job_request *req,
    struct job_policy *pol)
{
	char	err[512];
	size_t	i;

	for (i = 0; i < ngroup; i++) {
		if (group[i] == NULL || group[i][0] == '\0') {
			rpc_call_error(call, S(INVALID_ARGUMENT), "group device "
			    "%zu is empty", i);
			return (-1);
		}
	}
	if (device == NULL || device[0] == '\0')
		rpc_call_error(call, S(INVALID_ARGUMENT), "device is missing");
	else if (api_policy_check(policy, err, sizeof(err)) != 0)
		rpc_call_error(call, S(INVALID_ARGUMENT), "%s", err);
	else if (api_regions(call, regions, nregions, specs) != 0)
		;	/* the error is set */
	else {
		memset(req, 0, sizeof(*req));
		req->device = device;
		req->devices = (const char *const *)group;
		req->ndevices = ngroup;
		req->regions = specs;
		req->nregions = nregions;
		req->vm = vm;
		api_policy_from_proto(pol, policy);
		return (0);
	}
	return (-1);
}

/*
 * An engine error: its errno says the status, its sentence the rest. A
 * sentence that names a device (the backend's lookup and claim, a group's
 * member) says which already; one that names none gets the request's.
 */
static int
api_engine_error(struct rpc_call *call, int rc, const char *device,
    const char *err)
{
	if (device != NULL && rc != -ESHUTDOWN &&
	    strncmp(err, "device ", 7) != 0)
		return (rpc_call_error(call, api_errno_status(rc), "device %s: "
		    "%s", device, err));
	return (rpc_call_error(call, api_errno_status(rc), "%s", err));
}

static struct job *
api_job_lookup(struct vmigd *d, struct rpc_call *call, uint64_t id)
{
	struct job	*job;

	if (id == 0) {
		rpc_call_error(call, S(INVALID_ARGUMENT), "job_id is missing");
		return (NULL);
	}
	if ((job = job_find(d->engine, id)) == NULL)
		rpc_call_error(call, S(NOT_FOUND), "job %" PRIu64 ": no such "
		    "job (finished jobs are kept until %d more have ended)", id,
		    JOB_FINISHED_MAX);
	return (job);
}

/* The job ids of a new job's devices, for the response. */
static void
api_job_ids(const struct job *job, uint64_t **ids, size_t *n)
{
	unsigned int	i;

	*ids = xcalloc(job->ndevs, sizeof(**ids));
	for (i = 0; i < job->ndevs; i++)
		(*ids)[i] = job->devs[i].id;
	*n = job->ndevs;
}

/* The slot of the job's record with this id (0 for a job without). */
static unsigned int
api_job_slot(struct job *job, uint64_t id)
{
	struct job_dev	*jd = job_dev_by_id(job, id);

	return (jd != NULL ? (unsigned int)(jd - job->devs) : 0);
}

/* ------------------------------------------------------------ calls */

static void
api_prepared(void *arg, struct job *job, int rc, const char *err)
{
	struct rpc_call				*call = arg;
	Vmig__V1__PrepareIncomingResponse	*r = call->result;

	call->abandon = NULL;
	if (rc != 0) {
		rpc_call_error(call, rc == -ECANCELED ? S(ABORTED) :
		    S(DEVICE_ERROR), "device %s: %s", job->device_name, err);
		rpc_call_reply(call);
		return;
	}
	r->job_id = job->id;
	api_job_ids(job, &r->job_ids, &r->n_job_ids);
	r->token.len = job_in_token_len(job);
	r->token.data = xmalloc(r->token.len);
	memcpy(r->token.data, job_in_token(job), r->token.len);
	r->stream_url = xstrdup(job_in_url(job));
	rpc_call_reply(call);
}

/* The call went away (the server closes): the job answers nobody. */
static void
api_prepare_abandon(struct rpc_call *call, void *arg)
{
	job_forget_done(arg);
}

/*
 * The source interfaces a PrepareIncoming names, against the devices it
 * prepares: an incompatible pair is refused here, before the engine
 * touches any device (the backend names the field).
 */
static int
api_source_compat(struct vmigd *d, struct rpc_call *call,
    const Vmig__V1__PrepareIncomingRequest *r)
{
	struct device	*dev;
	const char	*name;
	char		 err[BACKEND_ERR_MAX];
	size_t		 i;
	int		 rc;

	if (r->n_source_interfaces != 1 + r->n_group) {
		rpc_call_error(call, S(INVALID_ARGUMENT), "%zu source "
		    "interfaces for %zu devices", r->n_source_interfaces,
		    1 + r->n_group);
		return (-1);
	}
	for (i = 0; i < r->n_source_interfaces; i++) {
		name = i == 0 ? r->device : r->group[i - 1];
		if ((rc = backend_dev_lookup(d->backends, name, &dev, err,
		    sizeof(err))) != 0) {
			rpc_call_error(call, api_errno_status(rc), "%s", err);
			return (-1);
		}
		if (backend_state_compat(dev, r->source_interfaces[i], err,
		    sizeof(err)) < 0) {
			rpc_call_error(call, S(FAILED_PRECONDITION), "device "
			    "%s cannot take the state of a %s device: %s",
			    name, r->source_interfaces[i], err);
			return (-1);
		}
	}
	return (0);
}

static int
api_prepare_incoming(struct vmigd *d, struct rpc_call *call)
{
	const Vmig__V1__PrepareIncomingRequest	*r =
	    call->req->prepare_incoming;
	struct mem_region_spec			 specs[JOB_MEM_REGIONS_MAX];
	struct job_request			 req;
	struct job_policy			 pol;
	struct job				*job;
	char					 err[512];
	int					 rc;

	if (api_migration_request(call, r->device, r->group, r->n_group,
	    r->policy, r->regions, r->n_regions, r->vm, specs, &req,
	    &pol) != 0)
		return (RPC_REPLY);
	if (r->n_source_interfaces > 0 && api_source_compat(d, call, r) != 0)
		return (RPC_REPLY);
	if ((rc = engine_prepare_incoming(d->engine, &req, &pol, api_prepared,
	    call, &job, err, sizeof(err))) != 0)
		return (api_engine_error(call, rc, r->device, err));
	call->abandon = api_prepare_abandon;
	call->abandon_arg = job;
	return (RPC_DEFER);
}

/*
 * May this job's memory go to url ([security] stream_allow, ...)? 0, or
 * the call answered PERMISSION_DENIED (INVALID_ARGUMENT: not a stream
 * URL) and logged, before any device is touched.
 */
static int
api_stream_allowed(struct vmigd *d, struct rpc_call *call, const char *url)
{
	const struct config	*c = d->conf;
	struct peerpol		 pol;
	struct peerpol_verdict	 v;
	char			 err[512];
	int			 rc;

	/* checked at load and reload (--check too): cannot fail here */
	if ((rc = peerpol_parse(&pol, c->stream_allow, c->stream_require_tls,
	    c->stream_peer_name, err, sizeof(err))) != 0)
		goto refused;
	/* no policy: any URL the stream can dial (the engine checks it) */
	if (pol.nnets != 0 || pol.nnames != 0 || pol.require_tls ||
	    pol.peer_name != NULL)
		rc = peerpol_check(&pol, url, &v, err, sizeof(err));
	peerpol_clear(&pol);
	if (rc == 0)
		return (0);
refused:
	log_warnx("StartMigration refused: %s", err);
	rpc_call_error(call, api_errno_status(rc), "%s", err);
	return (-1);
}

static int
api_start_migration(struct vmigd *d, struct rpc_call *call)
{
	const Vmig__V1__StartMigrationRequest	*r = call->req->start_migration;
	Vmig__V1__StartMigrationResponse	*res = call->result;
	struct mem_region_spec			 specs[JOB_MEM_REGIONS_MAX];
	struct job_request			 req;
	struct job_policy			 pol;
	struct job				*job;
	char					 err[512];
	int					 rc;

	if (api_migration_request(call, r->device, r->group, r->n_group,
	    r->policy, r->regions, r->n_regions, r->vm, specs, &req,
	    &pol) != 0)
		return (RPC_REPLY);
	if (api_stream_allowed(d, call, r->dest_url) != 0)
		return (RPC_REPLY);
	req.dest_url = r->dest_url;
	req.token = r->token.data;
	req.tokenlen = r->token.len;
	if ((rc = engine_start_migration(d->engine, &req, &pol, &job, err,
	    sizeof(err))) != 0)
		return (api_engine_error(call, rc, r->device, err));
	res->job_id = job->id;
	api_job_ids(job, &res->job_ids, &res->n_job_ids);
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
	job_rate_tick(job);
	res->job = rpc_msg_new(&vmig__v1__job__descriptor);
	api_job_to_proto(job, api_job_slot(job, call->req->get_job->job_id),
	    res->job);
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
	struct view			*view = arg;
	Vmig__V1__GetJobResponse	*res;
	Vmig__V1__Job			*job;
	void				*buf;
	size_t				 len;

	if (req->call_case != VMIG__V1__REQUEST__CALL_GET_JOB ||
	    req->get_job == NULL ||
	    view_get(view, req->get_job->job_id, &buf, &len) != 0)
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

/* A job record (a group's device's id too) the engine still keeps. */
static int
api_job_kept(struct engine *eng, uint64_t id)
{
	struct job	*job;
	unsigned int	 k;

	TAILQ_FOREACH(job, &eng->jobs, entry) {
		if (job->id == id)
			return (1);
		for (k = 0; k < job->ndevs; k++) {
			if (job->devs[k].id == id)
				return (1);
		}
	}
	return (0);
}

struct api_list {
	struct vmigd			*d;
	Vmig__V1__ListJobsResponse	*res;
	size_t				 cap;
};

static void
api_list_add(struct api_list *l, Vmig__V1__Job *m)
{
	Vmig__V1__ListJobsResponse	*res = l->res;

	if (res->n_jobs == l->cap) {
		l->cap = l->cap != 0 ? l->cap * 2 : 16;
		res->jobs = xreallocarray(res->jobs, l->cap,
		    sizeof(*res->jobs));
	}
	res->jobs[res->n_jobs++] = m;
}

/* A finished job of an earlier run (history.h) the engine no longer has. */
static int
api_list_history(const Vmig__V1__Job *job, uint64_t ended, void *arg)
{
	struct api_list	*l = arg;
	Vmig__V1__Job	*m;
	uint8_t		*buf;
	size_t		 len;

	if (api_job_kept(l->d->engine, job->id))
		return (0);
	len = vmig__v1__job__get_packed_size(job);
	buf = xmalloc(len > 0 ? len : 1);
	vmig__v1__job__pack(job, buf);
	m = vmig__v1__job__unpack(NULL, len, buf);
	free(buf);
	if (m != NULL)
		api_list_add(l, m);
	return (0);
}

/*
 * The live jobs; with include_finished, the finished ones too: first
 * those of the history (earlier runs included, oldest first) the engine
 * no longer keeps, then the engine's.
 */
static int
api_list_jobs(struct vmigd *d, struct rpc_call *call)
{
	struct api_list	 l = { d, call->result, 0 };
	struct job	*job;
	unsigned int	 k;
	int		 all = call->req->list_jobs->include_finished;

	if (all && d->history != NULL)
		(void)history_foreach(d->history, api_list_history, &l);
	/* a group shows a record per device */
	TAILQ_FOREACH(job, &d->engine->jobs, entry) {
		if (!all && job_phase_terminal(job->phase))
			continue;
		job_rate_tick(job);
		for (k = 0; k < (job->ndevs > 0 ? job->ndevs : 1); k++) {
			api_list_add(&l, rpc_msg_new(&vmig__v1__job__descriptor));
			api_job_to_proto(job, k,
			    l.res->jobs[l.res->n_jobs - 1]);
		}
	}
	return (RPC_REPLY);
}

static int
api_cancel_job(struct vmigd *d, struct rpc_call *call)
{
	const Vmig__V1__CancelJobRequest	*r = call->req->cancel_job;
	Vmig__V1__CancelJobResponse		*res = call->result;
	struct job				*job;
	char					 err[256];
	int					 rc;

	if ((job = api_job_lookup(d, call, r->job_id)) == NULL)
		return (RPC_REPLY);
	if ((rc = job_cancel_request(job, r->reason != NULL &&
	    r->reason[0] != '\0' ? r->reason : "by request", err,
	    sizeof(err))) != 0)
		return (rpc_call_error(call, api_errno_status(rc), "%s", err));
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
	struct job_policy			 pol;
	struct job				*job;
	char					 err[256];
	int					 rc;

	if ((job = api_job_lookup(d, call, r->job_id)) == NULL)
		return (RPC_REPLY);
	api_policy_to_proto(&job->pol, &m);
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
	if (api_policy_check(&m, err, sizeof(err)) != 0)
		return (rpc_call_error(call, S(INVALID_ARGUMENT), "job %" PRIu64
		    ": %s", job->id, err));
	/* only these four change; the rest is kept as the job has it */
	pol = job->pol;
	pol.max_downtime_ms = m.max_downtime_ms;
	pol.downtime_ceiling_ms = m.downtime_ceiling_ms;
	pol.bandwidth_limit_bps = m.bandwidth_limit_bps;
	pol.completion_timeout_s = m.completion_timeout_s;
	if ((rc = job_set_policy(job, &pol, err, sizeof(err))) != 0)
		return (rpc_call_error(call, api_errno_status(rc), "%s", err));
	res->policy = rpc_msg_new(&vmig__v1__migration_policy__descriptor);
	api_policy_to_proto(&job->pol, res->policy);
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
	if ((rc = job_switchover(job, err, sizeof(err))) != 0)
		return (rpc_call_error(call, api_errno_status(rc), "%s", err));
	res->phase = (Vmig__V1__JobPhase)job->phase;
	return (RPC_REPLY);
}

/*
 * ReleaseDevice, with resume or without: a job of its own (job_resume.c);
 * the reply waits for it.
 */
static void
api_resumed(void *arg, struct job *job, int rc, const char *err)
{
	struct rpc_call			*call = arg;
	Vmig__V1__ReleaseDeviceResponse	*res = call->result;

	call->abandon = NULL;
	if (rc != 0)
		rpc_call_error(call, rc == -ECANCELED ? S(ABORTED) :
		    S(DEVICE_ERROR), "%s", err);
	else
		res->mode = (Vmig__V1__DeviceMode)job_device_mode(job);
	rpc_call_reply(call);
}

static int
api_settle_device(struct vmigd *d, struct rpc_call *call, struct device *dev,
    int resume)
{
	struct job	*job;
	char		 err[256];
	int		 rc;

	rc = resume ? engine_resume_device(d->engine, dev, api_resumed, call,
	    &job, err, sizeof(err)) : engine_release_device(d->engine, dev,
	    api_resumed, call, &job, err, sizeof(err));
	if (rc != 0)
		return (rpc_call_error(call, api_errno_status(rc), "%s", err));
	call->abandon = api_prepare_abandon;	/* forgets the job's done */
	call->abandon_arg = job;
	return (RPC_DEFER);
}

static int
api_release_device(struct vmigd *d, struct rpc_call *call)
{
	const char			*name = call->req->release_device->device;
	struct device			*dev;
	char				 err[256];
	int				 rc;

	if (name == NULL || name[0] == '\0')
		return (rpc_call_error(call, S(INVALID_ARGUMENT),
		    "device is missing"));
	if ((rc = backend_dev_lookup(d->backends, name, &dev, err,
	    sizeof(err))) != 0)
		return (rpc_call_error(call, api_errno_status(rc), "%s", err));
	return (api_settle_device(d, call, dev,
	    call->req->release_device->resume));
}

void
api_job_fill_status(struct vmigd *d, Vmig__V1__GetDaemonStatusResponse *st)
{
	struct engine	*eng = d->engine;
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
