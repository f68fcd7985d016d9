/*
 * tbucket.c: token bucket, pure (the caller passes the time).
 */
#include <config.h>

#include <string.h>

#include "tbucket.h"

#define TBUCKET_BURST_MIN	(64 * 1024)
#define NSEC_PER_SEC		1000000000ULL

static uint64_t
tbucket_default_burst(uint64_t rate, uint64_t burst)
{
	if (burst != 0)
		return (burst);
	burst = rate / 10;
	return (burst < TBUCKET_BURST_MIN ? TBUCKET_BURST_MIN : burst);
}

/* Clamp so tokens stay well inside int64_t. */
static int64_t
tbucket_clamp(uint64_t v)
{
	return (v > (uint64_t)INT64_MAX / 2 ? INT64_MAX / 2 : (int64_t)v);
}

void
tbucket_init(struct tbucket *tb, uint64_t rate, uint64_t burst,
    uint64_t now_ns)
{
	memset(tb, 0, sizeof *tb);
	tb->rate = rate;
	tb->burst = tbucket_default_burst(rate, burst);
	tb->tokens = tbucket_clamp(tb->burst);
	tb->last_ns = now_ns;
}

void
tbucket_set_rate(struct tbucket *tb, uint64_t rate, uint64_t burst,
    uint64_t now_ns)
{
	tbucket_refill(tb, now_ns);
	tb->rate = rate;
	tb->burst = tbucket_default_burst(rate, burst);
	if (tb->tokens > tbucket_clamp(tb->burst))
		tb->tokens = tbucket_clamp(tb->burst);
}

void
tbucket_refill(struct tbucket *tb, uint64_t now_ns)
{
	uint64_t	 dt, add;
	unsigned __int128 prod;

	if (now_ns <= tb->last_ns)
		return;		/* the clock did not move (or went back) */
	dt = now_ns - tb->last_ns;
	tb->last_ns = now_ns;
	if (tb->rate == 0) {
		tb->tokens = tbucket_clamp(tb->burst);
		return;
	}
	/* Keep the fraction of a token so frequent refills lose nothing. */
	prod = (unsigned __int128)dt * tb->rate + tb->frac;
	tb->frac = (uint64_t)(prod % NSEC_PER_SEC);
	prod /= NSEC_PER_SEC;
	add = prod > (unsigned __int128)INT64_MAX / 2 ? (uint64_t)INT64_MAX / 2 :
	    (uint64_t)prod;
	if ((int64_t)add > tbucket_clamp(tb->burst) - tb->tokens)
		tb->tokens = tbucket_clamp(tb->burst);
	else
		tb->tokens += (int64_t)add;
}

uint64_t
tbucket_wait_ns(struct tbucket *tb, uint64_t now_ns)
{
	unsigned __int128 ns;

	tbucket_refill(tb, now_ns);
	if (tb->rate == 0 || tb->tokens > 0)
		return (0);
	/* Time until tokens reach 1. */
	ns = ((unsigned __int128)(1 - tb->tokens) * NSEC_PER_SEC + tb->rate -
	    1) / tb->rate;
	return (ns > UINT64_MAX ? UINT64_MAX : (uint64_t)ns);
}

void
tbucket_consume(struct tbucket *tb, uint64_t bytes, uint64_t now_ns)
{
	tbucket_refill(tb, now_ns);
	tb->consumed += bytes;
	if (tb->rate == 0)
		return;
	/* Debt is bounded to keep tokens in range; a real job never hits it. */
	if (tbucket_clamp(bytes) > tb->tokens - INT64_MIN / 2)
		tb->tokens = INT64_MIN / 2;
	else
		tb->tokens -= tbucket_clamp(bytes);
}

int
tbucket_take(struct tbucket *tb, uint64_t bytes, uint64_t now_ns)
{
	tbucket_refill(tb, now_ns);
	if (tb->rate != 0 && (tb->tokens < 0 || (uint64_t)tb->tokens < bytes))
		return (0);
	tbucket_consume(tb, bytes, now_ns);
	return (1);
}
