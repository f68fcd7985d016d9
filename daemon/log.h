/*
 * log.h: leveled logging to stderr (journald picks it up under systemd,
 * with each line's priority: see log.c).
 *
 * log_debug("%s: ...", __func__) is the house style. log_warn() appends
 * strerror(errno); log_warnx() does not. fatal()/fatalx() are for states
 * that cannot happen: they log and abort.
 */
#ifndef VMIG_LOG_H
#define VMIG_LOG_H

#include <stdarg.h>

enum log_level {
	LOG_LEVEL_ERROR = 0,
	LOG_LEVEL_WARN = 1,
	LOG_LEVEL_INFO = 2,
	LOG_LEVEL_DEBUG = 3,
};

void	log_init(int level, const char *tag);
void	log_setlevel(int level);
int	log_getlevel(void);
int	log_parselevel(const char *name);	/* -1 if unknown */
const char *log_levelname(int level);
/* Is stderr the stream JOURNAL_STREAM names? (log_init() asks once.) */
int	log_stderr_is_journal(void);

void	log_msg(int level, const char *fmt, ...)
	    __attribute__((format(printf, 2, 3)));
void	log_vmsg(int level, const char *fmt, va_list ap)
	    __attribute__((format(printf, 2, 0)));
void	log_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void	log_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void	log_warnx(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void	log_info(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void	log_debug(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void	fatal(const char *fmt, ...)
	    __attribute__((format(printf, 1, 2), noreturn));
void	fatalx(const char *fmt, ...)
	    __attribute__((format(printf, 1, 2), noreturn));

/* Invariants: loud, always on (redis serverAssert). */
#define VMIG_ASSERT(x) do {						\
	if (!(x))							\
		fatalx("%s:%d: %s: assertion failed: %s", __FILE__,	\
		    __LINE__, __func__, #x);				\
} while (0)

#endif /* VMIG_LOG_H */
