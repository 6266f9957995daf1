/*
 * test_policy.c - reference resolution for redirects (RFC 3986, 5.4),
 * retry decisions and delays, and streaming content decoding, also with
 * the output stopped and resumed as a paused transfer does.
 */
#include <stdlib.h>
#include <string.h>
#include <zlib.h>
#include "internal.h"
#include "decode.h"
#include "tap.h"

static void resolves(const char *base, const char *ref, const char *want)
{
	const char *why = NULL;
	char *got = evf_url_resolve(base, ref, &why);
	if (!is_str(got, want, "'%s' against %s", ref, base))
		diag("why: %s", why ? why : "-");
	free(got);
}

static void rfc3986_examples(void)
{
	const char *b = "http://a/b/c/d;p?q";
	resolves(b, "g", "http://a/b/c/g");
	resolves(b, "./g", "http://a/b/c/g");
	resolves(b, "g/", "http://a/b/c/g/");
	resolves(b, "/g", "http://a/g");
	resolves(b, "//g", "http://g/");   /* RFC: "http://g"; an empty HTTP path is "/" */
	resolves(b, "?y", "http://a/b/c/d;p?y");
	resolves(b, "g?y", "http://a/b/c/g?y");
	resolves(b, "#s", "http://a/b/c/d;p?q");
	resolves(b, "g#s", "http://a/b/c/g");
	resolves(b, ";x", "http://a/b/c/;x");
	resolves(b, "", "http://a/b/c/d;p?q");
	resolves(b, ".", "http://a/b/c/");
	resolves(b, "./", "http://a/b/c/");
	resolves(b, "..", "http://a/b/");
	resolves(b, "../", "http://a/b/");
	resolves(b, "../g", "http://a/b/g");
	resolves(b, "../..", "http://a/");
	resolves(b, "../../g", "http://a/g");
	resolves(b, "../../../g", "http://a/g");
	resolves(b, "../../../../g", "http://a/g");
	resolves(b, "/./g", "http://a/g");
	resolves(b, "/../g", "http://a/g");
	resolves(b, "g.", "http://a/b/c/g.");
	resolves(b, ".g", "http://a/b/c/.g");
	resolves(b, "g..", "http://a/b/c/g..");
	resolves(b, "./../g", "http://a/b/g");
	resolves(b, "g/./h", "http://a/b/c/g/h");
	resolves(b, "g/../h", "http://a/b/c/h");
	resolves(b, "https://other.test:8443/x", "https://other.test:8443/x");
	resolves("https://h.test:8443/a/b", "c?d=1", "https://h.test:8443/a/c?d=1");
	resolves("https://[::1]:8443/a/b", "/z", "https://[::1]:8443/z");
	const char *why = NULL;
	char *r = evf_url_resolve(b, "/a b", &why);
	ok(r == NULL && why, "a Location with a space is refused (%s)", why ? why : "");
	free(r);
	r = evf_url_resolve(b, "/\r\nX: y", &why);
	ok(r == NULL && why, "a Location with CR LF is refused");
	free(r);
}

