/*
 * fmt.h: numbers for people, the same in vmigd's messages and vmigctl's
 * output ("12.5 MiB", "1.50 GiB/s"). Linked by both from
 * common/libvmigcommon.a, which depends on nothing but libc.
 */
#ifndef VMIG_FMT_H
#define VMIG_FMT_H

#include <stddef.h>

/*
 * Bytes in binary units: "512 B", "1.5 KiB", "12.5 MiB", "1.50 GiB"
 * (GiB keeps two decimals: sizes of guest memory and links are read
 * there). A double, so that rates computed per millisecond fit too.
 * Returns buf.
 */
const char	*fmt_bytes(char *buf, size_t len, double n);
/* The same per second: "1.50 GiB/s". */
const char	*fmt_rate(char *buf, size_t len, double bytes_per_s);

#endif /* VMIG_FMT_H */
