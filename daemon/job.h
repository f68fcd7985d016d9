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
 * The engine knows nothing of the control API: calls return 0 or -errno
 * with a sentence, calls that wait (PrepareIncoming's device preparation)
 * complete through the engine_done_fn their caller gave, and what the API
 * shows (GetJob's view, WatchEvents) it learns through the engine_hooks
 * the API layer installs. The two directions are ops tables (struct
 * job_kind): job.c never asks which one a job is.
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
#include "datalink.h"
#include "journal.h"
#include "memory.h"
#include "sched.h"
#include "stream.h"
#include "tbucket.h"
#include "xfer.h"

struct backends;
struct tracker_set;
struct event;
struct event_base;
struct offload;
struct offload_task;
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
	JOB_RESUME = 3,		/* a stopped VF made active again */
};

#define JOB_ERR_MAX		512
#define JOB_DECISIONS_MAX	32	/* kept per job (GetJob) */
#define JOB_TOKEN_LEN		32
#define JOB_FINISHED_MAX	256	/* finished jobs kept for GetJob */
#define ENGINE_TRIM_MS		30000	/* malloc_trim at most this often while jobs run */
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
/*
 * Source, pre-copy and stop-copy: bytes outstanding and no Ack for this
 * long: the link is down or the destination stuck (TCP alone would wait
 * ~15 minutes for a cut link), checked every JOB_ACK_CHECK_MS.
 */
#define JOB_ACK_TIMEOUT_MS	30000
#define JOB_ACK_CHECK_MS	1000
#define JOB_WAIT_TIMEOUT_MS	600000	/* destination: a source connects */
#define JOB_REFUSALS_MAX	8	/* destination: peers without the token */
#define JOB_MEM_REGIONS_MAX	MEM_REGIONS_MAX
#define JOB_COSTS_KEPT		9	/* switchover costs per PF (median) */
#define JOB_OFFLOAD_THREADS	2	/* digests, populating and unmapping,
					   off the loop */
#define JOB_GROUP_MAX		8	/* devices of one VM in one job */

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
	int		baseline_ramp;		/* Nova's ramp (baseline) */
	uint32_t	ramp_delay_ms_per_gib;
	uint32_t	progress_timeout_s;	/* KubeVirt's; 0: none */
	int		compression;	/* vmig.v1.Compression: 0 the daemon's,
					 * else enum cz_mode + 1 */
};

struct job_stats {
	uint64_t	memory_total;		/* kept after the map closes */
	uint64_t	memory_page_size;
	uint64_t	rate_t0_ms;		/* memory_bps window start */
	uint64_t	rate_b0;		/* memory_processed then */
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
	uint64_t	predicted_downtime_ms;	/* at the switchover decision */
	uint64_t	device_load_time_ms;
	uint64_t	bytes_sent;
	uint64_t	downtime_target_ms;
	uint64_t	bandwidth_share_bps;
	uint64_t	hot_pages_deferred;
	uint64_t	queue_time_ms;
	uint64_t	compress_bytes_in;	/* pages compressed: before */
	uint64_t	compress_bytes_out;	/* and after */
};

/* One step of a phase: 0 = started (job_step_done() follows), 1 = done. */
struct job_step {
	const char	*name;
	int		(*run)(struct job *);
};

/*
 * What the API layer learns from the engine (all optional). changed: the
 * job's record changed (its GetJob view is to be published again); phase:
 * it changed phase (after changed); decision, progress: a policy decision
 * and a progress report of a pre-copy round; dropped: the record of a
 * finished job is gone.
 */
struct engine_hooks {
	void	*arg;
	void	(*changed)(void *arg, struct job *);
	void	(*phase)(void *arg, struct job *, enum job_phase prev,
		    const char *why);
	void	(*decision)(void *arg, struct job *,
		    const struct converge_decision *);
	void	(*progress)(void *arg, struct job *);
	void	(*dropped)(void *arg, struct job *);
	/*
	 * A step ran (it may have started a command, ended, or installed
	 * other steps). A tracer; the engine's unit test also fails the job
	 * from here, which is what a step failing at once does.
	 */
	void	(*step)(void *arg, struct job *, const char *name);
	/* A device command completed (the metrics count them). */
	void	(*dev_cmd)(void *arg, const char *pf, const char *what,
		    uint64_t us, int err);
};

