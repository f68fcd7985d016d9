/*
 * vfio_open.c: see vfio_open.h.
 */
#include "config.h"

#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "vfio_compat.h"
#include "vfio_dev.h"
#include "vfio_log.h"
#include "vfio_open.h"

#define VFIO_CONTAINER	"/dev/vfio/vfio"
#define VFIO_IOMMUFD	"/dev/iommu"
#define HANDOFF_HELLO	"vmig-vfio 1"

static const char *
sysfs_root(const struct vfio_open_opts *o)
{
	return (o != NULL && o->sysfs != NULL ? o->sysfs : "/sys");
}

static int
open_dev(const char *path, int *fd, char *err, size_t errlen)
{
	if ((*fd = open(path, O_RDWR | O_CLOEXEC)) == -1)
		return (vfio_err(err, errlen, -errno, "%s: %s", path,
		    strerror(errno)));
	return (0);
}

/* The group number of a PCI device (its iommu_group link). */
static int
bdf_group(const char *sysfs, const char *bdf, unsigned int *group,
    char *err, size_t errlen)
{
	char		 path[PATH_MAX], link[PATH_MAX], *base, *end;
	ssize_t		 n;
	unsigned long	 g;

	snprintf(path, sizeof(path), "%s/bus/pci/devices/%s/iommu_group",
	    sysfs, bdf);
	if ((n = readlink(path, link, sizeof(link) - 1)) == -1)
		return (vfio_err(err, errlen, -ENODEV, "%s: no IOMMU group "
		    "(%s: %s): not a PCI device behind an IOMMU", bdf, path,
		    strerror(errno)));
	link[n] = '\0';
	base = strrchr(link, '/') != NULL ? strrchr(link, '/') + 1 : link;
	errno = 0;
	g = strtoul(base, &end, 10);
	if (errno != 0 || *end != '\0' || end == base || g > 1000000)
		return (vfio_err(err, errlen, -ENODEV, "%s: iommu_group link "
		    "%s names no group number", bdf, link));
	*group = (unsigned int)g;
	return (0);
}

/* /dev/vfio/devices/vfioN of a PCI device (its vfio-dev directory). */
static int
bdf_cdev(const char *sysfs, const char *bdf, char *out, size_t len,
    char *err, size_t errlen)
{
	char		 path[PATH_MAX];
	struct dirent	*de;
	DIR		*dir;
	int		 rc = -ENODEV;

	snprintf(path, sizeof(path), "%s/bus/pci/devices/%s/vfio-dev", sysfs,
	    bdf);
	if ((dir = opendir(path)) == NULL)
		return (vfio_err(err, errlen, -ENODEV, "%s: no VFIO device cdev "
		    "(%s: %s): not bound to a VFIO driver, or a kernel before "
		    "6.6", bdf, path, strerror(errno)));
	while ((de = readdir(dir)) != NULL) {
		if (strncmp(de->d_name, "vfio", 4) == 0 &&
		    strlen(de->d_name) > 4) {
			snprintf(out, len, "/dev/vfio/devices/%s", de->d_name);
			rc = 0;
			break;
		}
	}
	closedir(dir);
	if (rc != 0)
		return (vfio_err(err, errlen, rc, "%s: %s is empty", bdf, path));
	return (0);
}

/* Probe, or free and fail. */
static int
finish(struct vfio_dev *d, struct vfio_dev **dp, char *err, size_t errlen)
{
	int	rc;

	if ((rc = vfio_dev_probe(d, err, errlen)) != 0) {
		vfio_dev_free(d);
		return (rc);
	}
	*dp = d;
	return (0);
}

/* ------------------------------------------------- group + type1 */

