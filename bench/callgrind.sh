#!/usr/bin/env bash
# bench/callgrind.sh - instructions per URL of evfetch, and where they go.
#
# Runs evfetch under valgrind's callgrind on 2,000 x 1 KiB over keep-alive
# TLS 1.3 at -c 50 against a local nginx (127.0.0.1 only).  Prints the
# instructions per URL (total Ir / URLs) and the top functions of that run
# by inclusive and by exclusive cost.  Two more runs split the total: one
# URL alone (start-up, CA loading, one handshake, exit) and twice the URLs
# (same 50 connections and handshakes), whose difference from the first
# is the steady-state cost of a URL on a kept-alive connection.
#
# Environment: EVFETCH_BIN (default ./build/src/cli/.libs/evfetch; a
# libtool wrapper is replaced by the binary it runs), URLS (default 2000),
# TOP (default 15), PROTO (h1, the default: nginx speaks HTTP/1.1 only; h2:
# nginx offers h2 and evfetch multiplexes the 50 transfers on one
# connection), BENCH_NO_INSTALL=1 (never apt-get), BENCH_KEEP=1 (keep the
# work directory with the callgrind.out files), NGINX.
set -u

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/.." && pwd)
URLS=${URLS:-2000}
TOP=${TOP:-15}
PROTO=${PROTO:-h1}   # h2: nginx offers h2 in ALPN, and evfetch takes it
case $PROTO in h1) LISTEN=ssl ;; h2) LISTEN="ssl http2" ;; *) echo "PROTO is h1 or h2" >&2; exit 2 ;; esac

say() { printf '%s\n' "$*" >&2; }
die() { say "callgrind: $*"; exit 1; }
. "$HERE/lib.sh"

if [ "$(id -u)" -eq 0 ]; then SUDO=; else SUDO=sudo; fi
need() {
	PATH=$PATH:/usr/sbin:/sbin command -v "$1" >/dev/null 2>&1 && return 0
	[ "${BENCH_NO_INSTALL:-0}" = 1 ] && die "$1 is missing (package $2)"
	say "== installing $2"
	$SUDO apt-get update -q >&2 &&
		DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q \
			--no-install-recommends "$2" >&2 || die "could not install $2"
}
need valgrind valgrind
need callgrind_annotate valgrind
need nginx nginx
need openssl openssl
need python3 python3
: "${NGINX:=$(PATH=$PATH:/usr/sbin:/sbin command -v nginx)}"

find_evfetch "$ROOT"

