/*
 * backend.c: plugin loading (dlopen), the registry of PFs from the config,
 * and device naming ("PF/vfN").
 *
 * struct vmig_host's log function has no context argument, so each loaded
 * plugin gets its own trampoline (one per slot) that prefixes its name.
 */
#include "config.h"

#include <sys/queue.h>
#include <sys/stat.h>

#include <ctype.h>
#include <dirent.h>
#include <dlfcn.h>
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "backend.h"
#include "conf.h"
#include "events.h"
#include "log.h"
#include "util.h"

/* Backends by log slot, for the trampolines. */
static struct backend *backend_slots[BACKEND_MAX];

static void
backend_vlog(int slot, int level, const char *fmt, va_list ap)
{
	struct backend	*be = backend_slots[slot];
	char		 buf[1024];

	vsnprintf(buf, sizeof(buf), fmt, ap);
	if (level < VMIG_LOG_ERROR)
		level = VMIG_LOG_ERROR;
	if (level > VMIG_LOG_DEBUG)
		level = VMIG_LOG_DEBUG;
	/* enum vmig_log_level and enum log_level share their values. */
	log_msg(level, "%s: %s", be != NULL ? be->name : "backend", buf);
}

#define BACKEND_LOG_FN(n)						\
static void								\
backend_log##n(int level, const char *fmt, ...)				\
{									\
	va_list	ap;							\
									\
	va_start(ap, fmt);						\
	backend_vlog(n, level, fmt, ap);				\
	va_end(ap);							\
}
BACKEND_LOG_FN(0) BACKEND_LOG_FN(1) BACKEND_LOG_FN(2) BACKEND_LOG_FN(3)
BACKEND_LOG_FN(4) BACKEND_LOG_FN(5) BACKEND_LOG_FN(6) BACKEND_LOG_FN(7)
BACKEND_LOG_FN(8) BACKEND_LOG_FN(9) BACKEND_LOG_FN(10) BACKEND_LOG_FN(11)
BACKEND_LOG_FN(12) BACKEND_LOG_FN(13) BACKEND_LOG_FN(14) BACKEND_LOG_FN(15)

static void (*const backend_log_fns[BACKEND_MAX])(int, const char *, ...) = {
	backend_log0, backend_log1, backend_log2, backend_log3,
	backend_log4, backend_log5, backend_log6, backend_log7,
	backend_log8, backend_log9, backend_log10, backend_log11,
	backend_log12, backend_log13, backend_log14, backend_log15,
};

static const char *const backend_modes[] = {
	[VMIG_MODE_UNKNOWN] = "unknown",
	[VMIG_MODE_ACTIVE] = "active",
	[VMIG_MODE_STOPPED] = "stopped",
	[VMIG_MODE_FROZEN] = "frozen",
	[VMIG_MODE_ERROR] = "error",
};

const char *
backend_mode_name(uint32_t mode)
{
	if (mode >= nitems(backend_modes))
		return ("invalid");
	return (backend_modes[mode]);
}

/*
 * A bounded, printable copy of a name that came from outside (a request,
 * a plugin), for messages: they travel as protobuf strings (UTF-8) and
 * land in terminals.
 */
static const char *
backend_printable(const char *s, char *buf, size_t len)
{
	size_t	i;

	for (i = 0; s[i] != '\0' && i + 1 < len; i++)
		buf[i] = isprint((unsigned char)s[i]) ? s[i] : '?';
	buf[i] = '\0';
	if (s[i] != '\0' && len > 4)
		memcpy(buf + len - 4, "...", 4);
	return (buf);
}

int
backend_state_compat(const struct device *d, const char *src_interface,
    char *err, size_t errlen)
{
	const struct backend	*be = d->pf->be;
	char			 safe[64];

	if (err != NULL && errlen > 0)
		err[0] = '\0';
	if (src_interface == NULL)
		src_interface = "";
	if (strcmp(src_interface, d->info.caps.interface) == 0)
		return (0);
	backend_printable(src_interface, safe, sizeof(safe));
	if (be == NULL || be->ops == NULL || be->ops->abi_minor < 1 ||
	    be->ops->state_compat == NULL || d->pf->handle == NULL ||
	    d->pf->state != PF_ONLINE) {
		snprintf(err, errlen, "source interface %s differs from "
		    "destination %s's %s", safe, d->name,
		    d->info.caps.interface);
		return (-EPROTONOSUPPORT);
	}
	return (be->ops->state_compat(d->pf->handle, d->info.member_id,
	    src_interface, err, errlen));
}

