/*
 * test_tls.c: nng's TLS on the OpenSSL engine (tls_openssl.c), over a
 * real loopback pair of nng_streams. The certificates are made here with
 * OpenSSL's API (a CA, a server and a client, another CA's client, an
 * expired server). 8 MiB cross byte for byte; no client certificate,
 * another CA's, an expired server's and a wrong name each end the first
 * read with an error, never with data. tls_engine_use() switches to the
 * engine and refuses to go back.
 */
#include "config.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>
#include <nng/nng.h>
#include <nng/protocol/pair1/pair.h>
#include <nng/supplemental/tls/tls.h>
#include <nng/supplemental/util/platform.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include "tls.h"
#include "leakcheck.h"
#include "testid.h"

#define XFER_BYTES	(8u << 20)
#define WAIT_MS		10000	/* a bound on a hang, not a timing */

static void
setup(void)
{
	char	err[256];

	cr_assert_eq(tls_engine_use("openssl", err, sizeof(err)), 0, "%s",
	    err);
	ids_make();
}

static void
teardown(void)
{
	ids_free();
	/* no nng_fini(): Criterion's own nn_* calls may be libnng's */
}

TestSuite(tls, .init = setup, .fini = teardown);

/* A configuration the way tls.c makes one: mutual, TLS 1.2 at least. */
static nng_tls_config *
cfg_new(nng_tls_mode mode, const struct id *trust, const struct id *own,
    const char *name)
{
	nng_tls_config	*cfg;

	cr_assert_eq(nng_tls_config_alloc(&cfg, mode), 0);
	cr_assert_eq(nng_tls_config_version(cfg, NNG_TLS_1_2, NNG_TLS_1_3), 0);
	cr_assert_eq(nng_tls_config_ca_chain(cfg, trust->cert_pem, NULL), 0);
	if (own != NULL)
		cr_assert_eq(nng_tls_config_own_cert(cfg, own->cert_pem,
		    own->key_pem, NULL), 0);
	cr_assert_eq(nng_tls_config_auth_mode(cfg,
	    NNG_TLS_AUTH_MODE_REQUIRED), 0);
	if (name != NULL)
		cr_assert_eq(nng_tls_config_server_name(cfg, name), 0);
	return (cfg);
}

struct pair {
	nng_stream_listener	*l;
	nng_stream_dialer	*d;
	nng_stream		*srv, *cli;
};

static void
pair_open(struct pair *p, const struct id *srv_own, const struct id *cli_own,
    const char *name)
{
	nng_tls_config	*scfg, *ccfg;
	nng_aio		*acc, *dial;
	char		 url[64];
	int		 port;

	memset(p, 0, sizeof(*p));
	scfg = cfg_new(NNG_TLS_MODE_SERVER, &ca, srv_own, NULL);
	ccfg = cfg_new(NNG_TLS_MODE_CLIENT, &ca, cli_own, name);
	cr_assert_eq(nng_stream_listener_alloc(&p->l,
	    "tls+tcp://127.0.0.1:0"), 0);
	cr_assert_eq(nng_stream_listener_set_ptr(p->l, NNG_OPT_TLS_CONFIG,
	    scfg), 0);
	cr_assert_eq(nng_stream_listener_listen(p->l), 0);
	cr_assert_eq(nng_stream_listener_get_int(p->l, NNG_OPT_TCP_BOUND_PORT,
	    &port), 0);
	snprintf(url, sizeof(url), "tls+tcp://127.0.0.1:%d", port);
	cr_assert_eq(nng_stream_dialer_alloc(&p->d, url), 0);
	cr_assert_eq(nng_stream_dialer_set_ptr(p->d, NNG_OPT_TLS_CONFIG,
	    ccfg), 0);
	nng_tls_config_free(scfg);	/* the endpoints hold them */
	nng_tls_config_free(ccfg);
	cr_assert_eq(nng_aio_alloc(&acc, NULL, NULL), 0);
	cr_assert_eq(nng_aio_alloc(&dial, NULL, NULL), 0);
	nng_aio_set_timeout(acc, WAIT_MS);
	nng_aio_set_timeout(dial, WAIT_MS);
	nng_stream_listener_accept(p->l, acc);
	nng_stream_dialer_dial(p->d, dial);
	nng_aio_wait(dial);
	nng_aio_wait(acc);
	/* the handshake comes with the first bytes: both connect */
	cr_assert_eq(nng_aio_result(dial), 0);
	cr_assert_eq(nng_aio_result(acc), 0);
	p->cli = nng_aio_get_output(dial, 0);
	p->srv = nng_aio_get_output(acc, 0);
	nng_aio_free(acc);
	nng_aio_free(dial);
}

static void
pair_close(struct pair *p)
{
	nng_stream_close(p->cli);
	nng_stream_close(p->srv);
	nng_stream_free(p->cli);
	nng_stream_free(p->srv);
	nng_stream_dialer_free(p->d);
	nng_stream_listener_free(p->l);
}

