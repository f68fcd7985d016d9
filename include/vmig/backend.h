/*
 * vmig/backend.h: the device backend plugin ABI.
 *
 * A backend is a shared object in the plugin directory that exports one
 * symbol, VMIG_BACKEND_SYMBOL, a `const struct vmig_backend`. The daemon
 * dlopen()s every plugin it finds, refuses any whose abi_major differs from
 * its own (and says so in the log), and calls init() with the host services
 * below. A backend serves physical functions (PFs); a PF has member devices
 * (VFs) that the daemon migrates.
 *
 * Every interface in DESIGN.md's device table fits behind this without
 * special cases in the job engine:
 *
 *   - modes: ACTIVE / STOPPED / FROZEN are the common denominator of the
 *     virtio draft (active / stop / freeze), virtio 1.4 (running / stopped;
 *     the backend reads parts once stopped, so FROZEN = stopped + parts
 *     captured), the control-vq proposal (RUNNING / QUIESCED / FREEZED) and
 *     VFIO (RUNNING / RUNNING_P2P / STOP_COPY, with RESUMING hidden inside
 *     state_write);
 *   - state: an opaque byte image read and written in chunks; a backend
 *     whose device can be read while running says so (VMIG_CAP_STATE_PRECOPY);
 *   - dirty tracking: whatever the device speaks (write records, bitmaps,
 *     bytemaps, IOMMU bitmaps) the backend ORs into the caller's bitmaps,
 *     one per memory region at the region's page size, and reports volume.
 *
 * Threading: every call is made on the daemon's libevent thread, and every
 * completion callback must be invoked on that thread too (the backend
 * watches its eventfds on host->base). Asynchronous calls return 0 when
 * submitted, and then call `done` exactly once, or return a negative errno
 * without calling it. Buffers passed in must stay valid until `done` runs.
 * Closing a device or PF completes its outstanding commands with
 * -ECANCELED before returning.
 */
#ifndef VMIG_BACKEND_H
#define VMIG_BACKEND_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

struct event_base;

#define VMIG_BACKEND_ABI_MAJOR	1	/* incompatible changes */
#define VMIG_BACKEND_ABI_MINOR	0	/* compatible additions */
#define VMIG_BACKEND_SYMBOL	"vmig_backend"

/* Device modes (values match vmig.v1.DeviceMode). */
enum vmig_mode {
	VMIG_MODE_UNKNOWN = 0,
	VMIG_MODE_ACTIVE = 1,	/* running, may DMA */
	VMIG_MODE_STOPPED = 2,	/* no DMA; notifications may change state */
	VMIG_MODE_FROZEN = 3,	/* nothing changes; state can be read */
	VMIG_MODE_ERROR = 4,
};
#define VMIG_MODE_BIT(m)	(1u << (m))

/* Dirty tracking kinds (values match vmig.v1.DirtyTracking). */
enum vmig_dirty_kind {
	VMIG_DIRTY_NONE = 0,	/* every mapped page is dirty, always */
	VMIG_DIRTY_WRITE_RECORDS = 1,
	VMIG_DIRTY_BITMAP_PULL = 2,
	VMIG_DIRTY_BITMAP_PUSH = 3,
	VMIG_DIRTY_BYTEMAP_PULL = 4,
	VMIG_DIRTY_BYTEMAP_PUSH = 5,
	VMIG_DIRTY_DMA_LOGGING = 6,
	VMIG_DIRTY_IOMMU_TYPE1 = 7,
	VMIG_DIRTY_IOMMUFD = 8,
};

/* Capability flags. */
#define VMIG_CAP_STATE_PRECOPY	(1u << 0)	/* state readable while ACTIVE */
#define VMIG_CAP_STATE_CHUNKED	(1u << 1)	/* read/write in pieces */
#define VMIG_CAP_STATE_DISCARD	(1u << 2)	/* partial state can be dropped */
#define VMIG_CAP_P2P_QUIESCE	(1u << 3)

/* Command lanes: a downtime-critical command (mode change, final state
 * read, final dirty read) is never queued behind bulk pre-copy reads. */
enum vmig_lane {
	VMIG_LANE_BULK = 0,
	VMIG_LANE_CRITICAL = 1,
};

struct vmig_dev_caps {
	char		 interface[32];	/* "virtio-admin/draft", "vfio/v2" */
	uint32_t	 modes;		/* VMIG_MODE_BIT() set */
	uint32_t	 flags;		/* VMIG_CAP_* */
	uint64_t	 state_max_bytes;	/* 0: unknown */
	uint32_t	 dirty_kind;	/* enum vmig_dirty_kind */
	uint32_t	 dirty_max_ranges;
	uint64_t	 dirty_page_sizes;	/* bit n: 4096 << n */
};

struct vmig_dev_info {
	char		 name[32];	/* within the PF: "vf3" */
	char		 type[32];	/* "virtio-net" */
	uint64_t	 member_id;	/* VF number, 1-based */
	uint32_t	 mode;		/* enum vmig_mode, last known */
	struct vmig_dev_caps caps;
};

