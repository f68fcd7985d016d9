/*
 * metrics.c: what the metrics count and how a page is rendered (the
 * HTTP server is metrics_http.c). Loop thread only.
 *
 * The daemon is read as a client would read it: its read-only API calls
 * run in process through the call table (api.h), so the engine needs no
 * accessor for us and the numbers are the ones GetJob shows. Counters
 * that must survive a job (migrations ended, bytes, durations) are kept
 * here: a job that ends is seen through the events observer and
 * counted on the next loop turn from its GetJob; stream bytes are added
 * as deltas per job, so the totals only ever grow.
 *
 * Names and units follow Prometheus' conventions (vmigd_ prefix, base
 * units, _total for counters, _seconds and _bytes).
 */
#include "config.h"

#include <errno.h>
#include <inttypes.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>

#include "api.h"
#include "backend.h"
#include "events.h"
#include "log.h"
#include "metrics.h"
#include "pbname.h"
#include "rpc.h"
#include "util.h"
#include "vmigd.h"

#define MX_HIST_MAX		16
#define MX_DEVOPS_MAX		512	/* (PF, command) pairs counted */

/* Directions (vmig.v1.JobDirection - 1) and results of an ended job. */
enum { MX_OUT, MX_IN, MX_NDIRS };
static const char *const mx_dirs[MX_NDIRS] = { "outgoing", "incoming" };
enum { MX_COMPLETED, MX_FAILED, MX_CANCELLED, MX_NRESULTS };
static const char *const mx_results[MX_NRESULTS] = {
	"completed", "failed", "cancelled",
};

/* Reason classes: which result each belongs to (bit per result). */
static const struct {
	const char	*name;
	unsigned int	 results;
} mx_reasons[] = {
	{ "none", 1u << MX_COMPLETED },
	{ "requested", 1u << MX_CANCELLED },
	{ "shutdown", 1u << MX_CANCELLED },
	{ "timeout", 1u << MX_FAILED },
	{ "policy", 1u << MX_FAILED },
	{ "verify", 1u << MX_FAILED },
	{ "peer", 1u << MX_FAILED },
	{ "device", 1u << MX_FAILED },
	{ "other", 1u << MX_FAILED },
};
#define MX_NREASONS	nitems(mx_reasons)

/*
 * How a failure's message (job.c's job_fail() and the steps' reasons)
 * maps to a class: the first entry whose words appear wins. The order
 * matters: "device ... in time" is a timeout, "... timeout action is
 * abort" is the policy giving up.
 */
static const struct {
	const char	*words;
	const char	*class;
} mx_failure_words[] = {
	{ "digest", "verify" },
	{ "timeout action is abort", "policy" },
	{ "forced bound", "policy" },
	{ "timeout", "timeout" },
	{ " in time", "timeout" },
	{ "destination", "peer" },
	{ "source", "peer" },
	{ "connection to the", "peer" },
	{ "device ", "device" },
};

/* Histogram bounds in seconds. */
static const double mx_downtime_bounds[] = {
	0.005, 0.01, 0.025, 0.05, 0.1, 0.2, 0.3, 0.5, 1, 2, 5, 10,
};
static const double mx_duration_bounds[] = {
	0.5, 1, 2, 5, 10, 20, 30, 60, 120, 300, 600, 1800,
};
static const double mx_devcmd_bounds[] = {
	0.0001, 0.0005, 0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5,
};

struct mx_hist {
	uint64_t	 bucket[MX_HIST_MAX + 1];	/* last: +Inf */
	uint64_t	 count;
	double		 sum;
};

struct mx_job {
	uint64_t	 id;
	uint64_t	 bytes;		/* stream bytes counted so far */
	int		 seen;		/* in this refresh's ListJobs */
};

struct mx_devop {
	char		 pf[32];
	char		 op[40];
	uint64_t	 errors;
	struct mx_hist	 latency;
};

struct metrics {
	struct vmigd		*d;
	struct metrics_http	*http;
	struct event		*ev_timer;	/* render every REFRESH_MS */
	struct event		*ev_ended;	/* count jobs that ended */

