/*
 * admin.h: the virtio admin command framing every admin-queue dialect
 * shares (reference §3.2-3.5): the 24-byte header, the 8-byte status and
 * its qualifiers, LIST_QUERY / LIST_USE bitmaps, and struct va_opinfo, the
 * row of an opcode table. Each dialect keeps its own opcode table and
 * codecs (draft.h: the draft dialect, included below for the code that
 * predates the dialect split; v14.h; cvq.h for the control-vq framing).
 *
 * Shared by the plugin (driver), the simulator (device) and the tests: no
 * logging, no allocation.
 */
#ifndef VA_ADMIN_H
#define VA_ADMIN_H

#include <stddef.h>
#include <stdint.h>

/* Every admin dialect starts with these (reference §3.5). */
#define VA_OP_LIST_QUERY		0x0
#define VA_OP_LIST_USE			0x1

#define VA_GROUP_SELF			0x0
#define VA_GROUP_SRIOV			0x1

/* Status (reference §3.3: errno numbers) and status qualifiers. */
#define VA_STATUS_OK			0
#define VA_STATUS_ENXIO			6
#define VA_STATUS_EAGAIN		11
#define VA_STATUS_ENOMEM		12
#define VA_STATUS_EBUSY			16
#define VA_STATUS_EEXIST		17	/* v1.4 names it; ours */
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
	int		 self;		/* group Self, member 0 (v1.4 caps) */
};

/*
 * Put a reason in err and return code: what daemon/util.c's err_set does,
 * for code that the plugin compiles without libvmig.
 */
int		 va_err(char *err, size_t errlen, int code, const char *fmt,
		    ...) __attribute__((format(printf, 4, 5)));

/* 0 if len >= need, else code and "what is len bytes, needs need". */
int		 va_short(const char *what, size_t len, size_t need, int code,
		    char *err, size_t errlen);

const char	*va_status_name(uint16_t status);
const char	*va_qual_name(uint16_t qual);
/* Device status to a negative errno (0 for OK; unknown → -EINVAL). */
int		 va_status_errno(uint16_t status);

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

/* LIST_QUERY result / LIST_USE data: le64 words, bit n = opcode n. */
int	 va_list_has(const uint8_t *p, size_t len, uint16_t opcode);
void	 va_list_set(uint8_t *p, size_t len, uint16_t opcode);

#include "draft.h"

#endif /* VA_ADMIN_H */
