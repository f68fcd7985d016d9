/*
 * api.h: the control API's calls as a table (tmux's cmd_entry style).
 *
 * One entry per vmig.v1.Request oneof member: its name, the call and result
 * field numbers, the handler and a one-line description. Adding a call is
 * one field in proto/vmig.proto, one entry, one handler. api_dispatch() is
 * the rpc_dispatch_fn (arg: struct vmigd *): it finds the entry, allocates
 * the result message and runs the handler, which returns RPC_REPLY or
 * RPC_DEFER (rpc.h).
 */
#ifndef VMIG_API_H
#define VMIG_API_H

#include "vmig.pb-c.h"

struct rpc_call;
struct vmigd;

struct api_entry {
	const char	*name;		/* "GetVersion" */
	int		 call;		/* Vmig__V1__Request__CallCase */
	int		 result;	/* Vmig__V1__Response__ResultCase */
	int		(*exec)(struct vmigd *, struct rpc_call *);
	const char	*doc;
	int		 reads_only;	/* changes no job (no view refresh) */
};

/* api.c */
extern const struct api_entry api_get_version_entry;
extern const struct api_entry api_list_devices_entry;
extern const struct api_entry api_get_daemon_status_entry;
extern const struct api_entry api_watch_events_entry;

/* api_job.c: the migration calls (the engine). */
extern const struct api_entry api_prepare_incoming_entry;
extern const struct api_entry api_start_migration_entry;
extern const struct api_entry api_get_job_entry;
extern const struct api_entry api_list_jobs_entry;
extern const struct api_entry api_cancel_job_entry;
extern const struct api_entry api_set_job_policy_entry;
extern const struct api_entry api_switchover_entry;
extern const struct api_entry api_release_device_entry;

int			 api_dispatch(struct rpc_call *call, void *arg);
const struct api_entry	*api_find(int call_case);
/* The table, NULL-terminated (for --help and tests). */
extern const struct api_entry *const api_table[];

/* api.c: map a negative errno from a lookup to a status code. */
Vmig__V1__StatusCode	 api_errno_status(int error);

/*
 * api_job.c: the engine's life cycle and its part of GetDaemonStatus.
 * Shutdown: api_job_stop() cancels every job and returns how many are
 * still rolling back (the loop keeps running until 0); once the loop has
 * stopped, api_job_shutdown() freezes the jobs before the backends close,
 * and api_job_free() frees them after.
 */
void	api_job_init(struct vmigd *d);
void	api_job_reload(struct vmigd *d);
unsigned int api_job_stop(struct vmigd *d);
void	api_job_shutdown(struct vmigd *d);
void	api_job_free(struct vmigd *d);
void	api_job_fill_status(struct vmigd *d,
	    Vmig__V1__GetDaemonStatusResponse *st);
/*
 * The RPC fast lane (rpc.h, rpc_fast_fn; arg: the engine): GetJob answered
 * on an nng thread from the engine's view, so that a caller polling a job
 * does not wait behind the data plane on the loop.
 */
int	api_job_fast(void *arg, const Vmig__V1__Request *req,
	    Vmig__V1__Response *resp);

#endif /* VMIG_API_H */
