/*
 * vfio_v1.h: the v1 migration region (Linux 5.8-5.17; seed 001).
 *
 * No in-tree kernel driver ever implemented it, and QEMU 8.0 removed its
 * side; vendor drivers of that era did. It is kept small: find the region
 * by its type capability (3/1), drive device_state's RUNNING / SAVING /
 * RESUMING bits, and move the data through the pending_bytes ->
 * data_offset -> data_size loop, from the mmap'd part of the data section
 * when the region offers one (sparse mmap capability), else pread/pwrite.
 *
 * v1 requires the destination to write the data "with the same
 * transaction sizes as at the source", so the stream the layer produces
 * is framed: each chunk the device staged is a little-endian u64 length
 * and that many bytes; the resuming side writes each frame in one
 * data_size transaction.
 */
#ifndef VMIG_VFIO_V1_H
#define VMIG_VFIO_V1_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "vfio_dev.h"

/* 1 (dev->v1 filled, data area mapped if offered), 0 (none), -errno. */
int	 vfio_v1_find(struct vfio_dev *, char *err, size_t errlen);
void	 vfio_v1_unmap(struct vfio_dev *);
/* Drop a staged chunk or a partial frame (after a reset). */
void	 vfio_v1_forget(struct vfio_dev *);

const char *vfio_v1_state_name(uint32_t);
int	 vfio_v1_get_state(struct vfio_dev *, uint32_t *, char *err,
	    size_t errlen);
/*
 * Write the RUNNING/SAVING/RESUMING bits (read-modify-write: the other
 * bits are kept). On failure the state is read back; ERROR (SAVING |
 * RESUMING) is -EIO with the reset rule in the sentence.
 */
int	 vfio_v1_set_state(struct vfio_dev *, uint32_t bits, char *err,
	    size_t errlen);
int	 vfio_v1_pending(struct vfio_dev *, uint64_t *, char *err,
	    size_t errlen);

/*
 * The next bytes of the framed saving stream (at most cap): > 0, 0 at the
 * end (stop-and-copy, pending_bytes 0), -ENOMSG in pre-copy when nothing
 * is pending now, -errno.
 */
ssize_t	 vfio_v1_read(struct vfio_dev *, void *buf, size_t cap, char *err,
	    size_t errlen);
/* Append framed stream bytes while RESUMING. */
int	 vfio_v1_write(struct vfio_dev *, const void *buf, size_t len,
	    char *err, size_t errlen);
/* 0 if no frame is half written (call before leaving RESUMING). */
int	 vfio_v1_write_done(struct vfio_dev *, char *err, size_t errlen);

#endif /* VMIG_VFIO_V1_H */
