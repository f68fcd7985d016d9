/*
 * vfsim_iommu.c: the IOMMU side of the simulated kernel and the DMA path.
 *
 *   - address spaces: DMA mappings of the caller's memory. The kernel pins
 *     the caller's pages; we open the file behind them (/proc/PID/maps and
 *     map_files), so the simulated VF writes the very memory file the VM
 *     uses. Only shared file-backed memory can be mapped here.
 *   - the type1 container (vfio_iommu_type1.c): GET_INFO with its
 *     capability chain, MAP_DMA, UNMAP_DMA, DIRTY_PAGES with the rule
 *     that every mapped page is dirty while an IOMMU-backed device that
 *     does not pin pages is in the container (update_user_bitmap).
 *   - iommufd (drivers/iommu/iommufd): the ioctl size rules, IOAS, HWPT
 *     (with or without dirty tracking), GET_HW_INFO, SET_DIRTY_TRACKING,
 *     GET_DIRTY_BITMAP (iommufd_check_iova_range), device binding and
 *     attach, and the VFIO type1 compatibility ioctls, which refuse
 *     VFIO_IOMMU_DIRTY_PAGES (-ENOIOCTLCMD: user space sees ENOTTY).
 *   - device DMA logging (vfio_main.c: START/STOP/REPORT checks).
 *   - the DMA path: every write the VF makes is marked where the kernel
 *     would see it (DMA log, HWPT dirty bits, type1 for an emulated
 *     device).
 */
#include "config.h"

#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "util.h"
#include "vfio_compat.h"
#include "vfsim.h"

#define OFFSETOFEND(t, m)	(offsetof(t, m) + sizeof(((t *)0)->m))
#define PG			4096ULL
#define BITMAP_BYTES(n)		((((n) + 63) / 64) * 8)
#define DIRTY_BITMAP_SIZE_MAX	(256ULL << 20)

enum { OBJ_IOAS = 1, OBJ_HWPT, OBJ_DEV };

/* --------------------------------------------------------- page sets */

/* Pages of a set's range (a logged page may be larger than the range). */
static uint64_t
npg(const struct vps *v)
{
	return ((v->len + v->ps - 1) / v->ps);
}

void
vps_set_mark(struct vps_set *s, uint64_t riova, uint64_t rlen, uint64_t ps,
    uint64_t iova, uint64_t len)
{
	struct vps	*v = NULL;
	uint64_t	 a, b, i;
	unsigned int	 k;

	for (k = 0; k < s->n; k++) {
		if (s->v[k].iova == riova && s->v[k].len == rlen &&
		    s->v[k].ps == ps)
			v = &s->v[k];
	}
	if (v == NULL) {
		s->v = xreallocarray(s->v, s->n + 1, sizeof(*s->v));
		v = &s->v[s->n++];
		v->iova = riova;
		v->len = rlen;
		v->ps = ps;
		v->bits = xcalloc(npg(v) / 64 + 1, sizeof(uint64_t));
	}
	a = MAX(iova, riova);
	b = MIN(iova + len, riova + rlen);
	if (a >= b)
		return;
	for (i = (a - riova) / ps; i <= (b - 1 - riova) / ps; i++)
		v->bits[i / 64] |= 1ULL << (i % 64);
}

/*
 * OR the marked pages meeting [iova, iova + len) into words (a bitmap at
 * ps relative to iova), and clear them if asked. The kernel's iova_bitmap
 * only sets bits: so do we.
 */
static uint64_t
vps_set_report(struct vps_set *s, uint64_t iova, uint64_t len, uint64_t ps,
    uint64_t *words, int clear)
{
	struct vps	*v;
	uint64_t	 i, a, b, j, n = 0;
	unsigned int	 k;

	for (k = 0; k < s->n; k++) {
		v = &s->v[k];
		for (i = 0; i < npg(v); i++) {
			if (!(v->bits[i / 64] & (1ULL << (i % 64))))
				continue;
			a = MAX(v->iova + i * v->ps, iova);
			b = MIN(v->iova + (i + 1) * v->ps, iova + len);
			if (a >= b)
				continue;
			for (j = (a - iova) / ps; j <= (b - 1 - iova) / ps; j++)
				words[j / 64] |= 1ULL << (j % 64);
			n++;
			if (clear)
				v->bits[i / 64] &= ~(1ULL << (i % 64));
		}
	}
	return (n);
}

int
vps_set_test(const struct vps_set *s, uint64_t page, uint64_t ps)
{
	const struct vps *v;
	uint64_t	 i;
	unsigned int	 k;

	for (k = 0; k < s->n; k++) {
		v = &s->v[k];
		for (i = 0; i < npg(v); i++) {
			if ((v->bits[i / 64] & (1ULL << (i % 64))) &&
			    v->iova + i * v->ps < page + ps &&
			    page < v->iova + (i + 1) * v->ps)
				return (1);
		}
	}
	return (0);
}

void
vps_set_clear_range(struct vps_set *s, uint64_t iova, uint64_t len)
{
	struct vps	*v;
	uint64_t	 i;
	unsigned int	 k;

	for (k = 0; k < s->n; k++) {
		v = &s->v[k];
		for (i = 0; i < npg(v); i++) {
			if (v->iova + i * v->ps < iova + len &&
			    iova < v->iova + (i + 1) * v->ps)
				v->bits[i / 64] &= ~(1ULL << (i % 64));
		}
	}
}

void
vps_set_free(struct vps_set *s)
{
	unsigned int	k;

	for (k = 0; k < s->n; k++)
		free(s->v[k].bits);
	free(s->v);
	s->v = NULL;
	s->n = 0;
}

/* ---------------------------------------------------- address spaces */

