/*
 * evfetch.h - the public API of libevfetch.
 *
 * libevfetch fetches HTTP and HTTPS URLs concurrently on an event_base that
 * belongs to the caller.  The library never runs, breaks or blocks that
 * loop and keeps no global mutable state: every object hangs off an
 * evf_client, and several clients may share one loop.
 *
 * Threads: a client and everything made from it must be used from the
 * thread that runs its event_base.
 *
 * The loop: a client keeps events registered only while a transfer is
 * queued or running, its own evdns_base resolves a name, or a keep-alive
 * connection is pooled.  A pooled connection is closed 30 s after its last
 * use, or at once by evf_client_close_idle or evf_client_free; with
 * keep-alive off there are none.  So event_base_dispatch returns by itself
 * when the last on_done returns (keep-alive off, or evf_client_close_idle
 * called from it), or 30 s later.
 *
 * Callbacks: every callback runs from the event loop, never from inside the
 * API call that caused it.  A transfer's on_done fires exactly once, unless
 * the transfer was cancelled or its client freed first, in which case no
 * callback of that transfer fires again.
 *
 * Errors: functions return 0 or a negative enum evf_error; constructors
 * return the object or NULL and store the reason in *err when err is not
 * NULL.
 */
#ifndef EVFETCH_H
#define EVFETCH_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(__GNUC__) && defined(EVF_BUILDING_LIBRARY)
#define EVF_API __attribute__((visibility("default")))
#else
#define EVF_API
#endif

struct event_base;
struct evdns_base;

#define EVF_VERSION_STRING "0.2.0"

/* Error kinds.  Every failed transfer carries exactly one of them. */
enum evf_error {
	EVF_OK = 0,
	EVF_ERR_INVALID = -1,            /* bad argument or option */
	EVF_ERR_NOMEM = -2,              /* out of memory */
	EVF_ERR_URL = -3,                /* the URL is malformed or unsupported */
	EVF_ERR_DNS = -4,                /* the host name did not resolve */
	EVF_ERR_CONNECT = -5,            /* no address accepted a TCP connection */
	EVF_ERR_TLS = -6,                /* handshake or certificate failure */
	EVF_ERR_TIMEOUT = -7,            /* a connect, idle or total timeout */
	EVF_ERR_PROTOCOL = -8,           /* the server broke HTTP framing */
	EVF_ERR_HTTP = -9,               /* HTTP status >= 400 and fail_on_http_error */
	EVF_ERR_CALLBACK = -10,          /* a callback of the caller refused data */
	EVF_ERR_IO = EVF_ERR_CALLBACK,   /* deprecated: the old name of -10 */
	EVF_ERR_CANCELLED = -11,         /* used internally; never reported */
	EVF_ERR_TOO_MANY_REDIRECTS = -12,
	EVF_ERR_REDIRECT = -13,          /* an unusable redirect target */
	EVF_ERR_TOO_LARGE = -14,         /* a body, head or trailer past its limit */
	EVF_ERR_DECODE = -15,            /* content decoding failed */
	EVF_ERR_TRUNCATED = -16,         /* the body ended before it was complete */
	EVF_ERR_NETWORK = -17,           /* reset or failed send/receive on an open connection */
	EVF_ERR_RESOURCE = -18,          /* out of file descriptors or similar */
	EVF_ERR_PROXY = -19,             /* the proxy refused CONNECT or broke it */
};

/* A sentence describing err ("connection refused ..."). Never NULL. */
EVF_API const char *evf_strerror(int err);
/* A short stable name for err ("dns", "tls", ...), as used in reports. */
EVF_API const char *evf_error_name(int err);
/*
 * 1 when another attempt may well succeed: EVF_ERR_CONNECT, EVF_ERR_TIMEOUT,
 * EVF_ERR_NETWORK and EVF_ERR_TRUNCATED, the failures the client's own
 * retries (evf_config_set_retries) try again; 0 for any other value.
 * (Added in 0.2.)
 */
EVF_API int evf_error_retryable(int err);

/* ---------------------------------------------------------------- config */

/*
 * A client configuration.  The client copies it at creation, so the caller
 * may free or reuse it afterwards.
 */
typedef struct evf_config evf_config;

EVF_API evf_config *evf_config_new(void);
EVF_API void evf_config_free(evf_config *cfg);

/*
 * Transfers in flight at once (default 50, for a batch; a server sets what
 * its load needs, see evfetch(3)).  EVF_ERR_INVALID when 0.
 */
