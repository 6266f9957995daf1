/*
 * tls.c - the TLS transport: one OpenSSL SSL object per connection on the
 * nonblocking socket, in the pattern of ossl-guide-tls-client-non-block(7).
 *
 * Every operation maps SSL_get_error to a transport result: WANT_READ and
 * WANT_WRITE tell io.c which event to arm (even the "other" direction), and
 * io.c retries exactly the same call.  ZERO_RETURN is an orderly EOF; an EOF
 * without close_notify is reported apart, as it may hide a truncation.
 */
#include <errno.h>
#include <stdio.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include <openssl/err.h>
#include <openssl/x509v3.h>

#include "internal.h"

static const unsigned char alpn_http11[] = "\x08http/1.1";
static const unsigned char alpn_h2_http11[] = "\x02h2\x08http/1.1";

static const struct layer_ops ptls_ops;

/*
 * The BIO under the SSL: it reads and writes through the layer below TLS.
 * On the socket itself (the usual stack) it calls recv and send directly,
 * with MSG_NOSIGNAL: OpenSSL's own socket BIO writes with write(2), so a
 * peer's reset would raise SIGPIPE in a program that embeds us and never
 * asked for that.
 *
 * The BIO's data is its connection: the SSL finds it there too (an
 * SSL_set_app_data would cost every connection an ex_data stack).
 */
static int bio_fd(BIO *b)
{
	const struct conn *cn = BIO_get_data(b);
	return cn ? cn->fd : -1;
}

/* The layer below TLS in cn's stack. */
static const struct layer *tls_below(const struct conn *cn)
{
	const struct layer *l = cn->top;
	while (l && l->ops != &evf_tls_ops)
		l = l->below;
	return l ? l->below : NULL;
}

/* Where the BIO b of cn reads and writes: the socket for the proxy's TLS,
 * else the layer below the origin's TLS. */
static const struct layer *bio_below(const struct conn *cn, BIO *b)
{
	if (cn->proxy_ssl && SSL_get_rbio(cn->proxy_ssl) == b)
		return &evf_tcp_layer;
	return tls_below(cn);
}

/* A call through a layer that is not the socket: its result as BIO's. */
static int bio_result(BIO *b, int r, size_t n, int eof_value)
{
	if (r == IO_DONE)
		return (int)n;
	if (r == IO_WANT_READ)
		BIO_set_retry_read(b);
	else if (r == IO_WANT_WRITE)
		BIO_set_retry_write(b);
	else if (r == IO_EOF || r == IO_EOF_UNCLEAN)
		return eof_value;
	else
		errno = ECONNRESET;   /* the layer's reason is in the client's why */
	return -1;
}

static int sock_write(BIO *b, const char *buf, int len)
{
	struct conn *cn = BIO_get_data(b);
	BIO_clear_retry_flags(b);
	const struct layer *below = cn ? bio_below(cn, b) : NULL;
	if (below && below != &evf_tcp_layer) {
		size_t put = 0;
		int r = below->ops->send(cn, below, buf, (size_t)len, &put);
		return bio_result(b, r, put, -1);
	}
	ssize_t n = send(bio_fd(b), buf, (size_t)len, MSG_NOSIGNAL);
	if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
		BIO_set_retry_write(b);
	return (int)n;
}

static int sock_read(BIO *b, char *buf, int len)
{
	struct conn *cn = BIO_get_data(b);
	BIO_clear_retry_flags(b);
	const struct layer *below = cn ? bio_below(cn, b) : NULL;
	if (below && below != &evf_tcp_layer) {
		size_t got = 0;
		int r = below->ops->recv(cn, below, buf, (size_t)len, &got);
		return bio_result(b, r, got, 0);
	}
	ssize_t n = recv(bio_fd(b), buf, (size_t)len, 0);
	if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
		BIO_set_retry_read(b);
	return (int)n;
}

static int sock_puts(BIO *b, const char *s)
{
	return sock_write(b, s, (int)strlen(s));
}

static long sock_ctrl(BIO *b, int cmd, long num, void *ptr)
{
	switch (cmd) {
	case BIO_CTRL_FLUSH:
	case BIO_CTRL_DUP:
		return 1;
	case BIO_C_GET_FD:
		if (ptr)
			*(int *)ptr = bio_fd(b);
		return bio_fd(b);
	default:
		return 0;
	}
}

static int sock_create(BIO *b)
{
	BIO_set_init(b, 1);
	return 1;
}

