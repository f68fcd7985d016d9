/*
 * vmigctl_job.c: the migration commands: prepare, migrate, job, jobs, wait,
 * cancel, switchover, policy, release.
 *
 * A memory region is given as PATH,iova=A,size=N[,offset=O][,page=P]
 * (sizes take K/M/G suffixes, numbers 0x hex). Progress (migrate --wait,
 * wait, jobs --watch) polls GetJob a few times a second: polling survives
 * a daemon restart and needs no event subscription.
 */
#include "config.h"

#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "vmigctl.h"

#define POLL_MS		250
#define REGIONS_MAX	64

static int	vmigctl_prepare(struct vmigctl *, const struct vmigctl_cmd *,
		    int, char **);
static int	vmigctl_migrate(struct vmigctl *, const struct vmigctl_cmd *,
		    int, char **);
static int	vmigctl_job(struct vmigctl *, const struct vmigctl_cmd *,
		    int, char **);
static int	vmigctl_jobs(struct vmigctl *, const struct vmigctl_cmd *,
		    int, char **);
static int	vmigctl_wait(struct vmigctl *, const struct vmigctl_cmd *,
		    int, char **);
static int	vmigctl_cancel(struct vmigctl *, const struct vmigctl_cmd *,
		    int, char **);
static int	vmigctl_switchover(struct vmigctl *,
		    const struct vmigctl_cmd *, int, char **);
static int	vmigctl_policy(struct vmigctl *, const struct vmigctl_cmd *,
		    int, char **);
static int	vmigctl_release(struct vmigctl *, const struct vmigctl_cmd *,
		    int, char **);

const struct vmigctl_cmd vmigctl_prepare_cmd = {
	"prepare", "DEVICE [DEVICE...] --region R [--region R...] [--verify]"
	" [--vm NAME]",
	"destination: reserve a VF (a VM's VFs: a group); prints job id, token"
	" and stream URL",
	vmigctl_prepare
};

const struct vmigctl_cmd vmigctl_migrate_cmd = {
	"migrate", "DEVICE [DEVICE...] --to URL --token HEX --region R [...]"
	" [--downtime MS]"
	" [--ceiling MS] [--bandwidth B/s] [--timeout S] [--manual] [--bulk]"
	" [--verify] [--baseline [--baseline-ramp] [--ramp-delay MS_PER_GIB]]"
	" [--progress-timeout S] [--force-on-timeout] [--forced-downtime MS]"
	" [--max-iterations N] [--priority N] [--vm NAME] [--wait]",
	"source: migrate a VF (a VM's VFs, in prepare's order) to a prepared"
	" destination",
	vmigctl_migrate
};

const struct vmigctl_cmd vmigctl_job_cmd = {
	"job", "ID", "one job: phase, statistics, the policy's decisions",
	vmigctl_job
};

const struct vmigctl_cmd vmigctl_jobs_cmd = {
	"jobs", "[--all] [--watch]", "jobs (--watch: live until all end)",
	vmigctl_jobs
};

const struct vmigctl_cmd vmigctl_wait_cmd = {
	"wait", "ID", "show a job's progress until it ends; exit 0 if completed",
	vmigctl_wait
};

const struct vmigctl_cmd vmigctl_cancel_cmd = {
	"cancel", "ID [REASON]", "roll a job back", vmigctl_cancel
};

const struct vmigctl_cmd vmigctl_switchover_cmd = {
	"switchover", "ID", "manual switchover now (the VM is paused)",
	vmigctl_switchover
};

const struct vmigctl_cmd vmigctl_policy_cmd = {
	"policy", "ID [--downtime MS] [--ceiling MS] [--bandwidth B/s] "
	"[--timeout S]", "change a running job's policy", vmigctl_policy
};

const struct vmigctl_cmd vmigctl_release_cmd = {
	"release", "DEVICE [--resume]", "free a source VF whose VM migrated "
	"away (--resume: make a VF left stopped by a dead daemon active)",
	vmigctl_release
};

/* ------------------------------------------------------------ parsing */

static int
parse_u64(const char *s, uint64_t *out)
{
	char			*end;
	unsigned long long	 v;
	double			 mult = 1;

	if (s == NULL || *s == '\0' || *s == '-')
		return (-1);
	errno = 0;
	v = strtoull(s, &end, 0);
	if (errno != 0 || end == s)
		return (-1);
	switch (*end) {
	case '\0':
		break;
	case 'k': case 'K':
		mult = 1024.0;
		end++;
		break;
	case 'm': case 'M':
		mult = 1024.0 * 1024;
		end++;
		break;
	case 'g': case 'G':
		mult = 1024.0 * 1024 * 1024;
		end++;
		break;
	default:
		return (-1);
	}
	if (*end == 'i')
		end++;
	if (*end == 'B')
		end++;
	if (*end != '\0')
		return (-1);
	*out = (uint64_t)((double)v * mult);
	return (0);
}

