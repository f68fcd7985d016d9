/*
 * job.c: what every migration job shares, on either side: the phase table
 * and the one function that changes phases, the step machine, device
 * command plumbing, timers, failure and rollback entry, decisions and
 * statistics, and the engine's job list with admission and bandwidth
 * shares (sched.c decides; this file applies).
 *
 * The step machine only ever advances from one place, job_kick_cb(), run
 * by libevent on the loop. job_run_steps(), job_step_done() and job_fail()
 * just record what should happen next and activate the kick event, so a
 * step may fail or install new steps from inside itself (or from a device
 * or stream callback) without re-entering the machine.
 */
#include "config.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>

#include "api.h"
#include "backend.h"
#include "events.h"
#include "job.h"
#include "log.h"
#include "metrics.h"
#include "offload.h"
#include "rpc.h"
#include "view.h"
#include "util.h"
#include "vmigd.h"

#define B(p)	(1u << (p))
#define ENDS	(B(JOB_FAILED) | B(JOB_CANCELLED))

/*
 * The phase table: names as the API shows them, and which phase may follow
 * which. A transition outside the table is a bug in the engine, not a
 * runtime condition: it is fatal.
 */
static const struct {
	const char	*name;
	int		 terminal;
	uint32_t	 next;
} job_phases[JOB_NPHASES] = {
	[JOB_NONE] = { "none", 0, B(JOB_QUEUED) | B(JOB_WAITING) | ENDS },
	[JOB_WAITING] = { "waiting", 0, B(JOB_QUEUED) | ENDS },
	[JOB_QUEUED] = { "queued", 0, B(JOB_SETUP) | ENDS },
	[JOB_SETUP] = { "setup", 0, B(JOB_PRECOPY) | ENDS },
	[JOB_PRECOPY] = { "precopy", 0,
	    B(JOB_SWITCHOVER_READY) | B(JOB_STOPCOPY) | ENDS },
	[JOB_SWITCHOVER_READY] = { "switchover-ready", 0,
	    B(JOB_STOPCOPY) | ENDS },
	[JOB_STOPCOPY] = { "stopcopy", 0, B(JOB_RESUMING) | ENDS },
	[JOB_RESUMING] = { "resuming", 0, B(JOB_COMPLETED) | ENDS },
	[JOB_COMPLETED] = { "completed", 1, 0 },
	[JOB_CANCELLED] = { "cancelled", 1, 0 },
	[JOB_FAILED] = { "failed", 1, 0 },
};

static void	job_kick(struct job *);
static void	job_kick_cb(int, short, void *);
static void	job_timer_cb(int, short, void *);
static void	job_deadline_cb(int, short, void *);
static void	job_free(struct job *);
static void	engine_sched_cb(int, short, void *);

const char *
job_phase_name(enum job_phase p)
{
	if ((unsigned)p >= JOB_NPHASES)
		return ("?");
	return (job_phases[p].name);
}

int
job_phase_terminal(enum job_phase p)
{
	return ((unsigned)p < JOB_NPHASES && job_phases[p].terminal);
}

static const char *
job_dir_name(enum job_dir dir)
{
	return (dir == JOB_OUTGOING ? "outgoing" : "incoming");
}

/* ------------------------------------------------------------ engine */

static void
engine_view_cb(int fd, short what, void *arg)
{
	engine_publish_live(arg);
}

struct engine *
engine_new(struct vmigd *d)
{
	struct engine	*eng;
	struct timeval	 tv;

	eng = xcalloc(1, sizeof(*eng));
	eng->d = d;
	TAILQ_INIT(&eng->jobs);
	eng->next_id = 1;
	eng->next_seq = 1;
	sched_limits_default(&eng->limits);
	eng->ev_sched = event_new(d->base, -1, 0, engine_sched_cb, eng);
	eng->offload = offload_new(d->base, JOB_OFFLOAD_THREADS);
	eng->view = view_new();
	eng->ev_view = event_new(d->base, -1, EV_PERSIST, engine_view_cb, eng);
	tv.tv_sec = VIEW_REFRESH_MS / 1000;
	tv.tv_usec = (VIEW_REFRESH_MS % 1000) * 1000;
	evtimer_add(eng->ev_view, &tv);
	return (eng);
}

void
engine_free(struct engine *eng)
{
	struct job	*job;

	if (eng == NULL)
		return;
	while ((job = TAILQ_FIRST(&eng->jobs)) != NULL) {
		if (!job_phase_terminal(job->phase))
			log_warnx("%s: job %" PRIu64 " still %s at exit",
			    __func__, job->id, job_phase_name(job->phase));
		TAILQ_REMOVE(&eng->jobs, job, entry);
		job_free(job);
	}
	/* after the jobs: the unmapping they handed over is done here */
	offload_free(eng->offload);
	event_free(eng->ev_view);
	view_free(eng->view);
	event_free(eng->ev_sched);
	free(eng->admit);
	free(eng->shares);
	free(eng->sjobs);
	free(eng);
}

