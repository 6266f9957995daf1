/*
 * body.c - request bodies: where the bytes come from (memory, a regular
 * file read with pread, or the caller's reader), the setters of
 * evfetch.h that choose them, and HTTP/1.1's framing of them on the wire.
 * HTTP/2 reads them through body_read from its data provider (h2.c).
 *
 * A body is read once per attempt.  Memory and files start over for free;
 * a reader only through its rewind callback, so a redirect or retry that
 * would send a streamed body twice asks first (body_can_resend).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sys/stat.h>
#include <unistd.h>

#include "internal.h"

#define BODY_PIECE 16384   /* what one read asks of a file or reader */
#define CHUNK_HEAD 8       /* room for "3fff\r\n" before a chunk's data */

enum { BK_MEM, BK_FD, BK_READER };

struct xfer_body {
	int kind;
	const char *data;          /* BK_MEM: the bytes (own: the copy) */
	char *own;
	int fd;                    /* BK_FD: the caller's */
	int64_t offset;            /* ...where the body starts in it */
	evf_body_read_fn read;     /* BK_READER */
	evf_body_rewind_fn rewind;
	int64_t size;              /* -1: unknown, framed as chunks on HTTP/1.1 */
	uint64_t pos;              /* bytes taken from the source this attempt */
	char *buf;                 /* HTTP/1.1's framed piece (files, readers) */
	char clen[40];             /* "Content-Length: N" */
	const char *piece;         /* HTTP/1.1: framed bytes being sent */
	size_t plen, poff;
	unsigned taken : 1;        /* a reader gave bytes at some point */
	unsigned eof : 1;          /* the source said it has no more */
	unsigned framed_end : 1;   /* chunked: the last chunk was framed */
	unsigned waiting : 1;      /* the reader said EVF_BODY_WAIT */
	unsigned last : 1;         /* HTTP/1.1: piece is the body's last */
	unsigned in_read : 1;      /* the reader is on the stack */
	unsigned resume_asked : 1; /* ...and evf_transfer_resume_body was called */
	unsigned expecting : 1;    /* this attempt sent Expect: 100-continue */
	unsigned expect_wait : 1;  /* ...and waits for the 100 or expect_ev */
	struct event *expect_ev;
};

void body_free(struct xfer_body *b)
{
	if (!b)
		return;
	free(b->own);
	free(b->buf);
	if (b->expect_ev)
		event_free(b->expect_ev);
	free(b);
}

int64_t body_size(const struct evf_transfer *t)
{
	return t->body ? t->body->size : 0;
}

const char *body_framing_line(struct evf_transfer *t, int h2)
{
	struct xfer_body *b = t->body;
	if (!b)
		return t->wants_length ? "Content-Length: 0" : NULL;
	if (b->size < 0)
		return h2 ? "" : "Transfer-Encoding: chunked";
	snprintf(b->clen, sizeof b->clen, "Content-Length: %lld", (long long)b->size);
	return b->clen;
}

int body_waiting(const struct evf_transfer *t)
{
	return t->body && (t->body->waiting || t->body->expect_wait);
}

int body_expecting(const struct evf_transfer *t)
{
	return t->body && t->body->expecting;
}

/* The body's timer: Expect's wait is over, or a resume from inside the
 * reader is due. */
static void body_timer_cb(evutil_socket_t fd, short what, void *arg)
{
	struct evf_transfer *t = arg;
	struct evf_client *c = t->client;
	struct xfer_body *b = t->body;
	client_enter(c);
	if (b->expect_wait) {
		body_continue(t);
	} else if (b->waiting) {
		b->waiting = 0;
		if (t->conn)
			conn_body_ready(t->conn, t);
	}
	client_leave(c);
}

static int body_timer(struct evf_transfer *t, unsigned ms)
{
	struct xfer_body *b = t->body;
	if (!b->expect_ev && !(b->expect_ev = evtimer_new(t->client->base, body_timer_cb, t)))
		return EVF_ERR_NOMEM;
	struct timeval tv = {ms / 1000, (ms % 1000) * 1000};
	return evtimer_add(b->expect_ev, &tv) == 0 ? 0 : EVF_ERR_NOMEM;
}

int body_resume(struct evf_transfer *t)
{
	struct xfer_body *b = t->body;
	if (!b)
		return 0;
	if (b->in_read) {
		/* the reader's own answer is still to come: a WAIT now must
		 * not be the last word */
		b->resume_asked = 1;
		return 0;
	}
	if (b->waiting) {
		b->waiting = 0;
		if (t->conn)
			conn_body_ready(t->conn, t);
	}
	return 0;
}

