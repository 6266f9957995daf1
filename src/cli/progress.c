/*
 * progress.c - the progress bar on a terminal and the closing summary.
 *
 * The bar is redrawn by a libevent timer rather than on every finished
 * URL: at thousands of URLs a second, drawing per URL would spend more
 * time on the terminal than on the network.
 */
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>

#include "cli.h"

#define TICK_USEC 200000

double
cli_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int64_t
cli_wall_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void
cli_format_bytes(char *dst, size_t dstsz, double bytes)
{
	static const char *const units[] = { "kB", "MB", "GB", "TB", "PB" };
	unsigned i = 0;

	if (bytes < 1000) {
		snprintf(dst, dstsz, "%.0f B", bytes);
		return;
	}
	bytes /= 1000;
	while (bytes >= 999.95 && i + 1 < sizeof units / sizeof units[0]) {
		bytes /= 1000;
		i++;
	}
	snprintf(dst, dstsz, "%.1f %s", bytes, units[i]);
}

/* The terminal's width, so the line never wraps (a wrapped line cannot be
 * redrawn with a carriage return). */
static unsigned
columns(void)
{
	struct winsize ws;

	if (ioctl(STDERR_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col >= 20)
		return ws.ws_col;
	return 80;
}

int
cli_progress_total(const struct cli_app *app, uint64_t *total)
{
	/* The reader's count is exact once it has met the end; before, the
	 * counter's, unless the file grew behind it. */
	if (app->input_done) {
		*total = app->stats.started;
		return 1;
	}
	if (cli_input_total(&app->input, total) && *total >= app->stats.started)
		return 1;
	*total = app->stats.started;
	return 0;
}

static void
draw(struct cli_app *app)
{
	struct cli_progress *p = &app->progress;
	const struct cli_stats *st = &app->stats;
	double now = cli_now(), dt = now - p->last_t, inst;
	char bytes[32], rate[32], text[160], bar[160];
	unsigned cols = columns(), width;
	uint64_t total;
	int n, known;

	if (dt > 0) {
		inst = (double)(st->received - p->last_bytes) / dt;
		/* Smooth, so the figure can be read while it changes. */
		p->rate = p->last_bytes == 0 && p->rate == 0 ? inst :
		          0.7 * p->rate + 0.3 * inst;
		p->last_t = now;
		p->last_bytes = st->received;
	}
	known = cli_progress_total(app, &total);
	cli_format_bytes(bytes, sizeof bytes, (double)st->received);
	cli_format_bytes(rate, sizeof rate, p->rate);
	n = snprintf(text, sizeof text, "%llu/%llu%s done, %llu failed, %u active, %s, %s/s",
	             (unsigned long long)st->done, (unsigned long long)total,
	             known ? "" : "+", (unsigned long long)st->failed,
	             app->client != NULL ? evf_client_active(app->client) : 0,
	             bytes, rate);
	if (n < 0)
		return;
	/* A bar once the number of URLs is known; "[", "] ", the
	 * percentage and a space take 8 columns. */
	bar[0] = '\0';
	width = (unsigned)n + 8 < cols ? cols - (unsigned)n - 9 : 0;
	if (width > 50)
		width = 50;
	if (known && total > 0 && width >= 10) {
		unsigned fill = (unsigned)(st->done * width / total);
		unsigned pct = (unsigned)(st->done * 100 / total);
		size_t k = 0;

		bar[k++] = '[';
		for (unsigned i = 0; i < width; i++)
			bar[k++] = i < fill ? '=' : i == fill ? '>' : ' ';
		snprintf(bar + k, sizeof bar - k, "] %3u%% ", pct);
	}
	fprintf(stderr, "\r%s%.*s\033[K", bar, (int)(cols - 1 - strlen(bar)), text);
	fflush(stderr);
	p->drawn = 1;
}

static void
tick(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	draw(arg);
}

int
cli_progress_start(struct cli_app *app, int bar)
{
	struct cli_progress *p = &app->progress;
	struct timeval tv = { 0, TICK_USEC };

	p->start = p->last_t = cli_now();
	if (!bar)
		return 0;
	p->timer = event_new(app->base, -1, EV_PERSIST, tick, app);
	if (p->timer == NULL || event_add(p->timer, &tv) < 0)
		return -1;
	return 0;
}

void
cli_progress_stop(struct cli_app *app)
{
	if (app->progress.timer != NULL)
		event_del(app->progress.timer);
	cli_progress_clear(app);
}

void
cli_progress_free(struct cli_app *app)
{
	if (app->progress.timer != NULL)
		event_free(app->progress.timer);
	app->progress.timer = NULL;
}

void
cli_progress_clear(struct cli_app *app)
{
	if (!app->progress.drawn)
		return;
	fputs("\r\033[K", stderr);
	app->progress.drawn = 0;
}

void
cli_format_kinds(char *dst, size_t dstsz, const struct cli_stats *st)
{
	size_t len = 0;
	int k;

	dst[0] = '\0';
	for (k = 1; k <= CLI_KINDS; k++) {
		/* an error code past the table counts at index 0, last */
		int i = k % CLI_KINDS, n;

		if (st->failed_by[i] == 0)
			continue;
		n = snprintf(dst + len, dstsz - len, "%s%llu %s", len ? ", " : "",
		             (unsigned long long)st->failed_by[i],
		             i ? evf_error_name(-i) : "other");
		if (n < 0 || (size_t)n >= dstsz - len) {
			dst[len] = '\0';
			return;
		}
		len += (size_t)n;
	}
}

/* "1 URL", "2 URLs": the number as printed decides. */
static const char *
url_noun(const char *number)
{
	return strcmp(number, "1") == 0 ? "URL" : "URLs";
}

void
cli_progress_summary(struct cli_app *app)
{
	const struct cli_stats *st = &app->stats;
	double secs = cli_now() - app->progress.start;
	char bytes[32], done[24], rate[32], kinds[512];
	const char *report = app->report.path;

	cli_progress_clear(app);
	cli_format_bytes(bytes, sizeof bytes, (double)st->bytes);
	cli_format_kinds(kinds, sizeof kinds, st);
	snprintf(done, sizeof done, "%llu", (unsigned long long)st->done);
	snprintf(rate, sizeof rate, "%.0f",
	         secs > 0 ? (double)st->done / secs : 0.0);
	fprintf(stderr, "evfetch: %s %s, %llu ok, %llu failed%s%s%s, %s in "
	        "%.2f s (%s %s/s)", done, url_noun(done),
	        (unsigned long long)st->ok, (unsigned long long)st->failed,
	        kinds[0] ? " (" : "", kinds, kinds[0] ? ")" : "",
	        bytes, secs, rate, url_noun(rate));
	if (report != NULL && strcmp(report, "-") == 0) {
		fputs("; report on standard output", stderr);
	} else if (report != NULL) {
		fputs("; report in ", stderr);
		cli_put_safe(stderr, report, strlen(report));
	}
	fputc('\n', stderr);
}
