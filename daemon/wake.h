/*
 * wake.h: hand work to the libevent loop from any thread.
 *
 * wake_post(w, fn, arg) may be called from any thread (nng callbacks, data
 * plane workers); fn(arg) then runs on the loop thread, in posting order.
 * The loop is woken with event_active(), which coalesces: one wake-up runs
 * every item posted so far.
 *
 * Ownership: whoever posts must keep arg alive until fn runs, or take the
 * item back with wake_cancel() first. wake_free() drops items not yet run,
 * so stop every producer before it.
 */
#ifndef VMIG_WAKE_H
#define VMIG_WAKE_H

struct event_base;
struct wake;

typedef void (*wake_fn)(void *arg);

struct wake	*wake_new(struct event_base *base);
void		 wake_free(struct wake *w);
void		 wake_post(struct wake *w, wake_fn fn, void *arg);
/* Drop pending items for fn(arg) (fn NULL: any fn); returns how many. */
unsigned int	 wake_cancel(struct wake *w, wake_fn fn, void *arg);
/* Run what is pending now (loop thread only); returns how many ran. */
unsigned int	 wake_run(struct wake *w);

#endif /* VMIG_WAKE_H */
