/*
 * compress.c: the codecs of the data connections (Debian's liblz4 and
 * libzstd) and the policy that picks one (compress.h has both contracts).
 */
#include <config.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <lz4.h>
#include <zstd.h>

#include "compress.h"
#include "util.h"

#define CZ_ZSTD_LEVEL	1	/* zstd's fastest: the link is slow, not idle */

struct cz_ctx {
	ZSTD_CCtx	*cc;
	ZSTD_DCtx	*dc;
};

static const char *const cz_modes[] = {
	[CZ_MODE_AUTO] = "auto",
	[CZ_MODE_OFF] = "off",
	[CZ_MODE_LZ4] = "lz4",
	[CZ_MODE_ZSTD] = "zstd",
};

int
cz_mode_parse(const char *s)
{
	size_t	i;

	for (i = 0; i < nitems(cz_modes); i++) {
		if (strcmp(s, cz_modes[i]) == 0)
			return ((int)i);
	}
	return (-1);
}

const char *
cz_mode_name(int mode)
{
	if (mode < 0 || (size_t)mode >= nitems(cz_modes))
		return ("?");
	return (cz_modes[mode]);
}

const char *
cz_codec_name(uint32_t codec)
{
	switch (codec) {
	case CZ_NONE:
		return ("none");
	case CZ_LZ4:
		return ("lz4");
	case CZ_ZSTD:
		return ("zstd");
	default:
		return ("unknown");
	}
}

uint32_t
cz_decide(const struct cz_policy_in *in)
{
	uint32_t	codec;

	switch (in->mode) {
	case CZ_MODE_LZ4:
		codec = CZ_LZ4;
		break;
	case CZ_MODE_ZSTD:
		codec = CZ_ZSTD;
		break;
	case CZ_MODE_AUTO:
		/* the fast codec; zstd only where the peer has nothing else */
		codec = (in->codecs & (1u << CZ_LZ4)) ? CZ_LZ4 : CZ_ZSTD;
		break;
	default:
		return (CZ_NONE);
	}
	if (!(in->codecs & (1u << codec)))
		return (CZ_NONE);	/* the peer could not decode it */
	if (in->region_skip != 0)
		return (CZ_NONE);	/* it did not compress a moment ago */
	if (in->mode != CZ_MODE_AUTO)
		return (codec);
	if (in->comp_bps == 0 || in->raw_run >= CZ_PROBE_EVERY)
		return (codec);		/* a probe: it measures the codec */
	if (in->link_bps == 0)
		return (CZ_NONE);	/* raw until the link is measured */
	return (in->link_bps < in->comp_bps ? codec : CZ_NONE);
}

size_t
cz_bound(uint32_t codec, size_t len)
{
	switch (codec) {
	case CZ_LZ4:
		return (len > LZ4_MAX_INPUT_SIZE ? 0 :
		    (size_t)LZ4_compressBound((int)len));
	case CZ_ZSTD:
		return (ZSTD_compressBound(len));
	default:
		return (0);
	}
}

int
cz_sample(const uint8_t *p, size_t len)
{
	char	out[LZ4_COMPRESSBOUND(CZ_SAMPLE_BYTES)];
	int	n;

	if (len > CZ_SAMPLE_BYTES)
		len = CZ_SAMPLE_BYTES;
	if (len == 0)
		return (0);
	n = LZ4_compress_default((const char *)p, out, (int)len,
	    (int)sizeof(out));
	return (n > 0 && (size_t)n <= len - len / 8);
}

struct cz_ctx *
cz_ctx_new(void)
{
	return (xcalloc(1, sizeof(struct cz_ctx)));
}

void
cz_ctx_free(struct cz_ctx *z)
{
	if (z == NULL)
		return;
	ZSTD_freeCCtx(z->cc);
	ZSTD_freeDCtx(z->dc);
	free(z);
}

size_t
cz_compress(struct cz_ctx *z, uint32_t codec, const uint8_t *src, size_t len,
    uint8_t *dst, size_t cap)
{
	size_t	n, most = len - len / 8;
	int	k;

	if (len == 0 || len > CZ_BATCH_MAX)
		return (0);
	if (cap > most)
		cap = most;	/* what would not shrink enough goes raw */
	switch (codec) {
	case CZ_LZ4:
		k = LZ4_compress_default((const char *)src, (char *)dst,
		    (int)len, (int)cap);
		return (k > 0 ? (size_t)k : 0);
	case CZ_ZSTD:
		if (z->cc == NULL && (z->cc = ZSTD_createCCtx()) == NULL)
			return (0);
		n = ZSTD_compressCCtx(z->cc, dst, cap, src, len,
		    CZ_ZSTD_LEVEL);
		return (ZSTD_isError(n) ? 0 : n);
	default:
		return (0);
	}
}

int
cz_decompress(struct cz_ctx *z, uint32_t codec, const uint8_t *src,
    size_t srclen, uint8_t *dst, size_t dstlen, char *err, size_t errlen)
{
	unsigned long long	 fcs;
	size_t			 n;
	int			 k;

	if (srclen == 0 || dstlen == 0 || dstlen > CZ_BATCH_MAX)
		return (err_set(err, errlen, -EINVAL, "a %s block of %zu "
		    "bytes for %zu bytes (at most %u)", cz_codec_name(codec),
		    srclen, dstlen, CZ_BATCH_MAX));
	switch (codec) {
	case CZ_LZ4:
		/* _safe: never reads past src + srclen, writes past dstlen */
		k = LZ4_decompress_safe((const char *)src, (char *)dst,
		    (int)srclen, (int)dstlen);
		if (k < 0)
			return (err_set(err, errlen, -EPROTO, "a corrupt lz4 "
			    "block of %zu bytes", srclen));
		if ((size_t)k != dstlen)
			return (err_set(err, errlen, -EPROTO, "an lz4 block "
			    "decodes to %d bytes, not the %zu its runs hold",
			    k, dstlen));
		return (0);
	case CZ_ZSTD:
		fcs = ZSTD_getFrameContentSize(src, srclen);
		if (fcs == ZSTD_CONTENTSIZE_ERROR)
			return (err_set(err, errlen, -EPROTO, "a corrupt zstd "
			    "frame of %zu bytes", srclen));
		if (fcs != ZSTD_CONTENTSIZE_UNKNOWN && fcs != dstlen)
			return (err_set(err, errlen, -EPROTO, "a zstd frame "
			    "of %llu bytes, not the %zu its runs hold", fcs,
			    dstlen));
		if (z->dc == NULL && (z->dc = ZSTD_createDCtx()) == NULL)
			return (err_set(err, errlen, -ENOMEM, "no zstd "
			    "context"));
		n = ZSTD_decompressDCtx(z->dc, dst, dstlen, src, srclen);
		if (ZSTD_isError(n))
			return (err_set(err, errlen, -EPROTO, "a corrupt zstd "
			    "frame of %zu bytes: %s", srclen,
			    ZSTD_getErrorName(n)));
		if (n != dstlen)
			return (err_set(err, errlen, -EPROTO, "a zstd frame "
			    "decodes to %zu bytes, not the %zu its runs hold",
			    n, dstlen));
		return (0);
	default:
		return (err_set(err, errlen, -EINVAL, "codec %u is unknown "
		    "(1: lz4, 2: zstd)", codec));
	}
}
