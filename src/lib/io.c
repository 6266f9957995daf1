/*
 * io.c - the connection state machine and the one place that arms libevent
 * events for a connection.
 *
 * A connection brings its transport up one layer at a time (the socket's
 * connect, then TLS's handshake), then runs a protocol (HTTP/1.1 or
 * HTTP/2) over it.  It has one event, armed for EV_READ, EV_WRITE or both:
 * a protocol reads whenever it expects bytes and writes while it has
 * queued some that the socket would not take.  When a transport call
 * cannot finish it says which direction it waits for (TLS may want to read
 * to write, or the other way round); the event is pointed there and the
 * callback resumes exactly the same call.  Reads loop until the transport
 * would block, so bytes already decrypted inside OpenSSL are consumed
 * before the loop waits on the socket again.
 *
 * While io_cb runs for a connection, closing it does everything but the
 * final free, which io_cb does once the protocol has returned.
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

/* upcalls go through the client, never by name */
#define UPCALL(t) ((t)->client->up)

static void io_cb(evutil_socket_t fd, short what, void *arg);
static void handshake_over(struct conn *cn);
static void conn_connect(struct conn *cn);
static void producer_done(struct conn *cn, int ok);
static void session_run(struct conn *cn, short what);

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

static short ev_of(int want)
{
	return want == IO_WANT_READ ? EV_READ : want == IO_WANT_WRITE ? EV_WRITE : 0;
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
	if (op == OP_IDLE || (op == OP_SESSION && cn->state == CS_IDLE))
		return c->idle_tv;
	if (op == OP_CONNECT && cn->slot && cn->state == CS_CONNECTING)
		return c->slow_connect_tv;
	if (op == OP_SESSION && cn->producer) {
		/* tickets follow the handshake within about a round trip:
		 * allow three handshakes' time, at least TICKET_WAIT_MIN_MS */
		uint64_t us = 1000u * TICKET_WAIT_MIN_MS;
		struct evf_transfer *t = cn->xfer;
		if (t && t->timings.tls_us > t->timings.connect_us &&
		    3 * (t->timings.tls_us - t->timings.connect_us) > us)
			us = 3 * (t->timings.tls_us - t->timings.connect_us);
		tv->tv_sec = (time_t)(us / 1000000u);
		tv->tv_usec = (suseconds_t)(us % 1000000u);
		return tv;
	}
	return NULL;
}

/* Wait for need (EV_READ, EV_WRITE, both or none) to resume op. */
static void conn_arm(struct conn *cn, enum conn_op op, short need)
{
	struct timeval tvbuf;
	if (cn->op == OP_ARM_FAILED)
		return;   /* io_cb fails the connection */
	cn->op = op;
	const struct timeval *tv = need ? op_timeout(cn, op, &tvbuf) : NULL;
	if (need == cn->armed && !cn->new_fd) {
		/* the usual cycle (read the response, park, write the next
		 * request, read) stays on EV_READ and costs no epoll_ctl; a
		 * timeout left over from an earlier wait is dropped by io_cb */
		if (tv && need && event_add(&cn->ev, tv) != 0)
			arm_failed(cn);
		return;
	}
	/* also off the active queue: event_assign must not touch a queued
	 * event; a pending flush_later is made active again below */
	if (event_initialized(&cn->ev))
		event_del(&cn->ev);
	cn->armed = 0;
	if (need) {
		cn->new_fd = 0;
		event_assign(&cn->ev, cn->client->base, cn->fd, need | EV_PERSIST, io_cb, cn);
		if (event_add(&cn->ev, tv) != 0) {
			arm_failed(cn);
			return;
		}
		cn->armed = need;
	}
	if (cn->flush_soon && event_initialized(&cn->ev))
		event_active(&cn->ev, EV_WRITE, 1);
}

/* The protocol runs: read while it reads, write while a flush is blocked. */
static void session_arm(struct conn *cn)
{
	conn_arm(cn, OP_SESSION, (short)(cn->read_on | cn->flush_on));
}

/* What only connecting needed: the addresses (given back now, not when
 * the connection closes), and the struct that held them. */
