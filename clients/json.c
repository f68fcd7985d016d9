/*
 * json.c: protobuf-c message -> JSON through the descriptors (json.h).
 */
#include "config.h"

#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "json.h"

static void	json_message(FILE *, const ProtobufCMessage *, int, int);

static void
json_newline(FILE *f, int indent, int level)
{
	if (indent < 0)
		return;
	fputc('\n', f);
	fprintf(f, "%*s", indent * level, "");
}

/* Length of the valid UTF-8 sequence at s, 0 if invalid. */
static size_t
json_utf8_len(const unsigned char *s)
{
	uint32_t	cp;
	size_t		n, i;

	if (*s < 0x80)
		return (1);
	if ((*s & 0xe0) == 0xc0) {
		n = 2;
		cp = *s & 0x1f;
	} else if ((*s & 0xf0) == 0xe0) {
		n = 3;
		cp = *s & 0x0f;
	} else if ((*s & 0xf8) == 0xf0) {
		n = 4;
		cp = *s & 0x07;
	} else
		return (0);
	for (i = 1; i < n; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return (0);
		cp = (cp << 6) | (s[i] & 0x3f);
	}
	if ((n == 2 && cp < 0x80) || (n == 3 && cp < 0x800) ||
	    (n == 4 && cp < 0x10000) || cp > 0x10ffff ||
	    (cp >= 0xd800 && cp <= 0xdfff))
		return (0);
	return (n);
}

void
json_print_string(FILE *f, const char *str)
{
	const unsigned char	*s = (const unsigned char *)str;
	size_t			 n;

	fputc('"', f);
	while (s != NULL && *s != '\0') {
		switch (*s) {
		case '"':
			fputs("\\\"", f);
			break;
		case '\\':
			fputs("\\\\", f);
			break;
		case '\n':
			fputs("\\n", f);
			break;
		case '\r':
			fputs("\\r", f);
			break;
		case '\t':
			fputs("\\t", f);
			break;
		default:
			if (*s < 0x20 || *s == 0x7f) {
				fprintf(f, "\\u%04x", *s);
				break;
			}
			if ((n = json_utf8_len(s)) == 0) {
				fputs("\\ufffd", f);
				break;
			}
			fwrite(s, 1, n, f);
			s += n;
			continue;
		}
		s++;
	}
	fputc('"', f);
}

static void
json_base64(FILE *f, const ProtobufCBinaryData *b)
{
	static const char	 tab[] =
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	const uint8_t		*p = b->data;
	size_t			 i;
	uint32_t		 v;

	fputc('"', f);
	for (i = 0; i + 2 < b->len; i += 3) {
		v = (uint32_t)p[i] << 16 | (uint32_t)p[i + 1] << 8 | p[i + 2];
		fputc(tab[v >> 18], f);
		fputc(tab[(v >> 12) & 63], f);
		fputc(tab[(v >> 6) & 63], f);
		fputc(tab[v & 63], f);
	}
	if (b->len - i == 1) {
		v = (uint32_t)p[i] << 16;
		fprintf(f, "%c%c==", tab[v >> 18], tab[(v >> 12) & 63]);
	} else if (b->len - i == 2) {
		v = (uint32_t)p[i] << 16 | (uint32_t)p[i + 1] << 8;
		fprintf(f, "%c%c%c=", tab[v >> 18], tab[(v >> 12) & 63],
		    tab[(v >> 6) & 63]);
	}
	fputc('"', f);
}

static void
json_double(FILE *f, double d, int prec)
{
	if (isnan(d))
		fputs("\"NaN\"", f);
	else if (isinf(d))
		fputs(d > 0 ? "\"Infinity\"" : "\"-Infinity\"", f);
	else
		fprintf(f, "%.*g", prec, d);
}

static size_t
json_elem_size(ProtobufCType t)
{
	switch (t) {
	case PROTOBUF_C_TYPE_INT32:
	case PROTOBUF_C_TYPE_SINT32:
	case PROTOBUF_C_TYPE_SFIXED32:
	case PROTOBUF_C_TYPE_UINT32:
	case PROTOBUF_C_TYPE_FIXED32:
	case PROTOBUF_C_TYPE_FLOAT:
	case PROTOBUF_C_TYPE_ENUM:
		return (4);
	case PROTOBUF_C_TYPE_INT64:
	case PROTOBUF_C_TYPE_SINT64:
	case PROTOBUF_C_TYPE_SFIXED64:
	case PROTOBUF_C_TYPE_UINT64:
	case PROTOBUF_C_TYPE_FIXED64:
	case PROTOBUF_C_TYPE_DOUBLE:
		return (8);
	case PROTOBUF_C_TYPE_BOOL:
		return (sizeof(protobuf_c_boolean));
	case PROTOBUF_C_TYPE_STRING:
		return (sizeof(char *));
	case PROTOBUF_C_TYPE_BYTES:
		return (sizeof(ProtobufCBinaryData));
	case PROTOBUF_C_TYPE_MESSAGE:
		return (sizeof(ProtobufCMessage *));
	}
	return (0);
}

