/*
 * metrics.h: Prometheus metrics over HTTP ([daemon] metrics_listen, off by
 * default), in the text exposition format at GET /metrics.
 *
 * A scrape never waits for the loop: an HTTP server on a thread of its
 * own (libevent's evhttp on its own event base, metrics_http.c) answers
 * with the last page the loop published. The loop renders a page every
 * METRICS_REFRESH_MS from what the daemon already has: the control API's
 * read-only calls run in process (ListJobs, GetJob, GetDaemonStatus,
 * ListDevices: what a client would see), rpc.c's answer counters, the
 * events publisher (events_observe(): which jobs ended, counted on the
 * next loop turn) and the device commands the engine reports
 * (metrics_dev_cmd()). A page is at most METRICS_REFRESH_MS old.
 *
 * Loop thread, except metrics_http_*, which are safe from any thread.
 */
#ifndef VMIG_METRICS_H
#define VMIG_METRICS_H

#include <stddef.h>
#include <stdint.h>

#define METRICS_REFRESH_MS	1000

struct vmigd;
struct metrics;
struct metrics_http;

/* Listen on "host:port" (port 0: any; see metrics_url()). */
struct metrics	*metrics_open(struct vmigd *d, const char *listen, char *err,
		    size_t errlen);
void		 metrics_close(struct metrics *m);
/* "http://127.0.0.1:9470/metrics", the port as bound. */
const char	*metrics_url(const struct metrics *m);
/*
 * A device command the engine issued on PF pf finished after usec with
 * err (0 or -errno); op names the command ("set mode stopped"). m may be
 * NULL (metrics off).
 */
void		 metrics_dev_cmd(struct metrics *m, const char *pf,
		    const char *op, uint64_t usec, int err);

/*
 * The class of why a job ended, for a label: "none" (completed),
 * "requested" or "shutdown" (cancelled), "timeout", "policy" (the
 * convergence policy gave up), "verify", "peer", "device", "other".
 * phase is a vmig.v1.JobPhase, error the job's error. Pure.
 */
const char	*metrics_reason_class(int phase, const char *error);

/* metrics_http.c: the server alone (tests use it without a daemon). */
struct metrics_http *metrics_http_open(const char *listen, char *err,
		    size_t errlen);
void		 metrics_http_close(struct metrics_http *h);
/* The page scrapes get from now on (malloc'd: the server's now). */
void		 metrics_http_publish(struct metrics_http *h, char *page,
		    size_t len);
const char	*metrics_http_url(const struct metrics_http *h);
uint64_t	 metrics_http_scrapes(const struct metrics_http *h);

#endif /* VMIG_METRICS_H */
