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

#include "backend.h"
#include "compress.h"
#include "delta.h"
#include "dseal.h"
#include "job.h"
#include "log.h"
#include "util.h"
#include "vmigd.h"

#define IN_STATE_MAX		(256u * 1024 * 1024)
#define IN_LINGER_MS		2000	/* after Done, for the source to close */
#define IN_DATA_FAIL_GRACE_MS	500	/* see in_data_failed() */

/*
 * One device's state as it arrives (dev[i] is job->devs[i]'s). A
 * snapshot is kept whole until the switchover writes it; a stream's
 * chunks are written to the device as they come (in_load), state holding
 * the ones not yet written, xs digesting the whole stream.
 */
struct in_dev {
	struct frame_state_pos	 spos;
	uint8_t			*state;
	size_t			 state_cap;
	size_t			 state_len;
	int			 state_final;	/* image is a stop-copy one */
	size_t			 write_off;
	uint64_t		 state_digest;
	uint64_t		 src_state_digest;
	char			 source_device[64];
	int			 stream;	/* VMIG_STATE_STREAM */
	uint64_t		 loaded;	/* stream bytes written */
	struct XXH3_state_s	*xs;
};

struct job_in {
	uint8_t			 token[JOB_TOKEN_LEN];
	char			 url[256];
	struct frame_region	 regions[JOB_MEM_REGIONS_MAX];
	struct frame_layout	 layout;
	struct in_dev		 dev[JOB_GROUP_MAX];
	uint64_t		 applied;	/* payload bytes applied */
	uint64_t		 data_applied;	/* of them, by the data link */
	char			 data_url[256];
	struct event		*ev_data_fail;	/* in_data_failed()'s grace */
	char			 data_fail[384];
	uint64_t		 last_seq;
	uint64_t		 source_job;
	int			 hello_ok;
	unsigned int		 refused;	/* peers refused while waiting */
	int			 peer_aborted;
	int			 lingering;
	int			 ack_pending;	/* refused: resend on writable */
	uint64_t		 ack_seq;
	uint64_t		 load_start_us;
	uint64_t		 src_memory_digest;
	int			 src_verify;
	uint64_t		 memory_digest;
	int			 verified;
	uint64_t		 src_stop_unix_us;
	int			 load_wait;	/* a step waits for in_load */
	uint8_t			*load_buf;	/* the write out (in_load) */
	size_t			 load_len;
};

static const struct stream_ops in_stream_ops;

#define B(p)		(1u << (p))
#define ENDS		(B(JOB_FAILED) | B(JOB_CANCELLED))
#define F(k)		FRAME_KIND_BIT(VMIG__STREAM__V1__FRAME__KIND_##k)

/*
 * The destination's phases: which may follow which, and the frames the
 * source may send in each (anything else is a protocol error; before the
 * Hello, a refused peer).
 */
static const struct job_phase_row in_phases[JOB_NPHASES] = {
	[JOB_NONE] = { B(JOB_WAITING) | ENDS, 0 },
	[JOB_WAITING] = { B(JOB_QUEUED) | ENDS, F(HELLO) },
	[JOB_QUEUED] = { B(JOB_SETUP) | ENDS, F(ABORT) },
	[JOB_SETUP] = { B(JOB_PRECOPY) | ENDS, F(ABORT) },
	[JOB_PRECOPY] = { B(JOB_STOPCOPY) | ENDS,
	    F(PAGES) | F(PAGE_DELTA) | F(STATE) | F(STOPCOPY) | F(ABORT) },
	[JOB_STOPCOPY] = { B(JOB_RESUMING) | ENDS,
	    F(PAGES) | F(PAGE_DELTA) | F(STATE) | F(SWITCHOVER) | F(ABORT) },
	[JOB_RESUMING] = { B(JOB_COMPLETED) | ENDS, F(ABORT) },
};

static int	in_check_mode(struct job *);
static int	in_stop_device(struct job *);
static int	in_discard_state(struct job *);
static int	in_listen(struct job *);
static int	in_reply_prepared(struct job *);
static int	in_verify(struct job *);
static int	in_load_finish(struct job *);
static int	in_write_state(struct job *);
static int	in_quiesce_devices(struct job *);
static int	in_resume_device(struct job *);
static int	in_send_done(struct job *);
static int	in_linger(struct job *);
static int	in_complete(struct job *);
static int	in_rb_abort(struct job *);
static int	in_rb_discard(struct job *);
static int	in_rb_stop(struct job *);
static int	in_rb_finish(struct job *);

/*
 * The crash journal's records (journal.h): before the devices are
 * stopped for restore (memory mapped, the token about to be issued), and
 * around the resume, which decides where the VM's device runs.
 */
static int
in_jr_prepared(struct job *job)
{
	return (job_journal(job, JE_CLAIMED | JE_MODE_SET | JE_PREPARED));
}

static int
in_jr_commit(struct job *job)
{
	return (job_journal(job, JE_COMMITTING));
}

