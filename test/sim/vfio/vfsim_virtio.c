/*
 * vfsim_virtio.c: a virtio PCI PF behind vfio-pci (--dev virtio=SOCK).
 *
 * Its config space and BAR 0 are a modern virtio-net PF's (transport-pci
 * of virtio 1.x; the layout in plugins/virtio-admin/virtio_pci.h): the
 * vendor capabilities (common, notify, ISR, device), MSI-X, SR-IOV with
 * the VFs of the simulated PF (vmig-simdev) at SOCK, whose HELLO at
 * start-up says how many VFs, admin queues and how large a ring. The
 * admin commands are that simdev's: when the driver sets DRIVER_OK, the
 * "device" hands the simdev what a real PF's DMA engine would reach —
 * the file behind the DMA mapping that holds the admin rings (the IOVA
 * of its first byte, so descriptor addresses are translated and checked
 * there), a kick eventfd per queue (written when the driver writes the
 * notify address) and the MSI-X eventfds the driver set with
 * VFIO_DEVICE_SET_IRQS as the call fds — over the sim handshake.
 *
 * Rules (transport-pci.tex, Linux virtio_pci_modern_dev.c): read-only
 * fields ignore writes; a field is written at its width (64-bit addresses
 * as two 32-bit halves too); features are taken only before FEATURES_OK
 * and FEATURES_OK only stays for a subset with VERSION_1; queue fields
 * change only while the queue is disabled; queue_enable only goes to 1;
 * status bits are only added, 0 resets; an unknown MSI-X vector reads
 * back NO_VECTOR; at DRIVER_OK every enabled admin queue must lie inside
 * one DMA mapping of the device's address space, else the device sets
 * DEVICE_NEEDS_RESET, as a device that faulted. Unmapping that memory
 * under a live device does the same.
 */
#include "config.h"

#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/un.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "handshake.h"
#include "log.h"
#include "util.h"
#include "vfio_compat.h"
#include "vfsim.h"
#include "virtio_pci.h"

#define BAR0_SIZE	0x8000
#define COMMON_AT	0x0000
#define NOTIFY_AT	0x1000
#define NOTIFY_LEN	0x1000
#define NOTIFY_MULT	4
#define ISR_AT		0x2000
#define DEVCFG_AT	0x3000
#define DEVCFG_LEN	0x100
#define MSIX_TABLE_AT	0x5000
#define MSIX_PBA_AT	0x6000
#define NET_QUEUES	3		/* rx, tx, control */
#define HS_TIMEOUT_MS	2000

static int
le_get(const uint8_t *p, size_t n, uint64_t *v)
{
	size_t	i;

	*v = 0;
	for (i = 0; i < n; i++)
		*v |= (uint64_t)p[i] << (8 * i);
	return (0);
}

