/*
 * test_admin_sim.c: the simulated PF's device side, spoken to raw: our
 * own descriptors in the shared memory, so every malformed chain and
 * every refused command can be sent, and the answer (status, qualifier,
 * used length) checked. The simulator must answer each one and go on.
 */
#include "config.h"

#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/un.h>

#include <errno.h>
#include <stdio.h>
#include <fcntl.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <criterion/criterion.h>

#include "util.h"
#include "admin.h"
#include "devctx.h"
#include "handshake.h"
#include "simpump.h"
#include "transport.h"

TestSuite(admin_sim, .timeout = 60);

/* The pump's raw side: our own descriptors, posted one at a time. */
static void
raw_open(struct simpump *x, const char *const *extra)
{
	char	err[256];

	cr_assert_eq(simpump_open(x, 3, extra, err, sizeof(err)), 0, "%s",
	    err);
}

struct reply {
	uint32_t	len;		/* used length */
	uint16_t	status;
	uint16_t	qual;
	uint8_t		*res;
};

/* One well-framed command: header + data readable, status + wcap. */
static struct reply
cmd(struct simpump *x, uint16_t op, uint16_t group, uint64_t member,
    const void *data, size_t dlen, size_t wcap)
{
	struct simpump_desc d[2];
	struct reply	 r;
	uint32_t	 id;
	size_t		 olen = (VA_HDR_LEN + dlen + 7) & ~(size_t)7;

	memset(x->pool, 0, olen);
	va_hdr_put(x->pool, op, group, member);
	if (dlen > 0)
		memcpy(x->pool + VA_HDR_LEN, data, dlen);
	memset(x->pool + 65536, 0xee, wcap);
	d[0] = (struct simpump_desc){ 0, (uint32_t)olen, 1, 1 };
	d[1] = (struct simpump_desc){ 65536, (uint32_t)wcap, 2, 0 };
	cr_assert_eq(simpump_post(x, d, 2, 0, &id, &r.len, 5000), 1,
	    "no answer to %s", va_op_name(op));
	cr_assert_eq(id, 0);
	r.status = get_le16(x->pool + 65536);
	r.qual = get_le16(x->pool + 65536 + 2);
	r.res = x->pool + 65536 + 8;
	return (r);
}

static void
list_use(struct simpump *x)
{
	struct reply	r;
	uint8_t		b[8];

	r = cmd(x, VA_OP_LIST_QUERY, 1, 0, NULL, 0, 16);
	cr_assert_eq(r.status, 0);
	memcpy(b, r.res, 8);
	r = cmd(x, VA_OP_LIST_USE, 1, 0, b, 8, 8);
	cr_assert_eq(r.status, 0);
}

static void
alive(struct simpump *x)
{
	char	reply[256];

	cr_assert_eq(simproc_cmd(&x->sp, reply, sizeof(reply), "ping"), 0);
}

Test(admin_sim, list_query_use)
{
	struct simpump	 x;
	struct reply	 r;
	uint8_t		 b[16];
	uint64_t	 bits;

	raw_open(&x, NULL);
	/* Before LIST_USE only 0 and 1. */
	r = cmd(&x, VA_OP_DEV_MODE_GET, 1, 1, NULL, 0, 16);
	cr_assert_eq(r.status, VA_STATUS_EINVAL);
	cr_assert_eq(r.qual, VA_Q_INVALID_OPCODE);
	cr_assert_eq(r.len, 8);
	r = cmd(&x, VA_OP_LIST_QUERY, 1, 0, NULL, 0, 24);
	cr_assert_eq(r.status, 0);
	cr_assert_eq(r.len, 16);
	bits = get_le64(r.res);
	cr_assert_eq(bits, 0x1ff83);
	/* A subset without 0 and 1, or with unsupported bits: refused. */
	put_le64(b, 0x180);
	r = cmd(&x, VA_OP_LIST_USE, 1, 0, b, 8, 8);
	cr_assert_eq(r.qual, VA_Q_INVALID_FIELD);
	put_le64(b, 0x1ff83 | 0x4);
	r = cmd(&x, VA_OP_LIST_USE, 1, 0, b, 8, 8);
	cr_assert_eq(r.qual, VA_Q_INVALID_FIELD);
	put_le64(b, 0x83);
	put_le64(b + 8, 1);
	r = cmd(&x, VA_OP_LIST_USE, 1, 0, b, 16, 8);
	cr_assert_eq(r.qual, VA_Q_INVALID_FIELD, "opcodes above 63");
	/* Only mode get/set chosen: the rest stay refused. */
	put_le64(b, 0x183);
	r = cmd(&x, VA_OP_LIST_USE, 1, 0, b, 8, 8);
	cr_assert_eq(r.status, 0);
	r = cmd(&x, VA_OP_DEV_MODE_GET, 1, 1, NULL, 0, 16);
	cr_assert_eq(r.status, 0);
	cr_assert_eq(r.len, 16);
	cr_assert_eq(r.res[0], VA_MODE_ACTIVE);
	r = cmd(&x, VA_OP_DEV_CTX_SIZE_GET, 1, 1, NULL, 0, 16);
	cr_assert_eq(r.qual, VA_Q_INVALID_OPCODE);
	simpump_close(&x);
}

