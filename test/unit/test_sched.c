/*
 * test_sched.c: table tests for daemon/sched.c. Each admission case is a
 * set of limits and jobs with, per job, whether it starts and why it
 * waits; each share case a host limit and jobs with the share expected.
 * Every row prints what it checks.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "sched.h"
#include "leakcheck.h"

#define MAXJ	16
#define M	1000000ULL	/* 1 MB/s, to keep the arithmetic readable */

/* ------------------------------------------------------------ admission */

struct aexp {
	int		start;
	enum sched_wait	wait;
	int		position;	/* -1: not checked */
};

struct acase {
	const char		*name;
	const char		*what;
	struct sched_limits	 lim;
	size_t			 n;
	struct sched_job	 jobs[MAXJ];
	struct aexp		 exp[MAXJ];
	size_t			 nstart;
};

#define OUT(i, st, p, pri, s)	{ .id = (i), .dir = SCHED_OUTGOING, \
				.state = (st), .pf = (p), .priority = (pri), \
				.seq = (s) }
#define IN(i, st, p, pri, s)	{ .id = (i), .dir = SCHED_INCOMING, \
				.state = (st), .pf = (p), .priority = (pri), \
				.seq = (s) }
#define RUN	SCHED_RUNNING
#define Q	SCHED_QUEUED
#define GO	{ 1, SCHED_WAIT_NONE, -1 }
#define NA	{ 0, SCHED_WAIT_NONE, -1 }
#define W(w, pos) { 0, (w), (pos) }
#define S(pos)	{ 1, SCHED_WAIT_NONE, (pos) }

