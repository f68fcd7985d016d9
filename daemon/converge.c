/*
 * converge.c: adaptive pre-copy convergence and QEMU's rule as a baseline.
 * The model, the ladder and the constants are explained in converge.h.
 *
 * Pure: no I/O and no logging here; the engine logs each decision (its
 * reason names the numbers), so a replayed trace gives the same output.
 */
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "converge.h"
#include "fmt.h"

#define DEFAULT_PAGE	4096
#define UNKNOWN_MS	UINT64_MAX

/* What a switchover now would cost, as predicted. */
struct pred {
	double		bw;		/* bytes per ms used; 0: none */
	double		dirty;		/* bytes per ms */
	uint64_t	remaining;
	uint64_t	deferred;
	uint64_t	unseen;
	uint64_t	moving;		/* remaining + deferred + unseen */
	uint64_t	state;
	uint64_t	cost_ms;
	int		cost_default;
	uint64_t	downtime_ms;	/* UNKNOWN_MS: cannot predict */
	uint64_t	floor_ms;	/* the part no round can reduce */
	uint64_t	need_bps;
};

static const char *action_names[] = {
	[CONVERGE_ITERATE] = "iterate",
	[CONVERGE_SWITCHOVER] = "switchover",
	[CONVERGE_REQUEST_BANDWIDTH] = "request-bandwidth",
	[CONVERGE_DEFER_HOT] = "defer-hot",
	[CONVERGE_RAMP_DOWNTIME] = "ramp-downtime",
	[CONVERGE_FORCE_SWITCHOVER] = "force-switchover",
	[CONVERGE_ABORT] = "abort",
};

const char *
converge_action_name(enum converge_action a)
{
	if ((unsigned int)a >= sizeof action_names / sizeof action_names[0])
		return ("unknown");
	return (action_names[a]);
}

const char *
converge_kind_name(enum converge_kind k)
{
	return (k == CONVERGE_KIND_BASELINE ? "baseline" : "adaptive");
}

int
converge_action_iterates(enum converge_action a)
{
	return (a == CONVERGE_ITERATE || a == CONVERGE_REQUEST_BANDWIDTH ||
	    a == CONVERGE_DEFER_HOT || a == CONVERGE_RAMP_DOWNTIME);
}

int
converge_action_switches(enum converge_action a)
{
	return (a == CONVERGE_SWITCHOVER || a == CONVERGE_FORCE_SWITCHOVER);
}

/*
 * snprintf for reasons: a reason cut short is harmless, so truncation is
 * not worth a warning at every call (vsnprintf is not checked by gcc).
 */
static void say(char *, size_t, const char *, ...)
    __attribute__((format(printf, 3, 4)));

static void
say(char *buf, size_t len, const char *fmt, ...)
{
	va_list	ap;

	va_start(ap, fmt);
	vsnprintf(buf, len, fmt, ap);
	va_end(ap);
}

/* ---------------------------------------------------------------- numbers */

/* double to uint64 without the undefined conversion of out-of-range values. */
static uint64_t
d2u(double x)
{
	if (!(x > 0.0))
		return (0);
	if (x >= 18446744073709549568.0)
		return (UINT64_MAX);
	return ((uint64_t)x);
}

static uint64_t
sat_add(uint64_t a, uint64_t b)
{
	return (a > UINT64_MAX - b ? UINT64_MAX : a + b);
}

static uint64_t
sat_mul(uint64_t a, uint64_t b)
{
	if (a != 0 && b > UINT64_MAX / a)
		return (UINT64_MAX);
	return (a * b);
}

/* Rates are kept per millisecond; reasons show them per second. */
static const char *
fmt_rate_ms(char *buf, size_t len, double bytes_per_ms)
{
	return (fmt_rate(buf, len, bytes_per_ms * 1000));
}

static const char *
fmt_ms(char *buf, size_t len, uint64_t ms)
{
	if (ms == UNKNOWN_MS)
		say(buf, len, "unknown");
	else
		say(buf, len, "%llu ms", (unsigned long long)ms);
	return (buf);
}

/* ---------------------------------------------------------------- setup */

/* Step i of the linear ramp from max_downtime to the ceiling. */
static uint32_t
ramp_target(const struct converge *c, uint32_t step)
{
	return (c->pol.max_downtime_ms + (uint32_t)(((uint64_t)(c->ceiling_ms -
	    c->pol.max_downtime_ms) * step) / CONVERGE_RAMP_STEPS));
}

static void
apply_policy(struct converge *c, const struct converge_policy *p)
{
	struct converge_policy	*q = &c->pol;
	uint32_t		 step;

	*q = *p;
	if (q->kind != CONVERGE_KIND_BASELINE)
		q->kind = CONVERGE_KIND_ADAPTIVE;
	if (q->max_downtime_ms == 0)
		q->max_downtime_ms = CONVERGE_DEFAULT_DOWNTIME_MS;
	c->ceiling_ms = q->downtime_ceiling_ms;
	if (c->ceiling_ms < q->max_downtime_ms ||
	    (q->kind == CONVERGE_KIND_BASELINE && !q->baseline_ramp))
		c->ceiling_ms = q->max_downtime_ms;
	c->forced_ms = q->forced_downtime_ms;
	if (c->forced_ms == 0)
		c->forced_ms = c->ceiling_ms > UINT32_MAX / 2 ?
		    UINT32_MAX : 2 * c->ceiling_ms;

	/* Ramp progress survives a policy change; the step is re-derived. */
	step = c->ramp_step > CONVERGE_RAMP_STEPS ?
	    CONVERGE_RAMP_STEPS : c->ramp_step;
	c->target_ms = ramp_target(c, step);
}

void
converge_init(struct converge *c, const struct converge_policy *p)
{
	memset(c, 0, sizeof *c);
	apply_policy(c, p);
	c->best_bytes = UINT64_MAX;
	c->progress_low = UINT64_MAX;
}

