#!/bin/bash
# body.sh - request bodies and methods against nginx (its dav module stores
# PUT bodies; /post/ stores any method's body the same way, proxied):
#   - tests/embed/test_body (the library: readers that defer, cancels in
#     the middle of an upload, 307 and rewinds, retries by method, the
#     request API's setters), over HTTP/1.1, TLS with HTTP/2, and h2c;
#   - the command line: -X, --data, --data-binary, --data-urlencode,
#     --json, -T FILE and -T -, -u; byte-exact bodies with Content-Length
#     (and chunked through the library), the redirect matrix for POST and
#     PUT, a server that answers 413 before reading the body.
if [ -z "${BASH_VERSION:-}" ]; then exec bash "$0" "$@"; fi
: "${TOP_SRCDIR:=$(cd "$(dirname "$0")/../.." && pwd)}"
. "$TOP_SRCDIR/tests/lib/common.sh"
NGINX_H2=1
. "$TOP_SRCDIR/tests/lib/nginx.sh"
. "$TOP_SRCDIR/tests/lib/servers.sh"

need_evfetch
BODY=$TOP_BUILDDIR/tests/embed/test_body
[ -x "$BODY" ] || skip_all "test_body is not built ($BODY)"
start_nginx "$T/nginx"
H=http://127.0.0.1:$HTTP_PORT
S=https://localhost:$HTTPS_PORT
C=http://127.0.0.1:$H2C_PORT
BLOG=$NGINX_DIR/logs/body.log
PUT=$WWW_DIR/put

wrapper=()
if [ -n "${EVFETCH_WRAPPER:-}" ]; then
	# shellcheck disable=SC2206
	wrapper=("$LIBTOOL" --mode=execute $EVFETCH_WRAPPER)
