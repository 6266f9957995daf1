/*
 * transfer.c - one transfer: acquiring a connection, sending the request
 * head, handing the response to the caller (decoded and size-limited), the
 * connect, idle and total timers, and the next attempt when there is one:
 * a redirect, a retry after a transient failure, or the single retry on a
 * fresh connection when a pooled one turns out to be stale.
 *
 * An attempt that will be followed by another never shows the caller its
 * response: redirects and retried statuses are decided on the head, before
 * on_head, and failures are retried only while nothing was delivered.
 */
#include <stdarg.h>
#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "internal.h"
#include "decode.h"

#define DEFAULT_UA "evfetch/" EVF_VERSION_STRING

/* Internal reasons to stop parsing a response; never reported. */
#define STOP_REDIRECT (-1001)
#define STOP_RETRY (-1002)

/*
 * The body of a response that is followed (a redirect) or retried is read
 * and dropped, up to SKIP_MAX bytes, so that its connection serves the next
 * request and a debug function sees the whole response; t->skip says which
 * STOP_ follows its end.  A longer body, or one only the connection's close
 * would end, still closes the connection at once.
 */
#define SKIP_MAX (64 * 1024)
enum { SKIP_REDIRECT = 1, SKIP_RETRY = 2 };
#define SKIP_STOP(t) ((t)->skip == SKIP_REDIRECT ? STOP_REDIRECT : STOP_RETRY)

static void timer_cb(evutil_socket_t fd, short what, void *arg);

void xfer_set_state_(struct evf_transfer *t, enum xfer_state st, const char *file, int line)
{
	assert(t->state != XS_DONE);
#ifdef EVF_TRACE
	static const char *const names[] = {"queued", "wait_host", "connect", "request",
	                                    "response", "retry_wait", "done"};
	fprintf(stderr, "evfetch: transfer %p %s -> %s (%s:%d)\n", (void *)t,
	        names[t->state], names[st], file, line);
#else
	(void)file;
	(void)line;
#endif
	t->state = st;
}

/* The per-transfer timer: the total deadline (a retry wait sets its own). */
static uint64_t deadline_of(const struct evf_transfer *t)
{
	return t->total_deadline_us;
}

static void arm_timer_at(struct evf_transfer *t, uint64_t deadline)
{
	if (t->timer_set) {
		event_del(t->timer);
		t->timer_set = 0;
	}
	if (!deadline || !t->timer)
		return;
	uint64_t now = evf_now_us();
	uint64_t left = deadline > now ? deadline - now : 0;
	struct timeval tv = {(time_t)(left / 1000000u), (suseconds_t)(left % 1000000u)};
	if (evtimer_add(t->timer, &tv) != 0) {
		/* a transfer whose deadline cannot be kept must not run on
		 * without it: end it from the loop */
		t->timer_failed = 1;
		event_active(t->timer, EV_TIMEOUT, 1);
	} else {
		t->timer_failed = 0;   /* the event_del above dropped the failure's call */
	}
	t->timer_set = 1;   /* event_del takes it off the active queue too */
}

static void arm_timer(struct evf_transfer *t)
{
	arm_timer_at(t, deadline_of(t));
}

/* Detach the connection from t; keep: it may serve another transfer. */
static void release_conn(struct evf_transfer *t, int keep)
{
	struct conn *cn = t->conn;
	if (!cn)
		return;
	conn_detach(cn, t, keep);
	t->conn = NULL;
	t->stream = NULL;
}

/* Wait on t's host queue for the client's kick (front: t was under way). */
static void wait_host(struct evf_transfer *t, int front)
{
	struct host *h = t->host;
	dl_remove(t);   /* the link goes to the host's queue */
	xfer_set_state(t, XS_WAIT_HOST);
	pool_mark_used(h);
	if (front)
		TAILQ_INSERT_HEAD(&h->waiting, t, link);
	else
		TAILQ_INSERT_TAIL(&h->waiting, t, link);
	t->client->nwaiting++;
}

