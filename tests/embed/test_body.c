/*
 * test_body.c - request bodies and the request API of 0.2, through the
 * library, against the test nginx (tests/integration/body.sh starts it):
 *
 *   - a reader of unknown size that says "nothing yet" many times, resumed
 *     from a timer: chunked on HTTP/1.1, DATA frames on HTTP/2, stored
 *     byte-exact by nginx;
 *   - a reader that gives less than it announced, or aborts: EVF_ERR_IO;
 *   - cancels in the middle of an upload, from a timer and from inside the
 *     reader: no callback follows, nothing leaks (ASan, valgrind);
 *   - 307 with a reader: without a rewind callback a clear error, with one
 *     the body again; 303 turns a POST into a GET;
 *   - --retry's rule by method: a PUT is tried again after 503, a POST not;
 *   - evf_transfer_header after on_head, per-transfer options beside the
 *     client's, the setters' refusals, and evf_version.
 *
 * usage: test_body BASE CA_FILE WWW_DIR [h2c]   (BASE: http(s)://host:port;
 * h2c: HTTP/2 with prior knowledge on http://)
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>

#include "evfetch.h"
#include "tap.h"

static struct event_base *base;
static evf_client *client;
static const char *prefix, *www;

/* ------------------------------------------------------------ a reader */

struct src {
	size_t size, pos;          /* the pattern's length and where it stands */
	int waits_left;            /* EVF_BODY_WAIT this many times, each resumed */
	int short_by;              /* end this many bytes early */
	int abort_at;              /* abort once pos passes this (0: never) */
	int cancel_inside;         /* cancel from inside once pos passes half */
	int stall_at_half;         /* from half on, wait for ever */
	int resume_inside;         /* the first call resumes itself, then waits */
	evf_client *free_client;   /* freed from inside once pos passes half */
	unsigned calls;
	int rewinds;
	struct event *timer;
	evf_transfer *t;
	/* the result */
	int done, error, status;
	char detail[256];
	char body[64];
	size_t blen;
	char ctype[64];
	char trailer[64];
	unsigned retries;
};

static char pattern(size_t i)
{
	return (char)('a' + (i * 7 + i / 251) % 26);
}

static void resume_cb(evutil_socket_t fd, short what, void *arg)
{
	struct src *s = arg;
	ok(evf_transfer_resume_body(s->t) == 0 || s->done, "resume_body from a timer");
}

static long reader(evf_transfer *t, char *buf, size_t cap, void *arg)
{
	struct src *s = evf_transfer_arg(t);
	(void)arg;
	if (s->stall_at_half && s->pos >= s->size / 2)
		return EVF_BODY_WAIT;
	if (s->resume_inside) {
		s->resume_inside = 0;
		evf_transfer_resume_body(t);   /* data came while in here */
		return EVF_BODY_WAIT;
	}
	if (s->waits_left > 0 && ++s->calls % 3 == 0) {
		/* nothing yet; a timer says there is in a millisecond */
		s->waits_left--;
		struct timeval tv = {0, 1000};
		evtimer_add(s->timer, &tv);
		return EVF_BODY_WAIT;
	}
	if (s->abort_at && s->pos >= (size_t)s->abort_at)
		return EVF_BODY_ABORT;
	if (s->free_client && s->pos >= s->size / 2) {
		evf_client_free(s->free_client);
		s->free_client = NULL;
		return EVF_BODY_WAIT;
	}
	if (s->cancel_inside && s->pos >= s->size / 2) {
		evf_transfer_cancel(t);
		return EVF_BODY_WAIT;
	}
	size_t left = s->size - s->short_by - s->pos;
	size_t n = left < cap ? left : cap;
	if (n > 1000)
		n = 1000 + s->pos % 3000;   /* odd sizes, some above cap */
	if (n > cap)
		n = cap;
	if (n > left)
		n = left;
	for (size_t i = 0; i < n; i++)
		buf[i] = pattern(s->pos + i);
	s->pos += n;
	return (long)n;
}

static int rewinder(evf_transfer *t, void *arg)
{
	struct src *s = evf_transfer_arg(t);
	s->pos = 0;
	s->rewinds++;
	return 0;
}

static int on_head(evf_transfer *t, const evf_response *r, void *arg)
{
	struct src *s = arg;
	const char *ct = evf_transfer_header(t, "CONTENT-type");
	snprintf(s->ctype, sizeof s->ctype, "%s", ct ? ct : "");
	return 0;
}

