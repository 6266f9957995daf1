/*
 * output.c - where response bodies go: standard output, -o FILE, files in
 * -d DIR, or nowhere.
 *
 * A file only ever appears complete: bodies are written under a temporary
 * name in the destination's own directory (so the final step is a rename
 * or link on one file system) and a failed transfer just removes it.  In
 * -d mode an existing file is never replaced: the final name is claimed
 * with link(), which fails with EEXIST instead of overwriting, and "name.N"
 * is tried next.  Neither link() nor O_CREAT|O_EXCL follows a symbolic
 * link at the new name, so a link or device planted in DIR is skipped
 * like any other taken name, never written through.
 *
 * -o follows symbolic links first, as open() would: the temp file and the
 * rename go to the file the link leads to, and the link stays.  Renaming
 * over a device or a FIFO would replace the node (as root, "-o /dev/null"
 * would destroy it), so those, and names like /dev/stdout that stand for
 * an open descriptor, are opened and written in place instead.
 *
 * Several bodies bound for standard output would interleave, so each one
 * is spooled (in memory while small, then in an unlinked temp file) and
 * copied out whole once its transfer is done.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#ifdef __linux__
#include <sys/vfs.h>
#endif

#include "cli.h"

/* Give up looking for a free "name.N" after this many taken ones. */
#define MAX_SUFFIX_TRIES 1000000u
/* As many symbolic links in a row as Linux follows before ELOOP. */
#define MAX_LINKS 40
/* statfs's f_type of /proc (PROC_SUPER_MAGIC in <linux/magic.h>). */
#define PROC_FS_MAGIC 0x9fa0

static char *
xasprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static char *
xasprintf(const char *fmt, ...)
{
	va_list ap;
	char *s;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0 || (s = malloc((size_t)n + 1)) == NULL)
		return NULL;
	va_start(ap, fmt);
	vsnprintf(s, (size_t)n + 1, fmt, ap);
	va_end(ap);
	return s;
}

/* Keep the first failure: later ones are usually its consequences. */
static int
sink_fail(struct cli_sink *s, const char *what, const char *path, int err)
{
	if (s->error == NULL) {
		s->error = xasprintf("%s %s: %s", what, path, strerror(err));
		if (s->error == NULL)
			s->error = strdup("out of memory");
	}
	return -1;
}

/* Standard output may be nonblocking if the shell left it so: wait then. */
static int
write_all(int fd, const void *data, size_t len)
{
	const char *p = data;

	while (len > 0) {
		ssize_t n = write(fd, p, len);

		if (n >= 0) {
			p += n;
			len -= (size_t)n;
		} else if (errno == EAGAIN || errno == EWOULDBLOCK) {
			struct pollfd pfd = { .fd = fd, .events = POLLOUT };

			if (poll(&pfd, 1, -1) < 0 && errno != EINTR)
				return -1;
		} else if (errno != EINTR) {
			return -1;
		}
	}
	return 0;
}

/* mkdir -p: DIR and any missing parents. */
static int
make_dirs(const char *path)
{
	char *copy = strdup(path), *p;
	struct stat st;
	int rc = 0;

	if (copy == NULL)
		return -1;
	for (p = copy + 1; rc == 0; p++) {
		char c = *p;

		if (c != '/' && c != '\0')
			continue;
		*p = '\0';
		/* Some file systems say EACCES or EROFS for a directory that exists. */
		if (mkdir(copy, 0777) < 0 && errno != EEXIST &&
		    !(stat(copy, &st) == 0 && S_ISDIR(st.st_mode)))
			rc = -1;
		*p = c;
		if (c == '\0')
			break;
	}
	free(copy);
	return rc;
}

static char *
parent_dir(const char *path)
{
	const char *slash = strrchr(path, '/');

	if (slash == NULL)
		return strdup(".");
	if (slash == path)
		return strdup("/");
	return strndup(path, (size_t)(slash - path));
}

/*
 * The links in /proc/PID/fd (and so /dev/stdout and /dev/fd/N, which lead
 * there) are not names of files: they stand for whatever the descriptor
 * is open on, a pipe as well as a file that a shell opened for appending.
 */
