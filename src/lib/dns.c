/*
 * dns.c - asynchronous name resolution: --resolve overrides first, then
 * libevent's evdns (the caller's evdns_base or one of the client's own).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <netinet/in.h>

#include <event2/dns.h>

#include "internal.h"

int dns_setup(struct evf_client *c)
{
	if (c->cfg.dns) {
		c->dns = c->cfg.dns;
		c->own_dns = 0;
		return 0;
	}
	/*
	 * DISABLE_WHEN_INACTIVE: an idle resolver must not keep the loop
	 * alive.  A name server's socket is registered, or not, when it is
	 * added, and evdns_base_new (libevent 2.1) reads resolv.conf for
	 * INITIALIZE_NAMESERVERS before it sets that flag: those servers would
	 * stay registered for good.  So the base gets the flag first and
	 * resolv.conf is read afterwards, as evdns_base_new would (failing
	 * where it fails).
	 */
	c->dns = evdns_base_new(c->base, EVDNS_BASE_DISABLE_WHEN_INACTIVE);
	if (!c->dns)
		return EVF_ERR_NOMEM;
	c->own_dns = 1;
	if (!c->cfg.dns_servers) {
		/* 1 (no file) and 6 (no name server in it) leave libevent's
		 * defaults, a name server on 127.0.0.1, as the C library does */
		int r = evdns_base_resolv_conf_parse(c->dns, DNS_OPTIONS_ALL, "/etc/resolv.conf");
		if (r != 0 && r != 1 && r != 6) {
			snprintf(c->why, sizeof c->why, "cannot read /etc/resolv.conf (%s)",
			         r == 4 ? "out of memory" : r == 3 ? "too large" : "read error");
			return r == 4 ? EVF_ERR_NOMEM : EVF_ERR_INVALID;
		}
	}
	if (c->cfg.dns_servers) {
		char *copy = evf_strdup(c->cfg.dns_servers), *save = NULL;
		if (!copy)
			return EVF_ERR_NOMEM;
		int rc = 0;
		for (char *tok = strtok_r(copy, ",", &save); tok && !rc;
		     tok = strtok_r(NULL, ",", &save)) {
			if (evdns_base_nameserver_ip_add(c->dns, tok) != 0) {
				snprintf(c->why, sizeof c->why,
				         "cannot use name server '%s'", tok);
				rc = EVF_ERR_INVALID;
			}
		}
		free(copy);
		if (rc)
			return rc;
		evdns_base_load_hosts(c->dns, NULL);
	}
	return 0;
}

void dns_teardown(struct evf_client *c)
{
	if (c->dns && c->own_dns)
		evdns_base_free(c->dns, 0);
	c->dns = NULL;
}

static void hints_init(struct evutil_addrinfo *h, int family)
{
	memset(h, 0, sizeof *h);
	h->ai_family = family == 4 ? AF_INET : family == 6 ? AF_INET6 : AF_UNSPEC;
	h->ai_socktype = SOCK_STREAM;
	h->ai_protocol = IPPROTO_TCP;
}

/*
 * A lookup asks for AAAA and A apart (RFC 8305, 3), one evdns_getaddrinfo
 * each, so that neither waits for the other (evdns's own AF_UNSPEC lookup
 * waits for both, up to its getaddrinfo skew of 3 s).  An AAAA answer goes
 * to the caller at once; an A answer after RESOLUTION_DELAY_MS unless the
 * AAAA one comes meanwhile (then both, interleaved).  The family left
 * follows in a second call, whose addresses the connection appends to
 * those it tries.  An answer that comes synchronously (a numeric host, the
 * hosts file) ends the lookup at once.  -4 and -6 ask for one family only.
 */
#define RESOLUTION_DELAY_MS 50
enum { Q_AAAA = 0, Q_A = 1 };

struct dns_half {
	struct dns_query *q;
	struct evdns_getaddrinfo_request *req;
	struct evutil_addrinfo *ai;
	int err;
};

struct dns_query {
	struct evf_client *c;
	dns_cb cb;
	void *arg;
	struct dns_half half[2];
	struct event wait;        /* how long the second answer may take */
	unsigned char want, done; /* bits of the halves asked, answered */
	unsigned char calls;      /* half_done calls still to come */
	unsigned char sync;       /* inside dns_resolve or query_stop */
	unsigned char over;       /* delivered or cancelled: answers are dropped */
	unsigned char early;      /* one family's answer was delivered already */
};

/*
 * Stop what is still running: the timer, and unanswered halves.  evdns
 * calls half_done for each once more, with EVUTIL_EAI_CANCEL at once, or
 * later with a result that was already on its way (libevent 2.1 defers
 * it): q lives until then, and the last such call frees it.
 */
