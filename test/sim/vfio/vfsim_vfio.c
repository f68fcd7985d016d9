/*
 * vfsim_vfio.c: the VFIO files that are not about migration: opening the
 * nodes, the type1 container (its own ioctls; the IOMMU ones are in
 * vfsim_iommu.c), groups, and the device file (info, regions, reset, the
 * VFIO_DEVICE_FEATURE core checks, pread/pwrite/mmap by region).
 *
 * Mirrors drivers/vfio/{container.c,group.c,vfio_main.c,device_cdev.c}
 * and vfio_pci_core.c: where an errno is not obvious, the comment names
 * the kernel check it follows.
 */
#include "config.h"

#include <sys/mman.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "util.h"
#include "vfio_compat.h"
#include "vfsim.h"

#define OFFSETOFEND(t, m)	(offsetof(t, m) + sizeof(((t *)0)->m))

struct vdev *
vfs_dev_by_bdf(const char *bdf)
{
	unsigned int	i;

	for (i = 0; i < vfs->ndevs; i++) {
		if (strcmp(vfs->devs[i].bdf, bdf) == 0)
			return (&vfs->devs[i]);
	}
	return (NULL);
}

/* Does the device DMA in this state (workload ticks)? */
int
vfs_dev_running(const struct vdev *d)
{
	if (d->mig == VFS_MIG_V1)
		return ((d->v1_state & 7) == 1 || (d->v1_state & 7) == 3);
	return (d->state == VFIO_DEVICE_STATE_RUNNING ||
	    d->state == VFIO_DEVICE_STATE_RUNNING_P2P ||
	    d->state == VFIO_DEVICE_STATE_PRE_COPY ||
	    d->state == VFIO_DEVICE_STATE_PRE_COPY_P2P);
}

/* The VF's mode follows the migration state. */
void
vfs_dev_sync_mode(struct vdev *d)
{
	char	err[128];
	uint8_t	want = vfs_dev_running(d) ? VA_MODE_ACTIVE : VA_MODE_STOP;

	if (d->vf->mode != want)
		(void)sim_vf_set_mode(&vfs->sim, d->vf, want, err, sizeof(err));
}

/* VFIO_DEVICE_RESET and the last close: RUNNING, every session ends. */
void
vfs_dev_reset(struct vdev *d)
{
	vfs_virtio_reset(d);	/* FLR: the function's state */
	vfs_mig_reset(d);
	d->resets++;
	vfs_dev_sync_mode(d);
}

/* ------------------------------------------------------------ open */

int
vfs_open_path(struct vfs_file *f, const char *p)
{
	struct vgroup	*g = NULL;
	struct vdev	*d;
	unsigned int	 i, n;
	char		 tail;

	if (strcmp(p, "/dev/vfio/vfio") == 0) {
		/* CONFIG_IOMMUFD_VFIO_CONTAINER: iommufd answers here. */
		if (vfs->o.iommufd_compat) {
			f->kind = VFS_K_IOMMUFD;
			f->obj = vfs_ctx_new(f, 1);
		} else {
			f->kind = VFS_K_CONTAINER;
			f->obj = vfs_cont_new(f);
		}
		return (0);
	}
	if (strcmp(p, "/dev/iommu") == 0) {
		if (!vfs_kernel(6, 2))
			return (-ENOENT);
		f->kind = VFS_K_IOMMUFD;
		f->obj = vfs_ctx_new(f, 0);
		return (0);
	}
	if (sscanf(p, "/dev/vfio/devices/vfio%u%c", &n, &tail) == 1) {
		if (!vfs_kernel(6, 6))
			return (-ENOENT);
		for (i = 0; i < vfs->ndevs; i++) {
			d = &vfs->devs[i];
			if (d->cdev >= 0 && (unsigned int)d->cdev == n) {
				f->kind = VFS_K_DEVICE;
				f->obj = d;
				f->granted = 0;	/* until bound */
				return (0);
			}
		}
		return (-ENOENT);
	}
	if (sscanf(p, "/dev/vfio/%u%c", &n, &tail) == 1) {
		for (i = 0; i < vfs->ngroups; i++) {
			if (vfs->groups[i].id == n)
				g = &vfs->groups[i];
		}
		if (g == NULL)
			return (-ENOENT);
		/* vfio_group_fops_open: one opener at a time. */
		if (g->file != NULL)
			return (-EBUSY);
		g->file = f;
		f->kind = VFS_K_GROUP;
		f->obj = g;
		return (0);
	}
	return (-ENOENT);
}

