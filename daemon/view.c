/*
 * view.c: an array of (id, bytes) sorted by id under one mutex. Job ids
 * only grow, so a new job is an append; lookups are a binary search; a
 * few hundred entries at most (live jobs and the finished ones kept).
 * The mutex is held for a copy of a few kilobytes at most.
 */
#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

/* nng's mutex: daemon/sched.h would shadow the <sched.h> of pthread.h */
#include <nng/nng.h>
#include <nng/supplemental/util/platform.h>

#include "log.h"
#include "util.h"
#include "view.h"

struct view_entry {
	uint64_t	 id;
	void		*buf;
	size_t		 len;
};

struct view {
	nng_mtx			*lock;
	struct view_entry	*v;
	size_t			 n;
	size_t			 cap;
};

struct view *
view_new(void)
{
	struct view	*w;

	w = xcalloc(1, sizeof(*w));
	if (nng_mtx_alloc(&w->lock) != 0)
		fatalx("%s: out of memory", __func__);
	return (w);
}

void
view_free(struct view *w)
{
	size_t	i;

	if (w == NULL)
		return;
	for (i = 0; i < w->n; i++)
		free(w->v[i].buf);
	free(w->v);
	nng_mtx_free(w->lock);
	free(w);
}

/* Index of id, or where it would go. Lock held. */
static size_t
view_find(const struct view *w, uint64_t id)
{
	size_t	lo = 0, hi = w->n, mid;

	while (lo < hi) {
		mid = lo + (hi - lo) / 2;
		if (w->v[mid].id < id)
			lo = mid + 1;
		else
			hi = mid;
	}
	return (lo);
}

void
view_put(struct view *w, uint64_t id, void *buf, size_t len)
{
	void	*old = NULL;
	size_t	 i;

	nng_mtx_lock(w->lock);
	i = view_find(w, id);
	if (i < w->n && w->v[i].id == id) {
		old = w->v[i].buf;
	} else {
		if (w->n == w->cap) {
			w->cap = w->cap == 0 ? 64 : w->cap * 2;
			w->v = xrealloc(w->v, w->cap * sizeof(*w->v));
		}
		memmove(&w->v[i + 1], &w->v[i], (w->n - i) * sizeof(*w->v));
		w->n++;
		w->v[i].id = id;
	}
	w->v[i].buf = buf;
	w->v[i].len = len;
	nng_mtx_unlock(w->lock);
	free(old);
}

void
view_del(struct view *w, uint64_t id)
{
	void	*old = NULL;
	size_t	 i;

	nng_mtx_lock(w->lock);
	i = view_find(w, id);
	if (i < w->n && w->v[i].id == id) {
		old = w->v[i].buf;
		memmove(&w->v[i], &w->v[i + 1], (w->n - i - 1) *
		    sizeof(*w->v));
		w->n--;
	}
	nng_mtx_unlock(w->lock);
	free(old);
}

int
view_get(struct view *w, uint64_t id, void **buf, size_t *len)
{
	size_t	i;
	int	rc = -ENOENT;

	nng_mtx_lock(w->lock);
	i = view_find(w, id);
	if (i < w->n && w->v[i].id == id) {
		*len = w->v[i].len;
		*buf = xmalloc(*len > 0 ? *len : 1);
		memcpy(*buf, w->v[i].buf, *len);
		rc = 0;
	}
	nng_mtx_unlock(w->lock);
	return (rc);
}

size_t
view_count(struct view *w)
{
	size_t	n;

	nng_mtx_lock(w->lock);
	n = w->n;
	nng_mtx_unlock(w->lock);
	return (n);
}
