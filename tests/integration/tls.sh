#!/bin/bash
# tls.sh - certificate verification: a wrong CA, a wrong host name, an
# expired and a self-signed certificate all fail with error_kind tls (and
# pass with -k); the system store does not know the test CA; no request
# leaves the client before verification; --capath; TLS version limits.
if [ -z "${BASH_VERSION:-}" ]; then exec bash "$0" "$@"; fi
: "${TOP_SRCDIR:=$(cd "$(dirname "$0")/../.." && pwd)}"
. "$TOP_SRCDIR/tests/lib/common.sh"
. "$TOP_SRCDIR/tests/lib/nginx.sh"
. "$TOP_SRCDIR/tests/lib/servers.sh"

need_evfetch
need_python
start_nginx "$T/nginx"

N=0
# fetch_one URL ARGS...: one URL, report in $R.
fetch_one() {
	local url=$1
	shift
	N=$((N + 1))
	R=$T/r.$N.jsonl
	evf --discard --no-progress --report "$R" "$@" "$url"
}

# must_fail_tls WHAT DETAIL_ERE URL ARGS...: the transfer fails verification.
must_fail_tls() {
	local what=$1 detail_re=$2 url=$3 detail
	shift 3
	fetch_one "$url" "$@"
	is "$EVF_RC" 1 "$what: exit status 1"
	is "$(rep_get "$R" ok)" false "$what: not ok"
	is "$(rep_get "$R" error_kind)" tls "$what: error_kind tls"
	detail=$(rep_get "$R" error)
	like "${detail,,}" "$detail_re" "$what: the detail says why"
	like "$(rep_get "$R" status)" '^(null|0)$' "$what: no HTTP status"
}

# The paths requested on connections that must fail verification; nginx
# must never log any of them.
NEVER=/never-sent

# --- the good server -----------------------------------------------------------
fetch_one "https://127.0.0.1:$HTTPS_PORT/hello.txt" --cacert "$CA_FILE"
is "$EVF_RC" 0 "test CA, IP address in the certificate: exit status 0"
is "$(rep_get "$R" ok)" true "test CA, IP address: ok"
like "$(rep_get "$R" tls_version)" '^TLSv1\.[23]$' "test CA: tls_version TLSv1.2 or TLSv1.3"
sleep 0.2
like "$(grep ' "GET /hello.txt ' "$NGINX_ACCESS_LOG" | tail -n 1)" 'tls=TLSv1\.3/TLS_AES_128_GCM_SHA256/' \
	"test CA: TLS 1.3 with TLS_AES_128_GCM_SHA256, offered first"

fetch_one "https://evfetch.test:$HTTPS_PORT/hello.txt" --cacert "$CA_FILE" \
	--resolve "evfetch.test:$HTTPS_PORT:127.0.0.1"
is "$(rep_get "$R" ok)" true "test CA, DNS name in the certificate: ok"

fetch_one "https://localhost:$HTTPS_PORT/hello.txt" --cacert "$CA_FILE" \
	--resolve "localhost:$HTTPS_PORT:127.0.0.1"
is "$(rep_get "$R" ok)" true "test CA, localhost: ok"

mkdir -p "$T/capath"
cp "$CA_FILE" "$T/capath/test-ca.pem"
if "$OPENSSL_BIN" rehash "$T/capath" >/dev/null 2>&1; then
	fetch_one "https://127.0.0.1:$HTTPS_PORT/hello.txt" --capath "$T/capath"
	is "$(rep_get "$R" ok)" true "--capath with the test CA: ok"
	fetch_one "https://127.0.0.1:$HTTPS_PORT$NEVER/capath-empty" --capath "$T/nginx/www"
	is "$(rep_get "$R" error_kind)" tls "--capath without the test CA: error_kind tls"
else
	skip "openssl rehash is not available" 2
fi

# --- verification failures -------------------------------------------------------
must_fail_tls "unrelated CA" 'certificate verify|unable to get local issuer|unknown ca' \
	"https://127.0.0.1:$HTTPS_PORT$NEVER/wrong-ca" --cacert "$OTHER_CA_FILE"

must_fail_tls "wrong host (IP address)" 'mismatch|host|name|verif' \
	"https://127.0.0.1:$WRONGHOST_PORT$NEVER/wrong-host-ip" --cacert "$CA_FILE"

