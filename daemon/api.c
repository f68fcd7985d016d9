/*
 * api.c: the call table, the dispatcher, and the calls that read the
 * daemon's state: GetVersion, ListDevices, GetDaemonStatus, WatchEvents.
 * The migration calls are in api_job.c.
 *
 * Handlers run on the loop thread with call->result already allocated (the
 * oneof member the entry names). Every string put into a response is a
 * heap copy (rpc.h: the response is freed field by field).
 */
#include "config.h"

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <nng/nng.h>

#include "api.h"
#include "backend.h"
#include "conf.h"
#include "events.h"
#include "frame.h"
#include "job.h"
#include "log.h"
#include "rpc.h"
#include "util.h"
#include "vmigd.h"

#define S(x)	VMIG__V1__STATUS_CODE__STATUS_##x

static int	api_get_version(struct vmigd *, struct rpc_call *);
static int	api_check_compat(struct vmigd *, struct rpc_call *);
static int	api_list_devices(struct vmigd *, struct rpc_call *);
static int	api_get_daemon_status(struct vmigd *, struct rpc_call *);
static int	api_watch_events(struct vmigd *, struct rpc_call *);

const struct api_entry api_get_version_entry = {
	.name = "GetVersion",
	.call = VMIG__V1__REQUEST__CALL_GET_VERSION,
	.result = VMIG__V1__RESPONSE__RESULT_GET_VERSION,
	.exec = api_get_version,
	.reads_only = 1,
	.doc = "daemon, API, stream protocol, nng and backend ABI versions",
};

const struct api_entry api_list_devices_entry = {
	.name = "ListDevices",
	.call = VMIG__V1__REQUEST__CALL_LIST_DEVICES,
	.result = VMIG__V1__RESPONSE__RESULT_LIST_DEVICES,
	.exec = api_list_devices,
	.reads_only = 1,
	.doc = "backends, PFs (online or why not) and their VFs",
};

const struct api_entry api_get_daemon_status_entry = {
	.name = "GetDaemonStatus",
	.call = VMIG__V1__REQUEST__CALL_GET_DAEMON_STATUS,
	.result = VMIG__V1__RESPONSE__RESULT_GET_DAEMON_STATUS,
	.exec = api_get_daemon_status,
	.reads_only = 1,
	.doc = "uptime, limits, jobs by phase, queue, bandwidth shares",
};

const struct api_entry api_watch_events_entry = {
	.name = "WatchEvents",
	.call = VMIG__V1__REQUEST__CALL_WATCH_EVENTS,
	.result = VMIG__V1__RESPONSE__RESULT_WATCH_EVENTS,
	.exec = api_watch_events,
	.reads_only = 1,
	.doc = "the nng PUB URL that carries one Event per message",
};

const struct api_entry api_check_compat_entry = {
	.name = "CheckCompat",
	.call = VMIG__V1__REQUEST__CALL_CHECK_COMPAT,
	.result = VMIG__V1__RESPONSE__RESULT_CHECK_COMPAT,
	.exec = api_check_compat,
	.reads_only = 1,
	.doc = "may a device of another interface migrate into this one",
};

const struct api_entry *const api_table[] = {
	&api_get_version_entry,
	&api_list_devices_entry,
	&api_get_daemon_status_entry,
	&api_prepare_incoming_entry,
	&api_start_migration_entry,
	&api_get_job_entry,
	&api_list_jobs_entry,
	&api_cancel_job_entry,
	&api_set_job_policy_entry,
	&api_switchover_entry,
	&api_watch_events_entry,
	&api_release_device_entry,
	&api_check_compat_entry,
	NULL,
};

const struct api_entry *
api_find(int call_case)
{
	const struct api_entry *const	*e;

	for (e = api_table; *e != NULL; e++) {
		if ((*e)->call == call_case)
			return (*e);
	}
	return (NULL);
}

