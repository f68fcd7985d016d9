/*
 * job_out.c: the source side of a migration.
 *
 * SETUP opens the device, checks that it runs, connects to the destination
 * (Hello / HelloAck) and starts write recording on the guest memory
 * regions. PRECOPY repeats one iteration: send the dirty pages (all of
 * them first, with bulk copy), wait as the policy asked, read the write
 * records into the per-region page sets, ask the device its state size,
 * and let the convergence policy (converge.c) decide: iterate, escalate,
 * switch over, or give up. STOPCOPY stops and freezes the device, reads
 * the final write records, sends the last pages (the deferred hot set
 * included) and the device state, stops recording and sends Switchover
 * with the digests; RESUMING waits for the destination's Done.
 *
 * This file is the kind and its steps; pumping and pacing, dirty
 * tracking and the state image are out_pump.c, out_dirty.c and
 * out_state.c (job_out.h).
 *
 * Rollback (any failure before Done): wait for the device command in
 * flight, tell the destination (Abort), put the device back to ACTIVE if
 * we changed its mode, stop recording, release everything.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>
#include <nng/nng.h>
#include <xxhash.h>

#include "dseal.h"
#include "job_out.h"
#include "log.h"
#include "tlsprobe.h"
#include "util.h"
#include "vmigd.h"

#define OUT_DATA_FAIL_GRACE_MS	500

static const struct stream_ops out_stream_ops;

static int	out_check_mode(struct job *);
static int	out_connect(struct job *);
static int	out_enter_precopy(struct job *);
static int	out_wait(struct job *);
static int	out_decide(struct job *);
static int	out_send_stopcopy(struct job *);
static int	out_quiesce_devices(struct job *);
static int	out_stop_devices(struct job *);
static int	out_freeze_devices(struct job *);
static int	out_digest_memory(struct job *);
static int	out_send_switchover(struct job *);
static int	out_wait_done(struct job *);
static int	out_complete(struct job *);
static int	out_rb_abort(struct job *);
static int	out_rb_resume(struct job *);
static int	out_rb_finish(struct job *);
static void	out_set_policy(struct job *);

#define B(p)		(1u << (p))
#define ENDS		(B(JOB_FAILED) | B(JOB_CANCELLED))
#define F(k)		FRAME_KIND_BIT(VMIG__STREAM__V1__FRAME__KIND_##k)

/*
 * The source's phases: which may follow which, and the frames the
 * destination may send in each (anything else is a protocol error).
 */
static const struct job_phase_row out_phases[JOB_NPHASES] = {
	[JOB_NONE] = { B(JOB_QUEUED) | ENDS, 0 },
	[JOB_QUEUED] = { B(JOB_SETUP) | ENDS, 0 },
	[JOB_SETUP] = { B(JOB_PRECOPY) | ENDS, F(HELLO_ACK) | F(ABORT) },
	[JOB_PRECOPY] = { B(JOB_SWITCHOVER_READY) | B(JOB_STOPCOPY) | ENDS,
	    F(ACK) | F(ABORT) },
	[JOB_SWITCHOVER_READY] = { B(JOB_STOPCOPY) | ENDS, F(ACK) | F(ABORT) },
	[JOB_STOPCOPY] = { B(JOB_RESUMING) | ENDS, F(ACK) | F(ABORT) },
	[JOB_RESUMING] = { B(JOB_COMPLETED) | ENDS,
	    F(ACK) | F(DONE) | F(ABORT) },
};

/*
 * The crash journal's records (journal.h), each before the step that
 * would have to be undone: recording on, the devices stopped, the
 * Switchover that lets the destination resume; then Done received.
 */
static int
out_jr_recording(struct job *job)
{
	return (job_journal(job, JE_CLAIMED | JE_RECORDING));
}

static int
out_jr_stop(struct job *job)
{
	return (job_journal(job, JE_MODE_SET));
}

static int
out_jr_commit(struct job *job)
{
	return (job_journal(job, JE_COMMITTING));
}

static int
out_jr_switched(struct job *job)
{
	return (job_journal(job, JE_SWITCHED));
}

static const struct job_step out_setup_steps[] = {
	{ "open devices", job_step_open_device },
	{ "check device modes", out_check_mode },
	{ "connect to destination", out_connect },
	{ "journal the recording", out_jr_recording },
	{ "start write recording", out_start_recording },
	{ "enter pre-copy", out_enter_precopy },
};

/* One pre-copy iteration; out_decide() starts the next or stop-copy. */
static const struct job_step out_iter_steps[] = {
	{ "send dirty pages", out_send_pages },
	{ "read pre-copy device state", out_precopy_state_read },
	{ "send pre-copy device state", out_precopy_state_send },
	{ "wait", out_wait },
	{ "read write records", out_read_dirty },
	{ "take the reads", out_take_reads },
	{ "query device state sizes", out_state_size },
	{ "decide", out_decide },
};

static const struct job_step out_stopcopy_steps[] = {
	{ "journal the stop", out_jr_stop },
	{ "tell the destination", out_send_stopcopy },
	{ "quiesce devices", out_quiesce_devices },
	{ "stop devices", out_stop_devices },
	{ "freeze devices", out_freeze_devices },
	{ "read final write records", out_final_dirty },
	{ "take the final reads", out_take_reads },
	{ "send final pages", out_send_final_pages },
	{ "read device state", out_read_state },
	{ "send device state", out_send_state },
	{ "stop write recording", out_stop_recording },
	{ "digest memory", out_digest_memory },
	{ "journal the switchover", out_jr_commit },
	{ "send switchover", out_send_switchover },
	{ "wait for the destination to resume", out_wait_done },
	{ "journal the resume", out_jr_switched },
	{ "complete", out_complete },
};

static const struct job_step out_rollback_steps[] = {
	{ "wait for the device command in flight", job_step_wait_device },
	{ "tell the destination", out_rb_abort },
	{ "resume devices", out_rb_resume },
	{ "stop write recording", out_rb_stop_recording },
	{ "finish", out_rb_finish },
};

#define NSTEPS(a)	(sizeof(a) / sizeof((a)[0]))

