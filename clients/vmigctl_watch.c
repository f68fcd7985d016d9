/*
 * vmigctl_watch.c: print the daemon's events as they come (WatchEvents
 * gives the PUB URL; we subscribe to everything) until interrupted, or
 * until --count events.
 */
#include "config.h"

#include <getopt.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <nng/nng.h>
#include <nng/protocol/pubsub0/sub.h>

#include "fmt.h"
#include "json.h"
#include "vmigctl.h"

static int	vmigctl_watch(struct vmigctl *, const struct vmigctl_cmd *,
		    int, char **);

static const struct option vmigctl_watch_opts[] = {
	{ "count", required_argument, NULL, 'n' },
	{ NULL, 0, NULL, 0 },
};

const struct vmigctl_cmd vmigctl_watch_cmd = {
	"watch", "[--count N]", "print events until interrupted (or N of "
	"them)", vmigctl_watch_opts, vmigctl_watch
};

static const struct vmigctl_num vmigctl_count_num = {
	"--count", NULL, 1, UINT32_MAX, 0
};

static volatile sig_atomic_t vmigctl_stop;

static void
vmigctl_watch_signal(int sig)
{
	vmigctl_stop = 1;
}

/*
 * One line per event: when, which job and device, then what happened. A
 * decision's message is its reason (said once); a progress event shows
 * its numbers; other kinds have their message.
 */
static void
vmigctl_watch_print(const Vmig__V1__Event *e)
{
	const Vmig__V1__JobStats	*st = e->stats;
	struct tm			 tm;
	time_t				 t = (time_t)(e->unix_ms / 1000);
	char				 a[32], b[32], c[32];
	const char			*sep = "", *msg = e->message;

	localtime_r(&t, &tm);
	printf("%02d:%02d:%02d.%03u #%" PRIu64 " ", tm.tm_hour, tm.tm_min,
	    tm.tm_sec, (unsigned int)(e->unix_ms % 1000), e->seq);
	if (e->job_id != 0)
		printf("job %" PRIu64 " ", e->job_id);
	if (*e->device != '\0')
		printf("%s ", e->device);
	switch (e->kind) {
	case VMIG__V1__EVENT__KIND__KIND_PHASE:
		printf("%s (was %s)", vmigctl_enum(
		    &vmig__v1__job_phase__descriptor, e->phase, "PHASE_", a,
		    sizeof(a)), vmigctl_enum(&vmig__v1__job_phase__descriptor,
		    e->previous, "PHASE_", b, sizeof(b)));
		sep = ": ";
		break;
	case VMIG__V1__EVENT__KIND__KIND_DECISION:
		if (e->decision != NULL) {
			printf("decision %s: %s", e->decision->action,
			    e->decision->reason);
			if (strcmp(msg, e->decision->reason) == 0)
				msg = "";	/* said already */
			sep = "; ";
		}
		break;
	case VMIG__V1__EVENT__KIND__KIND_PROGRESS:
		printf("progress %s", vmigctl_enum(
		    &vmig__v1__job_phase__descriptor, e->phase, "PHASE_", a,
		    sizeof(a)));
		if (st != NULL)
			printf(": iteration %" PRIu64 ", sent %s, remaining "
			    "%s, dirty %s", st->memory_iteration,
			    fmt_bytes(a, sizeof(a), (double)st->bytes_sent),
			    fmt_bytes(b, sizeof(b), (double)st->memory_remaining),
			    fmt_rate(c, sizeof(c),
			    (double)st->device_dirty_rate_bps));
		sep = "; ";
		break;
	default:
		break;
	}
	if (*msg != '\0')
		printf("%s%s", sep, msg);
	printf("\n");
}

