/*
 * transfer.c - one request and its response: acquiring a connection,
 * sending the head, handing the response to the caller's callbacks, the
 * connect and total timers, and the one retry on a fresh connection when
 * a reused one turns out to be stale.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

#define DEFAULT_UA "evfetch/" EVF_VERSION_STRING

static void timer_cb(evutil_socket_t fd, short what, void *arg);

static void arm_timer(struct evf_transfer *t)
{
	uint64_t deadline = t->total_deadline_us;
	if (t->state == XS_CONNECT && t->connect_deadline_us &&
	    (!deadline || t->connect_deadline_us < deadline))
		deadline = t->connect_deadline_us;
	if (t->timer_set) {
		event_del(&t->timer);
		t->timer_set = 0;
	}
	if (!deadline)
		return;
	uint64_t now = evf_now_us();
	uint64_t left = deadline > now ? deadline - now : 0;
	struct timeval tv = {(time_t)(left / 1000000u), (suseconds_t)(left % 1000000u)};
	evtimer_assign(&t->timer, t->client->base, timer_cb, t);
	evtimer_add(&t->timer, &tv);
	t->timer_set = 1;
}

/* Detach the connection from t; it is closed unless keep is set. */
static void release_conn(struct evf_transfer *t, int keep)
{
	struct conn *cn = t->conn;
	if (!cn)
		return;
	t->conn = NULL;
	cn->xfer = NULL;
	if (keep)
		pool_put_idle(cn);
	else
		conn_close(cn);
}

static void acquire(struct evf_transfer *t, int allow_idle)
{
	struct host *h = t->host;
	struct conn *cn = allow_idle ? pool_take_idle(h) : NULL;
	if (cn) {
		transfer_attach(t, cn, 1);
		return;
	}
	if (pool_can_open(h)) {
		t->connect_deadline_us = t->client->cfg.connect_timeout_ms
		        ? evf_now_us() + 1000u * (uint64_t)t->client->cfg.connect_timeout_ms : 0;
		t->state = XS_CONNECT;
		arm_timer(t);
		conn_open(h, t);
		return;
	}
	t->state = XS_WAIT_HOST;
	pool_mark_used(h);
	TAILQ_INSERT_TAIL(&h->waiting, t, link);
	t->client->nwaiting++;
}

void transfer_acquire(struct evf_transfer *t)
{
	acquire(t, 1);
}

void transfer_start(struct evf_transfer *t)
{
	struct evf_client *c = t->client;
	const char *why = NULL;
	t->start_us = evf_now_us();
	int rc = evf_url_parse(&t->u, t->url, &why);
	if (rc) {
		transfer_finish(t, rc, why);
		return;
	}
	if (!(t->host = pool_host(c, &t->u))) {
		transfer_finish(t, EVF_ERR_NOMEM, "out of memory for a host");
		return;
	}
	if (c->cfg.total_timeout_ms)
		t->total_deadline_us = t->start_us + 1000u * (uint64_t)c->cfg.total_timeout_ms;
	t->state = XS_CONNECT;
	arm_timer(t);
	acquire(t, 1);
}

static int build_request(struct evf_transfer *t)
{
	const struct evf_config *cfg = &t->client->cfg;
	size_t n = cfg->nheaders + t->nheaders + 1;
	const char *stack[32];
	const char **all = n <= 32 ? stack : malloc(n * sizeof *all);
	if (!all)
		return EVF_ERR_NOMEM;
	for (size_t i = 0; i < cfg->nheaders; i++)
		all[i] = cfg->headers[i];
	for (size_t i = 0; i < t->nheaders; i++)
		all[cfg->nheaders + i] = t->headers[i];
	if (cfg->no_keepalive)
		all[n - 1] = "Connection: close";
	else
		n--;
	t->req = http1_request(t->method == EVF_HEAD ? "HEAD" : "GET", t->u.target,
	                       t->u.authority, cfg->user_agent ? cfg->user_agent : DEFAULT_UA,
	                       all, n, &t->req_len);
	if (all != stack)
		free(all);
	return t->req ? 0 : EVF_ERR_NOMEM;
}

static int sink_head(void *ctx, const evf_response *resp)
{
	struct evf_transfer *t = ctx;
	t->status = resp->status;
	if (t->client->cfg.fail_on_http_error && resp->status >= 400)
		return EVF_ERR_HTTP;
	if (!t->cb.on_head)
		return 0;
	t->in_callback = 1;
	int r = t->cb.on_head(t, resp, t->arg);
	t->in_callback = 0;
	if (t->client->freed || t->cancelled)
		return EVF_ERR_CANCELLED;
	return r ? EVF_ERR_IO : 0;
}

static int sink_body(void *ctx, const char *data, size_t len)
{
	struct evf_transfer *t = ctx;
	t->bytes += len;
	if (!t->cb.on_body)
		return 0;
	t->in_callback = 1;
	int r = t->cb.on_body(t, data, len, t->arg);
	t->in_callback = 0;
	if (t->client->freed || t->cancelled)
		return EVF_ERR_CANCELLED;
	return r ? EVF_ERR_IO : 0;
}

void transfer_attach(struct evf_transfer *t, struct conn *cn, int reused)
{
	t->conn = cn;
	cn->xfer = t;
	t->reused = reused;
	transfer_connected(t);
}

