/*
 * agg_server.c - the evhttp side of the aggregator (see agg.h): requests,
 * their deadlines, clients that hang up, replies and /stats.  The fetching
 * is the backend's (agg_evfetch.c or agg_curl.c), on the same event_base.
 *
 * usage: agg_evfetch|agg_curl --upstream URL_PREFIX [--port N]
 *            [--cacert FILE] [--max-transfers N] [--deadline-ms MS]
 *            [--max-n K]
 *
 *   GET /agg?n=K   fetch URL_PREFIX0 .. URL_PREFIX<K-1> at once; when the
 *                  last is done, 200 with {"n":K,"ok":OK,"bytes":B}; when
 *                  the deadline (default 2000 ms) passes first, 504, and
 *                  what is left is cancelled
 *   GET /stats     counters as JSON
 *
 * Listens on 127.0.0.1 (port 0: any) and prints the port on standard
 * output.  SIGTERM or SIGINT: stop, free everything, exit 0.
 */
#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <netinet/in.h>
#include <sys/queue.h>
#include <sys/socket.h>
#include <sys/types.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>

#include "agg.h"

#define HTTP_GATEWAY_TIMEOUT 504   /* libevent 2.1 has no names for these */
#define HTTP_BAD_GATEWAY 502

struct server {
	struct event_base *base;
	struct backend *backend;
	const char *upstream;
	unsigned max_n;
	unsigned deadline_ms;
	uint64_t requests, replied, timeouts, failed, clients_gone;
	unsigned open;             /* /agg requests not answered yet */
};

struct agg {
	struct server *srv;
	struct evhttp_request *req;
	struct evhttp_connection *evcon;
	struct event *deadline;
	struct event *watch;       /* EOF from the client while we fetch */
	unsigned n, left, nok;
	uint64_t bytes;
	struct agg_item items[];
};

static void agg_free(struct agg *a)
{
	if (a->deadline)
		event_free(a->deadline);
	if (a->watch)
		event_free(a->watch);
	a->srv->open--;
	free(a);
}

/* Cancel every item still running. */
static void agg_cancel(struct agg *a)
{
	for (unsigned i = 0; i < a->n; i++) {
		struct agg_item *it = &a->items[i];
		if (!it->done && it->handle)
			backend_cancel(a->srv->backend, it);
		it->done = 1;
	}
}

static void reply(struct evhttp_request *req, int code, struct evbuffer *body)
{
	evhttp_add_header(evhttp_request_get_output_headers(req), "Content-Type",
	                  "application/json");
	evhttp_send_reply(req, code, NULL, body);
}

static void agg_reply(struct agg *a, int code)
{
	struct evbuffer *out = evbuffer_new();
	evhttp_connection_set_closecb(a->evcon, NULL, NULL);
	if (out)
		evbuffer_add_printf(out, "{\"n\":%u,\"ok\":%u,\"bytes\":%" PRIu64 "}\n", a->n,
		                    a->nok, a->bytes);
	reply(a->req, code, out);
	if (out)
		evbuffer_free(out);
	agg_free(a);
}

void agg_item_done(struct agg_item *it, int ok, uint64_t bytes)
{
	struct agg *a = it->agg;
	it->handle = NULL;
	it->done = 1;
	a->nok += ok != 0;
	a->bytes += bytes;
	if (--a->left == 0) {
		a->srv->replied++;
		agg_reply(a, HTTP_OK);
	}
}

static void on_deadline(evutil_socket_t fd, short what, void *arg)
{
	struct agg *a = arg;
	a->srv->timeouts++;
	agg_cancel(a);
	agg_reply(a, HTTP_GATEWAY_TIMEOUT);
}

/* evhttp gives up the connection: the client is gone. */
static void on_client_closed(struct evhttp_connection *evcon, void *arg)
{
	struct agg *a = arg;
	a->srv->clients_gone++;
	agg_cancel(a);
	/* a request detached from its failed connection is ours to free */
	if (evhttp_request_get_connection(a->req) == NULL)
		evhttp_request_free(a->req);
	agg_free(a);
}

