/*
 * warc_write.c - the writer thread of --warc-file (see warc.c): for each
 * finished exchange it computes the block and payload digests, writes the
 * request and response records' headers, and compresses each record as a
 * gzip member of its own into the current file, which it rolls over at
 * --warc-max-size; each file starts with a warcinfo record.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <openssl/rand.h>

#include "warc.h"

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
void
warc_record_id(struct ids *p, char out[48])
{
	static const char hex[] = "0123456789abcdef";
	unsigned char *b;
	char *o = out;

	if (p->used == 0 || p->used + 16 > sizeof p->b) {
		if (RAND_bytes(p->b, sizeof p->b) != 1) {
			/* never seen; a repeated ID still beats no record */
			for (size_t i = 0; i < sizeof p->b; i++)
				p->b[i] = (unsigned char)random();
		}
		p->used = 0;
	}
	b = p->b + p->used;
	p->used += 16;
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
void
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
warc_put_field(struct cli_buf *b, const char *name, const char *value)
{
	cli_buf_puts(b, name);
	cli_buf_put(b, ": ", 2);
	cli_buf_puts(b, value);
	cli_buf_put(b, "\r\n", 2);
}

/* ------------------------------------------------------------- spools */

int
warc_spool_init(struct spool *s, size_t room)
{
	cli_buf_init(&s->mem);
	s->fd = -1;
	s->len = 0;
	return cli_buf_reserve(&s->mem, room);
}

static void
spool_free(struct spool *s)
{
	cli_buf_free(&s->mem);
	if (s->fd >= 0)
		close(s->fd);
	s->fd = -1;
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
	fd = mkostemp(path, O_CLOEXEC);
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

void
warc_fail(struct cli_warc *w, const char *what, const char *name)
{
	pthread_mutex_lock(&w->lock);
	if (!w->failed) {
		w->failed = 1;
		snprintf(w->why, sizeof w->why, "%s '%s': %s", what, name, strerror(errno));
	}
	pthread_mutex_unlock(&w->lock);
}

/* A temporary file failed: the recording stops (warc_fail), and what the
 * spool holds is given back at once rather than kept growing. */
static void
spool_break(struct cli_warc *w, struct spool *s)
{
	warc_fail(w, "cannot write a temporary file for", w->prefix);
	cli_buf_free(&s->mem);
	cli_buf_init(&s->mem);
	s->broken = 1;
}

void
warc_spool_add(struct cli_warc *w, struct spool *s, const void *p, size_t n)
{
	if (s->broken)
		return;
	s->len += n;
	if (s->fd >= 0) {
		if (write_all(s->fd, p, n) < 0)
			spool_break(w, s);
		return;
	}
	cli_buf_put(&s->mem, p, n);
	if (s->mem.len > SPILL && spill(w, &s->mem, &s->fd) < 0)
		spool_break(w, s);
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
		if (r == Z_STREAM_ERROR) {
			errno = EIO;
			return -1;
		}
	}
}

int
warc_zflush(struct cli_warc *w)
{
	if (w->zlen > 0 && write_all(w->fd, w->zout, w->zlen) < 0)
		return -1;
	w->size += w->zlen;
	w->zlen = 0;
	return 0;
}

/* The n bytes of s from off on, in pieces, to fn: 0 or -1. */
static int
spool_each(const struct spool *s, uint64_t off, uint64_t n,
           int (*fn)(struct cli_warc *w, const void *p, size_t n), struct cli_warc *w)
{
	static char piece[ZCHUNK];   /* the writer thread's alone */

	if (s->fd < 0)
		return n == 0 ? 0 : fn(w, s->mem.data + off, (size_t)n);
	while (n > 0) {
		size_t want = n < sizeof piece ? (size_t)n : sizeof piece;
		ssize_t k = pread(s->fd, piece, want, (off_t)off);
		if (k < 0 && errno == EINTR)
			continue;
		if (k == 0)
			errno = EIO;   /* the temporary file is shorter than it was */
		if (k <= 0 || fn(w, piece, (size_t)k) < 0)
			return -1;
		off += (uint64_t)k;
		n -= (uint64_t)k;
	}
	return 0;
}

