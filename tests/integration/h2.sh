#!/bin/bash
# h2.sh - evfetch over HTTP/2 against real servers: nginx with h2 on its TLS
# port (ALPN) and cleartext h2 (prior knowledge) on another, and h2o.
#
# One connection carries many streams (1,000 URLs, one connection); nginx's
# GOAWAY after 1,000 requests on a connection is invisible (2,500 URLs, 3
# connections, all ok, each request served once); a second connection opens
# only when the server's 128 streams are taken; --per-host still bounds
# connections; HEAD, redirects, gzip and deflate, --max-filesize, --retry,
# idle and total timeouts, request headers and byte-exact files work over
# h2; --http1.1 and plain http:// give HTTP/1.1; --http2-prior-knowledge
# speaks h2 over http://; the report's "http_version" and -v name the
# protocol.
#
# The CLI contract (HTTP/2 being added): over https ALPN offers h2 then
# http/1.1 (--http2, the default); --http1.1 forces HTTP/1.1;
# --http2-prior-knowledge speaks h2 over http://; the report gains
# "http_version" ("2", "1.1"); -v names the protocol as HTTP/2 or HTTP/1.1.
# While evfetch's --help does not mention --http2-prior-knowledge, the
# checks that only hold over h2 are skipped and the rest run over HTTP/1.1;
# EVFETCH_TEST_H2=1 runs them all anyway.
if [ -z "${BASH_VERSION:-}" ]; then exec bash "$0" "$@"; fi
: "${TOP_SRCDIR:=$(cd "$(dirname "$0")/../.." && pwd)}"
. "$TOP_SRCDIR/tests/lib/common.sh"
. "$TOP_SRCDIR/tests/lib/nginx.sh"
. "$TOP_SRCDIR/tests/lib/h2o.sh"

need_evfetch
need_python

HAVE_H2=${EVFETCH_TEST_H2:-0}
if "$EVFETCH" --help 2>&1 | grep -q -e '--http2-prior-knowledge'; then
	HAVE_H2=1
fi
NOH2="evfetch has no HTTP/2 yet"
if [ "$HAVE_H2" = 1 ]; then
	H2=(--http2)
	H11=(--http1.1)
else
	diag "$NOH2 (no --http2-prior-knowledge in --help): the checks that"
	diag "hold only over HTTP/2 are skipped, the others run over HTTP/1.1"
	H2=()
	H11=()
fi

# h2only CHECK ARGS...: a check that holds only when evfetch speaks HTTP/2;
# skipped (one test) when it does not yet.
h2only() {
	if [ "$HAVE_H2" = 1 ]; then
		"$@"
	else
		skip "$NOH2"
	fi
}

NGINX_H2=1 start_nginx "$T/nginx"
B=https://127.0.0.1:$HTTPS_PORT
H=http://127.0.0.1:$HTTP_PORT
C=http://127.0.0.1:$H2C_PORT
# 3 KiB at nginx's 1 KiB/s (/slow/): a transfer that stays open ~2-3 s.
head -c 3072 /dev/urandom >"$WWW_DIR/3k.bin"

# log_of PORT ERE: nginx's access log lines of PORT whose request line
# ("METHOD PATH PROTOCOL") matches ERE.
log_of() {
	nginx_log_lines "$1" | grep -E " \"$2"
}
# conns_of PORT ERE: how many connections carried those requests.
conns_of() {
	log_of "$1" "$2" | awk '{ print $2 }' | sort -u | wc -l
}
# protos_of PORT ERE: the protocols of those requests, sorted, one a line.
protos_of() {
	log_of "$1" "$2" | sed -n 's/.* proto=\([^ ]*\) .*/\1/p' | sort -u
}
# urls FILE BASE PATH N: BASE/PATH1 .. BASE/PATHN, one a line, into FILE.
urls() {
	local i
	for ((i = 1; i <= $4; i++)); do
		printf '%s%s%d\n' "$2" "$3" "$i"
	done >"$1"
}
all_h2() {
	is "$(rep_count "$R" 'r.get("http_version") == "2"')" "$1" "$2: http_version \"2\" on every line"
}

