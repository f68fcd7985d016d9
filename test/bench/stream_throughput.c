/*
 * stream_throughput: guest pages through stream + xfer between two
 * processes, beside iperf3 on the same loopback in the same run.
 *
 * A region of random bytes in /dev/shm (no zero pages) goes from a source
 * process (read-only mapping, dirty set full, xfer_send under the ack
 * window) to a destination process (frame_check, xfer_apply into its own
 * /dev/shm file, an Ack per batch), each on its own event loop. The time
 * runs from the connection to the ack of the last byte, so it covers both
 * copies. Then iperf3 moves the same number of bytes over TCP on the same
 * loopback; the runs alternate and the medians are compared. CPU seconds
 * per GiB (both ends, all threads; iperf3 reports its own) say what each
 * byte costs, which holds up better than speed on a shared machine.
 *
 *   stream_throughput [--size 1G] [--runs 3] [--batch 1M] [--window 16M]
 *       [--sendbuf 8] [--recvbuf 8] [--no-iperf] [--discard] [--json]
 */
#include <config.h>

#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>

#include "frame.h"
#include "log.h"
#include "memory.h"
#include "stream.h"
#include "util.h"
#include "xfer.h"

#define KIND(k)	VMIG__STREAM__V1__FRAME__KIND_##k
#define RUNS_MAX	15

struct opts {
	uint64_t	 size;
	int		 runs;
	uint64_t	 batch;
	uint64_t	 window;
	int		 sendbuf;
	int		 recvbuf;
	int		 iperf;
	int		 discard;	/* destination checks but does not copy */
	int		 json;
};

static struct opts	 o = {
	.size = 1ULL << 30, .runs = 3, .batch = 1 << 20, .window = 16 << 20,
	.sendbuf = 8, .recvbuf = 8, .iperf = 1,
};
static char		 src_path[64], dst_path[64];

/* CPU time of this process (all threads), microseconds. */
static uint64_t
cpu_us(void)
{
	struct rusage	 ru;

	getrusage(RUSAGE_SELF, &ru);
	return ((uint64_t)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1000000 +
	    (uint64_t)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec));
}

static void
die(const char *what)
{
	fprintf(stderr, "stream_throughput: %s\n", what);
	exit(1);
}

static void
make_files(void)
{
	uint64_t	*buf, v = 0x243f6a8885a308d3ULL, off, i;
	size_t		 chunk = 64 << 20;
	int		 fd;

	snprintf(src_path, sizeof src_path, "/dev/shm/vmig-bench-src-XXXXXX");
	snprintf(dst_path, sizeof dst_path, "/dev/shm/vmig-bench-dst-XXXXXX");
	if ((fd = mkstemp(src_path)) == -1)
		die("mkstemp source");
	buf = xmalloc(chunk);
	for (off = 0; off < o.size; off += chunk) {
		/* xorshift: no page comes out all zero */
		for (i = 0; i < chunk / 8; i++) {
			v ^= v << 13;
			v ^= v >> 7;
			v ^= v << 17;
			buf[i] = v | 1;
		}
		if (pwrite(fd, buf, MIN(chunk, o.size - off), (off_t)off) < 0)
			die("write source");
	}
	free(buf);
	close(fd);
	/* Written up front: every run sees memory that exists (steady state). */
	if ((fd = mkstemp(dst_path)) == -1)
		die("destination file");
	buf = xcalloc(1, chunk);
	for (off = 0; off < o.size; off += chunk) {
		if (pwrite(fd, buf, MIN(chunk, o.size - off), (off_t)off) < 0)
			die("write destination");
	}
	free(buf);
	close(fd);
}

static void
open_map(struct mem_map *m, const char *path, int flags)
{
	struct mem_region_spec s = { path, 0, 1ULL << 32, o.size, 4096 };
	char	 err[256];

	if (mem_map_open(m, &s, 1, flags | MEM_MAP_POPULATE, err,
	    sizeof err) != 0)
		die(err);
}

/* ---- destination process --------------------------------------------- */

struct dst {
	struct event_base *base;
	struct stream	*s;
	struct mem_map	 map;
	struct frame_region fr[1];
	struct frame_layout layout;
	uint64_t	 applied;
	uint64_t	 ack_seq;
	int		 ack_pending;
	uint64_t	 cpu0, cpu1;	/* first batch .. switchover */
	int		 done;
	int		 failed;
};

