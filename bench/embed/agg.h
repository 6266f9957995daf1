/*
 * agg.h - the aggregator of bench/embed: an evhttp server that answers
 * GET /agg?n=K by fetching K upstream URLs at once on its own event_base
 * and replying when the last one is done (504 after the deadline, which
 * cancels what is left).
 *
 * agg_server.c is the server: evhttp, the request's state, its deadline,
 * the watch for clients that hang up, the reply, /stats.  A backend does
 * the fetching: agg_evfetch.c on libevfetch, agg_curl.c on libcurl's multi
 * interface.  The two are the same server but for the backend, so the
 * benchmark (bench/embed/run.sh) compares the fetching alone.
 */
#ifndef AGG_H
#define AGG_H

#include <stdint.h>

struct event_base;

/* Settings from the command line, for the backend. */
struct agg_options {
	const char *cacert;       /* trust anchors (PEM) */
	unsigned max_transfers;   /* transfers in flight, across requests */
	unsigned deadline_ms;     /* per /agg request */
};

/* One upstream URL of one /agg request. */
struct agg_item {
	struct agg *agg;
	void *handle;             /* the backend's, NULL when not running */
	int done;
};

struct backend;

/* The backend's name, for /stats and the logs ("evfetch", "libcurl"). */
extern const char *const backend_name;

struct backend *backend_new(struct event_base *base, const struct agg_options *opt);
void backend_free(struct backend *b);
/*
 * Start fetching url for it; 0, or -1 when it could not start.  The
 * backend calls agg_item_done exactly once for a started item, from the
 * loop (never inside backend_start), unless backend_cancel comes first.
 */
int backend_start(struct backend *b, struct agg_item *it, const char *url);
/* Stop a started item that is not done; no agg_item_done follows. */
void backend_cancel(struct backend *b, struct agg_item *it);
/* Transfers running and waiting inside the backend, for /stats. */
void backend_counts(struct backend *b, unsigned *active, unsigned *queued);

/* From the backend: its fetch ended; ok when status 200 arrived whole. */
void agg_item_done(struct agg_item *it, int ok, uint64_t bytes);

#endif /* AGG_H */
