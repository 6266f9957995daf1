/*
 * decode.h - streaming content decoding (gzip, deflate) with zlib.
 *
 * Output is handed out in pieces of at most EVF_DECODE_CHUNK bytes as it
 * is produced, so memory stays bounded whatever the expansion ratio; the
 * caller's emit callback can stop the stream (a size limit, say).
 *
 * It can also stop the output for a while (a paused transfer): emit returns
 * DECODE_STOP, and the decoder keeps the input it has not used yet, and any
 * input fed after that, undecoded, until decoder_resume.  The decoder holds
 * no more than it was given since it stopped: bounding that is the caller's
 * business (a transfer reads nothing while paused).
 */
#ifndef EVF_DECODE_H
#define EVF_DECODE_H

#include <stddef.h>
#include <zlib.h>

#define EVF_DECODE_CHUNK 16384

/* What emit returns to stop the output, keeping the rest of the input. */
#define DECODE_STOP 1

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
	char *held;       /* input kept while stopped, not decoded yet */
	size_t nheld, held_cap;
	unsigned stopped : 1; /* keep input instead of decoding it */
	unsigned more : 1;    /* stopped with output still inside zlib */
	char why[128];
};

/* What a Content-Encoding value asks for; DECODE_NONE for identity and for
 * anything not decoded here (handed on as is). */
enum decode_kind decode_kind_of(const char *content_encoding);

/* 0 to go on, DECODE_STOP to stop the output, or a negative evf_error. */
typedef int (*decode_emit)(void *ctx, const char *data, size_t len);

void decoder_init(struct decoder *d, enum decode_kind kind);
/*
 * Decode in, or keep it when stopped.  0 (also when emit stopped the
 * output: see decoder_stopped), a negative value returned by emit, or
 * EVF_ERR_DECODE / EVF_ERR_NOMEM.
 */
int decoder_feed(struct decoder *d, const char *in, size_t len, decode_emit emit, void *ctx);
/* Stop before decoding anything more: input is kept from now on. */
void decoder_stop(struct decoder *d);
/* Stopped, so holding input (or output zlib has yet to give)? */
int decoder_stopped(const struct decoder *d);
/* Decode what was kept; emit may stop it again.  Returns as decoder_feed. */
int decoder_resume(struct decoder *d, decode_emit emit, void *ctx);
/* The body ended: EVF_ERR_DECODE when the compressed stream did not. */
int decoder_finish(struct decoder *d);
void decoder_free(struct decoder *d);

#endif /* EVF_DECODE_H */
