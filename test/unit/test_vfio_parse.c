/*
 * test_vfio_parse.c: what the VFIO layer reads from the kernel side, as
 * pure functions (no simulator): info capability chains, dirty bitmaps
 * into page sets at any pair of page sizes, PRECOPY_INFO, the device
 * specs, the VMM's hand-over line, range merging, and the v2 paths
 * against the kernel's own list of combination arcs.
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>

#include "vfio_compat.h"
#include "vfio_dirty.h"
#include "vfio_mig.h"
#include "vfio_parse.h"

static void
cap_hdr(uint8_t *b, uint32_t off, uint16_t id, uint32_t next)
{
	uint16_t	ver = 1;

	memcpy(b + off, &id, 2);
	memcpy(b + off + 2, &ver, 2);
	memcpy(b + off + 4, &next, 4);
}

static void
put32(uint8_t *b, uint32_t off, uint32_t v)
{
	memcpy(b + off, &v, 4);
}

static void
put64(uint8_t *b, uint32_t off, uint64_t v)
{
	memcpy(b + off, &v, 8);
}

/* A region info: type cap at 32, sparse mmap cap (two areas) at 48. */
static size_t
region_info(uint8_t *b)
{
	memset(b, 0, 96);
	cap_hdr(b, 32, VFIO_REGION_INFO_CAP_TYPE, 48);
	put32(b, 40, 3);
	put32(b, 44, 1);
	cap_hdr(b, 48, VFIO_REGION_INFO_CAP_SPARSE_MMAP, 0);
	put32(b, 56, 2);
	put64(b, 64, 4096);
	put64(b, 72, 8192);
	put64(b, 80, 65536);
	put64(b, 88, 4096);
	return (96);
}

Test(vfio_parse, capability_chain)
{
	struct vfio_area area[4];
	struct vfio_cap	 c;
	uint8_t		 b[96];
	uint32_t	 type, sub;
	unsigned int	 n;
	size_t		 len = region_info(b);

	cr_assert_eq(vfio_cap_find(b, len, 32, VFIO_REGION_INFO_CAP_TYPE, &c,
	    NULL, 0), 1);
	cr_assert_eq(c.off, 32);
	cr_assert_eq(c.len, 16);
	cr_assert_eq(vfio_cap_region_type(b, &c, &type, &sub, NULL, 0), 0);
	cr_assert_eq(type, 3);
	cr_assert_eq(sub, 1);
	cr_assert_eq(vfio_cap_find(b, len, 32,
	    VFIO_REGION_INFO_CAP_SPARSE_MMAP, &c, NULL, 0), 1);
	cr_assert_eq(c.len, 48, "the last one runs to the end");
	cr_assert_eq(vfio_cap_sparse(b, &c, area, 4, &n, NULL, 0), 0);
	cr_assert_eq(n, 2);
	cr_assert_eq(area[1].offset, 65536);
	cr_assert_eq(area[1].size, 4096);
	cr_assert_eq(vfio_cap_find(b, len, 32, 99, &c, NULL, 0), 0);
	cr_assert_eq(vfio_cap_find(b, len, 0, 2, &c, NULL, 0), 0, "no chain");
}

Test(vfio_parse, capability_chain_malformed)
{
	struct vfio_area area[4];
	struct vfio_cap	 c;
	uint8_t		 b[96];
	char		 err[200];
	unsigned int	 n;
	size_t		 len = region_info(b);

	/* A loop: the second points back at the first. */
	cap_hdr(b, 48, VFIO_REGION_INFO_CAP_SPARSE_MMAP, 32);
	cr_assert_eq(vfio_cap_find(b, len, 32, 77, &c, err, sizeof(err)),
	    -EINVAL);
	cr_assert(strstr(err, "loop") != NULL, "%s", err);
	region_info(b);
	cap_hdr(b, 48, VFIO_REGION_INFO_CAP_SPARSE_MMAP, 4000);
	cr_assert_eq(vfio_cap_find(b, len, 32, 77, &c, NULL, 0), -EINVAL);
	cr_assert_eq(vfio_cap_find(b, len, 33, 2, &c, NULL, 0), -EINVAL,
	    "misaligned");
	cr_assert_eq(vfio_cap_find(b, len, 92, 2, &c, NULL, 0), -EINVAL,
	    "a header past the end");
	/* More areas than the capability holds. */
	region_info(b);
	put32(b, 56, 3);
	cr_assert_eq(vfio_cap_find(b, len, 32,
	    VFIO_REGION_INFO_CAP_SPARSE_MMAP, &c, NULL, 0), 1);
	cr_assert_eq(vfio_cap_sparse(b, &c, area, 4, &n, NULL, 0), -EINVAL);
	/* A type capability cut short. */
	region_info(b);
	c.off = 32;
	c.len = 12;
	cr_assert_eq(vfio_cap_region_type(b, &c, &n, &n, NULL, 0), -EINVAL);
}

