/*
 * devctx.c: the device context TLV codec (see devctx.h).
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "util.h"
#include "devctx.h"

static int
check_features(const uint8_t *v, uint64_t len, char *err, size_t errlen)
{
	if (len % 8 != 0) {
		snprintf(err, errlen, "length %llu is not a multiple of 8",
		    (unsigned long long)len);
		return (-EINVAL);
	}
	return (0);
}

static int
check_vq_cfg(const uint8_t *v, uint64_t len, char *err, size_t errlen)
{
	uint16_t qsz = get_le16(v + 2);

	if (qsz > 32768 || (qsz & (qsz - 1)) != 0) {
		snprintf(err, errlen, "queue_size %u is not a power of two "
		    "<= 32768", qsz);
		return (-EINVAL);
	}
	return (0);
}

static int
check_vq_rt(const uint8_t *v, uint64_t len, char *err, size_t errlen)
{
	if (v[4] > 1) {
		snprintf(err, errlen, "enabled is %u, not 0 or 1", v[4]);
		return (-EINVAL);
	}
	return (0);
}

static int
check_own_desc(const uint8_t *v, uint64_t len, char *err, size_t errlen)
{
	uint16_t n = get_le16(v + 2);

	if (len != VA_CTX_OWN_DESC_HDR + 2ULL * n) {
		snprintf(err, errlen, "desc_count %u needs %llu bytes, field "
		    "has %llu", n,
		    (unsigned long long)(VA_CTX_OWN_DESC_HDR + 2ULL * n),
		    (unsigned long long)len);
		return (-EINVAL);
	}
	return (0);
}

static int
check_cvq(const uint8_t *v, uint64_t len, char *err, size_t errlen)
{
	uint32_t uc = get_le32(v + VA_CTX_CVQ_UC_OFF);
	uint32_t mc = get_le32(v + VA_CTX_CVQ_MC_OFF);
	uint16_t rx = get_le16(v + 6);

	if (uc > VA_CTX_CVQ_MAX_MACS || mc > VA_CTX_CVQ_MAX_MACS) {
		snprintf(err, errlen, "MAC table of %u unicast + %u multicast "
		    "entries exceeds %u each", uc, mc, VA_CTX_CVQ_MAX_MACS);
		return (-EINVAL);
	}
	if (len != VA_CTX_CVQ_FIXED + 6ULL * (uc + mc)) {
		snprintf(err, errlen, "%u + %u MAC entries need %llu bytes, "
		    "field has %llu", uc, mc,
		    (unsigned long long)(VA_CTX_CVQ_FIXED + 6ULL * (uc + mc)),
		    (unsigned long long)len);
		return (-EINVAL);
	}
	if (rx & ~VA_NET_RX_MASK) {
		snprintf(err, errlen, "unknown rx_mode bits %#x",
		    rx & ~VA_NET_RX_MASK);
		return (-EINVAL);
	}
	return (0);
}

static int
check_sim_dma(const uint8_t *v, uint64_t len, char *err, size_t errlen)
{
	if (get_le32(v) != 1) {
		snprintf(err, errlen, "DMA state version %u, expected 1",
		    get_le32(v));
		return (-EINVAL);
	}
	return (0);
}

static const struct va_ctx_type va_ctx_types[] = {
	{ VA_CTX_PCI_COMMON_CFG, "PCI_COMMON_CFG", VA_CTX_COMMON_LEN,
	  VA_CTX_COMMON_LEN, 0, NULL },
	{ VA_CTX_DEV_CFG_LAYOUT, "DEV_CFG_LAYOUT", 1, 256, 0, NULL },
	{ VA_CTX_DEV_FEATURES, "DEV_FEATURES", 8, 64, 0, check_features },
	{ VA_CTX_PCI_VQ_CFG, "PCI_VQ_CFG", VA_CTX_VQ_CFG_LEN,
	  VA_CTX_VQ_CFG_LEN, 1, check_vq_cfg },
	{ VA_CTX_VQ_SPLIT_RUNTIME, "VQ_SPLIT_RUNTIME", VA_CTX_VQ_RT_LEN,
	  VA_CTX_VQ_RT_LEN, 1, check_vq_rt },
	{ VA_CTX_VQ_SPLIT_DEV_OWN_DESC, "VQ_SPLIT_DEV_OWN_DESC",
	  VA_CTX_OWN_DESC_HDR, VA_CTX_OWN_DESC_HDR + 2 * 32768, 1,
	  check_own_desc },
	{ VA_CTX_NET_CVQ_STATE, "NET_CVQ_STATE", VA_CTX_CVQ_FIXED,
	  VA_CTX_CVQ_FIXED + 6 * 2 * VA_CTX_CVQ_MAX_MACS, 0, check_cvq },
	{ VA_CTX_VENDOR_SIM_DMA, "VENDOR_SIM_DMA", VA_CTX_SIM_DMA_LEN,
	  VA_CTX_SIM_DMA_LEN, 0, check_sim_dma },
};

const struct va_ctx_type *
va_ctx_type_find(uint32_t type)
{
	size_t	i;

	for (i = 0; i < nitems(va_ctx_types); i++) {
		if (va_ctx_types[i].type == type)
			return (&va_ctx_types[i]);
	}
	return (NULL);
}

/*
 * A known type's value: its length, then its check. Shared by the iterator
 * and by the converter from the canonical form, so that what the draft
 * dialect writes is what it reads back.
 */
