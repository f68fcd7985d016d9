/*
 * out_pump.c: the source's page pump. One round sends every region's
 * dirty set (minus the deferred hot set, unless it is stop-copy's final
 * round), a bounded number of batches per loop turn so that other jobs
 * and the RPC stay responsive, paced by the token bucket (the scheduler's
 * share within the job's own limit) and the stream's window. The round
 * ends when the destination acknowledged everything, so the time
 * measured is delivery, not queueing.
 *
 * Its state is explicit (enum out_pump_state, job_out.h): every change
 * goes through out_pump_set(), checked against out_pump_next[] below.
 */
#include "config.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>

#include "job_out.h"
#include "log.h"
#include "util.h"
#include "vmigd.h"

#define P(s)	(1u << (s))

static const struct {
	const char	*name;
	uint32_t	 next;
} out_pump_states[PUMP_NSTATES] = {
	[PUMP_IDLE] = { "idle", P(PUMP_IDLE) | P(PUMP_SENDING) },
	[PUMP_SENDING] = { "sending", P(PUMP_IDLE) | P(PUMP_SENDING) |
	    P(PUMP_PACED) | P(PUMP_BLOCKED) | P(PUMP_PAUSED) |
	    P(PUMP_WAIT_ACKS) | P(PUMP_WAIT_DRAIN) },
	[PUMP_PACED] = { "paced", P(PUMP_IDLE) | P(PUMP_SENDING) },
	[PUMP_BLOCKED] = { "blocked", P(PUMP_IDLE) | P(PUMP_SENDING) },
	[PUMP_PAUSED] = { "paused", P(PUMP_IDLE) | P(PUMP_SENDING) },
	[PUMP_WAIT_ACKS] = { "waiting for acks", P(PUMP_IDLE) |
	    P(PUMP_SENDING) },
	[PUMP_WAIT_DRAIN] = { "waiting for a drain", P(PUMP_IDLE) |
	    P(PUMP_WAIT_DRAIN) },
};

static void	out_pump_cb(evutil_socket_t, short, void *);

void
out_pump_set(struct job_out *o, enum out_pump_state next)
{
	VMIG_ASSERT((unsigned)next < PUMP_NSTATES);
	VMIG_ASSERT(out_pump_states[o->pump].next & P(next));
	if (o->pump != next)
		log_debug("%s: %s -> %s", __func__,
		    out_pump_states[o->pump].name, out_pump_states[next].name);
	o->pump = next;
}

void
out_pump_init(struct job *job)
{
	struct job_out	*o = job->out;

	xfer_src_init(&o->xs, 0, 0);
	tbucket_init(&o->tb, job->pol.bandwidth_limit_bps, 0, now_ns());
	o->ev_pump = event_new(job->eng->base, -1, 0, out_pump_cb, job);
	(void)event_priority_set(o->ev_pump, VMIG_PRIO_BULK);
}

void
out_pump_free(struct job *job)
{
	struct job_out	*o = job->out;

	if (o->ev_pump != NULL)
		event_free(o->ev_pump);
	o->ev_pump = NULL;
	xfer_src_free(&o->xs);
}

/* Rollback or freeze: whatever the pump waited for no longer matters. */
void
out_pump_stop(struct job *job)
{
	struct job_out	*o = job->out;

	if (o == NULL)
		return;
	out_pump_set(o, PUMP_IDLE);
	if (o->ev_pump != NULL)
		event_del(o->ev_pump);
}

/* Run the pump on the next turn at its priority (not from a callback). */
static void
out_pump_resume(struct job_out *o)
{
	out_pump_set(o, PUMP_SENDING);
	event_del(o->ev_pump);		/* a pacing timer no longer counts */
	event_active(o->ev_pump, 0, 0);
}

/* The scheduler's share, capped by the job's own limit (0: none). */
void
out_share(struct job *job, uint64_t share)
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
out_window(struct job *job)
{
	if (job->stream != NULL && job->out->waiting != OUT_WAIT_CONNECT &&
	    job->out->waiting != OUT_WAIT_HELLO_ACK)
		stream_set_window(job->stream, job->eng->window);
	if (job->dlink != NULL)
		dlink_set_window(job->dlink, job->eng->window != 0 ?
		    job->eng->window : JOB_WINDOW_BYTES);
}