void
engine_set_limits(struct engine *eng, uint32_t max_out, uint32_t max_in,
    uint32_t max_per_pf, uint64_t bw)
{
	eng->limits.max_outgoing = max_out;
	eng->limits.max_incoming = max_in;
	eng->limits.max_per_pf = max_per_pf;
	eng->limits.bandwidth_bps = bw;
	engine_reschedule(eng);
}

uint64_t
engine_switch_cost(const struct engine *eng, const char *pf)
{
	uint64_t	v[JOB_COSTS_KEPT], t;
	size_t		i, j, k, n;

	for (i = 0; pf != NULL && i < nitems(eng->costs); i++) {
		if (strcmp(eng->costs[i].pf, pf) != 0)
			continue;
		n = MIN(eng->costs[i].n, JOB_COSTS_KEPT);
		memcpy(v, eng->costs[i].ms, n * sizeof(v[0]));
		for (j = 1; j < n; j++) {	/* insertion sort: n <= 9 */
			t = v[j];
			for (k = j; k > 0 && v[k - 1] > t; k--)
				v[k] = v[k - 1];
			v[k] = t;
		}
		return (n > 0 ? v[n / 2] : 0);
	}
	return (0);
}

void
engine_set_switch_cost(struct engine *eng, const char *pf, uint64_t ms)
{
	size_t	i, slot = nitems(eng->costs) - 1;

	if (pf == NULL)
		return;
	for (i = 0; i < nitems(eng->costs); i++) {
		if (strcmp(eng->costs[i].pf, pf) == 0 ||
		    eng->costs[i].pf[0] == '\0') {
			slot = i;
			break;
		}
	}
	if (strcmp(eng->costs[slot].pf, pf) != 0) {
		strlcpy_v(eng->costs[slot].pf, pf, sizeof(eng->costs[slot].pf));
		eng->costs[slot].n = 0;
	}
	eng->costs[slot].ms[eng->costs[slot].n++ % JOB_COSTS_KEPT] = ms;
}

void
engine_reschedule(struct engine *eng)
{
	eng->sched_pending = 1;
	if (eng->ev_sched != NULL)
		event_active(eng->ev_sched, 0, 0);
}

void
engine_schedule_now(struct engine *eng)
{
	if (eng->sched_pending && !eng->frozen)
		engine_sched_cb(-1, 0, eng);
}

unsigned int
engine_live_jobs(const struct engine *eng)
{
	const struct job	*job;
	unsigned int		 n = 0;

	TAILQ_FOREACH(job, &eng->jobs, entry) {
		if (!job_phase_terminal(job->phase))
			n++;
	}
	return (n);
}

unsigned int
engine_cancel_all(struct engine *eng, const char *why)
{
	struct job	*job, *next;

	eng->shutting_down = 1;
	TAILQ_FOREACH_SAFE(job, &eng->jobs, entry, next) {
		if (!job_phase_terminal(job->phase))
			job_cancel(job, why);
	}
	return (engine_live_jobs(eng));
}

void
engine_freeze(struct engine *eng)
{
	struct job	*job;

	eng->shutting_down = 1;
	eng->frozen = 1;
	event_del(eng->ev_sched);
	TAILQ_FOREACH(job, &eng->jobs, entry) {
		if (!job_phase_terminal(job->phase))
			log_warnx("job %" PRIu64 " (%s) abandoned in %s at exit",
			    job->id, job->device_name,
			    job_phase_name(job->phase));
		evtimer_del(job->ev_timer);
		event_del(job->ev_kick);
		evtimer_del(job->ev_deadline);
		if (job->dir == JOB_OUTGOING)
			job_out_freeze(job);
		stream_close(job->stream);
		job->stream = NULL;
		if (job->dev != NULL) {
			backend_dev_release(job->dev, job->id);
			job->dev = NULL;
		}
	}
}

/* Keep at most JOB_FINISHED_MAX finished jobs: drop the oldest. */
static void
engine_trim(struct engine *eng)
{
	struct job	*job, *next;

	TAILQ_FOREACH_SAFE(job, &eng->jobs, entry, next) {
		if (eng->nfinished <= JOB_FINISHED_MAX)
			break;
		if (!job_phase_terminal(job->phase) || job->dev_busy)
			continue;
		/* a completed source keeps its device until released */
		if (job->dir == JOB_OUTGOING && job->phase == JOB_COMPLETED &&
		    job->dev != NULL)
			continue;
		TAILQ_REMOVE(&eng->jobs, job, entry);
		eng->nfinished--;
		view_del(eng->view, job->id);
		job_free(job);
	}
}

static enum sched_state
job_sched_state(const struct job *job)
{
	switch (job->phase) {
	case JOB_NONE:
	case JOB_WAITING:
	case JOB_COMPLETED:
	case JOB_FAILED:
	case JOB_CANCELLED:
		return (SCHED_DONE);
	case JOB_QUEUED:
		return (SCHED_QUEUED);
	case JOB_STOPCOPY:
	case JOB_RESUMING:
		return (SCHED_STOPCOPY);
	default:
		return (job->sstate == SCHED_NEAR_SWITCHOVER ?
		    SCHED_NEAR_SWITCHOVER : SCHED_RUNNING);
	}
}

