/*
 * tiny_plugin.c: the smallest backend a third party could write, built by
 * test/integration/test_install.py against an installed tree only
 * (`pkg-config --cflags vmig-backend`, <vmig/backend.h>): PFs whose spec
 * is "vfs=N" list N VFs. It has no device commands, so nothing migrates;
 * it shows that the installed header is enough to be loaded. pf_open is
 * asynchronous (ABI 2): its answer comes on the daemon's next loop turn,
 * through libevent, whose symbols the daemon brings.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>
#include <vmig/backend.h>

struct vmig_pf {
	unsigned int	 nvfs;
	vmig_done_fn	 done;		/* pf_open's, until it answered */
	void		*arg;
	struct event	*ev;
};

static int
tiny_init(const struct vmig_host *host, void **priv)
{
	host->log(VMIG_LOG_INFO, "tiny backend, host ABI %u.%u",
	    host->abi_major, host->abi_minor);
	*priv = (void *)host;
	return (0);
}

static void
tiny_pf_opened(evutil_socket_t fd, short what, void *arg)
{
	struct vmig_pf		*pf = arg;
	vmig_done_fn		 done = pf->done;
	struct vmig_result	 res;

	(void)fd;
	(void)what;
	memset(&res, 0, sizeof(res));
	pf->done = NULL;
	done(pf->arg, &res);
}

static int
tiny_pf_open(void *priv, const char *name, const char *spec,
    const struct vmig_fd *fds, unsigned int nfds, struct vmig_pf **out,
    vmig_done_fn done, void *arg, char *err, size_t errlen)
{
	static const struct timeval	 now = { 0, 0 };
	const struct vmig_host		*host = priv;
	struct vmig_pf			*pf;
	unsigned int			 n;

	(void)fds;
	(void)nfds;
	if (sscanf(spec, "vfs=%u", &n) != 1 || n > 8) {
		snprintf(err, errlen, "PF %s: spec '%s' is not vfs=0..8", name,
		    spec);
		return (-EINVAL);
	}
	if ((pf = calloc(1, sizeof(*pf))) == NULL)
		return (-ENOMEM);
	pf->nvfs = n;
	pf->done = done;
	pf->arg = arg;
	/* never from inside the call: on the loop's next turn */
	if ((pf->ev = evtimer_new(host->base, tiny_pf_opened, pf)) == NULL ||
	    evtimer_add(pf->ev, &now) != 0) {
		if (pf->ev != NULL)
			event_free(pf->ev);
		free(pf);
		snprintf(err, errlen, "PF %s: cannot schedule the open", name);
		return (-ENOMEM);
	}
	*out = pf;
	return (0);
}

/* An open still to answer is answered -ECANCELED, as the ABI says. */
static void
tiny_pf_close(struct vmig_pf *pf)
{
	struct vmig_result	res;

	event_free(pf->ev);
	if (pf->done != NULL) {
		memset(&res, 0, sizeof(res));
		res.err = -ECANCELED;
		pf->done(pf->arg, &res);
	}
	free(pf);
}

static int
tiny_pf_info(struct vmig_pf *pf, struct vmig_pf_info *info)
{
	memset(info, 0, sizeof(*info));
	snprintf(info->interface, sizeof(info->interface), "tiny");
	info->num_vfs = pf->nvfs;
	return (0);
}

static int
tiny_pf_list(struct vmig_pf *pf, struct vmig_dev_info *out, int max)
{
	unsigned int	i;

	for (i = 0; i < pf->nvfs && (int)i < max; i++) {
		memset(&out[i], 0, sizeof(out[i]));
		snprintf(out[i].name, sizeof(out[i].name), "vf%u", i + 1);
		snprintf(out[i].type, sizeof(out[i].type), "tiny");
		out[i].member_id = i + 1;
		out[i].mode = VMIG_MODE_ACTIVE;
		snprintf(out[i].caps.interface, sizeof(out[i].caps.interface),
		    "tiny/v1");
		out[i].caps.modes = VMIG_MODE_BIT(VMIG_MODE_ACTIVE);
	}
	return ((int)pf->nvfs);
}

__attribute__((visibility("default")))
const struct vmig_backend vmig_backend = {
	.abi_major = VMIG_BACKEND_ABI_MAJOR,
	.abi_minor = VMIG_BACKEND_ABI_MINOR,
	.name = "tiny",
	.version = "1",
	.description = "a third-party backend built against the installed ABI",
	.init = tiny_init,
	.pf_open = tiny_pf_open,
	.pf_close = tiny_pf_close,
	.pf_info = tiny_pf_info,
	.pf_list = tiny_pf_list,
};
