/*
 * virtq.h: the split virtqueue (virtio 1.x, little-endian) over a shared
 * mapping, both sides: the driver (our admin queue driver) and the device
 * (the simulated PF). Descriptor addresses are offsets into the mapping the
 * driver handed over (plus a base: the IOVA the driver mapped it at for a
 * PF behind vfio-pci, vq_device.base; 0 over the sim socket); every address and length the other side wrote is
 * checked against that mapping before use.
 *
 * Compiled into the plugin (PIC), the simulator and the tests: no logging,
 * no allocation beyond vq_driver_init's private arrays; errors come back as
 * a negative errno and, where useful, a sentence.
 */
#ifndef VA_VIRTQ_H
#define VA_VIRTQ_H

#include <stddef.h>
#include <stdint.h>

#define VQ_DESC_F_NEXT		1
#define VQ_DESC_F_WRITE		2
#define VQ_DESC_F_INDIRECT	4

#define VQ_MAX_SIZE		32768
#define VQ_DESC_LEN		16
#define VQ_USED_ELEM_LEN	8
/* A chain longer than this is refused by the device side (ours uses 2). */
#define VQ_CHAIN_MAX		64

/* Where the three parts of one ring live inside the mapping. */
struct vq_layout {
	uint32_t	 size;		/* power of two, 1..VQ_MAX_SIZE */
	uint64_t	 desc;		/* 16 × size, aligned 16 */
	uint64_t	 avail;		/* 6 + 2 × size, aligned 2 */
	uint64_t	 used;		/* 6 + 8 × size, aligned 4 */
};

/* A mapped ring: pointers into the shared memory. */
struct vq_ring {
	uint32_t	 size;
	uint8_t		*desc;
	uint8_t		*avail;
	uint8_t		*used;
};

static inline uint64_t vq_desc_bytes(uint32_t n) { return (16ULL * n); }
static inline uint64_t vq_avail_bytes(uint32_t n) { return (6 + 2ULL * n); }
static inline uint64_t vq_used_bytes(uint32_t n) { return (6 + 8ULL * n); }

/* Lay out one ring starting at offset `at`; returns the end offset. */
uint64_t vq_layout_at(struct vq_layout *, uint32_t size, uint64_t at);
/* Check a layout against a mapping of memsize bytes and map it. */
int	 vq_ring_map(struct vq_ring *, uint8_t *mem, uint64_t memsize,
	    const struct vq_layout *, char *err, size_t errlen);

/* ------------------------------------------------------------ driver side */

struct vq_buf {
	uint64_t	 addr;		/* offset in the mapping */
	uint32_t	 len;
};

struct vq_driver {
	struct vq_ring	 r;
	uint16_t	 avail_idx;	/* shadow of avail->idx */
	uint16_t	 last_used;	/* next used entry to consume */
	uint32_t	 num_free;
	uint16_t	 free_head;
	/*
	 * Private copies, so that a device scribbling over the shared
	 * descriptor table cannot corrupt our free list: next[] links
	 * chains and the free list, chain_len[head] is the number of
	 * descriptors of an outstanding chain (0: not outstanding).
	 */
	uint16_t	*next;
	uint16_t	*chain_len;
	uint64_t	 bad_used;	/* used entries we refused */
};

int	 vq_driver_init(struct vq_driver *, const struct vq_ring *);
void	 vq_driver_free_all(struct vq_driver *);
/*
 * Add one chain: nout device-readable buffers then nin device-writable.
 * Returns 0 and the head, or -ENOSPC (not enough free descriptors) or
 * -EINVAL. The chain is visible to the device at once (avail->idx is
 * published with release ordering); the caller kicks.
 */
int	 vq_driver_add(struct vq_driver *, const struct vq_buf *out,
	    unsigned int nout, const struct vq_buf *in, unsigned int nin,
	    uint16_t *head);
/*
 * Take the next used entry: 1 with head and len (the chain's descriptors
 * are back on the free list), 0 if none, -EPROTO if the device returned
 * an id that is not an outstanding head (the entry is skipped and
 * counted; errlen bytes of reason in err).
 */
int	 vq_driver_get_used(struct vq_driver *, uint16_t *head,
	    uint32_t *len, char *err, size_t errlen);
/* Descriptors a chain of this head still holds (0: not outstanding). */
unsigned int vq_driver_outstanding(const struct vq_driver *, uint16_t head);

/* ------------------------------------------------------------ device side */

struct vq_seg {
	uint64_t	 addr;		/* offset in the mapping (base taken off) */
	uint32_t	 len;
	uint16_t	 flags;
};

struct vq_chain {
	uint16_t	 head;
	unsigned int	 nseg;
	struct vq_seg	 seg[VQ_CHAIN_MAX];
	uint64_t	 rlen;		/* device-readable bytes */
	uint64_t	 wlen;		/* device-writable bytes */
	unsigned int	 nread;		/* readable segments (they come first) */
	int		 broken;	/* structure unusable: reply len 0 */
	int		 misordered;	/* readable after writable */
	char		 why[96];
};

struct vq_device {
	struct vq_ring	 r;
	uint8_t		*mem;
	uint64_t	 memsize;
	uint64_t	 base;		/* descriptor addresses are base +
					 * offset (the IOVA the driver mapped
					 * the memory at; 0 over the socket) */
	uint16_t	 last_avail;
	uint16_t	 used_idx;
	int		 broken;	/* avail->idx ran away: stop serving */
	int		 indirect;	/* accept an indirect head (cvq push) */
};

void	 vq_device_init(struct vq_device *, const struct vq_ring *,
	    uint8_t *mem, uint64_t memsize);
/*
 * Pop the next available chain: 1 (chain filled; check c->broken), 0 if
 * none, -EPROTO if the ring itself is broken (more entries published than
 * the ring holds). A chain with bad addresses, a loop, an indirect
 * descriptor (unless v->indirect: then an indirect head alone, its table
 * holding the whole chain) or too many segments comes back with
 * c->broken set and a reason; it must still be returned with
 * vq_device_push(len 0).
 */
int	 vq_device_pop(struct vq_device *, struct vq_chain *);
/* Gather readable bytes [off, off+len) of a chain into buf. */
size_t	 vq_chain_read(const struct vq_device *, const struct vq_chain *,
	    uint64_t off, void *buf, size_t len);
/* Scatter buf into the writable part at off; returns bytes written. */
size_t	 vq_chain_write(const struct vq_device *, const struct vq_chain *,
	    uint64_t off, const void *buf, size_t len);
void	 vq_device_push(struct vq_device *, uint16_t head, uint32_t len);

#endif /* VA_VIRTQ_H */
