/*
 * redirect.c - the next attempt of a transfer after a redirect (RFC 9110,
 * 15.4): the new URL resolved against the current one, the method and body
 * it keeps or drops, and the body started over for any new attempt.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

/* Before another attempt: the body from its start.  0, or -1 when t was
 * ended (it could not start over) or cancelled from the rewind callback. */
int transfer_body_restart(struct evf_transfer *t)
{
	if (!t->body)
		return 0;
	if (body_rewind(t) == 0)
		return 0;
	if (t->cancelled || t->client->freed) {
		if (!t->client->freed)
			client_discard(t->client, t);
		return -1;
	}
	transfer_finish(t, EVF_ERR_IO, "the request body could not be rewound to send it again");
	return -1;
}

/*
 * A redirect's method (RFC 9110, 15.4): 303 makes any method but HEAD a
 * GET, 301 and 302 a POST a GET (as browsers and curl do), each without
 * the body; 307 and 308 keep both, when the body can be sent again.
 * 0, or -1 when t was ended.
 */
static int redirect_method(struct evf_transfer *t)
{
	int to_get = (t->status == 303 && !t->is_head && strcmp(t->method, "GET") != 0) ||
	             ((t->status == 301 || t->status == 302) && strcmp(t->method, "POST") == 0);
	if (to_get) {
		t->method = "GET";
		t->idempotent = 1;
		t->wants_length = 0;
		body_free(t->body);
		t->body = NULL;
		return 0;
	}
	if (!body_can_resend(t)) {
		char msg[160];
		snprintf(msg, sizeof msg,
		         "cannot follow the %d redirect: the streamed request body cannot be sent "
		         "again without a rewind callback", t->status);
		transfer_finish(t, EVF_ERR_REDIRECT, msg);
		return -1;
	}
	return 0;
}

/* Follow t's redirect (t->location) with a new attempt, or end t. */
void transfer_follow_redirect(struct evf_transfer *t)
{
	const char *why = NULL;
	char *loc = t->location;
	t->location = NULL;
	if (t->redirects >= XO(t)->max_redirects) {
		free(loc);
		char msg[96];
		snprintf(msg, sizeof msg, "more than %u redirects", XO(t)->max_redirects);
		transfer_finish(t, EVF_ERR_TOO_MANY_REDIRECTS, msg);
		return;
	}
	const char *cur = t->effective_url ? t->effective_url : t->url;
	char *next = evf_url_resolve(cur, loc, &why);
	struct evf_url u;
	int rc = next ? evf_url_parse(&u, next, &why) : EVF_ERR_URL;
	if (rc) {
		char msg[320];
		snprintf(msg, sizeof msg, "cannot follow the redirect to '%.200s': %s", loc,
		         why ? why : "invalid");
		free(loc);
		free(next);
		transfer_finish(t, rc == EVF_ERR_NOMEM ? rc : EVF_ERR_REDIRECT, msg);
		return;
	}
	free(loc);
	if (redirect_method(t) != 0) {
		evf_url_clear(&u);
		free(next);
		return;
	}
	if (!policy_same_origin(&t->u, &u))
		t->cross_origin = 1;
	evf_url_clear(&t->u);
	t->u = u;
	transfer_set_host(t, NULL);   /* begin_attempt finds the new one */
	free(t->effective_url);
	t->effective_url = next;
	t->redirects++;
	transfer_reset_attempt(t);
	if (transfer_body_restart(t) == 0)
		transfer_begin_attempt(t, 1);
}

