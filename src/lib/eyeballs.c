/*
 * eyeballs.c - Happy Eyeballs (RFC 8305, 5): the connects of a connection
 * with several addresses race.  The addresses come in dns.c's order (IPv6
 * first, the families interleaved); one attempt starts every
 * eyeballs_delay_ms, or at once when one fails; the first socket to
 * connect becomes the connection's, and the others are closed then.
 *
 * A race that was won leaves its address with the host's DNS answer
 * (dns_cached_won): the host's next races try it first, so that its
 * connections after the first do not wait for a blackholed address again.
 *
 * The sockets being tried, their events and the timer live in a struct
 * race allocated for the connect and freed as it ends, so an established
 * connection keeps nothing of it but a NULL pointer.  The connection's own
 * event stays unarmed meanwhile (tcp_connect returns IO_WAKE); the winner
 * wakes it through conn_race_won, and io.c goes on as after any connect.
 * The connect timeout (the transfer's deadline) bounds the whole race:
 * closing the connection frees it.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/socket.h>

#include "internal.h"

#define RACE_TRIES 4   /* sockets connecting at once, at most */

struct race;

struct race_try {
	struct race *r;
	struct evutil_addrinfo *ai;
	evutil_socket_t fd;        /* -1: a free slot */
	struct event ev;
};

struct race {
	struct conn *cn;
	struct event timer;        /* the next attempt is due, or the slot */
	uint64_t start_us;
	uint64_t next_us;          /* when the next attempt may start */
	struct evutil_addrinfo *first; /* the last winner, tried before the list */
	struct evutil_addrinfo *skip;  /* ...and so skipped in it */
	unsigned ntries;           /* sockets connecting */
	unsigned nfailed;
	int last_errno;
	int resource;              /* a socket could not be made */
	size_t tlen;
	char tried[320];           /* "ADDR (error), ..." of the failed ones */
	char last_addr[64];        /* the last one failed */
	struct race_try tries[RACE_TRIES];
};

/* Note a failed address (and why) for the error text. */
static void race_note(struct race *r, const struct sockaddr *sa, int err)
{
	char *addr = r->last_addr;
	tcp_format_addr(addr, sizeof r->last_addr, sa);
	r->nfailed++;
	r->last_errno = err;
	r->resource |= tcp_resource_errno(err);
	if (r->tlen >= sizeof r->tried - 1)
		return;
	int n = snprintf(r->tried + r->tlen, sizeof r->tried - r->tlen, "%s%s (%s)",
	                 r->tlen ? ", " : "", addr, strerror(err));
	if (n < 0 || (size_t)n >= sizeof r->tried - r->tlen) {
		/* cut: end with "..." rather than half an address */
		r->tlen = sizeof r->tried - 1;
		memcpy(r->tried + sizeof r->tried - 4, "...", 4);
		return;
	}
	r->tlen += (size_t)n;
}

static void try_close(struct race_try *tr)
{
	if (tr->fd < 0)
		return;
	if (event_initialized(&tr->ev))
		event_del(&tr->ev);
	close(tr->fd);
	tr->fd = -1;
	tr->r->ntries--;
}

void race_free(struct conn *cn)
{
	struct race *r = cn->opening ? cn->opening->race : NULL;
	if (!r)
		return;
	for (unsigned i = 0; i < RACE_TRIES; i++)
		try_close(&r->tries[i]);
	event_del(&r->timer);
	free(r);
	cn->opening->race = NULL;
}

/* tr connected: its socket becomes the connection's. */
static void race_win(struct race *r, struct race_try *tr)
{
	struct conn *cn = r->cn;
	if (event_initialized(&tr->ev))
		event_del(&tr->ev);
	cn->fd = tr->fd;
	cn->new_fd = 1;
	cn->opening->ai_cur = tr->ai;
	dns_cached_won(cn->host, tr->ai);
	tr->fd = -1;
	r->ntries--;
	race_free(cn);
}

