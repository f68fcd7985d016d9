/*
 * backend.h: device backend plugins, and the registry of PFs and their VFs.
 *
 * backends_new() dlopen()s every *.so in the plugin directory, checks that
 * it exports VMIG_BACKEND_SYMBOL with our abi_major (a plugin that does not
 * is kept on a refused list with the reason, and a PF that names it is shown
 * offline with that reason), and init()s it with a struct vmig_host whose
 * log function prefixes the plugin's name.
 *
 * PFs come from the config ([pf.NAME] backend, spec); backends_configure()
 * opens new ones, retries offline ones and closes removed idle ones (start-up
 * and SIGHUP). Opening is asynchronous (ABI 2): a PF is OPENING until the
 * backend says, then ONLINE or OFFLINE with the backend's reason; nothing
 * waits on the loop. Its VFs are devices named "PF/vfN" (N the backend's
 * member name, e.g. "sim0/vf3").
 *
 * fds a VMM handed over (fdpass.c) are kept per device or PF by name and
 * given to dev_open / pf_open; the registry closes them when they are
 * replaced, detached or their PF goes.
 *
 * For the engine: look a device up by name (errors say why: malformed name,
 * no such PF, PF offline, no such VF "(it has 4 VFs)"), open its vmig_dev
 * handle lazily, claim it for a job and release it, and reach its ops.
 * Loop thread only.
 */
#ifndef VMIG_BACKEND_DAEMON_H
#define VMIG_BACKEND_DAEMON_H

#include <sys/queue.h>

#include <stddef.h>
#include <stdint.h>

#include "vmig/backend.h"

struct event_base;
struct events;
struct config;
struct pf;

#define BACKEND_MAX		16	/* plugins loaded at once */
#define BACKEND_FDS_MAX		4	/* fds handed over per device or PF */
#define BACKEND_FD_NAME_MAX	16
#define BACKEND_ERR_MAX		256
#define DEVICE_NAME_MAX		64	/* "PF/vfN" */

struct backend {
	char			*name;	/* ops->name; the file stem if refused */
	char			*path;
	void			*dl;
	const struct vmig_backend *ops;	/* NULL: refused (see error) */
	void			*priv;	/* from ops->init */
	struct vmig_host	 host;	/* what init() got; log is per slot */
	int			 slot;
	char			 error[BACKEND_ERR_MAX];
	TAILQ_ENTRY(backend)	 entry;
};
TAILQ_HEAD(backend_list, backend);

/* fds a VMM handed over, by name ("device", "container"). */
struct backend_fds {
	unsigned int		 n;
	int			 fd[BACKEND_FDS_MAX];
	char			 name[BACKEND_FDS_MAX][BACKEND_FD_NAME_MAX];
	struct vmig_fd		 v[BACKEND_FDS_MAX];	/* for the plugin */
};

enum pf_state {
	PF_OFFLINE = 0,		/* error says why */
	PF_OPENING = 1,		/* pf_open submitted, not yet done */
	PF_ONLINE = 2,
};

struct device {
	char			 name[DEVICE_NAME_MAX];	/* "sim0/vf3" */
	struct pf		*pf;
	struct vmig_dev_info	 info;		/* from pf_list, last refresh */
	int			 present;	/* listed by the last refresh */
	struct vmig_dev		*handle;	/* backend handle, opened lazily */
	uint64_t		 job_id;	/* owning job, 0: free */
	char			 owner[64];	/* "job 12 (outgoing)" */
	struct backend_fds	 fds;		/* handed over, for dev_open */
};

struct pf {
	char			*name;
	char			*backend_name;
	char			*spec;
	struct backend		*be;		/* NULL: no such backend */
	enum pf_state		 state;
	struct vmig_pf		*handle;	/* opening or online */
	struct backends		*bs;
	struct backend_fds	 fds;		/* handed over, for pf_open */
	struct vmig_pf_info	 info;
	char			 error[BACKEND_ERR_MAX];	/* why offline */
	struct device		**devs;
	unsigned int		 ndevs;
	int			 stale;		/* gone from the config, busy */
	TAILQ_ENTRY(pf)		 entry;
};
TAILQ_HEAD(pf_list, pf);