static int
parse_u32(const char *s, uint32_t *out)
{
	uint64_t	v;

	if (parse_u64(s, &v) != 0 || v > UINT32_MAX)
		return (-1);
	*out = (uint32_t)v;
	return (0);
}

/* PATH,iova=A,size=N[,offset=O][,page=P] */
static int
parse_region(const char *arg, Vmig__V1__MemoryRegion *r, char *err,
    size_t len)
{
	char	*copy, *tok, *save = NULL, *eq;
	int	 first = 1, rv = 0, have_size = 0;

	vmig__v1__memory_region__init(r);
	copy = strdup(arg);
	if (copy == NULL)
		return (-1);
	for (tok = strtok_r(copy, ",", &save); tok != NULL;
	    tok = strtok_r(NULL, ",", &save)) {
		uint64_t v;

		if (first) {
			r->path = strdup(tok);
			first = 0;
			continue;
		}
		if ((eq = strchr(tok, '=')) == NULL ||
		    parse_u64(eq + 1, &v) != 0) {
			snprintf(err, len, "region \"%s\": \"%s\" is not "
			    "key=number", arg, tok);
			rv = -1;
			break;
		}
		*eq = '\0';
		if (strcmp(tok, "iova") == 0)
			r->iova = v;
		else if (strcmp(tok, "size") == 0 || strcmp(tok, "length") == 0) {
			r->length = v;
			have_size = 1;
		} else if (strcmp(tok, "offset") == 0)
			r->file_offset = v;
		else if (strcmp(tok, "page") == 0 && v <= UINT32_MAX)
			r->page_size = (uint32_t)v;
		else {
			snprintf(err, len, "region \"%s\": unknown key \"%s\" "
			    "(iova, size, offset, page)", arg, tok);
			rv = -1;
			break;
		}
	}
	free(copy);
	if (rv == 0 && (r->path == NULL || !have_size)) {
		snprintf(err, len, "region \"%s\": give PATH,iova=A,size=N", arg);
		rv = -1;
	}
	return (rv);
}

static void
free_regions(Vmig__V1__MemoryRegion *r, size_t n)
{
	size_t	i;

	for (i = 0; i < n; i++)
		free(r[i].path);
}

static int
parse_hex(const char *s, uint8_t *out, size_t cap, size_t *len)
{
	size_t	n = strlen(s), i;

	if (n == 0 || n % 2 != 0 || n / 2 > cap)
		return (-1);
	for (i = 0; i < n / 2; i++) {
		unsigned int b;

		if (sscanf(s + 2 * i, "%2x", &b) != 1)
			return (-1);
		out[i] = (uint8_t)b;
	}
	*len = n / 2;
	return (0);
}

/* ------------------------------------------------------------ display */

static const char *
phase_name(int phase, char *buf, size_t len)
{
	return (vmigctl_enum(&vmig__v1__job_phase__descriptor, phase,
	    "PHASE_", buf, len));
}

static int
phase_terminal(int phase)
{
	return (phase == VMIG__V1__JOB_PHASE__PHASE_COMPLETED ||
	    phase == VMIG__V1__JOB_PHASE__PHASE_FAILED ||
	    phase == VMIG__V1__JOB_PHASE__PHASE_CANCELLED);
}

/* One line of progress, as the demo and `migrate --wait` show it. */
static void
progress_line(const Vmig__V1__Job *j, char *buf, size_t len)
{
	const Vmig__V1__JobStats	*s = j->stats;
	char				 p[32], rem[32], rate[32], sent[32];
	char				 dt[64];

	phase_name(j->phase, p, sizeof(p));
	if (s == NULL) {
		snprintf(buf, len, "job %" PRIu64 " %-10s %-16s", j->id,
		    j->device, p);
		return;
	}
	vmigctl_bytes(s->memory_remaining, rem, sizeof(rem));
	vmigctl_bytes(s->device_dirty_rate_bps, rate, sizeof(rate));
	vmigctl_bytes(s->bytes_sent, sent, sizeof(sent));
	if (phase_terminal(j->phase) && s->downtime_ms != 0)
		snprintf(dt, sizeof(dt), "downtime %" PRIu64 " ms",
		    s->downtime_ms);
	else
		snprintf(dt, sizeof(dt), "expect %" PRIu64 " ms",
		    s->expected_downtime_ms);
	snprintf(buf, len, "job %-3" PRIu64 " %-12s %-16s it %-3" PRIu64
	    " remaining %-10s dirty %9s/s  %-18s sent %s", j->id, j->device,
	    p, s->memory_iteration, rem, rate, dt, sent);
}

