/*
 * test_json.c - JSON writers of the report (src/cli/json.c).
 *
 * The report must stay valid JSON whatever bytes a URL or an error text
 * carries, so most cases feed hostile strings.
 */
#include <stdint.h>
#include <string.h>
#include <time.h>

#include "cli.h"
#include "tap.h"

/* The JSON for s[0..len), NUL-terminated, in a static buffer. */
static const char *
str_json(const char *s, size_t len)
{
	static char out[1024];
	struct cli_buf b;

	cli_buf_init(&b);
	cli_json_string(&b, s, len);
	if (b.oom || b.len >= sizeof out) {
		cli_buf_free(&b);
		return "(failed)";
	}
	memcpy(out, b.data ? b.data : "", b.len);
	out[b.len] = '\0';
	cli_buf_free(&b);
	return out;
}

#define JS(lit) str_json(lit, sizeof(lit) - 1)

static void
test_strings(void)
{
	is_str(JS(""), "\"\"", "empty string");
	is_str(JS("abc"), "\"abc\"", "plain");
	is_str(JS("a\"b\\c/d"), "\"a\\\"b\\\\c/d\"", "quote and backslash");
	is_str(JS("\b\f\n\r\t"), "\"\\b\\f\\n\\r\\t\"", "short escapes");
	is_str(JS("\x01\x1f"), "\"\\u0001\\u001f\"", "other controls");
	is_str(JS("\x7f"), "\"\\u007f\"", "DEL");
	is_str(JS("a\0b"), "\"a\\u0000b\"", "NUL inside the length");
	is_str(JS("caf\xc3\xa9"), "\"caf\xc3\xa9\"", "UTF-8 kept");
	is_str(JS("\xe2\x82\xac\xf0\x9f\x98\x80"),
	       "\"\xe2\x82\xac\xf0\x9f\x98\x80\"", "3- and 4-byte kept");
	is_str(JS("\xff"), "\"\\ufffd\"", "invalid byte");
	is_str(JS("a\x80z"), "\"a\\ufffdz\"", "lone continuation byte");
	is_str(JS("\xc0\xaf"), "\"\\ufffd\\ufffd\"", "overlong");
	is_str(JS("\xed\xa0\x80"), "\"\\ufffd\\ufffd\\ufffd\"", "surrogate");
	is_str(JS("\xf4\x90\x80\x80"), "\"\\ufffd\\ufffd\\ufffd\\ufffd\"",
	       "past U+10FFFF");
	is_str(JS("x\xe2\x82"), "\"x\\ufffd\\ufffd\"", "cut-off sequence");
	is_str(JS("\xc3\xa9\xff\xc3\xa9"), "\"\xc3\xa9\\ufffd\xc3\xa9\"",
	       "good around bad");
	is_str(str_json("abc", 2), "\"ab\"", "length is respected");
	is_str(str_json(NULL, 0), "null", "NULL is null");
}

/* The JSON of s[0..len) byte by byte, as the writer is specified. */
static void
reference(struct cli_buf *b, const unsigned char *p, size_t len)
{
	static const char hex[] = "0123456789abcdef";
	size_t i = 0, n;
	char esc[7];

	cli_buf_put(b, "\"", 1);
	while (i < len) {
		unsigned char c = p[i];

		if (c == '"' || c == '\\') {
			esc[0] = '\\';
			esc[1] = (char)c;
			cli_buf_put(b, esc, 2);
		} else if (c < 0x20 || c == 0x7f) {
			const char *short_esc = c == '\b' ? "\\b" : c == '\f' ? "\\f" :
			                        c == '\n' ? "\\n" : c == '\r' ? "\\r" :
			                        c == '\t' ? "\\t" : NULL;
			if (short_esc != NULL) {
				cli_buf_put(b, short_esc, 2);
			} else {
				snprintf(esc, sizeof esc, "\\u00%c%c", hex[c >> 4], hex[c & 15]);
				cli_buf_put(b, esc, 6);
			}
		} else if (c >= 0x80 && (n = cli_utf8_len(p + i, len - i)) > 1) {
			cli_buf_put(b, p + i, n);
			i += n;
			continue;
		} else if (c >= 0x80) {
			cli_buf_put(b, "\\ufffd", 6);
		} else {
			cli_buf_put(b, &c, 1);
		}
		i++;
	}
	cli_buf_put(b, "\"", 1);
}

