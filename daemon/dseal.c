/*
 * dseal.c: sealed data connections (dseal.h has the protocol and why).
 */
#include "config.h"

#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include "dseal.h"
#include "log.h"
#include "util.h"

#define DSEAL_KEY	16	/* AES-128-GCM */
#define DSEAL_IV	12
#define DSEAL_KM	(2 * (DSEAL_KEY + DSEAL_IV))

struct dseal_ctx {
	SSL_CTX		*ctx;
	int		 server;
	char		*name;		/* client: the server's name */
	atomic_int	 refs;
};

/* One direction's key state. */
struct dseal_dir {
	EVP_CIPHER_CTX	*evp;
	uint8_t		 iv[DSEAL_IV];
	uint64_t	 seq;
};

struct dseal {
	struct dseal_ctx *ctx;
	SSL		*ssl;
	BIO		*rbio;		/* what the peer sent, for OpenSSL */
	BIO		*wbio;		/* what OpenSSL wants sent */
	int		 done;
	struct dseal_dir tx, rx;
};

int
dseal_ctx_new(enum tls_role role, const char *ca_pem, const char *cert_pem,
    const char *key_pem, const char *name, struct dseal_ctx **out, char *err,
    size_t errlen)
{
	struct dseal_ctx	*dc;
	SSL_CTX			*ctx;
	int			 rc;

	*out = NULL;
	if ((rc = tls_openssl_ctx(role, ca_pem, cert_pem, key_pem, &ctx, err,
	    errlen)) != 0)
		return (rc);
	/* both ends are vmigd of this version: 1.3, its exporter, no tickets */
	if (SSL_CTX_set_min_proto_version(ctx, TLS1_3_VERSION) != 1 ||
	    SSL_CTX_set_num_tickets(ctx, 0) != 1) {
		ERR_clear_error();
		SSL_CTX_free(ctx);
		return (err_set(err, errlen, -ENOTSUP, "sealed data "
		    "connections: OpenSSL has no TLS 1.3"));
	}
	SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
	dc = xcalloc(1, sizeof(*dc));
	dc->ctx = ctx;
	dc->server = role == TLS_SERVER;
	dc->name = name != NULL && *name != '\0' ? xstrdup(name) : NULL;
	atomic_init(&dc->refs, 1);
	*out = dc;
	return (0);
}

struct dseal_ctx *
dseal_ctx_ref(struct dseal_ctx *dc)
{
	atomic_fetch_add(&dc->refs, 1);
	return (dc);
}

void
dseal_ctx_free(struct dseal_ctx *dc)
{
	if (dc == NULL || atomic_fetch_sub(&dc->refs, 1) != 1)
		return;
	SSL_CTX_free(dc->ctx);
	free(dc->name);
	free(dc);
}

int
dseal_ctx_server(const struct dseal_ctx *dc)
{
	return (dc->server);
}

struct dseal *
dseal_new(struct dseal_ctx *dc)
{
	struct dseal	*ds = xcalloc(1, sizeof(*ds));

	if ((ds->ssl = SSL_new(dc->ctx)) == NULL ||
	    (ds->rbio = BIO_new(BIO_s_mem())) == NULL ||
	    (ds->wbio = BIO_new(BIO_s_mem())) == NULL ||
	    (ds->tx.evp = EVP_CIPHER_CTX_new()) == NULL ||
	    (ds->rx.evp = EVP_CIPHER_CTX_new()) == NULL)
		fatalx("%s: out of memory", __func__);
	/* an empty memory BIO asks to be retried, it is not at its end */
	BIO_set_mem_eof_return(ds->rbio, -1);
	SSL_set_bio(ds->ssl, ds->rbio, ds->wbio);
	ds->ctx = dseal_ctx_ref(dc);
	if (dc->server)
		SSL_set_accept_state(ds->ssl);
	else {
		SSL_set_connect_state(ds->ssl);
		if (dc->name != NULL && tls_openssl_name(ds->ssl,
		    dc->name) != 0)
			log_warnx("%s: %s: cannot set the name to check",
			    __func__, dc->name);
	}
	return (ds);
}

void
dseal_free(struct dseal *ds)
{
	if (ds == NULL)
		return;
	SSL_free(ds->ssl);	/* and both BIOs */
	EVP_CIPHER_CTX_free(ds->tx.evp);
	EVP_CIPHER_CTX_free(ds->rx.evp);
	dseal_ctx_free(ds->ctx);
	explicit_bzero(ds, sizeof(*ds));
	free(ds);
}

static void
dseal_dir_init(struct dseal_dir *d, const uint8_t *key, const uint8_t *iv,
    int enc)
{
	memcpy(d->iv, iv, DSEAL_IV);
	d->seq = 0;
	if (EVP_CipherInit_ex(d->evp, EVP_aes_128_gcm(), NULL, key, NULL,
	    enc) != 1 ||
	    EVP_CIPHER_CTX_ctrl(d->evp, EVP_CTRL_GCM_SET_IVLEN, DSEAL_IV,
	    NULL) != 1)
		fatalx("%s: AES-128-GCM will not start", __func__);
}