static void
le_put(uint8_t *p, size_t n, uint64_t v)
{
	size_t	i;

	for (i = 0; i < n; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

/* ------------------------------------------------------ config space */

static void
vcap(uint8_t *c, uint8_t at, uint8_t next, uint8_t len, uint8_t type,
    uint8_t bar, uint32_t off, uint32_t alen)
{
	c[at] = VPCI_CAP_ID_VNDR;
	c[at + 1] = next;
	c[at + 2] = len;
	c[at + 3] = type;
	c[at + 4] = bar;
	le_put(c + at + 8, 4, off);
	le_put(c + at + 12, 4, alen);
}

static void
cfg_build(struct vdev *d)
{
	struct vpci	*v = d->virtio;
	uint8_t		*c = v->cfg;
	uint8_t		 cbar = 0;
	uint32_t	 coff = COMMON_AT;

	memset(c, 0, sizeof(v->cfg));
	le_put(c + VPCI_VENDOR_ID, 2, VPCI_VENDOR_VIRTIO);
	le_put(c + VPCI_DEVICE_ID, 2, VPCI_DEVICE_MODERN +
	    v->hello.device_type);
	le_put(c + VPCI_STATUS, 2, VPCI_STATUS_CAP_LIST);
	c[0x08] = 1;				/* revision: modern */
	c[0x0b] = 0x02;				/* class: network */
	le_put(c + 0x10, 4, 0xfe000000u | 0xc);	/* BAR 0: 64-bit, pref. */
	le_put(c + 0x2c, 2, VPCI_VENDOR_VIRTIO);
	le_put(c + 0x2e, 2, v->hello.device_type);
	c[VPCI_CAP_PTR] = 0x40;
	/* MSI-X: table and PBA in BAR 0 */
	c[0x40] = VPCI_CAP_ID_MSIX;
	c[0x41] = 0x4c;
	le_put(c + 0x42, 2, VPCI_NVEC - 1);
	le_put(c + 0x44, 4, MSIX_TABLE_AT);
	le_put(c + 0x48, 4, MSIX_PBA_AT);
	if (strcmp(v->flaw, "cap_bar7") == 0)
		cbar = 7;			/* reserved: to be ignored */
	if (strcmp(v->flaw, "cap_past_bar") == 0)
		coff = BAR0_SIZE - 0x20;
	vcap(c, 0x4c, 0x5c, 16, VPCI_CAP_COMMON, cbar, coff, VPCI_COMMON_LEN);
	vcap(c, 0x5c, 0x70, 20, VPCI_CAP_NOTIFY, 0, NOTIFY_AT, NOTIFY_LEN);
	le_put(c + 0x5c + 16, 4, NOTIFY_MULT);
	vcap(c, 0x70, 0x80, 16, VPCI_CAP_ISR, 0, ISR_AT, 4);
	vcap(c, 0x80, 0, 16, VPCI_CAP_DEVICE, 0, DEVCFG_AT, DEVCFG_LEN);
	/* SR-IOV, the first extended capability */
	le_put(c + 0x100, 4, VPCI_EXT_CAP_SRIOV | 1u << 16);
	le_put(c + 0x100 + 0x0c, 2, v->hello.num_vfs);	/* InitialVFs */
	le_put(c + 0x100 + VPCI_SRIOV_TOTAL_VFS, 2, v->hello.num_vfs);
	le_put(c + 0x100 + VPCI_SRIOV_NUM_VFS, 2, v->hello.num_vfs);
	le_put(c + 0x100 + 0x14, 2, 1);			/* First VF offset */
	le_put(c + 0x100 + 0x16, 2, 1);			/* VF stride */
	le_put(c + 0x100 + 0x1a, 2, VPCI_DEVICE_MODERN +
	    v->hello.device_type);
}

/* What the simdev is: its HELLO, on a connection closed at once. */
static int
simdev_connect(struct vpci *v, struct va_hello *h, char *err, size_t errlen)
{
	struct sockaddr_un	 sun;
	uint8_t			 buf[VA_HS_HELLO_LEN];
	int			 s, fds[2], nfds = 0, k;
	ssize_t			 n;

	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", v->sock);
	if ((s = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0)) == -1 ||
	    connect(s, (struct sockaddr *)&sun, sizeof(sun)) == -1) {
		snprintf(err, errlen, "simdev %s: %s", v->sock,
		    strerror(errno));
		if (s != -1)
			close(s);
		return (-1);
	}
	if (va_wait_readable(s, HS_TIMEOUT_MS) <= 0 ||
	    (n = va_sock_recv(s, buf, sizeof(buf), fds, 2, &nfds)) <= 0 ||
	    va_hello_get(buf, (size_t)n, h, err, errlen) != 0) {
		if (err[0] == '\0')
			snprintf(err, errlen, "simdev %s: no HELLO", v->sock);
		close(s);
		return (-1);
	}
	for (k = 0; k < nfds; k++)
		close(fds[k]);
	if (h->status != 0) {
		snprintf(err, errlen, "simdev %s: refused: %s", v->sock, h->msg);
		close(s);
		return (-1);
	}
	return (s);
}

void
vfs_virtio_init(struct vdev *d)
{
	struct vpci	*v = d->virtio;
	char		 err[256] = "";
	unsigned int	 i;
	int		 s;

	if ((s = simdev_connect(v, &v->hello, err, sizeof(err))) == -1)
		fatalx("--dev %s: %s", d->bdf, err);
	close(s);
	v->conn = -1;
	for (i = 0; i < VPCI_NVEC; i++)
		v->irq[i] = -1;
	for (i = 0; i < VA_HS_MAX_QUEUES; i++)
		v->kick[i] = -1;
	v->numq = NET_QUEUES;
	v->adm_idx = NET_QUEUES;
	v->adm_num = strcmp(v->flaw, "admin_num0") == 0 ? 0 :
	    (uint16_t)MIN(v->hello.admin_queues, VA_HS_MAX_QUEUES);
	v->features = 1ULL << VPCI_F_VERSION_1 | 1ULL << VPCI_F_ACCESS_PLATFORM |
	    1ULL << 5 | 1ULL << 17;		/* NET_F_MAC, NET_F_CTRL_VQ */
	if (strcmp(v->flaw, "no_admin_vq") != 0)
		v->features |= 1ULL << VPCI_F_ADMIN_VQ;
	cfg_build(d);
	vfs_virtio_reset(d);
	log_info("%s: %s: virtio PF of %s: %u VFs, %u admin queue(s), "
	    "flaw %s", __func__, d->bdf, v->sock, v->hello.num_vfs, v->adm_num,
	    v->flaw[0] != '\0' ? v->flaw : "none");
}

/* Device reset: every queue and the link to the simdev go. */
void
vfs_virtio_reset(struct vdev *d)
{
	struct vpci	*v = d->virtio;
	unsigned int	 i;

	if (v == NULL)
		return;
	if (v->conn != -1) {
		close(v->conn);		/* the simdev forgets the driver */
		v->conn = -1;
	}
	for (i = 0; i < VA_HS_MAX_QUEUES; i++) {
		if (v->kick[i] != -1)
			close(v->kick[i]);
		v->kick[i] = -1;
	}
	v->status = 0;
	v->driver_features = 0;
	v->dfselect = v->gfselect = 0;
	v->qselect = 0;
	v->msix_config = VPCI_NO_VECTOR;
	memset(v->q, 0, sizeof(v->q));
	for (i = 0; i < VPCI_MAXQ; i++) {
		v->q[i].size = v->q[i].max = i < v->numq ? 256 :
		    i < (unsigned int)v->adm_idx + v->adm_num ?
		    (strcmp(v->flaw, "qsize0") == 0 ? 0 :
		    (uint16_t)MIN(v->hello.max_queue_size, 32768)) : 0;
		v->q[i].msix = VPCI_NO_VECTOR;
	}
}

/* Release of the device file, or its reset: interrupts go too. */
void
vfs_virtio_release(struct vdev *d)
{
	struct vpci	*v = d->virtio;
	unsigned int	 i;

	if (v == NULL)
		return;
	vfs_virtio_reset(d);
	for (i = 0; i < VPCI_NVEC; i++) {
		if (v->irq[i] != -1)
			close(v->irq[i]);
		v->irq[i] = -1;
	}
}

/* ----------------------------------------------------------- DRIVER_OK */

static const struct vmap *
map_of(const struct vdev *d, uint64_t iova, uint64_t len)
{
	const struct vas	*as = vfs_dev_as(d);
	const struct vmap	*m;

	if (as == NULL)
		return (NULL);
	TAILQ_FOREACH(m, &as->maps, entry) {
		if (iova >= m->iova && len <= m->size &&
		    iova - m->iova <= m->size - len)
			return (m);
	}
	return (NULL);
}

/* The SETUP for the enabled admin queues; the mapping they live in. */
static int
setup_build(struct vdev *d, struct va_setup *s, const struct vmap **mp,
    char *err, size_t errlen)
{
	struct vpci		*v = d->virtio;
	const struct vmap	*m = NULL, *x;
	struct vvq		*q;
	unsigned int		 k;
	uint64_t		 a[3], l[3];
	int			 j;

	memset(s, 0, sizeof(*s));
	for (k = 0; k < v->adm_num && v->q[v->adm_idx + k].enable; k++) {
		q = &v->q[v->adm_idx + k];
		a[0] = q->desc;
		a[1] = q->avail;
		a[2] = q->used;
		l[0] = vq_desc_bytes(q->size);
		l[1] = vq_avail_bytes(q->size);
		l[2] = vq_used_bytes(q->size);
		for (j = 0; j < 3; j++) {
			if ((x = map_of(d, a[j], l[j])) == NULL || (m != NULL &&
			    x != m)) {
				snprintf(err, errlen, "admin queue %u: %#llx+%llu "
				    "is %s", v->adm_idx + k,
				    (unsigned long long)a[j],
				    (unsigned long long)l[j], x == NULL ?
				    "not DMA-mapped (IOMMU fault)" :
				    "in another mapping than queue 0's");
				return (-EFAULT);
			}
			m = x;
		}
		s->q[k].size = q->size;
		s->q[k].desc = q->desc - (m->iova - m->foff);
		s->q[k].avail = q->avail - (m->iova - m->foff);
		s->q[k].used = q->used - (m->iova - m->foff);
	}
	if (k == 0) {
		snprintf(err, errlen, "DRIVER_OK with no admin queue enabled "
		    "(from %u)", v->adm_idx);
		return (-EINVAL);
	}
	s->nqueues = k;
	s->mem_size = m->foff + m->size;
	s->iova = m->iova - m->foff;	/* the IOVA of the file's byte 0 */
	*mp = m;
	return (0);
}

/* Hand the simdev the admin queues, as the PF's own firmware would. */
static int
driver_ok(struct vdev *d, char *err, size_t errlen)
{
	struct vpci		*v = d->virtio;
	const struct vmap	*m;
	struct va_setup		 s;
	struct va_hello		 h;
	struct va_ack		 ack;
	uint8_t			 buf[VA_HS_MAX_LEN + VA_HS_HELLO_LEN];
	int			 fds[VA_HS_MAX_FDS], nfds = 0, rfds[2], nr = 0;
	int			 dummy[VA_HS_MAX_QUEUES], c, k, rc;
	uint16_t		 vec;
	ssize_t			 n;

	if ((rc = setup_build(d, &s, &m, err, errlen)) != 0)
		return (rc);
	for (k = 0; k < (int)s.nqueues; k++)
		dummy[k] = -1;
	fds[nfds++] = m->fd;
	for (k = 0; k < (int)s.nqueues; k++) {
		v->kick[k] = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
		vec = v->q[v->adm_idx + k].msix;
		/* A vector without an eventfd: its interrupts go nowhere. */
		if (vec >= VPCI_NVEC || v->irq[vec] == -1)
			dummy[k] = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
		fds[nfds++] = v->kick[k];
		fds[nfds++] = dummy[k] != -1 ? dummy[k] : v->irq[vec];
	}
	rc = -EIO;
	if ((c = simdev_connect(v, &h, err, errlen)) == -1)
		goto out;
	if (va_sock_send(c, buf, va_setup_put(buf, &s), fds, nfds) != 0 ||
	    va_wait_readable(c, HS_TIMEOUT_MS) <= 0 ||
	    (n = va_sock_recv(c, buf, sizeof(buf), rfds, 2, &nr)) <= 0 ||
	    va_ack_get(buf, (size_t)n, &ack, err, errlen) != 0) {
		if (err[0] == '\0')
			snprintf(err, errlen, "simdev %s: no ACK", v->sock);
		close(c);
		goto out;
	}
	if (ack.status != 0) {
		snprintf(err, errlen, "simdev %s refused the queues: %s",
		    v->sock, ack.msg);
		close(c);
		goto out;
	}
	v->conn = c;
	v->conn_map = m;
	rc = 0;
	log_info("%s: %s: %u admin queue(s) handed to %s, memory at IOVA "
	    "%#llx", __func__, d->bdf, s.nqueues, v->sock,
	    (unsigned long long)s.iova);
out:
	for (k = 0; k < nr; k++)
		close(rfds[k]);
	for (k = 0; k < (int)s.nqueues; k++) {
		if (dummy[k] != -1)
			close(dummy[k]);
	}
	return (rc);
}

/* The mapping under a live device went away: it faults. */
void
vfs_virtio_as_changed(struct vdev *d)
{
	struct vpci		*v = d->virtio;
	const struct vas	*as = vfs_dev_as(d);
	const struct vmap	*m;

	if (v == NULL || v->conn == -1)
		return;
	if (as != NULL) {
		TAILQ_FOREACH(m, &as->maps, entry) {
			if (m == v->conn_map)
				return;
		}
	}
	log_warnx("%s: %s: the admin queue memory was unmapped under the "
	    "running device: DMA fault, DEVICE_NEEDS_RESET", __func__, d->bdf);
	close(v->conn);
	v->conn = -1;
	v->conn_map = NULL;
	v->status |= VPCI_S_NEEDS_RESET;
}

/* ------------------------------------------------------- common config */

static void
common_image(struct vpci *v, uint8_t *c)
{
	struct vvq	*q = v->qselect < VPCI_MAXQ ? &v->q[v->qselect] : NULL;

	memset(c, 0, VPCI_COMMON_LEN);
	le_put(c + VPCI_COMMON_DFSELECT, 4, v->dfselect);
	le_put(c + VPCI_COMMON_DF, 4, v->dfselect < 2 ?
	    (uint32_t)(v->features >> (32 * v->dfselect)) : 0);
	le_put(c + VPCI_COMMON_GFSELECT, 4, v->gfselect);
	le_put(c + VPCI_COMMON_GF, 4, v->gfselect < 2 ?
	    (uint32_t)(v->driver_features >> (32 * v->gfselect)) : 0);
	le_put(c + VPCI_COMMON_MSIX, 2, v->msix_config);
	le_put(c + VPCI_COMMON_NUMQ, 2, v->numq);
	c[VPCI_COMMON_STATUS] = v->status;
	le_put(c + VPCI_COMMON_Q_SELECT, 2, v->qselect);
	if (q != NULL) {
		le_put(c + VPCI_COMMON_Q_SIZE, 2, q->size);
		le_put(c + VPCI_COMMON_Q_MSIX, 2, q->msix);
		le_put(c + VPCI_COMMON_Q_ENABLE, 2, q->enable);
		le_put(c + VPCI_COMMON_Q_NOFF, 2, v->qselect);
		le_put(c + VPCI_COMMON_Q_DESC, 8, q->desc);
		le_put(c + VPCI_COMMON_Q_AVAIL, 8, q->avail);
		le_put(c + VPCI_COMMON_Q_USED, 8, q->used);
	} else
		le_put(c + VPCI_COMMON_Q_MSIX, 2, VPCI_NO_VECTOR);
	if (v->driver_features & (1ULL << VPCI_F_ADMIN_VQ)) {
		le_put(c + VPCI_COMMON_ADM_Q_IDX, 2, v->adm_idx);
		le_put(c + VPCI_COMMON_ADM_Q_NUM, 2, v->adm_num);
	}
}

static void
status_write(struct vdev *d, uint8_t s)
{
	struct vpci	*v = d->virtio;
	uint64_t	 f = v->driver_features;
	char		 err[256] = "";

	if (s == 0) {
		vfs_virtio_reset(d);
		return;
	}
	if (s & ~v->status & VPCI_S_FEATURES_OK) {
		if ((f & ~v->features) != 0 ||
		    !(f & (1ULL << VPCI_F_VERSION_1))) {
			log_info("%s: %s: features %#llx refused (offered "
			    "%#llx)", __func__, d->bdf, (unsigned long long)f,
			    (unsigned long long)v->features);
			s &= ~VPCI_S_FEATURES_OK;
		}
	}
	if ((s & VPCI_S_DRIVER_OK) && !(v->status & VPCI_S_DRIVER_OK)) {
		if (!(s & VPCI_S_FEATURES_OK) || driver_ok(d, err,
		    sizeof(err)) != 0) {
			log_warnx("%s: %s: DRIVER_OK: %s", __func__, d->bdf,
			    err[0] != '\0' ? err : "without FEATURES_OK");
			s |= VPCI_S_NEEDS_RESET;
		}
	}
	v->status |= s;		/* bits are added, never taken away */
}

/* One field written at its own width (the spec's rule for drivers). */
static void
common_write(struct vdev *d, uint32_t off, const uint8_t *b, size_t n)
{
	struct vpci	*v = d->virtio;
	struct vvq	*q = v->qselect < VPCI_MAXQ ? &v->q[v->qselect] : NULL;
	int		 live = q != NULL && !q->enable &&
			    !(v->status & VPCI_S_DRIVER_OK);
	uint64_t	 x;
	int		 sh;

	le_get(b, n, &x);
	switch (off | (uint32_t)n << 8) {
	case VPCI_COMMON_DFSELECT | 4 << 8:
		v->dfselect = (uint32_t)x;
		return;
	case VPCI_COMMON_GFSELECT | 4 << 8:
		v->gfselect = (uint32_t)x;
		return;
	case VPCI_COMMON_GF | 4 << 8:
		if (v->gfselect >= 2 || (v->status & VPCI_S_FEATURES_OK))
			return;
		sh = 32 * (int)v->gfselect;
		v->driver_features = (v->driver_features &
		    ~(0xffffffffULL << sh)) | x << sh;
		return;
	case VPCI_COMMON_MSIX | 2 << 8:
		v->msix_config = x < VPCI_NVEC ? (uint16_t)x : VPCI_NO_VECTOR;
		return;
	case VPCI_COMMON_STATUS | 1 << 8:
		status_write(d, (uint8_t)x);
		return;
	case VPCI_COMMON_Q_SELECT | 2 << 8:
		v->qselect = (uint16_t)x;
		return;
	case VPCI_COMMON_Q_SIZE | 2 << 8:
		if (live && x != 0 && x <= q->max)
			q->size = (uint16_t)x;
		return;
	case VPCI_COMMON_Q_MSIX | 2 << 8:
		if (live)
			q->msix = x < VPCI_NVEC ? (uint16_t)x : VPCI_NO_VECTOR;
		return;
	case VPCI_COMMON_Q_ENABLE | 2 << 8:
		if (live && x == 1 && q->max != 0 && q->desc != 0)
			q->enable = 1;
		return;
	}
	/* the queue addresses: whole, or as 32-bit halves */
	if (off >= VPCI_COMMON_Q_DESC && off < VPCI_COMMON_Q_NDATA &&
	    (n == 8 ? off % 8 == 0 : n == 4 && off % 4 == 0)) {
		uint64_t *f;

		if (!live)
			return;
		f = off < VPCI_COMMON_Q_AVAIL ? &q->desc :
		    off < VPCI_COMMON_Q_USED ? &q->avail : &q->used;
		sh = n == 8 ? 0 : (off % 8) * 8;
		*f = n == 8 ? x : (*f & ~(0xffffffffULL << sh)) | x << sh;
		return;
	}
	log_debug("%s: %s: write of %zu bytes at %#x ignored (read-only or "
	    "not at the field's width)", __func__, d->bdf, n, off);
}

/* ---------------------------------------------------------------- BAR 0 */

static void
notify_write(struct vdev *d, uint32_t off, const uint8_t *b, size_t n)
{
	struct vpci	*v = d->virtio;
	uint64_t	 qi, one = 1;
	unsigned int	 k;

	le_get(b, n, &qi);
	/* queue_notify_off = the queue index, times the multiplier */
	if (n != 2 || off % NOTIFY_MULT != 0 || off / NOTIFY_MULT != qi ||
	    !(v->status & VPCI_S_DRIVER_OK) || v->conn == -1)
		return;
	if (qi < v->adm_idx || qi >= (uint64_t)v->adm_idx + v->adm_num)
		return;		/* the net queues: no one behind them */
	k = (unsigned int)(qi - v->adm_idx);
	if (k < VA_HS_MAX_QUEUES && v->kick[k] != -1 &&
	    write(v->kick[k], &one, sizeof(one)) != sizeof(one))
		log_debug("%s: kick: %s", __func__, strerror(errno));
}

long
vfs_virtio_bar_rw(struct vfs_file *f, struct vdev *d, int wr, uint64_t buf,
    uint64_t count, uint64_t off)
{
	struct vpci	*v = d->virtio;
	uint8_t		 b[8], img[VPCI_COMMON_LEN];
	uint32_t	 coff;
	int		 rc;

	/* vfio_pci_core_do_io_rw: 1, 2, 4 or 8 bytes, naturally aligned */
	if (off >= BAR0_SIZE || count > BAR0_SIZE - off)
		return (-EINVAL);
	if ((count != 1 && count != 2 && count != 4 && count != 8) ||
	    off % count != 0)
		return (-EINVAL);
	memset(b, 0, sizeof(b));
	if (wr && (rc = vfs_copy_from(f, buf, b, count)) != 0)
		return (rc);
	coff = strcmp(v->flaw, "cap_past_bar") == 0 ? BAR0_SIZE : COMMON_AT;
	if (off >= coff && off - coff < VPCI_COMMON_LEN) {
		if (wr)
			common_write(d, (uint32_t)(off - coff), b, count);
		else {
			common_image(v, img);
			if (off - coff + count <= VPCI_COMMON_LEN)
				memcpy(b, img + off - coff, count);
		}
	} else if (off >= NOTIFY_AT && off < NOTIFY_AT + NOTIFY_LEN) {
		if (wr)
			notify_write(d, (uint32_t)(off - NOTIFY_AT), b, count);
	} else if (off >= DEVCFG_AT && off < DEVCFG_AT + DEVCFG_LEN && !wr) {
		/* virtio_net_config: mac, status (link up), 1 pair */
		uint8_t	nc[16] = { 0x02, 0x00, 0x00, 0x00, 0x00, 0x01, 1, 0,
			    1, 0 };

		if (off - DEVCFG_AT + count <= sizeof(nc))
			memcpy(b, nc + off - DEVCFG_AT, count);
	}
	/* ISR (read-to-clear, we raise none), MSI-X table/PBA: zeros */
	if (!wr && (rc = vfs_copy_to(f, buf, b, count)) != 0)
		return (rc);
	return ((long)count);
}

long
vfs_virtio_cfg_rw(struct vfs_file *f, struct vdev *d, int wr, uint64_t buf,
    uint64_t count, uint64_t off)
{
	struct vpci	*v = d->virtio;
	int		 rc;

	if (off >= sizeof(v->cfg))
		return (0);
	if (count > sizeof(v->cfg) - off)
		count = sizeof(v->cfg) - off;
	if (wr)
		return ((long)count);	/* vfio-pci virtualises: ignored */
	if ((rc = vfs_copy_to(f, buf, v->cfg + off, count)) != 0)
		return (rc);
	return ((long)count);
}

/* ---------------------------------------------------------- interrupts */

long
vfs_virtio_irq_info(struct vfs_file *f, struct vdev *d, uint64_t arg)
{
	struct vfio_irq_info	ii;
	int			rc;

	if ((rc = vfs_copy_from(f, arg, &ii, sizeof(ii))) != 0)
		return (rc);
	if (ii.argsz < sizeof(ii) || ii.index >= VFIO_PCI_NUM_IRQS)
		return (-EINVAL);
	ii.flags = VFIO_IRQ_INFO_EVENTFD;
	ii.count = 0;
	if (ii.index == VFIO_PCI_INTX_IRQ_INDEX)
		ii.count = 1;
	else if (ii.index == VFIO_PCI_MSIX_IRQ_INDEX) {
		ii.count = d->virtio != NULL ? VPCI_NVEC : 0;
		ii.flags |= VFIO_IRQ_INFO_NORESIZE;
	} else if (ii.index >= VFIO_PCI_ERR_IRQ_INDEX)
		ii.count = 1;
	return (vfs_copy_to(f, arg, &ii, sizeof(ii)));
}

/* vfio_set_irqs_validate_and_prepare, then MSI-X triggers only. */
long
vfs_virtio_set_irqs(struct vfs_file *f, struct vdev *d, uint64_t arg)
{
	struct vpci		*v = d->virtio;
	struct vfio_irq_set	 is;
	int32_t			 ufd[VPCI_NVEC];
	int			 nfd[VPCI_NVEC];
	uint32_t		 max, dt, at, i;
	int			 rc;

	if ((rc = vfs_copy_from(f, arg, &is, sizeof(is))) != 0)
		return (rc);
	if (is.argsz < sizeof(is) || is.index >= VFIO_PCI_NUM_IRQS ||
	    (is.flags & ~(VFIO_IRQ_SET_DATA_TYPE_MASK |
	    VFIO_IRQ_SET_ACTION_TYPE_MASK)))
		return (-EINVAL);
	dt = is.flags & VFIO_IRQ_SET_DATA_TYPE_MASK;
	at = is.flags & VFIO_IRQ_SET_ACTION_TYPE_MASK;
	if ((dt & (dt - 1)) != 0 || dt == 0 || (at & (at - 1)) != 0 ||
	    at == 0)
		return (-EINVAL);
	max = is.index == VFIO_PCI_MSIX_IRQ_INDEX && v != NULL ? VPCI_NVEC :
	    is.index == VFIO_PCI_MSI_IRQ_INDEX ? 0 : 1;
	if ((is.count == 0 && !(dt & VFIO_IRQ_SET_DATA_NONE)) ||
	    is.start >= max + (is.count == 0) || is.count > max - is.start)
		return (-EINVAL);
	if (is.index != VFIO_PCI_MSIX_IRQ_INDEX || v == NULL ||
	    at != VFIO_IRQ_SET_ACTION_TRIGGER)
		return (-ENOTTY);	/* only what a virtio PF driver needs */
	if (dt == VFIO_IRQ_SET_DATA_NONE) {
		if (is.count != 0)
			return (-EINVAL);
		for (i = 0; i < VPCI_NVEC; i++) {
			if (v->irq[i] != -1)
				close(v->irq[i]);
			v->irq[i] = -1;
		}
		return (0);		/* MSI-X disabled */
	}
	if (dt != VFIO_IRQ_SET_DATA_EVENTFD ||
	    is.argsz - sizeof(is) < is.count * sizeof(int32_t))
		return (-EINVAL);
	if ((rc = vfs_copy_from(f, arg + sizeof(is), ufd, is.count *
	    sizeof(int32_t))) != 0)
		return (rc);
	for (i = 0; i < is.count; i++) {
		nfd[i] = -1;
		if (ufd[i] >= 0 && (rc = vfs_getfd(f, ufd[i], &nfd[i])) != 0) {
			while (i-- > 0)
				if (nfd[i] != -1)
					close(nfd[i]);
			return (rc);	/* not an eventfd: -EINVAL */
		}
	}
	for (i = 0; i < is.count; i++) {
		if (v->irq[is.start + i] != -1)
			close(v->irq[is.start + i]);
		v->irq[is.start + i] = nfd[i];
	}
	log_info("%s: %s: MSI-X vectors %u..%u set", __func__, d->bdf,
	    is.start, is.start + is.count - 1);
	return (0);
}
