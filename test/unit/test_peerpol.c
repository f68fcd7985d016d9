/*
 * test_peerpol.c: where a daemon may send a VM's memory: a table of
 * policies and StartMigration stream URLs with the verdict each must get
 * (allowed or refused, and why; the TLS name the dialer must check), and
 * the allow-list parser's refusals.
 */
#include "config.h"

#include <errno.h>
#include <string.h>

#include <criterion/criterion.h>

#include "peerpol.h"
#include "util.h"
#include "leakcheck.h"

struct pcase {
	const char	*allow;
	int		 require_tls;
	const char	*peer_name;
	const char	*url;
	int		 rc;
	const char	*says;		/* in err (refused) or server_name */
};

static const struct pcase cases[] = {
	/* no policy: any stream URL, nothing more */
	{ "", 0, "", "tcp://203.0.113.9:41235", 0, "" },
	{ "", 0, "", "tcp://anywhere.example:1", 0, "" },
	/* prefixes, v4 and v6 */
	{ "10.0.0.0/8", 0, "", "tcp://10.1.2.3:41235", 0, "" },
	{ "10.0.0.0/8", 0, "", "tcp://11.1.2.3:41235", -EACCES,
	  "11.1.2.3 is in no prefix of stream_allow" },
	{ "10.0.0.0/8, 192.0.2.7", 0, "", "tcp://192.0.2.7:5", 0, "" },
	{ "10.0.0.0/8 192.0.2.7", 0, "", "tcp://192.0.2.8:5", -EACCES,
	  "no prefix" },
	{ "192.168.4.0/22", 0, "", "tcp://192.168.7.255:5", 0, "" },
	{ "192.168.4.0/22", 0, "", "tcp://192.168.8.0:5", -EACCES, "" },
	{ "fd00::/8", 0, "", "tcp://[fd12::1]:41235", 0, "" },
	{ "fd00::/8", 0, "", "tcp://[fe80::1]:41235", -EACCES, "fe80::1" },
	{ "0.0.0.0/0", 0, "", "tcp://[::1]:1", -EACCES, "" },
	{ "::/0", 0, "", "tcp://[::1]:1", 0, "" },
	/* an IPv4-mapped address is IPv4 */
	{ "10.0.0.0/8", 0, "", "tcp://[::ffff:10.0.0.5]:7", 0, "" },
	{ "10.0.0.0/8", 0, "", "tcp6://[::ffff:11.0.0.5]:7", -EACCES, "" },
	/* names: exact or a suffix, any case; never matched by a prefix */
	{ "dst1.example", 0, "", "tcp://DST1.example:9", 0, "" },
	{ "dst1.example", 0, "", "tcp://dst2.example:9", -EACCES,
	  "dst2.example is no name in stream_allow" },
	{ ".rack7.example", 0, "", "tcp://h3.rack7.example:9", 0, "" },
	{ ".rack7.example", 0, "", "tcp://rack7.example:9", -EACCES, "" },
	{ ".rack7.example", 0, "", "tcp://evilrack7.example:9", -EACCES, "" },
	{ "0.0.0.0/0", 0, "", "tcp://localhost:9", -EACCES,
	  "never checked against address prefixes" },
	/* TLS required, or a certificate name */
	{ "", 1, "", "tcp://10.0.0.1:9", -EACCES, "stream_require_tls" },
	{ "", 1, "", "tls+tcp://10.0.0.1:9", 0, "10.0.0.1" },
	{ "", 0, "", "tls+tcp://[fd00::2]:9", 0, "fd00::2" },
	{ "", 0, "host", "tcp://dst1.example:9", -EACCES,
	  "stream_peer_name needs" },
	{ "", 0, "host", "tls+tcp://dst1.example:9", 0, "dst1.example" },
	{ "", 0, "vmigd.dst", "tls+tcp://[fd00::2]:9", 0, "vmigd.dst" },
	{ "fd00::/16", 0, "vmigd.dst", "tls+tcp6://[fd00::2]:9", 0,
	  "vmigd.dst" },
	/* not a stream URL at all */
	{ "", 0, "", "ipc:///tmp/x", -EINVAL, "not tcp:// or tls+tcp://" },
	{ "", 0, "", "tcp://10.0.0.1", -EINVAL, "no port" },
	{ "", 0, "", "tcp://10.0.0.1:0", -EINVAL, "is not 1-65535" },
	{ "", 0, "", "tcp://10.0.0.1:70000", -EINVAL, "is not 1-65535" },
	{ "", 0, "", "tcp://:5", -EINVAL, "no host" },
	{ "", 0, "", "tcp://[fd00::1:5", -EINVAL, "[IPv6]:port expected" },
	{ "", 0, "", "", -EINVAL, "not tcp://" },
};

Test(peerpol, table)
{
	struct peerpol		 p;
	struct peerpol_verdict	 v;
	char			 err[512];
	size_t			 i;
	int			 rc;

	for (i = 0; i < nitems(cases); i++) {
		cr_assert_eq(peerpol_parse(&p, cases[i].allow,
		    cases[i].require_tls, cases[i].peer_name, err,
		    sizeof(err)), 0, "%zu: %s", i, err);
		err[0] = '\0';
		rc = peerpol_check(&p, cases[i].url, &v, err, sizeof(err));
		cr_expect_eq(rc, cases[i].rc, "%zu (%s, %s): %d: %s", i,
		    cases[i].allow, cases[i].url, rc, err);
		if (rc != 0) {
			cr_expect(strstr(err, cases[i].says) != NULL,
			    "%zu: '%s' lacks '%s'", i, err, cases[i].says);
			if (cases[i].url[0] != '\0')
				cr_expect(strstr(err, cases[i].url) != NULL,
				    "%zu: '%s' does not name the URL", i, err);
		} else
			cr_expect_str_eq(v.server_name, cases[i].says,
			    "%zu: server name", i);
		peerpol_clear(&p);
	}
	LEAK_CHECK();
}

Test(peerpol, parse_refusals)
{
	static const struct {
		const char	*allow;
		const char	*name;
		const char	*says;
	} bad[] = {
		{ "10.0.0.0/33", "", "prefix length must be 0 to 32" },
		{ "fd00::/129", "", "0 to 128" },
		{ "10.0.0.1/8", "", "bits are set past the prefix" },
		{ "10.0.0.0/x", "", "prefix length" },
		{ "not_a_host!", "", "not an address, a prefix" },
		{ "name/8", "", "not an address" },
		{ "", "bad name!", "stream_peer_name 'bad name!'" },
	};
	struct peerpol	p;
	char		err[512];
	size_t		i;

	for (i = 0; i < nitems(bad); i++) {
		cr_assert_eq(peerpol_parse(&p, bad[i].allow, 0, bad[i].name,
		    err, sizeof(err)), -EINVAL, "%zu: accepted", i);
		cr_assert(strstr(err, bad[i].says) != NULL, "%zu: '%s' lacks "
		    "'%s'", i, err, bad[i].says);
	}
	/* a name implies TLS */
	cr_assert_eq(peerpol_parse(&p, "", 0, "host", err, sizeof(err)), 0);
	cr_assert(p.require_tls);
	peerpol_clear(&p);
	LEAK_CHECK();
}
