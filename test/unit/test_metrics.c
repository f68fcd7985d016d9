/*
 * test_metrics.c: the metrics' pure part (why a job ended, as a label)
 * and the HTTP server alone: a page published is what a GET /metrics
 * gets, with the exposition format's content type; other paths and
 * methods are refused. The server runs on its own thread and event base:
 * these requests are answered while no daemon loop runs at all.
 * test/integration/test_metrics.py scrapes a daemon during migrations.
 */
#include "config.h"

#include <sys/socket.h>

#include <netinet/in.h>
#include <arpa/inet.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <criterion/criterion.h>
#include <event2/thread.h>

#include "log.h"
#include "metrics.h"
#include "util.h"
#include "vmig.pb-c.h"
#include "leakcheck.h"

#define P(x)	VMIG__V1__JOB_PHASE__PHASE_##x

static void
setup(void)
{
	log_init(LOG_LEVEL_ERROR, "test");
	cr_assert_eq(evthread_use_pthreads(), 0);
}

TestSuite(metrics, .init = setup, .timeout = 60);

struct reason_case {
	int		 phase;
	const char	*error;
	const char	*class;
};

/* The messages the engine writes today (job.c, job_in.c, job_out.c). */
Test(metrics, reason_classes)
{
	static const struct reason_case cases[] = {
		{ P(COMPLETED), "", "none" },
		{ P(CANCELLED), "cancelled: operator said so", "requested" },
		{ P(CANCELLED), "cancelled: the daemon is shutting down",
		  "shutdown" },
		{ P(FAILED), "completion timeout: not completed within 8 s",
		  "timeout" },
		{ P(FAILED), "no source connected in time", "timeout" },
		{ P(FAILED), "the destination did not confirm the resume in "
		  "time", "timeout" },
		{ P(FAILED), "completion timeout reached and the timeout action "
		  "is abort (predicted 803 ms, target 300 ms)", "policy" },
		{ P(FAILED), "stalled and predicted 2100 ms exceeds the forced "
		  "bound 600 ms: aborting", "policy" },
		{ P(FAILED), "memory digest mismatch: source 0123, destination "
		  "4567", "verify" },
		{ P(FAILED), "destination aborted: no space", "peer" },
		{ P(FAILED), "connection to the destination lost: closed",
		  "peer" },
		{ P(FAILED), "source broke the protocol: page outside the "
		  "regions", "peer" },
		{ P(FAILED), "device sim0/vf1: set mode stopped: Input/output "
		  "error", "device" },
		{ P(FAILED), "no randomness for the token: ENOSYS", "other" },
		{ P(FAILED), NULL, "other" },
	};
	size_t	i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		cr_assert_str_eq(metrics_reason_class(cases[i].phase,
		    cases[i].error), cases[i].class, "'%s'", cases[i].error);
}

/* One HTTP/1.0 exchange with the server at url; the whole answer. */
static char *
http(const char *url, const char *method, const char *path)
{
	struct sockaddr_in	 sin;
	unsigned int		 port;
	char			 req[256], *out = NULL;
	size_t			 len = 0;
	ssize_t			 n;
	int			 fd;

	cr_assert_eq(sscanf(url, "http://127.0.0.1:%u/", &port), 1, "%s", url);
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_port = htons((uint16_t)port);
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	cr_assert_geq(fd = socket(AF_INET, SOCK_STREAM, 0), 0);
	cr_assert_eq(connect(fd, (struct sockaddr *)&sin, sizeof(sin)), 0,
	    "%s", strerror(errno));
	snprintf(req, sizeof(req), "%s %s HTTP/1.0\r\nHost: x\r\n\r\n",
	    method, path);
	cr_assert_eq(write(fd, req, strlen(req)), (ssize_t)strlen(req));
	for (;;) {
		out = xrealloc(out, len + 4097);
		if ((n = read(fd, out + len, 4096)) <= 0)
			break;
		len += (size_t)n;
	}
	out[len] = '\0';
	close(fd);
	return (out);
}

static const char *
body(const char *answer)
{
	const char	*b = strstr(answer, "\r\n\r\n");

	cr_assert_not_null(b, "no end of headers in '%s'", answer);
	return (b + 4);
}

Test(metrics, http_serves_the_last_page)
{
	struct metrics_http	*h;
	const char		*page1 = "# TYPE a counter\na 1\n";
	char			 err[256], *a;

	cr_assert_not_null(h = metrics_http_open("127.0.0.1:0", err,
	    sizeof(err)), "%s", err);
	cr_assert(strncmp(metrics_http_url(h), "http://127.0.0.1:", 17) == 0,
	    "%s", metrics_http_url(h));
	cr_assert(strstr(metrics_http_url(h), ":0/") == NULL,
	    "port 0 not resolved: %s", metrics_http_url(h));

	metrics_http_publish(h, xstrdup(page1), strlen(page1));
	a = http(metrics_http_url(h), "GET", "/metrics");
	cr_assert(strncmp(a, "HTTP/1.1 200", 12) == 0 ||
	    strncmp(a, "HTTP/1.0 200", 12) == 0, "%s", a);
	cr_assert(strstr(a, "Content-Type: text/plain; version=0.0.4; "
	    "charset=utf-8\r\n") != NULL, "%s", a);
	cr_assert_str_eq(body(a), page1);
	free(a);

	metrics_http_publish(h, xstrdup("b 2\n"), 4);
	a = http(metrics_http_url(h), "GET", "/metrics");
	cr_assert_str_eq(body(a), "b 2\n");
	free(a);

	a = http(metrics_http_url(h), "HEAD", "/metrics");
	cr_assert(strstr(a, " 200 ") != NULL, "%s", a);
	cr_assert_str_eq(body(a), "");
	free(a);

	a = http(metrics_http_url(h), "GET", "/nope");
	cr_assert(strstr(a, " 404 ") != NULL, "%s", a);
	free(a);
	a = http(metrics_http_url(h), "POST", "/metrics");
	cr_assert(strstr(a, " 405 ") != NULL, "%s", a);
	cr_assert(strstr(a, "Allow: GET, HEAD\r\n") != NULL, "%s", a);
	free(a);
	a = http(metrics_http_url(h), "GET", "/");
	cr_assert(strstr(body(a), "/metrics") != NULL, "%s", a);
	free(a);

	cr_assert_eq(metrics_http_scrapes(h), 3);
	metrics_http_close(h);
	LEAK_CHECK();
}

Test(metrics, http_refuses_what_it_cannot_listen_on)
{
	struct metrics_http	*h, *h2;
	char			 err[256], addr[64];
	const char		*url;

	cr_assert_null(metrics_http_open("127.0.0.1", err, sizeof(err)));
	cr_assert(strstr(err, "not host:port") != NULL, "%s", err);
	cr_assert_null(metrics_http_open("[::1:80", err, sizeof(err)));

	/* a port in use: named in the error, nothing left behind */
	cr_assert_not_null(h = metrics_http_open("127.0.0.1:0", err,
	    sizeof(err)), "%s", err);
	url = metrics_http_url(h);
	snprintf(addr, sizeof(addr), "%.*s", (int)(strrchr(url, '/') - url -
	    7), url + 7);
	cr_assert_null(h2 = metrics_http_open(addr, err, sizeof(err)));
	cr_assert(strstr(err, "cannot listen") != NULL, "%s", err);
	cr_assert(strstr(err, addr) != NULL, "%s", err);
	metrics_http_close(h);
	LEAK_CHECK();
}
