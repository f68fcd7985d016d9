/*
 * wake.c: a mutex-protected list of (fn, arg) and one event made active to
 * wake the loop. event_active() coalesces (an active event is only marked
 * again), so the callback runs every item posted so far: one wake-up may
 * stand for many posts. Items are taken off one at a time, so an item may
 * wake_cancel() another that is still pending.
 */
#include "config.h"

#include <sys/queue.h>

#include <stdlib.h>

#include <event2/event.h>
/*
 * nng's mutex rather than <pthread.h>: daemon/ is on the include path and
 * daemon/sched.h would stand in for the <sched.h> that pthread.h includes.
 */
#include <nng/nng.h>
#include <nng/supplemental/util/platform.h>

#include "log.h"
#include "util.h"
#include "wake.h"

struct wake_item {
	wake_fn			 fn;
	void			*arg;
	TAILQ_ENTRY(wake_item)	 entry;
};
TAILQ_HEAD(wake_items, wake_item);

struct wake {
	struct event		*ev;
	nng_mtx			*lock;
	struct wake_items	 items;
	unsigned int		 nitems;
};

static void
wake_cb(evutil_socket_t fd, short what, void *arg)
{
	wake_run(arg);
}

struct wake *
wake_new(struct event_base *base)
{
	struct wake	*w;

	w = xcalloc(1, sizeof(*w));
	TAILQ_INIT(&w->items);
	if (nng_mtx_alloc(&w->lock) != 0)
		fatalx("%s: nng_mtx_alloc", __func__);
	if ((w->ev = event_new(base, -1, 0, wake_cb, w)) == NULL)
		fatalx("%s: event_new", __func__);
	return (w);
}

void
wake_free(struct wake *w)
{
	struct wake_item	*it;
	unsigned int		 n = 0;

	if (w == NULL)
		return;
	while ((it = TAILQ_FIRST(&w->items)) != NULL) {
		TAILQ_REMOVE(&w->items, it, entry);
		free(it);
		n++;
	}
	if (n != 0)
		log_debug("%s: dropped %u items not run", __func__, n);
	event_free(w->ev);
	nng_mtx_free(w->lock);
	free(w);
}

void
wake_post(struct wake *w, wake_fn fn, void *arg)
{
	struct wake_item	*it;

	it = xmalloc(sizeof(*it));
	it->fn = fn;
	it->arg = arg;
	nng_mtx_lock(w->lock);
	TAILQ_INSERT_TAIL(&w->items, it, entry);
	w->nitems++;
	nng_mtx_unlock(w->lock);
	/* Safe from any thread with evthread_use_pthreads(). */
	event_active(w->ev, EV_READ, 0);
}

unsigned int
wake_cancel(struct wake *w, wake_fn fn, void *arg)
{
	struct wake_item	*it, *next;
	unsigned int		 n = 0;

	nng_mtx_lock(w->lock);
	for (it = TAILQ_FIRST(&w->items); it != NULL; it = next) {
		next = TAILQ_NEXT(it, entry);
		if (it->arg != arg || (fn != NULL && it->fn != fn))
			continue;
		TAILQ_REMOVE(&w->items, it, entry);
		w->nitems--;
		free(it);
		n++;
	}
	nng_mtx_unlock(w->lock);
	return (n);
}

unsigned int
wake_run(struct wake *w)
{
	struct wake_item	*it;
	wake_fn			 fn;
	void			*arg;
	unsigned int		 n = 0, todo;

	/* Only what is queued now: items posted meanwhile wake us again. */
	nng_mtx_lock(w->lock);
	todo = w->nitems;
	nng_mtx_unlock(w->lock);

	while (n < todo) {
		nng_mtx_lock(w->lock);
		if ((it = TAILQ_FIRST(&w->items)) != NULL) {
			TAILQ_REMOVE(&w->items, it, entry);
			w->nitems--;
		}
		nng_mtx_unlock(w->lock);
		if (it == NULL)
			break;
		fn = it->fn;
		arg = it->arg;
		free(it);
		fn(arg);
		n++;
	}
	return (n);
}
