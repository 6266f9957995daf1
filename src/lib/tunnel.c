/*
 * tunnel.c - the CONNECT tunnel, a transport layer: it sends "CONNECT
 * host:port" through the layer below (the socket, or TLS to an https
 * proxy), reads the proxy's answer with http1.c's parser, and from a 2xx
 * on passes bytes through, the bytes that came after the answer's head
 * first.  TLS to the origin runs on top of it.
 *
 * The stacks of proxied connections, bottom to top:
 *   tcp -> connect -> tls          an https:// URL through an http proxy
 *   tcp -> ptls -> connect -> tls  ...through an https proxy
 *   tcp                            an http:// URL through an http proxy
 *   tcp -> ptls                    ...through an https proxy
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

enum { TUN_SEND, TUN_HEAD, TUN_OPEN };

struct tunnel {
	char *req;                 /* the CONNECT request, until sent */
	size_t req_len, req_off;
	struct http1_parser parser;
	char *extra;               /* bytes after the answer's head */
	size_t extra_len, extra_off;
	int status;
	int state;
};

static int tunnel_head(void *ctx, const evf_response *resp)
{
	struct tunnel *tn = ctx;
	tn->status = resp->status;
	return 0;
}

static int tunnel_body(void *ctx, const char *data, size_t len)
{
	(void)ctx, (void)data, (void)len;
	return 0;   /* never called: the parser reads no body (head_request) */
}

/* What a refusing status tells the user. */
static const char *status_hint(int status)
{
	switch (status) {
	case 401:   /* tinyproxy's answer */
	case 407: return "proxy credentials needed";
	case 403: return "the proxy refused the target";
	case 502: return "the proxy could not reach the target";
	case 503: return "the proxy is unavailable";
	case 504: return "the proxy timed out reaching the target";
	default: return "the proxy refused the tunnel";
	}
}

static const char *proxy_name(struct conn *cn)
{
	return conn_peer(cn);   /* the socket's peer is the proxy */
}

static int tunnel_connect(struct conn *cn, const struct layer *l)
{
	struct tunnel *tn = cn->tun;
	const struct layer *below = l->below;
	while (tn->state == TUN_SEND) {
		size_t put = 0;
		int r = below->ops->send(cn, below, tn->req + tn->req_off, tn->req_len - tn->req_off,
		                         &put);
		if (r != IO_DONE)
			return r;
		tn->req_off += put;
		if (tn->req_off == tn->req_len) {
			free(tn->req);
			tn->req = NULL;
			tn->state = TUN_HEAD;
		}
	}
	if (tn->state == TUN_OPEN)
		return IO_DONE;
	struct evf_client *c = cn->client;
	for (;;) {
		size_t got = 0, used = 0;
		int r = below->ops->recv(cn, below, c->rbuf, sizeof c->rbuf, &got);
		if (r == IO_EOF || r == IO_EOF_UNCLEAN) {
			conn_set_why(cn, "proxy %s closed the connection during CONNECT",
			             proxy_name(cn));
			return EVF_ERR_PROXY;
		}
		if (r != IO_DONE)
			return r;
		int f = http1_feed(&tn->parser, (const char *)c->rbuf, got, &used);
		if (f < 0) {
			conn_set_why(cn, "the answer of proxy %s to CONNECT is unusable: %s",
			             proxy_name(cn), http1_why(&tn->parser));
			return EVF_ERR_PROXY;
		}
		if (f == 0)
			continue;
		if (tn->status < 200 || tn->status > 299) {
			/* its body is never read: the connection closes */
			conn_set_why(cn, "proxy %s answered CONNECT with %d: %s", proxy_name(cn),
			             tn->status, status_hint(tn->status));
			return EVF_ERR_PROXY;
		}
		if (used < got) {
			/* the origin's first bytes, in the same read */
			if (!(tn->extra = malloc(got - used))) {
				conn_set_why(cn, "out of memory for a tunnel");
				return EVF_ERR_NOMEM;
			}
			memcpy(tn->extra, c->rbuf + used, got - used);
			tn->extra_len = got - used;
		}
		http1_release(&tn->parser);
		tn->state = TUN_OPEN;
		return IO_DONE;
	}
}

static int tunnel_recv(struct conn *cn, const struct layer *l, void *buf, size_t len,
                       size_t *got)
{
	struct tunnel *tn = cn->tun;
	if (tn->extra) {
		size_t n = tn->extra_len - tn->extra_off;
		if (n > len)
			n = len;
		memcpy(buf, tn->extra + tn->extra_off, n);
		tn->extra_off += n;
		if (tn->extra_off == tn->extra_len) {
			free(tn->extra);
			tn->extra = NULL;
		}
		*got = n;
		return IO_DONE;
	}
	return l->below->ops->recv(cn, l->below, buf, len, got);
}

