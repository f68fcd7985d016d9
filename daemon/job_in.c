/*
 * job_in.c: the destination side of a migration.
 *
 * PrepareIncoming claims the VF, maps the VM's destination memory
 * read-write, stops the VF, drops any stale state in it, listens for the
 * source on a fresh port and answers with the stream URL and a one-time
 * token (the call's reply waits for the device). The job then WAITs for
 * the source's Hello, which must carry the token, the same device type and
 * interface and the same memory layout; admission may hold it QUEUED.
 *
 * Every frame is checked against what was prepared (frame.c) before
 * anything is written: a page outside the regions, a state chunk out of
 * order or over the limit, a frame the phase does not expect, is a
 * protocol error that aborts the job without touching memory or device.
 * On Switchover the destination compares the digests (with verify), writes
 * the state into the VF, resumes it and answers Done.
 *
 * Rollback: tell the source (Abort), discard any state written to the VF,
 * stop it again if it had been resumed, release it; the VF is left
 * stopped, free for the next attempt.
 */
#include "config.h"

#include <sys/random.h>

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>
#include <xxhash.h>

#include "api.h"
#include "backend.h"
#include "conf.h"
#include "job.h"
#include "log.h"
#include "rpc.h"
#include "util.h"
#include "vmigd.h"

#define IN_STATE_MAX		(256u * 1024 * 1024)
#define IN_STREAM_PROTOCOL	1
#define IN_LINGER_MS		2000	/* after Done, for the source to close */

struct job_in {
	uint8_t			 token[JOB_TOKEN_LEN];
	char			 url[256];
	struct frame_region	 regions[JOB_MEM_REGIONS_MAX];
	struct frame_layout	 layout;
	struct frame_state_pos	 spos;
	uint8_t			*state;
	size_t			 state_cap;
	size_t			 state_len;
	int			 state_final;	/* image is a stop-copy one */
	uint64_t		 applied;	/* payload bytes applied */
	uint64_t		 last_seq;
	uint64_t		 source_job;
	char			 source_device[64];
	int			 hello_ok;
	int			 peer_aborted;
	int			 state_written;	/* the VF holds partial state */
	int			 activated;	/* we set the VF ACTIVE */
	int			 mode_changed;	/* we stopped it at prepare */
	int			 lingering;
	int			 ack_pending;	/* refused: resend on writable */
	uint64_t		 ack_seq;
	size_t			 write_off;
	uint64_t		 load_start_us;
	uint64_t		 src_memory_digest;
	uint64_t		 src_state_digest;
	int			 src_verify;
	uint64_t		 memory_digest;
	uint64_t		 state_digest;
	int			 verified;
	uint64_t		 src_stop_unix_us;
};

static const struct stream_ops in_stream_ops;

static int	in_check_mode(struct job *);
static int	in_stop_device(struct job *);
static int	in_discard_state(struct job *);
static int	in_listen(struct job *);
static int	in_reply_prepared(struct job *);
static int	in_verify(struct job *);
static int	in_write_state(struct job *);
static int	in_resume_device(struct job *);
static int	in_send_done(struct job *);
static int	in_linger(struct job *);
static int	in_complete(struct job *);
static int	in_rb_abort(struct job *);
static int	in_rb_discard(struct job *);
static int	in_rb_stop(struct job *);
static int	in_rb_finish(struct job *);

static const struct job_step in_prepare_steps[] = {
	{ "open device", job_step_open_device },
	{ "check device mode", in_check_mode },
	{ "stop device", in_stop_device },
	{ "discard stale device state", in_discard_state },
	{ "listen for the source", in_listen },
	{ "answer PrepareIncoming", in_reply_prepared },
};

static const struct job_step in_resume_steps[] = {
	{ "verify digests", in_verify },
	{ "write device state", in_write_state },
	{ "resume device", in_resume_device },
	{ "send done", in_send_done },
	{ "wait for the source to close", in_linger },
	{ "complete", in_complete },
};

static const struct job_step in_rollback_steps[] = {
	{ "wait for the device command in flight", job_step_wait_device },
	{ "tell the source", in_rb_abort },
	{ "discard partial device state", in_rb_discard },
	{ "stop device", in_rb_stop },
	{ "finish", in_rb_finish },
};

