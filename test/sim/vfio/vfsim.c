/*
 * vfsim.c: vmig-simvfio, a simulated VFIO / iommufd kernel side.
 *
 *	vmig-simvfio --socket PATH [--control PATH] [--sysfs DIR]
 *	    [--kernel X.Y] [--iommufd-compat] [--iommu-dirty]
 *	    [--dev SPEC]... [--fault SPEC]... [--tick-ms N] [--log-level L]
 *
 * test/sim/vfio/README.md has the options, the device specs and the
 * control commands. This file holds the process: options, the loop, the
 * listening socket, the simulated files, and the request machinery with
 * copy_from_user / copy_to_user / fd_install done by asking the caller
 * (vfsim_proto.h).
 */
#include "config.h"

#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>

#include "log.h"
#include "util.h"
#include "vfsim.h"

struct vfs	*vfs;

#define IO_TIMEOUT_MS	10000	/* a caller that stops answering is gone */

int
vfs_kernel(int major, int minor)
{
	return (vfs->o.kernel >= KV(major, minor));
}

/* ------------------------------------------------------- transport */

/* Read exactly n bytes (the socket is blocking during a request). */
static int
rd_all(int s, void *b, size_t n)
{
	struct pollfd	 pfd = { s, POLLIN, 0 };
	uint8_t		*p = b;
	ssize_t		 r;

	while (n > 0) {
		if (poll(&pfd, 1, IO_TIMEOUT_MS) <= 0)
			return (-ETIMEDOUT);
		r = recv(s, p, n, 0);
		if (r == -1 && (errno == EINTR || errno == EAGAIN))
			continue;
		if (r <= 0)
			return (-EPIPE);
		p += r;
		n -= (size_t)r;
	}
	return (0);
}

static int
send_msg(struct vfs_file *f, uint32_t type, int64_t a, int64_t b,
    const void *pl, uint32_t len, int fd)
{
	struct vfs_msg	m;

	memset(&m, 0, sizeof(m));
	m.magic = VFS_MAGIC;
	m.type = type;
	m.a = a;
	m.b = b;
	m.len = len;
	if (vfs_wire_send(f->sock, &m, pl, fd) != 0) {
		f->dead = 1;
		return (-EPIPE);
	}
	return (0);
}

/* The caller's answer of type; payload (len bytes at most) into pl. */
static int
recv_answer(struct vfs_file *f, uint32_t type, struct vfs_msg *m, void *pl,
    size_t len)
{
	if (rd_all(f->sock, m, sizeof(*m)) != 0 || m->magic != VFS_MAGIC ||
	    m->type != type || m->len > len ||
	    (m->len > 0 && rd_all(f->sock, pl, m->len) != 0)) {
		f->dead = 1;
		return (-EPIPE);
	}
	return (0);
}

int
vfs_copy_from(struct vfs_file *f, uint64_t uaddr, void *buf, size_t n)
{
	struct vfs_msg	m;

	if (n == 0)
		return (0);
	if (f->dead || send_msg(f, VFS_PEEK, (int64_t)uaddr, (int64_t)n, NULL,
	    0, -1) != 0 || recv_answer(f, VFS_DATA, &m, buf, n) != 0)
		return (-EFAULT);
	if (m.a != 0 || m.len != n)
		return (-EFAULT);
	return (0);
}

int
vfs_copy_to(struct vfs_file *f, uint64_t uaddr, const void *buf, size_t n)
{
	struct vfs_msg	m;

	if (n == 0)
		return (0);
	if (n > VFS_MAX_PAYLOAD || f->dead || send_msg(f, VFS_POKE,
	    (int64_t)uaddr, 0, buf, (uint32_t)n, -1) != 0 ||
	    recv_answer(f, VFS_ACK, &m, NULL, 0) != 0)
		return (-EFAULT);
	return (m.a != 0 ? -EFAULT : 0);
}

/* ----------------------------------------------------------- files */

static void	file_readable(evutil_socket_t, short, void *);

