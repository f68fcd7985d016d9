/*
 * test_vfio_open.c: how the layer gets a device: vfio:BDF (group and
 * type1 container), vfio-cdev: (cdev and iommufd), and vfio-fd: (the fds
 * of a running VMM over a real UNIX socket with SCM_RIGHTS). The VMM is
 * another process (test/sim/vfio/vfsim-vmm) under the LD_PRELOAD build
 * of the interposer, holding the group as a VMM does.
 */
#include "config.h"

#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <criterion/criterion.h>

#include "leakcheck.h"
#include "vfio_compat.h"
#include "vfio_dirty.h"
#include "vfio_mig.h"
#include "vfio_testlib.h"

TestSuite(vfio_open, .timeout = 120);

#define BDF1	"0000:3b:00.1"

static int
count_fds(void)
{
	struct dirent	*de;
	DIR		*d = opendir("/proc/self/fd");
	int		 n = 0;

	cr_assert_not_null(d);
	while ((de = readdir(d)) != NULL)
		n += de->d_name[0] != '.';
	closedir(d);
	return (n);
}

Test(vfio_open, group_and_container)
{
	struct vfio_dev	*d;
	struct vt	 v;

	vt_start(&v, NULL);
	d = vt_open(&v, "vfio:" BDF1);
	cr_assert_eq(d->iommu, VFIO_IOMMU_TYPE1);
	cr_assert_geq(d->group_fd, 0);
	cr_assert_geq(d->container_fd, 0);
	cr_assert(d->owns_iommu);
	cr_assert_eq(d->iface, VFIO_IFACE_V2);
	cr_assert(d->dev_flags & VFIO_DEVICE_FLAGS_RESET);
	cr_assert_str_eq(d->bdf, BDF1);
	vfio_dev_free(d);
	vt_stop(&v);
	LEAK_CHECK();
}

Test(vfio_open, group_held_elsewhere)
{
	struct vfio_dev	*d, *e;
	struct vt	 v;
	char		 err[256];

	vt_start(&v, NULL);
	d = vt_open(&v, "vfio:" BDF1);
	cr_assert_eq(vfio_open_spec("vfio:" BDF1, &v.o, &e, err, sizeof(err)),
	    -EBUSY);
	cr_assert(strstr(err, "vfio-fd:") != NULL, "%s", err);
	/* Its cdev cannot be bound while the group path has it. */
	cr_assert_eq(vfio_open_spec("vfio-cdev:" BDF1, &v.o, &e, err,
	    sizeof(err)), -EBUSY, "%s", err);
	vfio_dev_free(d);
	/* Closed: free again. */
	d = vt_open(&v, "vfio-cdev:" BDF1);
	vfio_dev_free(d);
	vt_stop(&v);
}

Test(vfio_open, bad_specs)
{
	struct vfio_dev	*d;
	struct vt	 v;
	char		 err[256];

	vt_start(&v, NULL);
	cr_assert_eq(vfio_open_spec("vfio:0000:3b:1f.7", &v.o, &d, err,
	    sizeof(err)), -ENODEV);
	cr_assert(strstr(err, "no IOMMU group") != NULL, "%s", err);
	cr_assert_eq(vfio_open_spec("vfio:3b:00.1", &v.o, &d, err,
	    sizeof(err)), -EINVAL);
	cr_assert_eq(vfio_open_spec("vfio-cdev:/dev/vfio/devices/vfio9",
	    &v.o, &d, err, sizeof(err)), -ENOENT);
	cr_assert_eq(vfio_open_spec("vfio-fd:relative.sock", &v.o, &d, err,
	    sizeof(err)), -EINVAL);
	cr_assert_eq(vfio_open_spec("pci:" BDF1, &v.o, &d, err, sizeof(err)),
	    -EINVAL);
	vt_stop(&v);
}

