/*
 * vfio_compat.h: the VFIO and iommufd ABI values Debian 12's kernel
 * headers (linux-libc-dev 6.1) lack, each guarded by a macro that first
 * appeared in the same kernel release, so that newer headers win.
 *
 * Values and layouts are those of include/uapi/linux/vfio.h and
 * include/uapi/linux/iommufd.h; the kernel that added each group is named
 * beside it. ../shared/reference/device-interfaces.md has the sources.
 *
 * Two groups are ours, not the kernel's:
 *   - the v1 migration region (5.8, documentation removed in 5.18, names
 *     renamed *_DEPRECATED since): VFIO_V1_* below, whatever the headers
 *     call it;
 *   - struct vfio_compat_hw_info: iommu_hw_info grew out_capabilities in
 *     6.7, a release after the ioctl appeared, so a 6.6 header has the
 *     ioctl but not the field. We always use the 6.7 layout (a 6.6 kernel
 *     accepts it: the extra bytes are zero on input).
 */
#ifndef VMIG_VFIO_COMPAT_H
#define VMIG_VFIO_COMPAT_H

#include <linux/ioctl.h>
#include <linux/types.h>
#include <linux/vfio.h>

#if defined(__has_include)
#if __has_include(<linux/iommufd.h>)
#include <linux/iommufd.h>
#endif
#endif

/* ---------------------------------------------- v2 basics (Linux 5.18) */
#ifndef VFIO_DEVICE_FEATURE_MIGRATION
#error "linux/vfio.h older than 5.18: no VFIO migration v2 at all"
#endif

/* ------------------------------------------- DMA logging (Linux 6.1) */
#ifndef VFIO_DEVICE_FEATURE_DMA_LOGGING_START
struct vfio_device_feature_dma_logging_control {
	__aligned_u64	page_size;
	__u32		num_ranges;
	__u32		__reserved;
	__aligned_u64	ranges;
};
struct vfio_device_feature_dma_logging_range {
	__aligned_u64	iova;
	__aligned_u64	length;
};
struct vfio_device_feature_dma_logging_report {
	__aligned_u64	iova;
	__aligned_u64	length;
	__aligned_u64	page_size;
	__aligned_u64	bitmap;
};
#define VFIO_DEVICE_FEATURE_DMA_LOGGING_START	6
#define VFIO_DEVICE_FEATURE_DMA_LOGGING_STOP	7
#define VFIO_DEVICE_FEATURE_DMA_LOGGING_REPORT	8
#endif

/* ------------------------- PRE_COPY, PRECOPY_INFO (Linux 6.2) */
#ifndef VFIO_MIGRATION_PRE_COPY
#define VFIO_MIGRATION_PRE_COPY		(1 << 2)
/* enum vfio_device_mig_state gained these two in the same release */
#define VFIO_DEVICE_STATE_PRE_COPY	6
#define VFIO_DEVICE_STATE_PRE_COPY_P2P	7
#endif

#ifndef VFIO_MIG_GET_PRECOPY_INFO
struct vfio_precopy_info {
	__u32		argsz;
	__u32		flags;
	__aligned_u64	initial_bytes;
	__aligned_u64	dirty_bytes;
};
#define VFIO_MIG_GET_PRECOPY_INFO	_IO(VFIO_TYPE, VFIO_BASE + 21)
#endif

/* ------------------------------------------ MIG_DATA_SIZE (Linux 6.2) */
#ifndef VFIO_DEVICE_FEATURE_MIG_DATA_SIZE
struct vfio_device_feature_mig_data_size {
	__aligned_u64	stop_copy_length;
};
#define VFIO_DEVICE_FEATURE_MIG_DATA_SIZE	9
#endif

/* ---------------------------- device cdev + iommufd bind (Linux 6.6) */
#ifndef VFIO_DEVICE_BIND_IOMMUFD
struct vfio_device_bind_iommufd {
	__u32		argsz;
	__u32		flags;
	__s32		iommufd;
	__u32		out_devid;
};
#define VFIO_DEVICE_BIND_IOMMUFD	_IO(VFIO_TYPE, VFIO_BASE + 18)
struct vfio_device_attach_iommufd_pt {
	__u32		argsz;
	__u32		flags;
	__u32		pt_id;
};
#define VFIO_DEVICE_ATTACH_IOMMUFD_PT	_IO(VFIO_TYPE, VFIO_BASE + 19)
struct vfio_device_detach_iommufd_pt {
	__u32		argsz;
	__u32		flags;
};
#define VFIO_DEVICE_DETACH_IOMMUFD_PT	_IO(VFIO_TYPE, VFIO_BASE + 20)
#endif

/* ----------------------------------- iommufd, IOAS (Linux 6.2) */
#ifndef IOMMU_IOAS_ALLOC
#define IOMMUFD_TYPE		(';')
struct iommu_destroy {
	__u32		size;
	__u32		id;
};
#define IOMMU_DESTROY		_IO(IOMMUFD_TYPE, 0x80)
struct iommu_ioas_alloc {
	__u32		size;
	__u32		flags;
	__u32		out_ioas_id;
};
#define IOMMU_IOAS_ALLOC	_IO(IOMMUFD_TYPE, 0x81)
/* enum iommufd_ioas_map_flags */
#define IOMMU_IOAS_MAP_FIXED_IOVA	(1 << 0)
#define IOMMU_IOAS_MAP_WRITEABLE	(1 << 1)
#define IOMMU_IOAS_MAP_READABLE		(1 << 2)
struct iommu_ioas_map {
	__u32		size;
	__u32		flags;
	__u32		ioas_id;
	__u32		__reserved;
	__aligned_u64	user_va;
	__aligned_u64	length;
	__aligned_u64	iova;
};
#define IOMMU_IOAS_MAP		_IO(IOMMUFD_TYPE, 0x85)
struct iommu_ioas_unmap {
	__u32		size;
	__u32		ioas_id;
	__aligned_u64	iova;
	__aligned_u64	length;
};
#define IOMMU_IOAS_UNMAP	_IO(IOMMUFD_TYPE, 0x86)
#endif