#define NSTEPS(a)	(sizeof(a) / sizeof((a)[0]))

/* ------------------------------------------------------------ create */

int
job_in_create(struct engine *eng, const char *device,
    const struct mem_region_spec *specs, size_t nregions,
    const struct job_policy *pol, const char *vm, struct job **jp,
    int *code, char *err, size_t errlen)
{
	struct device	*dev;
	struct job	*job;
	char		 owner[64], why[384];
	uint32_t	 i;
	int		 rc;

	*code = VMIG__V1__STATUS_CODE__STATUS_INVALID_ARGUMENT;
	if (nregions == 0) {
		snprintf(err, errlen, "device %s: no memory regions: the "
		    "destination needs the VM's memory to write pages into",
		    device);
		return (-EINVAL);
	}
	for (i = 1; i < nregions; i++) {
		if (specs[i].page_size != specs[0].page_size) {
			snprintf(err, errlen, "device %s: region %" PRIu32 " has "
			    "page size %" PRIu32 " but region 0 has %" PRIu32,
			    device, i, specs[i].page_size, specs[0].page_size);
			return (-EINVAL);
		}
	}
	if ((rc = backend_dev_lookup(eng->d->backends, device, &dev, err,
	    errlen)) != 0) {
		*code = api_errno_status(rc);
		return (rc);
	}
	job = job_new(eng, JOB_INCOMING, device);
	snprintf(owner, sizeof(owner), "job %" PRIu64 " (incoming)", job->id);
	if ((rc = backend_dev_claim(dev, job->id, owner, err, errlen)) != 0) {
		*code = VMIG__V1__STATUS_CODE__STATUS_FAILED_PRECONDITION;
		job_discard(job);
		return (rc);
	}
	job->dev = dev;
	if ((rc = mem_map_open(&job->mem, specs, nregions,
	    MEM_MAP_WRITE | MEM_MAP_POPULATE, why, sizeof(why))) != 0) {
		snprintf(err, errlen, "device %s: %s", device, why);
		*code = api_errno_status(rc);
		job_discard(job);
		return (rc);
	}
	job->mem_open = 1;
	job->pol = *pol;
	job->vm = xstrdup(vm != NULL ? vm : "");
	job->in = xcalloc(1, sizeof(*job->in));
	xfer_layout(&job->mem, IN_STATE_MAX, job->in->regions,
	    &job->in->layout);
	*jp = job;
	*code = VMIG__V1__STATUS_CODE__STATUS_OK;
	return (0);
}

void
job_in_free(struct job *job)
{
	if (job->in == NULL)
		return;
	free(job->in->state);
	free(job->in);
	job->in = NULL;
}

const uint8_t *
job_in_token(const struct job *job)
{
	return (job->in->token);
}

const char *
job_in_url(const struct job *job)
{
	return (job->in->url);
}

void
job_in_prepare(struct job *job)
{
	job_run_steps(job, in_prepare_steps, NSTEPS(in_prepare_steps));
}

/* ------------------------------------------------------------ prepare */



static void
in_check_mode_done(struct job *job, const struct vmig_result *res)
{
	if (res->err == 0 && res->u.mode == VMIG_MODE_ERROR) {
		job_step_done(job, -EIO, "device %s is in an error state "
		    "(it needs a reset)", job->device_name);
		return;
	}
	/* an active VF is stopped by the next step */
	job->in->mode_changed = res->err == 0 &&
	    res->u.mode == VMIG_MODE_ACTIVE;
	job_dev_step_done(job, res);
}

static int
in_check_mode(struct job *job)
{
	void	(*done)(void *, const struct vmig_result *);
	void	*arg;

	job_dev_begin(job, "get mode", in_check_mode_done, &done, &arg);
	job_dev_submitted(job, backend_dev_ops(job->dev)->get_mode(
	    job->dev->handle, VMIG_LANE_CRITICAL, done, arg));
	return (0);
}

