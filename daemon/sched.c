/*
 * sched.c: admission under per-host and per-PF limits, and max-min fair
 * bandwidth shares with switchover jobs first. Pure; see sched.h for the
 * rules and the numbers. Job counts are small (tens), so the quadratic
 * loops (per-PF counting, insertion sort) are simpler than any index.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fmt.h"
#include "sched.h"
#include "util.h"

#define INF	UINT64_MAX

static const char *wait_names[] = {
	[SCHED_WAIT_NONE] = "none",
	[SCHED_WAIT_OUTGOING] = "host-outgoing-limit",
	[SCHED_WAIT_INCOMING] = "host-incoming-limit",
	[SCHED_WAIT_PF] = "pf-limit",
};

static const char *tier_names[] = {
	[SCHED_TIER_NONE] = "none",
	[SCHED_TIER_STOPCOPY] = "stop-copy",
	[SCHED_TIER_NEAR] = "near-switchover",
	[SCHED_TIER_ASKED] = "asked",
	[SCHED_TIER_BULK] = "pre-copy",
};

const char *
sched_wait_name(enum sched_wait w)
{
	if ((unsigned int)w >= nitems(wait_names))
		return ("unknown");
	return (wait_names[w]);
}

const char *
sched_tier_name(enum sched_tier t)
{
	if ((unsigned int)t >= nitems(tier_names))
		return ("unknown");
	return (tier_names[t]);
}

/* snprintf whose truncation is harmless (reasons): no warning per call. */
static void say(char *, size_t, const char *, ...)
    __attribute__((format(printf, 3, 4)));

static void
say(char *buf, size_t len, const char *fmt, ...)
{
	va_list	ap;

	if (buf == NULL || len == 0)
		return;
	va_start(ap, fmt);
	vsnprintf(buf, len, fmt, ap);
	va_end(ap);
}

static const char *
fmt_share(char *buf, size_t len, uint64_t bps)
{
	if (bps == INF) {
		say(buf, len, "unlimited");
		return (buf);
	}
	return (fmt_rate(buf, len, (double)bps));
}

static const char *
fmt_limit(char *buf, size_t len, uint32_t n)
{
	if (n == SCHED_NO_LIMIT)
		say(buf, len, "unlimited");
	else
		say(buf, len, "%u", n);
	return (buf);
}

void
sched_limits_default(struct sched_limits *l)
{
	memset(l, 0, sizeof *l);
	l->max_outgoing = SCHED_DEFAULT_MAX_OUTGOING;
	l->max_incoming = SCHED_DEFAULT_MAX_INCOMING;
	l->max_per_pf = SCHED_DEFAULT_MAX_PER_PF;
}

static void
effective_limits(const struct sched_limits *in, struct sched_limits *l)
{
	sched_limits_default(l);
	if (in == NULL)
		return;
	if (in->max_outgoing != 0)
		l->max_outgoing = in->max_outgoing;
	if (in->max_incoming != 0)
		l->max_incoming = in->max_incoming;
	if (in->max_per_pf != 0)
		l->max_per_pf = in->max_per_pf;
	l->bandwidth_bps = in->bandwidth_bps;
}

static int
is_running(const struct sched_job *j)
{
	return (j->state == SCHED_RUNNING || j->state == SCHED_NEAR_SWITCHOVER ||
	    j->state == SCHED_STOPCOPY);
}

static int
same_pf(const struct sched_job *a, const struct sched_job *b)
{
	return (a->pf != NULL && a->pf[0] != '\0' && b->pf != NULL &&
	    strcmp(a->pf, b->pf) == 0);
}

static int
validate(const struct sched_job *jobs, size_t n, char *err, size_t errlen)
{
	size_t	i, k;

	if (n > 0 && jobs == NULL) {
		say(err, errlen, "%zu jobs given without an array", n);
		return (-EINVAL);
	}
	for (i = 0; i < n; i++) {
		if ((unsigned int)jobs[i].state > SCHED_DONE) {
			say(err, errlen, "job %llu: unknown state %d",
			    (unsigned long long)jobs[i].id, (int)jobs[i].state);
			return (-EINVAL);
		}
		if ((unsigned int)jobs[i].dir > SCHED_INCOMING) {
			say(err, errlen, "job %llu: unknown direction %d",
			    (unsigned long long)jobs[i].id, (int)jobs[i].dir);
			return (-EINVAL);
		}
		for (k = 0; k < i; k++)
			if (jobs[k].id == jobs[i].id) {
				say(err, errlen, "job %llu: listed twice "
				    "(entries %zu and %zu)",
				    (unsigned long long)jobs[i].id, k, i);
				return (-EINVAL);
			}
	}
	return (0);
}

