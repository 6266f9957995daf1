#!/bin/bash
# faults.sh - evfetch against tests/servers/badserver.py and fakedns.py:
# truncation, resets, refused connections, DNS failures, timeouts, broken
# framing, oversized heads, informational responses, poisoned or stale
# keep-alive connections, and a large mixed run where every URL must end
# with exactly one result.
if [ -z "${BASH_VERSION:-}" ]; then exec bash "$0" "$@"; fi
: "${TOP_SRCDIR:=$(cd "$(dirname "$0")/../.." && pwd)}"
. "$TOP_SRCDIR/tests/lib/common.sh"
. "$TOP_SRCDIR/tests/lib/nginx.sh"
. "$TOP_SRCDIR/tests/lib/servers.sh"

need_evfetch
need_python
need_openssl
make_pki "$T/pki" || bail_out "could not make the test PKI"

start_badserver
H=http://127.0.0.1:$BADSERVER_PORT
PLAIN_LOG=$BADSERVER_LOG
start_badserver --tls "$PKI_DIR/server.pem" "$PKI_DIR/server.key"
S=https://127.0.0.1:$BADSERVER_PORT
start_badserver --handshake-stall
STALL_PORT=$BADSERVER_PORT
start_badserver --handshake-reset
RESET_PORT=$BADSERVER_PORT
start_fakedns --a good.evfetch.test=127.0.0.1 --drop slow.evfetch.test

# The default timeouts (connect 30 s, idle 60 s) run in the background while
# the rest of the script goes on; their results are checked at the end.
default_timeout_run() { # NAME URL
	(cd "$EVF_CWD" && exec timeout -k 5 120 "$EVFETCH" --cacert "$CA_FILE" --no-progress \
		--discard --report "$T/default-$1.jsonl" "$2") >/dev/null 2>&1 &
	DEFAULT_PIDS+=("$!")
}
DEFAULT_PIDS=()
default_timeout_run connect "https://127.0.0.1:$STALL_PORT/never"
default_timeout_run idle "$H/stall-body"

N=0
# fetch_one URL ARGS...: one URL, the body to $BODY, the report to $R.
fetch_one() {
	local url=$1
	shift
	N=$((N + 1))
	R=$T/r.$N.jsonl
	BODY=$T/body.$N
	evf --cacert "$CA_FILE" --no-progress --report "$R" -o "$BODY" "$@" "$url"
}

# expect_kind NAME ERE URL ARGS...: the transfer fails with a kind matching ERE.
expect_kind() {
	local name=$1 ere=$2 url=$3
	shift 3
	fetch_one "$url" "$@"
	is "$EVF_RC" 1 "$name: exit status 1"
	like "$(rep_get "$R" error_kind)" "^($ere)$" "$name: error_kind $ere"
}

# expect_body NAME URL SIZE ARGS...: ok, SIZE bytes, equal to body_bytes(SIZE).
expect_body() {
	local name=$1 url=$2 size=$3
	shift 3
	fetch_one "$url" "$@"
	is "$EVF_RC" 0 "$name: exit status 0"
	is "$(rep_get "$R" bytes)" "$size" "$name: $size bytes"
	badserver_body "$size" >"$T/expected"
	cmp -s "$T/expected" "$BODY"
	ok $? "$name: the body is byte-exact"
}

# elapsed_between NAME LOW HIGH: the last run took LOW..HIGH ms.
elapsed_between() {
	local name=$1 low=$2 high=$3
	if [ "$EVF_MS" -ge "$low" ] && [ "$EVF_MS" -le "$high" ]; then
		pass "$name: ended after $EVF_MS ms"
	else
		fail "$name: ended after $EVF_MS ms, expected $low..$high"
	fi
}

# slow_input FIFO LINE1 SECONDS LINE2: feed a FIFO with LINE1, then LINE2
# SECONDS later, in the background.
slow_input() {
	local fifo=$1
	rm -f "$fifo"
	mkfifo "$fifo" || bail_out "mkfifo failed"
	(printf '%s\n' "$2"; sleep "$3"; printf '%s\n' "$4") >"$fifo" &
	at_exit "kill $! 2>/dev/null"
}

