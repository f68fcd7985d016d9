/*
 * test_memory.c: region validation (every error names its region), mapping
 * of real /dev/shm files, lookups, dirty marking and digests.
 */
#include <criterion/criterion.h>

#include <sys/mman.h>
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "memory.h"

static char	 shm_path[64];
static char	 shm_path2[64];

/* A /dev/shm file of len bytes filled with a pattern; removed at the end. */
static void
make_file(char *path, size_t pathlen, size_t len, int pattern)
{
	uint8_t	*buf;
	size_t	 i;
	int	 fd;

	snprintf(path, pathlen, "/dev/shm/vmig-test-mem-XXXXXX");
	fd = mkstemp(path);
	cr_assert_neq(fd, -1);
	buf = malloc(len);
	for (i = 0; i < len; i++)
		buf[i] = pattern ? (uint8_t)(i * 7 + i / 4096) : 0;
	cr_assert_eq(write(fd, buf, len), (ssize_t)len);
	free(buf);
	close(fd);
}

static void
setup(void)
{
	make_file(shm_path, sizeof shm_path, 64 * 1024, 1);
	make_file(shm_path2, sizeof shm_path2, 64 * 1024, 1);
}

static void
teardown(void)
{
	unlink(shm_path);
	unlink(shm_path2);
}

TestSuite(memory, .init = setup, .fini = teardown);

struct bad_case {
	struct mem_region_spec	 specs[2];
	size_t			 n;
	const char		*expect;	/* substring of the error */
};

static void
expect_error(const struct mem_region_spec *specs, size_t n, int code,
    const char *substr)
{
	struct mem_map	 m;
	char		 err[512] = "";
	int		 rc;

	rc = mem_map_open(&m, specs, n, 0, err, sizeof err);
	cr_assert_eq(rc, code, "rc %d (%s), expected %d for \"%s\"", rc, err,
	    code, substr);
	cr_assert(strstr(err, substr) != NULL, "error \"%s\" lacks \"%s\"",
	    err, substr);
	cr_assert_eq(m.nregions, 0);
	cr_assert_null(m.regions);
}

Test(memory, validation_errors_name_the_region)
{
	struct mem_region_spec ok = { shm_path, 0, 0x100000, 16384, 4096 };
	struct mem_region_spec s[2];

	s[0] = ok;
	s[1] = ok;
	s[1].iova = 0x200000;

	s[1].path = "";
	expect_error(s, 2, -EINVAL, "region 1: the path is empty");
	s[1].path = NULL;
	expect_error(s, 2, -EINVAL, "region 1: the path is empty");
	s[1].path = shm_path;

	s[1].length = 0;
	expect_error(s, 2, -EINVAL, "length is zero");
	s[1].length = 4097;
	expect_error(s, 2, -EINVAL, "length 4097 is not a multiple of the "
	    "page size 4096");
	s[1].length = 16384;

	s[1].page_size = 3000;
	expect_error(s, 2, -EINVAL, "page size 3000 is not a power of two");
	s[1].page_size = 2048;
	expect_error(s, 2, -EINVAL, "page size 2048");
	s[1].page_size = 1U << 31;
	expect_error(s, 2, -EINVAL, "page size 2147483648");
	s[1].page_size = 0;
	expect_error(s, 2, -EINVAL, "page size 0");
	s[1].page_size = 4096;

	s[1].iova = 0x200100;
	expect_error(s, 2, -EINVAL, "iova 0x200100 is not aligned");
	s[1].iova = 0x200000;
	s[1].file_offset = 100;
	expect_error(s, 2, -EINVAL, "file offset 100 is not aligned");
	s[1].file_offset = 0;

	s[1].iova = UINT64_MAX - 4095;
	expect_error(s, 2, -EINVAL, "overflows");
	s[1].iova = 0x200000;
	s[1].file_offset = (uint64_t)INT64_MAX - 4095;
	expect_error(s, 2, -EINVAL, "file offset");
	s[1].file_offset = 0;

	/* overlap: region 1 starts inside region 0 */
	s[1].iova = 0x100000 + 8192;
	expect_error(s, 2, -EINVAL, "region 1 (");
	expect_error(s, 2, -EINVAL, "overlaps region 0");
	/* touching ranges do not overlap */
	s[1].iova = 0x100000 + 16384;
	{
		struct mem_map	 m;
		char		 err[256];

		cr_assert_eq(mem_map_open(&m, s, 2, 0, err, sizeof err), 0,
		    "%s", err);
		mem_map_close(&m);
	}
}