void body_wake_soon(struct evf_transfer *t)
{
	if (body_timer(t, 0) != 0) {
		/* no timer: read again when the socket says so */
		t->body->waiting = 0;
	}
}

int body_expect(struct evf_transfer *t, unsigned ms)
{
	struct xfer_body *b = t->body;
	if (!b || b->size == 0)
		return 0;
	if (body_timer(t, ms) != 0)
		return EVF_ERR_NOMEM;
	b->expecting = b->expect_wait = 1;
	return 0;
}

void body_continue(struct evf_transfer *t)
{
	struct xfer_body *b = t->body;
	if (!b || !b->expect_wait)
		return;
	b->expect_wait = 0;
	evtimer_del(b->expect_ev);
	if (t->conn)
		conn_body_ready(t->conn, t);
}

int body_at_end(const struct evf_transfer *t)
{
	const struct xfer_body *b = t->body;
	return !b || b->eof || (b->size >= 0 && b->pos >= (uint64_t)b->size);
}

int body_can_resend(const struct evf_transfer *t)
{
	const struct xfer_body *b = t->body;
	return !b || b->kind != BK_READER || b->rewind || !b->taken;
}

int body_rewind(struct evf_transfer *t)
{
	struct xfer_body *b = t->body;
	if (!b)
		return 0;
	if (b->kind == BK_READER && b->taken) {
		if (!b->rewind)
			return -1;
		t->in_callback = 1;
		int r = b->rewind(t, t->arg);
		t->in_callback = 0;
		if (r != 0 || t->cancelled || t->client->freed)
			return -1;
	}
	b->pos = 0;
	b->eof = b->framed_end = b->waiting = b->last = 0;
	b->expecting = b->expect_wait = 0;
	if (b->expect_ev)
		evtimer_del(b->expect_ev);
	b->plen = b->poff = 0;
	return 0;
}

long body_read(struct evf_transfer *t, char *buf, size_t cap)
{
	struct xfer_body *b = t->body;
	if (!b || b->eof)
		return 0;
	if (b->expect_wait)
		return BODY_WAIT;
	if (b->size >= 0 && (uint64_t)b->size - b->pos < cap)
		cap = (size_t)((uint64_t)b->size - b->pos);
	if (cap == 0 && b->size >= 0) {
		b->eof = 1;
		return 0;
	}
	long n;
	if (b->kind == BK_MEM) {
		memcpy(buf, b->data + b->pos, cap);
		n = (long)cap;
	} else if (b->kind == BK_FD) {
		ssize_t r;
		do
			r = pread(b->fd, buf, cap, (off_t)(b->offset + (int64_t)b->pos));
		while (r < 0 && errno == EINTR);
		if (r < 0)
			return transfer_set_detail(t, EVF_ERR_RESOURCE, "cannot read the request body: %s",
			                 strerror(errno));
		if (r == 0)
			return transfer_set_detail(t, EVF_ERR_RESOURCE,
			                 "the request body's file ended after %llu of %lld bytes",
			                 (unsigned long long)b->pos, (long long)b->size);
		n = (long)r;
	} else {
		struct evf_client *c = t->client;
		b->waiting = 0;
		b->resume_asked = 0;
		t->in_callback = 1;
		b->in_read = 1;
		n = b->read(t, buf, cap, t->arg);
		b->in_read = 0;
		t->in_callback = 0;
		if (c->freed || t->cancelled)
			return EVF_ERR_CANCELLED;
		if (n == EVF_BODY_WAIT) {
			b->waiting = 1;
			if (b->resume_asked)
				body_wake_soon(t);   /* resumed from inside the reader */
			return BODY_WAIT;
		}
		if (n < 0 || (size_t)n > cap)
			return transfer_set_detail(t, EVF_ERR_IO, n < 0 ? "the body reader aborted the request"
			                                      : "the body reader returned more than asked");
		if (n == 0 && b->size >= 0 && b->pos < (uint64_t)b->size)
			return transfer_set_detail(t, EVF_ERR_IO,
			                 "the body reader ended after %llu of the %lld bytes announced",
			                 (unsigned long long)b->pos, (long long)b->size);
		if (n > 0)
			b->taken = 1;
	}
	if (n == 0)
		b->eof = 1;
	b->pos += (uint64_t)n;
	return n;
}

