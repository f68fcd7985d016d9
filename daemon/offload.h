/*
 * offload.h: work too long for the event loop, done by worker threads.
 *
 * The loop owns all state, so every callback on it delays every other job
 * and every RPC caller. Hashing a whole guest memory map (verify) or
 * unmapping it takes milliseconds per 32 MiB and scales with the VM: those
 * run here, on a small pool of threads, and their completion comes back to
 * the loop through a wake (wake.h).
 *
 *   task = offload_submit(o, work, done, arg);
 *	work(task, arg) runs on a worker thread; it should look at
 *	offload_stopping(task) between chunks of a long job.
 *	done(arg) then runs on the loop thread, and the task is freed.
 *   offload_cancel(task)		(loop thread)
 *	done is not called; when it returns no worker touches arg any more
 *	(a running work is waited for: it stops at its next chunk).
 *
 * Work that has a done (somebody waits for it) is taken before work that
 * has none, each in submission order.
 *   task = offload_submit_background(o, work, done, arg);
 *	the same, but queued as work without a done is: its done tells the
 *	loop it ended, nobody waits for it (populating a mapping ahead of
 *	its transfer).
 *
 * Threads start with the first task, so a daemon that never verifies or
 * unmaps has none. offload_free() asks running work to stop and waits for
 * it, drops queued work that has a done (its owner goes away too) and runs
 * queued work without one (fire and forget: it must not be lost).
 */
#ifndef VMIG_OFFLOAD_H
#define VMIG_OFFLOAD_H

struct event_base;
struct offload;
struct offload_task;

typedef void (*offload_work_fn)(struct offload_task *, void *arg);
typedef void (*offload_done_fn)(void *arg);

#define OFFLOAD_THREADS_MAX	16

struct offload	*offload_new(struct event_base *base, unsigned int nthreads);
void		 offload_free(struct offload *o);
/* done may be NULL (fire and forget: nothing to hand back). */
struct offload_task *offload_submit(struct offload *o, offload_work_fn work,
		    offload_done_fn done, void *arg);
struct offload_task *offload_submit_background(struct offload *o,
		    offload_work_fn work, offload_done_fn done, void *arg);
void		 offload_cancel(struct offload_task *t);
/* Worker side: true once the task was cancelled (stop early). */
int		 offload_stopping(const struct offload_task *t);

#endif /* VMIG_OFFLOAD_H */
