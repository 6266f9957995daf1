/*
 * fetchd.c - an example of embedding libevfetch in a libevent server.
 *
 * One event_base runs both an evhttp server and an evf_client, so the
 * transfers a request starts never block the answers to other requests:
 *
 *   GET /ping                     "pong"
 *   GET /fetch?url=U1&url=U2...   fetch every URL concurrently, then reply
 *                                 with a JSON summary (one entry per URL)
 *   GET /proxy?url=U              stream U's body back as it arrives
 *   ANY /forward?url=U            forward the request (method, headers,
 *                                 body) to U and stream the answer back
 *   GET /stats[?reset=1]          counters and the worst lateness of a
 *                                 10 ms timer (what blocked the loop), as
 *                                 JSON; reset=1 restarts that measurement
 *                                 and max_buffered
 *
 * /proxy shows flow control across the two libraries: when the client's
 * output buffer holds more than --max-buffer bytes the upstream transfer
 * is paused, and it resumes once evhttp has written that buffer out.  A
 * slow client therefore slows the upstream down instead of making this
 * process buffer the whole body.
 *
 * A client that goes away cancels the transfers made for it, also while
 * they have not produced a byte yet.  evhttp in libevent 2.1 stops reading
 * a connection once it has parsed a request, so its close callback fires
 * only when writing the reply fails; fetchd therefore watches the socket
 * of every request it is still working on (struct hangup_watch).
 *
 * /forward is the embedding case of a reverse proxy.  The request's body
 * goes upstream through a body reader that drains evhttp's input buffer
 * as the upstream takes it (evf_transfer_set_body_reader); the answer
 * comes back as /proxy's does, its status and end-to-end headers with it.
 * libevent 2.1's evhttp reads a request's whole body before it calls the
 * handler (2.2 has evhttp_set_newreqcb to stream it), so an upload is
 * held once, up to --max-upload bytes, and freed as it goes out; a
 * download of any size passes through in at most --max-buffer bytes.
 *
 * With --decode the client asks for gzip and deflate and /proxy streams
 * the decoded body (its reply names no Content-Encoding).  A pause holds
 * there too: however well the body compresses, no more than a read
 * buffer's worth of it waits inside the library.
 *
 * usage: fetchd --port N [--cacert FILE] [--insecure] [--max-buffer BYTES]
 *               [--max-transfers N] [--decode] [--max-upload BYTES]
 * Listens on 127.0.0.1 only and prints the bound port (useful with
 * --port 0) on standard output.
 */
#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <netinet/in.h>
#include <sys/queue.h>
#include <sys/socket.h>
#include <sys/types.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>

#include "evfetch.h"

#define MAX_FETCH_URLS 10000
#define DEFAULT_MAX_BUFFER (256 * 1024)
#define HTTP_BAD_GATEWAY 502   /* libevent 2.1 has no name for it */

struct server {
	struct event_base *base;
	struct evhttp *http;
	evf_client *client;
	size_t max_buffer;
	int decode;              /* --decode: bodies arrive decoded */
	/* counters for /stats */
	unsigned fetch_jobs_active;
	unsigned proxies_active;
	uint64_t proxy_pauses, proxy_resumes, proxy_client_gone;
	uint64_t clients_gone;     /* hang-ups noticed by a hangup_watch */
	size_t max_buffered;
	/* how late a 10 ms timer ran at worst: what blocked the loop */
	struct event *lag_probe;
	double lag_last_ms, lag_max_ms;
};

static double now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

/* ------------------------------------------------------------ helpers */

/* Append s as a JSON string.  Bytes >= 0x80 are escaped one by one so the
 * output stays valid JSON whatever a server put into an error text. */
static void json_str(struct evbuffer *out, const char *s)
{
	if (!s) {
		evbuffer_add(out, "null", 4);
		return;
	}
	evbuffer_add(out, "\"", 1);
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		if (*p == '"' || *p == '\\')
			evbuffer_add_printf(out, "\\%c", *p);
		else if (*p < 0x20 || *p >= 0x7f)
			evbuffer_add_printf(out, "\\u%04x", *p);
		else
			evbuffer_add(out, p, 1);
	}
	evbuffer_add(out, "\"", 1);
}

