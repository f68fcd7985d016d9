/*
 * vfio_parse.c: see vfio_parse.h. Kernel structures are host-endian
 * (they never leave the host), read with memcpy at checked offsets.
 */
#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vfio_log.h"
#include "vfio_parse.h"

#define CAP_HDR		8	/* struct vfio_info_cap_header */

static uint16_t
rd16(const uint8_t *p)
{
	uint16_t v;

	memcpy(&v, p, sizeof(v));
	return (v);
}

static uint32_t
rd32(const uint8_t *p)
{
	uint32_t v;

	memcpy(&v, p, sizeof(v));
	return (v);
}

static uint64_t
rd64(const uint8_t *p)
{
	uint64_t v;

	memcpy(&v, p, sizeof(v));
	return (v);
}

/* ------------------------------------------------------------ chains */

int
vfio_cap_find(const uint8_t *buf, size_t len, uint32_t first, uint16_t id,
    struct vfio_cap *cap, char *err, size_t errlen)
{
	uint32_t	off = first, next;
	size_t		steps = 0;

	while (off != 0) {
		if (off % 4 != 0 || off > len || len - off < CAP_HDR)
			return (vfio_err(err, errlen, -EINVAL, "capability at "
			    "offset %u is outside the %zu-byte info or "
			    "misaligned", off, len));
		next = rd32(buf + off + 4);
		/* The kernel appends: each next is further on. */
		if (next != 0 && (next <= off || next > len))
			return (vfio_err(err, errlen, -EINVAL, "capability at "
			    "offset %u points to %u (a loop or past the "
			    "%zu-byte info)", off, next, len));
		if (rd16(buf + off) == id) {
			cap->id = id;
			cap->version = rd16(buf + off + 2);
			cap->off = off;
			cap->len = (next != 0 ? next : (uint32_t)len) - off;
			return (1);
		}
		if (++steps > len / CAP_HDR)
			return (vfio_err(err, errlen, -EINVAL, "capability "
			    "chain longer than its buffer"));
		off = next;
	}
	return (0);
}

int
vfio_cap_region_type(const uint8_t *buf, const struct vfio_cap *cap,
    uint32_t *type, uint32_t *subtype, char *err, size_t errlen)
{
	if (cap->len < CAP_HDR + 8)
		return (vfio_err(err, errlen, -EINVAL, "type capability is "
		    "%u bytes, needs 16", cap->len));
	*type = rd32(buf + cap->off + CAP_HDR);
	*subtype = rd32(buf + cap->off + CAP_HDR + 4);
	return (0);
}

int
vfio_cap_sparse(const uint8_t *buf, const struct vfio_cap *cap,
    struct vfio_area *out, unsigned int max, unsigned int *n, char *err,
    size_t errlen)
{
	const uint8_t	*a;
	uint32_t	 nr, i;

	if (cap->len < CAP_HDR + 8)
		return (vfio_err(err, errlen, -EINVAL, "sparse mmap "
		    "capability is %u bytes, needs 16", cap->len));
	nr = rd32(buf + cap->off + CAP_HDR);
	if (nr > (cap->len - CAP_HDR - 8) / 16)
		return (vfio_err(err, errlen, -EINVAL, "sparse mmap "
		    "capability claims %u areas in %u bytes", nr, cap->len));
	a = buf + cap->off + CAP_HDR + 8;
	for (i = 0; i < nr && i < max; i++) {
		out[i].offset = rd64(a + 16 * i);
		out[i].size = rd64(a + 16 * i + 8);
		if (out[i].offset + out[i].size < out[i].offset)
			return (vfio_err(err, errlen, -EINVAL, "sparse mmap "
			    "area %u wraps", i));
	}
	*n = nr;
	return (0);
}