# --- well-formed responses, for reference -------------------------------------------
expect_body "Content-Length" "$H/ok/1000" 1000
expect_body "chunked with extensions and a trailer" "$H/chunked/5000?ext=1&trailer=1" 5000
expect_body "chunked over TLS" "$S/chunked/70000" 70000
expect_body "1 MB over TLS" "$S/ok/1048576" 1048576
expect_body "an HTTP/1.0 response" "$H/http10/500" 500
fetch_one "$H/slow-head"
is "$(rep_get "$R" bytes)" 6 "a head sent one byte at a time: 6 bytes"

# --- the body ends early ---------------------------------------------------------------
expect_kind "close before Content-Length" truncated "$H/close-early"
is "$(rep_get "$R" ok)" false "close before Content-Length: never ok"
[ ! -e "$BODY" ]
ok $? "close before Content-Length: no output file"
expect_kind "close before Content-Length over TLS" truncated "$S/close-early"
expect_kind "chunked without the last chunk" truncated "$H/truncate-chunked"
expect_kind "chunked without the last chunk over TLS" truncated "$S/truncate-chunked"

expect_body "close-delimited body" "$H/close-delimited/5000" 5000
expect_body "close-delimited body over TLS with close_notify" \
	"$S/close-delimited/100000" 100000

# Without close_notify a close-delimited body over TLS may have been cut
# by an attacker.  Whether that is an error is not settled yet (a TODO test
# would turn into a failing XPASS under automake), so accept both answers
# and say which one was given.
fetch_one "$S/close-delimited-unclean/100000"
outcome="$(rep_get "$R" ok)/$(rep_get "$R" error_kind)/$(rep_get "$R" bytes)"
like "$outcome" '^(true/null/100000|false/(truncated|tls|network)/[0-9]+)$' \
	"close-delimited over TLS without close_notify: ok and whole, or truncated/tls/network"
diag "close-delimited over TLS without close_notify gave ok/error_kind/bytes = $outcome"

# --- resets and refusals -------------------------------------------------------------------
expect_kind "RST after the request" 'network|connect' "$H/reset"
expect_kind "RST after the request over TLS" 'network|connect|tls' "$S/reset"
expect_kind "RST in the middle of the body" 'network|truncated' "$H/reset-mid"
expect_kind "RST in the middle of the body over TLS" 'network|truncated|tls' "$S/reset-mid"
# The same failed recv is a TLS failure during the handshake (the server
# will not speak TLS with us) and a network one after it.
expect_kind "RST of the ClientHello" tls "https://127.0.0.1:$RESET_PORT/"
like "$(rep_get "$R" error)" '^TLS handshake with .* failed: Connection reset by peer$' \
	"RST of the ClientHello: the detail says handshake and reset"
expect_kind "RST after a TLS handshake, in the body" network "$S/reset-mid"
like "$(rep_get "$R" error)" '^receive from .* failed: Connection reset by peer$' \
	"RST after a TLS handshake, in the body: the detail says receive and reset"

refused_port
expect_kind "connection refused" connect "http://127.0.0.1:$REFUSED_PORT/"
cmp_ok "$EVF_MS" -lt 5000 "connection refused: reported at once"
expect_kind "connection refused (https)" connect "https://127.0.0.1:$REFUSED_PORT/"

# --- DNS ------------------------------------------------------------------------------------------
D=127.0.0.1:$FAKEDNS_PORT
expect_kind "a name that does not resolve" dns \
	"http://nx.evfetch.test:${H##*:}/ok/5" --dns-servers "$D"
cmp_ok "$EVF_MS" -lt 5000 "a name that does not resolve: reported at once"
grep -qi '^nx\.evfetch\.test ' "$FAKEDNS_LOG"
ok $? "the query reached the --dns-servers server"

fetch_one "http://good.evfetch.test:${H##*:}/ok/5" --dns-servers "$D"
is "$(rep_get "$R" ok)" true "a name that fakedns resolves to 127.0.0.1: ok"
is "$(rep_get "$R" bytes)" 5 "a name that fakedns resolves: 5 bytes"

fetch_one "https://evfetch.test:${S##*:}/ok/5" --dns-servers "$D" \
	--resolve "evfetch.test:${S##*:}:127.0.0.1"
is "$(rep_get "$R" ok)" true "--resolve needs no DNS: ok"
grep -qi '^evfetch\.test ' "$FAKEDNS_LOG"
isnt $? 0 "--resolve: no query for the name was sent"

