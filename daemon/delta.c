/*
 * delta.c: byte-exact page deltas from write records (see delta.h).
 */
#include "config.h"

#include <errno.h>
#include <inttypes.h>
#include <string.h>

#include "delta.h"
#include "util.h"

void
delta_page_init(struct delta_page *d)
{
	memset(d, 0, sizeof(*d));
}

void
delta_whole(struct delta_page *d)
{
	d->whole = 1;
	d->n = 0;
}

/*
 * Insert [off, end) into the sorted, disjoint ranges, joining every range
 * it overlaps or touches. Touching ranges join too: one entry header
 * (16 bytes) costs more than the gap it would save.
 */
int
delta_add(struct delta_page *d, uint32_t page_size, uint64_t off,
    uint64_t len)
{
	uint64_t	end;
	uint32_t	i, j, k;

	if (len == 0 || off >= page_size || len > page_size - off)
		return (-EINVAL);
	if (d->whole)
		return (0);
	end = off + len;
	/* first range that ends at or after off: the merge starts there */
	for (i = 0; i < d->n && (uint64_t)d->r[i].off + d->r[i].len < off; i++)
		;
	/* ranges i..j-1 overlap or touch [off, end) */
	for (j = i; j < d->n && d->r[j].off <= end; j++) {
		if (d->r[j].off < off)
			off = d->r[j].off;
		if ((uint64_t)d->r[j].off + d->r[j].len > end)
			end = (uint64_t)d->r[j].off + d->r[j].len;
	}
	if (i == j && d->n == DELTA_RANGES_MAX) {
		delta_whole(d);	/* scattered: the page is simpler */
		return (0);
	}
	if (i == j) {		/* a new range at i */
		memmove(&d->r[i + 1], &d->r[i], (d->n - i) * sizeof(d->r[0]));
		d->n++;
	} else if (j > i + 1) {	/* i absorbs i+1..j-1 */
		for (k = 0; j + k < d->n; k++)
			d->r[i + 1 + k] = d->r[j + k];
		d->n -= j - i - 1;
	}
	d->r[i].off = (uint32_t)off;
	d->r[i].len = (uint32_t)(end - off);
	return (0);
}

uint64_t
delta_covered(const struct delta_page *d)
{
	uint64_t	sum = 0;
	uint32_t	i;

	for (i = 0; i < d->n; i++)
		sum += d->r[i].len;
	return (sum);
}

int
delta_send_whole(const struct delta_page *d, uint32_t page_size)
{
	uint64_t	wire;

	if (d->whole || d->n == 0)
		return (1);
	wire = delta_covered(d) + (uint64_t)d->n * DELTA_ENTRY_LEN;
	return (wire * 100 > (uint64_t)page_size * DELTA_WHOLE_PCT);
}

uint64_t
delta_wire_bytes(const struct delta_page *d, uint32_t page_size)
{
	if (delta_send_whole(d, page_size))
		return (page_size);
	return (delta_covered(d) + (uint64_t)d->n * DELTA_ENTRY_LEN);
}

void
delta_put_entry(uint8_t *p, const struct delta_entry *e)
{
	put_le64(p, e->page);
	put_le32(p + 8, e->off);
	put_le32(p + 12, e->len);
}

void
delta_get_entry(const uint8_t *p, struct delta_entry *e)
{
	e->page = get_le64(p);
	e->off = get_le32(p + 8);
	e->len = get_le32(p + 12);
}

size_t
delta_encode(const struct delta_page *d, uint64_t page, const uint8_t *src,
    uint8_t *out, size_t outlen)
{
	struct delta_entry	e;
	size_t			need, at;
	uint32_t		i;

	if (d->whole || d->n == 0)
		return (0);
	need = (size_t)d->n * DELTA_ENTRY_LEN + (size_t)delta_covered(d);
	if (need > outlen)
		return (0);
	at = (size_t)d->n * DELTA_ENTRY_LEN;
	for (i = 0; i < d->n; i++) {
		e.page = page;
		e.off = d->r[i].off;
		e.len = d->r[i].len;
		delta_put_entry(out + (size_t)i * DELTA_ENTRY_LEN, &e);
		memcpy(out + at, src + e.off, e.len);
		at += e.len;
	}
	return (at);
}

int
delta_decode_check(const uint8_t *buf, size_t len, uint32_t n,
    uint64_t region_pages, uint32_t page_size, char *err, size_t errlen)
{
	struct delta_entry	e, prev = { 0, 0, 0 };
	uint64_t		hdr, data = 0;
	uint32_t		i;

	hdr = (uint64_t)n * DELTA_ENTRY_LEN;
	if (n == 0 || hdr > len)
		return (err_set(err, errlen, -EBADMSG, "delta of %" PRIu32
		    " entries needs a %" PRIu64 "-byte header, the payload "
		    "has %zu bytes", n, hdr, len));
	for (i = 0; i < n; i++) {
		delta_get_entry(buf + (size_t)i * DELTA_ENTRY_LEN, &e);
		if (e.page >= region_pages)
			return (err_set(err, errlen, -EBADMSG, "delta entry "
			    "%" PRIu32 ": page %" PRIu64 " is outside the "
			    "region (%" PRIu64 " pages)", i, e.page,
			    region_pages));
		if (e.len == 0 || e.off >= page_size ||
		    e.len > page_size - e.off)
			return (err_set(err, errlen, -EBADMSG, "delta entry "
			    "%" PRIu32 ": %" PRIu32 " bytes at %" PRIu32 " do "
			    "not fit a %" PRIu32 "-byte page", i, e.len, e.off,
			    page_size));
		if (i > 0 && e.page == prev.page &&
		    e.off < (uint64_t)prev.off + prev.len)
			return (err_set(err, errlen, -EBADMSG, "delta entry "
			    "%" PRIu32 ": page %" PRIu64 " bytes at %" PRIu32
			    " overlap or precede the entry before", i, e.page,
			    e.off));
		data += e.len;
		prev = e;
	}
	if (data != len - hdr)
		return (err_set(err, errlen, -EBADMSG, "delta entries name %"
		    PRIu64 " bytes, the payload carries %" PRIu64, data,
		    (uint64_t)(len - hdr)));
	return (0);
}

void
delta_apply(uint8_t *base, uint32_t page_size, const uint8_t *buf,
    uint32_t n)
{
	struct delta_entry	e;
	size_t			at = (size_t)n * DELTA_ENTRY_LEN;
	uint32_t		i;

	for (i = 0; i < n; i++) {
		delta_get_entry(buf + (size_t)i * DELTA_ENTRY_LEN, &e);
		memcpy(base + e.page * page_size + e.off, buf + at, e.len);
		at += e.len;
	}
}
