/*
 * dialect.h: what differs between the virtio migration dialects, as data
 * and small pure functions, so that the plugin is one dialect-independent
 * core plus one file per dialect:
 *
 *	draft	the draft write-recording admin commands (seeds 000, 002):
 *		dialect_draft.c, codecs in draft.c / devctx.c
 *	v14	virtio 1.4 device parts over the admin queue:
 *		dialect_v14.c, codecs in v14.c
 *	cvq	the generic control-virtqueue proposal (seed 003):
 *		dialect_cvq.c, codecs in cvq.c
 *
 * A dialect is
 *   - an opcode table (struct va_opinfo, names and layouts) and a framing
 *     (how a command sits in a descriptor chain: admin header + status, or
 *     the control-vq class/command + ack);
 *   - a mode mapping (the device's modes <-> enum vmig_mode, and the next
 *     device mode on the way to a target);
 *   - operations as step tables (struct va_dstep): each step builds one
 *     command (struct va_dcmd) and parses its answer (struct va_dres). The
 *     core sends the commands (adminq.c over a transport) and feeds the
 *     answers back; va_dop_next() / va_dop_feed() run any dialect's
 *     operation. Nothing here blocks, allocates or logs by itself: the
 *     same machines run in the plugin and, synchronously, in the tests;
 *   - converters between its native state image and the canonical state
 *     (devstate.h), and a table of how it carries each canonical item,
 *     for the compatibility check before a migration starts.
 */
#ifndef VA_DIALECT_H
#define VA_DIALECT_H

#include <stddef.h>
#include <stdint.h>

#include "vmig/backend.h"
#include "admin.h"
#include "devstate.h"
#include "handshake.h"

enum va_framing {
	/* 24-byte admin header + data (padded to 8) / 8-byte status +
	 * result (draft, v1.4) */
	VA_FRAME_ADMIN,
	/* u8 class; u8 command; data / result, then the u8 ack as the last
	 * byte of the writable part (the control-vq proposal) */
	VA_FRAME_CVQ,
};

/* One command a dialect asks the core to send. */
#define VA_DCMD_DATA_MAX	64
struct va_dcmd {
	uint16_t	 opcode;	/* admin; cvq: class << 8 | cmd */
	uint16_t	 group;		/* admin group type; cvq: 0 */
	uint64_t	 member;	/* admin member; cvq: func_id */
	uint8_t		 data[VA_DCMD_DATA_MAX];	/* fixed data */
	size_t		 data_len;
	const uint8_t	*tail;		/* bytes after data[] (state chunks) */
	size_t		 tail_len;
	size_t		 result_cap;	/* result bytes wanted */
	/* cvq push START: the writable part before the ack is the dirty
	 * map, map_len bytes the core keeps in shared memory until STOP
	 * (the proposal's indirect descriptors) */
	size_t		 map_len;
	int		 critical;	/* VMIG_LANE_CRITICAL */
};

/* The device's answer as the framing delivered it. */
struct va_dres {
	uint16_t	 status;	/* admin status; cvq: the ack */
	uint16_t	 qual;
	const uint8_t	*result;
	size_t		 result_len;
};

/* Framing: readable bytes of a command (header, data, tail, padding). */
size_t	 va_frame_out_len(enum va_framing, const struct va_dcmd *);
/* Write header + data[] (the tail and padding follow at data_len). */
size_t	 va_frame_out_hdr(enum va_framing, const struct va_dcmd *,
	    uint8_t *p);
/* Writable bytes to post for a result of result_cap bytes. */
size_t	 va_frame_in_len(enum va_framing, size_t result_cap);
/* Parse the writable part (wcap bytes posted, used bytes written). */
int	 va_frame_in(enum va_framing, const uint8_t *w, size_t wcap,
	    size_t used, struct va_dres *, char *err, size_t errlen);
/* A status / ack to -errno (0 for OK). */
int	 va_frame_errno(enum va_framing, uint16_t status);

/* --------------------------------------------------------- operations */

