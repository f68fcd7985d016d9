/*
 * api_job.c: the migration calls. Until the migration engine lands they
 * answer STATUS_UNIMPLEMENTED, and the engine's hooks do nothing; the
 * engine replaces this file (keep the entry names and the hooks).
 */
#include "config.h"

#include "api.h"
#include "rpc.h"
#include "vmigd.h"

static int
api_job_unimplemented(struct vmigd *d, struct rpc_call *call)
{
	return (rpc_call_error(call,
	    VMIG__V1__STATUS_CODE__STATUS_UNIMPLEMENTED, "%s: not implemented "
	    "yet: the migration engine lands in a later release", call->name));
}

#define API_JOB_ENTRY(var, nm, CASE, text)				\
const struct api_entry var = {						\
	.name = nm,							\
	.call = VMIG__V1__REQUEST__CALL_##CASE,				\
	.result = VMIG__V1__RESPONSE__RESULT_##CASE,			\
	.exec = api_job_unimplemented,					\
	.doc = text,							\
}

API_JOB_ENTRY(api_prepare_incoming_entry, "PrepareIncoming",
    PREPARE_INCOMING, "destination: prepare a VF and memory for a stream");
API_JOB_ENTRY(api_start_migration_entry, "StartMigration", START_MIGRATION,
    "source: migrate a VF to a prepared destination");
API_JOB_ENTRY(api_get_job_entry, "GetJob", GET_JOB,
    "one job: phase, statistics, decisions");
API_JOB_ENTRY(api_list_jobs_entry, "ListJobs", LIST_JOBS,
    "jobs, running and (optionally) finished");
API_JOB_ENTRY(api_cancel_job_entry, "CancelJob", CANCEL_JOB,
    "cancel a job; the source VF keeps running");
API_JOB_ENTRY(api_set_job_policy_entry, "SetJobPolicy", SET_JOB_POLICY,
    "change a running job's downtime, bandwidth or timeout");
API_JOB_ENTRY(api_switchover_entry, "Switchover", SWITCHOVER,
    "manual switchover of a converged job");
API_JOB_ENTRY(api_release_device_entry, "ReleaseDevice", RELEASE_DEVICE,
    "free a source VF after its VM moved away");

void
api_job_init(struct vmigd *d)
{
}

void
api_job_reload(struct vmigd *d)
{
}

void
api_job_shutdown(struct vmigd *d)
{
}

void
api_job_fill_status(struct vmigd *d, Vmig__V1__GetDaemonStatusResponse *st)
{
	/* No engine yet: no jobs by phase, no queue, no shares. */
}
