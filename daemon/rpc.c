/*
 * rpc.c: the control API server: nng REP with one context per receiver,
 * decode and check on the loop, dispatch, encode, reply. No call logic
 * here: that is api.c's (through the dispatch function).
 *
 * A context goes RECV -> CALL -> SEND -> RECV. Its aio callback runs on an
 * nng thread and only posts the context to the loop (wake.h); everything
 * else happens on the loop thread. A call the handler defers keeps its
 * context in CALL, and another context is opened so `workers` are always
 * receiving; when a reply has gone out and enough contexts are receiving,
 * the spare one is closed.
 */
#include "config.h"

#include <sys/queue.h>

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <nng/nng.h>
#include <nng/protocol/reqrep0/rep.h>
#include <nng/supplemental/util/platform.h>

#include "authz.h"
#include "log.h"
#include "rpc.h"
#include "util.h"
#include "wake.h"

/* Deferred calls beyond this stop adding receiving contexts. */
#define RPC_MAX_DEFERRED	1024
#define RPC_IPC_HARD_MAX	(256ULL << 20)	/* ipc:// memory bound, see rpc_listen */

enum rpc_ctx_state {
	CTX_IDLE,
	CTX_RECV,
	CTX_CALL,
	CTX_SEND,
};

struct rpc_ctx {
	struct rpc		*rpc;
	nng_ctx			 ctx;
	nng_aio			*aio;
	enum rpc_ctx_state	 state;
	struct rpc_call		*call;		/* in CTX_CALL */
	uint64_t		 received_us;	/* nng handed the request over */
	int			 fast_sending;	/* nng threads only */
	Vmig__V1__Request	*decoded;	/* the fast lane passed it on */
	TAILQ_ENTRY(rpc_ctx)	 entry;
};

struct rpc_listener {
	nng_listener		 l;
	char			*url;		/* as bound */
	int			 tls;
};

struct rpc {
	struct wake		*wake;
	nng_socket		 sock;
	char			*url;
	char			*tcp_url;
	struct rpc_listener	 lst[2];
	unsigned int		 nlst;
	const struct authz	*authz;		/* NULL: everyone */
	int			(*read_only)(int);
	nng_tls_config		*tls;		/* held */
	uint64_t		 max;
	uint64_t		 hard_max;
	unsigned int		 workers;
	unsigned int		 receiving;
	unsigned int		 nctx;
	rpc_dispatch_fn		 dispatch;
	void			*arg;
	TAILQ_HEAD(, rpc_ctx)	 ctxs;
	TAILQ_HEAD(, rpc_call)	 calls;		/* deferred */
	struct rpc_stats	 st;
	uint64_t		 seq;
	int			 closing;	/* atomic: nng threads read it */
	rpc_fast_fn		 fast;
	void			*fast_arg;
	uint64_t		 nfast;		/* atomic */
	/* answers by call and status (rpc_get_counts); atomic: the fast
	 * lane counts GetJob on nng's threads, the loop everything else */
	uint64_t		 counts[RPC_CALLS_MAX][RPC_STATUS_MAX];
};

static void	rpc_ctx_recv(struct rpc_ctx *);
static void	rpc_ctx_done(void *);
static void	rpc_call_send(struct rpc_call *);
static void	rpc_call_free(struct rpc_call *);

const char *
rpc_status_name(int code)
{
	const ProtobufCEnumValue	*v;

	v = protobuf_c_enum_descriptor_get_value(
	    &vmig__v1__status_code__descriptor, code);
	return (v != NULL ? v->name : "STATUS_UNKNOWN");
}

void *
rpc_msg_new(const ProtobufCMessageDescriptor *d)
{
	ProtobufCMessage	*m;

	m = xmalloc(d->sizeof_message);
	d->message_init(m);
	return (m);
}

/* ---------------------------------------------------------------- decode */

static int
rpc_varint(const uint8_t *p, size_t len, size_t *off, uint64_t *v)
{
	unsigned int	shift;

	*v = 0;
	for (shift = 0; shift < 64 && *off < len; shift += 7) {
		*v |= (uint64_t)(p[*off] & 0x7f) << shift;
		if ((p[(*off)++] & 0x80) == 0)
			return (0);
	}
	return (-1);
}

/*
 * Find request_id (field 2) in a request we will not decode (too large,
 * or broken further on), so even a refusal can echo it.
 */
static int
rpc_peek_id(const uint8_t *p, size_t len, uint64_t *id)
{
	size_t		off = 0;
	uint64_t	key, v;
	int		n;

	for (n = 0; n < 64 && off < len; n++) {
		if (rpc_varint(p, len, &off, &key) != 0)
			return (-1);
		switch (key & 7) {
		case 0:
			if (rpc_varint(p, len, &off, &v) != 0)
				return (-1);
			if ((key >> 3) == 2) {
				*id = v;
				return (0);
			}
			break;
		case 1:
			off += 8;
			break;
		case 2:
			if (rpc_varint(p, len, &off, &v) != 0 || v > len - off)
				return (-1);
			off += v;
			break;
		case 5:
			off += 4;
			break;
		default:
			return (-1);
		}
	}
	return (-1);
}

