/*
 * vfio_testlib.h: what the VFIO layer's tests share: a simulated kernel
 * (vmig-simvfio) per "host", the interposer pointed at it, guest memory
 * files, and checks that compare the simulated VFs' state.
 *
 * The test binaries link the interposer (test/sim/vfio/preload.c), so the
 * layer's open/ioctl/read/... reach the simulator named by VFSIM_SOCKET;
 * vt_use() switches it, so one test can migrate between two simulators.
 */
#ifndef VMIG_VFIO_TESTLIB_H
#define VMIG_VFIO_TESTLIB_H

#include <stddef.h>
#include <stdint.h>

#include "simproc.h"
#include "vfio_dev.h"
#include "vfio_open.h"

struct vt {
	struct simproc	 sp;
	char		 sysfs[200];
	struct vfio_open_opts o;
	char		 mempath[128];
	int		 memfd;
	uint8_t		*mem;
	size_t		 memlen;
};

/* Start a simulator with these options (NULL-terminated), point the
 * interposer at it. */
void	 vt_start(struct vt *, const char *const *args);
void	 vt_stop(struct vt *);
void	 vt_use(struct vt *);
/* A control command; the reply (without "ok") in reply if not NULL. */
void	 vt_cmd(struct vt *, char *reply, size_t len, const char *fmt, ...)
	    __attribute__((format(printf, 4, 5)));
int	 vt_try(struct vt *, char *reply, size_t len, const char *fmt, ...)
	    __attribute__((format(printf, 4, 5)));
uint64_t vt_hex(struct vt *, const char *fmt, ...)
	    __attribute__((format(printf, 2, 3)));
/* A field of "state DEV". */
uint64_t vt_state_u64(struct vt *, unsigned int dev, const char *key);
void	 vt_state_str(struct vt *, unsigned int dev, const char *key,
	    char *out, size_t len);
/* The same, in a static buffer (until the next call). */
const char *vt_state_str_s(struct vt *, unsigned int dev, const char *key);

/* A guest memory file (shared mapping) of len bytes, zeroed. */
uint8_t	*vt_mem(struct vt *, size_t len);

/* Open spec through this simulator; asserts success. */
struct vfio_dev *vt_open(struct vt *, const char *spec);
/* Same, and map the memory at iova for its DMA. */
struct vfio_dev *vt_open_mapped(struct vt *, const char *spec,
	    uint64_t iova);

/*
 * Move the whole saving stream of src (v2 or v1, from its current state
 * to the end) into dst's resuming stream, in reads of at most chunk
 * bytes. Returns the bytes moved.
 */
uint64_t vt_pump(struct vfio_dev *src, struct vfio_dev *dst, size_t chunk);

#endif /* VMIG_VFIO_TESTLIB_H */
