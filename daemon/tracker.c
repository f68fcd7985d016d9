/*
 * tracker.c: dirty trackers, one per backend and key, shared by the jobs
 * whose devices share it (tracker.h).
 *
 * A tracker reads into maps of its own, one per range it records (zeroed
 * before each read), and hands the bits to every user's maps when the
 * read ends: a user may come and go while a read is out (its maps are
 * never in the backend's hands), and users with different regions get
 * the overlap each.
 */
#include "config.h"

#include <sys/queue.h>

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>

#include "backend.h"
#include "log.h"
#include "tracker.h"
#include "util.h"

#define TRACKER_RANGES_MAX	64
/* write records kept per read for deltas (16 bytes each); more: lost */
#define TRACKER_RECS_MAX	65536

struct tracker_user {
	TAILQ_ENTRY(tracker_user) entry;
	struct tracker		*t;
	struct vmig_dirty_map	*maps;
	unsigned int		 nmaps;
	int			 started;
	int			 want_read;	/* asked, no read answers it yet */
	int			 in_read;	/* the read out answers it */
	int			 lane;
	vmig_done_fn		 read_fn;
	void			*read_arg;
	tracker_recs_fn		 recs_fn;	/* NULL: bits only */
	void			*recs_arg;
};

/* A start asked while the tracker's own start is out. */
struct tracker_wait {
	struct tracker_user	*u;
	vmig_done_fn		 fn;
	void			*arg;
};

struct tracker {
	TAILQ_ENTRY(tracker)	 entry;
	struct tracker_set	*set;
	const struct vmig_backend *ops;
	struct vmig_tracker	*h;		/* NULL: scope NONE */
	struct vmig_tracker_info info;
	char			 name[160];	/* for messages */
	TAILQ_HEAD(, tracker_user) users;
	unsigned int		 nusers;
	int			 started;
	int			 starting;
	int			 all_dirty;	/* its start said so (ABI 2.1) */
	struct tracker_wait	*waits;		/* during a start */
	unsigned int		 nwaits;
	struct vmig_iova_range	 ranges[TRACKER_RANGES_MAX];
	unsigned int		 nranges;
	uint64_t		 page_size;
	struct vmig_dirty_map	 maps[TRACKER_RANGES_MAX];	/* its own */
	struct vmig_write_log	 log;	/* the read's records (ABI 2.2) */
	int			 reading;
};

struct tracker_set {
	struct event_base	*base;
	TAILQ_HEAD(, tracker)	 list;
};

/* A completion delivered on a later loop turn (never from the call). */
struct tracker_later {
	vmig_done_fn		 fn;
	void			*arg;
	struct vmig_result	 res;
	char			 msg[256];
};

static void
tracker_later_cb(evutil_socket_t fd, short what, void *arg)
{
	struct tracker_later	*l = arg;

	if (l->msg[0] != '\0')
		l->res.msg = l->msg;
	l->fn(l->arg, &l->res);
	free(l);
}

static int
tracker_later(struct tracker_set *set, vmig_done_fn fn, void *arg,
    const struct vmig_result *res, const char *msg)
{
	struct tracker_later	*l;

	l = xcalloc(1, sizeof(*l));
	l->fn = fn;
	l->arg = arg;
	if (res != NULL)
		l->res = *res;
	if (msg != NULL)
		strlcpy_v(l->msg, msg, sizeof(l->msg));
	if (event_base_once(set->base, -1, EV_TIMEOUT, tracker_later_cb, l,
	    NULL) != 0) {
		free(l);
		return (-ENOMEM);
	}
	return (0);
}

struct tracker_set *
tracker_set_new(struct event_base *base)
{
	struct tracker_set	*set;

	set = xcalloc(1, sizeof(*set));
	set->base = base;
	TAILQ_INIT(&set->list);
	return (set);
}

void
tracker_set_free(struct tracker_set *set)
{
	if (set == NULL)
		return;
	if (!TAILQ_EMPTY(&set->list))
		log_warnx("%s: trackers still attached at exit", __func__);
	free(set);
}

/* ------------------------------------------------------------ attach */

