/*
 * vmig/backend.h: the device backend plugin ABI, major version 2.
 *
 * A backend is a shared object in the plugin directory that exports one
 * symbol, VMIG_BACKEND_SYMBOL, a `const struct vmig_backend`. The daemon
 * dlopen()s every plugin it finds, refuses any whose abi_major differs from
 * its own (and says so in the log and in ListDevices), and calls init()
 * with the host services below. A backend serves physical functions (PFs);
 * a PF has member devices (VFs) that the daemon migrates.
 *
 * Every interface in DESIGN.md's device table fits behind this without
 * special cases in the job engine:
 *
 *   - modes: ACTIVE / QUIESCED / STOPPED / FROZEN are the common
 *     denominator of the virtio draft (active / - / stop / freeze), virtio
 *     1.4 (running / - / stopped; FROZEN = stopped + parts captured), the
 *     control-vq proposal (RUNNING / QUIESCED / FREEZED) and VFIO (RUNNING
 *     / RUNNING_P2P / STOP / STOP_COPY, RESUMING hidden inside
 *     state_write). QUIESCED (VMIG_CAP_P2P_QUIESCE) is "running, no new
 *     peer-to-peer DMA": the engine quiesces every device of a VM before it
 *     stops any, and on the destination resumes them through it together.
 *   - state: caps.state_kind says what a read yields. SNAPSHOT: a whole
 *     image read in chunks; a read while ACTIVE (VMIG_CAP_STATE_PRECOPY)
 *     gives an image a later one replaces (the virtio draft). STREAM: one
 *     append-only stream per saving session, pre-copy chunks while ACTIVE
 *     then stop-copy chunks once FROZEN, which the destination writes in
 *     order, each exactly once (VFIO v2's data_fd, virtio 1.4 dev parts
 *     read at a rate). state_precopy_info (VMIG_CAP_PRECOPY_INFO) says how
 *     much pre-copy state is there (VFIO's initial_bytes / dirty_bytes);
 *     state_size the stop-copy size (exact with VMIG_CAP_STATE_SIZE_EXACT).
 *   - dirty tracking: a device names its tracker (dev_tracker): none (every
 *     mapped page is dirty, always), its own (write records, device DMA
 *     logging), or an object devices share (a type1 container, an iommufd
 *     HWPT), named by a key. The daemon opens one tracker per key, starts
 *     and stops it once, and reads it once per round for every device on
 *     it (a read clears: per-device reads would steal each other's bits).
 *     A read ORs each dirty page into every map that covers it.
 *   - fds: a device in use by a running VM is held by its VMM, which hands
 *     the daemon its fds (a VFIO device fd, a container or iommufd fd) over
 *     a UNIX socket; they reach pf_open and dev_open by name.
 *
 * Threading: every call is made on the daemon's libevent thread, and every
 * completion callback must be invoked on that thread too (the backend
 * watches its eventfds on host->base), never from inside the call that
 * started it. Asynchronous calls return 0 when submitted, and then call
 * `done` exactly once, or return a negative errno without calling it.
 * Buffers passed in must stay valid until `done` runs. Closing a device,
 * tracker or PF completes its outstanding calls with -ECANCELED before
 * returning. Nothing may block: pf_open too is asynchronous.
 */
#ifndef VMIG_BACKEND_H
#define VMIG_BACKEND_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

struct event_base;

#define VMIG_BACKEND_ABI_MAJOR	2	/* incompatible changes */
#define VMIG_BACKEND_ABI_MINOR	2	/* compatible additions */
#define VMIG_BACKEND_SYMBOL	"vmig_backend"

/* Device modes (values match vmig.v1.DeviceMode). */
enum vmig_mode {
	VMIG_MODE_UNKNOWN = 0,
	VMIG_MODE_ACTIVE = 1,	/* running, may DMA */
	VMIG_MODE_STOPPED = 2,	/* no DMA; notifications may change state */
	VMIG_MODE_FROZEN = 3,	/* nothing changes; state can be read */
	VMIG_MODE_ERROR = 4,
	VMIG_MODE_QUIESCED = 5,	/* running, no new peer-to-peer DMA */
};
#define VMIG_MODE_BIT(m)	(1u << (m))

/* Dirty tracking kinds, for display (values match vmig.v1.DirtyTracking). */
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

/* Whose tracker (values match vmig.v1.TrackerScope). */
enum vmig_track_scope {
	VMIG_TRACK_NONE = 0,	/* none: every mapped page dirty, always */
	VMIG_TRACK_DEVICE = 1,	/* the device's own */
	VMIG_TRACK_SHARED = 2,	/* an object shared by devices (by key) */
};

