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
 * Three page sets per region: `dirty` (to send), `cur` (what the last
 * write-record read reported) and `prev` (the read before); cur & prev are
 * the hot pages, the ones the device rewrites every round. With DEFER_HOT
 * they stay in `dirty` but the pump skips them until stop-copy.
 *
 * Rollback (any failure before Done): wait for the device command in
 * flight, tell the destination (Abort), put the device back to ACTIVE if
 * we changed its mode, stop recording, release everything.
 */
#include "config.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>
#include <xxhash.h>

#include "api.h"
#include "backend.h"
#include "events.h"
#include "job.h"
#include "log.h"
#include "util.h"
#include "vmigd.h"

#define OUT_STATE_MAX		(256u * 1024 * 1024)	/* device state cap */
#define OUT_STATE_SEND_CHUNK	(1024 * 1024)
#define OUT_STREAM_PROTOCOL	1
/*
 * While a long send runs (the bulk copy, a big round), write records are
 * drained this often into `acc`, so that a device with a finite record
 * buffer does not overflow (and make us resend every page).
 */
#define OUT_DRAIN_MS		200
#define OUT_DRAIN_MIN_MS	10	/* halved down to this on each overflow */
#define OUT_FINAL_READS_MAX	1024	/* frozen device: reads until empty */

struct job_out {
	char			*dest_url;
	uint8_t			 token[64];
	size_t			 tokenlen;
	struct converge		 conv;
	struct xfer_src		 xs;
	struct tbucket		 tb;
	struct pageset		*acc;		/* per region: reads since */
	struct pageset		*cur;		/* the last iteration's read */
	struct pageset		*prev;
	struct pageset		*hot;		/* skip set while deferring */
	int			 defer_hot;
	uint32_t		 iteration;
	uint64_t		 seq;		/* frame sequence */
	uint32_t		 page_size;
	uint32_t		 nregions;	/* the map may be closed first */
	/* the backend ORs into acc through these (valid until done) */
	struct vmig_dirty_map	 maps[JOB_MEM_REGIONS_MAX];
	/* and reads the ranges to record from here */
	struct vmig_iova_range	 ranges[JOB_MEM_REGIONS_MAX];
	int			 start_retried;	/* stale recording stopped */
	uint64_t		 acc_records;
	uint64_t		 acc_bytes;
	int			 acc_overflow;
	uint64_t		 last_drain_ms;
	uint64_t		 drain_ms;	/* current drain interval */
	int			 final_reads;	/* stop-copy reads so far */
	int			 pump_wait_drain;
	int			 pump_paused;	/* yields to a job's final pages */
	int			 in_stopcopy;	/* in eng->stopcopy_jobs */

	/* pump */
	struct event		*ev_pump;
	int			 pumping;
	int			 pump_final;	/* stop-copy: no skip, no limit */
	uint32_t		 pump_region;
	uint64_t		 pump_cursor;
	uint64_t		 pump_start_us;
	uint64_t		 pump_bytes;
	int			 pump_wait_acks;

	/* last iteration's measurements */
	uint64_t		 iter_start_ms;
	uint64_t		 send_bytes;
	uint64_t		 send_us;
	uint64_t		 last_read_ms;
	uint64_t		 read_ms;	/* this read */
	uint64_t		 rd_records;
	uint64_t		 rd_bytes;
	uint64_t		 rd_pages;
	uint64_t		 hot_pages;
	uint64_t		 delay_ms;
	uint64_t		 rate_t0_ms;	/* memory_bps window */
	uint64_t		 rate_b0;

	/* device state */
	uint8_t			*state;
	size_t			 state_len;
	size_t			 state_cap;
	uint32_t		 generation;
	int			 precopy_state_sent;
	int			 state_sending;
	int			 state_precopy;
	size_t			 state_off;

	/* what rollback must undo */
	int			 recording;
	int			 mode_changed;
	int			 peer_aborted;
	int			 want_switchover;	/* Switchover call */
	int			 ready_published;

	/* switchover */
	uint64_t		 stop_us;
	uint64_t		 stop_unix_us;
	uint64_t		 final_send_us;	/* stop-copy transfer time */
	/* when each downtime step began (now_us), for the breakdown */
	uint64_t		 t_freeze, t_records, t_pages, t_state,
				 t_state_sent, t_switchover;
	uint64_t		 memory_digest;
	uint64_t		 state_digest;
	int			 waiting;	/* a frame the step waits for */
#define OUT_WAIT_CONNECT	1
#define OUT_WAIT_HELLO_ACK	2
#define OUT_WAIT_DONE		3
};

static const struct stream_ops out_stream_ops;

static int	out_check_mode(struct job *);
static int	out_connect(struct job *);
static int	out_start_recording(struct job *);
static int	out_enter_precopy(struct job *);
static int	out_send_pages(struct job *);
static int	out_precopy_state_read(struct job *);
static int	out_precopy_state_send(struct job *);
static int	out_wait(struct job *);
static int	out_read_dirty(struct job *);
static int	out_state_size(struct job *);
static int	out_decide(struct job *);
static int	out_send_stopcopy(struct job *);
static int	out_stop_device(struct job *);
static int	out_freeze_device(struct job *);
static int	out_final_dirty(struct job *);
static int	out_send_final_pages(struct job *);
static int	out_read_state(struct job *);
static int	out_send_state(struct job *);
static int	out_stop_recording(struct job *);
static int	out_digest_memory(struct job *);
static int	out_send_switchover(struct job *);
static int	out_wait_done(struct job *);
static int	out_complete(struct job *);
static int	out_rb_abort(struct job *);
static int	out_rb_resume(struct job *);
static int	out_rb_stop_recording(struct job *);
static int	out_rb_finish(struct job *);
static void	out_pump(struct job *);
static void	out_drain(struct job *);
static void	out_stopcopy_done(struct job *);
static void	out_pump_cb(int, short, void *);

static const struct job_step out_setup_steps[] = {
	{ "open device", job_step_open_device },
	{ "check device mode", out_check_mode },
	{ "connect to destination", out_connect },
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
	{ "query device state size", out_state_size },
	{ "decide", out_decide },
};

static const struct job_step out_stopcopy_steps[] = {
	{ "tell the destination", out_send_stopcopy },
	{ "stop device", out_stop_device },
	{ "freeze device", out_freeze_device },
	{ "read final write records", out_final_dirty },
	{ "send final pages", out_send_final_pages },
	{ "read device state", out_read_state },
	{ "send device state", out_send_state },
	{ "stop write recording", out_stop_recording },
	{ "digest memory", out_digest_memory },
	{ "send switchover", out_send_switchover },
	{ "wait for the destination to resume", out_wait_done },
	{ "complete", out_complete },
};

