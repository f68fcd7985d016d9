/*
 * test_converge.c: table tests for daemon/converge.c. Each case is a policy
 * and a sequence of observations (rows, a row may repeat) with the decision
 * expected after each; the walker builds the observations (iteration and
 * time advance by themselves), prints what each row checks, and fails on
 * the first decision that differs, showing the policy's own reason.
 */
#include <criterion/criterion.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "converge.h"
#include "leakcheck.h"

#define KiB	1024ULL
#define MiB	(1024ULL * 1024)
#define PG	4096ULL
#define MIBPS	(1024ULL * 1024)	/* 1 MiB/s in bytes per second */

/* Extra checks a row may ask for. */
#define X_DELAY		0x01	/* delay_ms > 0 */
#define X_NODELAY	0x02	/* delay_ms == 0 */
#define X_UNKNOWN	0x04	/* predicted downtime cannot be known */
#define X_KNOWN		0x08	/* ... can */
#define X_DEFER		0x10	/* defer_hot set */
#define X_NEAR		0x20	/* near_switchover */
#define X_NEED		0x40	/* need_bps > share */

struct row {
	const char	*what;
	int		 repeat;	/* 0: once */
	uint64_t	 iter_ms;	/* also the read interval */
	uint64_t	 new_pages;
	uint64_t	 hot_pages;
	uint64_t	 dirty_pages;
	uint64_t	 deferred_pages;
	uint64_t	 written_bytes;
	uint64_t	 sent_bytes;
	uint64_t	 send_ms;
	uint64_t	 share_bps;
	uint64_t	 state_bytes;
	uint64_t	 cost_ms;	/* 0: let the policy estimate */
	int		 deadline;	/* the engine's deadline passed */
	uint32_t	 starved;	/* starved_pct */
	int		 overflow;	/* the read lost records */
	uint64_t	 records;
	uint64_t	 dirty_max;	/* expected dirty_rate_bps <=, 0: no */
	uint64_t	 bw_min;	/* expected bandwidth_bps range, */
	uint64_t	 bw_max;	/* 0: unchecked */
	enum converge_action expect;
	int		 flags;
	uint32_t	 target;	/* expected target after, 0: unchecked */
};

struct ccase {
	const char		*name;
	struct converge_policy	 pol;
	uint64_t		 total_bytes;	/* 0: 16 MiB */
	const struct row	*rows;
};

static const char *
flagstr(int f)
{
	static char	buf[96];

	buf[0] = '\0';
	if (f & X_DELAY)
		strcat(buf, " delay>0");
	if (f & X_NODELAY)
		strcat(buf, " delay=0");
	if (f & X_UNKNOWN)
		strcat(buf, " prediction-unknown");
	if (f & X_KNOWN)
		strcat(buf, " prediction-known");
	if (f & X_DEFER)
		strcat(buf, " defer-hot");
	if (f & X_NEAR)
		strcat(buf, " near-switchover");
	if (f & X_NEED)
		strcat(buf, " need>share");
	return (buf);
}

static void
run_case(const struct ccase *cc)
{
	struct converge			c;
	struct converge_obs		o;
	struct converge_decision	d;
	const struct row		*r;
	uint32_t			iter = 0;
	uint64_t			now = 0;
	int				n, rep;

	fprintf(stderr, "case %s (%s)\n", cc->name,
	    converge_kind_name(cc->pol.kind));
	converge_init(&c, &cc->pol);
	for (r = cc->rows; r->what != NULL; r++) {
		rep = r->repeat > 0 ? r->repeat : 1;
		for (n = 0; n < rep; n++) {
			iter++;
			now += r->iter_ms;
			memset(&o, 0, sizeof o);
			o.iteration = iter;
			o.now_ms = now;
			o.iter_ms = r->iter_ms;
			o.read_interval_ms = r->iter_ms;
			o.new_pages = r->new_pages;
			o.hot_pages = r->hot_pages;
			o.dirty_pages = r->dirty_pages;
			o.deferred_pages = r->deferred_pages;
			o.written_bytes = r->written_bytes;
			o.total_bytes = cc->total_bytes ? cc->total_bytes :
			    16 * MiB;
			o.deadline = r->deadline;
			o.starved_pct = r->starved;
			o.overflow = r->overflow;
			o.records = r->records;
			o.sent_bytes = r->sent_bytes;
			o.send_us = r->send_ms * 1000;
			o.share_bps = r->share_bps;
			o.state_bytes = r->state_bytes;
			o.switch_cost_ms = r->cost_ms;
			o.switch_cost_measured = r->cost_ms != 0;

			converge_decide(&c, &o, &d);
			fprintf(stderr, "  iter %2u t=%5llu ms: %s: expect %s%s"
			    " -> %s (delay %llu, predicted %lld ms, target %u): "
			    "%s\n", iter, (unsigned long long)now, r->what,
			    converge_action_name(r->expect), flagstr(r->flags),
			    converge_action_name(d.action),
			    (unsigned long long)d.delay_ms,
			    d.predicted_downtime_ms == UINT64_MAX ? -1LL :
			    (long long)d.predicted_downtime_ms, d.target_ms,
			    d.reason);

			cr_assert_eq(d.action, r->expect,
			    "%s: iteration %u (%s): expected %s, got %s: %s",
			    cc->name, iter, r->what,
			    converge_action_name(r->expect),
			    converge_action_name(d.action), d.reason);
			cr_assert(d.reason[0] != '\0', "%s: iteration %u: "
			    "decision without a reason", cc->name, iter);
			cr_assert_eq(d.iteration, iter);
			cr_assert_eq(d.at_ms, now);
			if (r->flags & X_DELAY)
				cr_assert(d.delay_ms > 0, "%s: iteration %u: "
				    "expected a delay: %s", cc->name, iter,
				    d.reason);
			if (r->flags & X_NODELAY)
				cr_assert(d.delay_ms == 0, "%s: iteration %u: "
				    "expected no delay, got %llu ms: %s",
				    cc->name, iter,
				    (unsigned long long)d.delay_ms, d.reason);
			if (r->flags & X_UNKNOWN)
				cr_assert(d.predicted_downtime_ms == UINT64_MAX,
				    "%s: iteration %u: expected no prediction",
				    cc->name, iter);
			if (r->flags & X_KNOWN)
				cr_assert(d.predicted_downtime_ms != UINT64_MAX,
				    "%s: iteration %u: expected a prediction",
				    cc->name, iter);
			if (r->flags & X_DEFER)
				cr_assert(d.defer_hot, "%s: iteration %u: "
				    "expected defer_hot", cc->name, iter);
			if (r->flags & X_NEAR)
				cr_assert(d.near_switchover, "%s: iteration %u:"
				    " expected near_switchover", cc->name,
				    iter);
			if (r->flags & X_NEED)
				cr_assert(d.need_bps > r->share_bps, "%s: "
				    "iteration %u: need %llu not above share",
				    cc->name, iter,
				    (unsigned long long)d.need_bps);
			if (r->dirty_max != 0)
				cr_assert(d.dirty_rate_bps <= r->dirty_max,
				    "%s: iteration %u: dirty rate %llu > %llu: "
				    "%s", cc->name, iter,
				    (unsigned long long)d.dirty_rate_bps,
				    (unsigned long long)r->dirty_max, d.reason);
			if (r->bw_min != 0)
				cr_assert(d.bandwidth_bps >= r->bw_min, "%s: "
				    "iteration %u: bandwidth %llu < %llu: %s",
				    cc->name, iter,
				    (unsigned long long)d.bandwidth_bps,
				    (unsigned long long)r->bw_min, d.reason);
			if (r->bw_max != 0)
				cr_assert(d.bandwidth_bps <= r->bw_max, "%s: "
				    "iteration %u: bandwidth %llu > %llu: %s",
				    cc->name, iter,
				    (unsigned long long)d.bandwidth_bps,
				    (unsigned long long)r->bw_max, d.reason);
			if (r->target != 0)
				cr_assert_eq(d.target_ms, r->target, "%s: "
				    "iteration %u: target %u, expected %u",
				    cc->name, iter, d.target_ms, r->target);
			if (converge_action_switches(d.action) ||
			    d.action == CONVERGE_ABORT)
				cr_assert(!converge_action_iterates(d.action));
			else
				cr_assert(converge_action_iterates(d.action));
		}
	}
}

/* Common policies. */
#define ADAPTIVE	.kind = CONVERGE_KIND_ADAPTIVE
#define BASELINE	.kind = CONVERGE_KIND_BASELINE
#define END		{ .what = NULL }