/* All of len bytes one way; 0 or the first nng error. */
static int
stream_io(nng_stream *s, uint8_t *buf, size_t len, int sending)
{
	nng_aio	*aio;
	nng_iov	 iov;
	size_t	 done = 0;
	int	 rv = 0;

	cr_assert_eq(nng_aio_alloc(&aio, NULL, NULL), 0);
	nng_aio_set_timeout(aio, WAIT_MS);
	while (done < len && rv == 0) {
		iov.iov_buf = buf + done;
		iov.iov_len = len - done;
		nng_aio_set_iov(aio, 1, &iov);
		if (sending)
			nng_stream_send(s, aio);
		else
			nng_stream_recv(s, aio);
		nng_aio_wait(aio);
		if ((rv = nng_aio_result(aio)) == 0)
			done += nng_aio_count(aio);
	}
	nng_aio_free(aio);
	return (rv);
}

struct side {
	nng_stream	*s;
	uint8_t		*buf;
	size_t		 len;
	int		 rv;
};

static void *
recv_thread(void *arg)
{
	struct side	*r = arg;

	r->rv = stream_io(r->s, r->buf, r->len, 0);
	return (NULL);
}

Test(tls, moves_8_MiB_byte_for_byte_both_ways_verified)
{
	struct pair	 p;
	struct side	 r;
	pthread_t	 t;
	uint8_t		*out, *in;
	bool		 v;
	size_t		 i;

	cr_assert_str_eq(nng_tls_engine_name(), "openssl");
	out = malloc(XFER_BYTES);
	in = calloc(1, XFER_BYTES);
	for (i = 0; i < XFER_BYTES; i++)
		out[i] = (uint8_t)(i * 2654435761u >> 13);
	/* the name is an address: the server's IP SAN must carry it */
	pair_open(&p, &server, &client, "127.0.0.1");
	r = (struct side){ p.srv, in, XFER_BYTES, -1 };
	cr_assert_eq(pthread_create(&t, NULL, recv_thread, &r), 0);
	cr_assert_eq(stream_io(p.cli, out, XFER_BYTES, 1), 0);
	pthread_join(t, NULL);
	cr_assert_eq(r.rv, 0, "receive: %s", nng_strerror(r.rv));
	cr_assert(memcmp(out, in, XFER_BYTES) == 0, "bytes differ");
	/* and back, a short one: the server's records reach the client */
	cr_assert_eq(stream_io(p.srv, out, 4096, 1), 0);
	cr_assert_eq(stream_io(p.cli, in, 4096, 0), 0);
	cr_assert(memcmp(out, in, 4096) == 0);
	cr_assert_eq(nng_stream_get_bool(p.cli, NNG_OPT_TLS_VERIFIED, &v), 0);
	cr_assert(v, "the client did not verify the server");
	cr_assert_eq(nng_stream_get_bool(p.srv, NNG_OPT_TLS_VERIFIED, &v), 0);
	cr_assert(v, "the server did not verify the client");
	pair_close(&p);
	free(out);
	free(in);
	LEAK_CHECK();
}

/*
 * The client writes, then both read: each read must fail (cli_rv: what
 * the client's must be, 0 for any error).
 */
static void
refused(const struct id *srv_own, const struct id *cli_own, const char *name,
    int cli_rv)
{
	struct pair	 p;
	struct side	 r;
	pthread_t	 t;
	uint8_t		 buf[8] = "SP-hello";
	int		 rv;

	pair_open(&p, srv_own, cli_own, name);
	r = (struct side){ p.srv, calloc(1, 8), 8, -1 };
	cr_assert_eq(pthread_create(&t, NULL, recv_thread, &r), 0);
	(void)stream_io(p.cli, buf, sizeof(buf), 1);
	rv = stream_io(p.cli, buf, 1, 0);
	pthread_join(t, NULL);
	cr_assert_neq(rv, 0, "the client read data");
	cr_assert_neq(rv, NNG_ETIMEDOUT, "the client's read hung");
	if (cli_rv != 0)
		cr_assert_eq(rv, cli_rv, "client: %s", nng_strerror(rv));
	cr_assert_neq(r.rv, 0, "the server read the client's bytes");
	cr_assert_neq(r.rv, NNG_ETIMEDOUT, "the server's read hung");
	free(r.buf);
	pair_close(&p);
}

Test(tls, server_requires_a_client_certificate)
{
	refused(&server, NULL, "localhost", 0);
}

Test(tls, server_refuses_another_cas_client)
{
	refused(&server, &stranger, "localhost", 0);
}

Test(tls, client_refuses_an_expired_server)
{
	refused(&expired, &client, "localhost", NNG_EPEERAUTH);
}

Test(tls, client_refuses_a_wrong_name)
{
	refused(&server, &client, "dst9.example", NNG_EPEERAUTH);
	/* an address the certificate does not carry */
	refused(&server, &client, "127.0.0.2", NNG_EPEERAUTH);
}

