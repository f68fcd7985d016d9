/*
 * vmigctl.c: command line client of vmigd: global options, the command
 * table, the call helper and the output helpers the commands share.
 */
#include "config.h"

#include <assert.h>
#include <ctype.h>
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "json.h"
#include "pbname.h"
#include "vmigctl.h"

const struct vmigctl_cmd *const vmigctl_cmds[] = {
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
	&vmigctl_top_cmd,
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

/* A command's --help: its usage, what it does, its options. */
static void
vmigctl_cmd_help(const struct vmigctl_cmd *cmd, FILE *f)
{
	const struct vmigctl_opt	*o;
	const char			*sep = "";

	fprintf(f, "usage: vmigctl [global options] %s%s%s\n\n%s\n",
	    cmd->name, *cmd->usage != '\0' ? " " : "", cmd->usage, cmd->help);
	fprintf(f, "\nGlobal options (anywhere before --): ");
	for (o = vmigctl_opts; o->name != NULL; o++) {
		fprintf(f, "%s--%s%s%s", sep, o->name, o->arg != NULL ? " " :
		    "", o->arg != NULL ? o->arg : "");
		sep = ", ";
	}
	fprintf(f, "\n");
}

#define STR(x)	STR2(x)
#define STR2(x)	#x
/* The global options: --help and the man page (vmigctl_man.c). */
const struct vmigctl_opt vmigctl_opts[] = {
	{ 'c', "connect", "URL", "vmigd's control URL (default $VMIG_URL or "
	  VMIG_CLIENT_DEFAULT_URL ")" },
	{ 'j', "json", NULL, "print answers as JSON (streams: one object a "
	  "line)" },
	{ 't', "timeout", "MS", "how long to wait for an answer (default "
	  STR(VMIG_CLIENT_DEFAULT_TIMEOUT_MS) ")" },
	{ 0, "tls-ca", "FILE", "for tls+tcp://: the CA vmigd's certificate "
	  "chains to (default $VMIG_TLS_CA)" },
	{ 0, "tls-cert", "FILE", "this client's certificate, PEM (default "
	  "$VMIG_TLS_CERT)" },
	{ 0, "tls-key", "FILE", "its key (default $VMIG_TLS_KEY, or in the "
	  "--tls-cert file)" },
	{ 0, "tls-server-name", "NAME", "the name vmigd's certificate carries "
	  "(default: the URL's host)" },
	{ 'h', "help", NULL, "this help (COMMAND --help: the command's)" },
	{ 0, NULL, NULL, NULL },
};

static void
vmigctl_help(FILE *f)
{
	const struct vmigctl_cmd *const	*c;
	const struct vmigctl_opt	*o;
	char				 opt[48];

	fprintf(f,
	    "usage: vmigctl [--connect URL] [--json] [--timeout MS] [--tls-ca "
	    "FILE --tls-cert FILE [--tls-key FILE]] COMMAND [ARGS]\n"
	    "\n"
	    "Talk to vmigd, the passthrough device migration daemon.\n"
	    "\n");
	for (o = vmigctl_opts; o->name != NULL; o++) {
		snprintf(opt, sizeof(opt), "%c%c%c --%s%s%s",
		    o->short_opt != 0 ? '-' : ' ', o->short_opt != 0 ?
		    o->short_opt : ' ', o->short_opt != 0 ? ',' : ' ', o->name,
		    o->arg != NULL ? " " : "", o->arg != NULL ? o->arg : "");
		fprintf(f, "  %-18s %s\n", opt, o->doc);
	}
	fprintf(f, "\nGlobal options are taken anywhere before \"--\", unless "
	    "the command has\nan option of the same name (migrate --timeout "
	    "S).\n\nCommands:\n");
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
	json_print_message(stdout, &resp->base, ctl->stream ? -1 : 2);
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
	    (ctl->client = vmig_client_open_tls(ctl->url, ctl->timeout_ms,
	    &ctl->tls, err, sizeof(err))) == NULL) {
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
	return (pb_enum_label(d, value, prefix, buf, len));
}

/* ---------------------------------------------------------------- numbers */

int
vmigctl_number(const struct vmigctl_num *n, const char *s, uint64_t *out,
    char *err, size_t errlen)
{
	static const char	 units[] = "KMGT";
	const char		*p = s, *u;
	uint64_t		 v = 0, d;
	unsigned int		 base = 10, shift;

	if ((n->flags & VMIGCTL_NUM_HEX) && p[0] == '0' &&
	    (p[1] == 'x' || p[1] == 'X')) {
		base = 16;
		p += 2;
	}
	/* digits only: no sign, space or fraction strtoull would take */
	if (!(base == 16 ? isxdigit((unsigned char)*p) :
	    isdigit((unsigned char)*p)))
		goto bad;
	for (; isxdigit((unsigned char)*p); p++) {
		if (isdigit((unsigned char)*p))
			d = (uint64_t)(*p - '0');
		else if (base == 16)
			d = (uint64_t)(tolower((unsigned char)*p) - 'a' + 10);
		else
			break;
		if (v > (UINT64_MAX - d) / base)
			goto bad;
		v = v * base + d;
	}
	if (*p != '\0') {
		/* K, M, G, T (powers of 1024), then "i" and "B" as people add */
		if (!(n->flags & VMIGCTL_NUM_SIZE) ||
		    (u = strchr(units, toupper((unsigned char)*p))) == NULL)
			goto bad;
		shift = 10 * (unsigned int)(u - units + 1);
		p++;
		if (*p == 'i')
			p++;
		if (*p == 'B')
			p++;
		if (*p != '\0' || v > (UINT64_MAX >> shift))
			goto bad;
		v <<= shift;
	}
	if (v < n->min || v > n->max)
		goto bad;
	*out = v;
	return (0);
bad:
	snprintf(err, errlen, "%s %s: not %s%s from %" PRIu64 " to %" PRIu64
	    "%s", n->name, s, n->unit != NULL ? "a number of " :
	    (n->flags & VMIGCTL_NUM_SIZE) ? "a size" : "a whole number",
	    n->unit != NULL ? n->unit : "", n->min, n->max,
	    (n->flags & VMIGCTL_NUM_SIZE) ? " (bytes, or with K, M, G or T)" :
	    "");
	return (-1);
}

int
vmigctl_number32(const struct vmigctl_num *n, const char *s, uint32_t *out,
    char *err, size_t errlen)
{
	uint64_t	v;

	assert(n->max <= UINT32_MAX);
	if (vmigctl_number(n, s, &v, err, errlen) != 0)
		return (-1);
	*out = (uint32_t)v;
	return (0);
}

/* ---------------------------------------------------------------- options */

int
vmigctl_getopt(const struct vmigctl_cmd *cmd, int argc, char **argv)
{
	static const struct option	none[] = { { NULL, 0, NULL, 0 } };
	int				ch;

	opterr = 0;
	ch = getopt_long(argc, argv, ":", cmd->opts != NULL ? cmd->opts : none,
	    NULL);
	if (ch == '?' || ch == ':') {
		vmigctl_usage(cmd, "%s %s", ch == '?' ? "unknown option" :
		    "a value is missing after", argv[optind - 1]);
		return ('?');
	}
	return (ch);
}

int
vmigctl_nargs(const struct vmigctl_cmd *cmd, int argc, char **argv, int min,
    int max, const char *what)
{
	int	n = argc - optind;

	if (n > max)
		return (vmigctl_usage(cmd, "unexpected argument '%s'",
		    argv[optind + max]));
	if (n < min)
		return (vmigctl_usage(cmd, "give %s", what));
	return (VMIGCTL_EXIT_OK);
}

/*
 * Global options, wherever they stand before "--": each is known by its
 * spellings and whether it takes a value. After the command a global
 * option yields to a command option of the same spelling (migrate's and
 * policy's --timeout are theirs).
 */
enum { GLOBAL_CONNECT, GLOBAL_JSON, GLOBAL_TIMEOUT, GLOBAL_TLS_CA,
    GLOBAL_TLS_CERT, GLOBAL_TLS_KEY, GLOBAL_TLS_NAME, GLOBAL_HELP };

static const struct vmigctl_global {
	const char	*lname;		/* "--connect" */
	const char	*sname;		/* "-c"; NULL: none */
	int		 value;
} vmigctl_globals[] = {
	[GLOBAL_CONNECT] = { "--connect", "-c", 1 },
	[GLOBAL_JSON] = { "--json", "-j", 0 },
	[GLOBAL_TIMEOUT] = { "--timeout", "-t", 1 },
	[GLOBAL_TLS_CA] = { "--tls-ca", NULL, 1 },
	[GLOBAL_TLS_CERT] = { "--tls-cert", NULL, 1 },
	[GLOBAL_TLS_KEY] = { "--tls-key", NULL, 1 },
	[GLOBAL_TLS_NAME] = { "--tls-server-name", NULL, 1 },
	[GLOBAL_HELP] = { "--help", "-h", 0 },
};

#define NGLOBALS	(sizeof(vmigctl_globals) / sizeof(vmigctl_globals[0]))

static const struct vmigctl_num vmigctl_timeout_num = {
	"--timeout", "milliseconds", 1, 86400000, 0
};

/* Does cmd have an option spelled arg ("--name" or "--name=value")? */
static const struct option *
vmigctl_cmd_option(const struct vmigctl_cmd *cmd, const char *arg)
{
	const struct option	*o;
	size_t			 len;

	if (cmd == NULL || cmd->opts == NULL || strncmp(arg, "--", 2) != 0)
		return (NULL);
	arg += 2;
	len = strcspn(arg, "=");
	for (o = cmd->opts; o->name != NULL; o++) {
		if (strlen(o->name) == len && strncmp(o->name, arg, len) == 0)
			return (o);
	}
	return (NULL);
}

/*
 * Is argv[*i] a global option? If so apply it, step *i over its value and
 * return 1; 0 if it is not one; VMIGCTL_EXIT_* + 2 (so never 0 or 1) to
 * exit with that status.
 */
static int
vmigctl_global(struct vmigctl *ctl, const struct vmigctl_cmd *cmd, int argc,
    char **argv, int *i)
{
	const struct vmigctl_global	*g;
	const char			*arg = argv[*i], *val = NULL;
	char				 err[256];
	uint64_t			 ms;
	size_t				 len, k;

	for (k = 0; k < NGLOBALS; k++) {
		g = &vmigctl_globals[k];
		len = strlen(g->lname);
		if ((g->sname != NULL && strcmp(arg, g->sname) == 0) ||
		    strcmp(arg, g->lname) == 0)
			break;
		if (g->value && strncmp(arg, g->lname, len) == 0 &&
		    arg[len] == '=') {
			val = arg + len + 1;	/* --timeout=500 */
			break;
		}
		if (g->value && g->sname != NULL &&
		    strncmp(arg, g->sname, 2) == 0 &&
		    arg[2] != '\0') {
			val = arg + 2;		/* -t500 */
			break;
		}
	}
	if (k == NGLOBALS || vmigctl_cmd_option(cmd, arg))
		return (0);
	if (g->value && val == NULL) {
		if (*i + 1 >= argc) {
			vmigctl_warnx("%s needs a value", arg);
			return (VMIGCTL_EXIT_USAGE + 2);
		}
		val = argv[++*i];
	}
	switch (k) {
	case GLOBAL_CONNECT:
		ctl->url = val;
		break;
	case GLOBAL_TLS_CA:
		ctl->tls.ca_file = val;
		break;
	case GLOBAL_TLS_CERT:
		ctl->tls.cert_file = val;
		break;
	case GLOBAL_TLS_KEY:
		ctl->tls.key_file = val;
		break;
	case GLOBAL_TLS_NAME:
		ctl->tls.server_name = val;
		break;
	case GLOBAL_JSON:
		ctl->json = 1;
		break;
	case GLOBAL_TIMEOUT:
		if (vmigctl_number(&vmigctl_timeout_num, val, &ms, err,
		    sizeof(err)) != 0) {
			vmigctl_warnx("%s", err);
			return (VMIGCTL_EXIT_USAGE + 2);
		}
		ctl->timeout_ms = (int)ms;
		break;
	case GLOBAL_HELP:
		if (cmd == NULL)
			vmigctl_help(stdout);
		else
			vmigctl_cmd_help(cmd, stdout);
		return (VMIGCTL_EXIT_OK + 2);
	}
	return (1);
}

/*
 * Take the global options out of argv (before "--", anywhere), find the
 * command; leave in argv the command's name and its own arguments.
 * Returns -1 to go on, or the status to exit with.
 */
static int
vmigctl_args(struct vmigctl *ctl, int *argcp, char **argv,
    const struct vmigctl_cmd **cmdp)
{
	const struct vmigctl_cmd *const	*c;
	const struct vmigctl_cmd	*cmd = NULL;
	const struct option		*o;
	int				 argc = *argcp, i, n = 0, rv;

	for (i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--") == 0) {
			if (cmd == NULL && i + 1 < argc)
				argv[n++] = argv[++i];	/* "-- COMMAND" */
			else if (cmd != NULL)
				argv[n++] = argv[i];
			break;
		}
		if ((rv = vmigctl_global(ctl, cmd, argc, argv, &i)) > 1)
			return (rv - 2);
		if (rv == 1)
			continue;
		if (cmd == NULL && argv[i][0] == '-' && argv[i][1] != '\0') {
			vmigctl_warnx("unknown option %s before the command "
			    "(see vmigctl --help)", argv[i]);
			return (VMIGCTL_EXIT_USAGE);
		}
		argv[n++] = argv[i];
		if (cmd == NULL) {
			for (c = vmigctl_cmds; *c != NULL; c++) {
				if (strcmp((*c)->name, argv[i]) == 0)
					break;
			}
			if (*c == NULL) {
				vmigctl_warnx("unknown command '%s' (see vmigctl "
				    "--help)", argv[i]);
				return (VMIGCTL_EXIT_USAGE);
			}
			cmd = *c;
			continue;
		}
		/* a command option's value is never a global option */
		if ((o = vmigctl_cmd_option(cmd, argv[i])) != NULL &&
		    o->has_arg == required_argument &&
		    strchr(argv[i], '=') == NULL && i + 1 < argc)
			argv[n++] = argv[++i];
	}
	/* what follows "--" is the command's, untouched */
	for (i++; i < argc; i++)
		argv[n++] = argv[i];
	argv[n] = NULL;
	if (cmd == NULL) {
		vmigctl_help(stderr);
		return (VMIGCTL_EXIT_USAGE);
	}
	*argcp = n;
	*cmdp = cmd;
	return (-1);
}

