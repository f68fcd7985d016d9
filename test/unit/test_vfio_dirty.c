/*
 * test_vfio_dirty.c: every dirty page source through the real system
 * calls, each checked against the truth: the simulated VF writes guest
 * memory, and every page whose bytes changed must come back marked in
 * the page set (vmig_dirty_map) the layer fills.
 *
 *   type1: a passthrough device (every mapped page, every read: the
 *	tracker says so) and an emulated one (exact pages); refused by
 *	iommufd's compatibility layer, with the fallback;
 *   DMA logging: exact pages, the device's page size, more ranges than
 *	a START takes, a report that fails mid-run (all marked, restarted);
 *   iommufd HWPT dirty tracking;
 *   none: everything, every time;
 *   shared trackers: which devices a tracker reports for.
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <criterion/criterion.h>

#include "leakcheck.h"
#include "vfio_compat.h"
#include "vfio_dirty.h"
#include "vfio_testlib.h"

TestSuite(vfio_dirty, .timeout = 120);

#define BDF1	"0000:3b:00.1"
#define BDF2	"0000:3b:00.2"
#define MEM	(1u << 20)
#define IOVA	(1ULL << 30)

struct page_map {
	struct vmig_dirty_map	 m;
	uint64_t		 words[MEM / 4096 / 64];
};

static void
map_init(struct page_map *p)
{
	memset(p, 0, sizeof(*p));
	p->m.iova = IOVA;
	p->m.length = MEM;
	p->m.page_size = 4096;
	p->m.bits = p->words;
}

static unsigned int
map_count(const struct page_map *p)
{
	unsigned int	i, n = 0;

	for (i = 0; i < MEM / 4096 / 64; i++)
		n += (unsigned int)__builtin_popcountll(p->words[i]);
	return (n);
}

/* Every page whose bytes changed is marked; the number that changed. */
static unsigned int
check_covers(const uint8_t *before, const uint8_t *after,
    const struct page_map *p)
{
	unsigned int	i, changed = 0;

	for (i = 0; i < MEM / 4096; i++) {
		if (memcmp(before + i * 4096, after + i * 4096, 4096) == 0)
			continue;
		changed++;
		cr_assert(p->words[i / 64] & (1ULL << (i % 64)),
		    "page %u changed but is not marked dirty", i);
	}
	return (changed);
}

static const struct vmig_iova_range whole = { IOVA, MEM };

/* Write with the VF (step), read the tracker, check against memory. */
static void
round_trip(struct vt *v, struct vfio_dirty *t, unsigned int steps,
    unsigned int *changed, unsigned int *marked)
{
	struct vfio_dirty_stats	 st;
	struct page_map		 p;
	uint8_t			*before = malloc(MEM);
	char			 err[256];

	cr_assert_not_null(before);
	memcpy(before, v->mem, MEM);
	vt_cmd(v, NULL, 0, "step 1 %u", steps);
	map_init(&p);
	cr_assert_eq(vfio_dirty_read(t, &p.m, 1, &st, err, sizeof(err)), 0,
	    "%s", err);
	*changed = check_covers(before, v->mem, &p);
	*marked = map_count(&p);
	cr_assert_eq(st.added, *marked);
	free(before);
}

static struct vfio_dev *
setup(struct vt *v, const char *const *args, const char *spec)
{
	struct vfio_dev	*d;

	vt_start(v, args);
	vt_mem(v, MEM);
	d = vt_open_mapped(v, spec, IOVA);
	vt_cmd(v, NULL, 0, "hold 1");
	vt_cmd(v, NULL, 0, "workload 1 hot fraction=0.25 size=256");
	return (d);
}

/* setup, then the best source started over the whole memory. */
static struct vfio_dirty *
best(struct vt *v, const char *const *args, const char *spec,
    struct vfio_dev **d, struct vfio_dirty_info *in)
{
	struct vfio_dirty	*t;
	char			 err[256];

	*d = setup(v, args, spec);
	cr_assert_eq(vfio_dirty_open_best(*d, &whole, 1, 4096, &t, err,
	    sizeof(err)), 0, "%s", err);
	vfio_dirty_get_info(t, in);
	return (t);
}

