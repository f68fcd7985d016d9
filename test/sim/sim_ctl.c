/*
 * sim_ctl.c: the control channel: a UNIX stream socket, one command per
 * line, one reply line ("ok ..." or "err reason"). README.md lists the
 * commands; this table is the truth.
 */
#include "config.h"

#include <sys/socket.h>
#include <sys/un.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/listener.h>

#include "log.h"
#include "util.h"
#include "sim.h"

#define CTL_MAXARGS	32
#define CTL_MAXLINE	4096

struct sim_client {
	TAILQ_ENTRY(sim_client) entry;
	struct sim		*sim;
	struct bufferevent	*bev;
};

struct sim_ctl {
	struct evconnlistener	*lis;
	char			 path[108];
	TAILQ_HEAD(, sim_client) clients;
};

typedef void (*ctl_fn)(struct sim *, int, char **, char *, size_t);

struct ctl_cmd {
	const char	*name;
	int		 minargs;	/* after the name */
	int		 vf;		/* argv[1] is a VF number */
	ctl_fn		 fn;
	const char	*usage;
};

static void ctl_reply(char *, size_t, const char *, ...)
    __attribute__((format(printf, 3, 4)));

static void
ctl_reply(char *r, size_t len, const char *fmt, ...)
{
	va_list	ap;

	va_start(ap, fmt);
	vsnprintf(r, len, fmt, ap);
	va_end(ap);
}

static struct sim_vf *
arg_vf(struct sim *sim, const char *s)
{
	uint64_t	v;

	if (sim_parse_u64(s, &v) != 0)
		return (NULL);
	return (sim_vf_get(sim, v));
}

static void
c_ping(struct sim *sim, int argc, char **argv, char *r, size_t len)
{
	ctl_reply(r, len, "ok pong");
}

static void
c_info(struct sim *sim, int argc, char **argv, char *r, size_t len)
{
	ctl_reply(r, len, "ok name=%s vfs=%u dialect=%s device=virtio-net "
	    "queues=%u qsize=%u connected=%d commands=%llu malformed=%llu "
	    "faulted=%llu", sim->o.name, sim->o.nvfs, sim->dl->d->name,
	    sim->o.admin_queues,
	    sim->o.queue_size, sim->conn != NULL,
	    (unsigned long long)sim->n_cmds,
	    (unsigned long long)sim->n_malformed,
	    (unsigned long long)sim->n_faulted);
}

static void
c_attach(struct sim *sim, int argc, char **argv, char *r, size_t len)
{
	struct sim_vf	*vf = arg_vf(sim, argv[1]);
	uint64_t	 size, iova, offset = 0;
	char		 why[300];

	if (parse_size(argv[3], &size) != 0 ||
	    sim_parse_u64(argv[4], &iova) != 0 ||
	    (argc > 5 && parse_size(argv[5], &offset) != 0)) {
		ctl_reply(r, len, "err attach: bad SIZE, IOVA or OFFSET");
		return;
	}
	if (sim_vf_attach(vf, argv[2], size, iova, offset, why,
	    sizeof(why)) != 0) {
		ctl_reply(r, len, "err attach vf%u: %s", vf->id, why);
		return;
	}
	ctl_reply(r, len, "ok");
}

static void
c_detach(struct sim *sim, int argc, char **argv, char *r, size_t len)
{
	sim_vf_detach(arg_vf(sim, argv[1]));
	ctl_reply(r, len, "ok");
}

static void
c_workload(struct sim *sim, int argc, char **argv, char *r, size_t len)
{
	struct sim_vf	*vf = arg_vf(sim, argv[1]);
	char		 why[200];

	if (sim_dma_configure(vf, argc - 2, argv + 2, why, sizeof(why)) != 0) {
		ctl_reply(r, len, "err workload vf%u: %s", vf->id, why);
		return;
	}
	ctl_reply(r, len, "ok");
}

