/*
 * simdev.c: vmig-simdev, the simulated PF process.
 *
 *	vmig-simdev --socket PATH --vfs N [--dialect draft|v14|cvq]
 *	    [--control PATH] [--admin-queues N] [--queue-size N] [--tick-ms N]
 *	    [--records-max N] [--wr-ranges N] [--wr-page-sizes BITMAP]
 *	    [--parts-objects N] [--cvq-modes BITMAP]
 *	    [--no-precopy] [--fault SPEC]... [--name NAME] [--log-level L]
 *
 * A driver connects to --socket and takes the queues over (handshake.h):
 * the admin queues (draft, v14) or the PF's control virtqueue (cvq: the
 * same transport, one queue). The simulator then serves the rings: on
 * each kick it takes every available chain, checks it against the
 * mapping and the dialect's framing, runs the command (sim_cmd.c,
 * sim_v14.c, sim_cvq.c), writes status and result (or result and ack),
 * returns the chain in the used ring and signals the call eventfd. A
 * malformed chain gets EINVAL / Q_INVALID_COMMAND (cvq: ack ERR) if there
 * is room for it, or is returned with length 0; it never stops the
 * simulator.
 */
#include "config.h"

#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>

#include "log.h"
#include "util.h"
#include "sim.h"

struct sim_delayed {
	TAILQ_ENTRY(sim_delayed) entry;
	struct sim_conn	*conn;
	unsigned int	 q;
	struct vq_chain	 chain;
	uint8_t		*in;
	size_t		 inlen;
	struct event	*ev;
};

struct sim_queue {
	struct vq_device vq;
	int		 kick_fd;
	int		 call_fd;
	struct event	*ev_kick;
};

struct sim_conn {
	struct sim	*sim;
	int		 sock;
	struct event	*ev_sock;
	int		 ready;
	uint8_t		*mem;
	uint64_t	 memsize;
	unsigned int	 nq;
	struct sim_queue q[VA_HS_MAX_QUEUES];
	TAILQ_HEAD(, sim_delayed) delayed;
};

static struct sim	*the_sim;	/* for the signal handler only */

void
sim_quit(struct sim *sim)
{
	sim->quitting = 1;
	event_base_loopexit(sim->base, NULL);
}

/* ------------------------------------------------------------- queues */

static void
conn_signal(struct sim_conn *c, unsigned int q)
{
	uint64_t	one = 1;

	if (write(c->q[q].call_fd, &one, sizeof(one)) != sizeof(one) &&
	    errno != EAGAIN)
		log_warn("%s: call eventfd of queue %u", __func__, q);
}

/* Put an answer in the chain's writable part; returns the used length. */
static uint32_t
chain_answer(struct vq_device *vq, const struct vq_chain *ch,
    const uint8_t *out, const struct sim_answer *a)
{
	uint8_t	ack;
	size_t	n;

	n = vq_chain_write(vq, ch, 0, out, MIN(a->len, (size_t)ch->wlen));
	if (a->ack >= 0 && ch->wlen > 0) {
		/* The control-vq ack: the last writable byte. */
		ack = (uint8_t)a->ack;
		if (vq_chain_write(vq, ch, ch->wlen - 1, &ack, 1) == 1)
			n++;
	}
	return ((uint32_t)n);
}

/* Run a well-formed command and return its chain. */
static void
run_and_push(struct sim_conn *c, unsigned int qi, const struct vq_chain *ch,
    const uint8_t *in, size_t inlen)
{
	struct sim	*sim = c->sim;
	struct vq_device *vq = &c->q[qi].vq;
	struct sim_answer a;
	size_t		 outcap;

	outcap = MIN((size_t)ch->wlen, (size_t)VA_STATUS_LEN + VA_DATA_MAX);
	sim->dl->exec(sim, ch, in, inlen, sim->outbuf, outcap, &a);
	vq_device_push(vq, ch->head, chain_answer(vq, ch, sim->outbuf, &a));
}

static void
delayed_free(struct sim_delayed *d)
{
	TAILQ_REMOVE(&d->conn->delayed, d, entry);
	event_free(d->ev);
	free(d->in);
	free(d);
}

