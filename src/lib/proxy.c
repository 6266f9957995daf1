/*
 * proxy.c - which proxy a URL goes through, and how: the proxy URLs of the
 * configuration or the environment, no_proxy matching, the host entries
 * and connection stacks of proxied targets, and the absolute-form request
 * of a plain http:// URL.  The CONNECT tunnel itself is tunnel.c's.
 *
 * The environment is read as curl reads it: for an https:// URL
 * https_proxy, then HTTPS_PROXY; for an http:// URL the lowercase
 * http_proxy alone (HTTP_PROXY may come from a CGI request's "Proxy:"
 * header: httpoxy); then all_proxy and ALL_PROXY; no_proxy before
 * NO_PROXY.  An empty variable counts as unset.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <netinet/in.h>

#include <event2/http.h>
#include <openssl/err.h>
#include <openssl/evp.h>

#include "internal.h"

void proxy_free(struct proxy *p)
{
	if (!p)
		return;
	if (p->auth)
		OPENSSL_cleanse(p->auth, strlen(p->auth));
	free(p->auth);
	free(p->host);
	free(p->shown);
	free(p);
}

/* "Proxy-Authorization: Basic base64(user:pass)", from the URL's still
 * percent-encoded userinfo. */
static char *basic_auth(const char *userinfo)
{
	char *plain = evhttp_uridecode(userinfo, 0, NULL);
	if (!plain)
		return NULL;
	size_t n = strlen(plain);
	static const char prefix[] = "Proxy-Authorization: Basic ";
	char *line = malloc(sizeof prefix + 4 * ((n + 2) / 3) + 1);
	if (line) {
		memcpy(line, prefix, sizeof prefix - 1);
		EVP_EncodeBlock((unsigned char *)line + sizeof prefix - 1,
		                (const unsigned char *)plain, (int)n);
	}
	OPENSSL_cleanse(plain, n);
	free(plain);
	return line;
}

int proxy_parse(const char *url, struct proxy **out, const char **why)
{
	*out = NULL;
	/* a bare host:port is an HTTP proxy, as curl takes it */
	char *full = strstr(url, "://") ? evf_strdup(url) : evf_asprintf("http://%s", url);
	if (!full)
		return EVF_ERR_NOMEM;
	struct evhttp_uri *uri = evhttp_uri_parse_with_flags(full, 0);
	OPENSSL_cleanse(full, strlen(full));
	free(full);
	if (!uri) {
		*why = "not a URL";
		return EVF_ERR_INVALID;
	}
	int rc = EVF_ERR_INVALID;
	const char *scheme = evhttp_uri_get_scheme(uri);
	const char *host = evhttp_uri_get_host(uri);
	const char *path = evhttp_uri_get_path(uri);
	const char *user = evhttp_uri_get_userinfo(uri);
	int port = evhttp_uri_get_port(uri);
	int tls = scheme && strcasecmp(scheme, "https") == 0;
	struct proxy *p = NULL;
	if (!scheme || (!tls && strcasecmp(scheme, "http") != 0)) {
		*why = "the proxy's scheme must be http or https";
		goto out;
	}
	if (!host || !*host) {
		*why = "the proxy URL has no host";
		goto out;
	}
	if ((path && *path && strcmp(path, "/") != 0) || evhttp_uri_get_query(uri) ||
	    evhttp_uri_get_fragment(uri)) {
		*why = "a proxy URL has no path, query or fragment";
		goto out;
	}
	if (port == 0 || port > 65535) {
		*why = "the proxy's port is not usable";
		goto out;
	}
	rc = EVF_ERR_NOMEM;
	if (!(p = calloc(1, sizeof *p)))
		goto out;
	p->tls = tls;
	p->port = port > 0 ? port : tls ? 443 : 1080;   /* curl's defaults */
	size_t hl = strlen(host);
	int v6 = host[0] == '[';
	p->host = v6 ? evf_strndup(host + 1, hl - 2) : evf_strdup(host);
	p->shown = evf_asprintf("%s://%s:%d", tls ? "https" : "http", host, p->port);
	if (!p->host || !p->shown || (user && *user && !(p->auth = basic_auth(user))))
		goto out;
	*out = p;
	p = NULL;
	rc = 0;
out:
	proxy_free(p);
	evhttp_uri_free(uri);
	return rc;
}

/* ---------------------------------------------------------------- no_proxy */