static void open_free(struct conn *cn)
{
	struct conn_open *op = cn->opening;
	if (!op)
		return;
	if (op->ai)
		evutil_freeaddrinfo(op->ai);
	dns_cached_put(op->addrs);
	free(op);
	cn->opening = NULL;
}

static void conn_free(struct conn *cn)
{
	if (cn->proto)
		cn->proto->release(cn);
	free(cn);
}

void conn_close(struct conn *cn)
{
	struct evf_client *c = cn->client;
	struct host *h = cn->host;
	if (cn->state == CS_CLOSED)
		return;
	if (cn->throttled) {
		cn->throttled = 0;
		TAILQ_REMOVE(&c->throttled, cn, tlink);
	}
	if (cn->pooled) {
		pool_remove_idle(cn);   /* CS_IDLE alone is not enough: see conn_park */
		if (!c->freed)
			pool_idle_missed(c);
	}
	else if (cn->state == CS_HS_WAIT)
		TAILQ_REMOVE(cn->gated ? &h->gate : &c->hs_wait, cn, link);
	if (cn->shared)
		pool_unshare(cn);
	if (cn->connecting) {
		/* it never became ready: the host's transfers that waited
		 * for it open connections of their own now */
		cn->connecting = 0;
		h->nconnecting--;
		h->open_failed = 1;
	}
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
	if (event_initialized(&cn->ev))
		event_del(&cn->ev);   /* also off the active queue */
	cn->armed = 0;
	if (cn->opening && cn->opening->dnsq) {
		struct dns_query *q = cn->opening->dnsq;
		cn->opening->dnsq = NULL;
		dns_cancel(q);
	}
	if (cn->opening && cn->opening->race)
		race_free(cn);
	for (const struct layer *l = cn->top; l; l = l->below)
		l->ops->close(cn, l);
	if (cn->fd >= 0)
		close(cn->fd);
	cn->fd = -1;
	open_free(cn);
	h->nconns--;
	if (!c->freed)
		pool_host_changed(h);
	if (!cn->in_io)
		conn_free(cn);
}

