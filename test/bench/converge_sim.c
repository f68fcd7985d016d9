/*
 * converge_sim: replay synthetic dirty-page workloads through both
 * convergence policies (daemon/converge.c) with a simple model of sending,
 * and report bytes sent, iterations, predicted and "actual" downtime and
 * whether the 300 ms target was met, adaptive against baseline on the
 * very same write sequence (same seed), as ratios.
 *
 * Model: 128 MiB of guest memory in 4 KiB pages, a 256 MiB/s link, a VF
 * whose DMA writes pages at a rate relative to the link (hot set, stream,
 * uniform, mixed, burst). Bulk copy, then per iteration: wait the policy's
 * delay, send the dirty set (pages written during a send are dirty again),
 * read the write log (1 ms), decide. At switchover the device stops 10 ms after
 * the decision; the downtime is the real switchover cost (30 ms + state at
 * 200 MB/s: the policy is not told, it estimates 20 ms + the same) plus
 * the final pages and the device state at the link rate.
 *
 * It is a model, not a measurement: it tunes the policy before the real
 * end-to-end benchmark exists. Deterministic (fixed seed).
 *
 *	converge_sim [--json] [--quiet]
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "converge.h"

#define PAGE		4096ULL
#define NPAGES		32768ULL			/* 128 MiB */
#define LINK_BPMS	(256.0 * 1024 * 1024 / 1000)	/* bytes per ms */
#define STOP_MS		10
#define ROUND_MS	1	/* a round costs at least a log read */
#define REAL_FIXED_MS	30
#define LOAD_BPS	200000000.0
#define SIM_LIMIT_MS	120000
#define TARGET_MS	300

static const char *trace_wl;	/* --trace NAME RATE: print every decision */
static double	 trace_rate;

struct workload {
	const char	*name;
	uint64_t	 state_bytes;
	uint64_t	 hot_pages;	/* hot set at the start of memory */
	double		 hot_frac;	/* share of writes into the hot set */
	int		 uniform;	/* others: uniform random, else stream */
	double		 burst_from_ms;	/* a burst of uniform writes ... */
	double		 burst_ms;
	double		 burst_mult;	/* ... at this multiple of the rate */
};

static const struct workload workloads[] = {
	{ "hot16",  2 << 20,  4096, 1.0, 0, 0, 0, 0 },
	{ "hot96",  2 << 20, 24576, 1.0, 0, 0, 0, 0 },
	{ "stream", 2 << 20,     0, 0.0, 0, 0, 0, 0 },
	{ "uniform", 2 << 20,    0, 0.0, 1, 0, 0, 0 },
	{ "mixed",  2 << 20,  4096, 0.7, 0, 0, 0, 0 },
	{ "burst",  2 << 20,     0, 0.0, 0, 600, 400, 20 },
	{ "state40", 40 << 20, 4096, 1.0, 0, 0, 0, 0 },
	{ "hot80+st", 2 << 20, 20480, 0.7, 0, 0, 0, 0 },
};

static const double rates[] = { 0.1, 0.3, 0.6, 0.9, 1.5 };	/* x link */

struct result {
	enum converge_action end;
	uint32_t	iterations;
	uint64_t	time_ms;
	uint64_t	sent_bytes;
	uint64_t	predicted_ms;
	uint64_t	downtime_ms;
	uint32_t	final_target_ms;
	int		met;
};

struct sim {
	const struct workload *w;
	double		 rate_ppms;	/* writes per ms */
	double		 carry;
	uint64_t	 rng;
	uint64_t	 ptr;		/* stream position */
	uint8_t		 dirty[NPAGES];
	uint8_t		 cur[NPAGES];	/* written since the last read */
	uint8_t		 last[NPAGES];	/* ... in the read before */
	uint8_t		 hot[NPAGES];	/* in the last two reads */
};

static uint64_t
rnd(struct sim *s)
{
	/* xorshift64*: deterministic and fast enough. */
	s->rng ^= s->rng >> 12;
	s->rng ^= s->rng << 25;
	s->rng ^= s->rng >> 27;
	return (s->rng * 2685821657736338717ULL);
}

static uint64_t
pick(struct sim *s)
{
	const struct workload	*w = s->w;

	if (w->hot_pages > 0 && (double)(rnd(s) % 1000000) / 1e6 <
	    w->hot_frac)
		return (rnd(s) % w->hot_pages);
	if (w->uniform)
		return (rnd(s) % NPAGES);
	s->ptr = (s->ptr + 1) % NPAGES;
	return (s->ptr);
}