uint64_t
converge_ramp_delay_ms(uint64_t data_bytes, uint32_t per_gib_ms)
{
	double	ms;

	if (per_gib_ms == 0)
		per_gib_ms = CONVERGE_NOVA_DELAY_MS_PER_GIB;
	ms = (double)per_gib_ms * (double)data_bytes / (1024.0 * 1024 * 1024);
	return (ms < 1.0 ? 1 : d2u(ms));
}

void
converge_set_policy(struct converge *c, const struct converge_policy *p)
{
	apply_policy(c, p);
}

/* ---------------------------------------------------------------- measure */

static void
measure_bandwidth(struct converge *c, const struct converge_obs *o)
{
	double	sample;
	int	starved = o->starved_pct >= CONVERGE_STARVED_PCT;

	c->starved_sample = 0.0;
	if (starved) {
		if (c->starved_run < UINT32_MAX)
			c->starved_run++;
	} else
		c->starved_run = 0;
	if (o->send_us == 0)
		return;		/* nothing was sent: no sample */

	/* The baseline takes the last iteration as it is (QEMU). */
	c->last_bw_raw = (double)o->sent_bytes * 1000.0 / (double)o->send_us;

	/* Short sends are latency, not bandwidth: accumulate them. */
	c->acc_bytes = sat_add(c->acc_bytes, o->sent_bytes);
	c->acc_us = sat_add(c->acc_us, o->send_us);
	if (c->acc_us < CONVERGE_MIN_SAMPLE_US &&
	    c->acc_bytes < CONVERGE_MIN_SAMPLE_BYTES)
		return;
	sample = (double)c->acc_bytes * 1000.0 / (double)c->acc_us;
	c->acc_bytes = c->acc_us = 0;
	if (!c->have_bw) {
		c->bw_ewma = c->bw_last = sample;
		c->have_bw = 1;
		return;
	}
	/*
	 * A starved round's low sample is the host's, not the link's: set
	 * aside, unless the host has stayed busy for rounds; then only the
	 * EWMA takes it (converge.h).
	 */
	if (starved && sample < c->bw_ewma) {
		if (c->starved_run < CONVERGE_STARVED_ROUNDS) {
			c->starved_sample = sample;
			return;
		}
		c->bw_ewma = CONVERGE_BW_ALPHA * sample +
		    (1.0 - CONVERGE_BW_ALPHA) * c->bw_ewma;
		if (c->bw_last > c->bw_ewma)
			c->bw_last = c->bw_ewma;
		return;
	}
	c->bw_ewma = CONVERGE_BW_ALPHA * sample +
	    (1.0 - CONVERGE_BW_ALPHA) * c->bw_ewma;
	c->bw_last = sample;
}

/*
 * Least squares of ln(pages) on ln(interval) over the kept reads (both
 * are > 0: only reads with an interval and new pages are kept).
 */
static void
fit_growth(struct converge *c)
{
	double		lt[CONVERGE_HIST], lp[CONVERGE_HIST];
	double		mt = 0, mp = 0, sxx = 0, sxy = 0, syy = 0, tmin, tmax, k;
	unsigned int	i, n = c->nhist;

	c->growth_known = 0;
	if (n < 3)
		return;
	tmin = tmax = c->hist_t[0];
	for (i = 0; i < n; i++) {
		if (c->hist_t[i] < tmin)
			tmin = c->hist_t[i];
		if (c->hist_t[i] > tmax)
			tmax = c->hist_t[i];
		lt[i] = log(c->hist_t[i]);
		lp[i] = log(c->hist_p[i]);
		mt += lt[i];
		mp += lp[i];
	}
	/* Intervals too alike say nothing about the slope. */
	if (tmax < 1.5 * tmin)
		return;
	mt /= n;
	mp /= n;
	for (i = 0; i < n; i++) {
		sxx += (lt[i] - mt) * (lt[i] - mt);
		sxy += (lt[i] - mt) * (lp[i] - mp);
	}
	if (!(sxx > 0.0))
		return;
	k = sxy / sxx;
	/*
	 * A curve that explains little (R^2 < CONVERGE_FIT_MIN_R2: a burst,
	 * a phase change) would extrapolate nonsense to short intervals.
	 */
	for (i = 0; i < n; i++)
		syy += (lp[i] - mp) * (lp[i] - mp);
	if (syy > 0.0 && sxy * sxy / (sxx * syy) < CONVERGE_FIT_MIN_R2)
		return;
	if (k < 0.0)
		k = 0.0;
	if (k > 1.5)
		k = 1.5;
	c->growth_k = k;
	c->growth_a = exp(mp - k * mt);
	c->growth_known = 1;
}

/* The accumulated reads become a dirty-rate sample once long enough. */
static void
fold_dirty(struct converge *c)
{
	double	sample;

	if (c->dacc_ms < CONVERGE_MIN_SAMPLE_US / 1000)
		return;
	sample = (double)c->dacc_bytes / (double)c->dacc_ms;
	c->dacc_bytes = c->dacc_ms = 0;
	if (!c->have_dirty)
		c->dirty_ewma = sample;
	else
		c->dirty_ewma = CONVERGE_DIRTY_ALPHA * sample +
		    (1.0 - CONVERGE_DIRTY_ALPHA) * c->dirty_ewma;
	c->dirty_last = sample;
	c->have_dirty = 1;
}

static void
measure_dirty(struct converge *c, const struct converge_obs *o, uint32_t ps)
{
	uint64_t	pages = o->new_pages;

	/* a lost read marks every page: no measure of the device's rate */
	if (o->overflow)
		return;
	c->hot_frac = o->new_pages == 0 ? 0.0 :
	    (double)(o->hot_pages > o->new_pages ? o->new_pages : o->hot_pages) /
	    (double)o->new_pages;

	if (o->read_interval_ms == 0)
		return;		/* first read: no interval to divide by */
	c->dacc_bytes = sat_add(c->dacc_bytes, sat_mul(pages, ps));
	c->dacc_ms = sat_add(c->dacc_ms, o->read_interval_ms);
	fold_dirty(c);

	if (o->new_pages > 0) {
		c->hist_t[c->hist_next] = (double)o->read_interval_ms;
		c->hist_p[c->hist_next] = (double)o->new_pages;
		c->hist_next = (c->hist_next + 1) % CONVERGE_HIST;
		if (c->nhist < CONVERGE_HIST)
			c->nhist++;
		fit_growth(c);
	}
}

