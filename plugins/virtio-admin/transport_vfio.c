/*
 * transport_vfio.c: a virtio PF bound to vfio-pci, its admin queues
 * programmed through the common config in its BAR, as Linux's
 * virtio_pci_modern does it:
 *
 *	open		the VFIO layer's group + type1 open (plugins/vfio,
 *			compiled in here: vfio_open.c), config space through
 *			the config region, the capabilities (virtio_pci.c)
 *	reset		device_status 0, read back until 0
 *	features	ACKNOWLEDGE | DRIVER; VERSION_1 and ADMIN_VQ required
 *			(ACCESS_PLATFORM taken when offered: we are behind an
 *			IOMMU); FEATURES_OK read back
 *	memory		one sealed memfd (rings, then the buffer pool) mapped
 *			for the device at VA_VFIO_IOVA: descriptor addresses
 *			are VA_VFIO_IOVA + offset
 *	interrupts	one MSI-X vector per admin queue, an eventfd each
 *			(VFIO_DEVICE_SET_IRQS): the call fds
 *	queues		queue_select = admin_queue_index + k, queue_size,
 *			queue_msix_vector (read back), desc/driver/device,
 *			queue_notify_off, queue_enable; then DRIVER_OK
 *	kick		a 16-bit write of the queue index to notify.off +
 *			queue_notify_off * notify_off_multiplier
 *
 * Close undoes it in order: reset (the device stops using the memory),
 * interrupts off, unmap, then the device, group and container go.
 *
 * Synchronous system calls on the plugin's loop, once per open (a
 * handful of ms); kicks are one pwrite each. Every value the device
 * gives is checked: a bad one fails the open with the PF and the field
 * named, the device reset.
 */
#include "config.h"

#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "handshake.h"
#include "transport.h"
#include "util.h"
#include "vfio_compat.h"
#include "vfio_dev.h"
#include "vfio_open.h"
#include "virtio_pci.h"

#define DEF_QSIZE	128
#define DEF_POOL	(4u << 20)
#define VA_VFIO_IOVA	0x10000000000ULL	/* 1 TiB: clear of any
						 * reserved window */
#define RESET_POLLS	1000

struct va_vfio {
	struct vfio_dev	*d;
	char		 name[300];	/* "vfio:BDF", for messages */
	uint64_t	 bar_off[6];	/* region offsets in the device fd */
	uint64_t	 bar_size[6];
	struct vpci_info vi;
	uint64_t	 common;	/* device fd offsets */
	uint64_t	 notify[VA_TP_MAX_QUEUES];
	uint16_t	 qindex[VA_TP_MAX_QUEUES];
	int		 mapped;
	int		 irqs;
	int		 touched;	/* the status was written: reset on
					 * close */
};

/* ------------------------------------------------------- register access */

static int
rd(struct va_vfio *v, uint64_t off, void *buf, size_t n, const char *what,
    char *err, size_t errlen)
{
	int	rc;

	if ((rc = vfio_pread_all(v->d->fd, buf, n, off)) != 0)
		snprintf(err, errlen, "%s: reading %s: %s", v->name, what,
		    strerror(-rc));
	return (rc);
}

static int
wr(struct va_vfio *v, uint64_t off, const void *buf, size_t n,
    const char *what, char *err, size_t errlen)
{
	int	rc;

	if ((rc = vfio_pwrite_all(v->d->fd, buf, n, off)) != 0)
		snprintf(err, errlen, "%s: writing %s: %s", v->name, what,
		    strerror(-rc));
	return (rc);
}

/* Little-endian registers of the common config, by width. */
static int
c_rd(struct va_vfio *v, uint32_t reg, size_t n, uint32_t *val, char *err,
    size_t errlen)
{
	uint8_t	b[4] = { 0, 0, 0, 0 };
	int	rc;

	if ((rc = rd(v, v->common + reg, b, n, "the common config", err,
	    errlen)) != 0)
		return (rc);
	*val = (uint32_t)b[0] | (uint32_t)b[1] << 8 | (uint32_t)b[2] << 16 |
	    (uint32_t)b[3] << 24;
	return (0);
}

