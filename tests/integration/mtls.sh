#!/bin/bash
# mtls.sh - client certificates (--cert, --key, --pass).
#
# nginx with ssl_verify_client on checks the certificate after the
# handshake and answers 400 when there is none or it does not verify, so
# against nginx a right certificate gets 200 (over HTTP/1.1 and HTTP/2)
# and a missing or foreign one a 400 page that says which.  openssl
# s_server -Verify refuses in TLS itself: TLS 1.3 with an alert after the
# client's handshake is done (certificate_required, unknown_ca), TLS 1.2
# with a handshake failure; the transfer's detail must say that it was
# about the client certificate.  Certificates, keys (one encrypted) and a
# CA of clients are made here; the passphrase never shows in any output.
# tests/embed/test_cert gives transfers certificates of their own.
if [ -z "${BASH_VERSION:-}" ]; then exec bash "$0" "$@"; fi
: "${TOP_SRCDIR:=$(cd "$(dirname "$0")/../.." && pwd)}"
. "$TOP_SRCDIR/tests/lib/common.sh"
. "$TOP_SRCDIR/tests/lib/nginx.sh"

need_evfetch
need_python
need_openssl

C=$T/cpki
mkdir -p "$C" "$EVF_CWD"
PASS=s3cret-Passphrase-42
ossl() { "$OPENSSL_BIN" "$@" 2>>"$C/openssl.log"; }

# client-ca and other-ca; NAME.pem/.key signed by CA for clientAuth
make_ca() {
	ossl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$C/$1.key" &&
		ossl req -new -x509 -key "$C/$1.key" -sha256 -days 30 -subj "/CN=$2" \
			-addext "basicConstraints=critical,CA:TRUE" \
			-addext "keyUsage=critical,keyCertSign,cRLSign" -out "$C/$1.pem"
}
make_client() {
	local name=$1 ca=$2
	printf 'basicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=clientAuth\n' >"$C/client.ext"
	ossl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$C/$name.key" &&
		ossl req -new -key "$C/$name.key" -subj "/CN=$name" -out "$C/$name.csr" &&
		ossl x509 -req -in "$C/$name.csr" -sha256 -days 30 -CA "$C/$ca.pem" \
			-CAkey "$C/$ca.key" -set_serial "0x$(od -An -N8 -tx1 /dev/urandom | tr -d ' \n')" \
			-extfile "$C/client.ext" -out "$C/$name.pem"
}
make_ca client-ca "evfetch client CA" && make_ca other-ca "evfetch other CA" &&
	make_client alice client-ca && make_client mallory other-ca &&
	ossl pkey -in "$C/alice.key" -aes256 -passout "pass:$PASS" -out "$C/alice-enc.key" ||
	{ diag_file "$C/openssl.log" 20; bail_out "openssl could not make the client PKI"; }
cat "$C/alice.pem" "$C/alice-enc.key" >"$C/alice-both.pem"

read -r MTLS_PORT S13_PORT S12_PORT SH2_PORT < <(free_ports 4)
export NGINX_H2=1
NGINX_EXTRA_PORTS=$MTLS_PORT
NGINX_EXTRA_SERVERS="    server {
        listen 127.0.0.1:$MTLS_PORT ssl http2;
        ssl_certificate $T/nginx/pki/server.pem;
        ssl_certificate_key $T/nginx/pki/server.key;
        ssl_client_certificate $C/client-ca.pem;
        ssl_verify_client on;
        location = /whoami {
            default_type text/plain;
            return 200 \"\$ssl_client_s_dn \$server_protocol\";
        }
        include $T/nginx/locations.conf;
    }"
start_nginx "$T/nginx"

URL=https://127.0.0.1:$MTLS_PORT/whoami
# fetch URL ARGS...: the body in $BODY, the report in $R.
fetch() { evf_to "$1" --cacert "$CA_FILE" "${@:2}"; }
# no_secret WHAT: the passphrase is in none of the outputs of the last run.
no_secret() {
	local hits
	hits=$(grep -l -F -e "$PASS" "$EVF_OUT" "$EVF_ERR" "$R" 2>/dev/null)
	is "$hits" "" "$1: the passphrase shows nowhere"
}

