/*
 * cli.h - shared declarations of the evfetch command-line tool.
 *
 * The tool is built on the public API of libevfetch (evfetch.h) and
 * libevent only.  Unlike the library it may keep one application context,
 * struct cli_app, which main.c owns and hands to the other modules.
 *
 * names.c, json.c and shard.c are leaf modules: they use nothing else of
 * the tool, so that their unit tests can link them alone; resume.c uses
 * only shard.c's stable hash.
 */
#ifndef EVFETCH_CLI_H
#define EVFETCH_CLI_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/types.h>

#include "evfetch.h"

struct event_base;
struct event;

/* ------------------------------------------------------------- utf8 */

/*
 * Length of the well-formed UTF-8 sequence at p (1-4), or 0 when the bytes
 * at p do not start one: overlong forms, surrogates and code points past
 * U+10FFFF count as malformed, as do sequences cut off by n.  Shared by
 * names.c and json.c, which cannot link against each other.
 */
static inline size_t
cli_utf8_len(const unsigned char *p, size_t n)
{
	unsigned char c = p[0], lo = 0x80, hi = 0xbf;
	size_t len, i;

	if (c < 0x80)
		return 1;
	if (c >= 0xc2 && c <= 0xdf)
		len = 2;
	else if (c >= 0xe0 && c <= 0xef)
		len = 3;
	else if (c >= 0xf0 && c <= 0xf4)
		len = 4;
	else
		return 0;
	/* The second byte's range rules out overlongs, surrogates and > U+10FFFF. */
	if (c == 0xe0)
		lo = 0xa0;
	else if (c == 0xed)
		hi = 0x9f;
	else if (c == 0xf0)
		lo = 0x90;
	else if (c == 0xf4)
		hi = 0x8f;
	if (n < len || p[1] < lo || p[1] > hi)
		return 0;
	for (i = 2; i < len; i++)
		if ((p[i] & 0xc0) != 0x80)
			return 0;
	return len;
}

/* ------------------------------------------------------------- names.c */

/* Longest safe name; leaves room for a ".N" suffix within NAME_MAX. */
#define CLI_NAME_MAX 200

/*
 * Derive a file name from url that is safe to create inside a directory:
 * never empty, never "." or "..", no '/', no control characters.  Writes a
 * NUL-terminated name of at most CLI_NAME_MAX bytes to out and returns its
 * length.
 */
size_t cli_safe_name(const char *url, char out[CLI_NAME_MAX + 1]);

/*
 * name for n == 0, "name.N" otherwise, into dst.  Returns 0, or -1 when it
 * does not fit.
 */
int cli_suffixed_name(char *dst, size_t dstsz, const char *name, unsigned n);

/* ------------------------------------------------------------- json.c */

/* A growable byte buffer whose failures are sticky: check oom once. */
struct cli_buf {
	char *data;
	size_t len, cap;
	int oom;
};

void cli_buf_init(struct cli_buf *b);
void cli_buf_free(struct cli_buf *b);
/* Room for n more bytes: 0, or -1 (oom set). */
int cli_buf_reserve(struct cli_buf *b, size_t n);
/* cli_buf_put when the bytes do not fit (or n is 0): grows the buffer. */
void cli_buf_grow_put(struct cli_buf *b, const void *p, size_t n);

/*
 * Inline, because a report line is made of some sixty small pieces: the
 * common case is one comparison and a copy.  n - 1 wraps for n == 0, which
 * goes to the slow path (and memcpy never sees a NULL buffer).
 */
static inline void
cli_buf_put(struct cli_buf *b, const void *p, size_t n)
{
	if (n - 1 < b->cap - b->len) {
		memcpy(b->data + b->len, p, n);
		b->len += n;
	} else {
		cli_buf_grow_put(b, p, n);
	}
}

/* A string literal's length is known when this is inlined. */
static inline void
cli_buf_puts(struct cli_buf *b, const char *s)
{
	cli_buf_put(b, s, strlen(s));
}

