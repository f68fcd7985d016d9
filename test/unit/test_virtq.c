/*
 * test_virtq.c: the split virtqueue, driver and device side in one
 * process over one buffer: layout, chains, a full ring, 16-bit index
 * wrap-around, and every way a chain or a used entry can be malformed.
 */
#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>

#include "util.h"
#include "virtq.h"

#define MEMSZ	65536

static uint8_t	 mem[MEMSZ] __attribute__((aligned(16)));

struct pair {
	struct vq_layout l;
	struct vq_ring	 r;
	struct vq_driver d;
	struct vq_device v;
};

static void
pair_init(struct pair *p, uint32_t size)
{
	char	err[128];

	memset(mem, 0, sizeof(mem));
	vq_layout_at(&p->l, size, 0);
	cr_assert_eq(vq_ring_map(&p->r, mem, MEMSZ, &p->l, err, sizeof(err)),
	    0, "%s", err);
	cr_assert_eq(vq_driver_init(&p->d, &p->r), 0);
	vq_device_init(&p->v, &p->r, mem, MEMSZ);
}

static void
pair_fini(struct pair *p)
{
	vq_driver_free_all(&p->d);
}

Test(virtq, layout)
{
	struct vq_layout l;
	struct vq_ring	 r;
	uint64_t	 end;
	char		 err[128];

	end = vq_layout_at(&l, 256, 3);
	cr_assert_eq(l.desc, 16);
	cr_assert_eq(l.avail, 16 + 16 * 256);
	cr_assert_eq(l.used % 4, 0);
	cr_assert_geq(l.used, l.avail + 6 + 2 * 256);
	cr_assert_eq(end, l.used + 6 + 8 * 256);
	cr_assert_eq(vq_ring_map(&r, mem, MEMSZ, &l, err, sizeof(err)), 0);

	l.size = 100;
	cr_assert_eq(vq_ring_map(&r, mem, MEMSZ, &l, err, sizeof(err)),
	    -EINVAL);
	cr_assert_not_null(strstr(err, "power of two"));
	vq_layout_at(&l, 256, 0);
	l.avail += 1;
	cr_assert_eq(vq_ring_map(&r, mem, MEMSZ, &l, err, sizeof(err)),
	    -EINVAL);
	cr_assert_not_null(strstr(err, "misaligned"));
	vq_layout_at(&l, 4096, 0);
	cr_assert_eq(vq_ring_map(&r, mem, 4096, &l, err, sizeof(err)),
	    -EINVAL);
	cr_assert_not_null(strstr(err, "does not fit"));
	vq_layout_at(&l, 8, UINT64_MAX - 64);
	cr_assert_eq(vq_ring_map(&r, mem, MEMSZ, &l, err, sizeof(err)),
	    -EINVAL);
}

Test(virtq, chain_roundtrip)
{
	struct pair	 p;
	struct vq_buf	 out[2] = { { 8192, 24 }, { 8216, 40 } };
	struct vq_buf	 in[2] = { { 9000, 8 }, { 9100, 16 } };
	struct vq_chain	 c;
	uint8_t		 buf[64], w[24];
	uint16_t	 head, h2;
	uint32_t	 len;
	char		 err[128];
	int		 i;

	pair_init(&p, 8);
	for (i = 0; i < 64; i++)
		mem[8192 + i] = (uint8_t)i;
	cr_assert_eq(vq_driver_add(&p.d, out, 2, in, 2, &head), 0);
	cr_assert_eq(p.d.num_free, 4);
	cr_assert_eq(vq_driver_outstanding(&p.d, head), 4);
	cr_assert_eq(vq_device_pop(&p.v, &c), 1);
	cr_assert_eq(c.head, head);
	cr_assert_eq(c.broken, 0);
	cr_assert_eq(c.misordered, 0);
	cr_assert_eq(c.nseg, 4);
	cr_assert_eq(c.nread, 2);
	cr_assert_eq(c.rlen, 64);
	cr_assert_eq(c.wlen, 24);
	/* Gather across the two readable buffers. */
	cr_assert_eq(vq_chain_read(&p.v, &c, 20, buf, 10), 10);
	for (i = 0; i < 10; i++)
		cr_assert_eq(buf[i], 20 + i);
	cr_assert_eq(vq_chain_read(&p.v, &c, 60, buf, 64), 4);
	/* Scatter across the two writable buffers. */
	for (i = 0; i < 24; i++)
		w[i] = (uint8_t)(100 + i);
	cr_assert_eq(vq_chain_write(&p.v, &c, 0, w, 24), 24);
	cr_assert_eq(mem[9000], 100);
	cr_assert_eq(mem[9007], 107);
	cr_assert_eq(mem[9100], 108);
	cr_assert_eq(mem[9115], 123);
	cr_assert_eq(vq_chain_write(&p.v, &c, 20, w, 24), 4);
	cr_assert_eq(vq_device_pop(&p.v, &c), 0);
	vq_device_push(&p.v, head, 24);
	cr_assert_eq(vq_driver_get_used(&p.d, &h2, &len, err, sizeof(err)),
	    1);
	cr_assert_eq(h2, head);
	cr_assert_eq(len, 24);
	cr_assert_eq(p.d.num_free, 8);
	cr_assert_eq(vq_driver_outstanding(&p.d, head), 0);
	cr_assert_eq(vq_driver_get_used(&p.d, &h2, &len, err, sizeof(err)),
	    0);
	pair_fini(&p);
}

