/*
 * journal.c: the record codec shared with the history, and the per-job
 * undo journal (journal.h says why it is shaped this way).
 */
#include "config.h"

#include <sys/stat.h>
#include <sys/types.h>

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <xxhash.h>

#include "journal.h"
#include "log.h"
#include "util.h"

/* ---------------------------------------------------------------- records */

size_t
jrec_encode(enum jrec_type type, const void *payload, size_t plen,
    uint8_t *buf, size_t buflen)
{
	size_t	n = JREC_HDR + plen + JREC_TRAILER;

	if (plen > JREC_MAX_PAYLOAD || buflen < n)
		return (0);
	put_le32(buf, JREC_MAGIC);
	put_le16(buf + 4, JREC_VERSION);
	put_le16(buf + 6, (uint16_t)type);
	put_le32(buf + 8, (uint32_t)plen);
	put_le32(buf + 12, 0);
	if (plen != 0)
		memmove(buf + JREC_HDR, payload, plen);
	put_le64(buf + JREC_HDR + plen, XXH64(buf, JREC_HDR + plen, 0));
	return (n);
}

int
jrec_decode(const uint8_t *buf, size_t len, enum jrec_type type,
    const uint8_t **payload, size_t *plen, size_t *reclen, char *err,
    size_t errlen)
{
	uint8_t		want[8];
	uint32_t	n;
	size_t		i;

	if (len < JREC_HDR) {
		/* torn only if what is there starts a record of this type */
		put_le32(want, JREC_MAGIC);
		put_le16(want + 4, JREC_VERSION);
		put_le16(want + 6, (uint16_t)type);
		for (i = 12; i < len; i++) {
			if (buf[i] != 0)
				break;
		}
		if (memcmp(buf, want, MIN(len, sizeof(want))) != 0 || i < len)
			return (err_set(err, errlen, -EINVAL, "%zu bytes that "
			    "do not start a record", len));
		return (err_set(err, errlen, -EMSGSIZE, "%zu bytes, shorter "
		    "than a record header (%d): torn", len, JREC_HDR));
	}
	if (get_le32(buf) != JREC_MAGIC)
		return (err_set(err, errlen, -EINVAL, "bad magic 0x%08" PRIx32
		    ": not a vmigd record", get_le32(buf)));
	if (get_le16(buf + 4) != JREC_VERSION)
		return (err_set(err, errlen, -EINVAL, "record version %u: this "
		    "vmigd reads version %d", get_le16(buf + 4),
		    JREC_VERSION));
	if (get_le16(buf + 6) != type)
		return (err_set(err, errlen, -EINVAL, "record type %u where "
		    "type %d was expected", get_le16(buf + 6), (int)type));
	if (get_le32(buf + 12) != 0)
		return (err_set(err, errlen, -EINVAL, "reserved header word "
		    "is 0x%08" PRIx32 ", not 0", get_le32(buf + 12)));
	n = get_le32(buf + 8);
	if (n > JREC_MAX_PAYLOAD)
		return (err_set(err, errlen, -EINVAL, "payload length %" PRIu32
		    " is over the limit of %u", n, JREC_MAX_PAYLOAD));
	if (len - JREC_HDR < (size_t)n + JREC_TRAILER)
		return (err_set(err, errlen, -EMSGSIZE, "payload length %"
		    PRIu32 " but only %zu bytes follow the header: torn", n,
		    len - JREC_HDR));
	if (get_le64(buf + JREC_HDR + n) != XXH64(buf, JREC_HDR + n, 0))
		return (err_set(err, errlen, -EINVAL, "checksum mismatch "
		    "(torn or corrupted)"));
	*payload = buf + JREC_HDR;
	*plen = n;
	*reclen = JREC_HDR + (size_t)n + JREC_TRAILER;
	return (0);
}

/*
 * The bytes at buf failed with -EMSGSIZE (a record cut short). Could a
 * torn append have left them? Not if they hold a whole record whose
 * length field was altered (the checksum, computed with the length the
 * bytes allow, matches), nor if a whole record starts anywhere after
 * them: then something corrupted a record that had been written whole.
 */
