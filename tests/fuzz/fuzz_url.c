/*
 * fuzz_url.c - libFuzzer target for URL parsing (src/lib/url.c,
 * evf_url_parse on top of libevent's evhttp_uri).
 *
 * The input is taken as a C string (it ends at its first NUL).  Whatever
 * evf_url_parse accepts goes into a request line and a Host header, so:
 *
 *   - the result is 0, or a negative evf_error with a reason and a
 *     cleared struct;
 *   - host is non-empty, lower case, without brackets, and holds none of
 *     "/?#@" nor (unless it is an IPv6 literal) ':';
 *   - port is 1..65535, and the default port for the scheme when the URL
 *     names none;
 *   - target starts with '/';
 *   - authority and target hold no byte below 0x21 and no DEL (so no CR,
 *     LF or space), and authority is exactly host[:port] with brackets
 *     around an IPv6 literal and the port only when it is not the default;
 *   - the request head built from them has exactly its four lines;
 *   - scheme://authority/target parses back to the same URL.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "internal.h"
#include "http1.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(cond)                                                        \
	do {                                                               \
		if (!(cond)) {                                             \
			fprintf(stderr, "fuzz_url: check failed at line %d: %s\n", \
			        __LINE__, #cond);                          \
			abort();                                           \
		}                                                          \
	} while (0)

/* No byte that could end or split a request line or a header. */
static int clean_for_header(const char *s)
{
	for (const unsigned char *p = (const unsigned char *)s; *p; p++)
		if (*p < 0x21 || *p == 0x7f)
			return 0;
	return 1;
}

static void check_request_head(const struct evf_url *u)
{
	size_t len = 0, lines = 0;
	char *req = http1_request("GET", u->target, u->authority, "fuzz", NULL, 0, &len);

	CHECK(req != NULL);
	CHECK(strlen(req) == len);
	/* "GET t HTTP/1.1", Host, User-Agent, Accept, then the empty line */
	for (size_t i = 0; i < len; i++) {
		if (req[i] == '\r') {
			CHECK(i + 1 < len && req[i + 1] == '\n');
			lines++;
		} else if (req[i] == '\n') {
			CHECK(i > 0 && req[i - 1] == '\r');
		}
	}
	CHECK(lines == 5);
	CHECK(len >= 4 && memcmp(req + len - 4, "\r\n\r\n", 4) == 0);
	free(req);
}

static void check_round_trip(const struct evf_url *u)
{
	struct evf_url v;
	const char *why = NULL;
	char *again = evf_asprintf("%s://%s%s", u->tls ? "https" : "http",
	                           u->authority, u->target);

	CHECK(again != NULL);
	CHECK(evf_url_parse(&v, again, &why) == 0);
	CHECK(v.tls == u->tls);
	CHECK(v.ipv6 == u->ipv6);
	CHECK(v.port == u->port);
	CHECK(strcmp(v.host, u->host) == 0);
	CHECK(strcmp(v.target, u->target) == 0);
	CHECK(strcmp(v.authority, u->authority) == 0);
	evf_url_clear(&v);
	free(again);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct evf_url u;
	const char *why = NULL;
	char *s = malloc(size + 1);

	CHECK(s != NULL);
	memcpy(s, data, size);
	s[size] = '\0';

	int rc = evf_url_parse(&u, s, &why);
	if (rc != 0) {
		CHECK(rc < 0 && strcmp(evf_error_name(rc), "unknown") != 0);
		CHECK(why != NULL && *why != '\0');
		CHECK(u.host == NULL && u.target == NULL && u.authority == NULL);
		free(s);
		return 0;
	}

	CHECK(u.host && u.target && u.authority);
	CHECK(u.host[0] != '\0');
	CHECK(u.port >= 1 && u.port <= 65535);
	CHECK(u.target[0] == '/');
	CHECK(clean_for_header(u.host));
	CHECK(clean_for_header(u.target));
	CHECK(clean_for_header(u.authority));
	CHECK(strpbrk(u.authority, "\r\n ") == NULL);
	CHECK(strpbrk(u.host, "/?#@[]") == NULL);
	CHECK(u.ipv6 || strchr(u.host, ':') == NULL);
	CHECK(strchr(u.target, '#') == NULL);
	for (const char *p = u.host; *p; p++)
		CHECK(!(*p >= 'A' && *p <= 'Z'));

	/* the scheme decides TLS and the default port */
	CHECK(u.tls == (strncasecmp(s, "https:", 6) == 0));
	CHECK(u.tls || strncasecmp(s, "http:", 5) == 0);
	int defport = u.tls ? 443 : 80;

	/* authority is host[:port], bracketed for IPv6 */
	char *want = u.port == defport
		? evf_asprintf("%s%s%s", u.ipv6 ? "[" : "", u.host, u.ipv6 ? "]" : "")
		: evf_asprintf("%s%s%s:%d", u.ipv6 ? "[" : "", u.host, u.ipv6 ? "]" : "",
		               u.port);
	CHECK(want != NULL);
	CHECK(strcmp(want, u.authority) == 0);
	free(want);

	check_request_head(&u);
	check_round_trip(&u);
	evf_url_clear(&u);
	free(s);
	return 0;
}
