#!/bin/bash
# basic.sh - evfetch against a real nginx: many URLs at once over TLS with
# keep-alive, byte-exact bodies, plain HTTP, HEAD, request headers, Host
# with a non-default port, per-host limits and -f.
if [ -z "${BASH_VERSION:-}" ]; then exec bash "$0" "$@"; fi
: "${TOP_SRCDIR:=$(cd "$(dirname "$0")/../.." && pwd)}"
. "$TOP_SRCDIR/tests/lib/common.sh"
. "$TOP_SRCDIR/tests/lib/nginx.sh"

need_evfetch
need_python
start_nginx "$T/nginx"
B=https://127.0.0.1:$HTTPS_PORT
H=http://127.0.0.1:$HTTP_PORT

# --- 2000 URLs, 50 at a time, over TLS --------------------------------------
for ((i = 0; i < 2000; i++)); do
	printf '%s/n/%d\n' "$B" "$i"
done >"$T/urls"
R=$T/many.jsonl
evf -c 50 --cacert "$CA_FILE" -i "$T/urls" --discard --no-progress --report "$R"
is "$EVF_RC" 0 "2000 URLs at -c 50: exit status 0"
is "$(rep_lines "$R")" 2000 "2000 URLs: 2000 report lines"
report_ok "$R" "2000 URLs: every report line is well-formed"
is "$(_report urls "$R" | LC_ALL=C sort)" "$(LC_ALL=C sort "$T/urls")" \
	"2000 URLs: each URL reported exactly once"
is "$(rep_count "$R" 'r["ok"] is True and r["status"] == 200')" 2000 \
	"2000 URLs: all ok with status 200"
# The body of /n/I is "ok /n/I\n": 7 bytes plus the digits of I.
is "$(rep_count "$R" 'r["bytes"] == 7 + len(r["url"].rsplit("/", 1)[1])')" 2000 \
	"2000 URLs: every body has its exact size"
cmp_ok "$(rep_count "$R" 'r["reused"] is True')" -gt 1900 \
	"2000 URLs: more than 1900 on reused keep-alive connections"
is "$(rep_count "$R" 'r["tls_version"] in ("TLSv1.2", "TLSv1.3")')" 2000 \
	"2000 URLs: tls_version set on every line"
nginx_log_lines "$HTTPS_PORT" | grep ' "GET /n/[0-9]* HTTP/1.1" 200 ' >"$T/many.log"
is "$(wc -l <"$T/many.log")" 2000 "2000 URLs: nginx served 2000 requests"
conns=$(awk '{print $2}' "$T/many.log" | sort -u | wc -l)
cmp_ok "$conns" -le 100 "2000 URLs: nginx saw at most 100 connections (saw $conns)"
cmp_ok "$conns" -ge 1 "2000 URLs: nginx saw at least one connection"

# --- byte-exact bodies -------------------------------------------------------
mkdir -p "$T/dl"
R=$T/files.jsonl
evf --cacert "$CA_FILE" -d "$T/dl" --no-progress --report "$R" \
	"$B/1k.bin" "$B/16k.bin" "$B/1m.bin" "$B/hello.txt"
is "$EVF_RC" 0 "-d with four files: exit status 0"
for f in 1k.bin 16k.bin 1m.bin; do
	is "$(sha256_of "$T/dl/$f" 2>/dev/null)" "$(cat "$WWW_DIR/$f.sha256")" \
		"-d: $f has the served sha256"
done
cmp -s "$WWW_DIR/hello.txt" "$T/dl/hello.txt"
ok $? "-d: hello.txt is byte-exact"
is "$(files_in "$T/dl")" "$(printf '%s\n' 16k.bin 1k.bin 1m.bin hello.txt)" \
	"-d: exactly the four files, nothing else"
is "$(rep_get "$R" bytes "$B/1m.bin")" 1048576 "report: 1m.bin has 1048576 bytes"
like "$(rep_get "$R" file "$B/1m.bin")" '(^|/)1m\.bin$' "report: file names 1m.bin"

evf --cacert "$CA_FILE" --no-progress "$B/1m.bin"
is "$EVF_RC" 0 "one URL to standard output: exit status 0"
is "$(sha256_of "$EVF_OUT")" "$(cat "$WWW_DIR/1m.bin.sha256")" \
	"one URL to standard output: the body byte-exact"

# --- plain HTTP ----------------------------------------------------------------
R=$T/plain.jsonl
evf --discard --no-progress --report "$R" "$H/hello.txt"
is "$EVF_RC" 0 "plain http: exit status 0"
is "$(rep_get "$R" ok)" true "plain http: ok"
is "$(rep_get "$R" status)" 200 "plain http: status 200"
is "$(rep_get "$R" bytes)" 6 "plain http: 6 bytes"
is "$(rep_get "$R" tls_version)" null "plain http: tls_version null"

