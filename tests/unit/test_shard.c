/*
 * test_shard.c - --shard (src/cli/shard.c): the stable hash against
 * values worked out from its definition in evfetch(1) (the FNV-1a 64 test
 * vectors' published values put through fmix64), the host that --shard-by
 * host hashes, K/N and auto parsing with scripted environments, and the
 * promises: every URL in exactly one shard, and shards of fair size.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "tap.h"

static void
test_hash(void)
{
	/* FNV-1a 64 of "", "a", "foobar" is cbf29ce484222325, af63dc4c8601ec8c,
	 * 85944171f73967e8; these are those through fmix64. */
	is_uint(cli_stable_hash("", 0), 0xefd01f60ba992926ull, "hash of \"\"");
	is_uint(cli_stable_hash("a", 1), 0x82a2a958a9bece5bull, "hash of \"a\"");
	is_uint(cli_stable_hash("foobar", 6), 0x2c22194922d1672bull,
	        "hash of \"foobar\"");
	is_uint(cli_stable_hash("https://example.com/a", 21),
	        0xcad4c8716e9a1658ull, "hash of a URL");
}

static const char *
host_of(const char *url)
{
	static char out[256];
	size_t off, len;

	if (!cli_url_host(url, strlen(url), &off, &len))
		return "(none)";
	snprintf(out, sizeof out, "%.*s", (int)len, url + off);
	return out;
}

static void
test_host(void)
{
	is_str(host_of("http://Example.COM:8080/x"), "Example.COM", "port dropped");
	is_str(host_of("https://user:pw@h.test/x"), "h.test", "user info dropped");
	is_str(host_of("http://a@b@c.test/"), "c.test", "the last '@' ends user info");
	is_str(host_of("http://[::1]:80/"), "[::1]", "IPv6 literal with brackets");
	is_str(host_of("http://[::1/x"), "[::1", "an unclosed bracket runs to the path");
	is_str(host_of("http://h.test?q=/a"), "h.test", "query right after the host");
	is_str(host_of("http://h.test#f"), "h.test", "fragment right after the host");
	is_str(host_of("HTTPS://h.test"), "h.test", "scheme in capitals");
	is_str(host_of("http://"), "(none)", "empty authority");
	is_str(host_of("http://:80/"), "(none)", "port without host");
	is_str(host_of("h.test/x"), "(none)", "no scheme");
	is_str(host_of("://h.test/"), "(none)", "empty scheme");
	is_str(host_of("ht tp://h.test/"), "(none)", "space in the scheme");
}

static void
test_shard_of(void)
{
	struct cli_shard s = { .n = 4 };
	struct cli_shard h = { .n = 4, .by_host = 1 };
	static const char *const same[] = {
		"http://example.com/a", "https://EXAMPLE.com:8443/b?c",
		"http://u:p@Example.Com/", "http://example.com#x",
	};
	size_t i;

	is_int((int)cli_shard_of(&s, "https://example.com/a", 21), 1,
	       "shard of a URL, N=4");
	s.n = 7;
	is_int((int)cli_shard_of(&s, "https://example.com/a", 21), 3,
	       "shard of a URL, N=7");
	s.n = 4;
	is_int((int)cli_shard_of(&s, "http://127.0.0.1:8080/n/1.txt", 29), 2,
	       "shard of another URL, N=4");
	for (i = 0; i < sizeof same / sizeof same[0]; i++)
		is_int((int)cli_shard_of(&h, same[i], strlen(same[i])), 2,
		       "--shard-by host: %s hashes example.com", same[i]);
	is_int((int)cli_shard_of(&h, "no host", 7),
	       (int)cli_shard_of(&s, "no host", 7),
	       "--shard-by host: without a host the whole URL is hashed");
	s.n = 0;
	ok(cli_shard_mine(&s, "x", 1), "no sharding: every URL is mine");
}