/* 100 MiB/s: 10 MiB in 100 ms; bulk copy of 16 MiB in 160 ms. */
#define BULK16		.sent_bytes = 16 * MiB, .send_ms = 160

/* ------------------------------------------------------------ adaptive */

static const struct row quiet_rows[] = {
	{ "bulk copy done, device wrote nothing, 64 KiB of state fits at once",
	  .iter_ms = 160, BULK16, .state_bytes = 64 * KiB,
	  .expect = CONVERGE_SWITCHOVER, .flags = X_KNOWN | X_NEAR },
	END
};

static const struct row nothing_at_all_rows[] = {
	{ "no bandwidth measured, but nothing dirty and no state: cost fits",
	  .iter_ms = 5, .cost_ms = 40, .expect = CONVERGE_SWITCHOVER },
	END
};

static const struct row no_data_rows[] = {
	{ "nothing measured yet and 4 MiB dirty: never switch on no data",
	  .iter_ms = 5, .dirty_pages = 1024, .expect = CONVERGE_ITERATE,
	  .flags = X_UNKNOWN | X_NODELAY },
	{ "nothing dirty, 2 MiB of state, no bandwidth: unknown, and an idle "
	  "round waits instead of spinning",
	  .iter_ms = 5, .state_bytes = 2 * MiB, .expect = CONVERGE_ITERATE,
	  .flags = X_UNKNOWN | X_DELAY },
	{ "state only (4 KiB), no page ever moved: carried at the load rate, "
	  "cost + load fit",
	  .iter_ms = 5, .state_bytes = 4 * KiB, .expect = CONVERGE_SWITCHOVER,
	  .flags = X_KNOWN },
	{ "a short 8 KiB send is latency, not bandwidth: still no sample",
	  .iter_ms = 5, .sent_bytes = 8 * KiB, .send_ms = 1,
	  .dirty_pages = 2, .expect = CONVERGE_ITERATE, .flags = X_UNKNOWN },
	{ "10 MiB in 100 ms measured: 2 pages fit the target",
	  .iter_ms = 100, .sent_bytes = 10 * MiB, .send_ms = 100,
	  .new_pages = 2, .dirty_pages = 2, .expect = CONVERGE_SWITCHOVER,
	  .flags = X_KNOWN },
	END
};

static const struct row first_iter_big_rows[] = {
	{ "bulk copy done with 40 MiB dirtied meanwhile: about 420 ms > 300",
	  .iter_ms = 160, BULK16, .new_pages = 10240, .dirty_pages = 10240,
	  .expect = CONVERGE_ITERATE, .flags = X_KNOWN | X_NODELAY },
	{ "40 MiB sent in 400 ms, device quiet now: 1 MiB left fits",
	  .iter_ms = 400, .sent_bytes = 40 * MiB, .send_ms = 400,
	  .new_pages = 256, .dirty_pages = 256,
	  .expect = CONVERGE_SWITCHOVER },
	END
};

static const struct row stalled_link_rows[] = {
	{ "bulk at 100 MiB/s, 40 MiB dirty (24 MiB/s dirtied): iterate",
	  .iter_ms = 160, BULK16, .new_pages = 1000, .dirty_pages = 10240,
	  .expect = CONVERGE_ITERATE },
	{ "link stalled: 0 bytes in 500 ms, bandwidth 0: no division, no "
	  "switch", .iter_ms = 500, .send_ms = 500, .new_pages = 2000,
	  .dirty_pages = 12000, .expect = CONVERGE_ITERATE,
	  .flags = X_UNKNOWN },
	{ "still stalled (dirtying above a zero bandwidth: 2 of 3)",
	  .iter_ms = 500, .send_ms = 500, .new_pages = 2000,
	  .dirty_pages = 14000, .expect = CONVERGE_ITERATE,
	  .flags = X_UNKNOWN },
	{ "third stalled round: cannot converge, no rung applies, abort",
	  .iter_ms = 500, .send_ms = 500, .new_pages = 2000,
	  .dirty_pages = 16000, .expect = CONVERGE_ABORT },
	END
};

static const struct row collapse_rows[] = {
	{ "bulk at 100 MiB/s, 40 MiB dirty",
	  .iter_ms = 160, BULK16, .new_pages = 10240, .dirty_pages = 10240,
	  .expect = CONVERGE_ITERATE },
	{ "bandwidth collapses to 1 MiB/s: 4 MiB would fit at 100 MiB/s, "
	  "not now", .iter_ms = 1000, .sent_bytes = 1 * MiB, .send_ms = 1000,
	  .new_pages = 1024, .dirty_pages = 1024,
	  .expect = CONVERGE_ITERATE, .flags = X_KNOWN },
	{ "link recovers (100 MiB/s sample, EWMA about 76 MiB/s): fits",
	  .iter_ms = 100, .sent_bytes = 10 * MiB, .send_ms = 100,
	  .new_pages = 256, .dirty_pages = 256,
	  .expect = CONVERGE_SWITCHOVER },
	END
};

static const struct row burst_rows[] = {
	{ "bulk done, then one 200 MiB burst (50k pages): iterate",
	  .iter_ms = 160, BULK16, .new_pages = 51200, .dirty_pages = 51200,
	  .expect = CONVERGE_ITERATE, .flags = X_NODELAY },
	{ "burst sent in 2 s, device quiet: the burst's rate still weighs "
	  "(EWMA) but 10 pages plus 10 ms of it fit",
	  .iter_ms = 2000, .sent_bytes = 200 * MiB, .send_ms = 2000,
	  .new_pages = 10, .dirty_pages = 10,
	  .expect = CONVERGE_SWITCHOVER },
	END
};

/*
 * 100 MiB/s link, the device streams 200 MiB/s (20 MiB per 100 ms) and
 * about 100 MiB is dirty: about 1040 ms predicted, above every target.
 */
#define FAST_DIRTY	.iter_ms = 100, .sent_bytes = 10 * MiB, \
			.send_ms = 100, .new_pages = 5120, .dirty_pages = 25000
static const struct row diverge_rows[] = {
	{ "bulk done, 40 MiB dirty", .iter_ms = 160, BULK16,
	  .new_pages = 10240, .dirty_pages = 10240, .share_bps = 100 * MIBPS,
	  .expect = CONVERGE_ITERATE },
	{ "dirty rate 200 MiB/s over a 100 MiB/s share (bulk was 1 of 3, "
	  "this 2)", FAST_DIRTY, .share_bps = 100 * MIBPS,
	  .expect = CONVERGE_ITERATE },
	{ "3 rounds above the bandwidth: rung 1, ask the scheduler",
	  FAST_DIRTY, .share_bps = 100 * MIBPS,
	  .expect = CONVERGE_REQUEST_BANDWIDTH, .flags = X_NEED },
	{ "not granted, no hot set: rounds toward the next stall",
	  FAST_DIRTY, .share_bps = 100 * MIBPS, .repeat = 2,
	  .expect = CONVERGE_ITERATE },
	{ "stalled again: rung 2 does not apply (no hot pages), ramp 1 of 7",
	  FAST_DIRTY, .share_bps = 100 * MIBPS,
	  .expect = CONVERGE_RAMP_DOWNTIME, .target = 400 },
	{ "", FAST_DIRTY, .share_bps = 100 * MIBPS, .repeat = 2,
	  .expect = CONVERGE_ITERATE },
	{ "ramp 2 of 7", FAST_DIRTY, .share_bps = 100 * MIBPS,
	  .expect = CONVERGE_RAMP_DOWNTIME, .target = 500 },
	{ "", FAST_DIRTY, .share_bps = 100 * MIBPS, .repeat = 2,
	  .expect = CONVERGE_ITERATE },
	{ "ramp 3", FAST_DIRTY, .share_bps = 100 * MIBPS,
	  .expect = CONVERGE_RAMP_DOWNTIME, .target = 600 },
	{ "", FAST_DIRTY, .share_bps = 100 * MIBPS, .repeat = 2,
	  .expect = CONVERGE_ITERATE },
	{ "ramp 4", FAST_DIRTY, .share_bps = 100 * MIBPS,
	  .expect = CONVERGE_RAMP_DOWNTIME, .target = 700 },
	{ "", FAST_DIRTY, .share_bps = 100 * MIBPS, .repeat = 2,
	  .expect = CONVERGE_ITERATE },
	{ "ramp 5", FAST_DIRTY, .share_bps = 100 * MIBPS,
	  .expect = CONVERGE_RAMP_DOWNTIME, .target = 800 },
	{ "", FAST_DIRTY, .share_bps = 100 * MIBPS, .repeat = 2,
	  .expect = CONVERGE_ITERATE },
	{ "ramp 6", FAST_DIRTY, .share_bps = 100 * MIBPS,
	  .expect = CONVERGE_RAMP_DOWNTIME, .target = 900 },
	{ "", FAST_DIRTY, .share_bps = 100 * MIBPS, .repeat = 2,
	  .expect = CONVERGE_ITERATE },
	{ "ramp 7: at the ceiling", FAST_DIRTY, .share_bps = 100 * MIBPS,
	  .expect = CONVERGE_RAMP_DOWNTIME, .target = 1000 },
	{ "", FAST_DIRTY, .share_bps = 100 * MIBPS, .repeat = 2,
	  .expect = CONVERGE_ITERATE },
	{ "stalled with every rung taken, timeout action abort: abort",
	  FAST_DIRTY, .share_bps = 100 * MIBPS, .expect = CONVERGE_ABORT },
	END
};

