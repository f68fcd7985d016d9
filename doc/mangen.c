/*
 * mangen.c: vmigd(8)'s and vmigd.conf(5)'s lists written from conf.c's
 * table (config_doc), the one that also parses the options and the file
 * and prints --help; run by the build (doc/local.mk) to fill the
 * templates doc/vmigd.8.in and doc/vmigd.conf.5.in.
 *
 *	mangen options		every option of vmigd(8), keys included
 *	mangen keys SECTION	the keys of [SECTION] for vmigd.conf(5)
 *	mangen list		"[section] key" per line (drift checks)
 */
#include "config.h"

#include <stdio.h>
#include <string.h>

#include "conf.h"
#include "mdoc.h"

/* "The default is X." or "Empty by default." and when it applies. */
static void
mangen_default(const struct config_doc *d)
{
	if (*d->def == '\0')
		printf("Empty by default.\n");
	else
		printf("The default is\n.Ql %s .\n", d->def);
	printf("%s\n", d->reload ? "A reload (SIGHUP) applies a change." :
	    "A change takes effect at the next start.");
}

int
main(int argc, char **argv)
{
	struct config_doc	d;
	char			doc[512];
	size_t			i;

	if (argc == 2 && strcmp(argv[1], "options") == 0) {
		for (i = 0; config_doc(i, &d) == 0; i++) {
			mdoc_option(stdout, d.short_opt, d.option, d.arg);
			if (d.section == NULL) {
				mdoc_text(stdout, d.doc);
				continue;
			}
			snprintf(doc, sizeof(doc), "%s;", d.doc);
			mdoc_text(stdout, doc);
			printf("key\n.Cm %s\nof\n.Cm \\&[%s]\\&\nin\n"
			    ".Xr vmigd.conf 5 .\n", d.key, d.section);
		}
		return (0);
	}
	if (argc == 3 && strcmp(argv[1], "keys") == 0) {
		for (i = 0; config_doc(i, &d) == 0; i++) {
			if (d.section == NULL || strcmp(d.section, argv[2]) != 0)
				continue;
			printf(".It Cm %s No = Ar %s\n", d.key, d.arg);
			mdoc_text(stdout, d.doc);
			printf(".Pp\n");
			mangen_default(&d);
			printf("Also the option\n.Fl \\-%s .\n", d.option);
		}
		return (0);
	}
	if (argc == 2 && strcmp(argv[1], "list") == 0) {
		for (i = 0; config_doc(i, &d) == 0; i++) {
			if (d.section != NULL)
				printf("[%s] %s\n", d.section, d.key);
		}
		return (0);
	}
	fprintf(stderr, "usage: mangen options | keys SECTION | list\n");
	return (2);
}
