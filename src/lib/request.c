/*
 * request.c - the growable request API of 0.2 (evfetch.h): transfers made
 * unstarted, set up one setter at a time, then started; per-transfer
 * options; the response head kept for evf_transfer_header; evf_version.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <event2/event.h>
#include <nghttp2/nghttp2.h>
#include <openssl/crypto.h>
#include <zlib.h>

#include "internal.h"

struct xfer_ext *xfer_ext(struct evf_transfer *t)
{
	if (!t->ext)
		t->ext = calloc(1, sizeof *t->ext);
	return t->ext;
}

void xfer_ext_free(struct evf_transfer *t)
{
	struct xfer_ext *x = t->ext;
	if (!x)
		return;
	free(x->method_buf);
	resp_head_free(x->trailers);
	free(x->wire);
	free(x);
	t->ext = NULL;
}

static int settable(const evf_transfer *t)
{
	return t && !t->started && !t->cancelled;
}

EVF_API evf_transfer *evf_transfer_new(evf_client *c, const char *url, void *arg, int *err)
{
	int e = EVF_ERR_INVALID;
	evf_transfer *t = NULL;
	if (c && !c->freed && url)
		t = client_transfer_new(c, url, arg, &e);
	if (err)
		*err = t ? 0 : e;
	return t;
}

EVF_API int evf_transfer_set_method(evf_transfer *t, const char *method)
{
	static const char *const known[] = {"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE",
	                                    "OPTIONS"};
	if (!settable(t) || !policy_method_valid(method))
		return EVF_ERR_INVALID;
	const char *m = NULL;
	for (size_t i = 0; i < sizeof known / sizeof known[0] && !m; i++)
		if (strcmp(method, known[i]) == 0)
			m = known[i];
	if (!m) {
		struct xfer_ext *x = xfer_ext(t);
		char *copy = x ? evf_strdup(method) : NULL;
		if (!copy)
			return EVF_ERR_NOMEM;
		free(x->method_buf);
		m = x->method_buf = copy;
	}
	t->method = m;
	t->is_head = strcmp(m, "HEAD") == 0;
	t->idempotent = policy_idempotent(m) != 0;
	/* a method that defines a body says it has none (RFC 9110, 8.6) */
	t->wants_length = strcmp(m, "POST") == 0 || strcmp(m, "PUT") == 0 ||
	                  strcmp(m, "PATCH") == 0;
	return 0;
}

EVF_API int evf_transfer_add_header(evf_transfer *t, const char *line)
{
	if (!settable(t) || evf_header_line_valid(line) || policy_framing_header(line))
		return EVF_ERR_INVALID;
	char **h = realloc(t->headers, (t->nheaders + 1) * sizeof *h);
	if (!h)
		return EVF_ERR_NOMEM;
	t->headers = h;
	if (!(h[t->nheaders] = evf_strdup(line)))
		return EVF_ERR_NOMEM;
	t->nheaders++;
	return 0;
}

EVF_API int evf_transfer_on_head(evf_transfer *t,
                                 int (*fn)(evf_transfer *t, const evf_response *r, void *arg))
{
	if (!settable(t))
		return EVF_ERR_INVALID;
	t->cb.on_head = fn;
	return 0;
}

EVF_API int evf_transfer_on_body(evf_transfer *t,
                                 int (*fn)(evf_transfer *t, const void *d, size_t n, void *arg))
{
	if (!settable(t))
		return EVF_ERR_INVALID;
	t->cb.on_body = fn;
	return 0;
}

EVF_API int evf_transfer_on_done(evf_transfer *t,
                                 void (*fn)(evf_transfer *t, const evf_result *r, void *arg))
{
	if (!settable(t))
		return EVF_ERR_INVALID;
	t->cb.on_done = fn;
	return 0;
}

EVF_API int evf_transfer_set_option(evf_transfer *t, int option, int64_t v)
{
	if (!settable(t) || v < 0)
		return EVF_ERR_INVALID;
	struct xfer_opts o = *XO(t);
	unsigned ms = v > UINT32_MAX ? UINT32_MAX : (unsigned)v;
	switch (option) {
	case EVF_OPT_CONNECT_TIMEOUT_MS:
		o.connect_timeout_ms = ms;
		break;
	case EVF_OPT_TOTAL_TIMEOUT_MS:
		o.total_timeout_ms = ms;
		break;
	case EVF_OPT_IDLE_TIMEOUT_MS:
		o.idle_timeout_ms = ms;
		break;
	case EVF_OPT_MAX_BODY:
		o.max_body = (uint64_t)v;
		break;
	case EVF_OPT_FOLLOW_REDIRECTS:
		o.follow_redirects = v != 0;
		break;
	case EVF_OPT_MAX_REDIRECTS:
		o.max_redirects = ms;
		break;
	case EVF_OPT_DECODE:
		o.decode = v != 0;
		break;
	case EVF_OPT_RETRIES:
		if (v > 1000)
			return EVF_ERR_INVALID;
		o.retries = ms;
		break;
	case EVF_OPT_RETRY_BASE_MS:
		o.retry_base_ms = ms;
		break;
	case EVF_OPT_RETRY_MAX_MS:
		o.retry_max_ms = ms;
		break;
	case EVF_OPT_FAIL_ON_HTTP_ERROR:
		o.fail_on_http_error = v != 0;
		break;
	case EVF_OPT_KEEP_HEADERS:
		o.no_keep_head = v == 0;
		break;
	case EVF_OPT_EXPECT_100_MS:
		o.expect_ms = ms > 60000 ? 60000 : ms;
		break;
	default:
		return EVF_ERR_INVALID;
	}
	struct xfer_ext *x = xfer_ext(t);
	if (!x)
		return EVF_ERR_NOMEM;
	x->opts = o;
	x->own_opts = 1;
	return 0;
}

