/*
 * test_dseal.c: the sealed data connections' protocol (dseal.c), in
 * memory: the two ends' handshake bytes are handed across by the test.
 * A source and a destination of one CA agree on keys, the ready record
 * opens, and header and payload records (the payload from scattered
 * segments) open to the same bytes in place. A bit flipped in a header,
 * a payload or a tag, a record replayed or two swapped, and a record
 * from another connection never open. The handshake refuses another
 * CA's source, an expired source, a source without a certificate, an
 * expired destination and a destination of another name, each with a
 * reason saying which.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>

#include "dseal.h"
#include "leakcheck.h"
#include "testid.h"
#include "util.h"

static void
setup(void)
{
	ids_make();
}

static void
teardown(void)
{
	ids_free();
}

TestSuite(dseal, .init = setup, .fini = teardown);

struct pair {
	struct dseal_ctx *cctx, *sctx;
	struct dseal	*c, *s;
	enum dseal_hs	 cst, sst;
	char		 cerr[256], serr[256];
};

static void
pair_open(struct pair *p, const struct id *src, const struct id *dst,
    const char *name)
{
	char	err[256];

	memset(p, 0, sizeof(*p));
	cr_assert_eq(dseal_ctx_new(TLS_CLIENT, ca.cert_pem, src != NULL ?
	    src->cert_pem : NULL, src != NULL ? src->key_pem : NULL,
	    name, &p->cctx, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(dseal_ctx_new(TLS_SERVER, ca.cert_pem, dst->cert_pem,
	    dst->key_pem, NULL, &p->sctx, err, sizeof(err)), 0, "%s", err);
	p->c = dseal_new(p->cctx);
	p->s = dseal_new(p->sctx);
}

static void
pair_close(struct pair *p)
{
	dseal_free(p->c);
	dseal_free(p->s);
	dseal_ctx_free(p->cctx);
	dseal_ctx_free(p->sctx);
}

/*
 * Run both handshakes, handing each one's bytes to the other, until
 * neither has anything to send. 1: both done.
 */
static int
pair_handshake(struct pair *p)
{
	uint8_t	buf[DSEAL_HS_BUF];
	size_t	n;
	int	turns;

	p->cst = dseal_handshake(p->c, NULL, 0, p->cerr, sizeof(p->cerr));
	p->sst = dseal_handshake(p->s, NULL, 0, p->serr, sizeof(p->serr));
	for (turns = 0; turns < 32; turns++) {
		int	moved = 0;

		while ((n = dseal_hs_out(p->c, buf, sizeof(buf))) > 0) {
			moved = 1;
			if (p->sst == DSEAL_HS_MORE)
				p->sst = dseal_handshake(p->s, buf, n, p->serr,
				    sizeof(p->serr));
		}
		while ((n = dseal_hs_out(p->s, buf, sizeof(buf))) > 0) {
			moved = 1;
			if (p->cst == DSEAL_HS_MORE)
				p->cst = dseal_handshake(p->c, buf, n, p->cerr,
				    sizeof(p->cerr));
		}
		if (!moved)
			break;
	}
	return (p->cst == DSEAL_HS_DONE && p->sst == DSEAL_HS_DONE);
}

static void
pair_ready(struct pair *p)
{
	uint8_t	ready[DSEAL_READY];

	cr_assert(pair_handshake(p), "handshake: client %d (%s), server %d "
	    "(%s)", p->cst, p->cerr, p->sst, p->serr);
	cr_assert_eq(dseal_hs_extra(p->c), 0);
	cr_assert_eq(dseal_hs_extra(p->s), 0);
	dseal_ready(p->s, ready);
	cr_assert_eq(dseal_ready_ok(p->c, ready), 0, "the ready record");
}

/* Seal a header and a payload of three segments into out; its length. */
static size_t
seal_batch(struct dseal *c, const uint8_t *hdr, size_t hlen,
    uint8_t *pay, uint8_t *out, size_t *paylen)
{
	struct dseal_seg	segs[3] = {
		{ pay, 4096 }, { pay + 4096, 1 }, { pay + 4097, 70000 },
	};
	size_t			n;

	n = dseal_seal_header(c, hdr, hlen, out);
	*paylen = dseal_seal_payload(c, segs, 3, out + n);
	return (n);
}

