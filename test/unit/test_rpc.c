/*
 * test_rpc.c: the control API server over a real nng IPC socket, driven by
 * the C client library: request validation (garbage, truncated, no call, an
 * unknown call, too large, invalid UTF-8, a newer API version), every
 * error's code and message, request_id echoed, the calls of the foundation,
 * deferred replies beyond the number of workers, and calls still open at
 * shutdown answered UNAVAILABLE.
 *
 * The daemon's loop runs on its own thread, as in vmigd; the test thread
 * is the client.
 */
#include "config.h"

#include <sys/stat.h>

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <criterion/criterion.h>
#include <event2/event.h>
#include <event2/thread.h>
#include <nng/nng.h>
#include <nng/supplemental/util/platform.h>

#include "conf.h"
#include "api.h"
#include "job.h"
#include "backend.h"
#include "log.h"
#include "rpc.h"
#include "util.h"
#include "vmig/client.h"
#include "vmigd.h"
#include "wake.h"
#include "leakcheck.h"

#define S(x)		VMIG__V1__STATUS_CODE__STATUS_##x
#define MAX_MSG		4096
#define TIMEOUT_MS	20000	/* generous: machines are shared */

static char		 tmpdir[64];
static char		 url[128];
static struct vmigd	 d;
static nng_thread	*loop_thread;

/* What the test dispatcher saw (written on the loop, read by the test). */
static int		 held_calls;
static int		 abandoned;

static void
loop_run(void *arg)
{
	event_base_loop(d.base, EVLOOP_NO_EXIT_ON_EMPTY);
}

static void
daemon_start(rpc_dispatch_fn dispatch, unsigned int workers)
{
	struct rpc_params	p;
	char			err[256], dir[128];

	cr_assert_eq(evthread_use_pthreads(), 0);
	memset(&d, 0, sizeof(d));
	cr_assert_not_null(d.base = event_base_new());
	d.start_ms = now_ms();
	d.wake = wake_new(d.base);
	d.conf = config_new();
	cr_assert_eq(config_set_pf(d.conf, "sim0=virtio-admin:sim:/x", "test",
	    err, sizeof(err)), 0);
	snprintf(dir, sizeof(dir), "%s/plugins", tmpdir);
	cr_assert_eq(mkdir(dir, 0755), 0);
	cr_assert_not_null(d.backends = backends_new(d.base, dir, err,
	    sizeof(err)), "%s", err);
	backends_configure(d.backends, d.conf);

	memset(&p, 0, sizeof(p));
	p.url = url;
	p.tcp_url = "tcp://127.0.0.1:0";
	p.max_message_bytes = MAX_MSG;
	p.workers = workers;
	cr_assert_not_null(d.rpc = rpc_open(d.base, d.wake, &p, dispatch, &d,
	    err, sizeof(err)), "%s", err);
	d.engine = engine_new(d.base, d.backends);
	api_job_init(&d);
	cr_assert_eq(nng_thread_create(&loop_thread, loop_run, NULL), 0);
}

/* Stop the loop thread; the test thread owns the state afterwards. */
static void
daemon_stop_loop(void)
{
	if (loop_thread == NULL)
		return;
	event_base_loopbreak(d.base);
	nng_thread_destroy(loop_thread);
	loop_thread = NULL;
}

static void
daemon_free(void)
{
	daemon_stop_loop();
	engine_freeze(d.engine);
	rpc_close(d.rpc);
	backends_free(d.backends);
	api_job_free(&d);
	engine_free(d.engine);
	wake_free(d.wake);
	event_base_free(d.base);
	config_free(d.conf);
	memset(&d, 0, sizeof(d));
}

static void
setup(void)
{
	snprintf(tmpdir, sizeof(tmpdir), "/tmp/vmig-test-rpc.XXXXXX");
	cr_assert_not_null(mkdtemp(tmpdir));
	snprintf(url, sizeof(url), "ipc://%s/rpc.sock", tmpdir);
	log_init(LOG_LEVEL_ERROR, "test");
	held_calls = abandoned = 0;
}