Test(admin_sim, header_checks)
{
	struct simpump	 x;
	struct reply	 r;
	uint8_t		 m[8] = { 7 };

	raw_open(&x, NULL);
	list_use(&x);
	r = cmd(&x, VA_OP_DEV_MODE_GET, 0, 1, NULL, 0, 16);
	cr_assert_eq(r.qual, VA_Q_INVALID_GROUP);
	r = cmd(&x, VA_OP_DEV_MODE_GET, 2, 1, NULL, 0, 16);
	cr_assert_eq(r.qual, VA_Q_INVALID_GROUP);
	r = cmd(&x, VA_OP_DEV_MODE_GET, 1, 0, NULL, 0, 16);
	cr_assert_eq(r.qual, VA_Q_INVALID_MEMBER);
	r = cmd(&x, VA_OP_DEV_MODE_GET, 1, 4, NULL, 0, 16);
	cr_assert_eq(r.qual, VA_Q_INVALID_MEMBER);
	r = cmd(&x, VA_OP_DEV_MODE_GET, 1, UINT64_MAX, NULL, 0, 16);
	cr_assert_eq(r.qual, VA_Q_INVALID_MEMBER);
	r = cmd(&x, VA_OP_LIST_QUERY, 1, 2, NULL, 0, 16);
	cr_assert_eq(r.qual, VA_Q_INVALID_MEMBER);
	r = cmd(&x, 0x5, 1, 1, NULL, 0, 16);
	cr_assert_eq(r.qual, VA_Q_INVALID_OPCODE);
	r = cmd(&x, 0x8000, 1, 1, NULL, 0, 16);
	cr_assert_eq(r.qual, VA_Q_INVALID_OPCODE);
	/* Data too short, a mode that does not exist, a result buffer
	 * with no room for the result. */
	r = cmd(&x, VA_OP_DEV_MODE_SET, 1, 1, NULL, 0, 8);
	cr_assert_eq(r.qual, VA_Q_INVALID_FIELD);
	r = cmd(&x, VA_OP_DEV_MODE_SET, 1, 1, m, 8, 8);
	cr_assert_eq(r.qual, VA_Q_INVALID_FIELD);
	r = cmd(&x, VA_OP_DEV_MODE_GET, 1, 1, NULL, 0, 8);
	cr_assert_eq(r.qual, VA_Q_INVALID_FIELD);
	r = cmd(&x, VA_OP_DEV_CTX_READ, 1, 1, NULL, 0, 16);
	cr_assert_eq(r.qual, VA_Q_INVALID_FIELD);
	r = cmd(&x, VA_OP_WRITE_RECORDS_READ, 1, 1, NULL, 0, 64);
	cr_assert_eq(r.qual, VA_Q_INVALID_FIELD);
	/* active -> freeze is not a transition of this device. */
	m[0] = VA_MODE_FREEZE;
	r = cmd(&x, VA_OP_DEV_MODE_SET, 1, 1, m, 8, 8);
	cr_assert_eq(r.status, VA_STATUS_EINVAL);
	cr_assert_eq(r.qual, VA_Q_INVALID_COMMAND);
	/* A big writable buffer is fine: the used length is what was
	 * written. */
	r = cmd(&x, VA_OP_DEV_MODE_GET, 1, 3, NULL, 0, 4096);
	cr_assert_eq(r.status, 0);
	cr_assert_eq(r.len, 16);
	alive(&x);
	simpump_close(&x);
}