static int
in_stop_device(struct job *job)
{
	void	(*done)(void *, const struct vmig_result *);
	void	*arg;

	if (!job->in->mode_changed)
		return (1);
	job_dev_begin(job, "set mode stopped", job_dev_step_done, &done, &arg);
	job_dev_submitted(job, backend_dev_ops(job->dev)->set_mode(
	    job->dev->handle, VMIG_MODE_STOPPED, VMIG_LANE_CRITICAL, done,
	    arg));
	return (0);
}

static int
in_discard_state(struct job *job)
{
	void	(*done)(void *, const struct vmig_result *);
	void	*arg;

	if ((job->dev->info.caps.flags & VMIG_CAP_STATE_DISCARD) == 0)
		return (1);
	job_dev_begin(job, "discard state", job_dev_step_done, &done, &arg);
	job_dev_submitted(job, backend_dev_ops(job->dev)->state_discard(
	    job->dev->handle, VMIG_LANE_CRITICAL, done, arg));
	return (0);
}

static int
in_listen(struct job *job)
{
	struct job_in		*in = job->in;
	struct stream_opts	 so;
	const char		*bind = job->eng->d->conf->stream_bind;
	char			 err[256];
	int			 rc;

	if (getrandom(in->token, sizeof(in->token), 0) !=
	    (ssize_t)sizeof(in->token)) {
		job_step_done(job, -errno, "no randomness for the token: %s",
		    strerror(errno));
		return (0);
	}
	stream_opts_default(&so);
	so.recv_burst = 4;	/* frames per turn: other jobs get the loop too */
	rc = stream_listen(job->eng->d->base, bind, &so, &in_stream_ops, job,
	    &job->stream, in->url, sizeof(in->url), err, sizeof(err));
	if (rc != 0) {
		job_step_done(job, rc, "listening on %s: %s", bind, err);
		return (0);
	}
	/* bulk pages are background work: steps and devices come first */
	stream_set_priority(job->stream, VMIG_PRIO_BULK);
	job->peer = xstrdup(in->url);
	return (1);
}

static int
in_reply_prepared(struct job *job)
{
	struct job_in				*in = job->in;
	struct rpc_call				*call = job->call;
	Vmig__V1__PrepareIncomingResponse	*r;

	job_set_phase(job, JOB_WAITING, NULL);
	if (call != NULL) {
		job->call = NULL;
		call->abandon = NULL;
		r = call->result;
		r->job_id = job->id;
		r->token.data = xmalloc(sizeof(in->token));
		memcpy(r->token.data, in->token, sizeof(in->token));
		r->token.len = sizeof(in->token);
		r->stream_url = xstrdup(in->url);
		rpc_call_reply(call);
	}
	job->timer_fail = "no source connected in time";
	job_timer(job, JOB_WAIT_TIMEOUT_MS);
	return (0);	/* the Hello moves the job on */
}

/* ------------------------------------------------------------ admission */

static void
in_send_frame(struct job *job, StreamFrame *f)
{
	int	rc;

	if ((rc = stream_send(job->stream, f, NULL, 0)) != 0)
		log_warnx("job %" PRIu64 ": sending %s: %s", job->id,
		    frame_kind_name(f->kind_case), strerror(-rc));
}

void
job_in_start(struct job *job)
{
	Vmig__Stream__V1__Frame		f = VMIG__STREAM__V1__FRAME__INIT;
	Vmig__Stream__V1__HelloAck	a = VMIG__STREAM__V1__HELLO_ACK__INIT;

	job_set_phase(job, JOB_SETUP, NULL);
	if (job->pol.completion_timeout_s != 0) {
		struct timeval tv = { job->pol.completion_timeout_s, 0 };

		evtimer_add(job->ev_deadline, &tv);
	}
	a.protocol_version = IN_STREAM_PROTOCOL;
	a.dest_job_id = job->id;
	a.window_bytes = JOB_WINDOW_BYTES;
	f.kind_case = VMIG__STREAM__V1__FRAME__KIND_HELLO_ACK;
	f.hello_ack = &a;
	in_send_frame(job, &f);
	job_set_phase(job, JOB_PRECOPY, NULL);
}