/* Distinct pages expected to be dirtied within t ms. */
static double
pages_within(const struct converge *c, double t, uint32_t ps)
{
	if (t <= 0.0)
		return (0.0);
	if (c->growth_known)
		return (c->growth_a * exp(c->growth_k * log(t)));
	if (!c->have_dirty)
		return (0.0);
	return ((c->dirty_ewma > c->dirty_last ? c->dirty_ewma : c->dirty_last) *
	    t / ps);
}

double
converge_wire_frac(const struct converge_obs *o)
{
	double	whole;

	whole = ((double)o->dirty_pages + (double)o->deferred_pages) *
	    (o->page_size ? o->page_size : DEFAULT_PAGE);
	if (o->dirty_wire_bytes == 0 || !(whole > 0.0) ||
	    (double)o->dirty_wire_bytes >= whole)
		return (1.0);
	return ((double)o->dirty_wire_bytes / whole);
}

static void
predict(struct converge *c, const struct converge_obs *o, uint32_t ps,
    uint32_t target_ms, struct pred *p)
{
	double		bw, unseen, overlap, total, known, frac;
	uint64_t	bytes;

	memset(p, 0, sizeof *p);
	/* bytes to send, not pages: deltas cost what they carry */
	frac = converge_wire_frac(o);
	p->remaining = d2u((double)sat_mul(o->dirty_pages, ps) * frac);
	p->deferred = d2u((double)sat_mul(o->deferred_pages, ps) * frac);
	p->state = o->state_bytes;

	if (o->switch_cost_ms > 0)
		p->cost_ms = o->switch_cost_ms;
	else {
		p->cost_ms = CONVERGE_COST_FIXED_MS +
		    d2u((double)o->state_bytes * 1000.0 / CONVERGE_LOAD_BPS);
		p->cost_default = 1;
	}

	bw = 0.0;
	if (c->have_bw)
		bw = c->bw_ewma < c->bw_last ? c->bw_ewma : c->bw_last;
	if (o->share_bps > 0 && bw > o->share_bps / 1000.0)
		bw = o->share_bps / 1000.0;
	if (c->pol.bandwidth_limit_bps > 0 &&
	    bw > c->pol.bandwidth_limit_bps / 1000.0)
		bw = c->pol.bandwidth_limit_bps / 1000.0;
	p->bw = bw;
	if (c->have_dirty)
		p->dirty = c->dirty_ewma > c->dirty_last ?
		    c->dirty_ewma : c->dirty_last;

	/*
	 * Pages dirtied after the read until the device stops; those that
	 * are rewrites of pages already in the known set cost nothing more.
	 */
	unseen = pages_within(c, (double)o->read_age_ms +
	    CONVERGE_STOP_WINDOW_MS, ps);
	known = (double)o->dirty_pages + (double)o->deferred_pages;
	overlap = unseen * c->hot_frac;
	if (overlap > known)
		overlap = known;
	unseen -= overlap;
	total = (double)(o->total_bytes ? o->total_bytes : UINT64_MAX);
	if (unseen * ps > total)
		unseen = total / ps;
	p->unseen = d2u(unseen * ps * frac);

	p->moving = sat_add(sat_add(p->remaining, p->deferred), p->unseen);
	bytes = sat_add(p->moving, p->state);
	if (bytes == 0)
		p->downtime_ms = p->floor_ms = p->cost_ms;
	else if (!(bw > 0.0) && p->moving == 0 &&
	    bytes <= CONVERGE_MIN_SAMPLE_BYTES) {
		/*
		 * No page ever had to move, so nothing measured the link, and
		 * only a small device state is left: waiting will not measure
		 * anything either. Carry it at the state load rate the cost
		 * already assumes.
		 */
		p->downtime_ms = p->floor_ms = sat_add(p->cost_ms,
		    d2u((double)bytes * 1000.0 / CONVERGE_LOAD_BPS + 0.999));
	} else if (bw > 0.0) {
		p->downtime_ms = sat_add(p->cost_ms,
		    d2u((double)bytes / bw + 0.999));
		/* Rounds shrink the remaining pages; not these. */
		p->floor_ms = sat_add(p->cost_ms, d2u((double)sat_add(
		    sat_add(p->state, p->deferred), p->unseen) / bw));
	} else
		p->downtime_ms = p->floor_ms = UNKNOWN_MS;

	/* Bandwidth that would carry it all within the target ... */
	if (target_ms > p->cost_ms && bytes > 0)
		p->need_bps = d2u((double)bytes * 1000.0 /
		    (double)(target_ms - p->cost_ms));
	/* ... and outrun the dirtying, or iterating cannot converge. */
	if (d2u(p->dirty * 1250.0) > p->need_bps)
		p->need_bps = d2u(p->dirty * 1250.0);
}

/* ---------------------------------------------------------------- decide */

static void
fill(struct converge *c, const struct converge_obs *o, const struct pred *p,
    struct converge_decision *d, enum converge_action a)
{
	d->action = a;
	d->iteration = o->iteration;
	d->at_ms = o->now_ms;
	d->defer_hot = c->defer_hot;
	d->predicted_downtime_ms = p->downtime_ms;
	d->dirty_rate_bps = d2u(p->dirty * 1000.0);
	d->bandwidth_bps = d2u(p->bw * 1000.0);
	d->remaining_bytes = p->moving;
	d->target_ms = c->target_ms;
	d->forced_bound_ms = c->forced_ms;
	d->need_bps = p->need_bps;
	d->near_switchover = converge_action_switches(a) ||
	    (p->downtime_ms != UNKNOWN_MS &&
	    p->downtime_ms <= 2 * (uint64_t)c->target_ms);
}

