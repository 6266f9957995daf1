/*
 * warc.c - --warc-file: each HTTP exchange as a WARC/1.1 request record and
 * response record (ISO 28500:2017), each its own gzip member, after a
 * warcinfo record at the start of every file.
 *
 * The records come from the library's debug function: the request head and
 * body as they went out, an HTTP/1.1 response exactly as it arrived
 * (EVF_DEBUG_WIRE_IN) or an HTTP/2 response's head and body, which are
 * rendered in HTTP/1.1 form with "WARC-Protocol: h2", as crawlers do.  The
 * payload digest is over the body as it arrived less its chunk framing and
 * before content decoding (EVF_DEBUG_DATA_IN).
 *
 * The loop thread only copies and hashes: a record's block waits in memory,
 * or in an unlinked temporary file beside the archive once it is larger
 * than SPILL, and is queued complete, header and all.  A writer thread
 * compresses and writes, so neither deflate nor a slow disk holds the loop.
 */
#define _GNU_SOURCE   /* pthread_setname_np */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <zlib.h>

#include "cli.h"

#define SPILL (256u << 10)        /* a block past this goes to a temp file */
#define QUEUE_MEM (64u << 20)     /* queued in memory past this: spill at once */
#define ZCHUNK (64u << 10)

/* A record's block: in memory, then in an unlinked temporary file. */
struct spool {
	struct cli_buf mem;
	int fd;                   /* -1 while in memory */
	uint64_t len;
	EVP_MD_CTX *sha;          /* the block digest so far */
};

/* One record, complete, for the writer thread. */
struct warc_rec {
	struct warc_rec *next;
	struct cli_buf head;      /* "WARC/1.1" through the empty line */
	struct cli_buf mem;       /* the block, when fd is -1 */
	int fd;
	uint64_t len;
};

/* The exchange a transfer is in: its request and response so far. */
struct cli_warc_x {
	char req_id[48], resp_id[48];
	char date[40];
	char ip[48];
	char *target;
	int h2;
	const char *tls;          /* "TLSv1.3", or NULL */
	int have_resp, is_head, status;
	int64_t clen;             /* the response's Content-Length, or -1 */
	uint64_t payload;
	struct spool req, resp;
	EVP_MD_CTX *pay;
};

struct cli_warc {
	const char *prefix;
	uint64_t max_size;
	unsigned seq;             /* the next file's number, with max_size */
	int fd;
	uint64_t size;            /* bytes in the current file */
	int records;              /* records in it past the warcinfo */
	char name[4096];
	EVP_MD *sha1;
	EVP_MD_CTX *ctxs[64];     /* digest contexts to use again */
	int nctxs;
	unsigned char ids[512];   /* random bytes for record IDs */
	size_t ids_used;
	pthread_t thread;
	int started;
	pthread_mutex_t lock;
	pthread_cond_t more;
	/* records of this loop iteration, handed over together at its end:
	 * one wakeup of the writer for many records */
	struct warc_rec *batch, *batch_tail;
	uint64_t batch_mem;
	struct event *handover;
	struct warc_rec *head, *tail;
	uint64_t queued;          /* bytes in memory on the queue */
	int closing;
	int failed;               /* the writer stopped: why says why */
	int warned;
	char why[4400];
	z_stream z;
	unsigned char zout[ZCHUNK];
	size_t zlen;
};

/* ------------------------------------------------------------ helpers */

