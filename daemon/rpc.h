/*
 * rpc.h: the control API server (nng REP, protobuf vmig.v1.Request in,
 * vmig.v1.Response out).
 *
 * nng receives on `workers` contexts, each with its own aio; its callbacks
 * only hand the context to the loop (wake.h). Decoding, validation,
 * dispatch and the reply all happen on the loop thread, so handlers may
 * touch daemon state freely.
 *
 * A handler gets a struct rpc_call: the decoded request, a response to fill
 * (call->result is the oneof result message the dispatcher allocated). It
 * either returns RPC_REPLY, and the reply goes out at once, or RPC_DEFER:
 * it keeps the call and later calls rpc_call_reply() from the loop (a
 * migration call that waits for device commands). A deferred call holds
 * its nng context; rpc opens another so the server keeps `workers`
 * contexts receiving. Calls still open when the server closes are
 * answered STATUS_UNAVAILABLE, after their abandon hook (if set) told the
 * owner to forget them.
 *
 * Response memory: everything reachable from call->resp is freed with
 * protobuf_c_message_free_unpacked(), so handlers allocate strings
 * (xstrdup), repeated arrays and submessages (rpc_msg_new) on the heap and
 * never point into daemon state.
 */
#ifndef VMIG_RPC_H
#define VMIG_RPC_H

#include <sys/queue.h>
#include <sys/types.h>

#include <stddef.h>
#include <stdint.h>

#include <nng/nng.h>
#include <nng/supplemental/tls/tls.h>

#include "vmig.pb-c.h"

struct authz;
struct event_base;
struct wake;
struct rpc;
struct rpc_ctx;
struct rpc_call;

enum rpc_disposition {
	RPC_REPLY = 0,		/* reply now with call->resp */
	RPC_DEFER = 1,		/* the handler replies later */
};

/* Decide what to do with one decoded request (loop thread). */
typedef int (*rpc_dispatch_fn)(struct rpc_call *call, void *arg);
/*
 * The server is closing: forget the call. rpc answers it UNAVAILABLE and
 * frees it afterwards, so the hook must not reply itself.
 */
typedef void (*rpc_abandon_fn)(struct rpc_call *call, void *arg);

/*
 * The fast lane: a call answered on the nng thread that received it,
 * without the loop, from data the loop published (view.h). fast(arg, req,
 * resp) fills resp's result and returns 1, or returns 0 and the call goes
 * to the loop as usual (so errors keep one author). It must be
 * thread-safe and must not touch loop state.
 */
typedef int (*rpc_fast_fn)(void *arg, const Vmig__V1__Request *req,
		    Vmig__V1__Response *resp);

struct rpc_params {
	const char	*url;		/* required: ipc://, tcp://, ... */
	const char	*tcp_url;	/* optional second listener; NULL or "" */
	uint64_t	 max_message_bytes;	/* larger requests: RESOURCE_EXHAUSTED */
	uint64_t	 hard_max_bytes;	/* nng drops the connection above; 0: 2x */
	unsigned int	 workers;	/* receiving contexts */
	int		 ipc_mode;	/* socket file mode; 0: 0660 */
	int		 ipc_chgrp;	/* give the socket file to ipc_gid */
	gid_t		 ipc_gid;
	/*
	 * Who may call (authz.h), checked on every call before it is
	 * decoded and again, for read-only callers, once its method is
	 * known (read_only(call_case)). NULL: everyone (unit tests).
	 */
	const struct authz *authz;
	int		(*read_only)(int call_case);
	nng_tls_config	*tls;		/* for tls+tcp:// URLs (held) */
	rpc_fast_fn	 fast;		/* NULL: every call goes to the loop */
	void		*fast_arg;
};

