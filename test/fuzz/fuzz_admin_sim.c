/*
 * fuzz_admin_sim.c: the simulator's command decoding in each dialect (the
 * dialect's exec and all it calls: LIST_USE rules, modes, context read /
 * write / apply, write records; v1.4 objects and parts; control-vq
 * states, dirty maps, save and restore) and its descriptor-chain parsing
 * (vq_device_pop over a ring the input writes, indirect heads allowed),
 * with a DMA workload in between so records and dirty pages exist.
 *
 * Input: byte 0 = flags (bit 0: LIST_USE and DRIVER_CAP_SET done first;
 * bits 1-2: the dialect, draft, v14, cvq), then records
 *	u8 kind; le16 len; le16 outcap; u8 bytes[len]
 * kind 0: one command (header + data) with outcap writable bytes;
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
sim_setup(struct sim *sim, int flags)
{
	static const struct sim_dialect *const dls[] = { &sim_draft,
	    &sim_v14, &sim_cvq, &sim_draft };
	unsigned int	i;
	char		a0[] = "hot", a1[] = "seed=3", *argv[] = { a0, a1 };
	char		err[200];

	memset(sim, 0, sizeof(*sim));
	sim->dl = dls[(flags >> 1) & 3];
	sim->o.parts_objs = 4;
	sim->o.cvq_modes = CVQ_CAP_ALL;
	sim->o.cvq_log_bitmap = SIM_CVQ_LOG_BITMAP;
	sim->o.cvq_log_bytemap = SIM_CVQ_LOG_BYTEMAP;
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
	if (flags & 1) {
		sim->list_in_use = 1;
		put_le64(sim->list_used, ~0ULL);
		sim->caps_set = 1;
		sim->drv_get_objs = sim->drv_set_objs = 4;
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
	v.indirect = len > 0 && (b[0] & 1);
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
	struct sim_answer a;
	size_t		 off = 1, len, outcap;
	unsigned int	 k, steps;
	uint8_t		 kind;

	if (size < 1)
		return (0);
	sim_setup(&sim, data[0]);
	while (off + 5 <= size) {
		kind = data[off];
		len = get_le16(data + off + 1);
		outcap = get_le16(data + off + 3);
		off += 5;
		if (len > size - off)
			len = size - off;
		switch (kind % 3) {
		case 0:
			sim.dl->exec(&sim, NULL, data + off, len, outbuf,
			    outcap, &a);
			if (a.len > outcap || (sim.dl != &sim_cvq &&
			    outcap >= VA_STATUS_LEN && a.len < VA_STATUS_LEN))
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
			if (sim_vf_active(&sim, vf))
				for (k = 0; k < steps; k++)
					(void)sim_dma_write_one(&sim, vf);
			break;
		}
		off += len;
	}
	sim_teardown(&sim);
	return (0);
}