static int
group_attach(struct vfio_dev *d, unsigned int group, char *err,
    size_t errlen)
{
	struct vfio_group_status st;
	char			 path[64];
	int			 rc;

	snprintf(path, sizeof(path), "/dev/vfio/%u", group);
	if ((d->group_fd = open(path, O_RDWR | O_CLOEXEC)) == -1) {
		if (errno == EBUSY)
			return (vfio_err(err, errlen, -EBUSY, "%s: group %u is "
			    "held by another process (a VMM?): have it hand "
			    "the fds over with vfio-fd:SOCKET", d->name,
			    group));
		return (vfio_err(err, errlen, -errno, "%s: %s", path,
		    strerror(errno)));
	}
	memset(&st, 0, sizeof(st));
	st.argsz = sizeof(st);
	if ((rc = vfio_ioctl(d->group_fd, VFIO_GROUP_GET_STATUS, &st)) < 0)
		return (vfio_err(err, errlen, rc, "%s: group status: %s",
		    path, strerror(-rc)));
	if (!(st.flags & VFIO_GROUP_FLAGS_VIABLE))
		return (vfio_err(err, errlen, -EPERM, "%s: group %u is not "
		    "viable (every device in it must be bound to vfio)",
		    d->name, group));
	if ((rc = open_dev(VFIO_CONTAINER, &d->container_fd, err,
	    errlen)) != 0)
		return (rc);
	if ((rc = vfio_ioctl(d->container_fd, VFIO_GET_API_VERSION,
	    NULL)) != VFIO_API_VERSION)
		return (vfio_err(err, errlen, -EPROTO, "%s: VFIO API version "
		    "%d, this build speaks %d", VFIO_CONTAINER, rc,
		    VFIO_API_VERSION));
	if (vfio_ioctl(d->container_fd, VFIO_CHECK_EXTENSION,
	    (void *)(uintptr_t)VFIO_TYPE1v2_IOMMU) <= 0)
		return (vfio_err(err, errlen, -EOPNOTSUPP, "%s: no type1v2 "
		    "IOMMU", VFIO_CONTAINER));
	if ((rc = vfio_ioctl(d->group_fd, VFIO_GROUP_SET_CONTAINER,
	    &d->container_fd)) < 0)
		return (vfio_err(err, errlen, rc, "%s: set container: %s", path,
		    strerror(-rc)));
	if ((rc = vfio_ioctl(d->container_fd, VFIO_SET_IOMMU,
	    (void *)(uintptr_t)VFIO_TYPE1v2_IOMMU)) < 0)
		return (vfio_err(err, errlen, rc, "%s: set IOMMU type1v2: %s",
		    VFIO_CONTAINER, strerror(-rc)));
	d->iommu = VFIO_IOMMU_TYPE1;
	d->owns_iommu = 1;
	return (0);
}

int
vfio_open_group(const char *bdf, const struct vfio_open_opts *o,
    struct vfio_dev **dp, char *err, size_t errlen)
{
	struct vfio_dev	*d;
	unsigned int	 group;
	int		 rc;

	if (!vfio_bdf_valid(bdf))
		return (vfio_err(err, errlen, -EINVAL, "'%s' is not a PCI "
		    "address", bdf));
	if ((rc = bdf_group(sysfs_root(o), bdf, &group, err, errlen)) != 0)
		return (rc);
	if ((d = vfio_dev_new(bdf)) == NULL)
		return (-ENOMEM);
	snprintf(d->bdf, sizeof(d->bdf), "%s", bdf);
	if ((rc = group_attach(d, group, err, errlen)) != 0) {
		vfio_dev_free(d);
		return (rc);
	}
	if ((d->fd = vfio_ioctl(d->group_fd, VFIO_GROUP_GET_DEVICE_FD,
	    (void *)(uintptr_t)bdf)) < 0) {
		rc = d->fd;
		d->fd = -1;
		vfio_dev_free(d);
		return (vfio_err(err, errlen, rc, "%s: group %u has no such "
		    "device (%s)", bdf, group, strerror(-rc)));
	}
	return (finish(d, dp, err, errlen));
}

/* ------------------------------------------------- cdev + iommufd */

