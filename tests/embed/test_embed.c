/*
 * test_embed.c - the library inside a caller's own event loop.
 *
 * A repeating 10 ms timer stands for the caller's other work: it must never
 * be late by more than 100 ms while N transfers run.  Every transfer's
 * on_done must fire exactly once, never inside evf_fetch; cancelled
 * transfers must never call back; freeing the client with transfers in
 * flight must be quiet and leak-free.  The counters: a transfer holds one
 * of the max_transfers slots from evf_fetch on when one is free, so
 * evf_client_queued is nonzero only while evf_client_active is at the
 * limit, also right after evf_fetch and inside on_done.
 *
 * usage: test_embed URL_PREFIX CA_FILE N   (URL_PREFIX + index is fetched)
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <event2/event.h>

#include "evfetch.h"

#define MAX_TRANSFERS 50

static int tests, failures;

static void ok(int cond, const char *name)
{
	tests++;
	if (!cond)
		failures++;
	printf("%sok %d - %s\n", cond ? "" : "not ", tests, name);
}

static double now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

struct run {
	struct event_base *base;
	evf_client *client;
	int n;
	int *done_count;
	int nsucceeded, ndone, inside_fetch, done_inside_fetch;
	int cancelled_called_back;
	int timings_out_of_order, nqueued;
	uint64_t max_queued_us;
	int tls_info_wrong, nreused_tls;  /* tls_cipher and cert_not_after */
	int64_t not_after;
	int counters_wrong;        /* on_done saw queued > 0 below the limit */
	unsigned active_max, queued_seen;
	double last_tick, max_late;
	struct event *tick;
	int ticks;
};

struct item {
	struct run *run;
	int index;
	int cancelled;
};

static void on_tick(evutil_socket_t fd, short what, void *arg)
{
	struct run *r = arg;
	double t = now_ms();
	double late = t - r->last_tick - 10.0;
	if (late > r->max_late)
		r->max_late = late;
	r->last_tick = t;
	r->ticks++;
}

static void on_done(evf_transfer *t, const evf_result *res, void *arg)
{
	struct item *it = arg;
	struct run *r = it->run;
	if (it->cancelled)
		r->cancelled_called_back++;
	if (r->inside_fetch)
		r->done_inside_fetch++;
	r->done_count[it->index]++;
	r->ndone++;
	if (r->client) {
		unsigned a = evf_client_active(r->client), q = evf_client_queued(r->client);
		if (a > r->active_max)
			r->active_max = a;
		if (q)
			r->queued_seen++;
		if (a > MAX_TRANSFERS || (q > 0 && a != MAX_TRANSFERS) ||
		    (int)(a + q) > r->n - r->ndone) {
			if (!r->counters_wrong)
				printf("# in on_done #%d: active %u, queued %u\n", r->ndone, a, q);
			r->counters_wrong++;
		}
	}
	if (res->error == EVF_OK && res->status == 200) {
		r->nsucceeded++;
		/* each phase of the attempt after the one before it, all within
		 * the total; a kept-alive connection skips dns, connect, tls */
		const evf_timings *tm = &res->timings;
		uint64_t last = 0;
		uint64_t phases[] = {tm->dns_us, tm->connect_us, tm->tls_us, tm->first_byte_us};
		for (size_t i = 0; i < sizeof phases / sizeof *phases; i++) {
			if (phases[i] && phases[i] < last)
				r->timings_out_of_order++;
			if (phases[i])
				last = phases[i];
		}
		if (!tm->first_byte_us || tm->first_byte_us > tm->total_us)
			r->timings_out_of_order++;
		/* the test certificate is valid for 30 days from its making;
		 * a kept-alive connection reports its handshake's cipher and
		 * certificate as well */
		int64_t now = (int64_t)time(NULL);
		if (!res->tls_cipher || !res->tls_cipher[0] ||
		    strcmp(res->tls_cipher, "(NONE)") == 0 ||
		    res->cert_not_after < now + 29 * 86400 ||
		    res->cert_not_after > now + 31 * 86400 ||
		    (r->not_after && res->cert_not_after != r->not_after)) {
			if (!r->tls_info_wrong)
				printf("# %s: tls_cipher %s, cert_not_after %lld\n", res->url,
				       res->tls_cipher ? res->tls_cipher : "NULL",
				       (long long)res->cert_not_after);
			r->tls_info_wrong++;
		}
		r->not_after = res->cert_not_after;
		if (res->reused)
			r->nreused_tls++;
		if (res->queued_us > 0)
			r->nqueued++;
		if (res->queued_us > r->max_queued_us)
			r->max_queued_us = res->queued_us;
	} else if (r->nsucceeded + 5 > r->ndone)
		fprintf(stderr, "# %s: %s (%s)\n", res->url, evf_error_name(res->error),
		        res->detail ? res->detail : "");
	if (r->ndone == r->n) {
		evf_client_free(r->client);   /* from inside a callback */
		r->client = NULL;
		event_del(r->tick);
	}
}

