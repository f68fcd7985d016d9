/*
 * config.c: defaults, the INI file (inih) and the command line, all through
 * one table of keys. Defaults are strings parsed by the same setter as the
 * file, so a default can never be a value the file would refuse, and every
 * key is a long option without a second list to keep in step.
 */
#include "config.h"

#include <sys/queue.h>
#include <sys/stat.h>

#include <ctype.h>
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <ini.h>

#include "compress.h"
#include "conf.h"
#include "log.h"
#include "peerpol.h"
#include "tls.h"
#include "util.h"

enum conf_type {
	CT_STRING,	/* non-empty string */
	CT_RPC_URL,	/* ipc:// or tcp://host:port */
	CT_OPT_URL,	/* same, or "" for none */
	CT_STREAM_URL,	/* tcp://host or tls+tcp://host (port per job) */
	CT_LISTEN,	/* host:port, [v6]:port, or "" for none */
	CT_OPT_STRING,	/* any string, "" for none */
	CT_STRINGS_END,	/* types before this one are strings */
	CT_BOOL,	/* yes/no, int */
	CT_MODE,	/* octal file mode, or "auto" (0), int */
	CT_LEVEL,	/* log level name */
	CT_SIZE,	/* bytes with suffixes, uint64_t */
	CT_UINT,	/* uint32_t */
	CT_DURATION,	/* "10s", "500ms", uint64_t ms */
	CT_COMPRESS,	/* auto, off, lz4, zstd: enum cz_mode, int */
};

#define CK_RELOAD	0x1	/* takes effect on SIGHUP */
#define CK_TLS		0x2	/* a control URL that may be tls+tcp:// */

struct conf_key {
	const char	*section;
	const char	*key;
	enum conf_type	 type;
	size_t		 off;
	uint64_t	 min, max;	/* numbers */
	int		 flags;
	const char	*def;
	const char	*doc;
};

#define OFF(f)	offsetof(struct config, f)
static const struct conf_key conf_keys[] = {
	{ "daemon", "rpc_url", CT_RPC_URL, OFF(rpc_url), 0, 0, CK_TLS,
	  CONFIG_DEFAULT_RPC_URL, "control API listener (socket mode 0660)" },
	{ "daemon", "rpc_tcp_url", CT_OPT_URL, OFF(rpc_tcp_url), 0, 0, CK_TLS,
	  "", "optional second control listener, e.g. "
	  "tls+tcp://127.0.0.1:7480 (README: Security)" },
	{ "daemon", "events_url", CT_OPT_URL, OFF(events_url), 0, 0, 0,
	  CONFIG_DEFAULT_EVENTS_URL, "nng PUB socket for WatchEvents; empty: off" },
	{ "daemon", "stream_bind", CT_STREAM_URL, OFF(stream_bind), 0, 0, 0,
	  "tcp://127.0.0.1", "where incoming migration streams listen (port "
	  "per job); tls+tcp://: mutual TLS with [security] tls_ca_file, "
	  "tls_cert_file and tls_key_file, the data connections too" },
	{ "daemon", "plugin_dir", CT_STRING, OFF(plugin_dir), 0, 0, 0,
	  VMIG_PLUGINDIR, "directory of backend plugins (*.so)" },
	{ "daemon", "log_level", CT_LEVEL, OFF(log_level), 0, 0, CK_RELOAD,
	  "info", "error, warn, info or debug" },
	{ "daemon", "max_message_bytes", CT_SIZE, OFF(max_message_bytes),
	  4096, 1ull << 30, 0, "16M", "largest control request accepted" },
	{ "daemon", "rpc_workers", CT_UINT, OFF(rpc_workers), 1, 256, 0,
	  "16", "control requests received in parallel" },
	{ "daemon", "data_connections", CT_UINT, OFF(data_connections), 0, 16,
	  CK_RELOAD, "2", "page connections per migration beside its stream "
	  "(tcp:// only; 0: pages on the stream)" },
	{ "daemon", "prefault_memory", CT_UINT, OFF(prefault_memory), 0, 1,
	  CK_RELOAD, "0", "1: touch each page of a job's memory once from user "
	  "space and once through the kernel when it is mapped (hosts whose "
	  "hypervisor fills page tables lazily; slow there)" },
	{ "daemon", "compression", CT_COMPRESS, OFF(compression), 0, 0,
	  CK_RELOAD, "auto", "page compression on the data connections: auto "
	  "(where the link measured during the job is slower than the "
	  "compression measured beside it, never for pages that do not "
	  "compress), off, lz4 or zstd (always, but for pages that do not "
	  "compress)" },
	{ "daemon", "status_interval", CT_DURATION, OFF(status_interval_ms),
	  1000, 86400000, CK_RELOAD, "30s", "how often STATUS= goes to systemd" },
	{ "daemon", "metrics_listen", CT_LISTEN, OFF(metrics_listen), 0, 0, 0,
	  "", "Prometheus metrics over HTTP at /metrics on this host:port, "
	  "e.g. 127.0.0.1:9470; empty: off" },
	{ "daemon", "state_dir", CT_STRING, OFF(state_dir), 0, 0, 0,
	  CONFIG_DEFAULT_STATE_DIR, "the job journal and history (mode 0700)" },
	{ "daemon", "history_size", CT_UINT, OFF(history_size), 0, 100000,
	  CK_RELOAD, "100", "finished jobs kept across restarts" },
	{ "daemon", "tls_engine", CT_STRING, OFF(tls_engine), 0, 0, 0,
	  TLS_ENGINE_DEFAULT, "what nng's TLS runs on: openssl (AES-GCM at "
	  "memory speed) or mbedtls (Debian's libnng's own, ~15x slower "
	  "here); README: Security" },
	{ "security", "rpc_group", CT_OPT_STRING, OFF(rpc_group), 0, 0, 0,
	  "", "group (name or number) whose members may make every control "
	  "call over ipc://; empty: root, vmigd's user and group only" },
	{ "security", "rpc_read_group", CT_OPT_STRING, OFF(rpc_read_group), 0,
	  0, 0, "", "group whose members may make read-only calls over ipc://" },
	{ "security", "rpc_socket_mode", CT_MODE, OFF(rpc_socket_mode), 0,
	  0777, 0, "auto", "ipc:// socket file mode; auto: 0660, or 0666 "
	  "with rpc_read_group (every call is checked anyway)" },
	{ "security", "rpc_insecure_tcp", CT_BOOL, OFF(rpc_insecure_tcp), 0, 1,
	  0, "no", "allow a plain tcp:// control listener (anyone who can "
	  "reach it may call)" },
	{ "security", "tls_ca_file", CT_OPT_STRING, OFF(tls_ca_file), 0, 0,
	  CK_RELOAD, "", "PEM CA that peers' (and by default control "
	  "clients') certificates must chain to" },
	{ "security", "tls_cert_file", CT_OPT_STRING, OFF(tls_cert_file), 0, 0,
	  CK_RELOAD, "", "PEM certificate of this daemon (the tls+tcp:// "
	  "control listener's, and both ends of a tls+tcp:// migration "
	  "show it: give it serverAuth and clientAuth if it has an "
	  "extendedKeyUsage)" },
	{ "security", "tls_key_file", CT_OPT_STRING, OFF(tls_key_file), 0, 0,
	  CK_RELOAD, "", "PEM private key of tls_cert_file (unencrypted)" },
	{ "security", "rpc_client_ca_file", CT_OPT_STRING,
	  OFF(rpc_client_ca_file), 0, 0, CK_RELOAD, "", "PEM CA for control "
	  "API clients over tls+tcp://; empty: tls_ca_file" },
	{ "security", "stream_allow", CT_OPT_STRING, OFF(stream_allow), 0, 0,
	  CK_RELOAD, "", "where this daemon may send memory: address prefixes "
	  "and host names (10.0.0.0/8, fd00::/8, dst1.example, .example); "
	  "empty: anywhere" },
	{ "security", "stream_require_tls", CT_BOOL, OFF(stream_require_tls),
	  0, 1, CK_RELOAD, "no", "send memory only over tls+tcp://" },
	{ "security", "stream_peer_name", CT_OPT_STRING, OFF(stream_peer_name),
	  0, 0, CK_RELOAD, "", "the name the destination's certificate must "
	  "carry over tls+tcp:// (empty or \"host\": the stream URL's host); "
	  "set, it implies TLS" },
	{ "limits", "max_outgoing", CT_UINT, OFF(max_outgoing), 1, 1024,
	  CK_RELOAD, "2", "concurrent outgoing migrations" },
	{ "limits", "max_incoming", CT_UINT, OFF(max_incoming), 1, 1024,
	  CK_RELOAD, "4", "concurrent incoming migrations" },
	{ "limits", "max_per_pf", CT_UINT, OFF(max_per_pf), 1, 1024,
	  CK_RELOAD, "4", "concurrent migrations per PF" },
	{ "limits", "bandwidth", CT_SIZE, OFF(bandwidth), 0, 1ull << 50,
	  CK_RELOAD, "0", "host-wide bytes/s for streams (K/M/G); 0: unlimited" },
};
#undef OFF
#define NKEYS	nitems(conf_keys)