static int
tracker_info(struct device *dev, struct vmig_tracker_info *info)
{
	const struct vmig_backend	*ops = backend_dev_ops(dev);

	memset(info, 0, sizeof(*info));
	if (ops->dev_tracker == NULL || dev->handle == NULL) {
		/* a backend that names no tracker has none */
		info->scope = VMIG_TRACK_NONE;
		return (0);
	}
	if (ops->dev_tracker(dev->handle, info) != 0)
		return (-EIO);
	info->key[sizeof(info->key) - 1] = '\0';
	if (info->scope > VMIG_TRACK_SHARED)
		return (-EPROTO);
	return (0);
}

static struct tracker *
tracker_find(struct tracker_set *set, const struct vmig_backend *ops,
    const struct vmig_tracker_info *info)
{
	struct tracker	*t;

	if (info->scope == VMIG_TRACK_NONE)
		return (NULL);	/* nothing to share: every page, always */
	TAILQ_FOREACH(t, &set->list, entry) {
		if (t->ops == ops && t->info.scope == info->scope &&
		    strcmp(t->info.key, info->key) == 0)
			return (t);
	}
	return (NULL);
}

int
tracker_same(struct tracker_set *set, struct device *a, struct device *b)
{
	struct vmig_tracker_info	ia, ib;

	if (backend_dev_ops(a) != backend_dev_ops(b) ||
	    tracker_info(a, &ia) != 0 || tracker_info(b, &ib) != 0)
		return (0);
	return (ia.scope != VMIG_TRACK_NONE && ia.scope == ib.scope &&
	    strcmp(ia.key, ib.key) == 0);
}

static struct tracker *
tracker_open(struct tracker_set *set, struct device *dev,
    const struct vmig_tracker_info *info, char *err, size_t errlen)
{
	const struct vmig_backend	*ops = backend_dev_ops(dev);
	struct tracker			*t;
	char				 why[BACKEND_ERR_MAX];
	int				 rc;

	t = xcalloc(1, sizeof(*t));
	t->set = set;
	t->ops = ops;
	t->info = *info;
	TAILQ_INIT(&t->users);
	if (info->scope == VMIG_TRACK_NONE)
		snprintf(t->name, sizeof(t->name), "%s (none)", dev->name);
	else if (info->scope == VMIG_TRACK_DEVICE)
		snprintf(t->name, sizeof(t->name), "%s", dev->name);
	else
		snprintf(t->name, sizeof(t->name), "%s (shared by key %s)",
		    dev->name, info->key);
	if (info->scope != VMIG_TRACK_NONE) {
		why[0] = '\0';
		if (ops->tracker_open == NULL || ops->tracker_read == NULL ||
		    ops->tracker_start == NULL || ops->tracker_stop == NULL)
			rc = -ENOTSUP;
		else
			rc = ops->tracker_open(dev->handle, &t->h, why,
			    sizeof(why));
		if (rc != 0 || t->h == NULL) {
			why[sizeof(why) - 1] = '\0';
			err_set(err, errlen, rc < 0 ? rc : -EIO, "device %s: "
			    "its dirty tracker: %s", dev->name, why[0] !=
			    '\0' ? why : rc == -ENOTSUP ? "the backend has no "
			    "tracker calls" : strerror(rc < 0 ? -rc : EIO));
			free(t);
			return (NULL);
		}
	}
	TAILQ_INSERT_TAIL(&set->list, t, entry);
	log_debug("%s: tracker %s opened", __func__, t->name);
	return (t);
}

int
tracker_attach(struct tracker_set *set, struct device *dev,
    struct vmig_dirty_map *maps, unsigned int nmaps, struct tracker_user **up,
    char *err, size_t errlen)
{
	struct vmig_tracker_info	 info;
	struct tracker			*t;
	struct tracker_user		*u;
	int				 rc;

	if ((rc = tracker_info(dev, &info)) != 0)
		return (err_set(err, errlen, rc, "device %s: its backend "
		    "names no valid tracker", dev->name));
	if ((t = tracker_find(set, backend_dev_ops(dev), &info)) == NULL &&
	    (t = tracker_open(set, dev, &info, err, errlen)) == NULL)
		return (-EIO);
	u = xcalloc(1, sizeof(*u));
	u->t = t;
	u->maps = maps;
	u->nmaps = nmaps;
	TAILQ_INSERT_TAIL(&t->users, u, entry);
	t->nusers++;
	*up = u;
	return (0);
}

