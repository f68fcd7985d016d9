/*
 * rpc_probe: GetJob latency as an orchestrator sees it, from a process of
 * its own. scale.py runs one beside a level of concurrent migrations: a
 * probe thread inside the benchmark's Python process also measures the
 * Python client, but its numbers include waits for the interpreter lock
 * held by the benchmark's own polling, which says nothing about vmigd.
 *
 *   rpc_probe --connect URL --ids ID[,ID...] [--gap-ms MS] [--calls N]
 *	[--raw]
 *   rpc_probe --serve URL [--reply-bytes N]
 *
 * Calls GetJob round-robin over the ids from one connection, pausing
 * --gap-ms between calls (default 10), until --calls calls were made or,
 * without --calls, until standard input reaches end of file (the caller
 * closes the pipe), then prints one JSON object:
 * {"calls": N, "errors": E, "lat_us": [...]}; lat_us holds the calls
 * that were answered OK, in microseconds.
 * Exits 1 when the daemon cannot be reached at all.
 *
 * The floor under the same load: --serve runs a trivial nng REP server in
 * its own process (answers every request with --reply-bytes bytes, default
 * 1024, until standard input closes), and --raw makes the same calls to
 * it as raw round trips of the same packed GetJob request. What vmigd adds
 * to an orchestrator's latency on a busy host is the difference; the rest
 * is the host's scheduling of three processes on too few cores.
 */
#include "config.h"

#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <nng/nng.h>
#include <nng/protocol/reqrep0/rep.h>

#include "vmig/client.h"

#define MAX_IDS		4096
#define SERVE_MAX_MSG	(64 * 1024)

