/*
 * test_engine.c: both directions' step tables, below the integration
 * level: the real engine (job*.c, out_*.c, tracker.c, converge, sched,
 * xfer, memory, the frame codec) on a real libevent loop, against a
 * scripted backend built into the test (backends_add_builtin) and the
 * fake stream (fake_stream.c, linked in place of stream.c), whose peer the
 * test plays: the destination for a source job, the source for a
 * destination job.
 *
 * The job moves a group of two devices of one VM: vf1 a snapshot with its
 * own tracker, vf2 a stream (pre-copy info, exact size, quiesce) with a
 * tracker shared by key. A run without faults must pass every step of
 * every table of its direction (the step hook lists them) and complete.
 * Then, for every step, three runs fail it: the hook fails the job right
 * after the step ran (what a step failing at once does), and the step's
 * device, tracker and stream calls fail by their result and at
 * submission. Each must end FAILED and leave things as a rollback must:
 * the source's devices running, trackers stopped, no device claimed; the
 * destination's devices not running, no state left in them. A step with
 * no call that can fail is named in a list (and checked to have none).
 */
#include "config.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <criterion/criterion.h>
#include <event2/event.h>
#include <event2/thread.h>

#include "backend.h"
#include "conf.h"
#include "fake_stream.h"
#include "job.h"
#include "log.h"
#include "util.h"
#include "vmigd.h"
#include "leakcheck.h"

#define MEM		(1024 * 1024)
#define PAGE		4096
#define IMG		(300 * 1000)	/* vf1's snapshot: two reads */
#define PRE		(100 * 1000)	/* vf2's stream, pre-copy part */
#define FIN		(50 * 1000)	/* and what only the frozen one has */
#define STEPS_MAX	64
#define LIVENESS_US	(10 * 1000 * 1000)

/* ------------------------------------------------------------ the script */

enum inject {
	INJ_NONE = 0,
	INJ_AFTER,	/* the hook fails the job after the step ran */
	INJ_RESULT,	/* the step's calls complete with an error */
	INJ_SUBMIT,	/* the step's calls are refused */
};

static const char *const inject_names[] = { "none", "after", "result",
    "submit" };

static struct {
	enum inject	 how;
	const char	*step;
	unsigned int	 fired;		/* calls failed */
	const char	*seen[STEPS_MAX];	/* forward steps run, in order */
	unsigned int	 nseen;
} script;

static struct event_base	*base;
static struct event		*ev_tick;	/* bounds each loop turn */
static struct backends		*bs;
static struct engine		*eng;
static struct job		*job;
static char			 tmpdir[64];
static char			 mempath[128];

/* Is this call to fail? (the step under way is the script's) */
static int
inject_now(enum inject how)
{
	if (script.how != how || job == NULL || job->failing ||
	    !job->running_step || job->step >= job->nsteps ||
	    strcmp(job->steps[job->step].name, script.step) != 0)
		return (0);
	script.fired++;
	return (1);
}

static void
step_hook(void *arg, struct job *j, const char *name)
{
	unsigned int	i;

	if (j->failing)
		return;
	for (i = 0; i < script.nseen; i++) {
		if (strcmp(script.seen[i], name) == 0)
			break;
	}
	if (i == script.nseen && script.nseen < STEPS_MAX)
		script.seen[script.nseen++] = name;
	if (script.how == INJ_AFTER && strcmp(name, script.step) == 0 &&
	    !job_phase_terminal(j->phase)) {
		script.fired++;
		job_fail(j, "scripted failure after step %s", name);
	}
}

/*
 * The crash journal as the engine sees it (main.c's is restart.c): the
 * flags each record carried, and a record that fails like a full disk
 * when the script fails the step's calls.
 */
static struct {
	unsigned int	 records;
	uint32_t	 flags;		/* the last record's */
	unsigned int	 ended;
} jr;

static int
jr_record(void *arg, struct job *j, char *err, size_t errlen)
{
	if (inject_now(INJ_RESULT) || inject_now(INJ_SUBMIT))
		return (err_set(err, errlen, -ENOSPC, "journal: scripted "
		    "full disk"));
	jr.records++;
	jr.flags = j->jflags;
	return (0);
}

static void
jr_ended(void *arg, struct job *j)
{
	jr.ended++;
}

/* ------------------------------------------------------------ the backend */

struct fvf {
	uint32_t	 mode;
	uint64_t	 pos;		/* read so far (image or stream) */
	int		 saving;
	uint64_t	 loaded;	/* written by the destination */
};

struct vmig_pf {
	int		 unused;
};

struct vmig_dev {
	uint64_t	 member;
};

struct vmig_tracker {
	uint64_t	 member;	/* the device that writes */
	int		 started;
	uint64_t	 reads;
};

static struct fvf	 fvf[3];	/* 1-based */
static struct vmig_pf	 fpf;
static int		 trackers_open, trackers_started;
static const struct vmig_host *fhost;

struct flater {
	vmig_done_fn		 done;
	void			*arg;
	struct vmig_result	 res;
};

static void
f_later_cb(evutil_socket_t fd, short what, void *arg)
{
	struct flater	*l = arg;

	l->done(l->arg, &l->res);
	free(l);
}

