/*
 * h2.c - HTTP/2 as a protocol of a connection, on nghttp2: one stream per
 * transfer, as many at once as the server's SETTINGS_MAX_CONCURRENT_STREAMS
 * allow (never more: nghttp2 would queue the rest itself).
 *
 * Flow control is ours: nghttp2 sends no WINDOW_UPDATE by itself, and a
 * stream's bytes are consumed as its transfer takes them.  A paused
 * transfer's DATA waits here, at most its stream window, and no more comes;
 * the connection window is large, so one paused stream never stalls the
 * others.  Closed streams are forgotten at once.
 *
 * Ends of streams:
 *   - complete (END_STREAM, no error): the response is done;
 *   - reset by the server, or by nghttp2 for a malformed response: that
 *     transfer alone fails;
 *   - REFUSED_STREAM, above a GOAWAY's last stream id, or never sent: the
 *     server did not act on the request, and it is tried again elsewhere
 *     without counting as a retry;
 *   - a failed connection fails every transfer on it.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "h2.h"

/* upcalls go through the client, never by name */
#define UPCALL(t) ((t)->client->up)

#define H2_STREAM_WINDOW (1u << 20)        /* what one paused stream may hold */
#define H2_CONN_WINDOW 0x7fffffff          /* the largest there is */
#define H2_MAX_STREAMS 1000                /* per connection, whatever the server allows */
#define H2_CHUNK 16384                     /* kept input goes to on_body in pieces of this */

static void free_stream(struct h2_session *s, struct h2_stream *st)
{
	TAILQ_REMOVE(&s->streams, st, link);
	if (st->on_kept)
		TAILQ_REMOVE(&s->kept, st, klink);
	free(st->hbuf);
	free(st->kbuf);
	free(st);
}

/* ------------------------------------------------------------- capacity */

static unsigned h2_capacity(const struct conn *cn)
{
	const struct h2_session *s = sess(cn);
	if (s->goaway || s->dead || cn->state == CS_CLOSED || !nghttp2_session_want_read(s->ng))
		return 0;
	/* the server's SETTINGS say how many streams it takes: until they
	 * come, only the transfer that opened the connection */
	if (!s->got_settings)
		return s->nopen == 0;
	if (nghttp2_session_get_next_stream_id(s->ng) > 0x7ffffff0)
		return 0;   /* out of stream ids */
	uint32_t max = nghttp2_session_get_remote_settings(s->ng,
	                                                   NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS);
	if (max > H2_MAX_STREAMS)
		max = H2_MAX_STREAMS;
	return s->nopen < max ? max - s->nopen : 0;
}

/* The connection's room changed: share it or not, wake its host's queue. */
static void room_changed(struct h2_session *s)
{
	struct conn *cn = s->cn;
	if (cn->state != CS_BUSY)
		return;
	if (h2_capacity(cn) == 0) {
		pool_unshare(cn);
		return;
	}
	pool_share(cn);
	if (!TAILQ_EMPTY(&cn->host->waiting) || cn->host->ndeferred)
		pool_host_changed(cn->host);
}

/* A transfer left: the connection may serve no one now.  1 when it was
 * closed (and, outside io.c's guard, freed). */
static int after_detach(struct h2_session *s)
{
	struct conn *cn = s->cn;
	struct evf_client *c = cn->client;
	if (cn->state == CS_CLOSED || s->failing)
		return cn->state == CS_CLOSED;
	if (s->nattached == 0 && (c->freed || s->goaway || s->dead || !s->got_settings ||
	                          c->cfg.no_keepalive)) {
		/* draining, dead, a server that never spoke, or no reuse wanted */
		conn_close(cn);
		return 1;
	}
	if (s->nattached == 0 && cn->state == CS_BUSY) {
		pool_unshare(cn);
		return conn_park(cn);
	}
	room_changed(s);
	return 0;
}

/* Take t off its stream (the stream stays until nghttp2 closes it). */
static void unlink_transfer(struct h2_session *s, struct h2_stream *st)
{
	struct evf_transfer *t = st->t;
	st->t = NULL;
	t->stream = NULL;
	t->conn = NULL;
	s->nattached--;
	if (st->klen > st->koff) {
		/* kept bytes nobody will take: give their window back */
		if (st->closed)
			nghttp2_session_consume_connection(s->ng, st->klen - st->koff);
		else
			nghttp2_session_consume(s->ng, st->id, st->klen - st->koff);
	}
	free(st->kbuf);
	st->kbuf = NULL;
	st->klen = st->koff = 0;
}

