/*
 * warc.c - --warc-file: each HTTP exchange as a WARC/1.1 request record and
 * response record (ISO 28500:2017), each its own gzip member, after a
 * warcinfo record at the start of every file.
 *
 * The records come from the library's debug function: the request head and
 * body as they went out, an HTTP/1.1 response exactly as it arrived
 * (EVF_DEBUG_WIRE_IN) or an HTTP/2 response's head and body, which are
 * rendered in HTTP/1.1 form with "WARC-Protocol: h2", as crawlers do.  The
 * payload digest is over the body as it arrived less its chunk framing and
 * before content decoding (EVF_DEBUG_DATA_IN).
 *
 * The loop thread only copies: an exchange's blocks wait in memory, or in
 * unlinked temporary files beside the archive once larger than SPILL, and
 * the finished exchange goes to a writer thread, which hashes, writes the
 * records' headers, compresses and writes, so that neither the digests nor
 * deflate nor a slow disk holds the loop.  (The payload of a chunked
 * HTTP/1.1 response is hashed as it comes: its bytes are not one stretch
 * of the block.)
 */
#define _GNU_SOURCE   /* pthread_setname_np */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "warc.h"

/* ------------------------------------------------------------ records */

static const char *
reason(int status)
{
	switch (status) {
	case 200: return "OK";
	case 201: return "Created";
	case 202: return "Accepted";
	case 203: return "Non-Authoritative Information";
	case 204: return "No Content";
	case 206: return "Partial Content";
	case 301: return "Moved Permanently";
	case 302: return "Found";
	case 303: return "See Other";
	case 304: return "Not Modified";
	case 307: return "Temporary Redirect";
	case 308: return "Permanent Redirect";
	case 400: return "Bad Request";
	case 401: return "Unauthorized";
	case 403: return "Forbidden";
	case 404: return "Not Found";
	case 405: return "Method Not Allowed";
	case 408: return "Request Timeout";
	case 410: return "Gone";
	case 413: return "Content Too Large";
	case 429: return "Too Many Requests";
	case 500: return "Internal Server Error";
	case 502: return "Bad Gateway";
	case 503: return "Service Unavailable";
	case 504: return "Gateway Timeout";
	default: return "";
	}
}

/*
 * An HTTP/2 head from the library ("GET /p HTTP/2" or "HTTP/2 200", then
 * fields, pseudo-header fields among them) in HTTP/1.1 form: the request's
 * :authority becomes Host, the other pseudo-header fields go.
 */
static void
h2_as_h1(struct cli_warc *w, struct spool *s, const char *data, size_t len, int response)
{
	size_t i = 0;
	int first = 1;

	while (i < len) {
		const char *nl = memchr(data + i, '\n', len - i);
		size_t end = nl != NULL ? (size_t)(nl - data) + 1 : len, n = end - i;
		const char *line = data + i;

		if (first && response && n > 7 && memcmp(line, "HTTP/2 ", 7) == 0) {
			char sl[64];
			int st = atoi(line + 7);
			int k = snprintf(sl, sizeof sl, "HTTP/1.1 %d %s\r\n", st, reason(st));
			warc_spool_add(w, s, sl, (size_t)k);
		} else if (first && !response && n >= 9 && memcmp(line + n - 9, " HTTP/2\r\n", 9) == 0) {
			warc_spool_add(w, s, line, n - 9);
			warc_spool_add(w, s, " HTTP/1.1\r\n", 11);
		} else if (n > 12 && strncasecmp(line, ":authority: ", 12) == 0) {
			warc_spool_add(w, s, "Host: ", 6);
			warc_spool_add(w, s, line + 12, n - 12);
		} else if (line[0] != ':') {
			warc_spool_add(w, s, line, n);
		}
		first = 0;
		i = end;
	}
}