static void reply_text(struct evhttp_request *req, int code, const char *text)
{
	struct evbuffer *b = evbuffer_new();
	if (b)
		evbuffer_add_printf(b, "%s\n", text);
	evhttp_add_header(evhttp_request_get_output_headers(req), "Content-Type",
	                  "text/plain");
	evhttp_send_reply(req, code, NULL, b);
	if (b)
		evbuffer_free(b);
}

static void reply_json(struct evhttp_request *req, struct evbuffer *body)
{
	evhttp_add_header(evhttp_request_get_output_headers(req), "Content-Type",
	                  "application/json");
	evhttp_send_reply(req, HTTP_OK, "OK", body);
}

/*
 * A request whose connection failed is detached from it by evhttp and left
 * to us (evhttp_request_get_connection is then NULL); one whose connection
 * evhttp itself is freeing (evhttp_free) is freed by evhttp.
 */
static void release_orphan(struct evhttp_request *req)
{
	if (evhttp_request_get_connection(req) == NULL)
		evhttp_request_free(req);
}

/* ------------------------------------------------------ client hang-up */

/*
 * evhttp (libevent 2.1) disables reading on a connection once it has
 * parsed a request and enables it again after the reply, so a client that
 * closes its connection meanwhile goes unnoticed: the close callback runs
 * only when a write of the reply fails.  A request waiting for upstream
 * transfers therefore watches its connection's socket with an event of
 * its own and peeks (MSG_PEEK: the bytes stay for evhttp) when it becomes
 * readable:
 *   - 0 bytes (the client closed or half-closed its end, as nginx also
 *     takes it) or an error such as ECONNRESET: the client is gone.  The
 *     connection is freed, which runs the close callback, which cancels
 *     the transfers and frees the request's state;
 *   - some bytes: the client sent more (a pipelined request).  It is still
 *     there; stop watching, or the level-triggered event would fire again
 *     and again, and leave the rest to the close callback.
 * The watch is removed before the reply is sent, when evhttp reads again.
 */
struct hangup_watch {
	struct event *ev;
	struct server *srv;
	struct evhttp_connection *evcon;
};

static void hangup_peek(evutil_socket_t fd, short what, void *arg)
{
	struct hangup_watch *w = arg;
	char byte;
	ssize_t n = recv(fd, &byte, 1, MSG_PEEK | MSG_DONTWAIT);
	if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
		return;
	if (n > 0) {
		event_del(w->ev);
		return;
	}
	w->srv->clients_gone++;
	/* runs the close callback, which ends the watch (and w) too */
	evhttp_connection_free(w->evcon);
}

/* Start watching req's client; 0, or -1 when no event could be made. */
static int hangup_watch_start(struct hangup_watch *w, struct server *srv,
                              struct evhttp_request *req)
{
	w->srv = srv;
	w->evcon = evhttp_request_get_connection(req);
	struct bufferevent *bev = evhttp_connection_get_bufferevent(w->evcon);
	w->ev = event_new(srv->base, bufferevent_getfd(bev), EV_READ | EV_PERSIST,
	                  hangup_peek, w);
	if (!w->ev || event_add(w->ev, NULL) != 0)
		return -1;
	return 0;
}

static void hangup_watch_stop(struct hangup_watch *w)
{
	if (w->ev)
		event_free(w->ev);
	w->ev = NULL;
}

/* ------------------------------------------------------------- /fetch */

struct fetch_job;

struct fetch_item {
	struct fetch_job *job;
	evf_transfer *t;    /* NULL once done */
	char *url;
	int error;
	int status;
	uint64_t bytes;
	char *detail;
	double time_ms;
};

