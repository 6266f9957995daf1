/*
 * decode.h - streaming content decoding (gzip, deflate) with zlib.
 *
 * Output is handed out in pieces of at most EVF_DECODE_CHUNK bytes as it
 * is produced, so memory stays bounded whatever the expansion ratio; the
 * caller's emit callback can stop the stream (a size limit, say).
 */
#ifndef EVF_DECODE_H
#define EVF_DECODE_H

#include <stddef.h>
#include <zlib.h>

#define EVF_DECODE_CHUNK 16384

enum decode_kind {
	DECODE_NONE,
	DECODE_GZIP,
	DECODE_DEFLATE,
};

struct decoder {
	z_stream zs;
	enum decode_kind kind;
	int started;      /* inflateInit2 done */
	int raw_tried;    /* deflate: fell back to a raw stream */
	int ended;        /* Z_STREAM_END seen */
	char why[128];
};

/* What a Content-Encoding value asks for; DECODE_NONE for identity and for
 * anything not decoded here (handed on as is). */
enum decode_kind decode_kind_of(const char *content_encoding);

typedef int (*decode_emit)(void *ctx, const char *data, size_t len);

void decoder_init(struct decoder *d, enum decode_kind kind);
/* 0, a negative value returned by emit, or EVF_ERR_DECODE / EVF_ERR_NOMEM. */
int decoder_feed(struct decoder *d, const char *in, size_t len, decode_emit emit, void *ctx);
/* The body ended: EVF_ERR_DECODE when the compressed stream did not. */
int decoder_finish(struct decoder *d);
void decoder_free(struct decoder *d);

#endif /* EVF_DECODE_H */