static void
teardown(void)
{
	char	cmd[128];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
	(void)system(cmd);
}

TestSuite(rpc, .init = setup, .fini = teardown, .timeout = 120);

static struct vmig_client *
connect_or_fail(int timeout_ms)
{
	struct vmig_client	*c;
	char			 err[256];

	c = vmig_client_open(url, timeout_ms, err, sizeof(err));
	cr_assert_not_null(c, "%s", err);
	return (c);
}

/* Raw bytes in, decoded Response out. */
static Vmig__V1__Response *
raw_call(struct vmig_client *c, const void *buf, size_t len)
{
	Vmig__V1__Response	*r;
	void			*out;
	size_t			 outlen;
	char			 err[256];

	cr_assert_eq(vmig_client_roundtrip(c, buf, len, &out, &outlen, err,
	    sizeof(err)), 0, "%s", err);
	r = vmig__v1__response__unpack(NULL, outlen, out);
	free(out);
	cr_assert_not_null(r, "the answer does not decode");
	cr_assert_not_null(r->status);
	return (r);
}

static void
assert_status(const Vmig__V1__Response *r, Vmig__V1__StatusCode code,
    const char *words)
{
	cr_assert_eq(r->status->code, code, "status %s (%s), expected %s",
	    rpc_status_name(r->status->code), r->status->message,
	    rpc_status_name(code));
	cr_assert(strstr(r->status->message, words) != NULL,
	    "'%s' lacks '%s'", r->status->message, words);
}

/* ---------------------------------------------------------------- decode */

struct decode_case {
	const char		*what;
	const uint8_t		*buf;
	size_t			 len;
	Vmig__V1__StatusCode	 code;
	uint64_t		 id;
	const char		*words;
};

Test(rpc, decode_refusals)
{
	static const uint8_t garbage[] = { 0xff, 0xff, 0xff, 0xff, 0x01 };
	static const uint8_t id_then_garbage[] = { 0x10, 0x07, 0xff, 0xff };
	/* request_id 7, then field 99 (length-delimited, empty). */
	static const uint8_t unknown_call[] = { 0x10, 0x07, 0x9a, 0x06, 0x00 };
	/* api_version 2, request_id 9, get_version {} */
	static const uint8_t newer_api[] = { 0x08, 0x02, 0x10, 0x09, 0x52,
	    0x00 };
	/* request_id 5, list_devices { pf: "\xff\xfe" } */
	static const uint8_t bad_utf8[] = { 0x10, 0x05, 0x5a, 0x04, 0x0a, 0x02,
	    0xff, 0xfe };
	/* list_devices { pf: "abc" } cut short */
	static const uint8_t truncated[] = { 0x10, 0x05, 0x5a, 0x05, 0x0a,
	    0x03, 'a', 'b' };
	static const struct decode_case cases[] = {
		{ "garbage", garbage, sizeof(garbage), S(BAD_REQUEST), 0,
		  "request of 5 bytes does not decode as vmig.v1.Request" },
		{ "garbage after an id", id_then_garbage,
		  sizeof(id_then_garbage), S(BAD_REQUEST), 7, "does not decode" },
		{ "truncated", truncated, sizeof(truncated), S(BAD_REQUEST), 5,
		  "request of 8 bytes does not decode" },
		{ "empty", garbage, 0, S(UNIMPLEMENTED), 0,
		  "request names no call" },
		{ "unknown call", unknown_call, sizeof(unknown_call),
		  S(UNIMPLEMENTED), 7, "unknown call (Request field 99)" },
		{ "newer api", newer_api, sizeof(newer_api), S(UNIMPLEMENTED),
		  9, "api_version 2 is not supported: this daemon speaks "
		  "api_version 1" },
		{ "invalid utf-8", bad_utf8, sizeof(bad_utf8),
		  S(INVALID_ARGUMENT), 5,
		  "field vmig.v1.ListDevicesRequest.pf is not valid UTF-8" },
	};
	Vmig__V1__Request	*req;
	Vmig__V1__StatusCode	 code;
	uint64_t		 id;
	char			 err[256];
	size_t			 i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		req = rpc_decode(cases[i].buf, cases[i].len, MAX_MSG, &id,
		    &code, err, sizeof(err));
		cr_assert_null(req, "%s: accepted", cases[i].what);
		cr_assert_eq(code, cases[i].code, "%s: %s", cases[i].what,
		    rpc_status_name(code));
		cr_assert_eq(id, cases[i].id, "%s: id %" PRIu64, cases[i].what,
		    id);
		cr_assert(strstr(err, cases[i].words) != NULL,
		    "%s: '%s' lacks '%s'", cases[i].what, err, cases[i].words);
	}
	/* Too large: refused before decoding, id still found. */
	req = rpc_decode(unknown_call, sizeof(unknown_call), 4, &id, &code, err,
	    sizeof(err));
	cr_assert_null(req);
	cr_assert_eq(code, S(RESOURCE_EXHAUSTED));
	cr_assert_eq(id, 7);
	cr_assert_str_eq(err, "request of 5 bytes is over the limit of 4 bytes "
	    "(max_message_bytes)");
	LEAK_CHECK();
}