static void
group_unset(struct vgroup *g)
{
	struct vcont	*c = g->cont;
	struct vctx	*x = g->ctx;
	unsigned int	 i;

	g->cont = NULL;
	g->ctx = NULL;
	for (i = 0; i < vfs->ndevs; i++) {
		if (vfs->devs[i].group == g)
			vfs_dev_update_mem(&vfs->devs[i]);
	}
	if (c != NULL) {
		c->ngroups--;
		if (c->ngroups == 0)
			c->iommu = 0;	/* the last group takes the driver */
		vfs_cont_put(c);
	}
	if (x != NULL)
		vfs_ctx_put(x);
}

void
vfs_release(struct vfs_file *f)
{
	struct vgroup	*g;
	struct vdev	*d;
	struct vdata	*dt;

	switch (f->kind) {
	case VFS_K_CONTAINER:
		((struct vcont *)f->obj)->file = NULL;
		vfs_cont_put(f->obj);
		break;
	case VFS_K_IOMMUFD:
		((struct vctx *)f->obj)->file = NULL;
		vfs_ctx_put(f->obj);
		break;
	case VFS_K_GROUP:
		g = f->obj;
		g->file = NULL;
		if (g->dev_opens == 0)
			group_unset(g);
		break;
	case VFS_K_DEVICE:
		d = f->obj;
		if (d->cdev_file == f) {
			vfs_ctx_unbind(d);
			d->cdev_file = NULL;
		} else if (f->granted) {
			d->group_opens--;
			d->group->dev_opens--;
			if (d->group->file == NULL && d->group->dev_opens == 0)
				group_unset(d->group);
		}
		/* The last close: vfio-pci resets, drivers end sessions
		 * and stop logging (mlx5 close_device). */
		if (f->granted && d->group_opens == 0 && d->cdev_file == NULL) {
			vfs_virtio_release(d);	/* interrupts off too */
			d->log_on = 0;
			vps_set_free(&d->log);
			vfs_dev_reset(d);
		}
		vfs_dev_update_mem(d);
		break;
	case VFS_K_DATA:
		dt = f->obj;
		dt->file = NULL;
		if (dt->dev == NULL)
			vfs_data_free(dt);
		break;
	}
}

/* ------------------------------------------------------ container */

long
vfs_container_ioctl(struct vfs_file *f, struct vcont *c, uint64_t cmd,
    uint64_t arg)
{
	switch (cmd) {
	case VFIO_GET_API_VERSION:
		return (VFIO_API_VERSION);
	case VFIO_CHECK_EXTENSION:
		return (arg == VFIO_TYPE1_IOMMU || arg == VFIO_TYPE1v2_IOMMU ||
		    arg == VFIO_UNMAP_ALL);
	case VFIO_SET_IOMMU:
		/* vfio_ioctl_set_iommu: groups first, one driver only. */
		if (c->ngroups == 0 || c->iommu != 0)
			return (-EINVAL);
		if (arg != VFIO_TYPE1_IOMMU && arg != VFIO_TYPE1v2_IOMMU)
			return (-ENODEV);
		c->iommu = (int)arg;
		return (0);
	}
	if (c->iommu == 0)
		return (-EINVAL);	/* no driver to hand it to */
	return (vfs_type1_ioctl(f, c, cmd, arg));
}

/* ---------------------------------------------------------- group */

static long
group_set_container(struct vfs_file *f, struct vgroup *g, uint64_t arg)
{
	struct vfs_file	*cf;
	int32_t		 fd;
	int		 rc;
	unsigned int	 i;

	if ((rc = vfs_copy_from(f, arg, &fd, sizeof(fd))) != 0)
		return (rc);
	if ((rc = vfs_fdget(f, fd, &cf)) != 0)
		return (rc);
	if (g->cont != NULL || g->ctx != NULL)
		return (-EINVAL);
	if (cf == NULL)
		return (-EINVAL);
	if (cf->kind == VFS_K_CONTAINER) {
		g->cont = cf->obj;
		g->cont->ngroups++;
		g->cont->refs++;
	} else if (cf->kind == VFS_K_IOMMUFD) {
		g->ctx = cf->obj;
		g->ctx->refs++;
	} else
		return (-EINVAL);
	for (i = 0; i < vfs->ndevs; i++) {
		if (vfs->devs[i].group == g)
			vfs_dev_update_mem(&vfs->devs[i]);
	}
	return (0);
}