static void
c_hold(struct sim *sim, int argc, char **argv, char *r, size_t len)
{
	arg_vf(sim, argv[1])->held = strcmp(argv[0], "hold") == 0;
	ctl_reply(r, len, "ok");
}

static void
c_step(struct sim *sim, int argc, char **argv, char *r, size_t len)
{
	struct sim_vf	*vf = arg_vf(sim, argv[1]);
	uint64_t	 n, i;

	if (sim_parse_u64(argv[2], &n) != 0 || n > 100000000) {
		ctl_reply(r, len, "err step: bad count '%s'", argv[2]);
		return;
	}
	if (!sim_vf_active(sim, vf)) {
		ctl_reply(r, len, "err step vf%u: not active (%s)", vf->id,
		    sim_mode_name(sim, vf->mode));
		return;
	}
	for (i = 0; i < n; i++) {
		if (sim_dma_write_one(sim, vf) <= 0) {
			ctl_reply(r, len, "err step vf%u: no workload or no "
			    "memory attached", vf->id);
			return;
		}
	}
	ctl_reply(r, len, "ok writes=%llu",
	    (unsigned long long)vf->st.dma.writes);
}

/* "mode VF init" in the control-vq dialect is an FLR: INIT from anywhere. */
static void
c_mode(struct sim *sim, int argc, char **argv, char *r, size_t len)
{
	struct sim_vf	*vf = arg_vf(sim, argv[1]);
	char		 why[200];
	int		 m, i;
	size_t		 off;

	if (argc < 3) {
		ctl_reply(r, len, "ok %s", sim_mode_name(sim, vf->mode));
		return;
	}
	if ((m = sim_mode_parse(sim, argv[2])) < 0) {
		if (sim->dl == &sim_draft) {
			ctl_reply(r, len, "err mode: active, stop or freeze");
			return;
		}
		off = (size_t)snprintf(r, len, "err mode: one of");
		for (i = 0; i < sim->dl->d->nmodes && off < len; i++)
			off += (size_t)snprintf(r + off, len - off, " %s",
			    sim->dl->d->mode_names[i]);
		return;
	}
	if (sim->dl == &sim_cvq && m == CVQ_S_INIT) {
		sim_cvq_flr(sim, vf);
		ctl_reply(r, len, "ok");
		return;
	}
	if (sim_vf_set_mode(sim, vf, (uint8_t)m, why, sizeof(why)) != 0) {
		ctl_reply(r, len, "err mode vf%u: %s", vf->id, why);
		return;
	}
	ctl_reply(r, len, "ok");
}

static void
c_state(struct sim *sim, int argc, char **argv, char *r, size_t len)
{
	struct sim_vf	*vf = arg_vf(sim, argv[1]);
	struct sim_dma	*d = &vf->st.dma;
	unsigned int	 i;
	int		 lost = 0;

	for (i = 0; i < vf->nranges; i++)
		lost |= vf->ranges[i].lost;
	ctl_reply(r, len, "ok mode=%s held=%d attached=%d kind=%s "
	    "writes=%llu bytes=%llu hash=%016llx recording=%d ranges=%u "
	    "records=%u lost=%d records_made=%llu records_dropped=%llu "
	    "ctx_reading=%d ctx_pending=%zu rx_avail_idx=%u cmds=%llu "
	    "track=%s last_error=%s", sim_mode_name(sim, vf->mode), vf->held,
	    vf->mem.p != NULL, sim_dma_kind_name(d->kind),
	    (unsigned long long)d->writes, (unsigned long long)d->bytes,
	    (unsigned long long)d->hash, vf->recording, vf->nranges,
	    vf->nrecs, lost, (unsigned long long)vf->recs_made,
	    (unsigned long long)vf->recs_dropped, vf->rd != NULL, vf->wr_len,
	    vf->st.vq[0].avail_idx, (unsigned long long)vf->cmds,
	    sim_cvq_track_name(vf->track.mode),
	    vf->last_error[0] != '\0' ? vf->last_error : "-");
	/* A reason may hold spaces; the line stays one line. */
	for (i = 0; r[i] != '\0'; i++) {
		if (r[i] == '\n')
			r[i] = ' ';
	}
}