static int
c_wr(struct va_vfio *v, uint32_t reg, size_t n, uint32_t val, char *err,
    size_t errlen)
{
	uint8_t	b[4] = { val & 0xff, (val >> 8) & 0xff, (val >> 16) & 0xff,
	    (val >> 24) & 0xff };

	return (wr(v, v->common + reg, b, n, "the common config", err,
	    errlen));
}

/* A 64-bit queue address as two 32-bit writes, low first (as Linux). */
static int
c_wr64(struct va_vfio *v, uint32_t reg, uint64_t val, char *err,
    size_t errlen)
{
	int	rc;

	if ((rc = c_wr(v, reg, 4, (uint32_t)val, err, errlen)) != 0)
		return (rc);
	return (c_wr(v, reg + 4, 4, (uint32_t)(val >> 32), err, errlen));
}

/* ------------------------------------------------------------- discovery */

static int
region(struct va_vfio *v, uint32_t index, uint64_t *off, uint64_t *size,
    char *err, size_t errlen)
{
	struct vfio_region_info	ri;
	int			rc;

	memset(&ri, 0, sizeof(ri));
	ri.argsz = sizeof(ri);
	ri.index = index;
	if ((rc = vfio_ioctl(v->d->fd, VFIO_DEVICE_GET_REGION_INFO,
	    &ri)) < 0) {
		snprintf(err, errlen, "%s: region %u: %s", v->name, index,
		    strerror(-rc));
		return (rc);
	}
	if (!(ri.flags & VFIO_REGION_INFO_FLAG_READ) ||
	    !(ri.flags & VFIO_REGION_INFO_FLAG_WRITE)) {
		snprintf(err, errlen, "%s: region %u is not readable and "
		    "writable (flags %#x)", v->name, index, ri.flags);
		return (-EACCES);
	}
	*off = ri.offset;
	*size = ri.size;
	return (0);
}

/* An area a capability names must lie inside its BAR. */
static int
area_check(struct va_vfio *v, const struct vpci_area *a, const char *what,
    uint32_t min_len, uint64_t *at, char *err, size_t errlen)
{
	int	rc;

	if (v->bar_size[a->bar] == 0 && (rc = region(v,
	    VFIO_PCI_BAR0_REGION_INDEX + a->bar, &v->bar_off[a->bar],
	    &v->bar_size[a->bar], err, errlen)) != 0)
		return (rc);
	if (a->len < min_len || (uint64_t)a->off + a->len >
	    v->bar_size[a->bar]) {
		snprintf(err, errlen, "%s: the %s capability (at %#x) names "
		    "BAR %u offset %#x length %u: %s", v->name, what,
		    a->cap_at, a->bar, a->off, a->len, a->len < min_len ?
		    "too short" : "past the end of the BAR");
		return (-EPROTO);
	}
	*at = v->bar_off[a->bar] + a->off;
	return (0);
}

static int
discover(struct va_vfio *v, char *err, size_t errlen)
{
	uint8_t		*cfg;
	uint64_t	 off, size, at;
	size_t		 n;
	int		 rc;

	if ((rc = region(v, VFIO_PCI_CONFIG_REGION_INDEX, &off, &size, err,
	    errlen)) != 0)
		return (rc);
	n = size >= VPCI_CFG_SIZE ? VPCI_CFG_SIZE : 256;
	if (size < 256) {
		snprintf(err, errlen, "%s: config region of %llu bytes",
		    v->name, (unsigned long long)size);
		return (-EPROTO);
	}
	if ((cfg = calloc(1, n)) == NULL)
		return (-ENOMEM);
	if ((rc = rd(v, off, cfg, n, "config space", err, errlen)) == 0)
		rc = vpci_parse(cfg, n, v->name, &v->vi, err, errlen);
	free(cfg);
	if (rc != 0)
		return (rc);
	if ((rc = area_check(v, &v->vi.common, "common config",
	    VPCI_COMMON_LEN, &v->common, err, errlen)) != 0)
		return (rc);
	if ((rc = area_check(v, &v->vi.notify, "notify", 2, &at, err,
	    errlen)) != 0)
		return (rc);
	if (!v->vi.sriov || v->vi.num_vfs == 0) {
		snprintf(err, errlen, "%s: %s", v->name, v->vi.sriov ?
		    "NumVFs is 0: no VFs enabled (sriov_numvfs)" :
		    "no SR-IOV capability: not a PF");
		return (-ENODEV);
	}
	return (0);
}

