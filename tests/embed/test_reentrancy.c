/*
 * test_reentrancy.c - callbacks that call back into the library.
 *
 * The header promises that on_head, on_body and on_done may cancel their
 * own or any other transfer, start new transfers and free the client; that
 * no callback of a transfer fires after it was cancelled or its client
 * freed; and that every other transfer ends with exactly one on_done.
 * Each case below does one of those things on a fresh client and then lets
 * the loop run on for a while, counting every callback that should not
 * have come.  Some cases run after a followed redirect or against a
 * transfer waiting to retry.  The last cases pause in on_body (and the
 * decoding ones in on_head too) and resume from a timer: first a plain
 * body, then bodies with content decoding on, where 16 KiB of input can
 * decode to 16 MiB.  After the callback that paused returns, at most
 * 16 KiB may reach on_body until the resume (the bound evfetch.h
 * promises), on_done never comes while paused, and the decoded body
 * arrives whole and in order.
 *
 * usage: test_reentrancy BASE_URL CA_FILE FILE_1M [URL=FILE]...
 *   BASE_URL  e.g. https://127.0.0.1:PORT/ of tests/lib/nginx.sh's nginx,
 *             which serves /n/ANY (a short body) and /1m.bin
 *   FILE_1M   the local copy of /1m.bin, to compare the body with
 *   URL=FILE  a compressed body (Content-Encoding gzip or deflate) and the
 *             file it decodes to, for the pause cases with decoding
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <fcntl.h>
#include <netinet/in.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include <event2/event.h>

#include "evfetch.h"
#include "tap.h"

#define SETTLE_MS 300          /* how long to watch for stray callbacks */
#define WAIT_MS 15000          /* longest wait for transfers to end */
#define MAX_CTX 128
#define PAUSE_EVERY (128 * 1024)
#define PAUSE_MS 50
#define DECODE_PAUSE_EVERY (1024 * 1024)
#define DECODE_PAUSE_MS 5
#define AFTER_PAUSE_MAX 16384   /* evfetch.h: at most one read buffer */

static struct event_base *base;
static const char *base_url, *ca_file;
static unsigned char *file_1m;
static size_t file_1m_len;
static int stall_port;

enum action {
	ACT_NONE,
	ACT_CANCEL_SELF_HEAD,
	ACT_CANCEL_SELF_BODY,
	ACT_CANCEL_SELF_DONE,
	ACT_CANCEL_VICTIM_DONE,
	ACT_SPAWN_DONE,
	ACT_FREE_HEAD,
	ACT_FREE_BODY,
	ACT_FREE_DONE,
	ACT_PAUSE_BODY,
};

struct cl {
	evf_client *c;
	int freed;
	int spawned, spawn_limit;
};

struct ctx {
	struct cl *cl;
	evf_transfer *t;
	enum action action;
	struct ctx *victim;
	int heads, bodies, dones;
	int late;            /* callbacks after cancel or client free */
	int cancelled;
	int error, status;
	uint64_t bytes;
	/* the pause cases */
	unsigned char *buf;        /* the body so far, or NULL to compare with want */
	const unsigned char *want;
	size_t want_len;
	size_t len, next_pause, pause_every;
	int pause_ms;
	int pause_in_head;         /* pause in on_head too */
	int paused, npauses, in_resume, body_in_resume, done_while_paused;
	int mismatch;              /* on_body bytes that differ from want */
	size_t while_paused, max_while_paused;
	struct event *resume_timer;
};

static struct ctx pool[MAX_CTX];
static int npool;
static int inside_fetch, done_inside_fetch;

static struct ctx *new_ctx(struct cl *cl, enum action a)
{
	if (npool == MAX_CTX)
		abort();
	struct ctx *x = &pool[npool++];
	memset(x, 0, sizeof *x);
	x->cl = cl;
	x->action = a;
	return x;
}

static void reset_pool(void)
{
	for (int i = 0; i < npool; i++) {
		free(pool[i].buf);
		if (pool[i].resume_timer)
			event_free(pool[i].resume_timer);
	}
	npool = 0;
}