must_fail_tls "wrong host (DNS name)" 'mismatch|host|name|verif' \
	"https://localhost:$WRONGHOST_PORT$NEVER/wrong-host-name" --cacert "$CA_FILE" \
	--resolve "localhost:$WRONGHOST_PORT:127.0.0.1"

must_fail_tls "a name not in the certificate" 'mismatch|host|name|verif' \
	"https://not-in-cert.test:$HTTPS_PORT$NEVER/not-in-cert" --cacert "$CA_FILE" \
	--resolve "not-in-cert.test:$HTTPS_PORT:127.0.0.1"

must_fail_tls "expired certificate" 'expired' \
	"https://127.0.0.1:$EXPIRED_PORT$NEVER/expired" --cacert "$CA_FILE"

must_fail_tls "self-signed certificate" 'self.signed' \
	"https://127.0.0.1:$SELFSIGNED_PORT$NEVER/self-signed" --cacert "$CA_FILE"

# Without --cacert the system store is used, and it does not know the test
# CA (common.sh unsets SSL_CERT_FILE and SSL_CERT_DIR).
must_fail_tls "default trust store" 'certificate verify|unable to get local issuer|verif' \
	"https://127.0.0.1:$HTTPS_PORT$NEVER/system-store"

# Several failures at once, next to a good URL, over a shared client.
N=$((N + 1))
R=$T/r.$N.jsonl
evf --cacert "$CA_FILE" --discard --no-progress --report "$R" -c 10 \
	"https://127.0.0.1:$WRONGHOST_PORT$NEVER/batch-1" \
	"https://127.0.0.1:$EXPIRED_PORT$NEVER/batch-2" \
	"https://127.0.0.1:$SELFSIGNED_PORT$NEVER/batch-3" \
	"https://127.0.0.1:$HTTPS_PORT/n/batch-good"
is "$EVF_RC" 1 "a batch with three bad certificates: exit status 1"
is "$(rep_count "$R" 'r["error_kind"] == "tls"')" 3 "the batch: three tls failures"
is "$(rep_get "$R" ok "https://127.0.0.1:$HTTPS_PORT/n/batch-good")" true \
	"the batch: the good URL is ok"

# --- -k -----------------------------------------------------------------------------
for server in "wrong host:$WRONGHOST_PORT" "expired:$EXPIRED_PORT" \
	"self-signed:$SELFSIGNED_PORT" "good:$HTTPS_PORT"; do
	fetch_one "https://127.0.0.1:${server##*:}/hello.txt" -k
	is "$(rep_get "$R" ok)" true "-k accepts the ${server%:*} certificate"
	like "$(rep_get "$R" tls_version)" '^TLSv1\.[23]$' "-k still uses TLS (${server%:*})"
done
fetch_one "https://127.0.0.1:$SELFSIGNED_PORT/hello.txt" --insecure --cacert "$OTHER_CA_FILE"
is "$(rep_get "$R" ok)" true "--insecure wins over a useless --cacert"

# --- nothing was sent over an unverified connection ------------------------------
sleep 0.2
cp "$NGINX_ACCESS_LOG" "$T/all.log"
cmp_ok "$(wc -l <"$T/all.log")" -gt 0 "nginx logged the requests that succeeded"
is "$(grep -c "$NEVER" "$T/all.log")" 0 \
	"no request line reached nginx on a connection that failed verification" ||
	diag "$(grep "$NEVER" "$T/all.log" | head -n 5)"

# --- unusable trust anchors ----------------------------------------------------------
# unusable_ca WHAT MESSAGE ARGS...: exit status 2, and stderr is exactly
# "evfetch: MESSAGE", which names the file and says what is wrong with it.
unusable_ca() {
	local what=$1 message=$2
	shift 2
	fetch_one "https://127.0.0.1:$HTTPS_PORT$NEVER/unusable-ca" "$@"
	is "$EVF_RC" 2 "$what: exit status 2"
	is "$(cat "$EVF_ERR")" "evfetch: $message" "$what: the message names it and says why"
}
unusable_ca "--cacert with a missing file" \
	"cannot load CA file $T/does-not-exist.pem: No such file or directory" \
	--cacert "$T/does-not-exist.pem"
