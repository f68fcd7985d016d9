/*
 * test_backend.c: the plugin loader and the PF registry, with real shared
 * objects: a good backend, one built for another ABI, one without the
 * symbol, and a file that is not a shared object at all.
 */
#include "config.h"

#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <criterion/criterion.h>
#include <event2/event.h>

#include "conf.h"
#include "backend.h"
#include "log.h"
#include "leakcheck.h"

static char		 tmpdir[64];
static char		 plugdir[128];
static char		 logpath[128];
static struct event_base *base;

/* Where libtool put the test plugins: BUILDDIR/test/unit/.libs. */
static void
libs_dir(char *buf, size_t len)
{
	const char	*b = getenv("VMIG_BUILDDIR");
	char		 exe[512];
	ssize_t		 n;

	if (b != NULL && *b != '\0') {
		snprintf(buf, len, "%s/test/unit/.libs", b);
		return;
	}
	n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	cr_assert_gt(n, 0);
	exe[n] = '\0';
	snprintf(buf, len, "%s/.libs", dirname(exe));
}

static void
link_plugin(const char *name)
{
	char	libs[512], from[600], to[256];

	libs_dir(libs, sizeof(libs));
	snprintf(from, sizeof(from), "%s/%s.so", libs, name);
	snprintf(to, sizeof(to), "%s/%s.so", plugdir, name);
	cr_assert_eq(access(from, R_OK), 0, "%s: not built? (make check "
	    "builds it)", from);
	cr_assert_eq(symlink(from, to), 0);
}

static void
setup(void)
{
	int	fd;

	snprintf(tmpdir, sizeof(tmpdir), "/tmp/vmig-test-backend.XXXXXX");
	cr_assert_not_null(mkdtemp(tmpdir));
	snprintf(plugdir, sizeof(plugdir), "%s/plugins", tmpdir);
	cr_assert_eq(mkdir(plugdir, 0755), 0);
	link_plugin("plugin_good");
	link_plugin("plugin_badabi");
	link_plugin("plugin_nosym");
	/* The log goes to a file the tests read. */
	snprintf(logpath, sizeof(logpath), "%s/log", tmpdir);
	cr_assert_geq(fd = open(logpath, O_WRONLY | O_CREAT | O_TRUNC, 0644),
	    0);
	dup2(fd, STDERR_FILENO);
	close(fd);
	log_init(LOG_LEVEL_DEBUG, "test");
	cr_assert_not_null(base = event_base_new());
}

static void
teardown(void)
{
	char	cmd[128];

	event_base_free(base);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
	(void)system(cmd);
}

static int
log_has(const char *what)
{
	char	buf[16384];
	FILE	*f;
	size_t	 n;

	fflush(stderr);
	cr_assert_not_null(f = fopen(logpath, "r"));
	n = fread(buf, 1, sizeof(buf) - 1, f);
	buf[n] = '\0';
	fclose(f);
	return (strstr(buf, what) != NULL);
}

TestSuite(backend, .init = setup, .fini = teardown);

Test(backend, missing_plugin_dir)
{
	char	err[256], path[160];

	snprintf(path, sizeof(path), "%s/nope", tmpdir);
	cr_assert_null(backends_new(base, path, err, sizeof(err)));
	cr_assert(strstr(err, "plugin_dir ") != NULL &&
	    strstr(err, "/nope: No such file or directory") != NULL, "%s", err);
	cr_assert_null(backends_new(base, logpath, err, sizeof(err)));
	cr_assert(strstr(err, "/log: not a directory") != NULL, "%s", err);
	LEAK_CHECK();
}