/* The stream of t ended in failure: tell t, which is off it then. */
static void stream_failed(struct h2_session *s, struct h2_stream *st, int err, const char *why,
                          int retry_safe)
{
	struct evf_transfer *t = st->t;
	unlink_transfer(s, st);
	if (st->closed)
		free_stream(s, st);
	UPCALL(t)->failed(t, err, why, retry_safe);
	after_detach(s);
}

/* End t's response with r (< 0: a stop or an error of the transfer's own):
 * t detaches itself, which resets the stream. */
void h2_stream_stop(struct h2_stream *st, int r, const char *why)
{
	UPCALL(st->t)->end(st->t, r, 0, why);
}

/* After a callback of the caller: the client went away, or t was
 * cancelled from inside it.  1 when nothing more may be done for st. */
int h2_gone(struct conn *cn, struct h2_stream *st)
{
	if (cn->client->freed)
		return 1;
	if (st->t && st->t->cancelled) {
		UPCALL(st->t)->end(st->t, 0, 0, NULL);
		return 1;
	}
	return !st->t;
}

static int h2_submit(struct conn *cn, struct evf_transfer *t)
{
	struct h2_session *s = sess(cn);
	struct h2_stream *st = calloc(1, sizeof *st);
	if (!st)
		return EVF_ERR_NOMEM;
	int r = h2_submit_request(s, t, st);
	if (r < 0) {
		free(st);
		return r;
	}
	st->t = t;
	t->stream = st;
	TAILQ_INSERT_TAIL(&s->streams, st, link);
	s->nopen++;
	s->nattached++;
	cn->requests++;
	room_changed(s);
	return 0;
}

/* Every transfer left on the session has its whole response, kept over a
 * pause: the connection itself has nothing more to do for them. */
static int only_ended(const struct h2_session *s)
{
	const struct h2_stream *st;
	TAILQ_FOREACH(st, &s->streams, link)
		if (st->t && !st->end_pending)
			return 0;
	return 1;
}

/* ---------------------------------------------------------------- sending */

static int h2_want_flush(const struct conn *cn)
{
	const struct h2_session *s = sess(cn);
	return s->plen > s->poff || nghttp2_session_want_write(s->ng);
}

/* Send buf through the transport; what it does not take waits in pend. */
static int send_or_keep(struct h2_session *s, const uint8_t *buf, size_t len)
{
	while (len > 0) {
		size_t put = 0;
		int r = conn_send(s->cn, buf, len, &put);
		if (r == IO_DONE) {
			buf += put;
			len -= put;
			continue;
		}
		if (r < 0)
			return r;
		uint8_t *p = malloc(len);
		if (!p) {
			conn_set_why(s->cn, "out of memory for HTTP/2 frames");
			return EVF_ERR_NOMEM;
		}
		memcpy(p, buf, len);
		s->pend = p;
		s->plen = len;
		s->poff = 0;
		return r;
	}
	return IO_DONE;
}

/* nghttp2's frames, gathered into the client's write buffer so that a
 * burst of small frames costs one TLS record and one send. */