static void query_stop(struct dns_query *q)
{
	q->over = 1;
	if (event_initialized(&q->wait))
		event_del(&q->wait);
	q->sync = 1;
	for (int i = 0; i < 2; i++)
		if (q->half[i].req)
			evdns_getaddrinfo_cancel(q->half[i].req);
	q->sync = 0;
	for (int i = 0; i < 2; i++)
		q->half[i].req = NULL;
}

/* q's owner is done with it: free it unless evdns still calls back. */
static void query_release(struct dns_query *q)
{
	if (q->calls == 0)
		free(q);
}

/* IPv6 first, then the families in turn (RFC 8305, 4); the nodes move
 * from a and b into one list. */
static struct evutil_addrinfo *interleave(struct evutil_addrinfo *a, struct evutil_addrinfo *b)
{
	struct evutil_addrinfo *head = NULL, **tail = &head;
	while (a || b) {
		struct evutil_addrinfo **from[2] = {&a, &b};
		for (int i = 0; i < 2; i++) {
			struct evutil_addrinfo *n = *from[i];
			if (!n)
				continue;
			*from[i] = n->ai_next;
			*tail = n;
			tail = &n->ai_next;
		}
	}
	*tail = NULL;
	return head;
}

/* Hand what is left to the caller (the last call, more 0) and free q. */
static void query_deliver(struct dns_query *q)
{
	query_stop(q);
	struct dns_half *v6 = &q->half[Q_AAAA], *v4 = &q->half[Q_A];
	/* after an early answer only the other family's is left here */
	struct evutil_addrinfo *ai = interleave(v6->ai, v4->ai);
	/* the error of a family that was asked for and failed, A's first */
	int err = 0;
	if (!ai)
		err = (q->want & (1u << Q_A)) && v4->err ? v4->err
		      : v6->err ? v6->err : EVUTIL_EAI_NODATA;
	dns_cb cb = q->cb;
	void *arg = q->arg;
	v6->ai = v4->ai = NULL;
	query_release(q);
	cb(err, ai, 0, arg);
}

/* One family's addresses go to the caller now (more 1); the other's
 * follow when they come.  Nothing may touch q after the callback. */
static void query_early(struct dns_query *q, int idx)
{
	struct evutil_addrinfo *ai = q->half[idx].ai;
	if (event_initialized(&q->wait))
		event_del(&q->wait);
	q->early = 1;
	q->half[idx].ai = NULL;
	q->cb(0, ai, 1, q->arg);
}

static void wait_over(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	query_early(arg, Q_A);   /* AAAA did not come within the delay */
}

/* An answer came: deliver it now (AAAA; or the last one), or wait a
 * little for AAAA after A. */
static void query_progress(struct dns_query *q, int idx)
{
	if (q->early || q->done == q->want) {
		query_deliver(q);
		return;
	}
	if (q->half[idx].err || !q->half[idx].ai)
		return;   /* a failed half: the other one decides */
	if (idx == Q_AAAA) {
		query_early(q, idx);
		return;
	}
	struct timeval tv = {0, RESOLUTION_DELAY_MS * 1000};
	evtimer_assign(&q->wait, q->c->base, wait_over, q);
	if (evtimer_add(&q->wait, &tv) != 0)
		query_early(q, idx);   /* cannot wait: go on with A */
}

static void half_done(int result, struct evutil_addrinfo *ai, void *arg)
{
	struct dns_half *h = arg;
	struct dns_query *q = h->q;
	h->req = NULL;
	q->calls--;
	if (q->over) {
		/* cancelled, or an answer that comes too late */
		if (ai)
			evutil_freeaddrinfo(ai);
		if (!q->sync)
			query_release(q);
		return;
	}
	int idx = h == &q->half[Q_A];
	h->ai = ai;
	h->err = ai ? 0 : result ? result : EVUTIL_EAI_NODATA;
	q->done |= (unsigned char)(1u << idx);
	if (!q->sync)
		query_progress(q, idx);
}