Test(vfio_open, cdev_and_iommufd)
{
	const char	*args[] = { "--iommu-dirty", NULL };
	struct vfio_dev	*d;
	struct vt	 v;

	vt_start(&v, args);
	d = vt_open(&v, "vfio-cdev:" BDF1);
	cr_assert_eq(d->iommu, VFIO_IOMMU_IOMMUFD);
	cr_assert_gt(d->devid, 0);
	cr_assert(d->have_ioas && d->have_hwpt && d->hwpt_dirty);
	cr_assert_eq(d->iface, VFIO_IFACE_V2);
	vfio_dev_free(d);
	d = vt_open(&v, "vfio-cdev:/dev/vfio/devices/vfio0");
	cr_assert_str_eq(d->name, "/dev/vfio/devices/vfio0");
	vfio_dev_free(d);
	vt_stop(&v);
	LEAK_CHECK();
}

Test(vfio_open, no_cdev_before_6_6)
{
	const char	*args[] = { "--kernel", "6.1", NULL };
	struct vfio_dev	*d;
	struct vt	 v;
	char		 err[256];

	vt_start(&v, args);
	cr_assert_eq(vfio_open_spec("vfio-cdev:" BDF1, &v.o, &d, err,
	    sizeof(err)), -ENODEV);
	cr_assert(strstr(err, "6.6") != NULL, "%s", err);
	vt_stop(&v);
}

/* ------------------------------------------------- the fd hand-over */

struct vmm {
	pid_t	 pid;
	char	 sock[200];
};

static void
vmm_start(struct vmm *m, struct vt *v, const char *spec)
{
	char		 bin[512], so[512], mem[300], line[256];
	struct pollfd	 pfd;
	int		 p[2];
	ssize_t		 n;

	snprintf(m->sock, sizeof(m->sock), "%s/vmm.sock", v->sp.dir);
	snprintf(mem, sizeof(mem), "%s,0,%zu", v->mempath, v->memlen);
	simproc_path("test/sim/vfio/vfsim-vmm", bin, sizeof(bin));
	simproc_path("test/sim/vfio/.libs/vfsim_preload.so", so, sizeof(so));
	cr_assert_eq(access(so, R_OK), 0, "%s (make check builds it)", so);
	cr_assert_eq(pipe(p), 0);
	if ((m->pid = fork()) == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		dup2(p[1], 1);
		close(p[0]);
		setenv("LD_PRELOAD", so, 1);
		/* Under ASan the runtime is not first in that list: the
		 * interposer only needs to come before libc, so let it. */
		setenv("ASAN_OPTIONS", "verify_asan_link_order=0:"
		    "detect_leaks=0", 1);
		execl(bin, bin, "--listen", m->sock, "--spec", spec, "--sysfs",
		    v->sysfs, "--mem", mem, (char *)NULL);
		_exit(127);
	}
	close(p[1]);
	pfd.fd = p[0];
	pfd.events = POLLIN;
	cr_assert_eq(poll(&pfd, 1, 20000), 1, "the VMM did not start");
	n = read(p[0], line, sizeof(line) - 1);
	cr_assert_gt(n, 0);
	line[n] = '\0';
	cr_assert(strncmp(line, "vfsim-vmm ready", 15) == 0, "%s", line);
	close(p[0]);
}

static void
vmm_stop(struct vmm *m)
{
	kill(m->pid, SIGTERM);
	waitpid(m->pid, NULL, 0);
}

