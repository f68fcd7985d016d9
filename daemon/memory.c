/*
 * memory.c: guest memory regions: validate, open, map, look up by IOVA,
 * mark dirty, digest.
 *
 * Every spec is checked before any file is opened, and every failure names
 * the region and its path, because the person reading the error has to find
 * the wrong line of a request among several regions.
 */
#include <config.h>

#include <sys/mman.h>
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <xxhash.h>

#include "log.h"
#include "memory.h"
#include "util.h"

#ifndef MADV_POPULATE_READ		/* Linux 5.14; older: EINVAL, handled */
#define MADV_POPULATE_READ	22
#define MADV_POPULATE_WRITE	23
#endif

static int	mem_region_prefault(struct mem_region *, uint64_t);

static const char *
spec_path(const struct mem_region_spec *s)
{
	return (s->path == NULL || *s->path == '\0' ? "no path" : s->path);
}

static int
mem_spec_check(const struct mem_region_spec *s, size_t i, char *err,
    size_t errlen)
{
	const char	*p = spec_path(s);
	uint64_t	 ps = s->page_size;

	if (s->path == NULL || *s->path == '\0')
		return (err_set(err, errlen, -EINVAL,
		    "region %zu: the path is empty", i));
	if (ps < MEM_PAGE_SIZE_MIN || ps > MEM_PAGE_SIZE_MAX ||
	    (ps & (ps - 1)) != 0)
		return (err_set(err, errlen, -EINVAL, "region %zu (%s): page "
		    "size %llu is not a power of two between %u and %u", i, p,
		    (unsigned long long)ps, MEM_PAGE_SIZE_MIN,
		    MEM_PAGE_SIZE_MAX));
	if (s->length == 0)
		return (err_set(err, errlen, -EINVAL,
		    "region %zu (%s): length is zero", i, p));
	if (s->length % ps != 0)
		return (err_set(err, errlen, -EINVAL, "region %zu (%s): length "
		    "%llu is not a multiple of the page size %llu", i, p,
		    (unsigned long long)s->length, (unsigned long long)ps));
	if (s->iova % ps != 0)
		return (err_set(err, errlen, -EINVAL, "region %zu (%s): iova "
		    "0x%llx is not aligned to the page size %llu", i, p,
		    (unsigned long long)s->iova, (unsigned long long)ps));
	if (s->file_offset % ps != 0)
		return (err_set(err, errlen, -EINVAL, "region %zu (%s): file "
		    "offset %llu is not aligned to the page size %llu", i, p,
		    (unsigned long long)s->file_offset,
		    (unsigned long long)ps));
	if (s->length - 1 > UINT64_MAX - s->iova)
		return (err_set(err, errlen, -EINVAL, "region %zu (%s): iova "
		    "0x%llx + length %llu overflows", i, p,
		    (unsigned long long)s->iova,
		    (unsigned long long)s->length));
	/* off_t is signed: the end must fit in an int64_t. */
	if (s->file_offset > (uint64_t)INT64_MAX ||
	    s->length > (uint64_t)INT64_MAX - s->file_offset)
		return (err_set(err, errlen, -EINVAL, "region %zu (%s): file "
		    "offset %llu + length %llu overflows", i, p,
		    (unsigned long long)s->file_offset,
		    (unsigned long long)s->length));
	if (s->length > SIZE_MAX)
		return (err_set(err, errlen, -EINVAL, "region %zu (%s): length "
		    "%llu cannot be mapped", i, p,
		    (unsigned long long)s->length));
	return (0);
}