static const struct job_step out_rollback_steps[] = {
	{ "wait for the device command in flight", job_step_wait_device },
	{ "tell the destination", out_rb_abort },
	{ "resume device", out_rb_resume },
	{ "stop write recording", out_rb_stop_recording },
	{ "finish", out_rb_finish },
};

#define NSTEPS(a)	(sizeof(a) / sizeof((a)[0]))

/* ------------------------------------------------------------ create */

static int
out_check_url(const char *device, const char *url, char *err, size_t len)
{
	if (url == NULL || *url == '\0') {
		snprintf(err, len, "device %s: dest_url is empty: give the "
		    "stream_url PrepareIncoming returned on the destination",
		    device);
		return (-EINVAL);
	}
	if (strlen(url) > 256 || (strncmp(url, "tcp://", 6) != 0 &&
	    strncmp(url, "tls+tcp://", 10) != 0 &&
	    strncmp(url, "ipc://", 6) != 0)) {
		snprintf(err, len, "device %s: dest_url \"%.64s\" is not a "
		    "tcp://, tls+tcp:// or ipc:// URL", device, url);
		return (-EINVAL);
	}
	return (0);
}

int
job_out_create(struct engine *eng, const char *device,
    const struct mem_region_spec *specs, size_t nregions,
    const char *dest_url, const void *token, size_t tokenlen,
    const struct job_policy *pol, const char *vm, struct job **jp,
    int *code, char *err, size_t errlen)
{
	struct device	*dev;
	struct job	*job;
	struct job_out	*o;
	char		 owner[64], why[384];
	size_t		 i;
	int		 rc;

	*code = VMIG__V1__STATUS_CODE__STATUS_INVALID_ARGUMENT;
	if ((rc = out_check_url(device, dest_url, err, errlen)) != 0)
		return (rc);
	if (tokenlen == 0 || tokenlen > sizeof(o->token)) {
		snprintf(err, errlen, "device %s: token of %zu bytes: give the "
		    "token PrepareIncoming returned (1 to %zu bytes)", device,
		    tokenlen, sizeof(o->token));
		return (-EINVAL);
	}
	if (nregions == 0) {
		snprintf(err, errlen, "device %s: no memory regions: the source "
		    "needs the VM's memory the device writes to", device);
		return (-EINVAL);
	}
	for (i = 1; i < nregions; i++) {
		if (specs[i].page_size != specs[0].page_size) {
			snprintf(err, errlen, "device %s: region %zu has page "
			    "size %" PRIu32 " but region 0 has %" PRIu32 ": "
			    "write recording uses one page size per device",
			    device, i, specs[i].page_size, specs[0].page_size);
			return (-EINVAL);
		}
	}
	if ((rc = backend_dev_lookup(eng->d->backends, device, &dev, err,
	    errlen)) != 0) {
		*code = api_errno_status(rc);
		return (rc);
	}
	job = job_new(eng, JOB_OUTGOING, device);
	snprintf(owner, sizeof(owner), "job %" PRIu64 " (outgoing)", job->id);
	if ((rc = backend_dev_claim(dev, job->id, owner, err, errlen)) != 0) {
		*code = VMIG__V1__STATUS_CODE__STATUS_FAILED_PRECONDITION;
		goto fail;
	}
	job->dev = dev;
	if ((rc = mem_map_open(&job->mem, specs, nregions, MEM_MAP_POPULATE, why,
	    sizeof(why))) != 0) {
		snprintf(err, errlen, "device %s: %s", device, why);
		*code = api_errno_status(rc);
		goto fail;
	}
	job->mem_open = 1;
	job->pol = *pol;
	job->vm = xstrdup(vm != NULL ? vm : "");
	job->peer = xstrdup(dest_url);

	o = job->out = xcalloc(1, sizeof(*o));
	o->dest_url = xstrdup(dest_url);
	memcpy(o->token, token, tokenlen);
	o->tokenlen = tokenlen;
	o->page_size = job->mem.regions[0].page_size;
	o->nregions = job->mem.nregions;
	o->drain_ms = OUT_DRAIN_MS;
	o->acc = xcalloc(job->mem.nregions, sizeof(*o->acc));
	o->cur = xcalloc(job->mem.nregions, sizeof(*o->cur));
	o->prev = xcalloc(job->mem.nregions, sizeof(*o->prev));
	o->hot = xcalloc(job->mem.nregions, sizeof(*o->hot));
	for (i = 0; i < job->mem.nregions; i++) {
		pageset_init(&o->acc[i], job->mem.regions[i].npages);
		pageset_init(&o->cur[i], job->mem.regions[i].npages);
		o->maps[i].iova = job->mem.regions[i].iova;
		o->maps[i].length = job->mem.regions[i].length;
		o->maps[i].page_size = job->mem.regions[i].page_size;
		o->maps[i].bits = o->acc[i].bits;
		pageset_init(&o->prev[i], job->mem.regions[i].npages);
		pageset_init(&o->hot[i], job->mem.regions[i].npages);
	}
	xfer_src_init(&o->xs, 0, 0);
	tbucket_init(&o->tb, pol->bandwidth_limit_bps, 0, now_ns());
	o->ev_pump = event_new(eng->d->base, -1, 0, out_pump_cb, job);
	(void)event_priority_set(o->ev_pump, VMIG_PRIO_BULK);
	job_out_set_policy(job);

	job_set_phase(job, JOB_QUEUED, NULL);
	*jp = job;
	*code = VMIG__V1__STATUS_CODE__STATUS_OK;
	return (0);

fail:
	/* never started: a record of the refusal is of no use to anyone */
	job_discard(job);
	return (rc);
}

void
job_out_free(struct job *job)
{
	struct job_out	*o = job->out;
	uint32_t	 i;

	if (o == NULL)
		return;
	if (o->ev_pump != NULL)
		event_free(o->ev_pump);
	for (i = 0; o->cur != NULL && i < o->nregions; i++) {
		pageset_free(&o->acc[i]);
		pageset_free(&o->cur[i]);
		pageset_free(&o->prev[i]);
		pageset_free(&o->hot[i]);
	}
	free(o->acc);
	free(o->cur);
	free(o->prev);
	free(o->hot);
	xfer_src_free(&o->xs);
	free(o->state);
	free(o->dest_url);
	free(o);
	job->out = NULL;
}

void
job_out_set_policy(struct job *job)
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
	if (job->out->conv.decisions == 0 && job->phase <= JOB_QUEUED)
		converge_init(&job->out->conv, &cp);
	else
		converge_set_policy(&job->out->conv, &cp);
	job->st.downtime_target_ms = job->out->conv.target_ms;
	job_out_share(job, job->share_bps);
}