/*
 * Admission and shares, from scratch each time: the job list is short (a
 * host runs tens of migrations, not thousands) and pure recomputation has
 * no state to get wrong.
 */
static void
engine_sched_cb(int fd, short what, void *arg)
{
	struct engine	*eng = arg;
	struct job	*job;
	struct job	**map;
	size_t		 n = 0, i, nstart;
	char		 err[256];

	if (!eng->sched_pending)
		return;		/* engine_schedule_now() ran this pass */
	eng->sched_pending = 0;

	TAILQ_FOREACH(job, &eng->jobs, entry) {
		if (job_sched_state(job) != SCHED_DONE)
			n++;
	}
	if (n > eng->capsched) {
		eng->capsched = n * 2;
		eng->sjobs = xreallocarray(eng->sjobs, eng->capsched,
		    sizeof(*eng->sjobs));
		eng->admit = xreallocarray(eng->admit, eng->capsched,
		    sizeof(*eng->admit));
		eng->shares = xreallocarray(eng->shares, eng->capsched,
		    sizeof(*eng->shares));
	}
	eng->nsched = n;
	if (n == 0)
		return;
	/* the host's in-flight budget, shared by the jobs that send */
	{
		size_t		nsend = 0;
		uint64_t	w;

		TAILQ_FOREACH(job, &eng->jobs, entry) {
			if (job->dir == JOB_OUTGOING && job->out != NULL &&
			    !job_phase_terminal(job->phase) &&
			    job->phase != JOB_QUEUED)
				nsend++;
		}
		w = JOB_HOST_WINDOW_BYTES / (nsend > 0 ? nsend : 1);
		w = MAX(MIN(w, JOB_WINDOW_BYTES), JOB_WINDOW_MIN);
		if (w != eng->window) {
			eng->window = w;
			TAILQ_FOREACH(job, &eng->jobs, entry) {
				if (job->dir == JOB_OUTGOING && job->out != NULL)
					job_out_window(job);
			}
		}
	}
	map = xcalloc(n, sizeof(*map));
	i = 0;
	TAILQ_FOREACH(job, &eng->jobs, entry) {
		struct sched_job *sj;

		if (job_sched_state(job) == SCHED_DONE)
			continue;
		sj = &eng->sjobs[i];
		memset(sj, 0, sizeof(*sj));
		sj->id = job->id;
		sj->dir = job->dir == JOB_OUTGOING ? SCHED_OUTGOING :
		    SCHED_INCOMING;
		sj->state = job_sched_state(job);
		sj->pf = job->dev != NULL && job->dev->pf != NULL ?
		    job->dev->pf->name : NULL;
		sj->priority = job->pol.priority;
		sj->seq = job->seq;
		sj->limit_bps = job->pol.bandwidth_limit_bps;
		sj->need_bps = job->need_bps;
		sj->asked = job->asked_bw;
		map[i++] = job;
	}
	if (sched_admit(&eng->limits, eng->sjobs, n, eng->admit, &nstart, err,
	    sizeof(err)) != 0) {
		log_warnx("%s: admission: %s", __func__, err);
		free(map);
		return;
	}
	if (sched_shares(&eng->limits, eng->sjobs, n, eng->shares, err,
	    sizeof(err)) != 0)
		log_warnx("%s: shares: %s", __func__, err);
	for (i = 0; i < n; i++) {
		job = map[i];
		if (eng->admit[i].start && job->phase == JOB_QUEUED &&
		    !eng->shutting_down) {
			job->wait_reason[0] = '\0';
			job->st.queue_time_ms = now_ms() - job->phase_ms;
			if (job->dir == JOB_OUTGOING)
				job_out_start(job);
			else
				job_in_start(job);
		} else if (job->phase == JOB_QUEUED &&
		    strcmp(job->wait_reason, eng->admit[i].reason) != 0) {
			strlcpy_v(job->wait_reason, eng->admit[i].reason,
			    sizeof(job->wait_reason));
			job_publish(job);	/* GetJob shows why it waits */
		}
		if (eng->shares[i].sending && job->dir == JOB_OUTGOING &&
		    job->out != NULL) {
			job->share_bps = eng->shares[i].share_bps;
			job->st.bandwidth_share_bps = job->share_bps;
			job_out_share(job, job->share_bps);
		}
	}
	free(map);
}

/* ------------------------------------------------------------ jobs */

struct job *
job_new(struct engine *eng, enum job_dir dir, const char *device)
{
	struct job	*job;

	job = xcalloc(1, sizeof(*job));
	job->eng = eng;
	job->id = eng->next_id++;
	job->seq = eng->next_seq++;
	job->dir = dir;
	job->phase = JOB_NONE;
	job->device_name = xstrdup(device);
	job->created_ms = now_ms();
	job->created_unix_ms = unix_ms();
	job->phase_ms = job->created_ms;
	job->ev_timer = event_new(eng->d->base, -1, 0, job_timer_cb, job);
	job->ev_kick = event_new(eng->d->base, -1, 0, job_kick_cb, job);
	/* fails harmlessly on a base without priorities (unit tests) */
	(void)event_priority_set(job->ev_kick, VMIG_PRIO_CRITICAL);
	job->ev_deadline = event_new(eng->d->base, -1, 0, job_deadline_cb,
	    job);
	TAILQ_INSERT_TAIL(&eng->jobs, job, entry);
	log_debug("%s: job %" PRIu64 " %s %s", __func__, job->id,
	    job_dir_name(dir), device);
	return (job);
}

