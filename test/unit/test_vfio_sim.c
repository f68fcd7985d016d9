/*
 * test_vfio_sim.c: the simulated kernel itself, spoken to raw through the
 * interposer: each rule it enforces, with the errno the kernel returns
 * (VFIO_DEVICE_FEATURE's core checks, DMA logging's START/REPORT checks,
 * region and IOMMU info sizes, type1 DIRTY_PAGES and MAP_DMA, iommufd's
 * size and flag rules, the cdev before it is bound, data_fd's stream
 * rules, groups). The layer's own tests rely on these being right.
 */
#include "config.h"

#include <sys/ioctl.h>
#include <sys/mman.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <criterion/criterion.h>

#include "vfio_compat.h"
#include "vfio_mig.h"
#include "vfio_testlib.h"

TestSuite(vfio_sim, .timeout = 60);

#define BDF1	"0000:3b:00.1"

/* A VFIO_DEVICE_FEATURE with an argsz of our choosing. */
static int
feat(int fd, uint32_t argsz, uint32_t flags, void *data, size_t len)
{
	uint8_t	buf[256];

	memset(buf, 0, sizeof(buf));
	memcpy(buf, &argsz, 4);
	memcpy(buf + 4, &flags, 4);
	if (len > 0)
		memcpy(buf + 8, data, len);
	if (ioctl(fd, VFIO_DEVICE_FEATURE, buf) == -1)
		return (-errno);
	if (len > 0)
		memcpy(data, buf + 8, len);
	return (0);
}

#define G	VFIO_DEVICE_FEATURE_GET
#define S	VFIO_DEVICE_FEATURE_SET
#define P	VFIO_DEVICE_FEATURE_PROBE

Test(vfio_sim, feature_core_checks)
{
	const char	*args[] = { "--dev", "mig=v2", "--dev", "mig=none,dmalog=0",
	    NULL };
	struct vfio_dev	*d, *n;
	struct vt	 v;
	uint64_t	 m = 0;

	vt_start(&v, args);
	d = vt_open(&v, "vfio:" BDF1);
	n = vt_open(&v, "vfio:0000:3b:00.2");
	cr_assert_eq(feat(d->fd, 4, G | 1, &m, 8), -EINVAL, "argsz < 8");
	cr_assert_eq(feat(d->fd, 16, G | 1 | (1u << 19), &m, 8), -EINVAL,
	    "an unknown flag");
	cr_assert_eq(feat(d->fd, 16, G | S | 1, &m, 8), -EINVAL,
	    "GET and SET without PROBE");
	cr_assert_eq(feat(d->fd, 8, P | G | 1, NULL, 0), 0, "a probe");
	cr_assert_eq(feat(d->fd, 8, P | S | 1, NULL, 0), -EINVAL,
	    "MIGRATION has no SET");
	cr_assert_eq(feat(d->fd, 12, G | 1, &m, 8), -EINVAL, "data < 8");
	cr_assert_eq(feat(d->fd, 16, 1, &m, 8), -EINVAL, "neither GET nor SET");
	cr_assert_eq(feat(d->fd, 16, G | 42, &m, 8), -ENOTTY);
	cr_assert_eq(feat(d->fd, 16, G | 1, &m, 8), 0);
	cr_assert_eq(m, 7);
	cr_assert_eq(feat(d->fd, 12, S | 2, &m, 8), -EINVAL,
	    "MIG_DEVICE_STATE needs 8 bytes");
	cr_assert_eq(feat(n->fd, 16, G | 1, &m, 8), -ENOTTY, "no mig_ops");
	cr_assert_eq(feat(n->fd, 8, P | S | 6, NULL, 0), -ENOTTY,
	    "no log_ops");
	cr_assert_eq(feat(d->fd, 8, P | S | 6, NULL, 0), 0);
	cr_assert_eq(feat(d->fd, 8, P | G | 6, NULL, 0), -EINVAL,
	    "START is SET only");
	vfio_dev_free(n);
	vfio_dev_free(d);
	vt_stop(&v);
}

struct ctl {
	uint64_t	page_size;
	uint32_t	num_ranges;
	uint32_t	reserved;
	uint64_t	ranges;
};

static int
log_start(int fd, uint64_t ps, struct vfio_device_feature_dma_logging_range
    *r, uint32_t n, uint64_t *chosen)
{
	struct ctl	c = { ps, n, 0, (uintptr_t)r };
	int		rc;

	rc = feat(fd, 8 + sizeof(c), S | 6, &c, sizeof(c));
	*chosen = c.page_size;
	return (rc);
}

