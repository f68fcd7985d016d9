/*
 * mdoc.c: the few mdoc(7) constructs the generated lists need.
 */
#include "config.h"

#include <stdio.h>

#include "mdoc.h"

/* Text lines of at most MDOC_LINE bytes (mandoc's style), broken at spaces. */
#define MDOC_LINE	80

static void
mdoc_lines(FILE *f, const char *s, int minus)
{
	const char	*p, *brk;
	size_t		 n;

	while (*s == ' ')
		s++;
	while (*s != '\0') {
		/* a line: up to the last space that keeps it short */
		brk = NULL;
		for (p = s, n = 0; *p != '\0'; p++) {
			if (*p == ' ')
				brk = p;
			n += *p == '\\' || (*p == '-' && minus) ? 2 : 1;
			if (n >= MDOC_LINE - 2 && brk != NULL)
				break;
		}
		if (*p == '\0')
			brk = p;
		if (*s == '.' || *s == '\'')
			fputs("\\&", f);
		for (p = s; p < brk; p++) {
			if (*p == '\\')
				fputs("\\e", f);
			else if (*p == '-' && minus)
				fputs("\\-", f);
			else
				fputc(*p, f);
		}
		fputc('\n', f);
		for (s = brk; *s == ' '; s++)
			;
	}
}

void
mdoc_text(FILE *f, const char *s)
{
	mdoc_lines(f, s, 0);
}

void
mdoc_usage(FILE *f, const char *s)
{
	mdoc_lines(f, s, 1);
}

void
mdoc_option(FILE *f, char short_opt, const char *name, const char *arg)
{
	fputs(".It", f);
	if (short_opt != '\0')
		fprintf(f, " Fl %c ,", short_opt);
	fprintf(f, " Fl \\-%s", name);
	if (arg != NULL)
		fprintf(f, " Ar %s", arg);
	fputc('\n', f);
}