static void
delayed_fire(evutil_socket_t fd, short ev, void *arg)
{
	struct sim_delayed *d = arg;
	struct sim_conn	*c = d->conn;
	unsigned int	 q = d->q;

	run_and_push(c, q, &d->chain, d->in, d->inlen);
	delayed_free(d);
	conn_signal(c, q);
}

/* Answer a malformed chain without running it. */
static void
refuse_chain(struct sim_conn *c, unsigned int qi, const struct vq_chain *ch)
{
	struct vq_device *vq = &c->q[qi].vq;
	struct sim_answer a;
	uint8_t		 st[VA_STATUS_LEN];
	uint32_t	 n = 0;

	c->sim->n_malformed++;
	c->sim->dl->status(st, VA_STATUS_EINVAL, VA_Q_INVALID_COMMAND, &a);
	if (!ch->broken && ch->wlen >= a.len + (a.ack >= 0))
		n = chain_answer(vq, ch, st, &a);
	vq_device_push(vq, ch->head, n);
}

/* One chain: check its framing, apply faults, run or delay it. */
static void
serve_chain(struct sim_conn *c, unsigned int qi, struct vq_chain *ch)
{
	struct sim	*sim = c->sim;
	struct vq_device *vq = &c->q[qi].vq;
	struct sim_fault *f;
	struct sim_delayed *d;
	struct sim_answer a;
	struct timeval	 tv;
	uint8_t		 st[VA_STATUS_LEN];
	uint64_t	 member;
	uint16_t	 opcode;
	const char	*why;
	size_t		 inlen;

	if (ch->broken) {
		log_warnx("%s: queue %u: malformed chain: %s", __func__, qi,
		    ch->why);
		refuse_chain(c, qi, ch);
		return;
	}
	if ((why = sim->dl->frame_check(ch)) != NULL) {
		log_warnx("%s: queue %u: chain %u refused: %llu readable, "
		    "%llu writable bytes%s (%s)", __func__, qi, ch->head,
		    (unsigned long long)ch->rlen, (unsigned long long)ch->wlen,
		    ch->misordered ? ", readable after writable" : "", why);
		refuse_chain(c, qi, ch);
		return;
	}
	inlen = vq_chain_read(vq, ch, 0, sim->inbuf, (size_t)ch->rlen);
	sim->dl->key(sim->inbuf, inlen, &opcode, &member);
	if ((f = sim_fault_match(sim, opcode, member)) != NULL) {
		switch (f->kind) {
		case SIM_FAULT_FAIL:
			sim->dl->status(st, f->status, f->qual, &a);
			vq_device_push(vq, ch->head, chain_answer(vq, ch, st,
			    &a));
			log_debug("%s: %s failed on purpose (%u/%u)", __func__,
			    va_dialect_op_name(sim->dl->d, opcode), f->status,
			    f->qual);
			sim_fault_consume(sim, f);
			return;
		case SIM_FAULT_DROP:
			/* Never returned: the driver must time it out. */
			log_debug("%s: %s dropped on purpose (head %u)",
			    __func__, va_dialect_op_name(sim->dl->d, opcode),
			    ch->head);
			sim_fault_consume(sim, f);
			return;
		case SIM_FAULT_DELAY:
			d = xcalloc(1, sizeof(*d));
			d->conn = c;
			d->q = qi;
			d->chain = *ch;
			d->in = xmalloc(inlen);
			memcpy(d->in, sim->inbuf, inlen);
			d->inlen = inlen;
			d->ev = evtimer_new(sim->base, delayed_fire, d);
			tv.tv_sec = f->ms / 1000;
			tv.tv_usec = (f->ms % 1000) * 1000;
			evtimer_add(d->ev, &tv);
			TAILQ_INSERT_TAIL(&c->delayed, d, entry);
			sim_fault_consume(sim, f);
			return;
		}
	}
	run_and_push(c, qi, ch, sim->inbuf, inlen);
}