EVF_API int evf_config_set_max_transfers(evf_config *cfg, unsigned n);
/* Connections per host:port (default 0 = no limit beyond max_transfers). */
EVF_API int evf_config_set_max_per_host(evf_config *cfg, unsigned n);
/* Trust anchors; without either the system's default store is used. */
EVF_API int evf_config_set_ca_file(evf_config *cfg, const char *path);
EVF_API int evf_config_set_ca_path(evf_config *cfg, const char *dir);
/* Skip certificate and host name verification (default: verify). */
EVF_API int evf_config_set_insecure(evf_config *cfg, int insecure);
/*
 * A client certificate for servers that ask for one (mutual TLS; added in
 * 0.2): cert_file holds the PEM certificate, then any intermediates;
 * key_file its PEM private key, or NULL when the key is in cert_file;
 * passphrase decrypts an encrypted key (NULL: none; the key is never
 * prompted for).  The files are loaded by evf_client_new, which fails with
 * EVF_ERR_TLS and a reason (evf_client_new2) when they cannot be read, the
 * passphrase is wrong or missing, or the key does not match.  The client
 * wipes its copy of the passphrase once the key is loaded; cfg keeps one,
 * cleansed by evf_config_free or the next call.  cert_file NULL removes
 * the certificate.  EVF_ERR_INVALID: key_file or passphrase without
 * cert_file, or an empty file name.
 */
EVF_API int evf_config_set_client_cert(evf_config *cfg, const char *cert_file,
                                       const char *key_file, const char *passphrase);
/*
 * Map "HOST:PORT:ADDR" to a fixed address, like curl's --resolve.  ADDR may
 * be an IPv6 address in brackets.  HOST "*" stands for every host on that
 * port; an entry naming the host itself wins over it.  EVF_ERR_INVALID on
 * a malformed entry.
 */
EVF_API int evf_config_add_resolve(evf_config *cfg, const char *entry);
/*
 * Name servers ("ADDR" or "ADDR:PORT", comma-separated) for the client's
 * own evdns_base.  Ignored when the caller passes its own evdns_base.
 */
EVF_API int evf_config_set_dns_servers(evf_config *cfg, const char *list);
/* Use the caller's evdns_base instead of one of the client's own. */
EVF_API int evf_config_set_evdns_base(evf_config *cfg, struct evdns_base *dns);
/*
 * Timeouts in milliseconds, 0 = none.  Connect (default 30,000) covers
 * DNS, the wait for a handshake slot, TCP and TLS; total (default none)
 * the whole transfer, restarted for each retry.
 */
EVF_API int evf_config_set_connect_timeout(evf_config *cfg, unsigned ms);
EVF_API int evf_config_set_total_timeout(evf_config *cfg, unsigned ms);
EVF_API int evf_config_set_user_agent(evf_config *cfg, const char *ua);
/*
 * A request header "Name: value" sent with every request.  A header that
 * names Host, User-Agent or Accept replaces the built-in one; "Name:" with an
 * empty value removes it.  EVF_ERR_INVALID on a malformed line or one that
 * contains CR or LF.
 */
EVF_API int evf_config_add_header(evf_config *cfg, const char *line);
/*
 * Keep connections open for reuse (default on).  Off sends
 * "Connection: close" and opens a new connection for every transfer.
 */
EVF_API int evf_config_set_keepalive(evf_config *cfg, int on);
/* Resume TLS sessions per host and port (default on). */
EVF_API int evf_config_set_session_reuse(evf_config *cfg, int on);
/*
 * Follow 301, 302, 303, 307 and 308 redirects to http and https URLs, at
 * most max of them (default off).  Authorization, Cookie,
 * Proxy-Authorization and Host headers given by the caller are dropped once
 * a redirect leaves the original scheme, host and port.
 */
EVF_API int evf_config_set_follow_redirects(evf_config *cfg, int on, unsigned max);
/*
 * HTTP versions (added in 0.2).  EVF_HTTP_2_TLS, the default, offers h2
 * and http/1.1 in TLS's ALPN and speaks what the server picks; plain
 * http:// stays HTTP/1.1.  EVF_HTTP_1_1 offers only http/1.1.
 * EVF_HTTP_2_PRIOR_KNOWLEDGE also speaks HTTP/2 on http:// URLs, without
 * an upgrade, to servers known to take it.
 */