/* Complete on a later turn; the script may fail it. */
static int
f_call(vmig_done_fn done, void *arg, struct vmig_result *res)
{
	struct flater	*l;

	if (inject_now(INJ_SUBMIT))
		return (-EIO);
	if (inject_now(INJ_RESULT)) {
		memset(res, 0, sizeof(*res));
		res->err = -EIO;
		res->msg = "scripted failure";
	}
	l = xcalloc(1, sizeof(*l));
	l->done = done;
	l->arg = arg;
	l->res = *res;
	cr_assert_eq(event_base_once(fhost->base, -1, EV_TIMEOUT, f_later_cb,
	    l, NULL), 0);
	return (0);
}

static int
f_init(const struct vmig_host *host, void **priv)
{
	fhost = host;
	*priv = NULL;
	return (0);
}

static int
f_pf_open(void *priv, const char *name, const char *spec,
    const struct vmig_fd *fds, unsigned int nfds, struct vmig_pf **pf,
    vmig_done_fn done, void *arg, char *err, size_t errlen)
{
	struct vmig_result	res;

	memset(&res, 0, sizeof(res));
	*pf = &fpf;
	return (f_call(done, arg, &res));
}

static void
f_pf_close(struct vmig_pf *pf)
{
}

static int
f_pf_info(struct vmig_pf *pf, struct vmig_pf_info *info)
{
	memset(info, 0, sizeof(*info));
	strlcpy_v(info->interface, "fake/1", sizeof(info->interface));
	info->num_vfs = 2;
	return (0);
}

static int
f_pf_list(struct vmig_pf *pf, struct vmig_dev_info *out, int max)
{
	int	i;

	for (i = 0; i < 2 && i < max; i++) {
		memset(&out[i], 0, sizeof(out[i]));
		snprintf(out[i].name, sizeof(out[i].name), "vf%d", i + 1);
		strlcpy_v(out[i].type, "fake-dev", sizeof(out[i].type));
		out[i].member_id = (uint64_t)i + 1;
		out[i].mode = fvf[i + 1].mode;
		strlcpy_v(out[i].caps.interface, "fake/1",
		    sizeof(out[i].caps.interface));
		out[i].caps.modes = VMIG_MODE_BIT(VMIG_MODE_ACTIVE) |
		    VMIG_MODE_BIT(VMIG_MODE_STOPPED) |
		    VMIG_MODE_BIT(VMIG_MODE_FROZEN);
		out[i].caps.flags = VMIG_CAP_STATE_PRECOPY |
		    VMIG_CAP_STATE_CHUNKED | VMIG_CAP_STATE_DISCARD;
		out[i].caps.dirty_page_sizes = 1;
		out[i].caps.dirty_max_ranges = 8;
		if (i == 0) {
			out[i].caps.state_kind = VMIG_STATE_SNAPSHOT;
			out[i].caps.track_scope = VMIG_TRACK_DEVICE;
		} else {
			out[i].caps.modes |= VMIG_MODE_BIT(VMIG_MODE_QUIESCED);
			out[i].caps.flags |= VMIG_CAP_P2P_QUIESCE |
			    VMIG_CAP_PRECOPY_INFO | VMIG_CAP_STATE_SIZE_EXACT;
			out[i].caps.state_kind = VMIG_STATE_STREAM;
			out[i].caps.track_scope = VMIG_TRACK_SHARED;
		}
	}
	return (2);
}

static int
f_dev_open(struct vmig_pf *pf, uint64_t member, const struct vmig_fd *fds,
    unsigned int nfds, struct vmig_dev **dev, char *err, size_t errlen)
{
	struct vmig_dev	*d;

	if (inject_now(INJ_RESULT) || inject_now(INJ_SUBMIT)) {
		snprintf(err, errlen, "scripted failure");
		return (-EIO);
	}
	d = xcalloc(1, sizeof(*d));
	d->member = member;
	*dev = d;
	return (0);
}

static void
f_dev_close(struct vmig_dev *d)
{
	free(d);
}

static int
f_get_mode(struct vmig_dev *d, int lane, vmig_done_fn done, void *arg)
{
	struct vmig_result	res;

	memset(&res, 0, sizeof(res));
	res.u.mode = fvf[d->member].mode;
	return (f_call(done, arg, &res));
}

static int
f_set_mode(struct vmig_dev *d, enum vmig_mode mode, int lane,
    vmig_done_fn done, void *arg)
{
	struct vmig_result	res;
	int			rc;

	memset(&res, 0, sizeof(res));
	if ((rc = f_call(done, arg, &res)) == 0 && res.err == 0) {
		if (mode == VMIG_MODE_ACTIVE)
			fvf[d->member].saving = 0;
		fvf[d->member].mode = mode;
	}
	return (rc);
}

static int
f_running(const struct vmig_dev *d)
{
	return (fvf[d->member].mode == VMIG_MODE_ACTIVE ||
	    fvf[d->member].mode == VMIG_MODE_QUIESCED);
}

/* vf2's stream: what it holds so far. */
static uint64_t
f_made(const struct vmig_dev *d)
{
	return (fvf[d->member].mode == VMIG_MODE_FROZEN ? PRE + FIN : PRE);
}

