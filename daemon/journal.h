/*
 * journal.h: what a dead vmigd would leave to undo, kept under the state
 * directory so that the next vmigd can undo it (DESIGN.md, "Crash
 * recovery").
 *
 * One file per unfinished job, STATE_DIR/journal/job-ID.rec: a log of
 * records, each holding the job's whole undo state (never a delta), so the
 * last whole record is the job's state. journal_record() appends one
 * record with one write(); journal_forget() unlinks the file when the job
 * has ended (after its history record is written). The engine records
 * before each step that changes a device or memory (claimed, mode set,
 * recording started, prepared, state loaded) and around the switchover
 * (committing before the frame that lets the destination resume, switched
 * once it has). A log that grows past JOURNAL_COMPACT is replaced by its
 * last record, written aside and renamed over it.
 *
 * Why an append per job and not a new file renamed into place per record:
 * on this ext4 a rename over an existing file forces writeback and costs
 * ~150 us (p99 ~2 ms) on the loop, an append ~7 us (p99 ~45 us); a job
 * writes a record before its stop and before its Switchover, inside the
 * downtime (test/bench/journal_cost). Per job, so that one bad file costs
 * one job's record, not every job's.
 *
 * A crash at any instruction leaves the log's records whole except perhaps
 * the last, cut short: write() of a few hundred bytes reaches the page
 * cache whole or, if a fatal signal lands between pages, as a prefix. On
 * load such a torn tail (a prefix of a record: header plausible, bytes
 * missing, no whole record hidden in it or after it) is trimmed and the
 * record before it stands, exactly as if the append had not begun (the
 * step it guarded had not). Anything else that fails a check (a whole
 * record with a bad checksum, a byte flipped anywhere, a length field
 * that lies, records out of sequence, another job's record) makes the
 * whole file untrusted: reported, moved aside (job-ID.rec.bad), never
 * acted upon, because falling back to an older record could undo a step
 * that did happen (a Switchover sent).
 *
 * Records are not fsync()ed by default: a daemon that dies leaves its
 * writes in the page cache, and after a host crash every record is from
 * another boot (each carries the boot id), whose devices the reboot reset;
 * recovery acts on no such record. journal_open(JOURNAL_SYNC) syncs each
 * record (and the directory for a new file) anyway; journal_cost measures
 * both.
 *
 * The record format (little-endian) is shared with the history (history.h):
 *
 *	le32 magic "VMJR" | le16 version 1 | le16 type | le32 payload length
 *	| le32 0 | payload | le64 XXH64(everything before it, seed 0)
 *
 * A job payload is fields of le16 tag | le16 length | bytes, each tag at
 * most once, every tag known (version 1 is strict: a field a newer daemon
 * added could change what must be undone).
 */
#ifndef VMIG_JOURNAL_H
#define VMIG_JOURNAL_H

#include <stddef.h>
#include <stdint.h>

#define JREC_MAGIC		0x524a4d56u	/* "VMJR" little-endian */
#define JREC_VERSION		1
#define JREC_HDR		16
#define JREC_TRAILER		8
#define JREC_MAX_PAYLOAD	(64u * 1024)
#define JREC_MAX		(JREC_HDR + JREC_MAX_PAYLOAD + JREC_TRAILER)

enum jrec_type {
	JREC_JOB = 1,		/* journal: one job's undo state */
	JREC_HISTORY = 2,	/* history: one finished job */
};

#define JOURNAL_COMPACT		(16u * 1024)	/* a job's log, then compacted */
#define JOURNAL_FILE_MAX	(JOURNAL_COMPACT + JREC_MAX)

/* Frame payload as a record into buf (JREC_HDR + plen + JREC_TRAILER). */
size_t	 jrec_encode(enum jrec_type type, const void *payload, size_t plen,
	    uint8_t *buf, size_t buflen);
/*
 * Check the record at the start of buf (len bytes available): 0 with
 * *payload, *plen and *reclen (the whole record's size) set, or -EINVAL
 * (-EMSGSIZE when the record is longer than len: torn) with err saying
 * which check failed.
 */
int	 jrec_decode(const uint8_t *buf, size_t len, enum jrec_type type,
	    const uint8_t **payload, size_t *plen, size_t *reclen, char *err,
	    size_t errlen);
/* After -EMSGSIZE: 1 if the bytes can be a record cut short (journal.c). */
int	 jrec_torn(const uint8_t *buf, size_t len, enum jrec_type type);

enum journal_side {
	JOURNAL_SOURCE = 1,
	JOURNAL_DEST = 2,
};

/*
 * What has been done that a restart must undo or respect. Set before the
 * step (so a crash inside the step finds it set), cleared once undone.
 */