/* s as a JSON string; NULL becomes null.  Bad UTF-8 becomes U+FFFD. */
void cli_json_string(struct cli_buf *b, const char *s, size_t len);
void cli_json_cstring(struct cli_buf *b, const char *s);
void cli_json_bool(struct cli_buf *b, int v);
void cli_json_u64(struct cli_buf *b, uint64_t v);
/* v, or null when v is 0 (an HTTP status that never arrived). */
void cli_json_int_or_null(struct cli_buf *b, int v);
/* Microseconds as milliseconds with exactly three decimals. */
void cli_json_ms(struct cli_buf *b, uint64_t us);
void cli_json_i64(struct cli_buf *b, int64_t v);
/*
 * Milliseconds since the epoch as an RFC 3339 time in UTC, a JSON string:
 * "2026-11-27T10:15:30.123Z", or without the fraction when frac is 0.
 * null outside the years 0 to 9999.
 */
void cli_json_time(struct cli_buf *b, int64_t ms, int frac);

/* ------------------------------------------------------------- shard.c */

/* The most shards --shard takes. */
#define CLI_SHARD_MAX 1000000u

/* --shard K/N: this process fetches the URLs of shard k of n. */
struct cli_shard {
	unsigned k, n;             /* k from 1 to n; n == 0: no sharding */
	int by_host;               /* --shard-by host */
	const char *source;        /* with --shard auto: the scheduler's name */
};

/*
 * The hash that decides shards, the same on every machine and in every
 * version: FNV-1a 64 over the bytes, then MurmurHash3's fmix64.
 */
uint64_t cli_stable_hash(const void *p, size_t len);
/*
 * Where the host of url is: after "scheme://" and any "user@", without
 * the port; an IPv6 literal keeps its brackets.  0 when there is none.
 */
int cli_url_host(const char *url, size_t len, size_t *off, size_t *hlen);
/* The shard (1 to s->n) of a URL; s->n must not be 0. */
unsigned cli_shard_of(const struct cli_shard *s, const char *url, size_t len);
/* Whether this process fetches url: always without sharding. */
int cli_shard_mine(const struct cli_shard *s, const char *url, size_t len);
/*
 * Parse "K/N", "auto" or "auto/N" into s (keeping s->by_host); "auto"
 * asks get (getenv) for a scheduler's variables.  0, or -1 with the
 * reason in why.
 */
int cli_shard_parse(struct cli_shard *s, const char *arg,
                    char *(*get)(const char *), char *why, size_t whylen);

/* ------------------------------------------------------------- resume.c */

/* A report line longer than this is skipped when resuming. */
#define CLI_RESUME_LINE_MAX (16 * 1024 * 1024)

/* A set of byte strings, kept as 64-bit keyed hashes (see resume.c). */
struct cli_seen {
	uint64_t *slots;           /* 0 marks an empty slot */
	size_t cap, count;         /* cap is a power of two */
	uint64_t k0, k1;           /* SipHash key, random per run */
};

uint64_t cli_siphash(uint64_t k0, uint64_t k1, const void *data, size_t len);
/* 0, or -1 out of memory. */
int cli_seen_init(struct cli_seen *s);
void cli_seen_free(struct cli_seen *s);
/* 1 when added, 0 when it was there already, -1 out of memory. */
int cli_seen_add(struct cli_seen *s, const void *p, size_t len);
int cli_seen_has(const struct cli_seen *s, const void *p, size_t len);

/*
 * One line of a report: 0 when it is a JSON object with a string "url"
 * and a boolean "ok" (*url then points into line, which is decoded in
 * place), else -1.
 */
int cli_report_line_parse(char *line, size_t len, const char **url,
                          size_t *url_len, int *ok);

struct cli_resume {
	int fd;                    /* the report, open and locked; -1 */
	struct cli_seen seen;      /* done URLs, then those taken this run */
	uint64_t lines;            /* lines read from the report */
	uint64_t unreadable;       /* of them, not report lines */
	uint64_t cut;              /* bytes of a cut-off last line removed */
	int newline_added;         /* the last line was whole but had no '\n' */
	char tag[20];              /* names this report's temp files */
};

#define CLI_RESUME_LOCKED (-2)

/*
 * Open (or create) the report, lock it, read the URLs done, repair a
 * cut-off last line.  0; CLI_RESUME_LOCKED when another process holds
 * it; -1 with errno set and *what saying what failed ("reading", ...).
 */
int cli_resume_open(struct cli_resume *r, const char *path, const char **what);
void cli_resume_close(struct cli_resume *r);

/* ------------------------------------------------------------- args.c */

enum cli_out_mode {
	CLI_OUT_STDOUT,   /* one URL: straight through */
	CLI_OUT_SPOOL,    /* several URLs to stdout: each body whole */
	CLI_OUT_FILE,     /* -o */
	CLI_OUT_DIR,      /* -d */
	CLI_OUT_DISCARD,  /* --discard */
};