BIO_METHOD *tls_bio_method_new(void)
{
	BIO_METHOD *m = BIO_meth_new(BIO_get_new_index() | BIO_TYPE_SOURCE_SINK |
	                                 BIO_TYPE_DESCRIPTOR,
	                             "evfetch socket");
	if (!m)
		return NULL;
	if (!BIO_meth_set_write(m, sock_write) || !BIO_meth_set_read(m, sock_read) ||
	    !BIO_meth_set_puts(m, sock_puts) || !BIO_meth_set_ctrl(m, sock_ctrl) ||
	    !BIO_meth_set_create(m, sock_create)) {
		BIO_meth_free(m);
		return NULL;
	}
	return m;
}

/* The connection of an SSL of ours, or NULL once tls_close let go of it. */
static struct conn *ssl_conn(const SSL *ssl)
{
	BIO *b = SSL_get_rbio(ssl);
	return b ? BIO_get_data(b) : NULL;
}

/* The SSL of layer l: the origin's, or the proxy's own. */
static SSL *layer_ssl(const struct conn *cn, const struct layer *l)
{
	return l->ops == &ptls_ops ? cn->proxy_ssl : cn->ssl;
}

/* Keep a session the server gave for resumption: the newest few per host. */
static int new_session(SSL *ssl, SSL_SESSION *sess)
{
	struct conn *cn = ssl_conn(ssl);
	if (!cn || !cn->host)
		return 0;
	struct host *h = cn->host;
	if (h->nsessions == EVF_HOST_SESSIONS) {
		SSL_SESSION_free(h->sessions[0]);
		memmove(h->sessions, h->sessions + 1, (EVF_HOST_SESSIONS - 1) * sizeof *h->sessions);
		h->nsessions--;
	}
	h->sessions[h->nsessions++] = sess;
	h->no_tickets = 0;
	cn->got_session = 1;
	conn_gate_release(h);
	return 1; /* we keep the reference */
}

/* A session for a new connection to h, with a reference for the caller. */
static SSL_SESSION *take_session(struct host *h)
{
	if (h->nsessions == 0)
		return NULL;
	SSL_SESSION *s = h->sessions[h->nsessions - 1];
	if (SSL_SESSION_get_protocol_version(s) >= TLS1_3_VERSION) {
		/* a ticket is for one connection (RFC 8446, C.4); OpenSSL
		 * would not offer it twice anyway */
		h->nsessions--;
		return s;
	}
	SSL_SESSION_up_ref(s);
	return s;
}

void tls_sessions_free(struct host *h)
{
	while (h->nsessions > 0)
		SSL_SESSION_free(h->sessions[--h->nsessions]);
	free(h->sess_der);
	h->sess_der = NULL;
	h->sess_der_len = 0;
}

/* When s stops being offered: OpenSSL's own test for tickets and ids. */
static int64_t session_end(const SSL_SESSION *s)
{
	return (int64_t)SSL_SESSION_get_time(s) + (int64_t)SSL_SESSION_get_timeout(s);
}

uint64_t tls_host_expiry(const struct host *h)
{
	int64_t now = (int64_t)time(NULL), end = now;
	for (unsigned i = 0; i < h->nsessions; i++)
		if (session_end(h->sessions[i]) > end)
			end = session_end(h->sessions[i]);
	return evf_now_us() + 1000000u * (uint64_t)(end - now);
}

void tls_host_freeze(struct host *h)
{
	int64_t now = (int64_t)time(NULL);
	tls_verified_free(h->verified);
	h->verified = NULL;
	while (h->nsessions > 0) {
		SSL_SESSION *s = h->sessions[h->nsessions - 1];
		int len = session_end(s) > now ? i2d_SSL_SESSION(s, NULL) : 0;
		unsigned char *der = len > 0 ? malloc((size_t)len) : NULL, *p = der;
		if (der && i2d_SSL_SESSION(s, &p) == len) {
			h->sess_der = der;
			h->sess_der_len = (size_t)len;
			break;
		}
		free(der);
		SSL_SESSION_free(s);   /* expired, or no memory: the next older */
		h->nsessions--;
	}
	while (h->nsessions > 0)
		SSL_SESSION_free(h->sessions[--h->nsessions]);
}

void tls_host_thaw(struct host *h)
{
	if (!h->sess_der)
		return;
	const unsigned char *p = h->sess_der;
	SSL_SESSION *s = d2i_SSL_SESSION(NULL, &p, (long)h->sess_der_len);
	free(h->sess_der);
	h->sess_der = NULL;
	h->sess_der_len = 0;
	if (!s)
		return;   /* a full handshake then */
	if (session_end(s) > (int64_t)time(NULL) && h->nsessions == 0)
		h->sessions[h->nsessions++] = s;
	else
		SSL_SESSION_free(s);
}

