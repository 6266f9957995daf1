#!/bin/bash
# proxy.sh - proxies: https:// URLs through CONNECT and http:// URLs in
# absolute form, with tinyproxy and squid from Debian in front of the test
# nginx (HTTP/2 inside the tunnel too); an https proxy (TLS in TLS, with
# tests/servers/badproxy.py); proxy credentials, which must reach the
# proxy and nothing else; keep-alive through the proxy; the environment's
# variables (precedence, case, httpoxy) and --noproxy; and a misbehaving
# proxy: 407, 403, 502, a close mid-CONNECT, garbage, a body after a 200,
# a tunnel that closes mid-response, a stall bounded by --connect-timeout.
if [ -z "${BASH_VERSION:-}" ]; then exec bash "$0" "$@"; fi
: "${TOP_SRCDIR:=$(cd "$(dirname "$0")/../.." && pwd)}"
. "$TOP_SRCDIR/tests/lib/common.sh"
. "$TOP_SRCDIR/tests/lib/nginx.sh"
. "$TOP_SRCDIR/tests/lib/servers.sh"

need_evfetch
need_python
NGINX_H2=1 start_nginx "$T/nginx"

TINYPROXY=$(PATH=$PATH:/usr/sbin:/usr/bin command -v tinyproxy || true)
SQUID=$(PATH=$PATH:/usr/sbin:/usr/bin command -v squid || true)
BADPROXY_PY=$TOP_SRCDIR/tests/servers/badproxy.py
PASS=s3cr3t-Pw9

# start_badproxy ARGS...: sets BADPROXY_PORT and BADPROXY_LOG.
start_badproxy() {
	_start_py_server badproxy "$BADPROXY_PY" "$@"
	BADPROXY_PORT=$SERVER_PORT
	BADPROXY_LOG=$SERVER_LOG
}

start_tinyproxy() {
	TP_PORT=$(free_port)
	TP_LOG=$T/tinyproxy.log
	cat >"$T/tinyproxy.conf" <<EOF
Port $TP_PORT
Listen 127.0.0.1
Timeout 20
LogLevel Connect
MaxClients 64
Allow 127.0.0.1
DisableViaHeader Yes
BasicAuth evf $PASS
EOF
	"$TINYPROXY" -d -c "$T/tinyproxy.conf" >"$TP_LOG" 2>&1 &
	TP_PID=$!
	at_exit "stop_pid $TP_PID"
	watch_pid "$TP_PID"
	wait_ports 10 "$TP_PID" "$TP_PORT" || bail_out "tinyproxy did not start"
}

start_squid() {
	SQ_PORT=$(free_port)
	# squid runs as its own user (never root): a directory it can write
	SQ_DIR=$(mktemp -d "${TMPDIR:-/tmp}/evfetch-squid.XXXXXX") || bail_out "mktemp failed"
	chmod 777 "$SQ_DIR"
	at_exit "rm -rf '$SQ_DIR'"
	# %>lp: the client's port, one per connection from evfetch
	cat >"$SQ_DIR/squid.conf" <<EOF
http_port 127.0.0.1:$SQ_PORT
pid_filename $SQ_DIR/squid.pid
cache deny all
cache_mem 8 MB
cache_dir null /tmp
logformat evf %>lp %rm %ru %>Hs
access_log stdio:$SQ_DIR/access.log evf
cache_log $SQ_DIR/cache.log
cache_store_log none
coredump_dir $SQ_DIR
acl localnet src 127.0.0.1
acl all_ports port 1-65535
acl CONNECT method CONNECT
http_access allow localnet
http_access deny all
shutdown_lifetime 0 seconds
dns_nameservers 127.0.0.1
hosts_file /etc/hosts
workers 1
EOF
	"$SQUID" -N -f "$SQ_DIR/squid.conf" >"$SQ_DIR/stdout.log" 2>&1 &
	SQ_PID=$!
	at_exit "stop_pid $SQ_PID"
	watch_pid "$SQ_PID"
	wait_ports 20 "$SQ_PID" "$SQ_PORT" || { diag_file "$SQ_DIR/cache.log"; bail_out "squid did not start"; }
}

N=0
# fetch ARGS...: one run, report in $R.
fetch() {
	N=$((N + 1))
	R=$T/r.$N.jsonl
	evf --discard --no-progress --report "$R" "$@"
}

