/*
 * sim_util.c: small helpers of the simulator (kept apart from main so the
 * fuzzer links the command code without the process around it).
 */
#include "config.h"

#include <errno.h>
#include <stdlib.h>

#include "sim.h"

/* A non-negative number, decimal or 0x-hex, nothing trailing. */
int
sim_parse_u64(const char *s, uint64_t *out)
{
	char			*end;
	unsigned long long	 v;

	if (s == NULL || *s == '\0' || *s == '-')
		return (-1);
	errno = 0;
	v = strtoull(s, &end, 0);
	if (errno != 0 || *end != '\0')
		return (-1);
	*out = v;
	return (0);
}