struct fetch_job {
	struct server *srv;
	struct evhttp_request *req;
	struct evhttp_connection *evcon;
	struct hangup_watch watch;
	size_t n, ndone;
	double start_ms;
	struct fetch_item items[];
};

static void fetch_job_free(struct fetch_job *job)
{
	hangup_watch_stop(&job->watch);
	for (size_t i = 0; i < job->n; i++) {
		free(job->items[i].url);
		free(job->items[i].detail);
	}
	job->srv->fetch_jobs_active--;
	free(job);
}

static void fetch_reply(struct fetch_job *job)
{
	struct evbuffer *out = evbuffer_new();
	size_t nok = 0;
	for (size_t i = 0; i < job->n; i++)
		nok += job->items[i].error == EVF_OK;
	/* the reply ends our interest in the connection */
	evhttp_connection_set_closecb(job->evcon, NULL, NULL);
	hangup_watch_stop(&job->watch);
	if (!out) {
		reply_text(job->req, HTTP_INTERNAL, "out of memory");
		fetch_job_free(job);
		return;
	}
	evbuffer_add_printf(out, "{\"count\":%zu,\"ok\":%zu,\"elapsed_ms\":%.3f,\"results\":[",
	                    job->n, nok, now_ms() - job->start_ms);
	for (size_t i = 0; i < job->n; i++) {
		const struct fetch_item *it = &job->items[i];
		evbuffer_add_printf(out, "%s\n{\"url\":", i ? "," : "");
		json_str(out, it->url);
		evbuffer_add_printf(out, ",\"ok\":%s,\"status\":%d,\"bytes\":%" PRIu64
		                    ",\"error\":", it->error == EVF_OK ? "true" : "false",
		                    it->status, it->bytes);
		json_str(out, it->error == EVF_OK ? NULL : evf_error_name(it->error));
		evbuffer_add(out, ",\"detail\":", 10);
		json_str(out, it->detail);
		evbuffer_add_printf(out, ",\"time_ms\":%.3f}", it->time_ms);
	}
	evbuffer_add(out, "\n]}\n", 4);
	reply_json(job->req, out);
	evbuffer_free(out);
	fetch_job_free(job);
}

static void fetch_item_done(struct fetch_item *it, int error, const char *detail)
{
	it->t = NULL;
	it->error = error;
	if (detail)
		it->detail = strdup(detail);
	if (++it->job->ndone == it->job->n)
		fetch_reply(it->job);
}

static void fetch_on_done(evf_transfer *t, const evf_result *res, void *arg)
{
	struct fetch_item *it = arg;
	it->status = res->status;
	it->bytes = res->bytes;
	it->time_ms = res->timings.total_us / 1e3;
	fetch_item_done(it, res->error, res->detail);
}

/* The client went away before the summary: drop its transfers. */
static void fetch_client_closed(struct evhttp_connection *evcon, void *arg)
{
	struct fetch_job *job = arg;
	for (size_t i = 0; i < job->n; i++)
		if (job->items[i].t)
			evf_transfer_cancel(job->items[i].t);
	release_orphan(job->req);
	fetch_job_free(job);
}

