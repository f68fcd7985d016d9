/*
 * adminq_rate: admin-queue commands per second through the virtio-admin
 * plugin against vmig-simdev, with 1 VF busy and with 8 VFs busy, side by
 * side with the floor of the transport measured in the same run between
 * the same two processes: a raw kick/call eventfd ping-pong (the
 * simulator's `echo on` answers a kick with a call, rings untouched).
 *
 *	adminq_rate [--seconds S] [--queues N] [--depth D] [--json]
 *
 * Each VF keeps D commands outstanding (closed loop: a completion submits
 * the next). "mode_get" is DEV_MODE_GET only; "mix" alternates
 * DEV_MODE_GET and WRITE_RECORDS_READ (recording started on the VF, a
 * light hot workload writing). Commands are counted by the simulator.
 */
#include "config.h"

#include <dlfcn.h>
#include <errno.h>
#include <getopt.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>

#include "vmig/backend.h"
#include "simproc.h"
#include "transport.h"

#define NVF	8
#define MEMSZ	(4u << 20)
#define IOVA	0x100000000ULL

static const struct vmig_backend *be;
static struct event_base *base;
static void	*priv;
static int	 stopping;
static uint64_t	 errors;
static char	 firsterr[256];

static void blog(int, const char *, ...) __attribute__((format(printf, 2, 3)));

