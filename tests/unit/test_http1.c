/*
 * test_http1.c - the HTTP/1.1 response parser, fed whole and one byte at a
 * time, and the request head builder.
 */
#include <stdlib.h>
#include <string.h>
#include "internal.h"
#include "tap.h"

struct got {
	int status, heads;
	char headers[4096];
	char body[8192];
	size_t blen;
};

static int on_head(void *ctx, const evf_response *r)
{
	struct got *g = ctx;
	g->status = r->status;
	g->heads++;
	g->headers[0] = '\0';
	for (size_t i = 0; i < r->nheaders; i++) {
		size_t o = strlen(g->headers);
		snprintf(g->headers + o, sizeof g->headers - o, "%s=%s;", r->headers[i].name,
		         r->headers[i].value);
	}
	return 0;
}

static int on_body(void *ctx, const char *d, size_t n)
{
	struct got *g = ctx;
	if (g->blen + n > sizeof g->body)
		return EVF_ERR_TOO_LARGE;
	memcpy(g->body + g->blen, d, n);
	g->blen += n;
	return 0;
}

struct outcome {
	int rc;          /* last result of feed or eof */
	size_t used;     /* bytes consumed up to completion */
	int keep_alive;
	struct got got;
	char why[160];
};

/*
 * Parse text whole (step 0) or in pieces of step bytes; at the end of the
 * input call eof when want_eof.  Returns what happened.
 */
static struct outcome run(const char *text, size_t len, size_t step, int head, int eof_kind)
{
	struct outcome o;
	memset(&o, 0, sizeof o);
	struct http1_parser h;
	memset(&h, 0, sizeof h);
	struct http1_limits lim = {4096, 20};
	struct http1_sink sink = {.on_head = on_head, .on_body = on_body};
	http1_init(&h, &lim, &sink, &o.got, head);
	size_t off = 0;
	if (step == 0)
		step = len ? len : 1;
	while (off < len) {
		size_t n = len - off < step ? len - off : step, used = 0;
		o.rc = http1_feed(&h, text + off, n, &used);
		o.used += used;
		off += n;
		if (o.rc != 0) {
			if (o.rc == 1)
				o.used = off - n + used;
			break;
		}
	}
	if (o.rc == 0 && eof_kind)
		o.rc = http1_eof(&h, eof_kind == 1);
	o.keep_alive = h.keep_alive;
	snprintf(o.why, sizeof o.why, "%s", h.why ? h.why : "");
	http1_release(&h);
	return o;
}

static void expect_ok(const char *name, const char *text, int head, int eof_kind,
                      int status, const char *headers, const char *body, size_t used,
                      int keep_alive)
{
	size_t len = strlen(text);
	size_t steps[] = {0, 1, 2, 7};
	for (size_t i = 0; i < sizeof steps / sizeof steps[0]; i++) {
		struct outcome o = run(text, len, steps[i], head, eof_kind);
		if (!ok(o.rc == 1, "%s (step %zu): complete", name, steps[i])) {
			diag("rc %d why %s", o.rc, o.why);
			continue;
		}
		is_int(o.got.status, status, "%s (step %zu): status", name, steps[i]);
		is_int(o.got.heads, 1, "%s (step %zu): one head delivered", name, steps[i]);
		if (headers)
			is_str(o.got.headers, headers, "%s (step %zu): headers", name, steps[i]);
		is_mem(o.got.body, o.got.blen, body, strlen(body), "%s (step %zu): body", name,
		       steps[i]);
		if (used != (size_t)-1)
			is_uint(o.used, used, "%s (step %zu): bytes used", name, steps[i]);
		is_int(o.keep_alive, keep_alive, "%s (step %zu): keep-alive", name, steps[i]);
	}
}

static void expect_err(const char *name, const char *text, int eof_kind, int err)
{
	size_t steps[] = {0, 1};
	for (size_t i = 0; i < 2; i++) {
		struct outcome o = run(text, strlen(text), steps[i], 0, eof_kind);
		if (!is_int(o.rc, err, "%s (step %zu): error %s", name, steps[i], evf_error_name(err)))
			diag("why: %s", o.why);
		else
			ok(o.why[0] != '\0', "%s (step %zu): has a reason: %s", name, steps[i], o.why);
	}
}

