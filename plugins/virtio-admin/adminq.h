/*
 * adminq.h: the admin virtqueue driver: commands in, completions out, on
 * the daemon's libevent loop.
 *
 * A command is built once (header, data, room for the result), waits in a
 * software queue per lane until the ring has descriptors and the buffer
 * pool has room, then goes into the ring of its lane's queue (two lanes
 * share one queue when the PF offers only one, critical first and bulk
 * limited to a quarter of the ring, so a critical command never waits
 * behind a train of bulk reads). The call eventfd brings completions; the
 * callback runs on the loop with the status and the result still in the
 * pool; the command is freed when it returns.
 *
 * A command not completed within the timeout calls back with -ETIMEDOUT;
 * its descriptors and buffer stay reserved until the device returns them,
 * if it ever does.
 */
#ifndef VA_ADMINQ_H
#define VA_ADMINQ_H

#include <sys/queue.h>

#include <stddef.h>
#include <stdint.h>

#include "transport.h"

struct event;
struct event_base;
struct va_aq;
struct va_cmd;

typedef void (*va_cmd_cb)(struct va_cmd *, void *arg);

enum va_cmd_state {
	VA_CMD_NEW,
	VA_CMD_PENDING,		/* in the lane's software queue */
	VA_CMD_INFLIGHT,	/* in the ring */
	VA_CMD_ABANDONED,	/* in the ring, nobody waits for it */
};

struct va_cmd {
	TAILQ_ENTRY(va_cmd) entry;
	struct va_aq	*aq;
	enum va_cmd_state state;
	uint16_t	 opcode;
	uint16_t	 group;
	uint64_t	 member;
	int		 lane;
	unsigned int	 q;

	uint8_t		 data[64];	/* fixed part of the data */
	size_t		 data_len;
	const uint8_t	*tail;		/* caller bytes after data[] */
	size_t		 tail_len;
	size_t		 out_len;	/* data + tail, padded to 8 */
	size_t		 result_cap;	/* multiple of 8 */

	uint64_t	 buf_off;	/* in the pool; 0: none */
	size_t		 buf_len;
	uint16_t	 head;
	struct event	*timer;
	uint64_t	 t_submit;	/* us */

	/* Outcome, valid in the callback. */
	int		 err;		/* 0 or -errno */
	int		 answered;	/* the device gave a status (or ack) */
	uint16_t	 status;
	uint16_t	 qual;
	const uint8_t	*result;
	size_t		 result_len;
	char		 msg[192];

	va_cmd_cb	 cb;
	void		*arg;
};

struct va_aq_stats {
	uint64_t	 submitted;
	uint64_t	 completed;
	uint64_t	 failed;
	uint64_t	 timeouts;
	uint64_t	 late;		/* completed after their timeout */
	uint64_t	 bad_used;
	uint64_t	 queued;	/* had to wait in a software queue */
};

struct va_aq	*va_aq_new(struct va_transport *, struct event_base *,
		    int timeout_ms, char *err, size_t errlen);
/* Cancel everything (callbacks see -ECANCELED), close the transport. */
void		 va_aq_free(struct va_aq *);
struct va_transport *va_aq_transport(struct va_aq *);
/* The dialect whose framing and names the queue's commands use (before
 * the first command; default: the draft's admin framing). */
struct va_dialect;
void		 va_aq_set_dialect(struct va_aq *, const struct va_dialect *);
void		 va_aq_stats(struct va_aq *, struct va_aq_stats *);
/* Largest data + result a single command may carry with this pool. */
size_t		 va_aq_max_cmd(struct va_aq *);
int		 va_aq_dead(struct va_aq *);

/*
 * A new command. data (up to 64 bytes) is copied; tail (if any) is read
 * when the command enters the ring, so it must stay valid until the
 * callback. result_cap is rounded up to a multiple of 8.
 */
struct va_cmd	*va_cmd_new(struct va_aq *, uint16_t opcode, uint16_t group,
		    uint64_t member, int lane, const void *data,
		    size_t data_len, const void *tail, size_t tail_len,
		    size_t result_cap, va_cmd_cb, void *arg);
/* 0 (cb will run exactly once, never from inside this call) or -errno
 * (the command is freed, cb never runs). */
int		 va_cmd_submit(struct va_cmd *);
/* Forget a submitted command: no callback. */
void		 va_cmd_cancel(struct va_cmd *);

/* Logging through the host (the plugin sets it). */
extern void	(*va_logfn)(int level, const char *fmt, ...)
		    __attribute__((format(printf, 2, 3)));
#define va_log(lvl, ...) do {						\
	if (va_logfn != NULL)						\
		va_logfn((lvl), __VA_ARGS__);				\
} while (0)

#endif /* VA_ADMINQ_H */
