/*
 * proxy.h - proxies (proxy.c, tunnel.c): which proxy a URL takes, the
 * client's parsed proxies, and the stacks of proxied connections.
 * Included at the end of internal.h, whose types it uses.
 */
#ifndef EVF_PROXY_H
#define EVF_PROXY_H

struct proxy {
	char *host;                /* without brackets */
	int port;
	int tls;                   /* an https:// proxy */
	char *auth;                /* "Proxy-Authorization: Basic ...", or NULL */
	char *shown;               /* scheme://host:port, never the credentials */
};

/* A client's proxies, per scheme of the target (NULL: direct). */
struct proxies {
	struct proxy *http, *https;
	char *noproxy;
	SSL_CTX *ctx;              /* TLS to https proxies */
};

/* Parse a proxy URL ("host:port" is http://); EVF_ERR_INVALID with *why. */
int proxy_parse(const char *url, struct proxy **out, const char **why);
void proxy_free(struct proxy *p);
/* Does the no_proxy list exempt host (no brackets) on port? */
int proxy_noproxy_match(const char *list, const char *host, int port);
typedef const char *(*proxy_getenv_fn)(const char *name, void *arg);
/* The environment's proxy for https (1) or http (0) URLs, or its no_proxy
 * (-1), by curl's precedence; *name says which variable.  NULL: none. */
const char *proxy_env_pick(proxy_getenv_fn get, void *arg, int https, const char **name);
/* evf_client_new: c->proxies from cfg and (if asked) the environment;
 * 0 or an error with c->why. */
int proxy_client_setup(struct evf_client *c);
void proxy_client_free(struct evf_client *c);
/* The proxy u goes through, NULL when direct. */
const struct proxy *proxy_for(const struct evf_client *c, const struct evf_url *u);
const struct proxy *proxy_of_host(const struct host *h);
/* For texts and results: h's proxy as scheme://host:port, NULL when
 * direct (h may be NULL). */
const char *proxy_of_host_shown(const struct host *h);
/* A proxied connection's stack (tunnel.c); 0 or an error with why. */
int proxy_conn_setup(struct conn *cn);
/* The name and port a connection of h dials and resolves. */
void proxy_dial(const struct host *h, const char **name, int *port);
/* HTTP/1.1 through an http proxy: the absolute-form target (fresh), and
 * the proxy's Proxy-Authorization line for t's connection, if any. */
char *proxy_absolute_target(const struct evf_transfer *t);
const char *proxy_auth_line(const struct evf_transfer *t);

#endif /* EVF_PROXY_H */
