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
#include <malloc.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>

#include "backend.h"
#include "job.h"
#include "log.h"
#include "offload.h"
#include "peerpol.h"
#include "dseal.h"
#include "tls.h"
#include "tracker.h"
#include "util.h"
#include "vmigd.h"

#define B(p)	(1u << (p))
#define ENDS	(B(JOB_FAILED) | B(JOB_CANCELLED))

/*
 * The phases as the API shows them. Which phase may follow which, and the
 * stream frames each accepts, is each direction's table (job_kind.phases,
 * in job_out.c and job_in.c): a transition outside it is a bug in the
 * engine, not a runtime condition: it is fatal.
 */
static const struct {
	const char	*name;
	int		 terminal;
} job_phases[JOB_NPHASES] = {
	[JOB_NONE] = { "none", 0 },
	[JOB_WAITING] = { "waiting", 0 },
	[JOB_QUEUED] = { "queued", 0 },
	[JOB_SETUP] = { "setup", 0 },
	[JOB_PRECOPY] = { "precopy", 0 },
	[JOB_SWITCHOVER_READY] = { "switchover-ready", 0 },
	[JOB_STOPCOPY] = { "stopcopy", 0 },
	[JOB_RESUMING] = { "resuming", 0 },
	[JOB_COMPLETED] = { "completed", 1 },
	[JOB_CANCELLED] = { "cancelled", 1 },
	[JOB_FAILED] = { "failed", 1 },
};

static void	job_kick(struct job *);
static void	job_kick_cb(int, short, void *);
static void	job_timer_cb(int, short, void *);
static void	job_deadline_cb(int, short, void *);
static void	job_free(struct job *);
static const char *job_dev_name(const struct job *);
static void	engine_sched_cb(int, short, void *);
static void	engine_shed_cb(int, short, void *);

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

/* ------------------------------------------------------------ engine */

struct engine *
engine_new(struct event_base *base, struct backends *backends)
{
	struct engine	*eng;

	eng = xcalloc(1, sizeof(*eng));
	eng->base = base;
	eng->backends = backends;
	eng->stream_bind = xstrdup("tcp://127.0.0.1");
	eng->data_conns = DLINK_CONNS_DEFAULT;
	TAILQ_INIT(&eng->jobs);
	eng->next_id = 1;
	eng->next_seq = 1;
	sched_limits_default(&eng->limits);
	eng->ev_sched = event_new(base, -1, 0, engine_sched_cb, eng);
	eng->ev_shed = event_new(base, -1, 0, engine_shed_cb, eng);
	eng->offload = offload_new(base, JOB_OFFLOAD_THREADS);
	eng->trackers = tracker_set_new(base);
	return (eng);
}

void
engine_set_hooks(struct engine *eng, const struct engine_hooks *h)
{
	if (h != NULL)
		eng->hooks = *h;
	else
		memset(&eng->hooks, 0, sizeof(eng->hooks));
}

void
engine_set_journal(struct engine *eng, const struct engine_journal *j)
{
	if (j != NULL)
		eng->journal = *j;
	else
		memset(&eng->journal, 0, sizeof(eng->journal));
}

void
engine_set_first_id(struct engine *eng, uint64_t id)
{
	if (id > eng->next_id)
		eng->next_id = id;
}

void
engine_set_stream_bind(struct engine *eng, const char *url)
{
	free(eng->stream_bind);
	eng->stream_bind = xstrdup(url != NULL ? url : "tcp://127.0.0.1");
}

void
engine_set_peer_tls(struct engine *eng, const char *ca, const char *cert,
    const char *key, const char *peer_name)
{
	free(eng->tls_ca);
	free(eng->tls_cert);
	free(eng->tls_key);
	free(eng->peer_name);
	eng->tls_ca = xstrdup(ca != NULL ? ca : "");
	eng->tls_cert = xstrdup(cert != NULL ? cert : "");
	eng->tls_key = xstrdup(key != NULL ? key : "");
	eng->peer_name = xstrdup(peer_name != NULL ? peer_name : "");
}

