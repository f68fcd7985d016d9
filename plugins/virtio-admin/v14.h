/*
 * v14.h: virtio 1.4 device parts over the admin queue (reference §3.4,
 * 3.7-3.9; the spec's device-parts.tex, admin-cmds-*.tex), both sides:
 * its opcode table, the capability and resource-object commands, and the
 * device-parts codec (struct virtio_dev_part: a 16-byte header, then the
 * value). README.md ("virtio 1.4 device parts") has our choices where the
 * spec leaves room, and the numbers.
 *
 * The opcodes 0x7-0x10 collide with the draft dialect's: never look a v1.4
 * opcode up in the draft's table (va_op_find) or the other way round.
 *
 * Shared by plugin, simulator and tests: pure functions, no allocation.
 */
#ifndef VA_V14_H
#define VA_V14_H

#include <stddef.h>
#include <stdint.h>

#include "admin.h"

#define V14_OP_CAP_ID_LIST_QUERY	0x7	/* Self */
#define V14_OP_DEVICE_CAP_GET		0x8	/* Self */
#define V14_OP_DRIVER_CAP_SET		0x9	/* Self */
#define V14_OP_RESOURCE_OBJ_CREATE	0xa
#define V14_OP_RESOURCE_OBJ_MODIFY	0xb	/* not used, not offered */
#define V14_OP_RESOURCE_OBJ_QUERY	0xc	/* not used, not offered */
#define V14_OP_RESOURCE_OBJ_DESTROY	0xd
#define V14_OP_DEV_PARTS_METADATA_GET	0xe
#define V14_OP_DEV_PARTS_GET		0xf
#define V14_OP_DEV_PARTS_SET		0x10
#define V14_OP_DEV_MODE_SET		0x11
#define V14_OP_MAX			0x11

/* Capabilities: DEVICE_CAP_GET / DRIVER_CAP_SET { le16 id; u8 rsvd[6]; } */
#define V14_CAP_DEV_PARTS		0x0000
#define V14_CAP_HDR_LEN			8
#define V14_CAP_DEV_PARTS_LEN		2	/* u8 get_limit; u8 set_limit */

/* Resource objects: { le16 type; u8 reserved[2]; le32 id; } */
#define V14_OBJ_HDR_LEN			8
#define V14_OBJ_DEV_PARTS		0x0000
/* CREATE data: hdr; le64 flags (0); { u8 type; u8 reserved[7]; } */
#define V14_OBJ_CREATE_LEN		24
#define V14_PARTS_OBJ_GET		0
#define V14_PARTS_OBJ_SET		1

/* DEV_PARTS_METADATA_GET data: hdr; u8 type; u8 reserved[7] */
#define V14_META_LEN			16
#define V14_META_SIZE			0
#define V14_META_COUNT			1
#define V14_META_LIST			2
/* result: { le32 value; le32 reserved; } [+ part headers for LIST] */
#define V14_META_RES_LEN		8

/* DEV_PARTS_GET data: hdr; u8 type; u8 reserved[7]; headers[] */
#define V14_GET_HDR_LEN			16
#define V14_GET_SELECTED		0
#define V14_GET_ALL			1

/* DEV_MODE_SET data: { u8 flags; } (the driver pads it to 8) */
#define V14_MODE_F_STOPPED		0x1	/* bit 0 */
#define V14_MODE_LEN			8

/*
 * struct virtio_dev_part_hdr (16 bytes): le16 part_type; u8 flags;
 * u8 reserved; u8 selector[8]; le32 length; then u8 value[length].
 */
#define V14_PART_HDR_LEN		16
#define V14_PART_F_OPTIONAL		0x1

#define V14_PART_DEV_FEATURES		0x100	/* le64 bits[]; OPTIONAL */
#define V14_PART_DRV_FEATURES		0x101	/* le64 bits[] */
#define V14_PART_PCI_COMMON_CFG		0x102	/* selector: le32 offset */
#define V14_PART_DEVICE_STATUS		0x103	/* u8 */
#define V14_PART_VQ_CFG			0x104	/* selector: le16 index */
#define V14_PART_VQ_NOTIFY_CFG		0x105	/* selector: le16 index */
#define V14_PART_NET_CVQ		0x200	/* selector: u8 class, cmd */
#define V14_PART_VENDOR			0x5ff	/* ours: selector le32 vendor */

/* VQ_CFG: le16 queue_size; le16 vector; le16 enabled; le16 reserved;
 *	   le64 queue_desc; le64 queue_driver; le64 queue_device */
#define V14_VQ_CFG_LEN			32
/* VQ_NOTIFY_CFG: le16 queue_notify_off; le16 queue_notif_config_data;
 *	   u8 reserved[4] */
#define V14_VQ_NOTIFY_LEN		8

/* virtio-net control-queue commands a NET_CVQ part carries. */
#define V14_NET_CLASS_RX		0	/* cmd 0..5: u8 on */
#define V14_NET_CLASS_MAC		1
#define V14_NET_MAC_TABLE_SET		0	/* le32 n; macs; le32 m; macs */
#define V14_NET_MAC_ADDR_SET		1	/* u8 mac[6] */
#define V14_NET_CLASS_VLAN		2
#define V14_NET_VLAN_ADD		0	/* le16 vid, one part each */
#define V14_NET_RX_CMDS			6

