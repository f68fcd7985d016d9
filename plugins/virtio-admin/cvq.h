/*
 * cvq.h: the generic control-virtqueue proposal for VF migration (seed 003,
 * "live_migration: initial support for migrating virtio devices"), both
 * sides: the generic v1 control format, class 128 (VF_MIGRATION) and its
 * nine commands, and the device state image our devices save and restore
 * in portions (the proposal leaves that format to each device).
 *
 * A command on the queue:
 *
 *	readable: u8 class; u8 command; command-specific data
 *	writable: command-specific result; ...; u8 ack (the last byte)
 *
 * Little-endian throughout (the reviewer's point, adopted). The ack sits
 * in the last byte of the writable part whatever the result's length (as
 * Linux's control queue puts it in a descriptor of its own); the used
 * length is the result bytes written plus one. README.md ("The control-vq
 * proposal") has every choice we made where the seed is silent.
 *
 * Shared by plugin, simulator and tests: pure functions, no allocation.
 */
#ifndef VA_CVQ_H
#define VA_CVQ_H

#include <stddef.h>
#include <stdint.h>

#include "vmig/backend.h"
#include "admin.h"

#define CVQ_CLASS_VF_MIGRATION		128
/* A command as one 16-bit opcode: class << 8 | command. */
#define CVQ_OP(cmd)			((CVQ_CLASS_VF_MIGRATION << 8) | (cmd))
#define CVQ_OP_IDENTIFY			CVQ_OP(0)
#define CVQ_OP_START_DIRTY_PAGE_TRACK	CVQ_OP(1)
#define CVQ_OP_STOP_DIRTY_PAGE_TRACK	CVQ_OP(2)
#define CVQ_OP_GET_DIRTY_REPORT_SIZE	CVQ_OP(3)
#define CVQ_OP_REPORT_DIRTY_PAGES	CVQ_OP(4)
#define CVQ_OP_SET_STATE		CVQ_OP(5)
#define CVQ_OP_GET_STATE_ATTRS		CVQ_OP(6)
#define CVQ_OP_SAVE_STATE		CVQ_OP(7)
#define CVQ_OP_RESTORE_STATE		CVQ_OP(8)

#define CVQ_HDR_LEN			2	/* class, command */
#define CVQ_ACK_LEN			1
#define CVQ_ACK_OK			0
#define CVQ_ACK_ERR			1

/* IDENTIFY result: le16 mjr, mnr, ter; le16 dirty_page_track_modes;
 * le16 log_max_pages_pull_bitmap; le16 log_max_pages_pull_bytemap;
 * le32 reserved */
#define CVQ_IDENTIFY_LEN		16
#define CVQ_CAP_PUSH_BITMAP		0x1
#define CVQ_CAP_PUSH_BYTEMAP		0x2
#define CVQ_CAP_PULL_BITMAP		0x4
#define CVQ_CAP_PULL_BYTEMAP		0x8
#define CVQ_CAP_ALL			0xf

/* START data: le16 func_id; le16 mode; u8 reserved (push: the map is the
 * writable part before the ack, given through an indirect table) */
#define CVQ_START_LEN			5
#define CVQ_TRACK_PUSH_BITMAP		1
#define CVQ_TRACK_PUSH_BYTEMAP		2
#define CVQ_TRACK_PULL_BITMAP		3
#define CVQ_TRACK_PULL_BYTEMAP		4
#define CVQ_TRACK_PUSH(m)	((m) == CVQ_TRACK_PUSH_BITMAP || \
				    (m) == CVQ_TRACK_PUSH_BYTEMAP)
#define CVQ_TRACK_BYTEMAP(m)	((m) == CVQ_TRACK_PUSH_BYTEMAP || \
				    (m) == CVQ_TRACK_PULL_BYTEMAP)
/* Our choice: the map covers IOVA 0 up, one bit / byte per 4 KiB page. */
#define CVQ_PAGE_SIZE			4096