/* ------------------------------------------------------------ the device */

static int
set_status(struct va_vfio *v, uint32_t s, char *err, size_t errlen)
{
	v->touched = 1;
	return (c_wr(v, VPCI_COMMON_STATUS, 1, s, err, errlen));
}

/* Write 0, then wait for the device to read 0 (it may take a while). */
static int
dev_reset(struct va_vfio *v, char *err, size_t errlen)
{
	uint32_t	s = 0xff;
	int		rc, i;

	if ((rc = set_status(v, 0, err, errlen)) != 0)
		return (rc);
	for (i = 0; i < RESET_POLLS; i++) {
		if ((rc = c_rd(v, VPCI_COMMON_STATUS, 1, &s, err,
		    errlen)) != 0)
			return (rc);
		if (s == 0)
			return (0);
		usleep(1000);
	}
	snprintf(err, errlen, "%s: device_status still %#x a second after the "
	    "reset", v->name, s);
	return (-ETIMEDOUT);
}

static int
features(struct va_vfio *v, char *err, size_t errlen)
{
	uint32_t	lo, hi, s;
	uint64_t	f, want;
	int		rc;

	if ((rc = c_wr(v, VPCI_COMMON_DFSELECT, 4, 0, err, errlen)) != 0 ||
	    (rc = c_rd(v, VPCI_COMMON_DF, 4, &lo, err, errlen)) != 0 ||
	    (rc = c_wr(v, VPCI_COMMON_DFSELECT, 4, 1, err, errlen)) != 0 ||
	    (rc = c_rd(v, VPCI_COMMON_DF, 4, &hi, err, errlen)) != 0)
		return (rc);
	f = (uint64_t)hi << 32 | lo;
	if (!(f & (1ULL << VPCI_F_VERSION_1)) ||
	    !(f & (1ULL << VPCI_F_ADMIN_VQ))) {
		snprintf(err, errlen, "%s: the device does not offer %s "
		    "(features %#llx): %s", v->name,
		    !(f & (1ULL << VPCI_F_VERSION_1)) ?
		    "VIRTIO_F_VERSION_1 (32)" : "VIRTIO_F_ADMIN_VQ (41)",
		    (unsigned long long)f, !(f & (1ULL << VPCI_F_VERSION_1)) ?
		    "a legacy device has no admin queue" :
		    "it has no admin queue to migrate its VFs through");
		return (-EOPNOTSUPP);
	}
	want = f & (1ULL << VPCI_F_VERSION_1 | 1ULL << VPCI_F_ADMIN_VQ |
	    1ULL << VPCI_F_ACCESS_PLATFORM);
	if ((rc = c_wr(v, VPCI_COMMON_GFSELECT, 4, 0, err, errlen)) != 0 ||
	    (rc = c_wr(v, VPCI_COMMON_GF, 4, (uint32_t)want, err,
	    errlen)) != 0 ||
	    (rc = c_wr(v, VPCI_COMMON_GFSELECT, 4, 1, err, errlen)) != 0 ||
	    (rc = c_wr(v, VPCI_COMMON_GF, 4, (uint32_t)(want >> 32), err,
	    errlen)) != 0 ||
	    (rc = set_status(v, VPCI_S_ACKNOWLEDGE | VPCI_S_DRIVER |
	    VPCI_S_FEATURES_OK, err, errlen)) != 0 ||
	    (rc = c_rd(v, VPCI_COMMON_STATUS, 1, &s, err, errlen)) != 0)
		return (rc);
	if (!(s & VPCI_S_FEATURES_OK)) {
		snprintf(err, errlen, "%s: the device refused features %#llx "
		    "(FEATURES_OK not set)", v->name, (unsigned long long)want);
		return (-EOPNOTSUPP);
	}
	return (0);
}