Test(backend, loads_good_refuses_bad)
{
	struct backends	*bs;
	struct backend	*be;
	char		 err[256];

	cr_assert_not_null(bs = backends_new(base, plugdir, err, sizeof(err)),
	    "%s", err);
	cr_assert_eq(bs->nloaded, 1);
	cr_assert_eq(bs->nrefused, 2);

	cr_assert_not_null(be = backend_find(bs, "testdev"));
	cr_assert_not_null(be->ops);
	cr_assert_str_eq(be->ops->version, "1.0");
	/* init() ran, and its log line carries the plugin's name. */
	cr_assert(log_has("testdev: init (host ABI 2.1)"));

	cr_assert_not_null(be = backend_find(bs, "plugin-badabi"));
	cr_assert_null(be->ops);
	cr_assert(strstr(be->error, "built for backend ABI 1, this vmigd "
	    "speaks ABI 2: rebuild it") != NULL, "%s", be->error);
	cr_assert(log_has("plugin_badabi.so: refused: it was built for "
	    "backend ABI 1"));

	cr_assert_not_null(be = backend_find(bs, "plugin-nosym"));
	cr_assert_null(be->ops);
	cr_assert(strstr(be->error, "does not export the symbol vmig_backend")
	    != NULL, "%s", be->error);
	cr_assert_null(backend_find(bs, "nosuch"));
	backends_free(bs);
	LEAK_CHECK();
}

Test(backend, not_a_shared_object)
{
	struct backends	*bs;
	struct backend	*be;
	char		 err[256], path[160];
	FILE		*f;

	snprintf(path, sizeof(path), "%s/junk.so", plugdir);
	cr_assert_not_null(f = fopen(path, "w"));
	fputs("not an ELF file\n", f);
	fclose(f);
	cr_assert_not_null(bs = backends_new(base, plugdir, err, sizeof(err)),
	    "%s", err);
	cr_assert_eq(bs->nloaded, 1);
	cr_assert_eq(bs->nrefused, 3);
	cr_assert_not_null(be = backend_find(bs, "junk"));
	cr_assert(strstr(be->error, "cannot load it") != NULL, "%s",
	    be->error);
	backends_free(bs);
	LEAK_CHECK();
}

/* Configure, then run the loop until no PF is opening (ABI 2: async). */
static void
configure(struct backends *bs, const struct config *c)
{
	struct pf	*pf;
	int		 opening;

	backends_configure(bs, c);
	do {
		opening = 0;
		TAILQ_FOREACH(pf, &bs->pfs, entry)
			opening |= pf->state == PF_OPENING;
		if (opening)
			event_base_loop(base, EVLOOP_ONCE);
	} while (opening);
}

static struct config *
test_config(void)
{
	struct config	*c = config_new();
	char		 err[256];

	cr_assert_eq(config_set_pf(c, "t0=testdev:vfs=4", "test", err,
	    sizeof(err)), 0, "%s", err);
	cr_assert_eq(config_set_pf(c, "bad=plugin-badabi:x", "test", err,
	    sizeof(err)), 0, "%s", err);
	cr_assert_eq(config_set_pf(c, "none=nosuch:x", "test", err,
	    sizeof(err)), 0, "%s", err);
	cr_assert_eq(config_set_pf(c, "down=testdev:vfs=2,fail=no such "
	    "device node", "test", err, sizeof(err)), 0, "%s", err);
	return (c);
}