R=$T/tlsver.jsonl
evf --cacert "$CA_FILE" --discard --no-progress --report "$R" "$B/hello.txt"
like "$(rep_get "$R" tls_version)" '^TLSv1\.[23]$' "https: tls_version names TLS 1.2 or 1.3"
is "$(rep_get "$R" reused)" false "a single URL: reused false"

# http and https in one run, to the same host name
R=$T/mixed.jsonl
evf --cacert "$CA_FILE" --discard --no-progress --report "$R" \
	"$H/n/mixed-plain" "$B/n/mixed-tls"
is "$EVF_RC" 0 "http and https in one run: exit status 0"
is "$(rep_get "$R" tls_version "$H/n/mixed-plain")" null \
	"http and https in one run: the http one is plain"
like "$(rep_get "$R" tls_version "$B/n/mixed-tls")" '^TLSv1\.[23]$' \
	"http and https in one run: the https one is TLS"

# --- HEAD -------------------------------------------------------------------------
R=$T/head.jsonl
evf -I --cacert "$CA_FILE" --discard --no-progress --report "$R" \
	"$B/hello.txt" "$B/1m.bin"
is "$EVF_RC" 0 "-I: exit status 0"
is "$(rep_count "$R" 'r["ok"] and r["status"] == 200 and r["bytes"] == 0')" 2 \
	"-I: both ok, status 200, no body bytes"
cmp_ok "$EVF_MS" -lt 10000 "-I: no waiting for a body that never comes"
nginx_log_lines "$HTTPS_PORT" >"$T/head.log"
grep -q '"HEAD /hello.txt HTTP/1.1"' "$T/head.log"
ok $? "-I: nginx saw HEAD /hello.txt"
grep -q '"HEAD /1m.bin HTTP/1.1"' "$T/head.log"
ok $? "-I: nginx saw HEAD /1m.bin"

R=$T/head2.jsonl
evf --head --discard --no-progress --report "$R" "$H/method"
is "$(rep_get "$R" status)" 200 "--head: status 200"

# --- request headers -------------------------------------------------------------
evf --cacert "$CA_FILE" -H 'X-Test: evfetch-header-123' --no-progress \
	-o "$T/xtest" "$B/x-test"
is "$EVF_RC" 0 "-H: exit status 0"
is "$(cat "$T/xtest" 2>/dev/null)" "evfetch-header-123" "-H: the header reached nginx"

evf --cacert "$CA_FILE" -A 'evfetch-test-agent/9' --no-progress -o "$T/ua" "$B/ua"
is "$(cat "$T/ua" 2>/dev/null)" "evfetch-test-agent/9" "-A: the User-Agent reached nginx"

evf --cacert "$CA_FILE" --no-progress -o "$T/ua-default" "$B/ua"
isnt "$(cat "$T/ua-default" 2>/dev/null)" "" "a User-Agent is sent by default"

# --- Host with a non-default port ------------------------------------------------
evf --cacert "$CA_FILE" --no-progress -o "$T/host1" "$B/host"
is "$(cat "$T/host1" 2>/dev/null)" "127.0.0.1:$HTTPS_PORT" \
	"Host: address and non-default port"

evf --cacert "$CA_FILE" --resolve "evfetch.test:$HTTPS_PORT:127.0.0.1" \
	--no-progress -o "$T/host2" "https://evfetch.test:$HTTPS_PORT/host"
is "$EVF_RC" 0 "--resolve with a name in the certificate: exit status 0"
is "$(cat "$T/host2" 2>/dev/null)" "evfetch.test:$HTTPS_PORT" \
	"Host: name and non-default port"

# '*' stands for every host on its port; an entry naming the host wins
evf --cacert "$CA_FILE" --resolve "*:$HTTPS_PORT:127.0.0.1" \
	--no-progress -o "$T/host-wild" "https://evfetch.test:$HTTPS_PORT/host"
is "$EVF_RC" 0 "--resolve '*:PORT:ADDR': exit status 0"
is "$(cat "$T/host-wild" 2>/dev/null)" "evfetch.test:$HTTPS_PORT" \
	"--resolve '*:PORT:ADDR' serves any host name on that port"
refused_port
evf --cacert "$CA_FILE" --resolve "*:$HTTPS_PORT:127.0.0.1" \
	--resolve "evfetch.test:$HTTPS_PORT:[::1]" --no-progress --report "$T/wild.jsonl" \
	"https://evfetch.test:$HTTPS_PORT/host" "https://localhost:$HTTPS_PORT/host"