enum va_dop_kind {
	VA_DOP_PF_OPEN,		/* opcode list, capabilities */
	VA_DOP_VF_PROBE,	/* what a VF can do; its mode */
	VA_DOP_GET_MODE,
	VA_DOP_SET_MODE,
	VA_DOP_STATE_SIZE,
	VA_DOP_SAVE,		/* the whole native image into buf */
	VA_DOP_LOAD,		/* a whole native image from buf */
	VA_DOP_DIRTY_START,
	VA_DOP_DIRTY_READ,
	VA_DOP_DIRTY_STOP,
	VA_DOP_NKINDS
};

/* Per PF: what open learned. */
#define VA_PF_MAX_OBJS		256
struct va_dpf {
	const struct va_dialect *d;
	uint32_t	 num_vfs;
	uint64_t	 opcodes[2];	/* admin: LIST_QUERY bits in use */
	size_t		 chunk;		/* state bytes per command */
	uint32_t	 flags;		/* VA_HS_F_* the PF announced */
	uint32_t	 max_state;	/* largest state image, 0 unknown */
	/* v1.4: device-parts resource objects (one id space, as Linux) */
	uint32_t	 obj_limit;
	uint8_t		 obj_used[VA_PF_MAX_OBJS / 8];
	/* cvq: IDENTIFY */
	uint16_t	 cvq_version[3];
	uint16_t	 cvq_modes;	/* VA_CVQ_CAP_* */
	uint16_t	 cvq_log_bitmap;
	uint16_t	 cvq_log_bytemap;
};

#define VA_DVF_MAX_RANGES	256
/* Per VF: what the dialect must remember between operations. */
struct va_dvf {
	uint64_t	 member;
	int		 mode;		/* device mode, -1 unknown */
	struct vmig_dev_caps caps;	/* filled by VF_PROBE */
	/* draft: write recording */
	int		 recording;
	uint64_t	 page_size;
	uint32_t	 nranges;
	struct vmig_iova_range ranges[VA_DVF_MAX_RANGES];
	uint32_t	 wr_page_sizes;
	uint32_t	 wr_max_ranges;
	uint8_t		 rbuf[VA_DVF_MAX_RANGES * 16];	/* START entries */
	/* v1.4: the object of the operation in progress, -1 none */
	int32_t		 obj;
	/* cvq: dirty tracking */
	int		 track_mode;	/* VA_CVQ_TRACK_*, 0 off */
	uint8_t		*push_map;	/* push: the map in shared memory */
	size_t		 push_len;
};

struct va_dop {
	const struct va_dialect *d;
	struct va_dpf	*pf;
	struct va_dvf	*vf;		/* NULL for PF_OPEN */
	enum va_dop_kind kind;
	int		 step;		/* index in the kind's step table */
	uint32_t	 rounds;	/* commands sent for this step */
	int		 lane;		/* VMIG_LANE_*: commands' default */
	int		 err;		/* a failure waiting for cleanup */
	char		 why[200];
	/* in */
	enum vmig_mode	 target;	/* SET_MODE */
	uint8_t		*buf;		/* SAVE: out (cap); LOAD: in (len) */
	size_t		 cap;
	size_t		 len;
	const struct vmig_iova_range *ranges;	/* DIRTY_START */
	uint32_t	 nranges;
	uint64_t	 page_size;
	int		 track_mode;	/* cvq DIRTY_START; 0: best */
	struct vmig_dirty_map *maps;	/* DIRTY_READ */
	unsigned int	 nmaps;
	struct vmig_write_log *log;	/* DIRTY_READ: records (NULL: none) */
	/* scratch */
	size_t		 off;
	size_t		 cur;
	uint64_t	 total;
	uint32_t	 idx;
	uint32_t	 sub;
	uint8_t		 next_mode;
	uint16_t	 cur_opcode;	/* of the command in flight */
	/* out */
	uint64_t	 size;		/* STATE_SIZE, SAVE: image length */
	uint32_t	 mode;		/* GET_MODE: enum vmig_mode */
	uint64_t	 records;	/* DIRTY_READ */
	uint64_t	 bytes;
	uint64_t	 pages;
	uint64_t	 outside;
	int		 overflow;
};