/* s is an IP literal: its family and bytes in a. */
static int ip_literal(const char *s, unsigned char a[16])
{
	if (evutil_inet_pton(AF_INET, s, a) == 1)
		return AF_INET;
	if (evutil_inet_pton(AF_INET6, s, a) == 1)
		return AF_INET6;
	return 0;
}

/* The first bits of a and b agree. */
static int prefix_equal(const unsigned char *a, const unsigned char *b, unsigned bits)
{
	unsigned whole = bits / 8, rest = bits % 8;
	if (memcmp(a, b, whole) != 0)
		return 0;
	return rest == 0 || ((a[whole] ^ b[whole]) & (0xff00u >> rest) & 0xff) == 0;
}

/* Does one entry (NUL-terminated, trimmed, non-empty) name host:port? */
static int entry_matches(char *e, const char *host, int port)
{
	if (strcmp(e, "*") == 0)
		return 1;
	/* an optional port: "[v6]:port", "name:port"; a bare IPv6 address
	 * has more than one colon and no port */
	char *colon = NULL;
	if (e[0] == '[') {
		char *close = strchr(e, ']');
		if (!close)
			return 0;
		*close = '\0';
		if (close[1] == ':')
			colon = close + 1;
		else if (close[1] == '/')
			memmove(close, close + 1, strlen(close + 1) + 1);
		else if (close[1])
			return 0;
		e++;
	} else if ((colon = strchr(e, ':')) && strchr(colon + 1, ':')) {
		colon = NULL;
	}
	if (colon) {
		char *end;
		long p = strtol(colon + 1, &end, 10);
		if (*end || end == colon + 1 || p != port)
			return 0;
		*colon = '\0';
	}
	unsigned char ha[16], ea[16];
	int hf = ip_literal(host, ha);
	char *slash = strchr(e, '/');
	if (slash) {
		/* a CIDR range matches addresses only */
		char *end;
		long bits = strtol(slash + 1, &end, 10);
		*slash = '\0';
		int ef = ip_literal(e, ea);
		if (*end || end == slash + 1 || !ef || ef != hf || bits < 0 ||
		    bits > (ef == AF_INET ? 32 : 128))
			return 0;
		return prefix_equal(ha, ea, (unsigned)bits);
	}
	int ef = ip_literal(e, ea);
	if (ef || hf)
		return ef == hf && memcmp(ha, ea, ef == AF_INET ? 4 : 16) == 0;
	/* a name: itself or a suffix on a label boundary, ignoring a leading
	 * dot of the entry and a trailing dot of either */
	while (*e == '.')
		e++;
	size_t el = strlen(e), hl = strlen(host);
	if (el && e[el - 1] == '.')
		el--;
	if (hl && host[hl - 1] == '.')
		hl--;
	if (el == 0 || el > hl)
		return 0;
	if (strncasecmp(host + hl - el, e, el) != 0)
		return 0;
	return hl == el || host[hl - el - 1] == '.';
}

int proxy_noproxy_match(const char *list, const char *host, int port)
{
	if (!list || !host)
		return 0;
	const char *p = list;
	while (*p) {
		size_t n = strcspn(p, ", \t");
		if (n > 0 && n < 300) {
			char e[300];
			memcpy(e, p, n);
			e[n] = '\0';
			if (entry_matches(e, host, port))
				return 1;
		}
		p += n;
		p += strspn(p, ", \t");
	}
	return 0;
}

/* ------------------------------------------------------------ environment */

const char *proxy_env_pick(proxy_getenv_fn get, void *arg, int https, const char **name)
{
	static const char *const for_https[] = {"https_proxy", "HTTPS_PROXY", "all_proxy",
	                                        "ALL_PROXY", NULL};
	/* never HTTP_PROXY: httpoxy */
	static const char *const for_http[] = {"http_proxy", "all_proxy", "ALL_PROXY", NULL};
	static const char *const for_noproxy[] = {"no_proxy", "NO_PROXY", NULL};
	const char *const *list = https < 0 ? for_noproxy : https ? for_https : for_http;
	for (; *list; list++) {
		const char *v = get(*list, arg);
		if (v && *v) {
			if (name)
				*name = *list;
			return v;
		}
	}
	return NULL;
}

static const char *real_getenv(const char *name, void *arg)
{
	(void)arg;
	return getenv(name);
}

