/*
 * vmigctl_info.c: commands that read the daemon's state: version, devices,
 * status.
 */
#include "config.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fmt.h"
#include "vmigctl.h"

static int	vmigctl_version(struct vmigctl *, const struct vmigctl_cmd *,
		    int, char **);
static int	vmigctl_devices(struct vmigctl *, const struct vmigctl_cmd *,
		    int, char **);
static int	vmigctl_compat(struct vmigctl *, const struct vmigctl_cmd *,
		    int, char **);
static int	vmigctl_status(struct vmigctl *, const struct vmigctl_cmd *,
		    int, char **);

const struct vmigctl_cmd vmigctl_version_cmd = {
	"version", "", "versions of vmigctl, vmigd and their protocols", NULL,
	vmigctl_version
};

const struct vmigctl_cmd vmigctl_devices_cmd = {
	"devices", "[PF]", "backends, PFs and VFs (of one PF)", NULL,
	vmigctl_devices
};

const struct vmigctl_cmd vmigctl_compat_cmd = {
	"compat", "SRC DST", "may device SRC migrate into DST (DEVICE or "
	"DEVICE@URL: on another vmigd)", NULL,
	vmigctl_compat
};

const struct vmigctl_cmd vmigctl_status_cmd = {
	"status", "", "daemon status: uptime, limits, jobs, queue", NULL,
	vmigctl_status
};

static int
vmigctl_version(struct vmigctl *ctl, const struct vmigctl_cmd *cmd,
    int argc, char **argv)
{
	Vmig__V1__Request		 req = VMIG__V1__REQUEST__INIT;
	Vmig__V1__GetVersionRequest	 q = VMIG__V1__GET_VERSION_REQUEST__INIT;
	Vmig__V1__Response		*resp;
	Vmig__V1__GetVersionResponse	*v;
	int				 rv;

	if (vmigctl_getopt(cmd, argc, argv) != -1)
		return (VMIGCTL_EXIT_USAGE);
	if ((rv = vmigctl_nargs(cmd, argc, argv, 0, 0, "")) != VMIGCTL_EXIT_OK)
		return (rv);
	req.call_case = VMIG__V1__REQUEST__CALL_GET_VERSION;
	req.get_version = &q;
	if ((rv = vmigctl_call(ctl, &req, &resp)) != VMIGCTL_EXIT_OK)
		return (rv);
	if (!vmigctl_json(ctl, resp)) {
		v = resp->get_version;
		printf("vmigctl %s\n", PACKAGE_VERSION);
		if (v == NULL)
			printf("vmigd at %s: no version in its answer\n",
			    ctl->url);
		else
			printf("vmigd %s at %s: control API %" PRIu32 ", stream "
			    "protocol %" PRIu32 ", backend ABI %" PRIu32 ".%"
			    PRIu32 ", nng %s\n", v->version, ctl->url,
			    v->api_version, v->stream_protocol,
			    v->backend_abi_major, v->backend_abi_minor,
			    v->nng_version);
	}
	vmig_client_free(resp);
	return (VMIGCTL_EXIT_OK);
}

static void
vmigctl_caps(const Vmig__V1__DeviceCaps *c, char *buf, size_t len)
{
	snprintf(buf, len, "%s%s%s%s", c->state_precopy ? "precopy," : "",
	    c->state_chunked ? "chunked," : "", c->p2p_quiesce ? "p2p," : "",
	    "");
	if (*buf == '\0')
		snprintf(buf, len, "-");
	else
		buf[strlen(buf) - 1] = '\0';
}