static int
iommufd_attach(struct vfio_dev *d, const struct vfio_open_opts *o,
    char *err, size_t errlen)
{
	struct vfio_device_bind_iommufd		b;
	struct iommu_ioas_alloc			ia;
	struct iommu_hwpt_alloc			ha;
	struct vfio_device_attach_iommufd_pt	at;
	int					rc;

	memset(&b, 0, sizeof(b));
	b.argsz = sizeof(b);
	b.iommufd = d->iommufd;
	if ((rc = vfio_ioctl(d->fd, VFIO_DEVICE_BIND_IOMMUFD, &b)) < 0)
		return (vfio_err(err, errlen, rc, "%s: bind to iommufd: %s%s",
		    d->name, strerror(-rc), rc == -EBUSY ? " (opened through "
		    "its group elsewhere?)" : ""));
	d->devid = b.out_devid;
	memset(&ia, 0, sizeof(ia));
	ia.size = sizeof(ia);
	if ((rc = vfio_ioctl(d->iommufd, IOMMU_IOAS_ALLOC, &ia)) < 0)
		return (vfio_err(err, errlen, rc, "%s: IOAS alloc: %s", d->name,
		    strerror(-rc)));
	d->ioas_id = ia.out_ioas_id;
	d->have_ioas = 1;
	(void)vfio_dev_iommu_dirty(d);
	memset(&at, 0, sizeof(at));
	at.argsz = sizeof(at);
	at.pt_id = d->ioas_id;
	if (d->iommu_dirty && (o == NULL || !o->no_dirty_hwpt)) {
		/* Dirty tracking needs a HWPT allocated for it. */
		memset(&ha, 0, sizeof(ha));
		ha.size = sizeof(ha);
		ha.flags = IOMMU_HWPT_ALLOC_DIRTY_TRACKING;
		ha.dev_id = d->devid;
		ha.pt_id = d->ioas_id;
		if ((rc = vfio_ioctl(d->iommufd, IOMMU_HWPT_ALLOC, &ha)) < 0)
			return (vfio_err(err, errlen, rc, "%s: HWPT alloc with "
			    "dirty tracking: %s", d->name, strerror(-rc)));
		at.pt_id = ha.out_hwpt_id;
		d->hwpt_dirty = 1;
	}
	if ((rc = vfio_ioctl(d->fd, VFIO_DEVICE_ATTACH_IOMMUFD_PT, &at)) < 0)
		return (vfio_err(err, errlen, rc, "%s: attach to %u: %s",
		    d->name, at.pt_id, strerror(-rc)));
	/* pt_id comes back as the HWPT the device is attached to. */
	d->hwpt_id = at.pt_id;
	d->have_hwpt = 1;
	d->iommu = VFIO_IOMMU_IOMMUFD;
	d->owns_iommu = 1;
	return (0);
}

int
vfio_open_cdev(const char *what, const struct vfio_open_opts *o,
    struct vfio_dev **dp, char *err, size_t errlen)
{
	struct vfio_dev	*d;
	char		 path[PATH_MAX];
	int		 rc;

	if (vfio_bdf_valid(what)) {
		if ((rc = bdf_cdev(sysfs_root(o), what, path, sizeof(path),
		    err, errlen)) != 0)
			return (rc);
	} else
		snprintf(path, sizeof(path), "%s", what);
	if ((d = vfio_dev_new(vfio_bdf_valid(what) ? what : path)) == NULL)
		return (-ENOMEM);
	if (vfio_bdf_valid(what))
		snprintf(d->bdf, sizeof(d->bdf), "%s", what);
	if ((rc = open_dev(path, &d->fd, err, errlen)) != 0 ||
	    (rc = open_dev(VFIO_IOMMUFD, &d->iommufd, err, errlen)) != 0 ||
	    (rc = iommufd_attach(d, o, err, errlen)) != 0) {
		vfio_dev_free(d);
		return (rc);
	}
	return (finish(d, dp, err, errlen));
}

/* ------------------------------------------------------- hand-over */

static void
close_fds(int *fds, unsigned int n)
{
	unsigned int	i;

	for (i = 0; i < n; i++) {
		if (fds[i] != -1)
			close(fds[i]);
	}
}