fi
# run_body NAME BASE [h2c]: test_body's TAP, each line renamed and counted here
run_body() {
	local name=$1 url=$2 f
	f=$T/body-${name//[^A-Za-z0-9]/_}
	rm -rf "$PUT"
	H2BAD_URL=${H2BAD_URL:-} timeout -k 5 "${EVF_TIMEOUT:-60}" "${wrapper[@]}" "$BODY" "$url" "$CA_FILE" "$WWW_DIR" ${3:+"$3"} \
		>"$f.tap" 2>"$f.err"
	local status=$?
	relay_tap "$name" "$f.tap"
	is "$status" 0 "$name: test_body exited 0"
	[ "$status" -eq 0 ] || diag_file "$f.err" 20
}
run_body "HTTP/1.1" "$H"
grep -q '^PUT /put/stream.bin 20[14] cl=- te=chunked proto=HTTP/1.1' "$BLOG"
is $? 0 "HTTP/1.1: the body of unknown size went chunked"
run_body "HTTP/2 over TLS" "$S"
grep -q '^PUT /put/stream.bin 20[14] cl=- te=- proto=HTTP/2.0' "$BLOG"
is $? 0 "HTTP/2: the body of unknown size went as DATA frames without a length"
# h2bad answers before it reads a body, and does not reset the stream
start_h2bad
H2BAD_URL=http://127.0.0.1:$H2BAD_PORT run_body "h2c" "$C" h2c

# ---------------------------------------------------------- the command line
head -c 2500000 /dev/urandom >"$T/big.bin"
printf 'line one\r\nline two\n' >"$T/lines.txt"
EVC=(--cacert "$CA_FILE" --no-progress)
for proto in --http1.1 --http2; do
	rm -rf "$PUT"
	evf "${EVC[@]}" "$proto" -T "$T/big.bin" "$S/put/t.bin"
	is "$EVF_RC" 0 "$proto -T FILE: exit 0"
	cmp -s "$T/big.bin" "$PUT/t.bin"
	is $? 0 "$proto -T FILE: 2.5 MB stored byte-exact"
	EVF_STDIN=$T/big.bin evf "${EVC[@]}" "$proto" -T - "$S/put/stdin.bin"
	cmp -s "$T/big.bin" "$PUT/stdin.bin"
	is $? 0 "$proto -T -: standard input stored byte-exact"
	evf "${EVC[@]}" "$proto" --data-binary "@$T/big.bin" "$S/post/bin.bin"
	cmp -s "$T/big.bin" "$PUT/bin.bin"
	is $? 0 "$proto --data-binary @FILE: POSTed byte-exact"
	evf "${EVC[@]}" "$proto" --data "@$T/lines.txt" --data 'b=2' "$S/post/ascii.txt"
	is "$(cat "$PUT/ascii.txt")" "line oneline two&b=2" \
		"$proto --data @FILE drops line ends, pieces join with &"
	evf "${EVC[@]}" "$proto" --data-ascii "@$T/lines.txt" --data-ascii 'c=3' "$S/post/ascii2.txt"
	is "$(cat "$PUT/ascii2.txt")" "line oneline two&c=3" \
		"$proto --data-ascii is --data (curl's alias)"
	evf "${EVC[@]}" "$proto" --data-urlencode 'q=a b&c/é' --data-urlencode 'plain' \
		"$S/post/enc.txt"
	is "$(cat "$PUT/enc.txt")" "q=a%20b%26c%2F%C3%A9&plain" "$proto --data-urlencode"
	evf "${EVC[@]}" "$proto" --json '{"a":' --json '1}' "$S/post/j.json"
	is "$(cat "$PUT/j.json")" '{"a":1}' "$proto --json pieces join as they are"
	evf "${EVC[@]}" "$proto" -X PATCH --data x "$S/method"
	is "$(cat "$EVF_OUT")" "PATCH" "$proto -X PATCH with --data"
	evf "${EVC[@]}" "$proto" -X DELETE "$S/method"
	is "$(cat "$EVF_OUT")" "DELETE" "$proto -X DELETE"
	evf "${EVC[@]}" "$proto" -X OPTIONS "$S/method"
	is "$(cat "$EVF_OUT")" "OPTIONS" "$proto -X OPTIONS"
	# nginx reads the head, refuses 2.5 MB for /small/ and closes
	evf "${EVC[@]}" "$proto" -T "$T/big.bin" --report "$T/early.jsonl" "$S/small/x.bin"
	is "$(rep_get "$T/early.jsonl" status)" 413 "$proto: a 413 before the body was read is the result"
done
grep -E '^POST /post/j.json 201 cl=7 te=- ' "$BLOG" >/dev/null
is $? 0 "--json: Content-Length 7, not chunked"

# the headers the CLI adds: Content-Type unless -H gave one; -u as Basic
evf "${EVC[@]}" --data 'x=1' "$S/ctype"
is "$(cat "$EVF_OUT")" "application/x-www-form-urlencoded" "--data: a form's Content-Type"
evf "${EVC[@]}" --json '{}' "$S/ctype"
is "$(cat "$EVF_OUT")" "application/json" "--json: JSON's Content-Type"
evf "${EVC[@]}" --data 'x=1' -H 'Content-Type: text/csv' "$S/ctype"
is "$(cat "$EVF_OUT")" "text/csv" "-H Content-Type wins"
evf "${EVC[@]}" -u 'al:secret pw' "$S/auth"
is "$(cat "$EVF_OUT")" "Basic $(printf 'al:secret pw' | base64)" "-u USER:PASSWORD: Basic credentials"
# the password leaves argv once the request lines have it (ps shows stars)
"$EVFETCH" "${EVC[@]}" -s -u 'al:s3cretpw' --discard "$S/slow/16k.bin" 2>/dev/null &
upid=$!
sleep 0.5
cmdline=$(tr '\0' ' ' <"/proc/$upid/cmdline" 2>/dev/null)
kill "$upid" 2>/dev/null
wait "$upid" 2>/dev/null
like "$cmdline" "al:\*+" "-u: the password is starred out in the process's arguments"
unlike "$cmdline" "s3cretpw" "...and not there any more"
evf "${EVC[@]}" -u 'al:secret pw' -L --report "$T/auth.jsonl" -v \
	--resolve "evfetch.test:$HTTPS_PORT:127.0.0.1" "$S/auth-elsewhere"
is "$(cat "$EVF_OUT")" "" "-u: the credentials stay behind on a redirect to another host"
is "$(rep_get "$T/auth.jsonl" status)" 200 "...which was followed"
grep -c -e 'secret' -e "$(printf 'al:secret pw' | base64)" "$EVF_OUT" "$EVF_ERR" \
	"$T/auth.jsonl" | grep -v ':0$'
is $? 1 "-u: the password is in no report, error or verbose line"

# --- --netrc and --netrc-file -------------------------------------------------
printf 'macdef init\nmachine localhost login evil password evil\n\nmachine localhost login al password "p \\"w"\ndefault login dee password dpw\n' >"$T/netrc"
b64() { printf '%s' "$1" | base64; }
evf "${EVC[@]}" --netrc-file "$T/netrc" "$S/auth"
is "$(cat "$EVF_OUT")" "Basic $(b64 'al:p "w')" "--netrc-file: the machine's login and quoted password (macdef skipped)"
evf "${EVC[@]}" --netrc-file "$T/netrc" "https://127.0.0.1:$HTTPS_PORT/auth" -k
is "$(cat "$EVF_OUT")" "Basic $(b64 'dee:dpw')" "--netrc-file: another host takes the default entry"
evf "${EVC[@]}" --netrc-file "$T/netrc" -u 'me:mine' "$S/auth"
is "$(cat "$EVF_OUT")" "Basic $(b64 'me:mine')" "-u wins over the netrc file"
mkdir -p "$T/home"
cp "$T/netrc" "$T/home/.netrc"
HOME=$T/home evf "${EVC[@]}" --netrc "$S/auth"
is "$(cat "$EVF_OUT")" "Basic $(b64 'al:p "w')" "--netrc reads ~/.netrc"
HOME=$T/nohome evf "${EVC[@]}" --netrc "$S/auth"
is "$EVF_RC:$(cat "$EVF_OUT")" "0:" "--netrc without a ~/.netrc: no credentials, no error"
printf 'macdef init\r\nline\r\n\r\nmachine localhost login "crlf"\tpassword pw\r\n' >"$T/netrc-crlf"
evf "${EVC[@]}" --netrc-file "$T/netrc-crlf" "$S/auth"
is "$(cat "$EVF_OUT")" "Basic $(b64 'crlf:pw')" "--netrc-file with CRLF lines and a quoted login"
evf "${EVC[@]}" --netrc-file "$T/missing-netrc" "$S/auth"
is "$EVF_RC" 2 "--netrc-file of a missing file: usage error"
like "$(cat "$EVF_ERR")" "missing-netrc" "...naming it"

# --- Expect: 100-continue -----------------------------------------------------
# nginx answers 100 Continue over HTTP/1.1 only: over HTTP/2 the wait runs out
for proto in --http1.1 --http2; do
	rm -f "$PUT/e.bin"
	wait_s=10
	[ "$proto" = --http2 ] && wait_s=1
	evf "${EVC[@]}" "$proto" -v --expect100-timeout "$wait_s" -T "$T/big.bin" "$S/put/e.bin"
	cmp -s "$T/big.bin" "$PUT/e.bin"
	is $? 0 "$proto --expect100-timeout $wait_s: the body is stored"
	like "$(cat "$EVF_ERR")" "(E|e)xpect: 100-continue" "$proto: the request says Expect: 100-continue"
	if [ "$proto" = --http1.1 ]; then
		cmp_ok "$EVF_MS" -lt 5000 "$proto: 100 Continue came, no waiting out the 10 s ($EVF_MS ms)"
	else
		cmp_ok "$EVF_MS" -ge 950 "$proto: no 100 Continue, the body waited the 1 s ($EVF_MS ms)"
	fi
	evf "${EVC[@]}" "$proto" --expect100-timeout 10 -T "$T/big.bin" --report "$T/e413.jsonl" \
		"$S/small/e.bin"
	is "$(rep_get "$T/e413.jsonl" status)" 413 "$proto: a 413 instead of 100 Continue is the result"
	cmp_ok "$EVF_MS" -lt 5000 "$proto: ...at once, without the body ($EVF_MS ms)"
done
grep -q 'PUT /put/e.bin 20[14] cl=2500000 te=- proto=HTTP/1.1' "$BLOG"
is $? 0 "--expect100-timeout over HTTP/1.1: nginx took the body"

# --- -v: the heads and the connection, credentials masked --------------------
for proto in --http1.1 --http2; do
	evf "${EVC[@]}" "$proto" -v -u 'al:secret pw' -H 'Cookie: c=tasty' --data 'x=1' "$S/post/v.txt"
	err=$(cat "$EVF_ERR")
	v=${proto#--http}
	[ "$v" = 2 ] && first="> POST /post/v.txt HTTP/2" || first="> POST /post/v.txt HTTP/1.1"
	like "$err" "$(printf '%s' "$first" | sed 's/[./]/\\&/g')" "$proto -v: the request line"
	like "$err" "< HTTP/(1\.1|2) 20[14]" "$proto -v: the response's status line"
	like "$err" "(C|c)ontent-(L|l)ength: 3" "$proto -v: the framing header sent"
	like "$err" "\* connected to 127\.0\.0\.1:$HTTPS_PORT" "$proto -v: the address connected"
	like "$err" "TLSv1\.3, TLS_[A-Z0-9_]+, ALPN (h2|http/1\.1); server certificate: subject [^,]*CN ?= ?localhost, issuer [^,]*evfetch test CA, expires" \
		"$proto -v: protocol, cipher, ALPN and the certificate"
	like "$err" "(A|a)uthorization: <masked>" "$proto -v: Authorization masked"
	like "$err" "(C|c)ookie: <masked>" "$proto -v: Cookie masked"
	unlike "$err" "secret|tasty|$(printf 'al:secret pw' | base64)" "$proto -v: no credential shown"
done

# --- the redirect matrix: method and body after each status -------------------
# POST: 301/302/303 make it a GET without the body (the target /method says
# which method came); 307/308 keep POST and the body (stored by /post/).
for code in 301 302 303; do
	evf "${EVC[@]}" -L --data 'x=1' "$S/r$code/method"
	is "$(cat "$EVF_OUT")" "GET" "POST then $code: a GET follows"
done
for code in 307 308; do
	rm -f "$PUT/r$code.txt"
	evf "${EVC[@]}" -L --data "body-$code" "$S/r$code/post/r$code.txt"
	is "$(cat "$PUT/r$code.txt" 2>/dev/null)" "body-$code" "POST then $code: POST again with its body"
done
# PUT keeps its method on 301 and 302; 303 makes it a GET
for code in 301 302; do
	evf "${EVC[@]}" -L -T "$T/lines.txt" "$S/r$code/method"
	is "$(cat "$EVF_OUT")" "PUT" "PUT then $code: PUT again"
done
evf "${EVC[@]}" -L -T "$T/lines.txt" "$S/r303/method"
is "$(cat "$EVF_OUT")" "GET" "PUT then 303: a GET follows"
evf "${EVC[@]}" -L -X HEAD "$S/r303/method" --report "$T/head.jsonl"
is "$(rep_get "$T/head.jsonl" status)" 200 "HEAD then 303: still HEAD, and it ends"

# --- usage errors -------------------------------------------------------------
evf -X 'BAD METHOD' "$H/method"
is "$EVF_RC" 2 "-X with a space: usage error"
evf -I --data x "$H/method"
is "$EVF_RC" 2 "-I with --data: usage error"
evf -T "$T/big.bin" --data x "$H/method"
is "$EVF_RC" 2 "-T with --data: usage error"
evf -u nopassword "$H/method"
is "$EVF_RC" 2 "-u without a colon: usage error"
evf --data @"$T/missing" "$H/method"
is "$EVF_RC" 2 "--data @ a missing file: exit 2"
like "$(cat "$EVF_ERR")" "missing" "...naming the file"

done_testing