static struct vfs_file *
file_new(int sock, int kind, void *obj)
{
	struct vfs_file	*f;

	f = xcalloc(1, sizeof(*f));
	f->sock = sock;
	f->kind = kind;
	f->obj = obj;
	f->ev = event_new(vfs->base, sock, EV_READ | EV_PERSIST,
	    file_readable, f);
	event_add(f->ev, NULL);
	TAILQ_INSERT_TAIL(&vfs->files, f, entry);
	return (f);
}

static void
file_free(struct vfs_file *f)
{
	TAILQ_REMOVE(&vfs->files, f, entry);
	vfs_release(f);
	event_free(f->ev);
	if (f->ev_delay != NULL)
		event_free(f->ev_delay);
	close(f->sock);
	free(f);
}

int
vfs_install(struct vfs_file *caller, int kind, void *obj,
    struct vfs_file **out)
{
	struct vfs_msg	 m;
	struct vfs_file	*nf;
	struct stat	 st;
	int		 sv[2];

	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) == -1)
		return (-ENFILE);
	if (fstat(sv[1], &st) == -1 || send_msg(caller, VFS_INSTALL, kind, 0,
	    NULL, 0, sv[1]) != 0 || recv_answer(caller, VFS_ACK, &m, NULL,
	    0) != 0 || m.a < 0) {
		close(sv[0]);
		close(sv[1]);
		return (-EMFILE);
	}
	close(sv[1]);
	nf = file_new(sv[0], kind, obj);
	nf->client_ino = (uint64_t)st.st_ino;
	*out = nf;
	return ((int)m.a);
}

void
vfs_uninstall(struct vfs_file *caller, int fd)
{
	struct vfs_msg	m;

	if (send_msg(caller, VFS_UNINSTALL, fd, 0, NULL, 0, -1) == 0)
		(void)recv_answer(caller, VFS_ACK, &m, NULL, 0);
}

/* The caller's answer carrying a descriptor (VFS_GETFD). */
static int
recv_answer_fd(struct vfs_file *f, struct vfs_msg *m, int *fd)
{
	union {
		struct cmsghdr	h;
		char		b[CMSG_SPACE(sizeof(int))];
	} cm;
	struct pollfd	 pfd = { f->sock, POLLIN, 0 };
	struct msghdr	 mh;
	struct iovec	 iov;
	struct cmsghdr	*c;
	ssize_t		 r;

	*fd = -1;
	memset(&mh, 0, sizeof(mh));
	iov.iov_base = m;
	iov.iov_len = sizeof(*m);
	mh.msg_iov = &iov;
	mh.msg_iovlen = 1;
	mh.msg_control = cm.b;
	mh.msg_controllen = sizeof(cm.b);
	if (poll(&pfd, 1, IO_TIMEOUT_MS) <= 0 ||
	    (r = recvmsg(f->sock, &mh, MSG_CMSG_CLOEXEC | MSG_WAITALL)) !=
	    (ssize_t)sizeof(*m) || m->magic != VFS_MAGIC ||
	    m->type != VFS_ACK || m->len != 0) {
		f->dead = 1;
		return (-EPIPE);
	}
	for (c = CMSG_FIRSTHDR(&mh); c != NULL; c = CMSG_NXTHDR(&mh, c)) {
		if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS &&
		    c->cmsg_len >= CMSG_LEN(sizeof(int)))
			memcpy(fd, CMSG_DATA(c), sizeof(int));
	}
	return (0);
}

int
vfs_getfd(struct vfs_file *caller, int fd, int *out)
{
	struct vfs_msg	 m;
	char		 path[64], link[64];
	ssize_t		 n;

	*out = -1;
	if (send_msg(caller, VFS_GETFD, fd, 0, NULL, 0, -1) != 0 ||
	    recv_answer_fd(caller, &m, out) != 0)
		return (-EFAULT);
	if (m.a < 0 || *out == -1) {
		if (*out != -1)
			close(*out);
		*out = -1;
		return (m.a < 0 ? (int)m.a : -EBADF);
	}
	/* eventfd_ctx_fileget: anything else is -EINVAL */
	snprintf(path, sizeof(path), "/proc/self/fd/%d", *out);
	if ((n = readlink(path, link, sizeof(link) - 1)) < 0 ||
	    (link[n] = '\0', strcmp(link, "anon_inode:[eventfd]") != 0)) {
		close(*out);
		*out = -1;
		return (-EINVAL);
	}
	return (0);
}

