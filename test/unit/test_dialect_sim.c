/*
 * test_dialect_sim.c: the three dialects' operations (dialect_*.c) run to
 * the end against simulated PFs of each dialect (vmig-simdev --dialect),
 * through the real transport and rings: open, modes, save and load, dirty
 * tracking; each dialect's image through the canonical state and back,
 * byte for byte; a VF migrated across every pair of dialects with its
 * net control state, queues and DMA engine intact (the destination's
 * writes continue the source's byte for byte); incompatible states
 * refused with the field named before anything is sent.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <criterion/criterion.h>

#include "util.h"
#include "cvq.h"
#include "dialect.h"
#include "simpump.h"
#include "v14.h"

TestSuite(dialect_sim, .timeout = 120);

#define MEM		(256u << 10)
#define IOVA		0x100000000ULL
#define IMG_MAX		(1u << 20)

static char	 err[512];
static uint8_t	 img[IMG_MAX], img2[IMG_MAX], canon[IMG_MAX];

static const char *const *
args(const char *dialect)
{
	static const char *a[4];

	a[0] = "--dialect";
	a[1] = dialect;
	a[2] = NULL;
	return (a);
}

static void
pump_open(struct simpump *p, const char *dialect, int nvfs)
{
	cr_assert_eq(simpump_open(p, nvfs, args(dialect), err, sizeof(err)),
	    0, "%s", err);
	cr_assert_eq(simpump_open_pf(p, err, sizeof(err)), 0, "%s", err);
	cr_assert_str_eq(p->d->name, strcmp(dialect, "draft") == 0 ?
	    "draft" : dialect);
}

static int
run(struct simpump *p, enum va_dop_kind kind, int vf, struct va_dop *op)
{
	va_dop_init(op, kind, &p->pf, &p->vf[vf]);
	return (simpump_run(p, op, err, sizeof(err)));
}

static int
set_mode(struct simpump *p, int vf, enum vmig_mode m)
{
	struct va_dop	op;

	va_dop_init(&op, VA_DOP_SET_MODE, &p->pf, &p->vf[vf]);
	op.target = m;
	return (simpump_run(p, &op, err, sizeof(err)));
}

static size_t
save(struct simpump *p, int vf, uint8_t *buf)
{
	struct va_dop	op;

	va_dop_init(&op, VA_DOP_SAVE, &p->pf, &p->vf[vf]);
	op.buf = buf;
	op.cap = IMG_MAX;
	cr_assert_eq(simpump_run(p, &op, err, sizeof(err)), 0, "%s save: %s",
	    p->d->name, err);
	cr_assert_gt(op.size, 0);
	return ((size_t)op.size);
}

static int
load(struct simpump *p, int vf, uint8_t *buf, size_t len)
{
	struct va_dop	op;

	va_dop_init(&op, VA_DOP_LOAD, &p->pf, &p->vf[vf]);
	op.buf = buf;
	op.len = len;
	return (simpump_run(p, &op, err, sizeof(err)));
}

static unsigned long long
hex(struct simpump *p, const char *what, int vf)
{
	unsigned long long v;

	cr_assert_eq(simproc_hex(&p->sp, &v, "%s %d", what, vf), 0);
	return (v);
}

static const char *
field(struct simpump *p, int vf, const char *key)
{
	static char	reply[1024], v[128];

	cr_assert_eq(simproc_cmd(&p->sp, reply, sizeof(reply), "state %d",
	    vf), 0);
	cr_assert_eq(simproc_field(reply, key, v, sizeof(v)), 0, "%s", key);
	return (v);
}

/* A zeroed guest-memory file attached to vf at IOVA. */
static void
attach(struct simpump *p, int vf, char *path, size_t len)
{
	int	fd;

	snprintf(path, len, "/dev/shm/vmig-dsim-%d-%s-%d", getpid(),
	    p->d->name, vf);
	fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
	cr_assert_geq(fd, 0);
	cr_assert_eq(ftruncate(fd, MEM), 0);
	close(fd);
	cr_assert_eq(simproc_cmd(&p->sp, NULL, 0, "attach %d %s %u %#llx",
	    vf, path, MEM, IOVA), 0);
}

static void
copy_file(const char *from, const char *to)
{
	static uint8_t	buf[MEM];
	int		a, b;

	a = open(from, O_RDONLY);
	b = open(to, O_WRONLY);
	cr_assert(a >= 0 && b >= 0);
	cr_assert_eq(read(a, buf, MEM), MEM);
	cr_assert_eq(write(b, buf, MEM), MEM);
	close(a);
	close(b);
}

/* ------------------------------------------------------ each dialect */