/* "predicted downtime 900 ms (cost 20 ms + 12.0 MiB at 250.0 MiB/s)" */
static void
describe(const struct pred *p, char *buf, size_t len)
{
	char	a[32], b[32], t[32];

	if (p->downtime_ms == UNKNOWN_MS)
		say(buf, len, "%s to move and no bandwidth",
		    fmt_bytes(a, sizeof a, (double)(p->moving + p->state)));
	else if (p->bw > 0.0)
		say(buf, len, "predicted downtime %s (%s %llu ms + %s at "
		    "%s)", fmt_ms(t, sizeof t, p->downtime_ms),
		    p->cost_default ? "estimated cost" : "cost",
		    (unsigned long long)p->cost_ms,
		    fmt_bytes(a, sizeof a, (double)(p->moving + p->state)),
		    fmt_rate_ms(b, sizeof b, p->bw));
	else
		say(buf, len, "predicted downtime %s (%s %llu ms, nothing "
		    "to move)", fmt_ms(t, sizeof t, p->downtime_ms),
		    p->cost_default ? "estimated cost" : "cost",
		    (unsigned long long)p->cost_ms);
}

/* Stall window: KubeVirt's 40 s scaled down to this job's bulk time. */
static uint64_t
stall_window_ms(const struct converge *c, const struct converge_obs *o)
{
	double	ms;

	if (!c->have_bw || !(c->bw_ewma > 0.0))
		return (CONVERGE_STALL_MAX_MS);
	ms = (double)o->total_bytes / c->bw_ewma;
	if (ms < CONVERGE_STALL_MIN_MS)
		ms = CONVERGE_STALL_MIN_MS;
	if (ms > CONVERGE_STALL_MAX_MS)
		ms = CONVERGE_STALL_MAX_MS;
	return (d2u(ms));
}

/* Progress restarts the window; an escalation also the fast-stall count. */
static void
reset_window(struct converge *c, const struct converge_obs *o, uint64_t bytes,
    int escalated)
{
	c->best_bytes = bytes;
	c->win_start_ms = o->now_ms;
	c->win_start_iter = o->iteration;
	if (escalated) {
		c->fast_stall = 0;
		c->floor_high = 0;
		c->stalled = 0;
		c->gap_pred = 0;
	}
}

/*
 * Progress too slow to matter: over a stall window (as long, as many
 * iterations) the prediction came down by less than it is still over the
 * target, so at that pace the next window will not get there either.
 * Slow steady progress restarts the 4 % window forever (a 50 % hot set at
 * 120 % of the link sat at 331 ms against 300 for 13 s). Returns the
 * prediction at the window's start when it was too slow, else 0.
 */
static uint64_t
too_slow(struct converge *c, const struct converge_obs *o,
    const struct pred *p, uint64_t win)
{
	uint64_t	start = c->gap_pred, gained;

	if (p->downtime_ms == UNKNOWN_MS || p->downtime_ms <= c->target_ms) {
		c->gap_pred = 0;
		return (0);
	}
	if (start == 0 || o->iteration < c->gap_start_iter +
	    CONVERGE_STALL_MIN_ITERS || o->now_ms < c->gap_start_ms + win) {
		if (start == 0) {
			c->gap_pred = p->downtime_ms;
			c->gap_start_ms = o->now_ms;
			c->gap_start_iter = o->iteration;
		}
		return (0);
	}
	gained = start > p->downtime_ms ? start - p->downtime_ms : 0;
	c->gap_pred = p->downtime_ms;
	c->gap_start_ms = o->now_ms;
	c->gap_start_iter = o->iteration;
	return (gained < p->downtime_ms - c->target_ms ? start : 0);
}