void conn_fail(struct conn *cn, int err)
{
	struct evf_client *c = cn->client;
	if (cn->state == CS_CLOSED)
		return;
	/* the reason lives in the client's scratch buffer, which the
	 * transfers told below may overwrite */
	char why[sizeof c->why];
	snprintf(why, sizeof why, "%s", c->why);
	if (cn->shared)
		pool_unshare(cn);   /* nobody may pick it while it fails */
	if (c->freed) {
		/* the client is going away: nobody is to be told */
	} else if (cn->proto) {
		cn->proto->fail(cn, err, why);
	} else if (cn->xfer) {
		struct evf_transfer *t = cn->xfer;
		cn->xfer = NULL;
		t->conn = NULL;
		UPCALL(t)->failed(t, err, why, 0);
	}
	conn_close(cn);
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

/* A connect has held its handshake slot for long (an address that drops
 * SYNs, a far server): give the slot to others.  The connection takes one
 * again, beyond the limit if need be, once connected: it must send its
 * ClientHello then, not wait. */
static void slow_connect(struct conn *cn)
{
	handshake_over(cn);
	event_remove_timer(&cn->ev);
}

void conn_race_won(struct conn *cn)
{
	/* the socket is writable: io_cb brings the layers up from the loop */
	cn->new_fd = 1;
	conn_arm(cn, OP_CONNECT, EV_WRITE);
}

void conn_race_failed(struct conn *cn, int err)
{
	struct evf_client *c = cn->client;
	client_enter(c);
	conn_fail(cn, err);
	client_leave(c);
}

void conn_race_slow(struct conn *cn)
{
	if (cn->slot && cn->state == CS_CONNECTING)
		handshake_over(cn);
}

/* The socket is connected. */
static void socket_up(struct conn *cn)
{
	/* the other addresses are no longer needed: give them back now, not
	 * when the connection closes */
	if (cn->opening->dnsq) {
		dns_cancel(cn->opening->dnsq);   /* a family still being looked up */
		cn->opening->dnsq = NULL;
	}
	race_free(cn);   /* a race that was won is gone already */
	open_free(cn);
	if (cn->xfer)
		cn->xfer->timings.connect_us = since_start(cn);
	if (!cn->ssl)
		return;
	/* the slot was taken before the socket was opened: the ClientHello
	 * goes out now, whatever else is waiting */
	if (!cn->slot) {
		cn->slot = 1;
		cn->client->nhandshakes++;
	}
	conn_set_state(cn, CS_HANDSHAKING);
}

/* TLS's handshake ended with r (IO_DONE or an error). */
static void tls_up(struct conn *cn, int r)
{
	handshake_over(cn);
	/* TLS 1.2 gives its session in the handshake; a TLS 1.3 ticket
	 * comes after it, and the first read settles that */
	if (cn->producer && (r < 0 || SSL_version(cn->ssl) < TLS1_3_VERSION))
		producer_done(cn, r == 0);
	if (r == 0 && cn->xfer)
		cn->xfer->timings.tls_us = since_start(cn);
}

/* The transport is up: run HTTP/2 if ALPN (or prior knowledge) says so,
 * else HTTP/1.1, and give the connection to the transfer that opened it. */
static void conn_ready(struct conn *cn)
{
	struct host *h = cn->host;
	struct evf_transfer *t = cn->xfer;
	/* an http proxy takes absolute-form HTTP/1.1 */
	int v = cn->ssl ? tls_alpn_h2(cn)
	        : cn->client->cfg.http_version == EVF_HTTP_2_PRIOR_KNOWLEDGE && !h->proxied ? 2 : 1;
	conn_set_state(cn, CS_BUSY);
	cn->op = OP_SESSION;
	if (v == 1) {
		/* HTTP/2 counts as connecting until the server's SETTINGS
		 * say how many streams it takes */
		cn->connecting = 0;
		h->nconnecting--;
		h->open_failed = 0;
	}
	h->proto = (unsigned)v;
	cn->read_on = EV_READ;
	if (v == 2) {
		if (h2_session_new(cn) != 0) {
			conn_set_why(cn, "out of memory for an HTTP/2 session");
			conn_fail(cn, EVF_ERR_NOMEM);
			return;
		}
		cn->proto = &evf_h2_proto;
		cn->xfer = NULL;
	} else {
		cn->proto = &evf_h1_proto;
	}
	/* transfers that waited for the answer may go on now: share the
	 * streams, or open connections of their own */
	pool_host_changed(h);
	if (t) {
		if (v == 2)
			pool_share(cn);
		UPCALL(t)->ready(t, 0);
	} else {
		conn_park(cn);   /* nothing may touch cn after this */
	}
}

/* Bring the next layers up, from the socket to the top. */
static void conn_connect(struct conn *cn)
{
	for (;;) {
		unsigned depth = 0;
		for (const struct layer *l = cn->top; l; l = l->below)
			depth++;
		if (cn->up >= depth)
			break;
		const struct layer *l = cn->top;
		for (unsigned i = depth - 1; i > cn->up; i--)
			l = l->below;
		int r = l->ops->connect(cn, l);
		if (r == IO_WANT_READ || r == IO_WANT_WRITE || r == IO_WAKE) {
			conn_arm(cn, OP_CONNECT, ev_of(r));
			return;
		}
		if (l->ops == &evf_tls_ops)   /* the origin's, not a proxy's */
			tls_up(cn, r < 0 ? r : 0);
		if (r < 0) {
			conn_fail(cn, r);
			return;
		}
		cn->up++;
		if (!l->below)
			socket_up(cn);
	}
	conn_ready(cn);
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
	if (cn->armed && cn->op == OP_SESSION)
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
		cn->top = &evf_tls_layer;
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
	if (h->proxied) {
		int r = proxy_conn_setup(cn);
		if (r < 0) {
			conn_fail(cn, r);
			return;
		}
	}
	conn_connect(cn);
}

static void dns_finish(struct conn *cn, int result, struct evutil_addrinfo *ai)
{
	if (result != 0 || !ai) {
		const char *name;
		int port;
		proxy_dial(cn->host, &name, &port);
		if (ai)
			evutil_freeaddrinfo(ai);
		conn_set_why(cn, "cannot resolve %s'%s': %s", cn->host->proxied ? "the proxy " : "", name,
		             result ? evutil_gai_strerror(result) : "no address");
		conn_fail(cn, EVF_ERR_DNS);
		return;
	}
	if (!(cn->opening->addrs = dns_cached_new(ai))) {
		evutil_freeaddrinfo(ai);
		conn_set_why(cn, "out of memory for the addresses of '%s'", cn->host->name);
		conn_fail(cn, EVF_ERR_NOMEM);
		return;
	}
	dns_cached_keep(cn->host, cn->opening->addrs);
	cn->opening->ai_next = ai;
	if (cn->xfer)
		cn->xfer->timings.dns_us = since_start(cn);
	conn_admit(cn);
}

static void dns_done(int result, struct evutil_addrinfo *ai, int more, void *arg)
{
	if (result == EVUTIL_EAI_CANCEL)
		return;   /* the connection is being closed */
	struct conn *cn = arg;
	if (cn->dns_sync) {
		/* called back before dns_resolve returned: conn_open goes on */
		cn->dns_result = result;
		cn->dns_answered = 1;
		cn->opening->ai = ai;
		return;
	}
	struct evf_client *c = cn->client;
	client_enter(c);
	if (!more)
		cn->opening->dnsq = NULL;
	if (cn->opening->addrs)
		race_add(cn, ai);   /* the second family's answer (dns.c) */
	else
		dns_finish(cn, result, ai);
	client_leave(c);
}

void conn_open(struct host *h, struct evf_transfer *t)
{
	struct conn *cn = calloc(1, sizeof *cn);
	if (cn && !(cn->opening = calloc(1, sizeof *cn->opening))) {
		free(cn);
		cn = NULL;
	}
	if (!cn) {
		UPCALL(t)->failed(t, EVF_ERR_NOMEM, "out of memory for a connection", 0);
		return;
	}
	cn->client = t->client;
	cn->host = h;
	cn->fd = -1;
	cn->top = &evf_tcp_layer;
	cn->xfer = t;
	conn_set_state(cn, CS_RESOLVING);
	pool_mark_used(h);
	h->nconns++;
	h->nconnecting++;
	cn->connecting = 1;
	t->conn = cn;

	if ((cn->opening->addrs = dns_cached_get(h))) {
		/* answered before, and fresh: no lookup */
		cn->opening->ai_next = dns_cached_list(cn->opening->addrs);
		conn_admit(cn);
		return;
	}
	struct dns_query *q = NULL;
	const char *name;
	int port;
	proxy_dial(h, &name, &port);   /* a tunnel's host resolves its proxy */
	cn->dns_sync = 1;
	dns_resolve(cn->client, name, port, dns_done, cn, &q);
	cn->dns_sync = 0;
	if (q) {
		cn->opening->dnsq = q;
		return;
	}
	struct evutil_addrinfo *ai = cn->opening->ai;
	cn->opening->ai = NULL;
	if (!cn->dns_answered)
		cn->dns_result = EVUTIL_EAI_FAIL;
	dns_finish(cn, cn->dns_result, ai);
}

int conn_send(struct conn *cn, const void *buf, size_t len, size_t *put)
{
	if (cn->state == CS_CLOSED) {
		/* a callback of the protocol closed it while it was sending */
		*put = 0;
		conn_set_why(cn, "the connection to %s was closed", cn->host->name);
		return EVF_ERR_NETWORK;
	}
	return cn->top->ops->send(cn, cn->top, buf, len, put);
}

int conn_pending(struct conn *cn)
{
	return cn->top->ops->pending(cn, cn->top);
}

/* Send what the protocol queued.  -1 when that failed the connection. */
static int do_flush(struct conn *cn)
{
	int r = cn->proto->flush(cn);
	if (r < 0) {
		conn_fail(cn, r);
		return -1;
	}
	cn->flush_on = ev_of(r);
	return cn->state == CS_CLOSED ? -1 : 0;
}

/*
 * HTTP/2: the requests of one turn of the loop go out together, in one
 * TLS record and one send, once the callbacks that made them are done.
 */
static int flush_later(struct conn *cn)
{
	if (cn->proto->version != 2 || !event_initialized(&cn->ev) || cn->op == OP_ARM_FAILED)
		return 0;
	if (!cn->flush_soon) {
		cn->flush_soon = 1;
		event_active(&cn->ev, EV_WRITE, 1);
	}
	return 1;
}

/*
 * conn_update and conn_submit come from outside io_cb, and a flush runs
 * the protocol, which may close cn (nghttp2 ending streams as it sends):
 * they guard cn as io_cb does and free it at the end if so.
 */
static void guard_end(struct conn *cn, unsigned was)
{
	cn->in_io = was;
	if (!was && cn->state == CS_CLOSED)
		conn_free(cn);
}

void conn_update(struct conn *cn)
{
	if (cn->state == CS_CLOSED || cn->op == OP_ARM_FAILED || cn->in_io || flush_later(cn))
		return;   /* io_cb flushes and re-arms as it returns */
	cn->in_io = 1;
	if ((cn->flush_on || !cn->proto->want_flush(cn) || do_flush(cn) == 0) &&
	    (cn->state == CS_BUSY || (cn->state == CS_IDLE && cn->proto->version == 2)))
		session_arm(cn);
	guard_end(cn, 0);
}

int conn_submit(struct conn *cn, struct evf_transfer *t)
{
	int r = cn->proto->submit(cn, t);
	if (r < 0)
		return r;
	if (!cn->read_on && cn->proto->version == 1)
		cn->read_on = EV_READ;
	if (flush_later(cn))
		return 0;
	if (t->body) {
		/* a body is read from io_cb, where a callback may end t */
		cn->flush_on = EV_WRITE;
		session_arm(cn);
		return 0;
	}
	unsigned was = cn->in_io;
	cn->in_io = 1;
	if (cn->flush_on || do_flush(cn) == 0)
		session_arm(cn);
	guard_end(cn, was);   /* on failure t was told */
	return 0;
}

void conn_detach(struct conn *cn, struct evf_transfer *t, int keep)
{
	if (!cn->proto) {
		/* still connecting, for t alone */
		cn->xfer = NULL;
		t->conn = NULL;
		conn_close(cn);
		return;
	}
	cn->proto->detach(cn, t, keep);
}

void conn_body_ready(struct conn *cn, struct evf_transfer *t)
{
	if (cn->state != CS_BUSY || !cn->proto)
		return;
	if (cn->proto->body_ready)
		cn->proto->body_ready(cn, t);
	if (cn->proto->version == 2) {
		conn_update(cn);   /* flushes from the loop */
		return;
	}
	/* HTTP/1.1 reads the body as the socket takes it, from io_cb: never
	 * inside the caller's evf_transfer_resume_body */
	cn->flush_on = EV_WRITE;
	if (!cn->in_io)
		session_arm(cn);
}

void conn_resume(struct conn *cn, struct evf_transfer *t)
{
	if (cn->state != CS_BUSY || !cn->proto)
		return;
	cn->proto->resume(cn, t);
	cn->read_on = EV_READ;
	session_arm(cn);
	/* records may wait inside OpenSSL, or input kept over the pause:
	 * look without waiting for the socket */
	if (cn->op == OP_SESSION)
		event_active(&cn->ev, EV_READ, 1);
}

int conn_park(struct conn *cn)
{
	/* OpenSSL keeps its 17 KB read buffer when the last read took a
	 * whole record.  A connection whose host has no other transfer (the
	 * one ending holds the only reference) may stay idle for long: give
	 * it back (0: bytes wait in it).  With more to come, keep it: freeing
	 * and allocating it again costs 4% of a kept-alive request's CPU */
	if (cn->ssl && cn->host->nrefs <= 1)
		SSL_free_buffers(cn->ssl);
	cn->xfer = NULL;
	cn->requests++;
	cn->idle_since = evf_now_us();
	conn_set_state(cn, CS_IDLE);
	if (cn->proto->version == 2) {
		cn->read_on = EV_READ;
		session_arm(cn);
	} else {
		cn->read_on = 0;
		cn->flush_on = 0;
		conn_arm(cn, OP_IDLE, EV_READ);
	}
	if (cn->op == OP_ARM_FAILED) {
		/* it cannot be watched: never pooled */
		conn_close(cn);
		return 1;
	}
	pool_put_idle(cn);
	return 0;
}

/*
 * --limit-rate: bytes cn may read now, from the client's bucket (refilled
 * at max_rate, holding at most a tenth of a second's worth and at least
 * one read buffer).  0: cn goes on the throttled list, and rate_ev wakes
 * the list when the bucket has a read's worth again.
 */
static size_t rate_allow(struct conn *cn)
{
	struct evf_client *c = cn->client;
	uint64_t rate = c->cfg.max_rate, now = evf_now_us();
	int64_t cap = (int64_t)(rate / 10 > sizeof c->rbuf ? rate / 10 : sizeof c->rbuf);
	if (now > c->rate_at_us) {
		/* a second's refill fills any bucket: no overflow after a long wait */
		uint64_t dt = now - c->rate_at_us < 1000000u ? now - c->rate_at_us : 1000000u;
		uint64_t add = dt * rate / 1000000u;
		if (add > 0) {
			c->rate_tokens = c->rate_tokens + (int64_t)add > cap ? cap : c->rate_tokens + (int64_t)add;
			c->rate_at_us = now;
		}
	}
	if (c->rate_tokens > 0)
		return (size_t)c->rate_tokens < sizeof c->rbuf ? (size_t)c->rate_tokens : sizeof c->rbuf;
	if (!cn->throttled) {
		cn->throttled = 1;
		TAILQ_INSERT_TAIL(&c->throttled, cn, tlink);
	}
	if (!evtimer_pending(&c->rate_ev, NULL)) {
		/* until the bucket holds a read buffer's worth, at least 1 ms */
		uint64_t need = (uint64_t)(-c->rate_tokens) + sizeof c->rbuf;
		uint64_t us = need * 1000000u / rate;
		struct timeval tv = {(time_t)(us / 1000000u), (suseconds_t)(us % 1000000u)};
		if (us < 1000)
			tv.tv_usec = 1000;
		evtimer_add(&c->rate_ev, &tv);
	}
	return 0;
}

void conn_rate_cb(evutil_socket_t fd, short what, void *arg)
{
	struct evf_client *c = arg;
	struct conn *cn;
	(void)fd;
	(void)what;
	client_enter(c);
	/* each throttled connection reads again from the loop, in turn */
	while (!c->freed && (cn = TAILQ_FIRST(&c->throttled))) {
		TAILQ_REMOVE(&c->throttled, cn, tlink);
		cn->throttled = 0;
		if (cn->op == OP_SESSION && (cn->state == CS_BUSY || cn->state == CS_IDLE)) {
			cn->read_on = EV_READ;
			session_arm(cn);
			event_active(&cn->ev, EV_READ, 1);
		}
	}
	client_leave(c);
}

/*
 * Read and feed the protocol until the transport would block.  -1 when
 * the connection left our hands (failed, closed, parked, handed on).
 */
static int read_loop(struct conn *cn)
{
	struct evf_client *c = cn->client;
	const struct proto_ops *p = cn->proto;
	for (int i = 0; i < READS_PER_WAKEUP; i++) {
		int pr = p->poll(cn);
		if (pr == PR_GONE || (cn->state != CS_BUSY && cn->state != CS_IDLE))
			return -1;
		if (pr == PR_AGAIN)
			continue;
		if (pr == PR_STOP) {
			/* no read until resumed: the host's gate must not wait
			 * for this connection's tickets meanwhile */
			if (cn->producer)
				producer_done(cn, 0);
			cn->read_on = 0;
			return 0;
		}
		size_t got = 0, room = sizeof c->rbuf;
		if (c->cfg.max_rate && !(room = rate_allow(cn))) {
			cn->read_on = 0;   /* conn_rate_cb wakes it */
			return 0;
		}
		int r = cn->top->ops->recv(cn, cn->top, c->rbuf, room, &got);
		if (c->cfg.max_rate)
			c->rate_tokens -= (int64_t)got;
		if (cn->producer)
			producer_done(cn, r >= 0); /* a ticket comes first, if at all */
		if (r == IO_DONE) {
			int f = p->feed(cn, (const char *)c->rbuf, got);
			if (f == PR_GONE)
				return -1;
			if (f < 0) {
				conn_fail(cn, f);
				return -1;
			}
			if (cn->state != CS_BUSY && cn->state != CS_IDLE)
				return -1;
			continue;
		}
		if (r == IO_WANT_READ || r == IO_WANT_WRITE) {
			cn->read_on = ev_of(r);
			return 0;
		}
		if (r == IO_EOF || r == IO_EOF_UNCLEAN) {
			p->eof(cn, r == IO_EOF);
			if (cn->state == CS_BUSY) {
				/* transfers still hold input kept over a pause:
				 * nothing more to read, nothing to wait for */
				cn->read_on = cn->flush_on = 0;
				session_arm(cn);
			}
			return -1;
		}
		conn_fail(cn, r);
		return -1;
	}
	/* more may be waiting, in the kernel or inside OpenSSL: yield to other
	 * connections, then come back without waiting for the socket */
	cn->read_on = EV_READ;
	return 1;
}

static void session_run(struct conn *cn, short what)
{
	if (cn->flush_on & what) {
		cn->flush_on = 0;
		if (do_flush(cn) < 0)
			return;
	}
	int more = 0;
	if ((cn->read_on | EV_READ) & what) {
		if (!cn->read_on)
			cn->read_on = EV_READ;   /* woken by a resume */
		if ((more = read_loop(cn)) < 0)
			return;
	}
	if (!cn->flush_on && cn->proto->want_flush(cn) && do_flush(cn) < 0)
		return;
	session_arm(cn);
	if (more && cn->op == OP_SESSION)
		event_active(&cn->ev, EV_READ, 1);
}

/* A pooled HTTP/1.1 connection became readable: the server closed it, or
 * sent bytes nobody asked for.  Either way it is no longer usable, except
 * for TLS records that carry no data (session tickets). */
static void idle_check(struct conn *cn, short what)
{
	if (what & EV_TIMEOUT) {
		conn_close(cn);
		return;
	}
	size_t got = 0;
	int r = cn->top->ops->recv(cn, cn->top, cn->client->rbuf, sizeof cn->client->rbuf, &got);
	if (r == IO_WANT_READ)
		return;
	conn_close(cn);
}

int conn_input(struct conn *cn, const char *data, size_t len)
{
	struct evf_client *c = cn->client;
	unsigned was = cn->in_io;
	client_enter(c);
	cn->in_io = 1;
	if (cn->state == CS_CLOSED) {
		/* closed while its caller held it (in_io): only the free is left */
	} else if (!data) {
		cn->proto->eof(cn, 1);
	} else {
		int f = cn->proto->feed(cn, data, len);
		if (f < 0)
			conn_fail(cn, f);
		else if (cn->state != CS_CLOSED && !cn->flush_on && cn->proto->want_flush(cn))
			do_flush(cn);
	}
	int gone = cn->state == CS_CLOSED;
	guard_end(cn, was);
	client_leave(c);
	return gone ? -1 : 0;
}

static void conn_run(struct conn *cn, short what)
{
	switch (cn->op) {
	case OP_CONNECT:
		conn_connect(cn);
		break;
	case OP_SESSION:
		if (cn->state == CS_BUSY || cn->state == CS_IDLE)
			session_run(cn, what);
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
	unsigned was = cn->in_io;   /* 1 only when a test holds the connection */
	client_enter(c);
	cn->in_io = 1;
	cn->flush_soon = 0;
	if (what == EV_TIMEOUT && cn->op != OP_IDLE) {
		if (cn->op == OP_SESSION && cn->state == CS_IDLE)
			conn_close(cn);   /* an idle HTTP/2 connection's time is up */
		else if (cn->op == OP_CONNECT && cn->slot && cn->state == CS_CONNECTING)
			slow_connect(cn);
		else if (cn->op == OP_SESSION && cn->producer)
			producer_done(cn, 1);   /* no ticket in time: none will come */
		else
			event_remove_timer(&cn->ev);   /* left over from an earlier wait */
	} else {
		conn_run(cn, what);
	}
	guard_end(cn, was);
	client_leave(c);
}
