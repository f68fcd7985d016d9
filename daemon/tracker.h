/*
 * tracker.h: dirty trackers as objects of their own (backend ABI 2).
 *
 * A device names its tracker (vmig_backend.dev_tracker): none (every
 * mapped page dirty, always), its own, or an object several devices share
 * (a type1 container, an iommufd HWPT) named by a key. The engine opens
 * one tracker per backend and key, starts it once, stops it when its last
 * user stops, and closes it when the last user detaches.
 *
 * A user is one job's view of a tracker: its own maps (page sets the
 * tracker ORs into). A read reads the tracker once for every user on it:
 * the backend ORs each dirty page into every user's maps (a read clears,
 * so per-user reads would steal each other's bits), and the reads asked
 * for while one is out are served together by the next one, which starts
 * after every request it answers (a request is never answered by a read
 * that began before it: pages written in between would be lost).
 *
 * Completions are vmig_done_fn, on the loop, never from inside the call;
 * u.dirty of a read is the tracker's (records, bytes, pages, overflow).
 */
#ifndef VMIG_TRACKER_H
#define VMIG_TRACKER_H

#include <stddef.h>
#include <stdint.h>

#include "vmig/backend.h"

struct device;
struct event_base;
struct tracker;
struct tracker_set;
struct tracker_user;

struct tracker_set	*tracker_set_new(struct event_base *);
/* Every tracker is gone by then (users detach first). */
void			 tracker_set_free(struct tracker_set *);

/*
 * A user of dev's tracker, writing into maps (which must stay valid while
 * attached). 0, or -errno with err naming the device.
 */
int	 tracker_attach(struct tracker_set *, struct device *dev,
	    struct vmig_dirty_map *maps, unsigned int nmaps,
	    struct tracker_user **up, char *err, size_t errlen);
void	 tracker_detach(struct tracker_user *);
/* Asynchronous, as the ABI's; 0 submitted, or -errno. */
int	 tracker_start(struct tracker_user *, const struct vmig_iova_range *,
	    unsigned int n, uint64_t page_size, vmig_done_fn, void *arg);
int	 tracker_read(struct tracker_user *, int lane, vmig_done_fn,
	    void *arg);
int	 tracker_stop(struct tracker_user *, vmig_done_fn, void *arg);
/*
 * A start refused because the device still records (a daemon killed
 * mid-migration): stop the tracker whatever the set believes, if no other
 * user records with it; then start again.
 */
int	 tracker_reset(struct tracker_user *, vmig_done_fn, void *arg);

/*
 * Write records (ABI 2.2), for byte-exact deltas: after every successful
 * read of the user's tracker, fn gets the read's records, or NULL when
 * the backend gives none (the bits alone: every page of the read is
 * whole), twice: before the read's bits reach the user's maps (after 0)
 * and right after (after 1). fn NULL: bits only.
 */
typedef void (*tracker_recs_fn)(void *arg, const struct vmig_write_log *,
    int after);
void	 tracker_set_recs(struct tracker_user *, tracker_recs_fn, void *arg);

/* Same tracker (a group's devices may share one: attach it once). */
int	 tracker_same(struct tracker_set *, struct device *a,
	    struct device *b);
uint32_t tracker_scope(const struct tracker_user *);
/* Its start said every tracked page reads dirty at every read. */
int	 tracker_all_dirty(const struct tracker_user *);
const char *tracker_name(const struct tracker_user *);
/* Users on this user's tracker (the ones its reads serve). */
unsigned int tracker_users(const struct tracker_user *);

#endif /* VMIG_TRACKER_H */
