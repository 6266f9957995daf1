/*
 * http1.c - HTTP/1.1 protocol layer: builds request heads and parses
 * responses with llhttp, under limits on the head's size and line count
 * (passing one is EVF_ERR_TOO_LARGE; broken framing is EVF_ERR_PROTOCOL).
 *
 * The parser stops at the end of the final response (llhttp is paused in
 * on_message_complete) so the caller learns how many bytes belonged to it:
 * anything after that poisons a keep-alive connection.
 *
 * llhttp 8 refuses valid chunk extensions (a quoted-pair, BWS, a second
 * extension after a token value), strict mode or not.  So llhttp is also
 * paused where a chunk-size line starts; http1_feed gives it the size and
 * the line end, and checks the extensions between them itself (RFC 9112,
 * 7.1.1): llhttp never sees them, and evfetch ignores them.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "internal.h"
#include "http1.h"

#define H(p) ((struct http1_parser *)(p)->data)

static void head_free(struct http1_parser *h);

static int fail(struct http1_parser *h, int err, const char *why)
{
	if (!h->error) {
		h->error = err;
		h->why = strdup(why); /* NULL when memory ran out: see http1_why */
	}
	return -1;
}

/* Append to the head buffer (bounded: http1_feed limits the raw head). */
static int head_append(struct http1_parser *h, const char *at, size_t len)
{
	if (evf_buf_add(&h->hbuf, &h->hlen, &h->hcap, at, len, 512) != 0)
		return fail(h, EVF_ERR_NOMEM, "out of memory for the response head");
	return 0;
}

static int terminate(struct http1_parser *h)
{
	/* a NUL separates fields; counted like the CRLF it replaces */
	return head_append(h, "", 1);
}

/*
 * llhttp reads a chunk-size line next: pause it there (after_headers_complete
 * or the next chunk's size follows on resume) so that http1_feed can take
 * the line's extensions out of its way.
 */
static int chunk_line_next(struct http1_parser *h)
{
	if (!(h->p.flags & F_CHUNKED))
		return 0;
	h->cline = CL_START;
	return HPE_PAUSED;
}

static int on_message_begin(llhttp_t *p)
{
	struct http1_parser *h = H(p);
	h->started = 1;
	h->hlen = 0;
	h->nheaders = 0;
	h->in_field = 0;
	h->interim = 0;
	h->head_done = 0;
	return 0;
}

/* Trailer fields go to the (by then empty) head buffer, within the head's
 * limits of bytes and lines. */
static int trailer_bytes(struct http1_parser *h, const char *at, size_t len, int field)
{
	h->trailer_raw += len;
	if (h->trailer_raw > h->limits.max_header_bytes) {
		char why[96];
		snprintf(why, sizeof why, "response trailers larger than %zu bytes",
		         h->limits.max_header_bytes);
		return fail(h, EVF_ERR_TOO_LARGE, why);
	}
	if (field && !h->in_field) {
		if (++h->ntrailers > h->limits.max_headers)
			return fail(h, EVF_ERR_TOO_LARGE, "too many response trailer lines");
		h->in_field = 1;
	}
	return head_append(h, at, len) ? -1 : 0;
}

static int on_header_field(llhttp_t *p, const char *at, size_t len)
{
	struct http1_parser *h = H(p);
	if (h->head_done)
		return trailer_bytes(h, at, len, 1);
	if (!h->in_field) {
		if (++h->nheaders > h->limits.max_headers) {
			char why[96];
			snprintf(why, sizeof why, "more than %u response header lines",
			         h->limits.max_headers);
			return fail(h, EVF_ERR_TOO_LARGE, why);
		}
		h->in_field = 1;
	}
	return head_append(h, at, len) ? -1 : 0;
}

static int on_header_field_complete(llhttp_t *p)
{
	struct http1_parser *h = H(p);
	h->in_field = 0;
	return terminate(h) ? -1 : 0;
}