/* Admission order: priority high first, then arrival, then id. */
static int
before(const struct sched_job *a, const struct sched_job *b)
{
	if (a->priority != b->priority)
		return (a->priority > b->priority);
	if (a->seq != b->seq)
		return (a->seq < b->seq);
	return (a->id < b->id);
}

void
sched_queue_order(const struct sched_job *jobs, size_t n, size_t *idx,
    size_t *nq)
{
	size_t	i, k, q = 0;

	for (i = 0; i < n; i++) {
		if (jobs[i].state != SCHED_QUEUED)
			continue;
		/* Insertion sort: stable, and n is small. */
		for (k = q; k > 0 && before(&jobs[i], &jobs[idx[k - 1]]); k--)
			idx[k] = idx[k - 1];
		idx[k] = i;
		q++;
	}
	*nq = q;
}

int
sched_admit(const struct sched_limits *lim, const struct sched_job *jobs,
    size_t n, struct sched_admit *out, size_t *nstart, char *err,
    size_t errlen)
{
	struct sched_limits	 l;
	const struct sched_job	*j;
	size_t			*idx, nq, p, i, started = 0;
	uint32_t		 dir_count, pf_count, dir_max;
	char			 a[16], b[16];
	int			 error;

	if (nstart != NULL)
		*nstart = 0;
	if ((error = validate(jobs, n, err, errlen)) != 0)
		return (error);
	effective_limits(lim, &l);
	for (i = 0; i < n; i++) {
		memset(&out[i], 0, sizeof out[i]);
		out[i].id = jobs[i].id;
		if (jobs[i].state != SCHED_QUEUED)
			say(out[i].reason, sizeof out[i].reason, "%s",
			    jobs[i].state == SCHED_DONE ? "finished" : "running");
	}
	if (n == 0)
		return (0);

	idx = xreallocarray(NULL, n, sizeof *idx);
	sched_queue_order(jobs, n, idx, &nq);
	for (p = 0; p < nq; p++) {
		j = &jobs[idx[p]];
		out[idx[p]].position = (uint32_t)p;

		/* Running jobs, and those started earlier in this pass. */
		dir_count = pf_count = 0;
		for (i = 0; i < n; i++) {
			if (!is_running(&jobs[i]) && !out[i].start)
				continue;
			if (jobs[i].dir == j->dir)
				dir_count++;
			if (same_pf(&jobs[i], j))
				pf_count++;
		}
		dir_max = j->dir == SCHED_OUTGOING ? l.max_outgoing :
		    l.max_incoming;

		if (dir_max != SCHED_NO_LIMIT && dir_count >= dir_max) {
			out[idx[p]].wait = j->dir == SCHED_OUTGOING ?
			    SCHED_WAIT_OUTGOING : SCHED_WAIT_INCOMING;
			say(out[idx[p]].reason, sizeof out[idx[p]].reason,
			    "queued at position %zu: all %u %s migration slots "
			    "of this host are in use", p, dir_max,
			    j->dir == SCHED_OUTGOING ? "outgoing" : "incoming");
		} else if (l.max_per_pf != SCHED_NO_LIMIT &&
		    pf_count >= l.max_per_pf) {
			out[idx[p]].wait = SCHED_WAIT_PF;
			say(out[idx[p]].reason, sizeof out[idx[p]].reason,
			    "queued at position %zu: all %u migration slots of "
			    "PF %s are in use", p, l.max_per_pf, j->pf);
		} else {
			out[idx[p]].start = 1;
			started++;
			say(out[idx[p]].reason, sizeof out[idx[p]].reason,
			    "starting: %u of %s %s slots and %u of %s slots of "
			    "PF %s were in use", dir_count,
			    fmt_limit(a, sizeof a, dir_max),
			    j->dir == SCHED_OUTGOING ? "outgoing" : "incoming",
			    pf_count, fmt_limit(b, sizeof b, l.max_per_pf),
			    j->pf != NULL && j->pf[0] != '\0' ? j->pf : "(none)");
		}
	}
	free(idx);
	if (nstart != NULL)
		*nstart = started;
	return (0);
}

/* ---------------------------------------------------------------- shares */

/*
 * Max-min fair: give each of the k jobs in set[] (indices into want[] and
 * got[]) up to want[i] more, sharing *budget equally among those still
 * wanting; what they leave is shared among the rest. Adds to got[].
 */