static int tunnel_send(struct conn *cn, const struct layer *l, const void *buf, size_t len,
                       size_t *put)
{
	return l->below->ops->send(cn, l->below, buf, len, put);
}

static int tunnel_pending(struct conn *cn, const struct layer *l)
{
	return (cn->tun && cn->tun->extra) || l->below->ops->pending(cn, l->below);
}

static void tunnel_close(struct conn *cn, const struct layer *l)
{
	struct tunnel *tn = cn->tun;
	(void)l;
	if (!tn)
		return;
	if (tn->state != TUN_OPEN)
		http1_release(&tn->parser);
	free(tn->req);
	free(tn->extra);
	free(tn);
	cn->tun = NULL;
}

static const struct layer_ops tunnel_ops = {
	.name = "connect",
	.connect = tunnel_connect,
	.recv = tunnel_recv,
	.send = tunnel_send,
	.pending = tunnel_pending,
	.close = tunnel_close,
};

static const struct layer tunnel_on_tcp = {&tunnel_ops, &evf_tcp_layer};
static const struct layer tunnel_on_ptls = {&tunnel_ops, &evf_ptls_layer};
static const struct layer tls_on_tunnel = {&evf_tls_ops, &tunnel_on_tcp};
static const struct layer tls_on_ptls_tunnel = {&evf_tls_ops, &tunnel_on_ptls};

/* The SSL of TLS to an https proxy, checked against its name. */
static int proxy_tls_setup(struct conn *cn, const char *name)
{
	int r = tls_ssl_setup(cn, cn->client->proxies->ctx, &cn->proxy_ssl, name,
	                  !cn->client->cfg.proxy_insecure);
	if (r == EVF_ERR_TLS)
		conn_set_why(cn, "cannot check the proxy's certificate against '%s'", name);
	else if (r < 0)
		conn_set_why(cn, "out of memory for TLS to the proxy");
	return r;
}

/* The CONNECT request for cn's host, with the proxy's credentials. */
static char *connect_request(const struct host *h, const struct proxy *p, size_t *len)
{
	int v6 = strchr(h->name, ':') != NULL;
	char *r = evf_asprintf("CONNECT %s%s%s:%d HTTP/1.1\r\nHost: %s%s%s:%d\r\n%s%s"
	                       "\r\n",
	                       v6 ? "[" : "", h->name, v6 ? "]" : "", h->port, v6 ? "[" : "",
	                       h->name, v6 ? "]" : "", h->port, p->auth ? p->auth : "",
	                       p->auth ? "\r\n" : "");
	if (r)
		*len = strlen(r);
	return r;
}

int proxy_conn_setup(struct conn *cn)
{
	struct host *h = cn->host;
	const struct proxy *p = proxy_of_host(h);
	if (!p)
		return 0;
	/* the stack first: closing it frees what is set up below */
	if (!h->tls)   /* plain http: absolute-form requests to the proxy */
		cn->top = p->tls ? &evf_ptls_layer : &evf_tcp_layer;
	else
		cn->top = p->tls ? &tls_on_ptls_tunnel : &tls_on_tunnel;
	if (p->tls) {
		int r = proxy_tls_setup(cn, p->host);
		if (r < 0)
			return r;
	}
	if (!h->tls)
		return 0;
	struct tunnel *tn = calloc(1, sizeof *tn);
	if (!tn)
		goto nomem;
	cn->tun = tn;
	if (!(tn->req = connect_request(h, p, &tn->req_len)))
		goto nomem;
	const struct evf_config *cfg = &cn->client->cfg;
	struct http1_limits lim = {cfg->max_header_bytes, cfg->max_headers};
	static const struct http1_sink sink = {.on_head = tunnel_head, .on_body = tunnel_body};
	/* as for HEAD: the answer's head alone; a 2xx has no body (RFC 9110,
	 * 9.3.6), and the body of a refusal is not read */
	http1_init(&tn->parser, &lim, &sink, tn, 1);
	return 0;
nomem:
	conn_set_why(cn, "out of memory for a proxy tunnel");
	return EVF_ERR_NOMEM;
}

void proxy_dial(const struct host *h, const char **name, int *port)
{
	const struct proxy *p = proxy_of_host(h);
	*name = p ? p->host : h->name;
	*port = p ? p->port : h->port;
}