/* ------------------------------------------------------------ off the loop */

static int
job_digest_stop(const void *task)
{
	return (offload_stopping(task));
}

/* Worker thread: reads the mapping, writes job->digest.rc and .value only. */
static void
job_digest_work(struct offload_task *t, void *arg)
{
	struct job	*job = arg;

	job->digest.rc = mem_digest_stoppable(&job->mem, job_digest_stop, t,
	    &job->digest.value);
}

static void
job_digest_done(void *arg)
{
	struct job	*job = arg;
	job_digest_fn	 fn = job->digest.fn;

	job->digest.task = NULL;
	job->digest.fn = NULL;
	if (job->eng->frozen)
		return;
	log_debug("%s: job %" PRIu64 ": %d (%" PRIu64 " us)", __func__,
	    job->id, job->digest.rc, now_us() - job->digest.start_us);
	if (job->digest.gen != job->step_gen || fn == NULL)
		return;		/* the job moved on (rollback) */
	fn(job, job->digest.rc, job->digest.value);
}

void
job_digest_begin(struct job *job, job_digest_fn fn)
{
	VMIG_ASSERT(job->digest.task == NULL);
	VMIG_ASSERT(job->mem_open);
	job->digest.fn = fn;
	job->digest.gen = job->step_gen;
	job->digest.start_us = now_us();
	job->digest.task = offload_submit(job->eng->offload, job_digest_work,
	    job_digest_done, job);
}

static void
job_unmap_work(struct offload_task *t, void *arg)
{
	struct mem_map	*m = arg;

	mem_map_close(m);
	free(m);
}

/*
 * A digest under way stops first (it reads the mapping); the unmapping
 * itself goes to a worker: tearing down the page tables of a whole VM
 * takes milliseconds the other jobs' loop does not have.
 */
static void
job_close_memory(struct job *job)
{
	struct mem_map	*m;

	if (job->digest.task != NULL) {
		offload_cancel(job->digest.task);
		job->digest.task = NULL;
		job->digest.fn = NULL;
	}
	if (!job->mem_open)
		return;
	m = xmalloc(sizeof(*m));
	*m = job->mem;
	memset(&job->mem, 0, sizeof(job->mem));
	job->mem_open = 0;
	(void)offload_submit(job->eng->offload, job_unmap_work, NULL, m);
}

static void
job_free(struct job *job)
{
	VMIG_ASSERT(!job->dev_busy);
	if (job->dir == JOB_OUTGOING)
		job_out_free(job);
	else
		job_in_free(job);
	stream_close(job->stream);
	job_close_memory(job);
	if (job->dev != NULL)
		backend_dev_release(job->dev, job->id);
	event_free(job->ev_timer);
	event_free(job->ev_kick);
	event_free(job->ev_deadline);
	free(job->device_name);
	free(job->vm);
	free(job->peer);
	free(job);
}

void
job_discard(struct job *job)
{
	VMIG_ASSERT(!job->dev_busy);
	TAILQ_REMOVE(&job->eng->jobs, job, entry);
	view_del(job->eng->view, job->id);
	job_free(job);
}

struct job *
job_find(struct engine *eng, uint64_t id)
{
	struct job	*job;

	TAILQ_FOREACH(job, &eng->jobs, entry) {
		if (job->id == id)
			return (job);
	}
	return (NULL);
}

void
job_set_phase(struct job *job, enum job_phase next, const char *why)
{
	Vmig__V1__Event		 ev = VMIG__V1__EVENT__INIT;
	Vmig__V1__JobStats	 st = VMIG__V1__JOB_STATS__INIT;
	enum job_phase		 prev = job->phase;
	uint64_t		 now = now_ms();

	if ((unsigned)next >= JOB_NPHASES ||
	    (job_phases[prev].next & B(next)) == 0)
		fatalx("%s: job %" PRIu64 ": %s -> %s is not in the phase "
		    "table", __func__, job->id, job_phase_name(prev),
		    job_phase_name(next));
	log_info("job %" PRIu64 " (%s %s): %s -> %s%s%s", job->id,
	    job_dir_name(job->dir), job->device_name, job_phase_name(prev),
	    job_phase_name(next), why != NULL && *why != '\0' ? ": " : "",
	    why != NULL ? why : "");
	job->phase = next;
	job->phase_ms = now;
	if (next == JOB_SETUP)
		job->setup_start_ms = now;
	if (prev == JOB_SETUP)
		job->st.setup_ms = now - job->setup_start_ms;
	if (job_phase_terminal(next)) {
		job->ended_ms = now;
		job->eng->nfinished++;
	}
	/* before the event: whoever hears it and asks sees the new phase */
	job_publish(job);

	ev.job_id = job->id;
	ev.device = job->device_name;
	ev.kind = VMIG__V1__EVENT__KIND__KIND_PHASE;
	ev.phase = (Vmig__V1__JobPhase)next;
	ev.previous = (Vmig__V1__JobPhase)prev;
	ev.message = (char *)(why != NULL ? why : "");
	job_stats_to_proto(job, &st);
	ev.stats = &st;
	events_publish(job->eng->d->events, &ev);
	engine_reschedule(job->eng);
}