#define TE_CHUNKED "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"

/* expect_err's error kind, and a reason that names what was wrong in words,
 * not with an llhttp error name. */
static void expect_why(const char *name, const char *text, int err, const char *about)
{
	size_t steps[] = {0, 1};
	for (size_t i = 0; i < 2; i++) {
		struct outcome o = run(text, strlen(text), steps[i], 0, 0);
		is_int(o.rc, err, "%s (step %zu): error %s", name, steps[i], evf_error_name(err));
		if (!ok(strstr(o.why, about) != NULL && strstr(o.why, "HPE_") == NULL,
		        "%s (step %zu): the reason says \"%s\"", name, steps[i], about))
			diag("why: %s", o.why);
	}
}

/* What a user reads when llhttp refuses a response (issue 9). */
static void error_texts(void)
{
	static const struct {
		const char *name, *text, *about;
	} cases[] = {
		{"an HTML page without a status line", "<html>hello</html>\n",
		 "the server did not answer with HTTP/1.x"},
		{"an SSH banner", "SSH-2.0-OpenSSH_9.2\r\n", "the server did not answer with HTTP/1.x"},
		{"HTTP/2 in a status line", "HTTP/2 200\r\n\r\n", "unsupported HTTP version"},
		{"a status code with a letter", "HTTP/1.1 2x0 OK\r\n\r\n",
		 "the server's status line has an invalid status code"},
		{"a four-digit status code", "HTTP/1.1 2000 OK\r\n\r\n", "invalid status code"},
		{"status 000", "HTTP/1.1 000 Zero\r\nContent-Length: 0\r\n\r\n",
		 "invalid status code (000)"},
		{"a space in a header name", "HTTP/1.1 200 OK\r\nX A: 1\r\nContent-Length: 0\r\n\r\n",
		 "the server sent an invalid header line"},
		{"a header line starting with a space",
		 "HTTP/1.1 200 OK\r\n X: 1\r\nContent-Length: 0\r\n\r\n", "starts with whitespace"},
		{"CR without LF in a header line", "HTTP/1.1 200 OK\r\nX: 1\rX\r\n\r\n",
		 "does not end in CRLF"},
		{"Content-Length: +5", "HTTP/1.1 200 OK\r\nContent-Length: +5\r\n\r\nhello",
		 "the server sent an invalid Content-Length"},
		{"two Content-Length", "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 5\r\n"
		 "\r\nhello", "ambiguous body length (Duplicate Content-Length)"},
		{"Content-Length and Transfer-Encoding",
		 "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n",
		 "ambiguous body length"},
		{"a chunk size of 'zz'", TE_CHUNKED "zz\r\nhello\r\n0\r\n\r\n",
		 "the server sent an invalid chunk size"},
		{"chunk data without CRLF", TE_CHUNKED "5\r\nhelloXX0\r\n\r\n",
		 "a line or chunk of the response does not end in CRLF"},
		{"an unterminated quoted chunk extension", TE_CHUNKED "5;a=\"b\r\nhello\r\n0\r\n\r\n",
		 "the server sent an invalid chunk extension"},
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
		expect_why(cases[i].name, cases[i].text, EVF_ERR_PROTOCOL, cases[i].about);
}

/*
 * Chunk-size lines (RFC 9112, 7.1, 7.1.1 and RFC 9110, 5.6.4): every valid
 * form is accepted, whatever llhttp's mode; llhttp 8 itself refuses a
 * quoted-pair, BWS, and a second extension after a token value.
 */
static void chunk_lines(void)
{
	static const struct {
		const char *name, *chunks, *body;
	} good[] = {
		{"a quoted-pair in a quoted extension value (issue 9)",
		 "1a;name=\"q;uo\\\"ted\"\r\nabcdefghijklmnopqrstuvwxyz\r\n0\r\n\r\n",
		 "abcdefghijklmnopqrstuvwxyz"},
		{"token values, a name alone, several extensions",
		 "5;a=b;c;d=e\r\nhello\r\n6;x=1;y=2\r\n world\r\n0\r\n\r\n", "hello world"},
		{"quoted values: empty, escaped backslash and quote, ';' '=' and spaces",
		 "5;a=\"\";b=\"\\\\\";c=\"\\\"\";d=\"x; y=z\"\r\nhello\r\n0\r\n\r\n", "hello"},
		{"BWS before ';', around '=' and after ';'",
		 "5 ;a=b\r\nhello\r\n6\t; a = \"v\" ;\tb =\tc ; d\r\n world\r\n0 ; z\r\n\r\n",
		 "hello world"},
		{"obs-text and a quoted-pair of obs-text or HTAB in a quoted value",
		 "5;a=\"\x80\xff\";b=\"\\\xa0\\\t\"\r\nhello\r\n0\r\n\r\n", "hello"},
		{"leading zeros, upper and lower case hex",
		 "0005\r\nhello\r\n00B;x=1\r\n world, hi!\r\n000\r\n\r\n", "hello world, hi!"},
		{"extensions on the last chunk, then trailers",
		 "5;a=1\r\nhello\r\n0;last=\"yes\\!\"\r\nX-Trailer: t\r\nX-Other: u\r\n\r\n", "hello"},
	};
	for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
		char text[512];
		snprintf(text, sizeof text, TE_CHUNKED "%s", good[i].chunks);
		expect_ok(good[i].name, text, 0, 0, 200, NULL, good[i].body, strlen(text), 1);
	}
	const char *more = TE_CHUNKED "3;q=\"a\\\"b\"\r\nabc\r\n0\r\n\r\nHTTP/1.1 200 OK\r\n";
	struct outcome o = run(more, strlen(more), 1, 0, 0);
	ok(o.rc == 1 && o.used == strlen(more) - 17 && o.got.blen == 3,
	   "extensions, byte by byte: the response ends at its last CRLF, not after");

	static const struct {
		const char *name, *chunks, *about;
	} bad[] = {
		/* what llhttp refuses: it still reads the size and the line end */
		{"bare LF after the chunk size", "5\nhello\r\n0\r\n\r\n", "chunk size"},
		{"bare LF after a chunk extension", "5;a=b\nhello\r\n0\r\n\r\n", "chunk extension"},
		{"CR without LF after a chunk extension", "5;a=\"b\"\rXhello\r\n0\r\n\r\n", "LF"},
		{"chunk data not followed by CRLF", "5\r\nhelloXX0\r\n\r\n", "CRLF"},
		{"chunk data after an extension not followed by CRLF",
		 "5;a=\"\\\"\"\r\nhello\n0\r\n\r\n", "CRLF"},
		{"a chunk size that is not hex", "5x;a=b\r\nhello\r\n0\r\n\r\n", "chunk size"},
		{"an extension without a chunk size", ";a=b\r\nhello\r\n0\r\n\r\n", "chunk size"},
		{"a chunk size past 64 bits, with an extension",
		 "10000000000000000;a=b\r\nhello\r\n0\r\n\r\n", "overflow"},
		/* what http1.c refuses in the extensions */
		{"a control character in an extension name", "5;a\001=b\r\nhello\r\n0\r\n\r\n",
		 "chunk extension"},
		{"a control character in a token value", "5;a=b\001\r\nhello\r\n0\r\n\r\n",
		 "chunk extension"},
		{"a control character in a quoted value", "5;a=\"b\001\"\r\nhello\r\n0\r\n\r\n",
		 "chunk extension"},
		{"DEL in a quoted value", "5;a=\"b\177\"\r\nhello\r\n0\r\n\r\n", "chunk extension"},
		{"a quoted-pair of a control character", "5;a=\"\\\001\"\r\nhello\r\n0\r\n\r\n",
		 "chunk extension"},
		{"an unterminated quoted value", "5;a=\"bc\r\nhello\r\n0\r\n\r\n", "chunk extension"},
		{"a quoted value ending in a backslash", "5;a=\"bc\\\r\nhello\r\n0\r\n\r\n",
		 "chunk extension"},
		{"an empty extension name", "5;=b\r\nhello\r\n0\r\n\r\n", "chunk extension"},
		{"';' and nothing after it", "5;\r\nhello\r\n0\r\n\r\n", "chunk extension"},
		{"'=' and no value", "5;a=\r\nhello\r\n0\r\n\r\n", "chunk extension"},
		{"whitespace inside a token value", "5;a=b c\r\nhello\r\n0\r\n\r\n", "chunk extension"},
		{"bytes after a closing quote", "5;a=\"b\"c\r\nhello\r\n0\r\n\r\n", "chunk extension"},
		{"whitespace at the end of the line", "5;a=b \r\nhello\r\n0\r\n\r\n",
		 "chunk extension"},
		{"whitespace after the size alone", "5 \r\nhello\r\n0\r\n\r\n", "chunk extension"},
		{"whitespace inside the size", "5 5\r\nhello\r\n0\r\n\r\n", "chunk extension"},
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		char text[512];
		snprintf(text, sizeof text, TE_CHUNKED "%s", bad[i].chunks);
		expect_why(bad[i].name, text, EVF_ERR_PROTOCOL, bad[i].about);
	}
}