int
vfs_fdget(struct vfs_file *caller, int fd, struct vfs_file **out)
{
	struct vfs_msg	 m;
	struct vfs_file	*f;

	*out = NULL;
	if (send_msg(caller, VFS_FDINO, fd, 0, NULL, 0, -1) != 0 ||
	    recv_answer(caller, VFS_ACK, &m, NULL, 0) != 0)
		return (-EFAULT);
	if (m.a < 0)
		return (-EBADF);
	TAILQ_FOREACH(f, &vfs->files, entry) {
		if (m.b != 0 && f->client_ino == (uint64_t)m.b && !f->dead) {
			*out = f;
			break;
		}
	}
	return (0);
}

/* -------------------------------------------------------- requests */

/* One request: its result (>= 0 or -errno); *fd and *b for DONE. */
static long
dispatch(struct vfs_file *f, struct vfs_msg *m, char *pl, int *fd,
    int64_t *b)
{
	long	r;

	switch (m->type) {
	case VFS_OPEN:
		if (f->kind != VFS_K_NONE || pl == NULL || m->len < 2 ||
		    pl[m->len - 1] != '\0')
			return (-EINVAL);
		f->client_ino = (uint64_t)m->b;
		if ((r = vfs_open_path(f, pl)) == 0)
			*b = f->kind;
		return (r);
	case VFS_WHOAMI:
		return (f->kind);
	case VFS_IOCTL:
		switch (f->kind) {
		case VFS_K_CONTAINER:
			return (vfs_container_ioctl(f, f->obj, (uint64_t)m->a,
			    (uint64_t)m->b));
		case VFS_K_GROUP:
			return (vfs_group_ioctl(f, f->obj, (uint64_t)m->a,
			    (uint64_t)m->b));
		case VFS_K_DEVICE:
			return (vfs_device_ioctl(f, f->obj, (uint64_t)m->a,
			    (uint64_t)m->b));
		case VFS_K_IOMMUFD:
			return (vfs_iommufd_ioctl(f, f->obj, (uint64_t)m->a,
			    (uint64_t)m->b));
		case VFS_K_DATA:
			return (vfs_data_ioctl(f, f->obj, (uint64_t)m->a,
			    (uint64_t)m->b));
		}
		return (-ENOTTY);
	case VFS_READ:
	case VFS_WRITE:
		if (f->kind != VFS_K_DATA)
			return (-EINVAL);	/* only data files here */
		return (m->type == VFS_READ ?
		    vfs_data_read(f, f->obj, (uint64_t)m->a, (uint64_t)m->b) :
		    vfs_data_write(f, f->obj, (uint64_t)m->a, (uint64_t)m->b));
	case VFS_PREAD:
	case VFS_PWRITE:
		if (f->kind == VFS_K_DATA)
			return (-ESPIPE);	/* stream_open() */
		if (f->kind != VFS_K_DEVICE)
			return (-EINVAL);
		return (vfs_device_rw(f, f->obj, m->type == VFS_PWRITE,
		    (uint64_t)m->a, (uint64_t)m->b, (uint64_t)m->d));
	case VFS_MMAP:
		if (f->kind != VFS_K_DEVICE)
			return (-ENODEV);
		return (vfs_device_mmap(f, f->obj, (uint64_t)m->a,
		    (uint64_t)m->d, fd, b));
	}
	return (-EINVAL);
}

/*
 * Release the files whose last copy the callers closed. A close(2) has
 * returned before its caller's next request reached us, so doing this
 * first makes close synchronous for that caller, as in the kernel.
 */
