/*
 * test_plugin_sim.c: the virtio-admin plugin, dlopen()ed as vmigd would,
 * driving real vmig-simdev processes: every command, every injected fault
 * and its effect, lanes, timeouts and a full mini-migration between two
 * simulators compared byte for byte.
 *
 * No timed assertions: waits run the event loop until the callback has
 * run; Criterion's per-test timeout only guards against hangs.
 */
#include "config.h"

#include <sys/mman.h>

#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <criterion/criterion.h>
#include <event2/event.h>

#include "vmig/backend.h"
#include "util.h"
#include "devctx.h"
#include "devstate.h"
#include "simproc.h"

#include "leakcheck.h"

static void	*dl;
static const struct vmig_backend *be;
static struct event_base *base;
static struct vmig_host host;
static void	*priv;
static char	 lastlog[1024];

static void test_log(int, const char *, ...)
    __attribute__((format(printf, 2, 3)));

static void
test_log(int level, const char *fmt, ...)
{
	va_list	ap;

	va_start(ap, fmt);
	vsnprintf(lastlog, sizeof(lastlog), fmt, ap);
	va_end(ap);
	if (getenv("TEST_VERBOSE") != NULL)
		fprintf(stderr, "plugin[%d]: %s\n", level, lastlog);
}

static void
setup(void)
{
	char		 path[512];
	const char	*b = getenv("VMIG_BUILDDIR");

	snprintf(path, sizeof(path), "%s/plugins/virtio-admin/.libs/"
	    "virtio_admin.so", b != NULL ? b : ".");
	dl = dlopen(path, RTLD_NOW | RTLD_LOCAL);
	cr_assert_not_null(dl, "dlopen %s: %s", path, dlerror());
	be = dlsym(dl, VMIG_BACKEND_SYMBOL);
	cr_assert_not_null(be);
	cr_assert_eq(be->abi_major, VMIG_BACKEND_ABI_MAJOR);
	base = event_base_new();
	host.abi_major = VMIG_BACKEND_ABI_MAJOR;
	host.abi_minor = VMIG_BACKEND_ABI_MINOR;
	host.base = base;
	host.log = test_log;
	cr_assert_eq(be->init(&host, &priv), 0);
}

static void
teardown(void)
{
	be->fini(priv);
	event_base_free(base);
	dlclose(dl);
}

TestSuite(plugin, .init = setup, .fini = teardown, .timeout = 120);

/* ----------------------------------------------------------- helpers */

/*
 * ABI 2 in the shapes these tests were written for: a PF open waited for
 * on the loop (its error, synchronous or not, returned with its reason),
 * and each device's own tracker opened on first use.
 */
struct tpf_wait {
	int			 done;
	struct vmig_result	 res;
	char			 msg[512];
};

static void
tpf_done(void *arg, const struct vmig_result *r)
{
	struct tpf_wait	*w = arg;

	w->res = *r;
	snprintf(w->msg, sizeof(w->msg), "%s", r->msg != NULL ? r->msg : "");
	w->done = 1;
}

static int
t_pf_open(const char *name, const char *spec, struct vmig_pf **pf,
    char *err, size_t errlen)
{
	struct tpf_wait	w;
	int		rc;

	memset(&w, 0, sizeof(w));
	*pf = NULL;
	if ((rc = be->pf_open(priv, name, spec, NULL, 0, pf, tpf_done, &w, err,
	    errlen)) != 0)
		return (rc);
	cr_assert_not_null(*pf);
	while (!w.done)
		event_base_loop(base, EVLOOP_ONCE);
	if (w.res.err != 0) {
		snprintf(err, errlen, "%s", w.msg);
		be->pf_close(*pf);
		*pf = NULL;
	}
	return (w.res.err);
}

#define NTRK	16
static struct {
	struct vmig_dev		*d;
	struct vmig_tracker	*t;
} trks[NTRK];

static struct vmig_tracker *
trk(struct vmig_dev *d)
{
	struct vmig_tracker_info info;
	char			 err[256];
	int			 i, free_slot = -1;

	for (i = 0; i < NTRK; i++) {
		if (trks[i].d == d)
			return (trks[i].t);
		if (trks[i].d == NULL && free_slot < 0)
			free_slot = i;
	}
	cr_assert_geq(free_slot, 0);
	cr_assert_eq(be->dev_tracker(d, &info), 0);
	cr_assert_eq(info.scope, VMIG_TRACK_DEVICE);
	cr_assert_eq(be->tracker_open(d, &trks[free_slot].t, err,
	    sizeof(err)), 0, "%s", err);
	trks[free_slot].d = d;
	return (trks[free_slot].t);
}

static void
close_dev(struct vmig_dev *d)
{
	int	i;

	for (i = 0; i < NTRK; i++) {
		if (trks[i].d == d) {
			be->tracker_close(trks[i].t);
			trks[i].t = NULL;
			trks[i].d = NULL;
		}
	}
	be->dev_close(d);
}

static void
close_pf(struct vmig_pf *pf)
{
	int	i;

	for (i = 0; i < NTRK; i++) {
		if (trks[i].t != NULL)
			be->tracker_close(trks[i].t);
		trks[i].t = NULL;
		trks[i].d = NULL;
	}
	be->pf_close(pf);
}

static int
t_dirty_start(struct vmig_dev *d, const struct vmig_iova_range *r,
    unsigned int n, uint64_t ps, vmig_done_fn done, void *arg)
{
	return (be->tracker_start(trk(d), r, n, ps, done, arg));
}

static int
t_dirty_read(struct vmig_dev *d, struct vmig_dirty_map *m, unsigned int n,
    int lane, vmig_done_fn done, void *arg)
{
	return (be->tracker_read(trk(d), m, n, lane, done, arg));
}

static int
t_dirty_stop(struct vmig_dev *d, vmig_done_fn done, void *arg)
{
	return (be->tracker_stop(trk(d), done, arg));
}


struct waiter {
	int			 done;
	int			 order;
	struct vmig_result	 res;
	char			 msg[512];
};

static int	 done_seq;

static void
done_cb(void *arg, const struct vmig_result *r)
{
	struct waiter	*w = arg;

	cr_assert_eq(w->done, 0, "done called twice");
	w->res = *r;
	snprintf(w->msg, sizeof(w->msg), "%s", r->msg != NULL ? r->msg : "");
	w->res.msg = w->msg;
	w->done = 1;
	w->order = ++done_seq;
}

static void
wait_for(struct waiter *w)
{
	while (!w->done)
		event_base_loop(base, EVLOOP_ONCE);
}

static void
wait_all(struct waiter *w, int n)
{
	int	i;

	for (i = 0; i < n; i++)
		wait_for(&w[i]);
}

static struct vmig_pf *
open_pf(struct simproc *sp, const char *opts)
{
	struct vmig_pf	*pf = NULL;
	char		 spec[300], err[512] = "";
	int		 rc;

	snprintf(spec, sizeof(spec), "%s%s", sp->spec, opts != NULL ? opts :
	    "");
	rc = t_pf_open("sim0", spec, &pf, err, sizeof(err));
	cr_assert_eq(rc, 0, "pf_open %s: %d %s", spec, rc, err);
	return (pf);
}