/* The scheduler's share, capped by the job's own limit (0: none). */
void
job_out_share(struct job *job, uint64_t share)
{
	struct job_out	*o = job->out;
	uint64_t	 rate = share;

	if (job->pol.bandwidth_limit_bps != 0 &&
	    (rate == 0 || rate > job->pol.bandwidth_limit_bps))
		rate = job->pol.bandwidth_limit_bps;
	if (o->pump_final)
		rate = share;	/* the guest is paused: only the host limit */
	if (rate != o->tb.rate)
		tbucket_set_rate(&o->tb, rate, 0, now_ns());
}

void
job_out_start(struct job *job)
{
	job_set_phase(job, JOB_SETUP, NULL);
	if (job->pol.completion_timeout_s != 0) {
		struct timeval tv = { job->pol.completion_timeout_s, 0 };

		evtimer_add(job->ev_deadline, &tv);
	}
	job_run_steps(job, out_setup_steps, NSTEPS(out_setup_steps));
}

/* ------------------------------------------------------------ setup */


static void
out_check_mode_done(struct job *job, const struct vmig_result *res)
{
	char	buf[256];

	if (res->err != 0) {
		job_step_done(job, res->err, "device %s: reading its mode: %s",
		    job->device_name, job_dev_strerror(res, buf, sizeof(buf)));
		return;
	}
	if (res->u.mode != VMIG_MODE_ACTIVE) {
		job_step_done(job, -EBUSY, "device %s is %s, not active: only "
		    "a running device is migrated", job->device_name,
		    backend_mode_name(res->u.mode));
		return;
	}
	job_step_done(job, 0, NULL);
}

static int
out_check_mode(struct job *job)
{
	void	(*done)(void *, const struct vmig_result *);
	void	*arg;

	job_dev_begin(job, "get mode", out_check_mode_done, &done, &arg);
	job_dev_submitted(job, backend_dev_ops(job->dev)->get_mode(
	    job->dev->handle, VMIG_LANE_CRITICAL, done, arg));
	return (0);
}

static void
out_send_hello(struct job *job)
{
	struct job_out				*o = job->out;
	Vmig__Stream__V1__Frame			 f = VMIG__STREAM__V1__FRAME__INIT;
	Vmig__Stream__V1__Hello			 h = VMIG__STREAM__V1__HELLO__INIT;
	Vmig__Stream__V1__RegionLayout		*rl, **rlp;
	uint32_t				 i;
	int					 rc;

	rl = xcalloc(job->mem.nregions, sizeof(*rl));
	rlp = xcalloc(job->mem.nregions, sizeof(*rlp));
	for (i = 0; i < job->mem.nregions; i++) {
		vmig__stream__v1__region_layout__init(&rl[i]);
		rl[i].index = i;
		rl[i].iova = job->mem.regions[i].iova;
		rl[i].length = job->mem.regions[i].length;
		rlp[i] = &rl[i];
	}
	h.protocol_version = OUT_STREAM_PROTOCOL;
	h.token.data = o->token;
	h.token.len = o->tokenlen;
	h.source_job_id = job->id;
	h.source_device = job->device_name;
	h.device_type = job->dev->info.type;
	h.interface = job->dev->info.caps.interface;
	h.n_regions = job->mem.nregions;
	h.regions = rlp;
	h.page_size = o->page_size;
	h.verify = job->pol.verify;
	h.state_max_bytes = job->dev->info.caps.state_max_bytes;
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
	rc = stream_dial(job->eng->d->base, o->dest_url, &so, &out_stream_ops,
	    job, &job->stream, err, sizeof(err));
	if (rc != 0) {
		job_step_done(job, rc, "connecting to %s: %s", o->dest_url,
		    err);
		return (0);
	}
	o->waiting = OUT_WAIT_CONNECT;
	job->timer_fail = "could not connect to the destination in time";
	job_timer(job, JOB_CONNECT_TIMEOUT_MS);
	if (stream_is_connected(job->stream)) {
		job_timer_stop(job);
		out_send_hello(job);
	}
	return (0);
}

static void	out_recording_start(struct job *);

static void
out_stale_stopped(struct job *job, const struct vmig_result *res)
{
	char	buf[256];

	if (res->err != 0)
		log_warnx("job %" PRIu64 ": device %s: stopping a stale write "
		    "recording: %s", job->id, job->device_name,
		    job_dev_strerror(res, buf, sizeof(buf)));
	out_recording_start(job);
}

static void
out_recording_done(struct job *job, const struct vmig_result *res)
{
	struct job_out	*o = job->out;
	void		(*done)(void *, const struct vmig_result *);
	void		*arg;
	char		 buf[256];

	if (res->err != 0 && !o->start_retried) {
		/*
		 * A daemon that died mid-migration leaves the VF recording,
		 * and the device refuses a second start: stop it, try once
		 * more (a device that refuses for another reason refuses
		 * again, and that is the error reported).
		 */
		o->start_retried = 1;
		log_info("job %" PRIu64 ": device %s refused to start write "
		    "recording (%s): stopping a recording left running, then "
		    "starting again", job->id, job->device_name,
		    job_dev_strerror(res, buf, sizeof(buf)));
		job_dev_begin(job, "stop stale write recording",
		    out_stale_stopped, &done, &arg);
		job_dev_submitted(job, backend_dev_ops(job->dev)->dirty_stop(
		    job->dev->handle, done, arg));
		return;
	}
	if (res->err != 0) {
		job_step_done(job, res->err, "device %s: starting write "
		    "recording: %s", job->device_name,
		    job_dev_strerror(res, buf, sizeof(buf)));
		return;
	}
	o->recording = 1;
	job_step_done(job, 0, NULL);
}

static void
out_recording_start(struct job *job)
{
	struct job_out	*o = job->out;
	void		(*done)(void *, const struct vmig_result *);
	void		*arg;
	uint32_t	 i;

	for (i = 0; i < job->mem.nregions; i++) {
		o->ranges[i].iova = job->mem.regions[i].iova;
		o->ranges[i].length = job->mem.regions[i].length;
	}
	/* recording is started before the copy, so nothing is missed */
	o->recording = 1;
	job_dev_begin(job, "start write recording", out_recording_done, &done,
	    &arg);
	job_dev_submitted(job, backend_dev_ops(job->dev)->dirty_start(
	    job->dev->handle, o->ranges, job->mem.nregions, o->page_size,
	    done, arg));
}

static int
out_start_recording(struct job *job)
{
	if (job->dev->info.caps.dirty_kind == VMIG_DIRTY_NONE)
		return (1);	/* nothing to start: every page is dirty */
	job->out->start_retried = 0;
	out_recording_start(job);
	return (0);
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
	o->rate_t0_ms = o->iter_start_ms;
	job->st.memory_remaining = mem_dirty_count(&job->mem) *
	    o->page_size;
	job_run_steps(job, out_iter_steps, NSTEPS(out_iter_steps));
	return (1);
}