expect_kind "a name server that never answers, with -m 2" 'timeout|dns' \
	"http://slow.evfetch.test:${H##*:}/ok/5" --dns-servers "$D" -m 2
cmp_ok "$EVF_MS" -lt 5000 "a silent name server: -m 2 ends it in time"

# --- timeouts --------------------------------------------------------------------------------------
expect_kind "--connect-timeout 1, TLS handshake never answered" timeout \
	"https://127.0.0.1:$STALL_PORT/" --connect-timeout 1
elapsed_between "--connect-timeout 1" 800 3500

# 20 URLs to that host: while its first connection negotiates, the others
# wait for its ALPN answer (HTTP/2 may serve them all), under their own
# connect deadline; once it fails they do not open one by one
for ((i = 0; i < 20; i++)); do printf 'https://127.0.0.1:%s/s%d\n' "$STALL_PORT" "$i"; done >"$T/stall20"
evf -c 20 --connect-timeout 1 -i "$T/stall20" --discard --no-progress --report "$R"
is "$(rep_count "$R" 'r["error_kind"] == "timeout"')" 20 \
	"20 URLs to a host whose handshake stalls: 20 timeouts"
# (one at a time, as a bug once had it, takes 20 s; valgrind adds seconds)
cmp_ok "$EVF_MS" -lt 8000 "20 URLs to a stalled host, --connect-timeout 1: over in time ($EVF_MS ms)"

expect_kind "-m 1, headers but no body" timeout "$H/stall-body" -m 1
elapsed_between "-m 1, headers but no body" 800 3500
expect_kind "-m 1, no response at all" timeout "$H/stall-headers" -m 1
elapsed_between "-m 1, no response at all" 800 3500
expect_kind "-m 1 over TLS, headers but no body" timeout "$S/stall-body" -m 1
elapsed_between "-m 1 over TLS" 800 3500
expect_kind "-m 2 covers the whole transfer, not idle time" timeout \
	"$H/trickle/10?interval=0.5" -m 2
elapsed_between "-m 2 against a trickle" 1700 4500

expect_body "--connect-timeout does not limit a slow body" \
	"$H/trickle/3?interval=0.6" 3 --connect-timeout 1

# --- broken framing -----------------------------------------------------------------------------------
expect_kind "chunk size 'zz'" protocol "$H/bad-chunk"
expect_kind "chunk size past 64 bits" 'protocol|too_large' "$H/huge-chunk-size"
expect_kind "two different Content-Length" protocol "$H/dup-cl"
expect_kind "Content-Length and Transfer-Encoding" protocol "$H/cl-and-te"
expect_kind "Content-Length: -1" protocol "$H/negative-cl"
expect_kind "Content-Length past 64 bits" 'protocol|too_large' "$H/huge-cl"
expect_kind "no status line" protocol "$H/no-status-line"
expect_kind "a garbage status" protocol "$H/garbage-status"
expect_kind "a 1 MiB header line" too_large "$H/long-header"
expect_kind "10000 header lines" too_large "$H/many-headers"
expect_kind "10000 header lines over TLS" too_large "$S/many-headers"

# --- informational responses ------------------------------------------------------------------------------
fetch_one "$H/100-continue"
is "$EVF_RC" 0 "100 Continue then 200: exit status 0"
is "$(rep_get "$R" status)" 200 "100 Continue then 200: status 200"
is "$(cat "$BODY" 2>/dev/null)" continued "100 Continue then 200: the final body"
fetch_one "$H/103-early-hints"
is "$(rep_get "$R" status)" 200 "103 Early Hints then 200: status 200"
is "$(cat "$BODY" 2>/dev/null)" hinted "103 Early Hints then 200: the final body"

# --- keep-alive connections that must not be trusted ---------------------------------------------------
# The server sends a whole fake response after the 5-byte body.  The next
# request on that connection must not get it.
mkdir -p "$T/xb"
R=$T/xb.jsonl
evf -c 1 -d "$T/xb" --no-progress --report "$R" "$H/extra-bytes" "$H/ok/7"
is "$(rep_count "$R" 'r["url"].endswith("/extra-bytes") and
	((r["ok"] and r["bytes"] == 5) or r["error_kind"] == "protocol")')" 1 \
	"extra bytes after the body: that response is ok (5 bytes) or a protocol error"
