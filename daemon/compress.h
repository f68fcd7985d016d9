/*
 * compress.h: per-batch compression of guest pages on the data
 * connections, and the pure policy that decides when it pays.
 *
 * A batch's data runs are compressed as one block (LZ4's block format or
 * one zstd frame at level 1); zero runs stay elided as before. The batch
 * header (PageBatch.codec, payload_bytes: the runs' bytes, wire_bytes: the
 * block's) says the codec and both lengths.
 *
 * Policy (cz_decide, pure: numbers in, a codec out). Compression helps
 * only where the link, not the CPU, is the limit: in auto mode a batch is
 * compressed when the link rate measured on this job's data connections
 * (wire bytes the destination acknowledged per second while some were
 * unacknowledged) is below the rate the codec compressed at in this job
 * (raw bytes per second the loop spent compressing). Before
 * either is known: the first batch is compressed once as a probe (it
 * measures the codec), then batches go raw until the link is measured;
 * after CZ_PROBE_EVERY batches in a row sent raw by this rule, one is
 * compressed again (a probe: the codec's rate moves with the data and
 * the host's load, the link's with the peer).
 * A region whose batch did not compress (of four pages sampled, one at
 * each quarter of the batch, one must shrink to 7/8 or less under lz4,
 * then the whole block must) goes raw for CZ_SKIP_BATCHES of its
 * batches, then is tried again: random pages cost four page samples
 * per CZ_SKIP_BATCHES batches, never a block. lz4 and zstd force the codec (still never for
 * data that does not compress); off never compresses.
 */
#ifndef VMIG_COMPRESS_H
#define VMIG_COMPRESS_H

#include <stddef.h>
#include <stdint.h>

/* PageBatch.codec on the wire */
#define CZ_NONE		0
#define CZ_LZ4		1
#define CZ_ZSTD		2
#define CZ_CODECS	((1u << CZ_LZ4) | (1u << CZ_ZSTD))	/* decoded */

/* [daemon] compression */
enum cz_mode {
	CZ_MODE_AUTO = 0,
	CZ_MODE_OFF,
	CZ_MODE_LZ4,
	CZ_MODE_ZSTD,
};

#define CZ_BATCH_MAX	(4u * 1024 * 1024)	/* raw bytes of a compressed batch */
#define CZ_SKIP_BATCHES	16	/* a region's batches sent raw after a miss */
#define CZ_SAMPLE_BYTES	4096	/* what the incompressibility sample reads */
#define CZ_LINK_MIN_BYTES (2u * 1024 * 1024)	/* before the link rate counts */
#define CZ_PROBE_EVERY	64	/* raw batches in a row, then a probe */

struct cz_policy_in {
	int		 mode;		/* enum cz_mode */
	uint32_t	 codecs;	/* the peer decodes: 1 << CZ_* */
	uint64_t	 link_bps;	/* wire bytes/s acked; 0: unknown */
	uint64_t	 comp_bps;	/* raw bytes/s compressed; 0: unknown */
	uint32_t	 region_skip;	/* the region's raw batches still to go */
	uint32_t	 raw_run;	/* batches sent raw in a row (auto) */
};

/* The codec for the next batch: CZ_NONE, CZ_LZ4 or CZ_ZSTD. Pure. */
uint32_t	 cz_decide(const struct cz_policy_in *);

/* "auto", "off", "lz4", "zstd" <-> enum cz_mode; -1: unknown. */
int		 cz_mode_parse(const char *);
const char	*cz_mode_name(int);
const char	*cz_codec_name(uint32_t codec);

/* The most a block of len raw bytes can take; 0: unknown codec. */
size_t		 cz_bound(uint32_t codec, size_t len);

/*
 * 1 when one CZ_SAMPLE_BYTES page from p shrinks to 7/8 or less (lz4),
 * 0 when it does not: the batch is likely random.
 */
int		 cz_sample(const uint8_t *p, size_t len);

/* Compression and decompression contexts (zstd's), one per thread. */
struct cz_ctx;
struct cz_ctx	*cz_ctx_new(void);
void		 cz_ctx_free(struct cz_ctx *);

/*
 * Compress len bytes of src into dst (cap bytes): the block's length, or
 * 0 when it does not fit or would not be under 7/8 of len (send raw).
 */
size_t		 cz_compress(struct cz_ctx *, uint32_t codec, const uint8_t *src,
		    size_t len, uint8_t *dst, size_t cap);

/*
 * Decompress a block of srclen bytes into exactly dstlen bytes at dst;
 * nothing is ever written past dst + dstlen. 0, or -EINVAL / -EPROTO
 * with a sentence: an unknown codec, a corrupt block, or one that
 * decodes to another length than declared.
 */
int		 cz_decompress(struct cz_ctx *, uint32_t codec,
		    const uint8_t *src, size_t srclen, uint8_t *dst,
		    size_t dstlen, char *err, size_t errlen);

#endif /* VMIG_COMPRESS_H */