/* ------------------------------------------------------------ create */

static int
out_check_url(const char *url, char *err, size_t len)
{
	if (url == NULL || *url == '\0')
		return (err_set(err, len, -EINVAL, "dest_url is empty: give the "
		    "stream_url PrepareIncoming returned on the destination"));
	if (strlen(url) > 256 || (strncmp(url, "tcp://", 6) != 0 &&
	    strncmp(url, "tls+tcp://", 10) != 0 &&
	    strncmp(url, "ipc://", 6) != 0))
		return (err_set(err, len, -EINVAL, "dest_url \"%.64s\" is not a "
		    "tcp://, tls+tcp:// or ipc:// URL", url));
	return (0);
}

int
job_out_create(struct engine *eng, const struct job_request *req,
    const struct job_policy *pol, struct job **jp, char *err, size_t errlen)
{
	struct job	*job;
	struct job_out	*o;
	int		 rc;

	if ((rc = out_check_url(req->dest_url, err, errlen)) != 0)
		return (rc);
	if (req->tokenlen == 0 || req->tokenlen > sizeof(o->token))
		return (err_set(err, errlen, -EINVAL, "token of %zu bytes: give "
		    "the token PrepareIncoming returned (1 to %zu bytes)",
		    req->tokenlen, sizeof(o->token)));
	job = job_new(eng, &job_kind_outgoing, req->device);
	if ((rc = job_claim(job, req, MEM_MAP_POPULATE |
	    (job->eng->prefault ? MEM_MAP_PREFAULT : 0), err, errlen)) != 0) {
		/* never started: a record of the refusal is of no use */
		job_discard(job);
		return (rc);
	}
	job->pol = *pol;
	job->peer = xstrdup(req->dest_url);

	o = job->out = xcalloc(1, sizeof(*o));
	o->dest_url = xstrdup(req->dest_url);
	memcpy(o->token, req->token, req->tokenlen);
	o->tokenlen = req->tokenlen;
	o->page_size = job->mem.regions[0].page_size;
	o->nregions = job->mem.nregions;
	out_dirty_init(job);
	/* deltas are the adaptive policy's: the baseline is QEMU's pages */
	out_delta_init(job, !job->pol.baseline);
	out_pump_init(job);
	out_state_init(job);
	out_set_policy(job);

	job_set_phase(job, JOB_QUEUED, NULL);
	*jp = job;
	return (0);
}

static void
out_free(struct job *job)
{
	struct job_out	*o = job->out;

	if (o == NULL)
		return;
	if (o->ev_data_fail != NULL)
		event_free(o->ev_data_fail);
	tls_probe_free(o->probe);
	out_pump_free(job);
	out_delta_free(job);
	out_dirty_free(job);
	out_state_free(job);
	if (o->ev_live != NULL)
		event_free(o->ev_live);
	free(o->dest_url);
	free(o);
	job->out = NULL;
}

static void
out_set_policy(struct job *job)
{
	struct converge_policy	cp;

	memset(&cp, 0, sizeof(cp));
	cp.kind = job->pol.baseline ? CONVERGE_KIND_BASELINE :
	    CONVERGE_KIND_ADAPTIVE;
	cp.max_downtime_ms = job->pol.max_downtime_ms;
	cp.downtime_ceiling_ms = job->pol.downtime_ceiling_ms;
	cp.completion_timeout_s = job->pol.completion_timeout_s;
	cp.timeout_force = job->pol.timeout_force;
	cp.forced_downtime_ms = job->pol.forced_downtime_ms;
	cp.max_iterations = job->pol.max_iterations;
	cp.bandwidth_limit_bps = job->pol.bandwidth_limit_bps;
	cp.baseline_ramp = job->pol.baseline_ramp;
	cp.ramp_delay_ms_per_gib = job->pol.ramp_delay_ms_per_gib;
	cp.progress_timeout_s = job->pol.progress_timeout_s;
	if (job->out->conv.decisions == 0 && job->phase <= JOB_QUEUED)
		converge_init(&job->out->conv, &cp);
	else
		converge_set_policy(&job->out->conv, &cp);
	job->st.downtime_target_ms = job->out->conv.target_ms;
	out_share(job, job->share_bps);
}

static void
out_start(struct job *job)
{
	job_set_phase(job, JOB_SETUP, NULL);
	job_arm_deadline(job);
	job_run_steps(job, out_setup_steps, NSTEPS(out_setup_steps));
}

static void
out_check_mode_done(struct job *job, const struct vmig_result *res)
{
	if (job_dev_failed(job, res))
		return;
	if (res->u.mode != VMIG_MODE_ACTIVE) {
		job_step_done(job, -EBUSY, "device %s is %s, not active: only "
		    "a running device is migrated", job->dev->name,
		    backend_mode_name(res->u.mode));
		return;
	}
	job_dev_next(job);
}

static int
out_check_one(struct job *job)
{
	return (JOB_DEV_CALL(job, "reading its mode", out_check_mode_done,
	    get_mode, VMIG_LANE_CRITICAL));
}

static int
out_check_mode(struct job *job)
{
	return (job_each_dev(job, out_check_one));
}

