/* test_error.c - every error kind has a stable name and a sentence. */
#include <string.h>
#include "internal.h"
#include "tap.h"

int main(void)
{
	static const struct {
		int code;
		const char *name;
	} kinds[] = {
		{EVF_OK, "ok"}, {EVF_ERR_URL, "url"}, {EVF_ERR_DNS, "dns"},
		{EVF_ERR_CONNECT, "connect"}, {EVF_ERR_TLS, "tls"},
		{EVF_ERR_TIMEOUT, "timeout"}, {EVF_ERR_PROTOCOL, "protocol"},
		{EVF_ERR_HTTP, "http"}, {EVF_ERR_IO, "io"},
		{EVF_ERR_TOO_MANY_REDIRECTS, "too_many_redirects"},
		{EVF_ERR_REDIRECT, "redirect"}, {EVF_ERR_TOO_LARGE, "too_large"},
		{EVF_ERR_DECODE, "decode"}, {EVF_ERR_TRUNCATED, "truncated"},
		{EVF_ERR_NETWORK, "network"}, {EVF_ERR_RESOURCE, "resource"},
	};
	for (size_t i = 0; i < sizeof kinds / sizeof kinds[0]; i++) {
		is_str(evf_error_name(kinds[i].code), kinds[i].name, "name of %d", kinds[i].code);
		const char *s = evf_strerror(kinds[i].code);
		ok(s && strlen(s) > 3 && strcmp(s, "unknown error") != 0, "sentence for %s: %s",
		   kinds[i].name, s);
	}
	is_str(evf_error_name(12345), "unknown", "unknown code has a name");
	is_str(evf_strerror(-999), "unknown error", "unknown code has a sentence");

	/* EVF_ERR_CALLBACK is the new name of -10; EVF_ERR_IO stays its alias */
	ok(EVF_ERR_CALLBACK == -10 && EVF_ERR_IO == EVF_ERR_CALLBACK, "EVF_ERR_IO is EVF_ERR_CALLBACK");
	is_str(evf_error_name(EVF_ERR_CALLBACK), "io", "the report name of -10 stays io");

	/* retryable: exactly the transient failures, and the retry policy agrees */
	static const int transient[] = {EVF_ERR_CONNECT, EVF_ERR_TIMEOUT, EVF_ERR_NETWORK,
	                                EVF_ERR_TRUNCATED};
	for (size_t i = 0; i < sizeof transient / sizeof transient[0]; i++)
		ok(evf_error_retryable(transient[i]) == 1, "%s is retryable",
		   evf_error_name(transient[i]));
	int others = 0, agree = 0;
	for (int e = 5; e >= -40; e--) {
		int transient_e = 0;
		for (size_t i = 0; i < sizeof transient / sizeof transient[0]; i++)
			transient_e |= transient[i] == e;
		others += !transient_e && evf_error_retryable(e) != 0;
		agree += (policy_retry_error(e) != 0) == (evf_error_retryable(e) != 0);
	}
	ok(others == 0, "no other code from 5 to -40 is retryable (%d were)", others);
	ok(agree == 46, "the retry policy agrees on all 46 codes (%d did)", agree);
	ok(!evf_error_retryable(EVF_ERR_TLS) && !evf_error_retryable(EVF_ERR_DNS) &&
	   !evf_error_retryable(EVF_ERR_CALLBACK) && !evf_error_retryable(EVF_OK),
	   "tls, dns, callback and ok are not retryable");

	/* header lines the API accepts and refuses */
	ok(evf_header_line_valid("X-Test: 1") == 0, "a plain header line is valid");
	ok(evf_header_line_valid("X-Empty:") == 0, "a header with no value is valid (removal)");
	ok(evf_header_line_valid("NoColon") != 0, "a line without ':' is refused");
	ok(evf_header_line_valid(": value") != 0, "an empty name is refused");
	ok(evf_header_line_valid("X-A: 1\r\nX-B: 2") != 0, "CR LF inside a value is refused");
	ok(evf_header_line_valid("Bad Name: 1") != 0, "a space in the name is refused");

	/* config validation */
	evf_config *cfg = evf_config_new();
	ok(evf_config_set_max_transfers(cfg, 0) == EVF_ERR_INVALID, "0 transfers refused");
	ok(evf_config_add_resolve(cfg, "h.test:443:127.0.0.1") == 0, "resolve entry accepted");
	ok(evf_config_add_resolve(cfg, "h.test:443:[::1]") == 0, "IPv6 resolve entry accepted");
	ok(evf_config_add_resolve(cfg, "h.test:443:not-an-ip") != 0, "resolve to a name refused");
	ok(evf_config_add_resolve(cfg, "h.test:0:127.0.0.1") != 0, "resolve with port 0 refused");
	ok(evf_config_add_resolve(cfg, "h.test:127.0.0.1") != 0, "resolve without port refused");
	ok(evf_config_set_dns_servers(cfg, "127.0.0.1:5353,[::1]:53") == 0, "dns servers accepted");
	ok(evf_config_set_dns_servers(cfg, "127.0.0.1:x") != 0, "bad dns server refused");
	ok(evf_config_set_user_agent(cfg, "a\r\nb") != 0, "user agent with CR LF refused");
	ok(evf_config_set_client_cert(cfg, NULL, "k.pem", NULL) == EVF_ERR_INVALID &&
	   evf_config_set_client_cert(cfg, NULL, NULL, "pw") == EVF_ERR_INVALID &&
	   evf_config_set_client_cert(cfg, "", NULL, NULL) == EVF_ERR_INVALID,
	   "a client key or passphrase without a certificate is refused");
	ok(evf_config_set_client_cert(cfg, "c.pem", "k.pem", "pw") == 0 &&
	   evf_config_set_client_cert(cfg, "c.pem", NULL, "pw2") == 0 &&
	   evf_config_set_client_cert(cfg, NULL, NULL, NULL) == 0,
	   "a client certificate is set, replaced and removed");
	ok(evf_config_set_client_cert(cfg, "/nonexistent/c.pem", NULL, "pw") == 0,
	   "a client certificate is only read by evf_client_new");
	evf_config_free(cfg);
	return done_testing();
}
