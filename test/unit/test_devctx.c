/*
 * test_devctx.c: the device context TLV codec: building, reading, every
 * truncation and over-long length refused, unknown mandatory vs optional
 * types, the per-type checks, and the streaming tracker that finds where
 * an image ends.
 */
#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>

#include "util.h"
#include "devctx.h"

static char	err[256];

/* A small valid image with one of each type. */
static size_t
build(uint8_t *buf, size_t cap)
{
	struct va_ctx_buf b;
	uint8_t		*v;
	long		 n;
	int		 i;

	va_ctx_begin(&b, buf, cap);
	v = va_ctx_add(&b, VA_CTX_PCI_COMMON_CFG, 0, VA_CTX_COMMON_LEN);
	if (v != NULL)
		v[VA_COMMON_NUM_QUEUES] = 3;
	v = va_ctx_add(&b, VA_CTX_DEV_CFG_LAYOUT, 0, 24);
	if (v != NULL)
		memset(v, 0x11, 24);
	v = va_ctx_add(&b, VA_CTX_DEV_FEATURES, 0, 16);
	if (v != NULL)
		put_le64(v, 1ULL << 32);
	for (i = 0; i < 3; i++) {
		v = va_ctx_add(&b, VA_CTX_PCI_VQ_CFG, 0, VA_CTX_VQ_CFG_LEN);
		if (v != NULL) {
			put_le16(v, (uint16_t)i);
			put_le16(v + 2, 256);
		}
	}
	v = va_ctx_add(&b, VA_CTX_VQ_SPLIT_RUNTIME, 0, VA_CTX_VQ_RT_LEN);
	if (v != NULL)
		v[4] = 1;
	v = va_ctx_add(&b, VA_CTX_VQ_SPLIT_DEV_OWN_DESC, 0, 4 + 2 * 3);
	if (v != NULL)
		put_le16(v + 2, 3);
	v = va_ctx_add(&b, VA_CTX_NET_CVQ_STATE, 0, VA_CTX_CVQ_FIXED + 12);
	if (v != NULL) {
		put_le32(v + VA_CTX_CVQ_UC_OFF, 1);
		put_le32(v + VA_CTX_CVQ_MC_OFF, 1);
	}
	v = va_ctx_add(&b, VA_CTX_VENDOR_SIM_DMA, VA_CTX_F_OPTIONAL,
	    VA_CTX_SIM_DMA_LEN);
	if (v != NULL)
		put_le32(v, 1);
	v = va_ctx_add(&b, 0x90000000u, VA_CTX_F_OPTIONAL, 5);
	n = va_ctx_end(&b);
	cr_assert_gt(n, 0);
	return ((size_t)n);
}

