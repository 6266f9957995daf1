/*
 * http1.c - HTTP/1.1 protocol layer: builds request heads and parses
 * responses with llhttp, under limits on the head's size and line count
 * (passing one is EVF_ERR_TOO_LARGE; broken framing is EVF_ERR_PROTOCOL).
 *
 * The parser stops at the end of the final response (llhttp is paused in
 * on_message_complete) so the caller learns how many bytes belonged to it:
 * anything after that poisons a keep-alive connection.
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
	if (h->hlen + len + 1 > h->hcap) {
		size_t cap = h->hcap ? h->hcap : 512;
		while (cap < h->hlen + len + 1)
			cap *= 2;
		char *nb = realloc(h->hbuf, cap);
		if (!nb)
			return fail(h, EVF_ERR_NOMEM, "out of memory for the response head");
		h->hbuf = nb;
		h->hcap = cap;
	}
	memcpy(h->hbuf + h->hlen, at, len);
	h->hlen += len;
	h->hbuf[h->hlen] = '\0';
	return 0;
}

static int terminate(struct http1_parser *h)
{
	/* a NUL separates fields; counted like the CRLF it replaces */
	return head_append(h, "", 1);
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

/* Trailer fields are not kept, only counted against the head limit. */
static int trailer_bytes(struct http1_parser *h, size_t len)
{
	h->trailer_raw += len;
	if (h->trailer_raw > h->limits.max_header_bytes) {
		char why[96];
		snprintf(why, sizeof why, "response trailers larger than %zu bytes",
		         h->limits.max_header_bytes);
		return fail(h, EVF_ERR_TOO_LARGE, why);
	}
	return 0;
}

static int on_header_field(llhttp_t *p, const char *at, size_t len)
{
	struct http1_parser *h = H(p);
	if (h->head_done)
		return trailer_bytes(h, len);
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
	if (h->head_done)
		return 0;
	h->in_field = 0;
	return terminate(h) ? -1 : 0;
}

static int on_header_value(llhttp_t *p, const char *at, size_t len)
{
	struct http1_parser *h = H(p);
	if (h->head_done)
		return trailer_bytes(h, len);
	return head_append(h, at, len) ? -1 : 0;
}

static int on_header_value_complete(llhttp_t *p)
{
	struct http1_parser *h = H(p);
	if (h->head_done)
		return 0;
	return terminate(h) ? -1 : 0;
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

	if (status < 100 || status > 999)
		return fail(h, EVF_ERR_PROTOCOL, "malformed response: status code out of range");
	if (status == 101)
		return fail(h, EVF_ERR_PROTOCOL, "unexpected 101 Switching Protocols");
	if (status >= 100 && status < 200) {
		/* interim response: forget it, the final one follows.  1 tells
		 * llhttp it has no body even if it names a length (RFC 9110,
		 * 15.2): its bytes belong to the final response */
		h->interim = 1;
		h->hlen = 0;
		h->nheaders = 0;
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
	int rc = h->sink.on_head ? h->sink.on_head(h->sink.ctx, &resp) : 0;
	if (hv != stackh)
		free(hv);
	/* the head is only valid during on_head: give its memory back, as a
	 * long body would otherwise keep it for nothing */
	head_free(h);
	if (rc < 0)
		return fail(h, rc, "stopped after the response head");
	/* 1 tells llhttp that no body follows: a HEAD request, or a status
	 * that never has one (RFC 9110, 6.4.1), whatever Content-Length says */
	return h->head_request || status == 204 || status == 304 ? 1 : 0;
}

static int on_body(llhttp_t *p, const char *at, size_t len)
{
	struct http1_parser *h = H(p);
	int rc = h->sink.on_body ? h->sink.on_body(h->sink.ctx, at, len) : 0;
	if (rc < 0)
		return fail(h, rc, "stopped while receiving the body");
	return 0;
}

static int on_message_complete(llhttp_t *p)
{
	struct http1_parser *h = H(p);
	if (h->interim) {
		h->interim = 0;
		return 0;
	}
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
	.on_message_complete = on_message_complete,
};

void http1_init(struct http1_parser *h, const struct http1_limits *lim,
                const struct http1_sink *sink, int head_request)
{
	http1_release(h);
	memset(h, 0, sizeof *h);
	llhttp_init(&h->p, HTTP_RESPONSE, &settings);
	h->p.data = h;
	h->limits = *lim;
	h->sink = *sink;
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

static int llhttp_failure(struct http1_parser *h, llhttp_errno_t e)
{
	if (h->error)
		return h->error;
	char why[160];
	const char *reason = llhttp_get_error_reason(&h->p);
	snprintf(why, sizeof why, "malformed response: %s%s%s", llhttp_errno_name(e),
	         reason ? ": " : "", reason ? reason : "");
	fail(h, EVF_ERR_PROTOCOL, why);
	return h->error;
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
		size_t n = len - off;
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
		off += took;
		if (e == HPE_OK)
			continue;
		if (e == HPE_PAUSED && h->complete) {
			*used = off;
			return 1;
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
