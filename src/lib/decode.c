/*
 * decode.c - streaming gzip/deflate decoding of response bodies (zlib).
 *
 * A paused transfer stops the output from inside emit; the input zlib has
 * not taken, and what arrives afterwards, is kept as it is (copied: it
 * lives in the client's shared read buffer) until decoder_resume.
 */
#include <stdio.h>
#include <stdlib.h>
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

/* The first bytes of the body (len > 0) are here: set zlib up for them. */
static int begin(struct decoder *d, const char *in, size_t len)
{
	/* a zlib header has CMF 0x?8 and a check sum; else assume raw */
	int raw = d->kind == DECODE_DEFLATE &&
	          ((in[0] & 0x0f) != 8 ||
	           (len >= 2 && (((unsigned char)in[0] << 8) | (unsigned char)in[1]) % 31));
	int r = start(d, raw);
	if (r)
		return r;
	d->raw_tried = raw;
	return 0;
}

/* Keep len more bytes of input, after those kept already. */
static int keep(struct decoder *d, const char *in, size_t len)
{
	if (len == 0)
		return 0;
	if (len > d->held_cap - d->nheld) {
		size_t cap = 2 * d->held_cap;
		if (cap < d->nheld + len)
			cap = d->nheld + len;
		char *nb = realloc(d->held, cap);
		if (!nb) {
			snprintf(d->why, sizeof d->why, "out of memory for the decoder");
			return EVF_ERR_NOMEM;
		}
		d->held = nb;
		d->held_cap = cap;
	}
	memcpy(d->held + d->nheld, in, len);
	d->nheld += len;
	return 0;
}

static void release_held(struct decoder *d)
{
	free(d->held);
	d->held = NULL;
	d->nheld = d->held_cap = 0;
}

/*
 * Inflate the input zs points at, handing the output on, until that input
 * is used up, the stream ends, or emit fails or stops the output (zs then
 * points at what is left).  more: zlib may have output left even without
 * input.
 */
static int run(struct decoder *d, int more, decode_emit emit, void *ctx)
{
	char out[EVF_DECODE_CHUNK];
	while (d->zs.avail_in > 0 || more) {
		d->zs.next_out = (Bytef *)out;
		d->zs.avail_out = sizeof out;
		int z = inflate(&d->zs, Z_NO_FLUSH);
		size_t produced = sizeof out - d->zs.avail_out;
		more = d->zs.avail_out == 0;
		int r = produced ? emit(ctx, out, produced) : 0;
		if (r < 0)
			return r;
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
		if (r == DECODE_STOP) {
			d->stopped = 1;
			d->more = more;
			return 0;
		}
	}
	return 0;
}

int decoder_feed(struct decoder *d, const char *in, size_t len, decode_emit emit, void *ctx)
{
	if (len == 0)
		return 0;
	if (d->ended)
		return fail(d, "data after the end of the compressed stream");
	if (d->stopped)
		return keep(d, in, len);
	if (!d->started) {
		int r = begin(d, in, len);
		if (r)
			return r;
	}
	d->zs.next_in = (Bytef *)in;
	d->zs.avail_in = (uInt)len;
	int r = run(d, 0, emit, ctx);
	if (r == 0 && d->stopped)
		r = keep(d, (const char *)d->zs.next_in, d->zs.avail_in);
	return r;
}

void decoder_stop(struct decoder *d)
{
	d->stopped = 1;
}

int decoder_stopped(const struct decoder *d)
{
	return d->stopped;
}

int decoder_resume(struct decoder *d, decode_emit emit, void *ctx)
{
	int more = d->more, r = 0;
	if (!d->stopped)
		return 0;
	d->stopped = d->more = 0;
	if (d->nheld == 0 && !more) {
		release_held(d);
		return 0;
	}
	if (!d->started)
		r = begin(d, d->held, d->nheld);   /* stopped before the first byte */
	if (r == 0) {
		d->zs.next_in = (Bytef *)d->held;
		d->zs.avail_in = (uInt)d->nheld;
		r = run(d, more, emit, ctx);
	}
	if (r == 0 && d->stopped) {
		/* stopped again: what is left moves to the front */
		size_t n = d->zs.avail_in;
		if (n)
			memmove(d->held, d->zs.next_in, n);
		d->nheld = n;
		return 0;
	}
	release_held(d);
	return r;
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
	release_held(d);
}