/* The file and offset behind [vaddr, vaddr + len) of process pid. */
static int
resolve(pid_t pid, uint64_t vaddr, uint64_t len, int *fd, uint64_t *foff)
{
	char		 path[64], line[512], perms[8], file[300];
	unsigned long long start, end, off, ino;
	struct stat	 st;
	FILE		*fp;
	int		 found = 0, n;

	snprintf(path, sizeof(path), "/proc/%d/maps", (int)pid);
	if ((fp = fopen(path, "re")) == NULL)
		return (-EFAULT);
	while (fgets(line, sizeof(line), fp) != NULL) {
		file[0] = '\0';
		n = sscanf(line, "%llx-%llx %7s %llx %*s %llu %299[^\n]",
		    &start, &end, perms, &off, &ino, file);
		if (n < 5 || vaddr < start || vaddr + len > end)
			continue;
		found = 1;
		break;
	}
	fclose(fp);
	if (!found || ino == 0 || perms[3] != 's') {
		log_warnx("%s: pid %d %#llx+%#llx: not inside one shared file "
		    "mapping (the simulator can only DMA into those)", __func__,
		    (int)pid, (unsigned long long)vaddr,
		    (unsigned long long)len);
		return (-EFAULT);
	}
	snprintf(path, sizeof(path), "/proc/%d/map_files/%llx-%llx", (int)pid,
	    start, end);
	if ((*fd = open(path, O_RDWR | O_CLOEXEC)) == -1) {
		/* No map_files (no CAP_SYS_ADMIN): the path, if the same. */
		while (file[0] == ' ')
			memmove(file, file + 1, strlen(file));
		if ((*fd = open(file, O_RDWR | O_CLOEXEC)) == -1 ||
		    fstat(*fd, &st) == -1 || (uint64_t)st.st_ino != ino) {
			if (*fd != -1)
				close(*fd);
			return (-EFAULT);
		}
	}
	*foff = off + (vaddr - start);
	return (0);
}

static struct vmap *
as_find(struct vas *as, uint64_t iova)
{
	struct vmap	*m;

	TAILQ_FOREACH(m, &as->maps, entry) {
		if (iova >= m->iova && iova - m->iova < m->size)
			return (m);
	}
	return (NULL);
}

static int
as_overlaps(struct vas *as, uint64_t iova, uint64_t size)
{
	struct vmap	*m;

	TAILQ_FOREACH(m, &as->maps, entry) {
		if (iova < m->iova + m->size && m->iova < iova + size)
			return (1);
	}
	return (0);
}

const struct vas *
vfs_dev_as(const struct vdev *d)
{
	struct vctx	*x;

	if (d->hwpt != NULL)
		return (&d->hwpt->ioas->as);
	if (d->group_opens > 0 && d->group->cont != NULL &&
	    d->group->cont->iommu != 0)
		return (&d->group->cont->as);
	if (d->group_opens > 0 && (x = d->group->ctx) != NULL &&
	    x->compat_ioas != NULL)
		return (&x->compat_ioas->as);
	return (NULL);
}

/* The VF writes into the first mapping of its address space. */
void
vfs_dev_update_mem(struct vdev *d)
{
	const struct vas	*as = vfs_dev_as(d);
	struct vmap		*m = as != NULL ? TAILQ_FIRST(&as->maps) : NULL;
	char			 err[256];

	if (d->virtio != NULL) {
		/* A PF's function runs no VF workload: its memory is rings. */
		vfs_virtio_as_changed(d);
		return;
	}
	if (m == NULL) {
		sim_vf_detach(d->vf);
		return;
	}
	if (d->vf->mem.p != NULL && d->vf->mem.iova == m->iova &&
	    d->vf->mem.size == m->size && strcmp(d->vf->mem.path,
	    m->path) == 0)
		return;
	if (sim_vf_attach(d->vf, m->path, m->size, m->iova, m->foff, err,
	    sizeof(err)) != 0)
		log_warnx("%s: %s: %s", __func__, d->bdf, err);
}

static void
as_changed(const struct vas *as)
{
	unsigned int	i;

	for (i = 0; i < vfs->ndevs; i++) {
		if (vfs_dev_as(&vfs->devs[i]) == as ||
		    vfs->devs[i].vf->mem.p != NULL)
			vfs_dev_update_mem(&vfs->devs[i]);
	}
}

static long
as_map(struct vfs_file *f, struct vas *as, uint64_t vaddr, uint64_t iova,
    uint64_t size)
{
	struct vmap	*m, *at;
	int		 rc;

	if (as_overlaps(as, iova, size))
		return (-EEXIST);
	m = xcalloc(1, sizeof(*m));
	if ((rc = resolve(f->pid, vaddr, size, &m->fd, &m->foff)) != 0) {
		free(m);
		return (rc);
	}
	m->iova = iova;
	m->size = size;
	m->vaddr = vaddr;
	snprintf(m->path, sizeof(m->path), "/proc/self/fd/%d", m->fd);
	TAILQ_FOREACH(at, &as->maps, entry) {
		if (at->iova > iova)
			break;
	}
	if (at != NULL)
		TAILQ_INSERT_BEFORE(at, m, entry);
	else
		TAILQ_INSERT_TAIL(&as->maps, m, entry);
	log_info("%s: iova %#llx+%#llx <- pid %d %#llx", __func__,
	    (unsigned long long)iova, (unsigned long long)size, (int)f->pid,
	    (unsigned long long)vaddr);
	as_changed(as);
	return (0);
}

static void
map_free(struct vas *as, struct vmap *m)
{
	TAILQ_REMOVE(&as->maps, m, entry);
	close(m->fd);
	free(m);
}

/* Unmap whole mappings inside [iova, iova + size): bytes, or -EINVAL if
 * a mapping would be split. */