static struct vmig_dev *
open_dev(struct vmig_pf *pf, uint64_t id)
{
	struct vmig_dev	*dev = NULL;
	char		 err[256];

	cr_assert_eq(be->dev_open(pf, id, NULL, 0, &dev, err, sizeof(err)), 0, "%s",
	    err);
	return (dev);
}

static int
set_mode(struct vmig_dev *dev, enum vmig_mode m, int lane)
{
	struct waiter	w = { 0 };

	cr_assert_eq(be->set_mode(dev, m, lane, done_cb, &w), 0);
	wait_for(&w);
	return (w.res.err);
}

static uint32_t
get_mode(struct vmig_dev *dev)
{
	struct waiter	w = { 0 };

	cr_assert_eq(be->get_mode(dev, VMIG_LANE_CRITICAL, done_cb, &w), 0);
	wait_for(&w);
	cr_assert_eq(w.res.err, 0, "get_mode: %s", w.msg);
	return (w.res.u.mode);
}

/* Read a whole state image in chunks of cap bytes. */
static size_t
read_state(struct vmig_dev *dev, uint8_t *buf, size_t bufcap, size_t cap)
{
	struct waiter	w;
	size_t		off = 0;

	for (;;) {
		memset(&w, 0, sizeof(w));
		cr_assert_leq(off + cap, bufcap);
		cr_assert_eq(be->state_read(dev, buf + off, cap,
		    VMIG_LANE_CRITICAL, done_cb, &w), 0);
		wait_for(&w);
		cr_assert_eq(w.res.err, 0, "state_read: %s", w.msg);
		cr_assert_leq(w.res.u.read.len, cap);
		off += w.res.u.read.len;
		if (w.res.u.read.remaining == 0)
			return (off);
	}
}

static int
write_state(struct vmig_dev *dev, const uint8_t *buf, size_t len,
    size_t chunk, char *msg, size_t msglen)
{
	struct waiter	w;
	size_t		off, n;

	for (off = 0; off < len; off += n) {
		n = len - off < chunk ? len - off : chunk;
		memset(&w, 0, sizeof(w));
		cr_assert_eq(be->state_write(dev, buf + off, n,
		    VMIG_LANE_CRITICAL, done_cb, &w), 0);
		wait_for(&w);
		if (w.res.err != 0) {
			snprintf(msg, msglen, "%s", w.msg);
			return (w.res.err);
		}
	}
	return (0);
}

static char *
mkmem(const char *tag, size_t size)
{
	static char	path[8][128];
	static int	k;
	char		*p = path[k++ % 8];
	int		fd;

	snprintf(p, 128, "/dev/shm/vmig-test-%d-%s", (int)getpid(), tag);
	fd = open(p, O_RDWR | O_CREAT | O_TRUNC, 0600);
	cr_assert_geq(fd, 0);
	cr_assert_eq(ftruncate(fd, (off_t)size), 0);
	close(fd);
	return (p);
}

static uint8_t *
map_file(const char *path, size_t size)
{
	uint8_t	*p;
	int	 fd = open(path, O_RDWR);

	cr_assert_geq(fd, 0);
	p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	close(fd);
	cr_assert_neq(p, MAP_FAILED);
	return (p);
}

