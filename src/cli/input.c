/*
 * input.c - the stream of URLs: positional arguments, then the lines of
 * -i FILE, handed out one at a time as transfer slots free up.
 *
 * The file is never read as a whole: one buffer (grown at most to
 * CLI_LINE_MAX) holds the unread part, so a list of millions of URLs costs
 * the same memory as a list of ten.
 *
 * Reading must not stall the transfers in flight.  A regular file is read
 * directly (the disk answers quickly), but a pipe, socket or terminal may
 * have nothing to say for a long time, so for those a libevent read event
 * says when one read() will return without blocking.  The descriptor is
 * not put into nonblocking mode: that flag belongs to the open file that
 * the shell and other processes share.
 *
 * The progress bar wants the number of URLs before the reader gets to the
 * end, so a regular file is also counted, ahead of it: a zero-timeout
 * timer reads one chunk with pread() (the reader's offset stays its own)
 * each time it fires, so the loop serves transfers between chunks, the
 * first requests go out before any counting, and the memory is one chunk
 * whatever the length of the file.  The counter classifies lines as the
 * reader does: blank lines and comments are not URLs, any line too long
 * to be one is (it will be reported as a failed URL).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <event2/event.h>

#include "cli.h"

#define INPUT_BUF_INIT (64 * 1024)
#define COUNT_CHUNK (64 * 1024)

static const char bom[] = "\xef\xbb\xbf";

static void count_stop(struct cli_input *in);
static void count_cb(evutil_socket_t fd, short what, void *arg);

static void
input_ready(evutil_socket_t fd, short what, void *arg)
{
	struct cli_input *in = arg;

	(void)fd;
	(void)what;
	in->ready = 1;
	in->on_ready(in->arg);
}

int
cli_input_open(struct cli_input *in, struct event_base *base, char **args,
               size_t nargs, const char *path, void (*on_ready)(void *),
               void *arg)
{
	struct stat st;

	memset(in, 0, sizeof *in);
	in->args = args;
	in->nargs = nargs;
	in->fd = -1;
	in->on_ready = on_ready;
	in->arg = arg;
	if (path == NULL) {
		in->eof = 1;
		return 0;
	}
	in->path = path;
	if (strcmp(path, "-") == 0) {
		in->fd = STDIN_FILENO;
	} else {
		in->fd = open(path, O_RDONLY | O_CLOEXEC);
		if (in->fd < 0)
			return -1;
	}
	if (fstat(in->fd, &st) < 0)
		goto fail;
	if (S_ISDIR(st.st_mode)) {
		errno = EISDIR;
		goto fail;
	}
	/* One byte more than cap, for the NUL after an unterminated last line. */
	in->buf = malloc(INPUT_BUF_INIT + 1);
	if (in->buf == NULL)
		goto fail;
	in->cap = INPUT_BUF_INIT;
	if (S_ISFIFO(st.st_mode) || S_ISSOCK(st.st_mode) || isatty(in->fd)) {
		in->ev = event_new(base, in->fd, EV_READ, input_ready, in);
		in->pollable = in->ev != NULL;
	} else if (S_ISREG(st.st_mode)) {
		struct timeval now = { 0, 0 };

		/* From where the reader starts: standard input may be a file
		 * the shell has read from already.  Without a chunk of memory or
		 * the timer, the total stays unknown, as for a pipe. */
		in->count_off = lseek(in->fd, 0, SEEK_CUR);
		in->count_buf = malloc(COUNT_CHUNK);
		in->count_ev = evtimer_new(base, count_cb, in);
		if (in->count_off < 0 || in->count_buf == NULL ||
		    in->count_ev == NULL || evtimer_add(in->count_ev, &now) < 0)
			count_stop(in);
	}
	return 0;
fail:
	cli_input_close(in);
	return -1;
}

/* Blanks around a URL come from editors and Windows line ends. */
static int
is_blank(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\v' || c == '\f';
}

