/*
 * test_resume.c - --resume (src/cli/resume.c): SipHash-2-4 against the
 * reference vectors, the set of done URLs, report lines as JSON with
 * escapes and other keys, and reading a report from disk: lines cut in
 * half, whole last lines without a newline, lines too long to hold, the
 * lock, and the tag that names the report's temp files.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"
#include "tap.h"

static void
test_siphash(void)
{
	/* vectors_sip64 of the reference implementation: key 00..0f,
	 * message 00..n-1. */
	static const struct { size_t n; uint64_t want; } v[] = {
		{ 0, 0x726fdb47dd0e0e31ull }, { 1, 0x74f839c593dc67fdull },
		{ 2, 0x0d6c8009d9a94f5aull }, { 3, 0x85676696d7fb7e2dull },
		{ 4, 0xcf2794e0277187b7ull }, { 7, 0xab0200f58b01d137ull },
		{ 8, 0x93f5f5799a932462ull }, { 15, 0xa129ca6149be45e5ull },
		{ 16, 0x3f2acc7f57c29bdbull },
	};
	unsigned char msg[16];
	size_t i;

	for (i = 0; i < sizeof msg; i++)
		msg[i] = (unsigned char)i;
	for (i = 0; i < sizeof v / sizeof v[0]; i++)
		is_uint(cli_siphash(0x0706050403020100ull, 0x0f0e0d0c0b0a0908ull,
		                    msg, v[i].n), v[i].want,
		        "SipHash-2-4 reference vector, %zu bytes", v[i].n);
}

static void
test_seen(void)
{
	struct cli_seen s, t;
	char url[64];
	unsigned i, added = 0, again = 0, found = 0, stray = 0;

	ok(cli_seen_init(&s) == 0 && cli_seen_init(&t) == 0, "init");
	ok(s.k0 != t.k0 || s.k1 != t.k1, "each set has its own random key");
	cli_seen_free(&t);
	for (i = 0; i < 100000; i++) {
		int len = snprintf(url, sizeof url, "https://h.test/%u", i);

		added += cli_seen_add(&s, url, (size_t)len) == 1;
	}
	for (i = 0; i < 100000; i++) {
		int len = snprintf(url, sizeof url, "https://h.test/%u", i);

		found += cli_seen_has(&s, url, (size_t)len);
		again += cli_seen_add(&s, url, (size_t)len) == 0;
		len = snprintf(url, sizeof url, "https://h.test/x%u", i);
		stray += cli_seen_has(&s, url, (size_t)len);
	}
	is_uint(added, 100000, "100000 different URLs are added");
	is_uint(s.count, 100000, "the count says so");
	is_uint(found, 100000, "each is found after the set grew");
	is_uint(again, 100000, "adding one again says it was there");
	is_uint(stray, 0, "URLs never added are not found");
	ok(s.cap >= 100000 * 4 / 3 && s.cap <= 100000 * 8 / 3,
	   "at most three quarters full, at least three eighths (%zu slots)", s.cap);
	ok(cli_seen_add(&s, "", 0) == 1 && cli_seen_has(&s, "", 0), "the empty string");
	cli_seen_free(&s);
}

/* "URL ok" or "error", from a copy of line. */
static const char *
line(const char *text)
{
	static char out[512];
	char *copy = strdup(text);
	const char *url;
	size_t len;
	int ok_;

	if (cli_report_line_parse(copy, strlen(copy), &url, &len, &ok_) < 0)
		snprintf(out, sizeof out, "error");
	else
		snprintf(out, sizeof out, "%.*s %s", (int)len, url,
		         ok_ ? "true" : "false");
	free(copy);
	return out;
}