Test(backend, pfs_online_and_offline)
{
	struct backends	*bs;
	struct config	*c = test_config();
	struct pf	*pf;
	char		 err[256];
	unsigned int	 nvfs;

	cr_assert_not_null(bs = backends_new(base, plugdir, err, sizeof(err)));
	configure(bs, c);

	cr_assert_not_null(pf = backend_pf_find(bs, "t0"));
	cr_assert_not_null(pf->handle);
	cr_assert_eq(pf->ndevs, 4);
	cr_assert_eq(pf->info.num_vfs, 4);
	cr_assert_str_eq(pf->devs[0]->name, "t0/vf1");
	cr_assert_str_eq(pf->devs[3]->name, "t0/vf4");
	cr_assert_str_eq(pf->devs[2]->info.type, "virtio-net");
	cr_assert_eq(pf->devs[2]->info.member_id, 3);

	cr_assert_not_null(pf = backend_pf_find(bs, "bad"));
	cr_assert_null(pf->handle);
	cr_assert(strstr(pf->error, "backend plugin-badabi (") != NULL &&
	    strstr(pf->error, "was refused: it was built for backend ABI 1")
	    != NULL, "%s", pf->error);

	cr_assert_not_null(pf = backend_pf_find(bs, "none"));
	cr_assert_null(pf->handle);
	cr_assert(strstr(pf->error, "no backend named nosuch in ") != NULL &&
	    strstr(pf->error, "(loaded: testdev)") != NULL, "%s", pf->error);

	cr_assert_not_null(pf = backend_pf_find(bs, "down"));
	cr_assert_null(pf->handle);
	cr_assert_str_eq(pf->error, "vfs=2,fail=no such device node: no such "
	    "device node");

	cr_assert_eq(backend_pf_online(bs, &nvfs), 1);
	cr_assert_eq(nvfs, 4);
	backends_free(bs);
	config_free(c);
	LEAK_CHECK();
}

struct lookup_case {
	const char	*name;
	int		 rv;
	const char	*err;
};

Test(backend, device_lookup)
{
	static const struct lookup_case cases[] = {
		{ "t0/vf3", 0, "" },
		{ "t0/vf9", -ENOENT, "device t0/vf9: no such device on PF t0 "
		  "(it has 4 VFs)" },
		{ "t0/vf", -ENOENT, "no such device on PF t0" },
		{ "zz/vf1", -ENOENT, "device zz/vf1: no such PF (configured: "
		  "t0, bad, none, down)" },
		{ "bad/vf1", -ENODEV, "device bad/vf1: PF bad is offline: "
		  "backend plugin-badabi" },
		{ "down/vf1", -ENODEV, "PF down is offline: vfs=2,fail=no such "
		  "device node" },
		{ "garbage", -EINVAL, "device 'garbage': not a device name "
		  "(expected PF/vfN, e.g. sim0/vf1)" },
		{ "/vf1", -EINVAL, "not a device name" },
		{ "t0/", -EINVAL, "not a device name" },
		{ "t0/vf1/x", -EINVAL, "not a device name" },
		{ "", -EINVAL, "device '': not a device name" },
		{ "t0/\x01\x7f", -ENOENT, "device t0/??: no such device" },
		{ "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa/vf1",
		  -ENOENT, "no such PF" },
	};
	struct backends	*bs;
	struct config	*c = test_config();
	struct device	*d;
	char		 err[256];
	size_t		 i;
	int		 rv;

	cr_assert_not_null(bs = backends_new(base, plugdir, err, sizeof(err)));
	configure(bs, c);
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		err[0] = '\0';
		rv = backend_dev_lookup(bs, cases[i].name, &d, err,
		    sizeof(err));
		cr_assert_eq(rv, cases[i].rv, "%s: %d, expected %d (%s)",
		    cases[i].name, rv, cases[i].rv, err);
		if (rv == 0) {
			cr_assert_not_null(d);
			cr_assert_str_eq(d->name, cases[i].name);
		} else {
			cr_assert_null(d);
			cr_assert(strstr(err, cases[i].err) != NULL,
			    "%s: '%s' lacks '%s'", cases[i].name, err,
			    cases[i].err);
		}
	}
	cr_assert_eq(backend_pf_lookup(bs, "nope", &(struct pf *){ NULL }, err,
	    sizeof(err)), -ENOENT);
	cr_assert_str_eq(err, "PF nope: no such PF (configured: t0, bad, none, "
	    "down)");
	backends_free(bs);
	config_free(c);
	LEAK_CHECK();
}