# --- 1,000 URLs to one host: one connection ------------------------------------
urls "$T/urls-1000" "$B" /n/one- 1000
R=$T/one.jsonl
evf "${H2[@]}" --cacert "$CA_FILE" -i "$T/urls-1000" --discard --no-progress --report "$R"
is "$EVF_RC" 0 "1000 URLs: exit status 0"
is "$(rep_lines "$R")" 1000 "1000 URLs: 1000 report lines"
report_ok "$R" "1000 URLs: every report line is well-formed"
is "$(rep_count "$R" 'r["ok"] is True and r["status"] == 200')" 1000 "1000 URLs: all ok, status 200"
is "$(rep_count "$R" 'r["bytes"] == 7 + len(r["url"].rsplit("/", 1)[1])')" 1000 \
	"1000 URLs: every body has its exact size"
is "$(rep_count "$R" 'r["tls_version"] in ("TLSv1.2", "TLSv1.3")')" 1000 \
	"1000 URLs: tls_version on every line"
h2only all_h2 1000 "1000 URLs"
is "$(log_of "$HTTPS_PORT" 'GET /n/one-[0-9]+ ' | wc -l)" 1000 "1000 URLs: nginx served 1000 requests"
h2only is "$(protos_of "$HTTPS_PORT" 'GET /n/one-')" HTTP/2.0 "1000 URLs: nginx saw HTTP/2.0 only"
conns=$(conns_of "$HTTPS_PORT" 'GET /n/one-')
h2only is "$conns" 1 "1000 URLs: one connection (nginx saw $conns)"
cmp_ok "$conns" -le 50 "1000 URLs: at most -c 50 connections (nginx saw $conns)"

# --- 2,500 URLs: nginx's GOAWAY after 1,000 requests is invisible -------------
urls "$T/urls-2500" "$B" /n/three- 2500
R=$T/three.jsonl
evf "${H2[@]}" --cacert "$CA_FILE" -i "$T/urls-2500" --discard --no-progress --report "$R"
is "$EVF_RC" 0 "2500 URLs: exit status 0"
is "$(rep_lines "$R")" 2500 "2500 URLs: 2500 report lines"
is "$(rep_count "$R" 'r["ok"] is True and r["status"] == 200')" 2500 "2500 URLs: all ok, status 200"
is "$(rep_count "$R" 'r["retries"] == 0')" 2500 "2500 URLs: no retries counted (GOAWAY is not a failure)"
is "$(grep -c '^evfetch: https\?://' "$EVF_ERR")" 0 "2500 URLs: no error line"
h2only all_h2 2500 "2500 URLs"
log_of "$HTTPS_PORT" 'GET /n/three-[0-9]+ ' | grep -oE '/n/three-[0-9]+' | sort >"$T/three.served"
is "$(wc -l <"$T/three.served")" 2500 "2500 URLs: nginx served 2500 requests"
is "$(uniq -d "$T/three.served" | head -n 3)" "" "2500 URLs: none of them twice"
conns=$(conns_of "$HTTPS_PORT" 'GET /n/three-')
h2only is "$conns" 3 "2500 URLs: three connections of 1000 requests at most (nginx saw $conns)"
is "$(log_of "$HTTPS_PORT" 'GET /n/three-' | awk '$3 > 1000' | wc -l)" 0 \
	"2500 URLs: no connection carried more than 1000 requests"

# --- streams first, then more connections -----------------------------------------
# Transfers that stay open ~3 s: all of -c N are in flight at once.
urls "$T/urls-slow100" "$B" "/slow/3k.bin?c100=" 100
R=$T/c100.jsonl
evf "${H2[@]}" -c 100 --cacert "$CA_FILE" -i "$T/urls-slow100" --discard --no-progress --report "$R"
is "$(rep_count "$R" 'r["ok"] and r["bytes"] == 3072')" 100 "-c 100, slow: all 100 ok, 3072 bytes"
conns=$(conns_of "$HTTPS_PORT" 'GET /slow/3k.bin\?c100=')
h2only is "$conns" 1 "-c 100, slow: 100 streams fit nginx's 128: one connection (nginx saw $conns)"

