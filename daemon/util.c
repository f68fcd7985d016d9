/*
 * util.c: allocation, clocks, size and duration parsing.
 */
#include "config.h"

#include <sys/stat.h>

#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "util.h"

void *
xmalloc(size_t size)
{
	void	*p;

	if (size == 0)
		fatalx("xmalloc: zero size");
	if ((p = malloc(size)) == NULL)
		fatal("xmalloc: allocating %zu bytes", size);
	return (p);
}

void *
xcalloc(size_t n, size_t size)
{
	void	*p;

	if (n == 0 || size == 0)
		fatalx("xcalloc: zero size");
	if ((p = calloc(n, size)) == NULL)
		fatal("xcalloc: allocating %zu * %zu bytes", n, size);
	return (p);
}

void *
xrealloc(void *ptr, size_t size)
{
	return (xreallocarray(ptr, 1, size));
}

void *
xreallocarray(void *ptr, size_t n, size_t size)
{
	void	*p;

	if (n == 0 || size == 0)
		fatalx("xreallocarray: zero size");
	if (n > SIZE_MAX / size)
		fatalx("xreallocarray: %zu * %zu overflows", n, size);
	if ((p = realloc(ptr, n * size)) == NULL)
		fatal("xreallocarray: allocating %zu * %zu bytes", n, size);
	return (p);
}

char *
xstrdup(const char *s)
{
	char	*p;

	if ((p = strdup(s)) == NULL)
		fatal("xstrdup");
	return (p);
}

int
xasprintf(char **ret, const char *fmt, ...)
{
	va_list	ap;
	int	n;

	va_start(ap, fmt);
	n = vasprintf(ret, fmt, ap);
	va_end(ap);
	if (n < 0 || *ret == NULL)
		fatal("xasprintf");
	return (n);
}

static uint64_t
clock_ns(clockid_t id)
{
	struct timespec	ts;

	clock_gettime(id, &ts);
	return ((uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec);
}

uint64_t now_ns(void) { return (clock_ns(CLOCK_MONOTONIC)); }
uint64_t now_us(void) { return (clock_ns(CLOCK_MONOTONIC) / 1000); }
uint64_t now_ms(void) { return (clock_ns(CLOCK_MONOTONIC) / 1000000); }
uint64_t unix_ms(void) { return (clock_ns(CLOCK_REALTIME) / 1000000); }
uint64_t unix_us(void) { return (clock_ns(CLOCK_REALTIME) / 1000); }

int
err_set(char *err, size_t errlen, int code, const char *fmt, ...)
{
	va_list	ap;

	if (err != NULL && errlen != 0) {
		va_start(ap, fmt);
		vsnprintf(err, errlen, fmt, ap);
		va_end(ap);
	}
	return (code);
}

size_t
strlcpy_v(char *dst, const char *src, size_t size)
{
	size_t	len = strlen(src);

	if (size != 0) {
		size_t n = len >= size ? size - 1 : len;
		memcpy(dst, src, n);
		dst[n] = '\0';
	}
	return (len);
}

int
write_full(int fd, const void *buf, size_t n)
{
	const uint8_t	*p = buf;
	ssize_t		 w;

	while (n > 0) {
		if ((w = write(fd, p, n)) < 0) {
			if (errno == EINTR)
				continue;
			return (-errno);
		}
		p += w;
		n -= (size_t)w;
	}
	return (0);
}

const char *
bits_str(unsigned int bits, const char *const *names, size_t nnames,
    const char *sep, const char *none, char *buf, size_t len)
{
	size_t	i, off = 0;
	int	n;

	buf[0] = '\0';
	for (i = 0; i < nnames && off < len; i++) {
		if (!(bits & (1u << i)))
			continue;
		n = snprintf(buf + off, len - off, "%s%s", off != 0 ? sep : "",
		    names[i]);
		off += n > 0 ? (size_t)n : 0;
	}
	if (buf[0] == '\0')
		strlcpy_v(buf, none, len);
	return (buf);
}

int
mkdir_p(const char *path, mode_t mode)
{
	char	*p, *s;
	int	 rc = 0;

	p = xstrdup(path);
	for (s = p + 1; *s != '\0'; s++) {
		if (*s != '/')
			continue;
		*s = '\0';
		if (mkdir(p, 0755) != 0 && errno != EEXIST) {
			rc = -errno;
			break;
		}
		*s = '/';
	}
	if (rc == 0 && mkdir(p, mode) != 0 && errno != EEXIST)
		rc = -errno;
	free(p);
	return (rc);
}

/* A number with an optional fraction and one suffix from the table. */
static int
parse_scaled(const char *s, const char *const *units, const uint64_t *scale,
    size_t nunits, uint64_t defscale, uint64_t *out)
{
	char		*end;
	double		 v;
	size_t		 i;

	if (s == NULL || *s == '\0' || isspace((unsigned char)*s) || *s == '-')
		return (-1);
	errno = 0;
	v = strtod(s, &end);
	if (errno != 0 || end == s || v < 0)
		return (-1);
	if (*end == '\0') {
		v *= (double)defscale;
	} else {
		for (i = 0; i < nunits; i++) {
			if (strcmp(end, units[i]) == 0)
				break;
		}
		if (i == nunits)
			return (-1);
		v *= (double)scale[i];
	}
	if (v >= 18446744073709551615.0)
		return (-1);
	*out = (uint64_t)v;
	return (0);
}

int
parse_size(const char *s, uint64_t *out)
{
	static const char *const units[] = { "B", "K", "KiB", "M", "MiB",
	    "G", "GiB", "T", "TiB", "k" };
	static const uint64_t scale[] = { 1, 1ull << 10, 1ull << 10,
	    1ull << 20, 1ull << 20, 1ull << 30, 1ull << 30, 1ull << 40,
	    1ull << 40, 1ull << 10 };

	return (parse_scaled(s, units, scale, nitems(units), 1, out));
}

int
parse_duration_ms(const char *s, uint64_t *out)
{
	static const char *const units[] = { "ms", "s", "m", "h" };
	static const uint64_t scale[] = { 1, 1000, 60000, 3600000 };

	return (parse_scaled(s, units, scale, nitems(units), 1, out));
}