static void
simcmd(struct simproc *sp, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void
simcmd(struct simproc *sp, const char *fmt, ...)
{
	char	line[1024], reply[2048];
	va_list	ap;

	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	cr_assert_eq(simproc_cmd(sp, reply, sizeof(reply), "%s", line), 0,
	    "sim: %s -> %s", line, reply);
}

static unsigned long long
simfield(struct simproc *sp, unsigned int vf, const char *key)
{
	char	reply[2048], v[128];

	cr_assert_eq(simproc_cmd(sp, reply, sizeof(reply), "state %u", vf),
	    0);
	cr_assert_eq(simproc_field(reply, key, v, sizeof(v)), 0, "%s", reply);
	return (strtoull(v, NULL, 0));
}

/* The device's reason for its last refusal (the wire has none). */
static const char *
last_error(struct simproc *sp, unsigned int vf)
{
	static char	reply[2048];
	const char	*p;

	cr_assert_eq(simproc_cmd(sp, reply, sizeof(reply), "state %u", vf),
	    0);
	p = strstr(reply, "last_error=");
	cr_assert_not_null(p, "%s", reply);
	if (getenv("TEST_VERBOSE") != NULL)
		fprintf(stderr, "vf%u %s\n", vf, p);
	return (p);
}

static unsigned long long
digest(struct simproc *sp, unsigned int vf)
{
	unsigned long long h;

	cr_assert_eq(simproc_hex(sp, &h, "digest %u", vf), 0);
	return (h);
}

static void
start_sim(struct simproc *sp, int nvfs, const char *const *extra)
{
	int	rc = simproc_start(sp, nvfs, extra);

	cr_assert_eq(rc, 0, "cannot start %s: %d", simproc_binary(), rc);
}

/* -------------------------------------------------------------- tests */

Test(plugin, open_list_info)
{
	struct simproc	 sp;
	struct vmig_pf	*pf, *pf2 = NULL;
	struct vmig_pf_info pi;
	struct vmig_dev_info di[8];
	struct vmig_dev	*dev, *dev2 = NULL;
	char		 err[256];
	int		 n;

	cr_assert_str_eq(be->name, "virtio-admin");
	start_sim(&sp, 3, NULL);
	pf = open_pf(&sp, NULL);
	cr_assert_eq(be->pf_info(pf, &pi), 0);
	cr_assert_str_eq(pi.interface, "virtio-admin/draft");
	cr_assert_eq(pi.num_vfs, 3);
	cr_assert_eq(pi.queue_depth, 128);
	cr_assert_eq(pi.max_inflight, 64);
	n = be->pf_list(pf, di, 8);
	cr_assert_eq(n, 3);
	cr_assert_eq(be->pf_list(pf, di, 1), 3);
	cr_assert_str_eq(di[0].name, "vf1");
	cr_assert_str_eq(di[2].name, "vf3");
	cr_assert_str_eq(di[1].type, "virtio-net");
	cr_assert_eq(di[2].member_id, 3);
	cr_assert_eq(di[0].mode, VMIG_MODE_ACTIVE);
	cr_assert_str_eq(di[0].caps.interface, "virtio-admin/draft");
	cr_assert_eq(di[0].caps.modes, VMIG_MODE_BIT(VMIG_MODE_ACTIVE) |
	    VMIG_MODE_BIT(VMIG_MODE_STOPPED) | VMIG_MODE_BIT(VMIG_MODE_FROZEN));
	cr_assert_eq(di[0].caps.flags, VMIG_CAP_STATE_CHUNKED |
	    VMIG_CAP_STATE_DISCARD | VMIG_CAP_STATE_PRECOPY);
	cr_assert_eq(di[0].caps.dirty_kind, VMIG_DIRTY_WRITE_RECORDS);
	cr_assert_eq(di[0].caps.dirty_max_ranges, 8);
	cr_assert_eq(di[0].caps.dirty_page_sizes, 0x211);
	cr_assert_eq(di[0].caps.state_max_bytes, VA_CTX_MAX_BYTES);

	dev = open_dev(pf, 2);
	cr_assert_eq(be->dev_open(pf, 2, NULL, 0, &dev2, err, sizeof(err)), -EBUSY);
	cr_assert_not_null(strstr(err, "vf2"), "%s", err);
	cr_assert_eq(be->dev_open(pf, 0, NULL, 0, &dev2, err, sizeof(err)), -ENOENT);
	cr_assert_eq(be->dev_open(pf, 4, NULL, 0, &dev2, err, sizeof(err)), -ENOENT);
	cr_assert_not_null(strstr(err, "no VF 4"), "%s", err);
	close_dev(dev);
	dev = open_dev(pf, 2);	/* closing frees the VF again */
	close_dev(dev);

	/* A second driver is refused while the first holds the queues. */
	cr_assert_eq(t_pf_open("sim1", sp.spec, &pf2, err,
	    sizeof(err)), -EBUSY);
	cr_assert_null(pf2);
	cr_assert_not_null(strstr(err, "another driver"), "%s", err);
	close_pf(pf);
	simproc_stop(&sp);
	LEAK_CHECK();
}

Test(plugin, open_errors)
{
	struct simproc	 sp;
	struct vmig_pf	*pf = NULL;
	char		 err[512], spec[300];
	struct vmig_pf_info pi;
	const char *const nopre[] = { "--no-precopy", "--admin-queues", "2",
	    "--queue-size", "16", NULL };
	struct vmig_dev_info di;

	/* no such PCI device here: the VFIO layer's open says so */
	cr_assert_eq(t_pf_open("x", "vfio:0000:00:01.0", &pf, err,
	    sizeof(err)), -ENODEV);
	cr_assert_not_null(strstr(err, "0000:00:01.0: no IOMMU group"), "%s",
	    err);
	cr_assert_eq(t_pf_open("x", "vfio:0000:00:01.0,dialect=sun", &pf,
	    err, sizeof(err)), -EINVAL);
	cr_assert_not_null(strstr(err, "dialect=sun"), "%s", err);
	cr_assert_lt(t_pf_open("x", "sim:/nonexistent/sock", &pf, err,
	    sizeof(err)), 0);
	cr_assert_not_null(strstr(err, "/nonexistent/sock"), "%s", err);
	cr_assert_eq(t_pf_open("x", "pci:1", &pf, err, sizeof(err)),
	    -EINVAL);
	cr_assert_eq(t_pf_open("x", "sim:/x,timeout=soon", &pf, err,
	    sizeof(err)), -EINVAL);
	cr_assert_not_null(strstr(err, "timeout=soon"), "%s", err);
	cr_assert_eq(t_pf_open("x", "sim:/x,colour=3", &pf, err,
	    sizeof(err)), -EINVAL);

	/* Options reach the transport: queue size capped by the PF. */
	start_sim(&sp, 1, nopre);
	snprintf(spec, sizeof(spec), "%s,qsize=64,pool=262144", sp.spec);
	cr_assert_eq(t_pf_open("p", spec, &pf, err, sizeof(err)), 0,
	    "%s", err);
	cr_assert_eq(be->pf_info(pf, &pi), 0);
	cr_assert_eq(pi.queue_depth, 16);
	cr_assert_eq(pi.max_inflight, 16);	/* two queues of 8 chains */
	cr_assert_eq(be->pf_list(pf, &di, 1), 1);
	cr_assert_eq(di.caps.flags & VMIG_CAP_STATE_PRECOPY, 0);
	close_pf(pf);
	simproc_stop(&sp);
	LEAK_CHECK();
}

Test(plugin, modes)
{
	struct simproc	 sp;
	struct vmig_pf	*pf;
	struct vmig_dev	*dev;
	char		 reply[256];

	start_sim(&sp, 2, NULL);
	pf = open_pf(&sp, NULL);
	dev = open_dev(pf, 2);
	cr_assert_eq(get_mode(dev), VMIG_MODE_ACTIVE);
	/* active -> freeze goes through stop (the device refuses it
	 * directly, see below). */
	cr_assert_eq(set_mode(dev, VMIG_MODE_FROZEN, VMIG_LANE_CRITICAL), 0);
	cr_assert_eq(get_mode(dev), VMIG_MODE_FROZEN);
	cr_assert_eq(simproc_cmd(&sp, reply, sizeof(reply), "mode 2"), 0);
	cr_assert_str_eq(reply, "ok freeze");
	cr_assert_eq(simproc_cmd(&sp, reply, sizeof(reply), "mode 1"), 0);
	cr_assert_str_eq(reply, "ok active");
	cr_assert_eq(set_mode(dev, VMIG_MODE_STOPPED, VMIG_LANE_BULK), 0);
	cr_assert_eq(get_mode(dev), VMIG_MODE_STOPPED);
	cr_assert_eq(set_mode(dev, VMIG_MODE_ACTIVE, VMIG_LANE_CRITICAL), 0);
	cr_assert_eq(get_mode(dev), VMIG_MODE_ACTIVE);
	cr_assert_eq(set_mode(dev, VMIG_MODE_ACTIVE, VMIG_LANE_CRITICAL), 0);
	/* Modes nobody can set are refused at once. */
	cr_assert_eq(be->set_mode(dev, VMIG_MODE_ERROR, VMIG_LANE_CRITICAL,
	    done_cb, NULL), -EINVAL);
	cr_assert_eq(be->get_mode(dev, 7, done_cb, NULL), -EINVAL);
	/* The device's own table: no active -> freeze in one step. */
	cr_assert_neq(simproc_cmd(&sp, reply, sizeof(reply), "mode 1 freeze"),
	    0);
	cr_assert_not_null(strstr(reply, "go through stop"), "%s", reply);
	close_dev(dev);
	close_pf(pf);
	simproc_stop(&sp);
	LEAK_CHECK();
}

Test(plugin, state_roundtrip)
{
	struct simproc	 sp;
	struct vmig_pf	*pf;
	struct vmig_dev	*a, *b;
	struct waiter	 w = { 0 };
	static uint8_t	 img[1 << 16], back[1 << 16];
	static struct vds vds[1];
	size_t		 n, m;
	char		 msg[512], why[200];

	start_sim(&sp, 2, NULL);
	simcmd(&sp, "cvq 1 mac=02:11:22:33:44:55 rx=3 vlan=100 vlan=4095 "
	    "uc=02:00:00:00:00:07 mc=01:00:5e:00:00:01");
	cr_assert_neq(digest(&sp, 1), digest(&sp, 2));
	pf = open_pf(&sp, NULL);
	a = open_dev(pf, 1);
	b = open_dev(pf, 2);

	cr_assert_eq(set_mode(a, VMIG_MODE_FROZEN, VMIG_LANE_CRITICAL), 0);
	cr_assert_eq(be->state_size(a, VMIG_LANE_BULK, done_cb, &w), 0);
	wait_for(&w);
	cr_assert_eq(w.res.err, 0, "%s", w.msg);
	/* Odd-sized chunks: the plugin reads multiples of 8. */
	n = read_state(a, img, sizeof(img), 101);
	/* What goes out is the canonical state, not the draft's image. */
	cr_assert_gt(w.res.u.size, 0);
	cr_assert_eq(vds_decode(img, n, vds, why, sizeof(why)), 0, "%s", why);
	cr_assert_eq(vds->net.mac[5], 0x55);

	/* Into vf2: refused while active, accepted when stopped. */
	cr_assert_eq(write_state(b, img, n, n, msg, sizeof(msg)), -EINVAL);
	cr_assert_not_null(strstr(msg, "INVALID_COMMAND"), "%s", msg);
	cr_assert_not_null(strstr(msg, "sim0/vf2"), "%s", msg);
	cr_assert_not_null(strstr(msg, "stop or freeze it"), "%s", msg);
	cr_assert_not_null(strstr(last_error(&sp, 2), "while active"));
	cr_assert_eq(set_mode(b, VMIG_MODE_STOPPED, VMIG_LANE_CRITICAL), 0);
	cr_assert_eq(write_state(b, img, n, 37, msg, sizeof(msg)), 0, "%s",
	    msg);
	cr_assert_eq(digest(&sp, 1), digest(&sp, 2));
	/* Reading it back gives the very same bytes. */
	m = read_state(b, back, sizeof(back), 4096);
	cr_assert_eq(m, n);
	cr_assert_eq(memcmp(img, back, n), 0);
	/* A fresh read starts a new image (PRECOPY: also while active). */
	cr_assert_eq(set_mode(a, VMIG_MODE_ACTIVE, VMIG_LANE_CRITICAL), 0);
	m = read_state(a, back, sizeof(back), 1 << 15);
	cr_assert_eq(m, n);
	cr_assert_eq(memcmp(img, back, n), 0);
	close_dev(a);
	close_dev(b);
	close_pf(pf);
	simproc_stop(&sp);
	LEAK_CHECK();
}

/*
 * Every malformed canonical image is refused before the device sees it,
 * and the VF keeps its state; a partial one waits for the rest.
 */
Test(plugin, state_write_refused)
{
	struct simproc	 sp;
	struct vmig_pf	*pf;
	struct vmig_dev	*a, *b;
	struct waiter	 w;
	static uint8_t	 img[1 << 16], bad[1 << 16];
	size_t		 n, f0;
	unsigned long long before;
	char		 msg[512];
	int		 rc;

	start_sim(&sp, 2, NULL);
	simcmd(&sp, "cvq 1 mac=02:11:22:33:44:55");
	pf = open_pf(&sp, NULL);
	a = open_dev(pf, 1);
	b = open_dev(pf, 2);
	n = read_state(a, img, sizeof(img), 8192);
	cr_assert_eq(set_mode(b, VMIG_MODE_FROZEN, VMIG_LANE_CRITICAL), 0);
	before = digest(&sp, 2);
	f0 = VDS_HDR_LEN;	/* first field header */

	/* The common config replaced by an unknown type: refused before
	 * the device sees it, the missing field named. */
	memcpy(bad, img, n);
	put_le16(bad + f0, 0x7777);
	put_le16(bad + f0 + 2, 0);
	rc = write_state(b, bad, n, n, msg, sizeof(msg));
	cr_assert_eq(rc, -EINVAL);
	cr_assert(strstr(msg, "0x7777") != NULL ||
	    strstr(msg, "COMMON_CFG") != NULL, "%s", msg);
	cr_assert_eq(digest(&sp, 2), before);

	/* A length past the image: refused as it arrives. */
	memcpy(bad, img, n);
	put_le32(bad + 12, (uint32_t)n - 1);
	rc = write_state(b, bad, n, n, msg, sizeof(msg));
	cr_assert_eq(rc, -EINVAL, "%d %s", rc, msg);
	cr_assert_not_null(strstr(msg, "more bytes than"), "%s", msg);
	cr_assert_eq(digest(&sp, 2), before);

	/* Truncated: it waits for the rest; a discard forgets it. */
	cr_assert_eq(write_state(b, img, n - 5, n, msg, sizeof(msg)), 0);
	cr_assert_eq(digest(&sp, 2), before);
	memset(&w, 0, sizeof(w));
	cr_assert_eq(be->state_discard(b, VMIG_LANE_CRITICAL, done_cb, &w), 0);
	wait_for(&w);
	cr_assert_eq(w.res.err, 0);
	cr_assert_eq(digest(&sp, 2), before);

	/* Not an image at all. */
	memcpy(bad, img, n);
	put_le32(bad, 0x12345678);
	rc = write_state(b, bad, n, n, msg, sizeof(msg));
	cr_assert_eq(rc, -EINVAL);
	cr_assert_not_null(strstr(msg, "not a canonical state image"), "%s",
	    msg);

	/* After all that, the good image still goes in. */
	cr_assert_eq(write_state(b, img, n, 512, msg, sizeof(msg)), 0, "%s",
	    msg);
	cr_assert_eq(digest(&sp, 1), digest(&sp, 2));
	cr_assert_eq(set_mode(b, VMIG_MODE_ACTIVE, VMIG_LANE_CRITICAL), 0);
	close_pf(pf);	/* closes the devices too */
	simproc_stop(&sp);
	LEAK_CHECK();
}

Test(plugin, fault_fail_status)
{
	struct simproc	 sp;
	struct vmig_pf	*pf;
	struct vmig_dev	*d1, *d2;
	struct waiter	 w = { 0 }, w2 = { 0 };

	start_sim(&sp, 2, NULL);
	pf = open_pf(&sp, NULL);
	d1 = open_dev(pf, 1);
	d2 = open_dev(pf, 2);
	simcmd(&sp, "fault fail op=DEV_MODE_GET status=16 qualifier=7 "
	    "count=1 vf=1");
	cr_assert_eq(be->get_mode(d2, VMIG_LANE_BULK, done_cb, &w2), 0);
	cr_assert_eq(be->get_mode(d1, VMIG_LANE_BULK, done_cb, &w), 0);
	wait_for(&w);
	wait_for(&w2);
	cr_assert_eq(w2.res.err, 0, "the fault is for vf1 only");
	cr_assert_eq(w.res.err, -EBUSY);
	cr_assert_eq(w.res.dev_status, 16);
	cr_assert_eq(w.res.dev_qualifier, 7);
	cr_assert_not_null(strstr(w.msg, "sim0/vf1"), "%s", w.msg);
	cr_assert_not_null(strstr(w.msg, "DEV_MODE_GET"), "%s", w.msg);
	cr_assert_not_null(strstr(w.msg, "EBUSY"), "%s", w.msg);
	/* count=1: the next one works. */
	cr_assert_eq(get_mode(d1), VMIG_MODE_ACTIVE);

	/* An unknown status is EINVAL (reference §3.3), raw kept. */
	simcmd(&sp, "fault fail op=0x8 status=99 count=1");
	cr_assert_eq(set_mode(d1, VMIG_MODE_STOPPED, VMIG_LANE_CRITICAL),
	    -EINVAL);
	/* The plugin forgot the mode; it asks before the next change. */
	cr_assert_eq(set_mode(d1, VMIG_MODE_FROZEN, VMIG_LANE_CRITICAL), 0);
	cr_assert_eq(get_mode(d1), VMIG_MODE_FROZEN);
	close_pf(pf);
	simproc_stop(&sp);
	LEAK_CHECK();
}

Test(plugin, fault_delay_and_drop)
{
	struct simproc	 sp;
	struct vmig_pf	*pf;
	struct vmig_dev	*d;
	struct waiter	 w = { 0 }, w2 = { 0 };
	char		 reply[256];

	start_sim(&sp, 1, NULL);
	pf = open_pf(&sp, ",timeout=1000");
	d = open_dev(pf, 1);
	/* A slow command still completes (its timeout is not reached). */
	simcmd(&sp, "fault delay op=DEV_CTX_SIZE_GET ms=100 count=1");
	cr_assert_eq(be->state_size(d, VMIG_LANE_BULK, done_cb, &w), 0);
	wait_for(&w);
	cr_assert_eq(w.res.err, 0, "%s", w.msg);
	cr_assert_gt(w.res.u.size, 0);

	/* A dropped completion times out, with a message. */
	simcmd(&sp, "fault drop op=DEV_MODE_GET");
	memset(&w, 0, sizeof(w));
	cr_assert_eq(be->get_mode(d, VMIG_LANE_CRITICAL, done_cb, &w), 0);
	wait_for(&w);
	cr_assert_eq(w.res.err, -ETIMEDOUT);
	cr_assert_not_null(strstr(w.msg, "not completed"), "%s", w.msg);
	cr_assert_not_null(strstr(w.msg, "DEV_MODE_GET"), "%s", w.msg);
	/* The queue goes on. */
	cr_assert_eq(get_mode(d), VMIG_MODE_ACTIVE);
	cr_assert_eq(simproc_cmd(&sp, reply, sizeof(reply), "fault list"), 0);
	cr_assert_str_eq(reply, "ok ");

	/* Delay longer than the timeout: -ETIMEDOUT now, descriptors come
	 * back later and are reclaimed (the next command still runs). */
	simcmd(&sp, "fault delay op=DEV_MODE_SET ms=1500 count=1");
	memset(&w, 0, sizeof(w));
	cr_assert_eq(be->set_mode(d, VMIG_MODE_STOPPED, VMIG_LANE_CRITICAL,
	    done_cb, &w), 0);
	wait_for(&w);
	cr_assert_eq(w.res.err, -ETIMEDOUT);
	cr_assert_eq(be->set_mode(d, VMIG_MODE_STOPPED, VMIG_LANE_CRITICAL,
	    done_cb, &w2), 0);
	wait_for(&w2);
	cr_assert_eq(w2.res.err, 0, "%s", w2.msg);
	close_pf(pf);
	simproc_stop(&sp);
	LEAK_CHECK();
}

static void
run_loop_ms(int ms)
{
	struct timeval	tv = { ms / 1000, (ms % 1000) * 1000 };

	event_base_loopexit(base, &tv);
	event_base_dispatch(base);
}

/* Timed-out commands keep their descriptors until the device returns
 * them: with a ring of 2 chains, later commands can only run once the
 * late completions have given them back. */
Test(plugin, timeout_reclaims_late)
{
	struct simproc	 sp;
	struct vmig_pf	*pf;
	struct vmig_dev	*d;
	struct waiter	 w[4];
	const char *const small[] = { "--queue-size", "4", NULL };
	int		 i;

	memset(w, 0, sizeof(w));
	start_sim(&sp, 1, small);
	pf = open_pf(&sp, ",timeout=1000");
	d = open_dev(pf, 1);
	simcmd(&sp, "fault delay op=DEV_CTX_SIZE_GET ms=1500 count=2");
	cr_assert_eq(be->state_size(d, VMIG_LANE_CRITICAL, done_cb, &w[0]),
	    0);
	cr_assert_eq(be->state_size(d, VMIG_LANE_CRITICAL, done_cb, &w[1]),
	    0);
	wait_all(w, 2);
	cr_assert_eq(w[0].res.err, -ETIMEDOUT);
	cr_assert_eq(w[1].res.err, -ETIMEDOUT);
	/* Let the late completions come back (not an assertion on time:
	 * if they are later still, the next commands wait for them). */
	run_loop_ms(700);
	cr_assert_eq(be->state_size(d, VMIG_LANE_CRITICAL, done_cb, &w[2]),
	    0);
	cr_assert_eq(be->get_mode(d, VMIG_LANE_CRITICAL, done_cb, &w[3]), 0);
	wait_all(w + 2, 2);
	for (i = 2; i < 4; i++)
		cr_assert_eq(w[i].res.err, 0, "%d: %s", i, w[i].msg);
	close_pf(pf);
	simproc_stop(&sp);
	LEAK_CHECK();
}

/* A critical command is never queued behind bulk reads. */
static void
lanes_case(const char *const *extra)
{
	struct simproc	 sp;
	struct vmig_pf	*pf;
	struct vmig_dev	*d;
	struct waiter	 bulk[12], crit = { 0 };
	static uint8_t	 bufs[12][512];
	int		 i, before = 0;

	memset(bulk, 0, sizeof(bulk));
	done_seq = 0;
	start_sim(&sp, 2, extra);
	pf = open_pf(&sp, ",qsize=8");
	d = open_dev(pf, 1);
	simcmd(&sp, "fault delay op=DEV_CTX_READ ms=60 count=12");
	for (i = 0; i < 12; i++)
		cr_assert_eq(be->state_read(d, bufs[i], sizeof(bufs[i]),
		    VMIG_LANE_BULK, done_cb, &bulk[i]), 0);
	cr_assert_eq(be->get_mode(d, VMIG_LANE_CRITICAL, done_cb, &crit), 0);
	wait_for(&crit);
	cr_assert_eq(crit.res.err, 0);
	for (i = 0; i < 12; i++)
		before += bulk[i].done;
	cr_assert_lt(before, 12, "the critical command waited for all bulk");
	wait_all(bulk, 12);
	for (i = 0; i < 12; i++)
		cr_assert_eq(bulk[i].res.err, 0, "%s", bulk[i].msg);
	cr_assert_lt(crit.order, 12);
	close_pf(pf);
	simproc_stop(&sp);
	LEAK_CHECK();
}

Test(plugin, lanes_one_queue)
{
	lanes_case(NULL);
	LEAK_CHECK();
}

Test(plugin, lanes_two_queues)
{
	const char *const two[] = { "--admin-queues", "2", NULL };

	lanes_case(two);
	LEAK_CHECK();
}

Test(plugin, close_cancels)
{
	struct simproc	 sp;
	struct vmig_pf	*pf;
	struct vmig_dev	*d;
	struct waiter	 w[3];

	memset(w, 0, sizeof(w));
	start_sim(&sp, 1, NULL);
	pf = open_pf(&sp, NULL);
	d = open_dev(pf, 1);
	simcmd(&sp, "fault delay op=DEV_MODE_GET ms=300");
	cr_assert_eq(be->get_mode(d, VMIG_LANE_BULK, done_cb, &w[0]), 0);
	cr_assert_eq(be->get_mode(d, VMIG_LANE_CRITICAL, done_cb, &w[1]), 0);
	cr_assert_eq(be->state_size(d, VMIG_LANE_BULK, done_cb, &w[2]), 0);
	close_dev(d);
	cr_assert_eq(w[0].done + w[1].done + w[2].done, 3);
	cr_assert_eq(w[0].res.err, -ECANCELED);
	cr_assert_eq(w[2].res.err, -ECANCELED);
	cr_assert_not_null(strstr(w[1].msg, "closed"), "%s", w[1].msg);
	/* The late completions find nobody and are reclaimed. */
	d = open_dev(pf, 1);
	simcmd(&sp, "fault clear");
	cr_assert_eq(get_mode(d), VMIG_MODE_ACTIVE);
	memset(w, 0, sizeof(w));
	simcmd(&sp, "fault delay op=DEV_MODE_GET ms=300");
	cr_assert_eq(be->get_mode(d, VMIG_LANE_BULK, done_cb, &w[0]), 0);
	close_pf(pf);
	cr_assert_eq(w[0].done, 1);
	cr_assert_eq(w[0].res.err, -ECANCELED);
	simproc_stop(&sp);
	LEAK_CHECK();
}

Test(plugin, device_gone)
{
	struct simproc	 sp;
	struct vmig_pf	*pf;
	struct vmig_dev	*d;
	struct waiter	 w = { 0 };

	start_sim(&sp, 1, NULL);
	pf = open_pf(&sp, NULL);
	d = open_dev(pf, 1);
	simcmd(&sp, "fault drop op=DEV_MODE_GET");
	cr_assert_eq(be->get_mode(d, VMIG_LANE_BULK, done_cb, &w), 0);
	simproc_stop(&sp);
	wait_for(&w);
	cr_assert_eq(w.res.err, -ECONNRESET);
	cr_assert_not_null(strstr(w.msg, "went away"), "%s", w.msg);
	cr_assert_eq(be->get_mode(d, VMIG_LANE_BULK, done_cb, &w), -ENOTCONN);
	close_pf(pf);
	LEAK_CHECK();
}

/* ------------------------------------------------------ write records */

#define MEMSZ	(1u << 20)
#define IOVA	0x10000000ULL

struct recfix {
	struct simproc	 sp;
	struct vmig_pf	*pf;
	struct vmig_dev	*d;
	char		*path;
	uint8_t		*mem;
	uint64_t	 bits[MEMSZ / 4096 / 64];
};

static void
rec_setup(struct recfix *f, const char *workload, const char *opts,
    const char *const *extra)
{
	struct vmig_iova_range r = { IOVA, MEMSZ };
	struct waiter	 w = { 0 };

	memset(f, 0, sizeof(*f));
	start_sim(&f->sp, 1, extra);
	f->path = mkmem("rec", MEMSZ);
	f->mem = map_file(f->path, MEMSZ);
	simcmd(&f->sp, "attach 1 %s %u %#llx", f->path, MEMSZ,
	    (unsigned long long)IOVA);
	unlink(f->path);	/* both mappings keep it; nothing left behind */
	simcmd(&f->sp, "hold 1");	/* writes only when we step */
	simcmd(&f->sp, "workload 1 %s", workload);
	f->pf = open_pf(&f->sp, opts);
	f->d = open_dev(f->pf, 1);
	cr_assert_eq(t_dirty_start(f->d, &r, 1, 4096, done_cb, &w), 0);
	wait_for(&w);
	cr_assert_eq(w.res.err, 0, "%s", w.msg);
}

static void
rec_teardown(struct recfix *f)
{
	close_pf(f->pf);
	simproc_stop(&f->sp);
	munmap(f->mem, MEMSZ);
}

static struct waiter
dirty_read(struct recfix *f, struct vmig_dirty_map *maps, unsigned int n)
{
	struct waiter	w = { 0 };

	cr_assert_eq(t_dirty_read(f->d, maps, n, VMIG_LANE_BULK, done_cb,
	    &w), 0);
	wait_for(&w);
	return (w);
}

static int
bit(const uint64_t *b, uint64_t n)
{
	return ((b[n / 64] >> (n % 64)) & 1);
}

Test(plugin, records_cover_writes)
{
	struct recfix	 f;
	struct vmig_dirty_map m;
	struct waiter	 w;
	uint64_t	 p, set = 0, changed = 0, k;

	rec_setup(&f, "hot fraction=0.25 size=256 seed=7", NULL, NULL);
	simcmd(&f.sp, "step 1 500");
	m.iova = IOVA;
	m.length = MEMSZ;
	m.page_size = 4096;
	m.bits = f.bits;
	w = dirty_read(&f, &m, 1);
	cr_assert_eq(w.res.err, 0, "%s", w.msg);
	cr_assert_gt(w.res.u.dirty.records, 0);
	cr_assert_leq(w.res.u.dirty.records, 500);
	cr_assert_eq(w.res.u.dirty.bytes, 500 * 256);
	cr_assert_eq(w.res.u.dirty.overflow, 0);
	for (p = 0; p < MEMSZ / 4096; p++) {
		set += bit(f.bits, p);
		for (k = 0; k < 4096; k++) {
			if (f.mem[p * 4096 + k] != 0) {
				changed++;
				cr_assert(bit(f.bits, p), "page %llu written "
				    "but not marked", (unsigned long long)p);
				break;
			}
		}
	}
	cr_assert_eq(set, w.res.u.dirty.pages);
	cr_assert_eq(changed, set);
	/* The hot set is a quarter of the pages. */
	cr_assert_leq(set, MEMSZ / 4096 / 4);
	/* Read and clear: nothing is left. */
	cr_assert_eq(simfield(&f.sp, 1, "records"), 0);
	w = dirty_read(&f, &m, 1);
	cr_assert_eq(w.res.err, 0);
	cr_assert_eq(w.res.u.dirty.records, 0);
	cr_assert_eq(w.res.u.dirty.pages, 0);
	rec_teardown(&f);
	LEAK_CHECK();
}

Test(plugin, records_more_pending)
{
	struct recfix	 f;
	struct vmig_dirty_map m;
	struct waiter	 w;
	unsigned long long pending;

	rec_setup(&f, "flood seed=3", NULL, NULL);
	simcmd(&f.sp, "step 1 300");
	pending = simfield(&f.sp, 1, "records");
	cr_assert_gt(pending, 10);
	/* Three records per read: the plugin must read again and again. */
	simcmd(&f.sp, "fault more max=3");
	m.iova = IOVA;
	m.length = MEMSZ;
	m.page_size = 4096;
	m.bits = f.bits;
	w = dirty_read(&f, &m, 1);
	cr_assert_eq(w.res.err, 0, "%s", w.msg);
	/* Bounded per call (64 reads): the rest is left for the next. */
	cr_assert_eq(w.res.u.dirty.records, pending < 192 ? pending : 192);
	while (simfield(&f.sp, 1, "records") > 0) {
		w = dirty_read(&f, &m, 1);
		cr_assert_eq(w.res.err, 0);
		cr_assert_gt(w.res.u.dirty.records, 0);
	}
	rec_teardown(&f);
	LEAK_CHECK();
}

Test(plugin, records_lost_sets_map)
{
	struct recfix	 f;
	struct vmig_dirty_map m[2];
	static uint64_t	 b2[MEMSZ / 4096 / 64];
	struct waiter	 w;
	uint64_t	 p;

	rec_setup(&f, "hot seed=1", NULL, NULL);
	simcmd(&f.sp, "step 1 3");
	simcmd(&f.sp, "fault lost");
	m[0].iova = IOVA;
	m[0].length = MEMSZ / 2;
	m[0].page_size = 4096;
	m[0].bits = f.bits;
	m[1].iova = IOVA + MEMSZ / 2;
	m[1].length = MEMSZ / 2;
	m[1].page_size = 65536;
	m[1].bits = b2;
	w = dirty_read(&f, m, 2);
	cr_assert_eq(w.res.err, 0, "%s", w.msg);
	cr_assert_eq(w.res.u.dirty.overflow, 1);
	for (p = 0; p < MEMSZ / 2 / 4096; p++)
		cr_assert(bit(f.bits, p));
	for (p = 0; p < MEMSZ / 2 / 65536; p++)
		cr_assert(bit(b2, p));
	cr_assert_eq(bit(b2, MEMSZ / 2 / 65536), 0, "past the map");
	cr_assert_eq(w.res.u.dirty.pages, MEMSZ / 2 / 4096 + MEMSZ / 2 /
	    65536);
	rec_teardown(&f);
	LEAK_CHECK();
}

/* A device whose record store fills up reports LOST: the map is set. */
Test(plugin, records_overflow)
{
	struct recfix	 f;
	struct vmig_dirty_map m;
	struct waiter	 w;
	const char *const tiny[] = { "--records-max", "16", NULL };
	uint64_t	 p;

	rec_setup(&f, "flood seed=2", NULL, tiny);
	simcmd(&f.sp, "step 1 100");
	cr_assert_eq(simfield(&f.sp, 1, "records"), 16);
	cr_assert_eq(simfield(&f.sp, 1, "lost"), 1);
	cr_assert_gt(simfield(&f.sp, 1, "records_dropped"), 0);
	m.iova = IOVA;
	m.length = MEMSZ;
	m.page_size = 4096;
	m.bits = f.bits;
	w = dirty_read(&f, &m, 1);
	cr_assert_eq(w.res.err, 0, "%s", w.msg);
	cr_assert_eq(w.res.u.dirty.overflow, 1);
	cr_assert_eq(w.res.u.dirty.records, 16);
	for (p = 0; p < MEMSZ / 4096; p++)
		cr_assert(bit(f.bits, p));
	cr_assert_eq(w.res.u.dirty.pages, MEMSZ / 4096);
	/* Reported once: the next read is clean. */
	memset(f.bits, 0, sizeof(f.bits));
	w = dirty_read(&f, &m, 1);
	cr_assert_eq(w.res.u.dirty.overflow, 0);
	cr_assert_eq(w.res.u.dirty.pages, 0);
	rec_teardown(&f);
	LEAK_CHECK();
}

Test(plugin, records_outside_maps)
{
	struct recfix	 f;
	struct vmig_dirty_map m;
	uint64_t	*bits;
	struct waiter	 w;
	unsigned long long pending;

	rec_setup(&f, "flood seed=9", NULL, NULL);
	simcmd(&f.sp, "step 1 200");
	pending = simfield(&f.sp, 1, "records");
	/* A map of 4 pages only, exactly sized: ASan would see an
	 * out-of-bounds bit. */
	bits = calloc(1, sizeof(uint64_t));
	m.iova = IOVA + 8 * 4096;
	m.length = 4 * 4096;
	m.page_size = 4096;
	m.bits = bits;
	w = dirty_read(&f, &m, 1);
	cr_assert_eq(w.res.err, 0, "%s", w.msg);
	cr_assert_eq(w.res.u.dirty.records, pending);
	cr_assert_eq(*bits & ~0xfULL, 0);
	cr_assert_not_null(strstr(lastlog, "outside every dirty map"), "%s",
	    lastlog);
	free(bits);
	rec_teardown(&f);
	LEAK_CHECK();
}

Test(plugin, records_args)
{
	struct recfix	 f;
	struct vmig_iova_range r[2] = { { IOVA, 8192 }, { IOVA + 4096, 8192 } };
	struct vmig_dirty_map m = { IOVA, MEMSZ, 3000, NULL };
	struct waiter	 w;

	rec_setup(&f, "idle", NULL, NULL);
	/* Already recording. */
	memset(&w, 0, sizeof(w));
	cr_assert_eq(t_dirty_start(f.d, r, 1, 4096, done_cb, &w), 0);
	wait_for(&w);
	cr_assert_eq(w.res.err, -EBUSY);
	memset(&w, 0, sizeof(w));
	cr_assert_eq(t_dirty_stop(f.d, done_cb, &w), 0);
	wait_for(&w);
	cr_assert_eq(w.res.err, 0);
	/* Stopped: reads are refused with a reason. */
	w = dirty_read(&f, &m, 1);
	cr_assert_eq(w.res.err, -EINVAL);
	/* Overlapping ranges, a page size the device lacks, too many. */
	memset(&w, 0, sizeof(w));
	cr_assert_eq(t_dirty_start(f.d, r, 2, 4096, done_cb, &w), 0);
	wait_for(&w);
	cr_assert_eq(w.res.err, -EINVAL);
	cr_assert_not_null(strstr(w.msg, "overlap"), "%s", w.msg);
	memset(&w, 0, sizeof(w));
	cr_assert_eq(t_dirty_start(f.d, r, 1, 8192, done_cb, &w), 0);
	wait_for(&w);
	cr_assert_eq(w.res.err, -EINVAL);
	cr_assert_not_null(strstr(w.msg, "page size 8192"), "%s", w.msg);
	memset(&w, 0, sizeof(w));
	cr_assert_eq(t_dirty_start(f.d, r, 9, 4096, done_cb, &w), 0);
	wait_for(&w);
	cr_assert_eq(w.res.err, -E2BIG);
	/* A 64 KiB range at 64 KiB pages works; maps are checked. */
	r[0].length = 65536;
	memset(&w, 0, sizeof(w));
	cr_assert_eq(t_dirty_start(f.d, r, 1, 65536, done_cb, &w), 0);
	wait_for(&w);
	cr_assert_eq(w.res.err, 0, "%s", w.msg);
	w = dirty_read(&f, &m, 1);
	cr_assert_eq(w.res.err, -EINVAL);
	cr_assert_not_null(strstr(w.msg, "page size 3000"), "%s", w.msg);
	rec_teardown(&f);
	LEAK_CHECK();
}

/* ---------------------------------------------------- mini-migration */

static void
copy_dirty(const uint8_t *src, uint8_t *dst, uint64_t *bits, size_t npages)
{
	size_t	p;

	for (p = 0; p < npages; p++) {
		if (bit(bits, p))
			memcpy(dst + p * 4096, src + p * 4096, 4096);
	}
	memset(bits, 0, (npages + 63) / 64 * 8);
}

static void
mini_migration(const char *workload)
{
	struct simproc	 src, dst;
	struct vmig_pf	*spf, *dpf;
	struct vmig_dev	*sd, *dd;
	struct vmig_iova_range r = { IOVA, MEMSZ };
	struct vmig_dirty_map m = { IOVA, MEMSZ, 4096, NULL };
	static uint64_t	 bits[MEMSZ / 4096 / 64];
	static uint8_t	 img[1 << 16];
	struct waiter	 w;
	char		*spath, *dpath, msg[512];
	uint8_t		*smem, *dmem;
	unsigned long long sdig, ddig, smd, dmd;
	size_t		 n;
	int		 round;

	start_sim(&src, 2, NULL);
	start_sim(&dst, 3, NULL);
	spath = mkmem("src", MEMSZ);
	dpath = mkmem("dst", MEMSZ);
	smem = map_file(spath, MEMSZ);
	dmem = map_file(dpath, MEMSZ);
	simcmd(&src, "attach 2 %s %u %#llx", spath, MEMSZ,
	    (unsigned long long)IOVA);
	simcmd(&dst, "attach 3 %s %u %#llx", dpath, MEMSZ,
	    (unsigned long long)IOVA);
	unlink(spath);	/* the mappings keep them */
	unlink(dpath);
	simcmd(&src, "workload 2 %s", workload);
	simcmd(&src, "cvq 2 mac=02:aa:bb:cc:dd:ee vlan=42 rx=1");
	/* The destination VF is parked before it receives anything. */
	simcmd(&dst, "hold 3");
	simcmd(&dst, "mode 3 stop");

	spf = open_pf(&src, NULL);
	dpf = open_pf(&dst, NULL);
	sd = open_dev(spf, 2);
	dd = open_dev(dpf, 3);
	m.bits = bits;

	/* Start recording, then the bulk copy, then a few rounds. */
	memset(&w, 0, sizeof(w));
	cr_assert_eq(t_dirty_start(sd, &r, 1, 4096, done_cb, &w), 0);
	wait_for(&w);
	cr_assert_eq(w.res.err, 0, "%s", w.msg);
	memcpy(dmem, smem, MEMSZ);
	for (round = 0; round < 4; round++) {
		/* Make sure the device wrote something this round. */
		simcmd(&src, "step 2 50");
		memset(&w, 0, sizeof(w));
		cr_assert_eq(t_dirty_read(sd, &m, 1, VMIG_LANE_BULK,
		    done_cb, &w), 0);
		wait_for(&w);
		cr_assert_eq(w.res.err, 0, "%s", w.msg);
		cr_assert_gt(w.res.u.dirty.records, 0);
		copy_dirty(smem, dmem, bits, MEMSZ / 4096);
	}
	/* Switchover: freeze, final records, final copy, context. */
	cr_assert_eq(set_mode(sd, VMIG_MODE_FROZEN, VMIG_LANE_CRITICAL), 0);
	memset(&w, 0, sizeof(w));
	cr_assert_eq(t_dirty_read(sd, &m, 1, VMIG_LANE_CRITICAL, done_cb,
	    &w), 0);
	wait_for(&w);
	cr_assert_eq(w.res.err, 0, "%s", w.msg);
	copy_dirty(smem, dmem, bits, MEMSZ / 4096);
	memset(&w, 0, sizeof(w));
	cr_assert_eq(t_dirty_stop(sd, done_cb, &w), 0);
	wait_for(&w);
	cr_assert_eq(w.res.err, 0);
	n = read_state(sd, img, sizeof(img), 1024);
	sdig = digest(&src, 2);

	cr_assert_eq(set_mode(dd, VMIG_MODE_FROZEN, VMIG_LANE_CRITICAL), 0);
	cr_assert_eq(write_state(dd, img, n, 700, msg, sizeof(msg)), 0, "%s",
	    msg);
	ddig = digest(&dst, 3);
	cr_assert_eq(memcmp(smem, dmem, MEMSZ), 0, "memory differs");
	cr_assert_eq(simproc_hex(&src, &smd, "memdigest 2"), 0);
	cr_assert_eq(simproc_hex(&dst, &dmd, "memdigest 3"), 0);
	cr_assert_eq(smd, dmd);
	cr_assert_eq(sdig, ddig, "context digests differ");
	cr_assert_eq(simfield(&src, 2, "writes"), simfield(&dst, 3, "writes"));
	cr_assert_gt(simfield(&src, 2, "writes"), 0);

	/* Both continue the same sequence: resume both, step both. */
	cr_assert_eq(set_mode(dd, VMIG_MODE_ACTIVE, VMIG_LANE_CRITICAL), 0);
	simcmd(&src, "hold 2");
	cr_assert_eq(set_mode(sd, VMIG_MODE_ACTIVE, VMIG_LANE_CRITICAL), 0);
	simcmd(&src, "step 2 1000");
	simcmd(&dst, "step 3 1000");
	cr_assert_eq(memcmp(smem, dmem, MEMSZ), 0, "diverged after resume");
	cr_assert_eq(digest(&src, 2), digest(&dst, 3));

	close_pf(spf);
	close_pf(dpf);
	simproc_stop(&src);
	simproc_stop(&dst);
	munmap(smem, MEMSZ);
	munmap(dmem, MEMSZ);
}

Test(plugin, mini_migration_hot)
{
	mini_migration("hot fraction=0.2 rate=20M size=512 seed=11");
	LEAK_CHECK();
}

Test(plugin, mini_migration_stream)
{
	mini_migration("stream rate=20M bufs=64 bufsize=2048 seed=5");
	LEAK_CHECK();
}
