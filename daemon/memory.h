/*
 * memory.h: the guest memory regions of one migration job.
 *
 * A region is a range of the VM's memory file (a /dev/shm or hugetlbfs
 * file, or any regular file) that the device sees at an IOVA. The source
 * maps it read-only and shared (the VM keeps running and writing); the
 * destination maps it read-write and writes received pages into it. Each
 * region carries its dirty page set at the region's page size.
 *
 * The specs are plain (no protobuf): the API layer converts its request.
 */
#ifndef VMIG_MEMORY_H
#define VMIG_MEMORY_H

#include <stddef.h>
#include <stdint.h>

#include "pageset.h"

#define MEM_PAGE_SIZE_MIN	4096U
#define MEM_PAGE_SIZE_MAX	(1U << 30)
#define MEM_REGIONS_MAX		64

struct mem_region_spec {
	const char	*path;
	uint64_t	 file_offset;
	uint64_t	 iova;
	uint64_t	 length;
	uint32_t	 page_size;
};

struct mem_region {
	uint32_t	 index;		/* position in the map, 0-based */
	char		*path;
	uint64_t	 file_offset;
	uint64_t	 iova;
	uint64_t	 length;
	uint32_t	 page_size;
	unsigned	 page_shift;
	uint64_t	 npages;
	uint8_t		*base;		/* mmap of [file_offset, +length) */
	int		 writable;
	int		 fd;
	struct pageset	 dirty;		/* npages bits */
};

struct mem_map {
	struct mem_region *regions;
	uint32_t	 nregions;
	uint64_t	 total_bytes;
	uint64_t	 total_pages;
	int		 writable;
};

/* mem_map_open() flags */
#define MEM_MAP_WRITE		0x1	/* destination: PROT_READ|PROT_WRITE */
#define MEM_MAP_POPULATE	0x2	/* prefault (MAP_POPULATE); jobs use
					   mem_populate_step() on a worker */
/*
 * And touch every page once from user space and once through the kernel
 * (contents kept). Where a hypervisor fills its shadow page tables
 * lazily, per process and per mode (this project's nested test VMs: ~10
 * us a page, 0.2-0.4 GB/s), MAP_POPULATE alone leaves both first touches
 * to the transfer; this moves them before it, as a VFIO-pinned VM's
 * memory is on hardware. Slow on such hosts (seconds per GiB).
 */
#define MEM_MAP_PREFAULT	0x4

/*
 * Validate the specs without touching any file: empty path, zero length,
 * page size not a power of two in [4 KiB, 1 GiB], iova / file_offset /
 * length not page-aligned, iova + length or file_offset + length
 * overflowing, overlapping IOVA ranges, too many regions. 0 or -EINVAL
 * with a sentence naming the region in err.
 */
int	 mem_specs_check(const struct mem_region_spec *, size_t n, char *err,
	    size_t errlen);

/*
 * Check the specs, open every file (it must exist, be a regular file and
 * hold file_offset + length bytes) and map it. On failure nothing stays
 * open and err names the region: -EINVAL, -ENOENT, -EACCES, ...
 */
int	 mem_map_open(struct mem_map *, const struct mem_region_spec *,
	    size_t n, int flags, char *err, size_t errlen);
void	 mem_map_close(struct mem_map *);

/* The region holding iova, or NULL. */
struct mem_region *mem_lookup(const struct mem_map *, uint64_t iova);
/* A pointer to [iova, iova + len) if it lies inside one region, or NULL. */
void	*mem_iova_ptr(const struct mem_map *, uint64_t iova, uint64_t len);

/*
 * Mark the pages covering [iova, iova + len) dirty, split across regions.
 * *newly (may be NULL) gets the bits newly set. -ERANGE if any part of the
 * range is outside every region (the parts inside are still marked).
 */
int	 mem_mark_dirty(struct mem_map *, uint64_t iova, uint64_t len,
	    uint64_t *newly);
uint64_t mem_dirty_count(const struct mem_map *);
void	 mem_dirty_zero(struct mem_map *);

/* xxh3-64 over all regions' bytes in index order (both sides, at the end). */
uint64_t mem_digest(const struct mem_map *);
/*
 * The same from a worker thread (offload.h): stop(arg) is asked between
 * chunks of MEM_DIGEST_CHUNK bytes; -ECANCELED once it says yes.
 */
#define MEM_DIGEST_CHUNK	(4u << 20)
int	 mem_digest_stoppable(const struct mem_map *, int (*stop)(const void *),
	    const void *arg, uint64_t *out);
uint64_t mem_region_digest(const struct mem_region *);

/*
 * What MAP_POPULATE does at mmap(), a piece at a time, for a worker thread
 * (offload.h): fills the page tables of MEM_POPULATE_CHUNK bytes (or one
 * page, if larger) from the cursor (*region, *off), writable regions for
 * writing, and moves the cursor on. 1 while some remain, 0 once all did,
 * -errno (the cursor unmoved) when the kernel refused. Contents are kept.
 */
#define MEM_POPULATE_CHUNK	(2u << 20)
int	 mem_populate_step(const struct mem_map *, uint32_t *region,
	    uint64_t *off);

/* 1 if len bytes at p are all zero (len a multiple of 64, p 8-aligned). */
int	 page_is_zero(const void *p, size_t len);

#endif /* VMIG_MEMORY_H */