Vmig__V1__StatusCode
api_errno_status(int error)
{
	switch (error < 0 ? -error : error) {
	case 0:
		return (S(OK));
	case EINVAL:
	case ERANGE:
	case E2BIG:
		return (S(INVALID_ARGUMENT));
	case ENOENT:
	case ESRCH:
		return (S(NOT_FOUND));
	case EEXIST:
		return (S(ALREADY_EXISTS));
	case EBUSY:
	case EALREADY:
		return (S(FAILED_PRECONDITION));
	case ENOMEM:
	case ENOSPC:
	case EMFILE:
	case EAGAIN:
		return (S(RESOURCE_EXHAUSTED));
	case ENOTSUP:
	case ENOSYS:
		return (S(UNIMPLEMENTED));
	case ENODEV:
	case ETIMEDOUT:
	case ECONNREFUSED:
	case EHOSTUNREACH:
		return (S(UNAVAILABLE));
	case EPERM:
	case EACCES:
		return (S(PERMISSION_DENIED));
	case ECANCELED:
		return (S(ABORTED));
	case ESHUTDOWN:
		return (S(UNAVAILABLE));
	case EIO:
	case EPROTO:
		return (S(DEVICE_ERROR));
	case EBADMSG:
		return (S(BAD_REQUEST));
	case EMSGSIZE:
		return (S(RESOURCE_EXHAUSTED));
	default:
		return (S(INTERNAL));
	}
}

int
api_dispatch(struct rpc_call *call, void *arg)
{
	struct vmigd			*d = arg;
	const struct api_entry		*e;
	const ProtobufCFieldDescriptor	*f;
	int				 how;

	if ((e = api_find(call->req->call_case)) == NULL) {
		f = protobuf_c_message_descriptor_get_field(
		    &vmig__v1__request__descriptor, call->req->call_case);
		return (rpc_call_error(call, S(UNIMPLEMENTED), "call %s "
		    "(Request field %d) is not implemented by this daemon",
		    f != NULL ? f->name : "?", (int)call->req->call_case));
	}
	call->name = e->name;
	rpc_call_set_result(call, e->result);
	how = e->exec(d, call);
	/* the fast lane's view shows what this call did (view.h),
	 * admission included */
	if (!e->reads_only && d->engine != NULL) {
		engine_schedule_now(d->engine);
		api_job_refresh(d);
	}
	return (how);
}

/* ---------------------------------------------------------------- calls */

static int
api_get_version(struct vmigd *d, struct rpc_call *call)
{
	Vmig__V1__GetVersionResponse	*r = call->result;

	r->version = xstrdup(PACKAGE_VERSION);
	r->api_version = VMIG_API_VERSION;
	r->stream_protocol = STREAM_PROTOCOL_VERSION;
	r->nng_version = xstrdup(nng_version());
	r->backend_abi_major = VMIG_BACKEND_ABI_MAJOR;
	r->backend_abi_minor = VMIG_BACKEND_ABI_MINOR;
	return (RPC_REPLY);
}

/* The backend's answer; a device that is not there is NOT_FOUND. */
static int
api_check_compat(struct vmigd *d, struct rpc_call *call)
{
	const Vmig__V1__CheckCompatRequest *q = call->req->check_compat;
	Vmig__V1__CheckCompatResponse	*r = call->result;
	struct device			*dev;
	char				 err[BACKEND_ERR_MAX];
	int				 rc;

	if (q->device == NULL || q->device[0] == '\0' ||
	    q->source_interface == NULL || q->source_interface[0] == '\0')
		return (rpc_call_error(call, S(INVALID_ARGUMENT), "device and "
		    "source_interface are needed"));
	if ((rc = backend_dev_lookup(d->backends, q->device, &dev, err,
	    sizeof(err))) != 0)
		return (rpc_call_error(call, api_errno_status(rc), "%s", err));
	rc = backend_state_compat(dev, q->source_interface, err, sizeof(err));
	r->compatible = rc >= 0;
	r->conditions = xstrdup(rc > 0 ? err : "");
	r->reason = xstrdup(rc < 0 ? err : "");
	r->interface = xstrdup(dev->info.caps.interface);
	return (RPC_REPLY);
}