/* ---------------------------------------------------------------- plugins */

static struct backend *
backend_refuse(struct backends *bs, const char *stem, const char *path,
    const char *fmt, ...) __attribute__((format(printf, 4, 5)));

static struct backend *
backend_refuse(struct backends *bs, const char *stem, const char *path,
    const char *fmt, ...)
{
	struct backend	*be;
	va_list		 ap;

	be = xcalloc(1, sizeof(*be));
	be->name = xstrdup(stem);
	be->path = xstrdup(path);
	be->slot = -1;
	va_start(ap, fmt);
	vsnprintf(be->error, sizeof(be->error), fmt, ap);
	va_end(ap);
	TAILQ_INSERT_TAIL(&bs->list, be, entry);
	bs->nrefused++;
	log_warnx("backend %s: refused: %s", path, be->error);
	return (be);
}

static void	backend_adopt(struct backends *, const struct vmig_backend *,
		    void *dl, const char *path, const char *stem);

static void
backend_load(struct backends *bs, const char *path, const char *stem)
{
	const struct vmig_backend	*vb;
	void				*dl;

	if ((dl = dlopen(path, RTLD_NOW | RTLD_LOCAL)) == NULL) {
		backend_refuse(bs, stem, path, "cannot load it: %s", dlerror());
		return;
	}
	if ((vb = dlsym(dl, VMIG_BACKEND_SYMBOL)) == NULL) {
		backend_refuse(bs, stem, path, "it does not export the symbol "
		    "%s (not a vmigd backend?)", VMIG_BACKEND_SYMBOL);
		dlclose(dl);
		return;
	}
	backend_adopt(bs, vb, dl, path, stem);
}

void
backends_add_builtin(struct backends *bs, const struct vmig_backend *vb)
{
	backend_adopt(bs, vb, NULL, "(built in)", vb->name);
}

/* Check a backend's table and init it (dl: its handle, NULL built in). */
static void
backend_adopt(struct backends *bs, const struct vmig_backend *vb, void *dl,
    const char *path, const char *stem)
{
	struct backend			*be, *other;
	const char			*missing = NULL;
	int				 slot, rv;

	/*
	 * abi_major is the first field in every ABI version: safe to read.
	 * No shim for ABI 1: its pf_open blocked the loop (a PF's first
	 * commands polled for up to 5 s, on SIGHUP too) and it had no state
	 * kinds, trackers or fds; a plugin is rebuilt against the header.
	 */
	if (vb->abi_major != VMIG_BACKEND_ABI_MAJOR) {
		backend_refuse(bs, stem, path, "it was built for backend ABI "
		    "%" PRIu32 ", this vmigd speaks ABI %d: rebuild it against "
		    "this vmigd's <vmig/backend.h>", vb->abi_major,
		    VMIG_BACKEND_ABI_MAJOR);
		if (dl != NULL)
			dlclose(dl);
		return;
	}
	if (vb->name == NULL || *vb->name == '\0')
		missing = "name";
	else if (vb->init == NULL)
		missing = "init";
	else if (vb->pf_open == NULL)
		missing = "pf_open";
	else if (vb->pf_close == NULL)
		missing = "pf_close";
	else if (vb->pf_info == NULL)
		missing = "pf_info";
	else if (vb->pf_list == NULL)
		missing = "pf_list";
	if (missing != NULL) {
		backend_refuse(bs, stem, path, "it has no %s", missing);
		if (dl != NULL)
			dlclose(dl);
		return;
	}
	if ((other = backend_find(bs, vb->name)) != NULL &&
	    other->ops != NULL) {
		backend_refuse(bs, stem, path, "a backend named %s is loaded "
		    "already from %s", vb->name, other->path);
		if (dl != NULL)
			dlclose(dl);
		return;
	}
	for (slot = 0; slot < BACKEND_MAX; slot++) {
		if (backend_slots[slot] == NULL)
			break;
	}
	if (slot == BACKEND_MAX) {
		backend_refuse(bs, stem, path, "%d backends are loaded already "
		    "(the most vmigd takes)", BACKEND_MAX);
		if (dl != NULL)
			dlclose(dl);
		return;
	}

	be = xcalloc(1, sizeof(*be));
	be->name = xstrdup(vb->name);
	be->path = xstrdup(path);
	be->dl = dl;
	be->ops = vb;
	be->slot = slot;
	be->host.abi_major = VMIG_BACKEND_ABI_MAJOR;
	be->host.abi_minor = VMIG_BACKEND_ABI_MINOR;
	be->host.base = bs->base;
	be->host.log = backend_log_fns[slot];
	backend_slots[slot] = be;
	if ((rv = vb->init(&be->host, &be->priv)) != 0) {
		backend_slots[slot] = NULL;
		free(be->name);
		free(be->path);
		free(be);
		backend_refuse(bs, stem, path, "its init failed: %s",
		    strerror(rv < 0 ? -rv : rv));
		if (dl != NULL)
			dlclose(dl);
		return;
	}
	TAILQ_INSERT_HEAD(&bs->list, be, entry);	/* loaded ones first */
	bs->nloaded++;
	log_info("backend %s %s loaded from %s (ABI %" PRIu32 ".%" PRIu32 ")",
	    be->name, vb->version != NULL ? vb->version : "", path,
	    vb->abi_major, vb->abi_minor);
}

