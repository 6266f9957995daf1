#!/bin/bash
# h2faults.sh - evfetch over HTTP/2 against tests/servers/h2bad.py, a server
# that breaks HTTP/2 in every way a test can ask for.
#
# 1. The server itself: tests/lib/h2probe.py, a raw HTTP/2 client, shows
#    that every scenario sends what it says (run whatever evfetch can do).
# 2. HTTP/1.1 against the same server (ALPN http/1.1, cleartext without
#    the preface): runs with any evfetch.
# 3. evfetch over HTTP/2: each fault alone, and each fault of one stream
#    in a batch with 20 good URLs on the same connection, all of which
#    must still end ok; GOAWAY, REFUSED_STREAM and MAX_CONCURRENT_STREAMS
#    servers.  Skipped while evfetch has no --http2-prior-knowledge.
#
# Every evfetch run must end by itself (timeout 60 around it), with exit
# status 0 or 1 (not a signal: an ASan build aborts), with exactly one
# report line per URL.  The error kinds are those of evf_error_name.
if [ -z "${BASH_VERSION:-}" ]; then exec bash "$0" "$@"; fi
: "${TOP_SRCDIR:=$(cd "$(dirname "$0")/../.." && pwd)}"
. "$TOP_SRCDIR/tests/lib/common.sh"
. "$TOP_SRCDIR/tests/lib/nginx.sh"
. "$TOP_SRCDIR/tests/lib/servers.sh"

need_evfetch
need_python
need_openssl
need_h2python
make_pki "$T/pki" || bail_out "could not make the test PKI"
EVF_TIMEOUT=60
PROBE=$TOP_SRCDIR/tests/lib/h2probe.py
CERT=("$PKI_DIR/server.pem" "$PKI_DIR/server.key")

start_h2bad --tls "${CERT[@]}"
MAIN_PORT=$H2BAD_PORT MAIN_LOG=$H2BAD_LOG
S=https://127.0.0.1:$MAIN_PORT
start_h2bad
CLEAR_PORT=$H2BAD_PORT CLEAR_LOG=$H2BAD_LOG
C=http://127.0.0.1:$CLEAR_PORT
start_h2bad --tls "${CERT[@]}" --alpn http/1.1
H11ONLY_PORT=$H2BAD_PORT H11ONLY_LOG=$H2BAD_LOG

# mode_server NAME MODE...: a TLS server with those --mode options; sets
# the variables NAME_PORT and NAME_LOG.
mode_server() {
	local name=$1 m args=()
	shift
	for m in "$@"; do
		args+=(--mode "$m")
	done
	start_h2bad --tls "${CERT[@]}" "${args[@]}"
	printf -v "${name}_PORT" '%s' "$H2BAD_PORT"
	printf -v "${name}_LOG" '%s' "$H2BAD_LOG"
}
mode_server NOSET nosettings
mode_server GARBAGE garbage-preface
mode_server GA goaway-after=5
mode_server GE goaway-error=PROTOCOL_ERROR:5
mode_server GEI goaway-error=INTERNAL_ERROR:3
mode_server RF refuse-first=3
mode_server MCS mcs=1

# --- server log segments ---------------------------------------------------------
# log_mark FILE: the number of lines FILE has now.
log_mark() {
	wc -l <"$1"
}

# log_since FILE MARK: the lines after MARK, once every connection opened
# in them has been logged as closed (at most 3 s later).
log_since() {
	local file=$1 mark=$2 i seg opened closed
	for ((i = 0; i < 60; i++)); do
		seg=$(tail -n +"$((mark + 1))" "$file")
		opened=$(grep -c ' open tls=' <<<"$seg")
		closed=$(grep -c ' closed proto=' <<<"$seg")
		[ "$opened" -gt "$closed" ] || break
		sleep 0.05
	done
	printf '%s\n' "$seg"
}

# count_in TEXT ERE: lines of TEXT matching ERE.
count_in() {
	grep -cE -- "$2" <<<"$1"
}

# max_field TEXT NAME: the largest NAME=N over the lines of TEXT (0 if none).
max_field() {
	grep -oE -- "[ ]$2=[0-9]+" <<<"$1" | cut -d= -f2 | sort -n | tail -n 1 |
		grep . || echo 0
}

# --- 1. the server does what each scenario says -------------------------------------------
# probe NAME CHECK [--port P] [PROBE ARGS...] REQUEST...: one h2probe.py
# run (TLS to the main server unless told otherwise); pass when CHECK holds.
probe() {
	local name=$1 check=$2 out status
	shift 2
	local port=$MAIN_PORT tls=(--tls "$CA_FILE")
	if [ "${1:-}" = --port ]; then
		port=$2
		shift 2
	fi
	if [ "${1:-}" = --clear ]; then
		tls=()
		shift
	fi
	out=$("$H2_PYTHON" "$PROBE" --port "$port" "${tls[@]}" --timeout 3 --linger 0.1 \
		--check "$check" "$@" 2>&1)
	status=$?
	ok "$status" "server: $name" || diag "$(printf '%s\n' "$out" | cut -c1-1500 | head -n 8)"
}

probe "/s/ok/1000 is 200 with body_bytes(1000)" \
	's[0]["status"] == "200" and s[0]["end"] and raw(s[0]) == body(1000) and s[0]["headers"]["content-length"] == "1000"' \
	/s/ok/1000