/* Long strings of every kind of byte at every offset: the fast path that
 * takes eight plain bytes at a time must give what one at a time gives. */
static void
test_strings_random(void)
{
	static const unsigned char pieces[][4] = {
		"a", "Z", "/", "~", " ", "\"", "\\", "\x7f", "\x01", "\x1f", "\n",
		"\xc3\xa9", "\xe2\x82\xac", "\xf0\x9f\x98\x80", "\xff", "\x80",
		"\xed\xa0\x80",
	};
	unsigned seed = 42, round, bad = 0;
	unsigned char str[200];
	struct cli_buf got, want;

	for (round = 0; round < 5000; round++) {
		size_t len = 0, target;

		seed = seed * 1103515245u + 12345u;
		target = (seed >> 16) % 150;
		while (len < target) {
			const unsigned char *piece;
			size_t plen;

			seed = seed * 1103515245u + 12345u;
			/* mostly plain letters, as in real URLs */
			piece = (seed >> 16) % 4 ? pieces[0] :
			        pieces[(seed >> 18) % (sizeof pieces / sizeof pieces[0])];
			plen = strlen((const char *)piece);
			memcpy(str + len, piece, plen);
			len += plen;
		}
		cli_buf_init(&got);
		cli_buf_init(&want);
		cli_json_string(&got, (const char *)str, len);
		reference(&want, str, len);
		if (got.len != want.len || memcmp(got.data, want.data, got.len) != 0) {
			if (bad++ == 0)
				diag("round %u: got %.*s, want %.*s", round, (int)got.len,
				     got.data, (int)want.len, want.data);
		}
		cli_buf_free(&got);
		cli_buf_free(&want);
	}
	ok(bad == 0, "5000 random strings: the same JSON as byte by byte");
}

static const char *
emit(void (*fn)(struct cli_buf *, uint64_t), uint64_t v)
{
	static char out[64];
	struct cli_buf b;

	cli_buf_init(&b);
	fn(&b, v);
	snprintf(out, sizeof out, "%.*s", (int)b.len, b.data ? b.data : "");
	cli_buf_free(&b);
	return out;
}

static void
int_or_null(struct cli_buf *b, uint64_t v)
{
	cli_json_int_or_null(b, (int)(int64_t)v);
}

static void
boolean(struct cli_buf *b, uint64_t v)
{
	cli_json_bool(b, (int)v);
}

static void
test_numbers(void)
{
	is_str(emit(cli_json_u64, 0), "0", "u64 0");
	is_str(emit(cli_json_u64, 1234567), "1234567", "u64");
	is_str(emit(cli_json_u64, UINT64_MAX), "18446744073709551615",
	       "u64 max");
	is_str(emit(cli_json_ms, 0), "0.000", "ms 0");
	is_str(emit(cli_json_ms, 1), "0.001", "ms 1 us");
	is_str(emit(cli_json_ms, 12), "0.012", "ms 12 us");
	is_str(emit(cli_json_ms, 1000), "1.000", "ms 1000 us");
	is_str(emit(cli_json_ms, 1234567), "1234.567", "ms");
	is_str(emit(int_or_null, 0), "null", "status 0 is null");
	is_str(emit(int_or_null, 200), "200", "status 200");
	is_str(emit(int_or_null, (uint64_t)(int64_t)-3), "-3", "negative");
	is_str(emit(boolean, 1), "true", "true");
	is_str(emit(boolean, 0), "false", "false");
}

/* cli_json_time of ms, NUL-terminated, in a static buffer. */
static const char *
time_json(int64_t ms, int frac)
{
	static char out[64];
	struct cli_buf b;

	cli_buf_init(&b);
	cli_json_time(&b, ms, frac);
	snprintf(out, sizeof out, "%.*s", (int)b.len, b.data ? b.data : "");
	cli_buf_free(&b);
	return out;
}