/* admin_queue_index/num, the queue size every admin queue can take. */
static int
admin_queues(struct va_vfio *v, struct va_transport *tp,
    const struct va_tp_params *p, uint32_t *qsize, char *err, size_t errlen)
{
	uint32_t	idx, num, numq, max = UINT32_MAX, sz, k, nq;
	int		rc;

	if ((rc = c_rd(v, VPCI_COMMON_NUMQ, 2, &numq, err, errlen)) != 0 ||
	    (rc = c_rd(v, VPCI_COMMON_ADM_Q_IDX, 2, &idx, err, errlen)) != 0 ||
	    (rc = c_rd(v, VPCI_COMMON_ADM_Q_NUM, 2, &num, err, errlen)) != 0)
		return (rc);
	if (num == 0 || idx < numq || idx + num > 0x10000) {
		snprintf(err, errlen, "%s: admin_queue_num %u at "
		    "admin_queue_index %u (num_queues %u): %s", v->name, num,
		    idx, numq, num == 0 ? "no admin queue" :
		    "not after the device's queues");
		return (-EPROTO);
	}
	nq = MIN(num, p->max_queues > 0 ? p->max_queues : VA_TP_MAX_QUEUES);
	nq = MIN(nq, VA_TP_MAX_QUEUES);
	for (k = 0; k < nq; k++) {
		if ((rc = c_wr(v, VPCI_COMMON_Q_SELECT, 2, idx + k, err,
		    errlen)) != 0 ||
		    (rc = c_rd(v, VPCI_COMMON_Q_SIZE, 2, &sz, err,
		    errlen)) != 0)
			return (rc);
		if (sz == 0) {
			snprintf(err, errlen, "%s: admin queue %u has queue_size "
			    "0 (not available)", v->name, idx + k);
			return (-EPROTO);
		}
		max = MIN(max, sz);
		v->qindex[k] = (uint16_t)(idx + k);
	}
	sz = p->qsize > 0 ? p->qsize : DEF_QSIZE;
	sz = MIN(sz, max);
	/* A split ring's size need not be a power of two in 1.x, ours is. */
	while (sz & (sz - 1))
		sz &= sz - 1;
	if (sz < 2) {
		snprintf(err, errlen, "%s: admin queue size %u (the device's "
		    "largest %u): at least 2", v->name, sz, max);
		return (-EPROTO);
	}
	tp->nqueues = nq;
	tp->dev.admin_queues = num;
	tp->dev.max_queue_size = max;
	*qsize = sz;
	return (0);
}