static void try_cb(evutil_socket_t fd, short what, void *arg);

/* An address not tried yet is left. */
static int race_more(const struct race *r)
{
	return r->first || r->cn->opening->ai_next;
}

/* The next address to try: the last winner first, then the list. */
static struct evutil_addrinfo *race_addr(struct race *r)
{
	struct conn *cn = r->cn;
	struct evutil_addrinfo *a = r->first;
	if (a)
		r->first = NULL;
	else if ((a = cn->opening->ai_next))
		cn->opening->ai_next = a->ai_next;
	if (cn->opening->ai_next && cn->opening->ai_next == r->skip)
		cn->opening->ai_next = cn->opening->ai_next->ai_next;
	return a;
}

/*
 * Start connects to the next addresses, until one is in progress (or
 * connected: 1), the slots are full, or none is left.
 */
static int race_next(struct race *r)
{
	struct conn *cn = r->cn;
	while (race_more(r) && r->ntries < RACE_TRIES) {
		struct evutil_addrinfo *a = race_addr(r);
		evutil_socket_t fd;
		int rc = tcp_open(a, &fd);
		if (rc < 0) {
			race_note(r, a->ai_addr, -rc);
			continue;
		}
		struct race_try *tr = NULL;
		for (unsigned i = 0; i < RACE_TRIES && !tr; i++)
			if (r->tries[i].fd < 0)
				tr = &r->tries[i];
		tr->fd = fd;
		tr->ai = a;
		memset(&tr->ev, 0, sizeof tr->ev);   /* not assigned yet */
		r->ntries++;
		if (rc == 1) {
			race_win(r, tr);
			return 1;
		}
		event_assign(&tr->ev, cn->client->base, fd, EV_WRITE | EV_PERSIST, try_cb, tr);
		if (event_add(&tr->ev, NULL) != 0) {
			race_note(r, a->ai_addr, errno ? errno : ENOMEM);
			close(fd);
			tr->fd = -1;
			r->ntries--;
			continue;
		}
		r->next_us = evf_now_us() + 1000u * (uint64_t)cn->client->cfg.eyeballs_delay_ms;
		return 0;
	}
	return 0;
}

/* The timer: for the next attempt while addresses are left, and for the
 * moment a TLS connect gives its handshake slot back. */
static void race_schedule(struct race *r)
{
	struct conn *cn = r->cn;
	uint64_t now = evf_now_us(), at = 0;
	if (race_more(r) && r->ntries < RACE_TRIES)
		at = r->next_us;
	uint64_t slow = r->start_us + 1000u * (uint64_t)EVF_SLOW_CONNECT_MS;
	if (cn->slot && (!at || slow < at))
		at = slow;
	event_del(&r->timer);
	if (!at)
		return;
	uint64_t us = at > now ? at - now : 0;
	struct timeval tv = {(time_t)(us / 1000000u), (suseconds_t)(us % 1000000u)};
	/* without the timer the connect timeout still ends the race */
	evtimer_add(&r->timer, &tv);
}

/* Every address failed: why, and which error kind. */
static int race_failure(struct race *r)
{
	struct conn *cn = r->cn;
	if (r->nfailed == 1)   /* as tcp_connect_next says it */
		conn_set_why(cn, "connect to %s failed: %s", r->last_addr, strerror(r->last_errno));
	else
		conn_set_why(cn, "connect to %s port %d failed: %s", cn->host->name,
		             cn->host->port, r->tried);
	return r->resource ? EVF_ERR_RESOURCE : EVF_ERR_CONNECT;
}

/* After a change: cn won (its race is freed), failed (no attempt left
 * to wait for), or goes on. */
static void race_settle(struct conn *cn, int won)
{
	if (won) {
		conn_race_won(cn);
		return;
	}
	struct race *r = cn->opening->race;
	if (r->ntries == 0 && !race_more(r) && !cn->opening->dnsq) {
		int err = race_failure(r);
		race_free(cn);
		conn_race_failed(cn, err);
		return;
	}
	race_schedule(r);
}

