/*
 * client.c: the C client of vmigd's control API (vmig/client.h): one nng
 * REQ socket, one long-lived aio, a request out and its response back.
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <nng/nng.h>
#include <nng/protocol/reqrep0/req.h>
#include <nng/supplemental/tls/tls.h>

#include "vmig/client.h"

struct vmig_client {
	nng_socket	 sock;
	nng_aio		*aio;
	char		*url;
	int		 timeout_ms;
	uint64_t	 next_id;
};

static int
client_errno(int rv)
{
	switch (rv) {
	case NNG_ETIMEDOUT:
		return (-ETIMEDOUT);
	case NNG_ECONNREFUSED:
		return (-ECONNREFUSED);
	case NNG_ENOENT:
		return (-ENOENT);
	case NNG_ENOMEM:
		return (-ENOMEM);
	case NNG_EADDRINVAL:
	case NNG_EINVAL:
		return (-EINVAL);
	case NNG_ECLOSED:
	case NNG_ECONNRESET:
	case NNG_ECONNSHUT:
		return (-ECONNRESET);
	case NNG_EMSGSIZE:
		return (-EMSGSIZE);
	case NNG_EPERM:
		return (-EACCES);
	default:
		return (-EIO);
	}
}

const char *
vmig_status_name(int code)
{
	const ProtobufCEnumValue	*v;

	v = protobuf_c_enum_descriptor_get_value(
	    &vmig__v1__status_code__descriptor, code);
	return (v != NULL ? v->name : "STATUS_UNKNOWN");
}

/* A whole PEM file as a string (nng takes strings). */
static char *
client_read_pem(const char *path, char *err, size_t errlen)
{
	FILE	*f;
	char	*buf = NULL;
	size_t	 n = 0, cap = 0;
	int	 ch;

	if ((f = fopen(path, "re")) == NULL) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return (NULL);
	}
	while ((ch = getc(f)) != EOF) {
		if (n + 1 >= cap) {
			char *nb = realloc(buf, cap = cap ? cap * 2 : 4096);

			if (nb == NULL || cap > (1u << 20)) {
				free(nb != NULL ? nb : buf);
				fclose(f);
				snprintf(err, errlen, "%s: too large for a PEM "
				    "file", path);
				return (NULL);
			}
			buf = nb;
		}
		buf[n++] = (char)ch;
	}
	fclose(f);
	if (buf == NULL && (buf = malloc(1)) == NULL)
		return (NULL);
	buf[n] = '\0';
	return (buf);
}

/* Dial url with TLS credentials; nng's error, or -1 with err set. */
static int
client_dial_tls(struct vmig_client *c, const char *url,
    const struct vmig_client_tls *tls, char *err, size_t errlen)
{
	nng_tls_config	*cfg = NULL;
	nng_dialer	 d;
	char		*cert = NULL, *key = NULL;
	int		 rv;

	if ((rv = nng_dialer_create(&d, c->sock, url)) != 0 ||
	    (rv = nng_tls_config_alloc(&cfg, NNG_TLS_MODE_CLIENT)) != 0)
		goto out;
	if (tls->ca_file != NULL && (rv = nng_tls_config_ca_file(cfg,
	    tls->ca_file)) != 0) {
		snprintf(err, errlen, "TLS CA file %s: %s", tls->ca_file,
		    nng_strerror(rv));
		rv = -1;
		goto out;
	}
	if (tls->cert_file != NULL) {
		if ((cert = client_read_pem(tls->cert_file, err, errlen)) ==
		    NULL || (key = client_read_pem(tls->key_file != NULL ?
		    tls->key_file : tls->cert_file, err, errlen)) == NULL) {
			rv = -1;
			goto out;
		}
		if ((rv = nng_tls_config_own_cert(cfg, cert, key, NULL)) != 0) {
			snprintf(err, errlen, "TLS certificate %s and key %s: "
			    "%s", tls->cert_file, tls->key_file != NULL ?
			    tls->key_file : tls->cert_file, nng_strerror(rv));
			rv = -1;
			goto out;
		}
	}
	if ((tls->server_name != NULL && (rv = nng_tls_config_server_name(cfg,
	    tls->server_name)) != 0) ||
	    (rv = nng_dialer_set_ptr(d, NNG_OPT_TLS_CONFIG, cfg)) != 0)
		goto out;
	rv = nng_dialer_start(d, 0);
out:
	if (cfg != NULL)
		nng_tls_config_free(cfg);	/* the dialer holds it */
	if (key != NULL)
		memset(key, 0, strlen(key));
	free(cert);
	free(key);
	return (rv);
}

