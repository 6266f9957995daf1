/*
 * http1.h - HTTP/1.1 protocol layer: request heads and response parsing.
 *
 * The parser wraps llhttp.  It knows nothing of connections or transfers:
 * it is fed bytes and reports the head and body through a sink, so unit
 * tests can drive it whole or one byte at a time.
 */
#ifndef EVF_HTTP1_H
#define EVF_HTTP1_H

#include <stddef.h>
#include <stdint.h>
#include <llhttp.h>

#include "evfetch.h"

struct http1_sink {
	/* Both return 0 to go on, or a negative evf_error to stop. */
	int (*on_head)(void *ctx, const evf_response *resp);
	int (*on_body)(void *ctx, const char *data, size_t len);
	/* the trailer fields of a chunked body, before its end (may be NULL) */
	int (*on_trailers)(void *ctx, const evf_header *fields, size_t n);
	/* an interim (1xx) response's status (may be NULL) */
	void (*on_interim)(void *ctx, int status);
	/* Every byte the parser took, as it took them (may be NULL; only set
	 * for a debug function's EVF_DEBUG_WIRE_IN); data NULL: forget the
	 * bytes so far, they were an interim (1xx) response's. */
	void (*on_wire)(void *ctx, const char *data, size_t len);
};

struct http1_limits {
	size_t max_header_bytes;
	unsigned max_headers;
};

/*
 * Where the parser stands on a chunk-size line (RFC 9112, 7.1.1).  llhttp
 * reads the size and the CRLF; the chunk extensions between them are checked
 * in http1.c and never reach llhttp, which refuses some valid ones (a
 * quoted-pair, BWS, a second extension after a token value).
 */
enum chunk_line {
	CL_NONE,         /* not on a chunk-size line, or past its extensions */
	CL_START,        /* the line starts with the next byte */
	CL_SIZE,         /* after a size digit */
	CL_SEMI,         /* after BWS: ';' must follow */
	CL_NAME_START,   /* after ';' and BWS: a name must follow */
	CL_NAME,         /* in a name */
	CL_NAME_END,     /* after a name and BWS: '=' or ';' must follow */
	CL_VALUE_START,  /* after '=' and BWS: a token or a quoted-string */
	CL_TOKEN,        /* in a token value */
	CL_QUOTED,       /* in a quoted-string */
	CL_QUOTED_PAIR,  /* after a backslash in a quoted-string */
	CL_VALUE_END,    /* after the closing quote */
	CL_BAD           /* not a chunk extension */
};

struct http1_parser {
	llhttp_t p;
	const struct http1_sink *sink; /* kept by pointer: it outlives the parser */
	void *ctx;                 /* the sink's */
	struct http1_limits limits;
	char *hbuf;          /* status text, then name\0value\0 pairs */
	size_t hlen, hcap;
	size_t head_raw;     /* raw bytes before the final head ended */
	size_t trailer_raw;  /* trailer field bytes, kept in hbuf once the head is gone */
	unsigned ntrailers;
	unsigned nheaders;
	int error;           /* a negative evf_error once failed */
	enum chunk_line cline;
	unsigned in_field : 1;     /* inside a header name */
	unsigned head_request : 1; /* a HEAD request: no body follows */
	unsigned interim : 1;      /* the current message is a 1xx */
	unsigned head_done : 1;    /* the final response's head was delivered */
	unsigned started : 1;      /* a byte of the response arrived */
	unsigned complete : 1;     /* the final response is complete */
	unsigned keep_alive : 1;   /* the connection may be reused afterwards */
	unsigned interim_end : 1;  /* paused at an interim response's end (on_wire) */
	char *why;           /* what failed, on the heap: see http1_why */
};

void http1_init(struct http1_parser *h, const struct http1_limits *lim,
                const struct http1_sink *sink, void *ctx, int head_request);
/* Free what the parser holds; http1_init may follow. */
void http1_release(struct http1_parser *h);
/* Why the parser failed: never NULL once http1_feed or http1_eof failed. */
const char *http1_why(const struct http1_parser *h);

/*
 * Feed bytes.  Returns 0 when more are needed, 1 when the response is
 * complete (*used tells how many bytes belonged to it), or a negative
 * evf_error with h->why set.
 */
int http1_feed(struct http1_parser *h, const char *data, size_t len, size_t *used);

/*
 * The peer closed the connection.  clean is 0 when a TLS peer vanished
 * without close_notify.  Returns 1 when that completes a close-delimited
 * response, or a negative evf_error (EVF_ERR_TRUNCATED, EVF_ERR_NETWORK when
 * no byte of a response arrived).
 */
int http1_eof(struct http1_parser *h, int clean);

/* The announced Content-Length of the current response, if any: 1 or 0. */
int http1_content_length(const struct http1_parser *h, uint64_t *len);

/*
 * Build a request head into a fresh buffer: method, target, Host,
 * User-Agent, Accept, then the extra lines already formatted as
 * "Name: value\r\n" (suffix), then per-request lines.  Lines in extra whose
 * names match Host/User-Agent/Accept replace the built-in ones.
 */
char *http1_request(const char *method, const char *target,
                    const char *authority, const char *user_agent,
                    const char *const *extra, size_t nextra, size_t *len);

#endif /* EVF_HTTP1_H */