/* Client options beyond the limits, for the cases that need them. */
static int opt_redirects;
static unsigned opt_retries;
static int opt_decode;

static void new_client(struct cl *cl, unsigned max_transfers, unsigned max_per_host)
{
	memset(cl, 0, sizeof *cl);
	evf_config *cfg = evf_config_new();
	evf_config_set_ca_file(cfg, ca_file);
	evf_config_set_max_transfers(cfg, max_transfers);
	evf_config_set_max_per_host(cfg, max_per_host);
	if (opt_redirects)
		evf_config_set_follow_redirects(cfg, 1, 5);
	if (opt_retries)
		evf_config_set_retries(cfg, opt_retries, 1000, 5000);
	if (opt_decode)
		evf_config_set_decode(cfg, 1);
	int err = 0;
	cl->c = evf_client_new(base, cfg, &err);
	evf_config_free(cfg);
	if (!cl->c) {
		printf("Bail out! evf_client_new: %s\n", evf_strerror(err));
		exit(1);
	}
}

static void free_client(struct cl *cl)
{
	if (!cl->freed) {
		cl->freed = 1;
		evf_client_free(cl->c);
	}
}

/* Count a callback; 1 when it should not have happened. */
static int seen(struct ctx *x)
{
	if (x->cancelled || x->cl->freed) {
		x->late++;
		return 1;
	}
	return 0;
}

static void cancel(struct ctx *x)
{
	x->cancelled = 1;
	evf_transfer_cancel(x->t);
}

static void start(struct ctx *x, const char *path);
static int pause_now(struct ctx *x);

static int on_head(evf_transfer *t, const evf_response *resp, void *arg)
{
	struct ctx *x = arg;
	if (seen(x))
		return 0;
	x->heads++;
	x->status = resp->status;
	if (x->action == ACT_CANCEL_SELF_HEAD)
		cancel(x);
	else if (x->action == ACT_FREE_HEAD)
		free_client(x->cl);
	else if (x->action == ACT_PAUSE_BODY && x->pause_in_head)
		return pause_now(x);
	return 0;
}

static void resume_cb(evutil_socket_t fd, short what, void *arg)
{
	struct ctx *x = arg;
	x->paused = 0;
	x->while_paused = 0;
	x->in_resume = 1;
	if (evf_transfer_resume(x->t) != 0)
		x->late++;   /* not done yet, so resume must succeed */
	x->in_resume = 0;
}

static int pause_body(struct ctx *x, const void *data, size_t len)
{
	if (x->in_resume)
		x->body_in_resume++;
	if (x->buf) {
		if (x->len + len > x->want_len + 65536)
			return -1;
		memcpy(x->buf + x->len, data, len);
	} else if (x->len + len > x->want_len || memcmp(x->want + x->len, data, len) != 0) {
		x->mismatch++;
	}
	x->len += len;
	if (x->paused) {
		/* "at most one read buffer" may still come after pausing */
		x->while_paused += len;
		if (x->while_paused > x->max_while_paused)
			x->max_while_paused = x->while_paused;
		return 0;
	}
	if (x->len >= x->next_pause && x->len < x->want_len) {
		x->next_pause = x->len + x->pause_every;
		return pause_now(x);
	}
	return 0;
}

/* Pause x and resume it from a timer. */
static int pause_now(struct ctx *x)
{
	if (evf_transfer_pause(x->t) != 0)
		return -1;
	x->paused = 1;
	x->npauses++;
	struct timeval tv = {0, x->pause_ms * 1000};
	evtimer_add(x->resume_timer, &tv);
	return 0;
}

static int on_body(evf_transfer *t, const void *data, size_t len, void *arg)
{
	struct ctx *x = arg;
	if (seen(x))
		return 0;
	x->bodies++;
	x->bytes += len;
	if (x->action == ACT_CANCEL_SELF_BODY)
		cancel(x);
	else if (x->action == ACT_FREE_BODY)
		free_client(x->cl);
	else if (x->action == ACT_PAUSE_BODY)
		return pause_body(x, data, len);
	return 0;
}

