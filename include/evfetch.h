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

#define EVF_VERSION_STRING "0.1.0"

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
	EVF_ERR_IO = -10,                /* a callback of the caller refused data */
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
 * EVF_ERR_TLS (the CA file or directory cannot be loaded).
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
	/* The proxy the last attempt went through, as scheme://host:port
	 * without credentials; NULL when it went direct.  (Added in 0.2.) */
	const char *proxy;
} evf_result;

/*
 * Callbacks.  on_head and on_body may be NULL.  They see only the final
 * response: interim 1xx responses are consumed by the library.  on_head and on_body return
 * 0 to go on or -1 to abort the transfer, which then ends with EVF_ERR_IO.
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

#ifdef __cplusplus
}
#endif

#endif /* EVFETCH_H */