W=$(mktemp -d "${TMPDIR:-/tmp}/evfetch-callgrind.XXXXXX") || die "mktemp failed"
NGINX_PID=
cleanup() {
	if [ -n "$NGINX_PID" ]; then
		kill -TERM "$NGINX_PID" 2>/dev/null
		for _ in $(seq 50); do kill -0 "$NGINX_PID" 2>/dev/null || break; sleep 0.1; done
		kill -KILL "$NGINX_PID" 2>/dev/null
		wait "$NGINX_PID" 2>/dev/null
	fi
	if [ "${BENCH_KEEP:-0}" = 1 ]; then say "kept $W"; else rm -rf -- "$W"; fi
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
unset http_proxy https_proxy HTTP_PROXY HTTPS_PROXY all_proxy ALL_PROXY SSL_CERT_FILE SSL_CERT_DIR
mkdir -p "$W/pki" "$W/www" "$W/logs" "$W/tmp"

# A CA and a server certificate for localhost / 127.0.0.1 (EC P-256).
ossl() { openssl "$@" 2>>"$W/pki/openssl.log" || die "openssl $1 failed, see $W/pki/openssl.log"; }
ossl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$W/pki/ca.key"
ossl req -new -x509 -key "$W/pki/ca.key" -sha256 -days 7 -subj "/CN=evfetch callgrind CA" \
	-addext "basicConstraints=critical,CA:TRUE" \
	-addext "keyUsage=critical,keyCertSign,cRLSign" -out "$W/pki/ca.pem"
ossl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$W/pki/server.key"
ossl req -new -key "$W/pki/server.key" -subj "/CN=localhost" -out "$W/pki/server.csr"
printf '%s\n' "basicConstraints = critical, CA:FALSE" \
	"keyUsage = critical, digitalSignature" "extendedKeyUsage = serverAuth" \
	"subjectAltName = DNS:localhost, IP:127.0.0.1" >"$W/pki/server.ext"
ossl x509 -req -in "$W/pki/server.csr" -sha256 -days 7 -CA "$W/pki/ca.pem" \
	-CAkey "$W/pki/ca.key" -set_serial 4243 -extfile "$W/pki/server.ext" \
	-out "$W/pki/server.pem"
head -c 1024 /dev/urandom >"$W/www/1k.bin"

PORT=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
cat >"$W/nginx.conf" <<EOF
worker_processes 1;
pid $W/nginx.pid;
error_log $W/logs/error.log warn;
events { worker_connections 1024; }
http {
$(nginx_http_common)
    keepalive_requests 1000000;
    keepalive_timeout 300s;
    server {
        listen 127.0.0.1:$PORT $LISTEN;
        ssl_protocols TLSv1.3;
        ssl_certificate $W/pki/server.pem;
        ssl_certificate_key $W/pki/server.key;
        root $W/www;
    }
}
EOF
start_nginx "$PORT"

seq 1 $((URLS * 2)) | awk -v u="https://127.0.0.1:$PORT/1k.bin" '{ print u "?i=" $1 }' >"$W/double.txt"
head -n "$URLS" "$W/double.txt" >"$W/urls.txt"
head -n 1 "$W/double.txt" >"$W/one.txt"

# grind NAME LIST: run evfetch under callgrind; print its total Ir.
grind() {
	local name=$1 list=$2 n
	n=$(grep -c . "$list")
	valgrind --tool=callgrind --callgrind-out-file="$W/callgrind.$name.out" \
		--log-file="$W/valgrind.$name.log" \
		"$EVFETCH_BIN" -c 50 --discard --no-progress --cacert "$W/pki/ca.pem" \
		-i "$list" 2>"$W/evfetch.$name.err"
	local rc=$?
	if [ "$rc" -ne 0 ] ||
		! grep -Eq "^evfetch: $n URLs?, $n ok, 0 failed" "$W/evfetch.$name.err"; then
		cat "$W/evfetch.$name.err" >&2
		die "evfetch failed under callgrind (exit $rc)"
	fi
	sed -n 's/^summary: *//p' "$W/callgrind.$name.out"
}

say "== callgrind: evfetch, 1 URL (start-up)"
IR_ONE=$(grind one "$W/one.txt")
say "== callgrind: evfetch, $URLS x 1 KiB at -c 50 over keep-alive TLS 1.3 ($PROTO)"
IR_ALL=$(grind all "$W/urls.txt")
say "== callgrind: evfetch, $((URLS * 2)) x 1 KiB at -c 50"
IR_DOUBLE=$(grind double "$W/double.txt")
[ -n "$IR_ONE" ] && [ -n "$IR_ALL" ] && [ -n "$IR_DOUBLE" ] ||
	die "no instruction count in the callgrind output"

awk -v one="$IR_ONE" -v all="$IR_ALL" -v dbl="$IR_DOUBLE" -v n="$URLS" 'BEGIN {
	printf "evfetch -c 50 --discard, %d x 1 KiB over keep-alive TLS 1.3 (127.0.0.1)\n", n
	printf "  instructions, %6d URLs:  %14.0f\n", n, all
	printf "  instructions per URL:      %14.0f   (total Ir / %d)\n", all / n, n
	printf "  instructions, %6d URL:   %14.0f   (start-up, CA load, 1 full handshake, exit)\n", 1, one
	printf "  instructions, %6d URLs:  %14.0f   (the same 50 connections and handshakes)\n", 2 * n, dbl
	printf "  steady state per URL:      %14.0f   ((Ir(%d URLs) - Ir(%d URLs)) / %d)\n", (dbl - all) / n, 2 * n, n, n
	printf "  start-up + 50 handshakes:  %14.0f   (Ir(%d URLs) - %d x steady state)\n", 2 * all - dbl, n, n
}'

# top KIND: the first $TOP function lines of callgrind_annotate.
top() {
	callgrind_annotate --inclusive="$1" --auto=no --threshold=100 "$W/callgrind.all.out" 2>/dev/null |
		awk -v top="$TOP" '
			/^-+$/ { dashes++; next }
			dashes >= 3 && NF >= 2 && $1 ~ /^[0-9,]+$/ {
				if (++n > top) exit
				sub(/^ +/, "")
				print "  " $0
			}'
}
echo
echo "Top $TOP functions by inclusive cost (Ir, whole run):"
top yes
echo
echo "Top $TOP functions by exclusive cost (Ir, whole run):"
top no

# The steady state: per function, exclusive Ir of the run with twice the
# URLs less that of the first run, per URL (start-up and handshakes cancel).
excl() {
	callgrind_annotate --inclusive=no --auto=no --threshold=100 "$W/callgrind.$1.out" 2>/dev/null |
		awk '/^-+$/ { dashes++; next }
			dashes >= 3 && NF >= 2 && $1 ~ /^[0-9,]+$/ {
				ir = $1; gsub(/,/, "", ir)
				# drop the count and the "( 1.23%)" column
				sub(/^ *[0-9,]+ +\([^)]*\) +/, "")
				print ir "\t" $0
			}'
}
echo
echo "Top $TOP functions of the steady state (exclusive Ir per URL: the $((URLS * 2))-URL run less the $URLS-URL run, / $URLS):"
excl all >"$W/excl.all"
excl double >"$W/excl.double"
awk -F'\t' -v n="$URLS" '
	NR == FNR { base[$2] = $1; next }
	{ d = $1 - base[$2]; if (d > 0) printf "%12.0f  %s\n", d / n, $2 }
' "$W/excl.all" "$W/excl.double" | sort -rn | grep -v 'PROGRAM TOTALS' | head -n "$TOP" | sed 's/^/  /'
