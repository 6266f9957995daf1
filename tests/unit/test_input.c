/*
 * test_input.c - the URL input of the command line (src/cli/input.c): the
 * count of a regular file's URLs, made ahead of the reader for the
 * progress bar, must be the number of URLs the reader hands out, whatever
 * the file holds.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>

#include "cli.h"
#include "tap.h"

static char tmpl[] = "/tmp/evfetch-test-input.XXXXXX";

static void
never(void *arg)
{
	(void)arg;
}

/* Write data to the temp file; 0 or -1. */
static int
put_file(const char *path, const char *data, size_t len)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	ssize_t n;

	if (fd < 0)
		return -1;
	n = write(fd, data, len);
	close(fd);
	return n == (ssize_t)len ? 0 : -1;
}

/*
 * Count the file in the loop as evfetch does, then read it; checks that
 * the total came before any reading and equals what the reader gave out.
 * Returns the total, or -1.
 */
static long
count_and_read(const char *path, const char *name, char **args, size_t nargs)
{
	struct event_base *base = event_base_new();
	struct cli_input in;
	struct cli_line line;
	uint64_t total = 0, got = 0;
	enum cli_input_status st;
	int known_early, loops = 0;

	if (base == NULL || cli_input_open(&in, base, args, nargs, path, never,
	                                   NULL) < 0) {
		ok(0, "%s: opened", name);
		if (base != NULL)
			event_base_free(base);
		return -1;
	}
	ok(!cli_input_total(&in, &total), "%s: the total is not known before the loop runs", name);
	while (in.count_ev != NULL && loops++ < 100000)
		event_base_loop(base, EVLOOP_ONCE | EVLOOP_NONBLOCK);
	known_early = cli_input_total(&in, &total);
	while ((st = cli_input_next(&in, &line)) == CLI_INPUT_LINE ||
	       st == CLI_INPUT_BAD)
		got++;
	ok(known_early && st == CLI_INPUT_END && total == got,
	   "%s: counted %llu, read %llu", name, (unsigned long long)total,
	   (unsigned long long)got);
	cli_input_close(&in);
	event_base_free(base);
	return (long)got;
}

/* The file holds data[0..len) and should hold want URLs. */
static void
check(const char *path, const char *name, const char *data, size_t len,
      long want)
{
	if (put_file(path, data, len) < 0) {
		ok(0, "%s: file written", name);
		return;
	}
	is_int(count_and_read(path, name, NULL, 0), want, "%s: %ld URLs", name, want);
}

#define CHECK(path, name, lit, want) check(path, name, lit, sizeof(lit) - 1, want)

/* A line of n bytes of c, a newline after it when nl. */
static char *
long_line(char *p, char c, size_t n, int nl)
{
	memset(p, c, n);
	p += n;
	if (nl)
		*p++ = '\n';
	return p;
}

static void
test_overlong(const char *path)
{
	size_t max = CLI_LINE_MAX;
	char *buf = malloc(6 * max + 100), *p = buf;

	if (buf == NULL) {
		ok(0, "memory for overlong lines");
		return;
	}
	p = long_line(p, 'a', max - 1, 1);        /* the longest URL taken */
	p = long_line(p, 'b', max, 1);            /* too long: one failed URL */
	p = long_line(p, '#', max + 5, 1);        /* a comment, but too long */
	p = long_line(p, ' ', 2 * max, 1);        /* blank, but too long */
	memcpy(p, "x\n  \n# c\n", 9);
	p += 9;
	p = long_line(p, 'z', max + 3, 0);        /* the last, unterminated */
	check(path, "overlong lines", buf, (size_t)(p - buf), 6);
	free(buf);
}

/* Random lines of the characters that matter, the reader as the judge. */
static void
test_random(const char *path)
{
	static const char alphabet[] = "ab#  \t\r\n\n\n\xef\xbb\xbf";
	char *buf = malloc(200000);
	unsigned seed = 12345;
	int round;

	if (buf == NULL) {
		ok(0, "memory for random files");
		return;
	}
	for (round = 0; round < 20; round++) {
		size_t len = 1 + (size_t)(round * 9973) % 199000, i;
		char name[32];

		for (i = 0; i < len; i++) {
			seed = seed * 1103515245u + 12345u;
			buf[i] = alphabet[(seed >> 16) % (sizeof alphabet - 1)];
		}
		snprintf(name, sizeof name, "random file %d", round);
		if (put_file(path, buf, len) < 0) {
			ok(0, "%s: file written", name);
			continue;
		}
		count_and_read(path, name, NULL, 0);
	}
	free(buf);
}

int
main(void)
{
	int fd = mkstemp(tmpl);
	char *args[] = { "http://a/", "http://b/" };

	if (fd < 0) {
		ok(0, "temp file: %s", strerror(errno));
		return done_testing();
	}
	close(fd);
	CHECK(tmpl, "empty", "", 0);
	CHECK(tmpl, "one line", "http://x/\n", 1);
	CHECK(tmpl, "no final newline", "http://x/\nhttp://y/", 2);
	CHECK(tmpl, "comments and blank lines", "# c\n\n  \t\n  # c2\nhttp://x/\n\r\n", 1);
	CHECK(tmpl, "CRLF line ends", "http://x/\r\nhttp://y/\r\n\r\n", 2);
	CHECK(tmpl, "a byte order mark", "\xef\xbb\xbf# c\n\xef\xbb\xbfhttp://x/\n", 1);
	CHECK(tmpl, "a byte order mark before blanks", "\xef\xbb\xbf  \nhttp://x/\n", 1);
	check(tmpl, "a NUL byte", "a\0b\n\0\n", 6, 2);
	test_overlong(tmpl);
	test_random(tmpl);

	/* arguments come first and count too */
	if (put_file(tmpl, "http://x/\n", 10) == 0)
		is_int(count_and_read(tmpl, "arguments and a file", args, 2), 3,
		       "arguments and a file: 3 URLs");
	unlink(tmpl);
	return done_testing();
}