H=https://127.0.0.1:$HTTPS_PORT
CA=(--cacert "$CA_FILE")

# --- tinyproxy: CONNECT, credentials, keep-alive ------------------------------------
if [ -n "$TINYPROXY" ]; then
	start_tinyproxy
	P=http://evf:$PASS@127.0.0.1:$TP_PORT
	fetch -v "${CA[@]}" -c 1 --http1.1 -x "$P" "$H/hello.txt" "$H/1k.bin" "$H/n/third"
	is "$EVF_RC" 0 "tinyproxy CONNECT: exit status 0"
	is "$(rep_count "$R" 'r["ok"] and r["proxy"] == "http://127.0.0.1:'"$TP_PORT"'"')" 3 \
		"tinyproxy CONNECT: 3 ok, report's proxy without credentials"
	is "$(rep_count "$R" 'r["reused"]')" 2 "tinyproxy CONNECT: the tunnel is kept alive"
	lines=$(nginx_log_lines "$HTTPS_PORT" | tail -n 3)
	is "$(printf '%s\n' "$lines" | awk '{print $2}' | sort -u | wc -l)" 1 \
		"tinyproxy CONNECT: nginx saw one connection for 3 requests"
	is "$(grep -c "Request .*: CONNECT" "$TP_LOG")" 1 "tinyproxy: one CONNECT for 3 requests"
	like "$(cat "$EVF_ERR")" "through http://127.0.0.1:$TP_PORT" "-v names the proxy"
	# wrong credentials: the real proxy's 407 (tinyproxy says 401)
	fetch "${CA[@]}" -x "http://evf:wrong@127.0.0.1:$TP_PORT" "$H/hello.txt"
	is "$(rep_get "$R" error_kind)" proxy "tinyproxy, wrong password: error_kind proxy"
	like "$(rep_get "$R" error)" "^proxy 127\.0\.0\.1:$TP_PORT answered CONNECT with 40[17]: proxy credentials needed" \
		"tinyproxy, wrong password: the detail gives the proxy's 407"
	# http:// through tinyproxy: absolute form, Host of the target
	fetch -x "$P" "http://127.0.0.1:$HTTP_PORT/host"
	is "$(rep_get "$R" ok)" true "tinyproxy absolute form: ok"
	like "$(nginx_log_lines "$HTTP_PORT" | tail -n 1)" '"GET /host HTTP/1\.1" 200' \
		"tinyproxy absolute form: nginx got the request"
else
	skip "tinyproxy not installed (Debian: tinyproxy)" 10
fi

# --- squid: absolute form kept alive, CONNECT with HTTP/2 inside ----------------------
if [ -n "$SQUID" ]; then
	start_squid
	SP=http://127.0.0.1:$SQ_PORT
	fetch -c 1 -x "$SP" "http://127.0.0.1:$HTTP_PORT/hello.txt" \
		"http://127.0.0.1:$HTTP_PORT/n/b" "http://127.0.0.1:$HTTP_PORT/1k.bin"
	is "$(rep_count "$R" 'r["ok"] and r["proxy"] == "'"$SP"'"')" 3 "squid absolute form: 3 ok"
	is "$(rep_count "$R" 'r["reused"]')" 2 "squid absolute form: the connection to squid is reused"
	sleep 0.3
	got=$(grep " GET http://127.0.0.1:$HTTP_PORT/" "$SQ_DIR/access.log")
	is "$(printf '%s\n' "$got" | wc -l)" 3 "squid logged 3 absolute-form GETs"
	is "$(printf '%s\n' "$got" | awk '{print $1}' | sort -u | wc -l)" 1 \
		"squid: all 3 came on one client connection"
	fetch "${CA[@]}" -c 1 -x "$SP" "$H/hello.txt" "$H/1k.bin"
	is "$(rep_count "$R" 'r["ok"] and r["http_version"] == "2"')" 2 "squid CONNECT: HTTP/2 inside the tunnel"
	is "$(rep_count "$R" 'r["reused"]')" 1 "squid CONNECT: the second stream shares the tunnel"
	like "$(nginx_log_lines "$HTTPS_PORT" | tail -n 1)" 'proto=HTTP/2\.0' "nginx answered over HTTP/2"
	is "$(grep -c " CONNECT 127.0.0.1:$HTTPS_PORT " "$SQ_DIR/access.log")" 1 "squid: one CONNECT"
	# a batch: 40 URLs, 8 at once, over HTTP/1.1 tunnels and absolute form
	urls=()
	for i in $(seq 1 20); do
		urls+=("$H/n/b$i" "http://127.0.0.1:$HTTP_PORT/n/p$i")
	done
	fetch "${CA[@]}" -c 8 --http1.1 -x "$SP" "${urls[@]}"
	is "$(rep_count "$R" 'r["ok"] and r["proxy"] == "'"$SP"'"')" 40 "squid: a batch of 40 through the proxy, all ok"
	conns=$(grep -c " CONNECT 127.0.0.1:$HTTPS_PORT " "$SQ_DIR/access.log")
	cmp_ok "$conns" -le 9 "squid: the batch's https URLs shared at most 8 tunnels ($((conns - 1)))"
