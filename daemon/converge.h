/*
 * converge.h: when to stop pre-copy. Pure policy: numbers in, one decision
 * out; no I/O, no clocks (time is an input), no globals. The engine owns a
 * struct converge per outgoing job and calls converge_decide() once per
 * pre-copy iteration; a recorded sequence of observations replays to the
 * same decisions.
 *
 * The engine's loop on the source (the order the fields below assume):
 *
 *	bulk copy (optional), then per iteration i = 1, 2, ...:
 *		send the dirty set (minus hot pages while defer_hot is set)
 *		read write records (OR into the dirty bitmaps)  -> obs
 *		d = converge_decide(c, &obs)
 *		ITERATE / REQUEST_BANDWIDTH / DEFER_HOT / RAMP_DOWNTIME:
 *			wait d.delay_ms (rewrites coalesce), read again, loop
 *		SWITCHOVER / FORCE_SWITCHOVER: stop, final read, send the
 *			remaining pages (hot ones too) and the device state
 *		ABORT: roll back with d.reason
 *
 * Two policies behind the same call, chosen per job (MigrationPolicy
 * .convergence), so both run on the same workload:
 *
 * ADAPTIVE predicts the downtime of switching over now as
 *
 *	cost + (remaining + deferred + state + unseen) / bandwidth
 *
 *   cost	 stop + final state read + destination state write + resume,
 *		 measured (obs.switch_cost_ms) or, before any measurement,
 *		 CONVERGE_COST_FIXED_MS + state / CONVERGE_LOAD_BPS: the
 *		 mlx5 figure (300 MB of state, 1480 ms of destination load,
 *		 about 200 MB/s) that QEMU's estimate leaves out.
 *   unseen	 pages the device dirties between the last read and the
 *		 stop: the fitted growth curve D(t) = a t^k of distinct pages
 *		 per read interval (least squares in log-log over the last
 *		 CONVERGE_HIST reads, used only when the intervals differ by
 *		 1.5x and R^2 >= 0.6), at t = read age +
 *		 CONVERGE_STOP_WINDOW_MS (the dirty-rate EWMA times t while no
 *		 curve fits), minus the share of it that rewrites pages
 *		 already in the known set (the hot fraction of the last read).
 *   bandwidth	 min(EWMA, last sample, share, the job's own limit), from
 *		 sends of >= 10 ms or 1 MiB (shorter ones accumulate: they
 *		 measure latency): a collapse shows at once,
 *		 a recovery only as it is confirmed. No measurement means no
 *		 prediction: it never switches over on no data (unless there
 *		 is nothing at all to move). A round starved of CPU (the
 *		 daemon's loop waited for a CPU for CONVERGE_STARVED_PCT of
 *		 it or more: obs.starved_pct) says nothing about the link:
 *		 its sample, if below the estimate, is set aside; only when
 *		 CONVERGE_STARVED_ROUNDS rounds in a row are starved (the
 *		 host stays busy, and that is the rate a switchover would
 *		 get) does it count, and then only through the EWMA, never as
 *		 the "collapse" last sample. A busy host so slows the
 *		 estimate by at most alpha per round; a slow link (rounds not
 *		 starved) still shows at once. (One starved round's 20 KiB/s
 *		 sample once predicted 130 s and aborted a demo VF.)
 *
 * and climbs an escalation ladder only when progress stalls:
 *
 *   stall	bytes to move at switchover (remaining + deferred + unseen
 *		+ state, so a shrinking VFIO pre-copy state is progress) at
 *		iteration boundaries stay within CONVERGE_STALL_MARGIN_PCT (4 %,
 *		KubeVirt's) of their best value for a window of at least
 *		CONVERGE_STALL_MIN_ITERS iterations and
 *		clamp(bulk time, 500 ms, 40 s) where bulk time = memory
 *		total / bandwidth: KubeVirt's 40 s is sized for GiBs of RAM at
 *		400 ms polls; a 128 MiB VF at 1 GB/s must decide within a
 *		second or so, and 5 iterations let an alpha=0.4 EWMA settle
 *		(1 - 0.6^5 = 92 %). (Twice the bulk time, the first choice,
 *		let a 128 MiB VF on a 64 MiB/s link climb only two of the
 *		seven ramp steps before a 25 s timeout: bench/converge.py.)
 *		Progress too slow to matter is a stall too: over such a
 *		window the prediction came down by less than it is still
 *		over the target (slow steady progress keeps restarting the
 *		4 % window; a 50 % hot set at 120 % of the link once sat at
 *		331 ms against 300 for 13 s while QEMU's rule with Nova's
 *		clock ramp switched at 5 s).
 *		Once half of the completion timeout is gone with the
 *		prediction still over a target that can still be ramped, every
 *		iteration counts as stalled: slow but steady progress restarts
 *		the window, so only the clock can make it ramp in time. A dirty rate at or above the bandwidth for
 *		CONVERGE_FAST_STALL_ITERS iterations in a row is a stall at
 *		once (iterating cannot converge), and so is a floor (cost +
 *		state + deferred + unseen: what no round reduces) above the
 *		target, not shrinking, for as many iterations and
 *		CONVERGE_STALL_MIN_MS (a VFIO pre-copy state may still shrink).
 *		Each escalation restarts the window, so the next rung is taken
 *		only if this one did not help.
 *   rung 1	REQUEST_BANDWIDTH: need_bps for the scheduler, once, if the
 *		share is below it and the job's own limit allows more.
 *   rung 2	DEFER_HOT, once, if hot pages (dirty in two reads in a row)
 *		are at least CONVERGE_HOT_MIN_PCT of a read: stop resending
 *		them every round; they count in the prediction.
 *   rung 3	RAMP_DOWNTIME: the target rises linearly in
 *		CONVERGE_RAMP_STEPS (7, KubeVirt's) steps from max_downtime to
 *		downtime_ceiling, not before iteration CONVERGE_RAMP_FIRST_ITER
 *		(3, KubeVirt's), one step per stall window; steps below the
 *		floor (what no round reduces: cost, state, deferred pages) are
 *		skipped, since waiting through them cannot help. Stall-driven
 *		rather than by wall clock (Nova: 75 s/GiB, KubeVirt: 10 s) so
 *		that a migration that still makes progress keeps its low
 *		target and one that stalls reaches the ceiling in at most 7
 *		short windows (about 3.5 s for a 128 MiB VF), not minutes.
 *   rung 4	at the completion timeout, at max_iterations, or on a stall
 *		with nothing left to try: FORCE_SWITCHOVER if timeout_action
 *		allows it and the prediction is within forced_downtime_ms
 *		(0: 2 x ceiling), preferring a local minimum of remaining bytes
 *		(waits at most CONVERGE_FORCE_GRACE_ITERS iterations for one);
 *		otherwise ABORT with the reason.
 *
 *   delay	iterate at once while rounds can still get under the target
 *		(the floor, cost + state + deferred + unseen, is below it):
 *		waiting only grows the next set. When the floor is above the
 *		target, rounds merely keep the set fresh until the ladder acts:
 *		then, unless the dirty set is known to grow linearly with the
 *		read interval (k >= CONVERGE_LINEAR_K, a stream: each page is
 *		sent once however long we wait, and the final set would grow),
 *		wait so the next read interval reaches the target (at most
 *		CONVERGE_MAX_DELAY_MS and a tenth of the time left): with a
 *		sub-linear curve (a hot set rewritten) rewrites coalesce
 *		instead of being resent every round. A round with nothing to
 *		send waits min(CONVERGE_IDLE_DELAY_MS, target / 2) instead of
 *		spinning on the write log (20 reads a second see new writes
 *		in time).
 *
 * BASELINE is QEMU's rule (migration_iteration_run): switch over when
 * pending < bandwidth of the last iteration (no smoothing) x target,
 * or pending == 0; pending includes the device state (QEMU adds the VFIO
 * stop-copy size). No load-time term, no unseen dirtying, no hot-set
 * deferral, no stall detection, no delay. It obeys the completion
 * timeout and max_iterations like ADAPTIVE (force or abort). Bare, its
 * target stays at max_downtime. Nobody runs it bare, so two options make
 * it what operators run (the fair baseline of bench/converge.py):
 *
 *   baseline_ramp	Nova's downtime ramp (migration.downtime_steps): the
 *			target rises by wall clock, not by stall, in
 *			CONVERGE_RAMP_STEPS linear steps from max_downtime to
 *			downtime_ceiling (the adaptive policy's steps and
 *			ceiling), step i at i x delay, delay = ramp_delay_ms
 *			_per_gib x the data size (memory total + device state;
 *			Nova: live_migration_downtime_delay, 75 s/GiB; Nova
 *			also rounds the data up to 2 GiB, left out here).
 *   progress_timeout_s	KubeVirt's progressTimeout (either policy): abort
 *			when the bytes to move at switchover have made no new
 *			low for that long (its progressWatermark), whatever
 *			timeout_action says.
 *
 * EWMA weights: bandwidth alpha 0.4 (KubeVirt's stall detector); dirty
 * rate alpha 0.5, and the prediction uses max(EWMA, last sample): a burst
 * counts at once and decays by half per quiet read.
 *
 * For the scheduler (sched.h): a decision's near_switchover (predicted
 * downtime <= 2 x target) maps to SCHED_NEAR_SWITCHOVER with need_bps;
 * REQUEST_BANDWIDTH sets sched_job.asked with need_bps.
 */