static int on_body(evf_transfer *t, const void *d, size_t n, void *arg)
{
	struct src *s = arg;
	size_t room = sizeof s->body - 1 - s->blen;
	memcpy(s->body + s->blen, d, n < room ? n : room);
	s->blen += n < room ? n : room;
	s->body[s->blen] = '\0';
	return 0;
}

static void on_done(evf_transfer *t, const evf_result *r, void *arg)
{
	struct src *s = arg;
	s->done++;
	s->error = r->error;
	s->status = r->status;
	s->retries = r->retries;
	snprintf(s->detail, sizeof s->detail, "%s", r->detail ? r->detail : "");
	const char *tr = evf_transfer_trailer(t, "x-TRAILER");
	snprintf(s->trailer, sizeof s->trailer, "%s", tr ? tr : "");
	/* the head stays readable until on_done returns */
	if (r->status && !evf_transfer_header(t, "content-type") && !evf_transfer_header(t, "server"))
		s->detail[0] = '!';
}

static uint64_t data_in, data_out;
static int saw_head_out, saw_head_in;

static void debug_fn(evf_transfer *t, int kind, const char *data, size_t len, void *arg)
{
	if (kind == EVF_DEBUG_DATA_IN)
		data_in += len;
	else if (kind == EVF_DEBUG_DATA_OUT)
		data_out += len;
	else if (kind == EVF_DEBUG_HEADER_OUT)
		saw_head_out = len > 4 && memcmp(data + len - 4, "\r\n\r\n", 4) == 0;
	else if (kind == EVF_DEBUG_HEADER_IN)
		saw_head_in = len > 4 && memcmp(data + len - 4, "\r\n\r\n", 4) == 0;
}

static evf_transfer *make(struct src *s, const char *method, const char *path)
{
	char url[512];
	snprintf(url, sizeof url, "%s%s", prefix, path);
	int err = 0;
	evf_transfer *t = evf_transfer_new(client, url, s, &err);
	s->t = t;
	if (!s->timer)
		s->timer = evtimer_new(base, resume_cb, s);
	if (!t)
		return NULL;
	evf_transfer_set_method(t, method);
	evf_transfer_on_head(t, on_head);
	evf_transfer_on_body(t, on_body);
	evf_transfer_on_done(t, on_done);
	return t;
}

static void cancel_cb(evutil_socket_t fd, short what, void *arg)
{
	evf_transfer_cancel(arg);
}

/* Run the loop until every transfer of the client is done. */
static void run(void)
{
	event_base_dispatch(base);
}

static void reset(struct src *s, size_t size)
{
	struct event *tm = s->timer;
	memset(s, 0, sizeof *s);
	s->timer = tm;
	s->size = size;
}

/* Does WWW/put/NAME hold the pattern of size bytes? */
static int stored(const char *name, size_t size)
{
	char path[512];
	snprintf(path, sizeof path, "%s/put/%s", www, name);
	FILE *f = fopen(path, "rb");
	if (!f)
		return 0;
	size_t i = 0;
	int ch, same = 1;
	while ((ch = fgetc(f)) != EOF) {
		if (i >= size || ch != pattern(i))
			same = 0;
		i++;
	}
	fclose(f);
	return same && i == size;
}