int
va_ctx_value_check(const struct va_ctx_type *t, const uint8_t *v,
    uint64_t len, char *err, size_t errlen)
{
	if (len < t->min_len || len > t->max_len) {
		snprintf(err, errlen, "length %llu outside %llu..%llu",
		    (unsigned long long)len, (unsigned long long)t->min_len,
		    (unsigned long long)t->max_len);
		return (-EINVAL);
	}
	if (t->check != NULL)
		return (t->check(v, len, err, errlen));
	return (0);
}

const char *
va_ctx_type_name(uint32_t type)
{
	const struct va_ctx_type *t = va_ctx_type_find(type);

	return (t != NULL ? t->name : "unknown");
}

int
va_ctx_iter_init(struct va_ctx_iter *it, const void *buf, size_t len,
    char *err, size_t errlen)
{
	memset(it, 0, sizeof(*it));
	if (len < VA_CTX_HDR_LEN) {
		snprintf(err, errlen, "device context of %zu bytes is shorter "
		    "than its %d-byte header", len, VA_CTX_HDR_LEN);
		return (-EINVAL);
	}
	if (len > VA_CTX_MAX_BYTES) {
		snprintf(err, errlen, "device context of %zu bytes exceeds "
		    "the %u-byte limit", len, VA_CTX_MAX_BYTES);
		return (-EINVAL);
	}
	it->buf = buf;
	it->len = len;
	it->count = get_le32(it->buf);
	it->off = VA_CTX_HDR_LEN;
	if (it->count > VA_CTX_MAX_FIELDS) {
		snprintf(err, errlen, "device context claims %u fields, more "
		    "than %u", it->count, VA_CTX_MAX_FIELDS);
		return (-EINVAL);
	}
	return (0);
}

int
va_ctx_iter_next(struct va_ctx_iter *it, struct va_ctx_field *f,
    char *err, size_t errlen)
{
	const struct va_ctx_type *t;
	const uint8_t	*h;
	size_t		 left = it->len - it->off;
	char		 why[160];
	int		 rc;

	if (it->idx == it->count) {
		if (left != 0) {
			snprintf(err, errlen, "%zu bytes trail the last of "
			    "%u fields", left, it->count);
			return (-EINVAL);
		}
		return (0);
	}
	if (left < VA_CTX_FIELD_HDR_LEN) {
		snprintf(err, errlen, "field %u: header truncated at offset "
		    "%zu (%zu bytes left, image of %zu)", it->idx, it->off,
		    left, it->len);
		return (-EINVAL);
	}
	h = it->buf + it->off;
	memset(f, 0, sizeof(*f));
	f->index = it->idx;
	f->type = get_le32(h);
	f->flags = get_le32(h + 4);
	f->length = get_le64(h + 8);
	f->offset = it->off;
	f->value = h + VA_CTX_FIELD_HDR_LEN;
	t = f->info = va_ctx_type_find(f->type);
	if (f->length > left - VA_CTX_FIELD_HDR_LEN) {
		snprintf(err, errlen, "field %u (type %#x %s): length %llu "
		    "runs past the end of the image (%zu bytes left)",
		    it->idx, f->type, va_ctx_type_name(f->type),
		    (unsigned long long)f->length,
		    left - VA_CTX_FIELD_HDR_LEN);
		return (-EINVAL);
	}
	if (f->flags & ~(uint32_t)VA_CTX_F_OPTIONAL) {
		snprintf(err, errlen, "field %u (type %#x): reserved flag "
		    "bits %#x set", it->idx, f->type,
		    f->flags & ~(uint32_t)VA_CTX_F_OPTIONAL);
		return (-EINVAL);
	}
	if (t == NULL && !(f->flags & VA_CTX_F_OPTIONAL)) {
		snprintf(err, errlen, "field %u: unknown mandatory type %#x",
		    it->idx, f->type);
		return (-EINVAL);
	}
	if (t != NULL && (rc = va_ctx_value_check(t, f->value, f->length,
	    why, sizeof(why))) != 0) {
		snprintf(err, errlen, "field %u (%s): %s", it->idx, t->name,
		    why);
		return (rc);
	}
	it->off += VA_CTX_FIELD_HDR_LEN + (size_t)f->length;
	it->idx++;
	return (1);
}

