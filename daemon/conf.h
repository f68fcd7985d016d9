/*
 * conf.h: vmigd's configuration: defaults, the INI file, the command line.
 *
 * Every key of the file is also a long option ([daemon] rpc_url is
 * --rpc-url, [limits] max_outgoing is --max-outgoing), and the command line
 * wins over the file. Errors name the key and where it was set
 * ("/etc/vmigd/vmigd.conf:12: [limits] max_outgoing = 0: must be between
 * 1 and 1024"). SIGHUP builds a fresh config the same way and the daemon
 * applies what may change at run time (config_reloadable()).
 */
#ifndef VMIG_CONFIG_H
#define VMIG_CONFIG_H

#include <sys/queue.h>

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#ifndef VMIG_SYSCONFDIR
#define VMIG_SYSCONFDIR		"/etc/vmigd"
#endif
#ifndef VMIG_PLUGINDIR
#define VMIG_PLUGINDIR		"/usr/lib/vmigd/plugins"
#endif
#define CONFIG_DEFAULT_PATH	VMIG_SYSCONFDIR "/vmigd.conf"
#define CONFIG_DEFAULT_RPC_URL	"ipc:///run/vmigd/vmigd.sock"
#define CONFIG_DEFAULT_EVENTS_URL "ipc:///run/vmigd/events.sock"
#define CONFIG_DEFAULT_STATE_DIR "/var/lib/vmigd"	/* StateDirectory= */

#define CONFIG_NAME_MAX		31	/* PF names: [A-Za-z0-9_.-] */

/* One [pf.NAME] section or --pf NAME=BACKEND:SPEC. */
struct config_pf {
	char			*name;
	char			*backend;
	char			*spec;
	char			 where[128];	/* "file:line" of the section */
	TAILQ_ENTRY(config_pf)	 entry;
};
TAILQ_HEAD(config_pfs, config_pf);

struct config {
	char		*path;		/* file read; NULL: none */

	/* [daemon] */
	char		*rpc_url;
	char		*rpc_tcp_url;	/* "": none */
	char		*events_url;	/* "": no event publisher */
	char		*stream_bind;
	char		*plugin_dir;
	int		 log_level;	/* enum log_level */
	uint64_t	 max_message_bytes;
	uint32_t	 rpc_workers;
	uint32_t	 data_connections;	/* per migration, 0: none */
	uint32_t	 prefault_memory;	/* MEM_MAP_PREFAULT */
	int		 compression;		/* enum cz_mode (compress.h) */
	uint64_t	 status_interval_ms;	/* sd_notify STATUS period */
	char		*metrics_listen;	/* "host:port"; "": no metrics */
	char		*state_dir;	/* journal, history (journal.h) */
	uint32_t	 history_size;	/* finished jobs kept across restarts */
	char		*tls_engine;	/* tls.h: TLS_ENGINE_NAMES */

	/* [security] (authz.h, tls.h) */
	char		*rpc_group;	/* "": none */
	char		*rpc_read_group;
	int		 rpc_socket_mode;	/* 0: auto */
	int		 rpc_insecure_tcp;
	char		*tls_ca_file;
	char		*tls_cert_file;
	char		*tls_key_file;
	char		*rpc_client_ca_file;	/* "": tls_ca_file */
	char		*stream_allow;	/* peerpol.h; "": anywhere */
	int		 stream_require_tls;
	char		*stream_peer_name;

	/* [limits] */
	uint32_t	 max_outgoing;
	uint32_t	 max_incoming;
	uint32_t	 max_per_pf;
	uint64_t	 bandwidth;	/* bytes/s, host-wide; 0: unlimited */

	struct config_pfs pfs;
	unsigned int	 npfs;
};

/* What the command line asked for. */
enum config_action {
	CONFIG_RUN = 0,
	CONFIG_HELP,
	CONFIG_VERSION,
	CONFIG_CHECK,		/* -n: validate, print the effective config */
};

struct config_arg {
	char		*key;		/* "daemon.rpc_url", "pf" */
	char		*value;
	char		 where[64];	/* "command line --rpc-url" */
};

struct config_args {
	enum config_action action;
	char		*config_path;	/* --config; NULL: the default */
	int		 config_explicit;	/* given: must be readable */
	int		 foreground;
	struct config_arg *sets;	/* overrides, in command-line order */
	unsigned int	 nsets;
};

/* Command line. Returns 0, or -EINVAL with err filled. */
int	 config_args_parse(struct config_args *a, int argc, char **argv,
	     char *err, size_t errlen);
void	 config_args_free(struct config_args *a);
void	 config_usage(FILE *f, const char *progname);

/*
 * The options, one at a time, for --help and the man pages (doc/mangen.c
 * generates vmigd(8) and vmigd.conf(5) from these, so they cannot drift):
 * first those that are not configuration keys, then every key.
 */
struct config_doc {
	char		 option[48];	/* long option without "--" */
	char		 short_opt;	/* 'c', or '\0' */
	const char	*arg;		/* "FILE", "URL"; NULL: takes none */
	const char	*section;	/* "daemon", "limits"; NULL: not a key */
	const char	*key;
	const char	*def;		/* default, as the file spells it */
	const char	*doc;
	int		 reload;	/* takes effect on SIGHUP */
};
/* The i-th option: 0, or -ENOENT past the last. */
int	 config_doc(size_t i, struct config_doc *d);

/*
 * Defaults, then the file (if any), then the command line. NULL on error.
 * The default plugin_dir of a vmigd run from its build tree is the tree's
 * (config_build_plugin_dir()), so it finds the plugins it was built with.
 */
struct config *config_build(const struct config_args *a, char *err,
	     size_t errlen);

/*
 * If exe is BUILD/daemon/vmigd (or libtool's BUILD/daemon/.libs/vmigd) of
 * a configured build tree (BUILD/config.status), BUILD/plugins/.libs, where
 * make links every plugin it built, into buf: 0, or -ENOENT if exe is not
 * in a build tree with plugins.
 */
#define CONFIG_BUILD_PLUGIN_DIR	"plugins/.libs"
int	 config_build_plugin_dir(const char *exe, char *buf, size_t len);

struct config *config_new(void);	/* defaults */
void	 config_free(struct config *c);
/*
 * Read an INI file into c. A missing file is an error only if must_exist.
 * Returns 0, or a negative errno with err naming file:line and the key.
 */
int	 config_load(struct config *c, const char *path, int must_exist,
	     char *err, size_t errlen);
/* Set one key ("daemon", "rpc_url"; "pf.sim0", "spec"); where is for errors. */
int	 config_set(struct config *c, const char *section, const char *key,
	     const char *value, const char *where, char *err, size_t errlen);
/* Parse "NAME=BACKEND:SPEC" (--pf) into c, replacing a PF of that name. */
int	 config_set_pf(struct config *c, const char *arg, const char *where,
	     char *err, size_t errlen);
/* Whole-config checks (PF sections complete, ...). */
int	 config_check(struct config *c, char *err, size_t errlen);
/* Write c as an INI file that reads back to the same config. */
void	 config_print(FILE *f, const struct config *c);

const struct config_pf *config_find_pf(const struct config *c,
	     const char *name);

/*
 * After a reload: copy into next the keys that only take effect at start
 * (URLs, plugin_dir, workers, sizes), warning for each that changed.
 * Returns how many changed.
 */
int	 config_keep_static(struct config *next, const struct config *cur);

#endif /* VMIG_CONFIG_H */