static void
json_value(FILE *f, const ProtobufCFieldDescriptor *fd, const void *p,
    int indent, int level)
{
	const ProtobufCEnumValue	*ev;
	int32_t				 e;

	switch (fd->type) {
	case PROTOBUF_C_TYPE_INT32:
	case PROTOBUF_C_TYPE_SINT32:
	case PROTOBUF_C_TYPE_SFIXED32:
		fprintf(f, "%" PRId32, *(const int32_t *)p);
		break;
	case PROTOBUF_C_TYPE_UINT32:
	case PROTOBUF_C_TYPE_FIXED32:
		fprintf(f, "%" PRIu32, *(const uint32_t *)p);
		break;
	case PROTOBUF_C_TYPE_INT64:
	case PROTOBUF_C_TYPE_SINT64:
	case PROTOBUF_C_TYPE_SFIXED64:
		fprintf(f, "%" PRId64, *(const int64_t *)p);
		break;
	case PROTOBUF_C_TYPE_UINT64:
	case PROTOBUF_C_TYPE_FIXED64:
		fprintf(f, "%" PRIu64, *(const uint64_t *)p);
		break;
	case PROTOBUF_C_TYPE_FLOAT:
		json_double(f, *(const float *)p, 9);
		break;
	case PROTOBUF_C_TYPE_DOUBLE:
		json_double(f, *(const double *)p, 17);
		break;
	case PROTOBUF_C_TYPE_BOOL:
		fputs(*(const protobuf_c_boolean *)p ? "true" : "false", f);
		break;
	case PROTOBUF_C_TYPE_ENUM:
		e = *(const int32_t *)p;
		ev = protobuf_c_enum_descriptor_get_value(fd->descriptor, e);
		if (ev != NULL)
			json_print_string(f, ev->name);
		else
			fprintf(f, "%" PRId32, e);	/* from a newer peer */
		break;
	case PROTOBUF_C_TYPE_STRING:
		json_print_string(f, *(const char *const *)p);
		break;
	case PROTOBUF_C_TYPE_BYTES:
		json_base64(f, p);
		break;
	case PROTOBUF_C_TYPE_MESSAGE:
		if (*(const ProtobufCMessage *const *)p == NULL)
			fputs("null", f);
		else
			json_message(f, *(const ProtobufCMessage *const *)p,
			    indent, level);
		break;
	}
}

/* Is an optional (proto2 / proto3 "optional") field present? */
static int
json_present(const ProtobufCMessage *m, const ProtobufCFieldDescriptor *fd)
{
	const char	*base = (const char *)m;

	if (fd->flags & PROTOBUF_C_FIELD_FLAG_ONEOF)
		return (*(const uint32_t *)(base + fd->quantifier_offset) ==
		    fd->id);
	if (fd->label != PROTOBUF_C_LABEL_OPTIONAL)
		return (1);
	if (fd->type == PROTOBUF_C_TYPE_STRING ||
	    fd->type == PROTOBUF_C_TYPE_MESSAGE)
		return (*(const void *const *)(base + fd->offset) != NULL);
	return (*(const protobuf_c_boolean *)(base + fd->quantifier_offset));
}

static void
json_message(FILE *f, const ProtobufCMessage *m, int indent, int level)
{
	const ProtobufCMessageDescriptor	*d = m->descriptor;
	const ProtobufCFieldDescriptor		*fd;
	const char				*base = (const char *)m;
	const char				*arr;
	size_t					 n, j, sz;
	unsigned int				 i;
	int					 first = 1;

	fputc('{', f);
	for (i = 0; i < d->n_fields; i++) {
		fd = &d->fields[i];
		if (!json_present(m, fd))
			continue;
		if (!first)
			fputc(',', f);
		first = 0;
		json_newline(f, indent, level + 1);
		json_print_string(f, fd->name);
		fputs(indent < 0 ? ":" : ": ", f);
		if (fd->label != PROTOBUF_C_LABEL_REPEATED) {
			json_value(f, fd, base + fd->offset, indent, level + 1);
			continue;
		}
		n = *(const size_t *)(base + fd->quantifier_offset);
		arr = *(const char *const *)(base + fd->offset);
		sz = json_elem_size(fd->type);
		fputc('[', f);
		for (j = 0; j < n; j++) {
			if (j != 0)
				fputc(',', f);
			json_newline(f, indent, level + 2);
			json_value(f, fd, arr + j * sz, indent, level + 2);
		}
		if (n != 0)
			json_newline(f, indent, level + 1);
		fputc(']', f);
	}
	if (!first)
		json_newline(f, indent, level);
	fputc('}', f);
}

void
json_print_message(FILE *f, const ProtobufCMessage *m, int indent)
{
	json_message(f, m, indent, 0);
	fputc('\n', f);
}