static void handle_fetch(struct server *srv, struct evhttp_request *req,
                         struct evkeyvalq *query)
{
	size_t n = 0;
	struct evkeyval *kv;
	TAILQ_FOREACH(kv, query, next)
		n += strcmp(kv->key, "url") == 0;
	if (n == 0 || n > MAX_FETCH_URLS) {
		reply_text(req, HTTP_BADREQUEST, n ? "too many url parameters"
		                                   : "give one or more url parameters");
		return;
	}
	struct fetch_job *job = calloc(1, sizeof *job + n * sizeof job->items[0]);
	if (!job) {
		reply_text(req, HTTP_INTERNAL, "out of memory");
		return;
	}
	job->srv = srv;
	job->req = req;
	job->evcon = evhttp_request_get_connection(req);
	job->n = n;
	job->start_ms = now_ms();
	srv->fetch_jobs_active++;
	size_t i = 0;
	TAILQ_FOREACH(kv, query, next) {
		if (strcmp(kv->key, "url") == 0)
			job->items[i++] = (struct fetch_item){.job = job, .url = strdup(kv->value)};
	}
	/* every transfer may start before the first on_done: on_done never
	 * runs inside evf_fetch, so the loop below sees a stable job */
	evf_callbacks cb = {.on_done = fetch_on_done};
	size_t failed_now = 0;
	for (i = 0; i < n; i++) {
		struct fetch_item *it = &job->items[i];
		int err = EVF_ERR_NOMEM;
		evf_request r = {.url = it->url, .method = EVF_GET};
		if (it->url)
			it->t = evf_fetch(srv->client, &r, &cb, it, &err);
		if (!it->t) {
			it->error = err;
			it->detail = strdup(evf_strerror(err));
			failed_now++;
		}
	}
	job->ndone = failed_now;
	if (job->ndone == n) {
		fetch_reply(job);
		return;
	}
	evhttp_connection_set_closecb(job->evcon, fetch_client_closed, job);
	if (hangup_watch_start(&job->watch, srv, req) != 0)
		fprintf(stderr, "fetchd: cannot watch a client for hang-ups\n");
}

/* ------------------------------------------------------------- /proxy */

struct proxy {
	struct server *srv;
	struct evhttp_request *req;
	struct evhttp_connection *evcon;
	evf_transfer *t;         /* NULL once done or cancelled */
	int forward;             /* /forward: pass the end-to-end headers back */
	struct hangup_watch watch;
	struct evbuffer *chunk;
	int started;             /* the reply head went out */
	int paused;
};

static void proxy_free(struct proxy *px)
{
	hangup_watch_stop(&px->watch);
	if (px->chunk)
		evbuffer_free(px->chunk);
	px->srv->proxies_active--;
	free(px);
}

static size_t client_buffered(struct proxy *px)
{
	struct bufferevent *bev = evhttp_connection_get_bufferevent(px->evcon);
	return evbuffer_get_length(bufferevent_get_output(bev));
}

/* Hop-by-hop fields (RFC 9110, 7.6.1) and those evhttp or evfetch frame
 * themselves: a proxy passes neither way. */
static int hop_by_hop(const char *name)
{
	static const char *const names[] = {"connection", "keep-alive", "proxy-connection",
	                                    "te", "trailer", "transfer-encoding", "upgrade",
	                                    "host", "content-length", "proxy-authorization",
	                                    "proxy-authenticate"};
	for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
		if (strcasecmp(name, names[i]) == 0)
			return 1;
	return 0;
}

/* Is name one of the options of a Connection field's value (RFC 9110,
 * 7.6.1), and so hop-by-hop as well? */
static int listed_in(const char *connection, const char *name)
{
	size_t len = strlen(name);
	for (const char *p = connection; p && *p;) {
		p += strspn(p, " \t,");
		size_t tl = strcspn(p, " \t,");
		if (tl == len && strncasecmp(p, name, len) == 0)
			return 1;
		p += tl;
	}
	return 0;
}

static int connection_listed(const evf_header *hs, size_t n, const char *name)
{
	for (size_t i = 0; i < n; i++)
		if (strcasecmp(hs[i].name, "Connection") == 0 && listed_in(hs[i].value, name))
			return 1;
	return 0;
}

/* /forward: does this response field go back to the client? */
static int forward_field(const struct proxy *px, const evf_response *resp, const char *name)
{
	if (hop_by_hop(name) || connection_listed(resp->headers, resp->nheaders, name))
		return 0;
	/* with --decode the body is no longer what these describe */
	return !px->srv->decode || (strcasecmp(name, "Content-Encoding") != 0 &&
	                            strcasecmp(name, "Content-MD5") != 0 &&
	                            strcasecmp(name, "Digest") != 0 && strcasecmp(name, "ETag") != 0);
}

