/*
 * config.c - evf_config: the settings a client copies at creation.
 */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "internal.h"

void evf_config_defaults(struct evf_config *cfg)
{
	memset(cfg, 0, sizeof *cfg);
	cfg->max_transfers = 50;
	/* no transfer may hang for ever on a silent server by default */
	cfg->connect_timeout_ms = EVF_DEFAULT_CONNECT_TIMEOUT_MS;
	cfg->idle_timeout_ms = EVF_DEFAULT_IDLE_TIMEOUT_MS;
	cfg->max_header_bytes = 64 * 1024;
	cfg->max_headers = 100;
	cfg->retry_base_ms = 1000;
	cfg->max_handshakes = 32;
	cfg->http_version = EVF_HTTP_2_TLS;
	cfg->retry_max_ms = 60000;
	cfg->host_cache = EVF_DEFAULT_HOST_CACHE;
	cfg->idle_memory = EVF_DEFAULT_IDLE_MEMORY;
	cfg->dns_cache_ms = EVF_DEFAULT_DNS_CACHE_MS;
	cfg->eyeballs_delay_ms = EVF_DEFAULT_EYEBALLS_DELAY_MS;
}

EVF_API evf_config *evf_config_new(void)
{
	evf_config *cfg = malloc(sizeof *cfg);
	if (cfg)
		evf_config_defaults(cfg);
	return cfg;
}

void evf_config_clear(struct evf_config *cfg)
{
	free(cfg->ca_file);
	free(cfg->ca_path);
	for (size_t i = 0; i < cfg->nresolves; i++) {
		free(cfg->resolves[i].host);
		free(cfg->resolves[i].addr);
	}
	free(cfg->resolves);
	free(cfg->dns_servers);
	free(cfg->user_agent);
	for (size_t i = 0; i < cfg->nheaders; i++)
		free(cfg->headers[i]);
	free(cfg->headers);
	free(cfg->proxy);
	free(cfg->noproxy);
	free(cfg->proxy_ca_file);
	free(cfg->cert_file);
	free(cfg->key_file);
	evf_config_forget_pass(cfg);
	evf_config_defaults(cfg);
}

EVF_API void evf_config_free(evf_config *cfg)
{
	if (!cfg)
		return;
	evf_config_clear(cfg);
	free(cfg);
}

/* Replace *slot with a copy of s (NULL clears). */
static int set_str(char **slot, const char *s)
{
	char *d = NULL;
	if (s && !(d = evf_strdup(s)))
		return EVF_ERR_NOMEM;
	free(*slot);
	*slot = d;
	return 0;
}

int evf_config_copy(struct evf_config *dst, const struct evf_config *src)
{
	evf_config_defaults(dst);
	*dst = *src;
	dst->ca_file = dst->ca_path = dst->dns_servers = dst->user_agent = NULL;
	dst->resolves = NULL;
	dst->nresolves = 0;
	dst->headers = NULL;
	dst->nheaders = 0;
	dst->proxy = dst->noproxy = dst->proxy_ca_file = NULL;
	dst->cert_file = dst->key_file = dst->key_pass = NULL;
	if (set_str(&dst->proxy, src->proxy) || set_str(&dst->noproxy, src->noproxy) ||
	    set_str(&dst->proxy_ca_file, src->proxy_ca_file))
		goto nomem;
	if (set_str(&dst->cert_file, src->cert_file) || set_str(&dst->key_file, src->key_file) ||
	    set_str(&dst->key_pass, src->key_pass))
		goto nomem;
	if (set_str(&dst->ca_file, src->ca_file) || set_str(&dst->ca_path, src->ca_path) ||
	    set_str(&dst->dns_servers, src->dns_servers) ||
	    set_str(&dst->user_agent, src->user_agent))
		goto nomem;
	if (src->nresolves) {
		dst->resolves = calloc(src->nresolves, sizeof *dst->resolves);
		if (!dst->resolves)
			goto nomem;
		for (size_t i = 0; i < src->nresolves; i++) {
			dst->resolves[i].port = src->resolves[i].port;
			dst->nresolves++;
			if (set_str(&dst->resolves[i].host, src->resolves[i].host) ||
			    set_str(&dst->resolves[i].addr, src->resolves[i].addr))
				goto nomem;
		}
	}
	if (src->nheaders) {
		dst->headers = calloc(src->nheaders, sizeof *dst->headers);
		if (!dst->headers)
			goto nomem;
		for (size_t i = 0; i < src->nheaders; i++) {
			if (!(dst->headers[i] = evf_strdup(src->headers[i])))
				goto nomem;
			dst->nheaders++;
		}
	}
	return 0;
nomem:
	evf_config_clear(dst);
	return EVF_ERR_NOMEM;
}

