/*
 * vfio_dev.c: see vfio_dev.h.
 */
#include "config.h"

#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/syscall.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <linux/kcmp.h>

#include "vfio_compat.h"
#include "vfio_dev.h"
#include "vfio_log.h"
#include "vfio_mig.h"
#include "vfio_v1.h"

struct vfio_dev *
vfio_dev_new(const char *name)
{
	struct vfio_dev	*d;

	if ((d = calloc(1, sizeof(*d))) == NULL)
		return (NULL);
	snprintf(d->name, sizeof(d->name), "%s", name);
	d->fd = d->group_fd = d->container_fd = d->iommufd = d->data_fd = -1;
	d->state = VFIO_DEVICE_STATE_RUNNING;
	return (d);
}

void
vfio_dev_free(struct vfio_dev *d)
{
	if (d == NULL)
		return;
	vfio_v1_unmap(d);
	if (d->data_fd != -1)
		close(d->data_fd);
	if (d->fd != -1)
		close(d->fd);
	if (d->group_fd != -1)
		close(d->group_fd);
	if (d->container_fd != -1)
		close(d->container_fd);
	if (d->iommufd != -1)
		close(d->iommufd);
	free(d);
}

const char *
vfio_iface_name(enum vfio_iface i)
{
	switch (i) {
	case VFIO_IFACE_V1:
		return ("vfio/v1");
	case VFIO_IFACE_V2:
		return ("vfio/v2");
	default:
		return ("vfio/none");
	}
}

/* ------------------------------------------------------ syscalls */

int
vfio_ioctl(int fd, unsigned long req, void *arg)
{
	int	r;

	do {
		r = ioctl(fd, req, arg);
	} while (r == -1 && errno == EINTR);
	return (r == -1 ? -errno : r);
}

int
vfio_pread_all(int fd, void *buf, size_t len, uint64_t off)
{
	ssize_t	r;
	size_t	n = 0;

	while (n < len) {
		r = pread(fd, (uint8_t *)buf + n, len - n, (off_t)(off + n));
		if (r == -1 && errno == EINTR)
			continue;
		if (r == -1)
			return (-errno);
		if (r == 0)
			return (-EIO);	/* a region shorter than it said */
		n += (size_t)r;
	}
	return (0);
}

int
vfio_pwrite_all(int fd, const void *buf, size_t len, uint64_t off)
{
	ssize_t	r;
	size_t	n = 0;

	while (n < len) {
		r = pwrite(fd, (const uint8_t *)buf + n, len - n,
		    (off_t)(off + n));
		if (r == -1 && errno == EINTR)
			continue;
		if (r == -1)
			return (-errno);
		if (r == 0)
			return (-EIO);
		n += (size_t)r;
	}
	return (0);
}

int
vfio_feature(int fd, uint32_t flags, void *data, size_t len)
{
	struct vfio_device_feature *f;
	int	rc;

	if ((f = calloc(1, sizeof(*f) + len)) == NULL)
		return (-ENOMEM);
	f->argsz = (uint32_t)(sizeof(*f) + len);
	f->flags = flags;
	if (len > 0)
		memcpy(f->data, data, len);
	rc = vfio_ioctl(fd, VFIO_DEVICE_FEATURE, f);
	/* Copied back on errors too: MIG_DEVICE_STATE writes data_fd -1. */
	if (len > 0)
		memcpy(data, f->data, len);
	free(f);
	return (rc < 0 ? rc : 0);
}

int
vfio_get_info(int fd, unsigned long req, const void *base, size_t insz,
    uint32_t caps_flag, uint8_t **bufp, size_t *lenp)
{
	uint8_t		*buf;
	size_t		 len = insz;
	uint32_t	 argsz, flags;
	int		 tries, rc;

	for (tries = 0; tries < 2; tries++) {
		if ((buf = calloc(1, len)) == NULL)
			return (-ENOMEM);
		memcpy(buf, base, insz);
		argsz = (uint32_t)len;
		memcpy(buf, &argsz, sizeof(argsz));
		if ((rc = vfio_ioctl(fd, req, buf)) < 0) {
			free(buf);
			return (rc);
		}
		memcpy(&argsz, buf, sizeof(argsz));
		memcpy(&flags, buf + 4, sizeof(flags));
		/* Room for the chain? The kernel says how much it needs. */
		if (argsz <= len || !(flags & caps_flag)) {
			*bufp = buf;
			*lenp = len;
			return (0);
		}
		free(buf);
		if (argsz > 65536)
			return (-EPROTO);
		len = argsz;
	}
	return (-EPROTO);
}

