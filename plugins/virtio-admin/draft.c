/*
 * draft.c: the draft dialect's opcode table and command codecs (see
 * draft.h; the device context is devctx.c).
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "util.h"
#include "admin.h"

/*
 * Every opcode we speak, with its layouts. Lengths are of the
 * command-specific data (after the 24-byte header) and of the
 * command-specific result (after the 8-byte status).
 */
const struct va_opinfo va_draft_optab[VA_DRAFT_NOPS] = {
	{ VA_OP_LIST_QUERY, "LIST_QUERY", 0, 0, 0, 8, VA_VAR,
	  "-", "le64 opcodes[] (bit n = opcode n)", 0 },
	{ VA_OP_LIST_USE, "LIST_USE", 0, 8, VA_VAR, 0, 0,
	  "le64 opcodes[] (subset of LIST_QUERY)", "-", 0 },
	{ VA_OP_DEV_MODE_GET, "DEV_MODE_GET", 1, 0, 0, VA_MODE_LEN,
	  VA_MODE_LEN, "-", "u8 mode; u8 reserved[7]", 0 },
	{ VA_OP_DEV_MODE_SET, "DEV_MODE_SET", 1, VA_MODE_LEN, VA_MODE_LEN,
	  0, 0, "u8 mode; u8 reserved[7]", "-", 0 },
	{ VA_OP_DEV_CTX_SIZE_GET, "DEV_CTX_SIZE_GET", 1, 0, 0,
	  VA_CTX_SIZE_LEN, VA_CTX_SIZE_LEN, "-", "le64 size", 0 },
	{ VA_OP_DEV_CTX_READ, "DEV_CTX_READ", 1, 0, 0, VA_CTX_READ_HDR + 8,
	  VA_VAR, "-", "le32 size; le32 remaining_ctx_size; u8 data[size]",
	  0 },
	{ VA_OP_DEV_CTX_WRITE, "DEV_CTX_WRITE", 1, VA_CTX_WRITE_HDR, VA_VAR,
	  0, 0, "le32 size; le32 flags (bit 0 LAST); u8 data[size]; pad", "-",
	  0 },
	{ VA_OP_DEV_CTX_DISCARD, "DEV_CTX_DISCARD", 1, 0, 0, 0, 0, "-", "-",
	  0 },
	{ VA_OP_WRITE_RECORD_CAP_QUERY, "WRITE_RECORD_CAP_QUERY", 1, 0, 0,
	  VA_WR_CAP_LEN, VA_WR_CAP_LEN, "-",
	  "le32 supported_iova_page_size_bitmap; le32 supported_iova_ranges",
	  0 },
	{ VA_OP_WRITE_RECORDS_START, "WRITE_RECORDS_START", 1,
	  VA_WR_START_HDR + VA_WR_ENTRY_LEN, VA_VAR, 0, 0,
	  "le64 page_size; le32 count; u8 reserved[4]; "
	  "{ le64 iova; le64 page_count; } entries[count]", "-", 0 },
	{ VA_OP_WRITE_RECORDS_STOP, "WRITE_RECORDS_STOP", 1, 0, 0, 0, 0,
	  "-", "-", 0 },
	{ VA_OP_WRITE_RECORDS_READ, "WRITE_RECORDS_READ", 1, VA_WR_READ_LEN,
	  VA_WR_READ_LEN, VA_WR_RECS_HDR + VA_WR_REC_LEN, VA_VAR,
	  "le64 iova; le64 length",
	  "le32 count; le32 flags (bit 0 MORE, bit 1 LOST); "
	  "{ le64 iova; le64 length; } records[count]", 0 },
};

static const char *const va_modetab[] = {
	[VA_MODE_ACTIVE] = "active",
	[VA_MODE_STOP] = "stop",
	[VA_MODE_FREEZE] = "freeze",
};

const struct va_opinfo *
va_op_find(uint16_t opcode)
{
	size_t	i;

	for (i = 0; i < VA_DRAFT_NOPS; i++) {
		if (va_draft_optab[i].opcode == opcode)
			return (&va_draft_optab[i]);
	}
	return (NULL);
}