static void
i64(struct cli_buf *b, uint64_t v)
{
	cli_json_i64(b, (int64_t)v);
}

/* The arithmetic against the C library, over four centuries and more. */
static void
test_times_against_gmtime(void)
{
	int64_t step = INT64_C(86400) * 1000 * 37 + 3723 * 1001 + 7, ms;
	unsigned bad = 0, n = 0;
	char want[64];

	for (ms = INT64_C(-2208988800) * 1000; ms < INT64_C(12000000000) * 1000;
	     ms += step, n++) {
		time_t t = (time_t)(ms / 1000 - (ms % 1000 < 0));
		struct tm tm;

		gmtime_r(&t, &tm);
		snprintf(want, sizeof want, "\"%04d-%02d-%02dT%02d:%02d:%02d.%03dZ\"",
		         tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
		         tm.tm_min, tm.tm_sec, (int)(ms - (int64_t)t * 1000));
		if (strcmp(time_json(ms, 1), want) != 0 && bad++ == 0)
			diag("%lld: got %s, want %s", (long long)ms, time_json(ms, 1), want);
	}
	ok(bad == 0, "cli_json_time agrees with gmtime_r at %u times from 1900 to 2350", n);
}

static void
test_times(void)
{
	is_str(emit(i64, 0), "0", "i64 0");
	is_str(emit(i64, (uint64_t)INT64_C(-42)), "-42", "i64 negative");
	is_str(emit(i64, (uint64_t)INT64_MIN), "-9223372036854775808", "i64 min");
	is_str(emit(i64, (uint64_t)INT64_MAX), "9223372036854775807", "i64 max");
	is_str(time_json(0, 1), "\"1970-01-01T00:00:00.000Z\"", "the epoch");
	is_str(time_json(0, 0), "\"1970-01-01T00:00:00Z\"", "the epoch, no fraction");
	/* date -u -d @1795774530 = 2026-11-27 10:15:30 */
	is_str(time_json(INT64_C(1795774530123), 1), "\"2026-11-27T10:15:30.123Z\"",
	       "milliseconds");
	is_str(time_json(INT64_C(1795774530999), 0), "\"2026-11-27T10:15:30Z\"",
	       "no fraction: cut, not rounded");
	is_str(time_json(INT64_C(951782400) * 1000, 0), "\"2000-02-29T00:00:00Z\"",
	       "a leap day");
	is_str(time_json(INT64_C(253402300799) * 1000, 0), "\"9999-12-31T23:59:59Z\"",
	       "the last second of 9999 (certificates use it)");
	is_str(time_json(INT64_C(253402300800) * 1000, 0), "null", "the year 10000 is null");
	is_str(time_json(-1, 1), "\"1969-12-31T23:59:59.999Z\"", "before the epoch");
	is_str(time_json(INT64_C(-62167219200) * 1000, 0), "\"0000-01-01T00:00:00Z\"",
	       "the first second of the year 0");
	is_str(time_json(INT64_C(-62167219201) * 1000, 0), "null", "the year -1 is null");
	test_times_against_gmtime();
}

static void
test_buffer(void)
{
	struct cli_buf b;
	size_t i;
	int good = 1;

	cli_buf_init(&b);
	for (i = 0; i < 100000; i++)
		cli_buf_put(&b, "0123456789", 10);
	is_uint(b.len, 1000000, "buffer grows");
	for (i = 0; i < b.len && good; i++)
		good = b.data[i] == (char)('0' + i % 10);
	ok(good && !b.oom, "contents intact");
	cli_buf_puts(&b, "");
	is_uint(b.len, 1000000, "empty put adds nothing");
	cli_buf_free(&b);
	ok(b.data == NULL && b.len == 0, "free resets");
}

int
main(void)
{
	test_strings();
	test_strings_random();
	test_numbers();
	test_times();
	test_buffer();
	return done_testing();
}
