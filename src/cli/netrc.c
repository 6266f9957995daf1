/*
 * netrc.c - --netrc and --netrc-file: credentials per host from a .netrc
 * file, as curl and ftp read it.  Tokens are separated by blanks and
 * newlines and may be double-quoted (with \ escaping the next character);
 * "machine NAME" starts an entry, "default" the entry for every other
 * host, "login" and "password" fill it, "account" is skipped with its
 * value, and "macdef NAME" skips everything up to the next empty line.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/crypto.h>

#include "cli.h"

#define NETRC_MAX (1u << 20)   /* a larger file is refused */

/* The next token of *p (in place: quotes removed, NUL-terminated), or NULL. */
static char *
next_token(char **p)
{
	char *s = *p, *out, *start;

	while (*s == ' ' || *s == '\t' || *s == '\n' || *s == '\r')
		s++;
	if (*s == '\0') {
		*p = s;
		return NULL;
	}
	start = out = s;
	if (*s == '"') {
		s++;
		while (*s != '\0' && *s != '"') {
			if (*s == '\\' && s[1] != '\0')
				s++;
			*out++ = *s++;
		}
		if (*s == '"')
			s++;
	} else {
		while (*s != '\0' && *s != ' ' && *s != '\t' && *s != '\n' && *s != '\r')
			*out++ = *s++;
	}
	/* the separator after the token, not the start of the next one */
	if (*s == ' ' || *s == '\t' || *s == '\n' || *s == '\r')
		s++;
	*out = '\0';
	*p = s;
	return start;
}

static struct cli_netrc_entry *
new_entry(struct cli_netrc *nr, const char *machine)
{
	struct cli_netrc_entry *e = realloc(nr->e, (nr->n + 1) * sizeof *e);

	if (e == NULL)
		return NULL;
	nr->e = e;
	e += nr->n++;
	memset(e, 0, sizeof *e);
	e->machine = machine;
	return e;
}

int
cli_netrc_load(struct cli_netrc *nr, const char *path, int required)
{
	FILE *f = fopen(path, "r");
	struct cli_netrc_entry *cur = NULL;
	char *p, *tok;
	size_t len;

	memset(nr, 0, sizeof *nr);
	if (f == NULL) {
		if (!required && errno == ENOENT)
			return 0;
		cli_warn("cannot open the netrc file %s: %s", path, strerror(errno));
		return -1;
	}
	nr->text = malloc(NETRC_MAX + 1);
	len = nr->text != NULL ? fread(nr->text, 1, NETRC_MAX + 1, f) : 0;
	fclose(f);
	if (nr->text == NULL || len > NETRC_MAX) {
		cli_warn("the netrc file %s is larger than 1 MiB, or memory ran out", path);
		return -1;
	}
	nr->text[len] = '\0';
	nr->len = len;
	p = nr->text;
	while ((tok = next_token(&p)) != NULL) {
		if (strcmp(tok, "machine") == 0 || strcmp(tok, "default") == 0) {
			const char *name = strcmp(tok, "default") == 0 ? NULL : next_token(&p);
			if (tok[0] == 'm' && name == NULL)
				break;
			if ((cur = new_entry(nr, name)) == NULL) {
				cli_warn("out of memory reading %s", path);
				return -1;
			}
		} else if (strcmp(tok, "login") == 0 || strcmp(tok, "password") == 0 ||
		           strcmp(tok, "account") == 0) {
			char *v = next_token(&p);
			if (v != NULL && cur != NULL && tok[0] == 'l')
				cur->login = v;
			else if (v != NULL && cur != NULL && tok[0] == 'p')
				cur->password = v;
		} else if (strcmp(tok, "macdef") == 0) {
			/* its body ends at an empty line, LF or CRLF */
			char *lf = strstr(p, "\n\n"), *crlf = strstr(p, "\n\r\n");
			char *end = lf && (!crlf || lf < crlf) ? lf + 2 : crlf ? crlf + 3 : NULL;
			p = end != NULL ? end : p + strlen(p);
		}
	}
	return 0;
}

const struct cli_netrc_entry *
cli_netrc_find(const struct cli_netrc *nr, const char *host)
{
	const struct cli_netrc_entry *def = NULL;

	for (size_t i = 0; i < nr->n; i++) {
		const struct cli_netrc_entry *e = &nr->e[i];
		if (e->machine == NULL) {
			if (def == NULL)
				def = e;
		} else if (strcasecmp(e->machine, host) == 0 && e->login != NULL) {
			return e;
		}
	}
	return def != NULL && def->login != NULL ? def : NULL;
}

void
cli_netrc_free(struct cli_netrc *nr)
{
	if (nr->text != NULL)
		OPENSSL_cleanse(nr->text, nr->len);
	free(nr->text);
	free(nr->e);
	memset(nr, 0, sizeof *nr);
}