/* STOP, GET_DIRTY_REPORT_SIZE, GET_STATE_ATTRS data: le16 func_id */
#define CVQ_FUNC_LEN			2
#define CVQ_REPORT_SIZE_LEN		4	/* le32 len */
/* REPORT_DIRTY_PAGES, SAVE_STATE, RESTORE_STATE data:
 * le16 func_id; le16 reserved; le32 offset (RESTORE: then data[]) */
#define CVQ_OFFSET_LEN			8
/* SET_STATE data: le16 func_id; le16 state */
#define CVQ_SET_STATE_LEN		4
/* GET_STATE_ATTRS result: le32 len; le16 state */
#define CVQ_ATTRS_LEN			6

#define CVQ_S_INIT			0	/* reset (FLR): no DMA */
#define CVQ_S_RUNNING			1
#define CVQ_S_QUIESCED			2	/* no DMA; state may change */
#define CVQ_S_FREEZED			3	/* frozen; save / restore */
#define CVQ_S_N				4

#define CVQ_NOPS		9
extern const struct va_opinfo cvq_optab[CVQ_NOPS];
const char	*cvq_state_name(uint16_t);

/* ---------------------------------------------------- command codecs */

/* Header: class and command of a cvq opcode. */
size_t	 cvq_hdr_put(uint8_t *p, uint16_t opcode);
uint16_t cvq_hdr_get(const uint8_t *p);

size_t	 cvq_identify_put(uint8_t *p, uint16_t modes, uint16_t log_bitmap,
	    uint16_t log_bytemap);
int	 cvq_identify_get(const uint8_t *p, size_t len, uint16_t ver[3],
	    uint16_t *modes, uint16_t *log_bitmap, uint16_t *log_bytemap,
	    char *err, size_t errlen);
size_t	 cvq_start_put(uint8_t *p, uint16_t func, uint16_t mode);
int	 cvq_start_get(const uint8_t *p, size_t len, uint16_t *func,
	    uint16_t *mode, char *err, size_t errlen);
size_t	 cvq_func_put(uint8_t *p, uint16_t func);
int	 cvq_func_get(const uint8_t *p, size_t len, uint16_t *func,
	    char *err, size_t errlen);
size_t	 cvq_u32_put(uint8_t *p, uint32_t v);	/* REPORT_SIZE result */
int	 cvq_u32_get(const char *what, const uint8_t *p, size_t len,
	    uint32_t *v, char *err, size_t errlen);
size_t	 cvq_offset_put(uint8_t *p, uint16_t func, uint32_t offset);
int	 cvq_offset_get(const uint8_t *p, size_t len, uint16_t *func,
	    uint32_t *offset, char *err, size_t errlen);
size_t	 cvq_set_state_put(uint8_t *p, uint16_t func, uint16_t state);
int	 cvq_set_state_get(const uint8_t *p, size_t len, uint16_t *func,
	    uint16_t *state, char *err, size_t errlen);
size_t	 cvq_attrs_put(uint8_t *p, uint32_t len, uint16_t state);
int	 cvq_attrs_get(const uint8_t *p, size_t len, uint32_t *size,
	    uint16_t *state, char *err, size_t errlen);

/* ----------------------------------------------- dirty report / maps */

/* Bytes of the report covering [iova, iova + length): [*off, *off + *n). */
void	 cvq_report_span(uint64_t iova, uint64_t length, int bytemap,
	    uint64_t *off, uint64_t *n);
/*
 * OR report bytes (the report's bytes [at, at + n)) into the maps: each
 * set bit / non-zero byte is one 4 KiB page. *pages counts the pages the
 * device reported, *newbits bits that went from 0 to 1, *outside pages in
 * no map.
 */
void	 cvq_report_apply(const uint8_t *bytes, size_t n, uint64_t at,
	    int bytemap, struct vmig_dirty_map *, unsigned int nmaps,
	    uint64_t *pages, uint64_t *newbits, uint64_t *outside);
/* Push mode: take (atomically exchange with 0) every set entry of a map
 * the device writes, and OR it in as cvq_report_apply does. */
