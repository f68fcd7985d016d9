/*
 * job_out.h: the source side of a migration, private to its files:
 *
 *   job_out.c	 the kind: phases, step tables, setup, the pre-copy round
 *		 and its decision, stop-copy, switchover, rollback, stream
 *   out_pump.c	 page pumping and pacing (a state machine of its own)
 *   out_dirty.c dirty tracking: recording, reads into `acc`, drains during
 *		 long sends, the hot set
 *   out_state.c the device state image: reads, pre-copy image, sending
 */
#ifndef VMIG_JOB_OUT_H
#define VMIG_JOB_OUT_H

#include <stddef.h>
#include <stdint.h>

#include "backend.h"
#include "delta.h"
#include "job.h"

struct tls_probe;
struct tracker_user;

#define OUT_STATE_MAX		(256u * 1024 * 1024)	/* device state cap */
#define OUT_STATE_SEND_CHUNK	(1024 * 1024)
#define OUT_FINAL_READS_MAX	1024	/* frozen device: reads until empty */
#define OUT_STREAM_ROUND_MAX	(4u * 1024 * 1024)	/* pre-copy reads */

/*
 * The pump: one round of pages (a pre-copy round, or stop-copy's final
 * pages) from the first region's dirty set to the last, paced. Every
 * change goes through out_pump_set(), which checks it against
 * out_pump_next[] (out_pump.c) and logs it.
 */
enum out_pump_state {
	PUMP_IDLE = 0,		/* no round under way */
	PUMP_SENDING,		/* batches each loop turn (ev_pump active) */
	PUMP_PACED,		/* the token bucket's timer (ev_pump) resumes */
	PUMP_BLOCKED,		/* the stream's window: writable() resumes */
	PUMP_PAUSED,		/* another job's stop-copy: its end resumes */
	PUMP_WAIT_ACKS,		/* all sent: the last Ack ends the round */
	PUMP_WAIT_DRAIN,	/* all acked, a drain read is out: its end */
	PUMP_NSTATES
};

/* The frame a step waits for. */
enum out_wait {
	OUT_WAIT_NONE = 0,
	OUT_WAIT_CONNECT,	/* the peer's pipe */
	OUT_WAIT_HELLO_ACK,
	OUT_WAIT_DATA,		/* the data connections (datalink.h) */
	OUT_WAIT_DONE,
};

/*
 * One device's state on the source. SNAPSHOT: state holds an image
 * (generation 1 read in pre-copy, the next one in stop-copy). STREAM:
 * state holds what was read and not yet sent; stream_pos is the stream
 * offset of state[0], and xs digests the whole stream as it is read.
 */
struct out_dev {
	uint8_t			*state;
	size_t			 state_len;
	size_t			 state_cap;
	size_t			 state_off;	/* sent so far */
	uint32_t		 generation;
	int			 precopy_state_sent;
	uint64_t		 state_digest;
	int			 stream;	/* VMIG_STATE_STREAM */
	uint64_t		 stream_pos;
	uint64_t		 precopy_pending; /* readable in pre-copy */
	struct XXH3_state_s	*xs;
};

/*
 * out_delta.c: byte ranges per page since it was last sent, for pages the
 * write records describe exactly. Bounded: at most OUT_DELTA_PAGES pages
 * (more: whole pages), each at most DELTA_RANGES_MAX ranges (delta.h).
 */
#define OUT_DELTA_PAGES		32768
#define OUT_DELTA_BUDGET	(256 * 1024)	/* payload bytes per frame */
#define OUT_DELTA_SEL		2048		/* pages per frame */
#define OUT_DELTA_UNMARK	16384		/* redundant bits per read */

struct out_delta_slot;
struct tracker_user;

struct out_delta_sel {
	uint64_t		 page;
	struct delta_page	 d;
};

struct out_delta {
	int			 on;		/* adaptive policy, records */
	struct out_delta_slot	*slots;		/* open addressing */
	uint64_t		 cap;		/* power of 2, or 0 */
	uint64_t		 n;
	uint64_t		 max;
	/* the round's sweep */
	int			 done;
	uint32_t		 region;
	uint64_t		 cursor;
	struct out_delta_sel	*sel;		/* one frame's pages */
	uint32_t		 nsel;
	uint64_t		 pages_sent;	/* for the log */
	uint64_t		 bytes_sent;
	/* pages a read named before their copy was taken (od_record) */
	struct {
		uint32_t	 region;
		uint64_t	 page;
	}			*unmark;
	uint32_t		 nunmark;
	uint64_t		 unmarked;	/* since the last take */
};

struct job_out {
	char			*dest_url;
	uint8_t			 token[64];
	size_t			 tokenlen;
	struct converge		 conv;
	uint32_t		 iteration;
	uint64_t		 seq;		/* frame sequence */
	uint64_t		 acked_seq;	/* the newest Ack's */
	uint32_t		 page_size;
	uint32_t		 nregions;	/* the map may be closed first */
	enum out_wait		 waiting;
	uint64_t		 delay_ms;	/* before the next round's read */
	int			 in_stopcopy;	/* in eng->stopcopy_jobs */