/*
 * Ack what has been applied. Acks are cumulative, so when the stream has
 * no room (the source is busy sending and not reading) the newest one
 * goes out on writable() and the ones in between are simply not needed.
 */
static void
dst_ack(struct dst *d)
{
	StreamFrame	 r = VMIG__STREAM__V1__FRAME__INIT;
	Vmig__Stream__V1__Ack ack = VMIG__STREAM__V1__ACK__INIT;
	int		 rc;

	ack.seq = d->ack_seq;
	ack.bytes = d->applied;
	r.kind_case = KIND(ACK);
	r.ack = &ack;
	rc = stream_send(d->s, &r, NULL, 0);
	d->ack_pending = rc == -EAGAIN;
	if (rc != 0 && rc != -EAGAIN)
		d->failed = 1;
}

static void
dst_writable(void *arg)
{
	struct dst	*d = arg;

	if (d->ack_pending)
		dst_ack(d);
}

static void
dst_frame(void *arg, const struct frame *f)
{
	struct dst	*d = arg;
	StreamFrame	 r = VMIG__STREAM__V1__FRAME__INIT;
	Vmig__Stream__V1__Done done = VMIG__STREAM__V1__DONE__INIT;
	char		 err[256];

	switch (f->hdr->kind_case) {
	case KIND(PAGES):
		if (d->cpu0 == 0)
			d->cpu0 = cpu_us();
		if (frame_check(&d->layout, NULL, f, err, sizeof err) != 0 ||
		    (!o.discard && xfer_apply_map(&d->map, f->hdr->pages,
		    f->payload, f->payload_len, NULL) != 0)) {
			fprintf(stderr, "destination: %s\n", err);
			d->failed = 1;
			d->done = 1;
			return;
		}
		d->applied += f->payload_len;
		d->ack_seq = f->hdr->pages->seq;
		dst_ack(d);
		break;
	case KIND(SWITCHOVER):
		d->cpu1 = cpu_us();
		done.memory_digest = o.discard ? 0 : mem_digest(&d->map);
		r.kind_case = KIND(DONE);
		r.done = &done;
		if (stream_send(d->s, &r, NULL, 0) != 0)
			d->failed = 1;
		break;
	default:
		break;
	}
}

static void
dst_closed(void *arg, int err, const char *reason)
{
	struct dst	*d = arg;

	d->done = 1;
}

static const struct stream_ops dst_ops = {
	.frame = dst_frame,
	.writable = dst_writable,
	.closed = dst_closed,
};

static void
stream_opts(struct stream_opts *so)
{
	stream_opts_default(so);
	so->payload_max = o.batch;
	so->sendbuf = o.sendbuf;
	so->recvbuf = o.recvbuf;
}

static void
destination(int url_fd)
{
	struct dst	 d;
	struct stream_opts so;
	char		 url[256], err[256];

	memset(&d, 0, sizeof d);
	d.base = event_base_new();
	open_map(&d.map, dst_path, MEM_MAP_WRITE);
	xfer_layout(&d.map, 0, d.fr, &d.layout);
	d.layout.payload_max = o.batch;
	stream_opts(&so);
	if (stream_listen(d.base, "tcp://127.0.0.1", &so, &dst_ops, &d, &d.s,
	    url, sizeof url, err, sizeof err) != 0)
		die(err);
	if (write(url_fd, url, sizeof url) != sizeof url)
		die("write url");
	while (!d.done)
		event_base_loop(d.base, EVLOOP_ONCE);
	/* Tell the source what the transfer cost here. */
	d.cpu1 -= d.cpu0;
	if (write(url_fd, &d.cpu1, sizeof d.cpu1) != sizeof d.cpu1)
		die("write cpu");
	close(url_fd);
	stream_close(d.s);
	stream_flush();
	mem_map_close(&d.map);
	event_base_free(d.base);
	_exit(d.failed);
}

/* ---- source process -------------------------------------------------- */

struct src {
	struct event_base *base;
	struct stream	*s;
	struct mem_map	*map;
	struct xfer_src	 xs;
	uint64_t	 cursor;
	uint64_t	 seq;
	uint64_t	 sent;
	uint64_t	 acked;
	int		 all_sent;
	int		 connected;
	int		 done;
	int		 closed;
	uint64_t	 t0, t1;
	uint64_t	 cpu0, cpu1;
	uint64_t	 digest;
};