is "$(rep_get "$R" ok "$H/ok/7")" true "extra bytes: the next request is ok"
is "$(rep_get "$R" bytes "$H/ok/7")" 7 "extra bytes: the next request has its own 7 bytes"
is "$(cat "$T/xb/7" 2>/dev/null)" "0123456" "extra bytes: the next body is not the fake one"

# The same, but the fake response arrives while the connection is idle.
slow_input "$T/fifo1" "$H/extra-bytes?delay=0.2" 1.5 "$H/ok/8"
mkdir -p "$T/xb2"
R=$T/xb2.jsonl
EVF_STDIN=$T/fifo1 evf -c 1 -i - -d "$T/xb2" --no-progress --report "$R"
is "$(rep_get "$R" ok "$H/ok/8")" true "bytes arriving on an idle connection: the next request is ok"
is "$(cat "$T/xb2/8" 2>/dev/null)" "01234567" \
	"bytes arriving on an idle connection: the next body is not the fake one"

# The server closes an idle keep-alive connection; the next request must
# go out on a fresh one (or be retried on one) and succeed.
slow_input "$T/fifo2" "$H/ok/5?idle-close=0.2" 1.5 "$H/ok/9"
R=$T/stale.jsonl
EVF_STDIN=$T/fifo2 evf -c 1 -i - --discard --no-progress --report "$R"
is "$EVF_RC" 0 "a keep-alive connection closed by the server while idle: exit status 0"
is "$(rep_count "$R" 'r["ok"]')" 2 "a connection closed while idle: both URLs ok"

slow_input "$T/fifo3" "$S/ok/5?idle-close=0.2" 1.5 "$S/ok/9"
R=$T/stale-tls.jsonl
EVF_STDIN=$T/fifo3 evf --cacert "$CA_FILE" -c 1 -i - --discard --no-progress --report "$R"
is "$(rep_count "$R" 'r["ok"]')" 2 "a TLS connection closed while idle: both URLs ok"

# --- redirects: the answer itself without -L, followed with it ----------------------------------------------
fetch_one "$H/redirect/302?to=/ok/5"
is "$(rep_get "$R" status)/$(rep_get "$R" ok)" 302/true "without -L a 302 is the answer"
fetch_one "$H/redirect/302?to=/ok/5" -L
is "$(rep_get "$R" status)/$(rep_get "$R" bytes)" 200/5 "with -L: the target's status and body"
expect_kind "a redirect loop" too_many_redirects "$H/redirect-loop" -L
expect_kind "a redirect to ftp://" redirect "$H/redirect/302?to=ftp://127.0.0.1/x" -L
fetch_one "$H/redirect-chain/3" -L
is "$(cat "$BODY" 2>/dev/null)" "done" "a chain of 3 redirects: the final body"

# --- content encoding: passed through without --compressed, decoded with it -----------------------------------
fetch_one "$H/gzip/1000"
badserver_body 1000 >"$T/expected"
is "$(rep_get "$R" ok)" true "gzip without --compressed: ok"
cmp -s "$T/expected" "$BODY"
isnt "$?" 0 "gzip without --compressed: the body is passed through undecoded"
expect_body "gzip with --compressed" "$H/gzip/1000" 1000 --compressed
expect_body "deflate with --compressed" "$H/deflate/1000" 1000 --compressed
expect_kind "corrupt gzip" decode "$H/bad-gzip" --compressed
fetch_one "$H/gzip-bomb" -m 30 --compressed --max-filesize 1M
like "$(rep_get "$R" ok)/$(rep_get "$R" error_kind)" '^false/too_large$' \
	"a gzip bomb with --max-filesize 1M: too_large"

