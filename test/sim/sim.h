/*
 * sim.h: vmig-simdev, a simulated virtio-net PF with SR-IOV VFs that
 * serves one migration dialect (--dialect: the draft admin commands,
 * virtio 1.4 device parts, or the control-vq proposal) over a real split
 * virtqueue.
 *
 *	simdev.c	options, the loop, the driver socket, queue service,
 *			delayed completions
 *	sim_cmd.c	the admin framing (draft, v1.4) and the draft's
 *			commands, device side (one table per dialect)
 *	sim_v14.c	virtio 1.4: capabilities, resource objects, parts
 *	sim_cvq.c	the control-vq proposal: its framing, states, dirty
 *			tracking (pull and push), state portions
 *	sim_vf.c	VF state, device context image build / apply, write
 *			records
 *	sim_dma.c	the DMA workload engine
 *	sim_fault.c	injected faults
 *	sim_ctl.c	the text control channel
 *
 * One thread: commands, workload ticks and control lines all run on one
 * libevent loop, so nothing here is locked.
 */
#ifndef SIM_H
#define SIM_H

#include <sys/queue.h>

#include <stddef.h>
#include <stdint.h>

#include "admin.h"
#include "devctx.h"
#include "cvq.h"
#include "dialect.h"
#include "v14.h"
#include "handshake.h"
#include "virtq.h"

struct event;
struct event_base;

#define SIM_MAX_VFS		256
#define SIM_NUM_VQS		3	/* rx, tx, ctrl */
#define SIM_VQ_SIZE		256
#define SIM_OWN_MAX		8	/* device-owned rx descriptors */
#define SIM_DEVCFG_LEN		24	/* struct virtio_net_config */
#define SIM_MAX_RANGES		64
#define SIM_CVQ_LOG_BITMAP	24	/* 2^24 pages: 64 GiB of IOVA */
#define SIM_CVQ_LOG_BYTEMAP	22	/* 16 GiB */

/* ---------------------------------------------------------------- DMA */

enum sim_kind {
	SIM_DMA_IDLE = 0,
	SIM_DMA_HOT,
	SIM_DMA_STREAM,
	SIM_DMA_BURST,
	SIM_DMA_FLOOD,
	SIM_DMA_NKINDS,
};

/* What goes into the vendor TLV: the destination continues from it. */
struct sim_dma {
	uint32_t	 kind;
	uint64_t	 seed;
	uint64_t	 rate;		/* bytes/s */
	uint32_t	 wsize;		/* bytes per write */
	uint32_t	 hot_ppm;	/* hot fraction of the window, ppm */
	uint64_t	 win_off;	/* window in the attached memory */
	uint64_t	 win_len;	/* 0: all of it */
	uint32_t	 ring_bufs;	/* stream */
	uint32_t	 buf_size;
	uint64_t	 burst_bytes;
	uint32_t	 burst_ms;
	uint64_t	 prng;
	uint64_t	 writes;
	uint64_t	 bytes;
	uint64_t	 hash;		/* running xxh3 of what was written */
	uint64_t	 stream_pos;
};

#define SIM_PHASES_MAX		8	/* 30 words fit a control line */

/*
 * A workload as a schedule of phases ("workload VF KIND k=v for=MS then
 * KIND ... [repeat]"): each phase's parameters for its duration, the last
 * one for good unless the schedule repeats. Host-local like the pace: the
 * context carries the phase being run, so a destination continues it.
 */
struct sim_sched {
	unsigned int	 n;		/* 0: one workload, no schedule */
	unsigned int	 cur;
	int		 repeat;
	uint64_t	 end_ns;	/* of the current phase; 0: not started */
	struct sim_dma	 ph[SIM_PHASES_MAX];
	uint32_t	 ms[SIM_PHASES_MAX];	/* 0: for good */
};

/* Host-local pacing: not part of the context. */
struct sim_pace {
	double		 credit;	/* bytes we may write now */
	uint64_t	 last_ns;
	uint64_t	 next_burst_ns;
	struct sim_sched sched;
};

/* ------------------------------------------------------------ VF state */

struct sim_vq {
	uint16_t	 size;
	uint16_t	 msix;
	uint64_t	 desc;
	uint64_t	 driver;
	uint64_t	 device;
	uint16_t	 avail_idx;	/* dev_avail_idx */
	uint8_t		 enabled;
	uint16_t	 notify_off;	/* not in the draft's context */
	uint16_t	 notif_data;
	uint16_t	 nown;
	uint16_t	 own[SIM_OWN_MAX];
};

