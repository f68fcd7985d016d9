/*
 * notify.h: tell the service manager how we are (sd_notify).
 *
 * Built from notify_systemd.c with libsystemd, from notify_none.c without:
 * callers never #ifdef. Every function is a no-op when NOTIFY_SOCKET is
 * unset.
 */
#ifndef VMIG_NOTIFY_H
#define VMIG_NOTIFY_H

#include <stdint.h>

/* "sd_notify" or "none": shown by vmigd --version. */
const char	*notify_backend(void);

void	notify_ready(const char *status);
void	notify_status(const char *status);
void	notify_reloading(void);
void	notify_stopping(void);
void	notify_watchdog(void);
/* Watchdog period the manager expects us to ping within (µs), 0: off. */
uint64_t notify_watchdog_usec(void);

#endif /* VMIG_NOTIFY_H */