static int
get_job(struct vmigctl *ctl, uint64_t id, Vmig__V1__Response **resp)
{
	Vmig__V1__Request	req = VMIG__V1__REQUEST__INIT;
	Vmig__V1__GetJobRequest	q = VMIG__V1__GET_JOB_REQUEST__INIT;

	q.job_id = id;
	req.call_case = VMIG__V1__REQUEST__CALL_GET_JOB;
	req.get_job = &q;
	return (vmigctl_call(ctl, &req, resp));
}

static void
sleep_ms(int ms)
{
	struct timespec	ts = { ms / 1000, (long)(ms % 1000) * 1000000L };

	nanosleep(&ts, NULL);
}

/* Poll until the job ends; exit 0 only if it completed. */
static int
wait_job(struct vmigctl *ctl, uint64_t id)
{
	Vmig__V1__Response	*resp;
	char			 line[256];
	uint64_t		 it, last_it = UINT64_MAX;
	int			 tty = isatty(STDOUT_FILENO), rv, last = -1;

	for (;;) {
		if ((rv = get_job(ctl, id, &resp)) != VMIGCTL_EXIT_OK)
			return (rv);
		progress_line(resp->get_job->job, line, sizeof(line));
		it = resp->get_job->job->stats != NULL ?
		    resp->get_job->job->stats->memory_iteration : 0;
		/* a terminal redraws in place; a log gets a line per change */
		if (tty)
			printf("\r\033[K%s", line);
		else if ((int)resp->get_job->job->phase != last ||
		    it != last_it)
			printf("%s\n", line);
		fflush(stdout);
		last = resp->get_job->job->phase;
		last_it = it;
		if (phase_terminal(last)) {
			const Vmig__V1__Job *j = resp->get_job->job;

			if (tty)
				printf("\n");
			if (j->error != NULL && j->error[0] != '\0')
				printf("job %" PRIu64 ": %s\n", j->id, j->error);
			if (ctl->json)
				vmigctl_json(ctl, resp);
			rv = last == VMIG__V1__JOB_PHASE__PHASE_COMPLETED ?
			    VMIGCTL_EXIT_OK : VMIGCTL_EXIT_ERROR;
			vmig_client_free(resp);
			return (rv);
		}
		vmig_client_free(resp);
		sleep_ms(POLL_MS);
	}
}

/* ------------------------------------------------------------ commands */

/* A group's job ids, one per device (nothing for one device). */
static void
print_group(const uint64_t *ids, size_t n)
{
	size_t	i;

	if (n < 2)
		return;
	printf("group");
	for (i = 0; i < n; i++)
		printf(" %" PRIu64, ids[i]);
	printf("\n");
}

static int
vmigctl_prepare(struct vmigctl *ctl, const struct vmigctl_cmd *cmd, int argc,
    char **argv)
{
	static const struct option	 opts[] = {
		{ "region", required_argument, NULL, 'r' },
		{ "verify", no_argument, NULL, 'V' },
		{ "vm", required_argument, NULL, 'm' },
		{ NULL, 0, NULL, 0 }
	};
	Vmig__V1__Request			 req = VMIG__V1__REQUEST__INIT;
	Vmig__V1__PrepareIncomingRequest	 q =
	    VMIG__V1__PREPARE_INCOMING_REQUEST__INIT;
	Vmig__V1__MigrationPolicy		 pol =
	    VMIG__V1__MIGRATION_POLICY__INIT;
	Vmig__V1__MemoryRegion			 regions[REGIONS_MAX];
	Vmig__V1__MemoryRegion			*rp[REGIONS_MAX];
	Vmig__V1__Response			*resp;
	char					 err[256];
	size_t					 n = 0, i;
	int					 c, rv;

	optind = 0;	/* reinitialise GNU getopt (vmigctl.c used "+") */
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 'r':
			if (n == REGIONS_MAX) {
				free_regions(regions, n);
				return (vmigctl_usage(cmd, "too many regions"));
			}
			if (parse_region(optarg, &regions[n], err,
			    sizeof(err)) != 0) {
				free_regions(regions, n + 1);
				return (vmigctl_usage(cmd, "%s", err));
			}
			rp[n] = &regions[n];
			n++;
			break;
		case 'V':
			pol.verify = 1;
			break;
		case 'm':
			q.vm = optarg;
			break;
		default:
			free_regions(regions, n);
			return (vmigctl_usage(cmd, "unknown option"));
		}
	}
	if (optind >= argc) {
		free_regions(regions, n);
		return (vmigctl_usage(cmd, "give a DEVICE"));
	}
	q.device = argv[optind];
	q.group = argv + optind + 1;	/* the VM's other devices */
	q.n_group = argc - optind - 1;
	q.n_regions = n;
	q.regions = rp;
	q.policy = &pol;
	req.call_case = VMIG__V1__REQUEST__CALL_PREPARE_INCOMING;
	req.prepare_incoming = &q;
	rv = vmigctl_call(ctl, &req, &resp);
	free_regions(regions, n);
	if (rv != VMIGCTL_EXIT_OK)
		return (rv);
	if (!vmigctl_json(ctl, resp)) {
		const Vmig__V1__PrepareIncomingResponse *p =
		    resp->prepare_incoming;

		printf("job %" PRIu64 "\n", p->job_id);
		print_group(p->job_ids, p->n_job_ids);
		printf("url %s\ntoken ", p->stream_url);
		for (i = 0; i < p->token.len; i++)
			printf("%02x", p->token.data[i]);
		printf("\n");
	}
	vmig_client_free(resp);
	return (VMIGCTL_EXIT_OK);
}

