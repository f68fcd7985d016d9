/*
 * recover.h: what a restarted vmigd does about a job its predecessor left
 * unfinished (DESIGN.md, "Crash recovery"). Pure policy: a journal entry
 * and the facts gathered so far in, a plan out; no device, no I/O.
 *
 * The plan may ask for a fact first (RECOVER_NEED_FACTS with RA_QUERY_MODE
 * or RA_ASK_PEER): the caller finds it out and asks again with it. The
 * outcome and reason become the job's final record ("daemon restarted
 * ..."), so that `vmigctl jobs` shows what was done and why.
 *
 * The rule that matters most: a source whose journal says the destination
 * may have resumed (JE_COMMITTING without JE_SWITCHED) never resumes its
 * VF unless the destination says it did not resume; without an answer it
 * keeps the VF stopped and says so. Both hosts running the same device
 * state is worse than a VF that waits for an operator.
 */
#ifndef VMIG_RECOVER_H
#define VMIG_RECOVER_H

#include <stddef.h>
#include <stdint.h>

#include "journal.h"

/* The device's mode, as the restarted daemon reads it. */
enum recover_mode {
	RECOVER_MODE_UNKNOWN = 0,	/* not asked yet */
	RECOVER_MODE_ACTIVE,
	RECOVER_MODE_STOPPED,		/* stopped or frozen */
	RECOVER_MODE_ERROR,		/* the device cannot say (gone, failing) */
};

/* The peer's answer to "did you resume job N's VF?". */
enum recover_peer {
	RECOVER_PEER_UNASKED = 0,
	RECOVER_PEER_RESUMED,		/* it runs the VM's device */
	RECOVER_PEER_NOT_RESUMED,	/* it did not, and never will */
	RECOVER_PEER_UNREACHABLE,	/* no answer (or no way to ask) */
};

struct recover_facts {
	int			 same_boot;	/* the record is from this boot */
	enum recover_mode	 mode;
	enum recover_peer	 peer;
};

/* Actions, in the order the caller performs them. */
#define RA_QUERY_MODE		0x001	/* read the device's mode, ask again */
#define RA_ASK_PEER		0x002	/* ask the peer, ask again */
#define RA_STOP_RECORDING	0x004	/* source: stop write recording */
#define RA_RESUME		0x008	/* source: device back to ACTIVE */
#define RA_DISCARD		0x010	/* dest: discard partial state, leave
					 * the VF stopped */
#define RA_REVOKE_TOKEN		0x020	/* dest: the prepared token is dead */
#define RA_RELEASE		0x040	/* the device is free again */
#define RA_KEEP_STOPPED		0x080	/* leave the VF stopped, marked as
					 * migrated away (or uncertain) */

enum recover_outcome {
	RECOVER_NEED_FACTS = 0,	/* do the RA_QUERY_MODE / RA_ASK_PEER first */
	RECOVER_FAILED,		/* the migration did not happen; undone */
	RECOVER_COMPLETED,	/* the VM's device runs on the destination */
	RECOVER_UNCERTAIN,	/* cannot tell: nothing risky done; reason says
				 * what an operator must check */
};

#define RECOVER_REASON_MAX	512

struct recover_plan {
	unsigned int		 actions;	/* RA_* */
	enum recover_outcome	 outcome;
	int			 rule;		/* index of the rule applied */
	char			 reason[RECOVER_REASON_MAX];
};

void		 recover_plan(const struct journal_entry *e,
		    const struct recover_facts *f, struct recover_plan *p);
const char	*recover_outcome_name(enum recover_outcome o);
/* "stop recording, resume, release" (or "nothing") for logs. */
const char	*recover_actions_str(unsigned int actions, char *buf,
		    size_t len);

#endif /* VMIG_RECOVER_H */
