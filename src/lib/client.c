/*
 * client.c - the client: the public entry points, the queue of transfers
 * waiting for a slot, the limit on transfers in flight, and the deferred
 * delivery of on_done so that it never runs inside the caller's API call.
 *
 * Slots: at most max_transfers transfers run at once.  evf_fetch queues a
 * transfer on `pending` and kick_cb, from the loop, starts queued ones
 * while slots are free (see pick).  evf_client_active counts the slots in
 * use or promised to queued transfers that the next kick starts, so
 * evf_client_queued is nonzero only while all of them are.
 *
 * Re-entrancy: every libevent callback into the library brackets its work
 * with client_enter/client_leave.  evf_client_free from inside a callback
 * only marks the client; the outermost client_leave releases it.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sys/resource.h>
#include <arpa/inet.h>

#include <openssl/err.h>

#include "internal.h"

static void kick_cb(evutil_socket_t fd, short what, void *arg);
static void destroy(struct evf_client *c);
static void drain_cb(evutil_socket_t fd, short what, void *arg);

/* Idle connections hold descriptors: half the soft limit, 16 to 4,096. */
static unsigned default_max_idle(void)
{
	struct rlimit rl;
	rlim_t n = 4096;
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY &&
	    rl.rlim_cur / 2 < n)
		n = rl.rlim_cur / 2;
	return n < 16 ? 16 : (unsigned)n;
}

EVF_API evf_client *evf_client_new(struct event_base *base, const evf_config *cfg,
                                   int *err)
{
	return evf_client_new2(base, cfg, err, NULL, 0);
}

EVF_API evf_client *evf_client_new2(struct event_base *base, const evf_config *cfg,
                                    int *err, char *why, size_t whylen)
{
	int e = EVF_ERR_NOMEM;
	const char *reason = NULL;
	if (!base) {
		e = EVF_ERR_INVALID;
		reason = "no event_base given";
		goto fail0;
	}
	evf_client *c = calloc(1, sizeof *c);
	if (!c)
		goto fail0;
	c->base = base;
	c->up = &evf_xfer_upcalls;
	c->destroy = destroy;
	struct evf_config defaults;
	evf_config_defaults(&defaults);
	if (evf_config_copy(&c->cfg, cfg ? cfg : &defaults) != 0)
		goto fail1;
	TAILQ_INIT(&c->pending);
	TAILQ_INIT(&c->unstarted);
	xfer_opts_from_config(&c->opts, &c->cfg);
	TAILQ_INIT(&c->deferred_hosts);
	TAILQ_INIT(&c->woken_hosts);
	TAILQ_INIT(&c->idle_lru);
	TAILQ_INIT(&c->throttled);
	TAILQ_INIT(&c->done);
	TAILQ_INIT(&c->live);
	TAILQ_INIT(&c->hs_wait);
	TAILQ_INIT(&c->changed_hosts);
	TAILQ_INIT(&c->dl_connect);
	TAILQ_INIT(&c->dl_idle);
	TAILQ_INIT(&c->unused_hosts);
	c->max_unused = c->cfg.host_cache;
	c->max_idle = c->cfg.max_idle ? c->cfg.max_idle : default_max_idle();
	c->ssl_ctx = tls_ctx_new(&c->cfg, c->why, sizeof c->why);
	evf_config_forget_pass(&c->cfg);   /* the key is loaded, or never will be */
	if (!c->ssl_ctx) {
		e = EVF_ERR_TLS;
		goto fail2;
	}
	if (!(c->bio_meth = tls_bio_method_new())) {
		e = EVF_ERR_NOMEM;
		goto fail3;
	}
	if ((e = proxy_client_setup(c)) != 0)
		goto fail3;
	if ((e = dns_setup(c)) != 0)
		goto fail3;
	/* a common timeout: adding it to many events costs O(1) */
	c->idle_tv = event_base_init_common_timeout(base, &(struct timeval){EVF_IDLE_TIMEOUT_SEC, 0});
	c->slow_connect_tv = event_base_init_common_timeout(base,
	        &(struct timeval){0, 1000 * EVF_SLOW_CONNECT_MS});
	if (!c->idle_tv || !c->slow_connect_tv) {
		e = EVF_ERR_NOMEM;
		goto fail3;
	}
	event_assign(&c->kick, base, -1, 0, kick_cb, c);
	event_assign(&c->drain, base, -1, 0, drain_cb, c);
	evtimer_assign(&c->dl_ev, base, transfer_deadlines_cb, c);
	evtimer_assign(&c->rate_ev, base, conn_rate_cb, c);
	c->rate_at_us = evf_now_us();
	if (err)
		*err = 0;
	if (why && whylen > 0)
		why[0] = '\0';
	return c;
fail3:
	proxy_client_free(c);
	dns_teardown(c);
	if (c->bio_meth)
		BIO_meth_free(c->bio_meth);
	SSL_CTX_free(c->ssl_ctx);
fail2:
	evf_config_clear(&c->cfg);
fail1:
	/* the reason outlives the client that held it */
	if (why && whylen > 0)
		snprintf(why, whylen, "%s", c->why[0] ? c->why : evf_strerror(e));
	free(c);
	if (err)
		*err = e;
	return NULL;
fail0:
	if (why && whylen > 0)
		snprintf(why, whylen, "%s", reason ? reason : evf_strerror(e));
	if (err)
		*err = e;
	return NULL;
}