struct vmig_pf_info {
	char		 interface[32];
	uint32_t	 num_vfs;
	uint32_t	 queue_depth;	/* admin queue size */
	uint32_t	 max_inflight;	/* commands the PF accepts at once */
};

/* An IOVA range to track. */
struct vmig_iova_range {
	uint64_t	 iova;
	uint64_t	 length;
};

/*
 * A dirty bitmap for [iova, iova + length): bit n (word n / 64, bit n % 64)
 * is the page at iova + n * page_size. The backend only sets bits.
 */
struct vmig_dirty_map {
	uint64_t	 iova;
	uint64_t	 length;
	uint64_t	 page_size;
	uint64_t	*bits;
};

struct vmig_result {
	int		 err;		/* 0 or -errno */
	uint16_t	 dev_status;	/* raw device status, for diagnostics */
	uint16_t	 dev_qualifier;
	const char	*msg;		/* reason a person can read; may be NULL */
	union {
		uint32_t mode;		/* get_mode */
		uint64_t size;		/* state_size */
		struct {		/* state_read */
			size_t	 len;		/* bytes placed in buf */
			uint64_t remaining;	/* still to read */
		} read;
		struct {		/* dirty_read */
			uint64_t records;	/* write records (or set bits) read */
			uint64_t bytes;		/* bytes the device reported written */
			uint64_t pages;		/* bits newly set in the maps */
			int	 overflow;	/* device lost track: maps set whole */
		} dirty;
	} u;
};

typedef void (*vmig_done_fn)(void *arg, const struct vmig_result *res);

/* Log levels for host->log. */
enum vmig_log_level {
	VMIG_LOG_ERROR = 0,
	VMIG_LOG_WARN = 1,
	VMIG_LOG_INFO = 2,
	VMIG_LOG_DEBUG = 3,
};

/* What the daemon gives a backend. */
struct vmig_host {
	uint32_t	 abi_major;
	uint32_t	 abi_minor;
	struct event_base *base;
	void		(*log)(int level, const char *fmt, ...)
			    __attribute__((format(printf, 2, 3)));
};

struct vmig_pf;		/* backend-defined */
struct vmig_dev;	/* backend-defined */

struct vmig_backend {
	uint32_t	 abi_major;	/* VMIG_BACKEND_ABI_MAJOR */
	uint32_t	 abi_minor;
	const char	*name;		/* "virtio-admin" */
	const char	*version;
	const char	*description;

	int	(*init)(const struct vmig_host *host, void **priv);
	void	(*fini)(void *priv);

	/*
	 * Open the PF at `spec` (backend-defined, e.g. "sim:/run/x.sock").
	 * On failure return -errno and put a reason in err.
	 */
	int	(*pf_open)(void *priv, const char *name, const char *spec,
		    struct vmig_pf **pf, char *err, size_t errlen);
	void	(*pf_close)(struct vmig_pf *pf);
	int	(*pf_info)(struct vmig_pf *pf, struct vmig_pf_info *info);
	/* Fill up to max entries; return the number of VFs (may exceed max). */
	int	(*pf_list)(struct vmig_pf *pf, struct vmig_dev_info *out,
		    int max);

	int	(*dev_open)(struct vmig_pf *pf, uint64_t member_id,
		    struct vmig_dev **dev, char *err, size_t errlen);
	void	(*dev_close)(struct vmig_dev *dev);

	/* Asynchronous device commands (see the threading note above). */
	int	(*get_mode)(struct vmig_dev *dev, int lane, vmig_done_fn done,
		    void *arg);
	int	(*set_mode)(struct vmig_dev *dev, enum vmig_mode mode, int lane,
		    vmig_done_fn done, void *arg);
	/* Size of the state image as it would be read now. */
	int	(*state_size)(struct vmig_dev *dev, int lane, vmig_done_fn done,
		    void *arg);
	/*
	 * Read the next chunk of the state image into buf (at most cap bytes).
	 * u.read.remaining == 0 ends the image. A read after the end starts a
	 * new image (a fresh snapshot while ACTIVE, with PRECOPY).
	 */
	int	(*state_read)(struct vmig_dev *dev, void *buf, size_t cap,
		    int lane, vmig_done_fn done, void *arg);
	/* Append a chunk to the image being loaded (device STOPPED/FROZEN). */
	int	(*state_write)(struct vmig_dev *dev, const void *buf, size_t len,
		    int lane, vmig_done_fn done, void *arg);
	/* Drop a partially written or read image. */
	int	(*state_discard)(struct vmig_dev *dev, int lane,
		    vmig_done_fn done, void *arg);
	int	(*dirty_start)(struct vmig_dev *dev,
		    const struct vmig_iova_range *ranges, unsigned int n,
		    uint64_t page_size, vmig_done_fn done, void *arg);
	/* Read and clear; OR the result into maps. */
	int	(*dirty_read)(struct vmig_dev *dev, struct vmig_dirty_map *maps,
		    unsigned int n, int lane, vmig_done_fn done, void *arg);
	int	(*dirty_stop)(struct vmig_dev *dev, vmig_done_fn done,
		    void *arg);
};

#ifdef __cplusplus
}
#endif

#endif /* VMIG_BACKEND_H */