int
job_peer_tls(struct job *job, const char *url, int dialer, char *name,
    size_t namelen, char *err, size_t errlen)
{
	struct engine		*eng = job->eng;
	struct tls_files	 f = { eng->tls_ca, eng->tls_cert, eng->tls_key,
	    "tls_ca_file", "tls_cert_file", "tls_key_file" };
	struct peerpol		 pol;
	struct peerpol_verdict	 v;
	uint64_t		 digest;
	int			 rc;

	if (strncmp(url, "tls+", 4) != 0)
		return (0);
	if (job->tls != NULL)
		return (0);	/* the stream's, now for the data too */
	/* the other side requires it: say so here, not as a dead handshake */
	if (f.cert == NULL || *f.cert == '\0' || f.key == NULL || *f.key == '\0')
		return (err_set(err, errlen, -EINVAL, "%s is tls+tcp://, and "
		    "[security] tls_cert_file and tls_key_file are not both "
		    "set: the peer link is mutual TLS, this host needs its "
		    "certificate", url));
	/*
	 * The data connections' seal (dseal.h) from the same files, now: a
	 * file replaced later (a reload) reaches the next job, as for the
	 * stream.
	 */
	if (!dialer) {
		if ((rc = tls_config_new(TLS_SERVER, &f, NULL, &job->tls,
		    &digest, err, errlen)) != 0)
			return (rc);
		return (tls_seal_new(TLS_SERVER, &f, NULL, &job->seal, err,
		    errlen));
	}
	if ((rc = peerpol_parse(&pol, "", 0, eng->peer_name, err,
	    errlen)) != 0)
		return (rc);
	rc = peerpol_check(&pol, url, &v, err, errlen);
	peerpol_clear(&pol);
	if (rc != 0)
		return (rc);
	log_debug("%s: job %" PRIu64 ": %s: the certificate must name %s",
	    __func__, job->id, url, v.server_name);
	if (name != NULL)
		strlcpy_v(name, v.server_name, namelen);
	if ((rc = tls_config_new(TLS_CLIENT, &f, v.server_name, &job->tls,
	    &digest, err, errlen)) != 0)
		return (rc);
	return (tls_seal_new(TLS_CLIENT, &f, v.server_name, &job->seal, err,
	    errlen));
}

void
engine_set_data_conns(struct engine *eng, unsigned n)
{
	eng->data_conns = MIN(n, DLINK_CONNS_MAX);
}

void
engine_set_compression(struct engine *eng, int mode)
{
	eng->compression = mode;	/* the next jobs' */
}

uint64_t
job_wire_bytes(const struct job *job)
{
	const struct stream_stats	*ss = stream_stats(job->stream);

	return ((job->kind->sends ? ss->bytes_out : ss->bytes_in) +
	    (job->dlink != NULL ? dlink_bytes(job->dlink) : 0));
}

void
engine_set_prefault(struct engine *eng, int on)
{
	eng->prefault = on != 0;
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
	tracker_set_free(eng->trackers);
	event_free(eng->ev_sched);
	event_free(eng->ev_shed);
	free(eng->stream_bind);
	free(eng->tls_ca);
	free(eng->tls_cert);
	free(eng->tls_key);
	free(eng->peer_name);
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
		if (job->kind->freeze != NULL)
			job->kind->freeze(job);
		dlink_close(job->dlink);	/* before the memory goes */
		job->dlink = NULL;
		stream_close(job->stream);
		job->stream = NULL;
		job_release_devices(job);
	}
}

/*
 * Whether to give malloc's free pages back now (pure, test_engine): when
 * the last running job has finished, the cost of a trim (the next job's
 * buffers fault in again) falls on nobody; with jobs always running, at
 * most every ENGINE_TRIM_MS.
 */
int
engine_trim_due(unsigned int active, uint64_t now, uint64_t last)
{
	return (active == 0 || now - last >= ENGINE_TRIM_MS);
}

/*
 * Free memory stayed resident: stream.c keeps blocks up to 32 MiB in the
 * heap and 64 MiB free at its top before glibc trims by itself (the page
 * batches' faults cost half the stream's rate), and holes between live
 * blocks are never trimmed at all. Under test_soak_scale's 64 concurrent
 * migrations and RPC flood, malloc_stats() showed a source with 169 MB
 * in its heap of which 7 MB was in use, and RssAnon 24 MiB higher after
 * 30 rounds. malloc_trim() returns the free pages inside the heap too.
 */
static void
engine_give_back(struct engine *eng)
{
	uint64_t	t0 = now_ms();
	int		rv;

	rv = malloc_trim(0);
	eng->trimmed_ms = now_ms();
	log_debug("%s: malloc_trim %s memory in %" PRIu64 " ms", __func__,
	    rv ? "gave back" : "found no", eng->trimmed_ms - t0);
}

