/*
 * tls_openssl.c: an nng TLS engine backed by OpenSSL (tls.h).
 *
 * nng 1.5.2 runs every TLS connection through its tls_common.c: it owns
 * the TCP stream, a 16 KiB send ring and a 16 KiB receive buffer, and
 * calls the engine's ops below with the connection's lock held. The
 * engine moves ciphertext only through nng_tls_engine_send() and
 * nng_tls_engine_recv(), which return NNG_EAGAIN when the ring is full
 * or nothing has arrived (they start the TCP I/O themselves; its
 * completion calls the ops again). So, like nng's mbedTLS and wolfSSL
 * engines, each SSL object gets a BIO whose write and read are those two
 * calls, and an NNG_EAGAIN becomes a BIO retry, SSL_ERROR_WANT_*, and
 * NNG_EAGAIN back to nng.
 *
 * The contract (engine.h and tls_common.c @v1.5.2):
 * - send: 0 with *len set to the plaintext bytes taken, or NNG_EAGAIN,
 *   in which case nng calls again with the same buffer once the ring has
 *   drained (OpenSSL's "retry SSL_write with the same arguments");
 * - recv: 0 as soon as some plaintext is there (nng completes the
 *   caller's aio at once), NNG_EAGAIN when none;
 * - handshake: 0 once done, NNG_EAGAIN while I/O is needed, an error
 *   ends the connection (NNG_EPEERAUTH: we refused the peer's
 *   certificate; NNG_ECRYPTO: anything else, the peer refusing ours
 *   included: tlsprobe.c tells the job which side refused);
 * - never NNG_ECLOSED for the peer's doing (ossl_err());
 * - fini: also on a connection whose init never ran (a failed dial is
 *   reaped through it), so it takes a zeroed state.
 *
 * The policy is tls.c's: TLS 1.2 or 1.3, AEAD suites only (AES-GCM,
 * ChaCha20-Poly1305), AES-128-GCM first (the fastest here with AES-NI).
 * Unlike mbedTLS 2.28, OpenSSL matches a server name that is an IP
 * address against the certificate's IP SANs.
 */
#include "config.h"

#include <arpa/inet.h>

#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include <nng/nng.h>
#include <nng/supplemental/tls/engine.h>

#include "log.h"
#include "tls.h"
#include "util.h"

/* TLS 1.2 suites; TLS 1.3's are all AEAD. ECDHE for forward secrecy. */
#define OSSL_CIPHERS	"ECDHE+AESGCM:ECDHE+CHACHA20"
#define OSSL_SUITES	"TLS_AES_128_GCM_SHA256:TLS_AES_256_GCM_SHA384:" \
			"TLS_CHACHA20_POLY1305_SHA256"
/*
 * Plaintext taken per send call: SSL_write encrypts it record by record
 * into nng's ring and returns only once all of it is there, so a larger
 * chunk means fewer completions of the caller's aio, not more buffering.
 */
#define OSSL_SEND_MAX	(1024 * 1024)

struct nng_tls_engine_config {
	SSL_CTX			*ctx;
	nng_tls_mode		 mode;
	nng_tls_auth_mode	 auth;
	char			*server_name;	/* client: the peer's name */
};

struct nng_tls_engine_conn {
	void			*tls;		/* nng's, for engine_send/recv */
	SSL			*ssl;
};

static BIO_METHOD	*ossl_bio_method;

/* ---------------------------------------------------------------- BIO */

static int
ossl_bio_write(BIO *b, const char *buf, size_t len, size_t *done)
{
	struct nng_tls_engine_conn	*ec = BIO_get_data(b);
	size_t				 n = len;
	int				 rv;

	BIO_clear_retry_flags(b);
	if ((rv = nng_tls_engine_send(ec->tls, (const uint8_t *)buf,
	    &n)) == NNG_EAGAIN) {
		BIO_set_retry_write(b);
		return (0);
	}
	if (rv != 0)
		return (0);
	*done = n;
	return (1);
}

