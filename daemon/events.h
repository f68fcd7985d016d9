/*
 * events.h: the WatchEvents publisher, an nng PUB socket on events_url.
 *
 * Each nng message is one packed vmig.v1.Event; events_publish() numbers
 * them (seq, from 1) and stamps unix_ms. Subscribers that connect late miss
 * what was sent before (PUB/SUB); seq shows gaps. Loop thread only.
 * Every function accepts a NULL publisher (events disabled) and does
 * nothing.
 */
#ifndef VMIG_EVENTS_H
#define VMIG_EVENTS_H

#include <stddef.h>
#include <stdint.h>

#include "vmig.pb-c.h"

struct events;

struct events	*events_open(const char *url, int ipc_mode, char *err,
		    size_t errlen);
void		 events_close(struct events *ev);
/* Sets ev->seq and ev->unix_ms, then sends; returns 0 or -errno. */
int		 events_publish(struct events *ev, Vmig__V1__Event *e);
/* A KIND_DEVICE event about a device or PF, with a message. */
void		 events_device(struct events *ev, const char *device,
		    const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/*
 * An observer sees every event published, before it is sent and also
 * when events are off (metrics.c counts the jobs that end); loop thread.
 * NULL: none.
 */
typedef void	(*events_observer_fn)(void *arg, const Vmig__V1__Event *e);
void		 events_observe(events_observer_fn fn, void *arg);
const char	*events_url(const struct events *ev);
uint64_t	 events_sent(const struct events *ev);

#endif /* VMIG_EVENTS_H */
