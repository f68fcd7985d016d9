/*
 * sim_dma.c: what a VF writes into guest memory while it is active.
 *
 * The n-th write (where, how long, which bytes) is a function of the DMA
 * state alone (PRNG, counters, the workload's parameters), all of which
 * travel in the vendor TLV of the device context: a VF restored on
 * another simulator continues exactly the same sequence. Only the pace
 * (how many writes per tick) comes from the clock, and it is host-local.
 *
 * Every write lands in memory first and is recorded after, so a reader
 * that reads the records and then copies the page never misses it.
 */
#include "config.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <xxhash.h>

#include "log.h"
#include "util.h"
#include "sim.h"

static const char *const sim_kinds[SIM_DMA_NKINDS] = {
	[SIM_DMA_IDLE] = "idle",
	[SIM_DMA_HOT] = "hot",
	[SIM_DMA_STREAM] = "stream",
	[SIM_DMA_BURST] = "burst",
	[SIM_DMA_FLOOD] = "flood",
};

const char *
sim_dma_kind_name(uint32_t k)
{
	return (k < SIM_DMA_NKINDS ? sim_kinds[k] : "unknown");
}

int
sim_dma_kind_parse(const char *s)
{
	int	i;

	for (i = 0; i < SIM_DMA_NKINDS; i++) {
		if (strcasecmp(s, sim_kinds[i]) == 0)
			return (i);
	}
	return (-1);
}