static void retry_policy(void)
{
	ok(policy_is_redirect(301) && policy_is_redirect(308) && !policy_is_redirect(304) &&
	   !policy_is_redirect(300), "redirect statuses");
	ok(policy_retry_status(503) && policy_retry_status(429) && policy_retry_status(408) &&
	   !policy_retry_status(404) && !policy_retry_status(501), "retryable statuses");
	ok(policy_retry_error(EVF_ERR_CONNECT) && policy_retry_error(EVF_ERR_TIMEOUT) &&
	   !policy_retry_error(EVF_ERR_TLS) && !policy_retry_error(EVF_ERR_PROTOCOL),
	   "retryable errors");
	is_int((int)policy_retry_after_ms("3", 0), 3000, "Retry-After seconds");
	is_int((int)policy_retry_after_ms("abc", 0), -1, "Retry-After garbage");
	is_int((int)policy_retry_after_ms("3x", 0), -1, "Retry-After trailing garbage");
	is_int((int)policy_retry_after_ms(NULL, 0), -1, "no Retry-After");
	/* Sun, 06 Nov 1994 08:49:37 GMT = 784111777 */
	is_int((int)policy_retry_after_ms("Sun, 06 Nov 1994 08:49:37 GMT", 784111770), 7000,
	       "Retry-After HTTP-date");
	is_int((int)policy_retry_after_ms("Sun, 06 Nov 1994 08:49:37 GMT", 784111799), 0,
	       "Retry-After date in the past");
	int inside = 1;
	for (unsigned attempt = 1; attempt <= 8; attempt++) {
		uint64_t full = 100u << (attempt - 1);
		if (full > 5000)
			full = 5000;
		for (int i = 0; i < 50; i++) {
			uint64_t d = policy_backoff_ms(100, 5000, attempt, -1);
			if (d < full / 2 || d > full)
				inside = 0;
		}
	}
	ok(inside, "backoff doubles from the base, capped, jittered within [d/2, d]");
	is_uint(policy_backoff_ms(100, 5000, 1, 2000), 2000, "Retry-After sets the delay");
	is_uint(policy_backoff_ms(100, 5000, 1, 90000), 5000, "Retry-After is capped");
	ok(policy_credential_header("Authorization: Bearer x") &&
	   policy_credential_header("cookie: a=b") && !policy_credential_header("X-Cookie: 1") &&
	   !policy_credential_header("Authorization-X: 1"), "credential headers");
	/* the list evfetch.h, evfetch(3) and evfetch(1) give: all four, no more */
	ok(policy_credential_header("Proxy-Authorization: Basic eA==") &&
	   policy_credential_header("HOST: other.test") &&
	   !policy_credential_header("User-Agent: x") && !policy_credential_header("Accept: */*"),
	   "Proxy-Authorization and Host are dropped off-origin too, other headers are not");
}

struct sinkbuf {
	char *data;
	size_t len, max_piece, limit;
};

static int collect(void *ctx, const char *d, size_t n)
{
	struct sinkbuf *s = ctx;
	if (n > s->max_piece)
		s->max_piece = n;
	if (s->limit && s->len + n > s->limit)
		return EVF_ERR_TOO_LARGE;
	s->data = realloc(s->data, s->len + n);
	memcpy(s->data + s->len, d, n);
	s->len += n;
	return 0;
}

/* Compress src with zlib: window bits 15+16 = gzip, 15 = zlib, -15 = raw. */
static size_t squeeze(const char *src, size_t n, int bits, unsigned char *out, size_t cap)
{
	z_stream z;
	memset(&z, 0, sizeof z);
	deflateInit2(&z, 9, Z_DEFLATED, bits, 8, Z_DEFAULT_STRATEGY);
	z.next_in = (Bytef *)src;
	z.avail_in = (uInt)n;
	z.next_out = out;
	z.avail_out = (uInt)cap;
	deflate(&z, Z_FINISH);
	size_t len = cap - z.avail_out;
	deflateEnd(&z);
	return len;
}

static int decode_all(enum decode_kind k, const unsigned char *in, size_t n, size_t step,
                      struct sinkbuf *s)
{
	struct decoder d;
	decoder_init(&d, k);
	int r = 0;
	for (size_t o = 0; o < n && r == 0; o += step)
		r = decoder_feed(&d, (const char *)in + o, n - o < step ? n - o : step, collect, s);
	if (r == 0)
		r = decoder_finish(&d);
	decoder_free(&d);
	return r;
}

