/*
 * pbname.c: enum names for people and labels (pbname.h).
 */
#include "config.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>

#include "pbname.h"

const char *
pb_enum_label(const ProtobufCEnumDescriptor *d, int value, const char *prefix,
    char *buf, size_t len)
{
	const ProtobufCEnumValue	*v;
	const char			*s;
	size_t				 i;

	if ((v = protobuf_c_enum_descriptor_get_value(d, value)) == NULL) {
		snprintf(buf, len, "%d", value);
		return (buf);
	}
	s = v->name;
	if (strncmp(s, prefix, strlen(prefix)) == 0)
		s += strlen(prefix);
	for (i = 0; s[i] != '\0' && i + 1 < len; i++)
		buf[i] = s[i] == '_' ? '-' : (char)tolower((unsigned char)s[i]);
	buf[i] = '\0';
	return (buf);
}
