/*
 * vfio_mig.h: the migration v2 uAPI (Linux 5.18+, PRE_COPY 6.2+).
 *
 * States and arcs are the kernel's (vfio_main.c, vfio_mig_get_next_state):
 * a next-step table over every (current, target) pair, with the steps
 * through states the device does not support skipped. vfio_mig_set_state
 * walks that path one VFIO_DEVICE_FEATURE SET per arc, so that a failure
 * names the arc that failed and the state the device was left in (read
 * back with GET: the original, an intermediate, or ERROR).
 *
 * The data session: an arc into PRE_COPY, PRE_COPY_P2P (from the running
 * states), STOP_COPY (from STOP) or RESUMING returns a data_fd the layer
 * keeps in dev->data_fd; the saving group (PRE_COPY, PRE_COPY_P2P,
 * STOP_COPY) shares it; an arc out of the group (or out of RESUMING)
 * ends it and the layer closes it.
 */
#ifndef VMIG_VFIO_MIG_H
#define VMIG_VFIO_MIG_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "vfio_dev.h"

#define VFIO_MIG_NSTATES	8	/* ERROR .. PRE_COPY_P2P */
#define VFIO_MIG_MAX_PATH	6	/* the longest combination arc is 5 */

const char *vfio_mig_state_name(uint32_t);

/* Is state usable with these VFIO_MIGRATION_* flags (ERROR never is)? */
int	 vfio_mig_supported(uint64_t flags, uint32_t state);

/*
 * The kernel's next step from cur toward target. 0 and *next, or -EINVAL
 * (target or cur unsupported, ERROR, or a blocked arc such as
 * STOP_COPY -> PRE_COPY).
 */
int	 vfio_mig_next(uint64_t flags, uint32_t cur, uint32_t target,
	    uint32_t *next);
/* The whole path (without cur): the number of steps, or -EINVAL. */
int	 vfio_mig_path(uint64_t flags, uint32_t cur, uint32_t target,
	    uint32_t *path, int max);
/* Does the arc cur -> next open a new data session? */
int	 vfio_mig_arc_opens(uint32_t cur, uint32_t next);
/*
 * The P2P-quiesced twin of a running state (RUNNING -> RUNNING_P2P,
 * PRE_COPY -> PRE_COPY_P2P) when the device has P2P; any other state,
 * or a device without P2P, maps to itself.
 */
uint32_t vfio_mig_quiesced(uint64_t flags, uint32_t);

int	 vfio_mig_get_state(struct vfio_dev *, uint32_t *, char *err,
	    size_t errlen);
/*
 * Walk to target. On failure the device's state is read back into
 * dev->state; a device left in ERROR is -EIO with a sentence saying that
 * only VFIO_DEVICE_RESET gets it out.
 */
int	 vfio_mig_set_state(struct vfio_dev *, uint32_t target, char *err,
	    size_t errlen);

/*
 * Read the next piece of the saving stream (at most cap bytes; short
 * reads are normal): > 0 bytes, 0 at the end (STOP_COPY, all read),
 * -ENOMSG when PRE_COPY has nothing right now (poll again later), or
 * -errno.
 */
ssize_t	 vfio_mig_read(struct vfio_dev *, void *buf, size_t cap, char *err,
	    size_t errlen);
/* Append len bytes to the resuming stream (all of them). */
int	 vfio_mig_write(struct vfio_dev *, const void *buf, size_t len,
	    char *err, size_t errlen);
/* VFIO_MIG_GET_PRECOPY_INFO (PRE_COPY states only). */
int	 vfio_mig_precopy_info(struct vfio_dev *, uint64_t *initial,
	    uint64_t *dirty, char *err, size_t errlen);
/* VFIO_DEVICE_FEATURE_MIG_DATA_SIZE: the stop-copy size estimate. */
int	 vfio_mig_data_size(struct vfio_dev *, uint64_t *, char *err,
	    size_t errlen);

#endif /* VMIG_VFIO_MIG_H */