/* The device's writes in [t0, t1): marked in cur[]. */
static void
writes(struct sim *s, double t0, double t1)
{
	double		n, b0, b1;
	uint64_t	k, i;

	if (t1 <= t0)
		return;
	n = s->rate_ppms * (t1 - t0) + s->carry;
	if (s->w->burst_ms > 0) {
		b0 = t0 > s->w->burst_from_ms ? t0 : s->w->burst_from_ms;
		b1 = t1 < s->w->burst_from_ms + s->w->burst_ms ? t1 :
		    s->w->burst_from_ms + s->w->burst_ms;
		if (b1 > b0) {
			k = (uint64_t)(s->rate_ppms * s->w->burst_mult *
			    (b1 - b0));
			for (i = 0; i < k; i++)
				s->cur[rnd(s) % NPAGES] = 1;
		}
	}
	k = (uint64_t)n;
	s->carry = n - (double)k;
	for (i = 0; i < k; i++)
		s->cur[pick(s)] = 1;
}

static uint64_t
count(const uint8_t *a)
{
	uint64_t	i, n = 0;

	for (i = 0; i < NPAGES; i++)
		n += a[i];
	return (n);
}

static void
run(const struct workload *w, double rate, enum converge_kind kind,
    struct result *res)
{
	struct sim			*s;
	struct converge			 c;
	struct converge_policy		 pol = { .kind = kind,
	    .max_downtime_ms = TARGET_MS, .downtime_ceiling_ms = 1000,
	    .completion_timeout_s = 30, .timeout_force = 1,
	    .forced_downtime_ms = 2000 };
	struct converge_obs		 o;
	struct converge_decision	 d;
	double				 t = 0, t_read = 0, t_iter = 0, dur;
	uint64_t			 i, sent_iter, n_new, n_hot, ndirty;
	uint64_t			 ndef, nsend;
	double				 send_ms;

	s = calloc(1, sizeof *s);
	if (s == NULL)
		abort();
	s->w = w;
	s->rate_ppms = rate * LINK_BPMS / PAGE;
	s->rng = 0x9e3779b97f4a7c15ULL;
	memset(res, 0, sizeof *res);
	converge_init(&c, &pol);

	/* Bulk copy: everything once; the device writes meanwhile. */
	dur = (double)(NPAGES * PAGE) / LINK_BPMS;
	writes(s, 0, dur);
	t = dur;
	sent_iter = NPAGES * PAGE;
	send_ms = dur;
	res->sent_bytes = sent_iter;

