/*
 * test_vfio_virtio.c: the simulated kernel's virtio PF (vmig-simvfio
 * --dev virtio=SOCK) and the vfio:BDF transport against it, through the
 * real system calls (the interposer): the rules a real PF enforces on
 * its common config, DMA outside a mapping, unmapping under a live
 * device, SET_IRQS with something that is not an eventfd, and the
 * transport's open, kick, call and close.
 */
#include "config.h"

#include <sys/eventfd.h>
#include <sys/mman.h>

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <criterion/criterion.h>

#include "transport.h"
#include "vfio_compat.h"
#include "vfio_testlib.h"
#include "virtio_pci.h"

#define BDF	"0000:3c:00.0"
#define CFG	((uint64_t)VFIO_PCI_CONFIG_REGION_INDEX << 40)
#define BAR0	0ULL
#define IOVA	0x40000000ULL

static struct simproc	 pf;
static struct vt	 k;

static void
up(void)
{
	char		 dev[256];
	const char	*args[3] = { "--dev", dev, NULL };

	cr_assert_eq(simproc_start(&pf, 2, NULL), 0);
	snprintf(dev, sizeof(dev), "bdf=" BDF ",virtio=%s", pf.sock);
	vt_start(&k, args);
}

static void
down(void)
{
	vt_stop(&k);
	simproc_stop(&pf);
}

static uint32_t
rd(struct vfio_dev *d, uint64_t off, size_t n)
{
	uint8_t	 b[4] = { 0, 0, 0, 0 };

	cr_assert_eq(vfio_pread_all(d->fd, b, n, off), 0);
	return ((uint32_t)b[0] | (uint32_t)b[1] << 8 | (uint32_t)b[2] << 16 |
	    (uint32_t)b[3] << 24);
}

static void
wr(struct vfio_dev *d, uint64_t off, size_t n, uint32_t v)
{
	uint8_t	b[4] = { v & 0xff, (v >> 8) & 0xff, (v >> 16) & 0xff,
	    v >> 24 };

	cr_assert_eq(vfio_pwrite_all(d->fd, b, n, off), 0);
}

static int
connected(void)
{
	char	reply[256], val[16];

	cr_assert_eq(simproc_cmd(&pf, reply, sizeof(reply), "info"), 0);
	cr_assert_eq(simproc_field(reply, "connected", val, sizeof(val)), 0);
	return (atoi(val));
}

/* Wait (a liveness bound) for the simdev to see its driver come or go. */
static void
wait_connected(int want)
{
	int	i;

	for (i = 0; i < 500 && connected() != want; i++)
		usleep(10000);
	cr_assert_eq(connected(), want);
}

/* Acknowledge, features with ADMIN_VQ, FEATURES_OK. */
static void
negotiate(struct vfio_dev *d)
{
	wr(d, BAR0 + VPCI_COMMON_STATUS, 1, 0);
	wr(d, BAR0 + VPCI_COMMON_STATUS, 1, VPCI_S_ACKNOWLEDGE |
	    VPCI_S_DRIVER);
	wr(d, BAR0 + VPCI_COMMON_GFSELECT, 4, 1);
	wr(d, BAR0 + VPCI_COMMON_GF, 4, 1 << (VPCI_F_VERSION_1 - 32) |
	    1 << (VPCI_F_ADMIN_VQ - 32));
	wr(d, BAR0 + VPCI_COMMON_STATUS, 1, VPCI_S_ACKNOWLEDGE |
	    VPCI_S_DRIVER | VPCI_S_FEATURES_OK);
	cr_assert(rd(d, BAR0 + VPCI_COMMON_STATUS, 1) & VPCI_S_FEATURES_OK);
}

/* The admin queue (index 3 here) at iova, size 16. */
static void
program(struct vfio_dev *d, uint64_t iova)
{
	uint16_t aq = (uint16_t)rd(d, BAR0 + VPCI_COMMON_ADM_Q_IDX, 2);

	wr(d, BAR0 + VPCI_COMMON_Q_SELECT, 2, aq);
	wr(d, BAR0 + VPCI_COMMON_Q_SIZE, 2, 16);
	wr(d, BAR0 + VPCI_COMMON_Q_DESC, 4, (uint32_t)iova);
	wr(d, BAR0 + VPCI_COMMON_Q_DESC + 4, 4, (uint32_t)(iova >> 32));
	wr(d, BAR0 + VPCI_COMMON_Q_AVAIL, 4, (uint32_t)iova + 0x100);
	wr(d, BAR0 + VPCI_COMMON_Q_AVAIL + 4, 4, (uint32_t)(iova >> 32));
	wr(d, BAR0 + VPCI_COMMON_Q_USED, 4, (uint32_t)iova + 0x200);
	wr(d, BAR0 + VPCI_COMMON_Q_USED + 4, 4, (uint32_t)(iova >> 32));
	wr(d, BAR0 + VPCI_COMMON_Q_ENABLE, 2, 1);
}