static const struct acase acases[] = {
	{ "zero_jobs", "nothing to admit", { 0 }, 0, { { 0 } }, { NA }, 0 },
	{ "one_job", "one queued job, defaults, nothing running", { 0 }, 1,
	  { OUT(1, Q, "pf0", 0, 1) }, { S(0) }, 1 },
	{ "host_outgoing", "2 outgoing running (default limit 2): the third "
	  "waits on the host limit", { 0 }, 3,
	  { OUT(1, RUN, "pf0", 0, 1), OUT(2, RUN, "pf1", 0, 2),
	    OUT(3, Q, "pf2", 0, 3) },
	  { NA, NA, W(SCHED_WAIT_OUTGOING, 0) }, 0 },
	{ "host_outgoing_in_pass", "limit 2, three queued: the first two "
	  "start, the third waits for them", { 0 }, 3,
	  { OUT(1, Q, "pf0", 0, 1), OUT(2, Q, "pf1", 0, 2),
	    OUT(3, Q, "pf2", 0, 3) },
	  { S(0), S(1), W(SCHED_WAIT_OUTGOING, 2) }, 2 },
	{ "per_pf", "pf0 has 4 running (default limit 4, both directions "
	  "count): pf0 waits, pf1 behind it starts",
	  { .max_outgoing = 10 }, 6,
	  { OUT(1, RUN, "pf0", 0, 1), OUT(2, RUN, "pf0", 0, 2),
	    IN(3, RUN, "pf0", 0, 3), IN(4, RUN, "pf0", 0, 4),
	    OUT(5, Q, "pf0", 0, 5), OUT(6, Q, "pf1", 0, 6) },
	  { NA, NA, NA, NA, W(SCHED_WAIT_PF, 0), S(1) }, 1 },
	{ "incoming", "4 incoming running (default limit 4): incoming waits, "
	  "outgoing does not", { 0 }, 6,
	  { IN(1, RUN, "pf0", 0, 1), IN(2, RUN, "pf1", 0, 2),
	    IN(3, RUN, "pf2", 0, 3), IN(4, RUN, "pf3", 0, 4),
	    IN(5, Q, "pf4", 0, 5), OUT(6, Q, "pf5", 0, 6) },
	  { NA, NA, NA, NA, W(SCHED_WAIT_INCOMING, 0), S(1) }, 1 },
	{ "priority", "limit 2: priorities 1, 5, 3 queued: 5 and 3 start",
	  { 0 }, 3,
	  { OUT(1, Q, "a", 1, 1), OUT(2, Q, "b", 5, 2),
	    OUT(3, Q, "c", 3, 3) },
	  { W(SCHED_WAIT_OUTGOING, 2), S(0), S(1) }, 2 },
	{ "fifo", "equal priority, arrivals 30, 10, 20: 10 and 20 start",
	  { 0 }, 3,
	  { OUT(1, Q, "a", 0, 30), OUT(2, Q, "b", 0, 10),
	    OUT(3, Q, "c", 0, 20) },
	  { W(SCHED_WAIT_OUTGOING, 2), S(0), S(1) }, 2 },
	{ "pf_blocked_head_1", "per-PF 1: B (pf0, first) waits for A, C "
	  "(pf1) starts, D waits on the host", { .max_per_pf = 1 }, 4,
	  { OUT(1, RUN, "pf0", 0, 0), OUT(2, Q, "pf0", 0, 1),
	    OUT(3, Q, "pf1", 0, 2), OUT(4, Q, "pf2", 0, 3) },
	  { NA, W(SCHED_WAIT_PF, 0), S(1), W(SCHED_WAIT_OUTGOING, 2) }, 1 },
	{ "pf_blocked_head_2", "A done: B, first in order, takes the free "
	  "host slot before D (no starvation)", { .max_per_pf = 1 }, 4,
	  { OUT(1, SCHED_DONE, "pf0", 0, 0), OUT(2, Q, "pf0", 0, 1),
	    OUT(3, RUN, "pf1", 0, 2), OUT(4, Q, "pf2", 0, 3) },
	  { NA, S(0), NA, W(SCHED_WAIT_OUTGOING, 1) }, 1 },
	{ "no_limit", "SCHED_NO_LIMIT on outgoing: 5 start at once",
	  { .max_outgoing = SCHED_NO_LIMIT, .max_per_pf = SCHED_NO_LIMIT }, 5,
	  { OUT(1, Q, "p", 0, 1), OUT(2, Q, "p", 0, 2), OUT(3, Q, "p", 0, 3),
	    OUT(4, Q, "p", 0, 4), OUT(5, Q, "p", 0, 5) },
	  { S(0), S(1), S(2), S(3), S(4) }, 5 },
	{ "no_pf", "jobs without a PF name are not PF-limited",
	  { .max_outgoing = 10, .max_per_pf = 1 }, 3,
	  { OUT(1, RUN, NULL, 0, 1), OUT(2, Q, "", 0, 2),
	    OUT(3, Q, NULL, 0, 3) },
	  { NA, S(0), S(1) }, 2 },
	{ "near_and_stopcopy_count", "near-switchover and stop-copy jobs "
	  "hold their slots", { 0 }, 3,
	  { OUT(1, SCHED_NEAR_SWITCHOVER, "a", 0, 1),
	    OUT(2, SCHED_STOPCOPY, "b", 0, 2), OUT(3, Q, "c", 9, 3) },
	  { NA, NA, W(SCHED_WAIT_OUTGOING, 0) }, 0 },
};