static void
src_pump(struct src *sc)
{
	struct xfer_result res;
	int		 rc;

	while (!sc->all_sent) {
		rc = xfer_send(&sc->xs, sc->s, &sc->map->regions[0],
		    &sc->cursor, NULL, sc->seq + 1, 1, &res);
		if (rc == -EAGAIN)
			return;
		if (rc != 0)
			die("xfer_send failed");
		if (res.pages == 0) {
			sc->all_sent = 1;
			return;
		}
		sc->seq++;
		sc->sent += res.bytes;
	}
}

static void
src_frame(void *arg, const struct frame *f)
{
	struct src	*sc = arg;
	StreamFrame	 r = VMIG__STREAM__V1__FRAME__INIT;
	Vmig__Stream__V1__Switchover sw = VMIG__STREAM__V1__SWITCHOVER__INIT;

	switch (f->hdr->kind_case) {
	case KIND(ACK):
		if (stream_acked(sc->s, f->hdr->ack->bytes) != 0)
			die("bad ack");
		sc->acked = f->hdr->ack->bytes;
		if (sc->all_sent && sc->acked == sc->sent && sc->t1 == 0) {
			sc->t1 = now_ns();
			sc->cpu1 = cpu_us();
			sw.seq = sc->seq + 1;
			r.kind_case = KIND(SWITCHOVER);
			r.switchover = &sw;
			if (stream_send(sc->s, &r, NULL, 0) != 0)
				die("switchover");
		}
		break;
	case KIND(DONE):
		sc->digest = f->hdr->done->memory_digest;
		sc->done = 1;
		break;
	default:
		break;
	}
}

static void
src_connected(void *arg)
{
	struct src	*sc = arg;

	sc->connected = 1;
	sc->t0 = now_ns();
	sc->cpu0 = cpu_us();
	src_pump(sc);
}

static void
src_writable(void *arg)
{
	src_pump(arg);
}

static void
src_closed(void *arg, int err, const char *reason)
{
	struct src	*sc = arg;

	fprintf(stderr, "source: %s\n", reason);
	sc->closed = 1;
}

static const struct stream_ops src_ops = {
	.connected = src_connected,
	.frame = src_frame,
	.writable = src_writable,
	.closed = src_closed,
};

/* One transfer; returns Gbit/s and the CPU seconds it cost (both ends). */
static double
run_stream(struct mem_map *map, int verify, double *cpu_s)
{
	uint64_t	 dcpu;
	struct src	 sc;
	struct stream_opts so;
	char		 url[256], err[256];
	int		 p[2], status;
	pid_t		 pid;
	ssize_t		 n;

	if (pipe(p) != 0)
		die("pipe");
	if ((pid = fork()) == -1)
		die("fork");
	if (pid == 0) {
		char	 fdstr[16], size[32], batch[32], sb[16], rb[16];

		/* A fresh image: nng refuses to run in a forked child. */
		close(p[0]);
		snprintf(fdstr, sizeof fdstr, "%d", p[1]);
		snprintf(size, sizeof size, "%llu", (unsigned long long)o.size);
		snprintf(batch, sizeof batch, "%llu",
		    (unsigned long long)o.batch);
		snprintf(sb, sizeof sb, "%d", o.sendbuf);
		snprintf(rb, sizeof rb, "%d", o.recvbuf);
		execl("/proc/self/exe", "stream_throughput", "--destination",
		    fdstr, "--dst-path", dst_path, "--size", size, "--batch",
		    batch, "--sendbuf", sb, "--recvbuf", rb,
		    o.discard ? "--discard" : "--json", (char *)NULL);
		_exit(127);
	}
	close(p[1]);
	if ((n = read(p[0], url, sizeof url)) != sizeof url)
		die("destination did not start");

	memset(&sc, 0, sizeof sc);
	sc.base = event_base_new();
	sc.map = map;
	pageset_fill(&map->regions[0].dirty);
	xfer_src_init(&sc.xs, o.batch, 0);
	stream_opts(&so);
	so.window = o.window;
	if (stream_dial(sc.base, url, &so, &src_ops, &sc, &sc.s, err,
	    sizeof err) != 0)
		die(err);
	while (!sc.done && !sc.closed)
		event_base_loop(sc.base, EVLOOP_ONCE);
	if (!sc.done)
		die("transfer failed");
	stream_close(sc.s);
	while (stream_lingering() != 0)
		event_base_loop(sc.base, EVLOOP_ONCE);
	xfer_src_free(&sc.xs);
	event_base_free(sc.base);
	if (read(p[0], &dcpu, sizeof dcpu) != sizeof dcpu)
		die("no cpu time from the destination");
	close(p[0]);
	*cpu_s = (double)(sc.cpu1 - sc.cpu0 + dcpu) / 1e6;
	if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status) ||
	    WEXITSTATUS(status) != 0)
		die("destination failed");
	if (verify && !o.discard && sc.digest != mem_digest(map))
		die("destination digest differs from the source");
	if (sc.sent != o.size)
		die("not every byte was sent");
	return ((double)sc.sent * 8 / (double)(sc.t1 - sc.t0));
}