static int
is_proc_dir(const char *dir)
{
#ifdef __linux__
	struct statfs sf;

	return statfs(dir, &sf) == 0 && sf.f_type == PROC_FS_MAGIC;
#else
	(void)dir;
	return 0;
#endif
}

/*
 * The kernel's rule for fs.protected_symlinks, which following a link
 * here by hand would otherwise bypass: in a sticky directory that anyone
 * may write to (/tmp), follow only a link that the caller or the
 * directory's owner owns.  Someone else's link there may be a trap aimed
 * at the caller's files.  Applied whatever the sysctl says.
 */
static int
may_follow(const char *dir, const struct stat *link)
{
	struct stat ds;

	if (stat(dir, &ds) < 0)
		return 0;
	if (!(ds.st_mode & S_ISVTX) || !(ds.st_mode & S_IWOTH))
		return 1;
	return link->st_uid == geteuid() || link->st_uid == ds.st_uid;
}

/*
 * Where -o's path leads, following symbolic links one at a time (a link
 * to a name that does not exist yet leads to that name).  *descriptor is
 * set when the way goes through /proc: the link itself is returned then.
 * NULL with errno set on a loop or a link that cannot be read.
 */
static char *
follow_links(const char *path, int *descriptor)
{
	char *cur = strdup(path), *dir, *next;
	char buf[PATH_MAX];
	struct stat st;
	ssize_t n;
	int hops;

	*descriptor = 0;
	for (hops = 0; cur != NULL; hops++) {
		/* Not a link, or not there (to be created): the end. */
		if (lstat(cur, &st) < 0 || !S_ISLNK(st.st_mode))
			return cur;
		if (hops == MAX_LINKS) {
			free(cur);
			errno = ELOOP;
			return NULL;
		}
		if ((dir = parent_dir(cur)) == NULL)
			break;
		if (is_proc_dir(dir)) {
			free(dir);
			*descriptor = 1;
			return cur;
		}
		if (!may_follow(dir, &st)) {
			free(dir);
			free(cur);
			errno = EPERM;
			return NULL;
		}
		n = readlink(cur, buf, sizeof buf);
		if (n < 0 || (size_t)n >= sizeof buf) {
			if (n >= 0)
				errno = ENAMETOOLONG;
			free(dir);
			free(cur);
			return NULL;
		}
		buf[n] = '\0';
		/* A relative link is relative to the directory it is in. */
		next = buf[0] == '/' ? strdup(buf) : xasprintf("%s/%s", dir, buf);
		free(dir);
		free(cur);
		cur = next;
	}
	free(cur);
	errno = ENOMEM;
	return NULL;
}

/*
 * -o FILE: a regular file (or a new one) is replaced atomically through a
 * temp file beside the file the links lead to; anything else is opened
 * now, before the transfer starts (a FIFO waits here for its reader), and
 * written in place.  A regular file reached through a descriptor name is
 * appended to, as the descriptor would (a shell's >> must not be undone).
 */
static int
init_file(struct cli_output *out)
{
	struct stat st;
	int descriptor, exists, flags = O_WRONLY | O_NOCTTY | O_CLOEXEC;

	out->target = follow_links(out->path, &descriptor);
	if (out->target == NULL && errno == EPERM) {
		cli_usage_error("refusing to follow '%s': a link in a sticky "
		                "directory owned by another user", out->path);
		return -1;
	}
	if (out->target == NULL) {
		cli_usage_error("cannot follow '%s': %s", out->path,
		                strerror(errno));
		return -1;
	}
	exists = stat(out->target, &st) == 0;
	if (exists && S_ISDIR(st.st_mode)) {
		cli_usage_error("'%s' is a directory; use -d/--output-dir",
		                out->path);
		return -1;
	}
	if (descriptor || (exists && !S_ISREG(st.st_mode))) {
		if (exists && S_ISREG(st.st_mode))
			flags |= O_APPEND;
		out->fd = open(out->path, flags);
		if (out->fd < 0) {
			cli_usage_error("cannot open '%s' for writing: %s",
			                out->path, strerror(errno));
			return -1;
		}
		out->in_place = 1;
		return 0;
	}
	out->tmp_dir = parent_dir(out->target);
	return 1;
}

