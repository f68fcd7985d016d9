/*
 * test_devstate.c: the canonical device state codec: a full state through
 * the wire and back byte for byte, every truncation and every
 * non-canonical image refused with the field named, unknown optional
 * fields kept and unknown mandatory ones refused, and the common config a
 * state implies when a dialect carried only part of it.
 */
#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>

#include "util.h"
#include "devctx.h"
#include "devstate.h"

static char	 err[256];
static uint8_t	 own[6] = { 1, 0, 2, 0, 9, 0 };
static uint8_t	 cfg[24] = { 0x52, 0x54, 0, 1, 2, 3 };
static uint8_t	 blob[40] = { 0xde, 0xad };
static uint8_t	 unk[3] = { 7, 8, 9 };

static struct vds *
full(void)
{
	struct vds	*s = calloc(1, sizeof(*s));
	struct vds_vq	*q;
	int		 i;

	vds_init(s, 1);
	s->have = VDS_H_DEVICE_FEATURES | VDS_H_DRIVER_FEATURES |
	    VDS_H_DEVICE_CONFIG | VDS_H_NET;
	s->ndev = 2;
	s->dev_features[0] = 0x70027;
	s->dev_features[1] = 1;
	s->ndrv = 1;
	s->drv_features[0] = 0x27;
	vds_reg_set(s, VDS_R_DEVICE_STATUS, 0x0f);
	vds_reg_set(s, VDS_R_QUEUE_SELECT, 1);
	vds_reg_set(s, VDS_R_NUM_QUEUES, 3);
	s->config = cfg;
	s->config_len = sizeof(cfg);
	for (i = 2; i >= 0; i--) {	/* inserted out of order: sorted */
		q = vds_vq(s, (uint16_t)i, 1);
		q->has = VDS_VQ_HAS_CFG | VDS_VQ_HAS_SPLIT |
		    (i != 1 ? VDS_VQ_HAS_NOTIFY : 0);
		q->size = 256;
		q->msix = (uint16_t)(i + 1);
		q->enabled = 1;
		q->desc = 0x1000ULL * (i + 1);
		q->driver = q->desc + 0x100;
		q->device = q->desc + 0x200;
		q->notify_off = (uint16_t)i;
		q->avail_idx = (uint16_t)(100 * i);
		q->nown = i == 2 ? 3 : 0;
		q->own = own;
	}
	memcpy(s->net.mac, "\x02\x00\x00\x00\x00\x05", 6);
	s->net.rx_mode = VA_NET_RX_PROMISC | VA_NET_RX_NOBCAST;
	s->net.vlan[1] = 0x80;
	s->net.uc = 1;
	s->net.mc = 2;
	memset(s->net.macs, 0x11, 3 * 6);
	cr_assert_eq(vds_add_vendor(s, VDS_VENDOR_SIM_DMA, VDS_F_OPTIONAL,
	    blob, sizeof(blob), err, sizeof(err)), 0);
	cr_assert_eq(vds_add_vendor(s, 0x1234, 0, blob, 4, err, sizeof(err)),
	    0);
	s->unknown[0] = (struct vds_blob){ 0x0200, VDS_F_OPTIONAL, 0, unk, 3 };
	s->nunknown = 1;
	return (s);
}

static long
enc(const struct vds *s, uint8_t *buf, size_t cap)
{
	long	n = vds_encode(s, buf, cap, err, sizeof(err));

	cr_assert_gt(n, 0, "%s", err);
	return (n);
}

Test(devstate, roundtrip_exact)
{
	struct vds	*s = full(), *t = calloc(1, sizeof(*t));
	static uint8_t	 a[8192], b[8192];
	long		 n, m;
	uint32_t	 i;

	n = enc(s, a, sizeof(a));
	cr_assert_eq(vds_encode(s, NULL, 0, err, sizeof(err)), n);
	cr_assert_eq(vds_decode(a, (size_t)n, t, err, sizeof(err)), 0, "%s",
	    err);
	m = enc(t, b, sizeof(b));
	cr_assert_eq(m, n);
	cr_assert_eq(memcmp(a, b, (size_t)n), 0);
	/* What it means survived, not only the bytes. */
	cr_assert_eq(t->device_type, 1);
	cr_assert_eq(t->nvq, 3);
	for (i = 0; i < 3; i++)
		cr_assert_eq(t->vq[i].index, i);
	cr_assert_eq(t->vq[2].nown, 3);
	cr_assert_eq(get_le16(t->vq[2].own + 4), 9);
	cr_assert_eq(t->vq[1].has & VDS_VQ_HAS_NOTIFY, 0);
	cr_assert_eq(t->vq[2].avail_idx, 200);
	cr_assert_eq(vds_reg_get(t, VDS_R_DEVICE_STATUS), 0x0f);
	cr_assert_eq(t->common_present, (1u << VDS_R_DEVICE_STATUS) |
	    (1u << VDS_R_QUEUE_SELECT) | (1u << VDS_R_NUM_QUEUES));
	cr_assert_eq(memcmp(&t->net, &s->net, sizeof(s->net)), 0);
	cr_assert_eq(t->nvendor, 2);
	cr_assert_eq(t->vendor[0].vendor, 0x1234);
	cr_assert_eq(t->vendor[0].flags, 0);
	cr_assert_eq(t->vendor[1].flags, VDS_F_OPTIONAL);
	cr_assert_eq(t->nunknown, 1);
	cr_assert_eq(t->unknown[0].type, 0x0200);
	/* A buffer one byte short: ENOSPC, not a partial image. */
	cr_assert_eq(vds_encode(s, b, (size_t)n - 1, err, sizeof(err)),
	    -ENOSPC);
	free(s);
	free(t);
}

