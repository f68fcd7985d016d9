/*
 * vfsim_mig.c: the simulated device's migration: the v2 state machine
 * and its data files, the v1 region, and the device state stream both
 * carry.
 *
 * v2 follows drivers/vfio/vfio_main.c (vfio_mig_get_next_state: the next
 * step table, unsupported states skipped, ERROR refused) and the driver
 * pattern of samples/vfio-mdev/mtty.c (one arc at a time, the state moves
 * after each arc that succeeded; a data file for the arcs into the
 * saving group and into RESUMING; reads in PRE_COPY end with -ENOMSG
 * while nothing is pending, STOP_COPY ends with 0; a disabled file reads
 * -ENODEV; PRECOPY_INFO only in PRE_COPY states).
 *
 * The stream is records (le32 magic "VFSR", le32 type, le64 length,
 * payload): HEADER, DEVMEM chunks (device memory: all of it first, then
 * the chunks the device changed), CTX (test/sim's device context image:
 * queues, filters, the DMA workload's state) and END. Device memory
 * changes while the device runs, so pre-copy has real dirty_bytes.
 */
#include "config.h"

#include <sys/mman.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <xxhash.h>

#include "log.h"
#include "util.h"
#include "vfio_compat.h"
#include "vfsim.h"

#define OFFSETOFEND(t, m)	(offsetof(t, m) + sizeof(((t *)0)->m))

#define REC_MAGIC	0x52534656u	/* "VFSR" */
#define REC_HDR		16
#define REC_HEADER	1
#define REC_DEVMEM	2
#define REC_CTX		3
#define REC_END		4
#define HEADER_LEN	24		/* version, reserved, devmem, chunk */
#define CHUNK_REC	(REC_HDR + 8 + VFS_CHUNK)

enum {
	S_ERR = VFIO_DEVICE_STATE_ERROR,
	S_STOP = VFIO_DEVICE_STATE_STOP,
	S_RUN = VFIO_DEVICE_STATE_RUNNING,
	S_SCOPY = VFIO_DEVICE_STATE_STOP_COPY,
	S_RES = VFIO_DEVICE_STATE_RESUMING,
	S_RP2P = VFIO_DEVICE_STATE_RUNNING_P2P,
	S_PRE = VFIO_DEVICE_STATE_PRE_COPY,
	S_PP2P = VFIO_DEVICE_STATE_PRE_COPY_P2P,
	NSTATES = 8,
};

static const char *const names[NSTATES] = {
	"ERROR", "STOP", "RUNNING", "STOP_COPY", "RESUMING", "RUNNING_P2P",
	"PRE_COPY", "PRE_COPY_P2P",
};

const char *
vfs_state_name(uint32_t s)
{
	return (s < NSTATES ? names[s] : "?");
}

/* ------------------------------------------------- the kernel's FSM */

/* vfio_from_fsm_table, every optional state present. */
static const uint8_t fsm[NSTATES][NSTATES] = {
	[S_STOP] =  { S_ERR, S_STOP, S_RP2P, S_SCOPY, S_RES, S_RP2P, S_RP2P, S_RP2P },
	[S_RUN] =   { S_ERR, S_RP2P, S_RUN, S_RP2P, S_RP2P, S_RP2P, S_PRE, S_RP2P },
	[S_PRE] =   { S_ERR, S_RUN, S_RUN, S_PP2P, S_RUN, S_RUN, S_PRE, S_PP2P },
	[S_PP2P] =  { S_ERR, S_RP2P, S_RP2P, S_SCOPY, S_RP2P, S_RP2P, S_PRE, S_PP2P },
	[S_SCOPY] = { S_ERR, S_STOP, S_STOP, S_SCOPY, S_STOP, S_STOP, S_ERR, S_ERR },
	[S_RES] =   { S_ERR, S_STOP, S_STOP, S_STOP, S_RES, S_STOP, S_STOP, S_STOP },
	[S_RP2P] =  { S_ERR, S_STOP, S_RUN, S_STOP, S_STOP, S_RP2P, S_RUN, S_PP2P },
	[S_ERR] =   { S_ERR, S_ERR, S_ERR, S_ERR, S_ERR, S_ERR, S_ERR, S_ERR },
};

