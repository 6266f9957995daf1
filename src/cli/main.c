/*
 * main.c - the evfetch command: set up, keep the library fed with URLs,
 * tear down.
 *
 * URLs are taken from the input only as transfers finish, keeping twice
 * the concurrency submitted and up to 256 more (4 per slot): enough that
 * the library always has the next URL queued, and that a host's adjacent
 * URLs can wait for its connection while other hosts' URLs fill the slots;
 * few enough that memory does not depend on the length of the input.
 * Each transfer carries a small struct cli_xfer (its body sink); on_done
 * turns the result into a report line, saves or drops the body, frees the
 * context and takes the next URL.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include <event2/event.h>

#include "cli.h"

/* Descriptors beyond one per transfer: stdio, report, input, DNS, ... */
#define FD_RESERVE 32
/* URLs submitted beyond 2 x -c: 4 x -c, at most this */
#define WINDOW_EXTRA 256
/* idle connections kept unless --max-idle says otherwise (fds permitting) */
#define MAX_IDLE_DEFAULT 8192

struct cli_xfer {
	struct cli_app *app;
	evf_transfer *t;
	uint64_t index;            /* the URL's position in the input */
	char *id_json;             /* --input-format jsonl: the line's id */
	int body_fd;               /* ...its body_file, or -1 */
	struct cli_xfer *prev, *next;
	struct cli_sink sink;
	/* With --report only, so that a run without one holds no more per
	 * open transfer: what the report line needs besides the result. */
	struct cli_xfer_report {
		uint64_t index;
		int64_t started_ms;
		struct cli_head *head;  /* from on_head, NULL: nothing to keep */
		int64_t content_length; /* from on_head, -1 when none */
	} rep[];
	/* then, with --warc-file only, the exchange being recorded (see
	 * xfer_warc): a run without one holds nothing for it */
};

/* x's slot for its WARC exchange, past rep[] when there is one. */
static struct cli_warc_x **
xfer_warc(struct cli_xfer *x)
{
	char *tail = (char *)(x + 1) + (x->app->report.fp != NULL ? sizeof x->rep[0] : 0);

	return x->app->warc != NULL ? (struct cli_warc_x **)(void *)tail : NULL;
}

static void app_refill(struct cli_app *app);
static int url_wanted(struct cli_app *app, const char *url, size_t len);

/* ------------------------------------------------------------- setup */

/*
 * Every transfer holds a socket, and with -d or spooled stdout a temporary
 * file too, so the soft limit goes up to the hard one; if even that is too
 * low, saying so now beats a run of "resource" failures.  Idle keep-alive
 * connections hold sockets as well: --max-idle is what is left (at most
 * MAX_IDLE_DEFAULT unless asked), and asking more than that is refused.
 */
static int
raise_fd_limit(struct cli_opts *o, int file_per_transfer)
{
	unsigned concurrency = o->concurrency;
	rlim_t need = (rlim_t)concurrency * (file_per_transfer ? 2 : 1) + FD_RESERVE;

	/* --warc-file: a transfer's two blocks may wait in temporary files,
	 * and so may the exchanges queued for the writer */
	if (o->warc_file != NULL)
		need += (rlim_t)concurrency * 2 + CLI_WARC_QUEUE_FDS + 1;
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) < 0)
		return 0;
	if (rl.rlim_cur < rl.rlim_max) {
		struct rlimit want = rl;

		want.rlim_cur = rl.rlim_max;
		if (setrlimit(RLIMIT_NOFILE, &want) == 0) {
			rl = want;
		} else if (need > rl.rlim_cur) {
			/* Linux refuses an infinite hard limit; ask for enough. */
			want.rlim_cur = need;
			if (setrlimit(RLIMIT_NOFILE, &want) == 0)
				rl = want;
		}
	}
	if (rl.rlim_cur != RLIM_INFINITY && need > rl.rlim_cur) {
		cli_usage_error("-c %u needs %llu file descriptors but the limit "
		                "(RLIMIT_NOFILE) is %llu; raise it with 'ulimit -n' "
		                "or lower -c", concurrency,
		                (unsigned long long)need,
		                (unsigned long long)rl.rlim_cur);
		return -1;
	}
	int unlimited = rl.rlim_cur == RLIM_INFINITY;
	rlim_t left = unlimited ? MAX_IDLE_DEFAULT : rl.rlim_cur - need;
	if (o->max_idle == 0) {
		o->max_idle = left < MAX_IDLE_DEFAULT ? (unsigned)left : MAX_IDLE_DEFAULT;
		if (o->max_idle == 0)
			o->max_idle = 1;
	} else if (!unlimited && o->max_idle > left) {
		cli_usage_error("--max-idle %u needs as many file descriptors beside "
		                "the %llu of -c %u, but only %llu are left under the "
		                "limit (RLIMIT_NOFILE); raise it with 'ulimit -n'",
		                o->max_idle, (unsigned long long)need, concurrency,
		                (unsigned long long)left);
		return -1;
	}
	return 0;
}