static void
kick_event(evutil_socket_t fd, short ev, void *arg)
{
	struct sim_queue *q = arg;
	struct sim_conn	*c = the_sim->conn;
	struct vq_chain	 ch;
	uint64_t	 v;
	unsigned int	 qi;
	int		 rc, served = 0;

	if (read(fd, &v, sizeof(v)) != sizeof(v) && errno != EAGAIN)
		log_warn("%s: kick eventfd", __func__);
	if (c == NULL)
		return;
	qi = (unsigned int)(q - c->q);
	if (the_sim->echo) {
		/* The transport's floor: kick in, call out, no ring. */
		conn_signal(c, qi);
		return;
	}
	while ((rc = vq_device_pop(&q->vq, &ch)) == 1) {
		serve_chain(c, qi, &ch);
		served++;
	}
	if (rc < 0 && q->vq.broken && q->ev_kick != NULL) {
		log_warnx("%s: queue %u: the driver published more entries "
		    "than the ring holds: queue stopped until it reconnects",
		    __func__, qi);
		event_del(q->ev_kick);
	}
	if (served > 0)
		conn_signal(c, qi);
}

/* --------------------------------------------------------- connection */

static void
conn_free(struct sim_conn *c)
{
	struct sim	*sim = c->sim;
	struct sim_delayed *d;
	unsigned int	 i;

	while ((d = TAILQ_FIRST(&c->delayed)) != NULL)
		delayed_free(d);
	for (i = 0; i < VA_HS_MAX_QUEUES; i++) {
		if (c->q[i].ev_kick != NULL)
			event_free(c->q[i].ev_kick);
		if (c->q[i].kick_fd != -1)
			close(c->q[i].kick_fd);
		if (c->q[i].call_fd != -1)
			close(c->q[i].call_fd);
	}
	if (c->mem != NULL)
		munmap(c->mem, c->memsize);
	if (c->ev_sock != NULL)
		event_free(c->ev_sock);
	close(c->sock);
	if (sim->conn == c) {
		sim->conn = NULL;
		sim->shm = NULL;
		sim->shm_size = 0;
		/* A new driver starts with LIST_QUERY / LIST_USE again. */
		sim->list_in_use = 0;
		memset(sim->list_used, 0, sizeof(sim->list_used));
		sim->dl->reset(sim);
	}
	free(c);
}

static void
conn_ack(struct sim_conn *c, uint32_t status, const char *msg)
{
	struct va_ack	ack;
	uint8_t		buf[VA_HS_ACK_LEN];

	memset(&ack, 0, sizeof(ack));
	ack.status = status;
	snprintf(ack.msg, sizeof(ack.msg), "%s", msg);
	va_ack_put(buf, &ack);
	if (va_sock_send(c->sock, buf, sizeof(buf), NULL, 0) != 0)
		log_warnx("%s: cannot answer the driver", __func__);
}

