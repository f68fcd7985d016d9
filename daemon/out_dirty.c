/*
 * out_dirty.c: the source's dirty tracking. Recording starts before the
 * first page is sent; every read ORs the pages the device wrote into
 * `acc`, the reads of a round (a drain during a long send included) are
 * taken together at the round's end: cur = acc, merged into the regions'
 * dirty sets, and the hot set is what two reads in a row saw (deferred to
 * stop-copy once the policy says so). Reads go to the device's tracker
 * (tracker.h), shared with the other jobs on it; a device with none has
 * every page dirty every round (its tracker says so, and so does the
 * policy's observation: iterating gains nothing).
 */
#include "config.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "job_out.h"
#include "log.h"
#include "tracker.h"
#include "util.h"

static void	out_recording_start(struct job *);

void
out_dirty_init(struct job *job)
{
	struct job_out	*o = job->out;
	uint32_t	 i;

	o->drain_ms = CONVERGE_DRAIN_MS;
	o->acc = xcalloc(job->mem.nregions, sizeof(*o->acc));
	o->cur = xcalloc(job->mem.nregions, sizeof(*o->cur));
	o->prev = xcalloc(job->mem.nregions, sizeof(*o->prev));
	o->hot = xcalloc(job->mem.nregions, sizeof(*o->hot));
	for (i = 0; i < job->mem.nregions; i++) {
		pageset_init(&o->acc[i], job->mem.regions[i].npages);
		pageset_init(&o->cur[i], job->mem.regions[i].npages);
		pageset_init(&o->prev[i], job->mem.regions[i].npages);
		pageset_init(&o->hot[i], job->mem.regions[i].npages);
		o->maps[i].iova = job->mem.regions[i].iova;
		o->maps[i].length = job->mem.regions[i].length;
		o->maps[i].page_size = job->mem.regions[i].page_size;
		o->maps[i].bits = o->acc[i].bits;
	}
}

/* The job's trackers are let go of when it ends (a kept record holds none). */
void
out_dirty_detach(struct job *job)
{
	unsigned int	i;

	for (i = 0; i < job->ndevs; i++) {
		tracker_detach(job->devs[i].tu);
		job->devs[i].tu = NULL;
	}
}

void
out_dirty_free(struct job *job)
{
	struct job_out	*o = job->out;
	uint32_t	 i;

	out_dirty_detach(job);
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
}

uint64_t
out_deferred_pages(struct job *job)
{
	struct job_out	*o = job->out;
	uint64_t	 n = 0;
	uint32_t	 i;

	for (i = 0; i < job->mem.nregions && o->defer_hot; i++)
		n += pageset_count_and(&job->mem.regions[i].dirty, &o->hot[i]);
	return (n);
}

static void
out_stale_stopped(struct job *job, const struct vmig_result *res)
{
	char	buf[256];

	if (res->err != 0)
		log_warnx("job %" PRIu64 ": %s: stopping a stale recording: %s",
		    job->id, tracker_name(JD(job)->tu),
		    job_dev_strerror(res, buf, sizeof(buf)));
	out_recording_start(job);
}

static void
out_recording_done(struct job *job, const struct vmig_result *res)
{
	struct job_out	*o = job->out;
	char		 buf[256];

	if (res->err != 0 && !o->start_retried) {
		/*
		 * A daemon that died mid-migration leaves the VF recording,
		 * and the device refuses a second start: stop it, try once
		 * more (a device that refuses for another reason refuses
		 * again, and that is the error reported).
		 */
		o->start_retried = 1;
		log_info("job %" PRIu64 ": %s refused to start write recording "
		    "(%s): stopping a recording left running, then starting "
		    "again", job->id, tracker_name(JD(job)->tu),
		    job_dev_strerror(res, buf, sizeof(buf)));
		(void)JOB_TRK_CALL(job, "stopping a stale write recording",
		    out_stale_stopped, tracker_reset, JD(job)->tu);
		return;
	}
	if (job_dev_failed(job, res))
		return;
	/* a tracker that reports every page (type1 without pinning) */
	if (res->u.track.all_dirty && !o->untracked) {
		o->untracked = CONVERGE_ALL_DIRTY;
		log_info("job %" PRIu64 ": %s reports every mapped page dirty "
		    "at every read%s%s", job->id, tracker_name(JD(job)->tu),
		    res->msg != NULL ? ": " : "", res->msg != NULL ? res->msg :
		    "");
	}
	job_dev_next(job);
}