static void
reap_closed(struct vfs_file *cur)
{
	struct vfs_file	*f, *t;
	char		 c;

	TAILQ_FOREACH_SAFE(f, &vfs->files, entry, t) {
		if (f == cur || f->on_hold || (f->ev_delay != NULL &&
		    evtimer_pending(f->ev_delay, NULL)))
			continue;
		if (recv(f->sock, &c, 1, MSG_PEEK | MSG_DONTWAIT) == 0)
			file_free(f);
	}
}

static void
serve(struct vfs_file *f, struct vfs_msg *m, char *pl)
{
	int64_t	b = 0;
	long	r;
	int	fd = -1;

	f->pid = m->pid;
	vfs->requests++;
	reap_closed(f);
	r = dispatch(f, m, pl, &fd, &b);
	if (r < 0)
		vfs->refused++;
	log_debug("%s: kind %d type %u a %#llx: %ld", __func__, f->kind,
	    m->type, (unsigned long long)m->a, r);
	if (!f->dead)
		(void)send_msg(f, VFS_DONE, r, b, NULL, 0, fd);
	if (fd >= 0)
		close(fd);
}

static void
delayed(evutil_socket_t s, short ev, void *arg)
{
	struct vfs_file	*f = arg;

	(void)s;
	(void)ev;
	serve(f, &f->held, NULL);
	if (f->dead)
		file_free(f);
	else
		event_add(f->ev, NULL);
}

/*
 * A request held back by a delay fault: slow devices block the caller,
 * not the kernel, so the loop goes on serving everybody else.
 */
static int
maybe_delay(struct vfs_file *f, struct vfs_msg *m)
{
	struct vfs_fault	*ft;
	struct vdev		*d;
	struct timeval		 tv;
	char			 op[32];

	if (m->type == VFS_IOCTL && f->kind == VFS_K_DEVICE)
		snprintf(op, sizeof(op), "ioctl");
	else if (m->type == VFS_READ)
		snprintf(op, sizeof(op), "data_read");
	else if (m->type == VFS_WRITE)
		snprintf(op, sizeof(op), "data_write");
	else
		return (0);
	d = f->kind == VFS_K_DEVICE ? f->obj : f->kind == VFS_K_DATA ?
	    ((struct vdata *)f->obj)->dev : NULL;
	if ((ft = vfs_fault_hit(op, d != NULL ? d->id : 0,
	    VFS_FAULT_DELAY)) == NULL)
		return (0);
	f->held = *m;
	if (f->ev_delay == NULL)
		f->ev_delay = evtimer_new(vfs->base, delayed, f);
	event_del(f->ev);
	/* ms=0: held until "fault release" (a test's hand on the clock). */
	if (ft->ms == 0) {
		f->on_hold = 1;
		return (1);
	}
	tv.tv_sec = ft->ms / 1000;
	tv.tv_usec = (ft->ms % 1000) * 1000;
	evtimer_add(f->ev_delay, &tv);
	return (1);
}

int
vfs_release_held(void)
{
	struct vfs_file	*f;
	struct timeval	 tv = { 0, 0 };
	int		 n = 0;

	TAILQ_FOREACH(f, &vfs->files, entry) {
		if (!f->on_hold)
			continue;
		f->on_hold = 0;
		evtimer_add(f->ev_delay, &tv);
		n++;
	}
	return (n);
}

static void
file_readable(evutil_socket_t s, short ev, void *arg)
{
	struct vfs_file	*f = arg;
	struct vfs_msg	 m;
	char		*pl = NULL;
	ssize_t		 r;

	(void)ev;
	r = recv(s, &m, sizeof(m), MSG_PEEK | MSG_DONTWAIT);
	if (r == -1 && (errno == EAGAIN || errno == EINTR))
		return;
	if (r <= 0 || rd_all(s, &m, sizeof(m)) != 0 ||
	    m.magic != VFS_MAGIC || m.type > VFS_WHOAMI ||
	    m.len > VFS_MAX_PATH) {
		file_free(f);		/* closed (or not speaking to us) */
		return;
	}
	if (m.len > 0) {
		pl = xcalloc(1, m.len + 1);
		if (rd_all(s, pl, m.len) != 0) {
			free(pl);
			file_free(f);
			return;
		}
	}
	if (!maybe_delay(f, &m))
		serve(f, &m, pl);
	free(pl);
	if (f->dead)
		file_free(f);
}