# --- nginx: the right certificate ----------------------------------------------
fetch "$URL" --cert "$C/alice.pem" --key "$C/alice.key" --http1.1
is "$EVF_RC" 0 "right certificate, HTTP/1.1: exit 0"
is "$(cat "$BODY" 2>/dev/null)" "CN=alice HTTP/1.1" "right certificate, HTTP/1.1: nginx saw CN=alice"
fetch "$URL" --cert "$C/alice.pem" --key "$C/alice.key"
is "$(cat "$BODY" 2>/dev/null)" "CN=alice HTTP/2.0" "right certificate, HTTP/2: nginx saw CN=alice"
is "$(rep_get "$R" http_version)" 2 "right certificate, HTTP/2: report says 2"

# --- encrypted keys --------------------------------------------------------------
fetch "$URL" --cert "$C/alice.pem" --key "$C/alice-enc.key" --pass "$PASS"
is "$(cat "$BODY" 2>/dev/null)" "CN=alice HTTP/2.0" "encrypted key, right --pass: 200 as alice"
fetch "$URL" --cert "$C/alice-both.pem:$PASS" --http1.1
is "$(cat "$BODY" 2>/dev/null)" "CN=alice HTTP/1.1" "--cert FILE:PASS, key in the same file: 200 as alice"
no_secret "--cert FILE:PASS"

fetch "$URL" --cert "$C/alice.pem" --key "$C/alice-enc.key" --pass wrong-one
is "$EVF_RC" 2 "encrypted key, wrong --pass: exit 2 before any request"
like "$(cat "$EVF_ERR")" "cannot load the client key .*alice-enc\.key: wrong passphrase" \
	"encrypted key, wrong --pass: says so"
fetch "$URL" --cert "$C/alice.pem" --key "$C/alice-enc.key"
is "$EVF_RC" 2 "encrypted key, no --pass: exit 2"
like "$(cat "$EVF_ERR")" "alice-enc\.key is encrypted and no passphrase was given" \
	"encrypted key, no --pass: says so (and did not prompt: stdin is /dev/null)"
fetch "$URL" --cert "$C/alice.pem" --key "$C/alice-enc.key" --pass "$PASS$PASS" -s -S
is "$EVF_RC" 2 "encrypted key, a longer wrong --pass: exit 2"
no_secret "wrong passphrase"

# --- unusable files --------------------------------------------------------------
fetch "$URL" --cert "$C/nonexistent.pem"
is "$EVF_RC" 2 "missing certificate file: exit 2"
like "$(cat "$EVF_ERR")" "cannot load the client certificate .*nonexistent\.pem: No such file" \
	"missing certificate file: says so"
fetch "$URL" --cert "$C/alice.pem" --key "$C/mallory.key"
is "$EVF_RC" 2 "key of another certificate: exit 2"
like "$(cat "$EVF_ERR")" "mallory\.key does not belong to the certificate" \
	"key of another certificate: says so"
fetch "$URL" --key "$C/alice.key"
is "$EVF_RC" 2 "--key without --cert: usage error"

# --- nginx refuses over HTTP: 400 with its reason ------------------------------------
fetch "$URL" --http1.1
is "$(rep_get "$R" status)" 400 "no certificate, nginx: status 400"
like "$(cat "$BODY" 2>/dev/null)" "No required SSL certificate was sent" "no certificate, nginx: its page says why"
fetch "$URL" --cert "$C/mallory.pem" --key "$C/mallory.key" -f
is "$(rep_get "$R" status)" 400 "certificate of another CA, nginx, HTTP/2: status 400"
is "$(rep_get "$R" error_kind)" http "certificate of another CA, nginx, -f: error_kind http"