/* ---------------------------------------------------------------- server */

Test(rpc, foundation_calls)
{
	Vmig__V1__Request		 req = VMIG__V1__REQUEST__INIT;
	Vmig__V1__GetVersionRequest	 gv = VMIG__V1__GET_VERSION_REQUEST__INIT;
	Vmig__V1__ListDevicesRequest	 ld =
	    VMIG__V1__LIST_DEVICES_REQUEST__INIT;
	Vmig__V1__GetDaemonStatusRequest ds =
	    VMIG__V1__GET_DAEMON_STATUS_REQUEST__INIT;
	Vmig__V1__WatchEventsRequest	 we =
	    VMIG__V1__WATCH_EVENTS_REQUEST__INIT;
	Vmig__V1__Response		*r;
	struct vmig_client		*c;
	char				 err[256];

	daemon_start(api_dispatch, 4);
	c = connect_or_fail(TIMEOUT_MS);

	req.call_case = VMIG__V1__REQUEST__CALL_GET_VERSION;
	req.get_version = &gv;
	req.request_id = 4242;
	cr_assert_eq(vmig_client_call(c, &req, &r, err, sizeof(err)), 0, "%s",
	    err);
	cr_assert_eq(r->request_id, 4242);
	assert_status(r, S(OK), "");
	cr_assert_eq(r->result_case, VMIG__V1__RESPONSE__RESULT_GET_VERSION);
	cr_assert_str_eq(r->get_version->version, PACKAGE_VERSION);
	cr_assert_eq(r->get_version->api_version, 1);
	cr_assert_eq(r->get_version->backend_abi_major, VMIG_BACKEND_ABI_MAJOR);
	cr_assert_str_eq(r->get_version->nng_version, nng_version());
	vmig_client_free(r);

	req.request_id = 0;
	req.call_case = VMIG__V1__REQUEST__CALL_LIST_DEVICES;
	req.list_devices = &ld;
	cr_assert_eq(vmig_client_call(c, &req, &r, err, sizeof(err)), 0, "%s",
	    err);
	assert_status(r, S(OK), "");
	cr_assert_eq(r->list_devices->n_pfs, 1);
	cr_assert_str_eq(r->list_devices->pfs[0]->name, "sim0");
	cr_assert_eq(r->list_devices->pfs[0]->online, 0);
	cr_assert(strstr(r->list_devices->pfs[0]->error,
	    "no backend named virtio-admin") != NULL, "%s",
	    r->list_devices->pfs[0]->error);
	cr_assert_eq(r->list_devices->n_devices, 0);
	vmig_client_free(r);

	/* An unknown PF: NOT_FOUND, naming it and what exists. */
	req.request_id = 0;
	ld.pf = "sim9";
	cr_assert_eq(vmig_client_call(c, &req, &r, err, sizeof(err)), 0, "%s",
	    err);
	assert_status(r, S(NOT_FOUND), "PF sim9: no such PF (configured: "
	    "sim0)");
	cr_assert_eq(r->result_case, VMIG__V1__RESPONSE__RESULT__NOT_SET);
	vmig_client_free(r);

	req.request_id = 0;
	req.call_case = VMIG__V1__REQUEST__CALL_GET_DAEMON_STATUS;
	req.get_daemon_status = &ds;
	cr_assert_eq(vmig_client_call(c, &req, &r, err, sizeof(err)), 0, "%s",
	    err);
	assert_status(r, S(OK), "");
	cr_assert_eq(r->get_daemon_status->pid, (uint32_t)getpid());
	cr_assert_str_eq(r->get_daemon_status->rpc_url, url);
	cr_assert_eq(r->get_daemon_status->limits->max_outgoing, 2);
	cr_assert_eq(r->get_daemon_status->rpc_requests, 4);
	cr_assert_eq(r->get_daemon_status->rpc_errors, 1);
	vmig_client_free(r);

	/* Events are off in this daemon: UNAVAILABLE, saying why. */
	req.request_id = 0;
	req.call_case = VMIG__V1__REQUEST__CALL_WATCH_EVENTS;
	req.watch_events = &we;
	cr_assert_eq(vmig_client_call(c, &req, &r, err, sizeof(err)), 0, "%s",
	    err);
	assert_status(r, S(UNAVAILABLE), "events are off on this daemon");
	vmig_client_free(r);

	vmig_client_close(c);
	daemon_free();
	LEAK_CHECK();
}