static void
count_stop(struct cli_input *in)
{
	if (in->count_ev != NULL)
		event_free(in->count_ev);
	in->count_ev = NULL;
	free(in->count_buf);
	in->count_buf = NULL;
}

/*
 * Count the URLs in p[0..n), a piece of the file after the pieces before
 * it.  A line counts once, as soon as it shows a first character that is
 * not blank and not '#', or once it has grown too long to be taken.
 */
static void
count_chunk(struct cli_input *in, const char *p, size_t n)
{
	const char *end = p + n;

	while (p < end) {
		if (in->count_line || in->count_skip) {
			const char *nl = memchr(p, '\n', (size_t)(end - p));
			size_t len = (size_t)((nl != NULL ? nl : end) - p);

			if (!in->count_line && in->count_len + len >= CLI_LINE_MAX) {
				in->counted++;
				in->count_line = 1;
			}
			in->count_len += len;
			if (nl == NULL)
				return;
			p = nl;
		}
		if (*p == '\n') {
			in->count_len = 0;
			in->count_line = in->count_skip = 0;
		} else if (!is_blank(*p)) {
			if (*p == '#')
				in->count_skip = 1;
			else
				in->count_line = 1;
			in->counted += in->count_line;
			in->count_len++;
		} else if (++in->count_len >= CLI_LINE_MAX) {
			in->counted++;
			in->count_line = 1;
		}
		p++;
	}
}

/* One chunk per turn of the loop, so that transfers go on meanwhile. */
static void
count_cb(evutil_socket_t fd, short what, void *arg)
{
	struct cli_input *in = arg;
	struct timeval now = { 0, 0 };
	const char *p = in->count_buf;
	ssize_t n;

	(void)fd;
	(void)what;
	do
		n = pread(in->fd, in->count_buf, COUNT_CHUNK, in->count_off);
	while (n < 0 && errno == EINTR);
	if (n <= 0) {
		/* The end, or an error the reader will meet and report. */
		in->count_done = n == 0;
		count_stop(in);
		return;
	}
	/* The reader skips a byte order mark at its start (take_line). */
	if (!in->count_began && n >= 3 && memcmp(p, bom, 3) == 0)
		p += 3;
	in->count_began = 1;
	in->count_off += n;
	count_chunk(in, p, (size_t)(in->count_buf + n - p));
	if (evtimer_add(in->count_ev, &now) < 0)
		count_stop(in);
}

int
cli_input_total(const struct cli_input *in, uint64_t *total)
{
	if (in->path != NULL && !in->count_done)
		return 0;
	*total = in->nargs + in->counted;
	return 1;
}

/*
 * Turn one raw line into a URL, or return 0 for a line to skip.  The
 * first line may start with the UTF-8 byte order mark some editors write.
 */
static int
take_line(struct cli_input *in, char *p, size_t len, struct cli_line *line)
{
	if (++in->lineno == 1 && len >= 3 && memcmp(p, bom, 3) == 0) {
		p += 3;
		len -= 3;
	}
	while (len > 0 && is_blank(*p)) {
		p++;
		len--;
	}
	while (len > 0 && is_blank(p[len - 1]))
		len--;
	if (len == 0 || p[0] == '#')
		return 0;
	p[len] = '\0';
	line->ptr = p;
	line->len = len;
	line->why = memchr(p, '\0', len) != NULL ?
	            "the line contains a NUL byte" : NULL;
	return 1;
}

/* The rest of an overlong line is gone: report its start as failed. */
static enum cli_input_status
overlong(struct cli_input *in, struct cli_line *line)
{
	in->skipping = 0;
	in->lineno++;
	line->ptr = in->prefix;
	line->len = strlen(in->prefix);
	line->why = "the line is longer than 1048576 bytes";
	return CLI_INPUT_BAD;
}

