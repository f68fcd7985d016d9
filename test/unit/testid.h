/*
 * testid.h: X.509 identities made in memory for the TLS tests
 * (test_tls.c, test_dseal.c, test_datalink.c): a key, a certificate
 * signed by a CA (or self-signed: a CA), and both in PEM.
 */
#ifndef VMIG_TESTID_H
#define VMIG_TESTID_H

#include <openssl/evp.h>
#include <openssl/x509.h>

struct id {
	EVP_PKEY	*key;
	X509		*cert;
	char		*key_pem;
	char		*cert_pem;
};

/*
 * An identity signed by signer (NULL: a self-signed CA) with subjectAltName
 * san (NULL: none), valid from from_days for days.
 */
void	id_make(struct id *id, const char *cn, const struct id *signer,
	    const char *san, long from_days, long days);
void	id_free(struct id *id);

/*
 * The set every TLS test uses: a CA, another CA, a server ("dst":
 * localhost and 127.0.0.1) and a client ("src") of the CA, another CA's
 * client, an expired server. ids_make() makes them, ids_free() frees.
 */
extern struct id ca, other_ca, server, client, stranger, expired;
void	ids_make(void);
void	ids_free(void);

#endif /* VMIG_TESTID_H */
