/*
 * notify_none.c: notify.h when built without libsystemd: nothing to tell.
 */
#include "config.h"

#include <stdint.h>

#include "notify.h"

const char *
notify_backend(void)
{
	return ("none");
}

void notify_ready(const char *status) { }
void notify_status(const char *status) { }
void notify_reloading(void) { }
void notify_stopping(void) { }
void notify_watchdog(void) { }

uint64_t
notify_watchdog_usec(void)
{
	return (0);
}