static int h2_flush(struct conn *cn)
{
	struct h2_session *s = sess(cn);
	struct evf_client *c = cn->client;
	for (;;) {
		while (s->poff < s->plen) {
			size_t put = 0;
			int r = conn_send(cn, s->pend + s->poff, s->plen - s->poff, &put);
			if (r != IO_DONE)
				return r;
			s->poff += put;
		}
		free(s->pend);
		s->pend = NULL;
		s->plen = s->poff = 0;
		size_t fill = 0;
		const uint8_t *carry = NULL;
		ssize_t carry_len = 0;
		while (fill < sizeof c->wbuf) {
			const uint8_t *p;
			ssize_t n = nghttp2_session_mem_send(s->ng, &p);
			if (n < 0) {
				conn_set_why(cn, "HTTP/2 with %s failed: %s", conn_peer(cn),
				             nghttp2_strerror((int)n));
				return n == NGHTTP2_ERR_NOMEM ? EVF_ERR_NOMEM : EVF_ERR_PROTOCOL;
			}
			if (cn->state == CS_CLOSED)
				return IO_DONE;   /* closed by a callback of mem_send */
			if (n == 0)
				break;
			if (fill + (size_t)n > sizeof c->wbuf) {
				carry = p;   /* valid until the next mem_send */
				carry_len = n;
				break;
			}
			memcpy(c->wbuf + fill, p, (size_t)n);
			fill += (size_t)n;
		}
		if (fill == 0 && !carry) {
			if (nghttp2_session_want_read(s->ng) || s->nattached == 0 ||
			    (!s->why[0] && only_ended(s)))
				return IO_DONE;
			/* our GOAWAY for a connection error is out: the session
			 * is over, and the transfers on it have failed */
			conn_set_why(cn, "HTTP/2 with %s failed: %s", conn_peer(cn),
			             s->why[0] ? s->why : "the session ended");
			return EVF_ERR_PROTOCOL;
		}
		int r = send_or_keep(s, c->wbuf, fill);
		if (r == IO_DONE && carry)
			r = send_or_keep(s, carry, (size_t)carry_len);
		else if (r != IO_DONE && r >= 0 && carry) {
			/* both wait: append the carried frame to what waits */
			uint8_t *p = realloc(s->pend, s->plen + (size_t)carry_len);
			if (!p) {
				conn_set_why(cn, "out of memory for HTTP/2 frames");
				return EVF_ERR_NOMEM;
			}
			memcpy(p + s->plen, carry, (size_t)carry_len);
			s->pend = p;
			s->plen += (size_t)carry_len;
		}
		if (r != IO_DONE)
			return r;
	}
}

/* -------------------------------------------------------------- receiving */

static struct h2_stream *stream_of(struct h2_session *s, int32_t id)
{
	return id > 0 ? nghttp2_session_get_stream_user_data(s->ng, id) : NULL;
}

/* One name or value of the head, and its NUL. */
static int head_append(struct h2_stream *st, const uint8_t *p, size_t n)
{
	if (evf_buf_add(&st->hbuf, &st->hlen, &st->hcap, p, n, 256) != 0)
		return -1;
	st->hlen++;   /* the NUL ends the field */
	return 0;
}

static int on_begin_headers(nghttp2_session *ng, const nghttp2_frame *f, void *ud)
{
	struct h2_session *s = ud;
	struct h2_stream *st = stream_of(s, f->hd.stream_id);
	if (st && st->t && !s->cn->client->freed) {
		st->got_byte = 1;
		UPCALL(st->t)->recv(st->t);
	}
	return 0;
}

/* The stream's head broke a limit: end t, and have nghttp2 reset it. */
static int head_too_large(struct h2_stream *st, const char *why)
{
	st->reset = 1;   /* nghttp2 resets it as the callback fails */
	h2_stream_stop(st, EVF_ERR_TOO_LARGE, why);
	return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;
}

static int on_header(nghttp2_session *ng, const nghttp2_frame *f, const uint8_t *name,
                     size_t namelen, const uint8_t *value, size_t valuelen, uint8_t flags,
                     void *ud)
{
	struct h2_session *s = ud;
	const struct evf_config *cfg = &s->cn->client->cfg;
	struct h2_stream *st = stream_of(s, f->hd.stream_id);
	char why[96];
	if (f->hd.type != NGHTTP2_HEADERS || !st || !st->t || s->cn->client->freed)
		return 0;
	/* as an HTTP/1.1 head would count: "name: value" and CRLF */
	st->hbytes += namelen + valuelen + 4;
	if (st->hbytes > cfg->max_header_bytes) {
		snprintf(why, sizeof why, "response head larger than %zu bytes", cfg->max_header_bytes);
		return head_too_large(st, why);
	}
	if (!st->head_done && namelen == 7 && memcmp(name, ":status", 7) == 0) {
		/* nghttp2 checked it: three digits */
		st->status = (value[0] - '0') * 100 + (value[1] - '0') * 10 + (value[2] - '0');
		return 0;
	}
	if (namelen > 0 && name[0] == ':')
		return 0;
	if (++st->nheaders > cfg->max_headers) {
		snprintf(why, sizeof why, "more than %u response header lines", cfg->max_headers);
		return head_too_large(st, why);
	}
	if (head_append(st, name, namelen) || head_append(st, value, valuelen)) {
		st->reset = 1;
		h2_stream_stop(st, EVF_ERR_NOMEM, "out of memory for the response head");
		return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;
	}
	return 0;
}

