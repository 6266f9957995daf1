/*
 * io.c - the connection state machine and the one place that arms libevent
 * events for a connection.
 *
 * A connection has one pending operation (connect, handshake, write, read,
 * idle watch) and one event.  When a transport call cannot finish it says
 * which direction it waits for; conn_arm() points the event there, and the
 * callback resumes exactly the same operation.  Reads loop until the
 * transport would block, so bytes already decrypted inside OpenSSL are
 * consumed before the loop waits on the socket again.
 */
#include <assert.h>
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/dns.h>

#include "internal.h"

#define READS_PER_WAKEUP 8
#define TICKET_WAIT_MIN_MS 250

static void io_cb(evutil_socket_t fd, short what, void *arg);
static void handshake_over(struct conn *cn);
static void do_handshake(struct conn *cn);
static void connect_result(struct conn *cn, int r);
static void producer_done(struct conn *cn, int ok);
static void do_write(struct conn *cn);

void conn_set_state_(struct conn *cn, enum conn_state st, int line)
{
	assert(cn->state != CS_CLOSED);
#ifdef EVF_TRACE
	static const char *const names[] = {"resolving", "hs_wait", "connecting",
	                                    "handshaking", "busy", "idle", "closed"};
	fprintf(stderr, "evfetch: conn %p %s -> %s (io.c:%d)\n", (void *)cn,
	        names[cn->state], names[st], line);
#else
	(void)line;
#endif
	cn->state = st;
}

void conn_set_why(struct conn *cn, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(cn->client->why, sizeof cn->client->why, fmt, ap);
	va_end(ap);
}

/*
 * event_add failed (epoll_ctl: out of memory, or the watch limit): fail the
 * connection from the loop, through io_cb, as any other I/O error, rather
 * than leave it waiting for an event that never comes.
 */
static void arm_failed(struct conn *cn)
{
	cn->last_errno = errno;
	if (cn->armed)
		event_del(&cn->ev);
	cn->armed = 0;
	cn->op = OP_ARM_FAILED;
	event_active(&cn->ev, EV_READ, 1);
}

/*
 * The timeout that goes with waiting for op, if any: the idle life of a
 * pooled connection; how long a connect may hold a handshake slot; how long
 * the first read after a TLS 1.3 handshake may take before the host's
 * gate stops waiting for this connection's tickets.
 */
static const struct timeval *op_timeout(struct conn *cn, enum conn_op op, struct timeval *tv)
{
	struct evf_client *c = cn->client;
	if (op == OP_IDLE)
		return c->idle_tv;
	if (op == OP_CONNECT && cn->slot)
		return c->slow_connect_tv;
	if (op == OP_READ && cn->producer) {
		/* tickets follow the handshake within about a round trip:
		 * allow three handshakes' time, at least TICKET_WAIT_MIN_MS */
		uint64_t us = 1000u * TICKET_WAIT_MIN_MS;
		if (cn->xfer && cn->xfer->timings.tls_us > cn->xfer->timings.connect_us &&
		    3 * (cn->xfer->timings.tls_us - cn->xfer->timings.connect_us) > us)
			us = 3 * (cn->xfer->timings.tls_us - cn->xfer->timings.connect_us);
		tv->tv_sec = (time_t)(us / 1000000u);
		tv->tv_usec = (suseconds_t)(us % 1000000u);
		return tv;
	}
	return NULL;
}

void conn_arm(struct conn *cn, enum conn_op op, int want)
{
	short need = want == IO_WANT_READ ? EV_READ : want == IO_WANT_WRITE ? EV_WRITE : 0;
	struct timeval tvbuf;
	if (cn->op == OP_ARM_FAILED)
		return;   /* io_cb fails the connection */
	cn->op = op;
	const struct timeval *tv = need ? op_timeout(cn, op, &tvbuf) : NULL;
	if (need == cn->armed) {
		/* the usual cycle (read the response, park, write the next
		 * request, read) stays on EV_READ and costs no epoll_ctl; a
		 * timeout left over from an earlier wait is dropped by io_cb */
		if (tv && event_add(&cn->ev, tv) != 0)
			arm_failed(cn);
		return;
	}
	if (cn->armed)
		event_del(&cn->ev);
	cn->armed = 0;
	if (!need)
		return;
	event_assign(&cn->ev, cn->client->base, cn->fd, need | EV_PERSIST, io_cb, cn);
	if (event_add(&cn->ev, tv) != 0) {
		arm_failed(cn);
		return;
	}
	cn->armed = need;
}