void
job_publish(struct job *job)
{
	Vmig__V1__Job	*m;
	uint8_t		*buf;
	size_t		 len;

	m = rpc_msg_new(&vmig__v1__job__descriptor);
	job_to_proto(job, m);
	len = vmig__v1__job__get_packed_size(m);
	buf = xmalloc(len > 0 ? len : 1);
	vmig__v1__job__pack(m, buf);
	protobuf_c_message_free_unpacked(&m->base, NULL);
	view_put(job->eng->view, job->id, buf, len);
}

void
engine_publish_live(struct engine *eng)
{
	struct job	*job;

	TAILQ_FOREACH(job, &eng->jobs, entry) {
		if (!job_phase_terminal(job->phase))
			job_publish(job);
	}
}

/* ------------------------------------------------------------ steps */

static void
job_kick(struct job *job)
{
	event_active(job->ev_kick, 0, 0);
}

void
job_run_steps(struct job *job, const struct job_step *steps, size_t n)
{
	job->steps = steps;
	job->nsteps = n;
	job->step = 0;
	job->running_step = 0;
	job->jumped = 1;
	job->step_gen++;
	job_timer_stop(job);
	job_kick(job);
}

void
job_step_done(struct job *job, int err, const char *fmt, ...)
{
	char	buf[JOB_ERR_MAX];
	va_list	ap;

	if (err < 0) {
		va_start(ap, fmt);
		vsnprintf(buf, sizeof(buf), fmt, ap);
		va_end(ap);
		job_fail(job, "%s", buf);
		return;
	}
	if (!job->running_step) {
		log_debug("%s: job %" PRIu64 ": no step running", __func__,
		    job->id);
		return;
	}
	job_timer_stop(job);
	job->running_step = 0;
	job->step++;
	job_kick(job);
}

static void
job_kick_cb(int fd, short what, void *arg)
{
	struct job		*job = arg;
	const struct job_step	*s;
	int			 r;

	if (job->running_step)
		return;		/* waiting for an asynchronous step */
	job->jumped = 0;
	while (job->step < job->nsteps) {
		s = &job->steps[job->step];
		log_debug("%s: job %" PRIu64 " %s: step %s", __func__,
		    job->id, job_phase_name(job->phase), s->name);
		job->running_step = 1;
		r = s->run(job);
		if (job->jumped) {
			/* the step installed new steps (or failed the job) */
			job->jumped = 0;
			continue;
		}
		if (r == 0)
			return;	/* asynchronous: job_step_done() resumes */
		job->running_step = 0;
		job->step++;
	}
}

/* ------------------------------------------------------------ timers */

void
job_timer(struct job *job, uint64_t ms)
{
	struct timeval	tv;

	tv.tv_sec = (time_t)(ms / 1000);
	tv.tv_usec = (suseconds_t)((ms % 1000) * 1000);
	evtimer_add(job->ev_timer, &tv);
}

void
job_timer_stop(struct job *job)
{
	evtimer_del(job->ev_timer);
	job->timer_fail = NULL;
}

static void
job_timer_cb(int fd, short what, void *arg)
{
	struct job	*job = arg;
	const char	*why = job->timer_fail;

	job->timer_fail = NULL;
	if (why != NULL)
		job_fail(job, "%s", why);
	else
		job_step_done(job, 0, NULL);
}

static void
job_deadline_cb(int fd, short what, void *arg)
{
	struct job	*job = arg;

	if (job_phase_terminal(job->phase) || job->failing)
		return;
	job_fail(job, "completion timeout: not completed within %" PRIu32
	    " s", job->pol.completion_timeout_s);
}

/* ------------------------------------------------------------ failure */

void
job_fail(struct job *job, const char *fmt, ...)
{
	va_list	ap;

	if (job_phase_terminal(job->phase))
		return;
	if (job->failing) {
		/* a second error during rollback: keep the first reason */
		char	buf[256];

		va_start(ap, fmt);
		vsnprintf(buf, sizeof(buf), fmt, ap);
		va_end(ap);
		log_warnx("job %" PRIu64 ": during rollback: %s", job->id, buf);
		return;
	}
	va_start(ap, fmt);
	vsnprintf(job->error, sizeof(job->error), fmt, ap);
	va_end(ap);
	job->failing = 1;
	log_warnx("job %" PRIu64 " (%s %s) %s in %s: %s", job->id,
	    job_dir_name(job->dir), job->device_name,
	    job->cancel_req ? "cancelled" : "failed",
	    job_phase_name(job->phase), job->error);
	evtimer_del(job->ev_deadline);
	if (job->dir == JOB_OUTGOING)
		job_out_rollback(job);
	else
		job_in_rollback(job);
}