	for (;;) {
		/* Read the write log. */
		n_new = n_hot = 0;
		for (i = 0; i < NPAGES; i++) {
			s->hot[i] = s->cur[i] && s->last[i];
			n_new += s->cur[i];
			n_hot += s->hot[i];
			if (s->cur[i])
				s->dirty[i] = 1;
		}
		memcpy(s->last, s->cur, sizeof s->last);
		memset(s->cur, 0, sizeof s->cur);

		ndirty = ndef = 0;
		for (i = 0; i < NPAGES; i++) {
			if (!s->dirty[i])
				continue;
			if (c.defer_hot && s->hot[i])
				ndef++;
			else
				ndirty++;
		}
		memset(&o, 0, sizeof o);
		o.iteration = ++res->iterations;
		o.now_ms = (uint64_t)t;
		o.iter_ms = (uint64_t)(t - t_iter);
		o.read_interval_ms = (uint64_t)(t - t_read);
		o.new_pages = n_new;
		o.hot_pages = n_hot;
		o.written_bytes = n_new * PAGE;	/* page-sized writes */
		o.dirty_pages = ndirty;
		o.deferred_pages = ndef;
		o.page_size = PAGE;
		o.total_bytes = NPAGES * PAGE;
		o.sent_bytes = sent_iter;
		o.send_us = (uint64_t)(send_ms * 1000);
		o.state_bytes = w->state_bytes;
		t_read = t_iter = t;

		converge_decide(&c, &o, &d);
		if (trace_wl != NULL && strcmp(trace_wl, w->name) == 0 &&
		    rate == trace_rate)
			fprintf(stderr, "%s %u t=%.1f new=%llu hot=%llu "
			    "dirty=%llu def=%llu sent=%llu: %s +%llu ms: %s\n",
			    converge_kind_name(kind), o.iteration, t,
			    (unsigned long long)n_new,
			    (unsigned long long)n_hot,
			    (unsigned long long)ndirty,
			    (unsigned long long)ndef,
			    (unsigned long long)sent_iter,
			    converge_action_name(d.action),
			    (unsigned long long)d.delay_ms, d.reason);
		res->predicted_ms = d.predicted_downtime_ms;
		res->final_target_ms = d.target_ms;

		if (converge_action_switches(d.action)) {
			writes(s, t, t + STOP_MS);
			for (i = 0; i < NPAGES; i++)
				if (s->cur[i])
					s->dirty[i] = 1;
			nsend = count(s->dirty) * PAGE + w->state_bytes;
			res->sent_bytes += nsend;
			res->downtime_ms = (uint64_t)(REAL_FIXED_MS +
			    (double)w->state_bytes * 1000 / LOAD_BPS +
			    (double)nsend / LINK_BPMS + 0.5);
			res->met = res->downtime_ms <= TARGET_MS;
			res->end = d.action;
			res->time_ms = (uint64_t)t + res->downtime_ms;
			break;
		}
		if (d.action == CONVERGE_ABORT || t > SIM_LIMIT_MS) {
			res->end = CONVERGE_ABORT;
			res->time_ms = (uint64_t)t;
			break;
		}

		/* Wait, then send what is dirty (hot pages held back). */
		writes(s, t, t + (double)d.delay_ms);
		t += (double)d.delay_ms;
		nsend = 0;
		for (i = 0; i < NPAGES; i++) {
			if (s->cur[i])
				s->dirty[i] = 1;
			if (!s->dirty[i] || (c.defer_hot && s->hot[i]))
				continue;
			s->dirty[i] = 0;
			nsend++;
		}
		sent_iter = nsend * PAGE;
		send_ms = (double)sent_iter / LINK_BPMS;
		writes(s, t, t + send_ms + ROUND_MS);
		t += send_ms + ROUND_MS;
		res->sent_bytes += sent_iter;
	}
	free(s);
}