static void
accept_cb(evutil_socket_t s, short ev, void *arg)
{
	int	c;

	(void)ev;
	(void)arg;
	if ((c = accept4(s, NULL, NULL, SOCK_CLOEXEC)) == -1)
		return;
	(void)file_new(c, VFS_K_NONE, NULL);
}

/* ------------------------------------------------------ DMA ticks */

static void
tick(evutil_socket_t s, short ev, void *arg)
{
	struct vdev	*d;
	uint64_t	 now = now_ns(), before;
	unsigned int	 i, k;

	(void)s;
	(void)ev;
	(void)arg;
	for (i = 0; i < vfs->ndevs; i++) {
		d = &vfs->devs[i];
		before = d->vf->st.dma.writes;
		sim_dma_tick(&vfs->sim, d->vf, now);
		vfs_devmem_touch(d, before);
		for (k = 0; k < d->vf->nrecs; k++)
			vfs_dma_written(d, d->vf->recs[k].iova,
			    d->vf->recs[k].len);
		d->vf->nrecs = 0;
	}
}

/* ------------------------------------------------------- options */

static uint64_t
opt_size(const char *k, const char *v)
{
	uint64_t	n;

	if (sim_parse_u64(v, &n) != 0 && parse_size(v, &n) != 0)
		fatalx("--dev: %s=%s is not a size", k, v);
	return (n);
}

static uint32_t
opt_flags(const char *v)
{
	char		*s = xstrdup(v), *t, *save = NULL;
	uint64_t	 n;
	uint32_t	 f = 0;

	if (sim_parse_u64(v, &n) == 0) {
		free(s);
		return ((uint32_t)n);
	}
	for (t = strtok_r(s, "+|", &save); t != NULL;
	    t = strtok_r(NULL, "+|", &save)) {
		if (strcmp(t, "stop_copy") == 0)
			f |= 1;
		else if (strcmp(t, "p2p") == 0)
			f |= 2;
		else if (strcmp(t, "pre_copy") == 0)
			f |= 4;
		else
			fatalx("--dev: flags: '%s' (stop_copy, p2p, pre_copy)",
			    t);
	}
	free(s);
	return (f);
}

static struct vgroup *
group_get(unsigned int id)
{
	unsigned int	i;

	for (i = 0; i < vfs->ngroups; i++) {
		if (vfs->groups[i].id == id)
			return (&vfs->groups[i]);
	}
	vfs->groups[vfs->ngroups].id = id;
	return (&vfs->groups[vfs->ngroups++]);
}