/* A usage error unless rc is 0: the library rejected an option value. */
static int
config_check(int rc, const char *option, const char *value)
{
	if (rc == 0)
		return 0;
	if (rc == EVF_ERR_NOMEM)
		cli_warn("out of memory");
	else
		cli_usage_error("%s: cannot use '%s': %s", option, value,
		                evf_strerror(rc));
	return -1;
}

static evf_config *
build_config(const struct cli_opts *o)
{
	evf_config *cfg = evf_config_new();
	size_t i;
	int bad = 0;

	if (cfg == NULL) {
		cli_warn("out of memory");
		return NULL;
	}
	bad |= config_check(evf_config_set_max_transfers(cfg, o->concurrency),
	                    "-c/--concurrency", "N");
	if (o->per_host != 0)
		bad |= config_check(evf_config_set_max_per_host(cfg, o->per_host),
		                    "--per-host", "N");
	if (o->max_idle != 0)   /* 0: getrlimit failed, the library chooses */
		bad |= config_check(evf_config_set_max_idle(cfg, o->max_idle),
		                    "--max-idle", "N");
	if (o->idle_memory != 0)
		bad |= config_check(evf_config_set_idle_memory(cfg, o->idle_memory),
		                    "--idle-memory", "SIZE");
	if (o->host_cache_set)
		bad |= config_check(evf_config_set_host_cache(cfg, o->host_cache),
		                    "--host-cache", "N");
	if (o->dns_cache_set)
		bad |= config_check(evf_config_set_dns_cache_time(cfg, o->dns_cache_ms),
		                    "--dns-cache-time", "SEC");
	if (o->cacert != NULL)
		bad |= config_check(evf_config_set_ca_file(cfg, o->cacert),
		                    "--cacert", o->cacert);
	if (o->capath != NULL)
		bad |= config_check(evf_config_set_ca_path(cfg, o->capath),
		                    "--capath", o->capath);
	if (o->insecure)
		bad |= config_check(evf_config_set_insecure(cfg, 1), "-k", "");
	/* the environment's proxies unless -x or --noproxy say otherwise;
	 * the URL is not repeated in a message: it may hold a password */
	bad |= config_check(evf_config_use_env_proxy(cfg, 1), "-x", "");
	if (o->proxy != NULL)
		bad |= config_check(evf_config_set_proxy(cfg, o->proxy),
		                    "-x/--proxy", "(the URL given)");
	if (o->noproxy != NULL)
		bad |= config_check(evf_config_set_noproxy(cfg, o->noproxy),
		                    "--noproxy", o->noproxy);
	if (o->proxy_cacert != NULL)
		bad |= config_check(evf_config_set_proxy_ca_file(cfg, o->proxy_cacert),
		                    "--proxy-cacert", o->proxy_cacert);
	if (o->proxy_insecure)
		bad |= config_check(evf_config_set_proxy_insecure(cfg, 1),
		                    "--proxy-insecure", "");
	if (o->no_keepalive)
		bad |= config_check(evf_config_set_keepalive(cfg, 0), "--no-http-keep-alive", "");
	if (o->no_sessionid)
		bad |= config_check(evf_config_set_session_reuse(cfg, 0), "--no-sessionid", "");
	if (o->http_version != 0)
		bad |= config_check(evf_config_set_http_version(cfg, o->http_version),
		                    "--http2", "");
	if (o->ip_family != 0)
		bad |= config_check(evf_config_set_ip_family(cfg, o->ip_family),
		                    o->ip_family == EVF_IP_V4 ? "-4" : "-6", "");
	if (o->eyeballs_set)
		bad |= config_check(evf_config_set_happy_eyeballs_delay(cfg, o->eyeballs_ms),
		                    "--happy-eyeballs-timeout-ms", "MS");
	for (i = 0; i < o->nresolves && !bad; i++)
		bad |= config_check(evf_config_add_resolve(cfg, o->resolves[i]),
		                    "--resolve", o->resolves[i]);
	if (o->dns_servers != NULL && !bad)
		bad |= config_check(evf_config_set_dns_servers(cfg, o->dns_servers),
		                    "--dns-servers", o->dns_servers);
	/* Only when given, 0 included: otherwise the library's default. */
	if (o->connect_timeout_set)
		bad |= config_check(evf_config_set_connect_timeout(cfg,
		                    o->connect_timeout_ms), "--connect-timeout", "SEC");
	if (o->max_time_set)
		bad |= config_check(evf_config_set_total_timeout(cfg,
		                    o->max_time_ms), "-m/--max-time", "SEC");
	if (o->user_agent != NULL && !bad)
		bad |= config_check(evf_config_set_user_agent(cfg, o->user_agent),
		                    "-A/--user-agent", o->user_agent);
	for (i = 0; i < o->nheaders && !bad; i++)
		bad |= config_check(evf_config_add_header(cfg, o->headers[i]),
		                    "-H/--header", o->headers[i]);
	if (o->fail)
		bad |= config_check(evf_config_set_fail_on_http_error(cfg, 1),
		                    "-f/--fail", "");
	if (o->follow)
		bad |= config_check(evf_config_set_follow_redirects(cfg, 1,
		                    o->max_redirs), "--max-redirs", "N");
	if (o->compressed)
		bad |= config_check(evf_config_set_decode(cfg, 1),
		                    "--compressed", "");
	if (o->max_filesize != 0)
		bad |= config_check(evf_config_set_max_body(cfg, o->max_filesize),
		                    "--max-filesize", "BYTES");
	/* also without --retry: --retry-max-time caps a host's pause */
	bad |= config_check(evf_config_set_retries(cfg, o->retries,
	                    o->retry_delay_ms, o->retry_max_ms),
	                    "--retry-delay", "SEC");
	if (o->rate_per_host_milli != 0)
		bad |= config_check(evf_config_set_host_rate(cfg,
		                    o->rate_per_host_milli / 1000.0),
		                    "--rate-per-host", "R");
	if (o->limit_rate != 0)
		bad |= config_check(evf_config_set_max_rate(cfg, o->limit_rate),
		                    "--limit-rate", "BYTES");
	if (o->delay_per_host_ms != 0)
		bad |= config_check(evf_config_set_host_delay(cfg,
		                    o->delay_per_host_ms), "--delay-per-host", "SEC");
	if (o->idle_timeout_set)
		bad |= config_check(evf_config_set_idle_timeout(cfg,
		                    o->idle_timeout_ms), "--idle-timeout", "SEC");
	if (o->cert != NULL) {
		bad |= config_check(evf_config_set_client_cert(cfg, o->cert, o->key,
		                    o->pass), "--cert", o->cert);
		/* the library has its copy: out of sight of ps(1) */
		for (volatile char *p = o->pass; p != NULL && *p != '\0'; p++)
			*p = '*';
	}
	if (bad) {
		evf_config_free(cfg);
		return NULL;
	}
	return cfg;
}