/*
 * A finished job is kept as a record (GetJob, its statistics, a completed
 * source's hold on its VF) for JOB_FINISHED_MAX jobs, but not its working
 * state: the pump's batches, the dirty sets, the state buffers (about
 * 0.6 MiB for a 16 MiB VM; 256 kept jobs made a source grow by 160 MiB,
 * test_soak). They go from the loop's top, never from inside the job's own
 * code that finished it, and not while a device command is out.
 */
static void
engine_shed_cb(int fd, short what, void *arg)
{
	struct engine	*eng = arg;
	struct job	*job;
	unsigned int	 shed = 0, active = 0;

	(void)fd;
	(void)what;
	TAILQ_FOREACH(job, &eng->jobs, entry) {
		if (!job_phase_terminal(job->phase))
			active++;
		if (job->shed || !job_phase_terminal(job->phase))
			continue;
		if (job->dev_busy) {
			event_active(eng->ev_shed, 0, 0);	/* next turn */
			continue;
		}
		log_debug("%s: job %" PRIu64 ": its working state goes",
		    __func__, job->id);
		job->kind->free(job);
		job->shed = 1;
		shed++;
	}
	if (shed > 0 && engine_trim_due(active, now_ms(), eng->trimmed_ms))
		engine_give_back(eng);
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
		if (job->kind->holds_device != NULL &&
		    job->kind->holds_device(job))
			continue;
		TAILQ_REMOVE(&eng->jobs, job, entry);
		eng->nfinished--;
		if (eng->hooks.dropped != NULL)
			eng->hooks.dropped(eng->hooks.arg, job);
		job_free(job);
	}
}

static enum sched_state
job_sched_state(const struct job *job)
{
	if (!job->kind->scheduled)
		return (SCHED_DONE);
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
			if (job->kind->sends && !job_phase_terminal(job->phase)
			    && job->phase != JOB_QUEUED)
				nsend++;
		}
		w = sched_window(JOB_HOST_WINDOW_BYTES, nsend,
		    JOB_WINDOW_BYTES, JOB_WINDOW_MIN);
		if (w != eng->window) {
			eng->window = w;
			TAILQ_FOREACH(job, &eng->jobs, entry) {
				if (job->kind->window != NULL &&
				    !job_phase_terminal(job->phase))
					job->kind->window(job);
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
		sj->dir = job->kind->sched_dir;
		sj->state = job_sched_state(job);
		/* a group is admitted on its first device's PF */
		sj->pf = job->ndevs > 0 && job->devs[0].dev != NULL ?
		    job->devs[0].dev->pf->name : NULL;
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
			job->kind->start(job);
		} else if (job->phase == JOB_QUEUED &&
		    strcmp(job->wait_reason, eng->admit[i].reason) != 0) {
			strlcpy_v(job->wait_reason, eng->admit[i].reason,
			    sizeof(job->wait_reason));
			job_changed(job);	/* GetJob shows why it waits */
		}
		if (eng->shares[i].sending && job->kind->share != NULL) {
			job->share_bps = eng->shares[i].share_bps;
			job->st.bandwidth_share_bps = job->share_bps;
			job->kind->share(job, job->share_bps);
		}
	}
	free(map);
}

/* ------------------------------------------------------------ jobs */

