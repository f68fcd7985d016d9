/*
 * test_config.c: the configuration file: defaults, every key, every kind of
 * bad value (each error names the file:line and the key), a missing or
 * unreadable file, the printed config reading back the same.
 */
#include "config.h"

#include <sys/stat.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <criterion/criterion.h>

#include "conf.h"
#include "log.h"
#include "util.h"
#include "leakcheck.h"

static char	tmpdir[64];

static void
setup(void)
{
	snprintf(tmpdir, sizeof(tmpdir), "/tmp/vmig-test-config.XXXXXX");
	cr_assert_not_null(mkdtemp(tmpdir));
	log_init(LOG_LEVEL_ERROR, "test");
}

static void
teardown(void)
{
	char	cmd[128];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
	(void)system(cmd);
}

/* Write text to tmpdir/name; return the path (static buffer). */
static const char *
write_file(const char *name, const char *text)
{
	static char	 path[128];
	FILE		*f;

	snprintf(path, sizeof(path), "%s/%s", tmpdir, name);
	cr_assert_not_null(f = fopen(path, "w"));
	fputs(text, f);
	fclose(f);
	return (path);
}

TestSuite(config, .init = setup, .fini = teardown);

Test(config, defaults)
{
	struct config	*c = config_new();

	cr_assert_str_eq(c->rpc_url, "ipc:///run/vmigd/vmigd.sock");
	cr_assert_str_eq(c->rpc_tcp_url, "");
	cr_assert_str_eq(c->events_url, "ipc:///run/vmigd/events.sock");
	cr_assert_str_eq(c->stream_bind, "tcp://127.0.0.1");
	cr_assert_eq(c->log_level, LOG_LEVEL_INFO);
	cr_assert_eq(c->max_message_bytes, 16u << 20);
	cr_assert_eq(c->rpc_workers, 16);
	cr_assert_eq(c->max_outgoing, 2);
	cr_assert_eq(c->max_incoming, 4);
	cr_assert_eq(c->max_per_pf, 4);
	cr_assert_eq(c->bandwidth, 0);
	cr_assert_str_eq(c->metrics_listen, "");
	cr_assert_eq(c->npfs, 0);
	cr_assert_null(c->path);
	config_free(c);
	LEAK_CHECK();
}