void conn_close(struct conn *cn)
{
	struct evf_client *c = cn->client;
	struct host *h = cn->host;
	if (cn->state == CS_IDLE)
		pool_remove_idle(cn);
	else if (cn->state == CS_HS_WAIT)
		TAILQ_REMOVE(cn->gated ? &h->gate : &c->hs_wait, cn, link);
	if (cn->slot)
		handshake_over(cn);
	conn_set_state(cn, CS_CLOSED);
	if (cn->promised) {
		/* the ticket kept for it can serve a connection on the gate */
		cn->promised = 0;
		h->npromised--;
		conn_gate_release(h);
	}
	if (cn->producer)
		producer_done(cn, 0);
	if (cn->armed || cn->op == OP_ARM_FAILED)
		event_del(&cn->ev);   /* also off the active queue */
	cn->armed = 0;
	if (cn->dnsq) {
		struct dns_query *q = cn->dnsq;
		cn->dnsq = NULL;
		dns_cancel(q);
	}
	if (cn->ops) {
		cn->ops->shutdown(cn);
		cn->ops->free(cn);
	}
	if (cn->fd >= 0)
		close(cn->fd);
	if (cn->ai)
		evutil_freeaddrinfo(cn->ai);
	http1_release(&cn->http);
	free(cn);
	h->nconns--;
	if (!c->freed)
		pool_host_changed(h);
}

/* The connection failed with err (< 0); c->why says why. */
static void conn_fail(struct conn *cn, int err)
{
	if (cn->xfer)
		transfer_conn_failed(cn->xfer, err, cn->client->why);
	else
		conn_close(cn);
}

static void conn_ready(struct conn *cn)
{
	conn_set_state(cn, CS_BUSY);
	cn->op = OP_NONE;
	if (cn->xfer)
		transfer_connected(cn->xfer);
}

static uint64_t since_start(struct conn *cn)
{
	return cn->xfer ? evf_now_us() - cn->xfer->attempt_us : 0;
}

/* A handshake ended (or its connection closed): free its slot. */
static void handshake_over(struct conn *cn)
{
	struct evf_client *c = cn->client;
	cn->slot = 0;
	c->nhandshakes--;
	if (!TAILQ_EMPTY(&c->hs_wait))
		client_kick(c);
}

static void do_handshake(struct conn *cn)
{
	int r = cn->ops->handshake(cn);
	if (r == IO_WANT_READ || r == IO_WANT_WRITE) {
		conn_arm(cn, OP_HANDSHAKE, r);
		return;
	}
	handshake_over(cn);
	conn_set_state(cn, CS_BUSY);
	/* TLS 1.2 gives its session in the handshake; a TLS 1.3 ticket
	 * comes after it, and do_read settles that */
	if (cn->producer && (r < 0 || SSL_version(cn->ssl) < TLS1_3_VERSION))
		producer_done(cn, r == 0);
	if (r < 0) {
		conn_fail(cn, r);
		return;
	}
	if (cn->xfer)
		cn->xfer->timings.tls_us = since_start(cn);
	conn_ready(cn);
}

/* A connect has held its handshake slot for long (an address that drops
 * SYNs, a far server): give the slot to others.  The connection takes one
 * again, beyond the limit if need be, once connected: it must send its
 * ClientHello then, not wait. */
static void slow_connect(struct conn *cn)
{
	handshake_over(cn);
	event_remove_timer(&cn->ev);
}

static void connected(struct conn *cn)
{
	/* the other addresses are no longer needed: give them back now, not
	 * when the connection closes */
	evutil_freeaddrinfo(cn->ai);
	cn->ai = cn->ai_next = cn->ai_cur = NULL;
	if (cn->xfer)
		cn->xfer->timings.connect_us = since_start(cn);
	if (!cn->host->tls) {
		conn_ready(cn);
		return;
	}
	/* the slot was taken before the socket was opened: the ClientHello
	 * goes out now, whatever else is waiting */
	if (!cn->slot) {
		cn->slot = 1;
		cn->client->nhandshakes++;
	}
	conn_set_state(cn, CS_HANDSHAKING);
	do_handshake(cn);
}

