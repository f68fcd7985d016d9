/*
 * tls.c: nng TLS configurations from PEM files (tls.h).
 */
#include "config.h"

#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <xxhash.h>

#include "dseal.h"
#include "log.h"
#include "tls.h"
#include "util.h"

/* A whole PEM file, NUL-terminated (nng takes strings). */
static int
tls_read(const char *key, const char *path, char **out, char *err,
    size_t errlen)
{
	struct stat	 sb;
	ssize_t		 r;
	size_t		 n = 0;
	char		*buf;
	int		 fd, rc;

	*out = NULL;
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0 || fstat(fd, &sb) != 0) {
		rc = -errno;
		if (fd >= 0)
			close(fd);
		return (err_set(err, errlen, rc, "[security] %s = %s: cannot "
		    "read it: %s", key, path, strerror(-rc)));
	}
	if (!S_ISREG(sb.st_mode) || sb.st_size > TLS_FILE_MAX) {
		close(fd);
		return (err_set(err, errlen, -EINVAL, "[security] %s = %s: not "
		    "a regular file of at most %u bytes", key, path,
		    TLS_FILE_MAX));
	}
	buf = xmalloc((size_t)sb.st_size + 1);
	while (n < (size_t)sb.st_size) {
		if ((r = read(fd, buf + n, (size_t)sb.st_size - n)) < 0) {
			if (errno == EINTR)
				continue;
			rc = -errno;
			close(fd);
			free(buf);
			return (err_set(err, errlen, rc, "[security] %s = %s: %s",
			    key, path, strerror(-rc)));
		}
		if (r == 0)
			break;
		n += (size_t)r;
	}
	close(fd);
	buf[n] = '\0';
	if (strstr(buf, "-----BEGIN ") == NULL) {
		free(buf);
		return (err_set(err, errlen, -EINVAL, "[security] %s = %s: no "
		    "PEM block in it", key, path));
	}
	/* a private key others can read is a key others have */
	if (strstr(buf, "PRIVATE KEY-----") != NULL && (sb.st_mode & 077))
		log_warnx("[security] %s = %s: a private key readable by its "
		    "group or others (mode %04o)", key, path,
		    (unsigned int)(sb.st_mode & 07777));
	*out = buf;
	return (0);
}

/* The three files' contents (any may be absent) and their digest. */
static int
tls_read_all(const struct tls_files *f, char *pem[3], uint64_t *digest,
    char *err, size_t errlen)
{
	const char	*paths[3] = { f->ca, f->cert, f->key };
	const char	*keys[3] = { f->ca_key, f->cert_key, f->key_key };
	XXH64_state_t	*st;
	int		 i, rc = 0;

	if ((st = XXH64_createState()) == NULL)
		fatalx("%s: XXH64_createState", __func__);
	XXH64_reset(st, 0);
	for (i = 0; i < 3; i++) {
		pem[i] = NULL;
		if (paths[i] == NULL || *paths[i] == '\0') {
			XXH64_update(st, "-", 1);
			continue;
		}
		if ((rc = tls_read(keys[i], paths[i], &pem[i], err,
		    errlen)) != 0)
			break;
		XXH64_update(st, pem[i], strlen(pem[i]) + 1);
	}
	*digest = XXH64_digest(st);
	XXH64_freeState(st);
	if (rc != 0) {
		for (i = 0; i < 3; i++) {
			free(pem[i]);
			pem[i] = NULL;
		}
	}
	return (rc);
}

static void
tls_pem_free(char *pem[3])
{
	int	i;

	for (i = 0; i < 3; i++) {
		if (pem[i] != NULL)
			explicit_bzero(pem[i], strlen(pem[i]));
		free(pem[i]);
	}
}

int
tls_files_digest(const struct tls_files *f, uint64_t *digest, char *err,
    size_t errlen)
{
	char	*pem[3];
	int	 rc;

	if ((rc = tls_read_all(f, pem, digest, err, errlen)) == 0)
		tls_pem_free(pem);
	return (rc);
}

/*
 * The files of a role, read and checked (tls_config_new and tls_seal_new
 * take the same ones the same way). 0 with pem[] to free, or an error.
 */
static int
tls_load(enum tls_role role, const struct tls_files *f, char *pem[3],
    uint64_t *digest, char *err, size_t errlen)
{
	int	rc;

	if (f->ca == NULL || *f->ca == '\0')
		return (err_set(err, errlen, -EINVAL, "[security] %s is not "
		    "set: a TLS %s needs the CA its peers' certificates chain "
		    "to", f->ca_key, role == TLS_SERVER ? "listener" :
		    "dialer"));
	if (role == TLS_SERVER && (f->cert == NULL || *f->cert == '\0' ||
	    f->key == NULL || *f->key == '\0'))
		return (err_set(err, errlen, -EINVAL, "[security] %s and %s must "
		    "be set for a TLS listener", f->cert_key, f->key_key));
	if ((rc = tls_read_all(f, pem, digest, err, errlen)) != 0)
		return (rc);
	if ((pem[1] == NULL) != (pem[2] == NULL)) {
		tls_pem_free(pem);
		return (err_set(err, errlen, -EINVAL, "[security] %s and %s go "
		    "together", f->cert_key, f->key_key));
	}
	return (0);
}

