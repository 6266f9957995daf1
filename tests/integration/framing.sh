#!/bin/bash
# framing.sh - strict HTTP/1.1 framing and TLS faults against
# tests/servers/badserver.py: conflicting or malformed Content-Length,
# Content-Length with Transfer-Encoding, bad chunk sizes, chunk extensions
# and chunk ends, broken status lines, HTTP/0.9, NUL bytes in a head (all
# error_kind protocol), oversized or too many header lines (too_large),
# each leaving no file, while valid chunk extensions (quoted-pairs, BWS) are
# accepted; responses with extra bytes and servers that close idle
# connections must never poison the connection pool; certificate faults
# (expired, self-signed, wrong host, missing intermediate), a TLS 1.0-only
# server and a handshake that stalls (error_kind tls or timeout, each with
# a detail that says why).
if [ -z "${BASH_VERSION:-}" ]; then exec bash "$0" "$@"; fi
: "${TOP_SRCDIR:=$(cd "$(dirname "$0")/../.." && pwd)}"
. "$TOP_SRCDIR/tests/lib/common.sh"
. "$TOP_SRCDIR/tests/lib/nginx.sh"
. "$TOP_SRCDIR/tests/lib/servers.sh"

need_evfetch
need_python
need_openssl

# Library bugs found by these tests: the checks that depend on them are
# TODO while the text is set.  Empty it once the bug is fixed (a TODO test
# that passes is an XPASS, which fails the suite under automake).
BUG_CHUNK_CRLF=""

# known_bug TEXT CMD...: run the check CMD as TODO while TEXT is not empty.
known_bug() {
	local why=$1
	shift
	[ -z "$why" ] || todo_start "$why"
	"$@"
	todo_end
}

make_pki "$T/pki" || bail_out "could not make the test PKI"

start_badserver
H=http://127.0.0.1:$BADSERVER_PORT
LOG=$BADSERVER_LOG
start_badserver --tls "$PKI_DIR/server.pem" "$PKI_DIR/server.key"
S=https://127.0.0.1:$BADSERVER_PORT
SLOG=$BADSERVER_LOG

N=0
# fetch URL ARGS...: one URL with -o; the body in $BODY, the report in $R.
fetch() {
	local url=$1
	shift
	N=$((N + 1))
	R=$T/r.$N.jsonl
	BODY=$T/out.$N/body
	mkdir -p "$T/out.$N"
	evf --no-progress --cacert "$CA_FILE" --report "$R" -o "$BODY" "$@" "$url"
	load_report
}

# must_fail NAME KINDS URL ARGS...: exit status 1, an error_kind matching
# the ERE KINDS, a detail, no file left.
must_fail() {
	local name=$1 kinds=$2 url=$3
	shift 3
	fetch "$url" "$@"
	is "$EVF_RC/$(get ok)" 1/false "$name: exit status 1, not ok"
	like "$(get error_kind)" "^($kinds)$" "$name: error_kind $kinds"
	is "$(files_in "$T/out.$N")" "" "$name: no file and no temp file left"
}

# conn_of LOG TARGET: the connection number that served TARGET.
conn_of() {
	awk -v t="$2" '$2 ~ /^req=/ && $4 == t { sub("conn=", "", $1); print $1; exit }' "$1"
}

# slow_input FIFO LINE1 SECONDS LINE2: LINE1 at once, LINE2 SECONDS later.
slow_input() {
	rm -f "$1"
	mkfifo "$1" || bail_out "mkfifo failed"
	(printf '%s\n' "$2"; sleep "$3"; printf '%s\n' "$4") >"$1" &
	at_exit "kill $! 2>/dev/null"
}

# ============================================================ Content-Length
must_fail "two different Content-Length" protocol "$H/dup-cl"
is "$(get error)" "the server sent an ambiguous body length (Duplicate Content-Length)" \
	"two different Content-Length: the detail says so in words"
must_fail "Content-Length given twice with the same value" protocol "$H/dup-cl-same"
must_fail "Content-Length: 5, 5" protocol "$H/cl-list"
must_fail "Content-Length: +5" protocol "$H/cl-plus"
must_fail "Content-Length: -1" protocol "$H/negative-cl"
must_fail "Content-Length past 64 bits" 'protocol|too_large' "$H/huge-cl"
must_fail "Content-Length with Transfer-Encoding: chunked" protocol "$H/cl-and-te"
must_fail "whitespace between a header name and its colon" protocol "$H/cl-space-colon"
must_fail "two different Content-Length over TLS" protocol "$S/dup-cl"
must_fail "Content-Length with Transfer-Encoding over TLS" protocol "$S/cl-and-te"