static int
f_state_size(struct vmig_dev *d, int lane, vmig_done_fn done, void *arg)
{
	struct vmig_result	res;

	memset(&res, 0, sizeof(res));
	res.u.size = d->member == 1 ? IMG : PRE + FIN - fvf[2].pos;
	return (f_call(done, arg, &res));
}

static int
f_precopy_info(struct vmig_dev *d, int lane, vmig_done_fn done, void *arg)
{
	struct vmig_result	res;

	memset(&res, 0, sizeof(res));
	res.u.precopy.initial_bytes = f_made(d) - fvf[2].pos;
	return (f_call(done, arg, &res));
}

static int
f_state_read(struct vmig_dev *d, void *buf, size_t cap, int lane,
    vmig_done_fn done, void *arg)
{
	struct fvf		*v = &fvf[d->member];
	struct vmig_result	 res;
	uint64_t		 end;
	size_t			 n;

	if (!f_running(d) && v->mode != VMIG_MODE_FROZEN)
		return (-EBUSY);
	if (d->member == 1 && v->pos >= IMG)
		v->pos = 0;		/* a new image */
	if (!v->saving) {
		v->saving = 1;
		v->pos = 0;
	}
	end = d->member == 1 ? IMG : f_made(d);
	n = (size_t)MIN(end - v->pos, (uint64_t)cap);
	memset(buf, (int)(d->member * 16 + v->pos / 1000), n);
	v->pos += n;
	memset(&res, 0, sizeof(res));
	res.u.read.len = n;
	res.u.read.remaining = end - v->pos;
	return (f_call(done, arg, &res));
}

static int
f_state_write(struct vmig_dev *d, const void *buf, size_t len, int lane,
    vmig_done_fn done, void *arg)
{
	struct vmig_result	res;
	int			rc;

	cr_assert(!f_running(d), "vf%" PRIu64 " written while running",
	    d->member);
	memset(&res, 0, sizeof(res));
	if ((rc = f_call(done, arg, &res)) == 0 && res.err == 0)
		fvf[d->member].loaded += len;
	return (rc);
}

static int
f_state_discard(struct vmig_dev *d, int lane, vmig_done_fn done, void *arg)
{
	struct vmig_result	res;
	int			rc;

	memset(&res, 0, sizeof(res));
	if ((rc = f_call(done, arg, &res)) == 0 && res.err == 0) {
		fvf[d->member].loaded = 0;
		fvf[d->member].saving = 0;
	}
	return (rc);
}

static int
f_dev_tracker(struct vmig_dev *d, struct vmig_tracker_info *info)
{
	memset(info, 0, sizeof(*info));
	info->scope = d->member == 1 ? VMIG_TRACK_DEVICE : VMIG_TRACK_SHARED;
	info->kind = VMIG_DIRTY_WRITE_RECORDS;
	snprintf(info->key, sizeof(info->key), d->member == 1 ? "" : "c0");
	return (0);
}

static int
f_tracker_open(struct vmig_dev *d, struct vmig_tracker **t, char *err,
    size_t errlen)
{
	*t = xcalloc(1, sizeof(**t));
	(*t)->member = d->member;
	trackers_open++;
	return (0);
}

static void
f_tracker_close(struct vmig_tracker *t)
{
	trackers_open--;
	free(t);
}

static int
f_tracker_start(struct vmig_tracker *t, const struct vmig_iova_range *r,
    unsigned int n, uint64_t page_size, vmig_done_fn done, void *arg)
{
	struct vmig_result	res;
	int			rc;

	memset(&res, 0, sizeof(res));
	if ((rc = f_call(done, arg, &res)) == 0 && res.err == 0) {
		t->started = 1;
		trackers_started++;
	}
	return (rc);
}

/* Each read while the device runs finds one page (another each time). */
static int
f_tracker_read(struct vmig_tracker *t, struct vmig_dirty_map *maps,
    unsigned int n, int lane, vmig_done_fn done, void *arg)
{
	struct vmig_result	res;
	uint64_t		bit;

	memset(&res, 0, sizeof(res));
	if (n > 0 && (fvf[t->member].mode == VMIG_MODE_ACTIVE ||
	    fvf[t->member].mode == VMIG_MODE_QUIESCED)) {
		bit = t->reads++ % (maps[0].length / maps[0].page_size);
		maps[0].bits[bit / 64] |= 1ULL << (bit % 64);
		res.u.dirty.records = res.u.dirty.pages = 1;
		res.u.dirty.bytes = 64;
	}
	return (f_call(done, arg, &res));
}

static int
f_tracker_stop(struct vmig_tracker *t, vmig_done_fn done, void *arg)
{
	struct vmig_result	res;
	int			rc;

	memset(&res, 0, sizeof(res));
	if ((rc = f_call(done, arg, &res)) == 0 && res.err == 0 &&
	    t->started) {
		t->started = 0;
		trackers_started--;
	}
	return (rc);
}