static int
deflate_more(struct cli_warc *w, const void *p, size_t n)
{
	return deflate_put(w, p, n, 0);
}

static int
sha_more(struct cli_warc *w, const void *p, size_t n)
{
	return EVP_DigestUpdate(w->wsha, p, n) == 1 ? 0 : -1;
}

/* The SHA-1 of n bytes of s from off on, as "sha1:" and base 32. */
static int
spool_digest(struct cli_warc *w, const struct spool *s, uint64_t off, uint64_t n,
             char out[40])
{
	if (EVP_DigestInit_ex(w->wsha, w->sha1, NULL) != 1 || spool_each(s, off, n, sha_more, w) < 0)
		return -1;
	base32_sha1(w->wsha, out);
	return 0;
}

/* One gzip member: head, block, and the two CRLFs that end a record. */
static int
write_member(struct cli_warc *w, const struct cli_buf *head, const struct spool *block)
{
	if (deflateReset(&w->z) != Z_OK || deflate_put(w, head->data, head->len, 0) < 0 ||
	    spool_each(block, 0, block->len, deflate_more, w) < 0)
		return -1;
	return deflate_put(w, "\r\n\r\n", 4, 1);
}

/* The warcinfo record that starts each file. */
static int
write_info(struct cli_warc *w)
{
	struct cli_buf head;
	struct spool block;
	char id[48], date[40], digest[40], num[24];
	const char *base = strrchr(w->name, '/');
	int rc;

	warc_spool_init(&block, 0);
	cli_buf_puts(&block.mem, "software: evfetch/" EVF_VERSION_STRING "\r\n"
	             "format: WARC File Format 1.1\r\n"
	             "conformsTo: https://iipc.github.io/warc-specifications/"
	             "specifications/warc-format/warc-1.1/\r\n");
	block.len = block.mem.len;
	if (block.mem.oom || spool_digest(w, &block, 0, block.len, digest) < 0) {
		spool_free(&block);
		errno = ENOMEM;
		return -1;
	}
	warc_record_id(&w->wids, id);
	warc_date(date);
	snprintf(num, sizeof num, "%llu", (unsigned long long)block.len);
	cli_buf_init(&head);
	cli_buf_puts(&head, "WARC/1.1\r\n");
	warc_put_field(&head, "WARC-Type", "warcinfo");
	warc_put_field(&head, "WARC-Record-ID", id);
	warc_put_field(&head, "WARC-Date", date);
	warc_put_field(&head, "WARC-Filename", base != NULL ? base + 1 : w->name);
	warc_put_field(&head, "WARC-Block-Digest", digest);
	warc_put_field(&head, "Content-Type", "application/warc-fields");
	warc_put_field(&head, "Content-Length", num);
	cli_buf_put(&head, "\r\n", 2);
	rc = head.oom ? -1 : write_member(w, &head, &block);
	cli_buf_free(&head);
	spool_free(&block);
	return rc;
}

/* Open the next file (the first with max_size is the first unused
 * number) and start it with warcinfo: 0, or -1 with errno. */