static int
log_report(int fd, uint64_t iova, uint64_t len, uint64_t ps, uint64_t *bits)
{
	uint64_t	r[4] = { iova, len, ps, (uintptr_t)bits };

	return (feat(fd, 8 + sizeof(r), G | 8, r, sizeof(r)));
}

Test(vfio_sim, dma_logging_rules)
{
	static struct vfio_device_feature_dma_logging_range r[257];
	struct vfio_dev	*d;
	struct vt	 v;
	uint64_t	 ps, bits[4];
	unsigned int	 i;

	vt_start(&v, NULL);
	d = vt_open(&v, "vfio:" BDF1);
	for (i = 0; i < 257; i++) {
		r[i].iova = (uint64_t)i << 20;
		r[i].length = 4096;
	}
	cr_assert_eq(log_start(d->fd, 4096, r, 0, &ps), -EINVAL, "no ranges");
	cr_assert_eq(log_start(d->fd, 4096, r, 257, &ps), -E2BIG,
	    "a kernel page of ranges at most");
	r[1].iova += 512;
	cr_assert_eq(log_start(d->fd, 4096, r, 2, &ps), -EINVAL, "unaligned");
	r[1].iova = r[0].iova;
	cr_assert_eq(log_start(d->fd, 4096, r, 2, &ps), -EINVAL, "overlap");
	r[1].iova = UINT64_MAX - 4095;
	cr_assert_eq(log_start(d->fd, 4096, r, 2, &ps), -EOVERFLOW);
	r[1].iova = 1 << 20;
	cr_assert_eq(log_report(d->fd, 0, 1 << 20, 4096, bits), -EINVAL,
	    "not started");
	cr_assert_eq(log_start(d->fd, 4096, r, 256, &ps), 0);
	cr_assert_eq(ps, 4096);
	cr_assert_eq(log_start(d->fd, 4096, r, 1, &ps), -EINVAL,
	    "a second START");
	cr_assert_eq(log_report(d->fd, 0, 1 << 20, 1000, bits), -EINVAL);
	cr_assert_eq(log_report(d->fd, 0, 1 << 20, 2048, bits), -EINVAL);
	cr_assert_eq(log_report(d->fd, UINT64_MAX - 4095, 8192, 4096, bits),
	    -EOVERFLOW);
	/* REPORT only sets bits: what the caller had stays. */
	memset(bits, 0, sizeof(bits));
	bits[1] = 0xabc;
	cr_assert_eq(log_report(d->fd, 0, 256 * 4096, 4096, bits), 0);
	cr_assert_eq(bits[1], 0xabc);
	cr_assert_eq(feat(d->fd, 8, S | 7, NULL, 0), 0, "STOP");
	cr_assert_eq(feat(d->fd, 8, S | 7, NULL, 0), 0, "STOP again");
	cr_assert_eq(log_report(d->fd, 0, 4096, 4096, bits), -EINVAL);
	vfio_dev_free(d);
	vt_stop(&v);
}

Test(vfio_sim, info_sizes)
{
	const char	*args[] = { "--dev", "mig=v1", NULL };
	struct vfio_region_info	ri;
	struct vfio_device_info	di;
	struct vfio_dev		*d;
	struct vt		 v;

	vt_start(&v, args);
	d = vt_open(&v, "vfio:" BDF1);
	memset(&di, 0, sizeof(di));
	di.argsz = 12;
	cr_assert_eq(vfio_ioctl(d->fd, VFIO_DEVICE_GET_INFO, &di), -EINVAL);
	memset(&ri, 0, sizeof(ri));
	ri.argsz = 24;
	cr_assert_eq(vfio_ioctl(d->fd, VFIO_DEVICE_GET_REGION_INFO, &ri),
	    -EINVAL);
	ri.argsz = sizeof(ri);
	ri.index = 10;
	cr_assert_eq(vfio_ioctl(d->fd, VFIO_DEVICE_GET_REGION_INFO, &ri),
	    -EINVAL, "past num_regions");
	ri.index = 9;
	cr_assert_eq(vfio_ioctl(d->fd, VFIO_DEVICE_GET_REGION_INFO, &ri), 0);
	cr_assert(ri.flags & VFIO_REGION_INFO_FLAG_CAPS);
	cr_assert_gt(ri.argsz, sizeof(ri), "the room the caps need");
	cr_assert_eq(ri.cap_offset, 0, "not copied: no room");
	cr_assert_eq(ri.offset, 9ULL << 40);
	vfio_dev_free(d);
	vt_stop(&v);
}

