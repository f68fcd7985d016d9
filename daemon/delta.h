/*
 * delta.h: byte-exact page deltas from write records. Pure: no I/O, no
 * job state; the engine owns where pages live.
 *
 * A write record says exactly which bytes a device wrote, and most device
 * writes (receive buffers, completion entries, descriptors) are far
 * smaller than a page. A struct delta_page collects the byte ranges the
 * records of one page named since the page was last sent, merged (sorted,
 * overlapping and touching ranges joined). If they cover a small part of
 * the page, only those bytes need to cross the stream; the page goes
 * whole when they cover more than DELTA_WHOLE_PCT of it, when there are
 * more than DELTA_RANGES_MAX ranges, or when the page was marked whole
 * (records lost, a bitmap tracker: nothing says which bytes changed).
 *
 * Wire (the bytes that follow a frame header, like a page run's): n
 * entries of { le64 page (index in the region), le32 offset, le32 length }
 * then the entries' bytes in the same order. delta_decode checks every
 * entry against the region and the payload's length before anything is
 * written, as page runs are checked: a bad delta is a protocol error,
 * never a partial write.
 */
#ifndef VMIG_DELTA_H
#define VMIG_DELTA_H

#include <stddef.h>
#include <stdint.h>

#define DELTA_RANGES_MAX	16	/* more: the whole page */
#define DELTA_WHOLE_PCT		50	/* ranges covering more: whole page */
#define DELTA_ENTRY_LEN		16	/* le64 page, le32 offset, le32 length */

struct delta_range {
	uint32_t	off;
	uint32_t	len;
};

struct delta_page {
	uint32_t		n;
	int			whole;	/* send the whole page */
	struct delta_range	r[DELTA_RANGES_MAX];	/* sorted, disjoint */
};

/* One range of one page, as on the wire. */
struct delta_entry {
	uint64_t	page;
	uint32_t	off;
	uint32_t	len;
};

void	 delta_page_init(struct delta_page *);
/*
 * Adds the bytes [off, off + len) of a page of page_size bytes, merged with
 * the ranges already there. -EINVAL (and nothing added) if the range is
 * empty or runs past the page; too many ranges make the page whole.
 */
int	 delta_add(struct delta_page *, uint32_t page_size, uint64_t off,
	    uint64_t len);
/* Marks the page whole (records lost, bitmap source). */
void	 delta_whole(struct delta_page *);
/* Bytes of the page the ranges cover. */
uint64_t delta_covered(const struct delta_page *);
/* Non-zero if the page should go whole rather than as ranges. */
int	 delta_send_whole(const struct delta_page *, uint32_t page_size);
/*
 * Bytes on the stream for this page: its ranges with their entries, or
 * the page (the policy counts these, not pages).
 */
uint64_t delta_wire_bytes(const struct delta_page *, uint32_t page_size);

/* Entry i of a payload's header (the caller checked i < n, the length). */
void	 delta_put_entry(uint8_t *, const struct delta_entry *);
void	 delta_get_entry(const uint8_t *, struct delta_entry *);

/*
 * Encodes the page's ranges (index page, contents in src, page_size bytes)
 * at out: entries first, then bytes. Returns the bytes written, or 0 if
 * outlen is too small (nothing useful is written then).
 */
size_t	 delta_encode(const struct delta_page *, uint64_t page,
	    const uint8_t *src, uint8_t *out, size_t outlen);
/*
 * Checks a payload of n entries for a region of region_pages pages of
 * page_size bytes: the header fits, every entry lies inside one page of
 * the region and is not empty, entries of one page are sorted and do not
 * overlap, and the bytes that follow are exactly the sum of the lengths.
 * 0, or -EBADMSG with a sentence in err naming the entry.
 */
int	 delta_decode_check(const uint8_t *buf, size_t len, uint32_t n,
	    uint64_t region_pages, uint32_t page_size, char *err,
	    size_t errlen);
/* Writes a checked payload into the region at base. */
void	 delta_apply(uint8_t *base, uint32_t page_size, const uint8_t *buf,
	    uint32_t n);

#endif /* VMIG_DELTA_H */