Test(rpc, job_calls_checked)
{
	Vmig__V1__Request		 req = VMIG__V1__REQUEST__INIT;
	Vmig__V1__StartMigrationRequest	 sm =
	    VMIG__V1__START_MIGRATION_REQUEST__INIT;
	Vmig__V1__Response		*r;
	struct vmig_client		*c;
	char				 err[256];

	daemon_start(api_dispatch, 2);
	c = connect_or_fail(TIMEOUT_MS);
	req.call_case = VMIG__V1__REQUEST__CALL_START_MIGRATION;
	req.start_migration = &sm;
	sm.device = "sim0/vf1";
	cr_assert_eq(vmig_client_call(c, &req, &r, err, sizeof(err)), 0, "%s",
	    err);
	assert_status(r, S(INVALID_ARGUMENT), "device sim0/vf1: dest_url is "
	    "empty: give the stream_url PrepareIncoming returned on the "
	    "destination");
	vmig_client_free(r);

	/* a complete request for a device whose PF is offline */
	sm.dest_url = "tcp://127.0.0.1:1";
	sm.token.data = (uint8_t *)"t";
	sm.token.len = 1;
	sm.n_regions = 1;
	{
		Vmig__V1__MemoryRegion	 mr = VMIG__V1__MEMORY_REGION__INIT;
		Vmig__V1__MemoryRegion	*mrp = &mr;

		mr.path = "/dev/null";
		mr.length = 4096;
		sm.regions = &mrp;
		cr_assert_eq(vmig_client_call(c, &req, &r, err, sizeof(err)), 0,
		    "%s", err);
	}
	cr_assert_neq(r->status->code, S(OK));
	cr_assert_not_null(strstr(r->status->message, "sim0/vf1"), "%s",
	    r->status->message);
	vmig_client_free(r);

	/* a region without a file is refused before anything is opened */
	{
		Vmig__V1__MemoryRegion	 mr = VMIG__V1__MEMORY_REGION__INIT;
		Vmig__V1__MemoryRegion	*mrp = &mr;

		mr.path = "";
		mr.length = 4096;
		sm.regions = &mrp;
		cr_assert_eq(vmig_client_call(c, &req, &r, err, sizeof(err)), 0,
		    "%s", err);
	}
	assert_status(r, S(INVALID_ARGUMENT), "region 0 has no path");
	vmig_client_free(r);
	vmig_client_close(c);
	daemon_free();
	LEAK_CHECK();
}