static void decoding(void)
{
	size_t n = 200000;
	char *plain = malloc(n);
	for (size_t i = 0; i < n; i++)
		plain[i] = (char)("abcdefgh"[i % 8] + (i / 1000) % 3);
	unsigned char *z = malloc(n + 1024);
	struct {
		enum decode_kind kind;
		int bits;
		const char *name;
	} kinds[] = {{DECODE_GZIP, 15 + 16, "gzip"},
	             {DECODE_DEFLATE, 15, "deflate (zlib)"},
	             {DECODE_DEFLATE, -15, "deflate (raw)"}};
	for (size_t k = 0; k < 3; k++) {
		size_t zn = squeeze(plain, n, kinds[k].bits, z, n + 1024);
		size_t steps[] = {zn, 1, 333};
		for (size_t i = 0; i < 3; i++) {
			struct sinkbuf s = {0};
			int r = decode_all(kinds[k].kind, z, zn, steps[i], &s);
			ok(r == 0 && s.len == n && memcmp(s.data, plain, n) == 0,
			   "%s decodes byte-exact in pieces of %zu", kinds[k].name, steps[i]);
			ok(s.max_piece <= EVF_DECODE_CHUNK, "%s: output in bounded pieces", kinds[k].name);
			free(s.data);
		}
		struct sinkbuf s = {0};
		ok(decode_all(kinds[k].kind, z, zn / 2, zn, &s) == EVF_ERR_DECODE,
		   "%s: a stream cut in half is a decode error", kinds[k].name);
		free(s.data);
	}
	size_t zn = squeeze(plain, n, 15 + 16, z, n + 1024);
	z[zn / 2] ^= 0x55;
	z[zn / 2 + 1] ^= 0xaa;
	struct sinkbuf s = {0};
	ok(decode_all(DECODE_GZIP, z, zn, zn, &s) == EVF_ERR_DECODE, "corrupt gzip is an error");
	free(s.data);
	s = (struct sinkbuf){0};
	ok(decode_all(DECODE_GZIP, (const unsigned char *)"not gzip at all", 15, 15, &s) ==
	           EVF_ERR_DECODE,
	   "garbage is not gzip");
	free(s.data);
	/* a bomb: 50 MB of zeros stops at the sink's limit */
	size_t big = 50u << 20;
	char *zeros = calloc(1, big);
	unsigned char *bomb = malloc(big / 100);
	size_t bn = squeeze(zeros, big, 15 + 16, bomb, big / 100);
	free(zeros);
	struct sinkbuf lim = {.limit = 1 << 20};
	ok(decode_all(DECODE_GZIP, bomb, bn, bn, &lim) == EVF_ERR_TOO_LARGE && lim.len <= (1 << 20),
	   "a %zu-byte gzip bomb stops at the 1 MiB limit", bn);
	free(lim.data);
	free(bomb);
	is_int(decode_kind_of("GZIP"), DECODE_GZIP, "Content-Encoding names are case-insensitive");
	is_int(decode_kind_of("x-gzip"), DECODE_GZIP, "x-gzip is gzip");
	is_int(decode_kind_of("br"), DECODE_NONE, "unknown codings pass through");
	is_int(decode_kind_of("identity"), DECODE_NONE, "identity");
	free(plain);
	free(z);
}

/* A sink that stops the output after every piece, as a transfer paused in
 * each on_body does: nothing may come until decoder_resume. */
struct stopper {
	struct sinkbuf s;
	int stopped;       /* stop asked for, not resumed yet */
	int late;          /* pieces that came while stopped */
	unsigned nstops;
};

static int stop_each(void *ctx, const char *d, size_t n)
{
	struct stopper *st = ctx;
	if (st->stopped)
		st->late++;
	int r = collect(&st->s, d, n);
	if (r)
		return r;
	st->stopped = 1;
	st->nstops++;
	return DECODE_STOP;
}

/*
 * Decode in "reads" of rd bytes, each fed in spans of span bytes, as llhttp
 * hands a read on; after each read, resume until the decoder has used it
 * all.  stop_first: stopped before the first byte (paused in on_head).
 * *max_held: the most input the decoder kept at once.
 */
