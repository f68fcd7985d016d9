/*
 * vfio_dirty.c: see vfio_dirty.h. One table of operations per source;
 * the public functions lock the tracker and dispatch.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "vfio_compat.h"
#include "vfio_dev.h"
#include "vfio_dirty.h"
#include "vfio_log.h"

/* What START got: the tracked ranges, at the caller's page size. */
struct probe_map {
	uint64_t	 iova;
	uint64_t	 length;
	uint64_t	*words;		/* type1: bits read right after START */
};

struct vfio_dirty {
	pthread_mutex_t	 lock;
	const struct src_ops *ops;
	enum vfio_dirty_src src;
	char		 name[96];
	int		 fd;		/* our dup: container, device, iommufd */
	uint32_t	 hwpt;
	uint32_t	 flags;
	uint64_t	 pgsize;	/* the source's granularity */
	uint64_t	 page_size;	/* asked for at START */
	int		 started;
	struct vmig_iova_range *ranges;
	unsigned int	 nranges;
	struct probe_map *probe;	/* type1, until the first read */
	uint64_t	 reads;
	uint64_t	 failures;
	char		 why[256];
};

struct src_ops {
	int	(*start)(struct vfio_dirty *, char *, size_t);
	/* Read one map (the caller has checked it); bits into m. */
	int	(*read)(struct vfio_dirty *, struct vmig_dirty_map *,
		    struct vfio_dirty_stats *, char *, size_t);
	int	(*stop)(struct vfio_dirty *, char *, size_t);
};

const char *
vfio_dirty_src_name(enum vfio_dirty_src s)
{
	switch (s) {
	case VFIO_DIRTY_SRC_TYPE1:
		return ("type1");
	case VFIO_DIRTY_SRC_DMALOG:
		return ("dma-logging");
	case VFIO_DIRTY_SRC_HWPT:
		return ("iommufd");
	default:
		return ("none");
	}
}

uint32_t
vfio_dirty_kind(enum vfio_dirty_src s)
{
	switch (s) {
	case VFIO_DIRTY_SRC_TYPE1:
		return (VMIG_DIRTY_IOMMU_TYPE1);
	case VFIO_DIRTY_SRC_DMALOG:
		return (VMIG_DIRTY_DMA_LOGGING);
	case VFIO_DIRTY_SRC_HWPT:
		return (VMIG_DIRTY_IOMMUFD);
	default:
		return (VMIG_DIRTY_NONE);
	}
}

/* A zeroed bitmap for a map's pages at page size ps. */
static uint64_t *
bits_alloc(uint64_t length, uint64_t ps, uint64_t *npages)
{
	*npages = length / ps;
	return (calloc(vfio_bits_words(*npages) ? vfio_bits_words(*npages) :
	    1, sizeof(uint64_t)));
}

/* ------------------------------------------------------------ type1 */

static int
t1_call(struct vfio_dirty *t, uint32_t flag, uint64_t iova, uint64_t size,
    uint64_t *words, uint64_t nbytes)
{
	struct vfio_iommu_type1_dirty_bitmap_get g;
	uint8_t		 buf[sizeof(struct vfio_iommu_type1_dirty_bitmap) +
			    sizeof(g)];
	uint32_t	 argsz;

	/* The header, then (GET_BITMAP) the range in data[]. */
	argsz = flag == VFIO_IOMMU_DIRTY_PAGES_FLAG_GET_BITMAP ?
	    sizeof(buf) : sizeof(struct vfio_iommu_type1_dirty_bitmap);
	memset(&g, 0, sizeof(g));
	g.iova = iova;
	g.size = size;
	g.bitmap.pgsize = t->pgsize;
	g.bitmap.size = nbytes;
	g.bitmap.data = (__u64 *)words;
	memcpy(buf, &argsz, 4);
	memcpy(buf + 4, &flag, 4);
	memcpy(buf + 8, &g, sizeof(g));
	return (vfio_ioctl(t->fd, VFIO_IOMMU_DIRTY_PAGES, buf));
}