/* The library paused a host on its own: say so above the progress bar. */
static void
library_log(const char *msg, void *arg)
{
	struct cli_app *app = arg;

	if (app->opts.silent && !app->opts.show_error)
		return;
	cli_progress_clear(app);
	cli_warn("%s", msg);
	cli_progress_restore(app);
}

/* -v: the library's debug lines, labelled with the URL's position;
 * --warc-file: the records. */
static void
library_debug(evf_transfer *t, int kind, const char *data, size_t len, void *arg)
{
	struct cli_app *app = arg;
	struct cli_xfer *x = evf_transfer_arg(t);

	if (app->opts.verbose)
		cli_trace(app, x != NULL ? x->index : 0, kind, data, len);
	if (app->warc != NULL && x != NULL)
		cli_warc_tap(app->warc, xfer_warc(x), t, kind, data, len);
}

/* 0, or the exit status for a failure already reported. */
static int
create_client(struct cli_app *app)
{
	evf_config *cfg;
	int err = 0;
	char why[512];

	cfg = build_config(&app->opts);
	if (cfg == NULL)
		return CLI_EXIT_USAGE;
	evf_config_set_log(cfg, library_log, app);
	/* the tool reads heads in on_head only: an open transfer holds less */
	evf_config_set_keep_headers(cfg, 0);
	if (app->opts.verbose || app->opts.warc_file != NULL)
		evf_config_set_debug(cfg, library_debug, app);
	app->base = event_base_new();
	if (app->base != NULL)
		app->client = evf_client_new2(app->base, cfg, &err, why,
		                              sizeof why);
	evf_config_free(cfg);
	if (app->base == NULL) {
		cli_warn("cannot create the event loop");
		return CLI_EXIT_FAILED;
	}
	if (app->client == NULL) {
		cli_warn("%s", why);
		/* EVF_ERR_TLS: an unusable --cacert or --capath */
		return err == EVF_ERR_TLS ? CLI_EXIT_USAGE : CLI_EXIT_FAILED;
	}
	return 0;
}