/*
 * The policy options, one parser for migrate (all of them) and policy
 * (what SetJobPolicy changes): 1 handled, 0 not a policy option, -1 a bad
 * value (err says which).
 */
#define POLICY_OPTS \
	{ "downtime", required_argument, NULL, 'd' },			\
	{ "ceiling", required_argument, NULL, 'c' },			\
	{ "bandwidth", required_argument, NULL, 'b' },			\
	{ "timeout", required_argument, NULL, 'T' }
static int
policy_opt(int c, const char *arg, Vmig__V1__MigrationPolicy *pol,
    char *err, size_t len)
{
	const char	*want = NULL;
	int		 bad = 0;

	switch (c) {
	case 'd':
		bad = parse_u32(arg, &pol->max_downtime_ms);
		want = "--downtime wants ms";
		break;
	case 'c':
		bad = parse_u32(arg, &pol->downtime_ceiling_ms);
		want = "--ceiling wants ms";
		break;
	case 'b':
		bad = parse_u64(arg, &pol->bandwidth_limit_bps);
		want = "--bandwidth wants bytes/s";
		break;
	case 'T':
		bad = parse_u32(arg, &pol->completion_timeout_s);
		want = "--timeout wants seconds";
		break;
	case 'f':
		bad = parse_u32(arg, &pol->forced_downtime_ms);
		want = "--forced-downtime wants ms";
		break;
	case 'i':
		bad = parse_u32(arg, &pol->max_iterations);
		want = "--max-iterations wants N";
		break;
	case 'p':
		bad = parse_u32(arg, &pol->priority);
		want = "--priority wants N";
		break;
	case 'M':
		pol->switchover = VMIG__V1__SWITCHOVER_MODE__SWITCHOVER_MANUAL;
		break;
	case 'B':
		pol->bulk_copy = 1;
		break;
	case 'V':
		pol->verify = 1;
		break;
	case 'L':
		pol->convergence =
		    VMIG__V1__CONVERGENCE_POLICY__CONVERGE_BASELINE;
		break;
	case 'R':
		pol->baseline_ramp = 1;
		break;
	case 'D':
		bad = parse_u32(arg, &pol->ramp_delay_ms_per_gib);
		want = "--ramp-delay wants ms per GiB";
		break;
	case 'P':
		bad = parse_u32(arg, &pol->progress_timeout_s);
		want = "--progress-timeout wants seconds";
		break;
	case 'F':
		pol->timeout_action =
		    VMIG__V1__TIMEOUT_ACTION__TIMEOUT_FORCE_SWITCHOVER;
		break;
	default:
		return (0);
	}
	if (bad) {
		snprintf(err, len, "%s", want);
		return (-1);
	}
	return (1);
}