/*
 * A connection of t's host that can take it now (an HTTP/2 one with a
 * free stream, an idle one), else a new one when the host may have one
 * more and no connection being opened may bring streams to share; else
 * wait on the host's queue.  Returns 1 when t waits.
 */
static int acquire(struct evf_transfer *t, int front)
{
	struct host *h = t->host;
	if (pool_host_gated(h)) {
		/* a retry or redirect of a rate-limited or paused host: the
		 * gate's timer serves the host's queue */
		pool_host_sleep(h);
		wait_host(t, front);
		return 1;
	}
	struct conn *cn = t->fresh_only ? NULL : pool_find(h);
	if (!cn && t->fresh_only && !pool_can_open(h) && (cn = TAILQ_FIRST(&h->idle))) {
		/* a new connection is due, and an idle one holds its place */
		conn_close(cn);
		cn = NULL;
	}
	if (cn) {
		pool_host_started(h);
		t->conn = cn;
		evf_xfer_upcalls.ready(t, 1);
		return 0;
	}
	unsigned ms = XO(t)->connect_timeout_ms;
	int negotiating = pool_should_wait(h);
	if (!negotiating && pool_can_open(h)) {
		/* a deadline set while t waited for the host's first
		 * connection stands: the connect timeout covers that wait */
		if (!t->connect_deadline_us && ms)
			t->connect_deadline_us = evf_now_us() + 1000u * (uint64_t)ms;
		t->fresh_only = 0;
		xfer_set_state(t, XS_CONNECT);
		if (ms)
			dl_append(t, DL_CONNECT);
		pool_host_started(h);
		conn_open(h, t);
		return 0;
	}
	if (negotiating && ms && !t->connect_deadline_us)
		t->connect_deadline_us = evf_now_us() + 1000u * (uint64_t)ms;
	wait_host(t, front);
	return 1;
}

void transfer_serve_changed(struct evf_client *c)
{
	struct host *h;
	while (!c->freed && (h = pool_next_changed(c))) {
		struct evf_transfer *t;
		/* in order: one that must wait keeps its place at the head */
		while (!c->freed && (t = TAILQ_FIRST(&h->waiting))) {
			TAILQ_REMOVE(&h->waiting, t, link);
			c->nwaiting--;
			if (acquire(t, 1))
				break;
		}
		if (!c->freed)
			pool_host_settle(h);
	}
}

/* Try t again on its host from the loop: never from inside a
 * connection's call, which may be what made t try again. */
static void requeue(struct evf_transfer *t)
{
	wait_host(t, 1);
	pool_host_changed(t->host);
}

/* Forget what one attempt produced, before the next one. */
void transfer_reset_attempt(struct evf_transfer *t)
{
	t->status = 0;
	t->bytes = t->raw_bytes = 0;
	t->reused = 0;
	t->tls_version = NULL;
	t->tls_cipher = NULL;
	t->cert_not_after = 0;
	t->remote_family = 0;
	t->remote_port = 0;
	t->got_response_byte = t->retried_stale = t->head_delivered = 0;
	t->req_touched = 0;
	resp_head_free(t->head);
	t->head = NULL;
	if (t->ext) {
		resp_head_free(t->ext->trailers);
		t->ext->trailers = NULL;
		debug_wire_reset(t->ext);
	}
	t->held = t->end_held = t->end_keep = 0;
	t->h2 = t->had_conn = 0;
	t->skip = 0;
	t->connect_deadline_us = 0;
	free(t->detail);
	t->detail = NULL;
	free(t->req);
	t->req = NULL;
	if (t->dec) {
		decoder_free(t->dec);
		free(t->dec);
		t->dec = NULL;
	}
	memset(&t->timings, 0, sizeof t->timings);
}

void transfer_set_host(struct evf_transfer *t, struct host *h)
{
	struct host *old = t->host;
	t->host = h;
	if (h)
		h->nrefs++;
	if (old && --old->nrefs == 0)
		pool_host_settle(old);
}