/* --------------------------------------------------------- transfers */

static void
live_unlink(struct cli_app *app, struct cli_xfer *x)
{
	if (x->prev != NULL)
		x->prev->next = x->next;
	else
		app->live = x->next;
	if (x->next != NULL)
		x->next->prev = x->prev;
	app->inflight--;
}

static void
xfer_free(struct cli_xfer *x)
{
	cli_sink_free(&x->app->out, &x->sink);
	if (x->app->report.fp != NULL)
		free(x->rep[0].head);
	if (x->body_fd >= 0)
		close(x->body_fd);
	if (x->app->warc != NULL)
		cli_warc_x_free(*xfer_warc(x));
	free(x->id_json);
	free(x);
}

/* A URL that never became a transfer still gets its one report line. */
static void
fail_outcome(struct cli_outcome *o, const char *url, size_t len, int err,
             const char *why, uint64_t index)
{
	o->url = url;
	o->url_len = len;
	o->error = why != NULL ? why : evf_strerror(err);
	o->error_kind = evf_error_name(err);
	o->err = err;
	o->index = index;
	o->started_ms = cli_wall_ms();
	o->content_length = -1;
}

static void
fail_early(struct cli_app *app, const char *url, size_t len, int err,
           const char *why, uint64_t index)
{
	struct cli_outcome o;

	memset(&o, 0, sizeof o);
	fail_outcome(&o, url, len, err, why, index);
	cli_record(app, &o);
}

/* With -D or --report: the head written out, or what the report tells of it. */
static int
xfer_on_head(evf_transfer *t, const evf_response *resp, void *arg)
{
	struct cli_xfer *x = arg;
	const struct cli_opts *opts = &x->app->opts;

	(void)t;
	cli_dump_head(x->app, resp);
	if (x->app->report.fp == NULL)
		return 0;
	x->rep[0].head = cli_head_keep(resp, opts->report_headers,
	                               opts->nreport_headers,
	                               &x->rep[0].content_length);
	return 0;
}

static int
xfer_on_body(evf_transfer *t, const void *data, size_t len, void *arg)
{
	struct cli_xfer *x = arg;

	(void)t;
	x->app->stats.received += len;
	return cli_sink_write(&x->app->out, &x->sink, data, len);
}

