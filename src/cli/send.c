/*
 * send.c - what the command line sends: -X, --data and its kin, --json,
 * -T and -u, turned into one method, one body and a few header lines that
 * every URL's request shares (the body is read once and borrowed by each
 * transfer; a -T file is read with pread by each).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>
#include <sys/stat.h>

#include <event2/http.h>
#include <openssl/evp.h>

#include "cli.h"

#define MAX_READ ((size_t)1 << 31)   /* what --data @FILE reads into memory */

/* Append n bytes to s's body. */
static int add(struct cli_send *s, const char *p, size_t n)
{
	if (n > MAX_READ - s->len) {
		cli_warn("the request body is larger than %zu bytes", MAX_READ);
		return -1;
	}
	char *b = realloc(s->body, s->len + n + 1);
	if (b == NULL) {
		cli_warn("out of memory for the request body");
		return -1;
	}
	memcpy(b + s->len, p, n);
	s->body = b;
	s->len += n;
	b[s->len] = '\0';
	return 0;
}

/* All of a file ('-': standard input) into *out. */
static int slurp(const char *path, char **out, size_t *outlen)
{
	int fd = strcmp(path, "-") == 0 ? 0 : open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		cli_warn("cannot open %s: %s", path, strerror(errno));
		return -1;
	}
	char *buf = NULL;
	size_t len = 0, cap = 0;
	for (;;) {
		if (len == cap) {
			cap = cap ? 2 * cap : 65536;
			char *b = cap <= MAX_READ ? realloc(buf, cap + 1) : NULL;
			if (b == NULL) {
				cli_warn("%s: too large or out of memory", path);
				goto fail;
			}
			buf = b;
		}
		ssize_t r = read(fd, buf + len, cap - len);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			cli_warn("cannot read %s: %s", path, strerror(errno));
			goto fail;
		}
		if (r == 0)
			break;
		len += (size_t)r;
	}
	if (fd != 0)
		close(fd);
	buf = buf ? buf : malloc(1);
	if (buf == NULL)
		return -1;
	buf[len] = '\0';
	*out = buf;
	*outlen = len;
	return 0;
fail:
	if (fd != 0)
		close(fd);
	free(buf);
	return -1;
}

/* The value of --data and the like: the text, or a file's content after @. */
static int value_of(const char *arg, int at_file, char **out, size_t *len)
{
	if (at_file && arg[0] == '@')
		return slurp(arg + 1, out, len);
	*len = strlen(arg);
	if ((*out = strdup(arg)) == NULL) {
		cli_warn("out of memory");
		return -1;
	}
	return 0;
}