/*
 * The crash journal (journal.h) as the engine sees it; main.c sets it,
 * the engine includes nothing of it but the JE_* flags. record: the job's
 * undo flags (job->jflags, already set) are to be kept before the step
 * that follows changes a device or memory; 0, or -errno with a sentence
 * (the step then fails, the device left as it is). ended: the job reached
 * its terminal phase (its history record, its undo record forgotten).
 */
struct engine_journal {
	void	*arg;
	int	(*record)(void *arg, struct job *, char *err, size_t errlen);
	void	(*ended)(void *arg, struct job *);
};

/*
 * An asynchronous call is over: rc 0, or -errno with a sentence naming
 * what failed (-ECANCELED: the job was cancelled).
 */
typedef void	(*engine_done_fn)(void *arg, struct job *, int rc,
		    const char *err);

/*
 * A new migration: PrepareIncoming's or StartMigration's request. A VM's
 * devices move as one job (a group: one memory, one stream, one policy,
 * one downtime): device and the ndevices more in devices[].
 */
struct job_request {
	const char			*device;
	const char			*const *devices;
	size_t				 ndevices;
	const struct mem_region_spec	*regions;
	size_t				 nregions;
	const char			*vm;		/* caller's label */
	/* outgoing only */
	const char			*dest_url;
	const void			*token;
	size_t				 tokenlen;
};

/* One row of a direction's phase table. */
struct job_phase_row {
	uint32_t	 next;		/* phases that may follow (bits) */
	uint32_t	 frames;	/* stream frames accepted (FRAME_KIND_BIT) */
};

/*
 * A direction: its phase table and what the engine asks of it. Optional
 * members may be NULL.
 */
struct job_kind {
	const char	*name;		/* "outgoing", for logs */
	enum job_dir	 dir;
	int		 scheduled;	/* admission applies (sched_dir) */
	enum sched_dir	 sched_dir;
	const struct job_phase_row *phases;	/* JOB_NPHASES rows */
	int		 sends;		/* shares the host's bytes in flight */
	void	(*start)(struct job *);		/* admitted */
	void	(*rollback)(struct job *);	/* run the rollback steps */
	void	(*freeze)(struct job *);	/* the loop is gone */
	void	(*free)(struct job *);
	void	(*set_policy)(struct job *);	/* job->pol changed */
	void	(*share)(struct job *, uint64_t bps);	/* scheduler's share */
	void	(*window)(struct job *);	/* engine->window changed */
	void	(*kick)(struct job *);		/* others' stop-copy ended */
	/* timeout_action FORCE at the deadline: 1 taken, 0 fail the job */
	int	(*deadline)(struct job *);
	int	(*switchover)(struct job *, char *err, size_t errlen);
	/* a finished job that still holds its device (trim keeps it) */
	int	(*holds_device)(const struct job *);
};

extern const struct job_kind job_kind_outgoing;
extern const struct job_kind job_kind_incoming;
extern const struct job_kind job_kind_resume;
extern const struct job_kind job_kind_release;
extern const struct job_kind job_kind_recover;

