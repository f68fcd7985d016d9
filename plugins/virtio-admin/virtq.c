/*
 * virtq.c: split virtqueue, driver and device sides (see virtq.h).
 *
 * The indices are free-running 16-bit counters; the ring slot is
 * idx % size. Publication order follows the spec: the driver writes the
 * ring entry, then stores avail->idx with release ordering; the device
 * loads avail->idx with acquire ordering before it reads the entry and the
 * descriptors (and the mirror image for the used ring).
 */
#include "config.h"

#include <endian.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"
#include "virtq.h"

static inline uint16_t
ld16_acquire(const uint8_t *p)
{
	uint16_t v;

	v = __atomic_load_n((const uint16_t *)(const void *)p,
	    __ATOMIC_ACQUIRE);
	return (le16toh(v));
}

static inline void
st16_release(uint8_t *p, uint16_t v)
{
	__atomic_store_n((uint16_t *)(void *)p, htole16(v), __ATOMIC_RELEASE);
}

static int
is_pow2(uint32_t n)
{
	return (n != 0 && (n & (n - 1)) == 0);
}

static uint64_t
align_up(uint64_t v, uint64_t a)
{
	return ((v + a - 1) & ~(a - 1));
}

uint64_t
vq_layout_at(struct vq_layout *l, uint32_t size, uint64_t at)
{
	l->size = size;
	l->desc = align_up(at, 16);
	l->avail = align_up(l->desc + vq_desc_bytes(size), 2);
	l->used = align_up(l->avail + vq_avail_bytes(size), 4);
	return (l->used + vq_used_bytes(size));
}

/* Is [off, off + len) inside a mapping of memsize bytes? */
static int
in_map(uint64_t off, uint64_t len, uint64_t memsize)
{
	return (off <= memsize && len <= memsize - off);
}

int
vq_ring_map(struct vq_ring *r, uint8_t *mem, uint64_t memsize,
    const struct vq_layout *l, char *err, size_t errlen)
{
	if (!is_pow2(l->size) || l->size > VQ_MAX_SIZE) {
		snprintf(err, errlen, "queue size %u is not a power of two "
		    "in 1..%u", l->size, VQ_MAX_SIZE);
		return (-EINVAL);
	}
	if (l->desc % 16 != 0 || l->avail % 2 != 0 || l->used % 4 != 0) {
		snprintf(err, errlen, "ring parts misaligned (desc %#llx, "
		    "avail %#llx, used %#llx)", (unsigned long long)l->desc,
		    (unsigned long long)l->avail, (unsigned long long)l->used);
		return (-EINVAL);
	}
	if (!in_map(l->desc, vq_desc_bytes(l->size), memsize) ||
	    !in_map(l->avail, vq_avail_bytes(l->size), memsize) ||
	    !in_map(l->used, vq_used_bytes(l->size), memsize)) {
		snprintf(err, errlen, "ring of size %u does not fit in the "
		    "%llu-byte mapping", l->size, (unsigned long long)memsize);
		return (-EINVAL);
	}
	r->size = l->size;
	r->desc = mem + l->desc;
	r->avail = mem + l->avail;
	r->used = mem + l->used;
	return (0);
}

/* ------------------------------------------------------------ driver side */

int
vq_driver_init(struct vq_driver *d, const struct vq_ring *r)
{
	uint32_t	i;

	memset(d, 0, sizeof(*d));
	if (!is_pow2(r->size) || r->size > VQ_MAX_SIZE)
		return (-EINVAL);
	d->r = *r;
	d->next = calloc(r->size, sizeof(*d->next));
	d->chain_len = calloc(r->size, sizeof(*d->chain_len));
	if (d->next == NULL || d->chain_len == NULL) {
		vq_driver_free_all(d);
		return (-ENOMEM);
	}
	for (i = 0; i < r->size; i++)
		d->next[i] = (uint16_t)((i + 1) % r->size);
	d->free_head = 0;
	d->num_free = r->size;
	memset(r->desc, 0, vq_desc_bytes(r->size));
	memset(r->avail, 0, vq_avail_bytes(r->size));
	memset(r->used, 0, vq_used_bytes(r->size));
	return (0);
}

void
vq_driver_free_all(struct vq_driver *d)
{
	free(d->next);
	free(d->chain_len);
	d->next = NULL;
	d->chain_len = NULL;
}

static void
put_desc(uint8_t *desc, uint16_t i, uint64_t addr, uint32_t len,
    uint16_t flags, uint16_t next)
{
	uint8_t	*p = desc + (size_t)i * VQ_DESC_LEN;

	put_le64(p, addr);
	put_le32(p + 8, len);
	put_le16(p + 12, flags);
	put_le16(p + 14, next);
}