/* The keys: client-to-server first, then server-to-client. */
static int
dseal_keys(struct dseal *ds)
{
	uint8_t		km[DSEAL_KM];
	const uint8_t	*c2s = km, *s2c = km + DSEAL_KEY + DSEAL_IV;

	if (SSL_export_keying_material(ds->ssl, km, sizeof(km), DSEAL_LABEL,
	    strlen(DSEAL_LABEL), NULL, 0, 0) != 1)
		return (-1);
	if (ds->ctx->server) {
		dseal_dir_init(&ds->tx, s2c, s2c + DSEAL_KEY, 1);
		dseal_dir_init(&ds->rx, c2s, c2s + DSEAL_KEY, 0);
	} else {
		dseal_dir_init(&ds->tx, c2s, c2s + DSEAL_KEY, 1);
		dseal_dir_init(&ds->rx, s2c, s2c + DSEAL_KEY, 0);
	}
	explicit_bzero(km, sizeof(km));
	return (0);
}

/* Why the handshake failed, in words an operator can act on. */
static void
dseal_why(struct dseal *ds, int ret, char *err, size_t errlen)
{
	unsigned long	e = ERR_peek_error();
	long		vr = SSL_get_verify_result(ds->ssl);
	char		why[256];

	if (vr != X509_V_OK) {
		snprintf(err, errlen, "TLS handshake: this side refused the "
		    "%s's certificate: %s", ds->ctx->server ? "source" :
		    "destination", X509_verify_cert_error_string(vr));
	} else if (e != 0) {
		ERR_error_string_n(e, why, sizeof(why));
		snprintf(err, errlen, "TLS handshake: %s%s", why,
		    ERR_GET_REASON(e) == SSL_R_PEER_DID_NOT_RETURN_A_CERTIFICATE ?
		    " (the source showed no certificate)" :
		    ERR_GET_LIB(e) == ERR_LIB_SSL && ERR_GET_REASON(e) >=
		    SSL_AD_REASON_OFFSET ? " (the peer's alert: it refused "
		    "this side's certificate, or ours is not one it takes)" :
		    "");
	} else
		snprintf(err, errlen, "TLS handshake: %s (SSL error %d)",
		    SSL_get_error(ds->ssl, ret) == SSL_ERROR_ZERO_RETURN ?
		    "the peer closed it" : "failed",
		    SSL_get_error(ds->ssl, ret));
	ERR_clear_error();
}

enum dseal_hs
dseal_handshake(struct dseal *ds, const uint8_t *in, size_t len, char *err,
    size_t errlen)
{
	int	ret;

	if (ds->done)
		return (DSEAL_HS_DONE);
	ERR_clear_error();
	if (len > 0 && BIO_write(ds->rbio, in, (int)len) != (int)len) {
		snprintf(err, errlen, "TLS handshake: out of memory");
		return (DSEAL_HS_FAILED);
	}
	if ((ret = SSL_do_handshake(ds->ssl)) == 1) {
		if (SSL_version(ds->ssl) != TLS1_3_VERSION ||
		    dseal_keys(ds) != 0) {
			snprintf(err, errlen, "TLS handshake: no TLS 1.3 "
			    "exporter for the keys");
			ERR_clear_error();
			return (DSEAL_HS_FAILED);
		}
		ds->done = 1;
		log_debug("%s: %s done, %s", __func__, ds->ctx->server ?
		    "server" : "client", SSL_get_cipher_name(ds->ssl));
		return (DSEAL_HS_DONE);
	}
	switch (SSL_get_error(ds->ssl, ret)) {
	case SSL_ERROR_WANT_READ:
	case SSL_ERROR_WANT_WRITE:
		return (DSEAL_HS_MORE);
	default:
		dseal_why(ds, ret, err, errlen);
		return (DSEAL_HS_FAILED);
	}
}

size_t
dseal_hs_out(struct dseal *ds, uint8_t *buf, size_t cap)
{
	int	n;

	if (BIO_ctrl_pending(ds->wbio) == 0)
		return (0);
	n = BIO_read(ds->wbio, buf, cap > INT32_MAX ? INT32_MAX : (int)cap);
	return (n > 0 ? (size_t)n : 0);
}

size_t
dseal_hs_extra(const struct dseal *ds)
{
	return (BIO_ctrl_pending(ds->rbio));
}

/* The nonce of the direction's next record, which it uses up. */
static void
dseal_nonce(struct dseal_dir *d, uint8_t nonce[DSEAL_IV])
{
	int	i;

	memcpy(nonce, d->iv, DSEAL_IV);
	for (i = 0; i < 8; i++)
		nonce[DSEAL_IV - 1 - i] ^= (uint8_t)(d->seq >> (8 * i));
	d->seq++;
}