/* --dev bdf=..,group=..,cdev=..,mig=v1|v2|none,flags=..,dmalog=0|1,... */
static void
dev_add(const char *spec)
{
	struct vdev	*d;
	char		*s, *kv, *v, *save = NULL;
	unsigned int	 group;

	if (vfs->ndevs >= VFS_MAX_DEVS)
		fatalx("at most %d devices", VFS_MAX_DEVS);
	d = &vfs->devs[vfs->ndevs];
	memset(d, 0, sizeof(*d));
	d->id = ++vfs->ndevs;
	snprintf(d->bdf, sizeof(d->bdf), "0000:3b:%02x.%u", (d->id / 8) & 0x1f,
	    d->id % 8);
	group = 10 + d->id;
	d->cdev = (int)d->id - 1;
	d->mig = VFS_MIG_V2;
	d->mig_flags = 7;
	d->dmalog = 1;
	d->log_pgsizes = 0x201;		/* 4 KiB and 2 MiB */
	d->can_reset = 1;
	d->devmem_len = 256 << 10;
	d->v1_section = 64 << 10;
	d->v1_mmap = 1;
	d->v1_memfd = -1;
	s = xstrdup(spec);
	for (kv = strtok_r(s, ",", &save); kv != NULL;
	    kv = strtok_r(NULL, ",", &save)) {
		if ((v = strchr(kv, '=')) == NULL)
			fatalx("--dev: '%s' is not key=value", kv);
		*v++ = '\0';
		if (strcmp(kv, "bdf") == 0)
			snprintf(d->bdf, sizeof(d->bdf), "%s", v);
		else if (strcmp(kv, "group") == 0)
			group = (unsigned int)opt_size(kv, v);
		else if (strcmp(kv, "cdev") == 0)
			d->cdev = strcmp(v, "none") == 0 ? -1 :
			    (int)opt_size(kv, v);
		else if (strcmp(kv, "mig") == 0)
			d->mig = strcmp(v, "v1") == 0 ? VFS_MIG_V1 :
			    strcmp(v, "none") == 0 ? VFS_MIG_NONE : VFS_MIG_V2;
		else if (strcmp(kv, "flags") == 0)
			d->mig_flags = opt_flags(v);
		else if (strcmp(kv, "dmalog") == 0)
			d->dmalog = atoi(v);
		else if (strcmp(kv, "log_pgsizes") == 0)
			d->log_pgsizes = opt_size(kv, v);
		else if (strcmp(kv, "emulated") == 0)
			d->emulated = atoi(v);
		else if (strcmp(kv, "reset") == 0)
			d->can_reset = atoi(v);
		else if (strcmp(kv, "devmem") == 0)
			d->devmem_len = opt_size(kv, v);
		else if (strcmp(kv, "v1_section") == 0)
			d->v1_section = opt_size(kv, v);
		else if (strcmp(kv, "v1_mmap") == 0)
			d->v1_mmap = atoi(v);
		else if (strcmp(kv, "virtio") == 0) {
			if (d->virtio == NULL)
				d->virtio = xcalloc(1, sizeof(*d->virtio));
			snprintf(d->virtio->sock, sizeof(d->virtio->sock),
			    "%s", v);
			d->mig = VFS_MIG_NONE;	/* a PF: it migrates none */
			d->dmalog = 0;
		} else if (strcmp(kv, "flaw") == 0) {
			if (d->virtio == NULL)
				d->virtio = xcalloc(1, sizeof(*d->virtio));
			snprintf(d->virtio->flaw, sizeof(d->virtio->flaw),
			    "%s", v);
		}
		else
			fatalx("--dev: unknown key %s", kv);
	}
	free(s);
	if (d->mig == VFS_MIG_V2 && !(d->mig_flags & 1))
		fatalx("--dev %s: v2 flags must include stop_copy", d->bdf);
	if (d->devmem_len % VFS_CHUNK != 0 || d->v1_section % 4096 != 0 ||
	    d->v1_section == 0)
		fatalx("--dev %s: devmem and v1_section are multiples of 4096",
		    d->bdf);
	d->group = group_get(group);
}

static void
dev_init(struct vdev *d)
{
	sim_vf_init(&vfs->sim, &vfs->sim.vfs[d->id - 1], d->id);
	d->vf = &vfs->sim.vfs[d->id - 1];
	/* Record everything the VF writes: it is drained every tick. */
	d->vf->recording = 1;
	d->vf->nranges = 1;
	d->vf->ranges[0].iova = 0;
	d->vf->ranges[0].len = UINT64_MAX;
	d->devmem = xcalloc(1, d->devmem_len ? d->devmem_len : 1);
	d->chunk_dirty = xcalloc(1, d->devmem_len / VFS_CHUNK + 1);
	d->state = 2;			/* VFIO_DEVICE_STATE_RUNNING */
	d->v1_state = 1;		/* VFIO_DEVICE_STATE_V1_RUNNING */
	if (d->mig == VFS_MIG_V1 && vfs_v1_setup(d) != 0)
		fatalx("%s: v1 data section: %s", d->bdf, strerror(errno));
	if (d->virtio != NULL) {
		if (d->virtio->sock[0] == '\0')
			fatalx("--dev %s: flaw= without virtio=SOCK", d->bdf);
		vfs_virtio_init(d);
	}
}