probe "HEAD /s/ok/1000 is one HEADERS frame with END_STREAM" \
	's[0]["order"] == ["HEADERS+END"] and s[0]["headers"]["content-length"] == "1000"' \
	"HEAD /s/ok/1000"
probe "the body follows the client's windows (1000-byte stream window)" \
	's[0]["data"] == 200000 and s[0]["body_sha"] == sha(body(200000)) and not r["flow_violation"]' \
	--window 1000 /s/big/200000
probe "without WINDOW_UPDATE the server stops at the 65535-byte window" \
	's[0]["data"] == 65535 and not s[0]["end"] and not r["flow_violation"] and r["timed_out"]' \
	--no-update --timeout 1.5 /s/big/200000
probe "the server's SETTINGS: MAX_CONCURRENT_STREAMS 100, push off" \
	'r["server_settings"][0]["3"] == 100 and r["server_settings"][0]["2"] == 0 and r["settings_acks"] >= 1' \
	/s/ok/1
probe "/s/stall never answers" \
	's[0]["order"] == [] and r["timed_out"]' --timeout 1 /s/stall
probe "/s/stall-body sends only the headers" \
	's[0]["order"] == ["HEADERS"] and s[0]["headers"]["content-length"] == "1000"' \
	--timeout 1 /s/stall-body/1000
probe "/s/cl-over sends 10 bytes more than content-length" \
	's[0]["headers"]["content-length"] == "1000" and s[0]["data"] == 1010 and s[0]["end"]' \
	/s/cl-over/1000
probe "/s/cl-under ends the stream after half of content-length" \
	's[0]["headers"]["content-length"] == "1000" and s[0]["data"] == 500 and s[0]["end"]' \
	/s/cl-under/1000
probe "/s/forbidden/connection sends connection: keep-alive" \
	's[0]["headers"].get("connection") == "keep-alive" and s[0]["status"] == "200"' \
	/s/forbidden/connection
probe "/s/forbidden/transfer-encoding sends transfer-encoding: chunked" \
	's[0]["headers"].get("transfer-encoding") == "chunked"' /s/forbidden/transfer-encoding
probe "/s/upper-header sends the name X-Upper" \
	'["X-Upper", "1"] in s[0]["header_list"]' /s/upper-header
probe "/s/pseudo-after sends :status after a regular header" \
	's[0]["header_list"][0][0] == "content-length" and [":status", "200"] in s[0]["header_list"]' \
	/s/pseudo-after
probe "/s/unknown-pseudo sends :foo" \
	's[0]["headers"].get(":foo") == "bar"' /s/unknown-pseudo
probe "/s/no-status sends a header block without :status" \
	's[0]["final"] and s[0]["status"] is None and s[0]["data"] == 10' /s/no-status
probe "/s/bad-status/abc and /s/bad-status/99" \
	's[0]["status"] == "abc" and s[1]["status"] == "99"' /s/bad-status/abc /s/bad-status/99
probe "/s/data-first sends DATA before HEADERS" \
	's[0]["order"][:2] == ["DATA", "HEADERS"]' /s/data-first
probe "/s/data-after-end sends DATA after END_STREAM" \
	's[0]["order"] == ["HEADERS", "DATA+END", "DATA"] and s[0]["data_after_end"] > 0' \
	/s/data-after-end
probe "/s/trailer-not-last sends a trailer block without END_STREAM, then DATA" \
	's[0]["order"] == ["HEADERS", "DATA", "HEADERS", "DATA+END"]' /s/trailer-not-last
probe "/s/push sends PUSH_PROMISE (stream 2) though push is off" \
	'r["push_promises"][0]["promised"] == 2 and s[0]["order"][0] == "PUSH_PROMISE"' /s/push
probe "/s/continuation/5 cuts a valid header block into HEADERS + 5 CONTINUATION" \
	's[0]["continuations"] == 5 and s[0]["status"] == "200" and s[0]["data"] == 100' \
	/s/continuation/5
probe "/s/continuation-flood never ends its header block" \
	'r["frames"].get("CONTINUATION", 0) > 500 and s[0]["blocks"] == 0 and not s[0]["end"]' \
	--timeout 1 /s/continuation-flood
probe "/s/big-header sends one header of 200 KiB" \
	'len(s[0]["headers"]["x-big"]) == 204800 and s[0]["continuations"] >= 12' /s/big-header
probe "/s/many-headers sends 5000 headers" \
	's[0]["header_count"] == 5002 and s[0]["status"] == "200"' /s/many-headers
probe "/s/ping-flood sends 10000 PINGs, then the response" \
	'r["pings"] == 10000 and s[0]["status"] == "200"' /s/ping-flood
probe "/s/settings-flood sends 10000 SETTINGS frames" \
	'r["server_settings_count"] == 10001 and s[0]["status"] == "200"' /s/settings-flood
probe "/s/window-overflow: WINDOW_UPDATE 2^31-1 on stream 0" \
	'{"stream": 0, "inc": 2147483647} in r["window_updates"]' /s/window-overflow
probe "/s/window-overflow/stream: WINDOW_UPDATE 2^31-1 on the stream" \
	'{"stream": 1, "inc": 2147483647} in r["window_updates"]' /s/window-overflow/stream
