/*
 * args.c - the command line: option parsing, value checks and --help.
 *
 * Everything the user can get wrong on the command line is caught here
 * and reported as a usage error (exit 2) before any network activity, so
 * a typo never costs a half-finished run.  Checks that need the library
 * (header syntax, --resolve entries) happen in main.c when the
 * configuration is built, and are reported the same way.
 */
#include <ctype.h>
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"

/* Far above what any rlimit allows, low enough that 2 * N cannot wrap. */
#define MAX_COUNT 1000000u
/* Timeouts end up as unsigned milliseconds. */
#define MAX_SECONDS 4000000u
#define MAX_RETRIES 100u
#define MAX_HOST_CACHE 10000000u
#define DEFAULT_MAX_REDIRS 10u
#define DEFAULT_RETRY_DELAY_MS 1000u
#define DEFAULT_RETRY_MAX_MS 60000u

enum {
	OPT_DISCARD = 256,
	OPT_PER_HOST,
	OPT_MAX_IDLE,
	OPT_RATE_PER_HOST,
	OPT_LIMIT_RATE,
	OPT_DELAY_PER_HOST,
	OPT_IDLE_MEMORY,
	OPT_HOST_CACHE,
	OPT_DNS_CACHE_TIME,
	OPT_CACERT,
	OPT_CAPATH,
	OPT_RESOLVE,
	OPT_DNS_SERVERS,
	OPT_CONNECT_TIMEOUT,
	OPT_REPORT,
	OPT_NO_PROGRESS,
	OPT_NO_KEEPALIVE,
	OPT_NO_SESSIONID,
	OPT_MAX_REDIRS,
	OPT_COMPRESSED,
	OPT_MAX_FILESIZE,
	OPT_WARC_FILE,
	OPT_WARC_MAX_SIZE,
	OPT_IDLE_TIMEOUT,
	OPT_RETRY,
	OPT_RETRY_DELAY,
	OPT_RETRY_MAX_TIME,
	OPT_RESUME,
	OPT_SHARD,
	OPT_SHARD_BY,
	OPT_REPORT_HEADER,
	OPT_NO_ERRORS,
	OPT_HTTP11,
	OPT_HTTP2,
	OPT_HTTP2_PRIOR,
	OPT_NOPROXY,
	OPT_PROXY_CACERT,
	OPT_PROXY_INSECURE,
	OPT_DATA,
	OPT_DATA_BINARY,
	OPT_DATA_URLENCODE,
	OPT_JSON,
	OPT_INPUT_FORMAT,
	OPT_NETRC,
	OPT_NETRC_FILE,
	OPT_EXPECT100,
	OPT_CERT,
	OPT_KEY,
	OPT_PASS,
	OPT_EYEBALLS,
};

