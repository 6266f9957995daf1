/*
 * pool.c - hosts (scheme, name, port), the connections a transfer can use
 * (idle keep-alive ones, and HTTP/2 ones with free streams), the queues of
 * transfers waiting for one, and the hosts' TLS sessions.
 *
 * Every client has the same TLS settings, so scheme, name and port are the
 * whole key.  Hosts without connections or waiters stay cached (for their
 * TLS session and their last verified certificate chain) on a bounded LRU
 * list.
 */
#include <stdlib.h>
#include <stdio.h>
#include <string.h>

#include "internal.h"

static void idle_outcome(struct evf_client *c, int hit);

static size_t hash_key(int tls, const char *name, int port)
{
	size_t h = 2166136261u ^ (size_t)tls;
	for (const unsigned char *p = (const unsigned char *)name; *p; p++)
		h = (h ^ *p) * 16777619u;
	return (h ^ (size_t)port) * 16777619u;
}

/* Take h off the LRU of unused hosts. */
static void lru_remove(struct evf_client *c, struct host *h)
{
	if (!h->frozen) {
		c->nwarm--;
		if (c->warm == h)
			c->warm = TAILQ_NEXT(h, unused);
	}
	TAILQ_REMOVE(&c->unused_hosts, h, unused);
	h->on_unused = 0;
	c->nunused--;
}

static void host_free(struct evf_client *c, struct host *h)
{
	size_t b = hash_key(h->tls | h->proxied << 1, h->name, h->port) % c->nbuckets;
	for (struct host **pp = &c->hosts[b]; *pp; pp = &(*pp)->hnext) {
		if (*pp == h) {
			*pp = h->hnext;
			break;
		}
	}
	if (h->on_unused)
		lru_remove(c, h);
	if (h->on_changed)
		TAILQ_REMOVE(&c->changed_hosts, h, changed);
	c->nhosts--;
	if (h->gate_ev)
		event_free(h->gate_ev);
	dns_cached_drop(h);
	tls_sessions_free(h);
	tls_verified_free(h->verified);
	tls_ident_put(h->ident);
	free(h->name);
	free(h);
}

static int grow(struct evf_client *c)
{
	size_t n = c->nbuckets ? c->nbuckets * 2 : EVF_HOST_BUCKETS_MIN;
	struct host **nb = calloc(n, sizeof *nb);
	if (!nb)
		return -1;
	for (size_t i = 0; i < c->nbuckets; i++) {
		struct host *h = c->hosts[i], *next;
		for (; h; h = next) {
			next = h->hnext;
			size_t b = hash_key(h->tls | h->proxied << 1, h->name, h->port) % n;
			h->hnext = nb[b];
			nb[b] = h;
		}
	}
	free(c->hosts);
	c->hosts = nb;
	c->nbuckets = n;
	return 0;
}

void pool_mark_used(struct host *h)
{
	struct evf_client *c = h->client;
	if (h->on_unused) {
		lru_remove(c, h);
		if (h->frozen) {
			h->frozen = 0;
			tls_host_thaw(h);
		}
	}
}

struct host *pool_host(struct evf_client *c, const struct evf_url *u, struct tls_ident *ident)
{
	if (c->nbuckets == 0 || c->nhosts >= c->nbuckets) {
		if (grow(c) != 0 && c->nbuckets == 0)
			return NULL;
	}
	/* proxied (proxy.c): https targets get a host each, one that knows
	 * its proxy; http ones share the proxy's host and connections */
	const struct proxy *px = proxy_for(c, u);
	const char *name = px && !u->tls ? px->host : u->host;
	int port = px && !u->tls ? px->port : u->port;
	unsigned proxied = px != NULL;
	if (!u->tls)
		ident = NULL;   /* plain HTTP has no use for one */
	size_t b = hash_key(u->tls | (int)proxied << 1, name, port) % c->nbuckets;
	for (struct host *h = c->hosts[b]; h; h = h->hnext) {
		if (h->tls == u->tls && h->proxied == proxied && h->port == port &&
		    h->ident == ident && strcmp(h->name, name) == 0) {
			pool_mark_used(h);
			return h;
		}
	}
	struct host *h = calloc(1, sizeof *h);
	if (!h || !(h->name = evf_strdup(name))) {
		free(h);
		return NULL;
	}
	h->client = c;
	h->tls = u->tls;
	h->proxied = proxied;
	h->ident = tls_ident_ref(ident);
	h->port = port;
	TAILQ_INIT(&h->idle);
	TAILQ_INIT(&h->shared);
	TAILQ_INIT(&h->waiting);
	TAILQ_INIT(&h->gate);
	TAILQ_INIT(&h->deferred);
	h->hnext = c->hosts[b];
	c->hosts[b] = h;
	c->nhosts++;
	return h;
}

int pool_can_open(const struct host *h)
{
	unsigned max = h->client->cfg.max_per_host;
	return max == 0 || h->nconns < max;
}

/* ------------------------------------------------------------ politeness */