static void destroy(struct evf_client *c)
{
	struct evf_transfer *t;
	/* every transfer is on one of these lists; idle connections are on
	 * their hosts' lists */
	while ((t = TAILQ_FIRST(&c->pending)) || (t = TAILQ_FIRST(&c->done)) ||
	       (t = TAILQ_FIRST(&c->live)) || (t = TAILQ_FIRST(&c->unstarted)))
		client_discard(c, t);
	/* deferred transfers, on every host: an asleep (rate-limited) host
	 * is on no client list; no host is freed before pool_free_all, as
	 * pool_host_settle leaves a freed client's hosts alone */
	for (size_t i = 0; i < c->nbuckets; i++)
		for (struct host *h = c->hosts[i]; h; h = h->hnext)
			while ((t = TAILQ_FIRST(&h->deferred)))
				client_discard(c, t);
	pool_free_all(c);
	tls_idents_free(c);
	event_del(&c->kick);
	event_del(&c->drain);
	event_del(&c->dl_ev);
	event_del(&c->rate_ev);
	dns_teardown(c);
	proxy_client_free(c);
	SSL_CTX_free(c->ssl_ctx);
	BIO_meth_free(c->bio_meth);
	evf_config_clear(&c->cfg);
	free(c);
}

EVF_API void evf_client_free(evf_client *c)
{
	if (!c || c->freed)
		return;
	c->freed = 1;
	if (c->depth == 0)
		destroy(c);
}


/* Queued transfers the next kick starts: as many as there are free slots. */
static unsigned promised(const evf_client *c)
{
	unsigned free = c->cfg.max_transfers - c->nactive;
	return c->npending < free ? c->npending : free;
}

EVF_API unsigned evf_client_active(const evf_client *c)
{
	return c ? c->nactive + promised(c) : 0;
}

EVF_API unsigned evf_client_queued(const evf_client *c)
{
	return c ? c->npending - promised(c) : 0;
}

EVF_API int evf_client_close_idle(evf_client *c)
{
	if (!c || c->freed)
		return EVF_ERR_INVALID;
	int n = 0;
	client_enter(c);
	/* closing a host's last connection may put it on the LRU of unused
	 * hosts and evict another: start each bucket over after a close */
	for (size_t i = 0; i < c->nbuckets && !c->freed; i++) {
		struct host *h = c->hosts[i];
		while (h && !c->freed) {
			struct conn *cn = TAILQ_FIRST(&h->idle);
			if (!cn) {
				h = h->hnext;
				continue;
			}
			conn_close(cn);
			n++;
			h = c->hosts[i];
		}
	}
	client_leave(c);
	return n;
}

/* t gives its slot back. */
static void slot_free(struct evf_client *c, struct evf_transfer *t)
{
	t->counted_active = 0;
	c->nactive--;
	if (c->npending)
		client_kick(c);
}

/* h has deferred transfers: on deferred_hosts unless its gate is closed. */
static void deferred_list_add(struct evf_client *c, struct host *h)
{
	if (h->ndeferred && !h->on_deferred && !h->asleep) {
		h->on_deferred = 1;
		TAILQ_INSERT_TAIL(&c->deferred_hosts, h, dlink);
	}
}

static void deferred_list_remove(struct evf_client *c, struct host *h)
{
	if (h->on_deferred) {
		h->on_deferred = 0;
		TAILQ_REMOVE(&c->deferred_hosts, h, dlink);
	}
	if (h->on_woken) {
		h->on_woken = 0;
		TAILQ_REMOVE(&c->woken_hosts, h, wlink);
	}
}

void client_host_asleep(struct evf_client *c, struct host *h, int asleep)
{
	h->asleep = asleep != 0;
	if (asleep) {
		deferred_list_remove(c, h);
	} else {
		deferred_list_add(c, h);
		client_host_woken(c, h);
	}
}