/* state_flags_table: what a state needs of migration_flags. */
static const uint32_t needs[NSTATES] = {
	[S_ERR] = ~0U, [S_STOP] = 1, [S_RUN] = 1, [S_SCOPY] = 1, [S_RES] = 1,
	[S_RP2P] = 1 | 2, [S_PRE] = 1 | 4, [S_PP2P] = 1 | 2 | 4,
};

/* The flags the driver registered, as this kernel knows them. */
static uint32_t
eff_flags(const struct vdev *d)
{
	return (d->mig_flags & (vfs_kernel(6, 2) ? 7u : 3u));
}

static int
next_state(uint32_t flags, uint32_t cur, uint32_t target, uint32_t *next)
{
	if (cur >= NSTATES || (needs[cur] & flags) != needs[cur])
		return (-EINVAL);
	if (target >= NSTATES || (needs[target] & flags) != needs[target])
		return (-EINVAL);
	/*
	 * The ERROR test in the loop is the 2026 fix ("Terminate the skip
	 * loop on the ERROR sentinel", Cc stable): before it, a blocked arc
	 * (STOP_COPY -> PRE_COPY*) on a PRE_COPY device spun forever in the
	 * kernel. The layer never asks for one (vfio_mig.c refuses it).
	 */
	*next = fsm[cur][target];
	while (*next != S_ERR && (needs[*next] & flags) != needs[*next])
		*next = fsm[*next][target];
	return (*next != S_ERR ? 0 : -EINVAL);
}

/* ------------------------------------------------------ the stream */

static void
q_put(struct vdata *dt, const void *p, size_t n)
{
	if (dt->qlen + n > dt->qcap) {
		/* Drop what was read before growing. */
		if (dt->pos > 0) {
			memmove(dt->q, dt->q + dt->pos, dt->qlen - dt->pos);
			dt->qlen -= dt->pos;
			dt->pos = 0;
		}
		if (dt->qlen + n > dt->qcap) {
			dt->qcap = (dt->qlen + n) * 2;
			dt->q = xrealloc(dt->q, dt->qcap);
		}
	}
	memcpy(dt->q + dt->qlen, p, n);
	dt->qlen += n;
}

static void
rec_put(struct vdata *dt, uint32_t type, const void *a, size_t alen,
    const void *b, size_t blen)
{
	uint8_t	h[REC_HDR];

	put_le32(h, REC_MAGIC);
	put_le32(h + 4, type);
	put_le64(h + 8, alen + blen);
	q_put(dt, h, sizeof(h));
	if (alen > 0)
		q_put(dt, a, alen);
	if (blen > 0)
		q_put(dt, b, blen);
}

static void
put_header(struct vdata *dt, struct vdev *d)
{
	uint8_t	h[HEADER_LEN];

	put_le32(h, 1);
	put_le32(h + 4, 0);
	put_le64(h + 8, d->devmem_len);
	put_le64(h + 16, VFS_CHUNK);
	rec_put(dt, REC_HEADER, h, sizeof(h), NULL, 0);
}

static void
put_chunk(struct vdata *dt, struct vdev *d, size_t i)
{
	uint8_t	off[8];

	put_le64(off, (uint64_t)i * VFS_CHUNK);
	rec_put(dt, REC_DEVMEM, off, 8, d->devmem + i * VFS_CHUNK, VFS_CHUNK);
	d->chunk_dirty[i] = 0;
}

static size_t
nchunks(const struct vdev *d)
{
	return (d->devmem_len / VFS_CHUNK);
}

static size_t
dirty_chunks(const struct vdev *d)
{
	size_t	i, n = 0;

	for (i = 0; i < nchunks(d); i++)
		n += d->chunk_dirty[i] != 0;
	return (n);
}

static void
put_dirty(struct vdata *dt, struct vdev *d)
{
	size_t	i;

	for (i = 0; i < nchunks(d); i++) {
		if (d->chunk_dirty[i])
			put_chunk(dt, d, i);
	}
}

