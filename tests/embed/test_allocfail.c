/*
 * test_allocfail.c - the library when malloc, calloc or realloc fails.
 *
 * Linked against the library's objects (libevfetch-core.la, static) with
 * -Wl,--wrap=malloc,--wrap=calloc,--wrap=realloc,--wrap=free, so that the
 * allocator below sees every allocation the library makes itself.
 * libevent, OpenSSL and libc are shared libraries and their allocations are
 * not wrapped: a failure inside them (evdns, SSL_new, evhttp_uri_parse) is
 * not simulated here.
 *
 * For each URL, a calibration run counts the allocations of one complete
 * sequence: a config with strings, a header and --resolve entries; a
 * client; one transfer with a request header; a second one started from
 * the first one's on_done (on the pooled connection); then free.  Then, for every
 * N from 1 to that count, a fresh sequence runs in a child process with
 * allocation N failing (then once more with N and every later allocation
 * failing), and must: not crash or hang; see every API call
 * that fails say EVF_ERR_NOMEM; see every started transfer end with exactly
 * one on_done (whatever its error), with a detail when it failed; and
 * leave no allocation of the library alive once everything was freed.
 *
 * usage: test_allocfail CA_FILE [--resolve HOST:PORT:ADDR]... URL...
 */
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <event2/event.h>

#include "evfetch.h"
#include "tap.h"

#define WAIT_MS 10000
#define LIVE_SLOTS 8192   /* a power of two, far above the live count */

/* ------------------------------------------------------- the allocator */

void *__real_malloc(size_t n);
void *__real_calloc(size_t n, size_t size);
void *__real_realloc(void *p, size_t n);
void __real_free(void *p);
void *__wrap_malloc(size_t n);
void *__wrap_calloc(size_t n, size_t size);
void *__wrap_realloc(void *p, size_t n);
void __wrap_free(void *p);

static int tracking;        /* count, fail and track allocations */
static long nallocs;        /* allocations seen while tracking */
static long fail_at;        /* the allocation to fail (1-based), 0 never */
static int fail_rest;       /* fail every allocation from fail_at on */
static int failed_one;      /* fail_at was reached */
static void *live[LIVE_SLOTS];
static long nlive;

static size_t slot_of(const void *p)
{
	return (size_t)(((uintptr_t)p >> 4) * 2654435761u) & (LIVE_SLOTS - 1);
}

static void live_add(void *p)
{
	size_t i = slot_of(p);
	while (live[i] && live[i] != (void *)1)
		i = (i + 1) & (LIVE_SLOTS - 1);
	live[i] = p;
	nlive++;
}

static void live_del(void *p)
{
	/* (void *)1 marks a deleted slot, so probe chains stay intact */
	for (size_t i = slot_of(p); live[i]; i = (i + 1) & (LIVE_SLOTS - 1)) {
		if (live[i] == p) {
			live[i] = (void *)1;
			nlive--;
			return;
		}
	}
}

/* 1 when this allocation is to fail. */
static int next_fails(void)
{
	if (!tracking)
		return 0;
	++nallocs;
	if (nallocs == fail_at || (fail_rest && fail_at && nallocs > fail_at)) {
		failed_one = 1;
		return 1;
	}
	return 0;
}

void *__wrap_malloc(size_t n)
{
	if (next_fails())
		return NULL;
	void *p = __real_malloc(n);
	if (p && tracking)
		live_add(p);
	return p;
}

void *__wrap_calloc(size_t n, size_t size)
{
	if (next_fails())
		return NULL;
	void *p = __real_calloc(n, size);
	if (p && tracking)
		live_add(p);
	return p;
}

void *__wrap_realloc(void *p, size_t n)
{
	if (next_fails())
		return NULL;   /* p stays valid, as with a real failure */
	void *q = __real_realloc(p, n);
	if (q && tracking) {
		if (p)
			live_del(p);
		live_add(q);
	}
	return q;
}

void __wrap_free(void *p)
{
	if (p && tracking)
		live_del(p);
	__real_free(p);
}

/* ------------------------------------------------------- one sequence */

#define MAX_RESOLVES 4