static void try_cb(evutil_socket_t fd, short what, void *arg)
{
	struct race_try *tr = arg;
	struct race *r = tr->r;
	struct conn *cn = r->cn;
	int err = 0;
	socklen_t len = sizeof err;
	(void)what;
	if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0)
		err = errno;
	if (err == EINPROGRESS || err == EALREADY)
		return;
	if (err == 0) {
		race_win(r, tr);
		race_settle(cn, 1);
		return;
	}
	race_note(r, tr->ai->ai_addr, err);
	try_close(tr);
	/* a failed attempt lets the next one start at once */
	race_settle(cn, race_next(r));
}

static void timer_cb(evutil_socket_t fd, short what, void *arg)
{
	struct race *r = arg;
	struct conn *cn = r->cn;
	(void)fd;
	(void)what;
	if (cn->slot && evf_now_us() >= r->start_us + 1000u * (uint64_t)EVF_SLOW_CONNECT_MS)
		conn_race_slow(cn);
	race_settle(cn, race_more(r) && evf_now_us() >= r->next_us ? race_next(r) : 0);
}

int race_start(struct conn *cn)
{
	struct race *r = calloc(1, sizeof *r);
	if (!r)
		return tcp_connect_next(cn);   /* one address after the other */
	r->cn = cn;
	r->start_us = evf_now_us();
	for (unsigned i = 0; i < RACE_TRIES; i++) {
		r->tries[i].fd = -1;
		r->tries[i].r = r;
	}
	evtimer_assign(&r->timer, cn->client->base, timer_cb, r);
	struct evutil_addrinfo *won = dns_cached_winner(cn->host, cn->opening->ai_next);
	if (won && won != cn->opening->ai_next)
		r->first = r->skip = won;
	cn->opening->race = r;
	if (race_next(r))
		return IO_DONE;   /* connected at once; the race is over */
	if (r->ntries == 0 && !cn->opening->dnsq) {
		/* every address failed at once */
		int err = race_failure(r);
		race_free(cn);
		return err;
	}
	race_schedule(r);
	return IO_WAKE;
}

/*
 * Put the addresses of the second family among those cn has not tried
 * yet, the families taking turns (RFC 8305, 4), the new one first.  Nodes
 * are only inserted, never moved: other connections of the host may be
 * walking the same list (its cached answer, which gets them too).
 */
static void race_insert(struct conn *cn, struct evutil_addrinfo *ai)
{
	struct evutil_addrinfo *head = dns_cached_list(cn->opening->addrs), *prev = head;
	while (prev->ai_next && prev->ai_next != cn->opening->ai_next)
		prev = prev->ai_next;
	/* before the next untried one; after the first when none was tried
	 * (the head belongs to the cached answer) */
	struct evutil_addrinfo **at = &prev->ai_next;
	int before_next = cn->opening->ai_next && cn->opening->ai_next != head;
	if (cn->opening->ai_next == head)
		at = &head->ai_next;
	while (ai) {
		struct evutil_addrinfo *n = ai;
		ai = ai->ai_next;
		n->ai_next = *at;
		*at = n;
		at = &n->ai_next;
		if (*at)
			at = &(*at)->ai_next;   /* one of the other family between */
	}
	if (before_next || !cn->opening->ai_next)
		cn->opening->ai_next = prev->ai_next;
}

void race_add(struct conn *cn, struct evutil_addrinfo *ai)
{
	if (ai)
		race_insert(cn, ai);
	struct race *r = cn->opening->race;
	if (!r)
		return;   /* not connecting yet: it will try them in turn */
	int won = 0;
	if (race_more(r) && (r->ntries == 0 || evf_now_us() >= r->next_us))
		won = race_next(r);
	race_settle(cn, won);
}
