/*
 * job.h: the migration engine: one job per VF migration, on either side.
 *
 * A job is an explicit phase machine (job.c's phase table): every phase
 * change goes through job_set_phase(), which checks the transition against
 * the table, logs it and publishes an event. Inside a phase the work is a
 * sequence of steps (a table per phase: "stop device", "freeze device",
 * "read final write records", ...); a step either finishes at once or
 * starts one asynchronous operation (a device command, a frame to wait
 * for, pages to pump) whose completion calls job_step_done(). Errors from
 * any source (a device command, a peer's Abort, a lost connection, a
 * timeout, a cancel) become one call, job_fail(), which runs the rollback
 * steps of the job's direction and ends in FAILED or CANCELLED.
 *
 *  outgoing (source):  QUEUED -> SETUP -> PRECOPY [-> SWITCHOVER_READY]
 *                       -> STOPCOPY -> RESUMING -> COMPLETED
 *  incoming (dest):    WAITING -> QUEUED -> SETUP -> PRECOPY -> STOPCOPY
 *                       -> RESUMING -> COMPLETED
 *  either, before completion: -> FAILED | CANCELLED (after rollback)
 *
 * Invariant (DESIGN.md): a job that did not complete leaves its device in
 * the mode it found it (source: ACTIVE, recording stopped; destination:
 * STOPPED, partial state discarded, device released). After a completed
 * outgoing job the source VF stays stopped and owned ("migrated away")
 * until ReleaseDevice.
 */
#ifndef VMIG_JOB_H
#define VMIG_JOB_H

#include <sys/queue.h>

#include <stddef.h>
#include <stdint.h>

#include "converge.h"
#include "memory.h"
#include "sched.h"
#include "stream.h"
#include "tbucket.h"
#include "xfer.h"
#include "vmig.pb-c.h"

struct event;
struct offload;
struct offload_task;
struct view;
struct vmigd;
struct device;
struct job;

/* Values of vmig.v1.JobPhase. */
enum job_phase {
	JOB_NONE = 0,
	JOB_QUEUED = 1,
	JOB_SETUP = 2,
	JOB_PRECOPY = 3,
	JOB_STOPCOPY = 4,
	JOB_RESUMING = 5,
	JOB_COMPLETED = 6,
	JOB_CANCELLED = 7,
	JOB_FAILED = 8,
	JOB_WAITING = 9,
	JOB_SWITCHOVER_READY = 10,
	JOB_NPHASES
};

enum job_dir {
	JOB_OUTGOING = 1,	/* = DIRECTION_OUTGOING */
	JOB_INCOMING = 2,
};

#define JOB_ERR_MAX		512
#define JOB_DECISIONS_MAX	32	/* kept per job (GetJob) */
#define JOB_TOKEN_LEN		32
#define JOB_FINISHED_MAX	256	/* finished jobs kept for GetJob */
#define JOB_STATE_CHUNK		(256 * 1024)	/* device state read size */
#define JOB_PUMP_BATCHES	4	/* batches per loop turn and job */
#define JOB_WINDOW_BYTES	(16 * 1024 * 1024)	/* source in flight */
/*
 * Bytes in flight over all outgoing jobs: each job's window is this over
 * the number sending (at least JOB_WINDOW_MIN), so 64 jobs do not queue a
 * gigabyte ahead of a job that has just stopped its device.
 */
#define JOB_HOST_WINDOW_BYTES	(64 * 1024 * 1024)
#define JOB_WINDOW_MIN		(2 * 1024 * 1024)
#define JOB_CONNECT_TIMEOUT_MS	10000	/* source: peer pipe up */
#define JOB_HELLO_TIMEOUT_MS	30000	/* destination: Hello after connect */
#define JOB_DONE_TIMEOUT_MS	60000	/* source: Done after Switchover */
#define JOB_WAIT_TIMEOUT_MS	600000	/* destination: a source connects */
#define JOB_MEM_REGIONS_MAX	MEM_REGIONS_MAX
#define JOB_COSTS_KEPT		9	/* switchover costs per PF (median) */
#define JOB_OFFLOAD_THREADS	2	/* digests and unmapping, off the loop */