int
vfio_cap_type1_mig(const uint8_t *buf, const struct vfio_cap *cap,
    struct vfio_type1_mig *m, char *err, size_t errlen)
{
	/* flags at +8; pgsize_bitmap at +16 (x86-64 alignment), then max */
	if (cap->len < 32)
		return (vfio_err(err, errlen, -EINVAL, "type1 migration "
		    "capability is %u bytes, needs 32", cap->len));
	m->flags = rd32(buf + cap->off + 8);
	m->pgsize_bitmap = rd64(buf + cap->off + 16);
	m->max_bitmap_bytes = rd64(buf + cap->off + 24);
	return (0);
}

/* ------------------------------------------------------------ bitmaps */

static int
pow2(uint64_t v)
{
	return (v != 0 && (v & (v - 1)) == 0);
}

int
vfio_map_check(const struct vmig_dirty_map *m, char *err, size_t errlen)
{
	if (!pow2(m->page_size) || m->page_size < 4096)
		return (vfio_err(err, errlen, -EINVAL, "page size %llu is "
		    "not a power of two of at least 4096",
		    (unsigned long long)m->page_size));
	if (m->iova % m->page_size != 0 || m->length % m->page_size != 0 ||
	    m->length == 0 || m->iova + m->length - 1 < m->iova)
		return (vfio_err(err, errlen, -EINVAL, "range %#llx+%#llx is "
		    "empty, wraps or is not aligned to %llu",
		    (unsigned long long)m->iova, (unsigned long long)m->length,
		    (unsigned long long)m->page_size));
	return (0);
}

/* Set dst bits [first, last]; the number newly set. */
static uint64_t
set_bits(uint64_t *bits, uint64_t first, uint64_t last)
{
	uint64_t	n = 0, w, mask, lo, hi, old;

	for (w = first / 64; w <= last / 64; w++) {
		lo = w == first / 64 ? first % 64 : 0;
		hi = w == last / 64 ? last % 64 : 63;
		mask = (hi == 63 ? ~0ULL : ((1ULL << (hi + 1)) - 1)) &
		    ~((1ULL << lo) - 1);
		old = bits[w];
		bits[w] |= mask;
		n += (uint64_t)__builtin_popcountll(mask & ~old);
	}
	return (n);
}

uint64_t
vfio_map_fill(struct vmig_dirty_map *dst, uint64_t iova, uint64_t len)
{
	uint64_t	s, e, dend;

	if (len == 0)
		return (0);
	dend = dst->iova + dst->length;		/* checked not to wrap */
	s = iova > dst->iova ? iova : dst->iova;
	e = (iova + len < iova) ? UINT64_MAX : iova + len;
	if (e > dend)
		e = dend;
	if (s >= e)
		return (0);
	return (set_bits(dst->bits, (s - dst->iova) / dst->page_size,
	    (e - 1 - dst->iova) / dst->page_size));
}

int
vfio_bits_merge(const struct vfio_bits *src, struct vmig_dirty_map *dst,
    uint64_t *added)
{
	uint64_t	 w, word, n, a, total = 0, nwords;
	int		 b;

	if (added != NULL)
		*added = 0;
	if (!pow2(src->page_size))
		return (-EINVAL);
	if (src->npages != 0 &&
	    (src->npages > UINT64_MAX / src->page_size ||
	    src->iova + src->npages * src->page_size - 1 < src->iova))
		return (-EINVAL);
	nwords = vfio_bits_words(src->npages);
	for (w = 0; w < nwords; w++) {
		if ((word = src->words[w]) == 0)
			continue;
		/* bits past npages in the last word are ignored */
		if (w == nwords - 1 && src->npages % 64 != 0)
			word &= (1ULL << (src->npages % 64)) - 1;
		while (word != 0) {
			b = __builtin_ctzll(word);
			word &= word - 1;
			n = w * 64 + (uint64_t)b;
			a = src->iova + n * src->page_size;
			total += vfio_map_fill(dst, a, src->page_size);
		}
	}
	if (added != NULL)
		*added = total;
	return (0);
}

/* ------------------------------------------------------------ precopy */

int
vfio_precopy_parse(const void *buf, size_t len, uint64_t *initial,
    uint64_t *dirty)
{
	const uint8_t	*p = buf;

	if (len < 24)
		return (-EINVAL);
	*initial = rd64(p + 8);
	*dirty = rd64(p + 16);
	return (0);
}