Test(config, every_key)
{
	struct config		*c = config_new();
	const struct config_pf	*pf;
	char			 err[512];
	const char		*path;
	int			 rv;

	path = write_file("good.conf",
	    "; a comment\n"
	    "# another\n"
	    "[daemon]\n"
	    "rpc_url = ipc:///tmp/x/vmigd.sock     ; socket file mode 0660\n"
	    "rpc_tcp_url = tcp://127.0.0.1:0\n"
	    "events_url =\n"
	    "stream_bind = tls+tcp://10.0.0.1\n"
	    "plugin_dir = /opt/vmigd/plugins\n"
	    "log_level = debug\n"
	    "max_message_bytes = 1M\n"
	    "rpc_workers = 3\n"
	    "status_interval = 2s\n"
	    "metrics_listen = [::1]:9470\n"
	    "state_dir = /srv/vmigd\n"
	    "history_size = 0\n"
	    "[security]\n"
	    "rpc_group = kvm\n"
	    "rpc_read_group = 4242\n"
	    "rpc_socket_mode = 0640\n"
	    "rpc_insecure_tcp = yes\n"
	    "tls_ca_file = /etc/vmigd/ca.pem\n"
	    "tls_cert_file = /etc/vmigd/host.pem\n"
	    "tls_key_file = /etc/vmigd/host.key\n"
	    "rpc_client_ca_file = /etc/vmigd/clients.pem\n"
	    "stream_allow = 10.0.0.0/8, .rack7.example\n"
	    "stream_require_tls = yes\n"
	    "stream_peer_name = host\n"
	    "[limits]\n"
	    "max_outgoing = 5\n"
	    "max_incoming = 6\n"
	    "max_per_pf = 7\n"
	    "bandwidth = 1.5G\n"
	    "[pf.sim0]\n"
	    "backend = virtio-admin\n"
	    "spec = sim:/run/vmigd/sim0.sock\n"
	    "[pf.sim1]\n"
	    "spec = sim:/run/vmigd/sim1.sock,timeout=5000\n"
	    "backend = virtio-admin\n");
	rv = config_load(c, path, 1, err, sizeof(err));
	cr_assert_eq(rv, 0, "%s", err);
	cr_assert_eq(config_check(c, err, sizeof(err)), 0, "%s", err);
	cr_assert_str_eq(c->path, path);
	cr_assert_str_eq(c->rpc_url, "ipc:///tmp/x/vmigd.sock");
	cr_assert_str_eq(c->rpc_tcp_url, "tcp://127.0.0.1:0");
	cr_assert_str_eq(c->events_url, "");
	cr_assert_str_eq(c->stream_bind, "tls+tcp://10.0.0.1");
	cr_assert_str_eq(c->plugin_dir, "/opt/vmigd/plugins");
	cr_assert_eq(c->log_level, LOG_LEVEL_DEBUG);
	cr_assert_eq(c->max_message_bytes, 1u << 20);
	cr_assert_eq(c->rpc_workers, 3);
	cr_assert_eq(c->status_interval_ms, 2000);
	cr_assert_str_eq(c->metrics_listen, "[::1]:9470");
	cr_assert_str_eq(c->state_dir, "/srv/vmigd");
	cr_assert_eq(c->history_size, 0);
	cr_assert_str_eq(c->rpc_group, "kvm");
	cr_assert_str_eq(c->rpc_read_group, "4242");
	cr_assert_eq(c->rpc_socket_mode, 0640);
	cr_assert_eq(c->rpc_insecure_tcp, 1);
	cr_assert_str_eq(c->tls_ca_file, "/etc/vmigd/ca.pem");
	cr_assert_str_eq(c->tls_cert_file, "/etc/vmigd/host.pem");
	cr_assert_str_eq(c->tls_key_file, "/etc/vmigd/host.key");
	cr_assert_str_eq(c->rpc_client_ca_file, "/etc/vmigd/clients.pem");
	cr_assert_str_eq(c->stream_allow, "10.0.0.0/8, .rack7.example");
	cr_assert_eq(c->stream_require_tls, 1);
	cr_assert_str_eq(c->stream_peer_name, "host");
	cr_assert_eq(c->max_outgoing, 5);
	cr_assert_eq(c->max_incoming, 6);
	cr_assert_eq(c->max_per_pf, 7);
	cr_assert_eq(c->bandwidth, 3ull << 29);
	cr_assert_eq(c->npfs, 2);
	cr_assert_not_null(pf = config_find_pf(c, "sim0"));
	cr_assert_str_eq(pf->backend, "virtio-admin");
	cr_assert_str_eq(pf->spec, "sim:/run/vmigd/sim0.sock");
	cr_assert(strstr(pf->where, "good.conf:33") != NULL, "%s", pf->where);
	cr_assert_not_null(pf = config_find_pf(c, "sim1"));
	cr_assert_str_eq(pf->spec, "sim:/run/vmigd/sim1.sock,timeout=5000");
	cr_assert_null(config_find_pf(c, "sim2"));
	config_free(c);
	LEAK_CHECK();
}

/* One bad file: the error must carry the line and these words. */
struct bad_case {
	const char	*what;
	const char	*text;
	const char	*line;		/* ":N:" expected in the error */
	const char	*words;		/* expected in the error too */
};