/* Options that are not config keys; keys get 1000 + their index. */
enum {
	OPT_PF = 900,
};

/* The options that are not keys: --help, the man page (config_doc). */
static const struct {
	const char	*name;
	int		 val;		/* the short option, or OPT_* */
	const char	*arg;		/* NULL: takes no value */
	const char	*doc;
} conf_fixed_opts[] = {
	{ "config", 'c', "FILE", "configuration file (default "
	  CONFIG_DEFAULT_PATH "; a missing default file is fine)" },
	{ "foreground", 'f', NULL, "stay in the foreground (systemd, "
	  "scripts); without it vmigd detaches once it is ready (exit status "
	  "0) or fails (its status)" },
	{ "check", 'n', NULL, "print the configuration and check what "
	  "start-up would refuse (URLs, plugins), then exit" },
	{ "debug", 'd', NULL, "same as --log-level debug" },
	{ "pf", OPT_PF, "NAME=BACKEND:SPEC", "a PF, as [pf.NAME] in the file "
	  "(repeatable)" },
	{ "version", 'V', NULL, "print the version and exit" },
	{ "help", 'h', NULL, "print this help and exit" },
};

/* What a key's value looks like, for --help and the man pages. */
static const char *const conf_metavars[] = {
	[CT_STRING] = "PATH",
	[CT_RPC_URL] = "URL",
	[CT_OPT_URL] = "URL",
	[CT_STREAM_URL] = "URL",
	[CT_LISTEN] = "HOST:PORT",
	[CT_OPT_STRING] = "VALUE",
	[CT_BOOL] = "yes|no",
	[CT_MODE] = "MODE",
	[CT_LEVEL] = "LEVEL",
	[CT_SIZE] = "SIZE",
	[CT_UINT] = "N",
	[CT_DURATION] = "DURATION",
	[CT_COMPRESS] = "auto|off|lz4|zstd",
};

/* A section the table has keys in ("daemon", "limits", "security"). */
static int
conf_known_section(const char *section)
{
	size_t	i;

	for (i = 0; i < NKEYS; i++) {
		if (strcmp(conf_keys[i].section, section) == 0)
			return (1);
	}
	return (0);
}

static const struct conf_key *
conf_find_key(const char *section, const char *key)
{
	size_t	i;

	for (i = 0; i < NKEYS; i++) {
		if (strcmp(conf_keys[i].section, section) == 0 &&
		    strcmp(conf_keys[i].key, key) == 0)
			return (&conf_keys[i]);
	}
	return (NULL);
}

/* "rpc_url" -> "rpc-url" */
static void
conf_optname(const struct conf_key *k, char *buf, size_t len)
{
	size_t	i;

	strlcpy_v(buf, k->key, len);
	for (i = 0; buf[i] != '\0'; i++) {
		if (buf[i] == '_')
			buf[i] = '-';
	}
}