/* Percent-encode all but RFC 3986's unreserved characters, as curl does. */
static int add_encoded(struct cli_send *s, const char *p, size_t n)
{
	static const char hex[] = "0123456789ABCDEF";
	for (size_t i = 0; i < n; i++) {
		unsigned char ch = (unsigned char)p[i];
		char enc[3] = {'%', hex[ch >> 4], hex[ch & 15]};
		int plain = (ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') ||
		            (ch >= '0' && ch <= '9') || strchr("-._~", ch) != NULL;
		if (plain ? add(s, (const char *)&p[i], 1) : add(s, enc, 3))
			return -1;
	}
	return 0;
}

/* --data-urlencode: "content", "=content", "name=content", "@file" or
 * "name@file"; the content is encoded, the name is not. */
static int add_urlencoded(struct cli_send *s, const char *arg)
{
	const char *eq = strchr(arg, '='), *at = strchr(arg, '@');
	char *content = NULL;
	size_t clen = 0;
	int r;
	if (eq != NULL && (at == NULL || eq < at)) {
		if (add(s, arg, (size_t)(eq - arg)) || (eq > arg && add(s, "=", 1)))
			return -1;
		return add_encoded(s, eq + 1, strlen(eq + 1));
	}
	if (at != NULL) {
		if (add(s, arg, (size_t)(at - arg)) || (at > arg && add(s, "=", 1)) ||
		    slurp(at + 1, &content, &clen))
			return -1;
		r = add_encoded(s, content, clen);
		free(content);
		return r;
	}
	return add_encoded(s, arg, strlen(arg));
}

static int add_data(struct cli_send *s, const struct cli_data *d, int first)
{
	char *v = NULL;
	size_t n = 0;
	int r = 0;
	/* --data, --data-binary and --data-urlencode join with '&', as in
	 * curl; --json pieces join as they are */
	if (!first && d->kind != CLI_DATA_JSON && add(s, "&", 1))
		return -1;
	switch (d->kind) {
	case CLI_DATA_URLENCODE:
		return add_urlencoded(s, d->arg);
	case CLI_DATA_ASCII:
		if (value_of(d->arg, 1, &v, &n))
			return -1;
		/* from a file, --data drops line ends, as curl's does */
		for (size_t i = 0; i < n; i++)
			if (!(d->arg[0] == '@' && (v[i] == '\r' || v[i] == '\n')))
				r = r || add(s, &v[i], 1);
		break;
	default:
		if (value_of(d->arg, 1, &v, &n))
			return -1;
		r = add(s, v, n);
		break;
	}
	free(v);
	return r;
}

static int has_header(const struct cli_opts *o, const char *name)
{
	size_t n = strlen(name);
	for (size_t i = 0; i < o->nheaders; i++)
		if (strncasecmp(o->headers[i], name, n) == 0 && o->headers[i][n] == ':')
			return 1;
	return 0;
}

static int add_line(struct cli_send *s, const char *fmt, const char *v)
{
	char *line = malloc(strlen(fmt) + strlen(v) + 1);
	if (line == NULL) {
		cli_warn("out of memory");
		return -1;
	}
	sprintf(line, fmt, v);
	s->lines[s->nlines++] = line;
	return 0;
}

/* "Authorization: Basic ..." for USER:PASSWORD (RFC 7617); NULL when
 * memory ran out. */
static char *basic_line(const char *user, size_t n)
{
	char *line = malloc(sizeof "Authorization: Basic " + 4 * ((n + 2) / 3));
	if (line == NULL)
		return NULL;
	strcpy(line, "Authorization: Basic ");
	EVP_EncodeBlock((unsigned char *)line + strlen(line), (const unsigned char *)user, (int)n);
	return line;
}

static int add_user(struct cli_send *s, const char *user)
{
	if ((s->lines[s->nlines] = basic_line(user, strlen(user))) == NULL) {
		cli_warn("out of memory");
		return -1;
	}
	s->nlines++;
	return 0;
}

/* --netrc: the credentials of t's host, unless -u or -H gave some. */
static int add_netrc(const struct cli_send *s, evf_transfer *t)
{
	struct evhttp_uri *u = evhttp_uri_parse(evf_transfer_url(t));
	const char *host = u != NULL ? evhttp_uri_get_host(u) : NULL;
	const struct cli_netrc_entry *e = host != NULL ? cli_netrc_find(&s->netrc, host) : NULL;
	int r = 0;
	if (e != NULL) {
		const char *pw = e->password != NULL ? e->password : "";
		size_t n = strlen(e->login) + 1 + strlen(pw);
		char *up = malloc(n + 1), *line = NULL;
		if (up != NULL) {
			snprintf(up, n + 1, "%s:%s", e->login, pw);
			line = basic_line(up, n);
			OPENSSL_cleanse(up, n);
			free(up);
		}
		r = line != NULL ? evf_transfer_add_header(t, line) : EVF_ERR_NOMEM;
		if (line != NULL) {
			OPENSSL_cleanse(line, strlen(line));
			free(line);
		}
	}
	if (u != NULL)
		evhttp_uri_free(u);
	return r;
}

int cli_send_prepare(const struct cli_opts *o, struct cli_send *s)
{
	struct stat st;
	memset(s, 0, sizeof *s);
	s->fd = -1;
	s->method = o->method;
	s->expect100_ms = o->expect100_ms > 60000 ? 60000 : o->expect100_ms;
	int json = 0;
	for (size_t i = 0; i < o->ndata; i++) {
		if (add_data(s, &o->data[i], i == 0))
			return -1;
		json |= o->data[i].kind == CLI_DATA_JSON;
	}
	if (o->ndata > 0) {
		s->has_body = 1;
		if (s->body == NULL && add(s, "", 0))
			return -1;
		if (s->method == NULL)
			s->method = "POST";
		if (!has_header(o, "content-type") &&
		    add_line(s, "Content-Type: %s",
		             json ? "application/json" : "application/x-www-form-urlencoded"))
			return -1;
		if (json && !has_header(o, "accept") &&
		    add_line(s, "Accept: %s", "application/json"))
			return -1;
	}
	if (o->upload_file != NULL) {
		if (s->method == NULL)
			s->method = "PUT";
		s->has_body = 1;
		if (strcmp(o->upload_file, "-") == 0) {
			if (slurp("-", &s->body, &s->len))
				return -1;
		} else if ((s->fd = open(o->upload_file, O_RDONLY | O_CLOEXEC)) < 0) {
			cli_warn("cannot open %s: %s", o->upload_file, strerror(errno));
			return -1;
		} else if (fstat(s->fd, &st) != 0 || !S_ISREG(st.st_mode)) {
			/* a pipe or device is read once, into memory */
			close(s->fd);
			s->fd = -1;
			if (slurp(o->upload_file, &s->body, &s->len))
				return -1;
		}
	}
	if (o->user != NULL && add_user(s, o->user))
		return -1;
	if ((o->netrc || o->netrc_file != NULL) && o->user == NULL &&
	    !has_header(o, "authorization")) {
		char path[4096];
		const char *home = getenv("HOME");
		if (o->netrc_file == NULL)
			snprintf(path, sizeof path, "%s/.netrc", home != NULL ? home : "");
		if (cli_netrc_load(&s->netrc, o->netrc_file != NULL ? o->netrc_file : path,
		                   o->netrc_file != NULL) < 0)
			return -1;
		s->use_netrc = 1;
	}
	if (s->method == NULL)
		s->method = o->head ? "HEAD" : "GET";
	return 0;
}

int cli_send_apply(const struct cli_send *s, evf_transfer *t, int with_auth)
{
	int r = strcmp(s->method, "GET") == 0 ? 0 : evf_transfer_set_method(t, s->method);
	for (size_t i = 0; r == 0 && i < s->nlines; i++)
		r = evf_transfer_add_header(t, s->lines[i]);
	if (r == 0 && s->fd >= 0)
		r = evf_transfer_set_body_fd(t, s->fd, 0, -1);
	else if (r == 0 && s->has_body)
		r = evf_transfer_set_body(t, s->body, s->len, EVF_BODY_BORROW);
	if (r == 0 && s->use_netrc && !with_auth)
		r = add_netrc(s, t);
	if (r == 0 && s->expect100_ms)
		r = evf_transfer_set_option(t, EVF_OPT_EXPECT_100_MS, s->expect100_ms);
	return r;
}

void cli_send_free(struct cli_send *s)
{
	free(s->body);
	for (size_t i = 0; i < s->nlines; i++) {
		OPENSSL_cleanse(s->lines[i], strlen(s->lines[i]));
		free(s->lines[i]);
	}
	if (s->has_body && s->fd >= 0)
		close(s->fd);
	cli_netrc_free(&s->netrc);
	memset(s, 0, sizeof *s);
	s->fd = -1;
}