static void
blog(int level, const char *fmt, ...)
{
	va_list	ap;

	if (level > VMIG_LOG_WARN)
		return;
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

static double
now_s(void)
{
	struct timespec	ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ((double)ts.tv_sec + ts.tv_nsec / 1e9);
}

struct slot {
	struct worker	*w;
	int		 busy;
	int		 flip;
};

struct worker {
	struct vmig_dev	*dev;
	struct vmig_tracker *trk;	/* its own write records (ABI 2) */
	int		 mix;
	uint64_t	 ops;
	struct vmig_dirty_map map;
	struct slot	 slots[16];
};

static void	submit(struct slot *);

/* The PF's asynchronous open: 1 opened, -1 failed. */
static void
open_cb(void *arg, const struct vmig_result *r)
{
	*(int *)arg = r->err == 0 ? 1 : -1;
	if (r->err != 0)
		fprintf(stderr, "adminq_rate: %s\n", r->msg != NULL ? r->msg :
		    strerror(-r->err));
}

static void
done_cb(void *arg, const struct vmig_result *r)
{
	struct slot	*s = arg;

	s->w->ops++;
	if (r->err != 0 && errors++ == 0)
		snprintf(firsterr, sizeof(firsterr), "%s", r->msg != NULL ?
		    r->msg : strerror(-r->err));
	if (stopping) {
		s->busy = 0;
		return;
	}
	submit(s);
}

static void
submit(struct slot *s)
{
	struct worker	*w = s->w;
	int		 rc;

	s->flip ^= 1;
	if (w->mix && s->flip)
		rc = be->tracker_read(w->trk, &w->map, 1, VMIG_LANE_BULK,
		    done_cb, s);
	else
		rc = be->get_mode(w->dev, VMIG_LANE_BULK, done_cb, s);
	if (rc != 0) {
		fprintf(stderr, "adminq_rate: submit: %s\n", strerror(-rc));
		exit(1);
	}
	s->busy = 1;
}

static void
stop_cb(evutil_socket_t fd, short ev, void *arg)
{
	stopping = 1;
}

static unsigned long long
sim_commands(struct simproc *sp)
{
	char	reply[512], v[64];

	if (simproc_cmd(sp, reply, sizeof(reply), "info") != 0 ||
	    simproc_field(reply, "commands", v, sizeof(v)) != 0) {
		fprintf(stderr, "adminq_rate: simulator info: %s\n", reply);
		exit(1);
	}
	return (strtoull(v, NULL, 10));
}

struct result {
	const char	*name;
	int		 nvf;
	double		 rate;		/* per second */
	double		 us;		/* per op, one VF's view */
};

static struct result
run_case(struct simproc *sp, struct worker *ws, int nvf, int mix, int depth,
    double secs, const char *name)
{
	struct result	 r = { name, nvf, 0, 0 };
	struct event	*ev;
	struct timeval	 tv = { (time_t)secs, (suseconds_t)((secs -
	    (time_t)secs) * 1e6) };
	unsigned long long c0, c1;
	double		 t0, t1;
	int		 i, k, busy;

	c0 = sim_commands(sp);
	stopping = 0;
	ev = evtimer_new(base, stop_cb, NULL);
	evtimer_add(ev, &tv);
	t0 = now_s();
	for (i = 0; i < nvf; i++) {
		ws[i].mix = mix;
		ws[i].ops = 0;
		for (k = 0; k < depth; k++) {
			ws[i].slots[k].w = &ws[i];
			submit(&ws[i].slots[k]);
		}
	}
	do {
		event_base_loop(base, EVLOOP_ONCE);
		for (busy = 0, i = 0; i < nvf; i++)
			for (k = 0; k < depth; k++)
				busy += ws[i].slots[k].busy;
	} while (busy > 0);
	t1 = now_s();
	event_free(ev);
	c1 = sim_commands(sp);
	r.rate = (double)(c1 - c0) / (t1 - t0);
	r.us = 1e6 / r.rate * nvf * depth;
	return (r);
}

/* The floor: kick -> call -> kick ..., no ring, same two processes. */
static struct result
pingpong(struct simproc *sp, double secs)
{
	struct va_transport *tp;
	struct va_tp_params p;
	struct pollfd	 pfd;
	struct result	 r = { "eventfd ping-pong (reference)", 1, 0, 0 };
	uint64_t	 one = 1, v, n = 0;
	double		 t0, t1;
	char		 err[256];

	memset(&p, 0, sizeof(p));
	if (va_transport_sim_open(sp->sock, &p, &tp, err, sizeof(err)) != 0) {
		fprintf(stderr, "adminq_rate: %s\n", err);
		exit(1);
	}
	simproc_cmd(sp, NULL, 0, "echo on");
	pfd.fd = tp->q[0].call_fd;
	pfd.events = POLLIN;
	t0 = now_s();
	do {
		if (write(tp->q[0].kick_fd, &one, 8) != 8 ||
		    poll(&pfd, 1, 5000) != 1 ||
		    read(tp->q[0].call_fd, &v, 8) != 8) {
			fprintf(stderr, "adminq_rate: ping-pong stalled\n");
			exit(1);
		}
		n++;
		t1 = now_s();
	} while (t1 - t0 < secs);
	simproc_cmd(sp, NULL, 0, "echo off");
	va_transport_close(tp);
	r.rate = (double)n / (t1 - t0);
	r.us = 1e6 / r.rate;
	return (r);
}

int
main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "seconds", required_argument, NULL, 's' },
		{ "queues", required_argument, NULL, 'q' },
		{ "depth", required_argument, NULL, 'd' },
		{ "json", no_argument, NULL, 'j' },
		{ NULL, 0, NULL, 0 },
	};
	struct vmig_host host;
	struct simproc	 sp;
	struct vmig_pf	*pf;
	struct vmig_pf_info pi;
	struct worker	 ws[NVF];
	struct result	 res[5];
	struct vmig_iova_range rg = { IOVA, MEMSZ };
	char		 path[600], err[512], qs[8], mem[128];
	const char	*b = getenv("VMIG_BUILDDIR");
	const char	*extra[] = { "--admin-queues", qs, NULL };
	double		 secs = 1.0;
	int		 json = 0, queues = 1, depth = 1, ch, i, nres = 0;
	int		 opened = 0;
	void		*dl;
	struct slot	 s0;

	while ((ch = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (ch) {
		case 's':
			secs = atof(optarg);
			break;
		case 'q':
			queues = atoi(optarg);
			break;
		case 'd':
			depth = atoi(optarg);
			break;
		case 'j':
			json = 1;
			break;
		default:
			fprintf(stderr, "usage: adminq_rate [--seconds S] "
			    "[--queues 1|2] [--depth 1..16] [--json]\n");
			return (2);
		}
	}
	if (secs <= 0 || queues < 1 || queues > 2 || depth < 1 || depth > 16) {
		fprintf(stderr, "adminq_rate: bad --seconds, --queues or "
		    "--depth\n");
		return (2);
	}
	snprintf(qs, sizeof(qs), "%d", queues);
	snprintf(path, sizeof(path), "%s/plugins/virtio-admin/.libs/"
	    "virtio_admin.so", b != NULL ? b : ".");
	if ((dl = dlopen(path, RTLD_NOW | RTLD_LOCAL)) == NULL ||
	    (be = dlsym(dl, VMIG_BACKEND_SYMBOL)) == NULL) {
		fprintf(stderr, "adminq_rate: %s: %s (run from the build "
		    "directory or set VMIG_BUILDDIR)\n", path, dlerror());
		return (1);
	}
	if (simproc_start(&sp, NVF, extra) != 0) {
		fprintf(stderr, "adminq_rate: cannot start %s\n",
		    simproc_binary());
		return (1);
	}

	/* The reference first, while no driver holds the queues. */
	res[nres++] = pingpong(&sp, secs);

	base = event_base_new();
	memset(&host, 0, sizeof(host));
	host.abi_major = VMIG_BACKEND_ABI_MAJOR;
	host.abi_minor = VMIG_BACKEND_ABI_MINOR;
	host.base = base;
	host.log = blog;
	if (be->init(&host, &priv) != 0 || be->pf_open(priv, "bench", sp.spec,
	    NULL, 0, &pf, open_cb, &opened, err, sizeof(err)) != 0) {
		fprintf(stderr, "adminq_rate: %s\n", err);
		return (1);
	}
	while (opened == 0)	/* the open is asynchronous (ABI 2) */
		event_base_loop(base, EVLOOP_ONCE);
	if (opened < 0) {
		fprintf(stderr, "adminq_rate: the PF did not open\n");
		return (1);
	}
	be->pf_info(pf, &pi);
	snprintf(mem, sizeof(mem), "/dev/shm/vmig-bench-%d", (int)getpid());
	{
		FILE	*f = fopen(mem, "w");

		if (f == NULL || ftruncate(fileno(f), MEMSZ) != 0) {
			fprintf(stderr, "adminq_rate: %s\n", mem);
			return (1);
		}
		fclose(f);
	}
	memset(ws, 0, sizeof(ws));
	for (i = 0; i < NVF; i++) {
		if (be->dev_open(pf, (uint64_t)i + 1, NULL, 0, &ws[i].dev, err,
		    sizeof(err)) != 0 || be->tracker_open(ws[i].dev,
		    &ws[i].trk, err, sizeof(err)) != 0) {
			fprintf(stderr, "adminq_rate: %s\n", err);
			return (1);
		}
		simproc_cmd(&sp, NULL, 0, "attach %d %s %u %#llx", i + 1, mem,
		    MEMSZ, (unsigned long long)IOVA);
		simproc_cmd(&sp, NULL, 0, "workload %d hot rate=1M seed=%d",
		    i + 1, i + 1);
		ws[i].map.iova = IOVA;
		ws[i].map.length = MEMSZ;
		ws[i].map.page_size = 4096;
		ws[i].map.bits = calloc(MEMSZ / 4096 / 64, 8);
		/* Recording on, so the mix reads real records. */
		memset(&s0, 0, sizeof(s0));
		s0.w = &ws[i];
		stopping = 1;
		if (be->tracker_start(ws[i].trk, &rg, 1, 4096, done_cb,
		    &s0) != 0) {
			fprintf(stderr, "adminq_rate: dirty_start failed\n");
			return (1);
		}
		s0.busy = 1;
		while (s0.busy)
			event_base_loop(base, EVLOOP_ONCE);
	}

	res[nres++] = run_case(&sp, ws, 1, 0, depth, secs, "1 VF busy, "
	    "DEV_MODE_GET");
	res[nres++] = run_case(&sp, ws, 1, 1, depth, secs, "1 VF busy, "
	    "MODE_GET + WR_READ");
	res[nres++] = run_case(&sp, ws, NVF, 0, depth, secs, "8 VFs busy, "
	    "DEV_MODE_GET");
	res[nres++] = run_case(&sp, ws, NVF, 1, depth, secs, "8 VFs busy, "
	    "MODE_GET + WR_READ");

	if (json) {
		printf("{\"benchmark\":\"adminq_rate\",\"queues\":%d,"
		    "\"queue_depth\":%u,\"depth_per_vf\":%d,\"seconds\":%.2f,"
		    "\"errors\":%llu,\"reference\":{\"name\":\"%s\","
		    "\"rate\":%.0f,\"us\":%.2f},\"cases\":[", queues,
		    pi.queue_depth, depth, secs, (unsigned long long)errors,
		    res[0].name, res[0].rate, res[0].us);
		for (i = 1; i < nres; i++)
			printf("%s{\"name\":\"%s\",\"vfs\":%d,"
			    "\"commands_per_s\":%.0f,\"us_per_command\":%.2f,"
			    "\"ratio_to_reference\":%.3f}", i > 1 ? "," : "",
			    res[i].name, res[i].nvf, res[i].rate, res[i].us,
			    res[i].rate / res[0].rate);
		printf("]}\n");
	} else {
		printf("adminq_rate: virtio-admin plugin -> vmig-simdev, %d "
		    "admin queue(s) of %u, %d outstanding per VF, %.1f s "
		    "each\n", queues, pi.queue_depth, depth, secs);
		printf("%-36s %12s %10s %8s\n", "case", "per second",
		    "us/op", "ratio");
		for (i = 0; i < nres; i++)
			printf("%-36s %12.0f %10.2f %8.3f\n", res[i].name,
			    res[i].rate, res[i].us, res[i].rate / res[0].rate);
		printf("(us/op: latency one VF sees; ratio: commands per "
		    "second over ping-pongs per second)\n");
		if (errors > 0)
			printf("%llu command errors, first: %s\n",
			    (unsigned long long)errors, firsterr);
	}
	for (i = 0; i < NVF; i++)
		be->tracker_close(ws[i].trk);
	be->pf_close(pf);
	be->fini(priv);
	for (i = 0; i < NVF; i++)
		free(ws[i].map.bits);
	event_base_free(base);
	simproc_stop(&sp);
	unlink(mem);
	dlclose(dl);
	return (errors > 0);
}
