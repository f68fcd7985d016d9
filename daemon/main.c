/*
 * main.c: vmigd's life: options and config, the loop, signals, sd_notify,
 * reload and shutdown. The modules do the work; this file wires them up in
 * order (clients connect last, when everything they can ask about exists)
 * and takes them down in reverse.
 */
#include "config.h"

#include <sys/stat.h>

#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>
#include <event2/thread.h>
#include <nng/nng.h>

#include "api.h"
#include "backend.h"
#include "conf.h"
#include "events.h"
#include "job.h"
#include "log.h"
#include "notify.h"
#include "rpc.h"
#include "stream.h"
#include "util.h"
#include "vmigd.h"
#include "wake.h"

static void
vmigd_status(struct vmigd *d, char *buf, size_t len)
{
	struct rpc_stats	st;
	unsigned int		npf, nvf;

	npf = backend_pf_online(d->backends, &nvf);
	memset(&st, 0, sizeof(st));
	if (d->rpc != NULL)
		rpc_get_stats(d->rpc, &st);
	snprintf(buf, len, "%u/%u PFs online, %u VFs; %" PRIu64 " requests "
	    "served; rpc %s", npf, d->conf->npfs, nvf, st.requests,
	    d->rpc != NULL ? rpc_url(d->rpc) : d->conf->rpc_url);
}

static void
vmigd_status_cb(evutil_socket_t fd, short what, void *arg)
{
	char	status[256];

	vmigd_status(arg, status, sizeof(status));
	notify_status(status);
}

static void
vmigd_watchdog_cb(evutil_socket_t fd, short what, void *arg)
{
	notify_watchdog();
}

static void
vmigd_set_status_timer(struct vmigd *d)
{
	struct timeval	tv;

	tv.tv_sec = (time_t)(d->conf->status_interval_ms / 1000);
	tv.tv_usec = (suseconds_t)(d->conf->status_interval_ms % 1000) * 1000;
	evtimer_add(d->ev_status, &tv);
}

/* The engine is ours: its limits come from the configuration. */
static void
vmigd_set_limits(struct vmigd *d)
{
	engine_set_limits(d->engine, d->conf->max_outgoing,
	    d->conf->max_incoming, d->conf->max_per_pf, d->conf->bandwidth);
	engine_set_data_conns(d->engine, d->conf->data_connections);
	engine_set_prefault(d->engine, d->conf->prefault_memory);
}

static void
vmigd_reload(struct vmigd *d)
{
	Vmig__V1__Event	 e = VMIG__V1__EVENT__INIT;
	struct config	*next;
	char		 err[1024], status[256], msg[300], failed[1400];

	notify_reloading();
	log_info("reloading the configuration");
	d->reloads++;
	if ((next = config_build(d->args, err, sizeof(err))) == NULL) {
		log_error("reload failed, the running configuration stays: %s",
		    err);
		vmigd_status(d, status, sizeof(status));
		snprintf(failed, sizeof(failed), "%s (reload failed: %s)",
		    status, err);
		notify_ready(failed);
		return;
	}
	config_keep_static(next, d->conf);
	config_free(d->conf);
	d->conf = next;
	log_setlevel(d->conf->log_level);
	backends_configure(d->backends, d->conf);
	vmigd_set_limits(d);
	vmigd_set_status_timer(d);

	vmigd_status(d, status, sizeof(status));
	snprintf(msg, sizeof(msg), "configuration reloaded: %s", status);
	e.message = msg;
	events_publish(d->events, &e);
	log_info("%s", msg);
	notify_ready(status);
}

/*
 * Shutdown waits for the jobs' rollbacks (a source device must be running
 * again, a destination's partial state discarded) before the loop stops,
 * up to VMIGD_STOP_GRACE_MS; a second signal stops at once.
 */
#define VMIGD_STOP_GRACE_MS	15000

static void
vmigd_stop_cb(evutil_socket_t fd, short what, void *arg)
{
	struct vmigd	*d = arg;
	unsigned int	 live = engine_cancel_all(d->engine,
	    "the daemon is shutting down");

	if (live == 0 || now_ms() >= d->stop_deadline_ms) {
		if (live != 0)
			log_warnx("%u jobs still rolling back after %d ms: "
			    "stopping anyway", live, VMIGD_STOP_GRACE_MS);
		event_base_loopexit(d->base, NULL);
	}
}

