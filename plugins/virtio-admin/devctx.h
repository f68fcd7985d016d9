/*
 * devctx.h: the device context image of the draft (seed 002):
 *
 *	struct virtio_dev_ctx { le32 field_count; struct tlv fields[]; };
 *	struct tlv { le32 type; le32 flags; le64 length; u8 value[length]; };
 *
 * Fields follow each other without padding. The seed calls the second word
 * "reserved"; our reading uses its bit 0 as OPTIONAL (a device that does
 * not know an optional type skips it; an unknown mandatory type refuses the
 * whole image), as virtio 1.4 device parts later did.
 *
 * Types (table in devctx.c, documented in README.md):
 *	0x0000 .. 0x0fff	common (0x0-0x5 from the seed)
 *	0x1000 .. 0x1fff	device-type specific (0x1000: net control-vq state)
 *	0x80000000 ..		vendor (0x80000001: the simulator's DMA engine)
 *
 * Shared by plugin, simulator and tests: pure functions, no allocation.
 */
#ifndef VA_DEVCTX_H
#define VA_DEVCTX_H

#include <stddef.h>
#include <stdint.h>

#define VA_CTX_HDR_LEN		4
#define VA_CTX_FIELD_HDR_LEN	16
#define VA_CTX_F_OPTIONAL	0x1
#define VA_CTX_MAX_BYTES	(1u << 20)	/* largest image we accept */
#define VA_CTX_MAX_FIELDS	4096

#define VA_CTX_PCI_COMMON_CFG		0x0
#define VA_CTX_DEV_CFG_LAYOUT		0x1
#define VA_CTX_DEV_FEATURES		0x2
#define VA_CTX_PCI_VQ_CFG		0x3
#define VA_CTX_VQ_SPLIT_RUNTIME		0x4
#define VA_CTX_VQ_SPLIT_DEV_OWN_DESC	0x5
#define VA_CTX_NET_CVQ_STATE		0x1000
#define VA_CTX_VENDOR_SIM_DMA		0x80000001u

/* 0x0: struct virtio_pci_common_cfg through admin_queue_num (64 bytes). */
#define VA_CTX_COMMON_LEN		64
#define VA_COMMON_NUM_QUEUES		18
#define VA_COMMON_DEVICE_STATUS		20
/* 0x3: le16 vq_index; le16 queue_size; le16 queue_msix_vector;
 *      le16 reserved; le64 queue_desc; le64 queue_driver; le64 queue_device */
#define VA_CTX_VQ_CFG_LEN		32
/* 0x4: le16 vq_index; le16 dev_avail_idx; u8 enabled; u8 reserved[3] */
#define VA_CTX_VQ_RT_LEN		8
/* 0x5: le16 vq_index; le16 desc_count; le16 desc_idx[desc_count] */
#define VA_CTX_OWN_DESC_HDR		4
/* 0x1000: u8 mac[6]; le16 rx_mode; u8 vlan_filter[512];
 *         le32 uc_count; le32 mc_count; u8 mac_table[(uc + mc) * 6] */
#define VA_CTX_CVQ_FIXED		528
#define VA_CTX_CVQ_VLAN_OFF		8
#define VA_CTX_CVQ_UC_OFF		520
#define VA_CTX_CVQ_MC_OFF		524
#define VA_CTX_CVQ_MAX_MACS		64	/* per table */
#define VA_NET_RX_PROMISC		0x01
#define VA_NET_RX_ALLMULTI		0x02
#define VA_NET_RX_ALLUNI		0x04
#define VA_NET_RX_NOMULTI		0x08
#define VA_NET_RX_NOUNI			0x10
#define VA_NET_RX_NOBCAST		0x20
#define VA_NET_RX_MASK			0x3f
/* 0x80000001: the simulator's DMA engine (layout in test/sim/sim_dma.c). */
#define VA_CTX_SIM_DMA_LEN		112

struct va_ctx_type {
	uint32_t	 type;
	const char	*name;
	uint64_t	 min_len;
	uint64_t	 max_len;
	int		 per_vq;	/* one per virtqueue, keyed by vq_index */
	/* Check the value beyond its length; 0 or -EINVAL with a reason. */
	int		(*check)(const uint8_t *v, uint64_t len, char *err,
			    size_t errlen);
};

const struct va_ctx_type *va_ctx_type_find(uint32_t type);
const char	*va_ctx_type_name(uint32_t type);
/* A known type's value (length, then check): 0 or -EINVAL with a reason. */
int		 va_ctx_value_check(const struct va_ctx_type *,
		    const uint8_t *v, uint64_t len, char *err, size_t errlen);

struct va_ctx_field {
	uint32_t	 index;		/* 0-based position in the image */
	uint32_t	 type;
	uint32_t	 flags;
	uint64_t	 length;
	uint64_t	 offset;	/* of the field header in the image */
	const uint8_t	*value;
	const struct va_ctx_type *info;	/* NULL: unknown (optional) type */
};

struct va_ctx_iter {
	const uint8_t	*buf;
	size_t		 len;
	size_t		 off;
	uint32_t	 count;
	uint32_t	 idx;
};

/* Start reading an image: checks the header. */
int	 va_ctx_iter_init(struct va_ctx_iter *, const void *buf, size_t len,
	    char *err, size_t errlen);
/*
 * Next field: 1 and the field, 0 at the end (after checking that no byte
 * trails the last field), -EINVAL for a truncated or over-long field, an
 * unknown mandatory type, a known type of the wrong size, reserved flags.
 */
int	 va_ctx_iter_next(struct va_ctx_iter *, struct va_ctx_field *,
	    char *err, size_t errlen);
/* Walk the whole image: 0 if every field is well formed. */
int	 va_ctx_validate(const void *buf, size_t len, char *err,
	    size_t errlen);

/* Building an image. p == NULL only counts (to size a buffer). */
struct va_ctx_buf {
	uint8_t		*p;
	size_t		 cap;
	size_t		 len;
	uint32_t	 count;
	int		 overflow;
};

void	 va_ctx_begin(struct va_ctx_buf *, uint8_t *p, size_t cap);
/* Append a field header; returns its zeroed value area (NULL if counting
 * or out of room). */
uint8_t	*va_ctx_add(struct va_ctx_buf *, uint32_t type, uint32_t flags,
	    uint64_t length);
/* Patch the field count; returns the image length or -ENOSPC. */
long	 va_ctx_end(struct va_ctx_buf *);

/*
 * Follow an image arriving in chunks, without keeping it, to learn where
 * it ends: 1 when it completes inside this chunk (*end = bytes of the
 * chunk that belong to it), 0 while more is needed, -EINVAL when a count
 * or length is beyond what any image may hold.
 */
struct va_ctx_tracker {
	uint64_t	 pos;		/* image bytes seen */
	uint64_t	 item_end;	/* where the current value ends */
	uint32_t	 count;
	uint32_t	 done;		/* complete fields */
	int		 state;
	uint8_t		 hbuf[VA_CTX_FIELD_HDR_LEN];
	uint32_t	 hlen;
};

void	 va_ctx_track_init(struct va_ctx_tracker *);
int	 va_ctx_track(struct va_ctx_tracker *, const void *chunk, size_t len,
	    size_t *end, char *err, size_t errlen);

#endif /* VA_DEVCTX_H */