/* What a state read yields (values match vmig.v1.StateKind). */
enum vmig_state_kind {
	VMIG_STATE_SNAPSHOT = 0,	/* whole images; a newer replaces */
	VMIG_STATE_STREAM = 1,		/* one stream, applied in order */
};

/* Capability flags. */
#define VMIG_CAP_STATE_PRECOPY	(1u << 0)	/* state readable while ACTIVE */
#define VMIG_CAP_STATE_CHUNKED	(1u << 1)	/* read/write in pieces */
#define VMIG_CAP_STATE_DISCARD	(1u << 2)	/* partial state can be dropped */
#define VMIG_CAP_P2P_QUIESCE	(1u << 3)	/* VMIG_MODE_QUIESCED */
#define VMIG_CAP_PRECOPY_INFO	(1u << 4)	/* state_precopy_info */
#define VMIG_CAP_STATE_SIZE_EXACT (1u << 5)	/* state_size is exact */

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
	uint32_t	 state_kind;	/* enum vmig_state_kind */
	uint32_t	 dirty_kind;	/* enum vmig_dirty_kind (display) */
	uint32_t	 track_scope;	/* enum vmig_track_scope */
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

/*
 * A file descriptor a VMM handed over, by the name it gave it ("device",
 * "container", "iommufd"). The daemon owns it and keeps it open until the
 * device (or PF) it was given with is closed: a backend dup()s what it
 * keeps longer.
 */
struct vmig_fd {
	const char	*name;
	int		 fd;
};

/* A device's tracker: scope and, shared, the key that names the object. */
struct vmig_tracker_info {
	uint32_t	 scope;		/* enum vmig_track_scope */
	uint32_t	 kind;		/* enum vmig_dirty_kind */
	char		 key[64];	/* equal keys: one tracker */
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

/*
 * ABI 2.2: the write records a read found, as the device gave them (IOVA,
 * length), for byte-exact deltas. The daemon owns the array; the backend
 * appends up to cap records and sets lost when it could not give every
 * one of them (more than cap, the device lost track, a bitmap report):
 * the bits in the maps are always complete, the records only say more.
 */
struct vmig_write_rec {
	uint64_t	 iova;
	uint64_t	 len;
};

struct vmig_write_log {
	struct vmig_write_rec *recs;
	uint32_t	 cap;
	uint32_t	 n;		/* records appended by the read */
	int		 lost;		/* some write is in the maps only */
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
			/*
			 * SNAPSHOT: bytes of the image still to read (0
			 * ends it). STREAM: what is readable now, as far as
			 * known; 0 with len 0: nothing more now (pre-copy: for
			 * the moment; FROZEN: the end of the stream).
			 */
			uint64_t remaining;
		} read;
		struct {		/* state_precopy_info */
			uint64_t initial_bytes;	/* to read before switchover */
			uint64_t dirty_bytes;	/* changed since, to read */
		} precopy;
		struct {		/* tracker_start (ABI 2.1) */
			/*
			 * The tracker will report every tracked page dirty
			 * at every read (a type1 container whose devices do
			 * not pin): iterating gains nothing.
			 */
			int	 all_dirty;
		} track;
		struct {		/* tracker_read */
			uint64_t records;	/* write records (or set bits) read */
			uint64_t bytes;		/* bytes the device reported written */
			uint64_t pages;		/* bits newly set in the maps */
			int	 overflow;	/* tracker lost track: maps set whole */
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
struct vmig_tracker;	/* backend-defined */

struct vmig_backend {
	uint32_t	 abi_major;	/* VMIG_BACKEND_ABI_MAJOR: first, always */
	uint32_t	 abi_minor;
	const char	*name;		/* "virtio-admin" */
	const char	*version;
	const char	*description;

	int	(*init)(const struct vmig_host *host, void **priv);
	void	(*fini)(void *priv);

	/*
	 * Open the PF at `spec` (backend-defined, e.g. "sim:/run/x.sock")
	 * with the fds handed over for it. Asynchronous: 0 with *pf set (a
	 * handle only pf_close may be given until done ran), then done once
	 * (res.err 0: the PF is usable; else res.msg says why and the handle
	 * is to be closed); or -errno with a reason in err, nothing to close.
	 */
	int	(*pf_open)(void *priv, const char *name, const char *spec,
		    const struct vmig_fd *fds, unsigned int nfds,
		    struct vmig_pf **pf, vmig_done_fn done, void *arg,
		    char *err, size_t errlen);
	void	(*pf_close)(struct vmig_pf *pf);
	int	(*pf_info)(struct vmig_pf *pf, struct vmig_pf_info *info);
	/* Fill up to max entries; return the number of VFs (may exceed max). */
	int	(*pf_list)(struct vmig_pf *pf, struct vmig_dev_info *out,
		    int max);

