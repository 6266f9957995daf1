/*
 * fuzz_redirect.c - libFuzzer target for redirect resolution
 * (evf_url_resolve in src/lib/url.c) and the check that follows it.
 *
 * The input is "BASE\nLOCATION".  When BASE is a URL evf_url_parse
 * accepts, the Location is resolved against it.  Checked:
 *
 *   - a NULL result comes with a reason; a result is a C string;
 *   - a result holds no byte below 0x21, no DEL and no '#';
 *   - whenever evf_url_parse accepts the result, resolving it again
 *     against itself as base gives the same URL (it is absolute), and
 *     its path has no "." or ".." segment left.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(cond)                                                            \
	do {                                                                   \
		if (!(cond)) {                                                 \
			fprintf(stderr, "fuzz_redirect: check failed at line %d: %s\n", \
			        __LINE__, #cond);                              \
			abort();                                               \
		}                                                              \
	} while (0)

static int has_dot_segment(const char *path)
{
	const char *p = path;
	while (*p) {
		const char *seg = p + (*p == '/');
		size_t n = strcspn(seg, "/?");
		if ((n == 1 && seg[0] == '.') || (n == 2 && seg[0] == '.' && seg[1] == '.'))
			return 1;
		if (seg[n] != '/')
			return 0;
		p = seg + n;
	}
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *in = malloc(size + 1);
	if (!in)
		return 0;
	memcpy(in, data, size);
	in[size] = '\0';
	char *nl = strchr(in, '\n');
	if (!nl) {
		free(in);
		return 0;
	}
	*nl = '\0';
	const char *base = in, *loc = nl + 1;
	struct evf_url bu;
	const char *why = NULL;
	if (evf_url_parse(&bu, base, &why) != 0) {
		free(in);
		return 0;
	}
	evf_url_clear(&bu);

	char *out = evf_url_resolve(base, loc, &why);
	if (!out) {
		CHECK(why != NULL && *why);
		free(in);
		return 0;
	}
	for (const unsigned char *p = (const unsigned char *)out; *p; p++)
		CHECK(*p >= 0x21 && *p != 0x7f && *p != '#');
	struct evf_url u;
	if (evf_url_parse(&u, out, &why) == 0) {
		CHECK(!has_dot_segment(u.target));
		char *again = evf_url_resolve(out, out, &why);
		CHECK(again != NULL);
		CHECK(strcmp(again, out) == 0);
		free(again);
		evf_url_clear(&u);
	}
	free(out);
	free(in);
	return 0;
}