unusable_ca "--cacert with a directory" "cannot load CA file $T/capath: Is a directory" \
	--cacert "$T/capath"
printf 'not a certificate\n' >"$T/garbage.pem"
unusable_ca "--cacert with a file that holds no certificate" \
	"cannot load CA file $T/garbage.pem: no certificate or crl found" --cacert "$T/garbage.pem"
cp "$CA_FILE" "$T/unreadable.pem"
chmod 000 "$T/unreadable.pem"
if [ -r "$T/unreadable.pem" ]; then
	skip "root reads a file of mode 000" 2
else
	unusable_ca "--cacert with an unreadable file" \
		"cannot load CA file $T/unreadable.pem: Permission denied" --cacert "$T/unreadable.pem"
fi
unusable_ca "--capath with a missing directory" \
	"cannot load CA directory $T/no-such-dir: No such file or directory" --capath "$T/no-such-dir"
unusable_ca "--capath with a file" "cannot load CA directory $CA_FILE: Not a directory" \
	--capath "$CA_FILE"
is "$(grep -c "$NEVER" "$NGINX_ACCESS_LOG")" 0 "no request was sent with unusable trust anchors"

# --- protocol mix-ups -----------------------------------------------------------------
fetch_one "https://127.0.0.1:$HTTP_PORT/hello.txt" --cacert "$CA_FILE"
is "$EVF_RC" 1 "https to a plain HTTP port: exit status 1"
is "$(rep_get "$R" error_kind)" tls "https to a plain HTTP port: error_kind tls"
like "$(rep_get "$R" error)" 'wrong version number \(is this port plain HTTP\?\)$' \
	"https to a plain HTTP port: the detail asks whether the port is plain HTTP"

fetch_one "http://127.0.0.1:$HTTPS_PORT/hello.txt"
is "$(rep_get "$R" status)" 400 "http to a TLS port: nginx's 400 is reported"

# --- the verification cache ----------------------------------------------------------
# A host remembers the last chain that passed verification; a full handshake
# that presents the same chain for the same name skips chain building.  A
# different chain, or the same chain for another name, is verified in full.
N=$((N + 1))
R=$T/r.$N.jsonl
: >"$T/urls-same"
for i in 1 2 3 4 5 6 7 8; do
	echo "https://127.0.0.1:$HTTPS_PORT/n/same-chain-$i" >>"$T/urls-same"
done
evf --cacert "$CA_FILE" --discard --no-progress --report "$R" -c 2 \
	--no-http-keep-alive --no-sessionid -i "$T/urls-same"
is "$EVF_RC" 0 "8 full handshakes with one chain: exit status 0"
is "$(rep_count "$R" 'r["ok"]')" 8 "8 full handshakes with one chain: all ok"

# One host whose certificate changes after the first connection: each new
# chain fails although the first one passed.
start_badserver --tls "$PKI_DIR/server.pem" "$PKI_DIR/server.key" \
	--tls-next "$PKI_DIR/expired.pem" "$PKI_DIR/expired.key" \
	--tls-next "$PKI_DIR/selfsigned.pem" "$PKI_DIR/selfsigned.key" \
	--tls-next "$PKI_DIR/wronghost.pem" "$PKI_DIR/wronghost.key" \
	--tls-next "$PKI_DIR/server.pem" "$PKI_DIR/server.key"
N=$((N + 1))
R=$T/r.$N.jsonl
evf --cacert "$CA_FILE" --discard --no-progress --report "$R" -c 1 \
	--no-http-keep-alive --no-sessionid \
	"https://127.0.0.1:$BADSERVER_PORT/ok/10" \
	"https://127.0.0.1:$BADSERVER_PORT$NEVER/next-expired" \
	"https://127.0.0.1:$BADSERVER_PORT$NEVER/next-selfsigned" \
	"https://127.0.0.1:$BADSERVER_PORT$NEVER/next-wronghost" \
	"https://127.0.0.1:$BADSERVER_PORT/ok/11"
is "$(rep_get "$R" ok "https://127.0.0.1:$BADSERVER_PORT/ok/10")" true \
	"a changing certificate: the first, good one is ok"
like "$(rep_get "$R" error "https://127.0.0.1:$BADSERVER_PORT$NEVER/next-expired")" 'expired' \
	"a changing certificate: then an expired one fails"
