/*
 * vmigctl.h: the command line client's commands, as a table.
 *
 * A command is one struct vmigctl_cmd (name, usage, one-line help, exec)
 * listed in vmigctl.c's table; a group of commands lives in its own file
 * (vmigctl_info.c: version, devices, status; vmigctl_watch.c: watch).
 * exec returns the process exit status (VMIGCTL_EXIT_*).
 */
#ifndef VMIG_VMIGCTL_H
#define VMIG_VMIGCTL_H

#include <stdio.h>

#include "vmig/client.h"

#define VMIGCTL_EXIT_OK		0
#define VMIGCTL_EXIT_ERROR	1	/* vmigd answered an error */
#define VMIGCTL_EXIT_USAGE	2
#define VMIGCTL_EXIT_UNREACHABLE 3	/* vmigd down or not answering */

struct vmigctl {
	const char		*url;
	int			 json;
	int			 timeout_ms;
	struct vmig_client	*client;	/* opened on first call */
};

struct vmigctl_cmd {
	const char	*name;
	const char	*usage;		/* arguments after the name */
	const char	*help;
	int		(*exec)(struct vmigctl *, const struct vmigctl_cmd *,
			    int, char **);
};

extern const struct vmigctl_cmd vmigctl_version_cmd;
extern const struct vmigctl_cmd vmigctl_devices_cmd;
extern const struct vmigctl_cmd vmigctl_status_cmd;
extern const struct vmigctl_cmd vmigctl_watch_cmd;
/* vmigctl_job.c: the migration commands */
extern const struct vmigctl_cmd vmigctl_prepare_cmd;
extern const struct vmigctl_cmd vmigctl_migrate_cmd;
extern const struct vmigctl_cmd vmigctl_job_cmd;
extern const struct vmigctl_cmd vmigctl_jobs_cmd;
extern const struct vmigctl_cmd vmigctl_wait_cmd;
extern const struct vmigctl_cmd vmigctl_cancel_cmd;
extern const struct vmigctl_cmd vmigctl_switchover_cmd;
extern const struct vmigctl_cmd vmigctl_policy_cmd;
extern const struct vmigctl_cmd vmigctl_release_cmd;
extern const struct vmigctl_cmd vmigctl_compat_cmd;

/*
 * Send req, wait for the answer. On success *resp holds a response whose
 * status is OK and VMIGCTL_EXIT_OK is returned. Otherwise the error is
 * printed (with --json the response too) and the exit status returned.
 */
int	vmigctl_call(struct vmigctl *ctl, Vmig__V1__Request *req,
	    Vmig__V1__Response **resp);
/* With --json: print the whole response; returns 1 if it did. */
int	vmigctl_json(struct vmigctl *ctl, const Vmig__V1__Response *resp);
int	vmigctl_usage(const struct vmigctl_cmd *cmd, const char *fmt, ...)
	    __attribute__((format(printf, 2, 3)));
void	vmigctl_warnx(const char *fmt, ...)
	    __attribute__((format(printf, 1, 2)));

/* Aligned text tables: add rows of cells, then print. */
struct vmigctl_table;
struct vmigctl_table *vmigctl_table_new(unsigned int ncols, ...);
void	vmigctl_table_row(struct vmigctl_table *t, ...);
void	vmigctl_table_print(struct vmigctl_table *t, FILE *f);
void	vmigctl_table_free(struct vmigctl_table *t);

/* "1.5 GiB", "300 ms" for people. */
const char *vmigctl_bytes(unsigned long long n, char *buf, size_t len);
const char *vmigctl_duration(unsigned long long ms, char *buf, size_t len);
/* An enum value's name without its prefix ("MODE_ACTIVE" -> "active"). */
const char *vmigctl_enum(const ProtobufCEnumDescriptor *d, int value,
	    const char *prefix, char *buf, size_t len);

#endif /* VMIG_VMIGCTL_H */