/* ---------------------------------------------------------------- main */

/* An environment variable, NULL when unset or empty. */
static const char *
vmigctl_env(const char *name)
{
	const char	*v = getenv(name);

	return (v != NULL && *v != '\0' ? v : NULL);
}

int
main(int argc, char **argv)
{
	const struct vmigctl_cmd	*cmd;
	struct vmigctl			 ctl;
	int				 rv;

	memset(&ctl, 0, sizeof(ctl));
	ctl.url = getenv("VMIG_URL");
	if (ctl.url == NULL || *ctl.url == '\0')
		ctl.url = VMIG_CLIENT_DEFAULT_URL;
	ctl.timeout_ms = VMIG_CLIENT_DEFAULT_TIMEOUT_MS;
	ctl.tls.ca_file = vmigctl_env("VMIG_TLS_CA");
	ctl.tls.cert_file = vmigctl_env("VMIG_TLS_CERT");
	ctl.tls.key_file = vmigctl_env("VMIG_TLS_KEY");

	/* for the build: the man page's generated lists */
	if (argc == 3 && strcmp(argv[1], "--mdoc") == 0)
		return (vmigctl_mdoc(stdout, argv[2]));
	if ((rv = vmigctl_args(&ctl, &argc, argv, &cmd)) >= 0)
		return (rv);
	optind = 0;	/* the command parses its own options */
	rv = cmd->exec(&ctl, cmd, argc, argv);
	vmig_client_close(ctl.client);
	return (rv);
}