static void
test_line(void)
{
	char *copy;
	const char *url;
	size_t len;
	int ok_;

	is_str(line("{\"url\":\"https://h/a\",\"ok\":true,\"status\":200,"
	            "\"error\":null,\"time_total_ms\":1.250}"),
	       "https://h/a true", "a line as evfetch writes it");
	is_str(line("{\"url\":\"https://h/a\",\"ok\":false}"), "https://h/a false",
	       "ok false");
	is_str(line(" { \"ok\" : true , \"url\" : \"u\" } \r"), "u true",
	       "blanks, another order, a CR");
	is_str(line("{\"x\":{\"url\":\"no\",\"a\":[1,{\"}\":\"]\"}]},\"url\":\"yes\","
	            "\"ok\":true,\"y\":[],\"z\":-1.5e3}"),
	       "yes true", "nested values are skipped, not searched");
	is_str(line("{\"url\":\"http:\\/\\/h\\/\\u0061\\\\b\\\"c\\td\",\"ok\":true}"),
	       "http://h/a\\b\"c\td true", "escapes are decoded");
	is_str(line("{\"url\":\"\\u00e9\\u20ac\\ud83d\\ude00\",\"ok\":true}"),
	       "\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80 true",
	       "\\u escapes become UTF-8, surrogate pairs too");
	is_str(line("{\"url\":\"a\\ud800b\",\"ok\":true}"), "a\xef\xbf\xbd" "b true",
	       "a lone surrogate becomes U+FFFD");
	is_str(line("{\"url\":\"caf\xc3\xa9\",\"ok\":true}"), "caf\xc3\xa9 true",
	       "UTF-8 as it is");
	is_str(line("{\"url\":\"a\",\"ok\":true,\"url\":\"b\"}"), "b true",
	       "the last of two urls counts");

	is_str(line("{\"url\":\"a\",\"ok\":true"), "error", "no closing brace");
	is_str(line("{\"url\":\"a\",\"ok\":tr"), "error", "cut in a value");
	is_str(line("{\"url\":\"a"), "error", "cut in a string");
	is_str(line("{\"url\":\"a\\"), "error", "cut in an escape");
	is_str(line("{\"url\":\"a\\u00\"}"), "error", "a short \\u escape");
	is_str(line("{\"url\":\"a\",\"ok\":\"true\"}"), "error", "ok as a string");
	is_str(line("{\"url\":\"a\",\"ok\":1}"), "error", "ok as a number");
	is_str(line("{\"url\":null,\"ok\":true}"), "error", "url null");
	is_str(line("{\"url\":\"a\",\"ok\":true,\"url\":null}"), "error",
	       "url null after a string");
	is_str(line("{\"ok\":true}"), "error", "no url");
	is_str(line("{\"url\":\"a\"}"), "error", "no ok");
	is_str(line("{\"url\":\"a\",\"ok\":true} x"), "error", "text after the object");
	is_str(line("{\"url\":\"a\",\"ok\":true}{}"), "error", "two objects");
	is_str(line("{\"url\":\"a\tb\",\"ok\":true}"), "error",
	       "a raw control character in a string");
	is_str(line("{\"url\":\"a\" \"ok\":true}"), "error", "no comma");
	is_str(line("{\"url\":\"a\",\"ok\":true,}"), "error", "a trailing comma");
	is_str(line("[\"url\",\"a\"]"), "error", "an array");
	is_str(line("{}"), "error", "an empty object");
	is_str(line(""), "error", "nothing");
	is_str(line("{\"a\":[1,2"), "error", "an unclosed array");

	/* Not NUL-terminated: nothing past len may be read. */
	copy = strdup("{\"url\":\"a\",\"ok\":true}XYZ");
	ok(cli_report_line_parse(copy, 21, &url, &len, &ok_) == 0 && len == 1 &&
	   url[0] == 'a' && ok_ == 1, "a line is taken by its length");
	ok(cli_report_line_parse(copy, 20, &url, &len, &ok_) < 0,
	   "one byte short is an error");
	free(copy);
}

static char dir[64];

static char *
path_in(const char *name)
{
	static char p[128];

	snprintf(p, sizeof p, "%s/%s", dir, name);
	return p;
}

static void
write_file(const char *name, const char *data)
{
	FILE *f = fopen(path_in(name), "w");

	fputs(data, f);
	fclose(f);
}

static char *
read_file(const char *name)
{
	static char buf[4096];
	FILE *f = fopen(path_in(name), "r");
	size_t n = f != NULL ? fread(buf, 1, sizeof buf - 1, f) : 0;

	if (f != NULL)
		fclose(f);
	buf[n] = '\0';
	return buf;
}

static const char good[] =
	"{\"url\":\"https://h/1\",\"ok\":true}\n"
	"{\"url\":\"https://h/2\",\"ok\":false}\n"
	"\n"
	"not json\n"
	"{\"url\":\"https://h/3\",\"ok\":true}\n";