# RFC 9112, 6.3: when chunked is not the last transfer coding of a
# response, the body runs until the server closes the connection.
fetch "$H/te-unknown"
is "$(get ok)/$(get bytes)" true/15 "Transfer-Encoding: chunked, gzip: read until close (15 raw bytes)"
is "$(cat "$BODY")" "$(printf '5\r\nhello\r\n0\r\n\r\n')" \
	"Transfer-Encoding: chunked, gzip: the raw bytes, not de-chunked"

# ============================================================ chunks
must_fail "chunk size 'zz'" protocol "$H/bad-chunk"
must_fail "chunk size past 64 bits" 'protocol|too_large' "$H/huge-chunk-size"
must_fail "chunk size -5" protocol "$H/chunk-negative"
must_fail "chunk size 'zz' over TLS" protocol "$S/bad-chunk"
# RFC 9112, 7.1.1: quoted-pairs, BWS and several extensions on a line are
# valid (llhttp 8 alone refuses them); an unterminated quoted string is not.
for base in "$H" "$S"; do
	fetch "$base/chunked/70000?ext=quoted&trailer=1"
	is "$EVF_RC/$(get ok)/$(get bytes)" 0/true/70000 \
		"${base%%:*}: chunk extensions with quoted-pairs and BWS: ok, 70000 bytes"
	badserver_body 70000 | cmp -s - "$BODY"
	ok $? "${base%%:*}: chunk extensions with quoted-pairs and BWS: the right bytes"
done
must_fail "an unterminated quoted string in a chunk extension" protocol "$H/chunk-bad-ext"
like "$(get error)" 'chunk extension' "an unterminated quoted string: the detail names the chunk extension"
fetch "$H/chunk-no-crlf"
known_bug "$BUG_CHUNK_CRLF" is "$(get error_kind)" protocol \
	"chunk data followed by 'XX' instead of CRLF: protocol"
known_bug "$BUG_CHUNK_CRLF" is "$(files_in "$T/out.$N")" "" \
	"chunk data without its CRLF: no file left"

# ============================================================ status lines, heads
must_fail "a garbage status" protocol "$H/garbage-status"
like "$(get error)" "^the server's status line has an invalid status code" \
	"a garbage status: the detail says so in words"
must_fail "a status of 20 digits" protocol "$H/huge-status"
must_fail "a four-digit status" protocol "$H/four-digit-status"
must_fail "no status line (HTTP/0.9)" protocol "$H/no-status-line"
is "$(get error)" "the server did not answer with HTTP/1.x" \
	"no status line: the detail says so in words"
must_fail "no status line over TLS" protocol "$S/no-status-line"
is "$(get error)" "the server did not answer with HTTP/1.x" \
	"no status line over TLS: the detail says so in words"
must_fail "a 1 MiB header line" too_large "$H/long-header"
like "$(get error)" 'larger|long|size|limit' "a 1 MiB header line: the detail names the limit"
must_fail "10000 header lines" too_large "$H/many-headers"
like "$(get error)" 'header' "10000 header lines: the detail names the headers"
must_fail "a NUL byte in a header value" protocol "$H/header-nul"

# ============================================================ the connection pool
# The first response carries a whole fake response after its 5 bytes; the
# URLs after it share the one connection slot (-c 1) and must each get
# their own body, never the fake one.
mkdir -p "$T/xb"
R=$T/xb.jsonl
evf -c 1 -d "$T/xb" --no-progress --report "$R" \
	"$H/extra-bytes?u=x1" "$H/ok/7?u=x1" "$H/ok/8?u=x1" "$H/ok/9?u=x1"
is "$(rep_count "$R" 'r["url"].endswith("/extra-bytes?u=x1") and
	((r["ok"] and r["bytes"] == 5) or r["error_kind"] == "protocol")')" 1 \
	"extra bytes after Content-Length: that response is 5 bytes (or protocol)"
all_ok=1
for n in 7 8 9; do
	badserver_body "$n" >"$T/xb.expect"
	f=$(rep_get "$R" file "$H/ok/$n?u=x1")
	if [ "$(rep_get "$R" ok "$H/ok/$n?u=x1")" != true ] || ! cmp -s "$T/xb.expect" "$f"; then
		all_ok=0
		diag "/ok/$n?u=x1: ok=$(rep_get "$R" ok "$H/ok/$n?u=x1") file=$f"
	fi
done
ok $((1 - all_ok)) "extra bytes: the next three responses on -c 1 are ok and byte-exact"
is "$(grep -l POISON "$T"/xb/* 2>/dev/null | wc -l | tr -d ' ')" 0 "extra bytes: no file holds the fake response"
isnt "$(conn_of "$LOG" "/ok/7?u=x1")" "$(conn_of "$LOG" "/extra-bytes?u=x1")" \
	"extra bytes: that connection was not used again"