static long
as_unmap(struct vas *as, uint64_t iova, uint64_t size, uint64_t *done)
{
	struct vmap	*m, *t;

	*done = 0;
	TAILQ_FOREACH(m, &as->maps, entry) {
		if (m->iova < iova + size && iova < m->iova + m->size &&
		    (m->iova < iova || m->iova + m->size > iova + size))
			return (-EINVAL);
	}
	TAILQ_FOREACH_SAFE(m, &as->maps, entry, t) {
		if (m->iova >= iova && m->iova + m->size <= iova + size) {
			*done += m->size;
			map_free(as, m);
		}
	}
	as_changed(as);
	return (0);
}

void
vfs_as_free(struct vas *as)
{
	while (!TAILQ_EMPTY(&as->maps))
		map_free(as, TAILQ_FIRST(&as->maps));
}

/* ------------------------------------------------------- DMA path */

void
vfs_dma_written(struct vdev *d, uint64_t iova, uint64_t len)
{
	struct vcont	*c = d->group->cont;
	struct vmap	*m;
	const struct vas *as;
	unsigned int	 i;

	if (d->log_on) {
		for (i = 0; i < d->log_n; i++)
			vps_set_mark(&d->log, d->log_iova[i], d->log_len[i],
			    d->log_ps, iova, len);
	}
	if ((as = vfs_dev_as(d)) == NULL ||
	    (m = as_find((struct vas *)(uintptr_t)as, iova)) == NULL)
		return;
	/* An emulated device writes through vfio_dma_rw: type1 sees it. */
	if (c != NULL && as == &c->as && c->dirty_on && d->emulated)
		vps_set_mark(&c->dirty, m->iova, m->size, PG, iova, len);
	/* The IOMMU sets the IOPTE dirty bit while tracking is on. */
	if (d->hwpt != NULL && d->hwpt->tracking)
		vps_set_mark(&d->hwpt->dirty, m->iova, m->size, PG, iova, len);
}

/* ----------------------------------------------------------- type1 */

struct vcont *
vfs_cont_new(struct vfs_file *f)
{
	struct vcont	*c = xcalloc(1, sizeof(*c));

	c->file = f;
	c->refs = 1;
	TAILQ_INIT(&c->as.maps);
	return (c);
}

void
vfs_cont_put(struct vcont *c)
{
	if (--c->refs > 0)
		return;
	vfs_as_free(&c->as);
	vps_set_free(&c->dirty);
	free(c);
}

static void
put_cap_hdr(uint8_t *cap, uint16_t id)
{
	uint32_t	u = id | (1u << 16);	/* version 1 */

	memcpy(cap, &u, 4);
}

/* Build a GET_INFO answer: the fixed part and the caps (compat: no
 * migration capability). */
static long
info_reply(struct vfs_file *f, uint64_t arg, int migration)
{
	struct vfio_iommu_type1_info	info;
	uint8_t				caps[96], cap[32];
	size_t				minsz = OFFSETOFEND(struct
					    vfio_iommu_type1_info, iova_pgsizes);
	size_t				capsz = OFFSETOFEND(struct
					    vfio_iommu_type1_info, cap_offset);
	size_t				clen = 0;
	uint32_t			u;
	uint64_t			v;
	int				rc;

	if ((rc = vfs_copy_from(f, arg, &info, minsz)) != 0)
		return (rc);
	if (info.argsz < minsz)
		return (-EINVAL);
	info.flags = VFIO_IOMMU_INFO_PGSIZES;
	info.iova_pgsizes = PG | (2ULL << 20) | (1ULL << 30);
	if (info.argsz >= capsz) {
		minsz = capsz;
		info.cap_offset = 0;
	}
	/* IOVA_RANGE (one range), MIGRATION (not under iommufd), DMA_AVAIL */
	memset(cap, 0, sizeof(cap));
	put_cap_hdr(cap, VFIO_IOMMU_TYPE1_INFO_CAP_IOVA_RANGE);
	u = 1;
	memcpy(cap + 8, &u, 4);
	v = VFS_IOVA_MAX;
	memcpy(cap + 24, &v, 8);
	vfs_cap_add(caps, &clen, cap, 32);
	if (migration) {
		memset(cap, 0, sizeof(cap));
		put_cap_hdr(cap, VFIO_IOMMU_TYPE1_INFO_CAP_MIGRATION);
		v = PG;
		memcpy(cap + 16, &v, 8);
		v = DIRTY_BITMAP_SIZE_MAX;
		memcpy(cap + 24, &v, 8);
		vfs_cap_add(caps, &clen, cap, 32);
	}
	memset(cap, 0, sizeof(cap));
	put_cap_hdr(cap, VFIO_IOMMU_TYPE1_INFO_DMA_AVAIL);
	u = 65535;
	memcpy(cap + 8, &u, 4);
	vfs_cap_add(caps, &clen, cap, 12);
	info.flags |= VFIO_IOMMU_INFO_CAPS;
	if (info.argsz < sizeof(info) + clen)
		info.argsz = (uint32_t)(sizeof(info) + clen);
	else if (minsz == capsz) {
		vfs_cap_shift(caps, sizeof(info));
		if ((rc = vfs_copy_to(f, arg + sizeof(info), caps,
		    clen)) != 0)
			return (rc);
		info.cap_offset = sizeof(info);
	}
	return (vfs_copy_to(f, arg, &info, minsz));
}

static long
t1_map(struct vfs_file *f, struct vas *as, uint64_t arg)
{
	struct vfio_iommu_type1_dma_map	m;
	size_t				minsz = OFFSETOFEND(struct
					    vfio_iommu_type1_dma_map, size);
	int				rc;

	if ((rc = vfs_copy_from(f, arg, &m, minsz)) != 0)
		return (rc);
	if (m.argsz < minsz || m.flags & ~(VFIO_DMA_MAP_FLAG_READ |
	    VFIO_DMA_MAP_FLAG_WRITE | VFIO_DMA_MAP_FLAG_VADDR))
		return (-EINVAL);
	if (m.flags & VFIO_DMA_MAP_FLAG_VADDR)
		return (-EOPNOTSUPP);	/* not simulated */
	if (m.size == 0 || (m.size | m.iova | m.vaddr) & (PG - 1) ||
	    m.iova + m.size - 1 < m.iova || m.iova + m.size - 1 > VFS_IOVA_MAX)
		return (-EINVAL);
	return (as_map(f, as, m.vaddr, m.iova, m.size));
}

