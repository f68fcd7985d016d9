/*
 * authz.c: control API authorization (authz.h): the group lookups done
 * once at start-up, the pure decision per call, and what an nng pipe says
 * about its peer.
 */
#include "config.h"

#include <sys/types.h>
#include <sys/socket.h>

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <grp.h>
#include <inttypes.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <nng/nng.h>

#include "authz.h"
#include "log.h"
#include "util.h"

/* getgrnam_r / getgrgid_r with a buffer that grows as ERANGE asks. */
static int
authz_getgr(const char *name, struct group *gr, char **buf)
{
	struct group	*res = NULL;
	unsigned long	 id;
	size_t		 len = 1024;
	char		*end;
	int		 rc;

	errno = 0;
	id = strtoul(name, &end, 10);
	for (;;) {
		*buf = xrealloc(*buf, len);
		if (isdigit((unsigned char)*name) && *end == '\0' && errno == 0)
			rc = getgrgid_r((gid_t)id, gr, *buf, len, &res);
		else
			rc = getgrnam_r(name, gr, *buf, len, &res);
		if (rc != ERANGE || len >= (1u << 24))
			break;
		len *= 2;
	}
	if (rc != 0)
		return (-rc);
	return (res != NULL ? 0 : -ENOENT);
}

static uid_t
authz_uid_of(const char *user, int *found)
{
	struct passwd	 pw, *res = NULL;
	char		*buf = NULL;
	size_t		 len = 1024;
	int		 rc;

	for (;;) {
		buf = xrealloc(buf, len);
		rc = getpwnam_r(user, &pw, buf, len, &res);
		if (rc != ERANGE || len >= (1u << 24))
			break;
		len *= 2;
	}
	*found = rc == 0 && res != NULL;
	free(buf);
	return (*found ? pw.pw_uid : 0);
}

/* One group key into its gid and member uids. */
static int
authz_group(const char *key, const char *name, gid_t *gid, uid_t **members,
    size_t *n, char *err, size_t errlen)
{
	struct group	 gr;
	char		*buf = NULL, **m;
	uid_t		 uid;
	int		 rc, found;

	if ((rc = authz_getgr(name, &gr, &buf)) != 0) {
		free(buf);
		return (err_set(err, errlen, -EINVAL, "[security] %s = %s: %s",
		    key, name, rc == -ENOENT ? "no such group" :
		    strerror(-rc)));
	}
	*gid = gr.gr_gid;
	for (m = gr.gr_mem; m != NULL && *m != NULL; m++) {
		uid = authz_uid_of(*m, &found);
		if (!found) {
			log_warnx("[security] %s = %s: member %s is not a user: "
			    "ignored", key, name, *m);
			continue;
		}
		*members = xreallocarray(*members, *n + 1, sizeof(**members));
		(*members)[(*n)++] = uid;
	}
	free(buf);
	return (0);
}

struct authz *
authz_new(const char *group, const char *read_group, int insecure_tcp,
    char *err, size_t errlen)
{
	struct authz	*a;
	char		 gid[32], ignored[256];

	a = xcalloc(1, sizeof(*a));
	a->owner = geteuid();
	a->owner_group = getegid();
	/* a group without an entry has no listed members: gid alone then */
	snprintf(gid, sizeof(gid), "%u", (unsigned int)a->owner_group);
	(void)authz_group("the daemon's group", gid, &a->owner_group,
	    &a->owner_members, &a->nowner_members, ignored, sizeof(ignored));
	a->insecure_tcp = insecure_tcp;
	if (group != NULL && *group != '\0') {
		if (authz_group("rpc_group", group, &a->group, &a->members,
		    &a->nmembers, err, errlen) != 0)
			goto fail;
		a->has_group = 1;
	}
	if (read_group != NULL && *read_group != '\0') {
		if (authz_group("rpc_read_group", read_group, &a->read_group,
		    &a->read_members, &a->nread_members, err, errlen) != 0)
			goto fail;
		a->has_read_group = 1;
	}
	return (a);
fail:
	authz_free(a);
	return (NULL);
}

void
authz_free(struct authz *a)
{
	if (a == NULL)
		return;
	free(a->members);
	free(a->read_members);
	free(a->owner_members);
	free(a);
}

static int
authz_in(uint64_t uid, uint64_t gid, int has, gid_t group,
    const uid_t *members, size_t n)
{
	size_t	i;

	if (!has)
		return (0);
	if (gid == (uint64_t)group)
		return (1);
	for (i = 0; i < n; i++) {
		if ((uint64_t)members[i] == uid)
			return (1);
	}
	return (0);
}