/* Another job's stop-copy ended. */
void
out_kick(struct job *job)
{
	if (job->out->pump == PUMP_PAUSED)
		out_pump_resume(job->out);
}

void
out_writable_pump(struct job *job)
{
	if (job->out->pump == PUMP_BLOCKED)
		out_pump_resume(job->out);
}

void
out_acks_moved(struct job *job)
{
	if (job->out->pump == PUMP_WAIT_ACKS &&
	    stream_unacked(job->stream) == 0 && dlink_unacked(job->dlink) == 0)
		out_pump_resume(job->out);
}

/* The forcing deadline: a pre-copy round ends at its next batch. */
void
out_pump_cut(struct job *job)
{
	struct job_out	*o = job->out;

	if (o->pump_final)
		return;
	if (o->pump == PUMP_SENDING || o->pump == PUMP_PACED ||
	    o->pump == PUMP_BLOCKED)
		out_pump_resume(o);
}

/* This job enters stop-copy: other jobs' bulk pumps wait (sched.h). */
void
out_stopcopy_begin(struct job *job)
{
	if (job->out->in_stopcopy)
		return;
	job->out->in_stopcopy = 1;
	job->eng->stopcopy_jobs++;
}

/* This job's stop-copy is over (switchover sent, or rolled back). */
void
out_stopcopy_done(struct job *job)
{
	struct engine	*eng = job->eng;
	struct job	*other;

	if (job->out == NULL || !job->out->in_stopcopy)
		return;
	job->out->in_stopcopy = 0;
	VMIG_ASSERT(eng->stopcopy_jobs > 0);
	if (--eng->stopcopy_jobs > 0)
		return;
	TAILQ_FOREACH(other, &eng->jobs, entry) {
		if (other->kind->kick != NULL &&
		    !job_phase_terminal(other->phase))
			other->kind->kick(other);
	}
}

