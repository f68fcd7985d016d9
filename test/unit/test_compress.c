/*
 * test_compress.c: the data connections' codecs (round trips, corrupt and
 * lying blocks, the sample) and the compression policy's decisions.
 */
#include <criterion/criterion.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <lz4.h>

#include "compress.h"

#define PS	4096

static uint8_t *
pages(size_t n, int random)
{
	uint8_t	*p = malloc(n * PS);
	size_t	 i;
	uint32_t x = 2463534242u;

	for (i = 0; i < n * PS; i++) {
		if (random) {
			x ^= x << 13;
			x ^= x >> 17;
			x ^= x << 5;
			p[i] = (uint8_t)x;
		} else
			p[i] = (uint8_t)((i / 64) * 7 + (i % 5 == 0));
	}
	return (p);
}

static void
round_trip(uint32_t codec)
{
	struct cz_ctx	*z = cz_ctx_new();
	uint8_t		*raw = pages(256, 0), *back = malloc(256 * PS);
	uint8_t		*blk = malloc(cz_bound(codec, 256 * PS));
	size_t		 n;
	char		 err[256];

	n = cz_compress(z, codec, raw, 256 * PS, blk, cz_bound(codec,
	    256 * PS));
	cr_assert_gt(n, 0);
	cr_assert_lt(n, 256 * PS / 2, "%s: %zu bytes", cz_codec_name(codec),
	    n);
	memset(back, 0xee, 256 * PS);
	cr_assert_eq(cz_decompress(z, codec, blk, n, back, 256 * PS, err,
	    sizeof err), 0, "%s", err);
	cr_assert_eq(memcmp(raw, back, 256 * PS), 0);

	/* a block decoded into the wrong length is refused */
	cr_assert_eq(cz_decompress(z, codec, blk, n, back, 255 * PS, err,
	    sizeof err), -EPROTO);
	cr_assert_eq(cz_decompress(z, codec, blk, n, back, 257 * PS, err,
	    sizeof err), -EPROTO);
	cr_assert(strstr(err, "not the") != NULL || strstr(err, "corrupt")
	    != NULL, "%s", err);

	/* a corrupt block: an error, never a write past the buffer */
	memset(blk + n / 3, 0xff, n / 3);
	memset(back, 0xee, 256 * PS);
	cr_assert_neq(cz_decompress(z, codec, blk, n, back, 128 * PS, err,
	    sizeof err), 0);
	cr_assert_eq(back[128 * PS], 0xee, "written past the runs' bytes");
	free(raw);
	free(back);
	free(blk);
	cz_ctx_free(z);
}

Test(compress, lz4_round_trip_and_corruption)
{
	round_trip(CZ_LZ4);
}

Test(compress, zstd_round_trip_and_corruption)
{
	round_trip(CZ_ZSTD);
}

Test(compress, random_pages_do_not_compress)
{
	struct cz_ctx	*z = cz_ctx_new();
	uint8_t		*raw = pages(16, 1), *blk = malloc(32 * PS);

	cr_assert_eq(cz_sample(raw, PS), 0);
	cr_assert_eq(cz_compress(z, CZ_LZ4, raw, 16 * PS, blk, 32 * PS), 0);
	cr_assert_eq(cz_compress(z, CZ_ZSTD, raw, 16 * PS, blk, 32 * PS), 0);
	free(raw);
	raw = pages(16, 0);
	cr_assert_eq(cz_sample(raw, PS), 1);
	free(raw);
	free(blk);
	cz_ctx_free(z);
}

Test(compress, a_literal_block_decoding_short_is_refused)
{
	/* an lz4 block of one page of literals for runs of two pages */
	uint8_t		*raw = pages(1, 1), *back = malloc(2 * PS);
	uint8_t		 blk[LZ4_COMPRESSBOUND(PS)];
	char		 err[256];
	int		 n;

	n = LZ4_compress_default((const char *)raw, (char *)blk, PS,
	    (int)sizeof blk);
	cr_assert_gt(n, 0);
	cr_assert_eq(cz_decompress(NULL, CZ_LZ4, blk, (size_t)n, back, 2 * PS,
	    err, sizeof err), -EPROTO);
	cr_assert(strstr(err, "decodes to 4096 bytes, not the 8192") != NULL,
	    "%s", err);
	cr_assert_eq(cz_decompress(NULL, 9, blk, (size_t)n, back, 2 * PS,
	    err, sizeof err), -EINVAL);
	cr_assert(strstr(err, "codec 9 is unknown") != NULL, "%s", err);
	cr_assert_eq(cz_decompress(NULL, CZ_LZ4, blk, (size_t)n, back,
	    CZ_BATCH_MAX + 1, err, sizeof err), -EINVAL);
	free(raw);
	free(back);
}