int
jrec_torn(const uint8_t *buf, size_t len, enum jrec_type type)
{
	XXH64_state_t	*st;
	const uint8_t	*p;
	uint8_t		 hdr[JREC_HDR];
	size_t		 off, pl, rl;
	int		 whole = 0;

	if (len >= JREC_HDR + JREC_TRAILER) {
		memcpy(hdr, buf, JREC_HDR);
		put_le32(hdr + 8, (uint32_t)(len - JREC_HDR - JREC_TRAILER));
		if ((st = XXH64_createState()) == NULL)
			fatalx("%s: XXH64_createState", __func__);
		XXH64_reset(st, 0);
		XXH64_update(st, hdr, JREC_HDR);
		XXH64_update(st, buf + JREC_HDR, len - JREC_HDR - JREC_TRAILER);
		whole = XXH64_digest(st) == get_le64(buf + len - JREC_TRAILER);
		XXH64_freeState(st);
		if (whole)
			return (0);
	}
	for (off = 1; off + JREC_HDR <= len; off++) {
		if (get_le32(buf + off) == JREC_MAGIC && jrec_decode(buf + off,
		    len - off, type, &p, &pl, &rl, NULL, 0) == 0)
			return (0);
	}
	return (1);
}

/* ---------------------------------------------------------------- job codec */

enum {
	JT_ID = 1,
	JT_SIDE,
	JT_DEVICE,
	JT_PHASE,
	JT_FLAGS,
	JT_PEER,
	JT_PEER_JOB,
	JT_STARTED,
	JT_UPDATED,
	JT_BOOT_ID,
	JT_PID,
	JT_SEQ,
	JT_MAX
};

#define JF_REQUIRED	0x1
#define JF_STRING	0x2	/* printable ASCII, min..max bytes */

/* Each tag's length rule; strings are stored without their NUL. */
static const struct {
	const char	*name;
	uint16_t	 min, max;
	int		 flags;
} jt_fields[JT_MAX] = {
	[JT_ID] = { "id", 8, 8, JF_REQUIRED },
	[JT_SIDE] = { "side", 1, 1, JF_REQUIRED },
	[JT_DEVICE] = { "device", 1, JOURNAL_DEVICE_MAX - 1,
	    JF_REQUIRED | JF_STRING },
	[JT_PHASE] = { "phase", 0, JOURNAL_PHASE_MAX - 1, JF_STRING },
	[JT_FLAGS] = { "flags", 4, 4, JF_REQUIRED },
	[JT_PEER] = { "peer", 0, JOURNAL_PEER_MAX - 1, JF_STRING },
	[JT_PEER_JOB] = { "peer_job", 8, 8, 0 },
	[JT_STARTED] = { "started", 8, 8, 0 },
	[JT_UPDATED] = { "updated", 8, 8, 0 },
	[JT_BOOT_ID] = { "boot_id", 16, 16, JF_REQUIRED },
	[JT_PID] = { "pid", 4, 4, 0 },
	[JT_SEQ] = { "seq", 8, 8, JF_REQUIRED },
};

struct jt_buf {
	uint8_t	*p;
	size_t	 len, off;
	int	 short_;
};

static void
jt_put(struct jt_buf *b, int tag, const void *v, size_t n)
{
	if (b->short_ || b->len - b->off < 4 + n) {
		b->short_ = 1;
		return;
	}
	put_le16(b->p + b->off, (uint16_t)tag);
	put_le16(b->p + b->off + 2, (uint16_t)n);
	if (n != 0)
		memcpy(b->p + b->off + 4, v, n);
	b->off += 4 + n;
}

static void
jt_put64(struct jt_buf *b, int tag, uint64_t v)
{
	uint8_t	x[8];

	put_le64(x, v);
	jt_put(b, tag, x, 8);
}

static void
jt_put32(struct jt_buf *b, int tag, uint32_t v)
{
	uint8_t	x[4];

	put_le32(x, v);
	jt_put(b, tag, x, 4);
}

static void
jt_putstr(struct jt_buf *b, int tag, const char *s, size_t max)
{
	jt_put(b, tag, s, strnlen(s, max - 1));
}

