/*
 * fuzz_names.c - libFuzzer target for the output file names of -d
 * (src/cli/names.c, cli_safe_name and cli_suffixed_name).
 *
 * The input is a URL as a C string (it ends at its first NUL): whoever
 * wrote the URL list chooses it.  The name made from it must be safe to
 * create inside the output directory and to print on a terminal:
 *
 *   - non-empty, at most CLI_NAME_MAX bytes, the returned length equal to
 *     its strlen (no NUL before its end), written within the caller's
 *     CLI_NAME_MAX + 1 bytes (the buffer is exactly that size on the heap);
 *   - no '/' and no '\\', not "." or "..", not starting with '.';
 *   - no control character: no byte below 0x20, no DEL, no C1 control
 *     (U+0080-U+009F) and no bidirectional or direction mark;
 *   - well-formed UTF-8 (checked by a decoder written here, not the one
 *     names.c uses);
 *   - the same URL gives the same name, and "name.N" fits NAME_MAX for
 *     every N.
 */
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(cond)                                                          \
	do {                                                                 \
		if (!(cond)) {                                               \
			fprintf(stderr, "fuzz_names: check failed at line %d: %s\n", \
			        __LINE__, #cond);                            \
			abort();                                             \
		}                                                            \
	} while (0)

/*
 * Decode one UTF-8 sequence at s (n bytes left).  Returns its length and
 * the code point, or 0 when it is not the shortest form of a scalar value.
 */
static size_t decode_utf8(const unsigned char *s, size_t n, uint32_t *cp)
{
	size_t len;
	uint32_t v, min;

	if (s[0] < 0x80) {
		*cp = s[0];
		return 1;
	}
	if ((s[0] & 0xe0) == 0xc0) {
		len = 2, v = s[0] & 0x1f, min = 0x80;
	} else if ((s[0] & 0xf0) == 0xe0) {
		len = 3, v = s[0] & 0x0f, min = 0x800;
	} else if ((s[0] & 0xf8) == 0xf0) {
		len = 4, v = s[0] & 0x07, min = 0x10000;
	} else {
		return 0;
	}
	if (n < len)
		return 0;
	for (size_t i = 1; i < len; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		v = v << 6 | (s[i] & 0x3f);
	}
	if (v < min || v > 0x10ffff || (v >= 0xd800 && v <= 0xdfff))
		return 0;
	*cp = v;
	return len;
}

static int invisible(uint32_t cp)
{
	return (cp >= 0x80 && cp <= 0x9f) ||    /* C1 controls */
	       cp == 0x200e || cp == 0x200f ||  /* LRM, RLM */
	       (cp >= 0x202a && cp <= 0x202e) || /* LRE .. RLO */
	       (cp >= 0x2066 && cp <= 0x2069) || /* LRI .. PDI */
	       cp == 0x2028 || cp == 0x2029;     /* line, paragraph separator */
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *url = malloc(size + 1);
	char *name = malloc(CLI_NAME_MAX + 1);
	char again[CLI_NAME_MAX + 1];
	char suffixed[NAME_MAX + 1];

	CHECK(url != NULL && name != NULL);
	memcpy(url, data, size);
	url[size] = '\0';

	size_t len = cli_safe_name(url, name);
	CHECK(len > 0);
	CHECK(len <= CLI_NAME_MAX);
	CHECK(strlen(name) == len);
	CHECK(strchr(name, '/') == NULL);
	CHECK(strchr(name, '\\') == NULL);
	CHECK(strcmp(name, ".") != 0 && strcmp(name, "..") != 0);
	CHECK(name[0] != '.');

	const unsigned char *p = (const unsigned char *)name;
	for (size_t i = 0; i < len;) {
		uint32_t cp = 0;
		size_t n = decode_utf8(p + i, len - i, &cp);

		CHECK(n > 0);
		CHECK(cp >= 0x20 && cp != 0x7f);
		CHECK(!invisible(cp));
		i += n;
	}

	CHECK(cli_safe_name(url, again) == len);
	CHECK(memcmp(again, name, len + 1) == 0);

	CHECK(cli_suffixed_name(suffixed, sizeof suffixed, name, 0) == 0);
	CHECK(strcmp(suffixed, name) == 0);
	CHECK(cli_suffixed_name(suffixed, sizeof suffixed, name, UINT_MAX) == 0);
	CHECK(strncmp(suffixed, name, len) == 0 && suffixed[len] == '.');

	free(name);
	free(url);
	return 0;
}