	/* out_dirty.c: page sets per region */
	struct pageset		*acc;		/* reads since the last take */
	struct pageset		*cur;		/* the last iteration's read */
	struct pageset		*prev;		/* the read before */
	struct pageset		*hot;		/* cur & prev: skipped if deferred */
	int			 defer_hot;
	/* the backend ORs into acc through these (valid until done) */
	struct vmig_dirty_map	 maps[JOB_MEM_REGIONS_MAX];
	/* and reads the ranges to record from here */
	struct vmig_iova_range	 ranges[JOB_MEM_REGIONS_MAX];
	int			 untracked;	/* converge_obs.untracked */
	unsigned int		 drain_next;	/* device whose tracker drains */
	int			 start_retried;	/* stale recording stopped */
	uint64_t		 acc_records;
	uint64_t		 acc_bytes;
	int			 acc_overflow;
	uint64_t		 last_drain_ms;
	uint64_t		 drain_ms;	/* current drain interval */
	int			 final_reads;	/* stop-copy reads so far */
	uint64_t		 last_read_ms;
	uint64_t		 read_ms;	/* this read */
	uint64_t		 rd_records;
	uint64_t		 rd_bytes;
	uint64_t		 rd_pages;
	int			 rd_overflow;	/* records were lost */
	uint64_t		 hot_pages;

	/* data connections failed: the reason, reported after a grace */
	struct event		*ev_data_fail;
	/* tls+tcp://: why a handshake fails (tlsprobe.h), until connected */
	struct tls_probe	*probe;
	char			 tls_name[256];	/* the name we check */
	char			 data_fail[256];

	struct out_delta	 delta;

	/* out_pump.c */
	enum out_pump_state	 pump;
	struct event		*ev_pump;
	struct xfer_src		 xs;
	struct tbucket		 tb;
	int			 pump_final;	/* stop-copy: no skip, host limit */
	uint32_t		 pump_region;
	uint64_t		 pump_cursor;
	uint64_t		 pump_start_us;
	uint64_t		 pump_bytes;
	/* the round's measurement, for the policy */
	uint64_t		 iter_start_ms;
	uint64_t		 send_bytes;
	uint64_t		 send_us;
	/* the loop thread's run-queue wait at the last decision (job_out.c) */
	uint64_t		 runq_us;
	uint64_t		 runq_at_us;

	/* out_state.c: each device's state image (dev[i] is job->devs[i]'s) */
	struct out_dev		 dev[JOB_GROUP_MAX];
	int			 state_sending;	/* its own small pump */
	int			 state_precopy;

	/* what rollback must undo (the devices': job->devs[]) */
	int			 recording;	/* trackers started */
	int			 peer_aborted;
	/* the Ack liveness bound (job_out.c, out_live_*) */
	struct event		*ev_live;
	uint64_t		 ack_ms;	/* the last Ack, or data first
						   outstanding since */
	int			 want_switchover;	/* Switchover call */
	int			 deadline;	/* passed, timeout_action FORCE */

	/* switchover */
	uint64_t		 stop_us;
	uint64_t		 stop_runq_us;	/* loop's CPU wait at the stop */
	uint64_t		 stop_unix_us;
	uint64_t		 final_send_us;	/* stop-copy transfer time */
	/* when each downtime step began (now_us), for the breakdown */
	uint64_t		 t_freeze, t_records, t_pages, t_state,
				 t_state_sent, t_switchover;
	uint64_t		 memory_digest;
};

/* job_out.c */
void	out_protocol_error(struct job *, const char *fmt, const char *what);

/* out_delta.c */
void	out_delta_init(struct job *, int on);
void	out_delta_attach(struct job *, struct tracker_user *);
void	out_delta_free(struct job *);
void	out_delta_round(struct job *);
int	out_delta_batch(struct job *, uint64_t *sent, int *rcp);
uint64_t out_delta_dirty_wire(struct job *);

/* out_pump.c */
void	out_pump_init(struct job *);
void	out_pump_free(struct job *);
void	out_pump_set(struct job_out *, enum out_pump_state);
void	out_pump_stop(struct job *);	/* rollback, freeze */
void	out_share(struct job *, uint64_t share_bps);
void	out_window(struct job *);
void	out_kick(struct job *);
void	out_writable_pump(struct job *);	/* 1: the pump took it */
void	out_acks_moved(struct job *);
void	out_pump_cut(struct job *);	/* the deadline: end the round */
void	out_drained(struct job *);	/* a drain read ended */
void	out_stopcopy_begin(struct job *);
void	out_stopcopy_done(struct job *);
int	out_send_pages(struct job *);		/* steps */
int	out_send_final_pages(struct job *);

/* out_dirty.c */
void	out_dirty_init(struct job *);
void	out_dirty_free(struct job *);
void	out_dirty_detach(struct job *);
void	out_drain(struct job *);
int	out_start_recording(struct job *);	/* steps */
int	out_read_dirty(struct job *);
int	out_final_dirty(struct job *);
int	out_take_reads(struct job *);
int	out_stop_recording(struct job *);
int	out_rb_stop_recording(struct job *);
/* Pages deferred now: dirty and hot (0 unless deferring). */
uint64_t out_deferred_pages(struct job *);

/* out_state.c */
void	out_state_init(struct job *);
void	out_state_free(struct job *);
void	out_state_writable(struct job *);
int	out_precopy_state_read(struct job *);	/* steps */
int	out_precopy_state_send(struct job *);
int	out_state_size(struct job *);
int	out_read_state(struct job *);
int	out_send_state(struct job *);

#endif /* VMIG_JOB_OUT_H */