#define JE_CLAIMED	0x01	/* the job holds the device */
#define JE_MODE_SET	0x02	/* the device is not in the mode it was found
				 * in (source: stopped/frozen; dest: stopped
				 * for restore) */
#define JE_RECORDING	0x04	/* source: write recording started */
#define JE_PREPARED	0x08	/* dest: token issued, memory mapped */
#define JE_STATE_LOADED	0x10	/* dest: (partial) device state written */
#define JE_COMMITTING	0x20	/* source: Switchover is (being) sent, the
				 * destination may resume from now on;
				 * dest: the resume command is (being) sent */
#define JE_SWITCHED	0x40	/* source: Done received; dest: VF resumed */
#define JE_ALL		0x7f

#define JOURNAL_DEVICE_MAX	64	/* with its NUL */
#define JOURNAL_PHASE_MAX	16
#define JOURNAL_PEER_MAX	256

struct journal_entry {
	uint64_t	 id;		/* the job's id on this daemon */
	enum journal_side side;
	char		 device[JOURNAL_DEVICE_MAX];	/* "sim0/vf3" */
	char		 phase[JOURNAL_PHASE_MAX];	/* for reports only */
	uint32_t	 flags;		/* JE_* */
	char		 peer[JOURNAL_PEER_MAX];	/* source: stream URL */
	uint64_t	 peer_job;	/* the other side's job id; 0: unknown */
	uint64_t	 started_ms;	/* unix ms */
	/* filled in by journal_record() */
	uint64_t	 updated_ms;	/* unix ms */
	uint8_t		 boot_id[16];	/* /proc/sys/kernel/random/boot_id */
	uint32_t	 pid;
	uint64_t	 seq;		/* records written by this journal */
};

/* A job entry's payload into buf; returns its size, 0 if buf is short. */
size_t	 journal_encode(const struct journal_entry *e, uint8_t *buf,
	    size_t buflen);
/* The record at the start of buf (jrec_decode + every field) into *e. */
int	 journal_decode(const uint8_t *buf, size_t len,
	    struct journal_entry *e, size_t *reclen, char *err, size_t errlen);
/*
 * A whole job log (job-ID.rec's bytes): 1 with the last record in *e, 0
 * when it holds no whole record (empty, or the first append torn), or
 * -EINVAL with err when anything but a torn last append fails a check.
 * *good: the bytes before a torn tail.
 */
int	 journal_parse(const uint8_t *buf, size_t len, uint64_t id,
	    struct journal_entry *e, size_t *good, char *err, size_t errlen);
/* "SWITCHED|MODE_SET" (or "none") for logs. */
const char *journal_flags_str(uint32_t flags, char *buf, size_t len);
const char *journal_side_name(enum journal_side side);

#define JOURNAL_SYNC	0x1	/* fdatasync each record, fsync the directory */

struct journal;

struct journal_load_stats {
	unsigned int	 records;	/* valid, passed to the callback */
	unsigned int	 bad;		/* refused, moved aside */
	unsigned int	 torn;		/* logs whose last append was cut */
	unsigned int	 tmp_removed;	/* leftovers of a crash before rename */
	uint64_t	 max_id;	/* highest job id seen (valid or in a name) */
};

/*
 * Create (mode 0700) and open STATE_DIR/journal. NULL with err naming the
 * directory when it cannot be created or is not writable.
 */
struct journal	*journal_open(const char *state_dir, int flags, char *err,
		    size_t errlen);
void		 journal_close(struct journal *j);
const char	*journal_dir(const struct journal *j);
/* Replace job e->id's record (fills the journal's fields of e). */
int		 journal_record(struct journal *j, struct journal_entry *e,
		    char *err, size_t errlen);
/* The job ended and needs nothing undone: remove its record (no error if
 * it had none). */
int		 journal_forget(struct journal *j, uint64_t id, char *err,
		    size_t errlen);

/*
 * Every job's log in the directory, in id order: the last record of each
 * valid one to cb (same_boot: written since the host last booted), torn
 * tails trimmed, refused logs reported with log_warnx and renamed *.bad,
 * leftover .tmp files of a compaction removed. Returns 0 or a
 * negative errno when the directory cannot be read.
 */
typedef void	(*journal_load_fn)(const struct journal_entry *e,
		    int same_boot, void *arg);
int		 journal_load(struct journal *j, journal_load_fn cb, void *arg,
		    struct journal_load_stats *st, char *err, size_t errlen);

/* This boot's id (16 bytes); 0, or -errno when it cannot be read. */
int		 journal_boot_id(uint8_t id[16]);

#endif /* VMIG_JOURNAL_H */