static int
backend_is_plugin(const struct dirent *de)
{
	size_t	len = strlen(de->d_name);

	return (len > 3 && de->d_name[0] != '.' &&
	    strcmp(de->d_name + len - 3, ".so") == 0);
}

struct backends *
backends_new(struct event_base *base, const char *dir, char *err,
    size_t errlen)
{
	struct backends	 *bs;
	struct dirent	**names;
	struct stat	  sb;
	char		 *path, *stem, *p;
	int		  n, i;

	if (stat(dir, &sb) != 0) {
		snprintf(err, errlen, "plugin_dir %s: %s", dir,
		    strerror(errno));
		return (NULL);
	}
	if (!S_ISDIR(sb.st_mode)) {
		snprintf(err, errlen, "plugin_dir %s: not a directory", dir);
		return (NULL);
	}
	if ((n = scandir(dir, &names, backend_is_plugin, alphasort)) < 0) {
		snprintf(err, errlen, "plugin_dir %s: cannot read it: %s", dir,
		    strerror(errno));
		return (NULL);
	}
	bs = xcalloc(1, sizeof(*bs));
	bs->base = base;
	bs->plugin_dir = xstrdup(dir);
	TAILQ_INIT(&bs->list);
	TAILQ_INIT(&bs->pfs);
	for (i = 0; i < n; i++) {
		xasprintf(&path, "%s/%s", dir, names[i]->d_name);
		/* The file stem names a refused plugin: virtio_admin.so is
		 * "virtio-admin", as the backend would call itself. */
		stem = xstrdup(names[i]->d_name);
		stem[strlen(stem) - 3] = '\0';
		for (p = stem; *p != '\0'; p++) {
			if (*p == '_')
				*p = '-';
		}
		backend_load(bs, path, stem);
		free(path);
		free(stem);
		free(names[i]);
	}
	free(names);
	log_info("plugins: %u loaded, %u refused, from %s", bs->nloaded,
	    bs->nrefused, dir);
	return (bs);
}

struct backend *
backend_find(struct backends *bs, const char *name)
{
	struct backend	*be;

	/* Loaded ones are first, so a good plugin wins over a refused one. */
	TAILQ_FOREACH(be, &bs->list, entry) {
		if (strcmp(be->name, name) == 0)
			return (be);
	}
	return (NULL);
}

/* ---------------------------------------------------------------- PFs */

struct pf *
backend_pf_find(struct backends *bs, const char *name)
{
	struct pf	*pf;

	TAILQ_FOREACH(pf, &bs->pfs, entry) {
		if (strcmp(pf->name, name) == 0)
			return (pf);
	}
	return (NULL);
}