static int
vmigctl_watch(struct vmigctl *ctl, const struct vmigctl_cmd *cmd, int argc,
    char **argv)
{
	Vmig__V1__Request		 req = VMIG__V1__REQUEST__INIT;
	Vmig__V1__WatchEventsRequest	 q = VMIG__V1__WATCH_EVENTS_REQUEST__INIT;
	Vmig__V1__Response		*resp;
	Vmig__V1__Event			*e;
	struct sigaction		 sa;
	nng_socket			 sock;
	char				*url, *buf, err[256];
	size_t				 len;
	uint64_t			 count = 0, seen = 0;
	int				 ch, rv;

	while ((ch = vmigctl_getopt(cmd, argc, argv)) != -1) {
		switch (ch) {
		case 'n':
			if (vmigctl_number(&vmigctl_count_num, optarg, &count,
			    err, sizeof(err)) != 0)
				return (vmigctl_usage(cmd, "%s", err));
			break;
		default:
			return (VMIGCTL_EXIT_USAGE);
		}
	}
	if ((rv = vmigctl_nargs(cmd, argc, argv, 0, 0, "")) != VMIGCTL_EXIT_OK)
		return (rv);

	req.call_case = VMIG__V1__REQUEST__CALL_WATCH_EVENTS;
	req.watch_events = &q;
	if ((rv = vmigctl_call(ctl, &req, &resp)) != VMIGCTL_EXIT_OK)
		return (rv);
	if (resp->watch_events == NULL || *resp->watch_events->events_url ==
	    '\0') {
		vmigctl_warnx("vmigd at %s gave no events URL", ctl->url);
		vmig_client_free(resp);
		return (VMIGCTL_EXIT_ERROR);
	}
	url = strdup(resp->watch_events->events_url);
	vmig_client_free(resp);
	if (url == NULL) {
		vmigctl_warnx("out of memory");
		return (VMIGCTL_EXIT_ERROR);
	}

	if ((rv = nng_sub0_open(&sock)) != 0 ||
	    (rv = nng_socket_set(sock, NNG_OPT_SUB_SUBSCRIBE, "", 0)) != 0 ||
	    (rv = nng_socket_set_size(sock, NNG_OPT_RECVMAXSZ,
	    VMIG_CLIENT_MAX_RECV)) != 0 ||
	    (rv = nng_socket_set_ms(sock, NNG_OPT_RECVTIMEO, 200)) != 0) {
		vmigctl_warnx("cannot open an nng SUB socket: %s",
		    nng_strerror(rv));
		free(url);
		return (VMIGCTL_EXIT_ERROR);
	}
	if ((rv = nng_dial(sock, url, NULL, 0)) != 0) {
		vmigctl_warnx("cannot reach vmigd's events at %s: %s", url,
		    nng_strerror(rv));
		nng_close(sock);
		free(url);
		return (VMIGCTL_EXIT_UNREACHABLE);
	}
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = vmigctl_watch_signal;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	/*
	 * Tells scripts (and tests) that events from now on reach us, and
	 * that an interrupt ends the watch cleanly.
	 */
	fprintf(stderr, "vmigctl: watching %s\n", url);
	free(url);

	rv = VMIGCTL_EXIT_OK;
	while (!vmigctl_stop && (count == 0 || seen < count)) {
		if ((ch = nng_recv(sock, &buf, &len, NNG_FLAG_ALLOC)) != 0) {
			if (ch == NNG_ETIMEDOUT)
				continue;
			vmigctl_warnx("events: %s", nng_strerror(ch));
			rv = VMIGCTL_EXIT_UNREACHABLE;
			break;
		}
		e = vmig__v1__event__unpack(NULL, len, (uint8_t *)buf);
		nng_free(buf, len);
		if (e == NULL) {
			vmigctl_warnx("events: a message of %zu bytes does not "
			    "decode as vmig.v1.Event", len);
			continue;
		}
		if (ctl->json)
			json_print_message(stdout, &e->base, -1);
		else
			vmigctl_watch_print(e);
		fflush(stdout);
		vmig__v1__event__free_unpacked(e, NULL);
		seen++;
	}
	nng_close(sock);
	return (rv);
}