Test(vfio_open, handoff_from_a_vmm_type1)
{
	const char	*args[] = { "--dev", "dmalog=0", NULL };
	struct vmig_iova_range r;
	struct vfio_dirty_info in;
	struct vfio_dirty *t;
	struct vfio_dev	*d, *e;
	struct vmm	 m;
	struct vt	 v;
	char		 err[256], spec[300];
	int		 fds0;

	vt_start(&v, args);
	vt_mem(&v, 1 << 20);
	vmm_start(&m, &v, "vfio:" BDF1);
	/* The VMM holds the group: only its fds reach the VF. */
	cr_assert_eq(vfio_open_spec("vfio:" BDF1, &v.o, &e, err, sizeof(err)),
	    -EBUSY);
	fds0 = count_fds();
	snprintf(spec, sizeof(spec), "vfio-fd:%s", m.sock);
	d = vt_open(&v, spec);
	cr_assert(d->handed);
	cr_assert_eq(d->owns_iommu, 0);
	cr_assert_eq(d->iommu, VFIO_IOMMU_TYPE1);
	cr_assert_str_eq(d->bdf, BDF1);
	cr_assert_eq(d->iface, VFIO_IFACE_V2);
	cr_assert_eq(vfio_dma_map(d, v.mem, 0, 4096, err, sizeof(err)),
	    -EPERM, "the VMM's address space is the VMM's");
	/* The VMM mapped the memory: its container tracks it. */
	r.iova = 0;
	r.length = 1 << 20;
	cr_assert_eq(vfio_dirty_open(d, VFIO_DIRTY_SRC_TYPE1, &t, err,
	    sizeof(err)), 0, "%s", err);
	cr_assert_eq(vfio_dirty_start(t, &r, 1, 4096, err, sizeof(err)), 0,
	    "%s", err);
	vfio_dirty_get_info(t, &in);
	cr_assert(in.flags & VFIO_DIRTY_F_ALL_MAPPED);
	vfio_dirty_close(t);
	/* And the migration state machine is the device's. */
	cr_assert_eq(vfio_mig_set_state(d, VFIO_DEVICE_STATE_STOP_COPY, err,
	    sizeof(err)), 0, "%s", err);
	cr_assert_str_eq(vt_state_str_s(&v, 1, "state"), "STOP_COPY");
	cr_assert_eq(vfio_mig_set_state(d, VFIO_DEVICE_STATE_RUNNING, err,
	    sizeof(err)), 0, "%s", err);
	vfio_dev_free(d);
	cr_assert_eq(count_fds(), fds0, "every handed fd closed");
	/* Named: the right one, or a refusal. */
	snprintf(spec, sizeof(spec), "vfio-fd:%s#%s", m.sock, BDF1);
	d = vt_open(&v, spec);
	vfio_dev_free(d);
	snprintf(spec, sizeof(spec), "vfio-fd:%s#0000:99:00.0", m.sock);
	cr_assert_eq(vfio_open_spec(spec, &v.o, &d, err, sizeof(err)),
	    -EACCES);
	cr_assert(strstr(err, "no such device here") != NULL, "%s", err);
	cr_assert_eq(count_fds(), fds0);
	vmm_stop(&m);
	vt_stop(&v);
}

Test(vfio_open, handoff_from_a_vmm_iommufd)
{
	const char	*args[] = { "--iommu-dirty", "--dev", "dmalog=0", NULL };
	struct vmig_iova_range r = { 0, 1 << 20 };
	struct vfio_dirty *t;
	struct vfio_dev	*d;
	struct vmm	 m;
	struct vt	 v;
	char		 err[256], spec[300];

	vt_start(&v, args);
	vt_mem(&v, 1 << 20);
	vmm_start(&m, &v, "vfio-cdev:" BDF1);
	snprintf(spec, sizeof(spec), "vfio-fd:%s", m.sock);
	d = vt_open(&v, spec);
	cr_assert_eq(d->iommu, VFIO_IOMMU_IOMMUFD);
	cr_assert(d->have_hwpt && d->devid > 0);
	cr_assert(d->iommu_dirty);
	cr_assert_eq(vfio_dirty_open_best(d, &r, 1, 4096, &t, err,
	    sizeof(err)), 0, "%s", err);
	cr_assert(vfio_dirty_serves(t, d));
	vfio_dirty_close(t);
	vfio_dev_free(d);
	vmm_stop(&m);
	vt_stop(&v);
}

