/*
 * vfsim.h: vmig-simvfio, a simulated VFIO / iommufd kernel side.
 *
 *	vfsim.c		options, the loop, files and requests, user copies
 *	vfsim_vfio.c	container, group and device files (non-migration)
 *	vfsim_mig.c	migration v2 (states, data files), the v1 region,
 *			the device state stream
 *	vfsim_iommu.c	type1 mappings and dirty bitmaps, iommufd objects
 *			and HWPT dirty tracking, device DMA logging, the
 *			DMA path from the simulated VF into guest memory
 *	vfsim_ctl.c	the text control channel and injected faults
 *
 * The devices behind it are test/sim's VFs (sim_vf.c, sim_dma.c): the
 * same DMA workloads writing the VM's memory file and the same internal
 * state, carried through the migration stream. One thread, one libevent
 * loop: requests, DMA ticks and control lines never race.
 *
 * The rules enforced are the kernel's (include/uapi/linux/vfio.h,
 * iommufd.h, drivers/vfio/vfio_main.c, vfio_iommu_type1.c,
 * drivers/iommu/iommufd/, vfio_pci_core.c, samples/vfio-mdev/mtty.c);
 * each handler names the check it mirrors where that is not obvious.
 */
#ifndef VFSIM_H
#define VFSIM_H

#include <sys/queue.h>
#include <sys/types.h>

#include <stddef.h>
#include <stdint.h>

#include "handshake.h"
#include "sim.h"
#include "vfsim_proto.h"

struct event;
struct event_base;

#define VFS_MAX_DEVS		32
#define VFS_PCI_OFFSET_SHIFT	40	/* VFIO_PCI_INDEX_TO_OFFSET */
#define VFS_V1_INDEX		9	/* VFIO_PCI_NUM_REGIONS */
#define VFS_V1_SECTION_OFF	4096	/* the data section, page aligned */
#define VFS_CHUNK		4096	/* device memory chunk in the stream */
#define VFS_LOG_MAX_RANGES	256	/* PAGE_SIZE / 16 */
#define VFS_IOVA_MAX		((1ULL << 48) - 1)

/* Kernel versions as major * 100 + minor. */
#define KV(a, b)		((a) * 100 + (b))

enum vfs_mig {
	VFS_MIG_NONE = 0,
	VFS_MIG_V1,
	VFS_MIG_V2,
};

/* ------------------------------------------------------- page sets */

/* Dirty pages of one IOVA range at one page size. */
struct vps {
	uint64_t	 iova;
	uint64_t	 len;
	uint64_t	 ps;
	uint64_t	*bits;
};

struct vps_set {
	struct vps	*v;
	unsigned int	 n;
};

void	 vps_set_mark(struct vps_set *, uint64_t riova, uint64_t rlen,
	    uint64_t ps, uint64_t iova, uint64_t len);
int	 vps_set_test(const struct vps_set *, uint64_t page_iova,
	    uint64_t ps);
/* Clear every page of the set that meets [iova, iova + len). */
void	 vps_set_clear_range(struct vps_set *, uint64_t iova, uint64_t len);
void	 vps_set_free(struct vps_set *);

/* ------------------------------------------------- address spaces */

/* One DMA mapping: user memory of the caller, opened by us. */
struct vmap {
	TAILQ_ENTRY(vmap) entry;
	uint64_t	 iova;
	uint64_t	 size;
	uint64_t	 vaddr;
	int		 fd;		/* the file behind it */
	uint64_t	 foff;		/* offset of iova in that file */
	char		 path[64];	/* /proc/self/fd/N */
};
TAILQ_HEAD(vmaps, vmap);

struct vas {
	struct vmaps	 maps;
};

/* ------------------------------------------------------ objects */

struct vfs_file;
struct vdev;
struct vctx;

struct vhwpt {
	uint32_t	 id;
	struct vioas	*ioas;
	int		 dirty_ops;	/* allocated with DIRTY_TRACKING */
	int		 tracking;
	int		 autodomain;
	struct vps_set	 dirty;		/* IOPTE dirty bits at 4 KiB */
	unsigned int	 users;		/* devices attached */
};

struct vioas {
	uint32_t	 id;
	struct vas	 as;
	unsigned int	 users;		/* HWPTs on it */
};

/* An iommufd context (/dev/iommu, or /dev/vfio/vfio in compat mode). */
#define VCTX_MAXOBJ	64
struct vctx {
	struct vfs_file	*file;
	int		 compat;	/* opened as /dev/vfio/vfio */
	int		 compat_iommu;	/* VFIO_SET_IOMMU done */
	struct vioas	*compat_ioas;
	uint32_t	 next_id;
	struct {
		uint32_t	 id;
		int		 type;	/* 1 ioas, 2 hwpt, 3 device */
		void		*p;
	} obj[VCTX_MAXOBJ];
	unsigned int	 refs;		/* its file, bound devices, groups */
};

