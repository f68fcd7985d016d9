/*
 * vfio_worker.h: a thread that makes one device's (or one shared dirty
 * tracker's) synchronous kernel calls off the event loop.
 *
 * A STOP_COPY transition or a data_fd read can take hundreds of ms on a
 * real device, and the loop serves every job and RPC caller: so every
 * call of vfio_dev/vfio_mig/vfio_v1/vfio_dirty runs here. One thread per
 * worker keeps a device's calls in order (the kernel serialises them
 * anyway) and lets the devices of one VM stop in parallel.
 *
 *   w = vfio_worker_new(base, "0000:3b:00.2");
 *   j = vfio_worker_submit(w, VFIO_LANE_CRITICAL, work, done, arg);
 *	work(arg) runs on the worker thread, then done(arg, 0) on the loop
 *	thread (through an eventfd the loop watches).
 *   vfio_worker_cancel_all(w)			(loop thread)
 *	waits for the call that is running (a kernel call cannot be taken
 *	back), then calls done(arg, 1) for it and for every queued or
 *	finished-but-undelivered job, before returning: the ABI's "closing
 *	completes outstanding commands with -ECANCELED".
 *   vfio_worker_free(w): cancel_all, then the thread ends.
 *
 * A critical job (a state change inside the downtime, the final read) is
 * taken before every queued bulk job, never in the middle of one.
 */
#ifndef VMIG_VFIO_WORKER_H
#define VMIG_VFIO_WORKER_H

struct event_base;
struct vfio_worker;
struct vfio_job;

enum vfio_lane {
	VFIO_LANE_BULK = 0,
	VFIO_LANE_CRITICAL = 1,
};

typedef void	(*vfio_work_fn)(void *arg);
typedef void	(*vfio_wdone_fn)(void *arg, int cancelled);

struct vfio_worker *vfio_worker_new(struct event_base *, const char *name);
void		 vfio_worker_free(struct vfio_worker *);
/* NULL only when out of memory. */
struct vfio_job	*vfio_worker_submit(struct vfio_worker *, int lane,
		    vfio_work_fn, vfio_wdone_fn, void *arg);
void		 vfio_worker_cancel_all(struct vfio_worker *);
/* Jobs submitted and not yet delivered. */
unsigned int	 vfio_worker_pending(struct vfio_worker *);

#endif /* VMIG_VFIO_WORKER_H */