Test(vfio_parse, type1_migration_capability)
{
	struct vfio_type1_mig	m;
	struct vfio_cap		c = { 2, 1, 0, 32 };
	uint8_t			b[32];

	memset(b, 0, sizeof(b));
	put64(b, 16, 0x201000);
	put64(b, 24, 256u << 20);
	cr_assert_eq(vfio_cap_type1_mig(b, &c, &m, NULL, 0), 0);
	cr_assert_eq(m.pgsize_bitmap, 0x201000);
	cr_assert_eq(m.max_bitmap_bytes, 256u << 20);
	c.len = 24;
	cr_assert_eq(vfio_cap_type1_mig(b, &c, &m, NULL, 0), -EINVAL);
}

/* ---------------------------------------------------------- bitmaps */

static struct vmig_dirty_map
mkmap(uint64_t iova, uint64_t len, uint64_t ps, uint64_t *bits)
{
	struct vmig_dirty_map m = { iova, len, ps, bits };

	return (m);
}

Test(vfio_parse, bits_same_page_size)
{
	uint64_t		 dst[2] = { 0, 0 }, src[2] = { 0, 0 }, added;
	struct vmig_dirty_map	 m = mkmap(0x100000, 100 * 4096, 4096, dst);
	struct vfio_bits	 b = { 0x100000, 4096, 100, src };

	src[0] = 0x5;
	src[1] = (1ULL << 35) | (1ULL << 36) | (1ULL << 63);
	dst[0] = 0x1;
	cr_assert_eq(vfio_bits_merge(&b, &m, &added), 0);
	cr_assert_eq(dst[0], 0x5);
	cr_assert_eq(dst[1], (1ULL << 35), "bits past npages ignored");
	cr_assert_eq(added, 2, "bit 0 was set already: only sets, counts new");
}

Test(vfio_parse, bits_large_source_pages)
{
	uint64_t		 dst[8], src[1] = { 0x2 }, added;
	struct vmig_dirty_map	 m = mkmap(2 << 20, 2 << 20, 4096, dst);
	struct vfio_bits	 b = { 0, 2 << 20, 4, src };

	memset(dst, 0, sizeof(dst));
	cr_assert_eq(vfio_bits_merge(&b, &m, &added), 0);
	cr_assert_eq(added, 512, "a 2 MiB page marks 512 pages of 4 KiB");
	cr_assert_eq(dst[7], ~0ULL);
}

Test(vfio_parse, bits_small_source_pages)
{
	uint64_t		 dst[1] = { 0 }, src[16], added;
	struct vmig_dirty_map	 m = mkmap(0, 4 << 20, 2 << 20, dst);
	struct vfio_bits	 b = { 0, 4096, 1024, src };

	memset(src, 0, sizeof(src));
	src[0] = 0xff;		/* eight pages in the first 2 MiB */
	src[4] = 1;		/* page 256: still the first 2 MiB */
	cr_assert_eq(vfio_bits_merge(&b, &m, &added), 0);
	cr_assert_eq(dst[0], 0x1);
	cr_assert_eq(added, 1);
}

Test(vfio_parse, bits_offset_and_clipped)
{
	uint64_t		 dst[1] = { 0 }, src[1] = { 0x7 }, added;
	struct vmig_dirty_map	 m = mkmap(0x2000, 16 * 4096, 4096, dst);
	struct vfio_bits	 b = { 0x0, 4096, 3, src };

	/* pages 0x0, 0x1000 fall before dst; 0x2000 is dst bit 0 */
	cr_assert_eq(vfio_bits_merge(&b, &m, &added), 0);
	cr_assert_eq(dst[0], 0x1);
	cr_assert_eq(added, 1);
	b.iova = 0x2000 + 15 * 4096;
	src[0] = 0x3;		/* the second page is past dst's end */
	cr_assert_eq(vfio_bits_merge(&b, &m, &added), 0);
	cr_assert_eq(dst[0], 0x1 | (1ULL << 15));
}