probe "/s/huge-frame: a DATA frame past SETTINGS_MAX_FRAME_SIZE" \
	'r["big_frames"] == 1' /s/huge-frame
probe "/s/bad-hpack: a header block that does not decode" \
	'r["hpack_error"] is not None' --timeout 1 /s/bad-hpack
probe "/s/goaway: GOAWAY NO_ERROR last=3, stream 3 answered, stream 5 not, then close" \
	'r["goaway"][0]["code"] == "NO_ERROR" and r["goaway"][0]["last"] == 3 and s[1]["data"] == 50 and s[2]["order"] == [] and r["eof"]' \
	/s/ok/10 /s/goaway/50 /s/ok/20
probe "/s/goaway-error: GOAWAY INTERNAL_ERROR last=1, then close" \
	'r["goaway"][0]["code"] == "INTERNAL_ERROR" and r["goaway"][0]["last"] == 1 and s[0]["status"] == "200" and s[1]["order"] == [] and r["eof"]' \
	/s/ok/10 /s/goaway-error/INTERNAL_ERROR /s/ok/30
probe "/s/refuse: RST_STREAM REFUSED_STREAM" \
	's[0]["order"] == ["RST_STREAM"] and s[0]["rst"] == "REFUSED_STREAM"' /s/refuse
probe "/s/rst-mid: half the body, then RST_STREAM INTERNAL_ERROR / CANCEL" \
	's[0]["data"] == 50000 and s[0]["rst"] == "INTERNAL_ERROR" and not s[0]["end"] and s[1]["data"] == 500 and s[1]["rst"] == "CANCEL"' \
	/s/rst-mid/100000 /s/rst-mid/1000/CANCEL
probe "/s/rst-before-headers: RST_STREAM INTERNAL_ERROR at once" \
	's[0]["order"] == ["RST_STREAM"] and s[0]["rst"] == "INTERNAL_ERROR"' /s/rst-before-headers
probe "/s/close-mid: half the body, then the connection ends" \
	's[0]["data"] == 50000 and not s[0]["end"] and s[0]["rst"] is None and r["eof"]' \
	/s/close-mid/100000
probe "/s/103: 103 Early Hints, then 200" \
	's[0]["informational"] == ["103"] and s[0]["status"] == "200" and raw(s[0]) == b"hinted\n"' /s/103
probe "/s/trailers: a body without content-length, then trailers" \
	's[0]["trailers"]["x-bytes"] == "1000" and raw(s[0]) == body(1000) and "content-length" not in s[0]["headers"]' \
	/s/trailers/1000
probe "/s/gzip: content-encoding gzip of body_bytes(N)" \
	's[0]["headers"]["content-encoding"] == "gzip" and gunzip(raw(s[0])) == body(10000)' /s/gzip/10000
probe "/s/redirect: 302 to /s/ok/10" \
	's[0]["status"] == "302" and s[0]["headers"]["location"] == "/s/ok/10"' /s/redirect
probe "/s/503: 503 with retry-after 1" \
	's[0]["status"] == "503" and s[0]["headers"]["retry-after"] == "1"' /s/503
probe "/s/pad: padded DATA frames" \
	's[0]["padded"] >= 1 and raw(s[0]) == body(1000)' /s/pad/1000
probe "?once=KEY: the fault the first time, /s/ok/N afterwards" \
	's[0]["status"] == "503" and s[1]["status"] == "200" and s[1]["data"] == 7' \
	"/s/503?once=probe-once&n=7" "/s/503?once=probe-once&n=7"
probe "?wait=others: the stream waits for the others" \
	's[1]["data"] == 5 and r["elapsed_ms"] >= 500' \
	"/s/ok/10?delay=0.5" "/s/ok/5?wait=others"
probe "--mode nosettings: nothing at all" \
	'r["frames"] == {} and r["timed_out"]' --port "$NOSET_PORT" --timeout 1 /s/ok/1
probe "--mode garbage-preface: an HTTP/1.1 response instead of SETTINGS" \
	'any("not HTTP/2" in e for e in r["errors"])' --port "$GARBAGE_PORT" --timeout 1 /s/ok/1
probe "--mode goaway-after=5: GOAWAY NO_ERROR last=9, streams 1-9 served" \
	'r["goaway"][0] == {"last": 9, "code": "NO_ERROR", "debug": ""} and all(x["status"] == "200" for x in s[:5]) and all(x["order"] == [] for x in s[5:]) and r["eof"]' \
	--port "$GA_PORT" /s/ok/1 /s/ok/2 /s/ok/3 /s/ok/4 /s/ok/5 /s/ok/6 /s/ok/7
probe "--mode goaway-error=PROTOCOL_ERROR:5: GOAWAY after 5 done streams" \
	'r["goaway"][0]["code"] == "PROTOCOL_ERROR" and r["goaway"][0]["last"] == 9 and r["eof"]' \
	--port "$GE_PORT" /s/ok/1 /s/ok/2 /s/ok/3 /s/ok/4 /s/ok/5 /s/ok/6 /s/ok/7
probe "--mode refuse-first=3: three REFUSED_STREAM, then served" \
	'[x["rst"] for x in s] == ["REFUSED_STREAM"] * 3 + [None] and s[3]["status"] == "200"' \
	--port "$RF_PORT" /s/ok/1 /s/ok/2 /s/ok/3 /s/ok/4