static void
out_recording_start(struct job *job)
{
	struct job_out	*o = job->out;

	/* recording is started before the copy, so nothing is missed */
	o->recording = 1;
	(void)JOB_TRK_CALL(job, "starting write recording", out_recording_done,
	    tracker_start, JD(job)->tu, o->ranges, job->mem.nregions,
	    o->page_size);
}

/*
 * Each device's tracker, attached once: a device whose tracker an
 * earlier one of the group shares (a container) reads through that one.
 */
static int
out_start_one(struct job *job)
{
	struct job_out	*o = job->out;
	char		 err[256];
	unsigned int	 k;
	int		 rc;

	for (k = 0; k < job->cur; k++) {
		if (tracker_same(job->eng->trackers, job->devs[k].dev,
		    job->dev))
			return (1);
	}
	if (JD(job)->tu == NULL && (rc = tracker_attach(job->eng->trackers,
	    job->dev, o->maps, job->mem.nregions, &JD(job)->tu, err,
	    sizeof(err))) != 0) {
		job_step_done(job, rc, "%s", err);
		return (0);
	}
	out_delta_attach(job, JD(job)->tu);
	/* one device without a tracker makes every page dirty, always */
	if (tracker_scope(JD(job)->tu) == VMIG_TRACK_NONE)
		o->untracked = CONVERGE_NO_TRACKER;
	o->start_retried = 0;
	out_recording_start(job);
	return (0);
}