/* Updates the stall state; fills why with a sentence when stalled. */
static int
track_stall(struct converge *c, const struct converge_obs *o,
    const struct pred *p, char *why, size_t len)
{
	uint64_t	win = stall_window_ms(c, o), bytes, slow;
	double		dirty;
	char		a[32], b[32], r[32];

	/* All that would move at switchover: a shrinking state is progress. */
	bytes = sat_add(p->moving, p->state);
	if (c->best_bytes == UINT64_MAX ||
	    (double)bytes < (double)c->best_bytes *
	    (1.0 - CONVERGE_STALL_MARGIN_PCT / 100.0))
		reset_window(c, o, bytes, 0);

	/* A floor above the target that is not shrinking (by > 4 %). */
	if (p->floor_ms != UNKNOWN_MS && p->floor_ms > c->target_ms) {
		if (c->floor_high == 0 || (double)p->floor_ms <
		    (double)c->floor_best * (1.0 - CONVERGE_STALL_MARGIN_PCT /
		    100.0)) {
			c->floor_high = 0;
			c->floor_high_since = o->now_ms;
			c->floor_best = p->floor_ms;
		}
		c->floor_high++;
	} else
		c->floor_high = 0;

	/* Deferred hot pages are no longer resent: only the rest counts. */
	dirty = c->defer_hot ? p->dirty * (1.0 - c->hot_frac) : p->dirty;
	if (c->have_dirty && c->have_bw && dirty > 0.0 && dirty >= p->bw)
		c->fast_stall++;
	else
		c->fast_stall = 0;

	slow = too_slow(c, o, p, win);

	if (c->fast_stall >= CONVERGE_FAST_STALL_ITERS) {
		say(why, len, "the device dirties %s, at or above the "
		    "%s it can be sent at, for %u iterations",
		    fmt_rate_ms(a, sizeof a, dirty),
		    fmt_rate_ms(b, sizeof b, p->bw), c->fast_stall);
		c->stalled = 1;
	} else if (c->floor_high >= CONVERGE_FAST_STALL_ITERS &&
	    o->now_ms >= c->floor_high_since + CONVERGE_STALL_MIN_MS) {
		say(why, len, "the %llu ms no round can reduce (switchover "
		    "cost, device state, deferred pages) has exceeded the %u ms "
		    "target for %u iterations and %llu ms",
		    (unsigned long long)p->floor_ms, c->target_ms,
		    c->floor_high,
		    (unsigned long long)(o->now_ms - c->floor_high_since));
		c->stalled = 1;
	} else if (o->iteration >= c->win_start_iter +
	    CONVERGE_STALL_MIN_ITERS && o->now_ms >= c->win_start_ms + win) {
		say(why, len, "remaining %s has stayed within %d%% of its "
		    "best (%s) for %u iterations and %llu ms",
		    fmt_bytes(r, sizeof r, (double)bytes),
		    CONVERGE_STALL_MARGIN_PCT,
		    fmt_bytes(a, sizeof a, (double)c->best_bytes),
		    o->iteration - c->win_start_iter,
		    (unsigned long long)(o->now_ms - c->win_start_ms));
		c->stalled = 1;
	} else if (slow != 0) {
		say(why, len, "the prediction came down from %llu to %llu ms "
		    "in %llu ms, less than it is still over the %u ms target",
		    (unsigned long long)slow,
		    (unsigned long long)p->downtime_ms, (unsigned long long)win,
		    c->target_ms);
		c->stalled = 1;
	} else if (c->pol.completion_timeout_s > 0 &&
	    c->target_ms < c->ceiling_ms &&
	    p->downtime_ms != UNKNOWN_MS && p->downtime_ms > c->target_ms &&
	    o->now_ms * 2 >= (uint64_t)c->pol.completion_timeout_s * 1000) {
		/* slow progress restarts the window: the clock decides then */
		say(why, len, "half of the %u s completion timeout is gone and "
		    "%llu ms is still over the %u ms target",
		    c->pol.completion_timeout_s,
		    (unsigned long long)p->downtime_ms, c->target_ms);
		c->stalled = 1;
	} else
		c->stalled = 0;
	return (c->stalled);
}

/* Local minimum of remaining bytes: no worse than the recent best + 4 %. */
static int
at_local_minimum(const struct converge *c, uint64_t bytes)
{
	uint64_t	best = UINT64_MAX;
	unsigned int	i;

	for (i = 0; i < c->nprev; i++)
		if (c->prev_bytes[i] < best)
			best = c->prev_bytes[i];
	if (best == UINT64_MAX)
		return (1);
	return ((double)bytes <= (double)best *
	    (1.0 + CONVERGE_STALL_MARGIN_PCT / 100.0));
}

static void
remember(struct converge *c, uint64_t bytes)
{
	memmove(&c->prev_bytes[1], &c->prev_bytes[0],
	    sizeof c->prev_bytes - sizeof c->prev_bytes[0]);
	c->prev_bytes[0] = bytes;
	if (c->nprev < sizeof c->prev_bytes / sizeof c->prev_bytes[0])
		c->nprev++;
}

/*
 * Rung 4: completion timeout, max_iterations, or a stall with nothing left
 * to try. Forced switchover only if the job allows it and the prediction
 * fits the bound; a timeout or stall waits a few iterations for a local
 * minimum (and for the prediction to fit), max_iterations does not.
 */
static enum converge_action
terminal(struct converge *c, const struct converge_obs *o,
    const struct pred *p, const char *why, int hard, int grace,
    struct converge_decision *d)
{
	char		 desc[160];
	const char	*wait;
	int		 fits, waited;

	if (!c->terminal) {
		c->terminal = 1;
		c->terminal_iter = o->iteration;
		say(c->terminal_why, sizeof c->terminal_why, "%s", why);
	}
	waited = (int)(o->iteration - c->terminal_iter);
	describe(p, desc, sizeof desc);
	fits = p->downtime_ms != UNKNOWN_MS && p->downtime_ms <= c->forced_ms;

	if (!c->pol.timeout_force) {
		fill(c, o, p, d, CONVERGE_ABORT);
		say(d->reason, sizeof d->reason, "%s and the timeout action "
		    "is abort (%s, target %u ms)", why, desc, c->target_ms);
		return (d->action);
	}
	if (fits && (hard || !grace || waited >= CONVERGE_FORCE_GRACE_ITERS ||
	    at_local_minimum(c, p->moving))) {
		fill(c, o, p, d, CONVERGE_FORCE_SWITCHOVER);
		say(d->reason, sizeof d->reason, "%s: forcing switchover, "
		    "%s within the forced bound %u ms", why, desc, c->forced_ms);
		return (d->action);
	}
	if (hard || !grace || waited >= CONVERGE_FORCE_GRACE_ITERS) {
		fill(c, o, p, d, CONVERGE_ABORT);
		say(d->reason, sizeof d->reason, "%s and %s exceeds the "
		    "forced bound %u ms: aborting", why, desc, c->forced_ms);
		return (d->action);
	}
	wait = fits ? "a local minimum of remaining bytes" :
	    "the prediction to fit the forced bound";
	fill(c, o, p, d, CONVERGE_ITERATE);
	say(d->reason, sizeof d->reason, "%s: waiting up to %d more "
	    "iterations for %s (%s, forced bound %u ms)", why,
	    CONVERGE_FORCE_GRACE_ITERS - waited, wait, desc, c->forced_ms);
	return (d->action);
}

/*
 * KubeVirt's progress timeout: the bytes to move at switchover made no new
 * low (its progressWatermark) for progress_timeout_s. Fills why.
 */