#ifndef VMIG_CONVERGE_H
#define VMIG_CONVERGE_H

#include <stddef.h>
#include <stdint.h>

#define CONVERGE_DEFAULT_DOWNTIME_MS	300	/* QEMU's downtime-limit */
#define CONVERGE_BW_ALPHA		0.4
#define CONVERGE_DIRTY_ALPHA		0.5
#define CONVERGE_MIN_SAMPLE_US		10000	/* shorter sends accumulate */
#define CONVERGE_MIN_SAMPLE_BYTES	(1024 * 1024)
#define CONVERGE_COST_FIXED_MS		20	/* default stop + resume */
#define CONVERGE_LOAD_BPS		200000000ULL /* default state load */
#define CONVERGE_STOP_WINDOW_MS		10	/* decision -> device stopped */
#define CONVERGE_STALL_MARGIN_PCT	4
#define CONVERGE_STALL_MIN_ITERS	5
#define CONVERGE_STALL_MIN_MS		500
#define CONVERGE_STALL_MAX_MS		40000
#define CONVERGE_FAST_STALL_ITERS	3
#define CONVERGE_HOT_MIN_PCT		10
#define CONVERGE_RAMP_STEPS		7
#define CONVERGE_RAMP_FIRST_ITER	3
#define CONVERGE_FORCE_GRACE_ITERS	3
#define CONVERGE_LINEAR_K		0.85
#define CONVERGE_FIT_MIN_R2		0.6	/* else the curve is not used */
#define CONVERGE_MAX_DELAY_MS		1000
#define CONVERGE_IDLE_DELAY_MS		50	/* nothing to send: don't spin */
#define CONVERGE_HIST			8	/* reads kept for the growth fit */
#define CONVERGE_REASON_MAX		512
#define CONVERGE_STARVED_PCT		25	/* of a round waiting for CPU */
#define CONVERGE_STARVED_ROUNDS		3	/* in a row: the host is busy */
#define CONVERGE_NOVA_DELAY_MS_PER_GIB	75000	/* live_migration_downtime_delay */

