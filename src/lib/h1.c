/*
 * h1.c - HTTP/1.1 as a protocol of a connection: one transfer at a time,
 * its request head written whole, its response parsed by http1.c.
 *
 * A response that ends cleanly with keep-alive leaves the connection to
 * the pool; anything else (an error, a cancel, bytes past the response)
 * closes it, since the stream can no longer be framed.
 */
#include <stdlib.h>
#include <string.h>

#include "internal.h"

/* upcalls go through the client, never by name */
#define UPCALL(t) ((t)->client->up)

static int h1_head(void *ctx, const evf_response *resp)
{
	struct evf_transfer *t = ctx;
	uint64_t len;
	int64_t clen = http1_content_length(&t->conn->p.http, &len) && len <= INT64_MAX
	                       ? (int64_t)len
	                       : -1;
	return UPCALL(t)->head(t, resp, clen);
}

static int h1_body(void *ctx, const char *data, size_t len)
{
	struct evf_transfer *t = ctx;
	return UPCALL(t)->body(t, data, len);
}

static int h1_trailers(void *ctx, const evf_header *fields, size_t n)
{
	struct evf_transfer *t = ctx;
	return UPCALL(t)->trailers(t, fields, n);
}

static void h1_interim(void *ctx, int status)
{
	struct evf_transfer *t = ctx;
	UPCALL(t)->interim(t, status);
}

static void h1_wire(void *ctx, const char *data, size_t len)
{
	debug_wire(ctx, data, len);
}

static unsigned h1_capacity(const struct conn *cn)
{
	return cn->xfer ? 0 : 1;
}

static int h1_submit(struct conn *cn, struct evf_transfer *t)
{
	const struct evf_config *cfg = &cn->client->cfg;
	if (!t->req) {
		const char *stack[32];
		size_t n = 0;
		const char **all = UPCALL(t)->header_lines(t, stack, &n);
		if (!all)
			return EVF_ERR_NOMEM;
		/* through an http proxy: the absolute form (proxy.c) */
		char *abs = cn->host->proxied && !cn->host->tls ? proxy_absolute_target(t) : NULL;
		t->req = http1_request(t->method, abs ? abs : t->u.target, t->u.authority,
		                       UPCALL(t)->user_agent(t), all, n, &t->req_len);
		int lost = !abs && cn->host->proxied && !cn->host->tls;
		free(abs);
		if (all != stack)
			free(all);
		if (lost) {
			free(t->req);
			t->req = NULL;
		}
		if (!t->req)
			return EVF_ERR_NOMEM;
	}
	if (cfg->debug_fn)
		UPCALL(t)->debug(t, EVF_DEBUG_HEADER_OUT, t->req, t->req_len);
	cn->xfer = t;
	t->req_off = 0;
	struct http1_limits lim = {cfg->max_header_bytes, cfg->max_headers};
	static const struct http1_sink sink = {.on_head = h1_head, .on_body = h1_body,
	                                       .on_trailers = h1_trailers, .on_interim = h1_interim};
	static const struct http1_sink wire_sink = {.on_head = h1_head, .on_body = h1_body,
	                                            .on_trailers = h1_trailers,
	                                            .on_interim = h1_interim, .on_wire = h1_wire};
	http1_init(&cn->p.http, &lim, cfg->debug_fn ? &wire_sink : &sink, t, t->is_head);
	return 0;
}

/* The request is out once t->req is freed (sent); a body's reader that
 * has nothing yet holds it up until evf_transfer_resume_body. */
static int h1_want_flush(const struct conn *cn)
{
	return cn->xfer && cn->xfer->req && !body_waiting(cn->xfer);
}

/* The body's reader cancelled t or freed the client: a request cut short
 * ends its connection. */
static int body_cancelled(struct conn *cn, struct evf_transfer *t)
{
	struct evf_client *c = cn->client;
	if (c->freed) {
		/* the client's destroy discards t: it must find it off cn,
		 * which the failure frees */
		cn->xfer = NULL;
		t->conn = NULL;
		return EVF_ERR_CANCELLED;   /* fails cn; nobody is told */
	}
	client_discard(c, t);           /* detaches t, which closes cn */
	return IO_DONE;
}

static int h1_flush(struct conn *cn)
{
	struct evf_transfer *t = cn->xfer;
	if (!t || !t->req)
		return IO_DONE;
	while (t->req_off < t->req_len) {
		size_t put = 0;
		int r = conn_send(cn, t->req + t->req_off, t->req_len - t->req_off, &put);
		if (r != IO_DONE)
			return r;
		t->req_off += put;
		t->req_touched = 1;
	}
	if (t->body) {
		int r = body_send(t, cn);
		if (r == BODY_WAIT)
			return IO_DONE;
		if (r == EVF_ERR_CANCELLED)
			return body_cancelled(cn, t);
		if (r != IO_DONE)
			return r;
	}
	UPCALL(t)->sent(t);
	return IO_DONE;
}

static int h1_poll(struct conn *cn)
{
	struct evf_transfer *t = cn->xfer;
	if (!t || t->paused)
		return PR_STOP;
	if (t->held)
		/* compressed input kept over a pause comes first */
		return UPCALL(t)->held(t) ? PR_GONE : PR_AGAIN;
	return PR_READ;
}

static int h1_feed(struct conn *cn, const char *data, size_t len)
{
	struct evf_transfer *t = cn->xfer;
	struct evf_client *c = cn->client;
	UPCALL(t)->recv(t);
	size_t used = 0;
	int r = http1_feed(&cn->p.http, data, len, &used);
	if (c->freed)
		return PR_GONE;
	if (r == 0 && !t->cancelled)
		return 0;
	/* bytes past the response, or records still inside OpenSSL, mean
	 * the server sent more than it framed: never reuse */
	int keep = r == 1 && cn->p.http.keep_alive && used == len && !conn_pending(cn) &&
	           !c->cfg.no_keepalive;
	return UPCALL(t)->end(t, r, keep, r < 0 ? http1_why(&cn->p.http) : NULL) ? PR_GONE : 0;
}

static void h1_eof(struct conn *cn, int clean)
{
	struct evf_transfer *t = cn->xfer;
	if (!t) {
		conn_close(cn);
		return;
	}
	int r = http1_eof(&cn->p.http, clean);
	/* -1: the connection is gone, nothing may wait on it */
	UPCALL(t)->end(t, r, -1, r < 0 ? http1_why(&cn->p.http) : NULL);
}

static void h1_detach(struct conn *cn, struct evf_transfer *t, int keep)
{
	cn->xfer = NULL;
	t->conn = NULL;
	if (keep && !t->req)
		conn_park(cn);
	else
		conn_close(cn);
}

static void h1_resume(struct conn *cn, struct evf_transfer *t)
{
}

static void h1_fail(struct conn *cn, int err, const char *why)
{
	struct evf_transfer *t = cn->xfer;
	if (!t)
		return;
	cn->xfer = NULL;
	t->conn = NULL;
	UPCALL(t)->failed(t, err, why, 0);
}

static void h1_release(struct conn *cn)
{
	http1_release(&cn->p.http);
}

const struct proto_ops evf_h1_proto = {
	.name = "http/1.1",
	.version = 1,
	.capacity = h1_capacity,
	.submit = h1_submit,
	.flush = h1_flush,
	.want_flush = h1_want_flush,
	.poll = h1_poll,
	.feed = h1_feed,
	.eof = h1_eof,
	.detach = h1_detach,
	.resume = h1_resume,
	.fail = h1_fail,
	.release = h1_release,
};
