/*
 * resume.c - --resume REPORT: which URLs an earlier run already fetched.
 *
 * The report is read once at start, line by line through a bounded
 * buffer, and only a set of 64-bit hashes of the done URLs is kept: about
 * 11 to 22 bytes per URL (open addressing, at most three quarters full),
 * whatever the length of the URLs.  The hash is SipHash-2-4 with a random
 * key per run, so no one can write a URL that poses as another one; two
 * different URLs share a hash with a probability of about n * m / 2^64
 * for n done URLs and m URLs in the input (1 in 180000 for ten million
 * of each).
 *
 * A run killed with SIGKILL (or a machine that went down) may have left
 * the report's last line cut in half.  That line is removed before the
 * run appends to the report, so the file stays valid JSON lines; a last
 * line that is whole but lost its newline gets the newline back instead.
 *
 * The report is locked (flock) for as long as the run lasts: two runs
 * appending to one report would be a mistake, and the lock is what lets
 * the run remove the temporary files its killed predecessor left behind
 * (see the tag below and output.c) without touching those of other runs
 * that save into the same directory.
 *
 * A leaf module apart from shard.c's stable hash (see cli.h).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"

#define SEEN_INIT_CAP 1024
#define RESUME_BUF_INIT (64 * 1024)

/* ------------------------------------------------------------ SipHash */

#define ROTL(x, b) (uint64_t)(((x) << (b)) | ((x) >> (64 - (b))))

#define SIPROUND \
	do { \
		v0 += v1; v1 = ROTL(v1, 13); v1 ^= v0; v0 = ROTL(v0, 32); \
		v2 += v3; v3 = ROTL(v3, 16); v3 ^= v2; \
		v0 += v3; v3 = ROTL(v3, 21); v3 ^= v0; \
		v2 += v1; v1 = ROTL(v1, 17); v1 ^= v2; v2 = ROTL(v2, 32); \
	} while (0)

static uint64_t
le64(const unsigned char *p)
{
	uint64_t v = 0;
	int i;

	for (i = 7; i >= 0; i--)
		v = v << 8 | p[i];
	return v;
}

uint64_t
cli_siphash(uint64_t k0, uint64_t k1, const void *data, size_t len)
{
	const unsigned char *p = data;
	uint64_t v0 = k0 ^ 0x736f6d6570736575ull;
	uint64_t v1 = k1 ^ 0x646f72616e646f6dull;
	uint64_t v2 = k0 ^ 0x6c7967656e657261ull;
	uint64_t v3 = k1 ^ 0x7465646279746573ull;
	uint64_t m, b = (uint64_t)len << 56;
	size_t i, rest = len % 8;

	for (i = 0; i + 8 <= len; i += 8) {
		m = le64(p + i);
		v3 ^= m;
		SIPROUND;
		SIPROUND;
		v0 ^= m;
	}
	while (rest-- > 0)
		b |= (uint64_t)p[i + rest] << (8 * rest);
	v3 ^= b;
	SIPROUND;
	SIPROUND;
	v0 ^= b;
	v2 ^= 0xff;
	SIPROUND;
	SIPROUND;
	SIPROUND;
	SIPROUND;
	return v0 ^ v1 ^ v2 ^ v3;
}

/* --------------------------------------------------------- the set */

int
cli_seen_init(struct cli_seen *s)
{
	unsigned char key[16];
	ssize_t n;

	memset(s, 0, sizeof *s);
	do
		n = getrandom(key, sizeof key, 0);
	while (n < 0 && errno == EINTR);
	if (n != (ssize_t)sizeof key) {
		/* Without randomness only crafted collisions get easier. */
		uint64_t t = (uint64_t)time(NULL) ^ ((uint64_t)getpid() << 32);

		memcpy(key, &t, sizeof t);
		memcpy(key + 8, &s, sizeof s < 8 ? sizeof s : 8);
	}
	s->k0 = le64(key);
	s->k1 = le64(key + 8);
	s->slots = calloc(SEEN_INIT_CAP, sizeof *s->slots);
	if (s->slots == NULL)
		return -1;
	s->cap = SEEN_INIT_CAP;
	return 0;
}

void
cli_seen_free(struct cli_seen *s)
{
	free(s->slots);
	s->slots = NULL;
	s->cap = s->count = 0;
}

/* 0 marks an empty slot, so no hash may be 0. */
static uint64_t
seen_hash(const struct cli_seen *s, const void *p, size_t len)
{
	uint64_t h = cli_siphash(s->k0, s->k1, p, len);

	return h != 0 ? h : 1;
}