/* The stream's fields in hbuf (name\0value\0...) as an array: stack (32
 * entries) or the heap; NULL, with st stopped, when memory ran out. */
static evf_header *fields_of(struct h2_stream *st, evf_header *stack)
{
	evf_header *hv = stack;
	if (st->nheaders > 32 && !(hv = calloc(st->nheaders, sizeof *hv))) {
		h2_stream_stop(st, EVF_ERR_NOMEM, "out of memory for the response head");
		return NULL;
	}
	const char *p = st->hbuf;
	for (unsigned i = 0; i < st->nheaders; i++) {
		hv[i].name = p;
		p += strlen(p) + 1;
		hv[i].value = p;
		p += strlen(p) + 1;
	}
	return hv;
}

/* A head or trailers delivered: their memory goes back. */
static void fields_done(struct h2_stream *st, evf_header *hv, evf_header *stack)
{
	if (hv != stack)
		free(hv);
	free(st->hbuf);
	st->hbuf = NULL;
	st->hlen = st->hcap = 0;
	st->nheaders = 0;
}

/* Trailer fields (a HEADERS frame after the DATA) for the transfer. */
static void deliver_trailers(struct h2_session *s, struct h2_stream *st)
{
	evf_header stackh[32], *hv = fields_of(st, stackh);
	if (!hv)
		return;
	int r = UPCALL(st->t)->trailers(st->t, hv, st->nheaders);
	fields_done(st, hv, stackh);
	if (r < 0)
		h2_stream_stop(st, r, "stopped at the response trailers");
}

/* The final head is complete: hand it to the transfer. */
static void deliver_head(struct h2_session *s, struct h2_stream *st)
{
	evf_header stackh[32], *hv = fields_of(st, stackh);
	int64_t clen = -1;
	if (!hv)
		return;
	for (unsigned i = 0; i < st->nheaders; i++) {
		if (strcmp(hv[i].name, "content-length") == 0) {
			/* nghttp2 checked it: digits only */
			char *end;
			unsigned long long v = strtoull(hv[i].value, &end, 10);
			if (*end == '\0' && v <= INT64_MAX)
				clen = (int64_t)v;
		}
	}
	evf_response resp = {
		.status = st->status,
		.http_major = 2,
		.http_minor = 0,
		.headers = hv,
		.nheaders = st->nheaders,
	};
	st->head_done = 1;
	int r = UPCALL(st->t)->head(st->t, &resp, clen);
	/* the head is valid only during on_head; trailers may use the buffer */
	fields_done(st, hv, stackh);
	if (h2_gone(s->cn, st))
		return;
	if (r < 0)
		h2_stream_stop(st, r, "stopped after the response head");
}

static int on_frame_recv(nghttp2_session *ng, const nghttp2_frame *f, void *ud)
{
	struct h2_session *s = ud;
	struct conn *cn = s->cn;
	if (cn->client->freed)
		return 0;
	struct h2_stream *st = stream_of(s, f->hd.stream_id);
	switch (f->hd.type) {
	case NGHTTP2_HEADERS:
		if (st && st->t && st->head_done && st->nheaders) {
			deliver_trailers(s, st);
			break;
		}
		if (!st || !st->t || st->head_done)
			break;
		if (st->status < 100) {
			/* nghttp2 checks for three digits only */
			char why[96];
			snprintf(why, sizeof why, "the server sent an invalid :status (%03d)",
			         st->status);
			h2_stream_stop(st, EVF_ERR_PROTOCOL, why);
			break;
		}
		if (st->status >= 100 && st->status < 200) {
			/* interim: forget it, the final head follows */
			UPCALL(st->t)->interim(st->t, st->status);
			st->status = 0;
			st->hlen = 0;
			st->nheaders = 0;
			break;
		}
		deliver_head(s, st);
		break;
	case NGHTTP2_RST_STREAM:
		if (st)
			st->peer_reset = 1;
		break;
	case NGHTTP2_GOAWAY:
		s->goaway = 1;
		s->goaway_last = f->goaway.last_stream_id;
		s->goaway_code = f->goaway.error_code;
		pool_unshare(cn);
		break;
	case NGHTTP2_SETTINGS:
		if (!(f->hd.flags & NGHTTP2_FLAG_ACK)) {
			s->got_settings = 1;
			if (cn->connecting) {
				/* its host's transfers may count on its streams now,
				 * or open connections of their own */
				cn->connecting = 0;
				cn->host->nconnecting--;
				cn->host->open_failed = 0;
				pool_host_changed(cn->host);
			}
			room_changed(s);
		}
		break;
	default:
		break;
	}
	if ((f->hd.flags & NGHTTP2_FLAG_END_STREAM) && !cn->client->freed &&
	    (st = stream_of(s, f->hd.stream_id)) && st->t && st->head_done && !st->closed &&
	    st->t->state == XS_REQUEST) {
		/* the whole answer came before the whole request body (a 413,
		 * or Expect unanswered): stop sending it, and the stream's
		 * clean close completes the transfer (RFC 9113, 8.1) */
		st->reset = 1;
		nghttp2_submit_rst_stream(ng, NGHTTP2_FLAG_NONE, st->id, NGHTTP2_NO_ERROR);
	}
	return 0;
}

