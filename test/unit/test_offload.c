/*
 * test_offload.c: the worker pool behind digests, populating and
 * unmapping, with real threads and a real libevent loop: work runs off the
 * loop thread and its completion on it; a cancelled task never reports
 * (queued: its work never runs; running: it is told to stop and waited
 * for); offload_free() stops running work, drops queued work that has an
 * owner and runs queued fire-and-forget work, so nothing it holds leaks.
 */
#include "config.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>
#include <event2/event.h>
#include <event2/thread.h>
#include <nng/nng.h>
#include <nng/supplemental/util/platform.h>

#include "log.h"
#include "offload.h"
#include "leakcheck.h"

#define NTASKS		32
#define WAIT_MS		20000	/* generous: machines are shared */

static struct event_base	*base;

struct item {
	int		 id;
	int		 worked;	/* set by the worker */
	int		 on_loop;	/* work ran on the loop thread: wrong */
	int		 done;		/* set by the completion, on the loop */
	int		 stopped;	/* work saw offload_stopping() */
	volatile int	*gate;		/* work spins until *gate != 0 */
	volatile int	*started;
};

static uint64_t	loop_thread_marker;
static __thread uint64_t thread_marker;

static void
setup(void)
{
	log_init(LOG_LEVEL_ERROR, "test_offload");
	cr_assert_eq(evthread_use_pthreads(), 0);
	base = event_base_new();
	cr_assert_not_null(base);
	thread_marker = loop_thread_marker = 0x600d;
}

static void
teardown(void)
{
	event_base_free(base);
}

TestSuite(offload, .init = setup, .fini = teardown);

static void
work(struct offload_task *t, void *arg)
{
	struct item	*it = arg;

	it->on_loop = thread_marker == loop_thread_marker;
	if (it->started != NULL)
		*it->started = 1;
	while (it->gate != NULL && !*it->gate) {
		if (offload_stopping(t)) {
			it->stopped = 1;
			return;
		}
		nng_msleep(1);
	}
	it->worked = 1;
}

static void
done(void *arg)
{
	struct item	*it = arg;

	cr_assert_eq(thread_marker, loop_thread_marker,
	    "completion off the loop thread");
	cr_assert(it->worked, "completion before the work");
	it->done = 1;
}

/* One short turn of the loop: completions posted so far run. */
static void
loop_turn(void)
{
	struct timeval	tv = { 0, 1000 };

	event_base_loopexit(base, &tv);
	event_base_loop(base, 0);
}

/* Run the loop (at least once) until *flag or the time is up. */
static void
loop_until(const int *flag)
{
	nng_time	end = nng_clock() + WAIT_MS;

	do
		loop_turn();
	while (!*flag && nng_clock() < end);
}

/* Run the loop for ms: long enough for a wrong completion to show up. */
static void
loop_for(int ms)
{
	nng_time	end = nng_clock() + ms;

	while (nng_clock() < end)
		loop_turn();
}

static void
wait_flag(volatile int *flag)
{
	nng_time	end = nng_clock() + WAIT_MS;

	while (!*flag && nng_clock() < end)
		nng_msleep(1);
	cr_assert(*flag, "a worker never started");
}

Test(offload, work_off_the_loop_completion_on_it)
{
	struct offload	*o = offload_new(base, 2);
	struct item	 items[NTASKS];
	nng_time	 end;
	int		 i, all = 0;

	memset(items, 0, sizeof(items));
	for (i = 0; i < NTASKS; i++) {
		items[i].id = i;
		offload_submit(o, work, done, &items[i]);
	}
	end = nng_clock() + WAIT_MS;
	while (!all && nng_clock() < end) {
		loop_turn();
		for (all = 1, i = 0; i < NTASKS; i++)
			all &= items[i].done;
	}
	for (i = 0; i < NTASKS; i++) {
		cr_assert(items[i].worked, "task %d did not run", i);
		cr_assert(items[i].done, "task %d did not complete", i);
		cr_assert_not(items[i].on_loop, "task %d ran on the loop", i);
	}
	offload_free(o);
	LEAK_CHECK();
}

Test(offload, cancel_queued_never_runs)
{
	struct offload	*o = offload_new(base, 1);
	volatile int	 gate = 0, started = 0;
	struct item	 blocker = { .gate = &gate, .started = &started };
	struct item	 queued = { 0 };
	struct offload_task *t;

	offload_submit(o, work, done, &blocker);
	t = offload_submit(o, work, done, &queued);
	wait_flag(&started);		/* the only worker is busy */
	offload_cancel(t);
	gate = 1;
	loop_until(&blocker.done);
	cr_assert(blocker.done);
	cr_assert_not(queued.worked, "cancelled work ran");
	cr_assert_not(queued.done, "cancelled task reported");
	offload_free(o);
	LEAK_CHECK();
}

