/*
 * warc.h - what warc.c (the records, from the library's debug function)
 * and warc_write.c (the writer thread: digests, gzip members, files) share.
 */
#ifndef EVF_CLI_WARC_H
#define EVF_CLI_WARC_H

#include <pthread.h>
#include <stdint.h>

#include <event2/event.h>
#include <openssl/evp.h>
#include <zlib.h>

#include "cli.h"

#define SPILL (256u << 10)        /* a block past this goes to a temp file */
/* The writer's backlog (bytes in memory and in temporary files, and
 * those files) past which the loop waits for it to halve: the archive
 * keeps pace, and memory, disk and descriptors stay bounded */
#define QUEUE_BYTES (32u << 20)
#define QUEUE_FDS CLI_WARC_QUEUE_FDS
#define ZCHUNK (64u << 10)

/* A record's block: in memory, then in an unlinked temporary file. */
struct spool {
	struct cli_buf mem;
	int fd;                   /* -1 while in memory */
	uint64_t len;
	int broken;               /* a temporary file failed: the rest is dropped */
};

/* Random bytes for record IDs, one pool per thread. */
struct ids {
	unsigned char b[512];
	size_t used;
};

/* An exchange: a request and its response, recorded by the loop thread,
 * then written by the writer (queued on next). */
struct cli_warc_x {
	struct cli_warc_x *next;
	char req_id[48], resp_id[48];
	char date[40];
	char ip[48];
	char *target;
	int h2;
	const char *tls;          /* "TLSv1.3", or NULL */
	int have_resp;
	int complete;             /* EVF_DEBUG_END_IN: the response is whole */
	uint64_t payload;         /* body bytes (the block's last, but chunked) */
	EVP_MD_CTX *pay;          /* a chunked body's digest, else NULL */
	const char *truncated;    /* WARC-Truncated, or NULL */
	struct spool req, resp;
	struct cli_buf line;      /* its transfer's report line, held until
	                           * the records are written */
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
	EVP_MD_CTX *wsha;         /* the writer's */
	struct ids ids, wids;     /* the loop thread's, the writer's */
	pthread_t thread;
	int started;
	pthread_mutex_t lock;
	pthread_cond_t more;
	/* records of this loop iteration, handed over together at its end:
	 * one wakeup of the writer for many records */
	struct cli_warc_x *batch, *batch_tail;
	uint64_t batch_bytes;
	unsigned batch_fds;
	struct event *handover;
	struct cli_warc_x *head, *tail;
	/* written exchanges with report lines, for the loop (written_fd) */
	struct cli_warc_x *written, *written_tail;
	int written_fd;           /* an eventfd */
	struct event *written_ev;
	uint64_t queued;          /* bytes of the exchanges on the queue */
	unsigned queued_fds;      /* ...and their temporary files */
	int waiting;              /* the loop waits for room */
	pthread_cond_t room;
	int closing;
	int failed;               /* the writer stopped: why says why */
	int warned;
	char why[4400];
	z_stream z;
	unsigned char zout[ZCHUNK];
	size_t zlen;
};

/* warc_write.c */
void warc_record_id(struct ids *p, char out[48]);   /* "<urn:uuid:...>" */
void warc_date(char out[40]);                       /* RFC 3339, UTC */
/* A spool with room for a first piece: 0, or -1 out of memory. */
int warc_spool_init(struct spool *s, size_t room);
/* Add to a block (spilled to a temporary file past SPILL). */
void warc_spool_add(struct cli_warc *w, struct spool *s, const void *p, size_t n);
/* The first failure, with errno, for the one message the user gets. */
void warc_fail(struct cli_warc *w, const char *what, const char *name);
void warc_x_free(struct cli_warc_x *e);
/* e is finished: it goes to the writer at the end of this loop iteration. */
void warc_enqueue(struct cli_warc *w, struct cli_warc_x *e);
void warc_handover_cb(evutil_socket_t fd, short what, void *arg);
/* The exchanges finished so far go to the writer now. */
void warc_hand_over(struct cli_warc *w);
void *warc_writer(void *arg);                       /* the thread */
/* Open the next file and write its warcinfo: 0, or -1 with errno. */
int warc_open_next(struct cli_warc *w);
int warc_zflush(struct cli_warc *w);

#endif /* EVF_CLI_WARC_H */
