/*
 * pbname.h: the names of the protobuf enums for people and labels, the
 * same in vmigctl and the daemon (metrics): PHASE_SWITCHOVER_READY with
 * prefix "PHASE_" is "switchover-ready".
 */
#ifndef VMIG_PBNAME_H
#define VMIG_PBNAME_H

#include <stddef.h>

#include <protobuf-c/protobuf-c.h>

/* value's name without prefix, lower case, '-' for '_' (or the number). */
const char	*pb_enum_label(const ProtobufCEnumDescriptor *d, int value,
		    const char *prefix, char *buf, size_t len);

#endif /* VMIG_PBNAME_H */