Test(vfio_sim, type1_rules)
{
	struct {
		struct vfio_iommu_type1_dirty_bitmap	 h;
		struct vfio_iommu_type1_dirty_bitmap_get g;
	} a;
	struct vfio_iommu_type1_dma_map	 mp;
	struct vfio_dev			*d;
	struct vt			 v;
	uint64_t			 bits[8];
	void				*anon;

	vt_start(&v, NULL);
	vt_mem(&v, 1 << 20);
	d = vt_open_mapped(&v, "vfio:" BDF1, 1 << 20);
	memset(&a, 0, sizeof(a));
	a.h.argsz = sizeof(a.h);
	cr_assert_eq(vfio_ioctl(d->container_fd, VFIO_IOMMU_DIRTY_PAGES, &a),
	    -EINVAL, "no flag");
	a.h.flags = 3;
	cr_assert_eq(vfio_ioctl(d->container_fd, VFIO_IOMMU_DIRTY_PAGES, &a),
	    -EINVAL, "two flags");
	a.h.flags = 8;
	cr_assert_eq(vfio_ioctl(d->container_fd, VFIO_IOMMU_DIRTY_PAGES, &a),
	    -EINVAL, "an unknown flag");
	a.h.argsz = sizeof(a);
	a.h.flags = VFIO_IOMMU_DIRTY_PAGES_FLAG_GET_BITMAP;
	a.g.iova = 1 << 20;
	a.g.size = 1 << 20;
	a.g.bitmap.pgsize = 4096;
	a.g.bitmap.size = sizeof(bits);
	a.g.bitmap.data = (__u64 *)bits;
	cr_assert_eq(vfio_ioctl(d->container_fd, VFIO_IOMMU_DIRTY_PAGES, &a),
	    -EINVAL, "not started");
	a.h.flags = VFIO_IOMMU_DIRTY_PAGES_FLAG_START;
	cr_assert_eq(vfio_ioctl(d->container_fd, VFIO_IOMMU_DIRTY_PAGES, &a),
	    0);
	a.h.flags = VFIO_IOMMU_DIRTY_PAGES_FLAG_GET_BITMAP;
	a.g.bitmap.pgsize = 8192;
	cr_assert_eq(vfio_ioctl(d->container_fd, VFIO_IOMMU_DIRTY_PAGES, &a),
	    -EINVAL, "the smallest page size only");
	a.g.bitmap.pgsize = 4096;
	a.g.bitmap.size = 16;
	cr_assert_eq(vfio_ioctl(d->container_fd, VFIO_IOMMU_DIRTY_PAGES, &a),
	    -EINVAL, "bitmap too small for 256 pages");
	a.g.bitmap.size = sizeof(bits) * 4;
	a.g.size = 1 << 19;
	cr_assert_eq(vfio_ioctl(d->container_fd, VFIO_IOMMU_DIRTY_PAGES, &a),
	    -EINVAL, "bisects the mapping");
	a.g.size = 1 << 20;
	a.h.argsz = sizeof(a) - 8;
	cr_assert_eq(vfio_ioctl(d->container_fd, VFIO_IOMMU_DIRTY_PAGES, &a),
	    -EINVAL, "argsz without the range");
	a.h.argsz = sizeof(a);
	a.g.bitmap.size = sizeof(bits);
	cr_assert_eq(vfio_ioctl(d->container_fd, VFIO_IOMMU_DIRTY_PAGES, &a),
	    0);
	cr_assert_eq(bits[0], ~0ULL, "a passthrough device: all dirty");
	/* MAP_DMA */
	memset(&mp, 0, sizeof(mp));
	mp.argsz = sizeof(mp);
	mp.flags = VFIO_DMA_MAP_FLAG_READ | VFIO_DMA_MAP_FLAG_WRITE;
	mp.vaddr = (uintptr_t)v.mem;
	mp.iova = (1 << 20) + 4096;
	mp.size = 4096;
	cr_assert_eq(vfio_ioctl(d->container_fd, VFIO_IOMMU_MAP_DMA, &mp),
	    -EEXIST);
	mp.iova = 3 << 20;
	mp.size = 100;
	cr_assert_eq(vfio_ioctl(d->container_fd, VFIO_IOMMU_MAP_DMA, &mp),
	    -EINVAL);
	anon = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE |
	    MAP_ANONYMOUS, -1, 0);
	mp.vaddr = (uintptr_t)anon;
	mp.size = 4096;
	cr_assert_eq(vfio_ioctl(d->container_fd, VFIO_IOMMU_MAP_DMA, &mp),
	    -EFAULT, "the simulator can only map shared file memory");
	munmap(anon, 4096);
	vfio_dev_free(d);
	vt_stop(&v);
}

