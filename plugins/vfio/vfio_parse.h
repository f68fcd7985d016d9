/*
 * vfio_parse.h: everything the VFIO layer reads from the kernel side (or
 * from a VMM handing fds over), as pure functions over buffers: info
 * capability chains, dirty bitmaps into page sets, PRECOPY_INFO, the fd
 * hand-over line and the device spec strings. No system calls here, so
 * the fuzzer (test/fuzz/fuzz_vfio_parse.c) drives all of it.
 *
 * Every offset and count a buffer carries is checked against the buffer
 * before use; a bad one is -EINVAL (or -EPROTO for a hostile hand-over)
 * with a sentence naming what was wrong.
 */
#ifndef VMIG_VFIO_PARSE_H
#define VMIG_VFIO_PARSE_H

#include <stddef.h>
#include <stdint.h>

#include "vmig/backend.h"

/* ------------------------------------------- info capability chains */

/* One capability found in a chain. */
struct vfio_cap {
	uint16_t	 id;
	uint16_t	 version;
	uint32_t	 off;		/* from the start of the info buffer */
	uint32_t	 len;		/* up to the next capability or the end */
};

/*
 * Find capability id in the chain starting at first (cap_offset; 0: no
 * chain) of an info buffer of len bytes. 1 and *cap if found, 0 if not,
 * -EINVAL if the chain is malformed (out of the buffer, misaligned, a
 * loop: offsets must grow).
 */
int	 vfio_cap_find(const uint8_t *buf, size_t len, uint32_t first,
	    uint16_t id, struct vfio_cap *cap, char *err, size_t errlen);

/* VFIO_REGION_INFO_CAP_TYPE: type and subtype. */
int	 vfio_cap_region_type(const uint8_t *buf, const struct vfio_cap *,
	    uint32_t *type, uint32_t *subtype, char *err, size_t errlen);

struct vfio_area {
	uint64_t	 offset;	/* within the region */
	uint64_t	 size;
};
/*
 * VFIO_REGION_INFO_CAP_SPARSE_MMAP: up to max areas into out, *n the
 * number the capability holds (may exceed max).
 */
int	 vfio_cap_sparse(const uint8_t *buf, const struct vfio_cap *,
	    struct vfio_area *out, unsigned int max, unsigned int *n,
	    char *err, size_t errlen);

/* VFIO_IOMMU_TYPE1_INFO_CAP_MIGRATION. */
struct vfio_type1_mig {
	uint32_t	 flags;
	uint64_t	 pgsize_bitmap;
	uint64_t	 max_bitmap_bytes;
};
int	 vfio_cap_type1_mig(const uint8_t *buf, const struct vfio_cap *,
	    struct vfio_type1_mig *, char *err, size_t errlen);

/* ------------------------------------------------------ dirty bitmaps */

/*
 * A bitmap as the kernel fills it: bit n (word n / 64, bit n % 64 of
 * host-order u64 words) is the page at iova + n * page_size. Every
 * source (type1 GET_BITMAP, DMA logging REPORT, iommufd GET_DIRTY_BITMAP)
 * has this form.
 */
struct vfio_bits {
	uint64_t	 iova;
	uint64_t	 page_size;
	uint64_t	 npages;
	const uint64_t	*words;
};

/* Words needed for n pages. */
static inline uint64_t
vfio_bits_words(uint64_t npages)
{
	return (npages / 64 + (npages % 64 != 0));
}

/*
 * Check a map: page_size a power of two >= 4096, iova and length aligned
 * to it, no wrap. 0 or -EINVAL.
 */
int	 vfio_map_check(const struct vmig_dirty_map *, char *err,
	    size_t errlen);

/*
 * OR the pages src marks into dst (whatever the two page sizes: a source
 * page marks every dst page it touches). Only sets bits; bits outside
 * dst are ignored. *added (may be NULL) gets the number of dst bits that
 * were newly set. -EINVAL if src is malformed (page size, wrap).
 */
int	 vfio_bits_merge(const struct vfio_bits *src,
	    struct vmig_dirty_map *dst, uint64_t *added);

/* Mark [iova, iova + len) dirty in dst (clipped); newly set bits. */
uint64_t vfio_map_fill(struct vmig_dirty_map *dst, uint64_t iova,
	    uint64_t len);

/* ------------------------------------------------------ precopy info */

/*
 * struct vfio_precopy_info as the kernel wrote it back (len bytes of
 * it). -EINVAL if short.
 */
int	 vfio_precopy_parse(const void *buf, size_t len, uint64_t *initial,
	    uint64_t *dirty);

/* ----------------------------------------------------- device specs */

enum vfio_spec_kind {
	VFIO_SPEC_GROUP = 1,	/* vfio:BDF: group + type1 container */
	VFIO_SPEC_CDEV,		/* vfio-cdev:PATH|BDF: cdev + iommufd */
	VFIO_SPEC_FD,		/* vfio-fd:SOCKET[#NAME]: fds from a VMM */
};

struct vfio_spec {
	enum vfio_spec_kind kind;
	char		 bdf[16];	/* "0000:3b:00.2" or "" */
	char		 path[256];	/* cdev path or socket path */
	char		 name[64];	/* vfio-fd: the device asked for */
};

/* A PCI address: DDDD:BB:DD.F, hex, function 0-7. */
int	 vfio_bdf_valid(const char *);
int	 vfio_spec_parse(const char *spec, struct vfio_spec *, char *err,
	    size_t errlen);

/* ------------------------------------------- fd hand-over from a VMM */

/*
 * The line a VMM answers "vmig-vfio 1 [NAME]\n" with, one sendmsg that
 * carries the fds (SCM_RIGHTS):
 *
 *	ok fds=device,container bdf=0000:3b:00.2 group=12\n
 *	ok fds=device,iommufd bdf=... devid=3 hwpt=7 ioas=2\n
 *	err REASON\n
 *
 * fds= names the received descriptors in order (device, container,
 * iommufd; device is required, with either a container or an iommufd
 * or neither: then no IOMMU-side dirty tracking). Unknown keys are
 * ignored, a key given twice is an error.
 */
#define VFIO_HANDOFF_MAX_LINE	1024
#define VFIO_HANDOFF_MAX_FDS	3

enum vfio_fd_role {
	VFIO_ROLE_DEVICE = 0,
	VFIO_ROLE_CONTAINER,
	VFIO_ROLE_IOMMUFD,
	VFIO_ROLE_N,
};

struct vfio_handoff {
	int		 index[VFIO_ROLE_N];	/* into the fds; -1 absent */
	unsigned int	 nfds;
	char		 bdf[16];
	int		 have_group, have_devid, have_hwpt, have_ioas;
	uint32_t	 group;
	uint32_t	 devid;
	uint32_t	 hwpt;
	uint32_t	 ioas;
};

/*
 * Parse one line (len bytes, without the need for a NUL) that came with
 * nfds descriptors. An "err" line is -EACCES with the VMM's reason in
 * err; a malformed one -EPROTO.
 */
int	 vfio_handoff_parse(const char *line, size_t len, unsigned int nfds,
	    struct vfio_handoff *, char *err, size_t errlen);
/* The line for h (the VMM side; tests and tools). 0 or -ENOSPC. */
int	 vfio_handoff_format(const struct vfio_handoff *, char *buf,
	    size_t len);

#endif /* VMIG_VFIO_PARSE_H */