static void
teardown(struct vt *v, struct vfio_dev *d, struct vfio_dirty *t)
{
	vfio_dirty_close(t);
	vfio_dev_free(d);
	vt_stop(v);
}

Test(vfio_dirty, type1_passthrough_reports_every_mapped_page)
{
	const char	*args[] = { "--dev", "dmalog=0", NULL };
	struct vfio_dirty_info in;
	struct vfio_dirty *t;
	struct vfio_dev	*d;
	struct vt	 v;
	char		 err[256];
	unsigned int	 changed, marked, i;

	d = setup(&v, args, "vfio:" BDF1);
	cr_assert_eq(vfio_dirty_open(d, VFIO_DIRTY_SRC_TYPE1, &t, err,
	    sizeof(err)), 0, "%s", err);
	cr_assert_eq(vfio_dirty_start(t, &whole, 1, 4096, err, sizeof(err)),
	    0, "%s", err);
	vfio_dirty_get_info(t, &in);
	cr_assert(in.flags & VFIO_DIRTY_F_ALL_MAPPED, "found out at start");
	cr_assert(in.flags & VFIO_DIRTY_F_SHARED);
	cr_assert(strstr(in.why, "gain nothing") != NULL, "%s", in.why);
	for (i = 0; i < 3; i++) {
		round_trip(&v, t, i == 1 ? 0 : 50, &changed, &marked);
		cr_assert_eq(marked, MEM / 4096, "every page, every read");
	}
	cr_assert_eq(vfio_dirty_stop(t, err, sizeof(err)), 0);
	vfio_dirty_close(t);
	vfio_dev_free(d);
	vt_stop(&v);
	LEAK_CHECK();
}

/* A device that writes through vfio_dma_rw (an mdev): exact pages. */
Test(vfio_dirty, type1_emulated_device_exact)
{
	const char	*args[] = { "--dev", "dmalog=0,emulated=1", NULL };
	struct vfio_dirty_info in;
	struct vfio_dirty *t;
	struct vfio_dev	*d;
	struct vt	 v;
	unsigned int	 changed, marked;

	t = best(&v, args, "vfio:" BDF1, &d, &in);
	cr_assert_eq(in.src, VFIO_DIRTY_SRC_TYPE1);
	cr_assert_eq(in.flags & VFIO_DIRTY_F_ALL_MAPPED, 0);
	round_trip(&v, t, 40, &changed, &marked);
	cr_assert_gt(changed, 0);
	cr_assert_eq(marked, changed, "exactly the written pages");
	round_trip(&v, t, 0, &changed, &marked);
	cr_assert_eq(marked, 0, "read and clear");
	teardown(&v, d, t);
}

/* /dev/vfio/vfio served by iommufd: the container refuses
 * VFIO_IOMMU_DIRTY_PAGES (ENOTTY); the layer falls back and says why. */
Test(vfio_dirty, type1_refused_by_iommufd_compat)
{
	const char	*args[] = { "--iommufd-compat", "--dev", "dmalog=0",
	    NULL };
	struct vfio_iommu_type1_dirty_bitmap h;
	struct vfio_dirty_info in;
	struct vfio_dirty *t;
	struct vfio_dev	*d;
	struct vt	 v;
	char		 err[256];
	unsigned int	 changed, marked;

	d = setup(&v, args, "vfio:" BDF1);
	memset(&h, 0, sizeof(h));
	h.argsz = sizeof(h);
	h.flags = VFIO_IOMMU_DIRTY_PAGES_FLAG_START;
	cr_assert_eq(vfio_ioctl(d->container_fd, VFIO_IOMMU_DIRTY_PAGES, &h),
	    -ENOTTY);
	cr_assert_eq(vfio_dirty_open(d, VFIO_DIRTY_SRC_TYPE1, &t, err,
	    sizeof(err)), -EOPNOTSUPP);
	cr_assert(strstr(err, "iommufd") != NULL, "%s", err);
	cr_assert_eq(vfio_dirty_open_best(d, &whole, 1, 4096, &t, err,
	    sizeof(err)), 0, "%s", err);
	vfio_dirty_get_info(t, &in);
	cr_assert_eq(in.src, VFIO_DIRTY_SRC_NONE);
	cr_assert(in.flags & VFIO_DIRTY_F_ALL_MAPPED);
	cr_assert(strstr(in.why, "type1 unavailable") != NULL, "%s", in.why);
	round_trip(&v, t, 20, &changed, &marked);
	cr_assert_eq(marked, MEM / 4096);
	vfio_dirty_close(t);
	vfio_dev_free(d);
	vt_stop(&v);
}