int
cli_output_init(struct cli_output *out, const struct cli_opts *o)
{
	mode_t mask = umask(0);
	struct stat st;
	const char *tmp;
	int rc;

	umask(mask);
	memset(out, 0, sizeof *out);
	out->fd = -1;
	out->mode = o->out_mode;
	out->path = o->out_path;
	out->file_mode = 0666 & ~mask;

	switch (out->mode) {
	case CLI_OUT_DIR:
		if (make_dirs(out->path) < 0 || stat(out->path, &st) < 0) {
			cli_usage_error("cannot create directory '%s': %s",
			                out->path, strerror(errno));
			return -1;
		}
		if (!S_ISDIR(st.st_mode)) {
			cli_usage_error("'%s' is not a directory", out->path);
			return -1;
		}
		out->tmp_dir = strdup(out->path);
		break;
	case CLI_OUT_FILE:
		rc = init_file(out);
		if (rc <= 0)
			return rc;
		break;
	case CLI_OUT_SPOOL:
		tmp = getenv("TMPDIR");
		out->tmp_dir = strdup(tmp != NULL && tmp[0] != '\0' ? tmp : "/tmp");
		break;
	default:
		return 0;
	}
	if (out->tmp_dir == NULL) {
		cli_warn("out of memory");
		return -1;
	}
	if (out->mode != CLI_OUT_SPOOL && access(out->tmp_dir, W_OK | X_OK) < 0) {
		cli_usage_error("cannot write to directory '%s': %s",
		                out->tmp_dir, strerror(errno));
		return -1;
	}
	return 0;
}

/*
 * With --resume the temp files carry the report's tag, and the report is
 * locked for the whole run: a file with this tag that exists before any
 * transfer has started is a leftover of a run that was killed, never one
 * that another live run is writing.
 */
