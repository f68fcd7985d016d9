/*
 * vmigd.h: the daemon's state, one instance, owned by the libevent loop.
 *
 * Every module reaches what it needs through this structure (handlers get
 * it as their first argument); nothing here is touched from another thread.
 * nng callbacks hand their work to the loop with wake_post() (wake.h).
 */
#ifndef VMIG_VMIGD_H
#define VMIG_VMIGD_H

#include <stdint.h>

struct event;
struct event_base;
struct config;
struct config_args;
struct wake;
struct rpc;
struct events;
struct backends;
struct engine;
struct view;
struct metrics;
struct journal;
struct history;
struct restart;
struct authz;

/*
 * Event priorities: libevent runs every active event of a lower number
 * first. Steps of a job (cheap: they start device commands and frames)
 * go first, so a job in stop-copy is never stuck behind another job's bulk
 * copy; page pumping is background work that fills what is left.
 */
#define VMIG_PRIO_CRITICAL	0
#define VMIG_PRIO_NORMAL	1	/* libevent's default with 3 */
#define VMIG_PRIO_BULK		2
#define VMIG_NPRIO		3

struct vmigd {
	struct event_base	*base;
	struct config		*conf;		/* effective configuration */
	const struct config_args *args;		/* command line (kept for reload) */
	struct wake		*wake;		/* hand-off from other threads */
	struct rpc		*rpc;		/* control API server */
	struct events		*events;	/* WatchEvents publisher */
	struct backends		*backends;	/* plugins, PFs and their VFs */
	struct engine		*engine;	/* the migration engine (job.h) */
	struct view		*view;		/* jobs for the RPC fast lane */
	struct event		*ev_view;	/* refreshes it while jobs run */
	struct api_fds		*fds;		/* the fd socket (api_fds.c) */
	struct metrics		*metrics;	/* NULL: metrics_listen is empty */
	struct journal		*journal;	/* per-job undo records (journal.h) */
	struct history		*history;	/* finished jobs across restarts */
	struct restart		*restart;	/* start-up recovery (restart.h) */
	uint64_t		 state_max_id;	/* highest job id in state_dir: new
						 * ids must start above it */
	struct authz		*authz;		/* who may call (authz.h) */
	uint64_t		 rpc_tls_digest; /* of the TLS files in use */

	uint64_t		 start_ms;	/* now_ms() at start-up */
	uint64_t		 reloads;	/* SIGHUPs handled */
	int			 stopping;	/* shutdown has begun */
	int			 failed;	/* start-up failed after the loop
						 * began: exit 1 */

	struct event		*ev_sigterm;
	struct event		*ev_sigint;
	struct event		*ev_sighup;
	struct event		*ev_status;	/* periodic sd_notify STATUS */
	struct event		*ev_watchdog;	/* WATCHDOG=1 at half the period */
	int			 ready_fd;	/* to the waiting parent, or -1 */
	struct event		*ev_stop;	/* shutdown: wait for rollbacks */
	uint64_t		 stop_deadline_ms;
};

#endif /* VMIG_VMIGD_H */
