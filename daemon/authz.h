/*
 * authz.h: who may call the control API (README.md, "Security").
 *
 * Checked on every call, from the pipe the request came on:
 *
 *  ipc://	 the caller's uid and primary gid (SO_PEERCRED, through nng's
 *		 NNG_OPT_IPC_PEER_UID / _GID). Everything: root, the daemon's
 *		 own user, members of rpc_group (primary group, or listed in
 *		 the group). Read-only calls only: members of rpc_read_group.
 *		 Nobody else, whatever the socket file's mode let connect.
 *  tls+tcp://	 a client certificate the configured CA signed (the TLS
 *		 handshake refuses any other, NNG_TLS_AUTH_MODE_REQUIRED; the
 *		 pipe's NNG_OPT_TLS_VERIFIED is checked again here): every call.
 *  tcp://	 only with rpc_insecure_tcp = yes (the daemon warns at start):
 *		 every call, from anyone who can reach the port.
 *
 * Read-only calls are those whose api.h entry has reads_only set (they
 * change no job and no device: versions, devices, status, jobs, events).
 *
 * authz_level() is pure (identity and policy in, level out); the group
 * names are resolved to ids and member lists once, by authz_new(), at
 * start-up (a membership change takes a restart).
 */
#ifndef VMIG_AUTHZ_H
#define VMIG_AUTHZ_H

#include <sys/types.h>

#include <stddef.h>
#include <stdint.h>

#include <nng/nng.h>

enum authz_level {
	AUTHZ_NONE = 0,		/* no call at all */
	AUTHZ_READ,		/* read-only calls */
	AUTHZ_FULL,		/* every call */
};

enum authz_transport {
	AUTHZ_UNKNOWN = 0,	/* the pipe is gone, or says nothing */
	AUTHZ_IPC,
	AUTHZ_TLS,
	AUTHZ_TCP,		/* plain, unauthenticated */
};

/* What the pipe tells about the caller. */
struct authz_peer {
	enum authz_transport	 transport;
	uint64_t		 uid, gid, pid;	/* ipc only */
	int			 tls_verified;	/* tls only */
	char			 addr[64];	/* tcp, tls: "10.0.0.1:51234" */
};

struct authz {
	uid_t		 owner;		/* the daemon's effective uid */
	gid_t		 owner_group;	/* and gid: the unit's Group= */
	uid_t		*owner_members;	/* listed in it (adduser alice vmigd) */
	size_t		 nowner_members;
	int		 has_group;
	gid_t		 group;
	uid_t		*members;	/* listed in the group */
	size_t		 nmembers;
	int		 has_read_group;
	gid_t		 read_group;
	uid_t		*read_members;
	size_t		 nread_members;
	int		 insecure_tcp;	/* rpc_insecure_tcp = yes */
};

/*
 * Resolve group and read_group (a name or a number; NULL or "": none).
 * NULL with err naming the key when a group does not exist.
 */
struct authz	*authz_new(const char *group, const char *read_group,
		    int insecure_tcp, char *err, size_t errlen);
void		 authz_free(struct authz *a);

/* The level for a caller; why names it and the reason on NONE/READ. */
enum authz_level authz_level(const struct authz *a,
		    const struct authz_peer *p, char *why, size_t whylen);

/* Read what an nng pipe says about its peer (any thread). */
void		 authz_peer_of(nng_pipe pipe, struct authz_peer *p);
/* "uid 1000 gid 1000 pid 4242 over ipc" for logs. */
const char	*authz_peer_str(const struct authz_peer *p, char *buf,
		    size_t len);

#endif /* VMIG_AUTHZ_H */