Test(memory, file_errors)
{
	struct mem_region_spec s = { shm_path, 0, 0, 16384, 4096 };
	char	 fifo[64];

	s.path = "/dev/shm/vmig-test-does-not-exist";
	expect_error(&s, 1, -ENOENT, "region 0 (/dev/shm/vmig-test-does-not-"
	    "exist): cannot open");
	s.path = "/dev/null";
	expect_error(&s, 1, -EINVAL, "region 0 (/dev/null): not a regular "
	    "file");
	s.path = "/dev/shm";
	expect_error(&s, 1, -EINVAL, "not a regular file");
	snprintf(fifo, sizeof fifo, "/tmp/vmig-test-fifo-%d", getpid());
	cr_assert_eq(mkfifo(fifo, 0600), 0);
	s.path = fifo;
	expect_error(&s, 1, -EINVAL, "not a regular file");
	unlink(fifo);

	/* file is 64 KiB */
	s.path = shm_path;
	s.length = 128 * 1024;
	expect_error(&s, 1, -EINVAL, "the file has 65536 bytes, fewer than "
	    "offset 0 + length 131072");
	s.length = 32768;
	s.file_offset = 40960;
	expect_error(&s, 1, -EINVAL, "fewer than offset 40960 + length 32768");
}

Test(memory, second_region_failure_closes_the_first)
{
	struct mem_region_spec s[2] = {
		{ shm_path, 0, 0, 16384, 4096 },
		{ "/dev/shm/vmig-test-missing", 0, 16384, 4096, 4096 },
	};

	expect_error(s, 2, -ENOENT, "region 1 (/dev/shm/vmig-test-missing)");
}

Test(memory, too_many_regions)
{
	struct mem_region_spec s[MEM_REGIONS_MAX + 1];
	size_t	 i;

	for (i = 0; i < MEM_REGIONS_MAX + 1; i++) {
		s[i].path = shm_path;
		s[i].file_offset = 0;
		s[i].iova = i * 4096;
		s[i].length = 4096;
		s[i].page_size = 4096;
	}
	expect_error(s, MEM_REGIONS_MAX + 1, -EINVAL, "at most 64");
}

Test(memory, map_lookup_and_dirty)
{
	struct mem_region_spec s[2] = {
		{ shm_path, 4096, 0x10000, 32768, 4096 },
		{ shm_path2, 0, 0x40000, 65536, 8192 },
	};
	struct mem_map	 m;
	struct mem_region *r;
	uint64_t	 newly;
	uint8_t		*p;
	char		 err[256];

	cr_assert_eq(mem_map_open(&m, s, 2, MEM_MAP_POPULATE, err, sizeof err),
	    0, "%s", err);
	cr_assert_eq(m.nregions, 2);
	cr_assert_eq(m.total_bytes, 32768 + 65536);
	cr_assert_eq(m.total_pages, 8 + 8);
	cr_assert_eq(m.regions[1].npages, 8);
	cr_assert_eq(m.regions[1].page_shift, 13);
	cr_assert_eq(m.regions[0].writable, 0);

	/* the mapping starts at the file offset */
	cr_assert_eq(m.regions[0].base[0], (uint8_t)(4096 * 7 + 1));

	cr_assert_null(mem_lookup(&m, 0xffff));
	cr_assert_eq(mem_lookup(&m, 0x10000), &m.regions[0]);
	cr_assert_eq(mem_lookup(&m, 0x10000 + 32767), &m.regions[0]);
	cr_assert_null(mem_lookup(&m, 0x10000 + 32768));
	r = mem_lookup(&m, 0x40000 + 100);
	cr_assert_eq(r, &m.regions[1]);

	p = mem_iova_ptr(&m, 0x10000 + 4096, 4096);
	cr_assert_eq(p, m.regions[0].base + 4096);
	cr_assert_null(mem_iova_ptr(&m, 0x10000 + 4096, 32768),
	    "a range running off the region has no pointer");

	/* a write across pages 7 of region 0 and into the gap: ERANGE */
	cr_assert_eq(mem_mark_dirty(&m, 0x10000 + 7 * 4096, 8192, &newly),
	    -ERANGE);
	cr_assert_eq(newly, 1, "the covered part is still marked");
	cr_assert_eq(mem_mark_dirty(&m, 0x40000 + 8191, 2, &newly), 0);
	cr_assert_eq(newly, 2);
	cr_assert(pageset_test(&m.regions[1].dirty, 0) &&
	    pageset_test(&m.regions[1].dirty, 1));
	cr_assert_eq(mem_mark_dirty(&m, 0x40000, 65536, &newly), 0);
	cr_assert_eq(newly, 6);
	cr_assert_eq(mem_dirty_count(&m), 9);
	cr_assert_eq(mem_mark_dirty(&m, UINT64_MAX - 5, 100, &newly), -ERANGE);
	cr_assert_eq(mem_mark_dirty(&m, 0x10000, 0, &newly), 0);
	mem_dirty_zero(&m);
	cr_assert_eq(mem_dirty_count(&m), 0);
	mem_map_close(&m);
	cr_assert_eq(m.nregions, 0);
}

