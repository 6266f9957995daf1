#!/bin/bash
# example.sh - examples/fetchd, the library embedded in an evhttp server on
# the same event_base, against a private nginx:
#
#   /fetch of 200 URLs answers with 200 good entries while a loop of curl
#     /ping requests keeps being answered quickly (latency reported);
#   /proxy streams a 1 MiB body byte-exact, also to a client reading at
#     100 KB/s, with fetchd's output buffer and RSS staying bounded because
#     the upstream transfer is paused (evf_transfer_pause/resume);
#   clients that disconnect mid-proxy or mid-fetch, even before the
#     upstream has answered, leave no transfer running 100 ms later, and
#     fetchd serving;
#   fetchd --decode proxies a gzip upstream (16 MiB in about 16 KB) to a
#     slow client over HTTP and HTTPS, byte-exact, with the bytes waiting
#     for the client and fetchd's RSS bounded: the pause stops the decoding
#     too.
if [ -z "${BASH_VERSION:-}" ]; then exec bash "$0" "$@"; fi
: "${TOP_SRCDIR:=$(cd "$(dirname "$0")/../.." && pwd)}"
. "$TOP_SRCDIR/tests/lib/common.sh"
. "$TOP_SRCDIR/tests/lib/nginx.sh"
. "$TOP_SRCDIR/tests/lib/servers.sh"

FETCHD=$TOP_BUILDDIR/examples/fetchd
[ -x "$FETCHD" ] || skip_all "fetchd is not built ($FETCHD)"
command -v curl >/dev/null || skip_all "curl not found"
start_nginx "$T/nginx"
start_badserver
BAD=http://127.0.0.1:$BADSERVER_PORT

MAX_BUFFER=65536
PING_MAX_MS=500
RSS_GROWTH_MAX_KB=8192

# --------------------------------------------------------------- helpers

. "$TOP_SRCDIR/tests/lib/fetchd.sh"

start_fetchd fetchd --max-buffer "$MAX_BUFFER"
like "$FPORT" '^[0-9]+$' "fetchd prints the port it listens on" ||
	bail_out "fetchd did not start"

# ---------------------------------------------------------------- /ping

is "$(get /ping "$T/ping.out")" 200 "/ping answers 200"
is "$(cat "$T/ping.out")" pong "/ping says pong"
is "$(get /nowhere "$T/nowhere.out")" 404 "an unknown path is 404"

# ----------------------------------------- /fetch of 200 URLs, with /ping

# Every other URL is the 1 MiB file, so that the fetch lasts long enough
# for a good number of pings to overlap it.
"$PYTHON3" - "$HTTPS_PORT" >"$T/fetch.query" <<'EOF'
import sys, urllib.parse
port = sys.argv[1]
urls = []
for i in range(200):
    path = "/1m.bin" if i % 2 else "/n/%d" % i
    urls.append("https://127.0.0.1:%s%s?i=%d" % (port, path, i))
print("&".join("url=" + urllib.parse.quote(u, safe="") for u in urls))
EOF

ping_loop() {
	local t0 line
	while [ ! -e "$T/stop-ping" ]; do
		t0=$(now_ms)
		line=$(curl -s -o /dev/null -w '%{http_code} %{time_total}' \
			--max-time 10 "$BASE/ping")
		printf '%s %s\n' "$t0" "$line" >>"$T/pings"
	done
}
: >"$T/pings"
ping_loop &
PING_PID=$!
at_exit "touch '$T/stop-ping'; wait $PING_PID 2>/dev/null"
sleep 0.3
# One /fetch of 200 URLs is over in a fraction of a second on loopback, so
# it runs several times in a row to overlap enough pings.
ROUNDS=5
curl -s -o /dev/null --max-time 10 "$BASE/stats?reset=1"
fetch_start=$(now_ms)
codes=
for ((round = 1; round <= ROUNDS; round++)); do
	codes="$codes $(get "/fetch?$(cat "$T/fetch.query")" "$T/fetch.$round.json")"
done
fetch_end=$(now_ms)
loop_lag=$(fetchd_stat loop_lag_max_ms)
touch "$T/stop-ping"
wait "$PING_PID"

