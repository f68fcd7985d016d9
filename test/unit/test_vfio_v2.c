/*
 * test_vfio_v2.c: migration v2 through the real system calls, answered
 * by the simulated kernel: every (from, to) pair of the state machine
 * for each set of migration flags (the legal arcs land, the illegal ones
 * are refused and leave the device where it was, data_fd comes exactly
 * with the arcs that open a session), the paths the layer walks against
 * the kernel's own list, data_fd reads (short reads, ENOMSG, the end),
 * PRECOPY_INFO, MIG_DATA_SIZE, ERROR and the reset rule, and whole
 * save/restore runs between two simulated hosts verified byte for byte.
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <criterion/criterion.h>
#include <criterion/parameterized.h>

#include "leakcheck.h"
#include "vfio_compat.h"
#include "vfio_mig.h"
#include "vfio_testlib.h"

TestSuite(vfio_v2, .timeout = 120);

#define BDF1	"0000:3b:00.1"
#define BDF2	"0000:3b:00.2"

enum { ERR = 0, STOP, RUN, SCOPY, RES, RP2P, PRE, PP2P };

static int
in_saving_group(uint32_t s)
{
	return (s == PRE || s == PP2P || s == SCOPY);
}

/* The uAPI's rules, stated independently of both the layer and the
 * simulator: what the kernel refuses, and which arcs give a data_fd. */
static int
expect_ok(uint32_t flags, uint32_t from, uint32_t to)
{
	if (!vfio_mig_supported(flags, to))
		return (from == to);	/* the driver loop does nothing */
	if (from == SCOPY && (to == PRE || to == PP2P))
		return (0);
	return (1);
}

static int
expect_fd(uint32_t from, uint32_t to)
{
	if (from == to)
		return (0);
	if (to == RES)
		return (1);
	return (in_saving_group(to) && !in_saving_group(from));
}

static int
raw_set(struct vfio_dev *d, uint32_t to, int *fd)
{
	struct vfio_device_feature_mig_state ms;
	int	rc;

	memset(&ms, 0, sizeof(ms));
	ms.device_state = to;
	ms.data_fd = -42;
	rc = vfio_feature(d->fd, VFIO_DEVICE_FEATURE_SET |
	    VFIO_DEVICE_FEATURE_MIG_DEVICE_STATE, &ms, sizeof(ms));
	*fd = ms.data_fd;
	return (rc);
}

/* A valid image for RESUMING: what another device of the same kind saves
 * (leaving RESUMING loads and checks what was written). */
static uint8_t *
image_of(struct vfio_dev *d, size_t *len)
{
	uint8_t		*img = NULL;
	char		 err[256];
	size_t		 n = 0;
	ssize_t		 r;

	cr_assert_eq(vfio_mig_set_state(d, SCOPY, err, sizeof(err)), 0, "%s",
	    err);
	for (;;) {
		img = realloc(img, n + 65536);
		cr_assert_not_null(img);
		r = vfio_mig_read(d, img + n, 65536, err, sizeof(err));
		cr_assert_geq(r, 0, "%s", err);
		if (r == 0)
			break;
		n += (size_t)r;
	}
	cr_assert_eq(vfio_mig_set_state(d, RUN, err, sizeof(err)), 0);
	*len = n;
	return (img);
}

struct flagset {
	uint32_t	 flags;
	char		 spec[64];
};

ParameterizedTestParameters(vfio_v2, every_arc)
{
	static struct flagset p[] = {
		{ 1, "mig=v2,flags=stop_copy" },
		{ 3, "mig=v2,flags=stop_copy+p2p" },
		{ 5, "mig=v2,flags=stop_copy+pre_copy" },
		{ 7, "mig=v2,flags=stop_copy+p2p+pre_copy" },
	};

	return (cr_make_param_array(struct flagset, p, 4));
}

