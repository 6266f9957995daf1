/*
 * error.c - the error kinds of the public API: names and sentences.
 */
#include "internal.h"

struct err_text {
	int code;
	const char *name;
	const char *text;
};

static const struct err_text errors[] = {
	{EVF_OK, "ok", "success"},
	{EVF_ERR_INVALID, "invalid", "invalid argument"},
	{EVF_ERR_NOMEM, "nomem", "out of memory"},
	{EVF_ERR_URL, "url", "malformed or unsupported URL"},
	{EVF_ERR_DNS, "dns", "host name could not be resolved"},
	{EVF_ERR_CONNECT, "connect", "could not connect to the server"},
	{EVF_ERR_TLS, "tls", "TLS handshake or certificate verification failed"},
	{EVF_ERR_TIMEOUT, "timeout", "operation timed out"},
	{EVF_ERR_PROTOCOL, "protocol", "the server violated HTTP"},
	{EVF_ERR_HTTP, "http", "the server returned an HTTP error status"},
	{EVF_ERR_IO, "io", "the receiver refused the data"},
	{EVF_ERR_CANCELLED, "cancelled", "transfer cancelled"},
	{EVF_ERR_TOO_MANY_REDIRECTS, "too_many_redirects", "too many redirects"},
	{EVF_ERR_REDIRECT, "redirect", "unusable redirect"},
	{EVF_ERR_TOO_LARGE, "too_large", "response larger than allowed"},
	{EVF_ERR_DECODE, "decode", "content decoding failed"},
	{EVF_ERR_TRUNCATED, "truncated", "the response ended early"},
	{EVF_ERR_NETWORK, "network", "the connection failed while in use"},
	{EVF_ERR_RESOURCE, "resource", "out of file descriptors or another resource"},
	{EVF_ERR_PROXY, "proxy", "the proxy refused or failed the tunnel"},
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
