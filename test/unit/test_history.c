/*
 * test_history.c: finished jobs that survive a restart: the last `keep`
 * after reopening, compaction bounds the log, a torn last append at every
 * length loses only that record, a corrupted record in the middle is
 * skipped and the records after it are found again, and nothing bad is
 * ever handed out.
 */
#include "config.h"

#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <criterion/criterion.h>

#include "history.h"
#include "journal.h"
#include "log.h"
#include "util.h"
#include "leakcheck.h"

static char	tmpdir[64];
static char	logpath[128];

static void
setup(void)
{
	log_init(LOG_LEVEL_ERROR, "test_history");
	strlcpy_v(tmpdir, "/tmp/vmig-history-XXXXXX", sizeof(tmpdir));
	cr_assert_not_null(mkdtemp(tmpdir));
	snprintf(logpath, sizeof(logpath), "%s/history.log", tmpdir);
}

static void
teardown(void)
{
	char	cmd[128];

	snprintf(cmd, sizeof(cmd), "rm -rf %s", tmpdir);
	(void)system(cmd);
}

TestSuite(history, .init = setup, .fini = teardown);

static void
add(struct history *h, uint64_t id)
{
	Vmig__V1__Job	job = VMIG__V1__JOB__INIT;
	char		err[512], dev[32], why[64];

	job.id = id;
	job.direction = VMIG__V1__JOB_DIRECTION__DIRECTION_OUTGOING;
	snprintf(dev, sizeof(dev), "sim0/vf%" PRIu64, id % 4);
	snprintf(why, sizeof(why), "reason %" PRIu64, id);
	job.device = dev;
	job.error = why;
	job.phase = id % 2 ? VMIG__V1__JOB_PHASE__PHASE_FAILED :
	    VMIG__V1__JOB_PHASE__PHASE_COMPLETED;
	cr_assert_eq(history_add(h, &job, 1700000000000ull + id, err,
	    sizeof(err)), 0, "%s", err);
}

struct seen {
	uint64_t	ids[64];
	unsigned int	n;
};

static int
collect(const Vmig__V1__Job *job, uint64_t ended, void *arg)
{
	struct seen	*s = arg;
	char		 why[64];

	cr_assert_lt(s->n, 64);
	cr_assert_eq(ended, 1700000000000ull + job->id);
	snprintf(why, sizeof(why), "reason %" PRIu64, job->id);
	cr_assert_str_eq(job->error, why);
	s->ids[s->n++] = job->id;
	return (0);
}

static struct history *
reopen(unsigned int keep, struct seen *s, struct history_load_stats *st)
{
	struct history	*h;
	char		 err[512];

	h = history_open(tmpdir, keep, st, err, sizeof(err));
	cr_assert_not_null(h, "%s", err);
	memset(s, 0, sizeof(*s));
	history_foreach(h, collect, s);
	return (h);
}

static size_t
file_size(void)
{
	struct stat	sb;

	cr_assert_eq(stat(logpath, &sb), 0);
	return ((size_t)sb.st_size);
}

static size_t
slurp(uint8_t *buf, size_t cap)
{
	ssize_t	n;
	int	fd = open(logpath, O_RDONLY);

	cr_assert_geq(fd, 0);
	n = read(fd, buf, cap);
	close(fd);
	cr_assert_geq(n, 0);
	return ((size_t)n);
}

static void
spit(const uint8_t *buf, size_t n)
{
	int	fd = open(logpath, O_WRONLY | O_CREAT | O_TRUNC, 0600);

	cr_assert_geq(fd, 0);
	cr_assert_eq(write(fd, buf, n), (ssize_t)n);
	close(fd);
}

Test(history, last_n_survive_reopen)
{
	struct history_load_stats st;
	struct history	*h;
	struct seen	 s;
	unsigned int	 i;

	h = reopen(5, &s, &st);
	cr_assert_eq(s.n, 0);
	for (i = 1; i <= 8; i++)
		add(h, i);
	cr_assert_eq(history_count(h), 5);
	history_close(h);

	h = reopen(5, &s, &st);
	cr_assert_eq(s.n, 5);
	for (i = 0; i < 5; i++)
		cr_assert_eq(s.ids[i], 4 + i);
	cr_assert_eq(st.bad, 0);
	history_close(h);
	LEAK_CHECK();
}

Test(history, compaction_bounds_the_log)
{
	struct history_load_stats st;
	struct history	*h;
	struct seen	 s;
	size_t		 one, max = 0;
	unsigned int	 i;

	h = reopen(4, &s, &st);
	add(h, 1);
	one = file_size();
	for (i = 2; i <= 40; i++) {
		add(h, i);
		max = MAX(max, file_size());
	}
	/* never more than twice `keep` records (ids grow by a byte at most) */
	cr_assert_leq(max, 8 * (one + 2), "log grew to %zu bytes", max);
	history_close(h);
	h = reopen(4, &s, &st);
	cr_assert_eq(s.n, 4);
	cr_assert_eq(s.ids[3], 40);
	/* fewer kept from now on: compacted at once */
	history_set_keep(h, 2);
	cr_assert_eq(history_count(h), 2);
	cr_assert_leq(file_size(), 2 * (one + 2));
	history_close(h);
	h = reopen(2, &s, &st);
	cr_assert_eq(s.n, 2);
	cr_assert_eq(s.ids[0], 39);
	cr_assert_eq(s.ids[1], 40);
	history_close(h);
	LEAK_CHECK();
}

