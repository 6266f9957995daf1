/*
 * jsonl.c - --input-format jsonl: one request per input line, a JSON
 * object read with jansson:
 *
 *   {"url": "https://api.example/v1/items", "method": "POST",
 *    "headers": {"Content-Type": "application/json"},
 *    "body": "{\"name\":\"x\"}", "id": 17}
 *
 * url is required; method, headers (an object of strings, or an array of
 * "Name: value" strings), body (a string) or body_file (a path), and id
 * (any JSON value, echoed in the report) are optional.  The tool's own
 * -X, -H, --data and -T apply where a line says nothing of its own.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <jansson.h>

#include "cli.h"

static int
bad(char *why, size_t whylen, const char *fmt, const char *what)
{
	snprintf(why, whylen, fmt, what);
	return -1;
}

static int
add_header(struct cli_request *r, const char *name, const char *value)
{
	size_t n = strlen(name) + strlen(value) + 3;
	char *line = malloc(n), **h;

	if (line == NULL)
		return -1;
	snprintf(line, n, "%s: %s", name, value);
	h = realloc(r->headers, (r->nheaders + 1) * sizeof *h);
	if (h == NULL) {
		free(line);
		return -1;
	}
	r->headers = h;
	h[r->nheaders++] = line;
	return 0;
}

static int
take_headers(struct cli_request *r, json_t *h, char *why, size_t whylen)
{
	const char *name;
	json_t *v;
	size_t i;

	if (json_is_object(h)) {
		json_object_foreach(h, name, v) {
			if (!json_is_string(v))
				return bad(why, whylen, "the header '%.100s' is not a string", name);
			if (add_header(r, name, json_string_value(v)) < 0)
				return bad(why, whylen, "%s", "out of memory");
		}
		return 0;
	}
	if (!json_is_array(h))
		return bad(why, whylen, "%s", "\"headers\" is neither an object nor an array");
	json_array_foreach(h, i, v) {
		const char *line = json_string_value(v), *colon;
		char *name_copy;
		int rc;

		if (line == NULL || (colon = strchr(line, ':')) == NULL)
			return bad(why, whylen, "%s", "a \"headers\" entry is not a 'Name: value' string");
		name_copy = strndup(line, (size_t)(colon - line));
		rc = name_copy == NULL ? -1 : add_header(r, name_copy, colon[1] == ' ' ? colon + 2 : colon + 1);
		free(name_copy);
		if (rc < 0)
			return bad(why, whylen, "%s", "out of memory");
	}
	return 0;
}

int
cli_jsonl_parse(const char *line, size_t len, struct cli_request *r, char *why,
                size_t whylen)
{
	json_error_t jerr;
	json_t *o, *v;
	int rc = -1;

	memset(r, 0, sizeof *r);
	o = json_loadb(line, len, JSON_REJECT_DUPLICATES, &jerr);
	if (o == NULL) {
		snprintf(why, whylen, "not JSON: %s (column %d)", jerr.text, jerr.column);
		return -1;
	}
	if (!json_is_object(o)) {
		bad(why, whylen, "%s", "not a JSON object");
		goto out;
	}
	v = json_object_get(o, "url");
	if (!json_is_string(v)) {
		bad(why, whylen, "%s", "no \"url\" string");
		goto out;
	}
	r->url = strdup(json_string_value(v));
	if ((v = json_object_get(o, "method")) != NULL) {
		if (!json_is_string(v)) {
			bad(why, whylen, "%s", "\"method\" is not a string");
			goto out;
		}
		r->method = strdup(json_string_value(v));
	}
	if ((v = json_object_get(o, "headers")) != NULL &&
	    take_headers(r, v, why, whylen) < 0)
		goto out;
	if ((v = json_object_get(o, "body")) != NULL) {
		if (!json_is_string(v)) {
			bad(why, whylen, "%s", "\"body\" is not a string");
			goto out;
		}
		r->body_len = json_string_length(v);
		r->body = malloc(r->body_len + 1);
		if (r->body != NULL)
			memcpy(r->body, json_string_value(v), r->body_len + 1);
		r->has_body = 1;
	}
	if ((v = json_object_get(o, "body_file")) != NULL) {
		if (!json_is_string(v) || r->has_body) {
			bad(why, whylen, "%s", "\"body_file\" is not a string, or \"body\" is there too");
			goto out;
		}
		r->body_file = strdup(json_string_value(v));
	}
	if ((v = json_object_get(o, "id")) != NULL)
		r->id_json = json_dumps(v, JSON_ENCODE_ANY | JSON_COMPACT);
	if (r->url == NULL || (r->has_body && r->body == NULL) ||
	    (json_object_get(o, "method") && r->method == NULL) ||
	    (json_object_get(o, "id") && r->id_json == NULL) ||
	    (json_object_get(o, "body_file") && r->body_file == NULL)) {
		bad(why, whylen, "%s", "out of memory");
		goto out;
	}
	rc = 0;
out:
	json_decref(o);
	if (rc < 0)
		cli_request_free(r);
	return rc;
}

int
cli_request_apply(const struct cli_request *r, evf_transfer *t, int tool_method, int *fd,
                  char *why, size_t whylen)
{
	int err = 0;

	*fd = -1;
	if (r->method != NULL)
		err = evf_transfer_set_method(t, r->method);
	for (size_t i = 0; err == 0 && i < r->nheaders; i++)
		err = evf_transfer_add_header(t, r->headers[i]);
	if (err == 0 && r->has_body)
		err = evf_transfer_set_body(t, r->body, r->body_len, EVF_BODY_COPY);
	if (err == 0 && r->body_file != NULL) {
		*fd = open(r->body_file, O_RDONLY | O_CLOEXEC);
		if (*fd < 0)
			snprintf(why, whylen, "cannot open the body_file %.200s: %s", r->body_file,
			         strerror(errno));
		else if ((err = evf_transfer_set_body_fd(t, *fd, 0, -1)) != 0)
			snprintf(why, whylen, "the body_file %.200s is not a regular file",
			         r->body_file);
		if (*fd < 0)
			err = EVF_ERR_INVALID;
	}
	/* a body without a method of its own (nor -X) is POSTed, as --data is */
	if (err == 0 && r->method == NULL && !tool_method && (r->has_body || r->body_file != NULL))
		err = evf_transfer_set_method(t, "POST");
	return err;
}

int
cli_request_has(const struct cli_request *r, const char *name)
{
	size_t n = strlen(name);
	for (size_t i = 0; i < r->nheaders; i++)
		if (strncasecmp(r->headers[i], name, n) == 0 && r->headers[i][n] == ':')
			return 1;
	return 0;
}

void
cli_request_free(struct cli_request *r)
{
	free(r->url);
	free(r->method);
	for (size_t i = 0; i < r->nheaders; i++)
		free(r->headers[i]);
	free(r->headers);
	free(r->body);
	free(r->body_file);
	free(r->id_json);
	memset(r, 0, sizeof *r);
}