/* Keep DATA for a paused transfer until it resumes. */
static int keep_input(struct h2_session *s, struct h2_stream *st, const uint8_t *data, size_t len)
{
	if (st->koff > 0 && st->koff >= st->klen / 2) {
		/* what was delivered goes: the buffer holds at most the
		 * stream's window (twice, at worst) */
		memmove(st->kbuf, st->kbuf + st->koff, st->klen - st->koff);
		st->klen -= st->koff;
		st->koff = 0;
	}
	char *nb = realloc(st->kbuf, st->klen + len);
	if (!nb)
		return -1;
	memcpy(nb + st->klen, data, len);
	st->kbuf = nb;
	st->klen += len;
	if (!st->on_kept) {
		st->on_kept = 1;
		TAILQ_INSERT_TAIL(&s->kept, st, klink);
	}
	return 0;
}

static int on_data_chunk(nghttp2_session *ng, uint8_t flags, int32_t id, const uint8_t *data,
                         size_t len, void *ud)
{
	struct h2_session *s = ud;
	struct h2_stream *st = stream_of(s, id);
	if (!st || !st->t || s->cn->client->freed) {
		nghttp2_session_consume(ng, id, len);   /* nobody wants it */
		return 0;
	}
	struct evf_transfer *t = st->t;
	st->got_byte = 1;
	UPCALL(t)->recv(t);
	if (t->paused || t->held || st->klen > st->koff) {
		if (keep_input(s, st, data, len) != 0) {
			nghttp2_session_consume(ng, id, len);
			h2_stream_stop(st, EVF_ERR_NOMEM, "out of memory for the response body");
		}
		return 0;
	}
	int r = UPCALL(t)->body(t, (const char *)data, len);
	nghttp2_session_consume(ng, id, len);
	if (h2_gone(s->cn, st))
		return 0;
	if (r < 0)
		h2_stream_stop(st, r, "stopped while receiving the body");
	return 0;
}

/* A stream nghttp2 closed, with its transfer still on it. */
static void stream_end(struct h2_session *s, struct h2_stream *st)
{
	char why[256];
	uint32_t code = st->close_code;
	if (code == NGHTTP2_NO_ERROR && st->head_done) {
		UPCALL(st->t)->end(st->t, 1, 1, NULL);
		return;
	}
	int safe = !st->got_byte && (code == NGHTTP2_REFUSED_STREAM || !st->sent ||
	                             (s->goaway && st->id > s->goaway_last));
	if (!safe)
		safe = -1;   /* the stream failed, not the connection */
	int err = EVF_ERR_PROTOCOL;
	const char *peer = conn_peer(s->cn);
	if (st->peer_reset) {
		if (code != NGHTTP2_PROTOCOL_ERROR)
			err = EVF_ERR_NETWORK;
		snprintf(why, sizeof why, "%s reset the HTTP/2 stream (%s)", peer,
		         nghttp2_http2_strerror(code));
	} else if (code == NGHTTP2_NO_ERROR) {
		snprintf(why, sizeof why, "%s ended the HTTP/2 stream without a response", peer);
	} else if (code == NGHTTP2_REFUSED_STREAM) {
		err = EVF_ERR_NETWORK;
		snprintf(why, sizeof why, "%s did not take the request (%s)", peer,
		         s->goaway ? "it is going away" : "refused");
	} else {
		snprintf(why, sizeof why, "%s broke HTTP/2 on the stream: %s", peer,
		         s->why[0] ? s->why : nghttp2_http2_strerror(code));
	}
	stream_failed(s, st, err, why, safe);
}