static int
backend_pf_busy(const struct pf *pf, const struct device **who)
{
	unsigned int	i;

	for (i = 0; i < pf->ndevs; i++) {
		if (pf->devs[i]->job_id != 0) {
			if (who != NULL)
				*who = pf->devs[i];
			return (1);
		}
	}
	return (0);
}

static struct device *
backend_pf_member(struct pf *pf, uint64_t member_id)
{
	unsigned int	i;

	for (i = 0; i < pf->ndevs; i++) {
		if (pf->devs[i]->info.member_id == member_id)
			return (pf->devs[i]);
	}
	return (NULL);
}

int
backend_pf_refresh(struct pf *pf)
{
	struct vmig_dev_info	*infos;
	struct device		*d;
	char			 name[sizeof(infos->name)];
	int			 cap, n, i;
	unsigned int		 j;

	if (pf->state != PF_ONLINE)
		return (-ENODEV);
	cap = pf->info.num_vfs > 0 ? (int)pf->info.num_vfs : 16;
	for (;;) {
		infos = xcalloc((size_t)cap, sizeof(*infos));
		n = pf->be->ops->pf_list(pf->handle, infos, cap);
		if (n <= cap || n > 65536)
			break;
		free(infos);
		cap = n;
	}
	if (n < 0 || n > 65536) {
		free(infos);
		log_warnx("pf %s: listing its VFs failed: %s", pf->name,
		    n < 0 ? strerror(-n) : "absurd count");
		return (n < 0 ? n : -EPROTO);
	}
	for (j = 0; j < pf->ndevs; j++)
		pf->devs[j]->present = 0;
	for (i = 0; i < n; i++) {
		if ((d = backend_pf_member(pf, infos[i].member_id)) == NULL) {
			d = xcalloc(1, sizeof(*d));
			d->pf = pf;
			pf->devs = xreallocarray(pf->devs, pf->ndevs + 1,
			    sizeof(*pf->devs));
			pf->devs[pf->ndevs++] = d;
		}
		d->info = infos[i];
		/* Never trust a plugin's string to be terminated. */
		d->info.name[sizeof(d->info.name) - 1] = '\0';
		d->info.type[sizeof(d->info.type) - 1] = '\0';
		d->info.caps.interface[sizeof(d->info.caps.interface) - 1] =
		    '\0';
		if (d->info.name[0] == '\0' || strchr(d->info.name, '/'))
			snprintf(name, sizeof(name), "vf%" PRIu64,
			    d->info.member_id);
		else
			backend_printable(d->info.name, name, sizeof(name));
		snprintf(d->name, sizeof(d->name), "%s/%s", pf->name, name);
		d->present = 1;
	}
	free(infos);
	return (0);
}

static void
backend_fds_close(struct backend_fds *f)
{
	unsigned int	i;

	for (i = 0; i < f->n; i++)
		close(f->fd[i]);
	memset(f, 0, sizeof(*f));
}

const char *
backend_pf_state_name(enum pf_state st)
{
	switch (st) {
	case PF_ONLINE:
		return ("online");
	case PF_OPENING:
		return ("opening");
	default:
		return ("offline");
	}
}

static void
backend_pf_close(struct pf *pf)
{
	unsigned int	 i;
	struct vmig_pf	*h = pf->handle;

	for (i = 0; i < pf->ndevs; i++)
		backend_dev_close(pf->devs[i]);
	/* an open under way completes (-ECANCELED) inside pf_close: ignored */
	pf->handle = NULL;
	pf->state = PF_OFFLINE;
	if (h != NULL)
		pf->be->ops->pf_close(h);
}

static void
backend_pf_offline(struct pf *pf)
{
	memset(&pf->info, 0, sizeof(pf->info));
	log_warnx("pf %s: offline: %s", pf->name, pf->error);
	events_device(pf->bs->events, pf->name, "PF %s offline: %s",
	    pf->name, pf->error);
}

static int
backends_opening(const struct backends *bs)
{
	const struct pf	*pf;

	TAILQ_FOREACH(pf, &bs->pfs, entry) {
		if (pf->state == PF_OPENING)
			return (1);
	}
	return (0);
}

static void
backends_check_settled(struct backends *bs)
{
	void	(*fn)(void *) = bs->on_settled;

	if (fn == NULL || backends_opening(bs))
		return;
	bs->on_settled = NULL;
	fn(bs->settled_arg);
}

