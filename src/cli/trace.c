/*
 * trace.c - what -v prints from the library's debug function, as curl
 * does: "* " before a line about the connection, "> " before each line of
 * a request head, "< " before each line of a response head, all on
 * standard error above the progress bar.  With several URLs each line
 * starts with the URL's position in the input, "[7] ".  The values of
 * Authorization, Proxy-Authorization and Cookie are masked.
 */
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "cli.h"

static int
secret_field(const char *line, size_t len)
{
	static const char *const names[] = {"authorization:", "proxy-authorization:",
	                                    "cookie:"};
	for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
		size_t n = strlen(names[i]);
		if (len >= n && strncasecmp(line, names[i], n) == 0)
			return (int)n;
	}
	return 0;
}

void
cli_trace(struct cli_app *app, uint64_t index, int kind, const char *data, size_t len)
{
	const char *mark = kind == EVF_DEBUG_HEADER_OUT ? "> " :
	                   kind == EVF_DEBUG_HEADER_IN ? "< " : "* ";
	int label = app->opts.nurls > 1 || app->opts.input_file != NULL;
	size_t i = 0;

	if (kind != EVF_DEBUG_TEXT && kind != EVF_DEBUG_HEADER_OUT &&
	    kind != EVF_DEBUG_HEADER_IN)
		return;   /* bodies are not shown */
	cli_progress_clear(app);
	while (i < len) {
		const char *nl = memchr(data + i, '\n', len - i);
		size_t end = nl != NULL ? (size_t)(nl - data) : len, n = end - i;
		if (n > 0 && data[end - 1] == '\r')
			n--;
		if (n > 0 || kind == EVF_DEBUG_TEXT) {
			int keep;
			if (label)
				fprintf(stderr, "[%llu] ", (unsigned long long)index);
			fputs(mark, stderr);
			keep = secret_field(data + i, n);
			if (keep > 0) {
				cli_put_safe(stderr, data + i, (size_t)keep);
				fputs(" <masked>", stderr);
			} else {
				cli_put_safe(stderr, data + i, n);
			}
			fputc('\n', stderr);
		}
		i = end + 1;
	}
	cli_progress_restore(app);
}