static int
vmigctl_migrate(struct vmigctl *ctl, const struct vmigctl_cmd *cmd, int argc,
    char **argv)
{
	static const struct option	 opts[] = {
		{ "to", required_argument, NULL, 't' },
		{ "token", required_argument, NULL, 'k' },
		{ "region", required_argument, NULL, 'r' },
		POLICY_OPTS,
		{ "manual", no_argument, NULL, 'M' },
		{ "bulk", no_argument, NULL, 'B' },
		{ "verify", no_argument, NULL, 'V' },
		{ "baseline", no_argument, NULL, 'L' },
		{ "baseline-ramp", no_argument, NULL, 'R' },
		{ "ramp-delay", required_argument, NULL, 'D' },
		{ "progress-timeout", required_argument, NULL, 'P' },
		{ "force-on-timeout", no_argument, NULL, 'F' },
		{ "forced-downtime", required_argument, NULL, 'f' },
		{ "max-iterations", required_argument, NULL, 'i' },
		{ "priority", required_argument, NULL, 'p' },
		{ "vm", required_argument, NULL, 'm' },
		{ "wait", no_argument, NULL, 'w' },
		{ NULL, 0, NULL, 0 }
	};
	Vmig__V1__Request			 req = VMIG__V1__REQUEST__INIT;
	Vmig__V1__StartMigrationRequest		 q =
	    VMIG__V1__START_MIGRATION_REQUEST__INIT;
	Vmig__V1__MigrationPolicy		 pol =
	    VMIG__V1__MIGRATION_POLICY__INIT;
	Vmig__V1__MemoryRegion			 regions[REGIONS_MAX];
	Vmig__V1__MemoryRegion			*rp[REGIONS_MAX];
	Vmig__V1__Response			*resp;
	uint8_t					 token[64];
	size_t					 tokenlen = 0, n = 0;
	char					 err[256];
	uint64_t				 id;
	int					 c, rv, wait = 0, bad = 0;

	optind = 0;	/* reinitialise GNU getopt (vmigctl.c used "+") */
	while (!bad && (c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 't':
			q.dest_url = optarg;
			break;
		case 'k':
			if (parse_hex(optarg, token, sizeof(token),
			    &tokenlen) != 0) {
				snprintf(err, sizeof(err), "--token wants the "
				    "hex token prepare printed");
				bad = 1;
			}
			break;
		case 'r':
			if (n == REGIONS_MAX) {
				snprintf(err, sizeof(err), "too many regions");
				bad = 1;
				break;
			}
			if (parse_region(optarg, &regions[n], err,
			    sizeof(err)) != 0) {
				n++;
				bad = 1;
				break;
			}
			rp[n] = &regions[n];
			n++;
			break;
		case 'm':
			q.vm = optarg;
			break;
		case 'w':
			wait = 1;
			break;
		default:
			if ((rv = policy_opt(c, optarg, &pol, err,
			    sizeof(err))) == 0)
				snprintf(err, sizeof(err), "unknown option");
			bad = rv <= 0;
			break;
		}
	}
	if (!bad && optind >= argc) {
		snprintf(err, sizeof(err), "give a DEVICE");
		bad = 1;
	}
	if (!bad && (q.dest_url == NULL || tokenlen == 0)) {
		snprintf(err, sizeof(err), "--to and --token are required "
		    "(from prepare on the destination)");
		bad = 1;
	}
	if (bad) {
		free_regions(regions, n);
		return (vmigctl_usage(cmd, "%s", err));
	}
	q.device = argv[optind];
	q.group = argv + optind + 1;
	q.n_group = argc - optind - 1;
	q.token.data = token;
	q.token.len = tokenlen;
	q.n_regions = n;
	q.regions = rp;
	q.policy = &pol;
	req.call_case = VMIG__V1__REQUEST__CALL_START_MIGRATION;
	req.start_migration = &q;
	rv = vmigctl_call(ctl, &req, &resp);
	free_regions(regions, n);
	if (rv != VMIGCTL_EXIT_OK)
		return (rv);
	id = resp->start_migration->job_id;
	if (!wait && !vmigctl_json(ctl, resp)) {
		printf("job %" PRIu64 "\n", id);
		print_group(resp->start_migration->job_ids,
		    resp->start_migration->n_job_ids);
	}
	vmig_client_free(resp);
	return (wait ? wait_job(ctl, id) : VMIGCTL_EXIT_OK);
}

static int
parse_id(const struct vmigctl_cmd *cmd, int argc, char **argv, int max,
    uint64_t *id)
{
	if (argc < 2 || argc > max)
		return (vmigctl_usage(cmd, "give a job ID"));
	if (parse_u64(argv[1], id) != 0 || *id == 0)
		return (vmigctl_usage(cmd, "\"%s\" is not a job id", argv[1]));
	return (VMIGCTL_EXIT_OK);
}