void
backends_when_settled(struct backends *bs, void (*fn)(void *), void *arg)
{
	bs->on_settled = fn;
	bs->settled_arg = arg;
	backends_check_settled(bs);
}

static void	backend_pf_opened_do(struct pf *, const struct vmig_result *);

/* The backend's answer to pf_open. */
static void
backend_pf_opened(void *arg, const struct vmig_result *res)
{
	struct pf	*pf = arg;

	if (pf->state != PF_OPENING || pf->handle == NULL)
		return;		/* closed meanwhile (pf_close cancels) */
	backend_pf_opened_do(pf, res);
	backends_check_settled(pf->bs);
}

static void
backend_pf_opened_do(struct pf *pf, const struct vmig_result *res)
{
	int		 rv;

	if (res->err != 0) {
		snprintf(pf->error, sizeof(pf->error), "%s: %s", pf->spec,
		    res->msg != NULL && *res->msg != '\0' ? res->msg :
		    strerror(-res->err));
		backend_pf_close(pf);
		backend_pf_offline(pf);
		return;
	}
	pf->state = PF_ONLINE;
	if ((rv = pf->be->ops->pf_info(pf->handle, &pf->info)) != 0) {
		snprintf(pf->error, sizeof(pf->error), "%s: cannot get PF "
		    "information: %s", pf->spec, strerror(rv < 0 ? -rv : EIO));
		backend_pf_close(pf);
		backend_pf_offline(pf);
		return;
	}
	if ((rv = backend_pf_refresh(pf)) != 0) {
		snprintf(pf->error, sizeof(pf->error), "%s: cannot list its "
		    "VFs: %s", pf->spec, strerror(-rv));
		backend_pf_close(pf);
		backend_pf_offline(pf);
		return;
	}
	pf->info.interface[sizeof(pf->info.interface) - 1] = '\0';
	log_info("pf %s: online, backend %s, %s, %u VFs", pf->name,
	    pf->be->name, pf->spec, pf->ndevs);
	events_device(pf->bs->events, pf->name, "PF %s online (%u VFs)",
	    pf->name, pf->ndevs);
}

/* Start opening the PF; its state says where it stands (OPENING first). */
static void
backend_pf_open(struct backends *bs, struct pf *pf)
{
	struct backend	*be;
	char		 err[BACKEND_ERR_MAX], names[128];
	size_t		 off = 0;
	int		 rv;

	pf->error[0] = '\0';
	pf->bs = bs;
	pf->be = be = backend_find(bs, pf->backend_name);
	if (be == NULL) {
		names[0] = '\0';
		TAILQ_FOREACH(be, &bs->list, entry) {
			if (be->ops != NULL && off < sizeof(names))
				off += (size_t)snprintf(names + off,
				    sizeof(names) - off, "%s%s",
				    off != 0 ? ", " : "", be->name);
		}
		snprintf(pf->error, sizeof(pf->error), "no backend named %s "
		    "in %s (loaded: %s)", pf->backend_name, bs->plugin_dir,
		    names[0] != '\0' ? names : "none");
		backend_pf_offline(pf);
		return;
	}
	if (be->ops == NULL) {
		pf->be = NULL;
		snprintf(pf->error, sizeof(pf->error), "backend %s (%s) was "
		    "refused: %.150s", be->name, be->path, be->error);
		backend_pf_offline(pf);
		return;
	}
	err[0] = '\0';
	pf->state = PF_OPENING;
	rv = be->ops->pf_open(be->priv, pf->name, pf->spec, pf->fds.v,
	    pf->fds.n, &pf->handle, backend_pf_opened, pf, err, sizeof(err));
	if (rv != 0 || pf->handle == NULL) {
		pf->handle = NULL;
		pf->state = PF_OFFLINE;
		err[sizeof(err) - 1] = '\0';
		snprintf(pf->error, sizeof(pf->error), "%s: %s", pf->spec,
		    err[0] != '\0' ? err : strerror(rv < 0 ? -rv : EIO));
		backend_pf_offline(pf);
		return;
	}
	log_debug("%s: pf %s opening", __func__, pf->name);
}