struct job *
job_new(struct engine *eng, const struct job_kind *kind, const char *device)
{
	struct job	*job;

	job = xcalloc(1, sizeof(*job));
	job->eng = eng;
	job->id = eng->next_id++;
	job->seq = eng->next_seq++;
	job->kind = kind;
	job->dir = kind->dir;
	job->phase = JOB_NONE;
	job->device_name = xstrdup(device);
	job->created_ms = now_ms();
	job->created_unix_ms = unix_ms();
	job->phase_ms = job->created_ms;
	job->ev_timer = event_new(eng->base, -1, 0, job_timer_cb, job);
	job->ev_kick = event_new(eng->base, -1, 0, job_kick_cb, job);
	/* fails harmlessly on a base without priorities (unit tests) */
	(void)event_priority_set(job->ev_kick, VMIG_PRIO_CRITICAL);
	job->ev_deadline = event_new(eng->base, -1, 0, job_deadline_cb, job);
	TAILQ_INSERT_TAIL(&eng->jobs, job, entry);
	log_debug("%s: job %" PRIu64 " %s %s", __func__, job->id, kind->name,
	    device);
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

/*
 * Populating the mapping: MAP_POPULATE in mmap() held the loop for the
 * whole VM's first touches (a destination's fresh pages are allocated and
 * cleared: 130-160 ms per 32 MiB on the test VMs, so 64 PrepareIncoming
 * back to back took 9 s and every other job and caller waited). A worker
 * does it instead, MEM_POPULATE_CHUNK per task, queued behind the work
 * somebody waits for (a digest in a downtime waits for one chunk at most);
 * the transfer does not wait for it: a page not yet there is faulted in by
 * whoever touches it first, as without populating.
 */
static void
job_populate_work(struct offload_task *t, void *arg)
{
	struct job	*job = arg;

	(void)t;
	job->populate.rc = mem_populate_step(&job->mem, &job->populate.region,
	    &job->populate.off);
}

static void
job_populate_done(void *arg)
{
	struct job	*job = arg;

	job->populate.task = NULL;
	if (job->eng->frozen)
		return;
	if (job->populate.rc == 1) {
		job->populate.task = offload_submit_background(job->eng->offload,
		    job_populate_work, job_populate_done, job);
		return;
	}
	log_debug("%s: job %" PRIu64 ": %d (%" PRIu64 " us)", __func__,
	    job->id, job->populate.rc, now_us() - job->populate.start_us);
}

static void
job_populate_begin(struct job *job)
{
	job->populate.region = 0;
	job->populate.off = 0;
	job->populate.start_us = now_us();
	job->populate.task = offload_submit_background(job->eng->offload,
	    job_populate_work, job_populate_done, job);
}

static void
job_unmap_work(struct offload_task *t, void *arg)
{
	struct mem_map	*m = arg;

	mem_map_close(m);
	free(m);
}

/*
 * A digest or populating under way stops first (they use the mapping);
 * the unmapping itself goes to a worker: tearing down the page tables of
 * a whole VM takes milliseconds the other jobs' loop does not have.
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
	if (job->populate.task != NULL) {
		offload_cancel(job->populate.task);
		job->populate.task = NULL;
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
	job->kind->free(job);
	dlink_close(job->dlink);	/* no byte lands after this */
	stream_close(job->stream);
	if (job->tls != NULL)
		nng_tls_config_free(job->tls);	/* the endpoints held theirs */
	dseal_ctx_free(job->seal);
	job_close_memory(job);
	job_release_devices(job);
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
	if (job->eng->hooks.dropped != NULL)
		job->eng->hooks.dropped(job->eng->hooks.arg, job);
	job_free(job);
}

struct job *
job_find(struct engine *eng, uint64_t id)
{
	struct job	*job;

	TAILQ_FOREACH(job, &eng->jobs, entry) {
		if (job->id == id || job_dev_by_id(job, id) != NULL)
			return (job);
	}
	return (NULL);
}

struct job_dev *
job_dev_by_id(struct job *job, uint64_t id)
{
	unsigned int	i;

	for (i = 0; i < job->ndevs; i++) {
		if (job->devs[i].id == id)
			return (&job->devs[i]);
	}
	return (NULL);
}

void
job_set_cur(struct job *job, unsigned int i)
{
	VMIG_ASSERT(i < JOB_GROUP_MAX);
	job->cur = i;
	job->dev = job->devs[i].dev;
}

void
job_release_devices(struct job *job)
{
	unsigned int	i;

	for (i = 0; i < job->ndevs; i++) {
		if (job->devs[i].dev != NULL)
			backend_dev_release(job->devs[i].dev, job->id);
		job->devs[i].dev = NULL;
	}
	job->dev = NULL;
}

/* ------------------------------------------------------------ calls */

int
engine_prepare_incoming(struct engine *eng, const struct job_request *req,
    const struct job_policy *pol, engine_done_fn done, void *arg,
    struct job **jp, char *err, size_t errlen)
{
	int	rc;

	if (eng->shutting_down)
		return (err_set(err, errlen, -ESHUTDOWN, "the daemon is "
		    "shutting down"));
	if ((rc = job_in_create(eng, req, pol, jp, err, errlen)) != 0)
		return (rc);
	(*jp)->done = done;
	(*jp)->done_arg = arg;
	job_in_prepare(*jp);
	return (0);
}

