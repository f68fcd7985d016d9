/*
 * virtio_pci.h: what a virtio PCI function shows in its config space
 * (virtio 1.x transport-pci.tex; Linux virtio_pci.h and
 * virtio_pci_modern.h), and a pure parser for it.
 *
 * The host's headers (linux-libc-dev 6.1) have no admin queue fields, so
 * the layout is carried here. The parser only reads a config space
 * snapshot: every pointer, length and BAR index in it is the device's and
 * checked before use.
 */
#ifndef VA_VIRTIO_PCI_H
#define VA_VIRTIO_PCI_H

#include <stddef.h>
#include <stdint.h>

#define VPCI_VENDOR_VIRTIO	0x1af4
#define VPCI_DEVICE_MODERN	0x1040	/* + virtio device id */
#define VPCI_CFG_SIZE		4096	/* PCIe: extended caps from 0x100 */

/* Config space header. */
#define VPCI_VENDOR_ID		0x00
#define VPCI_DEVICE_ID		0x02
#define VPCI_STATUS		0x06
#define VPCI_STATUS_CAP_LIST	0x10
#define VPCI_CAP_PTR		0x34
#define VPCI_CAP_ID_VNDR	0x09
#define VPCI_CAP_ID_MSIX	0x11
#define VPCI_EXT_CAP_SRIOV	0x0010
#define VPCI_SRIOV_TOTAL_VFS	0x0e
#define VPCI_SRIOV_NUM_VFS	0x10

/* struct virtio_pci_cap: cfg_type values. */
#define VPCI_CAP_COMMON		1
#define VPCI_CAP_NOTIFY		2
#define VPCI_CAP_ISR		3
#define VPCI_CAP_DEVICE		4
#define VPCI_CAP_LEN		16	/* notify: 20 (+ multiplier) */

/* struct virtio_pci_common_cfg (with the admin queue fields). */
#define VPCI_COMMON_DFSELECT	0x00
#define VPCI_COMMON_DF		0x04
#define VPCI_COMMON_GFSELECT	0x08
#define VPCI_COMMON_GF		0x0c
#define VPCI_COMMON_MSIX	0x10
#define VPCI_COMMON_NUMQ	0x12
#define VPCI_COMMON_STATUS	0x14
#define VPCI_COMMON_CFGGEN	0x15
#define VPCI_COMMON_Q_SELECT	0x16
#define VPCI_COMMON_Q_SIZE	0x18
#define VPCI_COMMON_Q_MSIX	0x1a
#define VPCI_COMMON_Q_ENABLE	0x1c
#define VPCI_COMMON_Q_NOFF	0x1e
#define VPCI_COMMON_Q_DESC	0x20
#define VPCI_COMMON_Q_AVAIL	0x28
#define VPCI_COMMON_Q_USED	0x30
#define VPCI_COMMON_Q_NDATA	0x38
#define VPCI_COMMON_Q_RESET	0x3a
#define VPCI_COMMON_ADM_Q_IDX	0x3c
#define VPCI_COMMON_ADM_Q_NUM	0x3e
#define VPCI_COMMON_LEN		0x40	/* offsetofend(admin_queue_num) */

/* Device status bits. */
#define VPCI_S_ACKNOWLEDGE	0x01
#define VPCI_S_DRIVER		0x02
#define VPCI_S_DRIVER_OK	0x04
#define VPCI_S_FEATURES_OK	0x08
#define VPCI_S_NEEDS_RESET	0x40
#define VPCI_S_FAILED		0x80

#define VPCI_F_VERSION_1	32
#define VPCI_F_ACCESS_PLATFORM	33
#define VPCI_F_ADMIN_VQ		41
#define VPCI_NO_VECTOR		0xffff

/* One structure a vendor capability points at. */
struct vpci_area {
	int		 present;
	uint8_t		 bar;
	uint32_t	 off;
	uint32_t	 len;
	uint8_t		 cap_at;	/* where its capability is */
};

struct vpci_info {
	uint16_t	 device_id;
	uint32_t	 device_type;	/* virtio device id */
	struct vpci_area common, notify, isr, device;
	uint32_t	 notify_mult;	/* notify_off_multiplier */
	uint32_t	 msix_vectors;	/* 0: no MSI-X capability */
	int		 sriov;		/* has the SR-IOV capability */
	uint16_t	 total_vfs;
	uint16_t	 num_vfs;
};

/*
 * Walk a config space snapshot (len bytes, 256 or 4096): the virtio
 * vendor capabilities (the first of each type with a valid BAR, as the
 * spec asks of a driver), MSI-X, and SR-IOV among the extended ones.
 * 0, or -errno and a sentence naming the field (name: the PF).
 */
int	 vpci_parse(const uint8_t *cfg, size_t len, const char *name,
	    struct vpci_info *, char *err, size_t errlen);

#endif /* VA_VIRTIO_PCI_H */