urls "$T/urls-slow300" "$B" "/slow/3k.bin?c300=" 300
R=$T/c300.jsonl
evf "${H2[@]}" -c 300 --cacert "$CA_FILE" -i "$T/urls-slow300" --discard --no-progress --report "$R"
is "$EVF_RC" 0 "-c 300, slow: exit status 0"
is "$(rep_count "$R" 'r["ok"] and r["bytes"] == 3072')" 300 "-c 300, slow: all 300 ok, 3072 bytes"
h2only all_h2 300 "-c 300, slow"
conns=$(conns_of "$HTTPS_PORT" 'GET /slow/3k.bin\?c300=')
h2only cmp_ok "$conns" -le 3 "-c 300, slow: at most ceil(300/128) = 3 connections (nginx saw $conns)"
cmp_ok "$conns" -le 300 "-c 300, slow: at most 300 connections (nginx saw $conns)"

urls "$T/urls-ph" "$B" /n/perhost- 600
R=$T/perhost.jsonl
evf "${H2[@]}" -c 300 --per-host 2 --cacert "$CA_FILE" -i "$T/urls-ph" --discard \
	--no-progress --report "$R"
is "$EVF_RC" 0 "--per-host 2 -c 300: exit status 0"
is "$(rep_count "$R" 'r["ok"]')" 600 "--per-host 2 -c 300: all 600 ok"
conns=$(conns_of "$HTTPS_PORT" 'GET /n/perhost-')
cmp_ok "$conns" -le 2 "--per-host 2 -c 300: at most 2 connections (nginx saw $conns)"

# Over HTTP/1.1 this would take 200 x 3 s: only with HTTP/2.
if [ "$HAVE_H2" = 1 ]; then
	urls "$T/urls-ph1" "$B" "/slow/3k.bin?ph1=" 200
	R=$T/perhost1.jsonl
	evf --http2 -c 200 --per-host 1 --cacert "$CA_FILE" -i "$T/urls-ph1" --discard \
		--no-progress --report "$R"
	is "$(rep_count "$R" 'r["ok"] and r["bytes"] == 3072')" 200 \
		"--per-host 1 -c 200, slow: all 200 ok over one connection's streams"
	cmp_ok "$EVF_MS" -lt 30000 "--per-host 1 -c 200, slow: streams in parallel (${EVF_MS} ms)"
	conns=$(conns_of "$HTTPS_PORT" 'GET /slow/3k.bin\?ph1=')
	is "$conns" 1 "--per-host 1 -c 200, slow: one connection (nginx saw $conns)"
else
	skip "$NOH2" 3
fi

# --- byte-exact files ----------------------------------------------------------------
mkdir -p "$T/dl"
R=$T/files.jsonl
evf "${H2[@]}" --cacert "$CA_FILE" -d "$T/dl" --no-progress --report "$R" \
	"$B/1k.bin" "$B/16k.bin" "$B/1m.bin" "$B/hello.txt" "$B/3k.bin"
is "$EVF_RC" 0 "-d with five files: exit status 0"
for f in 1k.bin 16k.bin 1m.bin hello.txt 3k.bin; do
	cmp -s "$WWW_DIR/$f" "$T/dl/$f"
	ok $? "-d: $f is byte-exact"
done
is "$(files_in "$T/dl")" "$(printf '%s\n' 16k.bin 1k.bin 1m.bin 3k.bin hello.txt)" \
	"-d: exactly the five files, nothing else"
h2only all_h2 5 "-d"

evf "${H2[@]}" --cacert "$CA_FILE" --no-progress "$B/1m.bin"
is "$EVF_RC" 0 "1m.bin to standard output: exit status 0"
cmp -s "$WWW_DIR/1m.bin" "$EVF_OUT"
ok $? "1m.bin to standard output: byte-exact"

# --- HEAD ----------------------------------------------------------------------------
R=$T/head.jsonl
evf "${H2[@]}" -I --cacert "$CA_FILE" --discard --no-progress --report "$R" \
	"$B/hello.txt?head" "$B/1m.bin?head"
is "$EVF_RC" 0 "-I: exit status 0"
is "$(rep_count "$R" 'r["ok"] and r["status"] == 200 and r["bytes"] == 0')" 2 \
	"-I: both ok, status 200, no body bytes"
