/*
 * restart.h: the state directory while vmigd runs and when it starts
 * (DESIGN.md, "Crash recovery"): the engine's journal records and
 * finished jobs go to journal.c and history.c through the engine's
 * journal interface (job.h struct engine_journal), and at start-up every
 * job the journal shows unfinished is resolved by recover.c's rules,
 * carried out as recovery jobs (job_resume.c), before the control socket
 * answers.
 */
#ifndef VMIG_RESTART_H
#define VMIG_RESTART_H

struct vmigd;

/*
 * Open the journal and the history under state_dir and read the journal
 * (unfinished jobs are kept for restart_recover); sets d->state_max_id.
 * 0, or -1 with the reason logged.
 */
int	restart_open(struct vmigd *d);
/* 1 if the journal holds jobs to resolve (restart_recover has work). */
int	restart_pending(const struct vmigd *d);
/* Give the engine its journal interface (after engine_new). */
void	restart_hooks(struct vmigd *d);
/*
 * Resolve every unfinished job read by restart_open (the devices are
 * there: after the backends settled); done(arg) follows once every one
 * is, at once if there are none.
 */
void	restart_recover(struct vmigd *d, void (*done)(void *), void *arg);
void	restart_free(struct vmigd *d);

#endif /* VMIG_RESTART_H */