else
	skip "squid not installed (Debian: squid)" 8
fi

# --- an https proxy: TLS to the proxy, then TLS to the origin inside it --------------
start_badproxy --tls "$PKI_DIR/server.pem" "$PKI_DIR/server.key" --auth "evf:$PASS"
BP=https://evf:$PASS@127.0.0.1:$BADPROXY_PORT
fetch "${CA[@]}" --proxy-cacert "$CA_FILE" -c 1 -x "$BP" "$H/1m.bin" "$H/hello.txt"
is "$(rep_count "$R" 'r["ok"] and r["proxy"] == "https://127.0.0.1:'"$BADPROXY_PORT"'"')" 2 \
	"https proxy: TLS in TLS, 2 ok"
is "$(rep_get "$R" bytes "$H/1m.bin")" 1048576 "https proxy: 1 MiB through TLS in TLS"
is "$(rep_count "$R" 'r["http_version"] == "2"')" 2 "https proxy: HTTP/2 inside TLS in TLS"
is "$(grep -c "^CONNECT 127.0.0.1:$HTTPS_PORT auth=yes" "$BADPROXY_LOG")" 1 \
	"https proxy: one CONNECT, with credentials, for both URLs"
fetch -x "$BP" --proxy-cacert "$CA_FILE" "http://127.0.0.1:$HTTP_PORT/hello.txt"
is "$(rep_get "$R" ok)" true "https proxy, http:// URL: absolute form over TLS"
like "$(tail -n 1 "$BADPROXY_LOG")" "^GET http://127\.0\.0\.1:$HTTP_PORT/hello\.txt auth=yes" \
	"https proxy: absolute form with Proxy-Authorization"
fetch "${CA[@]}" -x "$BP" "$H/hello.txt"
is "$(rep_get "$R" error_kind)" tls "https proxy not trusted (no --proxy-cacert): error_kind tls"
like "$(rep_get "$R" error)" "proxy 127\.0\.0\.1:$BADPROXY_PORT.*certificate verify failed" \
	"https proxy not trusted: the detail names the proxy"
fetch "${CA[@]}" --proxy-insecure -x "$BP" "$H/hello.txt"
is "$(rep_get "$R" ok)" true "--proxy-insecure: ok without the proxy's CA"
fetch --proxy-cacert "$CA_FILE" -x "$BP" "$H/hello.txt"
is "$(rep_get "$R" error_kind)" tls "--proxy-cacert does not make the origin trusted"

# --- credentials never leak ----------------------------------------------------------
start_badserver --tls "$PKI_DIR/server.pem" "$PKI_DIR/server.key"
ORIGIN=https://127.0.0.1:$BADSERVER_PORT
if [ -n "$TINYPROXY" ]; then
	N=$((N + 1))
	R=$T/r.$N.jsonl
	evf -v -d "$T/out" --no-progress --report "$R" "${CA[@]}" -x "$P" "$ORIGIN/echo" \
		"$H/status/404" "https://s407.test:1/" "http://127.0.0.1:$HTTP_PORT/hello.txt"
	like "$(cat "$EVF_ERR")" "Proxy-Authorization: <masked>" "-v shows the absolute-form request, credentials masked"
	unlike "$(cat "$T/out/"*echo* 2>/dev/null)" "[Pp]roxy-[Aa]uthorization|$PASS" \
		"the origin never sees Proxy-Authorization"
	like "$(cat "$T/out/"*echo* 2>/dev/null)" "^GET /echo" "(the origin's echo was saved)"