is "$(rep_get "$R" content_length "$B/1m.bin?head")" 1048576 "-I: content_length of 1m.bin"
cmp_ok "$EVF_MS" -lt 10000 "-I: no waiting for a body that never comes"
is "$(log_of "$HTTPS_PORT" 'HEAD /(hello.txt|1m.bin)\?head ' | wc -l)" 2 "-I: nginx saw two HEAD requests"
h2only is "$(protos_of "$HTTPS_PORT" 'HEAD /(hello.txt|1m.bin)\?head ')" HTTP/2.0 "-I: over HTTP/2"
h2only all_h2 2 "-I"

# --- redirects -----------------------------------------------------------------------
R=$T/redir.jsonl
evf "${H2[@]}" -L --cacert "$CA_FILE" --discard --no-progress --report "$R" \
	"$B/redirect" "$B/redirect301"
is "$EVF_RC" 0 "-L: exit status 0"
for u in redirect redirect301; do
	is "$(rep_get "$R" status "$B/$u")/$(rep_get "$R" redirects "$B/$u")/$(rep_get "$R" bytes "$B/$u")" \
		200/1/6 "-L /$u: status 200 after 1 redirect, 6 bytes"
	is "$(rep_get "$R" effective_url "$B/$u")" "$B/hello.txt" "-L /$u: ends at /hello.txt"
done
h2only all_h2 2 "-L"
h2only is "$(protos_of "$HTTPS_PORT" 'GET /redirect')" HTTP/2.0 "-L: the redirects came over HTTP/2"

# --- decoding --------------------------------------------------------------------------
nginx_encoded big 8 || bail_out "could not write the encoded files"
mkdir -p "$T/gz"
for kind in gzip deflate dyngzip; do
	evf "${H2[@]}" --compressed --cacert "$CA_FILE" --no-progress \
		--report "$T/gz/$kind.jsonl" -o "$T/gz/$kind.out" "$B/$kind/big"
	is "$EVF_RC" 0 "--compressed /$kind/big: exit status 0"
	cmp -s "$WWW_DIR/big" "$T/gz/$kind.out"
	ok $? "--compressed /$kind/big: decoded byte-exact (8 MiB)"
done
R=$T/gzip.jsonl
cat "$T/gz/"*.jsonl >"$R"
h2only all_h2 3 "--compressed"
sent=$(log_of "$HTTPS_PORT" 'GET /dyngzip/big ' | awk '{ print $8 }')
cmp_ok "${sent:-0}" -lt 1048576 "/dyngzip/big: nginx gzipped it on the fly (sent ${sent:-0} bytes)"
cmp_ok "${sent:-0}" -gt 0 "/dyngzip/big: nginx sent something"

# --- --max-filesize --------------------------------------------------------------------
R=$T/maxsize.jsonl
evf "${H2[@]}" --max-filesize 16K --compressed --cacert "$CA_FILE" --discard --no-progress \
	--report "$R" "$B/1m.bin?mf" "$B/16k.bin?mf" "$B/dyngzip/big?mf" "$B/hello.txt?mf"
is "$EVF_RC" 1 "--max-filesize 16K: exit status 1"
is "$(rep_get "$R" error_kind "$B/1m.bin?mf")" too_large "--max-filesize 16K: 1m.bin is too_large"
is "$(rep_get "$R" error_kind "$B/dyngzip/big?mf")" too_large \
	"--max-filesize 16K: 8 MiB gzipped on the fly (no length) is too_large"
is "$(rep_get "$R" ok "$B/16k.bin?mf")/$(rep_get "$R" bytes "$B/16k.bin?mf")" true/16384 \
	"--max-filesize 16K: 16k.bin is ok"
is "$(rep_get "$R" ok "$B/hello.txt?mf")" true "--max-filesize 16K: hello.txt next to them is ok"
h2only is "$(rep_get "$R" http_version "$B/hello.txt?mf")" 2 "--max-filesize: over HTTP/2"

# --- --retry -----------------------------------------------------------------------------
R=$T/retry503.jsonl
evf "${H2[@]}" -f --retry 2 --retry-delay 0.1 --cacert "$CA_FILE" --discard --no-progress \
	--report "$R" "$B/status/503?u=r1"
is "$EVF_RC/$(rep_get "$R" status)/$(rep_get "$R" error_kind)" 1/503/http \
	"503 on every try, --retry 2 -f: status 503, error_kind http"