Test(compress, modes_parse_and_print)
{
	cr_assert_eq(cz_mode_parse("auto"), CZ_MODE_AUTO);
	cr_assert_eq(cz_mode_parse("off"), CZ_MODE_OFF);
	cr_assert_eq(cz_mode_parse("lz4"), CZ_MODE_LZ4);
	cr_assert_eq(cz_mode_parse("zstd"), CZ_MODE_ZSTD);
	cr_assert_eq(cz_mode_parse("gzip"), -1);
	cr_assert_str_eq(cz_mode_name(CZ_MODE_ZSTD), "zstd");
}

static uint32_t
decide(int mode, uint64_t link, uint64_t comp, uint32_t skip)
{
	struct cz_policy_in in = { mode, CZ_CODECS, link, comp, skip, 0 };

	return (cz_decide(&in));
}

Test(compress, policy_compresses_only_where_the_link_is_the_limit)
{
	/* 1 Gbit/s link, lz4 at 600 MB/s: compress */
	cr_assert_eq(decide(CZ_MODE_AUTO, 125000000, 600000000, 0), CZ_LZ4);
	/* 25 Gbit/s loopback, same codec: raw */
	cr_assert_eq(decide(CZ_MODE_AUTO, 3000000000u, 600000000, 0),
	    CZ_NONE);
	/* equal: the link is not the limit */
	cr_assert_eq(decide(CZ_MODE_AUTO, 600000000, 600000000, 0), CZ_NONE);
	/* nothing measured: one probe measures the codec */
	cr_assert_eq(decide(CZ_MODE_AUTO, 0, 0, 0), CZ_LZ4);
	/* the codec measured, the link not yet: raw */
	cr_assert_eq(decide(CZ_MODE_AUTO, 0, 600000000, 0), CZ_NONE);
	/* a region that just did not compress: raw, whatever the link */
	cr_assert_eq(decide(CZ_MODE_AUTO, 125000000, 600000000, 3), CZ_NONE);
	cr_assert_eq(decide(CZ_MODE_LZ4, 3000000000u, 1, 3), CZ_NONE);
	cr_assert_eq(decide(CZ_MODE_OFF, 125000000, 600000000, 0), CZ_NONE);
}

Test(compress, a_fast_link_still_probes_the_codec_now_and_then)
{
	struct cz_policy_in in = { CZ_MODE_AUTO, CZ_CODECS, 3000000000u,
	    600000000, 0, CZ_PROBE_EVERY - 1 };

	cr_assert_eq(cz_decide(&in), CZ_NONE);
	in.raw_run = CZ_PROBE_EVERY;
	cr_assert_eq(cz_decide(&in), CZ_LZ4);
	/* but never into a region that just did not compress */
	in.region_skip = 1;
	cr_assert_eq(cz_decide(&in), CZ_NONE);
}

Test(compress, forced_codecs_and_what_the_peer_decodes)
{
	struct cz_policy_in in = { CZ_MODE_ZSTD, CZ_CODECS, 3000000000u, 1,
	    0, 0 };

	cr_assert_eq(cz_decide(&in), CZ_ZSTD);
	in.mode = CZ_MODE_LZ4;
	cr_assert_eq(cz_decide(&in), CZ_LZ4);
	in.codecs = 1u << CZ_ZSTD;		/* the peer has no lz4 */
	cr_assert_eq(cz_decide(&in), CZ_NONE);
	in.mode = CZ_MODE_AUTO;
	in.link_bps = 1;
	in.comp_bps = 2;
	cr_assert_eq(cz_decide(&in), CZ_ZSTD);
	in.codecs = 0;				/* an older peer */
	cr_assert_eq(cz_decide(&in), CZ_NONE);
}