static uint64_t
now_ns(void)
{
	struct timespec	ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ((uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec);
}

static size_t
parse_ids(char *s, uint64_t *ids, size_t max)
{
	char	*tok, *end;
	size_t	 n = 0;

	for (tok = strtok(s, ","); tok != NULL; tok = strtok(NULL, ",")) {
		errno = 0;
		if (n == max)
			return (0);
		ids[n] = strtoull(tok, &end, 10);
		if (errno != 0 || *end != '\0' || end == tok)
			return (0);
		n++;
	}
	return (n);
}

/*
 * Pause gap_ms; false once standard input is closed (time to report).
 * With a call count the input is not watched: it may be /dev/null.
 */
static int
pause_or_eof(int gap_ms, int watch_stdin)
{
	struct pollfd	pfd = { .fd = 0, .events = POLLIN };
	char		buf[64];

	if (!watch_stdin) {
		poll(NULL, 0, gap_ms);
		return (1);
	}
	if (poll(&pfd, 1, gap_ms) <= 0)
		return (1);
	return (read(0, buf, sizeof(buf)) > 0);
}

/* --serve: answer every request with reply_len bytes until stdin closes. */
static int
serve(const char *url, size_t reply_len)
{
	struct pollfd	 pfd = { .fd = 0, .events = POLLIN };
	nng_socket	 sock;
	nng_msg		*m;
	char		 buf[64];
	int		 rv;

	if ((rv = nng_rep0_open(&sock)) != 0 ||
	    (rv = nng_socket_set_size(sock, NNG_OPT_RECVMAXSZ,
	    SERVE_MAX_MSG)) != 0 ||
	    (rv = nng_socket_set_ms(sock, NNG_OPT_RECVTIMEO, 100)) != 0 ||
	    (rv = nng_listen(sock, url, NULL, 0)) != 0) {
		fprintf(stderr, "rpc_probe: %s: %s\n", url, nng_strerror(rv));
		return (1);
	}
	printf("ready\n");
	fflush(stdout);
	for (;;) {
		rv = nng_recvmsg(sock, &m, 0);
		if (rv == 0) {
			if (nng_msg_realloc(m, reply_len) != 0 ||
			    nng_sendmsg(sock, m, 0) != 0)
				nng_msg_free(m);
			continue;
		}
		if (rv != NNG_ETIMEDOUT)
			break;
		if (poll(&pfd, 1, 0) > 0 && read(0, buf, sizeof(buf)) <= 0)
			break;
	}
	nng_close(sock);
	return (0);
}

int
main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "connect", required_argument, NULL, 'c' },
		{ "ids", required_argument, NULL, 'i' },
		{ "gap-ms", required_argument, NULL, 'g' },
		{ "calls", required_argument, NULL, 'n' },
		{ "raw", no_argument, NULL, 'r' },
		{ "serve", required_argument, NULL, 's' },
		{ "reply-bytes", required_argument, NULL, 'b' },
		{ NULL, 0, NULL, 0 }
	};
	Vmig__V1__Request	 req = VMIG__V1__REQUEST__INIT;
	Vmig__V1__GetJobRequest	 q = VMIG__V1__GET_JOB_REQUEST__INIT;
	Vmig__V1__Response	*resp;
	struct vmig_client	*c;
	const char		*url = NULL, *serve_url = NULL;
	char			 err[256];
	uint8_t			 packed[256];
	void			*out;
	size_t			 outlen, reply_len = 1024;
	int			 raw = 0, ok;
	uint64_t		 ids[MAX_IDS], *lat, t0;
	size_t			 nids = 0, calls = 0, nok = 0, cap = 4096, i;
	long			 max_calls = 0, errors = 0;
	int			 ch, gap_ms = 10, rv;

	while ((ch = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		switch (ch) {
		case 'c':
			url = optarg;
			break;
		case 'i':
			nids = parse_ids(optarg, ids, MAX_IDS);
			break;
		case 'g':
			gap_ms = atoi(optarg);
			break;
		case 'n':
			max_calls = atol(optarg);
			break;
		case 'r':
			raw = 1;
			break;
		case 's':
			serve_url = optarg;
			break;
		case 'b':
			reply_len = (size_t)atol(optarg);
			break;
		default:
			goto usage;
		}
	}
	if (serve_url != NULL) {
		if (reply_len == 0 || reply_len > SERVE_MAX_MSG)
			goto usage;
		return (serve(serve_url, reply_len));
	}
	if (url == NULL || nids == 0 || gap_ms < 0 || max_calls < 0)
		goto usage;
	if ((c = vmig_client_open(url, 30000, err, sizeof(err))) == NULL) {
		fprintf(stderr, "rpc_probe: %s\n", err);
		return (1);
	}
	if ((lat = malloc(cap * sizeof(*lat))) == NULL)
		return (1);
	req.call_case = VMIG__V1__REQUEST__CALL_GET_JOB;
	req.get_job = &q;
	for (;;) {
		q.job_id = ids[calls % nids];
		if (nok == cap && (lat = realloc(lat,
		    (cap *= 2) * sizeof(*lat))) == NULL)
			return (1);
		ok = 0;
		if (raw) {
			/* the bytes vmig_client_call() would send */
			req.request_id = calls + 1;
			req.api_version = 1;
			if (vmig__v1__request__get_packed_size(&req) >
			    sizeof(packed))
				return (1);
			outlen = vmig__v1__request__pack(&req, packed);
			t0 = now_ns();
			rv = vmig_client_roundtrip(c, packed, outlen, &out,
			    &outlen, err, sizeof(err));
			if ((ok = rv == 0))
				free(out);
		} else {
			t0 = now_ns();
			rv = vmig_client_call(c, &req, &resp, err,
			    sizeof(err));
			ok = rv == 0 && resp->status != NULL &&
			    resp->status->code ==
			    VMIG__V1__STATUS_CODE__STATUS_OK;
			if (rv == 0)
				vmig_client_free(resp);
		}
		if (ok)
			lat[nok++] = (now_ns() - t0) / 1000;
		else
			errors++;
		calls++;
		if (max_calls != 0 && calls >= (size_t)max_calls)
			break;
		if (!pause_or_eof(gap_ms, max_calls == 0))
			break;
	}
	vmig_client_close(c);
	/* calls that failed left no latency: report the ones that answered */
	printf("{\"calls\": %zu, \"errors\": %ld, \"lat_us\": [", calls, errors);
	for (i = 0; i < nok; i++)
		printf("%s%" PRIu64, i == 0 ? "" : ", ", lat[i]);
	printf("]}\n");
	free(lat);
	return (0);

usage:
	fprintf(stderr, "usage: rpc_probe --connect URL --ids ID[,ID...] "
	    "[--gap-ms MS] [--calls N] [--raw]\n"
	    "       rpc_probe --serve URL [--reply-bytes N]\n");
	return (2);
}