static void
c_digest(struct sim *sim, int argc, char **argv, char *r, size_t len)
{
	uint64_t	h;
	int		any = argc > 2 && strcmp(argv[2], "any") == 0;

	/* "digest VF any": the same for every dialect (cross-dialect). */
	if (sim_vf_state_digest(sim, arg_vf(sim, argv[1]), any, &h) != 0) {
		ctl_reply(r, len, "err digest: cannot build the context");
		return;
	}
	ctl_reply(r, len, "ok %016llx", (unsigned long long)h);
}

static void
c_memdigest(struct sim *sim, int argc, char **argv, char *r, size_t len)
{
	struct sim_vf	*vf = arg_vf(sim, argv[1]);

	if (vf->mem.p == NULL) {
		ctl_reply(r, len, "err memdigest vf%u: no memory attached",
		    vf->id);
		return;
	}
	ctl_reply(r, len, "ok %016llx",
	    (unsigned long long)sim_vf_mem_digest(vf));
}

static int
parse_mac(const char *s, uint8_t mac[6])
{
	unsigned int	b[6];
	int		i;
	char		c;

	if (sscanf(s, "%x:%x:%x:%x:%x:%x%c", &b[0], &b[1], &b[2], &b[3],
	    &b[4], &b[5], &c) != 6)
		return (-1);
	for (i = 0; i < 6; i++) {
		if (b[i] > 255)
			return (-1);
		mac[i] = (uint8_t)b[i];
	}
	return (0);
}

/* What the guest driver would set through the control virtqueue. */
static void
c_cvq(struct sim *sim, int argc, char **argv, char *r, size_t len)
{
	struct sim_vf	*vf = arg_vf(sim, argv[1]);
	struct sim_cvq	 c = vf->st.cvq;
	char		*key, *val;
	uint64_t	 v;
	uint8_t		 mac[6];
	int		 i;

	for (i = 2; i < argc; i++) {
		key = argv[i];
		if ((val = strchr(key, '=')) == NULL)
			goto bad;
		*val++ = '\0';
		if (strcmp(key, "mac") == 0 && parse_mac(val, mac) == 0)
			memcpy(c.mac, mac, 6);
		else if (strcmp(key, "rx") == 0 && sim_parse_u64(val, &v) == 0 &&
		    v <= VA_NET_RX_MASK)
			c.rx_mode = (uint16_t)v;
		else if (strcmp(key, "vlan") == 0 &&
		    sim_parse_u64(val, &v) == 0 && v < 4096)
			c.vlan[v / 8] |= (uint8_t)(1u << (v % 8));
		else if (strcmp(key, "novlan") == 0 &&
		    sim_parse_u64(val, &v) == 0 && v < 4096)
			c.vlan[v / 8] &= (uint8_t)~(1u << (v % 8));
		else if (strcmp(key, "uc") == 0 && parse_mac(val, mac) == 0 &&
		    c.uc < VA_CTX_CVQ_MAX_MACS) {
			/* unicast entries come first: shift multicast up */
			memmove(c.macs[c.uc + 1], c.macs[c.uc],
			    (size_t)c.mc * 6);
			memcpy(c.macs[c.uc++], mac, 6);
		} else if (strcmp(key, "mc") == 0 &&
		    parse_mac(val, mac) == 0 && c.mc < VA_CTX_CVQ_MAX_MACS)
			memcpy(c.macs[c.uc + c.mc++], mac, 6);
		else
			goto bad;
	}
	vf->st.cvq = c;
	ctl_reply(r, len, "ok");
	return;
bad:
	ctl_reply(r, len, "err cvq: want mac=MAC rx=BITS vlan=N novlan=N "
	    "uc=MAC mc=MAC");
}