/* What a step's parse (or build) says happens next. */
#define VA_STEP_NEXT	1	/* the next step of the table */
#define VA_STEP_AGAIN	2	/* this step once more */
#define VA_STEP_DONE	3	/* the operation is complete */
#define VA_STEP_GOTO(n)	(100 + (n))	/* step n of the table */
/* A build returning any of these sends nothing and moves on. */

struct va_dstep {
	const char	*name;
	/* Fill the command (0), or move on without one (VA_STEP_*), or
	 * -errno with a reason. */
	int		(*build)(struct va_dop *, struct va_dcmd *,
			    char *err, size_t errlen);
	/* The answer (status OK); VA_STEP_* or -errno with a reason. */
	int		(*parse)(struct va_dop *, const struct va_dres *,
			    char *err, size_t errlen);
};

struct va_dsteps {
	const struct va_dstep *steps;
	int		 n;
	/* After a failure, if need_cleanup says the op holds something on
	 * the device (a v1.4 object, a partly written image), run step
	 * `cleanup` before reporting the failure. */
	int		 cleanup;
	int		(*need_cleanup)(struct va_dop *);
	/* Told of every failure (e.g. the mode is unknown now). */
	void		(*fail)(struct va_dop *, int err);
};

/* How a dialect carries each canonical item (for the compatibility
 * check: devstate.h has the meaning, README.md the table). */
enum va_citem {
	VA_CI_DEVICE_FEATURES, VA_CI_DRIVER_FEATURES, VA_CI_COMMON,
	VA_CI_DEVICE_STATUS, VA_CI_DEVICE_CONFIG, VA_CI_VQ, VA_CI_VQ_NOTIFY,
	VA_CI_VQ_AVAIL, VA_CI_VQ_OWN, VA_CI_NET, VA_CI_VENDOR, VA_CI_N
};
enum va_carry {
	VA_C_CARRIED,		/* read and written */
	VA_C_VERIFIED,		/* read; written only to be checked */
	VA_C_PROVISIONED,	/* not carried: the destination keeps its own */
	VA_C_RING,		/* not carried: in the used ring (guest) */
	VA_C_NONE,		/* cannot be expressed */
};

struct va_dialect {
	uint32_t	 id;		/* VA_DIALECT_* */
	const char	*name;		/* "draft", "v14", "cvq" */
	const char	*iface;		/* "virtio-admin/draft" ... */
	const char	*origin;	/* where it comes from, for people */
	enum va_framing	 framing;
	const struct va_opinfo *ops;
	size_t		 nops;
	/* modes: device mode names, their enum vmig_mode, the next device
	 * mode toward a target (-1: cannot be reached) */
	const char *const *mode_names;
	int		 nmodes;
	const uint8_t	*mode_vmig;	/* [device mode] = enum vmig_mode */
	int		(*mode_device)(enum vmig_mode);	/* -1: none */
	int		(*mode_next)(int cur, int target);
	uint32_t	 vmig_modes;	/* VMIG_MODE_BIT() reachable */
	int		 load_frozen;	/* LOAD only in FROZEN (the core
					 * freezes a stopped VF for it) */
	uint32_t	 dirty_kinds;	/* bit per enum vmig_dirty_kind */
	const struct va_dsteps *ops_steps;	/* [VA_DOP_NKINDS] */
	/* native image <-> canonical */
	int		(*to_canon)(const uint8_t *img, size_t len,
			    uint32_t device_type, struct vds *, char *err,
			    size_t errlen);
	/* base: the destination's own state, for what this dialect needs
	 * and the source did not carry (may be NULL); buf NULL counts */
	long		(*from_canon)(const struct vds *,
			    const struct vds *base, uint8_t *buf, size_t cap,
			    char *err, size_t errlen);
	const uint8_t	*carry;		/* [VA_CI_N] enum va_carry */
	/* admin dialects: the opcodes LIST_USE asks for */
	const uint16_t	*need;
	size_t		 nneed;
	/* the command that sets device mode `next` (va_step_mode_walk) */
	void		(*mode_cmd)(struct va_dop *, struct va_dcmd *,
			    int next);
};