static void
xfer_on_done(evf_transfer *t, const evf_result *res, void *arg)
{
	struct cli_xfer *x = arg;
	struct cli_app *app = x->app;
	struct cli_outcome o;
	char *file = NULL;

	memset(&o, 0, sizeof o);
	o.id_json = x->id_json;
	o.url = res->url != NULL ? res->url : evf_transfer_url(t);
	if (o.url == NULL)
		o.url = "";
	o.url_len = strlen(o.url);
	o.ok = res->error == EVF_OK;
	o.status = res->status;
	o.bytes = res->bytes;
	o.total_us = res->timings.total_us;
	o.tls_version = res->tls_version;
	o.http_version = res->http_version;
	o.proxy = res->proxy;
	o.reused = res->reused;
	o.effective_url = res->effective_url;
	o.redirects = res->redirects;
	o.retries = res->retries;
	o.timings = &res->timings;
	o.queued_us = res->queued_us;
	o.tls_cipher = res->tls_cipher;
	o.cert_not_after = res->cert_not_after;
	o.remote_ip = res->remote_ip;
	o.remote_port = res->remote_port;
	o.content_length = -1;
	if (app->report.fp != NULL) {
		const struct cli_xfer_report *rep = &x->rep[0];

		o.index = rep->index;
		o.started_ms = rep->started_ms;
		o.content_length = rep->content_length;
		if (rep->head != NULL) {
			o.content_type = rep->head->content_type;
			o.header_values = rep->head->values;
		}
	}
	if (o.ok && cli_sink_commit(&app->out, &x->sink, o.url, &file) < 0) {
		/* Fetched, but the body could not be kept. */
		o.ok = 0;
		o.error = x->sink.error;
		o.err = EVF_ERR_IO;
		o.error_kind = evf_error_name(EVF_ERR_IO);
	} else if (!o.ok) {
		o.err = res->error;
		o.error_kind = evf_error_name(res->error);
		/* The library only knows that on_body refused; we know why. */
		if (res->error == EVF_ERR_IO && x->sink.error != NULL)
			o.error = x->sink.error;
		else if (res->detail != NULL && res->detail[0] != '\0')
			o.error = res->detail;
		else
			o.error = evf_strerror(res->error);
		cli_sink_discard(&app->out, &x->sink);
	}
	o.file = file;
	if (app->warc != NULL)
		cli_warc_done(app, xfer_warc(x), res->error, &o);
	else
		cli_record(app, &o);
	free(file);
	live_unlink(app, x);
	xfer_free(x);
	app_refill(app);
}

/* Start the transfer of url (req: its jsonl line, or NULL); a failure to
 * start is its one result. */
static void
start_transfer(struct cli_app *app, const char *url, uint64_t index,
               struct cli_request *req)
{
	int report = app->report.fp != NULL;
	struct cli_xfer *x = calloc(1, sizeof *x + (report ? sizeof x->rep[0] : 0) +
	                                (app->warc != NULL ? sizeof(struct cli_warc_x *) : 0));
	int err = EVF_ERR_NOMEM;
	char why[300] = "";

	if (x != NULL) {
		x->app = app;
		x->index = index;
		x->body_fd = -1;
		cli_sink_init(&x->sink);
		if (report) {
			x->rep[0].index = index;
			x->rep[0].content_length = -1;
			x->rep[0].started_ms = cli_wall_ms();
		}
		x->t = evf_transfer_new(app->client, url, x, &err);
	}
	if (x != NULL && x->t != NULL) {
		err = cli_send_apply(&app->send, x->t, req != NULL && cli_request_has(req, "authorization"));
		if (err == 0 && req != NULL)
			err = cli_request_apply(req, x->t, app->opts.method != NULL, &x->body_fd, why,
			                        sizeof why);
		if (err == 0)
			err = evf_transfer_on_head(x->t, app->cbs.on_head);
		if (err == 0)
			err = evf_transfer_on_body(x->t, app->cbs.on_body);
		if (err == 0)
			err = evf_transfer_on_done(x->t, app->cbs.on_done);
		if (err == 0)
			err = evf_transfer_start(x->t);
		if (err != 0) {
			evf_transfer_cancel(x->t);   /* never started: freed */
			x->t = NULL;
		}
	}
	if (x != NULL && req != NULL) {
		x->id_json = req->id_json;   /* the report line needs it */
		req->id_json = NULL;
	}
	if (x == NULL || x->t == NULL) {
		struct cli_outcome o;
		memset(&o, 0, sizeof o);
		fail_outcome(&o, url, strlen(url), err,
		             why[0] != '\0' ? why : err == EVF_ERR_INVALID && req != NULL
		                 ? "the line's method or a header of it is invalid" : NULL,
		             index);
		o.id_json = x != NULL ? x->id_json : NULL;
		cli_record(app, &o);
		if (x != NULL) {
			if (x->body_fd >= 0)
				close(x->body_fd);
			free(x->id_json);
			cli_sink_free(&app->out, &x->sink);
			free(x);
		}
		return;
	}
	x->next = app->live;
	if (app->live != NULL)
		app->live->prev = x;
	app->live = x;
	app->inflight++;
}