/* ------------------------- iommufd, HWPT_ALLOC, GET_HW_INFO (Linux 6.6) */
#ifndef IOMMU_HWPT_ALLOC
/* The 6.6 layout; later kernels accept it (their extra fields default). */
struct iommu_hwpt_alloc {
	__u32		size;
	__u32		flags;
	__u32		dev_id;
	__u32		pt_id;
	__u32		out_hwpt_id;
	__u32		__reserved;
};
#define IOMMU_HWPT_ALLOC	_IO(IOMMUFD_TYPE, 0x89)
#endif
#ifndef IOMMU_GET_HW_INFO
#define IOMMU_GET_HW_INFO	_IO(IOMMUFD_TYPE, 0x8a)
#endif

/* --------------------------- iommufd HWPT dirty tracking (Linux 6.7) */
#ifndef IOMMU_HWPT_SET_DIRTY_TRACKING
/* enum iommufd_hwpt_alloc_flags */
#define IOMMU_HWPT_ALLOC_NEST_PARENT		(1 << 0)
#define IOMMU_HWPT_ALLOC_DIRTY_TRACKING		(1 << 1)
/* enum iommufd_hw_capabilities */
#define IOMMU_HW_CAP_DIRTY_TRACKING		(1 << 0)
/* enum iommufd_hwpt_set_dirty_tracking_flags */
#define IOMMU_HWPT_DIRTY_TRACKING_ENABLE	1
struct iommu_hwpt_set_dirty_tracking {
	__u32		size;
	__u32		flags;
	__u32		hwpt_id;
	__u32		__reserved;
};
#define IOMMU_HWPT_SET_DIRTY_TRACKING	_IO(IOMMUFD_TYPE, 0x8b)
/* enum iommufd_hwpt_get_dirty_bitmap_flags */
#define IOMMU_HWPT_GET_DIRTY_BITMAP_NO_CLEAR	1
/* Note the order: hwpt_id before flags (set_dirty_tracking has flags
 * first). */
struct iommu_hwpt_get_dirty_bitmap {
	__u32		size;
	__u32		hwpt_id;
	__u32		flags;
	__u32		__reserved;
	__aligned_u64	iova;
	__aligned_u64	length;
	__aligned_u64	page_size;
	__aligned_u64	data;
};
#define IOMMU_HWPT_GET_DIRTY_BITMAP	_IO(IOMMUFD_TYPE, 0x8c)
#endif

/* struct iommu_hw_info as of 6.7 (see the top of this file). */
struct vfio_compat_hw_info {
	__u32		size;
	__u32		flags;
	__u32		dev_id;
	__u32		data_len;
	__aligned_u64	data_uptr;
	__u32		out_data_type;
	__u32		__reserved;	/* 6.13 split: out_max_pasid_log2 */
	__aligned_u64	out_capabilities;
};

/* ------------------------- the v1 migration region (Linux 5.8 - 5.17) */
#define VFIO_V1_REGION_TYPE		3	/* ..._MIGRATION(_DEPRECATED) */
#define VFIO_V1_REGION_SUBTYPE		1
/* struct vfio_device_migration_info at offset 0 of the region */
#define VFIO_V1_OFF_DEVICE_STATE	0	/* __u32, read/write */
#define VFIO_V1_OFF_PENDING_BYTES	8	/* __u64, read only */
#define VFIO_V1_OFF_DATA_OFFSET		16	/* __u64, read only */
#define VFIO_V1_OFF_DATA_SIZE		24	/* __u64, read/write */
#define VFIO_V1_INFO_SIZE		32
#define VFIO_V1_STOP			0
#define VFIO_V1_RUNNING			(1 << 0)
#define VFIO_V1_SAVING			(1 << 1)
#define VFIO_V1_RESUMING		(1 << 2)
#define VFIO_V1_MASK			(VFIO_V1_RUNNING | VFIO_V1_SAVING | \
					 VFIO_V1_RESUMING)
#define VFIO_V1_ERROR			(VFIO_V1_SAVING | VFIO_V1_RESUMING)

/* vfio-pci's fixed region indexes end here; device regions follow. */
#ifndef VFIO_PCI_NUM_REGIONS
#define VFIO_PCI_NUM_REGIONS		9
#endif

/* The sizes the kernel expects (checked once, here). */
_Static_assert(sizeof(struct vfio_precopy_info) == 24, "precopy_info");
_Static_assert(sizeof(struct vfio_device_feature_dma_logging_control) == 24,
    "dma_logging_control");
_Static_assert(sizeof(struct vfio_device_feature_dma_logging_report) == 32,
    "dma_logging_report");
_Static_assert(sizeof(struct vfio_device_bind_iommufd) == 16, "bind");
_Static_assert(sizeof(struct iommu_hwpt_get_dirty_bitmap) == 48,
    "get_dirty_bitmap");
_Static_assert(sizeof(struct iommu_hwpt_set_dirty_tracking) == 16,
    "set_dirty_tracking");
_Static_assert(sizeof(struct vfio_compat_hw_info) == 40, "hw_info");
_Static_assert(sizeof(struct iommu_ioas_map) == 40, "ioas_map");

#endif /* VMIG_VFIO_COMPAT_H */