Test(memory, writable_map_writes_the_file)
{
	struct mem_region_spec s = { shm_path, 8192, 0, 8192, 4096 };
	struct mem_map	 m;
	uint8_t		 b = 0;
	char		 err[256];
	int		 fd;

	cr_assert_eq(mem_map_open(&m, &s, 1, MEM_MAP_WRITE, err, sizeof err),
	    0, "%s", err);
	cr_assert(m.writable && m.regions[0].writable);
	m.regions[0].base[5] = 0xab;
	mem_map_close(&m);
	fd = open(shm_path, O_RDONLY);
	cr_assert_eq(pread(fd, &b, 1, 8192 + 5), 1);
	close(fd);
	cr_assert_eq(b, 0xab);
}

Test(memory, digest)
{
	struct mem_region_spec s1 = { shm_path, 0, 0, 65536, 4096 };
	struct mem_region_spec s2 = { shm_path2, 0, 0, 65536, 4096 };
	struct mem_region_spec two[2] = {
		{ shm_path, 0, 0, 32768, 4096 },
		{ shm_path, 32768, 0x100000, 32768, 4096 },
	};
	struct mem_map	 a, b, c;
	uint64_t	 da, db;
	char		 err[256];

	cr_assert_eq(mem_map_open(&a, &s1, 1, 0, err, sizeof err), 0);
	cr_assert_eq(mem_map_open(&b, &s2, 1, MEM_MAP_WRITE, err, sizeof err),
	    0);
	da = mem_digest(&a);
	db = mem_digest(&b);
	cr_assert_eq(da, db, "equal contents, equal digest");
	cr_assert_eq(mem_region_digest(&a.regions[0]), da);

	/* the same bytes split into two regions: the same stream of bytes */
	cr_assert_eq(mem_map_open(&c, two, 2, 0, err, sizeof err), 0);
	cr_assert_eq(mem_digest(&c), da);
	mem_map_close(&c);

	b.regions[0].base[40000] ^= 1;
	cr_assert_neq(mem_digest(&b), da, "one bit differs");
	b.regions[0].base[40000] ^= 1;
	cr_assert_eq(mem_digest(&b), da);
	mem_map_close(&a);
	mem_map_close(&b);
}

Test(memory, page_is_zero)
{
	uint64_t	 page[4096 / 8 + 8];
	uint8_t		*p = (uint8_t *)page;
	size_t		 i;

	memset(page, 0, sizeof page);
	cr_assert(page_is_zero(p, 4096));
	for (i = 0; i < 4096; i += 511) {
		p[i] = 1;
		cr_assert_eq(page_is_zero(p, 4096), 0, "byte %zu", i);
		p[i] = 0;
	}
	p[4095] = 0x80;
	cr_assert_eq(page_is_zero(p, 4096), 0, "last byte");
	p[4095] = 0;
	p[4096] = 1;
	cr_assert(page_is_zero(p, 4096), "bytes past len do not count");
	cr_assert(page_is_zero(p, 0));
	p[4100] = 1;
	cr_assert_eq(page_is_zero(p + 4096, 13), 0, "odd lengths work too");
}

