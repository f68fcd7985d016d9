/*
 * sim.h: vmig-simdev, a simulated virtio-net PF with SR-IOV VFs that
 * serves the draft admin commands over a real split admin virtqueue.
 *
 *	simdev.c	options, the loop, the driver socket, queue service,
 *			delayed completions
 *	sim_cmd.c	the admin commands, device side (one table)
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

struct sim_vf {
	unsigned int	 id;		/* 1-based */
	uint8_t		 mode;		/* VA_MODE_* */
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

	uint8_t		*rd;		/* context read session */
	size_t		 rd_len;
	size_t		 rd_pos;
	uint8_t		*wr;		/* context being written */
	size_t		 wr_len;
	size_t		 wr_cap;

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
};

struct sim_conn;
struct sim_ctl;

struct sim {
	struct event_base *base;
	struct sim_opts	 o;
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

	uint64_t	 n_cmds;
	uint64_t	 n_malformed;
	uint64_t	 n_faulted;
};

/* sim_cmd.c */
size_t	 sim_cmd_exec(struct sim *, const uint8_t *in, size_t inlen,
	    uint8_t *out, size_t outcap);
size_t	 sim_cmd_status(uint8_t *out, size_t outcap, uint16_t status,
	    uint16_t qual);

/* sim_vf.c */
void	 sim_vf_init(struct sim *, struct sim_vf *, unsigned int id);
void	 sim_vf_reset_records(struct sim_vf *);
void	 sim_vf_free(struct sim_vf *);
struct sim_vf *sim_vf_get(struct sim *, uint64_t member);
long	 sim_vf_ctx_build(struct sim *, struct sim_vf *, uint8_t *buf,
	    size_t cap);
int	 sim_vf_ctx_apply(struct sim *, struct sim_vf *, const uint8_t *buf,
	    size_t len, char *err, size_t errlen);
int	 sim_vf_ctx_digest(struct sim *, struct sim_vf *, uint64_t *);
void	 sim_vf_record(struct sim *, struct sim_vf *, uint64_t iova,
	    uint64_t len);
int	 sim_vf_attach(struct sim_vf *, const char *path, uint64_t size,
	    uint64_t iova, uint64_t offset, char *err, size_t errlen);
void	 sim_vf_detach(struct sim_vf *);
int	 sim_vf_set_mode(struct sim *, struct sim_vf *, uint8_t mode,
	    char *err, size_t errlen);
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
