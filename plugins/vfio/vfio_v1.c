/*
 * vfio_v1.c: see vfio_v1.h.
 */
#include "config.h"

#include <sys/mman.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vfio_compat.h"
#include "vfio_dev.h"
#include "vfio_log.h"
#include "vfio_v1.h"

#define RINFO	sizeof(struct vfio_region_info)

static void
le64_put(uint8_t *p, uint64_t v)
{
	int	i;

	for (i = 0; i < 8; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static uint64_t
le64_get(const uint8_t *p)
{
	uint64_t	v = 0;
	int		i;

	for (i = 7; i >= 0; i--)
		v = (v << 8) | p[i];
	return (v);
}

/* Region info of index with its capability chain; *buf is malloc'd. */
static int
region_info(struct vfio_dev *d, uint32_t index, uint8_t **bufp,
    size_t *lenp)
{
	struct vfio_region_info	ri;

	memset(&ri, 0, sizeof(ri));
	ri.index = index;
	return (vfio_get_info(d->fd, VFIO_DEVICE_GET_REGION_INFO, &ri,
	    sizeof(ri), VFIO_REGION_INFO_FLAG_CAPS, bufp, lenp));
}

/* Is region index the v1 migration region? 1 and dev->v1 if so. */
static int
match_region(struct vfio_dev *d, uint32_t index, char *err, size_t errlen)
{
	struct vfio_region_info	 ri;
	struct vfio_cap		 cap;
	struct vfio_area	 areas[4];
	uint8_t			*buf;
	size_t			 len;
	uint32_t		 type, sub;
	unsigned int		 n = 0;
	int			 rc;

	if ((rc = region_info(d, index, &buf, &len)) < 0)
		return (vfio_err(err, errlen, rc, "%s: region %u info: %s",
		    d->name, index, strerror(-rc)));
	memcpy(&ri, buf, RINFO);
	rc = 0;
	if (!(ri.flags & VFIO_REGION_INFO_FLAG_CAPS) || ri.cap_offset == 0)
		goto out;
	if ((rc = vfio_cap_find(buf, len, ri.cap_offset,
	    VFIO_REGION_INFO_CAP_TYPE, &cap, err, errlen)) <= 0)
		goto out;
	if ((rc = vfio_cap_region_type(buf, &cap, &type, &sub, err,
	    errlen)) != 0)
		goto out;
	if (type != VFIO_V1_REGION_TYPE || sub != VFIO_V1_REGION_SUBTYPE)
		goto out;	/* rc 0: another device region */
	if (ri.size < VFIO_V1_INFO_SIZE ||
	    !(ri.flags & VFIO_REGION_INFO_FLAG_READ) ||
	    !(ri.flags & VFIO_REGION_INFO_FLAG_WRITE)) {
		rc = vfio_err(err, errlen, -EPROTO, "%s: migration region %u "
		    "is %llu bytes with flags %#x (needs read, write, %d bytes)",
		    d->name, index, (unsigned long long)ri.size, ri.flags,
		    VFIO_V1_INFO_SIZE);
		goto out;
	}
	memset(&d->v1, 0, sizeof(d->v1));
	d->v1.present = 1;
	d->v1.index = index;
	d->v1.offset = ri.offset;
	d->v1.size = ri.size;
	d->v1.flags = ri.flags;
	if ((ri.flags & VFIO_REGION_INFO_FLAG_MMAP) &&
	    (rc = vfio_cap_find(buf, len, ri.cap_offset,
	    VFIO_REGION_INFO_CAP_SPARSE_MMAP, &cap, err, errlen)) == 1) {
		if ((rc = vfio_cap_sparse(buf, &cap, areas, 4, &n, err,
		    errlen)) != 0)
			goto out;
		/* The data part: the first area past the info struct. */
		if (n > 0 && areas[0].offset >= VFIO_V1_INFO_SIZE &&
		    areas[0].size > 0 && areas[0].offset <= ri.size &&
		    areas[0].size <= ri.size - areas[0].offset)
			d->v1.area = areas[0];
	} else if (rc < 0)
		goto out;
	rc = 1;
out:
	free(buf);
	return (rc);
}

int
vfio_v1_find(struct vfio_dev *d, char *err, size_t errlen)
{
	uint32_t	i;
	void		*p;
	int		rc;

	for (i = VFIO_PCI_NUM_REGIONS; i < d->num_regions && i < 64; i++) {
		if ((rc = match_region(d, i, err, errlen)) < 0)
			return (rc);
		if (rc == 1)
			break;
	}
	if (!d->v1.present)
		return (0);
	if (d->v1.area.size > 0) {
		p = mmap(NULL, d->v1.area.size, PROT_READ | PROT_WRITE,
		    MAP_SHARED, d->fd, (off_t)(d->v1.offset +
		    d->v1.area.offset));
		if (p == MAP_FAILED)
			vfio_info("%s: %s: data area not mappable (%s): pread",
			    __func__, d->name, strerror(errno));
		else
			d->v1.map = p;
	}
	vfio_debug("%s: %s: region %u, %llu bytes, data area %#llx+%#llx%s",
	    __func__, d->name, d->v1.index, (unsigned long long)d->v1.size,
	    (unsigned long long)d->v1.area.offset,
	    (unsigned long long)d->v1.area.size,
	    d->v1.map != NULL ? " mapped" : "");
	return (vfio_v1_get_state(d, &d->v1.state, err, errlen) == 0 ? 1 :
	    -EIO);
}

void
vfio_v1_unmap(struct vfio_dev *d)
{
	if (d->v1.map != NULL)
		munmap(d->v1.map, d->v1.area.size);
	d->v1.map = NULL;
}

void
vfio_v1_forget(struct vfio_dev *d)
{
	d->v1.staged = 0;
	d->v1.whdr_pos = 0;
	d->v1.wlen = d->v1.wpos = 0;
}

const char *
vfio_v1_state_name(uint32_t s)
{
	static const char *const names[8] = { "stopped", "running",
	    "stop-and-copy", "pre-copy", "resuming", "invalid(101)", "error",
	    "invalid(111)" };

	return (names[s & VFIO_V1_MASK]);
}

/* -------------------------------------------------------- fields */

static int
rd_field(struct vfio_dev *d, unsigned int off, void *v, size_t len,
    const char *what, char *err, size_t errlen)
{
	int	rc;

	if ((rc = vfio_pread_all(d->fd, v, len, d->v1.offset + off)) < 0)
		return (vfio_err(err, errlen, rc, "%s: v1 %s read: %s",
		    d->name, what, strerror(-rc)));
	return (0);
}

int
vfio_v1_get_state(struct vfio_dev *d, uint32_t *s, char *err, size_t errlen)
{
	return (rd_field(d, VFIO_V1_OFF_DEVICE_STATE, s, sizeof(*s),
	    "device_state", err, errlen));
}

int
vfio_v1_set_state(struct vfio_dev *d, uint32_t bits, char *err,
    size_t errlen)
{
	uint32_t	cur, v;
	int		rc;

	if (!d->v1.present)
		return (vfio_err(err, errlen, -EOPNOTSUPP, "%s: no v1 region",
		    d->name));
	if ((rc = vfio_v1_get_state(d, &cur, err, errlen)) != 0)
		return (rc);
	v = (cur & ~(uint32_t)VFIO_V1_MASK) | (bits & VFIO_V1_MASK);
	rc = vfio_pwrite_all(d->fd, &v, sizeof(v),
	    d->v1.offset + VFIO_V1_OFF_DEVICE_STATE);
	if (rc == 0) {
		vfio_debug("%s: %s: %s -> %s", __func__, d->name,
		    vfio_v1_state_name(cur), vfio_v1_state_name(v));
		d->v1.state = v;
		return (0);
	}
	/* The seed's rule: on failure, read it back to learn the state. */
	if (vfio_v1_get_state(d, &d->v1.state, NULL, 0) == 0 &&
	    (d->v1.state & VFIO_V1_MASK) == VFIO_V1_ERROR)
		return (vfio_err(err, errlen, -EIO, "%s: v1 %s -> %s failed "
		    "(%s) and the device is in error: only VFIO_DEVICE_RESET "
		    "gets it out", d->name, vfio_v1_state_name(cur),
		    vfio_v1_state_name(v), strerror(-rc)));
	return (vfio_err(err, errlen, rc, "%s: v1 %s -> %s: %s (now %s)",
	    d->name, vfio_v1_state_name(cur), vfio_v1_state_name(v),
	    strerror(-rc), vfio_v1_state_name(d->v1.state)));
}

int
vfio_v1_pending(struct vfio_dev *d, uint64_t *p, char *err, size_t errlen)
{
	return (rd_field(d, VFIO_V1_OFF_PENDING_BYTES, p, sizeof(*p),
	    "pending_bytes", err, errlen));
}

/* ----------------------------------------------------- data section */

/* Is [off, off + n) of the region inside the mapped area? */
static uint8_t *
in_map(struct vfio_dev *d, uint64_t off, uint64_t n)
{
	const struct vfio_area *a = &d->v1.area;

	if (d->v1.map == NULL || off < a->offset || n > a->size ||
	    off - a->offset > a->size - n)
		return (NULL);
	return (d->v1.map + (off - a->offset));
}

static int
section_io(struct vfio_dev *d, uint64_t off, void *buf, size_t n, int wr)
{
	uint8_t	*p;

	if ((p = in_map(d, off, n)) != NULL) {
		if (wr)
			memcpy(p, buf, n);
		else
			memcpy(buf, p, n);
		return (0);
	}
	return (wr ? vfio_pwrite_all(d->fd, buf, n, d->v1.offset + off) :
	    vfio_pread_all(d->fd, buf, n, d->v1.offset + off));
}

/* Stage the device's next chunk: 1 staged, 0 end, -ENOMSG, -errno. */
static int
stage(struct vfio_dev *d, char *err, size_t errlen)
{
	uint64_t	pending, off, size;
	int		rc, running = (d->v1.state & VFIO_V1_RUNNING) != 0;

	if ((rc = vfio_v1_pending(d, &pending, err, errlen)) != 0)
		return (rc);
	if (pending == 0)
		return (running ? -ENOMSG : 0);
	/* Reading data_offset makes the device stage the next chunk. */
	if ((rc = rd_field(d, VFIO_V1_OFF_DATA_OFFSET, &off, sizeof(off),
	    "data_offset", err, errlen)) != 0 ||
	    (rc = rd_field(d, VFIO_V1_OFF_DATA_SIZE, &size, sizeof(size),
	    "data_size", err, errlen)) != 0)
		return (rc);
	if (size == 0)
		return (running ? -ENOMSG : vfio_err(err, errlen, -EPROTO,
		    "%s: v1 device staged 0 bytes with %llu pending",
		    d->name, (unsigned long long)pending));
	if (off < VFIO_V1_INFO_SIZE || off > d->v1.size ||
	    size > d->v1.size - off)
		return (vfio_err(err, errlen, -EPROTO, "%s: v1 chunk %#llx+%llu "
		    "is outside the %llu-byte region's data section", d->name,
		    (unsigned long long)off, (unsigned long long)size,
		    (unsigned long long)d->v1.size));
	d->v1.chunk_off = off;
	d->v1.chunk_len = size;
	d->v1.chunk_pos = 0;
	le64_put(d->v1.hdr, size);
	d->v1.hdr_pos = 0;
	d->v1.staged = 1;
	return (1);
}

ssize_t
vfio_v1_read(struct vfio_dev *d, void *buf, size_t cap, char *err,
    size_t errlen)
{
	struct vfio_v1	*v = &d->v1;
	uint8_t		*out = buf;
	size_t		 n = 0, take;
	int		 rc;

	if (!(v->state & VFIO_V1_SAVING) || (v->state & VFIO_V1_RESUMING))
		return (vfio_err(err, errlen, -EINVAL, "%s: v1 device is not "
		    "saving (%s)", d->name, vfio_v1_state_name(v->state)));
	if (!v->staged && (rc = stage(d, err, errlen)) <= 0)
		return (rc);
	while (n < cap && v->hdr_pos < 8)
		out[n++] = v->hdr[v->hdr_pos++];
	if (n < cap && v->chunk_pos < v->chunk_len) {
		take = cap - n;
		if (take > v->chunk_len - v->chunk_pos)
			take = (size_t)(v->chunk_len - v->chunk_pos);
		if ((rc = section_io(d, v->chunk_off + v->chunk_pos, out + n,
		    take, 0)) < 0)
			return (vfio_err(err, errlen, rc, "%s: v1 data read: %s",
			    d->name, strerror(-rc)));
		v->chunk_pos += take;
		n += take;
	}
	if (v->hdr_pos == 8 && v->chunk_pos == v->chunk_len)
		v->staged = 0;
	return ((ssize_t)n);
}

/* A whole frame is in the section: tell the device its size. */
static int
commit_frame(struct vfio_dev *d, char *err, size_t errlen)
{
	uint64_t	len = d->v1.wlen;
	int		rc;

	rc = vfio_pwrite_all(d->fd, &len, sizeof(len),
	    d->v1.offset + VFIO_V1_OFF_DATA_SIZE);
	d->v1.whdr_pos = 0;
	if (rc < 0)
		return (vfio_err(err, errlen, rc, "%s: v1 device refused a "
		    "%llu-byte chunk: %s", d->name, (unsigned long long)len,
		    strerror(-rc)));
	return (0);
}

int
vfio_v1_write(struct vfio_dev *d, const void *buf, size_t len, char *err,
    size_t errlen)
{
	struct vfio_v1	*v = &d->v1;
	const uint8_t	*in = buf;
	uint64_t	 off;
	size_t		 take;
	int		 rc;

	if ((v->state & VFIO_V1_MASK) != VFIO_V1_RESUMING)
		return (vfio_err(err, errlen, -EINVAL, "%s: v1 device is not "
		    "resuming (%s)", d->name, vfio_v1_state_name(v->state)));
	while (len > 0) {
		if (v->whdr_pos < 8) {
			v->whdr[v->whdr_pos++] = *in++;
			len--;
			if (v->whdr_pos < 8)
				continue;
			v->wlen = le64_get(v->whdr);
			v->wpos = 0;
			if ((rc = rd_field(d, VFIO_V1_OFF_DATA_OFFSET, &off,
			    sizeof(off), "data_offset", err, errlen)) != 0)
				return (rc);
			if (v->wlen == 0 || off < VFIO_V1_INFO_SIZE ||
			    off > v->size || v->wlen > v->size - off)
				return (vfio_err(err, errlen, -EMSGSIZE, "%s: a "
				    "%llu-byte v1 chunk does not fit the data "
				    "section at %#llx of a %llu-byte region",
				    d->name, (unsigned long long)v->wlen,
				    (unsigned long long)off,
				    (unsigned long long)v->size));
			v->woff = off;
			continue;
		}
		take = len;
		if (take > v->wlen - v->wpos)
			take = (size_t)(v->wlen - v->wpos);
		if ((rc = section_io(d, v->woff + v->wpos, (void *)(uintptr_t)in,
		    take, 1)) < 0)
			return (vfio_err(err, errlen, rc, "%s: v1 data write: %s",
			    d->name, strerror(-rc)));
		v->wpos += take;
		in += take;
		len -= take;
		if (v->wpos == v->wlen && (rc = commit_frame(d, err,
		    errlen)) != 0)
			return (rc);
	}
	return (0);
}

int
vfio_v1_write_done(struct vfio_dev *d, char *err, size_t errlen)
{
	if (d->v1.whdr_pos != 0)
		return (vfio_err(err, errlen, -EINVAL, "%s: the v1 stream ended "
		    "inside a chunk (%llu of %llu bytes)", d->name,
		    (unsigned long long)d->v1.wpos,
		    (unsigned long long)d->v1.wlen));
	return (0);
}