static void request_heads(void)
{
	size_t len;
	char *r = http1_request("GET", "/a?b=1", "h.test:8443", "ua/1", NULL, 0, &len);
	is_str(r, "GET /a?b=1 HTTP/1.1\r\nHost: h.test:8443\r\nUser-Agent: ua/1\r\n"
	          "Accept: */*\r\n\r\n", "default request head");
	is_uint(len, strlen(r), "length matches");
	free(r);
	const char *extra[] = {"Accept: text/plain", "X-Test: yes", "User-Agent:"};
	r = http1_request("HEAD", "/", "h.test", "ua/1", extra, 3, &len);
	is_str(r, "HEAD / HTTP/1.1\r\nHost: h.test\r\nAccept: text/plain\r\nX-Test: yes\r\n\r\n",
	       "headers replace and remove built-in ones");
	free(r);
	const char *host[] = {"host: other.test"};
	r = http1_request("GET", "/", "h.test", "ua", host, 1, &len);
	is_str(r, "GET / HTTP/1.1\r\nUser-Agent: ua\r\nAccept: */*\r\nhost: other.test\r\n\r\n",
	       "a Host header replaces the built-in one");
	free(r);
}

/* on_wire (EVF_DEBUG_WIRE_IN): the bytes the parser took, an interim
 * response forgotten at its end. */
