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

#include <getopt.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "fmt.h"
#include "vmigctl.h"

#define POLL_MS		250
#define REGIONS_MAX	64
#define GROUP_MAX	64	/* devices of one VM; the daemon says its limit */

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

static const struct option prepare_opts[] = {
	{ "region", required_argument, NULL, 'r' },
	{ "verify", no_argument, NULL, 'V' },
	{ "vm", required_argument, NULL, 'm' },
	{ NULL, 0, NULL, 0 }
};

static const struct option migrate_opts[] = {
	{ "to", required_argument, NULL, 't' },
	{ "token", required_argument, NULL, 'k' },
	{ "region", required_argument, NULL, 'r' },
	{ "downtime", required_argument, NULL, 'd' },
	{ "ceiling", required_argument, NULL, 'c' },
	{ "bandwidth", required_argument, NULL, 'b' },
	{ "timeout", required_argument, NULL, 'T' },
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
	{ "compression", required_argument, NULL, 'z' },
	{ "vm", required_argument, NULL, 'm' },
	{ "wait", no_argument, NULL, 'w' },
	{ NULL, 0, NULL, 0 }
};

static const struct option jobs_opts[] = {
	{ "all", no_argument, NULL, 'a' },
	{ "watch", no_argument, NULL, 'w' },
	{ NULL, 0, NULL, 0 }
};

static const struct option policy_opts[] = {
	{ "downtime", required_argument, NULL, 'd' },
	{ "ceiling", required_argument, NULL, 'c' },
	{ "bandwidth", required_argument, NULL, 'b' },
	{ "timeout", required_argument, NULL, 'T' },
	{ NULL, 0, NULL, 0 }
};

static const struct option release_opts[] = {
	{ "resume", no_argument, NULL, 'R' },
	{ NULL, 0, NULL, 0 }
};

const struct vmigctl_cmd vmigctl_prepare_cmd = {
	"prepare", "DEVICE [DEVICE...] --region R [--region R...] [--verify]"
	" [--vm NAME]",
	"destination: reserve a VF (a VM's VFs: a group); prints job id, token"
	" and stream URL",
	prepare_opts, vmigctl_prepare
};

const struct vmigctl_cmd vmigctl_migrate_cmd = {
	"migrate", "DEVICE [DEVICE...] --to URL --token HEX --region R [...] [--downtime MS]"
	" [--ceiling MS] [--bandwidth B/s] [--timeout S] [--manual] [--bulk]"
	" [--verify] [--baseline [--baseline-ramp] [--ramp-delay MS_PER_GIB]]"
	" [--progress-timeout S] [--force-on-timeout] [--forced-downtime MS]"
	" [--max-iterations N] [--priority N] [--compression auto|off|lz4|zstd]"
	" [--vm NAME] [--wait]",
	"source: migrate a VF (a VM's VFs, in prepare's order) to a prepared"
	" destination",
	migrate_opts, vmigctl_migrate
};

const struct vmigctl_cmd vmigctl_job_cmd = {
	"job", "ID", "one job: phase, statistics, the policy's decisions", NULL,
	vmigctl_job
};

const struct vmigctl_cmd vmigctl_jobs_cmd = {
	"jobs", "[--all] [--watch]", "jobs (--watch: live until all end)",
	jobs_opts, vmigctl_jobs
};

const struct vmigctl_cmd vmigctl_wait_cmd = {
	"wait", "ID", "show a job's progress until it ends; exit 0 if completed",
	NULL, vmigctl_wait
};

const struct vmigctl_cmd vmigctl_cancel_cmd = {
	"cancel", "ID [REASON]", "roll a job back", NULL, vmigctl_cancel
};

const struct vmigctl_cmd vmigctl_switchover_cmd = {
	"switchover", "ID", "manual switchover now (the VM is paused)", NULL,
	vmigctl_switchover
};

const struct vmigctl_cmd vmigctl_policy_cmd = {
	"policy", "ID [--downtime MS] [--ceiling MS] [--bandwidth B/s] "
	"[--timeout S]", "change a running job's policy", policy_opts,
	vmigctl_policy
};

