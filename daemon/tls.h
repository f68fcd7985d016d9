/*
 * tls.h: nng TLS configurations built from the [security] files, for the
 * control API's tls+tcp:// listener now and the peer stream later.
 *
 * The files are read here (PEM, at most TLS_FILE_MAX bytes each) so that
 * an error names the file and the key, and so that a reload (SIGHUP) can
 * tell from a digest of their contents whether anything changed before it
 * replaces a listener. A server requires a client certificate that chains
 * to the CA (NNG_TLS_AUTH_MODE_REQUIRED: the handshake fails otherwise,
 * an expired certificate included); a client verifies the server the same
 * way, and its name when one is given. TLS 1.2 at least; a client
 * (the peer stream's dialer) TLS 1.2 only (tls.c says why).
 */
#ifndef VMIG_TLS_H
#define VMIG_TLS_H

#include <stddef.h>
#include <stdint.h>

#include <nng/nng.h>
#include <nng/supplemental/tls/tls.h>

#define TLS_FILE_MAX	(1u << 20)

/*
 * The engine nng's TLS runs on, process-wide ([daemon] tls_engine):
 * "openssl" (tls_openssl.c, the default) or "mbedtls" (the one Debian's
 * libnng is built with). Configurations take the engine registered when
 * they are made, so this comes before the first one.
 */
#define TLS_ENGINE_DEFAULT	"openssl"
#define TLS_ENGINE_NAMES	"openssl or mbedtls"

/* Whether name is one of TLS_ENGINE_NAMES. */
int	tls_engine_known(const char *name);
/*
 * Make nng's TLS use the engine named. It runs nng's init first (which
 * would otherwise undo a registration made before it). 0, or a negative
 * errno with err saying why.
 */
int	tls_engine_use(const char *name, char *err, size_t errlen);
/* The engine running, as "name (library version)". */
const char *tls_engine_running(char *buf, size_t len);
/* tls_openssl.c: register the OpenSSL engine with nng. */
int	tls_openssl_register(char *err, size_t errlen);

enum tls_role {
	TLS_SERVER,		/* listener: own cert required, client certs too */
	TLS_CLIENT,		/* dialer: own cert optional, server verified */
};

struct tls_files {
	const char	*ca;		/* PEM CA chain (and CRLs) peers chain to */
	const char	*cert;		/* PEM certificate (chain) */
	const char	*key;		/* PEM private key, unencrypted */
	const char	*ca_key;	/* config key names, for errors */
	const char	*cert_key;
	const char	*key_key;
};

/*
 * A new configuration (free with nng_tls_config_free) and the digest of
 * the files' contents. 0, or a negative errno with err naming the file.
 * server_name: for TLS_CLIENT, the name the server's certificate must
 * carry (NULL: the dialer's URL host).
 */
int	tls_config_new(enum tls_role role, const struct tls_files *f,
	    const char *server_name, nng_tls_config **out, uint64_t *digest,
	    char *err, size_t errlen);
/*
 * tls_openssl.c, for connections nng does not carry (dseal.c): an
 * OpenSSL context made as the engine makes one for tls_config_new()
 * from the same PEM strings; the server name a client checks (an
 * address against the IP SANs), name outliving ssl.
 */
struct ssl_ctx_st;
struct ssl_st;
int	tls_openssl_ctx(enum tls_role role, const char *ca_pem,
	    const char *cert_pem, const char *key_pem, struct ssl_ctx_st **out,
	    char *err, size_t errlen);
int	tls_openssl_name(struct ssl_st *ssl, const char *name);
/*
 * The sealed data connections' context (dseal.h) from the same files
 * and rules as tls_config_new().
 */
struct dseal_ctx;
int	tls_seal_new(enum tls_role role, const struct tls_files *f,
	    const char *server_name, struct dseal_ctx **out, char *err,
	    size_t errlen);
/* The digest alone (has a reload changed anything?). */
int	tls_files_digest(const struct tls_files *f, uint64_t *digest,
	    char *err, size_t errlen);

#endif /* VMIG_TLS_H */