static void
run_acase(const struct acase *ac)
{
	struct sched_admit	out[MAXJ];
	size_t			i, nstart = 99, idx[MAXJ], nq;
	char			err[128] = "";
	int			r;

	fprintf(stderr, "admit %s: %s\n", ac->name, ac->what);
	r = sched_admit(&ac->lim, ac->jobs, ac->n, out, &nstart, err,
	    sizeof err);
	cr_assert_eq(r, 0, "%s: %s", ac->name, err);
	for (i = 0; i < ac->n; i++) {
		fprintf(stderr, "  job %llu: expect %s%s%s -> %s (%s, "
		    "position %u): %s\n", (unsigned long long)ac->jobs[i].id,
		    ac->exp[i].start ? "start" : "no start",
		    ac->exp[i].wait ? ", waits on " : "",
		    ac->exp[i].wait ? sched_wait_name(ac->exp[i].wait) : "",
		    out[i].start ? "start" : "no start",
		    sched_wait_name(out[i].wait), out[i].position,
		    out[i].reason);
		cr_assert_eq(out[i].id, ac->jobs[i].id);
		cr_assert_eq(out[i].start, ac->exp[i].start, "%s: job %llu: "
		    "start %d, expected %d: %s", ac->name,
		    (unsigned long long)ac->jobs[i].id, out[i].start,
		    ac->exp[i].start, out[i].reason);
		cr_assert_eq(out[i].wait, ac->exp[i].wait, "%s: job %llu: "
		    "waits on %s, expected %s: %s", ac->name,
		    (unsigned long long)ac->jobs[i].id,
		    sched_wait_name(out[i].wait),
		    sched_wait_name(ac->exp[i].wait), out[i].reason);
		if (ac->exp[i].position >= 0)
			cr_assert_eq(out[i].position,
			    (uint32_t)ac->exp[i].position, "%s: job %llu: "
			    "position %u, expected %d", ac->name,
			    (unsigned long long)ac->jobs[i].id,
			    out[i].position, ac->exp[i].position);
		cr_assert(out[i].reason[0] != '\0', "%s: job %llu: no reason",
		    ac->name, (unsigned long long)ac->jobs[i].id);
		if (ac->exp[i].wait == SCHED_WAIT_PF)
			cr_assert(strstr(out[i].reason, ac->jobs[i].pf) != NULL,
			    "%s: the reason should name the PF: %s", ac->name,
			    out[i].reason);
	}
	cr_assert_eq(nstart, ac->nstart, "%s: %zu started, expected %zu",
	    ac->name, nstart, ac->nstart);

	/* The queue order agrees with the positions. */
	sched_queue_order(ac->jobs, ac->n, idx, &nq);
	for (i = 0; i < nq; i++)
		cr_assert_eq(out[idx[i]].position, (uint32_t)i);
}

static const struct acase *
afind(const char *name)
{
	size_t	i;

	for (i = 0; i < sizeof acases / sizeof acases[0]; i++)
		if (strcmp(acases[i].name, name) == 0)
			return (&acases[i]);
	cr_assert_fail("no admission case %s", name);
	return (NULL);
}

#define ACASE(name)	Test(admit, name) { run_acase(afind(#name)); LEAK_CHECK(); }

ACASE(zero_jobs)
ACASE(one_job)
ACASE(host_outgoing)
ACASE(host_outgoing_in_pass)
ACASE(per_pf)
ACASE(incoming)
ACASE(priority)
ACASE(fifo)
ACASE(pf_blocked_head_1)
ACASE(pf_blocked_head_2)
ACASE(no_limit)
ACASE(no_pf)
ACASE(near_and_stopcopy_count)

Test(admit, every_case_runs)
{
	cr_assert_eq(sizeof acases / sizeof acases[0], 13,
	    "add an ACASE() line for the new case");
}

Test(admit, bad_input)
{
	struct sched_job	jobs[2] = { OUT(7, Q, "a", 0, 1),
	    OUT(7, Q, "b", 0, 2) };
	struct sched_admit	out[2];
	struct sched_share	sh[2];
	char			err[128] = "";

	cr_assert_eq(sched_admit(NULL, jobs, 2, out, NULL, err, sizeof err),
	    -EINVAL);
	cr_assert(strstr(err, "job 7") != NULL, "%s", err);
	cr_assert_eq(sched_shares(NULL, jobs, 2, sh, err, sizeof err),
	    -EINVAL);
	jobs[1].id = 8;
	jobs[1].state = (enum sched_state)42;
	cr_assert_eq(sched_admit(NULL, jobs, 2, out, NULL, err, sizeof err),
	    -EINVAL);
	cr_assert(strstr(err, "job 8") != NULL && strstr(err, "state"),
	    "%s", err);
	jobs[1].state = Q;
	jobs[1].dir = (enum sched_dir)5;
	cr_assert_eq(sched_admit(NULL, jobs, 2, out, NULL, err, sizeof err),
	    -EINVAL);
	cr_assert(strstr(err, "direction") != NULL, "%s", err);
	cr_assert_eq(sched_admit(NULL, NULL, 1, out, NULL, err, sizeof err),
	    -EINVAL);
}