/* ---- iperf3 ------------------------------------------------------------ */

static double
json_num(const char *json, const char *key, const char *after)
{
	const char	*p = json;

	if (after != NULL && (p = strstr(p, after)) == NULL)
		return (0);
	if ((p = strstr(p, key)) == NULL || (p = strchr(p, ':')) == NULL)
		return (0);
	return (strtod(p + 1, NULL));
}

/* One iperf3 transfer; returns Gbit/s and the CPU seconds of both ends. */
static double
run_iperf(int port, double *cpu_s)
{
	char		 cmd[256], *out = NULL;
	size_t		 len = 0, cap = 0, r;
	FILE		*fp;
	pid_t		 srv;
	int		 tries, status;
	double		 bps = 0;

	if ((srv = fork()) == -1)
		die("fork");
	if (srv == 0) {
		char	 portstr[16];
		int	 null = open("/dev/null", O_WRONLY);

		snprintf(portstr, sizeof portstr, "%d", port);
		dup2(null, 1);
		dup2(null, 2);
		execlp("iperf3", "iperf3", "-s", "-1", "-p", portstr,
		    (char *)NULL);
		_exit(127);
	}
	snprintf(cmd, sizeof cmd, "iperf3 -c 127.0.0.1 -p %d -n %llu -J "
	    "2>/dev/null", port, (unsigned long long)o.size);
	/* The server needs a moment to listen: retry a refused client. */
	for (tries = 0; tries < 50 && bps == 0; tries++) {
		if ((fp = popen(cmd, "r")) == NULL)
			die("popen iperf3");
		len = 0;
		for (;;) {
			if (len + 4097 > cap) {
				cap = cap ? cap * 2 : 65536;
				out = xrealloc(out, cap);
			}
			if ((r = fread(out + len, 1, 4096, fp)) == 0)
				break;
			len += r;
		}
		out[len] = '\0';
		pclose(fp);
		bps = json_num(out, "\"bits_per_second\"", "\"sum_received\"");
		/* percent of one CPU over the test, each end */
		*cpu_s = (json_num(out, "\"host_total\"", NULL) +
		    json_num(out, "\"remote_total\"", NULL)) / 100 *
		    json_num(out, "\"seconds\"", "\"sum_received\"");
		if (bps == 0)
			usleep(100000);
	}
	free(out);
	kill(srv, SIGTERM);
	waitpid(srv, &status, 0);
	if (bps == 0)
		die("iperf3 gave no result (is it installed?)");
	return (bps / 1e9);
}

/* ---- main --------------------------------------------------------------- */

static int
cmp_double(const void *a, const void *b)
{
	double	 x = *(const double *)a, y = *(const double *)b;

	return ((x > y) - (x < y));
}

static double
median(double *v, int n)
{
	double	 t[RUNS_MAX];

	memcpy(t, v, n * sizeof *v);
	qsort(t, n, sizeof *t, cmp_double);
	return (n % 2 ? t[n / 2] : (t[n / 2 - 1] + t[n / 2]) / 2);
}

static uint64_t
size_arg(const char *s)
{
	uint64_t	 v;

	if (parse_size(s, &v) != 0 || v == 0)
		die("bad size");
	return (v);
}