Test(config, bad_values)
{
	static const struct bad_case cases[] = {
		{ "unknown key", "[daemon]\nrpc_ur = ipc:///x\n", ":2:",
		  "[daemon] rpc_ur: unknown key" },
		{ "unknown limits key", "[limits]\nmax_jobs = 3\n", ":2:",
		  "[limits] max_jobs: unknown key" },
		{ "unknown section", "[daemon]\nlog_level = info\n[deamon]\n",
		  ":3:", "[deamon]: unknown section" },
		{ "key outside a section", "log_level = info\n", ":1:",
		  "log_level: key outside a section" },
		{ "syntax error", "[daemon]\nlog_level info\n", ":2:",
		  "syntax error" },
		{ "rpc_url scheme", "[daemon]\nrpc_url = http://x\n", ":2:",
		  "[daemon] rpc_url = http://x: not a URL this key takes" },
		{ "rpc_url empty", "[daemon]\nrpc_url =\n", ":2:",
		  "rpc_url = : must not be empty" },
		{ "ipc without path", "[daemon]\nrpc_url = ipc://\n", ":2:",
		  "no socket path after ipc://" },
		{ "ipc path too long", "[daemon]\nrpc_url = ipc:///"
		  "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
		  "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa.sock"
		  "\n", ":2:", "longer than the 107 a UNIX socket allows" },
		{ "tcp without port", "[daemon]\nrpc_tcp_url = tcp://127.0.0.1\n",
		  ":2:", "no port" },
		{ "tcp bad port", "[daemon]\nrpc_tcp_url = tcp://127.0.0.1:99999\n",
		  ":2:", "port '99999' is not a number 0-65535" },
		{ "events tls", "[daemon]\nevents_url = tls+tcp://1.2.3.4:5\n",
		  ":2:", "events_url = tls+tcp://1.2.3.4:5: not a URL" },
		{ "compression codec", "[daemon]\ncompression = gzip\n", ":2:",
		  "compression = gzip: not auto, off, lz4 or zstd" },
		{ "unknown security key", "[security]\nrpc_grp = x\n", ":2:",
		  "[security] rpc_grp: unknown key" },
		{ "bool", "[security]\nrpc_insecure_tcp = maybe\n", ":2:",
		  "rpc_insecure_tcp = maybe: not yes or no" },
		{ "mode not octal", "[security]\nrpc_socket_mode = 0668\n",
		  ":2:", "rpc_socket_mode = 0668: not auto or an octal mode" },
		{ "mode too wide", "[security]\nrpc_socket_mode = 4777\n",
		  ":2:", "not auto or an octal mode from 1 to 0777" },
		{ "mode zero", "[security]\nrpc_socket_mode = 0\n", ":2:",
		  "not auto or an octal mode" },
		{ "history too long", "[daemon]\nhistory_size = 100001\n",
		  ":2:", "history_size = 100001: must be between 0 and 100000" },
		{ "state_dir empty", "[daemon]\nstate_dir =\n", ":2:",
		  "state_dir = : must not be empty" },
		{ "stream_bind ipc", "[daemon]\nstream_bind = ipc:///x\n", ":2:",
		  "stream_bind = ipc:///x: not a URL" },
		{ "metrics without port", "[daemon]\nmetrics_listen = 127.0.0.1\n",
		  ":2:", "metrics_listen = 127.0.0.1: no port" },
		{ "metrics without host", "[daemon]\nmetrics_listen = :9470\n",
		  ":2:", "metrics_listen = :9470: no host" },
		{ "metrics as a URL", "[daemon]\nmetrics_listen = "
		  "http://127.0.0.1:9470\n", ":2:", "not host:port (no scheme" },
		{ "plugin_dir empty", "[daemon]\nplugin_dir =\n", ":2:",
		  "plugin_dir = : must not be empty" },
		{ "log level", "[daemon]\n\nlog_level = loud\n", ":3:",
		  "log_level = loud: not a log level" },
		{ "size junk", "[daemon]\nmax_message_bytes = lots\n", ":2:",
		  "max_message_bytes = lots: not a size" },
		{ "size too small", "[daemon]\nmax_message_bytes = 1K\n", ":2:",
		  "must be between 4096 and 1073741824" },
		{ "size negative", "[limits]\nbandwidth = -5\n", ":2:",
		  "bandwidth = -5: not a size" },
		{ "workers zero", "[daemon]\nrpc_workers = 0\n", ":2:",
		  "rpc_workers = 0: must be between 1 and 256" },
		{ "workers word", "[daemon]\nrpc_workers = many\n", ":2:",
		  "rpc_workers = many: not a whole number" },
		{ "workers negative", "[daemon]\nrpc_workers = -1\n", ":2:",
		  "not a whole number" },
		{ "duration", "[daemon]\nstatus_interval = soon\n", ":2:",
		  "status_interval = soon: not a duration" },
		{ "duration too short", "[daemon]\nstatus_interval = 10ms\n",
		  ":2:", "must be between 1000 and 86400000" },
		{ "limit zero", "[limits]\nmax_outgoing = 0\n", ":2:",
		  "[limits] max_outgoing = 0: must be between 1 and 1024" },
		{ "limit huge", "[limits]\nmax_per_pf = 99999999999999999999\n",
		  ":2:", "max_per_pf = 99999999999999999999: not a whole number" },
		{ "pf name", "[pf.a/b]\nbackend = x\n", ":1:",
		  "[pf.a/b]: a PF name is 1 to 31" },
		{ "pf empty name", "[pf.]\nbackend = x\n", ":1:",
		  "a PF name is 1 to 31" },
		{ "pf unknown key", "[pf.sim0]\nbackend = x\nspecs = y\n", ":3:",
		  "[pf.sim0] specs: unknown key (a PF takes backend and spec)" },
		{ "pf empty backend", "[pf.sim0]\nbackend =\n", ":2:",
		  "[pf.sim0] backend: must not be empty" },
		{ "pf bad backend", "[pf.sim0]\nbackend = a b\n", ":2:",
		  "backend = a b: not a backend name" },
		{ "pf twice", "[pf.a]\nbackend = x\nspec = y\n[pf.a]\n", ":4:",
		  "[pf.a]: duplicate section (first at " },
		{ "key twice", "[daemon]\nrpc_workers = 2\n\nrpc_workers = 3\n",
		  ":4:", "[daemon] rpc_workers: set twice (first at line 2)" },
		{ "pf key twice", "[pf.a]\nspec = y\nspec = z\n", ":3:",
		  "[pf.a] spec: set twice" },
	};
	const struct bad_case	*bc;
	struct config		*c;
	char			 err[512], where[160];
	const char		*path;
	size_t			 i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		bc = &cases[i];
		c = config_new();
		path = write_file("bad.conf", bc->text);
		cr_assert_eq(config_load(c, path, 1, err, sizeof(err)), -EINVAL,
		    "%s: accepted", bc->what);
		snprintf(where, sizeof(where), "%s%s", path, bc->line);
		cr_assert(strstr(err, where) != NULL, "%s: '%s' lacks '%s'",
		    bc->what, err, where);
		cr_assert(strstr(err, bc->words) != NULL, "%s: '%s' lacks '%s'",
		    bc->what, err, bc->words);
		config_free(c);
	}
	LEAK_CHECK();
}