struct engine {
	struct event_base	*base;
	struct backends		*backends;
	char			*stream_bind;	/* where incoming jobs listen */
	/* [security]: the peer link's TLS files and stream_peer_name */
	char			*tls_ca;
	char			*tls_cert;
	char			*tls_key;
	char			*peer_name;
	unsigned		 data_conns;	/* per job, 0: pages on the stream */
	int			 compression;	/* enum cz_mode (compress.h) */
	int			 prefault;	/* MEM_MAP_PREFAULT every map */
	struct engine_hooks	 hooks;
	struct engine_journal	 journal;
	TAILQ_HEAD(, job)	 jobs;		/* live and kept finished */
	uint64_t		 next_id;
	uint64_t		 next_seq;	/* arrival order */
	unsigned int		 nfinished;
	struct sched_limits	 limits;
	struct event		*ev_sched;	/* reschedule on the next turn */
	struct event		*ev_shed;	/* finished jobs drop their work */
	uint64_t		 trimmed_ms;	/* last malloc_trim (now_ms) */
	int			 sched_pending;	/* a pass was asked for */
	struct sched_admit	*admit;		/* last admission, for status */
	struct sched_share	*shares;
	struct sched_job	*sjobs;
	size_t			 nsched;
	size_t			 capsched;
	int			 shutting_down;	/* no new jobs */
	unsigned int		 stopcopy_jobs;	/* sources between stop and switchover */
	struct offload		*offload;	/* digests, populate, unmap */
	struct tracker_set	*trackers;	/* dirty trackers (tracker.h) */
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

/*
 * One device of a job. Each has the id the API shows for it (GetJob,
 * events; the first is the job's), and what rollback must undo for it.
 */
struct job_dev {
	uint64_t		 id;
	char			 name[64];	/* kept after release */
	struct device		*dev;		/* NULL once released */
	struct tracker_user	*tu;	/* its tracker; NULL: an earlier
					   device of the job shares it */
	int			 mode_changed;	/* we changed its mode */
	int			 quiesced;	/* we quiesced it (P2P) */
	int			 state_written;	/* destination: partial state */
	int			 activated;	/* destination: we resumed it */
	uint64_t		 state_bytes;	/* its state, last known size */
	uint64_t		 state_pending;
	uint64_t		 write_records;
};

struct job_out;		/* job_out.c */
struct vmig_result;
typedef void	(*job_dev_fn)(struct job *, const struct vmig_result *);
/* A memory digest made off the loop: 0 and the digest, or -errno. */
typedef void	(*job_digest_fn)(struct job *, int rc, uint64_t digest);
struct job_in;		/* job_in.c */

struct job {
	TAILQ_ENTRY(job)	 entry;
	struct engine		*eng;
	uint64_t		 id;
	uint64_t		 seq;		/* arrival, for the scheduler */
	const struct job_kind	*kind;
	enum job_dir		 dir;		/* = kind->dir */
	enum job_phase		 phase;
	char			*device_name;
	char			*vm;		/* caller's label */
	char			*peer;		/* stream URL */
	/*
	 * The group's devices; steps that act on each run them one after
	 * the other (job_each_dev), and while they do, cur is the one under
	 * way and dev its registry device (JOB_DEV_CALL's).
	 */
	struct job_dev		 devs[JOB_GROUP_MAX];
	unsigned int		 ndevs;
	unsigned int		 cur;
	int			(*each)(struct job *);	/* job_each_dev's */
	struct device		*dev;
	struct job_policy	 pol;
	struct job_stats	 st;
	struct mem_map		 mem;
	int			 mem_open;
	struct stream		*stream;
	struct dlink		*dlink;		/* data connections (or NULL) */
	struct nng_tls_config	*tls;		/* tls+tcp://: stream and data */
	struct dseal_ctx	*seal;		/* tls+tcp://: sealed data */

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
	int			 shed;		/* finished: its kind's state freed */
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
	struct {
		struct offload_task *task;	/* NULL: done or none */
		uint32_t	 region;	/* cursor, mem_populate_step() */
		uint64_t	 off;
		int		 rc;
		uint64_t	 start_us;
	}			 populate;
	const char		*timer_fail;	/* timer = timeout with this */
	int			 failing;	/* rollback under way */
	int			 cancel_req;	/* rollback ends in CANCELLED */
	struct event		*ev_timer;	/* the step's timeout / delay */
	struct event		*ev_kick;	/* run the step machine next turn */
	struct event		*ev_deadline;	/* completion timeout */

	char			 error[JOB_ERR_MAX];
	uint32_t		 jflags;	/* journal.h JE_*: what a restart
						   would have to undo */
	int			 verified;
	uint32_t		 dev_mode;	/* enum vmig_mode, as last read */

	struct converge_decision decisions[JOB_DECISIONS_MAX];	/* a ring */
	unsigned int		 ndecisions;	/* total made */

