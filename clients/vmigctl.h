/*
 * vmigctl.h: the command line client's commands, as a table.
 *
 * A command is one struct vmigctl_cmd (name, usage, one-line help, its
 * options, exec) listed in vmigctl.c's table; a group of commands lives in
 * its own file (vmigctl_info.c: version, devices, status; vmigctl_watch.c:
 * watch; vmigctl_job.c: the migration commands). vmigctl.c takes the
 * global options out of argv wherever they stand before "--" (a command
 * option of the same name wins) and answers --help from the table, so
 * exec sees only its own arguments and returns the process exit status
 * (VMIGCTL_EXIT_*). Numbers go through vmigctl_number(), one strict,
 * range-checked parser, from a table entry per numeric option.
 */
#ifndef VMIG_VMIGCTL_H
#define VMIG_VMIGCTL_H

#include <getopt.h>
#include <stdint.h>
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
	int			 stream;	/* JSON: one object a line */
	struct vmig_client_tls	 tls;		/* for tls+tcp:// */
	struct vmig_client	*client;	/* opened on first call */
};

struct vmigctl_cmd {
	const char		*name;
	const char		*usage;		/* arguments after the name */
	const char		*help;
	const struct option	*opts;		/* getopt_long's; NULL: none */
	int			(*exec)(struct vmigctl *,
				    const struct vmigctl_cmd *, int, char **);
};

/*
 * The command's next option from cmd->opts (getopt_long; -1 at the end).
 * An unknown option or a missing value is reported with the command's
 * usage and gives '?': the command then returns VMIGCTL_EXIT_USAGE.
 */
int	vmigctl_getopt(const struct vmigctl_cmd *cmd, int argc, char **argv);
/*
 * After the options: are there min to max arguments left (from optind)?
 * VMIGCTL_EXIT_OK, or the usage error ("give <what>") returned.
 */
int	vmigctl_nargs(const struct vmigctl_cmd *cmd, int argc, char **argv,
	    int min, int max, const char *what);

/*
 * A numeric option: digits only (no sign, space, fraction), within
 * [min, max]. The error names it: "--count -3: not a whole number from 1
 * to 4294967295" ("a number of <unit>", or "a size" with VMIGCTL_NUM_SIZE).
 */
#define VMIGCTL_NUM_SIZE	0x1	/* K, M, G, T suffixes (1024s) */
#define VMIGCTL_NUM_HEX		0x2	/* 0x... */
struct vmigctl_num {
	const char	*name;		/* "--count", "job ID" */
	const char	*unit;		/* "milliseconds"; NULL: none */
	uint64_t	 min, max;
	int		 flags;
};
int	vmigctl_number(const struct vmigctl_num *n, const char *s,
	    uint64_t *out, char *err, size_t errlen);
/* The same into a uint32_t (n->max must fit). */
int	vmigctl_number32(const struct vmigctl_num *n, const char *s,
	    uint32_t *out, char *err, size_t errlen);
/* The command table (vmigctl.c), NULL-terminated. */
extern const struct vmigctl_cmd *const vmigctl_cmds[];

/* A global option, for --help and the man page. */
struct vmigctl_opt {
	char		 short_opt;
	const char	*name;		/* NULL ends the table */
	const char	*arg;		/* NULL: takes no value */
	const char	*doc;
};
extern const struct vmigctl_opt vmigctl_opts[];

/*
 * vmigctl_man.c: print what vmigctl(1) lists, as mdoc(7): "options" or
 * "commands" (vmigctl --mdoc WHAT, run by the build). Returns the exit
 * status.
 */
int	vmigctl_mdoc(FILE *f, const char *what);

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
/* vmigctl_top.c */
extern const struct vmigctl_cmd vmigctl_top_cmd;

/*
 * Send req, wait for the answer. On success *resp holds a response whose
 * status is OK and VMIGCTL_EXIT_OK is returned. Otherwise the error is
 * printed (with --json the response too) and the exit status returned.
 */
int	vmigctl_call(struct vmigctl *ctl, Vmig__V1__Request *req,
	    Vmig__V1__Response **resp);
/*
 * With --json: print the whole response (one line in a stream: wait,
 * jobs --watch, migrate --wait); returns 1 if it did.
 */
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

/* "300 ms", "1.5 s" for people (sizes: fmt_bytes() in common/fmt.h). */
const char *vmigctl_duration(unsigned long long ms, char *buf, size_t len);
/* An enum value's name without its prefix ("MODE_ACTIVE" -> "active"). */
const char *vmigctl_enum(const ProtobufCEnumDescriptor *d, int value,
	    const char *prefix, char *buf, size_t len);

#endif /* VMIG_VMIGCTL_H */