/*
 * Sessions a new connection to h can still count on.  A TLS 1.3 ticket
 * serves one connection, so tickets promised to connections already let
 * through the gate are not free; an older session serves any number.
 */
static unsigned sessions_free(const struct host *h)
{
	if (h->nsessions == 0)
		return 0;
	if (SSL_SESSION_get_protocol_version(h->sessions[h->nsessions - 1]) < TLS1_3_VERSION)
		return UINT_MAX;
	return h->nsessions > h->npromised ? h->nsessions - h->npromised : 0;
}

/*
 * cn, to a TLS host, is let through the gate: it counts as a handshake
 * that may bring a session from now on, and a free ticket is kept for it
 * until it starts.
 */
static void pass_gate(struct conn *cn)
{
	struct host *h = cn->host;
	unsigned n = sessions_free(h);
	cn->producer = 1;
	h->producers++;
	if (n > 0 && n != UINT_MAX) {
		cn->promised = 1;
		h->npromised++;
	}
}

/* h has no session to spare, but a handshake on its way may still bring
 * one; or connections wait on the gate already, and come first. */
static int gate_closed(const struct host *h)
{
	if (!TAILQ_EMPTY(&h->gate))
		return 1;
	return sessions_free(h) == 0 && h->producers > 0 && !h->no_tickets;
}

/* Queue cn, resolved but without a socket, for a handshake slot. */
static void wait_for_slot(struct conn *cn)
{
	conn_set_state(cn, CS_HS_WAIT);
	TAILQ_INSERT_TAIL(&cn->client->hs_wait, cn, link);
}

void conn_gate_release(struct host *h)
{
	struct evf_client *c = h->client;
	struct conn *cn;
	if (TAILQ_EMPTY(&h->gate))
		return;
	/* one connection per ticket not yet promised; when no handshake is
	 * on its way to bring more, one more to make a full handshake; all
	 * of them when the server gives no tickets */
	unsigned n = sessions_free(h);
	if (h->no_tickets)
		n = UINT_MAX;
	else if (h->producers == 0 && n != UINT_MAX)
		n++;
	while (n-- > 0 && (cn = TAILQ_FIRST(&h->gate))) {
		TAILQ_REMOVE(&h->gate, cn, link);
		cn->gated = 0;
		pass_gate(cn);
		wait_for_slot(cn);
	}
	client_kick(c);
}

/* cn's handshake can bring no session any more.  ok: it completed, so a
 * server that gave nothing by now gives no tickets. */
static void producer_done(struct conn *cn, int ok)
{
	struct host *h = cn->host;
	cn->producer = 0;
	if (cn->armed && cn->op == OP_READ)
		event_remove_timer(&cn->ev);   /* the wait for tickets is over */
	h->producers--;
	if (ok && !cn->got_session)
		h->no_tickets = 1;
	conn_gate_release(h);
}

/*
 * cn is resolved: open its socket now, or queue it.  A TLS connection
 * first takes a handshake slot and, when its host's first handshake may
 * still bring a session, waits on the gate for one; only then does it
 * connect.  So a connected socket always sends its ClientHello at once: a
 * server that handshakes one connection at a time, in accept order, is
 * never left waiting on a socket that waits on a queue.  Both queues are
 * first come, first served.
 */
static void conn_admit(struct conn *cn)
{
	struct evf_client *c = cn->client;
	struct host *h = cn->host;
	if (h->tls && !c->cfg.no_session_reuse) {
		if (gate_closed(h)) {
			/* wait for the session a handshake on its way
			 * brings rather than make a full one */
			conn_set_state(cn, CS_HS_WAIT);
			cn->gated = 1;
			TAILQ_INSERT_TAIL(&h->gate, cn, link);
			return;
		}
		pass_gate(cn);
	}
	if (h->tls && (c->nhandshakes >= c->cfg.max_handshakes || !TAILQ_EMPTY(&c->hs_wait))) {
		/* handshakes in flight hold most of a connection's transient
		 * memory (and CPU): queue instead of starting them all at once */
		wait_for_slot(cn);
		return;
	}
	conn_start(cn);
}

