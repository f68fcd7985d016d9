/*
 * restart.c: the engine's journal interface and the start-up recovery
 * (restart.h). recover.c decides, the engine's recovery jobs act, this
 * file only carries facts and plans between them and keeps the outcome.
 */
#include "config.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <vmig/backend.h>

#include "api.h"
#include "backend.h"
#include "conf.h"
#include "history.h"
#include "job.h"
#include "journal.h"
#include "log.h"
#include "recover.h"
#include "restart.h"
#include "rpc.h"
#include "util.h"
#include "vmigd.h"

/* One unfinished job of the dead daemon, on its way to being resolved. */
struct restart_item {
	struct restart		*r;
	struct journal_entry	 e;
	struct recover_facts	 f;
	struct recover_plan	 p;
};

struct restart {
	struct vmigd		*d;
	struct restart_item	*items;
	size_t			 n, cap;
	size_t			 left;		/* not resolved yet */
	void			(*done)(void *);
	void			*done_arg;
};

static void	restart_step(struct restart_item *);

/* ------------------------------------------------------------ while running */

static int
restart_record(void *arg, struct job *job, char *err, size_t errlen)
{
	struct vmigd		*d = arg;
	struct journal_entry	 e;
	unsigned int		 k, n = job->ndevs > 0 ? job->ndevs : 1;
	int			 rc;

	for (k = 0; k < n; k++) {
		memset(&e, 0, sizeof(e));
		e.id = job->ndevs > 0 ? job->devs[k].id : job->id;
		e.side = job->dir == JOB_OUTGOING ? JOURNAL_SOURCE :
		    JOURNAL_DEST;
		strlcpy_v(e.device, job->ndevs > 0 ? job->devs[k].name :
		    job->device_name, sizeof(e.device));
		strlcpy_v(e.phase, job_phase_name(job->phase), sizeof(e.phase));
		e.flags = job->jflags;
		strlcpy_v(e.peer, job->peer != NULL ? job->peer : "",
		    sizeof(e.peer));
		e.started_ms = job->created_unix_ms;
		if ((rc = journal_record(d->journal, &e, err, errlen)) != 0)
			return (rc);
	}
	return (0);
}

static void
restart_history_add(struct vmigd *d, const Vmig__V1__Job *m)
{
	char	err[512];

	if (history_add(d->history, m, unix_ms(), err, sizeof(err)) != 0)
		log_error("job %" PRIu64 " ended but is not kept in the "
		    "history: %s", m->id, err);
}

/* A job ended: its history record first, then its undo record goes. */
static void
restart_ended(void *arg, struct job *job)
{
	struct vmigd	*d = arg;
	Vmig__V1__Job	*m;
	unsigned int	 k, n = job->ndevs > 0 ? job->ndevs : 1;
	uint64_t	 id;
	char		 err[512];

	for (k = 0; k < n; k++) {
		m = rpc_msg_new(&vmig__v1__job__descriptor);
		api_job_to_proto(job, k, m);
		restart_history_add(d, m);
		protobuf_c_message_free_unpacked(&m->base, NULL);
		id = job->ndevs > 0 ? job->devs[k].id : job->id;
		if (job->jflags != 0 && journal_forget(d->journal, id, err,
		    sizeof(err)) != 0)
			log_error("%s", err);
	}
}

void
restart_hooks(struct vmigd *d)
{
	struct engine_journal	j;

	j.arg = d;
	j.record = restart_record;
	j.ended = restart_ended;
	engine_set_journal(d->engine, &j);
}

/* ------------------------------------------------------------ start-up */

static void
restart_collect(const struct journal_entry *e, int same_boot, void *arg)
{
	struct restart		*r = arg;
	struct restart_item	*it;

	if (r->n == r->cap) {
		r->cap = r->cap != 0 ? r->cap * 2 : 8;
		r->items = xreallocarray(r->items, r->cap, sizeof(*r->items));
	}
	it = &r->items[r->n++];
	memset(it, 0, sizeof(*it));
	it->r = r;
	it->e = *e;
	it->f.same_boot = same_boot;
}