Test(rpc, bad_requests_over_the_wire)
{
	static const uint8_t garbage[] = { 0x10, 0x2a, 0xff, 0xff, 0xff };
	static const uint8_t unknown_call[] = { 0x10, 0x07, 0x9a, 0x06, 0x00 };
	Vmig__V1__Request		 req = VMIG__V1__REQUEST__INIT;
	Vmig__V1__ListDevicesRequest	 ld =
	    VMIG__V1__LIST_DEVICES_REQUEST__INIT;
	Vmig__V1__Response		*r;
	struct vmig_client		*c;
	struct rpc_counts		 counts;
	uint8_t				*buf;
	char				 err[256], *big;
	size_t				 len;

	daemon_start(api_dispatch, 2);
	c = connect_or_fail(TIMEOUT_MS);

	r = raw_call(c, garbage, sizeof(garbage));
	cr_assert_eq(r->request_id, 42);
	assert_status(r, S(BAD_REQUEST), "does not decode");
	vmig__v1__response__free_unpacked(r, NULL);

	r = raw_call(c, unknown_call, sizeof(unknown_call));
	cr_assert_eq(r->request_id, 7);
	assert_status(r, S(UNIMPLEMENTED), "unknown call (Request field 99)");
	vmig__v1__response__free_unpacked(r, NULL);

	/* Over max_message_bytes but under the hard cap: told the sizes. */
	big = xmalloc(6000);
	memset(big, 'x', 5999);
	big[5999] = '\0';
	ld.pf = big;
	req.request_id = 77;
	req.call_case = VMIG__V1__REQUEST__CALL_LIST_DEVICES;
	req.list_devices = &ld;
	len = vmig__v1__request__get_packed_size(&req);
	buf = xmalloc(len);
	vmig__v1__request__pack(&req, buf);
	r = raw_call(c, buf, len);
	cr_assert_eq(r->request_id, 77);
	snprintf(err, sizeof(err), "request of %zu bytes is over the limit of "
	    "%d bytes (max_message_bytes)", len, MAX_MSG);
	assert_status(r, S(RESOURCE_EXHAUSTED), err);
	vmig__v1__response__free_unpacked(r, NULL);
	free(buf);
	free(big);

	/* And the daemon still answers. */
	ld.pf = "";
	req.request_id = 0;
	cr_assert_eq(vmig_client_call(c, &req, &r, err, sizeof(err)), 0, "%s",
	    err);
	assert_status(r, S(OK), "");
	vmig_client_free(r);
	vmig_client_close(c);

	/* Counted by call and status (the metrics' source); a request that
	 * did not decode names no call. */
	rpc_get_counts(d.rpc, &counts);
	cr_assert_eq(counts.n[0][S(BAD_REQUEST)], 1);
	cr_assert_eq(counts.n[0][S(UNIMPLEMENTED)], 1);
	cr_assert_eq(counts.n[0][S(RESOURCE_EXHAUSTED)], 1);
	cr_assert_eq(counts.n[VMIG__V1__REQUEST__CALL_LIST_DEVICES][S(OK)], 1);
	cr_assert_eq(counts.n[VMIG__V1__REQUEST__CALL_LIST_DEVICES][S(
	    RESOURCE_EXHAUSTED)], 0);
	daemon_free();
	LEAK_CHECK();
}