void transfer_prepare(struct evf_transfer *t)
{
	t->parse_rc = evf_url_parse(&t->u, t->url, &t->parse_why);
	if (!t->parse_rc)
		transfer_set_host(t, pool_host(t->client, &t->u, XIDENT(t)));
}

/* Start an attempt at the current URL (t->u must be parsed); deferred:
 * from the loop, as a connection's call is on the stack. */
void transfer_begin_attempt(struct evf_transfer *t, int deferred)
{
	struct evf_client *c = t->client;
	if (!t->host)
		transfer_set_host(t, pool_host(c, &t->u, XIDENT(t)));
	if (!t->host) {
		transfer_finish(t, EVF_ERR_NOMEM, "out of memory for a host");
		return;
	}
	xfer_set_state(t, XS_CONNECT);
	t->attempt_us = evf_now_us();
	arm_timer(t);
	if (deferred)
		requeue(t);
	else
		acquire(t, 0);
}

void transfer_start(struct evf_transfer *t)
{
	uint64_t now = evf_now_us();
	t->queued_us = now - t->start_us;   /* evf_fetch set it */
	t->start_us = now;
	t->retry_after_ms = -1;
	if (t->parse_rc) {
		transfer_finish(t, t->parse_rc, t->parse_why);
		return;
	}
	if (XO(t)->total_timeout_ms)
		t->total_deadline_us = t->start_us + 1000u * (uint64_t)XO(t)->total_timeout_ms;
	transfer_begin_attempt(t, 0);
}

static const char *user_agent(const struct evf_transfer *t)
{
	const char *ua = t->client->cfg.user_agent;
	return ua ? ua : DEFAULT_UA;
}

/* Does one of t's own lines name the header of line (a client's)? */
static int overridden(const struct evf_transfer *t, const char *line)
{
	size_t n = strcspn(line, ":");
	for (size_t i = 0; i < t->nheaders; i++)
		if (strncasecmp(t->headers[i], line, n) == 0 && t->headers[i][n] == ':')
			return 1;
	return 0;
}

static const char **header_lines(struct evf_transfer *t, const char **stack, size_t *np)
{
	const struct evf_config *cfg = &t->client->cfg;
	/* the given lines, then at most: framing, Expect, Connection,
	 * Accept-Encoding and Proxy-Authorization */
	size_t cap = cfg->nheaders + t->nheaders + 5, n = 0;
	const char **all = cap <= 32 ? stack : malloc(cap * sizeof *all);
	if (!all)
		return NULL;
	/* the body's framing is the library's (t->h2: the attempt's protocol) */
	const char *framing = body_framing_line(t, t->h2);
	for (size_t i = 0; i < cfg->nheaders + t->nheaders; i++) {
		const char *line = i < cfg->nheaders ? cfg->headers[i] : t->headers[i - cfg->nheaders];
		if (t->cross_origin && policy_credential_header(line))
			continue;
		if (framing && policy_framing_header(line))
			continue;
		if (i < cfg->nheaders && t->nheaders && overridden(t, line))
			continue;   /* the transfer's own line replaces the client's */
		all[n++] = line;
	}
	if (framing && *framing)
		all[n++] = framing;
	if (body_expecting(t))
		all[n++] = "Expect: 100-continue";
	if (cfg->no_keepalive)
		all[n++] = "Connection: close";
	int have_ae = 0;
	for (size_t i = 0; i < n; i++)
		if (strncasecmp(all[i], "accept-encoding:", 16) == 0)
			have_ae = 1;
	if (XO(t)->decode && !have_ae)
		all[n++] = "Accept-Encoding: gzip, deflate";
	const char *pauth = proxy_auth_line(t);   /* to an http proxy only */
	if (pauth)
		all[n++] = pauth;
	*np = n;
	return all;
}