/*
 * The verification cache.
 *
 * X509_verify_cert is a function of the presented chain, the trust store,
 * the verification parameters and the time.  The store and every parameter
 * but the peer's name are fixed when tls_ctx_new makes the SSL_CTX, and
 * evfetch adds no CRLs, no DANE and no verify callback.  So each host keeps
 * the last chain that passed: the exact DER of every certificate the server
 * presented, in order, the host name or IP address it was checked against
 * (read back from the SSL's parameters, i.e. what SSL_set1_host set), the
 * window in which every certificate of the built chain is valid, and that
 * chain.  A later full handshake that presents the very same bytes for the
 * very same name, inside that window and within TLS_VERIFIED_TTL of the
 * check, gets the same result without building and checking the chain
 * again.  Only successes are kept; a failure is always verified in full.
 *
 * What is not cached: the server's CertificateVerify signature over this
 * handshake's transcript (proof that it holds the certificate's key) and
 * its Finished are checked by OpenSSL on every handshake, after this.
 *
 * The TTL bounds what the key does not cover: CA files that appear in or
 * vanish from a --capath directory while we run.  Anything that one day
 * makes verification depend on more (CRLs, OCSP, per-connection
 * parameters, a verify callback) must join the key or bypass the cache.
 */
#define TLS_VERIFIED_TTL 600 /* seconds */

struct tls_verified {
	unsigned char *key;       /* per presented cert: 4-byte length, DER */
	size_t keylen;
	char *name;               /* the host name or IP address checked */
	int is_ip;
	unsigned int hostflags;
	unsigned long vflags;
	int depth;
	int auth_level;
	time_t valid_from;        /* every cert of the chain is valid after */
	time_t valid_until;       /* ... and before */
	time_t expires;           /* checked + TLS_VERIFIED_TTL */
	STACK_OF(X509) *chain;    /* as X509_verify_cert built it */
};

void tls_verified_free(struct tls_verified *v)
{
	if (!v)
		return;
	free(v->key);
	free(v->name);
	sk_X509_pop_free(v->chain, X509_free);
	free(v);
}

/* The presented chain as one byte string; NULL when it cannot be had. */
static unsigned char *chain_key(STACK_OF(X509) *sk, size_t *len)
{
	int num = sk_X509_num(sk);
	size_t n = 0;
	if (num <= 0)
		return NULL;
	for (int i = 0; i < num; i++) {
		int l = i2d_X509(sk_X509_value(sk, i), NULL);
		if (l <= 0)
			return NULL;
		n += 4 + (size_t)l;
	}
	unsigned char *buf = malloc(n), *p = buf;
	if (!buf)
		return NULL;
	for (int i = 0; i < num; i++) {
		if ((size_t)(p - buf) + 4 > n)
			goto fail;
		unsigned char *q = p + 4;
		int l = i2d_X509(sk_X509_value(sk, i), &q);
		if (l <= 0 || q - (p + 4) != l || (size_t)(q - buf) > n)
			goto fail;
		p[0] = (unsigned char)(l >> 24);
		p[1] = (unsigned char)(l >> 16);
		p[2] = (unsigned char)(l >> 8);
		p[3] = (unsigned char)l;
		p = q;
	}
	if ((size_t)(p - buf) != n)
		goto fail;
	*len = n;
	return buf;
fail:
	free(buf);
	return NULL;
}

/* The one identity the verifier checks: SSL_set1_host sets either one host
 * name or, for an address literal, one IP address.  NULL for anything
 * else, which is then verified without the cache. */
static char *checked_name(X509_VERIFY_PARAM *vp, int *is_ip)
{
	if (X509_VERIFY_PARAM_get0_email(vp))
		return NULL;
	const char *host = X509_VERIFY_PARAM_get0_host(vp, 0);
	char *ip = X509_VERIFY_PARAM_get1_ip_asc(vp);
	char *r = NULL;
	if (host && !ip && !X509_VERIFY_PARAM_get0_host(vp, 1)) {
		*is_ip = 0;
		r = evf_strdup(host);
	} else if (ip && !host) {
		*is_ip = 1;
		r = evf_strdup(ip);
	}
	OPENSSL_free(ip);
	return r;
}

/* The window in which every certificate of chain is valid, a second
 * narrower on each side than X509_verify_cert's own test. */