Test(rpc, above_the_hard_cap_the_connection_goes)
{
	Vmig__V1__Request	 req = VMIG__V1__REQUEST__INIT;
	Vmig__V1__GetVersionRequest gv = VMIG__V1__GET_VERSION_REQUEST__INIT;
	Vmig__V1__Response	*r;
	struct vmig_client	*c;
	void			*out;
	char			*big, err[256];
	size_t			 outlen;
	int			 rv;

	daemon_start(api_dispatch, 2);
	/*
	 * Over tcp:// nng refuses it on the pipe (over 2 x max) and drops
	 * the connection: no answer, the client hears of the reset (or, had
	 * it missed that, would time out).
	 */
	c = vmig_client_open(rpc_tcp_url(d.rpc), 1000, err, sizeof(err));
	cr_assert_not_null(c, "%s", err);
	big = xcalloc(1, 3 * MAX_MSG);
	rv = vmig_client_roundtrip(c, big, 3 * MAX_MSG, &out, &outlen, err,
	    sizeof(err));
	cr_assert(rv == -ECONNRESET || rv == -ETIMEDOUT, "%d: %s", rv, err);
	cr_assert(strstr(err, "tcp://") != NULL, "%s", err);
	vmig_client_close(c);

	/* Over ipc:// (local, trusted by file mode) it is answered. */
	c = connect_or_fail(TIMEOUT_MS);
	rv = vmig_client_roundtrip(c, big, 3 * MAX_MSG, &out, &outlen, err,
	    sizeof(err));
	cr_assert_eq(rv, 0, "%s", err);
	r = vmig__v1__response__unpack(NULL, outlen, out);
	cr_assert_not_null(r);
	cr_assert_eq(r->status->code, S(RESOURCE_EXHAUSTED), "%s",
	    r->status->message);
	vmig__v1__response__free_unpacked(r, NULL);
	free(out);
	free(big);
	vmig_client_close(c);

	/* Other clients are served. */
	c = connect_or_fail(TIMEOUT_MS);
	req.call_case = VMIG__V1__REQUEST__CALL_GET_VERSION;
	req.get_version = &gv;
	cr_assert_eq(vmig_client_call(c, &req, &r, err, sizeof(err)), 0, "%s",
	    err);
	assert_status(r, S(OK), "");
	vmig_client_free(r);
	vmig_client_close(c);
	daemon_free();
	LEAK_CHECK();
}

/* ---------------------------------------------------------------- deferred */

static void
reply_later(evutil_socket_t fd, short what, void *arg)
{
	rpc_call_reply(arg);
}

static void
abandon_cb(struct rpc_call *call, void *arg)
{
	abandoned++;
}

/*
 * GetVersion: answered 20 ms later from a timer. ListJobs: held for
 * good (until shutdown). Anything else: the real table.
 */
static int
defer_dispatch(struct rpc_call *call, void *arg)
{
	Vmig__V1__GetVersionResponse	*v;
	struct timeval			 tv = { 0, 20000 };

	switch (call->req->call_case) {
	case VMIG__V1__REQUEST__CALL_GET_VERSION:
		call->name = "GetVersion";
		v = rpc_call_set_result(call,
		    VMIG__V1__RESPONSE__RESULT_GET_VERSION);
		v->version = xstrdup("deferred");
		cr_assert_eq(event_base_once(d.base, -1, EV_TIMEOUT,
		    reply_later, call, &tv), 0);
		return (RPC_DEFER);
	case VMIG__V1__REQUEST__CALL_LIST_JOBS:
		call->name = "ListJobs";
		call->abandon = abandon_cb;
		__atomic_add_fetch(&held_calls, 1, __ATOMIC_SEQ_CST);
		return (RPC_DEFER);
	default:
		return (api_dispatch(call, arg));
	}
}

#define NCLIENTS	6

static struct rpc_stats	 loop_st;
static int		 loop_st_ready;

static void
stats_on_loop(void *arg)
{
	rpc_get_stats(d.rpc, &loop_st);
	__atomic_store_n(&loop_st_ready, 1, __ATOMIC_SEQ_CST);
}