struct sim_cvq {
	uint8_t		 mac[6];
	uint16_t	 rx_mode;
	uint8_t		 vlan[512];
	uint32_t	 uc;
	uint32_t	 mc;
	uint8_t		 macs[2 * VA_CTX_CVQ_MAX_MACS][6];	/* uc, then mc */
};

/* Everything the device context carries. */
struct sim_devstate {
	uint8_t		 common[VA_CTX_COMMON_LEN];
	uint8_t		 devcfg[SIM_DEVCFG_LEN];
	uint64_t	 features[2];
	uint64_t	 drv_features[2];	/* not in the draft's context */
	struct sim_vq	 vq[SIM_NUM_VQS];
	struct sim_cvq	 cvq;
	struct sim_dma	 dma;
};

struct sim_range {
	uint64_t	 iova;
	uint64_t	 len;
	int		 lost;
};

struct sim_rec {
	uint64_t	 iova;
	uint64_t	 len;
};

struct sim_mem {
	char		 path[256];
	int		 fd;
	uint8_t		*p;
	uint64_t	 size;
	uint64_t	 iova;
	uint64_t	 offset;
};

/* The control-vq dialect's dirty tracking. */
struct sim_track {
	int		 mode;		/* CVQ_TRACK_*, 0: off */
	uint8_t		*map;		/* pull: the device's own map */
	size_t		 len;
	unsigned int	 nseg;		/* push: the driver's map segments */
	struct vq_seg	 seg[VQ_CHAIN_MAX];
	uint64_t	 untracked;	/* pages no map covered */
};

struct sim_vf {
	unsigned int	 id;		/* 1-based */
	uint8_t		 mode;		/* the dialect's device mode */
	int		 held;
	struct sim_devstate st;
	struct sim_pace	 pace;
	struct sim_mem	 mem;		/* attached guest memory, p == NULL */

	int		 recording;
	uint64_t	 page_size;
	uint32_t	 nranges;
	struct sim_range ranges[SIM_MAX_RANGES];
	struct sim_rec	*recs;
	uint32_t	 nrecs;
	uint64_t	 recs_made;
	uint64_t	 recs_dropped;

	uint8_t		*rd;		/* context read / cvq save session */
	size_t		 rd_len;
	size_t		 rd_pos;
	uint8_t		*wr;		/* context / cvq state being written */
	size_t		 wr_len;
	size_t		 wr_cap;
	struct sim_track track;		/* cvq */

	uint32_t	 more_max;	/* fault: records per read */
	int		 lose_next;	/* fault: report LOST once */
	uint64_t	 cmds;
	char		 last_error[256];
};

/* ------------------------------------------------------------- faults */

enum sim_fault_kind {
	SIM_FAULT_FAIL,
	SIM_FAULT_DELAY,
	SIM_FAULT_DROP,
};

struct sim_fault {
	TAILQ_ENTRY(sim_fault) entry;
	enum sim_fault_kind kind;
	uint16_t	 opcode;
	unsigned int	 vf;		/* 0: any */
	int		 count;		/* -1: forever */
	uint16_t	 status;
	uint16_t	 qual;
	unsigned int	 ms;
	uint64_t	 hits;
};
TAILQ_HEAD(sim_faults, sim_fault);

/* ------------------------------------------------------------- the PF */

struct sim_opts {
	const char	*socket;
	const char	*control;
	const char	*name;
	unsigned int	 nvfs;
	unsigned int	 admin_queues;
	unsigned int	 queue_size;	/* largest the driver may use */
	unsigned int	 tick_ms;
	unsigned int	 records_max;
	unsigned int	 wr_ranges;
	uint32_t	 wr_page_sizes;	/* bit n: 4096 << n */
	int		 precopy;	/* DEV_CTX_READ while active */
	uint64_t	 max_tick_bytes;	/* per VF per tick */
	unsigned int	 parts_objs;	/* v1.4: objects of each kind */
	uint16_t	 cvq_modes;	/* cvq: CVQ_CAP_* offered */
	uint16_t	 cvq_log_bitmap;	/* cvq: log2 pages tracked */
	uint16_t	 cvq_log_bytemap;
};

/* ------------------------------------------------- a dialect's device */

struct sim_req {
	struct sim		*sim;
	struct sim_vf		*vf;
	const struct va_opinfo	*oi;
	const uint8_t		*data;
	size_t			 dlen;
	uint8_t			*res;		/* where the result goes */
	size_t			 rcap;
	size_t			 rlen;		/* result bytes written */
	uint16_t		 qual;
	const struct vq_chain	*ch;		/* cvq push: the map */
};

typedef uint16_t (*sim_cmd_fn)(struct sim_req *);