static long
group_get_device_fd(struct vfs_file *f, struct vgroup *g, uint64_t arg)
{
	struct vfs_file	*nf;
	struct vdev	*d;
	char		 name[64];
	unsigned int	 i;
	int		 fd;

	/* strndup_user: byte by byte up to the NUL. */
	for (i = 0; i < sizeof(name); i++) {
		if (vfs_copy_from(f, arg + i, &name[i], 1) != 0)
			return (-EFAULT);
		if (name[i] == '\0')
			break;
	}
	if (i == sizeof(name))
		return (-EINVAL);
	/* vfio_group_ioctl_get_device_fd: a container with an IOMMU. */
	if ((g->cont == NULL || g->cont->iommu == 0) && g->ctx == NULL)
		return (-EINVAL);
	if ((d = vfs_dev_by_bdf(name)) == NULL || d->group != g)
		return (-ENODEV);
	if (d->cdev_file != NULL)
		return (-EBUSY);
	if ((fd = vfs_install(f, VFS_K_DEVICE, d, &nf)) < 0)
		return (fd);
	nf->granted = 1;
	d->group_opens++;
	g->dev_opens++;
	vfs_dev_update_mem(d);
	log_info("%s: %s opened through group %u (fd %d)", __func__, d->bdf,
	    g->id, fd);
	return (fd);
}

long
vfs_group_ioctl(struct vfs_file *f, struct vgroup *g, uint64_t cmd,
    uint64_t arg)
{
	struct vfio_group_status	st;
	int				rc;

	switch (cmd) {
	case VFIO_GROUP_GET_STATUS:
		if ((rc = vfs_copy_from(f, arg, &st, OFFSETOFEND(struct
		    vfio_group_status, flags))) != 0)
			return (rc);
		if (st.argsz < OFFSETOFEND(struct vfio_group_status, flags))
			return (-EINVAL);
		st.flags = VFIO_GROUP_FLAGS_VIABLE;
		if (g->cont != NULL || g->ctx != NULL)
			st.flags |= VFIO_GROUP_FLAGS_CONTAINER_SET;
		return (vfs_copy_to(f, arg, &st, OFFSETOFEND(struct
		    vfio_group_status, flags)));
	case VFIO_GROUP_SET_CONTAINER:
		return (group_set_container(f, g, arg));
	case VFIO_GROUP_UNSET_CONTAINER:
		if (g->cont == NULL && g->ctx == NULL)
			return (-EINVAL);
		if (g->dev_opens > 0)
			return (-EBUSY);
		group_unset(g);
		return (0);
	case VFIO_GROUP_GET_DEVICE_FD:
		return (group_get_device_fd(f, g, arg));
	}
	return (-ENOTTY);
}

/* --------------------------------------------------------- device */

static long
dev_info(struct vfs_file *f, struct vdev *d, uint64_t arg)
{
	struct vfio_device_info	i;
	size_t			minsz = OFFSETOFEND(struct vfio_device_info,
				    num_irqs);
	int			rc;

	if ((rc = vfs_copy_from(f, arg, &i, minsz)) != 0)
		return (rc);
	if (i.argsz < minsz)
		return (-EINVAL);
	i.flags = VFIO_DEVICE_FLAGS_PCI |
	    (d->can_reset ? VFIO_DEVICE_FLAGS_RESET : 0);
	i.num_regions = VFS_V1_INDEX + (d->mig == VFS_MIG_V1 ? 1 : 0);
	i.num_irqs = VFIO_PCI_NUM_IRQS;
	return (vfs_copy_to(f, arg, &i, minsz));
}

/* Append a capability (8-aligned) to a chain being built. */
void
vfs_cap_add(uint8_t *buf, size_t *len, const void *cap, size_t caplen)
{
	size_t	n = (caplen + 7) & ~(size_t)7, off = *len, prev = 0;
	uint32_t next;

	memset(buf + off, 0, n);
	memcpy(buf + off, cap, caplen);
	/* Link the last header of the chain to this one. */
	while (off > 0) {
		memcpy(&next, buf + prev + 4, 4);
		if (next == 0)
			break;
		prev = next;
	}
	if (off > 0) {
		next = (uint32_t)off;
		memcpy(buf + prev + 4, &next, 4);
	}
	*len += n;
}