static int
ossl_bio_read(BIO *b, char *buf, size_t len, size_t *done)
{
	struct nng_tls_engine_conn	*ec = BIO_get_data(b);
	size_t				 n = len;
	int				 rv;

	BIO_clear_retry_flags(b);
	if ((rv = nng_tls_engine_recv(ec->tls, (uint8_t *)buf,
	    &n)) == NNG_EAGAIN) {
		BIO_set_retry_read(b);
		return (0);
	}
	if (rv != 0)
		return (0);
	*done = n;
	return (1);
}

static long
ossl_bio_ctrl(BIO *b, int cmd, long num, void *ptr)
{
	(void)b;
	(void)num;
	(void)ptr;
	return (cmd == BIO_CTRL_FLUSH ? 1 : 0);	/* nng sends as it takes */
}

static int
ossl_bio_create(BIO *b)
{
	BIO_set_init(b, 1);
	return (1);
}

/* ------------------------------------------------------------- errors */

/* The first queued OpenSSL error as a sentence, the queue emptied. */
static void
ossl_why(const char *what, char *buf, size_t len)
{
	unsigned long	e = ERR_get_error();

	if (e == 0)
		snprintf(buf, len, "%s", what);
	else {
		ERR_error_string_n(e, buf, len);
		ERR_clear_error();
	}
}

/*
 * An SSL call that failed: NNG_EAGAIN while I/O is needed, NNG_EPEERAUTH
 * when this side refused the peer's certificate (or its lack of one),
 * NNG_ECONNSHUT on the peer's close_notify, else NNG_ECRYPTO (ours
 * refused by the peer among them).
 */
static int
ossl_err(struct nng_tls_engine_conn *ec, int ret, const char *op)
{
	unsigned long	e;
	long		vr;
	int		reason;
	char		why[256];

	switch (SSL_get_error(ec->ssl, ret)) {
	case SSL_ERROR_WANT_READ:
	case SSL_ERROR_WANT_WRITE:
		return (NNG_EAGAIN);
	case SSL_ERROR_ZERO_RETURN:
		/*
		 * The peer's close_notify: what nng's TCP says of an EOF. Never
		 * NNG_ECLOSED (our own close): nng 1.5.2's tls+tcp:// passes a
		 * failed negotiation's error to its listener, which stops
		 * accepting for good on NNG_ECLOSED.
		 */
		return (NNG_ECONNSHUT);
	default:
		break;
	}
	e = ERR_peek_error();
	reason = ERR_GET_REASON(e);
	if ((vr = SSL_get_verify_result(ec->ssl)) != X509_V_OK) {
		log_debug("%s: %s: the peer's certificate: %s", __func__, op,
		    X509_verify_cert_error_string(vr));
		ERR_clear_error();
		return (NNG_EPEERAUTH);
	}
	ossl_why(op, why, sizeof(why));
	log_debug("%s: %s: %s", __func__, op, why);
	/*
	 * A server refusing a client without a certificate refuses it here;
	 * an alert from the peer (ours refused there) stays NNG_ECRYPTO, so
	 * that tlsprobe.c can tell the two sides apart.
	 */
	return (reason == SSL_R_PEER_DID_NOT_RETURN_A_CERTIFICATE ?
	    NNG_EPEERAUTH : NNG_ECRYPTO);
}

/* ------------------------------------------------------------- config */

static void
ossl_set_verify(struct nng_tls_engine_config *cfg)
{
	int	mode;

	switch (cfg->auth) {
	case NNG_TLS_AUTH_MODE_REQUIRED:
		mode = SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT;
		break;
	case NNG_TLS_AUTH_MODE_OPTIONAL:
		mode = SSL_VERIFY_PEER;
		break;
	default:
		mode = SSL_VERIFY_NONE;
		break;
	}
	SSL_CTX_set_verify(cfg->ctx, mode, NULL);
}