is "$(rep_get "$T/wild.jsonl" ok "https://localhost:$HTTPS_PORT/host")" true \
	"--resolve: a host without an entry of its own takes the '*' one"
is "$(rep_get "$T/wild.jsonl" error_kind "https://evfetch.test:$HTTPS_PORT/host")" connect \
	"--resolve: the entry naming the host wins over '*' (nginx is not on ::1)"
evf --cacert "$CA_FILE" --resolve "*:$REFUSED_PORT:127.0.0.1" --no-progress \
	--report "$T/wild2.jsonl" "https://evfetch.test:$HTTPS_PORT/host"
isnt "$(rep_get "$T/wild2.jsonl" ok)" true "--resolve '*' applies to its own port only"

evf --resolve "localhost:$HTTP_PORT:127.0.0.1" --no-progress -o "$T/host3" \
	"http://localhost:$HTTP_PORT/host"
is "$(cat "$T/host3" 2>/dev/null)" "localhost:$HTTP_PORT" \
	"Host over plain http: name and non-default port"

evf -H 'Host: other.test' --no-progress -o "$T/host4" "$H/host"
is "$(cat "$T/host4" 2>/dev/null)" "other.test" "-H 'Host: ...' replaces the Host header"

# --- per-host limit -----------------------------------------------------------------
for ((i = 0; i < 60; i++)); do
	printf '%s/n/perhost-%d\n' "$B" "$i"
done >"$T/urls-ph"
R=$T/perhost.jsonl
evf -c 30 --per-host 2 --cacert "$CA_FILE" -i "$T/urls-ph" --discard \
	--no-progress --report "$R"
is "$EVF_RC" 0 "--per-host 2: exit status 0"
is "$(rep_count "$R" 'r["ok"]')" 60 "--per-host 2: all 60 ok"
conns=$(nginx_log_lines "$HTTPS_PORT" | grep '"GET /n/perhost-' |
	awk '{print $2}' | sort -u | wc -l)
cmp_ok "$conns" -le 2 "--per-host 2: nginx saw at most 2 connections (saw $conns)"

# --- HTTP errors and -f --------------------------------------------------------------
R=$T/fail.jsonl
evf -f --cacert "$CA_FILE" --discard --no-progress --report "$R" \
	"$B/hello.txt" "$B/status/404"
is "$EVF_RC" 1 "-f with a 404 among the URLs: exit status 1"
is "$(rep_get "$R" ok "$B/status/404")" false "-f: the 404 is not ok"
is "$(rep_get "$R" status "$B/status/404")" 404 "-f: the 404 reports status 404"
is "$(rep_get "$R" error_kind "$B/status/404")" http "-f: the 404 has error_kind http"
is "$(rep_get "$R" ok "$B/hello.txt")" true "-f: the other URL is still ok"

R=$T/nofail.jsonl
evf --cacert "$CA_FILE" --discard --no-progress --report "$R" \
	"$B/hello.txt" "$B/status/404" "$B/status/500"
is "$EVF_RC" 0 "without -f a 404 and a 500 still exit 0"
is "$(rep_get "$R" status "$B/status/404")" 404 "without -f: status 404 reported"
is "$(rep_get "$R" ok "$B/status/500")" true "without -f: the 500 counts as ok"
is "$(rep_get "$R" status "$B/status/500")" 500 "without -f: status 500 reported"

# --- no name server configured -----------------------------------------------------
# An empty /etc/resolv.conf (in a private mount namespace, undone when it
# ends) leaves libevent's default name server, as the C library would:
# the client is made and an address literal is fetched.
: >"$T/empty-resolv.conf"
if [ "$(id -u)" = 0 ] && command -v unshare >/dev/null &&
	unshare -m true 2>/dev/null; then
	(cd "$EVF_CWD" && exec timeout -k 5 30 unshare -m sh -c \
		'mount --bind "$1" /etc/resolv.conf && shift && exec "$@"' sh \
		"$T/empty-resolv.conf" "$EVFETCH" --no-progress -o "$T/noresolv" "$H/hello.txt") \
		>"$T/noresolv.out" 2>&1
	is "$?" 0 "an empty /etc/resolv.conf: the client is made, an address is fetched"
	is "$(cat "$T/noresolv" 2>/dev/null)" hello "an empty /etc/resolv.conf: the body arrives"
else
	skip "needs root and unshare -m for a private /etc/resolv.conf" 2
fi

done_testing