static void on_done(evf_transfer *t, const evf_result *res, void *arg)
{
	struct ctx *x = arg;
	if (inside_fetch)
		done_inside_fetch++;
	if (seen(x))
		return;
	x->dones++;
	x->error = res->error;
	x->status = res->status;
	if (x->paused)
		x->done_while_paused++;
	if (x->resume_timer)
		event_del(x->resume_timer);   /* done while paused: t is going away */
	switch (x->action) {
	case ACT_CANCEL_SELF_DONE:
		/* the handle is valid until on_done returns; cancelling it here
		 * must be harmless */
		evf_transfer_cancel(t);
		break;
	case ACT_CANCEL_VICTIM_DONE:
		cancel(x->victim);
		break;
	case ACT_SPAWN_DONE:
		for (int i = 0; i < 2 && x->cl->spawned < x->cl->spawn_limit; i++) {
			char path[32];
			snprintf(path, sizeof path, "n/spawn%d", x->cl->spawned);
			x->cl->spawned++;
			start(new_ctx(x->cl, ACT_SPAWN_DONE), path);
		}
		break;
	case ACT_FREE_DONE:
		free_client(x->cl);
		break;
	default:
		break;
	}
}

static const evf_callbacks callbacks = {on_head, on_body, on_done};

/* Start x on BASE_URL + path (an absolute URL when path has "://"). */
static void start(struct ctx *x, const char *path)
{
	char url[512];
	if (strstr(path, "://"))
		snprintf(url, sizeof url, "%s", path);
	else
		snprintf(url, sizeof url, "%s%s", base_url, path);
	evf_request req = {.url = url, .method = EVF_GET};
	int err = 0;
	inside_fetch = 1;
	x->t = evf_fetch(x->cl->c, &req, &callbacks, x, &err);
	inside_fetch = 0;
	if (!x->t) {
		printf("Bail out! evf_fetch(%s): %s\n", url, evf_strerror(err));
		exit(1);
	}
}

/* ------------------------------------------------------------- running */

static void run_ms(int ms)
{
	struct timeval tv = {ms / 1000, (ms % 1000) * 1000};
	event_base_loopexit(base, &tv);
	event_base_dispatch(base);
}

/* Run the loop until every listed context has had on_done (or WAIT_MS). */
static int run_until_done(struct ctx **xs, int n)
{
	for (int waited = 0; waited < WAIT_MS; waited += 10) {
		int all = 1;
		for (int i = 0; i < n; i++)
			all &= xs[i]->dones > 0;
		if (all)
			return 1;
		run_ms(10);
	}
	return 0;
}

static int run_until_flag(const int *flag)
{
	for (int waited = 0; waited < WAIT_MS && !*flag; waited += 10)
		run_ms(10);
	return *flag;
}

static int late_total(void)
{
	int late = 0;
	for (int i = 0; i < npool; i++)
		late += pool[i].late;
	return late;
}

/* A sanity transfer on cl after a case: the client still works. */
static void still_works(struct cl *cl, const char *what)
{
	struct ctx *x = new_ctx(cl, ACT_NONE);
	start(x, "n/after");
	struct ctx *xs[] = {x};
	ok(run_until_done(xs, 1) && x->error == EVF_OK && x->status == 200,
	   "%s: the client still fetches afterwards", what);
}

/* A socket that accepts connections (in the kernel) and never answers:
 * a TLS handshake to it stalls for as long as the test likes. */
static int stall_listener(void)
{
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in sin = {.sin_family = AF_INET};
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	socklen_t len = sizeof sin;
	if (fd < 0 || bind(fd, (struct sockaddr *)&sin, sizeof sin) != 0 ||
	    listen(fd, 64) != 0 || getsockname(fd, (struct sockaddr *)&sin, &len) != 0) {
		printf("Bail out! cannot make a listening socket\n");
		exit(1);
	}
	stall_port = ntohs(sin.sin_port);
	return fd;
}