static void
water_fill(const size_t *set, size_t k, const uint64_t *want, uint64_t *got,
    uint64_t *budget)
{
	size_t		i, left, *order, m, t;
	uint64_t	share, give;

	if (k == 0 || *budget == 0)
		return;
	order = xreallocarray(NULL, k, sizeof *order);
	/* Smallest want first, so what one leaves goes to the others. */
	for (i = 0; i < k; i++) {
		for (m = i; m > 0 && want[set[order[m - 1]]] > want[set[i]]; m--)
			order[m] = order[m - 1];
		order[m] = i;
	}
	left = k;
	for (t = 0; t < k; t++) {
		i = set[order[t]];
		share = *budget / left;
		give = want[i] < share ? want[i] : share;
		got[i] += give;
		*budget -= give;
		left--;
	}
	free(order);
}

/* Each job's tier; counts the pre-copy ones (nlow) and the bulk ones. */
static void
shares_tiers(const struct sched_job *jobs, size_t n, struct sched_share *out,
    size_t *nlow, size_t *nbulk)
{
	const struct sched_job	*j;
	size_t			 i;

	*nlow = *nbulk = 0;
	for (i = 0; i < n; i++) {
		j = &jobs[i];
		memset(&out[i], 0, sizeof out[i]);
		out[i].id = j->id;
		if (!is_running(j) || j->dir != SCHED_OUTGOING) {
			say(out[i].reason, sizeof out[i].reason, "%s",
			    j->state == SCHED_QUEUED ? "queued" :
			    j->state == SCHED_DONE ? "finished" :
			    "incoming: receives only");
			continue;
		}
		out[i].sending = 1;
		if (j->state == SCHED_STOPCOPY)
			out[i].tier = SCHED_TIER_STOPCOPY;
		else if (j->state == SCHED_NEAR_SWITCHOVER)
			out[i].tier = SCHED_TIER_NEAR;
		else if (j->asked)
			out[i].tier = SCHED_TIER_ASKED;
		else
			out[i].tier = SCHED_TIER_BULK;
		if (out[i].tier == SCHED_TIER_ASKED ||
		    out[i].tier == SCHED_TIER_BULK)
			(*nlow)++;
		if (out[i].tier == SCHED_TIER_BULK)
			(*nbulk)++;
	}
}

/* No host limit: every sender gets its own limit (0: unlimited). */
static void
shares_unlimited(const struct sched_job *jobs, size_t n,
    struct sched_share *out)
{
	char	a[32];
	size_t	i;

	for (i = 0; i < n; i++) {
		if (!out[i].sending)
			continue;
		out[i].share_bps = jobs[i].limit_bps;
		if (jobs[i].limit_bps == 0)
			say(out[i].reason, sizeof out[i].reason,
			    "%s: no host limit, unlimited",
			    sched_tier_name(out[i].tier));
		else
			say(out[i].reason, sizeof out[i].reason,
			    "%s: no host limit, its own limit %s",
			    sched_tier_name(out[i].tier), fmt_share(a,
			    sizeof a, jobs[i].limit_bps));
	}
}

/*
 * Share B: floors for the pre-copy jobs first, then tiers 1-3 by need
 * (0 = unknown: as much as there is), tier 4 the rest, tier 5 leftovers to
 * anyone below its own limit. Fills got[] and floor[]; returns what the
 * urgent tiers (stop-copy, near switchover) took.
 */
static uint64_t
shares_fill(const struct sched_job *jobs, size_t n,
    const struct sched_share *out, uint64_t B, size_t nlow, uint64_t *got,
    uint64_t *floor)
{
	uint64_t	*want, budget = B, before_fill, taken_urgent = 0;
	size_t		*set, i, k;
	enum sched_tier	 tier;

	want = xreallocarray(NULL, n, sizeof *want);
	set = xreallocarray(NULL, n, sizeof *set);
	for (i = 0; i < n; i++) {
		want[i] = 0;
		if (!out[i].sending)
			continue;
		want[i] = jobs[i].limit_bps ? jobs[i].limit_bps : INF;
		if (out[i].tier == SCHED_TIER_ASKED ||
		    out[i].tier == SCHED_TIER_BULK) {
			floor[i] = MIN(B / SCHED_FLOOR_DIV,
			    B / (SCHED_FLOOR_TOTAL_DIV * (uint64_t)nlow));
			floor[i] = MIN(floor[i], want[i]);
			got[i] = floor[i];
			budget -= floor[i];
		}
	}
	for (tier = SCHED_TIER_STOPCOPY; tier <= SCHED_TIER_BULK; tier++) {
		k = 0;
		for (i = 0; i < n; i++) {
			if (!out[i].sending || out[i].tier != tier)
				continue;
			if (tier != SCHED_TIER_BULK && jobs[i].need_bps != 0)
				want[i] = MIN(want[i], jobs[i].need_bps);
			want[i] -= MIN(want[i], got[i]);
			set[k++] = i;
		}
		before_fill = budget;
		water_fill(set, k, want, got, &budget);
		if (tier == SCHED_TIER_STOPCOPY || tier == SCHED_TIER_NEAR)
			taken_urgent += before_fill - budget;
	}
	k = 0;
	for (i = 0; i < n; i++) {
		if (!out[i].sending)
			continue;
		want[i] = jobs[i].limit_bps ? jobs[i].limit_bps - MIN(
		    jobs[i].limit_bps, got[i]) : INF;
		set[k++] = i;
	}
	water_fill(set, k, want, got, &budget);
	free(want);
	free(set);
	return (taken_urgent);
}