enum evf_http_version {
	EVF_HTTP_1_1 = 1,
	EVF_HTTP_2_TLS = 2,
	EVF_HTTP_2_PRIOR_KNOWLEDGE = 3,
};
EVF_API int evf_config_set_http_version(evf_config *cfg, int version);
/* Ask for gzip and deflate and decode them as they arrive (default off). */
EVF_API int evf_config_set_decode(evf_config *cfg, int on);
/*
 * Largest body (after decoding) accepted, 0 = no limit.  A larger announced
 * Content-Length fails at once, a longer body as soon as it passes the
 * limit, with EVF_ERR_TOO_LARGE.
 */
EVF_API int evf_config_set_max_body(evf_config *cfg, uint64_t bytes);
/*
 * Try again up to n times after a transient failure: connect errors,
 * timeouts, connections lost before the response head, and statuses 408,
 * 429, 500, 502, 503 and 504.  The delay starts at base_ms and doubles, with
 * jitter, up to max_ms; a Retry-After header sets it instead, capped at
 * max_ms.  Defaults: 0 retries, 1000 ms, 60000 ms.
 */
EVF_API int evf_config_set_retries(evf_config *cfg, unsigned n, unsigned base_ms,
                                   unsigned max_ms);
/*
 * TLS handshakes in progress at once (default 32); more connections wait
 * for a slot before their TCP connect, first come, first served.  A
 * handshake holds far more memory than an established connection, so
 * this bounds the peak.
 */
EVF_API int evf_config_set_max_handshakes(evf_config *cfg, unsigned n);
/* Fail a transfer that receives no byte for ms milliseconds while it is
 * not paused (default 60,000; 0 = never). */
EVF_API int evf_config_set_idle_timeout(evf_config *cfg, unsigned ms);
/*
 * Idle keep-alive connections kept for later transfers, over all hosts
 * (1 to 1,000,000); past it the one unused longest is closed.  Default:
 * half the soft RLIMIT_NOFILE at evf_client_new, at most 4,096, at least 16.
 */
EVF_API int evf_config_set_max_idle(evf_config *cfg, unsigned n);
/* The memory idle connections may hold, each counted at an estimate
 * (about 2 KB for plain TCP, 20 KB with TLS, 50 KB with HTTP/2 as well;
 * see evfetch(3)); past it the one unused longest is closed.  Default
 * 128 MiB; 0 keeps none beyond the one just freed. */
EVF_API int evf_config_set_idle_memory(evf_config *cfg, uint64_t bytes);
/* Hosts remembered without an open connection, for their TLS sessions
 * and DNS answers (0 to 10,000,000; default 20,000), least recently used
 * forgotten first. */
EVF_API int evf_config_set_host_cache(evf_config *cfg, unsigned n);
/* How long a host's DNS answer serves new connections (0: not kept;
 * default 60,000 ms). */
EVF_API int evf_config_set_dns_cache_time(evf_config *cfg, unsigned ms);
/*
 * Politeness: at most per_second requests start per host (0: no limit;
 * a token bucket of one token, so starts are 1/per_second apart), and at
 * least ms between two request starts to one host (0: none).  The larger
 * gap applies.  Queued transfers of a host that must wait hold no slot.
 */
EVF_API int evf_config_set_host_rate(evf_config *cfg, double per_second);
EVF_API int evf_config_set_host_delay(evf_config *cfg, unsigned ms);
/* At most bytes_per_second read over all the client's connections, as
 * they arrive on the wire (0: no limit, the default). */
EVF_API int evf_config_set_max_rate(evf_config *cfg, uint64_t bytes_per_second);
/*
 * Messages about what the client decided on its own (for now: a host
 * paused after a 429 or 503 with Retry-After), one line each without a
 * newline.  fn must not call into the client.  NULL: none (default).
 */
EVF_API int evf_config_set_log(evf_config *cfg, void (*fn)(const char *msg, void *arg),
                               void *arg);
/*
 * What the client does, for -v style tracing and archiving (added in 0.2),
 * in the spirit of curl's DEBUGFUNCTION: fn gets each request head as it goes
 * out (EVF_DEBUG_HEADER_OUT; an HTTP/2 head rendered as HTTP/1.1 text
 * with an "HTTP/2" request line), each final response head as it arrived
 * (EVF_DEBUG_HEADER_IN, rendered the same way, 1xx heads left out), and a
 * line about the connection a request uses (EVF_DEBUG_TEXT: the address
 * connected or reused, and for a new TLS connection its protocol, cipher,
 * ALPN and the server certificate's subject, issuer and expiry).  data is
 * not NUL-terminated; heads end with an empty line.  Credentials are
 * passed as they are: a tool that prints them masks them.  fn must not
 * call into the client.  NULL: none (default).
 */