static void
out_send_hello(struct job *job)
{
	struct job_out				*o = job->out;
	Vmig__Stream__V1__Frame			 f = VMIG__STREAM__V1__FRAME__INIT;
	Vmig__Stream__V1__Hello			 h = VMIG__STREAM__V1__HELLO__INIT;
	Vmig__Stream__V1__RegionLayout		*rl, **rlp;
	Vmig__Stream__V1__DeviceLayout		 dl[JOB_GROUP_MAX];
	Vmig__Stream__V1__DeviceLayout		*dlp[JOB_GROUP_MAX];
	uint32_t				 i;
	int					 rc;

	for (i = 0; i < job->ndevs; i++) {
		const struct device *dev = job->devs[i].dev;

		vmig__stream__v1__device_layout__init(&dl[i]);
		dl[i].source_device = (char *)dev->name;
		dl[i].device_type = (char *)dev->info.type;
		dl[i].interface = (char *)dev->info.caps.interface;
		dl[i].state_max_bytes = dev->info.caps.state_max_bytes;
		dl[i].state_kind = dev->info.caps.state_kind;
		dlp[i] = &dl[i];
	}
	rl = xcalloc(job->mem.nregions, sizeof(*rl));
	rlp = xcalloc(job->mem.nregions, sizeof(*rlp));
	for (i = 0; i < job->mem.nregions; i++) {
		vmig__stream__v1__region_layout__init(&rl[i]);
		rl[i].index = i;
		rl[i].iova = job->mem.regions[i].iova;
		rl[i].length = job->mem.regions[i].length;
		rlp[i] = &rl[i];
	}
	h.protocol_version = STREAM_PROTOCOL_VERSION;
	h.token.data = o->token;
	h.token.len = o->tokenlen;
	h.source_job_id = job->id;
	h.n_devices = job->ndevs;
	h.devices = dlp;
	h.n_regions = job->mem.nregions;
	h.regions = rlp;
	h.page_size = o->page_size;
	h.verify = job->pol.verify;
	f.kind_case = VMIG__STREAM__V1__FRAME__KIND_HELLO;
	f.hello = &h;
	rc = stream_send(job->stream, &f, NULL, 0);
	free(rl);
	free(rlp);
	if (rc != 0) {
		job_step_done(job, rc, "sending hello to %s: %s", o->dest_url,
		    strerror(-rc));
		return;
	}
	o->waiting = OUT_WAIT_HELLO_ACK;
	job->timer_fail = "the destination did not answer the hello in time";
	job_timer(job, JOB_HELLO_TIMEOUT_MS);
}

/* The TLS probe's verdict (tlsprobe.h): a refusal ends the wait now. */
static void
out_probe_cb(void *arg, int result, int nngrv)
{
	struct job	*job = arg;
	struct job_out	*o = job->out;

	tls_probe_free(o->probe);
	o->probe = NULL;
	log_debug("%s: job %" PRIu64 ": %s: probe %d (%s)", __func__,
	    job->id, o->dest_url, result, nngrv != 0 ? nng_strerror(nngrv) :
	    "a session");
	if (o->waiting != OUT_WAIT_CONNECT || job->failing ||
	    job_phase_terminal(job->phase))
		return;
	/* nng does not say which side refused which (tlsprobe.h) */
	if (result == TLSPROBE_PEER_REFUSED || result == TLSPROBE_FAILED)
		job_fail(job, "TLS handshake with %s failed (%s): %sthe "
		    "destination's certificate must chain to [security] "
		    "tls_ca_file, be valid now and carry the name %s, and this "
		    "host's (tls_cert_file) must chain to the destination's "
		    "tls_ca_file", o->dest_url, nng_strerror(nngrv),
		    result == TLSPROBE_PEER_REFUSED ? "this host refused the "
		    "destination's certificate; " : "", o->tls_name);
}

static int
out_connect(struct job *job)
{
	struct job_out		*o = job->out;
	struct stream_opts	 so;
	char			 err[256];
	int			 rc;

	stream_opts_default(&so);
	so.recv_burst = 4;	/* frames per turn: other jobs get the loop too */
	so.window = JOB_WINDOW_BYTES;
	if ((rc = job_peer_tls(job, o->dest_url, 1, o->tls_name,
	    sizeof(o->tls_name), err, sizeof(err))) == 0) {
		so.tls = job->tls;
		rc = stream_dial(job->eng->base, o->dest_url, &so,
		    &out_stream_ops, job, &job->stream, err, sizeof(err));
	}
	if (rc != 0) {
		job_step_done(job, rc, "connecting to %s: %s", o->dest_url,
		    err);
		return (0);
	}
	/* without it a refused handshake is only a timeout */
	if (job->tls != NULL && tls_probe_start(job->eng->base, o->dest_url,
	    job->tls, JOB_CONNECT_TIMEOUT_MS, out_probe_cb, job, &o->probe,
	    err, sizeof(err)) != 0)
		log_warnx("job %" PRIu64 ": %s", job->id, err);
	o->waiting = OUT_WAIT_CONNECT;
	job->timer_fail = "could not connect to the destination in time";
	job_timer(job, JOB_CONNECT_TIMEOUT_MS);
	if (stream_is_connected(job->stream)) {
		job_timer_stop(job);
		out_send_hello(job);
	}
	return (0);
}

/*
 * The Ack liveness bound: a link cut without RST or FIN, or a destination
 * stuck, shows as bytes outstanding and no Ack. Until Switchover (after
 * it, the Done timeout bounds the wait).
 */
static void
out_live_cb(evutil_socket_t fd, short what, void *arg)
{
	struct job	*job = arg;
	struct job_out	*o = job->out;
	uint64_t	 now = now_ms(), out, data;

	if (job->failing || (job->phase != JOB_PRECOPY &&
	    job->phase != JOB_SWITCHOVER_READY && job->phase != JOB_STOPCOPY))
		return;
	/* Pages on the data connections are acknowledged on the stream too
	 * (Ack.data_bytes): they count as outstanding like its own frames. */
	data = job->dlink != NULL ? dlink_unacked(job->dlink) : 0;
	if (job->stream == NULL || (((out = stream_unacked(job->stream)) == 0 ||
	    o->acked_seq == o->seq) && data == 0)) {
		o->ack_ms = now;	/* nothing awaits an Ack */
		return;
	}
	out += data;
	if (now - o->ack_ms < JOB_ACK_TIMEOUT_MS)
		return;
	job_fail(job, "the destination acknowledged nothing for %" PRIu64
	    " s while %" PRIu64 " bytes were outstanding: the link is down "
	    "or the destination is stuck", (now - o->ack_ms) / 1000, out);
}

static void
out_live_start(struct job *job)
{
	struct job_out	*o = job->out;
	struct timeval	 tv = { JOB_ACK_CHECK_MS / 1000,
			    (JOB_ACK_CHECK_MS % 1000) * 1000 };

	o->ack_ms = now_ms();
	if (o->ev_live == NULL)
		o->ev_live = event_new(job->eng->base, -1, EV_PERSIST,
		    out_live_cb, job);
	evtimer_add(o->ev_live, &tv);
}