static void
c_fault(struct sim *sim, int argc, char **argv, char *r, size_t len)
{
	char	why[200], list[900];

	if (argc >= 2 && strcmp(argv[1], "list") == 0) {
		sim_fault_list(sim, list, sizeof(list));
		ctl_reply(r, len, "ok %s", list);
		return;
	}
	if (sim_fault_parse(sim, argc - 1, argv + 1, why, sizeof(why)) != 0) {
		ctl_reply(r, len, "err fault: %s", why);
		return;
	}
	ctl_reply(r, len, "ok");
}

static void
c_echo(struct sim *sim, int argc, char **argv, char *r, size_t len)
{
	if (strcmp(argv[1], "on") != 0 && strcmp(argv[1], "off") != 0) {
		ctl_reply(r, len, "err echo: on or off");
		return;
	}
	sim->echo = strcmp(argv[1], "on") == 0;
	ctl_reply(r, len, "ok");
}

static void
c_quit(struct sim *sim, int argc, char **argv, char *r, size_t len)
{
	ctl_reply(r, len, "ok bye");
	sim_quit(sim);
}

static const struct ctl_cmd ctl_cmds[] = {
	{ "ping", 0, 0, c_ping, "ping" },
	{ "info", 0, 0, c_info, "info" },
	{ "attach", 4, 1, c_attach, "attach VF PATH SIZE IOVA [OFFSET]" },
	{ "detach", 1, 1, c_detach, "detach VF" },
	{ "workload", 2, 1, c_workload, "workload VF KIND [key=value...]" },
	{ "hold", 1, 1, c_hold, "hold VF" },
	{ "release", 1, 1, c_hold, "release VF" },
	{ "step", 2, 1, c_step, "step VF N" },
	{ "mode", 1, 1, c_mode, "mode VF [MODE] (the dialect's, or "
	  "active|stop|freeze)" },
	{ "state", 1, 1, c_state, "state VF" },
	{ "digest", 1, 2, c_digest, "digest VF [any]" },
	{ "memdigest", 1, 1, c_memdigest, "memdigest VF" },
	{ "cvq", 1, 1, c_cvq, "cvq VF key=value..." },
	{ "fault", 1, 0, c_fault, "fault fail|delay|drop|more|lost|clear|list "
	  "..." },
	{ "echo", 1, 0, c_echo, "echo on|off" },
	{ "quit", 0, 0, c_quit, "quit" },
};

void
sim_ctl_exec(struct sim *sim, char *line, char *reply, size_t len)
{
	char		*argv[CTL_MAXARGS], *save = NULL, *tok;
	const struct ctl_cmd *c = NULL;
	int		 argc = 0;
	size_t		 i;

	for (tok = strtok_r(line, " \t\r", &save); tok != NULL;
	    tok = strtok_r(NULL, " \t\r", &save)) {
		if (argc == CTL_MAXARGS) {
			ctl_reply(reply, len, "err too many words");
			return;
		}
		argv[argc++] = tok;
	}
	if (argc == 0) {
		ctl_reply(reply, len, "err empty command");
		return;
	}
	for (i = 0; i < nitems(ctl_cmds); i++) {
		if (strcmp(argv[0], ctl_cmds[i].name) == 0)
			c = &ctl_cmds[i];
	}
	if (c == NULL) {
		ctl_reply(reply, len, "err unknown command '%.40s'", argv[0]);
		return;
	}
	if (argc - 1 < c->minargs) {
		ctl_reply(reply, len, "err usage: %s", c->usage);
		return;
	}
	if (c->vf && arg_vf(sim, argv[1]) == NULL) {
		ctl_reply(reply, len, "err %s: no VF '%.20s' (1..%u)", c->name,
		    argv[1], sim->o.nvfs);
		return;
	}
	c->fn(sim, argc, argv, reply, len);
}