static void
base32_sha1(EVP_MD_CTX *ctx, char out[38])
{
	static const char a[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
	unsigned char d[EVP_MAX_MD_SIZE];
	unsigned dl = 0, bits = 0, acc = 0, i;
	char *o = out;

	EVP_DigestFinal_ex(ctx, d, &dl);
	memcpy(o, "sha1:", 5);
	o += 5;
	for (i = 0; i < dl; i++) {
		acc = (acc << 8) | d[i];
		bits += 8;
		while (bits >= 5) {
			*o++ = a[(acc >> (bits - 5)) & 31];
			bits -= 5;
		}
	}
	if (bits > 0)
		*o++ = a[(acc << (5 - bits)) & 31];
	*o = '\0';
}

/* "<urn:uuid:...>", a version 4 UUID. */
static void
record_id(struct cli_warc *w, char out[48])
{
	static const char hex[] = "0123456789abcdef";
	unsigned char *b;
	char *o = out;

	if (w->ids_used == 0 || w->ids_used + 16 > sizeof w->ids) {
		if (RAND_bytes(w->ids, sizeof w->ids) != 1) {
			/* never seen; a repeated ID still beats no record */
			for (size_t i = 0; i < sizeof w->ids; i++)
				w->ids[i] = (unsigned char)rand();
		}
		w->ids_used = 0;
	}
	b = w->ids + w->ids_used;
	w->ids_used += 16;
	b[6] = (unsigned char)((b[6] & 0x0f) | 0x40);
	b[8] = (unsigned char)((b[8] & 0x3f) | 0x80);
	memcpy(o, "<urn:uuid:", 10);
	o += 10;
	for (int i = 0; i < 16; i++) {
		if (i == 4 || i == 6 || i == 8 || i == 10)
			*o++ = '-';
		*o++ = hex[b[i] >> 4];
		*o++ = hex[b[i] & 15];
	}
	memcpy(o, ">", 2);
}

/* RFC 3339 in UTC with microseconds, as WARC 1.1 allows. */
static void
warc_date(char out[40])
{
	struct timespec ts;
	struct tm tm;

	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	size_t n = strftime(out, 40, "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(out + n, 40 - n, ".%06uZ", (unsigned)(ts.tv_nsec / 1000) % 1000000u);
}

static void
put_field(struct cli_buf *b, const char *name, const char *value)
{
	cli_buf_puts(b, name);
	cli_buf_put(b, ": ", 2);
	cli_buf_puts(b, value);
	cli_buf_put(b, "\r\n", 2);
}

/* ------------------------------------------------------------- spools */

/* A SHA-1 context, started; NULL when memory ran out.  Contexts are kept
 * for the next exchange: making one costs more than hashing a small body. */
static EVP_MD_CTX *
sha_get(struct cli_warc *w)
{
	EVP_MD_CTX *c = w->nctxs > 0 ? w->ctxs[--w->nctxs] : EVP_MD_CTX_new();

	if (c != NULL && EVP_DigestInit_ex(c, w->sha1, NULL) != 1) {
		EVP_MD_CTX_free(c);
		c = NULL;
	}
	return c;
}

static void
sha_put(struct cli_warc *w, EVP_MD_CTX *c)
{
	if (c != NULL && w->nctxs < (int)(sizeof w->ctxs / sizeof w->ctxs[0]))
		w->ctxs[w->nctxs++] = c;
	else
		EVP_MD_CTX_free(c);
}

static int
spool_init(struct cli_warc *w, struct spool *s, size_t room)
{
	cli_buf_init(&s->mem);
	s->fd = -1;
	s->len = 0;
	s->sha = sha_get(w);
	return s->sha != NULL && cli_buf_reserve(&s->mem, room) == 0 ? 0 : -1;
}

static void
spool_free(struct cli_warc *w, struct spool *s)
{
	cli_buf_free(&s->mem);
	if (s->fd >= 0)
		close(s->fd);
	s->fd = -1;
	sha_put(w, s->sha);
	s->sha = NULL;
}

static int
write_all(int fd, const void *p, size_t n)
{
	const char *c = p;

	while (n > 0) {
		ssize_t k = write(fd, c, n);
		if (k < 0 && errno == EINTR)
			continue;
		if (k <= 0)
			return -1;
		c += k;
		n -= (size_t)k;
	}
	return 0;
}

/* An unlinked temporary file beside the archive, or -1. */
static int
temp_file(const struct cli_warc *w)
{
	char path[4200];
	int fd;

	snprintf(path, sizeof path, "%s.spool.XXXXXX", w->prefix);
	fd = mkstemp(path);
	if (fd >= 0)
		unlink(path);
	return fd;
}

/* Move what is in memory to a temporary file: 0 or -1. */
static int
spill(const struct cli_warc *w, struct cli_buf *mem, int *fd)
{
	if (*fd < 0 && (*fd = temp_file(w)) < 0)
		return -1;
	if (mem->len > 0 && write_all(*fd, mem->data, mem->len) < 0)
		return -1;
	cli_buf_free(mem);
	cli_buf_init(mem);
	return 0;
}

static void
writer_fail(struct cli_warc *w, const char *what, const char *name)
{
	pthread_mutex_lock(&w->lock);
	if (!w->failed) {
		w->failed = 1;
		snprintf(w->why, sizeof w->why, "%s '%s': %s", what, name, strerror(errno));
	}
	pthread_mutex_unlock(&w->lock);
}

static void
spool_add(struct cli_warc *w, struct spool *s, const void *p, size_t n)
{
	if (s->sha == NULL)
		return;
	EVP_DigestUpdate(s->sha, p, n);
	s->len += n;
	if (s->fd >= 0) {
		if (write_all(s->fd, p, n) < 0)
			writer_fail(w, "cannot write a temporary file for", w->prefix);
		return;
	}
	cli_buf_put(&s->mem, p, n);
	if (s->mem.len > SPILL && spill(w, &s->mem, &s->fd) < 0)
		writer_fail(w, "cannot write a temporary file for", w->prefix);
}

/* ------------------------------------------------------ writer thread */

/* Compress n bytes of the member (finish: its last) into w->zout, writing
 * out what fills it.  0 or -1. */
static int
deflate_put(struct cli_warc *w, const void *p, size_t n, int finish)
{
	w->z.next_in = (unsigned char *)p;
	w->z.avail_in = (uInt)n;
	for (;;) {
		int r;
		w->z.next_out = w->zout + w->zlen;
		w->z.avail_out = (uInt)(sizeof w->zout - w->zlen);
		r = deflate(&w->z, finish ? Z_FINISH : Z_NO_FLUSH);
		w->zlen = sizeof w->zout - w->z.avail_out;
		if (w->zlen == sizeof w->zout) {
			if (write_all(w->fd, w->zout, w->zlen) < 0)
				return -1;
			w->size += w->zlen;
			w->zlen = 0;
		}
		if (finish ? r == Z_STREAM_END : w->z.avail_in == 0 && w->z.avail_out != 0)
			return 0;
		if (r == Z_STREAM_ERROR)
			return -1;
	}
}

static int
zflush(struct cli_warc *w)
{
	if (w->zlen > 0 && write_all(w->fd, w->zout, w->zlen) < 0)
		return -1;
	w->size += w->zlen;
	w->zlen = 0;
	return 0;
}

/* One gzip member: head, block, and the two CRLFs that end a record. */
static int
write_member(struct cli_warc *w, const struct cli_buf *head, const struct cli_buf *mem,
             int fd, uint64_t len)
{
	static char piece[ZCHUNK];
	uint64_t off = 0;

	if (deflateReset(&w->z) != Z_OK || deflate_put(w, head->data, head->len, 0) < 0)
		return -1;
	if (fd < 0 && mem->len > 0 && deflate_put(w, mem->data, mem->len, 0) < 0)
		return -1;
	while (fd >= 0 && off < len) {
		size_t want = len - off < sizeof piece ? (size_t)(len - off) : sizeof piece;
		ssize_t k = pread(fd, piece, want, (off_t)off);
		if (k < 0 && errno == EINTR)
			continue;
		if (k <= 0 || deflate_put(w, piece, (size_t)k, 0) < 0)
			return -1;
		off += (uint64_t)k;
	}
	return deflate_put(w, "\r\n\r\n", 4, 1);
}

/* The warcinfo record that starts each file. */
static int
write_info(struct cli_warc *w)
{
	struct cli_buf head, block;
	EVP_MD_CTX *sha = EVP_MD_CTX_new();
	char id[48], date[40], digest[40], num[24];
	const char *base = strrchr(w->name, '/');
	int rc;

	cli_buf_init(&block);
	cli_buf_puts(&block, "software: evfetch/" EVF_VERSION_STRING "\r\n"
	             "format: WARC File Format 1.1\r\n"
	             "conformsTo: https://iipc.github.io/warc-specifications/"
	             "specifications/warc-format/warc-1.1/\r\n");
	if (sha == NULL || EVP_DigestInit_ex(sha, w->sha1, NULL) != 1 || block.oom) {
		EVP_MD_CTX_free(sha);
		cli_buf_free(&block);
		errno = ENOMEM;
		return -1;
	}
	EVP_DigestUpdate(sha, block.data, block.len);
	base32_sha1(sha, digest);
	EVP_MD_CTX_free(sha);
	record_id(w, id);
	warc_date(date);
	snprintf(num, sizeof num, "%zu", block.len);
	cli_buf_init(&head);
	cli_buf_puts(&head, "WARC/1.1\r\n");
	put_field(&head, "WARC-Type", "warcinfo");
	put_field(&head, "WARC-Record-ID", id);
	put_field(&head, "WARC-Date", date);
	put_field(&head, "WARC-Filename", base != NULL ? base + 1 : w->name);
	put_field(&head, "WARC-Block-Digest", digest);
	put_field(&head, "Content-Type", "application/warc-fields");
	put_field(&head, "Content-Length", num);
	cli_buf_put(&head, "\r\n", 2);
	rc = head.oom ? -1 : write_member(w, &head, &block, -1, block.len);
	cli_buf_free(&head);
	cli_buf_free(&block);
	return rc;
}

/* Open the next file (the first with max_size is the first unused
 * number) and start it with warcinfo: 0, or -1 with errno. */
static int
open_next(struct cli_warc *w)
{
	struct stat st;

	if (w->fd >= 0 && close(w->fd) < 0) {
		w->fd = -1;
		return -1;
	}
	w->fd = -1;
	for (;;) {
		if (w->max_size == 0)
			snprintf(w->name, sizeof w->name, "%s.warc.gz", w->prefix);
		else
			snprintf(w->name, sizeof w->name, "%s-%05u.warc.gz", w->prefix, w->seq++);
		if (w->max_size == 0 || stat(w->name, &st) < 0)
			break;
	}
	w->fd = open(w->name, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
	if (w->fd < 0)
		return -1;
	if (fstat(w->fd, &st) < 0)
		return -1;
	w->size = (uint64_t)st.st_size;
	w->records = 0;
	return write_info(w) < 0 || zflush(w) < 0 ? -1 : 0;
}

static void
rec_free(struct warc_rec *r)
{
	cli_buf_free(&r->head);
	cli_buf_free(&r->mem);
	if (r->fd >= 0)
		close(r->fd);
	free(r);
}

static void *
writer(void *arg)
{
	struct cli_warc *w = arg;

	pthread_mutex_lock(&w->lock);
	for (;;) {
		struct warc_rec *r;
		int bad;

		while (w->head == NULL && !w->closing)
			pthread_cond_wait(&w->more, &w->lock);
		if (w->head == NULL)
			break;
		r = w->head;
		w->head = r->next;
		if (w->head == NULL)
			w->tail = NULL;
		w->queued -= r->mem.len;
		bad = w->failed;
		pthread_mutex_unlock(&w->lock);
		if (!bad && w->max_size != 0 && w->records > 0 && w->size + w->zlen >= w->max_size &&
		    (zflush(w) < 0 || open_next(w) < 0))
			writer_fail(w, "cannot write", w->name);
		else if (!bad && write_member(w, &r->head, &r->mem, r->fd, r->len) < 0)
			writer_fail(w, "cannot write", w->name);
		else if (!bad)
			w->records++;
		rec_free(r);
		pthread_mutex_lock(&w->lock);
		/* nothing more waiting: let the bytes reach the file */
		if (w->head == NULL && !w->failed) {
			pthread_mutex_unlock(&w->lock);
			if (zflush(w) < 0)
				writer_fail(w, "cannot write", w->name);
			pthread_mutex_lock(&w->lock);
		}
	}
	pthread_mutex_unlock(&w->lock);
	return NULL;
}

/* Hand the batch to the writer. */
static void
hand_over(struct cli_warc *w)
{
	if (w->batch == NULL)
		return;
	pthread_mutex_lock(&w->lock);
	w->queued += w->batch_mem;
	if (w->tail != NULL)
		w->tail->next = w->batch;
	else
		w->head = w->batch;
	w->tail = w->batch_tail;
	pthread_cond_signal(&w->more);
	pthread_mutex_unlock(&w->lock);
	w->batch = w->batch_tail = NULL;
	w->batch_mem = 0;
}

static void
handover_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd, (void)what;
	hand_over(arg);
}

static void
enqueue(struct cli_warc *w, struct warc_rec *r)
{
	uint64_t queued;

	pthread_mutex_lock(&w->lock);
	queued = w->queued;
	pthread_mutex_unlock(&w->lock);
	if (r->fd < 0 && r->mem.len > 0 && queued + w->batch_mem + r->mem.len > QUEUE_MEM &&
	    spill(w, &r->mem, &r->fd) < 0)
		/* the writer is behind: the block waits on disk, not in memory */
		writer_fail(w, "cannot write a temporary file for", w->prefix);
	r->next = NULL;
	if (w->batch_tail != NULL)
		w->batch_tail->next = r;
	else
		w->batch = r;
	w->batch_tail = r;
	w->batch_mem += r->mem.len;
	if (w->batch == r)
		event_active(w->handover, EV_TIMEOUT, 0);
}

/* ------------------------------------------------------------ records */

static const char *
reason(int status)
{
	switch (status) {
	case 200: return "OK";
	case 201: return "Created";
	case 202: return "Accepted";
	case 203: return "Non-Authoritative Information";
	case 204: return "No Content";
	case 206: return "Partial Content";
	case 301: return "Moved Permanently";
	case 302: return "Found";
	case 303: return "See Other";
	case 304: return "Not Modified";
	case 307: return "Temporary Redirect";
	case 308: return "Permanent Redirect";
	case 400: return "Bad Request";
	case 401: return "Unauthorized";
	case 403: return "Forbidden";
	case 404: return "Not Found";
	case 405: return "Method Not Allowed";
	case 408: return "Request Timeout";
	case 410: return "Gone";
	case 413: return "Content Too Large";
	case 429: return "Too Many Requests";
	case 500: return "Internal Server Error";
	case 502: return "Bad Gateway";
	case 503: return "Service Unavailable";
	case 504: return "Gateway Timeout";
	default: return "";
	}
}

/*
 * An HTTP/2 head from the library ("GET /p HTTP/2" or "HTTP/2 200", then
 * fields, pseudo-header fields among them) in HTTP/1.1 form: the request's
 * :authority becomes Host, the other pseudo-header fields go.
 */
static void
h2_as_h1(struct cli_warc *w, struct spool *s, const char *data, size_t len, int response)
{
	size_t i = 0;
	int first = 1;

	while (i < len) {
		const char *nl = memchr(data + i, '\n', len - i);
		size_t end = nl != NULL ? (size_t)(nl - data) + 1 : len, n = end - i;
		const char *line = data + i;

		if (first && response && n > 7 && memcmp(line, "HTTP/2 ", 7) == 0) {
			char sl[64];
			int st = atoi(line + 7);
			int k = snprintf(sl, sizeof sl, "HTTP/1.1 %d %s\r\n", st, reason(st));
			spool_add(w, s, sl, (size_t)k);
		} else if (first && !response && n >= 9 && memcmp(line + n - 9, " HTTP/2\r\n", 9) == 0) {
			spool_add(w, s, line, n - 9);
			spool_add(w, s, " HTTP/1.1\r\n", 11);
		} else if (n > 12 && strncasecmp(line, ":authority: ", 12) == 0) {
			spool_add(w, s, "Host: ", 6);
			spool_add(w, s, line + 12, n - 12);
		} else if (line[0] != ':') {
			spool_add(w, s, line, n);
		}
		first = 0;
		i = end;
	}
}

/* The status and Content-Length of a head, as the library rendered it. */
static void
scan_head(struct cli_warc_x *e, const char *data, size_t len)
{
	const char *sp = memchr(data, ' ', len);
	size_t i = 0;

	e->status = sp != NULL ? atoi(sp + 1) : 0;
	e->clen = -1;
	while (i < len) {
		const char *nl = memchr(data + i, '\n', len - i);
		size_t end = nl != NULL ? (size_t)(nl - data) + 1 : len;
		if (end - i > 15 && strncasecmp(data + i, "content-length:", 15) == 0)
			e->clen = strtoll(data + i + 15, NULL, 10);
		i = end;
	}
}

static void
x_free(struct cli_warc *w, struct cli_warc_x *e)
{
	if (e == NULL)
		return;
	spool_free(w, &e->req);
	spool_free(w, &e->resp);
	sha_put(w, e->pay);
	free(e->target);
	free(e);
}

void
cli_warc_x_free(struct cli_app *app, struct cli_warc_x *e)
{
	x_free(app->warc, e);
}

/* A new exchange: the request head is going out. */
static struct cli_warc_x *
x_new(struct cli_warc *w, evf_transfer *t)
{
	struct cli_warc_x *e = calloc(1, sizeof *e);
	const char *url = evf_transfer_effective_url(t);
	const char *ip = evf_transfer_remote_ip(t);
	const char *v = evf_transfer_http_version(t);

	if (e == NULL)
		return NULL;
	e->req.fd = e->resp.fd = -1;
	/* room for a small exchange's request and response at once */
	if (spool_init(w, &e->req, 512) < 0 || spool_init(w, &e->resp, 2048) < 0 ||
	    (e->pay = sha_get(w)) == NULL || (e->target = strdup(url != NULL ? url : "")) == NULL) {
		x_free(w, e);
		return NULL;
	}
	record_id(w, e->req_id);
	record_id(w, e->resp_id);
	warc_date(e->date);
	snprintf(e->ip, sizeof e->ip, "%s", ip != NULL ? ip : "");
	e->h2 = v != NULL && strcmp(v, "2") == 0;
	e->tls = evf_transfer_tls_version(t);
	e->clen = -1;
	return e;
}

static void
protocol_fields(struct cli_buf *b, const struct cli_warc_x *e)
{
	put_field(b, "WARC-Protocol", e->h2 ? "h2" : "http/1.1");
	if (e->tls != NULL && strncmp(e->tls, "TLSv", 4) == 0) {
		char v[24];
		snprintf(v, sizeof v, "tls/%s", e->tls + 4);
		put_field(b, "WARC-Protocol", v);
	}
}

/* The record of one side of e, for the writer. */
static void
queue_record(struct cli_warc *w, struct cli_warc_x *e, int response, const char *truncated)
{
	struct spool *s = response ? &e->resp : &e->req;
	struct warc_rec *r = calloc(1, sizeof *r);
	char digest[40], num[24];

	if (r == NULL) {
		errno = ENOMEM;
		writer_fail(w, "out of memory for a record of", w->prefix);
		return;
	}
	cli_buf_init(&r->head);
	cli_buf_reserve(&r->head, 1024);
	cli_buf_puts(&r->head, "WARC/1.1\r\n");
	put_field(&r->head, "WARC-Type", response ? "response" : "request");
	put_field(&r->head, "WARC-Record-ID", response ? e->resp_id : e->req_id);
	put_field(&r->head, "WARC-Date", e->date);
	put_field(&r->head, "WARC-Target-URI", e->target);
	if (e->ip[0] != '\0')
		put_field(&r->head, "WARC-IP-Address", e->ip);
	if (response || e->have_resp)
		put_field(&r->head, "WARC-Concurrent-To", response ? e->req_id : e->resp_id);
	protocol_fields(&r->head, e);
	base32_sha1(s->sha, digest);
	put_field(&r->head, "WARC-Block-Digest", digest);
	if (response) {
		base32_sha1(e->pay, digest);
		put_field(&r->head, "WARC-Payload-Digest", digest);
		if (truncated != NULL)
			put_field(&r->head, "WARC-Truncated", truncated);
	}
	put_field(&r->head, "Content-Type", response ? "application/http;msgtype=response"
	                                             : "application/http;msgtype=request");
	snprintf(num, sizeof num, "%llu", (unsigned long long)s->len);
	put_field(&r->head, "Content-Length", num);
	cli_buf_put(&r->head, "\r\n", 2);
	/* the block moves to the record */
	r->mem = s->mem;
	r->fd = s->fd;
	r->len = s->len;
	cli_buf_init(&s->mem);
	s->fd = -1;
	if (r->head.oom || r->mem.oom) {
		errno = ENOMEM;
		writer_fail(w, "out of memory for a record of", w->prefix);
		rec_free(r);
		return;
	}
	enqueue(w, r);
}

/* Why a response record holds less than the response: err is how the
 * transfer ended (EVF_OK while it goes on to another exchange). */
static const char *
truncation(const struct cli_warc_x *e, int err)
{
	switch (err) {
	case EVF_OK:
		/* a redirect or a retry: the client read no more than the head */
		if (e->is_head || e->status == 204 || e->status == 304 || e->clen < 0)
			return NULL;
		return e->payload < (uint64_t)e->clen ? "unspecified" : NULL;
	case EVF_ERR_TIMEOUT:
		return "time";
	case EVF_ERR_TOO_LARGE:
		return "length";
	case EVF_ERR_NETWORK:
	case EVF_ERR_TRUNCATED:
	case EVF_ERR_TLS:
	case EVF_ERR_PROTOCOL:
	case EVF_ERR_PROXY:
		return "disconnect";
	default:
		return "unspecified";
	}
}

/* e is over: its records go to the writer. */
static void
x_end(struct cli_warc *w, struct cli_warc_x **slot, int err, int last)
{
	struct cli_warc_x *e = *slot;

	if (e == NULL)
		return;
	queue_record(w, e, 0, NULL);
	if (e->have_resp)
		queue_record(w, e, 1, truncation(e, last ? err : EVF_OK));
	x_free(w, e);
	*slot = NULL;
}

void
cli_warc_tap(struct cli_warc *w, struct cli_warc_x **slot, evf_transfer *t, int kind,
             const char *data, size_t len)
{
	struct cli_warc_x *e;

	if (kind == EVF_DEBUG_HEADER_OUT) {
		x_end(w, slot, EVF_OK, 0);   /* the last exchange led to this one */
		if ((*slot = e = x_new(w, t)) == NULL) {
			errno = ENOMEM;
			writer_fail(w, "out of memory for a record of", w->prefix);
			return;
		}
		e->is_head = len >= 5 && memcmp(data, "HEAD ", 5) == 0;
		if (e->h2)
			h2_as_h1(w, &e->req, data, len, 0);
		else
			spool_add(w, &e->req, data, len);
		return;
	}
	if ((e = *slot) == NULL)
		return;
	switch (kind) {
	case EVF_DEBUG_DATA_OUT:
		spool_add(w, &e->req, data, len);
		break;
	case EVF_DEBUG_HEADER_IN:
		e->have_resp = 1;
		scan_head(e, data, len);
		if (e->h2)
			h2_as_h1(w, &e->resp, data, len, 1);
		break;
	case EVF_DEBUG_WIRE_IN:
		spool_add(w, &e->resp, data, len);
		break;
	case EVF_DEBUG_DATA_IN:
		EVP_DigestUpdate(e->pay, data, len);
		e->payload += len;
		if (e->h2)
			spool_add(w, &e->resp, data, len);
		break;
	default:
		break;
	}
}

void
cli_warc_done(struct cli_app *app, struct cli_warc_x **slot, int err)
{
	struct cli_warc *w = app->warc;
	int failed;

	x_end(w, slot, err, 1);
	pthread_mutex_lock(&w->lock);
	failed = w->failed && !w->warned;
	w->warned |= failed;
	pthread_mutex_unlock(&w->lock);
	if (failed) {
		cli_progress_clear(app);
		cli_warn("--warc-file: %s; no more records are written", w->why);
		cli_progress_restore(app);
		app->fatal = 1;
	}
}

/* ------------------------------------------------------ open and close */

int
cli_warc_open(struct cli_app *app)
{
	struct cli_warc *w;

	if (app->opts.warc_file == NULL)
		return 0;
	w = calloc(1, sizeof *w);
	if (w == NULL) {
		cli_warn("--warc-file: out of memory");
		return -1;
	}
	w->prefix = app->opts.warc_file;
	w->max_size = app->opts.warc_max_size;
	w->fd = -1;
	/* fetched once: EVP_sha1() would be looked up again at each init */
	w->sha1 = EVP_MD_fetch(NULL, "SHA1", NULL);
	pthread_mutex_init(&w->lock, NULL);
	pthread_cond_init(&w->more, NULL);
	app->warc = w;
	if (w->sha1 == NULL) {
		cli_warn("--warc-file: OpenSSL has no SHA-1");
		return -1;
	}
	/* level 0 has no use for a hash table, which each member clears */
	if (deflateInit2(&w->z, app->opts.warc_level, Z_DEFLATED, 15 + 16,
	                 app->opts.warc_level == 0 ? 1 : 8, Z_DEFAULT_STRATEGY) != Z_OK) {
		cli_warn("--warc-file: cannot start zlib");
		return -1;
	}
	if (open_next(w) < 0) {
		cli_usage_error("--warc-file: cannot write '%s': %s", w->name, strerror(errno));
		return -1;
	}
	w->handover = event_new(app->base, -1, 0, handover_cb, w);
	if (w->handover == NULL) {
		cli_warn("--warc-file: cannot make an event");
		return -1;
	}
	if (pthread_create(&w->thread, NULL, writer, w) != 0) {
		cli_warn("--warc-file: cannot start the writer thread");
		return -1;
	}
	w->started = 1;
	pthread_setname_np(w->thread, "evfetch-warc");   /* for top -H, perf */
	return 0;
}

int
cli_warc_close(struct cli_app *app)
{
	struct cli_warc *w = app->warc;
	int rc = 0;

	if (w == NULL)
		return 0;
	hand_over(w);
	if (w->handover != NULL)
		event_free(w->handover);
	if (w->started) {
		pthread_mutex_lock(&w->lock);
		w->closing = 1;
		pthread_cond_signal(&w->more);
		pthread_mutex_unlock(&w->lock);
		pthread_join(w->thread, NULL);
	}
	while (w->head != NULL) {
		struct warc_rec *r = w->head;
		w->head = r->next;
		rec_free(r);
	}
	if (w->fd >= 0) {
		if (!w->failed && zflush(w) < 0)
			writer_fail(w, "cannot write", w->name);
		if (close(w->fd) < 0)
			writer_fail(w, "cannot write", w->name);
		w->fd = -1;
	}
	if (w->failed && !w->warned) {
		cli_warn("--warc-file: %s", w->why);
		rc = -1;
	} else if (w->failed) {
		rc = -1;
	}
	deflateEnd(&w->z);
	while (w->nctxs > 0)
		EVP_MD_CTX_free(w->ctxs[--w->nctxs]);
	EVP_MD_free(w->sha1);
	pthread_mutex_destroy(&w->lock);
	pthread_cond_destroy(&w->more);
	free(w);
	app->warc = NULL;
	return rc;
}