is "$codes" "$(printf ' 200%.0s' $(seq $ROUNDS))" "/fetch of 200 URLs answers 200 ($ROUNDS times)"
diag "$ROUNDS x /fetch of 200 URLs (100 x 1 MiB each) took $((fetch_end - fetch_start)) ms"
for ((round = 1; round <= ROUNDS; round++)); do
	out=$("$PYTHON3" - "$T/fetch.$round.json" <<'EOF2'
import json, sys
d = json.load(open(sys.argv[1]))
r = d["results"]
bad = [e for e in r if not (e["ok"] and e["status"] == 200 and e["error"] is None
                            and e["detail"] is None)]
sizes = [e for e in r if "/1m.bin" in e["url"] and e["bytes"] != 1048576]
order = [e for i, e in enumerate(r) if not e["url"].endswith("?i=%d" % i)]
print(d["count"], len(r), d["ok"], len(bad), len(sizes), len(order))
for e in (bad + sizes + order)[:5]:
    print("#", json.dumps(e), file=sys.stderr)
EOF2
	)
	is "$out" "200 200 200 0 0 0" \
		"round $round: 200 entries in request order, all ok, status 200, full sizes"
done

# Pings that started while the fetch ran, in milliseconds.
awk -v a="$fetch_start" -v b="$fetch_end" \
	'$1 >= a && $1 <= b { if ($2 != 200) bad++; else printf "%d\n", $3 * 1000 + 0.5 }
	 END { if (bad) printf "bad %d\n", bad }' "$T/pings" >"$T/ping.ms"