struct vgroup;

/* A type1 container. */
struct vcont {
	struct vfs_file	*file;
	int		 iommu;		/* 0, VFIO_TYPE1_IOMMU, TYPE1v2 */
	struct vas	 as;
	int		 dirty_on;
	struct vps_set	 dirty;		/* pages pinned / written via dma_rw */
	unsigned int	 ngroups;
	unsigned int	 refs;		/* its file + groups */
};

struct vgroup {
	unsigned int	 id;
	struct vfs_file	*file;		/* open /dev/vfio/N, or NULL */
	struct vcont	*cont;		/* type1 container, or */
	struct vctx	*ctx;		/* an iommufd (compat) */
	unsigned int	 dev_opens;	/* device fds open through it */
};

/* A saving or resuming session (a data_fd). */
struct vdata {
	struct vfs_file	*file;
	struct vdev	*dev;
	int		 saving;
	int		 disabled;	/* ended by an arc or a reset */
	uint8_t		*q;		/* saving: the stream built so far */
	size_t		 qlen;
	size_t		 qcap;
	size_t		 pos;		/* bytes read */
	uint64_t	 initial_left;	/* initial bytes not yet read */
	int		 finished;	/* STOP_COPY: all of it is in q */
	int		 precopy;	/* the session began in PRE_COPY */
};

/* ------------------------------------------- a virtio PF (virtio=SOCK) */

#define VPCI_NVEC	8		/* MSI-X vectors */
#define VPCI_MAXQ	(3 + VA_HS_MAX_QUEUES)	/* net queues + admin */

struct vvq {
	uint16_t	 size;
	uint16_t	 max;		/* 0: no such queue */
	uint16_t	 msix;
	uint16_t	 enable;
	uint64_t	 desc;
	uint64_t	 avail;
	uint64_t	 used;
};

struct vpci {
	char		 sock[108];	/* the vmig-simdev behind it */
	char		 flaw[32];	/* what is wrong with it, "" nothing */
	struct va_hello	 hello;		/* what the simdev said at start */
	uint8_t		 cfg[4096];	/* config space */
	uint64_t	 features;
	uint64_t	 driver_features;
	uint32_t	 dfselect;
	uint32_t	 gfselect;
	uint16_t	 msix_config;
	uint16_t	 numq;
	uint16_t	 qselect;
	uint16_t	 adm_idx;
	uint16_t	 adm_num;
	uint8_t		 status;
	struct vvq	 q[VPCI_MAXQ];
	int		 irq[VPCI_NVEC];	/* MSI-X eventfds (SET_IRQS) */
	int		 conn;		/* to the simdev after DRIVER_OK */
	const struct vmap *conn_map;	/* the memory it was handed */
	int		 kick[VA_HS_MAX_QUEUES];
};

struct vdev {
	unsigned int	 id;		/* 1-based, the control channel's */
	struct vpci	*virtio;	/* a virtio PF, or NULL (a VF) */
	char		 bdf[16];
	struct vgroup	*group;
	int		 cdev;		/* /dev/vfio/devices/vfioN, -1 none */
	enum vfs_mig	 mig;
	uint32_t	 mig_flags;	/* VFIO_MIGRATION_* the driver has */
	int		 dmalog;	/* has log_ops */
	uint64_t	 log_pgsizes;	/* bit n: 4096 << n it can log at */
	int		 emulated;	/* writes go through vfio_dma_rw
					 * (an mdev): type1 sees them */
	int		 can_reset;
	struct sim_vf	*vf;

	/* device memory: state that changes while it runs (pre-copy) */
	uint8_t		*devmem;
	size_t		 devmem_len;
	uint8_t		*chunk_dirty;	/* one byte per VFS_CHUNK */
	uint64_t	 last_writes;

	/* v2 */
	uint32_t	 state;
	struct vdata	*saving;
	struct vdata	*resuming;

	/* v1 */
	uint32_t	 v1_state;
	size_t		 v1_section;	/* bytes */
	int		 v1_mmap;
	int		 v1_memfd;
	uint8_t		*v1_mem;	/* the data section */
	uint64_t	 v1_staged;	/* data_size of the staged chunk */
	struct vdata	*v1_save;	/* the stream, v1 style */
	uint8_t		*v1_rbuf;	/* resume: what came so far */
	size_t		 v1_rlen;