static int
in_jr_switched(struct job *job)
{
	return (job_journal(job, JE_SWITCHED));
}

static const struct job_step in_prepare_steps[] = {
	{ "open devices", job_step_open_device },
	{ "check device modes", in_check_mode },
	{ "journal the preparation", in_jr_prepared },
	{ "stop devices", in_stop_device },
	{ "discard stale device states", in_discard_state },
	{ "listen for the source", in_listen },
	{ "answer PrepareIncoming", in_reply_prepared },
};

static const struct job_step in_resume_steps[] = {
	{ "verify digests", in_verify },
	{ "finish loading state streams", in_load_finish },
	{ "write device states", in_write_state },
	{ "quiesce devices", in_quiesce_devices },
	{ "journal the resume", in_jr_commit },
	{ "resume devices", in_resume_device },
	{ "journal the resumed devices", in_jr_switched },
	{ "send done", in_send_done },
	{ "wait for the source to close", in_linger },
	{ "complete", in_complete },
};

static const struct job_step in_rollback_steps[] = {
	{ "wait for the device command in flight", job_step_wait_device },
	{ "tell the source", in_rb_abort },
	{ "discard partial device states", in_rb_discard },
	{ "stop devices", in_rb_stop },
	{ "finish", in_rb_finish },
};

#define NSTEPS(a)	(sizeof(a) / sizeof((a)[0]))

/* ------------------------------------------------------------ create */

int
job_in_create(struct engine *eng, const struct job_request *req,
    const struct job_policy *pol, struct job **jp, char *err, size_t errlen)
{
	struct job	*job;
	struct in_dev	*id;
	unsigned int	 i;
	int		 rc;

	job = job_new(eng, &job_kind_incoming, req->device);
	if ((rc = job_claim(job, req, MEM_MAP_WRITE | MEM_MAP_POPULATE |
	    (eng->prefault ? MEM_MAP_PREFAULT : 0), err,
	    errlen)) != 0) {
		job_discard(job);
		return (rc);
	}
	job->pol = *pol;
	job->in = xcalloc(1, sizeof(*job->in));
	xfer_layout(&job->mem, IN_STATE_MAX, job->in->regions,
	    &job->in->layout);
	for (i = 0; i < job->ndevs; i++) {
		id = &job->in->dev[i];
		id->stream = job->devs[i].dev->info.caps.state_kind ==
		    VMIG_STATE_STREAM;
		if (id->stream) {
			id->xs = XXH3_createState();
			VMIG_ASSERT(id->xs != NULL);
			XXH3_64bits_reset(id->xs);
		}
	}
	*jp = job;
	return (0);
}

static void
in_free(struct job *job)
{
	unsigned int	i;

	if (job->in == NULL)
		return;
	for (i = 0; i < JOB_GROUP_MAX; i++) {
		free(job->in->dev[i].state);
		if (job->in->dev[i].xs != NULL)
			XXH3_freeState(job->in->dev[i].xs);
	}
	free(job->in->load_buf);
	if (job->in->ev_data_fail != NULL)
		event_free(job->in->ev_data_fail);
	free(job->in);
	job->in = NULL;
}

const uint8_t *
job_in_token(const struct job *job)
{
	return (job->in->token);
}

size_t
job_in_token_len(const struct job *job)
{
	return (sizeof(job->in->token));
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
		    "(it needs a reset)", job->dev->name);
		return;
	}
	/* an active (or quiesced) VF is stopped by the next step */
	JD(job)->mode_changed = res->err == 0 &&
	    (res->u.mode == VMIG_MODE_ACTIVE ||
	    res->u.mode == VMIG_MODE_QUIESCED);
	job_dev_step_done(job, res);
}

static int
in_check_one(struct job *job)
{
	return (JOB_DEV_CALL(job, "reading its mode", in_check_mode_done,
	    get_mode, VMIG_LANE_CRITICAL));
}

static int
in_check_mode(struct job *job)
{
	return (job_each_dev(job, in_check_one));
}

static int
in_stop_one(struct job *job)
{
	if (!JD(job)->mode_changed)
		return (1);
	return (JOB_DEV_CALL(job, "set mode stopped", job_dev_step_done,
	    set_mode, VMIG_MODE_STOPPED, VMIG_LANE_CRITICAL));
}

static int
in_stop_device(struct job *job)
{
	return (job_each_dev(job, in_stop_one));
}

static int
in_discard_one(struct job *job)
{
	if ((job->dev->info.caps.flags & VMIG_CAP_STATE_DISCARD) == 0)
		return (1);
	return (JOB_DEV_CALL(job, "discarding a stale state",
	    job_dev_step_done, state_discard, VMIG_LANE_CRITICAL));
}

static int
in_discard_state(struct job *job)
{
	return (job_each_dev(job, in_discard_one));
}

