/*
 * tap.h - a tiny Test Anything Protocol producer for the unit tests.
 *
 * Header-only so that each test is one self-contained program: automake's
 * tap-driver reads the "ok N - name" lines and the final "1..N" plan.
 *
 *	ok(cond, "name %d", i);
 *	is_int(got, want, "name");
 *	is_uint(got, want, "name");      (uint64_t)
 *	is_str(got, want, "name");       (NULL equals only NULL)
 *	is_mem(got, gotlen, want, wantlen, "name");
 *	diag("note %s", x);
 *	return done_testing();
 *
 * Every check returns 1 when it passed, so a test can stop early.
 */
#ifndef EVFETCH_TAP_H
#define EVFETCH_TAP_H

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#define TAP_UNUSED __attribute__((unused))
#define TAP_PRINTF(f, a) __attribute__((format(printf, f, a)))

static unsigned tap_count_;
static unsigned tap_failed_;

static TAP_UNUSED TAP_PRINTF(4, 0) int
tap_vresult_(int pass, const char *file, int line, const char *fmt,
             va_list ap)
{
	tap_count_++;
	if (!pass)
		tap_failed_++;
	printf("%sok %u - ", pass ? "" : "not ", tap_count_);
	vprintf(fmt, ap);
	printf("\n");
	if (!pass)
		printf("#   Failed test at %s line %d.\n", file, line);
	fflush(stdout);
	return pass;
}

static TAP_UNUSED TAP_PRINTF(4, 5) int
tap_ok_(int pass, const char *file, int line, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	pass = tap_vresult_(pass, file, line, fmt, ap);
	va_end(ap);
	return pass;
}

static TAP_UNUSED TAP_PRINTF(1, 2) void
diag(const char *fmt, ...)
{
	va_list ap;

	printf("# ");
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
}

/* Show a string with its control and non-ASCII bytes visible. */
static TAP_UNUSED void
tap_show_(const char *label, const void *p, size_t len)
{
	const unsigned char *s = p;
	size_t i;

	printf("#   %8s: ", label);
	if (p == NULL) {
		printf("NULL\n");
		return;
	}
	putchar('"');
	for (i = 0; i < len; i++) {
		if (s[i] >= 0x20 && s[i] < 0x7f && s[i] != '\\')
			putchar(s[i]);
		else
			printf("\\x%02x", s[i]);
	}
	printf("\"\n");
}

static TAP_UNUSED TAP_PRINTF(5, 6) int
tap_is_int_(long long got, long long want, const char *file, int line,
            const char *fmt, ...)
{
	va_list ap;
	int pass;

	va_start(ap, fmt);
	pass = tap_vresult_(got == want, file, line, fmt, ap);
	va_end(ap);
	if (!pass)
		printf("#          got: %lld\n#     expected: %lld\n", got, want);
	return pass;
}

static TAP_UNUSED TAP_PRINTF(5, 6) int
tap_is_uint_(uint64_t got, uint64_t want, const char *file, int line,
             const char *fmt, ...)
{
	va_list ap;
	int pass;

	va_start(ap, fmt);
	pass = tap_vresult_(got == want, file, line, fmt, ap);
	va_end(ap);
	if (!pass)
		printf("#          got: %llu\n#     expected: %llu\n",
		       (unsigned long long)got, (unsigned long long)want);
	return pass;
}

static TAP_UNUSED TAP_PRINTF(7, 8) int
tap_is_mem_(const void *got, size_t glen, const void *want, size_t wlen,
            const char *file, int line, const char *fmt, ...)
{
	va_list ap;
	int pass;

	if (got == NULL || want == NULL)
		pass = got == want;
	else
		pass = glen == wlen && memcmp(got, want, glen) == 0;
	va_start(ap, fmt);
	pass = tap_vresult_(pass, file, line, fmt, ap);
	va_end(ap);
	if (!pass) {
		tap_show_("got", got, glen);
		tap_show_("expected", want, wlen);
	}
	return pass;
}

static TAP_UNUSED int
tap_done_(void)
{
	printf("1..%u\n", tap_count_);
	if (tap_failed_ != 0)
		printf("# failed %u of %u tests\n", tap_failed_, tap_count_);
	fflush(stdout);
	return tap_failed_ == 0 ? 0 : 1;
}

#define ok(cond, ...) tap_ok_(!!(cond), __FILE__, __LINE__, __VA_ARGS__)
#define is_int(got, want, ...) \
	tap_is_int_((long long)(got), (long long)(want), __FILE__, __LINE__, \
	            __VA_ARGS__)
#define is_uint(got, want, ...) \
	tap_is_uint_((uint64_t)(got), (uint64_t)(want), __FILE__, __LINE__, \
	             __VA_ARGS__)
#define is_mem(got, glen, want, wlen, ...) \
	tap_is_mem_((got), (glen), (want), (wlen), __FILE__, __LINE__, \
	            __VA_ARGS__)
#define is_str(got, want, ...) \
	tap_is_str_((got), (want), __FILE__, __LINE__, __VA_ARGS__)
#define done_testing() tap_done_()

static TAP_UNUSED TAP_PRINTF(5, 6) int
tap_is_str_(const char *got, const char *want, const char *file, int line,
            const char *fmt, ...)
{
	va_list ap;
	int pass;

	if (got == NULL || want == NULL)
		pass = got == want;
	else
		pass = strcmp(got, want) == 0;
	va_start(ap, fmt);
	pass = tap_vresult_(pass, file, line, fmt, ap);
	va_end(ap);
	if (!pass) {
		tap_show_("got", got, got ? strlen(got) : 0);
		tap_show_("expected", want, want ? strlen(want) : 0);
	}
	return pass;
}

#endif /* EVFETCH_TAP_H */
