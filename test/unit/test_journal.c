/*
 * test_journal.c: the per-job undo journal: the codec both ways, record /
 * replace / forget / load in a real directory, and a crash at every step
 * of a write: a job's log cut at every length (an append cut short: the
 * record before it stands, exactly), a compaction's temporary file cut at
 * every length (a crash before its rename: the old log stands), every
 * byte of a log flipped (a disk that lies: the whole log is refused, never
 * an older record taken instead), and the loader says what it refused.
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

#include "journal.h"
#include "log.h"
#include "util.h"
#include "leakcheck.h"

static char	tmpdir[64];

static void
setup(void)
{
	log_init(LOG_LEVEL_ERROR, "test_journal");
	strlcpy_v(tmpdir, "/tmp/vmig-journal-XXXXXX", sizeof(tmpdir));
	cr_assert_not_null(mkdtemp(tmpdir));
}

static void
teardown(void)
{
	char	cmd[128];

	snprintf(cmd, sizeof(cmd), "rm -rf %s", tmpdir);
	(void)system(cmd);
}

TestSuite(journal, .init = setup, .fini = teardown);

static void
entry(struct journal_entry *e, uint64_t id, enum journal_side side,
    uint32_t flags)
{
	memset(e, 0, sizeof(*e));
	e->id = id;
	e->side = side;
	snprintf(e->device, sizeof(e->device), "sim0/vf%" PRIu64, id % 8);
	strlcpy_v(e->phase, "stopcopy", sizeof(e->phase));
	e->flags = flags;
	strlcpy_v(e->peer, "tcp://10.0.0.2:41235", sizeof(e->peer));
	e->peer_job = id + 1000;
	e->started_ms = 1700000000000ull + id;
}

/* What journal_load handed over, in order. */
struct loaded {
	struct journal_entry	 e[16];
	int			 same_boot[16];
	unsigned int		 n;
};

static void
collect(const struct journal_entry *e, int same_boot, void *arg)
{
	struct loaded	*l = arg;

	cr_assert_lt(l->n, 16);
	l->e[l->n] = *e;
	l->same_boot[l->n++] = same_boot;
}

static unsigned int
load(struct journal *j, struct loaded *l, struct journal_load_stats *st)
{
	char	err[512];

	memset(l, 0, sizeof(*l));
	cr_assert_eq(journal_load(j, collect, l, st, err, sizeof(err)), 0,
	    "%s", err);
	return (l->n);
}

static void
path(char *buf, size_t len, const char *name)
{
	snprintf(buf, len, "%s/journal/%s", tmpdir, name);
}