/* Rings then pool in a sealed memfd, mapped here and for the device. */
static int
memory(struct va_vfio *v, struct va_transport *tp,
    const struct va_tp_params *p, uint32_t qsize, struct vq_layout *lay,
    char *err, size_t errlen)
{
	uint64_t	at = 0, pool;
	uint32_t	k;
	int		memfd, e, rc;

	for (k = 0; k < tp->nqueues; k++)
		at = vq_layout_at(&lay[k], qsize, at);
	pool = p->pool_bytes > 0 ? p->pool_bytes : DEF_POOL;
	tp->pool_off = (at + 4095) & ~(uint64_t)4095;
	tp->pool_len = (pool + 4095) & ~(uint64_t)4095;
	tp->memsize = tp->pool_off + tp->pool_len;
	if ((memfd = memfd_create("vmig-adminq", MFD_CLOEXEC |
	    MFD_ALLOW_SEALING)) == -1 ||
	    ftruncate(memfd, (off_t)tp->memsize) == -1 ||
	    fcntl(memfd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW |
	    F_SEAL_SEAL) == -1 ||
	    (tp->mem = mmap(NULL, tp->memsize, PROT_READ | PROT_WRITE,
	    MAP_SHARED, memfd, 0)) == MAP_FAILED) {
		e = errno;
		tp->mem = NULL;
		if (memfd != -1)
			close(memfd);
		snprintf(err, errlen, "%s: ring memory of %llu bytes: %s",
		    v->name, (unsigned long long)tp->memsize, strerror(e));
		return (-e);
	}
	close(memfd);
	for (k = 0; k < tp->nqueues; k++) {
		if ((rc = vq_ring_map(&tp->q[k].ring, tp->mem, tp->memsize,
		    &lay[k], err, errlen)) != 0)
			return (rc);
	}
	if ((rc = vfio_dma_map(v->d, tp->mem, VA_VFIO_IOVA, tp->memsize, err,
	    errlen)) != 0)
		return (rc);
	v->mapped = 1;
	tp->iova = VA_VFIO_IOVA;
	return (0);
}

/* One MSI-X vector per queue, an eventfd each: the call fds. */
static int
irqs(struct va_vfio *v, struct va_transport *tp, char *err, size_t errlen)
{
	struct vfio_irq_info	 ii;
	struct vfio_irq_set	*is;
	uint8_t			 buf[sizeof(*is) + VA_TP_MAX_QUEUES *
				    sizeof(int32_t)];
	int32_t			 fd;
	uint32_t		 k;
	int			 rc;

	memset(&ii, 0, sizeof(ii));
	ii.argsz = sizeof(ii);
	ii.index = VFIO_PCI_MSIX_IRQ_INDEX;
	if ((rc = vfio_ioctl(v->d->fd, VFIO_DEVICE_GET_IRQ_INFO, &ii)) < 0) {
		snprintf(err, errlen, "%s: MSI-X interrupt info: %s", v->name,
		    strerror(-rc));
		return (rc);
	}
	if (ii.count < tp->nqueues || !(ii.flags & VFIO_IRQ_INFO_EVENTFD)) {
		snprintf(err, errlen, "%s: %u MSI-X vectors%s, %u admin queue(s) "
		    "need one each", v->name, ii.count, ii.flags &
		    VFIO_IRQ_INFO_EVENTFD ? "" : " without eventfds",
		    tp->nqueues);
		return (-EPROTO);
	}
	memset(buf, 0, sizeof(buf));
	is = (struct vfio_irq_set *)(void *)buf;
	is->argsz = (uint32_t)(sizeof(*is) + tp->nqueues * sizeof(int32_t));
	is->flags = VFIO_IRQ_SET_DATA_EVENTFD | VFIO_IRQ_SET_ACTION_TRIGGER;
	is->index = VFIO_PCI_MSIX_IRQ_INDEX;
	is->start = 0;
	is->count = tp->nqueues;
	for (k = 0; k < tp->nqueues; k++) {
		if ((tp->q[k].call_fd = eventfd(0, EFD_CLOEXEC |
		    EFD_NONBLOCK)) == -1) {
			rc = -errno;
			snprintf(err, errlen, "%s: eventfd: %s", v->name,
			    strerror(-rc));
			return (rc);
		}
		fd = tp->q[k].call_fd;
		memcpy(buf + sizeof(*is) + k * sizeof(fd), &fd, sizeof(fd));
	}
	if ((rc = vfio_ioctl(v->d->fd, VFIO_DEVICE_SET_IRQS, is)) < 0) {
		snprintf(err, errlen, "%s: VFIO_DEVICE_SET_IRQS (MSI-X, %u "
		    "vectors): %s", v->name, tp->nqueues, strerror(-rc));
		return (rc);
	}
	v->irqs = 1;
	return (0);
}

