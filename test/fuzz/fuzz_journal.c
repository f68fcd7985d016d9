/*
 * fuzz_journal.c: libFuzzer harness for what a file in the state directory
 * can hand a starting vmigd: a job's journal log as the loader parses it
 * (journal_parse: records in sequence, torn tails told from corruption),
 * and a history record. Beyond "no crash": what the parser accepts
 * re-encodes to the same entry, a torn tail is always cut at a record
 * boundary, and the recovery rules have a plan for the entry under every
 * fact.
 *
 *	make fuzz && fuzz/fuzz_journal -max_total_time=60 CORPUS_DIR
 */
#include "config.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "history.h"
#include "journal.h"
#include "log.h"
#include "recover.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static uint8_t		 p[1024], rec[JREC_HDR + 1024 + JREC_TRAILER];
	struct journal_entry	 e, e2;
	struct recover_facts	 f;
	struct recover_plan	 plan;
	Vmig__V1__Job		*job;
	uint64_t		 ended;
	uint8_t			*buf;
	size_t			 pl, n, reclen, good;
	char			 err[512];
	int			 mode, peer, rc;

	/* An exact-size copy so that ASan sees any read past the end. */
	buf = malloc(size ? size : 1);
	memcpy(buf, data, size);
	err[0] = '\0';
	rc = journal_parse(buf, size, 7, &e, &good, err, sizeof(err));
	if (rc >= 0 && (good > size || (rc == 0 && good != 0)))
		abort();
	if (rc == 1) {
		pl = journal_encode(&e, p, sizeof(p));
		if (pl == 0)
			abort();	/* a decoded entry always fits */
		n = jrec_encode(JREC_JOB, p, pl, rec, sizeof(rec));
		if (n == 0 || journal_decode(rec, n, &e2, &reclen, err,
		    sizeof(err)) != 0 || reclen != n ||
		    memcmp(&e, &e2, sizeof(e)) != 0)
			abort();
		for (f.same_boot = 0; f.same_boot < 2; f.same_boot++)
		for (mode = 0; mode <= RECOVER_MODE_ERROR; mode++)
		for (peer = 0; peer <= RECOVER_PEER_UNREACHABLE; peer++) {
			f.mode = (enum recover_mode)mode;
			f.peer = (enum recover_peer)peer;
			recover_plan(&e, &f, &plan);
		}
	} else if (rc < 0 && err[0] == '\0')
		abort();	/* every refusal carries a reason */
	if (history_decode(buf, size, &job, &ended, &reclen, err,
	    sizeof(err)) == 0) {
		if (reclen > size)
			abort();
		vmig__v1__job__free_unpacked(job, NULL);
	} else if (err[0] == '\0')
		abort();
	free(buf);
	return (0);
}
