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
/* Seconds over which the rates are averaged. */
#define RATE_TAU 5.0

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
	/* less the lines seen so far that are not this run's (other shards,
	 * URLs done before): the total shrinks towards the exact one */
	if (cli_input_total(&app->input, total) &&
	    *total >= app->stats.started + app->stats.skipped) {
		*total -= app->stats.skipped;
		return 1;
	}
	*total = app->stats.started;
	return 0;
}

/*
 * Rates over a window of about RATE_TAU seconds, so the figures can be read
 * while they change: the mean since the start until then, an exponential
 * average after.
 */
static double
smooth(double old, double inst, double dt, double elapsed, double mean)
{
	if (elapsed < RATE_TAU)
		return mean;
	return old + (inst - old) * dt / (RATE_TAU + dt);
}

static void
update_rates(struct cli_app *app)
{
	struct cli_progress *p = &app->progress;
	const struct cli_stats *st = &app->stats;
	double now = cli_now(), dt = now - p->last_t, elapsed = now - p->start;

	if (dt <= 0 || elapsed <= 0)
		return;
	p->rate = smooth(p->rate, (double)(st->received - p->last_bytes) / dt,
	                 dt, elapsed, (double)st->received / elapsed);
	p->url_rate = smooth(p->url_rate, (double)(st->done - p->last_done) / dt,
	                     dt, elapsed, (double)st->done / elapsed);
	p->last_t = now;
	p->last_bytes = st->received;
	p->last_done = st->done;
}

/* "ETA 7s", "ETA 3m05s", "ETA 2h05m"; "" when it cannot be told. */
static void
format_eta(char *dst, size_t dstsz, double left, double rate)
{
	double secs = rate > 0 ? left / rate : -1;
	unsigned long s;

	dst[0] = '\0';
	if (left <= 0 || secs < 0 || secs > 99 * 3600.0)
		return;
	s = (unsigned long)(secs + 0.5);
	if (s < 60)
		snprintf(dst, dstsz, "ETA %lus", s);
	else if (s < 3600)
		snprintf(dst, dstsz, "ETA %lum%02lus", s / 60, s % 60);
	else
		snprintf(dst, dstsz, "ETA %luh%02lum", s / 3600, s / 60 % 60);
}

static void
format_rate(char *dst, size_t dstsz, double urls)
{
	snprintf(dst, dstsz, urls < 9.95 ? "%.1f URLs/s" : "%.0f URLs/s", urls);
}

/* The pieces of the line, in the order they are shown. */
enum seg {
	SEG_DONE,      /* "3/4" ("3/4+" while more may come) */
	SEG_FAILED,    /* "0 failed" */
	SEG_KINDS,     /* " (3 dns, 2 tls)", right after SEG_FAILED */
	SEG_ACTIVE,    /* "1 active" */
	SEG_URLRATE,   /* "12 URLs/s" */
	SEG_BYTES,     /* "1.2 kB" */
	SEG_RATE,      /* "1.0 kB/s" */
	SEG_ETA,       /* "ETA 3m05s" */
	NSEGS,
};

/* Which pieces go first when the terminal is narrow: the counts and the
 * time left, then the rates, then the details. */
static const enum seg by_priority[NSEGS] = {
	SEG_DONE, SEG_FAILED, SEG_ETA, SEG_URLRATE, SEG_RATE, SEG_KINDS,
	SEG_ACTIVE, SEG_BYTES,
};

/* The bar's room inside its brackets: a quarter of the terminal, from
 * BAR_MIN (however narrow the terminal, as long as the counts fit beside
 * it) to BAR_MAX; "[", "] ", "100%" and a space take BAR_FRAME more.  It
 * depends on the width alone, so that it keeps still while the text
 * beside it changes length. */
#define BAR_MIN 10
#define BAR_MAX 50
#define BAR_FRAME 8
#define DONE_WORD " done"

/*
 * Compose the line into p->line for a terminal of cols columns: the bar
 * when the total is known, and the pieces that fit beside it, chosen by
 * priority and shown in their order.
 */