size_t
journal_encode(const struct journal_entry *e, uint8_t *buf, size_t buflen)
{
	struct jt_buf	b = { buf, buflen, 0, 0 };
	uint8_t		side = (uint8_t)e->side;

	jt_put64(&b, JT_ID, e->id);
	jt_put(&b, JT_SIDE, &side, 1);
	jt_putstr(&b, JT_DEVICE, e->device, sizeof(e->device));
	jt_putstr(&b, JT_PHASE, e->phase, sizeof(e->phase));
	jt_put32(&b, JT_FLAGS, e->flags);
	jt_putstr(&b, JT_PEER, e->peer, sizeof(e->peer));
	jt_put64(&b, JT_PEER_JOB, e->peer_job);
	jt_put64(&b, JT_STARTED, e->started_ms);
	jt_put64(&b, JT_UPDATED, e->updated_ms);
	jt_put(&b, JT_BOOT_ID, e->boot_id, sizeof(e->boot_id));
	jt_put32(&b, JT_PID, e->pid);
	jt_put64(&b, JT_SEQ, e->seq);
	return (b.short_ ? 0 : b.off);
}

static int
jt_printable(const uint8_t *v, size_t n)
{
	size_t	i;

	for (i = 0; i < n; i++) {
		if (v[i] < 0x20 || v[i] > 0x7e)
			return (0);
	}
	return (1);
}

/* One field, its length already checked against jt_fields. */
static void
jt_take(struct journal_entry *e, int tag, const uint8_t *v, size_t n)
{
	switch (tag) {
	case JT_ID:
		e->id = get_le64(v);
		break;
	case JT_SIDE:
		e->side = (enum journal_side)v[0];
		break;
	case JT_DEVICE:
		memcpy(e->device, v, n);
		break;
	case JT_PHASE:
		memcpy(e->phase, v, n);
		break;
	case JT_FLAGS:
		e->flags = get_le32(v);
		break;
	case JT_PEER:
		memcpy(e->peer, v, n);
		break;
	case JT_PEER_JOB:
		e->peer_job = get_le64(v);
		break;
	case JT_STARTED:
		e->started_ms = get_le64(v);
		break;
	case JT_UPDATED:
		e->updated_ms = get_le64(v);
		break;
	case JT_BOOT_ID:
		memcpy(e->boot_id, v, 16);
		break;
	case JT_PID:
		e->pid = get_le32(v);
		break;
	case JT_SEQ:
		e->seq = get_le64(v);
		break;
	}
}

int
journal_decode(const uint8_t *buf, size_t len, struct journal_entry *e,
    size_t *reclen, char *err, size_t errlen)
{
	const uint8_t	*p;
	size_t		 plen, off;
	uint32_t	 seen = 0;
	unsigned int	 tag, n;
	int		 rc, i;

	memset(e, 0, sizeof(*e));
	if ((rc = jrec_decode(buf, len, JREC_JOB, &p, &plen, reclen, err,
	    errlen)) != 0)
		return (rc);
	for (off = 0; off < plen; off += 4 + n) {
		if (plen - off < 4)
			return (err_set(err, errlen, -EINVAL, "field header "
			    "cut at byte %zu of %zu", off, plen));
		tag = get_le16(p + off);
		n = get_le16(p + off + 2);
		if (n > plen - off - 4)
			return (err_set(err, errlen, -EINVAL, "field %u: length "
			    "%u runs past the payload", tag, n));
		if (tag == 0 || tag >= JT_MAX)
			return (err_set(err, errlen, -EINVAL, "unknown field %u",
			    tag));
		if (seen & (1u << tag))
			return (err_set(err, errlen, -EINVAL, "field %s twice",
			    jt_fields[tag].name));
		seen |= 1u << tag;
		if (n < jt_fields[tag].min || n > jt_fields[tag].max)
			return (err_set(err, errlen, -EINVAL, "field %s: length "
			    "%u, expected %u..%u", jt_fields[tag].name, n,
			    jt_fields[tag].min, jt_fields[tag].max));
		if ((jt_fields[tag].flags & JF_STRING) &&
		    !jt_printable(p + off + 4, n))
			return (err_set(err, errlen, -EINVAL, "field %s is not "
			    "printable ASCII", jt_fields[tag].name));
		jt_take(e, (int)tag, p + off + 4, n);
	}
	for (i = 1; i < JT_MAX; i++) {
		if ((jt_fields[i].flags & JF_REQUIRED) && !(seen & (1u << i)))
			return (err_set(err, errlen, -EINVAL, "field %s is "
			    "missing", jt_fields[i].name));
	}
	if (e->side != JOURNAL_SOURCE && e->side != JOURNAL_DEST)
		return (err_set(err, errlen, -EINVAL, "side %d is neither "
		    "source (1) nor destination (2)", (int)e->side));
	if (e->flags & ~JE_ALL)
		return (err_set(err, errlen, -EINVAL, "unknown flags 0x%" PRIx32,
		    e->flags & ~JE_ALL));
	if (e->id == 0)
		return (err_set(err, errlen, -EINVAL, "job id 0"));
	return (0);
}