unsigned
cli_output_adopt(struct cli_output *out, const char *tag)
{
	char prefix[sizeof out->tmp_tag + 16];
	struct dirent *e;
	struct stat st;
	unsigned removed = 0;
	size_t plen;
	DIR *d;

	snprintf(out->tmp_tag, sizeof out->tmp_tag, "%s-", tag);
	if (out->tmp_dir == NULL || (d = opendir(out->tmp_dir)) == NULL)
		return 0;
	plen = (size_t)snprintf(prefix, sizeof prefix, ".evfetch-%s",
	                        out->tmp_tag);
	while ((e = readdir(d)) != NULL) {
		/* mkstemp's six characters follow the prefix. */
		if (strlen(e->d_name) != plen + 6 ||
		    strncmp(e->d_name, prefix, plen) != 0)
			continue;
		if (fstatat(dirfd(d), e->d_name, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
		    S_ISREG(st.st_mode) && unlinkat(dirfd(d), e->d_name, 0) == 0)
			removed++;
	}
	closedir(d);
	return removed;
}

void
cli_output_free(struct cli_output *out)
{
	if (out->in_place && out->fd >= 0)
		close(out->fd);
	out->fd = -1;
	free(out->tmp_dir);
	free(out->target);
	out->tmp_dir = NULL;
	out->target = NULL;
}

void
cli_sink_init(struct cli_sink *s)
{
	memset(s, 0, sizeof *s);
	s->fd = -1;
}

/* A temp file in tmp_dir; spool files are unlinked at once. */
static int
sink_open(struct cli_output *out, struct cli_sink *s)
{
	char *path = xasprintf("%s/.evfetch-%sXXXXXX", out->tmp_dir,
	                       out->tmp_tag);

	if (path == NULL)
		return sink_fail(s, "creating a file in", out->tmp_dir, ENOMEM);
	s->fd = mkstemp(path);
	if (s->fd < 0) {
		free(path);
		return sink_fail(s, "creating a file in", out->tmp_dir, errno);
	}
	if (out->mode == CLI_OUT_SPOOL) {
		unlink(path);
		free(path);
		return 0;
	}
	/* mkstemp makes 0600; the saved file should look like any other. */
	fchmod(s->fd, out->file_mode);
	s->tmp_path = path;
	return 0;
}

static void
spool_free_mem(struct cli_output *out, struct cli_sink *s)
{
	out->spool_mem -= s->mem_cap;
	free(s->mem);
	s->mem = NULL;
	s->mem_len = s->mem_cap = 0;
}

/* Keep small bodies in memory; 0 when data was taken. */
static int
spool_mem(struct cli_output *out, struct cli_sink *s, const void *data,
          size_t len)
{
	size_t need = s->mem_len + len, cap = s->mem_cap ? s->mem_cap : 4096;
	char *p;

	if (len > CLI_SPOOL_MEM_MAX || need > CLI_SPOOL_MEM_MAX)
		return -1;
	while (cap < need)
		cap *= 2;
	if (cap > CLI_SPOOL_MEM_MAX)
		cap = CLI_SPOOL_MEM_MAX;
	if (cap != s->mem_cap) {
		if (out->spool_mem - s->mem_cap + cap > CLI_SPOOL_MEM_TOTAL)
			return -1;
		p = realloc(s->mem, cap);
		if (p == NULL)
			return -1;
		out->spool_mem += cap - s->mem_cap;
		s->mem = p;
		s->mem_cap = cap;
	}
	memcpy(s->mem + s->mem_len, data, len);
	s->mem_len += len;
	return 0;
}

static int
sink_write_file(struct cli_output *out, struct cli_sink *s, const void *data,
                size_t len)
{
	if (s->fd < 0 && sink_open(out, s) < 0)
		return -1;
	if (write_all(s->fd, data, len) < 0)
		return sink_fail(s, "writing to a file in", out->tmp_dir, errno);
	return 0;
}

int
cli_sink_write(struct cli_output *out, struct cli_sink *s, const void *data,
               size_t len)
{
	if (len == 0)
		return 0;
	switch (out->mode) {
	case CLI_OUT_DISCARD:
		return 0;
	case CLI_OUT_STDOUT:
		if (write_all(STDOUT_FILENO, data, len) < 0)
			return sink_fail(s, "writing to", "standard output", errno);
		return 0;
	case CLI_OUT_FILE:
		if (!out->in_place)
			break;
		if (write_all(out->fd, data, len) < 0)
			return sink_fail(s, "writing to", out->path, errno);
		return 0;
	case CLI_OUT_SPOOL:
		if (s->fd >= 0 || spool_mem(out, s, data, len) == 0)
			break;
		/* Too big for memory: move what is there into a file. */
		if (sink_write_file(out, s, s->mem, s->mem_len) < 0)
			return -1;
		spool_free_mem(out, s);
		break;
	default:
		break;
	}
	if (s->fd < 0 && s->mem != NULL)
		return 0;
	return sink_write_file(out, s, data, len);
}

static void
sink_close(struct cli_output *out, struct cli_sink *s)
{
	if (s->fd >= 0)
		close(s->fd);
	s->fd = -1;
	if (s->mem != NULL)
		spool_free_mem(out, s);
}

/* The spooled body to standard output. */
static int
commit_spool(struct cli_sink *s)
{
	char buf[64 * 1024];
	ssize_t n;

	if (s->fd < 0) {
		if (write_all(STDOUT_FILENO, s->mem, s->mem_len) < 0)
			return sink_fail(s, "writing to", "standard output", errno);
		return 0;
	}
	if (lseek(s->fd, 0, SEEK_SET) < 0)
		return sink_fail(s, "reading back", "the spool file", errno);
	while ((n = read(s->fd, buf, sizeof buf)) != 0) {
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return sink_fail(s, "reading back", "the spool file", errno);
		if (write_all(STDOUT_FILENO, buf, (size_t)n) < 0)
			return sink_fail(s, "writing to", "standard output", errno);
	}
	return 0;
}

static uint64_t
name_hash(const char *name)
{
	uint64_t h = 14695981039346656037ull;

	for (; *name != '\0'; name++)
		h = (h ^ (unsigned char)*name) * 1099511628211ull;
	return h;
}

/*
 * Give the temp file a name of its own that no other file has: with
 * link() where the file system has it, otherwise by creating the name
 * with O_EXCL first and renaming over that placeholder.  A small table
 * remembers where the probing for recent names stopped, so a million
 * "index.html" do not each probe a million names.
 */
static int
claim_name(struct cli_output *out, struct cli_sink *s, const char *url,
           char **file)
{
	char name[CLI_NAME_MAX + 1], cand[CLI_NAME_MAX + 16];
	size_t dlen = strlen(out->path);
	const char *sep = dlen > 0 && out->path[dlen - 1] == '/' ? "" : "/";
	struct cli_name_hint *hint;
	unsigned n, tries;
	int fd, err = EEXIST;
	uint64_t h;
	char *path;

	cli_safe_name(url, name);
	h = name_hash(name);
	hint = &out->hints[h % CLI_NAME_HINTS];
	n = hint->hash == h ? hint->next : 0;
	path = malloc(dlen + 1 + sizeof cand);
	if (path == NULL)
		return sink_fail(s, "saving into", out->path, ENOMEM);
	for (tries = 0; tries < MAX_SUFFIX_TRIES; tries++, n++) {
		if (cli_suffixed_name(cand, sizeof cand, name, n) < 0)
			break;
		sprintf(path, "%s%s%s", out->path, sep, cand);
		if (link(s->tmp_path, path) == 0) {
			unlink(s->tmp_path);
			goto claimed;
		}
		err = errno;
		if (err == EEXIST)
			continue;
		if (err != EPERM && err != EOPNOTSUPP && err != ENOSYS &&
		    err != EMLINK)
			break;
		fd = open(path, O_WRONLY | O_CREAT | O_EXCL, out->file_mode);
		err = errno;
		if (fd < 0 && err == EEXIST)
			continue;
		if (fd < 0)
			break;
		close(fd);
		if (rename(s->tmp_path, path) == 0)
			goto claimed;
		err = errno;
		unlink(path);
		break;
	}
	sink_fail(s, "saving as", path, err);
	free(path);
	return -1;
claimed:
	hint->hash = h;
	hint->next = n + 1;
	free(s->tmp_path);
	s->tmp_path = NULL;
	*file = path;
	return 0;
}

/* Nothing to rename; close() may still report a lost write. */
static int
commit_in_place(struct cli_output *out, struct cli_sink *s, char **file)
{
	int rc = close(out->fd);

	out->fd = -1;
	if (rc < 0)
		return sink_fail(s, "writing to", out->path, errno);
	*file = strdup(out->path);
	return 0;
}

int
cli_sink_commit(struct cli_output *out, struct cli_sink *s, const char *url,
                char **file)
{
	int rc = 0;

	*file = NULL;
	switch (out->mode) {
	case CLI_OUT_SPOOL:
		rc = commit_spool(s);
		sink_close(out, s);
		return rc;
	case CLI_OUT_FILE:
		if (out->in_place)
			return commit_in_place(out, s, file);
		break;
	case CLI_OUT_DIR:
		break;
	default:
		return 0;
	}
	/* An empty body still makes a file. */
	if (s->fd < 0 && sink_open(out, s) < 0)
		return -1;
	/* close() is where NFS and quotas report lost writes. */
	rc = close(s->fd);
	s->fd = -1;
	if (rc < 0) {
		sink_fail(s, "writing to a file in", out->tmp_dir, errno);
	} else if (out->mode == CLI_OUT_DIR) {
		rc = claim_name(out, s, url, file);
	} else if (rename(s->tmp_path, out->target) < 0) {
		rc = sink_fail(s, "saving as", out->path, errno);
	} else {
		free(s->tmp_path);
		s->tmp_path = NULL;
		*file = strdup(out->path);
	}
	if (rc < 0)
		cli_sink_discard(out, s);
	return rc;
}

void
cli_sink_discard(struct cli_output *out, struct cli_sink *s)
{
	sink_close(out, s);
	if (s->tmp_path != NULL) {
		unlink(s->tmp_path);
		free(s->tmp_path);
		s->tmp_path = NULL;
	}
}

void
cli_sink_free(struct cli_output *out, struct cli_sink *s)
{
	cli_sink_discard(out, s);
	free(s->error);
	s->error = NULL;
}