/* The driver's SETUP: map its memory, check its rings, take its fds. */
static int
conn_setup(struct sim_conn *c, const uint8_t *buf, size_t len, int *fds,
    int nfds, char *err, size_t errlen)
{
	struct sim	*sim = c->sim;
	struct va_setup	 s;
	struct stat	 st;
	struct vq_ring	 ring;
	unsigned int	 i;
	int		 seals;

	if (va_setup_get(buf, len, &s, err, errlen) != 0)
		return (-EPROTO);
	if (s.nqueues > sim->o.admin_queues) {
		snprintf(err, errlen, "%u queues asked, the PF has %u",
		    s.nqueues, sim->o.admin_queues);
		return (-EINVAL);
	}
	if (nfds != 1 + 2 * (int)s.nqueues) {
		snprintf(err, errlen, "%d descriptors for %u queues, expected "
		    "%u", nfds, s.nqueues, 1 + 2 * s.nqueues);
		return (-EINVAL);
	}
	if (fstat(fds[0], &st) == -1 || (uint64_t)st.st_size < s.mem_size ||
	    s.mem_size == 0 || s.mem_size > (1ULL << 32)) {
		snprintf(err, errlen, "shared memory of %llu bytes does not "
		    "match its file (%lld bytes) or exceeds 4 GiB",
		    (unsigned long long)s.mem_size, (long long)st.st_size);
		return (-EINVAL);
	}
	/* Without a shrink seal the driver could cut our mapping. */
	seals = fcntl(fds[0], F_GET_SEALS);
	if (seals == -1 || !(seals & F_SEAL_SHRINK)) {
		snprintf(err, errlen, "the shared memory must be a memfd "
		    "sealed with F_SEAL_SHRINK");
		return (-EINVAL);
	}
	c->mem = mmap(NULL, s.mem_size, PROT_READ | PROT_WRITE, MAP_SHARED,
	    fds[0], 0);
	if (c->mem == MAP_FAILED) {
		c->mem = NULL;
		snprintf(err, errlen, "mmap: %s", strerror(errno));
		return (-ENOMEM);
	}
	c->memsize = s.mem_size;
	sim->shm = c->mem;
	sim->shm_size = c->memsize;
	for (i = 0; i < s.nqueues; i++) {
		if (s.q[i].size > sim->o.queue_size) {
			snprintf(err, errlen, "queue %u: size %u exceeds the "
			    "PF's %u", i, s.q[i].size, sim->o.queue_size);
			return (-EINVAL);
		}
		if (vq_ring_map(&ring, c->mem, c->memsize, &s.q[i], err,
		    errlen) != 0)
			return (-EINVAL);
		vq_device_init(&c->q[i].vq, &ring, c->mem, c->memsize);
		c->q[i].vq.base = s.iova;	/* IOVA of offset 0 */
		c->q[i].vq.indirect = sim->dl == &sim_cvq;
		c->q[i].kick_fd = fds[1 + 2 * i];
		c->q[i].call_fd = fds[2 + 2 * i];
		fds[1 + 2 * i] = fds[2 + 2 * i] = -1;
		c->q[i].ev_kick = event_new(sim->base, c->q[i].kick_fd,
		    EV_READ | EV_PERSIST, kick_event, &c->q[i]);
		event_add(c->q[i].ev_kick, NULL);
	}
	c->nq = s.nqueues;
	return (0);
}

static void
conn_event(evutil_socket_t fd, short ev, void *arg)
{
	struct sim_conn	*c = arg;
	uint8_t		 buf[VA_HS_MAX_LEN + 64];
	int		 fds[VA_HS_MAX_FDS], nfds = 0, k, rc;
	ssize_t		 n;
	char		 why[200];

	n = va_sock_recv(fd, buf, sizeof(buf), fds, VA_HS_MAX_FDS, &nfds);
	if (n == -EAGAIN)
		return;
	if (n <= 0 && n != -EMSGSIZE) {
		log_info("%s: the driver went away (%s)", __func__,
		    n == 0 ? "closed" : strerror((int)-n));
		conn_free(c);
		return;
	}
	if (c->ready || n < 0) {
		/* Nothing is expected after the setup. */
		for (k = 0; k < nfds; k++)
			close(fds[k]);
		log_warnx("%s: unexpected message from the driver ignored",
		    __func__);
		return;
	}
	rc = conn_setup(c, buf, (size_t)n, fds, nfds, why, sizeof(why));
	for (k = 0; k < nfds; k++) {
		if (fds[k] != -1)
			close(fds[k]);
	}
	if (rc != 0) {
		log_warnx("%s: queue setup refused: %s", __func__, why);
		conn_ack(c, (uint32_t)-rc, why);
		conn_free(c);
		return;
	}
	c->ready = 1;
	conn_ack(c, 0, "ok");
	log_info("%s: driver attached: %u queue(s) of %u, %llu bytes shared",
	    __func__, c->nq, c->q[0].vq.r.size, (unsigned long long)c->memsize);
}

static void
hello_fill(struct sim *sim, struct va_hello *h)
{
	memset(h, 0, sizeof(*h));
	h->device_type = VA_DEVTYPE_NET;
	h->num_vfs = sim->o.nvfs;
	h->dialect = sim->dl->d->id;
	h->admin_queues = sim->o.admin_queues;
	h->max_queue_size = sim->o.queue_size;
	h->flags = sim->dl == &sim_draft && sim->o.precopy ?
	    VA_HS_F_CTX_READ_ACTIVE : 0;
	if (sim->dl == &sim_cvq)
		h->flags |= VA_HS_F_INDIRECT;
	h->max_ctx_bytes = VA_CTX_MAX_BYTES;
	snprintf(h->name, sizeof(h->name), "%s", sim->o.name);
}

