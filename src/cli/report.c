/*
 * report.c - what the tool says about each URL: one JSON line in the
 * --report file, an error line on stderr for a failure, a detail line with
 * -v, and the counts behind the progress bar and the summary.
 *
 * The report is written as transfers end, so that `tail -f` and `| jq`
 * follow the run; but with tens of thousands of URLs a second a write per
 * line would cost more than the transfers.  So lines go into stdio's
 * buffer, and an event activated by the first of them flushes the buffer
 * once the callbacks of this turn of the loop have run: every transfer the
 * library finished in one turn costs one write between them.
 */
#include <errno.h>
#include <string.h>

#include <event2/event.h>

#include "cli.h"

#define REPORT_BUF_SIZE (64 * 1024)

/* The one report's stdio buffer. */
static char iobuf[REPORT_BUF_SIZE];

static void
report_failed(struct cli_report *r, int err)
{
	if (!r->failed)
		cli_warn("writing report '%s': %s", r->path, strerror(err));
	r->failed = 1;
}

static void
flush_cb(evutil_socket_t fd, short what, void *arg)
{
	struct cli_report *r = arg;

	(void)fd;
	(void)what;
	r->flush_due = 0;
	if (r->fp != NULL && fflush(r->fp) != 0)
		report_failed(r, errno);
}

/*
 * append (--resume): a run killed with SIGKILL must lose at most the line
 * being written, so each line goes to the file as its URL ends (line
 * buffering) rather than once per turn of the loop.
 */
int
cli_report_open(struct cli_report *r, const char *path,
                struct event_base *base, int append)
{
	memset(r, 0, sizeof *r);
	cli_buf_init(&r->line);
	r->second = INT64_MIN;
	if (path == NULL)
		return 0;
	r->path = path;
	r->flush_ev = event_new(base, -1, 0, flush_cb, r);
	if (r->flush_ev == NULL) {
		cli_warn("out of memory");
		return -1;
	}
	r->fp = strcmp(path, "-") == 0 ? stdout : fopen(path, append ? "a" : "w");
	if (r->fp == NULL) {
		cli_usage_error("cannot open report file '%s': %s", path,
		                strerror(errno));
		return -1;
	}
	/* With a NULL buffer glibc keeps its 4 KiB, whatever the size asked:
	 * a turn of the loop that ends 50 transfers would take 7 writes.
	 * Static, because stdout may use it until exit. */
	setvbuf(r->fp, iobuf, append ? _IOLBF : _IOFBF, sizeof iobuf);
	return 0;
}

int
cli_report_close(struct cli_report *r)
{
	if (r->flush_ev != NULL)
		event_free(r->flush_ev);
	r->flush_ev = NULL;
	if (r->fp != NULL) {
		if (fflush(r->fp) != 0 || ferror(r->fp))
			report_failed(r, errno ? errno : EIO);
		if (r->fp != stdout && fclose(r->fp) != 0)
			report_failed(r, errno);
		r->fp = NULL;
	}
	cli_buf_free(&r->line);
	return r->failed ? -1 : 0;
}

/*
 * A static string of the library or OpenSSL (tls_version, tls_cipher): the
 * same pointer as on the line before has the same JSON.
 */
static void
report_static(struct cli_buf *b, struct cli_static_json *c, const char *s)
{
	size_t at = b->len;

	if (s != NULL && s == c->key) {
		cli_buf_put(b, c->text, c->len);
		return;
	}
	cli_json_cstring(b, s);
	if (s != NULL && !b->oom && b->len - at <= sizeof c->text) {
		c->len = b->len - at;
		memcpy(c->text, b->data + at, c->len);
		c->key = s;
	}
}

/* The phases of the last attempt as the library counts them (from that
 * attempt's start, as curl does), the total, and the wait in the queue. */
static void
report_times(struct cli_buf *b, const struct cli_outcome *o)
{
	static const evf_timings none;
	const evf_timings *t = o->timings != NULL ? o->timings : &none;

	cli_buf_puts(b, ",\"time\":{\"dns_ms\":");
	cli_json_ms(b, t->dns_us);
	cli_buf_puts(b, ",\"connect_ms\":");
	cli_json_ms(b, t->connect_us);
	cli_buf_puts(b, ",\"tls_ms\":");
	cli_json_ms(b, t->tls_us);
	cli_buf_puts(b, ",\"ttfb_ms\":");
	cli_json_ms(b, t->first_byte_us);
	cli_buf_puts(b, ",\"total_ms\":");
	cli_json_ms(b, o->total_us);
	cli_buf_puts(b, "},\"queued_ms\":");
	cli_json_ms(b, o->queued_us);
}

