/*
 * sched.h: which migrations run, and how the host's stream bandwidth is
 * shared among them. Pure functions over an array of job descriptors the
 * engine fills from its jobs; no I/O, no clocks, no globals. (Ordering of
 * commands on a PF admin queue lives in the backend plugin, not here.)
 *
 * Admission. Queued jobs are taken in order: priority (higher first), then
 * arrival (lower seq first), so equal priorities are FIFO and never starve.
 * A queued job starts if every limit it is subject to has room:
 *
 *	outgoing per host	default 2 (KubeVirt parallelOutboundMigrationsPerNode)
 *	incoming per host	default 4
 *	per PF, both directions	default 4 (at most 4 VFs of one ConnectX-7 PF
 *				migrate at a time; a PF's admin queue and
 *				firmware are shared by both directions)
 *
 * A job held by its PF's limit does not hold back jobs of other PFs (one
 * busy PF must not idle the host), and it cannot starve: only jobs of its
 * own PF compete for that PF's slots and they are behind it in order, so
 * once a slot frees it takes the next host slot before any job behind it.
 *
 * Bandwidth (host limit B, 0 = unlimited). Only running outgoing jobs send.
 * With B = 0 every job is capped by its own limit only. Otherwise, in tiers,
 * each water-filled (max-min fair) and capped by the job's own limit:
 *
 *	1. stop-copy jobs: their need (the guest is paused now)
 *	2. near-switchover jobs: their need (downtime is what guests feel)
 *	3. jobs that asked for more (converge rung 1): their need if available
 *	4. other pre-copy/bulk jobs: a max-min fair share of the rest
 *	5. whatever is left (everyone capped): to jobs still below their limit
 *
 * Before tiers 1-3 take anything, every tier-4 job's floor is set aside:
 * min(B / SCHED_FLOOR_DIV, B / (SCHED_FLOOR_TOTAL_DIV x n)), so bulk jobs
 * together keep at most a quarter of B and each at most 5 %. Why a floor
 * and not zero: a starved job's dirty set keeps growing, its completion
 * timeout keeps running (and KubeVirt cancels after 150 s without
 * progress), so zero would turn one job's switchover into another's
 * failure; why so small: the urgent job still gets >= 75 % of the link.
 * A need of 0 means "unknown": such a job water-fills like a bulk job in
 * its tier (it wants as much as it can get). A share of 0 means unlimited
 * (as in converge_obs.share_bps), so under a host limit a sending job
 * gets at least 1 B/s.
 *
 * Engine use: sched_admit() whenever a job is queued or leaves a slot;
 * sched_shares() after each phase change and each converge decision
 * (state from decision.near_switchover, need_bps and asked from
 * decision.need_bps / REQUEST_BANDWIDTH); the reasons go to
 * GetDaemonStatus (queue, shares) and the job's status.
 */
#ifndef VMIG_SCHED_H
#define VMIG_SCHED_H

#include <stddef.h>
#include <stdint.h>

#define SCHED_DEFAULT_MAX_OUTGOING	2
#define SCHED_DEFAULT_MAX_INCOMING	4
#define SCHED_DEFAULT_MAX_PER_PF	4
#define SCHED_NO_LIMIT			UINT32_MAX
#define SCHED_FLOOR_DIV			20	/* 5 % of B per bulk job */
#define SCHED_FLOOR_TOTAL_DIV		4	/* 25 % of B for all of them */
#define SCHED_REASON_MAX		128

/* Counts of 0 take the defaults above (proto: 0 = unset); SCHED_NO_LIMIT
 * disables a count limit. */
struct sched_limits {
	uint32_t	max_outgoing;
	uint32_t	max_incoming;
	uint32_t	max_per_pf;
	uint64_t	bandwidth_bps;		/* host-wide, 0: unlimited */
};

enum sched_dir {
	SCHED_OUTGOING = 0,
	SCHED_INCOMING,
};

