/*
 * dump.c - -D/--dump-header: the response heads, as curl writes them, to
 * one file or to standard output.
 *
 * The library hands each final head over whole in on_head, so a head is
 * formatted at once and written in one go (and flushed), between the
 * heads of other transfers, never inside one: with many URLs the file
 * holds the heads in the order they arrived.  Interim 1xx responses and
 * the heads of redirects followed are consumed by the library and are
 * not seen here.  The reason phrase is not kept by the library either, so
 * the status line ends after the code, the form HTTP/2 has anyway.
 */
#include <errno.h>
#include <stdlib.h>

#include "cli.h"

int
cli_dump_open(struct cli_app *app)
{
	const char *path = app->opts.dump_header;

	if (path == NULL)
		return 0;
	if (strcmp(path, "-") == 0) {
		app->dump = stdout;
		return 0;
	}
	app->dump = fopen(path, "w");
	if (app->dump == NULL) {
		cli_usage_error("-D/--dump-header: cannot create '%s': %s", path,
		                strerror(errno));
		return -1;
	}
	return 0;
}

void
cli_dump_head(struct cli_app *app, const evf_response *resp)
{
	struct cli_buf b;
	char line[64];
	size_t i;

	if (app->dump == NULL || app->dump_failed)
		return;
	cli_buf_init(&b);
	if (resp->http_major >= 2)
		snprintf(line, sizeof line, "HTTP/%d %03d \r\n", resp->http_major,
		         resp->status);
	else
		snprintf(line, sizeof line, "HTTP/%d.%d %03d \r\n", resp->http_major,
		         resp->http_minor, resp->status);
	cli_buf_puts(&b, line);
	for (i = 0; i < resp->nheaders; i++) {
		cli_buf_puts(&b, resp->headers[i].name);
		cli_buf_put(&b, ": ", 2);
		cli_buf_puts(&b, resp->headers[i].value);
		cli_buf_put(&b, "\r\n", 2);
	}
	cli_buf_put(&b, "\r\n", 2);
	if (b.oom || fwrite(b.data, 1, b.len, app->dump) != b.len ||
	    fflush(app->dump) != 0) {
		app->dump_failed = 1;
		app->fatal = 1;
		cli_progress_clear(app);
		cli_warn("-D/--dump-header: cannot write to '%s': %s",
		         app->opts.dump_header, b.oom ? strerror(ENOMEM) :
		         strerror(errno));
		cli_progress_restore(app);
	}
	cli_buf_free(&b);
}

int
cli_dump_close(struct cli_app *app)
{
	FILE *f = app->dump;

	app->dump = NULL;
	if (f == NULL || f == stdout)
		return 0;
	if (fclose(f) != 0 && !app->dump_failed) {
		cli_warn("-D/--dump-header: cannot write to '%s': %s",
		         app->opts.dump_header, strerror(errno));
		return -1;
	}
	return 0;
}