static const char *find_header(const evf_response *r, const char *name)
{
	for (size_t i = 0; i < r->nheaders; i++)
		if (strcasecmp(r->headers[i].name, name) == 0)
			return r->headers[i].value;
	return NULL;
}

int transfer_set_detail(struct evf_transfer *t, int err, const char *fmt, ...)
{
	char buf[256];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(buf, sizeof buf, fmt, ap);
	va_end(ap);
	free(t->detail);
	t->detail = evf_strdup(buf);
	return err;
}

static void up_debug(struct evf_transfer *t, int kind, const char *data, size_t len)
{
	const struct evf_config *cfg = &t->client->cfg;
	if (cfg->debug_fn)
		cfg->debug_fn(t, kind, data, len, cfg->debug_arg);
}

/*
 * May t's request go out again?  Its body must be able to start over, and
 * a request the server may have acted on (reached) only when its method is
 * idempotent (RFC 9110, 9.2.2): a POST that may have been processed is
 * never sent twice behind the caller's back.
 */
static int may_resend(const struct evf_transfer *t, int reached)
{
	return body_can_resend(t) && (t->idempotent || !reached);
}

/* stop (STOP_REDIRECT or STOP_RETRY) now, or 0 once the body can be read
 * to its end and dropped first (see SKIP_MAX). */
static int skip_body(struct evf_transfer *t, const evf_response *resp, int64_t clen, int stop)
{
	int none = t->is_head || resp->status == 204 || resp->status == 304;
	/* HTTP/2 keeps its connection either way: read only for a debug
	 * function (an archive) */
	int framed = (t->h2 && t->client->cfg.debug_fn) || (!t->h2 && clen >= 0 && clen <= SKIP_MAX) ||
	             (!t->h2 && clen < 0 && find_header(resp, "transfer-encoding"));
	if ((!none && !framed) || (stop == STOP_REDIRECT && t->redirects >= XO(t)->max_redirects))
		return stop;   /* ...or the redirect is not to be followed */
	t->skip = stop == STOP_REDIRECT ? SKIP_REDIRECT : SKIP_RETRY;
	return 0;
}

static int up_head(struct evf_transfer *t, const evf_response *resp, int64_t clen)
{
	const struct xfer_opts *cfg = XO(t);
	t->status = resp->status;
	if (t->client->cfg.debug_fn)
		debug_head(t, resp);
	if (resp->status == 429 || resp->status == 503) {
		/* the host asks every client request to wait, not only this
		 * one: pause the host, within the cap on retry delays */
		int64_t ra = policy_retry_after_ms(find_header(resp, "retry-after"), time(NULL));
		if (ra > 0)
			pool_host_pause(t->host, (uint64_t)ra < cfg->retry_max_ms ? (uint64_t)ra
			                                                         : cfg->retry_max_ms,
			                resp->status);
	}
	if (cfg->follow_redirects && policy_is_redirect(resp->status)) {
		const char *loc = find_header(resp, "location");
		if (loc && *loc) {
			free(t->location);
			t->location = evf_strdup(loc);
			return t->location ? skip_body(t, resp, clen, STOP_REDIRECT) : EVF_ERR_NOMEM;
		}
	}
	if (t->retries < cfg->retries && policy_retry_status(resp->status) && may_resend(t, 1)) {
		t->retry_after_ms = policy_retry_after_ms(find_header(resp, "retry-after"),
		                                          time(NULL));
		return skip_body(t, resp, clen, STOP_RETRY);
	}
	if (cfg->fail_on_http_error && resp->status >= 400)
		return transfer_set_detail(t, EVF_ERR_HTTP, "the server answered with HTTP status %d",
		                  resp->status);
	if (cfg->max_body && clen >= 0 && (uint64_t)clen > cfg->max_body)
		return transfer_set_detail(t, EVF_ERR_TOO_LARGE,
		                  "the body of %llu bytes is larger than the limit of %llu",
		                  (unsigned long long)clen, (unsigned long long)cfg->max_body);
	enum decode_kind kind = cfg->decode ? decode_kind_of(find_header(resp, "content-encoding"))
	                                    : DECODE_NONE;
	if (kind != DECODE_NONE && !t->is_head) {
		if (!(t->dec = malloc(sizeof *t->dec)))
			return EVF_ERR_NOMEM;
		decoder_init(t->dec, kind);
	}
	if (!XO(t)->no_keep_head && resp_head_keep(&t->head, resp->headers, resp->nheaders) != 0)
		return EVF_ERR_NOMEM;
	t->head_delivered = 1;
	if (!t->cb.on_head)
		return 0;
	t->in_callback = 1;
	struct evf_client *c = t->client;
	c->live_head = resp;   /* evf_transfer_header during on_head, kept or not */
	c->live_head_t = t;
	int r = t->cb.on_head(t, resp, t->arg);
	if (!c->freed) {
		c->live_head = NULL;
		c->live_head_t = NULL;
	}
	t->in_callback = 0;
	if (t->client->freed || t->cancelled)
		return EVF_ERR_CANCELLED;
	return r ? transfer_set_detail(t, EVF_ERR_IO, "on_head refused the response") : 0;
}

