/*
 * test_vfio_v1.c: the v1 migration region (seed 001) through the real
 * system calls: finding it by its type capability, the native-width rule
 * of its fields, every device_state move, saving and resuming through
 * the mmap'd data area and through pread/pwrite, the error state and the
 * reset that clears it.
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <criterion/criterion.h>

#include "leakcheck.h"
#include "vfio_compat.h"
#include "vfio_v1.h"
#include "vfio_testlib.h"

TestSuite(vfio_v1, .timeout = 120);

#define BDF1	"0000:3b:00.1"

Test(vfio_v1, region_found_by_type)
{
	const char	*args[] = { "--kernel", "5.15", "--dev",
	    "mig=v1,v1_section=32K", NULL };
	struct vfio_dev	*d;
	struct vt	 v;

	vt_start(&v, args);
	d = vt_open(&v, "vfio:" BDF1);
	cr_assert_eq(d->iface, VFIO_IFACE_V1);
	cr_assert(d->v1.present);
	cr_assert_eq(d->v1.index, 9);
	cr_assert_eq(d->v1.size, 4096 + 32768);
	cr_assert_eq(d->v1.area.offset, 4096);
	cr_assert_eq(d->v1.area.size, 32768);
	cr_assert_not_null(d->v1.map, "the sparse area is mapped");
	cr_assert_eq(d->v1.state & 7, VFIO_V1_RUNNING);
	vfio_dev_free(d);
	vt_stop(&v);
	LEAK_CHECK();
}

/* Fields only at their native width and alignment; the read-only ones
 * refuse writes. */
Test(vfio_v1, field_access_rules)
{
	const char	*args[] = { "--dev", "mig=v1", NULL };
	struct vfio_dev	*d;
	struct vt	 v;
	uint64_t	 u64 = 0, base;
	uint32_t	 u32 = 0;

	vt_start(&v, args);
	d = vt_open(&v, "vfio:" BDF1);
	base = d->v1.offset;
	cr_assert_eq(pread(d->fd, &u64, 8, (off_t)base), -1);
	cr_assert_eq(errno, EINVAL, "device_state is 32 bits");
	cr_assert_eq(pread(d->fd, &u32, 4, (off_t)(base + 8)), -1);
	cr_assert_eq(pread(d->fd, &u64, 8, (off_t)(base + 12)), -1);
	cr_assert_eq(pread(d->fd, &u64, 8, (off_t)(base + 8)), -1,
	    "pending_bytes outside saving");
	cr_assert_eq(pwrite(d->fd, &u64, 8, (off_t)(base + 8)), -1);
	cr_assert_eq(pwrite(d->fd, &u64, 8, (off_t)(base + 16)), -1);
	cr_assert_eq(pread(d->fd, &u32, 4, (off_t)base), 4);
	cr_assert_eq(u32 & 7, 1);
	cr_assert_eq(pread(d->fd, &u32, 4, (off_t)(base + 4)), 4);
	cr_assert_eq(u32, 0, "reserved reads as zero");
	cr_assert_eq(pread(d->fd, &u64, 8, (off_t)(base + 100)), -1,
	    "between the fields and the data section");
	vfio_dev_free(d);
	vt_stop(&v);
}

/* Every (from, to) of the three bits: what the seed allows. */
Test(vfio_v1, every_state_write)
{
	const char	*args[] = { "--dev", "mig=v1", NULL };
	/* The sim's vendor rules: stop-and-copy is entered from running,
	 * pre-copy or stopped; pre-copy only from running; resuming from
	 * running or stopped and left to running or stopped. */
	static const uint8_t ok[5][8] = {
		/*	 000 001 010 011 100 101 110 111 */
		[0] = { 1, 1, 1, 0, 1, 0, 0, 0 },
		[1] = { 1, 1, 1, 1, 1, 0, 0, 0 },
		[2] = { 1, 1, 1, 0, 0, 0, 0, 0 },
		[3] = { 1, 1, 1, 1, 0, 0, 0, 0 },
		[4] = { 1, 1, 0, 0, 1, 0, 0, 0 },
	};
	struct vfio_dev	*d;
	struct vt	 v;
	char		 err[256];
	uint32_t	 from, to, now, raw;
	int		 rc;

	vt_start(&v, args);
	d = vt_open(&v, "vfio:" BDF1);
	for (from = 0; from < 5; from++) {
		for (to = 0; to < 8; to++) {
			cr_assert_eq(vfio_dev_reset(d, err, sizeof(err)), 0,
			    "%s", err);
			cr_assert_eq(vfio_v1_set_state(d, from, err,
			    sizeof(err)), 0, "%s", err);
			raw = to;
			rc = pwrite(d->fd, &raw, 4, (off_t)d->v1.offset) == 4 ?
			    0 : -errno;
			cr_assert_eq(vfio_v1_get_state(d, &now, NULL, 0), 0);
			if (from == 4 && to != 4 && ok[from][to]) {
				/* Nothing was written: the load fails, the
				 * device is in error. */
				cr_assert_eq(rc, -EINVAL);
				cr_assert_eq(now & 7, VFIO_V1_ERROR);
				continue;
			}
			cr_assert_eq(rc == 0, ok[from][to], "%u -> %u: %d",
			    from, to, rc);
			if (rc != 0)
				cr_assert_eq(rc, -EINVAL);
			cr_assert_eq(now & 7, rc == 0 ? to : from);
		}
	}
	vfio_dev_free(d);
	vt_stop(&v);
}

