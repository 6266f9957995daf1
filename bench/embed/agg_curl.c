/*
 * agg_curl.c - the aggregator's fetching on libcurl's multi interface (see
 * agg.h), the benchmark's point of comparison for agg_evfetch.c.
 *
 * The usual glue between libcurl and a libevent loop: libcurl says through
 * its socket callback which sockets to watch for what, and through its
 * timer callback when to call it back; an event per socket and one timer
 * call curl_multi_socket_action, after which finished transfers are read
 * with curl_multi_info_read.
 *
 * Tuned as far as libcurl lets a server go: easy handles are reused (with
 * their options set once), one share object holds the TLS session cache
 * for every handle, the multi handle's connection cache is as big as the
 * transfers allowed at once (CURLMOPT_MAXCONNECTS), and
 * CURLMOPT_MAX_TOTAL_CONNECTIONS limits transfers in flight as evfetch's
 * max_transfers does.  Certificates are verified, as evfetch does.
 *
 * build: cc agg_server.c agg_curl.c \
 *            $(pkg-config --cflags --libs libcurl libevent_core libevent_extra)
 */
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>
#include <event2/event.h>

#include "agg.h"

const char *const backend_name = "libcurl";

/* A reusable easy handle. */
struct easy {
	CURL *h;
	struct backend *b;
	struct agg_item *it;       /* NULL while on the free list */
	uint64_t bytes;
	struct easy *next;         /* on the free list */
};

/* A socket libcurl asked us to watch. */
struct sock {
	struct event *ev;
	struct sock *prev, *next;  /* every watched socket, for backend_free */
};

struct backend {
	struct event_base *base;
	CURLM *multi;
	CURLSH *share;
	struct event *timer;
	char *cacert;
	struct easy *free_easies;
	struct sock *socks;
	unsigned attached;         /* easy handles in the multi */
};

static void check_done(struct backend *b)
{
	CURLMsg *msg;
	int left;
	while ((msg = curl_multi_info_read(b->multi, &left))) {
		if (msg->msg != CURLMSG_DONE)
			continue;
		struct easy *e = NULL;
		long code = 0;
		curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, (char **)&e);
		curl_easy_getinfo(msg->easy_handle, CURLINFO_RESPONSE_CODE, &code);
		int ok = msg->data.result == CURLE_OK && code == 200;
		/* msg is invalid once the handle is removed */
		curl_multi_remove_handle(b->multi, e->h);
		b->attached--;
		struct agg_item *it = e->it;
		e->it = NULL;
		e->next = b->free_easies;
		b->free_easies = e;
		agg_item_done(it, ok, e->bytes);
	}
}

static void on_socket_event(evutil_socket_t fd, short what, void *arg)
{
	struct backend *b = arg;
	int flags = (what & EV_READ ? CURL_CSELECT_IN : 0) | (what & EV_WRITE ? CURL_CSELECT_OUT : 0);
	int running;
	curl_multi_socket_action(b->multi, fd, flags, &running);
	check_done(b);
}

static void on_timer(evutil_socket_t fd, short what, void *arg)
{
	struct backend *b = arg;
	int running;
	curl_multi_socket_action(b->multi, CURL_SOCKET_TIMEOUT, 0, &running);
	check_done(b);
}

/* CURLMOPT_SOCKETFUNCTION: watch s for what libcurl wants, or stop. */
static int socket_cb(CURL *easy, curl_socket_t s, int what, void *userp, void *socketp)
{
	struct backend *b = userp;
	struct sock *sk = socketp;
	if (what == CURL_POLL_REMOVE) {
		if (sk) {
			event_free(sk->ev);
			if (sk->prev)
				sk->prev->next = sk->next;
			else
				b->socks = sk->next;
			if (sk->next)
				sk->next->prev = sk->prev;
			free(sk);
			curl_multi_assign(b->multi, s, NULL);
		}
		return 0;
	}
	short kind = EV_PERSIST | (what & CURL_POLL_IN ? EV_READ : 0) |
	             (what & CURL_POLL_OUT ? EV_WRITE : 0);
	if (!sk) {
		if (!(sk = calloc(1, sizeof *sk)))
			return -1;
		if (!(sk->ev = event_new(b->base, s, kind, on_socket_event, b))) {
			free(sk);
			return -1;
		}
		sk->next = b->socks;
		if (b->socks)
			b->socks->prev = sk;
		b->socks = sk;
		curl_multi_assign(b->multi, s, sk);
	} else {
		event_del(sk->ev);
		event_assign(sk->ev, b->base, s, kind, on_socket_event, b);
	}
	return event_add(sk->ev, NULL) == 0 ? 0 : -1;
}