static int
restart_max_id(const Vmig__V1__Job *job, uint64_t ended, void *arg)
{
	uint64_t	*max = arg;
	size_t		 i;

	*max = MAX(*max, job->id);
	for (i = 0; i < job->n_group; i++)
		*max = MAX(*max, job->group[i]);
	return (0);
}

int
restart_open(struct vmigd *d)
{
	struct journal_load_stats	 js;
	struct history_load_stats	 hs;
	struct restart			*r;
	uint64_t			 max = 0;
	char				 err[1024];

	r = d->restart = xcalloc(1, sizeof(*r));
	r->d = d;
	if ((d->journal = journal_open(d->conf->state_dir, 0, err,
	    sizeof(err))) == NULL ||
	    journal_load(d->journal, restart_collect, r, &js, err,
	    sizeof(err)) != 0 ||
	    (d->history = history_open(d->conf->state_dir,
	    d->conf->history_size, &hs, err, sizeof(err))) == NULL) {
		log_error("%s", err);
		return (-1);
	}
	/* new job ids go on above every id a previous run gave */
	(void)history_foreach(d->history, restart_max_id, &max);
	d->state_max_id = MAX(js.max_id, max);
	log_info("state %s: %u unfinished jobs in the journal (%u refused), "
	    "%u finished jobs in the history", d->conf->state_dir, js.records,
	    js.bad, history_count(d->history));
	return (0);
}

int
restart_pending(const struct vmigd *d)
{
	return (d->restart != NULL && d->restart->n > 0);
}

/*
 * The dead daemon's job ends here: its final record in the history, its
 * journal record gone (kept when keep: nothing could be done, the next
 * start tries again).
 */
static void
restart_item_end(struct restart_item *it, const char *failed, int keep)
{
	struct restart	*r = it->r;
	struct vmigd	*d = r->d;
	Vmig__V1__Job	 m = VMIG__V1__JOB__INIT;
	char		 reason[RECOVER_REASON_MAX + 300], err[512];

	snprintf(reason, sizeof(reason), "%s%s%s", it->p.reason,
	    failed != NULL ? "; but " : "", failed != NULL ? failed : "");
	if (it->p.outcome == RECOVER_COMPLETED && failed == NULL)
		log_info("journal: job %" PRIu64 " %s: %s", it->e.id,
		    recover_outcome_name(it->p.outcome), reason);
	else
		log_warnx("journal: job %" PRIu64 " %s: %s", it->e.id,
		    failed != NULL ? "not recovered" :
		    recover_outcome_name(it->p.outcome), reason);
	if (!keep) {
		m.id = it->e.id;
		m.direction = it->e.side == JOURNAL_SOURCE ?
		    VMIG__V1__JOB_DIRECTION__DIRECTION_OUTGOING :
		    VMIG__V1__JOB_DIRECTION__DIRECTION_INCOMING;
		m.device = it->e.device;
		m.phase = it->p.outcome == RECOVER_COMPLETED && failed == NULL ?
		    VMIG__V1__JOB_PHASE__PHASE_COMPLETED :
		    VMIG__V1__JOB_PHASE__PHASE_FAILED;
		m.peer = it->e.peer;
		m.error = reason;
		m.vm = "";
		m.created_unix_ms = it->e.started_ms;
		restart_history_add(d, &m);
		if (journal_forget(d->journal, it->e.id, err, sizeof(err)) != 0)
			log_error("%s", err);
	}
	VMIG_ASSERT(r->left > 0);
	if (--r->left == 0 && r->done != NULL)
		r->done(r->done_arg);
}

/* Start a recovery job on the entry's device; -1 when it cannot start. */
static int
restart_job(struct restart_item *it, unsigned int what, engine_done_fn fn)
{
	struct vmigd	*d = it->r->d;
	struct device	*dev;
	struct job	*job;
	char		 err[512], why[600];

	if (backend_dev_lookup(d->backends, it->e.device, &dev, err,
	    sizeof(err)) != 0 || engine_recover_device(d->engine, dev, what,
	    fn, it, &job, err, sizeof(err)) != 0) {
		snprintf(why, sizeof(why), "%s: the journal record is kept for "
		    "the next start", err);
		restart_item_end(it, why, 1);
		return (-1);
	}
	return (0);
}