/* Make room for more data; 0, or -1 when a line outgrew CLI_LINE_MAX. */
static int
make_room(struct cli_input *in)
{
	char *p;
	size_t cap;

	if (in->start > 0) {
		memmove(in->buf, in->buf + in->start, in->len - in->start);
		in->len -= in->start;
		in->start = 0;
	}
	if (in->skipping) {
		in->len = 0;
		return 0;
	}
	if (in->len < in->cap)
		return 0;
	if (in->cap >= CLI_LINE_MAX) {
		size_t n = sizeof in->prefix - 1;

		memcpy(in->prefix, in->buf, n);
		in->prefix[n] = '\0';
		in->skipping = 1;
		in->len = 0;
		return -1;
	}
	cap = in->cap * 2 > CLI_LINE_MAX ? CLI_LINE_MAX : in->cap * 2;
	p = realloc(in->buf, cap + 1);
	if (p == NULL) {
		/* Cannot grow: treat it like an overlong line and move on. */
		memcpy(in->prefix, in->buf, sizeof in->prefix - 1);
		in->prefix[sizeof in->prefix - 1] = '\0';
		in->skipping = 1;
		in->len = 0;
		return -1;
	}
	in->buf = p;
	in->cap = cap;
	return 0;
}

/* One read(); returns CLI_INPUT_WAIT when the caller must wait for it. */
static int
fill(struct cli_input *in)
{
	ssize_t n;

	if (in->pollable && !in->ready) {
		if (event_add(in->ev, NULL) == 0)
			return CLI_INPUT_WAIT;
		/* The backend cannot watch it: fall back to plain reads. */
		in->pollable = 0;
	}
	in->ready = 0;
	do
		n = read(in->fd, in->buf + in->len, in->cap - in->len);
	while (n < 0 && errno == EINTR);
	if (n > 0) {
		in->len += (size_t)n;
	} else if (n == 0) {
		in->eof = 1;
	} else if (errno == EAGAIN || errno == EWOULDBLOCK) {
		/* Someone else made it nonblocking; waiting still works. */
		if (!in->pollable)
			in->pollable = in->ev != NULL;
		if (in->pollable)
			return fill(in);
		in->eof = 1;
		in->error = errno;
	} else {
		in->eof = 1;
		in->error = errno;
	}
	return CLI_INPUT_LINE;
}

enum cli_input_status
cli_input_next(struct cli_input *in, struct cli_line *line)
{
	if (in->argi < in->nargs) {
		line->ptr = in->args[in->argi++];
		line->len = strlen(line->ptr);
		line->why = NULL;
		line->from_file = 0;
		return CLI_INPUT_LINE;
	}
	if (in->buf == NULL)
		return CLI_INPUT_END;
	line->from_file = 1;
	for (;;) {
		char *p = in->buf + in->start;
		size_t avail = in->len - in->start;
		char *nl = memchr(p, '\n', avail);

		if (nl != NULL) {
			in->start += (size_t)(nl - p) + 1;
			if (in->skipping)
				return overlong(in, line);
			if (take_line(in, p, (size_t)(nl - p), line))
				return line->why ? CLI_INPUT_BAD : CLI_INPUT_LINE;
			continue;
		}
		if (in->eof) {
			/* The last line may lack its newline. */
			in->start = in->len;
			if (in->skipping)
				return overlong(in, line);
			if (avail > 0 && take_line(in, p, avail, line))
				return line->why ? CLI_INPUT_BAD : CLI_INPUT_LINE;
			/* the reader knows the total now */
			count_stop(in);
			return CLI_INPUT_END;
		}
		if (make_room(in) < 0)
			continue;
		if (fill(in) == CLI_INPUT_WAIT)
			return CLI_INPUT_WAIT;
	}
}

void
cli_input_stop(struct cli_input *in)
{
	if (in->ev != NULL)
		event_del(in->ev);
	count_stop(in);
}

void
cli_input_close(struct cli_input *in)
{
	count_stop(in);
	if (in->ev != NULL)
		event_free(in->ev);
	in->ev = NULL;
	if (in->fd > STDIN_FILENO)
		close(in->fd);
	in->fd = -1;
	free(in->buf);
	in->buf = NULL;
	in->start = in->len = in->cap = 0;
}
