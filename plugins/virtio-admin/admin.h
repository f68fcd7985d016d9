/*
 * admin.h: virtio admin commands, draft dialect (the seeds), both sides.
 *
 * One table (va_optab in admin.c) holds every opcode we speak with its
 * command-specific data and result layouts; README.md copies it as "our
 * reading of the draft". The encoders write little-endian bytes into a
 * caller buffer; the decoders check every length the other side supplied
 * against the buffer they were handed and say what was wrong.
 *
 * Shared by the plugin (driver), the simulator (device) and the tests: no
 * logging, no allocation.
 */
#ifndef VA_ADMIN_H
#define VA_ADMIN_H

#include <stddef.h>
#include <stdint.h>

/* Opcodes (draft dialect; 0x7..0xb are our reading, see README.md). */
#define VA_OP_LIST_QUERY		0x0
#define VA_OP_LIST_USE			0x1
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

#define VA_GROUP_SELF			0x0
#define VA_GROUP_SRIOV			0x1

/* Status (reference §3.3: errno numbers) and status qualifiers. */
#define VA_STATUS_OK			0
#define VA_STATUS_ENXIO			6
#define VA_STATUS_EAGAIN		11
#define VA_STATUS_ENOMEM		12
#define VA_STATUS_EBUSY			16
#define VA_STATUS_EINVAL		22
#define VA_STATUS_ENOSPC		28

#define VA_Q_OK				0x0
#define VA_Q_INVALID_COMMAND		0x1
#define VA_Q_INVALID_OPCODE		0x2
#define VA_Q_INVALID_FIELD		0x3
#define VA_Q_INVALID_GROUP		0x4
#define VA_Q_INVALID_MEMBER		0x5
#define VA_Q_NORESOURCE			0x6
#define VA_Q_TRYAGAIN			0x7

#define VA_HDR_LEN			24	/* opcode .. group_member_id */
#define VA_STATUS_LEN			8	/* status, qualifier, reserved */

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

/* Largest command-specific data / result our two sides exchange. */
#define VA_DATA_MAX			(4u << 20)

#define VA_VAR				UINT32_MAX

struct va_opinfo {
	uint16_t	 opcode;
	const char	*name;
	int		 per_member;	/* member = VF number, 1-based */
	uint32_t	 data_min;	/* command-specific data bytes */
	uint32_t	 data_max;	/* VA_VAR: variable */
	uint32_t	 result_min;	/* smallest result worth sending */
	uint32_t	 result_max;	/* VA_VAR: variable */
	const char	*data_layout;
	const char	*result_layout;
};

const struct va_opinfo *va_op_find(uint16_t opcode);
const struct va_opinfo *va_op_byname(const char *name);
const char	*va_op_name(uint16_t opcode);	/* "0x1234" if unknown */
const char	*va_status_name(uint16_t status);
const char	*va_qual_name(uint16_t qual);
/* Device status to a negative errno (0 for OK; unknown → -EINVAL). */
int		 va_status_errno(uint16_t status);
const char	*va_mode_name(uint8_t mode);

struct va_hdr {
	uint16_t	 opcode;
	uint16_t	 group;
	uint64_t	 member;
};

void	 va_hdr_put(uint8_t *p, uint16_t opcode, uint16_t group,
	    uint64_t member);
void	 va_hdr_get(const uint8_t *p, struct va_hdr *);
void	 va_status_put(uint8_t *p, uint16_t status, uint16_t qual);
int	 va_status_get(const uint8_t *p, size_t len, uint16_t *status,
	    uint16_t *qual, char *err, size_t errlen);

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

/* LIST_QUERY result / LIST_USE data: le64 words, bit n = opcode n. */
int	 va_list_has(const uint8_t *p, size_t len, uint16_t opcode);
void	 va_list_set(uint8_t *p, size_t len, uint16_t opcode);

#endif /* VA_ADMIN_H */
