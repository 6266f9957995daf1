#!/bin/bash
# embed.sh - run tests/embed/test_embed (the library inside a caller's own
# libevent loop) against a private nginx.  test_embed prints its own TAP;
# this script only provides the server, passes that output through
# unchanged, and stops nginx afterwards.
#
#   test_embed URL_BASE CA_FILE COUNT
#   e.g. test_embed https://127.0.0.1:PORT/n/ /tmp/.../ca.pem 500
if [ -z "${BASH_VERSION:-}" ]; then exec bash "$0" "$@"; fi
: "${TOP_SRCDIR:=$(cd "$(dirname "$0")/../.." && pwd)}"
. "$TOP_SRCDIR/tests/lib/common.sh"
. "$TOP_SRCDIR/tests/lib/nginx.sh"

EMBED=$TOP_BUILDDIR/tests/embed/test_embed
[ -x "$EMBED" ] || skip_all "test_embed is not built ($EMBED)"
start_nginx "$T/nginx"

# Not `exec`: this shell must outlive test_embed to stop nginx.  Its
# stdout is ours, so the TAP stream is test_embed's own.
wrapper=()
if [ -n "${EVFETCH_WRAPPER:-}" ]; then
	# shellcheck disable=SC2206
	wrapper=("$LIBTOOL" --mode=execute $EVFETCH_WRAPPER)
fi
(cd "$T" && exec timeout -k 5 "${EVF_TIMEOUT:-50}" "${wrapper[@]}" "$EMBED" \
	"https://127.0.0.1:$HTTPS_PORT/n/" "$CA_FILE" 500)
status=$?
if [ "$status" -ne 0 ]; then
	diag "test_embed exited with status $status"
	diag_file "$NGINX_ERROR_LOG" 20
fi
# The plan and results came from test_embed: do not print another plan.
TAP_DONE=1
exit "$status"