/* ------------------------------------------------------------ pump */

static void
out_rate_update(struct job *job)
{
	struct job_out	*o = job->out;
	uint64_t	 now = now_ms();
	uint64_t	 sent = job->st.memory_processed;

	if (now - o->rate_t0_ms >= 500) {
		job->st.memory_bps = (sent - o->rate_b0) * 1000 /
		    (now - o->rate_t0_ms);
		o->rate_t0_ms = now;
		o->rate_b0 = sent;
	}
}

/* This job's stop-copy is over (switchover sent, or rolled back). */
static void
out_stopcopy_done(struct job *job)
{
	struct engine	*eng = job->eng;
	struct job	*other;

	if (!job->out->in_stopcopy)
		return;
	job->out->in_stopcopy = 0;
	VMIG_ASSERT(eng->stopcopy_jobs > 0);
	if (--eng->stopcopy_jobs > 0)
		return;
	TAILQ_FOREACH(other, &eng->jobs, entry) {
		if (other->dir == JOB_OUTGOING && other->out != NULL)
			job_out_kick(other);
	}
}

void
job_out_kick(struct job *job)
{
	struct job_out	*o = job->out;

	if (o->pumping && o->pump_paused) {
		o->pump_paused = 0;
		event_active(o->ev_pump, 0, 0);
	}
}

void
job_out_window(struct job *job)
{
	if (job->stream != NULL && job->out->waiting != OUT_WAIT_CONNECT &&
	    job->out->waiting != OUT_WAIT_HELLO_ACK)
		stream_set_window(job->stream, job->eng->window);
}

static void
out_pump_finish(struct job *job)
{
	struct job_out	*o = job->out;

	if (job->dev_busy) {
		/* a drain is out: the next step needs the device */
		o->pump_wait_drain = 1;
		return;
	}
	o->pumping = 0;
	/* a round that sent nothing measured no bandwidth (converge.h) */
	o->send_us = o->pump_bytes != 0 ? now_us() - o->pump_start_us : 0;
	o->send_bytes = o->pump_bytes;
	/*
	 * The whole step, even when it sent nothing: waiting for the
	 * destination to acknowledge or for a drain is delivery, not the
	 * device's switchover cost (a crowded destination once took a second
	 * here, and that second, taken for the PF's cost, failed every later
	 * job on the PF).
	 */
	if (o->pump_final)
		o->final_send_us = now_us() - o->pump_start_us;
	job->st.memory_remaining = mem_dirty_count(&job->mem) * o->page_size;
	job_step_done(job, 0, NULL);
}

/*
 * Send pages until every region's dirty set (minus the deferred hot set)
 * is empty, a bounded number of batches per loop turn so that other jobs
 * and the RPC stay responsive, paced by the token bucket and the stream's
 * window. The step ends when the destination acknowledged everything, so
 * the time measured is delivery, not queueing.
 */
static void
out_pump(struct job *job)
{
	struct job_out		*o = job->out;
	struct xfer_result	 res;
	struct mem_region	*r;
	const struct pageset	*skip;
	uint64_t		 wait, now;
	int			 n, rc;

	if (!o->pumping || job->failing || o->pump_wait_drain)
		return;
	/*
	 * Another job is in stop-copy, its guest waiting: bulk pages wait
	 * too, so its device commands, final pages and state get the link,
	 * the CPU and the destination (the stop-copy tier of sched.h, which
	 * also holds when the host has no bandwidth limit to share).
	 */
	if (!o->pump_final && job->eng->stopcopy_jobs > 0) {
		o->pump_paused = 1;
		return;
	}
	out_drain(job);
	for (n = 0; n < JOB_PUMP_BATCHES; n++) {
		if (o->pump_region >= job->mem.nregions) {
			if (stream_unacked(job->stream) != 0) {
				o->pump_wait_acks = 1;
				return;	/* the last Ack resumes us */
			}
			out_pump_finish(job);
			return;
		}
		now = now_ns();
		/* stop-copy too: the host limit holds (job_out_share) */
		if ((wait = tbucket_wait_ns(&o->tb, now)) != 0) {
			struct timeval tv = { 0, (suseconds_t)(wait / 1000 + 1) };

			if (wait >= 1000000000ull) {
				tv.tv_sec = (time_t)(wait / 1000000000ull);
				tv.tv_usec = 0;
			}
			evtimer_add(o->ev_pump, &tv);
			return;
		}
		r = &job->mem.regions[o->pump_region];
		skip = o->defer_hot && !o->pump_final ?
		    &o->hot[o->pump_region] : NULL;
		rc = xfer_send(&o->xs, job->stream, r, &o->pump_cursor, skip,
		    ++o->seq, o->iteration, &res);
		if (rc == -EAGAIN) {
			o->seq--;
			return;	/* writable() resumes us */
		}
		if (rc != 0) {
			o->seq--;
			o->pumping = 0;
			job_step_done(job, rc, "sending pages of region %" PRIu32
			    ": %s", r->index, strerror(-rc));
			return;
		}
		if (res.pages == 0) {
			o->seq--;
			o->pump_region++;
			o->pump_cursor = 0;
			continue;
		}
		tbucket_consume(&o->tb, res.bytes, now_ns());
		o->pump_bytes += res.bytes;
		job->st.memory_processed += res.bytes;
		job->st.memory_normal += res.pages - res.zero_pages;
		job->st.memory_constant += res.zero_pages;
		job->st.bytes_sent = stream_stats(job->stream)->bytes_out;
	}
	out_rate_update(job);
	event_active(o->ev_pump, 0, 0);	/* more next turn */
}

static void
out_pump_cb(int fd, short what, void *arg)
{
	out_pump(arg);
}

static void
out_pump_start(struct job *job, int final)
{
	struct job_out	*o = job->out;

	/* the guest waits for the final pages: they are not background work */
	event_del(o->ev_pump);
	(void)event_priority_set(o->ev_pump, final ? VMIG_PRIO_CRITICAL :
	    VMIG_PRIO_BULK);
	o->pumping = 1;
	o->pump_final = final;
	o->pump_region = 0;
	o->pump_cursor = 0;
	o->pump_bytes = 0;
	o->pump_wait_acks = 0;
	o->pump_start_us = now_us();
	out_pump(job);
}

static int
out_send_pages(struct job *job)
{
	job->out->iter_start_ms = now_ms();
	out_pump_start(job, 0);
	return (0);
}

/* ------------------------------------------------------------ state */

