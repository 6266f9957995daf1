/*
 * fuzz_http1.c - libFuzzer target for the HTTP/1.1 response parser
 * (src/lib/http1.c, the protocol layer).
 *
 * Input layout:
 *   byte 0       flags: bit 0  the peer's close is clean (close_notify seen)
 *                       bit 1  the body sink refuses data past 16 bytes
 *                       bit 2  the head sink refuses the head
 *                       bits 3-5  n, how many piece-size bytes follow
 *                       bit 6  on_wire is set (EVF_DEBUG_WIRE_IN's source)
 *   n bytes      piece sizes, used in turn: 0 = all the rest at once,
 *                1-200 = that many bytes, 201-255 = (k - 200) * 64 bytes
 *   the rest     what the server sent
 *
 * Every input is parsed twice, as the answer to a GET and to a HEAD.  Each
 * piece is copied into a heap buffer of exactly its size, so ASan reports
 * any read outside it and any pointer the parser keeps into an old piece.
 * When a response completes, the bytes after it are parsed as the next
 * response on the same parser, as on a reused keep-alive connection.
 *
 * Checked (abort() on violation, so libFuzzer keeps the input):
 *   - http1_feed returns 0, 1 or a negative evf_error with a reason; 0
 *     consumes the whole piece, 1 at most the piece; http1_eof never
 *     returns 0; an error is sticky and is the one a sink returned;
 *   - every body slice lies inside the piece being fed, the body never
 *     exceeds the bytes fed, a HEAD response has no body, no sink call
 *     comes after the parser stopped or after a sink refused;
 *   - the head arrives once per response, before any body, with a final
 *     status (200-999) and at most max_headers lines, NUL-terminated
 *     inside the head buffer; "complete" is only reported after the head;
 *   - the limit of 4096 bytes holds for the raw head: the final head ends
 *     within the first max_header_bytes bytes of the response, leading
 *     blank lines, padding and interim 1xx responses included;
 *   - the parser's memory stays bounded: its head buffer never grows past
 *     2 * max_header_bytes, trailers included;
 *   - a response to HEAD and a 1xx, 204 or 304 response end at the empty
 *     line after their head, whatever Content-Length or Transfer-Encoding
 *     say (RFC 9112, 6.3): no body, and complete in the same feed.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "http1.h"

#define MAX_HEADER_BYTES 4096
#define MAX_HEADERS 100
#define BODY_REFUSE_AFTER 16

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);


#define CHECK(cond)                                                         \
	do {                                                                \
		if (!(cond)) {                                              \
			fprintf(stderr, "fuzz_http1: check failed at line %d: %s\n", \
			        __LINE__, #cond);                           \
			abort();                                            \
		}                                                           \
	} while (0)

struct state {
	struct http1_parser *h;
	int refuse_body, refuse_head;
	const char *piece;       /* the buffer being fed */
	size_t piece_len;
	size_t fed_before;       /* stream bytes fed before this piece */
	size_t fed_total;        /* ... including this piece */
	size_t body;             /* body bytes delivered for this response */
	int heads;               /* heads delivered for this response */
	int status;              /* of the head delivered */
	int head_request;
	int stopped;             /* a sink refused: no more calls expected */
	int sink_error;          /* what it refused with */
	size_t wire_next;        /* on_wire: the stream offset it must pass next */
	int wire_calls;
};

/* A negative evf_error the library knows by name (new kinds included). */
static int valid_error(int rc)
{
	return rc < 0 && strcmp(evf_error_name(rc), "unknown") != 0;
}

/* The strings the parser hands out must lie in its own head buffer. */
static int inside_head(const struct http1_parser *h, const char *s)
{
	return h->hbuf && s >= h->hbuf && s < h->hbuf + h->hcap &&
	       s + strlen(s) < h->hbuf + h->hcap;
}

static int on_head(void *ctx, const evf_response *r)
{
	struct state *st = ctx;
	size_t bytes = 0;

	CHECK(!st->stopped);
	CHECK(st->heads == 0);
	CHECK(st->body == 0);
	st->heads++;
	st->status = r->status;
	CHECK(r->status >= 200 && r->status <= 999);
	CHECK(r->nheaders <= MAX_HEADERS);
	CHECK(r->nheaders == 0 || r->headers != NULL);
	for (size_t i = 0; i < r->nheaders; i++) {
		CHECK(inside_head(st->h, r->headers[i].name));
		CHECK(inside_head(st->h, r->headers[i].value));
		bytes += strlen(r->headers[i].name) + strlen(r->headers[i].value);
	}
	CHECK(bytes <= MAX_HEADER_BYTES);
	CHECK(st->h->head_raw <= MAX_HEADER_BYTES);
	CHECK(st->fed_before < MAX_HEADER_BYTES);
	if (st->refuse_head) {
		st->stopped = 1;
		st->sink_error = EVF_ERR_HTTP;
		return EVF_ERR_HTTP;
	}
	return 0;
}

/* The final head was delivered and says that no body follows it. */
static int no_body(const struct state *st)
{
	return st->heads && (st->head_request || st->status == 204 || st->status == 304);
}