/* Every URL in exactly one shard, and no shard far from its share. */
static void
test_partition(unsigned n, int by_host)
{
	struct cli_shard s = { .n = n, .by_host = by_host };
	unsigned counts[16] = { 0 }, k, mine, bad = 0, urls = by_host ? 20000 : 100000;
	char url[64];
	unsigned i;
	int len;

	for (i = 0; i < urls; i++) {
		len = by_host ? snprintf(url, sizeof url, "https://h%u.test/x", i) :
		                snprintf(url, sizeof url, "http://h.test/n/%u", i);
		for (mine = 0, k = 1; k <= n; k++) {
			s.k = k;
			if (cli_shard_mine(&s, url, (size_t)len)) {
				mine++;
				counts[k - 1]++;
			}
		}
		bad += mine != 1;
	}
	is_int((int)bad, 0, "N=%u%s: each of %u URLs in exactly one shard", n,
	       by_host ? " by host" : "", urls);
	for (k = 0; k < n; k++) {
		double share = (double)counts[k] * n / urls;

		ok(share > 0.95 && share < 1.05, "N=%u%s: shard %u has %u URLs "
		   "(%.3f of a fair share)", n, by_host ? " by host" : "", k + 1,
		   counts[k], share);
	}
}

/* A scripted environment for --shard auto. */
static const char *const *env_vars;

static char *
fake_getenv(const char *name)
{
	const char *const *v;
	size_t len = strlen(name);

	for (v = env_vars; v != NULL && *v != NULL; v++)
		if (strncmp(*v, name, len) == 0 && (*v)[len] == '=')
			return (char *)*v + len + 1;
	return NULL;
}

/* "K/N", or "error: why" */
static const char *
parse(const char *arg, const char *const *env)
{
	static char out[400];
	struct cli_shard s = { 0 };
	char why[300];

	env_vars = env;
	if (cli_shard_parse(&s, arg, fake_getenv, why, sizeof why) < 0)
		snprintf(out, sizeof out, "error: %s", why);
	else
		snprintf(out, sizeof out, "%u/%u", s.k, s.n);
	return out;
}

