#!/bin/bash
# loop.sh - run tests/embed/test_loop (event_base_dispatch returns by itself
# once the library has nothing left to do) against a private nginx and
# fakedns.py, which resolves evfetch.test to 127.0.0.1.  test_loop prints
# its own TAP; this script provides the servers.
#
#   test_loop HTTPS_PORT CA_FILE DNS_PORT
if [ -z "${BASH_VERSION:-}" ]; then exec bash "$0" "$@"; fi
: "${TOP_SRCDIR:=$(cd "$(dirname "$0")/../.." && pwd)}"
. "$TOP_SRCDIR/tests/lib/common.sh"
. "$TOP_SRCDIR/tests/lib/nginx.sh"
. "$TOP_SRCDIR/tests/lib/servers.sh"

PROG=$TOP_BUILDDIR/tests/embed/test_loop
[ -x "$PROG" ] || skip_all "test_loop is not built ($PROG)"
start_nginx "$T/nginx"
start_fakedns --a evfetch.test=127.0.0.1

wrapper=()
if [ -n "${EVFETCH_WRAPPER:-}" ]; then
	# shellcheck disable=SC2206
	wrapper=("$LIBTOOL" --mode=execute $EVFETCH_WRAPPER)
fi
# Not `exec`: this shell must outlive the test to stop the servers.  The
# cases run at once; the longest waits 30 s for a pooled connection.
(cd "$T" && exec timeout -k 5 "${EVF_TIMEOUT:-90}" "${wrapper[@]}" "$PROG" \
	"$HTTPS_PORT" "$CA_FILE" "$FAKEDNS_PORT")
status=$?
if [ "$status" -ne 0 ]; then
	diag "test_loop exited with status $status"
	diag_file "$NGINX_ERROR_LOG" 20
	diag_file "$FAKEDNS_LOG" 20
fi
TAP_DONE=1
exit "$status"