static const struct option long_options[] = {
	{ "input-file", required_argument, NULL, 'i' },
	{ "input-format", required_argument, NULL, OPT_INPUT_FORMAT },
	{ "output", required_argument, NULL, 'o' },
	{ "output-dir", required_argument, NULL, 'd' },
	{ "discard", no_argument, NULL, OPT_DISCARD },
	{ "concurrency", required_argument, NULL, 'c' },
	{ "per-host", required_argument, NULL, OPT_PER_HOST },
	{ "max-idle", required_argument, NULL, OPT_MAX_IDLE },
	{ "rate-per-host", required_argument, NULL, OPT_RATE_PER_HOST },
	{ "limit-rate", required_argument, NULL, OPT_LIMIT_RATE },
	{ "delay-per-host", required_argument, NULL, OPT_DELAY_PER_HOST },
	{ "idle-memory", required_argument, NULL, OPT_IDLE_MEMORY },
	{ "host-cache", required_argument, NULL, OPT_HOST_CACHE },
	{ "dns-cache-time", required_argument, NULL, OPT_DNS_CACHE_TIME },
	{ "cacert", required_argument, NULL, OPT_CACERT },
	{ "capath", required_argument, NULL, OPT_CAPATH },
	{ "insecure", no_argument, NULL, 'k' },
	{ "no-http-keep-alive", no_argument, NULL, OPT_NO_KEEPALIVE },
	{ "no-sessionid", no_argument, NULL, OPT_NO_SESSIONID },
	{ "http1.1", no_argument, NULL, OPT_HTTP11 },
	{ "http2", no_argument, NULL, OPT_HTTP2 },
	{ "http2-prior-knowledge", no_argument, NULL, OPT_HTTP2_PRIOR },
	{ "ipv4", no_argument, NULL, '4' },
	{ "ipv6", no_argument, NULL, '6' },
	{ "happy-eyeballs-timeout-ms", required_argument, NULL, OPT_EYEBALLS },
	{ "proxy", required_argument, NULL, 'x' },
	{ "noproxy", required_argument, NULL, OPT_NOPROXY },
	{ "proxy-cacert", required_argument, NULL, OPT_PROXY_CACERT },
	{ "proxy-insecure", no_argument, NULL, OPT_PROXY_INSECURE },
	{ "resolve", required_argument, NULL, OPT_RESOLVE },
	{ "dns-servers", required_argument, NULL, OPT_DNS_SERVERS },
	{ "connect-timeout", required_argument, NULL, OPT_CONNECT_TIMEOUT },
	{ "max-time", required_argument, NULL, 'm' },
	{ "idle-timeout", required_argument, NULL, OPT_IDLE_TIMEOUT },
	{ "location", no_argument, NULL, 'L' },
	{ "max-redirs", required_argument, NULL, OPT_MAX_REDIRS },
	{ "compressed", no_argument, NULL, OPT_COMPRESSED },
	{ "max-filesize", required_argument, NULL, OPT_MAX_FILESIZE },
	{ "warc-file", required_argument, NULL, OPT_WARC_FILE },
	{ "warc-max-size", required_argument, NULL, OPT_WARC_MAX_SIZE },
	{ "retry", required_argument, NULL, OPT_RETRY },
	{ "retry-delay", required_argument, NULL, OPT_RETRY_DELAY },
	{ "retry-max-time", required_argument, NULL, OPT_RETRY_MAX_TIME },
	{ "header", required_argument, NULL, 'H' },
	{ "user-agent", required_argument, NULL, 'A' },
	{ "head", no_argument, NULL, 'I' },
	{ "request", required_argument, NULL, 'X' },
	{ "data", required_argument, NULL, OPT_DATA },
	{ "data-ascii", required_argument, NULL, OPT_DATA },
	{ "data-binary", required_argument, NULL, OPT_DATA_BINARY },
	{ "data-urlencode", required_argument, NULL, OPT_DATA_URLENCODE },
	{ "json", required_argument, NULL, OPT_JSON },
	{ "upload-file", required_argument, NULL, 'T' },
	{ "user", required_argument, NULL, 'u' },
	{ "netrc", no_argument, NULL, OPT_NETRC },
	{ "netrc-file", required_argument, NULL, OPT_NETRC_FILE },
	{ "expect100-timeout", required_argument, NULL, OPT_EXPECT100 },
	{ "fail", no_argument, NULL, 'f' },
	{ "report", required_argument, NULL, OPT_REPORT },
	{ "resume", required_argument, NULL, OPT_RESUME },
	{ "shard", required_argument, NULL, OPT_SHARD },
	{ "shard-by", required_argument, NULL, OPT_SHARD_BY },
	{ "report-header", required_argument, NULL, OPT_REPORT_HEADER },
	{ "silent", no_argument, NULL, 's' },
	{ "show-error", no_argument, NULL, 'S' },
	{ "no-progress", no_argument, NULL, OPT_NO_PROGRESS },
	{ "no-errors", no_argument, NULL, OPT_NO_ERRORS },
	{ "verbose", no_argument, NULL, 'v' },
	{ "cert", required_argument, NULL, OPT_CERT },
	{ "key", required_argument, NULL, OPT_KEY },
	{ "pass", required_argument, NULL, OPT_PASS },
	{ "dump-header", required_argument, NULL, 'D' },
	{ "remote-name", no_argument, NULL, 'O' },
	{ "help", no_argument, NULL, 'h' },
	{ "version", no_argument, NULL, 'V' },
	{ NULL, 0, NULL, 0 },
};

/* The leading ':' makes getopt report a missing argument as ':'. */
static const char short_options[] = ":i:o:d:c:km:H:A:IfLsSvhVX:T:u:D:O46x:";

static void
vwarn_line(const char *fmt, va_list ap)
{
	fputs("evfetch: ", stderr);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
}

void
cli_warn(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vwarn_line(fmt, ap);
	va_end(ap);
}

void
cli_usage_error(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vwarn_line(fmt, ap);
	va_end(ap);
	fputs("Try 'evfetch --help'.\n", stderr);
}

/* "-c/--concurrency" or "--per-host", as the user could have typed it. */
static const char *
option_label(int val)
{
	static char label[40];
	const struct option *o;

	for (o = long_options; o->name != NULL; o++) {
		if (o->val != val)
			continue;
		if (val < 256)
			snprintf(label, sizeof label, "-%c/--%s", val, o->name);
		else
			snprintf(label, sizeof label, "--%s", o->name);
		return label;
	}
	snprintf(label, sizeof label, "-%c", val);
	return label;
}