static void
restart_acted(void *arg, struct job *job, int rc, const char *err)
{
	struct restart_item	*it = arg;
	char			 why[600];

	if (rc != 0) {
		snprintf(why, sizeof(why), "recovery job %" PRIu64 " failed: "
		    "%s", job->id, err != NULL ? err : strerror(-rc));
		restart_item_end(it, why, 0);
		return;
	}
	restart_item_end(it, NULL, 0);
}

static void
restart_mode_read(void *arg, struct job *job, int rc, const char *err)
{
	struct restart_item	*it = arg;

	if (rc != 0)
		it->f.mode = RECOVER_MODE_ERROR;
	else if (job_device_mode(job) == VMIG_MODE_ACTIVE)
		it->f.mode = RECOVER_MODE_ACTIVE;
	else if (job_device_mode(job) == VMIG_MODE_STOPPED ||
	    job_device_mode(job) == VMIG_MODE_FROZEN)
		it->f.mode = RECOVER_MODE_STOPPED;
	else
		it->f.mode = RECOVER_MODE_ERROR;
	restart_step(it);
}

/* The plan's device actions as a recovery job's (job.h ER_*). */
static unsigned int
restart_what(unsigned int actions)
{
	unsigned int	what = 0;

	if (actions & RA_STOP_RECORDING)
		what |= ER_STOP_RECORDING;
	if (actions & RA_RESUME)
		what |= ER_DISCARD | ER_ACTIVE;
	if (actions & RA_DISCARD)
		what |= ER_DISCARD | ER_STOPPED;
	return (what);
}

/*
 * Plan, find out the facts the plan asks for, act. The peer is not asked
 * (no query exchange yet): it counts as unreachable, which keeps a
 * source VF that may run on the destination stopped (DESIGN.md).
 */
static void
restart_step(struct restart_item *it)
{
	char		flags[128], acts[256];
	unsigned int	what;

	for (;;) {
		recover_plan(&it->e, &it->f, &it->p);
		log_debug("%s: job %" PRIu64 " (%s %s, %s, %s): rule %d: %s",
		    __func__, it->e.id, journal_side_name(it->e.side),
		    it->e.device, it->e.phase, journal_flags_str(it->e.flags,
		    flags, sizeof(flags)), it->p.rule,
		    recover_actions_str(it->p.actions, acts, sizeof(acts)));
		if (it->p.outcome != RECOVER_NEED_FACTS)
			break;
		if (it->p.actions & RA_QUERY_MODE) {
			(void)restart_job(it, ER_QUERY, restart_mode_read);
			return;
		}
		VMIG_ASSERT(it->p.actions & RA_ASK_PEER);
		log_warnx("journal: job %" PRIu64 ": the destination (%s) may "
		    "have resumed %s and vmigd has no way to ask it yet",
		    it->e.id, it->e.peer, it->e.device);
		it->f.peer = RECOVER_PEER_UNREACHABLE;
	}
	if ((what = restart_what(it->p.actions)) == 0) {
		restart_item_end(it, NULL, 0);
		return;
	}
	(void)restart_job(it, what, restart_acted);
}

void
restart_recover(struct vmigd *d, void (*done)(void *), void *arg)
{
	struct restart	*r = d->restart;
	size_t		 i, n;

	if (r == NULL || r->n == 0) {
		done(arg);
		return;
	}
	log_info("journal: resolving %zu jobs the previous vmigd left "
	    "unfinished before answering calls", r->n);
	r->done = done;
	r->done_arg = arg;
	/* each may end at once; r->left must not reach 0 before the last */
	n = r->left = r->n;
	for (i = 0; i < n; i++)
		restart_step(&r->items[i]);
}

void
restart_free(struct vmigd *d)
{
	if (d->restart == NULL)
		return;
	free(d->restart->items);
	free(d->restart);
	d->restart = NULL;
}