Test(vfio_dirty, dma_logging_exact)
{
	const char	*args[] = { "--dev", "dmalog=1", NULL };
	struct vfio_dirty_info in;
	struct vfio_dirty *t;
	struct vfio_dev	*d;
	struct vt	 v;
	char		 err[256];
	unsigned int	 changed, marked;

	t = best(&v, args, "vfio:" BDF1, &d, &in);
	cr_assert_eq(in.src, VFIO_DIRTY_SRC_DMALOG, "device logging first");
	cr_assert_eq(in.page_size, 4096);
	cr_assert_eq(in.flags & (VFIO_DIRTY_F_ALL_MAPPED | VFIO_DIRTY_F_SHARED),
	    0);
	cr_assert_eq(vt_state_u64(&v, 1, "log"), 1);
	round_trip(&v, t, 40, &changed, &marked);
	cr_assert_gt(changed, 0);
	cr_assert_eq(marked, changed);
	cr_assert_eq(vfio_dirty_stop(t, err, sizeof(err)), 0);
	cr_assert_eq(vt_state_u64(&v, 1, "log"), 0);
	teardown(&v, d, t);
	LEAK_CHECK();
}

/* The device only logs 2 MiB pages: the hint is a hint; a write marks
 * every 4 KiB page of its 2 MiB page. */
Test(vfio_dirty, dma_logging_device_page_size)
{
	const char	*args[] = { "--dev", "log_pgsizes=0x200", NULL };
	struct vfio_dirty_info in;
	struct vfio_dirty *t;
	struct vfio_dev	*d;
	struct vt	 v;
	char		 err[256];
	unsigned int	 changed, marked;

	d = setup(&v, args, "vfio:" BDF1);
	cr_assert_eq(vfio_dirty_open(d, VFIO_DIRTY_SRC_DMALOG, &t, err,
	    sizeof(err)), 0, "%s", err);
	cr_assert_eq(vfio_dirty_start(t, &whole, 1, 4096, err, sizeof(err)),
	    0, "%s", err);
	vfio_dirty_get_info(t, &in);
	cr_assert_eq(in.page_size, 2u << 20, "the device's choice");
	round_trip(&v, t, 1, &changed, &marked);
	cr_assert_eq(changed, 1);
	cr_assert_eq(marked, MEM / 4096, "the whole 2 MiB page");
	vfio_dirty_close(t);
	vfio_dev_free(d);
	vt_stop(&v);
}

/* 300 ranges: a START takes 256, the layer merges over the smallest
 * gaps first (the device would refuse 300 with E2BIG). */
Test(vfio_dirty, dma_logging_more_ranges_than_a_start)
{
	const char	*args[] = { "--dev", "dmalog=1", NULL };
	struct vmig_iova_range r[300];
	struct vfio_dirty_info in;
	struct vfio_dirty *t;
	struct vfio_dev	*d;
	struct vt	 v;
	char		 err[256];
	unsigned int	 i, changed, marked;

	d = setup(&v, args, "vfio:" BDF1);
	for (i = 0; i < 300; i++) {
		r[i].iova = IOVA + (uint64_t)i * 8192 % MEM;
		r[i].length = 4096;
	}
	for (i = 128; i < 300; i++)
		r[i].iova = IOVA + MEM + (uint64_t)i * 8192;
	cr_assert_eq(vfio_dirty_open(d, VFIO_DIRTY_SRC_DMALOG, &t, err,
	    sizeof(err)), 0);
	cr_assert_eq(vfio_dirty_start(t, r, 300, 4096, err, sizeof(err)), 0,
	    "%s", err);
	vfio_dirty_get_info(t, &in);
	cr_assert_eq(in.nranges, 300);
	cr_assert_eq(vt_state_u64(&v, 1, "log"), 1);
	round_trip(&v, t, 40, &changed, &marked);
	cr_assert_geq(marked, changed);
	vfio_dirty_close(t);
	vfio_dev_free(d);
	vt_stop(&v);
}