/* One admin queue: select, size, vector, addresses, notify, enable. */
static int
queue(struct va_vfio *v, struct va_transport *tp, uint32_t k,
    const struct vq_layout *l, char *err, size_t errlen)
{
	uint32_t	vec, noff;
	uint64_t	at;
	int		rc;

	if ((rc = c_wr(v, VPCI_COMMON_Q_SELECT, 2, v->qindex[k], err,
	    errlen)) != 0 ||
	    (rc = c_wr(v, VPCI_COMMON_Q_SIZE, 2, l->size, err, errlen)) != 0 ||
	    (rc = c_wr(v, VPCI_COMMON_Q_MSIX, 2, k, err, errlen)) != 0 ||
	    (rc = c_rd(v, VPCI_COMMON_Q_MSIX, 2, &vec, err, errlen)) != 0)
		return (rc);
	if (vec != k) {
		snprintf(err, errlen, "%s: admin queue %u: queue_msix_vector "
		    "reads %#x, not %u: the device has no vector for it",
		    v->name, v->qindex[k], vec, k);
		return (-EPROTO);
	}
	if ((rc = c_wr64(v, VPCI_COMMON_Q_DESC, tp->iova + l->desc, err,
	    errlen)) != 0 ||
	    (rc = c_wr64(v, VPCI_COMMON_Q_AVAIL, tp->iova + l->avail, err,
	    errlen)) != 0 ||
	    (rc = c_wr64(v, VPCI_COMMON_Q_USED, tp->iova + l->used, err,
	    errlen)) != 0 ||
	    (rc = c_rd(v, VPCI_COMMON_Q_NOFF, 2, &noff, err, errlen)) != 0)
		return (rc);
	at = (uint64_t)noff * v->vi.notify_mult;
	if (at + 2 > v->vi.notify.len) {
		snprintf(err, errlen, "%s: admin queue %u: queue_notify_off %u "
		    "x notify_off_multiplier %u is past the notify area (%u "
		    "bytes)", v->name, v->qindex[k], noff, v->vi.notify_mult,
		    v->vi.notify.len);
		return (-EPROTO);
	}
	v->notify[k] = v->bar_off[v->vi.notify.bar] + v->vi.notify.off + at;
	return (c_wr(v, VPCI_COMMON_Q_ENABLE, 2, 1, err, errlen));
}

/* The PF as the plugin's HELLO would describe it. */
static int
describe(struct va_vfio *v, struct va_transport *tp,
    const struct va_tp_params *p, char *err, size_t errlen)
{
	uint32_t	dialect = p->dialect != 0 ? p->dialect :
			    VA_DIALECT_DRAFT;

	if (dialect == VA_DIALECT_CVQ || !((p->dialects != 0 ? p->dialects :
	    1u << VA_DIALECT_DRAFT) & (1u << dialect))) {
		snprintf(err, errlen, "%s: dialect %s is not spoken over the "
		    "admin queue of a vfio-pci PF here (draft or v14)",
		    v->name, va_dialect_name(dialect));
		return (-EPROTONOSUPPORT);
	}
	tp->dev.device_type = v->vi.device_type;
	tp->dev.num_vfs = v->vi.num_vfs;
	tp->dev.dialect = dialect;
	tp->dev.flags = 0;		/* a PCI function states neither */
	tp->dev.max_ctx_bytes = 0;
	snprintf(tp->dev.name, sizeof(tp->dev.name), "%.31s", tp->target);
	return (0);
}