/* The job's policy with defaults applied (vmig.v1.MigrationPolicy). */
struct job_policy {
	uint32_t	max_downtime_ms;
	uint32_t	downtime_ceiling_ms;
	uint64_t	bandwidth_limit_bps;
	uint32_t	completion_timeout_s;
	int		manual_switchover;
	int		bulk_copy;
	int		verify;
	int		baseline;
	int		timeout_force;
	uint32_t	forced_downtime_ms;
	uint32_t	priority;
	uint32_t	max_iterations;
};

struct job_stats {
	uint64_t	setup_ms;		/* SETUP entered -> PRECOPY */
	uint64_t	downtime_ms;
	uint64_t	memory_processed;	/* payload bytes of pages */
	uint64_t	memory_remaining;
	uint64_t	memory_dirty_rate;	/* pages/s */
	uint64_t	memory_iteration;
	uint64_t	memory_bps;
	uint64_t	memory_constant;	/* zero pages */
	uint64_t	memory_normal;
	uint64_t	device_state_bytes;
	uint64_t	device_state_pending;
	uint64_t	device_dirty_rate_bps;
	uint64_t	device_write_records;
	uint64_t	expected_downtime_ms;
	uint64_t	device_load_time_ms;
	uint64_t	bytes_sent;
	uint64_t	downtime_target_ms;
	uint64_t	bandwidth_share_bps;
	uint64_t	hot_pages_deferred;
	uint64_t	queue_time_ms;
};

/* One step of a phase: 0 = started (job_step_done() follows), 1 = done. */
struct job_step {
	const char	*name;
	int		(*run)(struct job *);
};

struct engine {
	struct vmigd		*d;
	TAILQ_HEAD(, job)	 jobs;		/* live and kept finished */
	uint64_t		 next_id;
	uint64_t		 next_seq;	/* arrival order */
	unsigned int		 nfinished;
	struct sched_limits	 limits;
	struct event		*ev_sched;	/* reschedule on the next turn */
	int			 sched_pending;	/* a pass was asked for */
	struct sched_admit	*admit;		/* last admission, for status */
	struct sched_share	*shares;
	struct sched_job	*sjobs;
	size_t			 nsched;
	size_t			 capsched;
	int			 shutting_down;	/* no new jobs */
	unsigned int		 stopcopy_jobs;	/* sources between stop and switchover */
	struct offload		*offload;	/* digests, unmapping */
	struct view		*view;		/* jobs for the RPC fast lane */
	struct event		*ev_view;	/* refresh it while jobs run */
	uint64_t		 window;	/* per job, from the host budget */
	int			 frozen;	/* loop gone: jobs do nothing */
	/*
	 * Measured switchover costs (stop .. destination resumed, without
	 * the final transfer) per PF: the last JOB_COSTS_KEPT, of which the
	 * median is used, because one job caught in a crowd (tens of
	 * migrations at once) would otherwise make every later job on that
	 * PF believe the device costs a second.
	 */
	struct {
		char		 pf[32];
		uint64_t	 ms[JOB_COSTS_KEPT];
		unsigned int	 n;		/* measurements made */
	}			 costs[16];
};

struct job_out;		/* job_out.c */
struct vmig_result;
struct rpc_call;
typedef void	(*job_dev_fn)(struct job *, const struct vmig_result *);
/* A memory digest made off the loop: 0 and the digest, or -errno. */
typedef void	(*job_digest_fn)(struct job *, int rc, uint64_t digest);
struct job_in;		/* job_in.c */

struct job {
	TAILQ_ENTRY(job)	 entry;
	struct engine		*eng;
	uint64_t		 id;
	uint64_t		 seq;		/* arrival, for the scheduler */
	enum job_dir		 dir;
	enum job_phase		 phase;
	char			*device_name;
	char			*vm;		/* caller's label */
	char			*peer;		/* stream URL */
	struct device		*dev;
	struct job_policy	 pol;
	struct job_stats	 st;
	struct mem_map		 mem;
	int			 mem_open;
	struct stream		*stream;

	/* times (now_ms) */
	uint64_t		 created_ms;
	uint64_t		 created_unix_ms;
	uint64_t		 phase_ms;	/* entered the current phase */
	uint64_t		 setup_start_ms;
	uint64_t		 ended_ms;