/*
 * evhttp (libevent 2.1) reads nothing from a connection while its request
 * is being answered, so it would not see the client leave: peek at the
 * socket.  EOF or an error: free the connection, which runs
 * on_client_closed.  Bytes (a pipelined request): the client is there;
 * stop watching.
 */
static void on_client_readable(evutil_socket_t fd, short what, void *arg)
{
	struct agg *a = arg;
	char byte;
	ssize_t n = recv(fd, &byte, 1, MSG_PEEK | MSG_DONTWAIT);
	if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
		return;
	if (n > 0) {
		event_del(a->watch);
		return;
	}
	evhttp_connection_free(a->evcon);
}

static void handle_agg(struct server *srv, struct evhttp_request *req,
                       struct evkeyvalq *query)
{
	const char *ns = evhttp_find_header(query, "n");
	char *end = NULL;
	unsigned long n = ns ? strtoul(ns, &end, 10) : 0;
	if (!ns || *end || n == 0 || n > srv->max_n) {
		evhttp_send_error(req, HTTP_BADREQUEST, "n must be 1 to max-n");
		return;
	}
	struct agg *a = calloc(1, sizeof *a + n * sizeof a->items[0]);
	if (!a) {
		evhttp_send_error(req, HTTP_INTERNAL, NULL);
		return;
	}
	srv->requests++;
	srv->open++;
	a->srv = srv;
	a->req = req;
	a->evcon = evhttp_request_get_connection(req);
	a->n = a->left = (unsigned)n;
	char url[2048];
	for (unsigned i = 0; i < a->n; i++) {
		struct agg_item *it = &a->items[i];
		it->agg = a;
		snprintf(url, sizeof url, "%s%u", srv->upstream, i);
		if (backend_start(srv->backend, it, url) != 0) {
			it->done = 1;
			a->left--;
		}
	}
	if (a->left == 0) {   /* not one could start */
		srv->failed++;
		agg_reply(a, HTTP_BAD_GATEWAY);
		return;
	}
	struct timeval tv = {srv->deadline_ms / 1000, (srv->deadline_ms % 1000) * 1000};
	int fd = bufferevent_getfd(evhttp_connection_get_bufferevent(a->evcon));
	a->deadline = evtimer_new(srv->base, on_deadline, a);
	a->watch = event_new(srv->base, fd, EV_READ | EV_PERSIST, on_client_readable, a);
	if (!a->deadline || !a->watch || evtimer_add(a->deadline, &tv) != 0 ||
	    event_add(a->watch, NULL) != 0) {
		srv->failed++;
		agg_cancel(a);
		agg_reply(a, HTTP_INTERNAL);
		return;
	}
	evhttp_connection_set_closecb(a->evcon, on_client_closed, a);
}

static void handle_stats(struct server *srv, struct evhttp_request *req)
{
	unsigned active = 0, queued = 0;
	backend_counts(srv->backend, &active, &queued);
	struct evbuffer *out = evbuffer_new();
	if (!out) {
		evhttp_send_error(req, HTTP_INTERNAL, NULL);
		return;
	}
	evbuffer_add_printf(out,
	                    "{\"backend\":\"%s\",\"requests\":%" PRIu64 ",\"replied\":%" PRIu64
	                    ",\"timeouts\":%" PRIu64 ",\"failed\":%" PRIu64
	                    ",\"clients_gone\":%" PRIu64 ",\"open\":%u"
	                    ",\"transfers_active\":%u,\"transfers_queued\":%u}\n",
	                    backend_name, srv->requests, srv->replied, srv->timeouts,
	                    srv->failed, srv->clients_gone, srv->open, active, queued);
	reply(req, HTTP_OK, out);
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
	if (qs && evhttp_parse_query_str(qs, &query) != 0) {
		evhttp_send_error(req, HTTP_BADREQUEST, NULL);
		return;
	}
	if (path && strcmp(path, "/agg") == 0)
		handle_agg(srv, req, &query);
	else if (path && strcmp(path, "/stats") == 0)
		handle_stats(srv, req);
	else
		evhttp_send_error(req, HTTP_NOTFOUND, NULL);
	evhttp_clear_headers(&query);
}