static int
conf_valid_name(const char *s, size_t max)
{
	size_t	n;

	for (n = 0; s[n] != '\0'; n++) {
		if (!isalnum((unsigned char)s[n]) && s[n] != '_' &&
		    s[n] != '-' && s[n] != '.')
			return (0);
	}
	return (n > 0 && n <= max);
}

/* "host:port" with a numeric port; host may be [v6], a name or empty. */
static int
conf_check_hostport(const char *hp, int need_port, char *why, size_t wlen)
{
	const char	*colon, *p;
	unsigned long	 port;
	char		*end;

	if (*hp == '[') {
		if ((p = strchr(hp, ']')) == NULL) {
			err_set(why, wlen, 0, "unterminated [IPv6] address");
			return (-1);
		}
		colon = p[1] == ':' ? p + 1 : NULL;
		if (p[1] != '\0' && p[1] != ':') {
			err_set(why, wlen, 0, "junk after ]");
			return (-1);
		}
	} else
		colon = strrchr(hp, ':');
	if (colon == NULL) {
		if (need_port) {
			err_set(why, wlen, 0, "no port (host:port)");
			return (-1);
		}
		if (*hp == '\0') {
			err_set(why, wlen, 0, "no host");
			return (-1);
		}
		return (0);
	}
	if (colon == hp && !need_port) {
		err_set(why, wlen, 0, "no host");
		return (-1);
	}
	errno = 0;
	port = strtoul(colon + 1, &end, 10);
	if (colon[1] == '\0' || *end != '\0' || errno != 0 || port > 65535) {
		err_set(why, wlen, 0, "port '%s' is not a number 0-65535",
		    colon + 1);
		return (-1);
	}
	return (0);
}

static int
conf_check_url(const struct conf_key *k, const char *v, char *why,
    size_t wlen)
{
	static const char *const rpc_schemes[] = { "ipc://", "tcp://",
	    "tcp4://", "tcp6://", "tls+tcp://" };
	static const char *const stream_schemes[] = { "tcp://", "tcp4://",
	    "tcp6://", "tls+tcp://" };
	const char *const	*schemes;
	size_t			 i, n, len;

	if (*v == '\0') {
		if (k->type == CT_OPT_URL)
			return (0);
		err_set(why, wlen, 0, "must not be empty");
		return (-1);
	}
	if (k->type == CT_STREAM_URL) {
		schemes = stream_schemes;
		n = nitems(stream_schemes);
	} else {
		/* tls+tcp:// is last: only control listeners take it */
		schemes = rpc_schemes;
		n = nitems(rpc_schemes) - ((k->flags & CK_TLS) ? 0 : 1);
	}
	for (i = 0; i < n; i++) {
		len = strlen(schemes[i]);
		if (strncmp(v, schemes[i], len) == 0)
			break;
	}
	if (i == n) {
		err_set(why, wlen, 0, "not a URL this key takes (%s%s%s%s%s%s%s"
		    "%s%s)", schemes[0], n > 1 ? ", " : "",
		    n > 1 ? schemes[1] : "", n > 2 ? ", " : "",
		    n > 2 ? schemes[2] : "", n > 3 ? ", " : "",
		    n > 3 ? schemes[3] : "", n > 4 ? ", " : "",
		    n > 4 ? schemes[4] : "");
		return (-1);
	}
	v += len;
	if (strcmp(schemes[i], "ipc://") == 0) {
		if (*v == '\0') {
			err_set(why, wlen, 0, "no socket path after ipc://");
			return (-1);
		}
		/* sun_path is 108 bytes with its NUL. */
		if (strlen(v) > 107) {
			err_set(why, wlen, 0, "socket path is %zu bytes, longer "
			    "than the 107 a UNIX socket allows", strlen(v));
			return (-1);
		}
		return (0);
	}
	return (conf_check_hostport(v, k->type != CT_STREAM_URL, why, wlen));
}

/* Parse v for k into c; why gets the reason on failure. */
static int
conf_key_set(struct config *c, const struct conf_key *k, const char *v,
    char *why, size_t wlen)
{
	char		**sp;
	uint64_t	  n;
	unsigned long long ull;
	char		 *end;
	int		  level;

	switch (k->type) {
	case CT_STRING:
	case CT_RPC_URL:
	case CT_OPT_URL:
	case CT_STREAM_URL:
	case CT_LISTEN:
	case CT_OPT_STRING:
		if (k->type == CT_STRING && *v == '\0') {
			err_set(why, wlen, 0, "must not be empty");
			return (-1);
		}
		if (k->type == CT_LISTEN && *v == ':') {
			err_set(why, wlen, 0, "no host (127.0.0.1:PORT, or "
			    "0.0.0.0:PORT for every address)");
			return (-1);
		}
		if (k->type == CT_LISTEN && strstr(v, "://") != NULL) {
			err_set(why, wlen, 0, "not host:port (no scheme: "
			    "127.0.0.1:9470)");
			return (-1);
		}
		if (k->type == CT_LISTEN && *v != '\0' &&
		    conf_check_hostport(v, 1, why, wlen) != 0)
			return (-1);
		if ((k->type == CT_RPC_URL || k->type == CT_OPT_URL ||
		    k->type == CT_STREAM_URL) && conf_check_url(k, v, why, wlen))
			return (-1);
		sp = (char **)((char *)c + k->off);
		free(*sp);
		*sp = xstrdup(v);
		return (0);
	case CT_BOOL:
		if (strcmp(v, "yes") == 0 || strcmp(v, "true") == 0 ||
		    strcmp(v, "1") == 0)
			*(int *)((char *)c + k->off) = 1;
		else if (strcmp(v, "no") == 0 || strcmp(v, "false") == 0 ||
		    strcmp(v, "0") == 0)
			*(int *)((char *)c + k->off) = 0;
		else {
			err_set(why, wlen, 0, "not yes or no");
			return (-1);
		}
		return (0);
	case CT_MODE:
		if (strcmp(v, "auto") == 0) {
			*(int *)((char *)c + k->off) = 0;
			return (0);
		}
		errno = 0;
		ull = strtoull(v, &end, 8);
		if (!isdigit((unsigned char)*v) || *end != '\0' || errno != 0 ||
		    ull == 0 || ull > k->max) {
			err_set(why, wlen, 0, "not auto or an octal mode from 1 "
			    "to 0777");
			return (-1);
		}
		*(int *)((char *)c + k->off) = (int)ull;
		return (0);
	case CT_LEVEL:
		if ((level = log_parselevel(v)) < 0) {
			err_set(why, wlen, 0, "not a log level (error, warn, "
			    "info, debug)");
			return (-1);
		}
		*(int *)((char *)c + k->off) = level;
		return (0);
	case CT_COMPRESS:
		if ((level = cz_mode_parse(v)) < 0) {
			err_set(why, wlen, 0, "not auto, off, lz4 or zstd");
			return (-1);
		}
		*(int *)((char *)c + k->off) = level;
		return (0);
	case CT_SIZE:
		if (parse_size(v, &n) != 0) {
			err_set(why, wlen, 0, "not a size (a number of bytes, "
			    "with K, M, G or T)");
			return (-1);
		}
		break;
	case CT_DURATION:
		if (parse_duration_ms(v, &n) != 0) {
			err_set(why, wlen, 0, "not a duration (e.g. 500ms, 10s, "
			    "2m)");
			return (-1);
		}
		break;
	case CT_UINT:
		errno = 0;
		ull = strtoull(v, &end, 10);
		if (!isdigit((unsigned char)*v) || *end != '\0' ||
		    errno != 0) {
			err_set(why, wlen, 0, "not a whole number");
			return (-1);
		}
		n = ull;
		break;
	default:
		fatalx("%s: key %s has type %d", __func__, k->key, k->type);
	}
	if (n < k->min || n > k->max) {
		err_set(why, wlen, 0, "must be between %" PRIu64 " and %" PRIu64,
		    k->min, k->max);
		return (-1);
	}
	if (k->type == CT_UINT)
		*(uint32_t *)((char *)c + k->off) = (uint32_t)n;
	else
		*(uint64_t *)((char *)c + k->off) = n;
	return (0);
}

