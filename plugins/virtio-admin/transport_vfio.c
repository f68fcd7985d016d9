/*
 * transport_vfio.c: a PF bound to vfio-pci, its admin queues programmed
 * through the common config in BAR space. Not available on this host:
 * there is no virtio PF with SR-IOV here, and the BAR mapping is the part
 * that would need one to be tested. The queue driver (adminq.c) does not
 * change when this arrives: it only sees rings, a pool, kick and call.
 */
#include "config.h"

#include <sys/stat.h>

#include <errno.h>
#include <stdio.h>

#include "transport.h"

int
va_transport_vfio_open(const char *bdf, const struct va_tp_params *p,
    struct va_transport **tpp, char *err, size_t errlen)
{
	char		path[320];
	struct stat	st;

	snprintf(path, sizeof(path), "/sys/bus/pci/devices/%s", bdf);
	snprintf(err, errlen, "vfio:%s: the admin queue over vfio-pci is not "
	    "available on this host (%s); use sim:PATH", bdf,
	    stat(path, &st) == 0 ? "BAR-mapped admin queues are not "
	    "implemented yet" : "no such PCI device");
	return (-ENODEV);
}
