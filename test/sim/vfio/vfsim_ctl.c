/*
 * vfsim_ctl.c: the control channel of vmig-simvfio (one command per line,
 * one reply line, "ok ..." or "err reason"; README.md lists them) and
 * its injected faults.
 */
#include "config.h"

#include <sys/socket.h>
#include <sys/un.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/listener.h>

#include "log.h"
#include "util.h"
#include "vfsim.h"

#define CTL_MAXARGS	24

struct vfs_ctl {
	struct evconnlistener	*lis;
	char			 path[108];
};

static struct vfs_ctl	*ctl;

/* ----------------------------------------------------------- faults */

static const struct {
	const char	*name;
	int		 err;
} errnames[] = {
	{ "EIO", EIO }, { "EINVAL", EINVAL }, { "ENODEV", ENODEV },
	{ "EBUSY", EBUSY }, { "ENOMEM", ENOMEM }, { "EFAULT", EFAULT },
	{ "ETIMEDOUT", ETIMEDOUT }, { "EAGAIN", EAGAIN },
};

int
vfs_fault_parse(int argc, char **argv, char *err, size_t errlen)
{
	struct vfs_fault f;
	uint64_t	 v;
	char		*val;
	unsigned int	 k;
	int		 i;

	memset(&f, 0, sizeof(f));
	f.count = -1;
	f.err = EIO;
	if (argc < 2)
		goto usage;
	if (strcmp(argv[0], "fail") == 0)
		f.kind = VFS_FAULT_FAIL;
	else if (strcmp(argv[0], "delay") == 0)
		f.kind = VFS_FAULT_DELAY;
	else if (strcmp(argv[0], "short") == 0)
		f.kind = VFS_FAULT_SHORT;
	else
		goto usage;
	for (i = 1; i < argc; i++) {
		if ((val = strchr(argv[i], '=')) == NULL)
			goto usage;
		*val++ = '\0';
		if (strcmp(argv[i], "op") == 0) {
			snprintf(f.op, sizeof(f.op), "%s", val);
			continue;
		}
		if (strcmp(argv[i], "errno") == 0) {
			for (k = 0; k < nitems(errnames); k++) {
				if (strcmp(val, errnames[k].name) == 0)
					f.err = errnames[k].err;
			}
			if (k == nitems(errnames) && sim_parse_u64(val,
			    &v) == 0)
				f.err = (int)v;
			continue;
		}
		if (sim_parse_u64(val, &v) != 0)
			goto usage;
		if (strcmp(argv[i], "count") == 0)
			f.count = (int)v;
		else if (strcmp(argv[i], "dev") == 0)
			f.dev = (unsigned int)v;
		else if (strcmp(argv[i], "error") == 0)
			f.error_state = v != 0;
		else if (strcmp(argv[i], "ms") == 0)
			f.ms = (unsigned int)v;
		else if (strcmp(argv[i], "max") == 0)
			f.max = v;
		else
			goto usage;
	}
	if (f.op[0] == '\0' || f.err <= 0)
		goto usage;
	{
		struct vfs_fault *n = xmalloc(sizeof(*n));

		*n = f;
		TAILQ_INSERT_TAIL(&vfs->faults, n, entry);
	}
	return (0);
usage:
	snprintf(err, errlen, "fault fail|delay|short op=OP [errno=E] "
	    "[error=1] [count=N] [dev=D] [ms=T] [max=N]");
	return (-EINVAL);
}

struct vfs_fault *
vfs_fault_hit(const char *op, unsigned int dev, int kind)
{
	struct vfs_fault	*f;

	TAILQ_FOREACH(f, &vfs->faults, entry) {
		if ((int)f->kind != kind || f->count == 0 ||
		    strcmp(f->op, op) != 0 ||
		    (f->dev != 0 && dev != 0 && f->dev != dev))
			continue;
		if (f->count > 0)
			f->count--;
		f->hits++;
		return (f);
	}
	return (NULL);
}

static void
fault_clear(void)
{
	struct vfs_fault	*f;

	while ((f = TAILQ_FIRST(&vfs->faults)) != NULL) {
		TAILQ_REMOVE(&vfs->faults, f, entry);
		free(f);
	}
}

/* ---------------------------------------------------------- commands */