static void
out_live_stop(struct job *job)
{
	if (job->out->ev_live != NULL)
		evtimer_del(job->out->ev_live);
}

/*
 * How long this (the loop's) thread has waited for a CPU while runnable,
 * in us (/proc/thread-self/schedstat, second field, ns); 0 where unknown.
 */
static uint64_t
loop_runq_wait_us(void)
{
	char			 buf[128];
	unsigned long long	 run, wait;
	ssize_t			 n;
	int			 fd;

	if ((fd = open("/proc/thread-self/schedstat", O_RDONLY | O_CLOEXEC))
	    == -1)
		return (0);
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return (0);
	buf[n] = '\0';
	if (sscanf(buf, "%llu %llu", &run, &wait) != 2)
		return (0);
	return (wait / 1000);
}

/*
 * Percent of the time since the previous decision the loop waited for a
 * CPU: a round starved by a busy host is no measure of the link.
 */
static uint32_t
out_starved_pct(struct job_out *o)
{
	uint64_t	now = now_us(), wait = loop_runq_wait_us(), pct = 0;

	if (o->runq_at_us != 0 && now > o->runq_at_us && wait >= o->runq_us)
		pct = (wait - o->runq_us) * 100 / (now - o->runq_at_us);
	o->runq_us = wait;
	o->runq_at_us = now;
	return (pct > 100 ? 100 : (uint32_t)pct);
}

static int
out_enter_precopy(struct job *job)
{
	struct job_out	*o = job->out;
	uint32_t	 i;

	job_set_phase(job, JOB_PRECOPY, job->pol.bulk_copy ?
	    "bulk copy of the regions first" : NULL);
	if (job->pol.bulk_copy) {
		for (i = 0; i < job->mem.nregions; i++)
			pageset_fill(&job->mem.regions[i].dirty);
	}
	o->iter_start_ms = now_ms();
	o->last_read_ms = o->iter_start_ms;
	(void)out_starved_pct(o);	/* the first round's starting point */
	job->st.memory_remaining = mem_dirty_count(&job->mem) *
	    o->page_size;
	out_live_start(job);
	job_run_steps(job, out_iter_steps, NSTEPS(out_iter_steps));
	return (1);
}

static int
out_wait(struct job *job)
{
	struct job_out	*o = job->out;

	if (o->want_switchover || o->deadline || o->delay_ms == 0)
		return (1);
	job_timer(job, o->delay_ms);
	return (0);
}

static void
out_enter_stopcopy(struct job *job, const char *why)
{
	/* the guest is about to wait: our acks before others' bulk work */
	stream_set_priority(job->stream, VMIG_PRIO_CRITICAL);
	dlink_set_priority(job->dlink, VMIG_PRIO_CRITICAL);
	out_stopcopy_begin(job);
	job->sstate = SCHED_STOPCOPY;
	job_set_phase(job, JOB_STOPCOPY, why);
	job_run_steps(job, out_stopcopy_steps, NSTEPS(out_stopcopy_steps));
}

static int
out_decide(struct job *job)
{
	struct job_out			*o = job->out;
	struct converge_obs		 obs;
	struct converge_decision	 d;
	uint64_t			 now = now_ms(), deferred = 0, cost;
	uint32_t			 i;

	if (o->want_switchover) {
		out_enter_stopcopy(job, "switchover requested");
		return (1);
	}
	o->iteration++;
	job->st.memory_iteration = o->iteration;
	for (i = 0; i < job->mem.nregions && o->defer_hot; i++)
		deferred += pageset_count_and(&job->mem.regions[i].dirty,
		    &o->hot[i]);

	memset(&obs, 0, sizeof(obs));
	obs.iteration = o->iteration;
	obs.now_ms = now - job->setup_start_ms;
	obs.iter_ms = now - o->iter_start_ms;
	obs.read_interval_ms = o->read_ms - o->last_read_ms;
	obs.read_age_ms = now - o->read_ms;
	obs.written_bytes = o->rd_bytes;
	obs.new_pages = o->rd_pages;
	obs.records = o->rd_records;
	obs.hot_pages = o->hot_pages;
	obs.overflow = o->rd_overflow;
	obs.dirty_pages = mem_dirty_count(&job->mem) - deferred;
	obs.deferred_pages = deferred;
	obs.dirty_wire_bytes = out_delta_dirty_wire(job);
	obs.page_size = o->page_size;
	obs.total_bytes = job->mem.total_bytes;
	obs.sent_bytes = o->send_bytes;
	obs.send_us = o->send_us;
	obs.share_bps = job->share_bps;
	obs.starved_pct = out_starved_pct(o);
	/* what must still move: a stream's unread pre-copy part included */
	obs.state_bytes = job->st.device_state_pending;
	cost = engine_switch_cost(job->eng, job->devs[0].dev->pf->name);
	obs.switch_cost_ms = cost;
	obs.switch_cost_measured = cost != 0;
	obs.deadline = o->deadline;
	obs.untracked = o->untracked;
	o->last_read_ms = o->read_ms;

	converge_decide(&o->conv, &obs, &d);
	job_record_decision(job, &d);

	/* statistics an operator reads */
	job->st.memory_remaining = (obs.dirty_pages + deferred) * o->page_size;
	if (obs.read_interval_ms != 0) {
		job->st.memory_dirty_rate = obs.new_pages * 1000 /
		    obs.read_interval_ms;
		job->st.device_dirty_rate_bps = obs.written_bytes * 1000 /
		    obs.read_interval_ms;
	}
	job->st.expected_downtime_ms = d.predicted_downtime_ms == UINT64_MAX ?
	    0 : d.predicted_downtime_ms;
	job->st.downtime_target_ms = d.target_ms;
	job->st.hot_pages_deferred = deferred;
	o->delay_ms = converge_round_delay(d.delay_ms, o->drain_ms,
	    job->pol.manual_switchover && converge_action_switches(d.action) &&
	    !o->deadline);

	/* what the scheduler should know */
	job->sstate = d.near_switchover ? SCHED_NEAR_SWITCHOVER :
	    SCHED_RUNNING;
	job->need_bps = d.need_bps;
	if (d.action == CONVERGE_REQUEST_BANDWIDTH)
		job->asked_bw = 1;
	if (d.defer_hot && !o->defer_hot) {
		o->defer_hot = 1;
		log_info("job %" PRIu64 ": deferring %" PRIu64 " hot pages to "
		    "stop-copy", job->id, o->hot_pages);
	}
	engine_reschedule(job->eng);
	job_publish_progress(job);

	switch (d.action) {
	case CONVERGE_SWITCHOVER:
	case CONVERGE_FORCE_SWITCHOVER:
		/* kept beside the measured downtime: the prediction's error */
		job->st.predicted_downtime_ms = job->st.expected_downtime_ms;
		/* the deadline's forced switchover does not wait for a call */
		if (job->pol.manual_switchover && !o->deadline) {
			if (job->phase == JOB_PRECOPY)
				job_set_phase(job, JOB_SWITCHOVER_READY,
				    d.reason);
			break;
		}
		out_enter_stopcopy(job, d.reason);
		return (1);
	case CONVERGE_ABORT:
		job_fail(job, "%s", d.reason);
		return (1);
	default:
		break;
	}
	job_run_steps(job, out_iter_steps, NSTEPS(out_iter_steps));
	return (1);
}