EVF_API int evf_transfer_start(evf_transfer *t)
{
	if (!settable(t) || !t->cb.on_done)
		return EVF_ERR_INVALID;
	if (t->client->freed)
		return EVF_ERR_INVALID;
	return client_transfer_start(t);
}

EVF_API int evf_transfer_resume_body(evf_transfer *t)
{
	if (!t || !t->started || t->cancelled || t->state == XS_DONE)
		return EVF_ERR_INVALID;
	return body_resume(t);
}

EVF_API void *evf_transfer_arg(const evf_transfer *t)
{
	return t ? t->arg : NULL;
}

/* ------------------------------------------------------ the response head */

struct resp_head {
	size_t n;
	evf_header h[];   /* then the names and values */
};

void resp_head_free(struct resp_head *h)
{
	free(h);
}

/*
 * Both parsers keep a head's fields in one buffer, names and values one
 * after another: that span is copied whole and the pointers moved with
 * it.  Fields from anywhere else are copied one by one.
 */
int resp_head_keep(struct resp_head **dst, const evf_header *fields, size_t n)
{
	const char *lo = NULL, *hi = NULL;
	for (size_t i = 0; i < n; i++) {
		const char *a = fields[i].name, *b = fields[i].value;
		if (!lo || a < lo)
			lo = a;
		if (!lo || b < lo)
			lo = b;
		if (!hi || a > hi)
			hi = a;
		if (!hi || b > hi)
			hi = b;
	}
	size_t span = n ? (size_t)(hi - lo) + strlen(hi) + 1 : 0;
	int contiguous = span <= 65536 + 4096;   /* a head past the limits is not one buffer */
	size_t bytes = 0;
	if (!contiguous)
		for (size_t i = 0; i < n; i++)
			bytes += strlen(fields[i].name) + strlen(fields[i].value) + 2;
	struct resp_head *h = malloc(sizeof *h + n * sizeof h->h[0] + (contiguous ? span : bytes));
	if (!h)
		return EVF_ERR_NOMEM;
	h->n = n;
	char *p = (char *)&h->h[n];
	if (contiguous) {
		if (span)   /* no fields: no span, and lo is NULL */
			memcpy(p, lo, span);
		for (size_t i = 0; i < n; i++) {
			h->h[i].name = p + (fields[i].name - lo);
			h->h[i].value = p + (fields[i].value - lo);
		}
	} else {
		for (size_t i = 0; i < n; i++) {
			size_t nl = strlen(fields[i].name) + 1;
			size_t vl = strlen(fields[i].value) + 1;
			h->h[i].name = memcpy(p, fields[i].name, nl);
			h->h[i].value = memcpy(p + nl, fields[i].value, vl);
			p += nl + vl;
		}
	}
	resp_head_free(*dst);
	*dst = h;
	return 0;
}

static const char *lookup(const struct resp_head *h, const char *name)
{
	if (!h || !name)
		return NULL;
	for (size_t i = 0; i < h->n; i++)
		if (strcasecmp(h->h[i].name, name) == 0)
			return h->h[i].value;
	return NULL;
}

EVF_API const char *evf_transfer_header(const evf_transfer *t, const char *name)
{
	if (t && !t->head && t->client->live_head_t == t && name) {
		/* not kept (EVF_OPT_KEEP_HEADERS 0): the parser's, in on_head */
		const evf_response *r = t->client->live_head;
		for (size_t i = 0; i < r->nheaders; i++)
			if (strcasecmp(r->headers[i].name, name) == 0)
				return r->headers[i].value;
		return NULL;
	}
	return t ? lookup(t->head, name) : NULL;
}

EVF_API const char *evf_transfer_trailer(const evf_transfer *t, const char *name)
{
	return t && t->ext ? lookup(t->ext->trailers, name) : NULL;
}

/* ---------------------------------------------------------------- version */

static evf_version_info version_info;
static pthread_once_t version_once = PTHREAD_ONCE_INIT;

static void version_init(void)
{
	unsigned maj = 0, min = 0, pat = 0;
	sscanf(EVF_VERSION_STRING, "%u.%u.%u", &maj, &min, &pat);
	version_info.version = EVF_VERSION_STRING;
	version_info.number = maj << 16 | min << 8 | pat;
	version_info.features = "http1.1 http2 tls gzip deflate request-body trailers client-cert happy-eyeballs proxy";
	version_info.openssl = OpenSSL_version(OPENSSL_VERSION);
	version_info.libevent = event_get_version();
	version_info.nghttp2 = nghttp2_version(0)->version_str;
	version_info.zlib = zlibVersion();
}

EVF_API const evf_version_info *evf_version(void)
{
	pthread_once(&version_once, version_init);
	return &version_info;
}