/* t waits on its host's deferred list: the host is busy or gated. */
static void defer(struct evf_client *c, struct evf_transfer *t)
{
	struct host *h = t->host;
	t->deferred = 1;
	TAILQ_INSERT_TAIL(&h->deferred, t, link);
	h->ndeferred++;
	if (!h->asleep && pool_host_gated(h))
		pool_host_sleep(h);
	deferred_list_add(c, h);
}

/* Take t off its queue: pending or its host's deferred list. */
static void unqueue(struct evf_client *c, struct evf_transfer *t)
{
	c->npending--;
	if (!t->deferred) {
		TAILQ_REMOVE(&c->pending, t, link);
		return;
	}
	struct host *h = t->host;
	t->deferred = 0;
	TAILQ_REMOVE(&h->deferred, t, link);
	if (--h->ndeferred == 0)
		deferred_list_remove(c, h);
}

void client_host_woken(struct evf_client *c, struct host *h)
{
	if (h->ndeferred && !h->on_woken && !h->asleep) {
		h->on_woken = 1;
		TAILQ_INSERT_TAIL(&c->woken_hosts, h, wlink);
	}
}

/* Whether a queued transfer of h may start now. */
static int host_ready(const struct host *h)
{
	return !pool_host_busy(h) && !pool_host_gated(h);
}

/*
 * The next queued transfer to start, for a free slot.  A transfer whose
 * host has every connection in use (or being opened) would open one more:
 * it waits on the host's deferred list while another host's transfer can
 * use the slot, so that one connection serves a host's adjacent URLs in
 * turn.  So does one whose host is gated by politeness (--rate-per-host,
 * --delay-per-host, a Retry-After pause): it holds no slot, and its host
 * leaves deferred_hosts until the gate opens.  In order:
 *   1. the oldest deferred transfer of a host that may have a connection
 *      for it now (one came free or closed);
 *   2. the queue's next transfer whose host is not busy (busy ones are
 *      deferred on the way: each transfer is looked at once);
 *   3. with nothing else to run, the oldest deferred transfer, which
 *      opens another connection to its host (a single-host run opens as
 *      many connections as it has slots, as it always did); while other
 *      hosts have deferred transfers too, only a host with at least
 *      EVF_SPREAD_QUEUE of them per connection (the end of a crawl leaves
 *      each host a short line, which its one connection serves in turn);
 *      not while on_done calls are due, in which the caller may queue
 *      more.  Otherwise the slot stays free until a connection does.
 */
static struct evf_transfer *pick(struct evf_client *c)
{
	struct host *h;
	struct evf_transfer *t;
	while ((h = TAILQ_FIRST(&c->woken_hosts))) {
		TAILQ_REMOVE(&c->woken_hosts, h, wlink);
		h->on_woken = 0;
		if (host_ready(h)) {
			t = TAILQ_FIRST(&h->deferred);
			unqueue(c, t);
			client_host_woken(c, h);   /* looked at again after t starts */
			return t;
		}
	}
	while ((t = TAILQ_FIRST(&c->pending))) {
		if (!t->host || host_ready(t->host)) {
			unqueue(c, t);
			return t;
		}
		TAILQ_REMOVE(&c->pending, t, link);
		defer(c, t);
	}
	/* on_done calls are due: the caller may queue other hosts' work in
	 * them, so the last resort waits for them (drain_cb kicks again) */
	if (c->drain_scheduled)
		return NULL;
	struct host *next;
	for (h = TAILQ_FIRST(&c->deferred_hosts); h; h = next) {
		next = TAILQ_NEXT(h, dlink);
		if (pool_host_gated(h)) {
			pool_host_sleep(h);   /* off the list until its gate opens */
			continue;
		}
		if ((next || h != TAILQ_FIRST(&c->deferred_hosts)) &&
		    h->ndeferred < EVF_SPREAD_QUEUE * h->nconns)
			continue;   /* a short line: its connections serve it in turn */
		t = TAILQ_FIRST(&h->deferred);
		unqueue(c, t);
		return t;
	}
	return NULL;
}