/* ---------------------------------------------------------------- cases */

static void case_cancel_self(enum action a, const char *what, const char *path)
{
	struct cl cl;
	new_client(&cl, 10, 0);
	struct ctx *x = new_ctx(&cl, a);
	start(x, path);
	run_until_flag(&x->cancelled);
	ok(x->cancelled, "cancel in own %s: the callback ran", what);
	run_ms(SETTLE_MS);
	is_int(x->dones, 0, "cancel in own %s: no on_done", what);
	is_int(x->late, 0, "cancel in own %s: no callback after the cancel", what);
	if (a == ACT_CANCEL_SELF_HEAD)
		is_int(x->bodies, 0, "cancel in own %s: no on_body", what);
	else
		is_int(x->bodies, 1, "cancel in own %s: on_body ran once", what);
	if (opt_redirects)
		is_int(x->status, 200, "cancel in own %s: the callback saw the final response",
		       what);
	still_works(&cl, what);
	free_client(&cl);
	reset_pool();
}

static void case_cancel_self_in_done(void)
{
	struct cl cl;
	new_client(&cl, 10, 0);
	struct ctx *x = new_ctx(&cl, ACT_CANCEL_SELF_DONE);
	start(x, "n/self-done");
	struct ctx *xs[] = {x};
	run_until_done(xs, 1);
	run_ms(50);
	ok(x->dones == 1 && x->error == EVF_OK && x->late == 0,
	   "cancel in own on_done: harmless, on_done ran once");
	still_works(&cl, "cancel in own on_done");
	free_client(&cl);
	reset_pool();
}

/*
 * A's on_done cancels B, with B in each state it can be in: opening its
 * connection (a stalled handshake), waiting in the client's queue, busy on
 * the same host, or already finished with its on_done not yet delivered.
 */
static void case_cancel_other(const char *what, unsigned max_transfers,
                              unsigned max_per_host, const char *a_path,
                              const char *b_path)
{
	struct cl cl;
	new_client(&cl, max_transfers, max_per_host);
	struct ctx *a = new_ctx(&cl, ACT_CANCEL_VICTIM_DONE);
	struct ctx *b = new_ctx(&cl, ACT_NONE);
	struct ctx *c = new_ctx(&cl, ACT_NONE);
	a->victim = b;
	start(a, a_path);
	start(b, b_path);
	start(c, "n/bystander");
	struct ctx *xs[] = {a, c};
	run_until_done(xs, 2);
	run_ms(SETTLE_MS);
	ok(a->dones == 1 && b->cancelled, "%s: A's on_done ran and cancelled B", what);
	ok(b->dones == 0 && b->late == 0, "%s: B never called back after the cancel", what);
	ok(c->dones == 1 && c->error == EVF_OK, "%s: the bystander ended once, fetched", what);
	still_works(&cl, what);
	free_client(&cl);
	reset_pool();
}

static void case_spawn(void)
{
	struct cl cl;
	new_client(&cl, 8, 0);
	cl.spawn_limit = 60;
	struct ctx *root = new_ctx(&cl, ACT_SPAWN_DONE);
	start(root, "n/root");
	int all = 0;
	for (int waited = 0; waited < WAIT_MS && !all; waited += 10) {
		run_ms(10);
		all = cl.spawned == cl.spawn_limit;
		for (int i = 0; i < npool && all; i++)
			all = pool[i].dones > 0;
	}
	run_ms(50);
	int once = 1, fetched = 1;
	for (int i = 0; i < npool; i++) {
		once &= pool[i].dones == 1;
		fetched &= pool[i].error == EVF_OK && pool[i].status == 200;
	}
	is_int(npool, 61, "start from on_done: a tree of 60 transfers was started");
	ok(all && once, "start from on_done: every transfer's on_done ran exactly once");
	ok(fetched, "start from on_done: every transfer was fetched");
	is_int(done_inside_fetch, 0, "start from on_done: no on_done inside evf_fetch");
	free_client(&cl);
	reset_pool();
}