Test(vfio_sim, iommufd_rules)
{
	struct vfio_dev	*d;
	struct vt	 v;
	uint8_t		 b[64];
	uint32_t	 u;
	struct iommu_hwpt_get_dirty_bitmap g;
	struct iommu_hwpt_set_dirty_tracking sd;
	uint64_t	 bits[4];

	vt_start(&v, NULL);
	d = vt_open(&v, "vfio-cdev:" BDF1);
	memset(b, 0, sizeof(b));
	u = 8;
	memcpy(b, &u, 4);
	cr_assert_eq(vfio_ioctl(d->iommufd, IOMMU_IOAS_ALLOC, b), -EINVAL,
	    "smaller than the ioctl's structure");
	u = 24;
	memcpy(b, &u, 4);
	b[20] = 1;
	cr_assert_eq(vfio_ioctl(d->iommufd, IOMMU_IOAS_ALLOC, b), -E2BIG,
	    "non-zero past what the kernel knows");
	b[20] = 0;
	cr_assert_eq(vfio_ioctl(d->iommufd, IOMMU_IOAS_ALLOC, b), 0,
	    "zeros past it are fine");
	cr_assert_eq(vfio_ioctl(d->iommufd, _IO(';', 0x99), b), -ENOTTY);
	memset(&g, 0, sizeof(g));
	g.size = sizeof(g);
	g.hwpt_id = d->hwpt_id;
	g.iova = 0;
	g.length = 1 << 20;
	g.page_size = 4096;
	g.data = (uintptr_t)bits;
	g.flags = 2;
	cr_assert_eq(vfio_ioctl(d->iommufd, IOMMU_HWPT_GET_DIRTY_BITMAP, &g),
	    -EOPNOTSUPP, "unknown flag");
	g.flags = 0;
	g.iova = 100;
	cr_assert_eq(vfio_ioctl(d->iommufd, IOMMU_HWPT_GET_DIRTY_BITMAP, &g),
	    -EINVAL, "unaligned");
	g.iova = 0;
	g.hwpt_id = 999;
	cr_assert_eq(vfio_ioctl(d->iommufd, IOMMU_HWPT_GET_DIRTY_BITMAP, &g),
	    -ENOENT);
	g.hwpt_id = d->hwpt_id;
	cr_assert_eq(vfio_ioctl(d->iommufd, IOMMU_HWPT_GET_DIRTY_BITMAP, &g),
	    -EOPNOTSUPP, "an automatic domain has no dirty tracking");
	memset(&sd, 0, sizeof(sd));
	sd.size = sizeof(sd);
	sd.hwpt_id = d->hwpt_id;
	sd.flags = IOMMU_HWPT_DIRTY_TRACKING_ENABLE;
	cr_assert_eq(vfio_ioctl(d->iommufd, IOMMU_HWPT_SET_DIRTY_TRACKING,
	    &sd), -EOPNOTSUPP);
	vfio_dev_free(d);
	vt_stop(&v);
}

Test(vfio_sim, cdev_before_bind)
{
	struct vfio_device_bind_iommufd	 b;
	struct vfio_device_info		 di;
	struct vt			 v;
	int				 fd, cont;

	vt_start(&v, NULL);
	fd = open("/dev/vfio/devices/vfio0", O_RDWR);
	cr_assert_geq(fd, 0);
	memset(&di, 0, sizeof(di));
	di.argsz = sizeof(di);
	cr_assert_eq(vfio_ioctl(fd, VFIO_DEVICE_GET_INFO, &di), -EINVAL,
	    "no access before BIND");
	cont = open("/dev/vfio/vfio", O_RDWR);
	memset(&b, 0, sizeof(b));
	b.argsz = sizeof(b);
	b.iommufd = cont;
	cr_assert_eq(vfio_ioctl(fd, VFIO_DEVICE_BIND_IOMMUFD, &b), -EINVAL,
	    "a container is no iommufd");
	b.iommufd = 1000;
	cr_assert_eq(vfio_ioctl(fd, VFIO_DEVICE_BIND_IOMMUFD, &b), -EBADF);
	b.iommufd = open("/dev/iommu", O_RDWR);
	b.flags = 1;
	cr_assert_eq(vfio_ioctl(fd, VFIO_DEVICE_BIND_IOMMUFD, &b), -EINVAL);
	b.flags = 0;
	cr_assert_eq(vfio_ioctl(fd, VFIO_DEVICE_BIND_IOMMUFD, &b), 0);
	cr_assert_gt(b.out_devid, 0);
	cr_assert_eq(vfio_ioctl(fd, VFIO_DEVICE_GET_INFO, &di), 0);
	close(b.iommufd);
	close(cont);
	close(fd);
	vt_stop(&v);
}

