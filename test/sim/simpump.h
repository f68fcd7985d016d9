/*
 * simpump.h: drive a simulated PF of any dialect from C, synchronously:
 * a simulator process (simproc.h), its queue taken over through the real
 * transport (transport_sim.c), and commands posted one at a time with our
 * own descriptors, so a test can send what no driver would (malformed
 * chains, indirect push maps) and run the dialects' operations
 * (dialect.h) to the end, the way the plugin's core will.
 */
#ifndef SIMPUMP_H
#define SIMPUMP_H

#include <stddef.h>
#include <stdint.h>

#include "dialect.h"
#include "simproc.h"
#include "transport.h"

#define SIMPUMP_VFS		8
/* The pool: command out, result in, an indirect table, a push map. */
#define SIMPUMP_POOL		(8u << 20)
#define SIMPUMP_OUT		0
#define SIMPUMP_IN		(3u << 20)
#define SIMPUMP_TABLE		(6u << 20)
#define SIMPUMP_MAP		((6u << 20) + 65536)
#define SIMPUMP_MAP_MAX		(SIMPUMP_POOL - SIMPUMP_MAP)
#define SIMPUMP_CHUNK		(1u << 20)

struct simpump_desc {
	uint64_t	 addr;		/* offset in the pool */
	uint32_t	 len;
	uint16_t	 flags;
	uint16_t	 next;
};

struct simpump {
	struct simproc	 sp;
	struct va_transport *tp;
	struct vq_ring	*r;
	uint8_t		*pool;
	uint16_t	 avail;
	uint16_t	 used;
	const struct va_dialect *d;
	struct va_dpf	 pf;
	struct va_dvf	 vf[SIMPUMP_VFS + 1];	/* by member id */
	int		 nvfs;
};

/* Start a simulator (extra: more options, e.g. "--dialect", "v14") and
 * take its queue; 0 or -errno with a reason. */
int	 simpump_open(struct simpump *, int nvfs, const char *const *extra,
	    char *err, size_t errlen);
void	 simpump_close(struct simpump *);
/* Post descriptors 0..n-1 with the given head; 1 and the used entry
 * (id may be NULL), 0 if nothing came back within wait_ms. */
int	 simpump_post(struct simpump *, const struct simpump_desc *, int n,
	    uint16_t head, uint32_t *id, uint32_t *len, int wait_ms);
/* One dialect command and its answer (the result stays in the pool). */
int	 simpump_cmd(struct simpump *, const struct va_dcmd *,
	    struct va_dres *, char *err, size_t errlen);
/* A whole operation: 0, or -errno with the dialect's reason. */
int	 simpump_run(struct simpump *, struct va_dop *, char *err,
	    size_t errlen);
/* PF_OPEN, then VF_PROBE of each VF. */
int	 simpump_open_pf(struct simpump *, char *err, size_t errlen);

#endif /* SIMPUMP_H */