Test(offload, cancel_running_stops_it_and_waits)
{
	struct offload	*o = offload_new(base, 1);
	volatile int	 gate = 0, started = 0;
	struct item	 it = { .gate = &gate, .started = &started };
	struct offload_task *t;

	t = offload_submit(o, work, done, &it);
	wait_flag(&started);
	offload_cancel(t);
	/* when cancel returns the worker is done with the item */
	cr_assert(it.stopped, "the running work was not told to stop");
	cr_assert_not(it.worked);
	loop_for(200);			/* nothing may report now */
	cr_assert_not(it.done, "cancelled task reported");
	offload_free(o);
	LEAK_CHECK();
}

Test(offload, cancel_finished_drops_its_completion)
{
	struct offload	*o = offload_new(base, 1);
	volatile int	 started = 0;
	struct item	 it = { .started = &started };
	struct offload_task *t;

	t = offload_submit(o, work, done, &it);
	wait_flag(&started);
	while (!it.worked)
		nng_msleep(1);
	nng_msleep(20);			/* its completion is posted */
	offload_cancel(t);
	loop_for(200);
	cr_assert_not(it.done, "cancelled task reported");
	offload_free(o);
	LEAK_CHECK();
}

static void
free_work(struct offload_task *t, void *arg)
{
	free(arg);			/* what unmapping does with its map */
}

Test(offload, free_runs_fire_and_forget_work)
{
	struct offload	*o = offload_new(base, 1);
	volatile int	 gate = 0, started = 0;
	struct item	 blocker = { .gate = &gate, .started = &started };
	struct item	 owned = { 0 };
	int		 i;

	offload_submit(o, work, done, &blocker);
	wait_flag(&started);
	/* queued behind the blocker: run by offload_free, or leaked */
	for (i = 0; i < 8; i++)
		offload_submit(o, free_work, NULL, malloc(4096));
	offload_submit(o, work, done, &owned);
	/* free stops the blocker (it has an owner) and runs the frees */
	offload_free(o);
	cr_assert(blocker.stopped, "running work not told to stop");
	cr_assert_not(owned.worked, "queued work with an owner ran");
	cr_assert_not(owned.done);
	LEAK_CHECK();
}

static int	order[4], norder;

static void
ordered_work(struct offload_task *t, void *arg)
{
	order[norder++] = (int)(intptr_t)arg;	/* one worker: no race */
}

static void
ordered_done(void *arg)
{
}

/* A digest someone waits for overtakes queued unmapping. */
Test(offload, awaited_work_first)
{
	struct offload	*o = offload_new(base, 1);
	volatile int	 gate = 0, started = 0;
	struct item	 blocker = { .gate = &gate, .started = &started };
	nng_time	 end;

	norder = 0;
	offload_submit(o, work, done, &blocker);
	wait_flag(&started);
	offload_submit(o, ordered_work, NULL, (void *)(intptr_t)1);
	offload_submit(o, ordered_work, NULL, (void *)(intptr_t)2);
	offload_submit(o, ordered_work, ordered_done, (void *)(intptr_t)3);
	gate = 1;
	loop_until(&blocker.done);
	end = nng_clock() + WAIT_MS;
	while (norder < 3 && nng_clock() < end)
		nng_msleep(1);
	cr_assert_eq(norder, 3, "queued work did not run");
	cr_assert_eq(order[0], 3, "the awaited task ran %d-th", norder);
	cr_assert_eq(order[1], 1);
	cr_assert_eq(order[2], 2);
	loop_for(50);
	offload_free(o);
	LEAK_CHECK();
}

static int	bg_done;

static void
bg_done_cb(void *arg)
{
	cr_assert_eq(thread_marker, loop_thread_marker,
	    "completion off the loop thread");
	bg_done = (int)(intptr_t)arg;
}

/*
 * Background work (populating a mapping) reports its end on the loop, but
 * queues like work without a done: behind the awaited, in order with the
 * rest.
 */
Test(offload, background_work_queues_behind_awaited)
{
	struct offload	*o = offload_new(base, 1);
	volatile int	 gate = 0, started = 0;
	struct item	 blocker = { .gate = &gate, .started = &started };

	norder = 0;
	bg_done = 0;
	offload_submit(o, work, done, &blocker);
	wait_flag(&started);
	offload_submit_background(o, ordered_work, bg_done_cb,
	    (void *)(intptr_t)1);
	offload_submit(o, ordered_work, NULL, (void *)(intptr_t)2);
	offload_submit(o, ordered_work, ordered_done, (void *)(intptr_t)3);
	gate = 1;
	loop_until(&blocker.done);
	loop_until(&bg_done);
	cr_assert_eq(bg_done, 1, "the background work's done did not run");
	cr_assert_eq(norder, 3, "queued work did not run");
	cr_assert_eq(order[0], 3, "the awaited task ran %d-th", norder);
	cr_assert_eq(order[1], 1, "background work overtook older work");
	cr_assert_eq(order[2], 2);
	loop_for(50);
	offload_free(o);
	LEAK_CHECK();
}