struct backends {
	struct event_base	*base;
	/* once no PF is opening any more (start-up's READY waits for it) */
	void			(*on_settled)(void *);
	void			*settled_arg;
	struct events		*events;	/* PF online/offline events; may be NULL */
	char			*plugin_dir;
	struct backend_list	 list;		/* loaded, then refused */
	struct pf_list		 pfs;
	unsigned int		 nloaded;
	unsigned int		 nrefused;
};

/*
 * Load every plugin in dir. A missing or unreadable directory is an error
 * (NULL, err filled); a bad plugin is not: it is refused and logged.
 */
struct backends	*backends_new(struct event_base *base, const char *dir,
		    char *err, size_t errlen);
void		 backends_free(struct backends *bs);
/* A backend linked into the program (the engine's unit test). */
void		 backends_add_builtin(struct backends *bs,
		    const struct vmig_backend *ops);
/* Match the PF list to c: open, retry, close idle removed PFs. */
void		 backends_configure(struct backends *bs, const struct config *c);

/* A loaded or refused backend by name (refused: by file stem). */
struct backend	*backend_find(struct backends *bs, const char *name);
struct pf	*backend_pf_find(struct backends *bs, const char *name);
/* Same, with -ENOENT and err ("PF x: no such PF (configured: a, b)"). */
int		 backend_pf_lookup(struct backends *bs, const char *name,
		    struct pf **out, char *err, size_t errlen);
/* Re-read the PF's VF list (modes, new VFs); 0 or -errno. */
int		 backend_pf_refresh(struct pf *pf);
unsigned int	 backend_pf_online(struct backends *bs, unsigned int *nvfs);
/*
 * fn(arg) once no PF is opening (at once if none is): start-up tells
 * systemd it is ready when every configured PF has answered.
 */
void		 backends_when_settled(struct backends *bs, void (*fn)(void *),
		    void *arg);
/* "offline", "opening", "online". */
const char	*backend_pf_state_name(enum pf_state);

/*
 * fds a VMM hands over for a device ("PF/vfN") or a PF ("PF"), replacing
 * any it gave before (n 0: detach). The registry takes the fds in every
 * case (closes them on error). 0, or -errno with err naming the object:
 * -EBUSY for a device in a job (it keeps what it was opened with) or a PF
 * that is online or opening. A free device is closed so that its next
 * dev_open gets them; an offline PF is opened again with them at once.
 */
int		 backend_attach_fds(struct backends *bs, const char *name,
		    const char *const *names, const int *fds, unsigned int n,
		    char *err, size_t errlen);

/*
 * A device by name. Returns 0, or -EINVAL (not "PF/vfN"), -ENOENT (no such
 * PF or VF), -ENODEV (its PF is offline or still opening), with err naming
 * the device.
 */
int		 backend_dev_lookup(struct backends *bs, const char *name,
		    struct device **out, char *err, size_t errlen);
/* Open the backend handle if not yet open; 0 or -errno with err. */
int		 backend_dev_open(struct device *d, char *err, size_t errlen);
void		 backend_dev_close(struct device *d);
/* Mark d owned by job_id; -EBUSY (err: "busy in job 12") if another owns it. */
int		 backend_dev_claim(struct device *d, uint64_t job_id,
		    const char *owner, char *err, size_t errlen);
void		 backend_dev_release(struct device *d, uint64_t job_id);

static inline const struct vmig_backend *
backend_dev_ops(const struct device *d)
{
	return (d->pf->be->ops);
}

/* "active", "stopped", ... for logs and tables. */
const char	*backend_mode_name(uint32_t mode);
/*
 * May a state read from a device of src_interface be loaded into d? The
 * same interface: 0. Another: the backend's state_compat (0, 1 with
 * conditions in err, or -errno naming the field), or -EPROTONOSUPPORT.
 */
int		 backend_state_compat(const struct device *d,
		    const char *src_interface, char *err, size_t errlen);

#endif /* VMIG_BACKEND_DAEMON_H */