Test(virtq, full_queue)
{
	struct pair	 p;
	struct vq_buf	 b = { 4096, 8 };
	uint16_t	 heads[4], h;
	uint32_t	 len;
	struct vq_chain	 c;
	char		 err[128];
	int		 i;

	pair_init(&p, 8);
	for (i = 0; i < 4; i++)
		cr_assert_eq(vq_driver_add(&p.d, &b, 1, &b, 1, &heads[i]), 0);
	cr_assert_eq(p.d.num_free, 0);
	cr_assert_eq(vq_driver_add(&p.d, &b, 1, NULL, 0, &h), -ENOSPC);
	cr_assert_eq(vq_driver_add(&p.d, &b, 0, NULL, 0, &h), -EINVAL);
	/* Out of order completion: the last first. */
	for (i = 0; i < 4; i++)
		cr_assert_eq(vq_device_pop(&p.v, &c), 1);
	vq_device_push(&p.v, heads[3], 8);
	cr_assert_eq(vq_driver_get_used(&p.d, &h, &len, err, sizeof(err)),
	    1);
	cr_assert_eq(h, heads[3]);
	cr_assert_eq(vq_driver_add(&p.d, &b, 1, &b, 1, &h), 0);
	cr_assert_eq(h, heads[3]);	/* its descriptors came back */
	cr_assert_eq(vq_driver_add(&p.d, &b, 1, NULL, 0, &h), -ENOSPC);
	pair_fini(&p);
}

/* 16-bit free-running indices wrap; slots are idx % size. */
Test(virtq, index_wraparound)
{
	struct pair	 p;
	struct vq_buf	 out = { 4096, 24 }, in = { 4200, 16 };
	struct vq_chain	 c;
	uint16_t	 h;
	uint32_t	 len, i, k;
	char		 err[128];

	pair_init(&p, 4);
	for (i = 0; i < 70000; i += 2) {
		/* Two in flight, completed in reverse. */
		uint16_t hs[2];

		for (k = 0; k < 2; k++)
			cr_assert_eq(vq_driver_add(&p.d, &out, 1, &in, 1,
			    &hs[k]), 0);
		for (k = 0; k < 2; k++) {
			cr_assert_eq(vq_device_pop(&p.v, &c), 1);
			cr_assert_eq(c.head, hs[k]);
			cr_assert_eq(c.rlen, 24);
		}
		vq_device_push(&p.v, hs[1], 16);
		vq_device_push(&p.v, hs[0], 8);
		cr_assert_eq(vq_driver_get_used(&p.d, &h, &len, err,
		    sizeof(err)), 1);
		cr_assert_eq(h, hs[1]);
		cr_assert_eq(len, 16);
		cr_assert_eq(vq_driver_get_used(&p.d, &h, &len, err,
		    sizeof(err)), 1);
		cr_assert_eq(h, hs[0]);
	}
	/* avail->idx and used->idx have gone past 65535. */
	cr_assert_eq(p.d.avail_idx, (uint16_t)70000);
	cr_assert_eq(p.d.avail_idx, p.v.last_avail);
	cr_assert_eq(p.d.last_used, p.v.used_idx);
	cr_assert_eq(p.d.num_free, 4);
	pair_fini(&p);
}

/* Write a descriptor by hand, as a broken driver would. */
static void
desc(struct pair *p, uint16_t i, uint64_t addr, uint32_t len, uint16_t fl,
    uint16_t next)
{
	uint8_t	*d = p->r.desc + i * 16;

	put_le64(d, addr);
	put_le32(d + 8, len);
	put_le16(d + 12, fl);
	put_le16(d + 14, next);
}

static void
publish(struct pair *p, uint16_t head)
{
	uint16_t idx = get_le16(p->r.avail + 2);

	put_le16(p->r.avail + 4 + 2 * (idx % p->r.size), head);
	put_le16(p->r.avail + 2, (uint16_t)(idx + 1));
}

static struct vq_chain
pop_one(struct pair *p)
{
	struct vq_chain	c;

	cr_assert_eq(vq_device_pop(&p->v, &c), 1);
	return (c);
}