struct wire {
	char buf[1024];
	size_t len;
	int resets;
};

static void on_wire(void *ctx, const char *data, size_t len)
{
	struct wire *w = ctx;
	if (!data) {
		w->len = 0;
		w->resets++;
		return;
	}
	if (w->len + len <= sizeof w->buf)
		memcpy(w->buf + w->len, data, len);
	w->len += len;
}

static int wire_body(void *ctx, const char *d, size_t n)
{
	(void)ctx, (void)d, (void)n;
	return 0;
}

static int wire_head(void *ctx, const evf_response *r)
{
	(void)ctx, (void)r;
	return 0;
}

/* text is interim bytes (skip of them), the final response, then extra
 * bytes past it (tail of them): on_wire gives the final response exactly. */
static void expect_wire(const char *name, const char *text, size_t skip, size_t tail)
{
	size_t len = strlen(text), steps[] = {0, 1, 3, 7};
	for (size_t i = 0; i < sizeof steps / sizeof steps[0]; i++) {
		struct wire w = {.len = 0};
		struct http1_parser h;
		memset(&h, 0, sizeof h);
		struct http1_limits lim = {4096, 20};
		struct http1_sink sink = {.on_head = wire_head, .on_body = wire_body,
		                          .on_wire = on_wire};
		http1_init(&h, &lim, &sink, &w, 0);
		size_t off = 0, step = steps[i] ? steps[i] : len;
		int rc = 0;
		while (off < len && rc == 0) {
			size_t n = len - off < step ? len - off : step, used = 0;
			rc = http1_feed(&h, text + off, n, &used);
			off += n;
		}
		is_int(rc, 1, "wire %s (step %zu): complete", name, steps[i]);
		is_int(w.resets, skip ? 1 : 0, "wire %s (step %zu): interim forgotten", name, steps[i]);
		is_mem(w.buf, w.len, text + skip, len - skip - tail, "wire %s (step %zu): the bytes",
		       name, steps[i]);
		http1_release(&h);
	}
}