	/* the step machine */
	const struct job_step	*steps;
	size_t			 nsteps;
	size_t			 step;
	int			 running_step;	/* a step is in progress */
	int			 jumped;	/* a step installed new steps */
	uint64_t		 step_gen;	/* bumped per job_run_steps() */
	int			 dev_busy;	/* a device command is out */
	int			 wait_dev;	/* a step waits for dev_busy == 0 */
	struct {
		job_dev_fn	 fn;
		uint64_t	 gen;
		const char	*what;
		uint64_t	 start_us;
	}			 devop;
	struct {
		struct offload_task *task;	/* NULL: none under way */
		job_digest_fn	 fn;
		uint64_t	 gen;
		int		 rc;
		uint64_t	 value;
		uint64_t	 start_us;
	}			 digest;
	const char		*timer_fail;	/* timer = timeout with this */
	int			 failing;	/* rollback under way */
	int			 cancel_req;	/* rollback ends in CANCELLED */
	struct event		*ev_timer;	/* the step's timeout / delay */
	struct event		*ev_kick;	/* run the step machine next turn */
	struct event		*ev_deadline;	/* completion timeout */

	char			 error[JOB_ERR_MAX];
	int			 verified;

	struct converge_decision decisions[JOB_DECISIONS_MAX];	/* a ring */
	unsigned int		 ndecisions;	/* total made */

	/* the scheduler's view */
	enum sched_state	 sstate;
	uint64_t		 need_bps;
	int			 asked_bw;
	uint64_t		 share_bps;
	char			 wait_reason[SCHED_REASON_MAX];

	/* pending RPC (PrepareIncoming waits for the device) */
	struct rpc_call		*call;

	struct job_out		*out;
	struct job_in		*in;
};

/* job.c: the engine */
struct engine	*engine_new(struct vmigd *);
void		 engine_free(struct engine *);
void		 engine_set_limits(struct engine *, uint32_t max_out,
		    uint32_t max_in, uint32_t max_per_pf, uint64_t bw);
/* Run admission and shares on the next loop turn. */
void		 engine_reschedule(struct engine *);
/* The pass engine_reschedule() asked for, now (a control call's reply and
 * the view then show what admission made of it). */
void		 engine_schedule_now(struct engine *);
/* Cancel every live job (shutdown); returns how many are still live. */
unsigned int	 engine_cancel_all(struct engine *, const char *why);
/*
 * The loop has stopped: jobs take no further step. Devices are released
 * and streams closed, so the backends can be closed next (completing any
 * command in flight harmlessly), then engine_free().
 */
void		 engine_freeze(struct engine *);
unsigned int	 engine_live_jobs(const struct engine *);
/* The median of a PF's recent switchover costs (0: none measured yet). */
uint64_t	 engine_switch_cost(const struct engine *, const char *pf);
void		 engine_set_switch_cost(struct engine *, const char *pf,
		    uint64_t ms);

struct job	*job_new(struct engine *, enum job_dir, const char *device);
struct job	*job_find(struct engine *, uint64_t id);
/* Drop a job that never started (a refused request): no record kept. */
void		 job_discard(struct job *);
void		 job_policy_from_proto(struct job_policy *,
		    const Vmig__V1__MigrationPolicy *);
void		 job_policy_to_proto(const struct job_policy *,
		    Vmig__V1__MigrationPolicy *);
int		 job_policy_check(const Vmig__V1__MigrationPolicy *, char *,
		    size_t);
const char	*job_phase_name(enum job_phase);
int		 job_phase_terminal(enum job_phase);
/* The one place a phase changes: checked, logged, published. */
void		 job_set_phase(struct job *, enum job_phase, const char *why);
/* Run a phase's steps from the first. */
void		 job_run_steps(struct job *, const struct job_step *, size_t);
/* The current step finished (err 0) or failed (err < 0, reason fmt). */
void		 job_step_done(struct job *, int err, const char *fmt, ...)
		    __attribute__((format(printf, 3, 4)));
/* Fail (or cancel) the job: roll back, then FAILED/CANCELLED. */
void		 job_fail(struct job *, const char *fmt, ...)
		    __attribute__((format(printf, 2, 3)));
void		 job_cancel(struct job *, const char *reason);
/* The stream to `peer` ("source", "destination") closed: fail, saying whose
 * doing it was (a frame that did not decode) or that the link went. */