/* vfio_info_cap_shift: next offsets count from the info struct. */
void
vfs_cap_shift(uint8_t *caps, uint32_t shift)
{
	uint32_t	off = 0, nx, u;

	for (;;) {
		memcpy(&nx, caps + off + 4, 4);
		if (nx == 0)
			break;
		u = nx + shift;
		memcpy(caps + off + 4, &u, 4);
		off = nx;
	}
}

static long
dev_region_info(struct vfs_file *f, struct vdev *d, uint64_t arg)
{
	struct vfio_region_info			 ri;
	struct vfio_region_info_cap_type	 ct;
	uint8_t					 caps[128], sp[32];
	size_t					 minsz = OFFSETOFEND(struct
						    vfio_region_info, offset);
	size_t					 clen = 0;
	uint32_t				 u;
	uint64_t				 v;
	int					 rc;

	if ((rc = vfs_copy_from(f, arg, &ri, minsz)) != 0)
		return (rc);
	if (ri.argsz < minsz)
		return (-EINVAL);
	if (ri.index >= VFS_V1_INDEX + (d->mig == VFS_MIG_V1 ? 1u : 0u))
		return (-EINVAL);
	ri.offset = (uint64_t)ri.index << VFS_PCI_OFFSET_SHIFT;
	ri.cap_offset = 0;
	ri.flags = 0;
	ri.size = 0;
	if (ri.index == VFIO_PCI_CONFIG_REGION_INDEX) {
		ri.size = d->virtio != NULL ? sizeof(d->virtio->cfg) : 256;
		ri.flags = VFIO_REGION_INFO_FLAG_READ |
		    VFIO_REGION_INFO_FLAG_WRITE;
	} else if (ri.index == VFIO_PCI_BAR0_REGION_INDEX &&
	    d->virtio != NULL) {
		/* No MMAP flag: accesses come here (vfio-pci allows both). */
		ri.size = 0x8000;
		ri.flags = VFIO_REGION_INFO_FLAG_READ |
		    VFIO_REGION_INFO_FLAG_WRITE;
	} else if (ri.index == VFS_V1_INDEX) {
		ri.size = VFS_V1_SECTION_OFF + d->v1_section;
		ri.flags = VFIO_REGION_INFO_FLAG_READ |
		    VFIO_REGION_INFO_FLAG_WRITE |
		    (d->v1_mmap ? VFIO_REGION_INFO_FLAG_MMAP : 0);
		memset(&ct, 0, sizeof(ct));
		ct.header.id = VFIO_REGION_INFO_CAP_TYPE;
		ct.header.version = 1;
		ct.type = VFIO_V1_REGION_TYPE;
		ct.subtype = VFIO_V1_REGION_SUBTYPE;
		vfs_cap_add(caps, &clen, &ct, sizeof(ct));
		if (d->v1_mmap) {
			memset(sp, 0, sizeof(sp));
			u = VFIO_REGION_INFO_CAP_SPARSE_MMAP | (1u << 16);
			memcpy(sp, &u, 4);
			u = 1;			/* nr_areas */
			memcpy(sp + 8, &u, 4);
			v = VFS_V1_SECTION_OFF;
			memcpy(sp + 16, &v, 8);
			v = d->v1_section;
			memcpy(sp + 24, &v, 8);
			vfs_cap_add(caps, &clen, sp, sizeof(sp));
		}
	}
	if (clen > 0) {
		ri.flags |= VFIO_REGION_INFO_FLAG_CAPS;
		if (ri.argsz < sizeof(ri) + clen) {
			ri.argsz = (uint32_t)(sizeof(ri) + clen);
			ri.cap_offset = 0;
		} else {
			vfs_cap_shift(caps, sizeof(ri));
			if ((rc = vfs_copy_to(f, arg + sizeof(ri), caps,
			    clen)) != 0)
				return (rc);
			ri.cap_offset = sizeof(ri);
		}
	}
	return (vfs_copy_to(f, arg, &ri, minsz));
}

/*
 * vfio_ioctl_device_feature: the core checks, then the feature. A
 * feature nobody implements is -ENOTTY (vfio_pci_core_ioctl_feature).
 */