Test(vfio_parse, bits_malformed)
{
	uint64_t		 dst[1] = { 0 }, src[1] = { 1 };
	struct vmig_dirty_map	 m = mkmap(0, 4096 * 64, 4096, dst);
	struct vfio_bits	 b = { 0, 3000, 1, src };

	cr_assert_eq(vfio_bits_merge(&b, &m, NULL), -EINVAL);
	b.page_size = 4096;
	b.iova = UINT64_MAX - 4095;
	b.npages = 2;
	cr_assert_eq(vfio_bits_merge(&b, &m, NULL), -EINVAL, "wraps");
	m.page_size = 2048;
	cr_assert_eq(vfio_map_check(&m, NULL, 0), -EINVAL);
	m.page_size = 4096;
	m.iova = 100;
	cr_assert_eq(vfio_map_check(&m, NULL, 0), -EINVAL);
	m.iova = 0;
	m.length = 0;
	cr_assert_eq(vfio_map_check(&m, NULL, 0), -EINVAL);
}

Test(vfio_parse, map_fill)
{
	uint64_t		dst[2] = { 0, 0 };
	struct vmig_dirty_map	m = mkmap(0x10000, 100 * 4096, 4096, dst);

	cr_assert_eq(vfio_map_fill(&m, 0, 0x10000 + 3 * 4096), 3);
	cr_assert_eq(vfio_map_fill(&m, 0x10000 + 2 * 4096, 1), 0);
	cr_assert_eq(vfio_map_fill(&m, 0, UINT64_MAX), 97);
	cr_assert_eq(dst[1], (1ULL << 36) - 1);
}

Test(vfio_parse, precopy_info)
{
	struct vfio_precopy_info pi = { 24, 0, 1000, 24 };
	uint64_t		 a, b;

	cr_assert_eq(vfio_precopy_parse(&pi, sizeof(pi), &a, &b), 0);
	cr_assert_eq(a, 1000);
	cr_assert_eq(b, 24);
	cr_assert_eq(vfio_precopy_parse(&pi, 16, &a, &b), -EINVAL);
}

/* ----------------------------------------------------------- specs */

Test(vfio_parse, specs)
{
	struct vfio_spec	s;
	char			err[256];

	cr_assert_eq(vfio_spec_parse("vfio:0000:3b:00.2", &s, NULL, 0), 0);
	cr_assert_eq(s.kind, VFIO_SPEC_GROUP);
	cr_assert_str_eq(s.bdf, "0000:3b:00.2");
	cr_assert_eq(vfio_spec_parse("vfio-cdev:/dev/vfio/devices/vfio3", &s,
	    NULL, 0), 0);
	cr_assert_eq(s.kind, VFIO_SPEC_CDEV);
	cr_assert_str_eq(s.path, "/dev/vfio/devices/vfio3");
	cr_assert_eq(vfio_spec_parse("vfio-cdev:0000:af:1f.7", &s, NULL, 0), 0);
	cr_assert_str_eq(s.bdf, "0000:af:1f.7");
	cr_assert_eq(vfio_spec_parse("vfio-fd:/run/vmm/vm1.sock", &s, NULL, 0),
	    0);
	cr_assert_eq(s.kind, VFIO_SPEC_FD);
	cr_assert_str_eq(s.path, "/run/vmm/vm1.sock");
	cr_assert_str_eq(s.name, "");
	cr_assert_eq(vfio_spec_parse("vfio-fd:/run/vm.sock#nic0", &s, NULL, 0),
	    0);
	cr_assert_str_eq(s.name, "nic0");
	cr_assert_eq(vfio_spec_parse("vfio:0000:3b:00.8", &s, err,
	    sizeof(err)), -EINVAL, "function 0-7");
	cr_assert(strstr(err, "PCI address") != NULL, "%s", err);
	cr_assert_eq(vfio_spec_parse("vfio:3b:00.2", &s, NULL, 0), -EINVAL);
	cr_assert_eq(vfio_spec_parse("vfio-cdev:vfio3", &s, NULL, 0), -EINVAL);
	cr_assert_eq(vfio_spec_parse("vfio-fd:/x#", &s, NULL, 0), -EINVAL);
	cr_assert_eq(vfio_spec_parse("vfio-fd:/x#a b", &s, NULL, 0), -EINVAL);
	cr_assert_eq(vfio_spec_parse("sim:/x", &s, NULL, 0), -EINVAL);
}

/* -------------------------------------------------------- hand-over */