static size_t
ctx_len(struct vdev *d)
{
	return ((size_t)sim_vf_ctx_build(&vfs->sim, d->vf, NULL, 0));
}

/* The device stopped: what is left, its context, the end. */
static void
put_final(struct vdata *dt, struct vdev *d)
{
	uint8_t	*img;
	size_t	 n = ctx_len(d);

	put_dirty(dt, d);
	img = xmalloc(n);
	(void)sim_vf_ctx_build(&vfs->sim, d->vf, img, n);
	rec_put(dt, REC_CTX, img, n, NULL, 0);
	free(img);
	rec_put(dt, REC_END, NULL, 0, NULL, 0);
	dt->finished = 1;
}

/* A saving session: precopy (initial data only) or the whole image. */
static struct vdata *
saving_new(struct vdev *d, int precopy)
{
	struct vdata	*dt;
	size_t		 i;

	dt = xcalloc(1, sizeof(*dt));
	dt->dev = d;
	dt->saving = 1;
	dt->precopy = precopy;
	put_header(dt, d);
	for (i = 0; i < nchunks(d); i++)
		put_chunk(dt, d, i);
	if (precopy)
		dt->initial_left = dt->qlen;
	else
		put_final(dt, d);
	return (dt);
}

/* Bytes a stop-copy would still move (MIG_DATA_SIZE). */
static uint64_t
stop_copy_size(struct vdev *d)
{
	struct vdata	*dt = d->mig == VFS_MIG_V1 ? d->v1_save : d->saving;
	uint64_t	 tail = dirty_chunks(d) * CHUNK_REC + REC_HDR +
			    ctx_len(d) + REC_HDR;

	if (dt == NULL)
		return (REC_HDR + HEADER_LEN + nchunks(d) * CHUNK_REC +
		    REC_HDR + ctx_len(d) + REC_HDR);
	return (dt->qlen - dt->pos + (dt->finished ? 0 : tail));
}

void
vfs_data_free(struct vdata *dt)
{
	if (dt == NULL)
		return;
	free(dt->q);
	free(dt);
}

void
vfs_data_disable(struct vdata *dt)
{
	dt->disabled = 1;
	dt->dev = NULL;
	if (dt->file == NULL)
		vfs_data_free(dt);
}

static void
drop(struct vdata **dtp)
{
	if (*dtp != NULL)
		vfs_data_disable(*dtp);
	*dtp = NULL;
}

/* Parse and apply a resumed stream; nothing changes if it is bad. */
static int
load(struct vdev *d, const uint8_t *p, size_t len)
{
	uint8_t		*mem = NULL;
	char		 err[256] = "";
	uint64_t	 n, off;
	uint32_t	 type;
	size_t		 at = 0;
	int		 seen_hdr = 0, seen_ctx = 0, end = 0, rc = -EINVAL;

	mem = xmalloc(d->devmem_len ? d->devmem_len : 1);
	memcpy(mem, d->devmem, d->devmem_len);
	while (at < len && !end) {
		if (len - at < REC_HDR || get_le32(p + at) != REC_MAGIC) {
			snprintf(err, sizeof(err), "bad record at %zu", at);
			goto out;
		}
		type = get_le32(p + at + 4);
		n = get_le64(p + at + 8);
		at += REC_HDR;
		if (n > len - at) {
			snprintf(err, sizeof(err), "record of %llu bytes at %zu "
			    "passes the end", (unsigned long long)n, at);
			goto out;
		}
		if (!seen_hdr && type != REC_HEADER) {
			snprintf(err, sizeof(err), "no header first");
			goto out;
		}
		switch (type) {
		case REC_HEADER:
			if (seen_hdr++ || n != HEADER_LEN ||
			    get_le32(p + at) != 1 ||
			    get_le64(p + at + 8) != d->devmem_len ||
			    get_le64(p + at + 16) != VFS_CHUNK) {
				snprintf(err, sizeof(err), "header does not "
				    "match this device (%zu bytes of memory)",
				    d->devmem_len);
				goto out;
			}
			break;
		case REC_DEVMEM:
			off = n == 8 + VFS_CHUNK ? get_le64(p + at) : UINT64_MAX;
			if (off % VFS_CHUNK != 0 || off >= d->devmem_len) {
				snprintf(err, sizeof(err), "bad memory chunk");
				goto out;
			}
			memcpy(mem + off, p + at + 8, VFS_CHUNK);
			break;
		case REC_CTX:
			if (seen_ctx++ || sim_vf_ctx_apply(&vfs->sim, d->vf,
			    p + at, (size_t)n, err, sizeof(err)) != 0)
				goto out;
			break;
		case REC_END:
			end = 1;
			break;
		default:
			snprintf(err, sizeof(err), "record type %u", type);
			goto out;
		}
		at += (size_t)n;
	}
	if (!end || !seen_ctx || at != len) {
		snprintf(err, sizeof(err), "stream incomplete (%zu bytes, %s)",
		    len, !seen_ctx ? "no context" : "no end");
		goto out;
	}
	memcpy(d->devmem, mem, d->devmem_len);
	rc = 0;
out:
	if (rc != 0)
		log_warnx("%s: %s: refused the resumed state: %s", __func__,
		    d->bdf, err);
	free(mem);
	return (rc);
}