/* --data and its kin, in the order given */
enum cli_data_kind {
	CLI_DATA_ASCII,      /* --data: @FILE loses its line ends */
	CLI_DATA_BINARY,     /* --data-binary */
	CLI_DATA_URLENCODE,  /* --data-urlencode */
	CLI_DATA_JSON,       /* --json */
};
struct cli_data {
	enum cli_data_kind kind;
	const char *arg;
};

struct cli_opts {
	char **urls;               /* positional URLs, pointing into argv */
	size_t nurls;
	const char *input_file;    /* -i; "-" is stdin */
	enum cli_out_mode out_mode;
	const char *out_path;      /* -o FILE or -d DIR */
	unsigned concurrency;
	unsigned per_host;         /* 0 = no limit beyond concurrency */
	unsigned max_idle;         /* 0 = from the descriptors left */
	unsigned rate_per_host_milli; /* --rate-per-host x 1000; 0 = none */
	uint64_t limit_rate;       /* --limit-rate bytes a second; 0 = none */
	unsigned delay_per_host_ms;   /* 0 = none */
	uint64_t idle_memory;      /* 0 = the library's default */
	unsigned host_cache;       /* with host_cache_set */
	unsigned dns_cache_ms;     /* with dns_cache_set */
	int host_cache_set, dns_cache_set;
	const char *cacert, *capath;
	int insecure;
	const char *proxy, *noproxy, *proxy_cacert;   /* -x, --noproxy, ... */
	int proxy_insecure;
	int no_keepalive, no_sessionid;
	int http_version;   /* enum evf_http_version; 0: the library's default */
	int ip_family;      /* -4/-6: enum evf_ip_family */
	unsigned eyeballs_ms;  /* --happy-eyeballs-timeout-ms, with eyeballs_set */
	int eyeballs_set;
	const char **resolves;     /* --resolve entries, in order */
	size_t nresolves;
	const char *dns_servers;
	unsigned connect_timeout_ms, max_time_ms;   /* 0 = none */
	/* Given on the command line: else the library's default applies. */
	int connect_timeout_set, max_time_set, idle_timeout_set;
	const char **headers;      /* -H lines, in order */
	size_t nheaders;
	const char *user_agent;
	int head, fail;
	int follow;                /* -L */
	unsigned max_redirs;       /* with -L; 0 = a redirect fails */
	int compressed;
	uint64_t max_filesize;     /* 0 = no limit */
	unsigned retries;          /* --retry */
	unsigned retry_delay_ms;   /* before the first retry, then doubled */
	unsigned retry_max_ms;     /* cap on any delay; UINT_MAX = none */
	unsigned idle_timeout_ms;  /* 0 = none */
	const char *report;        /* --report; "-" is stdout */
	const char *resume;        /* --resume: also the report */
	struct cli_shard shard;    /* --shard, --shard-by */
	const char **report_headers; /* --report-header names, each once, in
	                             * lower case (copies) */
	size_t nreport_headers;
	int silent, no_progress, verbose;
	int show_error;            /* -S: error lines even with -s */
	int no_errors;             /* --no-errors: never error lines */
	const char *method;        /* -X; NULL: from the other options */
	struct cli_data *data;     /* --data, --data-binary, ... in order */
	size_t ndata;
	const char *upload_file;   /* -T */
	char *user;                /* -u USER:PASSWORD, in argv: the password is
	                            * wiped once the request lines have it */
	int input_jsonl;           /* --input-format jsonl */
	int netrc;                 /* --netrc */
	unsigned expect100_ms;     /* --expect100-timeout; 0: no Expect */
	const char *netrc_file;    /* --netrc-file */
	/* --cert FILE[:PASS], --key, --pass; -D FILE ("-": stdout); -O */
	const char *cert, *key;
	char *pass;                /* in argv: wiped once the library has it */
	const char *dump_header;
	int remote_name;
	const char *warc_file;     /* --warc-file PREFIX */
	uint64_t warc_max_size;    /* --warc-max-size; 0: one file */
	int warc_level;            /* --warc-compression-level, 0 to 9 */
	int warc_level_set;
};