like "$(rep_get "$R" error "https://127.0.0.1:$BADSERVER_PORT$NEVER/next-selfsigned")" 'self.signed' \
	"a changing certificate: then a self-signed one fails"
like "$(rep_get "$R" error "https://127.0.0.1:$BADSERVER_PORT$NEVER/next-wronghost")" \
	'mismatch|host|name|verif' "a changing certificate: then one for another name fails"
is "$(rep_get "$R" ok "https://127.0.0.1:$BADSERVER_PORT/ok/11")" true \
	"a changing certificate: the good one again is ok"
is "$(grep -c "$NEVER" "$BADSERVER_LOG")" 0 "no request was sent over a changed, bad certificate"

# The same chain for a name it does not carry, after it passed for one it does.
N=$((N + 1))
R=$T/r.$N.jsonl
evf --cacert "$CA_FILE" --discard --no-progress --report "$R" -c 1 --no-http-keep-alive \
	--no-sessionid --resolve "not-in-cert.test:$HTTPS_PORT:127.0.0.1" \
	--resolve "evfetch.test:$HTTPS_PORT:127.0.0.1" \
	"https://evfetch.test:$HTTPS_PORT/n/cache-good" \
	"https://not-in-cert.test:$HTTPS_PORT$NEVER/cache-other-name"
is "$(rep_get "$R" ok "https://evfetch.test:$HTTPS_PORT/n/cache-good")" true \
	"one chain, two names: the name in the certificate is ok"
is "$(rep_get "$R" error_kind "https://not-in-cert.test:$HTTPS_PORT$NEVER/cache-other-name")" tls \
	"one chain, two names: the other name fails"
sleep 0.2
is "$(grep -c "$NEVER" "$NGINX_ACCESS_LOG")" 0 "no request was sent for a name the cached chain lacks"

# The cache never outlives a certificate: a chain that passed is checked in
# full again once a certificate in it has expired, in the same process.
end=$(date -u -d '+10 seconds' +%Y%m%d%H%M%SZ)
openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$T/short.key" 2>/dev/null &&
	openssl req -new -key "$T/short.key" -subj "/CN=localhost" -out "$T/short.csr" 2>/dev/null &&
	openssl ca -batch -notext -config "$PKI_DIR/ca-db/ca.cnf" -cert "$PKI_DIR/ca.pem" \
		-keyfile "$PKI_DIR/ca.key" -startdate 20200101000000Z -enddate "$end" \
		-extensions expired_ext -in "$T/short.csr" -out "$T/short.pem" 2>/dev/null
is "$?" 0 "a certificate that expires in 10 s is made"
start_badserver --tls "$T/short.pem" "$T/short.key"
N=$((N + 1))
R=$T/r.$N.jsonl
evf --cacert "$CA_FILE" --discard --no-progress --report "$R" -c 1 \
	--no-http-keep-alive --no-sessionid \
	"https://127.0.0.1:$BADSERVER_PORT/trickle/12?interval=1" \
	"https://127.0.0.1:$BADSERVER_PORT$NEVER/after-expiry"
is "$(rep_get "$R" ok "https://127.0.0.1:$BADSERVER_PORT/trickle/12?interval=1")" true \
	"a short-lived certificate: ok while it is valid"
like "$(rep_get "$R" error "https://127.0.0.1:$BADSERVER_PORT$NEVER/after-expiry")" 'expired' \
	"a short-lived certificate: the same chain fails once it has expired"
is "$(grep -c "$NEVER" "$BADSERVER_LOG")" 0 "no request was sent over the expired certificate"

# --- TLS session resumption ---------------------------------------------------------
# New connections to one host at once: the first makes a full handshake and
# the others wait for its tickets, one connection per ticket (a TLS 1.3
# ticket serves once), so every later handshake is resumed.
N=$((N + 1))
R=$T/r.$N.jsonl
: >"$T/urls-resume"
for i in $(seq 30); do
	echo "https://127.0.0.1:$HTTPS_PORT/n/resume-$i" >>"$T/urls-resume"
done
evf --cacert "$CA_FILE" --discard --no-progress --report "$R" -c 10 \
	--no-http-keep-alive -i "$T/urls-resume"