static int decode_stopping(enum decode_kind k, const unsigned char *in, size_t n, size_t rd,
                           size_t span, int stop_first, struct stopper *st, size_t *max_held)
{
	struct decoder d;
	decoder_init(&d, k);
	int r = 0;
	*max_held = 0;
	if (stop_first) {
		decoder_stop(&d);
		st->stopped = 1;
	}
	for (size_t o = 0; o < n && r == 0; o += rd) {
		size_t end = n - o < rd ? n : o + rd;
		for (size_t p = o; p < end && r == 0; p += span)
			r = decoder_feed(&d, (const char *)in + p, end - p < span ? end - p : span,
			                 stop_each, st);
		if (d.nheld > *max_held)
			*max_held = d.nheld;
		while (r == 0 && decoder_stopped(&d)) {
			st->stopped = 0;
			r = decoder_resume(&d, stop_each, st);
		}
	}
	if (r == 0)
		r = decoder_finish(&d);
	decoder_free(&d);
	return r;
}

static void stopping(void)
{
	/* one very compressible body (runs of 64 KiB: 16 KiB of input make
	 * megabytes, and zlib often holds output back), one less so */
	size_t nr = 4u << 20, np = 200000;
	char *runs = malloc(nr), *plain = malloc(np);
	for (size_t i = 0; i < nr; i++)
		runs[i] = (char)('a' + (i >> 16) % 26);
	for (size_t i = 0; i < np; i++)
		plain[i] = (char)("abcdefgh"[i % 8] + (i / 1000) % 3);
	unsigned char *z = malloc(nr);
	struct {
		enum decode_kind kind;
		int bits;
		const char *name;
	} kinds[] = {{DECODE_GZIP, 15 + 16, "gzip"},
	             {DECODE_DEFLATE, 15, "deflate (zlib)"},
	             {DECODE_DEFLATE, -15, "deflate (raw)"}};
	struct {
		const char *body;
		size_t n;
	} bodies[] = {{runs, nr}, {plain, np}};
	for (size_t k = 0; k < 3; k++) {
		for (size_t b = 0; b < 2; b++) {
			size_t n = bodies[b].n;
			size_t zn = squeeze(bodies[b].body, n, kinds[k].bits, z, nr);
			for (int first = 0; first < 2; first++) {
				struct stopper st = {0};
				size_t held = 0;
				int r = decode_stopping(kinds[k].kind, z, zn, 1000, 300, first, &st,
				                        &held);
				ok(r == 0 && st.s.len == n && memcmp(st.s.data, bodies[b].body, n) == 0,
				   "%s of %zu bytes, stopped after each piece%s: byte-exact",
				   kinds[k].name, n, first ? " and before the first" : "");
				ok(st.late == 0 && st.nstops >= n / EVF_DECODE_CHUNK,
				   "%s of %zu bytes: nothing came while stopped (%u stops)",
				   kinds[k].name, n, st.nstops);
				ok(held <= 1000, "%s of %zu bytes: kept at most one read (%zu)",
				   kinds[k].name, n, held);
				free(st.s.data);
			}
		}
	}
	/* a corrupt stream kept whole while stopped fails when resumed */
	size_t zn = squeeze(plain, np, 15 + 16, z, nr);
	z[zn / 2] ^= 0x55;
	z[zn / 2 + 1] ^= 0xaa;
	struct stopper st = {0};
	size_t held = 0;
	ok(decode_stopping(DECODE_GZIP, z, zn, zn, zn, 1, &st, &held) == EVF_ERR_DECODE,
	   "corrupt gzip kept while stopped is an error once resumed");
	free(st.s.data);
	/* freed while holding input: nothing leaks (valgrind, ASan) */
	struct decoder d;
	decoder_init(&d, DECODE_GZIP);
	decoder_stop(&d);
	ok(decoder_feed(&d, (const char *)z, 100, stop_each, &st) == 0 && d.nheld == 100,
	   "input fed while stopped is kept");
	decoder_free(&d);
	free(runs);
	free(plain);
	free(z);
}

int main(void)
{
	rfc3986_examples();
	retry_policy();
	decoding();
	stopping();
	return done_testing();
}