static void
save_load_same(const char *dialect)
{
	struct simpump	 p;
	struct va_dop	 op;
	size_t		 n;

	pump_open(&p, dialect, 3);
	cr_assert_eq(simproc_cmd(&p.sp, NULL, 0, "cvq 1 mac=02:00:00:00:00:01 "
	    "rx=5 vlan=7 vlan=300 uc=02:00:00:00:00:09 mc=01:00:5e:00:00:02"),
	    0);
	cr_assert_eq(set_mode(&p, 1, VMIG_MODE_FROZEN), 0, "%s", err);
	cr_assert_eq(run(&p, VA_DOP_STATE_SIZE, 1, &op), 0, "%s", err);
	n = save(&p, 1, img);
	cr_assert_eq(op.size, n, "%s: size %llu, image %zu", dialect,
	    (unsigned long long)op.size, n);
	/* Into vf2: refused while it runs (the device says so). */
	cr_assert_neq(load(&p, 2, img, n), 0);
	cr_assert_neq(hex(&p, "digest", 1), hex(&p, "digest", 2));
	cr_assert_eq(set_mode(&p, 2, VMIG_MODE_FROZEN), 0, "%s", err);
	cr_assert_eq(load(&p, 2, img, n), 0, "%s", err);
	cr_assert_eq(hex(&p, "digest", 1), hex(&p, "digest", 2));
	/* And back to running, both. */
	cr_assert_eq(set_mode(&p, 1, VMIG_MODE_ACTIVE), 0, "%s", err);
	cr_assert_eq(set_mode(&p, 2, VMIG_MODE_ACTIVE), 0, "%s", err);
	cr_assert_eq(run(&p, VA_DOP_GET_MODE, 2, &op), 0, "%s", err);
	cr_assert_eq(op.mode, VMIG_MODE_ACTIVE);
	simpump_close(&p);
}

Test(dialect_sim, draft_save_load)
{
	save_load_same("draft");
}

Test(dialect_sim, v14_save_load)
{
	save_load_same("v14");
}

Test(dialect_sim, cvq_save_load)
{
	save_load_same("cvq");
}

Test(dialect_sim, modes_per_dialect)
{
	struct simpump	 p;
	struct va_dop	 op;

	/* cvq: running -> quiesced -> freezed is two SET_STATEs; an FLR
	 * puts a VF in INIT, reported STOPPED, and FREEZE leaves it. */
	pump_open(&p, "cvq", 1);
	cr_assert_eq(p.vf[1].mode, CVQ_S_RUNNING);
	cr_assert_eq(set_mode(&p, 1, VMIG_MODE_FROZEN), 0, "%s", err);
	cr_assert_str_eq(field(&p, 1, "mode"), "freezed");
	cr_assert_eq(simproc_cmd(&p.sp, NULL, 0, "mode 1 init"), 0);
	cr_assert_eq(run(&p, VA_DOP_GET_MODE, 1, &op), 0, "%s", err);
	cr_assert_eq(op.mode, VMIG_MODE_STOPPED);
	cr_assert_eq(set_mode(&p, 1, VMIG_MODE_STOPPED), 0, "%s", err);
	cr_assert_str_eq(field(&p, 1, "mode"), "quiesced");
	/* A save needs FREEZED. */
	va_dop_init(&op, VA_DOP_SAVE, &p.pf, &p.vf[1]);
	op.buf = img;
	op.cap = IMG_MAX;
	cr_assert_eq(simpump_run(&p, &op, err, sizeof(err)), -EINVAL);
	cr_assert_not_null(strstr(err, "FREEZED"), "%s", err);
	simpump_close(&p);

	/* v1.4: no mode query (the cached one), FROZEN is stopped. */
	pump_open(&p, "v14", 1);
	cr_assert_eq(run(&p, VA_DOP_GET_MODE, 1, &op), 0, "%s", err);
	cr_assert_eq(op.mode, VMIG_MODE_UNKNOWN);
	cr_assert_eq(set_mode(&p, 1, VMIG_MODE_FROZEN), 0, "%s", err);
	cr_assert_str_eq(field(&p, 1, "mode"), "stopped");
	cr_assert_eq(run(&p, VA_DOP_GET_MODE, 1, &op), 0, "%s", err);
	cr_assert_eq(op.mode, VMIG_MODE_STOPPED);
	simpump_close(&p);
}

/* Pages of the attached memory that are not zero: each must be set. */
static uint64_t
touched(const char *path, uint64_t *bits)
{
	static uint8_t	 buf[MEM];
	uint64_t	 n = 0, pg;
	size_t		 i;
	int		 fd = open(path, O_RDONLY);

	cr_assert_eq(read(fd, buf, MEM), MEM);
	close(fd);
	for (pg = 0; pg < MEM / 4096; pg++) {
		for (i = 0; i < 4096 && buf[pg * 4096 + i] == 0; i++)
			;
		if (i == 4096)
			continue;
		n++;
		cr_assert(bits[pg / 64] & (1ULL << (pg % 64)), "page %llu "
		    "written but not reported", (unsigned long long)pg);
	}
	return (n);
}