struct sim_handler {
	uint16_t	 opcode;
	sim_cmd_fn	 fn;
};

/* What an answer puts in the writable part: len bytes at offset 0 and,
 * for the control-vq framing, an ack byte at the very end. */
struct sim_answer {
	size_t		 len;
	int		 ack;		/* -1: none */
};

struct sim_dialect {
	const struct va_dialect *d;	/* names, opcode table, modes */
	const struct sim_handler *fns;
	size_t		 nfns;
	int		 active;	/* device modes: DMA runs in active */
	int		 stopped;
	int		 frozen;	/* -1: none */
	const uint8_t	(*mode_ok)[4];	/* [from][to] allowed */
	const char	*mode_hint;	/* when a transition is refused */
	/* A chain's framing: NULL if it can be run, else why not. */
	const char	*(*frame_check)(const struct vq_chain *);
	/* Run a well-framed command; out holds outcap bytes. */
	void		 (*exec)(struct sim *, const struct vq_chain *,
			    const uint8_t *in, size_t inlen, uint8_t *out,
			    size_t outcap, struct sim_answer *);
	/* A status only (refused chain, injected failure). */
	void		 (*status)(uint8_t *out, uint16_t status,
			    uint16_t qual, struct sim_answer *);
	/* Opcode and member of a command, for faults. */
	void		 (*key)(const uint8_t *in, size_t inlen,
			    uint16_t *opcode, uint64_t *member);
	/* The VF's state image as this dialect reads it (digest). */
	long		 (*image)(struct sim *, struct sim_vf *, uint8_t *buf,
			    size_t cap);
	/* The driver went away. */
	void		 (*reset)(struct sim *);
	/*
	 * A VF's side of the dialect (sim_vf.c calls these; NULL: nothing).
	 * mode_check refuses a transition the table allows (a pending
	 * image), mode_set undoes what a mode change ends, record takes a
	 * DMA write in place of write records.
	 */
	int		 (*mode_check)(struct sim_vf *, int mode, char *err,
			    size_t errlen);
	void		 (*mode_set)(struct sim_vf *, int mode);
	void		 (*record)(struct sim *, struct sim_vf *,
			    uint64_t iova, uint64_t len);
};

extern const struct sim_dialect sim_draft;
/* A simulator without admin commands (vmig-simvfio): the draft's modes. */
extern const struct sim_dialect sim_vf_plain;
extern const uint8_t sim_draft_mode_ok[4][4];
int	 sim_draft_mode_check(struct sim_vf *, int, char *, size_t);
void	 sim_draft_mode_set(struct sim_vf *, int);
void	 sim_vf_drop_sessions(struct sim_vf *);
extern const struct sim_dialect sim_v14;
extern const struct sim_dialect sim_cvq;

/* v1.4 device-parts resource objects (PF-wide, one id space). */
#define SIM_MAX_OBJS		256
struct sim_obj {
	int		 used;
	uint32_t	 id;
	uint64_t	 member;
	uint8_t		 type;		/* V14_PARTS_OBJ_GET / _SET */
};

struct sim_conn;
struct sim_ctl;

struct sim {
	struct event_base *base;
	struct sim_opts	 o;
	const struct sim_dialect *dl;
	struct sim_vf	*vfs;
	struct sim_faults faults;

	int		 lsock;
	struct event	*ev_accept;
	struct sim_conn	*conn;		/* the driver, if one is attached */
	int		 list_in_use;	/* LIST_USE accepted */
	uint8_t		 list_used[8];
	int		 echo;		/* kick → call, no ring (benchmark) */

	struct sim_ctl	*ctl;
	struct event	*ev_tick;
	struct event	*ev_sig[3];
	int		 quitting;

	uint8_t		*inbuf;		/* gathered command (single thread) */
	uint8_t		*outbuf;	/* status + result */
	uint8_t		*shm;		/* the driver's memory (cvq push) */
	uint64_t	 shm_size;

	int		 caps_set;	/* v1.4: DRIVER_CAP_SET done */
	unsigned int	 drv_get_objs;
	unsigned int	 drv_set_objs;
	struct sim_obj	 objs[SIM_MAX_OBJS];

	uint64_t	 n_cmds;
	uint64_t	 n_malformed;
	uint64_t	 n_faulted;
};

/* sim_cmd.c: the admin framing and the draft */
uint16_t sim_req_fail(struct sim_req *, uint16_t status, uint16_t qual,
	    const char *fmt, ...) __attribute__((format(printf, 4, 5)));
const char *sim_admin_frame_check(const struct vq_chain *);
void	 sim_admin_exec(struct sim *, const struct vq_chain *,
	    const uint8_t *in, size_t inlen, uint8_t *out, size_t outcap,
	    struct sim_answer *);