int
engine_start_migration(struct engine *eng, const struct job_request *req,
    const struct job_policy *pol, struct job **jp, char *err, size_t errlen)
{
	if (eng->shutting_down)
		return (err_set(err, errlen, -ESHUTDOWN, "the daemon is "
		    "shutting down"));
	return (job_out_create(eng, req, pol, jp, err, errlen));
}

uint32_t
job_device_mode(const struct job *job)
{
	return (job->dev_mode);
}

void
job_forget_done(struct job *job)
{
	job->done = NULL;
	job->done_arg = NULL;
}

void
job_call_done(struct job *job, int rc)
{
	engine_done_fn	 done = job->done;
	void		*arg = job->done_arg;

	if (done == NULL)
		return;
	job_forget_done(job);	/* once */
	done(arg, job, rc, rc != 0 ? job->error : NULL);
}

int
job_set_policy(struct job *job, const struct job_policy *pol, char *err,
    size_t errlen)
{
	uint32_t	old_timeout = job->pol.completion_timeout_s;

	if (job_phase_terminal(job->phase) || job->failing)
		return (err_set(err, errlen, -EALREADY, "job %" PRIu64 " is "
		    "%s: its policy no longer matters", job->id,
		    job_phase_name(job->phase)));
	job->pol = *pol;
	/* the deadline keeps counting from the job's creation */
	if (pol->completion_timeout_s != old_timeout &&
	    job->phase != JOB_QUEUED && job->phase != JOB_WAITING &&
	    job->phase != JOB_NONE) {
		uint64_t	elapsed = now_ms() - job->created_ms;
		uint64_t	limit = (uint64_t)pol->completion_timeout_s *
		    1000;
		struct timeval	tv;

		evtimer_del(job->ev_deadline);
		if (limit != 0) {
			limit = limit > elapsed ? limit - elapsed : 1;
			tv.tv_sec = (time_t)(limit / 1000);
			tv.tv_usec = (suseconds_t)(limit % 1000) * 1000;
			evtimer_add(job->ev_deadline, &tv);
		}
	}
	if (job->kind->set_policy != NULL)
		job->kind->set_policy(job);
	engine_reschedule(job->eng);
	log_info("job %" PRIu64 ": policy now downtime %" PRIu32 " ms (ceiling %"
	    PRIu32 "), bandwidth %" PRIu64 " B/s, timeout %" PRIu32 " s",
	    job->id, job->pol.max_downtime_ms, job->pol.downtime_ceiling_ms,
	    job->pol.bandwidth_limit_bps, job->pol.completion_timeout_s);
	return (0);
}

int
job_switchover(struct job *job, char *err, size_t errlen)
{
	if (job->kind->switchover == NULL)
		return (err_set(err, errlen, -EINVAL, "job %" PRIu64 " is %s: "
		    "call Switchover on the source", job->id, job->kind->name));
	return (job->kind->switchover(job, err, errlen));
}

int
job_cancel_request(struct job *job, const char *reason, char *err,
    size_t errlen)
{
	if (job_phase_terminal(job->phase))
		return (err_set(err, errlen, -EALREADY, "job %" PRIu64 " already "
		    "ended: %s", job->id, job_phase_name(job->phase)));
	if (job->phase == JOB_RESUMING)
		return (err_set(err, errlen, -EBUSY, "job %" PRIu64 " is "
		    "resuming on the destination: too late to cancel; it "
		    "completes or rolls back by itself", job->id));
	job_cancel(job, reason);
	return (0);
}

/* Claim one device of the request for the job (slot i). */
static int
job_claim_dev(struct job *job, unsigned int i, const char *name, char *err,
    size_t errlen)
{
	struct device	*dev;
	char		 owner[64];
	unsigned int	 k;
	int		 rc;

	if ((rc = backend_dev_lookup(job->eng->backends, name, &dev, err,
	    errlen)) != 0)
		return (rc);
	for (k = 0; k < i; k++) {
		if (job->devs[k].dev == dev)
			return (err_set(err, errlen, -EINVAL, "device %s is "
			    "named twice in the group", dev->name));
	}
	if (dev->info.caps.state_kind > VMIG_STATE_STREAM)
		return (err_set(err, errlen, -ENOTSUP, "device %s: state kind "
		    "%u is neither a snapshot nor a stream", dev->name,
		    dev->info.caps.state_kind));
	snprintf(owner, sizeof(owner), "job %" PRIu64 " (%s)", job->id,
	    job->kind->name);
	if ((rc = backend_dev_claim(dev, job->id, owner, err, errlen)) != 0)
		return (rc);
	job->devs[i].dev = dev;
	job->devs[i].id = i == 0 ? job->id : job->eng->next_id++;
	strlcpy_v(job->devs[i].name, dev->name, sizeof(job->devs[i].name));
	job->ndevs = i + 1;
	return (0);
}