/* A report that fails: the log is corrupt, every tracked page is
 * marked, logging restarts at the next read, which is exact again. */
Test(vfio_dirty, dma_logging_report_fails_mid_run)
{
	const char	*args[] = { "--dev", "dmalog=1", NULL };
	struct vfio_dirty_stats st;
	struct vfio_dirty_info in;
	struct vfio_dirty *t;
	struct vfio_dev	*d;
	struct page_map	 p;
	struct vt	 v;
	char		 err[256];
	unsigned int	 changed, marked;

	t = best(&v, args, "vfio:" BDF1, &d, &in);
	round_trip(&v, t, 20, &changed, &marked);
	cr_assert_eq(marked, changed);
	vt_cmd(&v, NULL, 0, "fault fail op=dmalog_report count=1");
	vt_cmd(&v, NULL, 0, "step 1 10");
	map_init(&p);
	cr_assert_eq(vfio_dirty_read(t, &p.m, 1, &st, err, sizeof(err)), 0,
	    "%s", err);
	cr_assert_eq(st.overflow, 1);
	cr_assert_eq(map_count(&p), MEM / 4096, "everything is dirty");
	vfio_dirty_get_info(t, &in);
	cr_assert_eq(in.failures, 1);
	cr_assert(strstr(in.why, "restarted") != NULL, "%s", in.why);
	cr_assert_eq(in.flags & VFIO_DIRTY_F_CORRUPT, 0, "restarted at once");
	round_trip(&v, t, 20, &changed, &marked);
	cr_assert_eq(marked, changed, "exact again");

	/* A restart that fails too: CORRUPT, and everything every time. */
	vt_cmd(&v, NULL, 0, "fault fail op=dmalog_report count=1");
	vt_cmd(&v, NULL, 0, "fault fail op=dmalog_start count=1");
	map_init(&p);
	cr_assert_eq(vfio_dirty_read(t, &p.m, 1, &st, err, sizeof(err)), 0);
	cr_assert_eq(st.overflow, 1);
	vfio_dirty_get_info(t, &in);
	cr_assert(in.flags & VFIO_DIRTY_F_CORRUPT);
	map_init(&p);
	cr_assert_eq(vfio_dirty_read(t, &p.m, 1, &st, err, sizeof(err)), 0);
	cr_assert_eq(st.overflow, 1, "still everything while it recovers");
	cr_assert_eq(map_count(&p), MEM / 4096);
	round_trip(&v, t, 20, &changed, &marked);
	cr_assert_eq(marked, changed, "recovered");
	teardown(&v, d, t);
}

Test(vfio_dirty, iommufd_hwpt)
{
	const char	*args[] = { "--iommu-dirty", "--dev", "dmalog=0", NULL };
	struct vfio_dirty_info in;
	struct vfio_dirty *t;
	struct vfio_dev	*d;
	struct vt	 v;
	unsigned int	 changed, marked;

	t = best(&v, args, "vfio-cdev:" BDF1, &d, &in);
	cr_assert_eq(d->iommu, VFIO_IOMMU_IOMMUFD);
	cr_assert(d->iommu_dirty && d->hwpt_dirty);
	cr_assert_eq(in.src, VFIO_DIRTY_SRC_HWPT);
	cr_assert(in.flags & VFIO_DIRTY_F_SHARED);
	round_trip(&v, t, 40, &changed, &marked);
	cr_assert_gt(changed, 0);
	cr_assert_eq(marked, changed);
	round_trip(&v, t, 0, &changed, &marked);
	cr_assert_eq(marked, 0);
	teardown(&v, d, t);
	LEAK_CHECK();
}