/* Where the value of an option given in seconds goes. */
static unsigned *
seconds_field(struct cli_opts *o, int opt)
{
	switch (opt) {
	case 'm': return &o->max_time_ms;
	case OPT_IDLE_TIMEOUT: return &o->idle_timeout_ms;
	case OPT_RETRY_DELAY: return &o->retry_delay_ms;
	case OPT_RETRY_MAX_TIME: return &o->retry_max_ms;
	case OPT_DNS_CACHE_TIME: return &o->dns_cache_ms;
	case OPT_DELAY_PER_HOST: return &o->delay_per_host_ms;
	case OPT_RATE_PER_HOST: return &o->rate_per_host_milli;
	case OPT_EXPECT100: return &o->expect100_ms;
	default: return &o->connect_timeout_ms;
	}
}

/*
 * The library has its own defaults for these timeouts, so "given" is
 * kept apart from the value: an explicit 0 must reach it to turn one off.
 */
static void
mark_timeout_set(struct cli_opts *o, int opt)
{
	switch (opt) {
	case 'm': o->max_time_set = 1; break;
	case OPT_IDLE_TIMEOUT: o->idle_timeout_set = 1; break;
	case OPT_CONNECT_TIMEOUT: o->connect_timeout_set = 1; break;
	case OPT_DNS_CACHE_TIME: o->dns_cache_set = 1; break;
	default: break;
	}
}

/* A whole number from min to max, digits only. */
static int
parse_uint(const char *s, unsigned min, unsigned max, unsigned *out)
{
	unsigned long v;
	char *end;

	if (!isdigit((unsigned char)s[0]))
		return -1;
	errno = 0;
	v = strtoul(s, &end, 10);
	if (*end != '\0' || errno != 0 || v < min || v > max)
		return -1;
	*out = (unsigned)v;
	return 0;
}

/*
 * Seconds with an optional fraction ("2", "0.5", ".25") as milliseconds.
 * Parsed by hand because strtod also takes "inf", "nan", hex and
 * exponents, and follows the locale's decimal point.  A positive value
 * never rounds down to 0, which would mean "no limit".
 */
static int
parse_seconds(const char *s, unsigned *ms)
{
	uint64_t whole = 0, frac = 0;
	unsigned digits = 0, scale = 100, rest = 0;

	for (; isdigit((unsigned char)*s); s++, digits++) {
		whole = whole * 10 + (uint64_t)(*s - '0');
		if (whole > MAX_SECONDS)
			return -1;
	}
	if (*s == '.') {
		for (s++; isdigit((unsigned char)*s); s++, digits++) {
			if (scale > 0)
				frac += (uint64_t)(*s - '0') * scale;
			else if (*s != '0')
				rest = 1;
			scale /= 10;
		}
	}
	if (*s != '\0' || digits == 0)
		return -1;
	*ms = (unsigned)(whole * 1000 + frac + rest);
	return 0;
}

/*
 * A byte count: digits with an optional K, M or G (or k, m, g) for KiB,
 * MiB or GiB.  0 is refused: "no limit" is what leaving the option out
 * means.
 */
static int
parse_size(const char *s, uint64_t *out)
{
	uint64_t v = 0, mult = 1;

	if (!isdigit((unsigned char)*s))
		return -1;
	for (; isdigit((unsigned char)*s); s++) {
		if (v > (UINT64_MAX - 9) / 10)
			return -1;
		v = v * 10 + (uint64_t)(*s - '0');
	}
	switch (*s) {
	case '\0': break;
	case 'K': case 'k': mult = 1ull << 10; s++; break;
	case 'M': case 'm': mult = 1ull << 20; s++; break;
	case 'G': case 'g': mult = 1ull << 30; s++; break;
	default: return -1;
	}
	if (*s != '\0' || v == 0 || v > UINT64_MAX / mult)
		return -1;
	*out = v * mult;
	return 0;
}

/*
 * curl's -d sends request data, so "-d 'a=b'", "-d @file" or "-d '{...}'"
 * is more likely a curl habit than a directory to create.  An existing
 * directory of such a name is still used.
 */
static int
check_output_dir(const struct cli_opts *o)
{
	const char *d = o->out_path;
	struct stat st;

	if (o->out_mode != CLI_OUT_DIR || d == NULL ||
	    (strchr(d, '=') == NULL && d[0] != '@' && d[0] != '{') ||
	    lstat(d, &st) == 0 || errno != ENOENT)
		return 0;
	cli_warn("-d/--output-dir '%s' looks like request data, but here -d "
	         "names the directory to save the bodies in", d);
	cli_usage_error("no request data can be sent (only GET and HEAD "
	                "requests); to save into a new directory of that name, "
	                "create it first");
	return -1;
}

