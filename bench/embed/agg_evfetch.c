/*
 * agg_evfetch.c - the aggregator's fetching on libevfetch (see agg.h).
 *
 * One evf_client on the server's event_base serves every request: its
 * keep-alive pool, TLS sessions and verified chains are shared by all.
 * on_done never runs inside evf_fetch, so agg_server.c may start all of a
 * request's items before the first one reports.
 *
 * build: cc agg_server.c agg_evfetch.c $(pkg-config --cflags --libs evfetch)
 */
#include <stdlib.h>

#include <event2/event.h>
#include <evfetch.h>

#include "agg.h"

const char *const backend_name = "evfetch";

struct backend {
	evf_client *client;
};

static void on_done(evf_transfer *t, const evf_result *res, void *arg)
{
	agg_item_done(arg, res->error == EVF_OK && res->status == 200, res->bytes);
}

struct backend *backend_new(struct event_base *base, const struct agg_options *opt)
{
	struct backend *b = calloc(1, sizeof *b);
	evf_config *cfg = evf_config_new();
	int err = 0;
	/* a server's load, not a batch's: all the transfers its requests need
	 * at once (the default of 50 would queue most of them) */
	if (b && cfg && evf_config_set_max_transfers(cfg, opt->max_transfers) == 0 &&
	    (!opt->cacert || evf_config_set_ca_file(cfg, opt->cacert) == 0))
		b->client = evf_client_new(base, cfg, &err);
	evf_config_free(cfg);
	if (!b || !b->client) {
		free(b);
		return NULL;
	}
	return b;
}

void backend_free(struct backend *b)
{
	evf_client_free(b->client);
	free(b);
}

int backend_start(struct backend *b, struct agg_item *it, const char *url)
{
	static const evf_callbacks cb = {.on_done = on_done};
	evf_request req = {.url = url, .method = EVF_GET};
	it->handle = evf_fetch(b->client, &req, &cb, it, NULL);
	return it->handle ? 0 : -1;
}

void backend_cancel(struct backend *b, struct agg_item *it)
{
	evf_transfer_cancel(it->handle);
	it->handle = NULL;
}

void backend_counts(struct backend *b, unsigned *active, unsigned *queued)
{
	*active = evf_client_active(b->client);
	*queued = evf_client_queued(b->client);
}