static const struct row diverge_timeout_rows[] = {
	{ "bulk done", .iter_ms = 160, BULK16, .new_pages = 10240,
	  .dirty_pages = 10240, .expect = CONVERGE_ITERATE },
	{ "diverging, share unlimited (rung 1 cannot help), no hot set, "
	  "no ceiling", FAST_DIRTY, .expect = CONVERGE_ITERATE },
	{ "stall with nothing to try; force allowed but about 1040 ms "
	  "predicted: wait for it to fit the 600 ms bound", FAST_DIRTY,
	  .repeat = 3, .expect = CONVERGE_ITERATE },
	{ "grace over, still above the bound: abort", FAST_DIRTY,
	  .expect = CONVERGE_ABORT },
	END
};

/*
 * State of 100 MiB alone: 1000 ms at 100 MiB/s plus about 544 ms estimated
 * load (20 ms + 100 MiB at 200 MB/s), against a 300 ms target.
 */
#define STATE_ONLY	.iter_ms = 100, .state_bytes = 100 * MiB
static const struct row state_ramp_rows[] = {
	{ "bulk done; state alone predicts about 1544 ms", .iter_ms = 160,
	  BULK16, .state_bytes = 100 * MiB, .expect = CONVERGE_ITERATE,
	  .flags = X_KNOWN },
	{ "nothing dirty, no progress possible: waiting out the stall "
	  "window, without spinning", STATE_ONLY, .repeat = 4,
	  .expect = CONVERGE_ITERATE, .flags = X_DELAY },
	{ "stall (floor above target, 500 ms): the ramp skips the 5 steps "
	  "below the 1544 ms floor, step 6 (1757 ms) fits: switch",
	  STATE_ONLY, .expect = CONVERGE_SWITCHOVER, .target = 1757 },
	END
};

static const struct row state_force_rows[] = {
	{ "bulk done; state alone predicts about 1544 ms, ceiling 1000",
	  .iter_ms = 160, BULK16, .state_bytes = 100 * MiB,
	  .expect = CONVERGE_ITERATE },
	{ "", STATE_ONLY, .repeat = 4, .expect = CONVERGE_ITERATE },
	{ "stall: every step is below the floor: straight to the ceiling",
	  STATE_ONLY, .expect = CONVERGE_RAMP_DOWNTIME, .target = 1000 },
	{ "", STATE_ONLY, .repeat = 4, .expect = CONVERGE_ITERATE },
	{ "stalled at the ceiling: forced switchover within the 2000 ms "
	  "bound, nothing changing (a local minimum)", STATE_ONLY,
	  .expect = CONVERGE_FORCE_SWITCHOVER },
	END
};

static const struct row state_abort_rows[] = {
	{ "bulk done; state alone predicts about 1544 ms, no ceiling",
	  .iter_ms = 160, BULK16, .state_bytes = 100 * MiB,
	  .expect = CONVERGE_ITERATE },
	{ "", STATE_ONLY, .repeat = 4, .expect = CONVERGE_ITERATE },
	{ "stall, nothing to try, timeout action abort: abort naming the "
	  "prediction", STATE_ONLY, .expect = CONVERGE_ABORT },
	END
};

static const struct row measured_cost_rows[] = {
	{ "1 MiB dirty, 12 ms to send, but the device's measured load time "
	  "is 1500 ms (mlx5): no switchover", .iter_ms = 160, BULK16,
	  .new_pages = 256, .dirty_pages = 256, .cost_ms = 1500,
	  .expect = CONVERGE_ITERATE, .flags = X_KNOWN },
	{ "the same with a 100 ms device: switch", .iter_ms = 100,
	  .sent_bytes = 10 * MiB, .send_ms = 100, .new_pages = 256,
	  .dirty_pages = 256, .cost_ms = 100,
	  .expect = CONVERGE_SWITCHOVER },
	END
};

static const struct row max_iter_rows[] = {
	{ "bulk done, 40 MiB dirty", .iter_ms = 160, BULK16,
	  .new_pages = 10240, .dirty_pages = 10240,
	  .expect = CONVERGE_ITERATE },
	{ "about 420 ms predicted", .iter_ms = 400, .sent_bytes = 40 * MiB,
	  .send_ms = 400, .new_pages = 10240, .dirty_pages = 10240,
	  .expect = CONVERGE_ITERATE },
	{ "iteration 3 = max_iterations, abort policy: abort",
	  .iter_ms = 400, .sent_bytes = 40 * MiB, .send_ms = 400,
	  .new_pages = 10240, .dirty_pages = 10240,
	  .expect = CONVERGE_ABORT },
	END
};

static const struct row max_iter_force_rows[] = {
	{ "bulk done, 40 MiB dirty", .iter_ms = 160, BULK16,
	  .new_pages = 10240, .dirty_pages = 10240,
	  .expect = CONVERGE_ITERATE },
	{ "about 420 ms predicted", .iter_ms = 400, .sent_bytes = 40 * MiB,
	  .send_ms = 400, .new_pages = 10240, .dirty_pages = 10240,
	  .expect = CONVERGE_ITERATE },
	{ "iteration 3 = max_iterations, force allowed, 420 <= 600 ms bound:"
	  " forced switchover at once (a hard limit, no grace)",
	  .iter_ms = 400, .sent_bytes = 40 * MiB, .send_ms = 400,
	  .new_pages = 10240, .dirty_pages = 10240,
	  .expect = CONVERGE_FORCE_SWITCHOVER },
	END
};

/*
 * 40 MiB per round, 400 ms at 100 MiB/s, a read every 800 ms (50 MiB/s
 * dirtied: no fast stall; the stall window needs 6 rounds).
 */
#define ROUND(pages)	.iter_ms = 800, .sent_bytes = 40 * MiB, \
			.send_ms = 400, .new_pages = (pages), \
			.dirty_pages = (pages)
static const struct row timeout_min_rows[] = {
	{ "bulk done, 40 MiB dirty", .iter_ms = 160, BULK16,
	  .new_pages = 1000, .dirty_pages = 10240,
	  .expect = CONVERGE_ITERATE },
	{ "", ROUND(10240), .repeat = 2, .expect = CONVERGE_ITERATE },
	{ "remaining dips to 36 MiB", ROUND(9216),
	  .expect = CONVERGE_ITERATE },
	{ "timeout (3 s) with remaining back up at 44 MiB: not a local "
	  "minimum, wait", ROUND(11264), .expect = CONVERGE_ITERATE },
	{ "remaining back down to 36 MiB: local minimum, forced switchover",
	  ROUND(9216), .expect = CONVERGE_FORCE_SWITCHOVER },
	END
};

/*
 * The engine's deadline (timeout_action FORCE cut the round short): no
 * wait for a local minimum, force or abort at once.
 */
static const struct row timeout_deadline_rows[] = {
	{ "bulk done, 40 MiB dirty", .iter_ms = 160, BULK16,
	  .new_pages = 1000, .dirty_pages = 10240,
	  .expect = CONVERGE_ITERATE },
	{ "deadline with remaining up at 44 MiB (400+ ms < 600 ms bound): "
	  "forced at once", ROUND(11264), .deadline = 1,
	  .expect = CONVERGE_FORCE_SWITCHOVER },
	END
};

static const struct row timeout_deadline_over_rows[] = {
	{ "bulk done, 40 MiB dirty", .iter_ms = 160, BULK16,
	  .new_pages = 1000, .dirty_pages = 10240,
	  .expect = CONVERGE_ITERATE },
	{ "deadline with 160 MiB dirty, over the 600 ms bound: abort at once",
	  ROUND(40960), .deadline = 1, .expect = CONVERGE_ABORT },
	END
};