/*
 * --cert FILE or, as in curl, --cert FILE:PASSPHRASE: split at the first
 * ':' only when no file has the whole name.  The passphrase is not wiped
 * from argv here: main.c does once the library has its copy.
 */
static void
cert_arg(struct cli_opts *o, char *arg)
{
	char *colon = strchr(arg, ':');

	o->cert = arg;
	if (colon != NULL && access(arg, F_OK) != 0) {
		*colon = '\0';
		o->pass = colon + 1;
	}
}

/* --cert and its companions, -D, and -O: the names -d gives, in the -d
 * directory or the current one. */
static int
check_cert_heads_names(struct cli_opts *o)
{
	if (o->dump_header != NULL && o->dump_header[0] == '\0') {
		cli_usage_error("empty file name for -D/--dump-header");
		return -1;
	}
	if ((o->key != NULL || o->pass != NULL) && o->cert == NULL) {
		cli_usage_error("--key and --pass need --cert, the certificate "
		                "they belong to");
		return -1;
	}
	if (!o->remote_name || o->out_mode == CLI_OUT_DIR)
		return 0;
	if (o->out_mode != CLI_OUT_STDOUT) {
		cli_usage_error("-O/--remote-name names the files itself: it "
		                "excludes -o and --discard");
		return -1;
	}
	o->out_mode = CLI_OUT_DIR;
	o->out_path = ".";
	return 0;
}

/* --resume FILE is the report, read first and then appended to. */
static int
check_resume(struct cli_opts *o)
{
	if (o->resume == NULL)
		return 0;
	if (o->resume[0] == '\0' || strcmp(o->resume, "-") == 0) {
		cli_usage_error("--resume needs the report file of the earlier run%s",
		                o->resume[0] == '\0' ? "" :
		                " ('-' cannot be read back)");
		return -1;
	}
	if (o->report != NULL && strcmp(o->report, o->resume) != 0) {
		cli_usage_error("--resume '%s' appends to that report; --report "
		                "names another one ('%s'): leave --report out",
		                o->resume, o->report);
		return -1;
	}
	o->report = o->resume;
	return 0;
}

/* --shard and --shard-by, once every option is known. */
static int
check_shard(struct cli_opts *o, const char *shard, const char *shard_by)
{
	char why[300];

	if (shard_by != NULL && strcmp(shard_by, "url") != 0 &&
	    strcmp(shard_by, "host") != 0) {
		cli_usage_error("--shard-by: '%s' is neither url nor host", shard_by);
		return -1;
	}
	if (shard_by != NULL && shard == NULL) {
		cli_usage_error("--shard-by needs --shard");
		return -1;
	}
	if (shard == NULL)
		return 0;
	o->shard.by_host = shard_by != NULL && strcmp(shard_by, "host") == 0;
	if (cli_shard_parse(&o->shard, shard, getenv, why, sizeof why) < 0) {
		cli_usage_error("%s", why);
		return -1;
	}
	return 0;
}

/* A header name as RFC 9110 allows one: a token. */
static int
is_token(const char *s)
{
	if (*s == '\0')
		return 0;
	for (; *s != '\0'; s++)
		if (!isalnum((unsigned char)*s) && strchr("!#$%&'*+-.^_`|~", *s) == NULL)
			return 0;
	return 1;
}

/* --report-header NAME: once per name, whatever its case. */
static int
add_report_header(struct cli_opts *o, const char *name)
{
	size_t i;
	char *lname;

	if (!is_token(name)) {
		cli_usage_error("--report-header: '%s' is not a header name", name);
		return -1;
	}
	for (i = 0; i < o->nreport_headers; i++)
		if (strcasecmp(o->report_headers[i], name) == 0)
			return 0;
	/* in lower case, as the report shows them and head.c wants them */
	if ((lname = strdup(name)) == NULL) {
		cli_warn("out of memory");
		return -1;
	}
	for (i = 0; lname[i] != '\0'; i++)
		lname[i] = (char)tolower((unsigned char)lname[i]);
	o->report_headers[o->nreport_headers++] = lname;
	return 0;
}

/* -X, --data..., -T and -u: what cannot go together. */
static int
check_send(const struct cli_opts *o)
{
	const char *p;

	if (o->method != NULL) {
		for (p = o->method; *p != '\0'; p++)
			if (*p <= 32 || *p >= 127 || strchr("()<>@,;:\\\"/[]?={}", *p))
				break;
		if (*p != '\0' || o->method[0] == '\0' || strlen(o->method) > 64) {
			cli_usage_error("-X/--request: '%s' is not a method name "
			                "(letters such as POST or PATCH)", o->method);
			return -1;
		}
	}
	if (o->ndata > 0 && o->upload_file != NULL) {
		cli_usage_error("-T/--upload-file and --data/--json each give the "
		                "body: use one of them");
		return -1;
	}
	if (o->head && (o->ndata > 0 || o->upload_file != NULL ||
	                (o->method != NULL && strcmp(o->method, "HEAD") != 0))) {
		cli_usage_error("-I/--head sends no body and no other method");
		return -1;
	}
	if (o->user != NULL && strchr(o->user, ':') == NULL) {
		cli_usage_error("-u/--user: give USER:PASSWORD (no prompt is made)");
		return -1;
	}
	return 0;
}

