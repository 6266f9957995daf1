/*
 * test_client.c - evf_client_new2 tells why a client cannot be made: for
 * each way a CA file or directory can be unusable, the reason names the
 * path and says what the system or OpenSSL found wrong with it.  No
 * network: creating a client connects nowhere.  And a client freed while
 * a rate-limited host's transfers wait (asleep, on no client list) frees
 * them without calling back (ASan's leak check and valgrind see the rest);
 * that part connects to 127.0.0.1:1, where nothing listens.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <event2/event.h>

#include "evfetch.h"
#include "tap.h"

static struct event_base *base;

/* Make a client with this CA file and directory (either may be NULL);
 * the reason lands in why, the client is freed at once. */
static int try_ca(const char *file, const char *dir, char *why, size_t whylen)
{
	evf_config *cfg = evf_config_new();
	int err = 12345;
	if (!cfg || evf_config_set_ca_file(cfg, file) != 0 ||
	    evf_config_set_ca_path(cfg, dir) != 0) {
		diag("cannot make a configuration");
		exit(1);
	}
	evf_client *c = evf_client_new2(base, cfg, &err, why, whylen);
	evf_config_free(cfg);
	if (c) {
		if (err != 0)
			diag("a client, and yet err %d", err);
		evf_client_free(c);
	}
	return c ? 0 : err;
}

/* The CA set-up fails with EVF_ERR_TLS and exactly the reason want. */
static void refused(const char *name, const char *file, const char *dir, const char *want)
{
	char why[512] = "untouched";
	is_int(try_ca(file, dir, why, sizeof why), EVF_ERR_TLS, "%s: EVF_ERR_TLS", name);
	is_str(why, want, "%s: the reason", name);
}

static void write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");
	if (!f || fputs(text, f) < 0 || fclose(f) != 0) {
		diag("cannot write %s: %s", path, strerror(errno));
		exit(1);
	}
}

static int ndone;

static void count_done(evf_transfer *t, const evf_result *r, void *arg)
{
	(void)t;
	(void)r;
	(void)arg;
	ndone++;
}

static void stop_loop(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	event_base_loopbreak(arg);
}

/* 5 transfers to one host at half a request a second: the first is
 * refused at once, the other 4 wait asleep when the client is freed. */
static void free_with_asleep_host(void)
{
	evf_config *cfg = evf_config_new();
	int err = 0;
	evf_config_set_host_rate(cfg, 0.5);
	evf_config_set_host_cache(cfg, 0);
	evf_client *c = evf_client_new(base, cfg, &err);
	evf_config_free(cfg);
	if (!c) {
		diag("cannot make a client: %d", err);
		exit(1);
	}
	evf_callbacks cb = {.on_done = count_done};
	for (int i = 0; i < 5; i++) {
		evf_request req = {.url = "http://127.0.0.1:1/x", .method = EVF_GET};
		if (!evf_fetch(c, &req, &cb, NULL, &err))
			diag("evf_fetch failed: %d", err);
	}
	struct timeval tv = {0, 300000};
	event_base_once(base, -1, EV_TIMEOUT, stop_loop, base, &tv);
	event_base_dispatch(base);
	is_int(ndone, 1, "rate-limited host: the first transfer ended, the others wait");
	is_int((int)(evf_client_active(c) + evf_client_queued(c)), 4,
	       "rate-limited host: 4 transfers still queued");
	evf_client_free(c);
	event_base_once(base, -1, EV_TIMEOUT, stop_loop, base, &tv);
	event_base_dispatch(base);
	is_int(ndone, 1, "freeing the client drops the waiting transfers without a callback");
}