/*
 * A control listener over TCP: TLS with its files, or plain only when
 * asked for by name; the refusal says what to set.
 */
Test(config, rpc_over_tcp_needs_tls_or_insecure)
{
	static const struct {
		const char	*text;
		int		 ok;
		const char	*words;
	} cases[] = {
		{ "[daemon]\nrpc_tcp_url = tcp://127.0.0.1:7480\n", 0,
		  "rpc_tcp_url = tcp://127.0.0.1:7480: a plain TCP control "
		  "listener lets anyone" },
		{ "[daemon]\nrpc_url = tcp4://0.0.0.0:7480\n", 0,
		  "rpc_insecure_tcp = yes" },
		{ "[daemon]\nrpc_tcp_url = tcp://127.0.0.1:7480\n"
		  "[security]\nrpc_insecure_tcp = yes\n", 1, NULL },
		{ "[daemon]\nrpc_tcp_url = tls+tcp://127.0.0.1:7480\n", 0,
		  "needs [security] tls_cert_file, tls_key_file and a CA" },
		{ "[daemon]\nrpc_tcp_url = tls+tcp://127.0.0.1:7480\n"
		  "[security]\ntls_cert_file = c\ntls_key_file = k\n", 0,
		  "a CA for client certificates" },
		{ "[daemon]\nrpc_tcp_url = tls+tcp://127.0.0.1:7480\n"
		  "[security]\ntls_cert_file = c\ntls_key_file = k\n"
		  "rpc_client_ca_file = ca\n", 1, NULL },
		{ "[daemon]\nrpc_url = tls+tcp://[::1]:7480\n"
		  "[security]\ntls_cert_file = c\ntls_key_file = k\n"
		  "tls_ca_file = ca\n", 1, NULL },
		{ "[daemon]\nstream_bind = tls+tcp://10.0.0.1\n"
		  "[security]\ntls_cert_file = c\ntls_key_file = k\n", 0,
		  "stream_bind = tls+tcp://10.0.0.1: needs [security] "
		  "tls_cert_file, tls_key_file and tls_ca_file" },
		{ "[daemon]\nstream_bind = tls+tcp://10.0.0.1\n"
		  "[security]\ntls_ca_file = ca\n", 0, "stream_bind" },
		{ "[daemon]\nstream_bind = tls+tcp://10.0.0.1\n"
		  "[security]\ntls_cert_file = c\ntls_key_file = k\n"
		  "tls_ca_file = ca\n", 1, NULL },
		{ "[security]\nstream_allow = 10.0.0.0/33\n", 0,
		  "[security] stream_allow entry 10.0.0.0/33: the prefix length" },
	};
	struct config	*c;
	char		 err[512];
	const char	*path;
	size_t		 i;

	for (i = 0; i < nitems(cases); i++) {
		c = config_new();
		path = write_file("tcp.conf", cases[i].text);
		cr_assert_eq(config_load(c, path, 1, err, sizeof(err)), 0,
		    "%zu: %s", i, err);
		if (cases[i].ok)
			cr_assert_eq(config_check(c, err, sizeof(err)), 0,
			    "%zu: %s", i, err);
		else {
			cr_assert_eq(config_check(c, err, sizeof(err)), -EINVAL,
			    "%zu: accepted", i);
			cr_assert(strstr(err, cases[i].words) != NULL,
			    "%zu: '%s' lacks '%s'", i, err, cases[i].words);
		}
		config_free(c);
	}
	LEAK_CHECK();
}