/* Reject what getopt_long let through but the tool cannot use. */
static int
check_combinations(struct cli_opts *o, int nouts)
{
	if (o->nurls == 0 && o->input_file == NULL) {
		cli_usage_error("no URL given");
		return -1;
	}
	if (nouts > 1) {
		cli_usage_error("-o, -d and --discard exclude each other");
		return -1;
	}
	if (o->warc_max_size != 0 && o->warc_file == NULL) {
		cli_usage_error("--warc-max-size needs --warc-file");
		return -1;
	}
	if (o->out_path != NULL && o->out_path[0] == '\0') {
		cli_usage_error("empty file name for %s",
		                o->out_mode == CLI_OUT_FILE ? "-o/--output" :
		                                              "-d/--output-dir");
		return -1;
	}
	if (check_output_dir(o) < 0)
		return -1;
	if (o->out_mode == CLI_OUT_FILE && o->input_file != NULL) {
		cli_usage_error("-o/--output saves a single URL; "
		                "use -d/--output-dir with -i/--input-file");
		return -1;
	}
	if (o->out_mode == CLI_OUT_FILE && o->nurls != 1) {
		cli_usage_error("-o/--output saves a single URL, got %zu; "
		                "use -d/--output-dir for several", o->nurls);
		return -1;
	}
	/* "-o -" is standard output, as in curl and wget ("./-" is a file). */
	if (o->out_mode == CLI_OUT_FILE && strcmp(o->out_path, "-") == 0) {
		o->out_mode = CLI_OUT_STDOUT;
		o->out_path = NULL;
	}
	/* One URL streams straight through; several are kept apart. */
	if (o->out_mode == CLI_OUT_STDOUT &&
	    (o->nurls > 1 || o->input_file != NULL))
		o->out_mode = CLI_OUT_SPOOL;
	if (check_resume(o) < 0)
		return -1;
	if (o->report != NULL && strcmp(o->report, "-") == 0 &&
	    (o->out_mode == CLI_OUT_STDOUT || o->out_mode == CLI_OUT_SPOOL)) {
		cli_usage_error("--report - and the response bodies would both go "
		                "to standard output; add --discard, -o or -d");
		return -1;
	}
	if (o->report != NULL && o->report[0] == '\0') {
		cli_usage_error("empty file name for --report");
		return -1;
	}
	if (o->nreport_headers > 0 && o->report == NULL) {
		cli_usage_error("--report-header adds to the report: give --report "
		                "FILE too");
		return -1;
	}
	if (o->input_file != NULL && o->input_file[0] == '\0') {
		cli_usage_error("empty file name for -i/--input-file");
		return -1;
	}
	if (check_send(o) < 0)
		return -1;
	if (o->retry_delay_ms > o->retry_max_ms) {
		cli_usage_error("--retry-delay (%u.%03u s) is longer than "
		                "--retry-max-time (%u.%03u s)",
		                o->retry_delay_ms / 1000, o->retry_delay_ms % 1000,
		                o->retry_max_ms / 1000, o->retry_max_ms % 1000);
		return -1;
	}
	return 0;
}

/* Levenshtein distance of a[0..alen) and b, or UINT_MAX when a is long. */
static unsigned
edit_distance(const char *a, size_t alen, const char *b)
{
	unsigned row[64], diag, up, i, j;
	size_t blen = strlen(b);

	if (alen >= sizeof row / sizeof row[0] || blen >= sizeof row / sizeof row[0])
		return UINT_MAX;
	for (j = 0; j <= blen; j++)
		row[j] = j;
	for (i = 1; i <= alen; i++) {
		diag = row[0];
		row[0] = i;
		for (j = 1; j <= blen; j++) {
			up = row[j];
			row[j] = diag + (a[i - 1] != b[j - 1]);
			if (up + 1 < row[j])
				row[j] = up + 1;
			if (row[j - 1] + 1 < row[j])
				row[j] = row[j - 1] + 1;
			diag = up;
		}
	}
	return row[blen];
}

/*
 * The option a mistyped name most likely meant: the only one it begins,
 * else the nearest within two edits (one for a name of up to four
 * letters), or NULL.
 */