/* Read a range's bits at the type1 page size; words malloc'd. */
static int
t1_get(struct vfio_dirty *t, uint64_t iova, uint64_t len, uint64_t **wp,
    uint64_t *npages)
{
	uint64_t	*w;
	int		 rc;

	if ((w = bits_alloc(len, t->pgsize, npages)) == NULL)
		return (-ENOMEM);
	/* The kernel sizes in bytes of whole u64 words (DIRTY_BITMAP_BYTES). */
	if ((rc = t1_call(t, VFIO_IOMMU_DIRTY_PAGES_FLAG_GET_BITMAP, iova, len,
	    w, vfio_bits_words(*npages) * 8)) < 0) {
		free(w);
		return (rc);
	}
	*wp = w;
	return (0);
}

static uint64_t
count_bits(const uint64_t *w, uint64_t npages)
{
	uint64_t	i, n = 0;

	for (i = 0; i < vfio_bits_words(npages); i++)
		n += (uint64_t)__builtin_popcountll(w[i]);
	return (n);
}

/* A source's bitmap (iova, page size, pages) into the map, counted. */
static void
merge(struct vmig_dirty_map *m, uint64_t iova, uint64_t ps, uint64_t np,
    const uint64_t *w, struct vfio_dirty_stats *st, int reported)
{
	struct vfio_bits	b = { iova, ps, np, w };
	uint64_t		added = 0;

	(void)vfio_bits_merge(&b, m, &added);
	if (reported)
		st->reported += count_bits(w, np);
	st->added += added;
}

static int
t1_start(struct vfio_dirty *t, char *err, size_t errlen)
{
	uint64_t	np, set = 0, total = 0;
	unsigned int	i;
	int		rc;

	if ((rc = t1_call(t, VFIO_IOMMU_DIRTY_PAGES_FLAG_START, 0, 0, NULL,
	    0)) < 0) {
		if (rc == -ENOTTY)
			return (vfio_err(err, errlen, -EOPNOTSUPP, "%s: the "
			    "container refuses VFIO_IOMMU_DIRTY_PAGES (iommufd's "
			    "type1 compatibility layer)", t->name));
		return (vfio_err(err, errlen, rc, "%s: dirty pages START: %s",
		    t->name, strerror(-rc)));
	}
	/*
	 * Right after START only pinned pages can read dirty. If every
	 * tracked page does, nothing pins: the kernel will report every
	 * mapped page on every read (update_user_bitmap). Keep the bits
	 * for the first read: nothing read here may be lost.
	 */
	if ((t->probe = calloc(t->nranges, sizeof(*t->probe))) == NULL)
		return (-ENOMEM);
	for (i = 0; i < t->nranges; i++) {
		t->probe[i].iova = t->ranges[i].iova;
		t->probe[i].length = t->ranges[i].length;
		if ((rc = t1_get(t, t->ranges[i].iova, t->ranges[i].length,
		    &t->probe[i].words, &np)) < 0) {
			(void)t1_call(t, VFIO_IOMMU_DIRTY_PAGES_FLAG_STOP, 0, 0,
			    NULL, 0);
			return (vfio_err(err, errlen, rc, "%s: dirty bitmap of "
			    "%#llx+%#llx: %s", t->name,
			    (unsigned long long)t->ranges[i].iova,
			    (unsigned long long)t->ranges[i].length,
			    strerror(-rc)));
		}
		set += count_bits(t->probe[i].words, np);
		total += np;
	}
	if (total > 0 && set == total) {
		t->flags |= VFIO_DIRTY_F_ALL_MAPPED;
		snprintf(t->why, sizeof(t->why), "type1 container: the "
		    "devices in it do not pin pages, so every mapped page "
		    "reads dirty every time (pre-copy iterations gain nothing)");
		vfio_info("%s: %s: %s", __func__, t->name, t->why);
	}
	return (0);
}

static int
t1_read(struct vfio_dirty *t, struct vmig_dirty_map *m,
    struct vfio_dirty_stats *st, char *err, size_t errlen)
{
	uint64_t	*w, np;
	unsigned int	 i;
	int		 rc;

