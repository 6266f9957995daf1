/* test_proxy.c - proxy URLs, no_proxy matching and the environment's
 * variables, as tables of cases. */
#include <stdlib.h>
#include <string.h>
#include <event2/event.h>
#include "internal.h"
#include "tap.h"

/* An environment as a NULL-terminated list of "NAME=value". */
static const char *table_getenv(const char *name, void *arg)
{
	const char *const *env = arg;
	size_t n = strlen(name);
	for (; *env; env++)
		if (strncmp(*env, name, n) == 0 && (*env)[n] == '=')
			return *env + n + 1;
	return NULL;
}

static void noproxy_cases(void)
{
	static const struct {
		const char *list, *host;
		int port, want;
	} cases[] = {
		{"example.com", "example.com", 443, 1},
		{"example.com", "www.example.com", 443, 1},       /* suffix */
		{"example.com", "notexample.com", 443, 0},        /* not on a label boundary */
		{".example.com", "example.com", 443, 1},          /* leading dot ignored */
		{".example.com", "a.b.example.com", 80, 1},
		{"EXAMPLE.com", "www.Example.COM", 80, 1},        /* case */
		{"example.com.", "www.example.com", 80, 1},       /* trailing dots */
		{"example.com", "www.example.com.", 80, 1},
		{"com.example", "example.com", 80, 0},
		{"ample.com", "example.com", 80, 0},
		{"www.example.com", "example.com", 80, 0},        /* longer than the host */
		{"*", "anything.test", 80, 1},
		{"*.example.com", "www.example.com", 80, 0},      /* no globbing */
		{"a.test, b.test ,c.test", "b.test", 80, 1},       /* list, blanks */
		{"a.test,,c.test", "c.test", 80, 1},
		{"", "example.com", 80, 0},
		{",", "example.com", 80, 0},
		{"example.com:8443", "example.com", 8443, 1},     /* ports */
		{"example.com:8443", "example.com", 443, 0},
		{"example.com:x", "example.com", 443, 0},
		{"127.0.0.1", "127.0.0.1", 80, 1},                /* addresses */
		{"127.0.0.1", "127.0.0.2", 80, 0},
		{"127.0.0.1:8080", "127.0.0.1", 8080, 1},
		{"127.0.0.1:8080", "127.0.0.1", 80, 0},
		{"0.0.1", "10.0.0.1", 80, 0},                     /* not a name suffix */
		{"localhost", "127.0.0.1", 80, 0},                /* no implicit exemptions */
		{"example.com", "127.0.0.1", 80, 0},
		{"127.0.0.1", "localhost", 80, 0},
		{"10.0.0.0/8", "10.200.3.4", 80, 1},              /* CIDR v4 */
		{"10.0.0.0/8", "11.0.0.1", 80, 0},
		{"192.168.1.128/25", "192.168.1.200", 80, 1},
		{"192.168.1.128/25", "192.168.1.100", 80, 0},
		{"0.0.0.0/0", "203.0.113.9", 80, 1},
		{"10.0.0.0/33", "10.0.0.1", 80, 0},
		{"10.0.0.0/8", "ten.example", 80, 0},
		{"::1", "::1", 80, 1},                            /* IPv6 */
		{"::1", "::2", 80, 0},
		{"[::1]", "::1", 80, 1},
		{"[::1]:8080", "::1", 8080, 1},
		{"[::1]:8080", "::1", 80, 0},
		{"0:0:0:0:0:0:0:1", "::1", 80, 1},               /* compared as addresses */
		{"fd00::/8", "fd12:3456::1", 80, 1},              /* CIDR v6 */
		{"fd00::/8", "fe80::1", 80, 0},
		{"[2001:db8::]/32", "2001:db8:ffff::1", 80, 1},
		{"2001:db8::/129", "2001:db8::1", 80, 0},
		{"10.0.0.0/8", "::ffff:10.0.0.1", 80, 0},         /* families differ */
		{"[::1", "::1", 80, 0},                           /* malformed */
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
		is_int(proxy_noproxy_match(cases[i].list, cases[i].host, cases[i].port), cases[i].want,
		       "no_proxy '%s' %s %s:%d", cases[i].list, cases[i].want ? "matches" : "skips",
		       cases[i].host, cases[i].port);
	is_int(proxy_noproxy_match(NULL, "example.com", 80), 0, "no list matches nothing");
}

static void env_cases(void)
{
	static const struct {
		const char *env[6];
		const char *https, *http, *noproxy;
	} cases[] = {
		{{NULL}, NULL, NULL, NULL},
		{{"https_proxy=A", NULL}, "A", NULL, NULL},
		{{"HTTPS_PROXY=A", NULL}, "A", NULL, NULL},
		{{"https_proxy=a", "HTTPS_PROXY=A", NULL}, "a", NULL, NULL},
		{{"http_proxy=h", NULL}, NULL, "h", NULL},
		/* httpoxy: HTTP_PROXY may come from a request's Proxy header */
		{{"HTTP_PROXY=H", NULL}, NULL, NULL, NULL},
		{{"HTTP_PROXY=H", "all_proxy=x", NULL}, "x", "x", NULL},
		{{"all_proxy=x", NULL}, "x", "x", NULL},
		{{"ALL_PROXY=X", NULL}, "X", "X", NULL},
		{{"all_proxy=x", "ALL_PROXY=X", NULL}, "x", "x", NULL},
		{{"https_proxy=a", "all_proxy=x", NULL}, "a", "x", NULL},
		{{"http_proxy=h", "ALL_PROXY=X", NULL}, "X", "h", NULL},
		{{"https_proxy=", "all_proxy=x", NULL}, "x", "x", NULL},  /* empty = unset */
		{{"no_proxy=n", NULL}, NULL, NULL, "n"},
		{{"NO_PROXY=N", NULL}, NULL, NULL, "N"},
		{{"no_proxy=n", "NO_PROXY=N", NULL}, NULL, NULL, "n"},
		{{"no_proxy=", "NO_PROXY=N", NULL}, NULL, NULL, "N"},
		{{"Https_Proxy=m", "No_Proxy=m", NULL}, NULL, NULL, NULL}, /* mixed case: no */
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		void *env = (void *)cases[i].env;
		const char *name = NULL;
		is_str(proxy_env_pick(table_getenv, env, 1, &name), cases[i].https,
		       "env case %zu: https", i);
		is_str(proxy_env_pick(table_getenv, env, 0, NULL), cases[i].http,
		       "env case %zu: http", i);
		is_str(proxy_env_pick(table_getenv, env, -1, NULL), cases[i].noproxy,
		       "env case %zu: no_proxy", i);
	}
	const char *env[] = {"HTTPS_PROXY=A", NULL}, *name = NULL;
	proxy_env_pick(table_getenv, env, 1, &name);
	is_str(name, "HTTPS_PROXY", "the variable used is named");
}

static void url_cases(void)
{
	static const struct {
		const char *url;
		int rc;
		const char *host;
		int port, tls;
		const char *shown, *auth;
	} cases[] = {
		{"http://proxy.test:3128", 0, "proxy.test", 3128, 0, "http://proxy.test:3128", NULL},
		{"proxy.test:3128", 0, "proxy.test", 3128, 0, "http://proxy.test:3128", NULL},
		{"http://proxy.test", 0, "proxy.test", 1080, 0, "http://proxy.test:1080", NULL},
		{"https://proxy.test", 0, "proxy.test", 443, 1, "https://proxy.test:443", NULL},
		{"HTTPS://proxy.test:8443/", 0, "proxy.test", 8443, 1, "https://proxy.test:8443", NULL},
		{"http://[::1]:3128", 0, "::1", 3128, 0, "http://[::1]:3128", NULL},
		/* "Aladdin:open sesame", RFC 7617's example */
		{"http://Aladdin:open%20sesame@p.test:1", 0, "p.test", 1, 0, "http://p.test:1",
		 "Proxy-Authorization: Basic QWxhZGRpbjpvcGVuIHNlc2FtZQ=="},
		{"http://u:p%40ss@p.test:1", 0, "p.test", 1, 0, "http://p.test:1",
		 "Proxy-Authorization: Basic dTpwQHNz"},
		{"socks5://p.test:1080", EVF_ERR_INVALID, NULL, 0, 0, NULL, NULL},
		{"http://p.test:1/path", EVF_ERR_INVALID, NULL, 0, 0, NULL, NULL},
		{"http://p.test:1/?q", EVF_ERR_INVALID, NULL, 0, 0, NULL, NULL},
		{"http://p.test:0", EVF_ERR_INVALID, NULL, 0, 0, NULL, NULL},
		{"http://p.test:70000", EVF_ERR_INVALID, NULL, 0, 0, NULL, NULL},
		{"http://", EVF_ERR_INVALID, NULL, 0, 0, NULL, NULL},
		{"http://a b", EVF_ERR_INVALID, NULL, 0, 0, NULL, NULL},
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		struct proxy *p = NULL;
		const char *why = NULL;
		int rc = proxy_parse(cases[i].url, &p, &why);
		is_int(rc, cases[i].rc, "proxy URL %s: %d", cases[i].url, cases[i].rc);
		if (rc != 0) {
			ok(p == NULL && why && *why, "proxy URL %s refused: %s", cases[i].url,
			   why ? why : "(none)");
			continue;
		}
		is_str(p->host, cases[i].host, "proxy URL %s: host", cases[i].url);
		is_int(p->port, cases[i].port, "proxy URL %s: port", cases[i].url);
		is_int(p->tls, cases[i].tls, "proxy URL %s: tls", cases[i].url);
		is_str(p->shown, cases[i].shown, "proxy URL %s: shown without credentials",
		       cases[i].url);
		is_str(p->auth, cases[i].auth, "proxy URL %s: Proxy-Authorization", cases[i].url);
		proxy_free(p);
	}
}

static void config_cases(void)
{
	evf_config *cfg = evf_config_new();
	is_int(evf_config_set_proxy(cfg, "ftp://x:1"), EVF_ERR_INVALID, "set_proxy refuses ftp://");
	is_int(evf_config_set_proxy(cfg, "http://u:p@x:1"), 0, "set_proxy takes credentials");
	is_int(evf_config_set_proxy(cfg, ""), 0, "set_proxy takes \"\" (none)");
	is_int(evf_config_set_noproxy(cfg, "a.test,10.0.0.0/8"), 0, "set_noproxy");
	is_int(evf_config_use_env_proxy(cfg, 1), 0, "use_env_proxy");
	is_int(evf_config_set_proxy_ca_file(cfg, "/nonexistent"), 0, "set_proxy_ca_file");
	is_int(evf_config_set_proxy_insecure(cfg, 1), 0, "set_proxy_insecure");
	is_int(evf_config_set_proxy(NULL, "http://x:1"), EVF_ERR_INVALID, "set_proxy(NULL cfg)");
	struct evf_config copy;
	is_int(evf_config_copy(&copy, cfg), 0, "a config with proxies copies");
	is_str(copy.proxy, "", "the copy keeps the proxy");
	is_str(copy.noproxy, "a.test,10.0.0.0/8", "the copy keeps the no_proxy list");
	evf_config_clear(&copy);
	evf_config_free(cfg);
	is_str(evf_error_name(EVF_ERR_PROXY), "proxy", "EVF_ERR_PROXY is named proxy");
	is_int(EVF_ERR_PROXY, -19, "EVF_ERR_PROXY is -19");
}

/* The library reads the environment only when asked, HTTP_PROXY never. */
static void client_env_cases(void)
{
	struct event_base *base = event_base_new();
	setenv("https_proxy", "http://env.test:3128", 1);
	setenv("HTTP_PROXY", "http://httpoxy.test:1", 1);
	setenv("no_proxy", "direct.test", 1);
	evf_config *cfg = evf_config_new();
	int err = 0;
	evf_client *c = evf_client_new(base, cfg, &err);
	ok(c && !c->proxies, "without use_env_proxy the environment is not read");
	evf_client_free(c);
	evf_config_use_env_proxy(cfg, 1);
	c = evf_client_new(base, cfg, &err);
	ok(c && c->proxies && c->proxies->https && !c->proxies->http,
	   "with use_env_proxy: https_proxy read, HTTP_PROXY not");
	if (c && c->proxies && c->proxies->https) {
		is_str(c->proxies->https->host, "env.test", "the environment's proxy host");
		struct evf_url u = {.tls = 1, .host = "www.direct.test", .port = 443};
		ok(proxy_for(c, &u) == NULL, "no_proxy from the environment applies");
		u.host = "other.test";
		ok(proxy_for(c, &u) == c->proxies->https, "other hosts go through the proxy");
		u.tls = 0;
		ok(proxy_for(c, &u) == NULL, "http:// goes direct (HTTP_PROXY ignored)");
	}
	evf_client_free(c);
	evf_config_set_noproxy(cfg, "");
	evf_config_set_proxy(cfg, "https://explicit.test:8443");
	c = evf_client_new(base, cfg, &err);
	ok(c && c->proxies && c->proxies->http && c->proxies->https &&
	   strcmp(c->proxies->https->host, "explicit.test") == 0 && c->proxies->ctx,
	   "set_proxy wins over the environment, for both schemes, with a TLS context");
	evf_client_free(c);
	evf_config_set_proxy(cfg, NULL);
	setenv("https_proxy", "socks5://bad.test:1", 1);
	char why[256] = "";
	c = evf_client_new2(base, cfg, &err, why, sizeof why);
	ok(!c && err == EVF_ERR_INVALID, "an unusable https_proxy fails evf_client_new");
	ok(strstr(why, "https_proxy") != NULL, "the reason names the variable: %s", why);
	evf_config_free(cfg);
	unsetenv("https_proxy");
	unsetenv("HTTP_PROXY");
	unsetenv("no_proxy");
	event_base_free(base);
}

int main(void)
{
	noproxy_cases();
	env_cases();
	url_cases();
	config_cases();
	client_env_cases();
	return done_testing();
}