static const char *
nearest_option(const char *name, size_t len)
{
	const struct option *o, *prefix = NULL, *near = NULL;
	unsigned nprefix = 0, d, best = UINT_MAX;

	for (o = long_options; o->name != NULL; o++) {
		if (len > 0 && strncmp(o->name, name, len) == 0) {
			prefix = o;
			nprefix++;
		}
		d = edit_distance(name, len, o->name);
		if (d < best) {
			best = d;
			near = o;
		}
	}
	if (nprefix == 1)
		return prefix->name;
	if (near != NULL && best <= (len <= 4 ? 1u : 2u))
		return near->name;
	return NULL;
}

/*
 * getopt_long also takes any unambiguous abbreviation, so "--user
 * alice:secret" would become a User-Agent.  Only whole names are taken:
 * the option in arg ("--name" or "--name=value") must be one of ours.
 */
static int
is_exact_long(const char *arg)
{
	const struct option *o;
	size_t len = strcspn(arg + 2, "=");

	for (o = long_options; o->name != NULL; o++)
		if (strlen(o->name) == len && strncmp(o->name, arg + 2, len) == 0)
			return 1;
	return 0;
}

/* Never the value after '=': it may be a password. */
static void
unknown_long(const char *arg)
{
	size_t len = strcspn(arg + 2, "=");
	const char *near = nearest_option(arg + 2, len);

	if (near != NULL)
		cli_usage_error("unknown option '%.*s'; did you mean '--%s'?",
		                (int)len + 2, arg, near);
	else
		cli_usage_error("unknown option '%.*s'", (int)len + 2, arg);
}

/*
 * The argv element of the long option getopt_long just returned: the one
 * before its argument when the argument came as a separate word.
 */
static const char *
long_option_word(char **argv)
{
	if (optarg != NULL && optind >= 2 && optarg == argv[optind - 1])
		return argv[optind - 2];
	return argv[optind - 1];
}

/*
 * The message for getopt's ':' and '?': what exactly was wrong with argv.
 * from_long: the error is about the long option in argv[optind - 1] (a
 * short one in the middle of "-xyz" leaves optind where it was).
 */
static void
bad_option(int c, char **argv, int from_long)
{
	const char *arg = from_long ? argv[optind - 1] : "";

	if (from_long && !is_exact_long(arg))
		unknown_long(arg);
	else if (c == ':')
		cli_usage_error("option %s needs an argument",
		                option_label(optopt));
	else if (from_long)
		cli_usage_error("option '%.*s' takes no argument",
		                (int)strcspn(arg, "="), arg);
	else
		cli_usage_error("unknown option '-%c'", optopt);
}