void
tracker_detach(struct tracker_user *u)
{
	struct tracker	*t;
	unsigned int	 i;

	if (u == NULL)
		return;
	t = u->t;
	for (i = 0; i < t->nwaits; i++) {
		if (t->waits[i].u == u)
			t->waits[i].u = NULL;	/* its start is answered to no one */
	}
	TAILQ_REMOVE(&t->users, u, entry);
	free(u);
	if (--t->nusers > 0)
		return;
	/* the last user: a tracker still recording is closed as it is */
	TAILQ_REMOVE(&t->set->list, t, entry);
	if (t->h != NULL)
		t->ops->tracker_close(t->h);
	for (i = 0; i < t->nranges; i++)
		free(t->maps[i].bits);
	free(t->log.recs);
	free(t->waits);
	log_debug("%s: tracker %s closed", __func__, t->name);
	free(t);
}

int
tracker_all_dirty(const struct tracker_user *u)
{
	return (u->t->all_dirty);
}

uint32_t
tracker_scope(const struct tracker_user *u)
{
	return (u->t->info.scope);
}

const char *
tracker_name(const struct tracker_user *u)
{
	return (u->t->name);
}

unsigned int
tracker_users(const struct tracker_user *u)
{
	return (u->t->nusers);
}

/* ------------------------------------------------------------ start, stop */

static int
tracker_same_ranges(const struct tracker *t, const struct vmig_iova_range *r,
    unsigned int n, uint64_t page_size)
{
	unsigned int	i;

	if (n != t->nranges || page_size != t->page_size)
		return (0);
	for (i = 0; i < n; i++) {
		if (r[i].iova != t->ranges[i].iova ||
		    r[i].length != t->ranges[i].length)
			return (0);
	}
	return (1);
}

/* The tracker's own maps: one per range, at its page size. */
static void
tracker_maps_init(struct tracker *t)
{
	unsigned int	i;
	uint64_t	npages;

	for (i = 0; i < t->nranges; i++) {
		npages = t->ranges[i].length / t->page_size;
		t->maps[i].iova = t->ranges[i].iova;
		t->maps[i].length = t->ranges[i].length;
		t->maps[i].page_size = t->page_size;
		t->maps[i].bits = xcalloc((npages + 63) / 64, sizeof(uint64_t));
	}
}

static void
tracker_started(void *arg, const struct vmig_result *res)
{
	struct tracker		*t = arg;
	struct tracker_wait	*w;
	unsigned int		 i, n;

	t->starting = 0;
	if (res->err == 0) {
		t->started = 1;
		t->all_dirty = res->u.track.all_dirty;
		tracker_maps_init(t);
	}
	/* the callbacks may start or detach others: take the list first */
	w = t->waits;
	n = t->nwaits;
	t->waits = NULL;
	t->nwaits = 0;
	for (i = 0; i < n; i++) {
		if (w[i].u != NULL && res->err == 0)
			w[i].u->started = 1;
		w[i].fn(w[i].arg, res);
	}
	free(w);
}

int
tracker_start(struct tracker_user *u, const struct vmig_iova_range *r,
    unsigned int n, uint64_t page_size, vmig_done_fn fn, void *arg)
{
	struct tracker		*t = u->t;
	struct vmig_result	 res;
	char			 msg[400];
	int			 rc;

	memset(&res, 0, sizeof(res));
	if (t->info.scope == VMIG_TRACK_NONE) {
		u->started = 1;
		return (tracker_later(t->set, fn, arg, &res, NULL));
	}
	if (t->started) {
		/* one start per tracker: a second user records the same */
		if (!tracker_same_ranges(t, r, n, page_size)) {
			res.err = -EBUSY;
			snprintf(msg, sizeof(msg), "tracker %s records other "
			    "ranges already (%u at page size %" PRIu64 ")",
			    t->name, t->nranges, t->page_size);
			return (tracker_later(t->set, fn, arg, &res, msg));
		}
		u->started = 1;
		res.u.track.all_dirty = t->all_dirty;
		return (tracker_later(t->set, fn, arg, &res, NULL));
	}
	if (n == 0 || n > TRACKER_RANGES_MAX)
		return (-E2BIG);
	t->waits = xreallocarray(t->waits, t->nwaits + 1, sizeof(*t->waits));
	t->waits[t->nwaits].u = u;
	t->waits[t->nwaits].fn = fn;
	t->waits[t->nwaits].arg = arg;
	t->nwaits++;
	if (t->starting)
		return (0);	/* the start out answers this one too */
	memcpy(t->ranges, r, n * sizeof(*r));
	t->nranges = n;
	t->page_size = page_size;
	t->starting = 1;
	if ((rc = t->ops->tracker_start(t->h, r, n, page_size,
	    tracker_started, t)) != 0) {
		t->starting = 0;
		t->nwaits--;
		return (rc);
	}
	return (0);
}