int main(void)
{
	expect_wire("chunked after 100", "HTTP/1.1 100 Continue\r\nX-I: 1\r\n\r\n"
	            "HTTP/1.1 200 Fine  Thanks\r\nTransfer-Encoding: chunked\r\nX-A:  b \r\n\r\n"
	            "5;ext=\"q\\\"x\" ; e2\r\nhello\r\n0\r\nX-T: 1\r\n\r\nEXTRA", 33, 5);
	expect_wire("length", "HTTP/1.0 404 Not Here\r\nContent-Length: 3\r\n\r\nabcXY", 0, 2);

	const char *cl = "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nX-A:  spaced value  \r\n"
	                 "X-Empty:\r\n\r\nhello";
	expect_ok("content-length", cl, 0, 0, 200, "Content-Length=5;X-A=spaced value;X-Empty=;",
	          "hello", strlen(cl), 1);

	const char *chunked = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
	                      "5;ext=1\r\nhello\r\n6\r\n world\r\n0\r\nX-Trailer: t\r\n\r\n";
	expect_ok("chunked", chunked, 0, 0, 200, NULL, "hello world", strlen(chunked), 1);

	const char *cont = "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: x\r\n\r\n"
	                   "HTTP/1.1 201 Created\r\nContent-Length: 2\r\n\r\nok";
	expect_ok("interim 1xx skipped", cont, 0, 0, 201, "Content-Length=2;", "ok",
	          strlen(cont), 1);

	const char *head = "HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n";
	expect_ok("HEAD: no body despite Content-Length", head, 1, 0, 200, NULL, "",
	          strlen(head), 1);

	const char *nocontent = "HTTP/1.1 204 No Content\r\n\r\n";
	expect_ok("204", nocontent, 0, 0, 204, "", "", strlen(nocontent), 1);

	const char *closed = "HTTP/1.1 200 OK\r\nConnection: close\r\n\r\nuntil the end";
	expect_ok("close-delimited, clean EOF", closed, 0, 1, 200, NULL, "until the end",
	          (size_t)-1, 0);
	expect_err("close-delimited, EOF without close_notify", closed, 2, EVF_ERR_TRUNCATED);

	const char *http10 = "HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\nhi";
	expect_ok("HTTP/1.0 is not kept alive", http10, 0, 0, 200, NULL, "hi", strlen(http10), 0);

	const char *conn_close = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nhi";
	expect_ok("Connection: close", conn_close, 0, 0, 200, NULL, "hi", strlen(conn_close), 0);

	/* more bytes than framed: only the response's share is used */
	const char *extra = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nhiEXTRA";
	struct outcome o = run(extra, strlen(extra), 0, 0, 0);
	ok(o.rc == 1 && o.used == strlen(extra) - 5, "extra bytes after the body are not used");

	expect_err("short Content-Length body", "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc",
	           1, EVF_ERR_TRUNCATED);
	expect_err("chunked without last chunk",
	           "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n", 1,
	           EVF_ERR_TRUNCATED);
	expect_err("EOF in the head", "HTTP/1.1 200 OK\r\nContent-Le", 1, EVF_ERR_TRUNCATED);
	expect_err("EOF before any byte", "", 1, EVF_ERR_NETWORK);
	expect_err("conflicting Content-Length",
	           "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello!", 0,
	           EVF_ERR_PROTOCOL);
	expect_err("Content-Length with Transfer-Encoding",
	           "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n"
	           "5\r\nhello\r\n0\r\n\r\n",
	           0, EVF_ERR_PROTOCOL);
	expect_err("bad chunk size",
	           "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nhello\r\n", 0,
	           EVF_ERR_PROTOCOL);
	expect_err("overflowing chunk size",
	           "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nfffffffffffffffffff\r\n",
	           0, EVF_ERR_PROTOCOL);
	expect_err("overflowing Content-Length",
	           "HTTP/1.1 200 OK\r\nContent-Length: 99999999999999999999999\r\n\r\n", 0,
	           EVF_ERR_PROTOCOL);
	expect_err("garbage status line", "HTTP/1.1 2x0 OK\r\n\r\n", 0, EVF_ERR_PROTOCOL);
	expect_err("no status line (HTTP/0.9)", "<html>hello</html>\n", 0, EVF_ERR_PROTOCOL);
	expect_err("101 never asked for", "HTTP/1.1 101 Switching Protocols\r\n\r\n", 0,
	           EVF_ERR_PROTOCOL);

	/* limits: 4096 head bytes and 20 header lines in run(); passing one
	 * is EVF_ERR_TOO_LARGE, as for max_body, not a protocol error */
	char big[8192];
	snprintf(big, sizeof big, "HTTP/1.1 200 OK\r\nX-Big: %05000d\r\n\r\n", 0);
	expect_err("header larger than the limit", big, 0, EVF_ERR_TOO_LARGE);
	size_t o2 = (size_t)snprintf(big, sizeof big, "HTTP/1.1 200 OK\r\n");
	for (int i = 0; i < 30; i++)
		o2 += (size_t)snprintf(big + o2, sizeof big - o2, "X-%d: v\r\n", i);
	snprintf(big + o2, sizeof big - o2, "Content-Length: 0\r\n\r\n");
	expect_err("more header lines than the limit", big, 0, EVF_ERR_TOO_LARGE);
	o2 = (size_t)snprintf(big, sizeof big, "HTTP/1.1 200 OK\r\n");
	for (int i = 0; i < 18; i++)
		o2 += (size_t)snprintf(big + o2, sizeof big - o2, "X-%d: v\r\n", i);
	snprintf(big + o2, sizeof big - o2, "Content-Length: 0\r\n\r\n");
	o = run(big, strlen(big), 1, 0, 0);
	ok(o.rc == 1, "19 header lines are within the limit");

	/* the limit counts raw bytes, whatever llhttp skips or drops */
	size_t o3 = 0;
	for (int i = 0; i < 3000; i++)
		o3 += (size_t)snprintf(big + o3, sizeof big - o3, "\r\n");
	snprintf(big + o3, sizeof big - o3, "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n");
	expect_err("6000 bytes of blank lines before the status line", big, 0, EVF_ERR_TOO_LARGE);
	o3 = 0;
	for (int i = 0; i < 200; i++)
		o3 += (size_t)snprintf(big + o3, sizeof big - o3, "HTTP/1.1 100 Continue\r\n\r\n");
	snprintf(big + o3, sizeof big - o3, "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n");
	expect_err("a flood of interim 100 responses", big, 0, EVF_ERR_TOO_LARGE);
	snprintf(big, sizeof big, "HTTP/1.1 200 OK\r\nX-Pad:%5000s\r\nContent-Length: 0\r\n\r\n", "v");
	expect_err("a header padded with 5000 blanks", big, 0, EVF_ERR_TOO_LARGE);
	expect_err("status 000", "HTTP/1.1 000 Zero\r\nContent-Length: 0\r\n\r\n", 0,
	           EVF_ERR_PROTOCOL);
	const char *nc = "HTTP/1.1 204 No Content\r\nContent-Length: 3\r\n\r\nabc";
	o = run(nc, strlen(nc), 0, 0, 0);
	ok(o.rc == 1 && o.got.blen == 0 && o.used == strlen(nc) - 3,
	   "204 with Content-Length: no body, the 3 bytes are left over (not reused)");

	const char *i103 = "HTTP/1.1 103 Early Hints\r\nTransfer-Encoding: chunked\r\n\r\n"
	                   "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok";
	expect_ok("a 1xx naming a body has none", i103, 0, 0, 200, "Content-Length=2;", "ok",
	          strlen(i103), 1);
	const char *i100 = "HTTP/1.1 100 Continue\r\nContent-Length: 5\r\n\r\n"
	                   "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok";
	expect_ok("a 100 with Content-Length has no body", i100, 0, 0, 200, NULL, "ok",
	          strlen(i100), 1);
	o3 = (size_t)snprintf(big, sizeof big,
	                      "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nok\r\n0\r\n");
	for (int i = 0; i < 10; i++)
		o3 += (size_t)snprintf(big + o3, sizeof big - o3, "X-T: %0500d\r\n", i);
	snprintf(big + o3, sizeof big - o3, "\r\n");
	expect_err("5 KB of trailers past the 4 KB limit", big, 0, EVF_ERR_TOO_LARGE);
	const char *tr = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nok\r\n0\r\n"
	                 "X-Trailer: t\r\n\r\n";
	expect_ok("small trailers are accepted and not kept", tr, 0, 0, 200, NULL, "ok",
	          strlen(tr), 1);

	chunk_lines();
	error_texts();
	request_heads();
	return done_testing();
}