/* ------------------------------------------------------------ shares */

struct scase {
	const char		*name;
	const char		*what;
	uint64_t		 host_bps;
	size_t			 n;
	struct sched_job	 jobs[MAXJ];
	uint64_t		 exp[MAXJ];	/* share; for non-senders 0 */
	enum sched_tier		 tier[MAXJ];
};

#define BULK(i, lim)	{ .id = (i), .dir = SCHED_OUTGOING, \
			.state = SCHED_RUNNING, .pf = "p", .limit_bps = (lim) }
#define ASK(i, need)	{ .id = (i), .dir = SCHED_OUTGOING, \
			.state = SCHED_RUNNING, .pf = "p", .asked = 1, \
			.need_bps = (need) }
#define NEAR(i, need)	{ .id = (i), .dir = SCHED_OUTGOING, \
			.state = SCHED_NEAR_SWITCHOVER, .pf = "p", \
			.need_bps = (need) }
#define STOP(i, need)	{ .id = (i), .dir = SCHED_OUTGOING, \
			.state = SCHED_STOPCOPY, .pf = "p", \
			.need_bps = (need) }
#define TB	SCHED_TIER_BULK
#define TA	SCHED_TIER_ASKED
#define TN	SCHED_TIER_NEAR
#define TS	SCHED_TIER_STOPCOPY
#define T0	SCHED_TIER_NONE

static const struct scase scases[] = {
	{ "zero_jobs", "nothing to share", 1000 * M, 0, { { 0 } }, { 0 },
	  { T0 } },
	{ "alone", "one job alone gets the whole host limit", 1000 * M, 1,
	  { BULK(1, 0) }, { 1000 * M }, { TB } },
	{ "alone_own_limit", "one job alone, its own limit 300 below the "
	  "host's 1000", 1000 * M, 1, { BULK(1, 300 * M) }, { 300 * M },
	  { TB } },
	{ "no_host_limit", "host unlimited: own limits (0 = unlimited)", 0,
	  3, { BULK(1, 0), BULK(2, 250 * M), NEAR(3, 500 * M) },
	  { 0, 250 * M, 0 }, { TB, TB, TN } },
	{ "fair", "three pre-copy jobs share 900 equally", 900 * M, 3,
	  { BULK(1, 0), BULK(2, 0), BULK(3, 0) },
	  { 300 * M, 300 * M, 300 * M }, { TB, TB, TB } },
	{ "own_limit_below_fair", "limit 100 below the fair 300: the others "
	  "get its rest", 900 * M, 3,
	  { BULK(1, 100 * M), BULK(2, 0), BULK(3, 0) },
	  { 100 * M, 400 * M, 400 * M }, { TB, TB, TB } },
	{ "near_need_met", "near switchover needs 200 and gets it; two bulk "
	  "share 800", 1000 * M, 3, { NEAR(1, 200 * M), BULK(2, 0), BULK(3, 0) },
	  { 200 * M, 400 * M, 400 * M }, { TN, TB, TB } },
	{ "near_starves_to_floor", "near needs 2000 of 1000: bulk jobs keep "
	  "a floor of 5 % each, not zero", 1000 * M, 3,
	  { NEAR(1, 2000 * M), BULK(2, 0), BULK(3, 0) },
	  { 900 * M, 50 * M, 50 * M }, { TN, TB, TB } },
	{ "floor_many_bulk", "ten bulk jobs keep 25 % of the host together "
	  "(25 each), the near job 750", 1000 * M, 11,
	  { NEAR(1, 0), BULK(2, 0), BULK(3, 0), BULK(4, 0), BULK(5, 0),
	    BULK(6, 0), BULK(7, 0), BULK(8, 0), BULK(9, 0), BULK(10, 0),
	    BULK(11, 0) },
	  { 750 * M, 25 * M, 25 * M, 25 * M, 25 * M, 25 * M, 25 * M, 25 * M,
	    25 * M, 25 * M, 25 * M },
	  { TN, TB, TB, TB, TB, TB, TB, TB, TB, TB, TB } },
	{ "stopcopy_first", "stop-copy 600 served before near 600; bulk "
	  "keeps its floor", 1000 * M, 3,
	  { NEAR(1, 600 * M), STOP(2, 600 * M), BULK(3, 0) },
	  { 350 * M, 600 * M, 50 * M }, { TN, TS, TB } },
	{ "asked_granted", "a job that asked for 600 gets it; the two others "
	  "share the rest", 1000 * M, 3,
	  { ASK(1, 600 * M), BULK(2, 0), BULK(3, 0) },
	  { 600 * M, 200 * M, 200 * M }, { TA, TB, TB } },
	{ "asked_after_near", "near 800 first, the asked job gets what is "
	  "left above the floors", 1000 * M, 3,
	  { ASK(1, 600 * M), NEAR(2, 800 * M), BULK(3, 0) },
	  { 150 * M, 800 * M, 50 * M }, { TA, TN, TB } },
	{ "leftover", "bulk jobs capped at 100: the near job gets the rest "
	  "beyond its need", 1000 * M, 3,
	  { NEAR(1, 200 * M), BULK(2, 100 * M), BULK(3, 100 * M) },
	  { 800 * M, 100 * M, 100 * M }, { TN, TB, TB } },
	{ "not_sending", "queued, incoming and finished jobs get no share",
	  1000 * M, 4,
	  { { .id = 1, .dir = SCHED_OUTGOING, .state = SCHED_QUEUED },
	    { .id = 2, .dir = SCHED_INCOMING, .state = SCHED_RUNNING },
	    { .id = 3, .dir = SCHED_OUTGOING, .state = SCHED_DONE },
	    BULK(4, 0) },
	  { 0, 0, 0, 1000 * M }, { T0, T0, T0, TB } },
	{ "tiny_host", "10 B/s host: the floor rounds to 0 but a sending "
	  "job never gets 0 (0 reads as unlimited)", 10, 2,
	  { NEAR(1, 0), BULK(2, 0) }, { 10, 1 }, { TN, TB } },
};

