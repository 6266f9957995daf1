/*
 * json.c - the little JSON the report needs: a byte buffer and writers
 * for strings, booleans, integers and milliseconds.
 *
 * Strings come from URLs and error texts, that is from anyone, so the
 * writer always produces valid JSON: control characters are escaped and
 * bytes that are not well-formed UTF-8 become U+FFFD.  Numbers are printed
 * with integer arithmetic so that no locale can turn the decimal point
 * into a comma.
 *
 * A leaf module: no other part of the tool is used (see cli.h).
 */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli.h"

void
cli_buf_init(struct cli_buf *b)
{
	memset(b, 0, sizeof *b);
}

void
cli_buf_free(struct cli_buf *b)
{
	free(b->data);
	cli_buf_init(b);
}

static int
buf_reserve(struct cli_buf *b, size_t n)
{
	size_t cap;
	char *p;

	if (b->oom)
		return -1;
	if (n <= b->cap - b->len)
		return 0;
	if (n > SIZE_MAX / 2 - b->len) {
		b->oom = 1;
		return -1;
	}
	cap = b->cap ? b->cap : 256;
	while (cap - b->len < n)
		cap *= 2;
	p = realloc(b->data, cap);
	if (p == NULL) {
		b->oom = 1;
		return -1;
	}
	b->data = p;
	b->cap = cap;
	return 0;
}

void
cli_buf_put(struct cli_buf *b, const void *p, size_t n)
{
	if (n == 0 || buf_reserve(b, n) < 0)
		return;
	memcpy(b->data + b->len, p, n);
	b->len += n;
}

void
cli_buf_puts(struct cli_buf *b, const char *s)
{
	cli_buf_put(b, s, strlen(s));
}

static void
put_u64(struct cli_buf *b, uint64_t v)
{
	char tmp[24];
	size_t i = sizeof tmp;

	do {
		tmp[--i] = (char)('0' + v % 10);
		v /= 10;
	} while (v != 0);
	cli_buf_put(b, tmp + i, sizeof tmp - i);
}

static void
put_escape(struct cli_buf *b, unsigned c)
{
	static const char hex[] = "0123456789abcdef";
	char esc[6] = { '\\', 'u', '0', '0', 0, 0 };

	switch (c) {
	case '"': cli_buf_put(b, "\\\"", 2); return;
	case '\\': cli_buf_put(b, "\\\\", 2); return;
	case '\b': cli_buf_put(b, "\\b", 2); return;
	case '\f': cli_buf_put(b, "\\f", 2); return;
	case '\n': cli_buf_put(b, "\\n", 2); return;
	case '\r': cli_buf_put(b, "\\r", 2); return;
	case '\t': cli_buf_put(b, "\\t", 2); return;
	}
	esc[4] = hex[(c >> 4) & 0xf];
	esc[5] = hex[c & 0xf];
	cli_buf_put(b, esc, sizeof esc);
}

void
cli_json_string(struct cli_buf *b, const char *s, size_t len)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t i = 0, run = 0;

	if (s == NULL) {
		cli_buf_put(b, "null", 4);
		return;
	}
	cli_buf_put(b, "\"", 1);
	/* Copy runs of plain bytes at once; stop only for what needs work. */
	while (i < len) {
		unsigned char c = p[i];
		size_t n = 1;

		if (c >= 0x20 && c != '"' && c != '\\' && c != 0x7f &&
		    (c < 0x80 || (n = cli_utf8_len(p + i, len - i)) != 0)) {
			run += n;
			i += n;
			continue;
		}
		cli_buf_put(b, p + i - run, run);
		run = 0;
		if (c >= 0x80)
			cli_buf_put(b, "\\ufffd", 6);
		else
			put_escape(b, c);
		i++;
	}
	cli_buf_put(b, p + i - run, run);
	cli_buf_put(b, "\"", 1);
}

void
cli_json_cstring(struct cli_buf *b, const char *s)
{
	cli_json_string(b, s, s != NULL ? strlen(s) : 0);
}

void
cli_json_bool(struct cli_buf *b, int v)
{
	if (v)
		cli_buf_put(b, "true", 4);
	else
		cli_buf_put(b, "false", 5);
}

void
cli_json_u64(struct cli_buf *b, uint64_t v)
{
	put_u64(b, v);
}

void
cli_json_int_or_null(struct cli_buf *b, int v)
{
	if (v == 0) {
		cli_buf_put(b, "null", 4);
		return;
	}
	if (v < 0) {
		cli_buf_put(b, "-", 1);
		put_u64(b, (uint64_t)-(int64_t)v);
	} else {
		put_u64(b, (uint64_t)v);
	}
}

void
cli_json_ms(struct cli_buf *b, uint64_t us)
{
	char frac[4];
	unsigned rem = (unsigned)(us % 1000);

	put_u64(b, us / 1000);
	frac[0] = '.';
	frac[1] = (char)('0' + rem / 100);
	frac[2] = (char)('0' + rem / 10 % 10);
	frac[3] = (char)('0' + rem % 10);
	cli_buf_put(b, frac, sizeof frac);
}

void
cli_json_i64(struct cli_buf *b, int64_t v)
{
	if (v < 0) {
		cli_buf_put(b, "-", 1);
		put_u64(b, (uint64_t)0 - (uint64_t)v);
	} else {
		put_u64(b, (uint64_t)v);
	}
}

/* n as exactly width digits (n < 10^width). */
static void
put_digits(struct cli_buf *b, unsigned n, unsigned width)
{
	char tmp[8];
	unsigned i = width;

	while (i > 0) {
		tmp[--i] = (char)('0' + n % 10);
		n /= 10;
	}
	cli_buf_put(b, tmp, width);
}

void
cli_json_time(struct cli_buf *b, int64_t ms, int frac)
{
	int64_t secs = ms >= 0 ? ms / 1000 : -((-ms + 999) / 1000);
	time_t t = (time_t)secs;
	struct tm tm;

	if ((int64_t)t != secs || gmtime_r(&t, &tm) == NULL ||
	    tm.tm_year < -1900 || tm.tm_year > 9999 - 1900) {
		cli_buf_put(b, "null", 4);
		return;
	}
	cli_buf_put(b, "\"", 1);
	put_digits(b, (unsigned)(tm.tm_year + 1900), 4);
	cli_buf_put(b, "-", 1);
	put_digits(b, (unsigned)tm.tm_mon + 1, 2);
	cli_buf_put(b, "-", 1);
	put_digits(b, (unsigned)tm.tm_mday, 2);
	cli_buf_put(b, "T", 1);
	put_digits(b, (unsigned)tm.tm_hour, 2);
	cli_buf_put(b, ":", 1);
	put_digits(b, (unsigned)tm.tm_min, 2);
	cli_buf_put(b, ":", 1);
	/* a leap second's :60 never comes out of gmtime */
	put_digits(b, (unsigned)tm.tm_sec, 2);
	if (frac) {
		cli_buf_put(b, ".", 1);
		put_digits(b, (unsigned)(ms - secs * 1000), 3);
	}
	cli_buf_put(b, "Z\"", 2);
}