static const struct vmig_backend fake_backend = {
	.abi_major = VMIG_BACKEND_ABI_MAJOR,
	.abi_minor = VMIG_BACKEND_ABI_MINOR,
	.name = "fake",
	.version = "1",
	.init = f_init,
	.pf_open = f_pf_open,
	.pf_close = f_pf_close,
	.pf_info = f_pf_info,
	.pf_list = f_pf_list,
	.dev_open = f_dev_open,
	.dev_close = f_dev_close,
	.get_mode = f_get_mode,
	.set_mode = f_set_mode,
	.state_size = f_state_size,
	.state_precopy_info = f_precopy_info,
	.state_read = f_state_read,
	.state_write = f_state_write,
	.state_discard = f_state_discard,
	.dev_tracker = f_dev_tracker,
	.tracker_open = f_tracker_open,
	.tracker_close = f_tracker_close,
	.tracker_start = f_tracker_start,
	.tracker_read = f_tracker_read,
	.tracker_stop = f_tracker_stop,
};

/* ------------------------------------------------------------ the peers */

static struct {
	uint64_t	 bytes;		/* payload received (acks) */
	uint64_t	 frames[16];	/* by kind */
	int		 done_seen;
	int		 prepared;	/* PrepareIncoming's done ran */
	int		 prepare_rc;
} peer;

#define K(x)	VMIG__STREAM__V1__FRAME__KIND_##x

static void
deliver_ack(struct stream *s, uint64_t seq)
{
	Vmig__Stream__V1__Frame	f = VMIG__STREAM__V1__FRAME__INIT;
	Vmig__Stream__V1__Ack	a = VMIG__STREAM__V1__ACK__INIT;

	a.seq = seq;
	a.bytes = peer.bytes;
	f.kind_case = K(ACK);
	f.ack = &a;
	fake_stream_deliver(s, &f, NULL, 0);
}

/* The destination, for a source job: HelloAck, Acks, Done. */
static int
out_peer(void *arg, struct stream *s, const struct frame *fr)
{
	Vmig__Stream__V1__Frame		 f = VMIG__STREAM__V1__FRAME__INIT;
	Vmig__Stream__V1__HelloAck	 ha = VMIG__STREAM__V1__HELLO_ACK__INIT;
	Vmig__Stream__V1__Done		 d = VMIG__STREAM__V1__DONE__INIT;
	int				 kind = fr->hdr->kind_case;

	if (inject_now(INJ_RESULT) || inject_now(INJ_SUBMIT))
		return (-EPIPE);
	if (kind < 16)
		peer.frames[kind]++;
	peer.bytes += fr->payload_len;
	switch (kind) {
	case K(HELLO):
		cr_assert_eq(fr->hdr->hello->n_devices, 2);
		cr_assert_eq(fr->hdr->hello->devices[1]->state_kind,
		    VMIG_STATE_STREAM);
		ha.protocol_version = STREAM_PROTOCOL_VERSION;
		f.kind_case = K(HELLO_ACK);
		f.hello_ack = &ha;
		fake_stream_deliver(s, &f, NULL, 0);
		break;
	case K(PAGES):
	case K(STATE):
	case K(STOPCOPY):
		deliver_ack(s, frame_seq(fr->hdr) != 0 ? frame_seq(fr->hdr) :
		    fr->hdr->stopcopy->seq);
		break;
	case K(SWITCHOVER):
		deliver_ack(s, fr->hdr->switchover->seq);
		d.verified = fr->hdr->switchover->verify;
		d.load_time_us = 1000;
		f.kind_case = K(DONE);
		f.done = &d;
		fake_stream_deliver(s, &f, NULL, 0);
		break;
	default:
		break;
	}
	return (0);
}

static int
peer_open(void *arg, int listen)
{
	return (inject_now(INJ_RESULT) || inject_now(INJ_SUBMIT) ?
	    (listen ? -EADDRINUSE : -ECONNREFUSED) : 0);
}

/* What the source sends, as the test plays it (state for vf1, vf2). */
static uint8_t	 page[PAGE], img1[1000], str2[3500];

static void
deliver_state(struct stream *s, uint64_t seq, uint32_t dev, uint64_t off,
    uint64_t total, int last, int precopy, const uint8_t *p, size_t len)
{
	Vmig__Stream__V1__Frame		f = VMIG__STREAM__V1__FRAME__INIT;
	Vmig__Stream__V1__StateChunk	c = VMIG__STREAM__V1__STATE_CHUNK__INIT;

	c.seq = seq;
	c.device = dev;
	c.offset = off;
	c.total = total;
	c.last = last;
	c.precopy = precopy;
	c.generation = 1;
	f.kind_case = K(STATE);
	f.state = &c;
	fake_stream_deliver(s, &f, p, len);
}