/* -------------------------------------------------------------- specs */

int
vfio_bdf_valid(const char *s)
{
	static const char shape[] = "XXXX:XX:XX.X";
	size_t	i;

	if (strlen(s) != sizeof(shape) - 1)
		return (0);
	for (i = 0; shape[i] != '\0'; i++) {
		if (shape[i] == 'X' ? !isxdigit((unsigned char)s[i]) :
		    s[i] != shape[i])
			return (0);
	}
	return (s[11] >= '0' && s[11] <= '7');
}

int
vfio_spec_parse(const char *spec, struct vfio_spec *sp, char *err,
    size_t errlen)
{
	const char	*v, *hash;

	memset(sp, 0, sizeof(*sp));
	if (strncmp(spec, "vfio:", 5) == 0) {
		sp->kind = VFIO_SPEC_GROUP;
		v = spec + 5;
		if (!vfio_bdf_valid(v))
			return (vfio_err(err, errlen, -EINVAL, "%s: '%s' is not "
			    "a PCI address like 0000:3b:00.2", spec, v));
		snprintf(sp->bdf, sizeof(sp->bdf), "%s", v);
		return (0);
	}
	if (strncmp(spec, "vfio-cdev:", 10) == 0) {
		sp->kind = VFIO_SPEC_CDEV;
		v = spec + 10;
		if (vfio_bdf_valid(v))
			snprintf(sp->bdf, sizeof(sp->bdf), "%s", v);
		else if (v[0] == '/' && strlen(v) < sizeof(sp->path))
			snprintf(sp->path, sizeof(sp->path), "%s", v);
		else
			return (vfio_err(err, errlen, -EINVAL, "%s: want a PCI "
			    "address or an absolute /dev/vfio/devices path",
			    spec));
		return (0);
	}
	if (strncmp(spec, "vfio-fd:", 8) == 0) {
		sp->kind = VFIO_SPEC_FD;
		v = spec + 8;
		hash = strchr(v, '#');
		if (v[0] != '/' || (size_t)(hash != NULL ? hash - v :
		    (long)strlen(v)) >= sizeof(sp->path))
			return (vfio_err(err, errlen, -EINVAL, "%s: want an "
			    "absolute socket path (vfio-fd:/run/vmm/vm1.sock"
			    "[#NAME])", spec));
		snprintf(sp->path, sizeof(sp->path), "%.*s",
		    (int)(hash != NULL ? hash - v : (long)strlen(v)), v);
		if (hash != NULL) {
			if (strlen(hash + 1) == 0 ||
			    strlen(hash + 1) >= sizeof(sp->name) ||
			    strpbrk(hash + 1, " \t\n") != NULL)
				return (vfio_err(err, errlen, -EINVAL, "%s: the "
				    "device name after # must be 1-63 "
				    "characters without blanks", spec));
			snprintf(sp->name, sizeof(sp->name), "%s", hash + 1);
		}
		return (0);
	}
	return (vfio_err(err, errlen, -EINVAL, "%s: unknown VFIO device spec "
	    "(vfio:BDF, vfio-cdev:PATH|BDF, vfio-fd:SOCKET[#NAME])", spec));
}

/* ---------------------------------------------------------- hand-over */

static const char *const roles[VFIO_ROLE_N] = {
	[VFIO_ROLE_DEVICE] = "device",
	[VFIO_ROLE_CONTAINER] = "container",
	[VFIO_ROLE_IOMMUFD] = "iommufd",
};

/* A u32 in decimal, nothing else. */
static int
parse_u32(const char *s, size_t n, uint32_t *out)
{
	uint64_t	v = 0;
	size_t		i;

	if (n == 0 || n > 10)
		return (-1);
	for (i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return (-1);
		v = v * 10 + (uint64_t)(s[i] - '0');
	}
	if (v > UINT32_MAX)
		return (-1);
	*out = (uint32_t)v;
	return (0);
}

