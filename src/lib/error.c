/*
 * error.c - the error kinds of the public API: names, sentences, and
 * which are worth another attempt (the one list policy.c retries by).
 */
#include "internal.h"

struct err_text {
	int code;
	const char *name;
	const char *text;
	int retryable;
};

static const struct err_text errors[] = {
	{EVF_OK, "ok", "success", 0},
	{EVF_ERR_INVALID, "invalid", "invalid argument", 0},
	{EVF_ERR_NOMEM, "nomem", "out of memory", 0},
	{EVF_ERR_URL, "url", "malformed or unsupported URL", 0},
	{EVF_ERR_DNS, "dns", "host name could not be resolved", 0},
	{EVF_ERR_CONNECT, "connect", "could not connect to the server", 1},
	{EVF_ERR_TLS, "tls", "TLS handshake or certificate verification failed", 0},
	{EVF_ERR_TIMEOUT, "timeout", "operation timed out", 1},
	{EVF_ERR_PROTOCOL, "protocol", "the server violated HTTP", 0},
	{EVF_ERR_HTTP, "http", "the server returned an HTTP error status", 0},
	/* "io" from the days of EVF_ERR_IO: reports keep their name */
	{EVF_ERR_CALLBACK, "io", "the receiver refused the data", 0},
	{EVF_ERR_CANCELLED, "cancelled", "transfer cancelled", 0},
	{EVF_ERR_TOO_MANY_REDIRECTS, "too_many_redirects", "too many redirects", 0},
	{EVF_ERR_REDIRECT, "redirect", "unusable redirect", 0},
	{EVF_ERR_TOO_LARGE, "too_large", "response larger than allowed", 0},
	{EVF_ERR_DECODE, "decode", "content decoding failed", 0},
	{EVF_ERR_TRUNCATED, "truncated", "the response ended early", 1},
	{EVF_ERR_NETWORK, "network", "the connection failed while in use", 1},
	{EVF_ERR_RESOURCE, "resource", "out of file descriptors or another resource", 0},
	{EVF_ERR_PROXY, "proxy", "the proxy refused or failed the tunnel", 0},
};

static const struct err_text *lookup(int err)
{
	for (size_t i = 0; i < sizeof errors / sizeof errors[0]; i++)
		if (errors[i].code == err)
			return &errors[i];
	return NULL;
}

EVF_API const char *evf_strerror(int err)
{
	const struct err_text *e = lookup(err);
	return e ? e->text : "unknown error";
}

EVF_API const char *evf_error_name(int err)
{
	const struct err_text *e = lookup(err);
	return e ? e->name : "unknown";
}

EVF_API int evf_error_retryable(int err)
{
	const struct err_text *e = lookup(err);
	return e ? e->retryable : 0;
}