static void
accept_event(evutil_socket_t fd, short ev, void *arg)
{
	struct sim	*sim = arg;
	struct sim_conn	*c;
	struct va_hello	 h;
	uint8_t		 buf[VA_HS_HELLO_LEN];
	unsigned int	 i;
	int		 s;

	if ((s = accept4(fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK)) == -1)
		return;
	hello_fill(sim, &h);
	if (sim->conn != NULL) {
		/* One owner of the admin queues at a time. */
		h.status = EBUSY;
		snprintf(h.msg, sizeof(h.msg), "another driver owns the "
		    "admin queues");
		va_hello_put(buf, &h);
		(void)va_sock_send(s, buf, sizeof(buf), NULL, 0);
		close(s);
		log_warnx("%s: second driver refused", __func__);
		return;
	}
	c = xcalloc(1, sizeof(*c));
	c->sim = sim;
	c->sock = s;
	TAILQ_INIT(&c->delayed);
	for (i = 0; i < VA_HS_MAX_QUEUES; i++)
		c->q[i].kick_fd = c->q[i].call_fd = -1;
	va_hello_put(buf, &h);
	if (va_sock_send(s, buf, sizeof(buf), NULL, 0) != 0) {
		close(s);
		free(c);
		return;
	}
	c->ev_sock = event_new(sim->base, s, EV_READ | EV_PERSIST, conn_event,
	    c);
	event_add(c->ev_sock, NULL);
	sim->conn = c;
}

static int
listen_on(const char *path)
{
	struct sockaddr_un sun;
	int		 s;

	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	if (strlen(path) >= sizeof(sun.sun_path)) {
		log_warnx("socket path %s is too long", path);
		return (-1);
	}
	memcpy(sun.sun_path, path, strlen(path));
	unlink(path);
	if ((s = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC |
	    SOCK_NONBLOCK, 0)) == -1 ||
	    bind(s, (struct sockaddr *)&sun, sizeof(sun)) == -1 ||
	    listen(s, 8) == -1) {
		log_warn("%s", path);
		if (s != -1)
			close(s);
		return (-1);
	}
	return (s);
}

/* --------------------------------------------------------------- loop */