/* A line of --input-format jsonl: its request, or its one failed result. */
static void
start_jsonl(struct cli_app *app, const struct cli_line *line)
{
	struct cli_request req;
	char why[300];

	if (cli_jsonl_parse(line->ptr, line->len, &req, why, sizeof why) < 0) {
		if (!url_wanted(app, line->ptr, line->len)) {
			app->stats.skipped++;
			return;
		}
		app->stats.started++;
		fail_early(app, line->ptr, line->len, EVF_ERR_INVALID, why, app->stats.started);
		return;
	}
	if (!url_wanted(app, req.url, strlen(req.url))) {
		app->stats.skipped++;
	} else {
		app->stats.started++;
		start_transfer(app, req.url, app->stats.started, &req);
	}
	cli_request_free(&req);
}

/* -------------------------------------------------------------- flow */

/* Nothing left to do: drop everything that keeps the loop running. */
static void
app_finish(struct cli_app *app)
{
	if (app->finished)
		return;
	app->finished = 1;
	if (app->client != NULL)
		evf_client_free(app->client);
	app->client = NULL;
	cli_input_stop(&app->input);
	cli_progress_stop(app);
	cli_warc_stop(app);
	if (app->sigint != NULL)
		event_del(app->sigint);
	if (app->sigterm != NULL)
		event_del(app->sigterm);
}

/*
 * Whether a URL of the input is this run's: in its shard and, with
 * --resume, neither done by an earlier run nor taken already by this one
 * (so a URL listed twice is fetched once).  Lines that are not URLs go
 * through the same test, so that exactly one shard reports each.
 */
static int
url_wanted(struct cli_app *app, const char *url, size_t len)
{
	int rc;

	if (!cli_shard_mine(&app->opts.shard, url, len))
		return 0;
	if (app->opts.resume == NULL)
		return 1;
	rc = cli_seen_add(&app->resume.seen, url, len);
	if (rc < 0 && !app->seen_full) {
		cli_progress_clear(app);
		cli_warn("out of memory for the set of URLs taken: a URL listed "
		         "twice from now on may be fetched twice");
		app->seen_full = 1;
	}
	return rc != 0;
}

static void
app_refill(struct cli_app *app)
{
	struct cli_line line;

	while (!app->finished && !app->input_done &&
	       app->inflight < app->window) {
		switch (cli_input_next(&app->input, &line)) {
		case CLI_INPUT_LINE:
			if (app->opts.input_jsonl && line.from_file) {
				start_jsonl(app, &line);
				break;
			}
			if (!url_wanted(app, line.ptr, line.len)) {
				app->stats.skipped++;
				break;
			}
			app->stats.started++;
			start_transfer(app, line.ptr, app->stats.started, NULL);
			break;
		case CLI_INPUT_BAD:
			if (!url_wanted(app, line.ptr, line.len)) {
				app->stats.skipped++;
				break;
			}
			app->stats.started++;
			fail_early(app, line.ptr, line.len, EVF_ERR_URL, line.why,
			           app->stats.started);
			break;
		case CLI_INPUT_WAIT:
			return;
		case CLI_INPUT_END:
			app->input_done = 1;
			if (app->input.error != 0) {
				cli_progress_clear(app);
				cli_warn("reading '%s': %s", app->input.path,
				         strerror(app->input.error));
				app->fatal = 1;
			}
			break;
		}
	}
	if (app->input_done && app->inflight == 0)
		app_finish(app);
}

static void
input_ready(void *arg)
{
	app_refill(arg);
}

/*
 * Interrupted: cancel what is in flight so that no temp file stays
 * behind.  Cancelled transfers get no report line; the run did not decide
 * them.
 */
static void
on_signal(evutil_socket_t sig, short what, void *arg)
{
	struct cli_app *app = arg;

	(void)what;
	app->signal = (int)sig;
	while (app->live != NULL) {
		struct cli_xfer *x = app->live;

		evf_transfer_cancel(x->t);
		live_unlink(app, x);
		xfer_free(x);
	}
	app_finish(app);
}