/* The slot holding h, or the empty one where it would go. */
static size_t
seen_slot(const uint64_t *slots, size_t cap, uint64_t h)
{
	size_t i = (size_t)h & (cap - 1);

	while (slots[i] != 0 && slots[i] != h)
		i = (i + 1) & (cap - 1);
	return i;
}

static int
seen_grow(struct cli_seen *s)
{
	size_t cap = s->cap * 2, i;
	uint64_t *slots;

	if (cap < s->cap || cap > SIZE_MAX / sizeof *slots)
		return -1;
	slots = calloc(cap, sizeof *slots);
	if (slots == NULL)
		return -1;
	for (i = 0; i < s->cap; i++)
		if (s->slots[i] != 0)
			slots[seen_slot(slots, cap, s->slots[i])] = s->slots[i];
	free(s->slots);
	s->slots = slots;
	s->cap = cap;
	return 0;
}

int
cli_seen_has(const struct cli_seen *s, const void *p, size_t len)
{
	uint64_t h = seen_hash(s, p, len);

	return s->slots[seen_slot(s->slots, s->cap, h)] == h;
}

int
cli_seen_add(struct cli_seen *s, const void *p, size_t len)
{
	uint64_t h = seen_hash(s, p, len);
	size_t i = seen_slot(s->slots, s->cap, h);

	if (s->slots[i] == h)
		return 0;
	if ((s->count + 1) * 4 > s->cap * 3) {
		if (seen_grow(s) < 0)
			return -1;
		i = seen_slot(s->slots, s->cap, h);
	}
	s->slots[i] = h;
	s->count++;
	return 1;
}

/* ------------------------------------------------- a line of the report */

static char *
skip_ws(char *p, const char *end)
{
	while (p < end && (*p == ' ' || *p == '\t' || *p == '\r' || *p == '\n'))
		p++;
	return p;
}

static int
hex4(const char *p, unsigned *out)
{
	unsigned v = 0;
	int i;

	for (i = 0; i < 4; i++) {
		char c = p[i];

		v <<= 4;
		if (c >= '0' && c <= '9')
			v |= (unsigned)(c - '0');
		else if (c >= 'a' && c <= 'f')
			v |= (unsigned)(c - 'a' + 10);
		else if (c >= 'A' && c <= 'F')
			v |= (unsigned)(c - 'A' + 10);
		else
			return -1;
	}
	*out = v;
	return 0;
}

static char *
put_utf8(char *dst, unsigned cp)
{
	if (cp < 0x80) {
		*dst++ = (char)cp;
	} else if (cp < 0x800) {
		*dst++ = (char)(0xc0 | cp >> 6);
		*dst++ = (char)(0x80 | (cp & 0x3f));
	} else if (cp < 0x10000) {
		*dst++ = (char)(0xe0 | cp >> 12);
		*dst++ = (char)(0x80 | (cp >> 6 & 0x3f));
		*dst++ = (char)(0x80 | (cp & 0x3f));
	} else {
		*dst++ = (char)(0xf0 | cp >> 18);
		*dst++ = (char)(0x80 | (cp >> 12 & 0x3f));
		*dst++ = (char)(0x80 | (cp >> 6 & 0x3f));
		*dst++ = (char)(0x80 | (cp & 0x3f));
	}
	return dst;
}

/* \uXXXX at p (a pair for a surrogate); the code point, U+FFFD if lone. */
static int
unicode_escape(const char *p, const char *end, unsigned *cp, size_t *used)
{
	unsigned hi, lo;

	if (end - p < 6 || hex4(p + 2, &hi) < 0)
		return -1;
	*cp = hi;
	*used = 6;
	if (hi >= 0xdc00 && hi <= 0xdfff) {
		*cp = 0xfffd;
	} else if (hi >= 0xd800 && hi <= 0xdbff) {
		*cp = 0xfffd;
		if (end - p >= 12 && p[6] == '\\' && p[7] == 'u' &&
		    hex4(p + 8, &lo) == 0 && lo >= 0xdc00 && lo <= 0xdfff) {
			*cp = 0x10000 + ((hi - 0xd800) << 10) + (lo - 0xdc00);
			*used = 12;
		}
	}
	return 0;
}

/*
 * The JSON string starting at the quote p, decoded in place: what it
 * stands for is never longer than how it is written.  Returns what follows
 * the closing quote, or NULL when it is not a valid string.
 */
