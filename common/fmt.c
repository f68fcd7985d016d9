/*
 * fmt.c: numbers for people (see fmt.h). The one byte formatter of the
 * daemon's reasons (converge.c, sched.c) and vmigctl's tables.
 */
#include "config.h"

#include <stdio.h>

#include "fmt.h"

#define KIB	1024.0
#define MIB	(1024.0 * 1024)
#define GIB	(1024.0 * 1024 * 1024)

const char *
fmt_bytes(char *buf, size_t len, double n)
{
	if (buf == NULL || len == 0)
		return (buf);
	/* Truncation is harmless here (messages), so it is not checked. */
	if (n >= GIB)
		(void)snprintf(buf, len, "%.2f GiB", n / GIB);
	else if (n >= MIB)
		(void)snprintf(buf, len, "%.1f MiB", n / MIB);
	else if (n >= KIB)
		(void)snprintf(buf, len, "%.1f KiB", n / KIB);
	else
		(void)snprintf(buf, len, "%.0f B", n);
	return (buf);
}

const char *
fmt_rate(char *buf, size_t len, double bytes_per_s)
{
	char	b[32];

	if (buf == NULL || len == 0)
		return (buf);
	(void)snprintf(buf, len, "%s/s", fmt_bytes(b, sizeof(b), bytes_per_s));
	return (buf);
}