Test(vfio_parse, handoff_roundtrip)
{
	struct vfio_handoff	h, g;
	char			line[VFIO_HANDOFF_MAX_LINE + 2];

	memset(&h, 0, sizeof(h));
	h.index[VFIO_ROLE_DEVICE] = 0;
	h.index[VFIO_ROLE_CONTAINER] = -1;
	h.index[VFIO_ROLE_IOMMUFD] = 1;
	h.nfds = 2;
	snprintf(h.bdf, sizeof(h.bdf), "0000:3b:00.2");
	h.have_devid = h.have_hwpt = h.have_ioas = 1;
	h.devid = 3;
	h.hwpt = 7;
	h.ioas = 2;
	cr_assert_eq(vfio_handoff_format(&h, line, sizeof(line)), 0);
	cr_assert_str_eq(line, "ok fds=device,iommufd bdf=0000:3b:00.2 "
	    "devid=3 hwpt=7 ioas=2\n");
	cr_assert_eq(vfio_handoff_parse(line, strlen(line), 2, &g, NULL, 0),
	    0);
	cr_assert_eq(g.index[VFIO_ROLE_IOMMUFD], 1);
	cr_assert_eq(g.index[VFIO_ROLE_CONTAINER], -1);
	cr_assert_eq(g.hwpt, 7);
	cr_assert_str_eq(g.bdf, "0000:3b:00.2");
}

Test(vfio_parse, handoff_refused_lines)
{
	struct vfio_handoff	h;
	char			err[256];
	static const struct {
		const char	*line;
		unsigned int	 nfds;
		int		 rc;
	} cases[] = {
		{ "ok fds=device future=1 bdf=0000:00:01.0\n", 1, 0 },
		{ "ok fds=device,container\n", 2, 0 },
		{ "ok fds=device,container\n", 1, -EPROTO },
		{ "ok fds=device,container,iommufd\n", 3, -EPROTO },
		{ "ok fds=device,device\n", 2, -EPROTO },
		{ "ok fds=container\n", 1, -EPROTO },
		{ "ok fds=device group=12 group=13\n", 1, -EPROTO },
		{ "ok fds=device group=-1\n", 1, -EPROTO },
		{ "ok fds=device group=99999999999\n", 1, -EPROTO },
		{ "ok fds=device bdf=nonsense\n", 1, -EPROTO },
		{ "ok fds=device,iommufd\n", 2, -EPROTO },
		{ "ok fds=device junk\n", 1, -EPROTO },
		{ "okay\n", 0, -EPROTO },
		{ "err\n", 0, -EACCES },
		{ "err no such device\n", 0, -EACCES },
	};
	unsigned int		i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		cr_assert_eq(vfio_handoff_parse(cases[i].line,
		    strlen(cases[i].line), cases[i].nfds, &h, err,
		    sizeof(err)), cases[i].rc, "%s: %s", cases[i].line, err);
	cr_assert_eq(vfio_handoff_parse("ok fds=device\0x", 16, 1, &h, NULL, 0),
	    -EPROTO, "a NUL inside");
}

/* ------------------------------------------------------------ ranges */

Test(vfio_parse, ranges_combine_smallest_gaps)
{
	struct vmig_iova_range r[5] = {
		{ 0x0000, 0x1000 }, { 0x3000, 0x1000 }, { 0x10000, 0x1000 },
		{ 0x11000, 0x1000 }, { 0x40000, 0x1000 },
	};
	unsigned int	n = vfio_ranges_combine(r, 5, 3, 4096);

	cr_assert_eq(n, 3);
	cr_assert_eq(r[0].iova, 0);
	cr_assert_eq(r[0].length, 0x4000, "gap 0x2000 merged second");
	cr_assert_eq(r[1].iova, 0x10000);
	cr_assert_eq(r[1].length, 0x2000, "adjacent merged first");
	cr_assert_eq(r[2].iova, 0x40000);
	cr_assert_eq(vfio_ranges_combine(r, 3, 1, 4096), 1);
	cr_assert_eq(r[0].length, 0x41000);
}

/* ----------------------------------------------- v2 combination arcs */

static uint32_t
st(const char *name)
{
	uint32_t	s;

	for (s = 0; s < VFIO_MIG_NSTATES; s++) {
		if (strcmp(vfio_mig_state_name(s), name) == 0)
			return (s);
	}
	cr_assert_fail("state %s", name);
	return (0);
}

/*
 * The combination transitions vfio_main.c lists above its table when
 * every optional state is supported: the layer must walk exactly these
 * (every other legal pair is one arc).
 */