static const struct row timeout_abort_rows[] = {
	{ "bulk done, 40 MiB dirty", .iter_ms = 160, BULK16,
	  .new_pages = 1000, .dirty_pages = 10240,
	  .expect = CONVERGE_ITERATE },
	{ "", ROUND(10240), .repeat = 3, .expect = CONVERGE_ITERATE },
	{ "timeout (3 s), action abort: abort", ROUND(10240),
	  .expect = CONVERGE_ABORT },
	END
};

/*
 * A hot set: 8000 of the 10000 pages of every read were dirty in the read
 * before too; 40 MiB a round at 100 MiB/s, a read every 800 ms (49 MiB/s
 * dirtied, below the bandwidth: only the stall window can tell), about
 * 412 ms predicted.
 */
#define HOT(def)	.iter_ms = 800, .sent_bytes = 40 * MiB, \
			.send_ms = 400, .new_pages = 10000, \
			.hot_pages = 8000, .dirty_pages = 10000 - (def), \
			.deferred_pages = (def)
static const struct row hot_rows[] = {
	{ "bulk done (setup and bulk took 800 ms)", .iter_ms = 800, BULK16,
	  .new_pages = 10000, .dirty_pages = 10000,
	  .expect = CONVERGE_ITERATE },
	{ "hot set rewritten every round, no progress", HOT(0), .repeat = 4,
	  .expect = CONVERGE_ITERATE },
	{ "stall: share unlimited so rung 1 is skipped; 80 % hot: defer",
	  HOT(0), .expect = CONVERGE_DEFER_HOT, .flags = X_DEFER },
	{ "engine holds 8000 hot pages back; they still count",
	  HOT(8000), .repeat = 2, .expect = CONVERGE_ITERATE,
	  .flags = X_DEFER },
	{ "the deferred pages put the floor (333 ms) above the target for 3 "
	  "rounds: ramp 1 (300 -> 400 ms), about 412 ms still above",
	  HOT(8000), .expect = CONVERGE_RAMP_DOWNTIME, .target = 400 },
	{ "", HOT(8000), .repeat = 4, .expect = CONVERGE_ITERATE },
	{ "ramp 2 to 500 ms: the prediction fits, switch", HOT(8000),
	  .expect = CONVERGE_SWITCHOVER, .target = 500 },
	END
};

/*
 * 50 MiB of device state puts the floor (about 783 ms) above the target:
 * rounds cannot converge, so they wait unless the set grows linearly.
 * Sub-linear: distinct pages ~ 1000 sqrt(interval / 50 ms), a hot set.
 */
#define RD(ms, pages)	.iter_ms = (ms), .sent_bytes = (ms) * 100 * MiB / \
			1000, .send_ms = (ms), .new_pages = (pages), \
			.dirty_pages = (pages), .state_bytes = 50 * MiB
static const struct row sublinear_rows[] = {
	{ "800 ms read: 4000 pages; no curve yet, floor above target: wait",
	  RD(800, 4000), .expect = CONVERGE_ITERATE, .flags = X_DELAY },
	{ "200 ms read: 2000 pages", RD(200, 2000),
	  .expect = CONVERGE_ITERATE, .flags = X_DELAY },
	{ "50 ms read: 1000 pages; fit says t^0.5: wait", RD(50, 1000),
	  .expect = CONVERGE_ITERATE, .flags = X_DELAY },
	END
};

static const struct row linear_rows[] = {
	{ "800 ms read: 4000 pages; no curve yet: wait", RD(800, 4000),
	  .expect = CONVERGE_ITERATE, .flags = X_DELAY },
	{ "200 ms read: 1000 pages", RD(200, 1000),
	  .expect = CONVERGE_ITERATE, .flags = X_DELAY },
	{ "50 ms read: 250 pages; fit says t^1.0 (a stream): no wait",
	  RD(50, 250), .expect = CONVERGE_ITERATE, .flags = X_NODELAY },
	END
};

static const struct row close_no_wait_rows[] = {
	{ "rewrites, but the floor is below the target: rounds can still "
	  "get there, no wait",
	  .iter_ms = 160, BULK16, .new_pages = 10240, .dirty_pages = 10240,
	  .written_bytes = 400 * MiB, .expect = CONVERGE_ITERATE,
	  .flags = X_NODELAY | X_NEAR },
	END
};

/* ------------------------------------------------------------ baseline */

static const struct row base_quiet_rows[] = {
	{ "bulk done, nothing dirty: pending = state 64 KiB < 30 MiB",
	  .iter_ms = 160, BULK16, .state_bytes = 64 * KiB,
	  .expect = CONVERGE_SWITCHOVER },
	END
};

static const struct row base_zero_bw_rows[] = {
	{ "no bandwidth: threshold 0, pending 4 MiB: iterate",
	  .iter_ms = 5, .dirty_pages = 1024, .expect = CONVERGE_ITERATE,
	  .flags = X_UNKNOWN },
	{ "pending 0: QEMU switches even without bandwidth", .iter_ms = 5,
	  .expect = CONVERGE_SWITCHOVER },
	END
};

static const struct row base_last_bw_rows[] = {
	{ "bulk at 100 MiB/s: 25 MiB < 30 MiB threshold: switch",
	  .iter_ms = 160, BULK16, .new_pages = 6400, .dirty_pages = 6400,
	  .expect = CONVERGE_SWITCHOVER },
	END
};

static const struct row base_unsmoothed_rows[] = {
	{ "bulk at 100 MiB/s, 40 MiB pending", .iter_ms = 160, BULK16,
	  .new_pages = 10240, .dirty_pages = 10240,
	  .expect = CONVERGE_ITERATE },
	{ "last iteration 50 MiB/s (no smoothing): 25 MiB > 15 MiB",
	  .iter_ms = 400, .sent_bytes = 20 * MiB, .send_ms = 400,
	  .new_pages = 6400, .dirty_pages = 6400,
	  .expect = CONVERGE_ITERATE },
	{ "last iteration 200 MiB/s: 25 MiB < 60 MiB: switch",
	  .iter_ms = 100, .sent_bytes = 20 * MiB, .send_ms = 100,
	  .new_pages = 6400, .dirty_pages = 6400,
	  .expect = CONVERGE_SWITCHOVER },
	END
};

/* Same observation for both: 25 MiB of device state at 100 MiB/s. */
static const struct row state25_rows[] = {
	{ "25 MiB state: 250 ms transfer + about 151 ms estimated load",
	  .iter_ms = 160, BULK16, .state_bytes = 25 * MiB,
	  .expect = CONVERGE_ITERATE },
	END
};
static const struct row base_state25_rows[] = {
	{ "25 MiB state < 30 MiB threshold: QEMU ignores the load time",
	  .iter_ms = 160, BULK16, .state_bytes = 25 * MiB,
	  .expect = CONVERGE_SWITCHOVER },
	END
};

static const struct row base_diverge_rows[] = {
	{ "bulk done", .iter_ms = 160, BULK16, .new_pages = 10240,
	  .dirty_pages = 10240, .expect = CONVERGE_ITERATE },
	{ "diverging with a hot set and a ceiling: the baseline neither "
	  "defers nor ramps nor detects the stall", .iter_ms = 100,
	  .sent_bytes = 10 * MiB, .send_ms = 100, .new_pages = 5120,
	  .hot_pages = 4000, .dirty_pages = 8000, .share_bps = 100 * MIBPS,
	  .repeat = 18, .expect = CONVERGE_ITERATE, .target = 300 },
	{ "completion timeout (2 s), action abort: abort", .iter_ms = 100,
	  .sent_bytes = 10 * MiB, .send_ms = 100, .new_pages = 5120,
	  .hot_pages = 4000, .dirty_pages = 8000,
	  .expect = CONVERGE_ABORT },
	END
};

static const struct row base_force_rows[] = {
	{ "bulk done", .iter_ms = 160, BULK16, .new_pages = 10240,
	  .dirty_pages = 10240, .expect = CONVERGE_ITERATE },
	{ "40 MiB pending at 100 MiB/s", ROUND(10240), .repeat = 2,
	  .expect = CONVERGE_ITERATE },
	{ "timeout, force allowed, 400 ms <= 600 ms: forced at once (no "
	  "local-minimum wait in the baseline)", ROUND(11264),
	  .expect = CONVERGE_FORCE_SWITCHOVER },
	END
};

