#!/bin/bash
# allocfail.sh - run tests/embed/test_allocfail (every allocation of the
# library failing in turn during client set-up and one transfer) against a
# private nginx, over HTTPS and plain HTTP, with the host name evfetch.test
# mapped by --resolve entries (which the library copies and looks up).  test_allocfail prints its own
# TAP; this script provides the server and passes that output through.
#
#   test_allocfail CA_FILE [--resolve HOST:PORT:ADDR]... URL...
if [ -z "${BASH_VERSION:-}" ]; then exec bash "$0" "$@"; fi
: "${TOP_SRCDIR:=$(cd "$(dirname "$0")/../.." && pwd)}"
. "$TOP_SRCDIR/tests/lib/common.sh"
. "$TOP_SRCDIR/tests/lib/nginx.sh"

PROG=$TOP_BUILDDIR/tests/embed/test_allocfail
[ -x "$PROG" ] || skip_all "test_allocfail is not built ($PROG)"
start_nginx "$T/nginx"

wrapper=()
if [ -n "${EVFETCH_WRAPPER:-}" ]; then
	# shellcheck disable=SC2206
	wrapper=("$LIBTOOL" --mode=execute $EVFETCH_WRAPPER)
fi
# Not `exec`: this shell must outlive the test to stop nginx.
(cd "$T" && exec timeout -k 5 "${EVF_TIMEOUT:-300}" "${wrapper[@]}" "$PROG" \
	"$CA_FILE" --resolve "evfetch.test:$HTTPS_PORT:127.0.0.1" \
	--resolve "evfetch.test:$HTTP_PORT:127.0.0.1" \
	"https://evfetch.test:$HTTPS_PORT/1k.bin" "http://evfetch.test:$HTTP_PORT/1k.bin")
status=$?
if [ "$status" -ne 0 ]; then
	diag "test_allocfail exited with status $status"
	diag_file "$NGINX_ERROR_LOG" 20
fi
# The plan and results came from test_allocfail: no second plan.
TAP_DONE=1
exit "$status"
