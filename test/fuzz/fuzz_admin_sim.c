/*
 * fuzz_admin_sim.c: the simulator's command decoding (sim_cmd_exec and
 * all it calls: LIST_USE rules, modes, context read/write/apply, write
 * records) and its descriptor-chain parsing (vq_device_pop over a ring
 * the input writes), with a DMA workload in between so records exist.
 *
 * Input: byte 0 = flags (bit 0: LIST_USE done first), then records
 *	u8 kind; le16 len; le16 outcap; u8 bytes[len]
 * kind 0: one admin command (header + data) with outcap writable bytes;
 * kind 1: bytes are a ring of 16 descriptors + avail ring: pop and gather;
 * kind 2: step the DMA of VF (bytes[0] % 4 + 1) by bytes[1] % 64 writes.
 */
#include "config.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "util.h"
#include "sim.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);
int	LLVMFuzzerInitialize(int *, char ***);

#define NVFS	4
#define GUEST	(256u << 10)

static uint8_t	*outbuf;
static uint8_t	*guest;

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	log_init(LOG_LEVEL_ERROR, "fuzz");
	outbuf = malloc(VA_STATUS_LEN + VA_DATA_MAX);
	guest = malloc(GUEST);
	return (0);
}

static void
sim_setup(struct sim *sim, int listed)
{
	unsigned int	i;
	char		a0[] = "hot", a1[] = "seed=3", *argv[] = { a0, a1 };
	char		err[200];

	memset(sim, 0, sizeof(*sim));
	sim->o.nvfs = NVFS;
	sim->o.admin_queues = 1;
	sim->o.queue_size = 16;
	sim->o.records_max = 64;
	sim->o.wr_ranges = 8;
	sim->o.wr_page_sizes = 0x211;
	sim->o.precopy = 1;
	sim->o.max_tick_bytes = 1 << 20;
	sim->o.name = "fuzz";
	TAILQ_INIT(&sim->faults);
	sim->vfs = xcalloc(NVFS, sizeof(*sim->vfs));
	for (i = 0; i < NVFS; i++) {
		sim_vf_init(sim, &sim->vfs[i], i + 1);
		sim->vfs[i].mem.p = guest;
		sim->vfs[i].mem.size = GUEST;
		sim->vfs[i].mem.iova = 0x100000;
		(void)sim_dma_configure(&sim->vfs[i], 2, argv, err,
		    sizeof(err));
	}
	if (listed) {
		sim->list_in_use = 1;
		put_le64(sim->list_used, 0x1ff83);
	}
}

static void
sim_teardown(struct sim *sim)
{
	unsigned int	i;

	sim_fault_clear(sim);
	for (i = 0; i < NVFS; i++) {
		sim->vfs[i].mem.p = NULL;	/* not ours to unmap */
		sim->vfs[i].mem.fd = -1;
		sim_vf_free(&sim->vfs[i]);
	}
	free(sim->vfs);
}

static void
ring(const uint8_t *b, size_t len)
{
	static uint8_t		 mem[8192] __attribute__((aligned(16)));
	struct vq_layout	 l;
	struct vq_ring		 r;
	struct vq_device	 v;
	struct vq_chain		 c;
	uint8_t			 tmp[256];
	char			 err[128];
	int			 k = 0;

	memset(mem, 0, sizeof(mem));
	memcpy(mem, b, len < sizeof(mem) ? len : sizeof(mem));
	vq_layout_at(&l, 16, 0);
	if (vq_ring_map(&r, mem, sizeof(mem), &l, err, sizeof(err)) != 0)
		abort();
	vq_device_init(&v, &r, mem, sizeof(mem));
	while (k++ < 64 && vq_device_pop(&v, &c) == 1) {
		if (!c.broken) {
			if (c.rlen > 0)
				(void)vq_chain_read(&v, &c, c.rlen / 2, tmp,
				    sizeof(tmp));
			if (c.wlen > 0)
				(void)vq_chain_write(&v, &c, 0, tmp,
				    sizeof(tmp));
		}
		vq_device_push(&v, c.head, 0);
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct sim	 sim;
	struct sim_vf	*vf;
	size_t		 off = 1, len, outcap, n;
	unsigned int	 k, steps;
	uint8_t		 kind;

	if (size < 1)
		return (0);
	sim_setup(&sim, data[0] & 1);
	while (off + 5 <= size) {
		kind = data[off];
		len = get_le16(data + off + 1);
		outcap = get_le16(data + off + 3);
		off += 5;
		if (len > size - off)
			len = size - off;
		switch (kind % 3) {
		case 0:
			n = sim_cmd_exec(&sim, data + off, len, outbuf,
			    outcap);
			if (n > outcap || (outcap >= VA_STATUS_LEN &&
			    n < VA_STATUS_LEN))
				abort();
			break;
		case 1:
			ring(data + off, len);
			break;
		case 2:
			if (len < 2)
				break;
			vf = &sim.vfs[data[off] % NVFS];
			steps = data[off + 1] % 64;
			if (vf->mode == VA_MODE_ACTIVE)
				for (k = 0; k < steps; k++)
					(void)sim_dma_write_one(&sim, vf);
			break;
		}
		off += len;
	}
	sim_teardown(&sim);
	return (0);
}