static int
rpc_utf8_valid(const unsigned char *s)
{
	uint32_t	cp;
	int		n, i;

	while (*s != '\0') {
		if (*s < 0x80) {
			s++;
			continue;
		}
		if ((*s & 0xe0) == 0xc0) {
			n = 1;
			cp = *s & 0x1f;
		} else if ((*s & 0xf0) == 0xe0) {
			n = 2;
			cp = *s & 0x0f;
		} else if ((*s & 0xf8) == 0xf0) {
			n = 3;
			cp = *s & 0x07;
		} else
			return (0);
		for (i = 1; i <= n; i++) {
			if ((s[i] & 0xc0) != 0x80)
				return (0);
			cp = (cp << 6) | (s[i] & 0x3f);
		}
		/* Overlong forms, surrogates, beyond Unicode. */
		if ((n == 1 && cp < 0x80) || (n == 2 && cp < 0x800) ||
		    (n == 3 && cp < 0x10000) || cp > 0x10ffff ||
		    (cp >= 0xd800 && cp <= 0xdfff))
			return (0);
		s += n + 1;
	}
	return (1);
}

/*
 * proto3 strings are UTF-8 but protobuf-c does not check: refuse what is
 * not, so no name we echo back breaks a client's decoder. Returns the
 * offending field, or NULL.
 */
static const ProtobufCFieldDescriptor *
rpc_check_strings(const ProtobufCMessage *m, int depth, const char **owner)
{
	const ProtobufCMessageDescriptor	*d = m->descriptor;
	const ProtobufCFieldDescriptor		*f, *bad;
	const char				*p;
	size_t					 n, j;
	unsigned int				 i;

	if (depth > 16)
		return (NULL);
	for (i = 0; i < d->n_fields; i++) {
		f = &d->fields[i];
		if (f->type != PROTOBUF_C_TYPE_STRING &&
		    f->type != PROTOBUF_C_TYPE_MESSAGE)
			continue;
		p = (const char *)m + f->offset;
		if ((f->flags & PROTOBUF_C_FIELD_FLAG_ONEOF) &&
		    *(const uint32_t *)((const char *)m +
		    f->quantifier_offset) != f->id)
			continue;
		if (f->label == PROTOBUF_C_LABEL_REPEATED) {
			n = *(const size_t *)((const char *)m +
			    f->quantifier_offset);
			p = *(const char *const *)p;
		} else
			n = 1;
		for (j = 0; j < n; j++) {
			const void *v = ((const void *const *)p)[j];

			if (v == NULL)
				continue;
			if (f->type == PROTOBUF_C_TYPE_STRING) {
				if (!rpc_utf8_valid(v)) {
					*owner = d->name;
					return (f);
				}
			} else if ((bad = rpc_check_strings(v, depth + 1,
			    owner)) != NULL)
				return (bad);
		}
	}
	return (NULL);
}

Vmig__V1__Request *
rpc_decode(const void *buf, size_t len, uint64_t max, uint64_t *id,
    Vmig__V1__StatusCode *code, char *err, size_t errlen)
{
	Vmig__V1__Request		*req;
	const ProtobufCFieldDescriptor	*f;
	const char			*owner = NULL;
	size_t				 i;

	*id = 0;
	(void)rpc_peek_id(buf, len, id);
	if (len > max) {
		*code = VMIG__V1__STATUS_CODE__STATUS_RESOURCE_EXHAUSTED;
		snprintf(err, errlen, "request of %zu bytes is over the limit "
		    "of %" PRIu64 " bytes (max_message_bytes)", len, max);
		return (NULL);
	}
	if ((req = vmig__v1__request__unpack(NULL, len, buf)) == NULL) {
		*code = VMIG__V1__STATUS_CODE__STATUS_BAD_REQUEST;
		snprintf(err, errlen, "request of %zu bytes does not decode as "
		    "vmig.v1.Request", len);
		return (NULL);
	}
	*id = req->request_id;
	if ((f = rpc_check_strings(&req->base, 0, &owner)) != NULL) {
		*code = VMIG__V1__STATUS_CODE__STATUS_INVALID_ARGUMENT;
		snprintf(err, errlen, "field %s.%s is not valid UTF-8", owner,
		    f->name);
		goto fail;
	}
	if (req->api_version > 1) {
		*code = VMIG__V1__STATUS_CODE__STATUS_UNIMPLEMENTED;
		snprintf(err, errlen, "api_version %" PRIu32 " is not "
		    "supported: this daemon speaks api_version 1",
		    req->api_version);
		goto fail;
	}
	if (req->call_case == VMIG__V1__REQUEST__CALL__NOT_SET) {
		*code = VMIG__V1__STATUS_CODE__STATUS_UNIMPLEMENTED;
		for (i = 0; i < req->base.n_unknown_fields; i++) {
			if (req->base.unknown_fields[i].tag >= 10)
				break;
		}
		if (i < req->base.n_unknown_fields)
			snprintf(err, errlen, "unknown call (Request field "
			    "%" PRIu32 "): this daemon (vmigd %s) does not "
			    "implement it", req->base.unknown_fields[i].tag,
			    PACKAGE_VERSION);
		else
			snprintf(err, errlen, "request names no call");
		goto fail;
	}
	return (req);
fail:
	vmig__v1__request__free_unpacked(req, NULL);
	return (NULL);
}

