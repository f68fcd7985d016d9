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

/*
 * api_fds.c: the fd socket next to an ipc:// rpc_url (PATH.fds), where a
 * VMM hands device fds over (nng ipc cannot carry them). Nothing for
 * another URL; 0 or -errno with err. api_job_free() closes it.
 */
struct api_fds;
int		 api_fds_open(struct vmigd *, const char *rpc_url, char *err,
		    size_t errlen);
void		 api_fds_close(struct vmigd *);
const char	*api_fds_path(const struct vmigd *);	/* "": none */

/* api.c: map a negative errno from a lookup to a status code. */
Vmig__V1__StatusCode	 api_errno_status(int error);

/*
 * api_view.c: the API's side of the engine (main.c owns the engine).
 * api_job_init() installs the engine's hooks (GetJob's view, WatchEvents)
 * and refreshes the view while jobs run; api_job_free() undoes it.
 * api_job_refresh() republishes every live job (after a control call).
 */
struct job;
struct job_policy;
void	api_job_init(struct vmigd *d);
void	api_job_free(struct vmigd *d);
void	api_job_refresh(struct vmigd *d);
/* A job's record for its device k (a group shows one per device). */
void	api_job_to_proto(const struct job *, unsigned int k, Vmig__V1__Job *);
void	api_job_stats(const struct job *, unsigned int k,
	    Vmig__V1__JobStats *);
void	api_policy_from_proto(struct job_policy *,
	    const Vmig__V1__MigrationPolicy *);
void	api_policy_to_proto(const struct job_policy *,
	    Vmig__V1__MigrationPolicy *);
/* Limits a person would not set on purpose: -EINVAL with the field. */
int	api_policy_check(const Vmig__V1__MigrationPolicy *, char *, size_t);

/* api_job.c: the engine's part of GetDaemonStatus. */
void	api_job_fill_status(struct vmigd *d,
	    Vmig__V1__GetDaemonStatusResponse *st);
/*
 * The RPC fast lane (rpc.h, rpc_fast_fn; arg: the view): GetJob answered
 * on an nng thread from the jobs' view, so that a caller polling a job
 * does not wait behind the data plane on the loop.
 */
int	api_job_fast(void *arg, const Vmig__V1__Request *req,
	    Vmig__V1__Response *resp);

#endif /* VMIG_API_H */