n_pings=$(grep -c '^[0-9]' "$T/ping.ms")
unlike "$(cat "$T/ping.ms")" bad "every /ping during the /fetch answered 200"
cmp_ok "$n_pings" -ge 10 "at least 10 pings overlapped the /fetch runs"
if [ "$n_pings" -gt 0 ]; then
	sort -n "$T/ping.ms" >"$T/ping.sorted"
	ping_max=$(tail -n 1 "$T/ping.sorted")
	ping_median=$(sed -n "$(((n_pings + 1) / 2))p" "$T/ping.sorted")
	diag "/ping latency during the /fetch: $n_pings pings, median $ping_median ms, max $ping_max ms"
	diag "fetchd's loop was late by at most $loop_lag ms meanwhile (a 10 ms timer)"
	if [ ${#wrapper[@]} -eq 0 ]; then
		cmp_ok "$ping_max" -lt "$PING_MAX_MS" \
			"/ping latency during the /fetch stays under $PING_MAX_MS ms"
	else
		skip "latency is not meaningful under a wrapper"
	fi
fi

# /fetch reports each failure with its kind and detail.
dead=$(free_port)
q="url=$(urlenc "http://127.0.0.1:$dead/")&url=$(urlenc "notaurl")"
q="$q&url=$(urlenc "https://127.0.0.1:$HTTPS_PORT/status/404")"
is "$(get "/fetch?$q" "$T/fetch-bad.json")" 200 "/fetch with failing URLs answers 200"
out=$("$PYTHON3" - "$T/fetch-bad.json" <<'EOF'
import json, sys
d = json.load(open(sys.argv[1]))
print(" ".join("%s/%s/%s" % (e["error"], e["status"], bool(e["detail"]))
               for e in d["results"]), d["ok"])
EOF
)
is "$out" "connect/0/True url/0/True None/404/False 1" \
	"failed URLs carry their error kind and detail; a 404 is a fetched URL"
is "$(get /fetch "$T/fetch-none.out")" 400 "/fetch without a url is 400"

# ---------------------------------------------------------------- /proxy

u1m=$(urlenc "https://127.0.0.1:$HTTPS_PORT/1m.bin")
want=$(cat "$WWW_DIR/1m.bin.sha256")

is "$(get "/proxy?url=$u1m" "$T/proxy.bin")" 200 "/proxy of the 1 MiB file answers 200"
is "$(sha256_of "$T/proxy.bin")" "$want" "/proxy streams the 1 MiB file byte-exact"
is "$(get "/proxy?url=$(urlenc "https://127.0.0.1:$HTTPS_PORT/status/404")" \
	"$T/proxy404.out")" 404 "/proxy passes the upstream status on"
is "$(get "/proxy?url=$(urlenc "http://127.0.0.1:$dead/")" "$T/proxy502.out")" 502 \
	"/proxy of an unreachable URL is 502"
like "$(cat "$T/proxy502.out")" '^upstream failed: connect: ' \
	"the 502 says what failed"

# An upstream that fails after the reply has begun: the only honest signal
# left is to cut the client's connection before the last chunk.
get "/proxy?url=$(urlenc "$BAD/reset-mid")" "$T/proxy-mid.out" >/dev/null
isnt "$CURL_RC" 0 "a /proxy whose upstream resets midway fails at the client too"
cmp_ok "$(wc -c <"$T/proxy-mid.out")" -le 1000 "the client got no more than the upstream sent"
like "$(cat "$T/fetchd.err")" 'failed midway' "fetchd logs the failed proxy"
is "$(curl -s --max-time 5 "$BASE/ping")" pong "/ping works after a failed proxy"
q="url=$(urlenc "$BAD/close-early")&url=$(urlenc "$BAD/ok/100")"
get "/fetch?$q" "$T/fetch-trunc.json" >/dev/null
out=$("$PYTHON3" -c 'import json, sys
d = json.load(open(sys.argv[1]))
print(" ".join("%s/%s" % (e["error"], e["bytes"]) for e in d["results"]))' "$T/fetch-trunc.json")
is "$out" "truncated/10 None/100" "/fetch reports a truncated body as such"

# slow_get RATE OUT PATH: fetch PATH with the slow client at RATE bytes/s,
# sampling fetchd's RSS meanwhile; sets SLOW_RC, SLOW_CODE, RSS0, RSS_MAX
# and SLOW_PING (the answer to one /ping sent during the transfer).
SLOW=$TOP_SRCDIR/tests/lib/slowclient.py
slow_get() {
	local rate=$1 out=$2 path=$3 pid r
	RSS0=$(rss_kb)
	RSS_MAX=$RSS0
	SLOW_PING=
	"$PYTHON3" "$SLOW" --rate "$rate" --out "$out" "$BASE$path" \
		>"$T/slow.code" 2>"$T/slow.err" &
	pid=$!
	while kill -0 "$pid" 2>/dev/null; do
		r=$(rss_kb)
		[ -n "$r" ] && [ "$r" -gt "$RSS_MAX" ] && RSS_MAX=$r
		[ -n "$SLOW_PING" ] || SLOW_PING=$(curl -s --max-time 5 "$BASE/ping")
		sleep 0.2
	done
	wait "$pid"
	SLOW_RC=$?
	SLOW_CODE=$(cat "$T/slow.code")
}

# rss_bounded NAME: RSS_MAX - RSS0 below the limit, when RSS means anything.
rss_bounded() {
	if rss_meaningful && [ -n "$RSS0" ]; then
		diag "fetchd RSS: $RSS0 kB before, at most $RSS_MAX kB during $1"
		cmp_ok $((RSS_MAX - RSS0)) -lt "$RSS_GROWTH_MAX_KB" \
			"fetchd's RSS grew by less than $RSS_GROWTH_MAX_KB kB during $1"
	else
		skip "RSS is not meaningful under a wrapper or a sanitizer"
	fi
}

# The 1 MiB file at 100 KB/s through a 16 KiB receive buffer: about 10 s.
pauses_before=$(fetchd_stat proxy_pauses)
slow_get 100000 "$T/slow.bin" "/proxy?url=$u1m"
is "$SLOW_RC:$SLOW_CODE" "0:200" "a slow client's /proxy of 1 MiB completes with 200" ||
	diag_file "$T/slow.err"
is "$(sha256_of "$T/slow.bin")" "$want" "the slow client receives the 1 MiB file byte-exact"
is "$SLOW_PING" pong "/ping answers while a slow client is being served"
diag "slow 1 MiB client: upstream paused $(($(fetchd_stat proxy_pauses) - pauses_before)) times" \
	"(the kernel's socket buffers may take in all of it)"
rss_bounded "the slow 1 MiB /proxy"

# The kernel's socket buffers on loopback can take in most of 1 MiB, so a
# bigger file shows the bound better: 16 MiB read at 2 MB/s (about 8 s).
# Were the upstream never paused, fetchd would hold most of it in memory.
head -c $((16 * 1024 * 1024)) /dev/urandom >"$WWW_DIR/16m.bin"
u16m=$(urlenc "https://127.0.0.1:$HTTPS_PORT/16m.bin")
pauses_before=$(fetchd_stat proxy_pauses)
slow_get 2000000 "$T/slow16.bin" "/proxy?url=$u16m"
is "$SLOW_RC:$SLOW_CODE" "0:200" "a slow client's /proxy of 16 MiB completes with 200" ||
	diag_file "$T/slow.err"
is "$(sha256_of "$T/slow16.bin")" "$(sha256_of "$WWW_DIR/16m.bin")" \
	"the slow client receives the 16 MiB file byte-exact"
pauses=$(fetchd_stat proxy_pauses)
max_buffered=$(fetchd_stat max_buffered)
diag "slow 16 MiB client: upstream paused $((pauses - pauses_before)) times;" \
	"at most $max_buffered bytes waited for any client (threshold $MAX_BUFFER)"
cmp_ok "$pauses" -gt "$pauses_before" "the slow client paused the upstream transfer"
# past the threshold by at most the chunk that crossed it and the read
# buffer that evf_transfer_pause may still deliver
cmp_ok "$max_buffered" -le $((MAX_BUFFER + 64 * 1024)) \
	"the bytes queued for a client stay near the threshold"
rss_bounded "the slow 16 MiB /proxy"

# ------------------------------------------------- clients that go away

gone_before=$(fetchd_stat proxy_client_gone)
"$PYTHON3" "$SLOW" --rate 50000 --stop-after 1 "$BASE/proxy?url=$u16m" \
	>"$T/gone.out" 2>&1
is "$?" 3 "a client hangs up on a slow /proxy after 1 s" || diag_file "$T/gone.out"
ok_gone=1
for ((i = 0; i < 50; i++)); do
	if [ "$(fetchd_stat proxies_active)" = 0 ] && [ "$(fetchd_stat transfers_active)" = 0 ]; then
		ok_gone=0
		break
	fi
	sleep 0.1
done
ok "$ok_gone" "the upstream transfer of the vanished client ends"
cmp_ok "$(fetchd_stat proxy_client_gone)" -gt "$gone_before" \
	"fetchd noticed that the client went away"
run_ok "fetchd is still running" kill -0 "$FETCHD_PID"
is "$(curl -s --max-time 5 "$BASE/ping")" pong "/ping works after the client vanished"

# Clients that hang up while fetchd still waits for the upstream.  evhttp
# (libevent 2.1) stops reading a connection once it has parsed a request,
# so its close callback alone notices nothing until the reply is written;
# fetchd watches the socket itself.  The upstream never answers: only the
# client's going away can end these transfers.
HANGUP=$TOP_SRCDIR/tests/lib/hangup.py
GONE_MAX_MS=100
[ ${#wrapper[@]} -eq 0 ] || GONE_MAX_MS=2000
stall=$(urlenc "$BAD/stall-headers")
# hangup_case NAME RUNNING PATH [--reset]
hangup_case() {
	local name=$1 running=$2 path=$3 out ms
	shift 3
	out=$("$PYTHON3" "$HANGUP" "$BASE" "$path" --running "$running" "$@" 2>"$T/hangup.err")
	is "$?" 0 "$name: its $running upstream transfers start" || diag_file "$T/hangup.err"
	diag "$name: $out"
	ms=$(printf '%s\n' "$out" | sed -n 's/^gone_ms=\([0-9]*\) .*/\1/p')
	if [ -n "$ms" ]; then
		cmp_ok "$ms" -lt "$GONE_MAX_MS" \
			"$name: no transfer is left $GONE_MAX_MS ms after the client left"
	else
		fail "$name: no transfer is left $GONE_MAX_MS ms after the client left"
		diag "transfers were still running 5 s after the client left"
	fi
}
watched_before=$(fetchd_stat clients_gone)
hangup_case "a client that closes its /fetch of 2 stalled URLs" 2 \
	"/fetch?url=$stall&url=$stall"
hangup_case "a client that resets its /fetch of 3 stalled URLs" 3 \
	"/fetch?url=$stall&url=$stall&url=$stall" --reset
hangup_case "a client that closes its /proxy of a stalled URL" 1 "/proxy?url=$stall"
is "$(($(fetchd_stat clients_gone) - watched_before))" 3 \
	"fetchd's watch on the client sockets noticed each of the three"
is "$(curl -s --max-time 5 "$BASE/ping")" pong "/ping works after the clients hung up"

# The watch must not take a client that sends more for one that left: a
# request pipelined behind a /fetch is answered after it.
out=$("$PYTHON3" - "$FPORT" "$(urlenc "https://127.0.0.1:$HTTPS_PORT/n/pipe")" <<'EOF'
import socket, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=10)
req = "GET /fetch?url=%s HTTP/1.1\r\nHost: f\r\n\r\n" % sys.argv[2]
s.sendall((req + "GET /ping HTTP/1.1\r\nHost: f\r\nConnection: close\r\n\r\n").encode())
data = b""
while True:
    c = s.recv(65536)
    if not c:
        break
    data += c
print(data.count(b"HTTP/1.1 200"), data.count(b'"ok":1,'), data.rstrip().endswith(b"pong"))
EOF
)
is "$out" "2 1 True" "a request pipelined behind a /fetch is answered after it"

# ------------------------------------------------------------- shutdown

kill -TERM "$FETCHD_PID"
for ((i = 0; i < 100; i++)); do
	kill -0 "$FETCHD_PID" 2>/dev/null || break
	sleep 0.05
done
wait "$FETCHD_PID"
is "$?" 0 "fetchd exits 0 on SIGTERM"

# --------------------------------- /proxy of a gzip upstream, decoded

# 16 MiB that gzip squeezes into about 16 KB: one or two reads of the
# upstream decode to all of it.  Were the pause to stop only the reading,
# not the decoding, the whole body would land in fetchd's output buffer at
# once (as it did: max_buffered about 16 MiB).
nginx_encoded z16m 16 || bail_out "cannot write the compressed body"
want=$(sha256_of "$WWW_DIR/z16m")
start_fetchd fetchd-decode --max-buffer "$MAX_BUFFER" --decode
like "$FPORT" '^[0-9]+$' "fetchd --decode prints the port it listens on" ||
	bail_out "fetchd --decode did not start"
for up in "https://127.0.0.1:$HTTPS_PORT" "http://127.0.0.1:$HTTP_PORT"; do
	scheme=${up%%:*}
	curl -s -o /dev/null --max-time 10 "$BASE/stats?reset=1"
	pauses_before=$(fetchd_stat proxy_pauses)
	slow_get 4000000 "$T/slowz.bin" "/proxy?url=$(urlenc "$up/gzip/z16m")"
	is "$SLOW_RC:$SLOW_CODE" "0:200" \
		"--decode: a slow client's /proxy of 16 MiB gzip ($scheme) completes with 200" ||
		diag_file "$T/slow.err"
	is "$(sha256_of "$T/slowz.bin")" "$want" \
		"--decode: the slow client receives the 16 MiB decoded, byte-exact ($scheme)"
	pauses=$(fetchd_stat proxy_pauses)
	max_buffered=$(fetchd_stat max_buffered)
	diag "--decode, $scheme: upstream paused $((pauses - pauses_before)) times;" \
		"at most $max_buffered bytes waited for the client (threshold $MAX_BUFFER)"
	cmp_ok "$pauses" -gt "$pauses_before" "--decode: the slow client paused the upstream ($scheme)"
	# the threshold, the decoded piece that crossed it, and no more: the
	# decoder stops when on_body pauses
	cmp_ok "$max_buffered" -le $((MAX_BUFFER + 64 * 1024)) \
		"--decode: the bytes queued for the client stay near the threshold ($scheme)"
	rss_bounded "the slow /proxy of 16 MiB gzip over $scheme"
done

done_testing