static void
put_file(const char *name, const uint8_t *p, size_t n)
{
	char	fn[256];
	int	fd;

	path(fn, sizeof(fn), name);
	fd = open(fn, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	cr_assert_geq(fd, 0, "%s: %s", fn, strerror(errno));
	cr_assert_eq(write(fd, p, n), (ssize_t)n);
	close(fd);
}

static size_t
get_file(const char *name, uint8_t *p, size_t cap)
{
	char	fn[256];
	ssize_t	n;
	int	fd;

	path(fn, sizeof(fn), name);
	fd = open(fn, O_RDONLY);
	cr_assert_geq(fd, 0, "%s: %s", fn, strerror(errno));
	n = read(fd, p, cap);
	cr_assert_geq(n, 0);
	close(fd);
	return ((size_t)n);
}

static int
exists(const char *name)
{
	char	fn[256];

	path(fn, sizeof(fn), name);
	return (access(fn, F_OK) == 0);
}

static void
rm(const char *name)
{
	char	fn[256];

	path(fn, sizeof(fn), name);
	(void)unlink(fn);
}

Test(journal, codec_round_trip)
{
	struct journal_entry	e, d;
	uint8_t			p[1024], rec[2048];
	char			err[256];
	size_t			pl, n, rl;

	entry(&e, 42, JOURNAL_DEST, JE_CLAIMED | JE_PREPARED |
	    JE_STATE_LOADED);
	e.seq = 7;
	e.pid = 1234;
	e.updated_ms = 99;
	memset(e.boot_id, 0xab, sizeof(e.boot_id));
	pl = journal_encode(&e, p, sizeof(p));
	cr_assert_gt(pl, 0);
	n = jrec_encode(JREC_JOB, p, pl, rec, sizeof(rec));
	cr_assert_eq(n, JREC_HDR + pl + JREC_TRAILER);
	cr_assert_eq(journal_decode(rec, n, &d, &rl, err, sizeof(err)), 0,
	    "%s", err);
	cr_assert_eq(rl, n);
	cr_assert_eq(memcmp(&e, &d, sizeof(e)), 0);
	/* too small a buffer says so instead of writing past it */
	cr_assert_eq(journal_encode(&e, p, 20), 0);
	cr_assert_eq(jrec_encode(JREC_JOB, p, pl, rec, n - 1), 0);
}

/* A payload built by hand, for the field checks. */
static size_t
field(uint8_t *p, unsigned int tag, const void *v, size_t n)
{
	put_le16(p, (uint16_t)tag);
	put_le16(p + 2, (uint16_t)n);
	memcpy(p + 4, v, n);
	return (4 + n);
}

Test(journal, field_checks)
{
	static const struct {
		const char	*what;
		int		 tweak;
		const char	*expect;
	} cases[] = {
		{ "unknown tag", 1, "unknown field 99" },
		{ "duplicate", 2, "field id twice" },
		{ "missing seq", 3, "field seq is missing" },
		{ "bad side", 4, "side 3 is neither" },
		{ "unknown flag", 5, "unknown flags 0x80" },
		{ "non-printable device", 6, "field device is not printable" },
		{ "short id", 7, "field id: length 4" },
		{ "id zero", 8, "job id 0" },
		{ "field past end", 9, "runs past the payload" },
	};
	struct journal_entry	d;
	uint8_t			p[512], rec[1024], v8[8], boot[16] = { 1 };
	uint8_t			side, v4[4];
	char			err[256];
	size_t			i, n, rn, i2;

	for (i = 0; i < nitems(cases); i++) {
		n = 0;
		put_le64(v8, cases[i].tweak == 8 ? 0 : 5);
		n += field(p + n, 1, v8, cases[i].tweak == 7 ? 4 : 8);
		if (cases[i].tweak == 2)
			n += field(p + n, 1, v8, 8);
		side = cases[i].tweak == 4 ? 3 : 1;
		n += field(p + n, 2, &side, 1);
		n += field(p + n, 3, cases[i].tweak == 6 ? "sim0\n" : "sim0/vf1",
		    cases[i].tweak == 6 ? 5 : 8);
		put_le32(v4, cases[i].tweak == 5 ? 0x80 : 0x3);
		n += field(p + n, 5, v4, 4);
		n += field(p + n, 10, boot, 16);
		if (cases[i].tweak != 3)
			n += field(p + n, 12, v8, 8);
		if (cases[i].tweak == 1)
			n += field(p + n, 99, v8, 2);
		if (cases[i].tweak == 9) {
			put_le16(p + n, 4);
			put_le16(p + n + 2, 200);
			n += 4;
		}
		rn = jrec_encode(JREC_JOB, p, n, rec, sizeof(rec));
		cr_assert_eq(journal_decode(rec, rn, &d, &i2, err,
		    sizeof(err)), -EINVAL, "%s: accepted", cases[i].what);
		cr_assert(strstr(err, cases[i].expect) != NULL,
		    "%s: '%s' lacks '%s'", cases[i].what, err,
		    cases[i].expect);
	}
}

Test(journal, header_checks)
{
	struct journal_entry	e, d;
	uint8_t			p[1024], rec[2048], bad[2048];
	char			err[256];
	size_t			pl, n, rl, good;

	entry(&e, 3, JOURNAL_SOURCE, JE_CLAIMED);
	e.seq = 1;
	pl = journal_encode(&e, p, sizeof(p));
	n = jrec_encode(JREC_JOB, p, pl, rec, sizeof(rec));

	memcpy(bad, rec, n);
	bad[0] ^= 1;
	cr_assert_eq(journal_decode(bad, n, &d, &rl, err, sizeof(err)),
	    -EINVAL);
	cr_assert(strstr(err, "magic") != NULL, "%s", err);
	memcpy(bad, rec, n);
	put_le16(bad + 4, 2);
	cr_assert_eq(journal_decode(bad, n, &d, &rl, err, sizeof(err)),
	    -EINVAL);
	cr_assert(strstr(err, "version 2") != NULL, "%s", err);
	memcpy(bad, rec, n);
	put_le16(bad + 6, JREC_HISTORY);
	cr_assert_eq(journal_decode(bad, n, &d, &rl, err, sizeof(err)),
	    -EINVAL);
	cr_assert(strstr(err, "type 2") != NULL, "%s", err);
	memcpy(bad, rec, n);
	put_le32(bad + 8, JREC_MAX_PAYLOAD + 1);
	cr_assert_eq(journal_decode(bad, n, &d, &rl, err, sizeof(err)),
	    -EINVAL);
	cr_assert(strstr(err, "over the limit") != NULL, "%s", err);
	memcpy(bad, rec, n);
	put_le32(bad + 12, 1);
	cr_assert_eq(journal_decode(bad, n, &d, &rl, err, sizeof(err)),
	    -EINVAL);
	cr_assert(strstr(err, "reserved") != NULL, "%s", err);
	/* a short prefix that cannot start a record is not "torn" */
	cr_assert_eq(journal_decode((const uint8_t *)"VMJX", 4, &d, &rl, err,
	    sizeof(err)), -EINVAL);
	cr_assert_eq(journal_decode(rec, 6, &d, &rl, err, sizeof(err)),
	    -EMSGSIZE);
	cr_assert(strstr(err, "torn") != NULL, "%s", err);
	/* a whole record and junk after it: the log is not trusted */
	memcpy(bad, rec, n);
	memset(bad + n, 0x77, 40);
	cr_assert_eq(journal_parse(bad, n + 40, 3, &d, &good, err,
	    sizeof(err)), -EINVAL);
	cr_assert(strstr(err, "record 2 (byte") != NULL, "%s", err);
	cr_assert_eq(journal_parse(rec, n, 3, &d, &good, err, sizeof(err)),
	    1, "%s", err);
	cr_assert_eq(good, n);
	/* the wrong job's log */
	cr_assert_eq(journal_parse(rec, n, 4, &d, &good, err, sizeof(err)),
	    -EINVAL);
	cr_assert(strstr(err, "is of job 3") != NULL, "%s", err);
	/* records out of sequence (a replayed or spliced log) */
	memcpy(bad, rec, n);
	memcpy(bad + n, rec, n);
	cr_assert_eq(journal_parse(bad, 2 * n, 3, &d, &good, err,
	    sizeof(err)), -EINVAL);
	cr_assert(strstr(err, "does not follow") != NULL, "%s", err);
}

Test(journal, record_replace_forget_load)
{
	struct journal_load_stats st;
	struct journal_entry	 e;
	struct journal		*j;
	struct loaded		 l;
	char			 err[512];

	j = journal_open(tmpdir, 0, err, sizeof(err));
	cr_assert_not_null(j, "%s", err);
	entry(&e, 9, JOURNAL_SOURCE, JE_CLAIMED);
	cr_assert_eq(journal_record(j, &e, err, sizeof(err)), 0, "%s", err);
	entry(&e, 3, JOURNAL_DEST, JE_CLAIMED | JE_PREPARED);
	cr_assert_eq(journal_record(j, &e, err, sizeof(err)), 0, "%s", err);
	entry(&e, 9, JOURNAL_SOURCE, JE_CLAIMED | JE_RECORDING | JE_MODE_SET);
	cr_assert_eq(journal_record(j, &e, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(e.seq, 3);
	cr_assert_eq(e.pid, (uint32_t)getpid());
	journal_close(j);

	/* a new daemon: loads in id order, the last record of each job */
	j = journal_open(tmpdir, 0, err, sizeof(err));
	cr_assert_not_null(j, "%s", err);
	cr_assert_eq(load(j, &l, &st), 2);
	cr_assert_eq(st.records, 2);
	cr_assert_eq(st.bad, 0);
	cr_assert_eq(st.max_id, 9);
	cr_assert_eq(l.e[0].id, 3);
	cr_assert_eq(l.e[0].side, JOURNAL_DEST);
	cr_assert_eq(l.e[0].flags, JE_CLAIMED | JE_PREPARED);
	cr_assert_eq(l.e[1].id, 9);
	cr_assert_eq(l.e[1].flags, JE_CLAIMED | JE_RECORDING | JE_MODE_SET);
	cr_assert_str_eq(l.e[1].device, "sim0/vf1");
	cr_assert_str_eq(l.e[1].peer, "tcp://10.0.0.2:41235");
	cr_assert_eq(l.e[1].peer_job, 1009);
	cr_assert_eq(l.same_boot[0], 1);
	cr_assert_eq(l.same_boot[1], 1);
	/* its own records continue the sequence */
	entry(&e, 3, JOURNAL_DEST, JE_CLAIMED);
	cr_assert_eq(journal_record(j, &e, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(e.seq, 4);

	cr_assert_eq(journal_forget(j, 9, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(journal_forget(j, 9, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(load(j, &l, &st), 1);
	cr_assert_eq(l.e[0].id, 3);
	journal_close(j);
	LEAK_CHECK();
}

Test(journal, record_from_another_boot)
{
	struct journal_load_stats st;
	struct journal_entry	 e;
	struct journal		*j;
	struct loaded		 l;
	uint8_t			 p[1024], rec[2048];
	char			 err[512];
	size_t			 pl, n;

	j = journal_open(tmpdir, 0, err, sizeof(err));
	cr_assert_not_null(j, "%s", err);
	entry(&e, 5, JOURNAL_SOURCE, JE_CLAIMED | JE_MODE_SET);
	e.seq = 1;
	cr_assert_eq(journal_boot_id(e.boot_id), 0);
	e.boot_id[0] ^= 0xff;
	pl = journal_encode(&e, p, sizeof(p));
	n = jrec_encode(JREC_JOB, p, pl, rec, sizeof(rec));
	put_file("job-5.rec", rec, n);
	cr_assert_eq(load(j, &l, &st), 1);
	cr_assert_eq(l.same_boot[0], 0);
	journal_close(j);
}

/* Three appends to job 7's log; their end offsets in ends[]. */
static size_t
three_records(struct journal *j, uint8_t *log, size_t cap, size_t ends[3])
{
	static const uint32_t	 flags[3] = { JE_CLAIMED, JE_CLAIMED |
				    JE_RECORDING, JE_CLAIMED | JE_RECORDING |
				    JE_MODE_SET };
	struct journal_entry	 e;
	char			 err[512];
	int			 i;

	for (i = 0; i < 3; i++) {
		entry(&e, 7, JOURNAL_SOURCE, flags[i]);
		cr_assert_eq(journal_record(j, &e, err, sizeof(err)), 0, "%s",
		    err);
		ends[i] = get_file("job-7.rec", log, cap);
	}
	return (ends[2]);
}

/*
 * A crash in the middle of an append, at every length it could reach:
 * exactly the records wholly written count, the cut one is trimmed, a log
 * whose first record was cut goes (nothing had been done).
 */
Test(journal, append_cut_at_every_length)
{
	struct journal_load_stats st;
	struct journal		*j;
	struct loaded		 l;
	uint8_t			 log[4096], back[4096];
	char			 err[512];
	size_t			 ends[3], n, cut, want;

	j = journal_open(tmpdir, 0, err, sizeof(err));
	cr_assert_not_null(j, "%s", err);
	n = three_records(j, log, sizeof(log), ends);
	for (cut = 0; cut <= n; cut++) {
		put_file("job-7.rec", log, cut);
		want = cut >= ends[2] ? 3 : cut >= ends[1] ? 2 :
		    cut >= ends[0] ? 1 : 0;
		cr_assert_eq(load(j, &l, &st), want ? 1 : 0, "cut %zu", cut);
		cr_assert_eq(st.bad, 0, "cut %zu: refused", cut);
		cr_assert_eq(st.torn, cut != 0 && cut != ends[0] &&
		    cut != ends[1] && cut != ends[2], "cut %zu", cut);
		if (want == 0) {
			cr_assert(!exists("job-7.rec"), "cut %zu", cut);
			continue;
		}
		cr_assert_eq(l.e[0].flags, want == 1 ? JE_CLAIMED : want == 2 ?
		    JE_CLAIMED | JE_RECORDING : JE_CLAIMED | JE_RECORDING |
		    JE_MODE_SET, "cut %zu: wrong record", cut);
		/* trimmed to the last whole record */
		cr_assert_eq(get_file("job-7.rec", back, sizeof(back)),
		    ends[want - 1], "cut %zu", cut);
	}
	journal_close(j);
	LEAK_CHECK();
}

/* A log past JOURNAL_COMPACT is replaced by its last record. */
Test(journal, compaction_and_a_crash_before_its_rename)
{
	struct journal_load_stats st;
	struct journal_entry	 e;
	struct journal		*j;
	struct loaded		 l;
	uint8_t			 log[JOURNAL_FILE_MAX];
	char			 err[512];
	size_t			 n, max = 0, cut;
	unsigned int		 i;

	j = journal_open(tmpdir, 0, err, sizeof(err));
	cr_assert_not_null(j, "%s", err);
	for (i = 0; i < 300; i++) {
		entry(&e, 5, JOURNAL_DEST, i % 2 ? JE_CLAIMED : JE_CLAIMED |
		    JE_PREPARED);
		cr_assert_eq(journal_record(j, &e, err, sizeof(err)), 0, "%s",
		    err);
		max = MAX(max, get_file("job-5.rec", log, sizeof(log)));
	}
	cr_assert_leq(max, JOURNAL_COMPACT, "the log grew to %zu", max);
	cr_assert_eq(load(j, &l, &st), 1);
	cr_assert_eq(l.e[0].flags, JE_CLAIMED);
	cr_assert_eq(l.e[0].seq, 300);
	/* a compaction that died before its rename, at every length */
	n = get_file("job-5.rec", log, sizeof(log));
	for (cut = 0; cut < 200; cut++) {
		put_file(".job-5.tmp", log, MIN(cut, n));
		cr_assert_eq(load(j, &l, &st), 1);
		cr_assert_eq(st.tmp_removed, 1);
		cr_assert_eq(l.e[0].seq, 300);
		cr_assert(!exists(".job-5.tmp"));
	}
	/* a first record that never made it: no record, the id stays taken */
	rm("job-5.rec");
	put_file(".job-8.tmp", log, 10);
	cr_assert_eq(load(j, &l, &st), 0);
	cr_assert_eq(st.max_id, 8);
	journal_close(j);
	LEAK_CHECK();
}

/*
 * Any byte of a whole log flipped, whatever bit (a disk or a hand that
 * lies, not a crash): the log is refused and moved aside, never read as
 * an older state (a length field changed so that the last record looks
 * cut short included). Logs under another job's name or too long too.
 */
Test(journal, corrupt_log_refused_never_rolled_back)
{
	struct journal_load_stats st;
	struct journal		*j;
	struct loaded		 l;
	uint8_t			 log[4096], bad[JOURNAL_FILE_MAX + 64];
	char			 err[512];
	size_t			 ends[3], n, i;
	int			 bit;

	j = journal_open(tmpdir, 0, err, sizeof(err));
	cr_assert_not_null(j, "%s", err);
	n = three_records(j, log, sizeof(log), ends);
	for (i = 0; i < n; i++) {
		for (bit = 0; bit < 8; bit++) {
			memcpy(bad, log, n);
			bad[i] ^= (uint8_t)(1u << bit);
			put_file("job-7.rec", bad, n);
			cr_assert_eq(load(j, &l, &st), 0,
			    "byte %zu bit %d flipped: job %llu taken, flags "
			    "0x%x", i, bit, (unsigned long long)l.e[0].id,
			    l.e[0].flags);
			cr_assert_eq(st.bad, 1, "byte %zu bit %d", i, bit);
			cr_assert(exists("job-7.rec.bad"));
			cr_assert(!exists("job-7.rec"));
			rm("job-7.rec.bad");
		}
	}
	/* a log under another job's name */
	put_file("job-12.rec", log, n);
	cr_assert_eq(load(j, &l, &st), 0);
	cr_assert_eq(st.bad, 1);
	/* longer than a log can grow */
	memcpy(bad, log, n);
	memset(bad + n, 'x', sizeof(bad) - n);
	put_file("job-13.rec", bad, sizeof(bad));
	cr_assert_eq(load(j, &l, &st), 0);
	cr_assert_eq(st.bad, 1);
	/* garbage too short for a header, not a header's start */
	put_file("job-14.rec", (const uint8_t *)"hello", 5);
	cr_assert_eq(load(j, &l, &st), 0);
	cr_assert_eq(st.bad, 1);
	/* the intact log still loads */
	put_file("job-7.rec", log, n);
	cr_assert_eq(load(j, &l, &st), 1);
	cr_assert_eq(l.e[0].id, 7);
	cr_assert_eq(l.e[0].flags, JE_CLAIMED | JE_RECORDING | JE_MODE_SET);
	journal_close(j);
	LEAK_CHECK();
}

Test(journal, other_files_ignored)
{
	struct journal_load_stats st;
	struct journal		*j;
	struct loaded		 l;
	char			 err[512];

	j = journal_open(tmpdir, 0, err, sizeof(err));
	cr_assert_not_null(j, "%s", err);
	put_file("README", (const uint8_t *)"hi", 2);
	put_file("job-.rec", (const uint8_t *)"hi", 2);
	put_file("job-1x.rec", (const uint8_t *)"hi", 2);
	put_file("job-99999999999999999999999.rec", (const uint8_t *)"hi", 2);
	cr_assert_eq(load(j, &l, &st), 0);
	cr_assert_eq(st.bad, 0);
	cr_assert(exists("README"));
	journal_close(j);
}

Test(journal, sync_mode_writes_the_same)
{
	struct journal_load_stats st;
	struct journal_entry	 e;
	struct journal		*j;
	struct loaded		 l;
	char			 err[512];

	j = journal_open(tmpdir, JOURNAL_SYNC, err, sizeof(err));
	cr_assert_not_null(j, "%s", err);
	entry(&e, 1, JOURNAL_SOURCE, JE_CLAIMED | JE_COMMITTING);
	cr_assert_eq(journal_record(j, &e, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(load(j, &l, &st), 1);
	cr_assert_eq(l.e[0].flags, JE_CLAIMED | JE_COMMITTING);
	journal_close(j);
}

Test(journal, unusable_state_dir)
{
	char	err[512];

	cr_assert_null(journal_open("/dev/null/vmigd", 0, err, sizeof(err)));
	cr_assert(strstr(err, "state_dir /dev/null/vmigd") != NULL, "%s",
	    err);
	cr_assert(strstr(err, "Not a directory") != NULL, "%s", err);
}

Test(journal, flags_str)
{
	char	buf[128];

	cr_assert_str_eq(journal_flags_str(0, buf, sizeof(buf)), "none");
	cr_assert_str_eq(journal_flags_str(JE_CLAIMED | JE_SWITCHED, buf,
	    sizeof(buf)), "CLAIMED|SWITCHED");
}