static int
watch_signals(struct cli_app *app)
{
	app->sigint = evsignal_new(app->base, SIGINT, on_signal, app);
	app->sigterm = evsignal_new(app->base, SIGTERM, on_signal, app);
	if (app->sigint == NULL || app->sigterm == NULL ||
	    evsignal_add(app->sigint, NULL) < 0 ||
	    evsignal_add(app->sigterm, NULL) < 0) {
		cli_warn("cannot watch signals");
		return -1;
	}
	return 0;
}

static int
app_setup_requests(struct cli_app *app)
{
	int r = cli_send_prepare(&app->opts, &app->send);
	/* the Basic line has -u's password: out of sight of ps(1) now */
	char *pw = app->opts.user != NULL ? strchr(app->opts.user, ':') : NULL;
	for (volatile char *p = pw != NULL ? pw + 1 : NULL; p != NULL && *p != '\0'; p++)
		*p = '*';
	if (r < 0)
		return -1;
	memset(&app->cbs, 0, sizeof app->cbs);
	app->cbs.on_head = app->report.fp != NULL || app->dump != NULL ? xfer_on_head
	                                                                : NULL;
	app->cbs.on_body = xfer_on_body;
	app->cbs.on_done = xfer_on_done;
	/* room for a host's adjacent URLs to wait for its connection while
	 * other hosts' URLs fill the slots (see evfetch(1), connections) */
	app->window = 2 * app->opts.concurrency +
	              (app->opts.concurrency < WINDOW_EXTRA / 4 ? 4 * app->opts.concurrency
	                                                        : WINDOW_EXTRA);
	return 0;
}

/*
 * --resume: read what the report says is done, repair it, and clear the
 * temp files a killed run with this report left.  0, or the exit status.
 */
static int
resume_setup(struct cli_app *app)
{
	struct cli_resume *r = &app->resume;
	const char *path = app->opts.resume, *what;
	unsigned removed;
	int rc = cli_resume_open(r, path, &what);

	if (rc == CLI_RESUME_LOCKED) {
		cli_usage_error("--resume: '%s' is locked by another evfetch "
		                "that is still running", path);
		return CLI_EXIT_USAGE;
	}
	if (rc < 0 && errno == ENOMEM) {
		cli_warn("--resume: out of memory reading '%s'", path);
		return CLI_EXIT_FAILED;
	}
	if (rc < 0) {
		cli_usage_error("--resume: %s '%s': %s", what, path,
		                errno == EINVAL ? "not a regular file" :
		                strerror(errno));
		return CLI_EXIT_USAGE;
	}
	removed = cli_output_adopt(&app->out, r->tag);
	if (app->opts.silent)
		return 0;
	if (r->cut != 0)
		cli_warn("--resume: removed the last line of '%s', cut off by an "
		         "interrupted run (%llu bytes)", path,
		         (unsigned long long)r->cut);
	if (r->unreadable != 0)
		cli_warn("--resume: ignored %llu line%s of '%s' that %s not "
		         "report lines", (unsigned long long)r->unreadable,
		         r->unreadable == 1 ? "" : "s", path,
		         r->unreadable == 1 ? "is" : "are");
	if (removed != 0)
		cli_warn("--resume: removed %u temporary file%s left in '%s' by an "
		         "interrupted run", removed, removed == 1 ? "" : "s",
		         app->out.tmp_dir);
	if (app->opts.verbose)
		cli_warn("--resume: %llu URL%s of '%s' fetched already",
		         (unsigned long long)r->seen.count,
		         r->seen.count == 1 ? "" : "s", path);
	return 0;
}

