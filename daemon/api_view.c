/*
 * api_view.c: how the API shows the engine: vmig.v1.Job records and
 * MigrationPolicy conversions, the engine's hooks (a job's record goes to
 * the view GetJob's fast lane answers from, its phase changes, decisions
 * and progress go out as WatchEvents), and the view's refresh while jobs
 * run. The engine calls nothing here; it calls the hooks api_job_init()
 * installs.
 */
#include "config.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>

#include "api.h"
#include "events.h"
#include "job.h"
#include "log.h"
#include "rpc.h"
#include "metrics.h"
#include "util.h"
#include "view.h"
#include "vmigd.h"

/* ------------------------------------------------------------ policy */

void
api_policy_from_proto(struct job_policy *p, const Vmig__V1__MigrationPolicy *m)
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
	p->baseline_ramp = m->baseline_ramp;
	p->ramp_delay_ms_per_gib = m->ramp_delay_ms_per_gib;
	p->progress_timeout_s = m->progress_timeout_s;
	p->compression = m->compression <=
	    VMIG__V1__COMPRESSION__COMPRESSION_ZSTD ? (int)m->compression : 0;
}

void
api_policy_to_proto(const struct job_policy *p, Vmig__V1__MigrationPolicy *m)
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
	m->baseline_ramp = p->baseline_ramp;
	m->ramp_delay_ms_per_gib = p->ramp_delay_ms_per_gib;
	m->progress_timeout_s = p->progress_timeout_s;
	m->compression = (Vmig__V1__Compression)p->compression;
}