/* Error (110) refuses every write until VFIO_DEVICE_RESET. */
Test(vfio_v1, error_state_and_reset)
{
	const char	*args[] = { "--dev", "mig=v1", "--fault",
	    "fail op=v1_state errno=EIO error=1 count=1", NULL };
	struct vfio_dev	*d;
	struct vt	 v;
	char		 err[256];
	uint32_t	 now, s;

	vt_start(&v, args);
	d = vt_open(&v, "vfio:" BDF1);
	cr_assert_eq(vfio_v1_set_state(d, VFIO_V1_RUNNING | VFIO_V1_SAVING,
	    err, sizeof(err)), -EIO);
	cr_assert(strstr(err, "VFIO_DEVICE_RESET") != NULL, "%s", err);
	cr_assert_eq(d->v1.state & 7, VFIO_V1_ERROR);
	for (s = 0; s < 8; s++)
		cr_assert_eq(vfio_v1_set_state(d, s, err, sizeof(err)) != 0, 1,
		    "error -> %u", s);
	cr_assert_eq(vfio_dev_reset(d, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(vfio_v1_get_state(d, &now, NULL, 0), 0);
	cr_assert_eq(now & 7, VFIO_V1_RUNNING);
	vfio_dev_free(d);
	vt_stop(&v);
}

static void
v1_migration(const char *spec, size_t chunk, int precopy)
{
	const char	*args[] = { "--kernel", "5.15", "--dev", spec, NULL };
	struct vfio_dev	*s, *t;
	struct vt	 a, b;
	char		 err[256];
	uint64_t	 pending, moved = 0;

	vt_start(&a, args);
	vt_mem(&a, 1 << 20);
	s = vt_open_mapped(&a, "vfio:" BDF1, 0);
	vt_start(&b, args);
	vt_mem(&b, 1 << 20);
	t = vt_open_mapped(&b, "vfio:" BDF1, 0);
	/* The restored workload would run on at RUNNING: the digest below
	 * compares the state as it arrived, not a tick later. */
	vt_cmd(&b, NULL, 0, "hold 1");
	vt_cmd(&a, NULL, 0, "workload 1 stream rate=4M");
	vt_cmd(&a, NULL, 0, "step 1 400");
	vt_cmd(&a, NULL, 0, "hold 1");

	cr_assert_eq(vfio_v1_set_state(t, VFIO_V1_RESUMING, err,
	    sizeof(err)), 0, "%s", err);
	if (precopy) {
		cr_assert_eq(vfio_v1_set_state(s, VFIO_V1_RUNNING |
		    VFIO_V1_SAVING, err, sizeof(err)), 0, "%s", err);
		cr_assert_eq(vfio_v1_pending(s, &pending, NULL, 0), 0);
		cr_assert_gt(pending, 0);
		moved += vt_pump(s, t, chunk);
		vt_cmd(&a, NULL, 0, "step 1 100");
		moved += vt_pump(s, t, chunk);
	}
	cr_assert_eq(vfio_v1_set_state(s, VFIO_V1_SAVING, err, sizeof(err)),
	    0, "%s", err);
	moved += vt_pump(s, t, chunk);
	cr_assert_eq(vfio_v1_pending(s, &pending, NULL, 0), 0);
	cr_assert_eq(pending, 0);
	cr_assert_gt(moved, 0);
	cr_assert_eq(vfio_v1_write_done(t, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(vfio_v1_set_state(t, VFIO_V1_RUNNING, err, sizeof(err)),
	    0, "%s", err);
	cr_assert_eq(vt_hex(&a, "digest 1"), vt_hex(&b, "digest 1"),
	    "v1: device state differs after restore");
	cr_assert_eq(vfio_v1_set_state(s, VFIO_V1_STOP, err, sizeof(err)),
	    0, "%s", err);
	vfio_dev_free(s);
	vfio_dev_free(t);
	vt_stop(&b);
	vt_stop(&a);
}

Test(vfio_v1, migrate_through_mmap)
{
	v1_migration("mig=v1,v1_section=16K,devmem=64K", 1 << 20, 1);
	LEAK_CHECK();
}

/* No sparse area: every byte through pread/pwrite; small reads split
 * the device's chunks, the frames keep their size on the other side. */
Test(vfio_v1, migrate_through_pread)
{
	v1_migration("mig=v1,v1_mmap=0,v1_section=8K,devmem=32K", 1000, 1);
}

Test(vfio_v1, migrate_stop_and_copy_only)
{
	v1_migration("mig=v1,devmem=16K", 65536, 0);
}

/* A frame that does not fit the destination's data section. */
Test(vfio_v1, oversized_frame_refused)
{
	const char	*args[] = { "--dev", "mig=v1,v1_section=4K", NULL };
	struct vfio_dev	*d;
	struct vt	 v;
	uint8_t		 frame[16] = { 0x00, 0x40, 0x00, 0x00, 0, 0, 0, 0 };
	char		 err[256];

	vt_start(&v, args);
	d = vt_open(&v, "vfio:" BDF1);
	cr_assert_eq(vfio_v1_set_state(d, VFIO_V1_RESUMING, err,
	    sizeof(err)), 0);
	/* 0x4000 bytes > 4 KiB */
	cr_assert_eq(vfio_v1_write(d, frame, sizeof(frame), err, sizeof(err)),
	    -EMSGSIZE);
	cr_assert(strstr(err, "does not fit") != NULL, "%s", err);
	vfio_dev_free(d);
	vt_stop(&v);
}