/* The request's devices, claimed for the job, and its memory mapped. */
int
job_claim(struct job *job, const struct job_request *req, int flags,
    char *err, size_t errlen)
{
	size_t		 i;
	int		 rc, populate;

	if (req->nregions == 0)
		return (err_set(err, errlen, -EINVAL, "no memory regions: "
		    "the %s needs the VM's memory", job->dir == JOB_OUTGOING ?
		    "source" : "destination"));
	for (i = 1; i < req->nregions; i++) {
		if (req->regions[i].page_size != req->regions[0].page_size)
			return (err_set(err, errlen, -EINVAL, "region %zu has "
			    "page size %" PRIu32 " but region 0 has %" PRIu32
			    ": dirty tracking uses one page size per device", i,
			    req->regions[i].page_size,
			    req->regions[0].page_size));
	}
	if (req->ndevices + 1 > JOB_GROUP_MAX)
		return (err_set(err, errlen, -E2BIG, "a group of %zu devices: "
		    "at most %d", req->ndevices + 1, JOB_GROUP_MAX));
	if ((rc = job_claim_dev(job, 0, req->device, err, errlen)) != 0)
		return (rc);
	for (i = 0; i < req->ndevices; i++) {
		if ((rc = job_claim_dev(job, (unsigned int)i + 1,
		    req->devices[i], err, errlen)) != 0)
			return (rc);
	}
	job_set_cur(job, 0);
	/* prefault_memory touches every page now, on purpose; else a worker
	 * populates (job_populate_begin) */
	populate = (flags & (MEM_MAP_POPULATE | MEM_MAP_PREFAULT)) ==
	    MEM_MAP_POPULATE;
	if (populate)
		flags &= ~MEM_MAP_POPULATE;
	if ((rc = mem_map_open(&job->mem, req->regions, req->nregions, flags,
	    err, errlen)) != 0)
		return (rc);
	job_memory_opened(job);
	if (populate)
		job_populate_begin(job);
	job->vm = xstrdup(req->vm != NULL ? req->vm : "");
	return (0);
}

void
job_arm_deadline(struct job *job)
{
	struct timeval	tv = { job->pol.completion_timeout_s, 0 };

	if (job->pol.completion_timeout_s != 0)
		evtimer_add(job->ev_deadline, &tv);
}

void
job_set_phase(struct job *job, enum job_phase next, const char *why)
{
	struct engine	*eng = job->eng;
	enum job_phase	 prev = job->phase;
	uint64_t	 now = now_ms();

	if ((unsigned)next >= JOB_NPHASES ||
	    (job->kind->phases[prev].next & B(next)) == 0)
		fatalx("%s: job %" PRIu64 " (%s): %s -> %s is not in the phase "
		    "table", __func__, job->id, job->kind->name,
		    job_phase_name(prev), job_phase_name(next));
	log_info("job %" PRIu64 " (%s %s): %s -> %s%s%s", job->id,
	    job->kind->name, job->device_name, job_phase_name(prev),
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
		eng->nfinished++;
	}
	/* the view first: whoever hears the event and asks sees the phase */
	job_changed(job);
	if (eng->hooks.phase != NULL)
		eng->hooks.phase(eng->hooks.arg, job, prev, why);
	engine_reschedule(eng);
}

int
job_frame_expected(const struct job *job, const struct frame *fr, char *err,
    size_t errlen)
{
	char	where[64];

	snprintf(where, sizeof(where), "in %s", job_phase_name(job->phase));
	return (frame_expect(fr, job->kind->phases[job->phase].frames, where,
	    err, errlen));
}

/*
 * memory_bps over windows of at least JOB_RATE_WINDOW_MS, closed whenever
 * bytes move or the job is published (so a stalled transfer reads 0);
 * a finished job keeps its last rate.
 */
#define JOB_RATE_WINDOW_MS	500