static int on_header_value(llhttp_t *p, const char *at, size_t len)
{
	struct http1_parser *h = H(p);
	if (h->head_done)
		return trailer_bytes(h, at, len, 0);
	return head_append(h, at, len) ? -1 : 0;
}

static int on_header_value_complete(llhttp_t *p)
{
	return terminate(H(p)) ? -1 : 0;
}

/* Trim blanks around a header value in place. */
static char *trim(char *s)
{
	while (*s == ' ' || *s == '\t')
		s++;
	size_t n = strlen(s);
	while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\t'))
		s[--n] = '\0';
	return s;
}

static int on_headers_complete(llhttp_t *p)
{
	struct http1_parser *h = H(p);
	int status = p->status_code;

	if (status < 100 || status > 999) {
		char why[96];
		snprintf(why, sizeof why, "the server's status line has an invalid status code (%03d)",
		         status);
		return fail(h, EVF_ERR_PROTOCOL, why);
	}
	if (status == 101)
		return fail(h, EVF_ERR_PROTOCOL, "unexpected 101 Switching Protocols");
	if (status >= 100 && status < 200) {
		/* interim response: forget it, the final one follows.  1 tells
		 * llhttp it has no body even if it names a length (RFC 9110,
		 * 15.2): its bytes belong to the final response */
		h->interim = 1;
		h->hlen = 0;
		h->nheaders = 0;
		if (h->sink->on_interim)
			h->sink->on_interim(h->ctx, status);
		return 1;
	}
	h->head_done = 1;
	evf_header stackh[32];
	evf_header *hv = stackh;
	if (h->nheaders > 32) {
		hv = calloc(h->nheaders, sizeof *hv);
		if (!hv)
			return fail(h, EVF_ERR_NOMEM, "out of memory for the response head");
	}
	char *s = h->hbuf;
	for (unsigned i = 0; i < h->nheaders; i++) {
		hv[i].name = s;
		s += strlen(s) + 1;
		size_t vlen = strlen(s);
		hv[i].value = trim(s);
		s += vlen + 1;
	}
	evf_response resp = {
		.status = status,
		.http_major = p->http_major,
		.http_minor = p->http_minor,
		.headers = hv,
		.nheaders = h->nheaders,
	};
	int rc = h->sink->on_head ? h->sink->on_head(h->ctx, &resp) : 0;
	if (hv != stackh)
		free(hv);
	/* the head is only valid during on_head: give its memory back, as a
	 * long body would otherwise keep it for nothing */
	head_free(h);
	if (rc < 0)
		return fail(h, rc, "stopped after the response head");
	/* 1 tells llhttp that no body follows: a HEAD request, or a status
	 * that never has one (RFC 9110, 6.4.1), whatever Content-Length says */
	if (h->head_request || status == 204 || status == 304)
		return 1;
	return chunk_line_next(h);
}

static int on_body(llhttp_t *p, const char *at, size_t len)
{
	struct http1_parser *h = H(p);
	int rc = h->sink->on_body ? h->sink->on_body(h->ctx, at, len) : 0;
	if (rc < 0)
		return fail(h, rc, "stopped while receiving the body");
	return 0;
}

static int on_chunk_complete(llhttp_t *p)
{
	/* after the last chunk (F_TRAILING) only the message's end follows */
	if (p->flags & F_TRAILING)
		return 0;
	return chunk_line_next(H(p));
}

static int deliver_trailers(struct http1_parser *h)
{
	evf_header stackh[32], *hv = stackh;
	unsigned n = h->ntrailers;
	if (n > 32 && !(hv = calloc(n, sizeof *hv)))
		return fail(h, EVF_ERR_NOMEM, "out of memory for the response trailers");
	char *s = h->hbuf, *end = h->hbuf + h->hlen;
	unsigned k = 0;
	while (k < n && s < end) {
		hv[k].name = s;
		s += strlen(s) + 1;
		if (s >= end)
			break;
		size_t vlen = strlen(s);
		hv[k++].value = trim(s);
		s += vlen + 1;
	}
	int rc = h->sink->on_trailers(h->ctx, hv, k);
	if (hv != stackh)
		free(hv);
	head_free(h);
	return rc < 0 ? fail(h, rc, "stopped at the response trailers") : 0;
}