static int on_stream_close(nghttp2_session *ng, int32_t id, uint32_t code, void *ud)
{
	struct h2_session *s = ud;
	struct h2_stream *st = stream_of(s, id);
	if (!st)
		return 0;
	nghttp2_session_set_stream_user_data(ng, id, NULL);
	st->closed = 1;
	st->close_code = code;
	s->nopen--;
	if (!st->t) {
		free_stream(s, st);
	} else if (!s->cn->client->freed) {
		struct evf_transfer *t = st->t;
		if (code == NGHTTP2_NO_ERROR && st->head_done && (st->klen > st->koff || t->held)) {
			/* complete, with input kept over a pause: it ends once
			 * that is delivered */
			st->end_pending = 1;
			if (!st->on_kept) {
				st->on_kept = 1;
				TAILQ_INSERT_TAIL(&s->kept, st, klink);
			}
		} else {
			stream_end(s, st);
		}
	}
	if (!s->cn->client->freed)
		room_changed(s);
	return 0;
}

static int on_frame_send(nghttp2_session *ng, const nghttp2_frame *f, void *ud)
{
	struct h2_session *s = ud;
	if (f->hd.type == NGHTTP2_GOAWAY && f->goaway.error_code != NGHTTP2_NO_ERROR) {
		/* nghttp2 ends the connection for a fault of the server's: its
		 * reason is in the GOAWAY's debug data */
		int n = (int)(f->goaway.opaque_data_len < 150 ? f->goaway.opaque_data_len : 150);
		snprintf(s->why, sizeof s->why, "%s%s%.*s%s",
		         nghttp2_http2_strerror(f->goaway.error_code), n ? " (" : "", n,
		         n ? (const char *)f->goaway.opaque_data : "", n ? ")" : "");
		return 0;
	}
	if ((f->hd.type != NGHTTP2_HEADERS && f->hd.type != NGHTTP2_DATA) || s->cn->client->freed)
		return 0;
	struct h2_stream *st = stream_of(s, f->hd.stream_id);
	if (!st)
		return 0;
	if (f->hd.type == NGHTTP2_HEADERS) {
		st->sent = 1;
		if (st->t)
			st->t->req_touched = 1;
	}
	/* the request is out with its last frame: HEADERS, or a body's DATA */
	if (st->t && (f->hd.flags & NGHTTP2_FLAG_END_STREAM))
		UPCALL(st->t)->sent(st->t);
	return 0;
}

static int on_error(nghttp2_session *ng, int code, const char *msg, size_t len, void *ud)
{
	struct h2_session *s = ud;
	snprintf(s->why, sizeof s->why, "%.*s", (int)len, msg);
	return 0;
}

/* ------------------------------------------------------ the protocol ops */

/* Fail every transfer on the connection. */
static void h2_fail(struct conn *cn, int err, const char *why)
{
	struct h2_session *s = sess(cn);
	struct h2_stream *st, *next;
	s->dead = 1;
	s->failing = 1;
	for (st = TAILQ_FIRST(&s->streams); st; st = next) {
		next = TAILQ_NEXT(st, link);
		if (!st->t)
			continue;
		int safe = !st->got_byte && (!st->sent || (s->goaway && st->id > s->goaway_last));
		stream_failed(s, st, err, why, safe);
		next = TAILQ_FIRST(&s->streams);   /* start over: the list changed */
	}
	s->failing = 0;
}

