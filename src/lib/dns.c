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

static void hints_init(struct evutil_addrinfo *h)
{
	memset(h, 0, sizeof *h);
	h->ai_family = AF_UNSPEC;
	h->ai_socktype = SOCK_STREAM;
	h->ai_protocol = IPPROTO_TCP;
}

int dns_resolve(struct evf_client *c, const char *host, int port,
                dns_cb cb, void *arg, struct dns_query **q)
{
	struct evutil_addrinfo hints;
	char portstr[8];
	snprintf(portstr, sizeof portstr, "%d", port);
	hints_init(&hints);
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
		cb(e, e ? NULL : ai, arg);
		return 0;
	}
	*q = (struct dns_query *)evdns_getaddrinfo(c->dns, host, portstr, &hints, cb, arg);
	return 0;
}

void dns_cancel(struct dns_query *q)
{
	if (q)
		evdns_getaddrinfo_cancel((struct evdns_getaddrinfo_request *)q);
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
};

struct dns_cached *dns_cached_new(struct evutil_addrinfo *ai)
{
	struct dns_cached *d = malloc(sizeof *d);
	if (!d)
		return NULL;
	d->refs = 1;
	d->expires_us = 0;
	d->ai = ai;
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