static void
test_open(void)
{
	struct cli_resume r, r2;
	const char *what = "";
	char tag[sizeof r.tag], *p;
	struct stat st;
	FILE *f;
	int rc, i;

	rc = cli_resume_open(&r, path_in("new.jsonl"), &what);
	ok(rc == 0 && r.lines == 0 && r.seen.count == 0 && r.cut == 0,
	   "a missing report: an empty start (rc %d, %s)", rc, what);
	ok(stat(path_in("new.jsonl"), &st) == 0 && st.st_size == 0,
	   "a missing report is created, empty");
	ok(strlen(r.tag) == 17 && r.tag[0] == 'r', "the tag: r and 16 hex digits (%s)",
	   r.tag);
	strcpy(tag, r.tag);
	rc = cli_resume_open(&r2, path_in("./new.jsonl"), &what);
	is_int(rc, CLI_RESUME_LOCKED, "a second open of a report in use: locked");
	cli_resume_close(&r2);
	cli_resume_close(&r);
	rc = cli_resume_open(&r, path_in("./new.jsonl"), &what);
	is_int(rc, 0, "once closed, the report can be opened again");
	is_str(r.tag, tag, "the same tag for another spelling of the path");
	cli_resume_close(&r);

	write_file("good.jsonl", good);
	rc = cli_resume_open(&r, path_in("good.jsonl"), &what);
	ok(rc == 0 && r.lines == 4 && r.unreadable == 1 && r.seen.count == 2 &&
	   r.cut == 0 && !r.newline_added,
	   "whole lines: 4 lines, 1 unreadable, 2 done (%llu, %llu, %zu)",
	   (unsigned long long)r.lines, (unsigned long long)r.unreadable,
	   r.seen.count);
	ok(cli_seen_has(&r.seen, "https://h/1", 11) &&
	   cli_seen_has(&r.seen, "https://h/3", 11) &&
	   !cli_seen_has(&r.seen, "https://h/2", 11), "the ok URLs are done");
	cli_resume_close(&r);
	is_str(read_file("good.jsonl"), good, "whole lines: the file is untouched");

	write_file("cut.jsonl", "{\"url\":\"https://h/1\",\"ok\":true}\n"
	           "{\"url\":\"https://h/2\",\"ok\":tr");
	rc = cli_resume_open(&r, path_in("cut.jsonl"), &what);
	ok(rc == 0 && r.lines == 1 && r.seen.count == 1 && r.cut == 28,
	   "a line cut in half: %llu bytes cut", (unsigned long long)r.cut);
	ok(!cli_seen_has(&r.seen, "https://h/2", 11), "its URL is not done");
	cli_resume_close(&r);
	is_str(read_file("cut.jsonl"), "{\"url\":\"https://h/1\",\"ok\":true}\n",
	       "the file ends at the last newline");

	write_file("nonl.jsonl", "{\"url\":\"https://h/1\",\"ok\":false}\n"
	           "{\"url\":\"https://h/2\",\"ok\":true}");
	rc = cli_resume_open(&r, path_in("nonl.jsonl"), &what);
	ok(rc == 0 && r.lines == 2 && r.cut == 0 && r.newline_added &&
	   cli_seen_has(&r.seen, "https://h/2", 11),
	   "a whole last line without its newline counts");
	cli_resume_close(&r);
	is_str(read_file("nonl.jsonl"), "{\"url\":\"https://h/1\",\"ok\":false}\n"
	       "{\"url\":\"https://h/2\",\"ok\":true}\n", "and gets its newline");

	/* A line longer than the buffer may grow to is skipped, then one cut. */
	f = fopen(path_in("long.jsonl"), "w");
	fputs("{\"url\":\"https://h/1\",\"ok\":true}\n{\"url\":\"", f);
	p = malloc(1 << 20);
	memset(p, 'a', 1 << 20);
	for (i = 0; i < CLI_RESUME_LINE_MAX / (1 << 20) + 1; i++)
		fwrite(p, 1, 1 << 20, f);
	fputs("\",\"ok\":true}\n{\"url\":\"https://h/2\",\"ok\":true}\n{\"url\":\"", f);
	for (i = 0; i < CLI_RESUME_LINE_MAX / (1 << 20) + 1; i++)
		fwrite(p, 1, 1 << 20, f);
	free(p);
	fclose(f);
	rc = cli_resume_open(&r, path_in("long.jsonl"), &what);
	ok(rc == 0 && r.lines == 3 && r.unreadable == 1 && r.seen.count == 2 &&
	   r.cut == 8 + (uint64_t)(CLI_RESUME_LINE_MAX + (1 << 20)),
	   "an overlong line is skipped, an overlong last one cut (%llu lines, "
	   "%llu unreadable, %llu bytes cut)", (unsigned long long)r.lines,
	   (unsigned long long)r.unreadable, (unsigned long long)r.cut);
	ok(cli_seen_has(&r.seen, "https://h/2", 11), "the line after it is read");
	cli_resume_close(&r);
	ok(stat(path_in("long.jsonl"), &st) == 0 &&
	   st.st_size == (off_t)(32 + 8 + CLI_RESUME_LINE_MAX + (1 << 20) + 13 + 32),
	   "the file ends at the last newline (%lld bytes)", (long long)st.st_size);

	mkdir(path_in("sub"), 0700);
	rc = cli_resume_open(&r, path_in("sub"), &what);
	ok(rc == -1 && strcmp(what, "opening") == 0,
	   "a directory: an error opening it (%s, %s)", what, strerror(errno));
	cli_resume_close(&r);
}

int
main(void)
{
	char cmd[128];

	test_siphash();
	test_seen();
	test_line();
	snprintf(dir, sizeof dir, "%s/test_resume.XXXXXX",
	         getenv("TMPDIR") != NULL ? getenv("TMPDIR") : "/tmp");
	if (mkdtemp(dir) == NULL) {
		perror("mkdtemp");
		return 1;
	}
	test_open();
	snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
	if (system(cmd) != 0)
		diag("could not remove %s", dir);
	return done_testing();
}