static int chain_window(STACK_OF(X509) *chain, time_t now, time_t *from, time_t *until)
{
	int num = sk_X509_num(chain);
	if (num <= 0)
		return 0;
	for (int i = 0; i < num; i++) {
		X509 *x = sk_X509_value(chain, i);
		int day, sec;
		if (!ASN1_TIME_diff(&day, &sec, NULL, X509_get0_notBefore(x)))
			return 0;
		time_t nb = now + (time_t)day * 86400 + sec + 1;
		if (!ASN1_TIME_diff(&day, &sec, NULL, X509_get0_notAfter(x)))
			return 0;
		time_t na = now + (time_t)day * 86400 + sec - 1;
		if (i == 0 || nb > *from)
			*from = nb;
		if (i == 0 || na < *until)
			*until = na;
	}
	return *from < *until;
}

/* SSL_CTX_set_cert_verify_callback: X509_verify_cert, or its remembered
 * success for exactly this chain and name. */
static int verify_chain(X509_STORE_CTX *xs, void *arg)
{
	(void)arg;
	SSL *ssl = X509_STORE_CTX_get_ex_data(xs, SSL_get_ex_data_X509_STORE_CTX_idx());
	struct conn *cn = ssl ? ssl_conn(ssl) : NULL;
	X509_VERIFY_PARAM *vp = X509_STORE_CTX_get0_param(xs);
	if (!cn || !cn->host || !vp)
		return X509_verify_cert(xs);
	unsigned long vflags = X509_VERIFY_PARAM_get_flags(vp);
	if (vflags & (X509_V_FLAG_CRL_CHECK | X509_V_FLAG_CRL_CHECK_ALL))
		return X509_verify_cert(xs);
	struct host *h = cn->host;
	int is_ip = 0;
	size_t keylen = 0;
	char *name = checked_name(vp, &is_ip);
	unsigned char *key = name ? chain_key(X509_STORE_CTX_get0_untrusted(xs), &keylen) : NULL;
	if (!key) {
		free(name);
		return X509_verify_cert(xs);
	}
	unsigned int hostflags = X509_VERIFY_PARAM_get_hostflags(vp);
	int depth = X509_VERIFY_PARAM_get_depth(vp);
	int auth_level = X509_VERIFY_PARAM_get_auth_level(vp);
	time_t now = time(NULL);
	struct tls_verified *v = h->verified;
	if (v && v->keylen == keylen && memcmp(v->key, key, keylen) == 0 &&
	    v->is_ip == is_ip && strcmp(v->name, name) == 0 && v->hostflags == hostflags &&
	    v->vflags == vflags && v->depth == depth && v->auth_level == auth_level &&
	    now > v->valid_from &&
	    now < v->valid_until && now < v->expires) {
		STACK_OF(X509) *chain = X509_chain_up_ref(v->chain);
		if (chain) {
			free(key);
			free(name);
			/* SSL_get0_verified_chain and SSL_get_verify_result as
			 * after a full check (SSL_get0_peername stays NULL) */
			X509_STORE_CTX_set0_verified_chain(xs, chain);
			X509_STORE_CTX_set_error(xs, X509_V_OK);
			return 1;
		}
	}
	int ok = X509_verify_cert(xs);
	struct tls_verified *nv = NULL;
	STACK_OF(X509) *chain = NULL;
	time_t from, until;
	if (ok == 1 && X509_STORE_CTX_get_error(xs) == X509_V_OK &&
	    (chain = X509_STORE_CTX_get1_chain(xs)) && chain_window(chain, now, &from, &until) &&
	    (nv = calloc(1, sizeof *nv))) {
		nv->key = key;
		nv->keylen = keylen;
		nv->name = name;
		nv->is_ip = is_ip;
		nv->hostflags = hostflags;
		nv->vflags = vflags;
		nv->depth = depth;
		nv->auth_level = auth_level;
		nv->valid_from = from;
		nv->valid_until = until;
		nv->expires = now + TLS_VERIFIED_TTL;
		nv->chain = chain;
		tls_verified_free(h->verified);
		h->verified = nv;
		return ok;
	}
	sk_X509_pop_free(chain, X509_free);
	free(key);
	free(name);
	return ok;
}

/* Why SSL_CTX_load_verify_locations refused a CA file (or, less likely,
 * directory), or tls_cert.c a certificate or key, from the error queue, which it empties: the system's reason
 * when a call failed, else OpenSSL's own ("no certificate or crl found"). */
