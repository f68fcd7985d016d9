/*
 * offload.c: a FIFO of tasks under one mutex, worker threads started on
 * demand up to a limit, and a wake to bring each completion back to the
 * loop. A task is QUEUED, then RUNNING on one worker, then DONE; a DONE
 * task that was not cancelled has its completion posted under the same
 * mutex, so offload_cancel() always knows whether a wake item exists.
 *
 * Lock order: offload, then wake (wake_post under ours); nothing takes
 * them the other way round (wake_run calls without its lock held).
 */
#include "config.h"

#include <sys/queue.h>

#include <stdlib.h>

/* nng's threads: daemon/sched.h would shadow the <sched.h> of pthread.h */
#include <nng/nng.h>
#include <nng/supplemental/util/platform.h>

#include "log.h"
#include "offload.h"
#include "util.h"
#include "wake.h"

enum offload_state {
	OFFLOAD_QUEUED,
	OFFLOAD_RUNNING,
	OFFLOAD_DONE,
};

struct offload_task {
	struct offload		*o;
	offload_work_fn		 work;
	offload_done_fn		 done;
	void			*arg;
	enum offload_state	 state;
	int			 waited;	/* somebody waits for done */
	int			 stop;		/* atomic: read by the worker */
	TAILQ_ENTRY(offload_task) entry;
};
TAILQ_HEAD(offload_tasks, offload_task);

struct offload {
	struct wake		*wake;
	nng_mtx			*lock;
	nng_cv			*cv_work;	/* workers: a task or quit */
	nng_cv			*cv_done;	/* cancel: a RUNNING task ended */
	struct offload_tasks	 tasks;		/* every task not yet freed */
	unsigned int		 nqueued;
	unsigned int		 nidle;
	unsigned int		 nthreads;
	unsigned int		 max_threads;
	int			 quit;
	nng_thread		*threads[OFFLOAD_THREADS_MAX];
};

static void	offload_finished(void *);

/*
 * The oldest queued task that somebody waits for (a digest inside a
 * downtime), else the oldest queued one (unmapping or populating, which
 * nobody waits for, must not sit in front of a paused guest).
 */
static struct offload_task *
offload_next(struct offload *o)
{
	struct offload_task	*t, *first = NULL;

	TAILQ_FOREACH(t, &o->tasks, entry) {
		if (t->state != OFFLOAD_QUEUED)
			continue;
		if (t->waited)
			return (t);
		if (first == NULL)
			first = t;
	}
	return (first);
}

static void
offload_worker(void *arg)
{
	struct offload		*o = arg;
	struct offload_task	*t;

	nng_mtx_lock(o->lock);
	for (;;) {
		while (!o->quit && o->nqueued == 0) {
			o->nidle++;
			nng_cv_wait(o->cv_work);
			o->nidle--;
		}
		if (o->quit)
			break;
		t = offload_next(o);
		VMIG_ASSERT(t != NULL);
		t->state = OFFLOAD_RUNNING;
		o->nqueued--;
		nng_mtx_unlock(o->lock);

		t->work(t, t->arg);

		nng_mtx_lock(o->lock);
		t->state = OFFLOAD_DONE;
		if (__atomic_load_n(&t->stop, __ATOMIC_RELAXED))
			nng_cv_wake(o->cv_done);	/* the canceller frees */
		else
			wake_post(o->wake, offload_finished, t);
	}
	nng_mtx_unlock(o->lock);
}

struct offload *
offload_new(struct event_base *base, unsigned int nthreads)
{
	struct offload	*o;

	o = xcalloc(1, sizeof(*o));
	TAILQ_INIT(&o->tasks);
	o->max_threads = nthreads < 1 ? 1 : nthreads > OFFLOAD_THREADS_MAX ?
	    OFFLOAD_THREADS_MAX : nthreads;
	o->wake = wake_new(base);
	if (nng_mtx_alloc(&o->lock) != 0 ||
	    nng_cv_alloc(&o->cv_work, o->lock) != 0 ||
	    nng_cv_alloc(&o->cv_done, o->lock) != 0)
		fatalx("%s: out of memory", __func__);
	return (o);
}