/* ---------------------------------------------------------------- calls */

static void
rpc_drop_result(struct rpc_call *call)
{
	Vmig__V1__Response		*r = call->resp;
	const ProtobufCFieldDescriptor	*f;
	ProtobufCMessage		**mp;

	if (r->result_case == VMIG__V1__RESPONSE__RESULT__NOT_SET)
		return;
	f = protobuf_c_message_descriptor_get_field(
	    &vmig__v1__response__descriptor, r->result_case);
	VMIG_ASSERT(f != NULL && f->type == PROTOBUF_C_TYPE_MESSAGE);
	mp = (ProtobufCMessage **)((char *)r + f->offset);
	if (*mp != NULL)
		protobuf_c_message_free_unpacked(*mp, NULL);
	*mp = NULL;
	r->result_case = VMIG__V1__RESPONSE__RESULT__NOT_SET;
	call->result = NULL;
}

void *
rpc_call_set_result(struct rpc_call *call, int result_case)
{
	Vmig__V1__Response		*r = call->resp;
	const ProtobufCFieldDescriptor	*f;

	f = protobuf_c_message_descriptor_get_field(
	    &vmig__v1__response__descriptor, result_case);
	VMIG_ASSERT(f != NULL && (f->flags & PROTOBUF_C_FIELD_FLAG_ONEOF) &&
	    f->type == PROTOBUF_C_TYPE_MESSAGE);
	rpc_drop_result(call);
	call->result = rpc_msg_new(f->descriptor);
	*(void **)((char *)r + f->offset) = call->result;
	*(uint32_t *)((char *)r + f->quantifier_offset) = (uint32_t)result_case;
	return (call->result);
}

static void
rpc_set_status(Vmig__V1__Response *r, Vmig__V1__StatusCode code,
    const char *msg)
{
	r->status->code = code;
	if (r->status->message != protobuf_c_empty_string)
		free(r->status->message);
	r->status->message = xstrdup(msg);
}

int
rpc_call_error(struct rpc_call *call, Vmig__V1__StatusCode code,
    const char *fmt, ...)
{
	char	*msg;
	va_list	 ap;

	va_start(ap, fmt);
	if (vasprintf(&msg, fmt, ap) < 0)
		fatal("%s: vasprintf", __func__);
	va_end(ap);
	rpc_drop_result(call);
	rpc_set_status(call->resp, code, msg);
	free(msg);
	return (RPC_REPLY);
}

static struct rpc_call *
rpc_call_new(struct rpc_ctx *c, size_t len)
{
	struct rpc_call	*call;

	call = xcalloc(1, sizeof(*call));
	call->rpc = c->rpc;
	call->ctx = c;
	call->seq = ++c->rpc->seq;
	call->req_bytes = len;
	call->start_us = now_us();
	call->name = "?";
	call->resp = rpc_msg_new(&vmig__v1__response__descriptor);
	call->resp->status = rpc_msg_new(&vmig__v1__status__descriptor);
	return (call);
}

static void
rpc_call_free(struct rpc_call *call)
{
	if (call->req != NULL)
		vmig__v1__request__free_unpacked(
		    (Vmig__V1__Request *)call->req, NULL);
	protobuf_c_message_free_unpacked(&call->resp->base, NULL);
	free(call);
}

static void
rpc_count(struct rpc *rpc, const Vmig__V1__Request *req, int code)
{
	unsigned int	call = 0, status = RPC_STATUS_MAX - 1;

	if (req != NULL && (unsigned int)req->call_case < RPC_CALLS_MAX)
		call = (unsigned int)req->call_case;
	if (code >= 0 && code < RPC_STATUS_MAX - 1)
		status = (unsigned int)code;
	__atomic_add_fetch(&rpc->counts[call][status], 1, __ATOMIC_RELAXED);
}

/* Pack the response into the context's aio; the caller sends it. */
static nng_msg *
rpc_call_pack(struct rpc_call *call)
{
	struct rpc	*rpc = call->rpc;
	Vmig__V1__Response *r = call->resp;
	nng_msg		*m;
	size_t		 len;
	int		 rv;

	rpc->st.requests++;
	rpc_count(rpc, call->req, r->status->code);
	if (r->status->code != VMIG__V1__STATUS_CODE__STATUS_OK) {
		rpc->st.errors++;
		log_debug("rpc: #%" PRIu64 " %s (id %" PRIu64 "): %s: %s",
		    call->seq, call->name, r->request_id,
		    rpc_status_name(r->status->code), r->status->message);
	} else
		log_debug("rpc: #%" PRIu64 " %s (id %" PRIu64 ", %zu bytes): "
		    "ok in %" PRIu64 " us after %" PRIu64 " us waiting for the "
		    "loop", call->seq, call->name, r->request_id,
		    call->req_bytes, now_us() - call->start_us,
		    call->queued_us);
	len = vmig__v1__response__get_packed_size(r);
	if ((rv = nng_msg_alloc(&m, len)) != 0) {
		log_warnx("rpc: #%" PRIu64 ": reply of %zu bytes: %s",
		    call->seq, len, nng_strerror(rv));
		return (NULL);
	}
	vmig__v1__response__pack(r, nng_msg_body(m));
	return (m);
}