void		 job_peer_closed(struct job *, const char *peer, int err,
		    const char *reason);
/* Arm the step timer (delay or timeout) / the deadline. */
void		 job_timer(struct job *, uint64_t ms);
void		 job_timer_stop(struct job *);
/* After rollback: the terminal phase; frees resources, keeps the record. */
void		 job_finish(struct job *, enum job_phase);
/* A policy decision: kept in the job, published as an event. */
void		 job_record_decision(struct job *,
		    const struct converge_decision *);
void		 job_publish_progress(struct job *);
/*
 * Publish the job's vmig.v1.Job to the engine's view (view.h): done at
 * every phase change and, for the live jobs, after each control call the
 * loop handles and every VIEW_REFRESH_MS.
 */
void		 job_publish(struct job *);
void		 engine_publish_live(struct engine *);
/* Fill a vmig.v1.Job (heap strings; freed with the response). */
void		 job_to_proto(const struct job *, Vmig__V1__Job *);
void		 job_stats_to_proto(const struct job *, Vmig__V1__JobStats *);
/*
 * Device commands: job_dev_begin() marks the job busy and returns the
 * callback and argument to pass to the backend; the result reaches fn on
 * the loop unless the job's steps were replaced meanwhile (a rollback), in
 * which case it only clears the busy mark and wakes the rollback up.
 * job_dev_submitted() takes the backend's return value: a submission error
 * fails the current step with a message naming the command.
 */
void		 job_dev_begin(struct job *, const char *what, job_dev_fn fn,
		    void (**done)(void *, const struct vmig_result *),
		    void **arg);
int		 job_dev_submitted(struct job *, int rc);
/* A step: wait until no device command is outstanding. */
int		 job_step_wait_device(struct job *);
/* A step: open the job's device handle (both sides start with it). */
int		 job_step_open_device(struct job *);
/* A device command's result that only has to succeed: ends the step. */
void		 job_dev_step_done(struct job *, const struct vmig_result *);
/* A result's error as a sentence: "set mode stop: EINVAL (...)". */
const char	*job_dev_strerror(const struct vmig_result *, char *, size_t);
/*
 * The digest of the job's memory map, made on a worker thread (a whole VM
 * is too long for the loop that serves every other job): fn runs on the
 * loop unless the job's steps were replaced meanwhile (then the result is
 * dropped). Closing the map cancels it.
 */
void		 job_digest_begin(struct job *, job_digest_fn fn);

/*
 * job_out.c. The create functions' err is a sentence that names the
 * device ("device sim0/vf9: ..."), as the backend's own errors they pass
 * on do: the caller sends it as it is.
 */
int		 job_out_create(struct engine *, const char *device,
		    const struct mem_region_spec *, size_t nregions,
		    const char *dest_url, const void *token, size_t tokenlen,
		    const struct job_policy *, const char *vm,
		    struct job **jp, int *code, char *err, size_t errlen);
void		 job_out_start(struct job *);	/* admitted */
void		 job_out_rollback(struct job *);
void		 job_out_free(struct job *);
int		 job_out_switchover(struct job *, char *err, size_t errlen);
void		 job_out_set_policy(struct job *);
void		 job_out_share(struct job *, uint64_t share_bps);
void		 job_out_release(struct job *);
void		 job_out_freeze(struct job *);
/* Resume a pump that waited for other jobs' final pages. */
void		 job_out_kick(struct job *);
/* The per-job window changed (engine->window). */
void		 job_out_window(struct job *);

/* job_in.c */
int		 job_in_create(struct engine *, const char *device,
		    const struct mem_region_spec *, size_t nregions,
		    const struct job_policy *, const char *vm,
		    struct job **jp, int *code, char *err, size_t errlen);
/* Starts device preparation; the RPC reply follows (job->call). */
void		 job_in_prepare(struct job *);
void		 job_in_start(struct job *);	/* admitted */
void		 job_in_rollback(struct job *);
void		 job_in_free(struct job *);
/* For the PrepareIncoming reply once the device is stopped. */
const uint8_t	*job_in_token(const struct job *);
const char	*job_in_url(const struct job *);

#endif /* VMIG_JOB_H */