/* The offset of the field-th field of an image. */
static size_t
field_at(const uint8_t *a, int field)
{
	size_t	off = VDS_HDR_LEN;

	while (field-- > 0)
		off += VDS_FIELD_HDR_LEN + get_le32(a + off + 4);
	return (off);
}

Test(devstate, every_truncation_refused)
{
	struct vds	*s = full(), *t = calloc(1, sizeof(*t));
	static uint8_t	 a[8192];
	long		 n, k;
	int		 f;

	n = enc(s, a, sizeof(a));
	for (k = 0, f = 0; k < n; k++) {
		/* Cut at a field's end, it is a valid, smaller state. */
		if (k == (long)field_at(a, f)) {
			f++;
			continue;
		}
		if (k >= VDS_HDR_LEN)
			put_le32(a + 12, (uint32_t)k);	/* consistent header */
		cr_assert_neq(vds_decode(a, (size_t)k, t, err, sizeof(err)), 0,
		    "a prefix of %ld bytes was accepted", k);
	}
	put_le32(a + 12, (uint32_t)n + 1);
	cr_assert_eq(vds_decode(a, (size_t)n, t, err, sizeof(err)), -EINVAL);
	cr_assert_not_null(strstr(err, "header says"), "%s", err);
	free(s);
	free(t);
}

static void
refused(uint8_t *a, long n, const char *why)
{
	struct vds	*t = calloc(1, sizeof(*t));

	cr_assert_lt(vds_decode(a, (size_t)n, t, err, sizeof(err)), 0,
	    "accepted, expected: %s", why);
	cr_assert_not_null(strstr(err, why), "'%s' does not say '%s'", err,
	    why);
	free(t);
}

Test(devstate, noncanonical_refused)
{
	struct vds	*s = full();
	static uint8_t	 a[8192], b[8192];
	size_t		 f0, f1, l0, l1;
	long		 n;

	n = enc(s, a, sizeof(a));
	/* Two fields swapped. */
	f0 = field_at(a, 0);
	f1 = field_at(a, 1);
	l0 = f1 - f0;
	l1 = field_at(a, 2) - f1;
	memcpy(b, a, (size_t)n);
	memcpy(b + f0, a + f1, l1);
	memcpy(b + f0 + l1, a + f0, l0);
	refused(b, n, "out of canonical order");
	/* A flag that is not the type's. */
	memcpy(b, a, (size_t)n);
	put_le16(b + f0 + 2, 0);	/* DEVICE_FEATURES is OPTIONAL */
	refused(b, n, "flags 0, canonical 0x1");
	put_le16(b + f0 + 2, 0x3);
	refused(b, n, "reserved flag bits");
	/* An absent register that is not zero. */
	memcpy(b, a, (size_t)n);
	b[field_at(a, 2) + VDS_FIELD_HDR_LEN + 8] = 1;	/* common, reg 0 */
	refused(b, n, "device_feature_select is not zero");
	/* A queue twice: the second VQ made equal to the first. */
	memcpy(b, a, (size_t)n);
	put_le16(b + field_at(a, 5) + VDS_FIELD_HDR_LEN, 0);
	refused(b, n, "VQ, key 0): out of canonical order or a duplicate");
	/* VQ_NOTIFY's reserved word. */
	memcpy(b, a, (size_t)n);
	put_le16(b + field_at(a, 7) + VDS_FIELD_HDR_LEN + 6, 1);
	refused(b, n, "reserved bytes set");
	/* Owned descriptors that do not match their count. */
	memcpy(b, a, (size_t)n);
	put_le16(b + field_at(a, 11) + VDS_FIELD_HDR_LEN + 4, 4);
	refused(b, n, "4 owned descriptors need 16 bytes");
	/* Net control state: rx_mode bits, MAC counts. */
	memcpy(b, a, (size_t)n);
	put_le16(b + field_at(a, 12) + VDS_FIELD_HDR_LEN + 6, 0x40);
	refused(b, n, "unknown rx_mode bits 0x40");
	/* The other major version; not our magic. */
	memcpy(b, a, (size_t)n);
	put_le16(b + 4, 2);
	cr_assert_eq(vds_decode(b, (size_t)n, s, err, sizeof(err)),
	    -EPROTONOSUPPORT);
	put_le32(b, 0x12345678);
	refused(b, n, "not a canonical device state");
	free(s);
}