static int
vmigctl_devices(struct vmigctl *ctl, const struct vmigctl_cmd *cmd,
    int argc, char **argv)
{
	Vmig__V1__Request		 req = VMIG__V1__REQUEST__INIT;
	Vmig__V1__ListDevicesRequest	 q = VMIG__V1__LIST_DEVICES_REQUEST__INIT;
	Vmig__V1__Response		*resp;
	Vmig__V1__ListDevicesResponse	*l;
	struct vmigctl_table		*t;
	char				 a[64], b[64], c[64], d[64], abi[32];
	size_t				 i;
	int				 rv;

	if (vmigctl_getopt(cmd, argc, argv) != -1)
		return (VMIGCTL_EXIT_USAGE);
	if ((rv = vmigctl_nargs(cmd, argc, argv, 0, 1, "")) != VMIGCTL_EXIT_OK)
		return (rv);
	if (optind < argc)
		q.pf = argv[optind];
	req.call_case = VMIG__V1__REQUEST__CALL_LIST_DEVICES;
	req.list_devices = &q;
	if ((rv = vmigctl_call(ctl, &req, &resp)) != VMIGCTL_EXIT_OK)
		return (rv);
	if (vmigctl_json(ctl, resp) || (l = resp->list_devices) == NULL) {
		vmig_client_free(resp);
		return (VMIGCTL_EXIT_OK);
	}

	t = vmigctl_table_new(4, "BACKEND", "VERSION", "ABI", "PATH");
	for (i = 0; i < l->n_backends; i++) {
		snprintf(abi, sizeof(abi), "%" PRIu32 ".%" PRIu32,
		    l->backends[i]->abi_major, l->backends[i]->abi_minor);
		vmigctl_table_row(t, l->backends[i]->name,
		    l->backends[i]->version, abi, l->backends[i]->path);
	}
	if (l->n_backends == 0)
		printf("no backends loaded\n");
	else
		vmigctl_table_print(t, stdout);
	vmigctl_table_free(t);

	printf("\n");
	t = vmigctl_table_new(5, "PF", "BACKEND", "STATE", "VFS", "SPEC");
	for (i = 0; i < l->n_pfs; i++) {
		snprintf(a, sizeof(a), "%" PRIu32, l->pfs[i]->num_vfs);
		/* offline, opening (asynchronous), online */
		vmigctl_enum(&vmig__v1__pf_state__descriptor, l->pfs[i]->state,
		    "PF_", b, sizeof(b));
		vmigctl_table_row(t, l->pfs[i]->name, l->pfs[i]->backend, b,
		    l->pfs[i]->online ? a : "-", l->pfs[i]->spec);
	}
	if (l->n_pfs == 0)
		printf("no PFs configured\n");
	else
		vmigctl_table_print(t, stdout);
	vmigctl_table_free(t);
	for (i = 0; i < l->n_pfs; i++) {
		if (l->pfs[i]->state == VMIG__V1__PF_STATE__PF_OFFLINE)
			printf("  %s offline: %s\n", l->pfs[i]->name,
			    l->pfs[i]->error);
	}

	if (l->n_devices == 0) {
		printf("\nno devices\n");
		vmig_client_free(resp);
		return (VMIGCTL_EXIT_OK);
	}
	printf("\n");
	t = vmigctl_table_new(7, "DEVICE", "TYPE", "MODE", "INTERFACE",
	    "DIRTY", "STATE", "OWNER");
	for (i = 0; i < l->n_devices; i++) {
		const Vmig__V1__Device	*dev = l->devices[i];
		Vmig__V1__DeviceCaps	 none = VMIG__V1__DEVICE_CAPS__INIT;
		const Vmig__V1__DeviceCaps *caps = dev->caps != NULL ?
		    dev->caps : &none;

		vmigctl_enum(&vmig__v1__device_mode__descriptor, dev->mode,
		    "MODE_", a, sizeof(a));
		vmigctl_enum(&vmig__v1__dirty_tracking__descriptor,
		    caps->dirty_tracking, "DIRTY_", b, sizeof(b));
		vmigctl_caps(caps, c, sizeof(c));
		if (dev->job_id != 0)
			snprintf(d, sizeof(d), "%s", *dev->owner != '\0' ?
			    dev->owner : "a job");
		else
			snprintf(d, sizeof(d), "-");
		vmigctl_table_row(t, dev->name, dev->type, a,
		    *caps->interface != '\0' ? caps->interface : "-", b, c, d);
	}
	vmigctl_table_print(t, stdout);
	vmigctl_table_free(t);
	vmig_client_free(resp);
	return (VMIGCTL_EXIT_OK);
}