ParameterizedTest(struct flagset *p, vfio_v2, every_arc)
{
	const char	*args[] = { "--dev", p->spec, "--dev", p->spec, NULL };
	struct vfio_dev	*d, *d2;
	struct vt	 v;
	char		 err[256];
	uint8_t		*img;
	size_t		 len;
	uint32_t	 from, to, now;
	int		 rc, fd, ok, checked = 0;

	vt_start(&v, args);
	d = vt_open(&v, "vfio:" BDF1);
	cr_assert_eq(d->mig_flags, p->flags);
	d2 = vt_open(&v, "vfio:" BDF2);
	img = image_of(d2, &len);
	for (from = 1; from < VFIO_MIG_NSTATES; from++) {
		if (!vfio_mig_supported(p->flags, from))
			continue;
		for (to = 0; to < VFIO_MIG_NSTATES; to++) {
			cr_assert_eq(vfio_dev_reset(d, err, sizeof(err)), 0,
			    "%s", err);
			cr_assert_eq(d->state, RUN);
			cr_assert_eq(vfio_mig_set_state(d, from, err,
			    sizeof(err)), 0, "to %s: %s",
			    vfio_mig_state_name(from), err);
			if (from == RES)
				cr_assert_eq(vfio_mig_write(d, img, len, err,
				    sizeof(err)), 0, "%s", err);
			rc = raw_set(d, to, &fd);
			ok = expect_ok(p->flags, from, to);
			cr_assert_eq(rc == 0, ok, "%s -> %s: %d",
			    vfio_mig_state_name(from), vfio_mig_state_name(to),
			    rc);
			if (!ok)
				cr_assert_eq(rc, -EINVAL);
			cr_assert_eq(fd >= 0, ok && expect_fd(from, to),
			    "%s -> %s: data_fd %d", vfio_mig_state_name(from),
			    vfio_mig_state_name(to), fd);
			if (fd < 0)
				cr_assert_eq(fd, -1, "no fd must read -1");
			else
				close(fd);
			cr_assert_eq(vfio_mig_get_state(d, &now, err,
			    sizeof(err)), 0);
			cr_assert_eq(now, ok ? to : from, "%s -> %s left %s",
			    vfio_mig_state_name(from), vfio_mig_state_name(to),
			    vfio_mig_state_name(now));
			checked++;
		}
	}
	cr_assert_geq(checked, 3 * 8);
	free(img);
	vfio_dev_free(d2);
	vfio_dev_free(d);
	vt_stop(&v);
	LEAK_CHECK();
}

/* The layer walks the same legal arcs one ioctl at a time. */
Test(vfio_v2, layer_walks_every_pair)
{
	const char	*args[] = { "--dev", "mig=v2", "--dev", "mig=v2", NULL };
	struct vfio_dev	*d, *d2;
	struct vt	 v;
	char		 err[256];
	uint8_t		*img;
	size_t		 len;
	uint32_t	 from, to, now;
	int		 rc;

	vt_start(&v, args);
	d = vt_open(&v, "vfio:" BDF1);
	d2 = vt_open(&v, "vfio:" BDF2);
	img = image_of(d2, &len);
	for (from = 1; from < VFIO_MIG_NSTATES; from++) {
		for (to = 1; to < VFIO_MIG_NSTATES; to++) {
			cr_assert_eq(vfio_dev_reset(d, err, sizeof(err)), 0);
			cr_assert_eq(vfio_mig_set_state(d, from, err,
			    sizeof(err)), 0);
			if (from == RES)
				cr_assert_eq(vfio_mig_write(d, img, len, err,
				    sizeof(err)), 0, "%s", err);
			rc = vfio_mig_set_state(d, to, err, sizeof(err));
			cr_assert_eq(rc == 0, expect_ok(7, from, to), "%s -> "
			    "%s: %s", vfio_mig_state_name(from),
			    vfio_mig_state_name(to), err);
			cr_assert_eq(vfio_mig_get_state(d, &now, NULL, 0), 0);
			cr_assert_eq(now, d->state);
			cr_assert_eq(d->data_fd >= 0, in_saving_group(now) ||
			    now == RES, "%s: data_fd %d",
			    vfio_mig_state_name(now), d->data_fd);
		}
	}
	free(img);
	vfio_dev_free(d2);
	vfio_dev_free(d);
	vt_stop(&v);
}