static void
backend_pf_free(struct backends *bs, struct pf *pf)
{
	unsigned int	i;

	backend_pf_close(pf);
	TAILQ_REMOVE(&bs->pfs, pf, entry);
	backend_fds_close(&pf->fds);
	for (i = 0; i < pf->ndevs; i++) {
		backend_fds_close(&pf->devs[i]->fds);
		free(pf->devs[i]);
	}
	free(pf->devs);
	free(pf->name);
	free(pf->backend_name);
	free(pf->spec);
	free(pf);
}

void
backends_configure(struct backends *bs, const struct config *c)
{
	const struct config_pf	*cp;
	const struct device	*who;
	struct pf		*pf, *next;

	for (pf = TAILQ_FIRST(&bs->pfs); pf != NULL; pf = next) {
		next = TAILQ_NEXT(pf, entry);
		cp = config_find_pf(c, pf->name);
		if (cp != NULL && strcmp(cp->backend, pf->backend_name) == 0 &&
		    strcmp(cp->spec, pf->spec) == 0) {
			pf->stale = 0;
			continue;
		}
		if (backend_pf_busy(pf, &who)) {
			if (!pf->stale)
				log_warnx("pf %s: %s in the config, but %s is "
				    "in use by job %" PRIu64 ": kept until the "
				    "next reload after it is free", pf->name,
				    cp == NULL ? "gone" : "changed", who->name,
				    who->job_id);
			pf->stale = 1;
			continue;
		}
		log_info("pf %s: %s in the config: closing it", pf->name,
		    cp == NULL ? "gone" : "changed");
		backend_pf_free(bs, pf);
	}
	TAILQ_FOREACH(cp, &c->pfs, entry) {
		if ((pf = backend_pf_find(bs, cp->name)) != NULL) {
			/* retry an offline one; one opening answers itself */
			if (pf->state == PF_OFFLINE && !pf->stale)
				backend_pf_open(bs, pf);
			continue;
		}
		pf = xcalloc(1, sizeof(*pf));
		pf->name = xstrdup(cp->name);
		pf->backend_name = xstrdup(cp->backend);
		pf->spec = xstrdup(cp->spec);
		TAILQ_INSERT_TAIL(&bs->pfs, pf, entry);
		backend_pf_open(bs, pf);
	}
}

unsigned int
backend_pf_online(struct backends *bs, unsigned int *nvfs)
{
	struct pf	*pf;
	unsigned int	 n = 0, vfs = 0, i;

	TAILQ_FOREACH(pf, &bs->pfs, entry) {
		if (pf->state != PF_ONLINE)
			continue;
		n++;
		for (i = 0; i < pf->ndevs; i++)
			vfs += pf->devs[i]->present;
	}
	if (nvfs != NULL)
		*nvfs = vfs;
	return (n);
}

void
backends_free(struct backends *bs)
{
	struct backend	*be;
	struct pf	*pf;

	if (bs == NULL)
		return;
	while ((pf = TAILQ_FIRST(&bs->pfs)) != NULL)
		backend_pf_free(bs, pf);
	while ((be = TAILQ_FIRST(&bs->list)) != NULL) {
		TAILQ_REMOVE(&bs->list, be, entry);
		if (be->ops != NULL) {
			if (be->ops->fini != NULL)
				be->ops->fini(be->priv);
			backend_slots[be->slot] = NULL;
			if (be->dl != NULL)
				dlclose(be->dl);
		}
		free(be->name);
		free(be->path);
		free(be);
	}
	free(bs->plugin_dir);
	free(bs);
}

/* ---------------------------------------------------------------- devices */

/* "configured: a, b" or "no PFs configured", for messages. */
static void
backend_pf_names(struct backends *bs, char *buf, size_t len)
{
	struct pf	*pf;
	size_t		 off;

	off = (size_t)snprintf(buf, len, "%s", TAILQ_EMPTY(&bs->pfs) ?
	    "no PFs configured" : "configured: ");
	TAILQ_FOREACH(pf, &bs->pfs, entry) {
		if (off >= len)
			break;
		off += (size_t)snprintf(buf + off, len - off, "%s%s",
		    pf == TAILQ_FIRST(&bs->pfs) ? "" : ", ", pf->name);
	}
}

