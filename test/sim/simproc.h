/*
 * simproc.h: start and drive a vmig-simdev process from C (tests and the
 * benchmark): a private temporary directory for its sockets, its "ready"
 * line awaited on a pipe, then one control line at a time.
 */
#ifndef SIMPROC_H
#define SIMPROC_H

#include <sys/types.h>

#include <stddef.h>

struct simproc {
	pid_t	 pid;
	int	 ctl;			/* control connection */
	char	 dir[128];
	char	 sock[160];		/* admin-queue socket */
	char	 ctlpath[160];
	char	 spec[192];		/* "sim:" + sock */
};

/* The built simulator: $VMIG_BUILDDIR/test/sim/vmig-simdev. */
const char *simproc_binary(void);
/* rel under $VMIG_BUILDDIR, into buf. */
const char *simproc_path(const char *rel, char *buf, size_t len);
/*
 * The two halves of simproc_start, for other simulators: a private
 * directory and its socket paths (sp->sock, sp->ctlpath), then run argv
 * (argv[0] the binary), wait for a stdout line starting with ready and
 * connect the control socket.
 */
int	 simproc_prepare(struct simproc *);
int	 simproc_exec(struct simproc *, const char *const *argv,
	    const char *ready);
/* argv: extra options, NULL-terminated (may be NULL). */
int	 simproc_start(struct simproc *, int nvfs, const char *const *extra);
/* Send one line, read the reply (without the newline); 0 if "ok...". */
int	 simproc_cmd(struct simproc *, char *reply, size_t len,
	    const char *fmt, ...) __attribute__((format(printf, 4, 5)));
/* "ok VALUE" → the value as a number (hex digests); 0 on success. */
int	 simproc_hex(struct simproc *, unsigned long long *,
	    const char *fmt, ...) __attribute__((format(printf, 3, 4)));
void	 simproc_stop(struct simproc *);
/* A value from a "state" reply: key=... */
int	 simproc_field(const char *reply, const char *key, char *out,
	    size_t len);

#endif /* SIMPROC_H */