static void
vmigd_signal_cb(evutil_socket_t sig, short what, void *arg)
{
	struct vmigd	*d = arg;
	struct timeval	 tv = { 0, 50000 };
	unsigned int	 live;

	if (sig == SIGHUP) {
		vmigd_reload(d);
		return;
	}
	if (d->stopping) {
		log_info("%s again: stopping now", strsignal(sig));
		event_base_loopexit(d->base, NULL);
		return;
	}
	d->stopping = 1;
	notify_stopping();
	if ((live = engine_cancel_all(d->engine,
	    "the daemon is shutting down")) == 0) {
		log_info("%s: shutting down", strsignal(sig));
		event_base_loopexit(d->base, NULL);
		return;
	}
	log_info("%s: shutting down once %u jobs have rolled back",
	    strsignal(sig), live);
	d->stop_deadline_ms = now_ms() + VMIGD_STOP_GRACE_MS;
	d->ev_stop = event_new(d->base, -1, EV_PERSIST, vmigd_stop_cb, d);
	evtimer_add(d->ev_stop, &tv);
}

/* Under systemd RuntimeDirectory= makes /run/vmigd; by hand, we do. */
static void
vmigd_ipc_dir(const char *url)
{
	char	*dir, *slash;

	if (url == NULL || strncmp(url, "ipc://", 6) != 0)
		return;
	dir = xstrdup(url + 6);
	if ((slash = strrchr(dir, '/')) != NULL && slash != dir) {
		*slash = '\0';
		if (mkdir(dir, 0755) == 0)
			log_info("created %s for %s", dir, url);
	}
	free(dir);
}

static void
vmigd_free(struct vmigd *d)
{
	if (d->ev_sigterm != NULL)
		event_free(d->ev_sigterm);
	if (d->ev_sigint != NULL)
		event_free(d->ev_sigint);
	if (d->ev_sighup != NULL)
		event_free(d->ev_sighup);
	if (d->ev_status != NULL)
		event_free(d->ev_status);
	if (d->ev_watchdog != NULL)
		event_free(d->ev_watchdog);
	if (d->ev_stop != NULL)
		event_free(d->ev_stop);
	/* jobs first stop acting, then their devices' backends close */
	if (d->engine != NULL)
		engine_freeze(d->engine);
	rpc_close(d->rpc);
	backends_free(d->backends);
	api_job_free(d);
	engine_free(d->engine);
	stream_flush();		/* sockets still lingering before nng_close */
	events_close(d->events);
	if (d->wake != NULL)
		wake_free(d->wake);
	if (d->base != NULL)
		event_base_free(d->base);
	config_free(d->conf);
}

static void
vmigd_ready(void *arg)
{
	struct vmigd	*d = arg;
	char		 status[256];

	vmigd_status(d, status, sizeof(status));
	log_info("vmigd %s ready: %s", PACKAGE_VERSION, status);
	notify_ready(status);
	if (d->ev_watchdog != NULL)
		notify_watchdog();
}