static void
job_rate_window(struct job *job, uint64_t now)
{
	struct job_stats	*st = &job->st;

	if (job_phase_terminal(job->phase))
		return;
	if (st->rate_t0_ms == 0 || now < st->rate_t0_ms) {
		st->rate_t0_ms = now;
		st->rate_b0 = st->memory_processed;
		return;
	}
	if (now - st->rate_t0_ms < JOB_RATE_WINDOW_MS)
		return;
	st->memory_bps = (st->memory_processed - st->rate_b0) * 1000 /
	    (now - st->rate_t0_ms);
	st->rate_t0_ms = now;
	st->rate_b0 = st->memory_processed;
}

void
job_memory_opened(struct job *job)
{
	job->mem_open = 1;
	job->st.memory_total = job->mem.total_bytes;
	job->st.memory_page_size = job->mem.nregions > 0 ?
	    job->mem.regions[0].page_size : 0;
}

void
job_account_pages(struct job *job, uint64_t bytes, uint64_t pages,
    uint64_t zero_pages)
{
	/* the window opens with the first bytes, not at job creation */
	if (job->st.rate_t0_ms == 0)
		job_rate_window(job, now_ms());
	job->st.memory_processed += bytes;
	job->st.memory_normal += pages - zero_pages;
	job->st.memory_constant += zero_pages;
	job_rate_window(job, now_ms());
}

void
job_rate_tick(struct job *job)
{
	if (job->st.rate_t0_ms != 0)
		job_rate_window(job, now_ms());
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
		if (job->eng->hooks.step != NULL)
			job->eng->hooks.step(job->eng->hooks.arg, job, s->name);
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
	/* timeout_action FORCE: the policy decides now (force or abort) */
	if (job->pol.timeout_force && job->kind->deadline != NULL &&
	    job->kind->deadline(job))
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
	    job->kind->name, job->device_name,
	    job->cancel_req ? "cancelled" : "failed",
	    job_phase_name(job->phase), job->error);
	evtimer_del(job->ev_deadline);
	job->kind->rollback(job);
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
	dlink_close(job->dlink);	/* no byte lands after this */
	job->dlink = NULL;
	stream_close(job->stream);
	job->stream = NULL;
	if (job->tls != NULL)
		nng_tls_config_free(job->tls);
	job->tls = NULL;
	dseal_ctx_free(job->seal);
	job->seal = NULL;
	job_close_memory(job);
	job->st.device_state_pending = 0;
	job_set_phase(job, end, end == JOB_COMPLETED ? NULL : job->error);
	if (job->eng->journal.ended != NULL)
		job->eng->journal.ended(job->eng->journal.arg, job);
	event_active(job->eng->ev_shed, 0, 0);
	engine_trim(job->eng);
}

int
job_journal(struct job *job, uint32_t set)
{
	struct engine	*eng = job->eng;
	char		 err[JOB_ERR_MAX];
	int		 rc;

	job->jflags |= set;
	if (eng->journal.record == NULL)
		return (1);
	if ((rc = eng->journal.record(eng->journal.arg, job, err,
	    sizeof(err))) != 0 && (set & JE_SWITCHED)) {
		/*
		 * The VF runs on the destination already: failing now would
		 * undo a migration that happened. A restart finds the
		 * record before (COMMITTING) and keeps the source stopped.
		 */
		log_warnx("job %" PRIu64 ": %s", job->id, err);
		return (1);
	}
	if (rc != 0) {
		job_step_done(job, rc, "%s: the step that would change the "
		    "device is not taken", err);
		return (0);
	}
	return (1);
}

/* ------------------------------------------------------------ peer */

int
job_send_abort(struct job *job, int code, const char *reason)
{
	Vmig__Stream__V1__Frame	f = VMIG__STREAM__V1__FRAME__INIT;
	Vmig__Stream__V1__Abort	a = VMIG__STREAM__V1__ABORT__INIT;

	if (job->stream == NULL || stream_is_closed(job->stream))
		return (-EPIPE);
	a.code = (Vmig__Stream__V1__Abort__Code)code;
	a.reason = (char *)reason;
	f.kind_case = VMIG__STREAM__V1__FRAME__KIND_ABORT;
	f.abort = &a;
	return (stream_send(job->stream, &f, NULL, 0));
}