static int
ossl_config_init(struct nng_tls_engine_config *cfg, nng_tls_mode mode)
{
	cfg->mode = mode;
	/* nng's defaults: a client verifies the server, a server nobody */
	cfg->auth = mode == NNG_TLS_MODE_SERVER ? NNG_TLS_AUTH_MODE_NONE :
	    NNG_TLS_AUTH_MODE_REQUIRED;
	if ((cfg->ctx = SSL_CTX_new(mode == NNG_TLS_MODE_SERVER ?
	    TLS_server_method() : TLS_client_method())) == NULL)
		return (NNG_ENOMEM);
	if (SSL_CTX_set_min_proto_version(cfg->ctx, TLS1_2_VERSION) != 1 ||
	    SSL_CTX_set_cipher_list(cfg->ctx, OSSL_CIPHERS) != 1 ||
	    SSL_CTX_set_ciphersuites(cfg->ctx, OSSL_SUITES) != 1) {
		ERR_clear_error();
		SSL_CTX_free(cfg->ctx);
		cfg->ctx = NULL;
		return (NNG_ECRYPTO);
	}
	SSL_CTX_set_options(cfg->ctx, SSL_OP_NO_RENEGOTIATION |
	    SSL_OP_CIPHER_SERVER_PREFERENCE);
	SSL_CTX_set_mode(cfg->ctx, SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
	ossl_set_verify(cfg);
	return (0);
}

static void
ossl_config_fini(struct nng_tls_engine_config *cfg)
{
	SSL_CTX_free(cfg->ctx);
	free(cfg->server_name);
}

static int
ossl_config_server(struct nng_tls_engine_config *cfg, const char *name)
{
	char	*dup;

	if ((dup = strdup(name)) == NULL)
		return (NNG_ENOMEM);
	free(cfg->server_name);
	cfg->server_name = dup;
	return (0);
}

static int
ossl_config_auth(struct nng_tls_engine_config *cfg, nng_tls_auth_mode mode)
{
	if (mode != NNG_TLS_AUTH_MODE_NONE &&
	    mode != NNG_TLS_AUTH_MODE_OPTIONAL &&
	    mode != NNG_TLS_AUTH_MODE_REQUIRED)
		return (NNG_EINVAL);
	cfg->auth = mode;
	ossl_set_verify(cfg);
	return (0);
}

/* Every certificate (and CRL) of a PEM string into st; how many certs. */
static int
ossl_load_pem(X509_STORE *st, const char *pem, int *ncrl)
{
	STACK_OF(X509_INFO)	*infos;
	X509_INFO		*xi;
	BIO			*b;
	int			 i, n = 0;

	if ((b = BIO_new_mem_buf(pem, -1)) == NULL)
		return (-1);
	infos = PEM_X509_INFO_read_bio(b, NULL, NULL, NULL);
	BIO_free(b);
	if (infos == NULL)
		return (-1);
	for (i = 0; i < sk_X509_INFO_num(infos); i++) {
		xi = sk_X509_INFO_value(infos, i);
		if (xi->x509 != NULL && X509_STORE_add_cert(st, xi->x509) == 1)
			n++;
		if (xi->crl != NULL && X509_STORE_add_crl(st, xi->crl) == 1)
			(*ncrl)++;
	}
	sk_X509_INFO_pop_free(infos, X509_INFO_free);
	return (n);
}

static int
ossl_config_ca_chain(struct nng_tls_engine_config *cfg, const char *certs,
    const char *crl)
{
	X509_STORE	*st;
	int		 ncrl = 0;

	if ((st = X509_STORE_new()) == NULL)
		return (NNG_ENOMEM);
	if (ossl_load_pem(st, certs, &ncrl) <= 0 ||
	    (crl != NULL && ossl_load_pem(st, crl, &ncrl) < 0)) {
		ERR_clear_error();
		X509_STORE_free(st);
		return (NNG_EINVAL);
	}
	if (ncrl > 0)
		X509_STORE_set_flags(st, X509_V_FLAG_CRL_CHECK);
	SSL_CTX_set_cert_store(cfg->ctx, st);	/* frees the old one */
	return (0);
}

/* A key's passphrase: the one given, never a prompt on a terminal. */
static int
ossl_pass_cb(char *buf, int size, int rwflag, void *u)
{
	size_t	len;

	(void)rwflag;
	if (u == NULL || size <= 0)
		return (0);
	if ((len = strlen(u)) >= (size_t)size)
		return (0);
	memcpy(buf, u, len);
	return ((int)len);
}

static int
ossl_config_own_cert(struct nng_tls_engine_config *cfg, const char *cert,
    const char *key, const char *pass)
{
	X509		*x = NULL, *extra;
	EVP_PKEY	*pk = NULL;
	BIO		*b;
	int		 rv = NNG_EINVAL;

	if ((b = BIO_new_mem_buf(cert, -1)) == NULL)
		return (NNG_ENOMEM);
	if ((x = PEM_read_bio_X509(b, NULL, NULL, NULL)) == NULL ||
	    SSL_CTX_use_certificate(cfg->ctx, x) != 1) {
		BIO_free(b);
		goto out;
	}
	SSL_CTX_clear_chain_certs(cfg->ctx);
	/* the rest of the file: the chain up to (not including) the CA */
	while ((extra = PEM_read_bio_X509(b, NULL, NULL, NULL)) != NULL)
		if (SSL_CTX_add0_chain_cert(cfg->ctx, extra) != 1)
			X509_free(extra);
	BIO_free(b);
	if ((b = BIO_new_mem_buf(key, -1)) == NULL) {
		rv = NNG_ENOMEM;
		goto out;
	}
	pk = PEM_read_bio_PrivateKey(b, NULL, ossl_pass_cb, (void *)pass);
	BIO_free(b);
	if (pk != NULL && SSL_CTX_use_PrivateKey(cfg->ctx, pk) == 1 &&
	    SSL_CTX_check_private_key(cfg->ctx) == 1)
		rv = 0;
out:
	ERR_clear_error();
	X509_free(x);
	EVP_PKEY_free(pk);
	return (rv);
}

static int
ossl_version(nng_tls_version v)
{
	switch (v) {
	case NNG_TLS_1_0:
		return (TLS1_VERSION);
	case NNG_TLS_1_1:
		return (TLS1_1_VERSION);
	case NNG_TLS_1_2:
		return (TLS1_2_VERSION);
	case NNG_TLS_1_3:
		return (TLS1_3_VERSION);
	default:
		return (-1);
	}
}

static int
ossl_config_version(struct nng_tls_engine_config *cfg, nng_tls_version min,
    nng_tls_version max)
{
	int	lo = ossl_version(min), hi = ossl_version(max);

	if (lo < 0 || hi < 0 || lo > hi)
		return (NNG_ENOTSUP);
	/* nothing below 1.2, whatever is asked */
	if (hi < TLS1_2_VERSION)
		return (NNG_ENOTSUP);
	if (lo < TLS1_2_VERSION)
		lo = TLS1_2_VERSION;
	if (SSL_CTX_set_min_proto_version(cfg->ctx, lo) != 1 ||
	    SSL_CTX_set_max_proto_version(cfg->ctx, hi) != 1) {
		ERR_clear_error();
		return (NNG_ENOTSUP);
	}
	return (0);
}

/* --------------------------------------------------------- connection */

/*
 * An address checked against the IP SANs may also be spelled as a DNS
 * SAN: certificates made for vmigd on mbedTLS 2.28 (which matches no IP
 * SAN) carry it that way, and they keep working on this engine.
 */
/*
 * The name a client checks, an address among them, hangs on its SSL
 * (ex data): the verify callback below reads it there, for nng's
 * connections and dseal.c's alike.
 */
static int		ossl_name_idx = -1;
static pthread_once_t	ossl_name_once = PTHREAD_ONCE_INIT;

static void
ossl_name_index(void)
{
	ossl_name_idx = SSL_get_ex_new_index(0, NULL, NULL, NULL, NULL);
}

static int
ossl_verify_cb(int ok, X509_STORE_CTX *xs)
{
	SSL		*ssl;
	const char	*name;
	X509		*leaf;

	if (ok || X509_STORE_CTX_get_error_depth(xs) != 0 ||
	    X509_STORE_CTX_get_error(xs) != X509_V_ERR_IP_ADDRESS_MISMATCH)
		return (ok);
	if ((ssl = X509_STORE_CTX_get_ex_data(xs,
	    SSL_get_ex_data_X509_STORE_CTX_idx())) == NULL ||
	    (name = SSL_get_ex_data(ssl, ossl_name_idx)) == NULL ||
	    (leaf = X509_STORE_CTX_get_current_cert(xs)) == NULL ||
	    X509_check_host(leaf, name, 0,
	    X509_CHECK_FLAG_NEVER_CHECK_SUBJECT, NULL) != 1)
		return (0);
	X509_STORE_CTX_set_error(xs, X509_V_OK);
	return (1);
}

/*
 * The client checks the server's name: an IP SAN for an address. name
 * must outlive ssl (the configuration's, or the dseal context's).
 */
int
tls_openssl_name(SSL *ssl, const char *name)
{
	unsigned char	 addr[16];

	pthread_once(&ossl_name_once, ossl_name_index);
	if (inet_pton(AF_INET, name, addr) == 1 ||
	    inet_pton(AF_INET6, name, addr) == 1) {
		if (ossl_name_idx < 0 || SSL_set_ex_data(ssl, ossl_name_idx,
		    (void *)name) != 1)
			return (NNG_ENOMEM);
		SSL_set_verify(ssl, SSL_get_verify_mode(ssl), ossl_verify_cb);
		return (X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl),
		    name) == 1 ? 0 : NNG_EINVAL);
	}
	/* SNI carries host names only (RFC 6066, 3) */
	if (SSL_set_tlsext_host_name(ssl, name) != 1 ||
	    SSL_set1_host(ssl, name) != 1)
		return (NNG_EINVAL);
	SSL_set_hostflags(ssl, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
	return (0);
}