void	 sim_admin_status(uint8_t *out, uint16_t status, uint16_t qual,
	    struct sim_answer *);
void	 sim_admin_key(const uint8_t *in, size_t inlen, uint16_t *opcode,
	    uint64_t *member);
uint16_t sim_cmd_list_query(struct sim_req *);
uint16_t sim_cmd_list_use(struct sim_req *);
const struct sim_dialect *sim_dl(const struct sim *);
const char *sim_mode_name(struct sim *, int mode);
/* A mode by name in the PF's dialect, or -1. */
int	 sim_mode_parse(struct sim *, const char *);

/* sim_v14.c */
long	 sim_v14_build(struct sim *, struct sim_vf *, uint8_t *buf,
	    size_t cap);
int	 sim_v14_apply(struct sim *, struct sim_vf *, const uint8_t *buf,
	    size_t len, char *err, size_t errlen);

/* sim_cvq.c */
long	 sim_cvq_build(struct sim *, struct sim_vf *, uint8_t *buf,
	    size_t cap);
int	 sim_cvq_apply(struct sim *, struct sim_vf *, const uint8_t *buf,
	    size_t len, char *err, size_t errlen);
void	 sim_cvq_record(struct sim *, struct sim_vf *, uint64_t iova,
	    uint64_t len);
void	 sim_cvq_track_stop(struct sim_vf *);
void	 sim_cvq_flr(struct sim *, struct sim_vf *);
const char *sim_cvq_track_name(int mode);

/* sim_vf.c */
void	 sim_vf_init(struct sim *, struct sim_vf *, unsigned int id);
void	 sim_vf_reset_records(struct sim_vf *);
void	 sim_vf_free(struct sim_vf *);
struct sim_vf *sim_vf_get(struct sim *, uint64_t member);
long	 sim_vf_ctx_build(struct sim *, struct sim_vf *, uint8_t *buf,
	    size_t cap);
int	 sim_vf_ctx_apply(struct sim *, struct sim_vf *, const uint8_t *buf,
	    size_t len, char *err, size_t errlen);
/* xxh3 of the VF's state image as the PF's dialect reads it. */
int	 sim_vf_ctx_digest(struct sim *, struct sim_vf *, uint64_t *);
int	 sim_vf_state_digest(struct sim *, struct sim_vf *, int any,
	    uint64_t *);
void	 sim_vf_record(struct sim *, struct sim_vf *, uint64_t iova,
	    uint64_t len);
int	 sim_vf_attach(struct sim_vf *, const char *path, uint64_t size,
	    uint64_t iova, uint64_t offset, char *err, size_t errlen);
void	 sim_vf_detach(struct sim_vf *);
int	 sim_vf_set_mode(struct sim *, struct sim_vf *, uint8_t mode,
	    char *err, size_t errlen);
int	 sim_vf_active(struct sim *, const struct sim_vf *);
uint64_t sim_vf_mem_digest(struct sim_vf *);

/* sim_dma.c */
const char *sim_dma_kind_name(uint32_t);
int	 sim_dma_kind_parse(const char *);
void	 sim_dma_defaults(struct sim_dma *, unsigned int id);
int	 sim_dma_configure(struct sim_vf *, int argc, char **argv,
	    char *err, size_t errlen);
void	 sim_dma_tick(struct sim *, struct sim_vf *, uint64_t now_ns);
int	 sim_dma_write_one(struct sim *, struct sim_vf *);
void	 sim_dma_ctx_put(const struct sim_dma *, uint8_t *v);
int	 sim_dma_ctx_get(struct sim_dma *, const uint8_t *v, char *err,
	    size_t errlen);

/* sim_fault.c */
int	 sim_fault_parse(struct sim *, int argc, char **argv, char *err,
	    size_t errlen);
struct sim_fault *sim_fault_match(struct sim *, uint16_t opcode,
	    uint64_t member);
void	 sim_fault_consume(struct sim *, struct sim_fault *);
void	 sim_fault_clear(struct sim *);
size_t	 sim_fault_list(struct sim *, char *buf, size_t len);

/* sim_ctl.c */
int	 sim_ctl_open(struct sim *, const char *path);
void	 sim_ctl_close(struct sim *);
/* Run one control line; writes the one-line reply (no newline). */
void	 sim_ctl_exec(struct sim *, char *line, char *reply, size_t len);

/* simdev.c */
void	 sim_quit(struct sim *);

/* sim_util.c */
int	 sim_parse_u64(const char *, uint64_t *);

#endif /* SIM_H */