struct evf_transfer;
enum evf_debug_kind {
	EVF_DEBUG_TEXT = 0,
	EVF_DEBUG_HEADER_OUT = 1,
	EVF_DEBUG_HEADER_IN = 2,
	/* the final response's body bytes as they arrived, before content
	 * decoding, and the request body's bytes as they went out (on
	 * HTTP/1.1 with their chunk framing): for archives such as WARC */
	EVF_DEBUG_DATA_IN = 3,
	EVF_DEBUG_DATA_OUT = 4,
	/* an HTTP/1.1 response exactly as it arrived (added in 0.2.1): the
	 * final head with its status line, reason phrase and spacing, then
	 * the body with its chunk framing and trailers, up to the response's
	 * last byte; interim 1xx responses are left out.  Never for HTTP/2,
	 * whose response is HEADER_IN and DATA_IN */
	EVF_DEBUG_WIRE_IN = 5,
	/* the response read to its end (added in 0.2.1; data NULL, len 0):
	 * what came before it is whole.  Not passed for a response cut
	 * short, or left unread after its head */
	EVF_DEBUG_END_IN = 6,
	/* later versions may add kinds: a debug function ignores those it
	 * does not know */
};
typedef void (*evf_debug_fn)(struct evf_transfer *t, int kind, const char *data, size_t len,
                             void *arg);
EVF_API int evf_config_set_debug(evf_config *cfg, evf_debug_fn fn, void *arg);
/* EVF_OPT_KEEP_HEADERS for every transfer of the client (default 1). */
EVF_API int evf_config_set_keep_headers(evf_config *cfg, int on);
/*
 * Address families (added in 0.2): EVF_IP_ANY (default) asks DNS for AAAA
 * and A records at once and races connects to both (Happy Eyeballs, RFC
 * 8305); EVF_IP_V4 and EVF_IP_V6 use that family alone (--resolve entries
 * and numeric hosts of the other one then fail with EVF_ERR_DNS).
 */
enum evf_ip_family {
	EVF_IP_ANY = 0,
	EVF_IP_V4 = 4,
	EVF_IP_V6 = 6,
};
EVF_API int evf_config_set_ip_family(evf_config *cfg, int family);
/*
 * Happy Eyeballs: with several addresses, the next connect attempt starts
 * ms after the last one (default 250, at most 60,000; 0 starts them all at
 * once) or as soon as one fails; the first to connect is used and the
 * others are closed.  (Added in 0.2.)
 */
EVF_API int evf_config_set_happy_eyeballs_delay(evf_config *cfg, unsigned ms);
/* Count HTTP status >= 400 as failure (EVF_ERR_HTTP); default off. */
EVF_API int evf_config_set_fail_on_http_error(evf_config *cfg, int on);
/*
 * Limits on the response head (defaults 64 KiB and 100 header lines); the
 * byte limit bounds trailers too.  Passing one is EVF_ERR_TOO_LARGE.
 */
EVF_API int evf_config_set_max_header_bytes(evf_config *cfg, size_t n);
EVF_API int evf_config_set_max_headers(evf_config *cfg, unsigned n);
/*
 * Proxies (added in 0.2).  url is "http://[user:pass@]host[:port]" or
 * https:// (TLS to the proxy); a bare "host:port" is http://.  Default
 * ports: 1080 for http, 443 for https.  https:// URLs go through a CONNECT
 * tunnel, http:// URLs are sent to the proxy in absolute form.  Credentials
 * become "Proxy-Authorization: Basic" to the proxy alone.  NULL: none set
 * (the environment may give one); "": no proxy, whatever the environment
 * says.  EVF_ERR_INVALID on an unusable URL.
 */
EVF_API int evf_config_set_proxy(evf_config *cfg, const char *url);
/*
 * Hosts reached directly: a comma-separated list of names (suffixes on
 * label boundaries, a leading dot ignored), IP addresses and CIDR ranges,
 * each optionally with ":port"; "*" alone means every host.  No host is
 * exempt unless listed, not even localhost.  Overrides the environment's.
 */
EVF_API int evf_config_set_noproxy(evf_config *cfg, const char *list);
/*
 * Read https_proxy, HTTPS_PROXY, http_proxy (never HTTP_PROXY), all_proxy,
 * ALL_PROXY, no_proxy and NO_PROXY at evf_client_new, with curl's
 * precedence (default off).  evf_config_set_proxy and _set_noproxy win.
 */
