/*
 * test_json.c - JSON writers of the report (src/cli/json.c).
 *
 * The report must stay valid JSON whatever bytes a URL or an error text
 * carries, so most cases feed hostile strings.
 */
#include <stdint.h>
#include <string.h>

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
	test_numbers();
	test_times();
	test_buffer();
	return done_testing();
}