int dns_resolve(struct evf_client *c, const char *host, int port,
                dns_cb cb, void *arg, struct dns_query **q)
{
	struct evutil_addrinfo hints;
	char portstr[8];
	snprintf(portstr, sizeof portstr, "%d", port);
	hints_init(&hints, c->cfg.ip_family);
	*q = NULL;

	/* an entry for the host itself wins over a '*' one, as in curl */
	const struct resolve_entry *match = NULL;
	for (size_t i = 0; i < c->cfg.nresolves; i++) {
		const struct resolve_entry *r = &c->cfg.resolves[i];
		if (r->port != port)
			continue;
		if (strcasecmp(r->host, host) == 0) {
			match = r;
			break;
		}
		if (!match && strcmp(r->host, "*") == 0)
			match = r;
	}
	if (match) {
		struct evutil_addrinfo *ai = NULL;
		hints.ai_flags = EVUTIL_AI_NUMERICHOST;
		int e = evutil_getaddrinfo(match->addr, portstr, &hints, &ai);
		cb(e, e ? NULL : ai, 0, arg);
		return 0;
	}
	/* a numeric host is of one family: evdns would ask DNS for the other */
	unsigned char want = c->cfg.ip_family == 4 ? 1u << Q_A
	                     : c->cfg.ip_family == 6 ? 1u << Q_AAAA : 3u;
	unsigned char num[16];
	if (evutil_inet_pton(AF_INET, host, num) == 1)
		want &= 1u << Q_A;
	else if (evutil_inet_pton(AF_INET6, host, num) == 1)
		want &= 1u << Q_AAAA;
	if (!want) {
		cb(EVUTIL_EAI_ADDRFAMILY, NULL, 0, arg);
		return 0;
	}
	struct dns_query *d = calloc(1, sizeof *d);
	if (!d) {
		cb(EVUTIL_EAI_MEMORY, NULL, 0, arg);
		return 0;
	}
	d->c = c;
	d->cb = cb;
	d->arg = arg;
	d->want = want;
	d->sync = 1;
	for (int i = 0; i < 2; i++) {
		if (!(d->want & (1u << i)))
			continue;
		d->half[i].q = d;
		hints.ai_family = i == Q_A ? AF_INET : AF_INET6;
		d->calls++;
		struct evdns_getaddrinfo_request *req =
			evdns_getaddrinfo(c->dns, host, portstr, &hints, half_done, &d->half[i]);
		if (!(d->done & (1u << i)))
			d->half[i].req = req;   /* not answered at once */
	}
	d->sync = 0;
	/* answered at once (numbers, the hosts file): no need to ask further */
	int now = d->done == d->want;
	for (int i = 0; i < 2; i++)
		if ((d->done & (1u << i)) && d->half[i].ai)
			now = 1;
	if (now) {
		query_deliver(d);
		return 0;
	}
	*q = d;
	return 0;
}

void dns_cancel(struct dns_query *q)
{
	if (!q)
		return;
	query_stop(q);
	for (int i = 0; i < 2; i++)
		if (q->half[i].ai)
			evutil_freeaddrinfo(q->half[i].ai);
	query_release(q);
}

/*
 * The cache of answers: each host keeps its last one for dns_cache_ms
 * (evdns_getaddrinfo does not pass the records' TTLs on, so the time is
 * the client's, as libcurl's DNS cache is), as long as the host itself
 * is kept.  Connections hold a reference while they try the addresses.
 */
struct dns_cached {
	unsigned refs;
	uint64_t expires_us;
	struct evutil_addrinfo *ai;
	struct evutil_addrinfo *won;   /* the address a race last won, or NULL */
};

/* The node of list with the address of a, or NULL. */
static struct evutil_addrinfo *find_addr(struct evutil_addrinfo *list,
                                         const struct evutil_addrinfo *a)
{
	for (; list; list = list->ai_next)
		if (list->ai_addrlen == a->ai_addrlen &&
		    memcmp(list->ai_addr, a->ai_addr, a->ai_addrlen) == 0)
			return list;
	return NULL;
}

void dns_cached_won(struct host *h, const struct evutil_addrinfo *a)
{
	/* kept with the host's answer, which its next connections use
	 * (those opened at the same time may each hold an answer of their
	 * own: addresses are compared, not nodes) */
	if (h->dns)
		h->dns->won = find_addr(h->dns->ai, a);
}

struct evutil_addrinfo *dns_cached_winner(struct host *h, struct evutil_addrinfo *list)
{
	return h->dns && h->dns->won ? find_addr(list, h->dns->won) : NULL;
}

struct dns_cached *dns_cached_new(struct evutil_addrinfo *ai)
{
	struct dns_cached *d = malloc(sizeof *d);
	if (!d)
		return NULL;
	d->refs = 1;
	d->expires_us = 0;
	d->ai = ai;
	d->won = NULL;
	return d;
}

struct evutil_addrinfo *dns_cached_list(const struct dns_cached *d)
{
	return d->ai;
}

uint64_t dns_cached_expiry(const struct dns_cached *d)
{
	return d->expires_us;
}

void dns_cached_put(struct dns_cached *d)
{
	if (d && --d->refs == 0) {
		evutil_freeaddrinfo(d->ai);
		free(d);
	}
}

struct dns_cached *dns_cached_get(struct host *h)
{
	struct dns_cached *d = h->dns;
	if (!d)
		return NULL;
	if (d->expires_us <= evf_now_us()) {
		dns_cached_drop(h);
		return NULL;
	}
	d->refs++;
	return d;
}

void dns_cached_keep(struct host *h, struct dns_cached *d)
{
	unsigned ms = h->client->cfg.dns_cache_ms;
	if (!ms)
		return;
	dns_cached_drop(h);
	d->refs++;
	d->expires_us = evf_now_us() + 1000u * (uint64_t)ms;
	h->dns = d;
}

void dns_cached_drop(struct host *h)
{
	dns_cached_put(h->dns);
	h->dns = NULL;
}