const char *tls_load_reason(const char *path, int is_dir)
{
	unsigned long e, sys = 0, first = 0;
	while ((e = ERR_get_error()) != 0) {
		if (!first)
			first = e;
		if (!sys && ERR_GET_LIB(e) == ERR_LIB_SYS)
			sys = e;
	}
	if (sys)
		return strerror(ERR_GET_REASON(sys));
	/* fopen opens a directory; only the read after it fails, unseen */
	struct stat st;
	if (!is_dir && stat(path, &st) == 0 && S_ISDIR(st.st_mode))
		return strerror(EISDIR);
	const char *r = first ? ERR_reason_error_string(first) : NULL;
	return r ? r : "unknown error";
}

/* OpenSSL opens a CA directory's files only when it looks for an issuer,
 * and a directory that is not there then shows as an unknown issuer:
 * check it now, while the reason can still be told. */
static int ca_dir_usable(const char *dir, char *why, size_t whylen)
{
	struct stat st;
	int e = 0;
	if (stat(dir, &st) != 0)
		e = errno;
	else if (!S_ISDIR(st.st_mode))
		e = ENOTDIR;
	else if (access(dir, X_OK) != 0)
		e = errno;
	if (e)
		snprintf(why, whylen, "cannot load CA directory %s: %s", dir, strerror(e));
	return e == 0;
}

/* What the origins' and the proxies' contexts share. */
SSL_CTX *tls_ctx_common(char *why, size_t whylen)
{
	SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
	if (!ctx) {
		snprintf(why, whylen, "SSL_CTX_new failed");
		return NULL;
	}
	SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
	/* give idle connections' buffers back; they are the bulk of memory */
	SSL_CTX_set_mode(ctx, SSL_MODE_RELEASE_BUFFERS);
	/* HTTP/2 retries a blocked write from a copy of what it tried */
	SSL_CTX_set_mode(ctx, SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
	return ctx;
}

SSL_CTX *tls_ctx_new(const struct evf_config *cfg, char *why, size_t whylen)
{
	SSL_CTX *ctx = tls_ctx_common(why, whylen);
	if (!ctx)
		return NULL;
	/* one recv for whatever the kernel holds, not one per record header
	 * and one per record body */
	SSL_CTX_set_read_ahead(ctx, 1);
	if (cfg->no_session_reuse) {
		SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
		SSL_CTX_set_options(ctx, SSL_OP_NO_TICKET);
	} else {
		SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_CLIENT |
		                                        SSL_SESS_CACHE_NO_INTERNAL_STORE);
		SSL_CTX_sess_set_new_cb(ctx, new_session);
	}
	/* OpenSSL's three TLS 1.3 suites in the order browsers offer them:
	 * AES-128-GCM first, the suite RFC 8446 makes mandatory, as strong
	 * as the X25519 key exchange and cheaper to run (SHA-256 key
	 * schedule) than OpenSSL's default first choice, AES-256-GCM */
	if (SSL_CTX_set_ciphersuites(ctx, "TLS_AES_128_GCM_SHA256:TLS_AES_256_GCM_SHA384:"
	                                  "TLS_CHACHA20_POLY1305_SHA256") != 1)
		goto fail;
	/* h2 first when HTTP/2 is on (RFC 7301: the server picks) */
	if (cfg->http_version != EVF_HTTP_1_1
	        ? SSL_CTX_set_alpn_protos(ctx, alpn_h2_http11, sizeof alpn_h2_http11 - 1) != 0
	        : SSL_CTX_set_alpn_protos(ctx, alpn_http11, sizeof alpn_http11 - 1) != 0)
		goto fail;
	if (!tls_ctx_client_cert(ctx, cfg, why, whylen))
		goto fail_quiet;
	if (cfg->insecure) {
		SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, NULL);
		return ctx;
	}
	SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
	SSL_CTX_set_cert_verify_callback(ctx, verify_chain, NULL);
	if (cfg->ca_file || cfg->ca_path) {
		if (cfg->ca_path && !ca_dir_usable(cfg->ca_path, why, whylen))
			goto fail_quiet;
		if (SSL_CTX_load_verify_locations(ctx, cfg->ca_file, cfg->ca_path) != 1) {
			/* the file, almost surely: a directory is only noted here */
			const char *path = cfg->ca_file ? cfg->ca_file : cfg->ca_path;
			snprintf(why, whylen, "cannot load CA %s %s: %s",
			         cfg->ca_file ? "file" : "directory", path,
			         tls_load_reason(path, !cfg->ca_file));
			goto fail_quiet;
		}
	} else if (SSL_CTX_set_default_verify_paths(ctx) != 1) {
		snprintf(why, whylen, "cannot load the system's trust store");
		goto fail_quiet;
	}
	return ctx;
