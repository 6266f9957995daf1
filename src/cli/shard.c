/*
 * shard.c - --shard K/N: which URLs of the input this process fetches.
 *
 * Several evfetch processes, on one machine or many, split one input
 * without talking to each other: each hashes every URL (or its host, with
 * --shard-by host) and keeps those that fall in its own shard.  The hash
 * must give the same answer on every machine and in every version, so it
 * is spelled out in evfetch(1) and never changes: FNV-1a 64 over the bytes,
 * then MurmurHash3's 64-bit finalizer (FNV-1a alone leaves the high and low
 * bits of URLs that differ only at the end too alike), and shard
 * (h mod N) + 1.  Shards are numbered from 1, as GNU parallel's {%} and
 * {#} are.
 *
 * "--shard auto" takes K (and N where it can) from a scheduler that
 * already numbers its tasks: a Kubernetes Indexed Job, a Slurm job array
 * or GNU parallel.  evfetch is never a coordinator itself.
 *
 * A leaf module: no other part of the tool is used (see cli.h), so errors
 * come back as text for args.c to print.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

#define FNV_OFFSET 0xcbf29ce484222325ull
#define FNV_PRIME 0x100000001b3ull

static uint64_t
fnv1a(uint64_t h, const unsigned char *p, size_t len, int lower)
{
	size_t i;

	for (i = 0; i < len; i++) {
		unsigned c = p[i];

		if (lower && c >= 'A' && c <= 'Z')
			c += 'a' - 'A';
		h = (h ^ c) * FNV_PRIME;
	}
	return h;
}

static uint64_t
fmix64(uint64_t h)
{
	h ^= h >> 33;
	h *= 0xff51afd7ed558ccdull;
	h ^= h >> 33;
	h *= 0xc4ceb9fe1a85ec53ull;
	h ^= h >> 33;
	return h;
}

uint64_t
cli_stable_hash(const void *p, size_t len)
{
	return fmix64(fnv1a(FNV_OFFSET, p, len, 0));
}

static int
is_scheme_char(int c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	       (c >= '0' && c <= '9') || c == '+' || c == '-' || c == '.';
}

/*
 * The host as written in url: after "scheme://" and any "user@", up to
 * the port, path, query or fragment; an IPv6 literal keeps its brackets.
 * Purely textual, so that it works the same on URLs the library would
 * refuse.  0 when there is none (no "scheme://", or an empty host).
 */
int
cli_url_host(const char *url, size_t len, size_t *off, size_t *hlen)
{
	const char *end = url + len, *p = url, *auth, *auth_end, *at, *h;

	while (p < end && is_scheme_char((unsigned char)*p))
		p++;
	if (p == url || end - p < 3 || memcmp(p, "://", 3) != 0)
		return 0;
	auth = p + 3;
	for (auth_end = auth; auth_end < end; auth_end++)
		if (*auth_end == '/' || *auth_end == '?' || *auth_end == '#')
			break;
	h = auth;
	for (at = auth; at < auth_end; at++)
		if (*at == '@')
			h = at + 1;
	if (h < auth_end && *h == '[') {
		const char *close = memchr(h, ']', (size_t)(auth_end - h));

		p = close != NULL ? close + 1 : auth_end;
	} else {
		for (p = h; p < auth_end && *p != ':'; p++)
			;
	}
	if (p == h)
		return 0;
	*off = (size_t)(h - url);
	*hlen = (size_t)(p - h);
	return 1;
}

unsigned
cli_shard_of(const struct cli_shard *s, const char *url, size_t len)
{
	size_t off, hlen;
	uint64_t h;

	if (s->by_host && cli_url_host(url, len, &off, &hlen))
		h = fmix64(fnv1a(FNV_OFFSET, (const unsigned char *)url + off,
		                 hlen, 1));
	else
		h = cli_stable_hash(url, len);
	return (unsigned)(h % s->n) + 1;
}

int
cli_shard_mine(const struct cli_shard *s, const char *url, size_t len)
{
	return s->n == 0 || cli_shard_of(s, url, len) == s->k;
}