#define V14_MAX_BYTES			(1u << 20)

#define V14_NOPS			11
extern const struct va_opinfo v14_optab[V14_NOPS];

/* ---------------------------------------------------- command codecs */

size_t	 v14_cap_put(uint8_t *p, uint16_t id);	/* DEVICE_CAP_GET data */
/* DRIVER_CAP_SET data for the device-parts capability (padded to 16). */
size_t	 v14_cap_set_put(uint8_t *p, uint8_t get_limit, uint8_t set_limit);
int	 v14_cap_set_get(const uint8_t *p, size_t len, uint16_t *id,
	    uint8_t *get_limit, uint8_t *set_limit, char *err, size_t errlen);
/* CAP_ID_LIST_QUERY result: does the device offer capability id? */
int	 v14_caps_get(const uint8_t *p, size_t len, uint16_t id, int *has,
	    char *err, size_t errlen);
int	 v14_parts_cap_get(const uint8_t *p, size_t len, uint8_t *get_limit,
	    uint8_t *set_limit, char *err, size_t errlen);

size_t	 v14_obj_hdr_put(uint8_t *p, uint16_t type, uint32_t id);
int	 v14_obj_hdr_get(const uint8_t *p, size_t len, uint16_t *type,
	    uint32_t *id, char *err, size_t errlen);
size_t	 v14_obj_create_put(uint8_t *p, uint32_t id, uint8_t parts_type);
int	 v14_obj_create_get(const uint8_t *p, size_t len, uint32_t *id,
	    uint8_t *parts_type, char *err, size_t errlen);

size_t	 v14_meta_put(uint8_t *p, uint32_t id, uint8_t type);
int	 v14_meta_get(const uint8_t *p, size_t len, uint32_t *id,
	    uint8_t *type, char *err, size_t errlen);
/* SIZE / COUNT result: one le32. */
int	 v14_meta_value(const uint8_t *p, size_t len, uint32_t *value,
	    char *err, size_t errlen);
/* LIST result: count, then count headers (checked against len). */
int	 v14_meta_list(const uint8_t *p, size_t len, uint32_t *count,
	    const uint8_t **hdrs, char *err, size_t errlen);

size_t	 v14_get_put(uint8_t *p, uint32_t id, uint8_t type);
int	 v14_get_get(const uint8_t *p, size_t len, uint32_t *id,
	    uint8_t *type, const uint8_t **hdrs, size_t *nhdrs, char *err,
	    size_t errlen);

size_t	 v14_mode_put(uint8_t *p, int stopped);
int	 v14_mode_get(const uint8_t *p, size_t len, int *stopped, char *err,
	    size_t errlen);

/* ------------------------------------------------------ parts codec */

struct v14_part {
	uint32_t	 index;		/* position in the list */
	uint16_t	 type;
	uint8_t		 flags;
	uint8_t		 sel[8];
	uint32_t	 length;
	const uint8_t	*value;
	size_t		 offset;	/* of the header */
	int		 known;
};

struct v14_iter {
	const uint8_t	*buf;
	size_t		 len;
	size_t		 off;
	uint32_t	 idx;
	uint16_t	 ptype;		/* for the canonical-order check */
	uint64_t	 pkey;
};

const char	*v14_part_name(uint16_t type);
/* A NET_CVQ selector of a command we keep (else: skipped if optional). */
int		 v14_net_known(const uint8_t sel[8]);
/* The order key of a part within its type (offset, index, class/cmd). */
uint64_t	 v14_part_key(uint16_t type, const uint8_t *sel,
		    const uint8_t *value, uint32_t length);

void	 v14_iter_init(struct v14_iter *, const void *buf, size_t len);
/*
 * Next part: 1, 0 at the end (up to 7 zero bytes after the last part are
 * the driver's padding to 8), -EINVAL for a truncated header, a length
 * past the end, reserved bits, an unknown mandatory type, a known type
 * with a wrong length, selector or value, or a part out of the required
 * order (ascending type, then selector; VLAN entries by id).
 */
int	 v14_iter_next(struct v14_iter *, struct v14_part *, char *err,
	    size_t errlen);
int	 v14_parts_validate(const void *buf, size_t len, char *err,
	    size_t errlen);

struct v14_pbuf {
	uint8_t		*p;		/* NULL: count only */
	size_t		 cap;
	size_t		 len;
	uint32_t	 count;
	int		 overflow;
};

void	 v14_pbuf_init(struct v14_pbuf *, uint8_t *p, size_t cap);
/* Append a part header; its zeroed value (NULL if counting / no room). */
uint8_t	*v14_part_add(struct v14_pbuf *, uint16_t type, uint8_t flags,
	    const uint8_t sel[8], uint32_t length);
/* Selectors. */
void	 v14_sel_u16(uint8_t sel[8], uint16_t v);
void	 v14_sel_u32(uint8_t sel[8], uint32_t v);
void	 v14_sel_net(uint8_t sel[8], uint8_t class, uint8_t cmd);

#endif /* VA_V14_H */