static struct vdev *
arg_dev(const char *s)
{
	uint64_t	v;

	if (s == NULL || sim_parse_u64(s, &v) != 0 || v == 0 ||
	    v > vfs->ndevs)
		return (NULL);
	return (&vfs->devs[v - 1]);
}

static void
drain(struct vdev *d)
{
	unsigned int	k;

	for (k = 0; k < d->vf->nrecs; k++)
		vfs_dma_written(d, d->vf->recs[k].iova, d->vf->recs[k].len);
	d->vf->nrecs = 0;
}

static void
c_state(struct vdev *d, char *r, size_t len)
{
	const struct sim_dma	*m = &d->vf->st.dma;
	size_t			 i, dirty = 0;

	for (i = 0; i < d->devmem_len / VFS_CHUNK; i++)
		dirty += d->chunk_dirty[i] != 0;
	snprintf(r, len, "ok mig=%s state=%s v1=%u mode=%s held=%d writes=%llu "
	    "bytes=%llu hash=%016llx attached=%d iova=%#llx log=%d log_ps=%llu "
	    "resets=%llu dirty_chunks=%zu kind=%s",
	    d->mig == VFS_MIG_V2 ? "v2" : d->mig == VFS_MIG_V1 ? "v1" : "none",
	    vfs_state_name(d->state), d->v1_state & 7,
	    d->vf->mode == VA_MODE_ACTIVE ? "active" : "stop", d->vf->held,
	    (unsigned long long)m->writes, (unsigned long long)m->bytes,
	    (unsigned long long)m->hash, d->vf->mem.p != NULL,
	    (unsigned long long)d->vf->mem.iova, d->log_on,
	    (unsigned long long)d->log_ps, (unsigned long long)d->resets,
	    dirty, sim_dma_kind_name(m->kind));
}

/* One line: the reply in r (no newline). */
static void
exec_line(char *line, char *r, size_t len)
{
	char		*argv[CTL_MAXARGS], *save = NULL, err[256];
	struct vfs_fault *f;
	struct vdev	*d;
	uint64_t	 n, i, before;
	int		 argc = 0;
	size_t		 o;

	for (argv[0] = strtok_r(line, " \t", &save); argv[argc] != NULL &&
	    argc < CTL_MAXARGS - 1; argv[++argc] = strtok_r(NULL, " \t", &save))
		;
	if (argc == 0) {
		snprintf(r, len, "err empty line");
		return;
	}
	d = argc > 1 ? arg_dev(argv[1]) : NULL;
	if (strcmp(argv[0], "ping") == 0)
		snprintf(r, len, "ok pong");
	else if (strcmp(argv[0], "info") == 0)
		snprintf(r, len, "ok devices=%u kernel=%d.%d requests=%llu "
		    "refused=%llu", vfs->ndevs, vfs->o.kernel / 100,
		    vfs->o.kernel % 100, (unsigned long long)vfs->requests,
		    (unsigned long long)vfs->refused);
	else if (strcmp(argv[0], "quit") == 0) {
		snprintf(r, len, "ok bye");
		event_base_loopexit(vfs->base, NULL);
	} else if (strcmp(argv[0], "fault") == 0 && argc > 1 &&
	    strcmp(argv[1], "clear") == 0) {
		fault_clear();
		snprintf(r, len, "ok");
	} else if (strcmp(argv[0], "fault") == 0 && argc > 1 &&
	    strcmp(argv[1], "release") == 0) {
		snprintf(r, len, "ok released=%d", vfs_release_held());
	} else if (strcmp(argv[0], "fault") == 0 && argc > 1 &&
	    strcmp(argv[1], "list") == 0) {
		o = (size_t)snprintf(r, len, "ok");
		TAILQ_FOREACH(f, &vfs->faults, entry) {
			if (o < len)
				o += (size_t)snprintf(r + o, len - o,
				    " %s:%s,count=%d,hits=%llu", f->kind ==
				    VFS_FAULT_FAIL ? "fail" : f->kind ==
				    VFS_FAULT_DELAY ? "delay" : "short", f->op,
				    f->count, (unsigned long long)f->hits);
		}
	} else if (strcmp(argv[0], "fault") == 0) {
		if (vfs_fault_parse(argc - 1, argv + 1, err, sizeof(err)) != 0)
			snprintf(r, len, "err %s", err);
		else
			snprintf(r, len, "ok");
	} else if (d == NULL)
		snprintf(r, len, "err unknown command or device (ping info "
		    "workload hold release step state digest memdigest fault "
		    "quit; devices 1..%u)", vfs->ndevs);
	else if (strcmp(argv[0], "workload") == 0) {
		if (argc < 3 || sim_dma_configure(d->vf, argc - 2, argv + 2,
		    err, sizeof(err)) != 0)
			snprintf(r, len, "err %s", argc < 3 ? "workload DEV "
			    "KIND [key=value...]" : err);
		else
			snprintf(r, len, "ok");
	} else if (strcmp(argv[0], "hold") == 0 ||
	    strcmp(argv[0], "release") == 0) {
		d->vf->held = strcmp(argv[0], "hold") == 0;
		snprintf(r, len, "ok");
	} else if (strcmp(argv[0], "step") == 0) {
		if (argc < 3 || sim_parse_u64(argv[2], &n) != 0) {
			snprintf(r, len, "err step DEV N");
			return;
		}
		before = d->vf->st.dma.writes;
		for (i = 0; i < n && vfs_dev_running(d); i++) {
			if (sim_dma_write_one(&vfs->sim, d->vf) <= 0)
				break;
			if (d->vf->nrecs >= 1024)
				drain(d);
		}
		drain(d);
		vfs_devmem_touch(d, before);
		snprintf(r, len, "ok writes=%llu", (unsigned long long)i);
	} else if (strcmp(argv[0], "state") == 0)
		c_state(d, r, len);
	else if (strcmp(argv[0], "digest") == 0)
		snprintf(r, len, "ok %016llx",
		    (unsigned long long)vfs_dev_digest(d));
	else if (strcmp(argv[0], "memdigest") == 0)
		snprintf(r, len, "ok %016llx",
		    (unsigned long long)sim_vf_mem_digest(d->vf));
	else
		snprintf(r, len, "err unknown command %s", argv[0]);
}