static int
in_listen(struct job *job)
{
	struct job_in		*in = job->in;
	struct stream_opts	 so;
	const char		*bind = job->eng->stream_bind;
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
	if ((rc = job_peer_tls(job, bind, 0, NULL, 0, err,
	    sizeof(err))) == 0) {
		so.tls = job->tls;
		rc = stream_listen(job->eng->base, bind, &so, &in_stream_ops,
		    job, &job->stream, in->url, sizeof(in->url), err,
		    sizeof(err));
	}
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
	job_set_phase(job, JOB_WAITING, NULL);
	job_call_done(job, 0);	/* PrepareIncoming answers: token, URL */
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

static const struct dlink_ops in_dlink_ops;

/*
 * Data connections for the source that showed the token (so nothing
 * listens before the Hello); without them pages come on the stream.
 */
static void
in_data_listen(struct job *job)
{
	struct job_in	*in = job->in;
	char		 err[256];
	int		 rc;

	if (job->eng->data_conns == 0)
		return;
	rc = dlink_listen(job->eng->base, job->eng->stream_bind, &job->mem,
	    &in->layout, in->token, sizeof(in->token), job->tls, job->seal,
	    &in_dlink_ops, job,
	    &job->dlink, in->data_url, sizeof(in->data_url), err,
	    sizeof(err));
	if (rc != 0) {
		log_info("job %" PRIu64 ": pages come on the stream: %s",
		    job->id, err);
		in->data_url[0] = '\0';
		return;
	}
	dlink_set_priority(job->dlink, VMIG_PRIO_BULK);
}

static void
in_start(struct job *job)
{
	Vmig__Stream__V1__Frame		f = VMIG__STREAM__V1__FRAME__INIT;
	Vmig__Stream__V1__HelloAck	a = VMIG__STREAM__V1__HELLO_ACK__INIT;

	job_set_phase(job, JOB_SETUP, NULL);
	job_arm_deadline(job);
	in_data_listen(job);
	a.protocol_version = STREAM_PROTOCOL_VERSION;
	a.dest_job_id = job->id;
	a.window_bytes = JOB_WINDOW_BYTES;
	if (job->dlink != NULL) {
		a.data_url = job->in->data_url;
		a.data_connections = job->eng->data_conns;
		a.data_codecs = CZ_CODECS;	/* compress.h */
		a.data_seal = job->seal != NULL ? DSEAL_VERSION : 0;
	}
	f.kind_case = VMIG__STREAM__V1__FRAME__KIND_HELLO_ACK;
	f.hello_ack = &a;
	in_send_frame(job, &f);
	job_set_phase(job, JOB_PRECOPY, NULL);
}

/* ------------------------------------------------------------ frames */

static void
in_protocol_error(struct job *job, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void
in_send_abort(struct job *job, int code, const char *reason)
{
	int	rc;

	if ((rc = job_send_abort(job, code, reason)) != 0)
		log_warnx("job %" PRIu64 ": telling the source why: %s",
		    job->id, strerror(-rc));
}

/* Tell the source why, then roll back: nothing of the frame is applied. */
static void
in_protocol_error(struct job *job, int code, const char *fmt, ...)
{
	char			buf[384];
	va_list			ap;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	in_send_abort(job, code, buf);
	job->in->peer_aborted = 1;	/* told it already */
	job_fail(job, "%s", buf);
}

#define P_PROTO	VMIG__STREAM__V1__ABORT__CODE__CODE_PROTOCOL
#define P_AUTH	VMIG__STREAM__V1__ABORT__CODE__CODE_AUTH

static void
in_refuse(struct job *job, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/*
 * A peer that has not shown the token cannot end the job (anyone who
 * reaches the port could cancel incoming migrations): it is told why,
 * logged and dropped, and the job waits for the right source, up to
 * JOB_REFUSALS_MAX refusals.
 */
static void
in_refuse(struct job *job, int code, const char *fmt, ...)
{
	char			buf[384];
	va_list			ap;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	in_send_abort(job, code, buf);
	stream_drop_peer(job->stream);
	job->in->refused++;
	log_warnx("job %" PRIu64 " (%s): refused a source (%u of %d): %s",
	    job->id, job->device_name, job->in->refused, JOB_REFUSALS_MAX,
	    buf);
	if (job->in->refused >= JOB_REFUSALS_MAX) {
		job->in->peer_aborted = 1;	/* told it already */
		job_fail(job, "%u connections refused, the last: %s",
		    job->in->refused, buf);
	}
}

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

/* The source's devices, in order, against the prepared ones. */
static int
in_hello_devices(struct job *job, const Vmig__Stream__V1__Hello *h)
{
	const Vmig__Stream__V1__DeviceLayout	*dl;
	const struct device			*dev;
	unsigned int				 i;
	char					 why[BACKEND_ERR_MAX];

	if (h->n_devices != job->ndevs) {
		in_protocol_error(job, P_PROTO, "source moves %zu devices, the "
		    "destination prepared %u", h->n_devices, job->ndevs);
		return (-1);
	}
	for (i = 0; i < job->ndevs; i++) {
		dl = h->devices[i];
		dev = job->devs[i].dev;
		if (dl->device_type == NULL || strcmp(dl->device_type,
		    dev->info.type) != 0) {
			in_protocol_error(job, P_PROTO, "source device %u is "
			    "%s, destination %s is %s", i, dl->device_type !=
			    NULL ? dl->device_type : "?", dev->name,
			    dev->info.type);
			return (-1);
		}
		/* Another interface of the same backend (a virtio dialect)
		 * may do: the backend says, naming what it cannot take. */
		if (backend_state_compat(dev, dl->interface, why,
		    sizeof(why)) < 0) {
			in_protocol_error(job, P_PROTO, "source device %u (%s) "
			    "cannot move into %s: %s", i, dl->interface !=
			    NULL ? dl->interface : "?", dev->name, why);
			return (-1);
		}
		if (dl->state_kind != dev->info.caps.state_kind) {
			in_protocol_error(job, P_PROTO, "source device %u's "
			    "state is a %s, destination %s's a %s", i,
			    dl->state_kind == VMIG_STATE_STREAM ? "stream" :
			    "snapshot", dev->name, job->in->dev[i].stream ?
			    "stream" : "snapshot");
			return (-1);
		}
		strlcpy_v(job->in->dev[i].source_device, dl->source_device !=
		    NULL ? dl->source_device : "",
		    sizeof(job->in->dev[i].source_device));
	}
	return (0);
}

static void
in_hello(struct job *job, const Vmig__Stream__V1__Hello *h)
{
	struct job_in	*in = job->in;
	uint32_t	 i;

	/* the token first: only the right source may end the job */
	if (h->token.len != sizeof(in->token) ||
	    !in_token_equal(h->token.data, in->token, sizeof(in->token))) {
		in_refuse(job, P_AUTH, "wrong token for job %" PRIu64
		    " (device %s)", job->id, job->device_name);
		return;
	}
	if (h->protocol_version != STREAM_PROTOCOL_VERSION) {
		in_protocol_error(job, P_PROTO, "stream protocol %" PRIu32
		    " is not spoken here (this daemon: %d)",
		    h->protocol_version, STREAM_PROTOCOL_VERSION);
		return;
	}
	if (in_hello_devices(job, h) != 0)
		return;
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
	in->src_verify = h->verify;
	job_timer_stop(job);
	log_info("job %" PRIu64 ": source job %" PRIu64 " (%s%s) connected",
	    job->id, in->source_job, in->dev[0].source_device,
	    job->ndevs > 1 ? " and its group" : "");
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
	a.bytes = in->applied - in->data_applied;
	a.data_bytes = in->data_applied;
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
	uint64_t	 pages, zero = 0;
	size_t		 i;
	int		 rc;

	/* compressed pages come only on data connections (datalink.c) */
	if (fr->hdr->pages->codec != 0 || fr->hdr->pages->wire_bytes != 0) {
		in_protocol_error(job, P_PROTO, "page batch %" PRIu64 " on the "
		    "stream says codec %" PRIu32 ": only data connections carry "
		    "compressed pages", fr->hdr->pages->seq,
		    fr->hdr->pages->codec);
		return;
	}
	/* in_frame() ran frame_check(): the batch lies inside the regions */
	if ((rc = xfer_apply_map(&job->mem, fr->hdr->pages, fr->payload,
	    fr->payload_len, &pages)) != 0) {
		in_protocol_error(job, P_PROTO, "page batch %" PRIu64
		    " could not be applied: %s", fr->hdr->pages->seq,
		    strerror(-rc));
		return;
	}
	for (i = 0; i < fr->hdr->pages->n_runs; i++) {
		if (fr->hdr->pages->runs[i]->zero)
			zero += fr->hdr->pages->runs[i]->count;
	}
	in->applied += fr->payload_len;
	job_account_pages(job, fr->payload_len, pages, zero);
	job->st.bytes_sent = job_wire_bytes(job);
	if (fr->hdr->pages->iteration > job->st.memory_iteration)
		job->st.memory_iteration = fr->hdr->pages->iteration;
	in_ack(job, fr->hdr->pages->seq);
}

/*
 * Byte ranges of pages (in_frame() ran frame_check(): every entry lies
 * inside one page of the region and the bytes are exactly theirs).
 */
static void
in_delta(struct job *job, const struct frame *fr)
{
	const StreamPageDelta	*pd = fr->hdr->page_delta;
	struct mem_region	*r = &job->mem.regions[pd->region];

	if (!r->writable) {
		in_protocol_error(job, P_PROTO, "page delta %" PRIu64 " could "
		    "not be applied: region %" PRIu32 " is read-only", pd->seq,
		    pd->region);
		return;
	}
	delta_apply(r->base, r->page_size, fr->payload, pd->entries);
	job->in->applied += fr->payload_len;
	job_account_pages(job, fr->payload_len, 0, 0);
	job->st.bytes_sent = job_wire_bytes(job);
	if (pd->iteration > job->st.memory_iteration)
		job->st.memory_iteration = pd->iteration;
	in_ack(job, pd->seq);
}

/* Batches the data connections landed (datalink.c checked them). */
static void
in_data_applied(void *arg, const struct dlink_applied *a)
{
	struct job	*job = arg;
	struct job_in	*in = job->in;

	if (job_phase_terminal(job->phase) || job->failing)
		return;
	in->applied += a->bytes;
	in->data_applied += a->bytes;
	job_account_pages(job, a->bytes, a->pages, a->zero_pages);
	job->st.bytes_sent = job_wire_bytes(job);
	dlink_compressed(job->dlink, &job->st.compress_bytes_in,
	    &job->st.compress_bytes_out);
	if (a->iteration > job->st.memory_iteration)
		job->st.memory_iteration = a->iteration;
	in_ack(job, in->last_seq);
}

static void
in_data_fail_cb(evutil_socket_t fd, short what, void *arg)
{
	struct job	*job = arg;

	if (job_phase_terminal(job->phase) || job->failing)
		return;
	in_protocol_error(job, P_PROTO, "%s", job->in->data_fail);
}

/*
 * A source that aborts (a cancel) closes its data connections as it
 * sends its Abort on the stream, maybe inside a batch: the failure
 * waits IN_DATA_FAIL_GRACE_MS for the Abort, which says why. Nothing
 * more lands meanwhile: the connection that failed reads no more.
 */
static void
in_data_failed(void *arg, int err, const char *reason)
{
	struct job	*job = arg;
	struct timeval	 tv = { 0, IN_DATA_FAIL_GRACE_MS * 1000 };

	if (job_phase_terminal(job->phase) || job->failing)
		return;
	strlcpy_v(job->in->data_fail, reason, sizeof(job->in->data_fail));
	log_debug("%s: job %" PRIu64 ": %s", __func__, job->id, reason);
	if (job->in->ev_data_fail == NULL)
		job->in->ev_data_fail = evtimer_new(job->eng->base,
		    in_data_fail_cb, job);
	evtimer_add(job->in->ev_data_fail, &tv);
}

static const struct dlink_ops in_dlink_ops = {
	.applied = in_data_applied,
	.failed = in_data_failed,
};

static void	in_load(struct job *);

/* A chunk of a device's state, checked by frame_check() already. */
static void
in_state(struct job *job, const struct frame *fr)
{
	struct job_in			*in = job->in;
	const StreamStateChunk		*c = fr->hdr->state;
	struct in_dev			*id = &in->dev[c->device];
	size_t				 need, at;
	unsigned int			 i;

	if (!c->precopy && job->phase != JOB_STOPCOPY) {
		in_protocol_error(job, P_PROTO, "final device state before "
		    "stop-copy began");
		return;
	}
	if (id->stream && (c->generation != 1 ||
	    (c->precopy && id->state_final))) {
		in_protocol_error(job, P_PROTO, "state chunk %" PRIu64 " of "
		    "device %s's stream: %s", c->seq, job->devs[c->device].name,
		    c->generation != 1 ? "a stream is generation 1" :
		    "a pre-copy chunk after a stop-copy one");
		return;
	}
	if (id->stream)
		id->state_final = !c->precopy;
	else if (!id->spos.started || c->generation != id->spos.generation) {
		id->state_len = 0;	/* a newer image supersedes */
		id->state_final = !c->precopy;
	}
	/* a stream's chunks follow each other (frame_check: contiguous) */
	at = id->stream ? id->state_len : (size_t)c->offset;
	need = at + fr->payload_len;
	if (need > id->state_cap) {
		size_t cap = id->state_cap == 0 ? JOB_STATE_CHUNK :
		    id->state_cap;

		while (cap < need)
			cap *= 2;
		id->state = xrealloc(id->state, cap);
		id->state_cap = cap;
	}
	if (fr->payload_len != 0)
		memcpy(id->state + at, fr->payload, fr->payload_len);
	if (id->stream)
		XXH3_64bits_update(id->xs, fr->payload, fr->payload_len);
	id->state_len = need;
	frame_state_accept(&id->spos, c, fr->payload_len);
	job->devs[c->device].state_bytes = id->stream ? c->offset +
	    fr->payload_len : c->total;
	job->st.device_state_bytes = 0;
	for (i = 0; i < job->ndevs; i++)
		job->st.device_state_bytes += job->devs[i].state_bytes;
	if (!id->stream || fr->payload_len == 0) {
		in->applied += fr->payload_len;
		in_ack(job, c->seq);
	}
	if (id->stream)
		in_load(job);	/* it acks what the device took */
}

/*
 * A stream chunk is acknowledged once the device took it, so the window
 * bounds what waits here for a slow device.
 */
static void
in_load_done(struct job *job, const struct vmig_result *res)
{
	if (job_dev_failed(job, res))
		return;
	job->in->applied += job->in->load_len;
	in_ack(job, job->in->last_seq);
	in_load(job);
}

/*
 * A state stream is written to its device as it arrives, each chunk once
 * and in order (VFIO's RESUMING data_fd), one write at a time from a copy
 * (state may grow, and move, while the write is out), acknowledged when
 * the device took it. The step "finish loading state streams" waits for
 * the last write after the switchover.
 */
static void
in_load(struct job *job)
{
	struct job_in	*in = job->in;
	struct in_dev	*id = NULL;
	unsigned int	 i;
	size_t		 n;

	if (job->dev_busy || job->failing || job_phase_terminal(job->phase))
		return;		/* the write out continues it (in_load_done) */
	for (i = 0; i < job->ndevs; i++) {
		id = &in->dev[i];
		if (!id->stream)
			continue;
		if (id->write_off < id->state_len)
			break;
		id->write_off = id->state_len = 0;	/* all written */
	}
	if (i == job->ndevs) {
		if (in->load_wait) {
			in->load_wait = 0;
			job_step_done(job, 0, NULL);
		}
		return;
	}
	if (in->load_buf == NULL)
		in->load_buf = xmalloc(JOB_STATE_CHUNK);
	n = MIN(id->state_len - id->write_off, (size_t)JOB_STATE_CHUNK);
	memcpy(in->load_buf, id->state + id->write_off, n);
	in->load_len = n;
	id->write_off += n;
	id->loaded += n;
	job_set_cur(job, i);
	JD(job)->state_written = 1;
	(void)JOB_DEV_CALL(job, "loading its state stream", in_load_done,
	    state_write, in->load_buf, n, job->phase == JOB_PRECOPY ?
	    VMIG_LANE_BULK : VMIG_LANE_CRITICAL);
}

static void
in_switchover(struct job *job, const Vmig__Stream__V1__Switchover *s)
{
	struct job_in	*in = job->in;
	unsigned int	 i;

	for (i = 0; i < job->ndevs; i++) {
		if (!in->dev[i].spos.complete || !in->dev[i].state_final) {
			in_protocol_error(job, P_PROTO, "switchover before "
			    "the final device state was complete (device %s)",
			    job->devs[i].dev->name);
			return;
		}
	}
	if (s->verify && s->n_state_digests != job->ndevs) {
		in_protocol_error(job, P_PROTO, "switchover with %zu state "
		    "digests for %u devices", s->n_state_digests, job->ndevs);
		return;
	}
	/* every page was acknowledged: no byte may land from here on */
	dlink_close(job->dlink);
	job->dlink = NULL;
	for (i = 0; i < job->ndevs && i < s->n_state_digests; i++)
		in->dev[i].src_state_digest = s->state_digests[i];
	in->src_memory_digest = s->memory_digest;
	in->src_verify = s->verify;
	in->src_stop_unix_us = s->source_stop_unix_us;
	job_set_phase(job, JOB_RESUMING, NULL);
	job_run_steps(job, in_resume_steps, NSTEPS(in_resume_steps));
	job_dev_adopt(job);	/* a stream write out: in_load goes on */
}

#define K(x)	VMIG__STREAM__V1__FRAME__KIND_##x

static void
in_frame(void *arg, const struct frame *fr)
{
	struct job		*job = arg;
	struct job_in		*in = job->in;
	const StreamFrame	*f = fr->hdr;
	char			 err[256];

	if (job_phase_terminal(job->phase) || job->failing)
		return;
	/* the phase table's frames column; anything else breaks the protocol */
	if (job_frame_expected(job, fr, err, sizeof(err)) != 0) {
		if (job->phase == JOB_WAITING)
			in_refuse(job, P_AUTH, "%s", err);
		else
			in_protocol_error(job, P_PROTO, "%s", err);
		return;
	}
	if (f->kind_case == K(STATE) && f->state->device >= job->ndevs) {
		in_protocol_error(job, P_PROTO, "state chunk %" PRIu64 " for "
		    "device %" PRIu32 " of a group of %u", f->state->seq,
		    f->state->device, job->ndevs);
		return;
	}
	if (frame_check(&in->layout, f->kind_case == K(STATE) ?
	    &in->dev[f->state->device].spos : NULL, fr, err,
	    sizeof(err)) != 0) {
		if (job->phase == JOB_WAITING)
			in_refuse(job, P_PROTO, "%s", err);
		else
			in_protocol_error(job, P_PROTO, "%s", err);
		return;
	}
	if (frame_check_seq(in->last_seq, f, err, sizeof(err)) != 0) {
		in_protocol_error(job, P_PROTO, "%s", err);
		return;
	}
	if (frame_numbered(f->kind_case))
		in->last_seq = frame_seq(f);
	switch (f->kind_case) {
	case K(HELLO):
		in_hello(job, f->hello);
		break;
	case K(PAGES):
		in_pages(job, fr);
		break;
	case K(PAGE_DELTA):
		in_delta(job, fr);
		break;
	case K(STATE):
		in_state(job, fr);
		break;
	case K(STOPCOPY):
		/* the guest waits from now on: serve this stream first */
		stream_set_priority(job->stream, VMIG_PRIO_CRITICAL);
		dlink_set_priority(job->dlink, VMIG_PRIO_CRITICAL);
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

/* A message that is no frame: before the Hello, one more refused peer. */
static void
in_bad_frame(void *arg, int err, const char *reason)
{
	struct job	*job = arg;

	if (job_phase_terminal(job->phase) || job->failing)
		return;
	if (job->phase == JOB_WAITING) {
		in_refuse(job, P_PROTO, "%s", reason);
		return;
	}
	in_protocol_error(job, P_PROTO, "source broke the protocol: %s",
	    reason);
}

/* A peer that never authenticated left: wait for the right one. */
static int
in_peer_lost(void *arg)
{
	struct job	*job = arg;

	if (job->phase != JOB_WAITING || job->failing)
		return (0);
	log_info("job %" PRIu64 " (%s): a peer left before its hello: "
	    "waiting for the source", job->id, job->device_name);
	return (1);
}

static const struct stream_ops in_stream_ops = {
	.frame = in_frame,
	.writable = in_writable,
	.bad_frame = in_bad_frame,
	.peer_lost = in_peer_lost,
	.closed = in_closed,
};

/* ------------------------------------------------------------ resume */

static void
in_memory_digested(struct job *job, int rc, uint64_t digest)
{
	struct job_in	*in = job->in;
	unsigned int	 i;

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
	for (i = 0; i < job->ndevs; i++) {
		if (in->dev[i].state_digest == in->dev[i].src_state_digest)
			continue;
		in_protocol_error(job, VMIG__STREAM__V1__ABORT__CODE__CODE_VERIFY,
		    "device state digest mismatch (device %s): source %016"
		    PRIx64 ", destination %016" PRIx64 ": refusing to resume",
		    job->devs[i].dev->name, in->dev[i].src_state_digest,
		    in->dev[i].state_digest);
		return;
	}
	in->verified = 1;
	job->verified = 1;
	job_step_done(job, 0, NULL);
}

static int
in_verify(struct job *job)
{
	struct job_in	*in = job->in;
	unsigned int	 i;

	in->load_start_us = now_us();
	for (i = 0; i < job->ndevs; i++)
		in->dev[i].state_digest = in->dev[i].stream ?
		    XXH3_64bits_digest(in->dev[i].xs) :
		    XXH3_64bits(in->dev[i].state, in->dev[i].state_len);
	if (!in->src_verify && !job->pol.verify)
		return (1);
	job_digest_begin(job, in_memory_digested);
	return (0);
}

static void	in_write_next(struct job *);

static void
in_write_done(struct job *job, const struct vmig_result *res)
{
	if (!job_dev_failed(job, res))
		in_write_next(job);
}

static void
in_write_next(struct job *job)
{
	struct in_dev	*id = &job->in->dev[job->cur];
	size_t		 n, off = id->write_off;

	if (off >= id->state_len) {
		job_dev_next(job);
		return;
	}
	n = MIN(id->state_len - off, (size_t)JOB_STATE_CHUNK);
	id->write_off += n;
	JD(job)->state_written = 1;
	(void)JOB_DEV_CALL(job, "writing its state", in_write_done,
	    state_write, id->state + off, n, VMIG_LANE_CRITICAL);
}

static int
in_load_finish(struct job *job)
{
	unsigned int	i;

	for (i = 0; i < job->ndevs; i++) {
		if (job->in->dev[i].stream &&
		    job->in->dev[i].write_off < job->in->dev[i].state_len)
			break;
	}
	if (i == job->ndevs && !job->dev_busy)
		return (1);
	job->in->load_wait = 1;
	in_load(job);		/* unless a write is out: it goes on */
	return (0);
}

static int
in_write_one(struct job *job)
{
	struct in_dev	*id = &job->in->dev[job->cur];

	if (id->stream)
		return (1);	/* written as it came (in_load) */
	id->write_off = 0;
	if (id->state_len == 0)
		return (1);	/* a device without state */
	in_write_next(job);
	return (0);
}

static int
in_write_state(struct job *job)
{
	return (job_each_dev(job, in_write_one));
}

/*
 * A VM's devices resume together: every state is written first, then
 * each that can is quiesced (running, no peer-to-peer DMA yet), then all
 * run.
 */
static int
in_quiesce_one(struct job *job)
{
	if ((job->dev->info.caps.flags & VMIG_CAP_P2P_QUIESCE) == 0)
		return (1);
	JD(job)->activated = 1;
	return (JOB_DEV_CALL(job, "set mode quiesced", job_dev_step_done,
	    set_mode, VMIG_MODE_QUIESCED, VMIG_LANE_CRITICAL));
}

static int
in_quiesce_devices(struct job *job)
{
	return (job_each_dev(job, in_quiesce_one));
}

static int
in_resume_one(struct job *job)
{
	JD(job)->activated = 1;
	return (JOB_DEV_CALL(job, "set mode active", job_dev_step_done,
	    set_mode, VMIG_MODE_ACTIVE, VMIG_LANE_CRITICAL));
}

static int
in_resume_device(struct job *job)
{
	return (job_each_dev(job, in_resume_one));
}

static int
in_send_done(struct job *job)
{
	struct job_in		*in = job->in;
	Vmig__Stream__V1__Frame	 f = VMIG__STREAM__V1__FRAME__INIT;
	Vmig__Stream__V1__Done	 d = VMIG__STREAM__V1__DONE__INIT;
	uint64_t		 load_us = now_us() - in->load_start_us;
	uint64_t		 digests[JOB_GROUP_MAX];
	unsigned int		 i;
	int			 rc;

	job->st.device_load_time_ms = load_us / 1000;
	if (in->src_stop_unix_us != 0 && unix_us() > in->src_stop_unix_us)
		job->st.downtime_ms = (unix_us() - in->src_stop_unix_us) /
		    1000;
	for (i = 0; i < job->ndevs; i++)
		digests[i] = in->dev[i].state_digest;
	d.load_time_us = load_us;
	d.verified = in->verified;
	d.memory_digest = in->memory_digest;
	d.n_state_digests = job->ndevs;
	d.state_digests = digests;
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
	size_t		bytes = 0;
	unsigned int	i;

	for (i = 0; i < job->ndevs; i++)
		bytes += job->in->dev[i].stream ? job->in->dev[i].loaded :
		    job->in->dev[i].state_len;
	log_info("job %" PRIu64 ": %s%s resumed from source job %" PRIu64
	    " (%s): state %zu bytes loaded in %" PRIu64 " ms%s", job->id,
	    job->device_name, job->ndevs > 1 ? " and its group" : "",
	    job->in->source_job, job->in->dev[0].source_device, bytes,
	    job->st.device_load_time_ms, job->verified ? ", verified" : "");
	/* the VFs belong to the migrated VM now */
	job_release_devices(job);
	job_finish(job, JOB_COMPLETED);
	return (1);
}

/* ------------------------------------------------------------ rollback */

static void
in_rollback(struct job *job)
{
	if (job->in != NULL)
		job->in->lingering = 0;
	job_run_steps(job, in_rollback_steps, NSTEPS(in_rollback_steps));
}

static int
in_rb_abort(struct job *job)
{
	if (job->stream == NULL || stream_is_closed(job->stream) ||
	    job->in == NULL || job->in->peer_aborted ||
	    !job->in->hello_ok)
		return (1);
	in_send_abort(job, job_rollback_abort_code(job), job->error);
	return (1);
}

static void
in_rb_dev_done(struct job *job, const struct vmig_result *res)
{
	if (res->err != 0)
		log_warnx("job %" PRIu64 ": device %s: %s after a failure: %s",
		    job->id, job->dev->name, job->devop.what,
		    strerror(-res->err));
	job_dev_next(job);
}

static int
in_rb_discard_one(struct job *job)
{
	if (!JD(job)->state_written || job->dev->handle == NULL ||
	    (job->dev->info.caps.flags & VMIG_CAP_STATE_DISCARD) == 0)
		return (1);
	JD(job)->state_written = 0;
	return (JOB_DEV_TRY(job, "discard state", in_rb_dev_done,
	    state_discard, VMIG_LANE_CRITICAL));
}

static int
in_rb_discard(struct job *job)
{
	return (job_each_dev(job, in_rb_discard_one));
}

static int
in_rb_stop_one(struct job *job)
{
	/* resumed but the source never heard: it resumes its own copy */
	if (!JD(job)->activated || job->dev->handle == NULL)
		return (1);
	JD(job)->activated = 0;
	return (JOB_DEV_TRY(job, "set mode stopped", in_rb_dev_done,
	    set_mode, VMIG_MODE_STOPPED, VMIG_LANE_CRITICAL));
}

static int
in_rb_stop(struct job *job)
{
	return (job_each_dev(job, in_rb_stop_one));
}

static int
in_rb_finish(struct job *job)
{
	/* PrepareIncoming failed before it could answer: a device error */
	job_call_done(job, job->cancel_req ? -ECANCELED : -EIO);
	job_release_devices(job);
	job_finish(job, job->cancel_req ? JOB_CANCELLED : JOB_FAILED);
	return (1);
}

/* ------------------------------------------------------------ the kind */

const struct job_kind job_kind_incoming = {
	.name = "incoming",
	.dir = JOB_INCOMING,
	.scheduled = 1,
	.sched_dir = SCHED_INCOMING,
	.phases = in_phases,
	.start = in_start,
	.rollback = in_rollback,
	.free = in_free,
};
