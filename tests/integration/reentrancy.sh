#!/bin/bash
# reentrancy.sh - run tests/embed/test_reentrancy (callbacks that cancel
# transfers, start new ones, free the client, pause and resume) against a
# private nginx.  test_reentrancy prints its own TAP; this script provides
# the server and passes that output through unchanged.
#
#   test_reentrancy BASE_URL CA_FILE FILE_1M
if [ -z "${BASH_VERSION:-}" ]; then exec bash "$0" "$@"; fi
: "${TOP_SRCDIR:=$(cd "$(dirname "$0")/../.." && pwd)}"
. "$TOP_SRCDIR/tests/lib/common.sh"
. "$TOP_SRCDIR/tests/lib/nginx.sh"

PROG=$TOP_BUILDDIR/tests/embed/test_reentrancy
[ -x "$PROG" ] || skip_all "test_reentrancy is not built ($PROG)"
start_nginx "$T/nginx"

wrapper=()
if [ -n "${EVFETCH_WRAPPER:-}" ]; then
	# shellcheck disable=SC2206
	wrapper=("$LIBTOOL" --mode=execute $EVFETCH_WRAPPER)
fi
# Not `exec`: this shell must outlive the test to stop nginx.
(cd "$T" && exec timeout -k 5 "${EVF_TIMEOUT:-120}" "${wrapper[@]}" "$PROG" \
	"https://127.0.0.1:$HTTPS_PORT/" "$CA_FILE" "$WWW_DIR/1m.bin")
status=$?
if [ "$status" -ne 0 ]; then
	diag "test_reentrancy exited with status $status"
	diag_file "$NGINX_ERROR_LOG" 20
fi
# The plan and results came from test_reentrancy: no second plan.
TAP_DONE=1
exit "$status"