static void on_signal(evutil_socket_t sig, short what, void *arg)
{
	event_base_loopbreak(arg);
}

static void usage(void)
{
	fprintf(stderr, "usage: agg --upstream URL_PREFIX [--port N] [--cacert FILE] "
	                "[--max-transfers N] [--deadline-ms MS] [--max-n K]\n");
	exit(2);
}

static unsigned long number(const char *s, unsigned long min, unsigned long max)
{
	char *end;
	errno = 0;
	unsigned long v = strtoul(s, &end, 10);
	if (errno || end == s || *end || v < min || v > max)
		usage();
	return v;
}

int main(int argc, char **argv)
{
	struct server srv = {.max_n = 100, .deadline_ms = 2000};
	struct agg_options opt = {.max_transfers = 1024};
	unsigned port = 0;
	for (int i = 1; i + 1 < argc; i += 2) {
		const char *a = argv[i], *v = argv[i + 1];
		if (strcmp(a, "--upstream") == 0)
			srv.upstream = v;
		else if (strcmp(a, "--port") == 0)
			port = (unsigned)number(v, 0, 65535);
		else if (strcmp(a, "--cacert") == 0)
			opt.cacert = v;
		else if (strcmp(a, "--max-transfers") == 0)
			opt.max_transfers = (unsigned)number(v, 1, 1000000);
		else if (strcmp(a, "--deadline-ms") == 0)
			srv.deadline_ms = (unsigned)number(v, 1, 3600000);
		else if (strcmp(a, "--max-n") == 0)
			srv.max_n = (unsigned)number(v, 1, 100000);
		else
			usage();
	}
	if (!srv.upstream || argc % 2 == 0)
		usage();
	opt.deadline_ms = srv.deadline_ms;
	signal(SIGPIPE, SIG_IGN);

	if (!(srv.base = event_base_new()))
		return 1;
	if (!(srv.backend = backend_new(srv.base, &opt))) {
		fprintf(stderr, "agg: cannot set up %s\n", backend_name);
		return 1;
	}
	struct evhttp *http = evhttp_new(srv.base);
	if (!http)
		return 1;
	evhttp_set_allowed_methods(http, EVHTTP_REQ_GET);
	evhttp_set_gencb(http, on_request, &srv);
	struct evhttp_bound_socket *bound =
	        evhttp_bind_socket_with_handle(http, "127.0.0.1", (ev_uint16_t)port);
	if (!bound) {
		fprintf(stderr, "agg: cannot listen on 127.0.0.1:%u: %s\n", port, strerror(errno));
		return 1;
	}
	struct sockaddr_in sin;
	socklen_t slen = sizeof sin;
	if (getsockname(evhttp_bound_socket_get_fd(bound), (struct sockaddr *)&sin, &slen) != 0)
		return 1;
	printf("%d\n", ntohs(sin.sin_port));
	fflush(stdout);

	struct event *sigterm = evsignal_new(srv.base, SIGTERM, on_signal, srv.base);
	struct event *sigint = evsignal_new(srv.base, SIGINT, on_signal, srv.base);
	evsignal_add(sigterm, NULL);
	evsignal_add(sigint, NULL);
	event_base_dispatch(srv.base);

	/* evhttp first: its close callbacks cancel what the backend runs */
	evhttp_free(http);
	backend_free(srv.backend);
	event_free(sigterm);
	event_free(sigint);
	event_base_free(srv.base);
	return 0;
}
