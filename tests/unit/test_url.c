/* test_url.c - URL parsing: what is fetched, and what is refused. */
#include <stdio.h>
#include <stdlib.h>
#include "internal.h"
#include "tap.h"

static void good(const char *url, int tls, const char *host, int port,
                 const char *target, const char *authority)
{
	struct evf_url u;
	const char *why = NULL;
	int rc = evf_url_parse(&u, url, &why);
	if (!ok(rc == 0, "accepts %s", url)) {
		diag("why: %s", why ? why : "(none)");
		return;
	}
	is_int(u.tls, tls, "%s: scheme", url);
	is_str(u.host, host, "%s: host", url);
	is_int(u.port, port, "%s: port", url);
	is_str(u.target, target, "%s: target", url);
	is_str(u.authority, authority, "%s: Host header", url);
	evf_url_clear(&u);
}

/* url for a test's name: control and non-ASCII bytes as \xNN. */
static const char *shown(const char *url)
{
	static char buf[512];
	size_t n = 0;
	for (const unsigned char *p = (const unsigned char *)url; *p && n + 5 < sizeof buf; p++) {
		if (*p < 32 || *p >= 127)
			n += (size_t)snprintf(buf + n, sizeof buf - n, "\\x%02x", *p);
		else
			buf[n++] = (char)*p;
	}
	buf[n] = '\0';
	return buf;
}

/* url is refused with EVF_ERR_URL, and why says what is wrong with it. */
static void bad(const char *url, const char *want)
{
	struct evf_url u;
	const char *why = NULL;
	int rc = evf_url_parse(&u, url, &why);
	is_int(rc, EVF_ERR_URL, "refuses '%s'", shown(url));
	is_str(why, want, "'%s': the reason", shown(url));
	if (rc == 0)
		evf_url_clear(&u);
}

int main(void)
{
	good("https://example.test/", 1, "example.test", 443, "/", "example.test");
	good("http://example.test", 0, "example.test", 80, "/", "example.test");
	good("HTTPS://Example.TEST:8443/a/b?x=1&y=2#frag", 1, "example.test", 8443,
	     "/a/b?x=1&y=2", "example.test:8443");
	good("http://127.0.0.1:8080/n/1", 0, "127.0.0.1", 8080, "/n/1", "127.0.0.1:8080");
	good("https://[::1]:4443/x", 1, "::1", 4443, "/x", "[::1]:4443");
	good("https://[::1]/", 1, "::1", 443, "/", "[::1]");
	good("http://h.test:80/", 0, "h.test", 80, "/", "h.test");
	good("https://h.test:443/%2e%2e/x", 1, "h.test", 443, "/%2e%2e/x", "h.test");

	/* refused after libevent parsed the URL */
	bad("", "the URL has no scheme (http:// or https://)");
	bad("example.test/path", "the URL has no scheme (http:// or https://)");
	bad("ftp://example.test/file", "unsupported scheme: only http and https are fetched");
	bad("file:///etc/passwd", "unsupported scheme: only http and https are fetched");
	bad("http://", "the URL has no host");
	bad("http:///path", "the URL has no host");
	bad("https://:8443/", "the URL has no host");
	bad("https://user:pw@example.test/", "user names and passwords in URLs are not supported");
	bad("http://example.test:0/", "port 0 is not a valid port");
	bad("https://[v1.x]/", "the host in brackets is not an IPv6 address");

	/* bytes that no URL holds, before libevent sees them */
	bad("not a url", "the URL contains a space (write it as %20)");
	bad("http://exa mple.test/", "the URL contains a space (write it as %20)");
	bad("http://example.test/a b", "the URL contains a space (write it as %20)");
	bad("http://example.test/\r\nX-Injected: 1", "the URL contains a control character");
	bad("http://example.test/\x7f", "the URL contains a control character");
	bad("http://ex\xc3\xa4mple.test/", "the URL contains a non-ASCII byte");

	/* refused by libevent: the part that is wrong */
	bad("1http://example.test/", "the scheme is malformed (expected http:// or https://)");
	bad("ht_tp://example.test/", "the scheme is malformed (expected http:// or https://)");
	bad("://example.test/", "the scheme is malformed (expected http:// or https://)");
	bad("http://example.test:99999/", "the port is out of range (1 to 65535)");
	bad("https://h:65536/", "the port is out of range (1 to 65535)");
	bad("https://h:123456789012345678901234567890/", "the port is out of range (1 to 65535)");
	bad("http://example.test:12ab/", "the port is not a number");
	bad("https://h:-1/", "the port is not a number");
	bad("https://h:+443/", "the port is not a number");
	bad("http://[::1/", "the IPv6 address has no closing ']'");
	bad("https://[::1", "the IPv6 address has no closing ']'");
	bad("https://[zz]/", "the host in brackets is not an IPv6 address");
	bad("https://[::1]x/", "after the IPv6 address's ']' only a ':' and a port may follow");
	bad("https://[::1]:99999/", "the port is out of range (1 to 65535)");
	bad("https://[::1]:4x/", "the port is not a number");
	bad("https://::1/", "more than one ':' after the host (an IPv6 address goes in brackets)");
	bad("https://h:80:80/", "more than one ':' after the host (an IPv6 address goes in brackets)");
	bad("https://exa|mple.test/", "the host contains a character not allowed in a host name");
	bad("https://h]/", "the host contains a character not allowed in a host name");
	bad("https://h%zz/", "the host contains a character not allowed in a host name");
	bad("https://u|x@h/", "user names and passwords in URLs are not supported");
	bad("https://h/a|b", "the path contains a character that must be percent-encoded");
	bad("https://h/a{b}", "the path contains a character that must be percent-encoded");
	bad("https://h/a\"b", "the path contains a character that must be percent-encoded");
	bad("https://h/a%zz", "a '%' in the path is not followed by two hex digits");
	bad("https://h/a%2", "a '%' in the path is not followed by two hex digits");
	bad("https://h/?q=<x>", "the query contains a character that must be percent-encoded");
	bad("https://h/?q=%", "a '%' in the query is not followed by two hex digits");
	bad("https://h/#a^b", "the fragment contains a character that must be percent-encoded");
	bad("https://h/#a#b", "the fragment contains a character that must be percent-encoded");
	bad("https://h/#%g1", "a '%' in the fragment is not followed by two hex digits");
	bad("example.test/a|b", "the path contains a character that must be percent-encoded");
	return done_testing();
}
