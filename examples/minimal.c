/*
 * minimal.c - the smallest complete program on libevfetch: fetch the URLs
 * given on the command line on the program's own event_base and print one
 * line per URL.  Exit status 0 when every URL was fetched.
 *
 * usage: minimal [--cacert FILE] URL...
 * build: cc minimal.c $(pkg-config --cflags --libs evfetch)
 */
#include <stdio.h>
#include <string.h>

#include <event2/event.h>
#include <evfetch.h>

struct state {
	struct event_base *base;
	int left;     /* transfers still running */
	int failed;
};

static int on_body(evf_transfer *t, const void *data, size_t len, void *arg)
{
	return 0;   /* a real program would store the bytes; 0 means go on */
}

static void on_done(evf_transfer *t, const evf_result *res, void *arg)
{
	struct state *st = arg;
	if (res->error == EVF_OK)
		printf("%s: HTTP %d, %llu bytes\n", res->url, res->status,
		       (unsigned long long)res->bytes);
	else
		printf("%s: %s: %s\n", res->url, evf_error_name(res->error), res->detail);
	st->failed += res->error != EVF_OK;
	/* idle keep-alive connections would keep the loop running */
	if (--st->left == 0)
		event_base_loopexit(st->base, NULL);
}

int main(int argc, char **argv)
{
	int first = 1, err = 0;
	struct event_base *base = event_base_new();
	struct state st = {base, 0, 0};
	evf_config *cfg = evf_config_new();
	if (!base || !cfg)
		return 2;
	if (argc > 2 && strcmp(argv[1], "--cacert") == 0) {
		evf_config_set_ca_file(cfg, argv[2]);
		first = 3;
	}
	char why[256];
	evf_client *client = evf_client_new2(base, cfg, &err, why, sizeof why);
	evf_config_free(cfg);   /* the client keeps a copy */
	if (!client) {
		fprintf(stderr, "evf_client_new2: %s\n", why);
		return 2;
	}
	evf_callbacks cb = {.on_body = on_body, .on_done = on_done};
	for (int i = first; i < argc; i++) {
		evf_request req = {.url = argv[i], .method = EVF_GET};
		if (evf_fetch(client, &req, &cb, &st, &err))
			st.left++;
		else
			fprintf(stderr, "%s: %s\n", argv[i], evf_strerror(err));
	}
	if (st.left > 0)
		event_base_dispatch(base);   /* until the last on_done */
	evf_client_free(client);
	event_base_free(base);
	return st.failed || st.left ? 1 : 0;
}