int
warc_open_next(struct cli_warc *w)
{
	if (w->fd >= 0 && close(w->fd) < 0) {
		w->fd = -1;
		return -1;
	}
	w->fd = -1;
	/* never into a file that exists: one an earlier run left (killed, its
	 * last gzip member cut) would hide every record written after it */
	for (;;) {
		if (w->max_size == 0 && w->seq == 0)
			snprintf(w->name, sizeof w->name, "%s.warc.gz", w->prefix);
		else
			snprintf(w->name, sizeof w->name, "%s-%05u.warc.gz", w->prefix, w->seq);
		w->seq++;
		w->fd = open(w->name, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
		if (w->fd >= 0 || errno != EEXIST || w->seq > 99999)
			break;
	}
	if (w->fd < 0)
		return -1;
	w->size = 0;
	w->records = 0;
	return write_info(w) < 0 || warc_zflush(w) < 0 ? -1 : 0;
}

static void
protocol_fields(struct cli_buf *b, const struct cli_warc_x *e)
{
	warc_put_field(b, "WARC-Protocol", e->h2 ? "h2" : "http/1.1");
	if (e->tls != NULL && strncmp(e->tls, "TLSv", 4) == 0) {
		char v[24];
		snprintf(v, sizeof v, "tls/%s", e->tls + 4);
		warc_put_field(b, "WARC-Protocol", v);
	}
}


/* The request (response 0) or response record of e: 0 or -1. */
static int
write_record(struct cli_warc *w, struct cli_warc_x *e, int response)
{
	const struct spool *s = response ? &e->resp : &e->req;
	struct cli_buf head;
	char digest[40], num[24];
	int rc = -1;

	if (s->mem.oom) {
		errno = ENOMEM;
		return -1;
	}
	cli_buf_init(&head);
	cli_buf_reserve(&head, 1024);
	cli_buf_puts(&head, "WARC/1.1\r\n");
	warc_put_field(&head, "WARC-Type", response ? "response" : "request");
	warc_put_field(&head, "WARC-Record-ID", response ? e->resp_id : e->req_id);
	warc_put_field(&head, "WARC-Date", e->date);
	warc_put_field(&head, "WARC-Target-URI", e->target);
	if (e->ip[0] != '\0')
		warc_put_field(&head, "WARC-IP-Address", e->ip);
	if (response || e->have_resp)
		warc_put_field(&head, "WARC-Concurrent-To", response ? e->req_id : e->resp_id);
	protocol_fields(&head, e);
	if (spool_digest(w, s, 0, s->len, digest) < 0)
		goto out;
	warc_put_field(&head, "WARC-Block-Digest", digest);
	if (response) {
		if (e->pay != NULL)
			base32_sha1(e->pay, digest);
		else if (spool_digest(w, s, s->len - (e->payload < s->len ? e->payload : s->len),
		                      e->payload < s->len ? e->payload : s->len, digest) < 0)
			goto out;
		warc_put_field(&head, "WARC-Payload-Digest", digest);
		if (e->truncated != NULL)
			warc_put_field(&head, "WARC-Truncated", e->truncated);
	}
	warc_put_field(&head, "Content-Type", response ? "application/http;msgtype=response"
	                                          : "application/http;msgtype=request");
	snprintf(num, sizeof num, "%llu", (unsigned long long)s->len);
	warc_put_field(&head, "Content-Length", num);
	cli_buf_put(&head, "\r\n", 2);
	if (head.oom)
		errno = ENOMEM;
	else if (write_member(w, &head, s) == 0) {
		w->records++;
		rc = 0;
	}
out:
	cli_buf_free(&head);
	return rc;
}

/* With --warc-max-size, a file that reached it is followed by the next
 * before an exchange (whose two records stay together): 0 or -1. */
static int
roll(struct cli_warc *w)
{
	if (w->max_size == 0 || w->records == 0 || w->size + w->zlen < w->max_size)
		return 0;
	return warc_zflush(w) < 0 || warc_open_next(w) < 0 ? -1 : 0;
}

/* e is in the file (or the recording failed): the loop writes its report
 * line, if it has one; the blocks go now. */
static void
written(struct cli_warc *w, struct cli_warc_x *e)
{
	int first;
	uint64_t one = 1;

	if (e->line.len == 0) {
		warc_x_free(e);
		return;
	}
	spool_free(&e->req);
	spool_free(&e->resp);
	e->next = NULL;
	pthread_mutex_lock(&w->lock);
	first = w->written == NULL;
	if (w->written_tail != NULL)
		w->written_tail->next = e;
	else
		w->written = e;
	w->written_tail = e;
	pthread_mutex_unlock(&w->lock);
	if (first && write(w->written_fd, &one, sizeof one) < 0)
		(void)0;   /* the counter is full: the loop has been told */
}

void *
warc_writer(void *arg)
{
	struct cli_warc *w = arg;

	pthread_mutex_lock(&w->lock);
	for (;;) {
		struct cli_warc_x *e;
		int bad;

		while (w->head == NULL && !w->closing)
			pthread_cond_wait(&w->more, &w->lock);
		if (w->head == NULL)
			break;
		e = w->head;
		w->head = e->next;
		if (w->head == NULL)
			w->tail = NULL;
		bad = w->failed;
		pthread_mutex_unlock(&w->lock);
		if (!bad && (roll(w) < 0 || write_record(w, e, 0) < 0 ||
		             (e->have_resp && write_record(w, e, 1) < 0)))
			warc_fail(w, "cannot write", w->name);
		pthread_mutex_lock(&w->lock);
		w->queued -= e->req.len + e->resp.len;
		w->queued_fds -= (e->req.fd >= 0) + (e->resp.fd >= 0);
		if (w->waiting && w->queued <= QUEUE_BYTES / 2 && w->queued_fds <= QUEUE_FDS / 2)
			pthread_cond_signal(&w->room);
		pthread_mutex_unlock(&w->lock);
		written(w, e);
		pthread_mutex_lock(&w->lock);
		/* nothing more waiting: let the bytes reach the file */
		if (w->head == NULL && !w->failed) {
			pthread_mutex_unlock(&w->lock);
			if (warc_zflush(w) < 0)
				warc_fail(w, "cannot write", w->name);
			pthread_mutex_lock(&w->lock);
		}
	}
	if (w->waiting)
		pthread_cond_signal(&w->room);
	pthread_mutex_unlock(&w->lock);
	return NULL;
}

/* Hand the batch to the writer. */
void
warc_hand_over(struct cli_warc *w)
{
	if (w->batch == NULL)
		return;
	pthread_mutex_lock(&w->lock);
	w->queued += w->batch_bytes;
	w->queued_fds += w->batch_fds;
	if (w->tail != NULL)
		w->tail->next = w->batch;
	else
		w->head = w->batch;
	w->tail = w->batch_tail;
	pthread_cond_signal(&w->more);
	pthread_mutex_unlock(&w->lock);
	w->batch = w->batch_tail = NULL;
	w->batch_bytes = 0;
	w->batch_fds = 0;
}

void
warc_handover_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd, (void)what;
	warc_hand_over(arg);
}

