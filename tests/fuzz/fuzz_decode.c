/*
 * fuzz_decode.c - libFuzzer target for content decoding (src/lib/decode.c).
 *
 * The first byte picks gzip or deflate and the size of the pieces the
 * rest is fed in; the rest is the body.  Checked:
 *
 *   - decoder_feed and decoder_finish return 0 or a negative evf_error,
 *     with a reason on EVF_ERR_DECODE;
 *   - output comes in pieces of at most EVF_DECODE_CHUNK bytes;
 *   - a sink that refuses past a limit stops the decoder at once (a
 *     decompression bomb ends at the limit: output never passes it);
 *   - nothing is fed after a failure, and decoder_free always suffices;
 *   - fed again with the output stopped after every piece (a transfer
 *     paused in each on_body) and resumed after every piece of input, the
 *     decoder gives the same output and result, and nothing while stopped.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "decode.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(cond)                                                          \
	do {                                                                 \
		if (!(cond)) {                                               \
			fprintf(stderr, "fuzz_decode: check failed at line %d: %s\n", \
			        __LINE__, #cond);                            \
			abort();                                             \
		}                                                            \
	} while (0)

#define LIMIT (1u << 20)

struct sink {
	size_t total;
	uLong sum;       /* adler32 of the output */
	int stopping;    /* stop the output after every piece */
	int stopped;
};

static int emit(void *ctx, const char *d, size_t n)
{
	struct sink *s = ctx;
	CHECK(n > 0 && n <= EVF_DECODE_CHUNK);
	CHECK(d != NULL);
	CHECK(!s->stopped);
	if (s->total + n > LIMIT)
		return EVF_ERR_TOO_LARGE;
	s->total += n;
	s->sum = adler32(s->sum, (const Bytef *)d, (uInt)n);
	s->stopped = s->stopping;
	return s->stopping ? DECODE_STOP : 0;
}

static int run(enum decode_kind kind, const uint8_t *data, size_t size, size_t step,
               struct sink *s)
{
	struct decoder d;
	decoder_init(&d, kind);
	s->sum = adler32(0, NULL, 0);
	int r = 0;
	for (size_t o = 0; o < size && r == 0; o += step) {
		size_t n = size - o < step ? size - o : step;
		r = decoder_feed(&d, (const char *)data + o, n, emit, s);
		while (r == 0 && decoder_stopped(&d)) {
			CHECK(d.nheld <= n);
			s->stopped = 0;
			r = decoder_resume(&d, emit, s);
		}
	}
	if (r == 0)
		r = decoder_finish(&d);
	CHECK(r == 0 || r == EVF_ERR_DECODE || r == EVF_ERR_TOO_LARGE || r == EVF_ERR_NOMEM);
	if (r == EVF_ERR_DECODE)
		CHECK(d.why[0] != '\0');
	CHECK(s->total <= LIMIT);
	decoder_free(&d);
	return r;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	enum decode_kind kind = data[0] & 1 ? DECODE_GZIP : DECODE_DEFLATE;
	size_t step = (size_t)(data[0] >> 1) + 1;
	data++;
	size--;

	struct sink straight = {0}, stopping = {.stopping = 1};
	int r = run(kind, data, size, step, &straight);
	CHECK(run(kind, data, size, step, &stopping) == r);
	CHECK(stopping.total == straight.total && stopping.sum == straight.sum);
	return 0;
}