const struct va_opinfo *
va_op_byname(const char *name)
{
	size_t	i;

	for (i = 0; i < VA_DRAFT_NOPS; i++) {
		if (strcasecmp(va_draft_optab[i].name, name) == 0)
			return (&va_draft_optab[i]);
	}
	return (NULL);
}

const char *
va_op_name(uint16_t opcode)
{
	static __thread char	 buf[16];
	const struct va_opinfo	*oi;

	if ((oi = va_op_find(opcode)) != NULL)
		return (oi->name);
	snprintf(buf, sizeof(buf), "%#x", opcode);
	return (buf);
}

const char *
va_mode_name(uint8_t mode)
{
	if (mode < nitems(va_modetab))
		return (va_modetab[mode]);
	return ("unknown");
}

/* A result shorter than its layout is a device error, named. */
static int
short_result(const char *what, size_t len, size_t need, char *err,
    size_t errlen)
{
	if (len >= need)
		return (0);
	snprintf(err, errlen, "%s result is %zu bytes, needs %zu", what, len,
	    need);
	return (-EPROTO);
}

size_t
va_mode_put(uint8_t *p, uint8_t mode)
{
	memset(p, 0, VA_MODE_LEN);
	p[0] = mode;
	return (VA_MODE_LEN);
}

int
va_mode_get(const uint8_t *p, size_t len, uint8_t *mode, char *err,
    size_t errlen)
{
	int	rc;

	if ((rc = short_result("DEV_MODE", len, VA_MODE_LEN, err,
	    errlen)) != 0)
		return (rc);
	if (p[0] > VA_MODE_FREEZE) {
		snprintf(err, errlen, "unknown device mode %u", p[0]);
		return (-EPROTO);
	}
	*mode = p[0];
	return (0);
}

size_t
va_size_put(uint8_t *p, uint64_t size)
{
	put_le64(p, size);
	return (VA_CTX_SIZE_LEN);
}

int
va_size_get(const uint8_t *p, size_t len, uint64_t *size, char *err,
    size_t errlen)
{
	int	rc;

	if ((rc = short_result("DEV_CTX_SIZE_GET", len, VA_CTX_SIZE_LEN, err,
	    errlen)) != 0)
		return (rc);
	*size = get_le64(p);
	return (0);
}

size_t
va_ctxread_put(uint8_t *p, uint32_t size, uint32_t remaining)
{
	put_le32(p, size);
	put_le32(p + 4, remaining);
	return (VA_CTX_READ_HDR);
}

int
va_ctxread_get(const uint8_t *p, size_t len, uint32_t *size,
    uint32_t *remaining, const uint8_t **bytes, char *err, size_t errlen)
{
	int	 rc;
	uint32_t n;

	if ((rc = short_result("DEV_CTX_READ", len, VA_CTX_READ_HDR, err,
	    errlen)) != 0)
		return (rc);
	n = get_le32(p);
	if (n > len - VA_CTX_READ_HDR) {
		snprintf(err, errlen, "DEV_CTX_READ says %u bytes but only "
		    "%zu follow the header", n, len - VA_CTX_READ_HDR);
		return (-EPROTO);
	}
	*size = n;
	*remaining = get_le32(p + 4);
	*bytes = p + VA_CTX_READ_HDR;
	return (0);
}

size_t
va_ctxwrite_put(uint8_t *p, const void *bytes, uint32_t len, uint32_t flags)
{
	size_t	padded = ((size_t)len + 7) & ~(size_t)7;

	put_le32(p, len);
	put_le32(p + 4, flags);
	if (len > 0)
		memcpy(p + VA_CTX_WRITE_HDR, bytes, len);
	memset(p + VA_CTX_WRITE_HDR + len, 0, padded - len);
	return (VA_CTX_WRITE_HDR + padded);
}

