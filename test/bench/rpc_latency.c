/*
 * rpc_latency: GetVersion round trips through the C client library
 * against a running vmigd, side by side with the floor: raw nng REQ/REP
 * round trips of the same request and reply sizes against a trivial echo
 * REP server in this process, over the same transport.
 *
 *   rpc_latency [--calls N] [--tcp] [--json] [--vmigd PATH]
 *
 * The two are measured in alternating blocks so that machine noise hits
 * both alike; the ratio is what to look at. p50 and p99 in microseconds.
 */
#include "config.h"

#include <sys/stat.h>
#include <sys/wait.h>

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <libgen.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <nng/nng.h>
#include <nng/protocol/reqrep0/rep.h>
#include <nng/protocol/reqrep0/req.h>
#include <nng/supplemental/util/platform.h>

#include "util.h"
#include "vmig/client.h"

#define BLOCKS	10

struct echo {
	nng_socket	 sock;
	nng_thread	*thread;
	size_t		 reply_len;
};

static void
die(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));

static void
die(const char *fmt, ...)
{
	va_list	ap;

	fputs("rpc_latency: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(1);
}

/* The floor: receive, answer with reply_len bytes, with one aio. */
static void
echo_run(void *arg)
{
	struct echo	*e = arg;
	nng_aio		*aio;
	nng_msg		*m;

	if (nng_aio_alloc(&aio, NULL, NULL) != 0)
		return;
	for (;;) {
		nng_recv_aio(e->sock, aio);
		nng_aio_wait(aio);
		if (nng_aio_result(aio) != 0)
			break;
		m = nng_aio_get_msg(aio);
		if (nng_msg_realloc(m, e->reply_len) != 0) {
			nng_msg_free(m);
			break;
		}
		nng_aio_set_msg(aio, m);
		nng_send_aio(e->sock, aio);
		nng_aio_wait(aio);
		if (nng_aio_result(aio) != 0) {
			nng_msg_free(nng_aio_get_msg(aio));
			break;
		}
	}
	nng_aio_free(aio);
}

static int
cmp_u64(const void *a, const void *b)
{
	uint64_t	x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return (x < y ? -1 : x > y);
}

static void
stats(uint64_t *ns, size_t n, double *p50, double *p99, double *mean)
{
	double	sum = 0;
	size_t	i;

	qsort(ns, n, sizeof(*ns), cmp_u64);
	for (i = 0; i < n; i++)
		sum += (double)ns[i];
	*p50 = (double)ns[n / 2] / 1000;
	*p99 = (double)ns[(n * 99) / 100] / 1000;
	*mean = sum / (double)n / 1000;
}

static pid_t
start_vmigd(const char *path, const char *dir, const char *url)
{
	char	plugins[256], logp[256], state[256];
	pid_t	pid;
	int	fd;

	snprintf(plugins, sizeof(plugins), "%s/plugins", dir);
	snprintf(state, sizeof(state), "%s/state", dir);
	snprintf(logp, sizeof(logp), "%s/vmigd.log", dir);
	if (mkdir(plugins, 0755) != 0)
		die("mkdir %s: %s", plugins, strerror(errno));
	if ((pid = fork()) < 0)
		die("fork: %s", strerror(errno));
	if (pid == 0) {
		if ((fd = open(logp, O_WRONLY | O_CREAT | O_TRUNC, 0644)) >= 0) {
			dup2(fd, 1);
			dup2(fd, 2);
			close(fd);
		}
		execl(path, "vmigd", "--foreground", "--config", "/dev/null",
		    "--rpc-url", url, "--events-url", "", "--plugin-dir",
		    plugins, "--state-dir", state, "--log-level", "warn",
		    (char *)NULL);
		_exit(127);
	}
	return (pid);
}

static struct vmig_client *
wait_vmigd(const char *url, pid_t pid)
{
	struct vmig_client	*c;
	char			 err[256];
	int			 i, status;

	/* A liveness bound, not a measurement: 30 s to come up. */
	for (i = 0; i < 3000; i++) {
		if (waitpid(pid, &status, WNOHANG) == pid)
			die("vmigd exited at start-up (status %d)", status);
		if ((c = vmig_client_open(url, 5000, err, sizeof(err))) != NULL)
			return (c);
		nng_msleep(10);
	}
	die("vmigd does not answer on %s: %s", url, err);
}

int
main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "calls", required_argument, NULL, 'n' },
		{ "tcp", no_argument, NULL, 't' },
		{ "json", no_argument, NULL, 'j' },
		{ "vmigd", required_argument, NULL, 'v' },
		{ NULL, 0, NULL, 0 },
	};
	Vmig__V1__Request		 req = VMIG__V1__REQUEST__INIT;
	Vmig__V1__GetVersionRequest	 gv = VMIG__V1__GET_VERSION_REQUEST__INIT;
	Vmig__V1__Response		*resp;
	struct vmig_client		*c;
	struct echo			 echo;
	nng_socket			 ref;
	nng_listener			 l;
	nng_aio				*aio;
	nng_msg				*m;
	uint64_t			*rpc_ns, *ref_ns, t0;
	double				 rp50, rp99, rmean, fp50, fp99, fmean;
	char				 dir[64], url[128], refurl[128], err[256];
	char				 vmigd[1024], exe[1024], *end;
	const char			*b;
	size_t				 calls = 10000, per, i, k, req_len;
	ssize_t				 n;
	pid_t				 pid;
	int				 ch, json = 0, tcp = 0, port, status, rv;

	vmigd[0] = '\0';
	while ((ch = getopt_long(argc, argv, "n:tjv:", opts, NULL)) != -1) {
		switch (ch) {
		case 'n':
			calls = strtoul(optarg, &end, 10);
			if (*end != '\0' || calls < BLOCKS)
				die("--calls %s: at least %d", optarg, BLOCKS);
			break;
		case 't':
			tcp = 1;
			break;
		case 'j':
			json = 1;
			break;
		case 'v':
			snprintf(vmigd, sizeof(vmigd), "%s", optarg);
			break;
		default:
			fprintf(stderr, "usage: rpc_latency [--calls N] [--tcp] "
			    "[--json] [--vmigd PATH]\n");
			return (2);
		}
	}
	if (vmigd[0] == '\0') {
		if ((b = getenv("VMIG_BUILDDIR")) != NULL)
			snprintf(vmigd, sizeof(vmigd), "%s/daemon/vmigd", b);
		else if ((n = readlink("/proc/self/exe", exe,
		    sizeof(exe) - 1)) > 0) {
			exe[n] = '\0';
			snprintf(vmigd, sizeof(vmigd), "%s/../../daemon/vmigd",
			    dirname(exe));
		}
	}
	if (access(vmigd, X_OK) != 0)
		die("%s: not found (make, or --vmigd PATH)", vmigd);
	per = calls / BLOCKS;
	calls = per * BLOCKS;

	snprintf(dir, sizeof(dir), "/tmp/vmig-bench.XXXXXX");
	if (mkdtemp(dir) == NULL)
		die("mkdtemp: %s", strerror(errno));
	if (tcp) {
		/* vmigd's port: ask the kernel for a free one first. */
		nng_socket	s;

		if (nng_rep0_open(&s) != 0 ||
		    nng_listener_create(&l, s, "tcp://127.0.0.1:0") != 0 ||
		    nng_listener_start(l, 0) != 0 ||
		    nng_listener_get_int(l, NNG_OPT_TCP_BOUND_PORT, &port) != 0)
			die("cannot find a free TCP port");
		nng_close(s);
		snprintf(url, sizeof(url), "tcp://127.0.0.1:%d", port);
	} else
		snprintf(url, sizeof(url), "ipc://%s/vmigd.sock", dir);

	pid = start_vmigd(vmigd, dir, url);
	c = wait_vmigd(url, pid);

	/* What we send and get back, to size the reference alike. */
	req.call_case = VMIG__V1__REQUEST__CALL_GET_VERSION;
	req.get_version = &gv;
	if (vmig_client_call(c, &req, &resp, err, sizeof(err)) != 0)
		die("GetVersion: %s", err);
	req_len = vmig__v1__request__get_packed_size(&req);
	echo.reply_len = vmig__v1__response__get_packed_size(resp);
	vmig_client_free(resp);

	/* The reference: same transport, same sizes, same client options. */
	if (tcp)
		snprintf(refurl, sizeof(refurl), "tcp://127.0.0.1:0");
	else
		snprintf(refurl, sizeof(refurl), "ipc://%s/echo.sock", dir);
	if ((rv = nng_rep0_open(&echo.sock)) != 0 ||
	    (rv = nng_listener_create(&l, echo.sock, refurl)) != 0 ||
	    (rv = nng_listener_start(l, 0)) != 0)
		die("echo server on %s: %s", refurl, nng_strerror(rv));
	if (tcp) {
		nng_listener_get_int(l, NNG_OPT_TCP_BOUND_PORT, &port);
		snprintf(refurl, sizeof(refurl), "tcp://127.0.0.1:%d", port);
	}
	if (nng_thread_create(&echo.thread, echo_run, &echo) != 0)
		die("cannot start the echo thread");
	if ((rv = nng_req0_open(&ref)) != 0 ||
	    (rv = nng_socket_set_ms(ref, NNG_OPT_REQ_RESENDTIME,
	    NNG_DURATION_INFINITE)) != 0 ||
	    (rv = nng_socket_set_size(ref, NNG_OPT_RECVMAXSZ,
	    VMIG_CLIENT_MAX_RECV)) != 0 ||
	    (rv = nng_dial(ref, refurl, NULL, 0)) != 0 ||
	    (rv = nng_aio_alloc(&aio, NULL, NULL)) != 0)
		die("reference client: %s", nng_strerror(rv));

	rpc_ns = calloc(calls, sizeof(*rpc_ns));
	ref_ns = calloc(calls, sizeof(*ref_ns));
	if (rpc_ns == NULL || ref_ns == NULL)
		die("out of memory");

	/* Warm both paths up, then alternate blocks. */
	for (k = 0; k <= BLOCKS; k++) {
		for (i = 0; i < per; i++) {
			req.request_id = 0;
			t0 = now_ns();
			if (vmig_client_call(c, &req, &resp, err,
			    sizeof(err)) != 0)
				die("GetVersion: %s", err);
			if (k > 0)
				rpc_ns[(k - 1) * per + i] = now_ns() - t0;
			if (resp->status->code != 0)
				die("GetVersion: %s", resp->status->message);
			vmig_client_free(resp);
		}
		for (i = 0; i < per; i++) {
			t0 = now_ns();
			if (nng_msg_alloc(&m, req_len) != 0)
				die("out of memory");
			memset(nng_msg_body(m), 0, req_len);
			nng_aio_set_msg(aio, m);
			nng_send_aio(ref, aio);
			nng_aio_wait(aio);
			if ((rv = nng_aio_result(aio)) != 0)
				die("reference send: %s", nng_strerror(rv));
			nng_recv_aio(ref, aio);
			nng_aio_wait(aio);
			if ((rv = nng_aio_result(aio)) != 0)
				die("reference recv: %s", nng_strerror(rv));
			m = nng_aio_get_msg(aio);
			if (nng_msg_len(m) != echo.reply_len)
				die("reference: %zu bytes back", nng_msg_len(m));
			nng_msg_free(m);
			if (k > 0)
				ref_ns[(k - 1) * per + i] = now_ns() - t0;
		}
	}

	vmig_client_close(c);
	kill(pid, SIGTERM);
	if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status) ||
	    WEXITSTATUS(status) != 0)
		die("vmigd did not exit cleanly (status %d; log in %s)", status,
		    dir);
	nng_aio_free(aio);
	nng_close(ref);
	nng_close(echo.sock);
	nng_thread_destroy(echo.thread);

	stats(rpc_ns, calls, &rp50, &rp99, &rmean);
	stats(ref_ns, calls, &fp50, &fp99, &fmean);
	if (json)
		printf("{\"calls\": %zu, \"transport\": \"%s\", "
		    "\"request_bytes\": %zu, \"response_bytes\": %zu, "
		    "\"rpc_p50_us\": %.1f, \"rpc_p99_us\": %.1f, "
		    "\"rpc_mean_us\": %.1f, \"ref_p50_us\": %.1f, "
		    "\"ref_p99_us\": %.1f, \"ref_mean_us\": %.1f, "
		    "\"ratio_p50\": %.2f, \"ratio_p99\": %.2f}\n", calls,
		    tcp ? "tcp" : "ipc", req_len, echo.reply_len, rp50, rp99,
		    rmean, fp50, fp99, fmean, rp50 / fp50, rp99 / fp99);
	else {
		printf("rpc_latency: %zu calls each over %s, request %zu bytes, "
		    "reply %zu bytes\n\n", calls, tcp ? "tcp" : "ipc", req_len,
		    echo.reply_len);
		printf("%-34s %10s %10s %10s\n", "", "p50 us", "p99 us",
		    "mean us");
		printf("%-34s %10.1f %10.1f %10.1f\n",
		    "vmigd GetVersion (C client)", rp50, rp99, rmean);
		printf("%-34s %10.1f %10.1f %10.1f\n",
		    "reference: nng REQ/REP echo", fp50, fp99, fmean);
		printf("%-34s %10.2f %10.2f %10.2f\n", "ratio", rp50 / fp50,
		    rp99 / fp99, rmean / fmean);
	}
	free(rpc_ns);
	free(ref_ns);
	snprintf(err, sizeof(err), "rm -rf '%s'", dir);
	(void)system(err);
	return (0);
}