struct outcome {
	const char *api_failed;   /* the call that returned an error, or NULL */
	int api_err;
	int started;              /* transfers evf_fetch returned */
	int dones[2];             /* on_done calls per transfer */
	int error, status, detail_missing;
	int timed_out;
};

static struct outcome out;
static struct event_base *base;
static const char *resolves[MAX_RESOLVES];
static int nresolves;
static evf_client *client;
static const char *cur_url;

static void api_failed(const char *what, int err)
{
	if (!out.api_failed) {
		out.api_failed = what;
		out.api_err = err;
	}
}

static const char *const req_headers[] = {"X-Request: allocfail"};

static int start_transfer(int i, const char *what);

static void on_done(evf_transfer *t, const evf_result *res, void *arg)
{
	int i = (int)(intptr_t)arg;
	out.dones[i]++;
	if (out.error == EVF_OK) {
		out.error = res->error;
		out.status = res->status;
	}
	out.detail_missing |= res->error != EVF_OK && res->detail == NULL;
	/* the second transfer starts from a callback and, when the first one
	 * succeeded, reuses its pooled connection */
	if (i == 0)
		start_transfer(1, "evf_fetch from on_done");
}

static int start_transfer(int i, const char *what)
{
	evf_callbacks cb = {.on_done = on_done};
	evf_request req = {.url = cur_url, .method = EVF_GET,
	                   .headers = req_headers, .nheaders = 1};
	int err = 0;
	if (!evf_fetch(client, &req, &cb, (void *)(intptr_t)i, &err)) {
		api_failed(what, err);
		return -1;
	}
	out.started++;
	return 0;
}

static int all_done(void)
{
	return out.dones[0] + out.dones[1] >= out.started;
}

/* Config, client, two transfers to their end, free: no allocation of the
 * test itself happens while tracking is on. */
static void sequence(const char *ca, const char *url)
{
	int err = 0;
	memset(&out, 0, sizeof out);
	cur_url = url;
	evf_config *cfg = evf_config_new();
	if (!cfg) {
		api_failed("evf_config_new", EVF_ERR_NOMEM);
		return;
	}
	if ((err = evf_config_set_ca_file(cfg, ca)) != 0)
		api_failed("evf_config_set_ca_file", err);
	else if ((err = evf_config_set_user_agent(cfg, "allocfail/1")) != 0)
		api_failed("evf_config_set_user_agent", err);
	else if ((err = evf_config_add_header(cfg, "X-Config: allocfail")) != 0)
		api_failed("evf_config_add_header", err);
	for (int i = 0; i < nresolves && !out.api_failed; i++)
		if ((err = evf_config_add_resolve(cfg, resolves[i])) != 0)
			api_failed("evf_config_add_resolve", err);
	if (out.api_failed) {
		evf_config_free(cfg);
		return;
	}
	client = evf_client_new(base, cfg, &err);
	evf_config_free(cfg);
	if (!client) {
		api_failed("evf_client_new", err);
		return;
	}
	if (start_transfer(0, "evf_fetch") == 0) {
		for (int waited = 0; !all_done() && waited < WAIT_MS; waited += 10) {
			struct timeval tv = {0, 10000};
			event_base_loopexit(base, &tv);
			event_base_dispatch(base);
		}
		out.timed_out = !all_done();
		/* a little more loop: a second on_done would show here */
		struct timeval tv = {0, 20000};
		event_base_loopexit(base, &tv);
		event_base_dispatch(base);
	}
	evf_client_free(client);
	client = NULL;
}

/* Run the sequence with allocation n failing (0: none); returns a
 * description of what went wrong, or NULL. */