fi
leaks=0
B64=$(printf 'evf:%s' "$PASS" | base64)
for f in "$T"/r.*.jsonl "$T"/evf.*.err "$T"/evf.*.out; do
	grep -q -e "$PASS" -e "$B64" -- "$f" && { diag "password in $f"; leaks=$((leaks + 1)); }
done
is "$leaks" 0 "no report, error text, -v line or output holds the password (nor its base64)"
fetch -x "http://evf:$PASS@127.0.0.1:0" "$H/hello.txt"
is "$EVF_RC" 2 "an unusable -x URL: usage error"
unlike "$(cat "$EVF_ERR")" "$PASS" "a refused proxy URL is not echoed with its password"
fetch --proxy-cacert "$T/nonexistent.pem" -x "https://127.0.0.1:$BADPROXY_PORT" "$H/hello.txt"
is "$EVF_RC" 2 "an unloadable --proxy-cacert: usage error"
like "$(cat "$EVF_ERR")" "cannot load proxy CA file .*nonexistent\.pem" "an unloadable --proxy-cacert: the message says why"

# --- a misbehaving proxy -----------------------------------------------------------
start_badproxy
BAD=http://127.0.0.1:$BADPROXY_PORT
for c in 407:"proxy credentials needed" 403:"refused" 502:"could not reach"; do
	code=${c%%:*}
	fetch "${CA[@]}" -x "$BAD" "https://s$code.test:443/"
	is "$(rep_get "$R" error_kind)" proxy "CONNECT answered $code: error_kind proxy"
	like "$(rep_get "$R" error)" "answered CONNECT with $code: .*${c#*:}" "CONNECT answered $code: the detail"
done
fetch "${CA[@]}" -x "$BAD" "https://big407.test:443/"
is "$(rep_get "$R" error_kind)" proxy "407 with a 100 MB body: error_kind proxy"
cmp_ok "$EVF_MS" -lt 5000 "407 with a 100 MB body: its body is not read"
fetch "${CA[@]}" -x "$BAD" "https://close.test:443/"
is "$(rep_get "$R" error_kind)" proxy "a close mid-CONNECT: error_kind proxy"
like "$(rep_get "$R" error)" "closed the connection during CONNECT" "a close mid-CONNECT: the detail"
fetch "${CA[@]}" -x "$BAD" --connect-timeout 3 "https://garbage.test:443/"
is "$(rep_get "$R" error_kind)" proxy "garbage for an answer: error_kind proxy"
like "$(rep_get "$R" error)" "to CONNECT is unusable" "garbage for an answer: the detail"
fetch "${CA[@]}" -x "$BAD" "https://hugehead.test:443/"
is "$(rep_get "$R" error_kind)" proxy "an endless CONNECT answer head: error_kind proxy"
like "$(rep_get "$R" error)" "to CONNECT is unusable: (more|larger) than" "an endless CONNECT answer head: stopped at a head limit"
fetch "${CA[@]}" -x "$BAD" --connect-timeout 3 "https://body.test:443/"
is "$(rep_get "$R" ok)" false "a 200 with a body: the body is no TLS, the transfer fails"
cmp_ok "$EVF_MS" -lt 3000 "a 200 with a body: fails at once, no hang"
fetch "${CA[@]}" -x "$BAD" "https://midclose.test:$HTTPS_PORT/1m.bin"
is "$(rep_get "$R" ok)" false "a tunnel that closes mid-response: not ok"
like "$(rep_get "$R" error_kind)" '^(truncated|network|tls)$' "a tunnel that closes mid-response: $(rep_get "$R" error_kind)"
fetch "${CA[@]}" -x "$BAD" --connect-timeout 1 "https://stall.test:443/"
is "$(rep_get "$R" error_kind)" timeout "a stalled CONNECT: error_kind timeout"
cmp_ok "$EVF_MS" -lt 3000 "a stalled CONNECT: bounded by --connect-timeout"
like "$(rep_get "$R" error)" "through proxy $BAD within 1000 ms" "a stalled CONNECT: the detail names the proxy"
fetch "${CA[@]}" -x "$BAD" "$H/hello.txt"
is "$(rep_get "$R" ok)" true "badproxy's plain tunnel works (control)"
# evfetch.test resolves nowhere: only the proxy's name is resolved, and
# --resolve applies to it
fetch "${CA[@]}" -x "http://proxy.evfetch.test:$BADPROXY_PORT" \
	--resolve "proxy.evfetch.test:$BADPROXY_PORT:127.0.0.1" "https://evfetch.test:$HTTPS_PORT/hello.txt"