static const struct row base_max_iter_rows[] = {
	{ "bulk done", .iter_ms = 160, BULK16, .new_pages = 10240,
	  .dirty_pages = 10240, .expect = CONVERGE_ITERATE },
	{ "iteration 2 = max_iterations: abort", ROUND(10240),
	  .expect = CONVERGE_ABORT },
	END
};

/*
 * Nova's ramp: 16 MiB at 64 s/GiB is a 1000 ms step; the target goes
 * 300, 400, 500, ... 1000 ms (7 steps) by the clock, whatever progress.
 */
#define RND100(pages)	.iter_ms = 100, .sent_bytes = 10 * MiB, \
			.send_ms = 100, .new_pages = (pages), \
			.dirty_pages = (pages)
static const struct row base_nova_ramp_rows[] = {
	{ "bulk done at 160 ms, 40 MiB pending, 30 MiB threshold",
	  .iter_ms = 160, BULK16, .new_pages = 10240, .dirty_pages = 10240,
	  .expect = CONVERGE_ITERATE, .target = 300 },
	{ "no step before 1000 ms", RND100(10240), .repeat = 8,
	  .expect = CONVERGE_ITERATE, .target = 300 },
	{ "1060 ms: step 1, 400 ms: threshold 40 MiB, pending not below it",
	  RND100(10240), .expect = CONVERGE_RAMP_DOWNTIME, .target = 400 },
	{ "the next step waits for 2000 ms", RND100(10240), .repeat = 9,
	  .expect = CONVERGE_ITERATE, .target = 400 },
	{ "2060 ms: step 2, 500 ms: 40 MiB < 50 MiB: switch",
	  RND100(10240), .expect = CONVERGE_SWITCHOVER, .target = 500 },
	END
};

static const struct row base_nova_ceiling_rows[] = {
	{ "bulk done, 400 MiB pending", .iter_ms = 160, BULK16,
	  .new_pages = 102400, .dirty_pages = 102400,
	  .expect = CONVERGE_ITERATE, .target = 300 },
	{ "a late first round jumps the steps the clock passed (3340 ms: 3)",
	  .iter_ms = 3180, .sent_bytes = 10 * MiB, .send_ms = 100,
	  .new_pages = 102400, .dirty_pages = 102400,
	  .expect = CONVERGE_RAMP_DOWNTIME, .target = 600 },
	{ "8340 ms: past step 7, held at the 1000 ms ceiling",
	  .iter_ms = 5000, .sent_bytes = 10 * MiB, .send_ms = 100,
	  .new_pages = 102400, .dirty_pages = 102400,
	  .expect = CONVERGE_RAMP_DOWNTIME, .target = 1000 },
	{ "and stays there", .iter_ms = 5000, .sent_bytes = 10 * MiB,
	  .send_ms = 100, .new_pages = 102400, .dirty_pages = 102400,
	  .expect = CONVERGE_ITERATE, .target = 1000 },
	END
};

/* KubeVirt's progress timeout (1 s): no new low of pending for 1 s. */
static const struct row base_progress_rows[] = {
	{ "bulk done, 40 MiB pending", .iter_ms = 160, BULK16,
	  .new_pages = 10240, .dirty_pages = 10240,
	  .expect = CONVERGE_ITERATE },
	{ "shrinking: each round a new low", RND100(10000), .expect =
	  CONVERGE_ITERATE },
	{ "", RND100(9900), .expect = CONVERGE_ITERATE },
	{ "", RND100(9800), .expect = CONVERGE_ITERATE },
	{ "then stuck at or above the low (9800 pages at 460 ms)",
	  RND100(9900), .repeat = 9, .expect = CONVERGE_ITERATE },
	{ "1460 ms: 1 s without a new low: abort, though force is allowed",
	  RND100(9800), .expect = CONVERGE_ABORT },
	END
};

/* The adaptive policy: the same timeout, slow steady progress passes it. */
#define SLOW(pages)	.iter_ms = 100, .sent_bytes = 10 * MiB, \
			.send_ms = 100, .new_pages = 10, .dirty_pages = (pages), \
			.cost_ms = 1
static const struct row progress_adaptive_rows[] = {
	{ "bulk done, 40 MiB pending", .iter_ms = 160, BULK16,
	  .new_pages = 10240, .dirty_pages = 10240, .cost_ms = 1,
	  .expect = CONVERGE_ITERATE },
	{ "a new low every round for 1.5 s, a fifth less each (fast enough "
	  "not to be too slow): no abort", SLOW(8192),
	  .expect = CONVERGE_ITERATE },
	{ "", SLOW(6554), .expect = CONVERGE_ITERATE },
	{ "", SLOW(5243), .expect = CONVERGE_ITERATE },
	{ "", SLOW(4194), .expect = CONVERGE_ITERATE },
	{ "", SLOW(3355), .expect = CONVERGE_ITERATE },
	{ "", SLOW(2684), .expect = CONVERGE_ITERATE },
	{ "", SLOW(2147), .expect = CONVERGE_ITERATE },
	{ "", SLOW(1718), .expect = CONVERGE_ITERATE },
	{ "", SLOW(1374), .expect = CONVERGE_ITERATE },
	{ "", SLOW(1099), .expect = CONVERGE_ITERATE },
	{ "", SLOW(879), .expect = CONVERGE_ITERATE },
	{ "", SLOW(703), .expect = CONVERGE_ITERATE },
	{ "", SLOW(563), .expect = CONVERGE_ITERATE },
	{ "", SLOW(450), .expect = CONVERGE_ITERATE },
	{ "", SLOW(360), .expect = CONVERGE_ITERATE },
	END
};

/*
 * A busy host: the demo's starved round (20 KiB/s) must not become the
 * estimate; the same sample from a round not starved is a collapse.
 */
#define R100(pages)	.iter_ms = 100, .sent_bytes = 10 * MiB, \
			.send_ms = 100, .new_pages = 10, .dirty_pages = (pages)
#define STARVED_SAMPLE	.iter_ms = 5000, .sent_bytes = 100 * KiB, \
			.send_ms = 5000, .new_pages = 10
static const struct row starved_round_rows[] = {
	{ "bulk at 100 MiB/s, 40 MiB dirty", .iter_ms = 160, BULK16,
	  .new_pages = 10, .dirty_pages = 10240, .expect = CONVERGE_ITERATE },
	{ "rounds at 100 MiB/s", R100(10240), .repeat = 2,
	  .expect = CONVERGE_ITERATE },
	{ "a round starved 80 %: 20 KiB/s set aside, 10 MiB fits at 100 "
	  "MiB/s", STARVED_SAMPLE, .dirty_pages = 2560, .starved = 80,
	  .bw_min = 99 * MIBPS, .expect = CONVERGE_SWITCHOVER },
	END
};

static const struct row collapse_unstarved_rows[] = {
	{ "bulk at 100 MiB/s, 40 MiB dirty", .iter_ms = 160, BULK16,
	  .new_pages = 10, .dirty_pages = 10240, .expect = CONVERGE_ITERATE },
	{ "rounds at 100 MiB/s", R100(10240), .repeat = 2,
	  .expect = CONVERGE_ITERATE },
	{ "the same 20 KiB/s with the CPU to spare (10 %): the link "
	  "collapsed, at once", STARVED_SAMPLE, .dirty_pages = 2560,
	  .starved = 10, .bw_max = 21 * KiB, .expect = CONVERGE_ITERATE },
	END
};

/* 50 MiB/s on a host busy for rounds: it counts, gently (EWMA only). */
#define BUSY50(pages)	.iter_ms = 200, .sent_bytes = 10 * MiB, \
			.send_ms = 200, .new_pages = 10, .dirty_pages = (pages), \
			.starved = 50, .cost_ms = 1
static const struct row busy_host_rows[] = {
	{ "bulk at 100 MiB/s, 40 MiB dirty", .iter_ms = 160, BULK16,
	  .new_pages = 10, .dirty_pages = 10240, .cost_ms = 1,
	  .expect = CONVERGE_ITERATE },
	{ "starved rounds at 50 MiB/s: the first two are set aside",
	  BUSY50(7168), .bw_min = 99 * MIBPS, .expect = CONVERGE_ITERATE },
	{ "", BUSY50(5018), .bw_min = 99 * MIBPS,
	  .expect = CONVERGE_ITERATE },
	{ "the third in a row: the host stays busy, the EWMA takes it "
	  "(0.4 x 50 + 0.6 x 100 = 80 MiB/s)", BUSY50(3512),
	  .bw_min = 79 * MIBPS, .bw_max = 81 * MIBPS,
	  .expect = CONVERGE_ITERATE },
	{ "and the next: 68 MiB/s", BUSY50(2458),
	  .bw_min = 67 * MIBPS, .bw_max = 69 * MIBPS,
	  .expect = CONVERGE_ITERATE },
	{ "a round with CPU to spare at 100 MiB/s resets the count",
	  R100(1721), .cost_ms = 1, .expect = CONVERGE_ITERATE },
	{ "a starved round is set aside again", BUSY50(1205),
	  .bw_min = 80 * MIBPS, .expect = CONVERGE_ITERATE },
	END
};

