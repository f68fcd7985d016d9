/*
 * plugin_good.c: a small but real backend for the loader tests and the
 * foundation's integration tests: PFs with N VFs from the spec
 * ("vfs=4[,fail=REASON][,type=TYPE][,slow=MS][,need=FD]"), opened
 * asynchronously (slow: after MS, so "opening" can be seen; need: only
 * with an fd of that name handed over), mode get/set completed on the
 * daemon's loop like a real device's. dev_open logs the fds it is given
 * and the first bytes each reads, so a test sees that the very file it
 * handed over arrived. Not a device model: the simulator (test/sim) is.
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>

#include "vmig/backend.h"

struct tpriv {
	const struct vmig_host	*host;
	int			 pfs;
};

struct vmig_pf {
	struct tpriv	*priv;
	char		 name[32];
	char		 type[32];
	unsigned int	 nvfs;
	uint32_t	 modes[64];	/* per VF, 1-based */
	struct event	*ev_open;	/* the open under way */
	vmig_done_fn	 open_done;
	void		*open_arg;
};

struct vmig_dev {
	struct vmig_pf	*pf;
	uint64_t	 member;
};

struct tdone {
	vmig_done_fn	 done;
	void		*arg;
	struct vmig_result res;
};

static int
t_init(const struct vmig_host *host, void **priv)
{
	struct tpriv	*p;

	if ((p = calloc(1, sizeof(*p))) == NULL)
		return (-ENOMEM);
	p->host = host;
	host->log(VMIG_LOG_INFO, "init (host ABI %u.%u)", host->abi_major,
	    host->abi_minor);
	*priv = p;
	return (0);
}

static void
t_fini(void *priv)
{
	free(priv);
}

/* The open completes on the loop, after slow ms (0: the next turn). */
static void
t_pf_opened(evutil_socket_t fd, short what, void *arg)
{
	struct vmig_pf		*pf = arg;
	struct vmig_result	 res;

	memset(&res, 0, sizeof(res));
	event_free(pf->ev_open);
	pf->ev_open = NULL;
	pf->open_done(pf->open_arg, &res);
}

static int
t_pf_open(void *priv, const char *name, const char *spec,
    const struct vmig_fd *fds, unsigned int nfds, struct vmig_pf **out,
    vmig_done_fn done, void *arg, char *err, size_t errlen)
{
	struct vmig_pf	*pf;
	const char	*p;
	char		*end;
	unsigned long	 n, slow = 0;
	struct timeval	 tv;

	if (strncmp(spec, "vfs=", 4) != 0) {
		snprintf(err, errlen, "spec must start with vfs=N");
		return (-EINVAL);
	}
	n = strtoul(spec + 4, &end, 10);
	if (end == spec + 4 || n > 64 || (*end != '\0' && *end != ',')) {
		snprintf(err, errlen, "vfs must be 0 to 64");
		return (-EINVAL);
	}
	if ((p = strstr(spec, ",fail=")) != NULL) {
		snprintf(err, errlen, "%s", p + 6);
		return (-EIO);
	}
	if ((p = strstr(spec, ",slow=")) != NULL)
		slow = strtoul(p + 6, NULL, 10);
	if ((p = strstr(spec, ",need=")) != NULL && (nfds == 0 ||
	    strncmp(fds[0].name, p + 6, strcspn(p + 6, ",")) != 0)) {
		snprintf(err, errlen, "no %.*s fd handed over",
		    (int)strcspn(p + 6, ","), p + 6);
		return (-ENODEV);
	}
	if ((pf = calloc(1, sizeof(*pf))) == NULL)
		return (-ENOMEM);
	pf->priv = priv;
	pf->nvfs = (unsigned int)n;
	snprintf(pf->name, sizeof(pf->name), "%s", name);
	snprintf(pf->type, sizeof(pf->type), "%.31s", (p = strstr(spec,
	    ",type=")) != NULL ? p + 6 : "virtio-net");
	if ((end = strchr(pf->type, ',')) != NULL)
		*end = '\0';
	for (n = 0; n < 64; n++)
		pf->modes[n] = VMIG_MODE_ACTIVE;
	pf->priv->pfs++;
	pf->open_done = done;
	pf->open_arg = arg;
	pf->ev_open = evtimer_new(pf->priv->host->base, t_pf_opened, pf);
	tv.tv_sec = (time_t)(slow / 1000);
	tv.tv_usec = (suseconds_t)(slow % 1000) * 1000;
	evtimer_add(pf->ev_open, &tv);
	pf->priv->host->log(VMIG_LOG_DEBUG, "pf %s opening (%u fds)", name,
	    nfds);
	*out = pf;
	return (0);
}

static void
t_pf_close(struct vmig_pf *pf)
{
	struct vmig_result	res;

	if (pf->ev_open != NULL) {
		/* an open under way ends first, cancelled */
		memset(&res, 0, sizeof(res));
		res.err = -ECANCELED;
		event_free(pf->ev_open);
		pf->open_done(pf->open_arg, &res);
	}
	pf->priv->pfs--;
	free(pf);
}