static int proxy_on_head(evf_transfer *t, const evf_response *resp, void *arg)
{
	struct proxy *px = arg;
	struct evkeyvalq *h = evhttp_request_get_output_headers(px->req);
	for (size_t i = 0; i < resp->nheaders; i++)
		if (px->forward ? forward_field(px, resp, resp->headers[i].name)
		                : strcasecmp(resp->headers[i].name, "Content-Type") == 0)
			evhttp_add_header(h, resp->headers[i].name, resp->headers[i].value);
	/* no Content-Length: a chunked reply can still say "truncated" (by
	 * closing without the last chunk) if the upstream fails midway */
	evhttp_send_reply_start(px->req, resp->status, NULL);
	px->started = 1;
	return 0;
}

/* evhttp wrote out everything we gave it: the client caught up. */
static void proxy_drained(struct evhttp_connection *evcon, void *arg)
{
	struct proxy *px = arg;
	if (px->paused && px->t) {
		px->paused = 0;
		px->srv->proxy_resumes++;
		evf_transfer_resume(px->t);
	}
}

static int proxy_on_body(evf_transfer *t, const void *data, size_t len, void *arg)
{
	struct proxy *px = arg;
	struct server *srv = px->srv;
	if (evbuffer_add(px->chunk, data, len) != 0)
		return -1;
	/* the callback fires when the output buffer is empty again */
	evhttp_send_reply_chunk_with_cb(px->req, px->chunk, proxy_drained, px);
	size_t queued = client_buffered(px);
	if (queued > srv->max_buffered)
		srv->max_buffered = queued;
	if (queued > srv->max_buffer && !px->paused) {
		px->paused = 1;
		srv->proxy_pauses++;
		evf_transfer_pause(t);
	}
	return 0;
}

static void proxy_on_done(evf_transfer *t, const evf_result *res, void *arg)
{
	struct proxy *px = arg;
	px->t = NULL;
	evhttp_connection_set_closecb(px->evcon, NULL, NULL);
	hangup_watch_stop(&px->watch);
	if (res->error == EVF_OK) {
		if (!px->started)
			evhttp_send_reply_start(px->req, res->status, NULL);
		evhttp_send_reply_end(px->req);
	} else if (!px->started) {
		char msg[600];
		snprintf(msg, sizeof msg, "upstream failed: %s: %s", evf_error_name(res->error),
		         res->detail ? res->detail : evf_strerror(res->error));
		reply_text(px->req, HTTP_BAD_GATEWAY, msg);
	} else {
		/* part of the body went out: only an abrupt close tells the
		 * client that it is incomplete.  This frees the request too. */
		fprintf(stderr, "fetchd: proxy of %s failed midway: %s\n", res->url,
		        res->detail ? res->detail : evf_error_name(res->error));
		evhttp_connection_free(px->evcon);
	}
	proxy_free(px);
}

static void proxy_client_closed(struct evhttp_connection *evcon, void *arg)
{
	struct proxy *px = arg;
	px->srv->proxy_client_gone++;
	if (px->t)
		evf_transfer_cancel(px->t);
	release_orphan(px->req);
	proxy_free(px);
}

/* /forward's body: what evhttp read, drained as the upstream takes it. */
static long forward_body(evf_transfer *t, char *buf, size_t cap, void *arg)
{
	struct proxy *px = arg;
	int n = evbuffer_remove(evhttp_request_get_input_buffer(px->req), buf, cap);
	return n < 0 ? EVF_BODY_ABORT : n;
}

static const char *method_name(enum evhttp_cmd_type cmd)
{
	switch (cmd) {
	case EVHTTP_REQ_GET: return "GET";
	case EVHTTP_REQ_POST: return "POST";
	case EVHTTP_REQ_HEAD: return "HEAD";
	case EVHTTP_REQ_PUT: return "PUT";
	case EVHTTP_REQ_DELETE: return "DELETE";
	case EVHTTP_REQ_OPTIONS: return "OPTIONS";
	case EVHTTP_REQ_TRACE: return "TRACE";
	case EVHTTP_REQ_CONNECT: return "CONNECT";
	case EVHTTP_REQ_PATCH: return "PATCH";
	}
	return NULL;
}

