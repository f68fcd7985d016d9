/*
 * dseal.h: sealed data connections, TLS's security at the plain path's
 * speed.
 *
 * nng's TLS carries every byte through a 16 KiB ring and a 16 KiB
 * receive buffer, one record per TCP operation, and then copies the
 * plaintext again into the caller's buffer: measured at 0.26x the plain
 * data path on OpenSSL, 0.09x on mbedTLS (README "Benchmarks"). A data
 * connection of a TLS job is instead a plain TCP nng_stream on which
 * the two daemons run:
 *
 *   1. a TLS 1.3 handshake (OpenSSL, memory BIOs), with the peer link's
 *      certificates and rules (tls_openssl_ctx(): mutual, the CA, the
 *      destination's name), no session tickets;
 *   2. keys from the handshake's exporter (RFC 8446, 7.5; label
 *      DSEAL_LABEL, no context): AES-128-GCM key and IV for each
 *      direction;
 *   3. the destination's "ready": the 16-byte tag of an empty record
 *      (server to client, sequence 0): the source sends nothing until it
 *      verified it, so a refused certificate is an error there, not a
 *      reset later;
 *   4. the source's records, client to server, numbered from 0: the
 *      sequence is in the nonce (the IV XOR the big-endian number, as
 *      TLS 1.3 does), so a record dropped, replayed or reordered fails
 *      its tag. A frame's header is one record, le32 length (the AAD),
 *      ciphertext, tag: it is authenticated before it is parsed. Its
 *      payload, when it has one, is a second record without a length
 *      (the authenticated header says how long it is; the AAD is the
 *      same le32 of that length): the source encrypts from guest memory
 *      into the connection's one send buffer, the destination receives
 *      the ciphertext into guest memory at the checked runs' places and
 *      decrypts it there, in place.
 *
 * So a page costs one encryption and one decryption beside the plain
 * path's work, and no copy. What that gives up: a payload that fails its
 * tag was already written (decrypted) into the runs its authenticated
 * header named; the job fails then and the destination's VM never runs
 * on it (as with kernel TLS's in-place receive). No byte ever lands
 * outside the checked runs or before the token.
 *
 * This file is I/O free: the caller moves the bytes (datalink.c on nng's
 * threads; test_dseal.c in memory).
 */
#ifndef VMIG_DSEAL_H
#define VMIG_DSEAL_H

#include <stddef.h>
#include <stdint.h>

#include "tls.h"

#define DSEAL_VERSION	1	/* HelloAck.data_seal */
#define DSEAL_LABEL	"EXPORTER-vmigd-data-seal-v1"
#define DSEAL_LEN	4	/* le32: a header record's length */
#define DSEAL_TAG	16
#define DSEAL_READY	DSEAL_TAG	/* the destination's ready record */
#define DSEAL_HS_BUF	(16 * 1024 + 512)	/* a handshake read or write */

struct dseal_ctx;
struct dseal;

/* A piece of a record's plaintext (datalink.c's segments are these). */
struct dseal_seg {
	uint8_t		*p;
	size_t		 len;
};

/*
 * A context for one job's data connections, from the peer link's PEM
 * strings; a client checks the server against name. 0, or a negative
 * errno with err saying why.
 */
int	dseal_ctx_new(enum tls_role role, const char *ca_pem,
	    const char *cert_pem, const char *key_pem, const char *name,
	    struct dseal_ctx **out, char *err, size_t errlen);
/* Connections hold a reference: the last free frees. */
struct dseal_ctx *dseal_ctx_ref(struct dseal_ctx *);
void	dseal_ctx_free(struct dseal_ctx *);
int	dseal_ctx_server(const struct dseal_ctx *);

struct dseal	*dseal_new(struct dseal_ctx *);
void	dseal_free(struct dseal *);

enum dseal_hs {
	DSEAL_HS_MORE,		/* send what dseal_hs_out() has, then read */
	DSEAL_HS_DONE,		/* keys set (send what is pending first) */
	DSEAL_HS_FAILED,	/* err says why (send the pending alert) */
};

/*
 * Feed what arrived (in NULL at the start) and run the handshake. After
 * every call the caller sends all of dseal_hs_out()'s bytes, and then
 * acts on the result.
 */
enum dseal_hs dseal_handshake(struct dseal *, const uint8_t *in, size_t len,
	    char *err, size_t errlen);
/* Up to cap bytes the handshake wants sent; 0 when none. */
size_t	dseal_hs_out(struct dseal *, uint8_t *buf, size_t cap);
/* Bytes received past the handshake (a well-behaved peer sends none). */
size_t	dseal_hs_extra(const struct dseal *);
/* After DONE, the server: its ready record (DSEAL_READY bytes). */
void	dseal_ready(struct dseal *, uint8_t out[DSEAL_READY]);
/* After DONE, the client: is this the server's ready? 0, or -1. */
int	dseal_ready_ok(struct dseal *, const uint8_t in[DSEAL_READY]);
/*
 * Does in start like a TLS 1.2/1.3 record (an alert, or TLS 1.3's
 * encrypted one)? What a server that refused the client sends instead.
 */
int	dseal_tls_record(const uint8_t in[DSEAL_READY]);

/*
 * Seal a header record: out gets DSEAL_LEN + len + DSEAL_TAG bytes.
 * Seal a payload record from n segments: out gets their bytes encrypted
 * and the tag (no length). Both return the bytes written.
 */
size_t	dseal_seal_header(struct dseal *, const uint8_t *in, size_t len,
	    uint8_t *out);
size_t	dseal_seal_payload(struct dseal *, const struct dseal_seg *in,
	    unsigned n, uint8_t *out);
/*
 * Open a header record in place: buf holds its ciphertext and tag (len
 * bytes, len from its le32). Open a payload record in place over n
 * segments, its tag apart. 0 with the plaintext in place, or -1 (it was
 * not sealed by the peer in this order; the connection is done).
 */
int	dseal_open_header(struct dseal *, uint8_t *buf, size_t len);
int	dseal_open_payload(struct dseal *, const struct dseal_seg *io, unsigned n,
	    const uint8_t tag[DSEAL_TAG]);

#endif /* VMIG_DSEAL_H */