static int
vfio_setup(struct va_vfio *v, struct va_transport *tp,
    const struct va_tp_params *p, char *err, size_t errlen)
{
	struct vq_layout lay[VA_TP_MAX_QUEUES];
	uint32_t	 qsize, k;
	int		 rc;

	if ((rc = discover(v, err, errlen)) != 0 ||
	    (rc = describe(v, tp, p, err, errlen)) != 0 ||
	    (rc = dev_reset(v, err, errlen)) != 0 ||
	    (rc = set_status(v, VPCI_S_ACKNOWLEDGE, err, errlen)) != 0 ||
	    (rc = set_status(v, VPCI_S_ACKNOWLEDGE | VPCI_S_DRIVER, err,
	    errlen)) != 0 ||
	    (rc = features(v, err, errlen)) != 0 ||
	    (rc = admin_queues(v, tp, p, &qsize, err, errlen)) != 0 ||
	    (rc = memory(v, tp, p, qsize, lay, err, errlen)) != 0 ||
	    (rc = irqs(v, tp, err, errlen)) != 0 ||
	    (rc = c_wr(v, VPCI_COMMON_MSIX, 2, VPCI_NO_VECTOR, err,
	    errlen)) != 0)
		return (rc);
	for (k = 0; k < tp->nqueues; k++) {
		if ((rc = queue(v, tp, k, &lay[k], err, errlen)) != 0)
			return (rc);
	}
	return (set_status(v, VPCI_S_ACKNOWLEDGE | VPCI_S_DRIVER |
	    VPCI_S_FEATURES_OK | VPCI_S_DRIVER_OK, err, errlen));
}

int
va_transport_vfio_open(const char *bdf, const struct va_tp_params *p,
    struct va_transport **tpp, char *err, size_t errlen)
{
	struct vfio_open_opts	 o;
	struct va_transport	*tp;
	struct va_vfio		*v;
	int			 rc;

	*tpp = NULL;
	if ((tp = va_tp_new("vfio", bdf)) == NULL ||
	    (v = calloc(1, sizeof(*v))) == NULL) {
		free(tp);
		snprintf(err, errlen, "vfio:%s: out of memory", bdf);
		return (-ENOMEM);
	}
	snprintf(v->name, sizeof(v->name), "vfio:%s", bdf);
	memset(&o, 0, sizeof(o));
	o.sysfs = p->sysfs[0] != '\0' ? p->sysfs : NULL;
	if ((rc = vfio_open_group(bdf, &o, &v->d, err, errlen)) != 0) {
		free(v);
		free(tp);
		return (rc);
	}
	tp->vfio = v;
	if ((rc = vfio_setup(v, tp, p, err, errlen)) != 0) {
		va_transport_close(tp);
		return (rc);
	}
	*tpp = tp;
	return (0);
}

void
va_vfio_close(struct va_transport *tp)
{
	struct va_vfio		*v = tp->vfio;
	struct vfio_irq_set	 is;
	char			 err[256];

	/* The device lets go of the memory before it is unmapped. */
	if (v->touched && dev_reset(v, err, sizeof(err)) != 0)
		(void)set_status(v, VPCI_S_FAILED, err, sizeof(err));
	if (v->irqs) {
		memset(&is, 0, sizeof(is));
		is.argsz = sizeof(is);
		is.flags = VFIO_IRQ_SET_DATA_NONE |
		    VFIO_IRQ_SET_ACTION_TRIGGER;
		is.index = VFIO_PCI_MSIX_IRQ_INDEX;
		(void)vfio_ioctl(v->d->fd, VFIO_DEVICE_SET_IRQS, &is);
	}
	if (v->mapped)
		(void)vfio_dma_unmap(v->d, VA_VFIO_IOVA, tp->memsize, err,
		    sizeof(err));
	vfio_dev_free(v->d);
	free(v);
	tp->vfio = NULL;
}

int
va_vfio_kick(struct va_transport *tp, unsigned int q)
{
	struct va_vfio	*v = tp->vfio;
	uint8_t		 b[2] = { v->qindex[q] & 0xff, v->qindex[q] >> 8 };
	int		 rc;

	rc = vfio_pwrite_all(v->d->fd, b, sizeof(b), v->notify[q]);
	return (rc);
}