extern const struct va_dialect va_dialect_draft;
extern const struct va_dialect va_dialect_v14;
extern const struct va_dialect va_dialect_cvq;

const struct va_dialect *va_dialect_find(uint32_t id);
const struct va_dialect *va_dialect_byname(const char *);	/* or alias */
const struct va_opinfo *va_dialect_op(const struct va_dialect *,
	    uint16_t opcode);
const struct va_opinfo *va_dialect_op_byname(const struct va_dialect *,
	    const char *);
/* Never NULL: "0x1234" for an opcode the dialect does not know. */
const char	*va_dialect_op_name(const struct va_dialect *, uint16_t);
const char	*va_dialect_mode_name(const struct va_dialect *, int mode);
const char	*va_citem_name(enum va_citem);
const char	*va_carry_name(enum va_carry);

/* Operations. */
void	 va_dpf_init(struct va_dpf *, const struct va_dialect *,
	    uint32_t num_vfs, size_t chunk);
void	 va_dvf_init(struct va_dvf *, uint64_t member);
void	 va_dop_init(struct va_dop *, enum va_dop_kind, struct va_dpf *,
	    struct va_dvf *);
/*
 * The next command of op: 1 and *cmd, 0 when the operation is complete,
 * or -errno with a sentence naming the VF and the step.
 */
int	 va_dop_next(struct va_dop *, struct va_dcmd *, char *err,
	    size_t errlen);
/* Feed the answer to the command va_dop_next() gave; 0 or -errno. A
 * failure may still leave a cleanup command for va_dop_next(), which then
 * reports the failure once the cleanup is done. */
int	 va_dop_feed(struct va_dop *, const struct va_dres *, char *err,
	    size_t errlen);
/* Logging of step transitions (NULL: none). */
extern void (*va_dlogfn)(const char *fmt, ...)
	    __attribute__((format(printf, 1, 2)));

/*
 * Steps every dialect may use in its tables: a parse that moves on, the
 * opcode list (LIST_QUERY, checked against d->need; LIST_USE of it), and
 * the walk to op->target through d->mode_next, one d->mode_cmd each.
 */
int	 va_step_next(struct va_dop *, const struct va_dres *, char *,
	    size_t);
int	 va_step_list_query(struct va_dop *, struct va_dcmd *, char *, size_t);
int	 va_step_list_check(struct va_dop *, const struct va_dres *, char *,
	    size_t);
int	 va_step_list_use(struct va_dop *, struct va_dcmd *, char *, size_t);
int	 va_step_mode_walk(struct va_dop *, struct va_dcmd *, char *, size_t);
int	 va_step_mode_walked(struct va_dop *, const struct va_dres *, char *,
	    size_t);

/* Resource-object ids of a PF (v1.4): -1 if none is free. */
int	 va_dpf_obj_alloc(struct va_dpf *);
void	 va_dpf_obj_free(struct va_dpf *, int);

/*
 * Compatibility. va_dialect_compat: can a VF of dialect src migrate to
 * one of dialect dst at all? 0 (yes), 1 (yes, if the conditions written
 * in err hold), -EPROTONOSUPPORT naming the first canonical item the
 * destination cannot get. va_state_compat: this state, into dst (with
 * the destination's own state as base, may be NULL): 0 or -errno naming
 * the field (the converter decides: one truth).
 */
int	 va_dialect_compat(const struct va_dialect *src,
	    const struct va_dialect *dst, char *err, size_t errlen);
int	 va_state_compat(const struct vds *, const struct va_dialect *dst,
	    const struct vds *base, char *err, size_t errlen);

#endif /* VA_DIALECT_H */