static long
t1_unmap(struct vfs_file *f, struct vas *as, uint64_t arg)
{
	struct vfio_iommu_type1_dma_unmap u;
	size_t				minsz = OFFSETOFEND(struct
					    vfio_iommu_type1_dma_unmap, size);
	uint64_t			done;
	long				rc;

	if ((rc = vfs_copy_from(f, arg, &u, minsz)) != 0)
		return (rc);
	if (u.argsz < minsz || u.flags & ~(VFIO_DMA_UNMAP_FLAG_GET_DIRTY_BITMAP |
	    VFIO_DMA_UNMAP_FLAG_ALL | VFIO_DMA_UNMAP_FLAG_VADDR))
		return (-EINVAL);
	if (u.flags & (VFIO_DMA_UNMAP_FLAG_GET_DIRTY_BITMAP |
	    VFIO_DMA_UNMAP_FLAG_VADDR))
		return (-EOPNOTSUPP);	/* not simulated */
	if (u.flags & VFIO_DMA_UNMAP_FLAG_ALL) {
		if (u.iova != 0 || u.size != 0)
			return (-EINVAL);
		u.iova = 0;
		u.size = UINT64_MAX;
	} else if ((u.iova | u.size) & (PG - 1))
		return (-EINVAL);
	if ((rc = as_unmap(as, u.iova, u.size, &done)) != 0)
		return (rc);
	u.size = done;
	return (vfs_copy_to(f, arg, &u, minsz));
}

/* Is any device in the container behind the IOMMU (not emulated)? */
static int
iommu_mapped(const struct vcont *c)
{
	unsigned int	i;

	for (i = 0; i < vfs->ndevs; i++) {
		if (vfs->devs[i].group->cont == c && !vfs->devs[i].emulated)
			return (1);
	}
	return (0);
}

static long
t1_bitmap(struct vfs_file *f, struct vcont *c, uint64_t arg, uint32_t argsz)
{
	struct vfio_iommu_type1_dirty_bitmap_get r;
	struct vmap				*m;
	uint64_t				*w, npages, bytes, i;
	long					 rc;

	if (argsz - 8 < sizeof(r))
		return (-EINVAL);
	if ((rc = vfs_copy_from(f, arg + 8, &r, sizeof(r))) != 0)
		return (rc);
	if (r.size == 0 || r.iova + r.size - 1 < r.iova)
		return (-EINVAL);
	npages = r.size / PG;
	bytes = BITMAP_BYTES(npages);
	/* verify_bitmap_size, then the smallest page size only. */
	if (r.bitmap.size == 0 || r.bitmap.size > DIRTY_BITMAP_SIZE_MAX ||
	    r.bitmap.size < bytes)
		return (-EINVAL);
	if (r.bitmap.pgsize != PG || r.iova % PG != 0 || r.size % PG != 0)
		return (-EINVAL);
	if (!c->dirty_on)
		return (-EINVAL);
	/* The range may not bisect a mapping. */
	if (((m = as_find(&c->as, r.iova)) != NULL && m->iova != r.iova) ||
	    ((m = as_find(&c->as, r.iova + r.size - 1)) != NULL &&
	    m->iova + m->size != r.iova + r.size))
		return (-EINVAL);
	if (vfs_fault_hit("type1_bitmap", 0, VFS_FAULT_FAIL) != NULL)
		return (-EIO);
	w = xcalloc(1, bytes);
	if (iommu_mapped(c)) {
		/* update_user_bitmap: every page of every mapped dma. */
		TAILQ_FOREACH(m, &c->as.maps, entry) {
			if (m->iova < r.iova || m->iova + m->size >
			    r.iova + r.size)
				continue;
			for (i = (m->iova - r.iova) / PG;
			    i < (m->iova + m->size - r.iova) / PG; i++)
				w[i / 64] |= 1ULL << (i % 64);
		}
	}
	(void)vps_set_report(&c->dirty, r.iova, r.size, PG, w, 1);
	rc = vfs_copy_to(f, (uint64_t)(uintptr_t)r.bitmap.data, w, bytes);
	free(w);
	return (rc);
}

static long
t1_dirty(struct vfs_file *f, struct vcont *c, uint64_t arg)
{
	struct vfio_iommu_type1_dirty_bitmap	h;
	uint32_t				mask = 7;
	int					rc;

	if (c->iommu != VFIO_TYPE1v2_IOMMU)
		return (-EACCES);
	if ((rc = vfs_copy_from(f, arg, &h, sizeof(h))) != 0)
		return (rc);
	if (h.argsz < sizeof(h) || (h.flags & ~mask))
		return (-EINVAL);
	/* Exactly one of START, STOP, GET_BITMAP. */
	if (h.flags == 0 || (h.flags & (h.flags - 1)) != 0)
		return (-EINVAL);
	if (h.flags == VFIO_IOMMU_DIRTY_PAGES_FLAG_START) {
		if (!c->dirty_on)
			vps_set_free(&c->dirty);
		c->dirty_on = 1;
		return (0);
	}
	if (h.flags == VFIO_IOMMU_DIRTY_PAGES_FLAG_STOP) {
		c->dirty_on = 0;
		vps_set_free(&c->dirty);
		return (0);
	}
	return (t1_bitmap(f, c, arg, h.argsz));
}