/* Receive one line (and the fds that came with it) within ms. */
static int
recv_line(int s, char *line, size_t len, int *fds, unsigned int *nfds,
    int ms, char *err, size_t errlen)
{
	union {
		struct cmsghdr	h;
		char		b[CMSG_SPACE(sizeof(int) * 8)];
	} cm;
	struct msghdr	 mh;
	struct iovec	 iov;
	struct cmsghdr	*c;
	struct pollfd	 pfd = { s, POLLIN, 0 };
	size_t		 n = 0, k, i;
	ssize_t		 r;

	*nfds = 0;
	while (n + 1 < len && memchr(line, '\n', n) == NULL) {
		if (poll(&pfd, 1, ms) <= 0)
			return (vfio_err(err, errlen, -ETIMEDOUT, "VMM hand-over: "
			    "no answer within %d ms", ms));
		memset(&mh, 0, sizeof(mh));
		iov.iov_base = line + n;
		iov.iov_len = len - 1 - n;
		mh.msg_iov = &iov;
		mh.msg_iovlen = 1;
		mh.msg_control = cm.b;
		mh.msg_controllen = sizeof(cm.b);
		if ((r = recvmsg(s, &mh, MSG_CMSG_CLOEXEC)) == -1) {
			if (errno == EINTR)
				continue;
			return (vfio_err(err, errlen, -errno, "VMM hand-over: "
			    "%s", strerror(errno)));
		}
		for (c = CMSG_FIRSTHDR(&mh); c != NULL;
		    c = CMSG_NXTHDR(&mh, c)) {
			if (c->cmsg_level != SOL_SOCKET ||
			    c->cmsg_type != SCM_RIGHTS)
				continue;
			k = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
			for (i = 0; i < k; i++) {
				int fd;

				memcpy(&fd, CMSG_DATA(c) + i * sizeof(int),
				    sizeof(int));
				if (*nfds < VFIO_HANDOFF_MAX_FDS + 1)
					fds[(*nfds)++] = fd;
				else
					close(fd);
			}
		}
		if (mh.msg_flags & MSG_CTRUNC)
			return (vfio_err(err, errlen, -EPROTO, "VMM hand-over: "
			    "more descriptors than a device needs"));
		if (r == 0)
			return (vfio_err(err, errlen, -EPIPE, "VMM hand-over: "
			    "the VMM closed the socket"));
		n += (size_t)r;
	}
	line[n] = '\0';
	if (memchr(line, '\n', n) == NULL)
		return (vfio_err(err, errlen, -EPROTO, "VMM hand-over: a line "
		    "longer than %zu bytes", len - 1));
	return ((int)n);
}

static int
handoff_dev(const char *sock, int *fds, const struct vfio_handoff *h,
    struct vfio_dev **dp, char *err, size_t errlen)
{
	struct vfio_dev	*d;
	int		 i;

	if ((d = vfio_dev_new(h->bdf[0] != '\0' ? h->bdf : sock)) == NULL)
		return (-ENOMEM);
	snprintf(d->bdf, sizeof(d->bdf), "%s", h->bdf);
	d->handed = 1;
	d->fd = fds[h->index[VFIO_ROLE_DEVICE]];
	if ((i = h->index[VFIO_ROLE_CONTAINER]) != -1) {
		d->container_fd = fds[i];
		d->iommu = VFIO_IOMMU_TYPE1;
	}
	if ((i = h->index[VFIO_ROLE_IOMMUFD]) != -1) {
		d->iommufd = fds[i];
		d->iommu = VFIO_IOMMU_IOMMUFD;
		d->devid = h->devid;
		d->hwpt_id = h->hwpt;
		d->have_hwpt = h->have_hwpt;
		d->ioas_id = h->ioas;
		d->have_ioas = h->have_ioas;
	}
	return (finish(d, dp, err, errlen));
}