static void gate_cb(evutil_socket_t fd, short what, void *arg)
{
	struct host *h = arg;
	struct evf_client *c = h->client;
	(void)fd;
	(void)what;
	client_enter(c);
	if (pool_host_gated(h)) {
		pool_host_sleep(h);   /* the pause grew meanwhile */
	} else {
		h->next_start_us = h->paused_until_us = 0;
		client_host_asleep(c, h, 0);
		pool_host_changed(h);   /* its waiting and deferred transfers */
	}
	client_leave(c);
}

void pool_host_sleep(struct host *h)
{
	struct evf_client *c = h->client;
	uint64_t g = h->next_start_us > h->paused_until_us ? h->next_start_us : h->paused_until_us;
	uint64_t now = evf_now_us();
	if (!h->gate_ev && !(h->gate_ev = evtimer_new(c->base, gate_cb, h))) {
		/* no timer: let it go now rather than never */
		h->next_start_us = h->paused_until_us = 0;
		return;
	}
	uint64_t left = g > now ? g - now : 0;
	struct timeval tv = {(time_t)(left / 1000000u), (suseconds_t)(left % 1000000u)};
	if (evtimer_add(h->gate_ev, &tv) != 0) {
		h->next_start_us = h->paused_until_us = 0;
		return;
	}
	client_host_asleep(c, h, 1);
}

void pool_host_started(struct host *h)
{
	const struct evf_config *cfg = &h->client->cfg;
	uint64_t gap = cfg->host_rate_gap_us > cfg->host_delay_us ? cfg->host_rate_gap_us
	                                                          : cfg->host_delay_us;
	if (!gap)
		return;
	h->next_start_us = evf_now_us() + gap;
	pool_host_sleep(h);
}

void pool_host_pause(struct host *h, uint64_t ms, int status)
{
	struct evf_client *c = h->client;
	uint64_t until = evf_now_us() + 1000u * ms;
	if (until <= h->paused_until_us)
		return;
	int was = h->paused_until_us > evf_now_us();
	h->paused_until_us = until;
	if (!was && c->cfg.log_fn) {
		/* once per pause, not for each of its transfers told the same */
		char msg[512];
		snprintf(msg, sizeof msg,
		         "%s port %d answered %d with Retry-After: no request goes to it "
		         "for %llu.%03llu s",
		         h->name, h->port, status, (unsigned long long)(ms / 1000),
		         (unsigned long long)(ms % 1000));
		c->cfg.log_fn(msg, c->cfg.log_arg);
	}
	pool_host_sleep(h);
}

int pool_host_busy(const struct host *h)
{
	return h->nconns > 0 && h->nidle == 0 && TAILQ_EMPTY(&h->shared);
}

struct conn *pool_find(struct host *h)
{
	/* a shared connection is on the list only while it has a free stream */
	struct conn *cn = TAILQ_FIRST(&h->shared);
	if (cn)
		return cn;
	while ((cn = TAILQ_FIRST(&h->idle)) && cn->proto->capacity(cn) == 0)
		conn_close(cn);   /* HTTP/2 the server is going away from */
	if (!cn)
		return NULL;
	pool_remove_idle(cn);
	idle_outcome(h->client, 1);
	/* the read event stays armed: the request's write comes next and the
	 * response's read after it, and re-arming costs two epoll_ctl calls */
	conn_set_state(cn, CS_BUSY);
	if (cn->proto->version == 2)
		pool_share(cn);
	return cn;
}

int pool_should_wait(const struct host *h)
{
	const struct evf_config *cfg = &h->client->cfg;
	if (h->nconnecting == 0 || h->proto == 1 || cfg->http_version == EVF_HTTP_1_1 ||
	    h->open_failed)
		return 0;   /* nothing to wait for, or waiting did not pay */
	/* plain http:// speaks HTTP/2 only with prior knowledge */
	return h->tls || cfg->http_version == EVF_HTTP_2_PRIOR_KNOWLEDGE;
}

void pool_share(struct conn *cn)
{
	if (cn->shared || cn->proto->capacity(cn) == 0)
		return;
	cn->shared = 1;
	TAILQ_INSERT_TAIL(&cn->host->shared, cn, link);
}

void pool_unshare(struct conn *cn)
{
	if (!cn->shared)
		return;
	cn->shared = 0;
	TAILQ_REMOVE(&cn->host->shared, cn, link);
}

/*
 * Whether keeping idle connections pays.  Over each window of IDLE_WINDOW
 * outcomes (an idle connection taken again, or closed unused), fewer than
 * an eighth taken again halves the budgets (down to a 32nd), more than a
 * quarter doubles them back.  A crawl of one URL per host keeps few idle
 * connections then, where each would only have waited for its timeout or
 * eviction; one that revisits its hosts keeps the full budgets.
 */
#define IDLE_WINDOW 256
#define IDLE_SHIFT_MAX 5