/* fds=a,b,c into h->index. */
static int
parse_fds(const char *v, size_t n, struct vfio_handoff *h)
{
	size_t		i = 0, j, k;
	unsigned int	idx = 0;
	int		r;

	while (i < n) {
		for (j = i; j < n && v[j] != ','; j++)
			;
		for (r = 0; r < VFIO_ROLE_N; r++) {
			k = strlen(roles[r]);
			if (j - i == k && memcmp(v + i, roles[r], k) == 0)
				break;
		}
		if (r == VFIO_ROLE_N || h->index[r] != -1 ||
		    idx >= VFIO_HANDOFF_MAX_FDS)
			return (-1);
		h->index[r] = (int)idx++;
		i = j + 1;
	}
	h->nfds = idx;
	return (idx > 0 ? 0 : -1);
}

/* One key=value of an ok line. */
static int
parse_kv(const char *k, size_t kl, const char *v, size_t vl,
    struct vfio_handoff *h, int *seen, char *err, size_t errlen)
{
	static const char *const keys[] = { "fds", "bdf", "group", "devid",
	    "hwpt", "ioas" };
	unsigned int	i;
	uint32_t	num = 0;

	for (i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
		if (kl == strlen(keys[i]) && memcmp(k, keys[i], kl) == 0)
			break;
	}
	if (i == sizeof(keys) / sizeof(keys[0]))
		return (0);	/* a later VMM's key: ignored */
	if (seen[i]++)
		return (vfio_err(err, errlen, -EPROTO, "VMM hand-over: key "
		    "%s given twice", keys[i]));
	if (i >= 2 && parse_u32(v, vl, &num) != 0)
		return (vfio_err(err, errlen, -EPROTO, "VMM hand-over: %s=%.*s "
		    "is not a number", keys[i], (int)(vl > 32 ? 32 : vl), v));
	switch (i) {
	case 0:
		if (parse_fds(v, vl, h) != 0)
			return (vfio_err(err, errlen, -EPROTO, "VMM hand-over: "
			    "fds=%.*s must list device, container, iommufd "
			    "at most once each", (int)(vl > 64 ? 64 : vl), v));
		break;
	case 1:
		if (vl >= sizeof(h->bdf))
			return (vfio_err(err, errlen, -EPROTO, "VMM hand-over: "
			    "bdf too long"));
		memcpy(h->bdf, v, vl);
		h->bdf[vl] = '\0';
		if (!vfio_bdf_valid(h->bdf))
			return (vfio_err(err, errlen, -EPROTO, "VMM hand-over: "
			    "bdf=%s is not a PCI address", h->bdf));
		break;
	case 2:
		h->group = num;
		h->have_group = 1;
		break;
	case 3:
		h->devid = num;
		h->have_devid = 1;
		break;
	case 4:
		h->hwpt = num;
		h->have_hwpt = 1;
		break;
	default:
		h->ioas = num;
		h->have_ioas = 1;
		break;
	}
	return (0);
}

int
vfio_handoff_parse(const char *line, size_t len, unsigned int nfds,
    struct vfio_handoff *h, char *err, size_t errlen)
{
	size_t	 i, ks, ke, ve;
	int	 seen[6] = { 0 }, r, rc;