enum cli_parse_result
cli_parse_args(int argc, char **argv, struct cli_opts *o)
{
	int c, idx, before, nouts = 0;
	const char *shard = NULL, *shard_by = NULL;

	memset(o, 0, sizeof *o);
	o->concurrency = 50;
	o->max_redirs = DEFAULT_MAX_REDIRS;
	o->retry_delay_ms = DEFAULT_RETRY_DELAY_MS;
	o->retry_max_ms = DEFAULT_RETRY_MAX_MS;
	o->out_mode = CLI_OUT_STDOUT;
	/* Repeatable options cannot occur more often than there are words. */
	o->resolves = calloc((size_t)argc + 1, sizeof *o->resolves);
	o->headers = calloc((size_t)argc + 1, sizeof *o->headers);
	o->report_headers = calloc((size_t)argc + 1, sizeof *o->report_headers);
	o->data = calloc((size_t)argc + 1, sizeof *o->data);
	if (o->resolves == NULL || o->headers == NULL ||
	    o->report_headers == NULL || o->data == NULL) {
		cli_warn("out of memory");
		return CLI_PARSE_USAGE;
	}

	opterr = 0;
	for (;;) {
		before = optind;
		idx = -1;
		c = getopt_long(argc, argv, short_options, long_options, &idx);
		if (c == -1)
			break;
		if (idx >= 0 && !is_exact_long(long_option_word(argv))) {
			unknown_long(long_option_word(argv));
			return CLI_PARSE_USAGE;
		}
		switch (c) {
		case 'i': o->input_file = optarg; break;
		case OPT_INPUT_FORMAT:
			if (strcmp(optarg, "jsonl") != 0 && strcmp(optarg, "lines") != 0) {
				cli_usage_error("--input-format: '%s' is neither lines "
				                "nor jsonl", optarg);
				return CLI_PARSE_USAGE;
			}
			o->input_jsonl = strcmp(optarg, "jsonl") == 0;
			break;
		case 'o':
		case 'd':
			if (o->out_mode != (c == 'o' ? CLI_OUT_FILE : CLI_OUT_DIR))
				nouts++;
			o->out_mode = c == 'o' ? CLI_OUT_FILE : CLI_OUT_DIR;
			o->out_path = optarg;
			break;
		case OPT_DISCARD:
			if (o->out_mode != CLI_OUT_DISCARD)
				nouts++;
			o->out_mode = CLI_OUT_DISCARD;
			break;
		case 'c':
		case OPT_PER_HOST:
			if (parse_uint(optarg, 1, MAX_COUNT, c == 'c' ?
			               &o->concurrency : &o->per_host) < 0) {
				cli_usage_error("%s: '%s' is not a whole number from "
				                "1 to %u", option_label(c), optarg,
				                MAX_COUNT);
				return CLI_PARSE_USAGE;
			}
			break;
		case OPT_CONNECT_TIMEOUT:
		case 'm':
		case OPT_IDLE_TIMEOUT:
		case OPT_RETRY_DELAY:
		case OPT_RETRY_MAX_TIME:
		case OPT_DNS_CACHE_TIME:
		case OPT_DELAY_PER_HOST:
		case OPT_EXPECT100:
			if (parse_seconds(optarg, seconds_field(o, c)) < 0) {
				cli_usage_error("%s: '%s' is not a number of seconds "
				                "from 0 to %u", option_label(c), optarg,
				                MAX_SECONDS);
				return CLI_PARSE_USAGE;
			}
			mark_timeout_set(o, c);
			/* 0 means no limit: no cap on the delay. */
			if (c == OPT_RETRY_MAX_TIME && o->retry_max_ms == 0)
				o->retry_max_ms = UINT_MAX;
			break;
		case OPT_RATE_PER_HOST:
			/* the same digits as seconds: thousandths of a request */
			if (parse_seconds(optarg, seconds_field(o, c)) < 0 ||
			    o->rate_per_host_milli == 0) {
				cli_usage_error("%s: '%s' is not a number of requests "
				                "a second above 0 (at most %u; a fraction "
				                "such as 0.5 works)", option_label(c), optarg,
				                MAX_SECONDS);
				return CLI_PARSE_USAGE;
			}
			break;
		case OPT_MAX_IDLE:
			if (parse_uint(optarg, 1, MAX_COUNT, &o->max_idle) < 0) {
				cli_usage_error("%s: '%s' is not a whole number from "
				                "1 to %u", option_label(c), optarg, MAX_COUNT);
				return CLI_PARSE_USAGE;
			}
			break;
		case OPT_LIMIT_RATE:
		case OPT_IDLE_MEMORY:
			if (parse_size(optarg, c == OPT_LIMIT_RATE ? &o->limit_rate :
			               &o->idle_memory) < 0) {
				cli_usage_error("%s: '%s' is not a size in bytes above 0 "
				                "(digits, optionally followed by K, M or G)",
				                option_label(c), optarg);
				return CLI_PARSE_USAGE;
			}
			break;
		case OPT_HOST_CACHE:
			if (parse_uint(optarg, 0, MAX_HOST_CACHE, &o->host_cache) < 0) {
				cli_usage_error("%s: '%s' is not a whole number from "
				                "0 to %u", option_label(c), optarg,
				                MAX_HOST_CACHE);
				return CLI_PARSE_USAGE;
			}
			o->host_cache_set = 1;
			break;
		case OPT_MAX_REDIRS:
		case OPT_RETRY:
			if (parse_uint(optarg, 0, c == OPT_RETRY ? MAX_RETRIES :
			               MAX_COUNT, c == OPT_RETRY ? &o->retries :
			               &o->max_redirs) < 0) {
				cli_usage_error("%s: '%s' is not a whole number from "
				                "0 to %u", option_label(c), optarg,
				                c == OPT_RETRY ? MAX_RETRIES : MAX_COUNT);
				return CLI_PARSE_USAGE;
			}
			break;
		case OPT_WARC_FILE:
			if (*optarg == '\0') {
				cli_usage_error("--warc-file: the prefix is empty");
				return CLI_PARSE_USAGE;
			}
			o->warc_file = optarg;
			break;
		case OPT_WARC_MAX_SIZE:
		case OPT_MAX_FILESIZE:
			if (parse_size(optarg, c == OPT_WARC_MAX_SIZE ? &o->warc_max_size
			                                              : &o->max_filesize) < 0) {
				cli_usage_error("%s: '%s' is not a size in bytes above 0 "
				                "(digits, optionally followed by K, M or G)",
				                option_label(c), optarg);
				return CLI_PARSE_USAGE;
			}
			break;
		case 'L': o->follow = 1; break;
		case OPT_COMPRESSED: o->compressed = 1; break;
		case OPT_CACERT: o->cacert = optarg; break;
		case OPT_CAPATH: o->capath = optarg; break;
		case 'k': o->insecure = 1; break;
		case OPT_NO_KEEPALIVE: o->no_keepalive = 1; break;
		case OPT_HTTP11: o->http_version = EVF_HTTP_1_1; break;
		case OPT_HTTP2: o->http_version = EVF_HTTP_2_TLS; break;
		case OPT_HTTP2_PRIOR: o->http_version = EVF_HTTP_2_PRIOR_KNOWLEDGE; break;
		case OPT_NO_SESSIONID: o->no_sessionid = 1; break;
		case '4': o->ip_family = EVF_IP_V4; break;
		case '6': o->ip_family = EVF_IP_V6; break;
		case OPT_EYEBALLS:
			if (parse_uint(optarg, 0, 60000, &o->eyeballs_ms) < 0) {
				cli_usage_error("%s: '%s' is not a whole number of "
				                "milliseconds from 0 to 60000",
				                option_label(c), optarg);
				return CLI_PARSE_USAGE;
			}
			o->eyeballs_set = 1;
			break;
		case 'x': o->proxy = optarg; break;
		case OPT_NOPROXY: o->noproxy = optarg; break;
		case OPT_PROXY_CACERT: o->proxy_cacert = optarg; break;
		case OPT_PROXY_INSECURE: o->proxy_insecure = 1; break;
		case OPT_RESOLVE: o->resolves[o->nresolves++] = optarg; break;
		case OPT_DNS_SERVERS: o->dns_servers = optarg; break;
		case 'H': o->headers[o->nheaders++] = optarg; break;
		case 'A': o->user_agent = optarg; break;
		case 'I': o->head = 1; break;
		case 'X': o->method = optarg; break;
		case OPT_DATA:
		case OPT_DATA_BINARY:
		case OPT_DATA_URLENCODE:
		case OPT_JSON:
			o->data[o->ndata].kind = c == OPT_DATA ? CLI_DATA_ASCII :
			                         c == OPT_DATA_BINARY ? CLI_DATA_BINARY :
			                         c == OPT_DATA_URLENCODE ? CLI_DATA_URLENCODE :
			                                                   CLI_DATA_JSON;
			o->data[o->ndata++].arg = optarg;
			break;
		case 'T': o->upload_file = optarg; break;
		case 'u': o->user = optarg; break;
		case OPT_NETRC: o->netrc = 1; break;
		case OPT_NETRC_FILE: o->netrc_file = optarg; break;
		case 'f': o->fail = 1; break;
		case OPT_REPORT: o->report = optarg; break;
		case OPT_RESUME: o->resume = optarg; break;
		case OPT_SHARD: shard = optarg; break;
		case OPT_SHARD_BY: shard_by = optarg; break;
		case OPT_REPORT_HEADER:
			if (add_report_header(o, optarg) < 0)
				return CLI_PARSE_USAGE;
			break;
		case 's': o->silent = 1; break;
		case 'S': o->show_error = 1; break;
		case OPT_NO_PROGRESS: o->no_progress = 1; break;
		case OPT_NO_ERRORS: o->no_errors = 1; break;
		case 'v': o->verbose = 1; break;
		case OPT_CERT: cert_arg(o, optarg); break;
		case OPT_KEY: o->key = optarg; break;
		case OPT_PASS: o->pass = optarg; break;
		case 'D': o->dump_header = optarg; break;
		case 'O': o->remote_name = 1; break;
		case 'h':
			fputs(cli_usage_text, stdout);
			return CLI_PARSE_EXIT;
		case 'V':
			printf("evfetch %s\n", EVF_VERSION_STRING);
			return CLI_PARSE_EXIT;
		default:
			bad_option(c, argv, optind > before &&
			           strncmp(argv[optind - 1], "--", 2) == 0);
			return CLI_PARSE_USAGE;
		}
	}
	o->urls = argv + optind;
	o->nurls = (size_t)(argc - optind);
	if (check_cert_heads_names(o) < 0 ||
	    check_combinations(o, nouts) < 0 || check_shard(o, shard, shard_by) < 0)
		return CLI_PARSE_USAGE;
	return CLI_PARSE_RUN;
}

void
cli_opts_free(struct cli_opts *o)
{
	size_t i;

	free(o->resolves);
	free(o->headers);
	free(o->data);
	o->data = NULL;
	for (i = 0; o->report_headers != NULL && i < o->nreport_headers; i++)
		free((char *)o->report_headers[i]);
	free(o->report_headers);
	o->resolves = NULL;
	o->headers = NULL;
	o->report_headers = NULL;
}