int main(int argc, char **argv)
{
	if (argc != 4 && argc != 5) {
		fprintf(stderr, "usage: test_body BASE CA_FILE WWW_DIR [h2c]\n");
		return 2;
	}
	prefix = argv[1];
	www = argv[3];
	base = event_base_new();
	evf_config *cfg = evf_config_new();
	evf_config_set_ca_file(cfg, argv[2]);
	evf_config_set_keepalive(cfg, 0);   /* the loop ends with the transfers */
	evf_config_set_follow_redirects(cfg, 1, 5);
	evf_config_set_retries(cfg, 2, 10, 50);
	evf_config_set_debug(cfg, debug_fn, NULL);
	if (argc == 5 && strcmp(argv[4], "h2c") == 0)
		evf_config_set_http_version(cfg, EVF_HTTP_2_PRIOR_KNOWLEDGE);
	client = evf_client_new(base, cfg, NULL);
	evf_config_free(cfg);
	if (!ok(client != NULL, "a client"))
		return done_testing();
	struct src s = {0};

	/* --- a streamed body of unknown size, deferred many times ---------- */
	reset(&s, 300000);
	s.waits_left = 60;
	evf_transfer *t = make(&s, "PUT", "/put/stream.bin");
	ok(evf_transfer_set_body_reader(t, reader, NULL, -1) == 0, "a reader of unknown size");
	ok(evf_transfer_start(t) == 0, "started");
	ok(evf_transfer_set_method(t, "GET") == EVF_ERR_INVALID, "no setter after start");
	run();
	is_int(s.done, 1, "streamed: on_done once");
	ok(s.status == 201 || s.status == 204, "streamed: stored (status %d, %s)", s.status, s.detail);
	ok(s.waits_left == 0, "streamed: the reader said 'nothing yet' 60 times, resumed each time");
	ok(stored("stream.bin", 300000), "streamed: 300,000 bytes stored byte-exact");

	/* --- a known size, the reader ends early ---------------------------- */
	reset(&s, 50000);
	s.short_by = 100;
	t = make(&s, "PUT", "/put/short.bin");
	evf_transfer_set_body_reader(t, reader, NULL, 50000);
	evf_transfer_start(t);
	run();
	is_int(s.error, EVF_ERR_IO, "a reader short of its announced size: EVF_ERR_IO");
	ok(strstr(s.detail, "49900") != NULL, "...saying how far it got (%s)", s.detail);

	/* --- the reader aborts ----------------------------------------------- */
	reset(&s, 50000);
	s.abort_at = 20000;
	t = make(&s, "POST", "/post/abort.bin");
	evf_transfer_set_body_reader(t, reader, NULL, -1);
	evf_transfer_start(t);
	run();
	is_int(s.error, EVF_ERR_IO, "a reader that aborts: EVF_ERR_IO (%s)", s.detail);

	/* --- cancel from inside the reader ----------------------------------- */
	reset(&s, 200000);
	s.cancel_inside = 1;
	t = make(&s, "PUT", "/put/cancel-inside.bin");
	evf_transfer_set_body_reader(t, reader, NULL, 200000);
	evf_transfer_start(t);
	run();
	is_int(s.done, 0, "cancelled inside the reader mid-upload: no on_done");
	ok(!stored("cancel-inside.bin", 200000), "...and no complete body on the server");

	/* --- cancel from a timer while the reader waits ---------------------- */
	reset(&s, 200000);
	s.stall_at_half = 1;   /* only the cancel ends it */
	t = make(&s, "PUT", "/put/cancel-timer.bin");
	evf_transfer_set_body_reader(t, reader, NULL, -1);
	evf_transfer_start(t);
	struct event *cancel = evtimer_new(base, cancel_cb, t);
	struct timeval tv50 = {0, 50000};
	evtimer_add(cancel, &tv50);
	run();
	is_int(s.done, 0, "cancelled from a timer mid-upload: no on_done");
	ok(s.pos >= 100000 && s.pos < 200000, "...with part of the body read (%zu)", s.pos);
	event_free(cancel);

	/* --- a resume from inside the reader is not lost ---------------------- */
	reset(&s, 30000);
	s.resume_inside = 1;
	t = make(&s, "PUT", "/put/resume-inside.bin");
	evf_transfer_set_body_reader(t, reader, NULL, 30000);
	evf_transfer_set_option(t, EVF_OPT_TOTAL_TIMEOUT_MS, 10000);
	evf_transfer_start(t);
	run();
	ok(stored("resume-inside.bin", 30000), "a reader that resumes itself before saying WAIT: "
	   "asked again (%d %s)", s.status, s.detail);

	/* --- an answer before the body: the transfer ends at once -------------- */
	const char *h2bad = getenv("H2BAD_URL");
	if (h2bad && *h2bad) {
		char u[300];
		snprintf(u, sizeof u, "%s/s/status/413", h2bad);
		for (int expect = 0; expect < 2; expect++) {
			reset(&s, 200000);
			s.stall_at_half = !expect;
			int err = 0;
			t = evf_transfer_new(client, u, &s, &err);
			s.t = t;
			evf_transfer_set_method(t, "PUT");
			evf_transfer_set_body_reader(t, reader, NULL, -1);
			if (expect)
				evf_transfer_set_option(t, EVF_OPT_EXPECT_100_MS, 8000);
			evf_transfer_set_option(t, EVF_OPT_IDLE_TIMEOUT_MS, 2000);
			evf_transfer_set_option(t, EVF_OPT_TOTAL_TIMEOUT_MS, 20000);
			evf_transfer_on_done(t, on_done);
			struct timespec a, b;
			clock_gettime(CLOCK_MONOTONIC, &a);
			evf_transfer_start(t);
			run();
			clock_gettime(CLOCK_MONOTONIC, &b);
			long ms = (b.tv_sec - a.tv_sec) * 1000 + (b.tv_nsec - a.tv_nsec) / 1000000;
			ok(s.status == 413 && s.error == EVF_OK && ms < 1500,
			   "HTTP/2, a 413 while %s: the transfer ends with it (%d %d, %ld ms)",
			   expect ? "Expect waits" : "the reader waits", s.status, s.error, ms);
		}
	}

	/* --- 307 with a reader, without and with rewind ----------------------- */
	reset(&s, 40000);
	t = make(&s, "POST", "/r307/post/r307-norewind.bin");
	evf_transfer_set_body_reader(t, reader, NULL, 40000);
	evf_transfer_start(t);
	run();
	is_int(s.error, EVF_ERR_REDIRECT, "307 and a reader without rewind: EVF_ERR_REDIRECT");
	ok(strstr(s.detail, "rewind") != NULL, "...saying why (%s)", s.detail);
	reset(&s, 40000);
	t = make(&s, "POST", "/r307/post/r307.bin");
	evf_transfer_set_body_reader(t, reader, rewinder, 40000);
	evf_transfer_start(t);
	run();
	ok(s.status == 201 || s.status == 204, "307 with rewind: the body is sent again (%d %s)",
	   s.status, s.detail);
	is_int(s.rewinds, 1, "...after one rewind");
	ok(stored("r307.bin", 40000), "...and stored byte-exact");

	/* --- 303: POST becomes GET -------------------------------------------- */
	reset(&s, 10);
	t = make(&s, "POST", "/r303/method");
	evf_transfer_set_body(t, "0123456789", 10, EVF_BODY_BORROW);
	evf_transfer_start(t);
	run();
	is_str(s.body, "GET", "303 after a POST: the next request is a GET");

	/* --- retries by method ------------------------------------------------- */
	reset(&s, 10);
	t = make(&s, "PUT", "/status/503");
	evf_transfer_set_body(t, "0123456789", 10, EVF_BODY_COPY);
	evf_transfer_start(t);
	run();
	ok(s.status == 503 && s.retries == 2, "a PUT answered 503 is tried again (retries %u)",
	   s.retries);
	reset(&s, 10);
	t = make(&s, "POST", "/status/503");
	evf_transfer_set_body(t, "0123456789", 10, EVF_BODY_COPY);
	evf_transfer_start(t);
	run();
	ok(s.status == 503 && s.retries == 0, "a POST answered 503 is not (retries %u)", s.retries);

	/* --- a body from a file, and evf_transfer_header ---------------------- */
	char path[512];
	snprintf(path, sizeof path, "%s/put/stream.bin", www);
	FILE *f = fopen(path, "rb");
	reset(&s, 300000);
	t = make(&s, "PUT", "/put/fromfile.bin");
	ok(f && evf_transfer_set_body_fd(t, fileno(f), 0, -1) == 0, "a body from a file");
	evf_transfer_start(t);
	run();
	ok(stored("fromfile.bin", 300000), "from a file: stored byte-exact");
	ok(data_out >= 300000, "the debug function saw the body go out (%llu bytes so far)",
	   (unsigned long long)data_out);
	ok(saw_head_out && saw_head_in, "...and heads that end with an empty line");
	if (f)
		fclose(f);
	reset(&s, 0);
	t = make(&s, "GET", "/n/ctype");
	evf_transfer_start(t);
	run();
	is_str(s.ctype, "text/plain", "evf_transfer_header in on_head: Content-Type");
	ok(s.detail[0] != '!', "evf_transfer_header in on_done: still there");

	/* --- trailers ----------------------------------------------------------- */
	reset(&s, 0);
	data_in = 0;
	t = make(&s, "GET", "/trailer/hello.txt");
	evf_transfer_set_option(t, EVF_OPT_DECODE, 1);
	evf_transfer_start(t);
	run();
	is_str(s.body, "hello\n", "a chunked, gzipped body with a trailer: decoded");
	ok(data_in > 6 && data_in < 100, "the debug function saw the gzipped bytes (%llu)",
	   (unsigned long long)data_in);
	is_str(s.trailer, "tail-value", "evf_transfer_trailer in on_done: the trailer field");
	reset(&s, 0);
	t = make(&s, "GET", "/hello.txt");
	evf_transfer_start(t);
	run();
	is_str(s.trailer, "", "no trailer: NULL");
	reset(&s, 0);
	t = make(&s, "GET", "/trailer/hello.txt");
	evf_transfer_set_option(t, EVF_OPT_DECODE, 1);
	evf_transfer_set_option(t, EVF_OPT_KEEP_HEADERS, 0);
	evf_transfer_start(t);
	run();
	ok(strcmp(s.ctype, "") != 0 && s.detail[0] == '!' && s.trailer[0] == '\0',
	   "EVF_OPT_KEEP_HEADERS 0: the head in on_head (%s), none in on_done", s.ctype);

	/* --- per-transfer options beside the client's ------------------------- */
	struct src a = {0}, b = {0};
	evf_transfer *ta = make(&a, "GET", "/1m.bin");
	ok(evf_transfer_set_option(ta, EVF_OPT_MAX_BODY, 1000) == 0, "EVF_OPT_MAX_BODY");
	evf_transfer *tb = make(&b, "GET", "/1m.bin");
	evf_transfer *tc = make(&s, "GET", "/status/404");
	ok(evf_transfer_set_option(tc, EVF_OPT_FAIL_ON_HTTP_ERROR, 1) == 0, "EVF_OPT_FAIL_ON_HTTP_ERROR");
	ok(evf_transfer_set_option(tc, 9999, 1) == EVF_ERR_INVALID, "an unknown option is refused");
	evf_transfer_start(ta);
	evf_transfer_start(tb);
	evf_transfer_start(tc);
	run();
	is_int(a.error, EVF_ERR_TOO_LARGE, "the transfer with a 1,000-byte limit fails");
	is_int(b.error, EVF_OK, "its neighbour without one does not");
	is_int(s.error, EVF_ERR_HTTP, "fail-on-http-error for one transfer: 404 fails it");
	if (a.timer)
		event_free(a.timer);
	if (b.timer)
		event_free(b.timer);

	/* --- the setters' refusals -------------------------------------------- */
	reset(&s, 0);
	t = make(&s, "GET", "/hello.txt");
	ok(evf_transfer_set_method(t, "BAD METHOD") == EVF_ERR_INVALID, "a method with a space");
	ok(evf_transfer_set_method(t, "") == EVF_ERR_INVALID, "an empty method");
	ok(evf_transfer_set_method(t, "PROPFIND") == 0, "an extension method");
	ok(evf_transfer_add_header(t, "Content-Length: 5") == EVF_ERR_INVALID,
	   "Content-Length is the library's");
	ok(evf_transfer_add_header(t, "X-A: b\r\nX-B: c") == EVF_ERR_INVALID, "CR LF in a header");
	ok(evf_transfer_set_body(t, NULL, 5, 0) == EVF_ERR_INVALID, "NULL data with a length");
	int pfd[2];
	ok(pipe(pfd) == 0 && evf_transfer_set_body_fd(t, pfd[0], 0, -1) == EVF_ERR_INVALID,
	   "a pipe is no body file");
	close(pfd[0]);
	close(pfd[1]);
	ok(evf_transfer_start(t) == 0, "a transfer with refused settings still starts");
	evf_transfer_cancel(t);   /* queued, never run: no callback */
	evf_transfer *never = make(&s, "GET", "/hello.txt");
	evf_transfer_cancel(never);   /* never started: freed */
	run();
	is_int(s.done, 0, "cancelled before the loop ran: no on_done");

	const evf_version_info *v = evf_version();
	ok(v && strcmp(v->version, EVF_VERSION_STRING) == 0, "evf_version: %s", v ? v->version : "");
	ok(v && v->number == 0x000200, "evf_version: the number of 0.2.0 is 0x000200 (0x%06x)",
	   v ? v->number : 0);
	ok(v && strstr(v->features, "http2") && v->openssl && v->libevent && v->nghttp2 && v->zlib,
	   "evf_version: features and libraries (%s; %s)", v ? v->features : "",
	   v ? v->openssl : "");

	/* an unstarted transfer is freed with its client */
	make(&s, "GET", "/hello.txt");
	evf_client_free(client);

	/* a reader that frees its client in the middle of an upload */
	evf_config *cfg2 = evf_config_new();
	evf_config_set_ca_file(cfg2, argv[2]);
	if (argc == 5 && strcmp(argv[4], "h2c") == 0)
		evf_config_set_http_version(cfg2, EVF_HTTP_2_PRIOR_KNOWLEDGE);
	client = evf_client_new(base, cfg2, NULL);
	evf_config_free(cfg2);
	reset(&s, 200000);
	s.free_client = client;
	t = make(&s, "PUT", "/put/free-inside.bin");
	evf_transfer_set_body_reader(t, reader, NULL, 200000);
	evf_transfer_start(t);
	run();
	ok(s.done == 0 && s.free_client == NULL,
	   "a reader that frees the client mid-upload: no callback after, nothing left");
	event_free(s.timer);
	event_base_free(base);
	return done_testing();
}
