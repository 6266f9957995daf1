/*
 * tls_ident.c - client certificates per transfer
 * (evf_transfer_set_client_cert): an identity is a certificate and key
 * loaded into an SSL_CTX of its own, made from the client's settings, and
 * shared by every transfer and host that names the same files.  A host
 * carries its identity in its key (pool.c), so a connection, its TLS
 * sessions and its pool serve only the transfers of that identity.
 *
 * The files are loaded when the transfer starts; a failure ends that
 * transfer alone with EVF_ERR_TLS and the reason.  The passphrase is kept
 * by the transfer only until then, and wiped.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "internal.h"

struct tls_ident {
	char *cert, *key;          /* as given; key NULL: in the cert file */
	/* SHA-256 of the passphrase (all zero without one): the same files
	 * with another passphrase are another identity, which must load */
	unsigned char pass_hash[32];
	SSL_CTX *ctx;
	unsigned refs;             /* transfers and hosts */
	struct tls_ident *next;    /* the client's list */
};

/* What a transfer asked for, until it starts. */
struct ident_req {
	char *cert, *key, *pass;
};

static int same(const char *a, const char *b)
{
	return a == b || (a && b && strcmp(a, b) == 0);
}

static void req_free(struct ident_req *r)
{
	if (!r)
		return;
	free(r->cert);
	free(r->key);
	if (r->pass)
		OPENSSL_clear_free(r->pass, strlen(r->pass));
	free(r);
}

EVF_API int evf_transfer_set_client_cert(evf_transfer *t, const char *cert_file,
                                         const char *key_file, const char *passphrase)
{
	if (!t || t->started || t->cancelled || !cert_file || !*cert_file ||
	    (key_file && !*key_file))
		return EVF_ERR_INVALID;
	struct xfer_ext *x = xfer_ext(t);
	struct ident_req *r = x ? calloc(1, sizeof *r) : NULL;
	if (!r || !(r->cert = evf_strdup(cert_file)) ||
	    (key_file && !(r->key = evf_strdup(key_file))) ||
	    (passphrase && !(r->pass = evf_strdup(passphrase)))) {
		req_free(r);
		return EVF_ERR_NOMEM;
	}
	req_free(x->ident_req);
	x->ident_req = r;
	return 0;
}

int tls_ident_resolve(struct evf_transfer *t, char *why, size_t whylen)
{
	struct evf_client *c = t->client;
	struct ident_req *r = t->ext ? t->ext->ident_req : NULL;
	if (!r)
		return 0;
	t->ext->ident_req = NULL;
	unsigned char ph[32] = {0};
	if (r->pass && !EVP_Digest(r->pass, strlen(r->pass), ph, NULL, EVP_sha256(), NULL)) {
		snprintf(why, whylen, "cannot hash the passphrase of %s", r->cert);
		req_free(r);
		return EVF_ERR_TLS;
	}
	struct tls_ident *id;
	for (id = c->idents; id; id = id->next)
		if (same(id->cert, r->cert) && same(id->key, r->key) &&
		    CRYPTO_memcmp(id->pass_hash, ph, sizeof ph) == 0)
			break;
	int rc = 0;
	if (!id) {
		/* the client's settings, this certificate */
		struct evf_config cfg = c->cfg;
		cfg.cert_file = r->cert;
		cfg.key_file = r->key;
		cfg.key_pass = r->pass;
		SSL_CTX *ctx = tls_ctx_new(&cfg, why, whylen);
		if (!ctx) {
			rc = EVF_ERR_TLS;
			goto out;
		}
		if (!(id = calloc(1, sizeof *id))) {
			SSL_CTX_free(ctx);
			rc = EVF_ERR_NOMEM;
			snprintf(why, whylen, "out of memory for a client certificate");
			goto out;
		}
		id->ctx = ctx;
		memcpy(id->pass_hash, ph, sizeof ph);
		id->cert = r->cert;
		id->key = r->key;
		r->cert = r->key = NULL;
		id->next = c->idents;
		c->idents = id;
	}
	id->refs++;
	t->ext->ident = id;   /* ext exists: the request was in it */
out:
	req_free(r);
	return rc;
}

struct tls_ident *tls_ident_ref(struct tls_ident *id)
{
	if (id)
		id->refs++;
	return id;
}

void tls_ident_put(struct tls_ident *id)
{
	/* freed with the client: a later transfer may name it again */
	if (id)
		id->refs--;
}

SSL_CTX *tls_ident_ctx(const struct tls_ident *id)
{
	return id->ctx;
}

void tls_idents_free(struct evf_client *c)
{
	struct tls_ident *id;
	while ((id = c->idents)) {
		c->idents = id->next;
		SSL_CTX_free(id->ctx);
		free(id->cert);
		free(id->key);
		free(id);
	}
}

void tls_ident_req_free(struct evf_transfer *t)
{
	if (t->ext) {
		req_free(t->ext->ident_req);
		t->ext->ident_req = NULL;
	}
	if (t->ext) {
		tls_ident_put(t->ext->ident);
		t->ext->ident = NULL;
	}
}