static void
rpc_call_send(struct rpc_call *call)
{
	struct rpc_ctx	*c = call->ctx;
	nng_msg		*m;

	c->call = NULL;
	m = rpc_call_pack(call);
	rpc_call_free(call);
	if (m == NULL) {
		/* The client times out; the context goes back to work. */
		c->state = CTX_IDLE;
		rpc_ctx_recv(c);
		return;
	}
	c->state = CTX_SEND;
	nng_aio_set_msg(c->aio, m);
	nng_ctx_send(c->ctx, c->aio);
}

void
rpc_call_reply(struct rpc_call *call)
{
	struct rpc	*rpc = call->rpc;

	VMIG_ASSERT(call->ctx->call == call);
	if (call->deferred) {
		TAILQ_REMOVE(&rpc->calls, call, entry);
		rpc->st.open_calls--;
	}
	rpc_call_send(call);
}

/* ---------------------------------------------------------------- authz */

/* Who sent m, and what may they call (any thread). */
static enum authz_level
rpc_authz(const struct rpc *rpc, nng_msg *m, char *who, size_t wholen,
    char *why, size_t whylen)
{
	struct authz_peer	p;

	why[0] = '\0';
	if (rpc->authz == NULL) {
		strlcpy_v(who, "a caller", wholen);
		return (AUTHZ_FULL);
	}
	authz_peer_of(nng_msg_get_pipe(m), &p);
	authz_peer_str(&p, who, wholen);
	return (authz_level(rpc->authz, &p, why, whylen));
}

static int
rpc_read_only(const struct rpc *rpc, const Vmig__V1__Request *req)
{
	return (rpc->read_only != NULL && rpc->read_only(req->call_case));
}

/* The request's method as the proto names it ("start_migration"). */
static const char *
rpc_method(const Vmig__V1__Request *req)
{
	const ProtobufCFieldDescriptor	*f;

	f = protobuf_c_message_descriptor_get_field(
	    &vmig__v1__request__descriptor, (int)req->call_case);
	return (f != NULL ? f->name : "?");
}

/* Refuse the call whole: nothing of it ran. */
static void
rpc_deny(struct rpc_call *call, const char *method, const char *who,
    const char *why)
{
	char	msg[256];

	call->rpc->st.denied++;
	log_warnx("rpc: #%" PRIu64 " %s (id %" PRIu64 ") from %s: permission "
	    "denied: %s", call->seq, method != NULL ? method : "(not decoded)",
	    call->resp->request_id, who, why);
	if (method != NULL)
		snprintf(msg, sizeof(msg), "permission denied: %s may make "
		    "read-only calls only, and %s is not one", who, method);
	else
		snprintf(msg, sizeof(msg), "permission denied: %s may not call "
		    "this vmigd (its log says why)", who);
	rpc_set_status(call->resp, VMIG__V1__STATUS_CODE__STATUS_PERMISSION_DENIED,
	    msg);
	rpc_call_send(call);
}

/* ---------------------------------------------------------------- contexts */

/*
 * nng thread: a request the fast lane can answer is answered here and the
 * context goes back to receiving; to the loop it never left CTX_RECV, so
 * none of the loop's bookkeeping changes. Anything else goes to the loop.
 */
static int
rpc_fast(struct rpc_ctx *c)
{
	struct rpc		*rpc = c->rpc;
	Vmig__V1__Request	*req;
	Vmig__V1__Response	*resp;
	Vmig__V1__StatusCode	 code;
	nng_msg			*m = nng_aio_get_msg(c->aio), *out;
	uint64_t		 id, t0 = now_us();
	char			 err[256], who[128];
	size_t			 len;
	int			 ok, level;

	/* anything but a clear yes: the loop checks again and answers */
	if ((level = rpc_authz(rpc, m, who, sizeof(who), err,
	    sizeof(err))) == AUTHZ_NONE)
		return (0);
	req = rpc_decode(nng_msg_body(m), nng_msg_len(m), rpc->max, &id,
	    &code, err, sizeof(err));
	if (req == NULL)
		return (0);	/* the loop answers with the reason */
	if (level == AUTHZ_READ && !rpc_read_only(rpc, req)) {
		c->decoded = req;
		return (0);
	}
	resp = rpc_msg_new(&vmig__v1__response__descriptor);
	resp->status = rpc_msg_new(&vmig__v1__status__descriptor);
	resp->request_id = id;
	ok = rpc->fast(rpc->fast_arg, req, resp);
	if (!ok) {
		/* the loop takes it as decoded: one decode per request */
		protobuf_c_message_free_unpacked(&resp->base, NULL);
		c->decoded = req;
		return (0);
	}
	rpc_count(rpc, req, resp->status->code);
	vmig__v1__request__free_unpacked(req, NULL);
	len = vmig__v1__response__get_packed_size(resp);
	if (nng_msg_alloc(&out, len) != 0) {
		protobuf_c_message_free_unpacked(&resp->base, NULL);
		return (0);
	}
	vmig__v1__response__pack(resp, nng_msg_body(out));
	protobuf_c_message_free_unpacked(&resp->base, NULL);
	__atomic_add_fetch(&rpc->nfast, 1, __ATOMIC_RELAXED);
	log_debug("rpc: fast (id %" PRIu64 "): ok in %" PRIu64 " us", id,
	    now_us() - t0);
	nng_msg_free(m);
	nng_aio_set_msg(c->aio, out);
	c->fast_sending = 1;
	nng_ctx_send(c->ctx, c->aio);
	return (1);
}