	/* the scheduler's view */
	enum sched_state	 sstate;
	uint64_t		 need_bps;
	int			 asked_bw;
	uint64_t		 share_bps;
	char			 wait_reason[SCHED_REASON_MAX];

	/* an asynchronous call waits for this job (PrepareIncoming) */
	engine_done_fn		 done;
	void			*done_arg;

	struct job_out		*out;
	struct job_in		*in;
	struct tracker_user	*rs_tracker;	/* job_resume.c */
	unsigned int		 rs_what;	/* a recovery's ER_* */
};

/* job.c: the engine (main.c owns it; api_job.c calls it) */
struct engine	*engine_new(struct event_base *, struct backends *);
void		 engine_free(struct engine *);
int		 engine_trim_due(unsigned int active, uint64_t now, uint64_t last);
void		 engine_set_hooks(struct engine *, const struct engine_hooks *);
void		 engine_set_journal(struct engine *,
		    const struct engine_journal *);
/* Job ids start at id or above (those of a previous run are taken). */
void		 engine_set_first_id(struct engine *, uint64_t id);
void		 engine_set_stream_bind(struct engine *, const char *url);
/*
 * The peer link's TLS ([security] tls_ca_file, tls_cert_file,
 * tls_key_file, stream_peer_name): read when a job starts, so a reload
 * reaches the next job.
 */
void		 engine_set_peer_tls(struct engine *, const char *ca,
		    const char *cert, const char *key, const char *peer_name);
/*
 * job->tls for a tls+tcp:// url (nothing for another scheme): a
 * listener's (this host's certificate; the peer's required, chaining to
 * the CA) or a dialer's (the same, and the destination's certificate
 * must carry stream_peer_name or the URL's host: to name, if not NULL).
 * The stream and the data connections share it. 0 or -errno with err
 * naming the key.
 */
int		 job_peer_tls(struct job *, const char *url, int dialer,
		    char *name, size_t namelen, char *err, size_t errlen);
/*
 * Data connections per job (datalink.h; 0: page batches go on the
 * control stream): the source dials as many as both sides allow, the
 * destination offers this many.
 */
void		 engine_set_data_conns(struct engine *, unsigned n);
void		 engine_set_compression(struct engine *, int mode);
/* Bytes on the wire so far: the stream's and the data connections'. */
uint64_t	 job_wire_bytes(const struct job *);
/* Touch every page of a job's memory when it is mapped (memory.h). */
void		 engine_set_prefault(struct engine *, int on);
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

/*
 * The calls. Each returns 0, or -errno with a sentence in err naming the
 * object (no job is left behind then).
 *
 * engine_prepare_incoming: the destination job, whose device preparation
 * runs on the loop; done(arg, job, rc, err) follows once (0: the job
 * WAITs, job_in_token()/job_in_url() say what to give the source). The
 * caller may forget done with job_forget_done() (its call went away).
 * engine_start_migration: the source job, QUEUED.
 * engine_release_device: a completed source's VF, freed.
 */
int		 engine_prepare_incoming(struct engine *,
		    const struct job_request *, const struct job_policy *,
		    engine_done_fn done, void *arg, struct job **jp,
		    char *err, size_t errlen);
int		 engine_start_migration(struct engine *,
		    const struct job_request *, const struct job_policy *,
		    struct job **jp, char *err, size_t errlen);
/*
 * ReleaseDevice, each a job of its own (job_resume.c); done follows (0:
 * job_device_mode is its mode now). Release: a completed source's VF,
 * freed by its job and set stopped. Resume: a VF no job holds, left
 * stopped or frozen by a daemon killed mid-migration, made active again.
 */
int		 engine_release_device(struct engine *, struct device *,
		    engine_done_fn done, void *arg, struct job **jp,
		    char *err, size_t errlen);
int		 engine_resume_device(struct engine *, struct device *,
		    engine_done_fn done, void *arg, struct job **jp,
		    char *err, size_t errlen);
/*
 * A VF a dead vmigd left in the middle of a job, set right at start-up
 * (main.c applies recover.c's plan): a job of its own (job_resume.c)
 * doing what the flags say, in this order, then freeing the device; done
 * follows (0: job_device_mode is its mode now). ER_QUERY alone only reads
 * the mode.
 */
#define ER_STOP_RECORDING	0x01	/* best effort */
#define ER_DISCARD		0x02	/* a partial state, best effort */
#define ER_ACTIVE		0x04	/* set active */
#define ER_STOPPED		0x08	/* set stopped */
#define ER_QUERY		0x10	/* read the mode (always done last) */
int		 engine_recover_device(struct engine *, struct device *,
		    unsigned int what, engine_done_fn done, void *arg,
		    struct job **jp, char *err, size_t errlen);
void		 job_forget_done(struct job *);
/* The device's mode as the job last read it (enum vmig_mode). */
uint32_t	 job_device_mode(const struct job *);
/* SetJobPolicy: the new policy applies from now (deadline re-armed). */
int		 job_set_policy(struct job *, const struct job_policy *,
		    char *err, size_t errlen);
/* Switchover (manual switchover): -EINVAL/-EBUSY with err. */
int		 job_switchover(struct job *, char *err, size_t errlen);
/* CancelJob: -EALREADY (ended), -EBUSY (resuming: too late), with err. */
int		 job_cancel_request(struct job *, const char *reason, char *err,
		    size_t errlen);

struct job	*job_new(struct engine *, const struct job_kind *,
		    const char *device);
struct job	*job_find(struct engine *, uint64_t id);
/* Drop a job that never started (a refused request): no record kept. */
void		 job_discard(struct job *);
const char	*job_phase_name(enum job_phase);
int		 job_phase_terminal(enum job_phase);
/* The one place a phase changes: checked against the kind's table, logged,
 * told to the hooks. */
void		 job_set_phase(struct job *, enum job_phase, const char *why);
/*
 * The kind's frames column: 0 if the current phase accepts the frame,
 * else -EPROTO with "unexpected <kind> frame in <phase>".
 */
int		 job_frame_expected(const struct job *, const struct frame *,
		    char *err, size_t errlen);
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
/* The waiting call, if any, is answered (0: success; else the job's error). */
void		 job_call_done(struct job *, int rc);
/* Arm the step timer (delay or timeout) / the deadline. */
void		 job_timer(struct job *, uint64_t ms);
void		 job_timer_stop(struct job *);
/* The completion deadline counts from now (admission). */
void		 job_arm_deadline(struct job *);
/*
 * A step: add set to the job's undo flags and journal them before what
 * follows (1: go on; 0: the journal failed and so did the step). A
 * JE_SWITCHED record that fails is only logged: the migration happened.
 */
int		 job_journal(struct job *, uint32_t set);
/* After rollback: the terminal phase; frees resources, keeps the record. */
void		 job_finish(struct job *, enum job_phase);
/* A policy decision: kept in the job, told to the hooks. */
void		 job_record_decision(struct job *,
		    const struct converge_decision *);
void		 job_publish_progress(struct job *);
/* The job's record changed: the hooks republish it. */
void		 job_changed(struct job *);
/* Memory opened: its size is kept in the statistics from now on. */
void		 job_memory_opened(struct job *);
/*
 * Pages moved (sent or applied): payload bytes, pages, of which zero
 * pages; memory_processed and the memory_bps window follow.
 */
void		 job_account_pages(struct job *, uint64_t bytes,
		    uint64_t pages, uint64_t zero_pages);
/* Close the memory_bps window if it is due (before the job is shown). */
void		 job_rate_tick(struct job *);
/*
 * Device commands, the one way: JOB_DEV_CALL(job, what, fn, method, args)
 * calls the backend's method on the job's device with args, marking the
 * job busy; the result reaches fn on the loop unless the job's steps were
 * replaced meanwhile (a rollback), in which case it only clears the busy
 * mark and wakes the rollback up. A submission error fails the current
 * step ("device D: what: reason"). It evaluates to 0, so a step that
 * starts a command ends with `return (JOB_DEV_CALL(...))`. JOB_DEV_TRY is
 * the rollback's: a submission error is only logged; 0 if submitted (fn
 * follows), 1 if not. In fn, job_dev_failed() fails the step on an error
 * result, naming `what`, and returns 1.
 */
#define JOB_DEV_CALL(job, what, fn, method, ...)			\
	(job_dev_begin((job), (what), (fn)),				\
	job_dev_submitted((job), backend_dev_ops((job)->dev)->method(	\
	    (job)->dev->handle, ##__VA_ARGS__, job_dev_done, (job))), 0)
#define JOB_DEV_TRY(job, what, fn, method, ...)				\
	(job_dev_begin((job), (what), (fn)),				\
	job_dev_untried((job), backend_dev_ops((job)->dev)->method(	\
	    (job)->dev->handle, ##__VA_ARGS__, job_dev_done, (job))))
/* The same for a tracker call (tracker.h): call(user, args..., done, arg). */
#define JOB_TRK_CALL(job, what, fn, call, user, ...)			\
	(job_dev_begin((job), (what), (fn)),				\
	job_dev_submitted((job), call((user), ##__VA_ARGS__, job_dev_done,	\
	    (job))), 0)
#define JOB_TRK_TRY(job, what, fn, call, user, ...)			\
	(job_dev_begin((job), (what), (fn)),				\
	job_dev_untried((job), call((user), ##__VA_ARGS__, job_dev_done,	\
	    (job))))
void		 job_dev_begin(struct job *, const char *what, job_dev_fn fn);
void		 job_dev_done(void *, const struct vmig_result *);
int		 job_dev_submitted(struct job *, int rc);
int		 job_dev_untried(struct job *, int rc);
int		 job_dev_failed(struct job *, const struct vmig_result *);
/*
 * Tell the peer why the job ends: an Abort frame with a code
 * (stream.proto Abort.Code) and the reason; 0 or the stream's -errno.
 * A rollback's code: cancelled, or the device's.
 */
int		 job_send_abort(struct job *, int code, const char *reason);
int		 job_rollback_abort_code(const struct job *);
/*
 * The device command in flight (started outside the steps, e.g. the
 * destination loading a state stream while frames arrive) belongs to the
 * steps just installed: its result reaches its fn, not the stale path.
 */
void		 job_dev_adopt(struct job *);
/* A step: wait until no device command is outstanding. */
int		 job_step_wait_device(struct job *);
/* A step: open the job's devices' handles (both sides start with it). */
int		 job_step_open_device(struct job *);
/*
 * A step that acts on each device in turn: one(job) runs with cur and dev
 * set to the next device; it returns 1 when it is done with that one at
 * once, 0 when it started a command (whose callback ends the device's
 * turn with job_dev_next()). The step ends after the last device.
 */
int		 job_each_dev(struct job *, int (*one)(struct job *));
void		 job_dev_next(struct job *);
/* The device under way (job_each_dev). */
#define JD(job)		(&(job)->devs[(job)->cur])
void		 job_set_cur(struct job *, unsigned int);
/* The job's device slot with this API id, or NULL. */
struct job_dev	*job_dev_by_id(struct job *, uint64_t id);
/* Release every device the job still holds. */
void		 job_release_devices(struct job *);
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
/* Claim the request's device and map its memory (flags: memory.h). */
int		 job_claim(struct job *, const struct job_request *, int flags,
		    char *err, size_t errlen);

/* job_out.c */
int		 job_out_create(struct engine *, const struct job_request *,
		    const struct job_policy *, struct job **jp, char *err,
		    size_t errlen);
/* A completed source's VF (one of its group), freed (ReleaseDevice). */
void		 job_out_release(struct job *, struct device *);

/* job_in.c */
int		 job_in_create(struct engine *, const struct job_request *,
		    const struct job_policy *, struct job **jp, char *err,
		    size_t errlen);
/* Starts device preparation; the done callback follows. */
void		 job_in_prepare(struct job *);
/* For the PrepareIncoming reply once the device is stopped. */
const uint8_t	*job_in_token(const struct job *);
size_t		 job_in_token_len(const struct job *);
const char	*job_in_url(const struct job *);

#endif /* VMIG_JOB_H */