	uint64_t		 ended[MX_NDIRS][MX_NRESULTS][MX_NREASONS];
	struct mx_hist		 downtime[MX_NDIRS];
	struct mx_hist		 duration[MX_NDIRS][MX_NRESULTS];
	uint64_t		 stream_bytes[MX_NDIRS];

	struct mx_job		*jobs;		/* live jobs, by id */
	size_t			 njobs;
	uint64_t		*ended_ids;	/* to count on the next turn */
	size_t			 nended;
	size_t			 capended;

	struct mx_devop		*devops;
	size_t			 ndevops;
	int			 devops_full;	/* warned once */
};

/* ------------------------------------------------------------ pure */

const char *
metrics_reason_class(int phase, const char *error)
{
	size_t	i;

	if (error == NULL)
		error = "";
	switch (phase) {
	case VMIG__V1__JOB_PHASE__PHASE_COMPLETED:
		return ("none");
	case VMIG__V1__JOB_PHASE__PHASE_CANCELLED:
		return (strstr(error, "shutting down") != NULL ? "shutdown" :
		    "requested");
	default:
		break;
	}
	for (i = 0; i < nitems(mx_failure_words); i++) {
		if (strstr(error, mx_failure_words[i].words) != NULL)
			return (mx_failure_words[i].class);
	}
	return ("other");
}

static size_t
mx_reason_index(const char *class)
{
	size_t	i;

	for (i = 0; i < MX_NREASONS; i++) {
		if (strcmp(mx_reasons[i].name, class) == 0)
			return (i);
	}
	fatalx("%s: no reason class %s", __func__, class);
}

static void
mx_hist_observe(struct mx_hist *h, const double *bounds, size_t n, double v)
{
	size_t	i;

	VMIG_ASSERT(n <= MX_HIST_MAX);
	for (i = 0; i < n && v > bounds[i]; i++)
		;
	h->bucket[i]++;
	h->count++;
	h->sum += v;
}

/* ------------------------------------------------------------ rendering */

/* A label value as the text format wants it: \\ " and newline escaped. */
static const char *
mx_esc(char *out, size_t len, const char *v)
{
	size_t	n = 0;

	for (; *v != '\0' && n + 3 < len; v++) {
		if (*v == '\\' || *v == '"' || *v == '\n') {
			out[n++] = '\\';
			out[n++] = *v == '\n' ? 'n' : *v;
		} else
			out[n++] = *v;
	}
	out[n] = '\0';
	return (out);
}