/* nng thread: a fast reply went out (or not); receive again. */
static void
rpc_fast_sent(struct rpc_ctx *c)
{
	nng_msg	*m;

	c->fast_sending = 0;
	if (nng_aio_result(c->aio) != 0 &&
	    (m = nng_aio_get_msg(c->aio)) != NULL)
		nng_msg_free(m);	/* the client went away */
	nng_aio_set_msg(c->aio, NULL);
	/* closing: rpc_close() stops this aio, and a stopped aio takes no
	 * new operation (nng_ctx_recv fails without a callback) */
	if (__atomic_load_n(&c->rpc->closing, __ATOMIC_ACQUIRE))
		return;
	nng_ctx_recv(c->ctx, c->aio);
}

static void
rpc_aio_cb(void *arg)
{
	struct rpc_ctx	*c = arg;

	if (c->fast_sending) {
		rpc_fast_sent(c);
		return;
	}
	if (c->state == CTX_RECV && c->rpc->fast != NULL &&
	    nng_aio_result(c->aio) == 0 &&
	    !__atomic_load_n(&c->rpc->closing, __ATOMIC_ACQUIRE) &&
	    rpc_fast(c))
		return;
	/* hand over, nothing else */
	c->received_us = now_us();
	wake_post(c->rpc->wake, rpc_ctx_done, c);
}

static struct rpc_ctx *
rpc_ctx_new(struct rpc *rpc)
{
	struct rpc_ctx	*c;
	int		 rv;

	c = xcalloc(1, sizeof(*c));
	c->rpc = rpc;
	if ((rv = nng_aio_alloc(&c->aio, rpc_aio_cb, c)) != 0) {
		log_warnx("%s: nng_aio_alloc: %s", __func__, nng_strerror(rv));
		free(c);
		return (NULL);
	}
	if ((rv = nng_ctx_open(&c->ctx, rpc->sock)) != 0) {
		log_warnx("%s: nng_ctx_open: %s", __func__, nng_strerror(rv));
		nng_aio_free(c->aio);
		free(c);
		return (NULL);
	}
	TAILQ_INSERT_TAIL(&rpc->ctxs, c, entry);
	rpc->nctx++;
	rpc->st.contexts = rpc->nctx;
	return (c);
}

/* A request received (and perhaps decoded) or a reply not sent: ours. */
static void
rpc_ctx_drop_message(struct rpc_ctx *c)
{
	nng_msg	*m;

	if ((m = nng_aio_get_msg(c->aio)) != NULL)
		nng_msg_free(m);
	nng_aio_set_msg(c->aio, NULL);
	if (c->decoded != NULL) {
		vmig__v1__request__free_unpacked(c->decoded, NULL);
		c->decoded = NULL;
	}
}

static void
rpc_ctx_free(struct rpc_ctx *c)
{
	struct rpc	*rpc = c->rpc;

	nng_aio_stop(c->aio);
	wake_cancel(rpc->wake, NULL, c);
	rpc_ctx_drop_message(c);
	nng_ctx_close(c->ctx);
	nng_aio_free(c->aio);
	TAILQ_REMOVE(&rpc->ctxs, c, entry);
	rpc->nctx--;
	rpc->st.contexts = rpc->nctx;
	free(c);
}

static void
rpc_ctx_recv(struct rpc_ctx *c)
{
	c->state = CTX_RECV;
	c->rpc->receiving++;
	nng_aio_set_msg(c->aio, NULL);
	nng_ctx_recv(c->ctx, c->aio);
}

/* Keep `workers` contexts receiving (bounded by the deferred calls). */
static void
rpc_fill(struct rpc *rpc)
{
	struct rpc_ctx	*c;

	while (!rpc->closing && rpc->receiving < rpc->workers &&
	    rpc->st.open_calls < RPC_MAX_DEFERRED) {
		if ((c = rpc_ctx_new(rpc)) == NULL)
			break;
		rpc_ctx_recv(c);
	}
}

