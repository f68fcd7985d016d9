/*
 * vfsim_proto.h: how the interposer (preload.c) and the simulated kernel
 * (vmig-simvfio) talk. Both run on one host: fixed-size host-order
 * headers on UNIX stream sockets.
 *
 * Every simulated open file is a socket connected to the simulator: a
 * connection to --socket for /dev/vfio/vfio, /dev/vfio/N,
 * /dev/vfio/devices/vfioN and /dev/iommu, or one end of a socketpair the
 * simulator made and handed over (a device fd from GET_DEVICE_FD, a
 * migration data_fd). Closing the last copy of it is the file's release,
 * as in the kernel; passing it with SCM_RIGHTS passes the file.
 *
 * A system call on such a file is one request (VFS_OPEN .. VFS_WHOAMI)
 * answered by VFS_DONE. In between, the simulator may ask the caller,
 * as the kernel asks its user space:
 *	VFS_PEEK	copy_from_user(a, b bytes)	-> VFS_DATA
 *	VFS_POKE	copy_to_user(a, payload)	-> VFS_ACK
 *	VFS_INSTALL	fd_install(the SCM fd), a = kind -> VFS_ACK a = fd
 *	VFS_UNINSTALL	put_unused_fd(a)		-> VFS_ACK
 *	VFS_FDINO	fdget(a): the inode of the socket behind fd a
 *							-> VFS_ACK a = 0|-errno,
 *							   b = inode
 *	VFS_GETFD	eventfd_ctx_fdget(a): the caller's eventfd a
 *							-> VFS_ACK a = 0|-errno,
 *							   SCM: the fd
 * The interposer reads and writes its own memory with process_vm_readv/
 * writev, so a bad user pointer is -EFAULT, never a crash.
 */
#ifndef VFSIM_PROTO_H
#define VFSIM_PROTO_H

#include <stdint.h>

#define VFS_MAGIC	0x31534656u	/* "VFS1" */
#define VFS_MAX_PAYLOAD	(64u << 20)
#define VFS_MAX_PATH	256

struct vfs_msg {
	uint32_t	magic;
	uint32_t	type;
	int64_t		a;
	int64_t		b;
	int64_t		c;
	int64_t		d;
	int32_t		pid;		/* the caller (requests) */
	uint32_t	len;		/* payload bytes that follow */
};

enum vfs_type {
	/* requests: client -> simulator */
	VFS_OPEN = 1,		/* payload path; a flags, b client inode */
	VFS_IOCTL,		/* a cmd, b arg */
	VFS_READ,		/* a buf, b count */
	VFS_WRITE,		/* a buf, b count */
	VFS_PREAD,		/* a buf, b count, d offset */
	VFS_PWRITE,		/* a buf, b count, d offset */
	VFS_MMAP,		/* a length, b prot, c flags, d offset */
	VFS_WHOAMI,		/* -> DONE a = kind */
	/* inside a request: simulator -> client */
	VFS_PEEK = 32,
	VFS_POKE,
	VFS_INSTALL,
	VFS_UNINSTALL,
	VFS_FDINO,
	VFS_DONE,		/* a result; mmap: SCM fd, b offset in it */
	VFS_GETFD,		/* eventfd_ctx_fdget(a): -> ACK, SCM fd */
	/* answers: client -> simulator */
	VFS_DATA = 64,		/* a 0|-EFAULT, payload */
	VFS_ACK,		/* a, b */
};

/* File kinds (VFS_WHOAMI, VFS_INSTALL). */
enum vfs_kind {
	VFS_K_NONE = 0,
	VFS_K_CONTAINER,
	VFS_K_GROUP,
	VFS_K_DEVICE,
	VFS_K_IOMMUFD,
	VFS_K_DATA,
};

/* vfsim_wire.c: send m (and m->len bytes of pl, and fd if >= 0). */
int	vfs_wire_send(int s, const struct vfs_msg *m, const void *pl, int fd);

#endif /* VFSIM_PROTO_H */
