/*
 * log.c: leveled logging to stderr.
 *
 * One line per message: "<time> <level> <tag>: message", with a wall clock
 * to the millisecond so test logs can be read side by side. When stderr is
 * the journal (JOURNAL_STREAM names its device and inode) the line is
 * "<N>level: message" instead: journald takes <N> as the syslog priority
 * (sd-daemon.h's SD_ERR, ...), so `journalctl -p err` finds our errors,
 * and it adds its own time and tag.
 */
#include "config.h"

#include <sys/stat.h>
#include <sys/time.h>

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#ifdef HAVE_SYSTEMD
#include <systemd/sd-daemon.h>
#else
#define SD_ERR		"<3>"
#define SD_WARNING	"<4>"
#define SD_INFO		"<6>"
#define SD_DEBUG	"<7>"
#endif

#include "log.h"

static int	 log_level = LOG_LEVEL_INFO;
static const char *log_tag = "vmigd";
static int	 log_journal;	/* stderr is the journal */

static const char *const log_names[] = {
	[LOG_LEVEL_ERROR] = "error",
	[LOG_LEVEL_WARN] = "warn",
	[LOG_LEVEL_INFO] = "info",
	[LOG_LEVEL_DEBUG] = "debug",
};

static const char *const log_priorities[] = {
	[LOG_LEVEL_ERROR] = SD_ERR,
	[LOG_LEVEL_WARN] = SD_WARNING,
	[LOG_LEVEL_INFO] = SD_INFO,
	[LOG_LEVEL_DEBUG] = SD_DEBUG,
};

/*
 * systemd.exec(5): JOURNAL_STREAM is "DEV:INODE" of the stream it
 * connected; it is inherited, so it only counts while stderr is still
 * that stream (not when a child of the service redirected it).
 */
int
log_stderr_is_journal(void)
{
	const char		*env = getenv("JOURNAL_STREAM");
	struct stat		 sb;
	uintmax_t		 dev, ino;
	char			 end;

	if (env == NULL || sscanf(env, "%ju:%ju%c", &dev, &ino, &end) != 2)
		return (0);
	if (fstat(STDERR_FILENO, &sb) != 0)
		return (0);
	return ((uintmax_t)sb.st_dev == dev && (uintmax_t)sb.st_ino == ino);
}

void
log_init(int level, const char *tag)
{
	log_setlevel(level);
	if (tag != NULL)
		log_tag = tag;
	log_journal = log_stderr_is_journal();
}

void
log_setlevel(int level)
{
	if (level < LOG_LEVEL_ERROR)
		level = LOG_LEVEL_ERROR;
	if (level > LOG_LEVEL_DEBUG)
		level = LOG_LEVEL_DEBUG;
	log_level = level;
}

int
log_getlevel(void)
{
	return (log_level);
}

int
log_parselevel(const char *name)
{
	size_t	i;

	for (i = 0; i < sizeof(log_names) / sizeof(log_names[0]); i++) {
		if (strcasecmp(name, log_names[i]) == 0)
			return ((int)i);
	}
	if (strcasecmp(name, "warning") == 0)
		return (LOG_LEVEL_WARN);
	return (-1);
}

const char *
log_levelname(int level)
{
	if (level < 0 || level > LOG_LEVEL_DEBUG)
		return ("?");
	return (log_names[level]);
}

void
log_vmsg(int level, const char *fmt, va_list ap)
{
	char		 line[2048];
	struct timeval	 tv;
	struct tm	 tm;
	int		 saved = errno;

	if (level > log_level)
		return;
	vsnprintf(line, sizeof(line), fmt, ap);
	if (log_journal)
		fprintf(stderr, "%s%s: %s\n", log_priorities[level],
		    log_names[level], line);
	else {
		gettimeofday(&tv, NULL);
		localtime_r(&tv.tv_sec, &tm);
		fprintf(stderr, "%02d:%02d:%02d.%03ld %s %s: %s\n", tm.tm_hour,
		    tm.tm_min, tm.tm_sec, (long)(tv.tv_usec / 1000),
		    log_names[level], log_tag, line);
	}
	errno = saved;
}

void
log_msg(int level, const char *fmt, ...)
{
	va_list	ap;

	va_start(ap, fmt);
	log_vmsg(level, fmt, ap);
	va_end(ap);
}

#define LOG_FN(name, level)						\
void									\
name(const char *fmt, ...)						\
{									\
	va_list	ap;							\
									\
	va_start(ap, fmt);						\
	log_vmsg(level, fmt, ap);					\
	va_end(ap);							\
}
LOG_FN(log_error, LOG_LEVEL_ERROR)
LOG_FN(log_warnx, LOG_LEVEL_WARN)
LOG_FN(log_info, LOG_LEVEL_INFO)
LOG_FN(log_debug, LOG_LEVEL_DEBUG)

void
log_warn(const char *fmt, ...)
{
	char	buf[1024];
	va_list	ap;
	int	saved = errno;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	log_msg(LOG_LEVEL_WARN, "%s: %s", buf, strerror(saved));
}

void
fatal(const char *fmt, ...)
{
	char	buf[1024];
	va_list	ap;
	int	saved = errno;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	log_msg(LOG_LEVEL_ERROR, "fatal: %s: %s", buf, strerror(saved));
	abort();
}

void
fatalx(const char *fmt, ...)
{
	char	buf[1024];
	va_list	ap;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	log_msg(LOG_LEVEL_ERROR, "fatal: %s", buf);
	abort();
}