static void
rpc_handle(struct rpc_ctx *c, nng_msg *m)
{
	struct rpc		*rpc = c->rpc;
	struct rpc_call		*call;
	Vmig__V1__Request	*req;
	Vmig__V1__StatusCode	 code;
	uint64_t		 id;
	char			 err[256], who[128], why[256];
	int			 how, level;

	call = rpc_call_new(c, nng_msg_len(m));
	call->queued_us = call->start_us - c->received_us;
	c->state = CTX_CALL;
	c->call = call;
	/* checked before anything of the request is looked at */
	if ((level = rpc_authz(rpc, m, who, sizeof(who), why,
	    sizeof(why))) == AUTHZ_NONE) {
		id = 0;
		(void)rpc_peek_id(nng_msg_body(m), nng_msg_len(m), &id);
		call->resp->request_id = id;
		if (c->decoded != NULL) {
			vmig__v1__request__free_unpacked(c->decoded, NULL);
			c->decoded = NULL;
		}
		nng_msg_free(m);
		rpc_deny(call, NULL, who, why);
		return;
	}
	if ((req = c->decoded) != NULL) {
		c->decoded = NULL;
		id = req->request_id;
	} else
		req = rpc_decode(nng_msg_body(m), nng_msg_len(m), rpc->max,
		    &id, &code, err, sizeof(err));
	nng_msg_free(m);
	call->resp->request_id = id;
	if (req == NULL) {
		if (code != VMIG__V1__STATUS_CODE__STATUS_UNIMPLEMENTED)
			rpc->st.bad_requests++;
		log_info("rpc: #%" PRIu64 " (id %" PRIu64 "): refused: %s",
		    call->seq, id, err);
		rpc_set_status(call->resp, code, err);
		rpc_call_send(call);
		return;
	}
	call->req = req;
	if (level == AUTHZ_READ && !rpc_read_only(rpc, req)) {
		rpc_deny(call, rpc_method(req), who, why);
		return;
	}

	how = rpc->dispatch(call, rpc->arg);
	if (c->call != call)
		return;		/* the handler replied already */
	if (how == RPC_DEFER) {
		call->deferred = 1;
		TAILQ_INSERT_TAIL(&rpc->calls, call, entry);
		rpc->st.open_calls++;
		rpc_fill(rpc);
		return;
	}
	rpc_call_send(call);
}

/* Loop thread: a context's aio completed. */
static void
rpc_ctx_done(void *arg)
{
	struct rpc_ctx	*c = arg;
	struct rpc	*rpc = c->rpc;
	nng_msg		*m;
	int		 rv;

	rv = nng_aio_result(c->aio);
	switch (c->state) {
	case CTX_RECV:
		rpc->receiving--;
		c->state = CTX_IDLE;
		if (rv != 0) {
			if (rv != NNG_ECLOSED && rv != NNG_ECANCELED) {
				log_warnx("rpc: receive: %s", nng_strerror(rv));
				rpc_ctx_recv(c);
			}
			return;
		}
		m = nng_aio_get_msg(c->aio);
		nng_aio_set_msg(c->aio, NULL);
		rpc_handle(c, m);
		break;
	case CTX_SEND:
		c->state = CTX_IDLE;
		if (rv != 0) {
			/* The client went away; the reply is ours again. */
			if ((m = nng_aio_get_msg(c->aio)) != NULL)
				nng_msg_free(m);
			nng_aio_set_msg(c->aio, NULL);
			log_debug("rpc: reply not sent: %s", nng_strerror(rv));
		}
		if (rpc->closing)
			return;
		if (rpc->receiving >= rpc->workers)
			rpc_ctx_free(c);	/* a spare from a deferred call */
		else
			rpc_ctx_recv(c);
		break;
	default:
		fatalx("%s: context in state %d", __func__, c->state);
	}
}

/* ---------------------------------------------------------------- server */