/*
 * Hand decoded (or plain) body bytes to the caller, within the limit.  A
 * decoder stops as soon as the callback has paused the transfer: 16 KiB of
 * input can decode to 16 MiB, far past what a pause promises.
 */
static int deliver(void *ctx, const char *data, size_t len)
{
	struct evf_transfer *t = ctx;
	uint64_t max = XO(t)->max_body;
	if (max && t->bytes + len > max)
		return transfer_set_detail(t, EVF_ERR_TOO_LARGE, "the body grew past the limit of %llu bytes",
		                  (unsigned long long)max);
	t->bytes += len;
	if (!t->cb.on_body)
		return 0;
	t->in_callback = 1;
	int r = t->cb.on_body(t, data, len, t->arg);
	t->in_callback = 0;
	if (t->client->freed || t->cancelled)
		return EVF_ERR_CANCELLED;
	if (r)
		return transfer_set_detail(t, EVF_ERR_IO, "on_body refused the data");
	return t->paused && t->dec ? DECODE_STOP : 0;
}

/* r from the decoder: its own failures carry its reason. */
static int decoded(struct evf_transfer *t, int r)
{
	if ((r == EVF_ERR_DECODE || r == EVF_ERR_NOMEM) && t->dec->why[0])
		transfer_set_detail(t, r, "%s", t->dec->why);
	return r;
}

static void up_interim(struct evf_transfer *t, int status)
{
	if (status == 100)
		body_continue(t);   /* Expect: 100-continue was answered */
}

static int up_trailers(struct evf_transfer *t, const evf_header *fields, size_t n)
{
	if (XO(t)->no_keep_head)
		return 0;
	struct xfer_ext *x = xfer_ext(t);
	return x ? resp_head_keep(&x->trailers, fields, n) : EVF_ERR_NOMEM;
}

static int up_body(struct evf_transfer *t, const char *data, size_t len)
{
	t->raw_bytes += len;
	if (t->client->cfg.debug_fn)
		up_debug(t, EVF_DEBUG_DATA_IN, data, len);
	if (t->skip)
		return t->raw_bytes > SKIP_MAX ? SKIP_STOP(t) : 0;
	if (!t->dec)
		return deliver(t, data, len);
	/* paused already (in on_head, or earlier in this read): the decoder
	 * keeps this input for evf_transfer_resume; llhttp goes on through the
	 * read, so the framing stays where the bytes are */
	if (t->paused)
		decoder_stop(t->dec);
	int r = decoder_feed(t->dec, data, len, deliver, t);
	t->held = decoder_stopped(t->dec);
	return decoded(t, r);
}