/* Is the body of this HTTP/1.1 head (as the library rendered it) chunked?
 * Its payload is then not one stretch of the block, and is hashed as it
 * comes.  llhttp takes no other transfer coding in a response. */
static int
chunked_head(const char *data, size_t len)
{
	size_t i = 0;

	while (i < len) {
		const char *nl = memchr(data + i, '\n', len - i);
		size_t end = nl != NULL ? (size_t)(nl - data) + 1 : len;
		if (end - i > 18 && strncasecmp(data + i, "transfer-encoding:", 18) == 0)
			return 1;
		i = end;
	}
	return 0;
}

/* The URL without user:password@, which an archive's index would show to
 * anyone (a copy, or NULL). */
static char *
target_uri(const char *url)
{
	const char *auth = strstr(url, "://"), *at, *end;
	char *out;

	if (auth == NULL)
		return strdup(url);
	auth += 3;
	end = auth + strcspn(auth, "/?#");
	at = memchr(auth, '@', (size_t)(end - auth));
	while (at != NULL && memchr(at + 1, '@', (size_t)(end - at - 1)) != NULL)
		at = memchr(at + 1, '@', (size_t)(end - at - 1));
	if (at == NULL)
		return strdup(url);
	out = malloc(strlen(url) + 1);
	if (out != NULL) {
		memcpy(out, url, (size_t)(auth - url));
		strcpy(out + (auth - url), at + 1);
	}
	return out;
}

void
cli_warc_x_free(struct cli_warc_x *e)
{
	warc_x_free(e);
}

/* A new exchange: the request head is going out. */
static struct cli_warc_x *
x_new(struct cli_warc *w, evf_transfer *t)
{
	struct cli_warc_x *e = calloc(1, sizeof *e);
	const char *url = evf_transfer_effective_url(t);
	const char *ip = evf_transfer_remote_ip(t);
	const char *v = evf_transfer_http_version(t);

	if (e == NULL)
		return NULL;
	e->req.fd = e->resp.fd = -1;
	/* room for a small exchange's request and response at once */
	if (warc_spool_init(&e->req, 512) < 0 || warc_spool_init(&e->resp, 2048) < 0 ||
	    (e->target = target_uri(url != NULL ? url : "")) == NULL) {
		warc_x_free(e);
		return NULL;
	}
	warc_record_id(&w->ids, e->req_id);
	warc_record_id(&w->ids, e->resp_id);
	warc_date(e->date);
	snprintf(e->ip, sizeof e->ip, "%s", ip != NULL ? ip : "");
	e->h2 = v != NULL && strcmp(v, "2") == 0;
	e->tls = evf_transfer_tls_version(t);
	return e;
}

/* Why a response record holds less than the response: err is how the
 * transfer ended (EVF_OK while it goes on to another exchange). */
static const char *
truncation(const struct cli_warc_x *e, int err)
{
	if (e->complete)
		return NULL;   /* the library saw the response's end */
	switch (err) {
	case EVF_OK:
		/* a redirect or a retry whose body was left unread */
		return "unspecified";
	case EVF_ERR_TIMEOUT:
		return "time";
	case EVF_ERR_TOO_LARGE:
		return "length";
	case EVF_ERR_NETWORK:
	case EVF_ERR_TRUNCATED:
	case EVF_ERR_TLS:
	case EVF_ERR_PROTOCOL:
	case EVF_ERR_PROXY:
		return "disconnect";
	default:
		return "unspecified";
	}
}

/* e is over: its records go to the writer. */
static void
x_end(struct cli_warc *w, struct cli_warc_x **slot, int err, int last)
{
	struct cli_warc_x *e = *slot;

	if (e == NULL)
		return;
	if (e->have_resp)
		e->truncated = truncation(e, last ? err : EVF_OK);
	*slot = NULL;
	warc_enqueue(w, e);
}

/* The writer wrote exchanges that hold report lines: write those now
 * (a URL is listed as fetched only once its records are in the file). */