/* After the HelloAck: the whole transfer, in order. */
static void
in_transfer(struct stream *s)
{
	Vmig__Stream__V1__Frame		 f = VMIG__STREAM__V1__FRAME__INIT;
	Vmig__Stream__V1__PageBatch	 pb = VMIG__STREAM__V1__PAGE_BATCH__INIT;
	Vmig__Stream__V1__PageRun	 run = VMIG__STREAM__V1__PAGE_RUN__INIT;
	Vmig__Stream__V1__PageRun	*runs[1] = { &run };
	Vmig__Stream__V1__StopCopy	 sc = VMIG__STREAM__V1__STOP_COPY__INIT;
	Vmig__Stream__V1__Switchover	 so = VMIG__STREAM__V1__SWITCHOVER__INIT;
	uint64_t			 digests[2] = { 0, 0 };

	pb.seq = 1;
	pb.iteration = 1;
	run.count = 1;
	pb.n_runs = 1;
	pb.runs = runs;
	f.kind_case = K(PAGES);
	f.pages = &pb;
	fake_stream_deliver(s, &f, page, PAGE);
	deliver_state(s, 2, 1, 0, 0, 0, 1, str2, 3000);
	sc.seq = 3;
	sc.iteration = 1;
	f.kind_case = K(STOPCOPY);
	f.stopcopy = &sc;
	fake_stream_deliver(s, &f, NULL, 0);
	deliver_state(s, 4, 0, 0, sizeof(img1), 1, 0, img1, sizeof(img1));
	deliver_state(s, 5, 1, 3000, 0, 1, 0, str2 + 3000, 500);
	so.seq = 6;
	so.pages_total = 1;
	so.n_state_digests = 2;
	so.state_digests = digests;
	f.kind_case = K(SWITCHOVER);
	f.switchover = &so;
	fake_stream_deliver(s, &f, NULL, 0);
}

/* The source, for a destination job: the transfer, then it closes. */
static int
in_peer(void *arg, struct stream *s, const struct frame *fr)
{
	int	kind = fr->hdr->kind_case;

	if (inject_now(INJ_RESULT) || inject_now(INJ_SUBMIT))
		return (-EPIPE);
	if (kind < 16)
		peer.frames[kind]++;
	if (kind == K(HELLO_ACK))
		in_transfer(s);
	else if (kind == K(DONE)) {
		peer.done_seen = 1;
		fake_stream_peer_close(s);
	}
	return (0);
}

static void
send_hello(struct job *j)
{
	Vmig__Stream__V1__Frame		 f = VMIG__STREAM__V1__FRAME__INIT;
	Vmig__Stream__V1__Hello		 h = VMIG__STREAM__V1__HELLO__INIT;
	Vmig__Stream__V1__DeviceLayout	 dl[2], *dlp[2] = { &dl[0], &dl[1] };
	Vmig__Stream__V1__RegionLayout	 rl = VMIG__STREAM__V1__REGION_LAYOUT__INIT;
	Vmig__Stream__V1__RegionLayout	*rlp[1] = { &rl };
	int				 i;

	for (i = 0; i < 2; i++) {
		vmig__stream__v1__device_layout__init(&dl[i]);
		dl[i].source_device = "src/vf";
		dl[i].device_type = "fake-dev";
		dl[i].interface = "fake/1";
		dl[i].state_kind = i == 0 ? VMIG_STATE_SNAPSHOT :
		    VMIG_STATE_STREAM;
	}
	rl.length = MEM;
	h.protocol_version = STREAM_PROTOCOL_VERSION;
	h.token.data = (uint8_t *)job_in_token(j);
	h.token.len = job_in_token_len(j);
	h.source_job_id = 7;
	h.n_devices = 2;
	h.devices = dlp;
	h.n_regions = 1;
	h.regions = rlp;
	h.page_size = PAGE;
	f.kind_case = K(HELLO);
	f.hello = &h;
	fake_stream_deliver(j->stream, &f, NULL, 0);
}

static void
prepared(void *arg, struct job *j, int rc, const char *err)
{
	peer.prepared = 1;
	peer.prepare_rc = rc;
	if (rc == 0)
		send_hello(j);
}

/* ------------------------------------------------------------ a run */

static const struct timeval tick_tv = { 0, 50000 };

static void
tick(evutil_socket_t fd, short what, void *arg)
{
}

static void
world_new(uint32_t initial_mode)
{
	struct config	*c;
	struct pf	*pf;
	char		 err[256];

	memset(&script.fired, 0, sizeof(script.fired));
	script.nseen = 0;
	memset(&peer, 0, sizeof(peer));
	memset(fvf, 0, sizeof(fvf));
	fvf[1].mode = fvf[2].mode = initial_mode;
	trackers_open = trackers_started = 0;
	job = NULL;

	/* as vmigd: the offload pool's workers wake this loop (wake.c) */
	cr_assert_eq(evthread_use_pthreads(), 0);
	base = event_base_new();
	cr_assert_not_null(base);
	cr_assert_eq(event_base_priority_init(base, VMIG_NPRIO), 0);
	bs = backends_new(base, tmpdir, err, sizeof(err));
	cr_assert_not_null(bs, "%s", err);
	backends_add_builtin(bs, &fake_backend);
	c = config_new();
	cr_assert_eq(config_set_pf(c, "f0=fake:x", "test", err, sizeof(err)),
	    0, "%s", err);
	backends_configure(bs, c);
	config_free(c);
	while ((pf = backend_pf_find(bs, "f0")) != NULL &&
	    pf->state == PF_OPENING)
		event_base_loop(base, EVLOOP_ONCE);
	cr_assert_eq(pf->state, PF_ONLINE, "%s", pf->error);
	eng = engine_new(base, bs);
	engine_set_hooks(eng, &(struct engine_hooks){ .step = step_hook });
	memset(&jr, 0, sizeof(jr));
	engine_set_journal(eng, &(struct engine_journal){ NULL, jr_record,
	    jr_ended });
	ev_tick = event_new(base, -1, EV_PERSIST, tick, NULL);
	evtimer_add(ev_tick, &tick_tv);
}