is "$(rep_get "$R" retries)" 2 "503 on every try: retries 2"
is "$(log_of "$HTTPS_PORT" 'GET /status/503\?u=r1 ' | wc -l)" 3 "503 on every try: nginx saw 3 requests"
h2only is "$(protos_of "$HTTPS_PORT" 'GET /status/503\?u=r1 ')" HTTP/2.0 "503 on every try: over HTTP/2"

# /maybe/r2 answers 503 until the file exists: made once nginx logged the
# first try, long before the retry delay is up.
rm -rf "$WWW_DIR/maybe"
(
	for _ in $(seq 400); do
		grep -q '"GET /maybe/r2 ' "$NGINX_ACCESS_LOG" && break
		sleep 0.02
	done
	mkdir -p "$WWW_DIR/maybe" && printf 'maybe\n' >"$WWW_DIR/maybe/r2.tmp" &&
		mv "$WWW_DIR/maybe/r2.tmp" "$WWW_DIR/maybe/r2"
) &
maker=$!
R=$T/retry-ok.jsonl
evf "${H2[@]}" --retry 3 --retry-delay 1 --cacert "$CA_FILE" --no-progress --report "$R" \
	-o "$T/maybe.out" "$B/maybe/r2"
wait "$maker"
is "$EVF_RC/$(rep_get "$R" ok)/$(rep_get "$R" status)" 0/true/200 "503, then 200 with --retry 3: ok, status 200"
like "$(rep_get "$R" retries)" '^[123]$' "503, then 200: 1 to 3 retries"
is "$(cat "$T/maybe.out" 2>/dev/null)" maybe "503, then 200: the body of the last try"
h2only is "$(rep_get "$R" http_version)" 2 "503, then 200: over HTTP/2"

# --- timeouts -------------------------------------------------------------------------------
# /delay/KEY answers the first request of a minute at once, makes the next wait ~60 s.
R=$T/idle.jsonl
evf "${H2[@]}" -c 3 --idle-timeout 1 --cacert "$CA_FILE" --discard --no-progress --report "$R" \
	"$B/delay/idle?a" "$B/delay/idle?b" "$B/n/idle-other"
is "$(rep_count "$R" 'r["url"].startswith("'"$B"'/delay/idle") and r["ok"]')" 1 \
	"--idle-timeout 1: one of two /delay/idle requests answered at once"
is "$(rep_count "$R" 'r["error_kind"] == "timeout"')" 1 "--idle-timeout 1: the other timed out"
is "$(rep_get "$R" ok "$B/n/idle-other")" true "--idle-timeout 1: a third transfer next to it is ok"
cmp_ok "$EVF_MS" -lt 10000 "--idle-timeout 1: done in ${EVF_MS} ms, not after nginx's 60 s"
h2only is "$(rep_get "$R" http_version "$B/n/idle-other")" 2 "--idle-timeout: over HTTP/2"

R=$T/maxtime.jsonl
evf "${H2[@]}" -m 1 --cacert "$CA_FILE" --discard --no-progress --report "$R" \
	"$B/slow/16k.bin?mt" "$B/hello.txt?mt"
is "$(rep_get "$R" error_kind "$B/slow/16k.bin?mt")" timeout "-m 1 on a 16 s body: timeout"
is "$(rep_get "$R" ok "$B/hello.txt?mt")" true "-m 1: a quick transfer next to it is ok"
cmp_ok "$EVF_MS" -lt 10000 "-m 1: done in ${EVF_MS} ms"

# --- request headers, Host and :authority, -f ----------------------------------------
evf "${H2[@]}" --cacert "$CA_FILE" -H 'X-Test: evfetch-h2-123' -A 'evfetch-h2-agent/2' \
	--no-progress -d "$T/hdr" "$B/x-test" "$B/ua" "$B/host"
