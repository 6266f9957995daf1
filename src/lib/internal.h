/*
 * internal.h - types shared by the layers of libevfetch (not installed).
 *
 * Layers, top to bottom: client.c (scheduler, queue, limits, completion),
 * transfer.c (one request/response, retries, timers), pool.c (hosts, the
 * connections a transfer can use, TLS sessions), the protocols h1.c
 * (HTTP/1.1 on http1.c's llhttp parser) and h2.c (HTTP/2 on nghttp2), io.c
 * (the connection state machine: the one place that arms libevent events),
 * the transport layers tcp.c and tls.c, dns.c (evdns and --resolve),
 * url.c, config.c, error.c.  docs/INTERNALS.md draws them.
 *
 * Calls go down by name; calls up, from a connection to the transfers on
 * it, go through struct xfer_upcalls only, and none of them re-enters the
 * scheduler: a transfer that must wait or try again is queued on its host
 * and the client's kick runs the queue from the loop.
 */
#ifndef EVF_INTERNAL_H
#define EVF_INTERNAL_H

#include <sys/queue.h>
#include <stdint.h>
#include <stddef.h>
#include <time.h>

#include <event2/event.h>
#include <event2/event_struct.h>
#include <event2/util.h>
#include <openssl/ssl.h>

#include "evfetch.h"
#include "http1.h"

#define EVF_HIDDEN __attribute__((visibility("hidden")))

struct evf_client;
struct conn;
struct host;

/* ------------------------------------------------------------ utilities */

uint64_t evf_now_us(void);
char *evf_strdup(const char *s);
char *evf_strndup(const char *s, size_t n);
/* Append n bytes to a growing buffer (first capacity first, doubled as
 * needed), then a NUL that *len does not count; -1 when memory ran out. */
int evf_buf_add(char **buf, size_t *len, size_t *cap, const void *p, size_t n, size_t first);
/* printf into a fresh heap string; NULL on failure. */
char *evf_asprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* ----------------------------------------------------------------- config */

struct resolve_entry {
	char *host;
	int port;
	char *addr; /* numeric, without brackets */
};

struct evf_config {
	unsigned max_transfers;
	unsigned max_per_host;
	char *ca_file, *ca_path;
	int insecure;
	struct resolve_entry *resolves;
	size_t nresolves;
	char *dns_servers;
	struct evdns_base *dns;
	unsigned connect_timeout_ms, total_timeout_ms;
	char *user_agent;
	char **headers;
	size_t nheaders;
	int fail_on_http_error;
	int no_keepalive;
	int no_session_reuse;
	int follow_redirects;
	unsigned max_redirects;
	int decode;
	uint64_t max_body;
	unsigned retries, retry_base_ms, retry_max_ms;
	unsigned idle_timeout_ms;
	unsigned max_handshakes;
	size_t max_header_bytes;
	unsigned max_headers;
	int http_version;   /* enum evf_http_version */
	unsigned max_idle;        /* 0: chosen by evf_client_new */
	/* politeness: between request starts to one host, the larger */
	uint64_t max_rate;          /* bytes a second read over all connections */
	uint64_t host_rate_gap_us;  /* 1 / --rate-per-host */
	uint64_t host_delay_us;     /* --delay-per-host */
	void (*log_fn)(const char *msg, void *arg);
	void *log_arg;
	evf_debug_fn debug_fn;
	void *debug_arg;
	int no_keep_head;         /* evf_config_set_keep_headers 0 */
	uint64_t idle_memory;     /* bytes of idle connections kept */
	unsigned host_cache;      /* hosts remembered without connections */
	unsigned dns_cache_ms;    /* how long an answer serves, 0: not kept */
	int ip_family;            /* EVF_IP_ANY, EVF_IP_V4 or EVF_IP_V6 */
	unsigned eyeballs_delay_ms; /* between connect attempts (RFC 8305) */
	/* proxies (proxy.c): "" for proxy or noproxy means none */
	char *proxy, *noproxy, *proxy_ca_file;
	int proxy_insecure;
	int env_proxy;            /* read the environment at evf_client_new */
	/* mutual TLS (tls_cert.c); key_pass is wiped once the key is loaded */
	char *cert_file, *key_file, *key_pass;
};

#define EVF_DEFAULT_CONNECT_TIMEOUT_MS 30000
#define EVF_DEFAULT_IDLE_TIMEOUT_MS 60000
#define EVF_DEFAULT_HOST_CACHE 20000   /* see evfetch(3): about 2 KB each */
#define EVF_MAX_HOST_CACHE 10000000
#define EVF_DEFAULT_DNS_CACHE_MS 60000
#define EVF_DEFAULT_EYEBALLS_DELAY_MS 250
#define EVF_MAX_EYEBALLS_DELAY_MS 60000
#define EVF_DEFAULT_IDLE_MEMORY (128u << 20)
/* What an idle connection holds, measured (docs/PERFORMANCE.md): the
 * socket and its struct; OpenSSL's connection with its peer certificate
 * and session (read and write buffers are given back while idle); an
 * nghttp2 session (its 16 KB frame buffer stays allocated). */
#define EVF_IDLE_COST_TCP 2048u
#define EVF_IDLE_COST_TLS 18432u
#define EVF_IDLE_COST_H2 30720u
#define EVF_MAX_IDLE_LIMIT 1000000

/*
 * The settings a transfer may override (evf_transfer_set_option): the
 * client's copy in c->opts, or the transfer's own once it sets one.
 */
struct xfer_opts {
	uint64_t max_body;
	unsigned connect_timeout_ms, total_timeout_ms, idle_timeout_ms;
	unsigned max_redirects;
	unsigned retries, retry_base_ms, retry_max_ms;
	unsigned char decode, fail_on_http_error, follow_redirects;
	unsigned char no_keep_head;  /* EVF_OPT_KEEP_HEADERS 0 */
	unsigned expect_ms;        /* Expect: 100-continue, the wait; 0: not sent */
};
void xfer_opts_from_config(struct xfer_opts *o, const struct evf_config *cfg);

int evf_config_copy(struct evf_config *dst, const struct evf_config *src);
void evf_config_clear(struct evf_config *cfg);
void evf_config_defaults(struct evf_config *cfg);
/* Cleanse and free the passphrase of the client key (tls_cert.c). */
void evf_config_forget_pass(struct evf_config *cfg);
/* Validate a "Name: value" header line; 0 or EVF_ERR_INVALID. */
int evf_header_line_valid(const char *line);

