/*
 * url.c - absolute http(s) URLs, parsed by libevent's evhttp_uri.
 *
 * evhttp_uri_parse says only yes or no.  When it says no, refusal() looks
 * at the URL's parts in the order libevent reads them (RFC 3986: scheme,
 * authority, path, query, fragment) to say which one is wrong.  It never
 * accepts anything: libevent stays the parser.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <event2/http.h>

#include "internal.h"

void evf_url_clear(struct evf_url *u)
{
	free(u->host); /* target and authority live in the same block */
	memset(u, 0, sizeof *u);
}

/* The first byte that no URL holds unencoded: a space, a control
 * character or a non-ASCII byte.  NULL when there is none. */
static const char *first_bad_byte(const char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s <= 32 || (unsigned char)*s >= 127)
			return s;
	return NULL;
}

/* RFC 3986's character classes; every byte here is printable ASCII. */
static int unreserved(char c)
{
	return isalnum((unsigned char)c) || (c && strchr("-._~", c));
}

static int sub_delim(char c)
{
	return c && strchr("!$&'()*+,;=", c);
}

static int pct_encoded(const char *p)
{
	return p[0] == '%' && isxdigit((unsigned char)p[1]) && isxdigit((unsigned char)p[2]);
}

static int scheme_ok(const char *s, const char *end)
{
	if (s == end || !isalpha((unsigned char)*s))
		return 0;
	while (++s < end)
		if (!isalnum((unsigned char)*s) && !strchr("+-.", *s))
			return 0;
	return 1;
}

/* [s, end) is an IPv6 address (without its brackets). */
static int ipv6_ok(const char *s, const char *end)
{
	char buf[64];
	struct in6_addr a;
	if (end - s >= (ptrdiff_t)sizeof buf)
		return 0;
	memcpy(buf, s, (size_t)(end - s));
	buf[end - s] = '\0';
	return evutil_inet_pton(AF_INET6, buf, &a) == 1;
}

/* What is wrong with the port [s, end), or NULL.  An empty port is the
 * scheme's default (RFC 3986, 3.2.3). */
static const char *port_refusal(const char *s, const char *end)
{
	unsigned long n = 0;
	for (; s < end; s++) {
		if (*s < '0' || *s > '9')
			return "the port is not a number";
		if (n <= 65535)
			n = n * 10 + (unsigned long)(*s - '0');
	}
	return n > 65535 ? "the port is out of range (1 to 65535)" : NULL;
}

/* What is wrong with the authority [s, end) ("host[:port]"), or NULL. */
static const char *authority_refusal(const char *s, const char *end)
{
	if (memchr(s, '@', (size_t)(end - s)))
		return "user names and passwords in URLs are not supported";
	if (*s == '[') {
		const char *rb = memchr(s, ']', (size_t)(end - s));
		if (!rb)
			return "the IPv6 address has no closing ']'";
		if (!ipv6_ok(s + 1, rb))
			return "the host in brackets is not an IPv6 address";
		if (rb + 1 == end)
			return NULL;
		if (rb[1] != ':')
			return "after the IPv6 address's ']' only a ':' and a port may follow";
		return port_refusal(rb + 2, end);
	}
	const char *colon = NULL;
	for (const char *p = s; p < end; p++)
		if (*p == ':')
			colon = p;
	if (colon) {
		const char *why = port_refusal(colon + 1, end);
		if (why)
			return why;
		if (memchr(s, ':', (size_t)(colon - s)))
			return "more than one ':' after the host (an IPv6 address goes in brackets)";
		end = colon;
	}
	for (const char *p = s; p < end; p++) {
		if (pct_encoded(p))
			p += 2;
		else if (!unreserved(*p) && !sub_delim(*p))
			return "the host contains a character not allowed in a host name";
	}
	return NULL;
}

/* What is wrong with "path[?query][#fragment]" at p, or NULL. */
static const char *rest_refusal(const char *p)
{
	static const char *const bad_char[] = {
		"the path contains a character that must be percent-encoded",
		"the query contains a character that must be percent-encoded",
		"the fragment contains a character that must be percent-encoded",
	};
	static const char *const bad_pct[] = {
		"a '%' in the path is not followed by two hex digits",
		"a '%' in the query is not followed by two hex digits",
		"a '%' in the fragment is not followed by two hex digits",
	};
	int part = 0; /* path, query, fragment */
	for (; *p; p++) {
		if (*p == '%' && !pct_encoded(p))
			return bad_pct[part];
		if (*p == '%')
			p += 2;
		else if (*p == '?' && part == 0)
			part = 1;
		else if (*p == '#' && part < 2)
			part = 2;
		else if (!unreserved(*p) && !sub_delim(*p) && !strchr(":@/?", *p))
			return bad_char[part];
	}
	return NULL;
}