static int
fail(char *why, size_t whylen, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static int
fail(char *why, size_t whylen, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(why, whylen, fmt, ap);
	va_end(ap);
	return -1;
}

/* Digits only (leading zeros allowed, as in {0#}), at most max. */
static int
parse_count(const char *s, size_t len, unsigned long max, unsigned long *out)
{
	unsigned long v = 0;
	size_t i;

	if (len == 0)
		return -1;
	for (i = 0; i < len; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		v = v * 10 + (unsigned long)(s[i] - '0');
		if (v > max)
			return -1;
	}
	*out = v;
	return 0;
}

static int
env_count(char *(*get)(const char *), const char *name,
          unsigned long *out, int *present)
{
	const char *v = get(name);

	*present = v != NULL;
	if (v == NULL)
		return 0;
	return parse_count(v, strlen(v), CLI_SHARD_MAX, out);
}

/*
 * A Slurm array of tasks MIN, MIN+STEP, ..., MAX (COUNT of them): the
 * task's place in it is the shard.  An array given as a list
 * ("--array=1,2,5") has no such place.
 */
static int
from_slurm(struct cli_shard *s, unsigned long want_n,
           char *(*get)(const char *), char *why, size_t whylen)
{
	unsigned long id, count, min, max = 0, step = 1;
	int has_id, has_count, has_min, has_max, has_step;

	if (env_count(get, "SLURM_ARRAY_TASK_ID", &id, &has_id) < 0 ||
	    env_count(get, "SLURM_ARRAY_TASK_COUNT", &count, &has_count) < 0 ||
	    env_count(get, "SLURM_ARRAY_TASK_MIN", &min, &has_min) < 0 ||
	    env_count(get, "SLURM_ARRAY_TASK_MAX", &max, &has_max) < 0 ||
	    env_count(get, "SLURM_ARRAY_TASK_STEP", &step, &has_step) < 0)
		return fail(why, whylen, "--shard auto: a SLURM_ARRAY_TASK_* "
		            "variable is not a whole number up to %u",
		            CLI_SHARD_MAX);
	if (!has_count || !has_min)
		return fail(why, whylen, "--shard auto: SLURM_ARRAY_TASK_ID is "
		            "set but SLURM_ARRAY_TASK_COUNT or "
		            "SLURM_ARRAY_TASK_MIN is not");
	if (step == 0 || count == 0 ||
	    (has_max && (unsigned long long)min +
	     (unsigned long long)(count - 1) * step != max))
		return fail(why, whylen, "--shard auto: the Slurm array is not "
		            "%lu tasks from %lu in steps of %lu (an --array list "
		            "rather than a range?); give --shard K/N", count,
		            min, step);
	if (id < min || (id - min) % step != 0 || (id - min) / step >= count)
		return fail(why, whylen, "--shard auto: SLURM_ARRAY_TASK_ID=%lu "
		            "is not one of the %lu tasks from %lu in steps of %lu",
		            id, count, min, step);
	if (want_n != 0 && want_n != count)
		return fail(why, whylen, "--shard auto/%lu: the Slurm array has "
		            "%lu tasks (SLURM_ARRAY_TASK_COUNT)", want_n, count);
	s->k = (unsigned)((id - min) / step + 1);
	s->n = (unsigned)count;
	s->source = "Slurm";
	return 0;
}

/* An index from a scheduler that does not say how many there are. */
static int
from_index(struct cli_shard *s, unsigned long want_n, const char *var,
           int zero_based, const char *what, char *(*get)(const char *),
           char *why, size_t whylen)
{
	unsigned long idx;
	int present;

	if (env_count(get, var, &idx, &present) < 0)
		return fail(why, whylen, "--shard auto: %s='%s' is not a whole "
		            "number", var, get(var));
	if (want_n == 0)
		return fail(why, whylen, "--shard auto: %s (%s) gives the "
		            "shard but not how many there are: use --shard auto/N",
		            var, what);
	if (zero_based ? idx >= want_n : idx == 0 || idx > want_n)
		return fail(why, whylen, "--shard auto/%lu: %s=%lu (%s) is out "
		            "of range (%s to %lu)", want_n, var, idx, what,
		            zero_based ? "0" : "1", zero_based ? want_n - 1 : want_n);
	s->k = (unsigned)(zero_based ? idx + 1 : idx);
	s->n = (unsigned)want_n;
	s->source = what;
	return 0;
}

static int
shard_auto(struct cli_shard *s, unsigned long want_n,
           char *(*get)(const char *), char *why, size_t whylen)
{
	static const char *const vars[] = {
		"JOB_COMPLETION_INDEX", "SLURM_ARRAY_TASK_ID", "PARALLEL_SEQ",
	};
	const char *found[3];
	size_t i, nfound = 0;

	for (i = 0; i < sizeof vars / sizeof vars[0]; i++)
		if (get(vars[i]) != NULL)
			found[nfound++] = vars[i];
	if (nfound == 0)
		return fail(why, whylen, "--shard auto: none of "
		            "JOB_COMPLETION_INDEX (Kubernetes), SLURM_ARRAY_TASK_ID "
		            "(Slurm) or PARALLEL_SEQ (GNU parallel) is set");
	/* Nested schedulers: which numbering is meant cannot be guessed. */
	if (nfound > 1)
		return fail(why, whylen, "--shard auto: both %s and %s are set; "
		            "give --shard K/N", found[0], found[1]);
	if (found[0] == vars[1])
		return from_slurm(s, want_n, get, why, whylen);
	if (found[0] == vars[0])
		return from_index(s, want_n, vars[0], 1, "Kubernetes", get, why,
		                  whylen);
	return from_index(s, want_n, vars[2], 0, "GNU parallel", get, why,
	                  whylen);
}

int
cli_shard_parse(struct cli_shard *s, const char *arg,
                char *(*get)(const char *), char *why, size_t whylen)
{
	const char *slash = strchr(arg, '/');
	unsigned long k, n = 0;
	size_t klen = slash != NULL ? (size_t)(slash - arg) : strlen(arg);

	s->k = s->n = 0;
	s->source = NULL;
	if (slash != NULL && parse_count(slash + 1, strlen(slash + 1),
	                                 CLI_SHARD_MAX, &n) < 0)
		return fail(why, whylen, "--shard: '%s' is not K/N, auto or auto/N "
		            "(N a whole number from 1 to %u)", arg, CLI_SHARD_MAX);
	if (slash != NULL && n == 0)
		return fail(why, whylen, "--shard: '%s': N must be 1 or more", arg);
	if (klen == 4 && memcmp(arg, "auto", 4) == 0)
		return shard_auto(s, n, get, why, whylen);
	if (slash == NULL || parse_count(arg, klen, CLI_SHARD_MAX, &k) < 0)
		return fail(why, whylen, "--shard: '%s' is not K/N, auto or auto/N "
		            "(N a whole number from 1 to %u)", arg, CLI_SHARD_MAX);
	if (k == 0 || k > n)
		return fail(why, whylen, "--shard: '%s': K must be from 1 to %lu "
		            "(shards are numbered from 1)", arg, n);
	s->k = (unsigned)k;
	s->n = (unsigned)n;
	return 0;
}