int
journal_parse(const uint8_t *buf, size_t len, uint64_t id,
    struct journal_entry *e, size_t *good, char *err, size_t errlen)
{
	struct journal_entry	 next;
	size_t			 off = 0, reclen;
	char			 why[256];
	int			 rc, n = 0;

	memset(e, 0, sizeof(*e));
	while (off < len) {
		rc = journal_decode(buf + off, len - off, &next, &reclen, why,
		    sizeof(why));
		if (rc == -EMSGSIZE && jrec_torn(buf + off, len - off,
		    JREC_JOB)) {
			/* an append cut short: the record before it stands */
			log_debug("%s: job %" PRIu64 ": torn record at byte "
			    "%zu: %s", __func__, id, off, why);
			break;
		}
		if (rc != 0)
			return (err_set(err, errlen, -EINVAL, "record %d (byte "
			    "%zu): %s", n + 1, off, why));
		if (next.id != id)
			return (err_set(err, errlen, -EINVAL, "record %d (byte "
			    "%zu) is of job %" PRIu64, n + 1, off, next.id));
		if (n > 0 && (next.seq <= e->seq || next.side != e->side ||
		    strcmp(next.device, e->device) != 0))
			return (err_set(err, errlen, -EINVAL, "record %d (byte "
			    "%zu) does not follow record %d (seq %" PRIu64
			    " after %" PRIu64 ", %s %s after %s %s)", n + 1,
			    off, n, next.seq, e->seq,
			    journal_side_name(next.side), next.device,
			    journal_side_name(e->side), e->device));
		*e = next;
		n++;
		off += reclen;
	}
	*good = off;
	return (n > 0);
}

const char *
journal_flags_str(uint32_t flags, char *buf, size_t len)
{
	static const char *const names[] = { "CLAIMED", "MODE_SET",
	    "RECORDING", "PREPARED", "STATE_LOADED", "COMMITTING",
	    "SWITCHED" };

	return (bits_str(flags, names, nitems(names), "|", "none", buf, len));
}

const char *
journal_side_name(enum journal_side side)
{
	return (side == JOURNAL_SOURCE ? "source" : side == JOURNAL_DEST ?
	    "destination" : "?");
}

/* ---------------------------------------------------------------- files */

struct journal {
	char		*dir;
	int		 dirfd;
	int		 flags;
	uint8_t		 boot_id[16];
	uint64_t	 seq;
	pid_t		 pid;
};

int
journal_boot_id(uint8_t id[16])
{
	char	 buf[64];
	FILE	*f;
	size_t	 i, n = 0;
	int	 hi = -1, v;

	memset(id, 0, 16);
	if ((f = fopen("/proc/sys/kernel/random/boot_id", "re")) == NULL)
		return (-errno);
	if (fgets(buf, sizeof(buf), f) == NULL) {
		fclose(f);
		return (-EIO);
	}
	fclose(f);
	for (i = 0; buf[i] != '\0' && n < 16; i++) {
		if (!isxdigit((unsigned char)buf[i]))
			continue;
		v = isdigit((unsigned char)buf[i]) ? buf[i] - '0' :
		    tolower((unsigned char)buf[i]) - 'a' + 10;
		if (hi < 0)
			hi = v;
		else {
			id[n++] = (uint8_t)(hi << 4 | v);
			hi = -1;
		}
	}
	return (n == 16 ? 0 : -EINVAL);
}