is "$(cat "$T/hdr/x-test" 2>/dev/null)" evfetch-h2-123 "-H: the header reached nginx"
is "$(cat "$T/hdr/ua" 2>/dev/null)" evfetch-h2-agent/2 "-A: the User-Agent reached nginx"
is "$(cat "$T/hdr/host" 2>/dev/null)" "127.0.0.1:$HTTPS_PORT" "the host and non-default port reached nginx"
evf "${H2[@]}" --cacert "$CA_FILE" -H 'Host: other.test' --no-progress -o "$T/host-other" "$B/host"
is "$(cat "$T/host-other" 2>/dev/null)" other.test "-H 'Host: other.test' replaces the host"
evf "${H2[@]}" --cacert "$CA_FILE" --resolve "evfetch.test:$HTTPS_PORT:127.0.0.1" --no-progress \
	-o "$T/host-name" "https://evfetch.test:$HTTPS_PORT/host"
is "$(cat "$T/host-name" 2>/dev/null)" "evfetch.test:$HTTPS_PORT" "--resolve: the name reached nginx"

R=$T/fail.jsonl
evf "${H2[@]}" -f --cacert "$CA_FILE" --discard --no-progress --report "$R" \
	"$B/hello.txt?f" "$B/status/404?f"
is "$EVF_RC" 1 "-f with a 404: exit status 1"
is "$(rep_get "$R" status "$B/status/404?f")/$(rep_get "$R" error_kind "$B/status/404?f")" 404/http \
	"-f: the 404 has status 404, error_kind http"
is "$(rep_get "$R" ok "$B/hello.txt?f")" true "-f: the other URL is ok"

# --- which protocol, and saying it -------------------------------------------------------
R=$T/h11.jsonl
evf "${H11[@]}" --cacert "$CA_FILE" --discard --no-progress --report "$R" "$B/n/h11-1" "$B/n/h11-2"
is "$(rep_count "$R" 'r["ok"]')" 2 "--http1.1: ok"
h2only is "$(rep_count "$R" 'r.get("http_version") == "1.1"')" 2 "--http1.1: http_version \"1.1\""
is "$(protos_of "$HTTPS_PORT" 'GET /n/h11-')" HTTP/1.1 "--http1.1: nginx saw HTTP/1.1 (ALPN)"

R=$T/plain.jsonl
evf --discard --no-progress --report "$R" "$H/n/plain-1"
is "$(rep_get "$R" ok)" true "plain http://: ok"
h2only is "$(rep_get "$R" http_version)" 1.1 "plain http://: http_version \"1.1\""
is "$(protos_of "$HTTP_PORT" 'GET /n/plain-')" HTTP/1.1 "plain http://: nginx saw HTTP/1.1"

R=$T/default.jsonl
evf --cacert "$CA_FILE" --discard --no-progress --report "$R" "$B/n/default-1"
is "$(rep_get "$R" ok)" true "https without a protocol option: ok"
h2only is "$(rep_get "$R" http_version)" 2 "https without a protocol option: HTTP/2 by default"

evf -v --cacert "$CA_FILE" --discard --no-progress "$B/n/verbose-2"
h2only like "$(grep -F "$B/n/verbose-2" "$EVF_ERR")" 'HTTP/2' "-v names HTTP/2"
evf -v "${H11[@]}" --cacert "$CA_FILE" --discard --no-progress "$B/n/verbose-11"
h2only like "$(grep -F "$B/n/verbose-11" "$EVF_ERR")" 'HTTP/1\.1' "-v with --http1.1 names HTTP/1.1"

# Cleartext h2 with prior knowledge (nginx's listen ... http2 without ssl).
if [ "$HAVE_H2" = 1 ]; then
	urls "$T/urls-h2c" "$C" /n/h2c- 200
	R=$T/h2c.jsonl
	evf --http2-prior-knowledge -i "$T/urls-h2c" --discard --no-progress --report "$R"
	is "$EVF_RC" 0 "--http2-prior-knowledge, 200 URLs: exit status 0"
	is "$(rep_count "$R" 'r["ok"] and r["status"] == 200 and r["tls_version"] is None')" 200 \
		"--http2-prior-knowledge: all ok, no TLS"
	all_h2 200 "--http2-prior-knowledge"
	is "$(protos_of "$H2C_PORT" 'GET /n/h2c-')" HTTP/2.0 "--http2-prior-knowledge: nginx saw HTTP/2.0"
	conns=$(conns_of "$H2C_PORT" 'GET /n/h2c-')
	is "$conns" 1 "--http2-prior-knowledge: one connection (nginx saw $conns)"
	evf --http2-prior-knowledge --no-progress -o "$T/h2c-1m" "$C/1m.bin"
	cmp -s "$WWW_DIR/1m.bin" "$T/h2c-1m"
	ok $? "--http2-prior-knowledge: 1m.bin byte-exact"