/* ------------------------------------------------------- v2 arcs */

/* One arc; *out a new data file for the arcs that open one. */
static int
step(struct vdev *d, uint32_t next, struct vdata **out)
{
	uint32_t	cur = d->state;

	*out = NULL;
	if (cur == S_RES && next == S_STOP) {
		if (d->resuming == NULL || load(d, d->resuming->q,
		    d->resuming->qlen) != 0)
			return (-EINVAL);
		drop(&d->resuming);
	} else if ((cur == S_PRE && next == S_RUN) ||
	    (cur == S_PP2P && next == S_RP2P) ||
	    (cur == S_SCOPY && next == S_STOP)) {
		drop(&d->saving);
	} else if ((cur == S_RUN && next == S_PRE) ||
	    (cur == S_RP2P && next == S_PP2P)) {
		d->saving = saving_new(d, 1);
		*out = d->saving;
	} else if (cur == S_STOP && next == S_SCOPY) {
		d->saving = saving_new(d, 0);
		*out = d->saving;
	} else if ((cur == S_PRE || cur == S_PP2P) && next == S_SCOPY) {
		/* The device stops here: the rest goes in now. */
		if (d->saving != NULL)
			put_final(d->saving, d);
	} else if (cur == S_STOP && next == S_RES) {
		d->resuming = xcalloc(1, sizeof(*d->resuming));
		d->resuming->dev = d;
		*out = d->resuming;
	}
	/* Everything else only starts or stops DMA (sync_mode below). */
	return (0);
}

static long
set_state(struct vdev *d, uint32_t target, struct vdata **file)
{
	struct vfs_fault	*ft;
	char			 op[48];
	uint32_t		 next;
	int			 rc;

	*file = NULL;
	while (d->state != target) {
		if ((rc = next_state(eff_flags(d), d->state, target,
		    &next)) != 0)
			return (rc);
		snprintf(op, sizeof(op), "arc:%s>%s", names[d->state],
		    names[next]);
		if ((ft = vfs_fault_hit(op, d->id, VFS_FAULT_FAIL)) != NULL ||
		    (ft = vfs_fault_hit("arc", d->id, VFS_FAULT_FAIL)) != NULL) {
			log_info("%s: %s: %s fails (fault)", __func__, d->bdf,
			    op);
			if (ft->error_state) {
				drop(&d->saving);
				drop(&d->resuming);
				d->state = S_ERR;
				vfs_dev_sync_mode(d);
			}
			return (-ft->err);
		}
		if ((rc = step(d, next, file)) != 0)
			return (rc);
		log_info("%s: %s: %s -> %s", __func__, d->bdf,
		    names[d->state], names[next]);
		d->state = next;
		vfs_dev_sync_mode(d);
		if (*file != NULL && next != target)
			return (-EINVAL);	/* cannot happen (WARN_ON) */
	}
	return (0);
}