Test(vfio_sim, data_fd_rules)
{
	struct vfio_dev	*d;
	struct vt	 v;
	uint8_t		 buf[64];
	int		 old;

	vt_start(&v, NULL);
	d = vt_open(&v, "vfio:" BDF1);
	cr_assert_eq(vfio_mig_set_state(d, VFIO_DEVICE_STATE_STOP_COPY, NULL,
	    0), 0);
	cr_assert_eq(pread(d->data_fd, buf, sizeof(buf), 0), -1);
	cr_assert_eq(errno, ESPIPE, "a stream");
	cr_assert_eq(ioctl(d->data_fd, _IO(';', 100 + 30), buf), -1);
	cr_assert_eq(errno, ENOTTY);
	/* Once the session ended, a kept fd reads -ENODEV. */
	old = dup(d->data_fd);
	cr_assert_eq(vfio_mig_set_state(d, VFIO_DEVICE_STATE_STOP, NULL, 0), 0);
	cr_assert_eq(read(old, buf, sizeof(buf)), -1);
	cr_assert_eq(errno, ENODEV);
	close(old);
	cr_assert_eq(vfio_mig_set_state(d, VFIO_DEVICE_STATE_RESUMING, NULL,
	    0), 0);
	cr_assert_eq(read(d->data_fd, buf, sizeof(buf)), -1);
	cr_assert_eq(errno, EINVAL, "the resume file has no read");
	vfio_dev_free(d);
	vt_stop(&v);
}

Test(vfio_sim, groups)
{
	struct vt	v;
	int		g, c, c2, fd;

	vt_start(&v, NULL);
	g = open("/dev/vfio/11", O_RDWR);
	cr_assert_geq(g, 0);
	cr_assert_eq(open("/dev/vfio/11", O_RDWR), -1);
	cr_assert_eq(errno, EBUSY);
	cr_assert_eq(open("/dev/vfio/99", O_RDWR), -1);
	cr_assert_eq(errno, ENOENT);
	cr_assert_eq(vfio_ioctl(g, VFIO_GROUP_GET_DEVICE_FD,
	    (void *)(uintptr_t)BDF1), -EINVAL, "no container yet");
	c = open("/dev/vfio/vfio", O_RDWR);
	cr_assert_eq(vfio_ioctl(c, VFIO_SET_IOMMU, (void *)3), -EINVAL,
	    "no group yet");
	cr_assert_eq(vfio_ioctl(g, VFIO_GROUP_SET_CONTAINER, &c), 0);
	c2 = open("/dev/vfio/vfio", O_RDWR);
	cr_assert_eq(vfio_ioctl(g, VFIO_GROUP_SET_CONTAINER, &c2), -EINVAL);
	cr_assert_eq(vfio_ioctl(g, VFIO_GROUP_GET_DEVICE_FD,
	    (void *)(uintptr_t)BDF1), -EINVAL, "no IOMMU set yet");
	cr_assert_eq(vfio_ioctl(c, VFIO_SET_IOMMU, (void *)3), 0);
	cr_assert_eq(vfio_ioctl(g, VFIO_GROUP_GET_DEVICE_FD,
	    (void *)(uintptr_t)"0000:3b:00.7"), -ENODEV);
	fd = vfio_ioctl(g, VFIO_GROUP_GET_DEVICE_FD, (void *)(uintptr_t)BDF1);
	cr_assert_geq(fd, 0);
	cr_assert_eq(vfio_ioctl(g, VFIO_GROUP_UNSET_CONTAINER, NULL), -EBUSY);
	close(fd);
	cr_assert_eq(vfio_ioctl(g, VFIO_GROUP_UNSET_CONTAINER, NULL), 0);
	close(c2);
	close(c);
	close(g);
	vt_stop(&v);
}