/* A crash in the middle of an append, at every length it could reach. */
Test(history, torn_last_append_at_every_length)
{
	struct history_load_stats st;
	struct history	*h;
	struct seen	 s;
	uint8_t		 full[8192];
	size_t		 before, n, cut;

	h = reopen(10, &s, &st);
	add(h, 1);
	add(h, 2);
	before = file_size();
	add(h, 3);
	history_close(h);
	n = slurp(full, sizeof(full));
	cr_assert_gt(n, before);
	for (cut = before; cut < n; cut++) {
		spit(full, cut);
		h = reopen(10, &s, &st);
		cr_assert_eq(s.n, 2, "cut %zu: %u records", cut, s.n);
		cr_assert_eq(s.ids[1], 2);
		cr_assert_eq(st.bad, cut > before ? 1 : 0);
		cr_assert_eq(st.rewritten, cut > before);
		/* the log was rewritten without the torn bytes */
		cr_assert_eq(file_size(), before);
		/* and appends go on from a clean end */
		add(h, 3);
		history_close(h);
		h = reopen(10, &s, &st);
		cr_assert_eq(s.n, 3);
		cr_assert_eq(st.bad, 0);
		history_close(h);
	}
	LEAK_CHECK();
}

/* Any one byte of a record in the middle flipped: that record is lost,
 * the ones around it are kept. */
Test(history, corrupt_record_skipped_and_resynchronised)
{
	struct history_load_stats st;
	struct history	*h;
	struct seen	 s;
	uint8_t		 full[8192], bad[8192];
	size_t		 a, b, n, i;

	h = reopen(10, &s, &st);
	add(h, 1);
	a = file_size();
	add(h, 2);
	b = file_size();
	add(h, 3);
	history_close(h);
	n = slurp(full, sizeof(full));
	for (i = a; i < b; i++) {
		memcpy(bad, full, n);
		bad[i] ^= 0x10;
		spit(bad, n);
		h = reopen(10, &s, &st);
		cr_assert_eq(s.n, 2, "byte %zu: %u records", i, s.n);
		cr_assert_eq(s.ids[0], 1);
		cr_assert_eq(s.ids[1], 3);
		cr_assert_eq(st.bad, 1);
		history_close(h);
	}
	/* garbage only */
	memset(bad, 0x5a, 1000);
	spit(bad, 1000);
	h = reopen(10, &s, &st);
	cr_assert_eq(s.n, 0);
	cr_assert_eq(st.bad, 1);
	cr_assert_eq(st.bad_bytes, 1000);
	history_close(h);
	LEAK_CHECK();
}

Test(history, decode_checks)
{
	Vmig__V1__Job	 job = VMIG__V1__JOB__INIT, *out;
	uint8_t		 p[256], rec[512];
	uint64_t	 ended;
	size_t		 n, pl, reclen;
	char		 err[256];

	job.id = 7;
	put_le64(p, 8);		/* the header says 8, the Job says 7 */
	put_le64(p + 8, 1);
	pl = 16 + vmig__v1__job__pack(&job, p + 16);
	n = jrec_encode(JREC_HISTORY, p, pl, rec, sizeof(rec));
	cr_assert_eq(history_decode(rec, n, &out, &ended, &reclen, err,
	    sizeof(err)), -EINVAL);
	cr_assert(strstr(err, "holds job 7") != NULL, "%s", err);
	/* a payload shorter than its header */
	n = jrec_encode(JREC_HISTORY, p, 8, rec, sizeof(rec));
	cr_assert_eq(history_decode(rec, n, &out, &ended, &reclen, err,
	    sizeof(err)), -EINVAL);
	cr_assert(strstr(err, "shorter than its 16-byte header") != NULL,
	    "%s", err);
	/* not a Job */
	put_le64(p, 7);
	memset(p + 16, 0xff, 10);
	n = jrec_encode(JREC_HISTORY, p, 26, rec, sizeof(rec));
	cr_assert_eq(history_decode(rec, n, &out, &ended, &reclen, err,
	    sizeof(err)), -EINVAL);
	cr_assert(strstr(err, "vmig.v1.Job") != NULL, "%s", err);
	/* a journal record is not a history record */
	n = jrec_encode(JREC_JOB, p, 26, rec, sizeof(rec));
	cr_assert_eq(history_decode(rec, n, &out, &ended, &reclen, err,
	    sizeof(err)), -EINVAL);
}

Test(history, keep_zero_stores_nothing)
{
	struct history_load_stats st;
	struct history	*h;
	struct seen	 s;

	h = reopen(0, &s, &st);
	add(h, 1);
	cr_assert_eq(history_count(h), 0);
	history_close(h);
	h = reopen(3, &s, &st);
	cr_assert_eq(s.n, 0);
	history_close(h);
}