static int on_message_complete(llhttp_t *p)
{
	struct http1_parser *h = H(p);
	if (h->interim) {
		h->interim = 0;
		if (!h->sink->on_wire)
			return 0;
		/* http1_feed tells on_wire where the interim response ended */
		h->interim_end = 1;
		return HPE_PAUSED;
	}
	if (h->ntrailers && h->sink->on_trailers && deliver_trailers(h) < 0)
		return -1;
	h->complete = 1;
	h->keep_alive = llhttp_should_keep_alive(p) != 0;
	return HPE_PAUSED;
}

static const llhttp_settings_t settings = {
	.on_message_begin = on_message_begin,
	.on_header_field = on_header_field,
	.on_header_field_complete = on_header_field_complete,
	.on_header_value = on_header_value,
	.on_header_value_complete = on_header_value_complete,
	.on_headers_complete = on_headers_complete,
	.on_body = on_body,
	.on_chunk_complete = on_chunk_complete,
	.on_message_complete = on_message_complete,
};

void http1_init(struct http1_parser *h, const struct http1_limits *lim,
                const struct http1_sink *sink, void *ctx, int head_request)
{
	http1_release(h);
	memset(h, 0, sizeof *h);
	llhttp_init(&h->p, HTTP_RESPONSE, &settings);
	h->p.data = h;
	h->limits = *lim;
	h->sink = sink;
	h->ctx = ctx;
	h->head_request = head_request != 0;
}

int http1_content_length(const struct http1_parser *h, uint64_t *len)
{
	if (!(h->p.flags & F_CONTENT_LENGTH))
		return 0;
	*len = h->p.content_length;
	return 1;
}

/* The head was delivered: its buffer is no longer needed. */
static void head_free(struct http1_parser *h)
{
	free(h->hbuf);
	h->hbuf = NULL;
	h->hcap = h->hlen = 0;
}

void http1_release(struct http1_parser *h)
{
	head_free(h);
	free(h->why);
	h->why = NULL;
}

const char *http1_why(const struct http1_parser *h)
{
	if (h->why)
		return h->why;
	return h->error ? evf_strerror(h->error) : "";
}

/*
 * What the llhttp errors a response can cause mean to a user.  llhttp's
 * reason follows in parentheses where it says more (which character, an
 * overflow, a duplicate); its error names (HPE_*) say nothing to a user.
 */
static const struct {
	llhttp_errno_t e;
	int with_reason;
	const char *text;
} llhttp_texts[] = {
	{HPE_INVALID_CONSTANT, 0, "the server did not answer with HTTP/1.x"},
	{HPE_INVALID_VERSION, 1, "the server's status line has an invalid or unsupported HTTP version"},
	{HPE_INVALID_STATUS, 1, "the server's status line has an invalid status code"},
	{HPE_INVALID_HEADER_TOKEN, 1, "the server sent an invalid header line"},
	{HPE_UNEXPECTED_SPACE, 0, "the server sent a header line that starts with whitespace"},
	{HPE_LF_EXPECTED, 1, "a line or chunk of the response does not end in CRLF"},
	{HPE_CR_EXPECTED, 1, "a line or chunk of the response does not end in CRLF"},
	{HPE_STRICT, 1, "a line or chunk of the response does not end in CRLF"},
	{HPE_INVALID_CONTENT_LENGTH, 1, "the server sent an invalid Content-Length"},
	{HPE_UNEXPECTED_CONTENT_LENGTH, 1, "the server sent an ambiguous body length"},
	{HPE_INVALID_TRANSFER_ENCODING, 1, "the server sent an invalid Transfer-Encoding"},
	{HPE_INVALID_CHUNK_SIZE, 1, "the server sent an invalid chunk size"},
	{HPE_CLOSED_CONNECTION, 0, "the server sent more data after announcing Connection: close"},
	{HPE_INVALID_EOF_STATE, 0, "the connection closed in the middle of the response"},
};