/* The incoming request as the upstream request: 0, or an evf_error. */
static int forward_setup(struct proxy *px, evf_transfer *t)
{
	struct evhttp_request *req = px->req;
	const char *m = method_name(evhttp_request_get_command(req));
	int r = m ? evf_transfer_set_method(t, m) : EVF_ERR_INVALID;
	struct evkeyval *kv;
	char line[8192];
	TAILQ_FOREACH(kv, evhttp_request_get_input_headers(req), next) {
		if (r != 0)
			break;
		if (hop_by_hop(kv->key) ||
		    listed_in(evhttp_find_header(evhttp_request_get_input_headers(req), "Connection"),
		              kv->key) ||
		    (size_t)snprintf(line, sizeof line, "%s: %s", kv->key, kv->value) >= sizeof line)
			continue;
		r = evf_transfer_add_header(t, line);
	}
	size_t len = evbuffer_get_length(evhttp_request_get_input_buffer(req));
	if (r == 0 && (len > 0 || evhttp_find_header(evhttp_request_get_input_headers(req),
	                                             "Content-Length")))
		/* no rewind: drained bytes are gone, so a 307 answers 502 */
		r = evf_transfer_set_body_reader(t, forward_body, NULL, (int64_t)len);
	return r;
}

static void handle_proxy(struct server *srv, struct evhttp_request *req,
                         struct evkeyvalq *query, int forward)
{
	const char *url = NULL;
	size_t n = 0;
	struct evkeyval *kv;
	TAILQ_FOREACH(kv, query, next) {
		if (strcmp(kv->key, "url") == 0) {
			url = kv->value;
			n++;
		}
	}
	if (n != 1) {
		reply_text(req, HTTP_BADREQUEST, "give exactly one url parameter");
		return;
	}
	struct proxy *px = calloc(1, sizeof *px);
	if (!px || !(px->chunk = evbuffer_new())) {
		free(px);
		reply_text(req, HTTP_INTERNAL, "out of memory");
		return;
	}
	px->srv = srv;
	px->req = req;
	px->evcon = evhttp_request_get_connection(req);
	px->forward = forward;
	srv->proxies_active++;
	int err = 0;
	px->t = evf_transfer_new(srv->client, url, px, &err);
	if (px->t) {
		evf_transfer_on_head(px->t, proxy_on_head);
		evf_transfer_on_body(px->t, proxy_on_body);
		evf_transfer_on_done(px->t, proxy_on_done);
		if ((forward && (err = forward_setup(px, px->t)) != 0) ||
		    (err = evf_transfer_start(px->t)) != 0) {
			evf_transfer_cancel(px->t);   /* never started: freed */
			px->t = NULL;
		}
	}
	if (!px->t) {
		reply_text(req, err == EVF_ERR_NOMEM ? HTTP_INTERNAL : HTTP_BADREQUEST,
		           evf_strerror(err));
		proxy_free(px);
		return;
	}
	evhttp_connection_set_closecb(px->evcon, proxy_client_closed, px);
	if (hangup_watch_start(&px->watch, srv, req) != 0)
		fprintf(stderr, "fetchd: cannot watch a client for hang-ups\n");
}

/* -------------------------------------------------------- dispatching */

#define LAG_PROBE_MS 10

static void on_lag_probe(evutil_socket_t fd, short what, void *arg)
{
	struct server *srv = arg;
	double t = now_ms(), late = t - srv->lag_last_ms - LAG_PROBE_MS;
	if (late > srv->lag_max_ms)
		srv->lag_max_ms = late;
	srv->lag_last_ms = t;
}