int
backend_pf_lookup(struct backends *bs, const char *name, struct pf **out,
    char *err, size_t errlen)
{
	char	safe[64], list[160];

	if ((*out = backend_pf_find(bs, name)) != NULL)
		return (0);
	backend_pf_names(bs, list, sizeof(list));
	snprintf(err, errlen, "PF %s: no such PF (%s)",
	    backend_printable(name, safe, sizeof(safe)), list);
	return (-ENOENT);
}

int
backend_dev_lookup(struct backends *bs, const char *name, struct device **out,
    char *err, size_t errlen)
{
	struct pf	*pf = NULL;
	const char	*slash;
	char		 safe[96], pfname[CONFIG_NAME_MAX + 1], list[160];
	unsigned int	 i, nvf = 0;

	*out = NULL;
	backend_printable(name, safe, sizeof(safe));
	slash = strchr(name, '/');
	if (slash == NULL || slash == name || slash[1] == '\0' ||
	    strchr(slash + 1, '/') != NULL) {
		snprintf(err, errlen, "device '%s': not a device name "
		    "(expected PF/vfN, e.g. sim0/vf1)", safe);
		return (-EINVAL);
	}
	if ((size_t)(slash - name) < sizeof(pfname)) {
		memcpy(pfname, name, (size_t)(slash - name));
		pfname[slash - name] = '\0';
		pf = backend_pf_find(bs, pfname);
	}
	if (pf == NULL) {
		backend_pf_names(bs, list, sizeof(list));
		snprintf(err, errlen, "device %s: no such PF (%s)", safe,
		    list);
		return (-ENOENT);
	}
	if (pf->state == PF_OPENING) {
		snprintf(err, errlen, "device %s: PF %s is still opening", safe,
		    pf->name);
		return (-ENODEV);
	}
	if (pf->state != PF_ONLINE) {
		snprintf(err, errlen, "device %s: PF %s is offline: %s", safe,
		    pf->name, pf->error);
		return (-ENODEV);
	}
	for (i = 0; i < pf->ndevs; i++) {
		if (!pf->devs[i]->present)
			continue;
		nvf++;
		if (strcmp(pf->devs[i]->name, name) == 0) {
			*out = pf->devs[i];
			return (0);
		}
	}
	snprintf(err, errlen, "device %s: no such device on PF %s (it has "
	    "%u VF%s)", safe, pf->name, nvf, nvf == 1 ? "" : "s");
	return (-ENOENT);
}

int
backend_dev_open(struct device *d, char *err, size_t errlen)
{
	struct pf	*pf = d->pf;
	char		 why[BACKEND_ERR_MAX];
	int		 rv;

	if (d->handle != NULL)
		return (0);
	if (pf->state != PF_ONLINE) {
		snprintf(err, errlen, "device %s: PF %s is offline: %s",
		    d->name, pf->name, pf->error);
		return (-ENODEV);
	}
	if (pf->be->ops->dev_open == NULL) {
		snprintf(err, errlen, "device %s: backend %s cannot open "
		    "devices", d->name, pf->be->name);
		return (-ENOTSUP);
	}
	why[0] = '\0';
	rv = pf->be->ops->dev_open(pf->handle, d->info.member_id, d->fds.v,
	    d->fds.n, &d->handle, why, sizeof(why));
	if (rv != 0 || d->handle == NULL) {
		d->handle = NULL;
		why[sizeof(why) - 1] = '\0';
		snprintf(err, errlen, "device %s: cannot open it: %s", d->name,
		    why[0] != '\0' ? why : strerror(rv < 0 ? -rv : EIO));
		return (rv < 0 ? rv : -EIO);
	}
	log_debug("%s: %s open", __func__, d->name);
	return (0);
}

void
backend_dev_close(struct device *d)
{
	if (d->handle == NULL)
		return;
	d->pf->be->ops->dev_close(d->handle);
	d->handle = NULL;
	log_debug("%s: %s closed", __func__, d->name);
}