static long
dev_feature(struct vfs_file *f, struct vdev *d, uint64_t arg)
{
	struct vfio_device_feature	ft;
	uint32_t			idx;
	size_t				minsz = OFFSETOFEND(struct
					    vfio_device_feature, flags);
	int				rc;

	if ((rc = vfs_copy_from(f, arg, &ft, minsz)) != 0)
		return (rc);
	if (ft.argsz < minsz)
		return (-EINVAL);
	if (ft.flags & ~(VFIO_DEVICE_FEATURE_MASK | VFIO_DEVICE_FEATURE_SET |
	    VFIO_DEVICE_FEATURE_GET | VFIO_DEVICE_FEATURE_PROBE))
		return (-EINVAL);
	if (!(ft.flags & VFIO_DEVICE_FEATURE_PROBE) &&
	    (ft.flags & VFIO_DEVICE_FEATURE_SET) &&
	    (ft.flags & VFIO_DEVICE_FEATURE_GET))
		return (-EINVAL);
	idx = ft.flags & VFIO_DEVICE_FEATURE_MASK;
	switch (idx) {
	case VFIO_DEVICE_FEATURE_MIGRATION:
	case VFIO_DEVICE_FEATURE_MIG_DEVICE_STATE:
	case VFIO_DEVICE_FEATURE_MIG_DATA_SIZE:
		return (vfs_mig_feature(f, d, ft.flags, arg + minsz,
		    ft.argsz - minsz));
	case VFIO_DEVICE_FEATURE_DMA_LOGGING_START:
	case VFIO_DEVICE_FEATURE_DMA_LOGGING_STOP:
	case VFIO_DEVICE_FEATURE_DMA_LOGGING_REPORT:
		return (vfs_dmalog_feature(f, d, ft.flags, arg + minsz,
		    ft.argsz - minsz));
	}
	return (-ENOTTY);
}

static long
dev_bind(struct vfs_file *f, struct vdev *d, uint64_t arg)
{
	struct vfio_device_bind_iommufd	 b;
	struct vfs_file			*xf;
	size_t				 minsz = OFFSETOFEND(struct
					    vfio_device_bind_iommufd, out_devid);
	int				 rc;

	if (d->cdev < 0 || f == NULL || f->granted)
		return (-EINVAL);	/* group fds; bound twice */
	if ((rc = vfs_copy_from(f, arg, &b, minsz)) != 0)
		return (rc);
	if (b.argsz < minsz || b.flags != 0 || b.iommufd < 0)
		return (-EINVAL);
	if ((rc = vfs_fdget(f, b.iommufd, &xf)) != 0)
		return (rc);
	if (xf == NULL || xf->kind != VFS_K_IOMMUFD)
		return (-EINVAL);
	/* vfio_device_block_group: not while opened through the group. */
	if (d->group_opens > 0 || d->cdev_file != NULL)
		return (-EBUSY);
	if ((rc = vfs_ctx_bind(xf->obj, d, &b.out_devid)) != 0)
		return (rc);
	if ((rc = vfs_copy_to(f, arg, &b, minsz)) != 0) {
		vfs_ctx_unbind(d);
		return (rc);
	}
	d->cdev_file = f;
	f->granted = 1;
	log_info("%s: %s bound to an iommufd as device %u", __func__, d->bdf,
	    b.out_devid);
	return (0);
}

static long
dev_attach(struct vfs_file *f, struct vdev *d, uint64_t arg)
{
	struct vfio_device_attach_iommufd_pt	a;
	size_t					minsz = OFFSETOFEND(struct
						    vfio_device_attach_iommufd_pt,
						    pt_id);
	long					rc;

	if ((rc = vfs_copy_from(f, arg, &a, minsz)) != 0)
		return (rc);
	if (a.argsz < minsz || a.flags != 0)
		return (-EINVAL);
	if ((rc = vfs_ctx_attach(d, &a.pt_id)) != 0)
		return (rc);
	return (vfs_copy_to(f, arg, &a, minsz));
}