int
out_start_recording(struct job *job)
{
	struct job_out	*o = job->out;
	uint32_t	 i;

	for (i = 0; i < job->mem.nregions; i++) {
		o->ranges[i].iova = job->mem.regions[i].iova;
		o->ranges[i].length = job->mem.regions[i].length;
	}
	return (job_each_dev(job, out_start_one));
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
	if (converge_drain_interval(o->drain_ms, res->u.dirty.overflow) !=
	    o->drain_ms) {
		o->drain_ms = converge_drain_interval(o->drain_ms,
		    res->u.dirty.overflow);
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
	/* the policy's dirty rate counts the device's pages all the same */
	o->rd_pages = newp + o->delta.unmarked;
	o->delta.unmarked = 0;
	o->rd_overflow = o->acc_overflow;
	o->hot_pages = hot;
	o->acc_records = o->acc_bytes = 0;
	o->acc_overflow = 0;
}

static void
out_read_dirty_done(struct job *job, const struct vmig_result *res)
{
	if (job_dev_failed(job, res))
		return;
	out_acc_result(job, res);
	job_dev_next(job);
}

/* Read write records into acc (the backend keeps o->maps until done). */
static void
out_read_dirty_into_acc(struct job *job, int lane, job_dev_fn fn,
    const char *what)
{
	struct job_out	*o = job->out;

	o->read_ms = o->last_drain_ms = now_ms();
	(void)JOB_TRK_CALL(job, what, fn, tracker_read, JD(job)->tu, lane);
}

static void
out_drain_done(struct job *job, const struct vmig_result *res)
{
	if (res->err != 0) {
		out_pump_stop(job);
		(void)job_dev_failed(job, res);
		return;
	}
	out_acc_result(job, res);
	out_drained(job);
}

/*
 * During a long send: keep the devices' record buffers from filling. One
 * tracker per drain, in turn (the pump's step does not use cur: the drain
 * takes the slot it reads and gives it back when done).
 */
void
out_drain(struct job *job)
{
	struct job_out	*o = job->out;
	unsigned int	 k, i;

	if (job->phase != JOB_PRECOPY || job->dev_busy || o->untracked ||
	    now_ms() - o->last_drain_ms < o->drain_ms)
		return;
	for (k = 0; k < job->ndevs; k++) {
		i = (o->drain_next + k) % job->ndevs;
		if (job->devs[i].tu == NULL)
			continue;
		o->drain_next = i + 1;
		job_set_cur(job, i);
		out_read_dirty_into_acc(job, VMIG_LANE_BULK, out_drain_done,
		    "reading write records");
		job_set_cur(job, 0);
		return;
	}
}

static int
out_read_one(struct job *job)
{
	if (JD(job)->tu == NULL)
		return (1);
	out_read_dirty_into_acc(job, VMIG_LANE_BULK, out_read_dirty_done,
	    "reading write records");
	return (0);
}

int
out_read_dirty(struct job *job)
{
	return (job_each_dev(job, out_read_one));
}

/* After the reads of a round (or the final ones): one read of the job. */
int
out_take_reads(struct job *job)
{
	out_take_acc(job);
	job->st.memory_remaining = mem_dirty_count(&job->mem) *
	    job->out->page_size;
	return (1);
}

static void
out_final_dirty_done(struct job *job, const struct vmig_result *res)
{
	if (job_dev_failed(job, res))
		return;
	out_acc_result(job, res);
	/*
	 * A device may hand out its records a few at a time (the backend
	 * stops asking after a bounded number of reads): the device is
	 * frozen, so read until a read finds none, or pages are lost. A
	 * tracker that reports every page every time gave them all at once.
	 */
	if (res->u.dirty.records != 0 && !res->u.dirty.overflow &&
	    !tracker_all_dirty(JD(job)->tu)) {
		if (++job->out->final_reads >= OUT_FINAL_READS_MAX) {
			job_step_done(job, -EPROTO, "device %s: still reports "
			    "write records after %d reads while frozen",
			    job->device_name, OUT_FINAL_READS_MAX);
			return;
		}
		out_read_dirty_into_acc(job, VMIG_LANE_CRITICAL,
		    out_final_dirty_done, "reading the final write records");
		return;
	}
	job_dev_next(job);
}

static int
out_final_one(struct job *job)
{
	if (JD(job)->tu == NULL)
		return (1);
	job->out->final_reads = 0;
	out_read_dirty_into_acc(job, VMIG_LANE_CRITICAL, out_final_dirty_done,
	    "reading the final write records");
	return (0);
}

int
out_final_dirty(struct job *job)
{
	job->out->t_records = now_us();
	return (job_each_dev(job, out_final_one));
}

static int
out_stop_one(struct job *job)
{
	if (JD(job)->tu == NULL)
		return (1);
	return (JOB_TRK_CALL(job, "stopping write recording",
	    job_dev_step_done, tracker_stop, JD(job)->tu));
}

int
out_stop_recording(struct job *job)
{
	if (!job->out->recording)
		return (1);
	job->out->recording = 0;
	return (job_each_dev(job, out_stop_one));
}

static void
out_rb_recording_stopped(struct job *job, const struct vmig_result *res)
{
	if (res->err != 0)
		log_warnx("job %" PRIu64 ": device %s: stopping write "
		    "recording after a failure: %s", job->id, job->dev->name,
		    strerror(-res->err));
	job_dev_next(job);
}

static int
out_rb_stop_one(struct job *job)
{
	if (JD(job)->tu == NULL)
		return (1);
	return (JOB_TRK_TRY(job, "stopping write recording",
	    out_rb_recording_stopped, tracker_stop, JD(job)->tu));
}

/*
 * Every attached tracker, whatever the forward steps got to: a stop that
 * failed half way, a start that ended during the rollback's wait (one
 * never started completes at once; one another job records with stays).
 */
int
out_rb_stop_recording(struct job *job)
{
	if (job->out == NULL)
		return (1);
	job->out->recording = 0;
	return (job_each_dev(job, out_rb_stop_one));
}
