/*
 * test_vfio_worker.c: the worker thread that makes the kernel calls off
 * the event loop: completions come back on the loop (through its
 * eventfd), critical jobs go before queued bulk ones, a kernel call that
 * does not return leaves the loop serving (proved without a clock: the
 * simulator holds the call until the loop itself releases it), and
 * cancelling completes everything with "cancelled" after the running
 * call ends.
 */
#include "config.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>

#include <criterion/criterion.h>

#include "leakcheck.h"
#include "vfio_compat.h"
#include "vfio_mig.h"
#include "vfio_testlib.h"
#include "vfio_worker.h"

TestSuite(vfio_worker, .timeout = 60);

struct rec {
	int		 order[16];
	int		 cancelled[16];
	int		 n;
	int		 ran[16];
	int		 started[16];
	pthread_t	 loop;
	int		 wrong_thread;
};

struct job {
	struct rec	*r;
	int		 id;
	int		 gate;		/* read end of a pipe to wait on, or -1 */
};

static void
work(void *arg)
{
	struct job	*j = arg;
	char		 c;

	__atomic_store_n(&j->r->started[j->id], 1, __ATOMIC_RELEASE);
	if (j->gate != -1)
		(void)read(j->gate, &c, 1);
	__atomic_store_n(&j->r->ran[j->id], 1, __ATOMIC_RELEASE);
}

static void
done(void *arg, int cancelled)
{
	struct job	*j = arg;

	if (!pthread_equal(pthread_self(), j->r->loop))
		j->r->wrong_thread = 1;
	j->r->cancelled[j->r->n] = cancelled;
	j->r->order[j->r->n++] = j->id;
}

static void
run_until(struct event_base *b, const int *n, int want)
{
	while (*n < want)
		event_base_loop(b, EVLOOP_ONCE);
}

Test(vfio_worker, completions_on_the_loop_in_order)
{
	struct event_base	*b = event_base_new();
	struct vfio_worker	*w = vfio_worker_new(b, "t");
	struct job		 j[8];
	struct rec		 r;
	int			 i;

	memset(&r, 0, sizeof(r));
	r.loop = pthread_self();
	for (i = 0; i < 8; i++) {
		j[i].r = &r;
		j[i].id = i;
		j[i].gate = -1;
		cr_assert_not_null(vfio_worker_submit(w, VFIO_LANE_BULK, work,
		    done, &j[i]));
	}
	run_until(b, &r.n, 8);
	for (i = 0; i < 8; i++) {
		cr_assert_eq(r.order[i], i);
		cr_assert_eq(r.cancelled[i], 0);
	}
	cr_assert_eq(r.wrong_thread, 0, "done runs on the loop thread");
	cr_assert_eq(vfio_worker_pending(w), 0);
	vfio_worker_free(w);
	event_base_free(b);
	LEAK_CHECK();
}

Test(vfio_worker, critical_before_queued_bulk)
{
	struct event_base	*b = event_base_new();
	struct vfio_worker	*w = vfio_worker_new(b, "t");
	struct job		 j[5];
	struct rec		 r;
	int			 p[2], i;

	memset(&r, 0, sizeof(r));
	r.loop = pthread_self();
	cr_assert_eq(pipe(p), 0);
	for (i = 0; i < 5; i++) {
		j[i].r = &r;
		j[i].id = i;
		j[i].gate = i == 0 ? p[0] : -1;
	}
	/* 0 holds the thread; 1-3 bulk queue up; 4 is critical. */
	vfio_worker_submit(w, VFIO_LANE_BULK, work, done, &j[0]);
	while (!__atomic_load_n(&r.started[0], __ATOMIC_ACQUIRE))
		usleep(1000);
	for (i = 1; i < 4; i++)
		vfio_worker_submit(w, VFIO_LANE_BULK, work, done, &j[i]);
	vfio_worker_submit(w, VFIO_LANE_CRITICAL, work, done, &j[4]);
	cr_assert_eq(write(p[1], "x", 1), 1);
	run_until(b, &r.n, 5);
	cr_assert_eq(r.order[0], 0);
	cr_assert_eq(r.order[1], 4, "the critical job jumps the queue");
	cr_assert_eq(r.order[2], 1);
	vfio_worker_free(w);
	event_base_free(b);
	close(p[0]);
	close(p[1]);
}

