/*
 * recover.c: the crash-recovery rules (recover.h) as a table, first match
 * wins. DESIGN.md, "Crash recovery", walks through the same cases.
 */
#include "config.h"

#include <stdio.h>
#include <string.h>

#include "log.h"
#include "recover.h"
#include "util.h"

#define ANY	(-1)
#define SRC	JOURNAL_SOURCE
#define DST	JOURNAL_DEST

struct recover_rule {
	int		 side;		/* ANY, SRC, DST */
	uint32_t	 has;		/* all of these flags */
	uint32_t	 lacks;		/* none of these */
	int		 same_boot;	/* ANY, 0, 1 */
	int		 mode;		/* ANY or enum recover_mode */
	int		 peer;		/* ANY or enum recover_peer */
	unsigned int	 actions;
	enum recover_outcome outcome;
	const char	*why;
};

static const struct recover_rule recover_rules[] = {
	/* 0: the host rebooted: its devices were reset, its VMs are gone */
	{ ANY, JE_SWITCHED, 0, 0, ANY, ANY, 0, RECOVER_COMPLETED,
	  "the host has rebooted since; the job had completed" },
	{ ANY, 0, 0, 0, ANY, ANY, 0, RECOVER_FAILED,
	  "the host has rebooted since (its devices were reset and its VMs "
	  "stopped with it): nothing to undo" },

	/* source, the destination confirmed the resume: a completed job */
	{ SRC, JE_SWITCHED, 0, 1, ANY, ANY,
	  RA_STOP_RECORDING | RA_KEEP_STOPPED, RECOVER_COMPLETED,
	  "the destination had confirmed the resume; the VF stays stopped "
	  "(its VM runs on the destination) until `vmigctl release`" },
	/* source, Switchover (being) sent: only the destination knows */
	{ SRC, JE_COMMITTING, JE_SWITCHED, 1, ANY, RECOVER_PEER_UNASKED,
	  RA_ASK_PEER, RECOVER_NEED_FACTS,
	  "the destination may have resumed: asking it" },
	{ SRC, JE_COMMITTING, JE_SWITCHED, 1, ANY, RECOVER_PEER_RESUMED,
	  RA_STOP_RECORDING | RA_KEEP_STOPPED, RECOVER_COMPLETED,
	  "the destination says it resumed the VF; the VF here stays stopped "
	  "until `vmigctl release`" },
	{ SRC, JE_COMMITTING, JE_SWITCHED, 1, ANY, RECOVER_PEER_NOT_RESUMED,
	  RA_STOP_RECORDING | RA_RESUME | RA_RELEASE, RECOVER_FAILED,
	  "the destination says it did not resume the VF: resumed here" },
	{ SRC, JE_COMMITTING, JE_SWITCHED, 1, ANY, RECOVER_PEER_UNREACHABLE,
	  RA_STOP_RECORDING | RA_KEEP_STOPPED, RECOVER_UNCERTAIN,
	  "the destination may have resumed the VF and could not be asked: "
	  "kept stopped, because running it on both hosts would be worse; "
	  "check the job on the destination and, if it did not complete "
	  "there, run `vmigctl release DEVICE --resume` here" },
	/* source, device stopped or frozen, no Switchover sent */
	{ SRC, JE_MODE_SET, JE_COMMITTING | JE_SWITCHED, 1, ANY, ANY,
	  RA_STOP_RECORDING | RA_RESUME | RA_RELEASE, RECOVER_FAILED,
	  "the destination could not have resumed (no Switchover was sent): "
	  "the VF was resumed here" },
	/* source, device running all along */
	{ SRC, 0, JE_MODE_SET | JE_COMMITTING | JE_SWITCHED, 1, ANY, ANY,
	  RA_STOP_RECORDING | RA_RELEASE, RECOVER_FAILED,
	  "the VF was still running: write recording stopped" },

	/* destination, resumed: the VM's device runs here */
	{ DST, JE_SWITCHED, 0, 1, ANY, ANY, RA_RELEASE, RECOVER_COMPLETED,
	  "the VF had resumed: the job had completed" },
	/* destination, resume (being) sent: the device knows */
	{ DST, JE_COMMITTING, JE_SWITCHED, 1, RECOVER_MODE_UNKNOWN, ANY,
	  RA_QUERY_MODE, RECOVER_NEED_FACTS,
	  "the resume may have happened: asking the device" },
	{ DST, JE_COMMITTING, JE_SWITCHED, 1, RECOVER_MODE_ACTIVE, ANY,
	  RA_RELEASE, RECOVER_COMPLETED,
	  "the VF had resumed before the restart: the job completed (the "
	  "source was not told; it keeps its VF stopped and may ask)" },
	{ DST, JE_COMMITTING, JE_SWITCHED, 1, RECOVER_MODE_STOPPED, ANY,
	  RA_DISCARD | RA_REVOKE_TOKEN | RA_RELEASE, RECOVER_FAILED,
	  "the VF had not resumed: its partial state was discarded" },
	{ DST, JE_COMMITTING, JE_SWITCHED, 1, RECOVER_MODE_ERROR, ANY,
	  RA_REVOKE_TOKEN, RECOVER_UNCERTAIN,
	  "the VF may have resumed and cannot say: left as it is; check "
	  "the device, then `vmigctl release DEVICE`" },
	/* destination, prepared, perhaps part-loaded, never resumed */
	{ DST, 0, JE_COMMITTING | JE_SWITCHED, 1, ANY, ANY,
	  RA_DISCARD | RA_REVOKE_TOKEN | RA_RELEASE, RECOVER_FAILED,
	  "the VF never resumed: its partial state was discarded and the "
	  "prepared token revoked" },
};