static void
compose(struct cli_app *app, unsigned cols)
{
	struct cli_progress *p = &app->progress;
	const struct cli_stats *st = &app->stats;
	char seg[NSEGS][96], bytes[32], rate[32];
	size_t len[NSEGS], room, used = 0, k = 0;
	int take[NSEGS] = { 0 }, known, done_word = 0;
	unsigned width, i;
	uint64_t total;

	known = cli_progress_total(app, &total) && total > 0;
	snprintf(seg[SEG_DONE], sizeof seg[0], "%llu/%llu%s",
	         (unsigned long long)st->done, (unsigned long long)total,
	         known ? "" : "+");
	snprintf(seg[SEG_FAILED], sizeof seg[0], "%llu failed",
	         (unsigned long long)st->failed);
	seg[SEG_KINDS][0] = '\0';
	if (st->failed > 0) {
		char kinds[80];

		cli_format_kinds(kinds, sizeof kinds, st);
		snprintf(seg[SEG_KINDS], sizeof seg[0], " (%s)", kinds);
	}
	snprintf(seg[SEG_ACTIVE], sizeof seg[0], "%u active",
	         app->client != NULL ? evf_client_active(app->client) : 0);
	format_rate(seg[SEG_URLRATE], sizeof seg[0], p->url_rate);
	cli_format_bytes(bytes, sizeof bytes, (double)st->received);
	snprintf(seg[SEG_BYTES], sizeof seg[0], "%s", bytes);
	cli_format_bytes(rate, sizeof rate, p->rate);
	snprintf(seg[SEG_RATE], sizeof seg[0], "%s/s", rate);
	seg[SEG_ETA][0] = '\0';
	if (known)
		format_eta(seg[SEG_ETA], sizeof seg[0],
		           (double)(total - st->done), p->url_rate);
	for (i = 0; i < NSEGS; i++)
		len[i] = strlen(seg[i]);

	/* Never the last column: the cursor would wrap. */
	room = cols - 1;
	width = cols / 4 < BAR_MIN ? BAR_MIN : cols / 4 > BAR_MAX ? BAR_MAX : cols / 4;
	if (known && room >= BAR_FRAME + width + len[SEG_DONE])
		room -= BAR_FRAME + width;
	else
		width = 0;
	for (i = 0; i < NSEGS; i++) {
		enum seg s = by_priority[i];
		/* ", " before all but the first; the kinds follow "failed" */
		size_t need = len[s] + (s == SEG_KINDS ? 0 : used ? 2 : 0);

		if (len[s] == 0 || (s == SEG_KINDS && !take[SEG_FAILED]) ||
		    used + need > room)
			continue;
		take[s] = 1;
		used += need;
	}
	if (take[SEG_DONE] && used + strlen(DONE_WORD) <= room) {
		done_word = 1;
		used += strlen(DONE_WORD);
	}

	if (width > 0) {
		unsigned fill = (unsigned)(st->done * width / total);

		p->line[k++] = '[';
		for (i = 0; i < width; i++)
			p->line[k++] = i < fill ? '=' : i == fill ? '>' : ' ';
		k += (size_t)snprintf(p->line + k, sizeof p->line - k, "] %3u%% ",
		                      (unsigned)(st->done * 100 / total));
	}
	for (i = 0, used = 0; i < NSEGS; i++) {
		if (!take[i])
			continue;
		if (used++ && i != SEG_KINDS)
			k += (size_t)snprintf(p->line + k, sizeof p->line - k, ", ");
		k += (size_t)snprintf(p->line + k, sizeof p->line - k, "%s%s",
		                      seg[i], i == SEG_DONE && done_word ?
		                      DONE_WORD : "");
	}
	p->line_len = k < sizeof p->line ? k : sizeof p->line - 1;
}

static void
show(struct cli_app *app)
{
	struct cli_progress *p = &app->progress;

	fputc('\r', stderr);
	fwrite(p->line, 1, p->line_len, stderr);
	fputs("\033[K", stderr);
	fflush(stderr);
	p->drawn = 1;
}

static void
tick(evutil_socket_t fd, short what, void *arg)
{
	struct cli_app *app = arg;

	(void)fd;
	(void)what;
	update_rates(app);
	compose(app, columns());
	show(app);
}

/* Lines went out above the bar: put it back, with the counts they
 * changed, once per turn of the loop.  The rates wait for the timer. */
static void
redraw(evutil_socket_t fd, short what, void *arg)
{
	struct cli_app *app = arg;

	(void)fd;
	(void)what;
	app->progress.redraw_due = 0;
	if (app->progress.line_len > 0 && !app->finished) {
		compose(app, columns());
		show(app);
	}
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
	p->redraw = event_new(app->base, -1, 0, redraw, app);
	if (p->timer == NULL || p->redraw == NULL || event_add(p->timer, &tv) < 0)
		return -1;
	return 0;
}

void
cli_progress_stop(struct cli_app *app)
{
	if (app->progress.timer != NULL)
		event_del(app->progress.timer);
	if (app->progress.redraw != NULL)
		event_del(app->progress.redraw);
	cli_progress_clear(app);
}

void
cli_progress_free(struct cli_app *app)
{
	if (app->progress.timer != NULL)
		event_free(app->progress.timer);
	if (app->progress.redraw != NULL)
		event_free(app->progress.redraw);
	app->progress.timer = app->progress.redraw = NULL;
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
cli_progress_restore(struct cli_app *app)
{
	struct cli_progress *p = &app->progress;

	if (p->redraw == NULL || p->redraw_due || app->finished)
		return;
	p->redraw_due = 1;
	event_active(p->redraw, EV_TIMEOUT, 1);
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
	if (st->skipped > 0)
		fprintf(stderr, "; %llu skipped (%s)", (unsigned long long)st->skipped,
		        app->opts.resume != NULL && app->opts.shard.n > 1
		                ? "other shards or done before"
		                : app->opts.resume != NULL ? "done before" : "other shards");
	fputc('\n', stderr);
}