int
vfio_same_file(int a, int b)
{
	pid_t	pid = getpid();

	if (a < 0 || b < 0)
		return (0);
	return (syscall(SYS_kcmp, pid, pid, KCMP_FILE, a, b) == 0);
}

/* --------------------------------------------------------- probe */

static int
probe_v2(struct vfio_dev *d, char *err, size_t errlen)
{
	struct vfio_device_feature_migration	mig;
	uint64_t				sz;
	int					rc;

	memset(&mig, 0, sizeof(mig));
	rc = vfio_feature(d->fd, VFIO_DEVICE_FEATURE_GET |
	    VFIO_DEVICE_FEATURE_MIGRATION, &mig, sizeof(mig));
	if (rc == -ENOTTY || rc == -EINVAL)
		return (0);	/* no v2: no mig_ops, or a pre-5.18 kernel */
	if (rc != 0)
		return (vfio_err(err, errlen, rc, "%s: VFIO_DEVICE_FEATURE "
		    "MIGRATION: %s", d->name, strerror(-rc)));
	if (!(mig.flags & VFIO_MIGRATION_STOP_COPY))
		return (vfio_err(err, errlen, -EOPNOTSUPP, "%s: migration "
		    "flags %#llx lack STOP_COPY, which the uAPI requires",
		    d->name, (unsigned long long)mig.flags));
	d->iface = VFIO_IFACE_V2;
	d->mig_flags = mig.flags;
	rc = vfio_feature(d->fd, VFIO_DEVICE_FEATURE_GET |
	    VFIO_DEVICE_FEATURE_MIG_DATA_SIZE, &sz, sizeof(sz));
	d->has_data_size = rc == 0;
	return (vfio_mig_get_state(d, &d->state, err, errlen));
}

int
vfio_dev_iommu_dirty(struct vfio_dev *d)
{
	struct vfio_compat_hw_info	hi;

	if (d->iommufd == -1 || d->devid == 0)
		return (0);
	memset(&hi, 0, sizeof(hi));
	hi.size = sizeof(hi);
	hi.dev_id = d->devid;
	if (vfio_ioctl(d->iommufd, IOMMU_GET_HW_INFO, &hi) == 0)
		d->iommu_dirty = (hi.out_capabilities &
		    IOMMU_HW_CAP_DIRTY_TRACKING) != 0;
	return (d->iommu_dirty);
}

int
vfio_dev_probe(struct vfio_dev *d, char *err, size_t errlen)
{
	struct vfio_device_info	info;
	int			rc;

	memset(&info, 0, sizeof(info));
	info.argsz = sizeof(info);
	if ((rc = vfio_ioctl(d->fd, VFIO_DEVICE_GET_INFO, &info)) < 0)
		return (vfio_err(err, errlen, rc, "%s: VFIO_DEVICE_GET_INFO: "
		    "%s", d->name, strerror(-rc)));
	d->dev_flags = info.flags;
	d->num_regions = info.num_regions;
	d->iface = VFIO_IFACE_NONE;
	if ((rc = probe_v2(d, err, errlen)) != 0)
		return (rc);
	if (d->iface == VFIO_IFACE_NONE) {
		if ((rc = vfio_v1_find(d, err, errlen)) < 0)
			return (rc);
		if (rc == 1)
			d->iface = VFIO_IFACE_V1;
	}
	/* A PROBE with SET: "could DMA logging be started" (no data). */
	d->has_dmalog = vfio_feature(d->fd, VFIO_DEVICE_FEATURE_PROBE |
	    VFIO_DEVICE_FEATURE_SET | VFIO_DEVICE_FEATURE_DMA_LOGGING_START,
	    NULL, 0) == 0;
	(void)vfio_dev_iommu_dirty(d);
	vfio_debug("%s: %s: %s flags %#llx%s%s%s", __func__, d->name,
	    vfio_iface_name(d->iface), (unsigned long long)d->mig_flags,
	    d->has_dmalog ? " dma-logging" : "",
	    d->has_data_size ? " data-size" : "",
	    d->iommu_dirty ? " iommu-dirty" : "");
	return (0);
}