static void up_ready(struct evf_transfer *t, int reused)
{
	struct conn *cn = t->conn;
	t->reused = reused;
	t->h2 = cn->proto->version == 2;
	t->had_conn = 1;
	t->connect_deadline_us = 0;
	xfer_set_state(t, XS_REQUEST);
	dl_remove(t);   /* the connect deadline is behind us */
	/* a kept-alive connection serves every transfer with what its
	 * handshake settled */
	if (cn->ssl) {
		t->tls_version = SSL_get_version(cn->ssl);
		t->tls_cipher = SSL_get_cipher_name(cn->ssl);
		t->cert_not_after = cn->cert_not_after;
	}
	if (conn_remote(cn) == 0) {
		memcpy(t->remote_addr, cn->peer_addr, sizeof t->remote_addr);
		t->remote_port = cn->peer_port;
		t->remote_family = cn->peer_family;
	} else {
		t->remote_family = 0;
	}
	if (t->body && XO(t)->idle_timeout_ms) {
		/* a server that takes no more of the body is idle too */
		t->last_io_us = evf_now_us();
		dl_append(t, DL_IDLE);
	}
	if (t->client->cfg.debug_fn)
		debug_connection(t, cn, reused);
	if (t->body && XO(t)->expect_ms && body_expect(t, XO(t)->expect_ms) != 0) {
		transfer_finish(t, EVF_ERR_NOMEM, "out of memory for a timer");
		return;
	}
	int r = conn_submit(cn, t);
	if (r < 0)
		transfer_finish(t, r, r == EVF_ERR_NOMEM ? "out of memory for the request"
		                                         : "the connection cannot take the request");
}

static void up_sent(struct evf_transfer *t)
{
	/* the head is out: a retry on a new connection builds it again, and
	 * an open transfer should not hold it for the length of its body */
	free(t->req);
	t->req = NULL;
	t->req_len = t->req_off = 0;
	xfer_set_state(t, XS_RESPONSE);
	t->last_io_us = evf_now_us();
	if (XO(t)->idle_timeout_ms)
		dl_append(t, DL_IDLE);
}

static void schedule_retry(struct evf_transfer *t)
{
	const struct xfer_opts *cfg = XO(t);
	release_conn(t, 0);
	t->retries++;
	uint64_t ms = policy_backoff_ms(cfg->retry_base_ms, cfg->retry_max_ms, t->retries,
	                                t->retry_after_ms);
	t->retry_after_ms = -1;
	transfer_reset_attempt(t);
	dl_remove(t);
	xfer_set_state(t, XS_RETRY_WAIT);
	arm_timer_at(t, evf_now_us() + ms * 1000u);
}

/* The response is complete: finish, or move on to the next attempt. */
static void response_complete(struct evf_transfer *t, int keep)
{
	if (t->client->cfg.debug_fn)
		up_debug(t, EVF_DEBUG_END_IN, NULL, 0);
	if (t->skip) {
		/* the dropped body is over: its connection may serve again */
		int redirect = t->skip == SKIP_REDIRECT;
		release_conn(t, keep);
		if (redirect)
			transfer_follow_redirect(t);
		else
			schedule_retry(t);
		return;
	}
	release_conn(t, keep);
	if (t->dec) {
		int r = decoder_finish(t->dec);
		if (r) {
			transfer_finish(t, r, t->dec->why);
			return;
		}
	}
	transfer_finish(t, EVF_OK, NULL);
}

/* The idle timeout came while t read a body to drop: no more of it is
 * awaited, the redirect or retry goes on (deadline.c). */
void transfer_skip_stalled(struct evf_transfer *t)
{
	int redirect = t->skip == SKIP_REDIRECT;
	release_conn(t, 0);
	if (redirect)
		transfer_follow_redirect(t);
	else
		schedule_retry(t);
}

/* The response stopped with r < 0: an error, or a reason to try again. */
static void response_stopped(struct evf_transfer *t, int r, const char *why)
{
	if (r == STOP_REDIRECT) {
		release_conn(t, 0);
		transfer_follow_redirect(t);
	} else if (r == STOP_RETRY) {
		schedule_retry(t);
	} else {
		transfer_finish(t, r, t->detail ? t->detail : why);
	}
}

