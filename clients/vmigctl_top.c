/*
 * vmigctl_top.c: vmigctl top, a live screen of the migrations under way:
 * one row per job (direction, device, VM, phase, a progress bar, bytes,
 * transfer and dirty rates, predicted against target downtime,
 * iterations) and the policy's last decision under it, redrawn in place
 * every --interval.
 *
 * On a terminal: the screen cleared once, then redrawn from the top left
 * corner (each line cleared to its end, the screen below the last line),
 * cut to the terminal's width and height, colours unless NO_COLOR is set
 * (no-color.org) or --no-color is given; q or Ctrl-C quits, leaving the
 * last screen (and any error) readable, and the terminal as it was. Anywhere else (a pipe, a file): plain
 * snapshots, one per refresh, without escape sequences, --count of them
 * (one by default).
 */
#include "config.h"

#include <sys/ioctl.h>

#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include "fmt.h"
#include "vmigctl.h"

static int	vmigctl_top(struct vmigctl *, const struct vmigctl_cmd *, int,
		    char **);

static const struct option top_opts[] = {
	{ "interval", required_argument, NULL, 'i' },
	{ "count", required_argument, NULL, 'n' },
	{ "all", no_argument, NULL, 'a' },
	{ "no-color", no_argument, NULL, 'C' },
	{ NULL, 0, NULL, 0 },
};

static const struct vmigctl_num num_interval = {
	"--interval", "milliseconds", 100, 60000, 0
};
static const struct vmigctl_num num_count = {
	"--count", NULL, 1, 1000000, 0
};

const struct vmigctl_cmd vmigctl_top_cmd = {
	"top", "[--interval MS] [--count N] [--all] [--no-color]",
	"a live screen of the migrations: progress, rates, predicted "
	"downtime, last decision", top_opts, vmigctl_top
};

#define TOP_BAR		20	/* progress bar cells */
#define TOP_MIN_WIDTH	40

/* SGR colours (only when colour is on). */
#define C_BOLD		"1"
#define C_DIM		"2"
#define C_RED		"31"
#define C_GREEN		"32"
#define C_YELLOW	"33"
#define C_BLUE		"34"
#define C_MAGENTA	"35"
#define C_CYAN		"36"
#define C_REVERSE	"7"

/* Where a frame goes: a terminal (ANSI) or not, its size, the column. */
struct top_out {
	int		 tty;
	int		 color;
	int		 width;
	int		 height;
	int		 col;
	int		 row;
};

static volatile sig_atomic_t	 top_stop;
static struct termios		 top_saved;
static int			 top_saved_ok;

static void
top_signal(int sig)
{
	top_stop = 1;
}

/* Print, cut at the width; sgr NULL: no colour. */
static void
top_put(struct top_out *o, const char *sgr, const char *fmt, ...)
{
	char	buf[512];
	int	n, room = o->width - o->col;
	va_list	ap;

	va_start(ap, fmt);
	n = vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	if (n < 0 || room <= 0)
		return;
	if (n > room)
		n = room;
	if (o->color && sgr != NULL)
		printf("\033[%sm%.*s\033[0m", sgr, n, buf);
	else
		printf("%.*s", n, buf);
	o->col += n;
}

static void
top_eol(struct top_out *o)
{
	printf("%s\n", o->tty ? "\033[K" : "");
	o->col = 0;
	o->row++;
}

static const char *
top_phase_color(int phase)
{
	switch (phase) {
	case VMIG__V1__JOB_PHASE__PHASE_SETUP:
		return (C_BLUE);
	case VMIG__V1__JOB_PHASE__PHASE_PRECOPY:
		return (C_CYAN);
	case VMIG__V1__JOB_PHASE__PHASE_SWITCHOVER_READY:
		return (C_MAGENTA);
	case VMIG__V1__JOB_PHASE__PHASE_STOPCOPY:
	case VMIG__V1__JOB_PHASE__PHASE_RESUMING:
		return (C_YELLOW);
	case VMIG__V1__JOB_PHASE__PHASE_COMPLETED:
		return (C_GREEN);
	case VMIG__V1__JOB_PHASE__PHASE_FAILED:
	case VMIG__V1__JOB_PHASE__PHASE_CANCELLED:
		return (C_RED);
	default:
		return (C_DIM);
	}
}

