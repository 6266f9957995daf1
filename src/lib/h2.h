/*
 * h2.h - HTTP/2's session and streams, shared by h2.c (the protocol) and
 * h2_request.c (requests and their bodies).  Not installed.
 */
#ifndef EVF_H2_H
#define EVF_H2_H

#include <nghttp2/nghttp2.h>

#include "internal.h"

struct h2_stream {
	struct evf_transfer *t;    /* NULL once the transfer left */
	int32_t id;
	int status;
	uint32_t close_code;
	char *hbuf;                /* the head so far: name\0value\0 ... */
	size_t hlen, hcap;
	size_t hbytes;             /* the head's size, interim heads and trailers too */
	unsigned nheaders;
	char *kbuf;                /* DATA kept over a pause, not consumed yet */
	size_t klen, koff;
	TAILQ_ENTRY(h2_stream) link;  /* on the session's list */
	TAILQ_ENTRY(h2_stream) klink; /* on the session's list of kept input */
	unsigned head_done : 1;
	unsigned got_byte : 1;
	unsigned sent : 1;         /* its HEADERS went out */
	unsigned closed : 1;       /* nghttp2 closed it */
	unsigned reset : 1;        /* we reset it */
	unsigned peer_reset : 1;   /* the server reset it */
	unsigned on_kept : 1;
	unsigned end_pending : 1;  /* closed cleanly, with kept input still to deliver */
};

struct h2_session {
	nghttp2_session *ng;
	struct conn *cn;
	TAILQ_HEAD(, h2_stream) streams;
	TAILQ_HEAD(, h2_stream) kept;
	unsigned nopen;            /* streams nghttp2 has open (or queued) for us */
	unsigned nattached;        /* streams with a transfer */
	uint8_t *pend;             /* bytes the transport did not take yet */
	size_t plen, poff;
	int32_t goaway_last;
	uint32_t goaway_code;
	unsigned goaway : 1;       /* the server sent GOAWAY: no new streams */
	unsigned dead : 1;         /* the connection ended: no new streams, no reads */
	unsigned got_settings : 1;
	unsigned failing : 1;      /* h2_fail or h2_eof tells every transfer */
	char why[200];             /* nghttp2's last complaint */
};

static inline struct h2_session *sess(const struct conn *cn)
{
	return cn->p.h2;
}

/* h2.c: the stream's transfer ends with r (< 0), why; after a callback of
 * the caller, 1 when the client or the stream's transfer went away. */
void h2_stream_stop(struct h2_stream *st, int r, const char *why);
int h2_gone(struct conn *cn, struct h2_stream *st);
/* h2_request.c: submit t's request (and body) on st; 0 or an error. */
int h2_submit_request(struct h2_session *s, struct evf_transfer *t, struct h2_stream *st);
/* t's body reader has data again. */
void h2_body_ready(struct conn *cn, struct evf_transfer *t);

#endif /* EVF_H2_H */