static void
dseal_aad_len(uint8_t aad[DSEAL_LEN], size_t len)
{
	put_le32(aad, (uint32_t)len);
}

/* Start a record: nonce and AAD. */
static void
dseal_begin(struct dseal_dir *d, size_t len)
{
	uint8_t	nonce[DSEAL_IV], aad[DSEAL_LEN];
	int	n;

	dseal_nonce(d, nonce);
	dseal_aad_len(aad, len);
	if (EVP_CipherInit_ex(d->evp, NULL, NULL, NULL, nonce, -1) != 1 ||
	    EVP_CipherUpdate(d->evp, NULL, &n, aad, sizeof(aad)) != 1)
		fatalx("%s: AES-GCM refused a record", __func__);
}

static void
dseal_enc(struct dseal_dir *d, const uint8_t *in, size_t len, uint8_t *out)
{
	int	n;

	/* EVP takes int lengths: a record is far below, but say so */
	while (len > 0) {
		size_t	k = len > (1u << 30) ? (1u << 30) : len;

		if (EVP_CipherUpdate(d->evp, out, &n, in, (int)k) != 1)
			fatalx("%s: AES-GCM failed", __func__);
		in += k;
		out += k;
		len -= k;
	}
}

static void
dseal_tag(struct dseal_dir *d, uint8_t *out)
{
	int	n;

	if (EVP_CipherFinal_ex(d->evp, out, &n) != 1 ||
	    EVP_CIPHER_CTX_ctrl(d->evp, EVP_CTRL_GCM_GET_TAG, DSEAL_TAG,
	    out) != 1)
		fatalx("%s: AES-GCM gave no tag", __func__);
}

/* Decryption's end: the tag checked. 0, or -1. */
static int
dseal_check(struct dseal_dir *d, const uint8_t *tag)
{
	uint8_t	t[DSEAL_TAG], end[16];
	int	n;

	memcpy(t, tag, DSEAL_TAG);
	if (EVP_CIPHER_CTX_ctrl(d->evp, EVP_CTRL_GCM_SET_TAG, DSEAL_TAG,
	    t) != 1)
		return (-1);
	return (EVP_CipherFinal_ex(d->evp, end, &n) == 1 ? 0 : -1);
}

void
dseal_ready(struct dseal *ds, uint8_t out[DSEAL_READY])
{
	dseal_begin(&ds->tx, 0);
	dseal_tag(&ds->tx, out);
}

int
dseal_ready_ok(struct dseal *ds, const uint8_t in[DSEAL_READY])
{
	dseal_begin(&ds->rx, 0);
	return (dseal_check(&ds->rx, in));
}

int
dseal_tls_record(const uint8_t in[DSEAL_READY])
{
	/* content type alert (21) or application data (23), version 3.3 */
	return ((in[0] == 21 || in[0] == 23) && in[1] == 3 && in[2] == 3);
}

size_t
dseal_seal_header(struct dseal *ds, const uint8_t *in, size_t len,
    uint8_t *out)
{
	size_t	rec = len + DSEAL_TAG;

	put_le32(out, (uint32_t)rec);
	dseal_begin(&ds->tx, rec);
	dseal_enc(&ds->tx, in, len, out + DSEAL_LEN);
	dseal_tag(&ds->tx, out + DSEAL_LEN + len);
	return (DSEAL_LEN + rec);
}

size_t
dseal_seal_payload(struct dseal *ds, const struct dseal_seg *in, unsigned n,
    uint8_t *out)
{
	size_t		len = 0, off = 0;
	unsigned	i;

	for (i = 0; i < n; i++)
		len += in[i].len;
	dseal_begin(&ds->tx, len + DSEAL_TAG);
	for (i = 0; i < n; i++) {
		dseal_enc(&ds->tx, in[i].p, in[i].len, out + off);
		off += in[i].len;
	}
	dseal_tag(&ds->tx, out + off);
	return (off + DSEAL_TAG);
}

int
dseal_open_header(struct dseal *ds, uint8_t *buf, size_t len)
{
	if (len < DSEAL_TAG)
		return (-1);
	dseal_begin(&ds->rx, len);
	dseal_enc(&ds->rx, buf, len - DSEAL_TAG, buf);
	return (dseal_check(&ds->rx, buf + len - DSEAL_TAG));
}

int
dseal_open_payload(struct dseal *ds, const struct dseal_seg *io, unsigned n,
    const uint8_t tag[DSEAL_TAG])
{
	size_t		len = 0;
	unsigned	i;

	for (i = 0; i < n; i++)
		len += io[i].len;
	dseal_begin(&ds->rx, len + DSEAL_TAG);
	for (i = 0; i < n; i++)
		dseal_enc(&ds->rx, io[i].p, io[i].len,
		    io[i].p);
	return (dseal_check(&ds->rx, tag));
}