int
va_ctxwrite_get(const uint8_t *p, size_t len, uint32_t *size,
    uint32_t *flags, const uint8_t **bytes, char *err, size_t errlen)
{
	uint32_t n, f;

	if (len < VA_CTX_WRITE_HDR) {
		snprintf(err, errlen, "DEV_CTX_WRITE data is %zu bytes, "
		    "shorter than its %d-byte header", len, VA_CTX_WRITE_HDR);
		return (-EINVAL);
	}
	n = get_le32(p);
	f = get_le32(p + 4);
	if (n > len - VA_CTX_WRITE_HDR) {
		snprintf(err, errlen, "DEV_CTX_WRITE says %u bytes but only "
		    "%zu follow the header", n, len - VA_CTX_WRITE_HDR);
		return (-EINVAL);
	}
	if (f & ~(uint32_t)VA_CTX_WRITE_F_LAST) {
		snprintf(err, errlen, "DEV_CTX_WRITE has unknown flags %#x",
		    f & ~(uint32_t)VA_CTX_WRITE_F_LAST);
		return (-EINVAL);
	}
	*size = n;
	*flags = f;
	*bytes = p + VA_CTX_WRITE_HDR;
	return (0);
}

size_t
va_wrcap_put(uint8_t *p, uint32_t page_sizes, uint32_t ranges)
{
	put_le32(p, page_sizes);
	put_le32(p + 4, ranges);
	return (VA_WR_CAP_LEN);
}

int
va_wrcap_get(const uint8_t *p, size_t len, uint32_t *page_sizes,
    uint32_t *ranges, char *err, size_t errlen)
{
	int	rc;

	if ((rc = short_result("WRITE_RECORD_CAP_QUERY", len, VA_WR_CAP_LEN,
	    err, errlen)) != 0)
		return (rc);
	*page_sizes = get_le32(p);
	*ranges = get_le32(p + 4);
	if (*page_sizes == 0) {
		snprintf(err, errlen, "WRITE_RECORD_CAP_QUERY reports no page "
		    "size");
		return (-EPROTO);
	}
	if (*ranges == 0) {
		snprintf(err, errlen, "WRITE_RECORD_CAP_QUERY reports zero "
		    "ranges");
		return (-EPROTO);
	}
	return (0);
}

size_t
va_wrstart_put(uint8_t *p, uint64_t page_size, const struct va_wr_range *r,
    uint32_t n)
{
	uint32_t i;

	memset(p, 0, VA_WR_START_HDR);
	put_le64(p, page_size);
	put_le32(p + 8, n);
	for (i = 0; i < n; i++) {
		put_le64(p + VA_WR_START_HDR + (size_t)i * VA_WR_ENTRY_LEN,
		    r[i].iova);
		put_le64(p + VA_WR_START_HDR + (size_t)i * VA_WR_ENTRY_LEN + 8,
		    r[i].pages);
	}
	return (VA_WR_START_HDR + (size_t)n * VA_WR_ENTRY_LEN);
}

int
va_wrstart_get(const uint8_t *p, size_t len, uint64_t *page_size,
    struct va_wr_range *out, uint32_t max, uint32_t *np, char *err,
    size_t errlen)
{
	uint64_t ps, end_i, end_j;
	uint32_t n, i, j;

	if (len < VA_WR_START_HDR) {
		snprintf(err, errlen, "WRITE_RECORDS_START data is %zu bytes, "
		    "shorter than its %d-byte header", len, VA_WR_START_HDR);
		return (-EINVAL);
	}
	ps = get_le64(p);
	n = get_le32(p + 8);
	if (ps < 4096 || (ps & (ps - 1)) != 0) {
		snprintf(err, errlen, "page size %llu is not a power of two "
		    ">= 4096", (unsigned long long)ps);
		return (-EINVAL);
	}
	if (n == 0) {
		snprintf(err, errlen, "WRITE_RECORDS_START with no range");
		return (-EINVAL);
	}
	if (n > max) {
		snprintf(err, errlen, "%u ranges, more than the %u supported",
		    n, max);
		return (-E2BIG);
	}
	if ((len - VA_WR_START_HDR) / VA_WR_ENTRY_LEN < n) {
		snprintf(err, errlen, "WRITE_RECORDS_START says %u ranges but "
		    "the data holds %zu", n,
		    (len - VA_WR_START_HDR) / VA_WR_ENTRY_LEN);
		return (-EINVAL);
	}
	for (i = 0; i < n; i++) {
		out[i].iova = get_le64(p + VA_WR_START_HDR +
		    (size_t)i * VA_WR_ENTRY_LEN);
		out[i].pages = get_le64(p + VA_WR_START_HDR +
		    (size_t)i * VA_WR_ENTRY_LEN + 8);
		if (out[i].pages == 0) {
			snprintf(err, errlen, "range %u has no pages", i);
			return (-EINVAL);
		}
		if (out[i].iova % ps != 0) {
			snprintf(err, errlen, "range %u: iova %#llx is not "
			    "aligned to the page size %llu", i,
			    (unsigned long long)out[i].iova,
			    (unsigned long long)ps);
			return (-EINVAL);
		}
		if (out[i].pages > (UINT64_MAX - out[i].iova) / ps) {
			snprintf(err, errlen, "range %u: iova %#llx + %llu "
			    "pages overflows", i,
			    (unsigned long long)out[i].iova,
			    (unsigned long long)out[i].pages);
			return (-EINVAL);
		}
	}
	/* n <= VA_WR_MAX_RANGES, so the quadratic check stays small. */
	for (i = 0; i < n; i++) {
		end_i = out[i].iova + out[i].pages * ps;
		for (j = i + 1; j < n; j++) {
			end_j = out[j].iova + out[j].pages * ps;
			if (out[i].iova < end_j && out[j].iova < end_i) {
				snprintf(err, errlen, "ranges %u and %u "
				    "overlap", i, j);
				return (-EINVAL);
			}
		}
	}
	*page_size = ps;
	*np = n;
	return (0);
}