int
vq_driver_add(struct vq_driver *d, const struct vq_buf *out,
    unsigned int nout, const struct vq_buf *in, unsigned int nin,
    uint16_t *headp)
{
	unsigned int	 n = nout + nin, k;
	uint16_t	 head, cur, flags;
	const struct vq_buf *b;

	if (n == 0 || n > d->r.size)
		return (-EINVAL);
	if (n > d->num_free)
		return (-ENOSPC);
	head = cur = d->free_head;
	for (k = 0; k < n; k++) {
		b = k < nout ? &out[k] : &in[k - nout];
		flags = k < nout ? 0 : VQ_DESC_F_WRITE;
		if (k + 1 < n)
			flags |= VQ_DESC_F_NEXT;
		put_desc(d->r.desc, cur, b->addr, b->len, flags,
		    k + 1 < n ? d->next[cur] : 0);
		if (k + 1 < n)
			cur = d->next[cur];
	}
	d->free_head = d->next[cur];
	d->num_free -= n;
	d->chain_len[head] = (uint16_t)n;

	put_le16(d->r.avail + 4 + 2 * (size_t)(d->avail_idx % d->r.size),
	    head);
	d->avail_idx++;
	st16_release(d->r.avail + 2, d->avail_idx);
	*headp = head;
	return (0);
}

int
vq_driver_get_used(struct vq_driver *d, uint16_t *headp, uint32_t *lenp,
    char *err, size_t errlen)
{
	const uint8_t	*e;
	uint32_t	 id, len;
	uint16_t	 used_idx, cur, n, k;

	used_idx = ld16_acquire(d->r.used + 2);
	if (used_idx == d->last_used)
		return (0);
	e = d->r.used + 4 + (size_t)(d->last_used % d->r.size) *
	    VQ_USED_ELEM_LEN;
	id = get_le32(e);
	len = get_le32(e + 4);
	d->last_used++;
	if (id >= d->r.size || d->chain_len[id] == 0) {
		d->bad_used++;
		snprintf(err, errlen, "device returned used id %u, which is "
		    "not an outstanding chain (ring size %u)", id, d->r.size);
		return (-EPROTO);
	}
	n = d->chain_len[id];
	cur = (uint16_t)id;
	for (k = 1; k < n; k++)
		cur = d->next[cur];
	d->next[cur] = d->free_head;
	d->free_head = (uint16_t)id;
	d->num_free += n;
	d->chain_len[id] = 0;
	*headp = (uint16_t)id;
	*lenp = len;
	return (1);
}

unsigned int
vq_driver_outstanding(const struct vq_driver *d, uint16_t head)
{
	if (head >= d->r.size)
		return (0);
	return (d->chain_len[head]);
}

/* ------------------------------------------------------------ device side */

void
vq_device_init(struct vq_device *v, const struct vq_ring *r, uint8_t *mem,
    uint64_t memsize)
{
	memset(v, 0, sizeof(*v));
	v->r = *r;
	v->mem = mem;
	v->memsize = memsize;
}

static void chain_break(struct vq_chain *, const char *, ...)
    __attribute__((format(printf, 2, 3)));

static void
chain_break(struct vq_chain *c, const char *fmt, ...)
{
	va_list	ap;

	if (c->broken)
		return;
	c->broken = 1;
	va_start(ap, fmt);
	vsnprintf(c->why, sizeof(c->why), fmt, ap);
	va_end(ap);
}

/* One descriptor into the chain: checked against the mapping. */
static int
seg_add(const struct vq_device *v, struct vq_chain *c, unsigned int n,
    uint32_t i, uint64_t addr, uint32_t len, uint16_t flags, int *seen_write)
{
	if (addr < v->base || !in_map(addr - v->base, len, v->memsize)) {
		chain_break(c, "descriptor %u points outside the mapping "
		    "(addr %#llx)", i, (unsigned long long)addr);
		return (-1);
	}
	c->seg[n].addr = addr - v->base;	/* an offset from here on */
	c->seg[n].len = len;
	c->seg[n].flags = flags;
	if (flags & VQ_DESC_F_WRITE) {
		*seen_write = 1;
		c->wlen += len;
	} else {
		if (*seen_write)
			c->misordered = 1;
		else
			c->nread++;
		c->rlen += len;
	}
	c->nseg = n + 1;
	return (0);
}

/*
 * An indirect head: the whole chain is in the table it points to (as
 * Linux builds it); no nesting, links inside the table only.
 */