int
tls_seal_new(enum tls_role role, const struct tls_files *f,
    const char *server_name, struct dseal_ctx **out, char *err,
    size_t errlen)
{
	char		*pem[3];
	uint64_t	 digest;
	int		 rc;

	*out = NULL;
	if ((rc = tls_load(role, f, pem, &digest, err, errlen)) != 0)
		return (rc);
	rc = dseal_ctx_new(role, pem[0], pem[1], pem[2], server_name, out,
	    err, errlen);
	tls_pem_free(pem);
	return (rc);
}

int
tls_config_new(enum tls_role role, const struct tls_files *f,
    const char *server_name, nng_tls_config **out, uint64_t *digest,
    char *err, size_t errlen)
{
	nng_tls_config	*cfg = NULL;
	const char	*what = "";
	char		*pem[3];
	int		 rv, rc;

	*out = NULL;
	if ((rc = tls_load(role, f, pem, digest, err, errlen)) != 0)
		return (rc);
	if ((rv = nng_tls_config_alloc(&cfg, role == TLS_SERVER ?
	    NNG_TLS_MODE_SERVER : NNG_TLS_MODE_CLIENT)) != 0) {
		what = "cannot make a TLS configuration";
		goto nng_fail;
	}
	/*
	 * A dialer (the peer stream's source) speaks TLS 1.2. Under 1.3 a
	 * server refuses a client's certificate after the client's handshake
	 * is done, so nng 1.5.2 starts its SP negotiation on a connection
	 * that then fails; on our OpenSSL engine that lost the connection and
	 * its dialer about one refusal in five (118 KB unreachable, ASan:
	 * 3 of 16 refused runs; 0 of 20 with 1.2). Under 1.2 the refusal
	 * comes inside the handshake. The stream carries control frames
	 * only: ECDHE with AES-GCM is all it needs. The pages' connections
	 * are TLS 1.3, outside nng (dseal.h).
	 */
	if ((rv = nng_tls_config_version(cfg, NNG_TLS_1_2, role == TLS_CLIENT ?
	    NNG_TLS_1_2 : NNG_TLS_1_3)) != 0) {
		what = "TLS versions";
		goto nng_fail;
	}
	if ((rv = nng_tls_config_ca_chain(cfg, pem[0], NULL)) != 0) {
		what = f->ca;
		goto nng_fail;
	}
	if (pem[1] != NULL && (rv = nng_tls_config_own_cert(cfg, pem[1],
	    pem[2], NULL)) != 0) {
		what = f->cert;
		goto nng_fail;
	}
	if ((rv = nng_tls_config_auth_mode(cfg,
	    NNG_TLS_AUTH_MODE_REQUIRED)) != 0) {
		what = "authentication mode";
		goto nng_fail;
	}
	if (role == TLS_CLIENT && server_name != NULL && *server_name != '\0' &&
	    (rv = nng_tls_config_server_name(cfg, server_name)) != 0) {
		what = "server name";
		goto nng_fail;
	}
	*out = cfg;
	rc = 0;
	goto out;
nng_fail:
	rc = err_set(err, errlen, -EINVAL, "TLS: %s: %s (%s)", what,
	    nng_strerror(rv), what == f->ca ? "not a CA certificate in PEM "
	    "that nng's TLS engine takes" : what == f->cert ? "the certificate "
	    "and key do not load, or do not match" : "nng's TLS engine");
	if (cfg != NULL)
		nng_tls_config_free(cfg);
out:
	tls_pem_free(pem);
	return (rc);
}

int
tls_engine_known(const char *name)
{
	return (strcmp(name, "openssl") == 0 || strcmp(name, "mbedtls") == 0);
}

int
tls_engine_use(const char *name, char *err, size_t errlen)
{
	/* nng_tls_engine_name() runs nng's init: mbedTLS is registered */
	const char	*now = nng_tls_engine_name();

	if (strcmp(name, "openssl") == 0)
		return (tls_openssl_register(err, errlen));
	if (strcmp(name, "mbedtls") != 0)
		return (err_set(err, errlen, -EINVAL, "[daemon] tls_engine = "
		    "%s: not %s", name, TLS_ENGINE_NAMES));
	/* nng keeps no handle on its own engine: no way back to it */
	if (strcmp(now, "mbed") != 0)
		return (err_set(err, errlen, -ENOTSUP, "[daemon] tls_engine = "
		    "mbedtls: nng runs %s already (and libnng has no mbedTLS "
		    "engine to go back to until a restart)", now));
	return (0);
}

const char *
tls_engine_running(char *buf, size_t len)
{
	snprintf(buf, len, "%s (%s)", nng_tls_engine_name(),
	    nng_tls_engine_description());
	return (buf);
}
