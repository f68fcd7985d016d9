/*
 * mdoc.h: writing mdoc(7) from the programs' own tables. The man pages
 * are generated at build time (doc/local.mk) from the tables that also
 * make --help and parse the options, so they cannot drift.
 */
#ifndef VMIG_MDOC_H
#define VMIG_MDOC_H

#include <stdio.h>

/* Text on a line of its own, escaped: backslashes, a leading . or '. */
void	mdoc_text(FILE *f, const char *s);
/* The same for a command line: every - a minus (never a line break). */
void	mdoc_usage(FILE *f, const char *s);
/* ".It Fl c , Fl \-config Ar FILE" (short_opt '\0': long only). */
void	mdoc_option(FILE *f, char short_opt, const char *name,
	    const char *arg);

#endif /* VMIG_MDOC_H */