void
job_cancel(struct job *job, const char *reason)
{
	if (job_phase_terminal(job->phase) || job->failing)
		return;
	job->cancel_req = 1;
	job_fail(job, "cancelled%s%s", reason != NULL && *reason != '\0' ?
	    ": " : "", reason != NULL ? reason : "");
}

void
job_peer_closed(struct job *job, const char *peer, int err,
    const char *reason)
{
	if (job_phase_terminal(job->phase) || job->failing)
		return;
	if (reason == NULL)
		reason = strerror(-err);
	/* a frame that does not decode is the peer's doing, not the link's */
	if (err == -EBADMSG || err == -EMSGSIZE)
		job_fail(job, "%s broke the protocol: %s", peer, reason);
	else
		job_fail(job, "connection to the %s lost: %s", peer, reason);
}

void
job_finish(struct job *job, enum job_phase end)
{
	job_timer_stop(job);
	evtimer_del(job->ev_deadline);
	job->steps = NULL;
	job->nsteps = 0;
	job->running_step = 0;
	stream_close(job->stream);
	job->stream = NULL;
	job_close_memory(job);
	job->st.device_state_pending = 0;
	job_set_phase(job, end, end == JOB_COMPLETED ? NULL : job->error);
	engine_trim(job->eng);
}

/* ------------------------------------------------------------ devices */

static void
job_dev_done(void *arg, const struct vmig_result *res)
{
	struct job	*job = arg;
	job_dev_fn	 fn = job->devop.fn;
	uint64_t	 gen = job->devop.gen;

	VMIG_ASSERT(job->dev_busy);
	job->dev_busy = 0;
	job->devop.fn = NULL;
	if (job->eng->frozen)
		return;
	metrics_dev_cmd(job->eng->d->metrics, job->dev != NULL ?
	    job->dev->pf->name : "", job->devop.what,
	    now_us() - job->devop.start_us, res->err);
	log_debug("%s: job %" PRIu64 ": %s: %d (%" PRIu64 " us)", __func__,
	    job->id, job->devop.what, res->err, now_us() - job->devop.start_us);
	if (gen != job->step_gen || fn == NULL) {
		/* the job moved on (rollback): it may wait for this */
		if (job->wait_dev) {
			job->wait_dev = 0;
			job_step_done(job, 0, NULL);
		}
		return;
	}
	fn(job, res);
}

void
job_dev_begin(struct job *job, const char *what, job_dev_fn fn,
    void (**done)(void *, const struct vmig_result *), void **arg)
{
	VMIG_ASSERT(!job->dev_busy);
	job->dev_busy = 1;
	job->devop.fn = fn;
	job->devop.gen = job->step_gen;
	job->devop.what = what;
	job->devop.start_us = now_us();
	*done = job_dev_done;
	*arg = job;
}

int
job_dev_submitted(struct job *job, int rc)
{
	if (rc == 0)
		return (0);
	job->dev_busy = 0;
	job->devop.fn = NULL;
	job_step_done(job, rc, "device %s: %s: %s", job->device_name,
	    job->devop.what, strerror(-rc));
	return (rc);
}

int
job_step_open_device(struct job *job)
{
	char	err[BACKEND_ERR_MAX];
	int	rc;

	if ((rc = backend_dev_open(job->dev, err, sizeof(err))) != 0) {
		job_step_done(job, rc, "%s", err);
		return (0);
	}
	return (1);
}

void
job_dev_step_done(struct job *job, const struct vmig_result *res)
{
	char	buf[256];

	if (res->err != 0) {
		job_step_done(job, res->err, "device %s: %s: %s",
		    job->device_name, job->devop.what,
		    job_dev_strerror(res, buf, sizeof(buf)));
		return;
	}
	job_step_done(job, 0, NULL);
}

int
job_step_wait_device(struct job *job)
{
	if (!job->dev_busy)
		return (1);
	log_debug("%s: job %" PRIu64 ": waiting for %s", __func__, job->id,
	    job->devop.what);
	job->wait_dev = 1;
	return (0);
}

const char *
job_dev_strerror(const struct vmig_result *res, char *buf, size_t len)
{
	if (res->msg != NULL && *res->msg != '\0')
		snprintf(buf, len, "%s (%s)", strerror(-res->err), res->msg);
	else if (res->dev_status != 0)
		snprintf(buf, len, "%s (device status %u, qualifier %u)",
		    strerror(-res->err), res->dev_status, res->dev_qualifier);
	else
		snprintf(buf, len, "%s", strerror(-res->err));
	return (buf);
}

/* ------------------------------------------------------------ policy */

