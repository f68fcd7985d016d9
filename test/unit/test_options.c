/*
 * test_options.c: vmigd's command line: every config key is a long option,
 * the command line wins over the file, bad options and bad values are
 * refused with a message naming the option.
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <criterion/criterion.h>

#include "conf.h"
#include "log.h"
#include "leakcheck.h"

static char	tmpdir[64];
static char	conf_path[128];

static void
setup(void)
{
	FILE	*f;

	snprintf(tmpdir, sizeof(tmpdir), "/tmp/vmig-test-options.XXXXXX");
	cr_assert_not_null(mkdtemp(tmpdir));
	snprintf(conf_path, sizeof(conf_path), "%s/vmigd.conf", tmpdir);
	cr_assert_not_null(f = fopen(conf_path, "w"));
	fputs("[daemon]\nrpc_workers = 4\nlog_level = warn\n"
	    "rpc_url = ipc:///tmp/from-file.sock\n"
	    "[limits]\nmax_outgoing = 3\n"
	    "[pf.sim0]\nbackend = from-file\nspec = sim:/file\n", f);
	fclose(f);
	log_init(LOG_LEVEL_ERROR, "test");
}

static void
teardown(void)
{
	char	cmd[128];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
	(void)system(cmd);
}

TestSuite(options, .init = setup, .fini = teardown);

#define ARGV(...)	(char *[]){ "vmigd", __VA_ARGS__, NULL }
#define ARGC(...)	((int)(sizeof((char *[]){ "vmigd", __VA_ARGS__ }) / \
			    sizeof(char *)))
#define PARSE(a, err, ...) \
	config_args_parse((a), ARGC(__VA_ARGS__), ARGV(__VA_ARGS__), (err), \
	    sizeof(err))

Test(options, actions)
{
	struct config_args	a;
	char			err[256];

	cr_assert_eq(PARSE(&a, err, "--help"), 0, "%s", err);
	cr_assert_eq(a.action, CONFIG_HELP);
	config_args_free(&a);
	cr_assert_eq(PARSE(&a, err, "-V"), 0, "%s", err);
	cr_assert_eq(a.action, CONFIG_VERSION);
	config_args_free(&a);
	cr_assert_eq(PARSE(&a, err, "--check", "--foreground"), 0, "%s", err);
	cr_assert_eq(a.action, CONFIG_CHECK);
	cr_assert_eq(a.foreground, 1);
	config_args_free(&a);
	cr_assert_eq(PARSE(&a, err, "-f"), 0, "%s", err);
	cr_assert_eq(a.action, CONFIG_RUN);
	cr_assert_eq(a.foreground, 1);
	cr_assert_null(a.config_path);
	cr_assert_eq(a.config_explicit, 0);
	config_args_free(&a);
	LEAK_CHECK();
}

Test(options, command_line_wins)
{
	struct config_args	 a;
	struct config		*c;
	char			 err[256];

	cr_assert_eq(PARSE(&a, err, "--config", conf_path, "--foreground",
	    "--rpc-workers", "8", "--rpc-url=ipc:///tmp/cli.sock",
	    "--max-per-pf", "2", "--pf", "sim0=virtio-admin:sim:/cli",
	    "--pf", "sim1=virtio-admin:sim:/cli1"), 0, "%s", err);
	cr_assert_str_eq(a.config_path, conf_path);
	cr_assert_eq(a.config_explicit, 1);
	cr_assert_not_null(c = config_build(&a, err, sizeof(err)), "%s", err);
	/* From the command line... */
	cr_assert_eq(c->rpc_workers, 8);
	cr_assert_str_eq(c->rpc_url, "ipc:///tmp/cli.sock");
	cr_assert_eq(c->max_per_pf, 2);
	cr_assert_str_eq(config_find_pf(c, "sim0")->backend, "virtio-admin");
	cr_assert_str_eq(config_find_pf(c, "sim0")->spec, "sim:/cli");
	cr_assert_str_eq(config_find_pf(c, "sim1")->spec, "sim:/cli1");
	cr_assert_eq(c->npfs, 2);
	/* ...and from the file where the command line says nothing. */
	cr_assert_eq(c->log_level, LOG_LEVEL_WARN);
	cr_assert_eq(c->max_outgoing, 3);
	/* ...and defaults where neither does. */
	cr_assert_eq(c->max_incoming, 4);
	cr_assert_str_eq(c->path, conf_path);
	config_free(c);
	config_args_free(&a);
	LEAK_CHECK();
}

Test(options, debug_is_log_level)
{
	struct config_args	 a;
	struct config		*c;
	char			 err[256];

	cr_assert_eq(PARSE(&a, err, "-c", conf_path, "-d"), 0, "%s", err);
	cr_assert_not_null(c = config_build(&a, err, sizeof(err)), "%s", err);
	cr_assert_eq(c->log_level, LOG_LEVEL_DEBUG);
	config_free(c);
	config_args_free(&a);
	LEAK_CHECK();
}