struct vmig_client *
vmig_client_open(const char *url, int timeout_ms, char *err, size_t errlen)
{
	return (vmig_client_open_tls(url, timeout_ms, NULL, err, errlen));
}

struct vmig_client *
vmig_client_open_tls(const char *url, int timeout_ms,
    const struct vmig_client_tls *tls, char *err, size_t errlen)
{
	struct vmig_client	*c;
	int			 rv;

	if ((c = calloc(1, sizeof(*c))) == NULL ||
	    (c->url = strdup(url)) == NULL) {
		free(c);
		snprintf(err, errlen, "out of memory");
		return (NULL);
	}
	c->timeout_ms = timeout_ms > 0 ? timeout_ms :
	    VMIG_CLIENT_DEFAULT_TIMEOUT_MS;
	/* Spread ids over processes so a daemon log tells clients apart. */
	c->next_id = ((uint64_t)getpid() << 32) + 1;
	if ((rv = nng_req0_open(&c->sock)) != 0) {
		snprintf(err, errlen, "cannot open an nng REQ socket: %s",
		    nng_strerror(rv));
		goto fail;
	}
	/*
	 * REQ resends a request that got no answer within the resend time
	 * (60 s by default). Calls are not all idempotent (StartMigration):
	 * send once, and let the timeout bound the call.
	 */
	if ((rv = nng_socket_set_ms(c->sock, NNG_OPT_REQ_RESENDTIME,
	    NNG_DURATION_INFINITE)) != 0 ||
	    (rv = nng_socket_set_size(c->sock, NNG_OPT_RECVMAXSZ,
	    VMIG_CLIENT_MAX_RECV)) != 0 ||
	    (rv = nng_aio_alloc(&c->aio, NULL, NULL)) != 0) {
		snprintf(err, errlen, "cannot set up the nng socket: %s",
		    nng_strerror(rv));
		goto fail;
	}
	/* Synchronous: a daemon that is down is reported now, not as a
	 * timeout later. */
	if (tls != NULL && strncmp(url, "tls+tcp", 7) == 0)
		rv = client_dial_tls(c, url, tls, err, errlen);
	else
		rv = nng_dial(c->sock, url, NULL, 0);
	if (rv == -1) {
		rv = NNG_EINVAL;	/* err says which file */
		goto fail;
	}
	if (rv != 0) {
		snprintf(err, errlen, "cannot reach vmigd at %s: %s%s", url,
		    nng_strerror(rv), rv == NNG_ECONNREFUSED ||
		    rv == NNG_ENOENT ? " (is vmigd running?)" :
		    rv == NNG_EPEERAUTH || rv == NNG_ECRYPTO ||
		    rv == NNG_ECONNSHUT || rv == NNG_ECLOSED ?
		    " (TLS: does vmigd take this client certificate, and this "
		    "CA vmigd's?)" : "");
		goto fail;
	}
	return (c);
fail:
	rv = client_errno(rv);
	vmig_client_close(c);
	errno = -rv;
	return (NULL);
}

void
vmig_client_close(struct vmig_client *c)
{
	if (c == NULL)
		return;
	if (c->aio != NULL) {
		nng_aio_stop(c->aio);
		nng_aio_free(c->aio);
	}
	nng_close(c->sock);
	free(c->url);
	free(c);
}

const char *
vmig_client_url(const struct vmig_client *c)
{
	return (c->url);
}

void
vmig_client_set_timeout(struct vmig_client *c, int timeout_ms)
{
	c->timeout_ms = timeout_ms > 0 ? timeout_ms :
	    VMIG_CLIENT_DEFAULT_TIMEOUT_MS;
}