Test(devstate, unknown_types)
{
	struct vds	*s = full(), *t = calloc(1, sizeof(*t));
	static uint8_t	 a[8192];
	size_t		 f;
	long		 n;

	n = enc(s, a, sizeof(a));
	/* The unknown optional field (type 0x200) is the 14th. */
	f = field_at(a, 13);
	cr_assert_eq(get_le16(a + f), 0x0200);
	/* A newer minor's type without OPTIONAL: refused, named. */
	put_le16(a + f + 2, 0);
	put_le16(a + 6, 3);
	refused(a, n, "unknown mandatory type 0x200 (state version 1.3)");
	/* With OPTIONAL it is kept; a reader of 1.0 takes the rest. */
	put_le16(a + f + 2, VDS_F_OPTIONAL);
	cr_assert_eq(vds_decode(a, (size_t)n, t, err, sizeof(err)), 0, "%s",
	    err);
	cr_assert_eq(t->minor, 3);
	cr_assert_eq(t->nunknown, 1);
	/* A known-type field in the unknown list is no state. */
	t->unknown[0].type = VDS_T_VQ;
	cr_assert_eq(vds_encode(t, a, sizeof(a), err, sizeof(err)), -EINVAL);
	free(s);
	free(t);
}

Test(devstate, net_only_in_net_devices)
{
	struct vds	*s = full(), *t = calloc(1, sizeof(*t));
	static uint8_t	 a[8192];
	long		 n;

	s->device_type = 2;
	n = enc(s, a, sizeof(a));
	refused(a, n, "net control state in a device of type 2");
	free(s);
	free(t);
}

Test(devstate, common_full_derives)
{
	struct vds	*s = full(), *base = calloc(1, sizeof(*base));
	uint8_t		 c[64];

	/* Device feature bits 64..95 selected; queue 1 selected. */
	vds_reg_set(s, VDS_R_DEVICE_FEATURE_SELECT, 2);
	vds_common_full(s, NULL, c);
	cr_assert_eq(get_le32(c + 4), 1);		/* dev word 1, low */
	cr_assert_eq(get_le32(c + 12), 0x27);		/* drv word 0, low */
	cr_assert_eq(c[20], 0x0f);
	cr_assert_eq(get_le16(c + 22), 1);
	cr_assert_eq(get_le16(c + 24), 256);		/* queue 1's size */
	cr_assert_eq(get_le16(c + 26), 2);		/* its msix */
	cr_assert_eq(get_le64(c + 32), 0x2000);
	cr_assert_eq(get_le16(c + 18), 3);		/* present */
	/* Identity registers from the destination's own state. */
	s->common_present &= ~(1u << VDS_R_NUM_QUEUES);
	vds_init(base, 1);
	vds_reg_set(base, VDS_R_NUM_QUEUES, 9);
	vds_reg_set(base, VDS_R_CONFIG_GENERATION, 4);
	vds_common_full(s, base, c);
	cr_assert_eq(get_le16(c + 18), 9);
	cr_assert_eq(c[21], 4);
	vds_common_full(s, NULL, c);
	cr_assert_eq(get_le16(c + 18), 3, "counted");
	cr_assert_eq(vds_reg_at(21), VDS_R_CONFIG_GENERATION);
	cr_assert_eq(vds_reg_at(23), -1);
	free(s);
	free(base);
}

Test(devstate, peek_and_limits)
{
	struct vds	*s = full();
	static uint8_t	 a[8192];
	uint32_t	 total;
	long		 n;

	n = enc(s, a, sizeof(a));
	cr_assert_eq(vds_peek_length(a, 10, &total, err, sizeof(err)), 0);
	cr_assert_eq(vds_peek_length(a, 16, &total, err, sizeof(err)), 1);
	cr_assert_eq(total, (uint32_t)n);
	put_le32(a + 12, VDS_MAX_BYTES + 1);
	cr_assert_eq(vds_peek_length(a, 16, &total, err, sizeof(err)),
	    -EINVAL);
	/* Models no image can hold. */
	s->ndev = 9;
	cr_assert_eq(vds_encode(s, NULL, 0, err, sizeof(err)), -EINVAL);
	s->ndev = 2;
	s->vq[1].index = 0;
	cr_assert_eq(vds_encode(s, NULL, 0, err, sizeof(err)), -EINVAL);
	cr_assert_not_null(strstr(err, "not sorted"), "%s", err);
	s->vq[1].index = 1;
	cr_assert_eq(vds_add_vendor(s, 0x1234, 0, blob, 1, err,
	    sizeof(err)), -EINVAL);
	free(s);
}