Test(config, long_line)
{
	struct config	*c = config_new();
	char		 text[600], err[512];
	const char	*path;

	memset(text, 'x', sizeof(text));
	memcpy(text, "[daemon]\nplugin_dir = ", 22);
	text[sizeof(text) - 2] = '\n';
	text[sizeof(text) - 1] = '\0';
	path = write_file("long.conf", text);
	cr_assert_eq(config_load(c, path, 1, err, sizeof(err)), -EINVAL);
	cr_assert(strstr(err, ":2: line longer than") != NULL, "%s", err);
	config_free(c);
	LEAK_CHECK();
}

Test(config, incomplete_pf)
{
	struct config	*c = config_new();
	char		 err[512];
	const char	*path;

	/* An empty section, then one without spec: caught as a whole. */
	path = write_file("pf.conf", "[pf.a]\n[daemon]\nlog_level = warn\n");
	cr_assert_eq(config_load(c, path, 1, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(config_check(c, err, sizeof(err)), -EINVAL);
	cr_assert(strstr(err, "pf.conf:1: [pf.a]: backend is not set") != NULL,
	    "%s", err);
	config_free(c);

	c = config_new();
	path = write_file("pf2.conf", "\n[pf.b]\nbackend = x\n");
	cr_assert_eq(config_load(c, path, 1, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(config_check(c, err, sizeof(err)), -EINVAL);
	cr_assert(strstr(err, "pf2.conf:2: [pf.b]: spec is not set") != NULL,
	    "%s", err);
	config_free(c);
	LEAK_CHECK();
}

Test(config, missing_file)
{
	struct config	*c = config_new();
	char		 err[512], path[128];

	snprintf(path, sizeof(path), "%s/nope.conf", tmpdir);
	/* The default file may be missing... */
	cr_assert_eq(config_load(c, path, 0, err, sizeof(err)), 0);
	cr_assert_null(c->path);
	/* ...a file asked for by name may not. */
	cr_assert_eq(config_load(c, path, 1, err, sizeof(err)), -ENOENT);
	cr_assert(strstr(err, "nope.conf: cannot read it: No such file") !=
	    NULL, "%s", err);
	config_free(c);
	LEAK_CHECK();
}

Test(config, unreadable_file)
{
	struct config	*c = config_new();
	char		 err[512];

	/* A directory opens but does not read (root reads any mode). */
	cr_assert_neq(config_load(c, tmpdir, 1, err, sizeof(err)), 0);
	cr_assert(strstr(err, tmpdir) != NULL, "%s", err);
	config_free(c);
	LEAK_CHECK();
}

Test(config, print_reads_back)
{
	struct config	*c = config_new(), *d = config_new();
	char		*one = NULL, *two = NULL, err[512];
	size_t		 n1, n2;
	const char	*path;
	FILE		*f;

	path = write_file("in.conf",
	    "[daemon]\nrpc_tcp_url = tcp://[::1]:7480\nlog_level = warn\n"
	    "status_interval = 1m\n[limits]\nbandwidth = 100M\n"
	    "[security]\nrpc_socket_mode = 0600\nrpc_insecure_tcp = yes\n"
	    "rpc_group = wheel\n"
	    "[pf.x]\nbackend = b\nspec = s:1\n");
	cr_assert_eq(config_load(c, path, 1, err, sizeof(err)), 0, "%s", err);
	cr_assert_not_null(f = open_memstream(&one, &n1));
	config_print(f, c);
	fclose(f);
	path = write_file("out.conf", one);
	cr_assert_eq(config_load(d, path, 1, err, sizeof(err)), 0, "%s: %s",
	    err, one);
	free(d->path);
	d->path = strdup(c->path);
	cr_assert_not_null(f = open_memstream(&two, &n2));
	config_print(f, d);
	fclose(f);
	cr_assert_str_eq(one, two);
	cr_assert_eq(d->status_interval_ms, 60000);
	cr_assert_eq(d->bandwidth, 100u << 20);
	cr_assert_eq(d->rpc_socket_mode, 0600);
	cr_assert_eq(d->rpc_insecure_tcp, 1);
	free(one);
	free(two);
	config_free(c);
	config_free(d);
	LEAK_CHECK();
}

Test(config, reload_keeps_static_keys)
{
	struct config	*cur = config_new(), *next = config_new();
	char		 err[256];

	cr_assert_eq(config_set(next, "daemon", "rpc_url", "ipc:///tmp/other",
	    "test", err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(config_set(next, "daemon", "log_level", "debug", "test",
	    err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(config_set(next, "limits", "max_outgoing", "9", "test",
	    err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(config_keep_static(next, cur), 1);
	cr_assert_str_eq(next->rpc_url, cur->rpc_url);
	cr_assert_eq(next->log_level, LOG_LEVEL_DEBUG);
	cr_assert_eq(next->max_outgoing, 9);
	config_free(cur);
	config_free(next);
	LEAK_CHECK();
}

Test(config, pf_argument)
{
	struct config		*c = config_new();
	const struct config_pf	*pf;
	char			 err[256];

	cr_assert_eq(config_set_pf(c, "sim0=virtio-admin:sim:/run/s.sock",
	    "--pf", err, sizeof(err)), 0, "%s", err);
	cr_assert_not_null(pf = config_find_pf(c, "sim0"));
	cr_assert_str_eq(pf->backend, "virtio-admin");
	cr_assert_str_eq(pf->spec, "sim:/run/s.sock");
	/* The same name again replaces it. */
	cr_assert_eq(config_set_pf(c, "sim0=other:x", "--pf", err,
	    sizeof(err)), 0, "%s", err);
	cr_assert_eq(c->npfs, 1);
	cr_assert_str_eq(config_find_pf(c, "sim0")->backend, "other");

	cr_assert_eq(config_set_pf(c, "sim1", "--pf", err, sizeof(err)),
	    -EINVAL);
	cr_assert(strstr(err, "expected NAME=BACKEND:SPEC") != NULL, "%s", err);
	cr_assert_eq(config_set_pf(c, "sim1=abc", "--pf", err, sizeof(err)),
	    -EINVAL);
	cr_assert_eq(config_set_pf(c, "=b:c", "--pf", err, sizeof(err)),
	    -EINVAL);
	cr_assert(strstr(err, "a PF name") != NULL, "%s", err);
	cr_assert_eq(config_set_pf(c, "a=:c", "--pf", err, sizeof(err)),
	    -EINVAL);
	cr_assert(strstr(err, "backend: must not be empty") != NULL, "%s", err);
	cr_assert_eq(config_set_pf(c, "a=b:", "--pf", err, sizeof(err)),
	    -EINVAL);
	cr_assert(strstr(err, "spec: must not be empty") != NULL, "%s", err);
	cr_assert_eq(c->npfs, 1);
	config_free(c);
	LEAK_CHECK();
}

/* Make tmpdir/rel (a directory, or a file if it ends in "!"). */
static void
make_path(const char *rel)
{
	char	path[256], cmd[320];
	size_t	n;

	snprintf(path, sizeof(path), "%s/%s", tmpdir, rel);
	n = strlen(path);
	if (path[n - 1] == '!') {
		path[n - 1] = '\0';
		snprintf(cmd, sizeof(cmd), "mkdir -p \"$(dirname '%s')\" && "
		    "touch '%s'", path, path);
	} else
		snprintf(cmd, sizeof(cmd), "mkdir -p '%s'", path);
	cr_assert_eq(system(cmd), 0, "%s", cmd);
}

Test(config, build_tree_plugin_dir)
{
	char	exe[256], want[256], got[256];

	snprintf(exe, sizeof(exe), "%s/daemon/vmigd", tmpdir);
	snprintf(want, sizeof(want), "%s/plugins/.libs", tmpdir);
	make_path("daemon/vmigd!");
	/* not a configured tree yet, then no plugins yet */
	cr_expect_eq(config_build_plugin_dir(exe, got, sizeof(got)), -ENOENT);
	make_path("config.status!");
	cr_expect_eq(config_build_plugin_dir(exe, got, sizeof(got)), -ENOENT);
	make_path("plugins/.libs");
	cr_assert_eq(config_build_plugin_dir(exe, got, sizeof(got)), 0);
	cr_expect_str_eq(got, want);
	/* libtool's real program beside its wrapper */
	snprintf(exe, sizeof(exe), "%s/daemon/.libs/lt-vmigd", tmpdir);
	memset(got, 0, sizeof(got));
	cr_assert_eq(config_build_plugin_dir(exe, got, sizeof(got)), 0);
	cr_expect_str_eq(got, want);
	/* an installed vmigd: nothing of the kind beside it */
	cr_expect_eq(config_build_plugin_dir("/usr/sbin/vmigd", got,
	    sizeof(got)), -ENOENT);
	cr_expect_eq(config_build_plugin_dir("vmigd", got, sizeof(got)),
	    -ENOENT);
	cr_expect_eq(config_build_plugin_dir(exe, got, 8), -ENAMETOOLONG);
}
