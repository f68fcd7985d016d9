/*
 * vfio_open.h: how the layer gets a device.
 *
 *   vfio:BDF		opens the device itself through its IOMMU group and
 *			a new type1 container (any kernel with VFIO). The
 *			group must be free: a VF a running VM uses is held
 *			by its VMM (EBUSY), and can only be reached with
 *			vfio-fd:.
 *   vfio-cdev:PATH|BDF	opens the device cdev (/dev/vfio/devices/vfioN,
 *			6.6+) and binds it to a new iommufd with an IOAS;
 *			when the IOMMU can track dirty pages (6.7+) the
 *			device is attached to a HWPT allocated for it.
 *   vfio-fd:SOCK[#NAME] asks a VMM over a UNIX socket for the fds it
 *			holds (SCM_RIGHTS; vfio_parse.h has the line): the
 *			device fd and its container or iommufd. The VMM's
 *			address space stays the VMM's (no DMA mapping here).
 *
 * Sysfs (for a BDF's group or cdev) is read under opts->sysfs ("/sys").
 * Every open ends with vfio_dev_probe().
 */
#ifndef VMIG_VFIO_OPEN_H
#define VMIG_VFIO_OPEN_H

#include <stddef.h>

#include "vfio_dev.h"
#include "vfio_parse.h"

struct vfio_open_opts {
	const char	*sysfs;		/* NULL: "/sys" */
	int		 no_dirty_hwpt;	/* cdev: attach to the IOAS's own
					 * HWPT even if the IOMMU could
					 * track dirty pages */
	int		 timeout_ms;	/* vfio-fd: wait for the VMM (0: 5 s) */
};

int	 vfio_open_spec(const char *spec, const struct vfio_open_opts *,
	    struct vfio_dev **, char *err, size_t errlen);
int	 vfio_open_group(const char *bdf, const struct vfio_open_opts *,
	    struct vfio_dev **, char *err, size_t errlen);
int	 vfio_open_cdev(const char *path_or_bdf, const struct vfio_open_opts *,
	    struct vfio_dev **, char *err, size_t errlen);
/* Ask the VMM at sock for the device name (NULL: its only one). */
int	 vfio_open_handoff(const char *sock, const char *name,
	    const struct vfio_open_opts *, struct vfio_dev **, char *err,
	    size_t errlen);

/*
 * Adopt descriptors handed over some other way (vmigd's fd socket):
 * fds[VFIO_ROLE_*] (-1 absent), duplicated, so the caller keeps its own.
 * An iommufd needs the device's bound id (devid); without a HWPT id its
 * dirty tracking is not available.
 */
int	 vfio_open_adopt(const char *name, const int *fds, uint32_t devid,
	    struct vfio_dev **, char *err, size_t errlen);

/*
 * The VMM side of the hand-over (for VMM shims, tools and tests): read
 * the request line on a connected socket (the name asked for, "" for
 * none), then answer with the device's fds, or refuse with a reason.
 */
int	 vfio_handoff_read_request(int conn, char *name, size_t len,
	    int timeout_ms, char *err, size_t errlen);
int	 vfio_handoff_send(int conn, const struct vfio_dev *, char *err,
	    size_t errlen);
int	 vfio_handoff_refuse(int conn, const char *reason);

#endif /* VMIG_VFIO_OPEN_H */