static void idle_outcome(struct evf_client *c, int hit)
{
	if (hit)
		c->idle_hits++;
	else
		c->idle_misses++;
	if (c->idle_hits + c->idle_misses < IDLE_WINDOW)
		return;
	if (c->idle_hits * 8 < IDLE_WINDOW && c->idle_shift < IDLE_SHIFT_MAX)
		c->idle_shift++;
	else if (c->idle_hits * 4 > IDLE_WINDOW && c->idle_shift > 0)
		c->idle_shift--;
	c->idle_hits = c->idle_misses = 0;
}

void pool_idle_missed(struct evf_client *c)
{
	idle_outcome(c, 0);
}

/* The memory an idle connection is counted at against idle_memory. */
static unsigned idle_cost(const struct conn *cn)
{
	return EVF_IDLE_COST_TCP + (cn->ssl ? EVF_IDLE_COST_TLS : 0) +
	       (cn->proto->version == 2 ? EVF_IDLE_COST_H2 : 0);
}

void pool_remove_idle(struct conn *cn)
{
	struct host *h = cn->host;
	struct evf_client *c = h->client;
	TAILQ_REMOVE(&h->idle, cn, link);
	TAILQ_REMOVE(&c->idle_lru, cn, lru);
	cn->pooled = 0;
	h->nidle--;
	c->nidle_total--;
	c->idle_bytes -= idle_cost(cn);
}

/*
 * Keep cn for its host's next transfer.  Idle connections of all hosts
 * are on one list, oldest first: past the budgets (max_idle connections,
 * idle_memory bytes by idle_cost), those left unused longest are closed.
 */
void pool_put_idle(struct conn *cn)
{
	struct host *h = cn->host;
	struct evf_client *c = h->client;
	TAILQ_INSERT_HEAD(&h->idle, cn, link);
	TAILQ_INSERT_TAIL(&c->idle_lru, cn, lru);
	cn->pooled = 1;
	h->nidle++;
	c->nidle_total++;
	c->idle_bytes += idle_cost(cn);
	if (!TAILQ_EMPTY(&h->waiting) || h->ndeferred)
		pool_host_changed(h);   /* a transfer waits for this host */
	struct conn *old;
	unsigned max = c->max_idle >> c->idle_shift;
	uint64_t bytes = c->cfg.idle_memory >> c->idle_shift;
	if (max < 16)
		max = c->max_idle < 16 ? c->max_idle : 16;
	while ((c->nidle_total > max || c->idle_bytes > bytes) &&
	       (old = TAILQ_FIRST(&c->idle_lru)) && old != cn)
		conn_close(old);
}

void pool_host_changed(struct host *h)
{
	struct evf_client *c = h->client;
	if (!h->on_changed) {
		h->on_changed = 1;
		TAILQ_INSERT_TAIL(&c->changed_hosts, h, changed);
	}
	client_host_woken(c, h);
	client_kick(c);
}

struct host *pool_next_changed(struct evf_client *c)
{
	struct host *h = TAILQ_FIRST(&c->changed_hosts);
	if (h) {
		TAILQ_REMOVE(&c->changed_hosts, h, changed);
		h->on_changed = 0;
	}
	return h;
}

void pool_host_settle(struct host *h)
{
	struct evf_client *c = h->client;
	if (c->freed)
		return;   /* destroy walks the hosts; pool_free_all frees them */
	if (h->nconns == 0 && TAILQ_EMPTY(&h->waiting) && h->nrefs == 0 && !h->on_unused &&
	    !h->on_changed) {
		h->on_unused = 1;
		h->expires_us = tls_host_expiry(h);
		if (h->dns && dns_cached_expiry(h->dns) > h->expires_us)
			h->expires_us = dns_cached_expiry(h->dns);
		TAILQ_INSERT_TAIL(&c->unused_hosts, h, unused);
		c->nunused++;
		if (!c->warm)
			c->warm = h;
		if (++c->nwarm > EVF_WARM_HOSTS) {
			/* the oldest warm host keeps its session as bytes */
			struct host *w = c->warm;
			c->warm = TAILQ_NEXT(w, unused);
			c->nwarm--;
			w->frozen = 1;
			tls_host_freeze(w);
		}
		/* past the budget, and from the oldest end hosts whose session
		 * and DNS answer have both expired */
		uint64_t now = evf_now_us();
		struct host *old;
		while ((old = TAILQ_FIRST(&c->unused_hosts)) &&
		       (c->nunused > c->max_unused || old->expires_us <= now))
			host_free(c, old);
	}
}

void pool_free_all(struct evf_client *c)
{
	for (size_t i = 0; i < c->nbuckets; i++) {
		struct host *h;
		while ((h = c->hosts[i])) {
			struct conn *cn;
			while ((cn = TAILQ_FIRST(&h->idle)) || (cn = TAILQ_FIRST(&h->shared)))
				conn_close(cn);
			host_free(c, h);
		}
	}
	free(c->hosts);
	c->hosts = NULL;
	c->nbuckets = 0;
}