Test(admin_sim, malformed_chains)
{
	struct simpump	 x;
	struct simpump_desc d[4];
	uint32_t	 id, len;

	raw_open(&x, NULL);
	list_use(&x);
	va_hdr_put(x.pool, VA_OP_DEV_MODE_GET, 1, 1);
	/* Readable part not a multiple of 8: EINVAL, INVALID_COMMAND. */
	d[0] = (struct simpump_desc){ 0, 28, 1, 1 };
	d[1] = (struct simpump_desc){ 65536, 16, 2, 0 };
	cr_assert(simpump_post(&x, d, 2, 0, &id, &len, 5000));
	cr_assert_eq(len, 8);
	cr_assert_eq(get_le16(x.pool + 65536), VA_STATUS_EINVAL);
	cr_assert_eq(get_le16(x.pool + 65538), VA_Q_INVALID_COMMAND);
	/* Shorter than a header. */
	d[0].len = 16;
	cr_assert(simpump_post(&x, d, 2, 0, &id, &len, 5000));
	cr_assert_eq(len, 8);
	/* Writable part too small for a status: returned with length 0. */
	d[0].len = 24;
	d[1].len = 0;
	cr_assert(simpump_post(&x, d, 2, 0, &id, &len, 5000));
	cr_assert_eq(len, 0);
	d[0].flags = 0;
	cr_assert(simpump_post(&x, d, 1, 0, &id, &len, 5000));
	cr_assert_eq(len, 0);
	/* Writable before readable. */
	d[0] = (struct simpump_desc){ 65536, 16, 2 | 1, 1 };
	d[1] = (struct simpump_desc){ 0, 24, 0, 0 };
	memset(x.pool + 65536, 0, 16);
	cr_assert(simpump_post(&x, d, 2, 0, &id, &len, 5000));
	cr_assert_eq(len, 8);
	cr_assert_eq(get_le16(x.pool + 65536), VA_STATUS_EINVAL);
	/* Writable part not a multiple of 8. */
	d[0] = (struct simpump_desc){ 0, 24, 1, 1 };
	d[1] = (struct simpump_desc){ 65536, 20, 2, 0 };
	cr_assert(simpump_post(&x, d, 2, 0, &id, &len, 5000));
	cr_assert_eq(len, 8);
	/* Pointing outside the shared memory. */
	d[1] = (struct simpump_desc){ 8ULL << 30, 16, 2, 0 };
	cr_assert(simpump_post(&x, d, 2, 0, &id, &len, 5000));
	cr_assert_eq(len, 0);
	d[1] = (struct simpump_desc){ SIMPUMP_POOL - 8, 16, 2, 0 };
	cr_assert(simpump_post(&x, d, 2, 0, &id, &len, 5000));
	cr_assert_eq(len, 0);
	/* A loop, an indirect table, a link out of range. */
	d[0] = (struct simpump_desc){ 0, 24, 1, 1 };
	d[1] = (struct simpump_desc){ 65536, 16, 2 | 1, 0 };
	cr_assert(simpump_post(&x, d, 2, 0, &id, &len, 5000));
	cr_assert_eq(len, 0);
	d[0] = (struct simpump_desc){ 0, 32, 4, 0 };
	cr_assert(simpump_post(&x, d, 1, 0, &id, &len, 5000));
	cr_assert_eq(len, 0);
	d[0] = (struct simpump_desc){ 0, 24, 1, 99 };
	cr_assert(simpump_post(&x, d, 1, 0, &id, &len, 5000));
	cr_assert_eq(len, 0);
	/* A head outside the ring comes back as is, length 0. */
	cr_assert(simpump_post(&x, d, 0, 40, &id, &len, 5000));
	cr_assert_eq(id, 40);
	cr_assert_eq(len, 0);
	/* Split over several descriptors: fine. */
	d[0] = (struct simpump_desc){ 0, 8, 1, 1 };
	d[1] = (struct simpump_desc){ 8, 16, 1, 2 };
	d[2] = (struct simpump_desc){ 65536, 8, 2 | 1, 3 };
	d[3] = (struct simpump_desc){ 70000, 8, 2, 0 };
	va_hdr_put(x.pool, VA_OP_DEV_MODE_GET, 1, 2);
	cr_assert(simpump_post(&x, d, 4, 0, &id, &len, 5000));
	cr_assert_eq(len, 16);
	cr_assert_eq(get_le16(x.pool + 65536), 0);
	cr_assert_eq(x.pool[70000], VA_MODE_ACTIVE);
	alive(&x);
	simpump_close(&x);
}