# --- many URLs, many outcomes, all at once ------------------------------------------------------------------
# Each line: a path and the outcome it must have.
kinds=(
	"$H/ok/100 ok"
	"$H/chunked/300 ok"
	"$S/ok/2000 ok"
	"$H/close-delimited/50 ok"
	"$H/status/404 ok"
	"$H/close-early truncated"
	"$S/truncate-chunked truncated"
	"$H/bad-chunk protocol"
	"$H/reset network|connect"
	"http://127.0.0.1:$REFUSED_PORT/x connect"
)
: >"$T/mixed.urls"
: >"$T/mixed.expect"
for ((i = 0; i < 1200; i++)); do
	k=${kinds[i % ${#kinds[@]}]}
	url="${k% *}"
	case $url in *\?*) url="$url&i=$i" ;; *) url="$url?i=$i" ;; esac
	printf '%s\n' "$url" >>"$T/mixed.urls"
	printf '%s %s\n' "$url" "${k##* }" >>"$T/mixed.expect"
done
R=$T/mixed.jsonl
evf --cacert "$CA_FILE" -c 300 -i "$T/mixed.urls" --discard --no-progress --report "$R"
is "$EVF_RC" 1 "1200 mixed URLs at -c 300: exit status 1"
is "$(rep_lines "$R")" 1200 "1200 mixed URLs: 1200 report lines"
report_ok "$R" "1200 mixed URLs: every report line is well-formed"
is "$(_report urls "$R" | LC_ALL=C sort)" "$(LC_ALL=C sort "$T/mixed.urls")" \
	"1200 mixed URLs: each URL reported exactly once"
"$PYTHON3" - "$R" "$T/mixed.expect" >"$T/mixed.diff" <<'EOF'
import json, re, sys
got = {}
for line in open(sys.argv[1]):
    r = json.loads(line)
    got[r["url"]] = "ok" if r["ok"] else r["error_kind"]
for line in open(sys.argv[2]):
    url, want = line.rstrip("\n").rsplit(" ", 1)
    if not re.fullmatch(want, str(got.get(url))):
        print("%s: got %s, expected %s" % (url, got.get(url), want))
EOF
is "$(wc -l <"$T/mixed.diff")" 0 "1200 mixed URLs: every URL has its expected outcome" ||
	diag "$(head -n 10 "$T/mixed.diff")"

# --- event_add fails (epoll_ctl: ENOMEM) -----------------------------------------
# tests/lib/failepoll.c, preloaded, makes epoll_ctl refuse after N watches:
# every URL still ends with exactly one result, the failed ones with kind
# resource and a reason, and nothing hangs.
if "${CC:-cc}" -shared -fPIC -o "$T/failepoll.so" "$TOP_SRCDIR/tests/lib/failepoll.c" -ldl \
	2>"$T/failepoll.cc.log"; then
	for n in 0 1 2 3 5 8; do
		N=$((N + 1))
		R=$T/r.$N.jsonl
		LD_PRELOAD=$T/failepoll.so EVF_FAIL_EPOLL_AFTER=$n \
			ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}verify_asan_link_order=0 \
			evf --cacert "$CA_FILE" --no-progress --discard --report "$R" -c 2 \
			"$H/ok/5" "$S/ok/6" "$H/ok/7" "$S/ok/8"
		is "$(rep_lines "$R")" 4 "epoll_ctl fails after $n watches: one result per URL"
		is "$(rep_count "$R" 'not r["ok"] and (r["error_kind"] != "resource" or "cannot watch" not in r["error"])')" 0 \
			"epoll_ctl fails after $n watches: every failure is kind resource, with the reason"
		cmp_ok "$EVF_MS" -lt 10000 "epoll_ctl fails after $n watches: no hang"
		if [ "$n" = 0 ]; then
			is "$(rep_count "$R" 'r["error_kind"] == "resource"')" 4 \
				"epoll_ctl always fails: every URL fails with kind resource"
		fi
	done
else
	skip "no C compiler for tests/lib/failepoll.c" 25
fi

# --- the default timeouts, started at the top ------------------------------------
for pid in "${DEFAULT_PIDS[@]}"; do wait "$pid"; done
is "$(rep_get "$T/default-connect.jsonl" error_kind)" timeout \
	"no --connect-timeout: a handshake that never ends times out by default"
like "$(rep_get "$T/default-connect.jsonl" error)" 'within 30000 ms' \
	"no --connect-timeout: after the default 30 s"
is "$(rep_get "$T/default-idle.jsonl" error_kind)" timeout \
	"no --idle-timeout: a body that never comes times out by default"
like "$(rep_get "$T/default-idle.jsonl" error)" 'for 60000 ms' \
	"no --idle-timeout: after the default 60 s"

done_testing