static int
out_set_mode(struct job *job, enum vmig_mode mode, const char *what)
{
	JD(job)->mode_changed = 1;
	return (JOB_DEV_CALL(job, what, job_dev_step_done, set_mode, mode,
	    VMIG_LANE_CRITICAL));
}

/* First, so the destination raises our stream while we stop the device. */
static int
out_send_stopcopy(struct job *job)
{
	struct job_out			*o = job->out;
	Vmig__Stream__V1__Frame		 f = VMIG__STREAM__V1__FRAME__INIT;
	Vmig__Stream__V1__StopCopy	 s = VMIG__STREAM__V1__STOP_COPY__INIT;
	int				 rc;

	s.seq = ++o->seq;
	s.iteration = o->iteration;
	f.kind_case = VMIG__STREAM__V1__FRAME__KIND_STOPCOPY;
	f.stopcopy = &s;
	if ((rc = stream_send(job->stream, &f, NULL, 0)) != 0) {
		job_step_done(job, rc, "telling the destination: %s",
		    strerror(-rc));
		return (0);
	}
	return (1);
}

/*
 * A VM's devices stop together: every one that can is quiesced (no new
 * peer-to-peer DMA, VFIO's RUNNING_P2P) before any is stopped, so none
 * stops while another still writes into it; then all stop, then all
 * freeze. The downtime starts with the first of them.
 */
static int
out_quiesce_one(struct job *job)
{
	if ((job->dev->info.caps.flags & VMIG_CAP_P2P_QUIESCE) == 0)
		return (1);
	JD(job)->quiesced = 1;
	return (out_set_mode(job, VMIG_MODE_QUIESCED, "set mode quiesced"));
}

static int
out_quiesce_devices(struct job *job)
{
	job->out->stop_us = now_us();
	job->out->stop_unix_us = unix_us();
	job->out->stop_runq_us = loop_runq_wait_us();
	return (job_each_dev(job, out_quiesce_one));
}

static int
out_stop_one(struct job *job)
{
	return (out_set_mode(job, VMIG_MODE_STOPPED, "set mode stopped"));
}

static int
out_stop_devices(struct job *job)
{
	return (job_each_dev(job, out_stop_one));
}

static int
out_freeze_one(struct job *job)
{
	return (out_set_mode(job, VMIG_MODE_FROZEN, "set mode frozen"));
}

static int
out_freeze_devices(struct job *job)
{
	job->out->t_freeze = now_us();
	return (job_each_dev(job, out_freeze_one));
}

static void
out_memory_digested(struct job *job, int rc, uint64_t digest)
{
	if (rc != 0) {
		job_step_done(job, rc, "digest of the memory regions: %s",
		    strerror(-rc));
		return;
	}
	job->out->memory_digest = digest;
	job_step_done(job, 0, NULL);
}

/* With verify: the digest the destination compares before it resumes. */
static int
out_digest_memory(struct job *job)
{
	if (!job->pol.verify)
		return (1);
	job_digest_begin(job, out_memory_digested);
	return (0);
}

static int
out_send_switchover(struct job *job)
{
	struct job_out			*o = job->out;
	Vmig__Stream__V1__Frame		 f = VMIG__STREAM__V1__FRAME__INIT;
	Vmig__Stream__V1__Switchover	 s = VMIG__STREAM__V1__SWITCHOVER__INIT;
	uint64_t			 digests[JOB_GROUP_MAX];
	unsigned int			 i;
	int				 rc;

	o->t_switchover = now_us();
	s.seq = ++o->seq;
	s.verify = job->pol.verify;
	s.memory_digest = o->memory_digest;
	s.n_state_digests = job->ndevs;
	s.state_digests = digests;
	for (i = 0; i < job->ndevs; i++) {
		digests[i] = o->dev[i].state_digest;
		s.state_bytes += o->dev[i].stream ? o->dev[i].stream_pos :
		    o->dev[i].state_len;
	}
	s.pages_total = job->st.memory_normal + job->st.memory_constant;
	s.source_stop_unix_us = o->stop_unix_us;
	f.kind_case = VMIG__STREAM__V1__FRAME__KIND_SWITCHOVER;
	f.switchover = &s;
	if ((rc = stream_send(job->stream, &f, NULL, 0)) != 0) {
		job_step_done(job, rc, "sending switchover: %s",
		    strerror(-rc));
		return (0);
	}
	job->st.memory_remaining = 0;
	job->st.device_state_pending = 0;
	out_stopcopy_done(job);
	job_set_phase(job, JOB_RESUMING, NULL);
	return (1);
}

static int
out_wait_done(struct job *job)
{
	job->out->waiting = OUT_WAIT_DONE;
	job->timer_fail = "the destination did not confirm the resume in time";
	job_timer(job, JOB_DONE_TIMEOUT_MS);
	return (0);
}