void
job_policy_from_proto(struct job_policy *p, const Vmig__V1__MigrationPolicy *m)
{
	memset(p, 0, sizeof(*p));
	p->max_downtime_ms = CONVERGE_DEFAULT_DOWNTIME_MS;
	if (m == NULL)
		return;
	if (m->max_downtime_ms != 0)
		p->max_downtime_ms = m->max_downtime_ms;
	p->downtime_ceiling_ms = m->downtime_ceiling_ms;
	if (p->downtime_ceiling_ms < p->max_downtime_ms)
		p->downtime_ceiling_ms = p->max_downtime_ms;
	p->bandwidth_limit_bps = m->bandwidth_limit_bps;
	p->completion_timeout_s = m->completion_timeout_s;
	p->manual_switchover =
	    m->switchover == VMIG__V1__SWITCHOVER_MODE__SWITCHOVER_MANUAL;
	p->bulk_copy = m->bulk_copy;
	p->verify = m->verify;
	p->baseline =
	    m->convergence == VMIG__V1__CONVERGENCE_POLICY__CONVERGE_BASELINE;
	p->timeout_force = m->timeout_action ==
	    VMIG__V1__TIMEOUT_ACTION__TIMEOUT_FORCE_SWITCHOVER;
	p->forced_downtime_ms = m->forced_downtime_ms;
	if (p->forced_downtime_ms == 0)
		p->forced_downtime_ms = 2 * p->downtime_ceiling_ms;
	p->priority = m->priority;
	p->max_iterations = m->max_iterations;
}

void
job_policy_to_proto(const struct job_policy *p, Vmig__V1__MigrationPolicy *m)
{
	m->max_downtime_ms = p->max_downtime_ms;
	m->downtime_ceiling_ms = p->downtime_ceiling_ms;
	m->bandwidth_limit_bps = p->bandwidth_limit_bps;
	m->completion_timeout_s = p->completion_timeout_s;
	m->switchover = p->manual_switchover ?
	    VMIG__V1__SWITCHOVER_MODE__SWITCHOVER_MANUAL :
	    VMIG__V1__SWITCHOVER_MODE__SWITCHOVER_AUTO;
	m->bulk_copy = p->bulk_copy;
	m->verify = p->verify;
	m->convergence = p->baseline ?
	    VMIG__V1__CONVERGENCE_POLICY__CONVERGE_BASELINE :
	    VMIG__V1__CONVERGENCE_POLICY__CONVERGE_ADAPTIVE;
	m->timeout_action = p->timeout_force ?
	    VMIG__V1__TIMEOUT_ACTION__TIMEOUT_FORCE_SWITCHOVER :
	    VMIG__V1__TIMEOUT_ACTION__TIMEOUT_ABORT;
	m->forced_downtime_ms = p->forced_downtime_ms;
	m->priority = p->priority;
	m->max_iterations = p->max_iterations;
}

/* Limits a person would not set on purpose: say which field and why. */
int
job_policy_check(const Vmig__V1__MigrationPolicy *m, char *err, size_t len)
{
	if (m == NULL)
		return (0);
	if (m->max_downtime_ms > 2000000) {
		snprintf(err, len, "policy max_downtime_ms %" PRIu32 " is over "
		    "2000000 (2000 s, QEMU's maximum)", m->max_downtime_ms);
		return (-EINVAL);
	}
	if (m->downtime_ceiling_ms > 2000000) {
		snprintf(err, len, "policy downtime_ceiling_ms %" PRIu32
		    " is over 2000000", m->downtime_ceiling_ms);
		return (-EINVAL);
	}
	if (m->downtime_ceiling_ms != 0 && m->max_downtime_ms != 0 &&
	    m->downtime_ceiling_ms < m->max_downtime_ms) {
		snprintf(err, len, "policy downtime_ceiling_ms %" PRIu32
		    " is below max_downtime_ms %" PRIu32,
		    m->downtime_ceiling_ms, m->max_downtime_ms);
		return (-EINVAL);
	}
	if (m->completion_timeout_s > 7 * 86400) {
		snprintf(err, len, "policy completion_timeout_s %" PRIu32
		    " is over a week", m->completion_timeout_s);
		return (-EINVAL);
	}
	if (m->bandwidth_limit_bps != 0 && m->bandwidth_limit_bps < 65536) {
		snprintf(err, len, "policy bandwidth_limit_bps %" PRIu64
		    " is below 64 KiB/s", m->bandwidth_limit_bps);
		return (-EINVAL);
	}
	if ((int)m->switchover < 0 || m->switchover > 1 ||
	    (int)m->convergence < 0 || m->convergence > 1 ||
	    (int)m->timeout_action < 0 || m->timeout_action > 1) {
		snprintf(err, len, "policy has an unknown switchover, "
		    "convergence or timeout_action value");
		return (-EINVAL);
	}
	return (0);
}

/* ------------------------------------------------------------ reports */

void
job_record_decision(struct job *job, const struct converge_decision *d)
{
	Vmig__V1__Event		 ev = VMIG__V1__EVENT__INIT;
	Vmig__V1__Decision	 pd = VMIG__V1__DECISION__INIT;

	job->decisions[job->ndecisions % JOB_DECISIONS_MAX] = *d;
	job->ndecisions++;
	log_info("job %" PRIu64 " iteration %" PRIu32 ": %s: %s", job->id,
	    d->iteration, converge_action_name(d->action), d->reason);

	pd.iteration = d->iteration;
	pd.at_ms = d->at_ms;
	pd.action = (char *)converge_action_name(d->action);
	pd.reason = (char *)d->reason;
	pd.predicted_downtime_ms = d->predicted_downtime_ms;
	pd.dirty_rate_bps = d->dirty_rate_bps;
	pd.bandwidth_bps = d->bandwidth_bps;
	pd.remaining_bytes = d->remaining_bytes;
	pd.downtime_target_ms = d->target_ms;
	ev.job_id = job->id;
	ev.device = job->device_name;
	ev.kind = VMIG__V1__EVENT__KIND__KIND_DECISION;
	ev.phase = (Vmig__V1__JobPhase)job->phase;
	ev.decision = &pd;
	ev.message = (char *)d->reason;
	events_publish(job->eng->d->events, &ev);
}