static int
out_state_grow(struct job *job, size_t need)
{
	struct job_out	*o = job->out;
	size_t		 cap;

	if (need > OUT_STATE_MAX)
		return (-EFBIG);
	if (need <= o->state_cap)
		return (0);
	cap = o->state_cap == 0 ? 2 * JOB_STATE_CHUNK : o->state_cap;
	while (cap < need)
		cap *= 2;
	o->state = xrealloc(o->state, cap);
	o->state_cap = cap;
	return (0);
}

static void	out_state_read_next(struct job *, int);

static void
out_state_read_done(struct job *job, const struct vmig_result *res)
{
	struct job_out	*o = job->out;
	char		 buf[256];

	if (res->err != 0) {
		job_step_done(job, res->err, "device %s: reading its state: %s",
		    job->device_name, job_dev_strerror(res, buf, sizeof(buf)));
		return;
	}
	if (res->u.read.len > JOB_STATE_CHUNK) {
		job_step_done(job, -EPROTO, "device %s: state read returned "
		    "%zu bytes for a %d-byte buffer", job->device_name,
		    res->u.read.len, JOB_STATE_CHUNK);
		return;
	}
	o->state_len += res->u.read.len;
	job->st.device_state_pending = res->u.read.remaining;
	if (res->u.read.remaining == 0) {
		job->st.device_state_bytes = o->state_len;
		job_step_done(job, 0, NULL);
		return;
	}
	if (res->u.read.len == 0) {
		job_step_done(job, -EPROTO, "device %s: state read made no "
		    "progress with %" PRIu64 " bytes remaining",
		    job->device_name, res->u.read.remaining);
		return;
	}
	out_state_read_next(job, job->phase == JOB_STOPCOPY ?
	    VMIG_LANE_CRITICAL : VMIG_LANE_BULK);
}

static void
out_state_read_next(struct job *job, int lane)
{
	struct job_out	*o = job->out;
	void		(*done)(void *, const struct vmig_result *);
	void		*arg;
	int		 rc;

	if ((rc = out_state_grow(job, o->state_len + JOB_STATE_CHUNK)) != 0) {
		job_step_done(job, rc, "device %s: state larger than %u bytes",
		    job->device_name, OUT_STATE_MAX);
		return;
	}
	job_dev_begin(job, "read state", out_state_read_done, &done, &arg);
	job_dev_submitted(job, backend_dev_ops(job->dev)->state_read(
	    job->dev->handle, o->state + o->state_len, JOB_STATE_CHUNK, lane,
	    done, arg));
}

/*
 * Send the image in o->state (generation o->generation) in chunks, as the
 * stream's window allows; writable() resumes it. The step ends when the
 * last chunk is handed to the stream.
 */
static void
out_state_pump(struct job *job)
{
	struct job_out				*o = job->out;
	Vmig__Stream__V1__Frame			 f = VMIG__STREAM__V1__FRAME__INIT;
	Vmig__Stream__V1__StateChunk		 c =
	    VMIG__STREAM__V1__STATE_CHUNK__INIT;
	size_t					 n;
	int					 rc;

	f.kind_case = VMIG__STREAM__V1__FRAME__KIND_STATE;
	f.state = &c;
	while (o->state_sending) {
		n = MIN(o->state_len - o->state_off, OUT_STATE_SEND_CHUNK);
		c.seq = o->seq + 1;
		c.offset = o->state_off;
		c.total = o->state_len;
		c.last = o->state_off + n == o->state_len;
		c.precopy = o->state_precopy;
		c.generation = o->generation;
		rc = stream_send(job->stream, &f, n != 0 ?
		    o->state + o->state_off : NULL, n);
		if (rc == -EAGAIN)
			return;
		if (rc != 0) {
			o->state_sending = 0;
			job_step_done(job, rc, "sending device state: %s",
			    strerror(-rc));
			return;
		}
		o->seq++;
		o->state_off += n;
		job->st.bytes_sent = stream_stats(job->stream)->bytes_out;
		if (c.last)
			o->state_sending = 0;
	}
	job_step_done(job, 0, NULL);
}

static void
out_state_pump_start(struct job *job, int precopy)
{
	struct job_out	*o = job->out;

	o->state_sending = 1;
	o->state_precopy = precopy;
	o->state_off = 0;
	out_state_pump(job);
}

/* Once, with a device that can: read its state while it runs. */
static int
out_precopy_state_read(struct job *job)
{
	struct job_out	*o = job->out;

	if (o->generation != 0 ||
	    (job->dev->info.caps.flags & VMIG_CAP_STATE_PRECOPY) == 0)
		return (1);
	o->generation = 1;
	o->state_len = 0;
	out_state_read_next(job, VMIG_LANE_BULK);
	return (0);
}

static int
out_precopy_state_send(struct job *job)
{
	struct job_out	*o = job->out;

	if (o->generation != 1 || o->precopy_state_sent)
		return (1);
	o->precopy_state_sent = 1;
	out_state_pump_start(job, 1);
	return (0);
}

/* ------------------------------------------------------------ iterate */

static int
out_wait(struct job *job)
{
	struct job_out	*o = job->out;

	if (o->want_switchover || o->delay_ms == 0)
		return (1);
	job_timer(job, o->delay_ms);
	return (0);
}

/* Account a read into acc (a drain or an iteration's read). */
static void
out_acc_result(struct job *job, const struct vmig_result *res)
{
	struct job_out	*o = job->out;

	o->acc_records += res->u.dirty.records;
	o->acc_bytes += res->u.dirty.bytes;
	if (res->u.dirty.overflow && !o->acc_overflow)
		log_warnx("job %" PRIu64 ": device %s lost write records: "
		    "every page of the regions is resent", job->id,
		    job->device_name);
	o->acc_overflow |= res->u.dirty.overflow;
	/* the device's buffer filled between reads: read it more often */
	if (res->u.dirty.overflow && o->drain_ms > OUT_DRAIN_MIN_MS) {
		o->drain_ms = MAX(o->drain_ms / 2, OUT_DRAIN_MIN_MS);
		log_info("job %" PRIu64 ": draining write records every %"
		    PRIu64 " ms", job->id, o->drain_ms);
	}
	job->st.device_write_records += res->u.dirty.records;
}

/*
 * Everything read since the last iteration (drains included) becomes this
 * iteration's read: cur = acc, merged into the dirty sets; acc starts over.
 */
static void
out_take_acc(struct job *job)
{
	struct job_out	*o = job->out;
	uint32_t	 i;
	uint64_t	 hot = 0, newp = 0;

	for (i = 0; i < job->mem.nregions; i++) {
		pageset_recount(&o->acc[i]);
		pageset_copy(&o->cur[i], &o->acc[i]);
		pageset_zero(&o->acc[i]);
		newp += pageset_count(&o->cur[i]);
		hot += pageset_count_and(&o->cur[i], &o->prev[i]);
		pageset_or(&job->mem.regions[i].dirty, &o->cur[i]);
		/* the hot set: dirty in this read and the last one */
		pageset_copy(&o->hot[i], &o->cur[i]);
		pageset_and(&o->hot[i], &o->prev[i]);
		pageset_copy(&o->prev[i], &o->cur[i]);
	}
	o->rd_records = o->acc_records;
	o->rd_bytes = o->acc_bytes;
	o->rd_pages = newp;
	o->hot_pages = hot;
	o->acc_records = o->acc_bytes = 0;
	o->acc_overflow = 0;
}