struct tracker_stopping {
	struct tracker	*t;
	vmig_done_fn	 fn;
	void		*arg;
};

static void
tracker_stopped(void *arg, const struct vmig_result *res)
{
	struct tracker_stopping	*s = arg;
	unsigned int		 i;

	if (res->err == 0) {
		s->t->started = 0;
		for (i = 0; i < s->t->nranges; i++) {
			free(s->t->maps[i].bits);
			s->t->maps[i].bits = NULL;
		}
		s->t->nranges = 0;
	}
	s->fn(s->arg, res);
	free(s);
}

/*
 * Stop the tracker unless a user still records with it (then, or with
 * nothing to stop, fn follows at once). force: whatever t->started says.
 */
static int
tracker_stop_unused(struct tracker *t, int force, vmig_done_fn fn, void *arg)
{
	struct tracker_user	*o;
	struct tracker_stopping	*s;
	struct vmig_result	 res;
	int			 rc;

	memset(&res, 0, sizeof(res));
	TAILQ_FOREACH(o, &t->users, entry) {
		if (o->started)	/* another user (job) still records */
			return (tracker_later(t->set, fn, arg, &res, NULL));
	}
	if (t->info.scope == VMIG_TRACK_NONE || (!t->started && !force))
		return (tracker_later(t->set, fn, arg, &res, NULL));
	s = xcalloc(1, sizeof(*s));
	s->t = t;
	s->fn = fn;
	s->arg = arg;
	if ((rc = t->ops->tracker_stop(t->h, tracker_stopped, s)) != 0)
		free(s);
	return (rc);
}

int
tracker_stop(struct tracker_user *u, vmig_done_fn fn, void *arg)
{
	u->started = 0;
	return (tracker_stop_unused(u->t, 0, fn, arg));
}

/* ------------------------------------------------------------ reads */

/* OR the bits of src into dst where their ranges overlap (same page size). */
static uint64_t
tracker_map_or(struct vmig_dirty_map *dst, const struct vmig_dirty_map *src)
{
	uint64_t	s, e, ps = src->page_size, n, first, k, added = 0;
	uint64_t	si, di;

	if (dst->page_size != ps)
		return (0);
	s = MAX(dst->iova, src->iova);
	e = MIN(dst->iova + dst->length, src->iova + src->length);
	if (s >= e)
		return (0);
	n = (e - s) / ps;
	first = (s - src->iova) / ps;
	for (k = 0; k < n; k++) {
		si = first + k;
		/* skip empty words of the source quickly */
		if ((si & 63) == 0 && src->bits[si / 64] == 0 && k + 63 < n) {
			k += 63;
			continue;
		}
		if ((src->bits[si / 64] & (1ULL << (si & 63))) == 0)
			continue;
		di = (s - dst->iova) / ps + k;
		if ((dst->bits[di / 64] & (1ULL << (di & 63))) == 0) {
			dst->bits[di / 64] |= 1ULL << (di & 63);
			added++;
		}
	}
	return (added);
}

static void	tracker_issue_read(struct tracker *);

static void
tracker_read_done(void *arg, const struct vmig_result *res)
{
	struct tracker		*t = arg;
	struct tracker_user	*u;
	struct vmig_result	 r = *res;
	struct tracker_wait	*w;
	unsigned int		 i, j, n = 0;

	t->reading = 0;
	/*
	 * every user gets the records, then the bits, asked or not: a read
	 * clears them (records first: a user tells the pages this read made
	 * dirty from those already dirty before it)
	 */
	if (res->err == 0) {
		TAILQ_FOREACH(u, &t->users, entry) {
			if (u->recs_fn != NULL)
				u->recs_fn(u->recs_arg, t->log.recs != NULL ?
				    &t->log : NULL, 0);
		}
		TAILQ_FOREACH(u, &t->users, entry) {
			for (i = 0; i < u->nmaps; i++)
				for (j = 0; j < t->nranges; j++)
					(void)tracker_map_or(&u->maps[i],
					    &t->maps[j]);
			if (u->recs_fn != NULL)
				u->recs_fn(u->recs_arg, t->log.recs != NULL ?
				    &t->log : NULL, 1);
		}
	}
	w = xcalloc(t->nusers + 1, sizeof(*w));
	TAILQ_FOREACH(u, &t->users, entry) {
		if (!u->in_read)
			continue;
		u->in_read = 0;
		w[n].fn = u->read_fn;
		w[n].arg = u->read_arg;
		n++;
	}
	/* those who asked meanwhile: the next read, begun after them */
	TAILQ_FOREACH(u, &t->users, entry) {
		if (u->want_read) {
			tracker_issue_read(t);
			break;
		}
	}
	for (i = 0; i < n; i++)
		w[i].fn(w[i].arg, &r);
	free(w);
}