static int body_frame(struct evf_transfer *t, const char **p, size_t *n)
{
	struct xfer_body *b = t->body;
	*n = 0;
	if (b->expect_wait)
		return BODY_WAIT;
	if (b->kind == BK_MEM) {
		/* the whole rest at once, from the caller's bytes */
		*p = b->data + b->pos;
		*n = (size_t)((uint64_t)b->size - b->pos);
		b->pos = (uint64_t)b->size;
		return 1;
	}
	if (!b->buf && !(b->buf = malloc(BODY_PIECE + CHUNK_HEAD + 2)))
		return transfer_set_detail(t, EVF_ERR_NOMEM, "out of memory for the request body");
	if (b->size >= 0) {
		long r = body_read(t, b->buf, BODY_PIECE);
		if (r < 0)
			return (int)r;
		*p = b->buf;
		*n = (size_t)r;
		return b->pos >= (uint64_t)b->size;
	}
	if (b->framed_end)
		return 1;
	long r = body_read(t, b->buf + CHUNK_HEAD, BODY_PIECE);
	if (r < 0)
		return (int)r;
	if (r == 0) {
		/* the last chunk, without trailers */
		memcpy(b->buf, "0\r\n\r\n", 5);
		*p = b->buf;
		*n = 5;
		b->framed_end = 1;
		return 1;
	}
	char head[CHUNK_HEAD + 1];
	int hl = snprintf(head, sizeof head, "%lx\r\n", (unsigned long)r);
	char *start = b->buf + CHUNK_HEAD - hl;
	memcpy(start, head, (size_t)hl);
	memcpy(b->buf + CHUNK_HEAD + r, "\r\n", 2);
	*p = start;
	*n = (size_t)hl + (size_t)r + 2;
	return 0;
}

int body_send(struct evf_transfer *t, struct conn *cn)
{
	struct xfer_body *b = t->body;
	for (;;) {
		while (b->poff < b->plen) {
			size_t put = 0;
			int r = conn_send(cn, b->piece + b->poff, b->plen - b->poff, &put);
			if (r != IO_DONE)
				return r;
			if (t->client->cfg.debug_fn)
				t->client->up->debug(t, EVF_DEBUG_DATA_OUT, b->piece + b->poff, put);
			b->poff += put;
			transfer_touch(t);
		}
		if (b->last)
			return IO_DONE;
		b->poff = b->plen = 0;
		int r = body_frame(t, &b->piece, &b->plen);
		if (r < 0 && r != BODY_WAIT && r != EVF_ERR_CANCELLED)
			conn_set_why(cn, "%s", t->detail ? t->detail : evf_strerror(r));
		if (r < 0)
			return r;
		b->last = r == 1;
	}
}

/* ------------------------------------------------------------ the setters */

static int settable(const evf_transfer *t)
{
	return t && !t->started && !t->cancelled;
}

static int body_new(evf_transfer *t, int kind, int64_t size)
{
	struct xfer_body *b = calloc(1, sizeof *b);
	if (!b)
		return EVF_ERR_NOMEM;
	b->kind = kind;
	b->size = size;
	body_free(t->body);
	t->body = b;
	return 0;
}

EVF_API int evf_transfer_set_body(evf_transfer *t, const void *data, size_t len, int flags)
{
	if (!settable(t) || (!data && len) || (flags & ~EVF_BODY_BORROW) || len > INT64_MAX)
		return EVF_ERR_INVALID;
	char *own = NULL;
	if (!(flags & EVF_BODY_BORROW) && len && !(own = malloc(len)))
		return EVF_ERR_NOMEM;
	if (body_new(t, BK_MEM, (int64_t)len) != 0) {
		free(own);
		return EVF_ERR_NOMEM;
	}
	if (own)
		memcpy(own, data, len);
	t->body->own = own;
	t->body->data = own ? own : data ? data : "";
	return 0;
}

EVF_API int evf_transfer_set_body_fd(evf_transfer *t, int fd, int64_t offset, int64_t len)
{
	struct stat st;
	if (!settable(t) || fd < 0 || offset < 0 || fstat(fd, &st) != 0 || !S_ISREG(st.st_mode))
		return EVF_ERR_INVALID;
	if (len < 0)
		len = st.st_size > offset ? st.st_size - offset : 0;
	if (body_new(t, BK_FD, len) != 0)
		return EVF_ERR_NOMEM;
	t->body->fd = fd;
	t->body->offset = offset;
	return 0;
}

EVF_API int evf_transfer_set_body_reader(evf_transfer *t, evf_body_read_fn read,
                                         evf_body_rewind_fn rewind, int64_t len)
{
	if (!settable(t) || !read)
		return EVF_ERR_INVALID;
	if (body_new(t, BK_READER, len < 0 ? -1 : len) != 0)
		return EVF_ERR_NOMEM;
	t->body->read = read;
	t->body->rewind = rewind;
	return 0;
}