/* Send m (consumed) and wait for the answer. */
static int
client_exchange(struct vmig_client *c, nng_msg *m, nng_msg **out, char *err,
    size_t errlen)
{
	int	rv;

	nng_aio_set_timeout(c->aio, c->timeout_ms);
	nng_aio_set_msg(c->aio, m);
	nng_send_aio(c->sock, c->aio);
	nng_aio_wait(c->aio);
	if ((rv = nng_aio_result(c->aio)) != 0) {
		nng_msg_free(m);
		snprintf(err, errlen, "vmigd at %s: cannot send: %s", c->url,
		    nng_strerror(rv));
		return (client_errno(rv));
	}
	nng_recv_aio(c->sock, c->aio);
	nng_aio_wait(c->aio);
	if ((rv = nng_aio_result(c->aio)) != 0) {
		if (rv == NNG_ETIMEDOUT)
			snprintf(err, errlen, "vmigd at %s: no answer within "
			    "%d ms", c->url, c->timeout_ms);
		else if (rv == NNG_ECONNRESET)
			snprintf(err, errlen, "vmigd at %s: %s (vmigd stopped, "
			    "or the request was over its size limit)", c->url,
			    nng_strerror(rv));
		else
			snprintf(err, errlen, "vmigd at %s: %s", c->url,
			    nng_strerror(rv));
		return (client_errno(rv));
	}
	*out = nng_aio_get_msg(c->aio);
	return (0);
}

int
vmig_client_roundtrip(struct vmig_client *c, const void *buf, size_t len,
    void **out, size_t *outlen, char *err, size_t errlen)
{
	nng_msg	*m, *r;
	int	 rv;

	if ((rv = nng_msg_alloc(&m, len)) != 0) {
		snprintf(err, errlen, "out of memory for %zu bytes", len);
		return (-ENOMEM);
	}
	if (len != 0)
		memcpy(nng_msg_body(m), buf, len);
	if ((rv = client_exchange(c, m, &r, err, errlen)) != 0)
		return (rv);
	*outlen = nng_msg_len(r);
	if ((*out = malloc(*outlen != 0 ? *outlen : 1)) == NULL) {
		nng_msg_free(r);
		snprintf(err, errlen, "out of memory for %zu bytes", *outlen);
		return (-ENOMEM);
	}
	memcpy(*out, nng_msg_body(r), *outlen);
	nng_msg_free(r);
	return (0);
}

int
vmig_client_call(struct vmig_client *c, Vmig__V1__Request *req,
    Vmig__V1__Response **resp, char *err, size_t errlen)
{
	Vmig__V1__Response	*r;
	nng_msg			*m, *ans;
	size_t			 len;
	int			 rv;

	*resp = NULL;
	if (req->request_id == 0)
		req->request_id = c->next_id++;
	if (req->api_version == 0)
		req->api_version = 1;
	len = vmig__v1__request__get_packed_size(req);
	if ((rv = nng_msg_alloc(&m, len)) != 0) {
		snprintf(err, errlen, "out of memory for %zu bytes", len);
		return (-ENOMEM);
	}
	vmig__v1__request__pack(req, nng_msg_body(m));
	if ((rv = client_exchange(c, m, &ans, err, errlen)) != 0)
		return (rv);
	r = vmig__v1__response__unpack(NULL, nng_msg_len(ans),
	    nng_msg_body(ans));
	len = nng_msg_len(ans);
	nng_msg_free(ans);
	if (r == NULL) {
		snprintf(err, errlen, "vmigd at %s: its answer (%zu bytes) "
		    "does not decode as vmig.v1.Response", c->url, len);
		return (-EBADMSG);
	}
	if (r->request_id != req->request_id) {
		snprintf(err, errlen, "vmigd at %s: answer to request %llu "
		    "came back for request %llu", c->url,
		    (unsigned long long)req->request_id,
		    (unsigned long long)r->request_id);
		vmig__v1__response__free_unpacked(r, NULL);
		return (-EPROTO);
	}
	if (r->status == NULL) {
		/* proto3 leaves an unset message NULL; OK is its meaning. */
		r->status = malloc(sizeof(*r->status));
		if (r->status == NULL) {
			vmig__v1__response__free_unpacked(r, NULL);
			snprintf(err, errlen, "out of memory");
			return (-ENOMEM);
		}
		vmig__v1__status__init(r->status);
	}
	*resp = r;
	return (0);
}

void
vmig_client_free(Vmig__V1__Response *resp)
{
	if (resp != NULL)
		vmig__v1__response__free_unpacked(resp, NULL);
}