static int llhttp_failure(struct http1_parser *h, llhttp_errno_t e)
{
	if (h->error)
		return h->error;
	const char *reason = llhttp_get_error_reason(&h->p);
	if (reason && !*reason)
		reason = NULL;
	const char *text = NULL;
	int with_reason = 1;
	for (size_t i = 0; i < sizeof llhttp_texts / sizeof llhttp_texts[0]; i++) {
		if (llhttp_texts[i].e == e) {
			text = llhttp_texts[i].text;
			with_reason = llhttp_texts[i].with_reason;
			break;
		}
	}
	char why[192];
	if (!text) /* not an error a response should cause: name it */
		snprintf(why, sizeof why, "the response could not be parsed (%s%s%s)",
		         llhttp_errno_name(e), reason ? ": " : "", reason ? reason : "");
	else if (with_reason && reason)
		snprintf(why, sizeof why, "%s (%s)", text, reason);
	else
		snprintf(why, sizeof why, "%s", text);
	fail(h, EVF_ERR_PROTOCOL, why);
	return h->error;
}

static int is_hex(unsigned char c)
{
	return (c >= '0' && c <= '9') || ((c | 0x20) >= 'a' && (c | 0x20) <= 'f');
}

/* tchar, RFC 9110, 5.6.2 */
static int is_tchar(unsigned char c)
{
	return (c >= '0' && c <= '9') || ((c | 0x20) >= 'a' && (c | 0x20) <= 'z') ||
	       (c != '\0' && strchr("!#$%&'*+-.^_`|~", c) != NULL);
}

/* qdtext, RFC 9110, 5.6.4: HTAB, SP, VCHAR but '"' and '\\', obs-text */
static int is_qdtext(unsigned char c)
{
	return c == '\t' || (c >= 0x20 && c != 0x7f && c != '"' && c != '\\');
}

/* The end of one extension: BWS (then ws), ';' or the CR of the line end. */
static enum chunk_line ext_end(unsigned char c, enum chunk_line ws)
{
	if (c == ' ' || c == '\t')
		return ws;
	if (c == ';')
		return CL_NAME_START;
	return c == '\r' ? CL_NONE : CL_BAD;
}

/*
 * One byte of chunk-ext (RFC 9112, 7.1.1):
 *   *( BWS ";" BWS name [ BWS "=" BWS ( token / quoted-string ) ] )
 * CL_NONE at the CR that ends the line.
 */
static enum chunk_line chunk_ext_next(enum chunk_line st, unsigned char c)
{
	int ws = c == ' ' || c == '\t';
	switch (st) {
	case CL_SEMI:
		return ws ? CL_SEMI : c == ';' ? CL_NAME_START : CL_BAD;
	case CL_NAME_START:
		return ws ? CL_NAME_START : is_tchar(c) ? CL_NAME : CL_BAD;
	case CL_NAME:
		if (is_tchar(c))
			return CL_NAME;
		return c == '=' ? CL_VALUE_START : ext_end(c, CL_NAME_END);
	case CL_NAME_END:
		if (ws)
			return CL_NAME_END;
		return c == '=' ? CL_VALUE_START : c == ';' ? CL_NAME_START : CL_BAD;
	case CL_VALUE_START:
		if (ws)
			return CL_VALUE_START;
		return c == '"' ? CL_QUOTED : is_tchar(c) ? CL_TOKEN : CL_BAD;
	case CL_TOKEN:
		return is_tchar(c) ? CL_TOKEN : ext_end(c, CL_SEMI);
	case CL_QUOTED:
		if (c == '"')
			return CL_VALUE_END;
		return c == '\\' ? CL_QUOTED_PAIR : is_qdtext(c) ? CL_QUOTED : CL_BAD;
	case CL_QUOTED_PAIR:
		/* HTAB, SP, VCHAR, obs-text */
		return c == '\t' || (c >= 0x20 && c != 0x7f) ? CL_QUOTED : CL_BAD;
	case CL_VALUE_END:
		return ext_end(c, CL_SEMI);
	default:
		return CL_BAD;
	}
}