static void
test_parse(void)
{
	static const char *const none[] = { NULL };
	static const char *const k8s[] = { "JOB_COMPLETION_INDEX=0", NULL };
	static const char *const k8s3[] = { "JOB_COMPLETION_INDEX=3", NULL };
	static const char *const gnu[] = { "PARALLEL_SEQ=2", NULL };
	static const char *const slurm0[] = {
		"SLURM_ARRAY_TASK_ID=0", "SLURM_ARRAY_TASK_COUNT=4",
		"SLURM_ARRAY_TASK_MIN=0", "SLURM_ARRAY_TASK_MAX=3",
		"SLURM_ARRAY_TASK_STEP=1", NULL };
	static const char *const slurm1[] = {
		"SLURM_ARRAY_TASK_ID=4", "SLURM_ARRAY_TASK_COUNT=4",
		"SLURM_ARRAY_TASK_MIN=1", "SLURM_ARRAY_TASK_MAX=4", NULL };
	static const char *const slurm_step[] = {
		"SLURM_ARRAY_TASK_ID=14", "SLURM_ARRAY_TASK_COUNT=4",
		"SLURM_ARRAY_TASK_MIN=10", "SLURM_ARRAY_TASK_MAX=16",
		"SLURM_ARRAY_TASK_STEP=2", NULL };
	static const char *const slurm_odd[] = {
		"SLURM_ARRAY_TASK_ID=13", "SLURM_ARRAY_TASK_COUNT=4",
		"SLURM_ARRAY_TASK_MIN=10", "SLURM_ARRAY_TASK_STEP=2", NULL };
	static const char *const slurm_list[] = {
		"SLURM_ARRAY_TASK_ID=5", "SLURM_ARRAY_TASK_COUNT=3",
		"SLURM_ARRAY_TASK_MIN=1", "SLURM_ARRAY_TASK_MAX=5", NULL };
	static const char *const slurm_nocount[] = { "SLURM_ARRAY_TASK_ID=1", NULL };
	static const char *const slurm_bad[] = {
		"SLURM_ARRAY_TASK_ID=1", "SLURM_ARRAY_TASK_COUNT=four",
		"SLURM_ARRAY_TASK_MIN=0", NULL };
	static const char *const two[] = {
		"JOB_COMPLETION_INDEX=1", "PARALLEL_SEQ=1", NULL };

	is_str(parse("1/4", none), "1/4", "1/4");
	is_str(parse("4/4", none), "4/4", "4/4");
	is_str(parse("1/1", none), "1/1", "1/1");
	is_str(parse("02/04", none), "2/4", "leading zeros, as {0#} writes them");
	is_str(parse("1000000/1000000", none), "1000000/1000000", "the largest N");
	ok(strncmp(parse("1/1000001", none), "error", 5) == 0, "N past the largest");
	ok(strstr(parse("0/4", none), "from 1 to 4") != NULL, "0/4: K counts from 1");
	ok(strstr(parse("5/4", none), "from 1 to 4") != NULL, "5/4: K > N");
	ok(strstr(parse("1/0", none), "N must be 1 or more") != NULL, "1/0");
	ok(strncmp(parse("4", none), "error", 5) == 0, "no slash");
	ok(strncmp(parse("1/", none), "error", 5) == 0, "no N");
	ok(strncmp(parse("/4", none), "error", 5) == 0, "no K");
	ok(strncmp(parse("1/2/3", none), "error", 5) == 0, "two slashes");
	ok(strncmp(parse("-1/4", none), "error", 5) == 0, "a sign");
	ok(strncmp(parse("1/4 ", none), "error", 5) == 0, "a blank");
	ok(strncmp(parse("99999999999999999999/4", none), "error", 5) == 0,
	   "a K too large for any integer");

	ok(strstr(parse("auto", none), "none of") != NULL, "auto without variables");
	ok(strstr(parse("auto", k8s), "auto/N") != NULL,
	   "auto: Kubernetes needs the count");
	is_str(parse("auto/4", k8s), "1/4", "Kubernetes index 0 is shard 1");
	is_str(parse("auto/4", k8s3), "4/4", "Kubernetes index 3 is shard 4");
	ok(strstr(parse("auto/3", k8s3), "out of range") != NULL,
	   "Kubernetes index 3 of 3");
	is_str(parse("auto/4", gnu), "2/4", "PARALLEL_SEQ=2 is shard 2");
	ok(strstr(parse("auto/1", gnu), "out of range") != NULL, "PARALLEL_SEQ=2 of 1");
	is_str(parse("auto", slurm0), "1/4", "Slurm array 0-3, task 0");
	is_str(parse("auto/4", slurm0), "1/4", "Slurm with a matching auto/N");
	ok(strstr(parse("auto/5", slurm0), "4 tasks") != NULL,
	   "Slurm with another auto/N");
	is_str(parse("auto", slurm1), "4/4", "Slurm array 1-4, task 4");
	is_str(parse("auto", slurm_step), "3/4", "Slurm array 10-16:2, task 14");
	ok(strstr(parse("auto", slurm_odd), "not one of") != NULL,
	   "Slurm array 10-16:2, task 13");
	ok(strstr(parse("auto", slurm_list), "not 3 tasks") != NULL,
	   "Slurm array given as a list");
	ok(strncmp(parse("auto", slurm_nocount), "error", 5) == 0,
	   "Slurm without SLURM_ARRAY_TASK_COUNT");
	ok(strstr(parse("auto", slurm_bad), "whole number") != NULL,
	   "Slurm with a count that is not a number");
	ok(strstr(parse("auto/4", two), "both") != NULL, "two schedulers at once");
	ok(strncmp(parse("Auto", k8s), "error", 5) == 0, "'Auto' is not auto");
}

int
main(void)
{
	test_hash();
	test_host();
	test_shard_of();
	test_partition(4, 0);
	test_partition(7, 0);
	test_partition(16, 0);
	test_partition(4, 1);
	test_parse();
	return done_testing();
}