	if ((rc = t1_get(t, m->iova, m->length, &w, &np)) < 0)
		return (vfio_err(err, errlen, rc, "%s: dirty bitmap of "
		    "%#llx+%#llx: %s", t->name, (unsigned long long)m->iova,
		    (unsigned long long)m->length, strerror(-rc)));
	merge(m, m->iova, t->pgsize, np, w, st, 1);
	free(w);
	/* What START's probe read belongs to the first read (counted as
	 * added, not as reported again). */
	for (i = 0; t->probe != NULL && i < t->nranges; i++) {
		if (t->probe[i].words != NULL)
			merge(m, t->probe[i].iova, t->pgsize,
			    t->probe[i].length / t->pgsize, t->probe[i].words,
			    st, 0);
	}
	return (0);
}

static int
t1_stop(struct vfio_dirty *t, char *err, size_t errlen)
{
	int	rc;

	if ((rc = t1_call(t, VFIO_IOMMU_DIRTY_PAGES_FLAG_STOP, 0, 0, NULL,
	    0)) < 0)
		return (vfio_err(err, errlen, rc, "%s: dirty pages STOP: %s",
		    t->name, strerror(-rc)));
	return (0);
}

/* The container's dirty capability: its page size, or refused. */
static int
t1_open(struct vfio_dirty *t, struct vfio_dev *d, char *err, size_t errlen)
{
	struct vfio_iommu_type1_info	 info;
	struct vfio_type1_mig		 mig;
	struct vfio_cap			 cap;
	uint8_t				*buf;
	size_t				 len;
	uint32_t			 off;
	int				 rc, found;

	if (d->container_fd == -1)
		return (vfio_err(err, errlen, -ENODEV, "%s: no type1 container",
		    d->name));
	memset(&info, 0, sizeof(info));
	if ((rc = vfio_get_info(d->container_fd, VFIO_IOMMU_GET_INFO, &info,
	    sizeof(info), VFIO_IOMMU_INFO_CAPS, &buf, &len)) < 0)
		return (vfio_err(err, errlen, rc, "%s: VFIO_IOMMU_GET_INFO: %s",
		    d->name, strerror(-rc)));
	memcpy(&info, buf, sizeof(info) < len ? sizeof(info) : len);
	off = (info.flags & VFIO_IOMMU_INFO_CAPS) ? info.cap_offset : 0;
	found = vfio_cap_find(buf, len, off,
	    VFIO_IOMMU_TYPE1_INFO_CAP_MIGRATION, &cap, err, errlen);
	rc = found == 1 ? vfio_cap_type1_mig(buf, &cap, &mig, err, errlen) :
	    found;
	free(buf);
	if (rc < 0)
		return (rc);
	if (found == 0)
		return (vfio_err(err, errlen, -EOPNOTSUPP, "%s: the container "
		    "has no dirty page tracking (no migration capability: "
		    "iommufd's type1 compatibility layer, or a kernel before "
		    "5.8)", d->name));
	if (mig.pgsize_bitmap == 0)
		return (vfio_err(err, errlen, -EPROTO, "%s: the container "
		    "reports no dirty page size", d->name));
	t->pgsize = mig.pgsize_bitmap & -mig.pgsize_bitmap;
	t->flags |= VFIO_DIRTY_F_SHARED;
	if ((t->fd = fcntl(d->container_fd, F_DUPFD_CLOEXEC, 3)) == -1)
		return (vfio_err(err, errlen, -errno, "%s: dup: %s", d->name,
		    strerror(errno)));
	return (0);
}

/* ---------------------------------------------------- DMA logging */