/* The server's counters, read on the loop thread that owns them. */
static void
server_stats(struct rpc_stats *st)
{
	int	i;

	__atomic_store_n(&loop_st_ready, 0, __ATOMIC_SEQ_CST);
	wake_post(d.wake, stats_on_loop, NULL);
	for (i = 0; !__atomic_load_n(&loop_st_ready, __ATOMIC_SEQ_CST); i++) {
		cr_assert_lt(i, 60000, "the loop does not run");
		nng_msleep(1);
	}
	*st = loop_st;
}

struct client_job {
	nng_thread		*t;
	Vmig__V1__Request	 req;
	Vmig__V1__GetVersionRequest gv;
	Vmig__V1__ListJobsRequest lj;
	Vmig__V1__Response	*r;
	int			 rv;
	char			 err[256];
};

static void
client_run(void *arg)
{
	struct client_job	*j = arg;
	struct vmig_client	*c;

	if ((c = vmig_client_open(url, TIMEOUT_MS, j->err,
	    sizeof(j->err))) == NULL) {
		j->rv = -errno;
		return;
	}
	j->rv = vmig_client_call(c, &j->req, &j->r, j->err, sizeof(j->err));
	vmig_client_close(c);
}

Test(rpc, deferred_replies_beyond_the_workers)
{
	struct client_job	 jobs[NCLIENTS];
	struct rpc_stats	 st;
	int			 i;

	/* Two workers, six calls each held 20 ms: spare contexts serve. */
	daemon_start(defer_dispatch, 2);
	memset(jobs, 0, sizeof(jobs));
	for (i = 0; i < NCLIENTS; i++) {
		vmig__v1__request__init(&jobs[i].req);
		vmig__v1__get_version_request__init(&jobs[i].gv);
		jobs[i].req.call_case = VMIG__V1__REQUEST__CALL_GET_VERSION;
		jobs[i].req.get_version = &jobs[i].gv;
		cr_assert_eq(nng_thread_create(&jobs[i].t, client_run,
		    &jobs[i]), 0);
	}
	for (i = 0; i < NCLIENTS; i++) {
		nng_thread_destroy(jobs[i].t);
		cr_assert_eq(jobs[i].rv, 0, "client %d: %s", i, jobs[i].err);
		assert_status(jobs[i].r, S(OK), "");
		cr_assert_str_eq(jobs[i].r->get_version->version, "deferred");
		vmig_client_free(jobs[i].r);
	}
	/* Spares are closed once their reply is out (soon, not at once). */
	for (i = 0;; i++) {
		server_stats(&st);
		if (st.contexts == 2)
			break;
		cr_assert_lt(i, 60000, "%u contexts stay open", st.contexts);
		nng_msleep(1);
	}
	cr_assert_eq(st.requests, NCLIENTS);
	cr_assert_eq(st.open_calls, 0);
	daemon_free();
	LEAK_CHECK();
}

Test(rpc, open_calls_answered_unavailable_at_shutdown)
{
	struct client_job	j;
	int			i;

	daemon_start(defer_dispatch, 2);
	memset(&j, 0, sizeof(j));
	vmig__v1__request__init(&j.req);
	vmig__v1__list_jobs_request__init(&j.lj);
	j.req.call_case = VMIG__V1__REQUEST__CALL_LIST_JOBS;
	j.req.list_jobs = &j.lj;
	cr_assert_eq(nng_thread_create(&j.t, client_run, &j), 0);
	/* Wait (without a deadline that could flake) for the call to land. */
	for (i = 0; __atomic_load_n(&held_calls, __ATOMIC_SEQ_CST) == 0; i++) {
		cr_assert_lt(i, 60000, "the call never reached the daemon");
		nng_msleep(1);
	}
	daemon_stop_loop();
	rpc_close(d.rpc);
	d.rpc = NULL;
	nng_thread_destroy(j.t);
	cr_assert_eq(abandoned, 1);
	cr_assert_eq(j.rv, 0, "%s", j.err);
	assert_status(j.r, S(UNAVAILABLE), "ListJobs: vmigd is shutting down");
	vmig_client_free(j.r);
	daemon_free();
	LEAK_CHECK();
}
