/*
 * journal_cost: what one journal record costs the loop, beside plain file
 * operations on the same bytes in the same run: an append (open, write,
 * close: the journal's floor) and a write of a new file renamed over the
 * last one (the obvious alternative, which the journal does not use:
 * journal.h says why). All without and with fsync (JOURNAL_SYNC:
 * fdatasync the file, fsync the directory for a new file).
 *
 *	journal_cost [--dir DIR] [--jobs N] [--records R] [--rounds K] [--json]
 *
 * N jobs (64, the scale benchmark's top level) each get R records,
 * interleaved the way concurrent jobs write them, then are forgotten;
 * the journal and the plain writes alternate K rounds and the medians
 * are reported, per record (p50, p99) and for a whole wave of N jobs at
 * R records each. DIR defaults to a fresh directory under /var/tmp (the
 * disk the state directory would be on, not tmpfs).
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "journal.h"
#include "log.h"
#include "util.h"

#define NMODES	6

static int
cmp_u64(const void *a, const void *b)
{
	uint64_t	x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return (x < y ? -1 : x > y);
}

struct result {
	double	p50_us, p99_us, mean_us;
};

static void
summarise(uint64_t *ns, size_t n, struct result *r)
{
	uint64_t	sum = 0;
	size_t		i;

	for (i = 0; i < n; i++)
		sum += ns[i];
	qsort(ns, n, sizeof(*ns), cmp_u64);
	r->p50_us = ns[n / 2] / 1e3;
	r->p99_us = ns[MIN(n - 1, n * 99 / 100)] / 1e3;
	r->mean_us = (double)sum / n / 1e3;
}

/* One journal round: jobs x records, interleaved, then forget. */
static void
round_journal(const char *dir, int flags, unsigned int jobs,
    unsigned int records, uint64_t *ns)
{
	struct journal_entry	 e;
	struct journal		*j;
	char			 err[512];
	unsigned int		 r, k;
	uint64_t		 t0;

	if ((j = journal_open(dir, flags, err, sizeof(err))) == NULL) {
		fprintf(stderr, "journal_cost: %s\n", err);
		exit(1);
	}
	for (r = 0; r < records; r++) {
		for (k = 0; k < jobs; k++) {
			memset(&e, 0, sizeof(e));
			e.id = k + 1;
			e.side = JOURNAL_SOURCE;
			snprintf(e.device, sizeof(e.device), "sim%u/vf%u",
			    k / 8, k % 8);
			strlcpy_v(e.phase, "precopy", sizeof(e.phase));
			strlcpy_v(e.peer, "tcp://10.0.0.2:41235",
			    sizeof(e.peer));
			e.flags = JE_CLAIMED | JE_RECORDING;
			t0 = now_ns();
			if (journal_record(j, &e, err, sizeof(err)) != 0) {
				fprintf(stderr, "journal_cost: %s\n", err);
				exit(1);
			}
			ns[r * jobs + k] = now_ns() - t0;
		}
	}
	for (k = 0; k < jobs; k++)
		(void)journal_forget(j, k + 1, NULL, 0);
	journal_close(j);
}

/*
 * The same bytes, nothing else: appended (open/write/close), or written
 * to a new file renamed over the last (open/write/close/rename).
 */
static void
round_plain(const char *dir, int rename_, int sync, unsigned int jobs,
    unsigned int records, size_t bytes, uint64_t *ns)
{
	char		 tmp[512], name[512];
	uint8_t		 buf[2048];
	unsigned int	 r, k;
	uint64_t	 t0;
	int		 fd, dfd;

	memset(buf, 0x5a, sizeof(buf));
	dfd = open(dir, O_RDONLY | O_DIRECTORY);
	for (r = 0; r < records; r++) {
		for (k = 0; k < jobs; k++) {
			snprintf(tmp, sizeof(tmp), "%s/plain-%u.tmp", dir, k);
			snprintf(name, sizeof(name), "%s/plain-%u", dir, k);
			t0 = now_ns();
			fd = rename_ ? open(tmp, O_WRONLY | O_CREAT | O_TRUNC,
			    0600) : open(name, O_WRONLY | O_CREAT | O_APPEND,
			    0600);
			if (fd < 0 || write(fd, buf, bytes) != (ssize_t)bytes ||
			    (sync && fdatasync(fd) != 0) || close(fd) != 0 ||
			    (rename_ && rename(tmp, name) != 0) ||
			    (sync && rename_ && fsync(dfd) != 0)) {
				perror("journal_cost: plain write");
				exit(1);
			}
			ns[r * jobs + k] = now_ns() - t0;
		}
	}
	for (k = 0; k < jobs; k++) {
		snprintf(name, sizeof(name), "%s/plain-%u", dir, k);
		(void)unlink(name);
	}
	close(dfd);
}

/* The size of the record the journal rounds write. */
static size_t
record_bytes(void)
{
	struct journal_entry	e;
	uint8_t			p[1024];

	memset(&e, 0, sizeof(e));
	e.id = 1;
	e.side = JOURNAL_SOURCE;
	strlcpy_v(e.device, "sim0/vf0", sizeof(e.device));
	strlcpy_v(e.phase, "precopy", sizeof(e.phase));
	strlcpy_v(e.peer, "tcp://10.0.0.2:41235", sizeof(e.peer));
	return (JREC_HDR + journal_encode(&e, p, sizeof(p)) + JREC_TRAILER);
}