long
vfs_device_ioctl(struct vfs_file *f, struct vdev *d, uint64_t cmd,
    uint64_t arg)
{
	if (cmd == VFIO_DEVICE_BIND_IOMMUFD && vfs_kernel(6, 6))
		return (dev_bind(f, d, arg));
	/* df->access_granted */
	if (!f->granted)
		return (-EINVAL);
	if (f == d->cdev_file) {
		if (cmd == VFIO_DEVICE_ATTACH_IOMMUFD_PT)
			return (dev_attach(f, d, arg));
		if (cmd == VFIO_DEVICE_DETACH_IOMMUFD_PT) {
			if (d->hwpt == NULL)
				return (-EINVAL);
			d->hwpt->users--;
			d->hwpt = NULL;
			vfs_dev_update_mem(d);
			return (0);
		}
	}
	switch (cmd) {
	case VFIO_DEVICE_FEATURE:
		return (dev_feature(f, d, arg));
	case VFIO_DEVICE_GET_INFO:
		return (dev_info(f, d, arg));
	case VFIO_DEVICE_GET_REGION_INFO:
		return (dev_region_info(f, d, arg));
	case VFIO_DEVICE_GET_IRQ_INFO:
		return (vfs_virtio_irq_info(f, d, arg));
	case VFIO_DEVICE_SET_IRQS:
		return (vfs_virtio_set_irqs(f, d, arg));
	case VFIO_DEVICE_RESET:
		if (!d->can_reset)
			return (-EINVAL);	/* !vdev->reset_works */
		if (vfs_fault_hit("reset", d->id, VFS_FAULT_FAIL) != NULL)
			return (-EIO);
		log_info("%s: %s: reset", __func__, d->bdf);
		vfs_dev_reset(d);
		return (0);
	}
	return (-ENOTTY);
}

long
vfs_device_rw(struct vfs_file *f, struct vdev *d, int wr, uint64_t buf,
    uint64_t count, uint64_t off)
{
	uint64_t	idx = off >> VFS_PCI_OFFSET_SHIFT;
	uint64_t	roff = off & ((1ULL << VFS_PCI_OFFSET_SHIFT) - 1);
	uint8_t		cfg[256];
	int		rc;

	if (!f->granted)
		return (-EINVAL);
	if (idx == VFS_V1_INDEX && d->mig == VFS_MIG_V1)
		return (vfs_v1_rw(f, d, wr, buf, count, roff));
	if (idx == VFIO_PCI_CONFIG_REGION_INDEX && d->virtio != NULL)
		return (vfs_virtio_cfg_rw(f, d, wr, buf, count, roff));
	if (idx == VFIO_PCI_BAR0_REGION_INDEX && d->virtio != NULL)
		return (vfs_virtio_bar_rw(f, d, wr, buf, count, roff));
	if (idx == VFIO_PCI_CONFIG_REGION_INDEX) {
		if (roff >= sizeof(cfg))
			return (0);
		if (count > sizeof(cfg) - roff)
			count = sizeof(cfg) - roff;
		if (wr)
			return ((long)count);	/* config writes ignored */
		memset(cfg, 0, sizeof(cfg));
		cfg[0] = 0xf4;			/* virtio vendor 0x1af4 */
		cfg[1] = 0x1a;
		cfg[2] = 0x41;			/* 0x1041: virtio-net */
		cfg[3] = 0x10;
		if ((rc = vfs_copy_to(f, buf, cfg + roff, count)) != 0)
			return (rc);
		return ((long)count);
	}
	return (-EINVAL);
}

long
vfs_device_mmap(struct vfs_file *f, struct vdev *d, uint64_t len,
    uint64_t off, int *memfd, int64_t *moff)
{
	uint64_t	idx = off >> VFS_PCI_OFFSET_SHIFT;
	uint64_t	roff = off & ((1ULL << VFS_PCI_OFFSET_SHIFT) - 1);

	if (!f->granted)
		return (-EINVAL);
	/* Only the sparse area of the v1 region is mappable. */
	if (idx != VFS_V1_INDEX || d->mig != VFS_MIG_V1 || !d->v1_mmap)
		return (-EINVAL);
	if (roff < VFS_V1_SECTION_OFF || len == 0 ||
	    roff - VFS_V1_SECTION_OFF > d->v1_section ||
	    len > d->v1_section - (roff - VFS_V1_SECTION_OFF))
		return (-EINVAL);
	if ((*memfd = dup(d->v1_memfd)) == -1)
		return (-ENOMEM);
	*moff = (int64_t)(roff - VFS_V1_SECTION_OFF);
	return (0);
}