/* Limits a person would not set on purpose: say which field and why. */
int
api_policy_check(const Vmig__V1__MigrationPolicy *m, char *err, size_t len)
{
	if (m == NULL)
		return (0);
	if ((unsigned)m->compression >
	    (unsigned)VMIG__V1__COMPRESSION__COMPRESSION_ZSTD) {
		snprintf(err, len, "policy compression %d is not DEFAULT, "
		    "AUTO, OFF, LZ4 or ZSTD", (int)m->compression);
		return (-EINVAL);
	}
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


void
api_job_stats(const struct job *job, unsigned int k, Vmig__V1__JobStats *s)
{
	uint64_t	end = job->ended_ms != 0 ? job->ended_ms : now_ms();

	s->time_elapsed_ms = end - job->created_ms;
	s->setup_time_ms = job->st.setup_ms;
	s->downtime_ms = job->st.downtime_ms;
	s->memory_total = job->st.memory_total;
	s->memory_processed = job->st.memory_processed;
	s->memory_remaining = job->st.memory_remaining;
	s->memory_dirty_rate = job->st.memory_dirty_rate;
	s->memory_iteration = job->st.memory_iteration;
	s->memory_bps = job->st.memory_bps;
	s->memory_page_size = job->st.memory_page_size;
	s->memory_constant = job->st.memory_constant;
	s->memory_normal = job->st.memory_normal;
	/* a group's device shows its own state; the rest is the group's */
	s->device_state_bytes = job->ndevs > 1 ? job->devs[k].state_bytes :
	    job->st.device_state_bytes;
	s->device_state_pending = job->ndevs > 1 ?
	    job->devs[k].state_pending : job->st.device_state_pending;
	s->device_dirty_rate_bps = job->st.device_dirty_rate_bps;
	s->device_write_records = job->st.device_write_records;
	s->expected_downtime_ms = job->st.expected_downtime_ms;
	s->predicted_downtime_ms = job->st.predicted_downtime_ms;
	s->compress_bytes_in = job->st.compress_bytes_in;
	s->compress_bytes_out = job->st.compress_bytes_out;
	s->device_load_time_ms = job->st.device_load_time_ms;
	s->bytes_sent = job->st.bytes_sent;
	s->downtime_target_ms = job->st.downtime_target_ms;
	s->bandwidth_share_bps = job->st.bandwidth_share_bps;
	s->hot_pages_deferred = job->st.hot_pages_deferred;
	s->queue_time_ms = job->st.queue_time_ms;
}

void
api_job_to_proto(const struct job *job, unsigned int k, Vmig__V1__Job *j)
{
	Vmig__V1__MigrationPolicy	*pol;
	Vmig__V1__JobStats		*st;
	unsigned int			 n, i, first;

	j->id = job->ndevs > 0 ? job->devs[k].id : job->id;
	j->direction = (Vmig__V1__JobDirection)job->dir;
	j->device = xstrdup(job->ndevs > 0 ? job->devs[k].name :
	    job->device_name);
	if (job->ndevs > 0) {
		j->group = xcalloc(job->ndevs, sizeof(*j->group));
		for (i = 0; i < job->ndevs; i++)
			j->group[i] = job->devs[i].id;
		j->n_group = job->ndevs;
	}
	j->phase = (Vmig__V1__JobPhase)job->phase;
	j->peer = xstrdup(job->peer != NULL ? job->peer : "");
	pol = rpc_msg_new(&vmig__v1__migration_policy__descriptor);
	api_policy_to_proto(&job->pol, pol);
	j->policy = pol;
	st = rpc_msg_new(&vmig__v1__job_stats__descriptor);
	api_job_stats(job, k, st);
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

/* ------------------------------------------------------------ hooks */

/* How many records a job shows: one per device (a job without any: one). */
static unsigned int
api_job_nrec(const struct job *job)
{
	return (job->ndevs > 0 ? job->ndevs : 1);
}

static uint64_t
api_job_recid(const struct job *job, unsigned int k)
{
	return (job->ndevs > 0 ? job->devs[k].id : job->id);
}

static const char *
api_job_recdev(const struct job *job, unsigned int k)
{
	return (job->ndevs > 0 ? job->devs[k].name : job->device_name);
}

/* The job's records, packed, for the fast lane (view.h). */
static void
api_hook_changed(void *arg, struct job *job)
{
	struct vmigd	*d = arg;
	Vmig__V1__Job	*m;
	uint8_t		*buf;
	size_t		 len;
	unsigned int	 k;

	if (d->view == NULL)
		return;
	for (k = 0; k < api_job_nrec(job); k++) {
		m = rpc_msg_new(&vmig__v1__job__descriptor);
		api_job_to_proto(job, k, m);
		len = vmig__v1__job__get_packed_size(m);
		buf = xmalloc(len > 0 ? len : 1);
		vmig__v1__job__pack(m, buf);
		protobuf_c_message_free_unpacked(&m->base, NULL);
		view_put(d->view, api_job_recid(job, k), buf, len);
	}
}

static void
api_hook_dropped(void *arg, struct job *job)
{
	struct vmigd	*d = arg;
	unsigned int	 k;

	for (k = 0; d->view != NULL && k < api_job_nrec(job); k++)
		view_del(d->view, api_job_recid(job, k));
}

/* One event per device of the job: ev's job_id, device and stats vary. */
static void
api_job_event(struct vmigd *d, struct job *job, Vmig__V1__Event *ev)
{
	Vmig__V1__JobStats	st;
	unsigned int		k;

	for (k = 0; k < api_job_nrec(job); k++) {
		vmig__v1__job_stats__init(&st);
		api_job_stats(job, k, &st);
		ev->job_id = api_job_recid(job, k);
		ev->device = (char *)api_job_recdev(job, k);
		if (ev->kind != VMIG__V1__EVENT__KIND__KIND_DECISION)
			ev->stats = &st;
		events_publish(d->events, ev);
	}
}

static void
api_hook_phase(void *arg, struct job *job, enum job_phase prev,
    const char *why)
{
	Vmig__V1__Event	ev = VMIG__V1__EVENT__INIT;

	ev.kind = VMIG__V1__EVENT__KIND__KIND_PHASE;
	ev.phase = (Vmig__V1__JobPhase)job->phase;
	ev.previous = (Vmig__V1__JobPhase)prev;
	ev.message = (char *)(why != NULL ? why : "");
	api_job_event(arg, job, &ev);
}

static void
api_hook_decision(void *arg, struct job *job,
    const struct converge_decision *dc)
{
	Vmig__V1__Event		 ev = VMIG__V1__EVENT__INIT;
	Vmig__V1__Decision	 pd = VMIG__V1__DECISION__INIT;

	pd.iteration = dc->iteration;
	pd.at_ms = dc->at_ms;
	pd.action = (char *)converge_action_name(dc->action);
	pd.reason = (char *)dc->reason;
	pd.predicted_downtime_ms = dc->predicted_downtime_ms;
	pd.dirty_rate_bps = dc->dirty_rate_bps;
	pd.bandwidth_bps = dc->bandwidth_bps;
	pd.remaining_bytes = dc->remaining_bytes;
	pd.downtime_target_ms = dc->target_ms;
	ev.kind = VMIG__V1__EVENT__KIND__KIND_DECISION;
	ev.phase = (Vmig__V1__JobPhase)job->phase;
	ev.decision = &pd;
	ev.message = (char *)dc->reason;
	api_job_event(arg, job, &ev);
}

static void
api_hook_progress(void *arg, struct job *job)
{
	Vmig__V1__Event	ev = VMIG__V1__EVENT__INIT;

	ev.kind = VMIG__V1__EVENT__KIND__KIND_PROGRESS;
	ev.phase = (Vmig__V1__JobPhase)job->phase;
	api_job_event(arg, job, &ev);
}

/* ------------------------------------------------------------ the view */

void
api_job_refresh(struct vmigd *d)
{
	struct job	*job;

	if (d->engine == NULL)
		return;
	TAILQ_FOREACH(job, &d->engine->jobs, entry) {
		if (!job_phase_terminal(job->phase))
			api_hook_changed(d, job);
	}
}

static void
api_view_cb(evutil_socket_t fd, short what, void *arg)
{
	api_job_refresh(arg);
}

static void
api_hook_dev_cmd(void *arg, const char *pf, const char *what, uint64_t us,
    int err)
{
	struct vmigd	*d = arg;

	metrics_dev_cmd(d->metrics, pf, what, us, err);
}

void
api_job_init(struct vmigd *d)
{
	struct engine_hooks	h;
	struct timeval		tv;

	memset(&h, 0, sizeof(h));
	h.arg = d;
	h.changed = api_hook_changed;
	h.phase = api_hook_phase;
	h.decision = api_hook_decision;
	h.progress = api_hook_progress;
	h.dropped = api_hook_dropped;
	h.dev_cmd = api_hook_dev_cmd;
	d->view = view_new();
	engine_set_hooks(d->engine, &h);
	/* a running job's counters in the view are at most this old */
	d->ev_view = event_new(d->base, -1, EV_PERSIST, api_view_cb, d);
	tv.tv_sec = VIEW_REFRESH_MS / 1000;
	tv.tv_usec = (VIEW_REFRESH_MS % 1000) * 1000;
	evtimer_add(d->ev_view, &tv);
}

void
api_job_free(struct vmigd *d)
{
	api_fds_close(d);
	if (d->engine != NULL)
		engine_set_hooks(d->engine, NULL);
	if (d->ev_view != NULL)
		event_free(d->ev_view);
	d->ev_view = NULL;
	view_free(d->view);
	d->view = NULL;
}