void
offload_free(struct offload *o)
{
	struct offload_task	*t;
	unsigned int		 i;

	if (o == NULL)
		return;
	nng_mtx_lock(o->lock);
	o->quit = 1;
	TAILQ_FOREACH(t, &o->tasks, entry) {
		if (t->state == OFFLOAD_RUNNING && t->done != NULL)
			__atomic_store_n(&t->stop, 1, __ATOMIC_RELAXED);
	}
	nng_cv_wake(o->cv_work);
	nng_mtx_unlock(o->lock);
	for (i = 0; i < o->nthreads; i++)
		nng_thread_destroy(o->threads[i]);
	wake_free(o->wake);
	/*
	 * Work whose owner waits for an answer is dropped with its answer
	 * (the owner is going away too); work nobody waits for (unmapping)
	 * is done here, so that nothing it holds leaks.
	 */
	while ((t = TAILQ_FIRST(&o->tasks)) != NULL) {
		TAILQ_REMOVE(&o->tasks, t, entry);
		if (t->state == OFFLOAD_QUEUED && t->done == NULL)
			t->work(t, t->arg);
		free(t);
	}
	nng_cv_free(o->cv_done);
	nng_cv_free(o->cv_work);
	nng_mtx_free(o->lock);
	free(o);
}

static struct offload_task *
offload_queue(struct offload *o, offload_work_fn work, offload_done_fn done,
    void *arg, int waited)
{
	struct offload_task	*t;
	int			 rv;

	t = xcalloc(1, sizeof(*t));
	t->o = o;
	t->work = work;
	t->done = done;
	t->arg = arg;
	t->waited = waited;
	t->state = OFFLOAD_QUEUED;
	nng_mtx_lock(o->lock);
	TAILQ_INSERT_TAIL(&o->tasks, t, entry);
	o->nqueued++;
	/* a thread more when every one is busy (the pool only grows) */
	if (o->nidle < o->nqueued && o->nthreads < o->max_threads) {
		if ((rv = nng_thread_create(&o->threads[o->nthreads],
		    offload_worker, o)) == 0)
			o->nthreads++;
		else if (o->nthreads == 0)
			fatalx("%s: cannot start a worker thread: %s",
			    __func__, nng_strerror(rv));
		else
			log_warnx("%s: cannot start worker thread %u: %s",
			    __func__, o->nthreads + 1, nng_strerror(rv));
	}
	nng_cv_wake1(o->cv_work);
	nng_mtx_unlock(o->lock);
	return (t);
}

struct offload_task *
offload_submit(struct offload *o, offload_work_fn work, offload_done_fn done,
    void *arg)
{
	return (offload_queue(o, work, done, arg, done != NULL));
}

struct offload_task *
offload_submit_background(struct offload *o, offload_work_fn work,
    offload_done_fn done, void *arg)
{
	return (offload_queue(o, work, done, arg, 0));
}

/* Loop thread: a completion the worker posted. */
static void
offload_finished(void *arg)
{
	struct offload_task	*t = arg;
	struct offload		*o = t->o;
	offload_done_fn		 done = t->done;
	void			*done_arg = t->arg;

	nng_mtx_lock(o->lock);
	VMIG_ASSERT(t->state == OFFLOAD_DONE);
	TAILQ_REMOVE(&o->tasks, t, entry);
	nng_mtx_unlock(o->lock);
	free(t);
	if (done != NULL)
		done(done_arg);
}

void
offload_cancel(struct offload_task *t)
{
	struct offload	*o = t->o;
	unsigned int	 n;
	int		 posted = 0;

	nng_mtx_lock(o->lock);
	switch (t->state) {
	case OFFLOAD_QUEUED:
		o->nqueued--;
		break;
	case OFFLOAD_RUNNING:
		__atomic_store_n(&t->stop, 1, __ATOMIC_RELAXED);
		while (t->state != OFFLOAD_DONE)
			nng_cv_wait(o->cv_done);
		break;
	case OFFLOAD_DONE:
		posted = 1;	/* its completion waits in the wake */
		break;
	}
	TAILQ_REMOVE(&o->tasks, t, entry);
	nng_mtx_unlock(o->lock);
	if (posted) {
		n = wake_cancel(o->wake, offload_finished, t);
		VMIG_ASSERT(n == 1);
	}
	free(t);
}

int
offload_stopping(const struct offload_task *t)
{
	return (__atomic_load_n(&t->stop, __ATOMIC_RELAXED));
}