enum authz_level
authz_level(const struct authz *a, const struct authz_peer *p, char *why,
    size_t whylen)
{
	char	who[128];

	authz_peer_str(p, who, sizeof(who));
	switch (p->transport) {
	case AUTHZ_IPC:
		/* vmigd's own group: the unit's sockets are group vmigd */
		if (p->uid == 0 || p->uid == (uint64_t)a->owner ||
		    authz_in(p->uid, p->gid, 1, a->owner_group,
		    a->owner_members, a->nowner_members) ||
		    authz_in(p->uid, p->gid, a->has_group, a->group,
		    a->members, a->nmembers))
			return (AUTHZ_FULL);
		if (authz_in(p->uid, p->gid, a->has_read_group, a->read_group,
		    a->read_members, a->nread_members)) {
			err_set(why, whylen, 0, "%s is in rpc_read_group (gid "
			    "%u) only: read-only calls", who,
			    (unsigned int)a->read_group);
			return (AUTHZ_READ);
		}
		if (a->has_group)
			err_set(why, whylen, 0, "%s is neither root, vmigd's "
			    "user (uid %u) or group (gid %u), nor in rpc_group "
			    "(gid %u)%s", who, (unsigned int)a->owner,
			    (unsigned int)a->owner_group, (unsigned int)a->group,
			    a->has_read_group ? " or rpc_read_group" : "");
		else
			err_set(why, whylen, 0, "%s is neither root nor vmigd's "
			    "user (uid %u) or group (gid %u), and no rpc_group "
			    "is configured%s", who, (unsigned int)a->owner,
			    (unsigned int)a->owner_group, a->has_read_group ?
			    " (nor in rpc_read_group)" : "");
		return (AUTHZ_NONE);
	case AUTHZ_TLS:
		if (p->tls_verified)
			return (AUTHZ_FULL);
		err_set(why, whylen, 0, "%s: the client certificate was not "
		    "verified", who);
		return (AUTHZ_NONE);
	case AUTHZ_TCP:
		if (a->insecure_tcp)
			return (AUTHZ_FULL);
		err_set(why, whylen, 0, "%s: plain TCP callers are refused "
		    "without rpc_insecure_tcp = yes", who);
		return (AUTHZ_NONE);
	case AUTHZ_UNKNOWN:
		break;
	}
	err_set(why, whylen, 0, "%s: the connection says nothing about its "
	    "caller (gone?)", who);
	return (AUTHZ_NONE);
}

static void
authz_remote(nng_pipe pipe, struct authz_peer *p)
{
	nng_sockaddr	sa;
	char		host[INET6_ADDRSTRLEN];

	if (nng_pipe_get_addr(pipe, NNG_OPT_REMADDR, &sa) != 0)
		return;
	if (sa.s_family == NNG_AF_INET &&
	    inet_ntop(AF_INET, &sa.s_in.sa_addr, host, sizeof(host)) != NULL)
		snprintf(p->addr, sizeof(p->addr), "%s:%u", host,
		    ntohs(sa.s_in.sa_port));
	else if (sa.s_family == NNG_AF_INET6 &&
	    inet_ntop(AF_INET6, sa.s_in6.sa_addr, host, sizeof(host)) != NULL)
		snprintf(p->addr, sizeof(p->addr), "[%s]:%u", host,
		    ntohs(sa.s_in6.sa_port));
}

void
authz_peer_of(nng_pipe pipe, struct authz_peer *p)
{
	bool	verified;

	memset(p, 0, sizeof(*p));
	if (nng_pipe_get_uint64(pipe, NNG_OPT_IPC_PEER_UID, &p->uid) == 0) {
		p->transport = AUTHZ_IPC;
		if (nng_pipe_get_uint64(pipe, NNG_OPT_IPC_PEER_GID,
		    &p->gid) != 0)
			p->gid = UINT64_MAX;	/* in no group */
		(void)nng_pipe_get_uint64(pipe, NNG_OPT_IPC_PEER_PID, &p->pid);
		return;
	}
	if (nng_pipe_get_bool(pipe, NNG_OPT_TLS_VERIFIED, &verified) == 0) {
		p->transport = AUTHZ_TLS;
		p->tls_verified = verified;
		authz_remote(pipe, p);
		return;
	}
	if (nng_pipe_get_bool(pipe, NNG_OPT_TCP_NODELAY, &verified) == 0) {
		p->transport = AUTHZ_TCP;
		authz_remote(pipe, p);
	}
}

const char *
authz_peer_str(const struct authz_peer *p, char *buf, size_t len)
{
	switch (p->transport) {
	case AUTHZ_IPC:
		snprintf(buf, len, "uid %" PRIu64 " gid %" PRIu64 " pid %"
		    PRIu64 " over ipc", p->uid, p->gid, p->pid);
		break;
	case AUTHZ_TLS:
		snprintf(buf, len, "%s over tls+tcp (certificate %s)",
		    p->addr[0] != '\0' ? p->addr : "a caller", p->tls_verified ?
		    "verified" : "not verified");
		break;
	case AUTHZ_TCP:
		snprintf(buf, len, "%s over plain tcp", p->addr[0] != '\0' ?
		    p->addr : "a caller");
		break;
	default:
		snprintf(buf, len, "an unknown caller");
		break;
	}
	return (buf);
}