EVF_API int evf_config_use_env_proxy(evf_config *cfg, int on);
/* TLS to an https proxy: its trust anchors (default: the system's store,
 * not evf_config_set_ca_file's), and no verification at all. */
EVF_API int evf_config_set_proxy_ca_file(evf_config *cfg, const char *path);
EVF_API int evf_config_set_proxy_insecure(evf_config *cfg, int insecure);

/* ---------------------------------------------------------------- client */

typedef struct evf_client evf_client;

/*
 * Create a client on base.  cfg may be NULL for the defaults.  Returns
 * NULL with *err set to EVF_ERR_INVALID (no base, or a name server of
 * evf_config_set_dns_servers that evdns refused), EVF_ERR_NOMEM or
 * EVF_ERR_TLS (the CA file or directory, or the client certificate or key,
 * cannot be loaded).
 */
EVF_API evf_client *evf_client_new(struct event_base *base,
                                   const evf_config *cfg, int *err);
/*
 * evf_client_new, and on failure a sentence saying why in the caller's
 * buffer why of whylen bytes, cut to fit and NUL-terminated: "cannot load
 * CA file /x/ca.pem: No such file or directory".  On success why is "".
 * Nothing is written when why is NULL or whylen 0.  256 bytes hold any
 * reason but one that quotes a long path.
 */
EVF_API evf_client *evf_client_new2(struct event_base *base,
                                    const evf_config *cfg, int *err,
                                    char *why, size_t whylen);
/*
 * Free the client, close its connections and drop every transfer without
 * calling any of their callbacks.  Safe from inside any callback of the
 * client: the memory is released once that callback returns.
 */
EVF_API void evf_client_free(evf_client *client);

/*
 * Close every idle keep-alive connection of the client now, rather than
 * 30 s after its last use; transfers and connections in use go on.  Once
 * nothing else is registered, event_base_dispatch returns.  Returns the
 * number of connections closed, or EVF_ERR_INVALID for NULL.  Safe from
 * any callback.
 */
EVF_API int evf_client_close_idle(evf_client *client);

/*
 * Transfers holding one of the max_transfers slots (taken in evf_fetch when
 * one is free, kept until on_done is due or the transfer is cancelled),
 * and transfers waiting for a slot.  queued is nonzero only while active
 * equals max_transfers.
 */
EVF_API unsigned evf_client_active(const evf_client *client);
EVF_API unsigned evf_client_queued(const evf_client *client);

/* -------------------------------------------------------------- transfer */

typedef struct evf_transfer evf_transfer;

typedef struct evf_header {
	const char *name;   /* NUL-terminated, as the server sent it */
	const char *value;  /* NUL-terminated, surrounding blanks removed */
} evf_header;

/* The response head; valid only during on_head. */
typedef struct evf_response {
	int status;
	int http_major, http_minor;
	const evf_header *headers;
	size_t nheaders;
} evf_response;

/*
 * Timings in microseconds, as curl counts them.  A transfer starts when it
 * leaves the client's queue (evf_result.queued_us is the time it spent
 * there).  total_us runs from that start to the end, over every attempt,
 * redirect and retry wait.  The phases are those of the last attempt (the
 * last request made), each from that attempt's start, which includes any
 * wait for a connection of its host: the name resolved, the TCP connection
 * made, the TLS handshake done, the first response byte.  0 for a phase
 * not reached, or skipped because a kept-alive connection served it.
 */
typedef struct evf_timings {
	uint64_t dns_us;
	uint64_t connect_us;
	uint64_t tls_us;
	uint64_t first_byte_us;
	uint64_t total_us;
} evf_timings;

