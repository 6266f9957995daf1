/* test_url.c - URL parsing: what is fetched, and what is refused. */
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

static void bad(const char *url)
{
	struct evf_url u;
	const char *why = NULL;
	int rc = evf_url_parse(&u, url, &why);
	ok(rc == EVF_ERR_URL && why && *why, "refuses '%s' (%s)", url, why ? why : "no reason");
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

	bad("");
	bad("not a url");
	bad("example.test/path");
	bad("ftp://example.test/file");
	bad("file:///etc/passwd");
	bad("http://");
	bad("http:///path");
	bad("https://user:pw@example.test/");
	bad("http://example.test:0/");
	bad("http://example.test:99999/");
	bad("http://example.test:12ab/");
	bad("http://exa mple.test/");
	bad("http://example.test/a b");
	bad("http://example.test/\r\nX-Injected: 1");
	bad("http://[::1/");
	bad("http://ex\xc3\xa4mple.test/");
	return done_testing();
}
