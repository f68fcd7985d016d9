/*
 * test_job.c: the job phase table (job.c) and the one way into failure.
 *
 * The table is checked against the phases DESIGN.md and job.h give, pair
 * by pair: every transition listed there goes through job_set_phase() and
 * is recorded; every other one is a bug in the engine and must abort
 * (one process per pair). job_fail() and job_cancel() are driven on jobs
 * without device or stream: the rollback steps run on a real libevent
 * loop and end the job FAILED or CANCELLED with the first reason kept.
 */
#include <criterion/criterion.h>
#include <criterion/parameterized.h>

#include <signal.h>
#include <stdio.h>
#include <string.h>

#include <event2/event.h>
#include <event2/thread.h>

#include "job.h"
#include "vmig.pb-c.h"
#include "log.h"
#include "vmigd.h"
#include "leakcheck.h"

#define B(p)	(1u << (p))
#define ENDS	(B(JOB_FAILED) | B(JOB_CANCELLED))

/* What may follow each phase (DESIGN.md, job.h); the tables must agree. */
static const uint32_t allowed_out[JOB_NPHASES] = {
	[JOB_NONE] = B(JOB_QUEUED) | ENDS,
	[JOB_QUEUED] = B(JOB_SETUP) | ENDS,
	[JOB_SETUP] = B(JOB_PRECOPY) | ENDS,
	[JOB_PRECOPY] = B(JOB_SWITCHOVER_READY) | B(JOB_STOPCOPY) | ENDS,
	[JOB_SWITCHOVER_READY] = B(JOB_STOPCOPY) | ENDS,
	[JOB_STOPCOPY] = B(JOB_RESUMING) | ENDS,
	[JOB_RESUMING] = B(JOB_COMPLETED) | ENDS,
};
static const uint32_t allowed_in[JOB_NPHASES] = {
	[JOB_NONE] = B(JOB_WAITING) | ENDS,
	[JOB_WAITING] = B(JOB_QUEUED) | ENDS,
	[JOB_QUEUED] = B(JOB_SETUP) | ENDS,
	[JOB_SETUP] = B(JOB_PRECOPY) | ENDS,
	[JOB_PRECOPY] = B(JOB_STOPCOPY) | ENDS,
	[JOB_STOPCOPY] = B(JOB_RESUMING) | ENDS,
	[JOB_RESUMING] = B(JOB_COMPLETED) | ENDS,
};

static const struct {
	const struct job_kind	*kind;
	const uint32_t		*allowed;
	unsigned int		 ntransitions;
} kinds[] = {
	{ &job_kind_outgoing, allowed_out, 22 },
	{ &job_kind_incoming, allowed_in, 21 },
};

/* The names vmig.v1.JobPhase is shown by (vmigctl, logs). */
static const char *const names[JOB_NPHASES] = {
	"none", "queued", "setup", "precopy", "stopcopy", "resuming",
	"completed", "cancelled", "failed", "waiting", "switchover-ready",
};

static struct vmigd	 d;
static struct engine	*eng;

static void
setup(void)
{
	log_init(LOG_LEVEL_ERROR, "test_job");
	memset(&d, 0, sizeof(d));
	/* as vmigd: the offload pool's workers wake this loop (wake.c) */
	cr_assert_eq(evthread_use_pthreads(), 0);
	d.base = event_base_new();
	cr_assert_not_null(d.base);
	eng = engine_new(d.base, NULL);
	/* jobs here have no device: the scheduler must not start them */
	eng->shutting_down = 1;
}

static void
teardown(void)
{
	engine_free(eng);
	eng = NULL;
	event_base_free(d.base);
}

static void
run_loop(void)
{
	int	i;

	/* a few turns: each kick runs the steps that are ready */
	for (i = 0; i < 16; i++)
		event_base_loop(d.base, EVLOOP_NONBLOCK);
}

TestSuite(job, .init = setup, .fini = teardown);

Test(job, phase_names)
{
	int	p;

	for (p = 0; p < JOB_NPHASES; p++)
		cr_assert_str_eq(job_phase_name(p), names[p], "phase %d", p);
	cr_assert_str_eq(job_phase_name(JOB_NPHASES), "?");
	cr_assert_str_eq(job_phase_name((enum job_phase)-1), "?");
	/* the wire values are vmig.v1.JobPhase's */
	cr_assert_eq(JOB_COMPLETED, VMIG__V1__JOB_PHASE__PHASE_COMPLETED);
	cr_assert_eq(JOB_WAITING, VMIG__V1__JOB_PHASE__PHASE_WAITING);
	cr_assert_eq(JOB_SWITCHOVER_READY,
	    VMIG__V1__JOB_PHASE__PHASE_SWITCHOVER_READY);
	LEAK_CHECK();
}

