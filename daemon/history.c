/*
 * history.c: the finished-job log (history.h). The last `keep` records
 * are held in memory, packed, so listing and compaction never re-read
 * the file.
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

#include "history.h"
#include "journal.h"
#include "log.h"
#include "util.h"

#define HISTORY_FILE		"history.log"
#define HISTORY_NEW		"history.log.new"
#define HISTORY_FILE_MAX	(256u << 20)	/* read at most this at open */

struct history_rec {
	uint8_t		*rec;		/* the whole record, as on disk */
	size_t		 len;
};

struct history {
	char			*dir;
	int			 dirfd;
	int			 fd;		/* the log, O_APPEND */
	unsigned int		 keep;
	struct history_rec	*ring;		/* keep slots */
	unsigned int		 first, n;	/* oldest slot, how many */
	unsigned int		 in_file;	/* records in the log */
};

int
history_decode(const uint8_t *buf, size_t len, Vmig__V1__Job **job,
    uint64_t *ended, size_t *reclen, char *err, size_t errlen)
{
	const uint8_t	*p;
	size_t		 plen;
	uint64_t	 id;
	int		 rc;

	*job = NULL;
	if ((rc = jrec_decode(buf, len, JREC_HISTORY, &p, &plen, reclen, err,
	    errlen)) != 0)
		return (rc);
	if (plen < 16)
		return (err_set(err, errlen, -EINVAL, "history payload of %zu "
		    "bytes, shorter than its 16-byte header", plen));
	id = get_le64(p);
	*ended = get_le64(p + 8);
	if ((*job = vmig__v1__job__unpack(NULL, plen - 16, p + 16)) == NULL)
		return (err_set(err, errlen, -EINVAL, "job %" PRIu64 ": %zu "
		    "bytes do not decode as vmig.v1.Job", id, plen - 16));
	if ((*job)->id != id) {
		rc = err_set(err, errlen, -EINVAL, "record of job %" PRIu64
		    " holds job %" PRIu64, id, (*job)->id);
		vmig__v1__job__free_unpacked(*job, NULL);
		*job = NULL;
		return (rc);
	}
	return (0);
}

static void
history_ring_clear(struct history *h)
{
	unsigned int	i;

	for (i = 0; i < h->n; i++)
		free(h->ring[(h->first + i) % h->keep].rec);
	h->first = h->n = 0;
}

/* Take rec into the ring, dropping the oldest when it is full. */
static void
history_ring_push(struct history *h, uint8_t *rec, size_t len)
{
	struct history_rec	*r;

	if (h->keep == 0) {
		free(rec);
		return;
	}
	if (h->n == h->keep) {
		free(h->ring[h->first].rec);
		h->first = (h->first + 1) % h->keep;
		h->n--;
	}
	r = &h->ring[(h->first + h->n) % h->keep];
	r->rec = rec;
	r->len = len;
	h->n++;
}

/*
 * Rewrite the log as the ring: a new file, synced, renamed over the old
 * one, the directory synced. A crash anywhere leaves the old or the new.
 */
static int
history_compact(struct history *h, char *err, size_t errlen)
{
	const char	*what = "create", *file = HISTORY_NEW;
	unsigned int	 i;
	int		 fd, rc = 0;

	fd = openat(h->dirfd, HISTORY_NEW, O_WRONLY | O_CREAT | O_TRUNC |
	    O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0) {
		rc = -errno;
		goto fail;
	}
	what = "write";
	for (i = 0; i < h->n && rc == 0; i++)
		rc = write_full(fd, h->ring[(h->first + i) %
		    h->keep].rec, h->ring[(h->first + i) % h->keep].len);
	if (rc == 0 && fsync(fd) != 0)
		rc = -errno;
	if (close(fd) != 0 && rc == 0)
		rc = -errno;
	if (rc != 0)
		goto fail_unlink;
	what = "rename";
	file = HISTORY_FILE;
	if (renameat(h->dirfd, HISTORY_NEW, h->dirfd, HISTORY_FILE) != 0) {
		rc = -errno;
		goto fail_unlink;
	}
	(void)fsync(h->dirfd);
	if (h->fd >= 0)
		close(h->fd);
	h->fd = openat(h->dirfd, HISTORY_FILE, O_WRONLY | O_APPEND |
	    O_CLOEXEC | O_NOFOLLOW);
	if (h->fd < 0) {
		rc = -errno;
		what = "reopen";
		goto fail;
	}
	h->in_file = h->n;
	log_debug("%s: %s/%s: %u records", __func__, h->dir, HISTORY_FILE,
	    h->n);
	return (0);
fail_unlink:
	(void)unlinkat(h->dirfd, HISTORY_NEW, 0);
fail:
	return (err_set(err, errlen, rc, "history %s/%s: cannot %s it while "
	    "compacting: %s", h->dir, file, what, strerror(-rc)));
}