/* Why libevent refused url, whose bytes are all printable ASCII. */
static const char *refusal(const char *url)
{
	const char *p = url + strcspn(url, ":/?#"), *rest = url, *why;
	if (*p == ':') {
		if (!scheme_ok(url, p))
			return "the scheme is malformed (expected http:// or https://)";
		rest = p + 1;
	}
	if (rest[0] == '/' && rest[1] == '/') {
		const char *end = rest + 2 + strcspn(rest + 2, "/?#");
		if ((why = authority_refusal(rest + 2, end)))
			return why;
		rest = end;
	}
	if ((why = rest_refusal(rest)))
		return why;
	return "the URL cannot be parsed";
}

int evf_url_parse(struct evf_url *u, const char *url, const char **why)
{
	memset(u, 0, sizeof *u);
	*why = NULL;
	const char *bad = first_bad_byte(url);
	if (bad) {
		unsigned char c = (unsigned char)*bad;
		*why = c == ' ' ? "the URL contains a space (write it as %20)"
		     : c < 32 || c == 127 ? "the URL contains a control character"
		                          : "the URL contains a non-ASCII byte";
		return EVF_ERR_URL;
	}
	struct evhttp_uri *uri = evhttp_uri_parse_with_flags(url, 0);
	if (!uri) {
		*why = refusal(url);
		return EVF_ERR_URL;
	}
	int rc = EVF_ERR_URL;
	const char *scheme = evhttp_uri_get_scheme(uri);
	const char *host = evhttp_uri_get_host(uri);
	const char *path = evhttp_uri_get_path(uri);
	const char *query = evhttp_uri_get_query(uri);
	int port = evhttp_uri_get_port(uri);

	if (!scheme) {
		*why = "the URL has no scheme (http:// or https://)";
		goto out;
	}
	if (strcasecmp(scheme, "https") == 0)
		u->tls = 1;
	else if (strcasecmp(scheme, "http") != 0) {
		*why = "unsupported scheme: only http and https are fetched";
		goto out;
	}
	if (!host || !*host) {
		*why = "the URL has no host";
		goto out;
	}
	if (evhttp_uri_get_userinfo(uri)) {
		*why = "user names and passwords in URLs are not supported";
		goto out;
	}
	if (port == 0) {
		*why = "port 0 is not a valid port";
		goto out;
	}
	size_t hlen = strlen(host);
	if (host[0] == '[') {
		/* libevent also takes RFC 3986's IPvFuture, "[v1.x]" */
		if (hlen < 3 || host[hlen - 1] != ']' || !ipv6_ok(host + 1, host + hlen - 1)) {
			*why = "the host in brackets is not an IPv6 address";
			goto out;
		}
		u->ipv6 = 1;
		host++;
		hlen -= 2;
	}
	u->port = port > 0 ? port : (u->tls ? 443 : 80);
	if (!path || !*path)
		path = "/";
	/* one allocation holds host, target and authority, in that order */
	int default_port = u->port == (u->tls ? 443 : 80);
	const char *lb = u->ipv6 ? "[" : "", *rb = u->ipv6 ? "]" : "";
	size_t plen = strlen(path), qlen = query ? strlen(query) + 1 : 0;
	size_t alen = hlen + 2 * (size_t)u->ipv6 + (default_port ? 0 : 12); /* ":" and a port */
	size_t size = hlen + 1 + plen + qlen + 1 + alen + 1;
	rc = EVF_ERR_NOMEM;
	if (!(u->host = malloc(size)))
		goto out;
	for (size_t i = 0; i < hlen; i++)
		u->host[i] = (char)tolower((unsigned char)host[i]);
	u->host[hlen] = '\0';
	u->target = u->host + hlen + 1;
	snprintf(u->target, plen + qlen + 1, "%s%s%s", path, query ? "?" : "", query ? query : "");
	u->authority = u->target + plen + qlen + 1;
	if (default_port)
		snprintf(u->authority, alen + 1, "%s%s%s", lb, u->host, rb);
	else
		snprintf(u->authority, alen + 1, "%s%s%s:%d", lb, u->host, rb, u->port);
	if (u->target[0] != '/') {
		*why = "the URL's path must start with '/'";
		rc = EVF_ERR_URL;
		goto out;
	}
	rc = 0;
out:
	evhttp_uri_free(uri);
	if (rc) {
		if (rc == EVF_ERR_NOMEM && !*why)
			*why = "out of memory";
		evf_url_clear(u);
	}
	return rc;
}