static void
pop_indirect(struct vq_device *v, struct vq_chain *c, uint32_t head,
    uint64_t taddr, uint32_t tlen)
{
	const uint8_t	*p;
	uint32_t	 tn = tlen / VQ_DESC_LEN, i = 0, n, len;
	uint16_t	 flags, next;
	uint64_t	 addr;
	int		 seen_write = 0;

	if (tlen == 0 || tlen % VQ_DESC_LEN != 0 || tn > VQ_CHAIN_MAX ||
	    taddr < v->base || !in_map(taddr - v->base, tlen, v->memsize)) {
		chain_break(c, "indirect table of descriptor %u: %u bytes at "
		    "%#llx (whole descriptors, at most %d, in the mapping)",
		    head, tlen, (unsigned long long)taddr, VQ_CHAIN_MAX);
		return;
	}
	for (n = 0;; n++) {
		if (n >= tn) {
			chain_break(c, "indirect table of descriptor %u loops",
			    head);
			return;
		}
		p = v->mem + (taddr - v->base) + (size_t)i * VQ_DESC_LEN;
		addr = get_le64(p);
		len = get_le32(p + 8);
		flags = get_le16(p + 12);
		next = get_le16(p + 14);
		if (flags & VQ_DESC_F_INDIRECT) {
			chain_break(c, "nested indirect table in descriptor "
			    "%u", head);
			return;
		}
		if (seg_add(v, c, n, i, addr, len, flags, &seen_write) != 0)
			return;
		if (!(flags & VQ_DESC_F_NEXT))
			return;
		if (next >= tn) {
			chain_break(c, "indirect entry %u links to %u, past "
			    "the table", i, next);
			return;
		}
		i = next;
	}
}

int
vq_device_pop(struct vq_device *v, struct vq_chain *c)
{
	const uint8_t	*p;
	uint16_t	 avail_idx, pending, flags, next;
	uint32_t	 i, len, n;
	uint64_t	 addr;
	int		 seen_write = 0;

	if (v->broken)
		return (-EPROTO);
	avail_idx = ld16_acquire(v->r.avail + 2);
	pending = (uint16_t)(avail_idx - v->last_avail);
	if (pending == 0)
		return (0);
	if (pending > v->r.size) {
		v->broken = 1;
		return (-EPROTO);
	}
	memset(c, 0, sizeof(*c));
	i = get_le16(v->r.avail + 4 + 2 * (size_t)(v->last_avail % v->r.size));
	v->last_avail++;
	c->head = (uint16_t)i;
	if (i >= v->r.size) {
		chain_break(c, "head %u out of range (size %u)", i,
		    v->r.size);
		return (1);
	}
	for (n = 0;; n++) {
		if (n >= v->r.size || n >= VQ_CHAIN_MAX) {
			chain_break(c, "chain from head %u longer than %u "
			    "descriptors (loop?)", c->head,
			    (unsigned int)MIN(v->r.size, VQ_CHAIN_MAX));
			return (1);
		}
		p = v->r.desc + (size_t)i * VQ_DESC_LEN;
		addr = get_le64(p);
		len = get_le32(p + 8);
		flags = get_le16(p + 12);
		next = get_le16(p + 14);
		if (flags & VQ_DESC_F_INDIRECT) {
			if (!v->indirect)
				chain_break(c, "descriptor %u is indirect "
				    "(not negotiated)", i);
			else if (n != 0 || (flags & VQ_DESC_F_NEXT))
				chain_break(c, "indirect descriptor %u is not "
				    "alone in its chain", i);
			else
				pop_indirect(v, c, i, addr, len);
			return (1);
		}
		if (seg_add(v, c, n, i, addr, len, flags, &seen_write) != 0)
			return (1);
		if (!(flags & VQ_DESC_F_NEXT))
			break;
		if (next >= v->r.size) {
			chain_break(c, "descriptor %u links to %u, out of "
			    "range", i, next);
			return (1);
		}
		i = next;
	}
	return (1);
}

static size_t
chain_copy(const struct vq_device *v, const struct vq_chain *c, int write,
    uint64_t off, uint8_t *buf, size_t len)
{
	size_t		 done = 0, n;
	unsigned int	 k;
	uint64_t	 skip = off;
	const struct vq_seg *s;

	for (k = 0; k < c->nseg && done < len; k++) {
		s = &c->seg[k];
		if (((s->flags & VQ_DESC_F_WRITE) != 0) != write)
			continue;
		if (skip >= s->len) {
			skip -= s->len;
			continue;
		}
		n = MIN(len - done, (size_t)(s->len - skip));
		if (write)
			memcpy(v->mem + s->addr + skip, buf + done, n);
		else
			memcpy(buf + done, v->mem + s->addr + skip, n);
		done += n;
		skip = 0;
	}
	return (done);
}

size_t
vq_chain_read(const struct vq_device *v, const struct vq_chain *c,
    uint64_t off, void *buf, size_t len)
{
	if (c->broken)
		return (0);
	return (chain_copy(v, c, 0, off, buf, len));
}

size_t
vq_chain_write(const struct vq_device *v, const struct vq_chain *c,
    uint64_t off, const void *buf, size_t len)
{
	if (c->broken)
		return (0);
	return (chain_copy(v, c, 1, off, (uint8_t *)(uintptr_t)buf, len));
}

void
vq_device_push(struct vq_device *v, uint16_t head, uint32_t len)
{
	uint8_t	*e;

	e = v->r.used + 4 + (size_t)(v->used_idx % v->r.size) *
	    VQ_USED_ELEM_LEN;
	put_le32(e, head);
	put_le32(e + 4, len);
	v->used_idx++;
	st16_release(v->r.used + 2, v->used_idx);
}