void
vfs_mig_reset(struct vdev *d)
{
	drop(&d->saving);
	drop(&d->resuming);
	drop(&d->v1_save);
	free(d->v1_rbuf);
	d->v1_rbuf = NULL;
	d->v1_rlen = 0;
	d->v1_staged = 0;
	d->state = S_RUN;
	d->v1_state = 1;
}

/* vfio_check_feature */
int
vfs_check_feature(uint32_t flags, uint64_t argsz, uint32_t supported,
    uint64_t minsz)
{
	if ((flags & (VFIO_DEVICE_FEATURE_GET | VFIO_DEVICE_FEATURE_SET)) &
	    ~supported)
		return (-EINVAL);
	if (flags & VFIO_DEVICE_FEATURE_PROBE)
		return (0);
	if (!(flags & (VFIO_DEVICE_FEATURE_GET | VFIO_DEVICE_FEATURE_SET)))
		return (-EINVAL);
	if (argsz < minsz)
		return (-EINVAL);
	return (1);
}

static long
feature_state(struct vfs_file *f, struct vdev *d, uint32_t flags,
    uint64_t data, uint64_t len)
{
	struct vfio_device_feature_mig_state	 ms;
	struct vdata				*file = NULL;
	struct vfs_file				*nf;
	long					 rc, fd;

	rc = vfs_check_feature(flags, len, VFIO_DEVICE_FEATURE_GET |
	    VFIO_DEVICE_FEATURE_SET, sizeof(ms));
	if (rc != 1)
		return (rc);
	if ((rc = vfs_copy_from(f, data, &ms, sizeof(ms))) != 0)
		return (rc);
	if (flags & VFIO_DEVICE_FEATURE_GET) {
		ms.device_state = d->state;
		ms.data_fd = -1;
		return (vfs_copy_to(f, data, &ms, sizeof(ms)));
	}
	rc = set_state(d, ms.device_state, &file);
	if (rc == 0 && file != NULL) {
		/* vfio_ioct_mig_return_fd: the fd, then the struct. */
		if ((fd = vfs_install(f, VFS_K_DATA, file, &nf)) < 0)
			return (fd);
		file->file = nf;
		ms.data_fd = (int32_t)fd;
		if (vfs_copy_to(f, data, &ms, sizeof(ms)) != 0) {
			vfs_uninstall(f, (int)fd);
			return (-EFAULT);
		}
		return (0);
	}
	ms.data_fd = -1;
	if (vfs_copy_to(f, data, &ms, sizeof(ms)) != 0)
		return (-EFAULT);
	return (rc);
}

long
vfs_mig_feature(struct vfs_file *f, struct vdev *d, uint32_t flags,
    uint64_t data, uint64_t len)
{
	struct vfio_device_feature_migration	m;
	uint64_t				sz;
	long					rc;

	/* No mig_ops: -ENOTTY (and no v2 core before 5.18). */
	if (d->mig != VFS_MIG_V2 || !vfs_kernel(5, 18))
		return (-ENOTTY);
	switch (flags & VFIO_DEVICE_FEATURE_MASK) {
	case VFIO_DEVICE_FEATURE_MIGRATION:
		rc = vfs_check_feature(flags, len, VFIO_DEVICE_FEATURE_GET,
		    sizeof(m));
		if (rc != 1)
			return (rc);
		m.flags = eff_flags(d);
		return (vfs_copy_to(f, data, &m, sizeof(m)));
	case VFIO_DEVICE_FEATURE_MIG_DEVICE_STATE:
		return (feature_state(f, d, flags, data, len));
	default:	/* MIG_DATA_SIZE */
		if (!vfs_kernel(6, 2))
			return (-ENOTTY);
		rc = vfs_check_feature(flags, len, VFIO_DEVICE_FEATURE_GET,
		    sizeof(sz));
		if (rc != 1)
			return (rc);
		sz = stop_copy_size(d);
		return (vfs_copy_to(f, data, &sz, sizeof(sz)));
	}
}

/* ------------------------------------------------------ data files */

static int
in_precopy(const struct vdev *d)
{
	return (d->state == S_PRE || d->state == S_PP2P);
}

