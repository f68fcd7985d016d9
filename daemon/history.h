/*
 * history.h: finished jobs that outlive the daemon, for `vmigctl jobs`
 * after a restart: the last `keep` jobs as vmig.v1.Job messages (what
 * GetJob answers: phase, stats, reason, decisions).
 *
 * STATE_DIR/history.log is an append log of journal.h records (type
 * JREC_HISTORY; payload: le64 job id | le64 unix ms ended | packed
 * vmig.v1.Job). history_add() appends one record and fdatasync()s it (a
 * job ends once; an operator reads this after a reboot too). A crash in
 * the middle of an append leaves a torn last record, which the checksum
 * catches: on open every record is checked, a bad stretch (torn or
 * corrupted) is reported and skipped up to the next record that checks
 * out, and the log is rewritten without it. When the log holds twice
 * `keep` records it is compacted to the last `keep` (written to
 * history.log.new, synced, renamed over the log, the directory synced), so
 * its size is bounded and a crash during compaction leaves either log.
 */
#ifndef VMIG_HISTORY_H
#define VMIG_HISTORY_H

#include <stddef.h>
#include <stdint.h>

#include "vmig.pb-c.h"

#define HISTORY_KEEP_MAX	100000

struct history;

struct history_load_stats {
	unsigned int	 records;	/* valid records in the log */
	unsigned int	 bad;		/* bad stretches skipped */
	size_t		 bad_bytes;
	int		 rewritten;	/* compacted at open */
};

/*
 * Open (creating STATE_DIR, mode 0700, if needed) and load the log,
 * keeping the last `keep` jobs. NULL with err naming the file.
 */
struct history	*history_open(const char *state_dir, unsigned int keep,
		    struct history_load_stats *st, char *err, size_t errlen);
void		 history_close(struct history *h);
/* Keep this many from now on (reload); compacts if the log is over. */
void		 history_set_keep(struct history *h, unsigned int keep);
unsigned int	 history_count(const struct history *h);
/* Append a finished job; 0 or -errno with err naming the file. */
int		 history_add(struct history *h, const Vmig__V1__Job *job,
		    uint64_t ended_unix_ms, char *err, size_t errlen);
/* The kept jobs, oldest first; stops early when fn returns non-zero. */
typedef int	(*history_fn)(const Vmig__V1__Job *job, uint64_t ended_unix_ms,
		    void *arg);
int		 history_foreach(const struct history *h, history_fn fn,
		    void *arg);

/*
 * Check a history record (jrec_decode, the payload, the Job it carries):
 * 0 with *job (free with vmig__v1__job__free_unpacked) and *reclen, or a
 * negative errno with err (-EMSGSIZE: the record is cut short).
 */
int		 history_decode(const uint8_t *buf, size_t len,
		    Vmig__V1__Job **job, uint64_t *ended_unix_ms,
		    size_t *reclen, char *err, size_t errlen);

#endif /* VMIG_HISTORY_H */