static int h2_feed(struct conn *cn, const char *data, size_t len)
{
	struct h2_session *s = sess(cn);
	ssize_t n = nghttp2_session_mem_recv(s->ng, (const uint8_t *)data, len);
	if (cn->client->freed || cn->state == CS_CLOSED)
		return PR_GONE;
	if (n < 0) {
		conn_set_why(cn, "HTTP/2 with %s failed: %s", conn_peer(cn),
		             s->why[0] ? s->why : nghttp2_strerror((int)n));
		return n == NGHTTP2_ERR_NOMEM ? EVF_ERR_NOMEM : EVF_ERR_PROTOCOL;
	}
	if (cn->state == CS_IDLE && (s->goaway || s->dead)) {
		conn_close(cn);   /* an idle connection the server is done with */
		return PR_GONE;
	}
	if (!nghttp2_session_want_read(s->ng)) {
		/* nghttp2 ended the session: a connection error (its GOAWAY
		 * goes out as best it can), or the server's GOAWAY after the
		 * last stream */
		if (nghttp2_session_want_write(s->ng))
			h2_flush(cn);
		if (s->goaway && s->goaway_code == NGHTTP2_NO_ERROR && !s->why[0] && only_ended(s)) {
			/* the server is done, and so are the responses: those
			 * kept over a pause are delivered on resume */
			s->dead = 1;
			pool_unshare(cn);
			if (s->nattached > 0)
				return 0;
			conn_close(cn);
			return PR_GONE;
		}
		conn_set_why(cn, "HTTP/2 with %s failed: %s", conn_peer(cn),
		             s->why[0] ? s->why
		             : s->goaway ? "the server went away"
		                         : "the session ended");
		return EVF_ERR_PROTOCOL;
	}
	return 0;
}

static void h2_eof(struct conn *cn, int clean)
{
	struct h2_session *s = sess(cn);
	struct h2_stream *st, *next;
	char why[200];
	s->dead = 1;
	s->failing = 1;
	pool_unshare(cn);
	for (st = TAILQ_FIRST(&s->streams); st; st = next) {
		next = TAILQ_NEXT(st, link);
		if (!st->t || st->end_pending)
			continue;
		int safe = !st->got_byte && (!st->sent || (s->goaway && st->id > s->goaway_last));
		snprintf(why, sizeof why, "%s closed the HTTP/2 connection %s", conn_peer(cn),
		         st->got_byte ? "in the middle of the response" : "before responding");
		stream_failed(s, st, st->got_byte ? EVF_ERR_TRUNCATED : EVF_ERR_NETWORK, why, safe);
		next = TAILQ_FIRST(&s->streams);
	}
	s->failing = 0;
	if (cn->state != CS_CLOSED && s->nattached == 0)
		conn_close(cn);
}

/* Deliver input kept over a pause for one stream.  1 when something was
 * done (look again), 0 when it must wait. */
static int deliver_kept(struct h2_session *s, struct h2_stream *st)
{
	struct evf_transfer *t = st->t;
	if (!t) {
		TAILQ_REMOVE(&s->kept, st, klink);
		st->on_kept = 0;
		return 1;
	}
	if (t->paused)
		return 0;
	if (t->held) {
		/* the decoder's own input first */
		return UPCALL(t)->held(t) || !t->held;
	}
	if (st->koff < st->klen) {
		size_t n = st->klen - st->koff;
		if (n > H2_CHUNK)
			n = H2_CHUNK;
		const char *p = st->kbuf + st->koff;
		st->koff += n;
		int r = UPCALL(t)->body(t, p, n);
		if (st->closed)
			nghttp2_session_consume_connection(s->ng, n);
		else
			nghttp2_session_consume(s->ng, st->id, n);
		if (h2_gone(s->cn, st))
			return 1;
		if (st->koff == st->klen) {
			free(st->kbuf);
			st->kbuf = NULL;
			st->klen = st->koff = 0;
		}
		if (r < 0)
			h2_stream_stop(st, r, "stopped while receiving the body");
		return 1;
	}
	TAILQ_REMOVE(&s->kept, st, klink);
	st->on_kept = 0;
	if (st->end_pending)
		stream_end(s, st);
	return 1;
}

static int h2_poll(struct conn *cn)
{
	struct h2_session *s = sess(cn);
	struct h2_stream *st;
	TAILQ_FOREACH(st, &s->kept, klink) {
		if (deliver_kept(s, st))
			return cn->client->freed || cn->state == CS_CLOSED ? PR_GONE : PR_AGAIN;
	}
	return s->dead ? PR_STOP : PR_READ;
}