/*
 * On a chunk-size line: how many of the len bytes llhttp reads next.  The
 * size digits; then, when an extension follows (BWS or ';' after at least
 * one digit), none until chunk_ext_skip is past it, else all the rest:
 * the line end, or whatever llhttp refuses.
 */
static size_t chunk_size_span(struct http1_parser *h, const char *data, size_t len)
{
	size_t i = 0;
	while (i < len && is_hex((unsigned char)data[i]))
		i++;
	if (i == len) {
		h->cline = CL_SIZE;
		return len;
	}
	char c = data[i];
	if ((i > 0 || h->cline == CL_SIZE) && (c == ';' || c == ' ' || c == '\t')) {
		h->cline = CL_SEMI;
		return i;
	}
	h->cline = CL_NONE;
	return len;
}

/* Check chunk extension bytes and consume them, up to the CR of the line
 * end, which is left for llhttp (it wants CRLF).  Returns the bytes used. */
static size_t chunk_ext_skip(struct http1_parser *h, const char *data, size_t len)
{
	for (size_t i = 0; i < len; i++) {
		enum chunk_line next = chunk_ext_next(h->cline, (unsigned char)data[i]);
		if (next == CL_BAD) {
			fail(h, EVF_ERR_PROTOCOL, "the server sent an invalid chunk extension");
			return i;
		}
		h->cline = next;
		if (next == CL_NONE)
			return i;
	}
	return len;
}

int http1_feed(struct http1_parser *h, const char *data, size_t len, size_t *used)
{
	*used = 0;
	if (h->error)
		return h->error;
	if (h->complete)
		return 1;
	size_t off = 0;
	while (off < len) {
		if (h->cline >= CL_SEMI) {
			size_t ext = chunk_ext_skip(h, data + off, len - off);
			if (h->sink->on_wire && ext)
				h->sink->on_wire(h->ctx, data + off, ext);
			off += ext;
			if (h->error)
				return h->error;
			continue;
		}
		size_t n = len - off;
		if (h->cline != CL_NONE) {
			n = chunk_size_span(h, data + off, n);
			if (n == 0)
				continue;
		}
		int in_head = !h->head_done;
		if (in_head) {
			/* every raw byte before the final head's end counts: leading
			 * blank lines, padding and interim 1xx heads included, so the
			 * limit bounds time as well as memory */
			size_t max = h->limits.max_header_bytes;
			size_t room = max > h->head_raw ? max - h->head_raw : 0;
			if (room == 0) {
				char why[96];
				snprintf(why, sizeof why, "response head larger than %zu bytes", max);
				fail(h, EVF_ERR_TOO_LARGE, why);
				return h->error;
			}
			if (n > room)
				n = room;
		}
		llhttp_errno_t e = llhttp_execute(&h->p, data + off, n);
		size_t took = n;
		if (e != HPE_OK) {
			const char *pos = llhttp_get_error_pos(&h->p);
			took = pos ? (size_t)(pos - (data + off)) : n;
		}
		if (in_head)
			h->head_raw += took;
		if (h->sink->on_wire && took)
			h->sink->on_wire(h->ctx, data + off, took);
		off += took;
		if (e == HPE_OK)
			continue;
		if (e == HPE_PAUSED && h->interim_end) {
			h->interim_end = 0;
			h->sink->on_wire(h->ctx, NULL, 0);
			llhttp_resume(&h->p);
			continue;
		}
		if (e == HPE_PAUSED && h->complete) {
			*used = off;
			return 1;
		}
		if (e == HPE_PAUSED && h->cline == CL_START) {
			llhttp_resume(&h->p);
			continue;
		}
		return llhttp_failure(h, e);
	}
	*used = len;
	return 0;
}