void conn_start(struct conn *cn)
{
	struct evf_client *c = cn->client;
	struct host *h = cn->host;
	conn_set_state(cn, CS_CONNECTING);
	if (h->tls) {
		cn->ops = &evf_tls_ops;
		cn->slot = 1;
		c->nhandshakes++;
		/* takes the session (the promised ticket) now */
		int r = tls_conn_setup(cn);
		if (cn->promised) {
			cn->promised = 0;
			h->npromised--;
		}
		if (r < 0) {
			if (r == EVF_ERR_NOMEM)
				conn_set_why(cn, "out of memory for a TLS connection");
			conn_fail(cn, r);
			return;
		}
	}
	connect_result(cn, tcp_connect_next(cn));
}

static void connect_result(struct conn *cn, int r)
{
	if (r == IO_WANT_WRITE) {
		/* the socket may be new (next address): always re-arm */
		if (cn->armed)
			event_del(&cn->ev);
		cn->armed = 0;
		conn_arm(cn, OP_CONNECT, IO_WANT_WRITE);
	} else if (r == IO_DONE) {
		connected(cn);
	} else {
		conn_fail(cn, r);
	}
}

static void dns_finish(struct conn *cn, int result, struct evutil_addrinfo *ai)
{
	if (result != 0 || !ai) {
		if (ai)
			evutil_freeaddrinfo(ai);
		conn_set_why(cn, "cannot resolve '%s': %s", cn->host->name,
		             result ? evutil_gai_strerror(result) : "no address");
		conn_fail(cn, EVF_ERR_DNS);
		return;
	}
	cn->ai = cn->ai_next = ai;
	if (cn->xfer)
		cn->xfer->timings.dns_us = since_start(cn);
	conn_admit(cn);
}

static void dns_done(int result, struct evutil_addrinfo *ai, void *arg)
{
	if (result == EVUTIL_EAI_CANCEL)
		return;   /* the connection is being closed */
	struct conn *cn = arg;
	if (cn->dns_sync) {
		/* called back before dns_resolve returned: conn_open goes on */
		cn->dns_result = result;
		cn->dns_answered = 1;
		cn->ai = ai;
		return;
	}
	struct evf_client *c = cn->client;
	cn->dnsq = NULL;
	client_enter(c);
	dns_finish(cn, result, ai);
	client_leave(c);
}

/*
 * Open a connection for t.  Failures are reported to t, perhaps before this
 * returns, so the caller must not use the connection afterwards.
 */
void conn_open(struct host *h, struct evf_transfer *t)
{
	struct conn *cn = calloc(1, sizeof *cn);
	if (!cn) {
		transfer_finish(t, EVF_ERR_NOMEM, "out of memory for a connection");
		return;
	}
	cn->client = t->client;
	cn->host = h;
	cn->fd = -1;
	cn->ops = &evf_tcp_ops;
	cn->xfer = t;
	conn_set_state(cn, CS_RESOLVING);
	pool_mark_used(h);
	h->nconns++;
	t->conn = cn;
	xfer_set_state(t, XS_CONNECT);

	struct dns_query *q = NULL;
	cn->dns_sync = 1;
	dns_resolve(cn->client, h->name, h->port, dns_done, cn, &q);
	cn->dns_sync = 0;
	if (q) {
		cn->dnsq = q;
		return;
	}
	struct evutil_addrinfo *ai = cn->ai;
	cn->ai = NULL;
	if (!cn->dns_answered)
		cn->dns_result = EVUTIL_EAI_FAIL;
	dns_finish(cn, cn->dns_result, ai);
}

void conn_start_request(struct conn *cn)
{
	struct evf_transfer *t = cn->xfer;
	conn_set_state(cn, CS_BUSY);
	xfer_set_state(t, XS_REQUEST);
	t->req_off = 0;
	do_write(cn);
}

static void do_write(struct conn *cn)
{
	struct evf_transfer *t = cn->xfer;
	while (t->req_off < t->req_len) {
		size_t put = 0;
		int r = cn->ops->write(cn, t->req + t->req_off, t->req_len - t->req_off, &put);
		if (r == IO_WANT_READ || r == IO_WANT_WRITE) {
			conn_arm(cn, OP_WRITE, r);
			return;
		}
		if (r < 0) {
			conn_fail(cn, r);
			return;
		}
		t->req_off += put;
	}
	transfer_request_sent(t);
	conn_arm(cn, OP_READ, IO_WANT_READ);
}