static int
t_pf_info(struct vmig_pf *pf, struct vmig_pf_info *info)
{
	memset(info, 0, sizeof(*info));
	snprintf(info->interface, sizeof(info->interface), "test");
	info->num_vfs = pf->nvfs;
	info->queue_depth = 8;
	info->max_inflight = 8;
	return (0);
}

static int
t_pf_list(struct vmig_pf *pf, struct vmig_dev_info *out, int max)
{
	struct vmig_dev_info	*d;
	unsigned int		 i;

	for (i = 0; i < pf->nvfs && (int)i < max; i++) {
		d = &out[i];
		memset(d, 0, sizeof(*d));
		snprintf(d->name, sizeof(d->name), "vf%u", i + 1);
		snprintf(d->type, sizeof(d->type), "%s", pf->type);
		d->member_id = i + 1;
		d->mode = pf->modes[i];
		snprintf(d->caps.interface, sizeof(d->caps.interface),
		    "test/v1");
		d->caps.modes = VMIG_MODE_BIT(VMIG_MODE_ACTIVE) |
		    VMIG_MODE_BIT(VMIG_MODE_STOPPED) |
		    VMIG_MODE_BIT(VMIG_MODE_FROZEN);
		d->caps.flags = VMIG_CAP_STATE_CHUNKED | VMIG_CAP_STATE_PRECOPY;
		d->caps.state_max_bytes = 4096;
		d->caps.dirty_kind = VMIG_DIRTY_NONE;
		d->caps.track_scope = VMIG_TRACK_NONE;
		d->caps.dirty_page_sizes = 1;
		d->caps.dirty_max_ranges = 4;
	}
	return ((int)pf->nvfs);
}

static int
t_dev_open(struct vmig_pf *pf, uint64_t member, const struct vmig_fd *fds,
    unsigned int nfds, struct vmig_dev **out, char *err, size_t errlen)
{
	struct vmig_dev	*d;
	char		 buf[33];
	unsigned int	 i;
	ssize_t		 n;

	if (member < 1 || member > pf->nvfs) {
		snprintf(err, errlen, "no VF %llu", (unsigned long long)member);
		return (-ENOENT);
	}
	for (i = 0; i < nfds; i++) {
		n = pread(fds[i].fd, buf, sizeof(buf) - 1, 0);
		buf[n > 0 ? n : 0] = '\0';
		buf[strcspn(buf, "\n")] = '\0';
		pf->priv->host->log(VMIG_LOG_INFO, "dev_open vf%llu: %s=%s",
		    (unsigned long long)member, fds[i].name, buf);
	}
	if ((d = calloc(1, sizeof(*d))) == NULL)
		return (-ENOMEM);
	d->pf = pf;
	d->member = member;
	*out = d;
	return (0);
}

static void
t_dev_close(struct vmig_dev *d)
{
	free(d);
}

/* Complete on the loop, later, as a device would. */
static void
t_complete(evutil_socket_t fd, short what, void *arg)
{
	struct tdone	*td = arg;

	td->done(td->arg, &td->res);
	free(td);
}

static int
t_submit(struct vmig_dev *d, vmig_done_fn done, void *arg, int err,
    uint32_t mode)
{
	struct tdone	*td;

	if ((td = calloc(1, sizeof(*td))) == NULL)
		return (-ENOMEM);
	td->done = done;
	td->arg = arg;
	td->res.err = err;
	td->res.u.mode = mode;
	if (event_base_once(d->pf->priv->host->base, -1, EV_TIMEOUT,
	    t_complete, td, NULL) != 0) {
		free(td);
		return (-ENOMEM);
	}
	return (0);
}

static int
t_get_mode(struct vmig_dev *d, int lane, vmig_done_fn done, void *arg)
{
	return (t_submit(d, done, arg, 0, d->pf->modes[d->member - 1]));
}

static int
t_set_mode(struct vmig_dev *d, enum vmig_mode mode, int lane,
    vmig_done_fn done, void *arg)
{
	if (mode < VMIG_MODE_ACTIVE || mode > VMIG_MODE_QUIESCED ||
	    mode == VMIG_MODE_ERROR)
		return (-EINVAL);
	d->pf->modes[d->member - 1] = mode;
	return (t_submit(d, done, arg, 0, mode));
}

const struct vmig_backend vmig_backend = {
	.abi_major = VMIG_BACKEND_ABI_MAJOR,
	.abi_minor = VMIG_BACKEND_ABI_MINOR,
	.name = "testdev",
	.version = "1.0",
	.description = "test backend: PFs with N VFs from the spec",
	.init = t_init,
	.fini = t_fini,
	.pf_open = t_pf_open,
	.pf_close = t_pf_close,
	.pf_info = t_pf_info,
	.pf_list = t_pf_list,
	.dev_open = t_dev_open,
	.dev_close = t_dev_close,
	.get_mode = t_get_mode,
	.set_mode = t_set_mode,
};