static void
out_read_dirty_done(struct job *job, const struct vmig_result *res)
{
	char	buf[256];

	if (res->err != 0) {
		job_step_done(job, res->err, "device %s: reading write "
		    "records: %s", job->device_name,
		    job_dev_strerror(res, buf, sizeof(buf)));
		return;
	}
	out_acc_result(job, res);
	out_take_acc(job);
	job_step_done(job, 0, NULL);
}

/* Read write records into acc (the backend keeps o->maps until done). */
static void
out_read_dirty_into_acc(struct job *job, int lane, job_dev_fn fn,
    const char *what)
{
	struct job_out	*o = job->out;
	void		(*done)(void *, const struct vmig_result *);
	void		*arg;

	o->read_ms = o->last_drain_ms = now_ms();
	job_dev_begin(job, what, fn, &done, &arg);
	job_dev_submitted(job, backend_dev_ops(job->dev)->dirty_read(
	    job->dev->handle, o->maps, job->mem.nregions, lane, done, arg));
}

static void
out_drain_done(struct job *job, const struct vmig_result *res)
{
	struct job_out	*o = job->out;
	char		 buf[256];

	if (res->err != 0) {
		o->pump_wait_drain = 0;
		o->pumping = 0;
		job_step_done(job, res->err, "device %s: reading write "
		    "records: %s", job->device_name,
		    job_dev_strerror(res, buf, sizeof(buf)));
		return;
	}
	out_acc_result(job, res);
	if (o->pump_wait_drain) {
		o->pump_wait_drain = 0;
		out_pump_finish(job);
	}
}

/* During a long send: keep the device's record buffer from filling. */
static void
out_drain(struct job *job)
{
	struct job_out	*o = job->out;

	if (job->phase != JOB_PRECOPY || job->dev_busy ||
	    job->dev->info.caps.dirty_kind == VMIG_DIRTY_NONE ||
	    now_ms() - o->last_drain_ms < o->drain_ms)
		return;
	out_read_dirty_into_acc(job, VMIG_LANE_BULK, out_drain_done,
	    "drain write records");
}

static int
out_read_dirty(struct job *job)
{
	struct job_out	*o = job->out;
	uint32_t	 i;

	if (job->dev->info.caps.dirty_kind == VMIG_DIRTY_NONE) {
		/* a device that cannot tell: every page, every round */
		o->read_ms = now_ms();
		for (i = 0; i < job->mem.nregions; i++) {
			pageset_fill(&o->cur[i]);
			pageset_or(&job->mem.regions[i].dirty, &o->cur[i]);
		}
		o->rd_pages = job->mem.total_pages;
		o->rd_records = 0;
		o->rd_bytes = job->mem.total_bytes;
		return (1);
	}
	out_read_dirty_into_acc(job, VMIG_LANE_BULK, out_read_dirty_done,
	    "read write records");
	return (0);
}

static void
out_state_size_done(struct job *job, const struct vmig_result *res)
{
	char	buf[256];

	if (res->err != 0) {
		job_step_done(job, res->err, "device %s: state size: %s",
		    job->device_name, job_dev_strerror(res, buf, sizeof(buf)));
		return;
	}
	if (res->u.size > OUT_STATE_MAX) {
		job_step_done(job, -EFBIG, "device %s reports %" PRIu64
		    " bytes of state, over the %u-byte limit",
		    job->device_name, res->u.size, OUT_STATE_MAX);
		return;
	}
	job->st.device_state_bytes = res->u.size;
	job->st.device_state_pending = res->u.size;
	job_step_done(job, 0, NULL);
}

static int
out_state_size(struct job *job)
{
	void	(*done)(void *, const struct vmig_result *);
	void	*arg;

	job_dev_begin(job, "state size", out_state_size_done, &done, &arg);
	job_dev_submitted(job, backend_dev_ops(job->dev)->state_size(
	    job->dev->handle, VMIG_LANE_BULK, done, arg));
	return (0);
}