const struct vmigctl_cmd vmigctl_release_cmd = {
	"release", "DEVICE [--resume]", "free a source VF whose VM migrated "
	"away, set stopped (--resume: make a VF left stopped by a dead daemon "
	"active)",
	release_opts, vmigctl_release
};

/*
 * The numeric options and their ranges. The policy's bounds are the
 * daemon's (job_policy_check; 0 means "default" on the wire, so an
 * explicit 0 is refused here), the bandwidth's top the one of vmigd.conf's
 * [limits] bandwidth (1 PiB/s); the daemon checks them again.
 */
static const struct vmigctl_num num_downtime = {
	"--downtime", "milliseconds", 1, 2000000, 0
};
static const struct vmigctl_num num_ceiling = {
	"--ceiling", "milliseconds", 1, 2000000, 0
};
static const struct vmigctl_num num_bandwidth = {
	"--bandwidth", NULL, 65536, 1ull << 50, VMIGCTL_NUM_SIZE
};
static const struct vmigctl_num num_timeout = {
	"--timeout", "seconds", 1, 7 * 86400, 0
};
static const struct vmigctl_num num_forced = {
	"--forced-downtime", "milliseconds", 1, UINT32_MAX, 0
};
static const struct vmigctl_num num_iterations = {
	"--max-iterations", NULL, 1, UINT32_MAX, 0
};
static const struct vmigctl_num num_priority = {
	"--priority", NULL, 0, UINT32_MAX, 0
};
static const struct vmigctl_num num_ramp_delay = {
	"--ramp-delay", "milliseconds per GiB", 1, UINT32_MAX, 0
};
static const struct vmigctl_num num_progress = {
	"--progress-timeout", "seconds", 1, 7 * 86400, 0
};
static const struct vmigctl_num num_job_id = {
	"job ID", NULL, 1, UINT64_MAX, 0
};
/* region keys: sizes and addresses, 0x hex or K/M/G/T */
static const struct vmigctl_num num_iova = {
	"iova", NULL, 0, UINT64_MAX, VMIGCTL_NUM_SIZE | VMIGCTL_NUM_HEX
};
static const struct vmigctl_num num_size = {
	"size", NULL, 1, UINT64_MAX, VMIGCTL_NUM_SIZE | VMIGCTL_NUM_HEX
};
static const struct vmigctl_num num_offset = {
	"offset", NULL, 0, UINT64_MAX, VMIGCTL_NUM_SIZE | VMIGCTL_NUM_HEX
};
static const struct vmigctl_num num_page = {
	"page", NULL, 1, UINT32_MAX, VMIGCTL_NUM_SIZE | VMIGCTL_NUM_HEX
};

/* ------------------------------------------------------------ parsing */

