/*
 * notify_systemd.c: notify.h over libsystemd's sd_notify. The return values
 * are ignored, as sd_notify(3) recommends: no manager is not an error.
 */
#include "config.h"

#include <stdint.h>

#include <systemd/sd-daemon.h>

#include "log.h"
#include "notify.h"

const char *
notify_backend(void)
{
	return ("sd_notify");
}

void
notify_ready(const char *status)
{
	sd_notifyf(0, "READY=1\nSTATUS=%s", status);
}

void
notify_status(const char *status)
{
	sd_notifyf(0, "STATUS=%s", status);
}

void
notify_reloading(void)
{
	sd_notify(0, "RELOADING=1");
}

void
notify_stopping(void)
{
	sd_notify(0, "STOPPING=1");
}

void
notify_watchdog(void)
{
	sd_notify(0, "WATCHDOG=1");
}

uint64_t
notify_watchdog_usec(void)
{
	uint64_t	usec = 0;

	if (sd_watchdog_enabled(0, &usec) <= 0)
		return (0);
	return (usec);
}