int
mem_specs_check(const struct mem_region_spec *specs, size_t n, char *err,
    size_t errlen)
{
	const struct mem_region_spec *a, *b;
	size_t		 i, j;
	int		 rc;

	if (n > MEM_REGIONS_MAX)
		return (err_set(err, errlen, -EINVAL, "%zu memory regions "
		    "given, at most %d are supported", n, MEM_REGIONS_MAX));
	for (i = 0; i < n; i++) {
		if ((rc = mem_spec_check(&specs[i], i, err, errlen)) != 0)
			return (rc);
	}
	/* Lengths are non-zero and ends do not overflow: compare last bytes. */
	for (i = 0; i < n; i++) {
		a = &specs[i];
		for (j = i + 1; j < n; j++) {
			b = &specs[j];
			if (a->iova <= b->iova + (b->length - 1) &&
			    b->iova <= a->iova + (a->length - 1))
				return (err_set(err, errlen, -EINVAL,
				    "region %zu (%s): iova range 0x%llx-0x%llx "
				    "overlaps region %zu (%s) at 0x%llx-0x%llx",
				    j, spec_path(b),
				    (unsigned long long)b->iova,
				    (unsigned long long)(b->iova + b->length - 1),
				    i, spec_path(a),
				    (unsigned long long)a->iova,
				    (unsigned long long)(a->iova + a->length - 1)));
		}
	}
	return (0);
}

static int
mem_region_open(struct mem_region *r, const struct mem_region_spec *s,
    size_t i, int flags, char *err, size_t errlen)
{
	struct stat	 st;
	int		 rc, oflags, prot, mflags;
	void		*base;

	memset(r, 0, sizeof *r);
	r->fd = -1;
	r->index = (uint32_t)i;
	r->path = xstrdup(s->path);
	r->file_offset = s->file_offset;
	r->iova = s->iova;
	r->length = s->length;
	r->page_size = s->page_size;
	r->page_shift = (unsigned)__builtin_ctzll(s->page_size);
	r->npages = s->length >> r->page_shift;
	r->writable = (flags & MEM_MAP_WRITE) != 0;

	oflags = (r->writable ? O_RDWR : O_RDONLY) | O_CLOEXEC | O_NOCTTY;
	/* O_NONBLOCK: opening a FIFO by mistake must not hang the loop. */
	if ((r->fd = open(s->path, oflags | O_NONBLOCK)) == -1) {
		rc = -errno;
		return (err_set(err, errlen, rc, "region %zu (%s): cannot "
		    "open: %s", i, s->path, strerror(-rc)));
	}
	if (fstat(r->fd, &st) == -1) {
		rc = -errno;
		return (err_set(err, errlen, rc, "region %zu (%s): cannot "
		    "stat: %s", i, s->path, strerror(-rc)));
	}
	if (!S_ISREG(st.st_mode))
		return (err_set(err, errlen, -EINVAL, "region %zu (%s): not a "
		    "regular file (a memory file in /dev/shm, hugetlbfs or a "
		    "plain file is expected)", i, s->path));
	if ((uint64_t)st.st_size < s->file_offset + s->length)
		return (err_set(err, errlen, -EINVAL, "region %zu (%s): the "
		    "file has %llu bytes, fewer than offset %llu + length %llu",
		    i, s->path, (unsigned long long)st.st_size,
		    (unsigned long long)s->file_offset,
		    (unsigned long long)s->length));

	prot = PROT_READ | (r->writable ? PROT_WRITE : 0);
	mflags = MAP_SHARED | ((flags & MEM_MAP_POPULATE) ? MAP_POPULATE : 0);
	base = mmap(NULL, (size_t)s->length, prot, mflags, r->fd,
	    (off_t)s->file_offset);
	if (base == MAP_FAILED) {
		rc = -errno;
		return (err_set(err, errlen, rc, "region %zu (%s): cannot map "
		    "%llu bytes at offset %llu: %s", i, s->path,
		    (unsigned long long)s->length,
		    (unsigned long long)s->file_offset, strerror(-rc)));
	}
	r->base = base;
	if ((flags & MEM_MAP_PREFAULT) != 0 &&
	    (rc = mem_region_prefault(r, s->file_offset)) != 0)
		return (err_set(err, errlen, rc, "region %zu (%s): cannot "
		    "prefault: %s", i, s->path, strerror(-rc)));
	pageset_init(&r->dirty, r->npages);
	log_debug("%s: region %zu (%s) iova 0x%llx length %llu page %u %s",
	    __func__, i, s->path, (unsigned long long)r->iova,
	    (unsigned long long)r->length, r->page_size,
	    r->writable ? "rw" : "ro");
	return (0);
}