int
va_ctx_validate(const void *buf, size_t len, char *err, size_t errlen)
{
	struct va_ctx_iter	it;
	struct va_ctx_field	f;
	int			rc;

	if ((rc = va_ctx_iter_init(&it, buf, len, err, errlen)) != 0)
		return (rc);
	while ((rc = va_ctx_iter_next(&it, &f, err, errlen)) == 1)
		;
	return (rc);
}

void
va_ctx_begin(struct va_ctx_buf *b, uint8_t *p, size_t cap)
{
	memset(b, 0, sizeof(*b));
	b->p = p;
	b->cap = p != NULL ? cap : 0;
	b->len = VA_CTX_HDR_LEN;
	if (p != NULL && cap < VA_CTX_HDR_LEN)
		b->overflow = 1;
}

uint8_t *
va_ctx_add(struct va_ctx_buf *b, uint32_t type, uint32_t flags,
    uint64_t length)
{
	uint8_t	*h;
	size_t	 at = b->len;

	b->len += VA_CTX_FIELD_HDR_LEN + (size_t)length;
	b->count++;
	if (b->p == NULL || b->overflow)
		return (NULL);
	if (b->len > b->cap) {
		b->overflow = 1;
		return (NULL);
	}
	h = b->p + at;
	put_le32(h, type);
	put_le32(h + 4, flags);
	put_le64(h + 8, length);
	memset(h + VA_CTX_FIELD_HDR_LEN, 0, (size_t)length);
	return (h + VA_CTX_FIELD_HDR_LEN);
}

long
va_ctx_end(struct va_ctx_buf *b)
{
	if (b->overflow)
		return (-ENOSPC);
	if (b->p != NULL)
		put_le32(b->p, b->count);
	return ((long)b->len);
}

enum { TRK_HDR, TRK_FIELD_HDR, TRK_VALUE, TRK_DONE, TRK_BAD };

void
va_ctx_track_init(struct va_ctx_tracker *t)
{
	memset(t, 0, sizeof(*t));
	t->state = TRK_HDR;
}

int
va_ctx_track(struct va_ctx_tracker *t, const void *chunk, size_t len,
    size_t *end, char *err, size_t errlen)
{
	const uint8_t	*p = chunk;
	size_t		 i = 0, n;
	uint64_t	 flen;

	if (t->state == TRK_BAD) {
		snprintf(err, errlen, "image already found malformed");
		return (-EINVAL);
	}
	if (t->state == TRK_DONE) {
		*end = 0;
		return (1);
	}
	while (i < len) {
		switch (t->state) {
		case TRK_HDR:
		case TRK_FIELD_HDR:
			n = (t->state == TRK_HDR ? VA_CTX_HDR_LEN :
			    VA_CTX_FIELD_HDR_LEN) - t->hlen;
			n = MIN(n, len - i);
			memcpy(t->hbuf + t->hlen, p + i, n);
			t->hlen += (uint32_t)n;
			i += n;
			t->pos += n;
			if (t->state == TRK_HDR) {
				if (t->hlen < VA_CTX_HDR_LEN)
					break;
				t->count = get_le32(t->hbuf);
				t->hlen = 0;
				if (t->count > VA_CTX_MAX_FIELDS) {
					t->state = TRK_BAD;
					snprintf(err, errlen, "image claims %u "
					    "fields, more than %u", t->count,
					    VA_CTX_MAX_FIELDS);
					return (-EINVAL);
				}
				t->state = t->count == 0 ? TRK_DONE :
				    TRK_FIELD_HDR;
				break;
			}
			if (t->hlen < VA_CTX_FIELD_HDR_LEN)
				break;
			t->hlen = 0;
			flen = get_le64(t->hbuf + 8);
			if (flen > VA_CTX_MAX_BYTES ||
			    t->pos + flen > VA_CTX_MAX_BYTES) {
				t->state = TRK_BAD;
				snprintf(err, errlen, "field %u (type %#x): "
				    "length %llu runs past the %u-byte limit",
				    t->done, get_le32(t->hbuf),
				    (unsigned long long)flen,
				    VA_CTX_MAX_BYTES);
				return (-EINVAL);
			}
			t->item_end = t->pos + flen;
			t->state = TRK_VALUE;
			/* FALLTHROUGH */
		case TRK_VALUE:
			n = (size_t)MIN(t->item_end - t->pos,
			    (uint64_t)(len - i));
			i += n;
			t->pos += n;
			if (t->pos == t->item_end) {
				t->done++;
				t->state = t->done == t->count ? TRK_DONE :
				    TRK_FIELD_HDR;
			}
			break;
		}
		if (t->state == TRK_DONE) {
			*end = i;
			return (1);
		}
	}
	if (t->state == TRK_DONE) {
		*end = i;
		return (1);
	}
	return (0);
}