/* The outcome of one transfer; valid only during on_done. */
typedef struct evf_result {
	int error;                 /* EVF_OK or a negative evf_error */
	const char *detail;        /* what went wrong, NULL on success */
	int status;                /* last HTTP status, 0 when none arrived */
	uint64_t bytes;            /* body bytes handed to on_body */
	const char *url;           /* the URL as given */
	const char *tls_version;   /* "TLSv1.3" etc., NULL for plain HTTP */
	int reused;                /* 1 when a pooled connection served it */
	evf_timings timings;
	const char *effective_url; /* the URL of the last request made */
	unsigned redirects;        /* redirects followed */
	unsigned retries;          /* attempts made after the first */
	uint64_t queued_us;        /* from evf_fetch to the start (added in 0.2) */
	/*
	 * The TLS connection of the last attempt, as its handshake settled
	 * it (a kept-alive connection reports its own handshake's): the
	 * cipher suite in OpenSSL's name ("TLS_AES_128_GCM_SHA256"), a static
	 * string; and the server certificate's notAfter in seconds since the
	 * epoch.  NULL and 0 for plain HTTP or when no handshake completed.
	 * (Added in 0.2.)
	 */
	const char *tls_cipher;
	int64_t cert_not_after;
	/* "1.1" or "2": what the last attempt's connection spoke; NULL when
	 * it got none.  (Added in 0.2.) */
	const char *http_version;
	/* The address the last attempt's connection went to, numeric
	 * ("192.0.2.1", "2001:db8::1"), and its port; NULL and 0 when it got
	 * no connection.  (Added in 0.2.) */
	const char *remote_ip;
	int remote_port;
	/* The proxy the last attempt went through, as scheme://host:port
	 * without credentials; NULL when it went direct.  (Added in 0.2.) */
	const char *proxy;
} evf_result;

/*
 * Callbacks.  on_head and on_body may be NULL.  They see only the final
 * response: interim 1xx responses are consumed by the library.  on_head and on_body return
 * 0 to go on or -1 to abort the transfer, which then ends with EVF_ERR_CALLBACK.
 * Each may cancel its own or any other transfer, start new ones or free the
 * client.
 */
typedef struct evf_callbacks {
	int (*on_head)(evf_transfer *t, const evf_response *resp, void *arg);
	int (*on_body)(evf_transfer *t, const void *data, size_t len, void *arg);
	void (*on_done)(evf_transfer *t, const evf_result *res, void *arg);
} evf_callbacks;

enum evf_method {
	EVF_GET = 0,
	EVF_HEAD = 1,
};

/* Per-transfer request settings; zero-initialise, then fill in. */
typedef struct evf_request {
	const char *url;            /* required; copied */
	enum evf_method method;
	const char *const *headers; /* extra "Name: value" lines, or NULL */
	size_t nheaders;
} evf_request;

/*
 * Start a transfer.  The request and callbacks are copied.  A URL that the
 * library cannot use still yields a transfer whose on_done reports
 * EVF_ERR_URL, so every started URL ends with one result.  Returns NULL with
 * *err = EVF_ERR_INVALID (NULL arguments, no on_done, a malformed header
 * line) or EVF_ERR_NOMEM; no callback follows a NULL return.
 * The handle stays valid until on_done returns or the transfer is cancelled.
 */
EVF_API evf_transfer *evf_fetch(evf_client *client, const evf_request *req,
                                const evf_callbacks *cb, void *arg, int *err);

/*
 * Cancel a transfer: its connection is closed and none of its callbacks
 * fires again.  The handle is invalid afterwards.  Safe from any callback.
 */
EVF_API void evf_transfer_cancel(evf_transfer *t);

/*
 * Stop reading the response body until evf_transfer_resume; for a consumer
 * slower than the network.  Bytes already received (at most one read
 * buffer, 16 KiB) may still reach on_body after the call that paused.
 * With decoding on, nothing more does: the compressed bytes already
 * received (at most one read buffer) wait, undecoded, for the resume, and
 * on_done does not come before they are delivered.  Timeouts keep running.
 * EVF_ERR_INVALID when t is done.
 */
EVF_API int evf_transfer_pause(evf_transfer *t);
/* Read again; on_body fires from the loop, never inside this call. */
EVF_API int evf_transfer_resume(evf_transfer *t);

/* The URL a transfer was started with. */
EVF_API const char *evf_transfer_url(const evf_transfer *t);
/*
 * What t's current request uses (added in 0.2.1), for a debug function
 * from a request head on (EVF_DEBUG_HEADER_OUT): the URL, after the
 * redirects followed so far; the address connected to as text (the
 * proxy's when proxied; NULL when unknown), valid until the debug
 * function returns; the HTTP version, "1.1" or "2" (NULL before a
 * connection); the TLS version such as "TLSv1.3" (NULL without TLS).
 */
EVF_API const char *evf_transfer_effective_url(const evf_transfer *t);
EVF_API const char *evf_transfer_remote_ip(const evf_transfer *t);
EVF_API const char *evf_transfer_http_version(const evf_transfer *t);
EVF_API const char *evf_transfer_tls_version(const evf_transfer *t);

/* ------------------------------------------------- requests, 0.2 and later */