/*
 * A read that lost records marks all 16 MiB dirty: to send, but not the
 * device's rate (a loaded demo's flood once showed "dirty 18.4 GiB/s").
 */
static const struct row overflow_rows[] = {
	{ "bulk at 100 MiB/s, 40 MiB dirty", .iter_ms = 160, BULK16,
	  .new_pages = 256, .records = 256, .dirty_pages = 10240,
	  .expect = CONVERGE_ITERATE },
	{ "a 100 ms read lost records: 4096 pages marked: no sample, the "
	  "dirty rate stays the bulk read's (not 160 MiB/s), 16 MiB to "
	  "send: 181 ms fits",
	  R100(4096), .new_pages = 4096, .records = 256, .overflow = 1,
	  .dirty_max = 11 * MIBPS, .expect = CONVERGE_SWITCHOVER },
	END
};

/*
 * Slow steady progress: a 4.5 % new low every fourth round keeps the 4 %
 * window from ever completing, but over a window (500 ms, 5 rounds) the
 * prediction came down 17 ms while still 83 ms over the target: a stall,
 * so the target ramps now rather than at half the completion timeout.
 */
static const struct row too_slow_rows[] = {
	{ "bulk done, 38 MiB: about 400 ms", .iter_ms = 160, BULK16,
	  .new_pages = 10, .dirty_pages = 9728, .expect = CONVERGE_ITERATE },
	{ "no new low", R100(9728), .repeat = 3, .expect = CONVERGE_ITERATE },
	{ "a 4.5 % new low restarts the 4 % window", R100(9290),
	  .expect = CONVERGE_ITERATE, .target = 300 },
	{ "a window on, 17 ms gained, 83 ms to go: too slow; the target "
	  "steps to 400 ms, which the 383 ms fit", R100(9290),
	  .expect = CONVERGE_SWITCHOVER, .target = 400 },
	END
};

static const struct ccase cases[] = {
	{ "quiet", { ADAPTIVE }, 0, quiet_rows },
	{ "nothing_at_all", { ADAPTIVE }, 0, nothing_at_all_rows },
	{ "no_data", { ADAPTIVE }, 0, no_data_rows },
	{ "first_iter_big", { ADAPTIVE }, 0, first_iter_big_rows },
	{ "stalled_link", { ADAPTIVE }, 0, stalled_link_rows },
	{ "collapse", { ADAPTIVE }, 0, collapse_rows },
	{ "burst", { ADAPTIVE }, 0, burst_rows },
	{ "diverge", { ADAPTIVE, .downtime_ceiling_ms = 1000 }, 0,
	  diverge_rows },
	{ "diverge_timeout", { ADAPTIVE, .timeout_force = 1,
	  .forced_downtime_ms = 600 }, 0, diverge_timeout_rows },
	{ "state_ramp", { ADAPTIVE, .downtime_ceiling_ms = 2000 }, 0,
	  state_ramp_rows },
	{ "state_force", { ADAPTIVE, .downtime_ceiling_ms = 1000,
	  .timeout_force = 1 }, 0, state_force_rows },
	{ "state_abort", { ADAPTIVE }, 0, state_abort_rows },
	{ "measured_cost", { ADAPTIVE }, 0, measured_cost_rows },
	{ "max_iter", { ADAPTIVE, .max_iterations = 3 }, 0, max_iter_rows },
	{ "max_iter_force", { ADAPTIVE, .max_iterations = 3,
	  .timeout_force = 1, .forced_downtime_ms = 600 }, 0,
	  max_iter_force_rows },
	{ "timeout_min", { ADAPTIVE, .completion_timeout_s = 3,
	  .timeout_force = 1, .forced_downtime_ms = 600 }, 0,
	  timeout_min_rows },
	{ "timeout_abort", { ADAPTIVE, .completion_timeout_s = 3 }, 0,
	  timeout_abort_rows },
	{ "timeout_deadline", { ADAPTIVE, .completion_timeout_s = 30,
	  .timeout_force = 1, .forced_downtime_ms = 600 }, 0,
	  timeout_deadline_rows },
	{ "timeout_deadline_over", { ADAPTIVE, .completion_timeout_s = 30,
	  .timeout_force = 1, .forced_downtime_ms = 600 }, 0,
	  timeout_deadline_over_rows },
	{ "hot", { ADAPTIVE, .downtime_ceiling_ms = 1000 }, 0, hot_rows },
	{ "sublinear", { ADAPTIVE }, 0, sublinear_rows },
	{ "linear", { ADAPTIVE }, 0, linear_rows },
	{ "close_no_wait", { ADAPTIVE }, 0, close_no_wait_rows },
	{ "state25", { ADAPTIVE }, 0, state25_rows },
	{ "base_quiet", { BASELINE }, 0, base_quiet_rows },
	{ "base_zero_bw", { BASELINE }, 0, base_zero_bw_rows },
	{ "base_last_bw", { BASELINE }, 0, base_last_bw_rows },
	{ "base_unsmoothed", { BASELINE }, 0, base_unsmoothed_rows },
	{ "base_state25", { BASELINE }, 0, base_state25_rows },
	{ "base_diverge", { BASELINE, .downtime_ceiling_ms = 1000,
	  .completion_timeout_s = 2 }, 0, base_diverge_rows },
	{ "base_force", { BASELINE, .completion_timeout_s = 2,
	  .timeout_force = 1, .forced_downtime_ms = 600 }, 0,
	  base_force_rows },
	{ "base_max_iter", { BASELINE, .max_iterations = 2 }, 0,
	  base_max_iter_rows },
	{ "base_nova_ramp", { BASELINE, .downtime_ceiling_ms = 1000,
	  .baseline_ramp = 1, .ramp_delay_ms_per_gib = 64000 }, 0,
	  base_nova_ramp_rows },
	{ "base_nova_ceiling", { BASELINE, .downtime_ceiling_ms = 1000,
	  .baseline_ramp = 1, .ramp_delay_ms_per_gib = 64000 }, 0,
	  base_nova_ceiling_rows },
	{ "base_progress", { BASELINE, .progress_timeout_s = 1,
	  .timeout_force = 1 }, 0, base_progress_rows },
	{ "starved_round", { ADAPTIVE }, 0, starved_round_rows },
	{ "collapse_unstarved", { ADAPTIVE }, 0, collapse_unstarved_rows },
	{ "busy_host", { ADAPTIVE, .max_downtime_ms = 10 }, 0,
	  busy_host_rows },
	{ "overflow", { ADAPTIVE }, 0, overflow_rows },
	{ "too_slow", { ADAPTIVE, .downtime_ceiling_ms = 1000 }, 0,
	  too_slow_rows },
	{ "progress_adaptive", { ADAPTIVE, .max_downtime_ms = 10,
	  .progress_timeout_s = 1 }, 0, progress_adaptive_rows },
};

static const struct ccase *
find(const char *name)
{
	size_t	i;

	for (i = 0; i < sizeof cases / sizeof cases[0]; i++)
		if (strcmp(cases[i].name, name) == 0)
			return (&cases[i]);
	cr_assert_fail("no case %s", name);
	return (NULL);
}

#define CASE(name)	Test(converge, name) { run_case(find(#name)); LEAK_CHECK(); }

CASE(quiet)
CASE(nothing_at_all)
CASE(no_data)
CASE(first_iter_big)
CASE(stalled_link)
CASE(collapse)
CASE(burst)
CASE(diverge)
CASE(diverge_timeout)
CASE(state_ramp)
CASE(state_force)
CASE(state_abort)
CASE(measured_cost)
CASE(max_iter)
CASE(max_iter_force)
CASE(timeout_min)
CASE(timeout_abort)
CASE(timeout_deadline)
CASE(timeout_deadline_over)
CASE(hot)
CASE(sublinear)
CASE(linear)
CASE(close_no_wait)
CASE(state25)
CASE(base_quiet)
CASE(base_zero_bw)
CASE(base_last_bw)
CASE(base_unsmoothed)
CASE(base_state25)
CASE(base_diverge)
CASE(base_force)
CASE(base_max_iter)
CASE(base_nova_ramp)
CASE(base_nova_ceiling)
CASE(base_progress)
CASE(progress_adaptive)
CASE(starved_round)
CASE(collapse_unstarved)
CASE(busy_host)
CASE(overflow)
CASE(too_slow)