int
vfio_open_handoff(const char *sock, const char *name,
    const struct vfio_open_opts *o, struct vfio_dev **dp, char *err,
    size_t errlen)
{
	struct sockaddr_un	 sun;
	struct vfio_handoff	 h;
	char			 line[VFIO_HANDOFF_MAX_LINE + 2], req[128];
	int			 s, fds[VFIO_HANDOFF_MAX_FDS + 1], n, rc;
	unsigned int		 nfds = 0;
	int			 ms = o != NULL && o->timeout_ms > 0 ?
				    o->timeout_ms : 5000;

	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	if (strlen(sock) >= sizeof(sun.sun_path))
		return (vfio_err(err, errlen, -ENAMETOOLONG, "%s: socket path "
		    "too long", sock));
	memcpy(sun.sun_path, sock, strlen(sock));
	if ((s = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) == -1)
		return (vfio_err(err, errlen, -errno, "socket: %s",
		    strerror(errno)));
	if (connect(s, (struct sockaddr *)&sun, sizeof(sun)) == -1) {
		rc = -errno;
		close(s);
		return (vfio_err(err, errlen, rc, "%s: %s (no VMM listening?)",
		    sock, strerror(-rc)));
	}
	n = snprintf(req, sizeof(req), HANDOFF_HELLO "%s%s\n",
	    name != NULL && name[0] != '\0' ? " " : "",
	    name != NULL ? name : "");
	if (n < 0 || (size_t)n >= sizeof(req) ||
	    send(s, req, (size_t)n, MSG_NOSIGNAL) != n) {
		close(s);
		return (vfio_err(err, errlen, -EIO, "%s: cannot send the "
		    "request", sock));
	}
	memset(line, 0, sizeof(line));
	rc = recv_line(s, line, sizeof(line), fds, &nfds, ms, err, errlen);
	close(s);
	if (rc >= 0)
		rc = vfio_handoff_parse(line, (size_t)rc, nfds, &h, err,
		    errlen);
	if (rc < 0) {
		close_fds(fds, nfds);
		return (rc);
	}
	return (handoff_dev(sock, fds, &h, dp, err, errlen));
}

int
vfio_open_adopt(const char *name, const int *fds, uint32_t devid,
    struct vfio_dev **dp, char *err, size_t errlen)
{
	struct vfio_handoff	 h;
	int			 own[VFIO_ROLE_N], r, rc;
	unsigned int		 n = 0;

	memset(&h, 0, sizeof(h));
	if (fds[VFIO_ROLE_DEVICE] < 0)
		return (vfio_err(err, errlen, -EINVAL, "%s: no device fd",
		    name));
	if (fds[VFIO_ROLE_CONTAINER] >= 0 && fds[VFIO_ROLE_IOMMUFD] >= 0)
		return (vfio_err(err, errlen, -EINVAL, "%s: a container and "
		    "an iommufd: give one", name));
	/* the caller keeps its fds: the device gets copies */
	for (r = 0; r < VFIO_ROLE_N; r++) {
		h.index[r] = -1;
		if (fds[r] < 0)
			continue;
		if ((own[n] = fcntl(fds[r], F_DUPFD_CLOEXEC, 3)) == -1) {
			rc = -errno;
			close_fds(own, n);
			return (vfio_err(err, errlen, rc, "%s: dup: %s", name,
			    strerror(-rc)));
		}
		h.index[r] = (int)n++;
	}
	h.nfds = n;
	h.devid = devid;
	h.have_devid = h.index[VFIO_ROLE_IOMMUFD] != -1;
	return (handoff_dev(name, own, &h, dp, err, errlen));
}

int
vfio_handoff_read_request(int conn, char *name, size_t len, int ms,
    char *err, size_t errlen)
{
	char		 line[160], *p, *nl;
	int		 fds[VFIO_HANDOFF_MAX_FDS + 1], rc;
	unsigned int	 nfds;

	memset(line, 0, sizeof(line));
	rc = recv_line(conn, line, sizeof(line), fds, &nfds, ms > 0 ? ms :
	    5000, err, errlen);
	if (rc >= 0 && nfds > 0)
		rc = vfio_err(err, errlen, -EPROTO, "hand-over request came "
		    "with descriptors");
	close_fds(fds, nfds);
	if (rc < 0)
		return (rc);
	if ((nl = strchr(line, '\n')) != NULL)
		*nl = '\0';
	if (strncmp(line, HANDOFF_HELLO, strlen(HANDOFF_HELLO)) != 0)
		return (vfio_err(err, errlen, -EPROTO, "hand-over request '%.40s' "
		    "is not '" HANDOFF_HELLO " [NAME]'", line));
	p = line + strlen(HANDOFF_HELLO);
	if (*p != '\0' && *p++ != ' ')
		return (vfio_err(err, errlen, -EPROTO, "hand-over request: bad "
		    "version"));
	snprintf(name, len, "%s", p);
	return (0);
}