	memset(h, 0, sizeof(*h));
	for (r = 0; r < VFIO_ROLE_N; r++)
		h->index[r] = -1;
	if (len > 0 && line[len - 1] == '\n')
		len--;
	if (len > VFIO_HANDOFF_MAX_LINE || memchr(line, '\0', len) != NULL ||
	    memchr(line, '\n', len) != NULL)
		return (vfio_err(err, errlen, -EPROTO, "VMM hand-over: not one "
		    "text line of at most %d bytes", VFIO_HANDOFF_MAX_LINE));
	if (len >= 3 && memcmp(line, "err", 3) == 0 &&
	    (len == 3 || line[3] == ' ')) {
		ks = len > 4 ? 4 : len;
		for (i = ks; i < len && isprint((unsigned char)line[i]); i++)
			;
		return (vfio_err(err, errlen, -EACCES, "the VMM refused: %.*s",
		    (int)(i - ks), line + ks));
	}
	if (len < 2 || memcmp(line, "ok", 2) != 0 ||
	    (len > 2 && line[2] != ' '))
		return (vfio_err(err, errlen, -EPROTO, "VMM hand-over: the "
		    "answer starts neither with ok nor with err"));
	for (i = 2; i < len; ) {
		while (i < len && line[i] == ' ')
			i++;
		if (i == len)
			break;
		ks = i;
		while (i < len && line[i] != '=' && line[i] != ' ')
			i++;
		if (i == len || line[i] != '=' || i == ks)
			return (vfio_err(err, errlen, -EPROTO, "VMM hand-over: "
			    "'%.*s' is not key=value", (int)(i - ks > 32 ? 32 :
			    i - ks), line + ks));
		ke = i++;
		while (i < len && line[i] != ' ')
			i++;
		ve = i;
		if ((rc = parse_kv(line + ks, ke - ks, line + ke + 1,
		    ve - ke - 1, h, seen, err, errlen)) != 0)
			return (rc);
	}
	if (!seen[0] || h->index[VFIO_ROLE_DEVICE] == -1)
		return (vfio_err(err, errlen, -EPROTO, "VMM hand-over: no "
		    "device fd named (fds=device,...)"));
	if (h->index[VFIO_ROLE_CONTAINER] != -1 &&
	    h->index[VFIO_ROLE_IOMMUFD] != -1)
		return (vfio_err(err, errlen, -EPROTO, "VMM hand-over: a "
		    "container and an iommufd at once"));
	if (h->nfds != nfds)
		return (vfio_err(err, errlen, -EPROTO, "VMM hand-over: the "
		    "line names %u fds, %u came with it", h->nfds, nfds));
	if (h->index[VFIO_ROLE_IOMMUFD] != -1 && !h->have_devid)
		return (vfio_err(err, errlen, -EPROTO, "VMM hand-over: an "
		    "iommufd without the device's devid"));
	return (0);
}

int
vfio_handoff_format(const struct vfio_handoff *h, char *buf, size_t len)
{
	char		 names[64] = "";
	const char	*order[VFIO_HANDOFF_MAX_FDS] = { NULL, NULL, NULL };
	unsigned int	 i;
	int		 r, n;

	for (r = 0; r < VFIO_ROLE_N; r++) {
		if (h->index[r] >= 0 && h->index[r] < VFIO_HANDOFF_MAX_FDS)
			order[h->index[r]] = roles[r];
	}
	for (i = 0; i < h->nfds && i < VFIO_HANDOFF_MAX_FDS; i++) {
		if (order[i] == NULL)
			return (-EINVAL);
		strncat(names, i ? "," : "", sizeof(names) - strlen(names) - 1);
		strncat(names, order[i], sizeof(names) - strlen(names) - 1);
	}
	n = snprintf(buf, len, "ok fds=%s", names);
	if (n >= 0 && h->bdf[0] != '\0')
		n += snprintf(buf + n, len > (size_t)n ? len - n : 0,
		    " bdf=%s", h->bdf);
	if (n >= 0 && h->have_group)
		n += snprintf(buf + n, len > (size_t)n ? len - n : 0,
		    " group=%u", h->group);
	if (n >= 0 && h->have_devid)
		n += snprintf(buf + n, len > (size_t)n ? len - n : 0,
		    " devid=%u", h->devid);
	if (n >= 0 && h->have_hwpt)
		n += snprintf(buf + n, len > (size_t)n ? len - n : 0,
		    " hwpt=%u", h->hwpt);
	if (n >= 0 && h->have_ioas)
		n += snprintf(buf + n, len > (size_t)n ? len - n : 0,
		    " ioas=%u", h->ioas);
	if (n < 0 || (size_t)n + 2 > len)
		return (-ENOSPC);
	buf[n] = '\n';
	buf[n + 1] = '\0';
	return (0);
}