Test(vfio_virtio, config_space_and_read_only_fields, .init = up,
    .fini = down)
{
	struct vfio_dev	*d = vt_open(&k, "vfio:" BDF);
	uint32_t	 f0, nq;

	cr_assert_eq(rd(d, CFG + VPCI_VENDOR_ID, 2), VPCI_VENDOR_VIRTIO);
	cr_assert_eq(rd(d, CFG + VPCI_DEVICE_ID, 2), 0x1041);
	cr_assert_eq(rd(d, CFG + 0x100 + VPCI_SRIOV_NUM_VFS, 2), 2);
	/* read-only: device features, num_queues, the admin fields */
	f0 = rd(d, BAR0 + VPCI_COMMON_DF, 4);
	wr(d, BAR0 + VPCI_COMMON_DF, 4, 0);
	cr_assert_eq(rd(d, BAR0 + VPCI_COMMON_DF, 4), f0);
	nq = rd(d, BAR0 + VPCI_COMMON_NUMQ, 2);
	wr(d, BAR0 + VPCI_COMMON_NUMQ, 2, 77);
	cr_assert_eq(rd(d, BAR0 + VPCI_COMMON_NUMQ, 2), nq);
	/* admin_queue_* only mean something once ADMIN_VQ is negotiated */
	cr_assert_eq(rd(d, BAR0 + VPCI_COMMON_ADM_Q_NUM, 2), 0);
	negotiate(d);
	cr_assert_eq(rd(d, BAR0 + VPCI_COMMON_ADM_Q_NUM, 2), 1);
	cr_assert_eq(rd(d, BAR0 + VPCI_COMMON_ADM_Q_IDX, 2), nq);
	wr(d, BAR0 + VPCI_COMMON_ADM_Q_NUM, 2, 4);
	cr_assert_eq(rd(d, BAR0 + VPCI_COMMON_ADM_Q_NUM, 2), 1);
	/* features are fixed once FEATURES_OK is set */
	wr(d, BAR0 + VPCI_COMMON_GFSELECT, 4, 1);
	wr(d, BAR0 + VPCI_COMMON_GF, 4, 0);
	cr_assert_neq(rd(d, BAR0 + VPCI_COMMON_GF, 4), 0);
	/* an access that is not 1, 2, 4 or 8 aligned bytes: -EINVAL */
	cr_assert_lt(vfio_pread_all(d->fd, &f0, 3, BAR0 + 1), 0);
	vfio_dev_free(d);
}

Test(vfio_virtio, queue_fields_only_before_enable, .init = up,
    .fini = down)
{
	struct vfio_dev	*d = vt_open(&k, "vfio:" BDF);

	negotiate(d);
	program(d, IOVA);
	cr_assert_eq(rd(d, BAR0 + VPCI_COMMON_Q_ENABLE, 2), 1);
	wr(d, BAR0 + VPCI_COMMON_Q_SIZE, 2, 8);
	cr_assert_eq(rd(d, BAR0 + VPCI_COMMON_Q_SIZE, 2), 16);
	wr(d, BAR0 + VPCI_COMMON_Q_DESC, 4, 0x1000);
	cr_assert_eq(rd(d, BAR0 + VPCI_COMMON_Q_DESC, 4), (uint32_t)IOVA);
	/* queue_enable only goes to 1 */
	wr(d, BAR0 + VPCI_COMMON_Q_ENABLE, 2, 0);
	cr_assert_eq(rd(d, BAR0 + VPCI_COMMON_Q_ENABLE, 2), 1);
	/* a reset clears it all */
	wr(d, BAR0 + VPCI_COMMON_STATUS, 1, 0);
	cr_assert_eq(rd(d, BAR0 + VPCI_COMMON_STATUS, 1), 0);
	cr_assert_eq(rd(d, BAR0 + VPCI_COMMON_Q_ENABLE, 2), 0);
	vfio_dev_free(d);
}