static int
cmp_dbl(const void *a, const void *b)
{
	double	x = *(const double *)a, y = *(const double *)b;

	return (x < y ? -1 : x > y);
}

static double
median(double *v, size_t n)
{
	qsort(v, n, sizeof(*v), cmp_dbl);
	return (v[n / 2]);
}

int
main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "dir", required_argument, NULL, 'd' },
		{ "jobs", required_argument, NULL, 'j' },
		{ "records", required_argument, NULL, 'r' },
		{ "rounds", required_argument, NULL, 'k' },
		{ "json", no_argument, NULL, 'J' },
		{ NULL, 0, NULL, 0 },
	};
	struct result	 res;
	static const char *const names[NMODES] = { "journal", "plain append",
	    "plain write+rename", "journal, JOURNAL_SYNC",
	    "append+fdatasync", "write+fdatasync+rename" };
	static const char *const keys[NMODES] = { "journal", "append",
	    "rename", "journal_sync", "append_sync", "rename_sync" };
	char		 dir[512] = "", cmd[600];
	unsigned int	 jobs = 64, records = 20, rounds = 5, k, m;
	double		 p50[NMODES][16], p99[NMODES][16], mean[NMODES][16];
	double		 med[NMODES][3];
	uint64_t	*ns;
	size_t		 n, bytes;
	int		 ch, json = 0, made = 0;

	log_init(LOG_LEVEL_ERROR, "journal_cost");
	while ((ch = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (ch) {
		case 'd':
			strlcpy_v(dir, optarg, sizeof(dir));
			break;
		case 'j':
			jobs = (unsigned int)strtoul(optarg, NULL, 10);
			break;
		case 'r':
			records = (unsigned int)strtoul(optarg, NULL, 10);
			break;
		case 'k':
			rounds = (unsigned int)strtoul(optarg, NULL, 10);
			break;
		case 'J':
			json = 1;
			break;
		default:
			fprintf(stderr, "usage: journal_cost [--dir DIR] "
			    "[--jobs N] [--records R] [--rounds K] [--json]\n");
			return (2);
		}
	}
	if (jobs == 0 || records == 0 || rounds == 0 || rounds > 16) {
		fprintf(stderr, "journal_cost: jobs, records >= 1, rounds "
		    "1..16\n");
		return (2);
	}
	if (dir[0] == '\0') {
		strlcpy_v(dir, "/var/tmp/vmig-jcost-XXXXXX", sizeof(dir));
		if (mkdtemp(dir) == NULL) {
			perror("journal_cost: mkdtemp");
			return (1);
		}
		made = 1;
	}
	n = (size_t)jobs * records;
	ns = xcalloc(n, sizeof(*ns));
	bytes = record_bytes();
	/* alternate, so that a noisy neighbour hits every mode alike */
	for (k = 0; k < rounds; k++) {
		for (m = 0; m < NMODES; m++) {
			if (m % 3 == 0)
				round_journal(dir, m >= 3 ? JOURNAL_SYNC : 0,
				    jobs, records, ns);
			else
				round_plain(dir, m % 3 == 2, m >= 3, jobs,
				    records, bytes, ns);
			summarise(ns, n, &res);
			p50[m][k] = res.p50_us;
			p99[m][k] = res.p99_us;
			mean[m][k] = res.mean_us;
		}
	}
	for (m = 0; m < NMODES; m++) {
		med[m][0] = median(p50[m], rounds);
		med[m][1] = median(p99[m], rounds);
		med[m][2] = median(mean[m], rounds);
	}
	if (json) {
		printf("{\"benchmark\":\"journal_cost\",\"dir\":\"%s\","
		    "\"jobs\":%u,\"records\":%u,\"rounds\":%u,"
		    "\"record_bytes\":%zu", dir, jobs, records, rounds, bytes);
		for (m = 0; m < NMODES; m++)
			printf(",\"%s\":{\"p50_us\":%.1f,\"p99_us\":%.1f,"
			    "\"mean_us\":%.1f}", keys[m], med[m][0],
			    med[m][1], med[m][2]);
		printf(",\"ratio_append\":%.2f,\"ratio_rename\":%.2f,"
		    "\"ratio_sync_append\":%.2f,\"ratio_sync_rename\":%.2f}"
		    "\n", med[0][2] / med[1][2], med[0][2] / med[2][2],
		    med[3][2] / med[4][2], med[3][2] / med[5][2]);
	} else {
		printf("journal_cost: %u jobs x %u records of %zu bytes, %u "
		    "rounds (medians), in %s\n\n", jobs, records, bytes,
		    rounds, dir);
		printf("%-24s %9s %9s %9s %14s\n", "", "p50 us", "p99 us",
		    "mean us", "per wave ms");
		for (m = 0; m < NMODES; m++)
			printf("%-24s %9.1f %9.1f %9.1f %14.1f\n", names[m],
			    med[m][0], med[m][1], med[m][2],
			    med[m][2] * jobs * 10 / 1e3);
		printf("\nmean, journal / append %.2fx, / write+rename %.2fx; "
		    "with sync %.2fx, %.2fx (a wave: %u jobs at 10 records "
		    "each)\n", med[0][2] / med[1][2], med[0][2] / med[2][2],
		    med[3][2] / med[4][2], med[3][2] / med[5][2], jobs);
	}
	free(ns);
	if (made) {
		snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
		(void)system(cmd);
	}
	return (0);
}