static int
dl_start(struct vfio_dirty *t, char *err, size_t errlen)
{
	struct vfio_device_feature_dma_logging_control	 c;
	struct vfio_device_feature_dma_logging_range	*r;
	struct vmig_iova_range				*rs;
	unsigned int					 n, i;
	int						 rc;

	if ((rs = calloc(t->nranges, sizeof(*rs))) == NULL ||
	    (r = calloc(t->nranges, sizeof(*r))) == NULL) {
		free(rs);
		return (-ENOMEM);
	}
	memcpy(rs, t->ranges, t->nranges * sizeof(*rs));
	n = vfio_ranges_combine(rs, t->nranges, VFIO_DMALOG_MAX_RANGES,
	    t->page_size);
	for (;;) {
		for (i = 0; i < n; i++) {
			r[i].iova = rs[i].iova;
			r[i].length = rs[i].length;
		}
		memset(&c, 0, sizeof(c));
		c.page_size = t->page_size;	/* a hint; the device picks */
		c.num_ranges = n;
		c.ranges = (uintptr_t)r;
		rc = vfio_feature(t->fd, VFIO_DEVICE_FEATURE_SET |
		    VFIO_DEVICE_FEATURE_DMA_LOGGING_START, &c, sizeof(c));
		/* A driver limit below the core's: fewer, wider ranges. */
		if (rc != -E2BIG || n == 1)
			break;
		n = vfio_ranges_combine(rs, n, n / 2, t->page_size);
	}
	free(r);
	free(rs);
	if (rc != 0)
		return (vfio_err(err, errlen, rc, "%s: DMA logging START (%u "
		    "ranges, page %llu): %s", t->name, n,
		    (unsigned long long)t->page_size, strerror(-rc)));
	if (c.page_size < 4096 || (c.page_size & (c.page_size - 1)) != 0)
		return (vfio_err(err, errlen, -EPROTO, "%s: the device chose "
		    "page size %llu", t->name, (unsigned long long)c.page_size));
	t->pgsize = c.page_size;
	vfio_debug("%s: %s: %u ranges, page size %llu", __func__, t->name, n,
	    (unsigned long long)t->pgsize);
	return (0);
}

static int
dl_report(struct vfio_dirty *t, struct vmig_dirty_map *m, uint64_t *w)
{
	struct vfio_device_feature_dma_logging_report	rp;

	memset(&rp, 0, sizeof(rp));
	rp.iova = m->iova;
	rp.length = m->length;
	rp.page_size = m->page_size;	/* reported at our granularity */
	rp.bitmap = (uintptr_t)w;
	return (vfio_feature(t->fd, VFIO_DEVICE_FEATURE_GET |
	    VFIO_DEVICE_FEATURE_DMA_LOGGING_REPORT, &rp, sizeof(rp)));
}

static int
dl_stop(struct vfio_dirty *t, char *err, size_t errlen)
{
	int	rc;

	rc = vfio_feature(t->fd, VFIO_DEVICE_FEATURE_SET |
	    VFIO_DEVICE_FEATURE_DMA_LOGGING_STOP, NULL, 0);
	if (rc != 0)
		return (vfio_err(err, errlen, rc, "%s: DMA logging STOP: %s",
		    t->name, strerror(-rc)));
	return (0);
}

/*
 * "If any error is returned userspace should assume that the dirty log
 * is corrupted": this read marks every tracked page (what was logged
 * since the last read is lost) and logging restarts at once, so the
 * next read is exact again. A restart that fails leaves the tracker
 * CORRUPT: every read marks everything and tries again.
 */
static void
dl_recover(struct vfio_dirty *t, struct vmig_dirty_map *m,
    struct vfio_dirty_stats *st)
{
	char	why[200];

	st->added += vfio_map_fill(m, m->iova, m->length);
	st->overflow = 1;
	(void)dl_stop(t, NULL, 0);
	if (dl_start(t, why, sizeof(why)) == 0) {
		t->flags &= ~VFIO_DIRTY_F_CORRUPT;
		vfio_info("%s: %s: DMA logging restarted", __func__, t->name);
	} else {
		t->flags |= VFIO_DIRTY_F_CORRUPT;
		vfio_warn("%s: %s: DMA logging does not restart: %s", __func__,
		    t->name, why);
	}
}

static int
dl_read(struct vfio_dirty *t, struct vmig_dirty_map *m,
    struct vfio_dirty_stats *st, char *err, size_t errlen)
{
	uint64_t	*w, np;
	int		 rc;

