/*
 * debug.c - what the client's debug function sees (evf_config_set_debug):
 * the connection a request uses, and request and response heads rendered
 * as HTTP/1.1 text (an HTTP/1.1 request head goes out as it is, from
 * h1.c).  Only called when a debug function is set.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <nghttp2/nghttp2.h>

#include "internal.h"

#define UPCALL(t) ((t)->client->up)

/* For the debug function: the connection t is about to use. */
void debug_connection(struct evf_transfer *t, struct conn *cn, int reused)
{
	char line[1024];
	int n = snprintf(line, sizeof line, "%s %s (%s)",
	                 reused ? "reusing the connection to" : "connected to", conn_peer(cn),
	                 t->u.authority);
	if (n < 0)
		return;
	UPCALL(t)->debug(t, EVF_DEBUG_TEXT, line, (size_t)n < sizeof line ? (size_t)n : sizeof line - 1);
	if (!reused && cn->ssl) {
		tls_describe(cn, line, sizeof line);
		UPCALL(t)->debug(t, EVF_DEBUG_TEXT, line, strlen(line));
	}
}

/* For the debug function: the final response's head, as HTTP/1.1 text. */
void debug_head(struct evf_transfer *t, const evf_response *resp)
{
	char *buf = NULL;
	size_t len = 0, cap = 0;
	char line[64];
	int n = resp->http_major == 2
	                ? snprintf(line, sizeof line, "HTTP/2 %d\r\n", resp->status)
	                : snprintf(line, sizeof line, "HTTP/%d.%d %d\r\n", resp->http_major,
	                           resp->http_minor, resp->status);
	int bad = evf_buf_add(&buf, &len, &cap, line, (size_t)n, 512);
	for (size_t i = 0; i < resp->nheaders && !bad; i++) {
		const evf_header *h = &resp->headers[i];
		bad = evf_buf_add(&buf, &len, &cap, h->name, strlen(h->name), 512) ||
		      evf_buf_add(&buf, &len, &cap, ": ", 2, 512) ||
		      evf_buf_add(&buf, &len, &cap, h->value, strlen(h->value), 512) ||
		      evf_buf_add(&buf, &len, &cap, "\r\n", 2, 512);
	}
	if (!bad && !evf_buf_add(&buf, &len, &cap, "\r\n", 2, 512))
		UPCALL(t)->debug(t, EVF_DEBUG_HEADER_IN, buf, len);
	free(buf);
	if (resp->http_major != 2 && xfer_ext(t))
		t->ext->wire_head = 1;   /* debug_wire passes the bytes on now */
}

void debug_wire(struct evf_transfer *t, const char *data, size_t len)
{
	struct xfer_ext *x = t->cancelled || t->client->freed ? NULL : xfer_ext(t);
	if (!x)
		return;
	if (x->wire_on) {
		if (data)
			UPCALL(t)->debug(t, EVF_DEBUG_WIRE_IN, data, len);
		return;
	}
	if (!data) {
		x->wire_len = 0;   /* an interim response's bytes */
		return;
	}
	/* http1_feed passes no more than the head's limit before the head
	 * was parsed, so this buffer is bounded; past it, debug_head ran out
	 * of memory before it could mark the head, and the bytes are lost */
	if (x->wire_len + len > t->client->cfg.max_header_bytes ||
	    evf_buf_add(&x->wire, &x->wire_len, &x->wire_cap, data, len, 512) != 0)
		return;   /* out of memory: the archive loses this head */
	if (!x->wire_head)
		return;
	UPCALL(t)->debug(t, EVF_DEBUG_WIRE_IN, x->wire, x->wire_len);
	debug_wire_reset(x);
	x->wire_head = x->wire_on = 1;
}

void debug_wire_reset(struct xfer_ext *x)
{
	free(x->wire);
	x->wire = NULL;
	x->wire_len = x->wire_cap = 0;
	x->wire_head = x->wire_on = 0;
}

/* For the debug function: the request's fields as HTTP/1.1 text. */
void debug_request_h2(struct evf_transfer *t, const void *nva, size_t k)
{
	const nghttp2_nv *nv = nva;
	char *buf = NULL;
	size_t len = 0, cap = 0;
	/* :method, :scheme, :authority, :path come first (submit_request) */
	int bad = evf_buf_add(&buf, &len, &cap, nv[0].value, nv[0].valuelen, 512) ||
	          evf_buf_add(&buf, &len, &cap, " ", 1, 512) ||
	          evf_buf_add(&buf, &len, &cap, nv[3].value, nv[3].valuelen, 512) ||
	          evf_buf_add(&buf, &len, &cap, " HTTP/2\r\n", 9, 512);
	for (size_t i = 1; i < k && !bad; i++) {
		if (i == 3)
			continue;
		bad = evf_buf_add(&buf, &len, &cap, nv[i].name, nv[i].namelen, 512) ||
		      evf_buf_add(&buf, &len, &cap, ": ", 2, 512) ||
		      evf_buf_add(&buf, &len, &cap, nv[i].value, nv[i].valuelen, 512) ||
		      evf_buf_add(&buf, &len, &cap, "\r\n", 2, 512);
	}
	if (!bad && !evf_buf_add(&buf, &len, &cap, "\r\n", 2, 512))
		UPCALL(t)->debug(t, EVF_DEBUG_HEADER_OUT, buf, len);
	free(buf);
}