/* An IOMMU without dirty tracking (or a 6.6 kernel): no HWPT source. */
Test(vfio_dirty, iommufd_without_dirty_capability)
{
	const char	*a1[] = { "--dev", "dmalog=0", NULL };
	const char	*a2[] = { "--kernel", "6.6", "--iommu-dirty", "--dev",
	    "dmalog=0", NULL };
	enum vfio_dirty_src s[4];
	struct vfio_dirty *t;
	struct vfio_dev	*d;
	struct vt	 v;
	char		 err[256];

	d = setup(&v, a1, "vfio-cdev:" BDF1);
	cr_assert_eq(d->iommu_dirty, 0);
	cr_assert_eq(vfio_dirty_sources(d, s, 4), 1);
	cr_assert_eq(s[0], VFIO_DIRTY_SRC_NONE);
	cr_assert_eq(vfio_dirty_open(d, VFIO_DIRTY_SRC_HWPT, &t, err,
	    sizeof(err)), -EOPNOTSUPP);
	vfio_dev_free(d);
	vt_stop(&v);

	d = setup(&v, a2, "vfio-cdev:" BDF1);
	cr_assert_eq(d->iommu_dirty, 0, "6.6 has no out_capabilities");
	vfio_dev_free(d);
	vt_stop(&v);
}

Test(vfio_dirty, none_marks_everything)
{
	const char	*args[] = { "--dev", "dmalog=0", NULL };
	struct vfio_dirty_info in;
	struct vfio_dirty *t;
	struct vfio_dev	*d;
	struct vt	 v;
	unsigned int	 changed, marked;

	t = best(&v, args, "vfio-cdev:" BDF1, &d, &in);
	cr_assert_eq(in.src, VFIO_DIRTY_SRC_NONE);
	cr_assert(in.flags & VFIO_DIRTY_F_ALL_MAPPED);
	round_trip(&v, t, 0, &changed, &marked);
	cr_assert_eq(marked, MEM / 4096);
	teardown(&v, d, t);
}

/* A container's tracker reports for every device in it; a device's DMA
 * log only for that device. */
Test(vfio_dirty, shared_trackers)
{
	const char	*args[] = { "--dev", "group=40", "--dev", "group=40",
	    "--dev", "group=41", NULL };
	struct vfio_dirty *t1, *tl;
	struct vfio_dev	*d1, *d2, *d3;
	struct vt	 v;
	char		 err[256];
	int		 fd;

	vt_start(&v, args);
	d1 = vt_open(&v, "vfio:" BDF1);
	/* The second device of the group, through the same group fd. */
	fd = vfio_ioctl(d1->group_fd, VFIO_GROUP_GET_DEVICE_FD,
	    (void *)(uintptr_t)BDF2);
	cr_assert_geq(fd, 0);
	d2 = vfio_dev_new(BDF2);
	d2->fd = fd;
	d2->container_fd = dup(d1->container_fd);
	d2->iommu = VFIO_IOMMU_TYPE1;
	cr_assert_eq(vfio_dev_probe(d2, err, sizeof(err)), 0, "%s", err);
	d3 = vt_open(&v, "vfio:0000:3b:00.3");
	cr_assert_eq(vfio_dirty_open(d1, VFIO_DIRTY_SRC_TYPE1, &t1, err,
	    sizeof(err)), 0, "%s", err);
	cr_assert(vfio_dirty_serves(t1, d1));
	cr_assert(vfio_dirty_serves(t1, d2), "the same container");
	cr_assert(!vfio_dirty_serves(t1, d3), "another container");
	cr_assert_eq(vfio_dirty_open(d1, VFIO_DIRTY_SRC_DMALOG, &tl, err,
	    sizeof(err)), 0, "%s", err);
	cr_assert(vfio_dirty_serves(tl, d1));
	cr_assert(!vfio_dirty_serves(tl, d2), "DMA logging is per device");
	vfio_dirty_close(tl);
	vfio_dirty_close(t1);
	vfio_dev_free(d3);
	vfio_dev_free(d2);
	vfio_dev_free(d1);
	vt_stop(&v);
}