static Vmig__V1__DeviceCaps *
api_caps(const struct vmig_dev_caps *c)
{
	Vmig__V1__DeviceCaps	*m;
	unsigned int		 mode, n = 0;

	m = rpc_msg_new(&vmig__v1__device_caps__descriptor);
	m->interface = xstrdup(c->interface);
	for (mode = VMIG_MODE_ACTIVE; mode <= VMIG_MODE_QUIESCED; mode++) {
		if (c->modes & VMIG_MODE_BIT(mode))
			n++;
	}
	if (n != 0) {
		m->modes = xcalloc(n, sizeof(*m->modes));
		for (mode = VMIG_MODE_ACTIVE; mode <= VMIG_MODE_QUIESCED;
		    mode++) {
			if (c->modes & VMIG_MODE_BIT(mode))
				m->modes[m->n_modes++] = (Vmig__V1__DeviceMode)mode;
		}
	}
	m->state_precopy = (c->flags & VMIG_CAP_STATE_PRECOPY) != 0;
	m->precopy_info = (c->flags & VMIG_CAP_PRECOPY_INFO) != 0;
	m->state_size_exact = (c->flags & VMIG_CAP_STATE_SIZE_EXACT) != 0;
	m->state_kind = c->state_kind == VMIG_STATE_STREAM ?
	    VMIG__V1__STATE_KIND__STATE_STREAM :
	    VMIG__V1__STATE_KIND__STATE_SNAPSHOT;
	m->tracker = c->track_scope <= VMIG_TRACK_SHARED ?
	    (Vmig__V1__TrackerScope)c->track_scope :
	    VMIG__V1__TRACKER_SCOPE__TRACKER_NONE;
	m->state_chunked = (c->flags & VMIG_CAP_STATE_CHUNKED) != 0;
	m->p2p_quiesce = (c->flags & VMIG_CAP_P2P_QUIESCE) != 0;
	m->state_max_bytes = c->state_max_bytes;
	/* A plugin's enum that we do not know reads as NONE. */
	m->dirty_tracking = c->dirty_kind <= VMIG_DIRTY_IOMMUFD ?
	    (Vmig__V1__DirtyTracking)c->dirty_kind :
	    VMIG__V1__DIRTY_TRACKING__DIRTY_NONE;
	m->dirty_page_sizes = c->dirty_page_sizes;
	m->dirty_max_ranges = c->dirty_max_ranges;
	return (m);
}

static Vmig__V1__Device *
api_device(const struct device *dev)
{
	Vmig__V1__Device	*m;

	m = rpc_msg_new(&vmig__v1__device__descriptor);
	m->name = xstrdup(dev->name);
	m->pf = xstrdup(dev->pf->name);
	m->member_id = dev->info.member_id;
	m->type = xstrdup(dev->info.type);
	m->mode = dev->info.mode <= VMIG_MODE_QUIESCED ?
	    (Vmig__V1__DeviceMode)dev->info.mode :
	    VMIG__V1__DEVICE_MODE__MODE_UNKNOWN;
	m->caps = api_caps(&dev->info.caps);
	m->job_id = dev->job_id;
	m->owner = xstrdup(dev->owner);
	if (dev->fds.n != 0) {
		unsigned int	i;

		m->fds = xcalloc(dev->fds.n, sizeof(*m->fds));
		for (i = 0; i < dev->fds.n; i++)
			m->fds[i] = xstrdup(dev->fds.name[i]);
		m->n_fds = dev->fds.n;
	}
	return (m);
}

static Vmig__V1__PhysicalFunction *
api_pf(const struct pf *pf)
{
	Vmig__V1__PhysicalFunction	*m;

	m = rpc_msg_new(&vmig__v1__physical_function__descriptor);
	m->name = xstrdup(pf->name);
	m->backend = xstrdup(pf->backend_name);
	m->spec = xstrdup(pf->spec);
	m->online = pf->state == PF_ONLINE;
	m->state = (Vmig__V1__PfState)pf->state;
	m->error = xstrdup(pf->error);
	m->num_vfs = pf->state == PF_ONLINE ? pf->info.num_vfs : 0;
	m->admin_queue_depth = pf->info.queue_depth;
	return (m);
}