Test(backend, claim_and_release)
{
	struct backends	*bs;
	struct config	*c = test_config();
	struct device	*d;
	char		 err[256];

	cr_assert_not_null(bs = backends_new(base, plugdir, err, sizeof(err)));
	configure(bs, c);
	cr_assert_eq(backend_dev_lookup(bs, "t0/vf2", &d, err, sizeof(err)), 0);
	cr_assert_eq(backend_dev_claim(d, 12, "job 12 (outgoing)", err,
	    sizeof(err)), 0);
	cr_assert_eq(d->job_id, 12);
	cr_assert_eq(backend_dev_claim(d, 13, "job 13 (incoming)", err,
	    sizeof(err)), -EBUSY);
	cr_assert_str_eq(err, "device t0/vf2: busy in job 12 (job 12 "
	    "(outgoing))");
	/* The owner claiming again is fine; someone else releasing is not. */
	cr_assert_eq(backend_dev_claim(d, 12, "job 12 (outgoing)", err,
	    sizeof(err)), 0);
	backend_dev_release(d, 13);
	cr_assert_eq(d->job_id, 12);
	backend_dev_release(d, 12);
	cr_assert_eq(d->job_id, 0);
	cr_assert_str_eq(d->owner, "");
	cr_assert_eq(backend_dev_claim(d, 13, NULL, err, sizeof(err)), 0);
	backends_free(bs);
	config_free(c);
	LEAK_CHECK();
}

static void
mode_done(void *arg, const struct vmig_result *res)
{
	struct vmig_result	*out = arg;

	*out = *res;
	out->err = res->err;
	out->dev_status = 1;	/* marks "called" */
}

Test(backend, device_commands_complete_on_the_loop)
{
	struct backends		*bs;
	struct config		*c = test_config();
	struct device		*d;
	struct vmig_result	 res;
	char			 err[256];

	cr_assert_not_null(bs = backends_new(base, plugdir, err, sizeof(err)));
	configure(bs, c);
	cr_assert_eq(backend_dev_lookup(bs, "t0/vf1", &d, err, sizeof(err)), 0);
	cr_assert_null(d->handle);
	cr_assert_eq(backend_dev_open(d, err, sizeof(err)), 0, "%s", err);
	cr_assert_not_null(d->handle);

	memset(&res, 0, sizeof(res));
	cr_assert_eq(backend_dev_ops(d)->set_mode(d->handle, VMIG_MODE_FROZEN,
	    VMIG_LANE_CRITICAL, mode_done, &res), 0);
	/* Asynchronous: nothing until the loop runs. */
	cr_assert_eq(res.dev_status, 0);
	event_base_loop(base, EVLOOP_NONBLOCK);
	cr_assert_eq(res.dev_status, 1);
	cr_assert_eq(res.err, 0);

	memset(&res, 0, sizeof(res));
	cr_assert_eq(backend_dev_ops(d)->get_mode(d->handle, VMIG_LANE_BULK,
	    mode_done, &res), 0);
	event_base_loop(base, EVLOOP_NONBLOCK);
	cr_assert_eq(res.dev_status, 1);
	cr_assert_eq(res.u.mode, VMIG_MODE_FROZEN);

	/* The PF's listing shows the new mode after a refresh. */
	cr_assert_eq(backend_pf_refresh(d->pf), 0);
	cr_assert_eq(d->info.mode, VMIG_MODE_FROZEN);
	cr_assert_str_eq(backend_mode_name(d->info.mode), "frozen");
	backend_dev_close(d);
	cr_assert_null(d->handle);
	backends_free(bs);
	config_free(c);
	LEAK_CHECK();
}