/* -------------------------------------------------------------------- url */

struct evf_url {
	int tls;          /* https */
	char *host;       /* without IPv6 brackets */
	int port;
	int ipv6;         /* host is an IPv6 literal */
	char *target;     /* path and query, never empty */
	char *authority;  /* Host header value: host[:port] */
};

/* Parse an absolute http(s) URL.  0, or EVF_ERR_URL with *why set. */
int evf_url_parse(struct evf_url *u, const char *url, const char **why);
void evf_url_clear(struct evf_url *u);
/*
 * Resolve a reference (a Location value) against an absolute base URL
 * (RFC 3986, 5.2).  A fresh string, or NULL with *why set.
 */
char *evf_url_resolve(const char *base, const char *ref, const char **why);

/* ----------------------------------------------------------------- policy */

int policy_is_redirect(int status);
int policy_retry_status(int status);
int policy_retry_error(int err);
int64_t policy_retry_after_ms(const char *value, time_t now);
uint64_t policy_backoff_ms(unsigned base_ms, unsigned max_ms, unsigned attempt,
                           int64_t retry_after_ms);
int policy_same_origin(const struct evf_url *a, const struct evf_url *b);
/* Authorization, Cookie, Host and the like: dropped when a redirect leaves
 * the origin. */
int policy_credential_header(const char *line);
/* Content-Length and Transfer-Encoding: the library frames bodies. */
int policy_framing_header(const char *line);
/* GET, HEAD, PUT, DELETE, OPTIONS, TRACE (RFC 9110, 9.2.2). */
int policy_idempotent(const char *method);
/* A method token of at most 64 characters. */
int policy_method_valid(const char *method);

/* -------------------------------------------------------------------- dns */

struct evf_addrinfo;
/* more 1: the first family's answer; the query goes on, and calls again
 * (more 0) with the other family's addresses or an error. */
typedef void (*dns_cb)(int err, struct evutil_addrinfo *ai, int more, void *arg);
struct dns_query;

/*
 * Resolve host:port.  The callback may run before dns_resolve returns
 * (numeric hosts, --resolve entries, the hosts file); *q is then NULL.
 * The callback owns ai (free with evutil_freeaddrinfo).
 */
int dns_resolve(struct evf_client *c, const char *host, int port,
                dns_cb cb, void *arg, struct dns_query **q);
void dns_cancel(struct dns_query *q);
int dns_setup(struct evf_client *c);
/* Answers kept per host (see dns.c); references count. */
struct host;
struct dns_cached *dns_cached_new(struct evutil_addrinfo *ai);
struct evutil_addrinfo *dns_cached_list(const struct dns_cached *d);
void dns_cached_put(struct dns_cached *d);
uint64_t dns_cached_expiry(const struct dns_cached *d);
/* A connect race of h won at a's address: h's next races try it first.
 * dns_cached_winner: the node of list with that address, or NULL. */
void dns_cached_won(struct host *h, const struct evutil_addrinfo *a);
struct evutil_addrinfo *dns_cached_winner(struct host *h, struct evutil_addrinfo *list);
/* h's answer while it is fresh, with a reference for the caller; NULL
 * when there is none (a stale one is dropped). */
struct dns_cached *dns_cached_get(struct host *h);
void dns_cached_keep(struct host *h, struct dns_cached *d);
void dns_cached_drop(struct host *h);
void dns_teardown(struct evf_client *c);

/* ------------------------------------------------------------- transport */

/* Results of transport operations; errors are negative evf_error values. */
enum {
	IO_DONE = 0,
	IO_WANT_READ = 1,
	IO_WANT_WRITE = 2,
	IO_EOF = 3,         /* orderly close (TCP FIN, TLS close_notify) */
	IO_EOF_UNCLEAN = 4, /* TLS peer vanished without close_notify */
	IO_WAKE = 5,        /* no socket to wait on yet: the layer wakes the
	                     * connection itself (racing connects) */
};

/*
 * A connection's transport is a stack of layers: the socket at the bottom,
 * TLS (and later a proxy tunnel) on top of it.  A layer reads and writes
 * through the one below it; its state lives in the connection (the socket,
 * the SSL), so the stacks themselves are constant.  connect brings a layer
 * up once every layer below it is up: a TCP connect, a TLS handshake.
 * Every call returns IO_DONE, IO_WANT_READ or IO_WANT_WRITE (the socket
 * event to wait for before calling again), IO_EOF*, or a negative error
 * with the reason in the client's why.
 */
struct layer;
struct layer_ops {
	const char *name;
	int (*connect)(struct conn *cn, const struct layer *l);
	int (*recv)(struct conn *cn, const struct layer *l, void *buf, size_t len, size_t *got);
	int (*send)(struct conn *cn, const struct layer *l, const void *buf, size_t len,
	            size_t *put);
	/* bytes received and kept inside the layer, not yet returned by recv */
	int (*pending)(struct conn *cn, const struct layer *l);
	/* say goodbye (close_notify) and free the layer's state */
	void (*close)(struct conn *cn, const struct layer *l);
};

struct layer {
	const struct layer_ops *ops;
	const struct layer *below;  /* NULL for the socket */
};

extern const struct layer evf_tcp_layer;   /* the socket alone */
extern const struct layer evf_tls_layer;   /* TLS over the socket */
extern const struct layer evf_ptls_layer;  /* TLS to an https proxy, over the socket */
extern const struct layer_ops evf_tls_ops; /* the origin's TLS, on any layer */

/* tcp.c */
int tcp_connect_next(struct conn *cn);
/* A nonblocking socket connecting to a, in *fd: 1 connected already, 0
 * in progress, or -errno (no socket).  tcp_resource_errno: an errno that
 * means the process or system ran out of something. */
int tcp_open(const struct evutil_addrinfo *a, evutil_socket_t *fd);
int tcp_resource_errno(int e);
/* cn's peer (the address that won), looked up once into its peer_*: 0,
 * or -1 when it has none. */
int conn_remote(struct conn *cn);
/* "address:port" of sa into buf, for error texts. */
const char *tcp_format_addr(char *buf, size_t len, const struct sockaddr *sa);

/* eyeballs.c: connects to several addresses racing (RFC 8305, 5), one
 * started every eyeballs_delay_ms, or at once when one fails.  The first
 * to connect becomes cn->fd (IO_DONE at once, or IO_WAKE and then
 * conn_race_won); the others are closed. */