enum sched_state {
	SCHED_QUEUED = 0,	/* waiting for admission */
	SCHED_RUNNING,		/* admitted: setup, pre-copy, resuming */
	SCHED_NEAR_SWITCHOVER,	/* running; converge says near switchover */
	SCHED_STOPCOPY,		/* running; device stopped, final copy */
	SCHED_DONE,		/* finished: counts for nothing */
};

struct sched_job {
	uint64_t	id;
	enum sched_dir	dir;
	enum sched_state state;
	const char	*pf;		/* PF name; NULL or "": no PF limit */
	uint32_t	priority;	/* higher first */
	uint64_t	seq;		/* arrival order, lower first */
	uint64_t	limit_bps;	/* the job's own limit, 0: none */
	uint64_t	need_bps;	/* near switchover / asked: 0 unknown */
	int		asked;		/* converge REQUEST_BANDWIDTH */
};

enum sched_wait {
	SCHED_WAIT_NONE = 0,	/* starts now, or not queued */
	SCHED_WAIT_OUTGOING,	/* host outgoing limit */
	SCHED_WAIT_INCOMING,	/* host incoming limit */
	SCHED_WAIT_PF,		/* its PF's limit */
};

/* One entry per input job, same index. */
struct sched_admit {
	uint64_t	id;
	int		start;		/* queued job may start now */
	enum sched_wait	wait;		/* why it still waits */
	uint32_t	position;	/* 0-based place among the queued */
	char		reason[SCHED_REASON_MAX];
};

enum sched_tier {
	SCHED_TIER_NONE = 0,	/* not sending */
	SCHED_TIER_STOPCOPY,
	SCHED_TIER_NEAR,
	SCHED_TIER_ASKED,
	SCHED_TIER_BULK,
};

/* One entry per input job, same index. */
struct sched_share {
	uint64_t	id;
	int		sending;	/* running outgoing: share applies */
	enum sched_tier	tier;
	uint64_t	share_bps;	/* 0 with sending: unlimited */
	char		reason[SCHED_REASON_MAX];
};

void	 sched_limits_default(struct sched_limits *);

/*
 * Admission: fills out[0..n-1]; *nstart (may be NULL) gets the number of
 * queued jobs that may start now. Returns 0, or -EINVAL (with err) for a
 * descriptor that makes no sense (duplicate id, unknown state).
 */
int	 sched_admit(const struct sched_limits *, const struct sched_job *,
	    size_t n, struct sched_admit *out, size_t *nstart,
	    char *err, size_t errlen);

/*
 * Queue order: fills idx[0..*nq-1] with the indices of the queued jobs in
 * admission order (for GetDaemonStatus .queue). idx has room for n.
 */
void	 sched_queue_order(const struct sched_job *, size_t n, size_t *idx,
	    size_t *nq);

/* Bandwidth shares: fills out[0..n-1]. Returns 0 or -EINVAL as above. */
int	 sched_shares(const struct sched_limits *, const struct sched_job *,
	    size_t n, struct sched_share *out, char *err, size_t errlen);

/*
 * Bytes in flight per sending job: the host's budget split over the jobs
 * that send (so 64 jobs do not queue a gigabyte ahead of one that has just
 * stopped its device), within [job_min, job_max].
 */
uint64_t sched_window(uint64_t host_bytes, size_t nsending, uint64_t job_max,
	    uint64_t job_min);
/*
 * May a job's pump send now? While any job is in stop-copy (its guest is
 * paused) bulk pages wait, so that job's device commands, final pages and
 * state get the link, the CPU and the destination (the stop-copy tier,
 * which also holds when the host has no bandwidth limit to share); a
 * job's own final pages always go.
 */
int	 sched_pump_may_send(unsigned int stopcopy_jobs, int final);

const char *sched_wait_name(enum sched_wait);
const char *sched_tier_name(enum sched_tier);

#endif /* VMIG_SCHED_H */