Test(vfio_virtio, dma_outside_a_mapping_and_unmap_under_the_device,
    .init = up, .fini = down)
{
	struct vfio_dev	*d = vt_open(&k, "vfio:" BDF);
	uint8_t		*mem;
	char		 err[256];
	int		 mfd;

	/* the simulated PF maps the file itself: a memfd it cannot shrink */
	mfd = memfd_create("rings", MFD_CLOEXEC | MFD_ALLOW_SEALING);
	cr_assert_neq(mfd, -1);
	cr_assert_eq(ftruncate(mfd, 1 << 20), 0);
	cr_assert_eq(fcntl(mfd, F_ADD_SEALS, F_SEAL_SHRINK), 0);
	mem = mmap(NULL, 1 << 20, PROT_READ | PROT_WRITE, MAP_SHARED, mfd, 0);
	cr_assert_neq(mem, MAP_FAILED);

	/* the rings at an IOVA nothing is mapped at: the device faults */
	negotiate(d);
	program(d, IOVA);
	wr(d, BAR0 + VPCI_COMMON_STATUS, 1, VPCI_S_ACKNOWLEDGE |
	    VPCI_S_DRIVER | VPCI_S_FEATURES_OK | VPCI_S_DRIVER_OK);
	cr_assert(rd(d, BAR0 + VPCI_COMMON_STATUS, 1) & VPCI_S_NEEDS_RESET);
	cr_assert_eq(connected(), 0);
	/* mapped: the simdev gets its driver */
	cr_assert_eq(vfio_dma_map(d, mem, IOVA, 1 << 20, err, sizeof(err)),
	    0, "%s", err);
	negotiate(d);
	program(d, IOVA);
	wr(d, BAR0 + VPCI_COMMON_STATUS, 1, VPCI_S_ACKNOWLEDGE |
	    VPCI_S_DRIVER | VPCI_S_FEATURES_OK | VPCI_S_DRIVER_OK);
	cr_assert_eq(rd(d, BAR0 + VPCI_COMMON_STATUS, 1) & VPCI_S_NEEDS_RESET,
	    0);
	wait_connected(1);
	/* unmapped under it: a DMA fault, the device lets go */
	cr_assert_eq(vfio_dma_unmap(d, IOVA, 1 << 20, err, sizeof(err)), 0);
	cr_assert(rd(d, BAR0 + VPCI_COMMON_STATUS, 1) & VPCI_S_NEEDS_RESET);
	wait_connected(0);
	vfio_dev_free(d);
	munmap(mem, 1 << 20);
	close(mfd);
}

Test(vfio_virtio, set_irqs_wants_eventfds, .init = up, .fini = down)
{
	struct vfio_dev		*d = vt_open(&k, "vfio:" BDF);
	struct vfio_irq_info	 ii;
	uint8_t			 buf[sizeof(struct vfio_irq_set) + 4];
	struct vfio_irq_set	*is = (void *)buf;
	int32_t			 fd;
	int			 p[2];

	memset(&ii, 0, sizeof(ii));
	ii.argsz = sizeof(ii);
	ii.index = VFIO_PCI_MSIX_IRQ_INDEX;
	cr_assert_eq(vfio_ioctl(d->fd, VFIO_DEVICE_GET_IRQ_INFO, &ii), 0);
	cr_assert_geq(ii.count, 1);
	cr_assert_eq(pipe(p), 0);
	memset(buf, 0, sizeof(buf));
	is->argsz = sizeof(buf);
	is->flags = VFIO_IRQ_SET_DATA_EVENTFD | VFIO_IRQ_SET_ACTION_TRIGGER;
	is->index = VFIO_PCI_MSIX_IRQ_INDEX;
	is->count = 1;
	fd = p[0];
	memcpy(buf + sizeof(*is), &fd, sizeof(fd));
	cr_assert_eq(vfio_ioctl(d->fd, VFIO_DEVICE_SET_IRQS, is), -EINVAL);
	fd = eventfd(0, EFD_CLOEXEC);
	memcpy(buf + sizeof(*is), &fd, sizeof(fd));
	cr_assert_eq(vfio_ioctl(d->fd, VFIO_DEVICE_SET_IRQS, is), 0);
	/* past the vectors there are */
	is->start = ii.count;
	cr_assert_eq(vfio_ioctl(d->fd, VFIO_DEVICE_SET_IRQS, is), -EINVAL);
	close(fd);
	close(p[0]);
	close(p[1]);
	vfio_dev_free(d);
}