struct rpc_call {
	struct rpc		*rpc;
	uint64_t		 seq;		/* daemon-side number, for logs */
	const Vmig__V1__Request	*req;		/* decoded request */
	Vmig__V1__Response	*resp;		/* to fill; status starts OK */
	void			*result;	/* resp's result message, or NULL */
	const char		*name;		/* call name for logs ("GetVersion") */
	size_t			 req_bytes;
	uint64_t		 start_us;	/* handling began on the loop */
	uint64_t		 queued_us;	/* received .. start_us */

	rpc_abandon_fn		 abandon;	/* set by a handler that defers */
	void			*abandon_arg;

	/* rpc.c's */
	struct rpc_ctx		*ctx;
	int			 deferred;
	TAILQ_ENTRY(rpc_call)	 entry;
};

struct rpc_stats {
	uint64_t	 requests;	/* answered */
	uint64_t	 errors;	/* answered with a status other than OK */
	uint64_t	 bad_requests;	/* did not decode, or were too large */
	uint64_t	 fast;		/* of requests: answered off the loop */
	uint64_t	 denied;	/* refused: PERMISSION_DENIED */
	unsigned int	 open_calls;	/* deferred, not yet answered */
	unsigned int	 contexts;	/* nng contexts open */
};

/*
 * Answers by call and status: n[c][s] counts the calls whose Request oneof
 * field number is c (0: none, one that did not decode, or c >=
 * RPC_CALLS_MAX) answered with status code s (RPC_STATUS_MAX - 1: a code
 * beyond the known ones). Fast-lane answers included.
 */
#define RPC_CALLS_MAX	32
#define RPC_STATUS_MAX	16
struct rpc_counts {
	uint64_t	 n[RPC_CALLS_MAX][RPC_STATUS_MAX];
};

struct rpc	*rpc_open(struct event_base *base, struct wake *wake,
		    const struct rpc_params *p, rpc_dispatch_fn dispatch,
		    void *arg, char *err, size_t errlen);
void		 rpc_close(struct rpc *rpc);
/*
 * New TLS credentials (a reload): every tls+tcp:// listener is closed and
 * opened again on its bound address with cfg (connections already up stay
 * on the old credentials). 0, or -errno with err naming the URL.
 */
int		 rpc_set_tls(struct rpc *rpc, nng_tls_config *cfg, char *err,
		    size_t errlen);
void		 rpc_get_stats(const struct rpc *rpc, struct rpc_stats *st);
void		 rpc_get_counts(const struct rpc *rpc, struct rpc_counts *out);
/* The URLs as listening (a tcp port 0 resolved to the bound port). */
const char	*rpc_url(const struct rpc *rpc);
const char	*rpc_tcp_url(const struct rpc *rpc);
uint64_t	 rpc_max_message_bytes(const struct rpc *rpc);

/*
 * Make resp's result the oneof member result_case (a field number of
 * vmig.v1.Response) and return it freshly initialised (also call->result).
 */
void		*rpc_call_set_result(struct rpc_call *call, int result_case);
/* Fail the call: drop any result, set code and message; returns RPC_REPLY. */
int		 rpc_call_error(struct rpc_call *call, Vmig__V1__StatusCode code,
		    const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* Send call->resp and free the call (loop thread; deferred calls only). */
void		 rpc_call_reply(struct rpc_call *call);

/* A heap message of type d, initialised (for response fields). */
void		*rpc_msg_new(const ProtobufCMessageDescriptor *d);
/* "STATUS_NOT_FOUND" for a code. */
const char	*rpc_status_name(int code);

/*
 * Exposed for tests and the fuzzer: decode and check one request exactly
 * as the server does. Returns the request (free with
 * vmig__v1__request__free_unpacked) or NULL with *code, err set; *id gets
 * the request_id when it could be read, even from a request refused.
 */
Vmig__V1__Request *rpc_decode(const void *buf, size_t len, uint64_t max,
		    uint64_t *id, Vmig__V1__StatusCode *code, char *err,
		    size_t errlen);

#endif /* VMIG_RPC_H */