/* Drop the output's last segment and the '/' before it. */
static char *pop_segment(char *path, char *out)
{
	while (out > path && *--out != '/')
		;
	return out;
}

/* RFC 3986, 5.2.4: remove "." and ".." segments, in place (out <= in). */
static void remove_dot_segments(char *path)
{
	char *in = path, *out = path;
	while (*in) {
		if (strncmp(in, "../", 3) == 0) {
			in += 3;
		} else if (strncmp(in, "./", 2) == 0 || strncmp(in, "/./", 3) == 0) {
			in += 2;
		} else if (strcmp(in, "/.") == 0) {
			in[1] = '\0';
		} else if (strncmp(in, "/../", 4) == 0) {
			in += 3;
			out = pop_segment(path, out);
		} else if (strcmp(in, "/..") == 0) {
			in[1] = '\0';
			out = pop_segment(path, out);
		} else if (strcmp(in, ".") == 0 || strcmp(in, "..") == 0) {
			*in = '\0';
		} else {
			/* move the first segment, with its leading '/', to the output */
			do
				*out++ = *in++;
			while (*in && *in != '/');
		}
	}
	*out = '\0';
}

/* scheme://host[:port]/path[?query] from the parts of a parsed URI. */
static char *build(const struct evhttp_uri *u, char *path, const char *query)
{
	remove_dot_segments(path);
	const char *host = evhttp_uri_get_host(u);
	int port = evhttp_uri_get_port(u);
	char portbuf[16] = "";
	if (port >= 0)
		snprintf(portbuf, sizeof portbuf, ":%d", port);
	return evf_asprintf("%s://%s%s%s%s%s%s", evhttp_uri_get_scheme(u), host ? host : "",
	                    portbuf, path[0] == '/' ? "" : "/", path, query ? "?" : "",
	                    query ? query : "");
}

char *evf_url_resolve(const char *base, const char *ref, const char **why)
{
	*why = NULL;
	if (first_bad_byte(ref)) {
		*why = "the Location contains a space, control or non-ASCII character";
		return NULL;
	}
	size_t rlen = strcspn(ref, "#");   /* the fragment stays with the client */
	char *r = evf_strndup(ref, rlen), *abs = NULL, *out = NULL, *path = NULL;
	struct evhttp_uri *b = evhttp_uri_parse_with_flags(base, 0);
	struct evhttp_uri *u = r ? evhttp_uri_parse_with_flags(r, 0) : NULL;
	if (!b || !u) {
		*why = b ? "the Location cannot be parsed" : "the base URL cannot be parsed";
		goto done;
	}
	if (evhttp_uri_get_scheme(u) || (rlen >= 2 && r[0] == '/' && r[1] == '/')) {
		/* absolute, or network-path: only the dot segments change (5.2.2) */
		abs = evhttp_uri_get_scheme(u) ? evf_strdup(r)
		                               : evf_asprintf("%s:%s", evhttp_uri_get_scheme(b), r);
		evhttp_uri_free(u);
		u = abs ? evhttp_uri_parse_with_flags(abs, 0) : NULL;
		if (!u) {
			*why = abs ? "the Location cannot be parsed" : NULL;
			goto done;
		}
		const char *p = evhttp_uri_get_path(u);
		if ((path = evf_strdup(p && *p ? p : "/")))
			out = build(u, path, evhttp_uri_get_query(u));
		goto done;
	}
	const char *bpath = evhttp_uri_get_path(b), *rpath = evhttp_uri_get_path(u);
	const char *query = evhttp_uri_get_query(u);
	if (!bpath || !*bpath)
		bpath = "/";
	if (!rpath || !*rpath) {
		path = evf_strdup(bpath);
		if (!query)
			query = evhttp_uri_get_query(b);
	} else if (rpath[0] == '/') {
		path = evf_strdup(rpath);
	} else {
		const char *slash = strrchr(bpath, '/');
		size_t keep = slash ? (size_t)(slash - bpath) + 1 : 0;
		path = evf_asprintf("%.*s%s", (int)keep, bpath, rpath);
	}
	if (path)
		out = build(b, path, query);
done:
	if (!out && !*why)
		*why = "out of memory";
	free(path);
	free(abs);
	free(r);
	if (b)
		evhttp_uri_free(b);
	if (u)
		evhttp_uri_free(u);
	return out;
}