static void
dirty_round(const char *dialect, int track_mode)
{
	struct simpump	 p;
	struct va_dop	 op;
	struct vmig_iova_range rg = { IOVA, MEM };
	struct vmig_dirty_map map;
	uint64_t	 bits[MEM / 4096 / 64];
	char		 path[128];

	pump_open(&p, dialect, 1);
	attach(&p, 1, path, sizeof(path));
	cr_assert_eq(simproc_cmd(&p.sp, NULL, 0, "hold 1"), 0);
	cr_assert_eq(simproc_cmd(&p.sp, NULL, 0, "workload 1 hot "
	    "fraction=0.3 size=512 seed=11"), 0);
	va_dop_init(&op, VA_DOP_DIRTY_START, &p.pf, &p.vf[1]);
	op.ranges = &rg;
	op.nranges = 1;
	op.page_size = 4096;
	op.track_mode = track_mode;
	cr_assert_eq(simpump_run(&p, &op, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(simproc_cmd(&p.sp, NULL, 0, "step 1 300"), 0);
	memset(bits, 0, sizeof(bits));
	map = (struct vmig_dirty_map){ IOVA, MEM, 4096, bits };
	va_dop_init(&op, VA_DOP_DIRTY_READ, &p.pf, &p.vf[1]);
	op.maps = &map;
	op.nmaps = 1;
	cr_assert_eq(simpump_run(&p, &op, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(op.pages, touched(path, bits), "%s mode %d: %llu "
	    "pages set", dialect, track_mode, (unsigned long long)op.pages);
	cr_assert_gt(op.pages, 0);
	cr_assert_eq(op.outside, 0);
	/* Read and cleared: a second read finds nothing new. */
	va_dop_init(&op, VA_DOP_DIRTY_READ, &p.pf, &p.vf[1]);
	op.maps = &map;
	op.nmaps = 1;
	cr_assert_eq(simpump_run(&p, &op, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(op.records, 0);
	va_dop_init(&op, VA_DOP_DIRTY_STOP, &p.pf, &p.vf[1]);
	cr_assert_eq(simpump_run(&p, &op, err, sizeof(err)), 0, "%s", err);
	cr_assert_str_eq(field(&p, 1, "track"), "off");
	unlink(path);
	simpump_close(&p);
}

Test(dialect_sim, dirty_draft_records)
{
	dirty_round("draft", 0);
}

Test(dialect_sim, dirty_cvq_pull_bitmap)
{
	dirty_round("cvq", CVQ_TRACK_PULL_BITMAP);
}

Test(dialect_sim, dirty_cvq_pull_bytemap)
{
	dirty_round("cvq", CVQ_TRACK_PULL_BYTEMAP);
}

Test(dialect_sim, dirty_cvq_push_bitmap)
{
	dirty_round("cvq", CVQ_TRACK_PUSH_BITMAP);
}

Test(dialect_sim, dirty_cvq_push_bytemap)
{
	dirty_round("cvq", CVQ_TRACK_PUSH_BYTEMAP);
}

Test(dialect_sim, dirty_v14_none)
{
	struct simpump	 p;
	struct va_dop	 op;

	pump_open(&p, "v14", 1);
	cr_assert_eq(p.vf[1].caps.dirty_kind, VMIG_DIRTY_NONE);
	cr_assert_eq(run(&p, VA_DOP_DIRTY_START, 1, &op), -EOPNOTSUPP);
	cr_assert_not_null(strstr(err, "IOMMU"), "%s", err);
	simpump_close(&p);
}

/* v1.4: a failure after the object exists still destroys it. */
Test(dialect_sim, v14_object_cleanup)
{
	struct simpump	 p;
	struct va_dop	 op;
	size_t		 i;

	pump_open(&p, "v14", 2);
	cr_assert_eq(p.pf.obj_limit, 4);	/* 2 x VFs by default */
	cr_assert_eq(simproc_cmd(&p.sp, NULL, 0, "fault fail "
	    "op=DEV_PARTS_GET status=12 count=1"), 0);
	va_dop_init(&op, VA_DOP_SAVE, &p.pf, &p.vf[1]);
	op.buf = img;
	op.cap = IMG_MAX;
	cr_assert_eq(simpump_run(&p, &op, err, sizeof(err)), -ENOMEM);
	cr_assert_not_null(strstr(err, "parts_get"), "%s", err);
	cr_assert_eq(p.vf[1].obj, -1);
	for (i = 0; i < sizeof(p.pf.obj_used); i++)
		cr_assert_eq(p.pf.obj_used[i], 0);
	/* The device freed it too: object 0 can be created again. */
	(void)save(&p, 1, img);
	/* Every object in use: the next operation says so. */
	p.pf.obj_used[0] = 0xf;
	va_dop_init(&op, VA_DOP_SAVE, &p.pf, &p.vf[2]);
	op.buf = img;
	op.cap = IMG_MAX;
	cr_assert_eq(simpump_run(&p, &op, err, sizeof(err)), -EBUSY);
	cr_assert_not_null(strstr(err, "in use"), "%s", err);
	simpump_close(&p);
}

/* ------------------------------------------- through the canonical form */

Test(dialect_sim, canon_roundtrip_each)
{
	static const char *const names[] = { "draft", "v14", "cvq" };
	struct simpump	 p;
	struct vds	*s = calloc(1, sizeof(*s)), *t = calloc(1, sizeof(*t));
	long		 n, m, k;
	size_t		 i, len;

	for (i = 0; i < 3; i++) {
		pump_open(&p, names[i], 1);
		cr_assert_eq(simproc_cmd(&p.sp, NULL, 0, "cvq 1 "
		    "mac=02:00:00:00:00:07 rx=9 vlan=4095 "
		    "uc=02:00:00:00:00:08"), 0);
		cr_assert_eq(set_mode(&p, 1, VMIG_MODE_FROZEN), 0, "%s", err);
		len = save(&p, 1, img);
		cr_assert_eq(p.d->to_canon(img, len, 1, s, err, sizeof(err)), 0,
		    "%s: %s", names[i], err);
		/* On the wire and back: the canonical codec is exact. */
		n = vds_encode(s, canon, sizeof(canon), err, sizeof(err));
		cr_assert_gt(n, 0, "%s", err);
		cr_assert_eq(vds_decode(canon, (size_t)n, t, err, sizeof(err)),
		    0, "%s", err);
		m = vds_encode(t, img2, sizeof(img2), err, sizeof(err));
		cr_assert_eq(m, n);
		cr_assert_eq(memcmp(canon, img2, (size_t)n), 0);
		/* And into the same dialect: the device's image, exactly. */
		k = p.d->from_canon(t, NULL, img2, sizeof(img2), err,
		    sizeof(err));
		cr_assert_eq(k, (long)len, "%s: %ld bytes, image %zu (%s)",
		    names[i], k, len, err);
		cr_assert_eq(memcmp(img, img2, len), 0, "%s", names[i]);
		simpump_close(&p);
	}
	free(s);
	free(t);
}

/*
 * One VF from a PF of dialect a to a PF of dialect b: state through the
 * canonical form (with the destination's own state as the base), memory
 * copied as the engine would, then both write on and must write the same.
 */
static void
migrate(const char *a, const char *b)
{
	struct simpump	 src, dst;
	struct vds	*s = calloc(1, sizeof(*s)), *base = calloc(1,
			    sizeof(*base)), *back = calloc(1, sizeof(*back));
	char		 ps[128], pd[128], h1[64], h2[64];
	size_t		 len, blen;
	long		 n;
	uint32_t	 q;

	pump_open(&src, a, 2);
	pump_open(&dst, b, 3);
	attach(&src, 2, ps, sizeof(ps));
	attach(&dst, 3, pd, sizeof(pd));
	cr_assert_eq(simproc_cmd(&src.sp, NULL, 0, "cvq 2 "
	    "mac=02:aa:00:00:00:02 rx=33 vlan=10 vlan=20 "
	    "uc=02:aa:00:00:00:09 mc=01:00:5e:00:00:07 mc=01:00:5e:00:00:08"),
	    0);
	cr_assert_eq(simproc_cmd(&src.sp, NULL, 0, "hold 2"), 0);
	cr_assert_eq(simproc_cmd(&src.sp, NULL, 0, "workload 2 hot "
	    "fraction=0.2 size=256 seed=77"), 0);
	cr_assert_eq(simproc_cmd(&src.sp, NULL, 0, "step 2 500"), 0);

	/* Source: stop, save, to the canonical form, over the "wire". */
	cr_assert_eq(set_mode(&src, 2, VMIG_MODE_FROZEN), 0, "%s", err);
	len = save(&src, 2, img);
	cr_assert_eq(src.d->to_canon(img, len, 1, s, err, sizeof(err)), 0,
	    "%s", err);
	n = vds_encode(s, canon, sizeof(canon), err, sizeof(err));
	cr_assert_gt(n, 0, "%s", err);
	cr_assert_eq(vds_decode(canon, (size_t)n, s, err, sizeof(err)), 0,
	    "%s", err);

	/* Destination: its own state is the base for what a should not
	 * and cannot carry (device config, notify offsets). */
	cr_assert_eq(set_mode(&dst, 3, VMIG_MODE_FROZEN), 0, "%s", err);
	blen = save(&dst, 3, img2);
	cr_assert_eq(dst.d->to_canon(img2, blen, 1, base, err, sizeof(err)),
	    0, "%s", err);
	if (strcmp(a, "v14") == 0 && strcmp(b, "v14") != 0) {
		/* 1.4 keeps the avail index in the used ring in guest
		 * memory: refused until the core has read it from there
		 * (here: the simulator's stand-in for that ring). */
		cr_assert_lt(va_state_compat(s, dst.d, base, err,
		    sizeof(err)), 0);
		cr_assert_not_null(strstr(err, "VQ_SPLIT (avail index) of "
		    "queue 0"), "%s", err);
		for (q = 0; q < s->nvq; q++)
			s->vq[q].has |= VDS_VQ_HAS_SPLIT;
		s->vq[0].avail_idx = (uint16_t)atoi(field(&src, 2,
		    "rx_avail_idx"));
	}
	cr_assert_eq(va_state_compat(s, dst.d, base, err, sizeof(err)), 0,
	    "%s -> %s: %s", a, b, err);
	n = dst.d->from_canon(s, base, img2, sizeof(img2), err, sizeof(err));
	cr_assert_gt(n, 0, "%s", err);
	cr_assert_eq(load(&dst, 3, img2, (size_t)n), 0, "%s -> %s: %s", a, b,
	    err);

	/* What the destination holds now means what the source held. */
	blen = save(&dst, 3, img2);
	cr_assert_eq(dst.d->to_canon(img2, blen, 1, back, err, sizeof(err)),
	    0, "%s", err);
	cr_assert_eq(memcmp(&back->net, &s->net, sizeof(s->net)), 0,
	    "%s -> %s: net control state differs", a, b);
	cr_assert_eq(back->nvendor, 1);
	cr_assert_eq(back->vendor[0].len, s->vendor[0].len);
	cr_assert_eq(memcmp(back->vendor[0].p, s->vendor[0].p,
	    s->vendor[0].len), 0, "%s -> %s: DMA state differs", a, b);
	cr_assert_eq(back->nvq, s->nvq);
	for (q = 0; q < s->nvq; q++) {
		cr_assert_eq(back->vq[q].desc, s->vq[q].desc);
		cr_assert_eq(back->vq[q].device, s->vq[q].device);
		cr_assert_eq(back->vq[q].size, s->vq[q].size);
		cr_assert_eq(back->vq[q].msix, s->vq[q].msix);
		cr_assert_eq(back->vq[q].enabled, s->vq[q].enabled);
	}
	cr_assert_eq(vds_reg_get(back, VDS_R_DEVICE_STATUS),
	    vds_reg_get(s, VDS_R_DEVICE_STATUS));

	/* The memory as the engine would have copied it; then both write
	 * on from the same DMA state: the same bytes. */
	copy_file(ps, pd);
	cr_assert_eq(set_mode(&src, 2, VMIG_MODE_ACTIVE), 0, "%s", err);
	cr_assert_eq(simproc_cmd(&dst.sp, NULL, 0, "hold 3"), 0);
	cr_assert_eq(set_mode(&dst, 3, VMIG_MODE_ACTIVE), 0, "%s", err);
	cr_assert_eq(simproc_cmd(&src.sp, NULL, 0, "step 2 400"), 0);
	cr_assert_eq(simproc_cmd(&dst.sp, NULL, 0, "step 3 400"), 0);
	cr_assert_eq(hex(&src, "memdigest", 2), hex(&dst, "memdigest", 3),
	    "%s -> %s: the writes diverged", a, b);
	snprintf(h1, sizeof(h1), "%s", field(&src, 2, "hash"));
	snprintf(h2, sizeof(h2), "%s", field(&dst, 3, "hash"));
	cr_assert_str_eq(h1, h2);
	unlink(ps);
	unlink(pd);
	simpump_close(&src);
	simpump_close(&dst);
	free(s);
	free(base);
	free(back);
}

Test(dialect_sim, cross_draft_to_v14)
{
	migrate("draft", "v14");
}

Test(dialect_sim, cross_v14_to_draft)
{
	migrate("v14", "draft");
}

Test(dialect_sim, cross_draft_to_cvq)
{
	migrate("draft", "cvq");
}

Test(dialect_sim, cross_cvq_to_draft)
{
	migrate("cvq", "draft");
}

Test(dialect_sim, cross_v14_to_cvq)
{
	migrate("v14", "cvq");
}

Test(dialect_sim, cross_cvq_to_v14)
{
	migrate("cvq", "v14");
}

Test(dialect_sim, same_dialect_through_canon)
{
	migrate("draft", "draft");
	migrate("v14", "v14");
	migrate("cvq", "cvq");
}

/* A receiving ring owns descriptors while stopped in the draft: 1.4 has
 * no part for them. Refused naming the field, and nothing sent. */
Test(dialect_sim, incompatible_refused)
{
	struct simpump	 src, dst;
	struct vds	*s = calloc(1, sizeof(*s));
	unsigned long long before;
	char		 ps[128];
	size_t		 len;

	pump_open(&src, "draft", 1);
	pump_open(&dst, "v14", 1);
	attach(&src, 1, ps, sizeof(ps));
	cr_assert_eq(simproc_cmd(&src.sp, NULL, 0, "hold 1"), 0);
	cr_assert_eq(simproc_cmd(&src.sp, NULL, 0, "workload 1 stream "
	    "bufs=16 seed=3"), 0);
	cr_assert_eq(simproc_cmd(&src.sp, NULL, 0, "step 1 20"), 0);
	cr_assert_eq(set_mode(&src, 1, VMIG_MODE_FROZEN), 0, "%s", err);
	len = save(&src, 1, img);
	cr_assert_eq(src.d->to_canon(img, len, 1, s, err, sizeof(err)), 0,
	    "%s", err);
	before = hex(&dst, "digest", 1);
	cr_assert_eq(va_state_compat(s, dst.d, NULL, err, sizeof(err)),
	    -EPROTONOSUPPORT);
	cr_assert_not_null(strstr(err, "VQ_SPLIT of queue 0: 8 "
	    "device-owned descriptors"), "%s", err);
	cr_assert_lt(dst.d->from_canon(s, NULL, img2, sizeof(img2), err,
	    sizeof(err)), 0);
	cr_assert_eq(hex(&dst, "digest", 1), before);
	cr_assert_str_eq(field(&dst, 1, "cmds"), "0");
	unlink(ps);
	simpump_close(&src);
	simpump_close(&dst);
	free(s);
}

/* ----------------------------------------- the devices' refusals, raw */

static struct va_dres
raw(struct simpump *p, uint16_t opcode, uint16_t group, uint64_t member,
    const void *data, size_t dlen, size_t rcap)
{
	struct va_dcmd	c;
	struct va_dres	r;

	memset(&c, 0, sizeof(c));
	c.opcode = opcode;
	c.group = group;
	c.member = member;
	cr_assert_leq(dlen, sizeof(c.data));
	if (dlen > 0)
		memcpy(c.data, data, dlen);
	c.data_len = dlen;
	c.result_cap = rcap;
	cr_assert_eq(simpump_cmd(p, &c, &r, err, sizeof(err)), 0, "%s", err);
	return (r);
}

Test(dialect_sim, v14_device_refusals)
{
	struct simpump	 p;
	struct va_dres	 r;
	uint8_t		 d[64];
	char		 reply[1024];

	/* Objects before DRIVER_CAP_SET: refused. */
	cr_assert_eq(simpump_open(&p, 2, args("v14"), err, sizeof(err)), 0,
	    "%s", err);
	put_le64(d, 0x3e783);	/* 0, 1, 7-0xa, 0xd-0x11 */
	r = raw(&p, VA_OP_LIST_USE, VA_GROUP_SRIOV, 0, d, 8, 0);
	cr_assert_eq(r.status, 0);
	r = raw(&p, V14_OP_RESOURCE_OBJ_CREATE, VA_GROUP_SRIOV, 1, d,
	    v14_obj_create_put(d, 0, V14_PARTS_OBJ_GET), 0);
	cr_assert_eq(r.qual, VA_Q_INVALID_COMMAND);
	/* Capabilities are Self-group commands. */
	r = raw(&p, V14_OP_CAP_ID_LIST_QUERY, VA_GROUP_SRIOV, 0, NULL, 0, 8);
	cr_assert_eq(r.qual, VA_Q_INVALID_GROUP);
	r = raw(&p, V14_OP_CAP_ID_LIST_QUERY, VA_GROUP_SELF, 0, NULL, 0, 8);
	cr_assert_eq(r.status, 0);
	cr_assert_eq(get_le64(r.result), 1);
	r = raw(&p, V14_OP_DEVICE_CAP_GET, VA_GROUP_SELF, 0, d,
	    v14_cap_put(d, 5), 8);
	cr_assert_eq(r.status, VA_STATUS_ENXIO);
	r = raw(&p, V14_OP_DRIVER_CAP_SET, VA_GROUP_SELF, 0, d,
	    v14_cap_set_put(d, 9, 1), 0);
	cr_assert_eq(r.qual, VA_Q_INVALID_FIELD, "limits above the device's");
	r = raw(&p, V14_OP_DRIVER_CAP_SET, VA_GROUP_SELF, 0, d,
	    v14_cap_set_put(d, 2, 1), 0);
	cr_assert_eq(r.status, 0);
	/* Create: one GET object; a duplicate id; too many SET objects. */
	r = raw(&p, V14_OP_RESOURCE_OBJ_CREATE, VA_GROUP_SRIOV, 1, d,
	    v14_obj_create_put(d, 0, V14_PARTS_OBJ_GET), 0);
	cr_assert_eq(r.status, 0);
	r = raw(&p, V14_OP_RESOURCE_OBJ_CREATE, VA_GROUP_SRIOV, 2, d,
	    v14_obj_create_put(d, 0, V14_PARTS_OBJ_SET), 0);
	cr_assert_eq(r.status, VA_STATUS_EEXIST);
	r = raw(&p, V14_OP_RESOURCE_OBJ_CREATE, VA_GROUP_SRIOV, 2, d,
	    v14_obj_create_put(d, 1, V14_PARTS_OBJ_SET), 0);
	cr_assert_eq(r.status, 0);
	r = raw(&p, V14_OP_RESOURCE_OBJ_CREATE, VA_GROUP_SRIOV, 2, d,
	    v14_obj_create_put(d, 2, V14_PARTS_OBJ_SET), 0);
	cr_assert_eq(r.qual, VA_Q_INVALID_FIELD, "id past the limit");
	/* Another VF's object, the wrong kind of object. */
	r = raw(&p, V14_OP_DEV_PARTS_METADATA_GET, VA_GROUP_SRIOV, 2, d,
	    v14_meta_put(d, 0, V14_META_SIZE), 8);
	cr_assert_eq(r.status, VA_STATUS_ENXIO);
	r = raw(&p, V14_OP_DEV_PARTS_METADATA_GET, VA_GROUP_SRIOV, 2, d,
	    v14_meta_put(d, 1, V14_META_SIZE), 8);
	cr_assert_eq(r.qual, VA_Q_INVALID_FIELD);
	/* METADATA LIST: the headers; too small a result: ENOMEM. */
	r = raw(&p, V14_OP_DEV_PARTS_METADATA_GET, VA_GROUP_SRIOV, 1, d,
	    v14_meta_put(d, 0, V14_META_COUNT), 8);
	cr_assert_eq(r.status, 0);
	cr_assert_gt(get_le32(r.result), 10);
	r = raw(&p, V14_OP_DEV_PARTS_METADATA_GET, VA_GROUP_SRIOV, 1, d,
	    v14_meta_put(d, 0, V14_META_LIST), 64);
	cr_assert_eq(r.status, VA_STATUS_ENOMEM);
	r = raw(&p, V14_OP_DEV_PARTS_METADATA_GET, VA_GROUP_SRIOV, 1, d,
	    v14_meta_put(d, 0, V14_META_LIST), 8192);
	cr_assert_eq(r.status, 0);
	cr_assert_eq(get_le16(r.result + 8), V14_PART_DEV_FEATURES);
	/* GET SELECTED: device status, and a part that does not exist. */
	v14_get_put(d, 0, V14_GET_SELECTED);
	memset(d + 16, 0, 32);
	put_le16(d + 16, V14_PART_DEVICE_STATUS);
	put_le16(d + 32, V14_PART_VQ_CFG);
	put_le16(d + 36, 9);
	r = raw(&p, V14_OP_DEV_PARTS_GET, VA_GROUP_SRIOV, 1, d, 48, 256);
	cr_assert_eq(r.status, 0);
	cr_assert_eq(r.result_len, V14_PART_HDR_LEN + 1);
	cr_assert_eq(r.result[V14_PART_HDR_LEN], 0x0f);
	/* SET while running, and a bad part while stopped: refused, the
	 * state unchanged. */
	v14_obj_hdr_put(d, V14_OBJ_DEV_PARTS, 1);
	memset(d + 8, 0, 17);
	put_le16(d + 8, V14_PART_DEVICE_STATUS);
	put_le32(d + 20, 1);
	d[24] = 0x07;
	r = raw(&p, V14_OP_DEV_PARTS_SET, VA_GROUP_SRIOV, 2, d, 25, 0);
	cr_assert_eq(r.qual, VA_Q_INVALID_COMMAND);
	cr_assert_eq(simproc_cmd(&p.sp, reply, sizeof(reply), "mode 2 stop"),
	    0);
	v14_obj_hdr_put(d, V14_OBJ_DEV_PARTS, 1);
	put_le32(d + 20, 2);	/* a device status of two bytes */
	r = raw(&p, V14_OP_DEV_PARTS_SET, VA_GROUP_SRIOV, 2, d, 25, 0);
	cr_assert_eq(r.qual, VA_Q_INVALID_FIELD);
	cr_assert_eq(simproc_cmd(&p.sp, reply, sizeof(reply), "state 2"), 0);
	cr_assert_not_null(strstr(reply, "DEVICE_STATUS): length 2"), "%s",
	    reply);
	put_le32(d + 20, 1);
	r = raw(&p, V14_OP_DEV_PARTS_SET, VA_GROUP_SRIOV, 2, d, 25, 0);
	cr_assert_eq(r.status, 0);
	/* The mode flags: only bit 0. */
	d[0] = 2;
	r = raw(&p, V14_OP_DEV_MODE_SET, VA_GROUP_SRIOV, 2, d, 8, 0);
	cr_assert_eq(r.qual, VA_Q_INVALID_FIELD);
	/* A new driver: objects and capabilities are gone. */
	simpump_close(&p);
}

static struct va_dres
craw(struct simpump *p, uint16_t opcode, const void *data, size_t dlen,
    size_t rcap)
{
	return (raw(p, opcode, 0, 0, data, dlen, rcap));
}

Test(dialect_sim, cvq_device_refusals)
{
	struct simpump	 p;
	struct va_dres	 r;
	struct simpump_desc d[2];
	uint8_t		 b[64];
	uint32_t	 used;
	char		 reply[1024];

	cr_assert_eq(simpump_open(&p, 2, args("cvq"), err, sizeof(err)), 0,
	    "%s", err);
	r = craw(&p, CVQ_OP_IDENTIFY, NULL, 0, CVQ_IDENTIFY_LEN);
	cr_assert_eq(r.status, CVQ_ACK_OK);
	cr_assert_eq(r.result_len, CVQ_IDENTIFY_LEN);
	cr_assert_eq(get_le16(r.result + 6), CVQ_CAP_ALL);
	/* Unknown command, no such function, a result with no room. */
	r = craw(&p, CVQ_OP(9), NULL, 0, 8);
	cr_assert_eq(r.status, CVQ_ACK_ERR);
	r = craw(&p, CVQ_OP_GET_STATE_ATTRS, b, cvq_func_put(b, 0), 8);
	cr_assert_eq(r.status, CVQ_ACK_ERR);
	r = craw(&p, CVQ_OP_GET_STATE_ATTRS, b, cvq_func_put(b, 3), 8);
	cr_assert_eq(r.status, CVQ_ACK_ERR);
	r = craw(&p, CVQ_OP_GET_STATE_ATTRS, b, cvq_func_put(b, 1), 2);
	cr_assert_eq(r.status, CVQ_ACK_ERR);
	r = craw(&p, CVQ_OP_GET_STATE_ATTRS, b, cvq_func_put(b, 1), 6);
	cr_assert_eq(r.status, CVQ_ACK_OK);
	cr_assert_eq(get_le16(r.result + 4), CVQ_S_RUNNING);
	/* INIT is not set; RUNNING -> FREEZED is not one step. */
	r = craw(&p, CVQ_OP_SET_STATE, b, cvq_set_state_put(b, 1,
	    CVQ_S_INIT), 0);
	cr_assert_eq(r.status, CVQ_ACK_ERR);
	r = craw(&p, CVQ_OP_SET_STATE, b, cvq_set_state_put(b, 1,
	    CVQ_S_FREEZED), 0);
	cr_assert_eq(r.status, CVQ_ACK_ERR);
	cr_assert_eq(simproc_cmd(&p.sp, reply, sizeof(reply), "state 1"), 0);
	cr_assert_not_null(strstr(reply, "running to freezed is not a "
	    "transition"), "%s", reply);
	/* Save and restore only FREEZED; restore portions in order. */
	r = craw(&p, CVQ_OP_SAVE_STATE, b, cvq_offset_put(b, 1, 0), 64);
	cr_assert_eq(r.status, CVQ_ACK_ERR);
	cr_assert_eq(simproc_cmd(&p.sp, NULL, 0, "mode 1 quiesced"), 0);
	cr_assert_eq(simproc_cmd(&p.sp, NULL, 0, "mode 1 freezed"), 0);
	r = craw(&p, CVQ_OP_SAVE_STATE, b, cvq_offset_put(b, 1, 8), 64);
	cr_assert_eq(r.status, CVQ_ACK_ERR, "offset without a save from 0");
	r = craw(&p, CVQ_OP_SAVE_STATE, b, cvq_offset_put(b, 1, 0), 16);
	cr_assert_eq(r.status, CVQ_ACK_OK);
	cr_assert_eq(r.result_len, 16);
	memcpy(b + CVQ_OFFSET_LEN, r.result, 16);
	cvq_offset_put(b, 1, 8);
	r = craw(&p, CVQ_OP_RESTORE_STATE, b, CVQ_OFFSET_LEN + 16, 0);
	cr_assert_eq(r.status, CVQ_ACK_ERR, "portion at 8 before 0");
	/* Pull reports only while pulling; push needs an indirect map. */
	r = craw(&p, CVQ_OP_GET_DIRTY_REPORT_SIZE, b, cvq_func_put(b, 1), 4);
	cr_assert_eq(r.status, CVQ_ACK_ERR);
	r = craw(&p, CVQ_OP_START_DIRTY_PAGE_TRACK, b, cvq_start_put(b, 1,
	    CVQ_TRACK_PUSH_BITMAP), 0);
	cr_assert_eq(r.status, CVQ_ACK_ERR);
	r = craw(&p, CVQ_OP_START_DIRTY_PAGE_TRACK, b, cvq_start_put(b, 1,
	    CVQ_TRACK_PULL_BYTEMAP), 0);
	cr_assert_eq(r.status, CVQ_ACK_OK);
	r = craw(&p, CVQ_OP_START_DIRTY_PAGE_TRACK, b, cvq_start_put(b, 1,
	    CVQ_TRACK_PULL_BITMAP), 0);
	cr_assert_eq(r.status, CVQ_ACK_ERR, "already tracking");
	r = craw(&p, CVQ_OP_REPORT_DIRTY_PAGES, b, cvq_offset_put(b, 1, 9), 8);
	cr_assert_eq(r.status, CVQ_ACK_ERR, "past an empty report");
	/* Malformed chains: too short for class and command gets an ERR
	 * ack; no writable room is returned with length 0. */
	p.pool[0] = CVQ_CLASS_VF_MIGRATION;
	d[0] = (struct simpump_desc){ 0, 1, 1, 1 };
	d[1] = (struct simpump_desc){ SIMPUMP_IN, 4, 2, 0 };
	p.pool[SIMPUMP_IN + 3] = 0xee;
	cr_assert_eq(simpump_post(&p, d, 2, 0, NULL, &used, 5000), 1);
	cr_assert_eq(used, 1);
	cr_assert_eq(p.pool[SIMPUMP_IN + 3], CVQ_ACK_ERR);
	d[0].len = 2;
	d[0].flags = 0;
	cr_assert_eq(simpump_post(&p, d, 1, 0, NULL, &used, 5000), 1);
	cr_assert_eq(used, 0);
	/* An injected failure answers ERR. */
	cr_assert_eq(simproc_cmd(&p.sp, NULL, 0, "fault fail op=IDENTIFY "
	    "status=1 count=1"), 0);
	r = craw(&p, CVQ_OP_IDENTIFY, NULL, 0, CVQ_IDENTIFY_LEN);
	cr_assert_eq(r.status, CVQ_ACK_ERR);
	cr_assert_eq(r.result_len, 0);
	simpump_close(&p);
}