long
vfs_type1_ioctl(struct vfs_file *f, struct vcont *c, uint64_t cmd,
    uint64_t arg)
{
	switch (cmd) {
	case VFIO_IOMMU_GET_INFO:
		return (info_reply(f, arg, 1));
	case VFIO_IOMMU_MAP_DMA:
		return (t1_map(f, &c->as, arg));
	case VFIO_IOMMU_UNMAP_DMA:
		return (t1_unmap(f, &c->as, arg));
	case VFIO_IOMMU_DIRTY_PAGES:
		return (t1_dirty(f, c, arg));
	}
	return (-ENOTTY);
}

/* --------------------------------------------------------- iommufd */

struct vctx *
vfs_ctx_new(struct vfs_file *f, int compat)
{
	struct vctx	*x = xcalloc(1, sizeof(*x));

	x->file = f;
	x->compat = compat;
	x->next_id = 1;
	x->refs = 1;
	return (x);
}

static void *
obj_get(struct vctx *x, uint32_t id, int type)
{
	unsigned int	i;

	for (i = 0; i < VCTX_MAXOBJ; i++) {
		if (x->obj[i].id == id && id != 0 &&
		    (type == 0 || x->obj[i].type == type))
			return (x->obj[i].p);
	}
	return (NULL);
}

static int
obj_type(struct vctx *x, uint32_t id)
{
	unsigned int	i;

	for (i = 0; i < VCTX_MAXOBJ; i++) {
		if (x->obj[i].id == id && id != 0)
			return (x->obj[i].type);
	}
	return (0);
}

static uint32_t
obj_add(struct vctx *x, int type, void *p)
{
	unsigned int	i;

	for (i = 0; i < VCTX_MAXOBJ; i++) {
		if (x->obj[i].id == 0) {
			x->obj[i].id = x->next_id++;
			x->obj[i].type = type;
			x->obj[i].p = p;
			return (x->obj[i].id);
		}
	}
	return (0);
}

static void
obj_del(struct vctx *x, uint32_t id)
{
	unsigned int	i;

	for (i = 0; i < VCTX_MAXOBJ; i++) {
		if (x->obj[i].id == id)
			memset(&x->obj[i], 0, sizeof(x->obj[i]));
	}
}

static struct vioas *
ioas_new(struct vctx *x)
{
	struct vioas	*a = xcalloc(1, sizeof(*a));

	TAILQ_INIT(&a->as.maps);
	if ((a->id = obj_add(x, OBJ_IOAS, a)) == 0) {
		free(a);
		return (NULL);
	}
	return (a);
}

void
vfs_ctx_put(struct vctx *x)
{
	struct vhwpt	*h;
	struct vioas	*a;
	unsigned int	 i;

	if (--x->refs > 0)
		return;
	for (i = 0; i < VCTX_MAXOBJ; i++) {
		if (x->obj[i].type == OBJ_HWPT) {
			h = x->obj[i].p;
			vps_set_free(&h->dirty);
			free(h);
		}
	}
	for (i = 0; i < VCTX_MAXOBJ; i++) {
		if (x->obj[i].type == OBJ_IOAS) {
			a = x->obj[i].p;
			vfs_as_free(&a->as);
			free(a);
		}
	}
	free(x);
}

int
vfs_ctx_bind(struct vctx *x, struct vdev *d, uint32_t *devid)
{
	if (d->ctx != NULL)
		return (-EBUSY);
	if ((d->devid = obj_add(x, OBJ_DEV, d)) == 0)
		return (-ENOSPC);
	d->ctx = x;
	x->refs++;
	*devid = d->devid;
	return (0);
}

void
vfs_ctx_unbind(struct vdev *d)
{
	struct vctx	*x = d->ctx;

	if (x == NULL)
		return;
	if (d->hwpt != NULL) {
		d->hwpt->users--;
		d->hwpt = NULL;
	}
	obj_del(x, d->devid);
	d->ctx = NULL;
	d->devid = 0;
	vfs_dev_update_mem(d);
	vfs_ctx_put(x);
}

static struct vhwpt *
hwpt_new(struct vctx *x, struct vioas *a, int dirty, int autodomain)
{
	struct vhwpt	*h = xcalloc(1, sizeof(*h));

	h->ioas = a;
	h->dirty_ops = dirty;
	h->autodomain = autodomain;
	if ((h->id = obj_add(x, OBJ_HWPT, h)) == 0) {
		free(h);
		return (NULL);
	}
	a->users++;
	return (h);
}

long
vfs_ctx_attach(struct vdev *d, uint32_t *pt_id)
{
	struct vctx	*x = d->ctx;
	struct vhwpt	*h;
	int		 t;

	if (x == NULL)
		return (-EINVAL);
	t = obj_type(x, *pt_id);
	if (t == OBJ_IOAS) {
		/* The kernel makes (or reuses) an automatic domain. */
		if ((h = hwpt_new(x, obj_get(x, *pt_id, OBJ_IOAS), 0, 1)) ==
		    NULL)
			return (-ENOSPC);
	} else if (t == OBJ_HWPT)
		h = obj_get(x, *pt_id, OBJ_HWPT);
	else
		return (t == 0 ? -ENOENT : -EINVAL);
	if (d->hwpt != NULL)
		d->hwpt->users--;	/* a replace */
	d->hwpt = h;
	h->users++;
	*pt_id = h->id;
	vfs_dev_update_mem(d);
	return (0);
}

/* One row of iommufd's ioctl table: its minimum and known sizes. */
struct iofd_op {
	unsigned int	 nr;
	uint32_t	 min;
	uint32_t	 size;
	int		 kernel;
	long		(*fn)(struct vfs_file *, struct vctx *, uint8_t *);
};