long
vfs_data_read(struct vfs_file *f, struct vdata *dt, uint64_t buf,
    uint64_t count)
{
	struct vfs_fault	*ft;
	struct vdev		*d = dt->dev;
	size_t			 n;
	int			 rc;

	if (!dt->saving)
		return (-EINVAL);	/* the resume file has no read */
	if (dt->disabled || d == NULL)
		return (-ENODEV);
	if ((ft = vfs_fault_hit("data_read", d->id, VFS_FAULT_FAIL)) != NULL)
		return (-ft->err);
	if ((ft = vfs_fault_hit("data_read", d->id, VFS_FAULT_SHORT)) != NULL &&
	    count > ft->max)
		count = ft->max;
	if (dt->qlen == dt->pos) {
		if (in_precopy(d) && dirty_chunks(d) > 0)
			put_dirty(dt, d);
		else if (in_precopy(d))
			return (-ENOMSG);	/* a temporary end */
		else
			return (0);		/* STOP_COPY: the end */
	}
	n = dt->qlen - dt->pos;
	if (n > count)
		n = (size_t)count;
	if ((rc = vfs_copy_to(f, buf, dt->q + dt->pos, n)) != 0)
		return (rc);
	dt->pos += n;
	dt->initial_left -= n < dt->initial_left ? n : dt->initial_left;
	return ((long)n);
}

long
vfs_data_write(struct vfs_file *f, struct vdata *dt, uint64_t buf,
    uint64_t count)
{
	struct vfs_fault	*ft;
	struct vdev		*d = dt->dev;
	uint8_t			*p;
	size_t			 limit;
	int			 rc;

	if (dt->saving)
		return (-EINVAL);
	if (dt->disabled || d == NULL)
		return (-ENODEV);
	if ((ft = vfs_fault_hit("data_write", d->id, VFS_FAULT_FAIL)) != NULL)
		return (-ft->err);
	/* Pre-copy may resend chunks many times; a bound all the same. */
	limit = 16 * (REC_HDR + HEADER_LEN + nchunks(d) * CHUNK_REC) +
	    (64u << 20);
	if (count > limit || dt->qlen + count > limit)
		return (-ENOMEM);	/* mtty: more than a state can be */
	p = xmalloc(count ? count : 1);
	if ((rc = vfs_copy_from(f, buf, p, count)) != 0) {
		free(p);
		return (rc);
	}
	q_put(dt, p, count);
	free(p);
	/* Like mtty, check the header as soon as it is there. */
	if (dt->qlen >= 4 && get_le32(dt->q) != REC_MAGIC) {
		dt->qlen -= count;
		return (-EINVAL);
	}
	return ((long)count);
}

long
vfs_data_ioctl(struct vfs_file *f, struct vdata *dt, uint64_t cmd,
    uint64_t arg)
{
	struct vfio_precopy_info	 pi;
	struct vdev			*d = dt->dev;
	size_t				 minsz = OFFSETOFEND(struct
					    vfio_precopy_info, dirty_bytes);
	uint64_t			 avail;
	int				 rc;

	if (cmd != VFIO_MIG_GET_PRECOPY_INFO || !dt->saving ||
	    !vfs_kernel(6, 2))
		return (-ENOTTY);
	if ((rc = vfs_copy_from(f, arg, &pi, minsz)) != 0)
		return (rc);
	if (pi.argsz < minsz)
		return (-EINVAL);
	if (d == NULL || !in_precopy(d))
		return (dt->disabled ? -ENODEV : -EINVAL);
	if (dt->disabled)
		return (-ENODEV);
	if (vfs_fault_hit("precopy_info", d->id, VFS_FAULT_FAIL) != NULL)
		return (-EIO);
	avail = dt->qlen - dt->pos;
	pi.flags = 0;
	pi.initial_bytes = dt->initial_left;
	pi.dirty_bytes = avail - dt->initial_left + dirty_chunks(d) *
	    CHUNK_REC;
	return (vfs_copy_to(f, arg, &pi, minsz));
}

/* -------------------------------------------------------- v1 region */

