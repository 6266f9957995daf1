/*
 * test_cert.c - client certificates per transfer
 * (evf_transfer_set_client_cert), against nginx with ssl_verify_client on
 * (tests/integration/mtls.sh starts it): its /whoami names the
 * certificate's subject, and answers 400 without one.
 *
 *   - transfers with and without a certificate on one client, keep-alive
 *     on: each gets its own connections, so one without never rides on
 *     one made with a certificate, and one with reuses its own;
 *   - two certificates on one client: each seen as itself;
 *   - a missing file, and an encrypted key with a wrong passphrase: that
 *     transfer alone fails, EVF_ERR_TLS, with the reason.
 *
 * usage: test_cert URL CA CERT KEY OTHER_CERT OTHER_KEY ENC_KEY PASS
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>

#include "evfetch.h"
#include "tap.h"

static struct event_base *base;
static evf_client *client;

struct res {
	int done, error, status, reused;
	char body[256];
	char detail[512];
};

static int on_body(evf_transfer *t, const void *d, size_t n, void *arg)
{
	struct res *r = arg;
	size_t have = strlen(r->body), room = sizeof r->body - 1 - have;
	memcpy(r->body + have, d, n < room ? n : room);
	r->body[have + (n < room ? n : room)] = '\0';
	return 0;
}

static void on_done(evf_transfer *t, const evf_result *res, void *arg)
{
	struct res *r = arg;
	r->done++;
	r->error = res->error;
	r->status = res->status;
	r->reused = res->reused;
	snprintf(r->detail, sizeof r->detail, "%s", res->detail ? res->detail : "");
}

static void stop_cb(evutil_socket_t fd, short what, void *arg)
{
	struct res *r = arg;
	if (r->done)
		event_base_loopbreak(base);
}

/* One transfer, with a certificate when cert is not NULL, run to its end. */
static void fetch(struct res *r, const char *url, const char *cert, const char *key,
                  const char *pass)
{
	memset(r, 0, sizeof *r);
	int err = 0;
	evf_transfer *t = evf_transfer_new(client, url, r, &err);
	if (cert)
		evf_transfer_set_client_cert(t, cert, key, pass);
	evf_transfer_on_body(t, on_body);
	evf_transfer_on_done(t, on_done);
	evf_transfer_start(t);
	/* keep-alive is on: the loop would wait for the idle connections */
	struct event *ev = event_new(base, -1, EV_PERSIST, stop_cb, r);
	struct timeval tv = {0, 5000};
	event_add(ev, &tv);
	event_base_dispatch(base);
	event_free(ev);
}

int main(int argc, char **argv)
{
	if (argc != 9) {
		fprintf(stderr, "usage: test_cert URL CA CERT KEY OTHER_CERT OTHER_KEY ENC_KEY PASS\n");
		return 2;
	}
	const char *url = argv[1], *cert = argv[3], *key = argv[4], *other = argv[5],
	           *okey = argv[6], *enc = argv[7], *pass = argv[8];
	base = event_base_new();
	evf_config *cfg = evf_config_new();
	evf_config_set_ca_file(cfg, argv[2]);
	evf_config_set_http_version(cfg, EVF_HTTP_1_1);
	client = evf_client_new(base, cfg, NULL);
	evf_config_free(cfg);
	struct res r;

	fetch(&r, url, cert, key, NULL);
	is_int(r.status, 200, "with a certificate: 200 (%s)", r.detail);
	ok(strncmp(r.body, "CN=alice", 8) == 0, "...seen as alice (%s)", r.body);
	fetch(&r, url, NULL, NULL, NULL);
	is_int(r.status, 400, "then without one on the same client: 400, not alice's connection");
	is_int(r.reused, 0, "...on a connection of its own");
	fetch(&r, url, cert, key, NULL);
	ok(r.status == 200 && r.reused == 1, "alice again: her kept-alive connection (%d, reused %d)",
	   r.status, r.reused);
	fetch(&r, url, other, okey, NULL);
	is_int(r.status, 400, "a certificate of another CA: 400 from nginx");
	ok(strstr(r.body, "certificate") != NULL, "...saying the certificate is wrong");
	fetch(&r, url, cert, enc, pass);
	ok(r.status == 200 && strncmp(r.body, "CN=alice", 8) == 0,
	   "an encrypted key with its passphrase: alice (%d %s)", r.status, r.detail);
	fetch(&r, url, cert, enc, "wrong passphrase");
	is_int(r.error, EVF_ERR_TLS, "a wrong passphrase: EVF_ERR_TLS");
	ok(strstr(r.detail, "passphrase") != NULL, "...saying so (%s)", r.detail);
	ok(strstr(r.detail, "wrong passphrase") == NULL || strstr(r.detail, pass) == NULL,
	   "...without the passphrase itself");
	fetch(&r, url, "/nonexistent/cert.pem", NULL, NULL);
	is_int(r.error, EVF_ERR_TLS, "a missing certificate file: EVF_ERR_TLS");
	ok(strstr(r.detail, "/nonexistent/cert.pem") != NULL, "...naming it (%s)", r.detail);
	fetch(&r, url, cert, key, NULL);
	is_int(r.status, 200, "the client still serves alice afterwards");

	int err = 0;
	evf_transfer *t = evf_transfer_new(client, url, &r, &err);
	ok(evf_transfer_set_client_cert(t, NULL, NULL, NULL) == EVF_ERR_INVALID, "no file: invalid");
	ok(evf_transfer_set_client_cert(t, "", NULL, NULL) == EVF_ERR_INVALID, "an empty name: invalid");
	evf_transfer_cancel(t);
	evf_client_free(client);
	event_base_free(base);
	return done_testing();
}