int
main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "size", required_argument, NULL, 's' },
		{ "runs", required_argument, NULL, 'r' },
		{ "batch", required_argument, NULL, 'b' },
		{ "window", required_argument, NULL, 'w' },
		{ "sendbuf", required_argument, NULL, 'S' },
		{ "recvbuf", required_argument, NULL, 'R' },
		{ "no-iperf", no_argument, NULL, 'n' },
		{ "discard", no_argument, NULL, 'd' },
		{ "json", no_argument, NULL, 'j' },
		{ "destination", required_argument, NULL, 'D' },
		{ "dst-path", required_argument, NULL, 'P' },
		{ NULL, 0, NULL, 0 },
	};
	struct mem_map	 src;
	double		 sg[RUNS_MAX], ig[RUNS_MAX], sc[RUNS_MAX], ic[RUNS_MAX];
	double		 ms, mi = 0, mcs, mci = 0, gib;
	int		 ch, i, port = 45000 + getpid() % 10000, dst_fd = -1;

	while ((ch = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		switch (ch) {
		case 's': o.size = size_arg(optarg); break;
		case 'r': o.runs = atoi(optarg); break;
		case 'b': o.batch = size_arg(optarg); break;
		case 'w': o.window = size_arg(optarg); break;
		case 'S': o.sendbuf = atoi(optarg); break;
		case 'R': o.recvbuf = atoi(optarg); break;
		case 'n': o.iperf = 0; break;
		case 'd': o.discard = 1; break;
		case 'j': o.json = 1; break;
		case 'D': dst_fd = atoi(optarg); break;
		case 'P': snprintf(dst_path, sizeof dst_path, "%s", optarg);
			break;
		default:
			fprintf(stderr, "usage: stream_throughput [--size N] "
			    "[--runs N] [--batch N] [--window N] [--sendbuf N] "
			    "[--recvbuf N] [--no-iperf] [--discard] [--json]\n");
			return (2);
		}
	}
	if (o.runs < 1 || o.runs > RUNS_MAX || o.size % 4096 != 0 ||
	    o.batch < 4096 || o.batch > FRAME_PAYLOAD_MAX)
		die("runs 1..15, size a multiple of 4096, batch 4K..8M");
	log_init(LOG_LEVEL_WARN, "stream_throughput");
	signal(SIGPIPE, SIG_IGN);
	if (dst_fd != -1)
		destination(dst_fd);	/* the child side of run_stream() */

	make_files();
	open_map(&src, src_path, 0);
	for (i = 0; i < o.runs; i++) {
		sg[i] = run_stream(&src, i == 0, &sc[i]);
		if (o.iperf)
			ig[i] = run_iperf(port + i, &ic[i]);
		if (!o.json)
			fprintf(stderr, "run %d: stream %.2f Gbit/s %.2f cpu-s"
			    "%s", i + 1, sg[i], sc[i], o.iperf ? "" : "\n");
		if (!o.json && o.iperf)
			fprintf(stderr, ", iperf3 %.2f Gbit/s %.2f cpu-s\n",
			    ig[i], ic[i]);
	}
	mem_map_close(&src);
	unlink(src_path);
	unlink(dst_path);

	gib = (double)o.size / (1 << 30);
	ms = median(sg, o.runs);
	mcs = median(sc, o.runs) / gib;
	if (o.iperf) {
		mi = median(ig, o.runs);
		mci = median(ic, o.runs) / gib;
	}
	if (o.json) {
		printf("{\"bytes\": %llu, \"runs\": %d, \"batch\": %llu, "
		    "\"window\": %llu, \"sendbuf\": %d, \"recvbuf\": %d, "
		    "\"discard\": %s, \"stream_gbps\": %.3f",
		    (unsigned long long)o.size, o.runs,
		    (unsigned long long)o.batch, (unsigned long long)o.window,
		    o.sendbuf, o.recvbuf, o.discard ? "true" : "false", ms);
		printf(", \"stream_cpu_s_per_gib\": %.3f", mcs);
		if (o.iperf)
			printf(", \"iperf3_gbps\": %.3f, \"ratio_vs_iperf3\": "
			    "%.3f, \"iperf3_cpu_s_per_gib\": %.3f, "
			    "\"cpu_ratio_vs_iperf3\": %.3f", mi, ms / mi, mci,
			    mcs / mci);
		printf("}\n");
	} else {
		printf("%-28s %10s %14s\n", "transfer (median of runs)",
		    "Gbit/s", "cpu-s per GiB");
		printf("%-28s %10.2f %14.3f\n", "stream + xfer (2 copies)", ms,
		    mcs);
		if (o.iperf) {
			printf("%-28s %10.2f %14.3f\n", "iperf3 (same loopback)",
			    mi, mci);
			printf("%-28s %10.2f %14.2f\n", "ratio vs iperf3", ms / mi,
			    mcs / mci);
		}
		printf("(%llu MiB, %d runs, batch %llu KiB, window %llu MiB, "
		    "sendbuf %d, recvbuf %d%s)\n",
		    (unsigned long long)(o.size >> 20), o.runs,
		    (unsigned long long)(o.batch >> 10),
		    (unsigned long long)(o.window >> 20), o.sendbuf, o.recvbuf,
		    o.discard ? ", destination discards" : "");
	}
	return (0);
}