Test(options, every_key_is_an_option)
{
	static const char *const opts[] = { "--rpc-url", "--rpc-tcp-url",
	    "--events-url", "--stream-bind", "--plugin-dir", "--log-level",
	    "--max-message-bytes", "--rpc-workers", "--status-interval",
	    "--metrics-listen", "--max-outgoing", "--max-incoming",
	    "--max-per-pf", "--bandwidth", "--config", "--foreground",
	    "--check", "--debug", "--pf", "--version", "--help" };
	char	*text = NULL;
	size_t	 len, i;
	FILE	*f;

	cr_assert_not_null(f = open_memstream(&text, &len));
	config_usage(f, "vmigd");
	fclose(f);
	for (i = 0; i < sizeof(opts) / sizeof(opts[0]); i++)
		cr_assert(strstr(text, opts[i]) != NULL, "%s missing from "
		    "--help", opts[i]);
	free(text);
	LEAK_CHECK();
}

Test(options, bad_options)
{
	struct config_args	a;
	char			err[256];

	cr_assert_eq(PARSE(&a, err, "--bogus"), -EINVAL);
	cr_assert(strstr(err, "unknown option --bogus") != NULL, "%s", err);
	cr_assert_eq(PARSE(&a, err, "-x"), -EINVAL);
	cr_assert(strstr(err, "unknown option -x") != NULL, "%s", err);
	cr_assert_eq(PARSE(&a, err, "--rpc-url"), -EINVAL);
	cr_assert(strstr(err, "--rpc-url needs a value") != NULL, "%s", err);
	cr_assert_eq(PARSE(&a, err, "-f", "stray"), -EINVAL);
	cr_assert(strstr(err, "unexpected argument 'stray'") != NULL, "%s",
	    err);
	LEAK_CHECK();
}

Test(options, bad_values)
{
	struct config_args	 a;
	struct config		*c;
	char			 err[256];

	cr_assert_eq(PARSE(&a, err, "-c", conf_path, "--rpc-workers", "0"), 0);
	cr_assert_null(c = config_build(&a, err, sizeof(err)));
	cr_assert(strstr(err, "command line --rpc-workers: [daemon] "
	    "rpc_workers = 0: must be between 1 and 256") != NULL, "%s", err);
	config_args_free(&a);

	cr_assert_eq(PARSE(&a, err, "-c", conf_path, "--pf", "nonsense"), 0);
	cr_assert_null(c = config_build(&a, err, sizeof(err)));
	cr_assert(strstr(err, "command line --pf: 'nonsense': expected "
	    "NAME=BACKEND:SPEC") != NULL, "%s", err);
	config_args_free(&a);

	cr_assert_eq(PARSE(&a, err, "-c", conf_path, "--bandwidth", "fast"), 0);
	cr_assert_null(c = config_build(&a, err, sizeof(err)));
	cr_assert(strstr(err, "bandwidth = fast: not a size") != NULL, "%s",
	    err);
	config_args_free(&a);
	LEAK_CHECK();
}

Test(options, config_file_needed_only_when_named)
{
	struct config_args	 a;
	struct config		*c;
	char			 err[256], path[160];

	snprintf(path, sizeof(path), "%s/missing.conf", tmpdir);
	cr_assert_eq(PARSE(&a, err, "--config", path), 0, "%s", err);
	cr_assert_null(c = config_build(&a, err, sizeof(err)));
	cr_assert(strstr(err, "missing.conf: cannot read it") != NULL, "%s",
	    err);
	/* The same path standing in for the default: fine. */
	a.config_explicit = 0;
	cr_assert_not_null(c = config_build(&a, err, sizeof(err)), "%s", err);
	cr_assert_null(c->path);
	config_free(c);
	config_args_free(&a);
	LEAK_CHECK();
}

/* What config_doc() documents (the man pages) is what the parser takes. */
Test(options, documented_options_parse)
{
	struct config_args	a;
	struct config_doc	d;
	char			err[256], opt[64], key[96];
	size_t			i, keys = 0;

	for (i = 0; config_doc(i, &d) == 0; i++) {
		cr_assert_not_null(d.doc);
		if (d.section == NULL)
			continue;
		keys++;
		snprintf(opt, sizeof(opt), "--%s", d.option);
		cr_assert_eq(PARSE(&a, err, opt, d.def), 0, "%s: %s", opt, err);
		cr_assert_eq(a.nsets, 1, "%s", opt);
		snprintf(key, sizeof(key), "%s.%s", d.section, d.key);
		cr_assert_str_eq(a.sets[0].key, key);
		config_args_free(&a);
	}
	cr_assert_geq(keys, 14);
	cr_assert_eq(config_doc(i, &d), -ENOENT);
	LEAK_CHECK();
}
