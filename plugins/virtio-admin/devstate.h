/*
 * devstate.h: the canonical device state ("vds"): what a virtio device's
 * migratable state means, whichever dialect read it (the draft's device
 * context TLVs, virtio 1.4 device parts, the control-vq proposal's state
 * portions). Cross-dialect migration carries this form; each end converts
 * from and to its own dialect (dialect.h).
 *
 * Why a TLV of our own and not a protobuf message: a field the destination
 * does not understand must refuse the image unless the source marked it
 * OPTIONAL (proto3 drops unknown fields silently), and the encoding must be
 * canonical, one byte string per state, because both ends compare digests
 * of the state (a protobuf parser accepts any field order and duplicates).
 * It is a device format like the dialects' own: little-endian, explicit
 * accessors, every length checked, no allocation.
 *
 * Image (version 1.0):
 *
 *	le32 magic "VDST"; le16 major (1); le16 minor (0);
 *	le32 device_type (virtio id); le32 length (header included);
 *	fields: le16 type; le16 flags; le32 length; u8 value[length]
 *
 * No padding. Fields come in strictly increasing (type, key) order; the key
 * is a field's first le16 (queues) or le32 (vendor blobs). Flags bit 0
 * OPTIONAL: a reader that does not know the type, or a destination whose
 * dialect cannot express it, may drop it; any other bit is refused, and so
 * is an unknown type without OPTIONAL. A newer minor version only adds
 * types; a different major is refused. The decoder refuses every
 * non-canonical image (order, duplicates, reserved bytes, flags that are
 * not the type's), so encode(decode(image)) == image.
 *
 * README.md has the table of types and layouts.
 */
#ifndef VA_DEVSTATE_H
#define VA_DEVSTATE_H

#include <stddef.h>
#include <stdint.h>

#define VDS_MAGIC		0x54534456u	/* "VDST" */
#define VDS_MAJOR		1
#define VDS_MINOR		0
#define VDS_HDR_LEN		16
#define VDS_FIELD_HDR_LEN	8
#define VDS_F_OPTIONAL		0x1
#define VDS_MAX_BYTES		(1u << 20)

#define VDS_T_DEVICE_FEATURES	0x0001	/* le64 bits[1..8]; OPTIONAL */
#define VDS_T_DRIVER_FEATURES	0x0002	/* le64 bits[1..8]; OPTIONAL */
#define VDS_T_COMMON_CFG	0x0003	/* le32 present; rsvd; u8 regs[64] */
#define VDS_T_DEVICE_CONFIG	0x0004	/* u8 config[1..256]; OPTIONAL */
#define VDS_T_VQ		0x0010	/* per queue, 32 bytes */
#define VDS_T_VQ_NOTIFY		0x0011	/* per queue, 8 bytes; OPTIONAL */
#define VDS_T_VQ_SPLIT		0x0012	/* per queue, 8 + 2 x own */
#define VDS_T_NET_CTRL		0x0100	/* the draft's NET_CVQ_STATE layout */
#define VDS_T_VENDOR		0x7f00	/* le32 vendor; le32 rsvd; blob */

#define VDS_COMMON_LEN		72
#define VDS_VQ_LEN		32
#define VDS_VQ_NOTIFY_LEN	8
#define VDS_VQ_SPLIT_HDR	8
#define VDS_VENDOR_HDR		8
#define VDS_NET_FIXED		528	/* mac, rx_mode, vlan, uc, mc */

#define VDS_MAX_FEATURE_WORDS	8
#define VDS_MAX_VQS		256
#define VDS_MAX_OWN		32768
#define VDS_MAX_DEVCFG		256
#define VDS_MAX_MACS		64	/* per table, as the draft */
#define VDS_MAX_VENDOR		8
#define VDS_MAX_UNKNOWN		16

/* The vendor blob of vmig-simdev's DMA engine (112 bytes, sim_dma.c). */
#define VDS_VENDOR_SIM_DMA	0x80000001u

/*
 * struct virtio_pci_common_cfg, register by register. COMMON_CFG carries
 * any subset (bit i of `present` = register i); absent registers read as
 * zero in the image. How a dialect that lacks a register gets it:
 */
enum vds_reg_class {
	VDS_RC_STATE,		/* driver-written: carried */
	VDS_RC_DERIVED,		/* a window of the feature words */
	VDS_RC_WINDOW,		/* the queue selected by queue_select */
	VDS_RC_IDENTITY,	/* read-only, the device's own: verified */
};

enum {
	VDS_R_DEVICE_FEATURE_SELECT, VDS_R_DEVICE_FEATURE,
	VDS_R_DRIVER_FEATURE_SELECT, VDS_R_DRIVER_FEATURE,
	VDS_R_CONFIG_MSIX_VECTOR, VDS_R_NUM_QUEUES, VDS_R_DEVICE_STATUS,
	VDS_R_CONFIG_GENERATION, VDS_R_QUEUE_SELECT, VDS_R_QUEUE_SIZE,
	VDS_R_QUEUE_MSIX_VECTOR, VDS_R_QUEUE_ENABLE, VDS_R_QUEUE_NOTIFY_OFF,
	VDS_R_QUEUE_DESC, VDS_R_QUEUE_DRIVER, VDS_R_QUEUE_DEVICE,
	VDS_R_QUEUE_NOTIF_CONFIG_DATA, VDS_R_QUEUE_RESET,
	VDS_R_ADMIN_QUEUE_INDEX, VDS_R_ADMIN_QUEUE_NUM,
	VDS_NREGS
};
#define VDS_REGS_ALL		((1u << VDS_NREGS) - 1)