static int
progress_timed_out(struct converge *c, const struct converge_obs *o,
    uint64_t bytes, char *why, size_t len)
{
	char	a[32];

	if (bytes < c->progress_low) {
		c->progress_low = bytes;
		c->progress_at_ms = o->now_ms;
		return (0);
	}
	if (c->pol.progress_timeout_s == 0 || o->now_ms <
	    c->progress_at_ms + (uint64_t)c->pol.progress_timeout_s * 1000)
		return (0);
	say(why, len, "no progress for the %u s progress timeout: %s to move "
	    "has not gone below its low of %llu ms ago",
	    c->pol.progress_timeout_s, fmt_bytes(a, sizeof a,
	    (double)c->progress_low),
	    (unsigned long long)(o->now_ms - c->progress_at_ms));
	return (1);
}

/* KubeVirt aborts on a stall whatever the timeout action says. */
static enum converge_action
abort_no_progress(struct converge *c, const struct converge_obs *o,
    const struct pred *p, const char *why, struct converge_decision *d)
{
	char	desc[160];

	describe(p, desc, sizeof desc);
	fill(c, o, p, d, CONVERGE_ABORT);
	say(d->reason, sizeof d->reason, "%s: aborting (%s, target %u ms)",
	    why, desc, c->target_ms);
	return (d->action);
}

/* Hard stops both policies obey; fills why and returns non-zero. */
static int
limits_reached(const struct converge *c, const struct converge_obs *o,
    char *why, size_t len, int *hard)
{
	if (c->pol.max_iterations > 0 &&
	    o->iteration >= c->pol.max_iterations) {
		say(why, len, "iteration %u reached max_iterations %u",
		    o->iteration, c->pol.max_iterations);
		*hard = 1;
		return (1);
	}
	if (o->deadline || (c->pol.completion_timeout_s > 0 &&
	    o->now_ms >= (uint64_t)c->pol.completion_timeout_s * 1000)) {
		say(why, len, "completion timeout %u s reached at %llu ms",
		    c->pol.completion_timeout_s,
		    (unsigned long long)o->now_ms);
		/* past the engine's deadline there is no time to wait */
		*hard = o->deadline;
		return (1);
	}
	return (0);
}

/*
 * How long to wait before the next round. Only when no round can get under
 * the target (its floor is above it: the rounds just keep the set fresh
 * until the ladder acts) and the dirty set does not grow linearly with the
 * interval (rewrites coalesce while we wait); see converge.h.
 */
static uint64_t
choose_delay(const struct converge *c, const struct converge_obs *o,
    const struct pred *p, char *why, size_t len)
{
	double	send_ms, delay, left;

	why[0] = '\0';

	/* Nothing to send: another round would only re-read the log. */
	if (o->dirty_pages == 0) {
		delay = c->target_ms / 2 < CONVERGE_IDLE_DELAY_MS ?
		    c->target_ms / 2 : CONVERGE_IDLE_DELAY_MS;
		if (delay < 1.0)
			delay = 1.0;
		say(why, len, "; nothing to send: reading again in %llu ms",
		    (unsigned long long)d2u(delay));
		return (d2u(delay));
	}
	/* Close: more rounds may get under the target; don't wait then. */
	if (p->downtime_ms == UNKNOWN_MS || !(p->bw > 0.0) ||
	    p->floor_ms <= c->target_ms)
		return (0);
	/* Linear growth: every page is sent once however long we wait. */
	if (c->growth_known && c->growth_k >= CONVERGE_LINEAR_K)
		return (0);

	send_ms = (double)p->remaining / p->bw;
	delay = (double)c->target_ms - send_ms;
	if (delay > CONVERGE_MAX_DELAY_MS)
		delay = CONVERGE_MAX_DELAY_MS;
	if (c->pol.completion_timeout_s > 0) {
		left = (double)c->pol.completion_timeout_s * 1000.0 -
		    (double)o->now_ms;
		if (delay > left / 10.0)
			delay = left / 10.0;
	}
	if (delay < 1.0)
		return (0);
	if (c->growth_known)
		say(why, len, "; waiting %llu ms first: %llu ms of it no "
		    "round can reduce, and the dirty set grows as "
		    "interval^%.2f, so rewrites coalesce",
		    (unsigned long long)d2u(delay),
		    (unsigned long long)p->floor_ms, c->growth_k);
	else
		say(why, len, "; waiting %llu ms first: %llu ms of it no "
		    "round can reduce", (unsigned long long)d2u(delay),
		    (unsigned long long)p->floor_ms);
	return (d2u(delay));
}

/*
 * No dirty tracker: every round resends all of memory, so no round brings
 * the switchover closer. Take the ceiling at once if it fits, else the
 * terminal rung (force within its bound, or abort).
 */
static enum converge_action
decide_untracked(struct converge *c, const struct converge_obs *o,
    const struct pred *p, struct converge_decision *d)
{
	const char	*what;
	char		 desc[160], why[200];

	what = o->untracked == CONVERGE_ALL_DIRTY ? "the device's dirty "
	    "tracker reports every mapped page dirty (type1 without pinning)" :
	    "the device has no dirty tracker";
	describe(p, desc, sizeof desc);
	if (p->downtime_ms != UNKNOWN_MS && p->downtime_ms <= c->ceiling_ms) {
		c->target_ms = c->ceiling_ms;
		fill(c, o, p, d, CONVERGE_SWITCHOVER);
		say(d->reason, sizeof d->reason, "%s: every round resends all "
		    "memory, so iterating gains nothing; %s is within the %u "
		    "ms ceiling", what, desc, c->ceiling_ms);
		return (d->action);
	}
	if (p->downtime_ms == UNKNOWN_MS && o->iteration < 2) {
		/* one round to measure the bandwidth: no prediction yet */
		fill(c, o, p, d, CONVERGE_ITERATE);
		say(d->reason, sizeof d->reason, "%s; %s: one round to measure",
		    what, desc);
		return (d->action);
	}
	say(why, sizeof why, "%s, iterating gains nothing and the ceiling is "
	    "%u ms", what, c->ceiling_ms);
	return (terminal(c, o, p, why, 1, 0, d));
}