static void do_read(struct conn *cn)
{
	struct evf_client *c = cn->client;
	for (int i = 0; i < READS_PER_WAKEUP; i++) {
		if (cn->xfer->paused) {
			/* no read until resumed: the host's gate must not wait
			 * for this connection's tickets meanwhile */
			if (cn->producer)
				producer_done(cn, 0);
			conn_arm(cn, OP_READ, 0);   /* evf_transfer_resume re-arms */
			return;
		}
		if (cn->xfer->held) {
			/* compressed input kept over a pause comes first */
			if (transfer_feed_held(cn->xfer))
				return;
			continue;
		}
		size_t got = 0;
		int r = cn->ops->read(cn, c->rbuf, sizeof c->rbuf, &got);
		if (cn->producer)
			producer_done(cn, r >= 0); /* a ticket comes first, if at all */
		if (r == IO_DONE) {
			if (transfer_on_data(cn->xfer, (const char *)c->rbuf, got))
				return;   /* the connection was handed on or closed */
			continue;
		}
		if (r == IO_WANT_READ || r == IO_WANT_WRITE) {
			conn_arm(cn, OP_READ, r);
			return;
		}
		if (r == IO_EOF || r == IO_EOF_UNCLEAN) {
			transfer_on_eof(cn->xfer, r == IO_EOF);
			return;
		}
		conn_fail(cn, r);
		return;
	}
	/* more may be waiting, in the kernel or inside OpenSSL: yield to other
	 * connections, then come back without waiting for the socket */
	conn_arm(cn, OP_READ, IO_WANT_READ);
	event_active(&cn->ev, EV_READ, 1);
}

/* A pooled connection became readable: the server closed it, or sent
 * bytes nobody asked for.  Either way it is no longer usable, except for
 * TLS records that carry no data (session tickets). */
static void idle_check(struct conn *cn, short what)
{
	if (what & EV_TIMEOUT) {
		conn_close(cn);
		return;
	}
	size_t got = 0;
	int r = cn->ops->read(cn, cn->client->rbuf, sizeof cn->client->rbuf, &got);
	if (r == IO_WANT_READ)
		return;
	conn_close(cn);
}

static void conn_resume(struct conn *cn, short what)
{
	switch (cn->op) {
	case OP_CONNECT:
		connect_result(cn, tcp_connect_check(cn));
		break;
	case OP_HANDSHAKE:
		do_handshake(cn);
		break;
	case OP_WRITE:
		do_write(cn);
		break;
	case OP_READ:
		do_read(cn);
		break;
	case OP_IDLE:
		idle_check(cn, what);
		break;
	case OP_ARM_FAILED:
		conn_set_why(cn, "cannot watch the connection to %s: %s", conn_peer(cn),
		             strerror(cn->last_errno));
		conn_fail(cn, EVF_ERR_RESOURCE);
		break;
	case OP_NONE:
		break;
	}
}

static void io_cb(evutil_socket_t fd, short what, void *arg)
{
	struct conn *cn = arg;
	struct evf_client *c = cn->client;
	if (what == EV_TIMEOUT && cn->op != OP_IDLE) {
		client_enter(c);
		if (cn->op == OP_CONNECT && cn->slot)
			slow_connect(cn);
		else if (cn->op == OP_READ && cn->producer)
			producer_done(cn, 1);   /* no ticket in time: none will come */
		else
			event_remove_timer(&cn->ev);   /* left over from an earlier wait */
		client_leave(c);
		return;
	}
	client_enter(c);
	conn_resume(cn, what);
	client_leave(c);
}

void conn_resume_reading(struct conn *cn)
{
	if (cn->op != OP_READ || cn->armed)
		return;
	conn_arm(cn, OP_READ, IO_WANT_READ);
	/* records may wait inside OpenSSL, or input kept by the decoder: look
	 * without waiting for the socket */
	event_active(&cn->ev, EV_READ, 1);
}

void conn_park(struct conn *cn)
{
	cn->xfer = NULL;
	cn->requests++;
	cn->idle_since = evf_now_us();
	conn_set_state(cn, CS_IDLE);
	conn_arm(cn, OP_IDLE, IO_WANT_READ);
}