int
vfio_dev_reset(struct vfio_dev *d, char *err, size_t errlen)
{
	int	rc;

	if (!(d->dev_flags & VFIO_DEVICE_FLAGS_RESET))
		return (vfio_err(err, errlen, -EOPNOTSUPP, "%s: the device "
		    "cannot be reset (no VFIO_DEVICE_FLAGS_RESET)", d->name));
	if ((rc = vfio_ioctl(d->fd, VFIO_DEVICE_RESET, NULL)) < 0)
		return (vfio_err(err, errlen, rc, "%s: VFIO_DEVICE_RESET: %s",
		    d->name, strerror(-rc)));
	/* A reset ends every data session (the kernel disables the files). */
	if (d->data_fd != -1) {
		close(d->data_fd);
		d->data_fd = -1;
	}
	vfio_v1_forget(d);
	vfio_info("%s: %s: reset", __func__, d->name);
	if (d->iface == VFIO_IFACE_V2)
		return (vfio_mig_get_state(d, &d->state, err, errlen));
	if (d->iface == VFIO_IFACE_V1)
		return (vfio_v1_get_state(d, &d->v1.state, err, errlen));
	return (0);
}

/* ------------------------------------------------------------ DMA */

int
vfio_dma_map(struct vfio_dev *d, void *vaddr, uint64_t iova, uint64_t size,
    char *err, size_t errlen)
{
	struct vfio_iommu_type1_dma_map	m;
	struct iommu_ioas_map		im;
	int				rc;

	if (!d->owns_iommu)
		return (vfio_err(err, errlen, -EPERM, "%s: its address space "
		    "belongs to the VMM that handed it over", d->name));
	if (d->iommu == VFIO_IOMMU_TYPE1) {
		memset(&m, 0, sizeof(m));
		m.argsz = sizeof(m);
		m.flags = VFIO_DMA_MAP_FLAG_READ | VFIO_DMA_MAP_FLAG_WRITE;
		m.vaddr = (uintptr_t)vaddr;
		m.iova = iova;
		m.size = size;
		rc = vfio_ioctl(d->container_fd, VFIO_IOMMU_MAP_DMA, &m);
	} else if (d->iommu == VFIO_IOMMU_IOMMUFD && d->have_ioas) {
		memset(&im, 0, sizeof(im));
		im.size = sizeof(im);
		im.flags = IOMMU_IOAS_MAP_FIXED_IOVA |
		    IOMMU_IOAS_MAP_READABLE | IOMMU_IOAS_MAP_WRITEABLE;
		im.ioas_id = d->ioas_id;
		im.user_va = (uintptr_t)vaddr;
		im.length = size;
		im.iova = iova;
		rc = vfio_ioctl(d->iommufd, IOMMU_IOAS_MAP, &im);
	} else
		return (vfio_err(err, errlen, -ENODEV, "%s: no IOMMU address "
		    "space to map into", d->name));
	if (rc < 0)
		return (vfio_err(err, errlen, rc, "%s: DMA map %#llx+%#llx: %s",
		    d->name, (unsigned long long)iova,
		    (unsigned long long)size, strerror(-rc)));
	return (0);
}

int
vfio_dma_unmap(struct vfio_dev *d, uint64_t iova, uint64_t size, char *err,
    size_t errlen)
{
	struct vfio_iommu_type1_dma_unmap	u;
	struct iommu_ioas_unmap			iu;
	int					rc;

	if (!d->owns_iommu)
		return (vfio_err(err, errlen, -EPERM, "%s: its address space "
		    "belongs to the VMM that handed it over", d->name));
	if (d->iommu == VFIO_IOMMU_TYPE1) {
		memset(&u, 0, sizeof(u));
		u.argsz = sizeof(u);
		u.iova = iova;
		u.size = size;
		rc = vfio_ioctl(d->container_fd, VFIO_IOMMU_UNMAP_DMA, &u);
	} else if (d->iommu == VFIO_IOMMU_IOMMUFD && d->have_ioas) {
		memset(&iu, 0, sizeof(iu));
		iu.size = sizeof(iu);
		iu.ioas_id = d->ioas_id;
		iu.iova = iova;
		iu.length = size;
		rc = vfio_ioctl(d->iommufd, IOMMU_IOAS_UNMAP, &iu);
	} else
		rc = -ENODEV;
	if (rc < 0)
		return (vfio_err(err, errlen, rc, "%s: DMA unmap %#llx+%#llx: "
		    "%s", d->name, (unsigned long long)iova,
		    (unsigned long long)size, strerror(-rc)));
	return (0);
}
