/*
 * draft.h: the draft dialect's admin commands (seeds 000 and 002, our
 * reading where they are silent; README.md "Our reading of the draft"):
 * its opcode table (va_op_find and friends name the draft's opcodes),
 * its modes and the command-specific codecs, both sides. The device
 * context TLVs are in devctx.h.
 */
#ifndef VA_DRAFT_H
#define VA_DRAFT_H

#include <stddef.h>
#include <stdint.h>

#include "admin.h"

/* Opcodes (0x7..0xb are our reading, see README.md). */
#define VA_OP_DEV_MODE_GET		0x7
#define VA_OP_DEV_MODE_SET		0x8
#define VA_OP_DEV_CTX_SIZE_GET		0x9
#define VA_OP_DEV_CTX_READ		0xa
#define VA_OP_DEV_CTX_WRITE		0xb
#define VA_OP_DEV_CTX_DISCARD		0xc
#define VA_OP_WRITE_RECORD_CAP_QUERY	0xd
#define VA_OP_WRITE_RECORDS_START	0xe
#define VA_OP_WRITE_RECORDS_STOP	0xf
#define VA_OP_WRITE_RECORDS_READ	0x10
#define VA_OP_MAX			0x10

/* DEV_MODE_GET / DEV_MODE_SET: { u8 mode; u8 reserved[7]; } */
#define VA_MODE_ACTIVE			0
#define VA_MODE_STOP			1
#define VA_MODE_FREEZE			2
#define VA_MODE_LEN			8

/* DEV_CTX_SIZE_GET result: { le64 size; } */
#define VA_CTX_SIZE_LEN			8
/* DEV_CTX_READ result: { le32 size; le32 remaining_ctx_size; u8 data[]; } */
#define VA_CTX_READ_HDR			8
/* DEV_CTX_WRITE data: { le32 size; le32 flags; u8 data[size]; pad } */
#define VA_CTX_WRITE_HDR		8
#define VA_CTX_WRITE_F_LAST		0x1	/* this chunk ends the image */

/* WRITE_RECORD_CAP_QUERY result: { le32 page_size_bitmap; le32 ranges; } */
#define VA_WR_CAP_LEN			8
/* WRITE_RECORDS_START data: { le64 page_size; le32 count; u8 rsvd[4];
 *     { le64 iova; le64 page_count; } entries[count]; } */
#define VA_WR_START_HDR			16
#define VA_WR_ENTRY_LEN			16
#define VA_WR_MAX_RANGES		256	/* what our codec accepts */
/* WRITE_RECORDS_READ data: { le64 iova; le64 length; }
 * result: { le32 count; le32 flags; { le64 iova; le64 length; } rec[]; } */
#define VA_WR_READ_LEN			16
#define VA_WR_RECS_HDR			8
#define VA_WR_REC_LEN			16
#define VA_WR_F_MORE			0x1	/* records left in the range */
#define VA_WR_F_LOST			0x2	/* records were dropped */

/* The draft's opcode table (draft.c). */
#define VA_DRAFT_NOPS			12
extern const struct va_opinfo va_draft_optab[VA_DRAFT_NOPS];
const struct va_opinfo *va_op_find(uint16_t opcode);
const struct va_opinfo *va_op_byname(const char *name);
const char	*va_op_name(uint16_t opcode);	/* "0x1234" if unknown */
const char	*va_mode_name(uint8_t mode);

/* Each *_put returns the bytes written (a multiple of 8). */
size_t	 va_mode_put(uint8_t *p, uint8_t mode);
int	 va_mode_get(const uint8_t *p, size_t len, uint8_t *mode,
	    char *err, size_t errlen);
size_t	 va_size_put(uint8_t *p, uint64_t size);
int	 va_size_get(const uint8_t *p, size_t len, uint64_t *size,
	    char *err, size_t errlen);

size_t	 va_ctxread_put(uint8_t *p, uint32_t size, uint32_t remaining);
int	 va_ctxread_get(const uint8_t *p, size_t len, uint32_t *size,
	    uint32_t *remaining, const uint8_t **bytes, char *err,
	    size_t errlen);
/* Header + bytes + zero padding: needs VA_CTX_WRITE_HDR + len + 7. */
size_t	 va_ctxwrite_put(uint8_t *p, const void *bytes, uint32_t len,
	    uint32_t flags);
int	 va_ctxwrite_get(const uint8_t *p, size_t len, uint32_t *size,
	    uint32_t *flags, const uint8_t **bytes, char *err, size_t errlen);

size_t	 va_wrcap_put(uint8_t *p, uint32_t page_sizes, uint32_t ranges);
int	 va_wrcap_get(const uint8_t *p, size_t len, uint32_t *page_sizes,
	    uint32_t *ranges, char *err, size_t errlen);

struct va_wr_range {
	uint64_t	 iova;
	uint64_t	 pages;
};
size_t	 va_wrstart_put(uint8_t *p, uint64_t page_size,
	    const struct va_wr_range *, uint32_t n);
/* Validates: page size, count, alignment, overflow, overlap. */
int	 va_wrstart_get(const uint8_t *p, size_t len, uint64_t *page_size,
	    struct va_wr_range *out, uint32_t max, uint32_t *n, char *err,
	    size_t errlen);

size_t	 va_wrread_put(uint8_t *p, uint64_t iova, uint64_t length);
int	 va_wrread_get(const uint8_t *p, size_t len, uint64_t *iova,
	    uint64_t *length, char *err, size_t errlen);
size_t	 va_wrrecs_put_hdr(uint8_t *p, uint32_t count, uint32_t flags);
void	 va_wrrec_put(uint8_t *recs, uint32_t i, uint64_t iova, uint64_t len);
int	 va_wrrecs_get(const uint8_t *p, size_t len, uint32_t *count,
	    uint32_t *flags, const uint8_t **recs, char *err, size_t errlen);
void	 va_wrrec_get(const uint8_t *recs, uint32_t i, uint64_t *iova,
	    uint64_t *len);

#endif /* VA_DRAFT_H */
