/*
 * vfio_dirty.h: the dirty page sources a VFIO device can have, each as a
 * tracker object, every report normalised into the page sets of
 * include/vmig/backend.h (struct vmig_dirty_map: bit n is the page at
 * iova + n * page_size; trackers only set bits).
 *
 *   DMALOG  device DMA logging (VFIO_DEVICE_FEATURE_DMA_LOGGING_*, 6.1):
 *           per device; at most 256 ranges per START (the core's
 *           guarantee: one kernel page of ranges), more are merged over
 *           their smallest gaps; the device picks the page size. A report
 *           that fails means the log is corrupt: every tracked page is
 *           marked and logging is restarted at the next read.
 *   HWPT    iommufd HWPT dirty tracking (IOMMU_HWPT_SET_DIRTY_TRACKING /
 *           GET_DIRTY_BITMAP, 6.7): shared by every device attached to
 *           the HWPT; the HWPT must have been allocated for it.
 *   TYPE1   the type1 container's VFIO_IOMMU_DIRTY_PAGES (5.8): shared by
 *           every device in the container. Unless every device in it pins
 *           the pages it writes (mdev-style), the kernel reports every
 *           mapped page dirty on every read; the tracker finds that out
 *           right after START (a read of every tracked range, kept for
 *           the first real read) and says so with VFIO_DIRTY_F_ALL_MAPPED.
 *           iommufd's type1 compatibility refuses the ioctl (ENOTTY): the
 *           source is then unavailable and the caller falls back.
 *   NONE    nothing reports: every tracked page is dirty at every read
 *           (VFIO_DIRTY_F_ALL_MAPPED).
 *
 * A tracker holds its own duplicates of the descriptors it uses, so it
 * can outlive any one device, and a mutex, so the devices sharing it may
 * call it from their own worker threads.
 */
#ifndef VMIG_VFIO_DIRTY_H
#define VMIG_VFIO_DIRTY_H

#include <stddef.h>
#include <stdint.h>

#include "vmig/backend.h"
#include "vfio_dev.h"

enum vfio_dirty_src {
	VFIO_DIRTY_SRC_NONE = 0,
	VFIO_DIRTY_SRC_TYPE1,
	VFIO_DIRTY_SRC_DMALOG,
	VFIO_DIRTY_SRC_HWPT,
};

#define VFIO_DIRTY_F_ALL_MAPPED	(1u << 0)	/* iterating gains nothing */
#define VFIO_DIRTY_F_SHARED	(1u << 1)	/* reports for every device
						 * attached, not just one */
#define VFIO_DIRTY_F_CORRUPT	(1u << 2)	/* the last report failed */

#define VFIO_DMALOG_MAX_RANGES	256	/* LOG_MAX_RANGES with 4 KiB pages */

struct vfio_dirty_info {
	enum vfio_dirty_src src;
	uint32_t	 flags;		/* VFIO_DIRTY_F_* */
	uint64_t	 page_size;	/* granularity of the source */
	unsigned int	 nranges;	/* ranges the source tracks */
	uint64_t	 reads;
	uint64_t	 failures;
	char		 why[256];	/* why this source, what it lacks */
};

struct vfio_dirty_stats {
	uint64_t	 reported;	/* source bits that were set */
	uint64_t	 added;		/* map bits newly set */
	int		 overflow;	/* every tracked page was marked */
};

struct vfio_dirty;

const char *vfio_dirty_src_name(enum vfio_dirty_src);
/* ABI kind for a source (VMIG_DIRTY_*). */
uint32_t vfio_dirty_kind(enum vfio_dirty_src);

/* The sources the device offers, best first (NONE always last). */
int	 vfio_dirty_sources(const struct vfio_dev *, enum vfio_dirty_src *,
	    int max);

/* A tracker for one source of the device. */
int	 vfio_dirty_open(struct vfio_dev *, enum vfio_dirty_src,
	    struct vfio_dirty **, char *err, size_t errlen);
/*
 * The best source that opens and starts: tries vfio_dirty_sources() in
 * order, falling back past a source that is refused (a type1 container
 * behind iommufd's compatibility layer, a HWPT without dirty tracking,
 * ...); info.why says what was skipped and why.
 */
int	 vfio_dirty_open_best(struct vfio_dev *,
	    const struct vmig_iova_range *, unsigned int n, uint64_t page_size,
	    struct vfio_dirty **, char *err, size_t errlen);
void	 vfio_dirty_close(struct vfio_dirty *);

/* Does this (shared) tracker report for that device too? */
int	 vfio_dirty_serves(const struct vfio_dirty *, const struct vfio_dev *);

int	 vfio_dirty_start(struct vfio_dirty *, const struct vmig_iova_range *,
	    unsigned int n, uint64_t page_size, char *err, size_t errlen);
/* Read and clear into maps (OR). */
int	 vfio_dirty_read(struct vfio_dirty *, struct vmig_dirty_map *,
	    unsigned int n, struct vfio_dirty_stats *, char *err,
	    size_t errlen);
int	 vfio_dirty_stop(struct vfio_dirty *, char *err, size_t errlen);
void	 vfio_dirty_get_info(struct vfio_dirty *, struct vfio_dirty_info *);

/*
 * Merge ranges (sorted by iova, not overlapping) over their smallest
 * gaps until at most max remain, aligning to page_size: the kernel's
 * vfio_combine_iova_ranges. Returns the new count.
 */
unsigned int vfio_ranges_combine(struct vmig_iova_range *, unsigned int n,
	    unsigned int max, uint64_t page_size);

#endif /* VMIG_VFIO_DIRTY_H */