/* Read the whole log (bounded) into *buf. */
static int
history_slurp(struct history *h, uint8_t **buf, size_t *len)
{
	struct stat	 sb;
	ssize_t		 r;
	size_t		 n = 0, cap;
	int		 fd;

	*buf = NULL;
	*len = 0;
	fd = openat(h->dirfd, HISTORY_FILE, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0)
		return (errno == ENOENT ? 0 : -errno);
	if (fstat(fd, &sb) != 0) {
		close(fd);
		return (-errno);
	}
	cap = (size_t)MIN((uint64_t)sb.st_size, HISTORY_FILE_MAX);
	*buf = xmalloc(cap + 1);
	while (n < cap) {
		if ((r = read(fd, *buf + n, cap - n)) < 0) {
			if (errno == EINTR)
				continue;
			r = -errno;
			close(fd);
			free(*buf);
			*buf = NULL;
			return ((int)r);
		}
		if (r == 0)
			break;
		n += (size_t)r;
	}
	close(fd);
	*len = n;
	return (0);
}

/* Check every record; keep the good ones; 1 if the log needs a rewrite. */
static int
history_scan(struct history *h, const uint8_t *buf, size_t len,
    struct history_load_stats *st)
{
	Vmig__V1__Job	*job;
	uint64_t	 ended;
	size_t		 off = 0, reclen, skip;
	char		 why[256];
	uint8_t		*rec;

	while (off < len) {
		if (history_decode(buf + off, len - off, &job, &ended, &reclen,
		    why, sizeof(why)) == 0) {
			vmig__v1__job__free_unpacked(job, NULL);
			rec = xmalloc(reclen);
			memcpy(rec, buf + off, reclen);
			history_ring_push(h, rec, reclen);
			st->records++;
			off += reclen;
			continue;
		}
		/* resynchronise on the next record that checks out */
		for (skip = 1; off + skip < len; skip++) {
			if (len - off - skip >= 4 && get_le32(buf + off +
			    skip) == JREC_MAGIC && history_decode(buf + off + skip,
			    len - off - skip, &job, &ended, &reclen, NULL,
			    0) == 0) {
				vmig__v1__job__free_unpacked(job, NULL);
				break;
			}
		}
		log_warnx("history %s/%s: %zu bytes at offset %zu skipped: %s",
		    h->dir, HISTORY_FILE, skip, off, why);
		st->bad++;
		st->bad_bytes += skip;
		off += skip;
	}
	return (st->bad != 0 || st->records > h->keep);
}

struct history *
history_open(const char *state_dir, unsigned int keep,
    struct history_load_stats *st, char *err, size_t errlen)
{
	struct history	*h;
	uint8_t		*buf;
	size_t		 len;
	int		 rc, fd;