fail:
	snprintf(why, whylen, "TLS context set-up failed");
fail_quiet:
	ERR_clear_error();
	SSL_CTX_free(ctx);
	return NULL;
}

/*
 * A new SSL of cn in *slot (cn->ssl, or the proxy's) on our BIO, for name:
 * its SNI, and the name checked unless verify is 0.  EVF_ERR_TLS when the
 * name cannot be checked.
 */
int tls_ssl_setup(struct conn *cn, SSL_CTX *ctx, SSL **slot, const char *name, int verify)
{
	SSL *ssl = SSL_new(ctx);
	if (!ssl)
		return EVF_ERR_NOMEM;
	*slot = ssl;
	BIO *bio = BIO_new(cn->client->bio_meth);
	if (!bio)
		return EVF_ERR_NOMEM;
	BIO_set_data(bio, cn);
	SSL_set_bio(ssl, bio, bio);   /* one reference, owned by ssl */
	SSL_set_connect_state(ssl);
	struct in6_addr tmp;
	int is_ip = evutil_inet_pton(AF_INET, name, &tmp) == 1 ||
	            evutil_inet_pton(AF_INET6, name, &tmp) == 1;
	/* RFC 6066: SNI carries host names, never address literals */
	if (!is_ip && SSL_set_tlsext_host_name(ssl, name) != 1)
		return EVF_ERR_NOMEM;
	if (verify && SSL_set1_host(ssl, name) != 1)
		return EVF_ERR_TLS;
	return 0;
}

int tls_conn_setup(struct conn *cn)
{
	struct host *h = cn->host;
	SSL_CTX *ctx = h->ident ? tls_ident_ctx(h->ident) : cn->client->ssl_ctx;
	int r = tls_ssl_setup(cn, ctx, &cn->ssl, h->name, !cn->client->cfg.insecure);
	if (r == EVF_ERR_TLS)
		conn_set_why(cn, "cannot check the certificate against '%s'", h->name);
	if (r < 0)
		return r;
	SSL *ssl = cn->ssl;
	SSL_SESSION *sess = cn->client->cfg.no_session_reuse ? NULL : take_session(h);
	if (sess) {
		SSL_set_session(ssl, sess);   /* on failure: a full handshake */
		SSL_SESSION_free(sess);
	}
	return 0;
}

/* The TLS call that failed.  It, not the words of the detail, decides the
 * error kind. */
enum tls_op {
	TLS_HANDSHAKE,
	TLS_READ,
	TLS_WRITE,
};

static const char *const tls_op_name[] = {
	[TLS_HANDSHAKE] = "handshake",
	[TLS_READ] = "read",
	[TLS_WRITE] = "write",
};

/* Describe a fatal TLS failure from the verify result and the error queue. */
static int tls_failure(struct conn *cn, const struct layer *l, int sslerr, enum tls_op op)
{
	const char *what = tls_op_name[op];
	long vr = SSL_get_verify_result(layer_ssl(cn, l));
	unsigned long e = ERR_peek_last_error();
	int saved = errno;
	/* through a proxy the socket's peer is the proxy: name both */
	char peer[300];
	if (l->ops == &ptls_ops)
		snprintf(peer, sizeof peer, "proxy %s", conn_peer(cn));
	else if (cn->host->proxied)
		snprintf(peer, sizeof peer, "%s:%d through proxy %s", cn->host->name,
		         cn->host->port, conn_peer(cn));
	else
		snprintf(peer, sizeof peer, "%s", conn_peer(cn));
	errno = saved;
	if (vr != X509_V_OK && op == TLS_HANDSHAKE) {
		conn_set_why(cn, "TLS handshake with %s failed: certificate verify failed: %s",
		             peer, X509_verify_cert_error_string(vr));
	} else if (e) {
		char buf[256];
		ERR_error_string_n(e, buf, sizeof buf);
		/* a record that starts "HTTP/1.1 400" has version 'T' 'P' */
		int plain = op == TLS_HANDSHAKE && ERR_GET_LIB(e) == ERR_LIB_SSL &&
		            ERR_GET_REASON(e) == SSL_R_WRONG_VERSION_NUMBER;
		conn_set_why(cn, "TLS %s with %s failed: %s%s%s", what, peer, buf,
		             plain ? " (is this port plain HTTP?)" : "",
		             tls_client_cert_hint(cn, e));
	} else if (sslerr == SSL_ERROR_SYSCALL && errno) {
		conn_set_why(cn, "TLS %s with %s failed: %s", what, peer, strerror(errno));
		ERR_clear_error();
		/* a server that resets our hello refuses TLS with us; once the
		 * handshake is done, a reset is the network's, as in plain HTTP */
		return op == TLS_HANDSHAKE ? EVF_ERR_TLS : EVF_ERR_NETWORK;
	} else {
		conn_set_why(cn, "TLS %s with %s failed: the peer closed the connection",
		             what, peer);
	}
	ERR_clear_error();
	return EVF_ERR_TLS;
}

