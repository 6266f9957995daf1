/*
 * decode.c - streaming gzip/deflate decoding of response bodies (zlib).
 */
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "internal.h"
#include "decode.h"

enum decode_kind decode_kind_of(const char *ce)
{
	if (!ce)
		return DECODE_NONE;
	if (strcasecmp(ce, "gzip") == 0 || strcasecmp(ce, "x-gzip") == 0)
		return DECODE_GZIP;
	if (strcasecmp(ce, "deflate") == 0)
		return DECODE_DEFLATE;
	return DECODE_NONE;
}

void decoder_init(struct decoder *d, enum decode_kind kind)
{
	memset(d, 0, sizeof *d);
	d->kind = kind;
}

static int start(struct decoder *d, int raw)
{
	/* 15 + 16: gzip only; 15: zlib wrapper; -15: raw deflate, which some
	 * servers send for "deflate" despite RFC 9110 */
	int bits = d->kind == DECODE_GZIP ? 15 + 16 : raw ? -15 : 15;
	if (inflateInit2(&d->zs, bits) != Z_OK) {
		snprintf(d->why, sizeof d->why, "out of memory for the decoder");
		return EVF_ERR_NOMEM;
	}
	d->started = 1;
	return 0;
}

static int fail(struct decoder *d, const char *what)
{
	snprintf(d->why, sizeof d->why, "corrupt %s body: %s",
	         d->kind == DECODE_GZIP ? "gzip" : "deflate", what ? what : "invalid data");
	return EVF_ERR_DECODE;
}

int decoder_feed(struct decoder *d, const char *in, size_t len, decode_emit emit, void *ctx)
{
	char out[EVF_DECODE_CHUNK];
	if (len == 0)
		return 0;
	if (d->ended)
		return fail(d, "data after the end of the compressed stream");
	if (!d->started) {
		/* a zlib header has CMF 0x?8 and a check sum; else assume raw */
		int raw = d->kind == DECODE_DEFLATE &&
		          ((in[0] & 0x0f) != 8 ||
		           (len >= 2 && (((unsigned char)in[0] << 8) | (unsigned char)in[1]) % 31));
		int r = start(d, raw);
		if (r)
			return r;
		d->raw_tried = raw;
	}
	d->zs.next_in = (Bytef *)in;
	d->zs.avail_in = (uInt)len;
	while (d->zs.avail_in > 0 || d->zs.avail_out == 0) {
		d->zs.next_out = (Bytef *)out;
		d->zs.avail_out = sizeof out;
		int z = inflate(&d->zs, Z_NO_FLUSH);
		size_t produced = sizeof out - d->zs.avail_out;
		if (produced) {
			int r = emit(ctx, out, produced);
			if (r)
				return r;
		}
		if (z == Z_STREAM_END) {
			d->ended = 1;
			if (d->zs.avail_in > 0)
				return fail(d, "data after the end of the compressed stream");
			return 0;
		}
		if (z == Z_BUF_ERROR && produced == 0)
			return 0;   /* needs more input */
		if (z != Z_OK)
			return fail(d, d->zs.msg);
		if (d->zs.avail_in == 0 && d->zs.avail_out != 0)
			break;
	}
	return 0;
}

int decoder_finish(struct decoder *d)
{
	if (!d->started)
		return 0;   /* an empty body is fine */
	if (!d->ended)
		return fail(d, "the compressed stream ended early");
	return 0;
}

void decoder_free(struct decoder *d)
{
	if (d->started)
		inflateEnd(&d->zs);
	d->started = 0;
}