static int
ossl_conn_init(struct nng_tls_engine_conn *ec, void *tls,
    struct nng_tls_engine_config *cfg)
{
	BIO	*b;
	int	 rv;

	ec->tls = tls;
	if ((ec->ssl = SSL_new(cfg->ctx)) == NULL ||
	    (b = BIO_new(ossl_bio_method)) == NULL) {
		ERR_clear_error();
		return (NNG_ENOMEM);
	}
	BIO_set_data(b, ec);
	SSL_set_bio(ec->ssl, b, b);	/* one reference for both */
	if (cfg->mode == NNG_TLS_MODE_SERVER) {
		SSL_set_accept_state(ec->ssl);
		return (0);
	}
	SSL_set_connect_state(ec->ssl);
	if (cfg->server_name != NULL && *cfg->server_name != '\0' &&
	    (rv = tls_openssl_name(ec->ssl, cfg->server_name)) != 0) {
		ERR_clear_error();
		return (rv);
	}
	return (0);
}

static void
ossl_conn_fini(struct nng_tls_engine_conn *ec)
{
	SSL_free(ec->ssl);	/* NULL if init never ran; frees the BIO */
	ec->ssl = NULL;
}

/* A close_notify if the handshake was done, best effort. */
static void
ossl_conn_close(struct nng_tls_engine_conn *ec)
{
	if (ec->ssl != NULL && SSL_is_init_finished(ec->ssl))
		(void)SSL_shutdown(ec->ssl);
	ERR_clear_error();
}