Test(backend, reconfigure)
{
	struct backends	*bs;
	struct config	*c = test_config(), *c2;
	struct device	*d;
	struct pf	*pf;
	char		 err[256];

	cr_assert_not_null(bs = backends_new(base, plugdir, err, sizeof(err)));
	configure(bs, c);
	cr_assert_eq(backend_dev_lookup(bs, "t0/vf1", &d, err, sizeof(err)), 0);
	cr_assert_eq(backend_dev_claim(d, 7, "job 7", err, sizeof(err)), 0);

	/* t0 gone but busy: kept. down changed: reopened. none gone. */
	c2 = config_new();
	cr_assert_eq(config_set_pf(c2, "down=testdev:vfs=2", "test", err,
	    sizeof(err)), 0);
	cr_assert_eq(config_set_pf(c2, "new=testdev:vfs=1", "test", err,
	    sizeof(err)), 0);
	configure(bs, c2);
	cr_assert_not_null(pf = backend_pf_find(bs, "t0"));
	cr_assert_eq(pf->stale, 1);
	cr_assert(log_has("pf t0: gone in the config, but t0/vf1 is in use by "
	    "job 7"));
	cr_assert_null(backend_pf_find(bs, "none"));
	cr_assert_null(backend_pf_find(bs, "bad"));
	cr_assert_not_null(pf = backend_pf_find(bs, "down"));
	cr_assert_not_null(pf->handle, "%s", pf->error);
	cr_assert_eq(pf->ndevs, 2);
	cr_assert_not_null(pf = backend_pf_find(bs, "new"));
	cr_assert_not_null(pf->handle);

	/* Once free, the next reload closes it. */
	backend_dev_release(d, 7);
	configure(bs, c2);
	cr_assert_null(backend_pf_find(bs, "t0"));
	backends_free(bs);
	config_free(c);
	config_free(c2);
	LEAK_CHECK();
}

/* Opening is asynchronous: a slow PF is seen opening, then online. */
Test(backend, pf_opens_without_blocking)
{
	struct backends	*bs;
	struct config	*c = config_new();
	struct device	*d;
	struct pf	*pf;
	char		 err[256];

	cr_assert_eq(config_set_pf(c, "slow=testdev:vfs=2,slow=200", "test",
	    err, sizeof(err)), 0, "%s", err);
	cr_assert_not_null(bs = backends_new(base, plugdir, err, sizeof(err)));
	backends_configure(bs, c);
	cr_assert_not_null(pf = backend_pf_find(bs, "slow"));
	cr_assert_eq(pf->state, PF_OPENING, "configure returned at once");
	cr_assert_str_eq(backend_pf_state_name(pf->state), "opening");
	cr_assert_eq(backend_dev_lookup(bs, "slow/vf1", &d, err, sizeof(err)),
	    -ENODEV);
	cr_assert(strstr(err, "PF slow is still opening") != NULL, "%s", err);
	/* a second reload leaves an open under way alone */
	backends_configure(bs, c);
	cr_assert_eq(pf->state, PF_OPENING);
	while (pf->state == PF_OPENING)
		event_base_loop(base, EVLOOP_ONCE);
	cr_assert_eq(pf->state, PF_ONLINE, "%s", pf->error);
	cr_assert_eq(backend_dev_lookup(bs, "slow/vf1", &d, err, sizeof(err)),
	    0, "%s", err);
	backends_free(bs);
	config_free(c);
	LEAK_CHECK();
}

/* A PF closed while it opens: its open ends cancelled, nothing leaks. */
Test(backend, pf_closed_while_opening)
{
	struct backends	*bs;
	struct config	*c = config_new(), *c2 = config_new();
	char		 err[256];

	cr_assert_eq(config_set_pf(c, "slow=testdev:vfs=2,slow=60000", "test",
	    err, sizeof(err)), 0, "%s", err);
	cr_assert_not_null(bs = backends_new(base, plugdir, err, sizeof(err)));
	backends_configure(bs, c);
	cr_assert_eq(backend_pf_find(bs, "slow")->state, PF_OPENING);
	backends_configure(bs, c2);
	cr_assert_null(backend_pf_find(bs, "slow"));
	backends_free(bs);
	config_free(c);
	config_free(c2);
	LEAK_CHECK();
}