void	 cvq_push_harvest(uint8_t *map, size_t len, int bytemap,
	    struct vmig_dirty_map *, unsigned int nmaps, uint64_t *pages,
	    uint64_t *newbits, uint64_t *outside);

/* ----------------------------------------------------- state image */

/*
 * The state our control-vq devices save and restore (the proposal leaves
 * it to each device; ours, in portions):
 *
 *	le32 magic "CVQS"; le16 version (1); le16 count; le32 length;
 *	le32 device_type
 *	portions: u8 kind; u8 flags (bit 0 OPTIONAL); le16 key; le32 length;
 *	    value
 *
 * in ascending (kind, key) order, no padding.
 */
#define CVQ_ST_MAGIC		0x53515643u	/* "CVQS" */
#define CVQ_ST_VERSION		1
#define CVQ_ST_HDR_LEN		16
#define CVQ_PT_HDR_LEN		8
#define CVQ_PT_F_OPTIONAL	0x1
#define CVQ_ST_MAX_BYTES	(1u << 20)
#define CVQ_ST_MAX_PORTIONS	1024

#define CVQ_PT_FEATURES		0x01	/* le16 ndev, ndrv; rsvd[4]; le64s */
#define CVQ_PT_TRANSPORT	0x02	/* struct virtio_pci_common_cfg */
#define CVQ_PT_DEVCFG		0x03	/* device config bytes */
#define CVQ_PT_QUEUE		0x04	/* key = index; 40 + 2 x own */
#define CVQ_PT_NET_RX		0x10	/* le16 rx_mode; u8 mac[6] */
#define CVQ_PT_NET_VLAN		0x11	/* u8 vlan[512] */
#define CVQ_PT_NET_MACS		0x12	/* le32 uc; le32 mc; macs */
#define CVQ_PT_VENDOR		0x7f	/* le32 vendor; le32 rsvd; blob */

#define CVQ_FEATURES_HDR	8
#define CVQ_TRANSPORT_LEN	64
#define CVQ_QUEUE_HDR		40
#define CVQ_NET_RX_LEN		8
#define CVQ_NET_VLAN_LEN	512
#define CVQ_NET_MACS_HDR	8
#define CVQ_VENDOR_HDR		8

struct cvq_portion {
	uint32_t	 index;
	uint8_t		 kind;
	uint8_t		 flags;
	uint16_t	 key;
	uint32_t	 length;
	const uint8_t	*value;
	int		 known;
};

struct cvq_iter {
	const uint8_t	*buf;
	size_t		 len;
	size_t		 off;
	uint32_t	 count;
	uint32_t	 idx;
	uint32_t	 device_type;
	uint64_t	 pkey;
};

const char	*cvq_portion_name(uint8_t kind);
/* The total an image's header declares: 1 (and *total), 0 if fewer than
 * CVQ_ST_HDR_LEN bytes, -EINVAL. */
int	 cvq_state_peek(const uint8_t *buf, size_t len, uint32_t *total,
	    char *err, size_t errlen);
int	 cvq_iter_init(struct cvq_iter *, const void *buf, size_t len,
	    char *err, size_t errlen);
/* Next portion: 1, 0 at the end (count and length agree), -EINVAL. */
int	 cvq_iter_next(struct cvq_iter *, struct cvq_portion *, char *err,
	    size_t errlen);
int	 cvq_state_validate(const void *buf, size_t len, char *err,
	    size_t errlen);

struct cvq_sbuf {
	uint8_t		*p;		/* NULL: count only */
	size_t		 cap;
	size_t		 len;
	uint32_t	 count;
	int		 overflow;
	uint32_t	 device_type;
};

void	 cvq_sbuf_init(struct cvq_sbuf *, uint8_t *p, size_t cap,
	    uint32_t device_type);
uint8_t	*cvq_portion_add(struct cvq_sbuf *, uint8_t kind, uint8_t flags,
	    uint16_t key, uint32_t length);
/* Patch the header; the image length or -ENOSPC / -E2BIG. */
long	 cvq_sbuf_end(struct cvq_sbuf *);

#endif /* VA_CVQ_H */