static int
ossl_conn_handshake(struct nng_tls_engine_conn *ec)
{
	int	ret;

	ERR_clear_error();	/* SSL_get_error() reads this thread's queue */
	if ((ret = SSL_do_handshake(ec->ssl)) == 1)
		return (0);
	return (ossl_err(ec, ret, "handshake"));
}

/* As much plaintext as is there, up to *len; NNG_EAGAIN if none. */
static int
ossl_conn_recv(struct nng_tls_engine_conn *ec, uint8_t *buf, size_t *len)
{
	size_t	got = 0, n;
	int	rv;

	ERR_clear_error();
	while (got < *len) {
		if (SSL_read_ex(ec->ssl, buf + got, *len - got, &n) == 1) {
			got += n;
			continue;
		}
		rv = ossl_err(ec, 0, "read");
		if (got > 0 && (rv == NNG_EAGAIN || rv == NNG_ECONNSHUT))
			break;		/* the rest next time */
		return (rv);
	}
	*len = got;
	return (0);
}

static int
ossl_conn_send(struct nng_tls_engine_conn *ec, const uint8_t *buf,
    size_t *len)
{
	size_t	n = *len < OSSL_SEND_MAX ? *len : OSSL_SEND_MAX, done;

	ERR_clear_error();
	if (SSL_write_ex(ec->ssl, buf, n, &done) == 1) {
		*len = done;
		return (0);
	}
	return (ossl_err(ec, 0, "write"));
}

static bool
ossl_conn_verified(struct nng_tls_engine_conn *ec)
{
	return (ec->ssl != NULL && SSL_get0_peer_certificate(ec->ssl) !=
	    NULL && SSL_get_verify_result(ec->ssl) == X509_V_OK);
}