/* ------------------------------------------------------------ frames */

static void
in_protocol_error(struct job *job, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Tell the source why, then roll back: nothing of the frame is applied. */
static void
in_protocol_error(struct job *job, int code, const char *fmt, ...)
{
	Vmig__Stream__V1__Frame	f = VMIG__STREAM__V1__FRAME__INIT;
	Vmig__Stream__V1__Abort	a = VMIG__STREAM__V1__ABORT__INIT;
	char			buf[384];
	va_list			ap;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	a.code = (Vmig__Stream__V1__Abort__Code)code;
	a.reason = buf;
	f.kind_case = VMIG__STREAM__V1__FRAME__KIND_ABORT;
	f.abort = &a;
	in_send_frame(job, &f);
	job->in->peer_aborted = 1;	/* told it already */
	job_fail(job, "%s", buf);
}

#define P_PROTO	VMIG__STREAM__V1__ABORT__CODE__CODE_PROTOCOL
#define P_AUTH	VMIG__STREAM__V1__ABORT__CODE__CODE_AUTH

static int
in_token_equal(const uint8_t *a, const uint8_t *b, size_t len)
{
	uint8_t	diff = 0;
	size_t	i;

	/* constant time: the token is a secret */
	for (i = 0; i < len; i++)
		diff |= a[i] ^ b[i];
	return (diff == 0);
}

static void
in_hello(struct job *job, const Vmig__Stream__V1__Hello *h)
{
	struct job_in	*in = job->in;
	uint32_t	 i;

	if (h->protocol_version != IN_STREAM_PROTOCOL) {
		in_protocol_error(job, P_PROTO, "stream protocol %" PRIu32
		    " is not spoken here (this daemon: %d)",
		    h->protocol_version, IN_STREAM_PROTOCOL);
		return;
	}
	if (h->token.len != sizeof(in->token) ||
	    !in_token_equal(h->token.data, in->token, sizeof(in->token))) {
		in_protocol_error(job, P_AUTH, "wrong token for job %" PRIu64
		    " (device %s)", job->id, job->device_name);
		return;
	}
	if (h->device_type == NULL || strcmp(h->device_type,
	    job->dev->info.type) != 0) {
		in_protocol_error(job, P_PROTO, "source device is %s, "
		    "destination %s is %s", h->device_type != NULL ?
		    h->device_type : "?", job->device_name,
		    job->dev->info.type);
		return;
	}
	if (h->interface == NULL || strcmp(h->interface,
	    job->dev->info.caps.interface) != 0) {
		in_protocol_error(job, P_PROTO, "source interface %s differs "
		    "from destination %s's %s", h->interface != NULL ?
		    h->interface : "?", job->device_name,
		    job->dev->info.caps.interface);
		return;
	}
	if (h->n_regions != job->mem.nregions) {
		in_protocol_error(job, P_PROTO, "source has %zu memory "
		    "regions, the destination prepared %" PRIu32,
		    h->n_regions, job->mem.nregions);
		return;
	}
	for (i = 0; i < job->mem.nregions; i++) {
		const struct mem_region	*r = &job->mem.regions[i];

		if (h->regions[i]->index != i ||
		    h->regions[i]->iova != r->iova ||
		    h->regions[i]->length != r->length) {
			in_protocol_error(job, P_PROTO, "source region %"
			    PRIu32 " is iova 0x%" PRIx64 " length %" PRIu64
			    ", the destination prepared iova 0x%" PRIx64
			    " length %" PRIu64, i, h->regions[i]->iova,
			    h->regions[i]->length, r->iova, r->length);
			return;
		}
	}
	if (h->page_size != job->mem.regions[0].page_size) {
		in_protocol_error(job, P_PROTO, "source page size %" PRIu32
		    ", destination %" PRIu32, h->page_size,
		    job->mem.regions[0].page_size);
		return;
	}
	in->hello_ok = 1;
	in->source_job = h->source_job_id;
	strlcpy_v(in->source_device, h->source_device != NULL ?
	    h->source_device : "", sizeof(in->source_device));
	in->src_verify = h->verify;
	job_timer_stop(job);
	log_info("job %" PRIu64 ": source job %" PRIu64 " (%s) connected",
	    job->id, in->source_job, in->source_device);
	/* admission decides when the transfer may begin (HelloAck) */
	job_set_phase(job, JOB_QUEUED, NULL);
}

/*
 * Acks are cumulative: when the stream refuses one (the source is not
 * reading), only the newest matters; writable() sends it.
 */
static void
in_ack(struct job *job, uint64_t seq)
{
	struct job_in		*in = job->in;
	Vmig__Stream__V1__Frame	 f = VMIG__STREAM__V1__FRAME__INIT;
	Vmig__Stream__V1__Ack	 a = VMIG__STREAM__V1__ACK__INIT;
	int			 rc;

	a.seq = seq;
	a.bytes = in->applied;
	f.kind_case = VMIG__STREAM__V1__FRAME__KIND_ACK;
	f.ack = &a;
	rc = stream_send(job->stream, &f, NULL, 0);
	in->ack_pending = rc == -EAGAIN;
	in->ack_seq = seq;
	if (rc != 0 && rc != -EAGAIN)
		log_warnx("job %" PRIu64 ": sending ack: %s", job->id,
		    strerror(-rc));
}

static void
in_writable(void *arg)
{
	struct job	*job = arg;

	if (job->in->ack_pending && !job_phase_terminal(job->phase))
		in_ack(job, job->in->ack_seq);
}



static void
in_pages(struct job *job, const struct frame *fr)
{
	struct job_in	*in = job->in;
	uint64_t	 pages;
	int		 rc;

	/* in_frame() ran frame_check(): the batch lies inside the regions */
	if ((rc = xfer_apply_map(&job->mem, fr->hdr->pages, fr->payload,
	    fr->payload_len, &pages)) != 0) {
		in_protocol_error(job, P_PROTO, "page batch %" PRIu64
		    " could not be applied: %s", fr->hdr->pages->seq,
		    strerror(-rc));
		return;
	}
	in->applied += fr->payload_len;
	job->st.memory_processed += fr->payload_len;
	job->st.bytes_sent = stream_stats(job->stream)->bytes_in;
	if (fr->hdr->pages->iteration > job->st.memory_iteration)
		job->st.memory_iteration = fr->hdr->pages->iteration;
	in_ack(job, fr->hdr->pages->seq);
}

static void
in_state(struct job *job, const struct frame *fr)
{
	struct job_in			*in = job->in;
	const StreamStateChunk		*c = fr->hdr->state;
	size_t				 need;

	/* in_frame() ran frame_check(): in order, within state_max */
	if (!c->precopy && job->phase != JOB_STOPCOPY) {
		in_protocol_error(job, P_PROTO, "final device state before "
		    "stop-copy began");
		return;
	}
	if (!in->spos.started || c->generation != in->spos.generation) {
		in->state_len = 0;	/* a newer image supersedes */
		in->state_final = !c->precopy;
	}
	need = (size_t)c->offset + fr->payload_len;
	if (need > in->state_cap) {
		size_t cap = in->state_cap == 0 ? JOB_STATE_CHUNK :
		    in->state_cap;

		while (cap < need)
			cap *= 2;
		in->state = xrealloc(in->state, cap);
		in->state_cap = cap;
	}
	if (fr->payload_len != 0)
		memcpy(in->state + c->offset, fr->payload, fr->payload_len);
	in->state_len = need;
	frame_state_accept(&in->spos, c, fr->payload_len);
	in->applied += fr->payload_len;
	job->st.device_state_bytes = c->total;
	in_ack(job, c->seq);
}

static void
in_switchover(struct job *job, const Vmig__Stream__V1__Switchover *s)
{
	struct job_in	*in = job->in;

	if (!in->spos.complete || !in->state_final) {
		in_protocol_error(job, P_PROTO, "switchover before the final "
		    "device state was complete");
		return;
	}
	in->src_memory_digest = s->memory_digest;
	in->src_state_digest = s->state_digest;
	in->src_verify = s->verify;
	in->src_stop_unix_us = s->source_stop_unix_us;
	job_set_phase(job, JOB_RESUMING, NULL);
	job_run_steps(job, in_resume_steps, NSTEPS(in_resume_steps));
}

#define K(x)	VMIG__STREAM__V1__FRAME__KIND_##x

static void
in_frame(void *arg, const struct frame *fr)
{
	struct job		*job = arg;
	struct job_in		*in = job->in;
	const StreamFrame	*f = fr->hdr;
	uint32_t		 allowed;
	char			 where[64], err[256];

	if (job_phase_terminal(job->phase) || job->failing)
		return;
	/* which frames each phase takes; anything else is a protocol error */
	switch (job->phase) {
	case JOB_WAITING:
		allowed = FRAME_KIND_BIT(K(HELLO));
		break;
	case JOB_PRECOPY:
		allowed = FRAME_KIND_BIT(K(PAGES)) | FRAME_KIND_BIT(K(STATE)) |
		    FRAME_KIND_BIT(K(STOPCOPY)) | FRAME_KIND_BIT(K(ABORT));
		break;
	case JOB_STOPCOPY:
		allowed = FRAME_KIND_BIT(K(PAGES)) | FRAME_KIND_BIT(K(STATE)) |
		    FRAME_KIND_BIT(K(SWITCHOVER)) | FRAME_KIND_BIT(K(ABORT));
		break;
	case JOB_QUEUED:
	case JOB_SETUP:
	case JOB_RESUMING:
		allowed = FRAME_KIND_BIT(K(ABORT));
		break;
	default:
		allowed = 0;
		break;
	}
	snprintf(where, sizeof(where), "in %s", job_phase_name(job->phase));
	if (frame_expect(fr, allowed, where, err, sizeof(err)) != 0) {
		in_protocol_error(job, job->phase == JOB_WAITING ? P_AUTH :
		    P_PROTO, "%s", err);
		return;
	}
	if (frame_check(&in->layout, &in->spos, fr, err, sizeof(err)) != 0) {
		in_protocol_error(job, P_PROTO, "%s", err);
		return;
	}
	switch (f->kind_case) {
	case K(HELLO):
		in_hello(job, f->hello);
		break;
	case K(PAGES):
		in_pages(job, fr);
		break;
	case K(STATE):
		in_state(job, fr);
		break;
	case K(STOPCOPY):
		/* the guest waits from now on: serve this stream first */
		stream_set_priority(job->stream, VMIG_PRIO_CRITICAL);
		job_set_phase(job, JOB_STOPCOPY, NULL);
		break;
	case K(SWITCHOVER):
		in_switchover(job, f->switchover);
		break;
	case K(ABORT):
		in->peer_aborted = 1;
		if (f->abort->code ==
		    VMIG__STREAM__V1__ABORT__CODE__CODE_CANCELLED)
			job->cancel_req = 1;
		job_fail(job, "source aborted: %s", f->abort->reason != NULL &&
		    *f->abort->reason != '\0' ? f->abort->reason :
		    "no reason given");
		break;
	default:
		break;
	}
}

static void
in_closed(void *arg, int err, const char *reason)
{
	struct job	*job = arg;

	if (job_phase_terminal(job->phase) || job->failing)
		return;
	if (job->in->lingering) {
		job_step_done(job, 0, NULL);
		return;
	}
	job_peer_closed(job, "source", err, reason);
}

static const struct stream_ops in_stream_ops = {
	.frame = in_frame,
	.writable = in_writable,
	.closed = in_closed,
};

/* ------------------------------------------------------------ resume */

static void
in_memory_digested(struct job *job, int rc, uint64_t digest)
{
	struct job_in	*in = job->in;

	if (rc != 0) {
		job_step_done(job, rc, "digest of the memory regions: %s",
		    strerror(-rc));
		return;
	}
	in->memory_digest = digest;
	if (in->memory_digest != in->src_memory_digest) {
		in_protocol_error(job, VMIG__STREAM__V1__ABORT__CODE__CODE_VERIFY,
		    "memory digest mismatch: source %016" PRIx64 ", destination "
		    "%016" PRIx64 ": refusing to resume", in->src_memory_digest,
		    in->memory_digest);
		return;
	}
	if (in->state_digest != in->src_state_digest) {
		in_protocol_error(job, VMIG__STREAM__V1__ABORT__CODE__CODE_VERIFY,
		    "device state digest mismatch: source %016" PRIx64
		    ", destination %016" PRIx64 ": refusing to resume",
		    in->src_state_digest, in->state_digest);
		return;
	}
	in->verified = 1;
	job->verified = 1;
	job_step_done(job, 0, NULL);
}

/* The memory digest is made off the loop (job_digest_begin). */
static int
in_verify(struct job *job)
{
	struct job_in	*in = job->in;

	in->load_start_us = now_us();
	in->state_digest = XXH3_64bits(in->state, in->state_len);
	if (!in->src_verify && !job->pol.verify)
		return (1);
	job_digest_begin(job, in_memory_digested);
	return (0);
}

static void	in_write_next(struct job *);

static void
in_write_done(struct job *job, const struct vmig_result *res)
{
	char	buf[256];

	if (res->err != 0) {
		job_step_done(job, res->err, "device %s: writing its state: %s",
		    job->device_name, job_dev_strerror(res, buf, sizeof(buf)));
		return;
	}
	in_write_next(job);
}

static void
in_write_next(struct job *job)
{
	struct job_in	*in = job->in;
	void		(*done)(void *, const struct vmig_result *);
	void		*arg;
	size_t		 n, off = in->write_off;

	if (off >= in->state_len) {
		job_step_done(job, 0, NULL);
		return;
	}
	n = MIN(in->state_len - off, (size_t)JOB_STATE_CHUNK);
	in->write_off += n;
	in->state_written = 1;
	job_dev_begin(job, "write state", in_write_done, &done, &arg);
	job_dev_submitted(job, backend_dev_ops(job->dev)->state_write(
	    job->dev->handle, in->state + off, n, VMIG_LANE_CRITICAL, done,
	    arg));
}

static int
in_write_state(struct job *job)
{
	job->in->write_off = 0;
	if (job->in->state_len == 0)
		return (1);	/* a device without state */
	in_write_next(job);
	return (0);
}

static int
in_resume_device(struct job *job)
{
	void	(*done)(void *, const struct vmig_result *);
	void	*arg;

	job->in->activated = 1;
	job_dev_begin(job, "set mode active", job_dev_step_done, &done, &arg);
	job_dev_submitted(job, backend_dev_ops(job->dev)->set_mode(
	    job->dev->handle, VMIG_MODE_ACTIVE, VMIG_LANE_CRITICAL, done,
	    arg));
	return (0);
}

static int
in_send_done(struct job *job)
{
	struct job_in		*in = job->in;
	Vmig__Stream__V1__Frame	 f = VMIG__STREAM__V1__FRAME__INIT;
	Vmig__Stream__V1__Done	 d = VMIG__STREAM__V1__DONE__INIT;
	uint64_t		 load_us = now_us() - in->load_start_us;
	int			 rc;

	job->st.device_load_time_ms = load_us / 1000;
	if (in->src_stop_unix_us != 0 && unix_us() > in->src_stop_unix_us)
		job->st.downtime_ms = (unix_us() - in->src_stop_unix_us) /
		    1000;
	d.load_time_us = load_us;
	d.verified = in->verified;
	d.memory_digest = in->memory_digest;
	d.state_digest = in->state_digest;
	f.kind_case = VMIG__STREAM__V1__FRAME__KIND_DONE;
	f.done = &d;
	if ((rc = stream_send(job->stream, &f, NULL, 0)) != 0) {
		job_step_done(job, rc, "sending done to the source: %s",
		    strerror(-rc));
		return (0);
	}
	return (1);
}

/* Keep the link until the source has read Done and closes its side. */
static int
in_linger(struct job *job)
{
	if (job->stream == NULL || stream_is_closed(job->stream))
		return (1);
	job->in->lingering = 1;
	job_timer(job, IN_LINGER_MS);
	return (0);
}

static int
in_complete(struct job *job)
{
	log_info("job %" PRIu64 ": %s resumed from source job %" PRIu64
	    " (%s): state %zu bytes loaded in %" PRIu64 " ms%s", job->id,
	    job->device_name, job->in->source_job, job->in->source_device,
	    job->in->state_len, job->st.device_load_time_ms,
	    job->verified ? ", verified" : "");
	/* the VF belongs to the migrated VM now */
	backend_dev_release(job->dev, job->id);
	job->dev = NULL;
	job_finish(job, JOB_COMPLETED);
	return (1);
}

/* ------------------------------------------------------------ rollback */

void
job_in_rollback(struct job *job)
{
	if (job->in != NULL)
		job->in->lingering = 0;
	job_run_steps(job, in_rollback_steps, NSTEPS(in_rollback_steps));
}

static int
in_rb_abort(struct job *job)
{
	Vmig__Stream__V1__Frame	f = VMIG__STREAM__V1__FRAME__INIT;
	Vmig__Stream__V1__Abort	a = VMIG__STREAM__V1__ABORT__INIT;

	if (job->stream == NULL || stream_is_closed(job->stream) ||
	    job->in == NULL || job->in->peer_aborted ||
	    !job->in->hello_ok)
		return (1);
	a.code = job->cancel_req ? VMIG__STREAM__V1__ABORT__CODE__CODE_CANCELLED
	    : VMIG__STREAM__V1__ABORT__CODE__CODE_DEVICE;
	a.reason = job->error;
	f.kind_case = VMIG__STREAM__V1__FRAME__KIND_ABORT;
	f.abort = &a;
	in_send_frame(job, &f);
	return (1);
}

static void
in_rb_dev_done(struct job *job, const struct vmig_result *res)
{
	if (res->err != 0)
		log_warnx("job %" PRIu64 ": device %s: %s after a failure: %s",
		    job->id, job->device_name, job->devop.what,
		    strerror(-res->err));
	job_step_done(job, 0, NULL);
}

static int
in_rb_discard(struct job *job)
{
	void	(*done)(void *, const struct vmig_result *);
	void	*arg;

	if (job->in == NULL || !job->in->state_written || job->dev == NULL ||
	    job->dev->handle == NULL ||
	    (job->dev->info.caps.flags & VMIG_CAP_STATE_DISCARD) == 0)
		return (1);
	job_dev_begin(job, "discard state", in_rb_dev_done, &done, &arg);
	if (backend_dev_ops(job->dev)->state_discard(job->dev->handle,
	    VMIG_LANE_CRITICAL, done, arg) != 0) {
		job->dev_busy = 0;
		return (1);
	}
	job->in->state_written = 0;
	return (0);
}

static int
in_rb_stop(struct job *job)
{
	void	(*done)(void *, const struct vmig_result *);
	void	*arg;

	/* resumed but the source never heard: it resumes its own copy */
	if (job->in == NULL || !job->in->activated || job->dev == NULL ||
	    job->dev->handle == NULL)
		return (1);
	job->in->activated = 0;
	job_dev_begin(job, "set mode stopped", in_rb_dev_done, &done, &arg);
	if (backend_dev_ops(job->dev)->set_mode(job->dev->handle,
	    VMIG_MODE_STOPPED, VMIG_LANE_CRITICAL, done, arg) != 0) {
		job->dev_busy = 0;
		return (1);
	}
	return (0);
}

static int
in_rb_finish(struct job *job)
{
	struct rpc_call	*call = job->call;

	if (call != NULL) {
		/* PrepareIncoming failed before it could answer */
		job->call = NULL;
		call->abandon = NULL;
		rpc_call_error(call, job->cancel_req ?
		    VMIG__V1__STATUS_CODE__STATUS_ABORTED :
		    VMIG__V1__STATUS_CODE__STATUS_DEVICE_ERROR,
		    "device %s: %s", job->device_name, job->error);
		rpc_call_reply(call);
	}
	if (job->dev != NULL) {
		backend_dev_release(job->dev, job->id);
		job->dev = NULL;
	}
	job_finish(job, job->cancel_req ? JOB_CANCELLED : JOB_FAILED);
	return (1);
}
