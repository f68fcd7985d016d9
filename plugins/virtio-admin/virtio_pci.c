/*
 * virtio_pci.c: see virtio_pci.h.
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "virtio_pci.h"

#define MAX_CAPS	48	/* (256 - 64) / 4: more is a loop */

static uint16_t
rd16(const uint8_t *p)
{
	return ((uint16_t)(p[0] | p[1] << 8));
}

static uint32_t
rd32(const uint8_t *p)
{
	return ((uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
	    (uint32_t)p[3] << 24);
}

/* A virtio vendor capability at `at` (its header checked by the caller). */
static int
vendor_cap(const uint8_t *cfg, uint8_t at, const char *name,
    struct vpci_info *vi, char *err, size_t errlen)
{
	struct vpci_area	*a;
	uint8_t			 clen = cfg[at + 2], type = cfg[at + 3];
	uint8_t			 bar = cfg[at + 4];

	switch (type) {
	case VPCI_CAP_COMMON:
		a = &vi->common;
		break;
	case VPCI_CAP_NOTIFY:
		a = &vi->notify;
		break;
	case VPCI_CAP_ISR:
		a = &vi->isr;
		break;
	case VPCI_CAP_DEVICE:
		a = &vi->device;
		break;
	default:
		return (0);	/* PCI cfg access, shared memory, vendor */
	}
	if (a->present || bar > 5)
		return (0);	/* the first usable one counts */
	if (clen < VPCI_CAP_LEN || at + clen > 256 ||
	    (type == VPCI_CAP_NOTIFY && clen < VPCI_CAP_LEN + 4)) {
		snprintf(err, errlen, "%s: virtio capability type %u at %#x "
		    "has cap_len %u (at least %u, inside the 256-byte header)",
		    name, type, at, clen, type == VPCI_CAP_NOTIFY ?
		    VPCI_CAP_LEN + 4 : VPCI_CAP_LEN);
		return (-EPROTO);
	}
	a->present = 1;
	a->bar = bar;
	a->off = rd32(cfg + at + 8);
	a->len = rd32(cfg + at + 12);
	a->cap_at = at;
	if (type == VPCI_CAP_NOTIFY)
		vi->notify_mult = rd32(cfg + at + 16);
	return (0);
}

/* SR-IOV among the extended capabilities (PCIe, from 0x100). */
static void
ext_caps(const uint8_t *cfg, size_t len, struct vpci_info *vi)
{
	uint32_t	at = 0x100, hdr;
	unsigned int	n;

	for (n = 0; n < 512 && at >= 0x100 && at + 0x14 <= len; n++) {
		hdr = rd32(cfg + at);
		if (hdr == 0 || hdr == 0xffffffff)
			return;
		if ((hdr & 0xffff) == VPCI_EXT_CAP_SRIOV) {
			vi->sriov = 1;
			vi->total_vfs = rd16(cfg + at + VPCI_SRIOV_TOTAL_VFS);
			vi->num_vfs = rd16(cfg + at + VPCI_SRIOV_NUM_VFS);
			return;
		}
		at = (hdr >> 20) & 0xffc;
	}
}

int
vpci_parse(const uint8_t *cfg, size_t len, const char *name,
    struct vpci_info *vi, char *err, size_t errlen)
{
	uint16_t	vendor;
	uint8_t		at;
	unsigned int	n;
	int		rc;

	memset(vi, 0, sizeof(*vi));
	if (len < 256) {
		snprintf(err, errlen, "%s: config space of %zu bytes (a PCI "
		    "function has 256)", name, len);
		return (-EPROTO);
	}
	vendor = rd16(cfg + VPCI_VENDOR_ID);
	vi->device_id = rd16(cfg + VPCI_DEVICE_ID);
	if (vendor != VPCI_VENDOR_VIRTIO || vi->device_id < VPCI_DEVICE_MODERN ||
	    vi->device_id > VPCI_DEVICE_MODERN + 0x3f) {
		snprintf(err, errlen, "%s: PCI %04x:%04x is not a modern virtio "
		    "device (1af4:1040-107f)", name, vendor, vi->device_id);
		return (-ENODEV);
	}
	vi->device_type = vi->device_id - VPCI_DEVICE_MODERN;
	if (!(rd16(cfg + VPCI_STATUS) & VPCI_STATUS_CAP_LIST)) {
		snprintf(err, errlen, "%s: no capability list (status bit 4 "
		    "clear): no virtio capabilities", name);
		return (-ENODEV);
	}
	for (at = cfg[VPCI_CAP_PTR] & 0xfc, n = 0; at != 0; n++) {
		if (at < 0x40 || n >= MAX_CAPS) {
			snprintf(err, errlen, "%s: capability pointer %#x %s",
			    name, at, at < 0x40 ? "points into the header" :
			    "loops");
			return (-EPROTO);
		}
		if (cfg[at] == VPCI_CAP_ID_VNDR) {
			if (at + 4 > 256) {
				snprintf(err, errlen, "%s: capability at %#x "
				    "runs past the header", name, at);
				return (-EPROTO);
			}
			if ((rc = vendor_cap(cfg, at, name, vi, err,
			    errlen)) != 0)
				return (rc);
		} else if (cfg[at] == VPCI_CAP_ID_MSIX && at + 4 <= 256)
			vi->msix_vectors = (rd16(cfg + at + 2) & 0x7ff) + 1u;
		at = cfg[at + 1] & 0xfc;
	}
	if (len >= VPCI_CFG_SIZE)
		ext_caps(cfg, len, vi);
	if (!vi->common.present || !vi->notify.present) {
		snprintf(err, errlen, "%s: no virtio %s capability (cfg_type "
		    "%d) with a valid BAR", name, !vi->common.present ?
		    "common config" : "notify", !vi->common.present ?
		    VPCI_CAP_COMMON : VPCI_CAP_NOTIFY);
		return (-ENODEV);
	}
	return (0);
}
