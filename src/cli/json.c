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

int
cli_buf_reserve(struct cli_buf *b, size_t n)
{
	return buf_reserve(b, n);
}

void
cli_buf_grow_put(struct cli_buf *b, const void *p, size_t n)
{
	if (n == 0 || buf_reserve(b, n) < 0)
		return;
	memcpy(b->data + b->len, p, n);
	b->len += n;
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

/*
 * Whether the eight bytes at p are all plain printable ASCII, which goes
 * out as it is: none below 0x20, no '"', no '\\', no DEL, none from 0x80
 * (those are checked as UTF-8 one by one).  A word at a time, with the
 * usual tests for a zero byte and a byte below n (exact when no byte has
 * its high bit set, which is tested too).
 */
static inline __attribute__((always_inline)) int
plain8(const unsigned char *p)
{
	const uint64_t ones = 0x0101010101010101ull, high = 0x8080808080808080ull;
	uint64_t x, q, bs, del;

	memcpy(&x, p, 8);
	q = x ^ (ones * '"');
	bs = x ^ (ones * '\\');
	del = x ^ (ones * 0x7f);
	return ((x | ((x - ones * 0x20) & ~x) | ((q - ones) & ~q) |
	         ((bs - ones) & ~bs) | ((del - ones) & ~del)) & high) == 0;
}

/* The last n < 8 bytes the same way, one by one. */
static int
plain_tail(const unsigned char *p, size_t n)
{
	size_t k;

	for (k = 0; k < n; k++)
		if (p[k] < 0x20 || p[k] >= 0x7f || p[k] == '"' || p[k] == '\\')
			return 0;
	return 1;
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
	/* Most strings need no escaping: then one copy, between quotes. */
	while (len - i >= 8 && plain8(p + i))
		i += 8;
	if (len - i < 8 && plain_tail(p + i, len - i) &&
	    len + 1 < b->cap - b->len && !b->oom) {
		b->data[b->len] = '"';
		memcpy(b->data + b->len + 1, s, len);
		b->data[b->len + 1 + len] = '"';
		b->len += len + 2;
		return;
	}
	run = i;
	cli_buf_put(b, "\"", 1);
	/* Copy runs of plain bytes at once; stop only for what needs work. */
	while (i < len) {
		unsigned char c = p[i];
		size_t n = 1;

		if (len - i >= 8 && plain8(p + i)) {
			run += 8;
			i += 8;
			continue;
		}
		if (len - i < 8 && plain_tail(p + i, len - i)) {
			run += len - i;
			i = len;
			break;
		}
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
	char digit = (char)('0' + v);

	/* redirects, retries and their like */
	if (v < 10)
		cli_buf_put(b, &digit, 1);
	else
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
	/* a phase a kept-alive connection skipped */
	if (us == 0) {
		cli_buf_put(b, "0.000", 5);
		return;
	}
	/* backwards from the last digit, in one piece: a report line has
	 * seven of these */
	char tmp[32], *p = tmp + sizeof tmp;
	uint64_t ms = us / 1000;
	unsigned rem = (unsigned)(us % 1000);

	*--p = (char)('0' + rem % 10);
	*--p = (char)('0' + rem / 10 % 10);
	*--p = (char)('0' + rem / 100);
	*--p = '.';
	do {
		*--p = (char)('0' + ms % 10);
		ms /= 10;
	} while (ms != 0);
	cli_buf_put(b, p, (size_t)(tmp + sizeof tmp - p));
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

/* n as exactly width digits at p (n < 10^width); the end. */
static char *
put_fixed(char *p, unsigned n, unsigned width)
{
	unsigned i = width;

	while (i > 0) {
		p[--i] = (char)('0' + n % 10);
		n /= 10;
	}
	return p + width;
}

/*
 * The date of a day counted from 1970-01-01 (proleptic Gregorian), by
 * arithmetic: gmtime_r takes a lock and looks at the time zone for every
 * line of the report, and the answer in UTC needs neither.
 */
static void
civil_from_days(int64_t z, int64_t *y, unsigned *m, unsigned *d)
{
	int64_t era;
	unsigned doe, yoe, doy, mp;

	z += 719468;
	era = (z >= 0 ? z : z - 146096) / 146097;
	doe = (unsigned)(z - era * 146097);
	yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	mp = (5 * doy + 2) / 153;
	*d = doy - (153 * mp + 2) / 5 + 1;
	*m = mp < 10 ? mp + 3 : mp - 9;
	*y = (int64_t)yoe + era * 400 + (*m <= 2);
}

void
cli_json_time(struct cli_buf *b, int64_t ms, int frac)
{
	/* floor division, so that times before the epoch count back */
	int64_t secs = ms / 1000 - (ms % 1000 < 0);
	int64_t days = secs / 86400 - (secs % 86400 < 0);
	unsigned sod = (unsigned)(secs - days * 86400), m, d;
	char out[32], *p = out;
	int64_t y;

	civil_from_days(days, &y, &m, &d);
	if (y < 0 || y > 9999) {
		cli_buf_put(b, "null", 4);
		return;
	}
	*p++ = '"';
	p = put_fixed(p, (unsigned)y, 4);
	*p++ = '-';
	p = put_fixed(p, m, 2);
	*p++ = '-';
	p = put_fixed(p, d, 2);
	*p++ = 'T';
	p = put_fixed(p, sod / 3600, 2);
	*p++ = ':';
	p = put_fixed(p, sod / 60 % 60, 2);
	*p++ = ':';
	p = put_fixed(p, sod % 60, 2);
	if (frac) {
		*p++ = '.';
		p = put_fixed(p, (unsigned)(ms - secs * 1000), 3);
	}
	*p++ = 'Z';
	*p++ = '"';
	cli_buf_put(b, out, (size_t)(p - out));
}
