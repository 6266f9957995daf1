/*
 * head.c - what the report keeps of a response head until its transfer
 * ends: Content-Type, Content-Length and the headers named by
 * --report-header.
 *
 * This runs for every URL of a run with --report, so it costs one pass
 * over the headers with a cheap first-letter test before each comparison,
 * and one allocation, only when there is something to keep.
 */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "cli.h"

/* --report-header names whose lengths are taken once per head. */
#define CLI_HEAD_NAMES_FAST 16

/* ASCII lower case; header names are tokens, so no locale applies. */
static unsigned char
lower(unsigned char c)
{
	return c >= 'A' && c <= 'Z' ? (unsigned char)(c - 'A' + 'a') : c;
}

/* name is lname (in lower case, of llen bytes), in any case; the first
 * letter, then the length, rule out most names at once. */
static int
same_name(const char *name, const char *lname, size_t llen)
{
	return lower((unsigned char)name[0]) == (unsigned char)lname[0] &&
	       strlen(name) == llen && strcasecmp(name, lname) == 0;
}

/* A Content-Length value: digits only, or -1. */
static int64_t
parse_length(const char *s)
{
	int64_t v = 0;

	if (*s == '\0')
		return -1;
	for (; *s >= '0' && *s <= '9'; s++) {
		if (v > (INT64_MAX - 9) / 10)
			return -1;
		v = v * 10 + (*s - '0');
	}
	return *s == '\0' ? v : -1;
}

/*
 * Append the values of the headers named names[k] at p, joined with ", "
 * (HTTP lets a list be split over several lines), NUL-terminated; or
 * nothing when there is none.  Returns the end, or p.
 */
static char *
join_values(char *p, const evf_response *resp, const char *name)
{
	size_t i, len, nlen = strlen(name);
	char *start = p;

	for (i = 0; i < resp->nheaders; i++) {
		if (!same_name(resp->headers[i].name, name, nlen))
			continue;
		if (p != start) {
			memcpy(p - 1, ", ", 2);
			p++;
		}
		len = strlen(resp->headers[i].value);
		memcpy(p, resp->headers[i].value, len + 1);
		p += len + 1;
	}
	return p;
}

struct cli_head *
cli_head_keep(const evf_response *resp, const char *const *names,
              size_t nnames, int64_t *content_length)
{
	const char *ctype = NULL;
	size_t need = 0, i, k, named = 0, lens[CLI_HEAD_NAMES_FAST];
	struct cli_head *h;
	char *p;

	for (k = 0; k < nnames && k < CLI_HEAD_NAMES_FAST; k++)
		lens[k] = strlen(names[k]);
	*content_length = -1;
	for (i = 0; i < resp->nheaders; i++) {
		const evf_header *e = &resp->headers[i];

		if (ctype == NULL && same_name(e->name, "content-type", 12))
			ctype = e->value;
		else if (*content_length < 0 &&
		         same_name(e->name, "content-length", 14))
			*content_length = parse_length(e->value);
		for (k = 0; k < nnames; k++)
			if (same_name(e->name, names[k], k < CLI_HEAD_NAMES_FAST ?
			              lens[k] : strlen(names[k])))
				named += strlen(e->value) + 2;
	}
	need = named;
	if (ctype != NULL)
		need += strlen(ctype) + 1;
	if (need == 0)
		return NULL;
	/* Out of memory, the report says null: nothing worse. */
	h = calloc(1, sizeof *h + nnames * sizeof h->values[0] + need);
	if (h == NULL)
		return NULL;
	p = (char *)&h->values[nnames];
	if (ctype != NULL) {
		h->content_type = p;
		p = stpcpy(p, ctype) + 1;
	}
	for (k = 0; k < nnames && named > 0; k++) {
		char *end = join_values(p, resp, names[k]);

		if (end != p)
			h->values[k] = p;
		p = end;
	}
	return h;
}
