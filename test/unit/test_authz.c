/*
 * test_authz.c: the control API's authorization decision as a table
 * (transport, uid, gid against owner, rpc_group and its member list,
 * rpc_read_group, TLS verification, rpc_insecure_tcp), the reasons it
 * gives, and the group lookups (by name, by number, unknown).
 */
#include "config.h"

#include <string.h>
#include <unistd.h>

#include <criterion/criterion.h>

#include "authz.h"
#include "log.h"
#include "util.h"
#include "leakcheck.h"

#define OWNER	1000
#define GROUP	500
#define READG	600

struct acase {
	const char		*what;
	enum authz_transport	 transport;
	uint64_t		 uid, gid;
	int			 verified;
	int			 with_groups;	/* rpc_group and rpc_read_group */
	int			 insecure;
	enum authz_level	 want;
	const char		*says;		/* in the reason (NULL: none) */
};

static const struct acase cases[] = {
	{ "root", AUTHZ_IPC, 0, 0, 0, 1, 0, AUTHZ_FULL, NULL },
	{ "owner", AUTHZ_IPC, OWNER, 77, 0, 1, 0, AUTHZ_FULL, NULL },
	{ "primary group", AUTHZ_IPC, 2001, GROUP, 0, 1, 0, AUTHZ_FULL, NULL },
	{ "listed member", AUTHZ_IPC, 2002, 9, 0, 1, 0, AUTHZ_FULL, NULL },
	{ "read group primary", AUTHZ_IPC, 3001, READG, 0, 1, 0, AUTHZ_READ,
	  "in rpc_read_group (gid 600) only" },
	{ "read group listed", AUTHZ_IPC, 3002, 9, 0, 1, 0, AUTHZ_READ,
	  "read-only calls" },
	{ "stranger", AUTHZ_IPC, 4000, 4000, 0, 1, 0, AUTHZ_NONE,
	  "nor in rpc_group (gid 500) or rpc_read_group" },
	{ "stranger, no groups", AUTHZ_IPC, 4000, 4000, 0, 0, 0, AUTHZ_NONE,
	  "no rpc_group is configured" },
	{ "member without groups configured", AUTHZ_IPC, 2002, GROUP, 0, 0, 0,
	  AUTHZ_NONE, "uid 2002" },
	{ "tls verified", AUTHZ_TLS, 0, 0, 1, 0, 0, AUTHZ_FULL, NULL },
	{ "tls not verified", AUTHZ_TLS, 0, 0, 0, 0, 0, AUTHZ_NONE,
	  "was not verified" },
	{ "plain tcp", AUTHZ_TCP, 0, 0, 0, 0, 0, AUTHZ_NONE,
	  "without rpc_insecure_tcp = yes" },
	{ "plain tcp, insecure", AUTHZ_TCP, 0, 0, 0, 0, 1, AUTHZ_FULL, NULL },
	{ "gone", AUTHZ_UNKNOWN, 0, 0, 0, 1, 1, AUTHZ_NONE, "says nothing" },
};

Test(authz, table)
{
	static uid_t	 members[] = { 2002, 2003 }, readers[] = { 3002 };
	struct authz	 a;
	struct authz_peer p;
	char		 why[256];
	size_t		 i;

	for (i = 0; i < nitems(cases); i++) {
		memset(&a, 0, sizeof(a));
		a.owner = OWNER;
		a.insecure_tcp = cases[i].insecure;
		if (cases[i].with_groups) {
			a.has_group = 1;
			a.group = GROUP;
			a.members = members;
			a.nmembers = nitems(members);
			a.has_read_group = 1;
			a.read_group = READG;
			a.read_members = readers;
			a.nread_members = nitems(readers);
		}
		memset(&p, 0, sizeof(p));
		p.transport = cases[i].transport;
		p.uid = cases[i].uid;
		p.gid = cases[i].gid;
		p.tls_verified = cases[i].verified;
		why[0] = '\0';
		cr_expect_eq(authz_level(&a, &p, why, sizeof(why)),
		    cases[i].want, "%s: level %d", cases[i].what,
		    authz_level(&a, &p, why, sizeof(why)));
		if (cases[i].says != NULL)
			cr_expect(strstr(why, cases[i].says) != NULL,
			    "%s: '%s' lacks '%s'", cases[i].what, why,
			    cases[i].says);
	}
}

Test(authz, group_lookups)
{
	struct authz	*a;
	char		 err[256];

	log_init(LOG_LEVEL_ERROR, "test_authz");
	cr_assert_not_null(a = authz_new("0", "root", 0, err, sizeof(err)),
	    "%s", err);
	cr_assert(a->has_group && a->group == 0);
	cr_assert(a->has_read_group && a->read_group == 0);
	cr_assert_eq(a->owner, geteuid());
	authz_free(a);
	cr_assert_not_null(a = authz_new("", NULL, 1, err, sizeof(err)));
	cr_assert(!a->has_group && !a->has_read_group && a->insecure_tcp);
	authz_free(a);
	cr_assert_null(authz_new("no-such-group-vmig", NULL, 0, err,
	    sizeof(err)));
	cr_assert(strstr(err, "[security] rpc_group = no-such-group-vmig: no "
	    "such group") != NULL, "%s", err);
	cr_assert_null(authz_new(NULL, "4294967000", 0, err, sizeof(err)));
	cr_assert(strstr(err, "rpc_read_group") != NULL, "%s", err);
	LEAK_CHECK();
}

Test(authz, peer_strings)
{
	struct authz_peer	p;
	char			buf[128];

	memset(&p, 0, sizeof(p));
	p.transport = AUTHZ_IPC;
	p.uid = 7;
	p.gid = 8;
	p.pid = 9;
	cr_assert_str_eq(authz_peer_str(&p, buf, sizeof(buf)),
	    "uid 7 gid 8 pid 9 over ipc");
	p.transport = AUTHZ_TLS;
	strlcpy_v(p.addr, "10.0.0.1:5", sizeof(p.addr));
	cr_assert_str_eq(authz_peer_str(&p, buf, sizeof(buf)),
	    "10.0.0.1:5 over tls+tcp (certificate not verified)");
}