static int
rpc_listen(struct rpc *rpc, const char *url, int ipc_mode, int ipc_gid,
    char *err, size_t errlen)
{
	struct rpc_listener	*rl = &rpc->lst[rpc->nlst];
	nng_listener		 l;
	int			 rv, port, tls;
	size_t			 len;
	const char		*what = "";

	VMIG_ASSERT(rpc->nlst < nitems(rpc->lst));
	tls = strncmp(url, "tls+tcp://", 10) == 0;
	if ((rv = nng_listener_create(&l, rpc->sock, url)) != 0)
		goto fail;
	/*
	 * nng 1.5 accepts any size by default: a cap protects memory. Over
	 * tcp:// (anyone who can reach the port) it is hard_max. Over ipc://
	 * callers are local and already trusted by the socket's file mode,
	 * and nng 1.5.2 sometimes stops serving new ipc connections after it
	 * dropped one for an oversized message (seen 1 in 20 here, never
	 * over tcp), so there the cap only bounds memory (RPC_IPC_HARD_MAX)
	 * and an oversized request gets its RESOURCE_EXHAUSTED answer.
	 */
	if ((rv = nng_listener_set_size(l, NNG_OPT_RECVMAXSZ,
	    strncmp(url, "ipc://", 6) == 0 ?
	    (size_t)MAX(rpc->hard_max, RPC_IPC_HARD_MAX) :
	    (size_t)rpc->hard_max)) != 0)
		goto fail;
	if (strncmp(url, "ipc://", 6) == 0 && (rv = nng_listener_set_int(l,
	    NNG_OPT_IPC_PERMISSIONS, ipc_mode != 0 ? ipc_mode : 0660)) != 0)
		goto fail;
	if (tls && (rpc->tls == NULL || (rv = nng_listener_set_ptr(l,
	    NNG_OPT_TLS_CONFIG, rpc->tls)) != 0)) {
		what = rpc->tls == NULL ? " (no TLS configuration)" : "";
		rv = rpc->tls == NULL ? NNG_EINVAL : rv;
		goto fail;
	}
	if ((rv = nng_listener_start(l, 0)) != 0)
		goto fail;
	/* the group the socket's mode lets in (rpc_group) */
	if (strncmp(url, "ipc://", 6) == 0 && ipc_gid >= 0 &&
	    chown(url + 6, (uid_t)-1, (gid_t)ipc_gid) != 0) {
		snprintf(err, errlen, "cannot give %s to group %d: %s", url + 6,
		    ipc_gid, strerror(errno));
		nng_listener_close(l);
		return (-EPERM);
	}
	len = strlen(url);
	if (strstr(url, "tcp") != NULL && len >= 2 &&
	    strcmp(url + len - 2, ":0") == 0 &&
	    nng_listener_get_int(l, NNG_OPT_TCP_BOUND_PORT, &port) == 0)
		xasprintf(&rl->url, "%.*s:%d", (int)(len - 2), url, port);
	else
		rl->url = xstrdup(url);
	rl->l = l;
	rl->tls = tls;
	rpc->nlst++;
	return (0);
fail:
	snprintf(err, errlen, "cannot listen on %s: %s%s%s", url,
	    nng_strerror(rv), what, rv == NNG_EADDRINUSE ?
	    " (another vmigd running?)" : rv == NNG_ENOENT ?
	    " (does its directory exist?)" : "");
	return (-EIO);
}

int
rpc_set_tls(struct rpc *rpc, nng_tls_config *cfg, char *err, size_t errlen)
{
	struct rpc_listener	*rl;
	unsigned int		 i, n = rpc->nlst;
	char			*url;
	int			 rc = 0;

	nng_tls_config_hold(cfg);
	if (rpc->tls != NULL)
		nng_tls_config_free(rpc->tls);
	rpc->tls = cfg;
	/* the array is rebuilt: the non-TLS listeners stay as they are */
	rpc->nlst = 0;
	for (i = 0; i < n; i++) {
		rl = &rpc->lst[i];
		if (!rl->tls) {
			rpc->lst[rpc->nlst++] = *rl;
			continue;
		}
		nng_listener_close(rl->l);
		url = rl->url;
		if (rc == 0)
			rc = rpc_listen(rpc, url, 0, -1, err, errlen);
		else
			log_warnx("rpc: %s stays closed", url);
		if (rc == 0)
			log_info("rpc: %s listens with the new TLS credentials",
			    url);
		free(url);
	}
	return (rc);
}

static void
rpc_free_listeners(struct rpc *rpc)
{
	unsigned int	i;

	for (i = 0; i < rpc->nlst; i++)
		free(rpc->lst[i].url);
	rpc->nlst = 0;
	if (rpc->tls != NULL)
		nng_tls_config_free(rpc->tls);
	rpc->tls = NULL;
}

struct rpc *
rpc_open(struct event_base *base, struct wake *wake,
    const struct rpc_params *p, rpc_dispatch_fn dispatch, void *arg,
    char *err, size_t errlen)
{
	struct rpc	*rpc;
	int		 rv;

	rpc = xcalloc(1, sizeof(*rpc));
	rpc->wake = wake;
	rpc->max = p->max_message_bytes;
	rpc->hard_max = p->hard_max_bytes != 0 ? p->hard_max_bytes :
	    2 * p->max_message_bytes;
	if (rpc->hard_max < rpc->max)
		rpc->hard_max = rpc->max;
	rpc->workers = p->workers != 0 ? p->workers : 1;
	rpc->fast = p->fast;
	rpc->fast_arg = p->fast_arg;
	rpc->authz = p->authz;
	rpc->read_only = p->read_only;
	if ((rpc->tls = p->tls) != NULL)
		nng_tls_config_hold(rpc->tls);
	rpc->dispatch = dispatch;
	rpc->arg = arg;
	TAILQ_INIT(&rpc->ctxs);
	TAILQ_INIT(&rpc->calls);

	if ((rv = nng_rep0_open(&rpc->sock)) != 0) {
		snprintf(err, errlen, "cannot open a REP socket: %s",
		    nng_strerror(rv));
		free(rpc);
		return (NULL);
	}
	if (rpc_listen(rpc, p->url, p->ipc_mode, p->ipc_chgrp ?
	    (int)p->ipc_gid : -1, err, errlen) != 0)
		goto fail;
	rpc->url = xstrdup(rpc->lst[0].url);
	if (p->tcp_url != NULL && *p->tcp_url != '\0') {
		if (rpc_listen(rpc, p->tcp_url, p->ipc_mode, -1, err,
		    errlen) != 0)
			goto fail;
		rpc->tcp_url = xstrdup(rpc->lst[1].url);
	}
	rpc_fill(rpc);
	if (rpc->receiving == 0) {
		snprintf(err, errlen, "cannot open any nng context");
		goto fail;
	}
	log_info("rpc: listening on %s%s%s (%u workers, requests up to "
	    "%" PRIu64 " bytes)", rpc->url, rpc->tcp_url != NULL ? " and " :
	    "", rpc->tcp_url != NULL ? rpc->tcp_url : "", rpc->workers,
	    rpc->max);
	return (rpc);
fail:
	rpc->closing = 1;
	while (!TAILQ_EMPTY(&rpc->ctxs))
		rpc_ctx_free(TAILQ_FIRST(&rpc->ctxs));
	nng_close(rpc->sock);
	rpc_free_listeners(rpc);
	free(rpc->url);
	free(rpc->tcp_url);
	free(rpc);
	return (NULL);
}