/* Is the current error an EOF without close_notify? */
static int unexpected_eof(int sslerr)
{
	if (sslerr == SSL_ERROR_SYSCALL && errno == 0 && ERR_peek_error() == 0)
		return 1;
	unsigned long e = ERR_peek_error();
	return sslerr == SSL_ERROR_SSL && ERR_GET_LIB(e) == ERR_LIB_SSL &&
	       ERR_GET_REASON(e) == SSL_R_UNEXPECTED_EOF_WHILE_READING;
}

/* Days from 1970-01-01 to a date of the proleptic Gregorian calendar
 * (month 1 to 12), without timegm, which is not in POSIX. */
static int64_t days_from_civil(int64_t y, unsigned m, unsigned d)
{
	y -= m <= 2;
	int64_t era = (y >= 0 ? y : y - 399) / 400;
	unsigned yoe = (unsigned)(y - era * 400);
	unsigned doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
	unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + (int64_t)doe - 719468;
}

/* The leaf certificate's notAfter in seconds since the epoch, 0 when there
 * is no certificate (or its time cannot be read).  Once per handshake: a
 * resumed session keeps the certificate of the handshake it came from. */
static int64_t leaf_not_after(SSL *ssl)
{
	X509 *leaf = SSL_get0_peer_certificate(ssl);
	struct tm tm;
	if (!leaf || !ASN1_TIME_to_tm(X509_get0_notAfter(leaf), &tm))
		return 0;
	return days_from_civil((int64_t)tm.tm_year + 1900, (unsigned)tm.tm_mon + 1,
	                       (unsigned)tm.tm_mday) * 86400 +
	       tm.tm_hour * 3600 + tm.tm_min * 60 + tm.tm_sec;
}

static int tls_handshake(struct conn *cn, const struct layer *l)
{
	SSL *ssl = layer_ssl(cn, l);
	ERR_clear_error();
	errno = 0;
	int r = SSL_connect(ssl);
	if (r == 1) {
		if (ssl == cn->ssl)
			cn->cert_not_after = leaf_not_after(ssl);
		/* TLS 1.3 checks the server's certificate and sends a
		 * ClientHello in the handshake only (it has no renegotiation):
		 * the name kept for the check and the ALPN list can go */
		if (SSL_version(ssl) >= TLS1_3_VERSION) {
			SSL_set1_host(ssl, NULL);
			SSL_set_alpn_protos(ssl, NULL, 0);
		}
		return IO_DONE;
	}
	int e = SSL_get_error(ssl, r);
	if (e == SSL_ERROR_WANT_READ)
		return IO_WANT_READ;
	if (e == SSL_ERROR_WANT_WRITE)
		return IO_WANT_WRITE;
	return tls_failure(cn, l, e, TLS_HANDSHAKE);
}

static int tls_read(struct conn *cn, const struct layer *l, void *buf, size_t len, size_t *got)
{
	SSL *ssl = layer_ssl(cn, l);
	ERR_clear_error();
	errno = 0;
	if (SSL_read_ex(ssl, buf, len, got) == 1)
		return IO_DONE;
	int e = SSL_get_error(ssl, 0);
	switch (e) {
	case SSL_ERROR_WANT_READ:
		/* SSL_MODE_RELEASE_BUFFERS does not give back the read buffer
		 * after TLS 1.3 records; while we wait on the socket the 17 KB
		 * buffer is the bulk of an open transfer's memory */
		SSL_free_buffers(ssl);
		return IO_WANT_READ;
	case SSL_ERROR_WANT_WRITE:
		return IO_WANT_WRITE;
	case SSL_ERROR_ZERO_RETURN:
		return IO_EOF;
	default:
		if (unexpected_eof(e)) {
			ERR_clear_error();
			return IO_EOF_UNCLEAN;
		}
		if (e == SSL_ERROR_SYSCALL && errno) {
			int saved = errno;
			conn_set_why(cn, "receive from %s failed: %s", conn_peer(cn), strerror(saved));
			ERR_clear_error();
			return EVF_ERR_NETWORK;
		}
		return tls_failure(cn, l, e, TLS_READ);
	}
}