/* started_at: the second's text again when it is the last one's. */
static void
report_started_at(struct cli_buf *b, struct cli_report *r, int64_t ms)
{
	int64_t second = ms / 1000 - (ms % 1000 < 0);
	unsigned frac = (unsigned)(ms - second * 1000);
	char tail[6] = { '.', (char)('0' + frac / 100), (char)('0' + frac / 10 % 10),
	                 (char)('0' + frac % 10), 'Z', '"' };
	size_t at = b->len;

	if (second == r->second) {
		cli_buf_put(b, r->second_text, sizeof r->second_text);
		cli_buf_put(b, tail, sizeof tail);
		return;
	}
	cli_json_time(b, ms, 1);
	if (!b->oom && b->len - at == sizeof r->second_text + sizeof tail) {
		memcpy(r->second_text, b->data + at, sizeof r->second_text);
		r->second = second;
	}
}

static void
report_not_after(struct cli_buf *b, struct cli_report *r, int64_t secs)
{
	size_t at = b->len;

	if (secs == 0) {
		cli_buf_puts(b, "null");
	} else if (secs == r->not_after) {
		cli_buf_put(b, r->not_after_text, r->not_after_len);
	} else {
		cli_json_time(b, secs * 1000, 0);
		if (!b->oom && b->len - at <= sizeof r->not_after_text) {
			r->not_after_len = b->len - at;
			memcpy(r->not_after_text, b->data + at, r->not_after_len);
			r->not_after = secs;
		}
	}
}

/* --report-header: each name (in lower case already), with its value or
 * null. */
static void
report_headers(struct cli_buf *b, const struct cli_report *r,
               const struct cli_outcome *o)
{
	size_t i;

	cli_buf_puts(b, ",\"headers\":{");
	for (i = 0; i < r->nheaders; i++) {
		cli_buf_puts(b, i > 0 ? ",\"" : "\"");
		/* a token needs no escaping */
		cli_buf_puts(b, r->headers[i]);
		cli_buf_puts(b, "\":");
		cli_json_cstring(b, o->header_values != NULL ?
		                    o->header_values[i] : NULL);
	}
	cli_buf_puts(b, "}");
}

/*
 * The keys and their order are part of the tool's interface: new keys are
 * only ever appended.
 */
static void
report_line(struct cli_report *r, const struct cli_outcome *o)
{
	struct cli_buf *b = &r->line;
	size_t url_at, url_len;

	b->len = 0;
	cli_buf_puts(b, "{\"url\":");
	url_at = b->len;
	cli_json_string(b, o->url, o->url_len);
	url_len = b->len - url_at;
	cli_buf_puts(b, ",\"ok\":");
	cli_json_bool(b, o->ok);
	cli_buf_puts(b, ",\"status\":");
	cli_json_int_or_null(b, o->status);
	cli_buf_puts(b, ",\"bytes\":");
	cli_json_u64(b, o->bytes);
	cli_buf_puts(b, ",\"error\":");
	cli_json_cstring(b, o->error);
	cli_buf_puts(b, ",\"error_kind\":");
	cli_json_cstring(b, o->error_kind);
	cli_buf_puts(b, ",\"time_total_ms\":");
	cli_json_ms(b, o->total_us);
	cli_buf_puts(b, ",\"tls_version\":");
	report_static(b, &r->tls_version, o->tls_version);
	cli_buf_puts(b, ",\"reused\":");
	cli_json_bool(b, o->reused);
	cli_buf_puts(b, ",\"file\":");
	cli_json_cstring(b, o->file);
	cli_buf_puts(b, ",\"effective_url\":");
	if (o->effective_url != NULL && o->effective_url != o->url) {
		cli_json_cstring(b, o->effective_url);
	} else if (url_len - 1 < b->cap - b->len && !b->oom) {
		/* mostly the URL as given: copy it, escaped already (with
		 * the room checked, so that the buffer does not move) */
		memcpy(b->data + b->len, b->data + url_at, url_len);
		b->len += url_len;
	} else {
		cli_json_string(b, o->url, o->url_len);
	}
	cli_buf_puts(b, ",\"redirects\":");
	cli_json_u64(b, o->redirects);
	cli_buf_puts(b, ",\"retries\":");
	cli_json_u64(b, o->retries);
	cli_buf_puts(b, ",\"index\":");
	cli_json_u64(b, o->index);
	report_times(b, o);
	cli_buf_puts(b, ",\"content_type\":");
	cli_json_cstring(b, o->content_type);
	cli_buf_puts(b, ",\"content_length\":");
	if (o->content_length >= 0)
		cli_json_i64(b, o->content_length);
	else
		cli_buf_puts(b, "null");
	cli_buf_puts(b, ",\"tls_cipher\":");
	report_static(b, &r->tls_cipher, o->tls_cipher);
	cli_buf_puts(b, ",\"cert_not_after\":");
	report_not_after(b, r, o->cert_not_after);
	cli_buf_puts(b, ",\"started_at\":");
	report_started_at(b, r, o->started_ms);
	cli_buf_puts(b, ",\"http_version\":");
	report_static(b, &r->http_version, o->http_version);
	cli_buf_puts(b, ",\"remote_ip\":");
	cli_json_cstring(b, o->remote_ip);
	cli_buf_puts(b, ",\"remote_port\":");
	cli_json_u64(b, (uint64_t)o->remote_port);
	cli_buf_puts(b, ",\"proxy\":");
	cli_json_cstring(b, o->proxy);
	if (r->nheaders > 0)
		report_headers(b, r, o);
	if (o->id_json != NULL) {
		/* jansson wrote it: valid, compact JSON on one line */
		cli_buf_puts(b, ",\"id\":");
		cli_buf_puts(b, o->id_json);
	}
	cli_buf_puts(b, "}\n");
	if (b->oom) {
		/* Drop the memory so that the next line can try again. */
		cli_buf_free(b);
		report_failed(r, ENOMEM);
		return;
	}
	if (r->divert != NULL) {
		cli_buf_put(r->divert, b->data, b->len);
		return;
	}
	cli_report_put(r, b->data, b->len);
}