static void
run_scase(const struct scase *sc)
{
	struct sched_limits	lim;
	struct sched_share	out[MAXJ];
	uint64_t		sum = 0;
	char			err[128] = "";
	size_t			i;

	fprintf(stderr, "shares %s: %s\n", sc->name, sc->what);
	sched_limits_default(&lim);
	lim.bandwidth_bps = sc->host_bps;
	cr_assert_eq(sched_shares(&lim, sc->jobs, sc->n, out, err,
	    sizeof err), 0, "%s: %s", sc->name, err);
	for (i = 0; i < sc->n; i++) {
		fprintf(stderr, "  job %llu: expect %llu (%s) -> %llu (%s): "
		    "%s\n", (unsigned long long)sc->jobs[i].id,
		    (unsigned long long)sc->exp[i],
		    sched_tier_name(sc->tier[i]),
		    (unsigned long long)out[i].share_bps,
		    sched_tier_name(out[i].tier), out[i].reason);
		cr_assert_eq(out[i].id, sc->jobs[i].id);
		cr_assert_eq(out[i].share_bps, sc->exp[i], "%s: job %llu: "
		    "share %llu, expected %llu: %s", sc->name,
		    (unsigned long long)sc->jobs[i].id,
		    (unsigned long long)out[i].share_bps,
		    (unsigned long long)sc->exp[i], out[i].reason);
		cr_assert_eq(out[i].tier, sc->tier[i], "%s: job %llu: tier "
		    "%s, expected %s", sc->name,
		    (unsigned long long)sc->jobs[i].id,
		    sched_tier_name(out[i].tier),
		    sched_tier_name(sc->tier[i]));
		cr_assert(out[i].reason[0] != '\0');
		cr_assert_eq(out[i].sending, sc->tier[i] != T0);
		if (out[i].sending)
			cr_assert(sc->host_bps == 0 || out[i].share_bps > 0,
			    "%s: a sending job got 0 (unlimited)", sc->name);
		sum += out[i].share_bps;
	}
	/* Never more than the host limit (the 1 B/s minimum aside). */
	if (sc->host_bps >= 1000)
		cr_assert(sum <= sc->host_bps, "%s: %llu shared out of %llu",
		    sc->name, (unsigned long long)sum,
		    (unsigned long long)sc->host_bps);
}