static void
world_free(void)
{
	event_free(ev_tick);
	engine_freeze(eng);
	engine_free(eng);
	backends_free(bs);
	fake_stream_reset();
	event_base_free(base);
	job = NULL;
}

static void
run_until_over(void)
{
	uint64_t	end = now_us() + LIVENESS_US;

	while (!job_phase_terminal(job->phase) && now_us() < end)
		event_base_loop(base, EVLOOP_ONCE);
	cr_assert(job_phase_terminal(job->phase), "inject %s at \"%s\": the "
	    "job is still %s", inject_names[script.how], script.step,
	    job_phase_name(job->phase));
	/* what the rollback or completion left on the loop */
	while (event_base_loop(base, EVLOOP_NONBLOCK) == 0 && job->dev_busy)
		;
}

static const char *const group[] = { "f0/vf2" };

static void
run_out(enum inject how, const char *step)
{
	struct mem_region_spec	 r = { mempath, 0, 0, MEM, PAGE };
	struct job_request	 q;
	struct job_policy	 pol;
	char			 err[256];

	script.how = how;
	script.step = step;
	world_new(VMIG_MODE_ACTIVE);
	fake_stream_set_peer(out_peer, peer_open, NULL);
	memset(&q, 0, sizeof(q));
	q.device = "f0/vf1";
	q.devices = group;
	q.ndevices = 1;
	q.regions = &r;
	q.nregions = 1;
	q.dest_url = "tcp://fake:1";
	q.token = "t";
	q.tokenlen = 1;
	memset(&pol, 0, sizeof(pol));
	pol.bulk_copy = 1;
	pol.verify = 1;
	pol.max_iterations = 3;
	pol.timeout_force = 1;
	cr_assert_eq(engine_start_migration(eng, &q, &pol, &job, err,
	    sizeof(err)), 0, "%s", err);
	run_until_over();
}

static void
run_in(enum inject how, const char *step)
{
	struct mem_region_spec	 r = { mempath, 0, 0, MEM, PAGE };
	struct job_request	 q;
	struct job_policy	 pol;
	char			 err[256];

	script.how = how;
	script.step = step;
	world_new(VMIG_MODE_ACTIVE);
	fake_stream_set_peer(in_peer, peer_open, NULL);
	memset(&q, 0, sizeof(q));
	q.device = "f0/vf1";
	q.devices = group;
	q.ndevices = 1;
	q.regions = &r;
	q.nregions = 1;
	memset(&pol, 0, sizeof(pol));
	cr_assert_eq(engine_prepare_incoming(eng, &q, &pol, prepared, NULL,
	    &job, err, sizeof(err)), 0, "%s", err);
	run_until_over();
	cr_assert(peer.prepared, "PrepareIncoming was never answered");
}

/* No device claimed, no tracker open (after any end). */
static void
check_released(void)
{
	struct device	*d;
	char		 err[256];
	int		 i;

	for (i = 1; i <= 2; i++) {
		char name[16];

		snprintf(name, sizeof(name), "f0/vf%d", i);
		cr_assert_eq(backend_dev_lookup(bs, name, &d, err,
		    sizeof(err)), 0, "%s", err);
		if (job->phase != JOB_COMPLETED || job->dir != JOB_OUTGOING)
			cr_expect_eq(d->job_id, 0, "inject %s at \"%s\": %s "
			    "still claimed", inject_names[script.how],
			    script.step, name);
	}
	cr_expect_eq(trackers_started, 0, "inject %s at \"%s\": a tracker "
	    "still records", inject_names[script.how], script.step);
}

/* ------------------------------------------------------------ the tests */

static const char *const out_steps[] = {
	"open devices", "check device modes", "connect to destination",
	"journal the recording", "start write recording", "enter pre-copy", "send dirty pages",
	"read pre-copy device state", "send pre-copy device state", "wait",
	"read write records", "take the reads", "query device state sizes",
	"decide", "journal the stop", "tell the destination",
	"quiesce devices", "stop devices",
	"freeze devices", "read final write records", "take the final reads",
	"send final pages", "read device state", "send device state",
	"stop write recording", "digest memory", "journal the switchover",
	"send switchover", "wait for the destination to resume",
	"journal the resume", "complete",
};

/* Steps that call nothing that can fail (the hook still fails them). */
static const char *const out_quiet[] = {
	"enter pre-copy", "wait", "take the reads", "decide",
	"take the final reads", "digest memory",
	"wait for the destination to resume", "complete",
};

/*
 * Journal records after the device resumed on the destination: a record
 * that fails there is logged, the job completes (failing it would resume
 * the source too, or stop the destination's running VF).
 */
static const char *const out_notes[] = { "journal the resume" };
static const char *const in_notes[] = { "journal the resumed devices" };

static const char *const in_steps[] = {
	"open devices", "check device modes", "journal the preparation",
	"stop devices",
	"discard stale device states", "listen for the source",
	"answer PrepareIncoming", "verify digests",
	"finish loading state streams", "write device states",
	"quiesce devices", "journal the resume", "resume devices",
	"journal the resumed devices", "send done",
	"wait for the source to close", "complete",
};