	int	(*dev_open)(struct vmig_pf *pf, uint64_t member_id,
		    const struct vmig_fd *fds, unsigned int nfds,
		    struct vmig_dev **dev, char *err, size_t errlen);
	void	(*dev_close)(struct vmig_dev *dev);

	/* Asynchronous device commands (see the threading note above). */
	int	(*get_mode)(struct vmig_dev *dev, int lane, vmig_done_fn done,
		    void *arg);
	int	(*set_mode)(struct vmig_dev *dev, enum vmig_mode mode, int lane,
		    vmig_done_fn done, void *arg);
	/* The stop-copy state size (exact with VMIG_CAP_STATE_SIZE_EXACT). */
	int	(*state_size)(struct vmig_dev *dev, int lane, vmig_done_fn done,
		    void *arg);
	/* Pre-copy state ready to read (VMIG_CAP_PRECOPY_INFO; may be NULL). */
	int	(*state_precopy_info)(struct vmig_dev *dev, int lane,
		    vmig_done_fn done, void *arg);
	/*
	 * Read the next chunk of state into buf (at most cap bytes); see
	 * u.read for where it ends. SNAPSHOT: a read after the end starts a
	 * new image (a fresh one while ACTIVE, with PRECOPY).
	 */
	int	(*state_read)(struct vmig_dev *dev, void *buf, size_t cap,
		    int lane, vmig_done_fn done, void *arg);
	/* Append a chunk to the state being loaded (device STOPPED/FROZEN). */
	int	(*state_write)(struct vmig_dev *dev, const void *buf, size_t len,
		    int lane, vmig_done_fn done, void *arg);
	/* Drop a partially written or read state. */
	int	(*state_discard)(struct vmig_dev *dev, int lane,
		    vmig_done_fn done, void *arg);

	/*
	 * Dirty tracking. dev_tracker says which tracker the device has
	 * (scope NONE: no tracker to open). tracker_open gives the tracker
	 * of that key, called once per key: devices sharing it are served by
	 * the one handle. start/read/stop as for the VFIO DMA log: one start
	 * with the ranges to track, reads that OR and clear, one stop.
	 */
	int	(*dev_tracker)(struct vmig_dev *dev,
		    struct vmig_tracker_info *info);
	int	(*tracker_open)(struct vmig_dev *dev, struct vmig_tracker **t,
		    char *err, size_t errlen);
	void	(*tracker_close)(struct vmig_tracker *t);
	int	(*tracker_start)(struct vmig_tracker *t,
		    const struct vmig_iova_range *ranges, unsigned int n,
		    uint64_t page_size, vmig_done_fn done, void *arg);
	/* Read and clear; OR the result into maps. */
	int	(*tracker_read)(struct vmig_tracker *t, struct vmig_dirty_map *maps,
		    unsigned int n, int lane, vmig_done_fn done, void *arg);
	int	(*tracker_stop)(struct vmig_tracker *t, vmig_done_fn done,
		    void *arg);

	/*
	 * ABI 2.1 (read only when abi_minor >= 1; NULL: not offered). Can
	 * the state a device of interface src_interface reads be loaded into
	 * VF `member` of pf (a different interface of this backend: the
	 * virtio dialects)? 0 yes; 1 yes, if the conditions written in err
	 * hold at the switchover; -errno no, err naming the first field the
	 * destination cannot take. Synchronous, touches no device.
	 */
	int	(*state_compat)(struct vmig_pf *pf, uint64_t member,
		    const char *src_interface, char *err, size_t errlen);

	/*
	 * ABI 2.2 (read only when abi_minor >= 2; NULL: not offered). As
	 * tracker_read, and every write record the read found is appended
	 * to log (log->n and log->lost are the caller's to reset).
	 */
	int	(*tracker_read_records)(struct vmig_tracker *t,
		    struct vmig_dirty_map *maps, unsigned int n,
		    struct vmig_write_log *log, int lane, vmig_done_fn done,
		    void *arg);
};

#ifdef __cplusplus
}
#endif

#endif /* VMIG_BACKEND_H */