void transfer_touch(struct evf_transfer *t)
{
	t->last_io_us = evf_now_us();
	if (t->dl == DL_IDLE && TAILQ_NEXT(t, link))
		dl_append(t, DL_IDLE);   /* the latest idle deadline now */
}

static void up_recv(struct evf_transfer *t)
{
	t->last_io_us = evf_now_us();
	if (t->dl == DL_IDLE && TAILQ_NEXT(t, link))
		dl_append(t, DL_IDLE);   /* the latest idle deadline now */
	if (!t->got_response_byte) {
		t->got_response_byte = 1;
		t->timings.first_byte_us = t->last_io_us - t->attempt_us;
	}
}

/* The connection under t failed, or its stream was reset; t is off it. */
static void up_failed(struct evf_transfer *t, int err, const char *why, int retry_safe)
{
	struct evf_client *c = t->client;
	if (c->freed)
		return;
	t->conn = NULL;
	t->stream = NULL;
	if (t->skip) {
		/* the stream broke while its dropped body came: go on anyway */
		response_stopped(t, SKIP_STOP(t), why);
		return;
	}
	if (retry_safe > 0 && !t->head_delivered && t->free_retries < 7 && may_resend(t, 0)) {
		/* the server refused the request unseen (REFUSED_STREAM, or
		 * above a GOAWAY's last stream): try again elsewhere, without
		 * counting it against the retries (RFC 9113, 8.7) */
		t->free_retries++;
		t->got_response_byte = 0;
		t->reused = 0;   /* not a stale pooled connection's failure next */
		if (transfer_body_restart(t) == 0)
			requeue(t);
		return;
	}
	if (retry_safe == 0 && t->reused && !t->got_response_byte && !t->retried_stale &&
	    (err == EVF_ERR_NETWORK || err == EVF_ERR_TLS || err == EVF_ERR_TRUNCATED) &&
	    may_resend(t, t->req_touched)) {
		/* the server closed a pooled connection as we used it: once, try
		 * again on a new connection (RFC 9112, 9.3.1) */
		t->retried_stale = 1;
		t->reused = 0;
		t->fresh_only = 1;
		if (transfer_body_restart(t) == 0)
			requeue(t);
		return;
	}
	transfer_finish(t, err, why);
}

static int up_end(struct evf_transfer *t, int r, int keep, const char *why)
{
	struct evf_client *c = t->client;
	if (c->freed)
		return 1;
	if (t->cancelled) {
		/* cancelled from inside its own callback */
		client_discard(c, t);
		return 1;
	}
	if (r == 1) {
		if (t->held && keep >= 0) {
			/* paused with input not decoded yet: the transfer ends
			 * once up_held has delivered it */
			t->end_held = 1;
			t->end_keep = keep != 0;
			return 0;
		}
		response_complete(t, keep > 0);
		return 1;
	}
	if (r < 0 && t->skip && r != STOP_REDIRECT && r != STOP_RETRY)
		r = SKIP_STOP(t);   /* the dropped body broke off: go on all the same */
	if (keep < 0 && r != STOP_REDIRECT && r != STOP_RETRY) {
		/* the connection ended under the response */
		char whycopy[512];
		snprintf(whycopy, sizeof whycopy, "%s", why ? why : "");
		release_conn(t, 0);
		up_failed(t, r, whycopy, 0);
		return 1;
	}
	response_stopped(t, r, why);
	return 1;
}

static int up_held(struct evf_transfer *t)
{
	struct evf_client *c = t->client;
	int r = decoder_resume(t->dec, deliver, t);
	if (c->freed)
		return 1;
	if (t->cancelled) {
		client_discard(c, t);
		return 1;
	}
	t->held = decoder_stopped(t->dec);
	if (r < 0) {
		decoded(t, r);
		transfer_finish(t, r, t->detail ? t->detail : "stopped while decoding the body");
		return 1;
	}
	if (t->end_held && !t->held) {
		response_complete(t, t->end_keep);
		return 1;
	}
	return 0;
}