	(void)err;
	(void)errlen;
	if (t->flags & VFIO_DIRTY_F_CORRUPT) {
		dl_recover(t, m, st);
		return (0);
	}
	if ((w = bits_alloc(m->length, m->page_size, &np)) == NULL)
		return (-ENOMEM);
	if ((rc = dl_report(t, m, w)) != 0) {
		free(w);
		t->failures++;
		snprintf(t->why, sizeof(t->why), "a DMA logging report failed "
		    "(%s): that read marked every tracked page and logging "
		    "was restarted", strerror(-rc));
		vfio_warn("%s: %s: %s", __func__, t->name, t->why);
		dl_recover(t, m, st);
		return (0);
	}
	merge(m, m->iova, m->page_size, np, w, st, 1);
	free(w);
	return (0);
}

static int
dl_open(struct vfio_dirty *t, struct vfio_dev *d, char *err, size_t errlen)
{
	if (!d->has_dmalog)
		return (vfio_err(err, errlen, -EOPNOTSUPP, "%s: the device has "
		    "no DMA logging (its PROBE failed)", d->name));
	if ((t->fd = fcntl(d->fd, F_DUPFD_CLOEXEC, 3)) == -1)
		return (vfio_err(err, errlen, -errno, "%s: dup: %s", d->name,
		    strerror(errno)));
	return (0);
}

/* ------------------------------------------------------ iommufd HWPT */

static int
hw_set(struct vfio_dirty *t, int on, char *err, size_t errlen)
{
	struct iommu_hwpt_set_dirty_tracking	s;
	int					rc;

	memset(&s, 0, sizeof(s));
	s.size = sizeof(s);
	s.flags = on ? IOMMU_HWPT_DIRTY_TRACKING_ENABLE : 0;
	s.hwpt_id = t->hwpt;
	if ((rc = vfio_ioctl(t->fd, IOMMU_HWPT_SET_DIRTY_TRACKING, &s)) < 0)
		return (vfio_err(err, errlen, rc == -ENOTTY ? -EOPNOTSUPP : rc,
		    "%s: HWPT %u dirty tracking %s: %s", t->name, t->hwpt,
		    on ? "on" : "off", strerror(-rc)));
	return (0);
}

static int
hw_start(struct vfio_dirty *t, char *err, size_t errlen)
{
	return (hw_set(t, 1, err, errlen));
}

static int
hw_stop(struct vfio_dirty *t, char *err, size_t errlen)
{
	return (hw_set(t, 0, err, errlen));
}

static int
hw_read(struct vfio_dirty *t, struct vmig_dirty_map *m,
    struct vfio_dirty_stats *st, char *err, size_t errlen)
{
	struct iommu_hwpt_get_dirty_bitmap	g;
	uint64_t				*w, np;
	int					 rc;

	if ((w = bits_alloc(m->length, m->page_size, &np)) == NULL)
		return (-ENOMEM);
	memset(&g, 0, sizeof(g));
	g.size = sizeof(g);
	g.hwpt_id = t->hwpt;
	g.iova = m->iova;
	g.length = m->length;
	g.page_size = m->page_size;
	g.data = (uintptr_t)w;
	if ((rc = vfio_ioctl(t->fd, IOMMU_HWPT_GET_DIRTY_BITMAP, &g)) < 0) {
		free(w);
		return (vfio_err(err, errlen, rc, "%s: HWPT %u dirty bitmap of "
		    "%#llx+%#llx: %s", t->name, t->hwpt,
		    (unsigned long long)m->iova, (unsigned long long)m->length,
		    strerror(-rc)));
	}
	merge(m, m->iova, m->page_size, np, w, st, 1);
	free(w);
	return (0);
}

static int
hw_open(struct vfio_dirty *t, struct vfio_dev *d, char *err, size_t errlen)
{
	if (d->iommu != VFIO_IOMMU_IOMMUFD || !d->have_hwpt)
		return (vfio_err(err, errlen, -ENODEV, "%s: not attached to an "
		    "iommufd HWPT", d->name));
	if (!d->iommu_dirty)
		return (vfio_err(err, errlen, -EOPNOTSUPP, "%s: the IOMMU has "
		    "no dirty tracking (IOMMU_HW_CAP_DIRTY_TRACKING)", d->name));
	t->hwpt = d->hwpt_id;
	t->pgsize = 4096;
	t->flags |= VFIO_DIRTY_F_SHARED;
	if ((t->fd = fcntl(d->iommufd, F_DUPFD_CLOEXEC, 3)) == -1)
		return (vfio_err(err, errlen, -errno, "%s: dup: %s", d->name,
		    strerror(errno)));
	return (0);
}