static int
recover_match(const struct recover_rule *r, const struct journal_entry *e,
    const struct recover_facts *f)
{
	return ((r->side == ANY || r->side == (int)e->side) &&
	    (e->flags & r->has) == r->has && (e->flags & r->lacks) == 0 &&
	    (r->same_boot == ANY || r->same_boot == (f->same_boot != 0)) &&
	    (r->mode == ANY || r->mode == (int)f->mode) &&
	    (r->peer == ANY || r->peer == (int)f->peer));
}

void
recover_plan(const struct journal_entry *e, const struct recover_facts *f,
    struct recover_plan *p)
{
	const struct recover_rule	*r = NULL;
	size_t				 i;

	memset(p, 0, sizeof(*p));
	for (i = 0; i < nitems(recover_rules); i++) {
		if (recover_match(&recover_rules[i], e, f)) {
			r = &recover_rules[i];
			break;
		}
	}
	/* the table covers every side, flag set and fact: a gap is a bug */
	VMIG_ASSERT(r != NULL);
	p->rule = (int)i;
	p->outcome = r->outcome;
	p->actions = r->actions;
	/* undo only what was done */
	if (!(e->flags & JE_RECORDING))
		p->actions &= ~RA_STOP_RECORDING;
	if (!(e->flags & JE_PREPARED))
		p->actions &= ~RA_REVOKE_TOKEN;
	if (!(e->flags & JE_CLAIMED))
		p->actions &= ~RA_RELEASE;
	snprintf(p->reason, sizeof(p->reason), "daemon restarted while the "
	    "job was in %s (%s, %s): %s", e->phase[0] != '\0' ? e->phase :
	    "an unknown phase", journal_side_name(e->side), e->device, r->why);
}

const char *
recover_outcome_name(enum recover_outcome o)
{
	switch (o) {
	case RECOVER_NEED_FACTS:
		return ("need facts");
	case RECOVER_FAILED:
		return ("failed");
	case RECOVER_COMPLETED:
		return ("completed");
	case RECOVER_UNCERTAIN:
		return ("uncertain");
	}
	return ("?");
}

const char *
recover_actions_str(unsigned int actions, char *buf, size_t len)
{
	static const char *const names[] = { "query the device's mode",
	    "ask the peer", "stop recording", "resume", "discard state",
	    "revoke token", "release", "keep stopped" };

	return (bits_str(actions, names, nitems(names), ", ", "nothing", buf,
	    len));
}
