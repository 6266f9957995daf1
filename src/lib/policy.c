/*
 * policy.c - decisions taken between attempts of a transfer: which
 * statuses redirect, which failures are worth another try and after how
 * long, and which request headers must not follow a redirect elsewhere.
 * Pure functions, so they are easy to test.
 */
#define _GNU_SOURCE /* strptime */
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <event2/util.h>

#include "internal.h"

int policy_is_redirect(int status)
{
	return status == 301 || status == 302 || status == 303 || status == 307 ||
	       status == 308;
}

int policy_retry_status(int status)
{
	return status == 408 || status == 429 || status == 500 || status == 502 ||
	       status == 503 || status == 504;
}

/* The public answer is the policy: one list, in error.c. */
int policy_retry_error(int err)
{
	return evf_error_retryable(err);
}

/* Retry-After: delay-seconds or an HTTP-date; -1 when absent or unusable. */
int64_t policy_retry_after_ms(const char *value, time_t now)
{
	if (!value || !*value)
		return -1;
	char *end;
	if (value[0] >= '0' && value[0] <= '9') {
		unsigned long long s = strtoull(value, &end, 10);
		if (*end != '\0' || s > 86400ull * 365)
			return -1;
		return (int64_t)s * 1000;
	}
	struct tm tm;
	memset(&tm, 0, sizeof tm);
	/* IMF-fixdate, the form RFC 9110 requires senders to use */
	end = strptime(value, "%a, %d %b %Y %H:%M:%S GMT", &tm);
	if (!end || *end != '\0')
		return -1;
	time_t when = timegm(&tm);
	if (when == (time_t)-1)
		return -1;
	return when > now ? (int64_t)(when - now) * 1000 : 0;
}

uint64_t policy_backoff_ms(unsigned base_ms, unsigned max_ms, unsigned attempt,
                           int64_t retry_after_ms)
{
	if (retry_after_ms >= 0)
		return (uint64_t)retry_after_ms > max_ms ? max_ms : (uint64_t)retry_after_ms;
	uint64_t d = base_ms;
	for (unsigned i = 1; i < attempt && d < max_ms; i++)
		d *= 2;
	if (d > max_ms)
		d = max_ms;
	/* jitter: somewhere in [d/2, d], so that a crowd of failures does not
	 * come back all at once */
	uint32_t r = 0;
	evutil_secure_rng_get_bytes(&r, sizeof r);
	return d / 2 + (d > 1 ? r % (d / 2 + 1) : 0);
}

int policy_same_origin(const struct evf_url *a, const struct evf_url *b)
{
	return a->tls == b->tls && a->port == b->port && strcmp(a->host, b->host) == 0;
}

static int line_names(const char *line, const char *const *names, size_t count)
{
	for (size_t i = 0; i < count; i++) {
		size_t n = strlen(names[i]);
		if (strncasecmp(line, names[i], n) == 0 && line[n] == ':')
			return 1;
	}
	return 0;
}

int policy_framing_header(const char *line)
{
	static const char *const names[] = {"content-length", "transfer-encoding"};
	return line_names(line, names, 2);
}

int policy_credential_header(const char *line)
{
	/* The one list of headers a redirect that leaves the origin drops;
	 * evfetch.h, evfetch(3) and evfetch(1) name the same four.  Host too:
	 * a Host given for the first server would send the request to the
	 * wrong virtual host of the next one */
	static const char *const names[] = {"authorization", "cookie", "proxy-authorization",
	                                    "host"};
	return line_names(line, names, sizeof names / sizeof names[0]);
}

int policy_idempotent(const char *method)
{
	static const char *const names[] = {"GET", "HEAD", "PUT", "DELETE", "OPTIONS", "TRACE"};
	for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
		if (strcmp(method, names[i]) == 0)
			return 1;
	return 0;
}

int policy_method_valid(const char *m)
{
	/* a token (RFC 9110, 5.6.2) */
	if (!m || !*m || strlen(m) > 64)
		return 0;
	for (const char *p = m; *p; p++)
		if (*p <= 32 || *p >= 127 || strchr("()<>@,;:\\\"/[]?={}", *p))
			return 0;
	return 1;
}