/* 0, or the exit status for a failure already reported. */
static int
app_setup(struct cli_app *app)
{
	int rc;

	enum cli_out_mode m = app->opts.out_mode;
	if (raise_fd_limit(&app->opts, m == CLI_OUT_DIR || m == CLI_OUT_SPOOL) < 0)
		return CLI_EXIT_USAGE;
	rc = create_client(app);
	if (rc != 0)
		return rc;
	if (cli_input_open(&app->input, app->base, app->opts.urls,
	                   app->opts.nurls, app->opts.input_file, input_ready,
	                   app) < 0) {
		cli_usage_error("cannot read input file '%s': %s",
		                app->opts.input_file, strerror(errno));
		return CLI_EXIT_USAGE;
	}
	if (cli_output_init(&app->out, &app->opts) < 0 || cli_dump_open(app) < 0)
		return CLI_EXIT_USAGE;
	if (app->opts.resume != NULL && (rc = resume_setup(app)) != 0)
		return rc;
	if (cli_report_open(&app->report, app->opts.report, app->base,
	                    app->opts.resume != NULL) < 0)
		return CLI_EXIT_USAGE;
	app->report.headers = app->opts.report_headers;
	app->report.nheaders = app->opts.nreport_headers;
	if (app_setup_requests(app) < 0)
		return CLI_EXIT_USAGE;
	/* last of the files: a usage error above leaves no WARC file behind */
	if (cli_warc_open(app) < 0)
		return CLI_EXIT_USAGE;
	if (watch_signals(app) < 0)
		return CLI_EXIT_FAILED;
	if (cli_progress_start(app, !app->opts.silent && !app->opts.no_progress &&
	                       isatty(STDERR_FILENO)) < 0) {
		cli_warn("cannot start the progress timer");
		return CLI_EXIT_FAILED;
	}
	return 0;
}

static void
app_cleanup(struct cli_app *app)
{
	cli_input_close(&app->input);
	cli_progress_free(app);
	if (app->sigint != NULL)
		event_free(app->sigint);
	if (app->sigterm != NULL)
		event_free(app->sigterm);
	if (app->client != NULL)
		evf_client_free(app->client);
	if (app->base != NULL)
		event_base_free(app->base);
	cli_output_free(&app->out);
	cli_resume_close(&app->resume);
	cli_send_free(&app->send);
	cli_opts_free(&app->opts);
}

/*
 * If the caller closed stdin, stdout or stderr, the next file opened would
 * take its number and receive whatever was meant for it.
 */
static void
keep_std_fds_open(void)
{
	int fd;

	for (fd = 0; fd <= 2; fd++)
		if (fcntl(fd, F_GETFD) < 0 && open("/dev/null", O_RDWR) < 0)
			break;
}

int
main(int argc, char **argv)
{
	static char errbuf[BUFSIZ];
	struct cli_app app;
	int rc;

	keep_std_fds_open();
	/* A line of stderr in one write: an error line and the bar it wipes
	 * go out together, and a failure's line costs one system call. */
	setvbuf(stderr, errbuf, _IOLBF, sizeof errbuf);
	memset(&app, 0, sizeof app);
	app.input.fd = -1;
	app.resume.fd = -1;
	/* A closed pipe must fail the write, not kill the process. */
	signal(SIGPIPE, SIG_IGN);

	switch (cli_parse_args(argc, argv, &app.opts)) {
	case CLI_PARSE_EXIT:
		cli_opts_free(&app.opts);
		return fflush(stdout) == 0 ? CLI_EXIT_OK : CLI_EXIT_FAILED;
	case CLI_PARSE_USAGE:
		cli_opts_free(&app.opts);
		return CLI_EXIT_USAGE;
	case CLI_PARSE_RUN:
		break;
	}

	rc = app_setup(&app);
	if (rc != 0) {
		cli_warc_close(&app);
		cli_report_close(&app.report);
		cli_dump_close(&app);
		app_cleanup(&app);
		return rc;
	}

	app_refill(&app);
	if (!app.finished)
		event_base_dispatch(app.base);
	/* The loop only runs dry after app_finish; anything else is a bug. */
	if (!app.finished) {
		cli_warn("the event loop stopped early");
		app.fatal = 1;
		app_finish(&app);
	}

	/* the archive first: it writes the report lines it held */
	if (cli_warc_close(&app) < 0)
		app.fatal = 1;
	if (cli_report_close(&app.report) < 0 || cli_dump_close(&app) < 0)
		app.fatal = 1;
	if (app.signal != 0) {
		cli_progress_clear(&app);
		cli_warn("interrupted");
	}
	if (!app.opts.silent)
		cli_progress_summary(&app);
	rc = app.stats.failed != 0 || app.fatal ? CLI_EXIT_FAILED : CLI_EXIT_OK;
	app_cleanup(&app);
	if (app.signal != 0) {
		/* Die by the signal, so the caller sees what happened; that
		 * skips exit's flush of stdio. */
		fflush(NULL);
		signal(app.signal, SIG_DFL);
		raise(app.signal);
	}
	return rc;
}
