/*
 * vmigctl_man.c: vmigctl(1)'s lists (global options, commands) written
 * from the tables --help uses, by `vmigctl --mdoc WHAT` at build time
 * (doc/local.mk puts them into doc/vmigctl.1.in).
 */
#include "config.h"

#include <stdio.h>
#include <string.h>

#include "mdoc.h"
#include "vmigctl.h"

int
vmigctl_mdoc(FILE *f, const char *what)
{
	const struct vmigctl_cmd *const	*c;
	const struct vmigctl_opt	*o;

	if (strcmp(what, "options") == 0) {
		for (o = vmigctl_opts; o->name != NULL; o++) {
			mdoc_option(f, o->short_opt, o->name, o->arg);
			mdoc_text(f, o->doc);
		}
	} else if (strcmp(what, "commands") == 0) {
		for (c = vmigctl_cmds; *c != NULL; c++) {
			fprintf(f, ".It Xo\n.Cm %s\n", (*c)->name);
			if (*(*c)->usage != '\0')
				mdoc_usage(f, (*c)->usage);
			fputs(".Xc\n", f);
			mdoc_text(f, (*c)->help);
		}
	} else {
		vmigctl_warnx("--mdoc %s: options or commands", what);
		return (VMIGCTL_EXIT_USAGE);
	}
	return (fflush(f) == 0 ? VMIGCTL_EXIT_OK : VMIGCTL_EXIT_ERROR);
}