probe "--mode mcs=1: SETTINGS_MAX_CONCURRENT_STREAMS 1, streams beyond it refused before the ACK" \
	'r["server_settings"][0]["3"] == 1 and s[0]["status"] == "200" and s[1]["rst"] == "REFUSED_STREAM"' \
	--port "$MCS_PORT" /s/ok/1 /s/ok/2
probe "cleartext with prior knowledge" \
	's[0]["status"] == "200" and raw(s[0]) == body(100)' --port "$CLEAR_PORT" --clear /s/ok/100
grep -q 'refused-early' "$MCS_LOG"
ok $? "server: --mode mcs=1 logs the streams it refused before the ACK"
curl_out=$(curl -sS --cacert "$CA_FILE" --http1.1 "$S/s/ok/5" 2>&1)
is "$curl_out" "01234" "server: HTTP/1.1 by ALPN serves /s/ok/N"

# --- 2. HTTP/1.1 against h2bad (any evfetch) --------------------------------------------
HAVE_H2=0
if "$EVFETCH" --http2-prior-knowledge --version >/dev/null 2>&1; then
	HAVE_H2=1
fi
H1=()
[ "$HAVE_H2" = 0 ] || H1=(--http1.1)

N=0
# efetch ARGS...: evfetch with the test CA, no bodies unless -o is given,
# the report to $R.
efetch() {
	N=$((N + 1))
	R=$T/h2.$N.jsonl
	evf --cacert "$CA_FILE" --no-progress --report "$R" "$@"
}