static void kick_cb(evutil_socket_t fd, short what, void *arg)
{
	struct evf_client *c = arg;
	struct evf_transfer *t;
	c->kick_scheduled = 0;
	client_enter(c);
	struct conn *cn;
	while (!c->freed && c->nhandshakes < c->cfg.max_handshakes &&
	       (cn = TAILQ_FIRST(&c->hs_wait))) {
		TAILQ_REMOVE(&c->hs_wait, cn, link);
		conn_start(cn);
	}
	/* transfers already under way come first: those that waited for a
	 * connection of their host, or must try again */
	transfer_serve_changed(c);
	while (!c->freed && c->nactive < c->cfg.max_transfers && (t = pick(c))) {
		c->nactive++;
		t->counted_active = 1;
		TAILQ_INSERT_TAIL(&c->live, t, live_link);
		t->on_live = 1;
		transfer_start(t);
	}
	client_leave(c);
}

void client_transfer_done(struct evf_client *c, struct evf_transfer *t)
{
	if (t->on_live) {
		TAILQ_REMOVE(&c->live, t, live_link);
		t->on_live = 0;
	}
	if (t->counted_active)
		slot_free(c, t);
	TAILQ_INSERT_TAIL(&c->done, t, link);
	if (!c->drain_scheduled) {
		c->drain_scheduled = 1;
		event_active(&c->drain, EV_TIMEOUT, 1);
	}
}

/* t's remote address as text, in the client's one-entry cache. */
static const char *remote_text(struct evf_client *c, const struct evf_transfer *t)
{
	size_t n = t->remote_family == AF_INET ? 4 : 16;
	if (!t->remote_family)
		return NULL;
	if (c->ip_family != t->remote_family || memcmp(c->ip_addr, t->remote_addr, n) != 0) {
		if (!inet_ntop(t->remote_family, t->remote_addr, c->ip_text, sizeof c->ip_text)) {
			c->ip_family = 0;
			return NULL;
		}
		c->ip_family = t->remote_family;
		memcpy(c->ip_addr, t->remote_addr, n);
	}
	return c->ip_text;
}

static void drain_cb(evutil_socket_t fd, short what, void *arg)
{
	struct evf_client *c = arg;
	struct evf_transfer *t;
	c->drain_scheduled = 0;
	client_enter(c);
	while (!c->freed && (t = TAILQ_FIRST(&c->done))) {
		TAILQ_REMOVE(&c->done, t, link);
		evf_result res = {
			.error = t->error,
			/* the copy of the detail may have failed for lack of memory */
			.detail = !t->error ? NULL : t->detail ? t->detail : evf_strerror(t->error),
			.status = t->status,
			.bytes = t->bytes,
			.url = t->url,
			.tls_version = t->tls_version,
			.reused = t->reused,
			.timings = t->timings,
			.effective_url = t->effective_url ? t->effective_url : t->url,
			.redirects = t->redirects,
			.retries = t->retries,
			.queued_us = t->queued_us,
			.tls_cipher = t->tls_cipher,
			.cert_not_after = t->cert_not_after,
			.http_version = evf_transfer_http_version(t),
			.remote_ip = remote_text(c, t),
			.remote_port = t->remote_family ? t->remote_port : 0,
			.proxy = proxy_of_host_shown(t->host),
		};
		t->in_callback = 1;
		t->cb.on_done(t, &res, t->arg);
		transfer_free(t);
	}
	if (!c->freed && c->npending && c->nactive < c->cfg.max_transfers)
		client_kick(c);   /* pick's last resort, held back while on_done was due */
	client_leave(c);
}

char **copy_lines(const char *const *lines, size_t n, int *err)
{
	char **out = calloc(n, sizeof *out);
	if (!out) {
		*err = EVF_ERR_NOMEM;
		return NULL;
	}
	for (size_t i = 0; i < n; i++) {
		if (evf_header_line_valid(lines[i]) || !(out[i] = evf_strdup(lines[i]))) {
			*err = out[i] || evf_header_line_valid(lines[i]) ? EVF_ERR_INVALID : EVF_ERR_NOMEM;
			for (size_t j = 0; j < i; j++)
				free(out[j]);
			free(out[i]);
			free(out);
			return NULL;
		}
	}
	return out;
}

struct evf_transfer *client_transfer_new(struct evf_client *c, const char *url, void *arg,
                                         int *err)
{
	size_t ulen = strlen(url);
	struct evf_transfer *t = calloc(1, sizeof *t + ulen + 1);   /* the URL right behind */
	if (!t) {
		*err = EVF_ERR_NOMEM;
		return NULL;
	}
	t->url = memcpy(t->urlbuf, url, ulen + 1);
	t->client = c;
	t->arg = arg;
	t->method = "GET";
	t->idempotent = 1;
	TAILQ_INSERT_TAIL(&c->unstarted, t, link);
	return t;
}

