/*
 * vmig/client.h: a small C client for vmigd's control API.
 *
 * One connection is one nng REQ socket. One call sends a vmig.v1.Request
 * and waits for its vmig.v1.Response (up to the timeout). The REQ resend
 * time is off: a call is sent once (StartMigration is not idempotent), and
 * the timeout bounds it. Receive size is capped (RECVMAXSZ).
 *
 * Errors: functions return 0 or a negative errno and fill err with a
 * sentence naming the URL ("cannot reach vmigd at ipc:///run/vmigd/
 * vmigd.sock: no such file (is vmigd running?)"). A Response whose status is
 * not OK is still a successful call: look at resp->status.
 */
#ifndef VMIG_CLIENT_H
#define VMIG_CLIENT_H

#include <stddef.h>
#include <stdint.h>

#include "vmig.pb-c.h"

#ifdef __cplusplus
extern "C" {
#endif

#define VMIG_CLIENT_DEFAULT_URL		"ipc:///run/vmigd/vmigd.sock"
#define VMIG_CLIENT_DEFAULT_TIMEOUT_MS	10000
#define VMIG_CLIENT_MAX_RECV		(64u << 20)

struct vmig_client;

/* Connect (synchronously: a daemon that is down is reported here). */
struct vmig_client *vmig_client_open(const char *url, int timeout_ms,
	    char *err, size_t errlen);

/*
 * Credentials for a tls+tcp:// URL: vmigd's certificate is verified
 * against ca_file (and its name against server_name, or the URL's host),
 * and this client proves itself with cert_file and key_file (PEM; the key
 * unencrypted; key_file NULL: the key is in cert_file).
 */
struct vmig_client_tls {
	const char	*ca_file;
	const char	*cert_file;
	const char	*key_file;
	const char	*server_name;
};
/* vmig_client_open with TLS credentials (tls may be NULL). */
struct vmig_client *vmig_client_open_tls(const char *url, int timeout_ms,
	    const struct vmig_client_tls *tls, char *err, size_t errlen);
void	vmig_client_close(struct vmig_client *c);
const char *vmig_client_url(const struct vmig_client *c);
void	vmig_client_set_timeout(struct vmig_client *c, int timeout_ms);

/*
 * Send req (request_id and api_version are filled in when 0) and return
 * the decoded response in *resp (free with vmig_client_free). -ETIMEDOUT,
 * -ECONNRESET, -EBADMSG (undecodable answer), -EPROTO (request_id
 * mismatch), ...
 */
int	vmig_client_call(struct vmig_client *c, Vmig__V1__Request *req,
	    Vmig__V1__Response **resp, char *err, size_t errlen);
void	vmig_client_free(Vmig__V1__Response *resp);

/* Raw round trip of already packed bytes (benchmarks); 0 or -errno. */
int	vmig_client_roundtrip(struct vmig_client *c, const void *buf,
	    size_t len, void **out, size_t *outlen, char *err, size_t errlen);

/* "STATUS_NOT_FOUND" */
const char *vmig_status_name(int code);

#ifdef __cplusplus
}
#endif

#endif /* VMIG_CLIENT_H */