int
vfs_v1_setup(struct vdev *d)
{
	if ((d->v1_memfd = memfd_create("vfsim-v1", MFD_CLOEXEC)) == -1 ||
	    ftruncate(d->v1_memfd, (off_t)d->v1_section) == -1)
		return (-1);
	d->v1_mem = mmap(NULL, d->v1_section, PROT_READ | PROT_WRITE,
	    MAP_SHARED, d->v1_memfd, 0);
	return (d->v1_mem == MAP_FAILED ? -1 : 0);
}

/* Which v1 moves the vendor driver accepts (QEMU's v1 usage). */
static const uint8_t v1_ok[5][5] = {
	/* to:	 000 001 010 011 100 */
	[0] = { 1, 1, 1, 0, 1 },
	[1] = { 1, 1, 1, 1, 1 },
	[2] = { 1, 1, 1, 0, 0 },
	[3] = { 1, 1, 1, 1, 0 },
	[4] = { 1, 1, 0, 0, 1 },
};

static long
v1_set(struct vdev *d, uint32_t val)
{
	struct vfs_fault	*ft;
	uint32_t		 cur = d->v1_state & 7, nw = val & 7;

	if ((ft = vfs_fault_hit("v1_state", d->id, VFS_FAULT_FAIL)) != NULL) {
		if (ft->error_state) {
			d->v1_state = (d->v1_state & ~7u) | 6;
			drop(&d->v1_save);
			vfs_dev_sync_mode(d);
		}
		return (-ft->err);
	}
	/* ERROR (110) needs a reset; 101, 111 and 110 cannot be asked. */
	if (cur > 4 || nw > 4 || !v1_ok[cur][nw])
		return (-EINVAL);
	if (nw == 3 && cur == 1)
		d->v1_save = saving_new(d, 1);
	else if (nw == 2 && cur == 3 && d->v1_save != NULL)
		put_final(d->v1_save, d);
	else if (nw == 2 && cur != 2) {
		drop(&d->v1_save);
		d->v1_save = saving_new(d, 0);
	} else if ((nw == 0 || nw == 1) && (cur == 2 || cur == 3))
		drop(&d->v1_save);
	else if (nw == 4 && cur != 4) {
		free(d->v1_rbuf);
		d->v1_rbuf = NULL;
		d->v1_rlen = 0;
	} else if (cur == 4 && nw != 4) {
		if (load(d, d->v1_rbuf, d->v1_rlen) != 0) {
			d->v1_state = (d->v1_state & ~7u) | 6;	/* error */
			vfs_dev_sync_mode(d);
			return (-EINVAL);
		}
		free(d->v1_rbuf);
		d->v1_rbuf = NULL;
		d->v1_rlen = 0;
	}
	log_info("%s: %s: v1 %u -> %u", __func__, d->bdf, cur, nw);
	d->v1_staged = 0;
	d->v1_state = val;
	vfs_dev_sync_mode(d);
	return (0);
}

static uint64_t
v1_pending(struct vdev *d)
{
	struct vdata	*dt = d->v1_save;

	if (dt == NULL)
		return (0);
	return (dt->qlen - dt->pos + (dt->finished ? 0 :
	    dirty_chunks(d) * CHUNK_REC));
}

/* data_offset read while saving: stage the next chunk. */
static void
v1_stage(struct vdev *d)
{
	struct vdata	*dt = d->v1_save;
	size_t		 n;

	d->v1_staged = 0;
	if (dt == NULL)
		return;
	if (dt->qlen == dt->pos && !dt->finished)
		put_dirty(dt, d);
	n = dt->qlen - dt->pos;
	if (n > d->v1_section)
		n = d->v1_section;
	memcpy(d->v1_mem, dt->q + dt->pos, n);
	dt->pos += n;
	d->v1_staged = n;
}

