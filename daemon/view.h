/*
 * view.h: packed copies of the jobs, for callers that must not wait for
 * the loop.
 *
 * The loop owns every job; a GetJob that waits behind a bulk page copy of
 * another job waits milliseconds for a few microseconds of work. So the
 * loop publishes each job here (packed vmig.v1.Job bytes) at every phase
 * change, after every control call it handles and every
 * VIEW_REFRESH_MS while the job runs; nng's threads answer GetJob from
 * the copy (rpc.h, rpc_set_fast). A reader sees a job as it was at most
 * VIEW_REFRESH_MS ago, and never older than the caller's own last call.
 *
 * view_put and view_del: loop thread. view_get: any thread.
 */
#ifndef VMIG_VIEW_H
#define VMIG_VIEW_H

#include <stddef.h>
#include <stdint.h>

#define VIEW_REFRESH_MS	100

struct view;

struct view	*view_new(void);
void		 view_free(struct view *);
/* Replace job id's copy with len bytes at buf (malloc'd: the view's now). */
void		 view_put(struct view *, uint64_t id, void *buf, size_t len);
void		 view_del(struct view *, uint64_t id);
/* A malloc'd copy of job id's bytes: 0, or -ENOENT. */
int		 view_get(struct view *, uint64_t id, void **buf, size_t *len);
size_t		 view_count(struct view *);

#endif /* VMIG_VIEW_H */