static void case_free(enum action a, const char *what, const char *path, int n)
{
	struct cl cl;
	new_client(&cl, 50, 0);
	for (int i = 0; i < n; i++)
		start(new_ctx(&cl, i == 0 ? a : ACT_NONE), path);
	run_until_flag(&cl.freed);
	ok(cl.freed, "free in %s: the callback ran and freed the client", what);
	run_ms(SETTLE_MS);
	is_int(late_total(), 0, "free in %s: no callback of any transfer afterwards", what);
	free_client(&cl);   /* no-op: already freed */
	reset_pool();
}

static void case_pause(void)
{
	struct cl cl;
	new_client(&cl, 10, 0);
	struct ctx *x = new_ctx(&cl, ACT_PAUSE_BODY);
	x->buf = malloc(file_1m_len + 65536);
	x->want_len = file_1m_len;
	x->next_pause = x->pause_every = PAUSE_EVERY;
	x->pause_ms = PAUSE_MS;
	x->resume_timer = evtimer_new(base, resume_cb, x);
	start(x, "1m.bin");
	struct ctx *xs[] = {x};
	run_until_done(xs, 1);
	run_ms(PAUSE_MS * 2);
	ok(x->dones == 1 && x->error == EVF_OK && x->status == 200,
	   "pause/resume: the transfer ended once, fetched");
	is_mem(x->buf, x->len, file_1m, file_1m_len, "pause/resume: the body is byte-exact");
	ok(x->npauses >= 4, "pause/resume: paused %d times", x->npauses);
	ok(x->max_while_paused <= AFTER_PAUSE_MAX,
	   "pause/resume: at most 16 KiB arrived while paused (max %zu)", x->max_while_paused);
	is_int(x->body_in_resume, 0, "pause/resume: on_body never ran inside evf_transfer_resume");
	is_int(x->late, 0, "pause/resume: resume after a pause succeeded every time");
	free_client(&cl);
	reset_pool();
}

/*
 * Fetch url with decoding on, pausing in on_head and then every
 * DECODE_PAUSE_EVERY decoded bytes, each time for DECODE_PAUSE_MS; the
 * decoded body must equal the file.
 */
static void case_pause_decode(const char *url, const char *file)
{
	int fd = open(file, O_RDONLY);
	struct stat st;
	if (fd < 0 || fstat(fd, &st) != 0 || st.st_size == 0) {
		printf("Bail out! cannot open %s\n", file);
		exit(1);
	}
	size_t want_len = (size_t)st.st_size;
	void *want = mmap(NULL, want_len, PROT_READ, MAP_PRIVATE, fd, 0);
	close(fd);
	if (want == MAP_FAILED) {
		printf("Bail out! cannot map %s\n", file);
		exit(1);
	}
	struct cl cl;
	opt_decode = 1;
	new_client(&cl, 10, 0);
	opt_decode = 0;
	struct ctx *x = new_ctx(&cl, ACT_PAUSE_BODY);
	x->want = want;
	x->want_len = want_len;
	x->next_pause = x->pause_every = DECODE_PAUSE_EVERY;
	x->pause_ms = DECODE_PAUSE_MS;
	x->pause_in_head = 1;
	x->resume_timer = evtimer_new(base, resume_cb, x);
	start(x, url);
	struct ctx *xs[] = {x};
	run_until_done(xs, 1);
	run_ms(DECODE_PAUSE_MS * 2);
	ok(x->dones == 1 && x->error == EVF_OK && x->status == 200,
	   "pause, decoding %s: the transfer ended once, fetched", url);
	if (x->error)
		diag("%s", evf_error_name(x->error));
	ok(x->len == want_len && x->mismatch == 0,
	   "pause, decoding %s: the body is byte-exact (%zu of %zu bytes)", url, x->len,
	   want_len);
	ok((size_t)x->npauses >= want_len / DECODE_PAUSE_EVERY / 2,
	   "pause, decoding %s: paused %d times", url, x->npauses);
	ok(x->max_while_paused <= AFTER_PAUSE_MAX,
	   "pause, decoding %s: at most 16 KiB reached on_body while paused (max %zu)", url,
	   x->max_while_paused);
	is_int(x->done_while_paused, 0, "pause, decoding %s: on_done never came while paused",
	       url);
	is_int(x->body_in_resume, 0,
	       "pause, decoding %s: on_body never ran inside evf_transfer_resume", url);
	is_int(x->late, 0, "pause, decoding %s: every resume succeeded", url);
	free_client(&cl);
	reset_pool();
	munmap(want, want_len);
}