/*
 * The growable way to make a request (added in 0.2).  evf_request and
 * evf_callbacks are structs the caller fills and the library copies, so
 * their size is part of the ABI and they stay as 0.1 defined them.  A
 * request made with the calls below is the transfer itself, opaque, built
 * with one setter per setting: a later version adds setters, never
 * changes a struct, and a program built against 0.2 runs unchanged on
 * every later 0.x.  (A leading size field was the alternative; it makes
 * every caller get the size right and the library keep every past layout.)
 *
 *     evf_transfer *t = evf_transfer_new(client, url, arg, &err);
 *     evf_transfer_set_method(t, "POST");
 *     evf_transfer_add_header(t, "Content-Type: application/json");
 *     evf_transfer_set_body(t, json, len, EVF_BODY_COPY);
 *     evf_transfer_on_done(t, done_cb);
 *     evf_transfer_start(t);
 *
 * evf_transfer_new makes a transfer that has not started: the setters
 * apply until evf_transfer_start, which queues it as evf_fetch does; after
 * that, its on_done fires exactly once (unless cancelled or the client is
 * freed).  evf_transfer_cancel frees a transfer that never started.  A
 * setter returns 0, or EVF_ERR_INVALID for a bad value or a transfer that
 * started already; a failed setter changes nothing.  A URL the library
 * cannot use is reported by on_done, as with evf_fetch.
 */
EVF_API evf_transfer *evf_transfer_new(evf_client *client, const char *url, void *arg,
                                       int *err);
/* Any method token (RFC 9110, 9: GET, HEAD, POST, PUT, PATCH, DELETE,
 * OPTIONS, ...); copied.  Default GET.  HEAD's response has no body. */
EVF_API int evf_transfer_set_method(evf_transfer *t, const char *method);
/* A request header line, as evf_config_add_header, for this transfer
 * only, after the client's; it replaces client lines of the same name.
 * Content-Length and Transfer-Encoding are the library's: lines naming
 * them are refused. */
EVF_API int evf_transfer_add_header(evf_transfer *t, const char *line);

/*
 * The request body: one source per transfer, set again to replace it.
 * The library frames it: Content-Length when the size is known, chunked
 * on HTTP/1.1 otherwise, DATA frames within the peer's flow control on
 * HTTP/2.  POST, PUT and PATCH without a body send Content-Length: 0.
 */
enum evf_body_flags {
	EVF_BODY_COPY = 0,    /* the library copies the bytes now */
	EVF_BODY_BORROW = 1,  /* the caller keeps them valid until on_done */
};
EVF_API int evf_transfer_set_body(evf_transfer *t, const void *data, size_t len, int flags);
/* Bytes of a regular file open for reading, from offset: len bytes, or to
 * the file's end at start when len is negative.  Read with pread, so the
 * descriptor's position is left alone and a retry or redirect can read
 * again; the caller keeps fd open until on_done.  A pipe or socket is
 * EVF_ERR_INVALID: stream it with a reader. */
EVF_API int evf_transfer_set_body_fd(evf_transfer *t, int fd, int64_t offset, int64_t len);
/*
 * A body the caller produces as the library asks.  read copies at most
 * cap bytes into buf and returns how many; 0 at the end of the body;
 * EVF_BODY_WAIT when nothing is ready yet (the library then asks again
 * only after evf_transfer_resume_body: backpressure for the sending side);
 * or EVF_BODY_ABORT, which ends the transfer with EVF_ERR_CALLBACK.  len
 * is the body's size when known (the reader must then give exactly that
 * many bytes), else negative.  rewind, when not NULL, starts the body
 * again for a redirect or retry that must send it twice, returning 0, or
 * -1 when it cannot (the transfer then ends, see evfetch(3)).  read may
 * cancel transfers or free the client, like every callback.
 */
#define EVF_BODY_WAIT (-2)
#define EVF_BODY_ABORT (-1)
typedef long (*evf_body_read_fn)(evf_transfer *t, char *buf, size_t cap, void *arg);
typedef int (*evf_body_rewind_fn)(evf_transfer *t, void *arg);
EVF_API int evf_transfer_set_body_reader(evf_transfer *t, evf_body_read_fn read,
                                         evf_body_rewind_fn rewind, int64_t len);
/* A reader that returned EVF_BODY_WAIT has data again: read from the
 * loop, never inside this call.  EVF_ERR_INVALID when t is done. */
EVF_API int evf_transfer_resume_body(evf_transfer *t);