/* on_wire passes the bytes the parser took, in stream order, without a
 * gap or an overlap, each inside the piece being fed. */
static void on_wire(void *ctx, const char *d, size_t n)
{
	struct state *st = ctx;

	if (d == NULL)
		return;   /* an interim response ended: the bytes go on */
	CHECK(st->piece != NULL && n > 0);
	CHECK(d >= st->piece && d + n <= st->piece + st->piece_len);
	CHECK(st->fed_before + (size_t)(d - st->piece) == st->wire_next);
	st->wire_next += n;
	st->wire_calls++;
}

static int on_body(void *ctx, const char *d, size_t n)
{
	struct state *st = ctx;

	CHECK(!st->stopped);
	CHECK(st->heads == 1);
	CHECK(!st->head_request);
	CHECK(!no_body(st));
	CHECK(n > 0);
	CHECK(d >= st->piece && d + n <= st->piece + st->piece_len);
	st->body += n;
	CHECK(st->body <= st->fed_total);
	if (st->refuse_body && st->body > BODY_REFUSE_AFTER) {
		st->stopped = 1;
		st->sink_error = EVF_ERR_IO;
		return EVF_ERR_IO;
	}
	return 0;
}

struct pieces {
	const uint8_t *sizes;
	size_t nsizes, next;
};

static size_t next_piece(struct pieces *p, size_t left)
{
	size_t n;

	if (p->nsizes == 0)
		return left;
	unsigned k = p->sizes[p->next++ % p->nsizes];
	if (k == 0)
		n = left;
	else if (k <= 200)
		n = k;
	else
		n = (size_t)(k - 200) * 64;
	return n < left ? n : left;
}

/* One response after another until the input or the parser gives out. */
static void parse(const uint8_t *flags, struct pieces *pc, const char *text,
                  size_t len, int head_request)
{
	struct http1_parser h;
	struct state st;
	struct http1_limits lim = { MAX_HEADER_BYTES, MAX_HEADERS };
	struct http1_sink sink = {.on_head = on_head, .on_body = on_body,
	                          .on_wire = (*flags >> 6) & 1 ? on_wire : NULL};
	size_t off = 0;
	int responses = 0;

	memset(&h, 0, sizeof h);
	for (;;) {
		int rc = 0;

		memset(&st, 0, sizeof st);
		st.h = &h;
		/* fed_before and wire_next count from this response's first byte */
		st.refuse_body = (*flags >> 1) & 1;
		st.refuse_head = (*flags >> 2) & 1;
		st.head_request = head_request;
		http1_init(&h, &lim, &sink, &st, head_request);
		responses++;

		while (off < len) {
			size_t n = next_piece(pc, len - off), used = 12345;
			char *piece = malloc(n);

			CHECK(piece != NULL);
			memcpy(piece, text + off, n);
			st.piece = piece;
			st.piece_len = n;
			st.fed_total = st.fed_before + n;
			rc = http1_feed(&h, piece, n, &used);
			st.piece = NULL;
			free(piece);
			CHECK(rc == 0 || rc == 1 || valid_error(rc));
			CHECK(h.hcap <= 2 * MAX_HEADER_BYTES);
			if (rc == 0) {
				CHECK(used == n);
				CHECK(!st.stopped);
				CHECK(!h.complete);
				CHECK(!no_body(&st));
			} else if (rc == 1) {
				CHECK(used <= n);
				CHECK(h.complete);
				/* every byte of the response went to on_wire */
				CHECK(!sink.on_wire || st.wire_next == st.fed_before + used);
				CHECK(st.heads == 1);
				CHECK(!st.stopped);
			} else {
				CHECK(h.error == rc);
				CHECK(h.why != NULL && h.why[0] != '\0');
				if (st.stopped)
					CHECK(rc == st.sink_error);
			}
			off += rc == 1 ? used : n;
			st.fed_before += rc == 1 ? used : n;
			if (rc != 0)
				break;
		}
		if (rc == 0) {
			rc = http1_eof(&h, *flags & 1);
			CHECK(rc == 1 || valid_error(rc));
			if (rc == 1) {
				CHECK(st.heads == 1);
				CHECK(!h.keep_alive);
			} else {
				CHECK(h.why != NULL && h.why[0] != '\0');
			}
			/* both are sticky */
			CHECK(http1_eof(&h, *flags & 1) == rc);
			break;
		}
		if (rc < 0) {
			size_t used = 1;
			char c = 'x';
			CHECK(http1_feed(&h, &c, 1, &used) == rc && used == 0);
			CHECK(http1_eof(&h, 1) == rc);
			break;
		}
		/* complete: the rest is the next response on this connection */
		if (off >= len || responses >= 8)
			break;
	}
	http1_release(&h);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct pieces pc;

	if (size < 1)
		return 0;
	pc.nsizes = (data[0] >> 3) & 7;
	if (size < 1 + pc.nsizes)
		return 0;
	pc.sizes = data + 1;
	const char *text = (const char *)data + 1 + pc.nsizes;
	size_t len = size - 1 - pc.nsizes;

	pc.next = 0;
	parse(data, &pc, text, len, 0);
	pc.next = 0;
	parse(data, &pc, text, len, 1);
	return 0;
}