Test(job, terminal_phases)
{
	int	p;

	for (p = 0; p < JOB_NPHASES; p++)
		cr_assert_eq(job_phase_terminal(p), p == JOB_COMPLETED ||
		    p == JOB_CANCELLED || p == JOB_FAILED, "%s", names[p]);
	cr_assert_eq(job_phase_terminal(JOB_NPHASES), 0);
	LEAK_CHECK();
}

Test(job, every_allowed_transition)
{
	struct job	*job;
	unsigned int	 from, to, n, fin, k;

	for (k = 0; k < sizeof(kinds) / sizeof(kinds[0]); k++) {
	    n = 0;
	    for (from = 0; from < JOB_NPHASES; from++) {
		cr_assert_eq(kinds[k].kind->phases[from].next,
		    kinds[k].allowed[from], "%s: %s", kinds[k].kind->name,
		    names[from]);
		for (to = 0; to < JOB_NPHASES; to++) {
			if ((kinds[k].allowed[from] & B(to)) == 0)
				continue;
			job = job_new(eng, kinds[k].kind, "t0/vf1");
			job->phase = from;
			fin = eng->nfinished;
			job_set_phase(job, to, "test");
			cr_assert_eq(job->phase, to, "%s -> %s", names[from],
			    names[to]);
			cr_assert_eq(job->ended_ms != 0, job_phase_terminal(to));
			cr_assert_eq(eng->nfinished, fin +
			    (job_phase_terminal(to) ? 1 : 0));
			n++;
		}
	    }
	    cr_assert_eq(n, kinds[k].ntransitions, "%s: %u transitions",
		kinds[k].kind->name, n);
	}
	LEAK_CHECK();
}

Test(job, outgoing_and_incoming_paths)
{
	static const enum job_phase out[] = { JOB_QUEUED, JOB_SETUP,
	    JOB_PRECOPY, JOB_SWITCHOVER_READY, JOB_STOPCOPY, JOB_RESUMING,
	    JOB_COMPLETED };
	static const enum job_phase in[] = { JOB_WAITING, JOB_QUEUED,
	    JOB_SETUP, JOB_PRECOPY, JOB_STOPCOPY, JOB_RESUMING,
	    JOB_COMPLETED };
	struct job	*a, *b;
	size_t		 i;

	a = job_new(eng, &job_kind_outgoing, "t0/vf1");
	b = job_new(eng, &job_kind_incoming, "t0/vf2");
	cr_assert_neq(a->id, b->id);
	cr_assert_eq(job_find(eng, a->id), a);
	cr_assert_eq(job_find(eng, b->id), b);
	cr_assert_null(job_find(eng, 9999));
	for (i = 0; i < sizeof(out) / sizeof(out[0]); i++)
		job_set_phase(a, out[i], NULL);
	for (i = 0; i < sizeof(in) / sizeof(in[0]); i++)
		job_set_phase(b, in[i], NULL);
	cr_assert_eq(a->phase, JOB_COMPLETED);
	cr_assert_eq(b->phase, JOB_COMPLETED);
	cr_assert_eq(engine_live_jobs(eng), 0);
	LEAK_CHECK();
}

struct pair {
	int	kind;
	int	from;
	int	to;
};

ParameterizedTestParameters(job, forbidden_transition_aborts)
{
	static struct pair	pairs[2 * JOB_NPHASES * JOB_NPHASES];
	size_t			n = 0, k;
	int			from, to;

	for (k = 0; k < sizeof(kinds) / sizeof(kinds[0]); k++) {
		for (from = 0; from < JOB_NPHASES; from++) {
			for (to = 0; to < JOB_NPHASES; to++) {
				if (kinds[k].allowed[from] & B(to))
					continue;
				pairs[n].kind = (int)k;
				pairs[n].from = from;
				pairs[n].to = to;
				n++;
			}
		}
	}
	return (cr_make_param_array(struct pair, pairs, n));
}

ParameterizedTest(struct pair *p, job, forbidden_transition_aborts,
    .signal = SIGABRT)
{
	struct job	*job;

	job = job_new(eng, kinds[p->kind].kind, "t0/vf1");
	job->phase = p->from;
	job_set_phase(job, p->to, "a bug");
	cr_log_error("%s -> %s was allowed", names[p->from], names[p->to]);
}