void
job_publish_progress(struct job *job)
{
	Vmig__V1__Event		 ev = VMIG__V1__EVENT__INIT;
	Vmig__V1__JobStats	 st = VMIG__V1__JOB_STATS__INIT;

	job_stats_to_proto(job, &st);
	ev.job_id = job->id;
	ev.device = job->device_name;
	ev.kind = VMIG__V1__EVENT__KIND__KIND_PROGRESS;
	ev.phase = (Vmig__V1__JobPhase)job->phase;
	ev.stats = &st;
	events_publish(job->eng->d->events, &ev);
}

void
job_stats_to_proto(const struct job *job, Vmig__V1__JobStats *s)
{
	uint64_t	end = job->ended_ms != 0 ? job->ended_ms : now_ms();

	s->time_elapsed_ms = end - job->created_ms;
	s->setup_time_ms = job->st.setup_ms;
	s->downtime_ms = job->st.downtime_ms;
	s->memory_total = job->mem_open || job->st.memory_processed != 0 ?
	    job->mem.total_bytes : 0;
	s->memory_processed = job->st.memory_processed;
	s->memory_remaining = job->st.memory_remaining;
	s->memory_dirty_rate = job->st.memory_dirty_rate;
	s->memory_iteration = job->st.memory_iteration;
	s->memory_bps = job->st.memory_bps;
	s->memory_page_size = job->mem.nregions > 0 ?
	    job->mem.regions[0].page_size : 0;
	s->memory_constant = job->st.memory_constant;
	s->memory_normal = job->st.memory_normal;
	s->device_state_bytes = job->st.device_state_bytes;
	s->device_state_pending = job->st.device_state_pending;
	s->device_dirty_rate_bps = job->st.device_dirty_rate_bps;
	s->device_write_records = job->st.device_write_records;
	s->expected_downtime_ms = job->st.expected_downtime_ms;
	s->device_load_time_ms = job->st.device_load_time_ms;
	s->bytes_sent = job->st.bytes_sent;
	s->downtime_target_ms = job->st.downtime_target_ms;
	s->bandwidth_share_bps = job->st.bandwidth_share_bps;
	s->hot_pages_deferred = job->st.hot_pages_deferred;
	s->queue_time_ms = job->st.queue_time_ms;
}

void
job_to_proto(const struct job *job, Vmig__V1__Job *j)
{
	Vmig__V1__MigrationPolicy	*pol;
	Vmig__V1__JobStats		*st;
	unsigned int			 n, i, first;

	j->id = job->id;
	j->direction = (Vmig__V1__JobDirection)job->dir;
	j->device = xstrdup(job->device_name);
	j->phase = (Vmig__V1__JobPhase)job->phase;
	j->peer = xstrdup(job->peer != NULL ? job->peer : "");
	pol = rpc_msg_new(&vmig__v1__migration_policy__descriptor);
	job_policy_to_proto(&job->pol, pol);
	j->policy = pol;
	st = rpc_msg_new(&vmig__v1__job_stats__descriptor);
	job_stats_to_proto(job, st);
	j->stats = st;
	if (job->error[0] != '\0')
		j->error = xstrdup(job->error);
	else if (job->phase == JOB_QUEUED && job->wait_reason[0] != '\0')
		j->error = xstrdup(job->wait_reason);
	else
		j->error = xstrdup("");
	j->verified = job->verified;
	j->created_unix_ms = job->created_unix_ms;
	j->vm = xstrdup(job->vm != NULL ? job->vm : "");

	n = MIN(job->ndecisions, JOB_DECISIONS_MAX);
	first = job->ndecisions - n;
	if (n > 0) {
		j->decisions = xcalloc(n, sizeof(*j->decisions));
		for (i = 0; i < n; i++) {
			const struct converge_decision	*d;
			Vmig__V1__Decision		*pd;

			d = &job->decisions[(first + i) % JOB_DECISIONS_MAX];
			pd = rpc_msg_new(&vmig__v1__decision__descriptor);
			pd->iteration = d->iteration;
			pd->at_ms = d->at_ms;
			pd->action = xstrdup(converge_action_name(d->action));
			pd->reason = xstrdup(d->reason);
			pd->predicted_downtime_ms = d->predicted_downtime_ms;
			pd->dirty_rate_bps = d->dirty_rate_bps;
			pd->bandwidth_bps = d->bandwidth_bps;
			pd->remaining_bytes = d->remaining_bytes;
			pd->downtime_target_ms = d->target_ms;
			j->decisions[i] = pd;
		}
		j->n_decisions = n;
	}
}