static int
out_complete(struct job *job)
{
	struct job_out	*o = job->out;
	uint64_t	 downtime_ms, starved_ms, cost_ms;
	unsigned int	 i;
	char		 owner[64];

	downtime_ms = (now_us() - o->stop_us + 999) / 1000;
	job->st.downtime_ms = downtime_ms;
	/*
	 * What the next migration on this PF cannot send faster: downtime
	 * without the final pages' transfer (stop, freeze, the last reads,
	 * the destination's load and resume, the round trips), nor the time
	 * our loop waited for a CPU meanwhile: that was the host's, and one
	 * such cost (1.3 s under two CPU hogs) once aborted seven VFs of the
	 * demo whose floor it became.
	 */
	starved_ms = loop_runq_wait_us();
	starved_ms = starved_ms > o->stop_runq_us ?
	    (starved_ms - o->stop_runq_us) / 1000 : 0;
	cost_ms = downtime_ms > o->final_send_us / 1000 + starved_ms ?
	    downtime_ms - o->final_send_us / 1000 - starved_ms : 1;
	engine_set_switch_cost(job->eng, job->devs[0].dev->pf->name, cost_ms);
	/* the VM lives on the destination now: keep the VFs until released */
	for (i = 0; i < job->ndevs; i++) {
		snprintf(owner, sizeof(owner), "migrated away (job %" PRIu64
		    ")", job->devs[i].id);
		strlcpy_v(job->devs[i].dev->owner, owner,
		    sizeof(job->devs[i].dev->owner));
	}
	log_info("job %" PRIu64 ": %s migrated in %" PRIu64 " ms, downtime %"
	    PRIu64 " ms (destination load %" PRIu64 " ms), %" PRIu64
	    " iterations, %" PRIu64 " bytes sent%s", job->id,
	    job->device_name, now_ms() - job->created_ms, downtime_ms,
	    job->st.device_load_time_ms, job->st.memory_iteration,
	    job->st.bytes_sent, job->verified ? ", verified" : "");
	/* where the downtime went, step by step (ms) */
	log_info("job %" PRIu64 ": downtime: stop %" PRIu64 ", freeze %" PRIu64
	    ", final records %" PRIu64 ", final pages %" PRIu64 ", state read %"
	    PRIu64 ", state send %" PRIu64 ", switchover and destination %"
	    PRIu64, job->id, (o->t_freeze - o->stop_us) / 1000,
	    (o->t_records - o->t_freeze) / 1000,
	    (o->t_pages - o->t_records) / 1000,
	    (o->t_state - o->t_pages) / 1000,
	    (o->t_state_sent - o->t_state) / 1000,
	    (o->t_switchover - o->t_state_sent) / 1000,
	    (now_us() - o->t_switchover) / 1000);
	out_dirty_detach(job);
	job_finish(job, JOB_COMPLETED);
	return (1);
}

/* A completed source's device, released by ReleaseDevice. */
void
job_out_release(struct job *job, struct device *dev)
{
	unsigned int	i;

	for (i = 0; i < job->ndevs; i++) {
		if (job->devs[i].dev != dev)
			continue;
		backend_dev_release(dev, job->id);
		job->devs[i].dev = NULL;
	}
	job_set_cur(job, 0);
}

static int
out_switchover(struct job *job, char *err, size_t errlen)
{
	if (!job->pol.manual_switchover)
		return (err_set(err, errlen, -EINVAL, "job %" PRIu64 " switches "
		    "over by itself (switchover is automatic)", job->id));
	if (job->phase != JOB_PRECOPY && job->phase != JOB_SWITCHOVER_READY)
		return (err_set(err, errlen, -EBUSY, "job %" PRIu64 " is %s: "
		    "switchover is possible in precopy or switchover-ready",
		    job->id, job_phase_name(job->phase)));
	job->out->want_switchover = 1;
	/* cut an iteration delay short */
	if (job->running_step && job->steps == out_iter_steps &&
	    job->steps[job->step].run == out_wait && evtimer_pending(
	    job->ev_timer, NULL))
		job_step_done(job, 0, NULL);
	return (0);
}

static int
out_deadline(struct job *job)
{
	struct job_out	*o = job->out;

	if (job->phase == JOB_STOPCOPY || job->phase == JOB_RESUMING)
		return (1);	/* the switchover is under way: let it end */
	if (job->phase != JOB_PRECOPY && job->phase != JOB_SWITCHOVER_READY)
		return (0);
	log_info("job %" PRIu64 ": completion timeout of %" PRIu32 " s: "
	    "ending the round, the policy forces or aborts", job->id,
	    job->pol.completion_timeout_s);
	o->deadline = 1;
	if (o->pump != PUMP_IDLE)
		out_pump_cut(job);
	else if (job->running_step && job->steps == out_iter_steps &&
	    job->steps[job->step].run == out_wait &&
	    evtimer_pending(job->ev_timer, NULL))
		job_step_done(job, 0, NULL);
	return (1);
}

static void
out_freeze(struct job *job)
{
	if (job->out == NULL)
		return;
	out_pump_stop(job);
	out_live_stop(job);
	job->out->in_stopcopy = 0;	/* the engine is going away */
	job->out->state_sending = 0;
}

static void
out_rollback(struct job *job)
{
	struct job_out	*o = job->out;

	if (o != NULL) {
		out_pump_stop(job);
		out_live_stop(job);
		out_stopcopy_done(job);
		o->state_sending = 0;
		o->waiting = OUT_WAIT_NONE;
	}
	job_run_steps(job, out_rollback_steps, NSTEPS(out_rollback_steps));
}

static int
out_rb_abort(struct job *job)
{
	if (job->out == NULL || !job->out->peer_aborted)
		(void)job_send_abort(job, job_rollback_abort_code(job),
		    job->error);
	return (1);
}

