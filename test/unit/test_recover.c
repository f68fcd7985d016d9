/*
 * test_recover.c: the crash-recovery rules. A table of the cases DESIGN.md
 * walks through (each row: what the journal says, what is known, what
 * must be done), then every combination of side, flags, boot, device
 * mode and peer answer against the invariants that make recovery safe:
 * a source VF is never resumed once the destination may run it, unless
 * the destination said it does not; a destination is never resumed.
 */
#include "config.h"

#include <string.h>

#include <criterion/criterion.h>

#include "recover.h"
#include "util.h"

#define SRC	JOURNAL_SOURCE
#define DST	JOURNAL_DEST
#define C	JE_CLAIMED
#define M	JE_MODE_SET
#define R	JE_RECORDING
#define P	JE_PREPARED
#define L	JE_STATE_LOADED
#define K	JE_COMMITTING
#define S	JE_SWITCHED

struct rcase {
	const char		*what;
	enum journal_side	 side;
	uint32_t		 flags;
	int			 same_boot;
	enum recover_mode	 mode;
	enum recover_peer	 peer;
	unsigned int		 actions;
	enum recover_outcome	 outcome;
	const char		*says;	/* in the reason */
};

static const struct rcase cases[] = {
	{ "source in setup, device untouched", SRC, C, 1, 0, 0,
	  RA_RELEASE, RECOVER_FAILED, "still running" },
	{ "source in pre-copy", SRC, C | R, 1, 0, 0,
	  RA_STOP_RECORDING | RA_RELEASE, RECOVER_FAILED, "recording stopped" },
	{ "source in stop-copy", SRC, C | R | M, 1, 0, 0,
	  RA_STOP_RECORDING | RA_RESUME | RA_RELEASE, RECOVER_FAILED,
	  "no Switchover was sent" },
	{ "source, recording already stopped", SRC, C | M, 1, 0, 0,
	  RA_RESUME | RA_RELEASE, RECOVER_FAILED, "resumed here" },
	{ "source sent Switchover: ask first", SRC, C | M | K, 1, 0, 0,
	  RA_ASK_PEER, RECOVER_NEED_FACTS, "asking it" },
	{ "source sent Switchover, destination resumed", SRC, C | M | K, 1, 0,
	  RECOVER_PEER_RESUMED, RA_KEEP_STOPPED, RECOVER_COMPLETED,
	  "says it resumed" },
	{ "source sent Switchover, destination did not", SRC, C | M | K, 1, 0,
	  RECOVER_PEER_NOT_RESUMED, RA_RESUME | RA_RELEASE, RECOVER_FAILED,
	  "did not resume" },
	{ "source sent Switchover, destination silent", SRC, C | M | K, 1, 0,
	  RECOVER_PEER_UNREACHABLE, RA_KEEP_STOPPED, RECOVER_UNCERTAIN,
	  "kept stopped" },
	{ "source saw Done", SRC, C | M | K | S, 1, 0, 0,
	  RA_KEEP_STOPPED, RECOVER_COMPLETED, "confirmed the resume" },
	{ "source in stop-copy, host rebooted", SRC, C | R | M, 0, 0, 0,
	  0, RECOVER_FAILED, "rebooted" },
	{ "source saw Done, host rebooted", SRC, C | M | K | S, 0, 0, 0,
	  0, RECOVER_COMPLETED, "rebooted" },
	{ "destination prepared", DST, C | P | M, 1, 0, 0,
	  RA_DISCARD | RA_REVOKE_TOKEN | RA_RELEASE, RECOVER_FAILED,
	  "token revoked" },
	{ "destination part-loaded", DST, C | P | M | L, 1, 0, 0,
	  RA_DISCARD | RA_REVOKE_TOKEN | RA_RELEASE, RECOVER_FAILED,
	  "discarded" },
	{ "destination resuming: ask the device", DST, C | P | M | L | K, 1,
	  0, 0, RA_QUERY_MODE, RECOVER_NEED_FACTS, "asking the device" },
	{ "destination resuming, device active", DST, C | P | M | L | K, 1,
	  RECOVER_MODE_ACTIVE, 0, RA_RELEASE, RECOVER_COMPLETED,
	  "had resumed" },
	{ "destination resuming, device stopped", DST, C | P | M | L | K, 1,
	  RECOVER_MODE_STOPPED, 0, RA_DISCARD | RA_REVOKE_TOKEN | RA_RELEASE,
	  RECOVER_FAILED, "had not resumed" },
	{ "destination resuming, device cannot say", DST, C | P | M | L | K,
	  1, RECOVER_MODE_ERROR, 0, RA_REVOKE_TOKEN, RECOVER_UNCERTAIN,
	  "left as it is" },
	{ "destination resumed", DST, C | P | M | L | K | S, 1, 0, 0,
	  RA_RELEASE, RECOVER_COMPLETED, "completed" },
	{ "destination prepared, host rebooted", DST, C | P | M, 0, 0, 0,
	  0, RECOVER_FAILED, "nothing to undo" },
};