is "$(rep_count "$R" 'r["ok"]')" 30 "30 new connections at -c 10: all ok"
sleep 0.2
is "$(grep -c ' "GET /n/resume-[0-9]* .*/r$' "$NGINX_ACCESS_LOG")" 29 \
	"30 new connections at -c 10: 29 resumed TLS sessions"
is "$(grep -c ' "GET /n/resume-[0-9]* .*/\.$' "$NGINX_ACCESS_LOG")" 1 \
	"30 new connections at -c 10: one full handshake"

N=$((N + 1))
R=$T/r.$N.jsonl
sed 's/resume-/noresume-/' "$T/urls-resume" >"$T/urls-noresume"
evf --cacert "$CA_FILE" --discard --no-progress --report "$R" -c 10 \
	--no-http-keep-alive --no-sessionid -i "$T/urls-noresume"
is "$(rep_count "$R" 'r["ok"]')" 30 "--no-sessionid: all ok"
sleep 0.2
is "$(grep -c ' "GET /n/noresume-[0-9]* .*/\.$' "$NGINX_ACCESS_LOG")" 30 \
	"--no-sessionid: 30 full handshakes"

# Servers that give no tickets, that speak TLS 1.2, or whose certificate
# fails: connections held for a ticket must not wait for nothing.
for mode in no-tickets tls12 bad-cert; do
	case $mode in
	no-tickets) start_badserver --tls "$PKI_DIR/server.pem" "$PKI_DIR/server.key" --no-tickets ;;
	tls12) start_badserver --tls "$PKI_DIR/server.pem" "$PKI_DIR/server.key" --tls-max TLSv1.2 ;;
	bad-cert) start_badserver --tls "$PKI_DIR/expired.pem" "$PKI_DIR/expired.key" ;;
	esac
	N=$((N + 1))
	R=$T/r.$N.jsonl
	urls=()
	for i in 1 2 3 4 5 6 7 8; do
		urls+=("https://127.0.0.1:$BADSERVER_PORT/ok/$i")
	done
	evf --cacert "$CA_FILE" --discard --no-progress --report "$R" -c 8 \
		--no-http-keep-alive "${urls[@]}"
	is "$(rep_lines "$R")" 8 "$mode, 8 connections at once: one report line each"
	if [ "$mode" = bad-cert ]; then
		is "$(rep_count "$R" 'r["error_kind"] == "tls"')" 8 "$mode: every one fails verification"
	else
		is "$(rep_count "$R" 'r["ok"]')" 8 "$mode: all ok"
	fi
	cmp_ok "$EVF_MS" -lt 20000 "$mode: done in ${EVF_MS} ms (no waiting for a ticket)"
done

# --- TLS versions (badserver) -----------------------------------------------------------
start_badserver --tls "$PKI_DIR/server.pem" "$PKI_DIR/server.key" --tls-max TLSv1.2
fetch_one "https://127.0.0.1:$BADSERVER_PORT/ok/10" --cacert "$CA_FILE"
is "$(rep_get "$R" ok)" true "a TLS 1.2-only server: ok"
is "$(rep_get "$R" tls_version)" TLSv1.2 "a TLS 1.2-only server: tls_version TLSv1.2"

start_badserver --tls "$PKI_DIR/server.pem" "$PKI_DIR/server.key" --tls-max TLSv1.3 \
	--tls-min TLSv1.3
fetch_one "https://127.0.0.1:$BADSERVER_PORT/ok/10" --cacert "$CA_FILE"
is "$(rep_get "$R" tls_version)" TLSv1.3 "a TLS 1.3-only server: tls_version TLSv1.3"

start_badserver --tls "$PKI_DIR/server.pem" "$PKI_DIR/server.key" --tls-max TLSv1.1
fetch_one "https://127.0.0.1:$BADSERVER_PORT$NEVER/tls11" --cacert "$CA_FILE"
is "$EVF_RC" 1 "a server that stops at TLS 1.1: exit status 1"
is "$(rep_get "$R" error_kind)" tls "a server that stops at TLS 1.1: error_kind tls"
fetch_one "https://127.0.0.1:$BADSERVER_PORT$NEVER/tls11-k" -k
is "$(rep_get "$R" error_kind)" tls "a server that stops at TLS 1.1: tls even with -k"
is "$(grep -c "$NEVER" "$BADSERVER_LOG")" 0 "no request was sent over TLS 1.1"

done_testing