static void
print_stats(const Vmig__V1__JobStats *s)
{
	char	a[32], b[32], c[32];

	printf("  elapsed %s, setup %" PRIu64 " ms, queued %" PRIu64 " ms\n",
	    vmigctl_duration(s->time_elapsed_ms, a, sizeof(a)),
	    s->setup_time_ms, s->queue_time_ms);
	printf("  memory: total %s, sent %s, remaining %s, iterations %" PRIu64
	    "\n", vmigctl_bytes(s->memory_total, a, sizeof(a)),
	    vmigctl_bytes(s->memory_processed, b, sizeof(b)),
	    vmigctl_bytes(s->memory_remaining, c, sizeof(c)),
	    s->memory_iteration);
	printf("  pages: %" PRIu64 " with data, %" PRIu64 " zero; dirty %"
	    PRIu64 " pages/s; rate %s/s\n", s->memory_normal,
	    s->memory_constant, s->memory_dirty_rate,
	    vmigctl_bytes(s->memory_bps, a, sizeof(a)));
	printf("  device: state %s (pending %s), writes %s/s, %" PRIu64
	    " write records, %" PRIu64 " hot pages deferred\n",
	    vmigctl_bytes(s->device_state_bytes, a, sizeof(a)),
	    vmigctl_bytes(s->device_state_pending, b, sizeof(b)),
	    vmigctl_bytes(s->device_dirty_rate_bps, c, sizeof(c)),
	    s->device_write_records, s->hot_pages_deferred);
	printf("  downtime: target %" PRIu64 " ms, expected %" PRIu64
	    " ms, predicted at switchover %" PRIu64 " ms, measured %" PRIu64
	    " ms (destination load %" PRIu64 " ms)\n", s->downtime_target_ms,
	    s->expected_downtime_ms, s->predicted_downtime_ms, s->downtime_ms,
	    s->device_load_time_ms);
	printf("  stream: %s sent, share %s/s\n",
	    vmigctl_bytes(s->bytes_sent, a, sizeof(a)),
	    s->bandwidth_share_bps ? vmigctl_bytes(s->bandwidth_share_bps, b,
	    sizeof(b)) : "unlimited");
}

static int
vmigctl_job(struct vmigctl *ctl, const struct vmigctl_cmd *cmd, int argc,
    char **argv)
{
	Vmig__V1__Response	*resp;
	const Vmig__V1__Job	*j;
	char			 p[32], dir[32], conv[32];
	uint64_t		 id;
	size_t			 i;
	int			 rv;

	if ((rv = parse_id(cmd, argc, argv, 2, &id)) != VMIGCTL_EXIT_OK)
		return (rv);
	if ((rv = get_job(ctl, id, &resp)) != VMIGCTL_EXIT_OK)
		return (rv);
	if (vmigctl_json(ctl, resp)) {
		vmig_client_free(resp);
		return (VMIGCTL_EXIT_OK);
	}
	j = resp->get_job->job;
	printf("job %" PRIu64 ": %s %s, %s%s%s%s\n", j->id,
	    vmigctl_enum(&vmig__v1__job_direction__descriptor, j->direction,
	    "DIRECTION_", dir, sizeof(dir)), j->device,
	    phase_name(j->phase, p, sizeof(p)), j->verified ? ", verified" : "",
	    j->vm[0] != '\0' ? ", vm " : "", j->vm);
	if (j->peer[0] != '\0')
		printf("  peer %s\n", j->peer);
	if (j->error[0] != '\0')
		printf("  %s\n", j->error);
	if (j->policy != NULL)
		printf("  policy: %s, downtime %" PRIu32 " ms (ceiling %" PRIu32
		    "), timeout %" PRIu32 " s, %s switchover%s%s\n",
		    vmigctl_enum(&vmig__v1__convergence_policy__descriptor,
		    j->policy->convergence, "CONVERGE_", conv, sizeof(conv)),
		    j->policy->max_downtime_ms, j->policy->downtime_ceiling_ms,
		    j->policy->completion_timeout_s,
		    j->policy->switchover ? "manual" : "automatic",
		    j->policy->bulk_copy ? ", bulk copy" : "",
		    j->policy->verify ? ", verify" : "");
	if (j->stats != NULL)
		print_stats(j->stats);
	if (j->n_decisions > 0)
		printf("  decisions (latest last):\n");
	for (i = 0; i < j->n_decisions; i++) {
		const Vmig__V1__Decision *d = j->decisions[i];

		printf("    it %-3" PRIu32 " %7" PRIu64 " ms  %-18s %s\n",
		    d->iteration, d->at_ms, d->action, d->reason);
	}
	vmig_client_free(resp);
	return (VMIGCTL_EXIT_OK);
}

static int
list_jobs(struct vmigctl *ctl, int all, Vmig__V1__Response **resp)
{
	Vmig__V1__Request		req = VMIG__V1__REQUEST__INIT;
	Vmig__V1__ListJobsRequest	q = VMIG__V1__LIST_JOBS_REQUEST__INIT;

	q.include_finished = all;
	req.call_case = VMIG__V1__REQUEST__CALL_LIST_JOBS;
	req.list_jobs = &q;
	return (vmigctl_call(ctl, &req, resp));
}

static volatile sig_atomic_t jobs_stop;

static void
jobs_sigint(int sig)
{
	jobs_stop = 1;
}