/*
 * How far a job is, 0..1000: the share of its memory no longer to send
 * (what the bulk pass sent, while the dirty set is not known yet).
 */
static unsigned int
top_permille(const Vmig__V1__Job *j)
{
	const Vmig__V1__JobStats	*s = j->stats;
	uint64_t			 done;

	if (j->phase == VMIG__V1__JOB_PHASE__PHASE_COMPLETED ||
	    j->phase == VMIG__V1__JOB_PHASE__PHASE_RESUMING)
		return (1000);
	if (s == NULL || s->memory_total == 0)
		return (0);
	if (s->memory_remaining < s->memory_total)
		done = s->memory_total - s->memory_remaining;
	else
		done = s->memory_processed < s->memory_total ?
		    s->memory_processed : s->memory_total;
	return ((unsigned int)(done * 1000 / s->memory_total));
}

static void
top_header(struct top_out *o, const char *url,
    const Vmig__V1__GetDaemonStatusResponse *st, size_t njobs)
{
	char		now[16], line[256];
	time_t		t = time(NULL);

	strftime(now, sizeof(now), "%H:%M:%S", localtime(&t));
	snprintf(line, sizeof(line), "vmigd %s  %s  %zu job%s, %zu queued%s",
	    url, now, njobs, njobs == 1 ? "" : "s", st->n_queue,
	    o->tty ? "  (q: quit)" : "");
	top_put(o, C_REVERSE, "%-*s", o->tty ? o->width : 0, line);
	top_eol(o);
	top_put(o, C_BOLD, "%4s %-3s %-12s %-8s %-16s %-*s %4s %10s %11s %11s "
	    "%13s %3s", "JOB", "DIR", "DEVICE", "VM", "PHASE", TOP_BAR + 2,
	    "PROGRESS", "", "SENT", "RATE", "DIRTY", "PRED/TARGET", "IT");
	top_eol(o);
}

static void
top_job(struct top_out *o, const Vmig__V1__Job *j)
{
	const Vmig__V1__JobStats	*s = j->stats;
	const Vmig__V1__Decision	*d;
	char				 dir[16], phase[32], bar[TOP_BAR + 1];
	char				 sent[32], rate[40], dirty[40], pred[32];
	unsigned int			 pm = top_permille(j), fill, i;
	int				 out = j->direction ==
	    VMIG__V1__JOB_DIRECTION__DIRECTION_OUTGOING;

	vmigctl_enum(&vmig__v1__job_direction__descriptor, j->direction,
	    "DIRECTION_", dir, sizeof(dir));
	vmigctl_enum(&vmig__v1__job_phase__descriptor, j->phase, "PHASE_",
	    phase, sizeof(phase));
	fill = pm * TOP_BAR / 1000;
	for (i = 0; i < TOP_BAR; i++)
		bar[i] = i < fill ? '#' : '.';
	bar[TOP_BAR] = '\0';
	fmt_bytes(sent, sizeof(sent), s ? (double)s->bytes_sent : 0);
	fmt_rate(rate, sizeof(rate), s ? (double)s->memory_bps : 0);
	fmt_rate(dirty, sizeof(dirty), s ? (double)s->device_dirty_rate_bps :
	    0);
	if (out && s != NULL && s->expected_downtime_ms > 0)
		snprintf(pred, sizeof(pred), "%" PRIu64 "/%" PRIu64 " ms",
		    s->expected_downtime_ms, s->downtime_target_ms);
	else if (s != NULL && s->downtime_ms > 0)
		snprintf(pred, sizeof(pred), "took %" PRIu64 " ms",
		    s->downtime_ms);
	else
		snprintf(pred, sizeof(pred), "-");

	top_put(o, NULL, "%4" PRIu64 " %-3.3s %-12.12s %-8.8s ", j->id, dir,
	    j->device, j->vm);
	top_put(o, top_phase_color(j->phase), "%-16.16s", phase);
	top_put(o, NULL, " [");
	top_put(o, C_GREEN, "%.*s", (int)fill, bar);
	top_put(o, C_DIM, "%s", bar + fill);
	top_put(o, NULL, "] %3u%% %10s %11s %11s ", pm / 10, sent, rate,
	    dirty);
	top_put(o, !out || s == NULL || s->expected_downtime_ms == 0 ? NULL :
	    s->expected_downtime_ms <= s->downtime_target_ms ? C_GREEN : C_RED,
	    "%13s", pred);
	top_put(o, NULL, " %3" PRIu64, s ? s->memory_iteration : 0);
	top_eol(o);

	/* under the row: the last decision, or why the job waits/ended */
	if (j->n_decisions > 0) {
		d = j->decisions[j->n_decisions - 1];
		top_put(o, C_DIM, "      last: ");
		top_put(o, C_BOLD, "%s", d->action);
		top_put(o, C_DIM, ": %s", d->reason);
		top_eol(o);
	} else if (j->error[0] != '\0') {
		top_put(o, C_DIM, "      %s", j->error);
		top_eol(o);
	}
}