/* PATH,iova=A,size=N[,offset=O][,page=P] */
static int
parse_region(const char *arg, Vmig__V1__MemoryRegion *r, char *err,
    size_t len)
{
	static const struct {
		const char		*key;
		const struct vmigctl_num *num;
	} keys[] = {
		{ "iova", &num_iova }, { "size", &num_size },
		{ "length", &num_size }, { "offset", &num_offset },
		{ "page", &num_page },
	};
	char		*copy, *tok, *save = NULL, *eq, why[192];
	uint64_t	 v;
	size_t		 k;
	int		 first = 1, rv = 0, have_size = 0;

	vmig__v1__memory_region__init(r);
	copy = strdup(arg);
	if (copy == NULL)
		return (-1);
	for (tok = strtok_r(copy, ",", &save); tok != NULL;
	    tok = strtok_r(NULL, ",", &save)) {
		if (first) {
			r->path = strdup(tok);
			first = 0;
			continue;
		}
		if ((eq = strchr(tok, '=')) == NULL) {
			snprintf(err, len, "region \"%s\": \"%s\" is not "
			    "key=number", arg, tok);
			rv = -1;
			break;
		}
		*eq = '\0';
		for (k = 0; k < sizeof(keys) / sizeof(keys[0]); k++) {
			if (strcmp(tok, keys[k].key) == 0)
				break;
		}
		if (k == sizeof(keys) / sizeof(keys[0])) {
			snprintf(err, len, "region \"%s\": unknown key \"%s\" "
			    "(iova, size, offset, page)", arg, tok);
			rv = -1;
			break;
		}
		if (vmigctl_number(keys[k].num, eq + 1, &v, why,
		    sizeof(why)) != 0) {
			snprintf(err, len, "region \"%s\": %s", arg, why);
			rv = -1;
			break;
		}
		if (keys[k].num == &num_iova)
			r->iova = v;
		else if (keys[k].num == &num_size) {
			r->length = v;
			have_size = 1;
		} else if (keys[k].num == &num_offset)
			r->file_offset = v;
		else
			r->page_size = (uint32_t)v;
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
	fmt_bytes(rem, sizeof(rem), (double)s->memory_remaining);
	fmt_rate(rate, sizeof(rate), (double)s->device_dirty_rate_bps);
	fmt_bytes(sent, sizeof(sent), (double)s->bytes_sent);
	if (phase_terminal(j->phase) && s->downtime_ms != 0)
		snprintf(dt, sizeof(dt), "downtime %" PRIu64 " ms",
		    s->downtime_ms);
	else
		snprintf(dt, sizeof(dt), "expect %" PRIu64 " ms",
		    s->expected_downtime_ms);
	snprintf(buf, len, "job %-3" PRIu64 " %-12s %-16s it %-3" PRIu64
	    " remaining %-10s dirty %11s  %-18s sent %s", j->id, j->device,
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

/*
 * Poll until the job ends; exit 0 only if it completed. Progress is a
 * line per change (a terminal redraws one line in place). With --json
 * progress goes to stderr and stdout gets the job, one JSON line per
 * change, the last one its final state.
 */
static int
wait_job(struct vmigctl *ctl, uint64_t id)
{
	Vmig__V1__Response	*resp;
	const Vmig__V1__Job	*j;
	FILE			*out = ctl->json ? stderr : stdout;
	char			 line[256];
	uint64_t		 it, last_it = UINT64_MAX;
	int			 tty = isatty(fileno(out)), rv, last = -1;
	int			 changed;

	ctl->stream = 1;
	for (;;) {
		if ((rv = get_job(ctl, id, &resp)) != VMIGCTL_EXIT_OK)
			return (rv);
		j = resp->get_job->job;
		it = j->stats != NULL ? j->stats->memory_iteration : 0;
		changed = (int)j->phase != last || it != last_it;
		progress_line(j, line, sizeof(line));
		if (tty)
			fprintf(out, "\r\033[K%s", line);
		else if (changed)
			fprintf(out, "%s\n", line);
		if (changed)
			vmigctl_json(ctl, resp);
		fflush(out);
		last = j->phase;
		last_it = it;
		if (phase_terminal(last)) {
			if (tty)
				fprintf(out, "\n");
			if (j->error != NULL && j->error[0] != '\0')
				fprintf(out, "job %" PRIu64 ": %s\n", j->id,
				    j->error);
			rv = last == VMIG__V1__JOB_PHASE__PHASE_COMPLETED ?
			    VMIGCTL_EXIT_OK : VMIGCTL_EXIT_ERROR;
			vmig_client_free(resp);
			return (rv);
		}
		vmig_client_free(resp);
		sleep_ms(POLL_MS);
	}
}

/* --compression: the source's codec for this migration (0, or -1). */
static int
policy_compression(const char *arg, Vmig__V1__MigrationPolicy *pol,
    char *err, size_t len)
{
	static const struct {
		const char		*name;
		Vmig__V1__Compression	 v;
	} modes[] = {
		{ "auto", VMIG__V1__COMPRESSION__COMPRESSION_AUTO },
		{ "off", VMIG__V1__COMPRESSION__COMPRESSION_OFF },
		{ "lz4", VMIG__V1__COMPRESSION__COMPRESSION_LZ4 },
		{ "zstd", VMIG__V1__COMPRESSION__COMPRESSION_ZSTD },
	};
	size_t	i;

	for (i = 0; i < sizeof(modes) / sizeof(modes[0]); i++) {
		if (strcmp(arg, modes[i].name) == 0) {
			pol->compression = modes[i].v;
			return (0);
		}
	}
	snprintf(err, len, "--compression %s: not auto, off, lz4 or zstd", arg);
	return (-1);
}

/*
 * The policy options, one parser for migrate (all of them) and policy
 * (what SetJobPolicy changes): 1 handled, 0 not a policy option, -1 a bad
 * value (err says which).
 */
static int
policy_opt(int c, const char *arg, Vmig__V1__MigrationPolicy *pol, char *err,
    size_t len)
{
	int	bad = 0;

	switch (c) {
	case 'd':
		bad = vmigctl_number32(&num_downtime, arg,
		    &pol->max_downtime_ms, err, len);
		break;
	case 'c':
		bad = vmigctl_number32(&num_ceiling, arg,
		    &pol->downtime_ceiling_ms, err, len);
		break;
	case 'b':
		bad = vmigctl_number(&num_bandwidth, arg,
		    &pol->bandwidth_limit_bps, err, len);
		break;
	case 'T':
		bad = vmigctl_number32(&num_timeout, arg,
		    &pol->completion_timeout_s, err, len);
		break;
	case 'f':
		bad = vmigctl_number32(&num_forced, arg,
		    &pol->forced_downtime_ms, err, len);
		break;
	case 'i':
		bad = vmigctl_number32(&num_iterations, arg,
		    &pol->max_iterations, err, len);
		break;
	case 'p':
		bad = vmigctl_number32(&num_priority, arg,
		    &pol->priority, err, len);
		break;
	case 'M':
		pol->switchover =
		    VMIG__V1__SWITCHOVER_MODE__SWITCHOVER_MANUAL;
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
		bad = vmigctl_number32(&num_ramp_delay, arg,
		    &pol->ramp_delay_ms_per_gib, err, len);
		break;
	case 'P':
		bad = vmigctl_number32(&num_progress, arg,
		    &pol->progress_timeout_s, err, len);
		break;
	case 'F':
		pol->timeout_action =
		    VMIG__V1__TIMEOUT_ACTION__TIMEOUT_FORCE_SWITCHOVER;
		break;
	case 'z':
		bad = policy_compression(arg, pol, err, len);
		break;
	default:
		return (0);
	}
	return (bad ? -1 : 1);
}

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

/* ------------------------------------------------------------ commands */

static int
vmigctl_prepare(struct vmigctl *ctl, const struct vmigctl_cmd *cmd, int argc,
    char **argv)
{
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

	while ((c = vmigctl_getopt(cmd, argc, argv)) != -1) {
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
			return (VMIGCTL_EXIT_USAGE);
		}
	}
	if ((rv = vmigctl_nargs(cmd, argc, argv, 1, GROUP_MAX, "a DEVICE")) !=
	    VMIGCTL_EXIT_OK) {
		free_regions(regions, n);
		return (rv);
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

static int
vmigctl_migrate(struct vmigctl *ctl, const struct vmigctl_cmd *cmd, int argc,
    char **argv)
{
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

	while (!bad && (c = vmigctl_getopt(cmd, argc, argv)) != -1) {
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
			    sizeof(err))) == 0) {
				free_regions(regions, n);
				return (VMIGCTL_EXIT_USAGE);	/* reported */
			}
			bad = rv < 0;
			break;
		}
	}
	if (!bad && (rv = vmigctl_nargs(cmd, argc, argv, 1, GROUP_MAX,
	    "a DEVICE")) != VMIGCTL_EXIT_OK) {
		free_regions(regions, n);
		return (rv);
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
	ctl->stream = wait;	/* then the answer is the stream's first line */
	rv = vmigctl_call(ctl, &req, &resp);
	free_regions(regions, n);
	if (rv != VMIGCTL_EXIT_OK)
		return (rv);
	id = resp->start_migration->job_id;
	if (!vmigctl_json(ctl, resp) && !wait) {
		printf("job %" PRIu64 "\n", id);
		print_group(resp->start_migration->job_ids,
		    resp->start_migration->n_job_ids);
	}
	vmig_client_free(resp);
	return (wait ? wait_job(ctl, id) : VMIGCTL_EXIT_OK);
}

/*
 * The commands that name a job: no options, the ID first, then up to
 * max - 1 more arguments (cancel's REASON).
 */
static int
parse_id(const struct vmigctl_cmd *cmd, int argc, char **argv, int max,
    uint64_t *id)
{
	char	err[256];
	int	rv;

	if (vmigctl_getopt(cmd, argc, argv) != -1)
		return (VMIGCTL_EXIT_USAGE);
	if ((rv = vmigctl_nargs(cmd, argc, argv, 1, max, "a job ID")) !=
	    VMIGCTL_EXIT_OK)
		return (rv);
	if (vmigctl_number(&num_job_id, argv[optind], id, err,
	    sizeof(err)) != 0)
		return (vmigctl_usage(cmd, "%s", err));
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
	    "\n", fmt_bytes(a, sizeof(a), (double)s->memory_total),
	    fmt_bytes(b, sizeof(b), (double)s->memory_processed),
	    fmt_bytes(c, sizeof(c), (double)s->memory_remaining),
	    s->memory_iteration);
	printf("  pages: %" PRIu64 " with data, %" PRIu64 " zero; dirty %"
	    PRIu64 " pages/s; rate %s\n", s->memory_normal,
	    s->memory_constant, s->memory_dirty_rate,
	    fmt_rate(a, sizeof(a), (double)s->memory_bps));
	printf("  device: state %s (pending %s), writes %s, %" PRIu64
	    " write records, %" PRIu64 " hot pages deferred\n",
	    fmt_bytes(a, sizeof(a), (double)s->device_state_bytes),
	    fmt_bytes(b, sizeof(b), (double)s->device_state_pending),
	    fmt_rate(c, sizeof(c), (double)s->device_dirty_rate_bps),
	    s->device_write_records, s->hot_pages_deferred);
	printf("  downtime: target %" PRIu64 " ms, expected %" PRIu64
	    " ms, predicted at switchover %" PRIu64 " ms, measured %" PRIu64
	    " ms (destination load %" PRIu64 " ms)\n", s->downtime_target_ms,
	    s->expected_downtime_ms, s->predicted_downtime_ms, s->downtime_ms,
	    s->device_load_time_ms);
	printf("  stream: %s sent, share %s\n",
	    fmt_bytes(a, sizeof(a), (double)s->bytes_sent),
	    s->bandwidth_share_bps ? fmt_rate(b, sizeof(b),
	    (double)s->bandwidth_share_bps) : "unlimited");
	if (s->compress_bytes_in != 0)
		printf("  compressed: %s of pages into %s (%.2fx)\n",
		    fmt_bytes(a, sizeof(a), (double)s->compress_bytes_in),
		    fmt_bytes(b, sizeof(b), (double)s->compress_bytes_out),
		    s->compress_bytes_out != 0 ? (double)s->compress_bytes_in /
		    (double)s->compress_bytes_out : 0.0);
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

	if ((rv = parse_id(cmd, argc, argv, 1, &id)) != VMIGCTL_EXIT_OK)
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
	int			 all = 0, watch = 0, rv, tty, c;

	while ((c = vmigctl_getopt(cmd, argc, argv)) != -1) {
		switch (c) {
		case 'a':
			all = 1;
			break;
		case 'w':
			watch = 1;
			break;
		default:
			return (VMIGCTL_EXIT_USAGE);
		}
	}
	if ((rv = vmigctl_nargs(cmd, argc, argv, 0, 0, "")) != VMIGCTL_EXIT_OK)
		return (rv);
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
			fmt_bytes(sent, sizeof(sent), j->stats != NULL ?
			    (double)j->stats->bytes_sent : 0);
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

	/*
	 * --watch: redraw one line per job until none is live; with --json
	 * each poll's answer is one line.
	 */
	tty = !ctl->json && isatty(STDOUT_FILENO);
	ctl->stream = 1;
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
			if (ctl->json || (!all && phase_terminal(j->phase) &&
			    j->stats != NULL && j->stats->time_elapsed_ms >
			    3600000))
				continue;
			progress_line(j, line, sizeof(line));
			printf("%s%s\n", tty ? "\033[K" : "", line);
			lines++;
		}
		if (!vmigctl_json(ctl, resp) && !tty)
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

	if ((rv = parse_id(cmd, argc, argv, 1, &id)) != VMIGCTL_EXIT_OK)
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

	if ((rv = parse_id(cmd, argc, argv, 2, &id)) != VMIGCTL_EXIT_OK)
		return (rv);
	q.job_id = id;
	q.reason = optind + 1 < argc ? argv[optind + 1] : NULL;
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

	if ((rv = parse_id(cmd, argc, argv, 1, &id)) != VMIGCTL_EXIT_OK)
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
	Vmig__V1__Request		 req = VMIG__V1__REQUEST__INIT;
	Vmig__V1__SetJobPolicyRequest	 q =
	    VMIG__V1__SET_JOB_POLICY_REQUEST__INIT;
	Vmig__V1__Response		*resp;
	const Vmig__V1__MigrationPolicy	*p;
	Vmig__V1__MigrationPolicy	 pol =
	    VMIG__V1__MIGRATION_POLICY__INIT;
	char				 err[256];
	int				 c, rv, bad = 0, changes = 0;

	/* policy_opts has only what SetJobPolicy changes */
	while (!bad && (c = vmigctl_getopt(cmd, argc, argv)) != -1) {
		if ((rv = policy_opt(c, optarg, &pol, err, sizeof(err))) == 0)
			return (VMIGCTL_EXIT_USAGE);	/* reported */
		bad = rv < 0;
		changes++;
	}
	q.max_downtime_ms = pol.max_downtime_ms;
	q.downtime_ceiling_ms = pol.downtime_ceiling_ms;
	q.bandwidth_limit_bps = pol.bandwidth_limit_bps;
	q.completion_timeout_s = pol.completion_timeout_s;
	if (bad)
		return (vmigctl_usage(cmd, "%s", err));
	if ((rv = vmigctl_nargs(cmd, argc, argv, 1, 1, "a job ID")) !=
	    VMIGCTL_EXIT_OK)
		return (rv);
	if (vmigctl_number(&num_job_id, argv[optind], &q.job_id, err,
	    sizeof(err)) != 0)
		return (vmigctl_usage(cmd, "%s", err));
	if (changes == 0)
		return (vmigctl_usage(cmd, "give at least one change"));
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
	int				 c, rv;

	while ((c = vmigctl_getopt(cmd, argc, argv)) != -1) {
		if (c != 'R')
			return (VMIGCTL_EXIT_USAGE);
		q.resume = 1;
	}
	if ((rv = vmigctl_nargs(cmd, argc, argv, 1, 1, "one DEVICE")) !=
	    VMIGCTL_EXIT_OK)
		return (rv);
	q.device = argv[optind];
	req.call_case = VMIG__V1__REQUEST__CALL_RELEASE_DEVICE;
	req.release_device = &q;
	if ((rv = vmigctl_call(ctl, &req, &resp)) != VMIGCTL_EXIT_OK)
		return (rv);
	if (!vmigctl_json(ctl, resp))
		printf("%s %s\n", q.device, q.resume ? "resumed" : "released");
	vmig_client_free(resp);
	return (VMIGCTL_EXIT_OK);
}
