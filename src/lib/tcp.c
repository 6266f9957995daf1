/*
 * tcp.c - the socket, the bottom layer of every transport stack: a
 * nonblocking connect over every resolved address in turn, and recv/send
 * mapped to the transport results.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <arpa/inet.h>

#include "internal.h"

const char *tcp_format_addr(char *buf, size_t len, const struct sockaddr *sa)
{
	char addr[INET6_ADDRSTRLEN] = "?";
	int port = 0;
	if (sa->sa_family == AF_INET) {
		const struct sockaddr_in *s = (const void *)sa;
		inet_ntop(AF_INET, &s->sin_addr, addr, sizeof addr);
		port = ntohs(s->sin_port);
	} else if (sa->sa_family == AF_INET6) {
		const struct sockaddr_in6 *s = (const void *)sa;
		inet_ntop(AF_INET6, &s->sin6_addr, addr, sizeof addr);
		port = ntohs(s->sin6_port);
	}
	snprintf(buf, len, sa->sa_family == AF_INET6 ? "[%s]:%d" : "%s:%d", addr, port);
	return buf;
}

void conn_set_why(struct conn *cn, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(cn->client->why, sizeof cn->client->why, fmt, ap);
	va_end(ap);
}

const char *conn_peer(struct conn *cn)
{
	/* formatted when an error needs it, not kept with every connection */
	char *buf = cn->client->peerbuf;
	size_t len = sizeof cn->client->peerbuf;
	struct sockaddr_storage ss;
	socklen_t sl = sizeof ss;
	int saved = errno;
	if (cn->opening && cn->opening->ai_cur)
		tcp_format_addr(buf, len, cn->opening->ai_cur->ai_addr);
	else if (cn->fd >= 0 && getpeername(cn->fd, (struct sockaddr *)&ss, &sl) == 0)
		tcp_format_addr(buf, len, (struct sockaddr *)&ss);
	else
		snprintf(buf, len, strchr(cn->host->name, ':') ? "[%s]:%d" : "%s:%d",
		         cn->host->name, cn->host->port);
	errno = saved;
	return buf;
}

int tcp_open(const struct evutil_addrinfo *a, evutil_socket_t *fdp)
{
	int fd = socket(a->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	int one = 1;
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
	if (connect(fd, a->ai_addr, (socklen_t)a->ai_addrlen) == 0) {
		*fdp = fd;
		return 1;
	}
	if (errno != EINPROGRESS) {
		int e = errno;
		close(fd);
		return -e;
	}
	*fdp = fd;
	/* often connected already (loopback, a near server): go on now
	 * rather than a turn of the loop later, which is what a connection
	 * released by its host's gate waits for before its ClientHello */
	struct sockaddr_storage ss;
	socklen_t sl = sizeof ss;
	return getpeername(fd, (struct sockaddr *)&ss, &sl) == 0;
}

int tcp_resource_errno(int e)
{
	return e == EMFILE || e == ENFILE || e == ENOBUFS || e == ENOMEM;
}

int tcp_connect_next(struct conn *cn)
{
	int resource = 0;
	while (cn->opening->ai_next) {
		struct evutil_addrinfo *a = cn->opening->ai_next;
		cn->opening->ai_next = a->ai_next;
		cn->opening->ai_cur = a;
		evutil_socket_t fd;
		int r = tcp_open(a, &fd);
		if (r < 0) {
			cn->last_errno = -r;
			resource |= tcp_resource_errno(-r);
			continue;
		}
		cn->fd = fd;
		cn->new_fd = 1;
		return r ? IO_DONE : IO_WANT_WRITE;
	}
	conn_set_why(cn, "connect to %s failed: %s", cn->opening->ai_cur ? conn_peer(cn) : "the server",
	             strerror(cn->last_errno ? cn->last_errno : ECONNREFUSED));
	return resource ? EVF_ERR_RESOURCE : EVF_ERR_CONNECT;
}

/* Start a connect, or see how the one in progress went (the socket became
 * writable); a failed address moves on to the next. */
static int tcp_connect(struct conn *cn, const struct layer *l)
{
	if (cn->fd < 0 && !cn->opening->race && cn->opening->ai_next && (cn->opening->ai_next->ai_next || cn->opening->dnsq))
		return race_start(cn);   /* more than one address, or more to come */
	if (cn->fd < 0)
		return tcp_connect_next(cn);
	int err = 0;
	socklen_t len = sizeof err;
	if (getsockopt(cn->fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0)
		err = errno;
	if (err == 0)
		return IO_DONE;
	if (err == EINPROGRESS || err == EALREADY)
		return IO_WANT_WRITE;
	cn->last_errno = err;
	close(cn->fd);
	cn->fd = -1;
	return tcp_connect_next(cn);
}

int conn_remote(struct conn *cn)
{
	struct sockaddr_storage ss;
	socklen_t sl = sizeof ss;
	if (cn->peer_family)
		return 0;   /* one getpeername per connection, not per request */
	if (cn->fd < 0 || getpeername(cn->fd, (struct sockaddr *)&ss, &sl) != 0)
		return -1;
	if (ss.ss_family == AF_INET) {
		const struct sockaddr_in *s4 = (const void *)&ss;
		memcpy(cn->peer_addr, &s4->sin_addr, 4);
		cn->peer_port = ntohs(s4->sin_port);
	} else if (ss.ss_family == AF_INET6) {
		const struct sockaddr_in6 *s6 = (const void *)&ss;
		memcpy(cn->peer_addr, &s6->sin6_addr, 16);
		cn->peer_port = ntohs(s6->sin6_port);
	} else {
		return -1;
	}
	cn->peer_family = (unsigned char)ss.ss_family;
	return 0;
}

static int tcp_read(struct conn *cn, const struct layer *l, void *buf, size_t len, size_t *got)
{
	ssize_t n = recv(cn->fd, buf, len, 0);
	if (n > 0) {
		*got = (size_t)n;
		return IO_DONE;
	}
	*got = 0;
	if (n == 0)
		return IO_EOF;
	if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)
		return IO_WANT_READ;
	int e = errno;
	conn_set_why(cn, "receive from %s failed: %s", conn_peer(cn), strerror(e));
	return EVF_ERR_NETWORK;
}

static int tcp_write(struct conn *cn, const struct layer *l, const void *buf, size_t len,
                     size_t *put)
{
	ssize_t n = send(cn->fd, buf, len, MSG_NOSIGNAL);
	if (n >= 0) {
		*put = (size_t)n;
		return IO_DONE;
	}
	*put = 0;
	if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)
		return IO_WANT_WRITE;
	int e = errno;
	conn_set_why(cn, "send to %s failed: %s", conn_peer(cn), strerror(e));
	return EVF_ERR_NETWORK;
}

static int tcp_pending(struct conn *cn, const struct layer *l)
{
	return 0;
}

static void tcp_close(struct conn *cn, const struct layer *l)
{
	/* io.c closes the socket itself, after the layers above */
}

static const struct layer_ops tcp_ops = {
	.name = "tcp",
	.connect = tcp_connect,
	.recv = tcp_read,
	.send = tcp_write,
	.pending = tcp_pending,
	.close = tcp_close,
};

const struct layer evf_tcp_layer = {&tcp_ops, NULL};