Test(devctx, build_and_read)
{
	static uint8_t	 buf[4096];
	struct va_ctx_iter it;
	struct va_ctx_field f;
	size_t		 n, counted;
	uint32_t	 types[16];
	int		 k = 0, rc;

	counted = build(NULL, 0);
	n = build(buf, sizeof(buf));
	cr_assert_eq(n, counted, "counting and building agree");
	cr_assert_eq(get_le32(buf), 11);
	cr_assert_eq(va_ctx_validate(buf, n, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(va_ctx_iter_init(&it, buf, n, err, sizeof(err)), 0);
	while ((rc = va_ctx_iter_next(&it, &f, err, sizeof(err))) == 1)
		types[k++] = f.type;
	cr_assert_eq(rc, 0, "%s", err);
	cr_assert_eq(k, 11);
	cr_assert_eq(types[0], VA_CTX_PCI_COMMON_CFG);
	cr_assert_eq(types[10], 0x90000000u);
	cr_assert_null(va_ctx_type_find(0x90000000u));
	cr_assert_str_eq(va_ctx_type_name(VA_CTX_NET_CVQ_STATE),
	    "NET_CVQ_STATE");
	/* Too small a buffer: the builder says so, never overruns. */
	{
		struct va_ctx_buf b;

		va_ctx_begin(&b, NULL, 0);
		cr_assert_eq(va_ctx_end(&b), 4, "an empty image is its count");

		va_ctx_begin(&b, buf, 40);
		cr_assert_not_null(va_ctx_add(&b, VA_CTX_DEV_FEATURES, 0, 8));
		cr_assert_null(va_ctx_add(&b, VA_CTX_DEV_FEATURES, 0, 16));
		cr_assert_eq(va_ctx_end(&b), -ENOSPC);
	}
}

Test(devctx, every_truncation_refused)
{
	static uint8_t	buf[4096];
	size_t		n, l;

	n = build(buf, sizeof(buf));
	for (l = 0; l < n; l++)
		cr_assert_eq(va_ctx_validate(buf, l, err, sizeof(err)),
		    -EINVAL, "a %zu-byte prefix of %zu passed", l, n);
	/* And anything trailing. */
	cr_assert_eq(va_ctx_validate(buf, n + 1, err, sizeof(err)), -EINVAL);
	cr_assert_not_null(strstr(err, "trail"), "%s", err);
}

Test(devctx, lengths_refused)
{
	static uint8_t	buf[4096];
	size_t		n;
	uint64_t	l;

	n = build(buf, sizeof(buf));
	/* The first field's length, past the end in many ways. */
	for (l = n; l < n + 64; l++) {
		put_le64(buf + 4 + 8, l);
		cr_assert_eq(va_ctx_validate(buf, n, err, sizeof(err)),
		    -EINVAL);
	}
	put_le64(buf + 4 + 8, UINT64_MAX);
	cr_assert_eq(va_ctx_validate(buf, n, err, sizeof(err)), -EINVAL);
	cr_assert_not_null(strstr(err, "runs past"), "%s", err);
	/* A known type of the wrong size. */
	put_le64(buf + 4 + 8, VA_CTX_COMMON_LEN - 1);
	cr_assert_eq(va_ctx_validate(buf, n, err, sizeof(err)), -EINVAL);
	/* A count larger than the fields present, and absurd. */
	n = build(buf, sizeof(buf));
	put_le32(buf, 12);
	cr_assert_eq(va_ctx_validate(buf, n, err, sizeof(err)), -EINVAL);
	put_le32(buf, UINT32_MAX);
	cr_assert_eq(va_ctx_validate(buf, n, err, sizeof(err)), -EINVAL);
	cr_assert_not_null(strstr(err, "claims"), "%s", err);
	put_le32(buf, 0);
	cr_assert_eq(va_ctx_validate(buf, n, err, sizeof(err)), -EINVAL);
	cr_assert_eq(va_ctx_validate(buf, 4, err, sizeof(err)), 0);
	cr_assert_eq(va_ctx_validate(buf, VA_CTX_MAX_BYTES + 1, err,
	    sizeof(err)), -EINVAL);
}

Test(devctx, types_and_flags)
{
	static uint8_t	buf[4096];
	size_t		n;

	n = build(buf, sizeof(buf));
	/* Unknown mandatory: refused; optional: skipped. */
	put_le32(buf + 4, 0x4242);
	cr_assert_eq(va_ctx_validate(buf, n, err, sizeof(err)), -EINVAL);
	cr_assert_not_null(strstr(err, "unknown mandatory type 0x4242"));
	put_le32(buf + 8, VA_CTX_F_OPTIONAL);
	cr_assert_eq(va_ctx_validate(buf, n, err, sizeof(err)), 0, "%s", err);
	put_le32(buf + 8, 2);
	cr_assert_eq(va_ctx_validate(buf, n, err, sizeof(err)), -EINVAL);
	cr_assert_not_null(strstr(err, "reserved flag"));
}

/* Find a field by type and return its value. */
static uint8_t *
field(uint8_t *buf, size_t n, uint32_t type)
{
	struct va_ctx_iter it;
	struct va_ctx_field f;

	cr_assert_eq(va_ctx_iter_init(&it, buf, n, err, sizeof(err)), 0);
	while (va_ctx_iter_next(&it, &f, err, sizeof(err)) == 1) {
		if (f.type == type)
			return ((uint8_t *)(uintptr_t)f.value);
	}
	cr_assert_fail("no type %#x", type);
	return (NULL);
}

Test(devctx, per_type_checks)
{
	static uint8_t	buf[4096];
	size_t		n;
	uint8_t		*v;

	n = build(buf, sizeof(buf));
	v = field(buf, n, VA_CTX_PCI_VQ_CFG);
	put_le16(v + 2, 100);
	cr_assert_eq(va_ctx_validate(buf, n, err, sizeof(err)), -EINVAL);
	cr_assert_not_null(strstr(err, "queue_size 100"), "%s", err);
	put_le16(v + 2, 0);
	cr_assert_eq(va_ctx_validate(buf, n, err, sizeof(err)), 0);

	v = field(buf, n, VA_CTX_VQ_SPLIT_RUNTIME);
	v[4] = 2;
	cr_assert_eq(va_ctx_validate(buf, n, err, sizeof(err)), -EINVAL);
	v[4] = 0;

	v = field(buf, n, VA_CTX_VQ_SPLIT_DEV_OWN_DESC);
	put_le16(v + 2, 4);
	cr_assert_eq(va_ctx_validate(buf, n, err, sizeof(err)), -EINVAL);
	cr_assert_not_null(strstr(err, "desc_count 4"), "%s", err);
	put_le16(v + 2, 3);

	v = field(buf, n, VA_CTX_NET_CVQ_STATE);
	put_le32(v + VA_CTX_CVQ_UC_OFF, 2);
	cr_assert_eq(va_ctx_validate(buf, n, err, sizeof(err)), -EINVAL);
	put_le32(v + VA_CTX_CVQ_UC_OFF, UINT32_MAX);
	cr_assert_eq(va_ctx_validate(buf, n, err, sizeof(err)), -EINVAL);
	put_le32(v + VA_CTX_CVQ_UC_OFF, 1);
	put_le16(v + 6, 0x40);
	cr_assert_eq(va_ctx_validate(buf, n, err, sizeof(err)), -EINVAL);
	cr_assert_not_null(strstr(err, "rx_mode"), "%s", err);
	put_le16(v + 6, VA_NET_RX_MASK);
	cr_assert_eq(va_ctx_validate(buf, n, err, sizeof(err)), 0);

	v = field(buf, n, VA_CTX_VENDOR_SIM_DMA);
	put_le32(v, 2);
	cr_assert_eq(va_ctx_validate(buf, n, err, sizeof(err)), -EINVAL);
}

/* The tracker finds the end for every way of cutting the image. */
Test(devctx, tracker_chunks)
{
	static uint8_t		 buf[4096 + 64];
	struct va_ctx_tracker	 t;
	size_t			 n, chunk, off, end, got;
	int			 rc;

	n = build(buf, sizeof(buf));
	for (chunk = 1; chunk <= n + 8; chunk++) {
		va_ctx_track_init(&t);
		got = 0;
		for (off = 0; off < n + 8; off += chunk) {
			rc = va_ctx_track(&t, buf + off, MIN(chunk,
			    n + 8 - off), &end, err, sizeof(err));
			cr_assert_geq(rc, 0, "%s", err);
			if (rc == 1) {
				got = off + end;
				break;
			}
		}
		cr_assert_eq(got, n, "chunk %zu: end at %zu, not %zu", chunk,
		    got, n);
	}
	/* Once complete it stays complete. */
	cr_assert_eq(va_ctx_track(&t, buf, 3, &end, err, sizeof(err)), 1);
	cr_assert_eq(end, 0);
}

Test(devctx, tracker_limits)
{
	struct va_ctx_tracker	t;
	uint8_t			b[32];
	size_t			end;

	memset(b, 0, sizeof(b));
	va_ctx_track_init(&t);
	cr_assert_eq(va_ctx_track(&t, b, 4, &end, err, sizeof(err)), 1);
	cr_assert_eq(end, 4, "no fields: done after the count");

	put_le32(b, VA_CTX_MAX_FIELDS + 1);
	va_ctx_track_init(&t);
	cr_assert_eq(va_ctx_track(&t, b, 4, &end, err, sizeof(err)), -EINVAL);
	cr_assert_eq(va_ctx_track(&t, b, 4, &end, err, sizeof(err)), -EINVAL);

	put_le32(b, 1);
	put_le64(b + 4 + 8, VA_CTX_MAX_BYTES);
	va_ctx_track_init(&t);
	cr_assert_eq(va_ctx_track(&t, b, 20, &end, err, sizeof(err)),
	    -EINVAL);
	cr_assert_not_null(strstr(err, "limit"), "%s", err);

	put_le64(b + 4 + 8, 8);
	va_ctx_track_init(&t);
	cr_assert_eq(va_ctx_track(&t, b, 20, &end, err, sizeof(err)), 0);
	cr_assert_eq(va_ctx_track(&t, b, 7, &end, err, sizeof(err)), 0);
	cr_assert_eq(va_ctx_track(&t, b, 9, &end, err, sizeof(err)), 1);
	cr_assert_eq(end, 1);
}