# The same with the fake response sent while the connection sits idle.
slow_input "$T/fifo1" "$H/extra-bytes?delay=0.2&u=x2" 1.2 "$H/ok/8?u=x2"
mkdir -p "$T/xb2"
R=$T/xb2.jsonl
EVF_STDIN=$T/fifo1 evf -c 1 -i - -d "$T/xb2" --no-progress --report "$R"
is "$(rep_get "$R" ok "$H/ok/8?u=x2")" true "bytes arriving on an idle pooled connection: the next URL is ok"
is "$(cat "$T/xb2/8" 2>/dev/null)" 01234567 "bytes arriving on an idle connection: its own body"

# A response with broken framing must not leave its connection in the pool.
mkdir -p "$T/pp"
R=$T/pp.jsonl
evf -c 1 -d "$T/pp" --no-progress --report "$R" "$H/dup-cl?u=p1" "$H/ok/3?u=p1" \
	"$H/bad-chunk?u=p1" "$H/ok/4?u=p1"
is "$(rep_count "$R" 'r["ok"]')/$(cat "$T/pp/3" "$T/pp/4" 2>/dev/null)" 2/0120123 \
	"after protocol errors on -c 1: the next URLs are ok with their own bodies"

# The server closes an idle keep-alive connection after 0.3 s; the second
# URL comes 1.5 s later and needs a new connection.
for scheme in http https; do
	base=$H log=$LOG
	[ "$scheme" = https ] && base=$S log=$SLOG
	slow_input "$T/fifo-$scheme" "$base/ok/5?idle-close=0.3&u=st" 1.5 "$base/ok/9?u=st"
	R=$T/stale-$scheme.jsonl
	EVF_STDIN=$T/fifo-$scheme evf --cacert "$CA_FILE" -c 1 -i - --discard --no-progress --report "$R"
	is "$EVF_RC/$(rep_count "$R" 'r["ok"]')" 0/2 "$scheme: a pooled connection the server closed while idle: both URLs ok"
	is "$(rep_get "$R" reused "$base/ok/9?u=st")" false "$scheme: the second URL is not reported as reused"
	c1=$(conn_of "$log" "/ok/5?idle-close=0.3&u=st")
	c2=$(conn_of "$log" "/ok/9?u=st")
	if [ -n "$c1" ] && [ -n "$c2" ] && [ "$c1" != "$c2" ]; then
		pass "$scheme: the second URL went out on a new connection ($c1 then $c2)"
	else
		fail "$scheme: the second URL went out on a new connection (got '$c1' then '$c2')"
	fi
	grep -q "conn=$c1 idle for 0.3s: closing" "$log"
	ok $? "$scheme: the server did close the first connection while idle"
done

# ============================================================ TLS faults
# tls_fail NAME DETAIL_ERE KIND CERT KEY [ARGS...]: a badserver with that
# certificate; the transfer fails with error_kind KIND and a detail that
# matches DETAIL_ERE, and no request reaches the server.
tls_fail() {
	local name=$1 detail_re=$2 kind=$3 cert=$4 key=$5
	shift 5
	start_badserver --tls "$cert" "$key"
	fetch "https://127.0.0.1:$BADSERVER_PORT/never/$N" "$@"
	is "$EVF_RC/$(get error_kind)" "1/$kind" "$name: error_kind $kind"
	like "$(get error | tr '[:upper:]' '[:lower:]')" "$detail_re" "$name: the detail says why"
	is "$(get status)" null "$name: no HTTP status"
	sleep 0.1
	is "$(grep -c ' req=' "$BADSERVER_LOG")" 0 "$name: no request reached the server"
}
tls_fail "an expired certificate" 'expired' tls "$PKI_DIR/expired.pem" "$PKI_DIR/expired.key"
tls_fail "a self-signed certificate" 'self.signed' tls "$PKI_DIR/selfsigned.pem" "$PKI_DIR/selfsigned.key"
tls_fail "a certificate for another host" 'mismatch|host' tls "$PKI_DIR/wronghost.pem" "$PKI_DIR/wronghost.key"

# A chain root -> intermediate -> leaf.  evfetch trusts only the root; a
# server that sends the leaf alone cannot be verified.
C=$T/chain
mkdir -p "$C"
ossl() { "$OPENSSL_BIN" "$@" 2>>"$C/openssl.log"; }
printf '%s\n' "basicConstraints = critical, CA:TRUE, pathlen:0" \
	"keyUsage = critical, keyCertSign, cRLSign" "subjectKeyIdentifier = hash" \
	"authorityKeyIdentifier = keyid:always" >"$C/inter.ext"