/* netrc.c: --netrc, --netrc-file */
struct cli_netrc_entry {
	const char *machine;       /* NULL for "default" */
	const char *login, *password;
};
struct cli_netrc {
	char *text;                /* the file, tokens cut in place */
	size_t len;
	struct cli_netrc_entry *e;
	size_t n;
};
/* 0 (a missing file is none unless required), or -1 with the reason
 * printed. */
int cli_netrc_load(struct cli_netrc *nr, const char *path, int required);
/* The entry for host, else the default one, else NULL. */
const struct cli_netrc_entry *cli_netrc_find(const struct cli_netrc *nr, const char *host);
void cli_netrc_free(struct cli_netrc *nr);

/* send.c: what every request sends, from -X, --data..., --json, -T, -u */
struct cli_send {
	const char *method;
	char *body;                /* --data...: the joined body, or -T - */
	size_t len;
	int has_body;
	int fd;                    /* -T FILE (a regular file), or -1 */
	char *lines[4];            /* Content-Type, Accept, Authorization */
	size_t nlines;
	struct cli_netrc netrc;    /* --netrc: credentials by host */
	int use_netrc;
	unsigned expect100_ms;     /* --expect100-timeout */
};
/* 0, or -1 with the reason printed. */
int cli_send_prepare(const struct cli_opts *o, struct cli_send *s);

/* jsonl.c: one line of --input-format jsonl */
struct cli_request {
	char *url;
	char *method;              /* NULL: the tool's */
	char **headers;            /* "Name: value" */
	size_t nheaders;
	char *body;                /* with has_body */
	size_t body_len;
	int has_body;
	char *body_file;
	char *id_json;             /* the id, as JSON text, or NULL */
};
/* 0, or -1 with why filled in (nothing to free then). */
int cli_jsonl_parse(const char *line, size_t len, struct cli_request *r, char *why,
                    size_t whylen);
/* After cli_send_apply: r's own method, headers and body on t; *fd is a
 * body_file opened for it (close it after on_done) or -1.  0, or an
 * evf_error, with why filled in when there is more to say. */
int cli_request_apply(const struct cli_request *r, evf_transfer *t, int tool_method, int *fd,
                      char *why, size_t whylen);
/* Does r have a header line of this name (lower case)? */
int cli_request_has(const struct cli_request *r, const char *name);
void cli_request_free(struct cli_request *r);
/* Give t the method, headers and body: 0 or an evf_error.  with_auth: the
 * request has an Authorization of its own (a jsonl line's): no --netrc. */
int cli_send_apply(const struct cli_send *s, evf_transfer *t, int with_auth);
void cli_send_free(struct cli_send *s);

enum cli_parse_result {
	CLI_PARSE_RUN,    /* go on */
	CLI_PARSE_EXIT,   /* --help or --version done: exit 0 */
	CLI_PARSE_USAGE,  /* the message is printed: exit 2 */
};

#define CLI_EXIT_OK 0
#define CLI_EXIT_FAILED 1
#define CLI_EXIT_USAGE 2

enum cli_parse_result cli_parse_args(int argc, char **argv, struct cli_opts *o);
void cli_opts_free(struct cli_opts *o);
/* "evfetch: <message>" and the --help hint on stderr. */
void cli_usage_error(const char *fmt, ...)
	__attribute__((format(printf, 1, 2)));
/* "evfetch: <message>" on stderr. */
/* usage.c: what --help prints */
extern const char cli_usage_text[];
void cli_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* ------------------------------------------------------------- input.c */

/* Longest input line taken as a URL; longer ones are reported as failed. */
#define CLI_LINE_MAX (1024 * 1024)

enum cli_input_status {
	CLI_INPUT_LINE,   /* *line holds the next URL */
	CLI_INPUT_BAD,    /* *line holds a truncated line that cannot be a URL */
	CLI_INPUT_WAIT,   /* nothing buffered; on_ready fires when there is */
	CLI_INPUT_END,    /* no more URLs (see error) */
};

struct cli_line {
	const char *ptr;
	size_t len;
	const char *why;  /* with CLI_INPUT_BAD */
	int from_file;    /* not a URL given on the command line */
};