/*
 * A client certificate for this transfer alone (mutual TLS), as
 * evf_config_set_client_cert takes one: PEM files, key_file NULL when the
 * key is in cert_file, passphrase NULL for an unencrypted key.  The files
 * are loaded when the transfer starts, once per client for the same
 * files; a failure ends the transfer with EVF_ERR_TLS and the reason.
 * Its connections serve only transfers with the same certificate.
 */
EVF_API int evf_transfer_set_client_cert(evf_transfer *t, const char *cert_file,
                                         const char *key_file, const char *passphrase);

/* The callbacks, as in evf_callbacks; on_done is required by start. */
EVF_API int evf_transfer_on_head(evf_transfer *t,
                                 int (*fn)(evf_transfer *t, const evf_response *r, void *arg));
EVF_API int evf_transfer_on_body(evf_transfer *t,
                                 int (*fn)(evf_transfer *t, const void *d, size_t n, void *arg));
EVF_API int evf_transfer_on_done(evf_transfer *t,
                                 void (*fn)(evf_transfer *t, const evf_result *r, void *arg));

/*
 * Settings of one transfer that override the client's for it alone: each
 * takes the unit of the evf_config setter of the same name.  An option
 * this library does not know is EVF_ERR_INVALID, so a program can tell an
 * older library from the answer.
 */
enum evf_option {
	EVF_OPT_CONNECT_TIMEOUT_MS = 1,
	EVF_OPT_TOTAL_TIMEOUT_MS = 2,
	EVF_OPT_IDLE_TIMEOUT_MS = 3,
	EVF_OPT_MAX_BODY = 4,
	EVF_OPT_FOLLOW_REDIRECTS = 5,  /* 0 or 1 */
	EVF_OPT_DECODE = 6,            /* 0 or 1 */
	EVF_OPT_RETRIES = 7,
	EVF_OPT_RETRY_BASE_MS = 8,
	EVF_OPT_RETRY_MAX_MS = 9,
	EVF_OPT_FAIL_ON_HTTP_ERROR = 10, /* 0 or 1 */
	EVF_OPT_MAX_REDIRECTS = 11,
	/* milliseconds to wait for "100 Continue" before sending a body, with
	 * Expect: 100-continue; 0 (the default): no Expect, the body goes at
	 * once */
	EVF_OPT_EXPECT_100_MS = 12,
	/* 1 (the default): keep the response head and trailers for
	 * evf_transfer_header and _trailer until on_done; 0: only during
	 * on_head (no trailers), and an open transfer holds less memory */
	EVF_OPT_KEEP_HEADERS = 13,
};
EVF_API int evf_transfer_set_option(evf_transfer *t, int option, int64_t value);

/* Queue a transfer made by evf_transfer_new: 0, or EVF_ERR_INVALID (no
 * on_done, started already) and the transfer stays the caller's. */
EVF_API int evf_transfer_start(evf_transfer *t);

/* The arg given to evf_fetch or evf_transfer_new. */
EVF_API void *evf_transfer_arg(const evf_transfer *t);
/*
 * A header of the final response, looked up by name without regard to
 * case: the first value, or NULL.  Valid from on_head until on_done
 * returns (the pointer too; with EVF_OPT_KEEP_HEADERS 0, during on_head
 * only); NULL before the head arrived.  Several
 * fields of one name are all in evf_response.headers during on_head.
 */
EVF_API const char *evf_transfer_header(const evf_transfer *t, const char *name);
/* A trailer field (sent after a chunked body on HTTP/1.1, or in HEADERS
 * after the DATA on HTTP/2), looked up the same way; valid once the body
 * has ended (in on_done) until on_done returns, NULL when there was none. */
EVF_API const char *evf_transfer_trailer(const evf_transfer *t, const char *name);

/* The library that runs, whatever the header compiled against said. */
typedef struct evf_version_info {
	const char *version;   /* "0.2.0" */
	unsigned number;       /* 0x000200: major << 16 | minor << 8 | patch */
	/* space-separated: "http1.1 http2 tls gzip deflate request-body
	 * trailers client-cert happy-eyeballs proxy"; a feature name never
	 * leaves once listed */
	const char *features;
	const char *openssl;   /* OpenSSL_version(OPENSSL_VERSION) at run time */
	const char *libevent;
	const char *nghttp2;
	const char *zlib;
} evf_version_info;
EVF_API const evf_version_info *evf_version(void);

#ifdef __cplusplus
}
#endif

#endif /* EVFETCH_H */
