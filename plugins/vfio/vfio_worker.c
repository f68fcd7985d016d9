/*
 * vfio_worker.c: see vfio_worker.h. A job is QUEUED (in its lane), then
 * RUNNING, then DONE (in the done list until the loop delivers it).
 * Everything under one mutex; the eventfd is written once per finished
 * job and drained by the loop.
 */
#include "config.h"

#include <sys/eventfd.h>
#include <sys/queue.h>

#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>

#include "vfio_log.h"
#include "vfio_worker.h"

struct vfio_job {
	TAILQ_ENTRY(vfio_job)	 entry;
	vfio_work_fn		 work;
	vfio_wdone_fn		 done;
	void			*arg;
};
TAILQ_HEAD(vfio_jobs, vfio_job);

struct vfio_worker {
	char			 name[64];
	pthread_t		 thread;
	pthread_mutex_t		 lock;
	pthread_cond_t		 cv_work;	/* a job or quit */
	pthread_cond_t		 cv_idle;	/* the running job ended */
	struct vfio_jobs	 lane[2];
	struct vfio_jobs	 done;
	struct vfio_job		*running;
	unsigned int		 pending;
	int			 quit;
	int			 efd;
	struct event		*ev;
};

static void *
worker_main(void *arg)
{
	struct vfio_worker	*w = arg;
	struct vfio_job		*j;
	uint64_t		 one = 1;

	pthread_mutex_lock(&w->lock);
	for (;;) {
		while (!w->quit && TAILQ_EMPTY(&w->lane[0]) &&
		    TAILQ_EMPTY(&w->lane[1]))
			pthread_cond_wait(&w->cv_work, &w->lock);
		if (w->quit)
			break;
		if ((j = TAILQ_FIRST(&w->lane[VFIO_LANE_CRITICAL])) != NULL)
			TAILQ_REMOVE(&w->lane[VFIO_LANE_CRITICAL], j, entry);
		else {
			j = TAILQ_FIRST(&w->lane[VFIO_LANE_BULK]);
			TAILQ_REMOVE(&w->lane[VFIO_LANE_BULK], j, entry);
		}
		w->running = j;
		pthread_mutex_unlock(&w->lock);

		j->work(j->arg);

		pthread_mutex_lock(&w->lock);
		w->running = NULL;
		TAILQ_INSERT_TAIL(&w->done, j, entry);
		pthread_cond_broadcast(&w->cv_idle);
		/* An eventfd write cannot fail short of a bug. */
		if (write(w->efd, &one, sizeof(one)) != sizeof(one))
			vfio_warn("%s: %s: eventfd: %s", __func__, w->name,
			    strerror(errno));
	}
	pthread_mutex_unlock(&w->lock);
	return (NULL);
}

/* Loop thread: deliver what finished. */
static void
worker_wake(evutil_socket_t fd, short ev, void *arg)
{
	struct vfio_worker	*w = arg;
	struct vfio_jobs	 ready;
	struct vfio_job		*j;
	uint64_t		 n;

	(void)ev;
	if (read(fd, &n, sizeof(n)) != sizeof(n) && errno != EAGAIN)
		vfio_warn("%s: %s: eventfd: %s", __func__, w->name,
		    strerror(errno));
	TAILQ_INIT(&ready);
	pthread_mutex_lock(&w->lock);
	TAILQ_CONCAT(&ready, &w->done, entry);
	pthread_mutex_unlock(&w->lock);
	while ((j = TAILQ_FIRST(&ready)) != NULL) {
		TAILQ_REMOVE(&ready, j, entry);
		w->pending--;
		if (j->done != NULL)
			j->done(j->arg, 0);
		free(j);
	}
}

struct vfio_worker *
vfio_worker_new(struct event_base *base, const char *name)
{
	struct vfio_worker	*w;

	if ((w = calloc(1, sizeof(*w))) == NULL)
		return (NULL);
	snprintf(w->name, sizeof(w->name), "%s", name);
	TAILQ_INIT(&w->lane[0]);
	TAILQ_INIT(&w->lane[1]);
	TAILQ_INIT(&w->done);
	pthread_mutex_init(&w->lock, NULL);
	pthread_cond_init(&w->cv_work, NULL);
	pthread_cond_init(&w->cv_idle, NULL);
	if ((w->efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)) == -1)
		goto fail;
	if ((w->ev = event_new(base, w->efd, EV_READ | EV_PERSIST,
	    worker_wake, w)) == NULL || event_add(w->ev, NULL) != 0)
		goto fail;
	if (pthread_create(&w->thread, NULL, worker_main, w) != 0)
		goto fail;
	return (w);
fail:
	if (w->ev != NULL)
		event_free(w->ev);
	if (w->efd != -1)
		close(w->efd);
	pthread_cond_destroy(&w->cv_idle);
	pthread_cond_destroy(&w->cv_work);
	pthread_mutex_destroy(&w->lock);
	free(w);
	return (NULL);
}

struct vfio_job *
vfio_worker_submit(struct vfio_worker *w, int lane, vfio_work_fn work,
    vfio_wdone_fn done, void *arg)
{
	struct vfio_job	*j;

	if ((j = calloc(1, sizeof(*j))) == NULL)
		return (NULL);
	j->work = work;
	j->done = done;
	j->arg = arg;
	pthread_mutex_lock(&w->lock);
	TAILQ_INSERT_TAIL(&w->lane[lane == VFIO_LANE_CRITICAL ? 1 : 0], j,
	    entry);
	w->pending++;
	pthread_cond_signal(&w->cv_work);
	pthread_mutex_unlock(&w->lock);
	return (j);
}

void
vfio_worker_cancel_all(struct vfio_worker *w)
{
	struct vfio_jobs	 gone;
	struct vfio_job		*j;

	TAILQ_INIT(&gone);
	pthread_mutex_lock(&w->lock);
	/* Take the queued ones first, so the thread starts nothing new. */
	TAILQ_CONCAT(&gone, &w->lane[1], entry);
	TAILQ_CONCAT(&gone, &w->lane[0], entry);
	while (w->running != NULL)
		pthread_cond_wait(&w->cv_idle, &w->lock);
	TAILQ_CONCAT(&gone, &w->done, entry);
	pthread_mutex_unlock(&w->lock);
	while ((j = TAILQ_FIRST(&gone)) != NULL) {
		TAILQ_REMOVE(&gone, j, entry);
		w->pending--;
		if (j->done != NULL)
			j->done(j->arg, 1);
		free(j);
	}
}

unsigned int
vfio_worker_pending(struct vfio_worker *w)
{
	return (w->pending);
}

void
vfio_worker_free(struct vfio_worker *w)
{
	if (w == NULL)
		return;
	vfio_worker_cancel_all(w);
	pthread_mutex_lock(&w->lock);
	w->quit = 1;
	pthread_cond_signal(&w->cv_work);
	pthread_mutex_unlock(&w->lock);
	pthread_join(w->thread, NULL);
	event_free(w->ev);
	close(w->efd);
	pthread_cond_destroy(&w->cv_idle);
	pthread_cond_destroy(&w->cv_work);
	pthread_mutex_destroy(&w->lock);
	free(w);
}