/* Every case in the table has a Test above. */
Test(converge, every_case_runs)
{
	cr_assert_eq(sizeof cases / sizeof cases[0], 41,
	    "add a CASE() line for the new case");
}

/* ------------------------------------------------------------ the rest */

Test(converge, set_policy_mid_job)
{
	struct converge_policy		p = { ADAPTIVE };
	struct converge			c;
	struct converge_obs		o = { .iteration = 1, .now_ms = 160,
	    .read_interval_ms = 160, .new_pages = 10240, .dirty_pages = 10240,
	    .sent_bytes = 16 * MiB, .send_us = 160000, .total_bytes = 16 * MiB };
	struct converge_decision	d;

	converge_init(&c, &p);
	cr_assert_eq(converge_decide(&c, &o, &d), CONVERGE_ITERATE, "%s",
	    d.reason);
	cr_assert_eq(d.target_ms, 300);
	p.max_downtime_ms = 600;
	converge_set_policy(&c, &p);
	o.iteration = 2;
	o.now_ms = 560;
	o.sent_bytes = 40 * MiB;
	o.send_us = 400000;
	cr_assert_eq(converge_decide(&c, &o, &d), CONVERGE_SWITCHOVER, "%s",
	    d.reason);
	cr_assert_eq(d.target_ms, 600);
}

Test(converge, decision_numbers)
{
	struct converge_policy		p = { ADAPTIVE };
	struct converge			c;
	struct converge_obs		o = { .iteration = 1, .now_ms = 1000,
	    .read_interval_ms = 1000, .new_pages = 256, .dirty_pages = 256,
	    .sent_bytes = 100 * MiB, .send_us = 1000000,
	    .total_bytes = 128 * MiB, .switch_cost_ms = 50,
	    .switch_cost_measured = 1 };
	struct converge_decision	d;

	converge_init(&c, &p);
	converge_decide(&c, &o, &d);
	cr_assert_eq(d.action, CONVERGE_SWITCHOVER, "%s", d.reason);
	cr_assert_eq(d.bandwidth_bps, 100 * MIBPS);
	cr_assert_eq(d.dirty_rate_bps, 1 * MIBPS);
	/* 1 MiB dirty + 10 ms of 1 MiB/s unseen (10 KiB, 3 pages' worth) */
	cr_assert(d.remaining_bytes >= 1 * MiB &&
	    d.remaining_bytes <= 1 * MiB + 12 * KiB, "remaining %llu",
	    (unsigned long long)d.remaining_bytes);
	/* 50 ms cost + about 10 ms transfer */
	cr_assert(d.predicted_downtime_ms >= 60 &&
	    d.predicted_downtime_ms <= 61, "predicted %llu",
	    (unsigned long long)d.predicted_downtime_ms);
	cr_assert_eq(d.target_ms, 300);
	cr_assert_eq(d.forced_bound_ms, 600);
	cr_assert(strstr(d.reason, "300 ms") != NULL, "%s", d.reason);
}

/*
 * Bytes to send, not pages: 64 MiB of dirty pages at 100 MiB/s is 640 ms
 * whole (iterate against a 300 ms target), but as deltas of 1/32 of each
 * page (dirty_wire_bytes 2 MiB) it is 20 ms: switch over. The baseline
 * (QEMU's pages) ignores it.
 */
Test(converge, counts_wire_bytes_not_pages)
{
	struct converge_policy		p = { ADAPTIVE };
	struct converge			c;
	struct converge_obs		o = { .iteration = 1, .now_ms = 1000,
	    .read_interval_ms = 1000, .new_pages = 16384,
	    .dirty_pages = 16384, .sent_bytes = 100 * MiB,
	    .send_us = 1000000, .total_bytes = 128 * MiB,
	    .switch_cost_ms = 50, .switch_cost_measured = 1 };
	struct converge_decision	d;

	cr_assert_float_eq(converge_wire_frac(&o), 1.0, 1e-9);
	converge_init(&c, &p);
	converge_decide(&c, &o, &d);
	cr_assert_eq(d.action, CONVERGE_ITERATE, "%s", d.reason);
	cr_assert_geq(d.remaining_bytes, 64 * MiB);

	o.dirty_wire_bytes = 2 * MiB;
	cr_assert_float_eq(converge_wire_frac(&o), 1.0 / 32, 1e-9);
	converge_init(&c, &p);
	converge_decide(&c, &o, &d);
	cr_assert_eq(d.action, CONVERGE_SWITCHOVER, "%s", d.reason);
	cr_assert(d.remaining_bytes >= 2 * MiB &&
	    d.remaining_bytes <= 3 * MiB, "remaining %llu",
	    (unsigned long long)d.remaining_bytes);

	/* more wire bytes than whole pages (never): whole pages */
	o.dirty_wire_bytes = 65 * MiB;
	cr_assert_float_eq(converge_wire_frac(&o), 1.0, 1e-9);

	p.kind = CONVERGE_KIND_BASELINE;
	o.dirty_wire_bytes = 2 * MiB;
	converge_init(&c, &p);
	converge_decide(&c, &o, &d);
	cr_assert_neq(d.action, CONVERGE_SWITCHOVER, "%s", d.reason);
}

Test(converge, names)
{
	cr_assert_str_eq(converge_action_name(CONVERGE_ITERATE), "iterate");
	cr_assert_str_eq(converge_action_name(CONVERGE_RAMP_DOWNTIME),
	    "ramp-downtime");
	cr_assert_str_eq(converge_action_name((enum converge_action)99),
	    "unknown");
	cr_assert_str_eq(converge_kind_name(CONVERGE_KIND_BASELINE),
	    "baseline");
}

Test(converge, huge_numbers_saturate)
{
	struct converge_policy		p = { ADAPTIVE,
	    .downtime_ceiling_ms = UINT32_MAX, .forced_downtime_ms = 0 };
	struct converge			c;
	struct converge_obs		o = { .iteration = 1, .now_ms = UINT64_MAX,
	    .read_interval_ms = UINT64_MAX, .new_pages = UINT64_MAX,
	    .hot_pages = UINT64_MAX, .dirty_pages = UINT64_MAX,
	    .deferred_pages = UINT64_MAX, .page_size = UINT32_MAX,
	    .total_bytes = UINT64_MAX, .sent_bytes = UINT64_MAX,
	    .send_us = 1, .state_bytes = UINT64_MAX,
	    .switch_cost_ms = UINT64_MAX, .written_bytes = UINT64_MAX };
	struct converge_decision	d;
	int				i;

	converge_init(&c, &p);
	for (i = 0; i < 20; i++) {
		o.iteration = (uint32_t)i + 1;
		converge_decide(&c, &o, &d);
		cr_assert(d.reason[0] != '\0');
		cr_assert(!converge_action_switches(d.action) ||
		    d.action == CONVERGE_FORCE_SWITCHOVER, "%s", d.reason);
	}
}

/* ------------------------------------------------------------ invariants */

static uint64_t
xrand(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return (*s);
}

/* A value from a mix of zeros, small, typical and extreme magnitudes. */
static uint64_t
anyval(uint64_t *s, uint64_t typical)
{
	switch (xrand(s) % 8) {
	case 0:
		return (0);
	case 1:
		return (UINT64_MAX >> (xrand(s) % 64));
	case 2:
		return (xrand(s) % 4);
	default:
		return (typical ? xrand(s) % (2 * typical) : 0);
	}
}

/*
 * Random observation sequences, both policies: whatever comes in, every
 * decision has a reason, switches only on a known prediction within the
 * target (or, forced, within the bound and the job allows it), stops only
 * at a limit or after a stall, and keeps the target within its ramp.
 */