struct journal *
journal_open(const char *state_dir, int flags, char *err, size_t errlen)
{
	struct journal	*j;
	char		*dir;
	int		 rc, fd;

	xasprintf(&dir, "%s/journal", state_dir);
	if ((rc = mkdir_p(dir, 0700)) != 0 ||
	    (fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0) {
		rc = rc != 0 ? rc : -errno;
		err_set(err, errlen, rc, "state_dir %s: cannot create or open "
		    "%s: %s", state_dir, dir, strerror(-rc));
		free(dir);
		return (NULL);
	}
	if (faccessat(fd, ".", W_OK, AT_EACCESS) != 0) {
		rc = -errno;
		err_set(err, errlen, rc, "state_dir %s: %s is not writable: %s",
		    state_dir, dir, strerror(-rc));
		close(fd);
		free(dir);
		return (NULL);
	}
	j = xcalloc(1, sizeof(*j));
	j->dir = dir;
	j->dirfd = fd;
	j->flags = flags;
	j->pid = getpid();
	if ((rc = journal_boot_id(j->boot_id)) != 0)
		log_warnx("journal: cannot read this boot's id (%s): records "
		    "from before a reboot will look current", strerror(-rc));
	return (j);
}

void
journal_close(struct journal *j)
{
	if (j == NULL)
		return;
	close(j->dirfd);
	free(j->dir);
	free(j);
}

const char *
journal_dir(const struct journal *j)
{
	return (j->dir);
}

/*
 * The job's log has grown past JOURNAL_COMPACT: replace it by a log of
 * this one record, written aside and renamed over it (a crash before the
 * rename leaves the old log, whose last record is the state before).
 */
static int
journal_replace(struct journal *j, uint64_t id, const uint8_t *rec, size_t n,
    const char **what)
{
	char	tmp[64], name[64];
	int	fd, rc = 0;

	snprintf(tmp, sizeof(tmp), ".job-%" PRIu64 ".tmp", id);
	snprintf(name, sizeof(name), "job-%" PRIu64 ".rec", id);
	*what = "compact";
	fd = openat(j->dirfd, tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC |
	    O_NOFOLLOW, 0600);
	if (fd < 0)
		return (-errno);
	if ((rc = write_full(fd, rec, n)) == 0 &&
	    (j->flags & JOURNAL_SYNC) && fdatasync(fd) != 0)
		rc = -errno;
	if (close(fd) != 0 && rc == 0)
		rc = -errno;
	if (rc == 0 && renameat(j->dirfd, tmp, j->dirfd, name) != 0)
		rc = -errno;
	if (rc != 0)
		(void)unlinkat(j->dirfd, tmp, 0);
	return (rc);
}

int
journal_record(struct journal *j, struct journal_entry *e, char *err,
    size_t errlen)
{
	uint8_t		 payload[1024], rec[JREC_HDR + 1024 + JREC_TRAILER];
	const char	*what = "open";
	struct stat	 sb;
	char		 name[64];
	size_t		 plen, n;
	int		 fd, rc;

	VMIG_ASSERT(e->id != 0);
	e->updated_ms = unix_ms();
	memcpy(e->boot_id, j->boot_id, sizeof(e->boot_id));
	e->pid = (uint32_t)j->pid;
	e->seq = ++j->seq;
	plen = journal_encode(e, payload, sizeof(payload));
	VMIG_ASSERT(plen != 0);		/* every field is bounded */
	n = jrec_encode(JREC_JOB, payload, plen, rec, sizeof(rec));
	VMIG_ASSERT(n != 0);

	snprintf(name, sizeof(name), "job-%" PRIu64 ".rec", e->id);
	fd = openat(j->dirfd, name, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC |
	    O_NOFOLLOW, 0600);
	if (fd < 0 || fstat(fd, &sb) != 0) {
		rc = -errno;
		goto fail;
	}
	if ((size_t)sb.st_size + n > JOURNAL_COMPACT) {
		close(fd);
		fd = -1;
		if ((rc = journal_replace(j, e->id, rec, n, &what)) != 0)
			goto fail;
	} else {
		what = "append to";
		if ((rc = write_full(fd, rec, n)) != 0 ||
		    ((j->flags & JOURNAL_SYNC) && fdatasync(fd) != 0 &&
		    (rc = -errno) != 0)) {
			/* leave no part-record for the next append to follow */
			(void)ftruncate(fd, sb.st_size);
			goto fail;
		}
	}
	/* close() reports delayed write errors on some file systems */
	if (fd >= 0 && close(fd) != 0) {
		fd = -1;
		rc = -errno;
		goto fail;
	}
	fd = -1;
	/* a new name (or a compaction's rename) must survive too */
	if ((j->flags & JOURNAL_SYNC) && (sb.st_size == 0 ||
	    *what == 'c') && fsync(j->dirfd) != 0) {
		rc = -errno;
		what = "sync the directory of";
		goto fail;
	}
	log_debug("%s: job %" PRIu64 " (%s %s, %s) seq %" PRIu64, __func__,
	    e->id, journal_side_name(e->side), e->device, e->phase, e->seq);
	return (0);
fail:
	if (fd >= 0)
		close(fd);
	return (err_set(err, errlen, rc, "journal %s: cannot %s the record of "
	    "job %" PRIu64 ": %s", j->dir, what, e->id, strerror(-rc)));
}

int
journal_forget(struct journal *j, uint64_t id, char *err, size_t errlen)
{
	char	name[64];
	int	rc;

	snprintf(name, sizeof(name), "job-%" PRIu64 ".rec", id);
	if (unlinkat(j->dirfd, name, 0) != 0 && errno != ENOENT) {
		rc = -errno;
		return (err_set(err, errlen, rc, "journal %s: cannot remove the "
		    "record of job %" PRIu64 ": %s", j->dir, id,
		    strerror(-rc)));
	}
	log_debug("%s: job %" PRIu64, __func__, id);
	return (0);
}

/* "job-12.rec" -> 12, or 0 for another name. */
static uint64_t
journal_name_id(const char *name, const char *prefix, const char *suffix)
{
	size_t			 lp = strlen(prefix), ls = strlen(suffix), n;
	unsigned long long	 v;
	char			*end;

	n = strlen(name);
	if (n <= lp + ls || strncmp(name, prefix, lp) != 0 ||
	    strcmp(name + n - ls, suffix) != 0 ||
	    !isdigit((unsigned char)name[lp]))
		return (0);
	errno = 0;
	v = strtoull(name + lp, &end, 10);
	if (errno != 0 || end != name + n - ls)
		return (0);
	return (v);
}

/* Read one record file (at most a record's size) into buf. */
static int
journal_read(int dirfd, const char *name, uint8_t *buf, size_t buflen,
    size_t *len)
{
	ssize_t	r;
	size_t	n = 0;
	int	fd, rc = 0;

	*len = 0;
	if ((fd = openat(dirfd, name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW)) < 0)
		return (-errno);
	while (n < buflen) {
		if ((r = read(fd, buf + n, buflen - n)) < 0) {
			if (errno == EINTR)
				continue;
			rc = -errno;
			break;
		}
		if (r == 0)
			break;
		n += (size_t)r;
	}
	close(fd);
	*len = n;
	return (rc);
}

static int
journal_cmp_id(const void *a, const void *b)
{
	uint64_t	x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return (x < y ? -1 : x > y);
}

/*
 * One job-ID.rec: its last record to cb if the log checks out (a torn
 * last append trimmed off), the file removed if it holds no whole record
 * (the first append was cut: nothing had been done), else moved aside.
 */
static void
journal_load_one(struct journal *j, uint64_t id, journal_load_fn cb,
    void *arg, struct journal_load_stats *st)
{
	struct journal_entry	 e;
	uint8_t			*buf;
	char			 name[64], bad[80], why[256];
	size_t			 len, good = 0;
	int			 rc, fd;

	buf = xmalloc(JOURNAL_FILE_MAX + 1);
	snprintf(name, sizeof(name), "job-%" PRIu64 ".rec", id);
	if ((rc = journal_read(j->dirfd, name, buf, JOURNAL_FILE_MAX + 1,
	    &len)) != 0)
		err_set(why, sizeof(why), rc, "cannot read it: %s",
		    strerror(-rc));
	else if (len > JOURNAL_FILE_MAX)
		rc = err_set(why, sizeof(why), -EINVAL, "longer than a job's "
		    "log can grow (%u bytes)", JOURNAL_FILE_MAX);
	else
		rc = journal_parse(buf, len, id, &e, &good, why, sizeof(why));
	free(buf);
	if (rc < 0) {
		st->bad++;
		snprintf(bad, sizeof(bad), "%s.bad", name);
		log_warnx("journal %s: %s: %s: not trusted, moved to %s (if job "
		    "%" PRIu64 " left a device stopped, see `vmigctl release "
		    "--resume`)", j->dir, name, why, bad, id);
		if (renameat(j->dirfd, name, j->dirfd, bad) != 0)
			log_warn("journal %s: rename %s", j->dir, name);
		return;
	}
	if (good < len) {
		st->torn++;
		log_info("journal %s: %s: the last %zu bytes are a record cut "
		    "short (a crash while appending): trimmed", j->dir, name,
		    len - good);
		if (rc == 0)
			(void)unlinkat(j->dirfd, name, 0);
		else if ((fd = openat(j->dirfd, name, O_WRONLY | O_CLOEXEC |
		    O_NOFOLLOW)) >= 0) {
			(void)ftruncate(fd, (off_t)good);
			close(fd);
		}
	}
	if (rc == 0) {
		if (len == 0)
			(void)unlinkat(j->dirfd, name, 0);
		return;
	}
	st->records++;
	if (e.seq > j->seq)
		j->seq = e.seq;
	cb(&e, memcmp(e.boot_id, j->boot_id, sizeof(e.boot_id)) == 0, arg);
}

int
journal_load(struct journal *j, journal_load_fn cb, void *arg,
    struct journal_load_stats *st, char *err, size_t errlen)
{
	struct dirent	*de;
	DIR		*dir;
	uint64_t	*ids = NULL, id;
	size_t		 n = 0, i;
	int		 fd, rc;

	memset(st, 0, sizeof(*st));
	if ((fd = openat(j->dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC)) <
	    0 || (dir = fdopendir(fd)) == NULL) {
		rc = -errno;
		if (fd >= 0)
			close(fd);
		return (err_set(err, errlen, rc, "journal %s: cannot list it: "
		    "%s", j->dir, strerror(-rc)));
	}
	while ((de = readdir(dir)) != NULL) {
		if ((id = journal_name_id(de->d_name, ".job-", ".tmp")) != 0) {
			/* a crash before a compaction's rename: the old log
			 * stands */
			if (unlinkat(j->dirfd, de->d_name, 0) == 0)
				st->tmp_removed++;
			st->max_id = MAX(st->max_id, id);
			continue;
		}
		if ((id = journal_name_id(de->d_name, "job-", ".rec.bad")) !=
		    0) {
			st->max_id = MAX(st->max_id, id);
			continue;
		}
		if ((id = journal_name_id(de->d_name, "job-", ".rec")) == 0)
			continue;
		ids = xreallocarray(ids, n + 1, sizeof(*ids));
		ids[n++] = id;
		st->max_id = MAX(st->max_id, id);
	}
	closedir(dir);
	if (n > 0)		/* qsort(NULL, 0) is undefined */
		qsort(ids, n, sizeof(*ids), journal_cmp_id);
	for (i = 0; i < n; i++)
		journal_load_one(j, ids[i], cb, arg, st);
	free(ids);
	if (st->tmp_removed != 0)
		log_info("journal %s: removed %u unfinished compactions (a "
		    "crash before their rename; the logs they were replacing "
		    "stand)", j->dir, st->tmp_removed);
	return (0);
}