static void
written_cb(evutil_socket_t fd, short what, void *arg)
{
	struct cli_app *app = arg;
	struct cli_warc *w = app->warc;
	struct cli_warc_x *e;
	uint64_t n;

	(void)what;
	if (read(fd, &n, sizeof n) < 0 && errno != EAGAIN)
		return;
	pthread_mutex_lock(&w->lock);
	e = w->written;
	w->written = w->written_tail = NULL;
	pthread_mutex_unlock(&w->lock);
	while (e != NULL) {
		struct cli_warc_x *next = e->next;
		cli_report_put(&app->report, e->line.data, e->line.len);
		warc_x_free(e);
		e = next;
	}
}

void
cli_warc_tap(struct cli_warc *w, struct cli_warc_x **slot, evf_transfer *t, int kind,
             const char *data, size_t len)
{
	struct cli_warc_x *e;

	if (w->warned)
		return;   /* the recording stopped (cli_warc_done said why) */
	if (kind == EVF_DEBUG_HEADER_OUT) {
		x_end(w, slot, EVF_OK, 0);   /* the last exchange led to this one */
		if ((*slot = e = x_new(w, t)) == NULL) {
			errno = ENOMEM;
			warc_fail(w, "out of memory for a record of", w->prefix);
			return;
		}
		if (e->h2)
			h2_as_h1(w, &e->req, data, len, 0);
		else
			warc_spool_add(w, &e->req, data, len);
		return;
	}
	if ((e = *slot) == NULL)
		return;
	switch (kind) {
	case EVF_DEBUG_DATA_OUT:
		warc_spool_add(w, &e->req, data, len);
		break;
	case EVF_DEBUG_HEADER_IN:
		e->have_resp = 1;
		if (!e->h2 && e->pay == NULL && chunked_head(data, len) &&
		    ((e->pay = EVP_MD_CTX_new()) == NULL ||
		     EVP_DigestInit_ex(e->pay, w->sha1, NULL) != 1)) {
			errno = ENOMEM;
			warc_fail(w, "out of memory for a record of", w->prefix);
		}
		if (e->h2)
			h2_as_h1(w, &e->resp, data, len, 1);
		break;
	case EVF_DEBUG_WIRE_IN:
		warc_spool_add(w, &e->resp, data, len);
		break;
	case EVF_DEBUG_END_IN:
		e->complete = 1;
		break;
	case EVF_DEBUG_DATA_IN:
		if (e->pay != NULL)
			EVP_DigestUpdate(e->pay, data, len);
		e->payload += len;
		if (e->h2)
			warc_spool_add(w, &e->resp, data, len);
		break;
	default:
		break;
	}
}

void
cli_warc_done(struct cli_app *app, struct cli_warc_x **slot, int err,
              const struct cli_outcome *o)
{
	struct cli_warc *w = app->warc;
	struct cli_warc_x *e = *slot;
	int failed;

	if (e != NULL && app->report.fp != NULL) {
		/* the report line waits in e for its records (written_cb) */
		app->report.divert = &e->line;
		cli_record(app, o);
		app->report.divert = NULL;
	} else {
		cli_record(app, o);
	}
	x_end(w, slot, err, 1);
	pthread_mutex_lock(&w->lock);   /* the writer may have failed */
	failed = w->failed && !w->warned;
	w->warned |= failed;
	pthread_mutex_unlock(&w->lock);
	if (failed) {
		cli_progress_clear(app);
		cli_warn("--warc-file: %s; no more records are written", w->why);
		cli_progress_restore(app);
		app->fatal = 1;
	}
}

/* ------------------------------------------------------ open and close */