static int
stop_after(const void *arg)
{
	int	*calls = (int *)(uintptr_t)arg;

	return (--*calls < 0);
}

/* The worker's digest: chunked, the same value, and it stops when told. */
Test(memory, digest_stoppable_in_chunks)
{
	char		 path[64];
	size_t		 len = 2 * MEM_DIGEST_CHUNK + 3 * 4096;
	struct mem_region_spec s = { path, 0, 0, len, 4096 };
	struct mem_map	 m;
	uint64_t	 h = 0;
	char		 err[256];
	int		 calls;

	make_file(path, sizeof path, len, 1);
	cr_assert_eq(mem_map_open(&m, &s, 1, 0, err, sizeof err), 0, "%s",
	    err);
	/* one-shot xxh3 over the region == streamed over three chunks */
	calls = 100;
	cr_assert_eq(mem_digest_stoppable(&m, stop_after, &calls, &h), 0);
	cr_assert_eq(h, mem_region_digest(&m.regions[0]));
	cr_assert_eq(h, mem_digest(&m));
	cr_assert_eq(calls, 100 - 3, "asked once per chunk");
	/* told to stop before the second chunk */
	calls = 1;
	h = 0;
	cr_assert_eq(mem_digest_stoppable(&m, stop_after, &calls, &h),
	    -ECANCELED);
	cr_assert_eq(h, 0, "no digest when stopped");
	mem_map_close(&m);
	unlink(path);
}

/*
 * The worker's populating: a chunk per call across the regions, contents
 * kept, a sparse file's pages allocated (mincore), 0 once all are done.
 */
Test(memory, populate_steps_in_chunks)
{
	char		 path[64];
	size_t		 len = MEM_POPULATE_CHUNK + 4096;
	struct mem_region_spec s[2] = {
		{ path, 0, 0, len, 4096 },
		{ shm_path, 0, 0x10000000, 65536, 4096 },
	};
	struct mem_map	 m;
	uint64_t	 h, off = 0;
	uint32_t	 region = 0;
	unsigned char	 vec[(MEM_POPULATE_CHUNK + 4096) / 4096];
	size_t		 i;
	char		 err[256];
	int		 fd;

	snprintf(path, sizeof path, "/dev/shm/vmig-test-mem-XXXXXX");
	cr_assert_neq(fd = mkstemp(path), -1);
	cr_assert_eq(ftruncate(fd, (off_t)len), 0);	/* sparse */
	close(fd);
	cr_assert_eq(mem_map_open(&m, s, 2, MEM_MAP_WRITE, err, sizeof err),
	    0, "%s", err);
	h = mem_region_digest(&m.regions[1]);
	cr_assert_eq(mincore(m.regions[0].base, len, vec), 0);
	cr_assert_eq(vec[0] & 1, 0, "a sparse page is there before");

	cr_assert_eq(mem_populate_step(&m, &region, &off), 1);
	cr_assert_eq(region, 0);
	cr_assert_eq(off, MEM_POPULATE_CHUNK, "one chunk a call");
	cr_assert_eq(mincore(m.regions[0].base, len, vec), 0);
	cr_assert_eq(vec[0] & 1, 1, "the first chunk not populated");
	cr_assert_eq(vec[len / 4096 - 1] & 1, 0, "populated past the chunk");
	cr_assert_eq(mem_populate_step(&m, &region, &off), 1,
	    "the second region remains");
	cr_assert_eq(mincore(m.regions[0].base, len, vec), 0);
	for (i = 0; i < len / 4096; i++)
		cr_assert_eq(vec[i] & 1, 1, "page %zu not populated", i);
	cr_assert_eq(mem_populate_step(&m, &region, &off), 0, "all done");
	cr_assert_eq(region, 1);
	cr_assert_eq(off, 65536);
	cr_assert_eq(mem_populate_step(&m, &region, &off), 0);
	cr_assert_eq(mem_region_digest(&m.regions[1]), h, "contents changed");
	cr_assert_eq(m.regions[0].base[4096], 0);
	mem_map_close(&m);
	unlink(path);
}