Test(dseal, header_and_payload_open_in_place)
{
	struct pair	 p;
	uint8_t		 hdr[100], *pay, *want, *out;
	size_t		 hn, pn, i;
	struct dseal_seg dst[2];

	pay = malloc(74097);
	want = malloc(74097);
	out = malloc(80000);
	for (i = 0; i < sizeof(hdr); i++)
		hdr[i] = (uint8_t)i;
	for (i = 0; i < 74097; i++)
		pay[i] = (uint8_t)(i * 7 + 3);
	memcpy(want, pay, 74097);
	pair_open(&p, &client, &server, "localhost");
	pair_ready(&p);

	for (int round = 0; round < 3; round++) {
		hn = seal_batch(p.c, hdr, sizeof(hdr), pay, out, &pn);
		cr_assert_eq(hn, DSEAL_LEN + sizeof(hdr) + DSEAL_TAG);
		cr_assert_eq(pn, 74097 + DSEAL_TAG);
		cr_assert_eq(get_le32(out), sizeof(hdr) + DSEAL_TAG);
		/* not the plaintext on the wire */
		cr_assert_neq(memcmp(out + DSEAL_LEN, hdr, sizeof(hdr)), 0);
		cr_assert_eq(dseal_open_header(p.s, out + DSEAL_LEN,
		    hn - DSEAL_LEN), 0, "round %d: header", round);
		cr_assert_eq(memcmp(out + DSEAL_LEN, hdr, sizeof(hdr)), 0);
		/* the payload opens into two other segments, in place */
		dst[0].p = out + hn;
		dst[0].len = 50000;
		dst[1].p = out + hn + 50000;
		dst[1].len = 74097 - 50000;
		cr_assert_eq(dseal_open_payload(p.s, dst, 2, out + hn + 74097),
		    0, "round %d: payload", round);
		cr_assert_eq(memcmp(out + hn, want, 74097), 0);
	}
	/* the source's own buffers are left as they were */
	cr_assert_eq(memcmp(pay, want, 74097), 0);
	pair_close(&p);
	free(pay);
	free(want);
	free(out);
	LEAK_CHECK();
}

/* Each of these must fail to open: the connection is done after it. */
static void
tamper(int what)
{
	struct pair	 p;
	uint8_t		 hdr[64] = { 1, 2, 3 }, pay[74097], out[80000];
	uint8_t		 first[200];
	size_t		 hn, pn, fn;
	struct dseal_seg seg = { NULL, 74097 };

	memset(pay, 0x5a, sizeof(pay));
	pair_open(&p, &client, &server, "localhost");
	pair_ready(&p);
	fn = dseal_seal_header(p.c, hdr, sizeof(hdr), first);
	hn = seal_batch(p.c, hdr, sizeof(hdr), pay, out, &pn);
	seg.p = out + hn;
	switch (what) {
	case 0:		/* a bit of the header */
		out[DSEAL_LEN + 10] ^= 0x01;
		break;
	case 1:		/* a bit of the header's tag */
		out[hn - 1] ^= 0x80;
		break;
	case 2:		/* the second record before the first */
		cr_assert_eq(dseal_open_header(p.s, out + DSEAL_LEN,
		    hn - DSEAL_LEN), -1);
		goto done;
	case 3:		/* the first, then the first again */
		cr_assert_eq(dseal_open_header(p.s, first + DSEAL_LEN,
		    fn - DSEAL_LEN), 0);
		memcpy(out, first, fn);
		hn = fn;
		goto open_header;
	case 4:		/* a bit of the payload */
		out[hn + 70000] ^= 0x04;
		break;
	case 5:		/* the length (the AAD) */
		put_le32(out, get_le32(out) + 1);
		break;
	}
	cr_assert_eq(dseal_open_header(p.s, first + DSEAL_LEN, fn - DSEAL_LEN),
	    0);
open_header:
	if (what == 4) {
		cr_assert_eq(dseal_open_header(p.s, out + DSEAL_LEN,
		    hn - DSEAL_LEN), 0);
		cr_assert_eq(dseal_open_payload(p.s, &seg, 1, out + hn + 74097),
		    -1, "a flipped payload bit opened");
		goto done;
	}
	if (what == 5) {
		/* the receiver reads the length it was given */
		cr_assert_eq(dseal_open_header(p.s, out + DSEAL_LEN,
		    get_le32(out)), -1, "a changed length opened");
		goto done;
	}
	cr_assert_eq(dseal_open_header(p.s, out + DSEAL_LEN, hn - DSEAL_LEN),
	    -1, "case %d opened", what);
done:
	pair_close(&p);
}