enum converge_kind {
	CONVERGE_KIND_ADAPTIVE = 0,	/* = CONVERGE_ADAPTIVE in vmig.proto */
	CONVERGE_KIND_BASELINE = 1,	/* = CONVERGE_BASELINE */
};

enum converge_action {
	CONVERGE_ITERATE = 0,		/* another round after delay_ms */
	CONVERGE_SWITCHOVER,		/* predicted downtime <= target */
	CONVERGE_REQUEST_BANDWIDTH,	/* iterate; ask the scheduler for need_bps */
	CONVERGE_DEFER_HOT,		/* iterate; skip hot pages from now on */
	CONVERGE_RAMP_DOWNTIME,		/* iterate; target_ms was raised */
	CONVERGE_FORCE_SWITCHOVER,	/* bounded forced stop-and-copy */
	CONVERGE_ABORT,			/* give up: reason says why */
};

/* The job's MigrationPolicy, proto defaults not yet applied (0 = default). */
struct converge_policy {
	enum converge_kind kind;
	uint32_t	max_downtime_ms;	/* 0: 300 */
	uint32_t	downtime_ceiling_ms;	/* 0: no ramp */
	uint32_t	completion_timeout_s;	/* 0: none */
	int		timeout_force;		/* TIMEOUT_FORCE_SWITCHOVER */
	uint32_t	forced_downtime_ms;	/* 0: 2 x ceiling */
	uint32_t	max_iterations;		/* 0: no limit */
	uint64_t	bandwidth_limit_bps;	/* job's own limit, 0: none */
	int		baseline_ramp;		/* BASELINE: Nova's time ramp */
	uint32_t	ramp_delay_ms_per_gib;	/* 0: Nova's 75000 */
	uint32_t	progress_timeout_s;	/* 0: none (KubeVirt: 150) */
};

