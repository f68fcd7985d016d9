/*
 * fuzz_vfio_parse.c: everything the VFIO layer reads from the kernel side
 * or from a VMM: info capability chains (region info, type1 info), the
 * capabilities found in them, dirty bitmaps merged into page sets at any
 * pair of page sizes, PRECOPY_INFO, the hand-over line and device specs.
 *
 * The first byte picks the parser. Properties beyond "no crash, no
 * out-of-bounds read": a found capability lies inside the buffer; a
 * merge only sets bits inside the map, never more than the map holds,
 * and never clears one; a hand-over line that parses names fds inside
 * the count given, and formats back to a line that parses the same.
 */
#include "config.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "vfio_dirty.h"
#include "vfio_parse.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static uint64_t
rd64(const uint8_t *p)
{
	uint64_t	v;

	memcpy(&v, p, 8);
	return (v);
}

static void
chains(const uint8_t *d, size_t n)
{
	struct vfio_area	 a[8];
	struct vfio_type1_mig	 m;
	struct vfio_cap		 c;
	uint32_t		 first, t, s;
	unsigned int		 k;
	uint16_t		 id;

	if (n < 6)
		return;
	memcpy(&first, d, 4);
	memcpy(&id, d + 4, 2);
	d += 6;
	n -= 6;
	if (vfio_cap_find(d, n, first % 128, id % 4, &c, NULL, 0) != 1)
		return;
	if (c.off >= n || c.len > n - c.off)
		abort();
	(void)vfio_cap_region_type(d, &c, &t, &s, NULL, 0);
	if (vfio_cap_sparse(d, &c, a, 8, &k, NULL, 0) == 0 &&
	    (size_t)16 + 16 * (k < 8 ? k : 8) > c.len)
		abort();
	(void)vfio_cap_type1_mig(d, &c, &m, NULL, 0);
}

static void
bitmaps(const uint8_t *d, size_t n)
{
	uint64_t		 dst[64], before[64], added, i, total = 0;
	struct vmig_dirty_map	 m;
	struct vfio_bits	 b;
	uint64_t		 words[32];

	if (n < 24)
		return;
	memset(dst, 0, sizeof(dst));
	m.page_size = 4096ULL << (d[0] % 10);
	m.iova = (rd64(d + 8) % 1024) * m.page_size;
	m.length = (1 + d[1] % 64) * 64 * m.page_size;
	if (m.length / m.page_size > 64 * 64)
		m.length = 64 * 64 * m.page_size;
	m.bits = dst;
	if (vfio_map_check(&m, NULL, 0) != 0)
		return;
	dst[d[2] % 64] = rd64(d + 16);
	memcpy(before, dst, sizeof(dst));
	b.page_size = 4096ULL << (d[3] % 12);
	if (d[4] & 1)
		b.page_size = rd64(d + 16);	/* anything, even bad */
	b.iova = rd64(d + 8) * 4096;
	b.npages = d[5] * 8u + d[6] % 8;
	memset(words, 0, sizeof(words));
	memcpy(words, d + 24, n - 24 < sizeof(words) ? n - 24 :
	    sizeof(words));
	if (vfio_bits_words(b.npages) > 32)
		b.npages = 32 * 64;
	b.words = words;
	if (vfio_bits_merge(&b, &m, &added) != 0)
		return;
	for (i = 0; i < 64; i++) {
		if ((dst[i] & before[i]) != before[i])
			abort();		/* a bit was cleared */
		total += (uint64_t)__builtin_popcountll(dst[i] & ~before[i]);
		/* nothing past the map's last page */
		if (i * 64 >= m.length / m.page_size && dst[i] != before[i])
			abort();
	}
	if (total != added)
		abort();
}

static void
handoff(const uint8_t *d, size_t n)
{
	struct vfio_handoff	h, g;
	char			line[VFIO_HANDOFF_MAX_LINE + 2];
	unsigned int		nfds;
	int			r;

	if (n < 1)
		return;
	nfds = d[0] % 5;
	if (vfio_handoff_parse((const char *)d + 1, n - 1, nfds, &h, NULL,
	    0) != 0)
		return;
	for (r = 0; r < VFIO_ROLE_N; r++) {
		if (h.index[r] >= (int)nfds)
			abort();
	}
	if (vfio_handoff_format(&h, line, sizeof(line)) != 0)
		abort();
	if (vfio_handoff_parse(line, strlen(line), h.nfds, &g, NULL, 0) != 0)
		abort();
	if (memcmp(g.index, h.index, sizeof(h.index)) != 0 ||
	    g.devid != h.devid || g.hwpt != h.hwpt ||
	    strcmp(g.bdf, h.bdf) != 0)
		abort();
}

static void
specs(const uint8_t *d, size_t n)
{
	struct vfio_spec	s;
	char			buf[400];

	if (n >= sizeof(buf))
		n = sizeof(buf) - 1;
	memcpy(buf, d, n);
	buf[n] = '\0';
	if (vfio_spec_parse(buf, &s, NULL, 0) == 0 && s.bdf[0] != '\0' &&
	    !vfio_bdf_valid(s.bdf))
		abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct vmig_iova_range	 r[16];
	uint64_t		 a, b;
	unsigned int		 k, i;

	if (size < 1)
		return (0);
	switch (data[0] % 6) {
	case 0:
		chains(data + 1, size - 1);
		break;
	case 1:
		bitmaps(data + 1, size - 1);
		break;
	case 2:
		(void)vfio_precopy_parse(data + 1, size - 1, &a, &b);
		break;
	case 3:
		handoff(data + 1, size - 1);
		break;
	case 4:
		specs(data + 1, size - 1);
		break;
	default:
		/* sorted, disjoint ranges, merged to at most k */
		for (i = 0, a = 0; i < 16 && 1 + i * 2 + 2 <= size; i++) {
			a += (uint64_t)(data[1 + i * 2] + 1) * 4096;
			r[i].iova = a;
			r[i].length = (uint64_t)(data[2 + i * 2] % 8 + 1) * 4096;
			a += r[i].length;
		}
		if (i == 0)
			break;
		k = vfio_ranges_combine(r, i, data[0] % 7 + 1, 4096);
		for (b = 0; b + 1 < k; b++) {
			if (r[b].iova + r[b].length > r[b + 1].iova)
				abort();
		}
		break;
	}
	return (0);
}
