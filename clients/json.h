/*
 * json.h: any protobuf-c message as JSON, driven by its descriptor: every
 * field (proto3 defaults included), enums by name, bytes as base64 (the
 * proto3 JSON mapping), 64-bit integers as numbers. New messages need no
 * new code here.
 */
#ifndef VMIG_JSON_H
#define VMIG_JSON_H

#include <stdio.h>

#include <protobuf-c/protobuf-c.h>

/* indent < 0: one line; otherwise pretty-printed with that many spaces. */
void	json_print_message(FILE *f, const ProtobufCMessage *m, int indent);
/* A JSON string literal for s (invalid UTF-8 becomes U+FFFD). */
void	json_print_string(FILE *f, const char *s);

#endif /* VMIG_JSON_H */