	/* opened as */
	unsigned int	 group_opens;
	struct vfs_file	*cdev_file;	/* the bound cdev, if any */
	struct vctx	*ctx;		/* bound iommufd */
	uint32_t	 devid;
	struct vhwpt	*hwpt;		/* attached */

	/* DMA logging */
	int		 log_on;
	uint64_t	 log_ps;
	unsigned int	 log_n;
	uint64_t	 log_iova[VFS_LOG_MAX_RANGES];
	uint64_t	 log_len[VFS_LOG_MAX_RANGES];
	struct vps_set	 log;

	uint64_t	 resets;
};

/* ---------------------------------------------------------- files */

struct vfs_file {
	TAILQ_ENTRY(vfs_file) entry;
	int		 sock;
	uint64_t	 client_ino;
	int		 kind;		/* enum vfs_kind */
	struct event	*ev;
	void		*obj;
	int		 granted;	/* device: usable (bound / group) */
	int		 dead;
	pid_t		 pid;		/* the current request's caller */
	struct vfs_msg	 held;		/* a delayed request */
	int		 on_hold;	/* until "fault release" */
	struct event	*ev_delay;
};
TAILQ_HEAD(vfs_files, vfs_file);

/* ----------------------------------------------------------- faults */

enum vfs_fault_kind {
	VFS_FAULT_FAIL,
	VFS_FAULT_DELAY,
	VFS_FAULT_SHORT,
};

struct vfs_fault {
	TAILQ_ENTRY(vfs_fault) entry;
	enum vfs_fault_kind kind;
	char		 op[48];
	unsigned int	 dev;		/* 0: any */
	int		 count;		/* -1: forever */
	int		 err;		/* errno */
	int		 error_state;	/* leave the device in ERROR */
	unsigned int	 ms;
	uint64_t	 max;
	uint64_t	 hits;
};
TAILQ_HEAD(vfs_faults, vfs_fault);

/* ------------------------------------------------------- the kernel */

struct vfs_opts {
	const char	*socket;
	const char	*control;
	const char	*sysfs;
	int		 kernel;	/* KV(6, 8) */
	int		 iommufd_compat;	/* /dev/vfio/vfio is iommufd */
	int		 iommu_dirty;	/* the IOMMU can track dirty pages */
	unsigned int	 tick_ms;
};

struct vfs_ctl;

struct vfs {
	struct event_base *base;
	struct vfs_opts	 o;
	struct sim	 sim;		/* test/sim's VFs (sim_vf.c) */
	struct vdev	 devs[VFS_MAX_DEVS];
	unsigned int	 ndevs;
	struct vgroup	 groups[VFS_MAX_DEVS];
	unsigned int	 ngroups;
	struct vfs_files files;
	struct vfs_faults faults;
	int		 lsock;
	struct event	*ev_accept;
	struct event	*ev_tick;
	struct event	*ev_sig[2];
	struct vfs_ctl	*ctl;
	uint64_t	 requests;
	uint64_t	 refused;
};

extern struct vfs *vfs;

/* vfsim.c: user memory and descriptors of the caller */
int	 vfs_copy_from(struct vfs_file *, uint64_t uaddr, void *, size_t);
int	 vfs_copy_to(struct vfs_file *, uint64_t uaddr, const void *, size_t);
/* fd_install a new file of kind for the caller: its fd, or -errno. */
int	 vfs_install(struct vfs_file *caller, int kind, void *obj,
	    struct vfs_file **out);
void	 vfs_uninstall(struct vfs_file *caller, int fd);
/* eventfd_ctx_fdget: the caller's eventfd N itself (-EBADF, -EINVAL). */
int	 vfs_getfd(struct vfs_file *caller, int fd, int *out);
/* fdget: the simulated file behind the caller's fd (-EBADF: none). */
int	 vfs_fdget(struct vfs_file *caller, int fd, struct vfs_file **);
/* Disable a data file (reads -ENODEV from then on). */
void	 vfs_data_disable(struct vdata *);
/* Serve the requests held by "fault delay ... ms=0"; how many. */
int	 vfs_release_held(void);
int	 vfs_kernel(int major, int minor);

/* vfsim_vfio.c */
int	 vfs_open_path(struct vfs_file *, const char *path);
long	 vfs_container_ioctl(struct vfs_file *, struct vcont *, uint64_t cmd,
	    uint64_t arg);
long	 vfs_group_ioctl(struct vfs_file *, struct vgroup *, uint64_t cmd,
	    uint64_t arg);