/* The value of k in c as the file would spell it. */
static void
conf_key_format(const struct config *c, const struct conf_key *k, char *buf,
    size_t len)
{
	const char	*s;

	switch (k->type) {
	case CT_STRING:
	case CT_RPC_URL:
	case CT_OPT_URL:
	case CT_STREAM_URL:
	case CT_LISTEN:
	case CT_OPT_STRING:
		s = *(char *const *)((const char *)c + k->off);
		strlcpy_v(buf, s != NULL ? s : "", len);
		break;
	case CT_STRINGS_END:
		break;
	case CT_BOOL:
		strlcpy_v(buf, *(const int *)((const char *)c + k->off) ? "yes" :
		    "no", len);
		break;
	case CT_MODE:
		if (*(const int *)((const char *)c + k->off) == 0)
			strlcpy_v(buf, "auto", len);
		else
			snprintf(buf, len, "%04o",
			    *(const int *)((const char *)c + k->off));
		break;
	case CT_LEVEL:
		strlcpy_v(buf, log_levelname(*(const int *)((const char *)c +
		    k->off)), len);
		break;
	case CT_COMPRESS:
		strlcpy_v(buf, cz_mode_name(*(const int *)((const char *)c +
		    k->off)), len);
		break;
	case CT_UINT:
		snprintf(buf, len, "%" PRIu32,
		    *(const uint32_t *)((const char *)c + k->off));
		break;
	case CT_DURATION:
		snprintf(buf, len, "%" PRIu64 "ms",
		    *(const uint64_t *)((const char *)c + k->off));
		break;
	case CT_SIZE:
		snprintf(buf, len, "%" PRIu64,
		    *(const uint64_t *)((const char *)c + k->off));
		break;
	}
}

static struct config_pf *
conf_pf_get(struct config *c, const char *name, int create)
{
	struct config_pf	*pf;

	TAILQ_FOREACH(pf, &c->pfs, entry) {
		if (strcmp(pf->name, name) == 0)
			return (pf);
	}
	if (!create)
		return (NULL);
	pf = xcalloc(1, sizeof(*pf));
	pf->name = xstrdup(name);
	TAILQ_INSERT_TAIL(&c->pfs, pf, entry);
	c->npfs++;
	return (pf);
}

static void
conf_pf_free(struct config_pf *pf)
{
	free(pf->name);
	free(pf->backend);
	free(pf->spec);
	free(pf);
}

const struct config_pf *
config_find_pf(const struct config *c, const char *name)
{
	return (conf_pf_get((struct config *)c, name, 0));
}

struct config *
config_new(void)
{
	struct config	*c;
	char		 why[256];
	size_t		 i;

	c = xcalloc(1, sizeof(*c));
	TAILQ_INIT(&c->pfs);
	for (i = 0; i < NKEYS; i++) {
		if (conf_key_set(c, &conf_keys[i], conf_keys[i].def, why,
		    sizeof(why)) != 0)
			fatalx("%s: default %s = %s: %s", __func__,
			    conf_keys[i].key, conf_keys[i].def, why);
	}
	return (c);
}

void
config_free(struct config *c)
{
	struct config_pf	*pf;
	size_t			 i;

	if (c == NULL)
		return;
	for (i = 0; i < NKEYS; i++) {
		if (conf_keys[i].type < CT_STRINGS_END)
			free(*(char **)((char *)c + conf_keys[i].off));
	}
	while ((pf = TAILQ_FIRST(&c->pfs)) != NULL) {
		TAILQ_REMOVE(&c->pfs, pf, entry);
		conf_pf_free(pf);
	}
	free(c->path);
	free(c);
}