static void
tracker_issue_read(struct tracker *t)
{
	struct tracker_user	*u;
	struct vmig_result	 res;
	unsigned int		 i;
	int			 lane = VMIG_LANE_BULK, rc;

	TAILQ_FOREACH(u, &t->users, entry) {
		if (!u->want_read)
			continue;
		u->want_read = 0;
		u->in_read = 1;
		if (u->lane == VMIG_LANE_CRITICAL)
			lane = VMIG_LANE_CRITICAL;
	}
	for (i = 0; i < t->nranges; i++)
		memset(t->maps[i].bits, 0, (t->maps[i].length /
		    t->page_size + 63) / 64 * sizeof(uint64_t));
	t->reading = 1;
	if (t->ops->abi_minor >= 2 && t->ops->tracker_read_records != NULL) {
		if (t->log.recs == NULL) {
			t->log.recs = xcalloc(TRACKER_RECS_MAX,
			    sizeof(*t->log.recs));
			t->log.cap = TRACKER_RECS_MAX;
		}
		t->log.n = 0;
		t->log.lost = 0;
		rc = t->ops->tracker_read_records(t->h, t->maps, t->nranges,
		    &t->log, lane, tracker_read_done, t);
	} else
		rc = t->ops->tracker_read(t->h, t->maps, t->nranges, lane,
		    tracker_read_done, t);
	if (rc == 0)
		return;
	/* not submitted: every request of this read is answered so, later */
	memset(&res, 0, sizeof(res));
	res.err = rc;
	t->reading = 0;
	TAILQ_FOREACH(u, &t->users, entry) {
		if (!u->in_read)
			continue;
		u->in_read = 0;
		(void)tracker_later(t->set, u->read_fn, u->read_arg, &res,
		    "the tracker read could not be submitted");
	}
}

/* No tracker: every mapped page of the user's maps is dirty, always. */
static int
tracker_read_none(struct tracker_user *u, vmig_done_fn fn, void *arg)
{
	struct vmig_result	res;
	unsigned int		i;
	uint64_t		npages, w, nw;

	memset(&res, 0, sizeof(res));
	for (i = 0; i < u->nmaps; i++) {
		npages = u->maps[i].length / u->maps[i].page_size;
		nw = npages / 64;
		for (w = 0; w < nw; w++)
			u->maps[i].bits[w] = ~0ULL;
		if (npages % 64)
			u->maps[i].bits[nw] |= (1ULL << (npages % 64)) - 1;
		res.u.dirty.pages += npages;
		res.u.dirty.bytes += u->maps[i].length;
	}
	return (tracker_later(u->t->set, fn, arg, &res, NULL));
}

int
tracker_read(struct tracker_user *u, int lane, vmig_done_fn fn, void *arg)
{
	struct tracker	*t = u->t;

	if (t->info.scope == VMIG_TRACK_NONE)
		return (tracker_read_none(u, fn, arg));
	if (!t->started || !u->started)
		return (-EINVAL);
	if (u->want_read || u->in_read)
		return (-EBUSY);
	u->want_read = 1;
	u->lane = lane;
	u->read_fn = fn;
	u->read_arg = arg;
	if (!t->reading)
		tracker_issue_read(t);
	return (0);
}

void
tracker_set_recs(struct tracker_user *u, tracker_recs_fn fn, void *arg)
{
	u->recs_fn = fn;
	u->recs_arg = arg;
}

int
tracker_reset(struct tracker_user *u, vmig_done_fn fn, void *arg)
{
	return (tracker_stop_unused(u->t, 1, fn, arg));
}
