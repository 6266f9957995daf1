#!/bin/bash
# report.sh - the --report file: lines written as transfers end (so that
# tail -f and jq follow a run), and the value of every field.
if [ -z "${BASH_VERSION:-}" ]; then exec bash "$0" "$@"; fi
: "${TOP_SRCDIR:=$(cd "$(dirname "$0")/../.." && pwd)}"
. "$TOP_SRCDIR/tests/lib/common.sh"
. "$TOP_SRCDIR/tests/lib/nginx.sh"
. "$TOP_SRCDIR/tests/lib/servers.sh"

need_evfetch
need_python
start_badserver
H=http://127.0.0.1:$BADSERVER_PORT
refused_port
REFUSED=http://127.0.0.1:$REFUSED_PORT/refused

# --- live: a line is in the file while other transfers still run ---------------------
# The slow URL sends one byte a second for 4 s; the fast one's line must be
# readable long before evfetch exits.
R=$T/live.jsonl
(cd "$EVF_CWD" && exec timeout -k 5 30 "$EVFETCH" --discard --no-progress \
	--report "$R" "$H/ok/1?live=1" "$H/trickle/4?interval=1") \
	</dev/null >/dev/null 2>"$T/live.err" &
live_pid=$!
seen=1 running=1
for ((i = 0; i < 100; i++)); do
	if grep -q 'live=1' "$R" 2>/dev/null; then
		seen=0
		kill -0 "$live_pid" 2>/dev/null && running=0
		break
	fi
	sleep 0.02
done
ok "$seen" "live report: the finished URL's line is in the file"
ok "$running" "live report: ...while evfetch is still running"
wait "$live_pid"
is "$?" 0 "live report: exit status 0"
is "$(rep_lines "$R")" 2 "live report: two lines in the end"
report_ok "$R" "live report: every line valid"

# --- index, content_type, content_length, started_at ------------------------------------
printf '%s\n' "# a comment" "$H/chunked/10" "" "$H/status/204" >"$T/idx.txt"
R=$T/fields.jsonl
before=$(date -u +%s)
evf --discard --no-progress --report "$R" -i "$T/idx.txt" "$H/ok/5" "not a url"
after=$(date -u +%s)
is "$EVF_RC" 1 "fields: exit status 1 (one malformed URL)"
report_ok "$R" "fields: every line valid"
is "$(rep_get "$R" index "$H/ok/5")" 1 "index: the first URL argument is 1"
is "$(rep_get "$R" index "not a url")" 2 "index: a malformed URL has its place too"
is "$(rep_get "$R" index "$H/chunked/10")" 3 "index: the file's URLs follow (comments and blank lines not counted)"
is "$(rep_get "$R" index "$H/status/204")" 4 "index: the last URL is 4"
is "$(rep_get "$R" content_type "$H/ok/5")" text/plain "content_type: as sent"
is "$(rep_get "$R" content_length "$H/ok/5")" 5 "content_length: as sent"
is "$(rep_get "$R" content_type "$H/status/204")" null "content_type: null when not sent"
is "$(rep_get "$R" content_length "$H/chunked/10")" null "content_length: null for a chunked body"
is "$(rep_get "$R" content_type "not a url")" null "content_type: null without a response"
# started_at lies within the run (whole seconds are enough here)
is "$(rep_count "$R" "$before <= __import__('calendar').timegm(__import__('time').strptime(r['started_at'][:19], '%Y-%m-%dT%H:%M:%S')) <= $after")" 4 \
	"started_at: every URL's start lies within the run"
is "$(rep_count "$R" 'r["tls_cipher"] is None and r["cert_not_after"] is None')" 4 \
	"tls_cipher and cert_not_after: null for plain HTTP"

evf -I --discard --no-progress --report "$R" "$H/ok/100"
is "$(rep_get "$R" content_length)" 100 "content_length with -I: the header, not the body"
is "$(rep_get "$R" bytes)" 0 "bytes with -I: 0"

# --- time and queued_ms -----------------------------------------------------------------
# -c 1: the second URL waits in the queue while the first, whose head comes
# 0.6 s after the request, runs; then it reuses the connection.
R=$T/time.jsonl
evf -c 1 --discard --no-progress --report "$R" "$H/late/3?wait=0.6" "$H/ok/4"
is "$EVF_RC" 0 "time: exit status 0"
report_ok "$R" "time: every line valid"
is "$(rep_count "$R" 'r["url"].endswith("wait=0.6") and 600 <= r["time"]["ttfb_ms"] <= r["time"]["total_ms"] < 5000')" 1 \
	"time.ttfb_ms: the head that came 0.6 s late"