static void load_file(const char *path)
{
	FILE *f = fopen(path, "rb");
	if (!f) {
		printf("Bail out! cannot open %s\n", path);
		exit(1);
	}
	fseek(f, 0, SEEK_END);
	file_1m_len = (size_t)ftell(f);
	fseek(f, 0, SEEK_SET);
	file_1m = malloc(file_1m_len);
	if (!file_1m || fread(file_1m, 1, file_1m_len, f) != file_1m_len) {
		printf("Bail out! cannot read %s\n", path);
		exit(1);
	}
	fclose(f);
}

int main(int argc, char **argv)
{
	if (argc < 4) {
		fprintf(stderr, "usage: %s BASE_URL CA_FILE FILE_1M [URL=FILE]...\n", argv[0]);
		return 2;
	}
	base_url = argv[1];
	ca_file = argv[2];
	load_file(argv[3]);
	base = event_base_new();
	int stall_fd = stall_listener();
	char stall_url[64];
	snprintf(stall_url, sizeof stall_url, "https://127.0.0.1:%d/stall", stall_port);

	case_cancel_self(ACT_CANCEL_SELF_HEAD, "on_head", "1m.bin");
	case_cancel_self(ACT_CANCEL_SELF_BODY, "on_body", "1m.bin");
	/* after a redirect was followed: the second attempt's callbacks */
	opt_redirects = 1;
	case_cancel_self(ACT_CANCEL_SELF_HEAD, "on_head after a redirect", "redirect");
	case_cancel_self(ACT_CANCEL_SELF_BODY, "on_body after a redirect", "redirect");
	case_free(ACT_FREE_HEAD, "on_head after a redirect", "redirect", 5);
	opt_redirects = 0;
	case_cancel_self_in_done();
	case_cancel_other("B connecting", 10, 0, "n/a", stall_url);
	case_cancel_other("B queued", 1, 0, "n/a", "n/b");
	case_cancel_other("B on the same host", 10, 1, "n/a", "1m.bin");
	case_cancel_other("B done, on_done pending", 10, 0, "notaurl-a", "notaurl-b");
	/* B's 503 comes back long before A's megabyte: B then waits 1 s to
	 * try again when A's on_done cancels it */
	opt_retries = 3;
	case_cancel_other("B waiting to retry", 10, 0, "1m.bin", "status/503");
	opt_retries = 0;
	case_spawn();
	case_free(ACT_FREE_HEAD, "on_head", "1m.bin", 10);
	case_free(ACT_FREE_BODY, "on_body", "1m.bin", 10);
	case_free(ACT_FREE_DONE, "on_done", "n/free", 10);
	case_free(ACT_FREE_DONE, "on_done with more on_done pending", "notaurl", 10);
	case_pause();
	for (int i = 4; i < argc; i++) {
		char *eq = strrchr(argv[i], '=');
		if (!eq) {
			printf("Bail out! not URL=FILE: %s\n", argv[i]);
			return 1;
		}
		*eq = '\0';
		case_pause_decode(argv[i], eq + 1);
	}

	close(stall_fd);
	event_base_free(base);
	free(file_1m);
	return done_testing();
}