/* converge_obs.untracked: why iterating gains nothing. */
#define CONVERGE_NO_TRACKER	1	/* a device has no dirty tracker */
#define CONVERGE_ALL_DIRTY	2	/* its tracker reports every page */

/* What the engine saw in the iteration that just ended. */
struct converge_obs {
	uint32_t	iteration;	/* 1 = first decision (after bulk copy) */
	uint64_t	now_ms;		/* since job start */
	uint64_t	iter_ms;	/* duration of the iteration just ended */

	/* The write-record read just done (all since the previous read). */
	uint64_t	read_interval_ms; /* since the previous read (0: first) */
	uint64_t	read_age_ms;	/* since this read (0: read, then decide) */
	uint64_t	written_bytes;	/* bytes the device reported (unused:
					   partial-page writes blur it) */
	uint64_t	new_pages;	/* distinct pages dirtied in the interval */
	uint64_t	records;	/* write records read */
	uint64_t	hot_pages;	/* dirty in this read and the previous one */
	/*
	 * The device's record buffer overflowed: every page was marked
	 * dirty, so new_pages says nothing about the device, nor do records
	 * (repeats included: a flood of a 4 MiB window fills 65536 of them).
	 * The read gives no dirty-rate sample and stays out of the growth
	 * fit and the hot share; the estimate is the previous reads'.
	 */
	int		overflow;

	/* The dirty set after the read. */
	uint64_t	dirty_pages;	/* to send in the next round */
	uint64_t	deferred_pages;	/* hot pages held back for stop-copy */
	/*
	 * Bytes the dirty and deferred pages cost on the wire, byte-exact
	 * deltas counted as such (out_delta.c); 0: whole pages. The policy
	 * counts bytes to send, not pages: see converge_wire_frac().
	 */
	uint64_t	dirty_wire_bytes;
	uint32_t	page_size;	/* 0: 4096 */
	uint64_t	total_bytes;	/* memory total (regions) */

	/* The send of the iteration just ended. */
	uint64_t	sent_bytes;
	uint64_t	send_us;	/* 0: nothing was sent (no sample) */
	uint64_t	share_bps;	/* scheduler's share, 0: unlimited */
	/*
	 * Share (percent) of the time since the previous decision the
	 * daemon's loop was runnable but waited for a CPU (0: not starved or
	 * not known): a busy host, not a slow link.
	 */
	uint32_t	starved_pct;

	/* Device. */
	uint64_t	state_bytes;	/* pending state at stop-copy */
	uint64_t	switch_cost_ms;	/* stop+read+load+resume, see below */
	int		switch_cost_measured; /* 0: an estimate or 0 (default) */

	/*
	 * The engine's completion deadline has passed (timeout_action
	 * FORCE_SWITCHOVER cut the round short): force or abort now, no
	 * grace iterations.
	 */
	int		deadline;
	/*
	 * The device has no dirty tracker (backend ABI 2 scope NONE,
	 * CONVERGE_NO_TRACKER) or one that reports every mapped page dirty
	 * at every read (a type1 container whose devices do not pin,
	 * CONVERGE_ALL_DIRTY): every mapped page is dirty again after every
	 * round, so iterating gains nothing: switch over if the ceiling
	 * allows, else force or abort. 0: tracked.
	 */
	int		untracked;
};

/* One decision with the numbers that led to it (vmig.proto Decision). */
struct converge_decision {
	enum converge_action action;
	uint32_t	iteration;
	uint64_t	at_ms;
	uint64_t	delay_ms;		/* iterating: wait before the read */
	uint64_t	need_bps;		/* bandwidth that would meet target */
	int		defer_hot;		/* sticky: skip hot pages in pre-copy */
	int		near_switchover;	/* for the scheduler */
	uint64_t	predicted_downtime_ms;	/* UINT64_MAX: cannot predict */
	uint64_t	dirty_rate_bps;
	uint64_t	bandwidth_bps;
	uint64_t	remaining_bytes;	/* to move at switchover, w/o state */
	uint32_t	target_ms;		/* current target (after ramps) */
	uint32_t	forced_bound_ms;
	char		reason[CONVERGE_REASON_MAX];
};

/*
 * Per-job state. Callers embed it and treat the fields as private: they
 * are here so it needs no allocation and tests can build one on the stack.
 */
struct converge {
	struct converge_policy pol;	/* defaults applied */
	uint32_t	target_ms;
	uint32_t	ceiling_ms;
	uint32_t	forced_ms;
	uint32_t	ramp_step;
	int		asked_bw;
	int		defer_hot;