static void
tick_event(evutil_socket_t fd, short ev, void *arg)
{
	struct sim	*sim = arg;
	struct timespec	 ts;
	uint64_t	 now;
	unsigned int	 i;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	now = (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
	for (i = 0; i < sim->o.nvfs; i++)
		sim_dma_tick(sim, &sim->vfs[i], now);
}

static void
signal_event(evutil_socket_t sig, short ev, void *arg)
{
	log_info("%s: signal %d, exiting", __func__, (int)sig);
	sim_quit(arg);
}

static __attribute__((noreturn)) void
usage(void)
{
	fprintf(stderr,
	    "usage: vmig-simdev --socket PATH [--vfs N]\n"
	    "    [--dialect draft|v14|cvq] [--control PATH]\n"
	    "    [--admin-queues N] [--queue-size N] [--tick-ms N]\n"
	    "    [--records-max N] [--wr-ranges N] [--wr-page-sizes BITMAP]\n"
	    "    [--parts-objects N] [--cvq-modes BITMAP] [--no-precopy]\n"
	    "    [--fault SPEC]... [--name NAME]\n"
	    "    [--log-level error|warn|info|debug]\n");
	exit(2);
}

static unsigned int
opt_uint(const char *name, const char *s, uint64_t lo, uint64_t hi)
{
	uint64_t	v;

	if (sim_parse_u64(s, &v) != 0 || v < lo || v > hi) {
		fprintf(stderr, "vmig-simdev: --%s %s: want %llu..%llu\n",
		    name, s, (unsigned long long)lo, (unsigned long long)hi);
		exit(2);
	}
	return ((unsigned int)v);
}

int
main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "socket", required_argument, NULL, 's' },
		{ "vfs", required_argument, NULL, 'n' },
		{ "dialect", required_argument, NULL, 'd' },
		{ "control", required_argument, NULL, 'c' },
		{ "admin-queues", required_argument, NULL, 'q' },
		{ "queue-size", required_argument, NULL, 'Q' },
		{ "tick-ms", required_argument, NULL, 't' },
		{ "records-max", required_argument, NULL, 'r' },
		{ "wr-ranges", required_argument, NULL, 'R' },
		{ "wr-page-sizes", required_argument, NULL, 'P' },
		{ "no-precopy", no_argument, NULL, 'N' },
		{ "parts-objects", required_argument, NULL, 'O' },
		{ "cvq-modes", required_argument, NULL, 'M' },
		{ "fault", required_argument, NULL, 'f' },
		{ "name", required_argument, NULL, 'a' },
		{ "log-level", required_argument, NULL, 'l' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct sim	 sim;
	const struct va_dialect *d;
	char		*faults[32], why[200], *fargv[16], *save, *tok;
	int		 ch, nfaults = 0, level = LOG_LEVEL_INFO, i, fargc;
	unsigned int	 k;
	struct timeval	 tv;
	static const int sigs[] = { SIGINT, SIGTERM, SIGHUP };

	memset(&sim, 0, sizeof(sim));
	sim.o.nvfs = 4;
	sim.o.admin_queues = 1;
	sim.o.queue_size = 256;
	sim.o.tick_ms = 2;
	sim.o.records_max = 65536;
	sim.o.wr_ranges = 8;
	sim.o.wr_page_sizes = (1u << 0) | (1u << 4) | (1u << 9);
	sim.o.precopy = 1;
	sim.o.name = "simpf";
	sim.o.max_tick_bytes = 32u << 20;
	sim.dl = &sim_draft;
	sim.o.cvq_modes = CVQ_CAP_ALL;
	sim.o.cvq_log_bitmap = SIM_CVQ_LOG_BITMAP;
	sim.o.cvq_log_bytemap = SIM_CVQ_LOG_BYTEMAP;
	while ((ch = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		switch (ch) {
		case 's':
			sim.o.socket = optarg;
			break;
		case 'n':
			sim.o.nvfs = opt_uint("vfs", optarg, 1, SIM_MAX_VFS);
			break;
		case 'd':
			d = va_dialect_byname(optarg);
			if (d == NULL) {
				fprintf(stderr, "vmig-simdev: unknown dialect "
				    "'%s' (draft, v14, cvq)\n", optarg);
				exit(2);
			}
			sim.dl = d == &va_dialect_v14 ? &sim_v14 :
			    d == &va_dialect_cvq ? &sim_cvq : &sim_draft;
			break;
		case 'O':
			sim.o.parts_objs = opt_uint("parts-objects", optarg, 1,
			    255);
			break;
		case 'M':
			sim.o.cvq_modes = (uint16_t)opt_uint("cvq-modes",
			    optarg, 0, CVQ_CAP_ALL);
			break;
		case 'c':
			sim.o.control = optarg;
			break;
		case 'q':
			sim.o.admin_queues = opt_uint("admin-queues", optarg,
			    1, VA_HS_MAX_QUEUES);
			break;
		case 'Q':
			sim.o.queue_size = opt_uint("queue-size", optarg, 2,
			    VQ_MAX_SIZE);
			if (sim.o.queue_size & (sim.o.queue_size - 1)) {
				fprintf(stderr, "vmig-simdev: --queue-size "
				    "must be a power of two\n");
				exit(2);
			}
			break;
		case 't':
			sim.o.tick_ms = opt_uint("tick-ms", optarg, 1, 1000);
			break;
		case 'r':
			sim.o.records_max = opt_uint("records-max", optarg, 1,
			    1u << 24);
			break;
		case 'R':
			sim.o.wr_ranges = opt_uint("wr-ranges", optarg, 1,
			    SIM_MAX_RANGES);
			break;
		case 'P':
			sim.o.wr_page_sizes = opt_uint("wr-page-sizes", optarg,
			    1, UINT32_MAX);
			break;
		case 'N':
			sim.o.precopy = 0;
			break;
		case 'f':
			if (nfaults == (int)nitems(faults)) {
				fprintf(stderr, "vmig-simdev: too many "
				    "--fault\n");
				exit(2);
			}
			faults[nfaults++] = optarg;
			break;
		case 'a':
			sim.o.name = optarg;
			break;
		case 'l':
			if ((level = log_parselevel(optarg)) < 0)
				usage();
			break;
		default:
			usage();
		}
	}
	if (sim.o.socket == NULL || optind != argc)
		usage();
	if (sim.dl == &sim_cvq && sim.o.admin_queues > 1) {
		/* The proposal drives a PF through its one control vq. */
		fprintf(stderr, "vmig-simdev: the cvq dialect has one control "
		    "virtqueue (--admin-queues 1)\n");
		exit(2);
	}
	if (sim.o.parts_objs == 0)
		sim.o.parts_objs = MIN(255u, 2 * sim.o.nvfs);
	log_init(level, "vmig-simdev");
	signal(SIGPIPE, SIG_IGN);

	sim.vfs = xcalloc(sim.o.nvfs, sizeof(*sim.vfs));
	for (k = 0; k < sim.o.nvfs; k++)
		sim_vf_init(&sim, &sim.vfs[k], k + 1);
	TAILQ_INIT(&sim.faults);
	for (i = 0; i < nfaults; i++) {
		fargc = 0;
		save = NULL;
		for (tok = strtok_r(faults[i], " ", &save); tok != NULL &&
		    fargc < (int)nitems(fargv); tok = strtok_r(NULL, " ",
		    &save))
			fargv[fargc++] = tok;
		if (sim_fault_parse(&sim, fargc, fargv, why,
		    sizeof(why)) != 0) {
			fprintf(stderr, "vmig-simdev: --fault: %s\n", why);
			exit(2);
		}
	}
	sim.inbuf = xmalloc(VA_HDR_LEN + VA_DATA_MAX);
	sim.outbuf = xmalloc(VA_STATUS_LEN + VA_DATA_MAX);
	if ((sim.base = event_base_new()) == NULL)
		fatalx("event_base_new failed");
	the_sim = &sim;

	if ((sim.lsock = listen_on(sim.o.socket)) == -1)
		exit(1);
	sim.ev_accept = event_new(sim.base, sim.lsock, EV_READ | EV_PERSIST,
	    accept_event, &sim);
	event_add(sim.ev_accept, NULL);
	if (sim.o.control != NULL && sim_ctl_open(&sim, sim.o.control) != 0)
		exit(1);
	sim.ev_tick = event_new(sim.base, -1, EV_PERSIST, tick_event, &sim);
	tv.tv_sec = 0;
	tv.tv_usec = (suseconds_t)sim.o.tick_ms * 1000;
	event_add(sim.ev_tick, &tv);
	for (k = 0; k < nitems(sigs); k++) {
		sim.ev_sig[k] = evsignal_new(sim.base, sigs[k], signal_event,
		    &sim);
		event_add(sim.ev_sig[k], NULL);
	}

	printf("vmig-simdev ready socket=%s control=%s vfs=%u queues=%u\n",
	    sim.o.socket, sim.o.control != NULL ? sim.o.control : "-",
	    sim.o.nvfs, sim.o.admin_queues);
	fflush(stdout);
	log_info("%s: %s: %u VFs (%s dialect), %u queue(s) up to %u entries",
	    __func__, sim.o.name, sim.o.nvfs, sim.dl->d->name,
	    sim.o.admin_queues, sim.o.queue_size);

	event_base_dispatch(sim.base);

	sim_ctl_close(&sim);
	if (sim.conn != NULL)
		conn_free(sim.conn);
	for (k = 0; k < nitems(sigs); k++)
		event_free(sim.ev_sig[k]);
	event_free(sim.ev_tick);
	event_free(sim.ev_accept);
	close(sim.lsock);
	unlink(sim.o.socket);
	sim_fault_clear(&sim);
	for (k = 0; k < sim.o.nvfs; k++)
		sim_vf_free(&sim.vfs[k]);
	free(sim.vfs);
	free(sim.inbuf);
	free(sim.outbuf);
	event_base_free(sim.base);
	return (0);
}