/* Set one scheme's proxy from the configuration or the environment. */
static int pick_proxy(struct evf_client *c, int https, struct proxy **out)
{
	const struct evf_config *cfg = &c->cfg;
	const char *url = cfg->proxy, *name = "the proxy URL", *why = "";
	if (!url && cfg->env_proxy)
		url = proxy_env_pick(real_getenv, NULL, https, &name);
	if (!url || !*url)
		return 0;   /* "" asks for no proxy at all */
	int r = proxy_parse(url, out, &why);
	if (r == EVF_ERR_INVALID)
		snprintf(c->why, sizeof c->why, "unusable proxy in %s: %s", name, why);
	return r;
}

/* TLS to https proxies: proxy_ca_file or the system's store (or no
 * verification), http/1.1 in ALPN, no resumption. */
static SSL_CTX *proxy_ctx_new(const struct evf_config *cfg, char *why, size_t whylen)
{
	SSL_CTX *ctx = tls_ctx_common(why, whylen);
	if (!ctx)
		return NULL;
	/* no resumption: the origin's session callbacks are not the proxy's */
	SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
	SSL_CTX_set_options(ctx, SSL_OP_NO_TICKET);
	if (SSL_CTX_set_alpn_protos(ctx, (const unsigned char *)"\x08http/1.1", 9) != 0) {
		snprintf(why, whylen, "TLS context set-up failed");
		goto fail;
	}
	if (cfg->proxy_insecure) {
		SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, NULL);
		return ctx;
	}
	SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
	if (cfg->proxy_ca_file) {
		if (SSL_CTX_load_verify_locations(ctx, cfg->proxy_ca_file, NULL) != 1) {
			snprintf(why, whylen, "cannot load proxy CA file %s: %s", cfg->proxy_ca_file,
			         tls_load_reason(cfg->proxy_ca_file, 0));
			goto fail;
		}
	} else if (SSL_CTX_set_default_verify_paths(ctx) != 1) {
		snprintf(why, whylen, "cannot load the system's trust store");
		goto fail;
	}
	return ctx;
fail:
	ERR_clear_error();
	SSL_CTX_free(ctx);
	return NULL;
}

int proxy_client_setup(struct evf_client *c)
{
	const struct evf_config *cfg = &c->cfg;
	if (!cfg->proxy && !cfg->env_proxy)
		return 0;
	struct proxies *px = calloc(1, sizeof *px);
	if (!px)
		return EVF_ERR_NOMEM;
	c->proxies = px;
	int r;
	if ((r = pick_proxy(c, 1, &px->https)) != 0 || (r = pick_proxy(c, 0, &px->http)) != 0)
		return r;
	const char *np = cfg->noproxy;
	if (!np && cfg->env_proxy)
		np = proxy_env_pick(real_getenv, NULL, -1, NULL);
	if (np && !(px->noproxy = evf_strdup(np)))
		return EVF_ERR_NOMEM;
	if ((px->https && px->https->tls) || (px->http && px->http->tls)) {
		px->ctx = proxy_ctx_new(cfg, c->why, sizeof c->why);
		if (!px->ctx)
			return EVF_ERR_TLS;
	}
	return 0;
}

void proxy_client_free(struct evf_client *c)
{
	struct proxies *px = c->proxies;
	if (!px)
		return;
	proxy_free(px->http);
	proxy_free(px->https);
	free(px->noproxy);
	SSL_CTX_free(px->ctx);
	free(px);
	c->proxies = NULL;
}

const struct proxy *proxy_for(const struct evf_client *c, const struct evf_url *u)
{
	const struct proxies *px = c->proxies;
	const struct proxy *p = !px ? NULL : u->tls ? px->https : px->http;
	if (!p || proxy_noproxy_match(px->noproxy, u->host, u->port))
		return NULL;
	return p;
}

const struct proxy *proxy_of_host(const struct host *h)
{
	const struct proxies *px = h->client->proxies;
	return !h->proxied || !px ? NULL : h->tls ? px->https : px->http;
}

const char *proxy_of_host_shown(const struct host *h)
{
	const struct proxy *p = h ? proxy_of_host(h) : NULL;
	return p ? p->shown : NULL;
}

/* -------------------------------------------------------------- requests */

char *proxy_absolute_target(const struct evf_transfer *t)
{
	return evf_asprintf("http://%s%s", t->u.authority, t->u.target);
}

const char *proxy_auth_line(const struct evf_transfer *t)
{
	const struct host *h = t->conn ? t->conn->host : NULL;
	const struct proxy *p = h && !h->tls ? proxy_of_host(h) : NULL;
	return p ? p->auth : NULL;
}