/* MEM_MAP_PREFAULT (memory.h): each 4 KiB once by us, once by the kernel. */
static int
mem_region_prefault(struct mem_region *r, uint64_t file_offset)
{
	volatile const uint8_t	*p = r->base;
	uint8_t			 sink[4096];
	uint64_t		 off;
	int			 pfd[2], rc = 0;
	size_t			 k = 0;

	if (!r->writable && pipe2(pfd, O_CLOEXEC | O_NONBLOCK) == -1)
		return (-errno);
	for (off = 0; off < r->length; off += 4096) {
		(void)p[off];
		/* the kernel copies the page's first byte: to itself (a
		 * write, as a receive will) or into a pipe (a read) */
		if (r->writable) {
			if (pread(r->fd, r->base + off, 1,
			    (off_t)(file_offset + off)) != 1) {
				rc = -EIO;
				break;
			}
			continue;
		}
		if (write(pfd[1], r->base + off, 1) != 1) {
			rc = -EIO;
			break;
		}
		if (++k == sizeof(sink)) {
			if (read(pfd[0], sink, k) != (ssize_t)k) {
				rc = -EIO;
				break;
			}
			k = 0;
		}
	}
	if (!r->writable) {
		close(pfd[0]);
		close(pfd[1]);
	}
	return (rc);
}

static void
mem_region_close(struct mem_region *r)
{
	if (r->base != NULL)
		munmap(r->base, (size_t)r->length);
	if (r->fd != -1)
		close(r->fd);
	if (r->dirty.bits != NULL)
		pageset_free(&r->dirty);
	free(r->path);
	memset(r, 0, sizeof *r);
	r->fd = -1;
}

int
mem_map_open(struct mem_map *m, const struct mem_region_spec *specs, size_t n,
    int flags, char *err, size_t errlen)
{
	size_t		 i;
	int		 rc;

	memset(m, 0, sizeof *m);
	if ((rc = mem_specs_check(specs, n, err, errlen)) != 0)
		return (rc);
	m->writable = (flags & MEM_MAP_WRITE) != 0;
	if (n == 0)
		return (0);
	m->regions = xcalloc(n, sizeof *m->regions);
	for (i = 0; i < n; i++) {
		rc = mem_region_open(&m->regions[i], &specs[i], i, flags, err,
		    errlen);
		m->nregions = (uint32_t)i + 1;
		if (rc != 0) {
			mem_map_close(m);
			return (rc);
		}
		m->total_bytes += m->regions[i].length;
		m->total_pages += m->regions[i].npages;
	}
	return (0);
}

void
mem_map_close(struct mem_map *m)
{
	uint32_t	 i;

	for (i = 0; i < m->nregions; i++)
		mem_region_close(&m->regions[i]);
	free(m->regions);
	memset(m, 0, sizeof *m);
}

struct mem_region *
mem_lookup(const struct mem_map *m, uint64_t iova)
{
	struct mem_region *r;
	uint32_t	 i;

	for (i = 0; i < m->nregions; i++) {
		r = &m->regions[i];
		if (iova >= r->iova && iova - r->iova < r->length)
			return (r);
	}
	return (NULL);
}

void *
mem_iova_ptr(const struct mem_map *m, uint64_t iova, uint64_t len)
{
	struct mem_region *r;
	uint64_t	 off;

	if ((r = mem_lookup(m, iova)) == NULL)
		return (NULL);
	off = iova - r->iova;
	if (len > r->length - off)
		return (NULL);
	return (r->base + off);
}

int
mem_mark_dirty(struct mem_map *m, uint64_t iova, uint64_t len,
    uint64_t *newly)
{
	struct mem_region *r;
	uint64_t	 end, lo, hi, total = 0;
	uint32_t	 i;
	int		 rc = 0;
	uint64_t	 covered = 0;

	if (newly != NULL)
		*newly = 0;
	if (len == 0)
		return (0);
	/* Inclusive end so that a range ending at 2^64 does not overflow. */
	if (len - 1 > UINT64_MAX - iova) {
		end = UINT64_MAX;
		rc = -ERANGE;
	} else
		end = iova + len - 1;

	for (i = 0; i < m->nregions; i++) {
		r = &m->regions[i];
		lo = MAX(iova, r->iova);
		hi = MIN(end, r->iova + r->length - 1);
		if (lo > hi)
			continue;
		total += pageset_mark_bytes(&r->dirty, r->page_shift,
		    lo - r->iova, hi - lo + 1);
		covered += hi - lo + 1;
	}
	/* Regions do not overlap, so covered counts each byte once. */
	if (rc == 0 && covered != len)
		rc = -ERANGE;
	if (newly != NULL)
		*newly = total;
	return (rc);
}