static const struct scase *
sfind(const char *name)
{
	size_t	i;

	for (i = 0; i < sizeof scases / sizeof scases[0]; i++)
		if (strcmp(scases[i].name, name) == 0)
			return (&scases[i]);
	cr_assert_fail("no share case %s", name);
	return (NULL);
}

#define SCASE(name)	Test(shares, name) { run_scase(sfind(#name)); LEAK_CHECK(); }

SCASE(zero_jobs)
SCASE(alone)
SCASE(alone_own_limit)
SCASE(no_host_limit)
SCASE(fair)
SCASE(own_limit_below_fair)
SCASE(near_need_met)
SCASE(near_starves_to_floor)
SCASE(floor_many_bulk)
SCASE(stopcopy_first)
SCASE(asked_granted)
SCASE(asked_after_near)
SCASE(leftover)
SCASE(not_sending)
SCASE(tiny_host)

Test(shares, every_case_runs)
{
	cr_assert_eq(sizeof scases / sizeof scases[0], 15,
	    "add an SCASE() line for the new case");
}

Test(shares, names)
{
	cr_assert_str_eq(sched_tier_name(SCHED_TIER_NEAR), "near-switchover");
	cr_assert_str_eq(sched_wait_name(SCHED_WAIT_PF), "pf-limit");
	cr_assert_str_eq(sched_wait_name((enum sched_wait)77), "unknown");
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

/*
 * Random job sets: admission never exceeds a limit and starts the queued
 * jobs in order within each limit class; shares never exceed the host
 * limit or a job's own limit, and never give a sending job 0.
 */
Test(sched, random_sets_keep_invariants)
{
	static const char	*pfs[] = { "pf0", "pf1", "pf2", NULL, "" };
	struct sched_limits	 lim;
	struct sched_job	 jobs[MAXJ];
	struct sched_admit	 adm[MAXJ];
	struct sched_share	 sh[MAXJ];
	uint64_t		 seed = 88172645463325252ULL, sum;
	size_t			 n, i, k, nstart;
	uint32_t		 out, in, per;
	char			 err[128];
	int			 run;

	for (run = 0; run < 2000; run++) {
		memset(&lim, 0, sizeof lim);
		lim.max_outgoing = (uint32_t)(xrand(&seed) % 4);
		lim.max_incoming = (uint32_t)(xrand(&seed) % 5);
		lim.max_per_pf = (uint32_t)(xrand(&seed) % 4);
		lim.bandwidth_bps = xrand(&seed) % 3 ? xrand(&seed) % (2000 * M) :
		    0;
		n = xrand(&seed) % (MAXJ + 1);
		for (i = 0; i < n; i++) {
			memset(&jobs[i], 0, sizeof jobs[i]);
			jobs[i].id = i + 1;
			jobs[i].dir = (enum sched_dir)(xrand(&seed) % 2);
			jobs[i].state = (enum sched_state)(xrand(&seed) % 5);
			jobs[i].pf = pfs[xrand(&seed) % 5];
			jobs[i].priority = (uint32_t)(xrand(&seed) % 3);
			jobs[i].seq = xrand(&seed) % 100;
			jobs[i].limit_bps = xrand(&seed) % 2 ? 0 :
			    xrand(&seed) % (800 * M);
			jobs[i].need_bps = xrand(&seed) % (1500 * M);
			jobs[i].asked = (int)(xrand(&seed) % 2);
		}
		cr_assert_eq(sched_admit(&lim, jobs, n, adm, &nstart, err,
		    sizeof err), 0, "%s", err);
		for (i = 0; i < n; i++) {
			if (!adm[i].start)
				continue;
			/* A started job fit: count its class and PF. */
			out = in = per = 0;
			for (k = 0; k < n; k++) {
				if (!(jobs[k].state == SCHED_RUNNING ||
				    jobs[k].state == SCHED_NEAR_SWITCHOVER ||
				    jobs[k].state == SCHED_STOPCOPY) &&
				    !adm[k].start)
					continue;
				if (jobs[k].dir == jobs[i].dir)
					out++;
				if (jobs[i].pf != NULL && jobs[i].pf[0] &&
				    jobs[k].pf != NULL &&
				    strcmp(jobs[k].pf, jobs[i].pf) == 0)
					per++;
			}
			cr_assert(out <= (jobs[i].dir == SCHED_OUTGOING ?
			    (lim.max_outgoing ? lim.max_outgoing : 2) :
			    (lim.max_incoming ? lim.max_incoming : 4)),
			    "run %d: %u jobs in job %llu's direction", run,
			    out, (unsigned long long)jobs[i].id);
			cr_assert(per <= (lim.max_per_pf ? lim.max_per_pf : 4),
			    "run %d: %u jobs on PF %s", run, per, jobs[i].pf);
			/* No queued job of its class before it was skipped
			 * for the host limit. */
			for (k = 0; k < n; k++)
				if (jobs[k].state == SCHED_QUEUED &&
				    !adm[k].start && jobs[k].dir ==
				    jobs[i].dir && adm[k].position <
				    adm[i].position)
					cr_assert_neq(adm[k].wait,
					    jobs[k].dir == SCHED_OUTGOING ?
					    SCHED_WAIT_OUTGOING :
					    SCHED_WAIT_INCOMING, "run %d: job "
					    "%llu started past job %llu", run,
					    (unsigned long long)jobs[i].id,
					    (unsigned long long)jobs[k].id);
		}

		cr_assert_eq(sched_shares(&lim, jobs, n, sh, err, sizeof err),
		    0, "%s", err);
		sum = 0;
		for (i = 0; i < n; i++) {
			if (!sh[i].sending) {
				cr_assert_eq(sh[i].share_bps, 0);
				continue;
			}
			if (lim.bandwidth_bps > 0)
				cr_assert(sh[i].share_bps > 0);
			if (jobs[i].limit_bps > 0)
				cr_assert(sh[i].share_bps <= jobs[i].limit_bps ||
				    sh[i].share_bps == 1, "run %d: job %llu "
				    "share %llu over its limit %llu", run,
				    (unsigned long long)jobs[i].id,
				    (unsigned long long)sh[i].share_bps,
				    (unsigned long long)jobs[i].limit_bps);
			sum += sh[i].share_bps;
		}
		if (lim.bandwidth_bps >= 1000)
			cr_assert(sum <= lim.bandwidth_bps + n, "run %d: %llu "
			    "shared of %llu", run, (unsigned long long)sum,
			    (unsigned long long)lim.bandwidth_bps);
	}
	LEAK_CHECK();
}

Test(sched, window_split)
{
	/* M is 1 MB here */
	cr_assert_eq(sched_window(64 * M, 0, 16 * M, 2 * M), 16 * M);
	cr_assert_eq(sched_window(64 * M, 1, 16 * M, 2 * M), 16 * M);
	cr_assert_eq(sched_window(64 * M, 8, 16 * M, 2 * M), 8 * M);
	cr_assert_eq(sched_window(64 * M, 64, 16 * M, 2 * M), 2 * M);
	LEAK_CHECK();
}

Test(sched, pumps_wait_for_a_stop_copy)
{
	cr_assert(sched_pump_may_send(0, 0));
	cr_assert(!sched_pump_may_send(1, 0), "bulk pages wait");
	cr_assert(sched_pump_may_send(3, 1), "final pages never wait");
	LEAK_CHECK();
}
