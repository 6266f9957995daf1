/*
 * failepoll.c - an LD_PRELOAD shim for the tests: epoll_ctl(2) refuses to
 * add or change the watch of a TCP socket with ENOMEM once
 * EVF_FAIL_EPOLL_AFTER (a count, default 0) such adds and changes have gone
 * through, so that libevent's event_add fails as it would when the kernel
 * is out of memory or the user's watch limit is reached.  Removals, and
 * other descriptors (the resolver's UDP sockets, signals), always work.
 *
 * build: cc -shared -fPIC -o failepoll.so failepoll.c -ldl
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <sys/socket.h>

static int is_tcp(int fd)
{
	int type = 0;
	socklen_t len = sizeof type;
	return getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &len) == 0 && type == SOCK_STREAM;
}

int epoll_ctl(int epfd, int op, int fd, struct epoll_event *ev)
{
	static int (*real)(int, int, int, struct epoll_event *);
	static long left = -1;
	if (!real)
		real = (int (*)(int, int, int, struct epoll_event *))dlsym(RTLD_NEXT, "epoll_ctl");
	if (left < 0) {
		const char *s = getenv("EVF_FAIL_EPOLL_AFTER");
		left = s ? atol(s) : 0;
	}
	if (op != EPOLL_CTL_DEL && is_tcp(fd)) {
		if (left == 0) {
			errno = ENOMEM;
			return -1;
		}
		left--;
	}
	return real(epfd, op, fd, ev);
}