long	 vfs_device_ioctl(struct vfs_file *, struct vdev *, uint64_t cmd,
	    uint64_t arg);
long	 vfs_device_rw(struct vfs_file *, struct vdev *, int wr,
	    uint64_t buf, uint64_t count, uint64_t off);
long	 vfs_device_mmap(struct vfs_file *, struct vdev *, uint64_t len,
	    uint64_t off, int *memfd, int64_t *moff);
void	 vfs_release(struct vfs_file *);
struct vdev *vfs_dev_by_bdf(const char *);
int	 vfs_dev_running(const struct vdev *);
void	 vfs_dev_sync_mode(struct vdev *);
void	 vfs_dev_reset(struct vdev *);
/* Info capability chains: append one (its header's next is linked),
 * then shift every next by the info struct's size before copying. */
void	 vfs_cap_add(uint8_t *buf, size_t *len, const void *cap,
	    size_t caplen);
void	 vfs_cap_shift(uint8_t *caps, uint32_t shift);

/* vfsim_mig.c */
long	 vfs_mig_feature(struct vfs_file *, struct vdev *, uint32_t flags,
	    uint64_t data, uint64_t datalen);
long	 vfs_data_read(struct vfs_file *, struct vdata *, uint64_t buf,
	    uint64_t count);
long	 vfs_data_write(struct vfs_file *, struct vdata *, uint64_t buf,
	    uint64_t count);
long	 vfs_data_ioctl(struct vfs_file *, struct vdata *, uint64_t cmd,
	    uint64_t arg);
void	 vfs_data_free(struct vdata *);
long	 vfs_v1_rw(struct vfs_file *, struct vdev *, int wr, uint64_t buf,
	    uint64_t count, uint64_t off);
int	 vfs_v1_setup(struct vdev *);
void	 vfs_mig_reset(struct vdev *);
const char *vfs_state_name(uint32_t);
/* vfio_check_feature: 1 do it, 0 a probe that succeeded, or -EINVAL. */
int	 vfs_check_feature(uint32_t flags, uint64_t argsz, uint32_t supported,
	    uint64_t minsz);
void	 vfs_devmem_touch(struct vdev *, uint64_t writes_before);
uint64_t vfs_dev_digest(struct vdev *);

/* vfsim_iommu.c */
long	 vfs_iommufd_ioctl(struct vfs_file *, struct vctx *, uint64_t cmd,
	    uint64_t arg);
long	 vfs_type1_ioctl(struct vfs_file *, struct vcont *, uint64_t cmd,
	    uint64_t arg);
long	 vfs_dmalog_feature(struct vfs_file *, struct vdev *, uint32_t flags,
	    uint64_t data, uint64_t datalen);
struct vctx *vfs_ctx_new(struct vfs_file *, int compat);
void	 vfs_ctx_put(struct vctx *);
int	 vfs_ctx_bind(struct vctx *, struct vdev *, uint32_t *devid);
void	 vfs_ctx_unbind(struct vdev *);
long	 vfs_ctx_attach(struct vdev *, uint32_t *pt_id);
struct vcont *vfs_cont_new(struct vfs_file *);
void	 vfs_cont_put(struct vcont *);
void	 vfs_dma_written(struct vdev *, uint64_t iova, uint64_t len);
void	 vfs_dev_update_mem(struct vdev *);
void	 vfs_as_free(struct vas *);
const struct vas *vfs_dev_as(const struct vdev *);

/* vfsim_virtio.c: a virtio PF (README: what it enforces) */
void	 vfs_virtio_init(struct vdev *);
void	 vfs_virtio_reset(struct vdev *);
void	 vfs_virtio_release(struct vdev *);
void	 vfs_virtio_as_changed(struct vdev *);
long	 vfs_virtio_bar_rw(struct vfs_file *, struct vdev *, int wr,
	    uint64_t buf, uint64_t count, uint64_t off);
long	 vfs_virtio_cfg_rw(struct vfs_file *, struct vdev *, int wr,
	    uint64_t buf, uint64_t count, uint64_t off);
long	 vfs_virtio_irq_info(struct vfs_file *, struct vdev *, uint64_t arg);
long	 vfs_virtio_set_irqs(struct vfs_file *, struct vdev *, uint64_t arg);

/* vfsim_ctl.c */
int	 vfs_ctl_open(const char *path);
void	 vfs_ctl_close(void);
int	 vfs_fault_parse(int argc, char **argv, char *err, size_t errlen);
/* A matching fault, counted (NULL if none). */
struct vfs_fault *vfs_fault_hit(const char *op, unsigned int dev, int kind);

#endif /* VFSIM_H */
