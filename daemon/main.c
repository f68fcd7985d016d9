/*
 * main.c: vmigd's life: options and config, the loop, signals, sd_notify,
 * reload and shutdown. The modules do the work; this file wires them up in
 * order (clients connect last, when everything they can ask about exists)
 * and takes them down in reverse.
 */
#include "config.h"

#include <sys/stat.h>
#include <sys/wait.h>

#include <errno.h>
#include <fcntl.h>
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
#include "authz.h"
#include "backend.h"
#include "conf.h"
#include "events.h"
#include "job.h"
#include "history.h"
#include "journal.h"
#include "log.h"
#include "metrics.h"
#include "notify.h"
#include "restart.h"
#include "rpc.h"
#include "stream.h"
#include "tls.h"
#include "util.h"
#include "vmigd.h"
#include "wake.h"

static int	vmigd_serve(struct vmigd *);

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
	engine_set_compression(d->engine, d->conf->compression);
	engine_set_prefault(d->engine, d->conf->prefault_memory);
	engine_set_peer_tls(d->engine, d->conf->tls_ca_file,
	    d->conf->tls_cert_file, d->conf->tls_key_file,
	    d->conf->stream_peer_name);
}

/* The control API's TLS files, as tls.h takes them. */
static void
vmigd_rpc_tls_files(const struct config *c, struct tls_files *f)
{
	memset(f, 0, sizeof(*f));
	f->ca = *c->rpc_client_ca_file != '\0' ? c->rpc_client_ca_file :
	    c->tls_ca_file;
	f->ca_key = *c->rpc_client_ca_file != '\0' ? "rpc_client_ca_file" :
	    "tls_ca_file";
	f->cert = c->tls_cert_file;
	f->cert_key = "tls_cert_file";
	f->key = c->tls_key_file;
	f->key_key = "tls_key_file";
}

static int
vmigd_rpc_uses_tls(const struct config *c)
{
	return (strncmp(c->rpc_url, "tls+tcp://", 10) == 0 ||
	    strncmp(c->rpc_tcp_url, "tls+tcp://", 10) == 0);
}

