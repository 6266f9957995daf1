/*
 * test_loop.c - event_base_dispatch returns by itself once the library
 * has nothing left to do, as evfetch(3) says: no transfer, no name being
 * resolved, no pooled connection.
 *
 * Each case runs in a child process of its own, all at once: a fresh
 * event_base and client, a few transfers, and event_base_dispatch with no
 * event_base_loopexit anywhere.  The child reports how long after the last
 * on_done the dispatch returned; an alarm kills a child whose loop never
 * ends.  The cases cover the client's own evdns_base from resolv.conf
 * (the default), one with evf_config_set_dns_servers and the caller's own
 * evdns_base, each with keep-alive off, with keep-alive on and
 * evf_client_close_idle in the last on_done, and with keep-alive on alone,
 * where the pooled connection keeps the loop for its 30 s.
 *
 * usage: test_loop HTTPS_PORT CA_FILE DNS_PORT
 *   HTTPS_PORT  tests/lib/nginx.sh's nginx on 127.0.0.1, whose certificate
 *               also names evfetch.test, serving /n/ANY
 *   DNS_PORT    tests/servers/fakedns.py answering evfetch.test=127.0.0.1
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <sys/wait.h>

#include <event2/dns.h>
#include <event2/event.h>

#include "evfetch.h"
#include "tap.h"

#define NFETCH 3               /* transfers per case */
#define PROMPT_MS 1000         /* "at once": within this of the last on_done */
#define POOL_S 30              /* EVF_IDLE_TIMEOUT_SEC */
#define ALARM_S 45             /* a loop still running then never ends */

enum dns_kind { DNS_DEFAULT, DNS_SERVERS, DNS_CALLER };

struct lcase {
	const char *name;
	enum dns_kind dns;
	int by_name;       /* fetch https://evfetch.test:PORT/ (needs DNS) */
	int keepalive;
	int close_idle;    /* evf_client_close_idle in the last on_done */
	int refused;       /* fetch from a port where nothing listens */
	int want_pool;     /* the dispatch should last POOL_S after on_done */
};

static const struct lcase cases[] = {
	{"default DNS, keep-alive off", DNS_DEFAULT, 0, 0, 0, 0, 0},
	{"default DNS, keep-alive on, evf_client_close_idle", DNS_DEFAULT, 0, 1, 1, 0, 0},
	{"default DNS, keep-alive on", DNS_DEFAULT, 0, 1, 0, 0, 1},
	{"default DNS, keep-alive on, connection refused", DNS_DEFAULT, 0, 1, 0, 1, 0},
	{"dns_servers, a name, keep-alive off", DNS_SERVERS, 1, 0, 0, 0, 0},
	{"dns_servers, a name, keep-alive on, evf_client_close_idle", DNS_SERVERS, 1, 1, 1, 0, 0},
	{"dns_servers, a name, keep-alive on", DNS_SERVERS, 1, 1, 0, 0, 1},
	{"the caller's evdns_base, a name, keep-alive off", DNS_CALLER, 1, 0, 0, 0, 0},
	{"the caller's evdns_base, a name, keep-alive on, evf_client_close_idle",
	 DNS_CALLER, 1, 1, 1, 0, 0},
};
#define NCASES (sizeof cases / sizeof cases[0])

static const char *https_port, *ca_file, *dns_port;

static double now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

struct run {
	const struct lcase *lc;
	evf_client *client;
	int left, ok, closed;
	double last_done;
};

static void on_done(evf_transfer *t, const evf_result *res, void *arg)
{
	struct run *r = arg;
	int as_expected = r->lc->refused ? res->error == EVF_ERR_CONNECT
	                                 : res->error == EVF_OK && res->status == 200;
	r->ok += as_expected;
	if (!as_expected)
		fprintf(stderr, "%s: %s: %s\n", res->url, evf_error_name(res->error),
		        res->detail);
	if (--r->left == 0) {
		r->last_done = now_ms();
		if (r->lc->close_idle)
			r->closed = evf_client_close_idle(r->client);
	}
}