static char *
json_string(char *p, const char *end, char **out, size_t *outlen)
{
	char *dst = p, *s = p + 1;
	unsigned cp;
	size_t used;

	*out = dst;
	while (s < end) {
		unsigned char c = (unsigned char)*s;

		if (c == '"') {
			*outlen = (size_t)(dst - *out);
			return s + 1;
		}
		if (c < 0x20)
			return NULL;
		if (c != '\\') {
			*dst++ = *s++;
			continue;
		}
		if (end - s < 2)
			return NULL;
		switch (s[1]) {
		case '"': case '\\': case '/': *dst++ = s[1]; break;
		case 'b': *dst++ = '\b'; break;
		case 'f': *dst++ = '\f'; break;
		case 'n': *dst++ = '\n'; break;
		case 'r': *dst++ = '\r'; break;
		case 't': *dst++ = '\t'; break;
		case 'u':
			if (unicode_escape(s, end, &cp, &used) < 0)
				return NULL;
			dst = put_utf8(dst, cp);
			s += used;
			continue;
		default:
			return NULL;
		}
		s += 2;
	}
	return NULL;
}

/* Past any one JSON value; scalars are only delimited, not checked. */
static char *
skip_value(char *p, const char *end)
{
	char *q, *s;
	size_t n;
	int depth = 0;

	if (p >= end)
		return NULL;
	if (*p == '"')
		return json_string(p, end, &s, &n);
	if (*p != '{' && *p != '[') {
		for (q = p; q < end && (strchr("+-.", *q) != NULL ||
		     (*q >= '0' && *q <= '9') || (*q >= 'a' && *q <= 'z') ||
		     (*q >= 'A' && *q <= 'Z')); q++)
			;
		return q != p ? q : NULL;
	}
	while (p < end) {
		if (*p == '"') {
			p = json_string(p, end, &s, &n);
			if (p == NULL)
				return NULL;
			continue;
		}
		if (*p == '{' || *p == '[')
			depth++;
		else if (*p == '}' || *p == ']')
			depth--;
		p++;
		if (depth == 0)
			return p;
	}
	return NULL;
}

/* "true" -> 1, "false" -> 0, anything else -1. */
static int
json_bool(const char *p, const char *q)
{
	if (q - p == 4 && memcmp(p, "true", 4) == 0)
		return 1;
	if (q - p == 5 && memcmp(p, "false", 5) == 0)
		return 0;
	return -1;
}

int
cli_report_line_parse(char *line, size_t len, const char **url,
                      size_t *url_len, int *ok)
{
	const char *end = line + len;
	char *p = skip_ws(line, end), *key, *val;
	size_t klen;
	int have_url = 0;

	*ok = -1;
	if (p >= end || *p != '{')
		return -1;
	p = skip_ws(p + 1, end);
	if (p < end && *p == '}')
		return -1;
	for (;;) {
		if (p >= end || *p != '"')
			return -1;
		p = json_string(p, end, &key, &klen);
		if (p == NULL)
			return -1;
		p = skip_ws(p, end);
		if (p >= end || *p != ':')
			return -1;
		val = skip_ws(p + 1, end);
		if (klen == 3 && memcmp(key, "url", 3) == 0 && val < end &&
		    *val == '"') {
			char *u;

			p = json_string(val, end, &u, url_len);
			*url = u;
			have_url = 1;
		} else {
			p = skip_value(val, end);
			if (klen == 3 && memcmp(key, "url", 3) == 0)
				have_url = 0;
			else if (p != NULL && klen == 2 && memcmp(key, "ok", 2) == 0)
				*ok = json_bool(val, p);
		}
		if (p == NULL)
			return -1;
		p = skip_ws(p, end);
		if (p < end && *p == ',') {
			p = skip_ws(p + 1, end);
			continue;
		}
		if (p < end && *p == '}')
			break;
		return -1;
	}
	if (skip_ws(p + 1, end) != end || !have_url || *ok < 0)
		return -1;
	return 0;
}

/* ------------------------------------------------------ the report */

static int
is_blank(const char *p, size_t len)
{
	while (len > 0 && (*p == ' ' || *p == '\t' || *p == '\r')) {
		p++;
		len--;
	}
	return len == 0;
}

/* One whole line: 0, or -1 when the set cannot grow. */
static int
take_line(struct cli_resume *r, char *line, size_t len)
{
	const char *url;
	size_t ulen;
	int ok;

	if (is_blank(line, len))
		return 0;
	r->lines++;
	if (cli_report_line_parse(line, len, &url, &ulen, &ok) < 0) {
		r->unreadable++;
		return 0;
	}
	if (ok && cli_seen_add(&r->seen, url, ulen) < 0)
		return -1;
	return 0;
}