/* ERROR can be neither requested nor left except by VFIO_DEVICE_RESET. */
Test(vfio_v2, error_and_the_reset_rule)
{
	const char	*args[] = { "--dev", "mig=v2", "--fault",
	    "fail op=arc:RUNNING_P2P>STOP errno=EIO error=1 count=1", NULL };
	struct vfio_dev	*d;
	struct vt	 v;
	char		 err[256];
	uint32_t	 to, now;
	int		 fd;

	vt_start(&v, args);
	d = vt_open(&v, "vfio:" BDF1);
	cr_assert_eq(raw_set(d, ERR, &fd), -EINVAL, "ERROR is not a target");
	cr_assert_eq(vfio_mig_set_state(d, SCOPY, err, sizeof(err)), -EIO);
	cr_assert(strstr(err, "RUNNING_P2P -> STOP") != NULL, "%s", err);
	cr_assert(strstr(err, "VFIO_DEVICE_RESET") != NULL, "%s", err);
	cr_assert_eq(d->state, ERR);
	cr_assert_eq(d->data_fd, -1);
	for (to = 0; to < VFIO_MIG_NSTATES; to++) {
		cr_assert_eq(raw_set(d, to, &fd), to == ERR ? 0 : -EINVAL,
		    "ERROR -> %s", vfio_mig_state_name(to));
		cr_assert_eq(fd, -1);
	}
	cr_assert_eq(vfio_mig_set_state(d, RUN, err, sizeof(err)), -EINVAL);
	cr_assert_str_eq(vt_state_str_s(&v, 1, "mode"), "stop");
	cr_assert_eq(vfio_dev_reset(d, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(vfio_mig_get_state(d, &now, NULL, 0), 0);
	cr_assert_eq(now, RUN);
	cr_assert_eq(vfio_mig_set_state(d, SCOPY, err, sizeof(err)), 0, "%s",
	    err);
	vfio_dev_free(d);
	vt_stop(&v);
}

/* A failed arc without ERROR leaves the device where the walk stopped. */
Test(vfio_v2, failed_arc_leaves_intermediate_state)
{
	const char	*args[] = { "--dev", "mig=v2", "--fault",
	    "fail op=arc:RUNNING_P2P>STOP errno=EBUSY count=1", NULL };
	struct vfio_dev	*d;
	struct vt	 v;
	char		 err[256];
	uint32_t	 now;

	vt_start(&v, args);
	d = vt_open(&v, "vfio:" BDF1);
	cr_assert_eq(vfio_mig_set_state(d, SCOPY, err, sizeof(err)), -EBUSY);
	cr_assert(strstr(err, "is in RUNNING_P2P") != NULL, "%s", err);
	cr_assert_eq(vfio_mig_get_state(d, &now, NULL, 0), 0);
	cr_assert_eq(now, RP2P);
	/* Retrying works: the fault was for one arc. */
	cr_assert_eq(vfio_mig_set_state(d, SCOPY, err, sizeof(err)), 0, "%s",
	    err);
	cr_assert_geq(d->data_fd, 0);
	vfio_dev_free(d);
	vt_stop(&v);
}

/* ------------------------------------------------------ the stream */

/* Pre-copy reads end with ENOMSG while nothing is new; PRECOPY_INFO
 * follows what was read and what the device changed. */
Test(vfio_v2, precopy_info_and_enomsg)
{
	const char	*args[] = { "--dev", "mig=v2,devmem=64K", NULL };
	struct vfio_dev	*d;
	struct vt	 v;
	uint8_t		 buf[4096];
	char		 err[256];
	uint64_t	 init0, dirty0, init, dirty, total = 0, sz;
	struct vfio_precopy_info pi;
	ssize_t		 n;

	vt_start(&v, args);
	vt_mem(&v, 1 << 20);
	d = vt_open_mapped(&v, "vfio:" BDF1, 0);
	vt_cmd(&v, NULL, 0, "hold 1");
	vt_cmd(&v, NULL, 0, "workload 1 hot");
	cr_assert_eq(vfio_mig_set_state(d, PRE, err, sizeof(err)), 0, "%s",
	    err);
	cr_assert_eq(vfio_mig_precopy_info(d, &init0, &dirty0, err,
	    sizeof(err)), 0, "%s", err);
	cr_assert_gt(init0, 64 << 10, "initial covers device memory");
	cr_assert_eq(dirty0, 0);
	cr_assert_eq(vfio_mig_data_size(d, &sz, err, sizeof(err)), 0);
	cr_assert_geq(sz, init0);
	while ((n = vfio_mig_read(d, buf, sizeof(buf), err,
	    sizeof(err))) > 0) {
		total += (uint64_t)n;
		cr_assert_eq(vfio_mig_precopy_info(d, &init, &dirty, NULL, 0),
		    0);
		cr_assert_eq(init, init0 - total);
	}
	cr_assert_eq(n, -ENOMSG, "a temporary end, not %zd (%s)", n, err);
	cr_assert_eq(total, init0);
	/* The device works on: its memory changes, dirty_bytes grows. */
	vt_cmd(&v, NULL, 0, "step 1 50");
	cr_assert_eq(vfio_mig_precopy_info(d, &init, &dirty, NULL, 0), 0);
	cr_assert_eq(init, 0);
	cr_assert_gt(dirty, 0);
	n = vfio_mig_read(d, buf, sizeof(buf), err, sizeof(err));
	cr_assert_gt(n, 0);
	/* PRECOPY_INFO outside PRE_COPY states: -EINVAL. */
	cr_assert_eq(vfio_mig_set_state(d, SCOPY, err, sizeof(err)), 0, "%s",
	    err);
	memset(&pi, 0, sizeof(pi));
	pi.argsz = sizeof(pi);
	cr_assert_eq(vfio_ioctl(d->data_fd, VFIO_MIG_GET_PRECOPY_INFO, &pi),
	    -EINVAL);
	/* STOP_COPY ends with 0, and again 0. */
	while ((n = vfio_mig_read(d, buf, sizeof(buf), err, sizeof(err))) > 0)
		;
	cr_assert_eq(n, 0);
	cr_assert_eq(vfio_mig_read(d, buf, sizeof(buf), err, sizeof(err)), 0);
	vfio_dev_free(d);
	vt_stop(&v);
	LEAK_CHECK();
}

/* Compare two simulators' VFs: device state, then DMA that follows. */
static void
verify_same(struct vt *a, struct vt *b, unsigned int da, unsigned int db)
{
	cr_assert_eq(vt_hex(a, "digest %u", da), vt_hex(b, "digest %u", db),
	    "device state differs after restore");
}

struct mig_case {
	char	 src[96];
	char	 dst[96];
	size_t	 chunk;
	int	 precopy;
	char	 fault[96];
};

static void
run_migration(const struct mig_case *c)
{
	const char	*sa[] = { "--dev", c->src, c->fault[0] ? "--fault" :
	    NULL, c->fault, NULL };
	const char	*da[] = { "--dev", c->dst, NULL };
	struct vfio_dev	*s, *t;
	struct vt	 a, b;
	char		 err[256];
	uint64_t	 moved = 0;

	vt_start(&a, sa);
	vt_mem(&a, 2 << 20);
	s = vt_open_mapped(&a, "vfio:" BDF1, 1 << 20);
	vt_start(&b, da);
	vt_mem(&b, 2 << 20);
	t = vt_open_mapped(&b, "vfio:" BDF1, 1 << 20);
	vt_cmd(&a, NULL, 0, "workload 1 hot rate=8M seed=7");
	vt_cmd(&a, NULL, 0, "step 1 300");
	/* From here it writes only when told: pre-copy can catch up. */
	vt_cmd(&a, NULL, 0, "hold 1");

	cr_assert_eq(vfio_mig_set_state(t, RES, err, sizeof(err)), 0, "%s",
	    err);
	if (c->precopy) {
		cr_assert_eq(vfio_mig_set_state(s, PRE, err, sizeof(err)), 0,
		    "%s", err);
		moved += vt_pump(s, t, c->chunk);
		vt_cmd(&a, NULL, 0, "step 1 200");
		moved += vt_pump(s, t, c->chunk);
	}
	/* Switchover: quiesce, then stop-copy (QEMU's order). */
	cr_assert_eq(vfio_mig_set_state(s, vfio_mig_quiesced(s->mig_flags, s->state), err,
	    sizeof(err)), 0, "%s", err);
	cr_assert_eq(vfio_mig_set_state(s, SCOPY, err, sizeof(err)), 0, "%s",
	    err);
	moved += vt_pump(s, t, c->chunk);
	cr_assert_gt(moved, 0);
	cr_assert_eq(vfio_mig_set_state(t, STOP, err, sizeof(err)), 0,
	    "resume: %s", err);
	verify_same(&a, &b, 1, 1);

	/* Both go on from the same state: the same writes, byte for byte
	 * (the engine would have copied guest memory; do that here). */
	memcpy(b.mem, a.mem, a.memlen);
	vt_cmd(&b, NULL, 0, "hold 1");
	cr_assert_eq(vfio_mig_set_state(s, RUN, err, sizeof(err)), 0, "%s",
	    err);
	cr_assert_eq(vfio_mig_set_state(t, RUN, err, sizeof(err)), 0, "%s",
	    err);
	vt_cmd(&a, NULL, 0, "step 1 500");
	vt_cmd(&b, NULL, 0, "step 1 500");
	cr_assert_eq(vt_hex(&a, "memdigest 1"), vt_hex(&b, "memdigest 1"),
	    "the restored VF wrote something else");
	verify_same(&a, &b, 1, 1);
	vfio_dev_free(s);
	vfio_dev_free(t);
	vt_stop(&b);
	vt_stop(&a);
}

Test(vfio_v2, migrate_with_precopy)
{
	struct mig_case c = { "mig=v2", "mig=v2", 1 << 20, 1, "" };

	run_migration(&c);
	LEAK_CHECK();
}

Test(vfio_v2, migrate_without_precopy)
{
	struct mig_case c = { "mig=v2,flags=stop_copy+p2p",
	    "mig=v2,flags=stop_copy+p2p", 65536, 0, "" };

	run_migration(&c);
}

Test(vfio_v2, migrate_stop_copy_only)
{
	struct mig_case c = { "mig=v2,flags=stop_copy", "mig=v2,flags=stop_copy",
	    65536, 0, "" };

	run_migration(&c);
}

/* The device hands out at most 333 bytes a read: the stream survives. */
Test(vfio_v2, migrate_with_short_reads)
{
	struct mig_case c = { "mig=v2,devmem=16K", "mig=v2,devmem=16K", 4096,
	    1, "short op=data_read max=333" };

	run_migration(&c);
}

/* A read that fails (once) is an error the caller sees; the next read
 * continues the stream where it was. */
Test(vfio_v2, failed_read_then_continue)
{
	const char	*args[] = { "--dev", "mig=v2,devmem=16K", NULL };
	struct vfio_dev	*d;
	struct vt	 v;
	uint8_t		 buf[1 << 16];
	char		 err[256];
	uint64_t	 sz, total = 0;
	ssize_t		 n;

	vt_start(&v, args);
	d = vt_open(&v, "vfio:" BDF1);
	cr_assert_eq(vfio_mig_set_state(d, STOP, err, sizeof(err)), 0);
	cr_assert_eq(vfio_mig_data_size(d, &sz, err, sizeof(err)), 0);
	cr_assert_eq(vfio_mig_set_state(d, SCOPY, err, sizeof(err)), 0);
	vt_cmd(&v, NULL, 0, "fault fail op=data_read errno=EIO count=1");
	cr_assert_eq(vfio_mig_read(d, buf, sizeof(buf), err, sizeof(err)),
	    -EIO);
	cr_assert(strstr(err, "data read in STOP_COPY") != NULL, "%s", err);
	while ((n = vfio_mig_read(d, buf, sizeof(buf), err, sizeof(err))) > 0)
		total += (uint64_t)n;
	cr_assert_eq(n, 0);
	cr_assert_eq(total, sz, "MIG_DATA_SIZE was exact from STOP");
	vfio_dev_free(d);
	vt_stop(&v);
}

/* A stream that is not this device's: RESUMING -> STOP refuses it and
 * the device stays in RESUMING (only a reset aborts a resume). */
Test(vfio_v2, bad_stream_refused)
{
	const char	*args[] = { "--dev", "mig=v2", NULL };
	struct vfio_dev	*d;
	struct vt	 v;
	uint8_t		 junk[64];
	char		 err[256];
	uint32_t	 now;

	vt_start(&v, args);
	d = vt_open(&v, "vfio:" BDF1);
	cr_assert_eq(vfio_mig_set_state(d, RES, err, sizeof(err)), 0);
	memset(junk, 0x5a, sizeof(junk));
	cr_assert_eq(vfio_mig_write(d, junk, sizeof(junk), err, sizeof(err)),
	    -EINVAL, "the header is checked as it arrives");
	cr_assert_eq(vfio_mig_set_state(d, STOP, err, sizeof(err)), -EINVAL);
	cr_assert_eq(vfio_mig_get_state(d, &now, NULL, 0), 0);
	cr_assert_eq(now, RES);
	cr_assert_eq(vfio_dev_reset(d, err, sizeof(err)), 0);
	cr_assert_eq(d->state, RUN);
	vfio_dev_free(d);
	vt_stop(&v);
}

/* Devices of one VM stop together: all to P2P first, then each to
 * STOP_COPY. */
Test(vfio_v2, p2p_quiesce_group)
{
	const char	*args[] = { "--dev", "mig=v2", "--dev", "mig=v2",
	    "--dev", "mig=v2", NULL };
	struct vfio_dev	*d[3];
	struct vt	 v;
	char		 err[256], spec[32];
	int		 i;

	vt_start(&v, args);
	for (i = 0; i < 3; i++) {
		snprintf(spec, sizeof(spec), "vfio:0000:3b:00.%d", i + 1);
		d[i] = vt_open(&v, spec);
		cr_assert_eq(vfio_mig_set_state(d[i], i == 1 ? PRE : RUN, err,
		    sizeof(err)), 0);
	}
	for (i = 0; i < 3; i++) {
		cr_assert_eq(vfio_mig_set_state(d[i],
		    vfio_mig_quiesced(d[i]->mig_flags, d[i]->state), err,
		    sizeof(err)), 0);
		cr_assert(d[i]->state == RP2P || d[i]->state == PP2P);
	}
	for (i = 0; i < 3; i++) {
		cr_assert_eq(vfio_mig_set_state(d[i], SCOPY, err,
		    sizeof(err)), 0);
		cr_assert_geq(d[i]->data_fd, 0);
		vfio_dev_free(d[i]);
	}
	vt_stop(&v);
}

/* A 6.1 kernel: no PRE_COPY, no MIG_DATA_SIZE; a 5.17 one: no v2. */
Test(vfio_v2, older_kernels)
{
	const char	*a61[] = { "--kernel", "6.1", "--dev", "mig=v2", NULL };
	const char	*a517[] = { "--kernel", "5.17", "--dev", "mig=v2",
	    NULL };
	struct vfio_dev	*d;
	struct vt	 v;
	uint64_t	 sz;

	vt_start(&v, a61);
	d = vt_open(&v, "vfio:" BDF1);
	cr_assert_eq(d->iface, VFIO_IFACE_V2);
	cr_assert_eq(d->mig_flags, VFIO_MIGRATION_STOP_COPY |
	    VFIO_MIGRATION_P2P);
	cr_assert_eq(d->has_data_size, 0);
	cr_assert_eq(vfio_mig_data_size(d, &sz, NULL, 0), -ENOTTY);
	cr_assert_eq(vfio_mig_set_state(d, PRE, NULL, 0), -EINVAL);
	vfio_dev_free(d);
	vt_stop(&v);

	vt_start(&v, a517);
	d = vt_open(&v, "vfio:" BDF1);
	cr_assert_eq(d->iface, VFIO_IFACE_NONE);
	vfio_dev_free(d);
	vt_stop(&v);
}