Test(converge, random_sequences_keep_invariants)
{
	struct converge_policy		p;
	struct converge			c;
	struct converge_obs		o;
	struct converge_decision	d;
	uint64_t			seed = 0x2545f4914f6cdd1dULL, now;
	int				run, i;

	for (run = 0; run < 400; run++) {
		memset(&p, 0, sizeof p);
		p.kind = run % 2 ? CONVERGE_KIND_BASELINE :
		    CONVERGE_KIND_ADAPTIVE;
		p.max_downtime_ms = (uint32_t)(xrand(&seed) % 4 == 0 ? 0 :
		    xrand(&seed) % 2000);
		p.downtime_ceiling_ms = (uint32_t)(xrand(&seed) % 3000);
		p.completion_timeout_s = (uint32_t)(xrand(&seed) % 20);
		p.timeout_force = (int)(xrand(&seed) % 2);
		p.forced_downtime_ms = (uint32_t)(xrand(&seed) % 3000);
		p.max_iterations = (uint32_t)(xrand(&seed) % 60);
		p.bandwidth_limit_bps = anyval(&seed, 200 * MIBPS);
		converge_init(&c, &p);
		now = 0;
		for (i = 1; i <= 80; i++) {
			memset(&o, 0, sizeof o);
			o.iteration = (uint32_t)i;
			o.iter_ms = xrand(&seed) % 2000;
			now += o.iter_ms;
			o.now_ms = now;
			o.read_interval_ms = anyval(&seed, 1000);
			o.read_age_ms = anyval(&seed, 10);
			o.new_pages = anyval(&seed, 20000);
			o.hot_pages = anyval(&seed, 10000);
			o.dirty_pages = anyval(&seed, 20000);
			o.deferred_pages = c.defer_hot ?
			    anyval(&seed, 5000) : 0;
			o.page_size = xrand(&seed) % 4 ? 4096 :
			    (uint32_t)anyval(&seed, 65536);
			o.total_bytes = anyval(&seed, 128 * MiB);
			o.sent_bytes = anyval(&seed, 50 * MiB);
			o.send_us = anyval(&seed, 500000);
			o.share_bps = anyval(&seed, 100 * MIBPS);
			o.state_bytes = anyval(&seed, 4 * MiB);
			o.switch_cost_ms = anyval(&seed, 100);
			o.written_bytes = anyval(&seed, 80 * MiB);

			converge_decide(&c, &o, &d);
			cr_assert(d.reason[0] != '\0' &&
			    memchr(d.reason, '\0', sizeof d.reason) != NULL);
			cr_assert(d.target_ms >= c.pol.max_downtime_ms &&
			    d.target_ms <= c.ceiling_ms, "run %d: target %u "
			    "outside [%u, %u]", run, d.target_ms,
			    c.pol.max_downtime_ms, c.ceiling_ms);
			if (d.action == CONVERGE_SWITCHOVER &&
			    p.kind == CONVERGE_KIND_ADAPTIVE)
				cr_assert(d.predicted_downtime_ms <=
				    d.target_ms, "run %d iteration %d: "
				    "switch at %llu ms > target %u: %s", run,
				    i, (unsigned long long)
				    d.predicted_downtime_ms, d.target_ms,
				    d.reason);
			if (d.action == CONVERGE_FORCE_SWITCHOVER)
				cr_assert(p.timeout_force &&
				    d.predicted_downtime_ms <=
				    d.forced_bound_ms, "run %d: forced at %llu "
				    "ms, bound %u: %s", run,
				    (unsigned long long)
				    d.predicted_downtime_ms,
				    d.forced_bound_ms, d.reason);
			if ((d.action == CONVERGE_ABORT ||
			    d.action == CONVERGE_FORCE_SWITCHOVER) &&
			    p.kind == CONVERGE_KIND_BASELINE)
				cr_assert((p.max_iterations > 0 &&
				    (uint32_t)i >= p.max_iterations) ||
				    (p.completion_timeout_s > 0 && now >=
				    p.completion_timeout_s * 1000ULL),
				    "run %d: baseline stopped before a limit: "
				    "%s", run, d.reason);
			if (converge_action_switches(d.action) ||
			    d.action == CONVERGE_ABORT)
				break;
		}
	}
	LEAK_CHECK();
}

/*
 * Slow but steady progress (about 2 % fewer dirty pages per 100 ms round)
 * keeps restarting the stall window; with a ceiling to ramp to, the clock
 * makes it escalate once half of the completion timeout is gone, and not
 * before.
 */
Test(converge, half_timeout_ramps_slow_progress)
{
	struct converge_policy		pol = { .kind = CONVERGE_KIND_ADAPTIVE,
	    .downtime_ceiling_ms = 1000, .completion_timeout_s = 4 };
	struct converge			c;
	struct converge_obs		o;
	struct converge_decision	d;
	double				dirty = 12000;
	uint32_t			it;
	int				ramped = 0;

	converge_init(&c, &pol);
	for (it = 1; it <= 38; it++) {
		memset(&o, 0, sizeof o);
		o.iteration = it;
		o.now_ms = it * 100;
		o.iter_ms = o.read_interval_ms = 100;
		/* 2300 pages rewritten per round, 2560 sent: the set shrinks
		 * by about 2 % a round, below the 4 % margin */
		o.new_pages = 2300;
		o.dirty_pages = (uint64_t)dirty;
		o.total_bytes = 128 * MiB;
		o.sent_bytes = 10 * MiB;	/* 100 MiB/s */
		o.send_us = 100000;
		converge_decide(&c, &o, &d);
		fprintf(stderr, "  iter %2u t=%4llu ms: %s: %s\n", it,
		    (unsigned long long)o.now_ms,
		    converge_action_name(d.action), d.reason);
		if (o.now_ms < 2000)
			cr_assert(d.action == CONVERGE_ITERATE, "t=%llu ms: %s "
			    "before half the timeout: %s",
			    (unsigned long long)o.now_ms,
			    converge_action_name(d.action), d.reason);
		else if (d.action == CONVERGE_RAMP_DOWNTIME ||
		    converge_action_switches(d.action)) {
			ramped = 1;
			break;
		}
		dirty -= 2560 - 2300;
	}
	cr_assert(ramped, "no escalation in the second half of the timeout");
	cr_assert_not_null(strstr(d.reason, "half of the 4 s completion "
	    "timeout is gone"), "%s", d.reason);
	LEAK_CHECK();
}

/* Nova: the step delay is the per-GiB delay times the data size. */
Test(converge, ramp_delay_scales_with_data)
{
	cr_assert_eq(converge_ramp_delay_ms(1024 * MiB, 0), 75000);
	cr_assert_eq(converge_ramp_delay_ms(128 * MiB, 0), 9375);
	cr_assert_eq(converge_ramp_delay_ms(128 * MiB, 18750), 2343);
	cr_assert_eq(converge_ramp_delay_ms(0, 0), 1, "never a 0 ms step");
	cr_assert_eq(converge_ramp_delay_ms(UINT64_MAX, UINT32_MAX) > 0, 1);
}

/* Without baseline_ramp the baseline keeps its target: the bare rule. */
Test(converge, bare_baseline_never_ramps)
{
	struct converge_policy		p = { BASELINE,
	    .downtime_ceiling_ms = 1000, .ramp_delay_ms_per_gib = 1 };
	struct converge			c;
	struct converge_obs		o = { .read_interval_ms = 100,
	    .new_pages = 102400, .dirty_pages = 102400,
	    .sent_bytes = 10 * MiB, .send_us = 100000,
	    .total_bytes = 16 * MiB };
	struct converge_decision	d;
	int				i;

	converge_init(&c, &p);
	for (i = 1; i <= 50; i++) {
		o.iteration = (uint32_t)i;
		o.now_ms = (uint64_t)i * 1000;
		cr_assert_eq(converge_decide(&c, &o, &d), CONVERGE_ITERATE);
		cr_assert_eq(d.target_ms, 300);
	}
}

Test(converge, drain_interval_halves_on_overflow)
{
	cr_assert_eq(converge_drain_interval(0, 0), CONVERGE_DRAIN_MS);
	cr_assert_eq(converge_drain_interval(200, 0), 200);
	cr_assert_eq(converge_drain_interval(200, 1), 100);
	cr_assert_eq(converge_drain_interval(15, 1), CONVERGE_DRAIN_MIN_MS);
	cr_assert_eq(converge_drain_interval(CONVERGE_DRAIN_MIN_MS, 1),
	    CONVERGE_DRAIN_MIN_MS);
	LEAK_CHECK();
}

Test(converge, round_delay)
{
	cr_assert_eq(converge_round_delay(500, CONVERGE_DRAIN_MS, 0), 500);
	/* a device that overflowed: never longer than the drain interval */
	cr_assert_eq(converge_round_delay(500, 50, 0), 50);
	cr_assert_eq(converge_round_delay(20, 50, 0), 20);
	/* waiting for the orchestrator's Switchover */
	cr_assert_eq(converge_round_delay(0, CONVERGE_DRAIN_MS, 1),
	    CONVERGE_READY_DELAY_MS);
	cr_assert_eq(converge_round_delay(900, CONVERGE_DRAIN_MS, 1), 900);
	LEAK_CHECK();
}
