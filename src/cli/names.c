/*
 * names.c - file names for -d, derived from URLs.
 *
 * A URL is chosen by whoever wrote the input, so the name must be unable
 * to leave the output directory or to surprise a terminal: the last path
 * segment is percent-decoded and then everything that could act as a
 * separator, a control character or a hidden-file dot is replaced.  The
 * segment is split off before decoding so that "%2f" stays inside it.
 *
 * A leaf module: no other part of the tool is used (see cli.h).
 */
#include <stdio.h>
#include <string.h>

#include "cli.h"

/*
 * Enough decoded bytes to fill CLI_NAME_MAX even when every 3-byte
 * sequence shrinks to a single '_'.
 */
#define DECODED_MAX (3 * CLI_NAME_MAX + 8)

static int
hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

static int
is_scheme_char(int c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	       (c >= '0' && c <= '9') || c == '+' || c == '-' || c == '.';
}

/* The URL's path, up to (not including) the query or fragment. */
static void
url_path(const char *url, const char **path, size_t *len)
{
	const char *p = url, *sep = strstr(url, "://");
	const char *q;

	if (sep != NULL && sep > url) {
		for (q = url; q < sep && is_scheme_char((unsigned char)*q); q++)
			;
		if (q == sep)
			p = sep + 3 + strcspn(sep + 3, "/?#");
	}
	*path = p;
	*len = strcspn(p, "?#");
}

static size_t
percent_decode(const char *s, size_t len, unsigned char *dst, size_t dstsz)
{
	size_t i = 0, n = 0;

	while (i < len && n < dstsz) {
		int hi, lo;

		if (s[i] == '%' && i + 2 < len &&
		    (hi = hexval((unsigned char)s[i + 1])) >= 0 &&
		    (lo = hexval((unsigned char)s[i + 2])) >= 0) {
			dst[n++] = (unsigned char)(hi << 4 | lo);
			i += 3;
		} else {
			dst[n++] = (unsigned char)s[i++];
		}
	}
	return n;
}

static uint32_t
code_point(const unsigned char *p, size_t len)
{
	static const unsigned char lead_mask[] = { 0, 0x7f, 0x1f, 0x0f, 0x07 };
	uint32_t cp = p[0] & lead_mask[len];
	size_t i;

	for (i = 1; i < len; i++)
		cp = cp << 6 | (p[i] & 0x3f);
	return cp;
}

/*
 * Characters that print nothing but change how the rest of a line looks:
 * C1 controls, and the bidirectional and direction marks that let a name
 * display as something else.
 */
static int
is_invisible(uint32_t cp)
{
	return (cp >= 0x80 && cp <= 0x9f) || cp == 0x200e || cp == 0x200f ||
	       (cp >= 0x2028 && cp <= 0x202e) || (cp >= 0x2066 && cp <= 0x2069);
}

size_t
cli_safe_name(const char *url, char out[CLI_NAME_MAX + 1])
{
	unsigned char dec[DECODED_MAX];
	const char *path, *seg;
	size_t plen, n, i = 0, o = 0;

	url_path(url, &path, &plen);
	seg = path + plen;
	while (seg > path && seg[-1] != '/')
		seg--;
	n = percent_decode(seg, (size_t)(path + plen - seg), dec, sizeof dec);

	while (i < n) {
		size_t len = cli_utf8_len(dec + i, n - i);
		unsigned char c = dec[i];
		int bad;

		if (len == 0) {
			bad = 1;
			len = 1;
		} else if (len == 1) {
			bad = c < 0x20 || c == 0x7f || c == '/' || c == '\\';
		} else {
			bad = is_invisible(code_point(dec + i, len));
		}
		if (o + (bad ? 1 : len) > CLI_NAME_MAX)
			break;
		if (bad) {
			out[o++] = '_';
		} else {
			memcpy(out + o, dec + i, len);
			o += len;
		}
		i += len;
	}
	if (o == 0) {
		strcpy(out, "index.html");
		return strlen(out);
	}
	/* Also turns "." and ".." into harmless names. */
	if (out[0] == '.')
		out[0] = '_';
	out[o] = '\0';
	return o;
}

int
cli_suffixed_name(char *dst, size_t dstsz, const char *name, unsigned n)
{
	int r;

	if (n == 0)
		r = snprintf(dst, dstsz, "%s", name);
	else
		r = snprintf(dst, dstsz, "%s.%u", name, n);
	return r < 0 || (size_t)r >= dstsz ? -1 : 0;
}