is "$(rep_count "$R" 'r["url"].endswith("wait=0.6") and 0 < r["time"]["connect_ms"] < 600 and r["time"]["dns_ms"] <= r["time"]["connect_ms"]')" 1 \
	"time.connect_ms: a new connection, after the name was resolved"
is "$(rep_count "$R" 'r["url"].endswith("wait=0.6") and r["time"]["tls_ms"] == 0')" 1 \
	"time.tls_ms: 0 for plain HTTP"
is "$(rep_count "$R" 'r["url"].endswith("/ok/4") and r["queued_ms"] >= 550 and r["reused"]')" 1 \
	"queued_ms: the second URL waited for the first"
is "$(rep_count "$R" 'r["url"].endswith("/ok/4") and r["time"]["dns_ms"] == r["time"]["connect_ms"] == 0 and r["time"]["ttfb_ms"] > 0')" 1 \
	"time: a reused connection has no dns or connect phase"
is "$(rep_count "$R" 'r["time"]["total_ms"] == r["time_total_ms"]')" 2 "time.total_ms is time_total_ms"

# --- --report-header -----------------------------------------------------------------------
U="$H/headers?X-One=1&X-Two=a&x-two=b&Other=z"
R=$T/hdr.jsonl
evf --discard --no-progress --report "$R" --report-header X-One \
	--report-header x-two --report-header X-Missing --report-header x-ONE \
	"$U" "$REFUSED"
is "$EVF_RC" 1 "--report-header: exit status 1 (one URL refused)"
report_ok "$R" "--report-header: every line valid"
is "$(rep_get "$R" headers "$U")" '{"x-one": "1", "x-two": "a, b", "x-missing": null}' \
	"--report-header: the named headers in order, in lower case, a repeated one joined, a missing one null, a name given twice once"
is "$(rep_get "$R" headers "$REFUSED")" '{"x-one": null, "x-two": null, "x-missing": null}' \
	"--report-header: every name null when no response came"
evf --discard --no-progress --report "$R" "$U"
is "$(rep_get "$R" headers)" '<missing>' "without --report-header: no headers key"
evf --discard --no-progress --report-header X-One "$U"
is "$EVF_RC" 2 "--report-header without --report: usage error"
evf --discard --no-progress --report "$R" --report-header 'X One' "$U"
is "$EVF_RC" 2 "--report-header with a name that is no token: usage error"
like "$(cat "$EVF_ERR")" "'X One' is not a header name" "...which says why"
evf --help
like "$(cat "$EVF_OUT")" '--report-header NAME' "--help mentions --report-header"

# --- TLS: tls_cipher and cert_not_after ---------------------------------------------------
start_nginx "$T/nginx"
S=https://127.0.0.1:$HTTPS_PORT
R=$T/tls.jsonl
evf -c 1 --cacert "$CA_FILE" --discard --no-progress --report "$R" "$S/n/1" "$S/n/2"
is "$EVF_RC" 0 "tls: exit status 0"
report_ok "$R" "tls: every line valid"
# the first suite evfetch offers, which nginx takes (no server preference)
is "$(rep_get "$R" tls_cipher "$S/n/1")" TLS_AES_128_GCM_SHA256 "tls_cipher: the suite negotiated"
want=$(date -u -d "$("$OPENSSL_BIN" x509 -enddate -noout -in "$PKI_DIR/server.pem" | sed 's/^notAfter=//')" +%Y-%m-%dT%H:%M:%SZ)
is "$(rep_get "$R" cert_not_after "$S/n/1")" "$want" "cert_not_after: the server certificate's notAfter ($want)"
is "$(rep_get "$R" reused "$S/n/2")" true "tls: the second URL reused the connection"
is "$(rep_get "$R" tls_cipher "$S/n/2")" TLS_AES_128_GCM_SHA256 "tls_cipher: also on a reused connection"
is "$(rep_get "$R" cert_not_after "$S/n/2")" "$want" "cert_not_after: also on a reused connection"
is "$(rep_count "$R" 'r["url"].endswith("/n/1") and 0 < r["time"]["connect_ms"] <= r["time"]["tls_ms"] <= r["time"]["ttfb_ms"]')" 1 \
	"time.tls_ms: after the connect, before the first byte"
is "$(rep_get "$R" content_type "$S/n/1")" text/plain "content_type over TLS"

done_testing