is "$(rep_get "$R" ok)" true "the target's name is never resolved, the proxy's is (--resolve)"
start_fakedns --a evfetch.test=127.0.0.1
fetch "${CA[@]}" -x "http://proxy.evfetch.test:$BADPROXY_PORT" "https://evfetch.test:$HTTPS_PORT/hello.txt" \
	--dns-servers "127.0.0.1:$FAKEDNS_PORT" --connect-timeout 5
is "$(rep_get "$R" error_kind)" dns "an unresolvable proxy name: error_kind dns"
like "$(rep_get "$R" error)" "the proxy 'proxy\.evfetch\.test'" "an unresolvable proxy: the detail names the proxy"
dnslog=$(cat "$FAKEDNS_LOG")
like "${dnslog,,}" "proxy\.evfetch\.test a" "the proxy's name was asked of DNS"
unlike "${dnslog,,}" "(^|[^.])evfetch\.test" "the target's name was never asked of DNS"

# --- the environment and --noproxy -------------------------------------------------
# env_case NAME EXPECT VAR=VALUE...: one https and one http URL
env_case() {
	local name=$1 want=$2
	shift 2
	N=$((N + 1))
	R=$T/r.$N.jsonl
	(export "$@"; evf --discard --no-progress --report "$R" "${CA[@]}" "$H/hello.txt" \
		"http://127.0.0.1:$HTTP_PORT/hello.txt")
	is "$(rep_get "$R" proxy "$H/hello.txt") $(rep_get "$R" proxy "http://127.0.0.1:$HTTP_PORT/hello.txt")" \
		"$want" "environment: $name"
}
refused_port
NONE=http://127.0.0.1:$REFUSED_PORT
env_case "https_proxy for https only" "$BAD null" https_proxy="$BAD"
env_case "HTTPS_PROXY" "$BAD null" HTTPS_PROXY="$BAD"
env_case "https_proxy before HTTPS_PROXY" "$BAD null" https_proxy="$BAD" HTTPS_PROXY="$NONE"
env_case "http_proxy for http only" "null $BAD" http_proxy="$BAD"
env_case "HTTP_PROXY is ignored (httpoxy)" "null null" HTTP_PROXY="$NONE"
env_case "all_proxy for both" "$BAD $BAD" all_proxy="$BAD"
env_case "ALL_PROXY" "$BAD $BAD" ALL_PROXY="$BAD"
env_case "all_proxy before ALL_PROXY" "$BAD $BAD" all_proxy="$BAD" ALL_PROXY="$NONE"
env_case "https_proxy before all_proxy" "$BAD $BAD" https_proxy="$BAD" all_proxy="$BAD"
env_case "no_proxy by address" "null null" all_proxy="$NONE" no_proxy="127.0.0.1"
env_case "NO_PROXY by CIDR" "null null" all_proxy="$NONE" NO_PROXY="127.0.0.0/8"
env_case "no_proxy before NO_PROXY" "$BAD $BAD" all_proxy="$BAD" no_proxy="example.org" NO_PROXY="*"
env_case "no_proxy with a port" "null $BAD" all_proxy="$BAD" no_proxy="127.0.0.1:$HTTPS_PORT"
env_case "empty all_proxy is unset" "null null" all_proxy=
N=$((N + 1))
R=$T/r.$N.jsonl
(export all_proxy="$NONE"; evf --discard --no-progress --report "$R" "${CA[@]}" -x "" "$H/hello.txt")
is "$(rep_get "$R" ok) $(rep_get "$R" proxy)" "true null" '-x "" overrides the environment'
(export all_proxy="$BAD"; evf --discard --no-progress --report "$R.2" "${CA[@]}" --noproxy "*" "$H/hello.txt")
is "$(rep_get "$R.2" proxy)" null '--noproxy "*" overrides the environment'
(export no_proxy="*"; evf --discard --no-progress --report "$R.3" "${CA[@]}" -x "$BAD" --noproxy "" "$H/hello.txt")
is "$(rep_get "$R.3" proxy)" "$BAD" '--noproxy "" overrides no_proxy'
fetch "${CA[@]}" -x "$BAD" --noproxy "localhost" "$H/hello.txt"
is "$(rep_get "$R" proxy)" "$BAD" "127.0.0.1 is proxied unless listed (no implicit exemption)"

done_testing
