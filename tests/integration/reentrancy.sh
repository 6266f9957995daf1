#!/bin/bash
# reentrancy.sh - run tests/embed/test_reentrancy (callbacks that cancel
# transfers, start new ones, free the client, pause and resume) against a
# private nginx, and its pause cases with content decoding against nginx
# (64 MiB, pre-compressed gzip and deflate, with Content-Length) and
# badserver (16 MiB, chunked and close-delimited framing), over HTTP and
# HTTPS.  test_reentrancy prints its own TAP; this script provides the
# servers and passes that output through unchanged.
#
#   test_reentrancy BASE_URL CA_FILE FILE_1M [URL=FILE]...
if [ -z "${BASH_VERSION:-}" ]; then exec bash "$0" "$@"; fi
: "${TOP_SRCDIR:=$(cd "$(dirname "$0")/../.." && pwd)}"
. "$TOP_SRCDIR/tests/lib/common.sh"
. "$TOP_SRCDIR/tests/lib/nginx.sh"
. "$TOP_SRCDIR/tests/lib/servers.sh"

PROG=$TOP_BUILDDIR/tests/embed/test_reentrancy
[ -x "$PROG" ] || skip_all "test_reentrancy is not built ($PROG)"
start_nginx "$T/nginx"
nginx_encoded z64m 64 || bail_out "cannot write the compressed bodies"
start_badserver
BAD=http://127.0.0.1:$BADSERVER_PORT
start_badserver --tls "$PKI_DIR/server.pem" "$PKI_DIR/server.key"
BADTLS=https://127.0.0.1:$BADSERVER_PORT
N=$((16 * 1024 * 1024))
badserver_body "$N" >"$T/b16m" || bail_out "cannot write badserver's body"
decoded=(
	"https://127.0.0.1:$HTTPS_PORT/gzip/z64m=$WWW_DIR/z64m"
	"https://127.0.0.1:$HTTPS_PORT/deflate/z64m=$WWW_DIR/z64m"
	"http://127.0.0.1:$HTTP_PORT/gzip/z64m=$WWW_DIR/z64m"
	"http://127.0.0.1:$HTTP_PORT/deflate/z64m=$WWW_DIR/z64m"
	"$BAD/gzip/$N?chunked=1=$T/b16m"
	"$BADTLS/gzip/$N?chunked=1=$T/b16m"
	"$BADTLS/deflate/$N?close=1=$T/b16m"
	"$BAD/deflate-raw/$N?chunked=1=$T/b16m"
)

wrapper=()
if [ -n "${EVFETCH_WRAPPER:-}" ]; then
	# shellcheck disable=SC2206
	wrapper=("$LIBTOOL" --mode=execute $EVFETCH_WRAPPER)
fi
# Not `exec`: this shell must outlive the test to stop nginx.
(cd "$T" && exec timeout -k 5 "${EVF_TIMEOUT:-120}" "${wrapper[@]}" "$PROG" \
	"https://127.0.0.1:$HTTPS_PORT/" "$CA_FILE" "$WWW_DIR/1m.bin" "${decoded[@]}")
status=$?
if [ "$status" -ne 0 ]; then
	diag "test_reentrancy exited with status $status"
	diag_file "$NGINX_ERROR_LOG" 20
fi
# The plan and results came from test_reentrancy: no second plan.
TAP_DONE=1
exit "$status"