/* A ring whose avail index runs away stops; the simulator does not. */
Test(admin_sim, runaway_ring)
{
	struct simpump	 x;
	struct va_tp_params p;
	struct va_transport *tp2;
	struct simpump_desc d[1] = { { 0, 24, 0, 0 } };
	uint32_t	 id, len;
	char		 err[256], reply[256];

	raw_open(&x, NULL);
	x.avail += 40;	/* 41 entries published in a 16-entry ring */
	cr_assert_eq(simpump_post(&x, d, 1, 0, &id, &len, 300), 0);
	alive(&x);
	cr_assert_eq(simproc_cmd(&x.sp, reply, sizeof(reply), "info"), 0);
	cr_assert_not_null(strstr(reply, "connected=1"));
	/* Another driver can take over once this one goes. */
	va_transport_close(x.tp);
	memset(&p, 0, sizeof(p));
	do {
		cr_assert_eq(simproc_cmd(&x.sp, reply, sizeof(reply), "info"),
		    0);
	} while (strstr(reply, "connected=1") != NULL);
	cr_assert_eq(va_transport_sim_open(x.sp.sock, &p, &tp2, err,
	    sizeof(err)), 0, "%s", err);
	x.tp = tp2;
	x.r = &tp2->q[0].ring;
	x.pool = tp2->mem + tp2->pool_off;
	x.avail = x.used = 0;
	list_use(&x);
	simpump_close(&x);
}

/* What the simulator refuses at the handshake. */
Test(admin_sim, handshake_refusals)
{
	struct simproc	 sp;
	struct sockaddr_un sun;
	struct va_setup	 s;
	struct va_hello	 h;
	struct va_ack	 a;
	uint8_t		 buf[512];
	int		 sk, fds[3], nfds, memfd;
	ssize_t		 n;
	char		 err[256];

	cr_assert_eq(simproc_start(&sp, 1, NULL), 0);
	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	memcpy(sun.sun_path, sp.sock, strlen(sp.sock));

	/* An unsealed memfd could be shrunk under the device. */
	sk = socket(AF_UNIX, SOCK_SEQPACKET, 0);
	cr_assert_eq(connect(sk, (struct sockaddr *)&sun, sizeof(sun)), 0);
	n = va_sock_recv(sk, buf, sizeof(buf), fds, 3, &nfds);
	cr_assert_eq(va_hello_get(buf, (size_t)n, &h, err, sizeof(err)), 0);
	cr_assert_eq(h.num_vfs, 1);
	memfd = memfd_create("t", MFD_CLOEXEC);
	cr_assert_eq(ftruncate(memfd, 65536), 0);
	memset(&s, 0, sizeof(s));
	s.nqueues = 1;
	s.mem_size = 65536;
	vq_layout_at(&s.q[0], 16, 0);
	fds[0] = memfd;
	fds[1] = eventfd(0, 0);
	fds[2] = eventfd(0, 0);
	cr_assert_eq(va_sock_send(sk, buf, va_setup_put(buf, &s), fds, 3), 0);
	n = va_sock_recv(sk, buf, sizeof(buf), fds, 0, &nfds);
	cr_assert_eq(va_ack_get(buf, (size_t)n, &a, err, sizeof(err)), 0);
	cr_assert_eq(a.status, EINVAL);
	cr_assert_not_null(strstr(a.msg, "F_SEAL_SHRINK"), "%s", a.msg);
	close(sk);

	/* Sealed, but a ring past the memory, a queue too large, the
	 * wrong number of descriptors, garbage. */
	cr_assert_eq(close(memfd), 0);
	memfd = memfd_create("t", MFD_CLOEXEC | MFD_ALLOW_SEALING);
	cr_assert_eq(ftruncate(memfd, 65536), 0);
	cr_assert_eq(fcntl(memfd, F_ADD_SEALS, F_SEAL_SHRINK), 0);
	fds[0] = memfd;
	{
		struct { uint32_t size; uint64_t at; int nfds;
		    const char *why; } bad[] = {
			{ 16, 65536 - 64, 3, "does not fit" },
			{ 1024, 0, 3, "exceeds" },
			{ 16, 0, 2, "descriptors" },
			{ 16, 0, 0, "not a simulator" },
		};
		size_t	k, len;

		for (k = 0; k < sizeof(bad) / sizeof(bad[0]); k++) {
			sk = socket(AF_UNIX, SOCK_SEQPACKET, 0);
			cr_assert_eq(connect(sk, (struct sockaddr *)&sun,
			    sizeof(sun)), 0);
			n = va_sock_recv(sk, buf, sizeof(buf), NULL, 0, &nfds);
			cr_assert_gt(n, 0);
			vq_layout_at(&s.q[0], bad[k].size, bad[k].at);
			len = va_setup_put(buf, &s);
			if (bad[k].nfds == 0)
				memset(buf, 0x42, len);
			cr_assert_eq(va_sock_send(sk, buf, len, fds,
			    bad[k].nfds), 0);
			n = va_sock_recv(sk, buf, sizeof(buf), NULL, 0, &nfds);
			cr_assert_eq(va_ack_get(buf, (size_t)n, &a, err,
			    sizeof(err)), 0, "case %zu: %s", k, err);
			cr_assert_neq(a.status, 0);
			cr_assert_not_null(strstr(a.msg, bad[k].why),
			    "case %zu: %s", k, a.msg);
			close(sk);
		}
	}
	close(fds[0]);
	close(fds[1]);
	close(fds[2]);
	cr_assert_eq(simproc_cmd(&sp, err, sizeof(err), "ping"), 0);
	simproc_stop(&sp);
}