	memset(st, 0, sizeof(*st));
	if ((rc = mkdir_p(state_dir, 0700)) != 0 ||
	    (fd = open(state_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0) {
		rc = rc != 0 ? rc : -errno;
		err_set(err, errlen, rc, "state_dir %s: cannot create or open "
		    "it: %s", state_dir, strerror(-rc));
		return (NULL);
	}
	h = xcalloc(1, sizeof(*h));
	h->dir = xstrdup(state_dir);
	h->dirfd = fd;
	h->fd = -1;
	h->keep = MIN(keep, HISTORY_KEEP_MAX);
	h->ring = xcalloc(MAX(h->keep, 1), sizeof(*h->ring));
	if ((rc = history_slurp(h, &buf, &len)) != 0) {
		err_set(err, errlen, rc, "history %s/%s: cannot read it: %s",
		    state_dir, HISTORY_FILE, strerror(-rc));
		goto fail;
	}
	if (history_scan(h, buf, len, st) || buf == NULL) {
		/* a fresh log, or one without its bad stretches or extras */
		st->rewritten = buf != NULL;
		free(buf);
		if (history_compact(h, err, errlen) != 0)
			goto fail;
		return (h);
	}
	free(buf);
	h->in_file = st->records;
	h->fd = openat(h->dirfd, HISTORY_FILE, O_WRONLY | O_APPEND |
	    O_CLOEXEC | O_NOFOLLOW);
	if (h->fd < 0) {
		rc = -errno;
		err_set(err, errlen, rc, "history %s/%s: cannot open it: %s",
		    state_dir, HISTORY_FILE, strerror(-rc));
		goto fail;
	}
	return (h);
fail:
	history_close(h);
	return (NULL);
}

void
history_close(struct history *h)
{
	if (h == NULL)
		return;
	history_ring_clear(h);
	if (h->fd >= 0)
		close(h->fd);
	close(h->dirfd);
	free(h->ring);
	free(h->dir);
	free(h);
}

void
history_set_keep(struct history *h, unsigned int keep)
{
	struct history_rec	*ring;
	unsigned int		 i, skip;
	char			 err[512];

	keep = MIN(keep, HISTORY_KEEP_MAX);
	if (keep == h->keep)
		return;
	ring = xcalloc(MAX(keep, 1), sizeof(*ring));
	skip = h->n > keep ? h->n - keep : 0;
	for (i = 0; i < h->n; i++) {
		if (i < skip)
			free(h->ring[(h->first + i) % h->keep].rec);
		else
			ring[i - skip] = h->ring[(h->first + i) % h->keep];
	}
	free(h->ring);
	h->ring = ring;
	h->n -= skip;
	h->first = 0;
	h->keep = keep;
	if (h->in_file > h->n && history_compact(h, err, sizeof(err)) != 0)
		log_warnx("%s", err);
}

unsigned int
history_count(const struct history *h)
{
	return (h->n);
}

int
history_add(struct history *h, const Vmig__V1__Job *job, uint64_t ended,
    char *err, size_t errlen)
{
	struct stat	 sb;
	uint8_t		*payload, *rec;
	size_t		 plen, n;
	int		 rc;

	plen = 16 + vmig__v1__job__get_packed_size(job);
	if (plen > JREC_MAX_PAYLOAD)
		return (err_set(err, errlen, -EMSGSIZE, "history: job %" PRIu64
		    " packs into %zu bytes, over the record limit of %u",
		    job->id, plen, JREC_MAX_PAYLOAD));
	payload = xmalloc(plen);
	put_le64(payload, job->id);
	put_le64(payload + 8, ended);
	vmig__v1__job__pack(job, payload + 16);
	rec = xmalloc(JREC_HDR + plen + JREC_TRAILER);
	n = jrec_encode(JREC_HISTORY, payload, plen, rec,
	    JREC_HDR + plen + JREC_TRAILER);
	free(payload);
	VMIG_ASSERT(n != 0);
	if (h->keep == 0) {
		free(rec);
		return (0);
	}
	if (fstat(h->fd, &sb) != 0) {
		rc = -errno;
		goto fail;
	}
	if ((rc = write_full(h->fd, rec, n)) != 0 ||
	    (fdatasync(h->fd) != 0 && (rc = -errno) != 0)) {
		/* no torn record left behind for the next append to follow */
		(void)ftruncate(h->fd, sb.st_size);
		goto fail;
	}
	history_ring_push(h, rec, n);
	if (++h->in_file >= 2 * h->keep && history_compact(h, err,
	    errlen) != 0)
		log_warnx("%s", err);	/* the record itself is written */
	return (0);
fail:
	free(rec);
	return (err_set(err, errlen, rc, "history %s/%s: cannot append job %"
	    PRIu64 ": %s", h->dir, HISTORY_FILE, job->id, strerror(-rc)));
}

int
history_foreach(const struct history *h, history_fn fn, void *arg)
{
	const struct history_rec	*r;
	Vmig__V1__Job			*job;
	uint64_t			 ended;
	size_t				 reclen;
	unsigned int			 i;
	int				 rc = 0;

	for (i = 0; i < h->n && rc == 0; i++) {
		r = &h->ring[(h->first + i) % h->keep];
		/* checked when it went in: a failure here is a bug */
		if (history_decode(r->rec, r->len, &job, &ended, &reclen, NULL,
		    0) != 0)
			fatalx("%s: a kept record does not decode", __func__);
		rc = fn(job, ended, arg);
		vmig__v1__job__free_unpacked(job, NULL);
	}
	return (rc);
}