/* SIGHUP: new certificate, key or CA files take effect for new callers. */
static void
vmigd_reload_tls(struct vmigd *d)
{
	struct tls_files	 f;
	nng_tls_config		*cfg;
	uint64_t		 digest;
	char			 err[1024];

	if (!vmigd_rpc_uses_tls(d->conf))
		return;
	vmigd_rpc_tls_files(d->conf, &f);
	if (tls_files_digest(&f, &digest, err, sizeof(err)) != 0) {
		log_error("reload: control API TLS unchanged: %s", err);
		return;
	}
	if (digest == d->rpc_tls_digest)
		return;
	if (tls_config_new(TLS_SERVER, &f, NULL, &cfg, &digest, err,
	    sizeof(err)) != 0) {
		log_error("reload: control API TLS unchanged: %s", err);
		return;
	}
	if (rpc_set_tls(d->rpc, cfg, err, sizeof(err)) != 0)
		log_error("reload: %s", err);
	nng_tls_config_free(cfg);	/* rpc holds it */
	d->rpc_tls_digest = digest;
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
	history_set_keep(d->history, d->conf->history_size);
	vmigd_reload_tls(d);
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

/* The directory of an ipc:// URL's socket (allocated), or NULL. */
static char *
vmigd_ipc_dir_of(const char *url)
{
	char	*dir, *slash;

	if (url == NULL || strncmp(url, "ipc://", 6) != 0)
		return (NULL);
	dir = xstrdup(url + 6);
	if ((slash = strrchr(dir, '/')) == NULL || slash == dir) {
		free(dir);
		return (NULL);
	}
	*slash = '\0';
	return (dir);
}

/* Under systemd RuntimeDirectory= makes /run/vmigd; by hand, we do. */
static void
vmigd_ipc_dir(const char *url)
{
	char	*dir;

	if ((dir = vmigd_ipc_dir_of(url)) == NULL)
		return;
	if (mkdir(dir, 0755) == 0)
		log_info("created %s for %s", dir, url);
	free(dir);
}

/* What to add to a plugin_dir error when it is the built-in default. */
static const char *
vmigd_plugin_dir_hint(const struct config *c)
{
	if (strcmp(c->plugin_dir, VMIG_PLUGINDIR) != 0)
		return ("");
	return (" (the default; --plugin-dir DIR or [daemon] plugin_dir names "
	    "another: a build tree's plugins are in BUILD/"
	    CONFIG_BUILD_PLUGIN_DIR ", which a vmigd run from that tree uses "
	    "by itself)");
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
	metrics_close(d->metrics);
	/* jobs first stop acting, then their devices' backends close */
	if (d->engine != NULL)
		engine_freeze(d->engine);
	rpc_close(d->rpc);
	authz_free(d->authz);
	backends_free(d->backends);
	api_job_free(d);
	engine_free(d->engine);
	stream_flush();		/* sockets still lingering before nng_close */
	events_close(d->events);
	history_close(d->history);
	journal_close(d->journal);
	restart_free(d);
	if (d->wake != NULL)
		wake_free(d->wake);
	if (d->base != NULL)
		event_base_free(d->base);
	config_free(d->conf);
}

/* The parent vmigd_detach left waits for this byte: exit 0, we run. */
static void
vmigd_tell_parent(struct vmigd *d)
{
	if (d->ready_fd < 0)
		return;
	if (write(d->ready_fd, "1", 1) != 1)
		log_warn("cannot tell the starting process we are ready");
	close(d->ready_fd);
	d->ready_fd = -1;
}

static void
vmigd_ready(void *arg)
{
	struct vmigd	*d = arg;
	char		 status[256];

	vmigd_status(d, status, sizeof(status));
	log_info("vmigd %s ready: %s", PACKAGE_VERSION, status);
	notify_ready(status);
	vmigd_tell_parent(d);
	if (d->ev_watchdog != NULL)
		notify_watchdog();
}

/* Every unfinished job of the previous vmigd is resolved: serve. */
static void
vmigd_recovered(void *arg)
{
	struct vmigd	*d = arg;

	if (d->rpc == NULL && vmigd_serve(d) != 0) {
		d->failed = 1;
		event_base_loopexit(d->base, NULL);
		return;
	}
	vmigd_ready(d);
}

/* The PFs answered their open: their VFs can be recovered now. */
static void
vmigd_settled(void *arg)
{
	struct vmigd	*d = arg;

	restart_recover(d, vmigd_recovered, d);
}

/* What a read-only caller (rpc_read_group) may call: api.h's reads_only. */
static int
vmigd_read_only(int call_case)
{
	const struct api_entry	*e = api_find(call_case);

	return (e != NULL && e->reads_only);
}

/* Who may call, over what, with which credentials (README "Security"). */
static int
vmigd_rpc_security(struct vmigd *d, struct rpc_params *p)
{
	const struct config	*c = d->conf;
	struct tls_files	 f;
	char			 err[1024];

	if ((d->authz = authz_new(c->rpc_group, c->rpc_read_group,
	    c->rpc_insecure_tcp, err, sizeof(err))) == NULL) {
		log_error("%s", err);
		return (-1);
	}
	p->authz = d->authz;
	p->read_only = vmigd_read_only;
	p->ipc_mode = c->rpc_socket_mode != 0 ? c->rpc_socket_mode :
	    d->authz->has_read_group ? 0666 : 0660;
	p->ipc_chgrp = d->authz->has_group;
	p->ipc_gid = d->authz->group;
	if (vmigd_rpc_uses_tls(c)) {
		vmigd_rpc_tls_files(c, &f);
		if (tls_config_new(TLS_SERVER, &f, NULL, &p->tls,
		    &d->rpc_tls_digest, err, sizeof(err)) != 0) {
			log_error("%s", err);
			return (-1);
		}
	}
	if (c->rpc_insecure_tcp && (strncmp(c->rpc_url, "tcp", 3) == 0 ||
	    strncmp(c->rpc_tcp_url, "tcp", 3) == 0))
		log_warnx("rpc: rpc_insecure_tcp = yes: anyone who can reach "
		    "%s may make every control call, unauthenticated",
		    strncmp(c->rpc_url, "tcp", 3) == 0 ? c->rpc_url :
		    c->rpc_tcp_url);
	return (0);
}

/*
 * Clients may connect: the control socket, the fd socket and the metrics
 * listener. 0, or -1 with the reason logged.
 */
static int
vmigd_serve(struct vmigd *d)
{
	struct rpc_params	 p;
	char			 err[1024];

	memset(&p, 0, sizeof(p));
	p.url = d->conf->rpc_url;
	p.tcp_url = d->conf->rpc_tcp_url;
	p.max_message_bytes = d->conf->max_message_bytes;
	p.workers = d->conf->rpc_workers;
	p.fast = api_job_fast;
	p.fast_arg = d->view;
	if (vmigd_rpc_security(d, &p) != 0)
		return (-1);
	vmigd_ipc_dir(p.url);
	d->rpc = rpc_open(d->base, d->wake, &p, api_dispatch, d, err,
	    sizeof(err));
	if (p.tls != NULL)
		nng_tls_config_free(p.tls);	/* rpc holds it */
	if (d->rpc == NULL) {
		log_error("rpc_url: %s", err);
		return (-1);
	}
	if (api_fds_open(d, rpc_url(d->rpc), err, sizeof(err)) != 0) {
		log_error("%s", err);
		return (-1);
	}
	if (*d->conf->metrics_listen != '\0' && (d->metrics = metrics_open(d,
	    d->conf->metrics_listen, err, sizeof(err))) == NULL) {
		log_error("%s", err);
		return (-1);
	}
	return (0);
}

static int
vmigd_start(struct vmigd *d)
{
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
	/* before any TLS configuration: each keeps the engine it was made on */
	if (tls_engine_use(d->conf->tls_engine, err, sizeof(err)) != 0) {
		log_error("%s", err);
		return (-1);
	}
	log_info("tls: engine %s", tls_engine_running(err, sizeof(err)));
	if (restart_open(d) != 0)
		return (-1);

	if ((d->backends = backends_new(d->base, d->conf->plugin_dir, err,
	    sizeof(err))) == NULL) {
		log_error("%s%s", err, vmigd_plugin_dir_hint(d->conf));
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
	/* job ids go on from the journal's and the history's */
	engine_set_first_id(d->engine, d->state_max_id + 1);
	engine_set_stream_bind(d->engine, d->conf->stream_bind);
	vmigd_set_limits(d);
	api_job_init(d);
	restart_hooks(d);

	/* the dead daemon's jobs are resolved before anyone may call */
	if (!restart_pending(d) && vmigd_serve(d) != 0)
		return (-1);

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
	backends_when_settled(d->backends, vmigd_settled, d);
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

/*
 * For --check: url parses, and an ipc:// socket's directory exists or can
 * be made (vmigd makes the last one). 0, or 1 with the reason logged.
 */
static int
vmigd_check_url(const char *key, const char *url)
{
	struct stat	 sb;
	nng_url		*u;
	char		*dir, *parent, *slash;
	int		 rv;

	if (*url == '\0')
		return (0);
	if ((rv = nng_url_parse(&u, url)) != 0) {
		log_error("%s %s: %s", key, url, nng_strerror(rv));
		return (1);
	}
	nng_url_free(u);
	if ((dir = vmigd_ipc_dir_of(url)) == NULL)
		return (0);
	rv = 0;
	if (stat(dir, &sb) == 0) {
		if (!S_ISDIR(sb.st_mode) || access(dir, W_OK | X_OK) != 0) {
			log_error("%s %s: cannot create a socket in %s: %s", key,
			    url, dir, S_ISDIR(sb.st_mode) ? strerror(errno) :
			    "not a directory");
			rv = 1;
		}
	} else {
		parent = xstrdup(dir);
		if ((slash = strrchr(parent, '/')) != NULL)
			slash[slash == parent ? 1 : 0] = '\0';	/* "/x": "/" */
		if (stat(parent, &sb) != 0 || !S_ISDIR(sb.st_mode)) {
			log_error("%s %s: %s does not exist and neither does "
			    "%s, where vmigd would make it", key, url, dir,
			    parent);
			rv = 1;
		}
		free(parent);
	}
	free(dir);
	return (rv);
}

/*
 * --check: what start-up would refuse, without binding anything (a
 * running vmigd may own the sockets): the URLs, the plugin directory and
 * its plugins. A PF whose backend did not load is a warning: start-up
 * keeps such a PF offline, with the reason, and a reload retries it.
 * Returns the exit status.
 */
static int
vmigd_check(const struct config *c)
{
	struct event_base	*base;
	struct backends		*bs;
	const struct config_pf	*pf;
	struct backend		*be;
	char			 err[1024];
	int			 errors = 0, warnings = 0;

	errors += vmigd_check_url("rpc_url", c->rpc_url);
	errors += vmigd_check_url("rpc_tcp_url", c->rpc_tcp_url);
	errors += vmigd_check_url("events_url", c->events_url);
	if ((base = event_base_new()) == NULL)
		fatalx("%s: cannot create an event loop", __func__);
	if ((bs = backends_new(base, c->plugin_dir, err, sizeof(err))) ==
	    NULL) {
		log_error("%s%s", err, vmigd_plugin_dir_hint(c));
		errors++;
	} else {
		warnings += (int)bs->nrefused;	/* each logged with why */
		TAILQ_FOREACH(pf, &c->pfs, entry) {
			be = backend_find(bs, pf->backend);
			if (be == NULL)
				log_warnx("[pf.%s] backend %s: no plugin of "
				    "that name in %s: the PF will be offline",
				    pf->name, pf->backend, c->plugin_dir);
			else if (be->ops == NULL)
				log_warnx("[pf.%s] backend %s was refused (%s): "
				    "the PF will be offline", pf->name,
				    pf->backend, be->error);
			warnings += be == NULL || be->ops == NULL;
		}
		backends_free(bs);
	}
	event_base_free(base);
	if (errors != 0) {
		fprintf(stderr, "vmigd: configuration not OK: %d error%s\n",
		    errors, errors == 1 ? "" : "s");
		return (1);
	}
	fprintf(stderr, "vmigd: configuration OK%s", warnings == 0 ? "\n" :
	    "");
	if (warnings != 0)
		fprintf(stderr, ", %d warning%s\n", warnings,
		    warnings == 1 ? "" : "s");
	return (0);
}

/*
 * Without --foreground: fork before any thread exists (nng's, libevent's:
 * fork keeps only the caller) and let the parent wait until the child has
 * passed every start-up check and listens, so that its exit status is the
 * truth. The child says so with one byte on a pipe once every PF has
 * answered (vmigd_ready, when systemd hears READY=1 too); a child
 * that fails has logged why on the same stderr, and the parent exits with
 * its status. Returns the pipe's end in the child, -1 if fork failed.
 */
static int
vmigd_detach(void)
{
	int	fds[2], status;
	pid_t	pid;
	ssize_t	n;
	char	c;

	if (pipe2(fds, O_CLOEXEC) != 0)
		return (-1);
	if ((pid = fork()) == -1) {
		close(fds[0]);
		close(fds[1]);
		return (-1);
	}
	if (pid == 0) {
		close(fds[0]);
		(void)setsid();		/* a fresh child is no group leader */
		return (fds[1]);
	}
	close(fds[1]);
	while ((n = read(fds[0], &c, 1)) == -1 && errno == EINTR)
		;
	if (n == 1)
		_exit(0);
	while (waitpid(pid, &status, 0) == -1 && errno == EINTR)
		;
	if (WIFEXITED(status))
		_exit(WEXITSTATUS(status) != 0 ? WEXITSTATUS(status) : 1);
	fprintf(stderr, "vmigd: pid %ld died of %s before it was ready\n",
	    (long)pid, WIFSIGNALED(status) ? strsignal(WTERMSIG(status)) :
	    "something");
	_exit(1);
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
	d.ready_fd = -1;
	if ((d.conf = config_build(&args, err, sizeof(err))) == NULL) {
		fprintf(stderr, "vmigd: %s\n", err);
		config_args_free(&args);
		return (1);
	}
	log_setlevel(d.conf->log_level);
	if (args.action == CONFIG_CHECK) {
		config_print(stdout, d.conf);
		fflush(stdout);
		rv = vmigd_check(d.conf);
		config_free(d.conf);
		config_args_free(&args);
		libevent_global_shutdown();
		nng_fini();
		return (rv);
	}

	if (!args.foreground && (d.ready_fd = vmigd_detach()) == -1) {
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
	else {
		event_base_dispatch(d.base);	/* vmigd_ready tells the parent */
		if (d.failed)
			rv = 1;
	}
	vmigd_free(&d);
	config_args_free(&args);
	if (rv == 0)
		log_info("stopped");
	libevent_global_shutdown();
	nng_fini();
	return (rv);
}