static void
ctl_read(struct bufferevent *bev, void *arg)
{
	struct evbuffer	*in = bufferevent_get_input(bev);
	char		*line, reply[2048];
	size_t		 n;

	(void)arg;
	while ((line = evbuffer_readln(in, &n, EVBUFFER_EOL_LF)) != NULL) {
		exec_line(line, reply, sizeof(reply));
		free(line);
		bufferevent_write(bev, reply, strlen(reply));
		bufferevent_write(bev, "\n", 1);
	}
}

static void
ctl_event(struct bufferevent *bev, short what, void *arg)
{
	(void)arg;
	if (what & (BEV_EVENT_EOF | BEV_EVENT_ERROR))
		bufferevent_free(bev);
}

static void
ctl_accept(struct evconnlistener *l, evutil_socket_t fd,
    struct sockaddr *sa, int salen, void *arg)
{
	struct bufferevent	*bev;

	(void)l;
	(void)sa;
	(void)salen;
	(void)arg;
	bev = bufferevent_socket_new(vfs->base, fd, BEV_OPT_CLOSE_ON_FREE);
	bufferevent_setcb(bev, ctl_read, NULL, ctl_event, NULL);
	bufferevent_enable(bev, EV_READ);
}

int
vfs_ctl_open(const char *path)
{
	struct sockaddr_un	sun;

	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	if (strlen(path) >= sizeof(sun.sun_path))
		return (-ENAMETOOLONG);
	memcpy(sun.sun_path, path, strlen(path));
	(void)unlink(path);
	ctl = xcalloc(1, sizeof(*ctl));
	snprintf(ctl->path, sizeof(ctl->path), "%s", path);
	ctl->lis = evconnlistener_new_bind(vfs->base, ctl_accept, NULL,
	    LEV_OPT_CLOSE_ON_FREE | LEV_OPT_CLOSE_ON_EXEC, 16,
	    (struct sockaddr *)&sun, sizeof(sun));
	return (ctl->lis != NULL ? 0 : -errno);
}

void
vfs_ctl_close(void)
{
	if (ctl == NULL)
		return;
	evconnlistener_free(ctl->lis);
	unlink(ctl->path);
	free(ctl);
	ctl = NULL;
	fault_clear();
}