int
backend_dev_claim(struct device *d, uint64_t job_id, const char *owner,
    char *err, size_t errlen)
{
	VMIG_ASSERT(job_id != 0);
	if (d->job_id != 0 && d->job_id != job_id) {
		snprintf(err, errlen, "device %s: busy in job %" PRIu64
		    "%s%s%s", d->name, d->job_id, d->owner[0] != '\0' ? " (" :
		    "", d->owner, d->owner[0] != '\0' ? ")" : "");
		return (-EBUSY);
	}
	d->job_id = job_id;
	strlcpy_v(d->owner, owner != NULL ? owner : "", sizeof(d->owner));
	log_debug("%s: %s claimed by job %" PRIu64, __func__, d->name, job_id);
	return (0);
}

void
backend_dev_release(struct device *d, uint64_t job_id)
{
	if (d->job_id != job_id) {
		log_warnx("%s: %s: job %" PRIu64 " releases it, but job %"
		    PRIu64 " owns it", __func__, d->name, job_id, d->job_id);
		return;
	}
	d->job_id = 0;
	d->owner[0] = '\0';
	log_debug("%s: %s released by job %" PRIu64, __func__, d->name,
	    job_id);
}

/* ---------------------------------------------------------------- fds */

/*
 * Where a name's fds go: a device's ("PF/vfN") or a PF's ("PF"). A device
 * in a job keeps what it was opened with; a free one is closed, so that
 * its next open gets the new fds. A PF that is online or opening uses the
 * fds it was opened with: only an offline one takes new ones (*reopen).
 */
static int
backend_fds_of(struct backends *bs, const char *name,
    struct backend_fds **f, struct pf **reopen, char *err, size_t errlen)
{
	struct device	*d;
	struct pf	*pf;
	char		 list[160];
	int		 rc;

	*reopen = NULL;
	if (strchr(name, '/') != NULL) {
		if ((rc = backend_dev_lookup(bs, name, &d, err, errlen)) != 0)
			return (rc);
		if (d->job_id != 0)
			return (err_set(err, errlen, -EBUSY, "device %s: busy "
			    "in job %" PRIu64 ": hand its fds over before the "
			    "migration", name, d->job_id));
		backend_dev_close(d);
		*f = &d->fds;
		return (0);
	}
	if ((pf = backend_pf_find(bs, name)) == NULL) {
		backend_pf_names(bs, list, sizeof(list));
		return (err_set(err, errlen, -ENOENT, "PF %s: no such PF (%s)",
		    name, list));
	}
	if (pf->state != PF_OFFLINE)
		return (err_set(err, errlen, -EBUSY, "PF %s is %s: it took its "
		    "fds when it opened", name, backend_pf_state_name(
		    pf->state)));
	*f = &pf->fds;
	*reopen = pf->stale ? NULL : pf;
	return (0);
}

int
backend_attach_fds(struct backends *bs, const char *name,
    const char *const *names, const int *fds, unsigned int n, char *err,
    size_t errlen)
{
	struct backend_fds	*f = NULL;
	struct pf		*reopen = NULL;
	unsigned int		 i;
	int			 rc = 0;

	if (n > BACKEND_FDS_MAX)
		rc = err_set(err, errlen, -E2BIG, "%s: %u fds: at most %d",
		    name, n, BACKEND_FDS_MAX);
	for (i = 0; rc == 0 && i < n; i++) {
		if (names[i] == NULL || names[i][0] == '\0' ||
		    strlen(names[i]) >= BACKEND_FD_NAME_MAX)
			rc = err_set(err, errlen, -EINVAL, "%s: fd %u needs a "
			    "name of 1 to %d characters (\"device\", "
			    "\"container\", \"iommufd\")", name, i,
			    BACKEND_FD_NAME_MAX - 1);
	}
	if (rc == 0)
		rc = backend_fds_of(bs, name, &f, &reopen, err, errlen);
	if (rc != 0) {
		for (i = 0; i < n; i++)
			close(fds[i]);
		return (rc);
	}
	backend_fds_close(f);
	for (i = 0; i < n; i++) {
		f->fd[i] = fds[i];
		strlcpy_v(f->name[i], names[i], sizeof(f->name[i]));
		f->v[i].name = f->name[i];
		f->v[i].fd = f->fd[i];
	}
	f->n = n;
	log_info("%s: %u fds handed over%s", name, n, n == 0 ?
	    " (the earlier ones closed)" : "");
	if (reopen != NULL)
		backend_pf_open(bs, reopen);	/* with them, now */
	return (0);
}