Test(dseal, a_flipped_header_bit_does_not_open) { tamper(0); }
Test(dseal, a_flipped_tag_bit_does_not_open) { tamper(1); }
Test(dseal, records_out_of_order_do_not_open) { tamper(2); }
Test(dseal, a_replayed_record_does_not_open) { tamper(3); }
Test(dseal, a_flipped_payload_bit_does_not_open) { tamper(4); }
Test(dseal, a_changed_length_does_not_open) { tamper(5); }

Test(dseal, another_connections_record_does_not_open)
{
	struct pair	p, q;
	uint8_t		hdr[32] = { 9 }, a[100], b[100];
	size_t		n;

	pair_open(&p, &client, &server, "localhost");
	pair_ready(&p);
	pair_open(&q, &client, &server, "localhost");
	pair_ready(&q);
	/* same plaintext, same sequence: other keys, so other bytes */
	n = dseal_seal_header(p.c, hdr, sizeof(hdr), a);
	cr_assert_eq(dseal_seal_header(q.c, hdr, sizeof(hdr), b), n);
	cr_assert_neq(memcmp(a, b, n), 0, "two connections share a key");
	cr_assert_eq(dseal_open_header(q.s, a + DSEAL_LEN, n - DSEAL_LEN), -1);
	pair_close(&p);
	pair_close(&q);
}

Test(dseal, the_ready_record_is_the_servers_own)
{
	struct pair	p;
	uint8_t		ready[DSEAL_READY];

	pair_open(&p, &client, &server, "localhost");
	cr_assert(pair_handshake(&p));
	memset(ready, 0, sizeof(ready));
	cr_assert_eq(dseal_ready_ok(p.c, ready), -1, "zeros were taken as "
	    "ready");
	pair_close(&p);
}

/* The handshake fails; which side says so, and its reason. */
static void
refused(const struct id *src, const struct id *dst, const char *name,
    int server_says, const char *why)
{
	struct pair	p;

	pair_open(&p, src, dst, name);
	cr_assert_not(pair_handshake(&p), "the handshake went through");
	if (server_says) {
		cr_assert_eq(p.sst, DSEAL_HS_FAILED);
		cr_assert(strstr(p.serr, why) != NULL, "server: %s", p.serr);
	} else {
		cr_assert_eq(p.cst, DSEAL_HS_FAILED);
		cr_assert(strstr(p.cerr, why) != NULL, "client: %s", p.cerr);
	}
	pair_close(&p);
	LEAK_CHECK();
}

Test(dseal, another_cas_source_is_refused)
{
	refused(&stranger, &server, "localhost", 1,
	    "refused the source's certificate");
}

Test(dseal, an_expired_source_is_refused)
{
	struct id	old_src;

	id_make(&old_src, "src-old", &ca, "DNS:src.example", -30, 2);
	refused(&old_src, &server, "localhost", 1,
	    "refused the source's certificate: certificate has expired");
	id_free(&old_src);
}

Test(dseal, a_source_without_certificate_is_refused)
{
	refused(NULL, &server, "localhost", 1, "showed no certificate");
}

Test(dseal, an_expired_destination_is_refused)
{
	refused(&client, &expired, "localhost", 0,
	    "refused the destination's certificate: certificate has expired");
}

Test(dseal, a_destination_of_another_name_is_refused)
{
	refused(&client, &server, "other.example", 0,
	    "refused the destination's certificate");
}

Test(dseal, an_address_is_checked_against_the_ip_sans)
{
	struct pair	p;

	pair_open(&p, &client, &server, "127.0.0.1");
	pair_ready(&p);
	pair_close(&p);
	refused(&client, &server, "127.0.0.2", 0,
	    "refused the destination's certificate");
}
