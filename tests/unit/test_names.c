/*
 * test_names.c - safe output file names (src/cli/names.c).
 *
 * Besides the worked examples, a seeded generator throws URLs full of
 * dots, slashes, escapes and high bytes at cli_safe_name and checks the
 * promises that keep -d inside its directory.
 */
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "tap.h"

static const char *
name_of(const char *url)
{
	static char out[CLI_NAME_MAX + 1];

	cli_safe_name(url, out);
	return out;
}

static void
test_examples(void)
{
	is_str(name_of("http://h/a/b.txt"), "b.txt", "last segment");
	is_str(name_of("https://h:8443/a/b.txt?x=1&y=/z#frag"), "b.txt",
	       "query and fragment dropped");
	is_str(name_of("http://h/a/b.txt#x/y"), "b.txt", "fragment with slash");
	is_str(name_of("http://h/"), "index.html", "root path");
	is_str(name_of("http://h"), "index.html", "no path");
	is_str(name_of("http://h?q=/etc/passwd"), "index.html",
	       "no path, query with slashes");
	is_str(name_of("http://h/dir/"), "index.html", "path ends with /");
	is_str(name_of("http://user@h/x"), "x", "user info");
	is_str(name_of("http://[::1]:80/v6.bin"), "v6.bin", "IPv6 host");
	is_str(name_of("http://h/caf%C3%A9.txt"), "caf\xc3\xa9.txt",
	       "UTF-8 escapes decoded");
	is_str(name_of("http://h/%41%42c"), "ABc", "escapes decoded");
	is_str(name_of("http://h/a%20b"), "a b", "space kept");
	is_str(name_of("http://h/%zz%4"), "%zz%4", "bad escapes kept literally");
	is_str(name_of("http://h/100%"), "100%", "trailing percent");
	is_str(name_of("relative/path/x.y"), "x.y", "no scheme");
	is_str(name_of("http://h/a/b?"), "b", "empty query");
	is_str(name_of(""), "index.html", "empty URL");
}

static void
test_escapes(void)
{
	is_str(name_of("http://h/.."), "_.", "dot-dot segment");
	is_str(name_of("http://h/."), "_", "dot segment");
	is_str(name_of("http://h/%2e%2e"), "_.", "encoded dot-dot");
	is_str(name_of("http://h/%2E%2e"), "_.", "encoded dot-dot, mixed case");
	is_str(name_of("http://h/x/%2e%2e%2f%2e%2e%2fetc%2fpasswd"),
	       "_._.._etc_passwd", "encoded slashes stay in the name");
	is_str(name_of("http://h/..%2f..%2fx"), "_._.._x", "mixed dot-dot");
	is_str(name_of("http://h/a%5cb"), "a_b", "encoded backslash");
	is_str(name_of("http://h/a\\b"), "a_b", "raw backslash");
	is_str(name_of("http://h/.hidden"), "_hidden", "leading dot");
	is_str(name_of("http://h/%2ehidden"), "_hidden", "encoded leading dot");
	is_str(name_of("http://h/a.b."), "a.b.", "inner and trailing dots kept");
	is_str(name_of("http://h/%00x"), "_x", "NUL");
	is_str(name_of("http://h/a%0d%0ab"), "a__b", "CR LF");
	is_str(name_of("http://h/%1b[31mred"), "_[31mred", "escape character");
	is_str(name_of("http://h/x%7f"), "x_", "DEL");
	is_str(name_of("http://h/%ff%fe"), "__", "bytes that are not UTF-8");
	is_str(name_of("http://h/%c0%ae"), "__", "overlong dot");
	is_str(name_of("http://h/%ed%a0%80"), "___", "surrogate");
	is_str(name_of("http://h/%c2%85x"), "_x", "C1 control");
	is_str(name_of("http://h/abc%e2%80%aetxt.exe"), "abc_txt.exe",
	       "bidi override");
	is_str(name_of("http://h/%e2%82"), "__", "cut-off sequence");
	is_str(name_of("http://h/%f0%9f%98%80"), "\xf0\x9f\x98\x80",
	       "4-byte sequence kept");
}