static void
client_free(struct sim_client *cl)
{
	struct sim_ctl	*ctl = cl->sim->ctl;

	TAILQ_REMOVE(&ctl->clients, cl, entry);
	bufferevent_free(cl->bev);
	free(cl);
}

static void
client_read(struct bufferevent *bev, void *arg)
{
	struct sim_client *cl = arg;
	struct evbuffer	*in = bufferevent_get_input(bev);
	char		*line, reply[1024];
	size_t		 n;

	while ((line = evbuffer_readln(in, &n, EVBUFFER_EOL_LF)) != NULL) {
		sim_ctl_exec(cl->sim, line, reply, sizeof(reply));
		free(line);
		evbuffer_add_printf(bufferevent_get_output(bev), "%s\n",
		    reply);
	}
	if (evbuffer_get_length(in) > CTL_MAXLINE) {
		evbuffer_add_printf(bufferevent_get_output(bev),
		    "err line longer than %d bytes\n", CTL_MAXLINE);
		evbuffer_drain(in, evbuffer_get_length(in));
	}
}

static void
client_event(struct bufferevent *bev, short what, void *arg)
{
	if (what & (BEV_EVENT_EOF | BEV_EVENT_ERROR))
		client_free(arg);
}

static void
ctl_accept(struct evconnlistener *lis, evutil_socket_t fd,
    struct sockaddr *sa, int salen, void *arg)
{
	struct sim	*sim = arg;
	struct sim_client *cl;

	cl = xcalloc(1, sizeof(*cl));
	cl->sim = sim;
	cl->bev = bufferevent_socket_new(sim->base, fd, BEV_OPT_CLOSE_ON_FREE);
	if (cl->bev == NULL) {
		close(fd);
		free(cl);
		return;
	}
	TAILQ_INSERT_TAIL(&sim->ctl->clients, cl, entry);
	bufferevent_setcb(cl->bev, client_read, NULL, client_event, cl);
	bufferevent_enable(cl->bev, EV_READ | EV_WRITE);
}

int
sim_ctl_open(struct sim *sim, const char *path)
{
	struct sockaddr_un sun;
	struct sim_ctl	*ctl;

	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	if (strlen(path) >= sizeof(sun.sun_path)) {
		log_warnx("%s: control socket path %s is too long", __func__,
		    path);
		return (-ENAMETOOLONG);
	}
	memcpy(sun.sun_path, path, strlen(path));
	unlink(path);
	ctl = xcalloc(1, sizeof(*ctl));
	TAILQ_INIT(&ctl->clients);
	snprintf(ctl->path, sizeof(ctl->path), "%s", path);
	ctl->lis = evconnlistener_new_bind(sim->base, ctl_accept, sim,
	    LEV_OPT_CLOSE_ON_FREE | LEV_OPT_CLOSE_ON_EXEC, 16,
	    (struct sockaddr *)&sun, sizeof(sun));
	if (ctl->lis == NULL) {
		log_warn("%s: control socket %s", __func__, path);
		free(ctl);
		return (-EADDRINUSE);
	}
	sim->ctl = ctl;
	return (0);
}

void
sim_ctl_close(struct sim *sim)
{
	struct sim_ctl	*ctl = sim->ctl;
	struct sim_client *cl;
	struct evbuffer	*out;

	if (ctl == NULL)
		return;
	while ((cl = TAILQ_FIRST(&ctl->clients)) != NULL) {
		/* Let the last reply (e.g. to quit) go out first; the
		 * bufferevent keeps the front of its output frozen. */
		out = bufferevent_get_output(cl->bev);
		evbuffer_unfreeze(out, 1);
		if (evbuffer_write(out, bufferevent_getfd(cl->bev)) < 0)
			log_debug("%s: last reply lost", __func__);
		client_free(cl);
	}
	evconnlistener_free(ctl->lis);
	unlink(ctl->path);
	free(ctl);
	sim->ctl = NULL;
}