static int
vmigctl_status(struct vmigctl *ctl, const struct vmigctl_cmd *cmd,
    int argc, char **argv)
{
	Vmig__V1__Request			 req = VMIG__V1__REQUEST__INIT;
	Vmig__V1__GetDaemonStatusRequest	 q =
	    VMIG__V1__GET_DAEMON_STATUS_REQUEST__INIT;
	Vmig__V1__Response			*resp;
	Vmig__V1__GetDaemonStatusResponse	*s;
	char					 a[64], b[64];
	size_t					 i;
	int					 rv;

	if (vmigctl_getopt(cmd, argc, argv) != -1)
		return (VMIGCTL_EXIT_USAGE);
	if ((rv = vmigctl_nargs(cmd, argc, argv, 0, 0, "")) != VMIGCTL_EXIT_OK)
		return (rv);
	req.call_case = VMIG__V1__REQUEST__CALL_GET_DAEMON_STATUS;
	req.get_daemon_status = &q;
	if ((rv = vmigctl_call(ctl, &req, &resp)) != VMIGCTL_EXIT_OK)
		return (rv);
	if (vmigctl_json(ctl, resp) || (s = resp->get_daemon_status) == NULL) {
		vmig_client_free(resp);
		return (VMIGCTL_EXIT_OK);
	}
	printf("vmigd at %s: pid %" PRIu32 ", up %s\n", ctl->url, s->pid,
	    vmigctl_duration(s->uptime_ms, a, sizeof(a)));
	printf("config:  %s\n", *s->config_path != '\0' ? s->config_path :
	    "(none, defaults and command line)");
	printf("rpc:     %s (%" PRIu64 " requests, %" PRIu64 " errors, %"
	    PRIu64 " answered without the loop)\n", s->rpc_url,
	    s->rpc_requests, s->rpc_errors, s->rpc_fast_requests);
	printf("events:  %s\n", *s->events_url != '\0' ? s->events_url :
	    "(off)");
	if (s->limits != NULL) {
		if (s->limits->bandwidth_bps == 0)
			snprintf(a, sizeof(a), "unlimited");
		else {
			fmt_rate(a, sizeof(a), (double)s->limits->bandwidth_bps);
		}
		printf("limits:  %" PRIu32 " outgoing, %" PRIu32 " incoming, "
		    "%" PRIu32 " per PF, bandwidth %s, requests up to %s\n",
		    s->limits->max_outgoing, s->limits->max_incoming,
		    s->limits->max_per_pf, a,
		    fmt_bytes(b, sizeof(b), (double)s->limits->max_message_bytes));
	}
	printf("jobs:    ");
	if (s->n_jobs_by_phase == 0)
		printf("none");
	for (i = 0; i < s->n_jobs_by_phase; i++)
		printf("%s%s %" PRIu32, i != 0 ? ", " : "",
		    vmigctl_enum(&vmig__v1__job_phase__descriptor,
		    s->jobs_by_phase[i]->phase, "PHASE_", a, sizeof(a)),
		    s->jobs_by_phase[i]->count);
	printf("\nqueue:   ");
	if (s->n_queue == 0)
		printf("empty");
	for (i = 0; i < s->n_queue; i++)
		printf("%sjob %" PRIu64, i != 0 ? ", " : "", s->queue[i]);
	printf("\n");
	for (i = 0; i < s->n_shares; i++)
		printf("share:   job %" PRIu64 ": %s (%s)\n",
		    s->shares[i]->job_id, fmt_rate(a, sizeof(a),
		    (double)s->shares[i]->share_bps), s->shares[i]->reason);
	vmig_client_free(resp);
	return (VMIGCTL_EXIT_OK);
}

/* "DEVICE@URL": a vmigctl of its own for URL; "DEVICE": ctl's. */
static char *
vmigctl_at(struct vmigctl *ctl, const char *arg, struct vmigctl *other,
    char *dev, size_t len)
{
	char	*at;

	snprintf(dev, len, "%s", arg);
	*other = *ctl;
	other->client = NULL;
	other->json = 0;
	if ((at = strchr(dev, '@')) != NULL) {
		*at = '\0';
		other->url = at + 1;
	} else
		other->client = ctl->client;
	return (dev);
}