/* ------------------------------------------------------------ none */

static int
none_start(struct vfio_dirty *t, char *err, size_t errlen)
{
	(void)err;
	(void)errlen;
	(void)t;
	return (0);
}

static int
none_read(struct vfio_dirty *t, struct vmig_dirty_map *m,
    struct vfio_dirty_stats *st, char *err, size_t errlen)
{
	unsigned int	i;

	/* Every tracked page, every time. */
	for (i = 0; i < t->nranges; i++)
		st->added += vfio_map_fill(m, t->ranges[i].iova,
		    t->ranges[i].length);
	(void)err;
	(void)errlen;
	return (0);
}

static const struct src_ops ops_type1 = { t1_start, t1_read, t1_stop };
static const struct src_ops ops_dmalog = { dl_start, dl_read, dl_stop };
static const struct src_ops ops_hwpt = { hw_start, hw_read, hw_stop };
static const struct src_ops ops_none = { none_start, none_read, none_start };

/* ------------------------------------------------------ the object */

int
vfio_dirty_sources(const struct vfio_dev *d, enum vfio_dirty_src *out,
    int max)
{
	int	n = 0;

	/* Device logging first (QEMU's order too), then the IOMMU. */
	if (d->has_dmalog && n < max)
		out[n++] = VFIO_DIRTY_SRC_DMALOG;
	if (d->iommu == VFIO_IOMMU_IOMMUFD && d->have_hwpt && d->iommu_dirty &&
	    n < max)
		out[n++] = VFIO_DIRTY_SRC_HWPT;
	if (d->container_fd != -1 && n < max)
		out[n++] = VFIO_DIRTY_SRC_TYPE1;
	if (n < max)
		out[n++] = VFIO_DIRTY_SRC_NONE;
	return (n);
}

int
vfio_dirty_open(struct vfio_dev *d, enum vfio_dirty_src src,
    struct vfio_dirty **tp, char *err, size_t errlen)
{
	struct vfio_dirty	*t;
	int			 rc = 0;

	if ((t = calloc(1, sizeof(*t))) == NULL)
		return (-ENOMEM);
	pthread_mutex_init(&t->lock, NULL);
	t->fd = -1;
	t->src = src;
	snprintf(t->name, sizeof(t->name), "%s/%s", d->name,
	    vfio_dirty_src_name(src));
	switch (src) {
	case VFIO_DIRTY_SRC_TYPE1:
		t->ops = &ops_type1;
		rc = t1_open(t, d, err, errlen);
		break;
	case VFIO_DIRTY_SRC_DMALOG:
		t->ops = &ops_dmalog;
		rc = dl_open(t, d, err, errlen);
		break;
	case VFIO_DIRTY_SRC_HWPT:
		t->ops = &ops_hwpt;
		rc = hw_open(t, d, err, errlen);
		break;
	default:
		t->ops = &ops_none;
		t->flags |= VFIO_DIRTY_F_ALL_MAPPED;
		t->pgsize = 4096;
		snprintf(t->why, sizeof(t->why), "no dirty tracking: every "
		    "mapped page is dirty at every read");
		break;
	}
	if (rc != 0) {
		vfio_dirty_close(t);
		return (rc);
	}
	*tp = t;
	return (0);
}

/* Append s to dst (len bytes, always terminated). */
static void
append(char *dst, size_t len, const char *s)
{
	size_t	n = strlen(dst), k = strlen(s);

	if (n + 1 >= len)
		return;
	if (k > len - n - 1)
		k = len - n - 1;
	memcpy(dst + n, s, k);
	dst[n + k] = '\0';
}