/*
 * ("finish loading state streams" is not: in this script the last chunk
 * arrives while the one before is still being written, so its write is
 * the step's.)
 */
static const char *const in_quiet[] = {
	"verify digests", "wait for the source to close", "complete",
};

static int
listed(const char *const *list, size_t n, const char *name)
{
	size_t	i;

	for (i = 0; i < n; i++) {
		if (strcmp(list[i], name) == 0)
			return (1);
	}
	return (0);
}

#define NELEM(a)	(sizeof(a) / sizeof((a)[0]))

static void
setup(void)
{
	uint8_t	buf[4096];
	FILE	*f;
	int	 i;

	log_init(LOG_LEVEL_ERROR, "test_engine");
	strlcpy_v(tmpdir, "/tmp/vmig-engine-XXXXXX", sizeof(tmpdir));
	cr_assert_not_null(mkdtemp(tmpdir));
	snprintf(mempath, sizeof(mempath), "%s/mem", tmpdir);
	cr_assert_not_null(f = fopen(mempath, "w"));
	for (i = 0; i < MEM / 4096; i++) {
		memset(buf, i, sizeof(buf));
		cr_assert_eq(fwrite(buf, 1, sizeof(buf), f), sizeof(buf));
	}
	fclose(f);
	memset(page, 0xab, sizeof(page));
	memset(img1, 0x11, sizeof(img1));
	memset(str2, 0x22, sizeof(str2));
}

static void
teardown(void)
{
	unlink(mempath);
	rmdir(tmpdir);
}

TestSuite(engine, .init = setup, .fini = teardown, .timeout = 600);

Test(engine, source_passes_every_step)
{
	size_t	i;

	run_out(INJ_NONE, "");
	cr_assert_eq(job->phase, JOB_COMPLETED, "%s", job->error);
	cr_expect(job->verified);
	for (i = 0; i < NELEM(out_steps); i++)
		cr_expect(listed(script.seen, script.nseen, out_steps[i]),
		    "step \"%s\" never ran", out_steps[i]);
	cr_expect_eq(script.nseen, NELEM(out_steps));
	cr_expect_eq(jr.flags, JE_CLAIMED | JE_RECORDING | JE_MODE_SET |
	    JE_COMMITTING | JE_SWITCHED, "journal flags 0x%x", jr.flags);
	cr_expect_eq(jr.records, 4);
	cr_expect_eq(jr.ended, 1);
	/* the group stopped together and stays stopped (migrated away) */
	cr_expect_eq(fvf[1].mode, VMIG_MODE_FROZEN);
	cr_expect_eq(fvf[2].mode, VMIG_MODE_FROZEN);
	/* both states went: vf1's images, vf2's whole stream */
	cr_expect_geq(peer.frames[K(STATE)], 3);
	cr_expect_eq(peer.frames[K(SWITCHOVER)], 1);
	cr_expect_eq(trackers_started, 0);
	check_released();
	world_free();
	LEAK_CHECK();
}

Test(engine, source_fails_cleanly_at_every_step)
{
	static const enum inject hows[] = { INJ_AFTER, INJ_RESULT,
	    INJ_SUBMIT };
	size_t	i, k, switchover = 0;
	int	quiet;

	while (strcmp(out_steps[switchover], "send switchover") != 0)
		switchover++;
	for (i = 0; i < NELEM(out_steps); i++) {
		quiet = listed(out_quiet, NELEM(out_quiet), out_steps[i]);
		for (k = 0; k < NELEM(hows); k++) {
			run_out(hows[k], out_steps[i]);
			if (hows[k] != INJ_AFTER && quiet) {
				cr_expect_eq(script.fired, 0, "\"%s\" is "
				    "listed quiet but made a call",
				    out_steps[i]);
				cr_expect_eq(job->phase, JOB_COMPLETED);
			} else if (strcmp(out_steps[i], "complete") == 0 ||
			    (hows[k] != INJ_AFTER && listed(out_notes,
			    NELEM(out_notes), out_steps[i]))) {
				/* the last step ends the job: nothing to fail */
				cr_expect_eq(job->phase, JOB_COMPLETED);
			} else {
				cr_expect_gt(script.fired, 0, "inject %s at "
				    "\"%s\": nothing failed",
				    inject_names[hows[k]], out_steps[i]);
				cr_expect_eq(job->phase, JOB_FAILED,
				    "inject %s at \"%s\": %s",
				    inject_names[hows[k]], out_steps[i],
				    job_phase_name(job->phase));
				cr_expect_neq(job->error[0], '\0');
				/*
				 * Failed after Switchover (the hook fails it
				 * in RESUMING): the destination may run the
				 * devices, so they stay stopped here.
				 */
				if (job->phase == JOB_FAILED && hows[k] ==
				    INJ_AFTER && i >= switchover) {
					cr_expect_eq(fvf[1].mode,
					    VMIG_MODE_FROZEN, "at \"%s\"",
					    out_steps[i]);
					cr_expect_eq(fvf[2].mode,
					    VMIG_MODE_FROZEN, "at \"%s\"",
					    out_steps[i]);
					cr_expect(strstr(job->error, "stays "
					    "stopped here") != NULL, "%s",
					    job->error);
					goto next;
				}
				/* a failed source runs again */
				cr_expect_eq(fvf[1].mode, VMIG_MODE_ACTIVE,
				    "inject %s at \"%s\": vf1 left %u",
				    inject_names[hows[k]], out_steps[i],
				    fvf[1].mode);
				cr_expect_eq(fvf[2].mode, VMIG_MODE_ACTIVE,
				    "inject %s at \"%s\": vf2 left %u",
				    inject_names[hows[k]], out_steps[i],
				    fvf[2].mode);
			}
next:
			cr_expect_eq(jr.ended, 1, "inject %s at \"%s\": "
			    "ended told %u times", inject_names[hows[k]],
			    out_steps[i], jr.ended);
			check_released();
			world_free();
		}
	}
	LEAK_CHECK();
}