static void
mkdirs(const char *path)
{
	char	buf[512], *p;

	snprintf(buf, sizeof(buf), "%s", path);
	for (p = buf + 1; *p != '\0'; p++) {
		if (*p == '/') {
			*p = '\0';
			(void)mkdir(buf, 0755);
			*p = '/';
		}
	}
	(void)mkdir(buf, 0755);
}

/* The sysfs nodes the layer reads: iommu_group, vfio-dev/vfioN. */
static void
write_sysfs(const char *root)
{
	struct vdev	*d;
	char		 p[512], t[128];
	unsigned int	 i;

	for (i = 0; i < vfs->ndevs; i++) {
		d = &vfs->devs[i];
		snprintf(p, sizeof(p), "%s/kernel/iommu_groups/%u", root,
		    d->group->id);
		mkdirs(p);
		snprintf(p, sizeof(p), "%s/bus/pci/devices/%s", root, d->bdf);
		mkdirs(p);
		snprintf(p, sizeof(p), "%s/bus/pci/devices/%s/iommu_group",
		    root, d->bdf);
		snprintf(t, sizeof(t), "../../../../kernel/iommu_groups/%u",
		    d->group->id);
		(void)unlink(p);
		if (symlink(t, p) == -1)
			fatal("%s", p);
		if (d->cdev >= 0 && vfs_kernel(6, 6)) {
			snprintf(p, sizeof(p),
			    "%s/bus/pci/devices/%s/vfio-dev/vfio%d", root,
			    d->bdf, d->cdev);
			mkdirs(p);
		}
	}
}

static void
on_signal(evutil_socket_t s, short ev, void *arg)
{
	(void)s;
	(void)ev;
	(void)arg;
	event_base_loopbreak(vfs->base);
}

static int
listen_on(const char *path)
{
	struct sockaddr_un	sun;
	int			s;

	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	if (strlen(path) >= sizeof(sun.sun_path))
		fatalx("%s: socket path too long", path);
	memcpy(sun.sun_path, path, strlen(path));
	(void)unlink(path);
	if ((s = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) == -1 ||
	    bind(s, (struct sockaddr *)&sun, sizeof(sun)) == -1 ||
	    listen(s, 64) == -1)
		fatal("%s", path);
	return (s);
}

static void
usage(void)
{
	fprintf(stderr, "usage: vmig-simvfio --socket PATH [--control PATH] "
	    "[--sysfs DIR] [--kernel X.Y] [--iommufd-compat] [--iommu-dirty] "
	    "[--dev SPEC]... [--fault SPEC]... [--tick-ms N] "
	    "[--log-level L]\n");
	exit(2);
}