static long
io_destroy(struct vfs_file *f, struct vctx *x, uint8_t *b)
{
	struct iommu_destroy	*c = (void *)b;
	struct vhwpt		*h;
	struct vioas		*a;

	(void)f;
	switch (obj_type(x, c->id)) {
	case OBJ_IOAS:
		a = obj_get(x, c->id, OBJ_IOAS);
		if (a->users > 0 || a == x->compat_ioas)
			return (-EBUSY);
		vfs_as_free(&a->as);
		obj_del(x, c->id);
		free(a);
		return (0);
	case OBJ_HWPT:
		h = obj_get(x, c->id, OBJ_HWPT);
		if (h->users > 0)
			return (-EBUSY);
		h->ioas->users--;
		vps_set_free(&h->dirty);
		obj_del(x, c->id);
		free(h);
		return (0);
	case OBJ_DEV:
		return (-EBUSY);
	}
	return (-ENOENT);
}

static long
io_ioas_alloc(struct vfs_file *f, struct vctx *x, uint8_t *b)
{
	struct iommu_ioas_alloc	*c = (void *)b;
	struct vioas		*a;

	(void)f;
	if (c->flags != 0)
		return (-EOPNOTSUPP);
	if ((a = ioas_new(x)) == NULL)
		return (-ENOSPC);
	c->out_ioas_id = a->id;
	return (0);
}

static long
io_ioas_map(struct vfs_file *f, struct vctx *x, uint8_t *b)
{
	struct iommu_ioas_map	*c = (void *)b;
	struct vioas		*a;
	struct vmap		*m;

	if (c->flags & ~(IOMMU_IOAS_MAP_FIXED_IOVA | IOMMU_IOAS_MAP_WRITEABLE |
	    IOMMU_IOAS_MAP_READABLE) || c->__reserved != 0)
		return (-EOPNOTSUPP);
	if ((a = obj_get(x, c->ioas_id, OBJ_IOAS)) == NULL)
		return (-ENOENT);
	if (c->length == 0 || (c->user_va | c->length) & (PG - 1))
		return (-EINVAL);
	if (!(c->flags & IOMMU_IOAS_MAP_FIXED_IOVA)) {
		/* Past the highest mapping, page aligned. */
		c->iova = 1ULL << 32;
		TAILQ_FOREACH(m, &a->as.maps, entry)
			c->iova = MAX(c->iova, m->iova + m->size);
	}
	if (c->iova & (PG - 1))
		return (-EINVAL);
	if (c->iova + c->length - 1 < c->iova)
		return (-EOVERFLOW);
	return (as_map(f, &a->as, c->user_va, c->iova, c->length));
}

static long
io_ioas_unmap(struct vfs_file *f, struct vctx *x, uint8_t *b)
{
	struct iommu_ioas_unmap	*c = (void *)b;
	struct vioas		*a;
	uint64_t		 done;
	long			 rc;

	(void)f;
	if ((a = obj_get(x, c->ioas_id, OBJ_IOAS)) == NULL)
		return (-ENOENT);
	if (c->length == 0)
		return (-EINVAL);
	if (!(c->iova == 0 && c->length == UINT64_MAX) &&
	    c->iova + c->length - 1 < c->iova)
		return (-EOVERFLOW);
	if ((rc = as_unmap(&a->as, c->iova, c->length, &done)) != 0)
		return (rc);
	if (done == 0)
		return (-ENOENT);
	c->length = done;
	return (0);
}

/* The sim's newest HWPT_ALLOC layout (6.7: data_type, data_len, data). */
struct sim_hwpt_alloc {
	uint32_t	size, flags, dev_id, pt_id, out_hwpt_id, reserved;
	uint32_t	data_type, data_len;
	uint64_t	data_uptr;
};

static long
io_hwpt_alloc(struct vfs_file *f, struct vctx *x, uint8_t *b)
{
	struct sim_hwpt_alloc	*c = (void *)b;
	struct vioas		*a;
	struct vhwpt		*h;
	int			 dirty;

	(void)f;
	if (c->flags & ~(IOMMU_HWPT_ALLOC_NEST_PARENT |
	    IOMMU_HWPT_ALLOC_DIRTY_TRACKING) || c->reserved != 0 ||
	    c->data_type != 0)
		return (-EOPNOTSUPP);
	dirty = (c->flags & IOMMU_HWPT_ALLOC_DIRTY_TRACKING) != 0;
	/* Dirty tracking is enforced at allocation (6.7+, with the HW). */
	if (dirty && (!vfs->o.iommu_dirty || !vfs_kernel(6, 7)))
		return (-EOPNOTSUPP);
	if (obj_get(x, c->dev_id, OBJ_DEV) == NULL)
		return (-ENOENT);
	if ((a = obj_get(x, c->pt_id, OBJ_IOAS)) == NULL)
		return (obj_type(x, c->pt_id) ? -EINVAL : -ENOENT);
	if ((h = hwpt_new(x, a, dirty, 0)) == NULL)
		return (-ENOSPC);
	c->out_hwpt_id = h->id;
	return (0);
}

static long
io_hw_info(struct vfs_file *f, struct vctx *x, uint8_t *b)
{
	struct vfio_compat_hw_info	*c = (void *)b;

	(void)f;
	if (c->flags != 0 || c->__reserved != 0)
		return (-EOPNOTSUPP);
	if (obj_get(x, c->dev_id, OBJ_DEV) == NULL)
		return (-ENOENT);
	c->data_len = 0;
	c->out_data_type = 0;		/* IOMMU_HW_INFO_TYPE_NONE */
	c->out_capabilities = vfs->o.iommu_dirty && vfs_kernel(6, 7) ?
	    IOMMU_HW_CAP_DIRTY_TRACKING : 0;
	return (0);
}