/* CURLMOPT_TIMERFUNCTION: call libcurl back in timeout_ms, or never. */
static int timer_cb(CURLM *multi, long timeout_ms, void *userp)
{
	struct backend *b = userp;
	if (timeout_ms < 0)
		return event_del(b->timer);
	struct timeval tv = {timeout_ms / 1000, (timeout_ms % 1000) * 1000};
	return evtimer_add(b->timer, &tv);
}

static size_t on_body(char *data, size_t size, size_t n, void *arg)
{
	struct easy *e = arg;
	e->bytes += (uint64_t)size * n;
	return size * n;
}

/* A handle from the free list, or a new one with the options set once. */
static struct easy *easy_get(struct backend *b)
{
	struct easy *e = b->free_easies;
	if (e) {
		b->free_easies = e->next;
		return e;
	}
	if (!(e = calloc(1, sizeof *e)) || !(e->h = curl_easy_init())) {
		free(e);
		return NULL;
	}
	e->b = b;
	curl_easy_setopt(e->h, CURLOPT_PRIVATE, e);
	curl_easy_setopt(e->h, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(e->h, CURLOPT_WRITEDATA, e);
	curl_easy_setopt(e->h, CURLOPT_SHARE, b->share);
	curl_easy_setopt(e->h, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(e->h, CURLOPT_HTTP_VERSION, (long)CURL_HTTP_VERSION_1_1);
	if (b->cacert)
		curl_easy_setopt(e->h, CURLOPT_CAINFO, b->cacert);
	return e;
}

static void easy_free(struct easy *e)
{
	curl_easy_cleanup(e->h);
	free(e);
}

struct backend *backend_new(struct event_base *base, const struct agg_options *opt)
{
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
		return NULL;
	struct backend *b = calloc(1, sizeof *b);
	if (!b)
		return NULL;
	b->base = base;
	b->multi = curl_multi_init();
	b->share = curl_share_init();
	b->timer = evtimer_new(base, on_timer, b);
	if (opt->cacert)
		b->cacert = strdup(opt->cacert);
	if (!b->multi || !b->share || !b->timer || (opt->cacert && !b->cacert)) {
		backend_free(b);
		return NULL;
	}
	curl_share_setopt(b->share, CURLSHOPT_SHARE, CURL_LOCK_DATA_SSL_SESSION);
	curl_share_setopt(b->share, CURLSHOPT_SHARE, CURL_LOCK_DATA_DNS);
	curl_multi_setopt(b->multi, CURLMOPT_SOCKETFUNCTION, socket_cb);
	curl_multi_setopt(b->multi, CURLMOPT_SOCKETDATA, b);
	curl_multi_setopt(b->multi, CURLMOPT_TIMERFUNCTION, timer_cb);
	curl_multi_setopt(b->multi, CURLMOPT_TIMERDATA, b);
	curl_multi_setopt(b->multi, CURLMOPT_MAXCONNECTS, (long)opt->max_transfers);
	curl_multi_setopt(b->multi, CURLMOPT_MAX_TOTAL_CONNECTIONS, (long)opt->max_transfers);
	return b;
}

void backend_free(struct backend *b)
{
	struct easy *e;
	while ((e = b->free_easies)) {
		b->free_easies = e->next;
		easy_free(e);
	}
	if (b->multi)
		curl_multi_cleanup(b->multi);
	while (b->socks) {
		struct sock *sk = b->socks;
		b->socks = sk->next;
		event_free(sk->ev);
		free(sk);
	}
	if (b->share)
		curl_share_cleanup(b->share);
	if (b->timer)
		event_free(b->timer);
	free(b->cacert);
	free(b);
	curl_global_cleanup();
}

int backend_start(struct backend *b, struct agg_item *it, const char *url)
{
	struct easy *e = easy_get(b);
	if (!e)
		return -1;
	e->it = it;
	e->bytes = 0;
	curl_easy_setopt(e->h, CURLOPT_URL, url);
	if (curl_multi_add_handle(b->multi, e->h) != CURLM_OK) {
		e->it = NULL;
		e->next = b->free_easies;
		b->free_easies = e;
		return -1;
	}
	b->attached++;
	it->handle = e;
	return 0;
}

void backend_cancel(struct backend *b, struct agg_item *it)
{
	struct easy *e = it->handle;
	curl_multi_remove_handle(b->multi, e->h);
	b->attached--;
	e->it = NULL;
	e->next = b->free_easies;
	b->free_easies = e;
	it->handle = NULL;
}

void backend_counts(struct backend *b, unsigned *active, unsigned *queued)
{
	/* libcurl 7.88 does not tell running transfers from those waiting
	 * for a connection: every handle in the multi counts as active */
	*active = b->attached;
	*queued = 0;
}