/* A hand-over that breaks the rules: refused, nothing leaks. */
struct fake {
	int	 lsock;
	int	 nfds;
	char	 line[128];
};

static void *
fake_vmm(void *arg)
{
	struct fake	*f = arg;
	union {
		struct cmsghdr	h;
		char		b[CMSG_SPACE(sizeof(int) * 4)];
	} cm;
	struct msghdr	 mh;
	struct iovec	 iov;
	struct cmsghdr	*c;
	char		 req[64];
	int		 conn, fds[4], i;

	conn = accept(f->lsock, NULL, NULL);
	(void)read(conn, req, sizeof(req));
	for (i = 0; i < f->nfds; i++)
		fds[i] = open("/dev/null", O_RDONLY);
	memset(&mh, 0, sizeof(mh));
	iov.iov_base = f->line;
	iov.iov_len = strlen(f->line);
	mh.msg_iov = &iov;
	mh.msg_iovlen = 1;
	if (f->nfds > 0) {
		mh.msg_control = cm.b;
		mh.msg_controllen = CMSG_SPACE(sizeof(int) * f->nfds);
		c = CMSG_FIRSTHDR(&mh);
		c->cmsg_level = SOL_SOCKET;
		c->cmsg_type = SCM_RIGHTS;
		c->cmsg_len = CMSG_LEN(sizeof(int) * f->nfds);
		memcpy(CMSG_DATA(c), fds, sizeof(int) * f->nfds);
	}
	(void)sendmsg(conn, &mh, 0);
	for (i = 0; i < f->nfds; i++)
		close(fds[i]);
	close(conn);
	return (NULL);
}

static int
fake_handoff(const char *line, int nfds, char *err, size_t errlen)
{
	struct sockaddr_un	 sun;
	struct vfio_dev		*d = NULL;
	struct fake		 f;
	pthread_t		 th;
	char			 path[64];
	int			 rc;

	snprintf(path, sizeof(path), "/tmp/vfio-fake.%d.sock", (int)getpid());
	unlink(path);
	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", path);
	f.lsock = socket(AF_UNIX, SOCK_STREAM, 0);
	cr_assert_eq(bind(f.lsock, (struct sockaddr *)&sun, sizeof(sun)), 0);
	cr_assert_eq(listen(f.lsock, 1), 0);
	f.nfds = nfds;
	snprintf(f.line, sizeof(f.line), "%s", line);
	pthread_create(&th, NULL, fake_vmm, &f);
	rc = vfio_open_handoff(path, NULL, NULL, &d, err, errlen);
	pthread_join(th, NULL);
	close(f.lsock);
	unlink(path);
	cr_assert_null(d);
	return (rc);
}

Test(vfio_open, handoff_broken_answers)
{
	char	err[256];
	int	fds0 = count_fds();

	cr_assert_eq(fake_handoff("ok fds=device,container\n", 1, err,
	    sizeof(err)), -EPROTO);
	cr_assert(strstr(err, "2 fds, 1 came") != NULL, "%s", err);
	cr_assert_eq(fake_handoff("ok fds=device\n", 4, err, sizeof(err)),
	    -EPROTO);
	cr_assert_eq(fake_handoff("ok fds=device,iommufd\n", 2, err,
	    sizeof(err)), -EPROTO);
	cr_assert(strstr(err, "devid") != NULL, "%s", err);
	cr_assert_eq(fake_handoff("err busy migrating\n", 0, err,
	    sizeof(err)), -EACCES);
	cr_assert(strstr(err, "busy migrating") != NULL, "%s", err);
	cr_assert_eq(fake_handoff("hello\n", 0, err, sizeof(err)), -EPROTO);
	/* A /dev/null is no VFIO device: the probe refuses it. */
	cr_assert_lt(fake_handoff("ok fds=device\n", 1, err, sizeof(err)), 0);
	cr_assert_eq(count_fds(), fds0, "no descriptor kept");
}