EVF_API int evf_config_set_max_transfers(evf_config *cfg, unsigned n)
{
	if (!cfg || n == 0)
		return EVF_ERR_INVALID;
	cfg->max_transfers = n;
	return 0;
}

EVF_API int evf_config_set_max_per_host(evf_config *cfg, unsigned n)
{
	if (!cfg)
		return EVF_ERR_INVALID;
	cfg->max_per_host = n;
	return 0;
}

EVF_API int evf_config_set_ca_file(evf_config *cfg, const char *path)
{
	return cfg ? set_str(&cfg->ca_file, path) : EVF_ERR_INVALID;
}

EVF_API int evf_config_set_ca_path(evf_config *cfg, const char *dir)
{
	return cfg ? set_str(&cfg->ca_path, dir) : EVF_ERR_INVALID;
}

EVF_API int evf_config_set_insecure(evf_config *cfg, int insecure)
{
	if (!cfg)
		return EVF_ERR_INVALID;
	cfg->insecure = insecure != 0;
	return 0;
}

EVF_API int evf_config_add_resolve(evf_config *cfg, const char *entry)
{
	if (!cfg || !entry)
		return EVF_ERR_INVALID;
	const char *c1 = strchr(entry, ':');
	if (!c1 || c1 == entry)
		return EVF_ERR_INVALID;
	char *end;
	long port = strtol(c1 + 1, &end, 10);
	if (end == c1 + 1 || *end != ':' || port < 1 || port > 65535)
		return EVF_ERR_INVALID;
	const char *addr = end + 1;
	size_t alen = strlen(addr);
	if (alen >= 2 && addr[0] == '[' && addr[alen - 1] == ']') {
		addr++;
		alen -= 2;
	}
	char *a = evf_strndup(addr, alen);
	if (!a)
		return EVF_ERR_NOMEM;
	struct evutil_addrinfo hints = {0}, *ai = NULL;
	hints.ai_flags = EVUTIL_AI_NUMERICHOST;
	hints.ai_family = AF_UNSPEC;
	if (alen == 0 || evutil_getaddrinfo(a, NULL, &hints, &ai) != 0) {
		free(a);
		return EVF_ERR_INVALID;
	}
	evutil_freeaddrinfo(ai);
	struct resolve_entry *r = realloc(cfg->resolves, (cfg->nresolves + 1) * sizeof *r);
	char *h = evf_strndup(entry, (size_t)(c1 - entry));
	if (!r || !h) {
		if (r)
			cfg->resolves = r;
		free(a);
		free(h);
		return EVF_ERR_NOMEM;
	}
	cfg->resolves = r;
	r[cfg->nresolves].host = h;
	r[cfg->nresolves].port = (int)port;
	r[cfg->nresolves].addr = a;
	cfg->nresolves++;
	return 0;
}