/* ------------------------------------------------------------- engine */

static nng_tls_engine_config_ops ossl_config_ops = {
	.size = sizeof(struct nng_tls_engine_config),
	.init = ossl_config_init,
	.fini = ossl_config_fini,
	.server = ossl_config_server,
	.auth = ossl_config_auth,
	.ca_chain = ossl_config_ca_chain,
	.own_cert = ossl_config_own_cert,
	.version = ossl_config_version,
};

static nng_tls_engine_conn_ops ossl_conn_ops = {
	.size = sizeof(struct nng_tls_engine_conn),
	.init = ossl_conn_init,
	.fini = ossl_conn_fini,
	.close = ossl_conn_close,
	.handshake = ossl_conn_handshake,
	.recv = ossl_conn_recv,
	.send = ossl_conn_send,
	.verified = ossl_conn_verified,
};

static nng_tls_engine ossl_engine = {
	.version = NNG_TLS_ENGINE_VERSION,
	.config_ops = &ossl_config_ops,
	.conn_ops = &ossl_conn_ops,
	.name = "openssl",
	.fips_mode = false,
};

int
tls_openssl_register(char *err, size_t errlen)
{
	int	rv;

	if (ossl_bio_method == NULL) {
		if ((ossl_bio_method = BIO_meth_new(BIO_get_new_index() |
		    BIO_TYPE_SOURCE_SINK, "nng")) == NULL ||
		    BIO_meth_set_write_ex(ossl_bio_method,
		    ossl_bio_write) != 1 ||
		    BIO_meth_set_read_ex(ossl_bio_method, ossl_bio_read) != 1 ||
		    BIO_meth_set_ctrl(ossl_bio_method, ossl_bio_ctrl) != 1 ||
		    BIO_meth_set_create(ossl_bio_method, ossl_bio_create) != 1)
			return (err_set(err, errlen, -ENOMEM, "TLS engine "
			    "openssl: cannot make its BIO method"));
		ossl_engine.description = OpenSSL_version(OPENSSL_VERSION);
	}
	/*
	 * nng's first call (nni_init) sets its engine to NULL and registers
	 * mbedTLS: this one must come after it (tls_engine_use()).
	 */
	if ((rv = nng_tls_engine_register(&ossl_engine)) != 0)
		return (err_set(err, errlen, -EINVAL, "TLS engine openssl: "
		    "nng refused it: %s", nng_strerror(rv)));
	return (0);
}

/* ------------------------------------------------- outside nng: dseal.c */

/*
 * An SSL_CTX made exactly as nng's configuration would be on this
 * engine by tls_config_new() (same calls, same rules), for connections
 * nng does not carry: the sealed data connections (dseal.c).
 */
int
tls_openssl_ctx(enum tls_role role, const char *ca_pem, const char *cert_pem,
    const char *key_pem, SSL_CTX **out, char *err, size_t errlen)
{
	struct nng_tls_engine_config	 cfg;
	const char			*what = "OpenSSL";
	int				 rv;

	*out = NULL;
	memset(&cfg, 0, sizeof(cfg));
	if ((rv = ossl_config_init(&cfg, role == TLS_SERVER ?
	    NNG_TLS_MODE_SERVER : NNG_TLS_MODE_CLIENT)) != 0)
		goto fail;
	what = "the CA";
	if ((rv = ossl_config_ca_chain(&cfg, ca_pem, NULL)) != 0)
		goto fail;
	what = "the certificate and key";
	if (cert_pem != NULL && (rv = ossl_config_own_cert(&cfg, cert_pem,
	    key_pem, NULL)) != 0)
		goto fail;
	what = "the verify mode";
	if ((rv = ossl_config_auth(&cfg, NNG_TLS_AUTH_MODE_REQUIRED)) != 0)
		goto fail;
	*out = cfg.ctx;
	cfg.ctx = NULL;
	ossl_config_fini(&cfg);
	return (0);
fail:
	ossl_config_fini(&cfg);
	return (err_set(err, errlen, -EINVAL, "TLS (OpenSSL): %s: %s", what,
	    nng_strerror(rv)));
}