static enum converge_action
decide_adaptive(struct converge *c, const struct converge_obs *o,
    uint32_t ps, struct converge_decision *d)
{
	struct pred	p;
	char		desc[160], why[200], dly[128], a[32], b[32], skip[80];
	uint32_t	old, old_step;
	int		hard = 0;

	predict(c, o, ps, c->target_ms, &p);
	describe(&p, desc, sizeof desc);

	/* Switch over whenever it fits, including after a terminal wait. */
	if (p.downtime_ms != UNKNOWN_MS && p.downtime_ms <= c->target_ms) {
		fill(c, o, &p, d, CONVERGE_SWITCHOVER);
		say(d->reason, sizeof d->reason, "%s is within the %u ms "
		    "target", desc, c->target_ms);
		return (d->action);
	}

	if (progress_timed_out(c, o, sat_add(p.moving, p.state), why,
	    sizeof why))
		return (abort_no_progress(c, o, &p, why, d));
	if (limits_reached(c, o, why, sizeof why, &hard))
		return (terminal(c, o, &p, why, hard, 1, d));
	if (c->terminal)
		return (terminal(c, o, &p, c->terminal_why, 0, 1, d));
	if (o->untracked)
		return (decide_untracked(c, o, &p, d));

	if (track_stall(c, o, &p, why, sizeof why)) {
		/* Rung 1: more bandwidth, if the share is what limits us. */
		if (!c->asked_bw && o->share_bps > 0 &&
		    p.need_bps > o->share_bps &&
		    (c->pol.bandwidth_limit_bps == 0 ||
		    c->pol.bandwidth_limit_bps > o->share_bps)) {
			c->asked_bw = 1;
			reset_window(c, o, sat_add(p.moving, p.state), 1);
			fill(c, o, &p, d, CONVERGE_REQUEST_BANDWIDTH);
			say(d->reason, sizeof d->reason, "%s; %s: asking "
			    "for %s (share %s) to meet the %u ms target", why,
			    desc, fmt_rate_ms(a, sizeof a, p.need_bps / 1000.0),
			    fmt_rate_ms(b, sizeof b, o->share_bps / 1000.0),
			    c->target_ms);
			return (d->action);
		}
		/* Rung 2: stop resending the hot set every round. */
		if (!c->defer_hot && o->hot_pages > 0 &&
		    c->hot_frac * 100.0 >= CONVERGE_HOT_MIN_PCT) {
			c->defer_hot = 1;
			reset_window(c, o, sat_add(p.moving, p.state), 1);
			fill(c, o, &p, d, CONVERGE_DEFER_HOT);
			say(d->reason, sizeof d->reason, "%s; %.0f%% of "
			    "the last read (%llu pages) was dirty in the read "
			    "before too: deferring hot pages to stop-copy (%s)",
			    why, c->hot_frac * 100.0,
			    (unsigned long long)o->hot_pages, desc);
			return (d->action);
		}
		/* Rung 3: one step of the downtime target. */
		if (c->ramp_step < CONVERGE_RAMP_STEPS &&
		    c->ceiling_ms > c->pol.max_downtime_ms) {
			if (o->iteration < CONVERGE_RAMP_FIRST_ITER) {
				fill(c, o, &p, d, CONVERGE_ITERATE);
				say(d->reason, sizeof d->reason, "%s; the "
				    "target ramps from iteration %d on (%s)",
				    why, CONVERGE_RAMP_FIRST_ITER, desc);
				return (d->action);
			}
			old = c->target_ms;
			old_step = c->ramp_step;
			/* Steps below the floor cannot help: skip them. */
			do {
				c->ramp_step++;
				c->target_ms = ramp_target(c, c->ramp_step);
			} while (c->ramp_step < CONVERGE_RAMP_STEPS &&
			    p.floor_ms != UNKNOWN_MS &&
			    c->target_ms < p.floor_ms);
			reset_window(c, o, sat_add(p.moving, p.state), 1);
			skip[0] = '\0';
			if (c->ramp_step > old_step + 1)
				say(skip, sizeof skip, ", %u steps below the "
				    "%llu ms no round can reduce skipped",
				    c->ramp_step - old_step - 1,
				    (unsigned long long)p.floor_ms);
			if (p.downtime_ms != UNKNOWN_MS &&
			    p.downtime_ms <= c->target_ms) {
				fill(c, o, &p, d, CONVERGE_SWITCHOVER);
				say(d->reason, sizeof d->reason, "%s; "
				    "target raised from %u to %u ms (step %u "
				    "of %d%s) and %s fits it", why, old,
				    c->target_ms, c->ramp_step,
				    CONVERGE_RAMP_STEPS, skip, desc);
				return (d->action);
			}
			fill(c, o, &p, d, CONVERGE_RAMP_DOWNTIME);
			say(d->reason, sizeof d->reason, "%s; raising the "
			    "downtime target from %u to %u ms (step %u of %d, "
			    "ceiling %u ms%s); %s", why, old, c->target_ms,
			    c->ramp_step, CONVERGE_RAMP_STEPS, c->ceiling_ms,
			    skip, desc);
			return (d->action);
		}
		/* Rung 4: nothing left to try. */
		return (terminal(c, o, &p, why, 0, 1, d));
	}

	fill(c, o, &p, d, CONVERGE_ITERATE);
	if (p.downtime_ms == UNKNOWN_MS) {
		/* an idle round must not spin (choose_delay: nothing to send) */
		d->delay_ms = choose_delay(c, o, &p, dly, sizeof dly);
		say(d->reason, sizeof d->reason, "%s%s: cannot predict "
		    "the downtime; iterating%s", desc, c->have_bw ?
		    " (the last measurement was zero: link stalled?)" :
		    " measured yet", dly);
		return (d->action);
	}
	d->delay_ms = choose_delay(c, o, &p, dly, sizeof dly);
	say(d->reason, sizeof d->reason, "%s exceeds the %u ms target; "
	    "iterating%s", desc, c->target_ms, dly);
	return (d->action);
}