int
vfio_handoff_send(int conn, const struct vfio_dev *d, char *err,
    size_t errlen)
{
	union {
		struct cmsghdr	h;
		char		b[CMSG_SPACE(sizeof(int) * 3)];
	} cm;
	struct vfio_handoff	 h;
	struct msghdr		 mh;
	struct iovec		 iov;
	struct cmsghdr		*c;
	char			 line[VFIO_HANDOFF_MAX_LINE + 2];
	int			 fds[3], r;

	memset(&h, 0, sizeof(h));
	for (r = 0; r < VFIO_ROLE_N; r++)
		h.index[r] = -1;
	fds[h.nfds] = d->fd;
	h.index[VFIO_ROLE_DEVICE] = (int)h.nfds++;
	if (d->iommu == VFIO_IOMMU_TYPE1 && d->container_fd != -1) {
		fds[h.nfds] = d->container_fd;
		h.index[VFIO_ROLE_CONTAINER] = (int)h.nfds++;
	} else if (d->iommu == VFIO_IOMMU_IOMMUFD && d->iommufd != -1) {
		fds[h.nfds] = d->iommufd;
		h.index[VFIO_ROLE_IOMMUFD] = (int)h.nfds++;
		h.devid = d->devid;
		h.have_devid = 1;
		h.hwpt = d->hwpt_id;
		h.have_hwpt = d->have_hwpt;
		h.ioas = d->ioas_id;
		h.have_ioas = d->have_ioas;
	}
	snprintf(h.bdf, sizeof(h.bdf), "%s", d->bdf);
	if (vfio_handoff_format(&h, line, sizeof(line)) != 0)
		return (vfio_err(err, errlen, -ENOSPC, "hand-over line too "
		    "long"));
	memset(&mh, 0, sizeof(mh));
	memset(&cm, 0, sizeof(cm));
	iov.iov_base = line;
	iov.iov_len = strlen(line);
	mh.msg_iov = &iov;
	mh.msg_iovlen = 1;
	mh.msg_control = cm.b;
	mh.msg_controllen = CMSG_SPACE(sizeof(int) * h.nfds);
	c = CMSG_FIRSTHDR(&mh);
	c->cmsg_level = SOL_SOCKET;
	c->cmsg_type = SCM_RIGHTS;
	c->cmsg_len = CMSG_LEN(sizeof(int) * h.nfds);
	memcpy(CMSG_DATA(c), fds, sizeof(int) * h.nfds);
	do {
		r = (int)sendmsg(conn, &mh, MSG_NOSIGNAL);
	} while (r == -1 && errno == EINTR);
	if (r != (int)iov.iov_len)
		return (vfio_err(err, errlen, r == -1 ? -errno : -EIO,
		    "hand-over send: %s", r == -1 ? strerror(errno) :
		    "short"));
	return (0);
}

int
vfio_handoff_refuse(int conn, const char *reason)
{
	char	line[VFIO_HANDOFF_MAX_LINE];
	int	n;

	n = snprintf(line, sizeof(line), "err %s\n", reason);
	if (n < 0 || (size_t)n >= sizeof(line))
		return (-ENOSPC);
	return (send(conn, line, (size_t)n, MSG_NOSIGNAL) == n ? 0 : -EIO);
}

int
vfio_open_spec(const char *spec, const struct vfio_open_opts *o,
    struct vfio_dev **dp, char *err, size_t errlen)
{
	struct vfio_spec	sp;
	int			rc;

	if ((rc = vfio_spec_parse(spec, &sp, err, errlen)) != 0)
		return (rc);
	switch (sp.kind) {
	case VFIO_SPEC_GROUP:
		return (vfio_open_group(sp.bdf, o, dp, err, errlen));
	case VFIO_SPEC_CDEV:
		return (vfio_open_cdev(sp.bdf[0] != '\0' ? sp.bdf : sp.path, o,
		    dp, err, errlen));
	default:
		return (vfio_open_handoff(sp.path, sp.name, o, dp, err,
		    errlen));
	}
}