/* e is finished: to the writer, with this loop iteration's others.  When
 * the writer is that far behind, the loop waits for it (back-pressure):
 * rather than a backlog without bound in memory, on disk or in open
 * temporary files, the fetching slows to the writer's pace. */
void
warc_enqueue(struct cli_warc *w, struct cli_warc_x *e)
{
	unsigned fds = (e->req.fd >= 0) + (e->resp.fd >= 0);
	int over;

	e->next = NULL;
	if (w->batch_tail != NULL)
		w->batch_tail->next = e;
	else
		w->batch = e;
	w->batch_tail = e;
	w->batch_bytes += e->req.len + e->resp.len;
	w->batch_fds += fds;
	if (w->batch == e)
		event_active(w->handover, EV_TIMEOUT, 0);
	pthread_mutex_lock(&w->lock);
	over = w->queued + w->batch_bytes > QUEUE_BYTES ||
	       w->queued_fds + w->batch_fds > QUEUE_FDS;
	pthread_mutex_unlock(&w->lock);
	if (!over)
		return;
	warc_hand_over(w);
	pthread_mutex_lock(&w->lock);
	while (!w->failed && !w->closing &&
	       (w->queued > QUEUE_BYTES || w->queued_fds > QUEUE_FDS)) {
		w->waiting = 1;
		pthread_cond_wait(&w->room, &w->lock);
	}
	w->waiting = 0;
	pthread_mutex_unlock(&w->lock);
}

void
warc_x_free(struct cli_warc_x *e)
{
	if (e == NULL)
		return;
	spool_free(&e->req);
	spool_free(&e->resp);
	EVP_MD_CTX_free(e->pay);
	free(e->target);
	cli_buf_free(&e->line);
	free(e);
}