static void
vmigctl_at_done(struct vmigctl *ctl, struct vmigctl *other)
{
	if (other->client != NULL && other->client != ctl->client)
		vmig_client_close(other->client);
	else if (other->client != NULL)
		ctl->client = other->client;
}

/* The interface of a device, from its daemon's ListDevices. */
static int
vmigctl_iface(struct vmigctl *ctl, const char *name, char *out, size_t len)
{
	Vmig__V1__Request		 req = VMIG__V1__REQUEST__INIT;
	Vmig__V1__ListDevicesRequest	 q = VMIG__V1__LIST_DEVICES_REQUEST__INIT;
	Vmig__V1__Response		*resp;
	Vmig__V1__ListDevicesResponse	*l;
	size_t				 i;
	int				 rv;

	req.call_case = VMIG__V1__REQUEST__CALL_LIST_DEVICES;
	req.list_devices = &q;
	if ((rv = vmigctl_call(ctl, &req, &resp)) != VMIGCTL_EXIT_OK)
		return (rv);
	rv = VMIGCTL_EXIT_ERROR;
	l = resp->list_devices;
	for (i = 0; l != NULL && i < l->n_devices; i++) {
		if (strcmp(l->devices[i]->name, name) == 0 &&
		    l->devices[i]->caps != NULL) {
			snprintf(out, len, "%s", l->devices[i]->caps->interface);
			rv = VMIGCTL_EXIT_OK;
		}
	}
	if (rv != VMIGCTL_EXIT_OK)
		vmigctl_warnx("%s: no device %s", ctl->url, name);
	vmig_client_free(resp);
	return (rv);
}

/*
 * compat SRC DST: SRC's interface from its daemon, then DST's daemon
 * says (its backend: a virtio VF takes another dialect's state when it
 * can express it). Exit 0 when compatible, 1 when not.
 */
static int
vmigctl_compat(struct vmigctl *ctl, const struct vmigctl_cmd *cmd,
    int argc, char **argv)
{
	Vmig__V1__Request		 req = VMIG__V1__REQUEST__INIT;
	Vmig__V1__CheckCompatRequest	 q = VMIG__V1__CHECK_COMPAT_REQUEST__INIT;
	Vmig__V1__Response		*resp;
	Vmig__V1__CheckCompatResponse	*c;
	struct vmigctl			 sc, dc;
	char				*src, *dst, iface[64], sb[256], db[256];
	int				 rv;

	if (vmigctl_getopt(cmd, argc, argv) != -1)
		return (VMIGCTL_EXIT_USAGE);
	if ((rv = vmigctl_nargs(cmd, argc, argv, 2, 2,
	    "a source and a destination device")) != VMIGCTL_EXIT_OK)
		return (rv);
	src = vmigctl_at(ctl, argv[optind], &sc, sb, sizeof(sb));
	rv = vmigctl_iface(&sc, src, iface, sizeof(iface));
	vmigctl_at_done(ctl, &sc);
	if (rv != VMIGCTL_EXIT_OK)
		return (rv);
	dst = vmigctl_at(ctl, argv[optind + 1], &dc, db, sizeof(db));
	dc.json = ctl->json;
	q.device = dst;
	q.source_interface = iface;
	req.call_case = VMIG__V1__REQUEST__CALL_CHECK_COMPAT;
	req.check_compat = &q;
	rv = vmigctl_call(&dc, &req, &resp);
	vmigctl_at_done(ctl, &dc);
	if (rv != VMIGCTL_EXIT_OK)
		return (rv);
	c = resp->check_compat;
	if (!vmigctl_json(&dc, resp) && c != NULL) {
		printf("%s (%s) -> %s (%s): ", src, iface, dst, c->interface);
		if (!c->compatible)
			printf("not compatible: %s\n", c->reason);
		else if (*c->conditions != '\0')
			printf("compatible if %s\n", c->conditions);
		else
			printf("compatible\n");
	}
	rv = c != NULL && c->compatible ? VMIGCTL_EXIT_OK : VMIGCTL_EXIT_ERROR;
	vmig_client_free(resp);
	return (rv);
}