# finished NAME COUNT: the last run ended by itself with status 0 or 1 and
# wrote exactly one report line for each of COUNT different URLs; loads
# OUT[url] (ok or the error kind), VER[url], BYTES[url], STATUS[url],
# ERR[url] and RETRIES[url].
declare -A OUT VER BYTES STATUS ERR RETRIES
finished() {
	local name=$1 count=$2 u k v b s e rt
	like "$EVF_RC" '^[01]$' "$name: ended by itself with exit status 0 or 1"
	OUT=() VER=() BYTES=() STATUS=() ERR=() RETRIES=()
	while IFS=$'\t' read -r u k v b s rt e; do
		OUT[$u]=$k VER[$u]=$v BYTES[$u]=$b STATUS[$u]=$s RETRIES[$u]=$rt ERR[$u]=$e
	done < <("$PYTHON3" -c '
import json, sys
for line in open(sys.argv[1], errors="replace"):
    try:
        r = json.loads(line)
    except ValueError:
        continue
    kind = "ok" if r.get("ok") else str(r.get("error_kind"))
    print("\t".join(str(x).replace("\t", " ") for x in (
        r.get("url"), kind, r.get("http_version", "<missing>"), r.get("bytes"),
        r.get("status"), r.get("retries"), r.get("error"))))
' "$R" 2>/dev/null)
	is "$(rep_lines "$R")/${#OUT[@]}" "$count/$count" "$name: one report line for each of the $count URLs"
}

# kind_is NAME URL ERE: the outcome of URL (ok or its error kind) matches.
kind_is() {
	like "${OUT[$2]-<no line>}" "^($3)\$" "$1: ${3//|/ or }"
}

efetch "${H1[@]}" -o "$T/h1.body" "$S/s/ok/1000"
finished "HTTP/1.1 by ALPN" 1
kind_is "HTTP/1.1 by ALPN" "$S/s/ok/1000" ok
"$H2_PYTHON" "$H2BAD_PY" --print-body 1000 >"$T/expect.1000"
cmp -s "$T/expect.1000" "$T/h1.body"
ok $? "HTTP/1.1 by ALPN: the body is byte-exact"
badserver_body 1000 | cmp -s - "$T/expect.1000"
ok $? "h2bad's body_bytes is badserver's"
grep -q 'alpn=http/1.1 proto=http/1.1' "$MAIN_LOG"
ok $? "HTTP/1.1 by ALPN: the server saw ALPN http/1.1"

efetch --discard "$C/s/ok/100"
finished "cleartext without prior knowledge" 1
kind_is "cleartext without prior knowledge" "$C/s/ok/100" ok
grep -q 'not the HTTP/2 preface, HTTP/1.1' "$CLEAR_LOG"
ok $? "cleartext without prior knowledge: HTTP/1.1 on the wire"

efetch --discard "https://127.0.0.1:$H11ONLY_PORT/s/ok/100"
finished "a server that does not take h2 by ALPN" 1
kind_is "a server that does not take h2 by ALPN" "https://127.0.0.1:$H11ONLY_PORT/s/ok/100" ok
grep -q 'proto=http/1.1' "$H11ONLY_LOG"
ok $? "a server that does not take h2 by ALPN: HTTP/1.1 on the wire"
if [ "$HAVE_H2" = 1 ]; then
	is "${VER[https://127.0.0.1:$H11ONLY_PORT/s/ok/100]}" 1.1 \
		"a server that does not take h2 by ALPN: http_version 1.1"
fi

# --- 3. evfetch over HTTP/2 --------------------------------------------------------------
if [ "$HAVE_H2" = 0 ]; then
	skip "evfetch has no HTTP/2 support yet (--http2-prior-knowledge is unknown)"
	done_testing
fi

# One connection per host, so that a batch shares it; an idle timeout
# that ends a hang well before the 60 s of evf.
H2=(--http2 --per-host 1 --idle-timeout 10)

# expect NAME ERE URL [ARGS...]: URL alone; its outcome matches ERE.
expect() {
	local name=$1 ere=$2 url=$3
	shift 3
	MARK=$(log_mark "$MAIN_LOG")
	efetch "${H2[@]}" --discard "$@" "$url"
	finished "$name" 1
	kind_is "$name" "$url" "$ere"
}

# batch NAME FAULT_URL ERE [ARGS...]: FAULT_URL among 20 good URLs (each
# answered 0.5 s after it arrives, so they are in flight when the fault
# comes), all on one connection; FAULT_URL's outcome matches ERE and the
# good ones all end ok, over HTTP/2, with their 1000 bytes.  Sets SEG to
# the server's log lines of the run.
BATCH=0
batch() {
	local name=$1 fault=$2 ere=$3 i u good=0 v2=0 list
	shift 3
	BATCH=$((BATCH + 1))
	list=$T/batch.$BATCH.txt
	: >"$list"
	for ((i = 1; i <= 20; i++)); do
		printf '%s\n' "$S/s/ok/1000?delay=0.5&b=$BATCH.$i" >>"$list"
		[ "$i" != 10 ] || printf '%s\n' "$fault" >>"$list"
	done
	MARK=$(log_mark "$MAIN_LOG")
	efetch "${H2[@]}" --discard -i "$list" "$@"
	finished "$name (batch)" 21
	kind_is "$name (batch)" "$fault" "$ere"
	while read -r u; do
		[ "$u" != "$fault" ] || continue
		[ "${OUT[$u]-}/${BYTES[$u]-}" != ok/1000 ] || good=$((good + 1))
		[ "${VER[$u]-}" != 2 ] || v2=$((v2 + 1))
	done <"$list"
	is "$good" 20 "$name (batch): the 20 good URLs end ok with 1000 bytes"
	is "$v2" 20 "$name (batch): over HTTP/2"
	SEG=$(log_since "$MAIN_LOG" "$MARK")
}

# one_connection NAME: the batch used one connection, with more than one
# stream at a time on it.
one_connection() {
	is "$(count_in "$SEG" ' open tls=')" 1 "$1 (batch): one connection"
	cmp_ok "$(max_field "$SEG" max_active)" -gt 1 "$1 (batch): streams were multiplexed"
}

# --- well-formed responses
MARK=$(log_mark "$MAIN_LOG")
efetch "${H2[@]}" -o "$T/ok.body" "$S/s/ok/1000"
finished "200 over h2" 1
kind_is "200 over h2" "$S/s/ok/1000" ok
is "${VER[$S/s/ok/1000]}" 2 "200 over h2: http_version 2"
cmp -s "$T/expect.1000" "$T/ok.body"
ok $? "200 over h2: the body is byte-exact"
SEG=$(log_since "$MAIN_LOG" "$MARK")
is "$(count_in "$SEG" 'alpn=h2 proto=h2')" 1 "200 over h2: ALPN h2 on the wire"

efetch --per-host 1 --discard "$S/s/ok/10"
finished "h2 is the default" 1
is "${VER[$S/s/ok/10]}" 2 "h2 is the default over https"

efetch "${H2[@]}" -o "$T/big.body" "$S/s/big/16777216"
finished "16 MiB over h2" 1
kind_is "16 MiB over h2" "$S/s/big/16777216" ok
"$H2_PYTHON" "$H2BAD_PY" --print-body 16777216 | cmp -s - "$T/big.body"
ok $? "16 MiB over h2: the body is byte-exact (the client gave window back)"

efetch "${H2[@]}" -I --discard "$S/s/ok/1000"
finished "HEAD" 1
kind_is "HEAD" "$S/s/ok/1000" ok
is "${STATUS[$S/s/ok/1000]}/${BYTES[$S/s/ok/1000]}" 200/0 "HEAD: status 200, no body"
grep -q 'req HEAD /s/ok/1000' "$MAIN_LOG"
ok $? "HEAD: the server got a HEAD"

efetch "${H2[@]}" -o "$T/hint.body" "$S/s/103"
finished "103 then 200" 1
kind_is "103 then 200" "$S/s/103" ok
is "$(cat "$T/hint.body")" hinted "103 then 200: the final body"

efetch "${H2[@]}" -o "$T/trailers.body" "$S/s/trailers/1000"
finished "trailers" 1
kind_is "trailers" "$S/s/trailers/1000" ok
cmp -s "$T/expect.1000" "$T/trailers.body"
ok $? "trailers: the body is byte-exact"

efetch "${H2[@]}" --compressed -o "$T/gzip.body" "$S/s/gzip/10000"
finished "gzip" 1
kind_is "gzip" "$S/s/gzip/10000" ok
"$H2_PYTHON" "$H2BAD_PY" --print-body 10000 | cmp -s - "$T/gzip.body"
ok $? "gzip with --compressed: the output is decoded"

efetch "${H2[@]}" -L --discard "$S/s/redirect"
finished "302 with -L" 1
kind_is "302 with -L" "$S/s/redirect" ok
is "$(rep_get "$R" effective_url)/$(rep_get "$R" redirects)/${BYTES[$S/s/redirect]}" \
	"$S/s/ok/10/1/10" "302 with -L: followed to /s/ok/10"

efetch "${H2[@]}" --retry 2 --retry-delay 0.1 --retry-max-time 2 --discard "$S/s/503?once=retry503"
finished "503 then 200 with --retry 2" 1
kind_is "503 then 200 with --retry 2" "$S/s/503?once=retry503" ok
is "${RETRIES[$S/s/503?once=retry503]}" 1 "503 then 200 with --retry 2: one retry"

efetch "${H2[@]}" --discard "$S/s/status/404"
finished "404 without -f" 1
kind_is "404 without -f" "$S/s/status/404" ok
efetch "${H2[@]}" -f --discard "$S/s/status/404"
finished "404 with -f" 1
kind_is "404 with -f" "$S/s/status/404" http

expect "a header block in HEADERS + 5 CONTINUATION" ok "$S/s/continuation/5"
expect "padded DATA frames" ok "$S/s/pad/1000"
MARK=$(log_mark "$MAIN_LOG")
expect "10 PINGs, answered" ok "$S/s/ping/10"
grep -q '10 of 10 PINGs acked' <<<"$(log_since "$MAIN_LOG" "$MARK")"
ok $? "10 PINGs: the client acknowledged them all"

efetch "${H2[@]}" --http1.1 --discard "$S/s/ok/100"
finished "--http1.1" 1
is "${VER[$S/s/ok/100]}" 1.1 "--http1.1: http_version 1.1"

MARK=$(log_mark "$CLEAR_LOG")
efetch --http2-prior-knowledge --discard "$C/s/ok/1000"
finished "--http2-prior-knowledge" 1
kind_is "--http2-prior-knowledge" "$C/s/ok/1000" ok
is "${VER[$C/s/ok/1000]}" 2 "--http2-prior-knowledge: http_version 2"
grep -q 'cleartext: HTTP/2 preface' <<<"$(log_since "$CLEAR_LOG" "$MARK")"
ok $? "--http2-prior-knowledge: the preface on the wire"

# 50 URLs, one connection, streams side by side.
: >"$T/mux.txt"
for ((i = 1; i <= 50; i++)); do
	printf '%s\n' "$S/s/ok/2000?delay=0.3&m=$i" >>"$T/mux.txt"
done
MARK=$(log_mark "$MAIN_LOG")
efetch "${H2[@]}" --discard -i "$T/mux.txt"
finished "50 URLs multiplexed" 50
is "$(rep_count "$R" 'r["ok"] and r["bytes"] == 2000')" 50 "50 URLs multiplexed: all ok"
SEG=$(log_since "$MAIN_LOG" "$MARK")
one_connection "50 URLs multiplexed"
cmp_ok "$EVF_MS" -lt 5000 "50 URLs multiplexed: not one after the other ($EVF_MS ms)"

# --- faults of one stream: alone, then among 20 good URLs
# stream_fault NAME ERE PATH [ARGS...]: PATH alone, then in a batch (with
# ?batch=N added, so that it is a URL of its own); an @ in PATH becomes a
# key of its own for each run (for ?once=@).
stream_fault() {
	local name=$1 ere=$2 path=$3 sep='?'
	shift 3
	[[ $path != *\?* ]] || sep='&'
	expect "$name" "$ere" "$S${path//@/single$BATCH}" "$@"
	batch "$name" "$S${path//@/batch$BATCH}${sep}batch=$BATCH" "$ere" "$@"
	one_connection "$name"
}

stream_fault "body longer than content-length" protocol /s/cl-over/1000
stream_fault "body shorter than content-length" 'protocol|truncated' /s/cl-under/1000
stream_fault "connection: keep-alive" protocol /s/forbidden/connection
stream_fault "transfer-encoding: chunked" protocol /s/forbidden/transfer-encoding
stream_fault "keep-alive header" protocol /s/forbidden/keep-alive
stream_fault "upgrade header" protocol /s/forbidden/upgrade
stream_fault "an upper-case header name" protocol /s/upper-header
stream_fault ":status after a regular header" protocol /s/pseudo-after
stream_fault "an unknown pseudo-header" protocol /s/unknown-pseudo
stream_fault "no :status" protocol /s/no-status
stream_fault ":status abc" protocol /s/bad-status/abc
stream_fault ":status 99" protocol /s/bad-status/99
stream_fault "trailers without END_STREAM, then DATA" protocol /s/trailer-not-last
stream_fault "5000 headers" 'too_large|protocol' /s/many-headers/5000
stream_fault "RST_STREAM INTERNAL_ERROR mid-body" network /s/rst-mid/100000
like "${ERR[$S/s/rst-mid/100000?batch=$((BATCH - 1))]-}" '[Rr]eset.*INTERNAL_ERROR|INTERNAL_ERROR.*[Rr]eset' \
	"RST_STREAM INTERNAL_ERROR mid-body: the detail names the reset and INTERNAL_ERROR"
stream_fault "RST_STREAM CANCEL mid-body" network /s/rst-mid/100000/CANCEL
like "${ERR[$S/s/rst-mid/100000/CANCEL?batch=$((BATCH - 1))]-}" '[Rr]eset.*CANCEL|CANCEL.*[Rr]eset' \
	"RST_STREAM CANCEL mid-body: the detail names the reset and CANCEL"
stream_fault "RST_STREAM before the headers" network /s/rst-before-headers
stream_fault "a stalled stream, --idle-timeout 2" timeout /s/stall --idle-timeout 2
stream_fault "WINDOW_UPDATE overflow on the stream" 'protocol|network' /s/window-overflow/stream
# REFUSED_STREAM: the client tries the stream again, on this connection or
# a new one, and every URL ends ok (no --retry needed).
expect "REFUSED_STREAM once" ok "$S/s/refuse?once=single$BATCH"
batch "REFUSED_STREAM once" "$S/s/refuse?once=batch$BATCH" ok

# GOAWAY NO_ERROR mid-batch: the streams above last_stream_id go to a new
# connection, and every URL ends ok (no --retry needed).
expect "GOAWAY NO_ERROR, last_stream_id = this stream" ok "$S/s/goaway/100"
batch "GOAWAY NO_ERROR, last_stream_id = this stream" "$S/s/goaway/100?batch=$BATCH" ok
is "${BYTES[$S/s/goaway/100?batch=$((BATCH - 1))]}" 100 "GOAWAY NO_ERROR (batch): the stream itself was answered"
cmp_ok "$(count_in "$SEG" ' open tls=')" -ge 2 "GOAWAY NO_ERROR (batch): the URLs above it went to a new connection"
is "$(count_in "$SEG" 'goaway-sent code=NO_ERROR')" 1 "GOAWAY NO_ERROR (batch): one GOAWAY"

# --- faults of the whole connection: alone, then after 20 good URLs are done
# conn_fault NAME ERE PATH [ARGS...]: the batch URL waits (?wait=others)
# until the 20 good ones are over, so those must be ok whatever the
# fault does to the connection.
conn_fault() {
	local name=$1 ere=$2 path=$3 sep='?'
	shift 3
	[[ $path != *\?* ]] || sep='&'
	expect "$name" "$ere" "$S${path//@/single$BATCH}" "$@"
	batch "$name" "$S${path//@/batch$BATCH}${sep}wait=others" "$ere" "$@"
}

conn_fault "PUSH_PROMISE while push is off" 'protocol|network' /s/push
conn_fault "WINDOW_UPDATE overflow on the connection" 'protocol|network' /s/window-overflow
conn_fault "CONTINUATION flood" 'protocol|too_large|network' /s/continuation-flood
conn_fault "one 200 KiB header" 'too_large|protocol|network' /s/big-header/204800
# (the headers came first, so the body was cut short)
conn_fault "a DATA frame past SETTINGS_MAX_FRAME_SIZE" 'protocol|network|truncated' /s/huge-frame
conn_fault "a header block that does not decode" 'protocol|network' /s/bad-hpack
conn_fault "DATA before HEADERS" 'protocol|network' /s/data-first
conn_fault "the connection closed mid-body" 'truncated|network' /s/close-mid/100000
conn_fault "a TCP RST mid-body" 'network|truncated' "/s/close-mid/100000?rst=1"
conn_fault "GOAWAY PROTOCOL_ERROR (once), the stream above last_stream_id" ok \
	"/s/goaway-error/PROTOCOL_ERROR?once=@"

# DATA after END_STREAM: the response was whole when it came; either the
# client already finished it or it calls the connection broken.
expect "DATA after END_STREAM" 'ok|protocol' "$S/s/data-after-end"
[ "${OUT[$S/s/data-after-end]}" != ok ] || is "${BYTES[$S/s/data-after-end]}" 10 \
	"DATA after END_STREAM: ok means the 10 bytes before it"
batch "DATA after END_STREAM" "$S/s/data-after-end?wait=others" 'ok|protocol'

# Floods: a client may refuse them (protocol or network) or keep up with
# them; keeping up means answering every one, and then the response is ok.
for flood in ping-flood settings-flood; do
	MARK=$(log_mark "$MAIN_LOG")
	expect "/s/$flood" 'ok|protocol|network' "$S/s/$flood/10000"
	SEG=$(log_since "$MAIN_LOG" "$MARK")
	if [ "${OUT[$S/s/$flood/10000]}" = ok ]; then
		if [ "$flood" = ping-flood ]; then
			cmp_ok "$(max_field "$SEG" pings_acked)" -ge 10000 "/s/$flood: ok, and every PING was answered"
		else
			cmp_ok "$(max_field "$SEG" settings_acks)" -ge 10001 "/s/$flood: ok, and every SETTINGS was answered"
		fi
	else
		pass "/s/$flood: refused (${OUT[$S/s/$flood/10000]})"
	fi
	batch "/s/$flood" "$S/s/$flood/10000?wait=others" 'ok|protocol|network'
done
expect "a PING flood while the server reads nothing" 'ok|protocol|network' \
	"$S/s/ping-flood/200000?noread=1"

# A connection fault with streams in flight: they end (protocol or network,
# or ok when the client tries them again on a new connection), none hangs.
: >"$T/inflight.txt"
for ((i = 1; i <= 5; i++)); do
	printf '%s\n' "$S/s/ok/1000?delay=1&inflight=$i" >>"$T/inflight.txt"
done
printf '%s\n' "$S/s/push?inflight" >>"$T/inflight.txt"
efetch "${H2[@]}" --discard -i "$T/inflight.txt"
finished "PUSH_PROMISE with 5 streams in flight" 6
kind_is "PUSH_PROMISE with 5 streams in flight" "$S/s/push?inflight" 'protocol|network'
is "$(rep_count "$R" 'r["ok"] or r["error_kind"] in ("protocol", "network")')" 6 \
	"PUSH_PROMISE with 5 streams in flight: each ends ok, protocol or network"
cmp_ok "$EVF_MS" -lt 20000 "PUSH_PROMISE with 5 streams in flight: over in time"

# A stream that is always refused: the transparent retries must stop.
expect "REFUSED_STREAM every time" 'network|protocol' "$S/s/refuse"
cmp_ok "$EVF_MS" -lt 30000 "REFUSED_STREAM every time: given up in time ($EVF_MS ms)"

# --- servers in a mode from the start
# mode_batch NAME PORT LOG COUNT [ARGS...]: COUNT good URLs to one mode
# server; all must end ok over HTTP/2.  Sets SEG.
mode_batch() {
	local name=$1 port=$2 log=$3 count=$4 i
	shift 4
	: >"$T/mode.txt"
	for ((i = 1; i <= count; i++)); do
		printf '%s\n' "https://127.0.0.1:$port/s/ok/1000?delay=0.1&u=$N.$i" >>"$T/mode.txt"
	done
	MARK=$(log_mark "$log")
	efetch "${H2[@]}" --discard -i "$T/mode.txt" "$@"
	finished "$name" "$count"
	is "$(rep_count "$R" 'r["ok"] and r["status"] == 200 and r["bytes"] == 1000 and r.get("http_version") == "2"')" \
		"$count" "$name: all $count end ok over HTTP/2"
	SEG=$(log_since "$log" "$MARK")
}

efetch "${H2[@]}" --discard --connect-timeout 2 --idle-timeout 2 -m 10 \
	"https://127.0.0.1:$NOSET_PORT/s/ok/1"
finished "no SETTINGS from the server" 1
kind_is "no SETTINGS from the server" "https://127.0.0.1:$NOSET_PORT/s/ok/1" timeout
cmp_ok "$EVF_MS" -lt 15000 "no SETTINGS from the server: given up in time ($EVF_MS ms)"

efetch "${H2[@]}" --discard "https://127.0.0.1:$GARBAGE_PORT/s/ok/1"
finished "HTTP/1.1 bytes instead of SETTINGS" 1
kind_is "HTTP/1.1 bytes instead of SETTINGS" "https://127.0.0.1:$GARBAGE_PORT/s/ok/1" 'protocol|network'

mode_batch "GOAWAY NO_ERROR after 5 requests, 20 URLs" "$GA_PORT" "$GA_LOG" 20
cmp_ok "$(count_in "$SEG" ' open tls=')" -ge 4 "GOAWAY after 5: at least 4 connections"
cmp_ok "$(count_in "$SEG" 'goaway-sent code=NO_ERROR')" -ge 3 "GOAWAY after 5: at least 3 GOAWAYs (the retried streams shared new connections)"

mode_batch "GOAWAY PROTOCOL_ERROR after 5 done, 20 URLs" "$GE_PORT" "$GE_LOG" 20
cmp_ok "$(count_in "$SEG" ' open tls=')" -ge 4 "GOAWAY PROTOCOL_ERROR after 5: at least 4 connections"
mode_batch "GOAWAY INTERNAL_ERROR after 3 done, 20 URLs" "$GEI_PORT" "$GEI_LOG" 20
cmp_ok "$(count_in "$SEG" 'goaway-sent code=INTERNAL_ERROR')" -ge 6 \
	"GOAWAY INTERNAL_ERROR after 3: at least 6 GOAWAYs (the retried streams shared new connections)"

mode_batch "REFUSED_STREAM for the first 3 streams, 20 URLs" "$RF_PORT" "$RF_LOG" 20
# a refused stream is tried again first, so its retry can be one of the
# first three requests, which the server then serves: at least two refusals
cmp_ok "$(count_in "$SEG" 'refused \(refuse-first=3\)')" -ge 2 "refuse-first=3: streams were refused"

mode_batch "MAX_CONCURRENT_STREAMS 1, 20 URLs" "$MCS_PORT" "$MCS_LOG" 20
is "$(count_in "$SEG" 'mcs-violation')" 0 "MAX_CONCURRENT_STREAMS 1: the client never opened a second stream"
is "$(max_field "$SEG" max_active)" 1 "MAX_CONCURRENT_STREAMS 1: the server never saw 2 streams at once"
is "$(max_field "$SEG" violations)" 0 "MAX_CONCURRENT_STREAMS 1: no violation counted"

# --- the server never saw the client break HTTP/2 itself
for log in "$MAIN_LOG" "$CLEAR_LOG" "$GA_LOG" "$GE_LOG" "$GEI_LOG" "$RF_LOG" "$MCS_LOG"; do
	is "$(grep -c 'client-error' "$log")" 0 "no HTTP/2 error by the client in ${log##*/}" ||
		diag "$(grep 'client-error' "$log" | head -n 5)"
done

done_testing