int race_start(struct conn *cn);
void race_free(struct conn *cn);
/* The second family's addresses (NULL: none) came while cn connects:
 * they go to the end of its list, and its race goes on with them. */
void race_add(struct conn *cn, struct evutil_addrinfo *ai);
/* Record a failure text in the client's scratch buffer. */
void conn_set_why(struct conn *cn, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* "address:port" of cn's peer, for an error text (a scratch buffer). */
const char *conn_peer(struct conn *cn);

/* tls.c */
SSL_CTX *tls_ctx_new(const struct evf_config *cfg, char *why, size_t whylen);
/* tls_ident.c: client certificates per transfer */
struct tls_ident;
/* At the start of t: the identity it asked for, loaded or shared (t->ident);
 * 0, or EVF_ERR_TLS/NOMEM with why. */
int tls_ident_resolve(struct evf_transfer *t, char *why, size_t whylen);
struct tls_ident *tls_ident_ref(struct tls_ident *id);
void tls_ident_put(struct tls_ident *id);
SSL_CTX *tls_ident_ctx(const struct tls_ident *id);
void tls_idents_free(struct evf_client *c);
/* t's request for one, and its reference, dropped */
void tls_ident_req_free(struct evf_transfer *t);
BIO_METHOD *tls_bio_method_new(void);
int tls_conn_setup(struct conn *cn);
/* The protocol ALPN chose: 2 for h2, 1 otherwise. */
int tls_alpn_h2(struct conn *cn);
/* Free the sessions a host keeps. */
void tls_sessions_free(struct host *h);
/*
 * Hosts on the LRU of unused hosts: when nothing h keeps serves any more
 * (its newest session's end, now if it has none); freeze keeps only its
 * newest live session, as DER (a fifth of the memory of the objects, the
 * peer certificate included, but parsing it again costs about what a
 * resumed handshake does), and drops the verification cache; thaw brings
 * the session back when h is used again.
 */
uint64_t tls_host_expiry(const struct host *h);
void tls_host_freeze(struct host *h);
void tls_host_thaw(struct host *h);
struct tls_verified;
void tls_verified_free(struct tls_verified *v);
/* For proxy.c and tunnel.c too: a context with what all of ours share;
 * an SSL of cn in *slot on our BIO for name (SNI, and checked unless
 * verify is 0; EVF_ERR_TLS when it cannot be). */
SSL_CTX *tls_ctx_common(char *why, size_t whylen);
int tls_ssl_setup(struct conn *cn, SSL_CTX *ctx, SSL **slot, const char *name, int verify);
/* "TLSv1.3, TLS_AES_128_GCM_SHA256, ALPN h2; server certificate: subject
 * ..., issuer ..., expires ..." for the debug function. */
void tls_describe(struct conn *cn, char *buf, size_t len);
/* Why loading path failed, from (and emptying) OpenSSL's error queue. */
const char *tls_load_reason(const char *path, int is_dir);
/* tls_cert.c: the client certificate into ctx (1, or 0 with why), and
 * what an alert ending a connection says about it ("" or " (...)"). */
int tls_ctx_client_cert(SSL_CTX *ctx, const struct evf_config *cfg, char *why,
                        size_t whylen);
const char *tls_client_cert_hint(const struct conn *cn, unsigned long e);

/* ------------------------------------------------------------ connection */

enum conn_state {
	CS_RESOLVING,
	CS_HS_WAIT,   /* resolved, no socket yet: waiting for a handshake slot */
	CS_CONNECTING,
	CS_HANDSHAKING,
	CS_BUSY,      /* serving transfers */
	CS_IDLE,      /* in the pool, serving none */
	CS_CLOSED,
};

/* What the connection waits for, and resumes when the socket is ready. */
enum conn_op {
	OP_NONE,
	OP_CONNECT,    /* a layer is coming up */
	OP_SESSION,    /* a protocol runs: reads, and writes what it queued */
	OP_IDLE,       /* pooled HTTP/1.1: any byte or EOF ends it */
	OP_ARM_FAILED, /* event_add failed: io_cb fails the connection */
};

/*
 * A protocol on an established connection.  HTTP/1.1 carries one transfer
 * at a time, HTTP/2 as many as the server's streams allow.
 */
struct proto_ops {
	const char *name;
	int version;        /* 1 (HTTP/1.1: one transfer at a time) or 2 */
	/* How many more transfers cn can take now (0 after GOAWAY). */
	unsigned (*capacity)(const struct conn *cn);
	/* Take t (t->conn is cn) and queue its request; 0 or an error for t. */
	int (*submit)(struct conn *cn, struct evf_transfer *t);
	/* Send what is queued through the transport: IO_DONE when all is out,
	 * IO_WANT_* when blocked, or an error that fails the connection. */
	int (*flush)(struct conn *cn);
	int (*want_flush)(const struct conn *cn);
	/*
	 * Before a read: PR_READ to read, PR_STOP when nothing should be read
	 * now (paused), PR_AGAIN when kept input was delivered instead (look
	 * again), PR_GONE when the connection left the caller's hands.
	 */
	int (*poll)(struct conn *cn);
	/* Bytes arrived: 0, PR_GONE as above, or an error that fails it. */
	int (*feed)(struct conn *cn, const char *data, size_t len);
	/* The peer closed the connection: the protocol ends what it can. */
	void (*eof)(struct conn *cn, int clean);
	/* t leaves cn (done, cancelled, timed out) without harming the
	 * others; keep: the response ended cleanly and cn may serve again. */
	void (*detach)(struct conn *cn, struct evf_transfer *t, int keep);
	void (*resume)(struct conn *cn, struct evf_transfer *t);
	/* t's body reader has data again after saying it had none */
	void (*body_ready)(struct conn *cn, struct evf_transfer *t);
	/* cn fails or closes with transfers on it: each is told, once. */
	void (*fail)(struct conn *cn, int err, const char *why);
	void (*release)(struct conn *cn);
};

enum { PR_READ = 0, PR_STOP = 1, PR_AGAIN = 2, PR_GONE = 3 };

extern const struct proto_ops evf_h1_proto;
extern const struct proto_ops evf_h2_proto;

struct h2_session;

/* What a connection needs until its socket is connected, and then never
 * again: kept apart, so that an open connection does not carry it. */
struct conn_open {
	struct dns_query *dnsq;
	struct race *race;         /* connect attempts racing, until one wins */
	struct dns_cached *addrs;  /* the answer it tries */
	struct evutil_addrinfo *ai, *ai_next; /* ai: dns_resolve's, until dns_finish */
	struct evutil_addrinfo *ai_cur; /* the address being tried */
};

struct conn {
	struct evf_client *client;
	struct host *host;
	const struct layer *top;   /* the transport stack */
	const struct proto_ops *proto; /* NULL until the transport is up */
	SSL *ssl;
	SSL *proxy_ssl;            /* TLS to an https proxy (tunnel.c) */
	struct tunnel *tun;        /* the CONNECT layer's state (tunnel.c) */
	struct event ev;           /* the one I/O event: EV_READ, EV_WRITE or both */
	struct conn_open *opening; /* until the socket is connected (socket_up) */
	unsigned char peer_addr[16]; /* the peer, once known (conn_remote) */
	unsigned short peer_port;
	unsigned char peer_family;
	struct evf_transfer *xfer; /* the transfer that opened it, until the
	                            * transport is up; then HTTP/1.1's one */
	TAILQ_ENTRY(conn) link;    /* host idle or shared list, or a handshake queue */
	TAILQ_ENTRY(conn) lru;     /* on the client's idle_lru while idle */
	TAILQ_ENTRY(conn) tlink;   /* on its throttled list (--limit-rate) */
	uint64_t idle_since;
	int64_t cert_not_after;    /* the leaf's notAfter, for every transfer it serves */
	union {
		struct http1_parser http;  /* HTTP/1.1 */
		struct h2_session *h2;     /* HTTP/2 */
	} p;
	/* the small fields together, so the struct has no holes */
	evutil_socket_t fd;
	int last_errno;
	unsigned requests;         /* requests served so far */
	int dns_result;
	unsigned char state;       /* enum conn_state */
	unsigned char op;          /* enum conn_op */
	unsigned char armed;       /* EV_READ|EV_WRITE currently added */
	unsigned char flush_on;    /* the event a blocked flush waits for, or 0 */
	unsigned char read_on;     /* the event a read waits for, or 0 */
	unsigned char up;          /* layers up, from the socket */
	unsigned dns_sync : 1;     /* inside dns_resolve: answers are kept */
	unsigned dns_answered : 1;
	unsigned gated : 1;        /* CS_HS_WAIT on its host's gate, not hs_wait */
	unsigned producer : 1;     /* counted in host->producers */
	unsigned got_session : 1;  /* the server gave this connection a session */
	unsigned slot : 1;         /* holds one of the client's handshake slots */
	unsigned promised : 1;     /* a ticket of its host is kept for it */
	unsigned in_io : 1;        /* io_cb is on the stack: conn_close defers the free */
	unsigned shared : 1;       /* on its host's shared list */
	unsigned connecting : 1;   /* counted in host->nconnecting */
	unsigned new_fd : 1;       /* the socket changed: the event must be assigned again */
	unsigned flush_soon : 1;   /* io_cb flushes what transfers queued this turn */
	unsigned throttled : 1;    /* on the client's throttled list */
	unsigned pooled : 1;       /* on its host's idle list and idle_lru */
	unsigned cert_asked : 1;   /* the server asked for a client certificate */
};

TAILQ_HEAD(conn_list, conn);

#define EVF_HOST_SESSIONS 4        /* TLS sessions kept per host */
#define EVF_WARM_HOSTS 1024        /* unused hosts whose sessions stay objects */

/*
 * Every change of a connection's or a transfer's state goes through one
 * setter, which asserts that nothing leaves CS_CLOSED or XS_DONE and, in a
 * build with -DEVF_TRACE, prints each change with the line that made it.
 */
void conn_set_state_(struct conn *cn, enum conn_state st, int line);
#define conn_set_state(cn, st) conn_set_state_((cn), (st), __LINE__)

/* io.c */
/* Open a connection for t, which waits for it in XS_CONNECT. */
void conn_open(struct host *h, struct evf_transfer *t);
void conn_close(struct conn *cn);
/* The protocol changed what it waits for: re-arm cn's event. */
void conn_update(struct conn *cn);
/* Hand t to the established connection cn: 0, or an error for t alone
 * (0 also when sending failed the connection, which told t). */
int conn_submit(struct conn *cn, struct evf_transfer *t);
/* t leaves cn: see proto_ops.detach; a cn still connecting is closed. */
void conn_detach(struct conn *cn, struct evf_transfer *t, int keep);
/* cn serves nobody now: keep it in the pool; 1 when it could not be
 * watched and was closed (and, outside io.c's guard, freed). */
int conn_park(struct conn *cn);
/* Fail cn and every transfer on it (c->why says why), from a protocol. */
void conn_fail(struct conn *cn, int err);
/* Open the socket of a resolved connection; a TLS one takes a handshake
 * slot first (the caller checked there is one). */
void conn_start(struct conn *cn);
/* A session arrived for h, or one of its handshakes ended: let waiting
 * connections go, one per TLS 1.3 ticket. */
void conn_gate_release(struct host *h);
/* t's body reader has data again: send it. */
void conn_body_ready(struct conn *cn, struct evf_transfer *t);
/* t was resumed: look at its connection from the loop. */
void conn_resume(struct conn *cn, struct evf_transfer *t);
/* For the fuzzer: bytes (NULL: the peer's EOF) arrive on cn's protocol as
 * io_cb hands them over.  -1 when that closed cn, which is then freed
 * unless the caller holds it with in_io set; a held connection found
 * closed is only freed (when in_io is cleared first). */
int conn_input(struct conn *cn, const char *data, size_t len);
/* --limit-rate: the client's rate_ev; throttled connections read again. */
void conn_rate_cb(evutil_socket_t fd, short what, void *arg);
/* eyeballs.c's racing connect of cn: won (cn->fd is the socket: bring
 * the layers up), failed with err (why in c->why), or slow (give the
 * handshake slot back, see EVF_SLOW_CONNECT_MS). */
void conn_race_won(struct conn *cn);
void conn_race_failed(struct conn *cn, int err);
void conn_race_slow(struct conn *cn);
/* The transport, for the protocols. */
int conn_send(struct conn *cn, const void *buf, size_t len, size_t *put);
int conn_pending(struct conn *cn);

/* h2.c */
int h2_session_new(struct conn *cn);

/* ------------------------------------------------------------------- pool */

struct evf_transfer;
TAILQ_HEAD(xfer_list, evf_transfer);
struct dns_cached;

struct host {
	struct evf_client *client;
	int tls;
	char *name;                /* host name without brackets */
	int port;
	unsigned nconns;           /* open or opening connections */
	unsigned nconnecting;      /* ...of them not yet established */
	struct conn_list idle;     /* serving nothing */
	unsigned nidle;
	struct conn_list shared;   /* HTTP/2, serving streams, not draining */
	TAILQ_HEAD(, evf_transfer) waiting;
	/* TLS sessions for resumption, oldest first: a TLS 1.3 session (a
	 * ticket) serves one connection, an older one any number */
	SSL_SESSION *sessions[EVF_HOST_SESSIONS];
	unsigned nsessions;
	/* On the LRU, its newest session as DER instead (tls_host_freeze) */
	unsigned char *sess_der;
	size_t sess_der_len;
	uint64_t expires_us;       /* on the LRU: nothing it keeps serves after */
	/* A host without a session lets one handshake go first and holds
	 * its other new connections on the gate until tickets come, one
	 * connection per ticket: resumed handshakes cost half the CPU and
	 * less memory than full ones. */
	unsigned producers;        /* handshakes that may still bring a session */
	unsigned npromised;        /* tickets kept for connections in hs_wait */
	struct conn_list gate;
	unsigned no_tickets : 1;   /* a handshake ended without a session */
	struct tls_verified *verified; /* the last chain that passed verification */
	struct tls_ident *ident;   /* its client certificate (part of the key) */
	struct host *hnext;        /* hash chain */
	TAILQ_ENTRY(host) unused;  /* on the client's list of unused hosts */
	TAILQ_ENTRY(host) changed; /* on the client's list of hosts to service */
	/* Queued transfers that wait for a connection of the host to come
	 * free rather than open one more (see client.c's pick) */
	struct xfer_list deferred;
	unsigned ndeferred;
	unsigned nrefs;            /* transfers whose t->host it is */
	TAILQ_ENTRY(host) dlink;   /* on the client's deferred_hosts */
	TAILQ_ENTRY(host) wlink;   /* on the client's woken_hosts */
	struct dns_cached *dns;    /* its last answer, while fresh */
	/* Politeness: no request of the host starts before the later of
	 * these (0: no limit); gate_ev wakes it then */
	uint64_t next_start_us;    /* the gap after the last start */
	uint64_t paused_until_us;  /* a 429 or 503 with Retry-After */
	struct event *gate_ev;
	unsigned on_unused : 1;
	unsigned on_changed : 1;
	unsigned on_deferred : 1;
	unsigned on_woken : 1;
	unsigned frozen : 1;       /* on the LRU, past the warm end (see pool.c) */
	unsigned asleep : 1;       /* gated: its deferred transfers are off
	                            * deferred_hosts until gate_ev */
	unsigned proto : 2;        /* what its last connection spoke: 0 unknown, 1 or 2 */
	unsigned open_failed : 1;  /* its last new connection closed before it was ready */
	unsigned proxied : 1;      /* through its scheme's proxy: a tunnel for
	                            * https, else name and port are the proxy's */
};

struct host *pool_host(struct evf_client *c, const struct evf_url *u, struct tls_ident *ident);
/*
 * A connection of h that can take one more transfer now: an HTTP/2 one
 * with a free stream, else an idle one (taken off the idle list).
 */
struct conn *pool_find(struct host *h);
/* Should a transfer of h wait for a connection being opened (whose ALPN
 * answer may bring HTTP/2 streams) rather than open one? */
int pool_should_wait(const struct host *h);
void pool_put_idle(struct conn *cn);
void pool_remove_idle(struct conn *cn);
/* An idle connection closes unused: counts against keeping many. */
void pool_idle_missed(struct evf_client *c);
/* HTTP/2: cn serves streams (shared) or stops taking new ones. */
void pool_share(struct conn *cn);
void pool_unshare(struct conn *cn);
int pool_can_open(const struct host *h);
/* Every connection of h is in use or being opened: a queued transfer of
 * h would have to open one more. */
int pool_host_busy(const struct host *h);
/* Politeness: h may not start a request now (a rate or a pause). */
static inline int pool_host_gated(const struct host *h)
{
	uint64_t g = h->next_start_us > h->paused_until_us ? h->next_start_us : h->paused_until_us;
	return g && g > evf_now_us();
}
/* A request of h starts: the next one waits the configured gap. */
void pool_host_started(struct host *h);
/* h asked for a pause (Retry-After): nothing of it starts for ms. */
void pool_host_pause(struct host *h, uint64_t ms, int status);
/* h is gated: keep its deferred transfers asleep until gate_ev fires. */
void pool_host_sleep(struct host *h);
/* h is about to get a connection or a waiter: keep it off the LRU. */
void pool_mark_used(struct host *h);
/*
 * A connection of h closed, got free streams or went idle, or a transfer
 * left its queue: the client's kick serves h's waiting transfers from the
 * loop (never from inside the caller of this).
 */
void pool_host_changed(struct host *h);
/* The next host pool_host_changed queued, taken off the list; NULL when
 * none is left. */
struct host *pool_next_changed(struct evf_client *c);
/* h's queue was served: keep it cached on the LRU if nothing uses it. */
void pool_host_settle(struct host *h);
void pool_free_all(struct evf_client *c);

/* ------------------------------------------------------------------- body */

/* body.c: a request body's source, read for the wire by h1.c and h2.c. */
struct xfer_body;
enum { BODY_WAIT = -2000 };  /* body_read: the reader has nothing yet */
/* The body's size, or -1 when unknown (chunked on HTTP/1.1). */
int64_t body_size(const struct evf_transfer *t);
/* Up to cap bytes of t's body into buf: the count, 0 at its end,
 * BODY_WAIT, or a negative evf_error with t->detail set (a callback's
 * EVF_ERR_CANCELLED when t or its client went away inside it). */
long body_read(struct evf_transfer *t, char *buf, size_t cap);
/* Start the body over for another attempt: 0, or -1 when it cannot be. */
int body_rewind(struct evf_transfer *t);
/* Could the body be sent again from its start? */
int body_can_resend(const struct evf_transfer *t);
/* t's body source waits for evf_transfer_resume_body. */
int body_waiting(const struct evf_transfer *t);
/* evf_transfer_resume_body: the reader may have data again (asked from
 * inside the reader, it takes effect once that returns). */
int body_resume(struct evf_transfer *t);
/* Read the body again from the loop, soon. */
void body_wake_soon(struct evf_transfer *t);
/* Every byte of the body was read. */
int body_at_end(const struct evf_transfer *t);
/* Expect: 100-continue: the body waits (BODY_WAIT) until body_continue,
 * at most ms after the request went out.  0, or EVF_ERR_NOMEM. */
int body_expect(struct evf_transfer *t, unsigned ms);
/* The body may go: a 100 came, or the wait is over (from the loop). */
void body_continue(struct evf_transfer *t);
/* Is the attempt's request carrying Expect: 100-continue? */
int body_expecting(const struct evf_transfer *t);
void body_free(struct xfer_body *b);
/* The request's framing header: "Content-Length: N", "Transfer-Encoding:
 * chunked" (HTTP/1.1 with a size unknown), "" (HTTP/2 with a size
 * unknown), or NULL when the request has no body and needs no header. */
const char *body_framing_line(struct evf_transfer *t, int h2);
/*
 * HTTP/1.1: send t's body through cn, framed (chunks with their size
 * lines when the size is not known): IO_DONE once all of it is out,
 * IO_WANT_* while the socket is full, BODY_WAIT, or an error (as
 * body_read's, or the transport's).
 */
int body_send(struct evf_transfer *t, struct conn *cn);

/* debug.c: for the client's debug function, when it has one */
void debug_connection(struct evf_transfer *t, struct conn *cn, int reused);
void debug_head(struct evf_transfer *t, const evf_response *resp);
/* nva: h2.c's k nghttp2_nv fields, :method, :scheme, :authority, :path first */
void debug_request_h2(struct evf_transfer *t, const void *nva, size_t k);
/* http1.c's on_wire: an HTTP/1.1 response's bytes as they arrived, for
 * EVF_DEBUG_WIRE_IN from its final head on; data NULL: an interim
 * response ended.  debug_wire_reset: a new attempt starts. */
void debug_wire(struct evf_transfer *t, const char *data, size_t len);
struct xfer_ext;
void debug_wire_reset(struct xfer_ext *x);

/* What a transfer needs only when it uses the request API's less common
 * settings, allocated then (xfer_ext): an open transfer stays small. */
struct ident_req;
struct xfer_ext {
	char *method_buf;          /* a method that is not a static name */
	struct xfer_opts opts;     /* its own options, with own_opts */
	struct resp_head *trailers;
	struct ident_req *ident_req; /* evf_transfer_set_client_cert, until start */
	struct tls_ident *ident;   /* its client certificate, NULL: the client's */
	int own_opts;
	/* EVF_DEBUG_WIRE_IN (debug.c): the raw bytes of an HTTP/1.1 response
	 * until its final head was parsed (bounded by the head's limit) */
	char *wire;
	size_t wire_len, wire_cap;
	unsigned wire_head : 1;    /* the final head was parsed */
	unsigned wire_on : 1;      /* ...and wire was passed on: bytes go straight */
};
/* t's ext, made when it has none; NULL when memory ran out. */
struct xfer_ext *xfer_ext(struct evf_transfer *t);
void xfer_ext_free(struct evf_transfer *t);

/* The response head kept for evf_transfer_header (transfer.c). */
struct resp_head;
void resp_head_free(struct resp_head *h);
/* Keep n fields (of one parser buffer) in *dst, replacing what it held:
 * 0 or EVF_ERR_NOMEM. */
int resp_head_keep(struct resp_head **dst, const evf_header *fields, size_t n);

/* --------------------------------------------------------------- transfer */

enum xfer_state {
	XS_QUEUED,     /* on the client's pending or ready queue */
	XS_WAIT_HOST,  /* waiting for a connection slot of its host */
	XS_CONNECT,    /* its connection is being opened */
	XS_REQUEST,    /* sending the request */
	XS_RESPONSE,   /* receiving the response */
	XS_RETRY_WAIT, /* waiting to try again */
	XS_DONE,       /* finished, on the completion queue */
};

struct evf_transfer {
	struct evf_client *client;
	TAILQ_ENTRY(evf_transfer) link; /* pending, host waiting, deadline or done queue */
	TAILQ_ENTRY(evf_transfer) live_link; /* on the client's live list */
	char *url;                 /* as given: in urlbuf */
	char **headers;
	size_t nheaders;
	const char *method;        /* a static name, or ext->method_buf */
	struct xfer_body *body;    /* the request body, NULL for none */
	struct resp_head *head;    /* the final response's fields, from on_head */
	struct xfer_ext *ext;      /* what few transfers need (xfer_ext) */
	evf_callbacks cb;
	void *arg;
	struct evf_url u;
	struct host *host;
	struct conn *conn;
	void *stream;              /* its HTTP/2 stream */
	struct event *timer;       /* only when a total deadline or a retry may need it */
	char *effective_url;       /* after redirects; NULL = url */
	unsigned redirects, retries;
	char *location;            /* the redirect being followed */
	int64_t retry_after_ms;    /* from Retry-After, -1 if none */
	struct decoder *dec;       /* content decoding, when asked and needed */
	uint64_t raw_bytes;        /* body bytes before decoding */
	uint64_t last_io_us;       /* for the idle timeout */
	uint64_t start_us;         /* left the client's queue (evf_fetch: queued since) */
	uint64_t attempt_us;       /* the current attempt began; phase timings count from it */
	uint64_t queued_us;        /* time in the client's queue */
	uint64_t connect_deadline_us;
	uint64_t total_deadline_us;
	char *req;                 /* request head */
	size_t req_len, req_off;
	const char *parse_why;     /* evf_url_parse's reason, when parse_rc */
	int parse_rc;              /* the URL, parsed in evf_fetch */
	/* result */
	char *detail;
	uint64_t bytes;
	const char *tls_version;
	const char *tls_cipher;    /* OpenSSL's static name, like tls_version */
	int64_t cert_not_after;
	evf_timings timings;
	unsigned char remote_addr[16]; /* its connection's peer: v4 in the first 4 */
	unsigned short remote_port;
	unsigned char remote_family;   /* AF_INET, AF_INET6, 0 when none */
	/* the small fields together, so the struct has no holes */
	enum xfer_state state;
	int error;                 /* result, with status */
	int status;
	unsigned timer_set : 1;
	unsigned reused : 1;         /* a pooled or shared connection serves it */
	unsigned got_response_byte : 1;
	unsigned retried_stale : 1;
	unsigned counted_active : 1;
	unsigned in_callback : 1;
	unsigned cancelled : 1;
	unsigned on_live : 1;
	unsigned paused : 1;
	unsigned head_delivered : 1; /* the caller has seen this response */
	unsigned cross_origin : 1;   /* a redirect left the first origin */
	unsigned timer_failed : 1;   /* evtimer_add failed: timer_cb ends it */
	unsigned dl : 2;             /* on the client's connect or idle deadline list */
	unsigned held : 1;           /* its decoder keeps input over a pause */
	unsigned end_held : 1;       /* ...and the response's end was parsed */
	unsigned end_keep : 1;       /* ...with its connection reusable */
	unsigned free_retries : 3;   /* attempts the server refused unseen */
	unsigned fresh_only : 1;     /* the next attempt needs a new connection */
	unsigned h2 : 1;             /* its connection speaks HTTP/2 */
	unsigned had_conn : 1;       /* this attempt got a connection */
	unsigned deferred : 1;       /* queued on its host's deferred list */
	unsigned is_head : 1;        /* a HEAD request: no response body */
	unsigned started : 1;        /* evf_transfer_start or evf_fetch queued it */
	unsigned req_touched : 1;    /* bytes of this attempt's request were sent */
	unsigned idempotent : 1;     /* its method is (RFC 9110, 9.2.2) */
	unsigned wants_length : 1;   /* POST, PUT, PATCH: Content-Length: 0 without a body */
	unsigned skip : 2;           /* reading a body to drop: SKIP_REDIRECT or SKIP_RETRY */
	char urlbuf[];               /* url points here */
};

/* t's options: its own (evf_transfer_set_option), else the client's */
#define XO(t) ((t)->ext && (t)->ext->own_opts ? &(t)->ext->opts : &(t)->client->opts)
/* t's client certificate, NULL: the client's own */
#define XIDENT(t) ((t)->ext ? (t)->ext->ident : NULL)

void xfer_set_state_(struct evf_transfer *t, enum xfer_state st, const char *file, int line);
#define xfer_set_state(t, st) xfer_set_state_((t), (st), __FILE__, __LINE__)

/*
 * The one way up from a connection to the transfers on it.  None of these
 * re-enters the scheduler: a transfer that must try again waits on its
 * host's queue for the client's kick.
 */
struct xfer_upcalls {
	/* t has a connection (new, pooled or shared): it sends its request */
	void (*ready)(struct evf_transfer *t, int reused);
	/* t's request is out: the response phase (and idle timer) begins */
	void (*sent)(struct evf_transfer *t);
	/* bytes of t's response arrived */
	void (*recv)(struct evf_transfer *t);
	/* bytes of t's request body went out */
	void (*touch)(struct evf_transfer *t);
	/* the final response head; content_length < 0 when not announced.
	 * Return 0 to go on, or a negative code that ends the response */
	int (*head)(struct evf_transfer *t, const evf_response *resp, int64_t content_length);
	/* an interim (1xx) response arrived: 100 Continue lets a body go */
	void (*interim)(struct evf_transfer *t, int status);
	/* the trailer fields after the body: 0, or a negative code that ends
	 * the response */
	int (*trailers)(struct evf_transfer *t, const evf_header *fields, size_t n);
	/* body bytes: 0, DECODE_STOP (paused inside a decoder), or < 0 */
	int (*body)(struct evf_transfer *t, const char *data, size_t len);
	/* t->held: decode the input kept over a pause.  1 when the transfer
	 * ended or went away, 0 to go on */
	int (*held)(struct evf_transfer *t);
	/* the response ended while t is on its connection: r 1 when complete
	 * (keep: the connection may serve again; -1: it is gone, the end is
	 * final), else the negative code from head or body, or a protocol
	 * error, with why; 0 when t was cancelled from a callback.  Returns
	 * 1 when t left the connection, 0 when it stays (input is kept over
	 * a pause: held delivers it later) */
	int (*end)(struct evf_transfer *t, int r, int keep, const char *why);
	/* the connection or stream failed under t, which is off it already;
	 * retry_safe 1: the server did not act on the request (REFUSED_STREAM,
	 * above a GOAWAY's last stream, never sent); 0: the connection failed;
	 * -1: the server reset t's stream alone */
	void (*failed)(struct evf_transfer *t, int err, const char *why, int retry_safe);
	/* for the request: the header lines beyond the built-in ones, in
	 * stack (32 entries) or on the heap (free it when it is not stack),
	 * NULL when memory ran out; and the User-Agent */
	const char **(*header_lines)(struct evf_transfer *t, const char **stack, size_t *n);
	const char *(*user_agent)(const struct evf_transfer *t);
	/* the client's debug function, when there is one (see evfetch.h) */
	void (*debug)(struct evf_transfer *t, int kind, const char *data, size_t len);
};

/* transfer.c's; a connection reaches it as cn->client->up */
extern const struct xfer_upcalls evf_xfer_upcalls;

void transfer_finish(struct evf_transfer *t, int err, const char *why);
/* transfer.c: a new attempt of t starts over (its result fields cleared);
 * begin_attempt: it goes to its host (deferred: behind the others). */
void transfer_reset_attempt(struct evf_transfer *t);
void transfer_begin_attempt(struct evf_transfer *t, int deferred);
/* redirect.c: before another attempt, the body from its start: 0, or -1
 * when t was ended (it could not start over) or cancelled from the rewind
 * callback; and the next attempt after a redirect, or t's end. */
int transfer_body_restart(struct evf_transfer *t);
void transfer_follow_redirect(struct evf_transfer *t);
/* The idle timeout came while t read a body to drop (t->skip). */
void transfer_skip_stalled(struct evf_transfer *t);
/* t's detail becomes the text (at most 255 bytes); returns err. */
int transfer_set_detail(struct evf_transfer *t, int err, const char *fmt, ...)
        __attribute__((format(printf, 3, 4)));
/* Request bytes went out: t's idle deadline starts over. */
void transfer_touch(struct evf_transfer *t);
void transfer_free(struct evf_transfer *t);
/* Make t's timer if the client's settings can need one; 0 or EVF_ERR_NOMEM. */
/* deadline.c: t on the client's connect or idle deadline list (kind), in
 * deadline order, or off it; the lists' timer follows. */
enum { DL_NONE, DL_CONNECT, DL_IDLE };
void dl_append(struct evf_transfer *t, int kind);
void dl_remove(struct evf_transfer *t);
/* The client's connect and idle deadline timer (dl_ev). */
void transfer_deadlines_cb(evutil_socket_t fd, short what, void *arg);
int transfer_timer_new(struct evf_transfer *t);
void transfer_start(struct evf_transfer *t);
/* evf_fetch: parse t's URL and find its host, so that the queue can see
 * which transfers a busy host would make wait (a failure waits for
 * transfer_start to report it). */
void transfer_prepare(struct evf_transfer *t);
/* t's host is h (NULL: none); the reference keeps h off the LRU. */
void transfer_set_host(struct evf_transfer *t, struct host *h);


/* kick_cb: give the waiting transfers of every changed host what they
 * can have now. */
void transfer_serve_changed(struct evf_client *c);

/* ----------------------------------------------------------------- client */

#define EVF_HOST_BUCKETS_MIN 64
#define EVF_SPREAD_QUEUE 4       /* see client.c's pick */
#define EVF_IDLE_TIMEOUT_SEC 30  /* pooled connections are closed after this */
#define EVF_SLOW_CONNECT_MS 250  /* a connect gives its handshake slot back after this */

struct evf_client {
	struct event_base *base;
	const struct xfer_upcalls *up; /* the transfers, for their connections */
	void (*destroy)(struct evf_client *c); /* the last client_leave of a freed client */
	struct evf_config cfg;
	struct xfer_opts opts;     /* what transfers use unless they set their own */
	/* the response on_head is being called with, and whose */
	const evf_response *live_head;
	const struct evf_transfer *live_head_t;
	/* the last remote address drain_cb formatted (inet_ntop costs a
	 * sprintf; a batch mostly repeats one address) */
	unsigned char ip_addr[16];
	unsigned char ip_family;
	char ip_text[48];
	SSL_CTX *ssl_ctx;
	struct proxies *proxies;   /* NULL: no proxy configured */
	BIO_METHOD *bio_meth;      /* sockets without SIGPIPE */
	struct evdns_base *dns;
	int own_dns;
	struct xfer_list unstarted; /* made by evf_transfer_new, not started */
	struct tls_ident *idents;  /* client certificates of transfers */
	struct xfer_list pending;  /* queued, in order; kick_cb starts them */
	struct xfer_list live;     /* started, not yet done */
	struct xfer_list done;
	/* hosts with queued transfers on their deferred lists, and those of
	 * them that may have a connection for one now */
	TAILQ_HEAD(, host) deferred_hosts, woken_hosts;
	unsigned npending;         /* queued: on pending or a host's deferred list */
	unsigned nactive;          /* started and holding a slot */
	unsigned nwaiting;
	struct event kick;        /* deferred dispatch of the pending queue */
	struct event drain;       /* deferred on_done calls */
	struct xfer_list dl_connect; /* connecting transfers, by connect deadline */
	struct xfer_list dl_idle;  /* receiving transfers, by last byte received */
	struct event dl_ev;        /* set for the earliest of both heads */
	uint64_t dl_at;            /* when dl_ev is set for, 0 if not */
	int dl_failed;             /* dl_ev could not be set */
	int kick_scheduled, drain_scheduled;
	struct host **hosts;
	size_t nbuckets, nhosts;
	TAILQ_HEAD(, host) unused_hosts;
	unsigned nunused;
	unsigned max_unused;       /* hosts kept on unused_hosts */
	struct host *warm;         /* the oldest of the newest ones on it, kept
	                            * as they were (the older ones are frozen) */
	unsigned nwarm;
	struct conn_list idle_lru; /* every host's idle connections, oldest first */
	/* --limit-rate: a token bucket of bytes; connections that found it
	 * empty wait on throttled for rate_ev */
	int64_t rate_tokens;
	uint64_t rate_at_us;       /* when rate_tokens was last filled */
	struct conn_list throttled;
	struct event rate_ev;
	unsigned nidle_total;
	unsigned max_idle;         /* idle connections kept */
	uint64_t idle_bytes;       /* their estimated memory (idle_cost) */
	/* Idle connections taken again (hits) or closed unused (misses) in
	 * the current window; idle_shift halves both budgets that often */
	unsigned idle_hits, idle_misses, idle_shift;
	unsigned nhandshakes;      /* TLS handshakes in progress */
	const struct timeval *idle_tv; /* libevent common timeout for pooled connections */
	const struct timeval *slow_connect_tv; /* a connect holds a handshake slot this long */
	struct conn_list hs_wait;  /* resolved, waiting for a handshake slot */
	TAILQ_HEAD(, host) changed_hosts; /* hosts whose waiters kick_cb serves */
	int depth;                 /* nesting of library code on the stack */
	int freed;                 /* evf_client_free was called */
	char why[512];             /* scratch for error texts */
	char peerbuf[64];          /* conn_peer's text: "[IPv6 address]:port" */
	unsigned char rbuf[16384]; /* shared read buffer */
	unsigned char wbuf[16384]; /* HTTP/2 frames gathered for one send */
};

void client_transfer_done(struct evf_client *c, struct evf_transfer *t);

/* A transfer that has not started (on c->unstarted), or NULL with *err. */
struct evf_transfer *client_transfer_new(struct evf_client *c, const char *url, void *arg,
                                         int *err);
/* Queue t as evf_fetch does: 0, or an error and t stays unstarted. */
int client_transfer_start(struct evf_transfer *t);
/* Copies of header lines, each checked; NULL with *err. */
char **copy_lines(const char *const *lines, size_t n, int *err);
/* h may have a connection for its deferred transfers now. */
void client_host_woken(struct evf_client *c, struct host *h);
/* h's politeness gate closed (asleep 1) or opened (0): its deferred
 * transfers leave or rejoin the client's deferred_hosts. */
void client_host_asleep(struct evf_client *c, struct host *h, int asleep);
/* Drop t without callbacks: unqueue, close its connection, free it. */
void client_discard(struct evf_client *c, struct evf_transfer *t);

/* Run kick_cb from the loop: start transfers, serve changed hosts and
 * connections waiting for a handshake slot. */
static inline void client_kick(struct evf_client *c)
{
	if (!c->kick_scheduled && !c->freed) {
		c->kick_scheduled = 1;
		event_active(&c->kick, EV_TIMEOUT, 1);
	}
}

/* Library code is on the stack: evf_client_free only marks the client. */
static inline void client_enter(struct evf_client *c)
{
	c->depth++;
}

/* Returns 1 when the client was freed and the caller must not touch it. */
static inline int client_leave(struct evf_client *c)
{
	if (--c->depth == 0 && c->freed) {
		c->destroy(c);
		return 1;
	}
	return 0;
}

/* proxies: proxy.c and tunnel.c */
#include "proxy.h"

#endif /* EVF_INTERNAL_H */
