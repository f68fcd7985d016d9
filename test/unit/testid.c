/*
 * testid.c: X.509 identities made in memory (testid.h).
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include "testid.h"

static char *
pem_of(int (*wr)(BIO *, void *), void *obj)
{
	BIO	*b = BIO_new(BIO_s_mem());
	char	*data, *s;
	long	 n;

	cr_assert(b != NULL && wr(b, obj) == 1);
	n = BIO_get_mem_data(b, &data);
	s = calloc(1, (size_t)n + 1);
	memcpy(s, data, (size_t)n);
	BIO_free(b);
	return (s);
}

static int
wr_cert(BIO *b, void *x)
{
	return (PEM_write_bio_X509(b, x));
}

static int
wr_key(BIO *b, void *k)
{
	return (PEM_write_bio_PrivateKey(b, k, NULL, NULL, 0, NULL, NULL));
}

static void
ext_add(X509 *x, X509 *issuer, int nid, const char *value)
{
	X509V3_CTX	 ctx;
	X509_EXTENSION	*e;

	X509V3_set_ctx_nodb(&ctx);
	X509V3_set_ctx(&ctx, issuer, x, NULL, NULL, 0);
	cr_assert((e = X509V3_EXT_conf_nid(NULL, &ctx, nid, value)) != NULL);
	cr_assert(X509_add_ext(x, e, -1) == 1);
	X509_EXTENSION_free(e);
}

void
id_make(struct id *id, const char *cn, const struct id *signer,
    const char *san, long from_days, long days)
{
	static long	 serial = 1;
	X509		*issuer;

	memset(id, 0, sizeof(*id));
	cr_assert((id->key = EVP_EC_gen("P-256")) != NULL);
	cr_assert((id->cert = X509_new()) != NULL);
	X509_set_version(id->cert, 2);
	ASN1_INTEGER_set(X509_get_serialNumber(id->cert), serial++);
	X509_gmtime_adj(X509_getm_notBefore(id->cert), from_days * 86400);
	X509_gmtime_adj(X509_getm_notAfter(id->cert), (from_days + days) *
	    86400);
	X509_set_pubkey(id->cert, id->key);
	X509_NAME_add_entry_by_txt(X509_get_subject_name(id->cert), "CN",
	    MBSTRING_ASC, (const unsigned char *)cn, -1, -1, 0);
	issuer = signer != NULL ? signer->cert : id->cert;
	X509_set_issuer_name(id->cert, X509_get_subject_name(issuer));
	if (signer == NULL) {
		ext_add(id->cert, issuer, NID_basic_constraints,
		    "critical,CA:TRUE");
		ext_add(id->cert, issuer, NID_key_usage,
		    "critical,keyCertSign,cRLSign");
	} else {
		ext_add(id->cert, issuer, NID_basic_constraints, "CA:FALSE");
		ext_add(id->cert, issuer, NID_ext_key_usage,
		    "serverAuth,clientAuth");
		if (san != NULL)
			ext_add(id->cert, issuer, NID_subject_alt_name, san);
	}
	cr_assert(X509_sign(id->cert, signer != NULL ? signer->key : id->key,
	    EVP_sha256()) > 0);
	id->cert_pem = pem_of(wr_cert, id->cert);
	id->key_pem = pem_of(wr_key, id->key);
}

void
id_free(struct id *id)
{
	X509_free(id->cert);
	EVP_PKEY_free(id->key);
	free(id->cert_pem);
	free(id->key_pem);
}


struct id ca, other_ca, server, client, stranger, expired;

void
ids_make(void)
{
	id_make(&ca, "test-ca", NULL, NULL, -1, 2);
	id_make(&other_ca, "other-ca", NULL, NULL, -1, 2);
	id_make(&server, "dst", &ca, "DNS:localhost,IP:127.0.0.1", -1, 2);
	id_make(&client, "src", &ca, "DNS:src.example", -1, 2);
	id_make(&stranger, "src", &other_ca, "DNS:src.example", -1, 2);
	id_make(&expired, "dst-old", &ca, "DNS:localhost", -30, 2);
}

void
ids_free(void)
{
	id_free(&ca);
	id_free(&other_ca);
	id_free(&server);
	id_free(&client);
	id_free(&stranger);
	id_free(&expired);
}