static void
test_lengths(void)
{
	char url[4096], want[CLI_NAME_MAX + 1], out[CLI_NAME_MAX + 1];
	size_t n;

	memset(want, 'a', CLI_NAME_MAX);
	want[CLI_NAME_MAX] = '\0';
	snprintf(url, sizeof url, "http://h/%s%s", want, "bbbbbbbbbb");
	n = cli_safe_name(url, out);
	is_int(n, CLI_NAME_MAX, "long name cut to %d bytes", CLI_NAME_MAX);
	is_str(out, want, "cut keeps the start");

	/* 199 ASCII bytes and a 2-byte character: it must not be split. */
	memset(want, 'a', CLI_NAME_MAX - 1);
	want[CLI_NAME_MAX - 1] = '\0';
	snprintf(url, sizeof url, "http://h/%s%%c3%%a9", want);
	n = cli_safe_name(url, out);
	is_int(n, CLI_NAME_MAX - 1, "UTF-8 sequence not split");
	is_str(out, want, "cut before the sequence");

	/* Many 3-byte sequences that each shrink to '_' still fill the name. */
	strcpy(url, "http://h/");
	for (n = 0; n < 300; n++)
		strcat(url, "%e2%80%ae");
	n = cli_safe_name(url, out);
	is_int(n, CLI_NAME_MAX, "shrinking sequences fill the name");
}

static void
test_suffix(void)
{
	char dst[16];

	ok(cli_suffixed_name(dst, sizeof dst, "a.txt", 0) == 0 &&
	   strcmp(dst, "a.txt") == 0, "suffix 0 is the name itself");
	ok(cli_suffixed_name(dst, sizeof dst, "a.txt", 12) == 0 &&
	   strcmp(dst, "a.txt.12") == 0, "suffix .12");
	is_int(cli_suffixed_name(dst, sizeof dst, "0123456789abc", 123), -1,
	       "suffix that does not fit");
}

/* The promises that hold for any input at all. */
static int
check_safe(const char *url)
{
	char out[CLI_NAME_MAX + 1];
	size_t n = cli_safe_name(url, out), i;

	if (n == 0 || n > CLI_NAME_MAX || strlen(out) != n || out[0] == '.' ||
	    strcmp(out, "..") == 0)
		return 0;
	for (i = 0; i < n; i++) {
		unsigned char c = (unsigned char)out[i];
		size_t len;

		if (c < 0x20 || c == 0x7f || c == '/' || c == '\\')
			return 0;
		len = cli_utf8_len((const unsigned char *)out + i, n - i);
		if (len == 0)
			return 0;
		i += len - 1;
	}
	return 1;
}

static void
test_random(void)
{
	static const char *const parts[] = {
		"/", ".", "..", "%2e", "%2E", "%2f", "%2F", "%5c", "\\", "%00",
		"%0a", "%c3", "%a9", "%e2%80%ae", "%ff", "a", "bc", "?", "#",
		"%", "%2", "%c2%85", "\xc3\xa9", "\xff", " ", "%20", "x.txt",
	};
	unsigned seed = 12345, round, bad = 0;
	char url[4096];

	for (round = 0; round < 20000; round++) {
		size_t len = (size_t)snprintf(url, sizeof url, "http://h/");
		unsigned k, nparts;

		seed = seed * 1103515245u + 12345u;
		nparts = (seed >> 16) % 120;
		for (k = 0; k < nparts; k++) {
			const char *p;

			seed = seed * 1103515245u + 12345u;
			p = parts[(seed >> 16) % (sizeof parts / sizeof parts[0])];
			if (len + strlen(p) + 1 > sizeof url)
				break;
			strcpy(url + len, p);
			len += strlen(p);
		}
		if (!check_safe(url) && bad++ < 5)
			diag("unsafe name for %s", url);
	}
	is_int(bad, 0, "20000 generated URLs give safe names");
}

int
main(void)
{
	test_examples();
	test_escapes();
	test_lengths();
	test_suffix();
	test_random();
	return done_testing();
}
