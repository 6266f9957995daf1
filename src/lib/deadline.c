/*
 * deadline.c - the connect and idle deadlines of a client's transfers: two
 * lists kept in deadline order and one timer for the earliest (transfer.c
 * puts transfers on them and takes them off).
 */
#include <stdio.h>

#include "internal.h"

/*
 * Connect and idle deadlines.  Transfers mostly share the client's
 * connect and idle timeouts, so a deadline set now mostly belongs at the
 * tail: one list per kind, kept in deadline order by appending (and, for
 * idle, by moving a transfer to the tail each time bytes arrive), walking
 * back from the tail only for a transfer whose own timeout is shorter
 * (evf_transfer_set_option), and one client timer for the earliest head.
 * That costs a transfer no timer of its own (the list reuses its queue
 * link, free while it connects or reads) and adding is O(1).  Only the
 * total timeout and retry waits, whose times vary, take a timer per
 * transfer, and only when they are configured.
 */
static uint64_t dl_deadline(const struct evf_transfer *t)
{
	return t->dl == DL_CONNECT ? t->connect_deadline_us
	                           : t->last_io_us + 1000u * (uint64_t)XO(t)->idle_timeout_ms;
}

/* Point the client's deadline timer at the earliest head, if it is not
 * set for that time or earlier already. */
static void dl_arm(struct evf_client *c)
{
	uint64_t d = 0;
	struct evf_transfer *t;
	if ((t = TAILQ_FIRST(&c->dl_connect)))
		d = dl_deadline(t);
	if ((t = TAILQ_FIRST(&c->dl_idle)) && (!d || dl_deadline(t) < d))
		d = dl_deadline(t);
	if (!d || (c->dl_at && c->dl_at <= d))
		return;   /* nothing to wait for, or woken early: dl_cb re-arms */
	uint64_t now = evf_now_us();
	uint64_t left = d > now ? d - now : 0;
	struct timeval tv = {(time_t)(left / 1000000u), (suseconds_t)(left % 1000000u)};
	if (evtimer_add(&c->dl_ev, &tv) != 0) {
		/* deadlines that cannot be kept end their transfers */
		c->dl_failed = 1;
		event_active(&c->dl_ev, EV_TIMEOUT, 1);
	}
	c->dl_at = d;
}

void dl_remove(struct evf_transfer *t)
{
	if (t->dl == DL_NONE)
		return;
	struct evf_client *c = t->client;
	TAILQ_REMOVE(t->dl == DL_CONNECT ? &c->dl_connect : &c->dl_idle, t, link);
	t->dl = DL_NONE;
	if (c->dl_at && TAILQ_EMPTY(&c->dl_connect) && TAILQ_EMPTY(&c->dl_idle)) {
		/* nothing left to time: a set timer would keep the caller's
		 * loop running */
		event_del(&c->dl_ev);
		c->dl_at = 0;
		c->dl_failed = 0;
	}
}

/* Put t on a deadline list, in order: at the tail, where a deadline set
 * now belongs; a connect deadline set earlier (while t waited for its
 * host's first connection) goes further up. */
void dl_append(struct evf_transfer *t, int kind)
{
	struct evf_client *c = t->client;
	struct xfer_list *l = kind == DL_CONNECT ? &c->dl_connect : &c->dl_idle;
	dl_remove(t);
	t->dl = (unsigned)kind;
	struct evf_transfer *p = TAILQ_LAST(l, xfer_list);
	uint64_t d = dl_deadline(t);
	while (p && dl_deadline(p) > d)
		p = TAILQ_PREV(p, xfer_list, link);
	if (p)
		TAILQ_INSERT_AFTER(l, p, t, link);
	else
		TAILQ_INSERT_HEAD(l, t, link);
	dl_arm(c);
}

void transfer_deadlines_cb(evutil_socket_t fd, short what, void *arg)
{
	struct evf_client *c = arg;
	struct evf_transfer *t;
	char why[160];
	c->dl_at = 0;
	client_enter(c);
	uint64_t now = evf_now_us();
	while (!c->freed && (t = TAILQ_FIRST(&c->dl_connect)) &&
	       (c->dl_failed || t->connect_deadline_us <= now)) {
		dl_remove(t);
		if (c->dl_failed)
			snprintf(why, sizeof why, "cannot set a timer (out of memory)");
		else
			snprintf(why, sizeof why, "no connection to %s%s%s within %u ms", t->u.authority,
			         proxy_of_host_shown(t->host) ? " through proxy " : "",
			         proxy_of_host_shown(t->host) ? proxy_of_host_shown(t->host) : "",
			         XO(t)->connect_timeout_ms);
		transfer_finish(t, c->dl_failed ? EVF_ERR_RESOURCE : EVF_ERR_TIMEOUT, why);
	}
	while (!c->freed && (t = TAILQ_FIRST(&c->dl_idle)) &&
	       (c->dl_failed || dl_deadline(t) <= now)) {
		if ((t->paused || (body_waiting(t) && !t->got_response_byte)) && !c->dl_failed) {
			/* a paused transfer is not idle: its wait starts over */
			t->last_io_us = now;
			dl_append(t, DL_IDLE);
			continue;
		}
		dl_remove(t);
		if (t->skip && !c->dl_failed) {
			transfer_skip_stalled(t);   /* the dropped body stalled */
			continue;
		}
		if (c->dl_failed)
			snprintf(why, sizeof why, "cannot set a timer (out of memory)");
		else
			snprintf(why, sizeof why, "%s %s for %u ms",
			         t->state == XS_REQUEST ? "could not send to" : "no data from",
			         t->u.authority, XO(t)->idle_timeout_ms);
		transfer_finish(t, c->dl_failed ? EVF_ERR_RESOURCE : EVF_ERR_TIMEOUT, why);
	}
	c->dl_failed = 0;
	if (!c->freed)
		dl_arm(c);
	client_leave(c);
}