static void
out_rb_resumed(struct job *job, const struct vmig_result *res)
{
	char	buf[256];

	if (res->err != 0) {
		/* the one thing we cannot undo: say so loudly */
		log_error("job %" PRIu64 ": device %s could not be resumed "
		    "after a failed migration: %s", job->id, job->dev->name,
		    job_dev_strerror(res, buf, sizeof(buf)));
		snprintf(job->error + strlen(job->error),
		    sizeof(job->error) - strlen(job->error),
		    "; resuming device %s failed too: %s", job->dev->name, buf);
	} else
		JD(job)->mode_changed = JD(job)->quiesced = 0;
	job_dev_next(job);
}

static int
out_rb_resume_one(struct job *job)
{
	if (!JD(job)->mode_changed || job->dev == NULL ||
	    job->dev->handle == NULL)
		return (1);
	return (JOB_DEV_TRY(job, "resuming the device", out_rb_resumed,
	    set_mode, VMIG_MODE_ACTIVE, VMIG_LANE_CRITICAL));
}

/*
 * After Switchover the destination may run the VM's device, unless it
 * said otherwise (an Abort): resuming here too would run it on both
 * hosts (DESIGN.md, "Crash recovery"). The VFs stay stopped and the
 * reason says so.
 */
static int
out_rb_resume(struct job *job)
{
	if (job->phase == JOB_RESUMING && job->out != NULL &&
	    !job->out->peer_aborted) {
		log_warnx("job %" PRIu64 ": the destination may have resumed "
		    "the VM's device: %s stays stopped here", job->id,
		    job->device_name);
		snprintf(job->error + strlen(job->error),
		    sizeof(job->error) - strlen(job->error), "; after "
		    "Switchover: the destination may have resumed the VM's "
		    "device, so the VF stays stopped here; once the "
		    "destination's job is known not to have completed, "
		    "`vmigctl release %s --resume`", job->device_name);
		return (1);
	}
	return (job_each_dev(job, out_rb_resume_one));
}

static int
out_rb_finish(struct job *job)
{
	job_release_devices(job);
	out_dirty_detach(job);
	job_finish(job, job->cancel_req ? JOB_CANCELLED : JOB_FAILED);
	return (1);
}

static void
out_connected(void *arg)
{
	struct job	*job = arg;

	if (job->out->waiting != OUT_WAIT_CONNECT || job->failing)
		return;
	tls_probe_free(job->out->probe);	/* the handshake worked */
	job->out->probe = NULL;
	job_timer_stop(job);
	out_send_hello(job);
}

void
out_protocol_error(struct job *job, const char *fmt, const char *what)
{
	char	buf[256];

	snprintf(buf, sizeof(buf), fmt, what);
	(void)job_send_abort(job, VMIG__STREAM__V1__ABORT__CODE__CODE_PROTOCOL,
	    buf);
	job->out->peer_aborted = 1;	/* told it already */
	job_fail(job, "destination broke the protocol: %s", buf);
}

static void
out_data_connected(void *arg)
{
	struct job	*job = arg;

	if (job->out->waiting != OUT_WAIT_DATA || job->failing)
		return;
	job->out->waiting = OUT_WAIT_NONE;
	job_timer_stop(job);
	log_debug("%s: job %" PRIu64 ": %u data connections up", __func__,
	    job->id, dlink_conns(job->dlink));
	job_step_done(job, 0, NULL);
}

static void
out_data_writable(void *arg)
{
	out_writable_pump(arg);
}

static void
out_data_fail_cb(evutil_socket_t fd, short what, void *arg)
{
	struct job	*job = arg;

	if (job_phase_terminal(job->phase) || job->failing)
		return;
	job_fail(job, "data connections: %s", job->out->data_fail);
}

/*
 * A destination that aborts closes its data connections as it sends its
 * Abort on the stream, and the broken pipe may be seen first: the
 * failure waits OUT_DATA_FAIL_GRACE_MS for the Abort, which says why.
 */
static void
out_data_failed(void *arg, int err, const char *reason)
{
	struct job	*job = arg;
	struct job_out	*o = job->out;
	struct timeval	 tv = { 0, OUT_DATA_FAIL_GRACE_MS * 1000 };

	if (job_phase_terminal(job->phase) || job->failing)
		return;
	strlcpy_v(o->data_fail, reason, sizeof(o->data_fail));
	log_debug("%s: job %" PRIu64 ": %s", __func__, job->id, reason);
	evtimer_add(o->ev_data_fail, &tv);
}

static const struct dlink_ops out_dlink_ops = {
	.connected = out_data_connected,
	.writable = out_data_writable,
	.failed = out_data_failed,
};

/*
 * Are the data connections offered as safe as the stream? Plain beside
 * plain; beside TLS, nng's tls+tcp:// or our seal (of a version we
 * speak) over tcp://.
 */
static int
out_data_secure(const struct job *job, const Vmig__Stream__V1__HelloAck *a)
{
	int	tls_url = strncmp(a->data_url, "tls+", 4) == 0;

	if (job->tls == NULL)
		return (!tls_url && a->data_seal == 0);
	if (tls_url)
		return (a->data_seal == 0);
	return (a->data_seal == DSEAL_VERSION && job->seal != NULL);
}

/*
 * The destination offers data connections: dial as many as both allow.
 * 1: dialing (out_data_connected() ends the step); 0: pages go on the
 * control stream.
 */