struct cli_input {
	char **args;               /* positional URLs come first */
	size_t nargs, argi;
	const char *path;          /* -i as given, NULL without it */
	int fd;                    /* -1 when closed or absent */
	int pollable;              /* pipe, socket or tty: wait with an event */
	int ready;                 /* the event said a read will not block */
	int eof;
	int error;                 /* errno of a failed read, 0 if none */
	int skipping;              /* discarding the rest of an overlong line */
	char *buf;
	size_t start, len, cap;
	size_t lineno;
	char prefix[256];          /* the start of an overlong line */
	struct event *ev;
	void (*on_ready)(void *arg);
	void *arg;
	/* A regular file's URLs counted ahead of the reader, for the total */
	struct event *count_ev;    /* NULL when not counting */
	char *count_buf;
	off_t count_off;           /* the next byte to count */
	uint64_t counted;          /* URLs in the lines counted so far */
	size_t count_len;          /* bytes of the line being counted */
	int count_line;            /* that line is counted already */
	int count_skip;            /* ...or is a comment: on to its end */
	int count_began;           /* the first chunk is behind */
	int count_done;            /* counted to the end: the total is known */
};

/* Returns 0, or -1 with errno set (the file cannot be opened). */
int cli_input_open(struct cli_input *in, struct event_base *base,
                   char **args, size_t nargs, const char *path,
                   void (*on_ready)(void *), void *arg);
enum cli_input_status cli_input_next(struct cli_input *in,
                                     struct cli_line *line);
/*
 * The number of URLs in the whole input (arguments and -i), into *total:
 * 1 when it is known, 0 while a regular file is still being counted or
 * when the input is a pipe, a socket or a terminal.
 */
int cli_input_total(const struct cli_input *in, uint64_t *total);
/* Stop waiting for input (so the loop can end); close stays separate. */
void cli_input_stop(struct cli_input *in);
void cli_input_close(struct cli_input *in);

/* ------------------------------------------------------------- output.c */

#define CLI_SPOOL_MEM_MAX (64 * 1024)           /* per transfer */
#define CLI_SPOOL_MEM_TOTAL (16 * 1024 * 1024)  /* all transfers together */
#define CLI_NAME_HINTS 256

/* Where to resume probing for a free "name.N" of a recently used name. */
struct cli_name_hint {
	uint64_t hash;
	unsigned next;
};

struct cli_output {
	enum cli_out_mode mode;
	const char *path;          /* -o FILE or -d DIR as given */
	char *target;              /* -o: where path leads, links followed */
	int in_place;              /* -o onto a device, FIFO or descriptor */
	int fd;                    /* with in_place: open on path, or -1 */
	char *tmp_dir;             /* where temp files go */
	char tmp_tag[24];          /* "" or "TAG-": in temp names, see --resume */
	mode_t file_mode;          /* 0666 minus the umask, for saved files */
	size_t spool_mem;          /* bytes held by all in-memory spools */
	struct cli_name_hint hints[CLI_NAME_HINTS];
};

/* One transfer's body on its way to its destination. */
struct cli_sink {
	int fd;                    /* -1 until needed */
	char *tmp_path;            /* FILE/DIR mode: renamed or removed at the end */
	char *mem;                 /* SPOOL mode: the body while it is small */
	size_t mem_len, mem_cap;
	char *error;               /* what went wrong, for the report */
};

/* Returns 0, or -1 after printing why (an unusable -o/-d target). */
int cli_output_init(struct cli_output *out, const struct cli_opts *o);
/*
 * Name the temp files after tag from now on and remove those that an
 * earlier run with the same tag left in the temp directory.  Returns how
 * many were removed.
 */
unsigned cli_output_adopt(struct cli_output *out, const char *tag);
void cli_output_free(struct cli_output *out);

void cli_sink_init(struct cli_sink *s);
/* 0, or -1 with s->error set. */
int cli_sink_write(struct cli_output *out, struct cli_sink *s,
                   const void *data, size_t len);
/*
 * The transfer succeeded: put the body where it belongs.  *file receives
 * the saved file's path (malloc'd) in FILE and DIR mode, NULL otherwise.
 * 0, or -1 with s->error set and nothing left behind.
 */
int cli_sink_commit(struct cli_output *out, struct cli_sink *s,
                    const char *url, char **file);
/* The transfer failed or was cancelled: drop the body and any temp file. */
void cli_sink_discard(struct cli_output *out, struct cli_sink *s);
/* Release what discard or commit left (the error text). */
void cli_sink_free(struct cli_output *out, struct cli_sink *s);

/* ------------------------------------------------------------- head.c */

/* What the report keeps of a response head, in one allocation (free). */
struct cli_head {
	char *content_type;        /* NULL when the response had none */
	char *values[];            /* per --report-header name; NULL: none */
};

