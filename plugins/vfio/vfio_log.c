/*
 * vfio_log.c: see vfio_log.h.
 */
#include "config.h"

#include <stdarg.h>
#include <stdio.h>

#include "vfio_log.h"

void	(*vfio_logfn)(int, const char *, ...);
int	vfio_log_stderr_max = VMIG_LOG_WARN;

int
vfio_err(char *err, size_t errlen, int code, const char *fmt, ...)
{
	va_list	ap;

	if (err != NULL && errlen > 0) {
		va_start(ap, fmt);
		vsnprintf(err, errlen, fmt, ap);
		va_end(ap);
	}
	return (code);
}

void
vfio_log_stderr(int level, const char *fmt, ...)
{
	static const char *const names[] = { "error", "warn", "info",
	    "debug" };
	va_list	ap;
	char	buf[1024];

	if (level > vfio_log_stderr_max || level < 0 || level > 3)
		return;
	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	fprintf(stderr, "vfio %s: %s\n", names[level], buf);
}