int
job_rollback_abort_code(const struct job *job)
{
	return (job->cancel_req ? VMIG__STREAM__V1__ABORT__CODE__CODE_CANCELLED :
	    VMIG__STREAM__V1__ABORT__CODE__CODE_DEVICE);
}

/* ------------------------------------------------------------ devices */

void
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
	if (job->eng->hooks.dev_cmd != NULL)
		job->eng->hooks.dev_cmd(job->eng->hooks.arg, job->dev != NULL ?
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
job_dev_begin(struct job *job, const char *what, job_dev_fn fn)
{
	VMIG_ASSERT(!job->dev_busy);
	job->dev_busy = 1;
	job->devop.fn = fn;
	job->devop.gen = job->step_gen;
	job->devop.what = what;
	job->devop.start_us = now_us();
}

void
job_dev_adopt(struct job *job)
{
	if (job->dev_busy && job->devop.fn != NULL)
		job->devop.gen = job->step_gen;
}

int
job_dev_submitted(struct job *job, int rc)
{
	if (rc == 0)
		return (0);
	job->dev_busy = 0;
	job->devop.fn = NULL;
	job_step_done(job, rc, "device %s: %s: %s", job_dev_name(job),
	    job->devop.what, strerror(-rc));
	return (rc);
}

int
job_dev_untried(struct job *job, int rc)
{
	if (rc == 0)
		return (0);
	job->dev_busy = 0;
	job->devop.fn = NULL;
	log_warnx("job %" PRIu64 ": device %s: %s could not be submitted: %s",
	    job->id, job_dev_name(job), job->devop.what, strerror(-rc));
	return (1);
}

/* The device a message names: the one under way, else the job's. */
static const char *
job_dev_name(const struct job *job)
{
	return (job->dev != NULL ? job->dev->name : job->device_name);
}

int
job_dev_failed(struct job *job, const struct vmig_result *res)
{
	char	buf[256];

	if (res->err == 0)
		return (0);
	job_step_done(job, res->err, "device %s: %s: %s", job_dev_name(job),
	    job->devop.what, job_dev_strerror(res, buf, sizeof(buf)));
	return (1);
}

int
job_step_open_device(struct job *job)
{
	char		err[BACKEND_ERR_MAX];
	unsigned int	i;
	int		rc;

	for (i = 0; i < job->ndevs; i++) {
		if ((rc = backend_dev_open(job->devs[i].dev, err,
		    sizeof(err))) != 0) {
			job_step_done(job, rc, "%s", err);
			return (0);
		}
	}
	return (1);
}

/* Run one() for the devices from cur on, until one starts a command. */
static int
job_each_run(struct job *job)
{
	while (job->cur < job->ndevs) {
		job_set_cur(job, job->cur);
		if (job->dev == NULL || job->each(job) == 1) {
			job->cur++;
			continue;
		}
		return (0);
	}
	job->each = NULL;
	job_set_cur(job, 0);
	return (1);
}

int
job_each_dev(struct job *job, int (*one)(struct job *))
{
	job->each = one;
	job->cur = 0;
	return (job_each_run(job));
}

void
job_dev_next(struct job *job)
{
	if (job->each == NULL) {
		job_step_done(job, 0, NULL);
		return;
	}
	job->cur++;
	if (job_each_run(job))
		job_step_done(job, 0, NULL);
}

void
job_dev_step_done(struct job *job, const struct vmig_result *res)
{
	if (!job_dev_failed(job, res))
		job_dev_next(job);
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

/* ------------------------------------------------------------ reports */

void
job_record_decision(struct job *job, const struct converge_decision *d)
{
	struct engine	*eng = job->eng;

	job->decisions[job->ndecisions % JOB_DECISIONS_MAX] = *d;
	job->ndecisions++;
	log_info("job %" PRIu64 " iteration %" PRIu32 ": %s: %s", job->id,
	    d->iteration, converge_action_name(d->action), d->reason);
	if (eng->hooks.decision != NULL)
		eng->hooks.decision(eng->hooks.arg, job, d);
}

void
job_publish_progress(struct job *job)
{
	struct engine	*eng = job->eng;

	if (eng->hooks.progress != NULL)
		eng->hooks.progress(eng->hooks.arg, job);
}

void
job_changed(struct job *job)
{
	struct engine	*eng = job->eng;

	job_rate_tick(job);
	if (eng->hooks.changed != NULL)
		eng->hooks.changed(eng->hooks.arg, job);
}
