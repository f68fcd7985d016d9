/*
 * transport.h: how the admin queue driver reaches a PF's admin queues.
 *
 * The driver (adminq.c) only needs rings in memory it can address, a
 * buffer pool in the same memory (descriptor addresses are offsets into
 * it), a kick per queue and a call fd per queue to watch. Where that comes
 * from is the transport's business:
 *
 *   sim:PATH	the simulated PF (test/sim): memfd + eventfds over a UNIX
 *		socket (transport_sim.c, handshake.h)
 *   vfio:BDF	a PF bound to vfio-pci (transport_vfio.c): its virtio PCI
 *		capabilities, the common config in its BAR, admin queues
 *		programmed there, the memory DMA-mapped at VA_VFIO_IOVA,
 *		kicks written to the notify address, calls as MSI-X
 *		eventfds (VFIO_DEVICE_SET_IRQS)
 *
 * The queues are the PF's admin queues, or, in the control-vq dialect,
 * its control virtqueue: the same rings, only the command framing differs
 * (dialect.h). The vfio transport programs them through the common config
 * (queue_select, queue_desc/driver/device, queue_enable), maps the memory
 * for the device at an IOVA of its choosing (descriptor addresses are
 * then that IOVA plus the offsets used here: tp->iova), kicks by writing
 * the notify address and gets the call eventfd from VFIO_DEVICE_SET_IRQS:
 * what this struct describes does not change, only iova is no longer 0.
 */
#ifndef VA_TRANSPORT_H
#define VA_TRANSPORT_H

#include <stddef.h>
#include <stdint.h>

#include "handshake.h"
#include "virtq.h"

#define VA_TP_MAX_QUEUES	2	/* one per lane is all we use */

struct va_tp_params {
	uint32_t	 qsize;		/* 0: min(128, device max) */
	uint32_t	 dialect;	/* vfio: what the PF speaks (a PCI
					 * function does not say); 0: draft */
	char		 sysfs[256];	/* vfio: where BDFs are looked up;
					 * "": /sys */
	uint64_t	 pool_bytes;	/* 0: 4 MiB */
	uint32_t	 max_queues;	/* 0: VA_TP_MAX_QUEUES */
	int		 timeout_ms;	/* handshake; 0: 2000 */
	uint32_t	 dialects;	/* bit per VA_DIALECT_*; 0: draft */
};

struct va_tp_queue {
	struct vq_ring	 ring;
	int		 kick_fd;	/* -1 for vfio: kicks write the BAR */
	int		 call_fd;
};

struct va_vfio;

struct va_transport {
	const char	*kind;		/* "sim", "vfio" */
	char		 target[256];	/* socket path, BDF */
	uint8_t		*mem;
	uint64_t	 memsize;
	uint64_t	 iova;		/* descriptor addresses are iova +
					 * offsets into mem (0: sim) */
	uint64_t	 pool_off;
	uint64_t	 pool_len;
	uint32_t	 nqueues;
	struct va_tp_queue q[VA_TP_MAX_QUEUES];
	struct va_hello	 dev;		/* what the PF told us */
	int		 sock;		/* -1 if none; EOF = device gone */
	struct va_vfio	*vfio;		/* vfio: the PF (transport_vfio.c) */
};

/* spec is "sim:PATH" or "vfio:BDF" (options already stripped). */
int	 va_transport_open(const char *spec, const struct va_tp_params *,
	    struct va_transport **, char *err, size_t errlen);
void	 va_transport_close(struct va_transport *);
int	 va_transport_kick(struct va_transport *, unsigned int q);
/* Consume a call notification; 1 if there was one, 0 if not. */
int	 va_transport_ack_call(struct va_transport *, unsigned int q);

int	 va_transport_sim_open(const char *path, const struct va_tp_params *,
	    struct va_transport **, char *err, size_t errlen);
/*
 * The sim handshake in steps, for a caller that waits on its own loop:
 * connect, then when tp->sock is readable on_hello (sends our setup),
 * readable again on_ack. va_sim_wait: the bounded poll of the synchronous
 * open. Each returns 0 or -errno with err; on error close the transport.
 */
int	 va_sim_connect(const char *path, struct va_transport **, char *err,
	    size_t errlen);
int	 va_sim_on_hello(struct va_transport *, const struct va_tp_params *,
	    char *err, size_t errlen);
int	 va_sim_on_ack(struct va_transport *, char *err, size_t errlen);
int	 va_sim_wait(struct va_transport *, int ms, char *err, size_t errlen);
int	 va_transport_vfio_open(const char *bdf, const struct va_tp_params *,
	    struct va_transport **, char *err, size_t errlen);
/* A transport with no fds yet (every one -1), of kind, named target. */
struct va_transport *va_tp_new(const char *kind, const char *target);
/* transport_vfio.c's half of close and kick. */
void	 va_vfio_close(struct va_transport *);
int	 va_vfio_kick(struct va_transport *, unsigned int q);

#endif /* VA_TRANSPORT_H */
