/*
 * tbucket.h: a token bucket holding a job to its bandwidth share. Pure:
 * the caller passes the monotonic time in nanoseconds.
 *
 * Batches are built before their size is known, so the bucket may go into
 * debt: a job may send while it has tokens (tbucket_wait_ns() == 0), then
 * tbucket_consume() charges what it actually sent. The average rate holds;
 * one batch can overshoot by at most its own size.
 */
#ifndef VMIG_TBUCKET_H
#define VMIG_TBUCKET_H

#include <stdint.h>

struct tbucket {
	uint64_t	 rate;		/* bytes per second, 0: unlimited */
	uint64_t	 burst;		/* most tokens that accumulate */
	int64_t		 tokens;	/* may be negative (debt) */
	uint64_t	 last_ns;
	uint64_t	 frac;		/* token fraction, in 1e-9 tokens */
	uint64_t	 consumed;	/* total bytes charged */
};

/* burst 0: rate / 10 (100 ms), at least 64 KiB. Starts full. */
void	 tbucket_init(struct tbucket *, uint64_t rate, uint64_t burst,
	    uint64_t now_ns);
/* Change rate / burst keeping tokens (clipped to the new burst). */
void	 tbucket_set_rate(struct tbucket *, uint64_t rate, uint64_t burst,
	    uint64_t now_ns);
void	 tbucket_refill(struct tbucket *, uint64_t now_ns);
/* 0 if sending may go on now, else nanoseconds until tokens are > 0. */
uint64_t tbucket_wait_ns(struct tbucket *, uint64_t now_ns);
void	 tbucket_consume(struct tbucket *, uint64_t bytes, uint64_t now_ns);
/* Take exactly bytes if that many tokens are there: 1, else 0. */
int	 tbucket_take(struct tbucket *, uint64_t bytes, uint64_t now_ns);

#endif /* VMIG_TBUCKET_H */