EVF_API int evf_config_set_dns_servers(evf_config *cfg, const char *list)
{
	if (!cfg)
		return EVF_ERR_INVALID;
	if (list) {
		/* check every entry now so that a typo is a usage error */
		char *copy = evf_strdup(list), *save = NULL;
		if (!copy)
			return EVF_ERR_NOMEM;
		int n = 0, bad = 0;
		for (char *tok = strtok_r(copy, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
			struct sockaddr_storage ss;
			int len = sizeof ss;
			if (evutil_parse_sockaddr_port(tok, (struct sockaddr *)&ss, &len) != 0)
				bad = 1;
			n++;
		}
		free(copy);
		if (bad || n == 0)
			return EVF_ERR_INVALID;
	}
	return set_str(&cfg->dns_servers, list);
}

EVF_API int evf_config_set_evdns_base(evf_config *cfg, struct evdns_base *dns)
{
	if (!cfg)
		return EVF_ERR_INVALID;
	cfg->dns = dns;
	return 0;
}

EVF_API int evf_config_set_connect_timeout(evf_config *cfg, unsigned ms)
{
	if (!cfg)
		return EVF_ERR_INVALID;
	cfg->connect_timeout_ms = ms;
	return 0;
}

EVF_API int evf_config_set_total_timeout(evf_config *cfg, unsigned ms)
{
	if (!cfg)
		return EVF_ERR_INVALID;
	cfg->total_timeout_ms = ms;
	return 0;
}

EVF_API int evf_config_set_user_agent(evf_config *cfg, const char *ua)
{
	if (!cfg || (ua && strpbrk(ua, "\r\n")))
		return EVF_ERR_INVALID;
	return set_str(&cfg->user_agent, ua);
}

int evf_header_line_valid(const char *line)
{
	if (!line)
		return EVF_ERR_INVALID;
	const char *colon = strchr(line, ':');
	if (!colon || colon == line)
		return EVF_ERR_INVALID;
	for (const char *p = line; p < colon; p++) {
		/* a token: visible ASCII without separators */
		if (*p <= 32 || *p >= 127 || strchr("()<>@,;\\\"/[]?={}", *p))
			return EVF_ERR_INVALID;
	}
	for (const char *p = colon + 1; *p; p++)
		if ((unsigned char)*p < 32 && *p != '\t')
			return EVF_ERR_INVALID;
	return 0;
}

EVF_API int evf_config_add_header(evf_config *cfg, const char *line)
{
	if (!cfg || evf_header_line_valid(line))
		return EVF_ERR_INVALID;
	char **h = realloc(cfg->headers, (cfg->nheaders + 1) * sizeof *h);
	if (!h)
		return EVF_ERR_NOMEM;
	cfg->headers = h;
	if (!(h[cfg->nheaders] = evf_strdup(line)))
		return EVF_ERR_NOMEM;
	cfg->nheaders++;
	return 0;
}

EVF_API int evf_config_set_keepalive(evf_config *cfg, int on)
{
	if (!cfg)
		return EVF_ERR_INVALID;
	cfg->no_keepalive = !on;
	return 0;
}

EVF_API int evf_config_set_session_reuse(evf_config *cfg, int on)
{
	if (!cfg)
		return EVF_ERR_INVALID;
	cfg->no_session_reuse = !on;
	return 0;
}

EVF_API int evf_config_set_follow_redirects(evf_config *cfg, int on, unsigned max)
{
	if (!cfg)
		return EVF_ERR_INVALID;
	cfg->follow_redirects = on != 0;
	cfg->max_redirects = max;
	return 0;
}

EVF_API int evf_config_set_http_version(evf_config *cfg, int version)
{
	if (!cfg || (version != EVF_HTTP_1_1 && version != EVF_HTTP_2_TLS &&
	             version != EVF_HTTP_2_PRIOR_KNOWLEDGE))
		return EVF_ERR_INVALID;
	cfg->http_version = version;
	return 0;
}

EVF_API int evf_config_set_decode(evf_config *cfg, int on)
{
	if (!cfg)
		return EVF_ERR_INVALID;
	cfg->decode = on != 0;
	return 0;
}

EVF_API int evf_config_set_max_body(evf_config *cfg, uint64_t bytes)
{
	if (!cfg)
		return EVF_ERR_INVALID;
	cfg->max_body = bytes;
	return 0;
}

EVF_API int evf_config_set_retries(evf_config *cfg, unsigned n, unsigned base_ms,
                                   unsigned max_ms)
{
	if (!cfg || max_ms < base_ms)
		return EVF_ERR_INVALID;
	cfg->retries = n;
	cfg->retry_base_ms = base_ms;
	cfg->retry_max_ms = max_ms;
	return 0;
}

EVF_API int evf_config_set_max_handshakes(evf_config *cfg, unsigned n)
{
	if (!cfg || n == 0)
		return EVF_ERR_INVALID;
	cfg->max_handshakes = n;
	return 0;
}

EVF_API int evf_config_set_max_idle(evf_config *cfg, unsigned n)
{
	if (!cfg || n == 0 || n > EVF_MAX_IDLE_LIMIT)
		return EVF_ERR_INVALID;
	cfg->max_idle = n;
	return 0;
}

EVF_API int evf_config_set_idle_memory(evf_config *cfg, uint64_t bytes)
{
	if (!cfg)
		return EVF_ERR_INVALID;
	cfg->idle_memory = bytes;
	return 0;
}

EVF_API int evf_config_set_host_rate(evf_config *cfg, double per_second)
{
	if (!cfg || !(per_second >= 0) || (per_second > 0 && per_second < 1e-6))
		return EVF_ERR_INVALID;
	cfg->host_rate_gap_us = per_second > 0 ? (uint64_t)(1e6 / per_second + 0.5) : 0;
	return 0;
}

EVF_API int evf_config_set_max_rate(evf_config *cfg, uint64_t bytes_per_second)
{
	if (!cfg)
		return EVF_ERR_INVALID;
	cfg->max_rate = bytes_per_second;
	return 0;
}

EVF_API int evf_config_set_host_delay(evf_config *cfg, unsigned ms)
{
	if (!cfg)
		return EVF_ERR_INVALID;
	cfg->host_delay_us = 1000u * (uint64_t)ms;
	return 0;
}

EVF_API int evf_config_set_log(evf_config *cfg, void (*fn)(const char *msg, void *arg),
                               void *arg)
{
	if (!cfg)
		return EVF_ERR_INVALID;
	cfg->log_fn = fn;
	cfg->log_arg = arg;
	return 0;
}

EVF_API int evf_config_set_host_cache(evf_config *cfg, unsigned n)
{
	if (!cfg || n > EVF_MAX_HOST_CACHE)
		return EVF_ERR_INVALID;
	cfg->host_cache = n;
	return 0;
}

EVF_API int evf_config_set_dns_cache_time(evf_config *cfg, unsigned ms)
{
	if (!cfg)
		return EVF_ERR_INVALID;
	cfg->dns_cache_ms = ms;
	return 0;
}

EVF_API int evf_config_set_ip_family(evf_config *cfg, int family)
{
	if (!cfg || (family != EVF_IP_ANY && family != EVF_IP_V4 && family != EVF_IP_V6))
		return EVF_ERR_INVALID;
	cfg->ip_family = family;
	return 0;
}

EVF_API int evf_config_set_happy_eyeballs_delay(evf_config *cfg, unsigned ms)
{
	if (!cfg || ms > EVF_MAX_EYEBALLS_DELAY_MS)
		return EVF_ERR_INVALID;
	cfg->eyeballs_delay_ms = ms;
	return 0;
}

EVF_API int evf_config_set_idle_timeout(evf_config *cfg, unsigned ms)
{
	if (!cfg)
		return EVF_ERR_INVALID;
	cfg->idle_timeout_ms = ms;
	return 0;
}

EVF_API int evf_config_set_fail_on_http_error(evf_config *cfg, int on)
{
	if (!cfg)
		return EVF_ERR_INVALID;
	cfg->fail_on_http_error = on != 0;
	return 0;
}

EVF_API int evf_config_set_max_header_bytes(evf_config *cfg, size_t n)
{
	if (!cfg || n < 64)
		return EVF_ERR_INVALID;
	cfg->max_header_bytes = n;
	return 0;
}

EVF_API int evf_config_set_max_headers(evf_config *cfg, unsigned n)
{
	if (!cfg || n == 0)
		return EVF_ERR_INVALID;
	cfg->max_headers = n;
	return 0;
}

EVF_API int evf_config_set_proxy(evf_config *cfg, const char *url)
{
	if (!cfg)
		return EVF_ERR_INVALID;
	if (url && *url) {
		struct proxy *p;
		const char *why;
		int r = proxy_parse(url, &p, &why);
		if (r != 0)
			return r;
		proxy_free(p);
	}
	return set_str(&cfg->proxy, url);
}

EVF_API int evf_config_set_noproxy(evf_config *cfg, const char *list)
{
	return cfg ? set_str(&cfg->noproxy, list) : EVF_ERR_INVALID;
}

EVF_API int evf_config_use_env_proxy(evf_config *cfg, int on)
{
	if (!cfg)
		return EVF_ERR_INVALID;
	cfg->env_proxy = on != 0;
	return 0;
}

EVF_API int evf_config_set_proxy_ca_file(evf_config *cfg, const char *path)
{
	return cfg ? set_str(&cfg->proxy_ca_file, path) : EVF_ERR_INVALID;
}

EVF_API int evf_config_set_proxy_insecure(evf_config *cfg, int insecure)
{
	if (!cfg)
		return EVF_ERR_INVALID;
	cfg->proxy_insecure = insecure != 0;
	return 0;
}

EVF_API int evf_config_set_debug(evf_config *cfg, evf_debug_fn fn, void *arg)
{
	if (!cfg)
		return EVF_ERR_INVALID;
	cfg->debug_fn = fn;
	cfg->debug_arg = arg;
	return 0;
}

EVF_API int evf_config_set_keep_headers(evf_config *cfg, int on)
{
	if (!cfg)
		return EVF_ERR_INVALID;
	cfg->no_keep_head = !on;
	return 0;
}

void xfer_opts_from_config(struct xfer_opts *o, const struct evf_config *cfg)
{
	o->max_body = cfg->max_body;
	o->connect_timeout_ms = cfg->connect_timeout_ms;
	o->total_timeout_ms = cfg->total_timeout_ms;
	o->idle_timeout_ms = cfg->idle_timeout_ms;
	o->follow_redirects = cfg->follow_redirects != 0;
	o->max_redirects = cfg->max_redirects;
	o->retries = cfg->retries;
	o->retry_base_ms = cfg->retry_base_ms;
	o->retry_max_ms = cfg->retry_max_ms;
	o->decode = cfg->decode != 0;
	o->fail_on_http_error = cfg->fail_on_http_error != 0;
	o->no_keep_head = cfg->no_keep_head != 0;
}
