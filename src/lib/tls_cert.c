/*
 * tls_cert.c - the client's own certificate (mutual TLS), part of the TLS
 * layer: evf_config_set_client_cert, loading the certificate and key into
 * the SSL_CTX when a client is made, and telling, when a server ends a
 * connection with an alert, that it was about that certificate.
 *
 * The passphrase of an encrypted key lives in the caller's evf_config and
 * in the client's copy of it only until tls_ctx_new has loaded the key:
 * client.c wipes the copy right after (evf_config_forget_pass), and every
 * copy is cleansed, not merely freed.  OpenSSL's own default, when a key is
 * encrypted and no passphrase is given, is to prompt on the terminal; our
 * callback never does, as a library on someone's event loop must not.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/x509.h>

#include "internal.h"

EVF_API int evf_config_set_client_cert(evf_config *cfg, const char *cert_file,
                                       const char *key_file, const char *passphrase)
{
	if (!cfg || (!cert_file && (key_file || passphrase)) || (cert_file && !*cert_file) ||
	    (key_file && !*key_file))
		return EVF_ERR_INVALID;
	char *c = cert_file ? evf_strdup(cert_file) : NULL;
	char *k = key_file ? evf_strdup(key_file) : NULL;
	char *p = passphrase ? evf_strdup(passphrase) : NULL;
	if ((cert_file && !c) || (key_file && !k) || (passphrase && !p)) {
		free(c);
		free(k);
		if (p)
			OPENSSL_clear_free(p, strlen(p));
		return EVF_ERR_NOMEM;
	}
	free(cfg->cert_file);
	free(cfg->key_file);
	evf_config_forget_pass(cfg);
	cfg->cert_file = c;
	cfg->key_file = k;
	cfg->key_pass = p;
	return 0;
}

void evf_config_forget_pass(struct evf_config *cfg)
{
	if (cfg->key_pass)
		OPENSSL_clear_free(cfg->key_pass, strlen(cfg->key_pass));
	cfg->key_pass = NULL;
}

/* What the passphrase callback was given and what it was asked. */
struct pass_ask {
	const char *pass;   /* NULL: none was given */
	int asked;          /* the key turned out to be encrypted */
	int too_long;
};

static int pass_cb(char *buf, int size, int rwflag, void *u)
{
	(void)rwflag;
	struct pass_ask *a = u;
	if (!a)
		return -1;   /* after loading: never a prompt */
	a->asked = 1;
	if (!a->pass)
		return -1;
	size_t n = strlen(a->pass);
	if (size <= 0 || n > (size_t)size) {
		a->too_long = 1;
		return -1;
	}
	memcpy(buf, a->pass, n);
	return (int)n;
}

/* Note that the server asked for a certificate: its alert then explains. */
static int cert_asked_cb(SSL *ssl, void *arg)
{
	(void)arg;
	BIO *b = SSL_get_rbio(ssl);
	struct conn *cn = b ? BIO_get_data(b) : NULL;
	if (cn)
		cn->cert_asked = 1;
	return 1;
}

int tls_ctx_client_cert(SSL_CTX *ctx, const struct evf_config *cfg, char *why,
                        size_t whylen)
{
	SSL_CTX_set_cert_cb(ctx, cert_asked_cb, NULL);
	if (!cfg->cert_file)
		return 1;
	const char *key = cfg->key_file ? cfg->key_file : cfg->cert_file;
	struct pass_ask ask = {cfg->key_pass, 0, 0};
	int ok = 0;
	ERR_clear_error();
	if (SSL_CTX_use_certificate_chain_file(ctx, cfg->cert_file) != 1) {
		snprintf(why, whylen, "cannot load the client certificate %s: %s", cfg->cert_file,
		         tls_load_reason(cfg->cert_file, 0));
		goto out;
	}
	SSL_CTX_set_default_passwd_cb(ctx, pass_cb);
	SSL_CTX_set_default_passwd_cb_userdata(ctx, &ask);
	int loaded = SSL_CTX_use_PrivateKey_file(ctx, key, SSL_FILETYPE_PEM) == 1;
	SSL_CTX_set_default_passwd_cb_userdata(ctx, NULL);
	/* OpenSSL compares the key with the certificate as it loads it */
	unsigned long e = loaded ? 0 : ERR_peek_last_error();
	int mismatch = ERR_GET_LIB(e) == ERR_LIB_X509 &&
	               (ERR_GET_REASON(e) == X509_R_KEY_VALUES_MISMATCH ||
	                ERR_GET_REASON(e) == X509_R_KEY_TYPE_MISMATCH);
	if (!loaded && !mismatch) {
		const char *reason = tls_load_reason(key, 0);
		if (ask.asked && !ask.pass)
			snprintf(why, whylen, "the client key %s is encrypted and no "
			         "passphrase was given", key);
		else if (ask.too_long)
			snprintf(why, whylen, "cannot load the client key %s: the passphrase "
			         "is too long", key);
		else if (ask.asked)
			snprintf(why, whylen, "cannot load the client key %s: wrong passphrase "
			         "(%s)", key, reason);
		else
			snprintf(why, whylen, "cannot load the client key %s: %s", key, reason);
		goto out;
	}
	if (mismatch || SSL_CTX_check_private_key(ctx) != 1) {
		snprintf(why, whylen, "the client key %s does not belong to the certificate %s",
		         key, cfg->cert_file);
		goto out;
	}
	ok = 1;
out:
	ERR_clear_error();
	return ok;
}

/* Alerts a server sends about the client's certificate. */
static int cert_alert(int reason)
{
	switch (reason) {
	case SSL_R_SSLV3_ALERT_BAD_CERTIFICATE:
	case SSL_R_SSLV3_ALERT_UNSUPPORTED_CERTIFICATE:
	case SSL_R_SSLV3_ALERT_CERTIFICATE_REVOKED:
	case SSL_R_SSLV3_ALERT_CERTIFICATE_EXPIRED:
	case SSL_R_SSLV3_ALERT_CERTIFICATE_UNKNOWN:
	case SSL_R_TLSV1_ALERT_UNKNOWN_CA:
	case SSL_R_TLSV1_ALERT_ACCESS_DENIED:
	case SSL_R_TLSV1_ALERT_DECRYPT_ERROR:
		return 1;
	default:
		return 0;
	}
}

const char *tls_client_cert_hint(const struct conn *cn, unsigned long e)
{
	if (ERR_GET_LIB(e) != ERR_LIB_SSL)
		return "";
	int reason = ERR_GET_REASON(e);
	int have = cn->client->cfg.cert_file != NULL;
	if (reason == SSL_R_TLSV13_ALERT_CERTIFICATE_REQUIRED)
		return have ? " (the server required a client certificate)"
		            : " (the server required a client certificate and none was given)";
	if (!cn->cert_asked)
		return "";
	if (cert_alert(reason))
		return have ? " (the server rejected the client certificate)"
		            : " (the server asked for a client certificate and none was given)";
	if (reason == SSL_R_SSLV3_ALERT_HANDSHAKE_FAILURE && !have)
		return " (the server asked for a client certificate and none was given)";
	return "";
}