/*
 * What follows the last newline: a whole line that only lost its newline
 * is kept and finished; anything else is a line cut short, and goes.
 */
static int
finish_tail(struct cli_resume *r, char *tail, size_t len, off_t good_end,
            const char **what)
{
	const char *url;
	size_t ulen;
	int ok;
	off_t size = good_end + (off_t)len;

	if (len > 0 && cli_report_line_parse(tail, len, &url, &ulen, &ok) == 0) {
		/* The parse decoded in place: hash before anything else. */
		if (ok && cli_seen_add(&r->seen, url, ulen) < 0) {
			*what = "reading";
			errno = ENOMEM;
			return -1;
		}
		r->lines++;
		if (pwrite(r->fd, "\n", 1, size) != 1) {
			*what = "repairing";
			return -1;
		}
		r->newline_added = 1;
		return 0;
	}
	if (ftruncate(r->fd, good_end) < 0) {
		*what = "repairing";
		return -1;
	}
	r->cut = (uint64_t)(size - good_end);
	return 0;
}

/*
 * Read the report through a buffer that grows to CLI_RESUME_LINE_MAX;
 * a longer line (none that evfetch writes for a URL it could fetch) is
 * skipped and counts as unreadable.
 */
static int
read_report(struct cli_resume *r, const char **what)
{
	size_t cap = RESUME_BUF_INIT, len = 0, start = 0;
	char *buf = malloc(cap), *p;
	off_t base = 0, good_end = 0;   /* file offsets of buf[0], after the last '\n' */
	int eof = 0, skipping = 0, rc = -1;
	ssize_t n;

	*what = "reading";
	if (buf == NULL)
		return -1;
	for (;;) {
		char *nl = memchr(buf + start, '\n', len - start);

		if (nl != NULL) {
			if (skipping) {
				r->lines++;
				r->unreadable++;
			} else if (take_line(r, buf + start, (size_t)(nl - buf) - start) < 0)
				goto out;
			skipping = 0;
			start = (size_t)(nl - buf) + 1;
			good_end = base + (off_t)start;
			continue;
		}
		if (eof)
			break;
		if (start > 0) {
			memmove(buf, buf + start, len - start);
			base += (off_t)start;
			len -= start;
			start = 0;
		}
		if (len == cap && cap < CLI_RESUME_LINE_MAX) {
			cap *= 2;
			if ((p = realloc(buf, cap)) == NULL)
				goto out;
			buf = p;
		} else if (len == cap) {
			skipping = 1;
			base += (off_t)len;
			len = 0;
		}
		do
			n = read(r->fd, buf + len, cap - len);
		while (n < 0 && errno == EINTR);
		if (n < 0)
			goto out;
		len += (size_t)n;
		eof = n == 0;
	}
	if (skipping || start < len)
		rc = finish_tail(r, skipping ? buf : buf + start,
		                 skipping ? 0 : len - start, good_end, what);
	else
		rc = 0;
	if (skipping && rc == 0)
		r->cut = (uint64_t)(base + (off_t)len - good_end);
out:
	if (rc < 0 && errno == 0)
		errno = ENOMEM;
	free(buf);
	return rc;
}

/* Names this report's temp files: the same for every spelling of its path. */
static void
make_tag(struct cli_resume *r, const char *path)
{
	char *real = realpath(path, NULL);
	const char *s = real != NULL ? real : path;

	snprintf(r->tag, sizeof r->tag, "r%016llx",
	         (unsigned long long)cli_stable_hash(s, strlen(s)));
	free(real);
}

int
cli_resume_open(struct cli_resume *r, const char *path, const char **what)
{
	struct stat st;

	memset(r, 0, sizeof *r);
	r->fd = -1;
	*what = "allocating";
	if (cli_seen_init(&r->seen) < 0) {
		errno = ENOMEM;
		return -1;
	}
	*what = "opening";
	r->fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOCTTY, 0666);
	if (r->fd < 0)
		return -1;
	if (fstat(r->fd, &st) < 0)
		return -1;
	if (!S_ISREG(st.st_mode)) {
		*what = "opening";
		errno = EINVAL;
		return -1;
	}
	/* Where the file system has no locks, go on without. */
	if (flock(r->fd, LOCK_EX | LOCK_NB) < 0 && errno == EWOULDBLOCK)
		return CLI_RESUME_LOCKED;
	make_tag(r, path);
	errno = 0;
	return read_report(r, what);
}

void
cli_resume_close(struct cli_resume *r)
{
	if (r->fd >= 0)
		close(r->fd);
	r->fd = -1;
	cli_seen_free(&r->seen);
}