int
cli_warc_open(struct cli_app *app)
{
	struct cli_warc *w;

	if (app->opts.warc_file == NULL)
		return 0;
	w = calloc(1, sizeof *w);
	if (w == NULL) {
		cli_warn("--warc-file: out of memory");
		return -1;
	}
	w->prefix = app->opts.warc_file;
	w->written_fd = -1;
	w->max_size = app->opts.warc_max_size;
	w->fd = -1;
	/* fetched once: EVP_sha1() would be looked up again at each init */
	w->sha1 = EVP_MD_fetch(NULL, "SHA1", NULL);
	pthread_mutex_init(&w->lock, NULL);
	pthread_cond_init(&w->more, NULL);
	pthread_cond_init(&w->room, NULL);
	app->warc = w;
	w->wsha = EVP_MD_CTX_new();
	if (w->sha1 == NULL || w->wsha == NULL) {
		cli_warn("--warc-file: OpenSSL has no SHA-1");
		return -1;
	}
	/* level 0 has no use for a hash table, which each member clears */
	if (deflateInit2(&w->z, app->opts.warc_level, Z_DEFLATED, 15 + 16,
	                 app->opts.warc_level == 0 ? 1 : 8, Z_DEFAULT_STRATEGY) != Z_OK) {
		cli_warn("--warc-file: cannot start zlib");
		return -1;
	}
	if (warc_open_next(w) < 0) {
		cli_usage_error("--warc-file: cannot write '%s': %s", w->name, strerror(errno));
		return -1;
	}
	w->handover = event_new(app->base, -1, 0, warc_handover_cb, w);
	w->written_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (w->written_fd >= 0)
		w->written_ev = event_new(app->base, w->written_fd, EV_READ | EV_PERSIST,
		                          written_cb, app);
	if (w->handover == NULL || w->written_ev == NULL || event_add(w->written_ev, NULL) < 0) {
		cli_warn("--warc-file: cannot make an event");
		return -1;
	}
	if (pthread_create(&w->thread, NULL, warc_writer, w) != 0) {
		cli_warn("--warc-file: cannot start the writer thread");
		return -1;
	}
	w->started = 1;
	pthread_setname_np(w->thread, "evfetch-warc");   /* for top -H, perf */
	return 0;
}

void
cli_warc_stop(struct cli_app *app)
{
	struct cli_warc *w = app->warc;

	if (w == NULL)
		return;
	warc_hand_over(w);
	if (w->written_ev != NULL)
		event_del(w->written_ev);
}

int
cli_warc_close(struct cli_app *app)
{
	struct cli_warc *w = app->warc;
	int rc = 0;

	if (w == NULL)
		return 0;
	warc_hand_over(w);
	if (w->handover != NULL)
		event_free(w->handover);
	if (w->started) {
		pthread_mutex_lock(&w->lock);
		w->closing = 1;
		pthread_cond_signal(&w->more);
		pthread_mutex_unlock(&w->lock);
		pthread_join(w->thread, NULL);
	}
	while (w->head != NULL) {   /* only when the writer never started */
		struct cli_warc_x *e = w->head;
		w->head = e->next;
		warc_x_free(e);
	}
	if (w->written_ev != NULL) {
		written_cb(w->written_fd, EV_READ, app);   /* the last lines */
		event_free(w->written_ev);
	}
	if (w->written_fd >= 0)
		close(w->written_fd);
	if (w->fd >= 0) {
		if (!w->failed && warc_zflush(w) < 0)
			warc_fail(w, "cannot write", w->name);
		if (close(w->fd) < 0)
			warc_fail(w, "cannot write", w->name);
		w->fd = -1;
	}
	if (w->failed && !w->warned) {
		cli_warn("--warc-file: %s", w->why);
		rc = -1;
	} else if (w->failed) {
		rc = -1;
	}
	deflateEnd(&w->z);
	EVP_MD_CTX_free(w->wsha);
	EVP_MD_free(w->sha1);
	pthread_mutex_destroy(&w->lock);
	pthread_cond_destroy(&w->more);
	pthread_cond_destroy(&w->room);
	free(w);
	app->warc = NULL;
	return rc;
}