static long
v1_field(struct vfs_file *f, struct vdev *d, int wr, uint64_t buf,
    uint64_t count, uint64_t off)
{
	uint64_t	v = 0;
	uint32_t	s = d->v1_state & 7, v32;
	int		rc;

	/* Native width and alignment only. */
	if (!((off == 0 || off == 4) && count == 4) &&
	    !((off == 8 || off == 16 || off == 24) && count == 8))
		return (-EINVAL);
	if (wr && (rc = vfs_copy_from(f, buf, &v, count)) != 0)
		return (rc);
	switch (off) {
	case 0:
		if (wr) {
			memcpy(&v32, &v, 4);
			rc = (int)v1_set(d, v32);
			return (rc != 0 ? rc : 4);
		}
		v32 = d->v1_state;
		return ((rc = vfs_copy_to(f, buf, &v32, 4)) != 0 ? rc : 4);
	case 4:
		if (wr)
			return (-EINVAL);
		v32 = 0;
		return ((rc = vfs_copy_to(f, buf, &v32, 4)) != 0 ? rc : 4);
	case 8:			/* pending_bytes, read only */
		if (wr || !(s & 2) || s == 6)
			return (-EINVAL);
		v = v1_pending(d);
		break;
	case 16:		/* data_offset, read only */
		if (wr || (!(s & 2) && s != 4) || s == 6)
			return (-EINVAL);
		if (s & 2)
			v1_stage(d);
		v = VFS_V1_SECTION_OFF;
		break;
	default:		/* data_size */
		if (s == 6)
			return (-EINVAL);
		if (!wr) {
			v = (s & 2) ? d->v1_staged : 0;
			break;
		}
		if (s != 4 || v > d->v1_section ||
		    d->v1_rlen + v > 16 * (nchunks(d) * CHUNK_REC) + (64 << 20))
			return (-EINVAL);
		d->v1_rbuf = xrealloc(d->v1_rbuf, d->v1_rlen + v + 1);
		memcpy(d->v1_rbuf + d->v1_rlen, d->v1_mem, v);
		d->v1_rlen += v;
		return (8);
	}
	return ((rc = vfs_copy_to(f, buf, &v, 8)) != 0 ? rc : 8);
}

long
vfs_v1_rw(struct vfs_file *f, struct vdev *d, int wr, uint64_t buf,
    uint64_t count, uint64_t off)
{
	uint64_t	so;
	int		rc;

	if (off < VFIO_V1_INFO_SIZE)
		return (v1_field(f, d, wr, buf, count, off));
	if (off < VFS_V1_SECTION_OFF || count == 0 ||
	    off - VFS_V1_SECTION_OFF >= d->v1_section)
		return (-EINVAL);
	so = off - VFS_V1_SECTION_OFF;
	if (count > d->v1_section - so)
		count = d->v1_section - so;
	rc = wr ? vfs_copy_from(f, buf, d->v1_mem + so, count) :
	    vfs_copy_to(f, buf, d->v1_mem + so, count);
	return (rc != 0 ? rc : (long)count);
}

/* ------------------------------------------------- device memory */

/* The device's own state changes with what it does. */
void
vfs_devmem_touch(struct vdev *d, uint64_t before)
{
	uint64_t	w, h, n = nchunks(d), off;

	if (n == 0)
		return;
	for (w = before; w < d->vf->st.dma.writes && w - before < 4096;
	    w++) {
		h = XXH3_64bits_withSeed(&w, sizeof(w), d->vf->st.dma.seed);
		off = (h % n) * VFS_CHUNK + ((h >> 32) % (VFS_CHUNK / 8)) * 8;
		memcpy(d->devmem + off, &h, 8);
		d->chunk_dirty[off / VFS_CHUNK] = 1;
	}
}

uint64_t
vfs_dev_digest(struct vdev *d)
{
	XXH3_state_t	*st = XXH3_createState();
	uint8_t		*img;
	size_t		 n = ctx_len(d);
	uint64_t	 h;

	img = xmalloc(n);
	(void)sim_vf_ctx_build(&vfs->sim, d->vf, img, n);
	XXH3_64bits_reset(st);
	XXH3_64bits_update(st, img, n);
	XXH3_64bits_update(st, d->devmem, d->devmem_len);
	h = XXH3_64bits_digest(st);
	XXH3_freeState(st);
	free(img);
	return (h);
}