int
main(int argc, char **argv)
{
	struct result	 a, b;
	size_t		 wi, ri, n = 0, both = 0;
	int		 json = 0, quiet = 0, i;
	double		 lsum = 0, ratio;
	unsigned int	 met_a = 0, met_b = 0, done_a = 0, done_b = 0;
	double		 err_a = 0, err_b = 0;
	unsigned int	 nerr_a = 0, nerr_b = 0;

	for (i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--json") == 0)
			json = 1;
		else if (strcmp(argv[i], "--quiet") == 0)
			quiet = 1;
		else if (strcmp(argv[i], "--trace") == 0 && i + 2 < argc) {
			trace_wl = argv[++i];
			trace_rate = atof(argv[++i]);
		}
		else {
			fprintf(stderr, "usage: converge_sim [--json] "
			    "[--quiet] [--trace workload rate]\n");
			return (2);
		}
	}
	if (!json && !quiet)
		printf("%-8s %4s | %-16s %5s %8s %7s %6s %6s %3s | %-16s %5s "
		    "%8s %7s %6s %6s %3s | %5s\n", "workload", "rate",
		    "adaptive", "iters", "sent MiB", "time ms", "pred",
		    "actual", "met", "baseline", "iters", "sent MiB",
		    "time ms", "pred", "actual", "met", "bytes");
	if (json)
		printf("{\"model\":{\"memory_bytes\":%llu,\"link_bps\":%.0f,"
		    "\"target_ms\":%d},\"runs\":[", NPAGES * PAGE,
		    LINK_BPMS * 1000, TARGET_MS);
	for (wi = 0; wi < sizeof workloads / sizeof workloads[0]; wi++) {
		for (ri = 0; ri < sizeof rates / sizeof rates[0]; ri++) {
			run(&workloads[wi], rates[ri], CONVERGE_KIND_ADAPTIVE,
			    &a);
			run(&workloads[wi], rates[ri], CONVERGE_KIND_BASELINE,
			    &b);
			ratio = (double)a.sent_bytes / (double)b.sent_bytes;
			n++;
			if (a.end != CONVERGE_ABORT) {
				done_a++;
				met_a += a.met;
				if (a.predicted_ms != UINT64_MAX) {
					err_a += (double)a.downtime_ms -
					    (double)a.predicted_ms;
					nerr_a++;
				}
			}
			if (b.end != CONVERGE_ABORT) {
				done_b++;
				met_b += b.met;
				if (b.predicted_ms != UINT64_MAX) {
					err_b += (double)b.downtime_ms -
					    (double)b.predicted_ms;
					nerr_b++;
				}
			}
			if (a.end != CONVERGE_ABORT &&
			    b.end != CONVERGE_ABORT) {
				lsum += log(ratio);
				both++;
			}
			if (json)
				printf("%s{\"workload\":\"%s\",\"rate\":%.2f,"
				    "\"adaptive\":{\"end\":\"%s\",\"iterations"
				    "\":%u,\"sent_bytes\":%llu,\"time_ms\":%llu,"
				    "\"predicted_ms\":%lld,\"downtime_ms\":%llu,"
				    "\"met\":%s},\"baseline\":{\"end\":\"%s\","
				    "\"iterations\":%u,\"sent_bytes\":%llu,"
				    "\"time_ms\":%llu,\"predicted_ms\":%lld,"
				    "\"downtime_ms\":%llu,\"met\":%s},"
				    "\"bytes_ratio\":%.3f}", n > 1 ? "," : "",
				    workloads[wi].name, rates[ri],
				    converge_action_name(a.end), a.iterations,
				    (unsigned long long)a.sent_bytes,
				    (unsigned long long)a.time_ms,
				    a.predicted_ms == UINT64_MAX ? -1LL :
				    (long long)a.predicted_ms,
				    (unsigned long long)a.downtime_ms,
				    a.met ? "true" : "false",
				    converge_action_name(b.end), b.iterations,
				    (unsigned long long)b.sent_bytes,
				    (unsigned long long)b.time_ms,
				    b.predicted_ms == UINT64_MAX ? -1LL :
				    (long long)b.predicted_ms,
				    (unsigned long long)b.downtime_ms,
				    b.met ? "true" : "false", ratio);
			else if (!quiet)
				printf("%-8s %4.1f | %-16s %5u %8.1f %7llu "
				    "%6lld %6llu %3s | %-16s %5u %8.1f %7llu "
				    "%6lld %6llu %3s | %5.2f\n",
				    workloads[wi].name, rates[ri],
				    converge_action_name(a.end), a.iterations,
				    a.sent_bytes / 1048576.0,
				    (unsigned long long)a.time_ms,
				    a.predicted_ms == UINT64_MAX ? -1LL :
				    (long long)a.predicted_ms,
				    (unsigned long long)a.downtime_ms,
				    a.end == CONVERGE_ABORT ? "-" :
				    a.met ? "yes" : "no",
				    converge_action_name(b.end), b.iterations,
				    b.sent_bytes / 1048576.0,
				    (unsigned long long)b.time_ms,
				    b.predicted_ms == UINT64_MAX ? -1LL :
				    (long long)b.predicted_ms,
				    (unsigned long long)b.downtime_ms,
				    b.end == CONVERGE_ABORT ? "-" :
				    b.met ? "yes" : "no", ratio);
		}
	}
	{
		double	g = exp(both ? lsum / (double)both : 0);

		if (json)
			printf("],\"summary\":{\"runs\":%zu,\"bytes_ratio_geomean"
			    "\":%.3f,\"adaptive_completed\":%u,"
			    "\"adaptive_met\":%u,\"baseline_completed\":%u,"
			    "\"baseline_met\":%u,\"adaptive_underestimate_ms"
			    "\":%.1f,\"baseline_underestimate_ms\":%.1f}}\n",
			    n, g, done_a, met_a, done_b, met_b,
			    nerr_a ? err_a / nerr_a : 0,
			    nerr_b ? err_b / nerr_b : 0);
		else
			printf("\n%zu workloads x rates. bytes sent adaptive/"
			    "baseline: geometric mean %.2f (over %zu both "
			    "completed)\ntarget %d ms met: adaptive %u of %u "
			    "completed, baseline %u of %u completed\n"
			    "mean (actual - predicted) downtime: adaptive "
			    "%.0f ms, baseline %.0f ms\n", n, g, both,
			    TARGET_MS, met_a, done_a, met_b, done_b,
			    nerr_a ? err_a / nerr_a : 0,
			    nerr_b ? err_b / nerr_b : 0);
	}
	return (0);
}
