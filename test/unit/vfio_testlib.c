/*
 * vfio_testlib.c: see vfio_testlib.h.
 */
#include "config.h"

#include <sys/mman.h>
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <criterion/criterion.h>

#include "vfio_compat.h"
#include "vfio_log.h"
#include "vfio_mig.h"
#include "vfio_testlib.h"
#include "vfio_v1.h"

static int
rm_one(const char *p, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return (remove(p));
}

void
vt_use(struct vt *v)
{
	setenv("VFSIM_SOCKET", v->sp.sock, 1);
}

void
vt_start(struct vt *v, const char *const *args)
{
	char		 bin[512];
	const char	*argv[64];
	int		 argc = 0, i;

	memset(v, 0, sizeof(*v));
	v->memfd = -1;
	cr_assert_eq(simproc_prepare(&v->sp), 0);
	snprintf(v->sysfs, sizeof(v->sysfs), "%s/sys", v->sp.dir);
	argv[argc++] = simproc_path("test/sim/vfio/vmig-simvfio", bin,
	    sizeof(bin));
	argv[argc++] = "--socket";
	argv[argc++] = v->sp.sock;
	argv[argc++] = "--control";
	argv[argc++] = v->sp.ctlpath;
	argv[argc++] = "--sysfs";
	argv[argc++] = v->sysfs;
	argv[argc++] = "--log-level";
	argv[argc++] = getenv("SIM_LOG") != NULL ? getenv("SIM_LOG") : "warn";
	for (i = 0; args != NULL && args[i] != NULL && argc < 62; i++)
		argv[argc++] = args[i];
	argv[argc] = NULL;
	cr_assert_eq(simproc_exec(&v->sp, argv, "vmig-simvfio ready"), 0,
	    "vmig-simvfio did not start");
	v->o.sysfs = v->sysfs;
	vt_use(v);
	if (getenv("VFIO_LOG") != NULL) {
		vfio_logfn = vfio_log_stderr;
		vfio_log_stderr_max = atoi(getenv("VFIO_LOG"));
	}
}

void
vt_stop(struct vt *v)
{
	if (v->mem != NULL)
		munmap(v->mem, v->memlen);
	if (v->memfd != -1)
		close(v->memfd);
	if (v->mempath[0] != '\0')
		unlink(v->mempath);
	nftw(v->sysfs, rm_one, 16, FTW_DEPTH | FTW_PHYS);
	simproc_stop(&v->sp);
}

static int
vcmd(struct vt *v, char *reply, size_t len, const char *fmt, va_list ap)
{
	char	buf[1024], r[2048];
	int	rc;

	vsnprintf(buf, sizeof(buf), fmt, ap);
	rc = simproc_cmd(&v->sp, r, sizeof(r), "%s", buf);
	if (reply != NULL)
		snprintf(reply, len, "%s", strncmp(r, "ok", 2) == 0 ?
		    r + (r[2] == ' ' ? 3 : 2) : r);
	return (rc);
}

void
vt_cmd(struct vt *v, char *reply, size_t len, const char *fmt, ...)
{
	char	r[2048];
	va_list	ap;
	int	rc;

	va_start(ap, fmt);
	rc = vcmd(v, r, sizeof(r), fmt, ap);
	va_end(ap);
	cr_assert_eq(rc, 0, "simulator: %s", r);
	if (reply != NULL)
		snprintf(reply, len, "%s", r);
}

int
vt_try(struct vt *v, char *reply, size_t len, const char *fmt, ...)
{
	va_list	ap;
	int	rc;

	va_start(ap, fmt);
	rc = vcmd(v, reply, len, fmt, ap);
	va_end(ap);
	return (rc);
}

uint64_t
vt_hex(struct vt *v, const char *fmt, ...)
{
	char	r[256], buf[512];
	va_list	ap;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	vt_cmd(v, r, sizeof(r), "%s", buf);
	return (strtoull(r, NULL, 16));
}

void
vt_state_str(struct vt *v, unsigned int dev, const char *key, char *out,
    size_t len)
{
	char	r[2048], line[2100];

	vt_cmd(v, r, sizeof(r), "state %u", dev);
	snprintf(line, sizeof(line), " %s", r);
	cr_assert_eq(simproc_field(line, key, out, len), 0, "no %s in %s", key,
	    r);
}

const char *
vt_state_str_s(struct vt *v, unsigned int dev, const char *key)
{
	static char	val[128];

	vt_state_str(v, dev, key, val, sizeof(val));
	return (val);
}

uint64_t
vt_state_u64(struct vt *v, unsigned int dev, const char *key)
{
	char	val[64];

	vt_state_str(v, dev, key, val, sizeof(val));
	return (strtoull(val, NULL, 0));
}

uint8_t *
vt_mem(struct vt *v, size_t len)
{
	snprintf(v->mempath, sizeof(v->mempath), "/dev/shm/vmig-vt.XXXXXX");
	cr_assert_neq(v->memfd = mkstemp(v->mempath), -1);
	cr_assert_eq(ftruncate(v->memfd, (off_t)len), 0);
	v->mem = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, v->memfd,
	    0);
	cr_assert_neq(v->mem, MAP_FAILED);
	v->memlen = len;
	return (v->mem);
}

struct vfio_dev *
vt_open(struct vt *v, const char *spec)
{
	struct vfio_dev	*d = NULL;
	char		 err[256];

	vt_use(v);
	cr_assert_eq(vfio_open_spec(spec, &v->o, &d, err, sizeof(err)), 0,
	    "%s: %s", spec, err);
	return (d);
}

struct vfio_dev *
vt_open_mapped(struct vt *v, const char *spec, uint64_t iova)
{
	struct vfio_dev	*d = vt_open(v, spec);
	char		 err[256];

	cr_assert_not_null(v->mem, "vt_mem first");
	cr_assert_eq(vfio_dma_map(d, v->mem, iova, v->memlen, err,
	    sizeof(err)), 0, "%s", err);
	return (d);
}

uint64_t
vt_pump(struct vfio_dev *src, struct vfio_dev *dst, size_t chunk)
{
	uint8_t	*buf = malloc(chunk);
	char	 err[256];
	uint64_t total = 0;
	ssize_t	 n;

	cr_assert_not_null(buf);
	for (;;) {
		n = src->iface == VFIO_IFACE_V1 ?
		    vfio_v1_read(src, buf, chunk, err, sizeof(err)) :
		    vfio_mig_read(src, buf, chunk, err, sizeof(err));
		if (n == -ENOMSG)
			break;		/* pre-copy: nothing more now */
		cr_assert_geq(n, 0, "read: %s", err);
		if (n == 0)
			break;
		cr_assert_eq(dst->iface == VFIO_IFACE_V1 ?
		    vfio_v1_write(dst, buf, (size_t)n, err, sizeof(err)) :
		    vfio_mig_write(dst, buf, (size_t)n, err, sizeof(err)), 0,
		    "write: %s", err);
		total += (uint64_t)n;
	}
	free(buf);
	return (total);
}