int
config_set(struct config *c, const char *section, const char *key,
    const char *value, const char *where, char *err, size_t errlen)
{
	const struct conf_key	*k;
	struct config_pf	*pf;
	char			 why[256];

	if (strncmp(section, "pf.", 3) == 0) {
		if (!conf_valid_name(section + 3, CONFIG_NAME_MAX)) {
			err_set(err, errlen, 0, "%s: [%s]: a PF name is 1 to %d "
			    "letters, digits, '_', '-' or '.'", where, section,
			    CONFIG_NAME_MAX);
			return (-EINVAL);
		}
		if (strcmp(key, "backend") != 0 && strcmp(key, "spec") != 0) {
			err_set(err, errlen, 0, "%s: [%s] %s: unknown key (a PF "
			    "takes backend and spec)", where, section, key);
			return (-EINVAL);
		}
		if (*value == '\0') {
			err_set(err, errlen, 0, "%s: [%s] %s: must not be empty",
			    where, section, key);
			return (-EINVAL);
		}
		if (strcmp(key, "backend") == 0 &&
		    !conf_valid_name(value, CONFIG_NAME_MAX)) {
			err_set(err, errlen, 0, "%s: [%s] backend = %s: not a "
			    "backend name", where, section, value);
			return (-EINVAL);
		}
		pf = conf_pf_get(c, section + 3, 1);
		if (pf->where[0] == '\0')
			strlcpy_v(pf->where, where, sizeof(pf->where));
		if (strcmp(key, "backend") == 0) {
			free(pf->backend);
			pf->backend = xstrdup(value);
		} else {
			free(pf->spec);
			pf->spec = xstrdup(value);
		}
		return (0);
	}
	if (!conf_known_section(section)) {
		err_set(err, errlen, 0, "%s: [%s]: unknown section (daemon, "
		    "limits, security or pf.NAME)", where, section);
		return (-EINVAL);
	}
	if ((k = conf_find_key(section, key)) == NULL) {
		err_set(err, errlen, 0, "%s: [%s] %s: unknown key", where,
		    section, key);
		return (-EINVAL);
	}
	if (conf_key_set(c, k, value, why, sizeof(why)) != 0) {
		err_set(err, errlen, 0, "%s: [%s] %s = %s: %s", where, section,
		    key, value, why);
		return (-EINVAL);
	}
	return (0);
}

int
config_set_pf(struct config *c, const char *arg, const char *where,
    char *err, size_t errlen)
{
	struct config_pf	*pf, *old;
	const char		*eq, *colon;
	char			*name = NULL, *sect = NULL, *backend = NULL;
	struct config		 tmp;
	int			 rv;

	if ((eq = strchr(arg, '=')) == NULL ||
	    (colon = strchr(eq, ':')) == NULL) {
		err_set(err, errlen, 0, "%s: '%s': expected NAME=BACKEND:SPEC "
		    "(e.g. sim0=virtio-admin:sim:/run/vmigd/sim0.sock)",
		    where, arg);
		return (-EINVAL);
	}
	name = xstrdup(arg);
	name[eq - arg] = '\0';
	backend = xstrdup(eq + 1);
	backend[colon - eq - 1] = '\0';
	xasprintf(&sect, "pf.%s", name);

	/* Validate into a scratch config, then replace the real entry. */
	memset(&tmp, 0, sizeof(tmp));
	TAILQ_INIT(&tmp.pfs);
	if ((rv = config_set(&tmp, sect, "backend", backend, where, err,
	    errlen)) == 0)
		rv = config_set(&tmp, sect, "spec", colon + 1, where, err,
		    errlen);
	if (rv == 0) {
		pf = TAILQ_FIRST(&tmp.pfs);
		TAILQ_REMOVE(&tmp.pfs, pf, entry);
		if ((old = conf_pf_get(c, name, 0)) != NULL) {
			TAILQ_INSERT_AFTER(&c->pfs, old, pf, entry);
			TAILQ_REMOVE(&c->pfs, old, entry);
			conf_pf_free(old);
		} else {
			TAILQ_INSERT_TAIL(&c->pfs, pf, entry);
			c->npfs++;
		}
	} else if ((pf = TAILQ_FIRST(&tmp.pfs)) != NULL)
		conf_pf_free(pf);
	free(name);
	free(backend);
	free(sect);
	return (rv);
}

/*
 * A control listener over TCP is either TLS with client certificates, or
 * plain only when asked for by name (it lets anyone who can reach the
 * port call every method).
 */
static int
conf_check_rpc_tcp(const struct config *c, const char *key, const char *url,
    char *err, size_t errlen)
{
	if (url == NULL || strncmp(url, "ipc://", 6) == 0 || *url == '\0')
		return (0);
	if (strncmp(url, "tls+tcp://", 10) == 0) {
		if (*c->tls_cert_file == '\0' || *c->tls_key_file == '\0' ||
		    (*c->tls_ca_file == '\0' && *c->rpc_client_ca_file == '\0'))
			return (err_set(err, errlen, -EINVAL, "[daemon] %s = %s: "
			    "needs [security] tls_cert_file, tls_key_file and "
			    "a CA for client certificates (rpc_client_ca_file "
			    "or tls_ca_file)", key, url));
		return (0);
	}
	if (!c->rpc_insecure_tcp)
		return (err_set(err, errlen, -EINVAL, "[daemon] %s = %s: a plain "
		    "TCP control listener lets anyone who can reach it call "
		    "every method: use tls+tcp:// with [security] "
		    "tls_cert_file, tls_key_file and tls_ca_file, or set "
		    "[security] rpc_insecure_tcp = yes", key, url));
	return (0);
}