int
vfio_dirty_open_best(struct vfio_dev *d, const struct vmig_iova_range *r,
    unsigned int n, uint64_t page_size, struct vfio_dirty **tp, char *err,
    size_t errlen)
{
	enum vfio_dirty_src	 srcs[4];
	struct vfio_dirty	*t;
	char			 skipped[256] = "", why[256];
	int			 k, i, rc = -ENODEV;

	k = vfio_dirty_sources(d, srcs, 4);
	for (i = 0; i < k; i++) {
		t = NULL;
		rc = vfio_dirty_open(d, srcs[i], &t, why, sizeof(why));
		if (rc == 0 && (rc = vfio_dirty_start(t, r, n, page_size, why,
		    sizeof(why))) != 0) {
			vfio_dirty_close(t);
			t = NULL;
		}
		if (rc == 0) {
			if (skipped[0] != '\0') {
				pthread_mutex_lock(&t->lock);
				snprintf(why, sizeof(why), "%s", t->why);
				t->why[0] = '\0';
				append(t->why, sizeof(t->why), skipped);
				if (why[0] != '\0')
					append(t->why, sizeof(t->why), "; ");
				append(t->why, sizeof(t->why), why);
				pthread_mutex_unlock(&t->lock);
			}
			*tp = t;
			return (0);
		}
		if (skipped[0] != '\0')
			append(skipped, sizeof(skipped), "; ");
		append(skipped, sizeof(skipped), vfio_dirty_src_name(srcs[i]));
		append(skipped, sizeof(skipped), " unavailable: ");
		append(skipped, sizeof(skipped), why);
	}
	return (vfio_err(err, errlen, rc, "%s: no dirty tracking could start: "
	    "%s", d->name, skipped));
}

void
vfio_dirty_close(struct vfio_dirty *t)
{
	unsigned int	i;

	if (t == NULL)
		return;
	if (t->started)
		(void)vfio_dirty_stop(t, NULL, 0);
	for (i = 0; t->probe != NULL && i < t->nranges; i++)
		free(t->probe[i].words);
	free(t->probe);
	free(t->ranges);
	if (t->fd != -1)
		close(t->fd);
	pthread_mutex_destroy(&t->lock);
	free(t);
}

int
vfio_dirty_serves(const struct vfio_dirty *t, const struct vfio_dev *d)
{
	switch (t->src) {
	case VFIO_DIRTY_SRC_TYPE1:
		return (vfio_same_file(t->fd, d->container_fd));
	case VFIO_DIRTY_SRC_HWPT:
		return (d->have_hwpt && d->hwpt_id == t->hwpt &&
		    vfio_same_file(t->fd, d->iommufd));
	case VFIO_DIRTY_SRC_DMALOG:
		return (vfio_same_file(t->fd, d->fd));
	default:
		return (0);
	}
}

/* Sorted copies of the ranges, each checked against page_size. */
static int
keep_ranges(struct vfio_dirty *t, const struct vmig_iova_range *r,
    unsigned int n, uint64_t ps, char *err, size_t errlen)
{
	struct vmig_iova_range	tmp;
	unsigned int		i, j;

	if (n == 0 || ps < 4096 || (ps & (ps - 1)) != 0)
		return (vfio_err(err, errlen, -EINVAL, "%s: %u ranges at page "
		    "size %llu", t->name, n, (unsigned long long)ps));
	free(t->ranges);
	if ((t->ranges = calloc(n, sizeof(*r))) == NULL)
		return (-ENOMEM);
	memcpy(t->ranges, r, n * sizeof(*r));
	for (i = 1; i < n; i++) {		/* n is small: insertion sort */
		tmp = t->ranges[i];
		for (j = i; j > 0 && t->ranges[j - 1].iova > tmp.iova; j--)
			t->ranges[j] = t->ranges[j - 1];
		t->ranges[j] = tmp;
	}
	for (i = 0; i < n; i++) {
		if (t->ranges[i].length == 0 || t->ranges[i].iova % ps != 0 ||
		    t->ranges[i].length % ps != 0 ||
		    t->ranges[i].iova + t->ranges[i].length <
		    t->ranges[i].iova ||
		    (i > 0 && t->ranges[i - 1].iova + t->ranges[i - 1].length >
		    t->ranges[i].iova))
			return (vfio_err(err, errlen, -EINVAL, "%s: range "
			    "%#llx+%#llx is empty, unaligned to %llu, wraps or "
			    "overlaps another", t->name,
			    (unsigned long long)t->ranges[i].iova,
			    (unsigned long long)t->ranges[i].length,
			    (unsigned long long)ps));
	}
	t->nranges = n;
	t->page_size = ps;
	return (0);
}