/* Fail a job in each live phase: rollback runs and ends it FAILED. */
Test(job, fail_from_every_live_phase)
{
	struct job	*job;
	char		 want[64];
	size_t		 k;
	int		 p;

	for (k = 0; k < sizeof(kinds) / sizeof(kinds[0]); k++) {
		for (p = 0; p < JOB_NPHASES; p++) {
			if (job_phase_terminal(p) || kinds[k].allowed[p] == 0)
				continue;
			job = job_new(eng, kinds[k].kind, "t0/vf1");
			job->phase = p;
			job_fail(job, "device %s: test %d", "t0/vf1", p);
			cr_assert(job->failing);
			cr_assert_eq(job->phase, p, "rollback is asynchronous");
			/* a second error keeps the first reason */
			job_fail(job, "a later error");
			run_loop();
			cr_assert_eq(job->phase, JOB_FAILED, "%s: %s", names[p],
			    job_phase_name(job->phase));
			snprintf(want, sizeof(want), "device t0/vf1: test %d",
			    p);
			cr_assert_str_eq(job->error, want);
			/* nothing after the end */
			job_fail(job, "after the end");
			job_cancel(job, "after the end");
			cr_assert_eq(job->phase, JOB_FAILED);
		}
	}
	cr_assert_eq(engine_live_jobs(eng), 0);
	LEAK_CHECK();
}

Test(job, cancel_ends_cancelled)
{
	struct job	*a, *b, *c;

	a = job_new(eng, &job_kind_outgoing, "t0/vf1");
	job_set_phase(a, JOB_QUEUED, NULL);
	b = job_new(eng, &job_kind_incoming, "t0/vf2");
	job_set_phase(b, JOB_WAITING, NULL);
	c = job_new(eng, &job_kind_outgoing, "t0/vf3");
	job_set_phase(c, JOB_QUEUED, NULL);
	job_cancel(a, "by request");
	job_cancel(b, NULL);
	/* a cancel during a rollback does not turn a failure into one */
	job_fail(c, "first");
	job_cancel(c, "too late");
	run_loop();
	cr_assert_eq(a->phase, JOB_CANCELLED);
	cr_assert_str_eq(a->error, "cancelled: by request");
	cr_assert_eq(b->phase, JOB_CANCELLED);
	cr_assert_str_eq(b->error, "cancelled");
	cr_assert_eq(c->phase, JOB_FAILED);
	cr_assert_str_eq(c->error, "first");
	LEAK_CHECK();
}

Test(job, cancel_all_at_shutdown)
{
	struct job	*job;
	int		 i;

	for (i = 0; i < 5; i++) {
		job = job_new(eng, i % 2 ? &job_kind_outgoing :
		    &job_kind_incoming, "t0/vf1");
		job_set_phase(job, i % 2 ? JOB_QUEUED : JOB_WAITING, NULL);
	}
	cr_assert_eq(engine_live_jobs(eng), 5);
	cr_assert_eq(engine_cancel_all(eng, "shutdown"), 5,
	    "rollbacks are still to run");
	run_loop();
	cr_assert_eq(engine_live_jobs(eng), 0);
	TAILQ_FOREACH(job, &eng->jobs, entry) {
		cr_assert_eq(job->phase, JOB_CANCELLED);
		cr_assert_str_eq(job->error, "cancelled: shutdown");
	}
	LEAK_CHECK();
}

Test(job, finished_jobs_are_trimmed)
{
	struct job	*job;
	uint64_t	 first = 0;
	int		 i;

	for (i = 0; i < JOB_FINISHED_MAX + 10; i++) {
		job = job_new(eng, &job_kind_incoming, "t0/vf1");
		if (i == 0)
			first = job->id;
		job_set_phase(job, JOB_WAITING, NULL);
		job_fail(job, "gone %d", i);
		run_loop();
		cr_assert_eq(job->phase, JOB_FAILED);
	}
	/* the oldest records went, the newest are kept for GetJob */
	cr_assert_null(job_find(eng, first));
	cr_assert_not_null(job_find(eng, job->id));
	cr_assert_leq(eng->nfinished, JOB_FINISHED_MAX);
	LEAK_CHECK();
}

/* A PF's switchover cost is the median of its last measurements. */
Test(job, switch_cost_is_a_median)
{
	static const uint64_t	seq[] = { 40, 1800, 30, 50, 1100, 45, 35 };
	size_t			i;

	cr_assert_eq(engine_switch_cost(eng, "pf0"), 0, "nothing measured");
	engine_set_switch_cost(eng, "pf0", 40);
	cr_assert_eq(engine_switch_cost(eng, "pf0"), 40);
	for (i = 1; i < sizeof(seq) / sizeof(seq[0]); i++)
		engine_set_switch_cost(eng, "pf0", seq[i]);
	/* sorted: 30 35 40 45 50 1100 1800: one crowd does not count */
	cr_assert_eq(engine_switch_cost(eng, "pf0"), 45);
	cr_assert_eq(engine_switch_cost(eng, "pf1"), 0, "per PF");
	/* only the last JOB_COSTS_KEPT count */
	for (i = 0; i < JOB_COSTS_KEPT; i++)
		engine_set_switch_cost(eng, "pf0", 500 + i);
	cr_assert_eq(engine_switch_cost(eng, "pf0"), 500 + JOB_COSTS_KEPT / 2);
	LEAK_CHECK();
}
