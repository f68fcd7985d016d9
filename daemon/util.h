/*
 * util.h: allocation that cannot fail (tmux's xmalloc: out of memory is
 * fatal, so callers never check), time, and little-endian accessors for
 * device formats (never cast an untrusted buffer to a struct).
 */
#ifndef VMIG_UTIL_H
#define VMIG_UTIL_H

#include <sys/types.h>

#include <stddef.h>
#include <stdint.h>
#include <string.h>

void	*xmalloc(size_t);
void	*xcalloc(size_t, size_t);
void	*xrealloc(void *, size_t);
void	*xreallocarray(void *, size_t, size_t);
char	*xstrdup(const char *);
int	 xasprintf(char **, const char *, ...)
	    __attribute__((format(printf, 2, 3)));

uint64_t now_ms(void);		/* CLOCK_MONOTONIC */
uint64_t now_us(void);
uint64_t now_ns(void);
uint64_t unix_ms(void);		/* CLOCK_REALTIME */
uint64_t unix_us(void);

size_t	 strlcpy_v(char *dst, const char *src, size_t size);

/*
 * Put a reason in err (if there is room for one) and return code: the
 * house style for "return -EINVAL with a sentence naming the object".
 */
int	 err_set(char *err, size_t errlen, int code, const char *fmt, ...)
	    __attribute__((format(printf, 4, 5)));

/* write(2) until all n bytes are written (EINTR retried); 0 or -errno. */
int	 write_full(int fd, const void *buf, size_t n);
/*
 * The names of the bits set (bit i: names[i]) joined by sep, or none when
 * no bit is set, in buf.
 */
const char *bits_str(unsigned int bits, const char *const *names,
	    size_t nnames, const char *sep, const char *none, char *buf,
	    size_t len);
/*
 * mkdir -p: the missing parents with mode 0755, path itself with mode (an
 * existing path is left as it is). 0 or -errno.
 */
int	 mkdir_p(const char *path, mode_t mode);

/* Parse "64M", "1G", "4096", "1.5G" into bytes; -1 on error. */
int	 parse_size(const char *s, uint64_t *out);
/* Parse "300ms", "2s", "1m" (default unit ms); -1 on error. */
int	 parse_duration_ms(const char *s, uint64_t *out);

static inline uint16_t
get_le16(const void *p)
{
	const uint8_t *b = p;
	return ((uint16_t)(b[0] | (b[1] << 8)));
}

static inline uint32_t
get_le32(const void *p)
{
	const uint8_t *b = p;
	return ((uint32_t)b[0] | ((uint32_t)b[1] << 8) |
	    ((uint32_t)b[2] << 16) | ((uint32_t)b[3] << 24));
}

static inline uint64_t
get_le64(const void *p)
{
	const uint8_t *b = p;
	return ((uint64_t)get_le32(b) | ((uint64_t)get_le32(b + 4) << 32));
}

static inline void
put_le16(void *p, uint16_t v)
{
	uint8_t *b = p;
	b[0] = (uint8_t)v;
	b[1] = (uint8_t)(v >> 8);
}

static inline void
put_le32(void *p, uint32_t v)
{
	uint8_t *b = p;
	b[0] = (uint8_t)v;
	b[1] = (uint8_t)(v >> 8);
	b[2] = (uint8_t)(v >> 16);
	b[3] = (uint8_t)(v >> 24);
}

static inline void
put_le64(void *p, uint64_t v)
{
	put_le32(p, (uint32_t)v);
	put_le32((uint8_t *)p + 4, (uint32_t)(v >> 32));
}

/* glibc's <sys/queue.h> lacks the BSD _SAFE iterators. */
#ifndef TAILQ_FOREACH_SAFE
#define TAILQ_FOREACH_SAFE(var, head, field, tvar)			\
	for ((var) = TAILQ_FIRST((head));				\
	    (var) != NULL && ((tvar) = TAILQ_NEXT((var), field), 1);	\
	    (var) = (tvar))
#endif

#define nitems(a)	(sizeof(a) / sizeof((a)[0]))
#ifndef MIN
#define MIN(a, b)	((a) < (b) ? (a) : (b))
#define MAX(a, b)	((a) > (b) ? (a) : (b))
#endif

#endif /* VMIG_UTIL_H */
