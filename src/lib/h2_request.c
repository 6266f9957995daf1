/*
 * h2_request.c - an HTTP/2 request: its header fields from the transfer's
 * lines, and its body as DATA frames within the peer's flow control.
 */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "h2.h"

/* upcalls go through the client, never by name */
#define UPCALL(t) ((t)->client->up)


/* Is this request header one HTTP/2 forbids (RFC 9113, 8.2.2)? */
static int connection_specific(const char *name, size_t n)
{
	static const char *const names[] = {"connection", "keep-alive", "proxy-connection",
	                                    "transfer-encoding", "upgrade", "te", "host"};
	for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
		if (strlen(names[i]) == n && strncasecmp(name, names[i], n) == 0)
			return 1;
	return 0;
}

/* "Name: value" lines: does one name this header? */
static const char *line_for(const char *const *lines, size_t n, const char *name)
{
	size_t len = strlen(name);
	for (size_t i = 0; i < n; i++)
		if (strncasecmp(lines[i], name, len) == 0 && lines[i][len] == ':')
			return lines[i] + len + 1;
	return NULL;
}

static const char *skip_blanks(const char *v)
{
	while (*v == ' ' || *v == '\t')
		v++;
	return v;
}

static size_t value_len(const char *v)
{
	size_t n = strlen(v);
	while (n > 0 && (v[n - 1] == ' ' || v[n - 1] == '\t'))
		n--;
	return n;
}

static void nv_set(nghttp2_nv *nv, const char *name, size_t nlen, const char *value, size_t vlen)
{
	nv->name = (uint8_t *)(uintptr_t)name;
	nv->namelen = nlen;
	nv->value = (uint8_t *)(uintptr_t)value;
	nv->valuelen = vlen;
	nv->flags = NGHTTP2_NV_FLAG_NONE;
}

/*
 * The request body, as the peer's flow control lets it go: nghttp2 asks
 * from h2_flush (io_cb), so the caller's reader never runs inside an API
 * call.  A reader with nothing yet defers the stream until
 * evf_transfer_resume_body (h2_body_ready); one that fails or cancels
 * ends the transfer, whose detach resets the stream.
 */
static ssize_t body_source(nghttp2_session *ng, int32_t id, uint8_t *buf, size_t len,
                           uint32_t *flags, nghttp2_data_source *src, void *ud)
{
	struct h2_session *s = ud;
	struct h2_stream *st = src->ptr;
	struct evf_transfer *t = st->t;
	if (!t)
		return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;   /* nobody's: reset it */
	long n = body_read(t, (char *)buf, len);
	if (n == BODY_WAIT)
		return NGHTTP2_ERR_DEFERRED;
	if (n == EVF_ERR_CANCELLED) {
		h2_gone(s->cn, st);
		return NGHTTP2_ERR_DEFERRED;   /* the detach reset it */
	}
	if (n < 0) {
		h2_stream_stop(st, (int)n, t->detail);
		return NGHTTP2_ERR_DEFERRED;
	}
	if (n == 0 || body_at_end(t))
		*flags |= NGHTTP2_DATA_FLAG_EOF;
	if (n > 0 && s->cn->client->cfg.debug_fn)
		UPCALL(t)->debug(t, EVF_DEBUG_DATA_OUT, (const char *)buf, (size_t)n);
	UPCALL(t)->touch(t);
	return n;
}

void h2_body_ready(struct conn *cn, struct evf_transfer *t)
{
	struct h2_stream *st = t->stream;
	if (st && !st->closed)
		nghttp2_session_resume_data(sess(cn)->ng, st->id);
}

/*
 * The request's header fields: the pseudo-headers, User-Agent and Accept
 * unless the caller's lines replace or remove them, then the caller's
 * lines with their names in lower case (names is the buffer for those),
 * without the connection-specific ones HTTP/2 forbids.  A Host line gives
 * :authority.
 */
int h2_submit_request(struct h2_session *s, struct evf_transfer *t, struct h2_stream *st)
{
	const char *stack[32];
	size_t n = 0;
	const char **all = UPCALL(t)->header_lines(t, stack, &n);
	if (!all)
		return EVF_ERR_NOMEM;
	size_t namebytes = 0;
	for (size_t i = 0; i < n; i++)
		namebytes += strlen(all[i]) + 1;
	nghttp2_nv *nv = malloc((n + 6) * sizeof *nv);
	char *names = malloc(namebytes + 1);
	int r = EVF_ERR_NOMEM;
	if (!nv || !names)
		goto out;
	size_t k = 0, o = 0;
	const char *authority = line_for(all, n, "host");
	const char *ua = line_for(all, n, "user-agent");
	const char *accept = line_for(all, n, "accept");
	const char *method = t->method;
	nv_set(&nv[k++], ":method", 7, method, strlen(method));
	nv_set(&nv[k++], ":scheme", 7, t->u.tls ? "https" : "http", t->u.tls ? 5 : 4);
	if (authority) {
		authority = skip_blanks(authority);
		nv_set(&nv[k++], ":authority", 10, authority, value_len(authority));
	} else {
		nv_set(&nv[k++], ":authority", 10, t->u.authority, strlen(t->u.authority));
	}
	nv_set(&nv[k++], ":path", 5, t->u.target, strlen(t->u.target));
	const char *dua = UPCALL(t)->user_agent(t);
	if (!ua && *dua)
		nv_set(&nv[k++], "user-agent", 10, dua, strlen(dua));
	if (!accept)
		nv_set(&nv[k++], "accept", 6, "*/*", 3);
	for (size_t i = 0; i < n; i++) {
		const char *colon = strchr(all[i], ':');
		if (!colon)
			continue;
		size_t nlen = (size_t)(colon - all[i]);
		const char *v = skip_blanks(colon + 1);
		size_t vlen = value_len(v);
		if (connection_specific(all[i], nlen) || vlen == 0)
			continue;   /* forbidden, or a line that removes a header */
		char *lname = names + o;
		for (size_t j = 0; j < nlen; j++) {
			char ch = all[i][j];
			lname[j] = (char)(ch >= 'A' && ch <= 'Z' ? ch + 32 : ch);
		}
		o += nlen;
		nv_set(&nv[k++], lname, nlen, v, vlen);
	}
	nghttp2_data_provider body = {.source.ptr = st, .read_callback = body_source};
	int32_t id = nghttp2_submit_request(s->ng, NULL, nv, k, t->body ? &body : NULL, st);
	if (id < 0) {
		r = id == NGHTTP2_ERR_NOMEM ? EVF_ERR_NOMEM : EVF_ERR_PROTOCOL;
		goto out;
	}
	st->id = id;
	r = 0;
	if (s->cn->client->cfg.debug_fn)
		debug_request_h2(t, nv, k);
out:
	free(nv);
	free(names);
	if (all != stack)
		free(all);
	return r;
}