/*
 * Nova's ramp (migration.downtime_steps): by wall clock, step i at i x the
 * step delay. Returns the step count it moved up (0: none).
 */
static uint32_t
nova_ramp(struct converge *c, const struct converge_obs *o)
{
	uint64_t	delay, step;
	uint32_t	old = c->ramp_step;

	if (!c->pol.baseline_ramp || c->ceiling_ms <= c->pol.max_downtime_ms)
		return (0);
	delay = converge_ramp_delay_ms(sat_add(o->total_bytes, o->state_bytes),
	    c->pol.ramp_delay_ms_per_gib);
	step = o->now_ms / delay;
	if (step > CONVERGE_RAMP_STEPS)
		step = CONVERGE_RAMP_STEPS;
	if (step <= c->ramp_step)
		return (0);
	c->ramp_step = (uint32_t)step;
	c->target_ms = ramp_target(c, c->ramp_step);
	return (c->ramp_step - old);
}

/* QEMU's migration_iteration_run(): pending < bandwidth x limit. */
static enum converge_action
decide_baseline(struct converge *c, const struct converge_obs *o,
    uint32_t ps, struct converge_decision *d)
{
	struct pred	p;
	char		a[32], b[32], why[200], ramp[96];
	double		threshold;
	uint64_t	pending;
	uint32_t	old = c->target_ms, steps;
	int		hard = 0;

	steps = nova_ramp(c, o);
	ramp[0] = '\0';
	if (steps > 0)
		say(ramp, sizeof ramp, " (target raised from %u ms by the "
		    "time ramp, step %u of %d)", old, c->ramp_step,
		    CONVERGE_RAMP_STEPS);

	memset(&p, 0, sizeof p);
	p.remaining = sat_mul(o->dirty_pages, ps);
	p.deferred = sat_mul(o->deferred_pages, ps);
	p.moving = sat_add(p.remaining, p.deferred);
	p.state = o->state_bytes;
	p.bw = c->last_bw_raw;
	if (c->have_dirty)
		p.dirty = c->dirty_last;
	pending = sat_add(p.moving, p.state);
	threshold = p.bw * (double)c->target_ms;
	if (pending == 0)
		p.downtime_ms = 0;
	else if (p.bw > 0.0)
		p.downtime_ms = d2u((double)pending / p.bw + 0.999);
	else
		p.downtime_ms = UNKNOWN_MS;
	if (c->target_ms > 0 && pending > 0)
		p.need_bps = d2u((double)pending * 1000.0 / c->target_ms);

	if (pending == 0 || (double)pending < threshold) {
		fill(c, o, &p, d, CONVERGE_SWITCHOVER);
		say(d->reason, sizeof d->reason, "pending %s is below "
		    "%s x %u ms%s (expected downtime %llu ms)",
		    fmt_bytes(a, sizeof a, (double)pending),
		    fmt_rate_ms(b, sizeof b, p.bw), c->target_ms, ramp,
		    (unsigned long long)p.downtime_ms);
		return (d->action);
	}
	if (progress_timed_out(c, o, pending, why, sizeof why))
		return (abort_no_progress(c, o, &p, why, d));
	if (limits_reached(c, o, why, sizeof why, &hard))
		return (terminal(c, o, &p, why, hard, 0, d));

	fill(c, o, &p, d, steps > 0 ? CONVERGE_RAMP_DOWNTIME :
	    CONVERGE_ITERATE);
	say(d->reason, sizeof d->reason, "pending %s is not below %s x "
	    "%u ms%s; iterating", fmt_bytes(a, sizeof a, (double)pending),
	    fmt_rate_ms(b, sizeof b, p.bw), c->target_ms, ramp);
	return (d->action);
}

/* The reason says when a starved round's sample was set aside. */
static void
note_starved(const struct converge *c, const struct converge_obs *o,
    struct converge_decision *d)
{
	char	r[32];
	size_t	n = strlen(d->reason);

	say(d->reason + n, sizeof d->reason - n, "; the round was starved "
	    "of CPU (%u%% waiting for one): its %s sample is the host's, not "
	    "the link's, set aside", o->starved_pct,
	    fmt_rate_ms(r, sizeof r, c->starved_sample));
}

enum converge_action
converge_decide(struct converge *c, const struct converge_obs *o,
    struct converge_decision *d)
{
	uint32_t	ps = o->page_size ? o->page_size : DEFAULT_PAGE;

	memset(d, 0, sizeof *d);
	measure_bandwidth(c, o);
	measure_dirty(c, o, ps);
	if (c->pol.kind == CONVERGE_KIND_BASELINE)
		decide_baseline(c, o, ps, d);
	else
		decide_adaptive(c, o, ps, d);
	if (c->starved_sample > 0.0 && c->pol.kind != CONVERGE_KIND_BASELINE)
		note_starved(c, o, d);
	remember(c, d->remaining_bytes);
	c->decisions++;
	c->last = *d;
	return (d->action);
}

uint64_t
converge_drain_interval(uint64_t cur_ms, int overflow)
{
	if (cur_ms == 0)
		cur_ms = CONVERGE_DRAIN_MS;
	if (!overflow || cur_ms <= CONVERGE_DRAIN_MIN_MS)
		return (cur_ms);
	cur_ms /= 2;
	return (cur_ms < CONVERGE_DRAIN_MIN_MS ? CONVERGE_DRAIN_MIN_MS : cur_ms);
}

uint64_t
converge_round_delay(uint64_t decided_ms, uint64_t drain_ms,
    int ready_waiting)
{
	uint64_t	d = decided_ms;

	/* a device that overflows its record buffer must not wait long */
	if (drain_ms != 0 && drain_ms < CONVERGE_DRAIN_MS && d > drain_ms)
		d = drain_ms;
	if (ready_waiting && d < CONVERGE_READY_DELAY_MS)
		d = CONVERGE_READY_DELAY_MS;
	return (d);
}