/* Why a sender got its share (out->share_bps set). */
static void
shares_explain(const struct sched_job *j, struct sched_share *out,
    uint64_t B, uint64_t got, uint64_t floor, uint64_t taken_urgent,
    size_t nbulk)
{
	char	a[32], b[32], c[32];

	fmt_share(a, sizeof a, out->share_bps);
	fmt_share(c, sizeof c, B);
	switch (out->tier) {
	case SCHED_TIER_STOPCOPY:
	case SCHED_TIER_NEAR:
	case SCHED_TIER_ASKED:
		if (j->need_bps == 0)
			say(out->reason, sizeof out->reason, "%s first: need "
			    "unknown, gets %s of %s",
			    sched_tier_name(out->tier), a, c);
		else if (got >= j->need_bps)
			say(out->reason, sizeof out->reason, "%s first: needs "
			    "%s, gets %s", sched_tier_name(out->tier),
			    fmt_share(b, sizeof b, j->need_bps), a);
		else
			say(out->reason, sizeof out->reason, "%s first: needs "
			    "%s, gets only %s (%s)", sched_tier_name(out->tier),
			    fmt_share(b, sizeof b, j->need_bps), a,
			    j->limit_bps != 0 && got >= j->limit_bps ?
			    "its own limit" : "host limit shared");
		break;
	default:
		if (j->limit_bps != 0 && got >= j->limit_bps)
			say(out->reason, sizeof out->reason,
			    "pre-copy: its own limit %s", a);
		else if (taken_urgent > 0 && got <= floor)
			say(out->reason, sizeof out->reason, "pre-copy: floor "
			    "%s while switchovers take %s of %s", a,
			    fmt_share(b, sizeof b, taken_urgent), c);
		else
			say(out->reason, sizeof out->reason, "pre-copy: fair "
			    "share %s of the host's %s among %zu", a, c, nbulk);
		break;
	}
}

int
sched_shares(const struct sched_limits *lim, const struct sched_job *jobs,
    size_t n, struct sched_share *out, char *err, size_t errlen)
{
	struct sched_limits	 l;
	uint64_t		*got, *floor, taken_urgent;
	size_t			 i, nlow, nbulk;
	int			 error;

	if ((error = validate(jobs, n, err, errlen)) != 0)
		return (error);
	effective_limits(lim, &l);
	shares_tiers(jobs, n, out, &nlow, &nbulk);
	if (n == 0)
		return (0);
	if (l.bandwidth_bps == 0) {
		shares_unlimited(jobs, n, out);
		return (0);
	}
	got = xreallocarray(NULL, n, sizeof *got);
	floor = xreallocarray(NULL, n, sizeof *floor);
	memset(got, 0, n * sizeof *got);
	memset(floor, 0, n * sizeof *floor);
	taken_urgent = shares_fill(jobs, n, out, l.bandwidth_bps, nlow, got,
	    floor);
	for (i = 0; i < n; i++) {
		if (!out[i].sending)
			continue;
		/* 0 would read as "unlimited": a sending job gets >= 1. */
		out[i].share_bps = got[i] > 0 ? got[i] : 1;
		shares_explain(&jobs[i], &out[i], l.bandwidth_bps, got[i],
		    floor[i], taken_urgent, nbulk);
	}
	free(got);
	free(floor);
	return (0);
}

uint64_t
sched_window(uint64_t host_bytes, size_t nsending, uint64_t job_max,
    uint64_t job_min)
{
	uint64_t	w;

	w = host_bytes / (nsending > 0 ? nsending : 1);
	if (w > job_max)
		w = job_max;
	if (w < job_min)
		w = job_min;
	return (w);
}

int
sched_pump_may_send(unsigned int stopcopy_jobs, int final)
{
	return (final || stopcopy_jobs == 0);
}