static long
io_set_dirty(struct vfs_file *f, struct vctx *x, uint8_t *b)
{
	struct iommu_hwpt_set_dirty_tracking	*c = (void *)b;
	struct vhwpt				*h;

	(void)f;
	if (c->flags & ~IOMMU_HWPT_DIRTY_TRACKING_ENABLE)
		return (-EOPNOTSUPP);
	if ((h = obj_get(x, c->hwpt_id, OBJ_HWPT)) == NULL)
		return (-ENOENT);
	if (!h->dirty_ops)
		return (-EOPNOTSUPP);
	/* Enabling starts from clean IOPTEs. */
	vps_set_free(&h->dirty);
	h->tracking = c->flags & IOMMU_HWPT_DIRTY_TRACKING_ENABLE;
	return (0);
}

static long
io_get_dirty(struct vfs_file *f, struct vctx *x, uint8_t *b)
{
	struct iommu_hwpt_get_dirty_bitmap	*c = (void *)b;
	struct vhwpt				*h;
	uint64_t				*w, last, npages, bytes;
	long					 rc;

	if (c->flags & ~IOMMU_HWPT_GET_DIRTY_BITMAP_NO_CLEAR ||
	    c->__reserved != 0)
		return (-EOPNOTSUPP);
	if ((h = obj_get(x, c->hwpt_id, OBJ_HWPT)) == NULL)
		return (-ENOENT);
	/* iommufd_check_iova_range */
	if (c->length == 0 || c->iova + (c->length - 1) < c->iova)
		return (-EOVERFLOW);
	last = c->iova + c->length - 1;
	if ((c->iova & (PG - 1)) || ((last + 1) & (PG - 1)))
		return (-EINVAL);
	if (c->page_size == 0 || (c->page_size & (c->page_size - 1)) != 0)
		return (-EINVAL);
	if ((c->iova & (c->page_size - 1)) || ((last + 1) &
	    (c->page_size - 1)))
		return (-EINVAL);
	if (!h->dirty_ops)
		return (-EOPNOTSUPP);
	if (vfs_fault_hit("hwpt_bitmap", 0, VFS_FAULT_FAIL) != NULL)
		return (-EIO);
	npages = c->length / c->page_size;
	bytes = BITMAP_BYTES(npages);
	w = xcalloc(1, bytes);
	/* iova_bitmap sets bits in the user's memory: read, OR, write. */
	if ((rc = vfs_copy_from(f, c->data, w, bytes)) == 0) {
		(void)vps_set_report(&h->dirty, c->iova, c->length,
		    c->page_size, w, !(c->flags &
		    IOMMU_HWPT_GET_DIRTY_BITMAP_NO_CLEAR));
		rc = vfs_copy_to(f, c->data, w, bytes);
	}
	free(w);
	return (rc);
}

static const struct iofd_op iofd_ops[] = {
	{ 0x80, 8, 8, KV(6, 2), io_destroy },
	{ 0x81, 12, 12, KV(6, 2), io_ioas_alloc },
	{ 0x85, 40, 40, KV(6, 2), io_ioas_map },
	{ 0x86, 24, 24, KV(6, 2), io_ioas_unmap },
	{ 0x89, 24, sizeof(struct sim_hwpt_alloc), KV(6, 6), io_hwpt_alloc },
	{ 0x8a, 24, sizeof(struct vfio_compat_hw_info), KV(6, 6),
	    io_hw_info },
	{ 0x8b, 16, 16, KV(6, 7), io_set_dirty },
	{ 0x8c, 48, 48, KV(6, 7), io_get_dirty },
};

/* The VFIO type1 ioctls iommufd answers (vfio_compat.c). */
static long
compat_ioctl(struct vfs_file *f, struct vctx *x, uint64_t cmd, uint64_t arg)
{
	struct vioas	*a;

	switch (cmd) {
	case VFIO_GET_API_VERSION:
		return (VFIO_API_VERSION);
	case VFIO_CHECK_EXTENSION:
		return (arg == VFIO_TYPE1_IOMMU || arg == VFIO_TYPE1v2_IOMMU ||
		    arg == VFIO_UNMAP_ALL);
	case VFIO_SET_IOMMU:
		if (arg != VFIO_TYPE1_IOMMU && arg != VFIO_TYPE1v2_IOMMU)
			return (-EINVAL);
		x->compat_iommu = (int)arg;
		if (x->compat_ioas == NULL)
			x->compat_ioas = ioas_new(x);
		return (x->compat_ioas != NULL ? 0 : -ENOSPC);
	case VFIO_IOMMU_GET_INFO:
		return (info_reply(f, arg, 0));
	case VFIO_IOMMU_MAP_DMA:
	case VFIO_IOMMU_UNMAP_DMA:
		if ((a = x->compat_ioas) == NULL)
			return (-ENODEV);
		return (cmd == VFIO_IOMMU_MAP_DMA ? t1_map(f, &a->as, arg) :
		    t1_unmap(f, &a->as, arg));
	}
	/* VFIO_IOMMU_DIRTY_PAGES and the rest: -ENOIOCTLCMD -> ENOTTY. */
	return (-ENOTTY);
}