void transfer_connected(struct evf_transfer *t)
{
	struct conn *cn = t->conn;
	struct evf_client *c = t->client;
	t->state = XS_REQUEST;
	arm_timer(t);   /* only the total deadline is left */
	if (!t->req && build_request(t) != 0) {
		transfer_finish(t, EVF_ERR_NOMEM, "out of memory for the request");
		return;
	}
	if (!t->tls_version && cn->ssl)
		t->tls_version = SSL_get_version(cn->ssl);
	struct http1_limits lim = {c->cfg.max_header_bytes, c->cfg.max_headers};
	struct http1_sink sink = {sink_head, sink_body, t};
	http1_init(&cn->http, &lim, &sink, t->method == EVF_HEAD);
	conn_start_request(cn);
}

int transfer_on_data(struct evf_transfer *t, const char *data, size_t len)
{
	struct evf_client *c = t->client;
	struct conn *cn = t->conn;
	if (!t->got_response_byte) {
		t->got_response_byte = 1;
		t->timings.first_byte_us = evf_now_us() - t->start_us;
	}
	size_t used = 0;
	int r = http1_feed(&cn->http, data, len, &used);
	if (c->freed)
		return 1;
	if (t->cancelled) {
		/* cancelled from inside its own callback */
		client_discard(c, t);
		return 1;
	}
	if (r == 0)
		return 0;
	if (r == 1) {
		/* bytes past the response, or records still inside OpenSSL,
		 * mean the server sent more than it framed: never reuse */
		int keep = cn->http.keep_alive && used == len && !cn->ops->pending(cn) &&
		           !c->cfg.no_keepalive;
		release_conn(t, keep);
		transfer_finish(t, EVF_OK, NULL);
		return 1;
	}
	char why[160];
	if (r == EVF_ERR_HTTP)
		snprintf(why, sizeof why, "the server answered with HTTP status %d", t->status);
	else if (r == EVF_ERR_IO)
		snprintf(why, sizeof why, "the receiver refused the data");
	else
		snprintf(why, sizeof why, "%s", cn->http.why);
	transfer_finish(t, r, why);
	return 1;
}

void transfer_on_eof(struct evf_transfer *t, int clean)
{
	struct conn *cn = t->conn;
	int r = http1_eof(&cn->http, clean);
	if (r == 1) {
		release_conn(t, 0);
		transfer_finish(t, EVF_OK, NULL);
		return;
	}
	char why[sizeof cn->http.why];
	snprintf(why, sizeof why, "%s", cn->http.why);
	transfer_conn_failed(t, r, why);
}

void transfer_conn_failed(struct evf_transfer *t, int err, const char *why)
{
	int stale = t->reused && !t->got_response_byte && !t->retried_stale &&
	            (err == EVF_ERR_NETWORK || err == EVF_ERR_TLS || err == EVF_ERR_TRUNCATED);
	char whycopy[512];
	snprintf(whycopy, sizeof whycopy, "%s", why ? why : "");
	release_conn(t, 0);
	if (t->client->freed)
		return;
	if (stale) {
		/* the server closed a pooled connection as we used it: once, try
		 * again on a new connection (RFC 9112, 9.3.1) */
		t->retried_stale = 1;
		t->reused = 0;
		acquire(t, 0);
		return;
	}
	transfer_finish(t, err, whycopy);
}

void transfer_finish(struct evf_transfer *t, int err, const char *why)
{
	struct evf_client *c = t->client;
	if (t->state == XS_DONE)
		return;
	if (t->state == XS_WAIT_HOST) {
		TAILQ_REMOVE(&t->host->waiting, t, link);
		c->nwaiting--;
	}
	t->state = XS_DONE;
	if (t->timer_set) {
		event_del(&t->timer);
		t->timer_set = 0;
	}
	t->error = err;
	/* why may live in the connection: copy it before closing that */
	if (err && !t->detail)
		t->detail = evf_strdup(why && *why ? why : evf_strerror(err));
	release_conn(t, 0);
	t->timings.total_us = evf_now_us() - (t->start_us ? t->start_us : evf_now_us());
	client_transfer_done(c, t);
}

static void timer_cb(evutil_socket_t fd, short what, void *arg)
{
	struct evf_transfer *t = arg;
	struct evf_client *c = t->client;
	t->timer_set = 0;
	client_enter(c);
	uint64_t now = evf_now_us();
	char why[160];
	if (t->state == XS_CONNECT && t->connect_deadline_us && now >= t->connect_deadline_us) {
		snprintf(why, sizeof why, "no connection to %s within %u ms",
		         t->u.authority, c->cfg.connect_timeout_ms);
		transfer_finish(t, EVF_ERR_TIMEOUT, why);
	} else if (t->total_deadline_us && now >= t->total_deadline_us) {
		snprintf(why, sizeof why, "the transfer did not finish within %u ms",
		         c->cfg.total_timeout_ms);
		transfer_finish(t, EVF_ERR_TIMEOUT, why);
	} else {
		arm_timer(t);   /* woke early: wait for the rest */
	}
	client_leave(c);
}

void transfer_free(struct evf_transfer *t)
{
	if (t->timer_set)
		event_del(&t->timer);
	free(t->url);
	for (size_t i = 0; i < t->nheaders; i++)
		free(t->headers[i]);
	free(t->headers);
	evf_url_clear(&t->u);
	free(t->req);
	free(t->detail);
	free(t);
}