static uint64_t
splitmix64(uint64_t *x)
{
	uint64_t z = (*x += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return (z ^ (z >> 31));
}

void
sim_dma_defaults(struct sim_dma *d, unsigned int id)
{
	memset(d, 0, sizeof(*d));
	d->kind = SIM_DMA_IDLE;
	d->seed = id;
	d->prng = d->seed;
	d->rate = 4u << 20;
	d->wsize = 512;
	d->hot_ppm = 100000;		/* 10 % */
	d->ring_bufs = 256;
	d->buf_size = 2048;
	d->burst_bytes = 256u << 10;
	d->burst_ms = 100;
}

/*
 * One phase: argv[0] is the kind, then key=value; d starts as the previous
 * phase (or the VF's workload) so unset keys carry over. *for_ms gets the
 * phase's for= (0: none).
 */
static int
parse_phase(struct sim_dma *d, uint32_t *for_ms, int argc, char **argv,
    char *err, size_t errlen)
{
	char		*key, *val, *end;
	uint64_t	 v;
	double		 f;
	int		 i, kind;

	*for_ms = 0;
	if (argc < 1 || (kind = sim_dma_kind_parse(argv[0])) < 0) {
		snprintf(err, errlen, "workload kind must be idle, hot, "
		    "stream, burst or flood");
		return (-EINVAL);
	}
	if (kind == SIM_DMA_FLOOD && d->kind != SIM_DMA_FLOOD)
		d->rate = 2ULL << 30;	/* faster than any link here */
	d->kind = (uint32_t)kind;
	for (i = 1; i < argc; i++) {
		key = argv[i];
		if ((val = strchr(key, '=')) == NULL) {
			snprintf(err, errlen, "'%s' is not key=value", key);
			return (-EINVAL);
		}
		*val++ = '\0';
		if (strcmp(key, "fraction") == 0) {
			f = strtod(val, &end);
			if (*end != '\0' || !(f > 0.0 && f <= 1.0)) {
				snprintf(err, errlen, "fraction=%s: want a "
				    "number in (0, 1]", val);
				return (-EINVAL);
			}
			d->hot_ppm = (uint32_t)lround(f * 1e6);
			if (d->hot_ppm == 0)
				d->hot_ppm = 1;
			continue;
		}
		/* Sizes may carry a unit (4K, 10M); others are numbers. */
		if (sim_parse_u64(val, &v) != 0 && parse_size(val, &v) != 0) {
			snprintf(err, errlen, "%s=%s: not a number", key, val);
			return (-EINVAL);
		}
		if (strcmp(key, "rate") == 0)
			d->rate = v;
		else if (strcmp(key, "size") == 0 && v >= 8 && v <= 4096)
			d->wsize = (uint32_t)v;
		else if (strcmp(key, "seed") == 0)
			d->seed = v;
		else if (strcmp(key, "offset") == 0)
			d->win_off = v;
		else if (strcmp(key, "length") == 0)
			d->win_len = v;
		else if (strcmp(key, "bufs") == 0 && v >= 1 && v <= 65536)
			d->ring_bufs = (uint32_t)v;
		else if (strcmp(key, "bufsize") == 0 && v >= 64 && v <= 65536)
			d->buf_size = (uint32_t)v;
		else if (strcmp(key, "bytes") == 0)
			d->burst_bytes = v;
		else if (strcmp(key, "every") == 0 && v >= 1 && v <= 3600000)
			d->burst_ms = (uint32_t)v;
		else if (strcmp(key, "for") == 0 && v >= 1 && v <= 3600000)
			*for_ms = (uint32_t)v;
		else {
			snprintf(err, errlen, "unknown or out-of-range key "
			    "%s=%s (rate size seed offset length fraction bufs "
			    "bufsize bytes every for)", key, val);
			return (-EINVAL);
		}
	}
	if (d->win_off % 4096 != 0 || d->win_len % 4096 != 0) {
		snprintf(err, errlen, "offset and length must be multiples "
		    "of 4096");
		return (-EINVAL);
	}
	return (0);
}

/*
 * Run phase d from now on: its parameters, the sequence (PRNG, counters,
 * running hash) continuing; a new kind or seed restarts it from the seed.
 */
static void
start_phase(struct sim_vf *vf, const struct sim_dma *d, int reseed)
{
	struct sim_dma	n = *d, *cur = &vf->st.dma;

	n.writes = cur->writes;
	n.bytes = cur->bytes;
	n.hash = cur->hash;
	n.prng = reseed || n.kind != cur->kind ? n.seed : cur->prng;
	n.stream_pos = 0;
	*cur = n;
	vf->pace.credit = 0;
	vf->pace.last_ns = 0;
	vf->pace.next_burst_ns = 0;
}

/*
 * "workload VF KIND key=value... [for=MS then KIND key=value...]...
 * [repeat]": argv[0] is the first kind. One phase without for= is a plain
 * workload; more make a schedule (struct sim_sched).
 */
int
sim_dma_configure(struct sim_vf *vf, int argc, char **argv, char *err,
    size_t errlen)
{
	struct sim_sched sc;
	struct sim_dma	 d = vf->st.dma;
	int		 i, start = 0, repeat = 0, seeded = 0;

	memset(&sc, 0, sizeof(sc));
	if (argc > 1 && strcmp(argv[argc - 1], "repeat") == 0) {
		repeat = 1;
		argc--;
	}
	for (i = 0; i <= argc; i++) {
		if (i < argc && strcmp(argv[i], "then") != 0)
			continue;
		if (sc.n == SIM_PHASES_MAX) {
			snprintf(err, errlen, "at most %d phases",
			    SIM_PHASES_MAX);
			return (-EINVAL);
		}
		if (parse_phase(&d, &sc.ms[sc.n], i - start, argv + start,
		    err, errlen) != 0)
			return (-EINVAL);
		sc.ph[sc.n++] = d;
		start = i + 1;
	}
	for (i = 0; i < (int)sc.n; i++) {
		if (sc.ms[i] == 0 && (repeat || i + 1 < (int)sc.n)) {
			snprintf(err, errlen, "phase %d needs for=MS (only "
			    "the last of a schedule that does not repeat may "
			    "run for good)", i + 1);
			return (-EINVAL);
		}
	}
	/* A new workload starts its sequence from the seed. */
	for (i = 1; i < argc && strcmp(argv[i], "then") != 0; i++)
		if (strncmp(argv[i], "seed", 4) == 0)
			seeded = 1;
	start_phase(vf, &sc.ph[0], seeded);
	if (sc.n == 1 && sc.ms[0] == 0)
		sc.n = 0;	/* a plain workload */
	sc.repeat = repeat;
	vf->pace.sched = sc;
	return (0);
}

/* Moves the schedule on when the current phase's time is up. */
static void
sched_tick(struct sim_vf *vf, uint64_t now_ns)
{
	struct sim_sched	*sc = &vf->pace.sched;

	if (sc->n == 0)
		return;
	if (sc->end_ns == 0) {
		if (sc->ms[sc->cur] != 0)
			sc->end_ns = now_ns + (uint64_t)sc->ms[sc->cur] *
			    1000000;
		return;
	}
	if (now_ns < sc->end_ns)
		return;
	if (sc->cur + 1 < sc->n)
		sc->cur++;
	else if (sc->repeat)
		sc->cur = 0;
	else {
		sc->n = 0;	/* the last phase runs for good */
		return;
	}
	start_phase(vf, &sc->ph[sc->cur], 0);
	sc->end_ns = sc->ms[sc->cur] != 0 ? now_ns +
	    (uint64_t)sc->ms[sc->cur] * 1000000 : 0;
	if (sc->ms[sc->cur] == 0)
		sc->n = 0;
}

/* The window the workload writes into, clipped to the attachment. */
static int
window(const struct sim_vf *vf, uint64_t *off, uint64_t *len)
{
	const struct sim_dma *d = &vf->st.dma;

	if (vf->mem.p == NULL || d->win_off >= vf->mem.size)
		return (-1);
	*off = d->win_off;
	*len = d->win_len == 0 ? vf->mem.size - d->win_off :
	    MIN(d->win_len, vf->mem.size - d->win_off);
	return (*len >= 4096 ? 0 : -1);
}

/* Fill with a sequence derived from r; no libc PRNG, no clock. */
static void
fill(uint8_t *p, size_t len, uint64_t r)
{
	uint64_t	x = r;
	uint8_t		w[8];
	size_t		i;

	for (i = 0; i + 8 <= len; i += 8) {
		x = x * 6364136223846793005ULL + 1442695040888963407ULL;
		put_le64(p + i, x);
	}
	if (i < len) {
		x = x * 6364136223846793005ULL + 1442695040888963407ULL;
		put_le64(w, x);
		memcpy(p + i, w, len - i);
	}
}

int
sim_dma_write_one(struct sim *sim, struct sim_vf *vf)
{
	struct sim_dma	*d = &vf->st.dma;
	struct sim_vq	*rx = &vf->st.vq[0];
	uint64_t	 woff, wlen, npages, nhot, page, r, off, len, base;
	uint32_t	 ws, k;

	if (d->kind == SIM_DMA_IDLE || window(vf, &woff, &wlen) != 0)
		return (-1);
	r = splitmix64(&d->prng);
	npages = wlen / 4096;
	ws = MIN(d->wsize, 4096u);
	switch (d->kind) {
	case SIM_DMA_HOT:
		nhot = npages * d->hot_ppm / 1000000;
		if (nhot == 0)
			nhot = 1;
		/* The hot set starts at a seed-chosen page. */
		base = d->seed % npages;
		page = (base + r % nhot) % npages;
		off = page * 4096 + ((r >> 40) % (4096 / ws)) * ws;
		len = ws;
		break;
	case SIM_DMA_STREAM:
		/* The ring wraps inside the window if it is larger. */
		k = (uint32_t)(d->stream_pos % d->ring_bufs);
		base = wlen / d->buf_size;
		off = base == 0 ? 0 : (k % base) * d->buf_size;
		len = 64 + (r % (d->buf_size - 63));
		d->stream_pos++;
		/* Like a NIC: one rx buffer used per packet. */
		rx->avail_idx++;
		rx->nown = SIM_OWN_MAX;
		for (k = 0; k < SIM_OWN_MAX; k++)
			rx->own[k] = (uint16_t)((rx->avail_idx + k) %
			    SIM_VQ_SIZE);
		break;
	case SIM_DMA_FLOOD:
		page = r % npages;
		off = page * 4096;
		len = 4096;
		break;
	case SIM_DMA_BURST:
	default:
		page = r % npages;
		off = page * 4096 + ((r >> 40) % (4096 / ws)) * ws;
		len = ws;
		break;
	}
	off += woff;
	if (off >= vf->mem.size)
		return (-1);
	len = MIN(len, vf->mem.size - off);
	fill(vf->mem.p + off, (size_t)len, r);
	d->hash = XXH3_64bits_withSeed(vf->mem.p + off, (size_t)len,
	    d->hash ^ (vf->mem.iova + off));
	d->writes++;
	d->bytes += len;
	/* Memory first, record after. */
	sim_vf_record(sim, vf, vf->mem.iova + off, len);
	return ((int)len);
}

void
sim_dma_tick(struct sim *sim, struct sim_vf *vf, uint64_t now_ns)
{
	struct sim_dma	*d = &vf->st.dma;
	struct sim_pace	*p = &vf->pace;
	double		 cap;
	uint64_t	 done = 0, period;
	int		 n;

	if (sim_vf_active(sim, vf) && !vf->held && vf->mem.p != NULL)
		sched_tick(vf, now_ns);
	if (!sim_vf_active(sim, vf) || vf->held || vf->mem.p == NULL ||
	    d->kind == SIM_DMA_IDLE) {
		p->last_ns = 0;
		p->credit = 0;
		return;
	}
	if (p->last_ns == 0) {
		p->last_ns = now_ns;
		p->next_burst_ns = now_ns;
		return;
	}
	if (d->kind == SIM_DMA_BURST) {
		period = (uint64_t)d->burst_ms * 1000000;
		if (now_ns >= p->next_burst_ns) {
			p->credit += (double)d->burst_bytes;
			p->next_burst_ns = now_ns + period;
		}
	} else
		p->credit += (double)d->rate * (double)(now_ns - p->last_ns) /
		    1e9;
	p->last_ns = now_ns;
	cap = (double)sim->o.max_tick_bytes;
	if (d->kind == SIM_DMA_BURST)
		cap = MAX(cap, (double)d->burst_bytes);
	if (p->credit > cap)
		p->credit = cap;
	while (p->credit >= 1.0 && done < sim->o.max_tick_bytes) {
		if ((n = sim_dma_write_one(sim, vf)) <= 0)
			break;
		p->credit -= n;
		done += (uint64_t)n;
	}
}

/*
 * The vendor TLV (VA_CTX_SIM_DMA_LEN = 112 bytes):
 *	0 le32 version (1)	4 le32 kind
 *	8 le64 seed		16 le64 prng		24 le64 writes
 *	32 le64 bytes		40 le64 hash		48 le64 stream_pos
 *	56 le64 rate		64 le64 win_off		72 le64 win_len
 *	80 le64 burst_bytes	88 le32 burst_ms	92 le32 wsize
 *	96 le32 hot_ppm		100 le32 ring_bufs	104 le32 buf_size
 *	108 le32 reserved
 */
void
sim_dma_ctx_put(const struct sim_dma *d, uint8_t *v)
{
	memset(v, 0, VA_CTX_SIM_DMA_LEN);
	put_le32(v, 1);
	put_le32(v + 4, d->kind);
	put_le64(v + 8, d->seed);
	put_le64(v + 16, d->prng);
	put_le64(v + 24, d->writes);
	put_le64(v + 32, d->bytes);
	put_le64(v + 40, d->hash);
	put_le64(v + 48, d->stream_pos);
	put_le64(v + 56, d->rate);
	put_le64(v + 64, d->win_off);
	put_le64(v + 72, d->win_len);
	put_le64(v + 80, d->burst_bytes);
	put_le32(v + 88, d->burst_ms);
	put_le32(v + 92, d->wsize);
	put_le32(v + 96, d->hot_ppm);
	put_le32(v + 100, d->ring_bufs);
	put_le32(v + 104, d->buf_size);
}

int
sim_dma_ctx_get(struct sim_dma *d, const uint8_t *v, char *err,
    size_t errlen)
{
	struct sim_dma	n;

	memset(&n, 0, sizeof(n));
	n.kind = get_le32(v + 4);
	n.seed = get_le64(v + 8);
	n.prng = get_le64(v + 16);
	n.writes = get_le64(v + 24);
	n.bytes = get_le64(v + 32);
	n.hash = get_le64(v + 40);
	n.stream_pos = get_le64(v + 48);
	n.rate = get_le64(v + 56);
	n.win_off = get_le64(v + 64);
	n.win_len = get_le64(v + 72);
	n.burst_bytes = get_le64(v + 80);
	n.burst_ms = get_le32(v + 88);
	n.wsize = get_le32(v + 92);
	n.hot_ppm = get_le32(v + 96);
	n.ring_bufs = get_le32(v + 100);
	n.buf_size = get_le32(v + 104);
	if (n.kind >= SIM_DMA_NKINDS || n.wsize < 8 || n.wsize > 4096 ||
	    n.hot_ppm == 0 || n.hot_ppm > 1000000 || n.ring_bufs == 0 ||
	    n.buf_size < 64 || n.buf_size > 65536 || n.burst_ms == 0 ||
	    n.win_off % 4096 != 0 || n.win_len % 4096 != 0) {
		snprintf(err, errlen, "DMA state out of range (kind %u, "
		    "size %u, hot %u ppm, bufs %u x %u, every %u ms)", n.kind,
		    n.wsize, n.hot_ppm, n.ring_bufs, n.buf_size, n.burst_ms);
		return (-EINVAL);
	}
	*d = n;
	return (0);
}