Test(vfio_virtio, transport_open_kick_call_close, .init = up, .fini = down)
{
	struct va_tp_params	 tpp;
	struct va_transport	*tp;
	struct vq_driver	 vq;
	struct vq_buf		 out, in;
	struct pollfd		 pfd;
	uint16_t		 head;
	uint8_t			*cmd;
	char			 err[256];

	memset(&tpp, 0, sizeof(tpp));
	snprintf(tpp.sysfs, sizeof(tpp.sysfs), "%s", k.sysfs);
	tpp.qsize = 16;
	cr_assert_eq(va_transport_open("vfio:" BDF, &tpp, &tp, err,
	    sizeof(err)), 0, "%s", err);
	cr_assert_str_eq(tp->kind, "vfio");
	cr_assert_eq(tp->dev.num_vfs, 2);
	cr_assert_eq(tp->dev.device_type, 1);
	cr_assert_eq(tp->nqueues, 1);
	cr_assert_neq(tp->iova, 0);
	wait_connected(1);
	/* one admin command (LIST_QUERY, opcode 0) through the rings */
	cr_assert_eq(vq_driver_init(&vq, &tp->q[0].ring), 0);
	cmd = tp->mem + tp->pool_off;
	memset(cmd, 0, 24 + 8 + 8);
	out.addr = tp->iova + tp->pool_off;
	out.len = 24;
	in.addr = tp->iova + tp->pool_off + 24;
	in.len = 8 + 8;
	cr_assert_eq(vq_driver_add(&vq, &out, 1, &in, 1, &head), 0);
	cr_assert_eq(va_transport_kick(tp, 0), 0);
	pfd.fd = tp->q[0].call_fd;
	pfd.events = POLLIN;
	cr_assert_eq(poll(&pfd, 1, 10000), 1, "no MSI-X interrupt");
	cr_assert_eq(va_transport_ack_call(tp, 0), 1);
	vq_driver_free_all(&vq);
	va_transport_close(tp);
	wait_connected(0);
}

/* The parser alone, on config spaces a device could show. */
Test(vfio_virtio, capability_walk_refusals)
{
	struct vpci_info vi;
	uint8_t		 c[256];
	char		 err[256];

	memset(c, 0, sizeof(c));
	memcpy(c, "\xf4\x1a\x41\x10", 4);	/* 1af4:1041 */
	cr_assert_eq(vpci_parse(c, sizeof(c), "pf", &vi, err, sizeof(err)),
	    -ENODEV);
	cr_assert_not_null(strstr(err, "no capability list"), "%s", err);
	c[VPCI_STATUS] = VPCI_STATUS_CAP_LIST;
	/* a loop */
	c[VPCI_CAP_PTR] = 0x40;
	c[0x40] = 0x05;
	c[0x41] = 0x40;
	cr_assert_eq(vpci_parse(c, sizeof(c), "pf", &vi, err, sizeof(err)),
	    -EPROTO);
	cr_assert_not_null(strstr(err, "loops"), "%s", err);
	/* into the header */
	c[0x41] = 0x10;
	cr_assert_eq(vpci_parse(c, sizeof(c), "pf", &vi, err, sizeof(err)),
	    -EPROTO);
	cr_assert_not_null(strstr(err, "into the header"), "%s", err);
	/* a notify capability too short for its multiplier */
	c[0x40] = VPCI_CAP_ID_VNDR;
	c[0x41] = 0;
	c[0x42] = 16;
	c[0x43] = VPCI_CAP_NOTIFY;
	cr_assert_eq(vpci_parse(c, sizeof(c), "pf", &vi, err, sizeof(err)),
	    -EPROTO);
	cr_assert_not_null(strstr(err, "cap_len 16"), "%s", err);
	/* a whole one, but no common config */
	c[0x42] = 20;
	cr_assert_eq(vpci_parse(c, sizeof(c), "pf", &vi, err, sizeof(err)),
	    -ENODEV);
	cr_assert_not_null(strstr(err, "no virtio common config"), "%s", err);
	/* not virtio */
	memcpy(c, "\x86\x80", 2);
	cr_assert_eq(vpci_parse(c, sizeof(c), "pf", &vi, err, sizeof(err)),
	    -ENODEV);
	cr_assert_not_null(strstr(err, "8086:1041 is not a modern virtio"),
	    "%s", err);
}