printf '%s\n' "basicConstraints = critical, CA:FALSE" "keyUsage = critical, digitalSignature" \
	"extendedKeyUsage = serverAuth" "subjectKeyIdentifier = hash" \
	"authorityKeyIdentifier = keyid:always" \
	"subjectAltName = DNS:localhost, IP:127.0.0.1" >"$C/leaf.ext"
if ossl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$C/root.key" &&
	ossl req -new -x509 -key "$C/root.key" -sha256 -days 30 -subj "/CN=evfetch chain root" \
		-addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" \
		-addext "subjectKeyIdentifier=hash" -out "$C/root.pem" &&
	ossl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$C/inter.key" &&
	ossl req -new -key "$C/inter.key" -subj "/CN=evfetch chain intermediate" -out "$C/inter.csr" &&
	ossl x509 -req -in "$C/inter.csr" -sha256 -days 30 -CA "$C/root.pem" -CAkey "$C/root.key" \
		-set_serial 0x1001 -extfile "$C/inter.ext" -out "$C/inter.pem" &&
	ossl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$C/leaf.key" &&
	ossl req -new -key "$C/leaf.key" -subj "/CN=localhost" -out "$C/leaf.csr" &&
	ossl x509 -req -in "$C/leaf.csr" -sha256 -days 30 -CA "$C/inter.pem" -CAkey "$C/inter.key" \
		-set_serial 0x1002 -extfile "$C/leaf.ext" -out "$C/leaf.pem"; then
	cat "$C/leaf.pem" "$C/inter.pem" >"$C/fullchain.pem"
	start_badserver --tls "$C/fullchain.pem" "$C/leaf.key"
	fetch "https://127.0.0.1:$BADSERVER_PORT/ok/5" --cacert "$C/root.pem"
	is "$(get ok)" true "a server sending leaf and intermediate, only the root trusted: ok (the chain is sound)"
	tls_fail "a server sending the leaf without its intermediate" 'issuer|verif|chain' tls \
		"$C/leaf.pem" "$C/leaf.key" --cacert "$C/root.pem"
else
	diag_file "$C/openssl.log" 20
	skip "openssl could not make the intermediate chain" 5
fi

# A server that speaks nothing newer than TLS 1.0; evfetch asks for 1.2 or
# later.  First make sure the server really offers TLS 1.0: some systems'
# OpenSSL cannot, and then there is nothing to test.
start_badserver --tls "$PKI_DIR/server.pem" "$PKI_DIR/server.key" --tls-max TLSv1
TLS10_PORT=$BADSERVER_PORT
TLS10_LOG=$BADSERVER_LOG
probe=$("$OPENSSL_BIN" s_client -connect "127.0.0.1:$TLS10_PORT" -tls1 \
	-cipher 'DEFAULT:@SECLEVEL=0' </dev/null 2>&1)
if printf '%s\n' "$probe" | grep -Eq 'Protocol *: TLSv1$|New, TLSv1(\.0)?,'; then
	fetch "https://127.0.0.1:$TLS10_PORT/never/tls10"
	is "$EVF_RC/$(get error_kind)" 1/tls "a TLS 1.0-only server: error_kind tls"
	like "$(get error | tr '[:upper:]' '[:lower:]')" 'protocol|version' \
		"a TLS 1.0-only server: the detail names the protocol version"
	fetch "https://127.0.0.1:$TLS10_PORT/never/tls10-k" -k
	is "$(get error_kind)" tls "a TLS 1.0-only server: tls even with -k"
	is "$(grep -c ' req=' "$TLS10_LOG")" 0 "a TLS 1.0-only server: no request was sent"
else
	diag "openssl s_client -tls1 against badserver --tls-max TLSv1:"
	diag "$(printf '%s\n' "$probe" | tail -n 5)"
	skip "this system's OpenSSL cannot serve TLS 1.0, so no TLS 1.0-only server can be made" 4
fi

# A server that accepts TCP connections and never answers the ClientHello.
start_badserver --handshake-stall
fetch "https://127.0.0.1:$BADSERVER_PORT/never" --connect-timeout 1
is "$(get error_kind)" timeout "a stalled TLS handshake, --connect-timeout 1: timeout"
like "$(get error)" 'within|connect|handshake' "a stalled handshake: the detail says what did not finish"
cmp_ok "$EVF_MS" -lt 4000 "a stalled handshake: ended after $EVF_MS ms"
fetch "https://127.0.0.1:$BADSERVER_PORT/never" -m 1
is "$(get error_kind)" timeout "a stalled TLS handshake, -m 1: timeout"
cmp_ok "$EVF_MS" -lt 4000 "a stalled handshake with -m 1: ended after $EVF_MS ms"

done_testing