static int
top_fetch(struct vmigctl *ctl, int all, Vmig__V1__Response **jobs,
    Vmig__V1__Response **st)
{
	Vmig__V1__Request		 req = VMIG__V1__REQUEST__INIT;
	Vmig__V1__ListJobsRequest	 lj = VMIG__V1__LIST_JOBS_REQUEST__INIT;
	Vmig__V1__GetDaemonStatusRequest gs =
	    VMIG__V1__GET_DAEMON_STATUS_REQUEST__INIT;
	int				 rv;

	lj.include_finished = all;
	req.call_case = VMIG__V1__REQUEST__CALL_LIST_JOBS;
	req.list_jobs = &lj;
	if ((rv = vmigctl_call(ctl, &req, jobs)) != VMIGCTL_EXIT_OK)
		return (rv);
	req.request_id = 0;
	req.call_case = VMIG__V1__REQUEST__CALL_GET_DAEMON_STATUS;
	req.get_daemon_status = &gs;
	if ((rv = vmigctl_call(ctl, &req, st)) != VMIGCTL_EXIT_OK) {
		vmig_client_free(*jobs);
		return (rv);
	}
	return (VMIGCTL_EXIT_OK);
}

/* One screen (or snapshot) of the jobs. */
static void
top_frame(struct top_out *o, const char *url,
    const Vmig__V1__ListJobsResponse *lj,
    const Vmig__V1__GetDaemonStatusResponse *st)
{
	size_t	i;

	o->col = o->row = 0;
	if (o->tty)
		printf("\033[H");
	top_header(o, url, st, lj->n_jobs);
	for (i = 0; i < lj->n_jobs; i++) {
		/* two rows per job and one for "more", within the screen */
		if (o->tty && o->row + 3 > o->height && i + 1 < lj->n_jobs) {
			top_put(o, C_DIM, "  ... %zu more jobs (a taller "
			    "terminal shows them)", lj->n_jobs - i);
			top_eol(o);
			break;
		}
		top_job(o, lj->jobs[i]);
	}
	if (lj->n_jobs == 0) {
		top_put(o, C_DIM, "  no migration under way");
		top_eol(o);
	}
	if (o->tty)
		printf("\033[J");
	else
		putchar('\n');
	fflush(stdout);
}

static void
top_size(struct top_out *o)
{
	struct winsize	ws;

	o->width = 120;
	o->height = 24;
	if (o->tty && ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) == 0 &&
	    ws.ws_col > 0) {
		o->width = ws.ws_col;
		o->height = ws.ws_row;
	}
	if (o->width < TOP_MIN_WIDTH)
		o->width = TOP_MIN_WIDTH;
}