/* The device side of the context write: LAST with a bad image. */
Test(admin_sim, ctx_write_device_checks)
{
	struct simpump	 x;
	struct reply	 r;
	static uint8_t	 img[8192], data[8192 + 8];
	uint8_t		 m[8] = { VA_MODE_STOP };
	uint32_t	 n, total = 0, rem;
	size_t		 dl;
	char		 reply[512];

	raw_open(&x, NULL);
	list_use(&x);
	/* Read vf1's image in one go. */
	r = cmd(&x, VA_OP_DEV_CTX_READ, 1, 1, NULL, 0, 8 + 8 + 8192);
	cr_assert_eq(r.status, 0);
	n = get_le32(r.res);
	rem = get_le32(r.res + 4);
	cr_assert_eq(rem, 0);
	cr_assert_eq(r.len, 16 + n);
	memcpy(img, r.res + 8, n);
	total = n;
	/* Into vf2 (stopped), the first field's length past the end,
	 * flagged LAST: refused, state unchanged. */
	r = cmd(&x, VA_OP_DEV_MODE_SET, 1, 2, m, 8, 8);
	cr_assert_eq(r.status, 0);
	put_le64(img + 4 + 8, total);
	dl = va_ctxwrite_put(data, img, total, VA_CTX_WRITE_F_LAST);
	r = cmd(&x, VA_OP_DEV_CTX_WRITE, 1, 2, data, dl, 8);
	cr_assert_eq(r.status, VA_STATUS_EINVAL);
	cr_assert_eq(r.qual, VA_Q_INVALID_FIELD);
	cr_assert_eq(simproc_cmd(&x.sp, reply, sizeof(reply), "state 2"), 0);
	cr_assert_not_null(strstr(reply, "runs past the end"), "%s", reply);
	cr_assert_not_null(strstr(reply, "ctx_pending=0"), "%s", reply);
	/* The size field of the data larger than the data. */
	put_le32(data, 9000);
	r = cmd(&x, VA_OP_DEV_CTX_WRITE, 1, 2, data, dl, 8);
	cr_assert_eq(r.qual, VA_Q_INVALID_FIELD);
	/* In two pieces, LAST on the second: accepted; digests match. */
	put_le64(img + 4 + 8, VA_CTX_COMMON_LEN);
	dl = va_ctxwrite_put(data, img, 100, 0);
	r = cmd(&x, VA_OP_DEV_CTX_WRITE, 1, 2, data, dl, 8);
	cr_assert_eq(r.status, 0);
	dl = va_ctxwrite_put(data, img + 100, total - 100,
	    VA_CTX_WRITE_F_LAST);
	r = cmd(&x, VA_OP_DEV_CTX_WRITE, 1, 2, data, dl, 8);
	cr_assert_eq(r.status, 0);
	{
		unsigned long long a, b;

		cr_assert_eq(simproc_hex(&x.sp, &a, "digest 1"), 0);
		cr_assert_eq(simproc_hex(&x.sp, &b, "digest 2"), 0);
		cr_assert_eq(a, b);
	}
	simpump_close(&x);
}

