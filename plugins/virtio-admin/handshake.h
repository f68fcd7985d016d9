/*
 * handshake.h: how a driver takes over the simulated PF's admin queues
 * (the vhost-user way: shared memory and eventfds over a UNIX socket).
 *
 * SOCK_SEQPACKET, one message per step, all little-endian:
 *
 *   device → driver  HELLO   what the PF is (VFs, dialect, device type,
 *                             admin queues, largest queue), or a refusal
 *   driver → device  SETUP   memory size and ring layout of each queue it
 *                             uses; SCM_RIGHTS: memfd, then kick and call
 *                             eventfds per queue
 *   device → driver  ACK     0 or an errno, with a reason
 *
 * The memfd must carry F_SEAL_SHRINK so the device's mapping can never be
 * cut under it. README.md documents the layouts byte by byte.
 */
#ifndef VA_HANDSHAKE_H
#define VA_HANDSHAKE_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "virtq.h"

#define VA_HS_MAGIC		0x4d495356u	/* "VSIM" */
#define VA_HS_VERSION		1
#define VA_HS_HELLO		1
#define VA_HS_SETUP		2
#define VA_HS_ACK		3

#define VA_HS_HELLO_LEN		128
#define VA_HS_ACK_LEN		128
#define VA_HS_SETUP_HDR		32
#define VA_HS_SETUP_Q		32
#define VA_HS_MAX_QUEUES	4
#define VA_HS_MAX_LEN		(VA_HS_SETUP_HDR + VA_HS_MAX_QUEUES * VA_HS_SETUP_Q)
#define VA_HS_MAX_FDS		(1 + 2 * VA_HS_MAX_QUEUES)

/* The HELLO's dialect (dialect.h: what each one is). */
#define VA_DIALECT_DRAFT	1	/* draft write-recording commands */
#define VA_DIALECT_V14		2	/* virtio 1.4 device parts */
#define VA_DIALECT_CVQ		3	/* the control-virtqueue proposal */
#define VA_DEVTYPE_NET		1	/* virtio device id */

#define VA_HS_F_CTX_READ_ACTIVE	0x1	/* DEV_CTX_READ allowed while active */
#define VA_HS_F_INDIRECT	0x2	/* indirect descriptors (cvq push maps) */

struct va_hello {
	uint32_t	 status;	/* 0, or errno: connection refused */
	uint32_t	 device_type;
	uint32_t	 num_vfs;
	uint32_t	 dialect;
	uint32_t	 admin_queues;
	uint32_t	 max_queue_size;
	uint32_t	 flags;
	uint32_t	 max_ctx_bytes;
	char		 name[32];
	char		 msg[56];
};

struct va_setup {
	uint32_t	 nqueues;
	uint64_t	 mem_size;
	uint64_t	 iova;		/* descriptor addresses are iova +
					 * offset: 0 from a sim: driver, the
					 * DMA mapping's IOVA from the
					 * simulated vfio-pci kernel */
	struct vq_layout q[VA_HS_MAX_QUEUES];
};

struct va_ack {
	uint32_t	 status;
	char		 msg[116];
};

size_t	 va_hello_put(uint8_t *p, const struct va_hello *);
int	 va_hello_get(const uint8_t *p, size_t len, struct va_hello *,
	    char *err, size_t errlen);
size_t	 va_setup_put(uint8_t *p, const struct va_setup *);
int	 va_setup_get(const uint8_t *p, size_t len, struct va_setup *,
	    char *err, size_t errlen);
size_t	 va_ack_put(uint8_t *p, const struct va_ack *);
int	 va_ack_get(const uint8_t *p, size_t len, struct va_ack *,
	    char *err, size_t errlen);
const char *va_dialect_name(uint32_t);
const char *va_devtype_name(uint32_t);

/* One datagram with up to nfds descriptors. */
int	 va_sock_send(int s, const void *buf, size_t len, const int *fds,
	    int nfds);
/*
 * One datagram into buf; up to maxfds received descriptors into fds (any
 * beyond are closed). Returns the length, 0 on EOF, or -errno. A
 * truncated datagram is -EMSGSIZE.
 */
ssize_t	 va_sock_recv(int s, void *buf, size_t cap, int *fds, int maxfds,
	    int *nfds);
/* Wait up to ms for s to be readable: 1, 0 on timeout, -errno. */
int	 va_wait_readable(int s, int ms);

#endif /* VA_HANDSHAKE_H */