int
config_check(struct config *c, char *err, size_t errlen)
{
	struct config_pf	*pf;

	struct peerpol		 pol;
	char			 why[384];

	if (conf_check_rpc_tcp(c, "rpc_url", c->rpc_url, err, errlen) != 0 ||
	    conf_check_rpc_tcp(c, "rpc_tcp_url", c->rpc_tcp_url, err,
	    errlen) != 0)
		return (-EINVAL);
	/* the peer link is mutual TLS: both ends show a certificate */
	if (strncmp(c->stream_bind, "tls+tcp://", 10) == 0 &&
	    (*c->tls_cert_file == '\0' || *c->tls_key_file == '\0' ||
	    *c->tls_ca_file == '\0'))
		return (err_set(err, errlen, -EINVAL, "[daemon] stream_bind = "
		    "%s: needs [security] tls_cert_file, tls_key_file and "
		    "tls_ca_file (the sources' certificates chain to it)",
		    c->stream_bind));
	if (!tls_engine_known(c->tls_engine))
		return (err_set(err, errlen, -EINVAL, "[daemon] tls_engine = "
		    "%s: not %s", c->tls_engine, TLS_ENGINE_NAMES));
	if (peerpol_parse(&pol, c->stream_allow, c->stream_require_tls,
	    c->stream_peer_name, why, sizeof(why)) != 0)
		return (err_set(err, errlen, -EINVAL, "[security] %s", why));
	peerpol_clear(&pol);

	TAILQ_FOREACH(pf, &c->pfs, entry) {
		if (pf->backend == NULL || pf->spec == NULL) {
			err_set(err, errlen, 0, "%s: [pf.%s]: %s is not set",
			    pf->where, pf->name, pf->backend == NULL ?
			    "backend" : "spec");
			return (-EINVAL);
		}
	}
	return (0);
}

/* ---------------------------------------------------------------- file */

struct conf_load {
	struct config	*c;
	FILE		*f;
	const char	*path;
	int		 line;		/* of the line being parsed */
	int		 keyline[NKEYS];	/* where each key was set */
	char		 section[64];
	int		 failed;
	char		*err;
	size_t		 errlen;
};

/* One line per call, so we know the line of every handler call. */
static char *
conf_reader(char *str, int num, void *stream)
{
	struct conf_load	*l = stream;
	char			*p, *q;
	size_t			 len;

	if (l->failed || fgets(str, num, l->f) == NULL)
		return (NULL);
	l->line++;
	len = strlen(str);
	if (len == (size_t)num - 1 && str[len - 1] != '\n' && !feof(l->f)) {
		err_set(l->err, l->errlen, 0, "%s:%d: line longer than %d "
		    "characters", l->path, l->line, num - 2);
		l->failed = 1;
		return (NULL);
	}
	/*
	 * inih does not tell us about sections without keys; see them here
	 * so an empty or unknown section is an error at its own line.
	 */
	for (p = str; isspace((unsigned char)*p); p++)
		;
	if (*p == '[' && (q = strchr(p, ']')) != NULL) {
		char	 where[128];

		len = (size_t)(q - p - 1);
		if (len >= sizeof(l->section))
			len = sizeof(l->section) - 1;
		memcpy(l->section, p + 1, len);
		l->section[len] = '\0';
		snprintf(where, sizeof(where), "%s:%d", l->path, l->line);
		if (strncmp(l->section, "pf.", 3) == 0) {
			if (!conf_valid_name(l->section + 3, CONFIG_NAME_MAX)) {
				err_set(l->err, l->errlen, 0, "%s: [%s]: a PF "
				    "name is 1 to %d letters, digits, '_', "
				    "'-' or '.'", where, l->section,
				    CONFIG_NAME_MAX);
				l->failed = 1;
				return (NULL);
			}
			if (conf_pf_get(l->c, l->section + 3, 0) != NULL) {
				err_set(l->err, l->errlen, 0, "%s: [%s]: "
				    "duplicate section (first at %s)", where,
				    l->section, conf_pf_get(l->c,
				    l->section + 3, 0)->where);
				l->failed = 1;
				return (NULL);
			}
			strlcpy_v(conf_pf_get(l->c, l->section + 3, 1)->where,
			    where, sizeof(((struct config_pf *)0)->where));
		} else if (!conf_known_section(l->section)) {
			err_set(l->err, l->errlen, 0, "%s: [%s]: unknown section "
			    "(daemon, limits, security or pf.NAME)", where,
			    l->section);
			l->failed = 1;
			return (NULL);
		}
	}
	return (str);
}

static int
conf_handler(void *user, const char *section, const char *name,
    const char *value)
{
	struct conf_load	*l = user;
	const struct conf_key	*k;
	struct config_pf	*pf;
	char			 where[128];
	int			 first;

	snprintf(where, sizeof(where), "%s:%d", l->path, l->line);
	if (*section == '\0') {
		err_set(l->err, l->errlen, 0, "%s: %s: key outside a section "
		    "(put it under [daemon], [limits], [security] or [pf.NAME])",
		    where,
		    name);
		l->failed = 1;
		return (0);
	}
	/* Repeating a key is almost always a mistake: refuse it. */
	first = 0;
	if ((k = conf_find_key(section, name)) != NULL) {
		first = l->keyline[k - conf_keys];
		l->keyline[k - conf_keys] = l->line;
	} else if (strncmp(section, "pf.", 3) == 0 &&
	    (pf = conf_pf_get(l->c, section + 3, 0)) != NULL &&
	    ((strcmp(name, "backend") == 0 && pf->backend != NULL) ||
	    (strcmp(name, "spec") == 0 && pf->spec != NULL)))
		first = -1;
	if (first != 0) {
		if (first > 0)
			err_set(l->err, l->errlen, 0, "%s: [%s] %s: set twice "
			    "(first at line %d)", where, section, name, first);
		else
			err_set(l->err, l->errlen, 0, "%s: [%s] %s: set twice",
			    where, section, name);
		l->failed = 1;
		return (0);
	}
	if (config_set(l->c, section, name, value, where, l->err,
	    l->errlen) != 0) {
		l->failed = 1;
		return (0);
	}
	return (1);
}