/*
 * Keep the Content-Type of resp and the values of the headers names[0..n)
 * (compared in any case; names must be in lower case); *content_length
 * receives the Content-Length, or -1.  NULL when there is nothing to keep,
 * or no memory for it.
 */
struct cli_head *cli_head_keep(const evf_response *resp,
                               const char *const *names, size_t n,
                               int64_t *content_length);

/* ------------------------------------------------------------- report.c */

/* One URL's outcome, from the library's result or made up by the tool. */
struct cli_outcome {
	const char *url;
	size_t url_len;
	int ok;
	int status;
	uint64_t bytes;
	const char *error;         /* NULL on success */
	const char *error_kind;    /* NULL on success */
	int err;                   /* the evf_error of error_kind, EVF_OK on success */
	uint64_t total_us;
	const char *tls_version;
	const char *http_version;
	int reused;
	const char *file;
	const char *effective_url; /* the last URL requested; NULL = url */
	unsigned redirects, retries;
	uint64_t index;            /* its place among the URLs, from 1 */
	int64_t started_ms;        /* handed to the library, wall clock */
	const evf_timings *timings; /* NULL: none (all 0) */
	uint64_t queued_us;
	const char *content_type;  /* NULL when the response had none */
	int64_t content_length;    /* the header's value, -1 when none */
	const char *tls_cipher;
	int64_t cert_not_after;    /* 0 when none */
	const char *remote_ip;     /* NULL without a connection */
	int remote_port;
	const char *proxy;         /* the proxy used, without credentials */
	/* the values of the --report-header names, in their order; NULL
	 * (for the array or an entry) when the response had none */
	char *const *header_values;
	const char *id_json;       /* --input-format jsonl: the line's id, or NULL */
};

/* Failures are counted by kind: the negated evf_error is the index. */
#define CLI_KINDS 32

struct cli_stats {
	uint64_t started;          /* URLs taken from the input */
	uint64_t skipped;          /* input lines of other shards or done before (--resume) */
	uint64_t done, ok, failed;
	uint64_t failed_by[CLI_KINDS];
	uint64_t bytes;            /* body bytes of finished transfers */
	uint64_t received;         /* body bytes so far, for the progress bar */
};

/* The JSON of a static string, as written last (report.c). */
struct cli_static_json {
	const char *key;
	char text[64];
	size_t len;
};

struct cli_report {
	FILE *fp;                  /* NULL without --report */
	const char *path;
	const char *const *headers; /* --report-header names */
	size_t nheaders;
	int failed;                /* a write failed: exit 1 */
	int flush_due;             /* flush_ev is active */
	struct event *flush_ev;    /* flushes after this turn of the loop */
	struct cli_buf line;
	/* Times as written last: lines of one second share the start of
	 * started_at, URLs of one server their cert_not_after. */
	int64_t second;            /* of second_text, or INT64_MIN */
	char second_text[20];      /* "\"YYYY-MM-DDTHH:MM:SS */
	int64_t not_after;         /* of not_after_text, or 0 */
	char not_after_text[24];
	size_t not_after_len;
	struct cli_static_json tls_version, tls_cipher, http_version;
	/* --warc-file: the next line goes here, to be written once the
	 * transfer's records are (cli_report_put), not to the file */
	struct cli_buf *divert;
};

struct cli_app;
/* Write a line formatted before (a diverted one). */
void cli_report_put(struct cli_report *r, const char *line, size_t len);

/* Returns 0, or -1 after printing why. */
int cli_report_open(struct cli_report *r, const char *path,
                    struct event_base *base, int append);
/* Flushes and closes; -1 after printing why when data was lost. */
int cli_report_close(struct cli_report *r);
/* Write the report line and stderr lines of one URL and count it. */
void cli_record(struct cli_app *app, const struct cli_outcome *o);
/* s on stream with control characters made harmless for a terminal. */
void cli_put_safe(FILE *stream, const char *s, size_t len);
struct cli_app;
/* trace.c: -v's lines from the library's debug function (index: the
 * URL's position in the input). */
void cli_trace(struct cli_app *app, uint64_t index, int kind, const char *data, size_t len);

/* ------------------------------------------------------------- progress.c */