static void *
open_gate_later(void *arg)
{
	int	fd = *(int *)arg;

	usleep(20000);
	(void)write(fd, "x", 1);
	return (NULL);
}

/* Cancel: the running call is waited for, then every job completes as
 * cancelled; queued ones never run. */
Test(vfio_worker, cancel_all)
{
	struct event_base	*b = event_base_new();
	struct vfio_worker	*w = vfio_worker_new(b, "t");
	struct job		 j[4];
	struct rec		 r;
	pthread_t		 th;
	int			 p[2], i;

	memset(&r, 0, sizeof(r));
	r.loop = pthread_self();
	cr_assert_eq(pipe(p), 0);
	for (i = 0; i < 4; i++) {
		j[i].r = &r;
		j[i].id = i;
		j[i].gate = i == 0 ? p[0] : -1;
		vfio_worker_submit(w, VFIO_LANE_BULK, work, done, &j[i]);
	}
	/* Job 0 runs and waits on its gate; cancel while it does. */
	while (!__atomic_load_n(&r.started[0], __ATOMIC_ACQUIRE))
		usleep(1000);
	pthread_create(&th, NULL, open_gate_later, &p[1]);
	vfio_worker_cancel_all(w);
	pthread_join(th, NULL);
	cr_assert_eq(r.n, 4, "everything completed before cancel returned");
	for (i = 0; i < 4; i++)
		cr_assert_eq(r.cancelled[i], 1);
	cr_assert_eq(r.ran[0], 1, "the running call finished");
	cr_assert_eq(r.ran[1] + r.ran[2] + r.ran[3], 0, "queued never ran");
	cr_assert_eq(vfio_worker_pending(w), 0);
	vfio_worker_free(w);
	event_base_free(b);
	close(p[0]);
	close(p[1]);
	LEAK_CHECK();
}

/* ------------------------------------------- a kernel call that hangs */

struct slow {
	struct vt		*v;
	struct vfio_dev		*d;
	int			 rc;
	char			 err[256];
	int			 done;
	int			 released;
	struct event		*ev;
};

static void
slow_work(void *arg)
{
	struct slow	*s = arg;

	s->rc = vfio_mig_set_state(s->d, VFIO_DEVICE_STATE_STOP_COPY, s->err,
	    sizeof(s->err));
}

static void
slow_done(void *arg, int cancelled)
{
	struct slow	*s = arg;

	cr_assert_eq(cancelled, 0);
	s->done = 1;
}

/* On the loop: let the simulator answer once it holds the call. */
static void
release_tick(evutil_socket_t fd, short ev, void *arg)
{
	struct slow	*s = arg;
	char		 r[64];

	(void)fd;
	(void)ev;
	vt_cmd(s->v, r, sizeof(r), "fault release");
	if (strcmp(r, "released=0") != 0) {
		s->released = 1;
		event_del(s->ev);
	}
}

Test(vfio_worker, a_stuck_kernel_call_leaves_the_loop_serving)
{
	struct event_base *b = event_base_new();
	struct vfio_worker *w = vfio_worker_new(b, "0000:3b:00.1");
	struct timeval	 tv = { 0, 2000 };
	struct slow	 s;
	struct vt	 v;

	vt_start(&v, NULL);
	memset(&s, 0, sizeof(s));
	s.v = &v;
	s.d = vt_open(&v, "vfio:0000:3b:00.1");
	/* The next device ioctl is held until "fault release". */
	vt_cmd(&v, NULL, 0, "fault delay op=ioctl count=1");
	s.ev = event_new(b, -1, EV_PERSIST, release_tick, &s);
	event_add(s.ev, &tv);
	vfio_worker_submit(w, VFIO_LANE_CRITICAL, slow_work, slow_done, &s);
	/*
	 * The simulator answers only after the loop released it: had the
	 * call blocked the loop, this would never finish.
	 */
	run_until(b, &s.done, 1);
	cr_assert(s.released);
	cr_assert_eq(s.rc, 0, "%s", s.err);
	cr_assert_eq(s.d->state, VFIO_DEVICE_STATE_STOP_COPY);
	event_free(s.ev);
	vfio_worker_free(w);
	event_base_free(b);
	vfio_dev_free(s.d);
	vt_stop(&v);
}