/* The terminal as we found it (also after Ctrl-C). */
static void
top_restore(struct top_out *o)
{
	if (!o->tty)
		return;
	printf("\033[?25h");
	fflush(stdout);
	if (top_saved_ok)
		tcsetattr(STDIN_FILENO, TCSANOW, &top_saved);
}

static void
top_setup(struct top_out *o)
{
	struct termios	t;

	if (!o->tty)
		return;
	/* keys one at a time, not echoed, so q quits at once */
	if (isatty(STDIN_FILENO) && tcgetattr(STDIN_FILENO, &top_saved) == 0) {
		top_saved_ok = 1;
		t = top_saved;
		t.c_lflag &= ~(ICANON | ECHO);
		t.c_cc[VMIN] = 0;
		t.c_cc[VTIME] = 0;
		tcsetattr(STDIN_FILENO, TCSANOW, &t);
	}
	/* a clear screen, cursor hidden */
	printf("\033[?25l\033[H\033[2J");
}

/* Wait up to ms for q (terminal) or a signal; returns 1 to quit. */
static int
top_wait(const struct top_out *o, int ms)
{
	struct pollfd	pfd;
	char		c;

	if (!o->tty || !top_saved_ok) {
		struct timespec	ts = { ms / 1000, (long)(ms % 1000) * 1000000 };

		nanosleep(&ts, NULL);
		return (top_stop);
	}
	pfd.fd = STDIN_FILENO;
	pfd.events = POLLIN;
	if (poll(&pfd, 1, ms) > 0 && read(STDIN_FILENO, &c, 1) == 1 &&
	    (c == 'q' || c == 'Q'))
		return (1);
	return (top_stop);
}

static int
vmigctl_top(struct vmigctl *ctl, const struct vmigctl_cmd *cmd, int argc,
    char **argv)
{
	struct top_out		 o;
	Vmig__V1__Response	*jobs, *st;
	const char		*nc = getenv("NO_COLOR");
	uint64_t		 interval = 1000, count = 0;
	char			 err[256];
	int			 ch, all = 0, rv = VMIGCTL_EXIT_OK, frames;

	memset(&o, 0, sizeof(o));
	o.tty = isatty(STDOUT_FILENO);
	o.color = o.tty && (nc == NULL || *nc == '\0');
	while ((ch = vmigctl_getopt(cmd, argc, argv)) != -1) {
		switch (ch) {
		case 'i':
		case 'n':
			if (vmigctl_number(ch == 'i' ? &num_interval :
			    &num_count, optarg, ch == 'i' ? &interval : &count,
			    err, sizeof(err)) != 0)
				return (vmigctl_usage(cmd, "%s", err));
			break;
		case 'a':
			all = 1;
			break;
		case 'C':
			o.color = 0;
			break;
		default:
			return (VMIGCTL_EXIT_USAGE);	/* reported */
		}
	}
	if (optind < argc)
		return (vmigctl_usage(cmd, "unexpected argument %s",
		    argv[optind]));
	if (ctl->json)
		return (vmigctl_usage(cmd, "top is for people; for JSON use "
		    "jobs or watch"));
	if (!o.tty && count == 0)
		count = 1;

	/* a daemon that does not answer: said before the screen clears */
	if ((rv = top_fetch(ctl, all, &jobs, &st)) != VMIGCTL_EXIT_OK)
		return (rv);
	signal(SIGINT, top_signal);
	signal(SIGTERM, top_signal);
	top_setup(&o);
	for (frames = 0;;) {
		top_size(&o);
		top_frame(&o, ctl->url, jobs->list_jobs,
		    st->get_daemon_status);
		vmig_client_free(jobs);
		vmig_client_free(st);
		if ((count > 0 && (uint64_t)++frames >= count) ||
		    top_wait(&o, (int)interval))
			break;
		if ((rv = top_fetch(ctl, all, &jobs, &st)) != VMIGCTL_EXIT_OK)
			break;
	}
	top_restore(&o);
	return (rv);
}