void
cli_report_put(struct cli_report *r, const char *line, size_t len)
{
	if (r->fp == NULL)
		return;
	if (fwrite(line, 1, len, r->fp) != len)
		report_failed(r, errno);
	if (!r->flush_due && r->flush_ev != NULL) {
		r->flush_due = 1;
		event_active(r->flush_ev, EV_TIMEOUT, 1);
	}
}

void
cli_put_safe(FILE *stream, const char *s, size_t len)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t i = 0;

	/*
	 * Escape sequences in a URL or a server's text must not reach the
	 * terminal; C1 controls (U+0080..U+009F) act like them in some.
	 */
	while (i < len) {
		size_t n = cli_utf8_len(p + i, len - i);

		if (n == 0 || (n == 1 && (p[i] < 0x20 || p[i] == 0x7f)) ||
		    (n == 2 && p[i] == 0xc2 && p[i + 1] < 0xa0)) {
			fputc('?', stream);
			i += n ? n : 1;
			continue;
		}
		fwrite(p + i, 1, n, stream);
		i += n;
	}
}

static void
put_safe_str(const char *s)
{
	cli_put_safe(stderr, s, strlen(s));
}

static void
print_verbose(const struct cli_outcome *o)
{
	fputs("evfetch: ", stderr);
	cli_put_safe(stderr, o->url, o->url_len);
	if (o->status != 0)
		fprintf(stderr, ": status %d", o->status);
	else
		fputs(": no response", stderr);
	fprintf(stderr, ", %llu bytes, %llu.%03llu ms, %s, ",
	        (unsigned long long)o->bytes,
	        (unsigned long long)(o->total_us / 1000),
	        (unsigned long long)(o->total_us % 1000),
	        o->reused ? "reused connection" : "new connection");
	put_safe_str(o->tls_version != NULL ? o->tls_version : "no TLS");
	if (o->http_version != NULL) {
		fputs(", HTTP/", stderr);
		put_safe_str(o->http_version);
	}
	if (o->proxy != NULL) {
		fputs(", through ", stderr);
		put_safe_str(o->proxy);
	}
	if (o->redirects != 0) {
		fprintf(stderr, ", %u redirect%s to ", o->redirects,
		        o->redirects == 1 ? "" : "s");
		put_safe_str(o->effective_url != NULL ? o->effective_url : "?");
	}
	if (o->retries != 0)
		fprintf(stderr, ", %u retr%s", o->retries,
		        o->retries == 1 ? "y" : "ies");
	if (o->file != NULL) {
		fputs(", saved as ", stderr);
		put_safe_str(o->file);
	}
	fputc('\n', stderr);
}

static void
print_error(const struct cli_outcome *o)
{
	fputs("evfetch: ", stderr);
	cli_put_safe(stderr, o->url, o->url_len);
	fputs(": ", stderr);
	put_safe_str(o->error_kind);
	fputs(": ", stderr);
	put_safe_str(o->error);
	fputc('\n', stderr);
}

void
cli_record(struct cli_app *app, const struct cli_outcome *o)
{
	struct cli_stats *st = &app->stats;
	int error_line;

	st->done++;
	if (o->ok) {
		st->ok++;
	} else {
		st->failed++;
		st->failed_by[o->err < 0 && -o->err < CLI_KINDS ? -o->err : 0]++;
	}
	st->bytes += o->bytes;
	if (app->report.fp != NULL)
		report_line(&app->report, o);
	/* -s -S is curl's "errors only"; --no-errors keeps the bar and
	 * the summary but no line per failure. */
	error_line = !o->ok && !app->opts.no_errors &&
	             (!app->opts.silent || app->opts.show_error);
	if (!app->opts.verbose && !error_line)
		return;
	/* Above the bar: wipe it, print, draw it again under the lines. */
	cli_progress_clear(app);
	if (app->opts.verbose)
		print_verbose(o);
	if (error_line)
		print_error(o);
	cli_progress_restore(app);
}