static const char *check_one(const char *ca, const char *url, long n, long *count)
{
	static char why[256];
	base = event_base_new();
	nallocs = 0;
	fail_at = n;
	failed_one = 0;
	nlive = 0;
	memset(live, 0, sizeof live);
	tracking = 1;
	sequence(ca, url);
	tracking = 0;
	event_base_free(base);
	*count = nallocs;

	if (out.api_failed && out.api_err != EVF_ERR_NOMEM)
		snprintf(why, sizeof why, "%s failed with %s, not nomem", out.api_failed,
		         evf_error_name(out.api_err));
	else if (out.timed_out)
		snprintf(why, sizeof why, "no on_done within %d ms", WAIT_MS);
	else if (out.dones[0] > 1 || out.dones[1] > 1 ||
	         out.dones[0] + out.dones[1] != out.started)
		snprintf(why, sizeof why, "%d transfers started, on_done ran %d + %d times",
		         out.started, out.dones[0], out.dones[1]);
	else if (out.detail_missing)
		snprintf(why, sizeof why, "a failed transfer (%s) without a detail",
		         evf_error_name(out.error));
	else if (nlive != 0)
		snprintf(why, sizeof why, "%ld allocations of the library leaked", nlive);
	else
		return NULL;
	return why;
}

/* Runs where a failed transfer's on_done had no detail (all from N). */

/* The verdict for allocation n, from a child process so that a crash or a
 * hang is a failed test point rather than the end of the test. */
static void run_child(const char *ca, const char *url, const char *label, long n)
{
	int fds[2];
	fflush(stdout);
	if (pipe(fds) != 0) {
		printf("Bail out! pipe failed\n");
		exit(1);
	}
	pid_t pid = fork();
	if (pid == 0) {
		close(fds[0]);
		alarm(WAIT_MS / 1000 + 20);
		long count = 0;
		const char *why = check_one(ca, url, n, &count);
		char msg[320];
		int len;
		if (why)
			len = snprintf(msg, sizeof msg, "%s", why);
		else if (!failed_one)
			len = snprintf(msg, sizeof msg, "not reached: nothing failed");
		else
			len = snprintf(msg, sizeof msg, "%s%s%s, %d transfer(s) ended once",
			               out.api_failed ? out.api_failed : "",
			               out.api_failed ? " said nomem" : "first error ",
			               out.api_failed ? "" : evf_error_name(out.error),
			               out.started);
		if (write(fds[1], msg, (size_t)len) < 0)
			_exit(3);
		_exit(why ? 1 : 0);
	}
	close(fds[1]);
	char msg[320] = "";
	ssize_t got = read(fds[0], msg, sizeof msg - 1);
	msg[got > 0 ? got : 0] = '\0';
	close(fds[0]);
	int status = 0;
	waitpid(pid, &status, 0);
	if (WIFSIGNALED(status)) {
		ok(0, "%s: N = %ld: crashed with signal %d", label, n,
		   WTERMSIG(status));
		return;
	}
	int code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
	ok(code == 0, "%s: N = %ld: %s", label, n, msg);
}

int main(int argc, char **argv)
{
	if (argc < 3) {
		fprintf(stderr, "usage: %s CA_FILE [--resolve HOST:PORT:ADDR]... URL...\n",
		        argv[0]);
		return 2;
	}
	signal(SIGPIPE, SIG_IGN);
	const char *ca = argv[1];
	int u = 2;
	for (; u + 1 < argc && strcmp(argv[u], "--resolve") == 0; u += 2)
		if (nresolves < MAX_RESOLVES)
			resolves[nresolves++] = argv[u + 1];
	for (int first = u; u < argc; u++) {
		const char *url = argv[u];
		char label[16];
		snprintf(label, sizeof label, "url %d", u - first + 1);
		long count = 0;
		const char *why = check_one(ca, url, 0, &count);
		diag("%s is %s", label, url);
		if (!ok(!why && out.started == 2 && out.error == EVF_OK && out.status == 200,
		        "%s: without failures both transfers succeed (%ld allocations)",
		        label, count)) {
			diag("%s; on_done error %s, status %d", why ? why : "",
			     evf_error_name(out.error), out.status);
			continue;
		}
		/* allocation n alone fails; then n and every later one, so that
		 * the paths that handle a failure are themselves tried short of
		 * memory */
		for (fail_rest = 0; fail_rest <= 1; fail_rest++) {
			char mode[40];
			snprintf(mode, sizeof mode, "%s, %s", label,
			         fail_rest ? "all from N" : "only N");
			for (long n = 1; n <= count; n++)
				run_child(ca, url, mode, n);
		}
		fail_rest = 0;
		/* one past the end: nothing fails, and the sequence still works */
		run_child(ca, url, label, count + 1);
	}
	return done_testing();
}