/* /stats?reset=1 starts a new loop lag measurement. */
static void handle_stats(struct server *srv, struct evhttp_request *req,
                         struct evkeyvalq *query)
{
	double lag = srv->lag_max_ms;
	size_t max_buffered = srv->max_buffered;
	const char *reset = evhttp_find_header(query, "reset");
	if (reset && strcmp(reset, "1") == 0) {
		srv->lag_max_ms = 0;
		srv->max_buffered = 0;
	}

	struct evbuffer *out = evbuffer_new();
	if (!out) {
		reply_text(req, HTTP_INTERNAL, "out of memory");
		return;
	}
	evbuffer_add_printf(out,
	                    "{\"fetch_jobs_active\":%u,\"proxies_active\":%u,"
	                    "\"proxy_pauses\":%" PRIu64 ",\"proxy_resumes\":%" PRIu64 ","
	                    "\"proxy_client_gone\":%" PRIu64 ",\"clients_gone\":%" PRIu64 ","
	                    "\"max_buffered\":%zu,"
	                    "\"max_buffer\":%zu,\"transfers_active\":%u,"
	                    "\"transfers_queued\":%u,\"loop_lag_max_ms\":%.1f}\n",
	                    srv->fetch_jobs_active, srv->proxies_active, srv->proxy_pauses,
	                    srv->proxy_resumes, srv->proxy_client_gone, srv->clients_gone,
	                    max_buffered,
	                    srv->max_buffer, evf_client_active(srv->client),
	                    evf_client_queued(srv->client), lag);
	reply_json(req, out);
	evbuffer_free(out);
}

static void on_request(struct evhttp_request *req, void *arg)
{
	struct server *srv = arg;
	const struct evhttp_uri *uri = evhttp_request_get_evhttp_uri(req);
	const char *path = evhttp_uri_get_path(uri);
	const char *qs = evhttp_uri_get_query(uri);
	struct evkeyvalq query;
	TAILQ_INIT(&query);
	if (!path)
		path = "/";
	if (qs && evhttp_parse_query_str(qs, &query) != 0) {
		reply_text(req, HTTP_BADREQUEST, "malformed query string");
		return;
	}
	if (strcmp(path, "/ping") == 0)
		reply_text(req, HTTP_OK, "pong");
	else if (strcmp(path, "/fetch") == 0)
		handle_fetch(srv, req, &query);
	else if (strcmp(path, "/proxy") == 0 && evhttp_request_get_command(req) == EVHTTP_REQ_GET)
		handle_proxy(srv, req, &query, 0);
	else if (strcmp(path, "/forward") == 0)
		handle_proxy(srv, req, &query, 1);
	else if (evhttp_request_get_command(req) != EVHTTP_REQ_GET)
		reply_text(req, HTTP_BADMETHOD, "only /forward takes other methods than GET");
	else if (strcmp(path, "/stats") == 0)
		handle_stats(srv, req, &query);
	else
		reply_text(req, HTTP_NOTFOUND, "unknown path: try /ping, /fetch, /proxy, /forward");
	evhttp_clear_headers(&query);
}

static void on_signal(evutil_socket_t sig, short what, void *arg)
{
	event_base_loopbreak(arg);
}

/* ----------------------------------------------------------------- main */

static void usage(void)
{
	fprintf(stderr, "usage: fetchd --port N [--cacert FILE] [--insecure] "
	                "[--max-buffer BYTES] [--max-transfers N] [--decode] "
	                "[--max-upload BYTES]\n");
	exit(2);
}

static unsigned long number(const char *s, unsigned long max)
{
	char *end;
	errno = 0;
	unsigned long v = strtoul(s, &end, 10);
	if (errno || end == s || *end || v > max)
		usage();
	return v;
}