int
vfio_dirty_start(struct vfio_dirty *t, const struct vmig_iova_range *r,
    unsigned int n, uint64_t page_size, char *err, size_t errlen)
{
	int	rc;

	pthread_mutex_lock(&t->lock);
	if (t->started)
		rc = vfio_err(err, errlen, -EALREADY, "%s: already started",
		    t->name);
	else if ((rc = keep_ranges(t, r, n, page_size, err, errlen)) == 0 &&
	    (rc = t->ops->start(t, err, errlen)) == 0)
		t->started = 1;
	pthread_mutex_unlock(&t->lock);
	return (rc);
}

static void
probe_drop(struct vfio_dirty *t)
{
	unsigned int	i;

	for (i = 0; t->probe != NULL && i < t->nranges; i++)
		free(t->probe[i].words);
	free(t->probe);
	t->probe = NULL;
}

int
vfio_dirty_read(struct vfio_dirty *t, struct vmig_dirty_map *maps,
    unsigned int n, struct vfio_dirty_stats *st, char *err, size_t errlen)
{
	struct vfio_dirty_stats	local;
	unsigned int		i;
	int			rc = 0;

	if (st == NULL)
		st = &local;
	memset(st, 0, sizeof(*st));
	pthread_mutex_lock(&t->lock);
	if (!t->started) {
		rc = vfio_err(err, errlen, -EINVAL, "%s: not started", t->name);
		goto out;
	}
	for (i = 0; i < n && rc == 0; i++) {
		if ((rc = vfio_map_check(&maps[i], err, errlen)) == 0)
			rc = t->ops->read(t, &maps[i], st, err, errlen);
	}
	probe_drop(t);
	t->reads++;
	if (rc != 0)
		t->failures++;
out:
	pthread_mutex_unlock(&t->lock);
	return (rc);
}

int
vfio_dirty_stop(struct vfio_dirty *t, char *err, size_t errlen)
{
	int	rc = 0;

	pthread_mutex_lock(&t->lock);
	if (t->started) {
		rc = t->ops->stop(t, err, errlen);
		t->started = 0;
		probe_drop(t);
	}
	pthread_mutex_unlock(&t->lock);
	return (rc);
}

void
vfio_dirty_get_info(struct vfio_dirty *t, struct vfio_dirty_info *in)
{
	pthread_mutex_lock(&t->lock);
	memset(in, 0, sizeof(*in));
	in->src = t->src;
	in->flags = t->flags;
	in->page_size = t->pgsize;
	in->nranges = t->nranges;
	in->reads = t->reads;
	in->failures = t->failures;
	snprintf(in->why, sizeof(in->why), "%s", t->why);
	pthread_mutex_unlock(&t->lock);
}

unsigned int
vfio_ranges_combine(struct vmig_iova_range *r, unsigned int n,
    unsigned int max, uint64_t ps)
{
	unsigned int	i, best;
	uint64_t	gap, bestgap, end;

	if (max == 0)
		max = 1;
	while (n > max) {
		best = 0;
		bestgap = UINT64_MAX;
		for (i = 0; i + 1 < n; i++) {
			gap = r[i + 1].iova - (r[i].iova + r[i].length);
			if (gap < bestgap) {
				bestgap = gap;
				best = i;
			}
		}
		end = r[best + 1].iova + r[best + 1].length;
		r[best].length = end - r[best].iova;
		memmove(&r[best + 1], &r[best + 2],
		    (n - best - 2) * sizeof(*r));
		n--;
	}
	for (i = 0; i < n && ps != 0; i++) {
		end = r[i].iova + r[i].length;
		r[i].iova -= r[i].iova % ps;
		if (end % ps != 0)
			end += ps - end % ps;
		r[i].length = end - r[i].iova;
	}
	return (n);
}