static int
out_data_dial(struct job *job, const Vmig__Stream__V1__HelloAck *a)
{
	struct job_out	*o = job->out;
	unsigned	 n;
	char		 err[256];
	int		 rc;

	n = MIN(job->eng->data_conns, a->data_connections);
	if (n == 0 || a->data_url == NULL || *a->data_url == '\0')
		return (0);
	/*
	 * The pages go as the stream goes: never in clear beside TLS. Beside
	 * a TLS stream: sealed tcp:// connections (dseal.h) where the
	 * destination offers them, else nng's tls+tcp:// (an older one).
	 */
	if (!out_data_secure(job, a)) {
		log_warnx("job %" PRIu64 ": the destination offers data "
		    "connections on %s%s beside a %s stream: pages go on the "
		    "stream", job->id, a->data_url, a->data_seal != 0 ?
		    " (sealed)" : "", job->tls != NULL ? "TLS" : "plain");
		return (0);
	}
	rc = dlink_dial(job->eng->base, a->data_url, n, o->token, o->tokenlen,
	    job->eng->window != 0 ? job->eng->window : JOB_WINDOW_BYTES,
	    job->tls, a->data_seal != 0 ? job->seal : NULL, &out_dlink_ops,
	    job, &job->dlink, err, sizeof(err));
	if (rc != 0) {
		log_warnx("job %" PRIu64 ": no data connections, pages go on "
		    "the stream: %s", job->id, err);
		return (0);
	}
	dlink_set_priority(job->dlink, VMIG_PRIO_BULK);
	/* the migration's policy, else the daemon's (proto: cz_mode + 1) */
	dlink_set_compression(job->dlink, job->pol.compression != 0 ?
	    job->pol.compression - 1 : job->eng->compression, a->data_codecs);
	if (o->ev_data_fail == NULL)
		o->ev_data_fail = evtimer_new(job->eng->base, out_data_fail_cb,
		    job);
	o->waiting = OUT_WAIT_DATA;
	job->timer_fail = "the data connections did not come up in time";
	job_timer(job, JOB_CONNECT_TIMEOUT_MS);
	return (1);
}

static void
out_frame(void *arg, const struct frame *fr)
{
	struct job		*job = arg;
	struct job_out		*o = job->out;
	const StreamFrame	*f = fr->hdr;
	char			 err[256];
	int			 rc;

	if (job_phase_terminal(job->phase) || job->failing)
		return;
	if (fr->payload_len != 0) {
		out_protocol_error(job, "a %s frame with a payload",
		    frame_kind_name(f->kind_case));
		return;
	}
	if (job_frame_expected(job, fr, err, sizeof(err)) != 0) {
		out_protocol_error(job, "%s", err);
		return;
	}
	switch (f->kind_case) {
	case VMIG__STREAM__V1__FRAME__KIND_HELLO_ACK:
		if (o->waiting != OUT_WAIT_HELLO_ACK) {
			out_protocol_error(job, "an unexpected %s frame",
			    "hello-ack before the hello");
			return;
		}
		if (f->hello_ack->protocol_version != STREAM_PROTOCOL_VERSION) {
			job_fail(job, "destination speaks stream protocol %"
			    PRIu32 ", this daemon %d",
			    f->hello_ack->protocol_version,
			    STREAM_PROTOCOL_VERSION);
			return;
		}
		/* the destination's offer, within this host's budget */
		stream_set_window(job->stream, MIN(f->hello_ack->window_bytes !=
		    0 ? f->hello_ack->window_bytes : JOB_WINDOW_BYTES,
		    job->eng->window != 0 ? job->eng->window :
		    JOB_WINDOW_BYTES));
		o->waiting = OUT_WAIT_NONE;
		if (out_data_dial(job, f->hello_ack))
			break;	/* out_data_connected() goes on */
		job_step_done(job, 0, NULL);
		break;
	case VMIG__STREAM__V1__FRAME__KIND_ACK:
		/* acks name frames we sent, in order (stream.proto) */
		if (f->ack->seq > o->seq || f->ack->seq < o->acked_seq) {
			out_protocol_error(job, "%s", "an ack out of sequence");
			return;
		}
		o->acked_seq = f->ack->seq;
		o->ack_ms = now_ms();
		if ((rc = stream_acked(job->stream, f->ack->bytes)) != 0 ||
		    (job->dlink == NULL ? f->ack->data_bytes != 0 :
		    dlink_acked(job->dlink, f->ack->data_bytes) != 0)) {
			out_protocol_error(job, "%s", "an ack for bytes never "
			    "sent");
			return;
		}
		out_acks_moved(job);
		break;
	case VMIG__STREAM__V1__FRAME__KIND_DONE:
		if (o->waiting != OUT_WAIT_DONE) {
			out_protocol_error(job, "an unexpected %s frame",
			    "done before the switchover");
			return;
		}
		o->waiting = OUT_WAIT_NONE;
		job->st.device_load_time_ms = f->done->load_time_us / 1000;
		job->verified = f->done->verified;
		job_step_done(job, 0, NULL);
		break;
	case VMIG__STREAM__V1__FRAME__KIND_ABORT:
		o->peer_aborted = 1;
		job_fail(job, "destination aborted: %s",
		    f->abort->reason != NULL && *f->abort->reason != '\0' ?
		    f->abort->reason : "no reason given");
		break;
	default:
		break;	/* the phase table let in nothing else */
	}
}

/* A message that is no frame: the destination is told why. */
static void
out_bad_frame(void *arg, int err, const char *reason)
{
	struct job	*job = arg;

	if (job_phase_terminal(job->phase) || job->failing)
		return;
	out_protocol_error(job, "%s", reason);
}

static void
out_writable(void *arg)
{
	struct job	*job = arg;

	out_writable_pump(job);		/* at its priority */
	out_state_writable(job);
}

static void
out_closed(void *arg, int err, const char *reason)
{
	job_peer_closed(arg, "destination", err, reason);
}

/* A completed source keeps its VF (stopped) until ReleaseDevice. */
static int
out_holds_device(const struct job *job)
{
	unsigned int	i;

	if (job->phase != JOB_COMPLETED)
		return (0);
	for (i = 0; i < job->ndevs; i++) {
		if (job->devs[i].dev != NULL)
			return (1);
	}
	return (0);
}

static const struct stream_ops out_stream_ops = {
	.connected = out_connected,
	.frame = out_frame,
	.writable = out_writable,
	.closed = out_closed,
	.bad_frame = out_bad_frame,
};

const struct job_kind job_kind_outgoing = {
	.name = "outgoing",
	.dir = JOB_OUTGOING,
	.scheduled = 1,
	.sched_dir = SCHED_OUTGOING,
	.phases = out_phases,
	.sends = 1,
	.start = out_start,
	.rollback = out_rollback,
	.freeze = out_freeze,
	.free = out_free,
	.set_policy = out_set_policy,
	.share = out_share,
	.window = out_window,
	.kick = out_kick,
	.deadline = out_deadline,
	.switchover = out_switchover,
	.holds_device = out_holds_device,
};