int http1_eof(struct http1_parser *h, int clean)
{
	if (h->error)
		return h->error;
	if (h->complete)
		return 1;
	if (!h->started) {
		fail(h, EVF_ERR_NETWORK, "the server closed the connection before responding");
		return h->error;
	}
	if (!h->head_done) {
		fail(h, EVF_ERR_TRUNCATED, "the connection closed inside the response head");
		return h->error;
	}
	if (llhttp_message_needs_eof(&h->p)) {
		if (!clean) {
			fail(h, EVF_ERR_TRUNCATED,
			     "the TLS connection ended without close_notify: the body may be truncated");
			return h->error;
		}
		llhttp_errno_t e = llhttp_finish(&h->p);
		if ((e == HPE_OK || e == HPE_PAUSED) && h->complete) {
			h->keep_alive = 0;
			return 1;
		}
		return llhttp_failure(h, e);
	}
	fail(h, EVF_ERR_TRUNCATED, "the connection closed before the response was complete");
	return h->error;
}

/* Does line start with "name:" (case-insensitive)? */
static int names_header(const char *line, const char *name)
{
	size_t n = strlen(name);
	return strncasecmp(line, name, n) == 0 && line[n] == ':';
}

/* An override that only names a header ("Name:" with no value) removes it. */
static int removes_header(const char *line)
{
	const char *c = strchr(line, ':');
	if (!c)
		return 0;
	for (c++; *c; c++)
		if (*c != ' ' && *c != '\t')
			return 0;
	return 1;
}

static int overridden(const char *const *extra, size_t n, const char *name)
{
	for (size_t i = 0; i < n; i++)
		if (names_header(extra[i], name))
			return 1;
	return 0;
}

/* Append the strings of a NULL-terminated list; the caller sized buf. */
static size_t put(char *buf, size_t o, const char *const *parts)
{
	for (; *parts; parts++) {
		size_t n = strlen(*parts);
		memcpy(buf + o, *parts, n);
		o += n;
	}
	return o;
}

char *http1_request(const char *method, const char *target,
                    const char *authority, const char *user_agent,
                    const char *const *extra, size_t nextra, size_t *len)
{
	/* built with memcpy: printf cost a tenth of a kept-alive request */
	size_t cap = strlen(method) + strlen(target) + strlen(authority) +
	             strlen(user_agent) + 64;
	for (size_t i = 0; i < nextra; i++)
		cap += strlen(extra[i]) + 2;
	char *buf = malloc(cap);
	if (!buf)
		return NULL;
	size_t o = put(buf, 0, (const char *const[]){method, " ", target, " HTTP/1.1\r\n", NULL});
	if (!overridden(extra, nextra, "host"))
		o = put(buf, o, (const char *const[]){"Host: ", authority, "\r\n", NULL});
	if (!overridden(extra, nextra, "user-agent") && *user_agent)
		o = put(buf, o, (const char *const[]){"User-Agent: ", user_agent, "\r\n", NULL});
	if (!overridden(extra, nextra, "accept"))
		o = put(buf, o, (const char *const[]){"Accept: */*\r\n", NULL});
	for (size_t i = 0; i < nextra; i++)
		if (!removes_header(extra[i]))
			o = put(buf, o, (const char *const[]){extra[i], "\r\n", NULL});
	o = put(buf, o, (const char *const[]){"\r\n", NULL});
	buf[o] = '\0';
	*len = o;
	return buf;
}