	/* Bandwidth, bytes per ms. */
	double		bw_ewma;
	double		bw_last;
	int		have_bw;
	uint64_t	acc_bytes;	/* short sends, accumulated */
	uint64_t	acc_us;
	uint32_t	starved_run;	/* starved rounds in a row */
	double		starved_sample;	/* set aside this decision; 0: none */
	double		last_bw_raw;	/* baseline: last iteration as is */

	/* Dirty rate, bytes per ms. */
	double		dirty_ewma;
	double		dirty_last;
	int		have_dirty;
	uint64_t	dacc_bytes;
	uint64_t	dacc_ms;

	/* Growth fit: distinct pages per read interval. */
	double		hist_t[CONVERGE_HIST];
	double		hist_p[CONVERGE_HIST];
	unsigned int	nhist;
	unsigned int	hist_next;
	int		growth_known;
	double		growth_k;
	double		growth_a;
	double		hot_frac;	/* of the last read */

	/* Stall detection (adaptive). */
	uint64_t	best_bytes;
	uint64_t	win_start_ms;
	uint32_t	win_start_iter;
	uint32_t	fast_stall;
	uint64_t	gap_pred;	/* too slow: prediction at start, 0: off */
	uint64_t	gap_start_ms;
	uint32_t	gap_start_iter;
	uint32_t	floor_high;	/* decisions with floor > target */
	uint64_t	floor_high_since;
	uint64_t	floor_best;
	int		stalled;

	/* Terminal (timeout / limit / exhausted): waiting for a minimum. */
	int		terminal;
	uint32_t	terminal_iter;
	char		terminal_why[96];
	uint64_t	prev_bytes[3];	/* recent remaining bytes, newest first */
	unsigned int	nprev;

	/* Progress timeout: the lowest bytes to move seen, and when. */
	uint64_t	progress_low;
	uint64_t	progress_at_ms;

	uint32_t	decisions;
	struct converge_decision last;
};

void	 converge_init(struct converge *, const struct converge_policy *);
/* SetJobPolicy mid-job: new limits, keeps measurements and ramp progress. */
void	 converge_set_policy(struct converge *, const struct converge_policy *);
/* One decision per iteration; *d is fully written. Returns d->action. */
enum converge_action converge_decide(struct converge *,
	    const struct converge_obs *, struct converge_decision *d);

/*
 * Write records are drained this often during long sends (a device's
 * record buffer is finite: one that overflows makes every page resent);
 * the interval halves on each overflow, down to CONVERGE_DRAIN_MIN_MS.
 */
#define CONVERGE_DRAIN_MS		200
#define CONVERGE_DRAIN_MIN_MS		10
/* Switchover-ready (manual): rounds keep the dirty set small meanwhile. */
#define CONVERGE_READY_DELAY_MS		200

/* The drain interval after a read that did (or did not) overflow. */
uint64_t converge_drain_interval(uint64_t cur_ms, int overflow);
/*
 * The share of whole-page bytes the known dirty set costs on the wire
 * (dirty_wire_bytes over dirty + deferred pages), in (0, 1]; 1 without
 * deltas. The prediction scales the remaining, deferred and unseen bytes
 * by it: pages the device dirties keep the pattern of those it dirtied.
 */
double	 converge_wire_frac(const struct converge_obs *);
/*
 * The delay before the next round: the decision's, but no longer than the
 * drain interval once the device has overflowed (its buffer fills within
 * it), and at least CONVERGE_READY_DELAY_MS while waiting for a manual
 * switchover (no point re-reading a log nobody acts on).
 */
uint64_t converge_round_delay(uint64_t decided_ms, uint64_t drain_ms,
	    int ready_waiting);

/*
 * The baseline ramp's step delay for data_bytes (Nova: delay per GiB x
 * GiB), at least 1 ms; per_gib_ms 0 means Nova's default.
 */
uint64_t converge_ramp_delay_ms(uint64_t data_bytes, uint32_t per_gib_ms);

const char *converge_action_name(enum converge_action);	/* "iterate", ... */
const char *converge_kind_name(enum converge_kind);	/* "adaptive", ... */
/* Non-zero for actions after which the engine runs another round. */
int	 converge_action_iterates(enum converge_action);
/* Non-zero for SWITCHOVER and FORCE_SWITCHOVER. */
int	 converge_action_switches(enum converge_action);

#endif /* VMIG_CONVERGE_H */
