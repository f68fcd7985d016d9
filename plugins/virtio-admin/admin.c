/*
 * admin.c: the admin command framing shared by the admin-queue dialects:
 * header, status, qualifiers, opcode lists.
 */
#include "config.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "util.h"
#include "admin.h"

static const struct {
	uint16_t	 status;
	int		 err;
	const char	*name;
} va_stattab[] = {
	{ VA_STATUS_OK, 0, "OK" },
	{ VA_STATUS_ENXIO, -ENXIO, "ENXIO" },
	{ VA_STATUS_EAGAIN, -EAGAIN, "EAGAIN" },
	{ VA_STATUS_ENOMEM, -ENOMEM, "ENOMEM" },
	{ VA_STATUS_EBUSY, -EBUSY, "EBUSY" },
	{ VA_STATUS_EEXIST, -EEXIST, "EEXIST" },
	{ VA_STATUS_EINVAL, -EINVAL, "EINVAL" },
	{ VA_STATUS_ENOSPC, -ENOSPC, "ENOSPC" },
};

static const char *const va_qualtab[] = {
	[VA_Q_OK] = "OK",
	[VA_Q_INVALID_COMMAND] = "INVALID_COMMAND",
	[VA_Q_INVALID_OPCODE] = "INVALID_OPCODE",
	[VA_Q_INVALID_FIELD] = "INVALID_FIELD",
	[VA_Q_INVALID_GROUP] = "INVALID_GROUP",
	[VA_Q_INVALID_MEMBER] = "INVALID_MEMBER",
	[VA_Q_NORESOURCE] = "NORESOURCE",
	[VA_Q_TRYAGAIN] = "TRYAGAIN",
};

int
va_err(char *err, size_t errlen, int code, const char *fmt, ...)
{
	va_list	ap;

	if (err != NULL && errlen > 0) {
		va_start(ap, fmt);
		vsnprintf(err, errlen, fmt, ap);
		va_end(ap);
	}
	return (code);
}

int
va_short(const char *what, size_t len, size_t need, int code, char *err,
    size_t errlen)
{
	if (len >= need)
		return (0);
	return (va_err(err, errlen, code, "%s is %zu bytes, needs %zu", what,
	    len, need));
}

const char *
va_status_name(uint16_t status)
{
	size_t	i;

	for (i = 0; i < nitems(va_stattab); i++) {
		if (va_stattab[i].status == status)
			return (va_stattab[i].name);
	}
	return ("unknown status");
}

const char *
va_qual_name(uint16_t qual)
{
	if (qual < nitems(va_qualtab))
		return (va_qualtab[qual]);
	return ("reserved qualifier");
}

int
va_status_errno(uint16_t status)
{
	size_t	i;

	for (i = 0; i < nitems(va_stattab); i++) {
		if (va_stattab[i].status == status)
			return (va_stattab[i].err);
	}
	return (-EINVAL);	/* §3.3: other values are treated as EINVAL */
}

void
va_hdr_put(uint8_t *p, uint16_t opcode, uint16_t group, uint64_t member)
{
	memset(p, 0, VA_HDR_LEN);
	put_le16(p, opcode);
	put_le16(p + 2, group);
	put_le64(p + 16, member);
}

void
va_hdr_get(const uint8_t *p, struct va_hdr *h)
{
	h->opcode = get_le16(p);
	h->group = get_le16(p + 2);
	h->member = get_le64(p + 16);
}

void
va_status_put(uint8_t *p, uint16_t status, uint16_t qual)
{
	memset(p, 0, VA_STATUS_LEN);
	put_le16(p, status);
	put_le16(p + 2, qual);
}

int
va_status_get(const uint8_t *p, size_t len, uint16_t *status,
    uint16_t *qual, char *err, size_t errlen)
{
	if (len < VA_STATUS_LEN) {
		snprintf(err, errlen, "device wrote %zu bytes, less than the "
		    "%d-byte status", len, VA_STATUS_LEN);
		return (-EPROTO);
	}
	*status = get_le16(p);
	*qual = get_le16(p + 2);
	return (0);
}

int
va_list_has(const uint8_t *p, size_t len, uint16_t opcode)
{
	size_t	word = opcode / 64;

	if ((word + 1) * 8 > len)
		return (0);
	return ((get_le64(p + word * 8) >> (opcode % 64)) & 1);
}

void
va_list_set(uint8_t *p, size_t len, uint16_t opcode)
{
	size_t	word = opcode / 64;

	if ((word + 1) * 8 > len)
		return;
	put_le64(p + word * 8, get_le64(p + word * 8) |
	    (1ULL << (opcode % 64)));
}