Test(tls, an_address_spelled_as_a_dns_san_matches)
{
	struct id	 dns;
	struct pair	 p;
	struct side	 r;
	pthread_t	 t;
	uint8_t		 buf[8] = "SP-hello", in[8];

	id_make(&dns, "dst-dns", &ca, "DNS:127.0.0.1", -1, 2);
	pair_open(&p, &dns, &client, "127.0.0.1");
	r = (struct side){ p.srv, in, 8, -1 };
	cr_assert_eq(pthread_create(&t, NULL, recv_thread, &r), 0);
	cr_assert_eq(stream_io(p.cli, buf, 8, 1), 0);
	pthread_join(t, NULL);
	cr_assert_eq(r.rv, 0, "%s", nng_strerror(r.rv));
	pair_close(&p);
	id_free(&dns);
}

/*
 * A peer that closes during the SP negotiation (as tlsprobe.c does) must
 * not stop a tls+tcp:// listener: nng 1.5.2 hands the connection's error
 * to the listener, which accepts no more after NNG_ECLOSED, so the engine
 * must say NNG_ECONNSHUT for the peer's close_notify.
 */
Test(tls, a_listener_outlives_a_peer_closing_in_negotiation)
{
	nng_tls_config		*scfg, *ccfg;
	nng_stream_dialer	*sd;
	nng_listener		 l;
	nng_dialer		 d;
	nng_socket		 srv, cli;
	nng_stream		*st;
	nng_aio			*aio;
	uint8_t			 hdr[8];
	char			 url[64], msg[8];
	size_t			 sz = sizeof(msg);
	int			 port;

	scfg = cfg_new(NNG_TLS_MODE_SERVER, &ca, &server, NULL);
	ccfg = cfg_new(NNG_TLS_MODE_CLIENT, &ca, &client, "localhost");
	cr_assert_eq(nng_pair1_open(&srv), 0);
	cr_assert_eq(nng_socket_set_ms(srv, NNG_OPT_RECVTIMEO, WAIT_MS), 0);
	cr_assert_eq(nng_listener_create(&l, srv, "tls+tcp://127.0.0.1:0"),
	    0);
	cr_assert_eq(nng_listener_set_ptr(l, NNG_OPT_TLS_CONFIG, scfg), 0);
	cr_assert_eq(nng_listener_start(l, 0), 0);
	cr_assert_eq(nng_listener_get_int(l, NNG_OPT_TCP_BOUND_PORT, &port),
	    0);
	snprintf(url, sizeof(url), "tls+tcp://127.0.0.1:%d", port);

	/* the probe: a handshake, the listener's SP header, a close */
	cr_assert_eq(nng_stream_dialer_alloc(&sd, url), 0);
	cr_assert_eq(nng_stream_dialer_set_ptr(sd, NNG_OPT_TLS_CONFIG, ccfg),
	    0);
	cr_assert_eq(nng_aio_alloc(&aio, NULL, NULL), 0);
	nng_aio_set_timeout(aio, WAIT_MS);
	nng_stream_dialer_dial(sd, aio);
	nng_aio_wait(aio);
	cr_assert_eq(nng_aio_result(aio), 0);
	st = nng_aio_get_output(aio, 0);
	cr_assert_eq(stream_io(st, hdr, sizeof(hdr), 0), 0);
	nng_stream_close(st);
	nng_stream_free(st);
	nng_stream_dialer_free(sd);
	nng_aio_free(aio);
	/* (ordering only: the listener sees that failure before the peer) */
	nng_msleep(200);

	/* the peer: its message must still arrive */
	cr_assert_eq(nng_pair1_open(&cli), 0);
	cr_assert_eq(nng_dialer_create(&d, cli, url), 0);
	cr_assert_eq(nng_dialer_set_ptr(d, NNG_OPT_TLS_CONFIG, ccfg), 0);
	cr_assert_eq(nng_dialer_start(d, 0), 0);
	cr_assert_eq(nng_send(cli, "hello", 6, 0), 0);
	cr_assert_eq(nng_recv(srv, msg, &sz, 0), 0, "the listener took no "
	    "peer after the probe");
	cr_assert_str_eq(msg, "hello");
	nng_close(cli);
	nng_close(srv);
	nng_tls_config_free(scfg);
	nng_tls_config_free(ccfg);
}

/*
 * Not the suite: its init registers the engine. (That nng's init undoes
 * a registration made before it cannot be shown here: Criterion's runner
 * has run nng's init already. HACKING.md, "nng's TLS engines".)
 */
Test(tls_register, tls_engine_use_selects_and_cannot_go_back)
{
	char	err[256];

	cr_assert_eq(tls_engine_use("mbedtls", err, sizeof(err)), 0, "%s", err);
	cr_assert_str_eq(nng_tls_engine_name(), "mbed");
	cr_assert_eq(tls_engine_use("openssl", err, sizeof(err)), 0, "%s", err);
	cr_assert_str_eq(nng_tls_engine_name(), "openssl");
	/* no way back to nng's own engine without a restart */
	cr_assert_eq(tls_engine_use("mbedtls", err, sizeof(err)), -ENOTSUP);
	cr_assert(strstr(err, "until a restart") != NULL, "%s", err);
	cr_assert_eq(tls_engine_use("gnutls", err, sizeof(err)), -EINVAL);
	cr_assert(!tls_engine_known("gnutls") && tls_engine_known("openssl"));
}
