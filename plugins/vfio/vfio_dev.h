/*
 * vfio_dev.h: one VFIO device as the layer holds it: its descriptors
 * (device, and the group + type1 container or the iommufd it is attached
 * through), what a probe found it speaks (migration v2 flags, the v1
 * region, DMA logging, MIG_DATA_SIZE), and the calls every interface
 * shares: reset, DMA mapping, same-file tests.
 *
 * Every function here is synchronous and makes real system calls; the
 * plugin runs them on a worker thread (vfio_worker.h), one device's calls
 * in order. Nothing here is locked: one device, one thread at a time.
 */
#ifndef VMIG_VFIO_DEV_H
#define VMIG_VFIO_DEV_H

#include <stddef.h>
#include <stdint.h>

#include "vfio_parse.h"

enum vfio_iface {
	VFIO_IFACE_NONE = 0,	/* no migration */
	VFIO_IFACE_V1,		/* the v1 region (5.8-5.17 vendor drivers) */
	VFIO_IFACE_V2,		/* VFIO_DEVICE_FEATURE_MIG_DEVICE_STATE */
};

enum vfio_iommu {
	VFIO_IOMMU_NONE = 0,	/* a device fd alone */
	VFIO_IOMMU_TYPE1,	/* group + container (or iommufd's compat) */
	VFIO_IOMMU_IOMMUFD,	/* cdev bound to an iommufd */
};

/* The v1 region, once found (vfio_v1.c). */
struct vfio_v1 {
	int		 present;
	uint32_t	 index;
	uint64_t	 offset;	/* of the region in the device fd */
	uint64_t	 size;
	uint32_t	 flags;		/* VFIO_REGION_INFO_FLAG_* */
	struct vfio_area area;		/* the mmap'able data part, if any */
	uint8_t		*map;		/* area mapped, or NULL */
	uint32_t	 state;		/* device_state, last read or written */

	/* Save: the chunk the device staged, framed for the stream. */
	uint64_t	 chunk_off;	/* data_offset of the staged chunk */
	uint64_t	 chunk_len;
	uint64_t	 chunk_pos;	/* bytes of it already emitted */
	uint8_t		 hdr[8];	/* its length, little-endian */
	unsigned int	 hdr_pos;	/* header bytes emitted (8: done) */
	int		 staged;
	/* Resume: a frame being written. */
	uint8_t		 whdr[8];
	unsigned int	 whdr_pos;
	uint64_t	 wlen;
	uint64_t	 wpos;
	uint64_t	 woff;		/* data_offset for this frame */
};

struct vfio_dev {
	char		 name[64];	/* for messages: BDF or cdev path */
	char		 bdf[16];
	int		 fd;		/* the device */
	int		 group_fd;	/* -1 unless opened through a group */
	int		 container_fd;	/* type1 container, or -1 */
	int		 iommufd;	/* or -1 */
	enum vfio_iommu	 iommu;
	uint32_t	 devid;		/* iommufd: bound device id */
	uint32_t	 ioas_id;
	uint32_t	 hwpt_id;
	int		 have_ioas;
	int		 have_hwpt;
	int		 hwpt_dirty;	/* the HWPT was allocated for dirty
					 * tracking */
	int		 owns_iommu;	/* we set the address space up (and
					 * may map into it) */
	int		 handed;	/* the fds came from a VMM */

	/* probe results */
	uint32_t	 dev_flags;	/* VFIO_DEVICE_FLAGS_* */
	uint32_t	 num_regions;
	enum vfio_iface	 iface;
	uint64_t	 mig_flags;	/* v2: VFIO_MIGRATION_* */
	int		 has_data_size;	/* MIG_DATA_SIZE answers */
	int		 has_dmalog;	/* DMA logging probe succeeded */
	int		 iommu_dirty;	/* iommufd: IOMMU_HW_CAP_DIRTY_TRACKING */

	/* v2 */
	uint32_t	 state;		/* last known (VFIO_DEVICE_STATE_*) */
	int		 data_fd;	/* the open data session, or -1 */
	uint64_t	 data_bytes;	/* moved through it */

	struct vfio_v1	 v1;
};

/* Fresh, every fd -1, named (for messages). */
struct vfio_dev *vfio_dev_new(const char *name);
/* Close everything it holds (a data session, the v1 mapping, the fds). */
void	 vfio_dev_free(struct vfio_dev *);

/*
 * What the device speaks: VFIO_DEVICE_GET_INFO, the migration feature
 * (v2), else the v1 region, DMA logging (PROBE), MIG_DATA_SIZE, the
 * IOMMU's dirty capability. A device that migrates neither way probes
 * fine with iface NONE.
 */
int	 vfio_dev_probe(struct vfio_dev *, char *err, size_t errlen);
const char *vfio_iface_name(enum vfio_iface);
/* IOMMU_GET_HW_INFO of a bound device: can its IOMMU track dirty pages
 * (iommu_dirty, also returned)? */
int	 vfio_dev_iommu_dirty(struct vfio_dev *);

/*
 * VFIO_DEVICE_RESET: the only way out of ERROR. The device is RUNNING
 * afterwards (v2: every data session ends, its fd is closed; v1: the
 * region reads RUNNING).
 */
int	 vfio_dev_reset(struct vfio_dev *, char *err, size_t errlen);

/*
 * Map [vaddr, vaddr + size) of this process at iova for the device's DMA
 * (type1 MAP_DMA or iommufd IOAS_MAP), read and write. Only where the
 * layer set the address space up itself (owns_iommu): a VMM's mappings
 * are the VMM's.
 */
int	 vfio_dma_map(struct vfio_dev *, void *vaddr, uint64_t iova,
	    uint64_t size, char *err, size_t errlen);
int	 vfio_dma_unmap(struct vfio_dev *, uint64_t iova, uint64_t size,
	    char *err, size_t errlen);

/* 1 if two descriptors are the same open file (kcmp), 0 if not. */
int	 vfio_same_file(int, int);

/*
 * One VFIO_DEVICE_FEATURE call: flags (GET/SET/PROBE | index) with
 * len bytes of data in and out. 0 or -errno.
 */
int	 vfio_feature(int fd, uint32_t flags, void *data, size_t len);

/*
 * An info ioctl with a capability chain (region info, type1 info): base
 * (insz bytes, argsz set here) goes in; when the kernel answers with
 * caps_flag set and a larger argsz, the call is made again with that
 * much room. *buf (malloc'd, *len bytes) holds the answer.
 */
int	 vfio_get_info(int fd, unsigned long req, const void *base,
	    size_t insz, uint32_t caps_flag, uint8_t **buf, size_t *len);

/* ioctl/pread/pwrite/read/write that retry on EINTR; -errno on error. */
int	 vfio_ioctl(int fd, unsigned long req, void *arg);
int	 vfio_pread_all(int fd, void *buf, size_t len, uint64_t off);
int	 vfio_pwrite_all(int fd, const void *buf, size_t len, uint64_t off);

#endif /* VMIG_VFIO_DEV_H */