static int
vmigd_start(struct vmigd *d)
{
	struct rpc_params	 p;
	struct event_config	*cfg;
	struct timeval		 tv;
	uint64_t		 wd;
	char			 err[1024];

	if (evthread_use_pthreads() != 0) {
		log_error("libevent has no pthreads support");
		return (-1);
	}
	/*
	 * libevent runs every active callback of a priority before it looks
	 * for new events; bulk callbacks (a few MiB of copying each) must
	 * not hold a job in stop-copy back that long: after each one, look.
	 */
	if ((cfg = event_config_new()) == NULL ||
	    event_config_set_max_dispatch_interval(cfg, NULL, 1,
	    VMIG_PRIO_BULK) != 0 ||
	    (d->base = event_base_new_with_config(cfg)) == NULL) {
		if (cfg != NULL)
			event_config_free(cfg);
		log_error("cannot create the event loop");
		return (-1);
	}
	event_config_free(cfg);
	if (event_base_priority_init(d->base, VMIG_NPRIO) != 0) {
		log_error("cannot set up event priorities");
		return (-1);
	}
	d->start_ms = now_ms();
	d->wake = wake_new(d->base);

	if ((d->backends = backends_new(d->base, d->conf->plugin_dir, err,
	    sizeof(err))) == NULL) {
		log_error("%s", err);
		return (-1);
	}
	if (*d->conf->events_url != '\0') {
		vmigd_ipc_dir(d->conf->events_url);
		if ((d->events = events_open(d->conf->events_url, 0, err,
		    sizeof(err))) == NULL) {
			log_error("%s", err);
			return (-1);
		}
	}
	d->backends->events = d->events;
	backends_configure(d->backends, d->conf);
	d->engine = engine_new(d->base, d->backends);
	engine_set_stream_bind(d->engine, d->conf->stream_bind);
	vmigd_set_limits(d);
	api_job_init(d);

	memset(&p, 0, sizeof(p));
	p.url = d->conf->rpc_url;
	p.tcp_url = d->conf->rpc_tcp_url;
	p.max_message_bytes = d->conf->max_message_bytes;
	p.workers = d->conf->rpc_workers;
	p.fast = api_job_fast;
	p.fast_arg = d->view;
	vmigd_ipc_dir(p.url);
	if ((d->rpc = rpc_open(d->base, d->wake, &p, api_dispatch, d, err,
	    sizeof(err))) == NULL) {
		log_error("rpc_url: %s", err);
		return (-1);
	}
	if (api_fds_open(d, rpc_url(d->rpc), err, sizeof(err)) != 0) {
		log_error("%s", err);
		return (-1);
	}

	d->ev_sigterm = evsignal_new(d->base, SIGTERM, vmigd_signal_cb, d);
	d->ev_sigint = evsignal_new(d->base, SIGINT, vmigd_signal_cb, d);
	d->ev_sighup = evsignal_new(d->base, SIGHUP, vmigd_signal_cb, d);
	evsignal_add(d->ev_sigterm, NULL);
	evsignal_add(d->ev_sigint, NULL);
	evsignal_add(d->ev_sighup, NULL);
	d->ev_status = event_new(d->base, -1, EV_PERSIST, vmigd_status_cb, d);
	vmigd_set_status_timer(d);
	if ((wd = notify_watchdog_usec()) != 0) {
		/* Ping at half the period, as sd_watchdog_enabled(3) says. */
		wd /= 2;
		tv.tv_sec = (time_t)(wd / 1000000);
		tv.tv_usec = (suseconds_t)(wd % 1000000);
		d->ev_watchdog = event_new(d->base, -1, EV_PERSIST,
		    vmigd_watchdog_cb, d);
		evtimer_add(d->ev_watchdog, &tv);
		log_info("systemd watchdog: pinging every %" PRIu64 " ms",
		    wd / 1000);
	}

	/* ready once every PF answered its (asynchronous) open */
	backends_when_settled(d->backends, vmigd_ready, d);
	return (0);
}

static void
vmigd_version(void)
{
	printf("vmigd %s (control API %d, backend ABI %d.%d, nng %s, "
	    "notify: %s)\n", PACKAGE_VERSION, VMIG_API_VERSION,
	    VMIG_BACKEND_ABI_MAJOR, VMIG_BACKEND_ABI_MINOR, nng_version(),
	    notify_backend());
}

int
main(int argc, char **argv)
{
	struct config_args	 args;
	struct vmigd		 d;
	char			 err[1024];
	int			 rv;

	log_init(LOG_LEVEL_INFO, "vmigd");
	if (config_args_parse(&args, argc, argv, err, sizeof(err)) != 0) {
		fprintf(stderr, "vmigd: %s\nTry 'vmigd --help'.\n", err);
		return (1);
	}
	switch (args.action) {
	case CONFIG_HELP:
		config_usage(stdout, "vmigd");
		config_args_free(&args);
		return (0);
	case CONFIG_VERSION:
		vmigd_version();
		config_args_free(&args);
		return (0);
	default:
		break;
	}

	memset(&d, 0, sizeof(d));
	d.args = &args;
	if ((d.conf = config_build(&args, err, sizeof(err))) == NULL) {
		fprintf(stderr, "vmigd: %s\n", err);
		config_args_free(&args);
		return (1);
	}
	if (args.action == CONFIG_CHECK) {
		config_print(stdout, d.conf);
		fprintf(stderr, "vmigd: configuration OK\n");
		config_free(d.conf);
		config_args_free(&args);
		return (0);
	}
	log_setlevel(d.conf->log_level);

	/* Before any thread exists (nng's, libevent's): fork keeps one. */
	if (!args.foreground && daemon(1, 1) != 0) {
		fprintf(stderr, "vmigd: cannot go to the background: %s\n",
		    strerror(errno));
		config_free(d.conf);
		config_args_free(&args);
		return (1);
	}
	signal(SIGPIPE, SIG_IGN);

	rv = 0;
	if (vmigd_start(&d) != 0)
		rv = 1;
	else
		event_base_dispatch(d.base);
	vmigd_free(&d);
	config_args_free(&args);
	if (rv == 0)
		log_info("stopped");
	libevent_global_shutdown();
	nng_fini();
	return (rv);
}