int main(int argc, char **argv)
{
	if (argc != 4) {
		fprintf(stderr, "usage: %s URL_PREFIX CA_FILE N\n", argv[0]);
		return 2;
	}
	const char *prefix = argv[1], *ca = argv[2];
	int n = atoi(argv[3]);
	int ncancel = n / 10;
	struct run r = {0};
	r.base = event_base_new();
	evf_config *cfg = evf_config_new();
	evf_config_set_ca_file(cfg, ca);
	evf_config_set_max_transfers(cfg, MAX_TRANSFERS);
	int err = 0;
	r.client = evf_client_new(r.base, cfg, &err);
	evf_config_free(cfg);
	ok(r.client != NULL, "client created on the caller's event_base");
	if (!r.client) {
		printf("1..%d\n", tests);
		return 1;
	}
	r.n = n;
	r.done_count = calloc((size_t)(n + ncancel), sizeof *r.done_count);
	struct item *items = calloc((size_t)(n + ncancel), sizeof *items);
	evf_transfer **handles = calloc((size_t)(n + ncancel), sizeof *handles);
	r.tick = event_new(r.base, -1, EV_PERSIST, on_tick, &r);
	struct timeval ten = {0, 10000};
	event_add(r.tick, &ten);

	evf_callbacks cb = {.on_done = on_done};
	char url[1024];
	int started = 0;
	for (int i = 0; i < n + ncancel; i++) {
		snprintf(url, sizeof url, "%s%d", prefix, i);
		items[i].run = &r;
		items[i].index = i;
		evf_request req = {.url = url, .method = EVF_GET};
		r.inside_fetch = 1;
		handles[i] = evf_fetch(r.client, &req, &cb, &items[i], &err);
		r.inside_fetch = 0;
		started += handles[i] != NULL;
	}
	ok(started == n + ncancel, "every evf_fetch returned a handle");
	unsigned want_active = started < MAX_TRANSFERS ? (unsigned)started : MAX_TRANSFERS;
	unsigned a = evf_client_active(r.client), q = evf_client_queued(r.client);
	printf("# after %d evf_fetch calls: active %u, queued %u\n", started, a, q);
	ok(a == want_active && q == (unsigned)started - want_active,
	   "right after evf_fetch, transfers up to max_transfers are active, the rest queued");
	/* the extra ones are cancelled before the loop runs: no callback */
	for (int i = n; i < n + ncancel; i++) {
		items[i].cancelled = 1;
		evf_transfer_cancel(handles[i]);
	}
	want_active = n < MAX_TRANSFERS ? (unsigned)n : MAX_TRANSFERS;
	ok(evf_client_active(r.client) == want_active &&
	   evf_client_queued(r.client) == (unsigned)n - want_active,
	   "cancelling queued transfers leaves the active ones");
	/* cancelling an active one hands its slot to the next queued one */
	if (n > MAX_TRANSFERS) {
		items[0].cancelled = 1;
		evf_transfer_cancel(handles[0]);
		r.done_count[0] = 1;   /* it will not call back: count it as done */
		r.ndone++;
		ok(evf_client_active(r.client) == MAX_TRANSFERS &&
		   evf_client_queued(r.client) == (unsigned)n - MAX_TRANSFERS - 1,
		   "cancelling an active transfer gives its slot to a queued one at once");
	}
	double t0 = now_ms();
	r.last_tick = t0;
	event_base_dispatch(r.base);
	double end = now_ms(), elapsed = end - t0;
	/* the loop ended as the last transfer did: count the final gap too */
	if (end - r.last_tick - 10.0 > r.max_late)
		r.max_late = end - r.last_tick - 10.0;

	int once = 1;
	for (int i = 0; i < n; i++)
		if (r.done_count[i] != 1)
			once = 0;
	ok(once, "every transfer's on_done fired exactly once");
	ok(r.nsucceeded == (n > MAX_TRANSFERS ? n - 1 : n),
	   "every transfer not cancelled succeeded with status 200");
	ok(r.done_inside_fetch == 0, "on_done never fired inside evf_fetch");
	ok(r.cancelled_called_back == 0, "cancelled transfers never called back");
	ok(r.max_late < 100.0, "the caller's 10 ms timer was never late by 100 ms");
	ok(r.timings_out_of_order == 0, "timings: phases in order, first byte within the total");
	ok(r.tls_info_wrong == 0 && r.nreused_tls > 0,
	   "tls_cipher and cert_not_after on every transfer, kept-alive ones too");
	ok(n <= 100 || r.max_queued_us >= 1000,
	   "timings: with more transfers than slots, some waited in the queue (queued_us)");
	ok(r.counters_wrong == 0 && r.active_max == MAX_TRANSFERS && r.queued_seen > 0,
	   "in every on_done: queued only while max_transfers are active, never more");
	printf("# %d transfers in %.1f ms, %d timer ticks, max lateness %.2f ms, "
	       "%d queued (at most %.1f ms)\n", n, elapsed, r.ticks, r.max_late, r.nqueued,
	       r.max_queued_us / 1e3);

	/* free a client with transfers in flight: no callback may follow */
	struct run r2 = {0};
	r2.base = r.base;
	r2.n = 1000000;   /* never reached */
	r2.done_count = calloc(20, sizeof *r2.done_count);
	cfg = evf_config_new();
	evf_config_set_ca_file(cfg, ca);
	r2.client = evf_client_new(r.base, cfg, &err);
	evf_config_free(cfg);
	struct item items2[20];
	for (int i = 0; i < 20; i++) {
		snprintf(url, sizeof url, "%s%d", prefix, i);
		items2[i] = (struct item){&r2, i, 0};
		evf_request req = {.url = url};
		evf_fetch(r2.client, &req, &cb, &items2[i], &err);
	}
	/* run the loop a little so that connections are opening */
	struct timeval short_tv = {0, 20000};
	event_base_loopexit(r.base, &short_tv);
	event_base_dispatch(r.base);
	int before = r2.ndone;
	evf_client_free(r2.client);
	event_base_loopexit(r.base, &short_tv);
	event_base_dispatch(r.base);
	ok(r2.ndone == before, "no callback after evf_client_free");

	event_free(r.tick);
	event_base_free(r.base);
	free(r.done_count);
	free(r2.done_count);
	free(items);
	free(handles);
	printf("1..%d\n", tests);
	return failures ? 1 : 0;
}