static void
mx_head(FILE *f, const char *name, const char *type, const char *help)
{
	fprintf(f, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/*
 * One histogram's series; labels is "" or `a="x",b="y"` (already
 * escaped), put before le.
 */
static void
mx_hist_render(FILE *f, const char *name, const char *labels,
    const struct mx_hist *h, const double *bounds, size_t n)
{
	uint64_t	cum = 0;
	size_t		i;
	const char	*sep = *labels != '\0' ? "," : "";

	for (i = 0; i < n; i++) {
		cum += h->bucket[i];
		fprintf(f, "%s_bucket{%s%sle=\"%g\"} %" PRIu64 "\n", name,
		    labels, sep, bounds[i], cum);
	}
	cum += h->bucket[n];
	fprintf(f, "%s_bucket{%s%sle=\"+Inf\"} %" PRIu64 "\n", name, labels,
	    sep, cum);
	fprintf(f, "%s_sum%s%s%s %.9g\n", name, *labels ? "{" : "", labels,
	    *labels ? "}" : "", h->sum);
	fprintf(f, "%s_count%s%s%s %" PRIu64 "\n", name, *labels ? "{" : "",
	    labels, *labels ? "}" : "", h->count);
}

static int
mx_dir(int direction)
{
	return (direction == VMIG__V1__JOB_DIRECTION__DIRECTION_INCOMING ?
	    MX_IN : MX_OUT);
}

static int
mx_terminal(int phase)
{
	return (phase == VMIG__V1__JOB_PHASE__PHASE_COMPLETED ||
	    phase == VMIG__V1__JOB_PHASE__PHASE_FAILED ||
	    phase == VMIG__V1__JOB_PHASE__PHASE_CANCELLED);
}

/* ------------------------------------------------------------ reading */

/*
 * Run one of the API's read-only calls in process, as a client's call
 * would run on the loop; the response is the caller's to free.
 */
static Vmig__V1__Response *
mx_call(struct metrics *m, Vmig__V1__Request *req)
{
	const struct api_entry	*e = api_find(req->call_case);
	struct rpc_call		 call;

	VMIG_ASSERT(e != NULL && e->reads_only);
	memset(&call, 0, sizeof(call));
	call.rpc = m->d->rpc;
	call.req = req;
	call.name = e->name;
	call.resp = rpc_msg_new(&vmig__v1__response__descriptor);
	call.resp->status = rpc_msg_new(&vmig__v1__status__descriptor);
	rpc_call_set_result(&call, e->result);
	if (e->exec(m->d, &call) != RPC_REPLY)
		fatalx("%s: %s deferred its answer", __func__, e->name);
	return (call.resp);
}

static struct mx_job *
mx_job_find(struct metrics *m, uint64_t id)
{
	size_t	i;

	for (i = 0; i < m->njobs; i++) {
		if (m->jobs[i].id == id)
			return (&m->jobs[i]);
	}
	return (NULL);
}

/* Count the stream bytes a job moved since we last looked. */
static void
mx_job_bytes(struct metrics *m, const Vmig__V1__Job *j, int forget)
{
	struct mx_job	*mj;
	uint64_t	 bytes = j->stats != NULL ? j->stats->bytes_sent : 0;

	if ((mj = mx_job_find(m, j->id)) == NULL) {
		m->jobs = xreallocarray(m->jobs, m->njobs + 1,
		    sizeof(*m->jobs));
		mj = &m->jobs[m->njobs++];
		memset(mj, 0, sizeof(*mj));
		mj->id = j->id;
	}
	if (bytes > mj->bytes) {
		m->stream_bytes[mx_dir(j->direction)] += bytes - mj->bytes;
		mj->bytes = bytes;
	}
	mj->seen = 1;
	if (forget)
		*mj = m->jobs[--m->njobs];
}

static void
mx_job_ended(struct metrics *m, const Vmig__V1__Job *j)
{
	const char	*class = metrics_reason_class(j->phase, j->error);
	int		 dir = mx_dir(j->direction), res;

	res = j->phase == VMIG__V1__JOB_PHASE__PHASE_COMPLETED ?
	    MX_COMPLETED : j->phase == VMIG__V1__JOB_PHASE__PHASE_CANCELLED ?
	    MX_CANCELLED : MX_FAILED;
	m->ended[dir][res][mx_reason_index(class)]++;
	if (j->stats != NULL) {
		mx_hist_observe(&m->duration[dir][res], mx_duration_bounds,
		    nitems(mx_duration_bounds),
		    (double)j->stats->time_elapsed_ms / 1000);
		if (res == MX_COMPLETED)
			mx_hist_observe(&m->downtime[dir], mx_downtime_bounds,
			    nitems(mx_downtime_bounds),
			    (double)j->stats->downtime_ms / 1000);
	}
	mx_job_bytes(m, j, 1);
	log_debug("%s: job %" PRIu64 " %s %s (%s)", __func__, j->id,
	    mx_dirs[dir], mx_results[res], class);
}

/* The jobs the observer saw end: their final numbers, from GetJob. */
static void
mx_count_ended(struct metrics *m)
{
	Vmig__V1__Request	 req = VMIG__V1__REQUEST__INIT;
	Vmig__V1__GetJobRequest	 gj = VMIG__V1__GET_JOB_REQUEST__INIT;
	Vmig__V1__Response	*r;
	size_t			 i;

	req.call_case = VMIG__V1__REQUEST__CALL_GET_JOB;
	req.get_job = &gj;
	for (i = 0; i < m->nended; i++) {
		gj.job_id = m->ended_ids[i];
		r = mx_call(m, &req);
		if (r->status->code == VMIG__V1__STATUS_CODE__STATUS_OK &&
		    r->get_job->job != NULL && mx_terminal(r->get_job->job->phase))
			mx_job_ended(m, r->get_job->job);
		else
			log_debug("%s: job %" PRIu64 ": %s", __func__,
			    m->ended_ids[i], r->status->message);
		protobuf_c_message_free_unpacked(&r->base, NULL);
	}
	m->nended = 0;
}

static void
mx_ended_cb(evutil_socket_t fd, short what, void *arg)
{
	mx_count_ended(arg);
}

/* events observer: a job reached a terminal phase. */
static void
mx_event(void *arg, const Vmig__V1__Event *e)
{
	struct metrics	*m = arg;

	if (e->kind != VMIG__V1__EVENT__KIND__KIND_PHASE ||
	    !mx_terminal(e->phase))
		return;
	if (m->nended == m->capended) {
		m->capended = m->capended == 0 ? 16 : m->capended * 2;
		m->ended_ids = xreallocarray(m->ended_ids, m->capended,
		    sizeof(*m->ended_ids));
	}
	m->ended_ids[m->nended++] = e->job_id;
	event_active(m->ev_ended, 0, 0);
}

void
metrics_dev_cmd(struct metrics *m, const char *pf, const char *op,
    uint64_t usec, int err)
{
	struct mx_devop	*o = NULL;
	size_t		 i;

	if (m == NULL)
		return;
	for (i = 0; i < m->ndevops; i++) {
		if (strcmp(m->devops[i].pf, pf) == 0 &&
		    strcmp(m->devops[i].op, op) == 0) {
			o = &m->devops[i];
			break;
		}
	}
	if (o == NULL) {
		if (m->ndevops == MX_DEVOPS_MAX) {
			if (!m->devops_full)
				log_warnx("metrics: more than %d kinds of device "
				    "command: %s on %s is not counted",
				    MX_DEVOPS_MAX, op, pf);
			m->devops_full = 1;
			return;
		}
		m->devops = xreallocarray(m->devops, m->ndevops + 1,
		    sizeof(*m->devops));
		o = &m->devops[m->ndevops++];
		memset(o, 0, sizeof(*o));
		strlcpy_v(o->pf, pf, sizeof(o->pf));
		strlcpy_v(o->op, op, sizeof(o->op));
	}
	if (err != 0)
		o->errors++;
	mx_hist_observe(&o->latency, mx_devcmd_bounds,
	    nitems(mx_devcmd_bounds), (double)usec / 1e6);
}

/* ------------------------------------------------------------ the page */

#define JS(f)	offsetof(Vmig__V1__JobStats, f)
static const struct {
	const char	*name;
	const char	*help;
	size_t		 off;		/* a uint64_t of vmig.v1.JobStats */
	double		 scale;		/* to the base unit */
} mx_job_gauges[] = {
	{ "vmigd_job_elapsed_seconds", "Time since the job was created.",
	  JS(time_elapsed_ms), 1e-3 },
	{ "vmigd_job_memory_total_bytes", "Bytes in the job's memory regions.",
	  JS(memory_total), 1 },
	{ "vmigd_job_memory_processed_bytes", "Bytes of pages sent (source) "
	  "or received (destination).", JS(memory_processed), 1 },
	{ "vmigd_job_memory_remaining_bytes", "Bytes dirty and not sent yet.",
	  JS(memory_remaining), 1 },
	{ "vmigd_job_dirty_rate_bytes_per_second", "Bytes per second the "
	  "device writes (its write records).", JS(device_dirty_rate_bps), 1 },
	{ "vmigd_job_transfer_rate_bytes_per_second", "Current page transfer "
	  "rate.", JS(memory_bps), 1 },
	{ "vmigd_job_iterations", "Pre-copy iterations done.",
	  JS(memory_iteration), 1 },
	{ "vmigd_job_expected_downtime_seconds", "Downtime a switchover would "
	  "cost now (device stop, state and the destination's load included).",
	  JS(expected_downtime_ms), 1e-3 },
	{ "vmigd_job_downtime_target_seconds", "The job's downtime target now "
	  "(after any ramp).", JS(downtime_target_ms), 1e-3 },
	{ "vmigd_job_stream_bytes", "Bytes on the job's stream, sent (source) "
	  "or received (destination).", JS(bytes_sent), 1 },
	{ "vmigd_job_bandwidth_share_bytes_per_second", "The scheduler's "
	  "bandwidth share for the job.", JS(bandwidth_share_bps), 1 },
};
#undef JS

/* Phases a live job can be in, in the order a job goes through them. */
static const int mx_live_phases[] = {
	VMIG__V1__JOB_PHASE__PHASE_WAITING,
	VMIG__V1__JOB_PHASE__PHASE_QUEUED,
	VMIG__V1__JOB_PHASE__PHASE_SETUP,
	VMIG__V1__JOB_PHASE__PHASE_PRECOPY,
	VMIG__V1__JOB_PHASE__PHASE_SWITCHOVER_READY,
	VMIG__V1__JOB_PHASE__PHASE_STOPCOPY,
	VMIG__V1__JOB_PHASE__PHASE_RESUMING,
};

static void
mx_render_daemon(struct metrics *m, FILE *f,
    const Vmig__V1__GetDaemonStatusResponse *st)
{
	uint64_t	now = unix_ms();

	mx_head(f, "vmigd_build_info", "gauge", "The running vmigd (1).");
	fprintf(f, "vmigd_build_info{version=\"%s\"} 1\n", PACKAGE_VERSION);
	mx_head(f, "vmigd_start_time_seconds", "gauge", "When vmigd started, "
	    "in seconds since the epoch.");
	fprintf(f, "vmigd_start_time_seconds %.3f\n",
	    (double)(now - st->uptime_ms) / 1000);
	mx_head(f, "vmigd_reloads_total", "counter", "Configuration reloads "
	    "(SIGHUP).");
	fprintf(f, "vmigd_reloads_total %" PRIu64 "\n", m->d->reloads);
	mx_head(f, "vmigd_events_published_total", "counter", "Events sent "
	    "to WatchEvents subscribers.");
	fprintf(f, "vmigd_events_published_total %" PRIu64 "\n",
	    events_sent(m->d->events));
	mx_head(f, "vmigd_scheduler_queue_length", "gauge", "Jobs waiting "
	    "for admission (limits, bandwidth).");
	fprintf(f, "vmigd_scheduler_queue_length %zu\n", st->n_queue);
	mx_head(f, "vmigd_metrics_snapshot_timestamp_seconds", "gauge",
	    "When the loop rendered this page (it is at most 1 s old).");
	fprintf(f, "vmigd_metrics_snapshot_timestamp_seconds %.3f\n",
	    (double)now / 1000);
}

static void
mx_render_jobs(FILE *f, const Vmig__V1__ListJobsResponse *lj)
{
	unsigned int		 n[MX_NDIRS][nitems(mx_live_phases)];
	const Vmig__V1__Job	*j;
	char			 phase[32], dev[128], vm[256], lab[256];
	size_t			 i, k, p;
	int			 dir;

	memset(n, 0, sizeof(n));
	for (i = 0; i < lj->n_jobs; i++) {
		for (p = 0; p < nitems(mx_live_phases); p++) {
			if ((int)lj->jobs[i]->phase == mx_live_phases[p])
				n[mx_dir(lj->jobs[i]->direction)][p]++;
		}
	}
	mx_head(f, "vmigd_jobs", "gauge", "Migration jobs in progress, by "
	    "direction and phase.");
	for (dir = 0; dir < MX_NDIRS; dir++) {
		for (p = 0; p < nitems(mx_live_phases); p++)
			fprintf(f, "vmigd_jobs{direction=\"%s\",phase=\"%s\"} "
			    "%u\n", mx_dirs[dir], pb_enum_label(
			    &vmig__v1__job_phase__descriptor, mx_live_phases[p],
			    "PHASE_", phase, sizeof(phase)), n[dir][p]);
	}
	mx_head(f, "vmigd_job_info", "gauge", "A job in progress (1): its "
	    "device, phase and VM.");
	for (i = 0; i < lj->n_jobs; i++) {
		j = lj->jobs[i];
		fprintf(f, "vmigd_job_info{job=\"%" PRIu64 "\",device=\"%s\","
		    "direction=\"%s\",phase=\"%s\",vm=\"%s\"} 1\n", j->id,
		    mx_esc(dev, sizeof(dev), j->device), mx_dirs[mx_dir(
		    j->direction)], pb_enum_label(&vmig__v1__job_phase__descriptor,
		    j->phase, "PHASE_", phase, sizeof(phase)),
		    mx_esc(vm, sizeof(vm), j->vm));
	}
	for (k = 0; k < nitems(mx_job_gauges); k++) {
		mx_head(f, mx_job_gauges[k].name, "gauge",
		    mx_job_gauges[k].help);
		for (i = 0; i < lj->n_jobs; i++) {
			j = lj->jobs[i];
			if (j->stats == NULL)
				continue;
			snprintf(lab, sizeof(lab), "job=\"%" PRIu64 "\","
			    "device=\"%s\",direction=\"%s\"", j->id,
			    mx_esc(dev, sizeof(dev), j->device),
			    mx_dirs[mx_dir(j->direction)]);
			fprintf(f, "%s{%s} %.9g\n", mx_job_gauges[k].name, lab,
			    (double)*(const uint64_t *)((const char *)j->stats +
			    mx_job_gauges[k].off) * mx_job_gauges[k].scale);
		}
	}
}

static void
mx_render_ended(struct metrics *m, FILE *f)
{
	char	lab[128];
	size_t	r;
	int	dir, res;

	mx_head(f, "vmigd_migrations_total", "counter", "Migration jobs "
	    "ended, by direction, result and reason class.");
	for (dir = 0; dir < MX_NDIRS; dir++)
		for (res = 0; res < MX_NRESULTS; res++)
			for (r = 0; r < MX_NREASONS; r++) {
				if (!(mx_reasons[r].results & (1u << res)))
					continue;
				fprintf(f, "vmigd_migrations_total{direction="
				    "\"%s\",result=\"%s\",reason=\"%s\"} %"
				    PRIu64 "\n", mx_dirs[dir], mx_results[res],
				    mx_reasons[r].name, m->ended[dir][res][r]);
			}
	mx_head(f, "vmigd_migration_downtime_seconds", "histogram",
	    "Downtime of completed migrations: source stop to destination "
	    "resume.");
	for (dir = 0; dir < MX_NDIRS; dir++) {
		snprintf(lab, sizeof(lab), "direction=\"%s\"", mx_dirs[dir]);
		mx_hist_render(f, "vmigd_migration_downtime_seconds", lab,
		    &m->downtime[dir], mx_downtime_bounds,
		    nitems(mx_downtime_bounds));
	}
	mx_head(f, "vmigd_migration_duration_seconds", "histogram",
	    "Total time of ended migration jobs, from creation to the end.");
	for (dir = 0; dir < MX_NDIRS; dir++)
		for (res = 0; res < MX_NRESULTS; res++) {
			snprintf(lab, sizeof(lab), "direction=\"%s\",result="
			    "\"%s\"", mx_dirs[dir], mx_results[res]);
			mx_hist_render(f, "vmigd_migration_duration_seconds",
			    lab, &m->duration[dir][res], mx_duration_bounds,
			    nitems(mx_duration_bounds));
		}
	mx_head(f, "vmigd_stream_sent_bytes_total", "counter", "Bytes sent "
	    "on migration streams (outgoing jobs).");
	fprintf(f, "vmigd_stream_sent_bytes_total %" PRIu64 "\n",
	    m->stream_bytes[MX_OUT]);
	mx_head(f, "vmigd_stream_received_bytes_total", "counter", "Bytes "
	    "received on migration streams (incoming jobs).");
	fprintf(f, "vmigd_stream_received_bytes_total %" PRIu64 "\n",
	    m->stream_bytes[MX_IN]);
}

static void
mx_render_rpc(struct metrics *m, FILE *f)
{
	const struct api_entry *const	*e;
	struct rpc_counts		*c;
	struct rpc_stats		 st;
	const char			*status;
	unsigned int			 call, s;

	c = xcalloc(1, sizeof(*c));
	rpc_get_counts(m->d->rpc, c);
	rpc_get_stats(m->d->rpc, &st);
	mx_head(f, "vmigd_rpc_requests_total", "counter", "Control API calls "
	    "answered, by method and status (method none: did not decode).");
	for (call = 0; call < RPC_CALLS_MAX; call++) {
		const char	*name = "none";

		if (call != 0) {
			for (e = api_table; *e != NULL; e++)
				if ((*e)->call == (int)call)
					break;
			if (*e == NULL)
				continue;
			name = (*e)->name;
		}
		for (s = 0; s < RPC_STATUS_MAX; s++) {
			/* every method's OK from the start, for rate() */
			if (c->n[call][s] == 0 && (call == 0 || s != 0))
				continue;
			status = rpc_status_name((int)s);
			if (strncmp(status, "STATUS_", 7) == 0)
				status += 7;
			fprintf(f, "vmigd_rpc_requests_total{method=\"%s\","
			    "status=\"%s\"} %" PRIu64 "\n", name, status,
			    c->n[call][s]);
		}
	}
	free(c);
	mx_head(f, "vmigd_rpc_fast_requests_total", "counter", "Of the calls "
	    "answered, those answered off the loop (GetJob from the view).");
	fprintf(f, "vmigd_rpc_fast_requests_total %" PRIu64 "\n", st.fast);
	mx_head(f, "vmigd_rpc_bad_requests_total", "counter", "Requests that "
	    "did not decode or were too large.");
	fprintf(f, "vmigd_rpc_bad_requests_total %" PRIu64 "\n",
	    st.bad_requests);
}

static void
mx_render_devices(struct metrics *m, FILE *f,
    const Vmig__V1__ListDevicesResponse *ld)
{
	const struct mx_devop	*o;
	char			 a[128], b[128], lab[320];
	size_t			 i;

	mx_head(f, "vmigd_backend_info", "gauge", "A backend plugin loaded "
	    "(1).");
	for (i = 0; i < ld->n_backends; i++)
		fprintf(f, "vmigd_backend_info{backend=\"%s\",version=\"%s\"} "
		    "1\n", mx_esc(a, sizeof(a), ld->backends[i]->name),
		    mx_esc(b, sizeof(b), ld->backends[i]->version));
	mx_head(f, "vmigd_pf_up", "gauge", "A configured PF: 1 online, 0 "
	    "offline.");
	for (i = 0; i < ld->n_pfs; i++)
		fprintf(f, "vmigd_pf_up{pf=\"%s\",backend=\"%s\"} %d\n",
		    mx_esc(a, sizeof(a), ld->pfs[i]->name), mx_esc(b, sizeof(b),
		    ld->pfs[i]->backend), ld->pfs[i]->online ? 1 : 0);
	mx_head(f, "vmigd_pf_vfs", "gauge", "VFs a PF lists.");
	for (i = 0; i < ld->n_pfs; i++)
		fprintf(f, "vmigd_pf_vfs{pf=\"%s\"} %u\n", mx_esc(a, sizeof(a),
		    ld->pfs[i]->name), ld->pfs[i]->num_vfs);

	mx_head(f, "vmigd_device_commands_total", "counter", "Device commands "
	    "the engine issued, by PF and command (through the backend: "
	    "admin-queue commands for virtio-admin).");
	for (i = 0; i < m->ndevops; i++) {
		o = &m->devops[i];
		fprintf(f, "vmigd_device_commands_total{pf=\"%s\",command="
		    "\"%s\"} %" PRIu64 "\n", mx_esc(a, sizeof(a), o->pf),
		    mx_esc(b, sizeof(b), o->op), o->latency.count);
	}
	mx_head(f, "vmigd_device_command_errors_total", "counter", "Of the "
	    "device commands, those that failed.");
	for (i = 0; i < m->ndevops; i++) {
		o = &m->devops[i];
		fprintf(f, "vmigd_device_command_errors_total{pf=\"%s\","
		    "command=\"%s\"} %" PRIu64 "\n", mx_esc(a, sizeof(a),
		    o->pf), mx_esc(b, sizeof(b), o->op), o->errors);
	}
	mx_head(f, "vmigd_device_command_duration_seconds", "histogram",
	    "Device command latency, submission to completion.");
	for (i = 0; i < m->ndevops; i++) {
		o = &m->devops[i];
		snprintf(lab, sizeof(lab), "pf=\"%s\",command=\"%s\"",
		    mx_esc(a, sizeof(a), o->pf), mx_esc(b, sizeof(b), o->op));
		mx_hist_render(f, "vmigd_device_command_duration_seconds", lab,
		    &o->latency, mx_devcmd_bounds, nitems(mx_devcmd_bounds));
	}
}

/* Read the daemon, count, render, publish. */
static void
mx_refresh(struct metrics *m)
{
	Vmig__V1__Request		 req = VMIG__V1__REQUEST__INIT;
	Vmig__V1__ListJobsRequest	 lj = VMIG__V1__LIST_JOBS_REQUEST__INIT;
	Vmig__V1__GetDaemonStatusRequest gs =
	    VMIG__V1__GET_DAEMON_STATUS_REQUEST__INIT;
	Vmig__V1__ListDevicesRequest	 ld = VMIG__V1__LIST_DEVICES_REQUEST__INIT;
	Vmig__V1__Response		*jobs, *st, *devs;
	FILE				*f;
	char				*page = NULL;
	size_t				 len = 0, i;

	mx_count_ended(m);
	req.call_case = VMIG__V1__REQUEST__CALL_LIST_JOBS;
	req.list_jobs = &lj;
	jobs = mx_call(m, &req);
	req.call_case = VMIG__V1__REQUEST__CALL_GET_DAEMON_STATUS;
	req.get_daemon_status = &gs;
	st = mx_call(m, &req);
	req.call_case = VMIG__V1__REQUEST__CALL_LIST_DEVICES;
	req.list_devices = &ld;
	devs = mx_call(m, &req);

	/* live jobs' bytes; one gone without an end we saw is forgotten */
	for (i = 0; i < m->njobs; i++)
		m->jobs[i].seen = 0;
	for (i = 0; i < jobs->list_jobs->n_jobs; i++)
		mx_job_bytes(m, jobs->list_jobs->jobs[i], 0);
	for (i = 0; i < m->njobs;) {
		if (!m->jobs[i].seen)
			m->jobs[i] = m->jobs[--m->njobs];
		else
			i++;
	}

	if ((f = open_memstream(&page, &len)) == NULL)
		fatal("%s: open_memstream", __func__);
	mx_render_daemon(m, f, st->get_daemon_status);
	mx_render_jobs(f, jobs->list_jobs);
	mx_render_ended(m, f);
	mx_render_rpc(m, f);
	mx_render_devices(m, f, devs->list_devices);
	if (fclose(f) != 0)
		fatal("%s: fclose", __func__);
	metrics_http_publish(m->http, page, len);

	protobuf_c_message_free_unpacked(&jobs->base, NULL);
	protobuf_c_message_free_unpacked(&st->base, NULL);
	protobuf_c_message_free_unpacked(&devs->base, NULL);
}

static void
mx_timer_cb(evutil_socket_t fd, short what, void *arg)
{
	mx_refresh(arg);
}

struct metrics *
metrics_open(struct vmigd *d, const char *listen, char *err, size_t errlen)
{
	struct metrics	*m;
	struct timeval	 tv;

	m = xcalloc(1, sizeof(*m));
	m->d = d;
	if ((m->http = metrics_http_open(listen, err, errlen)) == NULL) {
		free(m);
		return (NULL);
	}
	/* background work: never before a job's steps or device completions */
	m->ev_timer = event_new(d->base, -1, EV_PERSIST, mx_timer_cb, m);
	m->ev_ended = event_new(d->base, -1, 0, mx_ended_cb, m);
	event_priority_set(m->ev_timer, VMIG_PRIO_BULK);
	event_priority_set(m->ev_ended, VMIG_PRIO_BULK);
	tv.tv_sec = METRICS_REFRESH_MS / 1000;
	tv.tv_usec = (METRICS_REFRESH_MS % 1000) * 1000;
	evtimer_add(m->ev_timer, &tv);
	events_observe(mx_event, m);
	mx_refresh(m);
	log_info("metrics: serving %s", metrics_url(m));
	return (m);
}

void
metrics_close(struct metrics *m)
{
	if (m == NULL)
		return;
	events_observe(NULL, NULL);
	metrics_http_close(m->http);
	event_free(m->ev_timer);
	event_free(m->ev_ended);
	free(m->jobs);
	free(m->ended_ids);
	free(m->devops);
	free(m);
}

const char *
metrics_url(const struct metrics *m)
{
	return (metrics_http_url(m->http));
}