int
config_load(struct config *c, const char *path, int must_exist, char *err,
    size_t errlen)
{
	struct conf_load	 l;
	int			 rv;

	memset(&l, 0, sizeof(l));
	if ((l.f = fopen(path, "r")) == NULL) {
		rv = -errno;
		if (rv == -ENOENT && !must_exist)
			return (0);
		err_set(err, errlen, 0, "config file %s: cannot read it: %s",
		    path, strerror(-rv));
		return (rv);
	}
	l.c = c;
	l.path = path;
	l.err = err;
	l.errlen = errlen;
	rv = ini_parse_stream(conf_reader, &l, conf_handler, &l);
	if (ferror(l.f) && !l.failed) {
		err_set(err, errlen, 0, "config file %s: read error after line "
		    "%d", path, l.line);
		l.failed = 1;
	}
	fclose(l.f);
	if (rv > 0 && !l.failed) {
		err_set(err, errlen, 0, "%s:%d: syntax error (expected [section] "
		    "or key = value)", path, rv);
		return (-EINVAL);
	}
	if (rv < 0 && !l.failed) {
		err_set(err, errlen, 0, "config file %s: cannot parse it", path);
		return (-ENOMEM);
	}
	if (l.failed)
		return (-EINVAL);
	free(c->path);
	c->path = xstrdup(path);
	return (0);
}

/* ---------------------------------------------------------------- print */

void
config_print(FILE *f, const struct config *c)
{
	const struct config_pf	*pf;
	const char		*section = "";
	char			 buf[1024];
	size_t			 i;

	fprintf(f, "; vmigd configuration%s%s\n", c->path != NULL ?
	    " from " : " (defaults)", c->path != NULL ? c->path : "");
	for (i = 0; i < NKEYS; i++) {
		if (strcmp(section, conf_keys[i].section) != 0) {
			section = conf_keys[i].section;
			fprintf(f, "%s[%s]\n", i == 0 ? "" : "\n", section);
		}
		conf_key_format(c, &conf_keys[i], buf, sizeof(buf));
		fprintf(f, "%s = %s\n", conf_keys[i].key, buf);
	}
	TAILQ_FOREACH(pf, &c->pfs, entry) {
		fprintf(f, "\n[pf.%s]\nbackend = %s\nspec = %s\n", pf->name,
		    pf->backend != NULL ? pf->backend : "",
		    pf->spec != NULL ? pf->spec : "");
	}
}

int
config_keep_static(struct config *next, const struct config *cur)
{
	const struct conf_key	*k;
	char			 a[1024], b[1024], why[256];
	size_t			 i;
	int			 changed = 0;

	for (i = 0; i < NKEYS; i++) {
		k = &conf_keys[i];
		if (k->flags & CK_RELOAD)
			continue;
		conf_key_format(cur, k, a, sizeof(a));
		conf_key_format(next, k, b, sizeof(b));
		if (strcmp(a, b) == 0)
			continue;
		log_warnx("config: [%s] %s changed from '%s' to '%s': it takes "
		    "effect at the next restart", k->section, k->key, a, b);
		if (conf_key_set(next, k, a, why, sizeof(why)) != 0)
			fatalx("%s: %s = %s: %s", __func__, k->key, a, why);
		changed++;
	}
	return (changed);
}

/* ---------------------------------------------------------------- args */

static void
conf_args_add(struct config_args *a, const char *key, const char *value,
    const char *opt)
{
	struct config_arg	*s;

	a->sets = xreallocarray(a->sets, a->nsets + 1, sizeof(*a->sets));
	s = &a->sets[a->nsets++];
	s->key = xstrdup(key);
	s->value = xstrdup(value);
	snprintf(s->where, sizeof(s->where), "command line --%s", opt);
}

int
config_args_parse(struct config_args *a, int argc, char **argv, char *err,
    size_t errlen)
{
	struct option	 opts[nitems(conf_fixed_opts) + NKEYS + 1];
	char		 names[NKEYS][48], key[96];
	char		 shorts[2 + 2 * nitems(conf_fixed_opts)], *so = shorts;
	const struct conf_key *k;
	size_t		 i, n = 0;
	int		 ch, rv = 0;

	memset(a, 0, sizeof(*a));
	*so++ = ':';	/* a missing value is ':', not '?' */
	for (i = 0; i < nitems(conf_fixed_opts); i++) {
		opts[n].name = conf_fixed_opts[i].name;
		opts[n].has_arg = conf_fixed_opts[i].arg != NULL ?
		    required_argument : no_argument;
		opts[n].flag = NULL;
		opts[n].val = conf_fixed_opts[i].val;
		n++;
		if (conf_fixed_opts[i].val < 256) {
			*so++ = (char)conf_fixed_opts[i].val;
			if (conf_fixed_opts[i].arg != NULL)
				*so++ = ':';
		}
	}
	*so = '\0';
	for (i = 0; i < NKEYS; i++) {
		conf_optname(&conf_keys[i], names[i], sizeof(names[i]));
		opts[n].name = names[i];
		opts[n].has_arg = required_argument;
		opts[n].flag = NULL;
		opts[n].val = 1000 + (int)i;
		n++;
	}
	memset(&opts[n], 0, sizeof(opts[n]));

	optind = 0;	/* full reset: tests parse several command lines */
	opterr = 0;
	while ((ch = getopt_long(argc, argv, shorts, opts, NULL)) != -1) {
		switch (ch) {
		case 'c':
			free(a->config_path);
			a->config_path = xstrdup(optarg);
			a->config_explicit = 1;
			break;
		case 'f':
			a->foreground = 1;
			break;
		case 'n':
			a->action = CONFIG_CHECK;
			break;
		case 'd':
			conf_args_add(a, "daemon.log_level", "debug", "debug");
			break;
		case 'h':
			a->action = CONFIG_HELP;
			break;
		case 'V':
			a->action = CONFIG_VERSION;
			break;
		case OPT_PF:
			conf_args_add(a, "pf", optarg, "pf");
			break;
		case ':':
			err_set(err, errlen, 0, "option %s needs a value",
			    argv[optind - 1]);
			rv = -EINVAL;
			goto out;
		case '?':
			if (optopt != 0)
				err_set(err, errlen, 0, "unknown option -%c",
				    optopt);
			else
				err_set(err, errlen, 0, "unknown option %s",
				    argv[optind - 1]);
			rv = -EINVAL;
			goto out;
		default:
			if (ch < 1000 || ch >= 1000 + (int)NKEYS)
				fatalx("%s: getopt returned %d", __func__, ch);
			k = &conf_keys[ch - 1000];
			snprintf(key, sizeof(key), "%s.%s", k->section, k->key);
			conf_args_add(a, key, optarg, names[ch - 1000]);
			break;
		}
	}
	if (optind < argc) {
		err_set(err, errlen, 0, "unexpected argument '%s' (options "
		    "only; see --help)", argv[optind]);
		rv = -EINVAL;
	}
out:
	if (rv != 0)
		config_args_free(a);
	return (rv);
}