/* All sent and acknowledged: measure and end the step. */
static void
out_pump_finish(struct job *job)
{
	struct job_out	*o = job->out;

	if (job->dev_busy) {
		/* a drain is out: the next step needs the device */
		out_pump_set(o, PUMP_WAIT_DRAIN);
		return;
	}
	out_pump_set(o, PUMP_IDLE);
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

/* A drain read ended (successfully) while the round waited for it. */
void
out_drained(struct job *job)
{
	if (job->out->pump == PUMP_WAIT_DRAIN)
		out_pump_finish(job);
}

/* Pacing: sleep until the token bucket has room. */
static void
out_pump_pace(struct job_out *o, uint64_t wait_ns)
{
	struct timeval	tv = { 0, (suseconds_t)(wait_ns / 1000 + 1) };

	if (wait_ns >= 1000000000ull) {
		tv.tv_sec = (time_t)(wait_ns / 1000000000ull);
		tv.tv_usec = 0;
	}
	out_pump_set(o, PUMP_PACED);
	evtimer_add(o->ev_pump, &tv);
}

/* One batch; 1: sent one, 0: the state changed (stop this turn). */
static int
out_pump_batch(struct job *job)
{
	struct job_out		*o = job->out;
	struct xfer_result	 res;
	struct mem_region	*r = &job->mem.regions[o->pump_region];
	const struct pageset	*skip;
	uint64_t		 wait;
	int			 rc;

	/* stop-copy too: the host limit holds (out_share) */
	if ((wait = tbucket_wait_ns(&o->tb, now_ns())) != 0) {
		out_pump_pace(o, wait);
		return (0);
	}
	skip = o->defer_hot && !o->pump_final ? &o->hot[o->pump_region] :
	    NULL;
	/* data connections number their batches apart from the stream */
	if (job->dlink != NULL)
		rc = dlink_send(job->dlink, &o->xs, r, &o->pump_cursor, skip,
		    o->iteration, &res);
	else
		rc = xfer_send(&o->xs, job->stream, r, &o->pump_cursor, skip,
		    o->seq + 1, o->iteration, &res);
	if (rc == -EAGAIN) {
		out_pump_set(o, PUMP_BLOCKED);	/* writable() resumes us */
		return (0);
	}
	if (rc != 0) {
		out_pump_set(o, PUMP_IDLE);
		job_step_done(job, rc, "sending pages of region %" PRIu32 ": %s",
		    r->index, strerror(-rc));
		return (0);
	}
	if (res.pages == 0) {
		o->pump_region++;
		o->pump_cursor = 0;
		return (1);
	}
	if (job->dlink == NULL)
		o->seq++;
	tbucket_consume(&o->tb, res.wire, now_ns());	/* the link's bytes */
	o->pump_bytes += res.bytes;
	job_account_pages(job, res.bytes, res.pages, res.zero_pages);
	/* what is left falls as pages go (the sent ones are clear) */
	job->st.memory_remaining = mem_dirty_count(&job->mem) * o->page_size;
	job->st.bytes_sent = job_wire_bytes(job);
	dlink_compressed(job->dlink, &job->st.compress_bytes_in,
	    &job->st.compress_bytes_out);
	return (1);
}

/* One PageDelta frame (out_delta.c), before the round's page batches. */
static int
out_pump_delta(struct job *job)
{
	struct job_out	*o = job->out;
	uint64_t	 wait, bytes;
	int		 rc;

	if ((wait = tbucket_wait_ns(&o->tb, now_ns())) != 0) {
		out_pump_pace(o, wait);
		return (0);
	}
	if (out_delta_batch(job, &bytes, &rc) == 0) {
		if (rc == -EAGAIN) {
			out_pump_set(o, PUMP_BLOCKED);
			return (0);
		}
		out_pump_set(o, PUMP_IDLE);
		job_step_done(job, rc, "sending page deltas: %s",
		    strerror(-rc));
		return (0);
	}
	if (bytes == 0)
		return (1);
	tbucket_consume(&o->tb, bytes, now_ns());
	o->pump_bytes += bytes;
	job_account_pages(job, bytes, 0, 0);
	job->st.memory_remaining = mem_dirty_count(&job->mem) * o->page_size;
	job->st.bytes_sent = job_wire_bytes(job);
	return (1);
}

static void
out_pump(struct job *job)
{
	struct job_out	*o = job->out;
	int		 n;

	if (o->pump != PUMP_SENDING || job->failing)
		return;
	if (!sched_pump_may_send(job->eng->stopcopy_jobs, o->pump_final)) {
		out_pump_set(o, PUMP_PAUSED);	/* out_kick() resumes us */
		return;
	}
	out_drain(job);
	for (n = 0; n < JOB_PUMP_BATCHES; n++) {
		/* past a forcing deadline the round ends: the policy decides */
		if (o->pump_region >= job->mem.nregions ||
		    (o->deadline && !o->pump_final)) {
			if (stream_unacked(job->stream) != 0 ||
			    dlink_unacked(job->dlink) != 0) {
				out_pump_set(o, PUMP_WAIT_ACKS);
				return;	/* the last Ack resumes us */
			}
			out_pump_finish(job);
			return;
		}
		if (!(o->delta.done ? out_pump_batch(job) :
		    out_pump_delta(job)))
			return;
	}
	event_active(o->ev_pump, 0, 0);	/* more next turn */
}

static void
out_pump_cb(evutil_socket_t fd, short what, void *arg)
{
	struct job	*job = arg;

	if (job->out->pump == PUMP_PACED)
		out_pump_set(job->out, PUMP_SENDING);
	out_pump(job);
}

static void
out_pump_start(struct job *job, int final)
{
	struct job_out	*o = job->out;

	/* the guest waits for the final pages: they are not background work */
	event_del(o->ev_pump);
	(void)event_priority_set(o->ev_pump, final ? VMIG_PRIO_CRITICAL :
	    VMIG_PRIO_BULK);
	out_pump_set(o, PUMP_SENDING);
	o->pump_final = final;
	o->pump_region = 0;
	o->pump_cursor = 0;
	o->pump_bytes = 0;
	o->pump_start_us = now_us();
	out_delta_round(job);
	out_pump(job);
}

int
out_send_pages(struct job *job)
{
	job->out->iter_start_ms = now_ms();
	out_pump_start(job, 0);
	return (0);
}

int
out_send_final_pages(struct job *job)
{
	job->out->pump_final = 1;
	job->out->t_pages = now_us();
	out_share(job, job->share_bps);
	out_pump_start(job, 1);
	return (0);
}