static const char *const kernel_list[] = {
	"PRE_COPY PRE_COPY_P2P STOP_COPY",
	"PRE_COPY RUNNING RUNNING_P2P",
	"PRE_COPY RUNNING RUNNING_P2P STOP",
	"PRE_COPY RUNNING RUNNING_P2P STOP RESUMING",
	"PRE_COPY_P2P RUNNING_P2P RUNNING",
	"PRE_COPY_P2P RUNNING_P2P STOP",
	"PRE_COPY_P2P RUNNING_P2P STOP RESUMING",
	"RESUMING STOP RUNNING_P2P",
	"RESUMING STOP RUNNING_P2P PRE_COPY_P2P",
	"RESUMING STOP RUNNING_P2P RUNNING",
	"RESUMING STOP RUNNING_P2P RUNNING PRE_COPY",
	"RESUMING STOP STOP_COPY",
	"RUNNING RUNNING_P2P PRE_COPY_P2P",
	"RUNNING RUNNING_P2P STOP",
	"RUNNING RUNNING_P2P STOP RESUMING",
	"RUNNING RUNNING_P2P STOP STOP_COPY",
	"RUNNING_P2P RUNNING PRE_COPY",
	"RUNNING_P2P STOP RESUMING",
	"RUNNING_P2P STOP STOP_COPY",
	"STOP RUNNING_P2P PRE_COPY_P2P",
	"STOP RUNNING_P2P RUNNING",
	"STOP RUNNING_P2P RUNNING PRE_COPY",
	"STOP_COPY STOP RESUMING",
	"STOP_COPY STOP RUNNING_P2P",
	"STOP_COPY STOP RUNNING_P2P RUNNING",
};

Test(vfio_parse, v2_paths_are_the_kernels)
{
	uint32_t	 path[VFIO_MIG_MAX_PATH], want[8], cur, to;
	char		 buf[128], *t, *save;
	unsigned int	 i, k, multi = 0;
	int		 n;

	for (i = 0; i < sizeof(kernel_list) / sizeof(kernel_list[0]); i++) {
		snprintf(buf, sizeof(buf), "%s", kernel_list[i]);
		k = 0;
		for (t = strtok_r(buf, " ", &save); t != NULL;
		    t = strtok_r(NULL, " ", &save))
			want[k++] = st(t);
		n = vfio_mig_path(7, want[0], want[k - 1], path,
		    VFIO_MIG_MAX_PATH);
		cr_assert_eq(n, (int)k - 1, "%s: %d steps", kernel_list[i], n);
		for (n = 0; n < (int)k - 1; n++)
			cr_assert_eq(path[n], want[n + 1], "%s: step %d",
			    kernel_list[i], n);
	}
	for (cur = 1; cur < VFIO_MIG_NSTATES; cur++) {
		for (to = 1; to < VFIO_MIG_NSTATES; to++) {
			n = vfio_mig_path(7, cur, to, path, VFIO_MIG_MAX_PATH);
			if (cur == st("STOP_COPY") && (to == st("PRE_COPY") ||
			    to == st("PRE_COPY_P2P"))) {
				cr_assert_eq(n, -EINVAL, "blocked");
				continue;
			}
			cr_assert_geq(n, cur == to ? 0 : 1);
			multi += n > 1;
		}
	}
	cr_assert_eq(multi, sizeof(kernel_list) / sizeof(kernel_list[0]),
	    "no other pair takes more than one arc");
}

/* Without the optional states the steps through them disappear. */
Test(vfio_parse, v2_paths_skip_unsupported)
{
	uint32_t	path[VFIO_MIG_MAX_PATH];

	/* STOP_COPY only: RUNNING -> STOP is one arc, STOP_COPY two. */
	cr_assert_eq(vfio_mig_path(1, st("RUNNING"), st("STOP_COPY"), path,
	    VFIO_MIG_MAX_PATH), 2);
	cr_assert_eq(path[0], st("STOP"));
	/* PRE_COPY without P2P: PRE_COPY -> STOP_COPY is direct. */
	cr_assert_eq(vfio_mig_path(5, st("PRE_COPY"), st("STOP_COPY"), path,
	    VFIO_MIG_MAX_PATH), 1);
	cr_assert_eq(vfio_mig_path(1, st("RUNNING"), st("RUNNING_P2P"), path,
	    VFIO_MIG_MAX_PATH), -EINVAL, "not supported");
	cr_assert_eq(vfio_mig_path(7, st("RUNNING"), st("ERROR"), path,
	    VFIO_MIG_MAX_PATH), -EINVAL);
	cr_assert(vfio_mig_arc_opens(st("RUNNING"), st("PRE_COPY")));
	cr_assert(!vfio_mig_arc_opens(st("PRE_COPY_P2P"), st("STOP_COPY")));
	cr_assert_eq(vfio_mig_quiesced(3, st("RUNNING")), st("RUNNING_P2P"));
	cr_assert_eq(vfio_mig_quiesced(1, st("RUNNING")), st("RUNNING"));
}