struct cli_progress {
	struct event *timer;       /* NULL when there is no bar */
	struct event *redraw;      /* puts the bar back after lines above it */
	int drawn;                 /* the bar is on screen and must be cleared */
	int redraw_due;            /* redraw is active */
	double start;              /* cli_now() when the run began */
	double last_t;             /* when the rates were last updated */
	uint64_t last_bytes, last_done;
	double rate;               /* bytes/s, smoothed */
	double url_rate;           /* URLs/s, smoothed */
	char line[1024];           /* the line last drawn, without \r or \033[K */
	size_t line_len;
};

double cli_now(void);
/* The wall clock in milliseconds since the epoch. */
int64_t cli_wall_ms(void);
/* Returns 0, or -1 when the timer cannot be set up. */
int cli_progress_start(struct cli_app *app, int bar);
/* Stop the timer (so the loop can end); free it after the loop. */
void cli_progress_stop(struct cli_app *app);
void cli_progress_free(struct cli_app *app);
/*
 * The number of URLs of the run into *total: 1 when it is known (the whole
 * input read or counted, or only URL arguments), else 0 with the URLs
 * taken so far.
 */
int cli_progress_total(const struct cli_app *app, uint64_t *total);
/* Wipe the bar before other text goes to stderr. */
void cli_progress_clear(struct cli_app *app);
/* Lines were printed after cli_progress_clear: draw the bar again below
 * them, once the callbacks of this turn of the loop have run. */
void cli_progress_restore(struct cli_app *app);
void cli_progress_summary(struct cli_app *app);
/* "20.5 MB" and the like. */
void cli_format_bytes(char *dst, size_t dstsz, double bytes);
/*
 * The failures by kind, "3 dns, 2 tls, 10 http", kinds in the order of
 * their error codes (so that a line redrawn does not shuffle them), into
 * dst; "" when nothing failed.
 */
void cli_format_kinds(char *dst, size_t dstsz, const struct cli_stats *st);

/* ------------------------------------------------------------- main.c */

struct cli_xfer;
struct cli_warc;

struct cli_app {
	struct cli_opts opts;
	struct event_base *base;
	evf_client *client;
	struct cli_send send;      /* method, body and lines of every request */
	evf_callbacks cbs;
	struct cli_input input;
	struct cli_output out;
	struct cli_report report;
	struct cli_resume resume;  /* with --resume */
	struct cli_progress progress;
	struct cli_stats stats;
	struct cli_xfer *live;     /* transfers submitted and not done */
	unsigned inflight;         /* length of live */
	unsigned window;           /* at most this many submitted at once */
	int input_done;
	int finished;
	int fatal;                 /* a failure outside any one URL: exit 1 */
	int seen_full;             /* the --resume set could not grow */
	int signal;                /* the signal that stopped the run, or 0 */
	struct event *sigint, *sigterm;
	FILE *dump;                /* -D, or NULL */
	int dump_failed;           /* a write failed: no more heads */
	struct cli_warc *warc;     /* --warc-file, or NULL */
};

/* ------------------------------------------------------------- warc.c */

/* Temporary files the exchanges waiting for the writer may hold at most. */
#define CLI_WARC_QUEUE_FDS 64
/* A transfer's exchange being recorded (NULL: none yet). */
struct cli_warc_x;
/* With --warc-file: open the first file and start the writer; 0, or -1
 * after printing why. */
int cli_warc_open(struct cli_app *app);
/* What the library's debug function saw of t, for its records. */
void cli_warc_tap(struct cli_warc *w, struct cli_warc_x **slot, evf_transfer *t, int kind,
                  const char *data, size_t len);
/* t ended with err: its last records go to the writer, and o (its result)
 * is recorded; its report line is written once the records are. */
void cli_warc_done(struct cli_app *app, struct cli_warc_x **slot, int err,
                   const struct cli_outcome *o);
void cli_warc_x_free(struct cli_warc_x *e);
/* The transfers are over: nothing of the archive keeps the loop running
 * (cli_warc_close writes the report lines still held). */
void cli_warc_stop(struct cli_app *app);
/* Write out what is queued and close: 0, or -1 after printing why (safe
 * to call again). */
int cli_warc_close(struct cli_app *app);

/* ------------------------------------------------------------- dump.c */

/* Open the -D file; 0, or -1 after printing why. */
int cli_dump_open(struct cli_app *app);
/* Write one response head as curl does; a failure is fatal (exit 1). */
void cli_dump_head(struct cli_app *app, const evf_response *resp);
/* 0, or -1 after printing why data was lost. */
int cli_dump_close(struct cli_app *app);

#endif /* EVFETCH_CLI_H */