/* Reading a sub-range splits records; nothing is lost or doubled. */
Test(admin_sim, records_subrange)
{
	struct simpump	 x;
	struct reply	 r;
	uint8_t		 data[32];
	char		 path[128];
	uint64_t	 total = 0, iova, len, base = 0x40000000ULL;
	uint32_t	 i, n;
	int		 fd;
	struct va_wr_range rg = { 0x40000000ULL, 64 };

	raw_open(&x, NULL);
	list_use(&x);
	snprintf(path, sizeof(path), "/dev/shm/vmig-test-%d-sub", getpid());
	fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
	cr_assert_eq(ftruncate(fd, 64 * 4096), 0);
	close(fd);
	cr_assert_eq(simproc_cmd(&x.sp, NULL, 0, "attach 1 %s 256K %#llx",
	    path, (unsigned long long)base), 0);
	unlink(path);	/* the mapping keeps it */
	/* Held first: every write is one of ours, after recording. */
	cr_assert_eq(simproc_cmd(&x.sp, NULL, 0, "hold 1"), 0);
	cr_assert_eq(simproc_cmd(&x.sp, NULL, 0, "workload 1 stream "
	    "bufsize=16384 bufs=16 seed=4"), 0);
	r = cmd(&x, VA_OP_WRITE_RECORDS_START, 1, 1, data,
	    va_wrstart_put(data, 4096, &rg, 1), 8);
	cr_assert_eq(r.status, 0);
	cr_assert_eq(simproc_cmd(&x.sp, NULL, 0, "step 1 40"), 0);
	/* The middle: records crossing its edges are split. */
	va_wrread_put(data, base + 6000, 50000);
	r = cmd(&x, VA_OP_WRITE_RECORDS_READ, 1, 1, data, 16, 8 + 16 * 512);
	cr_assert_eq(r.status, 0);
	n = get_le32(r.res);
	for (i = 0; i < n; i++) {
		va_wrrec_get(r.res + 8, i, &iova, &len);
		cr_assert_geq(iova, base + 6000);
		cr_assert_leq(iova + len, base + 56000);
		total += len;
	}
	/* A range not inside the recorded one. */
	va_wrread_put(data, base - 4096, 8192);
	r = cmd(&x, VA_OP_WRITE_RECORDS_READ, 1, 1, data, 16, 64);
	cr_assert_eq(r.qual, VA_Q_INVALID_FIELD);
	/* Then all of it. */
	va_wrread_put(data, base, 64 * 4096);
	r = cmd(&x, VA_OP_WRITE_RECORDS_READ, 1, 1, data, 16, 8 + 16 * 512);
	cr_assert_eq(r.status, 0);
	n = get_le32(r.res);
	cr_assert_eq(get_le32(r.res + 4), 0, "no MORE, no LOST");
	for (i = 0; i < n; i++) {
		va_wrrec_get(r.res + 8, i, &iova, &len);
		total += len;
	}
	{
		char		reply[1024], v[64];

		cr_assert_eq(simproc_cmd(&x.sp, reply, sizeof(reply),
		    "state 1"), 0);
		cr_assert_eq(simproc_field(reply, "bytes", v, sizeof(v)), 0);
		cr_assert_eq(total, strtoull(v, NULL, 0));
	}
	/* Start twice: refused. */
	r = cmd(&x, VA_OP_WRITE_RECORDS_START, 1, 1, data,
	    va_wrstart_put(data, 4096, &rg, 1), 8);
	cr_assert_eq(r.qual, VA_Q_INVALID_COMMAND);
	simpump_close(&x);
}
