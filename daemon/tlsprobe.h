/*
 * tlsprobe.h: one TLS handshake beside a dialer, to say why it fails.
 *
 * nng's socket dialer redials a handshake that fails without telling
 * anyone why, so a source whose certificate the destination refuses
 * would only time out. A probe dials the same URL with the same
 * configuration as a plain nng_stream and reads the listener's first
 * bytes (the SP header, sent only once the handshake is done); then it
 * closes. The listener sees a connection that never negotiated: no peer
 * for it, nothing read from it. The verdict comes once, on the loop:
 *
 *   TLSPROBE_OK           a session: the handshake is not the problem
 *   TLSPROBE_UNREACHABLE  no TCP connection (or a timeout before one):
 *                         the dialer's own retries and bound decide
 *   TLSPROBE_PEER_REFUSED this side refused the peer's certificate
 *                         (nng's NNG_EPEERAUTH)
 *   TLSPROBE_FAILED       connected, then the handshake failed. nng's
 *                         mbedTLS engine says NNG_ECRYPTO both when we
 *                         refuse the peer's certificate (another CA's,
 *                         expired, another name) and when the peer ends
 *                         the handshake over ours: the caller can only
 *                         name both
 */
#ifndef VMIG_TLSPROBE_H
#define VMIG_TLSPROBE_H

#include <stddef.h>

struct event_base;
struct nng_tls_config;
struct tls_probe;

enum {
	TLSPROBE_PENDING,
	TLSPROBE_OK,
	TLSPROBE_UNREACHABLE,
	TLSPROBE_PEER_REFUSED,
	TLSPROBE_FAILED,
};

/*
 * Start; cb(arg, TLSPROBE_*, nng's error) runs once on base's loop,
 * never after tls_probe_free(). timeout_ms bounds each of the dial and
 * the read. 0, or -errno with err.
 */
int	 tls_probe_start(struct event_base *, const char *url,
	    struct nng_tls_config *, int timeout_ms,
	    void (*cb)(void *arg, int result, int nngrv), void *arg,
	    struct tls_probe **, char *err, size_t errlen);
/* Stop (waits for nng's callback) and free; NULL is fine. */
void	 tls_probe_free(struct tls_probe *);

#endif /* VMIG_TLSPROBE_H */