int main(int argc, char **argv)
{
	long port = -1;
	const char *cacert = NULL;
	int insecure = 0, decode = 0;
	unsigned max_transfers = 50;
	unsigned long max_upload = 64ul << 20;
	struct server srv = {.max_buffer = DEFAULT_MAX_BUFFER};

	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		if (strcmp(a, "--insecure") == 0) {
			insecure = 1;
			continue;
		}
		if (strcmp(a, "--decode") == 0) {
			decode = srv.decode = 1;
			continue;
		}
		if (i + 1 >= argc)
			usage();
		const char *v = argv[++i];
		if (strcmp(a, "--port") == 0)
			port = (long)number(v, 65535);
		else if (strcmp(a, "--cacert") == 0)
			cacert = v;
		else if (strcmp(a, "--max-buffer") == 0)
			srv.max_buffer = number(v, SIZE_MAX / 2);
		else if (strcmp(a, "--max-transfers") == 0)
			max_transfers = (unsigned)number(v, 100000);
		else if (strcmp(a, "--max-upload") == 0)
			max_upload = number(v, SIZE_MAX / 2);
		else
			usage();
	}
	if (port < 0)
		usage();
	/* a client that vanishes must not kill the server on the next write */
	signal(SIGPIPE, SIG_IGN);

	srv.base = event_base_new();
	evf_config *cfg = evf_config_new();
	if (!srv.base || !cfg)
		return 1;
	if ((cacert && evf_config_set_ca_file(cfg, cacert) != 0) ||
	    evf_config_set_insecure(cfg, insecure) != 0 ||
	    evf_config_set_decode(cfg, decode) != 0 ||
	    evf_config_set_max_transfers(cfg, max_transfers) != 0) {
		fprintf(stderr, "fetchd: bad client settings\n");
		return 1;
	}
	int err = 0;
	srv.client = evf_client_new(srv.base, cfg, &err);
	evf_config_free(cfg);
	if (!srv.client) {
		fprintf(stderr, "fetchd: cannot create the client: %s\n", evf_strerror(err));
		return 1;
	}
	srv.http = evhttp_new(srv.base);
	if (!srv.http)
		return 1;
	evhttp_set_allowed_methods(srv.http, EVHTTP_REQ_GET | EVHTTP_REQ_POST | EVHTTP_REQ_HEAD |
	                                             EVHTTP_REQ_PUT | EVHTTP_REQ_DELETE |
	                                             EVHTTP_REQ_OPTIONS | EVHTTP_REQ_PATCH);
	/* evhttp holds an upload whole before the handler runs: bound it */
	evhttp_set_max_body_size(srv.http, (ev_ssize_t)max_upload);
	evhttp_set_gencb(srv.http, on_request, &srv);
	struct evhttp_bound_socket *bound =
	        evhttp_bind_socket_with_handle(srv.http, "127.0.0.1", (ev_uint16_t)port);
	if (!bound) {
		fprintf(stderr, "fetchd: cannot listen on 127.0.0.1:%ld: %s\n", port,
		        strerror(errno));
		return 1;
	}
	struct sockaddr_in sin;
	socklen_t slen = sizeof sin;
	if (getsockname(evhttp_bound_socket_get_fd(bound), (struct sockaddr *)&sin,
	                &slen) != 0)
		return 1;
	printf("%d\n", ntohs(sin.sin_port));
	fflush(stdout);

	struct event *sigterm = evsignal_new(srv.base, SIGTERM, on_signal, srv.base);
	struct event *sigint = evsignal_new(srv.base, SIGINT, on_signal, srv.base);
	evsignal_add(sigterm, NULL);
	evsignal_add(sigint, NULL);
	struct timeval probe = {0, LAG_PROBE_MS * 1000};
	srv.lag_probe = event_new(srv.base, -1, EV_PERSIST, on_lag_probe, &srv);
	srv.lag_last_ms = now_ms();
	event_add(srv.lag_probe, &probe);
	event_base_dispatch(srv.base);

	/* evhttp first: its close callbacks cancel transfers of the client */
	evhttp_free(srv.http);
	evf_client_free(srv.client);
	event_free(srv.lag_probe);
	event_free(sigterm);
	event_free(sigint);
	event_base_free(srv.base);
	return 0;
}