int client_transfer_start(struct evf_transfer *t)
{
	struct evf_client *c = t->client;
	int e = transfer_timer_new(t);
	if (e)
		return e;
	TAILQ_REMOVE(&c->unstarted, t, link);
	t->started = 1;
	xfer_set_state(t, XS_QUEUED);
	t->start_us = evf_now_us();   /* transfer_start turns it into queued_us */
	char why[512];
	int rc = tls_ident_resolve(t, why, sizeof why);
	transfer_prepare(t);
	if (rc && !t->parse_rc) {
		/* its certificate could not be loaded: on_done says so */
		transfer_set_host(t, NULL);
		free(t->detail);
		t->detail = evf_strdup(why);
		t->parse_rc = rc;
		t->parse_why = t->detail;
	}
	TAILQ_INSERT_TAIL(&c->pending, t, link);
	c->npending++;
	if (c->nactive < c->cfg.max_transfers)
		client_kick(c);
	return 0;
}

EVF_API evf_transfer *evf_fetch(evf_client *c, const evf_request *req,
                                const evf_callbacks *cb, void *arg, int *err)
{
	int e = EVF_ERR_INVALID;
	evf_transfer *t = NULL;
	if (!c || c->freed || !req || !req->url || !cb || !cb->on_done ||
	    (req->method != EVF_GET && req->method != EVF_HEAD) ||
	    (req->nheaders && !req->headers))
		goto fail;
	if (!(t = client_transfer_new(c, req->url, arg, &e)))
		goto fail;
	if (req->nheaders) {
		if (!(t->headers = copy_lines(req->headers, req->nheaders, &e)))
			goto fail;
		t->nheaders = req->nheaders;
	}
	if (req->method == EVF_HEAD) {
		t->method = "HEAD";
		t->is_head = 1;
	}
	t->cb = *cb;
	if ((e = client_transfer_start(t)) != 0)
		goto fail;
	if (err)
		*err = 0;
	return t;
fail:
	if (t)
		client_discard(c, t);   /* not started: only freed */
	if (err)
		*err = e;
	return NULL;
}

void client_discard(struct evf_client *c, struct evf_transfer *t)
{
	if (!t->started) {
		TAILQ_REMOVE(&c->unstarted, t, link);
		transfer_free(t);
		return;
	}
	switch (t->state) {
	case XS_QUEUED:
		if (!t->on_live)
			unqueue(c, t);
		break;
	case XS_WAIT_HOST:
		TAILQ_REMOVE(&t->host->waiting, t, link);
		c->nwaiting--;
		break;
	case XS_DONE:
		TAILQ_REMOVE(&c->done, t, link);
		break;
	default:
		break;
	}
	if (t->on_live) {
		TAILQ_REMOVE(&c->live, t, live_link);
		t->on_live = 0;
	}
	if (t->conn) {
		/* only its own stream, when the connection carries others */
		struct conn *cn = t->conn;
		conn_detach(cn, t, 0);
		t->conn = NULL;
		t->stream = NULL;
	}
	if (t->counted_active)
		slot_free(c, t);
	transfer_free(t);
}

EVF_API void evf_transfer_cancel(evf_transfer *t)
{
	if (!t || t->cancelled)
		return;
	struct evf_client *c = t->client;
	t->cancelled = 1;
	if (t->in_callback)
		return;   /* whoever called the callback tears it down */
	client_enter(c);
	client_discard(c, t);
	client_leave(c);
}

EVF_API int evf_transfer_pause(evf_transfer *t)
{
	if (!t || t->cancelled || t->state == XS_DONE)
		return EVF_ERR_INVALID;
	t->paused = 1;
	return 0;
}

EVF_API int evf_transfer_resume(evf_transfer *t)
{
	if (!t || t->cancelled || t->state == XS_DONE)
		return EVF_ERR_INVALID;
	if (t->paused) {
		t->paused = 0;
		if (t->conn)
			conn_resume(t->conn, t);
	}
	return 0;
}

EVF_API const char *evf_transfer_url(const evf_transfer *t)
{
	return t ? t->url : NULL;
}

EVF_API const char *evf_transfer_effective_url(const evf_transfer *t)
{
	return !t ? NULL : t->effective_url ? t->effective_url : t->url;
}

EVF_API const char *evf_transfer_remote_ip(const evf_transfer *t)
{
	return t ? remote_text(t->client, t) : NULL;
}

EVF_API const char *evf_transfer_http_version(const evf_transfer *t)
{
	return !t || !t->had_conn ? NULL : t->h2 ? "2" : "1.1";
}

EVF_API const char *evf_transfer_tls_version(const evf_transfer *t)
{
	return t ? t->tls_version : NULL;
}