static int
vmigctl_jobs(struct vmigctl *ctl, const struct vmigctl_cmd *cmd, int argc,
    char **argv)
{
	Vmig__V1__Response	*resp;
	struct vmigctl_table	*t;
	char			 line[256], p[32], dir[16];
	size_t			 i, live, lines = 0;
	int			 all = 0, watch = 0, rv, tty, k;

	for (k = 1; k < argc; k++) {
		if (strcmp(argv[k], "--all") == 0)
			all = 1;
		else if (strcmp(argv[k], "--watch") == 0)
			watch = 1;
		else
			return (vmigctl_usage(cmd, "unknown argument %s",
			    argv[k]));
	}
	if (!watch) {
		if ((rv = list_jobs(ctl, all, &resp)) != VMIGCTL_EXIT_OK)
			return (rv);
		if (vmigctl_json(ctl, resp)) {
			vmig_client_free(resp);
			return (VMIGCTL_EXIT_OK);
		}
		t = vmigctl_table_new(7, "JOB", "DIR", "DEVICE", "PHASE", "IT",
		    "SENT", "DOWNTIME");
		for (i = 0; i < resp->list_jobs->n_jobs; i++) {
			const Vmig__V1__Job	*j = resp->list_jobs->jobs[i];
			char			 id[24], it[24], sent[32], dt[32];

			snprintf(id, sizeof(id), "%" PRIu64, j->id);
			snprintf(it, sizeof(it), "%" PRIu64,
			    j->stats ? j->stats->memory_iteration : 0);
			vmigctl_bytes(j->stats ? j->stats->bytes_sent : 0, sent,
			    sizeof(sent));
			snprintf(dt, sizeof(dt), "%" PRIu64 " ms",
			    j->stats ? j->stats->downtime_ms : 0);
			vmigctl_table_row(t, id, vmigctl_enum(
			    &vmig__v1__job_direction__descriptor, j->direction,
			    "DIRECTION_", dir, sizeof(dir)), j->device,
			    phase_name(j->phase, p, sizeof(p)), it, sent, dt);
		}
		vmigctl_table_print(t, stdout);
		vmigctl_table_free(t);
		vmig_client_free(resp);
		return (VMIGCTL_EXIT_OK);
	}

	/* --watch: redraw one line per job until none is live */
	tty = isatty(STDOUT_FILENO);
	signal(SIGINT, jobs_sigint);
	while (!jobs_stop) {
		if ((rv = list_jobs(ctl, 1, &resp)) != VMIGCTL_EXIT_OK)
			return (rv);
		if (tty && lines > 0)
			printf("\033[%zuA", lines);
		lines = 0;
		live = 0;
		for (i = 0; i < resp->list_jobs->n_jobs; i++) {
			const Vmig__V1__Job *j = resp->list_jobs->jobs[i];

			if (!phase_terminal(j->phase))
				live++;
			/* --all: finished jobs too; else those of this run */
			if (!all && phase_terminal(j->phase) &&
			    j->stats != NULL && j->stats->time_elapsed_ms >
			    3600000)
				continue;
			progress_line(j, line, sizeof(line));
			printf("%s%s\n", tty ? "\033[K" : "", line);
			lines++;
		}
		if (!tty)
			printf("--\n");
		fflush(stdout);
		vmig_client_free(resp);
		if (live == 0)
			break;
		sleep_ms(tty ? POLL_MS : 1000);
	}
	return (VMIGCTL_EXIT_OK);
}

static int
vmigctl_wait(struct vmigctl *ctl, const struct vmigctl_cmd *cmd, int argc,
    char **argv)
{
	uint64_t	id;
	int		rv;

	if ((rv = parse_id(cmd, argc, argv, 2, &id)) != VMIGCTL_EXIT_OK)
		return (rv);
	return (wait_job(ctl, id));
}

static int
vmigctl_cancel(struct vmigctl *ctl, const struct vmigctl_cmd *cmd, int argc,
    char **argv)
{
	Vmig__V1__Request		 req = VMIG__V1__REQUEST__INIT;
	Vmig__V1__CancelJobRequest	 q = VMIG__V1__CANCEL_JOB_REQUEST__INIT;
	Vmig__V1__Response		*resp;
	char				 p[32];
	uint64_t			 id;
	int				 rv;

	if ((rv = parse_id(cmd, argc, argv, 3, &id)) != VMIGCTL_EXIT_OK)
		return (rv);
	q.job_id = id;
	q.reason = argc == 3 ? argv[2] : NULL;
	req.call_case = VMIG__V1__REQUEST__CALL_CANCEL_JOB;
	req.cancel_job = &q;
	if ((rv = vmigctl_call(ctl, &req, &resp)) != VMIGCTL_EXIT_OK)
		return (rv);
	if (!vmigctl_json(ctl, resp))
		printf("job %" PRIu64 ": cancelling (%s)\n", id,
		    phase_name(resp->cancel_job->phase, p, sizeof(p)));
	vmig_client_free(resp);
	return (VMIGCTL_EXIT_OK);
}