uint64_t
mem_dirty_count(const struct mem_map *m)
{
	uint64_t	 n = 0;
	uint32_t	 i;

	for (i = 0; i < m->nregions; i++)
		n += pageset_count(&m->regions[i].dirty);
	return (n);
}

void
mem_dirty_zero(struct mem_map *m)
{
	uint32_t	 i;

	for (i = 0; i < m->nregions; i++)
		pageset_zero(&m->regions[i].dirty);
}

uint64_t
mem_region_digest(const struct mem_region *r)
{
	return (XXH3_64bits(r->base, (size_t)r->length));
}

uint64_t
mem_digest(const struct mem_map *m)
{
	uint64_t	h;

	(void)mem_digest_stoppable(m, NULL, NULL, &h);
	return (h);
}

int
mem_digest_stoppable(const struct mem_map *m, int (*stop)(const void *),
    const void *arg, uint64_t *out)
{
	const struct mem_region	*r;
	XXH3_state_t		*st;
	uint64_t		 off, n;
	uint32_t		 i;

	if ((st = XXH3_createState()) == NULL)
		fatalx("%s: out of memory", __func__);
	XXH3_64bits_reset(st);
	for (i = 0; i < m->nregions; i++) {
		r = &m->regions[i];
		for (off = 0; off < r->length; off += n) {
			if (stop != NULL && stop(arg)) {
				XXH3_freeState(st);
				return (-ECANCELED);
			}
			n = r->length - off < MEM_DIGEST_CHUNK ?
			    r->length - off : MEM_DIGEST_CHUNK;
			XXH3_64bits_update(st, (const uint8_t *)r->base + off,
			    (size_t)n);
		}
	}
	*out = XXH3_64bits_digest(st);
	XXH3_freeState(st);
	return (0);
}

int
mem_populate_step(const struct mem_map *m, uint32_t *region, uint64_t *off)
{
	const struct mem_region	*r;
	volatile const uint8_t	*p;
	uint64_t		 n, o;

	while (*region < m->nregions && *off >= m->regions[*region].length) {
		(*region)++;
		*off = 0;
	}
	if (*region >= m->nregions)
		return (0);
	r = &m->regions[*region];
	/* whole pages: a hugetlbfs region's are up to 1 GiB */
	n = MAX((uint64_t)MEM_POPULATE_CHUNK, r->page_size);
	n = MIN(n, r->length - *off);
	if (madvise(r->base + *off, (size_t)n, r->writable ?
	    MADV_POPULATE_WRITE : MADV_POPULATE_READ) == -1) {
		if (errno != EINVAL)
			return (-errno);
		/* before Linux 5.14: a read of each page faults it in */
		p = r->base + *off;
		for (o = 0; o < n; o += r->page_size)
			(void)p[o];
	}
	*off += n;
	return (*region + 1 < m->nregions || *off < r->length);
}

int
page_is_zero(const void *p, size_t len)
{
	const uint64_t	*w = p;
	size_t		 i, n = len / 8;

	/* 64 bytes per step, early exit: most non-zero pages fail at once. */
	for (i = 0; i + 8 <= n; i += 8) {
		if ((w[i] | w[i + 1] | w[i + 2] | w[i + 3] | w[i + 4] |
		    w[i + 5] | w[i + 6] | w[i + 7]) != 0)
			return (0);
	}
	for (; i < n; i++) {
		if (w[i] != 0)
			return (0);
	}
	for (i = n * 8; i < len; i++) {
		if (((const uint8_t *)p)[i] != 0)
			return (0);
	}
	return (1);
}