static int
api_list_devices(struct vmigd *d, struct rpc_call *call)
{
	const Vmig__V1__ListDevicesRequest	*q = call->req->list_devices;
	Vmig__V1__ListDevicesResponse		*r = call->result;
	struct backends				*bs = d->backends;
	struct backend				*be;
	struct pf				*pf;
	Vmig__V1__Backend			*b;
	char					 err[256];
	size_t					 nb = 0, np = 0, nd = 0;
	unsigned int				 i;

	if (*q->pf != '\0' && backend_pf_lookup(bs, q->pf, &pf, err,
	    sizeof(err)) != 0)
		return (rpc_call_error(call, S(NOT_FOUND), "%s", err));
	TAILQ_FOREACH(be, &bs->list, entry)
		nb += be->ops != NULL;
	TAILQ_FOREACH(pf, &bs->pfs, entry) {
		if (*q->pf != '\0' && strcmp(q->pf, pf->name) != 0)
			continue;
		/* Modes and VFs as the backend knows them now. */
		if (pf->state == PF_ONLINE)
			(void)backend_pf_refresh(pf);
		np++;
		for (i = 0; i < pf->ndevs; i++)
			nd += pf->devs[i]->present;
	}
	if (nb != 0)
		r->backends = xcalloc(nb, sizeof(*r->backends));
	if (np != 0)
		r->pfs = xcalloc(np, sizeof(*r->pfs));
	if (nd != 0)
		r->devices = xcalloc(nd, sizeof(*r->devices));

	TAILQ_FOREACH(be, &bs->list, entry) {
		if (be->ops == NULL)
			continue;
		b = rpc_msg_new(&vmig__v1__backend__descriptor);
		b->name = xstrdup(be->name);
		b->version = xstrdup(be->ops->version != NULL ?
		    be->ops->version : "");
		b->description = xstrdup(be->ops->description != NULL ?
		    be->ops->description : "");
		b->abi_major = be->ops->abi_major;
		b->abi_minor = be->ops->abi_minor;
		b->path = xstrdup(be->path);
		r->backends[r->n_backends++] = b;
	}
	TAILQ_FOREACH(pf, &bs->pfs, entry) {
		if (*q->pf != '\0' && strcmp(q->pf, pf->name) != 0)
			continue;
		r->pfs[r->n_pfs++] = api_pf(pf);
		for (i = 0; i < pf->ndevs; i++) {
			if (pf->devs[i]->present)
				r->devices[r->n_devices++] =
				    api_device(pf->devs[i]);
		}
	}
	return (RPC_REPLY);
}

static int
api_get_daemon_status(struct vmigd *d, struct rpc_call *call)
{
	Vmig__V1__GetDaemonStatusResponse	*r = call->result;
	struct rpc_stats			 st;

	r->uptime_ms = now_ms() - d->start_ms;
	r->pid = (uint32_t)getpid();
	r->limits = rpc_msg_new(&vmig__v1__limits__descriptor);
	r->limits->max_outgoing = d->conf->max_outgoing;
	r->limits->max_incoming = d->conf->max_incoming;
	r->limits->max_per_pf = d->conf->max_per_pf;
	r->limits->bandwidth_bps = d->conf->bandwidth;
	r->limits->max_message_bytes = (uint32_t)d->conf->max_message_bytes;
	rpc_get_stats(call->rpc, &st);
	/* This call is not answered yet: count it. */
	r->rpc_requests = st.requests + 1;
	r->rpc_errors = st.errors;
	r->rpc_fast_requests = st.fast;
	r->rpc_url = xstrdup(rpc_url(call->rpc));
	r->events_url = xstrdup(events_url(d->events));
	r->config_path = xstrdup(d->conf->path != NULL ? d->conf->path : "");
	r->fd_socket = xstrdup(api_fds_path(d));
	api_job_fill_status(d, r);
	return (RPC_REPLY);
}

static int
api_watch_events(struct vmigd *d, struct rpc_call *call)
{
	Vmig__V1__WatchEventsResponse	*r = call->result;

	if (d->events == NULL)
		return (rpc_call_error(call, S(UNAVAILABLE), "events are off "
		    "on this daemon (events_url is empty)"));
	r->events_url = xstrdup(events_url(d->events));
	return (RPC_REPLY);
}