const struct xfer_upcalls evf_xfer_upcalls = {
	.ready = up_ready,
	.sent = up_sent,
	.recv = up_recv,
	.touch = transfer_touch,
	.head = up_head,
	.body = up_body,
	.trailers = up_trailers,
	.interim = up_interim,
	.held = up_held,
	.end = up_end,
	.failed = up_failed,
	.header_lines = header_lines,
	.user_agent = user_agent,
	.debug = up_debug,
};

void transfer_finish(struct evf_transfer *t, int err, const char *why)
{
	struct evf_client *c = t->client;
	if (t->state == XS_DONE)
		return;
	dl_remove(t);
	if (t->state == XS_WAIT_HOST) {
		TAILQ_REMOVE(&t->host->waiting, t, link);
		c->nwaiting--;
	}
	if (err && policy_retry_error(err) && !t->head_delivered && t->retries < XO(t)->retries &&
	    !c->freed && may_resend(t, t->req_touched)) {
		schedule_retry(t);
		return;
	}
	xfer_set_state(t, XS_DONE);
	if (t->timer_set) {
		event_del(t->timer);
		t->timer_set = 0;
	}
	t->error = err;
	/* why may live in the connection: copy it before closing that */
	if (err && (!t->detail || why != t->detail)) {
		char *d = evf_strdup(why && *why ? why : evf_strerror(err));
		free(t->detail);
		t->detail = d;
	}
	release_conn(t, 0);
	t->timings.total_us = evf_now_us() - (t->start_us ? t->start_us : evf_now_us());
	client_transfer_done(c, t);
}

static void timer_cb(evutil_socket_t fd, short what, void *arg)
{
	struct evf_transfer *t = arg;
	struct evf_client *c = t->client;
	const struct xfer_opts *cfg = XO(t);
	t->timer_set = 0;
	client_enter(c);
	uint64_t now = evf_now_us();
	char why[160];
	if (t->timer_failed) {
		transfer_finish(t, EVF_ERR_RESOURCE, "cannot set a timer (out of memory)");
	} else if (t->state == XS_RETRY_WAIT) {
		if (cfg->total_timeout_ms)
			t->total_deadline_us = now + 1000u * (uint64_t)cfg->total_timeout_ms;
		if (transfer_body_restart(t) == 0)
			transfer_begin_attempt(t, 0);
	} else if (t->total_deadline_us && now >= t->total_deadline_us) {
		snprintf(why, sizeof why, "the transfer did not finish within %u ms",
		         cfg->total_timeout_ms);
		transfer_finish(t, EVF_ERR_TIMEOUT, why);
	} else {
		arm_timer(t);   /* woke early: wait for the rest */
	}
	client_leave(c);
}

int transfer_timer_new(struct evf_transfer *t)
{
	const struct xfer_opts *cfg = XO(t);
	if (!cfg->total_timeout_ms && !cfg->retries)
		return 0;   /* no total deadline and no retry wait: no timer */
	t->timer = evtimer_new(t->client->base, timer_cb, t);
	return t->timer ? 0 : EVF_ERR_NOMEM;
}

void transfer_free(struct evf_transfer *t)
{
	dl_remove(t);
	transfer_set_host(t, NULL);
	if (t->timer)
		event_free(t->timer);
	free(t->effective_url);
	free(t->location);
	for (size_t i = 0; i < t->nheaders; i++)
		free(t->headers[i]);
	free(t->headers);
	tls_ident_req_free(t);
	xfer_ext_free(t);
	body_free(t->body);
	resp_head_free(t->head);
	evf_url_clear(&t->u);
	free(t->req);
	free(t->detail);
	if (t->dec) {
		decoder_free(t->dec);
		free(t->dec);
	}
	free(t);
}