struct vds_reg {
	uint8_t		 offset;
	uint8_t		 width;
	enum vds_reg_class class;
	const char	*name;
};

extern const struct vds_reg vds_regs[VDS_NREGS];
/* The register at a byte offset of the common config, or -1. */
int		 vds_reg_at(uint32_t offset);

/* Which parts of a queue are known. */
#define VDS_VQ_HAS_CFG		0x1
#define VDS_VQ_HAS_NOTIFY	0x2
#define VDS_VQ_HAS_SPLIT	0x4

struct vds_vq {
	uint16_t	 index;
	uint8_t		 has;		/* VDS_VQ_HAS_* */
	uint16_t	 size;
	uint16_t	 msix;
	uint16_t	 enabled;	/* 0 or 1 */
	uint64_t	 desc;
	uint64_t	 driver;
	uint64_t	 device;
	uint16_t	 notify_off;
	uint16_t	 notif_data;
	uint16_t	 avail_idx;	/* the device's next available entry */
	uint16_t	 nown;		/* device-owned descriptors */
	const uint8_t	*own;		/* nown x le16, the caller's buffer */
};

/* The net device's control-queue state (rx_mode bits as devctx.h). */
struct vds_net {
	uint8_t		 mac[6];
	uint16_t	 rx_mode;
	uint8_t		 vlan[512];
	uint32_t	 uc;
	uint32_t	 mc;
	uint8_t		 macs[2 * VDS_MAX_MACS][6];	/* uc, then mc */
};

/* A vendor blob (type VENDOR) or a field we do not know (kept as is). */
struct vds_blob {
	uint16_t	 type;
	uint16_t	 flags;
	uint32_t	 vendor;	/* VENDOR only */
	const uint8_t	*p;		/* value (VENDOR: after its header) */
	uint32_t	 len;
};

#define VDS_H_DEVICE_FEATURES	0x01
#define VDS_H_DRIVER_FEATURES	0x02
#define VDS_H_COMMON		0x04
#define VDS_H_DEVICE_CONFIG	0x08
#define VDS_H_NET		0x10

/*
 * The decoded state. Pointers (own, config, blobs) point into the buffer
 * it was decoded or converted from, which must outlive it. About 16 KiB:
 * allocate it.
 */
struct vds {
	uint32_t	 device_type;
	uint16_t	 minor;		/* of the image it came from */
	uint32_t	 have;		/* VDS_H_* */
	uint32_t	 ndev;		/* feature words */
	uint64_t	 dev_features[VDS_MAX_FEATURE_WORDS];
	uint32_t	 ndrv;
	uint64_t	 drv_features[VDS_MAX_FEATURE_WORDS];
	uint32_t	 common_present;	/* bit per register */
	uint8_t		 common[64];	/* struct virtio_pci_common_cfg */
	const uint8_t	*config;
	uint32_t	 config_len;
	struct vds_net	 net;
	uint32_t	 nvq;		/* sorted by index */
	struct vds_vq	 vq[VDS_MAX_VQS];
	uint32_t	 nvendor;	/* sorted by vendor id */
	struct vds_blob	 vendor[VDS_MAX_VENDOR];
	uint32_t	 nunknown;	/* sorted by type */
	struct vds_blob	 unknown[VDS_MAX_UNKNOWN];
};

void		 vds_init(struct vds *, uint32_t device_type);
const char	*vds_type_name(uint16_t type);
/* The canonical flags of a known type (VENDOR: the source's choice). */
uint16_t	 vds_type_flags(uint16_t type);

/* Register values of the common config (little-endian in common[]). */
uint64_t	 vds_reg_get(const struct vds *, int reg);
void		 vds_reg_set(struct vds *, int reg, uint64_t value);

/* The queue with this index; with create, add it (sorted). NULL if it
 * is not there, or there is no room. */
struct vds_vq	*vds_vq(struct vds *, uint16_t index, int create);
const struct vds_vq *vds_vq_find(const struct vds *, uint16_t index);
int		 vds_add_vendor(struct vds *, uint32_t vendor, uint16_t flags,
		    const uint8_t *p, uint32_t len, char *err, size_t errlen);

/*
 * The whole common config (struct virtio_pci_common_cfg) a state implies:
 * its present registers as they are, the absent ones from what the state
 * says elsewhere: DERIVED ones from the feature words, WINDOW ones from
 * the queue queue_select names, IDENTITY ones from base (the destination's
 * own state; may be NULL: num_queues then counts the queues, the rest read
 * 0). STATE registers it lacks read 0.
 */
void		 vds_common_full(const struct vds *, const struct vds *base,
		    uint8_t out[64]);

/* The image of a state (buf NULL: only its length); -errno with a reason
 * if the state is not one (unsorted queues, counts beyond limits). */
long		 vds_encode(const struct vds *, uint8_t *buf, size_t cap,
		    char *err, size_t errlen);
/* Decode a canonical image; -EINVAL naming the field for anything
 * malformed or non-canonical, -EPROTONOSUPPORT for another major. */
int		 vds_decode(const uint8_t *buf, size_t len, struct vds *,
		    char *err, size_t errlen);
/* The total length an image's header declares (for chunked writes): 1 and
 * *total once VDS_HDR_LEN bytes are there, 0 if fewer, -EINVAL if bad. */
int		 vds_peek_length(const uint8_t *buf, size_t len,
		    uint32_t *total, char *err, size_t errlen);

#endif /* VA_DEVSTATE_H */