long
vfs_iommufd_ioctl(struct vfs_file *f, struct vctx *x, uint64_t cmd,
    uint64_t arg)
{
	const struct iofd_op	*op = NULL;
	uint8_t			 b[64], extra[64];
	uint32_t		 size, n, i, k;
	unsigned int		 nr = cmd & 0xff;
	long			 rc;

	if (((cmd >> 8) & 0xff) != ';')
		return (-ENOTTY);
	if (nr < 0x80)
		return (compat_ioctl(f, x, cmd, arg));
	for (i = 0; i < sizeof(iofd_ops) / sizeof(iofd_ops[0]); i++) {
		if (iofd_ops[i].nr == nr && vfs->o.kernel >= iofd_ops[i].kernel)
			op = &iofd_ops[i];
	}
	if (op == NULL || cmd != _IO(';', nr))
		return (-ENOTTY);
	if ((rc = vfs_copy_from(f, arg, &size, sizeof(size))) != 0)
		return (rc);
	if (size < op->min)
		return (-EINVAL);
	memset(b, 0, sizeof(b));
	n = MIN(size, op->size);
	if ((rc = vfs_copy_from(f, arg, b, n)) != 0)
		return (rc);
	/* copy_struct_from_user: what we do not know must be zero. */
	for (i = op->size; i < size; i += k) {
		k = MIN(size - i, (uint32_t)sizeof(extra));
		if ((rc = vfs_copy_from(f, arg + i, extra, k)) != 0)
			return (rc);
		while (k-- > 0) {
			if (extra[k] != 0)
				return (-E2BIG);
		}
		k = MIN(size - i, (uint32_t)sizeof(extra));
	}
	if ((rc = op->fn(f, x, b)) != 0)
		return (rc);
	return (vfs_copy_to(f, arg, b, n));
}

/* ----------------------------------------------------- DMA logging */

static uint64_t
log_pick(const struct vdev *d, uint64_t hint)
{
	uint64_t	ps, best = 0;
	int		i;

	/* The smallest size it can at or above the hint, else its
	 * largest. */
	for (i = 0; i < 64 - 12; i++) {
		if (!(d->log_pgsizes & (1ULL << i)))
			continue;
		ps = PG << i;
		if (ps >= hint)
			return (ps);
		best = ps;
	}
	return (best != 0 ? best : PG);
}

static long
log_start(struct vfs_file *f, struct vdev *d, uint64_t data)
{
	struct vfio_device_feature_dma_logging_control	c;
	struct vfio_device_feature_dma_logging_range	r;
	unsigned int					i, j;
	int						rc;

	if ((rc = vfs_copy_from(f, data, &c, sizeof(c))) != 0)
		return (rc);
	if (c.num_ranges == 0)
		return (-EINVAL);
	if (c.num_ranges > VFS_LOG_MAX_RANGES)
		return (-E2BIG);
	if (d->log_on)
		return (-EINVAL);	/* mlx5: log_active */
	for (i = 0; i < c.num_ranges; i++) {
		if ((rc = vfs_copy_from(f, c.ranges + i * sizeof(r), &r,
		    sizeof(r))) != 0)
			return (rc);
		if (c.page_size == 0 || r.iova % c.page_size != 0 ||
		    r.length % c.page_size != 0)
			return (-EINVAL);
		if (r.iova + r.length < r.iova)
			return (-EOVERFLOW);
		for (j = 0; j < i; j++) {
			if (r.iova < d->log_iova[j] + d->log_len[j] &&
			    d->log_iova[j] < r.iova + r.length)
				return (-EINVAL);	/* overlapping */
		}
		d->log_iova[i] = r.iova;
		d->log_len[i] = r.length;
	}
	if (vfs_fault_hit("dmalog_start", d->id, VFS_FAULT_FAIL) != NULL)
		return (-EIO);
	c.page_size = log_pick(d, c.page_size);
	if ((rc = vfs_copy_to(f, data, &c, sizeof(c))) != 0)
		return (rc);		/* and logging is not started */
	d->log_n = c.num_ranges;
	d->log_ps = c.page_size;
	d->log_on = 1;
	vps_set_free(&d->log);
	log_info("%s: %s: %u ranges at %llu", __func__, d->bdf, d->log_n,
	    (unsigned long long)d->log_ps);
	return (0);
}

static long
log_report(struct vfs_file *f, struct vdev *d, uint64_t data)
{
	struct vfio_device_feature_dma_logging_report	r;
	uint64_t					*w, npages, bytes;
	int						rc;

	if ((rc = vfs_copy_from(f, data, &r, sizeof(r))) != 0)
		return (rc);
	if (r.page_size < PG || (r.page_size & (r.page_size - 1)) != 0)
		return (-EINVAL);
	if (r.iova + r.length < r.iova)
		return (-EOVERFLOW);
	if (!d->log_on)
		return (-EINVAL);
	if (vfs_fault_hit("dmalog_report", d->id, VFS_FAULT_FAIL) != NULL)
		return (-EIO);
	if (r.length == 0)
		return (0);
	npages = (r.length - 1) / r.page_size + 1;
	bytes = BITMAP_BYTES(npages);
	w = xcalloc(1, bytes);
	if ((rc = vfs_copy_from(f, r.bitmap, w, bytes)) == 0) {
		(void)vps_set_report(&d->log, r.iova, r.length, r.page_size,
		    w, 1);
		rc = vfs_copy_to(f, r.bitmap, w, bytes);
	}
	free(w);
	return (rc);
}

long
vfs_dmalog_feature(struct vfs_file *f, struct vdev *d, uint32_t flags,
    uint64_t data, uint64_t len)
{
	uint32_t	idx = flags & VFIO_DEVICE_FEATURE_MASK;
	int		rc;

	if (!d->dmalog || !vfs_kernel(6, 1))
		return (-ENOTTY);	/* no log_ops */
	rc = vfs_check_feature(flags, len,
	    idx == VFIO_DEVICE_FEATURE_DMA_LOGGING_REPORT ?
	    VFIO_DEVICE_FEATURE_GET : VFIO_DEVICE_FEATURE_SET,
	    idx == VFIO_DEVICE_FEATURE_DMA_LOGGING_START ? 24 :
	    idx == VFIO_DEVICE_FEATURE_DMA_LOGGING_REPORT ? 32 : 0);
	if (rc != 1)
		return (rc);
	if (idx == VFIO_DEVICE_FEATURE_DMA_LOGGING_START)
		return (log_start(f, d, data));
	if (idx == VFIO_DEVICE_FEATURE_DMA_LOGGING_REPORT)
		return (log_report(f, d, data));
	d->log_on = 0;
	vps_set_free(&d->log);
	return (0);
}