void
rpc_close(struct rpc *rpc)
{
	struct rpc_ctx	*c;
	struct rpc_call	*call;
	nng_msg		*m;
	unsigned int	 answered = 0;

	if (rpc == NULL)
		return;
	__atomic_store_n(&rpc->closing, 1, __ATOMIC_RELEASE);

	/* No new requests; let replies already going out finish. */
	TAILQ_FOREACH(c, &rpc->ctxs, entry) {
		if (c->state == CTX_SEND)
			nng_aio_wait(c->aio);
		else if (c->state == CTX_RECV)
			nng_aio_stop(c->aio);
		wake_cancel(rpc->wake, NULL, c);
		if (c->state == CTX_RECV)
			rpc->receiving--;
		if (c->state != CTX_CALL) {
			/* A request that never reached the loop, a reply
			 * that failed: ours to free. */
			rpc_ctx_drop_message(c);
			c->state = CTX_IDLE;
		}
	}

	/* Open calls: their owner forgets them, the caller hears why. */
	while ((call = TAILQ_FIRST(&rpc->calls)) != NULL) {
		TAILQ_REMOVE(&rpc->calls, call, entry);
		rpc->st.open_calls--;
		call->deferred = 0;
		if (call->abandon != NULL)
			call->abandon(call, call->abandon_arg);
		rpc_call_error(call, VMIG__V1__STATUS_CODE__STATUS_UNAVAILABLE,
		    "%s: vmigd is shutting down", call->name);
		c = call->ctx;
		c->call = NULL;
		m = rpc_call_pack(call);
		rpc_call_free(call);
		c->state = CTX_IDLE;
		if (m == NULL)
			continue;
		nng_aio_set_msg(c->aio, m);
		nng_ctx_send(c->ctx, c->aio);
		nng_aio_wait(c->aio);
		wake_cancel(rpc->wake, NULL, c);
		if (nng_aio_result(c->aio) != 0)
			nng_msg_free(m);
		nng_aio_set_msg(c->aio, NULL);
		answered++;
	}
	/*
	 * A REP send completes when the pipe has the message, not when it is
	 * written; give the transport a moment before closing the pipes.
	 */
	if (answered != 0)
		nng_msleep(100);

	nng_close(rpc->sock);
	while ((c = TAILQ_FIRST(&rpc->ctxs)) != NULL)
		rpc_ctx_free(c);
	log_info("rpc: closed (%" PRIu64 " requests, %" PRIu64 " errors, "
	    "%u open calls answered UNAVAILABLE)", rpc->st.requests,
	    rpc->st.errors, answered);
	rpc_free_listeners(rpc);
	free(rpc->url);
	free(rpc->tcp_url);
	free(rpc);
}

void
rpc_get_stats(const struct rpc *rpc, struct rpc_stats *st)
{
	*st = rpc->st;
	st->fast = __atomic_load_n(&rpc->nfast, __ATOMIC_RELAXED);
	st->requests += st->fast;
}

void
rpc_get_counts(const struct rpc *rpc, struct rpc_counts *out)
{
	unsigned int	c, s;

	for (c = 0; c < RPC_CALLS_MAX; c++)
		for (s = 0; s < RPC_STATUS_MAX; s++)
			out->n[c][s] = __atomic_load_n(&rpc->counts[c][s],
			    __ATOMIC_RELAXED);
}


const char *
rpc_url(const struct rpc *rpc)
{
	return (rpc->url);
}

const char *
rpc_tcp_url(const struct rpc *rpc)
{
	return (rpc->tcp_url != NULL ? rpc->tcp_url : "");
}

uint64_t
rpc_max_message_bytes(const struct rpc *rpc)
{
	return (rpc->max);
}