Test(engine, destination_passes_every_step)
{
	size_t	i;

	run_in(INJ_NONE, "");
	cr_assert_eq(job->phase, JOB_COMPLETED, "%s", job->error);
	cr_expect_eq(peer.prepare_rc, 0);
	for (i = 0; i < NELEM(in_steps); i++)
		cr_expect(listed(script.seen, script.nseen, in_steps[i]),
		    "step \"%s\" never ran", in_steps[i]);
	cr_expect_eq(script.nseen, NELEM(in_steps));
	cr_expect_eq(jr.flags, JE_CLAIMED | JE_MODE_SET | JE_PREPARED |
	    JE_COMMITTING | JE_SWITCHED, "journal flags 0x%x", jr.flags);
	cr_expect_eq(jr.records, 3);
	cr_expect_eq(jr.ended, 1);
	cr_expect(peer.done_seen);
	/* both loaded (the stream as it came) and running */
	cr_expect_eq(fvf[1].loaded, sizeof(img1));
	cr_expect_eq(fvf[2].loaded, sizeof(str2));
	cr_expect_eq(fvf[1].mode, VMIG_MODE_ACTIVE);
	cr_expect_eq(fvf[2].mode, VMIG_MODE_ACTIVE);
	check_released();
	world_free();
	LEAK_CHECK();
}

Test(engine, destination_fails_cleanly_at_every_step)
{
	static const enum inject hows[] = { INJ_AFTER, INJ_RESULT,
	    INJ_SUBMIT };
	size_t	i, k;
	int	quiet, stopped;

	for (i = 0; i < NELEM(in_steps); i++) {
		quiet = listed(in_quiet, NELEM(in_quiet), in_steps[i]);
		/* before "stop devices" ended, the VFs were never touched */
		stopped = i > 3;
		for (k = 0; k < NELEM(hows); k++) {
			run_in(hows[k], in_steps[i]);
			if (hows[k] != INJ_AFTER && quiet) {
				cr_expect_eq(script.fired, 0, "\"%s\" is "
				    "listed quiet but made a call",
				    in_steps[i]);
				cr_expect_eq(job->phase, JOB_COMPLETED);
			} else if (strcmp(in_steps[i], "complete") == 0 ||
			    (hows[k] != INJ_AFTER && listed(in_notes,
			    NELEM(in_notes), in_steps[i]))) {
				cr_expect_eq(job->phase, JOB_COMPLETED);
			} else {
				cr_expect_gt(script.fired, 0, "inject %s at "
				    "\"%s\": nothing failed",
				    inject_names[hows[k]], in_steps[i]);
				cr_expect_eq(job->phase, JOB_FAILED,
				    "inject %s at \"%s\": %s",
				    inject_names[hows[k]], in_steps[i],
				    job_phase_name(job->phase));
				/* PrepareIncoming fails if its steps did */
				if (i < 6)
					cr_expect_lt(peer.prepare_rc, 0,
					    "inject %s at \"%s\"",
					    inject_names[hows[k]], in_steps[i]);
				/* a failed destination holds no state and
				 * does not run */
				cr_expect_eq(fvf[1].loaded + fvf[2].loaded, 0,
				    "inject %s at \"%s\": state left",
				    inject_names[hows[k]], in_steps[i]);
				if (stopped)
					cr_expect(fvf[1].mode !=
					    VMIG_MODE_ACTIVE && fvf[2].mode !=
					    VMIG_MODE_ACTIVE, "inject %s at "
					    "\"%s\": a VF runs",
					    inject_names[hows[k]], in_steps[i]);
			}
			cr_expect_eq(jr.ended, 1, "inject %s at \"%s\": "
			    "ended told %u times", inject_names[hows[k]],
			    in_steps[i], jr.ended);
			check_released();
			world_free();
		}
	}
	LEAK_CHECK();
}

/* When the heap's free pages go back (engine_trim_due, job.c). */
Test(engine, trim_when_idle_or_every_interval)
{
	/* the last job finished: at once, however recent the last trim */
	cr_expect(engine_trim_due(0, 1000, 1000));
	cr_expect(engine_trim_due(0, 1000, 999));
	/* jobs still running: only once the interval has passed */
	cr_expect_not(engine_trim_due(3, 1000 + ENGINE_TRIM_MS - 1, 1000));
	cr_expect(engine_trim_due(3, 1000 + ENGINE_TRIM_MS, 1000));
	cr_expect(engine_trim_due(1, 5 * ENGINE_TRIM_MS, 0));
}