int main(void)
{
	const char *tmp = getenv("TMPDIR");
	char top[512], path[600], want[1200], why[512];
	snprintf(top, sizeof top, "%s/evf-test-client.XXXXXX", tmp && *tmp ? tmp : "/tmp");
	if (!mkdtemp(top) || !(base = event_base_new())) {
		printf("Bail out! cannot make a temporary directory or an event_base\n");
		return 1;
	}

	/* --- what works --------------------------------------------------- */
	strcpy(why, "untouched");
	is_int(try_ca(NULL, NULL, why, sizeof why), 0, "the system's store: a client");
	is_str(why, "", "the system's store: the reason is empty");
	strcpy(why, "untouched");
	is_int(try_ca(NULL, top, why, sizeof why), 0, "an empty CA directory: a client");
	is_str(why, "", "an empty CA directory: the reason is empty");

	/* --- CA files -------------------------------------------------------- */
	snprintf(path, sizeof path, "%s/missing.pem", top);
	snprintf(want, sizeof want, "cannot load CA file %s: %s", path, strerror(ENOENT));
	refused("a missing CA file", path, NULL, want);

	snprintf(want, sizeof want, "cannot load CA file %s: %s", top, strerror(EISDIR));
	refused("a directory as CA file", top, NULL, want);

	snprintf(path, sizeof path, "%s/junk.pem", top);
	write_file(path, "not a certificate\n");
	snprintf(want, sizeof want, "cannot load CA file %s: no certificate or crl found", path);
	refused("a CA file that holds no certificate", path, NULL, want);

	snprintf(path, sizeof path, "%s/empty.pem", top);
	write_file(path, "");
	snprintf(want, sizeof want, "cannot load CA file %s: no certificate or crl found", path);
	refused("an empty CA file", path, NULL, want);

	snprintf(path, sizeof path, "%s/unreadable.pem", top);
	write_file(path, "not a certificate\n");
	chmod(path, 0);
	if (access(path, R_OK) == 0) {
		ok(1, "an unreadable CA file # SKIP root reads it anyway");
	} else {
		snprintf(want, sizeof want, "cannot load CA file %s: %s", path, strerror(EACCES));
		refused("an unreadable CA file", path, NULL, want);
	}

	/* --- CA directories ----------------------------------------------- */
	snprintf(path, sizeof path, "%s/no-such-dir", top);
	snprintf(want, sizeof want, "cannot load CA directory %s: %s", path, strerror(ENOENT));
	refused("a missing CA directory", NULL, path, want);

	snprintf(path, sizeof path, "%s/junk.pem", top);
	snprintf(want, sizeof want, "cannot load CA directory %s: %s", path, strerror(ENOTDIR));
	refused("a file as CA directory", NULL, path, want);

	snprintf(path, sizeof path, "%s/no-such-dir", top);
	snprintf(want, sizeof want, "cannot load CA directory %s: %s", path, strerror(ENOENT));
	refused("a CA file and a missing directory: the directory is named",
	        "/dev/null", path, want);

	/* --- the caller's buffer ---------------------------------------------- */
	snprintf(path, sizeof path, "%s/missing.pem", top);
	snprintf(want, sizeof want, "cannot load CA file %s: %s", path, strerror(ENOENT));
	memset(why, 'x', sizeof why);
	is_int(try_ca(path, NULL, why, 11), EVF_ERR_TLS, "an 11-byte buffer: EVF_ERR_TLS");
	is_int((int)strlen(why), 10, "an 11-byte buffer: 10 bytes and a NUL");
	ok(strncmp(why, want, 10) == 0, "an 11-byte buffer: the start of the reason");
	is_int(why[11], 'x', "an 11-byte buffer: nothing written past it");
	strcpy(why, "untouched");
	is_int(try_ca(path, NULL, why, 0), EVF_ERR_TLS, "whylen 0: EVF_ERR_TLS");
	is_str(why, "untouched", "whylen 0: nothing written");
	is_int(try_ca(path, NULL, NULL, 64), EVF_ERR_TLS, "why NULL: EVF_ERR_TLS");

	/* --- other failures have a reason too ---------------------------------- */
	int err = 0;
	strcpy(why, "");
	ok(evf_client_new2(NULL, NULL, &err, why, sizeof why) == NULL, "no event_base: NULL");
	is_int(err, EVF_ERR_INVALID, "no event_base: EVF_ERR_INVALID");
	is_str(why, "no event_base given", "no event_base: the reason");

	/* --- evf_client_new, as before ------------------------------------------ */
	evf_config *cfg = evf_config_new();
	evf_config_set_ca_file(cfg, path);
	err = 0;
	ok(evf_client_new(base, cfg, &err) == NULL, "evf_client_new, a missing CA file: NULL");
	is_int(err, EVF_ERR_TLS, "evf_client_new, a missing CA file: EVF_ERR_TLS");
	evf_config_free(cfg);

	snprintf(path, sizeof path, "%s/junk.pem", top);
	unlink(path);
	snprintf(path, sizeof path, "%s/empty.pem", top);
	unlink(path);
	snprintf(path, sizeof path, "%s/unreadable.pem", top);
	unlink(path);
	rmdir(top);

	/* --- freeing a client whose rate-limited host has transfers waiting -- */
	free_with_asleep_host();

	event_base_free(base);
	return done_testing();
}