static int
vmigctl_switchover(struct vmigctl *ctl, const struct vmigctl_cmd *cmd,
    int argc, char **argv)
{
	Vmig__V1__Request		 req = VMIG__V1__REQUEST__INIT;
	Vmig__V1__SwitchoverRequest	 q = VMIG__V1__SWITCHOVER_REQUEST__INIT;
	Vmig__V1__Response		*resp;
	char				 p[32];
	uint64_t			 id;
	int				 rv;

	if ((rv = parse_id(cmd, argc, argv, 2, &id)) != VMIGCTL_EXIT_OK)
		return (rv);
	q.job_id = id;
	req.call_case = VMIG__V1__REQUEST__CALL_SWITCHOVER;
	req.switchover = &q;
	if ((rv = vmigctl_call(ctl, &req, &resp)) != VMIGCTL_EXIT_OK)
		return (rv);
	if (!vmigctl_json(ctl, resp))
		printf("job %" PRIu64 ": switching over (%s)\n", id,
		    phase_name(resp->switchover->phase, p, sizeof(p)));
	vmig_client_free(resp);
	return (VMIGCTL_EXIT_OK);
}

static int
vmigctl_policy(struct vmigctl *ctl, const struct vmigctl_cmd *cmd, int argc,
    char **argv)
{
	static const struct option	 opts[] = {
		POLICY_OPTS,
		{ NULL, 0, NULL, 0 }
	};
	Vmig__V1__Request		 req = VMIG__V1__REQUEST__INIT;
	Vmig__V1__SetJobPolicyRequest	 q =
	    VMIG__V1__SET_JOB_POLICY_REQUEST__INIT;
	Vmig__V1__MigrationPolicy	 pol =
	    VMIG__V1__MIGRATION_POLICY__INIT;
	Vmig__V1__Response		*resp;
	const Vmig__V1__MigrationPolicy	*p;
	char				 err[256];
	int				 c, rv;

	optind = 0;	/* reinitialise GNU getopt (vmigctl.c used "+") */
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		if ((rv = policy_opt(c, optarg, &pol, err, sizeof(err))) <= 0)
			return (vmigctl_usage(cmd, "%s", rv < 0 ? err :
			    "policy changes --downtime, --ceiling, --bandwidth "
			    "and --timeout"));
	}
	if (optind + 1 != argc || parse_u64(argv[optind], &q.job_id) != 0 ||
	    q.job_id == 0 || argc < 3)
		return (vmigctl_usage(cmd, "give a job ID and a change"));
	q.max_downtime_ms = pol.max_downtime_ms;
	q.downtime_ceiling_ms = pol.downtime_ceiling_ms;
	q.bandwidth_limit_bps = pol.bandwidth_limit_bps;
	q.completion_timeout_s = pol.completion_timeout_s;
	req.call_case = VMIG__V1__REQUEST__CALL_SET_JOB_POLICY;
	req.set_job_policy = &q;
	if ((rv = vmigctl_call(ctl, &req, &resp)) != VMIGCTL_EXIT_OK)
		return (rv);
	if (!vmigctl_json(ctl, resp)) {
		p = resp->set_job_policy->policy;
		printf("job %" PRIu64 ": downtime %" PRIu32 " ms (ceiling %"
		    PRIu32 " ms), bandwidth %" PRIu64 " B/s, timeout %" PRIu32
		    " s\n", q.job_id, p->max_downtime_ms,
		    p->downtime_ceiling_ms, p->bandwidth_limit_bps,
		    p->completion_timeout_s);
	}
	vmig_client_free(resp);
	return (VMIGCTL_EXIT_OK);
}

static int
vmigctl_release(struct vmigctl *ctl, const struct vmigctl_cmd *cmd, int argc,
    char **argv)
{
	Vmig__V1__Request		 req = VMIG__V1__REQUEST__INIT;
	Vmig__V1__ReleaseDeviceRequest	 q =
	    VMIG__V1__RELEASE_DEVICE_REQUEST__INIT;
	Vmig__V1__Response		*resp;
	int				 rv;

	if (argc == 3 && strcmp(argv[2], "--resume") == 0)
		q.resume = 1;
	else if (argc != 2)
		return (vmigctl_usage(cmd, "give one DEVICE [--resume]"));
	q.device = argv[1];
	req.call_case = VMIG__V1__REQUEST__CALL_RELEASE_DEVICE;
	req.release_device = &q;
	if ((rv = vmigctl_call(ctl, &req, &resp)) != VMIGCTL_EXIT_OK)
		return (rv);
	if (!vmigctl_json(ctl, resp))
		printf("%s %s\n", argv[1], q.resume ? "resumed" : "released");
	vmig_client_free(resp);
	return (VMIGCTL_EXIT_OK);
}