static int tls_write(struct conn *cn, const struct layer *l, const void *buf, size_t len,
                     size_t *put)
{
	SSL *ssl = layer_ssl(cn, l);
	ERR_clear_error();
	errno = 0;
	if (SSL_write_ex(ssl, buf, len, put) == 1)
		return IO_DONE;
	int e = SSL_get_error(ssl, 0);
	if (e == SSL_ERROR_WANT_READ)
		return IO_WANT_READ;
	if (e == SSL_ERROR_WANT_WRITE)
		return IO_WANT_WRITE;
	if (e == SSL_ERROR_SYSCALL && errno) {
		int saved = errno;
		conn_set_why(cn, "send to %s failed: %s", conn_peer(cn), strerror(saved));
		ERR_clear_error();
		return EVF_ERR_NETWORK;
	}
	return tls_failure(cn, l, e, TLS_WRITE);
}

static int tls_pending(struct conn *cn, const struct layer *l)
{
	SSL *ssl = layer_ssl(cn, l);
	return (ssl && SSL_has_pending(ssl)) || (l->below && l->below->ops->pending(cn, l->below));
}

int tls_alpn_h2(struct conn *cn)
{
	const unsigned char *p = NULL;
	unsigned int n = 0;
	SSL_get0_alpn_selected(cn->ssl, &p, &n);
	return n == 2 && memcmp(p, "h2", 2) == 0 ? 2 : 1;
}

/* One nonblocking attempt to send close_notify (we never wait for the
 * peer's: the socket is closed right after), then free the SSL. */
static void tls_close(struct conn *cn, const struct layer *l)
{
	SSL **slot = l->ops == &ptls_ops ? &cn->proxy_ssl : &cn->ssl;
	SSL *ssl = *slot;
	if (!ssl)
		return;
	if (SSL_is_init_finished(ssl)) {
		ERR_clear_error();
		SSL_shutdown(ssl);
		ERR_clear_error();
	}
	BIO *b = SSL_get_rbio(ssl);
	if (b)
		BIO_set_data(b, NULL);
	SSL_free(ssl);
	*slot = NULL;
}

const struct layer_ops evf_tls_ops = {
	.name = "tls",
	.connect = tls_handshake,
	.recv = tls_read,
	.send = tls_write,
	.pending = tls_pending,
	.close = tls_close,
};

const struct layer evf_tls_layer = {&evf_tls_ops, &evf_tcp_layer};

/* TLS to an https proxy: the same calls on the connection's proxy_ssl */
static const struct layer_ops ptls_ops = {
	.name = "proxy-tls",
	.connect = tls_handshake,
	.recv = tls_read,
	.send = tls_write,
	.pending = tls_pending,
	.close = tls_close,
};

const struct layer evf_ptls_layer = {&ptls_ops, &evf_tcp_layer};

void tls_describe(struct conn *cn, char *buf, size_t len)
{
	const unsigned char *alpn = NULL;
	unsigned alen = 0;
	SSL_get0_alpn_selected(cn->ssl, &alpn, &alen);
	int n = snprintf(buf, len, "%s, %s, ALPN %.*s", SSL_get_version(cn->ssl),
	                 SSL_get_cipher_name(cn->ssl), alen ? (int)alen : 4,
	                 alen ? (const char *)alpn : "none");
	X509 *leaf = SSL_get0_peer_certificate(cn->ssl);
	if (!leaf || n < 0 || (size_t)n >= len)
		return;
	char subject[256], issuer[256], expiry[64] = "?";
	X509_NAME_oneline(X509_get_subject_name(leaf), subject, sizeof subject);
	X509_NAME_oneline(X509_get_issuer_name(leaf), issuer, sizeof issuer);
	BIO *mem = BIO_new(BIO_s_mem());
	if (mem && ASN1_TIME_print(mem, X509_get0_notAfter(leaf))) {
		int got = BIO_read(mem, expiry, sizeof expiry - 1);
		expiry[got > 0 ? got : 0] = '\0';
	}
	BIO_free(mem);
	snprintf(buf + n, len - (size_t)n,
	         "; server certificate: subject %s, issuer %s, expires %s%s", subject, issuer,
	         expiry, SSL_session_reused(cn->ssl) ? " (session resumed)" : "");
}