static void h2_detach(struct conn *cn, struct evf_transfer *t, int keep)
{
	struct h2_session *s = sess(cn);
	struct h2_stream *st = t->stream;
	if (!st) {
		t->conn = NULL;
		after_detach(s);
		return;
	}
	unlink_transfer(s, st);
	if (st->closed) {
		free_stream(s, st);
	} else if (!st->reset) {
		st->reset = 1;
		nghttp2_submit_rst_stream(s->ng, NGHTTP2_FLAG_NONE, st->id, NGHTTP2_CANCEL);
	}
	if (!after_detach(s))
		conn_update(cn);   /* send the RST_STREAM */
}

static void h2_resume(struct conn *cn, struct evf_transfer *t)
{
	struct h2_session *s = sess(cn);
	struct h2_stream *st = t->stream;
	if (st && !st->on_kept && (st->klen > st->koff || t->held || st->end_pending)) {
		st->on_kept = 1;
		TAILQ_INSERT_TAIL(&s->kept, st, klink);
	}
}

static void h2_release(struct conn *cn)
{
	struct h2_session *s = sess(cn);
	struct h2_stream *st;
	if (!s)
		return;
	while ((st = TAILQ_FIRST(&s->streams))) {
		if (st->t) {
			/* only when the client is freed: nobody is told */
			st->t->stream = NULL;
			st->t->conn = NULL;
		}
		free_stream(s, st);
	}
	nghttp2_session_del(s->ng);
	free(s->pend);
	free(s);
	cn->p.h2 = NULL;
}

int h2_session_new(struct conn *cn)
{
	const struct evf_config *cfg = &cn->client->cfg;
	struct h2_session *s = calloc(1, sizeof *s);
	nghttp2_session_callbacks *cbs = NULL;
	nghttp2_option *opt = NULL;
	if (!s)
		return EVF_ERR_NOMEM;
	s->cn = cn;
	TAILQ_INIT(&s->streams);
	TAILQ_INIT(&s->kept);
	int rv = -1;
	if (nghttp2_session_callbacks_new(&cbs) != 0 || nghttp2_option_new(&opt) != 0)
		goto out;
	nghttp2_session_callbacks_set_on_begin_headers_callback(cbs, on_begin_headers);
	nghttp2_session_callbacks_set_on_header_callback(cbs, on_header);
	nghttp2_session_callbacks_set_on_frame_recv_callback(cbs, on_frame_recv);
	nghttp2_session_callbacks_set_on_data_chunk_recv_callback(cbs, on_data_chunk);
	nghttp2_session_callbacks_set_on_stream_close_callback(cbs, on_stream_close);
	nghttp2_session_callbacks_set_on_frame_send_callback(cbs, on_frame_send);
	nghttp2_session_callbacks_set_error_callback2(cbs, on_error);
	nghttp2_option_set_no_auto_window_update(opt, 1);
	nghttp2_option_set_no_closed_streams(opt, 1);
	nghttp2_option_set_peer_max_concurrent_streams(opt, 100);
	if (nghttp2_session_client_new2(&s->ng, cbs, s, opt) != 0)
		goto out;
	nghttp2_settings_entry iv[] = {
		{NGHTTP2_SETTINGS_ENABLE_PUSH, 0},
		{NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE, H2_STREAM_WINDOW},
		{NGHTTP2_SETTINGS_MAX_HEADER_LIST_SIZE, (uint32_t)cfg->max_header_bytes},
	};
	if (nghttp2_submit_settings(s->ng, NGHTTP2_FLAG_NONE, iv, sizeof iv / sizeof iv[0]) != 0 ||
	    nghttp2_session_set_local_window_size(s->ng, NGHTTP2_FLAG_NONE, 0, H2_CONN_WINDOW) != 0)
		goto out;
	cn->p.h2 = s;
	rv = 0;
out:
	nghttp2_session_callbacks_del(cbs);
	nghttp2_option_del(opt);
	if (rv != 0) {
		if (s->ng)
			nghttp2_session_del(s->ng);
		free(s);
	}
	return rv;
}

const struct proto_ops evf_h2_proto = {
	.name = "h2",
	.version = 2,
	.capacity = h2_capacity,
	.submit = h2_submit,
	.flush = h2_flush,
	.want_flush = h2_want_flush,
	.poll = h2_poll,
	.feed = h2_feed,
	.eof = h2_eof,
	.detach = h2_detach,
	.resume = h2_resume,
	.body_ready = h2_body_ready,
	.fail = h2_fail,
	.release = h2_release,
};
