/*
 * vmigctl.c: command line client of vmigd: global options, the command
 * table, the call helper and the output helpers the commands share.
 */
#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "json.h"
#include "vmigctl.h"

static const struct vmigctl_cmd *const vmigctl_cmds[] = {
	&vmigctl_version_cmd,
	&vmigctl_devices_cmd,
	&vmigctl_status_cmd,
	&vmigctl_watch_cmd,
	&vmigctl_prepare_cmd,
	&vmigctl_migrate_cmd,
	&vmigctl_jobs_cmd,
	&vmigctl_job_cmd,
	&vmigctl_wait_cmd,
	&vmigctl_cancel_cmd,
	&vmigctl_switchover_cmd,
	&vmigctl_policy_cmd,
	&vmigctl_release_cmd,
	&vmigctl_compat_cmd,
	NULL,
};

void
vmigctl_warnx(const char *fmt, ...)
{
	va_list	ap;

	fputs("vmigctl: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

int
vmigctl_usage(const struct vmigctl_cmd *cmd, const char *fmt, ...)
{
	va_list	ap;

	if (fmt != NULL) {
		fprintf(stderr, "vmigctl %s: ", cmd->name);
		va_start(ap, fmt);
		vfprintf(stderr, fmt, ap);
		va_end(ap);
		fputc('\n', stderr);
	}
	fprintf(stderr, "usage: vmigctl [global options] %s%s%s\n", cmd->name,
	    *cmd->usage != '\0' ? " " : "", cmd->usage);
	return (VMIGCTL_EXIT_USAGE);
}

static void
vmigctl_help(FILE *f)
{
	const struct vmigctl_cmd *const	*c;

	fprintf(f,
	    "usage: vmigctl [--connect URL] [--json] [--timeout MS] COMMAND "
	    "[ARGS]\n"
	    "\n"
	    "Talk to vmigd, the passthrough device migration daemon.\n"
	    "\n"
	    "  -c, --connect URL   vmigd's control URL (default $VMIG_URL or "
	    "%s)\n"
	    "  -j, --json          print the answer as JSON\n"
	    "  -t, --timeout MS    how long to wait for an answer (default "
	    "%d)\n"
	    "  -h, --help          this help\n"
	    "\n"
	    "Commands:\n", VMIG_CLIENT_DEFAULT_URL,
	    VMIG_CLIENT_DEFAULT_TIMEOUT_MS);
	for (c = vmigctl_cmds; *c != NULL; c++)
		fprintf(f, "  %-8s %-18s %s\n", (*c)->name, (*c)->usage,
		    (*c)->help);
	fprintf(f,
	    "\n"
	    "Exit status: 0 ok, 1 vmigd answered an error, 2 usage, 3 vmigd "
	    "unreachable.\n");
}

int
vmigctl_json(struct vmigctl *ctl, const Vmig__V1__Response *resp)
{
	if (!ctl->json)
		return (0);
	json_print_message(stdout, &resp->base, 2);
	fflush(stdout);
	return (1);
}

int
vmigctl_call(struct vmigctl *ctl, Vmig__V1__Request *req,
    Vmig__V1__Response **resp)
{
	Vmig__V1__Response	*r;
	char			 err[512];

	*resp = NULL;
	if (ctl->client == NULL &&
	    (ctl->client = vmig_client_open(ctl->url, ctl->timeout_ms, err,
	    sizeof(err))) == NULL) {
		vmigctl_warnx("%s", err);
		return (VMIGCTL_EXIT_UNREACHABLE);
	}
	if (vmig_client_call(ctl->client, req, &r, err, sizeof(err)) != 0) {
		vmigctl_warnx("%s", err);
		return (VMIGCTL_EXIT_UNREACHABLE);
	}
	if (r->status->code != VMIG__V1__STATUS_CODE__STATUS_OK) {
		vmigctl_json(ctl, r);
		vmigctl_warnx("%s: %s", vmig_status_name(r->status->code),
		    r->status->message);
		vmig_client_free(r);
		return (VMIGCTL_EXIT_ERROR);
	}
	*resp = r;
	return (VMIGCTL_EXIT_OK);
}

/* ---------------------------------------------------------------- output */

struct vmigctl_table {
	unsigned int	  ncols;
	unsigned int	  nrows;
	char		**cells;	/* nrows * ncols */
	size_t		 *width;
};

static char *
vmigctl_strdup(const char *s)
{
	char	*p;

	if ((p = strdup(s != NULL ? s : "")) == NULL) {
		vmigctl_warnx("out of memory");
		exit(VMIGCTL_EXIT_ERROR);
	}
	return (p);
}

static void *
vmigctl_realloc(void *p, size_t n, size_t size)
{
	if ((p = reallocarray(p, n, size)) == NULL) {
		vmigctl_warnx("out of memory");
		exit(VMIGCTL_EXIT_ERROR);
	}
	return (p);
}

static void
vmigctl_table_add(struct vmigctl_table *t, va_list ap)
{
	unsigned int	i;
	size_t		len;
	char		*s;

	t->cells = vmigctl_realloc(t->cells, (size_t)(t->nrows + 1) * t->ncols,
	    sizeof(*t->cells));
	for (i = 0; i < t->ncols; i++) {
		s = vmigctl_strdup(va_arg(ap, const char *));
		t->cells[t->nrows * t->ncols + i] = s;
		if ((len = strlen(s)) > t->width[i])
			t->width[i] = len;
	}
	t->nrows++;
}

struct vmigctl_table *
vmigctl_table_new(unsigned int ncols, ...)
{
	struct vmigctl_table	*t;
	va_list			 ap;

	t = vmigctl_realloc(NULL, 1, sizeof(*t));
	memset(t, 0, sizeof(*t));
	t->ncols = ncols;
	t->width = vmigctl_realloc(NULL, ncols, sizeof(*t->width));
	memset(t->width, 0, ncols * sizeof(*t->width));
	va_start(ap, ncols);
	vmigctl_table_add(t, ap);	/* the header */
	va_end(ap);
	return (t);
}

void
vmigctl_table_row(struct vmigctl_table *t, ...)
{
	va_list	ap;

	va_start(ap, t);
	vmigctl_table_add(t, ap);
	va_end(ap);
}

void
vmigctl_table_print(struct vmigctl_table *t, FILE *f)
{
	unsigned int	r, c;

	for (r = 0; r < t->nrows; r++) {
		for (c = 0; c < t->ncols; c++) {
			if (c + 1 == t->ncols)
				fprintf(f, "%s\n", t->cells[r * t->ncols + c]);
			else
				fprintf(f, "%-*s  ", (int)t->width[c],
				    t->cells[r * t->ncols + c]);
		}
	}
}

void
vmigctl_table_free(struct vmigctl_table *t)
{
	unsigned int	i;

	for (i = 0; i < t->nrows * t->ncols; i++)
		free(t->cells[i]);
	free(t->cells);
	free(t->width);
	free(t);
}

const char *
vmigctl_bytes(unsigned long long n, char *buf, size_t len)
{
	static const char *const units[] = { "B", "KiB", "MiB", "GiB", "TiB" };
	double		d = (double)n;
	unsigned int	u = 0;

	while (d >= 1024 && u + 1 < sizeof(units) / sizeof(units[0])) {
		d /= 1024;
		u++;
	}
	if (u == 0)
		snprintf(buf, len, "%llu B", n);
	else
		snprintf(buf, len, "%.1f %s", d, units[u]);
	return (buf);
}

const char *
vmigctl_duration(unsigned long long ms, char *buf, size_t len)
{
	if (ms < 1000)
		snprintf(buf, len, "%llu ms", ms);
	else if (ms < 60000)
		snprintf(buf, len, "%.1f s", (double)ms / 1000);
	else if (ms < 3600000)
		snprintf(buf, len, "%llum%02llus", ms / 60000,
		    (ms / 1000) % 60);
	else
		snprintf(buf, len, "%lluh%02llum", ms / 3600000,
		    (ms / 60000) % 60);
	return (buf);
}

const char *
vmigctl_enum(const ProtobufCEnumDescriptor *d, int value, const char *prefix,
    char *buf, size_t len)
{
	const ProtobufCEnumValue	*v;
	const char			*s;
	size_t				 i;

	if ((v = protobuf_c_enum_descriptor_get_value(d, value)) == NULL) {
		snprintf(buf, len, "%d", value);
		return (buf);
	}
	s = v->name;
	if (strncmp(s, prefix, strlen(prefix)) == 0)
		s += strlen(prefix);
	for (i = 0; s[i] != '\0' && i + 1 < len; i++)
		buf[i] = s[i] == '_' ? '-' : (char)tolower((unsigned char)s[i]);
	buf[i] = '\0';
	return (buf);
}

/* ---------------------------------------------------------------- main */

int
main(int argc, char **argv)
{
	static const struct option	 opts[] = {
		{ "connect", required_argument, NULL, 'c' },
		{ "json", no_argument, NULL, 'j' },
		{ "timeout", required_argument, NULL, 't' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const struct vmigctl_cmd *const	*c;
	struct vmigctl			 ctl;
	char				*end;
	long				 ms;
	int				 ch, rv;

	memset(&ctl, 0, sizeof(ctl));
	ctl.url = getenv("VMIG_URL");
	if (ctl.url == NULL || *ctl.url == '\0')
		ctl.url = VMIG_CLIENT_DEFAULT_URL;
	ctl.timeout_ms = VMIG_CLIENT_DEFAULT_TIMEOUT_MS;

	/* '+': options after the command belong to the command. */
	while ((ch = getopt_long(argc, argv, "+c:jt:h", opts, NULL)) != -1) {
		switch (ch) {
		case 'c':
			ctl.url = optarg;
			break;
		case 'j':
			ctl.json = 1;
			break;
		case 't':
			errno = 0;
			ms = strtol(optarg, &end, 10);
			if (*optarg == '\0' || *end != '\0' || errno != 0 ||
			    ms <= 0 || ms > 86400000) {
				vmigctl_warnx("--timeout %s: not a number of "
				    "milliseconds (1 to 86400000)", optarg);
				return (VMIGCTL_EXIT_USAGE);
			}
			ctl.timeout_ms = (int)ms;
			break;
		case 'h':
			vmigctl_help(stdout);
			return (VMIGCTL_EXIT_OK);
		default:
			vmigctl_help(stderr);
			return (VMIGCTL_EXIT_USAGE);
		}
	}
	argc -= optind;
	argv += optind;
	if (argc == 0) {
		vmigctl_help(stderr);
		return (VMIGCTL_EXIT_USAGE);
	}
	for (c = vmigctl_cmds; *c != NULL; c++) {
		if (strcmp((*c)->name, argv[0]) == 0)
			break;
	}
	if (*c == NULL) {
		vmigctl_warnx("unknown command '%s' (see vmigctl --help)",
		    argv[0]);
		return (VMIGCTL_EXIT_USAGE);
	}
	optind = 0;	/* the command parses its own options */
	rv = (*c)->exec(&ctl, *c, argc, argv);
	vmig_client_close(ctl.client);
	return (rv);
}