/* One case, in the child: writes "OK CLOSED MS" to fd, exits 0. */
static int run_case(const struct lcase *lc, int fd)
{
	struct event_base *base = event_base_new();
	struct evdns_base *dns = NULL;
	evf_config *cfg = evf_config_new();
	char url[256], dnsaddr[64];
	if (!base || !cfg)
		return 1;
	snprintf(dnsaddr, sizeof dnsaddr, "127.0.0.1:%s", dns_port);
	evf_config_set_ca_file(cfg, ca_file);
	evf_config_set_keepalive(cfg, lc->keepalive);
	if (lc->dns == DNS_SERVERS && evf_config_set_dns_servers(cfg, dnsaddr) != 0)
		return 1;
	if (lc->dns == DNS_CALLER) {
		dns = evdns_base_new(base, EVDNS_BASE_DISABLE_WHEN_INACTIVE);
		if (!dns || evdns_base_nameserver_ip_add(dns, dnsaddr) != 0)
			return 1;
		evf_config_set_evdns_base(cfg, dns);
	}
	int err = 0;
	struct run r = {lc, NULL, 0, 0, -1, 0};
	if (!(r.client = evf_client_new(base, cfg, &err))) {
		fprintf(stderr, "evf_client_new: %s\n", evf_strerror(err));
		return 1;
	}
	evf_config_free(cfg);
	evf_callbacks cb = {.on_done = on_done};
	for (int i = 0; i < NFETCH; i++) {
		if (lc->refused)
			snprintf(url, sizeof url, "http://127.0.0.1:1/n/%d", i);
		else
			snprintf(url, sizeof url, "https://%s:%s/n/%d",
			         lc->by_name ? "evfetch.test" : "127.0.0.1", https_port, i);
		evf_request req = {.url = url};
		if (!evf_fetch(r.client, &req, &cb, &r, &err))
			return 1;
		r.left++;
	}
	event_base_dispatch(base);
	double after = now_ms() - r.last_done;
	dprintf(fd, "%d %d %.0f\n", r.ok, r.closed, r.left ? -1.0 : after);
	evf_client_free(r.client);
	if (dns)
		evdns_base_free(dns, 0);
	event_base_free(base);
	return 0;
}

int main(int argc, char **argv)
{
	if (argc != 4) {
		fprintf(stderr, "usage: test_loop HTTPS_PORT CA_FILE DNS_PORT\n");
		return 2;
	}
	https_port = argv[1];
	ca_file = argv[2];
	dns_port = argv[3];

	pid_t pids[NCASES];
	int fds[NCASES];
	double start = now_ms();
	fflush(stdout);
	for (size_t i = 0; i < NCASES; i++) {
		int p[2];
		if (pipe(p) != 0)
			return 2;
		pids[i] = fork();
		if (pids[i] < 0)
			return 2;
		if (pids[i] == 0) {
			close(p[0]);
			alarm(ALARM_S);
			_exit(run_case(&cases[i], p[1]));
		}
		close(p[1]);
		fds[i] = p[0];
	}
	for (size_t i = 0; i < NCASES; i++) {
		const struct lcase *lc = &cases[i];
		int status = 0;
		while (waitpid(pids[i], &status, 0) < 0 && errno == EINTR)
			;
		char buf[128] = "";
		ssize_t n = read(fds[i], buf, sizeof buf - 1);
		close(fds[i]);
		int nok = -1, closed = -1;
		double after = -1;
		if (n > 0)
			buf[n] = '\0';
		int got = n > 0 && sscanf(buf, "%d %d %lf", &nok, &closed, &after) == 3;
		if (!ok(got && WIFEXITED(status) && WEXITSTATUS(status) == 0,
		        "%s: event_base_dispatch returns by itself", lc->name)) {
			if (WIFSIGNALED(status))
				diag("killed by signal %d: still running after %d s",
				     WTERMSIG(status), ALARM_S);
			continue;
		}
		ok(nok == NFETCH, "%s: %d transfers ended as expected (%d)", lc->name, NFETCH, nok);
		if (lc->want_pool) {
			ok(after >= POOL_S * 1000 - 100 && after < POOL_S * 1000 + 3000,
			   "%s: %d s after the last on_done, when the pooled connection closes "
			   "(%.0f ms)", lc->name, POOL_S, after);
		} else {
			ok(after >= 0 && after < PROMPT_MS,
			   "%s: within %d ms of the last on_done (%.0f ms)", lc->name, PROMPT_MS,
			   after);
		}
		if (lc->close_idle)
			ok(closed >= 1 && closed <= NFETCH,
			   "%s: evf_client_close_idle closed the pooled connections (%d)",
			   lc->name, closed);
	}
	diag("all cases took %.1f s", (now_ms() - start) / 1e3);
	ok(evf_client_close_idle(NULL) == EVF_ERR_INVALID,
	   "evf_client_close_idle(NULL) is EVF_ERR_INVALID");
	return done_testing();
}