# --- openssl s_server refuses in TLS ---------------------------------------------------
s_server() {
	local port=$1
	shift
	"$OPENSSL_BIN" s_server -accept "127.0.0.1:$port" -cert "$T/nginx/pki/server.pem" \
		-key "$T/nginx/pki/server.key" -CAfile "$C/client-ca.pem" -Verify 1 \
		-verify_return_error -www -quiet "$@" </dev/null >>"$T/s_server.$port.log" 2>&1 &
	at_exit "kill $! 2>/dev/null"
}
s_server "$S13_PORT"
s_server "$S12_PORT" -tls1_2
s_server "$SH2_PORT" -alpn h2
wait_ports 10 "" "$S13_PORT" "$S12_PORT" "$SH2_PORT" || bail_out "openssl s_server did not start"

# must_fail_tls WHAT DETAIL_ERE PORT ARGS...
must_fail_tls() {
	local what=$1 re=$2 port=$3
	shift 3
	fetch "https://127.0.0.1:$port/" "$@"
	is "$EVF_RC" 1 "$what: exit 1"
	is "$(rep_get "$R" error_kind)" tls "$what: error_kind tls"
	like "$(rep_get "$R" error)" "$re" "$what: the detail names the client certificate"
}
must_fail_tls "TLS 1.3, no certificate" "certificate required.*the server required a client certificate and none was given" "$S13_PORT"
must_fail_tls "TLS 1.3, certificate of another CA" "unknown ca.*the server rejected the client certificate" \
	"$S13_PORT" --cert "$C/mallory.pem" --key "$C/mallory.key"
must_fail_tls "TLS 1.3 and HTTP/2, no certificate" "the server required a client certificate and none was given" "$SH2_PORT"
is "$(rep_get "$R" http_version)" 2 "TLS 1.3 and HTTP/2, no certificate: the alert came to an HTTP/2 connection"
must_fail_tls "TLS 1.3 and HTTP/2, certificate of another CA" "the server rejected the client certificate" \
	"$SH2_PORT" --cert "$C/mallory.pem" --key "$C/mallory.key"
must_fail_tls "TLS 1.2, no certificate" "the server asked for a client certificate and none was given" "$S12_PORT"
must_fail_tls "TLS 1.2, certificate of another CA" "the server rejected the client certificate" \
	"$S12_PORT" --cert "$C/mallory.pem" --key "$C/mallory.key"
fetch "https://127.0.0.1:$S13_PORT/" --cert "$C/alice.pem" --key "$C/alice-enc.key" --pass "$PASS"
is "$(rep_get "$R" status)" 200 "TLS 1.3, right certificate, s_server: 200"
no_secret "s_server"
fetch "https://127.0.0.1:$S12_PORT/" --cert "$C/alice.pem" --key "$C/alice.key"
is "$(rep_get "$R" status)" 200 "TLS 1.2, right certificate, s_server: 200"

# --- the library: a certificate per transfer (tests/embed/test_cert) -----------
CERTT=$TOP_BUILDDIR/tests/embed/test_cert
if [ -x "$CERTT" ]; then
	wrapper=()
	if [ -n "${EVFETCH_WRAPPER:-}" ]; then
		# shellcheck disable=SC2206
		wrapper=("$LIBTOOL" --mode=execute $EVFETCH_WRAPPER)
	fi
	timeout -k 5 "${EVF_TIMEOUT:-60}" "${wrapper[@]}" "$CERTT" "$URL" "$CA_FILE" \
		"$C/alice.pem" "$C/alice.key" "$C/mallory.pem" "$C/mallory.key" "$C/alice-enc.key" \
		"$PASS" >"$T/test_cert.tap" 2>"$T/test_cert.err"
	status=$?
	relay_tap "per transfer" "$T/test_cert.tap"
	is "$status" 0 "test_cert exited 0" || diag_file "$T/test_cert.err" 20
else
	skip "test_cert is not built ($CERTT)"
fi

done_testing