else
	skip "$NOH2" 6
fi
# HTTP/1.1 to the prior-knowledge port fails (nginx wants the h2 preface),
# and does not hang.
R=$T/h2c-h11.jsonl
evf "${H11[@]}" --discard --no-progress --report "$R" "$C/n/h2c-as-h11"
is "$(rep_get "$R" ok)" false "HTTP/1.1 to a prior-knowledge h2 port: not ok"
cmp_ok "$EVF_MS" -lt 10000 "HTTP/1.1 to a prior-knowledge h2 port: fails at once (${EVF_MS} ms)"

# ================================================================== h2o
if [ -z "$H2O" ] || [ ! -x "$H2O" ]; then
	skip "h2o not found (H2O='$H2O')"
	done_testing
fi
start_h2o "$T/h2o" "$WWW_DIR"
O=https://127.0.0.1:$H2O_PORT
urls "$T/urls-h2o" "$O" "/1k.bin?h2o=" 200
R=$T/h2o.jsonl
evf "${H2[@]}" --cacert "$CA_FILE" -i "$T/urls-h2o" --discard --no-progress --report "$R"
is "$EVF_RC" 0 "h2o, 200 URLs: exit status 0"
report_ok "$R" "h2o, 200 URLs: every report line is well-formed"
is "$(rep_count "$R" 'r["ok"] and r["status"] == 200 and r["bytes"] == 1024')" 200 \
	"h2o, 200 URLs: all ok, status 200, 1024 bytes"
h2only all_h2 200 "h2o, 200 URLs"
h2o_log_lines | grep -F '"GET /1k.bin?h2o=' >"$T/h2o.log"
is "$(wc -l <"$T/h2o.log")" 200 "h2o, 200 URLs: h2o served 200 requests"
conns=$(awk '{ print $1 }' "$T/h2o.log" | sort -u | wc -l)
h2only is "$conns" 1 "h2o, 200 URLs: one connection (h2o saw $conns)"
h2only is "$(awk '{ print $3 }' "$T/h2o.log" | sort -u)" HTTP/2 "h2o, 200 URLs: h2o saw HTTP/2"

mkdir -p "$T/h2o-dl"
evf "${H2[@]}" --cacert "$CA_FILE" -d "$T/h2o-dl" --no-progress "$O/1m.bin" "$O/16k.bin"
is "$EVF_RC" 0 "h2o, -d: exit status 0"
cmp -s "$WWW_DIR/1m.bin" "$T/h2o-dl/1m.bin" && cmp -s "$WWW_DIR/16k.bin" "$T/h2o-dl/16k.bin"
ok $? "h2o, -d: 1m.bin and 16k.bin byte-exact"

R=$T/h2o-h11.jsonl
evf "${H11[@]}" --cacert "$CA_FILE" --discard --no-progress --report "$R" "$O/hello.txt?h2o-h11"
is "$(rep_get "$R" ok)" true "h2o, --http1.1: ok"
h2only is "$(rep_get "$R" http_version)" 1.1 "h2o, --http1.1: http_version \"1.1\""
is "$(h2o_log_lines | grep -F '"GET /hello.txt?h2o-h11' | awk '{ print $3 }')" HTTP/1.1 \
	"h2o, --http1.1: h2o saw HTTP/1.1"

if [ "$HAVE_H2" = 1 ]; then
	R=$T/h2o-h2c.jsonl
	evf --http2-prior-knowledge --discard --no-progress --report "$R" \
		"http://127.0.0.1:$H2O_HTTP_PORT/hello.txt?h2o-h2c"
	is "$(rep_get "$R" ok)/$(rep_get "$R" http_version)" true/2 "h2o, --http2-prior-knowledge: ok over h2"
	is "$(h2o_log_lines | grep -F '"GET /hello.txt?h2o-h2c' | awk '{ print $3 }')" HTTP/2 \
		"h2o, --http2-prior-knowledge: h2o saw HTTP/2"
else
	skip "$NOH2" 2
fi

done_testing