int
main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "socket", required_argument, NULL, 's' },
		{ "control", required_argument, NULL, 'c' },
		{ "sysfs", required_argument, NULL, 'y' },
		{ "kernel", required_argument, NULL, 'k' },
		{ "iommufd-compat", no_argument, NULL, 'C' },
		{ "iommu-dirty", no_argument, NULL, 'D' },
		{ "dev", required_argument, NULL, 'd' },
		{ "fault", required_argument, NULL, 'f' },
		{ "tick-ms", required_argument, NULL, 't' },
		{ "log-level", required_argument, NULL, 'l' },
		{ NULL, 0, NULL, 0 }
	};
	const char	*faults[32];
	char		 err[256], *fa[16], *s, *save;
	struct timeval	 tv;
	unsigned int	 nf = 0, i, maj, min;
	int		 ch, level = LOG_LEVEL_WARN, n;

	vfs = xcalloc(1, sizeof(*vfs));
	TAILQ_INIT(&vfs->files);
	TAILQ_INIT(&vfs->faults);
	vfs->o.kernel = KV(6, 8);
	vfs->o.tick_ms = 2;
	while ((ch = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (ch) {
		case 's':
			vfs->o.socket = optarg;
			break;
		case 'c':
			vfs->o.control = optarg;
			break;
		case 'y':
			vfs->o.sysfs = optarg;
			break;
		case 'k':
			if (sscanf(optarg, "%u.%u", &maj, &min) != 2)
				usage();
			vfs->o.kernel = (int)KV(maj, min);
			break;
		case 'C':
			vfs->o.iommufd_compat = 1;
			break;
		case 'D':
			vfs->o.iommu_dirty = 1;
			break;
		case 'd':
			dev_add(optarg);
			break;
		case 'f':
			if (nf < 32)
				faults[nf++] = optarg;
			break;
		case 't':
			vfs->o.tick_ms = (unsigned int)atoi(optarg);
			break;
		case 'l':
			if ((level = log_parselevel(optarg)) < 0)
				usage();
			break;
		default:
			usage();
		}
	}
	if (vfs->o.socket == NULL)
		usage();
	log_init(level, "vmig-simvfio");
	if (vfs->ndevs == 0)
		dev_add("mig=v2");
	vfs->sim.o.nvfs = vfs->ndevs;
	vfs->sim.o.records_max = 65536;
	vfs->sim.o.max_tick_bytes = 8u << 20;
	vfs->sim.vfs = xcalloc(vfs->ndevs, sizeof(struct sim_vf));
	for (i = 0; i < vfs->ndevs; i++)
		dev_init(&vfs->devs[i]);
	for (i = 0; i < nf; i++) {
		s = xstrdup(faults[i]);
		save = NULL;
		n = 0;
		for (fa[n] = strtok_r(s, " ", &save); fa[n] != NULL && n < 15;
		    fa[++n] = strtok_r(NULL, " ", &save))
			;
		if (vfs_fault_parse(n, fa, err, sizeof(err)) != 0)
			fatalx("--fault %s: %s", faults[i], err);
		free(s);
	}
	if (vfs->o.sysfs != NULL)
		write_sysfs(vfs->o.sysfs);
	signal(SIGPIPE, SIG_IGN);
	vfs->base = event_base_new();
	vfs->lsock = listen_on(vfs->o.socket);
	vfs->ev_accept = event_new(vfs->base, vfs->lsock, EV_READ | EV_PERSIST,
	    accept_cb, NULL);
	event_add(vfs->ev_accept, NULL);
	if (vfs->o.control != NULL && vfs_ctl_open(vfs->o.control) != 0)
		fatal("%s", vfs->o.control);
	vfs->ev_tick = event_new(vfs->base, -1, EV_PERSIST, tick, NULL);
	tv.tv_sec = 0;
	tv.tv_usec = (vfs->o.tick_ms ? vfs->o.tick_ms : 2) * 1000;
	event_add(vfs->ev_tick, &tv);
	vfs->ev_sig[0] = evsignal_new(vfs->base, SIGTERM, on_signal, NULL);
	vfs->ev_sig[1] = evsignal_new(vfs->base, SIGINT, on_signal, NULL);
	event_add(vfs->ev_sig[0], NULL);
	event_add(vfs->ev_sig[1], NULL);
	printf("vmig-simvfio ready socket=%s control=%s devices=%u "
	    "kernel=%d.%d\n", vfs->o.socket, vfs->o.control != NULL ?
	    vfs->o.control : "-", vfs->ndevs, vfs->o.kernel / 100,
	    vfs->o.kernel % 100);
	fflush(stdout);
	event_base_dispatch(vfs->base);

	while (!TAILQ_EMPTY(&vfs->files))
		file_free(TAILQ_FIRST(&vfs->files));
	vfs_ctl_close();
	for (i = 0; i < vfs->ndevs; i++) {
		vfs_virtio_release(&vfs->devs[i]);
		free(vfs->devs[i].virtio);
		sim_vf_free(vfs->devs[i].vf);
		free(vfs->devs[i].devmem);
		free(vfs->devs[i].chunk_dirty);
	}
	unlink(vfs->o.socket);
	return (0);
}
