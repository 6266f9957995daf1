/*
 * fuzz_h2.c - libFuzzer target for the HTTP/2 client (src/lib/h2.c on
 * nghttp2): the input is what a server sends on one connection.
 *
 * A client gets one HTTP/2 connection on one end of a socketpair, already
 * up, and three transfers on it (one HEAD, one with decoding), through the
 * library's own scheduler.  The input is then fed to the connection's
 * protocol in pieces (the first byte of each piece gives its length), as
 * io_cb would feed it, then the server's EOF.  The transfers pause and
 * resume as bytes reach them.  Checked:
 *
 *   - no transfer gets two on_done calls, and none after it was freed;
 *   - on_body never sees more bytes than max_body allows, nor bytes
 *     between a pause and the next resume beyond what was already read;
 *   - ASan and UBSan see nothing, and every connection, stream and
 *     transfer is freed by evf_client_free (LeakSanitizer).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <fcntl.h>
#include <sys/socket.h>

#include <event2/event.h>

#include "internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(cond)                                                            \
	do {                                                                   \
		if (!(cond)) {                                                 \
			fprintf(stderr, "fuzz_h2: check failed at line %d: %s\n", \
			        __LINE__, #cond);                              \
			abort();                                               \
		}                                                              \
	} while (0)

#define NXFER 3
#define MAX_BODY 100000

struct xfer {
	evf_transfer *t;
	int done;
	int paused;
	uint64_t bytes;
};

static struct xfer xs[NXFER];
static unsigned pause_bits;

static int on_head(evf_transfer *t, const evf_response *r, void *arg)
{
	struct xfer *x = arg;
	CHECK(!x->done);
	CHECK(r->status >= 200 && r->status <= 999);
	return 0;
}

static int on_body(evf_transfer *t, const void *d, size_t n, void *arg)
{
	struct xfer *x = arg;
	CHECK(!x->done);
	x->bytes += n;
	CHECK(x->bytes <= MAX_BODY);
	/* pause now and then, as the input says */
	if (pause_bits & 1) {
		evf_transfer_pause(t);
		x->paused = 1;
	}
	pause_bits = (pause_bits >> 1) | ((pause_bits & 1) << 15);
	return 0;
}

static void on_done(evf_transfer *t, const evf_result *res, void *arg)
{
	struct xfer *x = arg;
	CHECK(!x->done);
	x->done = 1;
	x->t = NULL;
	if (res->error == EVF_OK)
		CHECK(res->status >= 200);
}

static void drain(int fd)
{
	char buf[65536];
	while (read(fd, buf, sizeof buf) > 0)
		;
}

static void turn(struct event_base *base, int fd)
{
	for (int i = 0; i < 4; i++) {
		drain(fd);
		event_base_loop(base, EVLOOP_NONBLOCK);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 2)
		return 0;
	int sv[2];
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv) != 0)
		return 0;
	struct event_config *ec = event_config_new();
	event_config_avoid_method(ec, "epoll");   /* poll: fewer fds to leak into */
	struct event_base *base = event_base_new_with_config(ec);
	event_config_free(ec);
	evf_config *cfg = evf_config_new();
	evf_config_set_insecure(cfg, 1);   /* no trust store to load: no handshake is made */
	evf_config_set_decode(cfg, 1);
	evf_config_set_max_body(cfg, MAX_BODY);
	evf_config_set_max_header_bytes(cfg, 4096);
	evf_config_set_max_headers(cfg, 20);
	evf_config_set_connect_timeout(cfg, 0);
	evf_config_set_idle_timeout(cfg, 0);
	evf_config_add_resolve(cfg, "fuzz.test:443:127.0.0.1");
	evf_client *c = evf_client_new(base, cfg, NULL);
	evf_config_free(cfg);
	CHECK(c != NULL);
	pause_bits = data[0] | (unsigned)data[1] << 8;
	data += 2;
	size -= 2;

	/* the connection: up, speaking HTTP/2, shared on its host */
	struct evf_url u;
	const char *why;
	CHECK(evf_url_parse(&u, "https://fuzz.test/", &why) == 0);
	struct host *h = pool_host(c, &u, NULL);
	evf_url_clear(&u);
	CHECK(h != NULL);
	struct conn *cn = calloc(1, sizeof *cn);
	CHECK(cn != NULL);
	cn->client = c;
	cn->host = h;
	cn->fd = dup(sv[0]);   /* the connection closes its own */
	cn->top = &evf_tcp_layer;
	cn->up = 1;
	conn_set_state(cn, CS_BUSY);
	h->nconns++;
	h->proto = 2;
	CHECK(h2_session_new(cn) == 0);
	cn->proto = &evf_h2_proto;
	cn->read_on = EV_READ;
	pool_share(cn);
	/* held: closing it (a GOAWAY, the scheduler dropping an idle one
	 * the server went away from) leaves the free to us */
	cn->in_io = 1;

	static const char *const urls[NXFER] = {"https://fuzz.test/a", "https://fuzz.test/b",
	                                        "https://fuzz.test/c"};
	evf_callbacks cb = {on_head, on_body, on_done};
	memset(xs, 0, sizeof xs);
	for (int i = 0; i < NXFER; i++) {
		evf_request req = {.url = urls[i], .method = i == 1 ? EVF_HEAD : EVF_GET};
		xs[i].t = evf_fetch(c, &req, &cb, &xs[i], NULL);
		CHECK(xs[i].t != NULL);
	}
	turn(base, sv[1]);   /* the scheduler hands them to the connection */

	int alive = 1;
	size_t off = 0;
	while (alive && off < size) {
		size_t n = data[off++];
		if (n == 0)
			n = 256;
		if (n > size - off)
			n = size - off;
		alive = conn_input(cn, (const char *)data + off, n) == 0;
		off += n;
		turn(base, sv[1]);
		if (alive && cn->state == CS_CLOSED)
			alive = 0;
		if (!alive) {
			cn->in_io = 0;
			conn_input(cn, NULL, 0);   /* frees it */
		}
		for (int i = 0; i < NXFER; i++) {
			if (xs[i].t && xs[i].paused) {
				xs[i].paused = 0;
				evf_transfer_resume(xs[i].t);
			}
		}
		turn(base, sv[1]);
	}
	if (alive && conn_input(cn, NULL, 0) == 0 && cn->state != CS_CLOSED) {
		cn->in_io = 0;   /* still open: evf_client_free closes it */
	} else if (alive) {
		cn->in_io = 0;
		conn_input(cn, NULL, 0);
	}
	turn(base, sv[1]);
	evf_client_free(c);
	event_base_free(base);
	close(sv[0]);
	close(sv[1]);
	return 0;
}