Test(virtq, device_refuses_malformed)
{
	struct pair	 p;
	struct vq_chain	 c;
	uint8_t		 buf[8];

	pair_init(&p, 8);
	/* Head out of range. */
	publish(&p, 9);
	c = pop_one(&p);
	cr_assert(c.broken);
	cr_assert_not_null(strstr(c.why, "head 9"), "%s", c.why);
	/* Outside the mapping, and a length that would wrap. */
	desc(&p, 0, MEMSZ - 4, 8, 0, 0);
	publish(&p, 0);
	c = pop_one(&p);
	cr_assert(c.broken);
	cr_assert_not_null(strstr(c.why, "outside"), "%s", c.why);
	cr_assert_eq(vq_chain_read(&p.v, &c, 0, buf, 8), 0);
	desc(&p, 0, UINT64_MAX - 2, 16, 0, 0);
	publish(&p, 0);
	cr_assert(pop_one(&p).broken);
	/* A loop. */
	desc(&p, 0, 4096, 8, VQ_DESC_F_NEXT, 1);
	desc(&p, 1, 4096, 8, VQ_DESC_F_NEXT, 0);
	publish(&p, 0);
	c = pop_one(&p);
	cr_assert(c.broken);
	cr_assert_not_null(strstr(c.why, "loop"), "%s", c.why);
	/* Indirect, which we never negotiate. */
	desc(&p, 0, 4096, 16, VQ_DESC_F_INDIRECT, 0);
	publish(&p, 0);
	cr_assert_not_null(strstr(pop_one(&p).why, "indirect"));
	/* next out of range. */
	desc(&p, 0, 4096, 8, VQ_DESC_F_NEXT, 12);
	publish(&p, 0);
	cr_assert_not_null(strstr(pop_one(&p).why, "links to 12"));
	/* Readable after writable: usable, but flagged. */
	desc(&p, 0, 4096, 8, VQ_DESC_F_WRITE | VQ_DESC_F_NEXT, 1);
	desc(&p, 1, 4200, 24, 0, 0);
	publish(&p, 0);
	c = pop_one(&p);
	cr_assert_eq(c.broken, 0);
	cr_assert(c.misordered);
	cr_assert_eq(c.wlen, 8);
	cr_assert_eq(c.rlen, 24);
	/* A ring that runs away: more published than it holds. */
	put_le16(p.r.avail + 2, (uint16_t)(get_le16(p.r.avail + 2) + 9));
	cr_assert_eq(vq_device_pop(&p.v, &c), -EPROTO);
	cr_assert(p.v.broken);
	cr_assert_eq(vq_device_pop(&p.v, &c), -EPROTO);
	pair_fini(&p);
}

Test(virtq, chain_too_long)
{
	struct pair	p;
	struct vq_chain	c;
	uint16_t	i;

	memset(&p, 0, sizeof(p));
	pair_init(&p, 128);
	for (i = 0; i < 100; i++)
		desc(&p, i, 4096, 8, VQ_DESC_F_NEXT, (uint16_t)(i + 1));
	desc(&p, 100, 4096, 8, 0, 0);
	publish(&p, 0);
	c = pop_one(&p);
	cr_assert(c.broken);
	cr_assert_not_null(strstr(c.why, "longer than 64"), "%s", c.why);
	pair_fini(&p);
}

Test(virtq, driver_refuses_bad_used)
{
	struct pair	 p;
	struct vq_buf	 b = { 4096, 8 };
	uint16_t	 head, h;
	uint32_t	 len;
	char		 err[128];

	pair_init(&p, 8);
	cr_assert_eq(vq_driver_add(&p.d, &b, 1, &b, 1, &head), 0);
	/* An id that was never handed out, one out of range, then the
	 * real one: the bad ones are skipped and counted. */
	vq_device_push(&p.v, (uint16_t)(head + 1), 8);
	vq_device_push(&p.v, 300, 8);
	vq_device_push(&p.v, head, 8);
	cr_assert_eq(vq_driver_get_used(&p.d, &h, &len, err, sizeof(err)),
	    -EPROTO);
	cr_assert_not_null(strstr(err, "not an outstanding"), "%s", err);
	cr_assert_eq(vq_driver_get_used(&p.d, &h, &len, err, sizeof(err)),
	    -EPROTO);
	cr_assert_eq(vq_driver_get_used(&p.d, &h, &len, err, sizeof(err)),
	    1);
	cr_assert_eq(h, head);
	/* Returned twice: the second is refused. */
	vq_device_push(&p.v, head, 8);
	cr_assert_eq(vq_driver_get_used(&p.d, &h, &len, err, sizeof(err)),
	    -EPROTO);
	cr_assert_eq(p.d.bad_used, 3);
	cr_assert_eq(p.d.num_free, 8);
	pair_fini(&p);
}

/* A device scribbling over the descriptor table cannot corrupt the
 * driver's free list (it keeps its own links). */
Test(virtq, driver_private_links)
{
	struct pair	 p;
	struct vq_buf	 b = { 4096, 8 };
	uint16_t	 head, h;
	uint32_t	 len;
	char		 err[128];
	int		 i;

	pair_init(&p, 8);
	cr_assert_eq(vq_driver_add(&p.d, &b, 1, &b, 1, &head), 0);
	memset(p.r.desc, 0xff, 16 * 8);
	vq_device_push(&p.v, head, 8);
	cr_assert_eq(vq_driver_get_used(&p.d, &h, &len, err, sizeof(err)), 1);
	for (i = 0; i < 4; i++)
		cr_assert_eq(vq_driver_add(&p.d, &b, 1, &b, 1, &h), 0);
	cr_assert_eq(p.d.num_free, 0);
	pair_fini(&p);
}