size_t
va_wrread_put(uint8_t *p, uint64_t iova, uint64_t length)
{
	put_le64(p, iova);
	put_le64(p + 8, length);
	return (VA_WR_READ_LEN);
}

int
va_wrread_get(const uint8_t *p, size_t len, uint64_t *iova,
    uint64_t *length, char *err, size_t errlen)
{
	if (len < VA_WR_READ_LEN) {
		snprintf(err, errlen, "WRITE_RECORDS_READ data is %zu bytes, "
		    "needs %d", len, VA_WR_READ_LEN);
		return (-EINVAL);
	}
	*iova = get_le64(p);
	*length = get_le64(p + 8);
	if (*length == 0 || *length > UINT64_MAX - *iova) {
		snprintf(err, errlen, "WRITE_RECORDS_READ range %#llx+%llu is "
		    "empty or overflows", (unsigned long long)*iova,
		    (unsigned long long)*length);
		return (-EINVAL);
	}
	return (0);
}

size_t
va_wrrecs_put_hdr(uint8_t *p, uint32_t count, uint32_t flags)
{
	put_le32(p, count);
	put_le32(p + 4, flags);
	return (VA_WR_RECS_HDR);
}

void
va_wrrec_put(uint8_t *recs, uint32_t i, uint64_t iova, uint64_t len)
{
	put_le64(recs + (size_t)i * VA_WR_REC_LEN, iova);
	put_le64(recs + (size_t)i * VA_WR_REC_LEN + 8, len);
}

int
va_wrrecs_get(const uint8_t *p, size_t len, uint32_t *count,
    uint32_t *flags, const uint8_t **recs, char *err, size_t errlen)
{
	int	 rc;
	uint32_t n, f;

	if ((rc = short_result("WRITE_RECORDS_READ", len, VA_WR_RECS_HDR, err,
	    errlen)) != 0)
		return (rc);
	n = get_le32(p);
	f = get_le32(p + 4);
	if ((len - VA_WR_RECS_HDR) / VA_WR_REC_LEN < n) {
		snprintf(err, errlen, "WRITE_RECORDS_READ says %u records but "
		    "the result holds %zu", n,
		    (len - VA_WR_RECS_HDR) / VA_WR_REC_LEN);
		return (-EPROTO);
	}
	if (f & ~(uint32_t)(VA_WR_F_MORE | VA_WR_F_LOST)) {
		snprintf(err, errlen, "WRITE_RECORDS_READ has unknown flags "
		    "%#x", f);
		return (-EPROTO);
	}
	*count = n;
	*flags = f;
	*recs = p + VA_WR_RECS_HDR;
	return (0);
}

void
va_wrrec_get(const uint8_t *recs, uint32_t i, uint64_t *iova, uint64_t *len)
{
	*iova = get_le64(recs + (size_t)i * VA_WR_REC_LEN);
	*len = get_le64(recs + (size_t)i * VA_WR_REC_LEN + 8);
}