Test(recover, cases)
{
	struct journal_entry	e;
	struct recover_facts	f;
	struct recover_plan	p;
	char			a[256], b[256];
	size_t			i;

	for (i = 0; i < nitems(cases); i++) {
		memset(&e, 0, sizeof(e));
		e.id = 1;
		e.side = cases[i].side;
		e.flags = cases[i].flags;
		strlcpy_v(e.device, "sim0/vf2", sizeof(e.device));
		strlcpy_v(e.phase, "stopcopy", sizeof(e.phase));
		f.same_boot = cases[i].same_boot;
		f.mode = cases[i].mode;
		f.peer = cases[i].peer;
		recover_plan(&e, &f, &p);
		cr_expect_eq(p.actions, cases[i].actions, "%s: %s, not %s",
		    cases[i].what, recover_actions_str(p.actions, a, sizeof(a)),
		    recover_actions_str(cases[i].actions, b, sizeof(b)));
		cr_expect_eq(p.outcome, cases[i].outcome, "%s: %s",
		    cases[i].what, recover_outcome_name(p.outcome));
		cr_expect(strstr(p.reason, cases[i].says) != NULL,
		    "%s: '%s' lacks '%s'", cases[i].what, p.reason,
		    cases[i].says);
		cr_expect(strncmp(p.reason, "daemon restarted while the job "
		    "was in stopcopy (", 40) == 0, "%s: %s", cases[i].what,
		    p.reason);
		cr_expect(strstr(p.reason, "sim0/vf2") != NULL, "%s",
		    p.reason);
	}
}

/* Every input the journal can hold, with every fact. */
Test(recover, invariants_over_every_input)
{
	static const enum journal_side sides[] = { SRC, DST };
	struct journal_entry	e;
	struct recover_facts	f;
	struct recover_plan	p;
	unsigned int		s, fl, boot, mode, peer, n = 0;

	memset(&e, 0, sizeof(e));
	e.id = 1;
	strlcpy_v(e.device, "pf/vf0", sizeof(e.device));
	for (s = 0; s < 2; s++)
	for (fl = 0; fl <= JE_ALL; fl++)
	for (boot = 0; boot < 2; boot++)
	for (mode = 0; mode <= RECOVER_MODE_ERROR; mode++)
	for (peer = 0; peer <= RECOVER_PEER_UNREACHABLE; peer++) {
		e.side = sides[s];
		e.flags = fl;
		f.same_boot = (int)boot;
		f.mode = (enum recover_mode)mode;
		f.peer = (enum recover_peer)peer;
		recover_plan(&e, &f, &p);
		n++;
		/* the worst outcome: both hosts run the device */
		if ((fl & (K | S)) && (p.actions & RA_RESUME))
			cr_assert(e.side == SRC && !(fl & S) &&
			    peer == RECOVER_PEER_NOT_RESUMED,
			    "side %d flags 0x%x peer %u: resumed", e.side, fl,
			    peer);
		cr_assert(!(e.side == DST && (p.actions & RA_RESUME)));
		cr_assert(!((p.actions & RA_RESUME) &&
		    (p.actions & RA_KEEP_STOPPED)));
		cr_assert(!(e.side == SRC && (p.actions & RA_DISCARD)));
		/* a rebooted host's record is never acted upon */
		if (!boot)
			cr_assert_eq(p.actions, 0);
		/* asking for facts and acting are separate rounds */
		cr_assert_eq(p.outcome == RECOVER_NEED_FACTS,
		    (p.actions & (RA_QUERY_MODE | RA_ASK_PEER)) != 0);
		if (p.outcome == RECOVER_NEED_FACTS)
			cr_assert_eq(p.actions & ~(RA_QUERY_MODE |
			    RA_ASK_PEER), 0);
		/* undo only what was done */
		if (!(fl & R))
			cr_assert(!(p.actions & RA_STOP_RECORDING));
		if (!(fl & C))
			cr_assert(!(p.actions & RA_RELEASE));
		if (!(fl & P))
			cr_assert(!(p.actions & RA_REVOKE_TOKEN));
		/* a source that completed keeps its VF stopped */
		if (e.side == SRC && boot && (fl & S))
			cr_assert(p.actions & RA_KEEP_STOPPED);
		cr_assert_neq(p.reason[0], '\0');
	}
	cr_assert_eq(n, 2 * 128 * 2 * 4 * 4);
}

Test(recover, names)
{
	char	buf[256];

	cr_assert_str_eq(recover_actions_str(0, buf, sizeof(buf)), "nothing");
	cr_assert_str_eq(recover_actions_str(RA_STOP_RECORDING | RA_RESUME |
	    RA_RELEASE, buf, sizeof(buf)), "stop recording, resume, release");
	cr_assert_str_eq(recover_outcome_name(RECOVER_UNCERTAIN),
	    "uncertain");
}