static void
out_enter_stopcopy(struct job *job, const char *why)
{
	/* the guest is about to wait: our acks before others' bulk work */
	stream_set_priority(job->stream, VMIG_PRIO_CRITICAL);
	if (!job->out->in_stopcopy) {
		job->out->in_stopcopy = 1;
		job->eng->stopcopy_jobs++;
	}
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
	obs.dirty_pages = mem_dirty_count(&job->mem) - deferred;
	obs.deferred_pages = deferred;
	obs.page_size = o->page_size;
	obs.total_bytes = job->mem.total_bytes;
	obs.sent_bytes = o->send_bytes;
	obs.send_us = o->send_us;
	obs.share_bps = job->share_bps;
	obs.state_bytes = job->st.device_state_bytes;
	cost = engine_switch_cost(job->eng, job->dev->pf->name);
	obs.switch_cost_ms = cost;
	obs.switch_cost_measured = cost != 0;
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
	o->delay_ms = d.delay_ms;
	/* a device that overflows its record buffer must not wait long */
	if (o->drain_ms < OUT_DRAIN_MS && o->delay_ms > o->drain_ms)
		o->delay_ms = o->drain_ms;

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
		if (job->pol.manual_switchover) {
			if (job->phase == JOB_PRECOPY)
				job_set_phase(job, JOB_SWITCHOVER_READY,
				    d.reason);
			/* keep the dirty set small while the caller decides */
			if (o->delay_ms < 200)
				o->delay_ms = 200;
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

/* ------------------------------------------------------------ stop-copy */


static int
out_set_mode(struct job *job, enum vmig_mode mode, const char *what)
{
	void	(*done)(void *, const struct vmig_result *);
	void	*arg;

	job->out->mode_changed = 1;
	job_dev_begin(job, what, job_dev_step_done, &done, &arg);
	job_dev_submitted(job, backend_dev_ops(job->dev)->set_mode(
	    job->dev->handle, mode, VMIG_LANE_CRITICAL, done, arg));
	return (0);
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

static int
out_stop_device(struct job *job)
{
	job->out->stop_us = now_us();
	job->out->stop_unix_us = unix_us();
	return (out_set_mode(job, VMIG_MODE_STOPPED, "set mode stopped"));
}

static int
out_freeze_device(struct job *job)
{
	job->out->t_freeze = now_us();
	return (out_set_mode(job, VMIG_MODE_FROZEN, "set mode frozen"));
}

static void
out_final_dirty_done(struct job *job, const struct vmig_result *res)
{
	char	buf[256];

	if (res->err != 0) {
		job_step_done(job, res->err, "device %s: reading the final "
		    "write records: %s", job->device_name,
		    job_dev_strerror(res, buf, sizeof(buf)));
		return;
	}
	out_acc_result(job, res);
	/*
	 * A device may hand out its records a few at a time (the backend
	 * stops asking after a bounded number of reads): the device is
	 * frozen, so read until a read finds none, or pages are lost.
	 */
	if (res->u.dirty.records != 0 && !res->u.dirty.overflow) {
		if (++job->out->final_reads >= OUT_FINAL_READS_MAX) {
			job_step_done(job, -EPROTO, "device %s: still reports "
			    "write records after %d reads while frozen",
			    job->device_name, OUT_FINAL_READS_MAX);
			return;
		}
		out_read_dirty_into_acc(job, VMIG_LANE_CRITICAL,
		    out_final_dirty_done, "read final write records");
		return;
	}
	out_take_acc(job);
	job_step_done(job, 0, NULL);
}

static int
out_final_dirty(struct job *job)
{
	uint32_t	i;

	job->out->t_records = now_us();
	if (job->dev->info.caps.dirty_kind == VMIG_DIRTY_NONE) {
		for (i = 0; i < job->mem.nregions; i++)
			pageset_fill(&job->mem.regions[i].dirty);
		return (1);
	}
	job->out->final_reads = 0;
	out_read_dirty_into_acc(job, VMIG_LANE_CRITICAL, out_final_dirty_done,
	    "read final write records");
	return (0);
}

static int
out_send_final_pages(struct job *job)
{
	job->out->pump_final = 1;
	job->out->t_pages = now_us();
	job_out_share(job, job->share_bps);
	out_pump_start(job, 1);
	return (0);
}

static int
out_read_state(struct job *job)
{
	struct job_out	*o = job->out;

	o->state_len = 0;
	o->generation++;
	o->t_state = now_us();
	out_state_read_next(job, VMIG_LANE_CRITICAL);
	return (0);
}

static int
out_send_state(struct job *job)
{
	struct job_out	*o = job->out;

	o->t_state_sent = now_us();
	o->state_digest = XXH3_64bits(o->state, o->state_len);
	out_state_pump_start(job, 0);
	return (0);
}

static void
out_recording_stopped(struct job *job, const struct vmig_result *res)
{
	char	buf[256];

	job->out->recording = 0;
	if (res->err != 0) {
		job_step_done(job, res->err, "device %s: stopping write "
		    "recording: %s", job->device_name,
		    job_dev_strerror(res, buf, sizeof(buf)));
		return;
	}
	job_step_done(job, 0, NULL);
}

static int
out_stop_recording(struct job *job)
{
	void	(*done)(void *, const struct vmig_result *);
	void	*arg;

	if (!job->out->recording)
		return (1);
	job_dev_begin(job, "stop write recording", out_recording_stopped,
	    &done, &arg);
	job_dev_submitted(job, backend_dev_ops(job->dev)->dirty_stop(
	    job->dev->handle, done, arg));
	return (0);
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
	int				 rc;

	o->t_switchover = now_us();
	s.seq = ++o->seq;
	s.verify = job->pol.verify;
	s.memory_digest = o->memory_digest;
	s.state_digest = o->state_digest;
	s.state_bytes = o->state_len;
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
	uint64_t	 downtime_ms;
	char		 owner[64];

	downtime_ms = (now_us() - o->stop_us + 999) / 1000;
	job->st.downtime_ms = downtime_ms;
	/*
	 * What the next migration on this PF cannot send faster: downtime
	 * without the final pages' transfer (stop, freeze, the last reads,
	 * the destination's load and resume, the round trips).
	 */
	engine_set_switch_cost(job->eng, job->dev->pf->name,
	    downtime_ms > o->final_send_us / 1000 ?
	    downtime_ms - o->final_send_us / 1000 : 1);
	/* the VM lives on the destination now: keep the VF until released */
	snprintf(owner, sizeof(owner), "migrated away (job %" PRIu64 ")",
	    job->id);
	strlcpy_v(job->dev->owner, owner, sizeof(job->dev->owner));
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
	job_finish(job, JOB_COMPLETED);
	return (1);
}

/* A completed source's device, released by ReleaseDevice. */
void
job_out_release(struct job *job)
{
	if (job->dev == NULL)
		return;
	backend_dev_release(job->dev, job->id);
	job->dev = NULL;
}

int
job_out_switchover(struct job *job, char *err, size_t errlen)
{
	if (!job->pol.manual_switchover) {
		snprintf(err, errlen, "job %" PRIu64 " switches over by "
		    "itself (switchover is automatic)", job->id);
		return (-EINVAL);
	}
	if (job->phase != JOB_PRECOPY && job->phase != JOB_SWITCHOVER_READY) {
		snprintf(err, errlen, "job %" PRIu64 " is %s: switchover is "
		    "possible in precopy or switchover-ready", job->id,
		    job_phase_name(job->phase));
		return (-EBUSY);
	}
	job->out->want_switchover = 1;
	/* cut an iteration delay short */
	if (job->running_step && job->steps == out_iter_steps &&
	    job->steps[job->step].run == out_wait && evtimer_pending(
	    job->ev_timer, NULL))
		job_step_done(job, 0, NULL);
	return (0);
}

void
job_out_freeze(struct job *job)
{
	if (job->out == NULL)
		return;
	job->out->pumping = 0;
	job->out->in_stopcopy = 0;	/* the engine is going away */
	job->out->state_sending = 0;
	if (job->out->ev_pump != NULL)
		event_del(job->out->ev_pump);
}

/* ------------------------------------------------------------ rollback */

void
job_out_rollback(struct job *job)
{
	struct job_out	*o = job->out;

	if (o != NULL) {
		o->pumping = 0;
		out_stopcopy_done(job);
		o->state_sending = 0;
		if (o->ev_pump != NULL)
			event_del(o->ev_pump);
		o->waiting = 0;
	}
	job_run_steps(job, out_rollback_steps, NSTEPS(out_rollback_steps));
}

static int
out_rb_abort(struct job *job)
{
	Vmig__Stream__V1__Frame	f = VMIG__STREAM__V1__FRAME__INIT;
	Vmig__Stream__V1__Abort	a = VMIG__STREAM__V1__ABORT__INIT;

	if (job->stream == NULL || stream_is_closed(job->stream) ||
	    (job->out != NULL && job->out->peer_aborted))
		return (1);
	a.code = job->cancel_req ? VMIG__STREAM__V1__ABORT__CODE__CODE_CANCELLED
	    : VMIG__STREAM__V1__ABORT__CODE__CODE_DEVICE;
	a.reason = job->error;
	f.kind_case = VMIG__STREAM__V1__FRAME__KIND_ABORT;
	f.abort = &a;
	(void)stream_send(job->stream, &f, NULL, 0);
	return (1);
}

static void
out_rb_resumed(struct job *job, const struct vmig_result *res)
{
	char	buf[256];

	if (res->err != 0) {
		/* the one thing we cannot undo: say so loudly */
		log_error("job %" PRIu64 ": device %s could not be resumed "
		    "after a failed migration: %s", job->id, job->device_name,
		    job_dev_strerror(res, buf, sizeof(buf)));
		snprintf(job->error + strlen(job->error),
		    sizeof(job->error) - strlen(job->error),
		    "; resuming the device failed too: %s", buf);
	} else
		job->out->mode_changed = 0;
	job_step_done(job, 0, NULL);
}

static int
out_rb_resume(struct job *job)
{
	void	(*done)(void *, const struct vmig_result *);
	void	*arg;

	if (job->out == NULL || !job->out->mode_changed || job->dev == NULL ||
	    job->dev->handle == NULL)
		return (1);
	job_dev_begin(job, "resume device", out_rb_resumed, &done, &arg);
	if (backend_dev_ops(job->dev)->set_mode(job->dev->handle,
	    VMIG_MODE_ACTIVE, VMIG_LANE_CRITICAL, done, arg) != 0) {
		job->dev_busy = 0;
		log_error("job %" PRIu64 ": device %s: resume could not be "
		    "submitted", job->id, job->device_name);
		return (1);
	}
	return (0);
}

static void
out_rb_recording_stopped(struct job *job, const struct vmig_result *res)
{
	if (res->err != 0)
		log_warnx("job %" PRIu64 ": device %s: stopping write "
		    "recording after a failure: %s", job->id, job->device_name,
		    strerror(-res->err));
	job->out->recording = 0;
	job_step_done(job, 0, NULL);
}

static int
out_rb_stop_recording(struct job *job)
{
	void	(*done)(void *, const struct vmig_result *);
	void	*arg;

	if (job->out == NULL || !job->out->recording || job->dev == NULL ||
	    job->dev->handle == NULL)
		return (1);
	job_dev_begin(job, "stop write recording", out_rb_recording_stopped,
	    &done, &arg);
	if (backend_dev_ops(job->dev)->dirty_stop(job->dev->handle, done,
	    arg) != 0) {
		job->dev_busy = 0;
		return (1);
	}
	return (0);
}

static int
out_rb_finish(struct job *job)
{
	if (job->dev != NULL) {
		backend_dev_release(job->dev, job->id);
		job->dev = NULL;
	}
	job_finish(job, job->cancel_req ? JOB_CANCELLED : JOB_FAILED);
	return (1);
}

/* ------------------------------------------------------------ stream */

static void
out_connected(void *arg)
{
	struct job	*job = arg;

	if (job->out->waiting != OUT_WAIT_CONNECT || job->failing)
		return;
	job_timer_stop(job);
	out_send_hello(job);
}

static void
out_protocol_error(struct job *job, const char *fmt, const char *what)
{
	Vmig__Stream__V1__Frame	f = VMIG__STREAM__V1__FRAME__INIT;
	Vmig__Stream__V1__Abort	a = VMIG__STREAM__V1__ABORT__INIT;
	char			buf[256];

	snprintf(buf, sizeof(buf), fmt, what);
	a.code = VMIG__STREAM__V1__ABORT__CODE__CODE_PROTOCOL;
	a.reason = buf;
	f.kind_case = VMIG__STREAM__V1__FRAME__KIND_ABORT;
	f.abort = &a;
	(void)stream_send(job->stream, &f, NULL, 0);
	job->out->peer_aborted = 1;	/* told it already */
	job_fail(job, "destination broke the protocol: %s", buf);
}

static void
out_frame(void *arg, const struct frame *fr)
{
	struct job		*job = arg;
	struct job_out		*o = job->out;
	const StreamFrame	*f = fr->hdr;
	int			 rc;

	if (job_phase_terminal(job->phase) || job->failing)
		return;
	if (fr->payload_len != 0) {
		out_protocol_error(job, "a %s frame with a payload",
		    frame_kind_name(f->kind_case));
		return;
	}
	switch (f->kind_case) {
	case VMIG__STREAM__V1__FRAME__KIND_HELLO_ACK:
		if (o->waiting != OUT_WAIT_HELLO_ACK) {
			out_protocol_error(job, "an unexpected %s frame",
			    "hello_ack");
			return;
		}
		if (f->hello_ack->protocol_version != OUT_STREAM_PROTOCOL) {
			job_fail(job, "destination speaks stream protocol %"
			    PRIu32 ", this daemon %d",
			    f->hello_ack->protocol_version,
			    OUT_STREAM_PROTOCOL);
			return;
		}
		/* the destination's offer, within this host's budget */
		stream_set_window(job->stream, MIN(f->hello_ack->window_bytes !=
		    0 ? f->hello_ack->window_bytes : JOB_WINDOW_BYTES,
		    job->eng->window != 0 ? job->eng->window :
		    JOB_WINDOW_BYTES));
		o->waiting = 0;
		job_step_done(job, 0, NULL);
		break;
	case VMIG__STREAM__V1__FRAME__KIND_ACK:
		if ((rc = stream_acked(job->stream, f->ack->bytes)) != 0) {
			out_protocol_error(job, "%s", "an ack for bytes never "
			    "sent");
			return;
		}
		if (o->pumping && o->pump_wait_acks &&
		    stream_unacked(job->stream) == 0) {
			o->pump_wait_acks = 0;
			event_active(o->ev_pump, 0, 0);
		}
		break;
	case VMIG__STREAM__V1__FRAME__KIND_DONE:
		if (o->waiting != OUT_WAIT_DONE) {
			out_protocol_error(job, "an unexpected %s frame",
			    "done");
			return;
		}
		o->waiting = 0;
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
		out_protocol_error(job, "an unexpected %s frame",
		    frame_kind_name(f->kind_case));
		break;
	}
}

static void
out_writable(void *arg)
{
	struct job	*job = arg;

	if (job->out->pumping)
		event_active(job->out->ev_pump, 0, 0);	/* at its priority */
	else if (job->out->state_sending)
		out_state_pump(job);
}

static void
out_closed(void *arg, int err, const char *reason)
{
	job_peer_closed(arg, "destination", err, reason);
}

static const struct stream_ops out_stream_ops = {
	.connected = out_connected,
	.frame = out_frame,
	.writable = out_writable,
	.closed = out_closed,
};
