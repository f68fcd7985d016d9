/*
 * vfio_log.h: logging and error sentences for the VFIO layer.
 *
 * The layer is linked into a plugin that must not link the daemon, so it
 * logs through a function pointer the plugin sets (host->log) and fills
 * "char *err, size_t errlen" itself. Levels are VMIG_LOG_* (backend.h).
 */
#ifndef VMIG_VFIO_LOG_H
#define VMIG_VFIO_LOG_H

#include <stddef.h>

#include "vmig/backend.h"

extern void	(*vfio_logfn)(int level, const char *fmt, ...)
		    __attribute__((format(printf, 2, 3)));

#define vfio_log(lvl, ...) do {						\
	if (vfio_logfn != NULL)						\
		vfio_logfn((lvl), __VA_ARGS__);				\
} while (0)
#define vfio_debug(...)	vfio_log(VMIG_LOG_DEBUG, __VA_ARGS__)
#define vfio_info(...)	vfio_log(VMIG_LOG_INFO, __VA_ARGS__)
#define vfio_warn(...)	vfio_log(VMIG_LOG_WARN, __VA_ARGS__)

/* Put a sentence in err (if there is room) and return code. */
int	vfio_err(char *err, size_t errlen, int code, const char *fmt, ...)
	    __attribute__((format(printf, 4, 5)));

/* A stderr logger (tests, tools): level at most max is printed. */
void	vfio_log_stderr(int level, const char *fmt, ...)
	    __attribute__((format(printf, 2, 3)));
extern int vfio_log_stderr_max;

#endif /* VMIG_VFIO_LOG_H */