void
config_args_free(struct config_args *a)
{
	unsigned int	i;

	for (i = 0; i < a->nsets; i++) {
		free(a->sets[i].key);
		free(a->sets[i].value);
	}
	free(a->sets);
	free(a->config_path);
	memset(a, 0, sizeof(*a));
}

int
config_doc(size_t i, struct config_doc *d)
{
	const struct conf_key	*k;

	memset(d, 0, sizeof(*d));
	if (i < nitems(conf_fixed_opts)) {
		strlcpy_v(d->option, conf_fixed_opts[i].name,
		    sizeof(d->option));
		if (conf_fixed_opts[i].val < 256)
			d->short_opt = (char)conf_fixed_opts[i].val;
		d->arg = conf_fixed_opts[i].arg;
		d->doc = conf_fixed_opts[i].doc;
		return (0);
	}
	if ((i -= nitems(conf_fixed_opts)) >= NKEYS)
		return (-ENOENT);
	k = &conf_keys[i];
	conf_optname(k, d->option, sizeof(d->option));
	d->arg = conf_metavars[k->type];
	d->section = k->section;
	d->key = k->key;
	d->def = k->def;
	d->doc = k->doc;
	d->reload = (k->flags & CK_RELOAD) != 0;
	return (0);
}

void
config_usage(FILE *f, const char *progname)
{
	struct config_doc	d;
	char			opt[96];
	size_t			i;
	int			keys = 0;

	fprintf(f, "usage: %s [options]\n\nvmigd live-migrates passthrough "
	    "devices (SR-IOV VFs) between hosts.\n\n", progname);
	for (i = 0; config_doc(i, &d) == 0; i++) {
		if (d.short_opt != '\0')
			snprintf(opt, sizeof(opt), "-%c, --%s%s%s", d.short_opt,
			    d.option, d.arg != NULL ? " " : "",
			    d.arg != NULL ? d.arg : "");
		else
			snprintf(opt, sizeof(opt), "    --%s%s%s", d.option,
			    d.arg != NULL ? " " : "", d.arg != NULL ? d.arg : "");
		if (d.section == NULL) {
			fprintf(f, "  %-22s%s%s\n", opt, strlen(opt) > 22 ?
			    "\n                         " : " ", d.doc);
			continue;
		}
		if (!keys++)
			fprintf(f, "\nEvery configuration key is also an option; "
			    "the command line wins over the file:\n");
		fprintf(f, "  %-28s [%s] %s, default '%s'\n      %s\n", opt + 4,
		    d.section, d.key, d.def, d.doc);
	}
}

int
config_build_plugin_dir(const char *exe, char *buf, size_t len)
{
	struct stat	 sb;
	char		 dir[PATH_MAX], mark[PATH_MAX + 32];
	char		*slash;
	size_t		 n;

	if (strlcpy_v(dir, exe, sizeof(dir)) >= sizeof(dir) ||
	    (slash = strrchr(dir, '/')) == NULL)
		return (-ENOENT);
	*slash = '\0';			/* the executable's directory */
	n = strlen(dir);
	if (n >= 6 && strcmp(dir + n - 6, "/.libs") == 0)
		dir[n - 6] = '\0';	/* libtool's, beside its wrapper */
	if ((slash = strrchr(dir, '/')) == NULL)
		return (-ENOENT);
	*slash = '\0';			/* BUILD, parent of BUILD/daemon */
	snprintf(mark, sizeof(mark), "%s/config.status", dir);
	if (stat(mark, &sb) != 0 || !S_ISREG(sb.st_mode))
		return (-ENOENT);
	snprintf(mark, sizeof(mark), "%s/" CONFIG_BUILD_PLUGIN_DIR, dir);
	if (stat(mark, &sb) != 0 || !S_ISDIR(sb.st_mode))
		return (-ENOENT);
	if (strlcpy_v(buf, mark, len) >= len)
		return (-ENAMETOOLONG);
	return (0);
}

struct config *
config_build(const struct config_args *a, char *err, size_t errlen)
{
	struct config		*c;
	const struct config_arg	*s;
	const char		*path, *dot;
	char			 section[64], exe[PATH_MAX], dir[PATH_MAX];
	ssize_t			 n;
	unsigned int		 i;

	c = config_new();
	/* Run from its build tree, vmigd's default plugins are the tree's. */
	if ((n = readlink("/proc/self/exe", exe, sizeof(exe) - 1)) > 0) {
		exe[n] = '\0';
		if (config_build_plugin_dir(exe, dir, sizeof(dir)) == 0) {
			free(c->plugin_dir);
			c->plugin_dir = xstrdup(dir);
		}
	}
	path = a->config_path != NULL ? a->config_path : CONFIG_DEFAULT_PATH;
	if (config_load(c, path, a->config_explicit, err, errlen) != 0)
		goto fail;
	for (i = 0; i < a->nsets; i++) {
		s = &a->sets[i];
		if (strcmp(s->key, "pf") == 0) {
			if (config_set_pf(c, s->value, s->where, err,
			    errlen) != 0)
				goto fail;
			continue;
		}
		dot = strchr(s->key, '.');
		VMIG_ASSERT(dot != NULL && (size_t)(dot - s->key) <
		    sizeof(section));
		memcpy(section, s->key, (size_t)(dot - s->key));
		section[dot - s->key] = '\0';
		if (config_set(c, section, dot + 1, s->value, s->where, err,
		    errlen) != 0)
			goto fail;
	}
	if (config_check(c, err, errlen) != 0)
		goto fail;
	return (c);
fail:
	config_free(c);
	return (NULL);
}
